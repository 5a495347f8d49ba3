#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio-blk against IDE, and Vireo against qemu-system-i386, in one run: Debian's
i386 Linux (the test kit's kernel, tests/guests/linux/mkkit.sh) with virtio_pci,
virtio_blk, ata_piix and sd_mod writes and then reads --mib MiB sequentially in 4 KiB
O_DIRECT requests (busybox dd, one request per block, no page cache) on a virtio-blk
disk and on an IDE disk (init-bench.sh), timed by the guest's uptime. Both emulators get
the same kernel, initramfs and raw images (kept in the host page cache), under the same
accelerator. Not a test: prints figures only.

Usage: bench/virtio/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                           [--kit build/linux-kit] [--accel tcg] [--mib 32] [--repeat 1]
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


def make_initramfs(kit):
    """The kit's busybox, the disk drivers of the kit's kernel package and init-bench.sh
    (tests/guests/linux/mkmodinitrd.sh builds it into the kit as initrd-vbench.img)."""
    r = subprocess.run(["sh", os.path.join(LINUX, "mkmodinitrd.sh"), kit, "vbench",
                        os.path.join(HERE, "init-bench.sh"),
                        "virtio_pci virtio_blk ata_piix sd_mod crct10dif_generic"])
    if r.returncode:
        sys.exit("mkmodinitrd.sh failed")
    return os.path.join(kit, "initrd-vbench.img")


def run_guest(cmd, mib):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=1800)
    out = r.stdout.decode(errors="replace")
    res = {}
    for d, t0, t1, t2 in re.findall(r"BENCH (\w+) ([\d.]+) ([\d.]+) ([\d.]+)", out):
        w, rd = float(t1) - float(t0), float(t2) - float(t1)
        res[d] = (mib / w if w > 0 else 0, mib / rd if rd > 0 else 0)
    if "BENCH-DONE" not in out or set(res) != {"vda", "sda"}:
        sys.exit("%s:\n%s" % (" ".join(cmd), out[-3000:]))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--kit", default=os.path.join(ROOT, "build/linux-kit"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mib", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    o = ap.parse_args()
    if not o.qemu:
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    if subprocess.run(["sh", os.path.join(LINUX, "mkkit.sh"), o.kit]).returncode:
        sys.exit("mkkit.sh failed")
    with tempfile.TemporaryDirectory() as tmp:
        initrd = make_initramfs(o.kit)
        vdisk, idisk = os.path.join(tmp, "virtio.raw"), os.path.join(tmp, "ide.raw")
        for p in (vdisk, idisk):
            with open(p, "wb") as f:
                f.truncate((o.mib + 1) << 20)
        append = "console=ttyS0 vbench.mib=%d" % o.mib
        kernel = os.path.join(o.kit, "vmlinuz")
        vireo = [o.vireo, "-accel", o.accel, "-m", "256", "-display", "none", "-serial", "stdio",
                 "-kernel", kernel, "-initrd", initrd, "-append", append,
                 "-drive", "if=none,id=vd,format=raw,file=" + vdisk, "-device", "virtio-blk-pci,drive=vd",
                 "-drive", "if=ide,index=0,format=raw,file=" + idisk]
        qemu = [o.qemu, "-accel", o.accel, "-m", "256", "-nodefaults", "-display", "none", "-serial", "stdio",
                "-kernel", kernel, "-initrd", initrd, "-append", append,
                "-drive", "if=none,id=vd,format=raw,file=" + vdisk, "-device", "virtio-blk-pci,drive=vd",
                "-drive", "if=ide,index=0,format=raw,file=" + idisk]
        results = {"vireo": [], "qemu": []}
        for _ in range(o.repeat):
            for name, cmd in (("vireo", vireo), ("qemu", qemu)):
                results[name].append(run_guest(cmd, o.mib))
        print("Linux 6.1 guest, %d MiB sequential in 4 KiB O_DIRECT requests, -accel %s, "
              "MiB/s (median of %d)" % (o.mib, o.accel, o.repeat))
        print("| disk | vireo write | qemu write | ratio | vireo read | qemu read | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for d, label in (("vda", "virtio-blk-pci"), ("sda", "IDE (ata_piix)")):
            vw = statistics.median(r[d][0] for r in results["vireo"])
            qw = statistics.median(r[d][0] for r in results["qemu"])
            vr = statistics.median(r[d][1] for r in results["vireo"])
            qr = statistics.median(r[d][1] for r in results["qemu"])
            print("| %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |" %
                  (label, vw, qw, vw / qw if qw else 0, vr, qr, vr / qr if qr else 0))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
