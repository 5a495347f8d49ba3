#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The translator's debugging aids, with tests/guests/cpu/trace.asm.

  trace.py --vireo vireo-run --bios trace.bin in-asm
      runs the guest under -accel tcg with -d in_asm,out_asm -D FILE and checks that
      the log shows the hot routine's guest instructions at their linear addresses
      (capstone's text) and, under a line naming each, the host code compiled for
      it (IMUL, ADD and ROL with the guest's immediates). Skips (77) on a build without capstone, after checking
      that vireo-run says so.

  trace.py --vireo vireo-run --bios trace.bin same
      runs the guest under interp, jit and tcg: each must pass its own checks
      (single-stepping and an instruction breakpoint with RF through the compiled,
      chained routine, a data breakpoint in a compiled loop) and print the same serial output, every #DB's EIP, EAX,
      ECX and DR6 included.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77
PASS_EXIT = 33


def run(vireo, accel, bios, extra, tmp, name, timeout=120):
    serial = os.path.join(tmp, name + ".serial")
    cmd = [vireo, "-accel", accel, "-display", "none", "-serial", "file:" + serial,
           "-device", "isa-debug-exit", "-no-reboot", "-bios", bios] + extra
    print("running:", " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out, rc = p.stdout.decode("latin-1"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.output or b"").decode("latin-1"), None
    try:
        with open(serial, "rb") as f:
            ser = f.read().decode("latin-1").replace("\r", "")
    except FileNotFoundError:
        ser = ""
    return rc, out, ser


def log_blocks(text, area, head):
    """The messages of one -d area: (first line, [following lines])."""
    blocks = []
    cur = None
    for line in text.splitlines():
        if line.startswith("["):
            cur = None
            if line.startswith("[%s] %s" % (area, head)):
                cur = (line, [])
                blocks.append(cur)
        elif cur is not None:
            cur[1].append(line)
    return blocks


def in_asm(o, tmp):
    log = os.path.join(tmp, "log.txt")
    rc, out, ser = run(o.vireo, "tcg", o.bios, ["-d", "in_asm,out_asm", "-D", log], tmp, "in-asm")
    if "this build has no disassembler" in out:
        print(out.strip())
        print("SKIP: vireo-run was built without capstone and says -d in_asm is unavailable")
        return SKIP
    fails = []
    if rc != PASS_EXIT:
        fails.append("exit status %s, expected %d: %s" % (rc, PASS_EXIT, out.strip()[-300:]))
    m = re.search(r"trace: hot routine at ([0-9a-f]{8})", ser)
    if not m:
        print("FAIL: the guest did not print the hot routine's address:\n" + ser)
        return 1
    hot = int(m.group(1), 16)
    with open(log, encoding="latin-1") as f:
        text = f.read()
    # The guest's instructions and their encodings' lengths (trace.asm).
    want, a = [], hot
    for length, asm in ((6, "imul eax, ebx, 0x12345"), (5, "add eax, 0x5a5a5a5a"), (2, "xor ecx, eax"),
                        (3, "rol ecx, 7"), (1, "dec edx"), (2, "jne 0x%x" % hot)):
        want.append("0x%08x:  %s" % (a, asm))
        a += length
    ins = [b for b in log_blocks(text, "in_asm", "IN: ") if b[1][:1] == [want[0]]]
    if not ins:
        fails.append("no in_asm block starts at 0x%08x" % hot)
    elif ins[0][1][:len(want)] != want:
        fails.append("in_asm of the hot routine:\n%s\nwanted:\n%s" % ("\n".join(ins[0][1]), "\n".join(want)))
    elif "32-bit, 7 instructions" not in ins[0][0] and "32-bit, 6 instructions" not in ins[0][0]:
        fails.append("in_asm header: %s" % ins[0][0])
    outs = [b for b in log_blocks(text, "out_asm", "OUT: ") if "(linear 0x%08x)" % hot in b[0]]
    if not outs:
        fails.append("no out_asm block for linear 0x%08x" % hot)
    else:
        host = outs[0][1]
        m = re.search(r"at 0x([0-9a-f]+)$", outs[0][0])
        code = [l for l in host if not l.startswith("-- ")]
        if not m or not code or not code[0].startswith("0x%08x:  " % int(m.group(1), 16)):
            fails.append("out_asm does not start at the block's host address: %s / %s" % (outs[0][0], code[:1]))
        # Each guest instruction's host code under its "-- guest ADDR" line, in order;
        # the IMUL, ADD and ROL inline (the same operations with the guest's
        # immediates, not a call of the interpreter's handler) under their own lines.
        sections, cur = {}, None
        for line in host:
            if line.startswith("-- "):
                cur = line
                sections[cur] = []
            elif cur is not None:
                sections[cur].append(line)
        marks = [l for l in host if l.startswith("-- guest ")]
        wanted = ["-- guest 0x%08x" % int(w.split(":")[0], 16) for w in want]
        if marks[:len(wanted)] != wanted:
            fails.append("out_asm's guest markers %s, wanted %s" % (marks, wanted))
        else:
            for k, rx in ((0, r":  imul \w+, \w+, 0x12345$"), (1, r"0x5a5a5a5a$"), (3, r":  rol \w+, 7$")):
                if not any(re.search(rx, line) for line in sections[wanted[k]]):
                    fails.append("out_asm under %s lacks /%s/:\n%s" % (wanted[k], rx, "\n".join(sections[wanted[k]])))
            if not sections.get("-- prologue") or "-- out of line: slow paths, exits" not in sections:
                fails.append("out_asm lacks its prologue or out-of-line section")
    if fails:
        for f in fails:
            print("FAIL: " + f)
        return 1
    print("in_asm and out_asm of the block at 0x%08x: %d guest, %d host instructions" %
          (hot, len(ins[0][1]), len([l for l in outs[0][1] if not l.startswith("-- ")])))
    return 0


def same(o, tmp):
    outs, fails = {}, []
    for accel in ("interp", "jit", "tcg"):
        rc, out, ser = run(o.vireo, accel, o.bios, [], tmp, accel)
        outs[accel] = ser
        if rc != PASS_EXIT:
            fails.append("%s: exit status %s, expected %d: %s" % (accel, rc, PASS_EXIT, out.strip()[-300:]))
        if "trace: all checks passed" not in ser:
            fails.append("%s: the guest's checks did not pass:\n%s" % (accel, ser))
    for accel in ("jit", "tcg"):
        if outs[accel] != outs["interp"]:
            a, b = outs["interp"].splitlines(), outs[accel].splitlines()
            k = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            fails.append("%s's serial output differs from interp's at line %d: %r / %r" %
                         (accel, k + 1, a[k] if k < len(a) else None, b[k] if k < len(b) else None))
    if fails:
        for f in fails:
            print("FAIL: " + f)
        return 1
    print("interp, jit and tcg printed the same %d lines, %d #DB records" %
          (len(outs["interp"].splitlines()), outs["interp"].count("trace:  eip ")))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--bios", required=True)
    ap.add_argument("mode", choices=["in-asm", "same"])
    o = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        return in_asm(o, tmp) if o.mode == "in-asm" else same(o, tmp)


if __name__ == "__main__":
    sys.exit(main())
