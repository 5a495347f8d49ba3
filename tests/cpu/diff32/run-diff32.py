#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The diff32 differential test: runs the static 32-bit diff32 program natively, then
inside Debian's i386 kernel (the Linux kit) under vireo-run, and compares the two
outputs line by line. Lines starting with "model:" (RCPPS/RSQRTPS, whose precision
the SDM leaves to the implementation) are compared only with --strict-model.
Exit 77 (skip) when the kit cannot be built."""
import argparse
import base64
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

SKIP = 77


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--diff32", required=True, help="the static 32-bit program")
    ap.add_argument("--kit", required=True, help="the Linux kit directory (built if needed)")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--strict-model", action="store_true")
    o = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.normpath(os.path.join(here, "..", ".."))
    r = subprocess.run(["sh", os.path.join(src, "guests", "linux", "mkkit.sh"), o.kit])
    if r.returncode == SKIP:
        return SKIP
    if r.returncode != 0:
        print("FAIL: building the Linux kit failed")
        return 1

    native = subprocess.run([o.diff32], stdout=subprocess.PIPE, check=True).stdout.decode()

    with tempfile.TemporaryDirectory() as tmp:
        initrd = os.path.join(tmp, "initrd.img")
        subprocess.run([sys.executable, os.path.join(src, "guests", "linux", "mkinitramfs.py"), initrd,
                        "dir:bin", "dir:dev", "dir:proc", "dir:sys", "dir:tmp",
                        "file:bin/busybox=%s:755" % os.path.join(o.kit, "busybox"),
                        "file:init=%s:755" % os.path.join(here, "init-diff32.sh"),
                        "file:diff32=%s:755" % o.diff32], check=True)
        serial = os.path.join(tmp, "serial.txt")
        cmd = [o.vireo, "-accel", o.accel, "-display", "none", "-serial", "file:" + serial,
               "-m", "256", "-kernel", os.path.join(o.kit, "vmlinuz"), "-initrd", initrd,
               "-append", "console=ttyS0 quiet"]
        print("running:", " ".join(cmd), flush=True)
        start = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=o.timeout)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = None
        elapsed = time.monotonic() - start
        with open(serial, "rb") as f:
            ser = f.read().decode("latin-1").replace("\r", "")

    print("elapsed %.1f s, exit status %s" % (elapsed, status))
    m = re.search(r"VIREO-DIFF32-STATUS (\d+)\nVIREO-DIFF32-BEGIN\n(.*?)VIREO-DIFF32-END", ser, re.S)
    if status is None or not m:
        print("--- serial (tail) ---\n" + ser[-3000:])
        print("FAIL: %s" % ("timed out" if status is None else "no diff32 output on the console"))
        return 1
    guest = gzip.decompress(base64.b64decode(m.group(2))).decode()
    nl, gl = native.splitlines(), guest.splitlines()
    bad = 0
    model = 0
    for n, (a, b) in enumerate(zip(nl, gl)):
        if a == b:
            continue
        if a.startswith("model:") and b.startswith("model:") and not o.strict_model:
            model += 1
            continue
        bad += 1
        if bad <= 40:
            print("line %d differs:\n  host:  %s\n  vireo: %s" % (n + 1, a, b))
    if len(nl) != len(gl):
        print("line counts differ: host %d, vireo %d" % (len(nl), len(gl)))
        bad += 1
    print("%d lines compared, %d differ, %d model-specific differences ignored" % (len(nl), bad, model))
    if m.group(1) != "0":
        print("FAIL: diff32 exited with %s in the guest" % m.group(1))
        return 1
    if bad:
        print("FAIL")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
