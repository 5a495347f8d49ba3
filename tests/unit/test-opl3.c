/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The OPL3: the synthesizer alone (frequency of known F-number/block settings, levels
 * from the attenuation tables, release times against the YM3812/YMF262 data sheets'
 * decay table, 4-operator and OPL2-mode rules), and the chip on a VM without CPU as the
 * AdLib card (timers and status as detection routines see them, every register written
 * with every value, the state saved mid-note and restored into a fresh VM). */
#include "engine/backend.h"
#include "hw/audio/opl3-synth.h"
#include "hw/isa/isa-bus.h"
#include "unit.h"

#include <math.h>
#include <string.h>

/* ---- The synthesizer ---- */

/* Channel ch (0-8, bank 0 or 1) as a plain tone: additive connection, the first
 * operator never attacks (AR 0: silent), the second a sine at total level tl with
 * attack 15, decay 0, sustain held at 0 dB, release rr. */
static void setup_tone(Opl3Synth *s, unsigned bank, unsigned ch, unsigned tl, unsigned rr)
{
    unsigned b = bank * 0x100;
    unsigned op1 = (ch / 3) * 8 + ch % 3, op2 = op1 + 3;
    opl3_synth_write(s, b + 0x20 + op1, 0x21);
    opl3_synth_write(s, b + 0x40 + op1, 0x3f);
    opl3_synth_write(s, b + 0x60 + op1, 0x00);
    opl3_synth_write(s, b + 0x80 + op1, 0x0f);
    opl3_synth_write(s, b + 0x20 + op2, 0x21); /* EGT (sustain held), MULT 1 */
    opl3_synth_write(s, b + 0x40 + op2, (uint8_t)tl);
    opl3_synth_write(s, b + 0x60 + op2, 0xf0);
    opl3_synth_write(s, b + 0x80 + op2, (uint8_t)(0x00 | rr));
    opl3_synth_write(s, b + 0xe0 + op2, 0);
    opl3_synth_write(s, b + 0xc0 + ch, 0x31); /* both sides (OPL3 mode), additive */
}

static void key(Opl3Synth *s, unsigned bank, unsigned ch, unsigned fnum, unsigned block, bool on)
{
    unsigned b = bank * 0x100;
    opl3_synth_write(s, b + 0xa0 + ch, (uint8_t)fnum);
    opl3_synth_write(s, b + 0xb0 + ch, (uint8_t)((on ? 0x20 : 0) | block << 2 | fnum >> 8));
}

/* Frequency from rising zero crossings over n frames of channel c (0 left, 1 right),
 * and the positive peak (the silent first operator of setup_tone adds -1 in its
 * negative half, as the chip's one's complement output does). */
static double measure(Opl3Synth *s, size_t n, int c, int *peak)
{
    int16_t *buf = g_new(int16_t, 2 * n);
    opl3_synth_generate(s, buf, n);
    int first = -1, last = -1, count = 0, pk = 0;
    for (size_t i = 1; i < n; i++) {
        int v = buf[2 * i + c];
        pk = MAX(pk, v);
        if (buf[2 * (i - 1) + c] < 0 && v >= 0) {
            if (first < 0)
                first = (int)i;
            last = (int)i;
            count++;
        }
    }
    g_free(buf);
    *peak = pk;
    return count > 1 ? (double)(count - 1) * OPL3_RATE / (last - first) : 0.0;
}

/* The chip's output for an attenuation of att (0.1875 dB units) at the sine's peak:
 * 2^(-att/32) of full scale through its exponent table (data sheet: 13-bit output). */
static int table_peak(unsigned att)
{
    unsigned level = att << 3;
    unsigned mant = (unsigned)lround(1024.0 * pow(2.0, (255 - (level & 0xff)) / 256.0));
    return (int)((mant << 1) >> (level >> 8));
}

