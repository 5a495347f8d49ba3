#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Display and input tests that need a running VM and its control socket.

  display.py --vireo PATH --accel kvm --scenario NAME [--guest IMAGE]

Scenarios:
  modes          vga-bios.bin / vga-direct.bin: text mode 3, mode 12h, mode 13h, mode X,
                 VBE 1024x768x32; every picture checked pixel by pixel in a screendump
  banner         SeaBIOS's banner in x-screen-text and the screendump; then a guest that
                 scrolls by the CRTC start address shows the scrolled text
  ... (see SCENARIOS at the end)
Exit status: 0 pass, 1 fail, 77 skip.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import TestFailure, check_region  # noqa: E402

# The sixteen colours of the VGA BIOS's default palette (6-bit DAC values widened).
EGA = [0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
       0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff]
# DAC entries 16-19 the guests program: red, green, blue, yellow.
DAC16 = [0xff0000, 0x00ff00, 0x0000ff, 0xffff00]
VBE_BANDS = [0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x808080, 0x123456, 0xffff00, 0x00ffff]


def expect_size(img, w, h, what):
    if (img.width, img.height) != (w, h):
        raise TestFailure("%s: screendump is %dx%d, expected %dx%d" % (what, img.width, img.height, w, h))


def check_text(vm, img):
    expect_size(img, 720, 400, "text mode 3")
    text = vm.command("x-screen-text")
    if text["cols"] != 80 or text["rows"] != 25:
        raise TestFailure("text mode is %dx%d" % (text["cols"], text["rows"]))
    if not text["lines"][1].startswith("Vireo VGA text mode test"):
        raise TestFailure("row 1 reads %r" % text["lines"][1])
    if text["lines"][3][:32] != "\u2588" * 32:
        raise TestFailure("row 3 reads %r" % text["lines"][3][:32])
    # Full blocks fill their 9x16 cells (line-graphics characters extend into column 9).
    for c in range(16):
        check_region(img, 2 * c * 9, 3 * 16, 18, 16, lambda x, y, c=c: EGA[c], "block in colour %d" % c)
    for c in range(8):
        check_region(img, 4 * c * 9, 5 * 16, 36, 16, lambda x, y, c=c: EGA[c], "background colour %d" % c)
    # The title's cells have a blue background with yellow glyph pixels.
    seen = {img.pixel(x, 16 + y) for x in range(0, 24 * 9) for y in range(16)}
    if seen != {EGA[1], EGA[14]}:
        raise TestFailure("title cells show colours %s" % sorted("%06x" % c for c in seen))
    check_region(img, 0, 7 * 16, 720, 16, lambda x, y: 0, "empty row 7")


def check_mode12(vm, img):
    expect_size(img, 640, 480, "mode 12h")

    def want(x, y):
        if y < 240:
            return EGA[x // 40]
        return EGA[15] if y - 240 == x and x < 100 else 0
    check_region(img, 0, 0, 640, 480, want, "mode 12h")


def check_mode13(vm, img):
    expect_size(img, 320, 200, "mode 13h")
    check_region(img, 0, 0, 320, 200, lambda x, y: DAC16[(x // 8 + y // 8) & 3], "mode 13h")


def modex_colour(x, y):
    return DAC16[(x // 16 + 2 * (y // 16)) & 3]


def check_modex(vm, img):
    expect_size(img, 320, 240, "mode X")
    check_region(img, 0, 0, 320, 240, modex_colour, "mode X")


def check_modex_scroll(vm, img):
    expect_size(img, 320, 240, "mode X scrolled")
    # Start address 16 lines down: line y shows line y + 16; past the drawn 240 lines the
    # planes hold zeros (colour 0 of the BIOS palette, black).
    check_region(img, 0, 0, 320, 224, lambda x, y: modex_colour(x, y + 16), "mode X scrolled")
    check_region(img, 0, 224, 320, 16, lambda x, y: 0, "mode X scrolled, below the picture")


def check_vbe(vm, img):
    expect_size(img, 1024, 768, "VBE 1024x768x32")

    def want(x, y):
        if y < 128:
            return VBE_BANDS[y // 16]
        if 900 <= x < 964 and 700 <= y < 764:
            return 0xff00ff
        return 0
    check_region(img, 0, 0, 1024, 768, want, "VBE 1024x768x32")


MODE_STEPS = [
    ("text", check_text),
    ("mode12", check_mode12),
    ("mode13", check_mode13),
    ("modex", check_modex),
    ("modex-scroll", check_modex_scroll),
    ("vbe", check_vbe),
]


def scenario_modes(vm, opts):
    for name, check in MODE_STEPS:
        vm.wait_serial(r"^DRAWN %s\r?$" % name, timeout=opts.step_timeout)
        img = vm.screendump(name)
        check(vm, img)
        print("ok:", name, flush=True)
        vm.send_key("spc")
    vm.wait_serial(r"done", timeout=opts.step_timeout)
    status = vm.wait_exit()
    if status != 33:
        raise TestFailure("exit status %d, expected 33 (pass)" % status)


SCENARIOS = {
    "modes": scenario_modes,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="kvm")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--guest", help="-kernel image (setup.inc guests) or -bios image")
    ap.add_argument("--bios-guest", action="store_true", help="the guest is a -bios image")
    ap.add_argument("--step-timeout", type=float, default=120)
    ap.add_argument("args", nargs="*", help="more vireo-run arguments")
    opts = ap.parse_args()
    why = vmtest.kvm_skip_reason(opts.accel)
    if why:
        print("SKIP:", why)
        return vmtest.SKIP
    args = list(opts.args)
    if opts.guest:
        args += ["-bios" if opts.bios_guest else "-kernel", opts.guest]
    with vmtest.temp_dir() as tmp:
        vm = None
        try:
            vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
            SCENARIOS[opts.scenario](vm, opts)
        except TestFailure as e:
            print("FAIL:", e)
            if vm:
                print("--- serial (tail) ---\n" + vm.serial()[-3000:])
            return 1
        finally:
            if vm:
                vm.close()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
