/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8254 programmable interval timer, after the Intel 82C54 datasheet (order no.
 * 231244). Counters are not ticked: each one keeps the clock edge at which its counting
 * element (CE) last took a known value, and CE and OUT are computed from virtual time.
 * CLK edge k happens at k / 1.193182 MHz of virtual time. */
#include "hw/timer/i8254.h"

typedef enum { EV_NONE, EV_LOAD } PitEvent;

typedef struct PitCounter {
    PitState *pit;
    int index;
    /* Programming. */
    uint8_t ctrl;      /* RW, mode and BCD bits (5-0) of the last control word */
    uint8_t mode;      /* 0-5 */
    uint8_t rw;        /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    uint16_t cr;       /* count register as written */
    bool cr_valid;     /* a whole count was written since the control word */
    bool wr_msb;       /* write flip-flop: the next byte is the MSB */
    uint8_t wr_lsb;
    bool rd_msb;       /* read flip-flop */
    bool ol_latched;
    uint16_t ol;
    bool st_latched;
    uint8_t st;
    bool null_count;
    bool gate;
    bool armed;        /* modes 2, 3: CE has been loaded since the control word */

    /* A pending transfer of CR into CE at clock edge ev_tick. */
    uint8_t ev;        /* PitEvent */
    int64_t ev_tick;
    bool ev_first_low; /* mode 3: the new count starts with the low half */

    /* The counting element. */
    bool running;
    int64_t base_tick; /* modes 0, 1, 4, 5: CE == base_ce at this edge */
    uint32_t base_ce;
    uint32_t n;        /* modes 2, 3: the count of the current cycle, 1..modulus */
    bool first_low;    /* mode 3: the cycle at base_tick starts low */
    uint32_t hold_ce;  /* CE while not running */
    bool tc_armed;     /* modes 0, 1, 4, 5: OUT changes at terminal count */
    int64_t tc_tick;
    uint32_t tc_left;  /* edges to terminal count while paused */
    bool out_level;    /* OUT while no terminal count or cycle drives it */

    /* Counter 0 only: the IRQ 0 output. */
    bool has_irq;
    bool irq_out;
    int64_t irq_tick;  /* the edge up to which IRQ transitions were emitted */

    /* Wiring: called before a guest access (the speaker's renderer). */
    void (*access_hook)(void *opaque);
    void *access_opaque;
} PitCounter;

struct PitState {
    Device dev;
    uint32_t iobase;   /* property */
    Vm *vm;
    IrqLine irq0;      /* wired by the board */
    VTimer *timer;
    PitCounter c[3];
};

static int64_t pit_now_tick(PitState *pit)
{
    return ns_to_ticks(vm_clock_ns(pit->vm), PIT_FREQ);
}

/* The virtual time of clock edge k: the first ns at which k edges have passed. */
static int64_t pit_tick_ns(int64_t k)
{
    int64_t ns = ticks_to_ns(k, PIT_FREQ);
    while (ns_to_ticks(ns, PIT_FREQ) < k)
        ns++;
    return ns;
}

static uint32_t counter_modulus(const PitCounter *c)
{
    return c->bcd ? 10000 : 0x10000;
}

static uint32_t bcd_decode(uint16_t v)
{
    uint32_t r = 0;
    for (int shift = 12; shift >= 0; shift -= 4)
        r = r * 10 + ((v >> shift) & 0xf);
    return r;
}

static uint16_t bcd_encode(uint32_t v)
{
    v %= 10000;
    return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10));
}

/* The count CR holds, 1..modulus (0 is the maximum count, 65536 or 10000 in BCD). */
static uint32_t counter_initial(const PitCounter *c)
{
    uint32_t m = counter_modulus(c);
    uint32_t v = c->bcd ? bcd_decode(c->cr) : c->cr;
    if (c->bcd && v >= m) {
        VLOG(LOG_GUEST, "pit%d: count 0x%04x is not BCD", c->index, c->cr);
        v %= m;
    }
    return v ? v : m;
}