static void test_frequency(void)
{
    static const struct {
        unsigned fnum, block, mult;
    } notes[] = {
        { 580, 4, 1 },  /* 440 Hz */
        { 580, 5, 1 },  /* 880 Hz */
        { 0x3ff, 7, 1 }, /* the highest F-number and block: 6208 Hz */
        { 290, 4, 2 },  /* MULT 2 doubles: 440 Hz */
        { 580, 4, 0 },  /* MULT 0 halves: 220 Hz */
        { 580, 4, 15 }, /* MULT 15 is 15 */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(notes); i++) {
        Opl3Synth s;
        opl3_synth_reset(&s);
        setup_tone(&s, 0, 0, 0, 0);
        opl3_synth_write(&s, 0x23, (uint8_t)(0x20 | notes[i].mult));
        key(&s, 0, 0, notes[i].fnum, notes[i].block, true);
        static const double mult[16] = { 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 12, 12, 15, 15 };
        double want = notes[i].fnum * mult[notes[i].mult] * OPL3_RATE / (double)(1u << (20 - notes[i].block));
        int peak;
        double hz = measure(&s, OPL3_RATE, 0, &peak);
        if (fabs(hz - want) > want * 0.002)
            g_error("fnum %u block %u mult %u: %.2f Hz, expected %.2f", notes[i].fnum, notes[i].block,
                    notes[i].mult, hz, want);
        g_assert_cmpint(peak, ==, table_peak(0)); /* 4084: the full 13-bit output */
    }
}

static void test_levels(void)
{
    /* Total level: 0.75 dB steps. */
    for (unsigned tl = 0; tl < 64; tl += 7) {
        Opl3Synth s;
        opl3_synth_reset(&s);
        setup_tone(&s, 0, 0, tl, 0);
        key(&s, 0, 0, 580, 4, true);
        int peak;
        measure(&s, OPL3_RATE / 4, 0, &peak);
        g_assert_cmpint(peak, ==, table_peak(tl * 4));
    }
    /* Key scale level: 6 dB/octave (KSL 3) at fnum 580 (top bits 9), block 4: the
     * table's 58 * 4 - (8 - 4) * 32 = 104 steps (19.5 dB); 3 dB/octave is half, 1.5 a
     * quarter. */
    static const unsigned ksl_att[4] = { 0, 52, 26, 104 };
    for (unsigned k = 0; k < 4; k++) {
        Opl3Synth s;
        opl3_synth_reset(&s);
        setup_tone(&s, 0, 0, 0, 0);
        opl3_synth_write(&s, 0x43, (uint8_t)(k << 6));
        key(&s, 0, 0, 580, 4, true);
        int peak;
        measure(&s, OPL3_RATE / 4, 0, &peak);
        g_assert_cmpint(peak, ==, table_peak(ksl_att[k]));
    }
    /* Tremolo (AM) at 4.8 dB: the level swings down by up to 26 steps at 3.7 Hz. */
    Opl3Synth s;
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 0, 0, 0);
    opl3_synth_write(&s, 0x23, 0xa1);
    opl3_synth_write(&s, 0xbd, 0x80);
    key(&s, 0, 0, 580, 4, true);
    int16_t *buf = g_new(int16_t, 2 * OPL3_RATE);
    opl3_synth_generate(&s, buf, OPL3_RATE);
    int lo = 1 << 20, hi = 0;
    for (int w = 0; w + 400 <= OPL3_RATE; w += 400) {
        int pk = 0;
        for (int i = w; i < w + 400; i++)
            pk = MAX(pk, (int)buf[2 * i]);
        lo = MIN(lo, pk);
        hi = MAX(hi, pk);
    }
    g_free(buf);
    g_assert_cmpint(hi, ==, table_peak(0));
    g_assert_cmpint(lo, <=, table_peak(25));
    g_assert_cmpint(lo, >=, table_peak(27));
}

/* Samples from key-off until the output is off. */
static unsigned release_samples(unsigned rr, bool ksr, unsigned fnum, unsigned block)
{
    Opl3Synth s;
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 0, 0, rr);
    if (ksr)
        opl3_synth_write(&s, 0x23, 0x31);
    opl3_synth_write(&s, 0x40 + 0, 0x3f);
    key(&s, 0, 0, fnum, block, true);
    int16_t buf[2 * 64];
    opl3_synth_generate(&s, buf, 64);
    g_assert_cmpint(abs(buf[2 * 63]) + abs(buf[2 * 62]) + abs(buf[2 * 61]), >, 0);
    /* The modulator (AR 0) never sounds: release it too, so idle means the carrier. */
    key(&s, 0, 0, fnum, block, false);
    unsigned n = 0;
    while (!opl3_synth_idle(&s)) {
        opl3_synth_generate(&s, buf, 1);
        g_assert_cmpuint(++n, <, 10 * OPL3_RATE);
    }
    return n;
}

