#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-unit-tests' SMP tests as guests of our CPU.

A pinned release of kvm-unit-tests (gitlab.com/kvm-unit-tests/kvm-unit-tests) is
downloaded into the work directory (or taken from --tarball / $VIREO_KUT_TARBALL),
checked against the release's git tree hash (the hash of every file's content and
mode, so a changed or truncated download cannot pass), built for i386 with the host's
gcc -m32 and run with vireo-run -kernel (Multiboot) like its own x86/run does under
QEMU: output on COM1, the result through isa-debug-exit at 0xf4. Nothing built here
runs on the host. With 'qemu' in --accel the same tests run under
qemu-system-i386 -accel tcg beside ours, for comparison.

The tests: the i386 entries of x86/unittests.cfg that use several CPUs (smptest on 2
and 3 CPUs, vmexit's IPI round trips with and without HLT), and smptest on a
topology whose APIC IDs have a gap (2 sockets of 3 cores: 0-2, 4-6). The APIC and I/O
APIC tests are x86_64-only in unittests.cfg and are not run: built for i386, apic.flat
stops at its start-up assertion under QEMU and at LOCK MOV CR8 (AMD's 32-bit form of
CR8, #UD on Intel) under Vireo, and ioapic.flat raises its pins through QEMU's
pc-testdev, which Vireo does not have.

Exit codes: 0 every test passed, 1 a failure, 77 skip (no network for the download,
no gcc -m32, no git)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

SKIP = 77
TAG = "v2026-04-17"
# git rev-parse v2026-04-17^{tree}: the release's files, their content and modes.
TREE = "797f7f8b386a6962299d0ea5d4278b87ff8b8e98"
URL = ("https://gitlab.com/kvm-unit-tests/kvm-unit-tests/-/archive/%s/kvm-unit-tests-%s.tar.gz"
       % (TAG, TAG))
FLATS = ["smptest", "vmexit"]

# name, flat, -smp, test arguments (from x86/unittests.cfg, i386 and several CPUs),
# lines the output must also have
TESTS = [
    ("smptest", "smptest", "2", "", ["found 2 cpus", "PASS: IPI to each CPU"]),
    ("smptest3", "smptest", "3", "", ["found 3 cpus", "PASS: IPI to each CPU"]),
    ("smptest-s2c3", "smptest", "6,sockets=2,cores=3", "", ["found 6 cpus", "PASS: IPI to each CPU"]),
    ("vmexit_ipi", "vmexit", "2", "ipi", ["\nipi [0-9]+"]),
    ("vmexit_ipi_halt", "vmexit", "2", "ipi_halt", ["\nipi_halt [0-9]+"]),
]


def skip(why):
    print("SKIP:", why)
    sys.exit(SKIP)


def git_tree_hash(src):
    """The git tree hash of a directory's files, as `git write-tree` computes it."""
    with tempfile.TemporaryDirectory() as gitdir:
        env = dict(os.environ, GIT_DIR=gitdir, GIT_WORK_TREE=src, GIT_INDEX_FILE=os.path.join(gitdir, "index"))
        subprocess.run(["git", "init", "-q"], env=env, check=True)
        subprocess.run(["git", "add", "-A", "-f", "."], env=env, cwd=src, check=True)
        return subprocess.run(["git", "write-tree"], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()


def fetch_tarball(work, given):
    if given:
        return given
    path = os.path.join(work, "kvm-unit-tests-%s.tar.gz" % TAG)
    if os.path.exists(path):
        return path
    print("downloading", URL)
    try:
        with urllib.request.urlopen(URL, timeout=60) as r, open(path + ".part", "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        skip("cannot download kvm-unit-tests %s (%s): offline? Give a copy with --tarball" % (TAG, e))
    os.replace(path + ".part", path)
    return path


def safe_extract(tarball, dest):
    with tarfile.open(tarball) as t:
        for m in t.getmembers():
            if m.name.startswith("/") or ".." in m.name.split("/"):
                raise SystemExit("FAIL: %s: member %s leaves the directory" % (tarball, m.name))
        t.extractall(dest)
    tops = os.listdir(dest)
    if len(tops) != 1:
        raise SystemExit("FAIL: %s: not one top-level directory" % tarball)
    return os.path.join(dest, tops[0])


def prepare(work, given_tarball, arch="i386", targets=None):
    """The tree for TAG built for arch (i386: FLATS; x86_64: targets, or every test),
    building it once; skips with the reason when it cannot."""
    suffix = "" if arch == "i386" else "-" + arch
    src = os.path.join(work, "kvm-unit-tests-" + TAG + suffix)
    stamp = os.path.join(work, "built-" + TAG + suffix)
    if os.path.exists(stamp):
        return src
    for tool in ("git", "make", "gcc", "ld", "objcopy"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    if arch == "i386":
        targets = ["x86/%s.flat" % n for n in FLATS]
        with tempfile.TemporaryDirectory() as d:
            probe = os.path.join(d, "probe.c")
            with open(probe, "w") as f:
                f.write("int probe(void) { return 0; }\n")
            if subprocess.run(["gcc", "-m32", "-c", "-o", os.path.join(d, "probe.o"), probe],
                              capture_output=True).returncode:
                skip("gcc cannot compile for i386 (-m32): install gcc-multilib")
    os.makedirs(work, exist_ok=True)
    tarball = fetch_tarball(work, given_tarball)
    shutil.rmtree(src, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=work) as d:
        top = safe_extract(tarball, d)
        tree = git_tree_hash(top)
        if tree != TREE:
            if not given_tarball:
                os.remove(tarball)
            print("FAIL: %s is not kvm-unit-tests %s (git tree %s, expected %s)" % (tarball, TAG, tree, TREE))
            sys.exit(1)
        print("kvm-unit-tests %s: git tree %s verified" % (TAG, tree))
        os.rename(top, src)
    log = os.path.join(work, "build%s.log" % suffix)
    with open(log, "w") as f:
        ok = subprocess.run(["./configure", "--arch=" + arch], cwd=src, stdout=f,
                            stderr=subprocess.STDOUT).returncode == 0
        ok = ok and subprocess.run(["make", "-j2"] + (targets or []), cwd=src,
                                   stdout=f, stderr=subprocess.STDOUT).returncode == 0
    if not ok:
        with open(log) as f:
            print(f.read()[-3000:])
        print("FAIL: kvm-unit-tests did not build for %s (log: %s)" % (arch, log))
        sys.exit(1)
    open(stamp, "w").close()
    return src


def run_one(accel, vireo, src, flat, smp, args, wants, timeout):
    """One test: PASS, FAIL or SKIP, the seconds it took and its output."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "serial.txt")
        kernel = os.path.join(src, "x86", flat + ".flat")
        common = ["-serial", "file:" + out, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4",
                  "-kernel", kernel, "-smp", smp, "-m", "128"]
        if args:
            common += ["-append", args]
        if accel == "qemu":
            cmd = ["qemu-system-i386", "-nodefaults", "-accel", "tcg", "-display", "none"] + common
        else:
            cmd = [vireo, "-accel", accel, "-display", "none"] + common
        t = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
            status, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            status, err = None, "timed out after %d s" % timeout
        secs = time.monotonic() - t
        text = open(out, errors="replace").read() if os.path.exists(out) else ""
    # isa-debug-exit: status = code * 2 + 1; kvm-unit-tests exits 0 (pass) or 77 >> 1 (skip).
    missing = [w for w in wants if not re.search(w, text)]
    if status == 1 and not missing:
        verdict = "PASS"
    elif status == 77:
        verdict = "SKIP"
    else:
        verdict = "FAIL"
    notes = "".join("\nlacks /%s/" % w for w in missing if status in (1, 77))
    return verdict, secs, text + ("\n--- stderr ---\n" + err if err else "") + notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="interp,tcg", help="comma list of interp, tcg, qemu")
    ap.add_argument("--work", required=True, help="download and build directory")
    ap.add_argument("--tarball", default=os.environ.get("VIREO_KUT_TARBALL"),
                    help="a copy of %s's tarball instead of downloading it" % TAG)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per test")
    o = ap.parse_args()
    accels = o.accel.split(",")
    if "qemu" in accels and not shutil.which("qemu-system-i386"):
        print("qemu-system-i386 not installed: no comparison")
        accels.remove("qemu")
    src = prepare(os.path.abspath(o.work), o.tarball)
    results = {}
    failed = False
    for name, flat, smp, args, wants in TESTS:
        for accel in accels:
            verdict, secs, text = run_one(accel, os.path.abspath(o.vireo), src, flat, smp, args, wants, o.timeout)
            results[(name, accel)] = "%s (%.1f s)" % (verdict, secs)
            print("%-16s %-7s %s %.1f s" % (name, accel, verdict, secs), flush=True)
            if verdict != "PASS" and accel != "qemu":
                failed = True
                print("--- %s under %s ---\n%s" % (name, accel, text[-4000:]))
    print("\n| test | -smp | " + " | ".join("qemu-system-i386 tcg" if a == "qemu" else "vireo " + a
                                         for a in accels) + " |")
    print("|---|---|" + "---|" * len(accels))
    for name, flat, smp, args, wants in TESTS:
        print("| %s | %s | %s |" % (name, smp, " | ".join(results[(name, a)] for a in accels)))
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
