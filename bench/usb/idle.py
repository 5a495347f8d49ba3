#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Host CPU of an idle Linux guest with and without a usb-tablet, Vireo against
qemu-system-i386, side by side: the test kit's kernel with the UHCI, EHCI and xHCI
drivers and usbhid/hid-generic/evdev (init-idle.sh) opens every input device, then sleeps
--seconds. The emulator's CPU time (utime + stime from /proc/PID/stat) between the
guest's IDLE-START and IDLE-END lines, over the wall time between them, is the figure.
Configurations: no USB controller; the tablet on the board's UHCI (-usb); on a usb-ehci;
on a qemu-xhci. Both emulators get the same kernel, initramfs and options. Not a test:
prints figures only.

Usage: bench/usb/idle.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                         [--kit build/linux-kit] [--accel tcg|kvm] [--seconds 30] [--repeat 1]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LINUX = os.path.join(ROOT, "tests", "guests", "linux")
TICK = os.sysconf("SC_CLK_TCK")

CONFIGS = (
    ("no USB", [], False),
    ("usb-tablet on UHCI", ["-usb", "-device", "usb-tablet"], True),
    ("usb-tablet on EHCI", ["-device", "usb-ehci,id=hc", "-device", "usb-tablet,bus=hc.0"], True),
    ("usb-tablet on xHCI", ["-device", "qemu-xhci,id=hc", "-device", "usb-tablet,bus=hc.0"], True),
)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_guest(cmd):
    """CPU share of one core between IDLE-START and IDLE-END."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, start = [], None
    try:
        for raw in p.stdout:
            line = raw.decode("latin-1")
            out.append(line)
            if line.startswith("IDLE-START"):
                start = (time.monotonic(), cpu_seconds(p.pid))
            elif line.startswith("IDLE-END") and start:
                end = (time.monotonic(), cpu_seconds(p.pid))
                p.wait(timeout=60)
                return (end[1] - start[1]) / (end[0] - start[0]), "".join(out)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.exit("%s:\n%s" % (" ".join(cmd), "".join(out)[-3000:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--kit", default=os.path.join(ROOT, "build/linux-kit"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=1)
    o = ap.parse_args()
    if not o.qemu:
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    if subprocess.run(["sh", os.path.join(LINUX, "mkkit.sh"), o.kit]).returncode:
        sys.exit("mkkit.sh failed")
    if subprocess.run(["sh", os.path.join(LINUX, "mkmodinitrd.sh"), o.kit, "uidle",
                       os.path.join(HERE, "init-idle.sh"),
                       "uhci_hcd ehci_hcd ehci_pci xhci_hcd xhci_pci usbhid hid_generic evdev"]).returncode:
        sys.exit("mkmodinitrd.sh failed")
    emus = {"vireo": [o.vireo], "qemu": [o.qemu, "-nodefaults", "-vga", "std"]}
    rows = []
    for label, devices, tablet in CONFIGS:
        common = ["-accel", o.accel, "-m", "256", "-display", "none", "-serial", "stdio",
                  "-kernel", os.path.join(o.kit, "vmlinuz"), "-initrd", os.path.join(o.kit, "initrd-uidle.img"),
                  "-append", "console=ttyS0 uidle.sec=%d uidle.tablet=%d" % (o.seconds, tablet)]
        share = {}
        for name, prog in emus.items():
            extra = list(devices)
            # Vireo's board has its UHCI unless told otherwise; QEMU's pc has none
            # unless -usb: the same controllers in both.
            if name == "vireo" and "-usb" not in extra:
                extra = ["-machine", "pc,usb=off"] + extra
            runs = []
            for _ in range(o.repeat):
                cpu, out = run_guest(prog + common + extra)
                if tablet and "USB_Tablet" not in out:
                    sys.exit("%s: %s: the guest has no tablet:\n%s" % (name, label, out[-2000:]))
                runs.append(cpu)
            share[name] = statistics.median(runs)
        rows.append((label, share["vireo"], share["qemu"]))
    print("Linux 6.1 guest idle %d s with its input devices open, -accel %s, host CPU in %% of one core "
          "(median of %d)" % (o.seconds, o.accel, o.repeat))
    print("| | vireo | qemu | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, v, q in rows:
        print("| %s | %.1f | %.1f | %.2f |" % (label, 100 * v, 100 * q, v / q if q else 0))
    print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