static void test_release(void)
{
    /* The data sheets' decay/release time from 0 dB to -96 dB at rate 4 (R = 1) is
     * 39280.64 ms, halving every 4 rates; the low two rate bits scale it by 4/5, 4/6,
     * 4/7. Rates 60-63 are the same (2.40 ms). The chip reaches its off level
     * (0x1F8) about 5.7% later than the table's figure (the table is rounded to
     * 477 of its 504 steps); allow 8%. */
    static const struct {
        unsigned rr;
        bool ksr;
        unsigned fnum, block;
    } cases[] = {
        { 15, false, 580, 4 }, { 13, false, 580, 4 }, { 10, false, 580, 4 }, { 7, false, 580, 4 },
        /* Key scale rate: KSR 1 adds block * 2 + F-number bit 9 (NTS 0): 9 at block 4,
         * fnum 580; KSR 0 adds only its top two bits (2). */
        { 6, true, 580, 4 }, { 6, false, 580, 4 }, { 9, true, 0x3ff, 7 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        unsigned ksv = cases[i].block << 1 | (cases[i].fnum >> 9 & 1);
        unsigned rate = MIN(cases[i].rr * 4 + (cases[i].ksr ? ksv : ksv >> 2), 63u);
        double ms = rate >= 60 ? 2.40 : 39280.64 / (double)(1u << ((rate >> 2) - 1)) * 4.0 / (4 + (rate & 3));
        double want = ms * OPL3_RATE / 1000.0;
        unsigned got = release_samples(cases[i].rr, cases[i].ksr, cases[i].fnum, cases[i].block);
        g_test_message("RR %u KSR %d: rate %u, %u samples to silence, data sheet %.0f", cases[i].rr, cases[i].ksr,
                       rate, got, want);
        if (got < want || got > want * 1.08)
            g_error("RR %u KSR %d (rate %u): %u samples to silence, data sheet %.0f", cases[i].rr, cases[i].ksr,
                    rate, got, want);
    }
    /* Attack rates 60-63 are instant at key on: AR 15, or AR 14 with KSR at block 7
     * (56 + 15); without KSR AR 14 is rate 59 and attacks from the off level. */
    static const struct {
        uint8_t r20;
        uint8_t ar;
        uint16_t env;
    } attacks[] = { { 0x21, 0xf0, 0 }, { 0x31, 0xe0, 0 }, { 0x21, 0xe0, 0x1ff } };
    for (size_t i = 0; i < G_N_ELEMENTS(attacks); i++) {
        Opl3Synth a;
        opl3_synth_reset(&a);
        setup_tone(&a, 0, 0, 0, 0);
        opl3_synth_write(&a, 0x23, attacks[i].r20);
        opl3_synth_write(&a, 0x63, attacks[i].ar);
        key(&a, 0, 0, 0x3ff, 7, true);
        g_assert_cmpuint(a.op[3].env, ==, attacks[i].env);
        g_assert_cmpuint(a.op[3].eg_state, ==, OPL3_EG_ATTACK);
    }

    /* RR 0: the note never ends. */
    Opl3Synth s;
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 0, 0, 0);
    key(&s, 0, 0, 580, 4, true);
    key(&s, 0, 0, 580, 4, false);
    int peak;
    measure(&s, OPL3_RATE, 0, &peak);
    g_assert_cmpint(peak, ==, table_peak(0));
    g_assert_false(opl3_synth_idle(&s));
}

/* OPL2 mode plays every channel on both sides and ignores the second bank's
 * 4-operator bits; OPL3 mode pans by C0 bits 4-5 and chains four operators. */