/* Mode 3 half cycles (82C54): an even count N is high N/2 and low N/2 edges; an odd
 * count high (N+1)/2 and low (N-1)/2. */
static uint32_t sq_high(uint32_t n) { return (n + 1) / 2; }
static uint32_t sq_low(uint32_t n) { return n / 2; }

/* CE at edge t, for t at or after the last sync. */
static uint32_t counter_ce(const PitCounter *c, int64_t t)
{
    if (!c->running)
        return c->hold_ce;
    uint64_t d = (uint64_t)(t - c->base_tick);
    switch (c->mode) {
    case 2:
        return c->n - (uint32_t)(d % c->n);
    case 3: {
        uint32_t j = (uint32_t)(d % c->n);
        uint32_t first = c->first_low ? sq_low(c->n) : sq_high(c->n);
        uint32_t i = j < first ? j : j - first;
        /* Odd counts load N-1 and count down by two. */
        uint32_t load = (c->n & 1) ? c->n - 1 : c->n;
        return load - 2 * i;
    }
    default: {
        uint32_t m = counter_modulus(c);
        return (uint32_t)((c->base_ce + m - d % m) % m);
    }
    }
}

static bool counter_out(const PitCounter *c, int64_t t)
{
    if (!c->running)
        return c->out_level;
    switch (c->mode) {
    case 0:
    case 1:
        return c->tc_armed ? t >= c->tc_tick : c->out_level;
    case 4:
    case 5:
        return c->tc_armed ? t != c->tc_tick : c->out_level;
    case 2:
        return (uint64_t)(t - c->base_tick) % c->n != c->n - 1;
    default: {
        uint32_t j = (uint32_t)((uint64_t)(t - c->base_tick) % c->n);
        if (c->first_low)
            return j >= sq_low(c->n);
        return j < sq_high(c->n);
    }
    }
}

/* The first edge after t at which OUT changes or a load happens, or -1. */
static int64_t counter_next_wakeup(const PitCounter *c, int64_t t)
{
    int64_t next = -1;
    if (c->ev != EV_NONE)
        next = c->ev_tick;
    int64_t ch = -1;
    if (c->running) {
        switch (c->mode) {
        case 0:
        case 1:
            if (c->tc_armed)
                ch = c->tc_tick;
            break;
        case 4:
        case 5:
            if (c->tc_armed)
                ch = t < c->tc_tick ? c->tc_tick : c->tc_tick + 1;
            break;
        case 2: {
            if (c->n == 1)
                break; /* count 1 is illegal in mode 2: OUT stays low */
            uint32_t j = (uint32_t)((uint64_t)(t - c->base_tick) % c->n);
            ch = j < c->n - 1 ? t + (c->n - 1 - j) : t + 1;
            break;
        }
        default: {
            if (c->n == 1)
                break; /* no low half: OUT stays high */
            uint32_t j = (uint32_t)((uint64_t)(t - c->base_tick) % c->n);
            uint32_t first = c->first_low ? sq_low(c->n) : sq_high(c->n);
            ch = j < first ? t + (first - j) : t + (c->n - j);
            break;
        }
        }
    }
    if (ch > t && (next < 0 || ch < next))
        next = ch;
    return next;
}

/* 82C54: "the count is loaded on the next CLK pulse" after it is written or triggered. */
static void counter_apply_load(PitCounter *c, int64_t e)
{
    uint32_t n = counter_initial(c);
    uint32_t m = counter_modulus(c);
    bool first_low = c->ev_first_low;
    c->ev = EV_NONE;
    c->null_count = false;
    switch (c->mode) {
    case 0:
    case 4:
        c->tc_armed = true;
        c->out_level = c->mode == 4;
        if (c->gate) {
            c->running = true;
            c->base_tick = e;
            c->base_ce = n % m;
            c->tc_tick = e + n;
        } else {
            /* Mode 0/4 with GATE low: loaded, but counting waits for GATE. */
            c->running = false;
            c->hold_ce = n % m;
            c->tc_left = n;
        }
        break;
    case 1:
    case 5:
        c->running = true;
        c->base_tick = e;
        c->base_ce = n % m;
        c->tc_armed = true;
        c->tc_tick = e + n;
        c->out_level = true;
        break;
    default:
        c->armed = true;
        if (c->gate) {
            c->running = true;
            c->base_tick = e;
            c->n = n;
            c->first_low = first_low;
        } else {
            c->running = false;
            c->hold_ce = n % m;
            c->out_level = true;
        }
        break;
    }
}

