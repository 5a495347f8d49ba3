#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What QEMU users type, in vireo-run: vga= with -kernel, -rtc base=, -enable-kvm, -k,
-monitor stdio, QMP query-block / query-status / human-monitor-command, and
--print-qemu-command (QEMU runs the printed line, where it is installed).

The boot-info guest (a Linux-boot-protocol image whose setup code is the test) prints
the vid_mode word of its boot header and the BIOS's time of day, so each boot checks
what a kernel sees: vga=0x317 gives 0317, vga=ext FFFE, and with TZ at UTC+5 the RTC
reads UTC's hour with -rtc base=utc and five hours on with base=localtime.

usage: qemu-options.py VIREO-RUN VIREO-IMG BOOT-INFO-BIN"""
import datetime
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import TestFailure  # noqa: E402

PASS_STATUS = 33


def run(vireo, args, env=None, stdin_text=None, timeout=60, debug_exit=True):
    exit_dev = ["-device", "isa-debug-exit"] if debug_exit else []
    r = subprocess.run([vireo, "-display", "none"] + exit_dev + args,
                       input=(stdin_text or "").encode(), capture_output=True, timeout=timeout,
                       env=env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def boot_info(vireo, guest, tmp, append=None, extra=(), env=None):
    """Boots the guest; returns (vid_mode, hour, minute) and the UTC times around the run."""
    serial = os.path.join(tmp, "serial.txt")
    if os.path.exists(serial):
        os.unlink(serial)
    args = ["-m", "32", "-kernel", guest, "-serial", "file:" + serial] + list(extra)
    if append is not None:
        args += ["-append", append]
    before = datetime.datetime.now(datetime.timezone.utc)
    rc, out, err = run(vireo, args, env=env)
    after = datetime.datetime.now(datetime.timezone.utc)
    text = open(serial, encoding="latin-1").read() if os.path.exists(serial) else ""
    if rc != PASS_STATUS:
        raise TestFailure("boot-info %s %s: status %d\n%s%s%s" % (append, extra, rc, text, out, err))
    vm = re.search(r"VIDMODE ([0-9a-f]{4})", text)
    t = re.search(r"RTC ([0-9]{2}):([0-9]{2})", text)
    if not vm or not t:
        raise TestFailure("boot-info printed no VIDMODE/RTC lines:\n" + text)
    return int(vm.group(1), 16), int(t.group(1)), int(t.group(2)), before, after


def one_line_error(vireo, args, status, words, what):
    rc, out, err = run(vireo, args, timeout=20)
    lines = [l for l in err.splitlines() if l.strip()]
    if rc != status or len(lines) != 1 or words not in err:
        raise TestFailure("%s: status %d (want %d), stderr %r" % (what, rc, status, err))
    print("ok: %s: %s" % (what, lines[0]))


def check_vga(vireo, guest, tmp):
    for append, want in [(None, 0xffff), ("vga=0x317", 0x317), ("quiet vga=791 ro", 0x317),
                         ("vga=ext", 0xfffe), ("vga=ask", 0xfffd), ("vga=normal", 0xffff),
                         ("novga=1 vga=0x314", 0x314)]:
        mode, _, _, _, _ = boot_info(vireo, guest, tmp, append)
        if mode != want:
            raise TestFailure("-append %r: the kernel saw vid_mode %04x, not %04x" % (append, mode, want))
        print("ok: -append %r: vid_mode %04x" % (append, mode))
    one_line_error(vireo, ["-kernel", guest, "-append", "vga=big"], 2, "vga=big",
                   "a vga= that is no mode")


def check_rtc(vireo, guest, tmp):
    # Five hours east of UTC, without daylight saving time (POSIX signs are reversed).
    env = dict(os.environ, TZ="Etc/GMT-5")
    for extra, offset in [(["-rtc", "base=utc"], 0), (["-rtc", "base=localtime"], 5), ([], 5),
                          (["-rtc", "base=utc,clock=host,driftfix=slew"], 0)]:
        _, hour, minute, before, after = boot_info(vireo, guest, tmp, None, extra, env)
        seen = hour * 60 + minute
        ok = False
        for t in (before, after):
            shifted = t + datetime.timedelta(hours=offset)
            if abs(seen - (shifted.hour * 60 + shifted.minute)) <= 1:
                ok = True
        if not ok:
            raise TestFailure("%s: the guest's clock says %02d:%02d; UTC was %s" %
                              (extra or "no -rtc", hour, minute, before.strftime("%H:%M")))
        print("ok: %s: RTC %02d:%02d (UTC %s)" % (" ".join(extra) or "no -rtc", hour, minute,
                                                 before.strftime("%H:%M")))
    one_line_error(vireo, ["-kernel", guest, "-rtc", "base=2006-06-17"], 2, "base=utc",
                   "an -rtc base Vireo does not take")


def check_accel_and_keymap(vireo, guest, tmp):
    one_line_error(vireo, ["-enable-kvm", "-accel", "tcg", "-kernel", guest], 2,
                   "-enable-kvm", "-enable-kvm with another -accel")
    why = vmtest.kvm_skip_reason("kvm")
    if why:
        rc, out, err = run(vireo, ["-enable-kvm", "-kernel", guest, "-serial", "none"], timeout=20)
        if rc == PASS_STATUS or "kvm" not in err.lower():
            raise TestFailure("-enable-kvm without KVM: status %d, %r" % (rc, err))
        print("ok: -enable-kvm without usable KVM (%s): %s" % (why, err.strip()))
    else:
        mode, _, _, _, _ = boot_info(vireo, guest, tmp, "vga=0x101", ["-enable-kvm"])
        if mode != 0x101:
            raise TestFailure("-enable-kvm: vid_mode %04x" % mode)
        print("ok: -enable-kvm boots the guest under KVM")
    mode, _, _, _, _ = boot_info(vireo, guest, tmp, None, ["-k", "de"])
    print("ok: -k de is accepted")
    one_line_error(vireo, ["-k", "klingon", "-kernel", guest], 2, "-k klingon",
                   "an unknown keyboard layout")


def check_monitor(vireo, vimg, guest, tmp):
    disk = os.path.join(tmp, "disk.qcow2")
    subprocess.run([vimg, "create", "-q", "-f", "qcow2", disk, "8M"], check=True)
    floppy = os.path.join(tmp, "floppy.img")
    with open(floppy, "wb") as f:
        f.truncate(1474560)
    vmdk = os.path.join(tmp, "floppy.vmdk")
    if shutil.which("qemu-img"):
        subprocess.run(["qemu-img", "convert", "-O", "vmdk", floppy, vmdk], check=True)
        floppy_args = ["-drive", "file=%s,if=floppy,readonly=on" % vmdk]
        floppy_format = "vmdk"
    else:
        floppy_args = ["-drive", "file=%s,if=floppy,readonly=on" % floppy]
        floppy_format = "raw"
    commands = ["info status", "stop", "info status", "cont", "info status", "info block",
                "savevm first", "info snapshots", "loadvm first", "delvm first", "info snapshots",
                "frobnicate", "system_reset", "quit"]
    # Without isa-debug-exit the guest halts after printing and vireo-run runs on until
    # the monitor's quit; -S: the first status is prelaunch.
    rc, out, err = run(vireo, ["-S", "-kernel", guest, "-serial", "null", "-hda", disk,
                               "-monitor", "stdio"] + floppy_args,
                       stdin_text="\n".join(["cont", "stop"] + commands) + "\n", timeout=60,
                       debug_exit=False)
    if rc != 0:
        raise TestFailure("-monitor stdio: status %d\n%s%s" % (rc, out, err))
    replies = out.split("(qemu) ")
    # replies[0] is the banner; replies[i] answers the i-th line sent.
    sent = ["cont", "stop"] + commands
    answer = dict()
    for i, line in enumerate(sent):
        answer.setdefault(line, []).append(replies[i + 1] if i + 1 < len(replies) else "")
    want = [("info status", 0, "VM status: paused"), ("info status", 1, "VM status: paused"),
            ("info status", 2, "VM status: running"),
            ("info block", 0, "ide0-hd0: %s (qcow2)" % disk),
            ("info block", 0, "floppy0: %s (%s, read-only)" % (vmdk if floppy_format == "vmdk" else floppy, floppy_format)),
            ("info snapshots", 0, "first"), ("frobnicate", 0, "Error: unknown command")]
    for cmd, n, text in want:
        got = answer[cmd][n]
        if text not in got:
            raise TestFailure("-monitor stdio: %r (#%d) answered %r, not %r\nwhole output:\n%s"
                              % (cmd, n + 1, got, text, out))
        print("ok: monitor %r: %s" % (cmd, got.strip().splitlines()[0]))
    if "first" in answer["info snapshots"][1]:
        raise TestFailure("delvm left the snapshot: " + answer["info snapshots"][1])
    for cmd in ("savevm first", "loadvm first", "delvm first", "system_reset", "stop", "cont"):
        if answer[cmd][0].strip():
            raise TestFailure("monitor %r printed %r" % (cmd, answer[cmd][0]))
    check = subprocess.run(["qemu-img", "check", disk] if shutil.which("qemu-img")
                           else [vimg, "check", disk], capture_output=True)
    if check.returncode:
        raise TestFailure("the disk after savevm/delvm fails check: %s" % check.stdout)
    print("ok: quit ends vireo-run with status 0; the disk passes check")
    one_line_error(vireo, ["-nographic", "-monitor", "stdio", "-kernel", guest], 2,
                   "-monitor stdio", "-monitor stdio beside -nographic's serial port")
    one_line_error(vireo, ["-monitor", "tcp:1234", "-kernel", guest], 2, "-monitor tcp:1234",
                   "a monitor on something other than stdio")


def check_qmp(vireo, vimg, guest, tmp):
    disk = os.path.join(tmp, "qmp.qcow2")
    subprocess.run([vimg, "create", "-q", "-f", "qcow2", disk, "4M"], check=True)
    vm = vmtest.Vm(vireo, "tcg", ["-S", "-m", "32", "-kernel", guest, "-hda", disk, "-snapshot"], tmp)
    try:
        st = vm.command("query-status")
        if st["status"] != "prelaunch" or st["running"]:
            raise TestFailure("query-status under -S: %r" % st)
        blocks = vm.command("query-block")
        hd = [b for b in blocks if b["device"] == "ide0-hd0"]
        if len(hd) != 1 or hd[0]["removable"] or hd[0]["inserted"]["drv"] != "qcow2" or \
                hd[0]["inserted"].get("backing_file") != disk:
            raise TestFailure("query-block: %r" % blocks)
        print("ok: query-block: ide0-hd0 is a -snapshot overlay over %s" % hd[0]["inserted"]["backing_file"])
        vm.command("cont")
        st = vm.command("query-status")
        if st["status"] not in ("running", "shutdown"):
            raise TestFailure("query-status after cont: %r" % st)
        text = vm.command("human-monitor-command", **{"command-line": "info block"})
        if "ide0-hd0:" not in text or "Backing file:     %s" % disk not in text:
            raise TestFailure("human-monitor-command info block: %r" % text)
        print("ok: query-status %s; human-monitor-command 'info block' lists the overlay" % st["status"])
        vm.command("human-monitor-command", **{"command-line": "quit"})
        if vm.wait_exit(20) != 0:
            raise TestFailure("HMP quit through QMP did not end vireo-run with 0")
        print("ok: HMP quit through QMP ends vireo-run")
    finally:
        vm.close()


def check_print_qemu(vireo, guest, tmp):
    """--print-qemu-command: QEMU runs the printed line and its guest sees the same."""
    serial = os.path.join(tmp, "qemu-serial.txt")
    rc, out, err = run(vireo, ["--print-qemu-command", "-kernel", guest, "-append", "x vga=0x317",
                               "-serial", "file:" + serial, "-rtc", "base=utc", "-m", "64"])
    line = out.strip()
    if rc != 0 or not line.startswith("qemu-system-i386 ") or "\n" in line:
        raise TestFailure("--print-qemu-command: status %d, %r %r" % (rc, out, err))
    for want in ("-append 'x vga=0x317'", "-rtc base=utc", "-m 64M",
                 "-device isa-debug-exit,iobase=0xf4", "-display none"):
        if want not in line:
            raise TestFailure("--print-qemu-command lacks %r: %s" % (want, line))
    print("ok: --print-qemu-command: " + line)
    if not shutil.which("qemu-system-i386"):
        print("skip (part): qemu-system-i386 is not installed, the line was not run")
        return
    # QEMU with its TCG (KVM where the host has it, as the line asks) boots the guest.
    r = subprocess.run(["sh", "-c", line], capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, TZ="Etc/GMT-5"))
    text = open(serial, encoding="latin-1").read() if os.path.exists(serial) else ""
    now = datetime.datetime.now(datetime.timezone.utc)
    m = re.search(r"RTC ([0-9]{2}):", text)
    if r.returncode != PASS_STATUS or "VIDMODE 0317" not in text or not m or \
            int(m.group(1)) not in (now.hour, (now - datetime.timedelta(minutes=2)).hour):
        raise TestFailure("QEMU running the printed line: status %d, serial %r, %s"
                          % (r.returncode, text, r.stderr.decode(errors="replace")))
    print("ok: QEMU runs it: %s" % " ".join(text.split()))


def main():
    vireo, vimg, guest = sys.argv[1:4]
    with vmtest.temp_dir() as tmp:
        try:
            check_vga(vireo, guest, tmp)
            check_rtc(vireo, guest, tmp)
            check_accel_and_keymap(vireo, guest, tmp)
            check_monitor(vireo, vimg, guest, tmp)
            check_qmp(vireo, vimg, guest, tmp)
            check_print_qemu(vireo, guest, tmp)
        except TestFailure as e:
            print("FAIL:", e)
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
