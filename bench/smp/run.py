#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SMP benchmark: a CPU-bound parallel guest (work.asm) on 1 and 2 vCPUs under Vireo's
interp and tcg, and under qemu-system-i386 -accel tcg,thread=multi when installed, in
the same run, and beside them the same loop as a host program on 1 and 2 threads
(native.c: how this host itself scales a CPU-bound job); then the cost of a contended LOCK ADD and of a LOCK CMPXCHG increment loop
with 2 vCPUs, in 32-bit code or, with --long, in 64-bit code on a quadword (QEMU then
is qemu-system-x86_64; the CPU-bound table is left out).

The guest splits a fixed number of loop iterations among the CPUs, so the speed-up is
time(-smp 1) / time(-smp 2). Wall-clock times, best of --repeat runs, with the host CPU
time of that run (user + system over all threads) and the load average at the start
and end; start-up (SeaBIOS is not involved: the guest is the firmware) is part of each
figure. Not a test.

Usage: bench/smp/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                        [--repeat 3] [--iters 100000000] [--only interp,tcg,qemu,native]
                        [--lock-only] [--long]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from guestrun import timed  # noqa: E402

DONE = b"smp-bench: done"  # the guest's last line


def build(tmp, name, defines):
    out = os.path.join(tmp, name + ".bin")
    subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/",
                    "-I", os.path.join(ROOT, "tests/guests/cpu") + "/"] + ["-D" + d for d in defines] +
                   ["-o", out, os.path.join(HERE, "work.asm")], check=True)
    return out


def uptime():
    return "load average %.2f, %.2f, %.2f" % os.getloadavg()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", help="default qemu-system-i386, with --long qemu-system-x86_64")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=100000000)
    ap.add_argument("--only", default="interp,tcg,qemu,native",
                    help="which of interp, tcg, qemu, native to run (the translators need more --iters)")
    ap.add_argument("--lock-only", action="store_true", help="only the contended LOCK ADD/CMPXCHG table")
    ap.add_argument("--long", action="store_true", help="the contended table in 64-bit code (implies --lock-only)")
    o = ap.parse_args()
    if o.long:
        o.lock_only = True
    if not o.qemu:
        o.qemu = "qemu-system-x86_64" if o.long else "qemu-system-i386"
    with tempfile.TemporaryDirectory() as tmp:
        work = build(tmp, "work", ["ITERS=%d" % o.iters])
        lock_n = 2000000
        mode = ["LONG"] if o.long else []
        locks = []
        for op, define in [("LOCK ADD", "LOCKADD"), ("LOCK CMPXCHG", "CMPXCHG")]:
            locks.append((op, build(tmp, define + "0", mode + [define, "ITERS=1"]),
                          build(tmp, define + "n", mode + [define, "ITERS=%d" % lock_n])))
        runs = []
        only = o.only.split(",")
        for accel in [a for a in ["interp", "tcg"] if a in only]:
            cmd = [o.vireo, "-accel", accel, "-display", "none", "-serial", "stdio", "-device", "isa-debug-exit"]
            runs.append(("vireo " + accel, cmd + ["-bios", work, "-smp", "1"], cmd + ["-bios", work, "-smp", "2"]))
        qemu = shutil.which(o.qemu) if "qemu" in only else None
        if qemu:
            cmd = [qemu, "-accel", "tcg,thread=multi", "-nodefaults", "-display", "none", "-serial", "stdio",
                   "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]
            runs.append(("qemu tcg,thread=multi", cmd + ["-bios", work, "-smp", "1"],
                         cmd + ["-bios", work, "-smp", "2"]))
        native = []
        cc = shutil.which("cc") or shutil.which("gcc")
        if "native" in only and cc and not o.lock_only:
            # A virtual host may give two busy threads less than two cores without
            # reporting steal time: the host program's speed-up shows what it gives.
            exe = os.path.join(tmp, "native")
            subprocess.run([cc, "-O2", "-pthread", "-o", exe, os.path.join(HERE, "native.c")], check=True)
            native = [("native (host, threads)", [exe, str(o.iters), "1"], [exe, str(o.iters), "2"]),
                      ("native, six adds a pass", [exe, str(o.iters), "1", "wide"],
                       [exe, str(o.iters), "2", "wide"])]
        print("start:", uptime())
        if not o.lock_only:
            print("| %d iterations | -smp 1 wall | -smp 2 wall | speed-up | -smp 1 CPU | -smp 2 CPU |" % o.iters)
            print("|---|---|---|---|---|---|")
        t2 = {}
        for name, c1, c2 in [] if o.lock_only else runs + native:
            (a, ca), (b, cb) = timed(c1, o.repeat, DONE), timed(c2, o.repeat, DONE)
            t2[name] = b
            print("| %s | %.2f s | %.2f s | %.2f | %.2f s | %.2f s |" % (name, a, b, a / b, ca, cb), flush=True)
        if qemu:
            for name in [n for n in ["vireo interp", "vireo tcg"] if n in t2]:
                print("%s -smp 2 / qemu -smp 2 time ratio: %.2f" % (name, t2[name] / t2["qemu tcg,thread=multi"]))
        print()
        # The CPU column: host CPU time of both threads per add (on a loaded host the
        # wall clock includes waiting for a core; the CPU time does not).
        print("| contended, 2 vCPUs, %d each, %s code | ns per LOCK ADD (wall) | ns of CPU per LOCK ADD "
              "| ns per LOCK CMPXCHG increment (wall) | ns of CPU per LOCK CMPXCHG increment |" %
              (lock_n, "64-bit" if o.long else "32-bit"))
        print("|---|---|---|---|---|")
        for name, c1, _ in runs:
            base = [x for x in c1 if x not in ("-bios", work, "-smp", "1")]
            cells = []
            for _, lock0, lockn in locks:
                t0, c0 = timed(base + ["-smp", "2", "-bios", lock0], o.repeat, DONE)
                tn, cn = timed(base + ["-smp", "2", "-bios", lockn], o.repeat, DONE)
                cells += ["%.0f" % ((tn - t0) * 1e9 / (2 * lock_n)), "%.0f" % ((cn - c0) * 1e9 / (2 * lock_n))]
            print("| %s | %s |" % (name, " | ".join(cells)), flush=True)
        print("end:", uptime())


if __name__ == "__main__":
    main()
