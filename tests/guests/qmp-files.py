#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Files named over the control socket: a FIFO given to blockdev-change-medium or
screendump is refused at once (the main loop used to wait in open() for a writer);
screendump refuses a device, a symbolic link or a folder, writes through a temporary file
renamed over the target, and never removes a file it did not create (a failed write used
to unlink the target: as root, screendump /dev/full deleted the device node).

Each case runs in a VM of its own (vireo-run -S, nothing runs in the guest), so one that
hangs does not hide the others.

usage: qmp-files.py VIREO-RUN"""
import os
import resource
import signal
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402


def start(vireo, tmp, extra=()):
    # SIGXFSZ stays ignored in vireo-run, so a file size limit makes writes fail with
    # EFBIG instead of killing it.
    return vmtest.Vm(vireo, "interp", ["-S"] + list(extra), tmp,
                     popen_args={"restore_signals": False})


def error_of(vm, name, timeout=10, **args):
    """The error desc of a command that must fail within timeout seconds."""
    import json
    vm.raw(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
    msg = vm.reply(timeout)
    if "error" not in msg:
        raise vmtest.TestFailure("%s %s succeeded" % (name, args))
    return msg["error"]["desc"]


def case_medium_fifo(vm, d):
    fifo = os.path.join(d, "disk.img")
    os.mkfifo(fifo)
    desc = error_of(vm, "blockdev-change-medium", device="floppy0", filename=fifo)
    print("# blockdev-change-medium FIFO: %s" % desc)
    if "neither a regular file nor a block device" not in desc:
        raise vmtest.TestFailure("unexpected error: " + desc)
    vm.command("query-status")


def case_screendump_fifo(vm, d):
    fifo = os.path.join(d, "shot.ppm")
    os.mkfifo(fifo)
    desc = error_of(vm, "screendump", filename=fifo)
    print("# screendump FIFO: %s" % desc)
    if "FIFO" not in desc:
        raise vmtest.TestFailure("unexpected error: " + desc)
    vm.command("query-status")


def case_symlink(vm, d):
    victim = os.path.join(d, "victim.txt")
    with open(victim, "w") as f:
        f.write("keep")
    link = os.path.join(d, "shot.ppm")
    os.symlink(victim, link)
    desc = error_of(vm, "screendump", filename=link)
    print("# screendump symlink: %s" % desc)
    with open(victim) as f:
        if f.read() != "keep":
            raise vmtest.TestFailure("the symbolic link's target was overwritten")


def case_link_to_dev_full(vm, d):
    link = os.path.join(d, "shot.ppm")
    os.symlink("/dev/full", link)
    desc = error_of(vm, "screendump", filename=link)
    print("# screendump link to /dev/full: %s" % desc)
    if not os.path.islink(link):
        raise vmtest.TestFailure("the failed write removed the link it did not create")


def case_device_node(vm, d):
    """As root's screendump /dev/full, on a node of our own (needs CAP_MKNOD)."""
    node = os.path.join(d, "full")
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except OSError as e:
        print("# device node: skipped (mknod: %s)" % e.strerror)
        return
    desc = error_of(vm, "screendump", filename=node)
    print("# screendump device node: %s" % desc)
    if not os.path.exists(node) or not stat.S_ISCHR(os.lstat(node).st_mode):
        raise vmtest.TestFailure("the failed write removed the device node")


def case_write_failure(vm, d):
    old = os.path.join(d, "shot.ppm")
    with open(old, "w") as f:
        f.write("old picture")
    # The picture is 900 KB: with files limited to 4 KiB its write fails half-way.
    limit = resource.prlimit(vm.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(vm.proc.pid, resource.RLIMIT_FSIZE, (4096, limit[1]))
    try:
        desc = error_of(vm, "screendump", filename=old)
    finally:
        resource.prlimit(vm.proc.pid, resource.RLIMIT_FSIZE, limit)
    print("# screendump write failure: %s" % desc)
    if not os.path.exists(old):
        raise vmtest.TestFailure("the failed write removed the old picture")
    with open(old) as f:
        if f.read() != "old picture":
            raise vmtest.TestFailure("the failed write damaged the old picture")
    vm.command("screendump", filename=old)
    with open(old, "rb") as f:
        if not f.read(16).startswith(b"P6\n640 480\n255\n"):
            raise vmtest.TestFailure("a working screendump did not replace the old picture")
    left = sorted(set(os.listdir(d)) - {"shot.ppm"})
    if left:
        raise vmtest.TestFailure("files left behind: %s" % left)


CASES = [case_medium_fifo, case_screendump_fifo, case_symlink, case_link_to_dev_full,
         case_device_node, case_write_failure]


def main():
    vireo = sys.argv[1]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    failures = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "files")
            os.mkdir(d)
            floppy = os.path.join(tmp, "a.img")
            with open(floppy, "wb") as f:
                f.truncate(1474560)
            vm = None
            try:
                vm = start(vireo, tmp, ["-fda", floppy])
                case(vm, d)
                print("ok: %s" % case.__name__)
            except vmtest.TestFailure as e:
                print("FAIL: %s: %s" % (case.__name__, e))
                failures.append(case.__name__)
            finally:
                if vm:
                    vm.proc.kill()
                    vm.proc.wait()
    print("%d passed, %d failed" % (len(CASES) - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