static void test_modes(void)
{
    Opl3Synth s;
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 0, 0, 0);
    opl3_synth_write(&s, 0xc0, 0x01); /* no pan bits: OPL2 mode ignores them */
    key(&s, 0, 0, 580, 4, true);
    int pl, pr;
    measure(&s, OPL3_RATE / 4, 0, &pl);
    g_assert_cmpint(pl, ==, table_peak(0));
    opl3_synth_write(&s, 0x105, 1); /* NEW: now C0 = 0x01 sends channel 0 nowhere */
    measure(&s, OPL3_RATE / 4, 0, &pl);
    measure(&s, OPL3_RATE / 4, 1, &pr);
    g_assert_cmpint(pl, <=, 1);
    g_assert_cmpint(pr, <=, 1);
    opl3_synth_write(&s, 0xc0, 0x21); /* right only */
    double hz = measure(&s, OPL3_RATE / 4, 1, &pr);
    measure(&s, OPL3_RATE / 4, 0, &pl);
    g_assert_cmpint(pr, ==, table_peak(0));
    g_assert_cmpint(pl, <=, 1);
    g_assert_cmpfloat(fabs(hz - 440.0), <, 2.0);

    /* Bank 1 channel 17 (register 0x1A8/0x1B8), left only. */
    opl3_synth_reset(&s);
    opl3_synth_write(&s, 0x105, 1);
    setup_tone(&s, 1, 8, 8, 0);
    opl3_synth_write(&s, 0x1c8, 0x11);
    key(&s, 1, 8, 580, 5, true);
    hz = measure(&s, OPL3_RATE / 2, 0, &pl);
    measure(&s, OPL3_RATE / 2, 1, &pr);
    g_assert_cmpfloat(fabs(hz - 880.0), <, 4.0);
    g_assert_cmpint(pl, ==, table_peak(32));
    g_assert_cmpint(pr, <=, 1);

    /* 4 operators, connection 1 + (2 -> 3 -> 4) with ops 2-3 silent (AR 0) and op 4 a
     * sine at channel 0's F-number: the pair sounds through channel 0's pan bits, and
     * channel 3's KEY-ON and F-number are not used. */
    opl3_synth_reset(&s);
    opl3_synth_write(&s, 0x105, 1);
    opl3_synth_write(&s, 0x104, 0x01);
    setup_tone(&s, 0, 0, 63, 0);   /* ops 1 (silent) and 2 (TL 63) */
    opl3_synth_write(&s, 0x63, 0x00); /* op 2 silent too */
    setup_tone(&s, 0, 3, 0, 0);    /* ops 3 (silent) and 4 (sine) */
    opl3_synth_write(&s, 0xc3, 0x00); /* CNT2 0; channel 3's pan bits off */
    opl3_synth_write(&s, 0xc0, 0x11); /* CNT1 1, left */
    key(&s, 0, 3, 100, 1, false);
    key(&s, 0, 0, 580, 4, true);
    hz = measure(&s, OPL3_RATE / 2, 0, &pl);
    g_assert_cmpfloat(fabs(hz - 440.0), <, 2.0);
    g_assert_cmpint(pl, ==, table_peak(0));

    /* Waveforms in OPL2 mode: none without WSE; with it, 1 (half sine) has no
     * negative half. */
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 0, 0, 0);
    opl3_synth_write(&s, 0xe3, 1);
    key(&s, 0, 0, 580, 4, true);
    int16_t buf[2 * 2000];
    opl3_synth_generate(&s, buf, 2000);
    int mn = 0;
    for (int i = 0; i < 2000; i++)
        mn = MIN(mn, buf[2 * i]);
    g_assert_cmpint(mn, <=, -table_peak(0) - 1);
    opl3_synth_write(&s, 0x01, 0x20);
    opl3_synth_generate(&s, buf, 2000);
    mn = 0;
    for (int i = 0; i < 2000; i++)
        mn = MIN(mn, buf[2 * i]);
    g_assert_cmpint(mn, >=, -1);
}

/* Rhythm mode: the bass drum keyed by 0xBD bit 4 sounds twice as loud as the same
 * voice as a melodic channel; the hi-hat is noise (no dominant period). */
