#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Interpreter benchmark: Vireo's -accel interp side by side with qemu-system-i386
-accel tcg, in the same run.

1. MIPS on a fixed integer workload (workload.asm, built twice with nasm: ROUNDS=4
   and ROUNDS=4+--rounds, 32 by default). Each guest instruction count per round is
   exact (29,487,301: the loops are data independent), so MIPS = the extra rounds'
   instructions / (t_long - t_short); the difference removes start-up and firmware
   time. The checksums both emulators print must agree. With --parts, the same for
   each of the workload's four loops alone (-DPARTS), as time per round and ratio.
2. SeaBIOS (Debian's bios.bin) time from process start to its first boot attempt
   ("Booting from" on the debug console at port 0x402), both with the devices of
   QEMU's -nodefaults (no display adapter, no USB controller).

Times are the best of --repeat runs, both wall clock and CPU time (user + system of
all the emulator's threads; steadier on a shared machine). Not a test: prints
figures only.

Usage: bench/cpu/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386] [--repeat 3]
                        [--rounds 32] [--parts]
"""
import argparse
import os
import resource
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INSNS_PER_ROUND = 29487301


PARTS = ((1, "ALU"), (2, "memory"), (4, "calls"), (8, "branches"))


def build(tmp, rounds, parts=15):
    out = os.path.join(tmp, "workload-%d-%d.bin" % (rounds, parts))
    subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/",
                    "-I", os.path.join(ROOT, "tests/guests/cpu") + "/", "-DROUNDS=%d" % rounds,
                    "-DPARTS=%d" % parts,
                    "-o", out, os.path.join(HERE, "workload.asm")], check=True)
    return out


def vireo_cmd(vireo, image, accel="interp"):
    return [vireo, "-accel", accel, "-display", "none", "-serial", "stdio",
            "-device", "isa-debug-exit", "-bios", image]


def qemu_cmd(qemu, image):
    return [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-bios", image]


def cpu_time():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, repeat):
    """Best wall time, best CPU time (user + system, all threads) and the output."""
    best, best_cpu, out = None, None, ""
    for _ in range(repeat):
        t0, c0 = time.monotonic(), cpu_time()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        t, ct = time.monotonic() - t0, cpu_time() - c0
        out = p.stdout.decode("latin-1")
        if p.returncode != 33:
            sys.exit("benchmark guest failed under %s (status %d):\n%s" % (cmd[0], p.returncode, out))
        best = t if best is None else min(best, t)
        best_cpu = ct if best_cpu is None else min(best_cpu, ct)
    return best, best_cpu, out


def checksum(out):
    m = re.search(r"bench: checksum ([0-9a-f]{8})", out)
    return m.group(1) if m else None


def first_boot_attempt(cmd, log, repeat):
    best = None
    for _ in range(repeat):
        if os.path.exists(log):
            os.unlink(log)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        t = None
        while p.poll() is None and time.monotonic() - t0 < 120:
            try:
                with open(log, "rb") as f:
                    # With no drive Vireo's bootorder ends in HALT: SeaBIOS says
                    # "No bootable device" where QEMU's tries its floppy first.
                    text = f.read()
                    if b"Booting from" in text or b"No bootable device" in text:
                        t = time.monotonic() - t0
                        break
            except FileNotFoundError:
                pass
            time.sleep(0.002)
        p.terminate()
        p.wait()
        if t is None:
            sys.exit("SeaBIOS did not reach a boot attempt under %s" % cmd[0])
        best = t if best is None else min(best, t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=32, help="extra rounds of the long run (default 32)")
    ap.add_argument("--parts", action="store_true", help="also time each of the four loops alone")
    ap.add_argument("--accel", action="append",
                    help="Vireo back end to measure (repeatable; default interp), e.g. --accel interp --accel jit")
    o = ap.parse_args()
    o.accel = o.accel or ["interp"]
    if not os.path.exists(o.vireo):
        sys.exit("no %s: build first (make build)" % o.vireo)
    have_qemu = shutil.which(o.qemu) is not None

    with tempfile.TemporaryDirectory() as tmp:
        n_long = 4 + o.rounds
        w4, w8 = build(tmp, 4), build(tmp, n_long)
        insns = o.rounds * INSNS_PER_ROUND
        rows = []
        for accel in o.accel:
            v4, vc4, out = timed(vireo_cmd(o.vireo, w4, accel), o.repeat)
            v8, vc8, out8 = timed(vireo_cmd(o.vireo, w8, accel), o.repeat)
            v_mips, v_cmips = insns / (v8 - v4) / 1e6, insns / (vc8 - vc4) / 1e6
            rows.append(("vireo -accel " + accel, v4, v8, v_mips, v_cmips, checksum(out8)))
        if have_qemu:
            q4, qc4, _ = timed(qemu_cmd(o.qemu, w4), o.repeat)
            q8, qc8, qout = timed(qemu_cmd(o.qemu, w8), o.repeat)
            q_mips, q_cmips = insns / (q8 - q4) / 1e6, insns / (qc8 - qc4) / 1e6
            rows.append(("qemu-system-i386 -accel tcg", q4, q8, q_mips, q_cmips, checksum(qout)))
        print("Integer workload (%d instructions per round; ROUNDS=4 and %d)" % (INSNS_PER_ROUND, n_long))
        print("  %-28s %8s %8s %10s %10s  %s" % ("", "4 rounds", "%d rounds" % n_long, "MIPS wall", "MIPS cpu",
                                                "checksum"))
        for name, a, b, mips, cmips, cs in rows:
            print("  %-28s %7.2fs %7.2fs %10.1f %10.1f  %s" % (name, a, b, mips, cmips, cs))
        if len(set(r[5] for r in rows)) != 1:
            sys.exit("checksums differ: the back ends computed different results")
        if have_qemu:
            q = rows[-1]
            for r in rows[:-1]:
                print("  ratio %s / qemu tcg: %.2f (wall), %.2f (cpu time)" % (r[0][len("vireo -accel "):], r[3] / q[3], r[4] / q[4]))
        if o.parts:
            # Each loop alone: CPU time per round (the best of --repeat, long minus short
            # over the extra rounds); ratio = QEMU's time / Vireo's (above 1: Vireo faster).
            print("Each loop alone (CPU ms per round, %s)" % o.accel[0])
            for mask, name in PARTS:
                a, b = build(tmp, 4, mask), build(tmp, n_long, mask)
                _, va, vout = timed(vireo_cmd(o.vireo, a, o.accel[0]), o.repeat)
                _, vb, _ = timed(vireo_cmd(o.vireo, b, o.accel[0]), o.repeat)
                line = "  %-10s vireo %7.2f" % (name, (vb - va) / o.rounds * 1e3)
                if have_qemu:
                    _, qa, qout = timed(qemu_cmd(o.qemu, a), o.repeat)
                    _, qb, _ = timed(qemu_cmd(o.qemu, b), o.repeat)
                    if checksum(qout) != checksum(vout):
                        sys.exit("checksums differ on the %s loop" % name)
                    line += "   qemu %7.2f   ratio %.2f" % ((qb - qa) / o.rounds * 1e3, (qb - qa) / (vb - va))
                print(line)

        bios = "/usr/share/seabios/bios.bin"
        if os.path.exists(bios):
            log = os.path.join(tmp, "debugcon.txt")
            # The device set of QEMU's -nodefaults below: no display adapter and no USB
            # controller (SeaBIOS waits about 95 ms for the UHCI's ports, and runs the
            # VGA BIOS's mode set, where there is one).
            vb = first_boot_attempt([o.vireo, "-accel", o.accel[0], "-m", "128", "-display", "none",
                                     "-machine", "usb=off", "-vga", "none",
                                     "-serial", "null", "-debugcon", "file:" + log], log, o.repeat)
            print("SeaBIOS to its first boot attempt")
            print("  %-28s %7.3fs" % ("vireo -accel " + o.accel[0], vb))
            if have_qemu:
                qb = first_boot_attempt([o.qemu, "-accel", "tcg", "-nodefaults", "-m", "128", "-display", "none",
                                         "-serial", "null", "-bios", bios,
                                         "-global", "isa-debugcon.iobase=0x402", "-debugcon", "file:" + log],
                                        log, o.repeat)
                print("  %-28s %7.3fs" % ("qemu-system-i386 -accel tcg", qb))
                print("  ratio %s / qemu tcg (time): %.2f" % (o.accel[0], vb / qb))
        if not have_qemu:
            print("(%s not found: install qemu-system-x86 for the comparison)" % o.qemu)


if __name__ == "__main__":
    main()
