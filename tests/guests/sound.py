#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Sound tests: tests/guests/sound.asm plays the PC speaker and the SB16 (8-bit
single-cycle, 8-bit auto-init, 16-bit stereo auto-init) and records its line input and
plays it back (with --mode wav a 700 Hz tone as in.path=); the recording must hold each
tone at its frequency (within 1%) and level (within 10%), with no gap over 10 ms in its
steady part.

  --mode wav   records with -audiodev wav (no sound server); also checks the WAV header
               and runs tests/guests/sound-hostile.asm (DMA outside RAM, absurd rates
               and lengths, every DSP command and mixer register): the guest's own
               checks pass, the VM exits normally, its memory stays small.
  --mode ac97  the AC'97 guest (tests/guests/sound-ac97.asm) recorded with -audiodev
               wav: two tones through PCM out's descriptor lists, and its own checks
               of the codec, the interrupts and PCM in.
  --mode ac97-linux  Debian's kernel from the Linux kit (--linux-kit) probes the card
               with snd-intel8x0 and plays a 500 Hz tone through ALSA's OSS /dev/dsp.
  --mode hda   the HD Audio guest (tests/guests/sound-hda.asm) with -device intel-hda and
               hda-duplex, recorded with -audiodev wav: its own checks of the controller,
               the CORB/RIRB, the codec's widgets and the input stream, and two tones
               (48 kHz at 0 dB, 44.1 kHz with the DAC amplifier at -6 dB).
  --mode hda-linux  as ac97-linux, with snd-hda-intel and the generic codec driver on
               intel-hda + hda-duplex: ALSA lists the codec and its four widgets, the
               tone plays, and half a second read from /dev/dsp is silence.
  --mode opl3  the FM guest (tests/guests/sound-opl3.asm) with -device adlib and -device
               sb16, recorded with -audiodev wav: AdLib detection through the timers on
               both chips, then notes of known F-number, block and total level through
               0x388, through the SB16's 0x220 and on the OPL3's second bank panned
               left; each tone's frequency, its level as the chip's attenuation and
               exponent tables give it, and no gaps.
  --mode pa    starts a private PulseAudio daemon with a null sink and records its
               monitor with parec while the guest plays through -audiodev pa, then
               through -audiodev sdl (SDL's PulseAudio driver), then the OPL3 guest
               (--opl3-guest) through pa, then the AC'97 guest (--ac97-guest)
               recording a tone played into a second null sink: through pa's
               in.source= its monitor, and through sdl's in.source=default with
               that monitor as the daemon's default source; gaps are reported, not
               counted, on this real-time path. Skips when pulseaudio or parec is
               missing or the daemon cannot start.
Exit codes: 0 pass, 1 fail, 77 skip."""
import argparse
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soundcheck  # noqa: E402

SKIP = 77
PIT_HZ = 1193182

# (name, seconds, [(hz, rms) per channel; one entry: every channel]). The SB16's tones
# last as long as their DMA blocks; the speaker's as the guest counts PIT interrupts,
# which a starved host may deliver late (None: at least 0.6 s).
TONES = [
    ("PC speaker, PIT count 1356", None, [(PIT_HZ / 1356, 10000)]),
    ("SB16 8-bit single-cycle, 20000 Hz", 0.8, [(1000, 16384)]),
    ("SB16 8-bit auto-init, 11025 Hz", 1.0, [(500, 100 * 256 / 2 ** 0.5)]),
    ("SB16 16-bit stereo auto-init, 44100 Hz", 0.85, [(1000, 16000 / 2 ** 0.5), (500, 16000 / 2 ** 0.5)]),
]
# The SB16's recording of its line input (a 700 Hz tone of amplitude 8000 on both
# channels, averaged into mono), played back at 22050 Hz.
SB16_REC_TONE = ("SB16 16-bit recording of the line input, played back", 0.5, [(700, 8000 / 2 ** 0.5)])
# The AC'97 guest (tests/guests/sound-ac97.asm): two tones through PCM out.
AC97_TONES = [
    ("AC97 PCM out, 48000 Hz", 0.4, [(1000, 16000 / 2 ** 0.5), (500, 16000 / 2 ** 0.5)]),
    ("AC97 PCM out, VRA 22050 Hz", 0.6, [(500, 12000 / 2 ** 0.5)]),
]
AC97_LINES = ["ac97: codec STAC9700 ready", "ac97: 4 buffers at 48000 Hz, 4 completion interrupts, halted at LVI",
              "ac97: 6 buffers at 22050 Hz (VRA), the list extended while playing",
              "ac97: PCM in recorded 500 ms of silence"]
# The same guest with a 700 Hz tone as the audiodev's input (in.path=): PCM in records
# it at 48000 Hz and the guest plays the recording back.
# The guest records with the codec's record gain at +6 dB (4 steps of 1.5 dB).
AC97_IN_HZ, AC97_IN_AMP = 700, 8000
AC97_REC_GAIN = 10 ** (6 / 20)
AC97_REC_LINES = AC97_LINES[:3] + [
    "ac97: record select (line in: silence) and mic boost (+20 dB: clipped) applied",
    "ac97: PCM in recorded sound; playing it back"]
AC97_REC_TONES = AC97_TONES + [("AC97 PCM in at +6 dB, played back", 0.5,
                                [(AC97_IN_HZ, AC97_IN_AMP * AC97_REC_GAIN / 2 ** 0.5)])]
# The HD Audio guest (tests/guests/sound-hda.asm): a tone at 48 kHz with the DAC at 0 dB,
# one at 44.1 kHz at -6 dB.
HDA_TONES = [
    ("HDA stream 1, 48000 Hz", 0.4, [(1000, 16000 / 2 ** 0.5), (500, 16000 / 2 ** 0.5)]),
    ("HDA stream 2, 44100 Hz, -6 dB", 0.6, [(750, 12000 / 2 ** 0.5 * 10 ** (-6 / 20))]),
]
HDA_LINES = ["hda: controller reset, codec at address 0",
             "hda: CORB/RIRB: codec 1af4:0022, 4 responses, 1 interrupt",
             "hda: widgets: DAC, line-out pin, ADC, line-in pin",
             "hda: 4 buffers at 48000 Hz, 4 completion interrupts, LPIB and position buffer agree",
             "hda: 6 buffers at 44100 Hz, amplifier at -6 dB",
             "hda: input recorded 500 ms of silence"]
# The same guest with the 700 Hz input (in.path=): the ADC's amplifier at -6 dB.
HDA_REC_LINES = HDA_LINES[:5] + ["hda: the muted ADC amplifier records silence",
                                  "hda: input recorded sound; playing it back"]
HDA_REC_TONES = HDA_TONES + [("HDA input at -6 dB, played back", 0.5,
                              [(AC97_IN_HZ, AC97_IN_AMP * 10 ** (-6 / 20) / 2 ** 0.5)])]
SERIAL_LINES = ["speaker: 880 Hz played", "SB16 DSP version 04.05", "mixer: IRQ 5, DMA 1 and 5",
                "sb16: 8 single-cycle blocks", "sb16: 8-bit auto-init stopped by 0xDA",
                "sb16: 16-bit stereo auto-init stopped by 0xD9",
                "sb16: recorded 500 ms through 16-bit DMA; playing it back", "sb16: recording played back"]
# The OPL3 guest: a sine's peak is the exponent table's entry for the attenuation
# (0.1875 dB steps; TL counts 4 of them) doubled, shifted by whole octaves (the YMF262's
# 13-bit output); the recording's RMS is the peak over sqrt 2. A channel expected
# silent has no frequency.
def opl_peak(att):
    level = att * 8
    mant = int(math.floor(1024 * 2 ** ((255 - (level & 255)) / 256) + 0.5))
    return (mant << 1) >> (level >> 8)


def opl_hz(fnum, block):
    return fnum * 49716 / 2 ** (20 - block)


OPL3_TONES = [
    ("AdLib 0x388, fnum 580 block 4, TL 0", None, [(opl_hz(580, 4), opl_peak(0) / 2 ** 0.5)]),
    ("AdLib 0x388, fnum 580 block 5, TL 8", None, [(opl_hz(580, 5), opl_peak(32) / 2 ** 0.5)]),
    ("SB16 0x220, fnum 580 block 4, TL 0", None, [(opl_hz(580, 4), opl_peak(0) / 2 ** 0.5)]),
    ("SB16 0x220, fnum 580 block 5, TL 8", None, [(opl_hz(580, 5), opl_peak(32) / 2 ** 0.5)]),
    ("SB16 OPL3 bank 1, fnum 435 block 5, TL 4, left", None,
     [(opl_hz(435, 5), opl_peak(16) / 2 ** 0.5), (None, 0)]),
]
OPL3_LINES = ["fm: status 00 then c0", "fm: AdLib at 0x388 detected (status 00 then C0), an OPL3",
              "fm: SB16 FM at 0x220 detected (status 00 then C0), an OPL3", "fm: SB16 FM at 0x228 detected",
              "fm: two notes at 0x388", "fm: two notes at 0x220", "fm: OPL3 note on bank 1, left"]
HOSTILE_LINES = ["hostile: 8-bit DMA outside RAM ran", "hostile: 16-bit DMA outside RAM ran",
                 "hostile: all commands and mixer registers written",
                 "hostile: DSP recovered; DREQ waits for the channel"]


class Failure(Exception):
    pass


def run_guest(args, bios, audiodev, env=None, timeout=120, speaker="snd", extra=(), card="sb16"):
    # card: the device that plays through the audiodev, after its controller for HD Audio.
    cards = ["-device", "intel-hda", "-device", "hda-duplex,audiodev=snd"] if card == "hda" else \
        ["-device", f"{card},audiodev=snd"]
    cmd = [args.vireo, "-accel", args.accel, "-nographic", "-m", "16", "-bios", bios,
           "-audiodev", audiodev, "-machine", f"pc,pcspk-audiodev={speaker}"] + cards + \
        ["-device", "isa-debug-exit"] + list(extra)
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    out = p.stdout.decode("latin-1")
    err = p.stderr.decode("latin-1")
    sys.stdout.write(out)
    sys.stderr.write(err)
    if p.returncode != 33:
        raise Failure(f"vireo-run exited with {p.returncode}, not 33 (the guest's pass)")
    return out, err


def check_lines(out, lines):
    for line in lines:
        if line not in out:
            raise Failure(f"the guest did not print '{line}'")


def check_tones(rate, chans, strict_gaps=True, expected=TONES):
    tones = soundcheck.find_tones(rate, chans)
    print(f"recording: {len(chans[0]) / rate:.2f} s at {rate} Hz, {len(chans)} channels, "
          f"{len(tones)} tones", flush=True)
    if len(tones) != len(expected):
        raise Failure(f"found {len(tones)} tones, expected {len(expected)}: "
                      + ", ".join(f"{a / rate:.3f}-{b / rate:.3f} s" for a, b in tones))
    problems = []
    for (name, seconds, expect), (a, b) in zip(expected, tones):
        r = soundcheck.analyse(rate, chans, a, b)
        print(f"  {name}: {a / rate:.3f}-{b / rate:.3f} s ({r['seconds']:.3f} s), "
              f"longest gap {r['gap_s'] * 1000:.2f} ms")
        if seconds is None and r["seconds"] < 0.6 - 0.03:
            problems.append(f"{name}: lasts {r['seconds']:.3f} s, expected at least 0.6")
        if seconds is not None and not seconds - 0.03 <= r["seconds"] <= seconds + 0.1:
            problems.append(f"{name}: lasts {r['seconds']:.3f} s, expected {seconds}")
        if r["gap_s"] > 0.010:
            msg = f"{name}: a gap of {r['gap_s'] * 1000:.1f} ms"
            if strict_gaps:
                problems.append(msg)
            else:
                print(f"  (not counted: {msg}; a real-time path)")
        for c, (hz, share, rms, level) in enumerate(r["channels"]):
            want_hz, want_rms = expect[c] if len(expect) > 1 else expect[0]
            if want_hz is None:
                print(f"    channel {c}: level {level:.0f} RMS (expected silence)")
                if level > 30:
                    problems.append(f"{name} channel {c}: level {level:.0f}, expected silence")
                continue
            print(f"    channel {c}: {hz:.2f} Hz (expected {want_hz:.2f}), {share * 100:.1f}% of the "
                  f"power there, level {level:.0f} RMS (expected {want_rms:.0f})")
            if abs(hz - want_hz) > 0.01 * want_hz:
                problems.append(f"{name} channel {c}: {hz:.2f} Hz, expected {want_hz:.2f} within 1%")
            if strict_gaps and share < 0.7:
                problems.append(f"{name} channel {c}: only {share * 100:.1f}% of the power at {hz:.1f} Hz")
            if abs(level - want_rms) > 0.1 * want_rms:
                problems.append(f"{name} channel {c}: level {level:.0f}, expected {want_rms:.0f} within 10%")
    if problems:
        raise Failure("; ".join(problems))


def mode_wav(args, tmp):
    # The line input: a 700 Hz tone the guest records through 16-bit DMA and plays back.
    tone = os.path.join(tmp, "in.wav")
    write_tone_wav(tone, 44100, AC97_IN_HZ, AC97_IN_AMP, 1.0)
    wav = os.path.join(tmp, "out.wav")
    out, _ = run_guest(args, args.guest, f"wav,id=snd,path={wav},in.path={tone}")
    check_lines(out, SERIAL_LINES)
    rate, chans = soundcheck.read_wav(wav)  # checks the header's sizes against the file
    if rate != 44100 or len(chans) != 2:
        raise Failure(f"WAV is {rate} Hz with {len(chans)} channels, expected 44100 Hz stereo")
    check_tones(rate, chans, expected=TONES + [SB16_REC_TONE])

    # The hostile guest, at 48 kHz mono output. When the build has PulseAudio, the
    # speaker goes to a pa back end whose server does not exist: one warning line, and
    # the VM runs on.
    wav2 = os.path.join(tmp, "hostile.wav")
    has_pa = subprocess.run([args.vireo, "-audiodev", "pa,id=x", "-device", "sb16,help"],
                            capture_output=True).returncode == 0
    extra = ["-audiodev", f"pa,id=nopa,server=unix:{tmp}/no-such-server"] if has_pa else []
    out, err = run_guest(args, args.hostile, f"wav,id=snd,path={wav2},out.frequency=48000,out.channels=1",
                         speaker="nopa" if has_pa else "snd", extra=extra)
    check_lines(out, HOSTILE_LINES)
    if has_pa:
        warnings = [ln for ln in err.splitlines() if ln.strip()]
        if len(warnings) != 1 or "audiodev nopa: no PulseAudio server" not in warnings[0]:
            raise Failure(f"expected one warning about the missing PulseAudio server, got {warnings}")
        print("no PulseAudio server: one warning line, the VM ran")
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest vireo-run resident set: {rss_mib:.0f} MiB")
    if rss_mib > 200:
        raise Failure(f"vireo-run grew to {rss_mib:.0f} MiB")
    rate, chans = soundcheck.read_wav(wav2)
    if rate != 48000 or len(chans) != 1:
        raise Failure(f"hostile WAV is {rate} Hz with {len(chans)} channels, expected 48000 Hz mono")


def write_tone_wav(path, rate, hz, amp, seconds):
    """A stereo 16-bit WAV holding a sine on both channels."""
    import math
    import struct
    import wave
    n = int(rate * seconds)
    frames = b"".join(struct.pack("<hh", v, v) for v in
                      (int(round(amp * math.sin(2 * math.pi * hz * k / rate))) for k in range(n)))
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def mode_ac97(args, tmp):
    wav = os.path.join(tmp, "ac97.wav")
    out, _ = run_guest(args, args.guest, f"wav,id=snd,path={wav}", card="AC97")
    check_lines(out, AC97_LINES)
    rate, chans = soundcheck.read_wav(wav)
    if rate != 44100 or len(chans) != 2:
        raise Failure(f"WAV is {rate} Hz with {len(chans)} channels, expected 44100 Hz stereo")
    check_tones(rate, chans, expected=AC97_TONES)

    # Recording: a tone file as the input, heard again in the output.
    tone = os.path.join(tmp, "in.wav")
    write_tone_wav(tone, 44100, AC97_IN_HZ, AC97_IN_AMP, 1.0)
    wav = os.path.join(tmp, "ac97-rec.wav")
    out, _ = run_guest(args, args.guest, f"wav,id=snd,path={wav},in.path={tone}", card="AC97")
    check_lines(out, AC97_REC_LINES)
    rate, chans = soundcheck.read_wav(wav)
    check_tones(rate, chans, expected=AC97_REC_TONES)

    # An input that is not a WAV: one line naming it, and the output file left alone.
    bad = os.path.join(tmp, "not-a.wav")
    with open(bad, "wb") as f:
        f.write(b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00" + b"\x01" * 7)
    p = subprocess.run([args.vireo, "-audiodev", f"wav,id=snd,path={wav},in.path={bad}", "-device", "AC97,audiodev=snd",
                        "-nographic"], capture_output=True, timeout=60)
    lines = [ln for ln in p.stderr.decode("latin-1").splitlines() if ln.strip()]
    if p.returncode == 0 or len(lines) != 1 or "in.path=" not in lines[0] or "damaged fmt chunk" not in lines[0]:
        raise Failure(f"a damaged input WAV gave status {p.returncode} and {lines}")
    if soundcheck.read_wav(wav)[0] != 44100:
        raise Failure("a refused input WAV damaged the output file")
    print("damaged in.path: one line:", lines[0])


def mode_hda(args, tmp):
    wav = os.path.join(tmp, "hda.wav")
    out, _ = run_guest(args, args.guest, f"wav,id=snd,path={wav}", card="hda")
    check_lines(out, HDA_LINES)
    rate, chans = soundcheck.read_wav(wav)
    if rate != 44100 or len(chans) != 2:
        raise Failure(f"WAV is {rate} Hz with {len(chans)} channels, expected 44100 Hz stereo")
    check_tones(rate, chans, expected=HDA_TONES)

    # Recording: the input tone through the ADC's amplifier, heard again in the output.
    tone = os.path.join(tmp, "in.wav")
    write_tone_wav(tone, 44100, AC97_IN_HZ, AC97_IN_AMP, 1.0)
    wav = os.path.join(tmp, "hda-rec.wav")
    out, _ = run_guest(args, args.guest, f"wav,id=snd,path={wav},in.path={tone}", card="hda")
    check_lines(out, HDA_REC_LINES)
    rate, chans = soundcheck.read_wav(wav)
    check_tones(rate, chans, expected=HDA_REC_TONES)


def mode_opl3(args, tmp):
    wav = os.path.join(tmp, "opl3.wav")
    out, err = run_guest(args, args.guest, f"wav,id=snd,path={wav}",
                         extra=["-device", "adlib,audiodev=snd", "-d", "audio"])
    check_lines(out, OPL3_LINES)
    # -d audio: each chip's voice starts when its first note does.
    for chip in ("adlib.0", "sb16.0.fm"):
        if f"{chip}: FM voice started" not in err:
            raise Failure(f"-d audio did not log the start of {chip}'s FM voice")
    rate, chans = soundcheck.read_wav(wav)
    if rate != 44100 or len(chans) != 2:
        raise Failure(f"WAV is {rate} Hz with {len(chans)} channels, expected 44100 Hz stereo")
    check_tones(rate, chans, expected=OPL3_TONES)


def mode_linux(args, tmp, card):
    """Debian's kernel drives the card (snd-intel8x0 for AC'97, snd-hda-intel with the
    generic codec driver for HD Audio) and plays a tone through OSS's /dev/dsp (8000 Hz
    unsigned 8-bit mono): a 500 Hz sine of amplitude 100 for 1 s."""
    here = os.path.dirname(os.path.abspath(__file__))
    kit = args.linux_kit
    r = subprocess.run(["sh", os.path.join(here, "linux", "mkkit.sh"), kit])
    if r.returncode == SKIP:
        print("SKIP: the Linux kit could not be built")
        return SKIP
    if r.returncode:
        raise Failure("mkkit.sh failed")
    tone = os.path.abspath(os.path.join(kit, "tone-500hz-u8-8000.raw"))
    data = bytes(round(128 + 100 * math.sin(2 * math.pi * 500 * i / 8000)) for i in range(8000))
    if not os.path.exists(tone) or open(tone, "rb").read() != data:
        with open(tone, "wb") as f:
            f.write(data)
    r = subprocess.run(["sh", os.path.join(here, "linux", "mksound.sh"), kit, tone, os.path.abspath(args.oss_unmute),
                        card.split("-")[0]])
    if r.returncode == SKIP:
        print("SKIP: the sound initramfs could not be built")
        return SKIP
    if r.returncode:
        raise Failure("mksound.sh failed")
    wav = os.path.join(tmp, "linux.wav")
    # The card's input: a 700 Hz tone (amplitude 8000 of 32767) as the audiodev's in.path.
    in_wav = os.path.join(tmp, "linux-in.wav")
    write_tone_wav(in_wav, 44100, AC97_IN_HZ, AC97_IN_AMP, 5.0)
    devices = {"ac97": ["-device", "AC97,audiodev=snd"],
               "hda": ["-device", "intel-hda", "-device", "hda-duplex,audiodev=snd"],
               # usb-audio on the board's UHCI, or alone on a qemu-xhci.
               "usb-uhci": ["-device", "usb-audio,audiodev=snd"],
               "usb-xhci": ["-machine", "pc,usb=off", "-device", "qemu-xhci,id=xhci",
                            "-device", "usb-audio,audiodev=snd,bus=xhci.0"],
               # Full speed on a companion-free EHCI: behind a usb-hub, through siTDs.
               "usb-ehci": ["-machine", "pc,usb=off", "-device", "usb-ehci,id=ehci",
                            "-device", "usb-hub,bus=ehci.0,port=1",
                            "-device", "usb-audio,audiodev=snd,bus=ehci.0,port=1.1"]}[card]
    initrd = {"ac97": "initrd-sound.img", "hda": "initrd-sound-hda.img"}.get(card, "initrd-sound-usb.img")
    cmd = [args.vireo, "-accel", args.accel, "-nographic", "-m", "256", "-kernel", os.path.join(kit, "vmlinuz"),
           "-initrd", os.path.join(kit, initrd), "-append", "console=ttyS0 quiet",
           "-audiodev", f"wav,id=snd,path={wav},in.path={in_wav}"] + devices
    print("running:", " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    out = p.stdout.decode("latin-1")
    for line in out.splitlines():
        if line.startswith("VIREO-"):
            print(line)
    if p.returncode != 0:
        raise Failure(f"vireo-run exited with {p.returncode}: {p.stderr.decode('latin-1')[-500:]}")
    bad = re.search(r"VIREO-MODULE-FAILED.*|VIREO-SND-FAILED.*|Oops|BUG:|Call Trace", out)
    if bad:
        raise Failure(f"the guest reported: {bad.group(0)}")
    if card.startswith("usb"):
        return check_usb_audio(out, wav)
    if card == "ac97":
        if not re.search(r"VIREO-SND-CARD +0 \[\w+ *\]: ICH - Intel 82801AA-ICH", out):
            raise Failure("ALSA did not find the Intel 82801AA-ICH card")
        if "VIREO-SND-CODEC 0-0/0: SigmaTel STAC9700" not in out:
            raise Failure("ALSA did not find the STAC9700 codec")
    else:
        if not re.search(r"VIREO-SND-CARD +0 \[\w+ *\]: HDA-Intel - HDA Intel", out):
            raise Failure("ALSA did not find the HDA Intel card")
        if "VIREO-SND-HDA Vendor Id: 0x1af40022" not in out:
            raise Failure("ALSA did not find the codec 1af4:0022 at address 0")
        if "VIREO-SND-HDA Address: 0" not in out:
            raise Failure("the codec is not at address 0")
        for node in ("Node 0x02 [Audio Output]", "Node 0x03 [Pin Complex]", "Node 0x04 [Audio Input]",
                     "Node 0x05 [Pin Complex]"):
            if not re.search(r"VIREO-SND-HDA " + re.escape(node), out):
                raise Failure(f"ALSA's codec listing lacks {node}")
    # What the guest recorded (8-bit unsigned): the input tone, many values around 0x80.
    rec = re.search(r"VIREO-SND-RECORDED (\d+) bytes: *(.*)", out)
    values = [int(v, 16) for v in rec.group(2).split()] if rec else []
    if not rec or rec.group(1) != "4000" or len(values) < 20 or min(values) > 0x70 or max(values) < 0x90:
        raise Failure("the guest did not record the input tone from /dev/dsp: "
                      + (rec.group(0) if rec else "no VIREO-SND-RECORDED line"))
    print(f"recorded 4000 bytes with {len(values)} distinct values, {min(values):#x}-{max(values):#x}")
    if "VIREO-SND-PLAYED-BACK" not in out:
        raise Failure("the guest did not play its recording back")
    if "VIREO-SND-PLAYED 8000" not in out:
        raise Failure("the tone was not played through /dev/dsp")
    rate, chans = soundcheck.read_wav(wav)
    # The 500 Hz tone, then the recording played back: the input's 700 Hz through 8-bit
    # samples (amplitude 8000 / 256 = 31.25 steps of 256).
    check_tones(rate, chans, expected=[("Linux, OSS /dev/dsp, 8000 Hz", 1.0, [(500, 100 * 256 / 2 ** 0.5)]),
                                       ("Linux, the recording played back", 0.5,
                                        [(AC97_IN_HZ, AC97_IN_AMP / 2 ** 0.5)])])
    return 0


def check_usb_audio(out, wav):
    """usb-audio under snd-usb-audio: the card, its one isochronous stream format, and the
    tone through OSS's /dev/dsp (converted by ALSA to the device's 48 kHz 16-bit stereo)
    carried by isochronous packets into the WAV recording."""
    if not re.search(r"VIREO-SND-CARD +0 \[\w+ *\]: USB-Audio - QEMU USB Audio", out):
        raise Failure("ALSA did not find the QEMU USB Audio card")
    for want in (r"Format: S16_LE", r"Channels: 2", r"Endpoint: .*1 OUT.*ADAPTIVE", r"Rates: 48000"):
        if not re.search(r"VIREO-SND-USB " + want, out):
            raise Failure(f"snd-usb-audio's stream listing lacks {want!r}")
    print("ok: snd-usb-audio found QEMU USB Audio with its 48 kHz 16-bit stereo isochronous OUT endpoint")
    if "VIREO-SND-PLAYED 8000" not in out:
        raise Failure("the tone was not played through /dev/dsp")
    rate, chans = soundcheck.read_wav(wav)
    # The stream is pushed by the guest's driver in real time, a packet a millisecond: on
    # a loaded host a starved vCPU queues its packets late and the speaker plays silence
    # (a real-time path, as through PulseAudio). Gaps are reported, not counted; the
    # frequency, level and length still are. The exact bytes of isochronous packets are
    # checked by the controllers' unit tests (test-xhci, test-ehci).
    check_tones(rate, chans, strict_gaps=False,
                expected=[("Linux, OSS /dev/dsp through usb-audio", 1.0, [(500, 100 * 256 / 2 ** 0.5)])])
    # Between the gaps the packets must carry the tone itself, in order: every 5 ms block
    # that is sounding is a 500 Hz sine (a least-squares fit leaves under 5% of its
    # power), but for the few blocks that straddle a gap.
    (a, b), = soundcheck.find_tones(rate, chans)
    n = rate // 200
    w = 2 * math.pi * 500 / rate
    clean = sounding = 0
    for start in range(a, b - n, n):
        x = chans[0][start:start + n]
        power = sum(v * v for v in x) / n
        if power < 1000 ** 2:
            continue
        sounding += 1
        # Normal equations of x ~ p sin + q cos + c over the block.
        rows = [(math.sin(w * i), math.cos(w * i), 1.0) for i in range(n)]
        m = [[sum(r[j] * r[k] for r in rows) for k in range(3)] for j in range(3)]
        y = [sum(r[j] * v for r, v in zip(rows, x)) for j in range(3)]
        coef = solve3(m, y)
        resid = sum((v - sum(c * f for c, f in zip(coef, r))) ** 2 for r, v in zip(rows, x)) / n
        clean += resid < 0.05 * power
    print(f"  {clean} of {sounding} sounding 5 ms blocks are a clean 500 Hz sine")
    if sounding < 150 or clean < 0.9 * sounding:
        raise Failure(f"only {clean} of {sounding} sounding 5 ms blocks are a clean 500 Hz sine")
    return 0


def solve3(m, y):
    """Solves the 3x3 system m x = y (Cramer's rule)."""
    def det(a):
        return (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))
    d = det(m)
    out = []
    for k in range(3):
        mk = [[y[j] if c == k else m[j][c] for c in range(3)] for j in range(3)]
        out.append(det(mk) / d)
    return out


