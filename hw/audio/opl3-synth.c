/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The YMF262 (OPL3) sound generator, after Yamaha's YMF262 data sheet and application
 * manual, the YM3812 (OPL2) manual, and what is known about the chips' internals from
 * die analysis (the log-sine and exponent ROMs, the envelope counter).
 *
 * An operator is a phase generator (F-number, block, multiplier, vibrato), an envelope
 * generator (attack, decay, sustain, release, key scaling of rate and level, total
 * level, tremolo) and a waveform looked up in the log domain: the attenuation (in
 * 1/256 octave) is the log-sine of the phase plus the envelope, and one exponent table
 * turns it into a 13-bit signed output. Channels connect two operators (FM or
 * additive) or, in OPL3 mode, four; channels 6-8 turn into five drums in rhythm mode. */
#include "hw/audio/opl3-synth.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* The ROMs, as the chip computes them: -log2(sin) of a quarter wave and 2^-x, in 1/256
 * steps (rebuilt from their definitions; they are exact roundings of these). */
static uint16_t logsin_rom[256];
static uint16_t exp_rom[256];

__attribute__((constructor)) static void opl3_tables_init(void)
{
    for (int i = 0; i < 256; i++) {
        logsin_rom[i] = (uint16_t)lround(-log2(sin((i + 0.5) * M_PI / 512.0)) * 256.0);
        exp_rom[i] = (uint16_t)lround(1024.0 * pow(2.0, (255 - i) / 256.0));
    }
}

/* Frequency multiplier MULT (registers 0x20-0x35 bits 0-3), doubled: 1/2, 1, 2 ... 10,
 * 10, 12, 12, 15, 15 (YMF262 data sheet, "MULT"). */
static const uint8_t mult_x2[16] = { 1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 20, 24, 24, 30, 30 };

/* Key scale level attenuation by the F-number's top 4 bits, in 0.75 dB, with 8 added so
 * block 8 would be the reference (YM3812 manual's KSL table: 0 ... 21 dB at block 7 for
 * 3 dB/octave). */
static const uint8_t ksl_rom[16] = { 0, 32, 40, 45, 48, 51, 53, 55, 56, 58, 59, 60, 61, 62, 63, 64 };
/* KSL bits: 0 none, 1 3 dB/oct, 2 1.5 dB/oct, 3 6 dB/oct, as shifts of the 6 dB table. */
static const uint8_t ksl_shift[4] = { 16, 1, 2, 0 };

/* Envelope steps for rates below 52: one tick every other period of the rate's
 * counter bit, 4, 5, 6 or 7 of 8 ticks taken for the rate's low two bits. */
static const uint8_t eg_pattern[4][8] = {
    { 1, 0, 1, 0, 1, 0, 1, 0 },
    { 1, 0, 1, 0, 1, 1, 1, 0 },
    { 1, 1, 1, 0, 1, 1, 1, 0 },
    { 1, 1, 1, 1, 1, 1, 1, 0 },
};
/* Rates 52-63 step every sample, doubled on these samples of four. */
static const uint8_t eg_double[4][4] = {
    { 0, 0, 0, 0 },
    { 1, 0, 0, 0 },
    { 1, 0, 1, 0 },
    { 1, 1, 1, 0 },
};

#define ENV_OFF 0x1ff
#define ENV_QUIET 0x1f8 /* the chip treats this and beyond as off */

/* ---- Register decoding ---- */

/* Operator n (0-17 in a bank) <-> its register offset (0x00-0x15, skipping 6-7, 0xE-0xF). */
static unsigned op_reg_offset(unsigned n)
{
    return (n / 6) * 8 + n % 6;
}

/* The first operator of channel c (0-8 in a bank); the second is 3 further. */
static unsigned chan_op1(unsigned c)
{
    return (c / 3) * 6 + c % 3;
}

static uint8_t op_reg(const Opl3Synth *s, unsigned op, unsigned base)
{
    unsigned bank = op / 18;
    return s->regs[bank * 0x100 + base + op_reg_offset(op % 18)];
}

static bool opl3_mode(const Opl3Synth *s)
{
    return s->regs[0x105] & 1;
}

static bool rhythm_on(const Opl3Synth *s)
{
    return s->regs[0xbd] & 0x20;
}

