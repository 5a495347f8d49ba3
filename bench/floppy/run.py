#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""FreeDOS boot benchmark: time from process start to the A:\\> prompt on the VGA text
screen, Vireo (-accel tcg) against qemu-system-i386 -accel tcg, alternating in the same
run. Both boot a private copy of the same floppy image with 16 MiB and no display
window; the screen is polled every 10 ms through the control socket (Vireo:
x-screen-text; QEMU: pmemsave of the text buffer at 0xB8000).

Prints the median and best of --repeat runs per image and the ratio vireo / qemu
(below 1: Vireo reaches the prompt sooner). Not a test.

Usage: bench/floppy/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                           [--repeat 7] [--images DIR]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
IMAGES = ["freedos.boot.disk.1.4MB.img", "freedos.boot.disk.720K.img", "freedos.boot.disk.360K.img",
          "freedos722-tools.img"]
PROMPT = "A:\\>"


class Qmp:
    def __init__(self, path, proc, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("no control socket at %s" % path)
                time.sleep(0.005)
        self.buf = b""
        self.read()
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.read()
            if "event" not in r:
                return r


def vireo_screen(qmp, tmp):
    r = qmp.cmd("x-screen-text")
    return "\n".join(r["return"]["lines"]) if "return" in r else ""


def qemu_screen(qmp, tmp):
    path = os.path.join(tmp, "vram")
    qmp.cmd("pmemsave", val=0xb8000, size=4000, filename=path)
    with open(path, "rb") as f:
        cells = f.read()
    return "\n".join(cells[r * 160:(r + 1) * 160:2].decode("latin-1") for r in range(25))


def boot_once(kind, exe, image, tmp):
    disk = os.path.join(tmp, "disk.img")
    shutil.copyfile(image, disk)
    os.chmod(disk, 0o644)
    sock = os.path.join(tmp, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = [exe, "-accel", "tcg", "-m", "16", "-display", "none", "-fda", disk,
           "-qmp", "unix:%s,server=on,wait=off" % sock]
    if kind == "qemu":
        cmd += ["-boot", "a", "-nodefaults", "-vga", "std"]
    else:
        # QEMU's device set above: its pc board has no USB controller without -usb
        # (SeaBIOS waits about 95 ms for a UHCI's ports).
        cmd += ["-machine", "usb=off"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        qmp = Qmp(sock, proc, start + 20)
        screen = vireo_screen if kind == "vireo" else qemu_screen
        while True:
            if PROMPT in screen(qmp, tmp):
                return time.monotonic() - start
            if time.monotonic() - start > 60:
                raise RuntimeError("%s: no prompt after 60 s" % kind)
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "guests", "freedos"))
    o = ap.parse_args()
    if not shutil.which(o.qemu):
        print("%s not found (Debian package qemu-system-x86)" % o.qemu)
        return 1
    print("%-30s %9s %9s %9s %9s %7s" % ("image (time to A:\\>)", "vireo med", "qemu med",
                                         "vireo best", "qemu best", "ratio"))
    with tempfile.TemporaryDirectory(prefix="vireo-bench-floppy-") as tmp:
        for name in IMAGES:
            image = os.path.join(o.images, name)
            if not os.path.exists(image):
                print("%-30s absent" % name)
                continue
            t = {"vireo": [], "qemu": []}
            for _ in range(o.repeat):
                t["vireo"].append(boot_once("vireo", o.vireo, image, tmp))
                t["qemu"].append(boot_once("qemu", o.qemu, image, tmp))
            mv, mq = statistics.median(t["vireo"]), statistics.median(t["qemu"])
            print("%-30s %8.3fs %8.3fs %8.3fs %8.3fs %7.2f" % (name, mv, mq, min(t["vireo"]),
                                                             min(t["qemu"]), mv / mq), flush=True)
    print("(median and best of %d runs each, alternating; load average %s)"
          % (o.repeat, " ".join("%.2f" % x for x in os.getloadavg())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