def mode_pa(args, tmp):
    for prog in ("pulseaudio", "parec", "pactl", "paplay"):
        if not shutil.which(prog):
            print(f"SKIP: {prog} is not installed (Debian packages pulseaudio, pulseaudio-utils)")
            return SKIP
    # A private daemon: its own runtime directory, so it meets no other session's.
    env = dict(os.environ)
    run = os.path.join(tmp, "run")
    os.makedirs(run, mode=0o700)
    env.update(HOME=tmp, XDG_RUNTIME_DIR=run, PULSE_RUNTIME_PATH=run,
               PULSE_STATE_PATH=os.path.join(tmp, "state"), PULSE_CONFIG_PATH=os.path.join(tmp, "config"))
    env.pop("PULSE_SERVER", None)
    # No realtime scheduling: as root the daemon gives its sink thread SCHED_RR with a
    # 200 ms RLIMIT_RTTIME, and the kernel kills it when a loaded (or descheduled virtual)
    # host lets that thread run past the limit; the test is about Vireo, not the daemon.
    log = os.path.join(tmp, "pulseaudio.log")
    d = subprocess.run(["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                        "--realtime=no", "--high-priority=no", f"--log-target=file:{log}", "--log-level=info",
                        "--enable-memfd=no",
                        "--load=module-native-protocol-unix",
                        "--load=module-null-sink sink_name=vsink"],
                       env=env, capture_output=True, timeout=30)
    pidfile = os.path.join(run, "pid")
    if d.returncode != 0 or not os.path.exists(pidfile):
        print("SKIP: pulseaudio did not start:", d.stderr.decode("latin-1").strip().splitlines()[-1:])
        return SKIP
    with open(pidfile) as f:
        daemon = int(f.read().strip())
    ok = False
    try:
        rc = run_pa_checks(args, tmp, env)
        ok = rc == 0
        return rc
    finally:
        alive = daemon_alive(daemon)
        if alive:
            stop_daemon(daemon)
        if not alive or not ok:
            # A daemon that drops its clients says why only in its log.
            print("the private PulseAudio daemon", "is running" if alive else "died during the test",
                  "; its log ends:", sep="")
            with open(log, errors="replace") as f:
                print("".join(f.readlines()[-25:]), end="")


