#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Snapshot tree benchmark: the pause a user sees when taking a snapshot of a running VM
and reverting to it (Vireo's x-snapshot-tree-take / -revert on a library VM: VM state
file, thumbnail, new qcow2 overlays) against QEMU's savevm / loadvm on the same guest in
the same run: Debian's i386 kernel with the Linux kit's demo initramfs, idle at its
shell prompt, -accel tcg, an empty 1 GiB qcow2 hard disk. The pause is the wall clock
of the QMP command (both emulators keep the VM paused for the whole command). After
each revert the snapshot is deleted (untimed; QEMU: delvm) so every round starts alike.

  bench/snaptree/run.py --vireo build/app/vireo-run --kit build/linux-kit [--repeat 5] [--mem 256]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "savevm"))
from run import Emu, Failure  # noqa: E402


def timed(emu, cmd, args):
    t0 = time.monotonic()
    emu.sock.sendall(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
    while True:
        out = emu.message(600)
        if "event" in out:
            continue
        if "error" in out:
            raise Failure("%s: %s" % (cmd, out["error"].get("desc")))
        out = out["return"]
        break
    return time.monotonic() - t0, out


def run_vireo(o, mem, tmp, log):
    root = os.path.join(tmp, "data")
    vmdir = os.path.join(root, "vireo", "vms", "bench")
    os.makedirs(vmdir)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(vmdir, "disk.qcow2"), "1G"], check=True)
    k = os.path.abspath(o.kit)
    serial = os.path.join(tmp, "vireo.serial")
    with open(os.path.join(vmdir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=%d\naccel=tcg\nkernel=%s\ninitrd=%s\nappend=console=ttyS0\nserial=file:%s\n\n"
                "[drives]\nhda=disk.qcow2\n" % (mem, os.path.join(k, "vmlinuz"), os.path.join(k, "initrd-demo.img"), serial))
    qmp = os.path.join(tmp, "vireo.qmp")
    env = dict(os.environ, XDG_DATA_HOME=root)
    cmd = [o.vireo, "--vm", "bench", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % qmp]
    print("vireo: " + " ".join(cmd), file=log, flush=True)
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = root
    try:
        emu = Emu(cmd, serial, qmp, log)
    finally:
        if old is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = old
    res = {"take": [], "revert": [], "size": []}
    try:
        emu.wait_prompt(o.timeout)
        time.sleep(o.settle)
        for rep in range(o.repeat):
            tt, r = timed(emu, "x-snapshot-tree-take", {"name": "s%d" % rep})
            sid = r["id"]
            size = [n for n in emu.command("x-snapshot-tree-list") if n["id"] == sid][0]["vm-state-size"]
            tr, _ = timed(emu, "x-snapshot-tree-revert", {"id": sid})
            emu.command("x-snapshot-tree-delete", id=sid)
            res["take"].append(tt)
            res["revert"].append(tr)
            res["size"].append(size)
            print("  vireo -m %4d rep %d: take %.3f s, state %.1f MiB, revert %.3f s" % (mem, rep + 1, tt, size / 2**20, tr), flush=True)
        res["alive"] = emu.command("query-status").get("status") == "running"
    finally:
        emu.close()
    return res


def run_qemu(o, mem, tmp, log):
    disk = os.path.join(tmp, "qemu.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1G"], check=True)
    k = os.path.abspath(o.kit)
    serial = os.path.join(tmp, "qemu.serial")
    qmp = os.path.join(tmp, "qemu.qmp")
    cmd = [o.qemu, "-accel", "tcg", "-display", "none", "-nodefaults", "-vga", "std", "-serial", "file:" + serial,
           "-qmp", "unix:%s,server=on,wait=off" % qmp, "-m", str(mem), "-kernel", os.path.join(k, "vmlinuz"),
           "-initrd", os.path.join(k, "initrd-demo.img"), "-append", "console=ttyS0", "-hda", disk]
    print("qemu: " + " ".join(cmd), file=log, flush=True)
    emu = Emu(cmd, serial, qmp, log)
    res = {"take": [], "revert": [], "size": []}
    try:
        emu.wait_prompt(o.timeout)
        time.sleep(o.settle)
        for rep in range(o.repeat):
            tt, _ = emu.hmp("savevm s1")
            info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", disk], stdout=subprocess.PIPE,
                                             text=True, check=True).stdout)
            size = [s for s in info["snapshots"] if s["name"] == "s1"][0]["vm-state-size"]
            tr, _ = emu.hmp("loadvm s1")
            emu.hmp("delvm s1")
            res["take"].append(tt)
            res["revert"].append(tr)
            res["size"].append(size)
            print("  qemu  -m %4d rep %d: savevm %.3f s, state %.1f MiB, loadvm %.3f s" % (mem, rep + 1, tt, size / 2**20, tr), flush=True)
        res["alive"] = emu.command("query-status").get("status") == "running"
    finally:
        emu.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default="build/app/vireo-run")
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--kit", default="build/linux-kit")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--settle", type=float, default=2.0)
    o = ap.parse_args()
    if not os.path.exists(os.path.join(o.kit, "initrd-demo.img")):
        sys.exit("%s has no initrd-demo.img: run sh tests/guests/linux/mkkit.sh %s" % (o.kit, o.kit))
    print("load average at the start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    got = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="vireo-bench-snaptree-") as tmp:
        log = open(os.path.join(tmp, "emulators.log"), "w+")
        for name, fn in (("vireo", run_vireo), ("qemu", run_qemu)):
            try:
                got[name] = fn(o, o.mem, tmp, log)
                ok = ok and got[name]["alive"]
                print("  %s: the VM %s after the last revert" % (name, "runs" if got[name]["alive"] else "IS NOT RUNNING"))
            except Failure as e:
                ok = False
                log.seek(0)
                print("  %s FAILED: %s\n%s" % (name, e, log.read()[-2000:]))
    print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print()
    print("medians of %d, -m %d, wall clock of the QMP command (the VM is paused throughout); "
          "ratio = vireo / qemu" % (o.repeat, o.mem))
    print("| measure | vireo (snapshot tree) | qemu (savevm/loadvm) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for key, label, fmt, scale in (("take", "take / savevm", "%.3f s", 1), ("size", "VM state", "%.1f MiB", 2**20),
                                   ("revert", "revert / loadvm", "%.3f s", 1)):
        med = {n: statistics.median(got[n][key]) / scale for n in got}
        cells = [fmt % med[n] if n in med else "failed" for n in ("vireo", "qemu")]
        ratio = "%.2f" % (med["vireo"] / med["qemu"]) if len(med) == 2 and med["qemu"] else ""
        print("| %s | %s | %s | %s |" % (label, cells[0], cells[1], ratio))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