/* Brings the counter to edge t: applies a due load and retires a passed terminal count. */
static void counter_sync(PitCounter *c, int64_t t)
{
    if (c->ev != EV_NONE && c->ev_tick <= t)
        counter_apply_load(c, c->ev_tick);
    if (c->running && c->tc_armed && c->mode != 2 && c->mode != 3) {
        int64_t end = (c->mode == 4 || c->mode == 5) ? c->tc_tick + 1 : c->tc_tick;
        if (t >= end) {
            c->tc_armed = false;
            c->out_level = true;
        }
    }
}

static void pit_irq_set(PitCounter *c, bool level)
{
    if (level != c->irq_out) {
        c->irq_out = level;
        irq_set(&c->pit->irq0, level);
    }
}

/* Moves the counter to edge t. For counter 0 every OUT transition on the way reaches
 * IRQ 0 in order, so an 838 ns low pulse of mode 2 still gives the PIC its edge when the
 * timer runs late; after many missed transitions only the last pulse is replayed. */
static void counter_advance(PitCounter *c, int64_t t)
{
    if (!c->has_irq) {
        counter_sync(c, t);
        return;
    }
    int64_t cur = c->irq_tick;
    if (cur > t)
        cur = t;
    for (int steps = 0;; steps++) {
        int64_t nt = counter_next_wakeup(c, cur);
        if (nt < 0 || nt > t)
            break;
        if (steps == 64) {
            counter_sync(c, t);
            bool out = counter_out(c, t);
            pit_irq_set(c, !out);
            pit_irq_set(c, out);
            c->irq_tick = t;
            return;
        }
        counter_sync(c, nt);
        pit_irq_set(c, counter_out(c, nt));
        cur = nt;
    }
    counter_sync(c, t);
    pit_irq_set(c, counter_out(c, t));
    c->irq_tick = t;
}

/* After a change at edge t: drives IRQ 0 and arms the timer for the next transition. */
static void counter_changed(PitCounter *c, int64_t t)
{
    if (!c->has_irq)
        return;
    pit_irq_set(c, counter_out(c, t));
    c->irq_tick = t;
    int64_t nt = counter_next_wakeup(c, t);
    if (nt >= 0)
        vtimer_mod(c->pit->timer, pit_tick_ns(nt));
    else
        vtimer_del(c->pit->timer);
}

static void pit_timer_cb(void *opaque)
{
    PitState *pit = opaque;
    int64_t t = pit_now_tick(pit);
    counter_advance(&pit->c[0], t);
    counter_changed(&pit->c[0], t);
}

/* Stops CE where it is (GATE low in modes 0 and 4, or a new count in mode 0). */
static void counter_pause(PitCounter *c, int64_t t)
{
    if (!c->running)
        return;
    c->hold_ce = counter_ce(c, t);
    if (c->tc_armed) {
        if (t < c->tc_tick) {
            c->tc_left = (uint32_t)(c->tc_tick - t);
        } else {
            c->tc_armed = false;
            c->out_level = true;
        }
    }
    c->running = false;
}

static void counter_resume(PitCounter *c, int64_t t)
{
    if (c->running)
        return;
    c->running = true;
    c->base_tick = t;
    c->base_ce = c->hold_ce;
    if (c->tc_armed)
        c->tc_tick = t + c->tc_left;
}

/* The next edge at which mode 2 or 3 reloads CE (end of the cycle or half cycle), and
 * whether OUT is low after it. */
