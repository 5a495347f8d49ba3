#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Lost timer ticks: bench/ticks/ticks.asm (a bare guest, no OS) counts the PIT's 1 kHz
IRQ 0 for 2 s of the HPET's counter under Vireo (each --accel), --runs times each, and
prints how many of the 2000 interrupts arrived (--qemu QEMU adds qemu-system-i386 -accel
tcg; under QEMU 7.2 neither this guest nor tests/guests/pit-irq.asm received IRQ 0 from
-bios, not investigated, so it is off by default). The
virtual clock of both follows the host's, so a tick is lost when the emulator's threads
are kept from running for longer than a PIT period (a loaded host): edges that come
before the guest took the last one merge in the 8259. Not a test: prints figures only.

Usage: bench/ticks/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                          [--accel tcg,interp] [--runs 3]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, serial):
    try:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
    except subprocess.TimeoutExpired:
        return None
    with open(serial, errors="replace") as f:
        m = re.search(r"ticks: 0x([0-9a-f]+)", f.read())
    return int(m.group(1), 16) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=None)
    ap.add_argument("--accel", default="tcg,interp")
    ap.add_argument("--runs", type=int, default=3)
    o = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binf = os.path.join(tmp, "ticks.bin")
        inc = os.path.join(ROOT, "tests", "guests")
        subprocess.run(["nasm", "-f", "bin", "-I", inc + "/lib/", "-I", inc + "/cpu/", "-o", binf,
                        os.path.join(HERE, "ticks.asm")], check=True)
        serial = os.path.join(tmp, "serial.txt")
        peers = [("vireo " + a, [o.vireo, "-accel", a, "-display", "none", "-bios", binf,
                                 "-serial", "file:" + serial, "-device", "isa-debug-exit", "-no-reboot"])
                 for a in o.accel.split(",")]
        if o.qemu:
            peers.append(("qemu tcg", [o.qemu, "-accel", "tcg", "-display", "none", "-bios", binf,
                                       "-nodefaults", "-serial", "file:" + serial, "-device",
                                       "isa-debug-exit,iobase=0xf4,iosize=1", "-no-reboot"]))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())
        for name, cmd in peers:
            got = [run(cmd, serial) for _ in range(o.runs)]
            print("%-12s PIT interrupts in 2 s (of 2000): %s" % (name, " ".join(str(g) for g in got)))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
