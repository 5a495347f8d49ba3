#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs a command as on the CI hosts that have no /dev/kvm and cannot execute 32-bit
(i386) programs, on a development machine that has both (root only).

    python3 scripts/ci-host-sim.py [--keep-kvm] [--keep-32bit] COMMAND [ARGS...]

/dev/kvm: the command gets a private mount namespace whose /dev is a copy without kvm.
32-bit programs: a seccomp filter kills any process making a system call through the
i386 ABI, so a 32-bit program dies at its first system call (SIGSYS) where the CI
kernel refuses it with "Exec format error"; either way it never runs.
Children inherit both, so `scripts/ci-host-sim.py make test` tests the whole suite."""
import ctypes
import os
import signal
import stat
import struct
import subprocess
import sys
import tempfile

AUDIT_ARCH_I386 = 0x40000003
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


def bpf(code, jt, jf, k):
    return struct.pack("=HBBI", code, jt, jf, k)


def forbid_i386_syscalls():
    """Kill every process that enters the kernel through the i386 system call ABI."""
    prog = (bpf(BPF_LD_W_ABS, 0, 0, 4) +                  # seccomp_data.arch
            bpf(BPF_JEQ_K, 0, 1, AUDIT_ARCH_I386) +
            bpf(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS) +
            bpf(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    buf = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit("ci-host-sim: prctl(PR_SET_NO_NEW_PRIVS): %s" % os.strerror(ctypes.get_errno()))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit("ci-host-sim: prctl(PR_SET_SECCOMP): %s" % os.strerror(ctypes.get_errno()))


def hide_kvm():
    """Replace /dev (in this mount namespace only) by a copy without kvm."""
    new = tempfile.mkdtemp(prefix="ci-host-dev-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "ci-host-dev", new], check=True)
    for name in os.listdir("/dev"):
        if name == "kvm":
            continue
        src, dst = os.path.join("/dev", name), os.path.join(new, name)
        st = os.lstat(src)
        if name == "ptmx":
            # As in containers: the copied node would not find the devpts instance.
            os.symlink("pts/ptmx", dst)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(dst)
            subprocess.run(["mount", "--rbind", src, dst], check=True)
        else:
            open(dst, "w").close()
            subprocess.run(["mount", "--bind", src, dst], check=True)
    subprocess.run(["mount", "--move", new, "/dev"], check=True)
    os.rmdir(new)


def main():
    args = sys.argv[1:]
    keep_kvm = "--keep-kvm" in args
    keep_32 = "--keep-32bit" in args
    args = [a for a in args if a not in ("--keep-kvm", "--keep-32bit", "--inner")]
    if not args:
        sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit("ci-host-sim: needs root (a mount namespace and a copy of /dev)")
    if "--inner" not in sys.argv and not keep_kvm:
        flags = [f for f, on in (("--keep-32bit", keep_32),) if on]
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              os.path.abspath(__file__), "--inner"] + flags + args)
    if not keep_kvm:
        hide_kvm()
    if not keep_32:
        forbid_i386_syscalls()
    # Python ignores SIGPIPE and exec keeps ignored signals: give the command the default.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
