#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""vireo-img check sees what qemu-img check sees, and its repair never lands on a range
a table names (issue 21).

Each case crafts a damaged qcow2 image. Both checkers must count the same corruptions
and leaks; after `vireo-img check -r all` both must again agree, and whatever Vireo
calls repaired qemu-img must find clean, with the guest data unchanged.

Usage: check-agree.py VIREO_IMG DISK_IO   (exit 77 without qemu-img)
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

VIMG, DIO = (os.path.abspath(a) for a in sys.argv[1:3])
if not shutil.which("qemu-img"):
    print("SKIP: qemu-img not found (install the Debian package qemu-utils)")
    sys.exit(77)


def run(*cmd, ok=(0,)):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


def check(tool, img):
    """The counts, and the problems listed (in any order; vireo-img lists them only
    in human output)."""
    p = run(tool, "check", "--output=json", img, ok=(0, 2, 3))
    j = json.loads(p.stdout)
    counts = {k: j.get(k, 0) for k in ("corruptions", "leaks", "check-errors")}
    h = run(tool, "check", img, ok=(0, 2, 3))
    counts["lines"] = sorted(l for l in h.stderr.splitlines()
                             if l.startswith(("ERROR", "Leaked", "Repairing")))
    return counts, h.stderr


class Qcow2:
    """Just enough of the format to damage an image on purpose."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            h = f.read(104)
        self.cbits = struct.unpack(">I", h[20:24])[0]
        self.cs = 1 << self.cbits
        self.l1_size = struct.unpack(">I", h[36:40])[0]
        self.l1 = struct.unpack(">Q", h[40:48])[0]
        self.reftable = struct.unpack(">Q", h[48:56])[0]
        self.size = os.path.getsize(path)

    def u64(self, off):
        with open(self.path, "rb") as f:
            f.seek(off)
            return struct.unpack(">Q", f.read(8))[0]

    def put64(self, off, v):
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(struct.pack(">Q", v))

    def l2(self, l1_index=0):
        return self.u64(self.l1 + 8 * l1_index) & 0x00FFFFFFFFFFFE00

    def refblock(self, index=0):
        return self.u64(self.reftable + 8 * index) & ~0x1FF


def compressed_past_eof(img, extra):
    """The compressed cluster at the highest offset claims sectors up to `extra` bytes
    past the end of the file (or as far as its sector count field reaches)."""
    q = Qcow2(img)
    shift = 62 - (q.cbits - 8)
    mask = (1 << (q.cbits - 8)) - 1
    best = None
    for t in range(q.l1_size):
        l2 = q.l2(t)
        if not l2:
            continue
        for i in range(q.cs // 8):
            e = q.u64(l2 + 8 * i)
            if e & (1 << 62):
                off = e & ((1 << shift) - 1)
                if best is None or off > best[1]:
                    best = (l2 + 8 * i, off, e)
    where, off, e = best
    sectors = min((q.size + extra - (off & ~511) + 511) // 512, mask + 1)
    assert (off & ~511) + 512 * sectors > q.size, "the last compressed cluster cannot reach EOF"
    q.put64(where, (e & ~(mask << shift)) | ((sectors - 1) << shift))


def data_on_refblock(img):
    """A data cluster entry points at refcount block 0."""
    q = Qcow2(img)
    q.put64(q.l2() + 8 * 3, q.refblock() | (1 << 63))


def data_past_eof(img, clusters, where=None):
    q = Qcow2(img)
    end = (q.size + q.cs - 1) // q.cs * q.cs
    q.put64(q.l2() + 8 * 2, (where if where else end + clusters * q.cs) | (1 << 63))


def refblock_past_eof(img):
    """A second refcount table entry names a block beyond the file."""
    q = Qcow2(img)
    end = (q.size + q.cs - 1) // q.cs * q.cs
    q.put64(q.reftable + 8, end + 4 * q.cs)


def l2_past_eof(img):
    q = Qcow2(img)
    end = (q.size + q.cs - 1) // q.cs * q.cs
    q.put64(q.l1, (end + 3 * q.cs) | (1 << 63))


def data_named_twice(img):
    q = Qcow2(img)
    l2 = q.l2()
    q.put64(l2 + 8 * 5, q.u64(l2 + 8 * 4))


def data_misaligned(img):
    q = Qcow2(img)
    l2 = q.l2()
    q.put64(l2 + 8 * 1, q.u64(l2 + 8 * 1) + 4096)


def l2_named_twice(img):
    """A second L1 entry names the first one's L2 table (the image is grown so the L1
    table has room; 4 KiB clusters keep that small)."""
    run(VIMG, "resize", img, "+4M")
    q = Qcow2(img)
    q.put64(q.l1 + 8, q.u64(q.l1))


def refcount_too_low(img):
    q = Qcow2(img)
    rb = q.refblock()
    l2 = q.l2()
    with open(img, "r+b") as f:   # 16-bit refcounts
        f.seek(rb + 2 * (l2 // q.cs))
        f.write(struct.pack(">H", 0))


def make(kind, path):
    """Source images: compressed (64 KiB or 512 B clusters) or plain (64 or 4 KiB)."""
    src = os.path.join(os.path.dirname(path), "src.raw")
    if kind == "compressed-512":
        # Vireo stores a cluster plainly unless compressing saves a sector: at 512 B
        # that never happens, so qemu-img makes this one.
        # Text only, so the last cluster of the file is a compressed one.
        text = os.path.join(os.path.dirname(path), "text.raw")
        with open(text, "wb") as f:
            f.write(b"vireo check-agree: a line that compresses well\n" * 2000)
        run("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=512", text, path)
    elif kind == "compressed":
        run(VIMG, "convert", "-c", "-O", "qcow2", src, path)
    elif kind == "plain-4k":
        run(VIMG, "convert", "-O", "qcow2", "-o", "cluster_size=4k", src, path)
    else:
        run(VIMG, "convert", "-O", "qcow2", src, path)


CASES = [
    # name, source kind, damage[, the repair cannot make it clean]
    ("compressed cluster less than a cluster past EOF", "compressed", lambda p: compressed_past_eof(p, 10000)),
    ("compressed cluster a cluster past EOF", "compressed", lambda p: compressed_past_eof(p, 70000)),
    ("compressed cluster nearly two clusters past EOF", "compressed", lambda p: compressed_past_eof(p, 120000)),
    ("compressed cluster past EOF, 512 B clusters", "compressed-512", lambda p: compressed_past_eof(p, 400)),
    ("data cluster on a refcount block", "plain", data_on_refblock),
    ("data cluster five clusters past EOF", "plain", lambda p: data_past_eof(p, 5)),
    ("data cluster just past EOF", "plain", lambda p: data_past_eof(p, 0)),
    # Nothing can count this one without a file of a TiB: it stays, reported by both.
    ("data cluster a TiB past EOF", "plain", lambda p: data_past_eof(p, 0, 1 << 40), True),
    ("refcount block past EOF", "plain", refblock_past_eof),
    ("L2 table past EOF", "plain", l2_past_eof),
    ("refcount too low", "plain", refcount_too_low),
    ("one data cluster named twice", "plain", data_named_twice),
    ("data cluster offset not cluster aligned", "plain", data_misaligned, True),
    ("L2 table named twice", "plain-4k", l2_named_twice),
]


def main():
    work = tempfile.mkdtemp(prefix="vireo-check-agree-")
    try:
        os.chdir(work)
        with open("src.raw", "wb") as f:
            line = b"vireo check-agree: compressible but not trivially so 0123456789\n"
            for i in range(4096):
                f.write(line[: 20 + i % 40])
            f.write(os.urandom(70000))
            f.write(line * 2000)
        failures = 0
        for name, kind, damage, *stays in CASES:
            img = "t.qcow2"
            for leftover in (img, "t.raw", "u.raw"):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            make(kind, img)
            damage(img)
            q, qerr = check("qemu-img", img)
            v, verr = check(VIMG, img)
            if q != v:
                print(f"FAIL: {name}: qemu-img and vireo-img differ\n--- qemu-img:\n{qerr}--- vireo-img:\n{verr}")
                failures += 1
                continue
            # What qemu-img reads before the repair (a data cluster past EOF reads as
            # zeros); some damage makes it refuse to read at all.
            before = run("qemu-img", "convert", "-O", "raw", img, "t.raw", ok=(0, 1)).returncode == 0
            run(VIMG, "check", "-r", "all", img, ok=(0, 2, 3))
            q2, qerr = check("qemu-img", img)
            v2, verr = check(VIMG, img)
            if q2 != v2:
                print(f"FAIL: {name}: after the repair qemu-img {q2}, vireo-img {v2}\n"
                      f"--- qemu-img:\n{qerr}--- vireo-img:\n{verr}")
                failures += 1
                continue
            if bool(v2["corruptions"] or v2["leaks"]) != bool(stays):
                print(f"FAIL: {name}: after vireo-img check -r all: {v2}\n{verr}")
                failures += 1
                continue
            if before:
                run("qemu-img", "convert", "-O", "raw", img, "u.raw")
                with open("t.raw", "rb") as a, open("u.raw", "rb") as b:
                    if a.read() != b.read():
                        print(f"FAIL: {name}: the repair changed the guest data")
                        failures += 1
                        continue
            print(f"ok   {name}: both find {q['corruptions']} corruptions, {q['leaks']} leaks; "
                  f"after vireo-img's repair both find {v2['corruptions']} and {v2['leaks']}")
        sys.exit(1 if failures else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
