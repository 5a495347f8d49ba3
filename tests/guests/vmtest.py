# SPDX-License-Identifier: GPL-2.0-or-later
"""Drives vireo-run through its control socket for display and input tests: starts the
VM, talks QMP, waits for the guest's COM1 output, takes screendumps and decodes them.
Standard library only."""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import zlib

SKIP = 77


class TestFailure(Exception):
    pass


class Skip(Exception):
    """The test cannot run on this machine (a package, the network): exit SKIP with why."""


def free_port():
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hmp_text(vm, line):
    """Runs an HMP command through QMP; returns its text (an error is text 'Error: ...')."""
    return vm.command("human-monitor-command", **{"command-line": line})


def hmp(vm, line):
    """hmp_text, with an HMP error as the test's failure."""
    out = hmp_text(vm, line)
    if out.startswith("Error"):
        raise TestFailure("%s: %s" % (line, out.strip()))
    return out


def wait_serial_after(vm, pattern, start, timeout):
    """Vm.wait_serial for a match in COM1's log from offset start on: the match."""
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(pattern, vm.serial()[start:], re.M)
        if m:
            return m
        if vm.proc.poll() is not None:
            raise TestFailure("vireo-run exited (%d) while waiting for /%s/" % (vm.proc.returncode, pattern))
        if time.monotonic() > deadline:
            raise TestFailure("timed out waiting for /%s/ on COM1 after offset %d" % (pattern, start))
        time.sleep(0.05)


def kvm_skip_reason(accel):
    if not accel.startswith("kvm"):
        return None
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm on this host"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user"
    return None


def accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm"]
    if accel == "kvm-userirq":
        return ["-accel", "kvm,kernel-irqchip=off"]
    return ["-accel", accel]


class Image:
    """An RGB picture: width, height and a bytes object of 3 bytes per pixel."""

    def __init__(self, width, height, rgb):
        self.width = width
        self.height = height
        self.rgb = rgb

    def pixel(self, x, y):
        i = 3 * (y * self.width + x)
        return self.rgb[i] << 16 | self.rgb[i + 1] << 8 | self.rgb[i + 2]


def decode_png(data):
    """Decodes 8-bit RGB/RGBA non-interlaced PNG (what screendump writes)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise TestFailure("not a PNG file")
    pos = 8
    idat = b""
    width = height = None
    channels = 3
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise TestFailure("unsupported PNG format")
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray(width * height * 3)
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xff
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xff
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        prev = line
        if channels == 3:
            out[y * width * 3:(y + 1) * width * 3] = line
        else:
            for x in range(width):
                out[3 * (y * width + x):3 * (y * width + x) + 3] = line[4 * x:4 * x + 3]
    return Image(width, height, bytes(out))


def decode_xwd(data):
    """Decodes an xwd dump of a TrueColor window (ZPixmap, 24/32 bits per pixel)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version, fmt, depth, width, height = fields[:6]
    byte_order, bpp, bytes_per_line = fields[7], fields[11], fields[12]
    masks = fields[14:17]
    ncolors = fields[19]
    if version != 7 or fmt != 2 or bpp not in (24, 32):
        raise TestFailure("xwd: unsupported dump (version %d, format %d, %d bpp)" % (version, fmt, bpp))
    pos = header_size + 12 * ncolors
    out = bytearray(width * height * 3)
    step = bpp // 8
    shifts = [(m & -m).bit_length() - 1 for m in masks]
    for y in range(height):
        row = data[pos + y * bytes_per_line:pos + y * bytes_per_line + width * step]
        for x in range(width):
            v = int.from_bytes(row[x * step:x * step + step], "little" if byte_order == 0 else "big")
            for c in range(3):
                out[3 * (y * width + x) + c] = (v & masks[c]) >> shifts[c]
    return Image(width, height, bytes(out))


