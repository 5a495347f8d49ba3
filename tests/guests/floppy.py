#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Floppy tests: real guests booted from floppy images (FreeDOS, MikeOS, Floppy Bird)
read from the screen through the control socket, and the fdc-dma guest whose writes are
checked in the image file afterwards.

  floppy.py --vireo PATH --accel tcg --scenario NAME [--image IMG] [--guest BIN]

Images in ../shared/guests are used read-only: tests that write work on a copy in a
temporary directory. Exit codes: 0 pass, 1 fail, 77 skip."""
import argparse
import collections
import hashlib
import json
import re
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import TestFailure  # noqa: E402

SECTOR = 512


def screen_text(vm):
    try:
        return "\n".join(vm.command("x-screen-text")["lines"])
    except TestFailure as e:
        if "not in a text mode" in str(e):
            return ""
        raise


def wait_screen(vm, needle, timeout, what):
    """Polls the text screen until it shows needle (a string or a predicate)."""
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    while True:
        text = screen_text(vm)
        if (needle(text) if callable(needle) else needle in text):
            return text, time.monotonic() - start
        if vm.proc.poll() is not None:
            raise TestFailure("vireo-run exited (%d) waiting for %s:\n%s"
                              % (vm.proc.returncode, what, vm.output()))
        if time.monotonic() > deadline:
            raise TestFailure("no %s on screen after %.0f s; the screen shows:\n%s"
                              % (what, timeout, text))
        time.sleep(0.1)


def type_line(vm, text):
    names = {" ": ("spc",), ".": ("dot",), "\n": ("ret",), "/": ("slash",),
             "\\": ("backslash",), ":": ("shift", "semicolon")}
    for ch in text:
        vm.send_key(*names.get(ch, (ch,)), hold_time=20)
        time.sleep(0.03)


def scenario_freedos_prompt(vm, opts):
    # The boot disks' AUTOEXEC.BAT clears the screen: the prompt is what remains.
    text, secs = wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
    print("ok: A:\\> after %.1f s" % secs)


def scenario_freedos_commands(vm, opts):
    wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
    type_line(vm, "ver\n")
    text, _ = wait_screen(vm, lambda t: t.count("A:\\>") >= 2 and "FreeCom version" in t,
                          30, "output of VER")
    print("ok: ver shows", [l.strip() for l in text.splitlines() if "version" in l.lower()])
    type_line(vm, "dir\n")

    def dir_done(t):
        return "KERNEL" in t and "COMMAND" in t and "file(s)" in t and t.count("A:\\>") >= 3
    text, _ = wait_screen(vm, dir_done, 30, "directory listing from DIR")
    lines = [l.rstrip() for l in text.splitlines()]
    for name, ext in (("KERNEL", "SYS"), ("COMMAND", "COM")):
        if not any(l.split()[:2] == [name, ext] for l in lines if l.strip()):
            raise TestFailure("DIR does not list %s.%s:\n%s" % (name, ext, text))
    print("ok: dir lists KERNEL.SYS and COMMAND.COM:", [l for l in lines if "file(s)" in l])


def scenario_boot_menu(vm, opts):
    # -boot menu=on: SeaBIOS offers the menu, which lists drive A:; choosing it boots.
    wait_screen(vm, "Press ESC for boot menu", opts.step_timeout, "boot menu prompt")
    vm.send_key("esc")
    # The menu is drawn line by line: wait for the entry, not just the title.
    text, _ = wait_screen(vm, lambda t: "Select boot device" in t and "Floppy [drive A]" in t, 30,
                          "boot menu")
    entry = [l.strip() for l in text.splitlines() if "Floppy [drive A]" in l]
    if not entry:
        raise TestFailure("the boot menu does not list drive A:\n" + text)
    vm.send_key(entry[0].split(".")[0])
    wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt after choosing the floppy")
    print("ok: boot menu lists %r and boots it" % entry[0])


def scenario_isapc(vm, opts):
    # -M isapc: SeaBIOS without PCI finds the ISA IDE disk (IRQ 14 channel) and CD-ROM
    # (IRQ 15 channel) and lists them with the floppy; the ISA VGA with SeaVGABIOS from
    # fw_cfg shows the menu; FreeDOS boots from A: to its prompt.
    wait_screen(vm, "Press ESC for boot menu", opts.step_timeout, "boot menu prompt")
    vm.send_key("esc")
    text, _ = wait_screen(vm, lambda t: "Select boot device" in t and "Floppy [drive A]" in t and
                          "ata0-0" in t and "ata1-0" in t, 30, "boot menu with floppy, IDE disk and CD")
    print("ok: isapc boot menu:", " | ".join(l.strip() for l in text.splitlines()
                                           if "[drive A]" in l or "ata" in l))
    entry = [l.strip() for l in text.splitlines() if "Floppy [drive A]" in l]
    vm.send_key(entry[0].split(".")[0])
    _, secs = wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt on isapc")
    print("ok: FreeDOS prompt on isapc after %.1f s" % secs)


def isapc_refusals(opts):
    """What needs PCI is refused with one line, before anything runs."""
    for extra, want in ((["-device", "e1000"], "-device e1000 needs PCI"),
                        (["-nic", "user"], "needs PCI"),
                        (["-smp", "2"], "one CPU only"),
                        (["-vga", "cirrus"], "-vga cirrus is a PCI card"),
                        (["-drive", "file=/dev/null,format=raw,if=virtio"], "if=virtio drives need PCI")):
        r = subprocess.run([opts.vireo, "-M", "isapc", "-display", "none", "-accel", opts.accel] + extra,
                           capture_output=True, text=True, timeout=30)
        lines = r.stderr.strip().splitlines()
        if r.returncode == 0 or len(lines) != 1 or want not in lines[0]:
            raise TestFailure("-M isapc %s: exit %d, stderr %r (want one line with %r)"
                              % (" ".join(extra), r.returncode, r.stderr, want))
        print("ok: -M isapc %s: %s" % (" ".join(extra), lines[0]))


def qmp_error(vm, name, **args):
    """Runs a command that must fail; returns its error text."""
    vm.raw(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
    msg = vm.reply()
    if "error" not in msg:
        raise TestFailure("%s %s succeeded" % (name, args))
    return msg["error"]["desc"]


def run_dos(vm, line, done, what, timeout=30):
    """Types a command line (after clearing the screen) and waits for done(text)."""
    type_line(vm, "cls\n")
    wait_screen(vm, lambda t: t.lstrip().startswith("A:\\>") and t.count("A:\\>") == 1, 20,
                "cleared screen")
    type_line(vm, line + "\n")
    return wait_screen(vm, done, timeout, what)[0]


def change_medium(vm, **args):
    vm.command("eject" if "filename" not in args else "blockdev-change-medium", device="floppy1", **args)
    # SeaBIOS reports no change line to DOS, which then trusts a disk it read less
    # than two seconds ago (as DOS does with such drives): wait like a person would.
    time.sleep(2.5)


def scenario_media_change(vm, opts):
    # A: boots; B: starts with the 720K boot disk, then gets the tools disk, then a
    # write-protected disk, the same disk writable, then nothing (QMP
    # blockdev-change-medium and eject).
    wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
    text = run_dos(vm, "dir b:", lambda t: "free" in t, "DIR of the 720K disk in B:")
    if "KERNEL   SYS" not in text or "Volume Serial Number is E3D4-12FC" not in text:
        raise TestFailure("B: does not show the 720K boot disk:\n" + text)
    change_medium(vm, filename=opts.disk_tools)
    text = run_dos(vm, "dir /w b:", lambda t: "free" in t, "DIR of the tools disk in B:")
    if "VIM.EXE" not in text or "NASM.EXE" not in text:
        raise TestFailure("after the change B: does not show the tools disk:\n" + text)
    change_medium(vm, filename=opts.disk_b, **{"read-only-mode": "read-only"})
    text = run_dos(vm, "copy a:\\readme.txt b:\\again.txt",
                   lambda t: "(F)ail?" in t or t.rstrip().endswith("A:\\>"), "COPY to a protected disk")
    if "write" not in text.lower() or "protect" not in text.lower():
        raise TestFailure("no write-protect error from DOS:\n" + text)
    vm.send_key("f")
    wait_screen(vm, lambda t: t.rstrip().endswith("A:\\>"), 20, "prompt after failing the write")
    # The same disk writable: DOS's copy goes through the controller into the image file.
    change_medium(vm, filename=opts.disk_b, **{"read-only-mode": "read-write"})
    run_dos(vm, "copy a:\\readme.txt b:\\copied.txt",
            lambda t: "copied" in t.lower() and t.rstrip().endswith("A:\\>"), "COPY to B:")
    change_medium(vm)
    text = run_dos(vm, "dir b:", lambda t: "(F)ail?" in t, "DIR of an empty drive")
    if "not ready" not in text:
        raise TestFailure("an empty B: is not 'not ready':\n" + text)
    vm.send_key("f")
    for bad in ({"device": "floppy7"}, {"device": "ide0-hd0"}):
        msg = qmp_error(vm, "eject", **bad)
        if "not found" not in msg:
            raise TestFailure("eject %s: %r" % (bad, msg))
    vm.close()
    with open(opts.disk_b, "rb") as f:
        data = f.read()
    if b"COPIED  TXT" not in data:
        raise TestFailure("the copy made by DOS is not in B:'s directory in the image file")
    print("ok: B: changed to the tools disk, write-protected disk refused, empty drive not ready;"
          " the file DOS copied is in the image")


def scenario_empty_drive(vm, opts):
    # -fda '': a drive without a disk. SeaBIOS cannot read it; a disk inserted through
    # QMP boots after a reset. A missing file or a bad mode is refused, nothing changes.
    wait_screen(vm, "could not read the boot disk", opts.step_timeout, "boot failure from the empty drive")
    for args, want in (({"filename": os.path.join(os.path.dirname(opts.image_copy), "nope.img")}, "nope.img"),
                       ({"filename": opts.image_copy, "read-only-mode": "bogus"}, "read-only-mode")):
        msg = qmp_error(vm, "blockdev-change-medium", device="floppy0", **args)
        if want not in msg:
            raise TestFailure("blockdev-change-medium %s: %r" % (args, msg))
    vm.command("blockdev-change-medium", device="floppy0", filename=opts.image_copy)
    vm.command("system_reset")
    _, secs = wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> after inserting the disk and a reset")
    print("ok: empty drive fails to boot; inserted disk boots after reset (%.1f s)" % secs)


def scenario_mikeos(vm, opts):
    text, secs = wait_screen(vm, lambda t: "Welcome to MikeOS" in t and "Please select an interface" in t,
                             opts.step_timeout, "MikeOS welcome dialog")
    print("ok: MikeOS dialog after %.1f s" % secs)
    # OK (Enter) opens the program menu, a list of the disk's programs.
    vm.send_key("ret")

    def programs(t):
        return sorted(set(w for l in t.splitlines() for w in l.split() if w.endswith((".BIN", ".BAS"))))

    # (MikeOS draws the list a name at a time: a screen taken at the first name may
    # hold two and a half.)
    text, _ = wait_screen(vm, lambda t: len(programs(t)) >= 3, 30, "MikeOS program list with three programs or more")
    progs = programs(text)
    print("ok: program menu lists", " ".join(progs))


def scenario_floppybird(vm, opts):
    # The title screen: mode 13h (320x200, 256 colours), sky, city, bird and ground.
    deadline = time.monotonic() + opts.step_timeout
    while True:
        img = vm.screendump()
        if (img.width, img.height) == (320, 200):
            colours = collections.Counter(img.pixel(x, y) for y in range(200) for x in range(320))
            if len(colours) >= 8:
                break
        if time.monotonic() > deadline:
            raise TestFailure("no mode 13h picture: screen is %dx%d" % (img.width, img.height))
        time.sleep(0.2)
    time.sleep(0.5)
    img = vm.screendump()
    colours = collections.Counter(img.pixel(x, y) for y in range(200) for x in range(320))
    sky = img.pixel(4, 4)
    # The sky fills the top of the screen and differs from the ground at the bottom.
    vmtest.check_region(img, 0, 0, 40, 20, lambda x, y: sky, "sky")
    ground = img.pixel(4, 196)
    vmtest.check_region(img, 0, 190, 320, 10, lambda x, y: ground, "ground")
    if ground == sky:
        raise TestFailure("sky and ground have the same colour %06x" % sky)
    # The bird: some pixels in the middle band that are neither sky nor ground nor city.
    band = collections.Counter(img.pixel(x, y) for y in range(40, 100) for x in range(120, 200))
    if len(band) < 4:
        raise TestFailure("no bird in the middle of the title screen (colours %s)" % band)
    print("ok: mode 13h title screen, %d colours, sky %06x, ground %06x" % (len(colours), sky, ground))


def private_copy(src, tmp):
    """A writable copy in tmp: the guest may write, the shared image stays as it is."""
    dst = os.path.join(tmp, os.path.basename(src))
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst


def pattern_sector(lba):
    s = bytearray(((lba + i) & 0xff) for i in range(SECTOR))
    s[0:2] = struct.pack("<H", lba)
    return bytes(s)


def pattern_image(path, spt):
    """80 cylinders, 2 heads, spt sectors: sector L starts with the word L, byte i is
    (L + i) & 0xFF."""
    with open(path, "wb") as f:
        for lba in range(160 * spt):
            f.write(pattern_sector(lba))


def scenario_fdc_dma(vm, opts):
    vm.command("cont")  # started with -S: the guest is done before a socket would open
    rc = vm.wait_exit(opts.step_timeout)
    serial = vm.serial()
    if rc != 33 or "FDC: all checks passed" not in serial:
        raise TestFailure("the guest failed (exit %d):\n%s" % (rc, serial))
    with open(opts.image_copy, "rb") as f:
        data = f.read()
    spt = opts.spt
    if len(data) != 160 * spt * SECTOR:
        raise TestFailure("the image changed size to %d" % len(data))
    written = bytes((i ^ 0x5a) & 0xff for i in range(SECTOR))
    for lba in range(160 * spt):
        got = data[lba * SECTOR:(lba + 1) * SECTOR]
        if lba == 3 * spt + 4:
            want = written
        elif 4 * spt <= lba < 5 * spt:
            want = b"\xe5" * SECTOR
        else:
            want = pattern_sector(lba)
        if got != want:
            raise TestFailure("image sector %d holds %s..., expected %s..." % (lba, got[:8].hex(), want[:8].hex()))
    print("ok: guest passed; image (%d sectors per track): sector %d written, cylinder 2 head 0"
          " formatted, the rest unchanged" % (spt, 3 * spt + 4))
    print("image sha256", hashlib.sha256(data).hexdigest())


def image_errors(opts, tmp):
    """Bad images and options: one line on stderr and the documented exit status."""
    odd = os.path.join(tmp, "odd.img")
    with open(odd, "wb") as f:
        f.write(b"\0" * 1000)
    big = os.path.join(tmp, "big.img")
    with open(big, "wb") as f:
        f.truncate(4 << 20)
    cases = [
        (["-fda", os.path.join(tmp, "missing.img")], 1, "missing.img"),
        (["-fda", odd], 1, "1000 bytes is no floppy format"),
        (["-fdb", big], 1, "no floppy format"),
        (["-fda", odd, "-boot", "order=z"], 2, "-boot order=z"),
        (["-boot", "menu=maybe"], 2, "-boot menu=maybe"),
    ]
    for args, want_rc, want_text in cases:
        p = subprocess.run([opts.vireo, "-display", "none", "-accel", opts.accel] + args,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        if p.returncode != want_rc or len(err) != 1 or want_text not in err[0]:
            raise TestFailure("vireo-run %s: exit %d, stderr %r; expected exit %d and one line with %r"
                              % (" ".join(args), p.returncode, err, want_rc, want_text))
        print("ok: %s -> exit %d: %s" % (" ".join(args), p.returncode, err[0]))


def cmos_bytes(opts, tmp):
    """The CMOS drive types, equipment byte and boot order for several configurations."""
    def blank(name, size):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path
    cases = [
        # (options, 0x10, 0x14, 0x3D, 0x38); 0x3D holds the first two boot devices (low
        # nibble first), 0x38 the third in its high nibble: 1 floppy, 2 disk, 3 CD.
        ([], 0x00, 0x00, 0x12, 0x30),
        (["-fda", blank("a720.img", 737280)], 0x40, 0x01, 0x12, 0x30),
        (["-fda", blank("a12.img", 1228800), "-fdb", blank("b288.img", 2949120),
          "-boot", "order=dca"], 0x25, 0x41, 0x23, 0x10),
        (["-fdb", blank("b360.img", 368640), "-boot", "c,menu=on"], 0x02, 0x01, 0x02, 0x00),
        (["-fda", blank("a144.img", 1474560), "-boot", "once=a"], 0x40, 0x01, 0x01, 0x00),
    ]
    for args, *want in cases:
        p = subprocess.run([opts.vireo, "-display", "none", "-accel", opts.accel, "-serial", "stdio",
                            "-device", "isa-debug-exit", "-bios", opts.guest] + args,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        out = p.stdout.decode("latin-1")
        lines = re.findall(r"CMOS 10=(..) 14=(..) 3d=(..) 38=(..)", out)
        if p.returncode != 33 or len(lines) != 2:
            raise TestFailure("%s: exit %d, output %r %r" % (args, p.returncode, out, p.stderr))
        got = [int(x, 16) for x in lines[0]]
        after_reset = [int(x, 16) for x in lines[1]]
        # After the reset only a once= order changes, back to the default "cad".
        want_after = list(want[:2]) + ([0x12, 0x30] if "once=a" in args else list(want[2:]))
        if after_reset != want_after:
            raise TestFailure("%s: after the reset CMOS 10/14/3d/38 = %s, expected %s"
                              % (" ".join(args), " ".join("%02x" % x for x in after_reset),
                                 " ".join("%02x" % x for x in want_after)))
        if got != want:
            raise TestFailure("%s: CMOS 10/14/3d/38 = %s, expected %s"
                              % (" ".join(args), " ".join("%02x" % x for x in got),
                                 " ".join("%02x" % x for x in want)))
        print("ok: %-50s CMOS %s, after reset %s" % (" ".join(os.path.basename(a) for a in args) or "(no floppy)",
                                                      " ".join("%02x" % x for x in got),
                                                      " ".join("%02x" % x for x in after_reset)))


SCENARIOS = {
    "freedos-prompt": scenario_freedos_prompt,
    "freedos-commands": scenario_freedos_commands,
    "boot-menu": scenario_boot_menu,
    "isapc": scenario_isapc,
    "media-change": scenario_media_change,
    "empty-drive": scenario_empty_drive,
    "mikeos": scenario_mikeos,
    "floppybird": scenario_floppybird,
    "fdc-dma": scenario_fdc_dma,
    "image-errors": None,
    "cmos": None,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--image", help="floppy image for drive A: (used read-only through a copy)")
    ap.add_argument("--guest", help="-bios guest image")
    ap.add_argument("--step-timeout", type=float, default=60)
    ap.add_argument("--spt", type=int, default=18, help="fdc-dma: sectors per track of the image")
    ap.add_argument("--as-format", help="boot the image converted by qemu-img to this format "
                    "(vmdk, vdi, vpc, vhdx: an imported disk, opened read-only under -snapshot)")
    ap.add_argument("args", nargs="*", help="more vireo-run arguments")
    opts = ap.parse_args()
    why = vmtest.kvm_skip_reason(opts.accel)
    if why:
        print("SKIP:", why)
        return vmtest.SKIP
    if opts.image and not os.path.exists(opts.image):
        print("SKIP: %s is absent (the shared guest images live in ../shared/guests)" % opts.image)
        return vmtest.SKIP
    with vmtest.temp_dir() as tmp:
        if opts.scenario in ("image-errors", "cmos"):
            try:
                (image_errors if opts.scenario == "image-errors" else cmos_bytes)(opts, tmp)
            except TestFailure as e:
                print("FAIL:", e)
                return 1
            print("PASS")
            return 0
        args = ["-m", "16"] + list(opts.args)
        if opts.scenario == "fdc-dma":
            opts.image_copy = os.path.join(tmp, "pattern.img")
            pattern_image(opts.image_copy, opts.spt)
            args = ["-S", "-m", "8", "-bios", opts.guest, "-fda", opts.image_copy] + list(opts.args)
        elif opts.scenario == "media-change":
            # A: boots from a copy; B: and the disk changed in later are copies too.
            base = os.path.dirname(opts.image)
            paths = []
            for name in (os.path.basename(opts.image), "freedos.boot.disk.720K.img", "freedos722-tools.img"):
                paths.append(private_copy(os.path.join(base, name), tmp))
            opts.disk_b, opts.disk_tools = paths[1], paths[2]
            args += ["-fda", paths[0], "-fdb", paths[1]]
        elif opts.scenario == "isapc":
            try:
                isapc_refusals(opts)
            except TestFailure as e:
                print("FAIL:", e)
                return 1
            disk = os.path.join(tmp, "disk.img")
            with open(disk, "wb") as f:
                f.truncate(8 << 20)
            args += ["-M", "isapc", "-boot", "menu=on", "-fda", private_copy(opts.image, tmp),
                     "-drive", "file=%s,format=raw,if=ide,index=0" % disk,
                     "-drive", "if=ide,index=2,media=cdrom"]
        elif opts.scenario == "empty-drive":
            opts.image_copy = private_copy(opts.image, tmp)
            args += ["-fda", ""]
        elif opts.image and opts.as_format:
            if not shutil.which("qemu-img"):
                print("SKIP: qemu-img not found (install the Debian package qemu-utils)")
                return vmtest.SKIP
            converted = os.path.join(tmp, "floppy." + opts.as_format)
            subprocess.run(["qemu-img", "convert", "-O", opts.as_format, opts.image, converted],
                           check=True)
            args += ["-snapshot", "-fda", converted]
        elif opts.image:
            args += ["-fda", private_copy(opts.image, tmp)]
        return vmtest.run_scenario(SCENARIOS[opts.scenario], opts, args, tmp)


if __name__ == "__main__":
    sys.exit(main())
