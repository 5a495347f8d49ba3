#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The snapshot tree of a library VM (engine/snaptree.h) as scripts and users see it:

  model    30 random take/revert/delete steps on a VM that is not running, with data
           written into the current top layer (qemu-io) between them, against a model
           of what every snapshot and the current state hold: after each step the
           current disk reads as the model says and qemu-img check accepts every image;
           at the end every snapshot reverts to its content.
  kill     vireo-run --snapshot-take/-revert/-delete killed with SIGKILL at random points
           (--kills per kind): the tree loads, the VM is in the old or the new state,
           every snapshot reverts to its content and qemu-img check accepts every image.
  freedos  FreeDOS running from a raw floppy in a library VM, driven through the
           control socket: snapshot A, a file written in DOS, snapshot B, the file
           deleted, revert to A (the file is gone, the screen equals A's screendump),
           branch C from A, revert to B (the file is back); A and B deleted in both
           orders on copies of the VM; qemu-img check accepts every image, mtools reads
           the files from the top image; vireo-run --vm resumes a snapshot reverted to
           offline and boots the current disks."""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip  # noqa: E402
from vmtest import TestFailure  # noqa: E402
from floppy import screen_text, wait_screen, type_line  # noqa: E402

CHUNK = 128 * 1024
CHUNKS = 64


class Lib:
    """A library root in tmp with one VM folder."""

    def __init__(self, opts, tmp, name="T"):
        self.opts = opts
        self.root = os.path.join(tmp, "data")
        self.name = name
        self.dir = os.path.join(self.root, "vireo", "vms", name)
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(os.environ, XDG_DATA_HOME=self.root)

    def run(self, *args, check=True):
        r = subprocess.run([self.opts.vireo, "--vm", self.name] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if check and r.returncode:
            raise TestFailure("vireo-run %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return r

    def take(self, name):
        return self.run("--snapshot-take", name).stdout.strip()

    def listing(self):
        """[(id, name, current)] from --snapshot-list."""
        out = []
        for line in self.run("--snapshot-list").stdout.splitlines():
            m = re.match(r"([ *]) ([0-9a-f-]{36})  \S+ \S+  (running|disk-only) +(.*?)(  <- you are here)?$", line)
            if not m:
                raise TestFailure("--snapshot-list printed %r" % line)
            out.append((m.group(2), m.group(4).strip(), m.group(1) == "*"))
        return out

    def top(self, slot="hda|fda|vda"):
        with open(os.path.join(self.dir, "vm.conf")) as f:
            m = re.search(r"^(?:%s)=(.*)$" % slot, f.read(), re.M)
        return os.path.join(self.dir, m.group(1))

    def images(self):
        out = []
        for d in (self.dir, os.path.join(self.dir, "snapshots")):
            if os.path.isdir(d):
                out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith((".qcow2", ".img"))]
        return out


def qemu_img(*args):
    return subprocess.run(["qemu-img"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def check_images(lib, what):
    """qemu-img check accepts every qcow2 image; the top's chain is a normal chain."""
    n = 0
    for img in lib.images():
        with open(img, "rb") as f:
            if f.read(4) != b"QFI\xfb":
                continue
        r = qemu_img("check", img)
        if r.returncode != 0:
            raise TestFailure("%s: qemu-img check %s (exit %d):\n%s" % (what, img, r.returncode, r.stdout))
        n += 1
    r = qemu_img("info", "--backing-chain", "--output=json", lib.top())
    if r.returncode:
        raise TestFailure("%s: qemu-img info --backing-chain: %s" % (what, r.stdout))
    return n


def read_disk(lib, tmp):
    raw = os.path.join(tmp, "read.raw")
    r = qemu_img("convert", "-O", "raw", lib.top(), raw)
    if r.returncode:
        raise TestFailure("qemu-img convert: " + r.stdout)
    with open(raw, "rb") as f:
        data = f.read()
    os.unlink(raw)
    return tuple(data[i * CHUNK] for i in range(CHUNKS)), data


def check_content(lib, tmp, want, what):
    got, data = read_disk(lib, tmp)
    for i in range(CHUNKS):
        if data[i * CHUNK:(i + 1) * CHUNK] != bytes([want[i]]) * CHUNK:
            raise TestFailure("%s: chunk %d reads %r..., the model says %#x" % (what, i, data[i * CHUNK:i * CHUNK + 4], want[i]))


def write_chunks(lib, cur, rng, count):
    cur = list(cur)
    cmds = []
    for _ in range(count):
        i = rng.randrange(CHUNKS)
        v = rng.randrange(1, 256)
        cur[i] = v
        cmds += ["-c", "write -P %d %d %d" % (v, i * CHUNK, CHUNK)]
    r = subprocess.run(["qemu-io"] + cmds + [lib.top()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode or "error" in r.stdout.lower():
        raise TestFailure("qemu-io: " + r.stdout)
    return tuple(cur)


def new_vm(opts, tmp):
    lib = Lib(opts, tmp)
    base = os.path.join(lib.dir, "disk.img")
    with open(base, "wb") as f:
        for i in range(CHUNKS):
            f.write(bytes([0x40 + i]) * CHUNK)
    with open(os.path.join(lib.dir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=16M\n\n[drives]\n%s=disk.img\n" % opts.slot)
    return lib, tuple(0x40 + i for i in range(CHUNKS))


class Model:
    def __init__(self, cur):
        self.nodes = {}      # id -> content
        self.cur = cur
        self.here = None

    def pick(self, rng):
        return rng.choice(sorted(self.nodes))


def step(lib, model, rng, kind, tmp, what):
    if kind == "take":
        sid = lib.take("s%d" % len(model.nodes))
        model.nodes[sid] = model.cur
        model.here = sid
    elif kind == "revert":
        sid = model.pick(rng)
        lib.run("--snapshot-revert", sid)
        model.cur = model.nodes[sid]
        model.here = sid
    else:
        sid = model.pick(rng)
        lib.run("--snapshot-delete", sid)
        del model.nodes[sid]
    listed = lib.listing()
    if sorted(i for i, _, _ in listed) != sorted(model.nodes):
        raise TestFailure("%s: the tree lists %s, the model has %s" % (what, [i for i, _, _ in listed], sorted(model.nodes)))
    check_content(lib, tmp, model.cur, what)
    check_images(lib, what)


def revert_all(lib, model, tmp, what, check=True):
    for sid in sorted(model.nodes):
        lib.run("--snapshot-revert", sid)
        model.cur = model.nodes[sid]
        model.here = sid
        check_content(lib, tmp, model.cur, "%s: revert to %s" % (what, sid))
    if check:
        check_images(lib, what)


def scenario_model(opts, tmp):
    rng = random.Random(opts.seed)
    lib, cur = new_vm(opts, tmp)
    model = Model(cur)
    counts = {"take": 0, "revert": 0, "delete": 0}
    for n in range(opts.steps):
        model.cur = write_chunks(lib, model.cur, rng, rng.randrange(1, 6))
        if len(model.nodes) == 0:
            kind = "take"
        else:
            kind = rng.choices(["take", "revert", "delete"], [4, 3, 3])[0]
        step(lib, model, rng, kind, tmp, "step %d (%s)" % (n + 1, kind))
        counts[kind] += 1
    revert_all(lib, model, tmp, "at the end")
    # Bad input: one line, exit status 1 (2 for a wrong option), nothing changed.
    before = lib.listing()
    for args, want in ((["--snapshot-revert", "no-such-snapshot"], "no snapshot 'no-such-snapshot'"),
                       (["--snapshot-delete", "0000"], "no snapshot '0000'"),
                       (["--snapshot-take", ""], "is not a snapshot name"),
                       (["--snapshot-set", model.pick(rng), "--snapshot-name", "x" * 300], "is not a snapshot name")):
        r = lib.run(*args, check=False)
        if r.returncode != 1 or want not in r.stderr or r.stderr.count("\n") != 1:
            raise TestFailure("%s: exit %d, %r" % (args, r.returncode, r.stderr))
    r = lib.run("--snapshot-take", "x", "--snapshot-name", "y", check=False)
    if r.returncode != 2 or r.stderr.count("\n") != 1:
        raise TestFailure("--snapshot-name without --snapshot-set: exit %d, %r" % (r.returncode, r.stderr))
    if lib.listing() != before:
        raise TestFailure("a refused command changed the tree")
    # A damaged snapshots.json: one line naming it, and the file is left for the user.
    tree_file = os.path.join(lib.dir, "snapshots.json")
    good = open(tree_file).read()
    doc = json.loads(good)
    looped = dict(doc, nodes=[dict(n, parent=n["id"]) for n in doc["nodes"]])
    for bad in ("{", "[]", json.dumps(dict(doc, format=99))) + ((json.dumps(looped),) if doc["nodes"] else ()):
        with open(tree_file, "w") as f:
            f.write(bad)
        r = lib.run("--snapshot-list", check=False)
        if r.returncode != 1 or "snapshots.json" not in r.stderr or r.stderr.count("\n") != 1:
            raise TestFailure("a damaged snapshots.json (%r): exit %d, %r" % (bad[:20], r.returncode, r.stderr))
        if open(tree_file).read() != bad:
            raise TestFailure("the damaged snapshots.json was changed")
    with open(tree_file, "w") as f:
        f.write(good)
    print("ok: unknown snapshots, bad names and wrong option sets get one line each and change nothing")
    print("ok: %d random steps (%d takes, %d reverts, %d deletes) matched the model; every one of the %d "
          "snapshots reverts to its content; qemu-img check accepts every image"
          % (opts.steps, counts["take"], counts["revert"], counts["delete"], len(model.nodes)))


def scenario_kill(opts, tmp):
    rng = random.Random(opts.seed)
    lib, cur = new_vm(opts, tmp)
    model = Model(cur)
    durations = {}
    kinds = ["take", "revert", "delete"]
    # One unkilled run of each kind gives the window the kills aim at.
    for kind in ["take", "take", "take", "revert", "delete"]:
        model.cur = write_chunks(lib, model.cur, rng, 8)
        t0 = time.monotonic()
        step(lib, model, rng, kind, tmp, "warm-up " + kind)
        durations[kind] = time.monotonic() - t0
    stats = {k: [0, 0] for k in kinds}   # kills, of which the operation had happened
    deadline = time.monotonic() + opts.kill_seconds if opts.kill_seconds else None
    i = 0
    while True:
        # The kind with the fewest kills next, until each has opts.kills (or time is up).
        remaining = [k for k in kinds if stats[k][0] < opts.kills]
        if not remaining or (deadline and time.monotonic() > deadline):
            break
        kind = min(remaining, key=lambda k: (stats[k][0], kinds.index(k)))
        i += 1
        if kind == "take" or len(model.nodes) < 3:
            model.cur = write_chunks(lib, model.cur, rng, 8)
        if (kind == "delete" and len(model.nodes) < 3) or not model.nodes:
            kind = "take"
        sid = model.pick(rng) if kind != "take" else None
        if kind == "revert" and sid == model.here and len(model.nodes) > 1:
            sid = rng.choice([s for s in model.nodes if s != model.here])
        args = {"take": ["--snapshot-take", "k%d" % i], "revert": ["--snapshot-revert", sid],
                "delete": ["--snapshot-delete", sid]}[kind]
        before = set(model.nodes)
        p = subprocess.Popen([opts.vireo, "--vm", lib.name] + args, env=lib.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0, durations[kind] * 1.1))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate()
        stats[kind][0] += 1
        what = "kill %d during %s" % (i, kind)
        listed = lib.listing()          # recovery runs here
        ids = {x for x, _, _ in listed}
        here = [x for x, _, c in listed if c]
        if kind == "take":
            new = ids - before
            if ids - new != before or len(new) > 1:
                raise TestFailure("%s: the tree lists %s, before it had %s" % (what, sorted(ids), sorted(before)))
            if new:
                model.nodes[new.pop()] = model.cur
                stats[kind][1] += 1
        elif kind == "revert":
            if ids != before:
                raise TestFailure("%s: the tree lists %s, before it had %s" % (what, sorted(ids), sorted(before)))
            if here == [sid] and model.here != sid:
                model.cur = model.nodes[sid]
                stats[kind][1] += 1
            elif here != ([model.here] if model.here in ids else here):
                raise TestFailure("%s: 'you are here' is %s, neither the old %s nor %s" % (what, here, model.here, sid))
            model.here = here[0] if here else None
        else:
            if ids == before - {sid}:
                del model.nodes[sid]
                stats[kind][1] += 1
            elif ids != before:
                raise TestFailure("%s: the tree lists %s, before it had %s" % (what, sorted(ids), sorted(before)))
        check_content(lib, tmp, model.cur, what + ": the current state")
        check_images(lib, what)
        # Every snapshot reverts to its content (then the VM stays at the last one).
        revert_all(lib, model, tmp, what, check=False)
        while len(model.nodes) > 5:
            victim = model.pick(rng)
            lib.run("--snapshot-delete", victim)
            del model.nodes[victim]
        if model.here not in model.nodes:
            listed = lib.listing()
            here = [x for x, _, c in listed if c]
            model.here = here[0] if here else None
    check_images(lib, "after the kills")
    for k in kinds:
        print("ok: %d SIGKILLs during %s (%d after the operation had happened): the tree loads, the VM is in "
              "the old or the new state, every snapshot reverts, qemu-img check accepts every image"
              % (stats[k][0], k, stats[k][1]))
    if sum(s[0] for s in stats.values()) == 0:
        raise TestFailure("no kill happened")


# ---- FreeDOS, running ----

def same_picture(a, b, what):
    if (a.width, a.height) != (b.width, b.height) or a.rgb != b.rgb:
        raise TestFailure("%s: the screen differs from the snapshot's" % what)


def answer(text, command):
    """The lines DOS printed after the last command line, once the prompt is back."""
    lines = [l.rstrip() for l in text.split("\n")]
    idx = [i for i, l in enumerate(lines) if l.endswith(">" + command)]
    if not idx:
        return None
    after = [l for l in lines[idx[-1] + 1:] if l]
    if not after or after[-1] != "A:\\>":
        return None
    return after[:-1]


def type_text(vm, text):
    """type_line, with '>' (shift and the dot key on a US keyboard)."""
    parts = text.split(">")
    for i, part in enumerate(parts):
        if i:
            vm.send_key("shift", "dot", hold_time=20)
            time.sleep(0.03)
        type_line(vm, part)


def qmp(vm, cmd, args):
    """A command whose arguments include "name" (vmtest's command() takes that itself)."""
    vm.sock.sendall(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
    msg = vm.reply()
    if "error" in msg:
        raise TestFailure("%s: %s" % (cmd, msg["error"]["desc"]))
    return msg["return"]


def tree(vm):
    return vm.command("x-snapshot-tree-list")


def mtools_files(lib, top, tmp):
    raw = os.path.join(tmp, "fd.raw")
    r = qemu_img("convert", "-O", "raw", top, raw)
    if r.returncode:
        raise TestFailure("qemu-img convert: " + r.stdout)
    r = subprocess.run(["mdir", "-b", "-i", raw, "::"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    names = {os.path.basename(x).upper() for x in r.stdout.split()}
    hello = None
    if "HELLO.TXT" in names:
        hello = subprocess.run(["mtype", "-i", raw, "::HELLO.TXT"], stdout=subprocess.PIPE, text=True).stdout
    os.unlink(raw)
    return names, hello


def start(opts, lib, tmp, extra=()):
    return vmtest.Vm(opts.vireo, opts.accel, ["--vm", lib.name, "-m", "16"] + list(extra), tmp, env=lib.env)


def quit_vm(vm):
    if vm.proc.poll() is None:
        vm.command("quit")
        vm.wait_exit()
    vm.close()


def scenario_freedos(opts, tmp):
    if not shutil.which("mdir"):
        raise TestFailure("mtools is not installed (scripts/setup-deps.sh test installs it)")
    lib = Lib(opts, tmp, "FreeDOS")
    base = os.path.join(lib.dir, "freedos.img")
    shutil.copyfile(opts.image, base)
    os.chmod(base, 0o644)
    # Before the first snapshot the floppy is a raw file: mtools writes into it directly.
    mark = os.path.join(tmp, "MARK.TXT")
    with open(mark, "w") as f:
        f.write("base\r\n")
    subprocess.run(["mcopy", "-i", base, mark, "::MARK.TXT"], check=True)
    with open(os.path.join(lib.dir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=16M\nboot=a\n\n[drives]\nfda=freedos.img\n")
    vm = start(opts, lib, tmp)
    try:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        time.sleep(0.5)
        vm.command("stop")
        a = qmp(vm, "x-snapshot-tree-take", {"name": "A", "description": "at the prompt"})["id"]
        shot_a = vm.screendump("a")
        vm.command("cont")
        nodes = tree(vm)
        if len(nodes) != 1 or nodes[0]["name"] != "A" or not nodes[0]["vm-state"] or not nodes[0]["current"]:
            raise TestFailure("after taking A the tree is %s" % nodes)
        thumb = vmtest.decode_png(open(nodes[0]["thumbnail"], "rb").read())
        if max(thumb.width, thumb.height) != 240 or len(set(thumb.rgb)) < 2:
            raise TestFailure("A's thumbnail is %dx%d with one colour" % (thumb.width, thumb.height))
        print("ok: snapshot A of the running VM, with its state and a %dx%d thumbnail" % (thumb.width, thumb.height))
        r = lib.run("--snapshot-take", "offline", check=False)
        if r.returncode != 1 or "the VM is running" not in r.stderr:
            raise TestFailure("--snapshot-take while the VM runs: exit %d, %r" % (r.returncode, r.stderr))
        print("ok: vireo-run --snapshot-take on the running VM says: " + r.stderr.strip())
        type_text(vm, "echo hello>hello.txt\n")
        wait_screen(vm, lambda t: answer(t, "echo hello>hello.txt") == [], 30, "the prompt after ECHO")
        type_line(vm, "type hello.txt\n")
        wait_screen(vm, lambda t: answer(t, "type hello.txt") == ["hello"], 30, "hello from TYPE")
        b = qmp(vm, "x-snapshot-tree-take", {"name": "B"})["id"]
        type_line(vm, "del hello.txt\n")
        wait_screen(vm, lambda t: answer(t, "del hello.txt") is not None, 30, "the prompt after DEL")
        type_line(vm, "dir /b\n")
        wait_screen(vm, lambda t: "MARK.TXT" in (answer(t, "dir /b") or []), 30, "DIR after DEL")
        vm.command("stop")
        vm.command("x-snapshot-tree-revert", id="A")
        same_picture(shot_a, vm.screendump("a2"), "after reverting to A")
        vm.command("cont")
        print("ok: reverted to A: the screen equals A's screendump pixel for pixel")
        type_line(vm, "dir /b\n")
        wait_screen(vm, lambda t: "MARK.TXT" in (answer(t, "dir /b") or []), 30, "DIR at A")
        if "HELLO.TXT" in answer(screen_text(vm), "dir /b"):
            raise TestFailure("HELLO.TXT is there after reverting to A:\n" + screen_text(vm))
        print("ok: at A, DOS lists MARK.TXT (written by mtools before the first snapshot) and no HELLO.TXT")
        c = qmp(vm, "x-snapshot-tree-take", {"name": "C", "description": "a branch from A"})["id"]
        vm.command("x-snapshot-tree-revert", id=b)
        type_line(vm, "type hello.txt\n")
        wait_screen(vm, lambda t: answer(t, "type hello.txt") == ["hello"], 30, "HELLO.TXT at B")
        print("ok: branch C taken from A; back at B the file is there again")
        nodes = {n["name"]: n for n in tree(vm)}
        if nodes["B"]["parent"] != a or nodes["C"]["parent"] != a or not nodes["B"]["current"]:
            raise TestFailure("the tree is %s" % nodes)
        qmp(vm, "x-snapshot-tree-set", {"id": "C", "description": "renamed", "name": "C2"})
        if "C2" not in {n["name"] for n in tree(vm)}:
            raise TestFailure("x-snapshot-tree-set did not rename C")
        qmp(vm, "x-snapshot-tree-set", {"id": c, "name": "C"})
    finally:
        quit_vm(vm)
    n = check_images(lib, "after the running VM")
    names, hello = mtools_files(lib, lib.top("fda"), tmp)
    if "HELLO.TXT" not in names or "hello" not in (hello or ""):
        raise TestFailure("mtools does not read HELLO.TXT from the top image at B: %s %r" % (sorted(names), hello))
    print("ok: qemu-img check accepts all %d qcow2 images; mtools reads HELLO.TXT from the top image" % n)

    # Delete A and B in both orders, on copies of the VM.
    for order in (("A", "B"), ("B", "A")):
        name = "FD-" + "".join(order)
        copy = Lib(opts, tmp, name)
        shutil.rmtree(copy.dir)
        shutil.copytree(lib.dir, copy.dir)
        for s in order:
            copy.run("--snapshot-delete", s)
        left = [x[1] for x in copy.listing()]
        if left != ["C"]:
            raise TestFailure("%s: after deleting %s the tree lists %s" % (name, order, left))
        check_images(copy, name)
        names, hello = mtools_files(copy, copy.top("fda"), tmp)
        if "hello" not in (hello or "") or "MARK.TXT" not in names:
            raise TestFailure("%s: the current disk lost its files: %s" % (name, sorted(names)))
        # QEMU can run the top image: it opens the chain and reads the boot sector.
        r = qemu_img("compare", copy.top("fda"), lib.top("fda"))
        if r.returncode:
            raise TestFailure("%s: the current disk changed: %s" % (name, r.stdout))
        # The branch still reverts (offline: it resumes at the next start).
        copy.run("--snapshot-revert", "C")
        names, hello = mtools_files(copy, copy.top("fda"), tmp)
        if "HELLO.TXT" in names or "MARK.TXT" not in names:
            raise TestFailure("%s: C's disk lists %s" % (name, sorted(names)))
        check_images(copy, name + " at C")
        print("ok: deleting %s then %s keeps the current disk and C; every image passes qemu-img check" % order)

    # Offline revert to a running snapshot: the next start resumes it. A snapshot taken
    # before that start shares A's state; deleting it keeps the state A needs.
    lib.run("--snapshot-revert", "A")
    d = lib.take("D")
    kinds = {i: k for i, k in ((x.split()[1], x.split()[4]) for x in lib.run("--snapshot-list").stdout.splitlines())}
    if kinds.get(d) != "running":
        raise TestFailure("D, taken while A's state waits to be resumed, is listed as %s" % kinds.get(d))
    lib.run("--snapshot-delete", d)
    vm = start(opts, lib, tmp, ["-S"])
    try:
        if vm.command("query-status")["status"] != "paused":
            raise TestFailure("the VM does not wait paused with -S")
        same_picture(shot_a, vm.screendump("resumed"), "vireo-run --vm after an offline revert to A")
        vm.command("cont")
        type_line(vm, "ver\n")
        wait_screen(vm, "FreeCom version", 30, "VER's answer")
    finally:
        quit_vm(vm)
    print("ok: after an offline revert to A, vireo-run --vm -S resumes A's machine (screen equal, DOS answers)")
    lib.run("--snapshot-revert", "A")
    vm = start(opts, lib, tmp)
    try:
        first = screen_text(vm)
        if "A:\\>" not in first:
            raise TestFailure("without -S the VM did not resume A at once; the screen shows:\n" + first)
        type_line(vm, "ver\n")
        wait_screen(vm, "FreeCom version", 30, "VER's answer")
    finally:
        quit_vm(vm)
    print("ok: without -S it resumes A's machine at once too")
    # That start consumed the state: the next one boots the disks.
    vm = start(opts, lib, tmp)
    try:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt after a fresh boot")
        type_line(vm, "dir /b\n")
        wait_screen(vm, lambda t: "MARK.TXT" in (answer(t, "dir /b") or []), 30, "DIR after the fresh boot")
    finally:
        quit_vm(vm)
    print("ok: the next start boots the current disks")


def scenario_space(opts, tmp):
    """A VM on a nearly full file system: a clear error and nothing changed."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise Skip("needs root and unshare(1) to mount a small tmpfs in a private mount namespace")
    small = os.path.join(tmp, "small")
    os.makedirs(small)
    script = r"""
set -e
mount -t tmpfs -o size=4M tmpfs "$1"
mkdir -p "$1/vireo/vms/T"
cd "$1/vireo/vms/T"
qemu-img create -q -f raw disk.img 1M
printf '[vm]
memory=16M

[drives]
hda=disk.img
' > vm.conf
export XDG_DATA_HOME="$1"
"$2" --vm T --snapshot-take A >/dev/null
head -c 1M /dev/zero > filler1 || true
head -c 2M /dev/zero > filler2 || true
set +e
"$2" --vm T --snapshot-take B
echo "exit=$?"
"$2" --vm T --snapshot-list
ls snapshots | grep -c layer- || true
"""
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", small, os.path.abspath(opts.vireo)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if "mount" in r.stderr and "exit=" not in r.stdout:
        raise Skip("cannot mount a tmpfs here: " + r.stderr.strip())
    if "exit=1" not in r.stdout or "not enough free space" not in r.stderr:
        raise TestFailure("take on a full file system: %r %r" % (r.stdout, r.stderr))
    lines = r.stdout.splitlines()
    if len([l for l in lines if "disk-only" in l]) != 1 or lines[-1] != "1":
        raise TestFailure("the refused take changed the tree: %r" % r.stdout)
    print("ok: a take on a full file system says: " + r.stderr.strip())


def scenario_linux(opts, tmp):
    """Debian's kernel running the kit's workload in a library VM: a snapshot taken
    mid-workload, the workload finished, then reverted: it runs again from the snapshot
    to the same hashes on the serial port."""
    here = os.path.dirname(os.path.abspath(__file__))
    kit = opts.linux_kit
    r = subprocess.run(["sh", os.path.join(here, "linux", "mkkit.sh"), kit])
    if r.returncode == vmtest.SKIP:
        raise Skip("the Linux kit could not be built")
    if r.returncode:
        raise TestFailure("mkkit.sh failed")
    with open(os.path.join(kit, "expected.txt")) as f:
        expected = [ln.strip() for ln in f if ln.startswith("RESULT")]
    lib = Lib(opts, tmp, "Linux")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(lib.dir, "disk.qcow2"), "64M"], check=True)
    with open(os.path.join(lib.dir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=256\nkernel=%s\ninitrd=%s\nappend=console=ttyS0 quiet\n\n[drives]\nhda=disk.qcow2\n"
                % (os.path.abspath(os.path.join(kit, "vmlinuz")), os.path.abspath(os.path.join(kit, "initrd-test.img"))))
    vm = vmtest.Vm(opts.vireo, opts.accel, ["--vm", lib.name, "-no-shutdown"], tmp, env=lib.env)
    try:
        vm.wait_serial(r"VIREO-PHASE fill", timeout=opts.step_timeout * 10)
        t0 = time.monotonic()
        sid = qmp(vm, "x-snapshot-tree-take", {"name": "mid-workload"})["id"]
        print("ok: snapshot taken mid-workload (%.2f s paused)" % (time.monotonic() - t0))
        vm.wait_serial(r"VIREO-WORKLOAD-DONE", timeout=opts.step_timeout * 20)
        first = [ln.strip() for ln in vm.serial().splitlines() if ln.startswith("RESULT")]
        if first != expected:
            raise TestFailure("the workload printed:\n%s\nexpected:\n%s" % ("\n".join(first), "\n".join(expected)))
        mark = len(vm.serial())
        t0 = time.monotonic()
        vm.command("x-snapshot-tree-revert", id=sid)
        print("ok: reverted (%.2f s paused)" % (time.monotonic() - t0))
        if vm.command("query-status")["status"] != "running":
            vm.command("cont")  # the guest had powered off (-no-shutdown pauses); the snapshot runs
        deadline = time.monotonic() + opts.step_timeout * 20
        while "VIREO-WORKLOAD-DONE" not in vm.serial()[mark:]:
            if time.monotonic() > deadline or vm.proc.poll() is not None:
                raise TestFailure("the reverted workload did not finish:\n" + vm.serial()[mark:][-2000:])
            time.sleep(0.2)
        again = [ln.strip() for ln in vm.serial()[mark:].splitlines() if ln.startswith("RESULT")]
        if again != expected:
            raise TestFailure("after the revert the workload printed:\n%s\nexpected:\n%s" % ("\n".join(again), "\n".join(expected)))
        print("ok: after the revert the workload continued from the snapshot to the same %d hashes" % len(expected))
    finally:
        if vm.proc.poll() is None:
            vm.proc.kill()
            vm.proc.wait()
        vm.close()
    check_images(lib, "after the Linux run")


def scenario_kill_running(opts, tmp):
    """vireo-run killed with SIGKILL during x-snapshot-tree-take, -revert and -delete of
    the running FreeDOS VM: the tree loads, qemu-img check accepts every image, and the
    VM runs again (it resumes snapshot A after an offline revert and answers DOS)."""
    rng = random.Random(opts.seed)
    lib = Lib(opts, tmp, "FreeDOS")
    shutil.copyfile(opts.image, os.path.join(lib.dir, "freedos.img"))
    os.chmod(os.path.join(lib.dir, "freedos.img"), 0o644)
    with open(os.path.join(lib.dir, "vm.conf"), "w") as f:
        f.write("[vm]\nmemory=16M\nboot=a\n\n[drives]\nfda=freedos.img\n")
    vm = start(opts, lib, tmp)
    try:
        wait_screen(vm, "A:\\>", opts.step_timeout, "A:\\> prompt")
        a = qmp(vm, "x-snapshot-tree-take", {"name": "A"})["id"]
    finally:
        quit_vm(vm)
    kinds = ["take", "revert", "delete"]
    stats = {k: 0 for k in kinds}
    for i in range(opts.kills * 3):
        kind = kinds[i % 3]
        lib.run("--snapshot-revert", a)
        vm = start(opts, lib, tmp)
        try:
            if kind == "delete":
                victim = qmp(vm, "x-snapshot-tree-take", {"name": "victim"})["id"]
                cmd = {"execute": "x-snapshot-tree-delete", "arguments": {"id": victim}}
            elif kind == "take":
                cmd = {"execute": "x-snapshot-tree-take", "arguments": {"name": "k%d" % i}}
            else:
                cmd = {"execute": "x-snapshot-tree-revert", "arguments": {"id": a}}
            vm.sock.sendall(json.dumps(cmd).encode() + b"\n")
            time.sleep(rng.uniform(0, 0.15))
            vm.proc.send_signal(signal.SIGKILL)
            vm.proc.wait()
        finally:
            vm.close()
        stats[kind] += 1
        names = [n for _, n, _ in lib.listing()]
        if "A" not in names:
            raise TestFailure("kill %d during %s: A is gone: %s" % (i, kind, names))
        check_images(lib, "kill %d during %s" % (i, kind))
        # Keep the tree small: the extra snapshots go (offline, merged or freed).
        for sid, n, _ in lib.listing():
            if sid != a:
                lib.run("--snapshot-delete", sid)
    lib.run("--snapshot-revert", a)
    vm = start(opts, lib, tmp)
    try:
        type_line(vm, "ver\n")
        wait_screen(vm, "FreeCom version", 30, "VER's answer after the kills")
    finally:
        quit_vm(vm)
    check_images(lib, "at the end")
    print("ok: SIGKILL during %d takes, %d reverts and %d deletes of the running VM: the tree loads, every "
          "image passes qemu-img check, and A resumes and answers" % (stats["take"], stats["revert"], stats["delete"]))


SCENARIOS = {"model": scenario_model, "space": scenario_space, "linux": scenario_linux,
             "kill-running": scenario_kill_running, "kill": scenario_kill, "freedos": scenario_freedos}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--image", help="FreeDOS floppy image")
    ap.add_argument("--linux-kit")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--slot", default="hda", choices=["hda", "vda"], help="vm.conf key of the disk (model, kill)")
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs per kind of step")
    ap.add_argument("--kill-seconds", type=float, default=0, help="stop killing after this long (0: no limit)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--step-timeout", type=float, default=60)
    opts = ap.parse_args()
    if opts.image and not os.path.exists(opts.image):
        print("SKIP: %s is absent (the shared guest images live in ../shared/guests)" % opts.image)
        return vmtest.SKIP
    for tool in ("qemu-img", "qemu-io"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (scripts/setup-deps.sh test installs qemu-utils)" % tool)
            return vmtest.SKIP
    return vmtest.run_test(SCENARIOS[opts.scenario], opts)


if __name__ == "__main__":
    sys.exit(main())