static int64_t counter_next_reload(const PitCounter *c, int64_t t, bool *low_after)
{
    uint32_t j = (uint32_t)((uint64_t)(t - c->base_tick) % c->n);
    *low_after = false;
    if (c->mode == 2)
        return t + (c->n - j);
    uint32_t first = c->first_low ? sq_low(c->n) : sq_high(c->n);
    if (j < first && first > 0) {
        *low_after = !c->first_low;
        return t + (first - j);
    }
    *low_after = c->first_low;
    return t + (c->n - j);
}

static void counter_schedule_load(PitCounter *c, int64_t tick, bool first_low)
{
    c->ev = EV_LOAD;
    c->ev_tick = tick;
    c->ev_first_low = first_low;
}

/* A whole count went into CR at edge t. */
static void counter_count_written(PitCounter *c, int64_t t)
{
    c->cr_valid = true;
    c->null_count = true;
    switch (c->mode) {
    case 0:
        /* Mode 0: a new count sets OUT low and is loaded on the next CLK pulse. */
        counter_pause(c, t);
        c->tc_armed = false;
        c->out_level = false;
        counter_schedule_load(c, t + 1, false);
        break;
    case 4:
        counter_schedule_load(c, t + 1, false);
        break;
    case 1:
    case 5:
        break; /* waits for a GATE trigger */
    default:
        if (!c->armed) {
            counter_schedule_load(c, t + 1, false);
        } else if (c->running) {
            /* Modes 2, 3: a new count takes effect at the end of the current
             * (half) cycle. */
            bool low_after;
            int64_t r = counter_next_reload(c, t, &low_after);
            counter_schedule_load(c, r, low_after);
        }
        break;
    }
}

static void counter_write(PitCounter *c, uint8_t v, int64_t t)
{
    switch (c->rw) {
    case 1:
        c->cr = v;
        counter_count_written(c, t);
        break;
    case 2:
        c->cr = (uint16_t)(v << 8);
        counter_count_written(c, t);
        break;
    default:
        if (!c->wr_msb) {
            c->wr_lsb = v;
            c->wr_msb = true;
            if (c->mode == 0) {
                /* Mode 0: writing the first byte disables counting and sets OUT low
                 * at once. */
                counter_pause(c, t);
                if (c->ev != EV_NONE)
                    c->ev = EV_NONE;
                c->tc_armed = false;
                c->out_level = false;
            }
        } else {
            c->cr = (uint16_t)(c->wr_lsb | v << 8);
            c->wr_msb = false;
            counter_count_written(c, t);
        }
        break;
    }
}

static uint16_t counter_read_value(const PitCounter *c, int64_t t)
{
    uint32_t ce = counter_ce(c, t);
    return c->bcd ? bcd_encode(ce) : (uint16_t)ce;
}

static uint8_t counter_status(const PitCounter *c, int64_t t)
{
    return (uint8_t)((counter_out(c, t) ? 0x80 : 0) | (c->null_count ? 0x40 : 0) | c->ctrl);
}

static void counter_latch(PitCounter *c, int64_t t)
{
    /* A second latch before the first was read is ignored. */
    if (!c->ol_latched) {
        c->ol = counter_read_value(c, t);
        c->ol_latched = true;
    }
}

static uint8_t counter_read(PitCounter *c, int64_t t)
{
    if (c->st_latched) {
        c->st_latched = false;
        return c->st;
    }
    uint16_t v = c->ol_latched ? c->ol : counter_read_value(c, t);
    uint8_t b;
    switch (c->rw) {
    case 1:
        b = v & 0xff;
        c->ol_latched = false;
        break;
    case 2:
        b = v >> 8;
        c->ol_latched = false;
        break;
    default:
        if (!c->rd_msb) {
            b = v & 0xff;
            c->rd_msb = true;
        } else {
            b = v >> 8;
            c->rd_msb = false;
            c->ol_latched = false;
        }
        break;
    }
    return b;
}

/* A control word: "all Control Logic is immediately reset and OUT goes to a known
 * initial state" (82C54); CE holds until a count arrives. */
