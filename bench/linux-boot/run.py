#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Linux boot benchmark: the Linux kit (tests/guests/linux, Debian's i386 kernel and a
busybox initramfs running workload.sh) under vireo-run -accel tcg and under
qemu-system-i386 -accel tcg, alternating, REPS times each. For every run it notes the
host wall-clock seconds at which the serial console shows the boot marker and each
workload phase's end, then prints the medians and the Vireo/QEMU ratios.

  bench/linux-boot/run.py --vireo build/app/vireo-run --kit build/linux-kit [--reps 3]

With --media cdrom the same kernel and initramfs boot from the kit's ISOLINUX CD
(tests/guests/linux/mkmedia.sh builds linux-cd.iso) through the IDE CD-ROM instead of
-kernel, so the boot phase includes the firmware, ISOLINUX and reading the CD.

With --arch amd64 the kit's amd64 kernel and initramfs (mkkit.sh KIT --amd64: Debian's
amd64 kernel, busybox-static:amd64) boot on -cpu qemu64 in both, against
qemu-system-x86_64 -accel tcg.

Besides the phases it reports, per run: the CPU time (user + system of all threads)
and peak RSS of each emulator process; the guest's CPU seconds (user + system, from
busybox's time applet: workload.sh's VIREO-TIME lines) of each compute job, gzip,
md5sum, sha256sum and the shell arithmetic, beside the same workload.sh run natively
on the host by the kit's amd64 busybox (busybox-host, the same version; --native-reps
runs, medians); and with --jit-stats, Vireo's translation overhead from -d jit-stats
(blocks translated, bytes of host code, seconds translating, code-cache flushes).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# The workload's markers: after the fill, its four jobs (gzip, hashes, arithmetic) run at
# once and end together.
PHASES = ["boot", "fill", "jobs", "done"]


JOBS = ["gzip", "md5", "sha256", "arith"]


def job_times(text):
    """workload.sh's VIREO-TIME lines: job -> user + system seconds of its process."""
    out = {}
    for m in re.finditer(r"VIREO-TIME (\w+) ([\d.]+) ([\d.]+) ([\d.]+)", text):
        out[m.group(1)] = float(m.group(3)) + float(m.group(4))
    return out


def jit_stats(path):
    """Blocks translated, bytes of host code, seconds translating, cache flushes (all vCPUs)."""
    tot = {"blocks": 0, "bytes": 0, "seconds": 0.0, "flushes": 0}
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    found = False
    for m in re.finditer(r"translated (\d+) blocks \((\d+) bytes of host code, ([\d.]+) s\), (\d+) cache flushes",
                         text):
        found = True
        tot["blocks"] += int(m.group(1))
        tot["bytes"] += int(m.group(2))
        tot["seconds"] += float(m.group(3))
        tot["flushes"] += int(m.group(4))
    return tot if found else None


