#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio-blk against IDE, and Vireo against qemu-system-i386, in one run: Debian's
i386 Linux (the test kit's kernel, tests/guests/linux/mkkit.sh) with virtio_pci,
virtio_blk, ata_piix and sd_mod runs four phases of --mib MiB in 4 KiB O_DIRECT
requests, one in flight (init-bench.sh): sequential write and read (busybox dd), random
write and read (randio.asm) on a virtio-blk disk and on an IDE disk. Both emulators get
the same kernel, initramfs and images (kept in the host page cache), under the same
accelerator. Not a test: prints figures only.

Two measures per phase: MiB/s by the guest's clock (which follows the host's, so it
suffers from other load on the host), and the emulator's CPU time over the phase (user +
system of all its threads, read from /proc when the guest announces the phase and when
it ends it; the guest idles 0.3 s around each phase so the reading falls on an idle
VM). On a shared machine the CPU time is the steadier figure.

Usage: bench/virtio/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                           [--kit build/linux-kit] [--accel tcg] [--mib 8] [--repeat 1]
                           [--format raw|qcow2] [--disks vda,sda] [--only vireo|qemu]
                           [--vireo-arg=-d --vireo-arg=jit-stats]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LINUX = os.path.join(ROOT, "tests", "guests", "linux")
PHASES = ("seqwrite", "seqread", "randwrite", "randread")
TICK = os.sysconf("SC_CLK_TCK")


def make_initramfs(kit, randio):
    """The kit's busybox, the disk drivers of the kit's kernel package, init-bench.sh and
    randio (tests/guests/linux/mkmodinitrd.sh builds it into the kit as initrd-vbench.img)."""
    r = subprocess.run(["sh", os.path.join(LINUX, "mkmodinitrd.sh"), kit, "vbench",
                        os.path.join(HERE, "init-bench.sh"),
                        "virtio_pci virtio_blk ata_piix sd_mod crct10dif_generic",
                        "file:bin/randio=%s:755" % randio])
    if r.returncode:
        sys.exit("mkmodinitrd.sh failed")
    return os.path.join(kit, "initrd-vbench.img")