static void counter_control(PitCounter *c, uint8_t v, int64_t t)
{
    counter_pause(c, t);
    c->ev = EV_NONE;
    c->ctrl = v & 0x3f;
    c->rw = (v >> 4) & 3;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4; /* 110 and 111 are modes 2 and 3 */
    c->bcd = v & 1;
    c->cr_valid = false;
    c->armed = false;
    c->wr_msb = false;
    c->rd_msb = false;
    c->ol_latched = false;
    c->st_latched = false;
    c->null_count = true;
    c->tc_armed = false;
    c->out_level = c->mode != 0;
    c->hold_ce %= counter_modulus(c);
}

static void counter_set_gate(PitCounter *c, bool level, int64_t t)
{
    bool rising = level && !c->gate;
    bool falling = !level && c->gate;
    c->gate = level;
    switch (c->mode) {
    case 0:
    case 4:
        if (falling)
            counter_pause(c, t);
        else if (rising && c->ev == EV_NONE && c->cr_valid && !(c->mode == 0 && c->wr_msb))
            counter_resume(c, t);
        break;
    case 1:
    case 5:
        if (rising && c->cr_valid)
            counter_schedule_load(c, t + 1, false);
        break;
    default:
        if (falling) {
            /* Modes 2, 3: GATE low stops counting and sets OUT high at once. */
            if (c->running)
                c->hold_ce = counter_ce(c, t);
            c->running = false;
            c->out_level = true;
            if (c->ev != EV_NONE && c->armed)
                c->ev = EV_NONE; /* a pending end-of-cycle reload: the trigger reloads */
        } else if (rising && c->cr_valid) {
            counter_schedule_load(c, t + 1, false);
        }
        break;
    }
}

static void counter_access(PitCounter *c)
{
    if (c->access_hook)
        c->access_hook(c->access_opaque);
}

static uint32_t pit_read(void *opaque, uint32_t offset, unsigned size)
{
    PitState *pit = opaque;
    if (offset == 3)
        return 0xff; /* the control word register cannot be read */
    PitCounter *c = &pit->c[offset];
    counter_access(c);
    int64_t t = pit_now_tick(pit);
    counter_advance(c, t);
    uint8_t v = counter_read(c, t);
    counter_changed(c, t);
    return v;
}

static void pit_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    PitState *pit = opaque;
    uint8_t v = (uint8_t)value;
    int64_t t = pit_now_tick(pit);
    if (offset < 3) {
        PitCounter *c = &pit->c[offset];
        counter_access(c);
        counter_advance(c, t);
        counter_write(c, v, t);
        counter_changed(c, t);
        return;
    }
    int sc = v >> 6;
    if (sc == 3) {
        /* Read-back: bit 5 low latches counts, bit 4 low latches status. */
        for (int i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            PitCounter *c = &pit->c[i];
            counter_access(c);
            counter_advance(c, t);
            if (!(v & 0x20))
                counter_latch(c, t);
            if (!(v & 0x10) && !c->st_latched) {
                c->st = counter_status(c, t);
                c->st_latched = true;
            }
            counter_changed(c, t);
        }
        return;
    }
    PitCounter *c = &pit->c[sc];
    counter_access(c);
    counter_advance(c, t);
    if ((v & 0x30) == 0)
        counter_latch(c, t);
    else
        counter_control(c, v, t);
    counter_changed(c, t);
}

static const PortOps pit_ops = { pit_read, pit_write, 1, 1 };

void i8254_set_gate(PitState *pit, int counter, int level)
{
    g_return_if_fail(counter >= 0 && counter < 3);
    PitCounter *c = &pit->c[counter];
    int64_t t = pit_now_tick(pit);
    counter_advance(c, t);
    counter_set_gate(c, level != 0, t);
    counter_changed(c, t);
}

int i8254_get_out(PitState *pit, int counter)
{
    g_return_val_if_fail(counter >= 0 && counter < 3, 0);
    PitCounter *c = &pit->c[counter];
    int64_t t = pit_now_tick(pit);
    counter_advance(c, t);
    bool out = counter_out(c, t);
    counter_changed(c, t);
    return out;
}

void i8254_set_access_hook(PitState *pit, int counter, void (*fn)(void *opaque), void *opaque)
{
    g_return_if_fail(counter >= 0 && counter < 3);
    pit->c[counter].access_hook = fn;
    pit->c[counter].access_opaque = opaque;
}

