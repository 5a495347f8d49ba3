#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The SPICE server (-spice): a guest that echoes keys on a text screen without a cursor
(tests/guests/kbd-echo.asm) runs with -spice port=N,password-secret=ID and the password
in -object secret,id=ID,file=PATH. Checks that:
  - with no client connected the server does not refresh the screen (-d display's log
    says when the refresh starts and stops), and one client's connection starts it;
  - spicy-screenshot (Debian spice-client-gtk) gets the same pixels as QMP screendump
    with the secret's password;
  - a wrong password is refused and the VM runs on;
  - keys typed by a SPICE client (spice-client.py, spice-client-glib through GObject
    introspection) reach the guest (its COM1 echo) and the screen the client sees;
  - 20 clients that connect and go away mid-handshake, and 3 killed mid-session, leave
    the VM running and the server answering;
  - unix=on,addr=PATH serves the same screen over a socket;
  - a guest's PC-speaker tone (tests/guests/speaker-tone.asm, 1000.15 Hz) reaches a
    client's playback channel at its pitch, with -audiodev none (no local sound);
  - the AC'97 guest (tests/guests/sound-ac97.asm) records its microphone from a SPICE
    client's record channel (spice-client.py --record 700): the guest finds sound in
    it, and its played-back recording (-audiodev wav) is the client's 700 Hz tone at
    the level the codec's +6 dB record gain gives;
  - with --linux-kit: Debian's kernel on virtio-gpu (the kit's virtio initramfs with
    tests/guests/linux/drm-cursor.asm) sets a 64x64 hardware cursor through DRM; a
    client's cursor channel gets its size, hot spot and pixels while its display channel's
    picture has no cursor in it (it would show two), and spicy-screenshot (no cursor
    channel) equals the screendump with the cursor composed in it;
  - bad -spice and -object options are one error line each.
Exit codes: 0 pass, 1 fail, 77 skip."""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soundcheck  # noqa: E402
import vmtest  # noqa: E402
from vmtest import Skip, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "s3cret-pw"
# x, y, z as set 1 make codes; the guest prints KEY <scancode><ASCII> for each.
KEYS = [(0x2d, "KEY 2d78"), (0x15, "KEY 1579"), (0x2c, "KEY 2c7a")]


def gi_python():
    """A Python that has spice-client-glib's introspection data (the test's own, else
    Debian's /usr/bin/python3)."""
    probe = "import gi; gi.require_version('SpiceClientGLib', '2.0'); from gi.repository import SpiceClientGLib"
    for py in (sys.executable, "/usr/bin/python3"):
        if py and os.path.exists(py) and subprocess.run([py, "-c", probe], capture_output=True).returncode == 0:
            return py
    return None


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(maxsplit=4)
    if parts[0] != b"P6" or parts[3] != b"255":
        raise vmtest.TestFailure("%s is not a binary PPM" % path)
    w, h = int(parts[1]), int(parts[2])
    return vmtest.Image(w, h, parts[4][:w * h * 3])


def screenshot(uri_args, out, password=None):
    cmd = ["spicy-screenshot"] + uri_args + ["-o", out]
    if password is not None:
        cmd += ["-w", password]
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    return r.returncode == 0 and os.path.exists(out), r


def compare(vm, uri_args, tmp, what, password=PASSWORD):
    """The client's picture equals the screendump (a few tries: the server refreshes at
    30 Hz, so a picture may be one frame old)."""
    diff = None
    for attempt in range(5):
        ok, r = screenshot(uri_args, os.path.join(tmp, "spice.ppm"), password)
        if not ok:
            raise vmtest.TestFailure("%s: spicy-screenshot failed (%d): %s" % (what, r.returncode,
                                                                               r.stderr.decode()[-500:]))
        got = read_ppm(os.path.join(tmp, "spice.ppm"))
        want = vmtest.decode_png(open_dump(vm, tmp))
        if (got.width, got.height) == (want.width, want.height):
            diff = sum(1 for i in range(0, len(got.rgb), 3) if got.rgb[i:i + 3] != want.rgb[i:i + 3])
            if diff == 0:
                print("%s: the SPICE client's %dx%d picture equals the screendump" % (what, got.width, got.height))
                return got
        time.sleep(0.2)
    raise vmtest.TestFailure("%s: the SPICE picture (%dx%d) differs from the screendump (%dx%d) in %s pixels"
                             % (what, got.width, got.height, want.width, want.height, diff))