static unsigned chan_fnum(const Opl3Synth *s, unsigned ch)
{
    unsigned r = (ch / 9) * 0x100 + ch % 9;
    return s->regs[0xa0 + r] | (s->regs[0xb0 + r] & 3) << 8;
}

static unsigned chan_block(const Opl3Synth *s, unsigned ch)
{
    unsigned r = (ch / 9) * 0x100 + ch % 9;
    return (s->regs[0xb0 + r] >> 2) & 7;
}

static uint8_t chan_c0(const Opl3Synth *s, unsigned ch)
{
    return s->regs[0xc0 + (ch / 9) * 0x100 + ch % 9];
}

/* Whether channel ch (0-2 or 9-11) starts a 4-operator pair (register 0x104). */
static bool chan_4op(const Opl3Synth *s, unsigned ch)
{
    if (!opl3_mode(s))
        return false;
    unsigned bit = ch < 9 ? ch : ch - 9 + 3;
    return (ch % 9) < 3 && (s->regs[0x104] >> bit & 1);
}

/* The channel whose F-number and block an operator plays: its own, or for the second
 * half of a 4-operator pair the first channel's. */
static unsigned op_pitch_channel(const Opl3Synth *s, unsigned op)
{
    unsigned bank = op / 18, n = op % 18, c = (n / 6) * 3 + n % 3;
    if (c >= 3 && c < 6 && chan_4op(s, bank * 9 + c - 3))
        c -= 3;
    return bank * 9 + c;
}

/* The envelope rate (0-63) of a 4-bit rate register value: 4 * R plus the key scale
 * rate, which is the block and one F-number bit (NTS picks bit 8 or 9), all four bits
 * with KSR, the top two without. */
static unsigned eff_rate(const Opl3Synth *s, unsigned op, unsigned rate, unsigned fnum, unsigned block)
{
    unsigned ksv = block << 1 | (fnum >> ((s->regs[0x08] & 0x40) ? 8 : 9) & 1);
    return MIN(rate * 4 + ((op_reg(s, op, 0x20) & 0x10) ? ksv : ksv >> 2), 63u);
}

/* ---- Keys ---- */

static void op_key(Opl3Synth *s, unsigned op, uint8_t bit, bool on)
{
    Opl3Op *o = &s->op[op];
    uint8_t old = o->key;
    o->key = on ? (uint8_t)(o->key | bit) : (uint8_t)(o->key & ~bit);
    if (!old && o->key) {
        /* Key on: the phase restarts, the attack starts from where the level is; at
         * rates 60-63 it is instant. */
        o->phase = 0;
        o->eg_state = OPL3_EG_ATTACK;
        unsigned ch = op_pitch_channel(s, op);
        unsigned ar = op_reg(s, op, 0x60) >> 4;
        if (ar && eff_rate(s, op, ar, chan_fnum(s, ch), chan_block(s, ch)) >= 60)
            o->env = 0;
    } else if (old && !o->key) {
        o->eg_state = OPL3_EG_RELEASE;
    }
}

static void chan_key(Opl3Synth *s, unsigned ch, bool on)
{
    unsigned op = (ch / 9) * 18 + chan_op1(ch % 9);
    if (ch % 9 >= 3 && ch % 9 < 6 && chan_4op(s, ch - 3))
        return; /* the second channel of a 4-operator pair: its KEY-ON is not used */
    op_key(s, op, 1, on);
    op_key(s, op + 3, 1, on);
    if (chan_4op(s, ch)) {
        /* The first channel keys all four operators. */
        op = (ch / 9) * 18 + chan_op1(ch % 9 + 3);
        op_key(s, op, 1, on);
        op_key(s, op + 3, 1, on);
    }
}

/* The rhythm keys of 0xBD bits 0-4: HH op 13, TC op 17, TOM op 14, SD op 16, BD ops
 * 12 and 15 (channels 7, 8, 8, 7, 6); off when rhythm mode is off. */
static void rhythm_keys(Opl3Synth *s)
{
    uint8_t v = rhythm_on(s) ? s->regs[0xbd] : 0;
    op_key(s, 13, 2, v & 0x01);
    op_key(s, 17, 2, v & 0x02);
    op_key(s, 14, 2, v & 0x04);
    op_key(s, 16, 2, v & 0x08);
    op_key(s, 12, 2, v & 0x10);
    op_key(s, 15, 2, v & 0x10);
}

