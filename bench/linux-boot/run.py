#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Linux boot benchmark: the Linux kit (tests/guests/linux, Debian's i386 kernel and a
busybox initramfs running workload.sh) under vireo-run -accel tcg and under
qemu-system-i386 -accel tcg, alternating, REPS times each. For every run it notes the
host wall-clock seconds at which the serial console shows the boot marker and each
workload phase's end, then prints the medians and the Vireo/QEMU ratios.

  bench/linux-boot/run.py --vireo build/app/vireo-run --kit build/linux-kit [--reps 3]

With --media cdrom the same kernel and initramfs boot from the kit's ISOLINUX CD
(tests/guests/linux/mkmedia.sh builds linux-cd.iso) through the IDE CD-ROM instead of
-kernel, so the boot phase includes the firmware, ISOLINUX and reading the CD.

With --arch amd64 the kit's amd64 kernel and initramfs (mkkit.sh KIT --amd64: Debian's
amd64 kernel, busybox-static:amd64) boot on -cpu qemu64 in both, against
qemu-system-x86_64 -accel tcg.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# The workload's markers: after the fill, its four jobs (gzip, hashes, arithmetic) run at
# once and end together.
PHASES = ["boot", "fill", "jobs", "done"]


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(cmd, serial, timeout):
    cpu0 = child_cpu()
    start = time.monotonic()
    seen = {}
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while p.poll() is None and time.monotonic() - start < timeout:
        try:
            with open(serial, "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            text = ""
        now = time.monotonic() - start
        for m in re.finditer(r"VIREO-PHASE (\w+) ", text):
            seen.setdefault(m.group(1), now)
        time.sleep(0.05)
    if p.poll() is None:
        p.kill()
        p.wait()
    total = time.monotonic() - start
    with open(serial, "rb") as f:
        text = f.read().decode("latin-1")
    # Markers printed just before the emulator exited (the last poll missed them).
    for m in re.finditer(r"VIREO-PHASE (\w+) ", text):
        seen.setdefault(m.group(1), total)
    ok = "VIREO-WORKLOAD-DONE" in text and "RESULT arith" in text
    # CPU time of all the emulator's threads (user + system), the figure that holds on
    # a shared machine where the wall clock moves with the load.
    return seen, total, ok, child_cpu() - cpu0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--qemu", help="default qemu-system-i386, or qemu-system-x86_64 with --arch amd64")
    ap.add_argument("--kit", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--media", choices=["kernel", "cdrom"], default="kernel")
    ap.add_argument("--arch", choices=["i386", "amd64"], default="i386")
    ap.add_argument("--vireo-arg", action="append", default=[],
                    help="extra argument for vireo-run (repeatable), e.g. -d jit-stats")
    o = ap.parse_args()
    k = os.path.abspath(o.kit)
    cpu_args = []
    if o.arch == "amd64":
        if o.media == "cdrom":
            sys.exit("--arch amd64 boots the kernel directly (no amd64 CD)")
        k = os.path.join(k, "amd64")
        if not os.path.exists(os.path.join(k, "vmlinuz")):
            sys.exit("%s/vmlinuz is missing: run tests/guests/linux/mkkit.sh %s --amd64" % (k, o.kit))
        cpu_args = ["-cpu", "qemu64"]
    if not o.qemu:
        o.qemu = "qemu-system-x86_64" if o.arch == "amd64" else "qemu-system-i386"
    if o.media == "cdrom":
        iso = os.path.join(k, "linux-cd.iso")
        if not os.path.exists(iso):
            sys.exit("%s is missing: run tests/guests/linux/mkmedia.sh %s build/app/vireo-img" % (iso, o.kit))
        common = ["-m", "256", "-cdrom", iso]
    else:
        common = ["-m", "256", "-kernel", os.path.join(k, "vmlinuz"), "-initrd",
                  os.path.join(k, "initrd-test.img"), "-append", "console=ttyS0"] + cpu_args
    results = {"vireo": [], "qemu": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(o.reps):
            for name in ("vireo", "qemu"):
                serial = os.path.join(tmp, "%s-%d.txt" % (name, rep))
                if name == "vireo":
                    cmd = [o.vireo, "-accel", "tcg", "-display", "none", "-serial", "file:" + serial] + common + \
                        o.vireo_arg
                else:
                    cmd = [o.qemu, "-accel", "tcg", "-display", "none", "-no-reboot",
                           "-serial", "file:" + serial] + common
                seen, total, ok, cpu = run_once(cmd, serial, o.timeout)
                print("%s run %d: %s total %.1f s, CPU %.1f s%s" % (
                    name, rep + 1, " ".join("%s %.1f" % (p, seen[p]) for p in PHASES if p in seen),
                    total, cpu, "" if ok else " (INCOMPLETE)"), flush=True)
                if ok:
                    seen["cpu"] = cpu
                    results[name].append(seen)
    print()
    print("medians, host seconds (boot: to the init's marker; others: the phase alone)")
    print("| phase | vireo | qemu | vireo/qemu |")
    print("| --- | ---: | ---: | ---: |")
    for i, ph in enumerate(PHASES):
        med = {}
        for name, runs in results.items():
            vals = []
            for r in runs:
                if ph in r and (i == 0 or PHASES[i - 1] in r):
                    vals.append(r[ph] - (r[PHASES[i - 1]] if i else 0))
            med[name] = statistics.median(vals) if vals else None
        if med["vireo"] is not None and med["qemu"]:
            print("| %s | %.1f | %.1f | %.2f |" % (ph, med["vireo"], med["qemu"], med["vireo"] / med["qemu"]))
    tot = {n: statistics.median([r["done"] for r in runs if "done" in r])
           for n, runs in results.items() if any("done" in r for r in runs)}
    if len(tot) == 2:
        print("| total to done | %.1f | %.1f | %.2f |" % (tot["vireo"], tot["qemu"], tot["vireo"] / tot["qemu"]))
    cpu = {n: statistics.median([r["cpu"] for r in runs]) for n, runs in results.items() if runs}
    if len(cpu) == 2:
        print("| CPU time, whole run | %.1f | %.1f | %.2f |" % (cpu["vireo"], cpu["qemu"], cpu["vireo"] / cpu["qemu"]))
    elif cpu:
        print("CPU time, whole run: " + ", ".join("%s %.1f s" % kv for kv in cpu.items()))
    return 0 if results["vireo"] and results["qemu"] else 1


if __name__ == "__main__":
    sys.exit(main())