def open_dump(vm, tmp):
    path = os.path.join(tmp, "dump.png")
    vm.command("screendump", filename=path, format="png")
    with open(path, "rb") as f:
        return f.read()


def running(vm):
    st = vm.command("query-status")
    return st.get("status") == "running"


def check_options(vireo, kernel, tmp):
    missing = os.path.join(tmp, "no-such-secret")
    cases = [("port=0,disable-ticketing=on", "port=0", "-spice", []),
             ("port=5999", "password", "-spice", []),
             ("port=5999,password=a,disable-ticketing=on", "contradict", "-spice", []),
             ("port=5999,password-secret=pw,disable-ticketing=on", "contradict", "-spice", []),
             ("port=5999,password=a,password-secret=pw", "one of", "-spice", []),
             ("unix=on,disable-ticketing=on", "addr=PATH", "-spice", []),
             ("port=5999,tls-port=5998,disable-ticketing=on", "needs x509-dir", "-spice", []),
             ("port=5999,x509-dir=%s,disable-ticketing=on" % tmp, "needs tls-port", "-spice", []),
             ("tls-port=5999,x509-dir=%s,disable-ticketing=on" % missing, "cannot read ca-cert.pem", "-spice", []),
             ("port=5999,tls-port=5999,x509-dir=%s,disable-ticketing=on" % tmp, "must differ", "-spice", []),
             ("port=5999,password-secret=pw", "no -object secret,id=pw", "-spice", []),
             ("port=5999,password-secret=pw", "no-such-secret", "-object",
              ["-object", "secret,id=pw,file=" + missing]),
             ("port=5999,password-secret=pw", "id=ID", "-object", ["-object", "secret,data=x"]),
             ("port=5999,password-secret=pw", "base64", "-object", ["-object", "secret,id=pw,data=*,format=base64"]),
             ("port=5999,password-secret=pw", "only secret", "-object", ["-object", "memory-backend-ram,id=m"])]
    for spec, needle, option, extra in cases:
        r = subprocess.run([vireo, "-display", "none", "-kernel", kernel] + extra + ["-spice", spec],
                           capture_output=True, timeout=30)
        lines = [ln for ln in r.stderr.decode().splitlines() if ln.strip()]
        what = " ".join(extra + ["-spice", spec])
        if r.returncode == 0 or len(lines) != 1 or needle not in lines[0] or option not in lines[0]:
            raise vmtest.TestFailure("%s: expected one error line about %s, got %r" % (what, needle, lines))
        print("%s: %s" % (what, lines[0]))


def log_lines(path):
    try:
        with open(path, "rb") as f:
            return [ln for ln in f.read().decode("latin-1").splitlines() if "spice:" in ln]
    except FileNotFoundError:
        return []


