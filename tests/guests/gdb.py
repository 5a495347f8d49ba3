#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The gdb stub (-gdb, -s) driven by Debian's gdb and by a raw protocol client.

For each back end given with --accel, vireo-run starts the Multiboot kernel
gdb-kernel.elf paused (-S) with a gdb stub, and:

1. gdb in batch mode: the reset state (CS:EIP F000:FFF0), a breakpoint at the symbol
   'tick', registers (CS against what the kernel saved, CR0 with PE and PG, CR3 at the
   kernel's page directory, ST0 and XMM0 as the kernel loaded them), segment registers
   written in protected mode (and a selector beyond the GDT refused), a second stop at
   'tick', stepi over 'inc [counter]', a hardware watchpoint on 'watched' that stops
   right after the store with the old and new values, memory through the kernel's
   second mapping at 0x40000000, physical mode (maint packet Qqemu.PhyMemMode:1), a
   hardware breakpoint (hbreak) inside the spin loop, then detach.
2. A raw client: connecting stops the spinning VM; qSupported, qXfer target.xml, g;
   malformed, overlong and unsupported requests and a bad checksum each get an error
   and the stub answers on; continue, Ctrl-C (0x03) stops it in the loop; a Z0
   breakpoint in the middle of the loop's block (translated many times by then under
   tcg) stops exactly there; read (Z3) and access (Z4) watchpoints on 'release' stop
   after the load; a connection dropped while the VM runs removes its breakpoints;
   M writes 'release', the connection drops again, and the kernel runs on past the
   old breakpoint on putc, reports counter=5 and exits with status 33.
3. 'k' ends vireo-run; -accel kvm with -gdb is refused with one line (where KVM exists).
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
failures = []
started = []  # every vireo-run, killed on the way out whatever happens


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    return syms


def start_vm(vireo, accel, kernel, gdb_spec, serial):
    cmd = [vireo, "-d", "cpu", "-D", serial + ".log", "-accel", accel, "-display", "none", "-m", "64", "-serial", "file:" + serial,
           "-device", "isa-debug-exit", "-kernel", kernel, "-S", "-gdb", gdb_spec]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    port = int(gdb_spec.rsplit(":", 1)[1])
    for _ in range(200):  # until the stub listens (or the process died)
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            # That probe connected and went away: the stub resumed nothing (the VM was
            # paused by -S and stays so).
            return proc
        except OSError:
            time.sleep(0.05)
    out, err = proc.communicate(timeout=10)
    raise SystemExit("vireo-run did not open the gdb port: %s %s" % (out, err))


GDB_SCRIPT = r"""set pagination off
set confirm off
target remote 127.0.0.1:{port}
printf "reset eip=%x cs=%x\n", $eip, $cs
break tick
continue
printf "tick at=%d cs-ok=%d cr0=%x cr3-ok=%d counter=%d\n", $pc == (int)&tick, $cs == *(int*)&boot_cs, $cr0, $cr3 == (int)&page_dir, *(int*)&counter
info registers eip cs ss cr0 cr3
set $gs = $ss
set $fs = 0
printf "segments gs-is-ss=%d fs=%x\n", $gs == $ss, $fs
set $fs = 0x400
printf "st0=%d xmm0=%x,%x,%x,%x\n", (int)$st0, $xmm0.v4_int32[0], $xmm0.v4_int32[1], $xmm0.v4_int32[2], $xmm0.v4_int32[3]
continue
printf "second counter=%d\n", *(int*)&counter
stepi
printf "stepped after-inc=%d counter=%d\n", $pc == (int)&after_inc, *(int*)&counter
delete
watch *(int*)&watched
continue
printf "watch after-store=%d watched=%x\n", $pc == (int)&after_store, *(int*)&watched
delete
printf "alias counter=%d\n", *(int*)(0x40000000 + (int)&counter)
maint packet Qqemu.PhyMemMode:1
printf "phys counter=%d\n", *(int*)&counter
x/wx 0x40000000 + (int)&counter
maint packet Qqemu.PhyMemMode:0
hbreak spin_body
continue
printf "hbreak at=%d\n", $pc == (int)&spin_body
delete
detach
"""


def run_gdb(kernel, port, workdir):
    script = GDB_SCRIPT.format(port=port)
    args = ["gdb", "-nx", "-batch"]
    for line in script.splitlines():
        args += ["-ex", line]  # each -ex runs even after an earlier one failed
    args.append(kernel)
    # stdin closed: gdb must not wait for a terminal; a hang ends in the output so far.
    with open(os.path.join(workdir, "gdb.log"), "w+") as log:
        try:
            subprocess.run(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=120,
                           cwd=workdir)
        except subprocess.TimeoutExpired:
            log.write("\n(gdb did not finish in 120 s)\n")
        log.seek(0)
        return log.read()


