#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# bin2c.py INPUT OUTPUT.c SYMBOL: embeds a binary file as a const byte array.
import sys

data = open(sys.argv[1], "rb").read()
sym = sys.argv[3]
with open(sys.argv[2], "w") as f:
    f.write("/* Generated from %s by bin2c.py. */\n#include <stddef.h>\n" % sys.argv[1].split("/")[-1])
    f.write("const unsigned char %s[] = {\n" % sym)
    for i in range(0, len(data), 16):
        f.write("  " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",\n")
    f.write("};\nconst size_t %s_len = %d;\n" % (sym, len(data)))