static void test_rhythm(void)
{
    Opl3Synth s;
    opl3_synth_reset(&s);
    setup_tone(&s, 0, 6, 8, 15);
    key(&s, 0, 6, 580, 4, false);
    opl3_synth_write(&s, 0xbd, 0x30);
    int peak;
    double hz = measure(&s, OPL3_RATE / 2, 0, &peak);
    g_assert_cmpfloat(fabs(hz - 440.0), <, 2.0);
    g_assert_cmpint(peak, ==, 2 * table_peak(32));
    opl3_synth_write(&s, 0xbd, 0x20);
    for (int i = 0; i < 100 && !opl3_synth_idle(&s); i++)
        measure(&s, 100, 0, &peak);
    g_assert_true(opl3_synth_idle(&s));
    /* Hi-hat: op 13 (register offset 0x11) at full level, keyed by bit 0. */
    opl3_synth_write(&s, 0x31, 0x21);
    opl3_synth_write(&s, 0x51, 0x00);
    opl3_synth_write(&s, 0x71, 0xf0);
    opl3_synth_write(&s, 0x91, 0x00);
    key(&s, 0, 7, 0x2ff, 6, false);
    key(&s, 0, 8, 0x1ff, 5, false);
    opl3_synth_write(&s, 0xbd, 0x21);
    int16_t *buf = g_new(int16_t, 2 * 4096);
    opl3_synth_generate(&s, buf, 4096);
    int distinct = 0, flips = 0;
    for (int i = 1; i < 4096; i++) {
        distinct += buf[2 * i] != buf[2 * i - 2];
        flips += (buf[2 * i] < 0) != (buf[2 * i - 2] < 0);
    }
    g_free(buf);
    g_assert_cmpint(distinct, >, 1000);
    g_assert_cmpint(flips, >, 200);
}

/* ---- The chip as the AdLib card ---- */

typedef struct Rig {
    Vm *vm;
    IrqLine irq[16];
    TestLine lines[16];
    int64_t now;
} Rig;

static void rig_init(Rig *r, int64_t t, const char *spec)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(0);
    if (t)
        vm_test_clock_step(r->vm, t);
    r->now = t;
    for (int i = 0; i < 16; i++)
        r->irq[i] = test_line(&r->lines[i]);
    GError *err = NULL;
    g_assert_true(backend_open(r->vm, "audiodev", "none,id=a", &err));
    vm_lock(r->vm);
    isa_bus_new(r->vm, r->irq, i8237_new(r->vm));
    g_assert_nonnull(device_create_from_spec(r->vm, spec, &err));
    g_assert_no_error(err);
    vm_unlock(r->vm);
}

static void rig_to(Rig *r, int64_t t)
{
    g_assert_cmpint(t, >=, r->now);
    vm_test_clock_step(r->vm, t - r->now);
    r->now = t;
}

static void reg(Vm *vm, uint16_t base, unsigned r, uint8_t v)
{
    outb(vm, (uint16_t)(base + ((r & 0x100) ? 2 : 0)), (uint8_t)r);
    outb(vm, (uint16_t)(base + ((r & 0x100) ? 3 : 1)), v);
}

/* The virtual time just after chip sample n. */
static int64_t sample_ns(int64_t n)
{
    return ticks_to_ns(n, OPL3_RATE) + 1;
}

