#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs vireo-run on a guest and checks what the guest showed: its exit status (through
isa-debug-exit), text on the serial port and on the debug console.

Exit codes: 0 pass, 1 fail, 77 skip (meson's convention), with the reason printed.
"""
import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def kvm_usable():
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm on this host"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not accessible to this user"
    return None


def kvm_is_pvm():
    """A paravirtual KVM host (PVM) runs only small real-mode and 32-bit guests."""
    if os.path.isdir("/sys/module/kvm_pvm"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " vmx" not in flags and " svm" not in flags


def accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm"]
    if accel == "kvm-userirq":
        return ["-accel", "kvm,kernel-irqchip=off"]
    return ["-accel", accel]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except FileNotFoundError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="kvm")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--expect-exit", type=int, default=None,
                    help="exit status vireo-run must end with")
    ap.add_argument("--serial-has", action="append", default=[],
                    help="regular expression the serial output must match")
    ap.add_argument("--serial-lacks", action="append", default=[])
    ap.add_argument("--serial-has-lines-of", default=None, metavar="FILE",
                    help="every line of FILE must appear verbatim in the serial output "
                         "(@KIT@ names the Linux kit)")
    ap.add_argument("--debugcon-has", action="append", default=[])
    ap.add_argument("--debugcon-lacks", action="append", default=[])
    ap.add_argument("--stop-on-debugcon", default=None,
                    help="end the VM as soon as the debug console matches this")
    ap.add_argument("--stop-on-serial", default=None,
                    help="end the VM as soon as the serial output matches this")
    ap.add_argument("--check-rtc-date", action="store_true",
                    help="serial 'RTC YYYY-MM-DD hh:mm:ss' must be the host's local time")
    ap.add_argument("--keep-debugcon", default=None, help="copy the debug console log here")
    ap.add_argument("--needs-full-kvm", default=None, metavar="WHY",
                    help="skip under a paravirtual KVM (PVM), which cannot run WHY")
    ap.add_argument("--linux-kit", default=None, metavar="DIR",
                    help="build the Linux boot kit in DIR first; @KIT@ in arguments names it")
    ap.add_argument("--linux-kit-amd64", action="store_true",
                    help="with --linux-kit: the amd64 kernel and initramfs too (@KIT@/amd64)")
    ap.add_argument("--needs-file", action="append", default=[], metavar="PATH",
                    help="skip when PATH does not exist (a guest from a Debian package)")
    ap.add_argument("args", nargs="*", help="more vireo-run arguments (after --)")
    o = ap.parse_args()

    for path in o.needs_file:
        if not os.path.exists(path):
            print("SKIP: %s is missing (scripts/setup-deps.sh test installs it)" % path)
            return SKIP

    if o.accel.startswith("kvm"):
        why = kvm_usable()
        if why:
            print("SKIP: %s" % why)
            return SKIP
        if o.needs_full_kvm and kvm_is_pvm():
            print("SKIP: this host's KVM is paravirtual (PVM) and cannot run %s" % o.needs_full_kvm)
            return SKIP

    if o.linux_kit:
        here = os.path.dirname(os.path.abspath(__file__))
        r = subprocess.run(["sh", os.path.join(here, "guests", "linux", "mkkit.sh"), o.linux_kit] +
                           (["--amd64"] if o.linux_kit_amd64 else []))
        if r.returncode == SKIP:
            return SKIP
        if r.returncode != 0:
            print("FAIL: building the Linux boot kit failed")
            return 1
        o.args = [a.replace("@KIT@", o.linux_kit) for a in o.args]
        if o.serial_has_lines_of:
            o.serial_has_lines_of = o.serial_has_lines_of.replace("@KIT@", o.linux_kit)

    with tempfile.TemporaryDirectory() as tmp:
        serial = os.path.join(tmp, "serial.txt")
        debugcon = os.path.join(tmp, "debugcon.txt")
        cmd = [o.vireo] + accel_args(o.accel) + [
            "-display", "none", "-serial", "file:" + serial,
            "-debugcon", "file:" + debugcon, "-device", "isa-debug-exit"] + o.args
        print("running:", " ".join(cmd), flush=True)
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        stopped_early = False
        timed_out = False
        while p.poll() is None:
            if time.monotonic() - start > o.timeout:
                timed_out = True
                break
            if o.stop_on_debugcon and re.search(o.stop_on_debugcon, read(debugcon)):
                stopped_early = True
                break
            if o.stop_on_serial and re.search(o.stop_on_serial, read(serial)):
                stopped_early = True
                break
            time.sleep(0.05)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        elapsed = time.monotonic() - start
        out = p.stdout.read().decode("latin-1")
        ser = read(serial)
        dbg = read(debugcon)
        if o.keep_debugcon:
            with open(o.keep_debugcon, "w") as f:
                f.write(dbg)

    failures = []
    if timed_out:
        failures.append("timed out after %.0f s" % o.timeout)
    if not stopped_early and not timed_out and o.expect_exit is not None \
            and p.returncode != o.expect_exit:
        failures.append("exit status %d, expected %d" % (p.returncode, o.expect_exit))
    for rx in o.serial_has:
        if not re.search(rx, ser, re.M):
            failures.append("serial output lacks /%s/" % rx)
    if o.serial_has_lines_of:
        lines = set(ser.replace("\r", "").splitlines())
        with open(o.serial_has_lines_of) as f:
            for want in f.read().splitlines():
                if want.strip() and want not in lines:
                    failures.append("serial output lacks the line %r" % want)
    for rx in o.serial_lacks:
        if re.search(rx, ser, re.M):
            failures.append("serial output has /%s/" % rx)
    for rx in o.debugcon_has:
        if not re.search(rx, dbg, re.M):
            failures.append("debug console lacks /%s/" % rx)
    for rx in o.debugcon_lacks:
        if re.search(rx, dbg, re.M):
            failures.append("debug console has /%s/" % rx)
    if o.check_rtc_date:
        m = re.search(r"RTC (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)", ser)
        if not m:
            failures.append("no RTC time printed")
        else:
            guest = datetime.datetime(*map(int, m.groups()))
            now = datetime.datetime.now()
            if abs((now - guest).total_seconds()) > 120:
                failures.append("guest RTC %s is far from host local time %s" % (guest, now))

    print("elapsed %.2f s, exit status %s" % (elapsed, p.returncode))
    if out.strip():
        print("--- vireo-run output ---\n" + out.rstrip())
    if ser.strip():
        print("--- serial ---\n" + ser.rstrip()[-4000:])
    if failures:
        if dbg.strip():
            print("--- debug console (tail) ---\n" + dbg.rstrip()[-3000:])
        for f in failures:
            print("FAIL:", f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