int i8254_get_out_at(PitState *pit, int counter, int64_t ns)
{
    g_return_val_if_fail(counter >= 0 && counter < 3 && !pit->c[counter].has_irq, 0);
    PitCounter *c = &pit->c[counter];
    int64_t t = ns_to_ticks(ns, PIT_FREQ);
    /* Without an IRQ line, advancing only applies due loads and terminal counts. */
    counter_advance(c, t);
    return counter_out(c, t);
}

uint16_t i8254_get_count(PitState *pit, int counter)
{
    g_return_val_if_fail(counter >= 0 && counter < 3, 0);
    PitCounter *c = &pit->c[counter];
    int64_t t = pit_now_tick(pit);
    counter_advance(c, t);
    uint16_t v = counter_read_value(c, t);
    counter_changed(c, t);
    return v;
}

int i8254_get_mode(PitState *pit, int counter)
{
    g_return_val_if_fail(counter >= 0 && counter < 3, 0);
    return pit->c[counter].mode;
}

uint32_t i8254_get_initial_count(PitState *pit, int counter)
{
    g_return_val_if_fail(counter >= 0 && counter < 3, 0);
    PitCounter *c = &pit->c[counter];
    return c->cr_valid ? counter_initial(c) : 0;
}

/* The 82C54's state before programming is undefined; Vireo starts each counter as a
 * control word for mode 0 with LSB-then-MSB access would leave it. GATE inputs belong
 * to the board and keep their levels. */
static void pit_reset(Device *dev)
{
    PitState *pit = (PitState *)dev;
    int64_t t = pit_now_tick(pit);
    for (int i = 0; i < 3; i++) {
        PitCounter *c = &pit->c[i];
        counter_advance(c, t);
        c->hold_ce = 0;
        c->running = false;
        counter_control(c, 0x30, t);
        c->null_count = false;
        c->cr = 0;
        counter_changed(c, t);
    }
}

static bool pit_realize(Device *dev, GError **err)
{
    PitState *pit = (PitState *)dev;
    pit->vm = dev->vm;
    pit->timer = vtimer_new(pit->vm, pit_timer_cb, pit);
    for (int i = 0; i < 3; i++) {
        pit->c[i].pit = pit;
        pit->c[i].index = i;
        pit->c[i].gate = true; /* GATE0 and GATE1 are tied high on the PC */
    }
    pit->c[0].has_irq = true;
    pit->c[0].irq_tick = pit_now_tick(pit);
    io_add(vm_io(pit->vm), "pit", (uint16_t)pit->iobase, 4, &pit_ops, pit);
    return true;
}

static void pit_unrealize(Device *dev)
{
    PitState *pit = (PitState *)dev;
    vtimer_free(pit->timer);
}

/* The programming fields must agree with the control word they came from, and a
 * running mode 2 or 3 counter divides by its count. */
static bool pit_check(const void *state, GError **err)
{
    const PitState *pit = state;
    for (int i = 0; i < 3; i++) {
        const PitCounter *c = &pit->c[i];
        uint8_t mode = (c->ctrl >> 1) & 7;
        if (mode > 5)
            mode -= 4;
        if (c->rw != ((c->ctrl >> 4) & 3) || c->mode != mode || c->bcd != (c->ctrl & 1)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "counter %d: mode %u, access %u, BCD %d disagree with control word 0x%02x", i,
                        c->mode, c->rw, c->bcd, c->ctrl);
            return false;
        }
        if (c->running && (c->mode == 2 || c->mode == 3) && (c->n < 1 || c->n > counter_modulus(c))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "counter %d: count %u in mode %u", i, c->n,
                        c->mode);
            return false;
        }
    }
    return true;
}

static void pit_post_load(void *state)
{
    PitState *pit = state;
    irq_set(&pit->irq0, pit->c[0].irq_out);
}

/* Clock edges are counted from virtual time 0. 2^52 edges (119 years) keep every edge's
 * virtual time, and the edge arithmetic around it, inside 63 bits. */