def wait_log(path, count, timeout=20):
    """The -d display log's SPICE refresh lines once there are count of them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(path)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


AC97_LINES = ["ac97: codec STAC9700 ready",
              "ac97: record select (line in: silence) and mic boost (+20 dB: clipped) applied",
              "ac97: PCM in recorded sound; playing it back"]
REC_HZ, REC_AMP = 700, 8000


# drm-cursor.asm's cursor: rows 0-31 red, 32-63 blue, columns 48-63 transparent; its
# hot spot (5, 9) at (200, 150).
CURSOR_PIXELS = {(0, 0): "ff0000ff", (47, 31): "ff0000ff", (0, 32): "0000ffff", (47, 63): "0000ffff",
                 (48, 0): "00000000", (63, 63): "00000000"}


def check_cursor(args, py, tmp):
    """virtio-gpu's hardware cursor reaches a client's cursor channel."""
    for script, extra in (("mkkit.sh", []), ("mkvirtio.sh", [args.drm_cursor])):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", script), args.linux_kit] + extra)
        if r.returncode == vmtest.SKIP:
            print("SKIP (cursor part): the Linux kit could not be built")
            return
        if r.returncode:
            raise vmtest.TestFailure("%s failed" % script)
    port = free_port()
    vm = vmtest.Vm(args.vireo, args.accel, ["-m", "256", "-vga", "none",
                                            "-kernel", os.path.join(args.linux_kit, "vmlinuz"),
                                            "-initrd", os.path.join(args.linux_kit, "initrd-virtio-cursor.img"),
                                            "-append", "console=ttyS0 vireo.mode=cursor",
                                            "-device", "virtio-gpu-pci",
                                            "-spice", "port=%d,disable-ticketing=on" % port], tmp)
    try:
        vm.wait_serial(r"VIREO-GPU-READY 1280 800", 600)
        bad = re.search(r"VIREO-VIRTIO-FAILED.*|Oops|BUG:", vm.serial())
        if bad or "VIREO-CURSOR-SET" not in vm.serial():
            raise vmtest.TestFailure("the guest did not set its cursor: %s" % (bad.group(0) if bad else vm.serial()))
        at = ";".join("%d,%d" % p for p in CURSOR_PIXELS)
        # While the client draws the cursor from its cursor channel, its picture shows the
        # console's black where the cursor is (one cursor, not two).
        under = "195,141=000000;195,173=000000"
        c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri", "spice://127.0.0.1?port=%d" % port,
                            "--cursor", "--cursor-at", at, "--display-expect", under, "--timeout", "40"],
                           capture_output=True, timeout=60)
        out = c.stdout.decode()
        if c.returncode or "CURSOR w=64 h=64 hot=5,9" not in out:
            raise vmtest.TestFailure("the client's cursor channel: %s %s" % (out, c.stderr.decode()[-500:]))
        for (x, y), want in CURSOR_PIXELS.items():
            if "CURSOR-PIXEL %d,%d=%s" % (x, y, want) not in out:
                raise vmtest.TestFailure("the cursor's pixel %d,%d is not %s: %s" % (x, y, want, out))
        if "DISPLAY-PIXEL 195,141=000000" not in out:
            raise vmtest.TestFailure("the client's picture still carries the cursor: %s" % out)
        print("the guest's DRM cursor reached the client's cursor channel: 64x64, hot spot 5,9, its red, blue "
              "and transparent parts; that client's picture has no cursor in it")
        shot = compare(vm, ["-h", "127.0.0.1", "-p", str(port)], tmp, "virtio-gpu with its cursor", password=None)
        if shot.pixel(195, 141) != 0xff0000 or shot.pixel(195, 173) != 0x0000ff:
            raise vmtest.TestFailure("the cursor is not composed at 195,141: %06x %06x" % (shot.pixel(195, 141),
                                                                                       shot.pixel(195, 173)))
    except vmtest.TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()


def make_ca(folder, name):
    """A CA (ca-cert.pem, ca-key.pem) in folder, made with Debian's openssl."""
    os.makedirs(folder, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", os.path.join(folder, "ca-key.pem"), "-out", os.path.join(folder, "ca-cert.pem"),
                    "-subj", "/CN=%s" % name], check=True, capture_output=True)


def make_x509_dir(folder):
    """QEMU's x509-dir: ca-cert.pem, and server-cert.pem/server-key.pem signed by it for
    127.0.0.1 (subject and subjectAltName, which clients check)."""
    make_ca(folder, "Vireo test CA")
    key, csr, cert = (os.path.join(folder, n) for n in ("server-key.pem", "server.csr", "server-cert.pem"))
    ext = os.path.join(folder, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(folder, "ca-cert.pem"),
                    "-CAkey", os.path.join(folder, "ca-key.pem"), "-CAcreateserial", "-days", "2",
                    "-extfile", ext, "-out", cert], check=True, capture_output=True)