void opl3_synth_write(Opl3Synth *s, unsigned reg, uint8_t v)
{
    reg &= 0x1ff;
    uint8_t old = s->regs[reg];
    s->regs[reg] = v;
    unsigned lo = reg & 0xff;
    if (lo >= 0xb0 && lo <= 0xb8 && ((old ^ v) & 0x20))
        chan_key(s, (reg >> 8) * 9 + lo - 0xb0, v & 0x20);
    else if (reg == 0xbd)
        rhythm_keys(s);
}

void opl3_synth_reset(Opl3Synth *s)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < OPL3_OPS; i++) {
        s->op[i].env = ENV_OFF;
        s->op[i].eg_state = OPL3_EG_RELEASE;
    }
    s->noise = 1;
}

/* ---- Operators ---- */

/* One step of the envelope generator (data sheet: "Envelope generator"; the rate is
 * 4 * R + key scale, capped at 63, and every 4 higher halves the time). */
static void op_envelope(Opl3Synth *s, unsigned op, unsigned fnum, unsigned block)
{
    Opl3Op *o = &s->op[op];
    uint8_t r20 = op_reg(s, op, 0x20), r60 = op_reg(s, op, 0x60), r80 = op_reg(s, op, 0x80);
    unsigned rate;
    switch (o->eg_state) {
    case OPL3_EG_ATTACK: rate = r60 >> 4; break;
    case OPL3_EG_DECAY: rate = r60 & 15; break;
    case OPL3_EG_SUSTAIN: rate = (r20 & 0x20) ? 0 : (r80 & 15); break; /* EGT: held */
    default: rate = r80 & 15; break;
    }
    if (o->eg_state != OPL3_EG_ATTACK && o->env >= ENV_QUIET) {
        o->env = ENV_OFF;
        return;
    }
    if (o->eg_state == OPL3_EG_ATTACK && o->env == 0) {
        o->eg_state = OPL3_EG_DECAY;
        rate = r60 & 15;
    }
    unsigned sl = r80 >> 4;
    if (sl == 15)
        sl = 31; /* SL 15 is -93 dB */
    if (o->eg_state == OPL3_EG_DECAY && (o->env >> 4) == sl) {
        o->eg_state = OPL3_EG_SUSTAIN;
        rate = (r20 & 0x20) ? 0 : (r80 & 15);
    }
    if (!rate)
        return;
    unsigned eff = eff_rate(s, op, rate, fnum, block);
    unsigned hi = eff >> 2, lo = eff & 3;
    unsigned steps;
    if (hi < 13) {
        unsigned sh = 12 - hi;
        if (s->counter & ((1u << sh) - 1))
            return;
        steps = eg_pattern[lo][(s->counter >> sh) & 7];
    } else {
        steps = MIN((1u << (hi - 13)) << eg_double[lo][s->counter & 3], 4u);
    }
    if (!steps)
        return;
    if (o->eg_state == OPL3_EG_ATTACK) {
        /* The attack is exponential: each step takes a share of what is left. At rate
         * 60 and above it completed at key on. */
        if (hi == 15) {
            o->env = 0;
            return;
        }
        unsigned k = steps == 1 ? 3 : steps == 2 ? 2 : 1;
        o->env = (uint16_t)(o->env - ((o->env + (1u << k)) >> k));
        return;
    }
    o->env = (uint16_t)(o->env + steps);
}

/* The attenuation the waveform gets: envelope, total level (0.75 dB), key scale level,
 * tremolo. */
static unsigned op_attenuation(const Opl3Synth *s, unsigned op, unsigned fnum, unsigned block, unsigned trem)
{
    uint8_t r40 = op_reg(s, op, 0x40);
    int ksl = ksl_rom[fnum >> 6] * 4 - (int)(8 - block) * 32;
    unsigned att = s->op[op].env + (r40 & 0x3f) * 4u + ((unsigned)MAX(ksl, 0) >> ksl_shift[r40 >> 6]);
    if (op_reg(s, op, 0x20) & 0x80)
        att += trem;
    return MIN(att, (unsigned)ENV_OFF);
}

