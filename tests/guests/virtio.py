#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Virtio devices checked by Debian's i386 Linux and its own drivers (virtio_pci,
virtio_blk, virtio_rng, virtio_net; the kit's initrd-virtio.img, tests/guests/linux/
init-virtio.sh), all in one boot:
  - virtio-blk-pci on a qcow2 -drive if=none: the disk's size and serial (GET_ID) are
    what the device says; the host's pattern in its first 8 MiB reads back with the right
    SHA-256; 8 MiB the guest writes (with fsync) reads back from the device unchanged
    and is in the image afterwards at the right place; a discarded MiB reads as zeros;
  - blk and net on the modern virtio-pci interface, rng with disable-modern=on on the
    legacy one;
  - virtio-rng-pci: /dev/hwrng is the virtio one and gives 1000 bytes when asked for
    1000, two reads differ;
  - savevm while the guest runs rounds of write, flush, read-back and entropy reads,
    then loadvm after more rounds: the guest goes on from the saved point and every
    round verifies;
  - virtio-net-pci on -netdev user: the MAC is mac=, DHCP gives 10.0.2.15, a file
    fetched from the host over HTTP has the right SHA-256, and QMP set_link off and on
    make the guest's carrier 0 and 1;
  - the image passes qemu-img check (or vireo-img check), no oops in the guest log.
