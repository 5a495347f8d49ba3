#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Sound benchmark: Vireo -accel tcg side by side with qemu-system-i386 -accel tcg, in
the same run, both playing into a private PulseAudio daemon's null sink (-audiodev pa).

1. Host CPU time (user + system of the emulator process, all threads, from wait4) of a
   guest playing a 1000 Hz tone at 48 kHz stereo for 30 s through the AC'97 and through
   Intel HD Audio (bench/sound/play.asm: the buffers are re-armed from the completion
   interrupt and the CPU halts in between). Ratio = Vireo / QEMU, best of --repeat.
2. Output latency: from the guest's "bench: tone" serial line (timestamped here when it
   arrives on the emulator's stdout, just before the guest starts the DMA engine) to the
   first non-silent bytes parec delivers from the sink's monitor (parec asks for 10 ms
   fragments, so its own delivery adds up to about that). Median of --latency-runs
   runs of a 1 s tone per emulator and device.

Not a test: prints figures only. Needs nasm, pulseaudio and parec (Debian packages
pulseaudio, pulseaudio-utils); qemu-system-i386 for the comparison.

Usage: bench/sound/run.py [--vireo build/app/vireo-run] [--qemu qemu-system-i386]
                          [--seconds 30] [--repeat 1] [--latency-runs 5] [--perf DIR]