/* The waveform (0-7) at a 10-bit phase, attenuated: a signed 13-bit sample. */
static int32_t wave_out(unsigned ws, unsigned p, unsigned att)
{
    p &= 0x3ff;
    bool neg = false;
    unsigned level;
    unsigned quarter = (p & 0x100) ? (~p & 0xff) : (p & 0xff);
    switch (ws) {
    case 0: /* sine */
        neg = p & 0x200;
        level = logsin_rom[quarter];
        break;
    case 1: /* half sine */
        level = (p & 0x200) ? 0x1000 : logsin_rom[quarter];
        break;
    case 2: /* absolute sine */
        level = logsin_rom[quarter];
        break;
    case 3: /* the rising quarters of the absolute sine */
        level = (p & 0x100) ? 0x1000 : logsin_rom[p & 0xff];
        break;
    case 4: /* a sine at twice the rate in the first half, silence in the second */
    case 5: /* its absolute value ("camel") */
        if (ws == 4)
            neg = (p & 0x300) == 0x100;
        if (p & 0x200)
            level = 0x1000;
        else
            level = logsin_rom[((p & 0x80) ? (p ^ 0xff) << 1 : p << 1) & 0xff];
        break;
    case 6: /* square */
        neg = p & 0x200;
        level = 0;
        break;
    default: /* 7: a logarithmic saw ("derived square") */
        if (p & 0x200) {
            neg = true;
            p = (p & 0x1ff) ^ 0x1ff;
        }
        level = p << 3;
        break;
    }
    level += att << 3;
    if (level > 0x1fff)
        level = 0x1fff;
    int32_t v = (int32_t)((exp_rom[level & 0xff] << 1) >> (level >> 8));
    return neg ? ~v : v;
}

static unsigned op_waveform(const Opl3Synth *s, unsigned op)
{
    uint8_t ws = op_reg(s, op, 0xe0);
    if (opl3_mode(s))
        return ws & 7;
    /* OPL2 mode: four waveforms with the WSE bit (register 0x01 bit 5), else the sine. */
    return (s->regs[0x01] & 0x20) ? (ws & 3u) : 0u;
}

/* Per-sample context: tremolo, vibrato position, the rhythm phases. */
typedef struct Tick {
    unsigned trem;
    unsigned vibpos;
} Tick;

/* Advances the phase of op by one sample (vibrato bends the F-number by up to
 * 1/128 or 1/256 of it: 14 or 7 cents, register 0xBD bit 6). */
static void op_phase_step(Opl3Synth *s, unsigned op, unsigned fnum, unsigned block, const Tick *t)
{
    if (op_reg(s, op, 0x20) & 0x40) {
        int range = (int)(fnum >> 7) & 7;
        if (!(t->vibpos & 3))
            range = 0;
        else if (t->vibpos & 1)
            range >>= 1;
        if (!(s->regs[0xbd] & 0x40))
            range >>= 1;
        fnum = (unsigned)((int)fnum + ((t->vibpos & 4) ? -range : range));
    }
    uint32_t inc = (((fnum << block) >> 1) * mult_x2[op_reg(s, op, 0x20) & 15]) >> 1;
    s->op[op].phase = (s->op[op].phase + inc) & 0x7ffff;
}

/* One operator's sample: envelope, waveform at its phase plus mod, then the phase
 * moves on. phase_override >= 0 replaces the phase (the rhythm section's noise). */
static int32_t op_run(Opl3Synth *s, unsigned op, unsigned ch, int32_t mod, int phase_override, const Tick *t)
{
    unsigned fnum = chan_fnum(s, ch), block = chan_block(s, ch);
    Opl3Op *o = &s->op[op];
    op_envelope(s, op, fnum, block);
    unsigned p = phase_override >= 0 ? (unsigned)phase_override : (o->phase >> 9);
    int32_t v = wave_out(op_waveform(s, op), p + (unsigned)mod, op_attenuation(s, op, fnum, block, t->trem));
    op_phase_step(s, op, fnum, block, t);
    o->prev = o->out;
    o->out = v;
    return v;
}

