#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""vireo-run --vm NAME: a library VM's vm.conf reaches the engine (the fw_cfg guest
reports the memory size vm.conf gave), and bad VMs fail at once with the user's error in
one short line and exit status 2 (also when vm.conf is a FIFO or 50 MB long)."""
import os
import subprocess
import sys
import tempfile


def write_vm(root, name, conf):
    d = os.path.join(root, "vireo", "vms", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vm.conf"), "wb" if isinstance(conf, bytes) else "w") as f:
        f.write(conf)


def run(vireo, env, args, timeout=60):
    return subprocess.run([vireo] + args, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, text=True, errors="replace")


def check_refused(vireo, env, name, needle, failures):
    """--vm NAME must end within seconds with exit 2 and one short line holding needle."""
    try:
        r = run(vireo, env, ["--vm", name, "-nographic"], timeout=10)
    except subprocess.TimeoutExpired:
        print("# --vm %s: still running after 10 s" % name)
        failures.append("--vm %s: still running after 10 s instead of refusing" % name)
        return
    err = r.stderr.strip()
    print("# --vm %s: exit %d: %s" % (name, r.returncode, err[:300]))
    if r.returncode != 2 or needle not in err or "\n" in err or len(err) > 300:
        failures.append("--vm %s: want exit 2 and one short line with '%s' (%d bytes)"
                        % (name, needle, len(err)))


def main():
    vireo, guest = sys.argv[1], os.path.abspath(sys.argv[2])
    failures = []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, XDG_DATA_HOME=home)
        write_vm(home, "bad", "[vm]\nmemory=lots\n")
        write_vm(home, "missing", "[vm]\n[drives]\nfda=gone.img\n")
        write_vm(home, "fwcfg", "[vm]\nmemory=96M\naccel=kvm\nfirmware=%s\n" % guest)
        write_vm(home, "huge", "[vm]\nmemory=" + "x" * (50 << 20) + "\n")
        write_vm(home, "long", "[vm]\nmemory=" + "x" * (900 << 10) + "\n")
        # Used to boot without its disk: the value was taken as absent.
        write_vm(home, "latin1", b"[vm]\n[drives]\nhda=\xff\xfe.img\n")
        # Passed the parser, then failed to start (cpus: exit 1) or started without the
        # fourth boot device: the engine's limits are the parser's now.
        write_vm(home, "cpus", "[vm]\ncpus=64\n")
        write_vm(home, "bigmem", "[vm]\nmemory=64G\n")
        write_vm(home, "boot4", "[vm]\nboot=acdn\n")
        fifo_dir = os.path.join(home, "vireo", "vms", "fifo")
        os.makedirs(fifo_dir)
        os.mkfifo(os.path.join(fifo_dir, "vm.conf"))

        cases = [("bad", "[vm] memory=lots: not a memory size"),
                 ("missing", "gone.img does not exist"),
                 ("nope", "no VM called 'nope'"),
                 ("fifo", "vm.conf is a FIFO"),
                 ("huge", "more than the 1.0 MiB"),
                 ("long", "memory=" + "x" * 40 + "\u2026: not a memory size"),
                 ("latin1", "[drives] hda=\ufffd\ufffd.img: the value is not valid UTF-8"),
                 ("cpus", "[vm] cpus=64: the processor count must be a number from 1 to 16"),
                 ("bigmem", "[vm] memory=64G: not a memory size between 1M and 32G"),
                 ("boot4", "[vm] boot=acdn: a boot order is 1 to 3 of")]
        for name, needle in cases:
            check_refused(vireo, env, name, needle, failures)

        if not os.path.exists("/dev/kvm"):
            print("# no /dev/kvm: the fw_cfg guest is not run")
        else:
            r = run(vireo, env, ["--vm", "fwcfg", "-nographic", "-device", "isa-debug-exit"])
            print("# --vm fwcfg: exit %d" % r.returncode)
            if r.returncode != 33 or "fw_cfg RAM: 96 MiB" not in r.stdout:
                failures.append("--vm fwcfg: want exit 33 and 96 MiB, got %d:\n%s" %
                                (r.returncode, r.stdout[-2000:]))
            # Options on the command line override vm.conf.
            r = run(vireo, env, ["--vm", "fwcfg", "-m", "64", "-nographic", "-device", "isa-debug-exit"])
            if "fw_cfg RAM: 64 MiB" not in r.stdout:
                failures.append("--vm fwcfg -m 64: the option did not override vm.conf")
    for f in failures:
        print("FAIL: " + f)
    print("%d passed, %d failed" % (len(cases) + 2 - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
