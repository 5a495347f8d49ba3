#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SeaBIOS under the interpreter: it must reach its boot attempts, and (with --compare)
its debug-console log must match the log under KVM line for line, apart from the lines
that report timing or the CPU model (listed below with the reason). With --accel tcg
the same under the translator, whose log must match the interpreter's line for line
(the same CPU model; timing lines aside).

Exit codes: 0 pass, 1 fail, 77 skip."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

SKIP = 77

# Lines that legitimately differ between the two CPUs.
IGNORED = [
    (r"^Running on KVM$", "KVM's paravirtual CPUID leaves (not a P6 feature)"),
    (r"^kvmclock: ", "KVM's paravirtual clock: timing"),
    (r"^CPU Mhz=", "clock calibration: timing"),
    (r"^Using pmtimer", "timer choice made after clock calibration: timing"),
]
# Lines that differ only in table addresses whose layout depends on the CPU model:
# compared with the addresses blanked.
ADDRESS_ONLY = [r"^Copying MPTABLE from ",
                # low memory is allocated after KVM's paravirtual clock structure
                r"^VGA stack allocated at "]

# The end of SeaBIOS's boot: its first boot attempt, or with no drive at all (the board's
# bootorder file lists none, then HALT) its "No bootable device".
BOOT_END = r"(Booting from |No bootable device)"
MARKERS = [r"SeaBIOS \(version ", r"Running on QEMU \(i440fx\)", r"Found QEMU fw_cfg",
           r"Found [0-9]+ PCI devices", r"init bdf=00:00.0 id=8086:1237",
           r"init bdf=00:01.0 id=8086:7000", BOOT_END]


def kvm_usable():
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm on this host"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user"
    return None


def boot_log(vireo, accel, timeout):
    """Runs SeaBIOS until its first boot attempt; returns (log, seconds) or (None, why)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "debugcon.txt")
        # -no-hpet: under KVM with the kernel's interrupt controller the board has no
        # HPET (README), and its ACPI table would move every table after it.
        cmd = [vireo, "-accel", accel, "-m", "128", "-display", "none", "-serial", "null",
               "-no-hpet", "-debugcon", "file:" + log]
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        text = ""
        while p.poll() is None and time.monotonic() - start < timeout:
            # the first boot attempt's whole line (the log may be read mid-line)
            try:
                with open(log, "rb") as f:
                    text = f.read().decode("latin-1")
            except FileNotFoundError:
                pass
            if re.search(BOOT_END + r"[^\n]*\n", text):
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        alive = p.poll() is None
        if alive:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        with open(log, "rb") as f:
            text = f.read().decode("latin-1")
        out = p.stdout.read().decode("latin-1")
    if not re.search(BOOT_END + r"[^\n]*\n", text):
        why = "timed out" if alive else "vireo-run exited with %d" % p.returncode
        return None, "%s under -accel %s before a boot attempt\n%s\n--- log ---\n%s" % (
            why, accel, out, text[-3000:])
    # Up to and including the first boot attempt.
    lines = text.splitlines()
    end = next(i for i, l in enumerate(lines) if re.search(BOOT_END, l))
    return lines[:end + 1], elapsed


def normalize(lines):
    out = []
    for l in lines:
        if any(re.search(rx, l) for rx, _ in IGNORED):
            continue
        if any(re.search(rx, l) for rx in ADDRESS_ONLY):
            l = re.sub(r"\b(0x)?[0-9a-f]{5,}\b", "<addr>", l)
        out.append(l)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--compare", action="store_true", help="compare with the log under KVM")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--accel", choices=["interp", "tcg"], default="interp",
                    help="tcg: boot under the translator and compare its log with the interpreter's")
    o = ap.parse_args()

    if not os.path.exists("/usr/share/seabios/bios-256k.bin") and not os.path.exists("/usr/share/seabios/bios.bin"):
        print("SKIP: SeaBIOS is not installed (Debian package seabios)")
        return SKIP
    if o.compare:
        why = kvm_usable()
        if why:
            print("SKIP: %s; the comparison needs KVM" % why)
            return SKIP

    interp, t = boot_log(o.vireo, "interp", o.timeout)
    if interp is None:
        print("FAIL:", t)
        return 1
    print("interp: first boot attempt after %.2f s, %d log lines" % (t, len(interp)))
    text = "\n".join(interp)
    missing = [rx for rx in MARKERS if not re.search(rx, text, re.M)]
    if missing:
        print("--- interp log ---\n" + text)
        for rx in missing:
            print("FAIL: the log lacks /%s/" % rx)
        return 1
    if o.accel == "tcg":
        tcg, t3 = boot_log(o.vireo, "tcg", o.timeout)
        if tcg is None:
            print("FAIL:", t3)
            return 1
        print("tcg: first boot attempt after %.2f s, %d log lines" % (t3, len(tcg)))
        a, b = normalize(interp), normalize(tcg)
        if a != b:
            for i in range(max(len(a), len(b))):
                la = a[i] if i < len(a) else "<end>"
                lb = b[i] if i < len(b) else "<end>"
                if la != lb:
                    print("FAIL: line %d differs:\n  interp: %s\n  tcg:    %s" % (i + 1, la, lb))
                    break
            return 1
        print("the translator's log equals the interpreter's (%d lines compared)" % len(a))
    if not o.compare:
        print("PASS")
        return 0

    # With the kernel irqchip: like the interpreter's board, KVM then has a local and an
    # I/O APIC, so SeaBIOS sees an APIC in CPUID and the same MADT and MP table.
    kvm, t2 = boot_log(o.vireo, "kvm", o.timeout)
    if kvm is None:
        print("SKIP: KVM could not boot SeaBIOS here:", t2.splitlines()[0])
        return SKIP
    print("kvm: first boot attempt after %.2f s, %d log lines" % (t2, len(kvm)))
    a, b = normalize(kvm), normalize(interp)
    print("ignored lines (timing and CPU model):")
    for rx, why in IGNORED:
        print("  /%s/: %s" % (rx, why))
    if a == b:
        print("PASS: %d lines match" % len(a))
        return 0
    import difflib
    print("FAIL: the logs differ\n" + "\n".join(difflib.unified_diff(a, b, "kvm", "interp", lineterm="")))
    return 1


if __name__ == "__main__":
    sys.exit(main())