def native_jobs(busybox, reps):
    """workload.sh run on the host by the amd64 busybox: the medians of its jobs' times."""
    here = os.path.dirname(os.path.abspath(__file__))
    workload = os.path.join(here, "..", "..", "tests", "guests", "linux", "workload.sh")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        subprocess.run([busybox, "--install", "-s", bindir], check=False, stderr=subprocess.DEVNULL)
        for _ in range(reps):
            r = subprocess.run([busybox, "sh", "-c", ". '%s'" % os.path.abspath(workload)],
                               env={"PATH": bindir}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            t = job_times(r.stdout.decode("latin-1"))
            if len(t) == len(JOBS):
                runs.append(t)
    if not runs:
        return None
    return {j: statistics.median([r[j] for r in runs]) for j in JOBS}


def run_once(cmd, serial, timeout):
    start = time.monotonic()
    seen = {}
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    usage = None

    def reap(block):
        # wait4 rather than poll(): the rusage of this child alone (CPU time, peak RSS).
        nonlocal usage
        if usage is not None:
            return True
        pid, status, ru = os.wait4(p.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        usage = ru
        p.returncode = os.waitstatus_to_exitcode(status)
        return True

    while not reap(False) and time.monotonic() - start < timeout:
        try:
            with open(serial, "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            text = ""
        now = time.monotonic() - start
        for m in re.finditer(r"VIREO-PHASE (\w+) ", text):
            seen.setdefault(m.group(1), now)
        time.sleep(0.05)
    if not reap(False):
        p.kill()
        reap(True)
    total = time.monotonic() - start
    with open(serial, "rb") as f:
        text = f.read().decode("latin-1")
    # Markers printed just before the emulator exited (the last poll missed them).
    for m in re.finditer(r"VIREO-PHASE (\w+) ", text):
        seen.setdefault(m.group(1), total)
    ok = "VIREO-WORKLOAD-DONE" in text and "RESULT arith" in text
    # CPU time of all the emulator's threads (user + system), the figure that holds on
    # a shared machine where the wall clock moves with the load; peak RSS in MiB.
    return seen, total, ok, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, job_times(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--qemu", help="default qemu-system-i386, or qemu-system-x86_64 with --arch amd64")
    ap.add_argument("--kit", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--media", choices=["kernel", "cdrom"], default="kernel")
    ap.add_argument("--arch", choices=["i386", "amd64"], default="i386")
    ap.add_argument("--vireo-arg", action="append", default=[],
                    help="extra argument for vireo-run (repeatable), e.g. -d jit-stats")
    ap.add_argument("--jit-stats", action="store_true",
                    help="report Vireo's translation overhead (-d jit-stats -D FILE in each run)")
    ap.add_argument("--native-reps", type=int, default=1,
                    help="runs of the workload on the host by the kit's amd64 busybox (0: none)")
    o = ap.parse_args()
    k = os.path.abspath(o.kit)
    cpu_args = []
    if o.arch == "amd64":
        if o.media == "cdrom":
            sys.exit("--arch amd64 boots the kernel directly (no amd64 CD)")
        k = os.path.join(k, "amd64")
        if not os.path.exists(os.path.join(k, "vmlinuz")):
            sys.exit("%s/vmlinuz is missing: run tests/guests/linux/mkkit.sh %s --amd64" % (k, o.kit))
        cpu_args = ["-cpu", "qemu64"]
    if not o.qemu:
        o.qemu = "qemu-system-x86_64" if o.arch == "amd64" else "qemu-system-i386"
    if o.media == "cdrom":
        iso = os.path.join(k, "linux-cd.iso")
        if not os.path.exists(iso):
            sys.exit("%s is missing: run tests/guests/linux/mkmedia.sh %s build/app/vireo-img" % (iso, o.kit))
        common = ["-m", "256", "-cdrom", iso]
    else:
        common = ["-m", "256", "-kernel", os.path.join(k, "vmlinuz"), "-initrd",
                  os.path.join(k, "initrd-test.img"), "-append", "console=ttyS0"] + cpu_args
    results = {"vireo": [], "qemu": []}
    stats = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(o.reps):
            for name in ("vireo", "qemu"):
                serial = os.path.join(tmp, "%s-%d.txt" % (name, rep))
                stats_file = os.path.join(tmp, "jit-stats-%d.txt" % rep)
                if name == "vireo":
                    cmd = [o.vireo, "-accel", "tcg", "-display", "none", "-serial", "file:" + serial] + common + \
                        o.vireo_arg + (["-d", "jit-stats", "-D", stats_file] if o.jit_stats else [])
                else:
                    cmd = [o.qemu, "-accel", "tcg", "-display", "none", "-no-reboot",
                           "-serial", "file:" + serial] + common
                seen, total, ok, cpu, rss, jobs = run_once(cmd, serial, o.timeout)
                print("%s run %d: %s total %.1f s, CPU %.1f s, peak RSS %.0f MiB%s%s" % (
                    name, rep + 1, " ".join("%s %.1f" % (p, seen[p]) for p in PHASES if p in seen),
                    total, cpu, rss, "; guest CPU s " + " ".join("%s %.2f" % (j, jobs[j]) for j in JOBS if j in jobs)
                    if jobs else "", "" if ok else " (INCOMPLETE)"), flush=True)
                if name == "vireo" and o.jit_stats:
                    st = jit_stats(stats_file)
                    if st:
                        print("vireo run %d: translated %d blocks, %.1f MB of host code, %.2f s translating, "
                              "%d code-cache flushes" % (rep + 1, st["blocks"], st["bytes"] / 1e6, st["seconds"],
                                                         st["flushes"]), flush=True)
                        stats.append(st)
                if ok:
                    seen["cpu"] = cpu
                    seen["rss"] = rss
                    seen["jobtimes"] = jobs
                    results[name].append(seen)
    print()
    print("medians, host seconds (boot: to the init's marker; others: the phase alone)")
    print("| phase | vireo | qemu | vireo/qemu |")
    print("| --- | ---: | ---: | ---: |")
    for i, ph in enumerate(PHASES):
        med = {}
        for name, runs in results.items():
            vals = []
            for r in runs:
                if ph in r and (i == 0 or PHASES[i - 1] in r):
                    vals.append(r[ph] - (r[PHASES[i - 1]] if i else 0))
            med[name] = statistics.median(vals) if vals else None
        if med["vireo"] is not None and med["qemu"]:
            print("| %s | %.1f | %.1f | %.2f |" % (ph, med["vireo"], med["qemu"], med["vireo"] / med["qemu"]))
    tot = {n: statistics.median([r["done"] for r in runs if "done" in r])
           for n, runs in results.items() if any("done" in r for r in runs)}
    if len(tot) == 2:
        print("| total to done | %.1f | %.1f | %.2f |" % (tot["vireo"], tot["qemu"], tot["vireo"] / tot["qemu"]))
    cpu = {n: statistics.median([r["cpu"] for r in runs]) for n, runs in results.items() if runs}
    if len(cpu) == 2:
        print("| CPU time, whole run | %.1f | %.1f | %.2f |" % (cpu["vireo"], cpu["qemu"], cpu["vireo"] / cpu["qemu"]))
    elif cpu:
        print("CPU time, whole run: " + ", ".join("%s %.1f s" % kv for kv in cpu.items()))
    rss = {n: statistics.median([r["rss"] for r in runs]) for n, runs in results.items() if runs}
    if len(rss) == 2:
        print("| peak RSS, MiB | %.0f | %.0f | %.2f |" % (rss["vireo"], rss["qemu"], rss["vireo"] / rss["qemu"]))
    elif rss:
        print("peak RSS: " + ", ".join("%s %.0f MiB" % kv for kv in rss.items()))

    # The compute jobs against the same work native on the host.
    native = None
    bb = os.path.join(os.path.abspath(o.kit), "busybox-host")
    if o.native_reps > 0 and os.path.exists(bb):
        native = native_jobs(bb, o.native_reps)
    jobs = {}
    for n, runs in results.items():
        per = {j: [r["jobtimes"][j] for r in runs if j in r["jobtimes"]] for j in JOBS}
        jobs[n] = {j: statistics.median(v) for j, v in per.items() if v}
    if any(jobs.values()):
        print()
        print("compute jobs, the guest's CPU seconds (user + system of the job's process, busybox time)%s" %
              (" against the same work on the host (%s, median of %d)" % (bb, o.native_reps) if native else ""))
        print("| job | vireo | qemu | native | vireo/native | qemu/native |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")

        def cell(v, fmt="%.2f"):
            return fmt % v if v is not None else "-"
        for j in JOBS:
            v, q = jobs.get("vireo", {}).get(j), jobs.get("qemu", {}).get(j)
            nat = native.get(j) if native else None
            print("| %s | %s | %s | %s | %s | %s |" % (
                j, cell(v), cell(q), cell(nat), cell(v / nat if v is not None and nat else None, "%.1f"),
                cell(q / nat if q is not None and nat else None, "%.1f")))
    if stats:
        print()
        print("translation overhead (-d jit-stats), median of %d run(s)" % len(stats))
        print("| blocks translated | host code, MB | translating, s | code-cache flushes |")
        print("| ---: | ---: | ---: | ---: |")
        print("| %d | %.1f | %.2f | %d |" % (statistics.median([s["blocks"] for s in stats]),
                                             statistics.median([s["bytes"] for s in stats]) / 1e6,
                                             statistics.median([s["seconds"] for s in stats]),
                                             statistics.median([s["flushes"] for s in stats])))
    return 0 if results["vireo"] and results["qemu"] else 1


if __name__ == "__main__":
    sys.exit(main())