def tls_client(py, tmp, vm, tls_port, ca):
    """A spice-client-glib viewer over TLS trusting ca: its picture must become the
    screendump's. Returns (matched, output)."""
    ppm = os.path.join(tmp, "tls-want.ppm")
    vm.command("screendump", filename=ppm)
    c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri", "spice://127.0.0.1?tls-port=%d" % tls_port,
                        "--ca-file", ca, "--display-match", ppm, "--timeout", "30"], capture_output=True, timeout=60)
    out = c.stdout.decode() + c.stderr.decode()[-600:]
    return c.returncode == 0 and "DISPLAY-MATCH" in out, out


def check_tls(args, py, tmp):
    """-spice tls-port=N,x509-dir=DIR: a client that trusts the CA sees the screendump's
    pixels over TLS, one with another CA is refused, the plain port works when given
    and is closed when not."""
    if not shutil.which("openssl"):
        print("SKIP (TLS part): no openssl")
        return
    x509 = os.path.join(tmp, "x509")
    make_x509_dir(x509)
    make_ca(os.path.join(tmp, "other-ca"), "Another CA")
    for plain in (True, False):
        port, tls_port = free_port(), free_port()
        while tls_port == port:
            tls_port = free_port()
        spec = "tls-port=%d,x509-dir=%s,disable-ticketing=on" % (tls_port, x509)
        if plain:
            spec = "port=%d,%s" % (port, spec)
        vm = vmtest.Vm(args.vireo, args.accel, ["-m", "64", "-kernel", args.guest, "-spice", spec], tmp)
        try:
            vm.wait_serial("READY")
            ok, out = tls_client(py, tmp, vm, tls_port, os.path.join(x509, "ca-cert.pem"))
            if not ok:
                raise vmtest.TestFailure("a TLS client trusting the CA: %s" % out)
            ok, out = tls_client(py, tmp, vm, tls_port, os.path.join(tmp, "other-ca", "ca-cert.pem"))
            if ok or "ERROR" not in out:
                raise vmtest.TestFailure("a client trusting another CA was let in over TLS: %s" % out)
            refused = re.search(r"ERROR \S+", out).group(0)
            if plain:
                compare(vm, ["-h", "127.0.0.1", "-p", str(port)], tmp, "the plain port beside TLS", password=None)
            else:
                # Without port= nothing listens in plain text: a plain client on the TLS
                # port does not get in.
                ok, _ = screenshot(["-h", "127.0.0.1", "-p", str(tls_port)], os.path.join(tmp, "plain.ppm"))
                if ok:
                    raise vmtest.TestFailure("a plain-text client got in with only tls-port=")
            if not running(vm):
                raise vmtest.TestFailure("the VM stopped after the refused clients")
            print("TLS%s: a client trusting the CA sees the screendump's pixels; one trusting another CA is "
                  "refused (%s)%s" % (" beside the plain port" if plain else " only", refused,
                                      "" if plain else "; a plain client on the TLS port is refused too"))
        finally:
            vm.close()


