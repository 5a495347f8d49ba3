#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The device fuzzer's own test: faults injected half way through a run (a spinning
action, a deadlock, a crash, allocations that keep growing) must each fail the run
with a line saying what happened, the seed and the command that replays it, and the
last actions. A run without a fault passes, and the same seed replays the same
actions."""
import subprocess
import sys

FUZZ = sys.argv[1]
ARGS = ["--seed", "9", "--iterations", "1200", "--watchdog", "1", "--max-growth", "8"]
EXPECT = {
    "hang": "FAILED: hang: one action used more than the watchdog's CPU seconds",
    "wait": "FAILED: hang: one action waited ten times the watchdog's seconds",
    "crash": "FAILED:",
    "growth": "FAILED: host allocations grew by",
}

failures = []
for fault, expect in EXPECT.items():
    r = subprocess.run([FUZZ, *ARGS, "--inject", fault], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    wants = [expect, "replay with: fuzz-devices --seed 9 --iterations", "the last actions"]
    if fault != "growth":  # growth is seen at the next check, after the fault left the list
        wants.append("inject: " + fault)
    for want in wants:
        if want not in out:
            failures.append(f"--inject {fault}: no '{want}' in the output (exit status {r.returncode})")
    if r.returncode == 0:
        failures.append(f"--inject {fault}: the run passed")
    print(f"ok: --inject {fault}: exit status {r.returncode}")

runs = [subprocess.run([FUZZ, "--seed", "9", "--iterations", "1200", "--trace"], capture_output=True,
                       text=True, timeout=300) for _ in range(2)]
for r in runs:
    if r.returncode != 0 or "passed: 1 run(s) from seed 9" not in r.stdout:
        failures.append(f"a run without a fault failed (exit status {r.returncode}): {r.stderr[-500:]}")
# Timings aside, the two traces are the same actions.
traces = ["\n".join(l for l in r.stdout.splitlines() if l[:1].isdigit()) for r in runs]
if traces[0] != traces[1] or traces[0].count("\n") < 1200:
    failures.append("the same seed did not replay the same actions")
else:
    print(f"ok: seed 9 replays the same {traces[0].count(chr(10)) + 1} trace lines")

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
