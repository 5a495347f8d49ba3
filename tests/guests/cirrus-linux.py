#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The Cirrus CL-GD5446 (-vga cirrus) driven by Debian's i386 Linux and its DRM driver
(drivers/gpu/drm/tiny/cirrus.ko; the kit's initrd-cirrus.img, tests/guests/linux/
init-cirrus.sh), in one boot:
  - the driver binds the PCI function 1013:00b8 (class VGA);
  - it sets a mode: the framebuffer (fb0) has a size and depth, and the adapter shows
    an extended mode of that size and depth (the screendump's size, the mode QMP names);
  - the framebuffer console's text is on the screen: the dump is not blank, it has
    the console's background and at least one text colour, and text covers many lines;
  - no warning or oops in the kernel log;
  - savevm (paused, onto a qcow2 disk), a system reset back to the BIOS's text screen,
    loadvm: the mode and the picture come back pixel for pixel.
Usage: cirrus-linux.py --vireo VIREO_RUN --vireo-img VIREO_IMG --linux-kit DIR [--accel tcg]"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip, hmp  # noqa: E402
from vmtest import TestFailure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def run(opts, tmp):
    kit = opts.linux_kit
    for script, what in (("mkkit.sh", "the Linux kit"), ("mkcirrus.sh", "the Cirrus initramfs")):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit])
        if r.returncode == vmtest.SKIP:
            raise Skip("%s could not be built" % what)
        if r.returncode:
            raise TestFailure("%s failed" % script)
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([opts.vireo_img, "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    args = ["-m", "256", "-vga", "cirrus", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-cirrus.img"), "-append", "console=ttyS0",
            "-drive", "file=%s,format=qcow2,if=ide" % disk]
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    t = opts.timeout
    try:
        vm.wait_serial(r"VIREO-CIRRUS-READY", t)
        log = vm.serial()
        if "VIREO-CIRRUS-FAILED" in log:
            raise TestFailure("the guest reports: %s; its kernel log:\n%s" % (
                re.findall(r"VIREO-CIRRUS-FAILED.*", log), "\n".join(re.findall(r"VIREO-CIRRUS-DMESG.*", log))))
        m = re.search(r"VIREO-CIRRUS-PCI (\S+) (\S+) (\S+) (\S+)", log)
        if not m or m.group(2) != "0x00b8" or not m.group(3).startswith("0x0300") or m.group(4) != "cirrus":
            raise TestFailure("the PCI function as Linux sees it: %r" % (m.group(0) if m else None))
        print("Linux's cirrus driver binds PCI 1013:00b8 (class %s)" % m.group(3), flush=True)
        m = re.search(r"VIREO-CIRRUS-FB (\S+) (\d+),(\d+) (\d+)", log)
        if not m:
            raise TestFailure("no framebuffer: %r" % re.findall(r"VIREO-CIRRUS-FB.*", log))
        name, w, h, bpp = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        print("framebuffer %s: %dx%d at %d bpp" % (name, w, h, bpp), flush=True)
        shown = "a text mode"
        try:
            vm.command("x-screen-text")
        except TestFailure as e:
            shown = str(e)  # "... not in a text mode (MODE)"
        want_mode = "Cirrus %dx%dx%d" % (w, h, bpp)
        if want_mode not in shown:
            raise TestFailure("the adapter shows %r, the driver set %s" % (shown, want_mode))
        img = vm.screendump("console")
        if (img.width, img.height) != (w, h):
            raise TestFailure("screendump is %dx%d, the mode %dx%d" % (img.width, img.height, w, h))
        counts = {}
        for i in range(0, len(img.rgb), 3):
            c = img.rgb[i:i + 3]
            counts[c] = counts.get(c, 0) + 1
        background = max(counts, key=counts.get)
        ink_rows = sum(1 for y in range(h) if any(img.rgb[3 * (y * w + x):3 * (y * w + x) + 3] != background
                                                  for x in range(0, min(w, 640))))
        ink = len(img.rgb) // 3 - counts[background]
        if len(counts) < 2 or ink < 5000 or ink_rows < 200:
            raise TestFailure("the console shows %d colours, %d text pixels on %d lines" % (len(counts), ink, ink_rows))
        print("the framebuffer console's text is on screen: %d text pixels on %d lines, %d colours"
              % (ink, ink_rows, len(counts)), flush=True)

        # Paused, so fbcon's cursor does not blink between the pictures compared.
        vm.command("stop")
        saved = vm.screendump("saved")
        hmp(vm, "savevm cirrus")
        vm.command("system_reset")
        vm.command("cont")
        deadline = time.monotonic() + t
        while vm.screen_size() == (w, h):
            if time.monotonic() > deadline:
                raise TestFailure("the reset left the screen at %dx%d" % (w, h))
            time.sleep(0.2)
        vm.command("stop")
        hmp(vm, "loadvm cirrus")
        loaded = vm.screendump("loaded")
        if (loaded.width, loaded.height) != (w, h) or loaded.rgb != saved.rgb:
            raise TestFailure("after loadvm the screen is %dx%d and differs from the saved one in %d pixels" % (
                loaded.width, loaded.height,
                sum(1 for i in range(0, min(len(saved.rgb), len(loaded.rgb)), 3)
                    if saved.rgb[i:i + 3] != loaded.rgb[i:i + 3])))
        vm.command("cont")
        print("savevm, a reset to the BIOS screen, loadvm: the %dx%d picture is back pixel for pixel"
              % (w, h), flush=True)
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--linux-kit", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    opts = ap.parse_args()
    return vmtest.run_test(run, opts)


if __name__ == "__main__":
    sys.exit(main())
