#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Network cards on -netdev user (libslirp), checked by Debian's i386 Linux and its own
drivers (the kit's initrd-net.img, tests/guests/linux/init-net.sh), one boot per card:
  - the card's MAC (mac=) is the one the driver reports;
  - udhcpc gets 10.0.2.15 from slirp's DHCP server (with --pxe: `info network` shows it
    as the guest's lease);
  - wget fetches a file from an HTTP server this test runs on the host's loopback
    (through 10.0.2.2) and its SHA-256 matches;
  - a host client reaches the guest's TCP echo service (busybox nc -e cat) through the
    -netdev's hostfwd and gets 1 MiB back unchanged; then through a forward added at
    run time (HMP hostfwd_add), which hostfwd_remove takes away again;
  - cards with a link indication: QMP set_link off makes the guest's carrier 0, on
    makes it 1 again;
  - no oops, no transmit timeout, no frame the card refused as bad.
With --pxe the same kernel and initramfs come over the network instead of -kernel:
-boot n, the card's iPXE option ROM (Debian's ipxe-qemu), slirp's TFTP server with an
iPXE script as bootfile; the guest's kernel command line (a token the script gave),
its DHCP address and a fetched file's hash prove that it booted that way.
With --tap the card is on -netdev tap instead: in a network namespace of its own (so
nothing leaves this test), a TAP interface with 10.0.3.1/24 on the host side, the guest
at 10.0.3.15 fetches a file from an HTTP server on 10.0.3.1 (hash checked); vireo-run
without the right to open the TAP says so in one line. Skipped where the host cannot
make a namespace and a TAP (not root, no /dev/net/tun).
Usage: net.py --vireo VIREO_RUN --card e1000|ne2k_pci|ne2k_isa|... --linux-kit DIR [--pxe|--tap]"""
import argparse
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmtest  # noqa: E402
from vmtest import Skip, free_port, hmp_text as hmp  # noqa: E402
from vmtest import TestFailure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_ECHO_PORT = 7777
# The guest's own failure lines, and the stack's complaint of a stuck transmitter.
NET_FAILED = r"NETDEV WATCHDOG|VIREO-NET-FAILED.*"
# card: (guest driver argument, extra -device properties, link indication)
CARDS = {
    "e1000": ("vireo.nic=e1000", "", True),
    "ne2k_pci": ("vireo.nic=ne2k_pci", "", False),
    "rtl8139": ("vireo.nic=rtl8139", "", True),
    # IRQ 9 is the ACPI SCI on this board: the ISA card goes to IRQ 5.
    "ne2k_isa": ("vireo.nic=ne vireo.ne=0x300,5", ",iobase=0x300,irq=5", False),
    "virtio-net-pci": ("vireo.nic=virtio_net", "", True),
}


def set_link(vm, name, up):
    """QMP set_link (its "name" argument cannot go through Vm.command's keywords)."""
    vm.raw(json.dumps({"execute": "set_link", "arguments": {"name": name, "up": up}}).encode() + b"\n")
    msg = vm.reply()
    if "error" in msg:
        raise TestFailure("set_link %s: %s" % (name, msg["error"]["desc"]))


def serve_blob(blob, host="127.0.0.1"):
    """An HTTP server on host (loopback unless given) serving /blob; returns (server, port)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/blob":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def echo_through(port, data, timeout=300):
    """Sends data to 127.0.0.1:port while reading what comes back, until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        err = []

        def sender():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        got = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        t.join(timeout)
        if err:
            raise TestFailure("sending to the guest's echo service failed: %s" % err[0])
        return bytes(got)


def debug_log_args():
    """NET_DEBUG_LOG=FILE: the cards' and back end's log (-d net) goes there, for a stall."""
    path = os.environ.get("NET_DEBUG_LOG")
    return ["-d", "net", "-D", path] if path else []


def check_echo(port, size, what):
    data = random.Random(size).randbytes(size)
    try:
        back = echo_through(port, data)
    except socket.timeout:
        raise TestFailure("%s: the echo stalled (no data for 300 s)" % what)
    if back != data:
        raise TestFailure("%s: %d bytes sent, %d came back%s" % (
            what, len(data), len(back), " (contents differ)" if len(back) == len(data) else ""))
    print("%s: %d bytes echoed unchanged" % (what, size), flush=True)


def build_kit(kit):
    r = subprocess.run(["sh", os.path.join(HERE, "linux", "mkkit.sh"), kit])
    if r.returncode == vmtest.SKIP:
        raise Skip("the Linux kit could not be built")
    if r.returncode:
        raise TestFailure("mkkit.sh failed")
    r = subprocess.run(["sh", os.path.join(HERE, "linux", "mknet.sh"), kit])
    if r.returncode == vmtest.SKIP:
        raise Skip("the network initramfs could not be built")
    if r.returncode:
        raise TestFailure("mknet.sh failed")


def check_boot_fetch(vm, mac, blob, t, want_ip="IP 10.0.2.15"):
    """The card's MAC, slirp's DHCP address (or the static one) and a fetched file's hash
    on the serial line."""
    m = vm.wait_serial(r"VIREO-NET-MAC (\S*)\s", t)  # \s: the whole line, not a half-written one
    if m.group(1) != mac:
        raise TestFailure("the guest's eth0 has MAC %r, mac= said %s" % (m.group(1), mac))
    m = vm.wait_serial(r"VIREO-NET-(IP \S+|FAILED[^\n]*)\s", t)
    if m.group(1) != want_ip:
        raise TestFailure("address: %s, expected %s" % (m.group(0), want_ip))
    print("address: %s" % want_ip, flush=True)
    m = vm.wait_serial(r"VIREO-NET-(FETCH (\S+) (\d+) in ([0-9.]+)\.\.([0-9.]+) s|FAILED.*)", t, whole_lines=True)
    if not m.group(2) or m.group(2) != hashlib.sha256(blob).hexdigest() or int(m.group(3)) != len(blob):
        raise TestFailure("HTTP fetch: %s; expected %s %d" % (m.group(0), hashlib.sha256(blob).hexdigest(), len(blob)))
    secs = float(m.group(5)) - float(m.group(4))
    print("HTTP fetch: %d bytes, hash matches (%.1f s of guest time)" % (len(blob), secs), flush=True)


def run_pxe(opts, tmp):
    """-boot n: iPXE loads the kit's kernel and initramfs from slirp's TFTP server."""
    kit = opts.linux_kit
    build_kit(kit)
    tftp = os.path.join(tmp, "tftp")
    os.makedirs(tftp)
    for f in ("vmlinuz", "initrd-net.img"):
        shutil.copy(os.path.join(kit, f), tftp)
    blob = random.Random(18).randbytes(1 << 20)
    srv, http_port = serve_blob(blob)
    driver, props, _ = CARDS[opts.card]
    token = "%08x" % random.SystemRandom().getrandbits(32)
    mac = "52:54:00:ab:cd:%02x" % (len(opts.card) & 0xff)
    # The command line lives only in the script: the guest showing the token proves iPXE
    # read the bootfile from TFTP and booted what it named.
    with open(os.path.join(tftp, "boot.ipxe"), "w") as f:
        f.write("#!ipxe\nkernel tftp://10.0.2.2/vmlinuz console=ttyS0 %s vireo.http=%d vireo.pxe=%s\n"
                "initrd tftp://10.0.2.2/initrd-net.img\nboot\n" % (driver, http_port, token))
    args = ["-m", "256", "-boot", "n",
            "-netdev", "user,id=n0,tftp=%s,bootfile=boot.ipxe" % tftp,
            "-device", "%s,netdev=n0,mac=%s,id=nic0%s" % (opts.card, mac, props)] + debug_log_args()
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    try:
        t = opts.timeout
        m = vm.wait_serial(r"VIREO-NET-CMDLINE (.*)", t, whole_lines=True)
        if "vireo.pxe=" + token not in m.group(1):
            raise TestFailure("the kernel's command line is not the iPXE script's: %s" % m.group(1))
        print("booted over TFTP by iPXE (token %s on the kernel command line)" % token, flush=True)
        check_boot_fetch(vm, mac, blob, t)
        # The address slirp's DHCP server gave, as the back end read it from its DHCPACK.
        info = hmp(vm, "info network")
        if "guest=10.0.2.15 " not in info:
            raise TestFailure("info network does not show the guest's lease: %s" % info.strip())
        vm.wait_serial(r"VIREO-NET-DONE", t)
        status = vm.wait_exit(t)
        vmtest.check_guest_clean(vm, NET_FAILED, status)
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()
        srv.shutdown()


TAP_HOST, TAP_GUEST, TAP_IF = "10.0.3.1", "10.0.3.15", "vtap0"


def tap_skip_reason():
    if os.geteuid() != 0:
        return "a TAP in a network namespace of its own needs root"
    if not os.path.exists("/dev/net/tun"):
        return "this host has no /dev/net/tun"
    for tool in ("unshare", "ip", "setpriv"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    r = subprocess.run(["unshare", "--net", "ip", "tuntap", "add", "dev", TAP_IF, "mode", "tap"],
                       capture_output=True, text=True)
    if r.returncode:
        return "cannot create a TAP in a new network namespace: %s" % (r.stderr.strip() or r.returncode)
    return None


def sh(*cmd):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if r.returncode:
        raise TestFailure("%s: %s" % (" ".join(cmd), r.stderr.strip()))


def run_tap(opts, tmp):
    """Runs inside the namespace net.py --tap made (unshare --net): only lo and the TAP."""
    kit = opts.linux_kit
    build_kit(kit)
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "tuntap", "add", "dev", TAP_IF, "mode", "tap")
    sh("ip", "addr", "add", TAP_HOST + "/24", "dev", TAP_IF)
    sh("ip", "link", "set", TAP_IF, "up")
    netdev = "tap,id=n0,ifname=%s,script=no,downscript=no" % TAP_IF
    # Without the right to the TAP: one line saying so (as the unprivileged nobody).
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", opts.vireo,
                        "-display", "none", "-serial", "none", "-netdev", netdev, "-device", "e1000,netdev=n0", "-S"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    if r.returncode == 0 or len(lines) != 1 or not re.search(r"tap.*no permission", lines[0]):
        raise TestFailure("vireo-run as nobody: exit %d, %r" % (r.returncode, r.stderr))
    print("as nobody: %s" % lines[0], flush=True)

    # QEMU's script=/downscript=: run with the interface's name when it opens and closes.
    log = os.path.join(tmp, "ifupdown.log")
    for name in ("ifup", "ifdown"):
        with open(os.path.join(tmp, name), "w") as f:
            f.write("#!/bin/sh\necho \"%s $1\" >> %s\n" % (name, log))
        os.chmod(os.path.join(tmp, name), 0o755)
    netdev = "tap,id=n0,ifname=%s,script=%s,downscript=%s" % (TAP_IF, os.path.join(tmp, "ifup"),
                                                              os.path.join(tmp, "ifdown"))
    blob = random.Random(19).randbytes(opts.fetch_mib << 20)
    srv, http_port = serve_blob(blob, TAP_HOST)
    driver, props, _ = CARDS[opts.card]
    mac = "52:54:00:ab:cd:%02x" % (len(opts.card) & 0xff)
    append = "console=ttyS0 %s vireo.ip=%s vireo.http=%d vireo.httphost=%s" % (driver, TAP_GUEST, http_port, TAP_HOST)
    args = ["-m", "256", "-kernel", os.path.join(kit, "vmlinuz"), "-initrd", os.path.join(kit, "initrd-net.img"),
            "-append", append, "-netdev", netdev,
            "-device", "%s,netdev=n0,mac=%s,id=nic0%s" % (opts.card, mac, props)] + debug_log_args()
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    try:
        t = opts.timeout
        check_boot_fetch(vm, mac, blob, t, "IP " + TAP_GUEST)
        info = hmp(vm, "info network")
        if "type=tap, ifname=%s" % TAP_IF not in info:
            raise TestFailure("info network does not show the TAP: %s" % info.strip())
        print(info.strip(), flush=True)
        vm.wait_serial(r"VIREO-NET-DONE", t)
        status = vm.wait_exit(t)
        vmtest.check_guest_clean(vm, NET_FAILED, status)
        ran = open(log).read() if os.path.exists(log) else ""
        if ran != "ifup %s\nifdown %s\n" % (TAP_IF, TAP_IF):
            raise TestFailure("script= and downscript= ran as %r" % ran)
        print("script= and downscript= ran with %s" % TAP_IF, flush=True)
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()
        srv.shutdown()


def run(opts, tmp):
    kit = opts.linux_kit
    build_kit(kit)
    blob = random.Random(17).randbytes(opts.fetch_mib << 20)
    srv, http_port = serve_blob(blob)
    fwd_port, run_port = free_port(), free_port()
    driver, props, has_link = CARDS[opts.card]
    mac = "52:54:00:ab:cd:%02x" % (len(opts.card) & 0xff)
    append = "console=ttyS0 %s vireo.http=%d vireo.echo=%d vireo.carrier=%s" % (
        driver, http_port, GUEST_ECHO_PORT, "on" if has_link else "off")
    args = ["-m", "256", "-kernel", os.path.join(kit, "vmlinuz"), "-initrd", os.path.join(kit, "initrd-net.img"),
            "-append", append,
            "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:%d" % (fwd_port, GUEST_ECHO_PORT),
            "-device", "%s,netdev=n0,mac=%s,id=nic0%s" % (opts.card, mac, props)] + debug_log_args()
    vm = vmtest.Vm(opts.vireo, opts.accel, args, tmp)
    try:
        t = opts.timeout
        check_boot_fetch(vm, mac, blob, t)
        vm.wait_serial(r"VIREO-NET-ECHO-READY", t)
        check_echo(fwd_port, 1 << 20, "hostfwd from -netdev")
        vm.wait_serial(r"VIREO-NET-ECHO2-READY", t)
        out = hmp(vm, "hostfwd_add n0 tcp:127.0.0.1:%d-:%d" % (run_port, GUEST_ECHO_PORT))
        if out:
            raise TestFailure("hostfwd_add: %s" % out.strip())
        if "127.0.0.1:%d" % run_port not in hmp(vm, "info network"):
            raise TestFailure("info network does not list the new forward")
        check_echo(run_port, 64 << 10, "hostfwd_add at run time")
        out = hmp(vm, "hostfwd_remove n0 tcp:127.0.0.1:%d" % run_port)
        if out:
            raise TestFailure("hostfwd_remove: %s" % out.strip())
        if "127.0.0.1:%d" % run_port in hmp(vm, "info network"):
            raise TestFailure("info network still lists the removed forward")
        for attempt in range(5):
            try:
                socket.create_connection(("127.0.0.1", run_port), timeout=10).close()
            except ConnectionRefusedError:
                print("hostfwd_remove: the port is closed", flush=True)
                break
            listeners = subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout
            print("attempt %d: port %d accepted a connection:\n%s" % (
                attempt, run_port, "\n".join(l for l in listeners.splitlines() if ":%d " % run_port in l)))
            time.sleep(0.5)
        else:
            raise TestFailure("port %d still accepts connections after hostfwd_remove" % run_port)
        if not hmp(vm, "hostfwd_remove n0 tcp:127.0.0.1:%d" % run_port).startswith("Error"):
            raise TestFailure("removing a forward twice was not an error")
        vm.wait_serial(r"VIREO-NET-ECHO-DONE", t)

        if has_link:
            set_link(vm, "n0", False)
            m = vm.wait_serial(r"VIREO-NET-CARRIER (\S*)", t)
            if m.group(1) != "0":
                raise TestFailure("after set_link off the guest's carrier is %r" % m.group(1))
            # The card's id names the same link.
            set_link(vm, "nic0", True)
            m = vm.wait_serial(r"VIREO-NET-CARRIER \S*[\s\S]*?VIREO-NET-CARRIER (\S*)", t)
            if m.group(1) != "1":
                raise TestFailure("after set_link on the guest's carrier is %r" % m.group(1))
            print("set_link: carrier 0, then 1", flush=True)
        vm.wait_serial(r"VIREO-NET-DONE", t)
        info = hmp(vm, "info network")
        print(info.strip(), flush=True)
        m = re.search(r"(\d+) bad by card", info)
        if not m or m.group(1) != "0":
            raise TestFailure("the card refused frames of a well-behaved guest: %s" % info.strip())
        # The guest waits for this connection before it powers off.
        socket.create_connection(("127.0.0.1", fwd_port), timeout=30).close()
        status = vm.wait_exit(t)
        vmtest.check_guest_clean(vm, NET_FAILED, status)
    except TestFailure:
        print("--- serial (tail) ---\n" + vm.serial()[-3000:])
        raise
    finally:
        vm.close()
        srv.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--card", required=True, choices=sorted(CARDS))
    ap.add_argument("--linux-kit", required=True)
    ap.add_argument("--fetch-mib", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--pxe", action="store_true", help="boot the guest over the network (-boot n)")
    ap.add_argument("--tap", action="store_true", help="the card on -netdev tap, in a network namespace")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.tap and not opts.in_netns:
        why = tap_skip_reason()
        if why:
            print("SKIP:", why)
            return vmtest.SKIP
        # The kit is built out here: inside the namespace apt-get reaches no archive.
        try:
            build_kit(opts.linux_kit)
        except Skip as e:
            print("SKIP:", e)
            return vmtest.SKIP
        except TestFailure as e:
            print("FAIL:", e)
            return 1
        sys.stdout.flush()
        return subprocess.run(["unshare", "--net", sys.executable] + sys.argv + ["--in-netns"]).returncode
    return vmtest.run_test(run_tap if opts.tap else run_pxe if opts.pxe else run, opts)


if __name__ == "__main__":
    sys.exit(main())
