#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""System-events benchmark: what one interrupt, system call, page fault, TLB flush or
port read costs a guest, under Vireo's interp and tcg and qemu-system-i386 -accel tcg
in the same run (events.asm, the firmware itself: no SeaBIOS). A kernel's own work
(the Linux kit's boot and jobs phases) is made of these between its plain code.

Each event runs --iters and --iters/10 times in two guests; the difference of their
times over the difference of the counts is the cost of one event, so start-up and
set-up drop out. Best of --repeat runs each, as wall-clock and as host CPU time (user
+ system of all threads), in nanoseconds. Not a test.

Usage: bench/events/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                           [--repeat 3] [--iters 2000000] [--only interp,tcg,qemu]
                           [--events 1,2,3,4,5,6]
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

DONE = b"events: done"  # the guest's last line

EVENTS = {
    1: "INT 0x30 + IRET, ring 0",
    2: "INT 0x80 + IRET, ring 3 to 0 and back",
    3: "SYSENTER + SYSEXIT, ring 3 to 0 and back",
    4: "page fault from ring 3 (PTE write + INVLPG)",
    5: "MOV CR3 + 4 page walks",
    6: "IN from port 0x61",
}
PER_ROUND = {4: 2}  # two faults a round


def build(tmp, event, iters):
    out = os.path.join(tmp, "events-%d-%d.bin" % (event, iters))
    subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/",
                    "-I", os.path.join(ROOT, "tests/guests/cpu") + "/",
                    "-DEVENT=%d" % event, "-DITERS=%d" % iters,
                    "-o", out, os.path.join(HERE, "events.asm")], check=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=2000000)
    ap.add_argument("--only", default="interp,tcg,qemu")
    ap.add_argument("--events", default=",".join(str(k) for k in EVENTS))
    o = ap.parse_args()
    only = o.only.split(",")
    events = [int(x) for x in o.events.split(",")]
    runners = []
    for accel in [a for a in ("interp", "tcg") if a in only]:
        runners.append(("vireo " + accel, [o.vireo, "-accel", accel, "-display", "none", "-serial", "stdio",
                                           "-device", "isa-debug-exit"]))
    qemu = shutil.which(o.qemu) if "qemu" in only else None
    if qemu:
        runners.append(("qemu tcg", [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-serial", "stdio",
                                     "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]))
    names = [n for n, _ in runners]
    print("start: load average %.2f, %.2f, %.2f" % os.getloadavg())
    head = "| event, ns each (wall / CPU) | " + " | ".join(names)
    if "vireo tcg" in names and "qemu tcg" in names:
        head += " | tcg / qemu (CPU)"
    print(head + " |")
    print("|---" * (head.count("|")) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        small = max(1, o.iters // 10)
        for ev in events:
            lo, hi = build(tmp, ev, small), build(tmp, ev, o.iters)
            n = (o.iters - small) * PER_ROUND.get(ev, 1)
            cells, cpu = [], {}
            for name, cmd in runners:
                (w0, c0), (w1, c1) = timed(cmd + ["-bios", lo], o.repeat, DONE), timed(cmd + ["-bios", hi], o.repeat, DONE)
                cpu[name] = (c1 - c0) * 1e9 / n
                cells.append("%.0f / %.0f" % ((w1 - w0) * 1e9 / n, cpu[name]))
            if "vireo tcg" in cpu and "qemu tcg" in cpu:
                cells.append("%.2f" % (cpu["vireo tcg"] / cpu["qemu tcg"]) if cpu["qemu tcg"] > 0 else "-")
            print("| %s | %s |" % (EVENTS[ev], " | ".join(cells)), flush=True)
    print("end: load average %.2f, %.2f, %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
