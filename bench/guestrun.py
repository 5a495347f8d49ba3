# SPDX-License-Identifier: GPL-2.0-or-later
"""Running a firmware guest for the benchmarks that time whole runs (bench/smp,
bench/events): the best of several runs, as wall clock and as host CPU time."""
import os
import subprocess
import time


def timed(cmd, repeat, done):
    """Best wall-clock seconds of repeat runs of cmd, and the host CPU seconds (user +
    system, all threads) of that run: on a shared host the CPU time shows the work done,
    where the wall clock also shows how much of the cores was free. Each run must exit
    with status 33 (isa-debug-exit's pass) and print done (bytes)."""
    best = None
    for _ in range(repeat):
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        dt = time.monotonic() - t
        if code != 33 or done not in out:
            raise SystemExit("%s: exit %d\n%s" % (" ".join(cmd), code, out.decode(errors="replace")))
        if best is None or dt < best[0]:
            best = (dt, ru.ru_utime + ru.ru_stime)
    return best
