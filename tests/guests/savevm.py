#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""savevm / loadvm as a user sees them, through the control socket:

  freedos  FreeDOS at its prompt on a qcow2 floppy overlay: savevm, type a command,
           loadvm: the screen equals the screendump taken at savevm pixel for pixel and
           DOS answers typed commands; then a new vireo-run with -loadvm comes back to
           the same screen; qemu-img check accepts the image and qemu-img snapshot -l
           lists the snapshot with its VM state; delvm removes it.
  library  A library VM with nothing writable keeps its state in its folder: the state
           file cut short or with a byte flipped is refused with one line and the VM
           runs on unchanged; a good one loads. savevm is refused for a writable raw
           disk (it cannot hold snapshots).
  linux    Debian's kernel running the workload, saved after its fill phase and killed;
           a new vireo-run -loadvm finishes the workload with the right hashes.
  loop     save and load 100 times in a row while FreeDOS runs; it still answers.
  kill     vireo-run killed with SIGKILL during savevm 100 times at random points:
           qemu-img check accepts the image each time and every listed snapshot loads."""
import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip, hmp_text as hmp, hmp as hmp_ok  # noqa: E402
from vmtest import TestFailure  # noqa: E402
from floppy import screen_text, wait_screen, type_line, private_copy  # noqa: E402


def shot(vm, name):
    return vm.screendump(name)


@contextlib.contextmanager
def running(opts, args, tmp, env=None):
    """A vireo-run for a with-block: quit at its end if it still runs, closed always."""
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp, env=env)
    try:
        yield vm
        if vm.proc.poll() is None:
            vm.command("quit")
            vm.wait_exit()
    finally:
        vm.close()


def same_picture(a, b, what):
    if (a.width, a.height) != (b.width, b.height) or a.rgb != b.rgb:
        diff = sum(1 for i in range(0, min(len(a.rgb), len(b.rgb)), 3) if a.rgb[i:i + 3] != b.rgb[i:i + 3])
        raise TestFailure("%s: the screen differs from the one saved (%dx%d vs %dx%d, %d pixels)"
                          % (what, a.width, a.height, b.width, b.height, diff))


def qemu_img(*args):
    return subprocess.run(["qemu-img"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def make_overlay(opts, tmp, base):
    ov = os.path.join(tmp, "a.qcow2")
    r = subprocess.run([opts.vireo_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", ov],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise TestFailure("vireo-img create: " + r.stdout)
    return ov


def dos_answers(vm, what):
    type_line(vm, "ver\n")
    wait_screen(vm, lambda t: "FreeCom version" in t and t.rstrip().endswith("A:\\>"), 30,
                "VER's answer " + what)


def scenario_freedos(opts, tmp):
    base = private_copy(opts.image, tmp)
    ov = make_overlay(opts, tmp, base)
    args = ["-m", "16", "-drive", "file=%s,if=floppy,format=qcow2" % ov]
    if opts.machine:
        # isapc: the ISA IDE (an empty CD on it) and the ISA VGA in the saved state too
        args += ["-M", opts.machine, "-drive", "if=ide,index=2,media=cdrom"]
    with running(opts, args, tmp) as vm:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        time.sleep(0.5)
        saved_text = screen_text(vm)
        # Paused around savevm and loadvm, the virtual clock stands still: the cursor's
        # blink phase in the screendumps is the saved one exactly.
        vm.command("stop")
        t0 = time.monotonic()
        hmp_ok(vm, "savevm s1")
        print("ok: savevm s1 in %.2f s" % (time.monotonic() - t0))
        saved = shot(vm, "saved")
        vm.command("cont")
        dos_answers(vm, "after savevm")
        if screen_text(vm) == saved_text:
            raise TestFailure("VER changed nothing on the screen")
        vm.command("stop")
        t0 = time.monotonic()
        hmp_ok(vm, "loadvm s1")
        print("ok: loadvm s1 in %.2f s" % (time.monotonic() - t0))
        same_picture(saved, shot(vm, "loaded"), "after loadvm")
        vm.command("cont")
        print("ok: the screen after loadvm equals the one at savevm, pixel for pixel")
        dos_answers(vm, "after loadvm")
        print("ok: DOS answers after loadvm")
        # Every device the VM has is a registered device whose state savevm carries.
        devs = vm.command("x-query-devices")
        types = {d["type"] for d in devs}
        board = (("isa-ide", "isa-vga") if opts.machine == "isapc" else
                 ("piix3-ide", "VGA", "i440FX-pcihost", "PIIX3", "PIIX4_PM"))
        for want in ("isa-serial", "isa-pit", "isa-i8259", "mc146818rtc", "i8042", "i8257", "isa-fdc",
                     "fw_cfg_io") + board:
            if want not in types:
                raise TestFailure("x-query-devices does not list %s: %s" % (want, sorted(types)))
        unsaved = [d["id"] for d in devs if not d["migratable"]]
        if unsaved:
            raise TestFailure("devices without saved state: %s" % unsaved)
        qtree = hmp_ok(vm, "info qtree")
        if "dev: isa-fdc" not in qtree or "iobase = 0x3f0" not in qtree:
            raise TestFailure("info qtree:\n" + qtree)
        print("ok: %d devices listed, all with saved state" % len(devs))
        listing = hmp_ok(vm, "info snapshots")
        if "s1" not in listing:
            raise TestFailure("info snapshots does not list s1:\n" + listing)

    check = qemu_img("check", ov)
    if check.returncode:
        raise TestFailure("qemu-img check after savevm:\n" + check.stdout)
    snaps = qemu_img("snapshot", "-l", ov)
    row = [ln for ln in snaps.stdout.splitlines() if " s1 " in ln]
    if not row or re.search(r"\s0 B\s", row[0]):
        raise TestFailure("qemu-img snapshot -l does not show s1 with a VM state:\n" + snaps.stdout)
    print("ok: qemu-img check accepts the image; qemu-img snapshot -l:", row[0].strip())

    with running(opts, args + ["-loadvm", "s1", "-S"], tmp) as vm:
        same_picture(saved, shot(vm, "reloaded"), "in a new vireo-run -loadvm s1")
        vm.command("cont")
        print("ok: a new vireo-run -loadvm s1 shows the saved screen")
        dos_answers(vm, "in the new process")
        hmp_ok(vm, "delvm s1")
        if "s1" in hmp(vm, "info snapshots"):
            raise TestFailure("delvm s1 left it listed")
        out = hmp(vm, "loadvm s1")
        if not out.startswith("Error"):
            raise TestFailure("loadvm of a deleted snapshot succeeded")
        print("ok: delvm removes it; loadvm then says:", out.strip())
    check = qemu_img("check", ov)
    if check.returncode:
        raise TestFailure("qemu-img check after delvm:\n" + check.stdout)


def scenario_loop(opts, tmp):
    base = private_copy(opts.image, tmp)
    ov = make_overlay(opts, tmp, base)
    with running(opts, ["-m", "16", "-drive", "file=%s,if=floppy,format=qcow2" % ov], tmp) as vm:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        t0 = time.monotonic()
        for i in range(100):
            hmp_ok(vm, "savevm loop")
            hmp_ok(vm, "loadvm loop")
        print("ok: 100 savevm/loadvm pairs in %.1f s" % (time.monotonic() - t0))
        dos_answers(vm, "after 100 pairs")
    check = qemu_img("check", ov)
    if check.returncode:
        raise TestFailure("qemu-img check after the loop:\n" + check.stdout)
    print("ok: qemu-img check accepts the image after the loop")


def scenario_library(opts, tmp):
    data = os.path.join(tmp, "data")
    vmdir = os.path.join(data, "vireo", "vms", "Dos")
    os.makedirs(vmdir)
    shutil.copy(opts.image, os.path.join(vmdir, "boot.img"))
    with open(os.path.join(vmdir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=16M\naccel=%s\n[drives]\n" % opts.accel)
    env = dict(os.environ, XDG_DATA_HOME=data)
    # Read-only: nothing writable, so the state goes to the VM's folder.
    args = ["--vm", "Dos", "-drive", "file=%s,if=floppy,readonly=on" % os.path.join(vmdir, "boot.img")]
    with running(opts, args, tmp, env=env) as vm:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        hmp_ok(vm, "savevm good")
        state = os.path.join(vmdir, "snapshots", "good.vmstate")
        if not os.path.isfile(state):
            raise TestFailure("no state file in the VM's folder")
        with open(state, "rb") as f:
            good = f.read()
        print("ok: savevm good wrote %s (%d bytes)" % (os.path.relpath(state, data), len(good)))
        dos_answers(vm, "after savevm")
        before = screen_text(vm)
        damaged = {"cut": good[:len(good) // 2], "cut-header": good[:20],
                   "flipped": good[:len(good) // 3] + bytes([good[len(good) // 3] ^ 0x10]) + good[len(good) // 3 + 1:],
                   "tail": good + b"x"}
        for name, blob in damaged.items():
            with open(os.path.join(vmdir, "snapshots", name + ".vmstate"), "wb") as f:
                f.write(blob)
            out = hmp(vm, "loadvm " + name)
            if not out.startswith("Error") or out.count("\n") > 1:
                raise TestFailure("loadvm of a %s state: %r" % (name, out))
            print("ok: %s state refused: %s" % (name, out.strip()))
        # Text, not pixels: the cursor blinks while the VM runs on.
        if screen_text(vm) != before:
            raise TestFailure("the screen changed with the refused loads:\n" + screen_text(vm))
        if vm.command("query-status")["status"] != "running":
            raise TestFailure("the VM stopped after refused loads")
        dos_answers(vm, "after the refused loads")
        hmp_ok(vm, "loadvm good")
        dos_answers(vm, "after loadvm good")
        print("ok: the VM ran on unchanged, then the good state loaded")

    raw = private_copy(opts.image, tmp)
    with running(opts, ["-m", "16", "-fda", raw], tmp) as vm:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        out = hmp(vm, "savevm x")
        if "cannot hold snapshots" not in out:
            raise TestFailure("savevm with a writable raw floppy: %r" % out)
        print("ok: writable raw disk:", out.strip())


def scenario_linux(opts, tmp):
    here = os.path.dirname(os.path.abspath(__file__))
    kit = opts.linux_kit
    r = subprocess.run(["sh", os.path.join(here, "linux", "mkkit.sh"), kit])
    if r.returncode == vmtest.SKIP:
        raise Skip("the Linux kit could not be built")
    if r.returncode:
        raise TestFailure("mkkit.sh failed")
    with open(os.path.join(kit, "expected.txt")) as f:
        expected = [ln.strip() for ln in f if ln.startswith("RESULT")]
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([opts.vireo_img, "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    args = ["-m", "256", "-kernel", os.path.join(kit, "vmlinuz"), "-initrd", os.path.join(kit, "initrd-test.img"),
            "-append", "console=ttyS0 quiet", "-hda", disk]
    with running(opts, args, tmp) as vm:
        vm.wait_serial(r"VIREO-PHASE fill", timeout=opts.step_timeout * 10)
        hmp_ok(vm, "savevm mid")
        print("ok: savevm mid after the fill phase")
        vm.proc.send_signal(signal.SIGKILL)
        vm.proc.wait()
    os.rename(vm.serial_path, os.path.join(tmp, "serial-first.txt"))
    with running(opts, args + ["-loadvm", "mid"], tmp) as vm:
        vm.wait_serial(r"VIREO-WORKLOAD-DONE", timeout=opts.step_timeout * 20)
        text = vm.serial()
        got = [ln.strip() for ln in text.splitlines() if ln.startswith("RESULT")]
        if got != expected:
            raise TestFailure("the restored workload printed:\n%s\nexpected:\n%s" % ("\n".join(got), "\n".join(expected)))
        for bad in ("clocksource", "Oops", "BUG:", "watchdog"):
            hits = [ln for ln in text.splitlines() if bad in ln]
            if hits:
                print("note: %s" % hits[0])
        print("ok: the workload finished in a new process with the right hashes")
        vm.wait_exit(120)


def scenario_kill(opts, tmp):
    """SIGKILL during savevm at random points, 100 times: the image stays one that
    qemu-img check accepts (leaked clusters at most) and every snapshot listed loads."""
    import random
    rng = random.Random(int(os.environ.get("VIREO_KILL_SEED", "1")))
    base = private_copy(opts.image, tmp)
    ov = make_overlay(opts, tmp, base)
    args = ["-m", "16", "-drive", "file=%s,if=floppy,format=qcow2" % ov]
    with running(opts, args, tmp) as vm:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        hmp_ok(vm, "savevm base")
    kills = dirty = 0
    for i in range(opts.kills):
        with running(opts, args + ["-loadvm", "base"], tmp) as vm:
            vm.raw(('{"execute": "human-monitor-command", "arguments": {"command-line": "savevm k%d"}}\n' % i).encode())
            time.sleep(rng.random() * 0.03)
            vm.proc.send_signal(signal.SIGKILL)
            vm.proc.wait()
            kills += 1
        check = qemu_img("check", ov)
        if check.returncode not in (0, 3):  # 3: leaked clusters only
            # Killed inside a metadata update: the image must say so with its dirty bit,
            # and the next open (Vireo's or QEMU's) repairs it before anything else.
            info = json.loads(qemu_img("info", "--output=json", "-U", ov).stdout or "{}")
            if not info.get("dirty-flag"):
                raise TestFailure("qemu-img check after kill %d, and the image is not marked dirty:\n%s"
                                  % (i, check.stdout))
            dirty += 1
            with running(opts, args + ["-S"], tmp) as vm:
                pass
            check = qemu_img("check", ov)
            if check.returncode not in (0, 3):
                raise TestFailure("qemu-img check after Vireo reopened the image of kill %d:\n%s"
                                  % (i, check.stdout))
    snaps = qemu_img("snapshot", "-l", ov).stdout
    names = [ln.split()[1] for ln in snaps.splitlines()[2:] if len(ln.split()) > 1]
    print("ok: %d kills during savevm; qemu-img check accepted the image after each (%d killed mid-update "
          "were marked dirty and clean once Vireo reopened them); %d snapshots listed" % (kills, dirty, len(names)))
    with running(opts, args, tmp) as vm:
        for name in names:
            out = hmp(vm, "loadvm " + name)
            if out.startswith("Error"):
                raise TestFailure("listed snapshot %s does not load: %s" % (name, out.strip()))
        dos_answers(vm, "after loading every listed snapshot")
    check = qemu_img("check", ov)
    if check.returncode not in (0, 3):
        raise TestFailure("qemu-img check after a clean run:\n" + check.stdout)
    leaks = re.search(r"(\d+) leaked clusters", check.stdout)
    print("ok: every listed snapshot loads; after a clean run qemu-img check finds no error (%s leaked "
          "clusters)" % (leaks.group(1) if leaks else "no"))


SCENARIOS = {"freedos": scenario_freedos, "library": scenario_library, "linux": scenario_linux,
             "loop": scenario_loop, "kill": scenario_kill}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--image", help="FreeDOS floppy image")
    ap.add_argument("--linux-kit")
    ap.add_argument("--machine", help="freedos: the board (-M), e.g. isapc")
    ap.add_argument("--step-timeout", type=float, default=60)
    ap.add_argument("--kills", type=int, default=100)
    opts = ap.parse_args()
    if opts.image and not os.path.exists(opts.image):
        print("SKIP: %s is absent (the shared guest images live in ../shared/guests)" % opts.image)
        return vmtest.SKIP
    if shutil.which("qemu-img") is None:
        print("SKIP: qemu-img is not installed (scripts/setup-deps.sh test installs it)")
        return vmtest.SKIP
    return vmtest.run_test(SCENARIOS[opts.scenario], opts)


if __name__ == "__main__":
    sys.exit(main())