def check_recording(args, py, tmp):
    """The AC'97 guest records the client's tone through the record channel. The VM starts
    paused (-S) and runs once the client's record channel is open: the guest waits a few
    seconds for sound in its microphone, a client starting on a loaded host may not."""
    port = free_port()
    wav = os.path.join(tmp, "rec.wav")
    vm = vmtest.Vm(args.vireo, args.accel, ["-m", "16", "-bios", args.ac97_guest, "-S",
                                            "-audiodev", "wav,id=snd,path=" + wav,
                                            "-machine", "pc,pcspk-audiodev=snd", "-device", "AC97,audiodev=snd",
                                            "-spice", "port=%d,disable-ticketing=on" % port], tmp)
    client = None
    try:
        client = subprocess.Popen([py, os.path.join(HERE, "spice-client.py"), "--uri",
                                   "spice://127.0.0.1?port=%d" % port, "--record", str(REC_HZ),
                                   "--amp", str(REC_AMP), "--timeout", "240"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        first = client.stdout.readline().decode().strip()
        if first != "RECORD-OPEN":
            raise vmtest.TestFailure("the client's record channel did not open: %r" % first)
        vm.command("cont")
        rc = vm.wait_exit(240)
        out = vm.serial()
        if rc != 33:
            raise vmtest.TestFailure("the AC'97 guest failed (exit %d):\n%s" % (rc, out))
    finally:
        vm.close()
        if client:
            try:
                client_out = client.communicate(timeout=30)[0].decode()
            except subprocess.TimeoutExpired:
                client.kill()
                client_out = client.communicate()[0].decode()
    for line in AC97_LINES:
        if line not in out:
            raise vmtest.TestFailure("the AC'97 guest did not print %r:\n%s" % (line, out))
    m = re.search(r"RECORD-START rate=(\d+)", client_out)
    if not m:
        raise vmtest.TestFailure("the server never asked the client to record: %s" % client_out)
    print("the server asked the client to record at %s Hz; the guest found sound in its microphone" % m.group(1))
    rate, chans = soundcheck.read_wav(wav)
    tones = soundcheck.find_tones(rate, chans)
    if not tones:
        raise vmtest.TestFailure("the guest's output is silent")
    r = soundcheck.analyse(rate, chans, *tones[-1])
    # The guest records with the codec's record gain at +6 dB, then plays it back.
    want = REC_AMP * 10 ** (6 / 20) / 2 ** 0.5
    print("played-back recording: %.3f s, longest gap %.1f ms" % (r["seconds"], r["gap_s"] * 1000))
    for c, (hz, _share, _rms, level) in enumerate(r["channels"]):
        print("  channel %d: %.2f Hz, level %.0f RMS (expected %d Hz, %.0f)" % (c, hz, level, REC_HZ, want))
        if abs(hz - REC_HZ) > 0.01 * REC_HZ or abs(level - want) > 0.15 * want:
            raise vmtest.TestFailure("the recording's channel %d is %.2f Hz at level %.0f, expected %d Hz at %.0f"
                                     % (c, hz, level, REC_HZ, want))


def run(args, tmp):
    if not shutil.which("spicy-screenshot"):
        raise Skip("spicy-screenshot is missing (Debian package spice-client-gtk)")
    help_text = subprocess.run([args.vireo, "--help-all"], capture_output=True).stdout.decode()
    if "--spice" not in help_text and "-spice" not in help_text:
        raise Skip("this vireo-run was built without the SPICE server")
    py = gi_python()
    if not py:
        raise Skip("no Python with spice-client-glib introspection (gir1.2-spiceclientglib-2.0, python3-gi)")
    check_options(args.vireo, args.guest, tmp)

    port = free_port()
    uri = ["-h", "127.0.0.1", "-p", str(port)]
    secret = os.path.join(tmp, "password")
    with open(secret, "w") as f:
        f.write(PASSWORD)
    log = os.path.join(tmp, "display.log")
    vm = vmtest.Vm(args.vireo, args.accel, ["-m", "64", "-kernel", args.guest, "-d", "display", "-D", log,
                                            "-object", "secret,id=spicepw,file=" + secret,
                                            "-spice", "port=%d,password-secret=spicepw" % port], tmp)
    try:
        vm.wait_serial("READY")
        if log_lines(log):
            raise vmtest.TestFailure("the SPICE refresh ran with no client: %r" % log_lines(log))
        first = compare(vm, uri, tmp, "at the prompt")
        lines = wait_log(log, 2)
        if len(lines) < 2 or "client connected" not in lines[0] or "refresh stopped" not in lines[-1]:
            raise vmtest.TestFailure("the refresh did not start with the client and stop after it: %r" % lines)
        print("no refresh before a client; the client's connection started it and its leaving stopped it")

        ok, r = screenshot(uri, os.path.join(tmp, "bad.ppm"), "wrong-password")
        if ok:
            raise vmtest.TestFailure("a wrong password was let in")
        if not running(vm):
            raise vmtest.TestFailure("the VM stopped after a refused client")
        print("a wrong password is refused (spicy-screenshot exit %d); the VM runs on" % r.returncode)

        c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri", "spice://127.0.0.1?port=%d" % port,
                            "--password", PASSWORD, "--keys", ",".join("%x" % k for k, _ in KEYS)],
                           capture_output=True, timeout=60)
        out = c.stdout.decode()
        if c.returncode or "SENT %d" % len(KEYS) not in out:
            raise vmtest.TestFailure("the SPICE client could not type: %s %s" % (out, c.stderr.decode()[-500:]))
        for _, line in KEYS:
            vm.wait_serial(line, timeout=30)
        print("keys typed by a SPICE client reached the guest: " + ", ".join(line for _, line in KEYS))
        typed = compare(vm, uri, tmp, "after typing")
        if typed.rgb == first.rgb:
            raise vmtest.TestFailure("the typed keys did not change the picture the client sees")

        # Clients that leave early: a TCP connect with half a link header, then gone.
        for i in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                if i % 2:
                    s.sendall(b"REDQ\x02\x00\x00\x00")
        for _ in range(3):
            p = subprocess.Popen(["spicy-screenshot"] + uri + ["-w", PASSWORD, "-o", os.path.join(tmp, "k.ppm")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            p.kill()
            p.wait()
        if not running(vm):
            raise vmtest.TestFailure("the VM stopped after clients came and went")
        compare(vm, uri, tmp, "after 23 clients came and went")
    finally:
        vm.close()

    port = free_port()
    vm = vmtest.Vm(args.vireo, args.accel, ["-m", "16", "-kernel", args.tone_guest, "-audiodev", "none,id=snd",
                                            "-machine", "pc,pcspk-audiodev=snd",
                                            "-spice", "port=%d,disable-ticketing=on" % port], tmp)
    try:
        c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri", "spice://127.0.0.1?port=%d" % port,
                            "--audio", "1.0"], capture_output=True, timeout=60)
        out = c.stdout.decode()
        m = re.search(r"AUDIO rate=(\d+) channels=(\d+) frames=(\d+) hz=([\d.]+) rms=(\d+)", out)
        if c.returncode or not m:
            raise vmtest.TestFailure("no sound on the playback channel: %s %s" % (out, c.stderr.decode()[-500:]))
        hz, rms = float(m.group(4)), int(m.group(5))
        print("the client's playback channel: %s Hz, %s channels, %s frames, the tone at %.1f Hz, level %d RMS"
              % (m.group(1), m.group(2), m.group(3), hz, rms))
        if abs(hz - 1000.15) > 10 or rms < 2000:
            raise vmtest.TestFailure("the tone arrived at %.1f Hz, level %d (expected 1000.15 Hz, audible)" % (hz, rms))
    finally:
        vm.close()

    check_tls(args, py, tmp)
    check_recording(args, py, tmp)
    if args.linux_kit:
        check_cursor(args, py, tmp)

    sock = os.path.join(tmp, "spice.sock")
    vm = vmtest.Vm(args.vireo, args.accel, ["-m", "64", "-kernel", args.guest,
                                            "-spice", "unix=on,addr=%s,disable-ticketing=on" % sock], os.path.join(tmp))
    try:
        vm.wait_serial("READY")
        compare(vm, ["--uri=spice+unix://" + sock], tmp, "over a unix socket", password=None)
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--guest", required=True, help="tests/guests/kbd-echo.asm built")
    ap.add_argument("--tone-guest", required=True, help="tests/guests/speaker-tone.asm built")
    ap.add_argument("--ac97-guest", required=True, help="tests/guests/sound-ac97.asm built")
    ap.add_argument("--linux-kit", help="the Linux kit's folder: the virtio-gpu cursor part")
    ap.add_argument("--drm-cursor", help="tests/guests/linux/drm-cursor.asm built")
    return vmtest.run_test(run, ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