With --mode gpu, one boot checks the virtio GPU (virtio-gpu-pci, or with --gpu virtio-vga
QEMU's -vga virtio) and virtio-serial-pci instead:
  - virtio-vga: before the guest loads virtio_gpu (it waits for the host's answer on
    the port below), the screen is the VGA's: an 80x25 text mode (x-screen-text) and a
    720x400 screendump in the text's colours;
  - virtio-serial-pci with a virtserialport named com.redhat.spice.0 and a virtconsole,
    each on a unix socket chardev: the guest finds the port by name under
    /sys/class/virtio-ports, a line it writes to the port reaches the host's socket and
    the host's answer arrives in the guest; a line the guest writes to hvc0 reaches the
    console's socket;
  - virtio-gpu-pci (in an SDL window under Xvfb when Xvfb and xdotool are installed):
    the DRM driver's fbdev console comes up at the display info's
    1280x800; the screendump has that size, a pattern the guest wrote to /dev/fb0 in
    its bottom 64 rows pixel for pixel, and the console's text above; QMP
    x-display-resize to 1024x768 and back to 1280x800: the connector's preferred mode
    (/sys/class/drm/card0-Virtual-1/modes) follows and the screendump takes each size;
  - savevm with the resources live, a system reset (the picture goes; with virtio-vga
    SeaBIOS's text screen is back), loadvm: the same picture comes back pixel for pixel.
Usage: virtio.py --vireo VIREO_RUN --vireo-img VIREO_IMG --linux-kit DIR [--mode gpu
       [--gpu virtio-gpu-pci|virtio-vga]]"""
import argparse
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip, hmp, wait_serial_after as wait_after  # noqa: E402
from vmtest import TestFailure  # noqa: E402
from net import serve_blob, set_link  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
DISK_MIB = 128
LOOPS = 6
SERIAL = "VIREO-VD0"
MAC = "52:54:00:76:69:6f"


def check_image(opts, path):
    qemu_img = shutil.which("qemu-img")
    tool = [qemu_img] if qemu_img else [opts.vireo_img]
    r = subprocess.run(tool + ["check", path], capture_output=True, text=True)
    if r.returncode != 0:
        raise TestFailure("%s check: %s" % (os.path.basename(tool[0]), r.stdout + r.stderr))
    print("%s check: no errors" % os.path.basename(tool[0]), flush=True)


def image_bytes(opts, path, tmp, offset, length):
    raw = os.path.join(tmp, "disk.raw")
    subprocess.run([opts.vireo_img, "convert", "-O", "raw", path, raw], check=True)
    with open(raw, "rb") as f:
        f.seek(offset)
        return f.read(length)


def run(opts, tmp):
    kit = opts.linux_kit
    for script, what in (("mkkit.sh", "the Linux kit"), ("mkvirtio.sh", "the virtio initramfs")):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit])
        if r.returncode == vmtest.SKIP:
            raise Skip("%s could not be built" % what)
        if r.returncode:
            raise TestFailure("%s failed" % script)

    pattern = random.Random(19).randbytes(8 * MIB)
    raw = os.path.join(tmp, "pattern.raw")
    with open(raw, "wb") as f:
        f.write(pattern)
        f.truncate(DISK_MIB * MIB)
    disk = os.path.join(tmp, "vd0.qcow2")
    subprocess.run([opts.vireo_img, "convert", "-O", "qcow2", raw, disk], check=True)
    os.unlink(raw)

    blob = random.Random(23).randbytes(4 * MIB)
    srv, http_port = serve_blob(blob)
    args = ["-m", "256", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-virtio.img"),
            "-append", "console=ttyS0 vireo.loops=%d vireo.http=%d" % (LOOPS, http_port),
            "-drive", "if=none,id=vd0,format=qcow2,file=" + disk,
            "-device", "virtio-blk-pci,drive=vd0,serial=" + SERIAL,
            "-device", "virtio-rng-pci,id=rng0,disable-modern=on",
            "-netdev", "user,id=n0",
            "-device", "virtio-net-pci,netdev=n0,mac=" + MAC]
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    t = opts.timeout
    try:
        m = vm.wait_serial(r"VIREO-VIRTIO-DISK (\S*) ?(\S*)", t)
        # blk and net on the modern interface, rng (disable-modern=on) on the legacy one.
        devs = dict(re.findall(r"VIREO-VIRTIO-DEV 0x0*(\d+) (\d)", vm.serial()))
        if devs != {"2": "1", "1": "1", "4": "0"}:
            raise TestFailure("virtio devices (type: modern) seen by Linux: %s" % devs)
        print("Linux drives virtio-blk and virtio-net through the modern interface, "
              "virtio-rng (disable-modern=on) through the legacy one", flush=True)
        if m.group(1) != str(DISK_MIB * MIB // 512) or m.group(2) != SERIAL:
            raise TestFailure("the guest sees the disk as %r sectors, serial %r; expected %d, %s"
                              % (m.group(1), m.group(2), DISK_MIB * MIB // 512, SERIAL))
        print("virtio-blk: %s sectors, serial %s" % (m.group(1), m.group(2)), flush=True)

        m = vm.wait_serial(r"VIREO-VIRTIO-RNG (\S*)", t)
        if not m.group(1).startswith("virtio_rng"):
            raise TestFailure("the guest's current hwrng is %r, not virtio_rng" % m.group(1))
        m = vm.wait_serial(r"VIREO-VIRTIO-HWRNG (\d+) (\d+) (\S+) (\S+)", t, whole_lines=True)
        if m.group(1) != "1000" or m.group(2) != "1000" or m.group(3) == m.group(4):
            raise TestFailure("/dev/hwrng: %s" % m.group(0))
        print("virtio-rng: two reads of 1000 bytes, different", flush=True)

        m = vm.wait_serial(r"VIREO-VIRTIO-READ (\S+)", t, whole_lines=True)
        if m.group(1) != hashlib.sha256(pattern).hexdigest():
            raise TestFailure("the host's pattern read back with SHA-256 %s" % m.group(1))
        print("virtio-blk: the host's 8 MiB pattern reads back with the right hash", flush=True)
        m = vm.wait_serial(r"VIREO-VIRTIO-WRITE (\S+) (\S+)", t, whole_lines=True)
        written = m.group(1)
        if m.group(1) != m.group(2):
            raise TestFailure("8 MiB written with hash %s read back as %s" % (m.group(1), m.group(2)))
        print("virtio-blk: 8 MiB written and read back unchanged", flush=True)
        m = vm.wait_serial(r"VIREO-VIRTIO-DISCARD (\S+)", t, whole_lines=True)
        if m.group(1) != hashlib.sha256(bytes(MIB)).hexdigest():
            raise TestFailure("a discarded MiB does not read as zeros (%s)" % m.group(1))
        print("virtio-blk: a discarded MiB reads as zeros", flush=True)

        # savevm during the rounds (requests in flight are drained), more rounds, then
        # loadvm: the guest resumes from the saved point.
        vm.wait_serial(r"VIREO-VIRTIO-LOOP 0 ", t)
        hmp(vm, "savevm mid-io")
        mark = len(vm.serial())
        print("savevm mid-io during the rounds", flush=True)
        wait_after(vm, r"VIREO-VIRTIO-LOOP 3 ", mark, t)
        hmp(vm, "loadvm mid-io")
        mark = len(vm.serial())
        print("loadvm mid-io", flush=True)
        wait_after(vm, r"VIREO-VIRTIO-LOOP-DONE (\d+)/(\d+)", mark, t)
        tail = vm.serial()[mark:]
        done = re.search(r"VIREO-VIRTIO-LOOP-DONE (\d+)/(\d+)", tail)
        if not done or done.group(1) != done.group(2) or int(done.group(2)) != LOOPS:
            raise TestFailure("rounds after loadvm: %s" % (done.group(0) if done else "none"))
        if "VIREO-VIRTIO-LOOP-START" in tail:
            raise TestFailure("the guest started over after loadvm instead of resuming")
        print("after loadvm: all %d rounds verified" % LOOPS, flush=True)

        m = vm.wait_serial(r"VIREO-VIRTIO-MAC (\S*)", t)
        if m.group(1) != MAC:
            raise TestFailure("virtio-net: the guest's MAC is %r, mac= said %s" % (m.group(1), MAC))
        m = vm.wait_serial(r"VIREO-VIRTIO-(IP \S+|FAILED dhcp)", t)
        if m.group(1) != "IP 10.0.2.15":
            raise TestFailure("virtio-net DHCP: %s" % m.group(0))
        m = vm.wait_serial(r"VIREO-VIRTIO-(FETCH (\S+) (\d+)|FAILED wget)", t)
        if m.group(2) != hashlib.sha256(blob).hexdigest() or int(m.group(3)) != len(blob):
            raise TestFailure("virtio-net HTTP fetch: %s" % m.group(0))
        print("virtio-net: MAC, DHCP and a 4 MiB HTTP fetch with the right hash", flush=True)
        set_link(vm, "n0", False)
        m = vm.wait_serial(r"VIREO-VIRTIO-CARRIER (\S*)", t)
        if m.group(1) != "0":
            raise TestFailure("after set_link off the guest's carrier is %r" % m.group(1))
        set_link(vm, "n0", True)
        m = vm.wait_serial(r"VIREO-VIRTIO-CARRIER \S*[\s\S]*?VIREO-VIRTIO-CARRIER (\S*)", t)
        if m.group(1) != "1":
            raise TestFailure("after set_link on the guest's carrier is %r" % m.group(1))
        print("virtio-net: set_link off and on reach the guest's carrier", flush=True)

        vm.wait_serial(r"VIREO-VIRTIO-DONE", t)
        # MSI-X: one vector per queue, the rng's on the legacy interface (whose device
        # configuration moves behind the vector fields).
        msi = {name: int(n) for n, name in
               re.findall(r"VIREO-VIRTIO-IRQ ?\d+: (\d+) PCI-MSI \S+ (virtio\d+-\S+)", vm.serial())}
        for want, what in ((r"-req\.0$", "virtio-blk"), (r"-input$", "virtio-rng"), (r"-input\.0$", "virtio-net")):
            if not any(re.search(want, name) and n > 0 for name, n in msi.items()):
                raise TestFailure("%s took no MSI-X interrupt on its queue: %s" % (what, msi))
        print("MSI-X: virtio-blk, virtio-rng (legacy) and virtio-net interrupt through their "
              "queues' vectors", flush=True)
        status = vm.wait_exit(t)
        serial = vm.serial()
        bad = re.search(r"Oops|BUG:|Kernel panic|Call Trace|VIREO-VIRTIO-FAILED.*|VIREO-VIRTIO-LOOP \d+ bad.*", serial)
        if bad:
            raise TestFailure("the guest reported: %s" % bad.group(0))
        if status != 0:
            raise TestFailure("vireo-run exited with %d" % status)
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()
        srv.shutdown()

    check_image(opts, disk)
    got = image_bytes(opts, disk, tmp, 16 * MIB, 8 * MIB)
    if hashlib.sha256(got).hexdigest() != written:
        raise TestFailure("the image does not hold at 16 MiB what the guest wrote there")
    print("the image holds the guest's 8 MiB at 16 MiB", flush=True)


def connect_unix(path, timeout=20):
    import socket
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise TestFailure("cannot connect to %s" % path)
            time.sleep(0.05)


def read_line(sock, timeout):
    sock.settimeout(timeout)
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = sock.recv(4096)
        except OSError as e:
            raise TestFailure("reading the port's socket: %s (got %r)" % (e, buf))
        if not chunk:
            raise TestFailure("the port's socket closed (got %r)" % buf)
        buf += chunk
    return buf.split(b"\n")[0].decode(errors="replace").rstrip("\r")


def wait_screen(vm, size, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = vm.screen_size()
        if got == size:
            return
        if time.monotonic() > deadline:
            raise TestFailure("the screendump is %dx%d, not %dx%d" % (got + size))
        time.sleep(0.5)


def check_picture(img, w, h):
    """The guest's console on tty1 (8x16 cells, black background, grey text): lines
    0-19 "Vireo virtio-gpu: line N of text ...", then line 20's colour blocks."""
    def cell(col, row):
        return [img.pixel(col * 8 + x, row * 16 + y) for y in range(16) for x in range(8)]
    # Colour blocks: the channels arrive in the right order.
    for i, want in enumerate((0xaa0000, 0x0000aa, 0x00aa00)):
        for col in range(10 * i, 10 * i + 10):
            got = set(cell(col, 20))
            if got != {want}:
                raise TestFailure("line 20 column %d shows %s, the guest painted %06x"
                                  % (col, sorted("%06x" % c for c in got), want))
    # Text: grey on black, the same glyphs where the text is the same ("Vireo virtio-gpu:
    # line " on every line, the "0" of "line 0" and of "line 10"), different glyphs
    # where it differs, and nothing right of the text.
    prefix = [cell(c, 0) for c in range(23)]
    if set(sum(prefix, [])) != {0x000000, 0xaaaaaa}:
        raise TestFailure("the console's text is not grey on black: %s"
                          % sorted("%06x" % c for c in set(sum(prefix, []))))
    for row in range(1, 20):
        if [cell(c, row) for c in range(23)] != prefix:
            raise TestFailure("line %d of the console does not start with line 0's text" % row)
    if cell(23, 0) != cell(24, 10) or cell(23, 0) == cell(23, 1) or cell(0, 0) == cell(1, 0):
        raise TestFailure("the console's digits are not the glyphs the text asks for")
    if set(cell(100, 5)) != {0}:
        raise TestFailure("pixels right of the console's text are not black")
    print("screendump %dx%d: the console's 20 lines of text and line 20's colour blocks" % (w, h),
          flush=True)


def wait_text(vm, ok, timeout, what):
    """Polls x-screen-text until ok(lines) holds (the screen is a text mode)."""
    deadline = time.monotonic() + timeout
    text = None
    while time.monotonic() < deadline:
        try:
            text = vm.command("x-screen-text")
        except TestFailure:  # not a text mode (yet)
            text = None
        if text and ok(text["lines"]):
            return text
        time.sleep(0.3)
    raise TestFailure("%s: the screen reads %r" % (what, text and text["lines"][:4]))


def check_vga_text(vm):
    """virtio-vga before the driver: the VGA's text mode, in the screendump too."""
    text = wait_text(vm, lambda lines: any(line.strip() for line in lines), 30, "the VGA's text screen")
    if (text["cols"], text["rows"]) != (80, 25):
        raise TestFailure("virtio-vga before the driver: text mode %dx%d" % (text["cols"], text["rows"]))
    img = vm.screendump("vga")
    if (img.width, img.height) != (720, 400):
        raise TestFailure("virtio-vga before the driver: screendump %dx%d, not the text mode's 720x400"
                          % (img.width, img.height))
    # Grey text on black, whoever set the palette (SeaBIOS's DAC or Linux's vgacon).
    colours = {img.pixel(x, y) for x in range(720) for y in range(400)}
    if 0 not in colours or len(colours) < 2 or any(c >> 16 != (c >> 8) & 0xff or c >> 16 != c & 0xff
                                                   for c in colours):
        raise TestFailure("virtio-vga's text screen shows colours %s" % sorted("%06x" % c for c in colours))
    first = next(line for line in text["lines"] if line.strip())
    print("virtio-vga before the driver: VGA text 80x25 (720x400 screendump), first row %r"
          % first.rstrip(), flush=True)


def run_gpu(opts, tmp):
    kit = opts.linux_kit
    for script, what in (("mkkit.sh", "the Linux kit"), ("mkvirtio.sh", "the virtio initramfs")):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), kit])
        if r.returncode == vmtest.SKIP:
            raise Skip("%s could not be built" % what)
        if r.returncode:
            raise TestFailure("%s failed" % script)
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([opts.vireo_img, "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    agent = os.path.join(tmp, "vdagent.sock")
    console = os.path.join(tmp, "hvc0.sock")
    token = "%08x" % random.Random(19).getrandbits(32)
    under_x = bool(os.environ.get("VIREO_UNDER_XVFB"))
    vga = opts.gpu == "virtio-vga"
    append = "console=ttyS0 vireo.mode=gpu vireo.token=%s vireo.modes=1024x768,1280x800" % token
    args = ["-m", "256"] + (["-vga", "virtio"] if vga else ["-vga", "none", "-device", "virtio-gpu-pci"]) + [
            "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-virtio.img"),
            "-append", append + (" vireo.gpu-late=1" if vga else ""),
            "-drive", "if=none,id=st,format=qcow2,file=" + disk,
            "-device", "virtio-blk-pci,drive=st",
            "-chardev", "socket,id=agent,path=%s,server=on,wait=off" % agent,
            "-chardev", "socket,id=con,path=%s,server=on,wait=off" % console,
            "-device", "virtio-serial-pci,id=vser0",
            "-device", "virtconsole,chardev=con",
            "-device", "virtserialport,bus=vser0.0,chardev=agent,name=com.redhat.spice.0"]
    if under_x:
        args += ["-display", "sdl", "-name", "gpu-test"]
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    t = opts.timeout
    try:
        asock = connect_unix(agent)
        csock = connect_unix(console)
        line = read_line(asock, t)
        if line != "vireo-guest-to-host " + token:
            raise TestFailure("the com.redhat.spice.0 socket got %r" % line)
        if vga:
            check_vga_text(vm)
        asock.sendall(line[::-1].encode() + b"\n")
        m = vm.wait_serial(r"VIREO-SERIAL-GOT (.*)", t, whole_lines=True)
        if m.group(1).strip() != line[::-1]:
            raise TestFailure("the guest read %r from the port, the host sent %r" % (m.group(1), line[::-1]))
        ports = dict((b, a) for a, b in re.findall(r"VIREO-SERIAL-PORT (\S+) (\S*)", vm.serial()))
        print("virtio-serial: %s (com.redhat.spice.0) carries a line to the host and the answer back"
              % ports.get("com.redhat.spice.0"), flush=True)
        line = read_line(csock, t)
        if line != "vireo-on-hvc0 " + token:
            raise TestFailure("the virtconsole's socket got %r" % line)
        vm.wait_serial(r"VIREO-SERIAL-HVC0 \d+:\d+", t)
        print("virtconsole: the guest's hvc0 writes reach the host's socket", flush=True)

        m = vm.wait_serial(r"VIREO-GPU-READY (\d+) (\d+)", t, whole_lines=True)
        fbline = re.search(r"VIREO-GPU-FB.*", vm.serial()).group(0)
        if (m.group(1), m.group(2)) != ("1280", "800") or "virtio" not in fbline:
            raise TestFailure("the guest's framebuffer: %s" % fbline)
        wait_screen(vm, (1280, 800), 30)
        check_picture(vm.screendump("start"), 1280, 800)
        for w, h in ((1024, 768), (1280, 800)):
            mark = len(vm.serial())
            if under_x and w == 1024:
                # The user drags the SDL window to 1024x768.
                from display import sdl_window, x_tool
                x_tool("xdotool", "windowsize", sdl_window("gpu-test"), str(w), str(h))
                how = "the SDL window resized to"
            else:
                how = "x-display-resize"
                out = vm.command("x-display-resize", width=w, height=h)
                if not out.get("follows"):
                    raise TestFailure("x-display-resize: the display does not follow (%r)" % out)
            got = wait_after(vm, r"VIREO-GPU-MODE (\S+)", mark, t).group(1)
            if got != "%dx%d" % (w, h):
                raise TestFailure("after %s %dx%d the connector prefers %s" % (how, w, h, got))
            wait_screen(vm, (w, h), 60)
            print("%s %dx%d: the guest's preferred mode and the screendump follow" % (how, w, h),
                  flush=True)
        vm.wait_serial(r"VIREO-GPU-DONE", t)
        before = vm.screendump("before")
        check_picture(before, 1280, 800)
        hmp(vm, "savevm gpu")
        vm.command("system_reset")
        if vga:
            # The VGA shows again, and SeaBIOS writes its banner on it.
            wait_text(vm, lambda lines: lines[0].startswith("SeaBIOS (version "), 60,
                      "SeaBIOS's banner after system_reset")
            print("system_reset: the VGA's screen is back with SeaBIOS's banner", flush=True)
        else:
            time.sleep(1)
        hmp(vm, "loadvm gpu")
        wait_screen(vm, (1280, 800), 30)
        after = vm.screendump("after")
        if after.rgb != before.rgb:
            raise TestFailure("after savevm, reset and loadvm the picture differs")
        print("savevm, system_reset, loadvm: the picture comes back pixel for pixel", flush=True)
        bad = re.search(r"Oops|BUG:|Kernel panic|Call Trace|VIREO-VIRTIO-FAILED.*", vm.serial())
        if bad:
            raise TestFailure("the guest reported: %s" % bad.group(0))
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--linux-kit", required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--mode", choices=("blk", "gpu"), default="blk")
    ap.add_argument("--gpu", choices=("virtio-gpu-pci", "virtio-vga"), default="virtio-gpu-pci")
    opts = ap.parse_args()
    if opts.mode == "gpu" and not os.environ.get("VIREO_UNDER_XVFB"):
        # With a virtual X server the first resize is the SDL window's; without one both
        # go through QMP (the same engine call).
        if all(shutil.which(t) for t in ("Xvfb", "xdotool")):
            from display import run_under_xvfb
            return run_under_xvfb()
        print("note: no Xvfb/xdotool, the SDL window's resize is not tested", flush=True)
    return vmtest.run_test(run_gpu if opts.mode == "gpu" else run, opts)


if __name__ == "__main__":
    sys.exit(main())
