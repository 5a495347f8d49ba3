# SPDX-License-Identifier: GPL-2.0-or-later
"""Analysis of a recording of a test guest's tones (tests/guests/sound.asm): finds the
tones (stretches of sound separated by silence), and per tone its length, per channel
the frequency (from interpolated zero crossings), the share of the signal's power at
that frequency (a single DFT bin over each gap-free stretch: about 1.0 for a sine,
0.81 for a square wave, low for noise or a wrong tone), the level, and the longest gap inside its steady part.
Plain Python (no numpy), as the test machines' python3 may lack it."""
import array
import cmath
import math
import sys
import wave

# Sound: a 5 ms window whose AC level (RMS after removing the mean) is above this.
ACTIVE_RMS = 800
# Tones are separated by at least this much quiet.
SPLIT_QUIET_S = 0.15
# Inside a tone, a gap is a run of samples below 2% of full scale on every channel.
GAP_LEVEL = 655


def read_wav(path):
    """(rate, [channel sample arrays]); the header must be finished (its sizes match
    the file) and describe 16-bit PCM."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getcomptype() != "NONE":
            raise ValueError(f"{path}: not 16-bit PCM")
        rate, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        data = w.readframes(n)
    if len(data) != n * ch * 2:
        raise ValueError(f"{path}: header says {n} frames, file holds {len(data) // (2 * ch)}")
    return rate, split(data, ch)


def read_raw(path, channels):
    with open(path, "rb") as f:
        data = f.read()
    data = data[: len(data) - len(data) % (2 * channels)]
    return split(data, channels)


def split(data, ch):
    a = array.array("h")
    a.frombytes(data)
    if sys.byteorder != "little":
        a.byteswap()
    return [a[c::ch] for c in range(ch)]


def _ac_rms(s):
    n = len(s)
    if not n:
        return 0.0
    m = sum(s) / n
    return math.sqrt(max(sum(v * v for v in s) / n - m * m, 0.0))


def find_tones(rate, chans):
    """[(start, end)] sample ranges of sound."""
    win = rate // 200
    nwin = len(chans[0]) // win
    active = [max(_ac_rms(c[i * win:(i + 1) * win]) for c in chans) > ACTIVE_RMS for i in range(nwin)]
    tones = []
    split_w = int(SPLIT_QUIET_S * 200)
    i = 0
    while i < nwin:
        if not active[i]:
            i += 1
            continue
        start = last = i
        j = i + 1
        while j < nwin and j - last <= split_w:
            if active[j]:
                last = j
            j += 1
        tones.append((start * win, (last + 1) * win))
        i = last + 1
    return tones


def frequency(rate, s):
    """Frequency from the rising zero crossings (with hysteresis at 10% of the peak),
    each placed by linear interpolation: crossings per second over the runs between
    dropouts (a period more than 25% off the median splits the runs), so that a gap,
    which the gap check reports, does not bend it."""
    if len(s) < 4:
        return 0.0
    m = sum(s) / len(s)
    x = [v - m for v in s]
    peak = max(abs(v) for v in x) or 1
    hyst = 0.1 * peak
    armed = False
    crossings = []
    for i in range(1, len(x)):
        if x[i] < -hyst:
            armed = True
        elif armed and x[i - 1] < 0 <= x[i]:
            crossings.append(i - 1 + (-x[i - 1]) / (x[i] - x[i - 1]))
            armed = False
    periods = [b - a for a, b in zip(crossings, crossings[1:])]
    if len(periods) < 3:
        return 0.0
    med = sorted(periods)[len(periods) // 2]
    cycles = span = 0.0
    for p in periods:
        if abs(p - med) <= 0.25 * med:
            cycles += 1
            span += p
    return rate * cycles / span if span else 0.0


def window_level(rate, s, win_s=0.01):
    """Median AC RMS of 10 ms windows: the level, unaffected by a dropout."""
    if not s:
        return 0.0
    w = int(rate * win_s)
    levels = sorted(_ac_rms(s[i:i + w]) for i in range(0, len(s) - w + 1, w))
    return levels[len(levels) // 2] if levels else 0.0


def power_share(rate, s, hz):
    """Power of the hz component over the whole AC power, on a whole number of periods."""
    if hz <= 0:
        return 0.0
    n = int(int(len(s) * hz / rate) * rate / hz)
    if n < 16:
        return 0.0
    m = sum(s[:n]) / n
    w = -2j * math.pi * hz / rate
    acc = 0j
    step = cmath.exp(w)
    ph = 1 + 0j
    total = 0.0
    for i in range(n):
        v = s[i] - m
        acc += v * ph
        ph *= step
        total += v * v
    if total == 0:
        return 0.0
    return (2 * abs(acc) ** 2 / n) / total


def longest_gap_s(rate, chans):
    best = run = 0
    for vals in zip(*chans):
        if all(abs(v) < GAP_LEVEL for v in vals):
            run += 1
            best = max(best, run)
        else:
            run = 0
    return best / rate


def gap_free_runs(rate, chans, min_gap_s=0.001):
    """(start, end) of the stretches between gaps of at least min_gap_s (shorter quiet
    runs are a sine's own zero crossings)."""
    runs, first, quiet = [], 0, 0
    min_gap = int(rate * min_gap_s)
    for i, vals in enumerate(zip(*chans)):
        if all(abs(v) < GAP_LEVEL for v in vals):
            quiet += 1
            continue
        if quiet >= min_gap:
            runs.append((first, i - quiet))
            first = i
        quiet = 0
    runs.append((first, len(chans[0]) - quiet))
    return [r for r in runs if r[1] > r[0]]


def run_power_share(rate, s, runs, hz):
    """power_share over each gap-free run, weighted by length: a gap (which the gap check
    judges) restarts the tone at another phase, which no single DFT over both sides fits."""
    long_runs = [(a, b) for a, b in runs if b - a >= rate // 50] or runs
    total = sum(b - a for a, b in long_runs)
    if total == 0:
        return 0.0
    return sum(power_share(rate, s[a:b], hz) * (b - a) for a, b in long_runs) / total


def analyse(rate, chans, start, end, edge_s=0.02):
    """The tone's length, the longest gap of its steady part, and per channel
    (hz, power share at hz, AC RMS of the whole, median level of 10 ms windows)."""
    e = int(edge_s * rate)
    if end - start <= 4 * e:
        e = 0
    steady = [c[start + e:end - e] for c in chans]
    out = {"seconds": (end - start) / rate, "gap_s": longest_gap_s(rate, steady), "channels": []}
    runs = gap_free_runs(rate, steady)
    for s in steady:
        hz = frequency(rate, s)
        out["channels"].append((hz, run_power_share(rate, s, runs, hz), _ac_rms(s),
                                window_level(rate, s)))
    return out