static void test_timers(void)
{
    Rig r;
    rig_init(&r, 0, "adlib,audiodev=a,id=fm");
    Vm *vm = r.vm;
    /* The AdLib detection of the manuals: mask both, reset the flags, status 0; timer 1
     * at 0xFF unmasked and started; 80 us later the status is 0xC0. */
    reg(vm, 0x388, 4, 0x60);
    reg(vm, 0x388, 4, 0x80);
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    reg(vm, 0x388, 2, 0xff);
    reg(vm, 0x388, 4, 0x21);
    rig_to(&r, sample_ns(3));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    rig_to(&r, sample_ns(4));
    g_assert_cmpuint(inb(vm, 0x388) & 0xe0, ==, 0xc0);
    g_assert_cmpuint(inb(vm, 0x38a) & 0xe0, ==, 0xc0); /* also at the bank 1 address port */
    g_assert_cmpuint(inb(vm, 0x389), ==, 0xff);
    /* The flag stays until register 4 bit 7 clears it; masking clears it too. */
    rig_to(&r, sample_ns(100));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xc0);
    reg(vm, 0x388, 4, 0x80);
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    rig_to(&r, sample_ns(104)); /* the counter reloads: next overflow 4 samples on */
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xc0);
    reg(vm, 0x388, 4, 0x61);
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    reg(vm, 0x388, 4, 0x60);
    reg(vm, 0x388, 4, 0x80);

    /* Timer 1 from 0 (256 ticks of 4 samples, 20.6 ms) and timer 2 from 0xF0 (16 ticks
     * of 16 samples, 5.1 ms), both running: T2's flag first, then T1's. */
    int64_t t0 = ns_to_ticks(r.now, OPL3_RATE) + 1;
    rig_to(&r, sample_ns(t0));
    reg(vm, 0x388, 2, 0x00);
    reg(vm, 0x388, 3, 0xf0);
    reg(vm, 0x388, 4, 0x03);
    rig_to(&r, sample_ns(t0 + 255));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    rig_to(&r, sample_ns(t0 + 256));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xa0);
    rig_to(&r, sample_ns(t0 + 1023));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xa0);
    rig_to(&r, sample_ns(t0 + 1024));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xe0);
    /* A masked timer's overflow leaves no flag; unmasked, its next one does. */
    reg(vm, 0x388, 4, 0x80);
    reg(vm, 0x388, 4, 0x43); /* T1 masked */
    rig_to(&r, sample_ns(t0 + 2048));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xa0);
    /* Stopped timers never overflow. */
    reg(vm, 0x388, 4, 0x00);
    reg(vm, 0x388, 4, 0x80);
    rig_to(&r, sample_ns(t0 + 100000));
    g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);

    /* Bus time: with the virtual clock standing still (an emulated CPU's tight loop),
     * each access takes a microsecond of the chip's time, so the detection's loop of
     * status reads sees timer 1 overflow after 80 us: about 72 reads after the 8
     * writes that started it. */
    rig_to(&r, sample_ns(t0 + 200000));
    reg(vm, 0x388, 4, 0x60);
    reg(vm, 0x388, 4, 0x80);
    reg(vm, 0x388, 2, 0xff);
    reg(vm, 0x388, 4, 0x21);
    int reads = 0;
    while (!(inb(vm, 0x388) & 0x80))
        g_assert_cmpint(++reads, <, 1000);
    g_assert_cmpint(reads, >=, 70);
    g_assert_cmpint(reads, <=, 74);
    /* The lead is at most 1 ms: timer 1 from 0 (20.6 ms) needs the clock. */
    reg(vm, 0x388, 4, 0x60);
    reg(vm, 0x388, 4, 0x80);
    reg(vm, 0x388, 2, 0x00);
    reg(vm, 0x388, 4, 0x21);
    for (int i = 0; i < 5000; i++)
        g_assert_cmpuint(inb(vm, 0x388), ==, 0x00);
    rig_to(&r, r.now + 21000000);
    g_assert_cmpuint(inb(vm, 0x388), ==, 0xc0);
    vm_free(vm);
}

/* Every register of both banks with every value, through the AdLib's and the SB16's
 * ports, with time passing and output made between them (ASan and UBSan watch);
 * then a reset leaves a silent chip. */