def cpu_seconds(pid):
    """User + system time of every thread of the process so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_guest(cmd, mib, echo):
    """Runs one emulator; returns {(disk, phase): (MiB/s, CPU s, guest ticks)} and the
    idle phase's CPU seconds per second."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    res, begin, tail, idle = {}, None, [], None
    try:
        for raw in p.stdout:
            line = raw.decode(errors="replace").rstrip()
            tail = (tail + [line])[-60:]
            if echo:
                print(line)
            if line.startswith("VBENCH-BEGIN"):
                begin = cpu_seconds(p.pid)
            elif line.startswith("VBENCH ") and begin is not None:
                cpu = cpu_seconds(p.pid) - begin
                f = line.split()
                d, ph, t0, t1 = f[1], f[2], float(f[3]), float(f[4])
                ticks = tuple(int(x) for x in f[5:9])
                if ph == "idle":
                    idle = cpu / (t1 - t0 + 0.6)
                else:
                    res[(d, ph)] = (mib / (t1 - t0) if t1 > t0 else 0, cpu, ticks)
            elif line.startswith(("VBENCH-FAILED", "VBENCH-MISSING")):
                print(" ".join(cmd[:1]) + ": " + line, file=sys.stderr)
            if line.startswith("VBENCH-CLOCKSOURCE"):
                res["clocksource"] = line.split()[1]
            if line.startswith("VBENCH-DONE"):
                break
        # The rest: the guest powers off (and -d output, such as jit-stats, follows).
        rest = p.communicate(timeout=60)[0].decode(errors="replace")
        if echo:
            print(rest, end="")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if not any(k for k in res if k != "clocksource"):
        sys.exit("%s:\n%s" % (" ".join(cmd), "\n".join(tail)))
    return res, idle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--vireo-img", default=None, help="for --format qcow2 (default: beside --vireo)")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--kit", default=os.path.join(ROOT, "build/linux-kit"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mib", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--format", choices=("raw", "qcow2"), default="raw")
    ap.add_argument("--disks", default="vda,sda")
    ap.add_argument("--only", choices=("vireo", "qemu"))
    ap.add_argument("--vireo-arg", action="append", default=[], help="one more argument for vireo-run")
    ap.add_argument("--append", default="", help="more kernel command line for both")
    ap.add_argument("--echo", action="store_true", help="print the guests' consoles")
    o = ap.parse_args()
    if not o.qemu and o.only != "vireo":
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    if subprocess.run(["sh", os.path.join(LINUX, "mkkit.sh"), o.kit]).returncode:
        sys.exit("mkkit.sh failed")
    with tempfile.TemporaryDirectory() as tmp:
        randio = os.path.join(tmp, "randio")
        subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(HERE, "..", "..", "tests", "guests", "lib") + "/",
                        "-o", randio, os.path.join(HERE, "randio.asm")], check=True)
        initrd = make_initramfs(o.kit, randio)
        size = (o.mib + 1) << 20
        vdisk, idisk = os.path.join(tmp, "virtio." + o.format), os.path.join(tmp, "ide." + o.format)
        for p in (vdisk, idisk):
            if o.format == "raw":
                with open(p, "wb") as f:
                    f.truncate(size)
            else:
                img = o.vireo_img or os.path.join(os.path.dirname(o.vireo), "vireo-img")
                subprocess.run([img, "create", "-q", "-f", "qcow2", p, str(size)], check=True)
        append = "console=ttyS0 vbench.mib=%d vbench.disks=%s %s" % (o.mib, o.disks, o.append)
        kernel = os.path.join(o.kit, "vmlinuz")
        drives = ["-drive", "if=none,id=vd,format=%s,file=%s" % (o.format, vdisk),
                  "-device", "virtio-blk-pci,drive=vd",
                  "-drive", "if=ide,index=0,format=%s,file=%s" % (o.format, idisk)]
        common = ["-accel", o.accel, "-m", "256", "-display", "none", "-serial", "stdio",
                  "-kernel", kernel, "-initrd", initrd, "-append", append.strip()] + drives
        cmds = {"vireo": [o.vireo] + common + o.vireo_arg, "qemu": [o.qemu, "-nodefaults"] + common}
        names = [o.only] if o.only else ["vireo", "qemu"]
        results = {n: [] for n in names}
        idle = {n: [] for n in names}
        for _ in range(o.repeat):
            for n in names:
                r, i = run_guest(cmds[n], o.mib, o.echo)
                results[n].append(r)
                idle[n].append(i)
        print("Linux 6.1 guest, %d MiB per phase in 4 KiB O_DIRECT requests (one in flight), %s images, "
              "-accel %s, median of %d" % (o.mib, o.format, o.accel, o.repeat))
        print("clocksource: " + ", ".join("%s %s" % (n, results[n][0].get("clocksource", "?")) for n in names))
        print("emulator CPU while the guest idles (s per s): " +
              ", ".join("%s %.3f" % (n, statistics.median(x for x in idle[n] if x is not None)) for n in names))
        hdr = "| disk | phase |" + "".join(" %s MiB/s | %s CPU s |" % (n, n) for n in names)
        if len(names) == 2:
            hdr += " MiB/s ratio | CPU ratio |"
        print(hdr)
        print("|" + " --- |" * 2 + " ---: |" * (hdr.count("|") - 3))
        labels = {"vda": "virtio-blk-pci", "sda": "IDE (ata_piix)"}
        for d in o.disks.split(","):
            for ph in PHASES:
                if any((d, ph) not in r for n in names for r in results[n]):
                    continue
                row, vals = "| %s | %s |" % (labels.get(d, d), ph), {}
                for n in names:
                    mbs = statistics.median(r[(d, ph)][0] for r in results[n])
                    cpu = statistics.median(r[(d, ph)][1] for r in results[n])
                    vals[n] = (mbs, cpu)
                    row += " %.1f | %.2f |" % (mbs, cpu)
                if len(names) == 2:
                    (vm, vc), (qm, qc) = vals["vireo"], vals["qemu"]
                    # Both ratios are Vireo's speed over QEMU's: above 1, Vireo is ahead.
                    row += " %.2f | %.2f |" % (vm / qm if qm else 0, qc / vc if vc else 0)
                print(row)
        print("(CPU ratio: QEMU's CPU seconds over Vireo's for the same work; above 1 Vireo spends less)")
        print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