"""
import argparse
import array
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RATE = 48000
SILENT = 256          # a sample above this (of 16000 peak) is the tone


def build(tmp, card, seconds):
    out = os.path.join(tmp, f"play-{card}-{seconds}.bin")
    defs = ["-DHDA"] if card == "hda" else []
    subprocess.run(["nasm", "-f", "bin", "-I", os.path.join(ROOT, "tests/guests/lib") + "/",
                    f"-DSECONDS={seconds}", *defs, "-o", out, os.path.join(HERE, "play.asm")], check=True)
    return out


def devices(card):
    return ["-device", "AC97,audiodev=snd"] if card == "ac97" else \
        ["-device", "intel-hda", "-device", "hda-duplex,audiodev=snd"]


def vireo_cmd(vireo, image, card):
    return [vireo, "-accel", "tcg", "-display", "none", "-serial", "stdio", "-m", "16",
            "-bios", image, "-audiodev", "pa,id=snd", *devices(card), "-device", "isa-debug-exit"]


def qemu_cmd(qemu, image, card, server):
    # QEMU's pa driver does not find the daemon through PULSE_RUNTIME_PATH: named here.
    return [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-serial", "stdio", "-m", "16",
            "-bios", image, "-audiodev", f"pa,id=snd,server=unix:{server}", *devices(card),
            "-device", "isa-debug-exit,iobase=0xf4,iosize=1"]


class Daemon:
    """A private PulseAudio daemon with the null sink vsink (its own runtime directory)."""

    def __init__(self, tmp):
        self.env = dict(os.environ)
        run = os.path.join(tmp, "pulse")
        os.makedirs(run, mode=0o700)
        self.env.update(HOME=tmp, XDG_RUNTIME_DIR=run, PULSE_RUNTIME_PATH=run,
                        PULSE_STATE_PATH=os.path.join(tmp, "pstate"),
                        PULSE_CONFIG_PATH=os.path.join(tmp, "pconfig"))
        self.env.pop("PULSE_SERVER", None)
        self.socket = os.path.join(run, "native")
        d = subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                            "--load=module-native-protocol-unix",
                            "--load=module-null-sink sink_name=vsink"],
                           env=self.env, capture_output=True, timeout=30)
        pidfile = os.path.join(run, "pid")
        if d.returncode != 0 or not os.path.exists(pidfile):
            sys.exit("pulseaudio did not start: " + d.stderr.decode("latin-1").strip())
        with open(pidfile) as f:
            self.pid = int(f.read().strip())

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)


class Monitor:
    """parec on vsink.monitor; notes the host time of the first non-silent chunk after
    arm()."""

    def __init__(self, env):
        self.p = subprocess.Popen(["parec", "-d", "vsink.monitor", "--format=s16le", f"--rate={RATE}",
                                   "--channels=2", "--latency-msec=10"], stdout=subprocess.PIPE, env=env)
        self.lock = threading.Lock()
        self.armed = False
        self.heard = None
        self.bytes = 0
        threading.Thread(target=self.reader, daemon=True).start()
        deadline = time.monotonic() + 20
        while self.bytes < RATE:          # a quarter of a second flowing
            if time.monotonic() > deadline or self.p.poll() is not None:
                sys.exit("parec records nothing from vsink.monitor")
            time.sleep(0.05)

    def reader(self):
        fd = self.p.stdout.fileno()
        rest = b""
        while True:
            b = os.read(fd, 4096)
            t = time.monotonic()
            if not b:
                return
            self.bytes += len(b)
            b, rest = rest + b, b""
            if len(b) % 2:
                b, rest = b[:-1], b[-1:]
            with self.lock:
                if self.armed and self.heard is None:
                    a = array.array("h", b)
                    if max(map(abs, a), default=0) > SILENT:
                        self.heard = t

    def arm(self):
        with self.lock:
            self.armed, self.heard = True, None

    def result(self):
        with self.lock:
            self.armed = False
            return self.heard

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=10)


def run_guest(cmd, env, on_tone=None, timeout=600):
    """Runs an emulator to the guest's exit; returns (CPU seconds, host time of the
    "bench: tone" line)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    tone_at = None
    out = b""
    for line in p.stdout:
        if tone_at is None and line.startswith(b"bench: tone"):
            tone_at = time.monotonic()
            if on_tone:
                on_tone()
        out += line
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode("latin-1")
    if p.returncode != 33 or tone_at is None:
        sys.exit(f"the guest failed under {cmd[0]} (status {p.returncode}):\n{out.decode('latin-1')}{err}")
    if "without sound" in err:
        sys.exit(f"{cmd[0]} did not reach the PulseAudio daemon:\n{err}")
    return ru.ru_utime + ru.ru_stime, tone_at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", default=os.path.join(ROOT, "build/app/vireo-run"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--latency-runs", type=int, default=5)
    ap.add_argument("--card", action="append", choices=["ac97", "hda"])
    o = ap.parse_args()
    o.card = o.card or ["ac97", "hda"]
    for prog in ("nasm", "pulseaudio", "parec"):
        if not shutil.which(prog):
            sys.exit(f"{prog} is not installed")
    if not os.path.exists(o.vireo):
        sys.exit(f"no {o.vireo}: build first (ninja -C build)")
    emus = [("vireo", lambda img, card: vireo_cmd(o.vireo, img, card))]
    if shutil.which(o.qemu):
        emus.append(("qemu", lambda img, card: qemu_cmd(o.qemu, img, card, daemon.socket)))
    else:
        print(f"{o.qemu} not found: Vireo alone")

    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(tmp)
        try:
            mon = Monitor(daemon.env)
            try:
                cpu, lat = {}, {}
                for card in o.card:
                    long_img, short_img = build(tmp, card, o.seconds), build(tmp, card, 1)
                    for name, cmd in emus:
                        cpu[name, card] = min(run_guest(cmd(long_img, card), daemon.env)[0]
                                              for _ in range(o.repeat))
                        runs = []
                        for _ in range(o.latency_runs):
                            _, t0 = run_guest(cmd(short_img, card), daemon.env, on_tone=mon.arm)
                            time.sleep(0.3)
                            heard = mon.result()
                            if heard is None:
                                sys.exit(f"{name} {card}: parec heard no tone")
                            runs.append((heard - t0) * 1000)
                        lat[name, card] = runs
                        print(f"  {name} {card}: {cpu[name, card]:.2f} s CPU for {o.seconds} s; latency "
                              + " ".join(f"{x:.0f}" for x in runs) + " ms", flush=True)
            finally:
                mon.stop()
        finally:
            daemon.stop()

    print(f"\nHost CPU time of {o.seconds} s of 48 kHz stereo (user+sys, best of {o.repeat}); "
          f"output latency (median of {o.latency_runs}); load average {os.getloadavg()[0]:.1f}")
    print(f"  {'card':<6} {'vireo cpu':>10} {'qemu cpu':>10} {'ratio':>6} {'vireo lat':>10} {'qemu lat':>10}")
    for card in o.card:
        v = cpu["vireo", card]
        q = cpu.get(("qemu", card))
        vl = statistics.median(lat["vireo", card])
        ql = statistics.median(lat["qemu", card]) if ("qemu", card) in lat else None
        print(f"  {card:<6} {v:>9.2f}s " + (f"{q:>9.2f}s {v / q:>6.2f}" if q else f"{'-':>10} {'-':>6}")
              + f" {vl:>8.0f}ms " + (f"{ql:>8.0f}ms" if ql is not None else f"{'-':>10}"))


if __name__ == "__main__":
    main()