def daemon_alive(pid):
    """Whether the daemon runs: a zombie (nobody reaps a daemonized process in a
    container without an init) has exited too."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def run_pa_checks(args, tmp, env):
    """Every PulseAudio check against the private daemon; 0 or the first failure."""
    for backend in ("pa", "sdl"):
        rc = record_backend(args, tmp, env, backend)
        if rc:
            return rc
    if args.opl3_guest:
        # The FM chips through PulseAudio as well.
        rc = record_backend(args, tmp, env, "pa", guest=args.opl3_guest, lines=OPL3_LINES,
                            tones=OPL3_TONES, extra=["-device", "adlib,audiodev=snd"])
        if rc:
            return rc
    if args.ac97_guest:
        # Recording: a second null sink plays the input tone; the AC'97 records its
        # monitor through in.source= and plays the recording back into vsink.
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=vin"], env=env,
                       check=True, capture_output=True, timeout=30)
        tone = os.path.join(tmp, "in-long.wav")
        write_tone_wav(tone, 44100, AC97_IN_HZ, AC97_IN_AMP, 60.0)
        feeder = subprocess.Popen(["paplay", "--device=vin", tone], env=env)
        try:
            rc = record_backend(args, tmp, env, "pa", guest=args.ac97_guest, lines=AC97_REC_LINES,
                                audiodev_opts=",in.source=vin.monitor", card="AC97",
                                check=check_recorded_playback)
            if not rc:
                # SDL's capture (its PulseAudio driver) records the default source:
                # vin's monitor made the default, vsink kept as the default sink.
                for what, name in (("source", "vin.monitor"), ("sink", "vsink")):
                    subprocess.run(["pactl", f"set-default-{what}", name], env=env, check=True,
                                   capture_output=True, timeout=30)
                rc = record_backend(args, tmp, env, "sdl", guest=args.ac97_guest, lines=AC97_REC_LINES,
                                    audiodev_opts=",in.source=default", card="AC97",
                                    check=check_recorded_playback)
        finally:
            feeder.terminate()
            feeder.wait(timeout=10)
        if rc:
            return rc
    return 0


def stop_daemon(pid):
    """Stops the daemon and waits until it is gone: it removes its files from the runtime
    folder as it exits, which would race with the removal of the temporary folder."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def record_backend(args, tmp, env, backend, guest=None, lines=SERIAL_LINES, tones=TONES, extra=(),
                   audiodev_opts="", card="sb16", check=None):
    """Plays the guest (by default the SB16 and speaker one) through -audiodev pa, or
    sdl with SDL's PulseAudio driver, into the daemon's null sink while parec records
    its monitor."""
    if backend == "sdl":
        chk = subprocess.run([args.vireo, "-audiodev", "sdl,id=x", "-device", "sb16,help"], capture_output=True)
        if chk.returncode != 0:
            print("sdl: this build has no SDL2 audio back end; not tested")
            return 0
        env = dict(env, SDL_AUDIODRIVER="pulseaudio")
    raw = os.path.join(tmp, f"rec-{backend}-{len(tones)}.raw")
    rec = None
    try:
        with open(raw, "wb") as f:
            rec = subprocess.Popen(["parec", "-d", "vsink.monitor", "--format=s16le", "--rate=44100",
                                    "--channels=2", "--latency-msec=20"], stdout=f, env=env)
            # Recording runs once parec has written a fifth of a second.
            deadline = time.monotonic() + 30
            while os.path.getsize(raw) < 44100 * 4 // 5:
                if time.monotonic() > deadline or rec.poll() is not None:
                    raise Failure("parec records nothing from vsink.monitor")
                time.sleep(0.05)
            out, err = run_guest(args, guest or args.guest, f"{backend},id=snd{audiodev_opts}", env=env, extra=extra,
                                 card=card)
            time.sleep(0.5)
        check_lines(out, lines)
        if "running without sound" in err:
            raise Failure(f"{backend}: vireo-run found no sound server")
    finally:
        if rec:
            rec.terminate()
            rec.wait(timeout=10)
    chans = soundcheck.read_raw(raw, 2)
    # A real-time path on a shared host: the daemon or the mixer can be starved for tens of
    # milliseconds by other work, so gaps here are reported, not counted (no timed tests).
    # The WAV mode (run alone) checks the gaps; here pitch, level and length.
    print(f"{backend}: load average {os.getloadavg()[0]:.1f}; gaps reported only")
    if check:
        check(chans)
    else:
        check_tones(44100, chans, strict_gaps=False, expected=tones)
    return 0


