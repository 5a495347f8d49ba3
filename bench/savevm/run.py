#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""savevm / loadvm benchmark: Debian's i386 kernel with the Linux kit's demo initramfs,
idle at its shell prompt, under vireo-run -accel tcg and qemu-system-i386 -accel tcg,
with an empty 1 GiB qcow2 hard disk (-hda) that holds the snapshot and its VM state.
For each memory size (--mem, default 256 and 1024 MiB) each emulator boots once (they
alternate) and then, --repeat times: `savevm s1` (wall clock of the QMP
human-monitor-command, from sending it to its reply), the VM state size from
`qemu-img info -U --output=json` (vm-state-size), `loadvm s1` (wall clock likewise),
and an untimed `delvm s1` so that every save starts from an image without snapshots.
Prints the medians and the Vireo/QEMU ratios (below 1: Vireo faster / smaller).

  bench/savevm/run.py --vireo build/app/vireo-run --kit build/linux-kit [--repeat 3]

Needs the kit (sh tests/guests/linux/mkkit.sh build/linux-kit), qemu-system-i386 and
qemu-img (Debian package qemu-system-x86 and qemu-utils).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PROMPT = "vireo-demo:/# "


class Failure(Exception):
    pass


class Emu:
    """One emulator process, its serial console in a file and a QMP connection."""

    def __init__(self, cmd, serial, qmp_path, log):
        self.serial_path = serial
        self.log = log
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.buf = b""
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise Failure("%s exited with %d before its QMP socket opened" % (cmd[0], self.proc.returncode))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(qmp_path)
                self.sock = s
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise Failure("no QMP socket")
                time.sleep(0.05)
        self.message(30)  # greeting
        self.command("qmp_capabilities")

    def message(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no QMP reply in %d s" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise Failure("the QMP socket closed (status %s)" % self.proc.poll())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, timeout=600, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self.message(timeout)
            if "event" in msg:
                continue
            if "error" in msg:
                raise Failure("%s: %s" % (name, msg["error"].get("desc")))
            return msg["return"]

    def hmp(self, line):
        """Runs an HMP command; returns (seconds, its text). Error text is a failure."""
        t0 = time.monotonic()
        out = self.command("human-monitor-command", **{"command-line": line})
        dt = time.monotonic() - t0
        if out.strip().lower().startswith("error") or "rror:" in out:
            raise Failure("%s: %s" % (line, out.strip()))
        return dt, out

    def serial(self):
        try:
            with open(self.serial_path, "rb") as f:
                return f.read().decode("latin-1")
        except FileNotFoundError:
            return ""

    def wait_prompt(self, timeout):
        start = time.monotonic()
        while PROMPT not in self.serial():
            if self.proc.poll() is not None:
                raise Failure("exited (%d) before the prompt" % self.proc.returncode)
            if time.monotonic() - start > timeout:
                raise Failure("no prompt in %d s; serial tail:\n%s" % (timeout, self.serial()[-1000:]))
            time.sleep(0.1)
        return time.monotonic() - start

    def close(self):
        try:
            self.command("quit", timeout=30)
        except (Failure, OSError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()


def vm_state_size(disk, name):
    r = subprocess.run(["qemu-img", "info", "-U", "--output=json", disk], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise Failure("qemu-img info: " + r.stderr.strip())
    for s in json.loads(r.stdout).get("snapshots", []):
        if s.get("name") == name:
            return s.get("vm-state-size", 0)
    raise Failure("qemu-img info lists no snapshot %s" % name)


def run_one(name, cmd_of, mem, o, tmp, log):
    disk = os.path.join(tmp, "%s-%d.qcow2" % (name, mem))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1G"], check=True)
    serial = os.path.join(tmp, "%s-%d.serial" % (name, mem))
    qmp = os.path.join(tmp, "%s-%d.qmp" % (name, mem))
    k = os.path.abspath(o.kit)
    common = ["-m", str(mem), "-kernel", os.path.join(k, "vmlinuz"), "-initrd", os.path.join(k, "initrd-demo.img"),
              "-append", "console=ttyS0", "-hda", disk]
    cmd = cmd_of(serial, qmp) + common
    print("%s -m %d: %s" % (name, mem, " ".join(cmd)), file=log, flush=True)
    log.flush()
    emu = Emu(cmd, serial, qmp, log)
    res = {"save": [], "load": [], "size": []}
    try:
        boot = emu.wait_prompt(o.timeout)
        time.sleep(o.settle)  # let the boot's last console output and timers quiet down
        for rep in range(o.repeat):
            ts, _ = emu.hmp("savevm s1")
            size = vm_state_size(disk, "s1")
            tl, _ = emu.hmp("loadvm s1")
            emu.hmp("delvm s1")
            res["save"].append(ts)
            res["load"].append(tl)
            res["size"].append(size)
            print("  %-5s -m %4d rep %d: savevm %.3f s, state %.1f MiB, loadvm %.3f s" % (
                name, mem, rep + 1, ts, size / 2**20, tl), flush=True)
        # Both resume the guest after loadvm when it was running before.
        res["alive"] = emu.command("query-status").get("status") == "running"
    finally:
        emu.close()
    res["boot"] = boot
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default="build/app/vireo-run")
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--kit", default="build/linux-kit")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mem", type=int, action="append", help="MiB (repeatable; default 256 and 1024)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to the shell prompt")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds idle at the prompt before the first savevm")
    o = ap.parse_args()
    mems = o.mem or [256, 1024]
    if not os.path.exists(os.path.join(o.kit, "initrd-demo.img")):
        sys.exit("%s has no initrd-demo.img: run sh tests/guests/linux/mkkit.sh %s" % (o.kit, o.kit))

    def vireo_cmd(serial, qmp):
        return [o.vireo, "-accel", "tcg", "-display", "none", "-serial", "file:" + serial,
                "-qmp", "unix:%s,server=on,wait=off" % qmp]

    def qemu_cmd(serial, qmp):
        return [o.qemu, "-accel", "tcg", "-display", "none", "-nodefaults", "-vga", "std",
                "-serial", "file:" + serial, "-qmp", "unix:%s,server=on,wait=off" % qmp]

    emus = [("vireo", vireo_cmd), ("qemu", qemu_cmd)]
    print("load average at the start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    rows = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="vireo-bench-savevm-") as tmp:
        log = open(os.path.join(tmp, "emulators.log"), "w+")
        for mem in mems:
            got = {}
            for name, cmd_of in emus:
                try:
                    got[name] = run_one(name, cmd_of, mem, o, tmp, log)
                    print("  %-5s -m %4d: prompt after %.1f s; the VM %s after the last loadvm" % (
                        name, mem, got[name]["boot"], "runs" if got[name]["alive"] else "IS NOT RUNNING"),
                        flush=True)
                    ok = ok and got[name]["alive"]
                except Failure as e:
                    ok = False
                    log.seek(0)
                    print("  %s -m %d FAILED: %s\n%s" % (name, mem, e, log.read()[-2000:]), flush=True)
            rows.append((mem, got))
        log.close()
    print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print()
    print("medians of %d, wall clock of the QMP command; ratio = vireo / qemu (below 1: vireo faster/smaller)"
          % o.repeat)
    print("| RAM | measure | vireo | qemu | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    for mem, got in rows:
        for key, label, fmt, scale in (("save", "savevm s1", "%.3f s", 1), ("size", "VM state", "%.1f MiB", 2**20),
                                       ("load", "loadvm s1", "%.3f s", 1)):
            med = {n: statistics.median(got[n][key]) / scale for n in got}
            cells = [fmt % med[n] if n in med else "failed" for n in ("vireo", "qemu")]
            ratio = "%.2f" % (med["vireo"] / med["qemu"]) if len(med) == 2 and med["qemu"] else ""
            print("| %d MiB | %s | %s | %s | %s |" % (mem, label, cells[0], cells[1], ratio))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
