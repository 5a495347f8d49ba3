#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The SPICE agent channel, in one boot of Debian's i386 Linux (the kit's
initrd-vdagent.img: virtio_console and a test agent, tests/guests/linux/vdagent-guest.c,
on each port named com.redhat.spice.0) with two virtio-serial cards:
  - slot 5: a virtserialport on -chardev spicevmc,name=vdagent behind -spice. A SPICE
    client (spice-client.py --clipboard, spice-client-glib's main channel) gets the
    guest's clipboard text when the agent grabs it; the text the client grabs arrives in
    the guest; the client's monitors config (1024x768) reaches the agent; after the
    agent breaks the server's stream and reopens the port, a new client's clipboard
    works both ways;
  - slot 6: a virtserialport on -chardev qemu-vdagent,clipboard=on (the engine's own
    agent peer, as the app uses it), driven through QMP x-vdagent-clipboard: the
    guest's text arrives at the host, the host's text arrives in the guest, and again
    after a savevm taken with half an agent message at the host and a loadvm after
    the session went on (the agent's state is saved); an agent that breaks the protocol and reopens the port is
    served again;
  - bad agent options are one error line each; QMP refuses a chardev that is no agent.
Exit codes: 0 pass, 1 fail, 77 skip.
Usage: vdagent.py --vireo VIREO_RUN --vireo-img VIREO_IMG --linux-kit DIR --agent VDAGENT_GUEST"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip, wait_serial_after as wait_after  # noqa: E402
from vmtest import TestFailure  # noqa: E402
from spice import free_port, gi_python  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "vireo-clip-19"


def check_options(vireo, kernel):
    cases = [(["-chardev", "spicevmc,id=a,name=vdagent"], "needs -spice"),
             (["-chardev", "spicevmc,id=a,name=smartcard", "-spice", "port=5999,disable-ticketing=on"],
              "name=vdagent or name=usbredir"),
             (["-chardev", "qemu-vdagent,id=a,clipboard=maybe"], "unknown parameter"),
             (["-chardev", "qemu-vdagent,id=a", "-serial", "chardev:a"], "serves devices only")]
    for extra, needle in cases:
        r = subprocess.run([vireo, "-display", "none", "-kernel", kernel] + extra, capture_output=True, timeout=30)
        lines = [ln for ln in r.stderr.decode().splitlines() if ln.strip()]
        if r.returncode == 0 or len(lines) != 1 or needle not in lines[0]:
            raise TestFailure("%s: expected one error line about %r, got %r" % (" ".join(extra), needle, lines))
        print("%s: %s" % (" ".join(extra), lines[0]), flush=True)


def clipboard(vm, **args):
    return vm.command("x-vdagent-clipboard", id="qa", **args)


def wait_guest_text(vm, want, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = clipboard(vm)
        if got.get("guest-text") == want:
            return got
        if time.monotonic() > deadline:
            raise TestFailure("the host's copy of the guest's clipboard is %r, not %r" % (got, want))
        time.sleep(0.1)


def run(opts, tmp):
    kit = opts.linux_kit
    if not os.path.exists(opts.agent):
        raise Skip("the test agent was not built (gcc -m32 -static does not link here)")
    py = gi_python()
    if not py:
        raise Skip("no Python with spice-client-glib introspection (gir1.2-spiceclientglib-2.0, python3-gi)")
    help_text = subprocess.run([opts.vireo, "--help-all"], capture_output=True).stdout.decode()
    if "-spice" not in help_text:
        raise Skip("this vireo-run was built without the SPICE server")
    for cmd, what in ((["mkkit.sh", kit], "the Linux kit"), (["mkvdagent.sh", kit, opts.agent], "the initramfs")):
        r = subprocess.run(["sh", os.path.join(HERE, "linux", cmd[0])] + cmd[1:])
        if r.returncode == vmtest.SKIP:
            raise Skip("%s could not be built" % what)
        if r.returncode:
            raise TestFailure("%s failed" % cmd[0])
    check_options(opts.vireo, os.path.join(kit, "vmlinuz"))

    port = free_port()
    disk = os.path.join(tmp, "state.qcow2")
    subprocess.run([opts.vireo_img, "create", "-q", "-f", "qcow2", disk, "16M"],
                   check=True)
    args = ["-m", "128", "-kernel", os.path.join(kit, "vmlinuz"),
            "-initrd", os.path.join(kit, "initrd-vdagent.img"),
            "-append", "console=ttyS0 vireo.text=%s vireo.ports=2" % TOKEN,
            "-drive", "if=ide,format=qcow2,file=" + disk,
            "-spice", "port=%d,addr=127.0.0.1,disable-ticketing=on" % port,
            "-chardev", "spicevmc,id=vdagent,name=vdagent",
            "-device", "virtio-serial-pci,id=vs0,addr=5",
            "-device", "virtserialport,bus=vs0.0,chardev=vdagent,name=com.redhat.spice.0",
            "-chardev", "qemu-vdagent,id=qa,clipboard=on",
            "-device", "virtio-serial-pci,id=vs1,addr=6",
            "-device", "virtserialport,bus=vs1.0,chardev=qa,name=com.redhat.spice.0"]
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    t = opts.timeout
    try:
        vm.wait_serial(r"VIREO-VDAGENT-STARTED", t)
        ports = re.findall(r"VIREO-VDAGENT-PORT (\S+) (\S+)", vm.serial())
        if sorted(tag for _, tag in ports) != ["s05", "s06"]:
            raise TestFailure("the guest's com.redhat.spice.0 ports: %s" % ports)

        # qemu-vdagent: the peer asks the agent for its capabilities when it opens the
        # port; the agent answers and grabs; the peer fetches the text at once.
        vm.wait_serial(r"VDAGENT-s06 CAPS port=1 request=1 caps=0x20", t)
        vm.wait_serial(r"VDAGENT-s06 GRABBED", t)
        got = wait_guest_text(vm, TOKEN + "-s06", t)
        if not got.get("connected"):
            raise TestFailure("x-vdagent-clipboard says no agent is connected: %r" % got)
        vm.wait_serial(r"VDAGENT-s06 REQUEST type=1", t)
        print("qemu-vdagent: the guest agent's capabilities and its clipboard text %r reached the host"
              % got["guest-text"], flush=True)
        mark = len(vm.serial())
        host_text = "from-the-host-" + TOKEN
        clipboard(vm, text=host_text)
        wait_after(vm, r"VDAGENT-s06 GRAB types=1 text=1", mark, t)
        m = wait_after(vm, r"VDAGENT-s06 CLIPBOARD type=1 len=(\d+) text=(\S*)", mark, t)
        if m.group(2) != host_text or int(m.group(1)) != len(host_text):
            raise TestFailure("the guest got %r from the host's clipboard, not %r" % (m.group(0), host_text))
        print("qemu-vdagent: the host's text %r arrived in the guest" % host_text, flush=True)

        try:
            vm.command("x-vdagent-clipboard", id="vdagent")
            raise TestFailure("x-vdagent-clipboard took the spicevmc chardev")
        except TestFailure as e:
            if "qemu-vdagent" not in str(e):
                raise
        print("x-vdagent-clipboard refuses a chardev that is not a qemu-vdagent", flush=True)

        # SPICE: the client's main channel talks to the agent on slot 5.
        c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri",
                            "spice://127.0.0.1?port=%d" % port, "--clipboard", "client-" + TOKEN,
                            "--monitor", "1024x768", "--timeout", "60"], capture_output=True, timeout=120)
        out = c.stdout.decode()
        m = re.search(r"GUEST-CLIPBOARD type=1 (.*)", out)
        if c.returncode or not m or "CLIENT-CLIPBOARD-SENT" not in out or "MONITORS-SENT" not in out:
            raise TestFailure("the SPICE client: %s %s" % (out, c.stderr.decode()[-800:]))
        if m.group(1).strip() != TOKEN + "-s05":
            raise TestFailure("the SPICE client got the guest's clipboard as %r, not %r" % (m.group(1), TOKEN + "-s05"))
        print("spicevmc: the SPICE client got the guest's clipboard text %r" % m.group(1).strip(), flush=True)
        m = vm.wait_serial(r"VDAGENT-s05 CLIPBOARD type=1 len=(\d+) text=(\S*)", t)
        if m.group(2) != "client-" + TOKEN:
            raise TestFailure("the guest got %r from the SPICE client's clipboard" % m.group(0))
        print("spicevmc: the SPICE client's text %r arrived in the guest" % m.group(2), flush=True)
        m = vm.wait_serial(r"VDAGENT-s05 MONITORS n=(\d+) first=(\S+)", t, whole_lines=True)
        if m.group(2) != "1024x768":
            raise TestFailure("the agent got the monitors config %r" % m.group(0))
        print("spicevmc: the client's monitors config (1024x768) reached the agent", flush=True)

        # The agent breaks the SPICE server's stream and reopens the port (the server
        # drops the agent and takes it back): a new client's clipboard works again.
        mark = len(vm.serial())
        for text in ("vireo-break-stream", "after-break"):
            c = subprocess.run([py, os.path.join(HERE, "spice-client.py"), "--uri",
                                "spice://127.0.0.1?port=%d" % port, "--clipboard", text,
                                "--monitor", "800x600", "--timeout", "60"], capture_output=True, timeout=120)
            out = c.stdout.decode()
            if c.returncode or "GUEST-CLIPBOARD type=1 %s-s05" % TOKEN not in out:
                raise TestFailure("a SPICE client with %r: %s %s" % (text, out, c.stderr.decode()[-800:]))
            wait_after(vm, r"VDAGENT-s05 CLIPBOARD type=1 len=\d+ text=%s\s" % text, mark, t)
            if text != "after-break":
                wait_after(vm, r"VDAGENT-s05 REOPENED", mark, t)
        print("spicevmc: after the agent broke the stream and reopened the port, a new client's "
              "clipboard works both ways", flush=True)

        # savevm in the middle of a message: the agent wrote half of one, the host's peer
        # holds it. The session goes on (the other half arrives with the agent's next
        # message), then loadvm: the agent, back at the half, writes the other half again
        # and the peer, back at the half too, takes it as one message; the clipboard works.
        mark = len(vm.serial())
        clipboard(vm, text="vireo-split-caps")
        wait_after(vm, r"VDAGENT-s06 HALF", mark, t)
        out = vm.command("human-monitor-command", **{"command-line": "savevm agent"})
        if out.strip():
            raise TestFailure("savevm: %s" % out.strip())
        for text in ("before-loadvm", "after-loadvm"):
            if text == "after-loadvm":
                out = vm.command("human-monitor-command", **{"command-line": "loadvm agent"})
                if out.strip():
                    raise TestFailure("loadvm: %s" % out.strip())
            mark = len(vm.serial())
            clipboard(vm, text=text)
            wait_after(vm, r"VDAGENT-s06 REST", mark, t)
            m = wait_after(vm, r"VDAGENT-s06 CLIPBOARD type=1 len=\d+ text=(\S*)", mark, t)
            if m.group(1) != text:
                raise TestFailure("%s the guest got %r" % (text, m.group(0)))
            got = clipboard(vm)
            if not got.get("connected"):
                raise TestFailure("%s the peer lost the agent: %r" % (text, got))
        print("savevm with half an agent message at the host, loadvm after the session went on: "
              "the message completes and the host's text still arrives in the guest", flush=True)

        # A hostile agent: a chunk of 65535 bytes and junk. The peer stops listening (the
        # VM runs on), and talks again once the agent reopens the port.
        mark = len(vm.serial())
        clipboard(vm, text="vireo-break-stream")
        wait_after(vm, r"VDAGENT-s06 BROKE", mark, t)
        wait_after(vm, r"VDAGENT-s06 REOPENED", mark, t)
        wait_after(vm, r"VDAGENT-s06 CAPS port=1 request=1", mark, t)
        wait_after(vm, r"VDAGENT-s06 GRABBED", mark, t)
        got = wait_guest_text(vm, TOKEN + "-s06", t)
        if not got.get("connected") or vm.command("query-status").get("status") != "running":
            raise TestFailure("after the broken stream: %r" % got)
        mark = len(vm.serial())
        clipboard(vm, text="after-reopen")
        m = wait_after(vm, r"VDAGENT-s06 CLIPBOARD type=1 len=\d+ text=(\S*)", mark, t)
        if m.group(1) != "after-reopen":
            raise TestFailure("after the agent reopened the port the guest got %r" % m.group(0))
        print("a broken agent stream is ignored until the agent reopens the port; then the "
              "clipboard works again", flush=True)

        bad = re.search(r"Oops|BUG:|Kernel panic|Call Trace|VDAGENT-\S+ FAILED.*|VIREO-VDAGENT-FAILED.*", vm.serial())
        if bad:
            raise TestFailure("the guest reported: %s" % bad.group(0))
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--linux-kit", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--vireo-img", required=True)
    ap.add_argument("--timeout", type=float, default=300)
    opts = ap.parse_args()
    return vmtest.run_test(run, opts)


if __name__ == "__main__":
    sys.exit(main())