/* The first operator of a channel modulates itself with the mean of its last two
 * outputs, scaled by FB (register 0xC0 bits 1-3: 0, pi/16 ... 4 pi). */
static int32_t op_feedback(const Opl3Synth *s, unsigned op, uint8_t c0)
{
    unsigned fb = (c0 >> 1) & 7;
    return fb ? (s->op[op].out + s->op[op].prev) >> (9 - fb) : 0;
}

/* The rhythm section (channels 6-8 of bank 0), each drum twice as loud as a channel. */
static int32_t rhythm_run(Opl3Synth *s, unsigned ch, const Tick *t)
{
    unsigned hh = s->op[13].phase >> 9, tc = s->op[17].phase >> 9;
    unsigned noise = s->noise & 1;
    unsigned x = ((hh >> 2 ^ hh >> 7) | (hh >> 3 ^ tc >> 5) | (tc >> 3 ^ tc >> 5)) & 1;
    if (ch == 6) {
        /* Bass drum: a two-operator voice; in additive mode only the carrier sounds. */
        uint8_t c0 = chan_c0(s, 6);
        int32_t m = op_run(s, 12, 6, op_feedback(s, 12, c0), -1, t);
        return 2 * op_run(s, 15, 6, (c0 & 1) ? 0 : m, -1, t);
    }
    if (ch == 7) {
        /* Hi-hat and snare: phases made of the hi-hat's and cymbal's phase bits and noise. */
        int hp = (int)(x << 9 | ((x ^ noise) ? 0xd0 : 0x34));
        int sp = (int)(((hh >> 8) & 1) << 9 | (((hh >> 8) ^ noise) & 1) << 8);
        int32_t a = op_run(s, 13, 7, 0, hp, t);
        int32_t b = op_run(s, 16, 7, 0, sp, t);
        return 2 * (a + b);
    }
    /* Tom-tom (a plain sine voice) and top cymbal. */
    int32_t a = op_run(s, 14, 8, 0, -1, t);
    int32_t b = op_run(s, 17, 8, 0, (int)(x << 9 | 0x80), t);
    return 2 * (a + b);
}

/* Channel ch's sample (a 4-operator pair's on its first channel; its second gives 0). */
static int32_t chan_run(Opl3Synth *s, unsigned ch, const Tick *t)
{
    unsigned bank = ch / 9, c = ch % 9;
    if (bank == 0 && c >= 6 && rhythm_on(s))
        return rhythm_run(s, c, t);
    unsigned a = bank * 18 + chan_op1(c), b = a + 3;
    uint8_t c0 = chan_c0(s, ch);
    if (c >= 3 && c < 6 && chan_4op(s, ch - 3))
        return 0; /* the second half of a pair: run from its first channel */
    if (chan_4op(s, ch)) {
        /* Four operators (data sheet, "4-operator mode"): the connection comes from
         * both channels' CNT bits; op 3 and 4 are the second channel's. */
        unsigned op3 = bank * 18 + chan_op1(c + 3), op4 = op3 + 3;
        unsigned ch2 = ch; /* the pair plays the first channel's F-number and block */
        unsigned conn = (c0 & 1) << 1 | (chan_c0(s, ch2) & 1);
        int32_t o1 = op_run(s, a, ch, op_feedback(s, a, c0), -1, t);
        switch (conn) {
        case 0: { /* 1 -> 2 -> 3 -> 4 */
            int32_t o2 = op_run(s, b, ch, o1, -1, t);
            int32_t o3 = op_run(s, op3, ch2, o2, -1, t);
            return op_run(s, op4, ch2, o3, -1, t);
        }
        case 1: { /* (1 -> 2) + (3 -> 4) */
            int32_t o2 = op_run(s, b, ch, o1, -1, t);
            int32_t o3 = op_run(s, op3, ch2, 0, -1, t);
            return o2 + op_run(s, op4, ch2, o3, -1, t);
        }
        case 2: { /* 1 + (2 -> 3 -> 4) */
            int32_t o2 = op_run(s, b, ch, 0, -1, t);
            int32_t o3 = op_run(s, op3, ch2, o2, -1, t);
            return o1 + op_run(s, op4, ch2, o3, -1, t);
        }
        default: { /* 1 + (2 -> 3) + 4 */
            int32_t o2 = op_run(s, b, ch, 0, -1, t);
            int32_t o3 = op_run(s, op3, ch2, o2, -1, t);
            return o1 + o3 + op_run(s, op4, ch2, 0, -1, t);
        }
        }
    }
    int32_t o1 = op_run(s, a, ch, op_feedback(s, a, c0), -1, t);
    if (c0 & 1)
        return o1 + op_run(s, b, ch, 0, -1, t);
    return op_run(s, b, ch, o1, -1, t);
}

