#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Display and input tests that need a running VM and its control socket.

  display.py --vireo PATH --accel kvm --scenario NAME [--guest IMAGE]

Scenarios:
  modes          vga-bios.bin / vga-direct.bin: text mode 3, mode 12h, mode 13h, mode X,
                 VBE 1024x768x32; every picture checked pixel by pixel in a screendump
  cirrus         cirrus.bin under -vga cirrus: Cirrus modes at 8-32 bpp drawn by the
                 BitBLT engine, replayed in cirrusmodel.py and compared pixel by pixel
  banner         SeaBIOS's banner in x-screen-text and the screendump; then a guest that
                 scrolls by the CRTC start address shows the scrolled text
  ... (see SCENARIOS at the end)
Exit status: 0 pass, 1 fail, 77 skip.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import TestFailure, check_region  # noqa: E402

# The sixteen colours of the VGA BIOS's default palette: its 6-bit DAC values 0, 21, 42
# and 63 widened as QEMU does (v << 2, bit 0 copied into bits 1 and 0): 00, 57, A8, FF.
EGA = [0x000000, 0x0000a8, 0x00a800, 0x00a8a8, 0xa80000, 0xa800a8, 0xa85700, 0xa8a8a8,
       0x575757, 0x5757ff, 0x57ff57, 0x57ffff, 0xff5757, 0xff57ff, 0xffff57, 0xffffff]
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


