#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""IDE DMA read benchmark: a guest reads 256 MiB from an IDE disk with READ DMA EXT
(dmaread.asm, 1 MiB per command) on Vireo and on qemu-system-i386, same image, same run.

The guest is built twice (MIB=256 and MIB=1) and the time of the 1 MiB run is taken
off, which removes start-up. Both emulators must print the same checksum of what they
read. Medians of --repeat runs, wall clock and CPU time (user + system, all threads).
The image (a 256 MiB raw file) is read once before timing, so the host page cache
serves it: this measures the emulated controller and the block layer, not the disk.
Not a test: prints figures only.

Usage: bench/ide/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                        [--accel kvm,interp] [--repeat 7]
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MIB = 256


def build(tmp, mib):
    out = os.path.join(tmp, "dmaread-%d.bin" % mib)
    subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/",
                    "-DMIB=%d" % mib, "-o", out, os.path.join(HERE, "dmaread.asm")], check=True)
    return out


def cpu_time():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def once(cmd):
    c0, t0 = cpu_time(), time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    t, c = time.monotonic() - t0, cpu_time() - c0
    out = r.stdout.decode(errors="replace")
    if r.returncode != 33:
        sys.exit("%s: exit status %d\n%s%s" % (" ".join(cmd), r.returncode, out,
                                                r.stderr.decode(errors="replace")))
    m = re.search(r"checksum ([0-9a-f]+)", out)
    return t, c, m.group(1) if m else "?"


def measure(make_cmd, small, big, repeat):
    walls, cpus, sums = [], [], set()
    for _ in range(repeat):
        tb, cb, sb = once(make_cmd(big))
        ts, cs, _ = once(make_cmd(small))
        walls.append(tb - ts)
        cpus.append(cb - cs)
        sums.add(sb)
    return statistics.median(walls), statistics.median(cpus), min(walls), sums


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--accel", default="kvm,interp",
                    help="comma list of back ends; QEMU uses kvm for kvm and tcg otherwise")
    ap.add_argument("--repeat", type=int, default=7)
    o = ap.parse_args()
    if not o.qemu:
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    with tempfile.TemporaryDirectory() as tmp:
        small, big = build(tmp, 1), build(tmp, MIB)
        disk = os.path.join(tmp, "disk.raw")
        with open(disk, "wb") as f:
            for i in range(MIB):
                f.write(i.to_bytes(4, "little") * (1 << 18))
        with open(disk, "rb") as f:
            while f.read(1 << 24):
                pass

        def vireo(accel):
            return lambda img: [o.vireo, "-accel", accel, "-display", "none", "-serial", "stdio",
                                "-device", "isa-debug-exit", "-bios", img,
                                "-drive", "file=%s,format=raw" % disk]

        def qemu(accel):
            return lambda img: [o.qemu, "-accel", accel, "-nodefaults", "-display", "none",
                                "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
                                "-bios", img, "-drive", "file=%s,format=raw,if=ide" % disk]

        print("%d MiB over IDE DMA (READ DMA EXT, 1 MiB per command), median of %d runs"
              % (MIB, o.repeat))
        print("| side | wall | MiB/s (wall) | cpu | MiB/s (cpu) | best wall | checksum |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for accel in o.accel.split(","):
            qaccel = "kvm" if accel.startswith("kvm") else "tcg"
            rows = []
            for name, mk in (("vireo -accel %s" % accel, vireo(accel)),
                             ("qemu-system-i386 -accel %s" % qaccel, qemu(qaccel))):
                w, c, best, sums = measure(mk, small, big, o.repeat)
                rows.append((w, c))
                print("| %s | %.3f s | %.0f | %.3f s | %.0f | %.3f s | %s |" %
                      (name, w, MIB / w if w > 0 else 0, c, MIB / c if c > 0 else 0, best,
                       ",".join(sorted(sums))))
            (vw, vc), (qw, qc) = rows
            print("| ratio vireo / qemu (throughput) | | %.2f | | %.2f | | |" %
                  (qw / vw if vw > 0 else 0, qc / vc if vc > 0 else 0))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
