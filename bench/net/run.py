#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Network throughput through -netdev user: Vireo against qemu-system-i386 with the same
card, kernel and initramfs (the Linux kit's initrd-net.img, tests/guests/linux/mknet.sh),
one run each, in this order, on the same machine:
  fetch  the guest's wget of an N MiB file from an HTTP server on the host's loopback
         (host to guest), timed by the guest's /proc/uptime around wget;
  echo   1 MiB sent to the guest's busybox nc -e cat through hostfwd and back (both
         directions at once), timed on the host.
Usage: run.py --vireo build/app/vireo-run --kit build/linux-kit [--card e1000|virtio-net-pci|...]
              [--mib 16] [--accel tcg] [--qemu qemu-system-i386]"""
import argparse
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "guests"))
import net  # noqa: E402  (the test's HTTP server and echo client)


def wait_serial(path, proc, pattern, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                m = re.search(pattern, f.read().decode("latin-1"), re.M)
            if m:
                return m
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            sys.exit("the emulator exited (%d) before /%s/" % (proc.returncode, pattern))
        time.sleep(0.05)
    sys.exit("timed out waiting for /%s/ in %s" % (pattern, path))


def run_one(name, cmd, serial, blob_hash, blob_len, fwd_port, timeout):
    print("running:", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        m = wait_serial(serial, proc, r"VIREO-NET-(FETCH (\S+) (\d+) in ([0-9.]+)\.\.([0-9.]+) s|FAILED.*)", timeout)
        if m.group(2) != blob_hash or int(m.group(3)) != blob_len:
            sys.exit("%s: the fetch went wrong: %s" % (name, m.group(0)))
        fetch = float(m.group(5)) - float(m.group(4))
        wait_serial(serial, proc, r"VIREO-NET-ECHO-READY", timeout)
        data = random.Random(1).randbytes(1 << 20)
        t0 = time.monotonic()
        back = net.echo_through(fwd_port, data)
        echo = time.monotonic() - t0
        if back != data:
            sys.exit("%s: the echo came back wrong" % name)
        wait_serial(serial, proc, r"VIREO-NET-ECHO2-READY", timeout)
        net.echo_through(fwd_port, b"x")
        # The guest powers off once the host connects a last time (init-net.sh).
        wait_serial(serial, proc, r"VIREO-NET-DONE", timeout)
        socket.create_connection(("127.0.0.1", fwd_port), timeout=30).close()
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return fetch, echo


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--kit", required=True)
    ap.add_argument("--card", default="e1000", choices=sorted(net.CARDS))
    ap.add_argument("--mib", type=int, default=16)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--timeout", type=float, default=900)
    opts = ap.parse_args()
    if not shutil.which(opts.qemu):
        sys.exit("%s is not installed (Debian package qemu-system-x86)" % opts.qemu)
    tests = os.path.join(HERE, "..", "..", "tests", "guests", "linux")
    for script in ("mkkit.sh", "mknet.sh"):
        if subprocess.run(["sh", os.path.join(tests, script), opts.kit]).returncode:
            sys.exit("%s failed" % script)
    blob = random.Random(17).randbytes(opts.mib << 20)
    srv, http_port = net.serve_blob(blob)
    blob_hash = hashlib.sha256(blob).hexdigest()
    driver = net.CARDS[opts.card][0]
    # no_timer_check: on a loaded host QEMU's TCG can fail Linux's IO-APIC timer check.
    append = "console=ttyS0 no_timer_check %s vireo.http=%d vireo.echo=7777" % (driver, http_port)
    results = {}
    with tempfile.TemporaryDirectory(prefix="vireo-bench-net-") as tmp:
        for name, prog in (("vireo", opts.vireo), ("qemu", opts.qemu)):
            serial = os.path.join(tmp, name + ".txt")
            fwd = net.free_port()
            cmd = [prog, "-accel", opts.accel, "-m", "256", "-display", "none", "-serial", "file:" + serial,
                   "-kernel", os.path.join(opts.kit, "vmlinuz"), "-initrd", os.path.join(opts.kit, "initrd-net.img"),
                   "-append", append, "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:7777" % fwd,
                   "-device", "%s,netdev=n0" % opts.card]
            if name == "qemu":
                cmd += ["-nodefaults", "-no-reboot"]
            results[name] = run_one(name, cmd, serial, blob_hash, len(blob), fwd, opts.timeout)
    srv.shutdown()
    mib = opts.mib
    print("\n%s, -accel %s, %d MiB fetch, 1 MiB echo" % (opts.card, opts.accel, mib))
    print("| case | vireo | qemu | vireo/qemu (throughput) |")
    print("| --- | ---: | ---: | ---: |")
    fv, fq = results["vireo"][0], results["qemu"][0]
    ev, eq = results["vireo"][1], results["qemu"][1]
    print("| fetch (host to guest), MiB/s | %.2f | %.2f | %.2f |" % (mib / fv, mib / fq, fq / fv))
    print("| echo (both ways), MiB/s | %.2f | %.2f | %.2f |" % (1 / ev, 1 / eq, eq / ev))


if __name__ == "__main__":
    main()