def check_recorded_playback(chans):
    """The AC'97 guest's played-back recording through PulseAudio: the last tone has the
    input's pitch and level. Capture runs in real time, so a starved host may lose some
    of the 500 ms: the length need only be most of it."""
    tones = soundcheck.find_tones(44100, chans)
    if len(tones) != len(AC97_REC_TONES):
        raise Failure(f"found {len(tones)} tones, expected {len(AC97_REC_TONES)}")
    a, b = tones[-1]
    r = soundcheck.analyse(44100, chans, a, b)
    print(f"  played-back recording: {r['seconds']:.3f} s, longest gap {r['gap_s'] * 1000:.2f} ms")
    if not 0.3 <= r["seconds"] <= 0.6:
        raise Failure(f"the played-back recording lasts {r['seconds']:.3f} s, expected most of 0.5 s")
    want = AC97_IN_AMP * AC97_REC_GAIN / 2 ** 0.5
    for c, (hz, share, rms, level) in enumerate(r["channels"]):
        print(f"    channel {c}: {hz:.2f} Hz, level {level:.0f} RMS (expected {AC97_IN_HZ}, {want:.0f})")
        if abs(hz - AC97_IN_HZ) > 0.01 * AC97_IN_HZ:
            raise Failure(f"the recording's channel {c} is {hz:.2f} Hz, expected {AC97_IN_HZ}")
        if abs(level - want) > 0.15 * want:
            raise Failure(f"the recording's channel {c} has level {level:.0f}, expected {want:.0f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vireo", required=True)
    ap.add_argument("--accel", default="tcg")
    ap.add_argument("--mode", choices=["wav", "pa", "ac97", "ac97-linux", "hda", "hda-linux", "opl3",
                                       "usb-uhci-linux", "usb-ehci-linux", "usb-xhci-linux"], default="wav")
    ap.add_argument("--linux-kit")
    ap.add_argument("--oss-unmute", help="tests/guests/linux/oss-unmute.asm assembled (ac97-linux)")
    ap.add_argument("--guest", required=True)
    ap.add_argument("--hostile")
    ap.add_argument("--opl3-guest", help="tests/guests/sound-opl3.asm assembled (pa: also played through pa)")
    ap.add_argument("--ac97-guest", help="tests/guests/sound-ac97.asm assembled (pa: records from a source)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vireo-sound-") as tmp:
        try:
            if args.mode == "wav":
                mode_wav(args, tmp)
                rc = 0
            elif args.mode == "ac97":
                mode_ac97(args, tmp)
                rc = 0
            elif args.mode == "hda":
                mode_hda(args, tmp)
                rc = 0
            elif args.mode == "opl3":
                mode_opl3(args, tmp)
                rc = 0
            elif args.mode == "ac97-linux":
                rc = mode_linux(args, tmp, "ac97")
            elif args.mode == "hda-linux":
                rc = mode_linux(args, tmp, "hda")
            elif args.mode in ("usb-uhci-linux", "usb-ehci-linux", "usb-xhci-linux"):
                rc = mode_linux(args, tmp, args.mode[:-len("-linux")])
            else:
                rc = mode_pa(args, tmp)
        except (Failure, soundcheck.wave.Error, ValueError, subprocess.TimeoutExpired,
                subprocess.CalledProcessError) as e:
            print("FAIL:", e)
            return 1
    if rc == 0:
        print("PASS")
    return rc


if __name__ == "__main__":
    sys.exit(main())