class Vm:
    """One vireo-run process with a QMP connection."""

    def __init__(self, vireo, accel, args, tmp, env=None, popen_args=None):
        self.tmp = tmp
        self.serial_path = os.path.join(tmp, "serial.txt")
        self.debugcon_path = os.path.join(tmp, "debugcon.txt")
        self.qmp_path = os.path.join(tmp, "qmp.sock")
        cmd = [vireo] + accel_args(accel) + [
            "-serial", "file:" + self.serial_path,
            "-debugcon", "file:" + self.debugcon_path,
            "-device", "isa-debug-exit",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path] + args
        if not any(a == "-display" for a in args):
            cmd += ["-display", "none"]
        print("running:", " ".join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, **(popen_args or {}))
        self.sock = None
        self.buf = b""
        self.events = []
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise TestFailure("vireo-run exited with %d before its control socket opened:\n%s"
                                  % (self.proc.returncode, self.output()))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.qmp_path)
                self.sock = s
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise TestFailure("the control socket did not appear")
                time.sleep(0.05)
        greeting = self.read_message(10)
        if "QMP" not in greeting:
            raise TestFailure("no QMP greeting: %r" % greeting)
        self.command("qmp_capabilities")

    def output(self):
        try:
            out, _ = self.proc.communicate(timeout=5)
            return out.decode("latin-1")
        except subprocess.TimeoutExpired:
            return ""

    def read_message(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no reply from the control socket")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise TestFailure("the control socket closed (vireo-run status %s):\n%s"
                                  % (self.proc.poll(), self.output()))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def raw(self, data):
        self.sock.sendall(data)

    def reply(self, timeout=60):
        while True:
            msg = self.read_message(timeout)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def command(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        msg = self.reply()
        if "error" in msg:
            raise TestFailure("%s: %s" % (name, msg["error"]["desc"]))
        return msg["return"]

    def serial(self):
        try:
            with open(self.serial_path, "rb") as f:
                return f.read().decode("latin-1")
        except FileNotFoundError:
            return ""

    def wait_serial(self, pattern, timeout=120, whole_lines=False):
        """The first match of pattern in COM1's log. With whole_lines, only lines the
        guest has finished are searched, so a value captured at a line's end is whole
        (the serial log is read while the guest is still writing it)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.serial()
            if whole_lines:
                text = text[:text.rfind("\n") + 1]
            m = re.search(pattern, text, re.M)
            if m:
                return m
            if self.proc.poll() is not None:
                raise TestFailure("vireo-run exited (%d) while waiting for /%s/;\nserial:\n%s\n%s"
                                  % (self.proc.returncode, pattern, self.serial()[-2000:], self.output()))
            if time.monotonic() > deadline:
                raise TestFailure("timed out waiting for /%s/ on COM1; serial so far:\n%s"
                                  % (pattern, self.serial()[-2000:]))
            time.sleep(0.05)

    def screendump(self, name="shot"):
        path = os.path.join(self.tmp, name + ".png")
        self.command("screendump", filename=path, format="png")
        with open(path, "rb") as f:
            return decode_png(f.read())

    def screen_size(self):
        """Width and height of a screendump, from a PPM header (cheap for huge screens)."""
        path = os.path.join(self.tmp, "size.ppm")
        self.command("screendump", filename=path, format="ppm")
        with open(path, "rb") as f:
            head = f.read(64).split()
        os.unlink(path)
        if head[0] != b"P6":
            raise TestFailure("screendump wrote no PPM")
        return int(head[1]), int(head[2])

    def send_key(self, *qcodes, hold_time=20):
        self.command("send-key", keys=[{"type": "qcode", "data": k} for k in qcodes],
                     **{"hold-time": hold_time})

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait_exit(self, timeout=60):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("vireo-run did not exit")
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.sock:
            self.sock.close()
        if self.proc.stdout:
            self.proc.stdout.close()


def check_region(img, x0, y0, w, h, expect, what):
    """Every pixel of the rectangle must be expect(x, y) (an 0xRRGGBB value)."""
    bad = []
    for y in range(y0, y0 + h):
        for x in range(x0, x0 + w):
            want = expect(x, y)
            got = img.pixel(x, y)
            if got != want:
                bad.append((x, y, got, want))
                if len(bad) >= 5:
                    break
        if len(bad) >= 5:
            break
    if bad:
        raise TestFailure("%s: %s" % (what, ", ".join("(%d,%d) is %06x, expected %06x" % b for b in bad)))


# What a Linux guest's kernel prints when it is in trouble.
KERNEL_TROUBLE = r"Oops|BUG:|Kernel panic|Call Trace"


def check_guest_clean(vm, markers=None, status=None):
    """TestFailure when COM1 shows kernel trouble or a match of markers (the test's own
    failure lines, a regex), or when status (vireo-run's exit status, if given) is not 0."""
    pattern = KERNEL_TROUBLE + ("|" + markers if markers else "")
    bad = re.search(pattern, vm.serial())
    if bad:
        raise TestFailure("the guest reported: %s" % bad.group(0))
    if status is not None and status != 0:
        raise TestFailure("vireo-run exited with %d" % status)


def temp_dir():
    return tempfile.TemporaryDirectory(prefix="vireo-display-")


def run_test(fn, opts):
    """A test script's main: fn(opts, tmp) in a fresh temporary directory, after the KVM
    check when opts has an accel. Returns the exit status and prints the verdict: 0 and
    PASS, 1 and "FAIL: why" (TestFailure), SKIP and "SKIP: why" (Skip)."""
    why = kvm_skip_reason(opts.accel) if getattr(opts, "accel", None) else None
    if why:
        print("SKIP:", why)
        return SKIP
    with temp_dir() as tmp:
        try:
            fn(opts, tmp)
        except Skip as e:
            print("SKIP:", e)
            return SKIP
        except TestFailure as e:
            print("FAIL:", e)
            return 1
    print("PASS")
    return 0


def run_scenario(scenario, opts, args, tmp):
    """Starts vireo-run with args in tmp, runs scenario(vm, opts) and closes the VM.
    Returns the exit status: 0 when it passed, 1 (with the serial tail) when not."""
    vm = None
    try:
        vm = Vm(opts.vireo, opts.accel, args, tmp)
        scenario(vm, opts)
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
