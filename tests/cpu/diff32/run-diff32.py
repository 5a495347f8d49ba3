#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The diff32 differential test: runs the 32-bit diff32 program inside Debian's i386
kernel (the Linux kit) under vireo-run and compares its output line by line with a
reference: the same program run on the host where the host can run it, else its 64-bit
build diff32-64, which prints the same lines except those of instructions invalid in
64-bit mode ("not64: KEY" in their place, reported as not compared). Where both run
on the host, diff32-64 must also equal the 32-bit output on every comparable line.
Lines starting with "model:" (RCPPS/RSQRTPS, whose precision the SDM leaves to the
implementation) are compared with the guest only with --strict-model.
Exit 77 (skip) when the kit or the 32-bit program cannot be built."""
import argparse
import base64
import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
NOT64 = "not64: "
# Why the 64-bit build has no result for a line, by the line's first word.
NOT64_WHY = dict.fromkeys(("daa", "das", "aaa", "aam", "aad"),
                          "BCD adjust DAA/DAS/AAA/AAM/AAD, invalid in 64-bit mode")


def run_program(path):
    """Runs a diff32 build on the host: (output, None), or (None, why it cannot run)."""
    try:
        p = subprocess.run([path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
    except OSError as e:  # ENOEXEC where the kernel has no 32-bit support
        return None, e.strerror or str(e)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode < 0:  # e.g. SIGSYS from a filter on i386 system calls
        return None, "killed by %s" % signal.Signals(-p.returncode).name
    if p.returncode != 0:
        return None, "exit status %d" % p.returncode
    out = p.stdout.decode()
    if not out.startswith("diff32 begin\n") or not out.endswith("diff32 end\n"):
        return None, "incomplete output"
    return out, None


def compare(ref, other, ref_name, other_name, strict_model):
    """Compares two outputs line by line (same order, same count). A "not64: KEY"
    line on either side only requires the other line to be KEY's; it is counted as
    not compared, by reason. Returns (compared, differ, model ignored, {reason: n})."""
    rl, ol = ref.splitlines(), other.splitlines()
    compared = bad = model = 0
    skipped = {}
    for n, (a, b) in enumerate(zip(rl, ol)):
        ph = a if a.startswith(NOT64) else b if b.startswith(NOT64) else None
        if ph is not None:
            key = ph[len(NOT64):]
            real = b if ph is a else a
            if real.startswith(key + ":"):
                why = NOT64_WHY.get(key.split()[0], "not in 64-bit mode")
                skipped[why] = skipped.get(why, 0) + 1
                continue
        compared += 1
        if a == b:
            continue
        if a.startswith("model:") and b.startswith("model:") and not strict_model:
            model += 1
            continue
        bad += 1
        if bad <= 40:
            print("line %d differs:\n  %s: %s\n  %s: %s" % (n + 1, ref_name, a, other_name, b))
    if len(rl) != len(ol):
        print("line counts differ: %s %d, %s %d" % (ref_name, len(rl), other_name, len(ol)))
        bad += 1
    return compared, bad, model, skipped


def summary(what, result, skipped_as="not compared"):
    compared, bad, model, skipped = result
    print("%s: %d lines compared, %d differ, %d model-specific differences ignored"
          % (what, compared, bad, model))
    for why, n in sorted(skipped.items()):
        print("%s: %s: %d lines (%s)" % (what, skipped_as, n, why))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--diff32", required=True,
                    help="the static 32-bit program run in the guest ('missing': not built)")
    ap.add_argument("--diff32-64", required=True, help="its 64-bit build, the reference "
                    "where the host cannot run 32-bit programs")
    ap.add_argument("--kit", required=True, help="the Linux kit directory (built if needed)")
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--strict-model", action="store_true")
    o = ap.parse_args()

    if o.diff32 == "missing":
        print("SKIP: the 32-bit diff32 was not built (gcc -m32 -static does not link)")
        return SKIP

    # The reference: the 32-bit program on the host where it runs, else diff32-64.
    native, why32 = run_program(o.diff32)
    out64, why64 = run_program(o.diff32_64)
    bad64 = 0
    if out64 is None:
        print("diff32-64 cannot run on this host: %s" % why64)
        bad64 = 1
    if native is not None:
        ref, ref_name = native, "host"
        print("reference: the 32-bit diff32 run on the host")
        if out64 is not None:
            # Where both run, diff32-64 must agree with the 32-bit build: that is what
            # makes it a faithful reference on hosts without 32-bit programs.
            r = compare(native, out64, "host32", "host64", True)
            summary("diff32-64 against the 32-bit diff32", r, "not in the 64-bit build")
            bad64 += r[1]
    elif out64 is not None:
        ref, ref_name = out64, "host64"
        print("reference: diff32-64 (the host cannot run the 32-bit diff32: %s)" % why32)
    else:
        print("FAIL: neither diff32 (%s) nor diff32-64 (%s) runs on this host" % (why32, why64))
        return 1

    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.normpath(os.path.join(here, "..", ".."))
    r = subprocess.run(["sh", os.path.join(src, "guests", "linux", "mkkit.sh"), o.kit])
    if r.returncode == SKIP:
        return SKIP
    if r.returncode != 0:
        print("FAIL: building the Linux kit failed")
        return 1

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
    r = compare(ref, guest, ref_name, "vireo", o.strict_model)
    summary("vireo against the %s reference" % ("32-bit" if ref is native else "64-bit"), r,
            "not compared on this host")
    if m.group(1) != "0":
        print("FAIL: diff32 exited with %s in the guest" % m.group(1))
        return 1
    if r[1] or bad64:
        print("FAIL")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
