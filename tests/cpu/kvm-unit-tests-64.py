#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-unit-tests for x86_64 as guests of our CPU, beside QEMU.

The pinned release kvm-unit-tests.py uses (its tarball checked against the release's
git tree hash), built with the host's gcc for x86_64: the flats run only as guests,
through vireo-run -kernel (Multiboot; each enters long mode by itself), with output on
COM1 and the result through isa-debug-exit at 0xf4, as x86/run does under QEMU.

Every x86_64 entry of x86/unittests.cfg that a PC without nested virtualization can run
is run with its -smp, -m and test arguments (the others are listed with the reason
they are left out). Each test's SUMMARY line gives its PASS/FAIL/SKIP counts; the
table has them per emulator. With 'qemu' in --accel the same entries run under
qemu-system-x86_64 -accel tcg with their qemu_params and the devices x86/run gives
(pc-testdev, pci-testdev).

CPU models: vireo-run's -cpu takes a model name without +feature/-feature or
vendor= options, so those are dropped. Vireo's qemu64 is AuthenticAMD like QEMU's,
and kvm-unit-tests' start-up clears the AMD K7 performance counters (MSRs
C001_0000h-C001_0007h) on AMD CPUs, which Vireo does not have (#GP): the entries
naming qemu64 or Opteron_G1 run with kvm64, the same features under GenuineIntel.
The model used is in the table.

--require NAME,...: those tests must pass (every check passed or skipped, at least one
passed) under each Vireo accelerator run, or the run fails: what our CPU passes now,
so a regression fails. Exit codes: 0 passed, 1 a failure, 77 skip (no download, no
gcc, no git)."""
import argparse
import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

_spec = importlib.util.spec_from_file_location(
    "kut32", os.path.join(os.path.dirname(os.path.abspath(__file__)), "kvm-unit-tests.py"))
kut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kut)

# Entries left out, by what they need (checked in this order on the entry's fields).
EXCLUDE = [
    (lambda e: e.get("accel") == "kvm", "KVM only (accel = kvm)"),
    (lambda e: "check" in e, "reads a KVM module parameter (check =)"),
    (lambda e: re.search(r"\b(vmx|svm)\b", e.get("groups", "")) or re.search(r"\+(vmx|svm)", e.get("qemu_params", "")),
     "nested virtualization"),
    (lambda e: re.search(r"-cpu host|-enable-kvm", e.get("qemu_params", "")), "the host CPU through KVM (-cpu host)"),
    (lambda e: re.search(r"-M q35", e.get("qemu_params", "")), "-M q35 with intel-iommu and the edu device"),
    (lambda e: "nodefault" in e.get("groups", "").split(), "manual runs only (nodefault)"),
]

# Vireo's model for the one named in qemu_params (see the docstring); None: the default.
VIREO_MODEL = {"qemu64": "kvm64", "Opteron_G1": "kvm64"}

SUMMARY = re.compile(r"SUMMARY: (\d+) tests(?:, (\d+) unexpected failures)?(?:, (\d+) known failures)?"
                     r"(?:, (\d+) expected failures)?(?:, (\d+) skipped)?")


def unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]
    return v


def load_entries(src):
    cfg = configparser.RawConfigParser(comment_prefixes=("#",), strict=False)
    cfg.read(os.path.join(src, "x86", "unittests.cfg"))
    entries, left_out = [], []
    for name in cfg.sections():
        e = {k: unquote(v) for k, v in cfg.items(name)}
        e["name"] = name
        if e.get("arch", "x86_64") != "x86_64":
            continue
        why = next((w for test, w in EXCLUDE if test(e)), None)
        if why:
            left_out.append((name, why))
        else:
            entries.append(e)
    return entries, left_out


def qemu_cpu(e):
    m = re.search(r"-cpu (\S+)", e.get("qemu_params", ""))
    return m.group(1) if m else None


def vireo_cpu(e):
    q = qemu_cpu(e)
    if q is None:
        return None
    base = q.split(",")[0]
    return VIREO_MODEL.get(base, base)


def mem_arg(e):
    m = re.search(r"-m (\S+)", e.get("qemu_params", ""))
    return m.group(1) if m else "128"


def test_args(e):
    # kvmclock_test's arguments end with `date +%s`, which x86/run's shell expands.
    return e.get("test_args", "").replace("`date +%s`", str(int(time.time())))


def command(accel, vireo, kernel, e, serial):
    common = ["-serial", "file:" + serial, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4",
              "-kernel", kernel, "-smp", e.get("smp", "1"), "-m", mem_arg(e)]
    args = test_args(e)
    if args:
        common += ["-append", args]
    if accel == "qemu":
        extra = re.sub(r"-m \S+", "", e.get("qemu_params", "")).split()
        return (["qemu-system-x86_64", "-nodefaults", "--no-reboot", "-accel", "tcg", "-display", "none",
                 "-device", "pc-testdev", "-device", "pci-testdev"] + common + extra)
    cmd = [vireo, "-accel", accel, "-display", "none", "-no-reboot"] + common
    model = vireo_cpu(e)
    return cmd + (["-cpu", model] if model else [])


def run_one(accel, vireo, src, e, timeout):
    """(counts or None, exit status, output) of one entry under one accelerator."""
    kernel = os.path.join(src, "x86", e["file"])
    with tempfile.TemporaryDirectory() as d:
        serial = os.path.join(d, "serial.txt")
        cmd = command(accel, vireo, kernel, e, serial)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
            status, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            status, err = None, "timed out after %d s" % timeout
        text = open(serial, errors="replace").read() if os.path.exists(serial) else ""
    m = SUMMARY.search(text)
    counts = None
    if m:
        n, fail, known, xfail, skipped = (int(g or 0) for g in m.groups())
        counts = (n - fail - known - xfail - skipped, fail + known + xfail, skipped)
    return counts, status, text + ("\n--- stderr ---\n" + err if err else "")


def passed(counts, status):
    # isa-debug-exit: status = code * 2 + 1; the test exits 0 (x86/run's PASS), 1 or
    # 77 >> 1 (SKIP). vmexit prints timings and no SUMMARY line.
    return status == 1 and (counts is None or counts[1] == 0)


def cell(counts, status, text):
    if counts:
        return "%d/%d/%d" % counts + ("" if status in (1, 77, 3) else " (exit %s)" % status)
    if passed(counts, status):
        return "PASS (no checks)"
    if status is None:
        return "timeout"
    m = re.search(r"Unhandled exception (\d+) (#\w+)", text) or re.search(r"(\S.*is not implemented yet)", text)
    if not m:
        m = re.search(r"(assert failed)", text)
    return "no summary (%s)" % (" ".join(m.groups()) if m else "exit %s" % status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="interp,tcg", help="comma list of interp, tcg, qemu")
    ap.add_argument("--work", required=True, help="download and build directory")
    ap.add_argument("--tarball", default=os.environ.get("VIREO_KUT_TARBALL"),
                    help="a copy of %s's tarball instead of downloading it" % kut.TAG)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per test")
    ap.add_argument("--only", help="comma list: run only these entries")
    ap.add_argument("--require", default="", help="comma list of entries that must pass under interp and tcg")
    ap.add_argument("--verbose", action="store_true", help="print the output of every test that does not pass")
    o = ap.parse_args()
    accels = o.accel.split(",")
    if "qemu" in accels and not shutil.which("qemu-system-x86_64"):
        print("qemu-system-x86_64 not installed: no comparison")
        accels.remove("qemu")
    src = kut.prepare(os.path.abspath(o.work), o.tarball, arch="x86_64")
    entries, left_out = load_entries(src)
    required = [r for r in o.require.split(",") if r]
    unknown = [r for r in required if r not in [e["name"] for e in entries]]
    if unknown:
        print("FAIL: required tests not in the selection:", ", ".join(unknown))
        return 1
    if o.only:
        wanted = o.only.split(",")
        entries = [e for e in entries if e["name"] in wanted]
    vireo = os.path.abspath(o.vireo)
    results, failed = {}, False
    for e in entries:
        for accel in accels:
            t = time.monotonic()
            counts, status, text = run_one(accel, vireo, src, e, o.timeout)
            ok = passed(counts, status)
            results[(e["name"], accel)] = (counts, status, text)
            print("%-24s %-7s %-28s %5.1f s" % (e["name"], accel, cell(counts, status, text), time.monotonic() - t),
                  flush=True)
            if accel != "qemu" and e["name"] in required and not ok:
                failed = True
                print("--- %s under %s (required) ---\n%s" % (e["name"], accel, text[-4000:]))
            elif o.verbose and not ok:
                print("--- %s under %s ---\n%s" % (e["name"], accel, text[-3000:]))
    heads = ["qemu-system-x86_64 tcg" if a == "qemu" else "vireo " + a for a in accels]
    print("\nPASS/FAIL/SKIP counts from each test's SUMMARY line:\n")
    print("| test | -cpu (QEMU; Vireo) | -smp | " + " | ".join(heads) + " |")
    print("|---|---|---|" + "---|" * len(accels))
    totals = {a: [0, 0, 0, 0] for a in accels}
    for e in entries:
        cells = []
        for a in accels:
            counts, status, text = results[(e["name"], a)]
            cells.append(cell(counts, status, text))
            if counts:
                for i in range(3):
                    totals[a][i] += counts[i]
            totals[a][3] += passed(counts, status)
        cpus = "%s; %s" % (qemu_cpu(e) or "default", vireo_cpu(e) or "default")
        print("| %s | %s | %s | %s |" % (e["name"], cpus, e.get("smp", "1"), " | ".join(cells)))
    print("| **total checks** | | | %s |" % " | ".join("%d/%d/%d" % tuple(totals[a][:3]) for a in accels))
    print("| **tests passed** | | | %s |" % " | ".join("%d of %d" % (totals[a][3], len(entries)) for a in accels))
    print("\nLeft out:")
    for name, why in left_out:
        print("  %-40s %s" % (name, why))
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
