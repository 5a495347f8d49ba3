#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""savevm and -loadvm with several vCPUs: the cpu-smp guest is stopped right after its
APs started (every CPU inside the counter phase), saved to a qcow2, and continued; then
a new process resumes from the saved state (-loadvm). Both must finish every check with
exact totals: the state of each CPU (and of its APIC) went into the stream and came
back, mid-operation. --guest smp16 does the same with the real-mode guest, which KVM
runs on a paravirtual host too: its APs moved their local APICs and set their TPRs,
which must come back from the kernel irqchip's state; it resets once and starts its
APs again, so the resumed run must not show the first round's start."""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vmtest  # noqa: E402

# guest: (printed once its APs started, printed last, printed only before the save,
# its own options)
GUESTS = {
    "smp": ("smp: CPUs started", "smp: all checks passed", "smp: CPUs started", ["-no-reboot"]),
    "smp16": ("smp16: CPUs started", "smp16: all checks passed", "smp16: round 01", ["-vga", "none"]),
}


def run(o, tmp, extra, stop_and_save):
    started, last, _, own = GUESTS[o.guest]
    os.makedirs(tmp, exist_ok=True)
    vm = vmtest.Vm(o.vireo, o.accel, ["-smp", str(o.smp), "-bios", o.bios,
                                       "-drive", "file=%s,format=qcow2" % o.disk] + own + extra, tmp)
    try:
        if stop_and_save:
            vm.wait_serial(started, timeout=120)
            vm.command("stop")
            r = vm.command("human-monitor-command", **{"command-line": "savevm mid"})
            if r.strip():
                raise vmtest.TestFailure("savevm said: %s" % r.strip())
            info = vm.command("human-monitor-command", **{"command-line": "info snapshots"})
            if "mid" not in info:
                raise vmtest.TestFailure("info snapshots does not list 'mid':\n%s" % info)
            vm.command("cont")
        status = vm.wait_exit(240)
        serial = vm.serial()
        if status != 33 or last not in serial or "FAIL" in serial:
            raise vmtest.TestFailure("exit status %d; serial:\n%s" % (status, serial[-3000:]))
        return serial
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--bios", required=True)
    ap.add_argument("--guest", choices=sorted(GUESTS), default="smp")
    o = ap.parse_args()
    why = vmtest.kvm_skip_reason(o.accel)
    if why:
        print("SKIP:", why)
        return vmtest.SKIP
    with vmtest.temp_dir() as tmp:
        o.disk = os.path.join(tmp, "state.qcow2")
        subprocess.run([o.vireo_img, "create", "-f", "qcow2", o.disk, "16M"], check=True,
                       stdout=subprocess.DEVNULL)
        try:
            run(o, os.path.join(tmp, "save"), [], True)
            print("the saved VM went on and passed")
            serial = run(o, os.path.join(tmp, "load"), ["-loadvm", "mid"], False)
            if GUESTS[o.guest][2] in serial:
                raise vmtest.TestFailure("-loadvm booted the guest again instead of resuming it")
            print("resumed from the snapshot:\n" + serial)
        except vmtest.TestFailure as e:
            print("FAIL:", e)
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