def check_vbe_bands(vm, img):
    expect_size(img, 1024, 768, "VBE 1024x768x32")
    check_region(img, 0, 0, 1024, 768, lambda x, y: VBE_BANDS[y // 16] if y < 128 else 0,
                 "VBE 1024x768x32 bands")


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
    ("vbe-bands", check_vbe_bands),
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


# A 105-key layout (US 104 keys and the ISO key left of Z): QEMU key name, set 1 make
# code (0xE0xx for the E0-prefixed keys), set 2 make code (likewise). Print Screen and
# Pause have sequences of their own (see below).
KEYS_105 = [
    ("esc", 0x01, 0x76), ("f1", 0x3b, 0x05), ("f2", 0x3c, 0x06), ("f3", 0x3d, 0x04),
    ("f4", 0x3e, 0x0c), ("f5", 0x3f, 0x03), ("f6", 0x40, 0x0b), ("f7", 0x41, 0x83),
    ("f8", 0x42, 0x0a), ("f9", 0x43, 0x01), ("f10", 0x44, 0x09), ("f11", 0x57, 0x78),
    ("f12", 0x58, 0x07), ("print", None, None), ("scroll_lock", 0x46, 0x7e), ("pause", None, None),
    ("grave_accent", 0x29, 0x0e), ("1", 0x02, 0x16), ("2", 0x03, 0x1e), ("3", 0x04, 0x26),
    ("4", 0x05, 0x25), ("5", 0x06, 0x2e), ("6", 0x07, 0x36), ("7", 0x08, 0x3d),
    ("8", 0x09, 0x3e), ("9", 0x0a, 0x46), ("0", 0x0b, 0x45), ("minus", 0x0c, 0x4e),
    ("equal", 0x0d, 0x55), ("backspace", 0x0e, 0x66),
    ("tab", 0x0f, 0x0d), ("q", 0x10, 0x15), ("w", 0x11, 0x1d), ("e", 0x12, 0x24),
    ("r", 0x13, 0x2d), ("t", 0x14, 0x2c), ("y", 0x15, 0x35), ("u", 0x16, 0x3c),
    ("i", 0x17, 0x43), ("o", 0x18, 0x44), ("p", 0x19, 0x4d), ("bracket_left", 0x1a, 0x54),
    ("bracket_right", 0x1b, 0x5b), ("backslash", 0x2b, 0x5d),
    ("caps_lock", 0x3a, 0x58), ("a", 0x1e, 0x1c), ("s", 0x1f, 0x1b), ("d", 0x20, 0x23),
    ("f", 0x21, 0x2b), ("g", 0x22, 0x34), ("h", 0x23, 0x33), ("j", 0x24, 0x3b),
    ("k", 0x25, 0x42), ("l", 0x26, 0x4b), ("semicolon", 0x27, 0x4c), ("apostrophe", 0x28, 0x52),
    ("ret", 0x1c, 0x5a),
    ("shift", 0x2a, 0x12), ("less", 0x56, 0x61), ("z", 0x2c, 0x1a), ("x", 0x2d, 0x22),
    ("c", 0x2e, 0x21), ("v", 0x2f, 0x2a), ("b", 0x30, 0x32), ("n", 0x31, 0x31),
    ("m", 0x32, 0x3a), ("comma", 0x33, 0x41), ("dot", 0x34, 0x49), ("slash", 0x35, 0x4a),
    ("shift_r", 0x36, 0x59),
    ("ctrl", 0x1d, 0x14), ("meta_l", 0xe05b, 0xe01f), ("alt", 0x38, 0x11), ("spc", 0x39, 0x29),
    ("alt_r", 0xe038, 0xe011), ("meta_r", 0xe05c, 0xe027), ("menu", 0xe05d, 0xe02f),
    ("ctrl_r", 0xe01d, 0xe014),
    ("insert", 0xe052, 0xe070), ("home", 0xe047, 0xe06c), ("pgup", 0xe049, 0xe07d),
    ("delete", 0xe053, 0xe071), ("end", 0xe04f, 0xe069), ("pgdn", 0xe051, 0xe07a),
    ("up", 0xe048, 0xe075), ("left", 0xe04b, 0xe06b), ("down", 0xe050, 0xe072),
    ("right", 0xe04d, 0xe074),
    ("num_lock", 0x45, 0x77), ("kp_divide", 0xe035, 0xe04a), ("kp_multiply", 0x37, 0x7c),
    ("kp_subtract", 0x4a, 0x7b), ("kp_7", 0x47, 0x6c), ("kp_8", 0x48, 0x75), ("kp_9", 0x49, 0x7d),
    ("kp_add", 0x4e, 0x79), ("kp_4", 0x4b, 0x6b), ("kp_5", 0x4c, 0x73), ("kp_6", 0x4d, 0x74),
    ("kp_1", 0x4f, 0x69), ("kp_2", 0x50, 0x72), ("kp_3", 0x51, 0x7a), ("kp_enter", 0xe01c, 0xe05a),
    ("kp_0", 0x52, 0x70), ("kp_decimal", 0x53, 0x71),
]
assert len(KEYS_105) == 105


def key_bytes(name, set1, set2, scancode_set):
    """The bytes a press and release of the key send in scancode set 1 or 2."""
    if name == "print":
        return ([0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa] if scancode_set == 1
                else [0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12])
    if name == "pause":
        # Make and break together on the press, nothing on the release.
        return ([0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5] if scancode_set == 1
                else [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77])
    code = set1 if scancode_set == 1 else set2
    prefix = [0xe0] if code > 0xff else []
    code &= 0xff
    if scancode_set == 1:
        return prefix + [code] + prefix + [code | 0x80]
    return prefix + [code] + prefix + [0xf0, code]


def scenario_keys_raw(vm, opts):
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    # The guest sees set 1 codes with translation on, whatever set the keyboard uses.
    seen_set = 1 if opts.xlat else opts.set
    start = vm.serial().index("READY") + len("READY")
    got_total = []
    for name, set1, set2 in KEYS_105:
        want = key_bytes(name, set1, set2, seen_set)
        vm.command("input-send-event", events=[
            {"type": "key", "data": {"down": True, "key": {"type": "qcode", "data": name}}},
            {"type": "key", "data": {"down": False, "key": {"type": "qcode", "data": name}}}])
        expected_len = len(got_total) + len(want)
        deadline = time.monotonic() + 20
        while True:
            text = vm.serial()[start:]
            # A byte counts once the space after it is written.
            got = [int(b, 16) for b in text[:text.rfind(" ") + 1].split()]
            if len(got) >= expected_len:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        mine = got[len(got_total):]
        if mine != want:
            raise TestFailure("key %s: guest read %s, expected %s" % (
                name, " ".join("%02x" % b for b in mine), " ".join("%02x" % b for b in want)))
        got_total = got
    print("ok: %d keys in scancode set %d%s" % (len(KEYS_105), opts.set,
                                                 " translated to set 1" if opts.xlat else ""))
    vm.command("quit")
    vm.wait_exit()


# Successive send-key commands sent without waiting, and the set 1 bytes the guest must
# read: each command's keys go down in order and up in reverse, and the next command
# starts after the previous one's last step.
QUEUE_STEPS = [
    ([["a"], ["a"]], [0x1e, 0x9e, 0x1e, 0x9e]),
    ([["shift", "a"], ["b"]], [0x2a, 0x1e, 0x9e, 0xaa, 0x30, 0xb0]),
    ([["ctrl", "c"], ["ctrl", "c"], ["ret"]], [0x1d, 0x2e, 0xae, 0x9d, 0x1d, 0x2e, 0xae, 0x9d, 0x1c, 0x9c]),
]


def scenario_keys_queue(vm, opts):
    """kbd-raw in set 1: send-key commands queue instead of overlapping ("aa" stays two
    a's), and each step waits the hold time (100 ms by default)."""
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    start = vm.serial().index("READY") + len("READY")
    want = []
    for commands, codes in QUEUE_STEPS:
        want += codes
        t0 = time.monotonic()
        for keys in commands:
            vm.command("send-key", keys=[{"type": "qcode", "data": k} for k in keys])
        deadline = time.monotonic() + 10
        while True:
            text = vm.serial()[start:]
            got = [int(b, 16) for b in text[:text.rfind(" ") + 1].split()]
            if len(got) >= len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        time.sleep(0.3)  # anything extra the commands caused
        text = vm.serial()[start:]
        got = [int(b, 16) for b in text[:text.rfind(" ") + 1].split()]
        names = " then ".join("+".join(k) for k in commands)
        if got != want:
            raise TestFailure("%s: the guest read %s, expected %s" % (
                names, " ".join("%02x" % b for b in got), " ".join("%02x" % b for b in want)))
        # The last byte comes after every other step's 100 ms.
        if elapsed < 0.1 * (len(codes) - 1):
            raise TestFailure("%s: %d steps took %.3f s, less than 100 ms each" % (names, len(codes), elapsed))
    print("ok: %d queued send-key commands, %d bytes in order" % (
        sum(len(c) for c, _ in QUEUE_STEPS), len(want)))
    vm.command("quit")
    vm.wait_exit()


# Chords typed with send-key and the set 1 bytes (the 8042 translating) a guest reads:
# presses in order, releases in reverse. Extended keys and Pause put several bytes into
# the keyboard's buffer at once.
IRQ_CHORDS = [
    (["shift", "a"], [0x2a, 0x1e, 0x9e, 0xaa]),
    (["ctrl_r", "right"], [0xe0, 0x1d, 0xe0, 0x4d, 0xe0, 0xcd, 0xe0, 0x9d]),
    (["ctrl", "alt", "delete"], [0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]),
    (["pause"], [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]),
    (["print"], [0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]),
]


def scenario_keys_irq(vm, opts):
    """kbd-irq: an IRQ 1 handler reads port 0x60 twice per interrupt; both reads must
    see the same byte and no scancode may be lost."""
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    start = vm.serial().index("READY") + len("READY")
    want = []
    for keys, codes in IRQ_CHORDS:
        want += codes
        vm.send_key(*keys)
        deadline = time.monotonic() + 10
        while True:
            text = vm.serial()[start:]
            tokens = text[:text.rfind(" ") + 1].split()
            if len(tokens) >= len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(0.2)  # anything extra the chord caused
        text = vm.serial()[start:]
        tokens = text[:text.rfind(" ") + 1].split()
        torn = [t for t in tokens if "!" in t]
        if torn:
            raise TestFailure("%s: the handler's two reads of port 0x60 differ (first!second): %s"
                              % ("+".join(keys), " ".join(torn)))
        # "first~second": the host stalled the vCPU over 1 ms between the two reads, so
        # the next byte legitimately arrived; both bytes were read, none lost.
        stalls = [t for t in tokens if "~" in t]
        got = [int(b, 16) for t in tokens for b in t.split("~")]
        if got != want:
            raise TestFailure("%s: the guest read %s, expected %s" % (
                "+".join(keys), " ".join("%02x" % b for b in got), " ".join("%02x" % b for b in want)))
    print("ok: %d scancodes of %d chords, each read twice in its interrupt" % (len(want), len(IRQ_CHORDS)))
    if stalls:
        print("note: %d interrupts saw the next byte after a host stall over 1 ms: %s"
              % (len(stalls), " ".join(stalls)))
    vm.command("quit")
    vm.wait_exit()


# Keys typed through send-key and what INT 16h function 10h returns for them (scancode in
# the high byte, character in the low; E0 marks the grey keys), from the IBM PC BIOS
# keyboard tables.
BIOS_KEYS = [
    (["a"], 0x1e61), (["shift", "a"], 0x1e41), (["ctrl", "a"], 0x1e01), (["alt", "a"], 0x1e00),
    (["1"], 0x0231), (["shift", "1"], 0x0221), (["z"], 0x2c7a), (["shift_r", "m"], 0x324d),
    (["ret"], 0x1c0d), (["backspace"], 0x0e08), (["tab"], 0x0f09), (["spc"], 0x3920),
    (["minus"], 0x0c2d), (["equal"], 0x0d3d), (["bracket_left"], 0x1a5b), (["bracket_right"], 0x1b5d),
    (["semicolon"], 0x273b), (["apostrophe"], 0x2827), (["grave_accent"], 0x2960),
    (["backslash"], 0x2b5c), (["comma"], 0x332c), (["dot"], 0x342e), (["slash"], 0x352f),
    (["f1"], 0x3b00), (["f10"], 0x4400), (["f11"], 0x8500), (["f12"], 0x8600), (["shift", "f1"], 0x5400),
    (["up"], 0x48e0), (["down"], 0x50e0), (["left"], 0x4be0), (["right"], 0x4de0),
    (["home"], 0x47e0), (["end"], 0x4fe0), (["pgup"], 0x49e0), (["pgdn"], 0x51e0),
    (["insert"], 0x52e0), (["delete"], 0x53e0),
    (["kp_enter"], 0xe00d), (["kp_divide"], 0xe02f), (["kp_multiply"], 0x372a),
    (["kp_subtract"], 0x4a2d), (["kp_add"], 0x4e2b), (["ctrl_r", "c"], 0x2e03),
    (["esc"], 0x011b),
]


def scenario_keys_bios(vm, opts):
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    for i, (keys, want) in enumerate(BIOS_KEYS):
        if keys == ["esc"]:
            vm.send_key(*keys, hold_time=20)
        else:
            # Presses and releases as explicit events: they go in without send-key's
            # waits between the steps, which keeps this long list quick.
            ev = [{"type": "key", "data": {"down": d, "key": {"type": "qcode", "data": k}}}
                  for d, k in [(True, k) for k in keys] + [(False, k) for k in reversed(keys)]]
            vm.command("input-send-event", events=ev)
        deadline = time.monotonic() + 30
        while True:
            found = re.findall(r"KEY ([0-9a-f]{4})\r?\n", vm.serial())
            if len(found) > i:
                break
            if time.monotonic() > deadline:
                raise TestFailure("%s: no key reported by INT 16h" % "+".join(keys))
            time.sleep(0.01)
        if len(found) != i + 1 or int(found[i], 16) != want:
            raise TestFailure("%s: INT 16h returned %s, expected %04x" % ("+".join(keys), " ".join(found[i:]), want))
    vm.wait_serial("kbd-bios: done")
    if vm.wait_exit() != 33:
        raise TestFailure("the guest did not pass")
    print("ok: %d keys through INT 16h" % len(BIOS_KEYS))


def rel(axis, value):
    return {"type": "rel", "data": {"axis": axis, "value": value}}


def btn(name, down):
    return {"type": "btn", "data": {"button": name, "down": down}}


# Events and the IntelliMouse packets (status, dx, dy up-positive, wheel) they produce.
MOUSE_STEPS = [
    ([rel("x", 10), rel("y", -5)], [[0x08, 0x0a, 0x05, 0x00]]),
    ([btn("left", True)], [[0x09, 0x00, 0x00, 0x00]]),
    ([rel("x", -3)], [[0x19, 0xfd, 0x00, 0x00]]),
    ([btn("left", False)], [[0x08, 0x00, 0x00, 0x00]]),
    ([btn("wheel-down", True), btn("wheel-down", False)], [[0x08, 0x00, 0x00, 0x01]]),
    ([btn("wheel-up", True), btn("wheel-up", False)], [[0x08, 0x00, 0x00, 0xff]]),
    ([btn("right", True), rel("y", 20)], [[0x2a, 0x00, 0xec, 0x00]]),
    ([btn("right", False)], [[0x08, 0x00, 0x00, 0x00]]),
    ([rel("x", 300)], [[0x08, 0xff, 0x00, 0x00], [0x08, 0x2d, 0x00, 0x00]]),
    ([btn("middle", True)], [[0x0c, 0x00, 0x00, 0x00]]),
]


def scenario_mouse(vm, opts):
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    if not re.search(r"mouse-raw: status 00 03 50", vm.serial()):
        raise TestFailure("status request: %r (expected stream mode, resolution 3, rate 80)"
                          % re.search(r"status.*", vm.serial()).group(0))
    start = vm.serial().index("READY") + len("READY")
    seen = []
    for events, packets in MOUSE_STEPS:
        vm.command("input-send-event", events=events)
        want = [b for p in packets for b in p]
        deadline = time.monotonic() + 20
        while True:
            text = vm.serial()[start:]
            text = text[:text.rfind(" ") + 1].split("REMOTE")[0]
            got = [int(b, 16) for b in text.split()]
            if len(got) >= len(seen) + len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        mine = got[len(seen):]
        if mine != want:
            raise TestFailure("events %s: mouse sent %s, expected %s" % (
                events, " ".join("%02x" % b for b in mine), " ".join("%02x" % b for b in want)))
        seen = got
    # Remote mode: no stream; the guest polls with Read Data.
    vm.wait_serial(r"REMOTE\r?\n")
    vm.command("input-send-event", events=[btn("middle", False), rel("x", 7)])
    m = vm.wait_serial(r"REMOTE-PACKET ([0-9a-f ]+)")
    if m.group(1).split() != ["08", "07", "00", "00"]:
        raise TestFailure("remote mode packet %s, expected 08 07 00 00" % m.group(1))
    if vm.wait_exit() != 33:
        raise TestFailure("the guest did not pass")
    print("ok: mouse packets in stream and remote mode")


def scenario_banner(vm, opts):
    vm.wait_serial(r"^READY banner\r?$", timeout=opts.step_timeout)
    text = vm.command("x-screen-text")
    if not text["lines"][0].startswith("SeaBIOS (version "):
        raise TestFailure("row 0 reads %r, not SeaBIOS's banner" % text["lines"][0])
    img = vm.screendump("banner")
    expect_size(img, 720, 400, "SeaBIOS's text screen")
    colours = {img.pixel(x, y) for x in range(0, 16 * 9) for y in range(16)}
    if colours != {EGA[0], EGA[7]}:
        raise TestFailure("the banner's cells show colours %s, expected grey on black"
                          % sorted("%06x" % c for c in colours))
    print("ok: banner:", text["lines"][0].rstrip())
    vm.send_key("spc")

    vm.wait_serial(r"^READY scroll10\r?$")
    text = vm.command("x-screen-text")
    want = ["Line %02d" % n for n in range(10, 35)]
    got = [line.rstrip() for line in text["lines"]]
    if got != want:
        raise TestFailure("after scrolling to row 10 the screen reads %r" % got)
    if (text["cursor"]["row"], text["cursor"]["col"]) != (2, 3):
        raise TestFailure("cursor at %r, expected row 2, column 3" % text["cursor"])
    scroll10 = vm.screendump("scroll10")
    vm.send_key("spc")

    vm.wait_serial(r"^READY scroll40\r?$")
    text = vm.command("x-screen-text")
    got = [line.rstrip() for line in text["lines"]]
    if got[:20] != ["Line %02d" % n for n in range(40, 60)]:
        raise TestFailure("after scrolling to row 40 the screen reads %r" % got[:20])
    scroll40 = vm.screendump("scroll40")
    # Smooth scrolling by 8 scan lines: text row r starts at y = 16r - 8. "Line " and the
    # units digit of row r look as they did at row r of the first scroll.
    for r in range(1, 20):
        for k in range(16):
            for x in list(range(0, 5 * 9)) + list(range(6 * 9, 7 * 9)):
                if (r, x // 9) == (2, 3):
                    continue  # the cursor's cell: it blinks
                if scroll40.pixel(x, 16 * r - 8 + k) != scroll10.pixel(x, 16 * r + k):
                    raise TestFailure("smooth scroll: pixel (%d, %d) differs from row %d's" % (x, 16 * r - 8 + k, r))
    vm.send_key("spc")
    vm.wait_serial("text-scroll: done")
    if vm.wait_exit() != 33:
        raise TestFailure("the guest did not pass")
    print("ok: hardware scrolling by start address and preset row scan")


def scenario_flood(vm, opts):
    """Screendumps and text reads while the guest floods the VGA; memory stays bounded."""
    base = peak = None
    shots = 0
    while "vga-flood: done" not in vm.serial():
        try:
            w, h = vm.screen_size()
            vm.raw(b'{"execute": "x-screen-text"}\n')
            vm.reply()
            rss = vm.rss_kib()
        except (TestFailure, OSError, ValueError) as e:
            # The guest may have finished between two checks: vireo-run then closes the
            # socket before its process is gone.
            try:
                status = vm.proc.wait(10)
            except Exception:
                status = None
            if status == 33:
                break
            raise TestFailure("vireo-run stopped answering during the flood (status %s): %s"
                              % (vm.proc.poll(), e))
        if w > 4096 or h > 4096:
            raise TestFailure("a %dx%d screen from a hostile guest" % (w, h))
        shots += 1
        base = rss if base is None else base
        peak = max(peak or 0, rss)
        # Video memory, the largest surface (4096x4096x4 = 64 MiB) and picture buffers.
        if rss > base + 200 * 1024:
            raise TestFailure("memory grew from %d to %d KiB during the flood" % (base, rss))
    if vm.wait_exit(120) != 33:
        raise TestFailure("the guest did not finish its rounds")
    print("ok: %d screendumps during the flood; resident memory %d KiB, at most %d KiB" % (shots, base, peak))


def scenario_qmp_robust(vm, opts):
    """Garbage, a 10 MB request and a client that never reads: the VM runs on."""
    status = vm.command("query-status")
    base = vm.rss_kib()
    vm.raw(b"\x00\x01garbage }}} ]]\n")
    if "error" not in vm.reply():
        raise TestFailure("garbage got no error")
    vm.raw(b'{"execute": "query-status", "arguments": [1, 2}\n')
    if "error" not in vm.reply():
        raise TestFailure("malformed JSON got no error")
    vm.raw(b'{"execute": "query-status", "arguments": {"x": "' + b"y" * (10 << 20) + b'"}}\n')
    reply = vm.reply()
    if "error" not in reply:
        raise TestFailure("a 10 MB request got %r" % reply)
    vm.raw(b"[" * (4 << 20) + b"\n")
    vm.raw(b"]" * (4 << 20) + b"\n")
    if "error" not in vm.reply():
        raise TestFailure("deep nesting got no error")
    for bad in [b'{"execute": "screendump"}', b'{"execute": "send-key", "arguments": {"keys": 5}}',
                b'{"execute": "input-send-event", "arguments": {"events": [{"type": "abs"}]}}',
                b'{"execute": "no-such-command"}', b'{"arguments": {}}', b'"just a string"']:
        vm.raw(bad + b"\n")
        if "error" not in vm.reply():
            raise TestFailure("%r got no error" % bad)
    # A second client that sends commands and never reads its replies.
    import socket
    lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lazy.connect(vm.qmp_path)
    lazy.setblocking(False)
    sent = 0
    try:
        for _ in range(200000):
            lazy.send(b'{"execute": "qmp_capabilities"}{"execute": "query-version"}' * 64)
            sent += 1
    except (BlockingIOError, ConnectionResetError, BrokenPipeError):
        pass
    after = vm.command("query-status")
    if after["status"] != status["status"]:
        raise TestFailure("the VM went from %s to %s" % (status["status"], after["status"]))
    rss = vm.rss_kib()
    if rss > base + 64 * 1024:
        raise TestFailure("memory grew from %d to %d KiB" % (base, rss))
    lazy.close()
    print("ok: bad requests answered with errors, VM %s, resident memory %d -> %d KiB"
          % (after["status"], base, rss))
    vm.command("quit")
    vm.wait_exit()


def x_tool(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if check and r.returncode != 0:
        raise TestFailure("%s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def sdl_window(name):
    """The X window id of the VM's SDL window, found by its title."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = x_tool("xdotool", "search", "--name", re.escape(name), check=False).split()
        if out:
            return out[0]
        time.sleep(0.2)
    raise TestFailure("no window titled %r" % name)


def window_picture(wid):
    data = subprocess.run(["xwd", "-silent", "-id", wid], stdout=subprocess.PIPE, timeout=30).stdout
    return vmtest.decode_xwd(data)


def compare_window(vm, wid, what):
    # Give the 60 Hz refresh a few frames to show the picture.
    time.sleep(0.5)
    dump = vm.screendump(what)
    win = window_picture(wid)
    if (win.width, win.height) != (dump.width, dump.height):
        raise TestFailure("%s: the window is %dx%d, the screen %dx%d" % (what, win.width, win.height,
                                                                          dump.width, dump.height))
    check_region(win, 0, 0, win.width, win.height, dump.pixel, "%s in the SDL window" % what)
    print("ok: the SDL window shows the %s picture (%dx%d)" % (what, win.width, win.height))


def press_in_window(wid, key):
    x_tool("xdotool", "windowfocus", "--sync", wid)
    x_tool("xdotool", "key", "--clearmodifiers", key)


def scenario_sdl(vm, opts):
    """The SDL window under Xvfb: keys typed into it reach the guest (INT 16h), and a
    screenshot of it equals the screendump for 640x480 and 1024x768 (shown unscaled)."""
    wid = sdl_window("display-test")
    title = x_tool("xdotool", "getwindowname", wid).strip()
    if not title.startswith("display-test") or "Vireo" not in title:
        raise TestFailure("window title %r lacks the VM's name" % title)
    steps = {"mode12": "mode 12h", "vbe": "VBE 1024x768"}
    for name, _ in MODE_STEPS:
        vm.wait_serial(r"^DRAWN %s\r?$" % name, timeout=opts.step_timeout)
        if name in steps:
            compare_window(vm, wid, steps[name])
        press_in_window(wid, "space")
    vm.wait_serial(r"done", timeout=opts.step_timeout)
    if vm.wait_exit() != 33:
        raise TestFailure("the guest did not pass")
    print("ok: space typed into the window reached the guest", len(MODE_STEPS), "times")


def mouse_packets(vm, start):
    text = vm.serial()[start:]
    text = text[:text.rfind(" ") + 1].split("REMOTE")[0]
    b = [int(x, 16) for x in text.split()]
    return [b[i:i + 4] for i in range(0, len(b) - len(b) % 4, 4)]


def signed(v, negative):
    return v - 256 if negative else v


def run_under_xvfb():
    """Runs this script again inside an Xvfb of its own. -displayfd lets the server pick a
    free display number itself, so tests started in parallel cannot collide (xvfb-run -a
    can)."""
    r, w = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "2048x1536x24",
                               "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    try:
        if not number:
            print("FAIL: Xvfb did not start")
            return 1
        env = dict(os.environ, VIREO_UNDER_XVFB="1", DISPLAY=":" + number)
        env.pop("WAYLAND_DISPLAY", None)
        return subprocess.call([sys.executable] + sys.argv, env=env)
    finally:
        server.terminate()
        server.wait()


def wait_until(check, timeout=15.0, step=0.05):
    """Polls check() until it returns true or the timeout passes; returns its last value.
    Window and guest react asynchronously, and later on a loaded machine."""
    end = time.monotonic() + timeout
    while True:
        v = check()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def scenario_sdl_mouse(vm, opts):
    """The SDL window's mouse: a click grabs it (and is not passed on), motion and buttons
    reach the guest's PS/2 mouse, Ctrl+Alt+G releases it; the title says which."""
    vm.wait_serial(r"^READY\r?$", timeout=opts.step_timeout)
    start = vm.serial().index("READY") + len("READY")
    wid = sdl_window("mouse-test")
    if "releases the mouse" in x_tool("xdotool", "getwindowname", wid):
        raise TestFailure("the mouse is grabbed before any click")
    # A window manager focuses a window on click; Xvfb has none, so focus it first (a focus
    # loss rightly releases the grab).
    x_tool("xdotool", "windowfocus", "--sync", wid)
    x_tool("xdotool", "mousemove", "--window", wid, "100", "100", "click", "1")
    if not wait_until(lambda: "Ctrl+Alt+G releases the mouse" in x_tool("xdotool", "getwindowname", wid)):
        raise TestFailure("a click did not grab the mouse (title %r)" % x_tool("xdotool", "getwindowname", wid))
    if mouse_packets(vm, start):
        raise TestFailure("the grabbing click reached the guest: %s" % mouse_packets(vm, start))
    moves = [(20, 10), (5, -30), (-12, 7)]
    for dx, dy in moves:
        x_tool("xdotool", "mousemove_relative", "--", str(dx), str(dy))
        time.sleep(0.3)
    x_tool("xdotool", "click", "3")
    want = (sum(m[0] for m in moves), -sum(m[1] for m in moves))

    def motion_and_buttons():
        packets = mouse_packets(vm, start)
        motion = [p for p in packets if p[1] or p[2]]
        sx = sum(signed(p[1], p[0] & 0x10) for p in motion)
        sy = sum(signed(p[2], p[0] & 0x20) for p in motion)
        buttons = [p[0] & 7 for p in packets if not (p[1] or p[2])]
        return packets, (sx, sy), buttons

    wait_until(lambda: motion_and_buttons()[1] == want and motion_and_buttons()[2][-2:] == [2, 0])
    packets, (sx, sy), buttons = motion_and_buttons()
    if (sx, sy) != want:
        raise TestFailure("the guest saw motion %s, expected %s (packets %s)" % ((sx, sy), want, packets))
    if buttons[-2:] != [2, 0]:
        raise TestFailure("right button press and release not seen: %s" % packets)
    x_tool("xdotool", "windowfocus", "--sync", wid)
    x_tool("xdotool", "key", "ctrl+alt+g")
    if not wait_until(lambda: "releases the mouse" not in x_tool("xdotool", "getwindowname", wid)):
        raise TestFailure("Ctrl+Alt+G did not release the mouse")
    print("ok: grab on click, motion %s and buttons to the guest, Ctrl+Alt+G releases" % (want,))
    vm.command("quit")
    vm.wait_exit()


CIRRUS_STEPS = ["cirrus16", "cirrus24", "cirrus15", "cirrus8", "cirrus32"]
# How many of each picture's blits the guest made hostile (the engine must refuse them).
CIRRUS_REFUSED = {"cirrus16": 5}


def scenario_cirrus(vm, opts):
    """cirrus.bin under -vga cirrus: every picture's blits replayed in cirrusmodel and the
    screendump compared pixel for pixel (mode size, depth, cursor included)."""
    import cirrusmodel as cm
    model = cm.Model()
    pos = 0
    mode = None
    for name in CIRRUS_STEPS:
        vm.wait_serial(r"^DRAWN %s\r?$" % name, timeout=opts.step_timeout)
        text = vm.serial()
        end = text.index("DRAWN " + name, pos)
        lines = [ln.strip() for ln in text[pos:end].splitlines()]
        pos = end + len("DRAWN " + name)
        cursor = None
        refused = blits = 0
        i = 0
        while i < len(lines):
            ln = lines[i]
            if ln.startswith("MODE "):
                mode = tuple(int(v) for v in ln.split()[1:5])
            elif ln.startswith("BLIT "):
                b = cm.Blit(bytes.fromhex(ln[5:]))
                data = None
                if b.kind == 2:
                    i += 1
                    if not lines[i].startswith("DATA "):
                        raise TestFailure("%s: a table blit without its DATA line" % name)
                    data = bytes.fromhex(lines[i][5:])
                elif b.kind == 1:
                    data = cm.formula_bytes(b.length)
                if b.mode & 0x04 and b.kind and len(data) < model.sys_length(b):
                    raise TestFailure("%s: blit %d gets %d source bytes of %d" % (name, blits, len(data),
                                                                                 model.sys_length(b)))
                refused += model.blit(b, data) == "refused"
                blits += 1
            elif ln.startswith("CURSOR "):
                cursor = tuple(int(v) for v in ln.split()[1:4])
            i += 1
        if refused != CIRRUS_REFUSED.get(name, 0):
            raise TestFailure("%s: the model refuses %d blits, the guest made %d hostile"
                              % (name, refused, CIRRUS_REFUSED.get(name, 0)))
        w, h, bpp, pitch = mode
        img = vm.screendump(name)
        expect_size(img, w, h, name)
        dac = [bytes((cm.dac6(v), cm.dac6(3 * v), cm.dac6(63 - (v & 63)))) for v in range(256)]
        want = model.render(w, h, bpp, pitch, dac)
        if cursor:
            cx, cy, n = cursor
            base = cm.VRAM - 0x4000 + n * 256
            model.m[base:base + 256] = bytes((j * 13 + (j >> 5)) & 0xff for j in range(256))
            model.draw_cursor(want, w, h, cx, cy, n, bytes((0xff, 0x80, 0x00)), bytes((0x00, 0xff, 0xff)))
        if img.rgb != bytes(want):
            try:
                shown = "text mode"
                vm.command("x-screen-text")
            except TestFailure as e:
                shown = str(e)  # names the mode the adapter shows
            bad = [k // 3 for k in range(0, len(want), 3) if img.rgb[k:k + 3] != want[k:k + 3]]
            raise TestFailure("%s (%dx%dx%d; the display: %s): %d pixels differ, first %s" % (
                name, w, h, bpp, shown, len(bad), ", ".join("(%d,%d) is %s, expected %s" % (
                    p % w, p // w, img.rgb[3 * p:3 * p + 3].hex(), bytes(want[3 * p:3 * p + 3]).hex())
                    for p in bad[:5])))
        print("ok: %s, %dx%d at %d bpp, %d blits (%d refused)%s" % (
            name, w, h, bpp, blits, refused, ", cursor" if cursor else ""), flush=True)
        vm.send_key("spc")
    vm.wait_serial(r"cirrus: done", timeout=opts.step_timeout)
    status = vm.wait_exit()
    if status != 33:
        raise TestFailure("exit status %d, expected 33 (pass)" % status)


SCENARIOS = {
    "modes": scenario_modes,
    "cirrus": scenario_cirrus,
    "keys-raw": scenario_keys_raw,
    "keys-bios": scenario_keys_bios,
    "keys-irq": scenario_keys_irq,
    "keys-queue": scenario_keys_queue,
    "mouse": scenario_mouse,
    "banner": scenario_banner,
    "flood": scenario_flood,
    "qmp-robust": scenario_qmp_robust,
    "sdl": scenario_sdl,
    "sdl-mouse": scenario_sdl_mouse,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="kvm")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--guest", help="-kernel image (setup.inc guests) or -bios image")
    ap.add_argument("--bios-guest", action="store_true", help="the guest is a -bios image")
    ap.add_argument("--step-timeout", type=float, default=120)
    ap.add_argument("--set", type=int, default=2, help="keys-raw: the guest's scancode set")
    ap.add_argument("--xlat", type=int, default=0, help="keys-raw: 8042 translation on")
    ap.add_argument("args", nargs="*", help="more vireo-run arguments")
    opts = ap.parse_args()
    why = vmtest.kvm_skip_reason(opts.accel)
    if why:
        print("SKIP:", why)
        return vmtest.SKIP
    args = list(opts.args)
    if opts.scenario in ("sdl", "sdl-mouse"):
        if not os.environ.get("VIREO_UNDER_XVFB"):
            # Start again inside a virtual X server of our own.
            for tool in ("Xvfb", "xwd", "xdotool"):
                if not shutil.which(tool):
                    print("SKIP: %s is not installed (scripts/setup-deps.sh test installs it)" % tool)
                    return vmtest.SKIP
            return run_under_xvfb()
        args += ["-display", "sdl", "-name", "display-test" if opts.scenario == "sdl" else "mouse-test"]
    if opts.guest:
        args += ["-bios" if opts.bios_guest else "-kernel", opts.guest]
    with vmtest.temp_dir() as tmp:
        return vmtest.run_scenario(SCENARIOS[opts.scenario], opts, args, tmp)


if __name__ == "__main__":
    sys.exit(main())
