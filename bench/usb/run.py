#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""usb-storage on an xHCI controller, Vireo against qemu-system-i386, in one run:
Debian's i386 Linux (the test kit's kernel, tests/guests/linux/mkkit.sh) with xhci_hcd,
xhci_pci, usb_storage and sd_mod writes and then reads --mib MiB sequentially in 64 KiB
O_DIRECT requests (busybox dd, no page cache) on `-device qemu-xhci -device usb-storage`
(init-bench.sh), timed by the guest's uptime. Both emulators get the same kernel,
initramfs and raw image (kept in the host page cache), under the same accelerator. Not a
test: prints figures only.

Usage: bench/usb/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                        [--kit build/linux-kit] [--accel tcg] [--mib 64] [--repeat 1]
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
    """The kit's busybox, the xHCI and USB storage drivers of the kit's kernel package and
    init-bench.sh (mkmodinitrd.sh builds it into the kit as initrd-ubench.img)."""
    r = subprocess.run(["sh", os.path.join(LINUX, "mkmodinitrd.sh"), kit, "ubench",
                        os.path.join(HERE, "init-bench.sh"),
                        "xhci_hcd xhci_pci usb_storage sd_mod crct10dif_generic"])
    if r.returncode:
        sys.exit("mkmodinitrd.sh failed")
    return os.path.join(kit, "initrd-ubench.img")


def run_guest(cmd, mib):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=3600)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"BENCH sda ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if "BENCH-DONE" not in out or not m:
        sys.exit("%s:\n%s" % (" ".join(cmd), out[-3000:]))
    t0, t1, t2 = (float(x) for x in m.groups())
    return (mib / (t1 - t0) if t1 > t0 else 0, mib / (t2 - t1) if t2 > t1 else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--kit", default=os.path.join(ROOT, "build/linux-kit"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    o = ap.parse_args()
    if not o.qemu:
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    if subprocess.run(["sh", os.path.join(LINUX, "mkkit.sh"), o.kit]).returncode:
        sys.exit("mkkit.sh failed")
    with tempfile.TemporaryDirectory() as tmp:
        initrd = make_initramfs(o.kit)
        disk = os.path.join(tmp, "usb.raw")
        with open(disk, "wb") as f:
            f.truncate((o.mib + 1) << 20)
        common = ["-accel", o.accel, "-m", "256", "-display", "none", "-serial", "stdio",
                  "-kernel", os.path.join(o.kit, "vmlinuz"), "-initrd", initrd,
                  "-append", "console=ttyS0 ubench.mib=%d" % o.mib,
                  "-drive", "if=none,id=ud,format=raw,file=" + disk,
                  "-device", "qemu-xhci,id=xhci", "-device", "usb-storage,drive=ud,bus=xhci.0"]
        vireo = [o.vireo, "-machine", "pc,usb=off"] + common
        qemu = [o.qemu, "-nodefaults"] + common
        results = {"vireo": [], "qemu": []}
        for _ in range(o.repeat):
            for name, cmd in (("vireo", vireo), ("qemu", qemu)):
                results[name].append(run_guest(cmd, o.mib))
        print("Linux 6.1 guest, usb-storage on qemu-xhci, %d MiB sequential in 64 KiB O_DIRECT "
              "requests, -accel %s, MiB/s (median of %d)" % (o.mib, o.accel, o.repeat))
        print("| | vireo | qemu | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for i, what in ((0, "write"), (1, "read")):
            v = statistics.median(r[i] for r in results["vireo"])
            q = statistics.median(r[i] for r in results["qemu"])
            print("| %s | %.1f | %.1f | %.2f |" % (what, v, q, v / q if q else 0))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
