#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Copies kernel modules and everything they depend on (the "depends=" field of each
module's .modinfo section, so no depmod is needed) from a kernel package's module tree to
OUTDIR, and writes OUTDIR/order: the names in an order insmod can load them.
Usage: pickmodules.py MODULE_TREE OUTDIR MODULE..."""
import os
import re
import shutil
import sys


def main():
    src, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith(".ko"):
                mods[f[:-3].replace("-", "_")] = os.path.join(root, f)

    def deps(m):
        with open(mods[m], "rb") as f:
            x = re.search(rb"(?:^|\x00)depends=([^\x00]*)\x00", f.read())
        return [d.decode().replace("-", "_") for d in x.group(1).split(b",") if d] if x else []

    order = []

    def visit(m):
        if m not in mods:
            sys.exit("pickmodules: no module %s in %s" % (m, src))
        if m not in order:
            for d in deps(m):
                visit(d)
            order.append(m)

    for m in wanted:
        visit(m)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "order"), "w") as f:
        for m in order:
            shutil.copy(mods[m], os.path.join(out, m + ".ko"))
            f.write(m + "\n")


if __name__ == "__main__":
    main()
