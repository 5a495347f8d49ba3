#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`make run` without a display, as a user at a terminal sees it: scripts/run-demo.sh
(with DISPLAY and WAYLAND_DISPLAY unset, a library of its own) on a pseudo-terminal must
boot the demo VM to its shell prompt; `echo $((6*7))` typed there must print 42, and
`poweroff` must end vireo-run with status 0.

    demo-headless.py SOURCE_ROOT BUILD_DIR"""
import os
import pty
import re
import select
import shutil
import signal
import sys
import tempfile
import time

PROMPT = re.compile(rb"vireo-demo:[^\r\n]*# ")


class Terminal:
    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(argv[0], argv, env)
        self.seen = b""

    def expect(self, pattern, timeout, what):
        """Reads until pattern matches past what was already consumed; returns the match."""
        end = time.monotonic() + timeout
        while True:
            m = pattern.search(self.seen)
            if m:
                rest = self.seen[m.end():]
                got = self.seen[:m.end()]
                self.seen = rest
                return got
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s within %d s" % (what, timeout))
            r, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError("the terminal closed before %s" % what)
                self.seen += data

    def type(self, text):
        # One character at a time, as typed: the guest's UART has a 16-byte FIFO.
        for ch in text.encode():
            os.write(self.fd, bytes([ch]))
            time.sleep(0.01)

    def wait(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                select.select([self.fd], [], [], 0.2)
                os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.2)
        return None


def main():
    src, build = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="vireo-demo-tty-")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(XDG_DATA_HOME=tmp, TERM="xterm")
    term = Terminal(["sh", os.path.join(src, "scripts", "run-demo.sh"), build], env)
    log = b""
    try:
        start = time.monotonic()
        notice = term.expect(re.compile(rb"no display|boot kit could not be built"), 600,
                             "the 'no display' notice")
        if b"could not be built" in notice:
            print(term.seen.decode("latin-1"))
            print("SKIP: the Linux boot kit could not be built (see %s/linux-kit.log)" % build)
            return 77
        log += term.expect(PROMPT, 600, "shell prompt")
        print("shell prompt after %.1f s" % (time.monotonic() - start))
        term.type("echo $((6*7))\r")
        out = term.expect(PROMPT, 60, "prompt after echo")
        log += out
        lines = [ln.strip() for ln in out.decode("latin-1").splitlines()]
        if "42" not in lines:
            print(out.decode("latin-1"))
            print("FAIL: `echo $((6*7))` did not print 42")
            return 1
        print("echo $((6*7)) printed 42")
        term.type("poweroff\r")
        status = term.wait(120)
        if status != 0:
            print("FAIL: vireo-run ended with %s after poweroff" % status)
            return 1
        print("poweroff ended vireo-run with status 0")
        return 0
    except (TimeoutError, EOFError) as e:
        print("--- terminal (tail) ---")
        print((log + term.seen)[-3000:].decode("latin-1"))
        print("FAIL: %s" % e)
        return 1
    finally:
        try:
            os.kill(term.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