#define PIT_TICK_MAX (INT64_C(1) << 52)

static const VmStateField pit_counter_fields[] = {
    VMSTATE_U8_RANGE(PitCounter, ctrl, 0, 0x3f),
    VMSTATE_U8_RANGE(PitCounter, mode, 0, 5),
    VMSTATE_U8_RANGE(PitCounter, rw, 1, 3),
    VMSTATE_BOOL(PitCounter, bcd),
    VMSTATE_U16(PitCounter, cr),
    VMSTATE_BOOL(PitCounter, cr_valid),
    VMSTATE_BOOL(PitCounter, wr_msb),
    VMSTATE_U8(PitCounter, wr_lsb),
    VMSTATE_BOOL(PitCounter, rd_msb),
    VMSTATE_BOOL(PitCounter, ol_latched),
    VMSTATE_U16(PitCounter, ol),
    VMSTATE_BOOL(PitCounter, st_latched),
    VMSTATE_U8(PitCounter, st),
    VMSTATE_BOOL(PitCounter, null_count),
    VMSTATE_BOOL(PitCounter, gate),
    VMSTATE_BOOL(PitCounter, armed),
    VMSTATE_U8_RANGE(PitCounter, ev, EV_NONE, EV_LOAD),
    VMSTATE_I64_RANGE(PitCounter, ev_tick, 0, PIT_TICK_MAX),
    VMSTATE_BOOL(PitCounter, ev_first_low),
    VMSTATE_BOOL(PitCounter, running),
    VMSTATE_I64_RANGE(PitCounter, base_tick, 0, PIT_TICK_MAX),
    VMSTATE_U32_RANGE(PitCounter, base_ce, 0, 0x10000),
    VMSTATE_U32_RANGE(PitCounter, n, 0, 0x10000),
    VMSTATE_BOOL(PitCounter, first_low),
    VMSTATE_U32_RANGE(PitCounter, hold_ce, 0, 0x10000),
    VMSTATE_BOOL(PitCounter, tc_armed),
    VMSTATE_I64_RANGE(PitCounter, tc_tick, 0, PIT_TICK_MAX),
    VMSTATE_U32_RANGE(PitCounter, tc_left, 0, 0x10000),
    VMSTATE_BOOL(PitCounter, out_level),
    VMSTATE_BOOL(PitCounter, irq_out),
    VMSTATE_I64_RANGE(PitCounter, irq_tick, 0, PIT_TICK_MAX),
    VMSTATE_END,
};

static const VmStateDesc pit_counter_vmsd = {
    .name = "8254-counter",
    .version = 1,
    .fields = pit_counter_fields,
};

static const VmStateField pit_fields[] = {
    VMSTATE_STRUCT_ARRAY(PitState, c, 3, PitCounter, &pit_counter_vmsd),
    VMSTATE_TIMER(PitState, timer),
    VMSTATE_END,
};

static const VmStateDesc pit_vmsd = {
    .name = "8254",
    .version = 1,
    .fields = pit_fields,
    .check = pit_check,
    .post_load = pit_post_load,
};

static const DeviceProp pit_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(PitState, iobase), "I/O port base", "0x40", 0, 0xfffc },
    { NULL },
};

static const DeviceClass pit_class = {
    .name = "isa-pit",
    .description = "8254 programmable interval timer",
    .instance_size = sizeof(PitState),
    .props = pit_props,
    .vmsd = &pit_vmsd,
    .realize = pit_realize,
    .reset = pit_reset,
    .unrealize = pit_unrealize,
};

__attribute__((constructor)) static void pit_register(void)
{
    device_class_register(&pit_class);
}

PitState *i8254_new(Vm *vm, uint16_t base, const IrqLine *irq0)
{
    PitState *pit = (PitState *)device_new(vm, pit_class.name, "pit", NULL);
    g_assert(pit);
    pit->iobase = base;
    if (irq0)
        pit->irq0 = *irq0;
    if (!device_realize(DEVICE(pit), NULL))
        g_assert_not_reached();
    return pit;
}
