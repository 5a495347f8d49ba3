#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""usb-storage on EHCI or xHCI, Vireo against qemu-system-i386, in one run: Debian's
i386 Linux (the test kit's kernel, tests/guests/linux/mkkit.sh) with the controller's
driver (ehci_hcd/ehci_pci or xhci_hcd/xhci_pci), usb_storage and sd_mod writes and then
reads --mib MiB of a USB disk sequentially in 64 KiB O_DIRECT requests (busybox dd, no
page cache), timed by the guest's uptime (init-bench.sh). Both emulators get the same
kernel, initramfs and raw image and the same devices (-device usb-ehci,id=hc or
qemu-xhci,id=hc, and -device usb-storage,bus=hc.0), under the same accelerator. Not a
test: prints figures only.

Usage: bench/usb/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                        [--controller ehci|xhci] [--vireo-hc-opts PROPS] [--kit build/linux-kit] [--accel tcg]
                        [--mib 64] [--repeat 1]
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
    """The kit's busybox, the EHCI, xHCI and USB storage drivers of the kit's kernel
    package and init-bench.sh (mkmodinitrd.sh builds it into the kit as initrd-ubench.img)."""
    r = subprocess.run(["sh", os.path.join(LINUX, "mkmodinitrd.sh"), kit, "ubench",
                        os.path.join(HERE, "init-bench.sh"),
                        "ehci_hcd ehci_pci xhci_hcd xhci_pci usb_storage sd_mod crct10dif_generic"])
    if r.returncode:
        sys.exit("mkmodinitrd.sh failed")
    return os.path.join(kit, "initrd-ubench.img")


def cpu_seconds(pid):
    """User and system time of the whole process (all its threads) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_guest(cmd, mib):
    """MiB/s of the write and the read by the guest's clock, and the emulator's CPU
    milliseconds per MiB in each (read from /proc at the guest's BENCH-PHASE lines): the
    second holds up on a loaded host, where the first follows the load."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, cpu = [], {}
    for raw in p.stdout:
        line = raw.decode(errors="replace")
        out.append(line)
        m = re.match(r"BENCH-PHASE (\d)", line)
        if m:
            cpu[int(m.group(1))] = cpu_seconds(p.pid)
    p.wait(timeout=1800)
    out = "".join(out)
    m = re.search(r"BENCH sda ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if "BENCH-DONE" not in out or not m or len(cpu) != 3:
        sys.exit("%s:\n%s" % (" ".join(cmd), out[-3000:]))
    t0, t1, t2 = (float(x) for x in m.groups())
    w, rd = t1 - t0, t2 - t1
    return (mib / w if w > 0 else 0, mib / rd if rd > 0 else 0,
            1000 * (cpu[1] - cpu[0]) / mib, 1000 * (cpu[2] - cpu[1]) / mib)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--kit", default=os.path.join(ROOT, "build/linux-kit"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--controller", choices=("ehci", "xhci"), default="ehci")
    ap.add_argument("--vireo-hc-opts", default="",
                    help="more properties of Vireo's controller, e.g. msi=off,msix=off (QEMU 7.2's qemu-xhci has no such)")
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
                  "-device", {"ehci": "usb-ehci", "xhci": "qemu-xhci"}[o.controller] + ",id=hc",
                  "-drive", "if=none,id=ud,format=raw,file=" + disk,
                  "-device", "usb-storage,drive=ud,bus=hc.0"]
        hc = {"ehci": "usb-ehci", "xhci": "qemu-xhci"}[o.controller] + ",id=hc"
        vireo_common = [a + "," + o.vireo_hc_opts if a == hc and o.vireo_hc_opts else a for a in common]
        cmds = {"vireo": [o.vireo, "-machine", "pc,usb=off"] + vireo_common, "qemu": [o.qemu, "-nodefaults"] + common}
        results = {"vireo": [], "qemu": []}
        for _ in range(o.repeat):
            for name, cmd in cmds.items():
                results[name].append(run_guest(cmd, o.mib))
        print("Linux 6.1 guest, usb-storage on " + {"ehci": "usb-ehci", "xhci": "qemu-xhci"}[o.controller]
              + (" (Vireo's with %s)" % o.vireo_hc_opts if o.vireo_hc_opts else "") + ", %d MiB sequential in 64 KiB O_DIRECT "
              "requests, -accel %s, MiB/s (median of %d)" % (o.mib, o.accel, o.repeat))
        print("| | vireo | qemu | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for i, label in ((0, "write"), (1, "read")):
            v = statistics.median(r[i] for r in results["vireo"])
            q = statistics.median(r[i] for r in results["qemu"])
            print("| %s | %.1f | %.1f | %.2f |" % (label, v, q, v / q if q else 0))
        print("Host CPU time of the emulator process per MiB (ms, median; ratio: QEMU's / Vireo's, above 1 = Vireo cheaper)")
        print("| | vireo | qemu | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for i, label in ((2, "write"), (3, "read")):
            v = statistics.median(r[i] for r in results["vireo"])
            q = statistics.median(r[i] for r in results["qemu"])
            print("| %s | %.1f | %.1f | %.2f |" % (label, v, q, q / v if v else 0))
        print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