void opl3_synth_generate(Opl3Synth *s, int16_t *out, size_t frames)
{
    for (size_t f = 0; f < frames; f++) {
        /* Tremolo: a triangle of 210 steps, one every 64 samples (3.7 Hz), 4.8 dB deep
         * or 1 dB (0xBD bit 7); vibrato: 8 positions, one every 1024 samples (6.1 Hz). */
        Tick t;
        unsigned pos = (s->counter >> 6) % 210;
        t.trem = (pos < 105 ? pos : 210 - pos) >> ((s->regs[0xbd] & 0x80) ? 2 : 4);
        t.vibpos = (s->counter >> 10) & 7;
        int32_t left = 0, right = 0;
        bool both = !opl3_mode(s);
        for (unsigned ch = 0; ch < OPL3_CHANNELS; ch++) {
            int32_t v = chan_run(s, ch, &t);
            uint8_t c0 = chan_c0(s, ch);
            if (both || (c0 & 0x10))
                left += v;
            if (both || (c0 & 0x20))
                right += v;
        }
        out[2 * f] = (int16_t)CLAMP(left, -32768, 32767);
        out[2 * f + 1] = (int16_t)CLAMP(right, -32768, 32767);
        /* The noise generator: x^23 + x^9 + 1, as the rhythm section hears it. */
        uint32_t bit = ((s->noise >> 14) ^ s->noise) & 1;
        s->noise = (s->noise >> 1) | bit << 22;
        s->counter++;
    }
}

void opl3_synth_skip(Opl3Synth *s, uint64_t frames)
{
    s->counter += (uint32_t)frames;
}

bool opl3_synth_idle(const Opl3Synth *s)
{
    for (unsigned i = 0; i < OPL3_OPS; i++)
        if (s->op[i].eg_state == OPL3_EG_ATTACK || s->op[i].env < ENV_QUIET)
            return false;
    return true;
}

bool opl3_synth_valid(const Opl3Synth *s)
{
    if (!s->noise)
        return false; /* the generator would stay at zero */
    for (unsigned i = 0; i < OPL3_OPS; i++) {
        const Opl3Op *o = &s->op[i];
        /* A keyed operator is not releasing, and a released one has no key. */
        if ((o->key != 0) == (o->eg_state == OPL3_EG_RELEASE))
            return false;
    }
    return true;
}

static const VmStateField op_fields[] = {
    VMSTATE_U32_RANGE(Opl3Op, phase, 0, 0x7ffff),
    VMSTATE_U16_RANGE(Opl3Op, env, 0, ENV_OFF),
    VMSTATE_U8_RANGE(Opl3Op, eg_state, OPL3_EG_ATTACK, OPL3_EG_RELEASE),
    VMSTATE_U8_RANGE(Opl3Op, key, 0, 3),
    VMSTATE_I32_RANGE(Opl3Op, out, -8192, 8191),
    VMSTATE_I32_RANGE(Opl3Op, prev, -8192, 8191),
    VMSTATE_END,
};

static const VmStateDesc op_vmsd = {
    .name = "opl3-op",
    .version = 1,
    .fields = op_fields,
};

static const VmStateField synth_fields[] = {
    VMSTATE_U8_ARRAY(Opl3Synth, regs, 512),
    VMSTATE_STRUCT_ARRAY(Opl3Synth, op, OPL3_OPS, Opl3Op, &op_vmsd),
    VMSTATE_U32(Opl3Synth, counter),
    VMSTATE_U32_RANGE(Opl3Synth, noise, 1, 0x7fffff),
    VMSTATE_END,
};

const VmStateDesc opl3_synth_vmsd = {
    .name = "opl3-synth",
    .version = 1,
    .fields = synth_fields,
};