class Rsp:
    """A minimal GDB remote protocol client."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def _byte(self):
        while not self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("the stub closed the connection")
            self.buf += data
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def send(self, payload):
        frame = "$%s#%02x" % (payload, sum(payload.encode()) & 0xff)
        self.sock.sendall(frame.encode())
        ack = self._byte()
        if ack != b"+":
            raise RuntimeError("no ack for %r: %r" % (payload, ack))

    def recv(self):
        while self._byte() != b"$":
            pass
        data = b""
        while True:
            b = self._byte()
            if b == b"#":
                break
            data += b
        csum = self._byte() + self._byte()
        if int(csum, 16) != sum(data) & 0xff:
            raise RuntimeError("bad checksum on %r" % data)
        self.sock.sendall(b"+")
        return data.decode()

    def cmd(self, payload):
        self.send(payload)
        return self.recv()

    def eip(self):
        regs = self.cmd("g")
        return int.from_bytes(bytes.fromhex(regs[64:72]), "little")

    def close(self):
        self.sock.close()


def phase_gdb(args, accel, kernel, syms, workdir):
    port = free_port()
    spec = "tcp:127.0.0.1:%d" % port if accel == "interp" else "tcp::%d" % port
    serial = os.path.join(workdir, "serial-%s.txt" % accel)
    vm = start_vm(args.vireo, accel, kernel, spec, serial)
    out = run_gdb(kernel, port, workdir)
    print("---- gdb (%s) ----\n%s----" % (accel, out))
    check("reset eip=fff0 cs=f000" in out, accel + ": gdb reads the reset state F000:FFF0")
    check(re.search(r"Breakpoint 1, 0x0*%x in tick \(\)" % syms["tick"], out) is not None,
          accel + ": gdb stops at the breakpoint on 'tick'")
    check("tick at=1 cs-ok=1 cr0=80000011 cr3-ok=1 counter=0" in out,
          accel + ": EIP, CS (segment) and CR0/CR3 (control) registers at the first stop")
    check("st0=1 xmm0=11223344,55667788,99aabbcc,ddeeff00" in out,
          accel + ": ST0 (x87) and XMM0 (SSE) as the kernel loaded them")
    check("segments gs-is-ss=1 fs=0" in out and re.search(r"Could not write register \"fs\".*E", out) is not None,
          accel + ": segment registers written in protected mode (a selector beyond the GDT is refused)")
    check("second counter=1" in out, accel + ": continue stops at 'tick' again")
    check("stepped after-inc=1 counter=2" in out, accel + ": stepi executes exactly 'inc [counter]'")
    check(re.search(r"Hardware watchpoint 2: \*\(int\*\)&watched\s+Old value = 0\s+New value = 305441741", out)
          is not None, accel + ": the write watchpoint triggers with the new value")
    check("watch after-store=1 watched=1234abcd" in out, accel + ": it stops right after the store")
    check("alias counter=5" in out, accel + ": memory through the guest's paging (alias at 0x40000000)")
    check("phys counter=5" in out and
          re.search(r"Cannot access memory at address 0x%x" % (0x40000000 + syms["counter"]), out) is not None,
          accel + ": physical mode reads the physical address, and the alias is not memory there")
    check("hbreak at=1" in out, accel + ": the hardware breakpoint stops in the spin loop")
    check(vm.poll() is None, accel + ": the VM runs on after gdb detached")
    return vm, port, serial


def phase_raw(accel, vm, port, serial, syms):
    rsp = Rsp(port)  # connecting stops the VM
    sup = rsp.cmd("qSupported:swbreak+;hwbreak+")
    check("qXfer:features:read+" in sup and "swbreak+" in sup, accel + ": qSupported " + sup)
    xml = rsp.cmd("qXfer:features:read:target.xml:0,1000")
    check(xml[0] in "ml" and "<architecture>i386</architecture>" in xml, accel + ": target description")
    check(rsp.cmd("qAttached") == "1" and rsp.cmd("qC") == "QC1", accel + ": qAttached, qC")
    stop = rsp.cmd("?")
    check(stop.startswith("T") and "thread:01" in stop, accel + ": ? after connecting: " + stop)
    # Bad requests: each gets an error (Enn) or the empty "not supported" reply.
    bad = {"mzz,4": "E", "m%x" % syms["counter"]: "E", "m80000000,4": "E0e", "m0,100000": "E",
           "M%x,4:zz" % syms["counter"]: "E", "Gxyz": "E", "p999": "E", "P999=00": "E", "Z9,0,1": "",
           "Z2,%x,0" % syms["counter"]: "E", "z0,1234,1": "E", "Hg99": "E", "T9": "E", "vCont;x": "E",
           "qXfer:features:read:target.xml:ffff,10": "E", "qXfer:features:read:x.xml:0,10": "E",
           "a" * 70000: "E", "X0,0:": "", "qRcmd,6869": ""}
    answers = {k[:40]: rsp.cmd(k) for k in bad}
    check(all(answers[k[:40]].startswith(v) if v else answers[k[:40]] == "" for k, v in bad.items()),
          accel + ": bad requests get errors: %s" % answers)
    rsp.sock.sendall(b"$g#00")
    check(rsp._byte() == b"-", accel + ": a bad checksum is refused with '-'")
    check(rsp.cmd("qC") == "QC1" and rsp.cmd("m%x,4" % syms["counter"]) == "05000000",
          accel + ": the stub answers on after them")
    eip = rsp.eip()
    check(syms["spin"] <= eip < syms["spin"] + 16, accel + ": stopped in the spin loop at %x" % eip)
    rsp.send("c")
    time.sleep(0.3)  # let the loop run (and be translated) for a while
    rsp.sock.sendall(b"\x03")
    stop = rsp.recv()
    eip = rsp.eip()
    check(stop.startswith("T02") and syms["spin"] <= eip < syms["spin"] + 16,
          accel + ": Ctrl-C stops the running guest: %s at %x" % (stop, eip))
    body = syms["spin_body"]
    check(rsp.cmd("Z0,%x,1" % body) == "OK", accel + ": Z0 in the middle of the loop's block")
    stop = rsp.cmd("c")
    eip = rsp.eip()
    check(stop.startswith("T05") and "swbreak" in stop and eip == body,
          accel + ": the breakpoint stops exactly there: %s at %x" % (stop, eip))
    check(rsp.cmd("z0,%x,1" % body) == "OK", accel + ": z0")
    rel = syms["release"]
    check(rsp.cmd("Z3,%x,4" % rel) == "OK", accel + ": Z3 read watchpoint")
    stop = rsp.cmd("c")
    eip = rsp.eip()
    check(stop.startswith("T05") and ("rwatch:%x;" % rel) in stop and eip == body,
          accel + ": the read watchpoint stops after the load: %s at %x" % (stop, eip))
    check(rsp.cmd("z3,%x,4" % rel) == "OK" and rsp.cmd("Z4,%x,4" % rel) == "OK", accel + ": z3, Z4")
    stop = rsp.cmd("c")
    check(stop.startswith("T05") and ("awatch:%x;" % rel) in stop and rsp.eip() == body,
          accel + ": the access watchpoint stops after the load: " + stop)
    check(rsp.cmd("z4,%x,4" % rel) == "OK", accel + ": z4")
    check(rsp.cmd("m%x,4" % syms["counter"]) == "05000000", accel + ": m reads counter")
    # A debugger that vanishes while the VM runs takes its breakpoints with it: one
    # on putc, reached only after the release, would stop the kernel on its way out.
    check(rsp.cmd("Z0,%x,1" % syms["putc"]) == "OK", accel + ": Z0 on putc")
    rsp.send("c")
    time.sleep(0.2)
    rsp.close()
    time.sleep(0.2)
    rsp = Rsp(port)
    stop = rsp.cmd("?")
    check(stop.startswith("T05") and "swbreak" not in stop and vm.poll() is None,
          accel + ": reconnected after a dropped connection: " + stop)
    check(rsp.cmd("M%x,4:01000000" % rel) == "OK", accel + ": M writes release")
    rsp.close()  # dropped again: the VM ran when this one attached, so it runs on
    try:
        status = vm.wait(timeout=60)
    except subprocess.TimeoutExpired:
        vm.kill()
        status = None
    check(status == 33, accel + ": the released kernel exits through isa-debug-exit (status %s)" % status)
    with open(serial, errors="replace") as f:
        text = f.read()
    check("gdb-kernel: released, counter=5" in text, accel + ": the kernel's report on COM1")


def phase_kill_and_kvm(args, kernel, workdir):
    port = free_port()
    vm = start_vm(args.vireo, "interp", kernel, "tcp::%d" % port, os.path.join(workdir, "serial-k.txt"))
    rsp = Rsp(port)
    rsp.send("k")
    try:
        status = vm.wait(timeout=30)
    except subprocess.TimeoutExpired:
        vm.kill()
        status = None
    check(status == 0, "k ends vireo-run (status %s)" % status)
    rsp.close()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("note: no /dev/kvm here: the -accel kvm refusal is not checked")
        return
    r = subprocess.run([args.vireo, "-accel", "kvm", "-display", "none", "-kernel", kernel,
                        "-gdb", "tcp::%d" % free_port()], capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    if r.returncode == 2 and lines and "no usable accelerator" in lines[0]:
        print("note: KVM cannot run here: the -accel kvm refusal is not checked")
        return
    check(r.returncode == 2 and len(lines) == 1 and "no debugger support" in lines[0],
          "-accel kvm -gdb is refused in one line: %r (status %d)" % (r.stderr.strip(), r.returncode))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--accel", action="append", required=True)
    args = ap.parse_args()
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed (scripts/setup-deps.sh test installs it)")
        return SKIP
    args.kernel = os.path.abspath(args.kernel)
    syms = symbols(args.kernel)
    # meson's timeout sends SIGTERM: leave no paused VM behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    with tempfile.TemporaryDirectory() as workdir:
        try:
            for accel in args.accel:
                vm, port, serial = phase_gdb(args, accel, args.kernel, syms, workdir)
                phase_raw(accel, vm, port, serial, syms)
            phase_kill_and_kvm(args, args.kernel, workdir)
        finally:
            for proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all gdb stub checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