static void test_hostile(void)
{
    Rig r;
    rig_init(&r, 0, "adlib,audiodev=a,id=fm");
    vm_lock(r.vm);
    GError *err = NULL;
    g_assert_nonnull(device_create_from_spec(r.vm, "sb16,audiodev=a,id=sb", &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    for (unsigned pass = 0; pass < 2; pass++) {
        uint16_t base = pass ? 0x220 : 0x388;
        for (unsigned rg = 0; rg < 0x200; rg++) {
            for (unsigned v = 0; v < 256; v++) {
                reg(r.vm, base, rg, (uint8_t)(v ^ (rg * 37)));
                if (rg == 0x105 && !(v & 1))
                    reg(r.vm, base, 0x105, 1); /* stay in OPL3 mode for bank 1 */
            }
            /* A little over a millisecond per register: the synthesizer runs. */
            rig_to(&r, r.now + 1100000);
            (void)inb(r.vm, base);
        }
        outb(r.vm, (uint16_t)(base + 1), 0xff);
        outb(r.vm, (uint16_t)(base + 3), 0xff);
    }
    /* The SB16's bank-0 pair at 0x228 reaches the same chip as 0x220. */
    reg(r.vm, 0x228, 4, 0x60);
    reg(r.vm, 0x228, 4, 0x80);
    g_assert_cmpuint(inb(r.vm, 0x220), ==, 0x00);
    reg(r.vm, 0x228, 2, 0xff);
    reg(r.vm, 0x228, 4, 0x21);
    rig_to(&r, r.now + 200000);
    g_assert_cmpuint(inb(r.vm, 0x220), ==, 0xc0);
    g_assert_cmpuint(inb(r.vm, 0x228), ==, 0xc0);
    /* 0x388 is the AdLib's: its chip's timers are separate. */
    reg(r.vm, 0x388, 4, 0x80);
    g_assert_cmpuint(inb(r.vm, 0x388), ==, 0x00);
    g_assert_cmpuint(inb(r.vm, 0x220), ==, 0xc0);
    vm_free(r.vm);

    /* Without an adlib device the SB16 answers at 0x388 too. */
    Rig q;
    rig_init(&q, 0, "sb16,audiodev=a,id=sb");
    reg(q.vm, 0x388, 4, 0x60);
    reg(q.vm, 0x388, 4, 0x80);
    reg(q.vm, 0x388, 2, 0xfe);
    reg(q.vm, 0x388, 4, 0x21);
    rig_to(&q, sample_ns(10));
    g_assert_cmpuint(inb(q.vm, 0x220), ==, 0xc0);
    /* An adlib created after the SB16 takes 0x388 over (the SB16's claim there is weak):
     * the AdLib chip's timer runs, the SB16 chip's status stays as it was. */
    vm_lock(q.vm);
    g_assert_nonnull(device_create_from_spec(q.vm, "adlib,audiodev=a,id=fm", &err));
    g_assert_no_error(err);
    g_assert_cmpstr(io_owner(vm_io(q.vm), 0x388), ==, "fm");
    vm_unlock(q.vm);
    reg(q.vm, 0x220, 4, 0x60);
    reg(q.vm, 0x220, 4, 0x80);
    g_assert_cmpuint(inb(q.vm, 0x220), ==, 0x00);
    reg(q.vm, 0x388, 2, 0xff);
    reg(q.vm, 0x388, 4, 0x21);
    rig_to(&q, q.now + 200000);
    g_assert_cmpuint(inb(q.vm, 0x388), ==, 0xc0);
    g_assert_cmpuint(inb(q.vm, 0x220), ==, 0x00);
    vm_free(q.vm);
}

static void save(Vm *vm, const char *id, GByteArray *out)
{
    g_byte_array_set_size(out, 0);
    vm_lock(vm);
    device_save_state(device_find(vm, id), out);
    vm_unlock(vm);
}

/* A chord in OPL3 mode saved mid-note (tremolo, vibrato, feedback, a 4-operator pair,
 * a drum) and loaded into a fresh VM at the same virtual time: both chips then evolve
 * identically (equal states after 200 ms), and a corrupted stream is refused. */
static void savevm_case(const char *spec, const char *id, uint16_t port)
{
    Rig a, b;
    rig_init(&a, 0, spec);
    Vm *vm = a.vm;
    reg(vm, port, 0x105, 1);
    reg(vm, port, 0x104, 0x02);
    reg(vm, port, 0x01, 0x20);
    for (unsigned op = 0; op < 0x16; op++) {
        if ((op & 7) > 5)
            continue;
        reg(vm, port, 0x20 + op, (uint8_t)(0xc0 | (op % 4 + 1)));
        reg(vm, port, 0x40 + op, (uint8_t)(op * 2));
        reg(vm, port, 0x60 + op, 0xa4);
        reg(vm, port, 0x80 + op, 0x35);
        reg(vm, port, 0xe0 + op, (uint8_t)(op & 7));
        reg(vm, port, 0x120 + op, 0x01);
        reg(vm, port, 0x160 + op, 0xf1);
        reg(vm, port, 0x180 + op, 0x07);
    }
    reg(vm, port, 0xbd, 0xe0);
    for (unsigned ch = 0; ch < 9; ch++) {
        reg(vm, port, 0xc0 + ch, (uint8_t)(0x30 | ch << 1));
        reg(vm, port, 0xa0 + ch, (uint8_t)(0x40 + ch * 16));
        reg(vm, port, 0xb0 + ch, (uint8_t)(0x20 | (ch % 8) << 2 | 1));
        reg(vm, port, 0x1c0 + ch, 0x30);
        reg(vm, port, 0x1a0 + ch, 0x80);
        reg(vm, port, 0x1b0 + ch, 0x31);
    }
    reg(vm, port, 0xbd, 0xf9);
    reg(vm, port, 2, 0x10);
    reg(vm, port, 4, 0x01);
    rig_to(&a, 123456789);
    reg(vm, port, 0x06, 0); /* an unused register: the chip catches up */

    g_autoptr(GByteArray) st = g_byte_array_new();
    g_autoptr(GByteArray) sa = g_byte_array_new();
    g_autoptr(GByteArray) sb = g_byte_array_new();
    save(vm, id, st);
    rig_init(&b, a.now, spec);
    GError *err = NULL;
    vm_lock(b.vm);
    g_assert_true(device_load_state(device_find(b.vm, id), st->data, st->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    for (int i = 1; i <= 200; i++) {
        rig_to(&a, a.now + 1000000);
        rig_to(&b, b.now + 1000000);
        if (i == 100) {
            reg(a.vm, port, 0xb4, 0x00);
            reg(b.vm, port, 0xb4, 0x00);
        }
        g_assert_cmpuint(inb(a.vm, port), ==, inb(b.vm, port));
    }
    reg(a.vm, port, 0x06, 0);
    reg(b.vm, port, 0x06, 0);
    save(a.vm, id, sa);
    save(b.vm, id, sb);
    g_assert_cmpuint(sa->len, ==, sb->len);
    g_assert_cmpmem(sa->data, sa->len, sb->data, sb->len);
    g_assert_true(memcmp(sa->data, st->data, MIN(sa->len, st->len)) != 0); /* it did move */

    /* A damaged stream is refused with one line. */
    for (size_t i = st->len / 3; i < st->len; i += st->len / 7) {
        g_autoptr(GByteArray) bad = g_byte_array_new();
        g_byte_array_append(bad, st->data, st->len);
        bad->data[i] ^= 0x5a;
        vm_lock(b.vm);
        bool ok = device_load_state(device_find(b.vm, id), bad->data, bad->len, &err);
        vm_unlock(b.vm);
        if (!ok) {
            g_assert_nonnull(err);
            g_assert_null(strchr(err->message, '\n'));
            g_clear_error(&err);
        }
    }
    vm_free(a.vm);
    vm_free(b.vm);
}

/* The AdLib's chip, and the SB16's (a section with the DSP and mixer around it). */
static void test_savevm(void)
{
    savevm_case("adlib,audiodev=a,id=fm", "fm", 0x388);
    savevm_case("sb16,audiodev=a,id=sb", "sb", 0x220);
}

static void test_props(void)
{
    GError *err = NULL;
    g_assert_true(device_spec_check("adlib,audiodev=x,iobase=0x388", &err));
    g_assert_false(device_spec_check("adlib,audiodev=x,iobase=0x10000", &err));
    g_clear_error(&err);
    Vm *vm = vm_new_for_test(0);
    IrqLine irq[16];
    TestLine lines[16];
    for (int i = 0; i < 16; i++)
        irq[i] = test_line(&lines[i]);
    g_assert_true(backend_open(vm, "audiodev", "none,id=a", &err));
    vm_lock(vm);
    isa_bus_new(vm, irq, i8237_new(vm));
    g_assert_null(device_create_from_spec(vm, "adlib,id=x", &err));
    g_assert_nonnull(strstr(err->message, "audiodev"));
    g_clear_error(&err);
    g_assert_null(device_create_from_spec(vm, "adlib,audiodev=a,iobase=0x389", &err));
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(vm, "adlib,audiodev=a,id=one", &err));
    /* Two chips on one port range: the second is refused. */
    g_assert_null(device_create_from_spec(vm, "adlib,audiodev=a,id=two", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_unlock(vm);
    vm_free(vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/opl3/frequency", test_frequency);
    g_test_add_func("/opl3/levels", test_levels);
    g_test_add_func("/opl3/release", test_release);
    g_test_add_func("/opl3/modes", test_modes);
    g_test_add_func("/opl3/rhythm", test_rhythm);
    g_test_add_func("/opl3/timers", test_timers);
    g_test_add_func("/opl3/hostile", test_hostile);
    g_test_add_func("/opl3/savevm", test_savevm);
    g_test_add_func("/opl3/props", test_props);
    return g_test_run();
}
