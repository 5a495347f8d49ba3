#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""SPICE frames per second for full-screen 1024x768 updates, Vireo against
qemu-system-i386 in one run. The guest (redraw.asm, under SeaBIOS) paints the whole
1024x768x32 VBE screen a new colour as fast as it can; a spice-client-glib client
(spice-fps.py) counts the frames it receives for --seconds: updates after which the
screen's centre has a new colour. Both emulators run the same guest with
`-spice port=N,disable-ticketing=on -display none` under the same accelerator; also
reported is each emulator's CPU time per frame. Not a test: prints figures only.

Usage: bench/spice/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                          [--accel tcg] [--seconds 10] [--repeat 3]
"""
import argparse
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(cmd, py, seconds):
    port = free_port()
    p = subprocess.Popen(cmd + ["-spice", "port=%d,disable-ticketing=on" % port], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(2)
        c0 = cpu_seconds(p.pid)
        r = subprocess.run([py, os.path.join(HERE, "spice-fps.py"), "--uri", "spice://127.0.0.1?port=%d" % port,
                            "--seconds", str(seconds)], capture_output=True, timeout=seconds + 180)
        c1 = cpu_seconds(p.pid)
    finally:
        p.kill()
        out = p.communicate()[0].decode(errors="replace")
    line = r.stdout.decode()
    if r.returncode or not line.startswith("FPS"):
        sys.exit("%s: %s %s\n%s" % (" ".join(cmd), line, r.stderr.decode()[-800:], out[-800:]))
    f = line.split()
    fps, frames, secs = float(f[1]), int(f[3]), float(f[5])
    # The client counted for secs of the (c1 - c0) window; CPU per frame over it all.
    return fps, (c1 - c0) / max(frames, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default=shutil.which("qemu-system-i386"))
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    o = ap.parse_args()
    if not o.qemu:
        sys.exit("qemu-system-i386 not found (Debian package qemu-system-x86)")
    py = None
    probe = "import gi; gi.require_version('SpiceClientGLib', '2.0')"
    for cand in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([cand, "-c", probe], capture_output=True).returncode == 0:
            py = cand
            break
    if not py:
        sys.exit("no Python with spice-client-glib (gir1.2-spiceclientglib-2.0, python3-gi)")
    with tempfile.TemporaryDirectory() as tmp:
        guest = os.path.join(tmp, "redraw.bin")
        subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/", "-o", guest,
                        os.path.join(HERE, "redraw.asm")], check=True)
        common = ["-accel", o.accel, "-m", "64", "-display", "none", "-kernel", guest]
        cmds = {"vireo": [o.vireo] + common, "qemu": [o.qemu, "-vga", "std"] + common}
        res = {"vireo": [], "qemu": []}
        for _ in range(o.repeat):
            for name in ("vireo", "qemu"):
                res[name].append(run_one(cmds[name], py, o.seconds))
    vf = statistics.median(r[0] for r in res["vireo"])
    qf = statistics.median(r[0] for r in res["qemu"])
    vc = statistics.median(r[1] for r in res["vireo"])
    qc = statistics.median(r[1] for r in res["qemu"])
    print("SPICE full-screen 1024x768x32 updates, -accel %s, median of %d runs of %g s" % (o.accel, o.repeat,
                                                                                      o.seconds))
    print("| | vireo | qemu | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print("| frames per second (higher is better) | %.1f | %.1f | %.2f |" % (vf, qf, vf / qf if qf else 0))
    print("| CPU ms per frame (lower is better) | %.1f | %.1f | %.2f |" % (vc * 1000, qc * 1000, vc / qc if qc else 0))
    print("load average: %.1f %.1f %.1f" % os.getloadavg())


if __name__ == "__main__":
    main()
