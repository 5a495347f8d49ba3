#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mkinitramfs.py OUT.img.gz ENTRY...: writes a gzip-compressed "newc" cpio archive, the
initramfs format the Linux kernel unpacks (Documentation/driver-api/early-userspace).
Entries: dir:PATH, file:PATH=SOURCE[:MODE], symlink:PATH=TARGET. Owners are root and
times are zero so the same inputs give the same image."""
import gzip
import os
import sys


def header(ino, mode, size, name, nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return (4 - n % 4) % 4


def main():
    out, entries = sys.argv[1], sys.argv[2:]
    buf = bytearray()
    ino = 1
    for e in entries:
        kind, spec = e.split(":", 1)
        if kind == "dir":
            name, data, mode = spec, b"", 0o040755
        elif kind == "file":
            name, src = spec.split("=", 1)
            perm = 0o755
            if ":" in src:
                src, p = src.rsplit(":", 1)
                perm = int(p, 8)
            with open(src, "rb") as f:
                data = f.read()
            mode = 0o100000 | perm
        elif kind == "symlink":
            name, target = spec.split("=", 1)
            data, mode = target.encode(), 0o120777
        else:
            sys.exit("mkinitramfs: unknown entry kind %r" % kind)
        bname = name.lstrip("/").encode()
        h = header(ino, mode, len(data), bname)
        buf += h + bname + b"\0"
        buf += b"\0" * pad4(len(h) + len(bname) + 1)
        buf += data + b"\0" * pad4(len(data))
        ino += 1
    t = b"TRAILER!!!"
    h = header(0, 0, 0, t)
    buf += h + t + b"\0" + b"\0" * pad4(len(h) + len(t) + 1)
    with open(out + ".tmp", "wb") as f:
        f.write(gzip.compress(bytes(buf), mtime=0))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
