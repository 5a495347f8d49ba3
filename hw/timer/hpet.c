/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The IA-PC HPET after Intel's "IA-PC HPET (High Precision Event Timers) Specification"
 * revision 1.0a: a main counter at 100 MHz (QEMU's rate, so guests see the same
 * COUNTER_CLK_PERIOD) computed from the virtual clock, and three 64-bit comparators that
 * can run in 32-bit mode, one-shot or periodic, edge or level triggered, routed to the
 * I/O APIC inputs the board allows or, in legacy replacement mode, to IRQ 0 and IRQ 8.
 * FSB (message) delivery is not offered. */
#include "hw/timer/hpet.h"

#define TICK_NS 10                  /* 100 MHz */
#define PERIOD_FS UINT64_C(10000000) /* COUNTER_CLK_PERIOD: 10 ns in femtoseconds */

/* Register offsets (spec §2.3.1, table 2); timer n's block is at 0x100 + 0x20 * n. */
#define R_CAP 0x000
#define R_CONF 0x010
#define R_ISR 0x020
#define R_COUNTER 0x0f0
#define R_TIMER 0x100
#define TIMER_STRIDE 0x20
#define T_CONF 0x00
#define T_CMP 0x08
#define T_FSB 0x10

/* General configuration (§2.3.5). */
#define CONF_ENABLE 1u
#define CONF_LEGACY 2u

/* Timer n configuration and capability (§2.3.8). */
#define TN_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_PERIODIC (1u << 3)
#define TN_PER_CAP (1u << 4)
#define TN_SIZE_CAP (1u << 5)
#define TN_VAL_SET (1u << 6)
#define TN_32BIT (1u << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE (0x1fu << TN_ROUTE_SHIFT)
#define TN_STORED (TN_LEVEL | TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT | TN_ROUTE)

#define NEVER UINT64_MAX
/* A comparator written up to this many ticks (100 ms) behind the counter fires at once.
 * The counter follows host time while the vCPU may sit descheduled between reading it
 * and writing "counter + delta"; real hardware would wait for the counter to wrap (for
 * a 64-bit comparator, forever). Farther behind is a wrap, as in hardware. */
#define LATE_TICKS UINT64_C(10000000)
/* Periodic events come at most every 10 us (1000 ticks): a shorter period would keep a
 * host thread busy with nothing but this timer (down to one callback per 10 ns). The
 * comparator still advances by whole periods, the matches in between merge into one
 * interrupt, as those of a late timer do. */
#define MIN_PERIODIC_TICKS UINT64_C(1000)

typedef struct HpetTimer {
    HpetState *s;     /* wiring */
    unsigned n;       /* wiring */
    uint64_t config;  /* the stored bits of Tn_CONF_CAP (TN_STORED) */
    uint64_t cmp;     /* Tn_COMPARATOR */
    uint64_t period;  /* periodic mode: what the comparator advances by */
    uint64_t fire_at; /* main counter value of the next match, NEVER: none armed */
    VTimer *vt;
} HpetTimer;

struct HpetState {
    Device dev;
    uint32_t intcap;  /* property: Tn_INT_ROUTE_CAP of every timer */
    Vm *vm;
    hwaddr base;      /* wiring */
    IrqLine gsi[HPET_GSI_COUNT];
    uint64_t config;  /* GEN_CONF */
    uint64_t isr;     /* GEN_INT_STS */
    /* The main counter is count + (now - base_ns) / TICK_NS while enabled, count while
     * halted. */
    uint64_t count;
    int64_t base_ns;
    bool in_pit, in_rtc;            /* levels of the PIT's and RTC's outputs */
    bool out_level[HPET_GSI_COUNT]; /* derived: what each line was last driven to */
    HpetTimer t[HPET_NUM_TIMERS];
};

static bool hpet_running(const HpetState *s)
{
    return s->config & CONF_ENABLE;
}

/* Legacy replacement routing applies when both bits are set (§2.3.5, LEG_RT_CNF). */
static bool hpet_legacy(const HpetState *s)
{
    return (s->config & (CONF_ENABLE | CONF_LEGACY)) == (CONF_ENABLE | CONF_LEGACY);
}

static uint64_t hpet_counter(const HpetState *s, int64_t now)
{
    if (!hpet_running(s) || now <= s->base_ns)
        return s->count;
    return s->count + (uint64_t)((now - s->base_ns) / TICK_NS);
}

/* A 32-bit mode timer compares the low half of the counter only (§2.3.9.2.4). */
static uint64_t timer_mask(const HpetTimer *t)
{
    return (t->config & TN_32BIT) ? UINT32_MAX : UINT64_MAX;
}

/* The global system interrupt the timer drives, or -1 (a route outside the capability,
 * only possible before the guest picks one). */
static int timer_gsi(const HpetTimer *t)
{
    const HpetState *s = t->s;
    if (hpet_legacy(s) && t->n < 2)
        return t->n == 0 ? 0 : 8;
    unsigned r = (unsigned)(t->config & TN_ROUTE) >> TN_ROUTE_SHIFT;
    return (s->intcap >> r) & 1 ? (int)r : -1;
}

/* Lines the HPET drives: 0 and 8 always (it stands between them and the PIT and RTC),
 * and every route its timers may take. */
static bool hpet_drives(const HpetState *s, unsigned g)
{
    return g == 0 || g == 8 || ((s->intcap >> g) & 1);
}

/* Recomputes the level of every line: the PIT and RTC pass through unless legacy
 * replacement holds IRQ 0 and 8; a level-triggered timer asserts its line while its
 * status bit is set and its interrupt enabled (§2.3.6). force: drive every line (after a
 * state load). */
static void hpet_update_lines(HpetState *s, bool force)
{
    bool lvl[HPET_GSI_COUNT] = { false };
    if (!hpet_legacy(s)) {
        lvl[0] = s->in_pit;
        lvl[8] = s->in_rtc;
    }
    for (unsigned i = 0; hpet_running(s) && i < HPET_NUM_TIMERS; i++) {
        const HpetTimer *t = &s->t[i];
        int g = timer_gsi(t);
        if (g >= 0 && (t->config & TN_LEVEL) && (t->config & TN_INT_ENB) && (s->isr >> i & 1))
            lvl[g] = true;
    }
    for (unsigned g = 0; g < HPET_GSI_COUNT; g++) {
        if (!hpet_drives(s, g) || (!force && lvl[g] == s->out_level[g]))
            continue;
        s->out_level[g] = lvl[g];
        irq_set(&s->gsi[g], lvl[g]);
    }
}

/* Puts the virtual-clock timer where the counter reaches fire_at. */
static void timer_arm(HpetTimer *t)
{
    HpetState *s = t->s;
    if (t->fire_at == NEVER || !hpet_running(s)) {
        t->fire_at = NEVER;
        vtimer_del(t->vt);
        return;
    }
    uint64_t d = t->fire_at - s->count;
    if (t->fire_at < s->count || d > (uint64_t)(INT64_MAX / 2 / TICK_NS)) {
        vtimer_del(t->vt); /* centuries away */
        return;
    }
    vtimer_mod(t->vt, s->base_ns + (int64_t)d * TICK_NS);
}

/* After the comparator, the configuration or the counter changed: the next match. A
 * timer with neither its interrupt enabled nor level status to keep needs no event.
 * late: a comparator just written a little behind the counter fires now (LATE_TICKS);
 * otherwise a comparator the counter has passed waits for the wrap, as in hardware, so
 * changing the configuration of a timer that fired does not fire it again. */
static void timer_program(HpetTimer *t, uint64_t c, bool late)
{
    if (!hpet_running(t->s) || !(t->config & (TN_INT_ENB | TN_LEVEL))) {
        t->fire_at = NEVER;
        vtimer_del(t->vt);
        return;
    }
    uint64_t m = timer_mask(t);
    uint64_t ahead = (t->cmp - c) & m, behind = (c - t->cmp) & m;
    uint64_t per = t->period & m;
    if (!late && (t->config & TN_PERIODIC) && per && behind && behind < m / 2) {
        /* A periodic comparator keeps adding its period while no event was armed
         * (interrupt disabled, edge mode): where it stands now. */
        t->cmp = (t->cmp + (behind / per + 1) * per) & m;
        ahead = (t->cmp - c) & m;
    }
    t->fire_at = late && behind <= LATE_TICKS ? c : c + ahead;
    timer_arm(t);
}

static void hpet_program_all(HpetState *s, int64_t now)
{
    uint64_t c = hpet_counter(s, now);
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++)
        timer_program(&s->t[i], c, false);
}

/* A comparator match (§2.3.9): level mode sets the status bit, enabled or not; edge mode
 * sends one edge when enabled. */
static void timer_interrupt(HpetTimer *t)
{
    HpetState *s = t->s;
    if (t->config & TN_LEVEL) {
        VLOG(LOG_TIMER, "hpet: timer %u status set", t->n);
        s->isr |= UINT64_C(1) << t->n;
        hpet_update_lines(s, false);
        return;
    }
    int g = timer_gsi(t);
    if (!(t->config & TN_INT_ENB) || g < 0)
        return;
    VLOG(LOG_TIMER, "hpet: timer %u edge on GSI %d", t->n, g);
    irq_set(&s->gsi[g], 1);
    irq_set(&s->gsi[g], s->out_level[g]);
}

/* Runs a match the counter has reached (c) if the timer thread has not yet. */
static void timer_sync(HpetTimer *t, uint64_t c)
{
    if (t->fire_at == NEVER || !hpet_running(t->s) || c < t->fire_at)
        return;
    timer_interrupt(t);
    uint64_t m = timer_mask(t);
    uint64_t per = t->period & m;
    if ((t->config & TN_PERIODIC) && per) {
        /* Periodic mode adds the period to the comparator at each match (§2.3.9.2.2).
         * Matches a late callback missed become this one interrupt, as edges the CPU
         * had not taken yet would merge in the APIC. */
        uint64_t behind = (c - t->cmp) & m;
        t->cmp = (t->cmp + (behind / per + 1) * per) & m;
        uint64_t ahead = (t->cmp - c) & m;
        if (ahead < MIN_PERIODIC_TICKS) {
            t->cmp = (t->cmp + (MIN_PERIODIC_TICKS - ahead + per - 1) / per * per) & m;
            ahead = (t->cmp - c) & m;
        }
        t->fire_at = c + ahead;
    } else if (m == UINT32_MAX) {
        /* One-shot: the low half matches again once the counter has wrapped. */
        uint64_t ahead = (t->cmp - c) & m;
        t->fire_at = c + (ahead ? ahead : UINT64_C(1) << 32);
    } else {
        t->fire_at = NEVER; /* a 64-bit counter does not wrap in practice */
    }
    timer_arm(t);
}

static void timer_cb(void *opaque)
{
    HpetTimer *t = opaque;
    HpetState *s = t->s;
    if (t->fire_at == NEVER || !hpet_running(s))
        return;
    uint64_t c = hpet_counter(s, vm_clock_ns(s->vm));
    if (c < t->fire_at)
        timer_arm(t);
    else
        timer_sync(t, c);
}

/* Before a register that matches change is read or written: the comparators and status
 * bits as the counter has them now, even when the timer thread runs late. */
static void hpet_sync(HpetState *s, int64_t now)
{
    uint64_t c = hpet_counter(s, now);
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++)
        timer_sync(&s->t[i], c);
}

static uint64_t hpet_reg_read(HpetState *s, hwaddr reg)
{
    if (reg == R_ISR || reg >= R_TIMER)
        hpet_sync(s, vm_clock_ns(s->vm));
    switch (reg) {
    case R_CAP:
        return PERIOD_FS << 32 | HPET_BLOCK_ID;
    case R_CONF:
        return s->config;
    case R_ISR:
        return s->isr;
    case R_COUNTER:
        return hpet_counter(s, vm_clock_ns(s->vm));
    }
    if (reg < R_TIMER || reg >= R_TIMER + HPET_NUM_TIMERS * TIMER_STRIDE)
        return 0; /* reserved */
    const HpetTimer *t = &s->t[(reg - R_TIMER) / TIMER_STRIDE];
    switch ((reg - R_TIMER) % TIMER_STRIDE) {
    case T_CONF:
        /* Every timer is periodic capable and 64 bits wide, as QEMU's. */
        return t->config | TN_PER_CAP | TN_SIZE_CAP | (uint64_t)s->intcap << 32;
    case T_CMP:
        return t->cmp;
    default:
        return 0; /* T_FSB: no FSB delivery capability, so reserved */
    }
}

static void timer_write_config(HpetTimer *t, uint64_t v, int64_t now)
{
    HpetState *s = t->s;
    uint64_t nc = v & TN_STORED;
    /* A route the timer cannot take is not stored: it reads back as the old one. */
    unsigned r = (unsigned)(nc & TN_ROUTE) >> TN_ROUTE_SHIFT;
    if (!((s->intcap >> r) & 1))
        nc = (nc & ~(uint64_t)TN_ROUTE) | (t->config & TN_ROUTE);
    t->config = nc;
    if (nc & TN_32BIT) {
        t->cmp &= UINT32_MAX;
        t->period &= UINT32_MAX;
    }
    if (!(nc & TN_LEVEL))
        s->isr &= ~(UINT64_C(1) << t->n); /* edge mode keeps no status */
    timer_program(t, hpet_counter(s, now), false);
    hpet_update_lines(s, false);
}

/* In periodic mode a write sets the period, and also the comparator when VAL_SET was
 * written just before (§2.3.9.2.2); VAL_SET clears itself. */
static void timer_write_cmp(HpetTimer *t, uint64_t val, uint64_t wmask, int64_t now)
{
    uint64_t m = timer_mask(t);
    if (!(t->config & TN_PERIODIC) || (t->config & TN_VAL_SET))
        t->cmp = ((t->cmp & ~wmask) | (val & wmask)) & m;
    t->period = ((t->period & ~wmask) | (val & wmask)) & m;
    t->config &= ~(uint64_t)TN_VAL_SET;
    timer_program(t, hpet_counter(t->s, now), true);
}

/* val holds the written bytes in place; wmask says which. */
static void hpet_reg_write(HpetState *s, hwaddr reg, uint64_t val, uint64_t wmask)
{
    int64_t now = vm_clock_ns(s->vm);
    hpet_sync(s, now);
    switch (reg) {
    case R_CONF: {
        uint64_t c = hpet_counter(s, now);
        bool was = hpet_running(s);
        s->config = ((s->config & ~wmask) | (val & wmask)) & (CONF_ENABLE | CONF_LEGACY);
        if (was != hpet_running(s)) {
            /* The counter starts or halts where it stands (§2.3.5, ENABLE_CNF). */
            s->count = c;
            s->base_ns = now;
            hpet_program_all(s, now);
        }
        VLOG(LOG_TIMER, "hpet: config %" G_GINT64_MODIFIER "x", s->config);
        hpet_update_lines(s, false);
        return;
    }
    case R_ISR:
        s->isr &= ~(val & wmask); /* write 1 to clear (§2.3.6) */
        hpet_update_lines(s, false);
        return;
    case R_COUNTER: {
        uint64_t c = hpet_counter(s, now);
        s->count = (c & ~wmask) | (val & wmask);
        s->base_ns = now;
        hpet_program_all(s, now);
        return;
    }
    }
    if (reg < R_TIMER || reg >= R_TIMER + HPET_NUM_TIMERS * TIMER_STRIDE)
        return;
    HpetTimer *t = &s->t[(reg - R_TIMER) / TIMER_STRIDE];
    switch ((reg - R_TIMER) % TIMER_STRIDE) {
    case T_CONF:
        timer_write_config(t, (t->config & ~wmask) | (val & wmask), now);
        break;
    case T_CMP:
        timer_write_cmp(t, val, wmask, now);
        break;
    default:
        break; /* T_FSB: reserved without FSB delivery */
    }
}

/* 32- and 64-bit accesses (§2.3: software may use either); the memory layer turns
 * narrower ones into read-modify-write of 32 bits. */
static uint64_t hpet_mmio_read(void *opaque, hwaddr off, unsigned size)
{
    uint64_t v = hpet_reg_read(opaque, off & ~(hwaddr)7);
    return size == 8 ? v : (v >> (8 * (off & 4))) & UINT32_MAX;
}

static void hpet_mmio_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
    unsigned shift = 8 * (unsigned)(off & 4);
    uint64_t wmask = size == 8 ? UINT64_MAX : (uint64_t)UINT32_MAX << shift;
    hpet_reg_write(opaque, off & ~(hwaddr)7, size == 8 ? v : (v & UINT32_MAX) << shift, wmask);
}

static const MemOps hpet_mmio_ops = { hpet_mmio_read, hpet_mmio_write, 4, 8 };

static void hpet_input_handler(void *opaque, int n, int level)
{
    HpetState *s = opaque;
    if (n == HPET_IN_PIT)
        s->in_pit = level;
    else
        s->in_rtc = level;
    hpet_update_lines(s, false);
}

IrqLine hpet_input(HpetState *s, HpetInput which)
{
    IrqLine l;
    irq_init(&l, hpet_input_handler, s, which);
    return l;
}

/* Power-on values (§2.3): halted at 0, no legacy routing, comparators all ones. */
static void hpet_reset(Device *dev)
{
    HpetState *s = (HpetState *)dev;
    s->config = 0;
    s->isr = 0;
    s->count = 0;
    s->base_ns = vm_clock_ns(s->vm);
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++) {
        HpetTimer *t = &s->t[i];
        t->config = 0;
        t->cmp = UINT64_MAX;
        t->period = 0;
        t->fire_at = NEVER;
        vtimer_del(t->vt);
    }
    hpet_update_lines(s, false);
}

static bool hpet_realize(Device *dev, GError **err)
{
    HpetState *s = (HpetState *)dev;
    s->vm = dev->vm;
    if (!(s->intcap & 0xffffff)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "hpet-intcap 0x%x names no I/O APIC input 0-23",
                    s->intcap);
        return false;
    }
    s->intcap &= 0xffffff;
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++) {
        s->t[i].s = s;
        s->t[i].n = i;
        s->t[i].vt = vtimer_new(s->vm, timer_cb, &s->t[i]);
    }
    mem_add_mmio(vm_mem(s->vm), "hpet", s->base, HPET_MMIO_SIZE, &hpet_mmio_ops, s, 10);
    return true;
}

static void hpet_unrealize(Device *dev)
{
    HpetState *s = (HpetState *)dev;
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++)
        vtimer_free(s->t[i].vt);
}

static bool hpet_check(const void *state, GError **err)
{
    const HpetState *s = state;
    for (unsigned i = 0; i < HPET_NUM_TIMERS; i++) {
        const HpetTimer *t = &s->t[i];
        unsigned r = (unsigned)(t->config & TN_ROUTE) >> TN_ROUTE_SHIFT;
        uint64_t m = (t->config & TN_32BIT) ? UINT32_MAX : UINT64_MAX;
        if ((t->config & ~(uint64_t)TN_STORED) || (r && !((s->intcap >> r) & 1)) || (t->cmp & ~m) ||
            (t->period & ~m)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "hpet timer %u: configuration 0x%" G_GINT64_MODIFIER "x with comparator 0x%"
                        G_GINT64_MODIFIER "x is not one the guest can set", i, t->config, t->cmp);
            return false;
        }
    }
    return true;
}

static void hpet_post_load(void *state)
{
    hpet_update_lines(state, true);
}

static const VmStateField hpet_timer_fields[] = {
    VMSTATE_U64(HpetTimer, config),
    VMSTATE_U64(HpetTimer, cmp),
    VMSTATE_U64(HpetTimer, period),
    VMSTATE_U64(HpetTimer, fire_at),
    VMSTATE_TIMER(HpetTimer, vt),
    VMSTATE_END,
};

static const VmStateDesc hpet_timer_vmsd = {
    .name = "hpet-timer",
    .version = 1,
    .fields = hpet_timer_fields,
};

/* Virtual times within 2^62 ns (146 years) either side of the clock's start. */
#define HPET_NS_LIMIT (INT64_C(1) << 62)

static const VmStateField hpet_fields[] = {
    VMSTATE_U64(HpetState, config),
    VMSTATE_U64(HpetState, isr),
    VMSTATE_U64(HpetState, count),
    VMSTATE_I64_RANGE(HpetState, base_ns, -HPET_NS_LIMIT, HPET_NS_LIMIT),
    VMSTATE_BOOL(HpetState, in_pit),
    VMSTATE_BOOL(HpetState, in_rtc),
    VMSTATE_STRUCT_ARRAY(HpetState, t, HPET_NUM_TIMERS, HpetTimer, &hpet_timer_vmsd),
    VMSTATE_END,
};

static bool hpet_check_top(const void *state, GError **err)
{
    const HpetState *s = state;
    if ((s->config & ~(uint64_t)(CONF_ENABLE | CONF_LEGACY)) || (s->isr >> HPET_NUM_TIMERS)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "hpet: configuration 0x%" G_GINT64_MODIFIER
                    "x or status 0x%" G_GINT64_MODIFIER "x has bits the device keeps clear", s->config, s->isr);
        return false;
    }
    return hpet_check(state, err);
}

static const VmStateDesc hpet_vmsd = {
    .name = "hpet",
    .version = 1,
    .fields = hpet_fields,
    .check = hpet_check_top,
    .post_load = hpet_post_load,
};

/* QEMU's pc board offers its timers I/O APIC input 2 only (hpet-intcap 0x4); its q35
 * offers 0xff0104 (inputs 2, 8 and 16-23). */
static const DeviceProp hpet_props[] = {
    { "hpet-intcap", DEVICE_PROP_U32, offsetof(HpetState, intcap), "I/O APIC inputs the timers may be routed to (bit n: input n)", "0x4", 0, 0xffffff },
    { NULL },
};

static const DeviceClass hpet_class = {
    .name = "hpet",
    .description = "IA-PC HPET: 100 MHz main counter, three timers, legacy replacement route",
    .instance_size = sizeof(HpetState),
    .props = hpet_props,
    .vmsd = &hpet_vmsd,
    .realize = hpet_realize,
    .reset = hpet_reset,
    .unrealize = hpet_unrealize,
};

__attribute__((constructor)) static void hpet_register(void)
{
    device_class_register(&hpet_class);
}

HpetState *hpet_new(Vm *vm, hwaddr base, const IrqLine gsi[HPET_GSI_COUNT], GError **err)
{
    HpetState *s = (HpetState *)device_new(vm, hpet_class.name, "hpet", err);
    if (!s)
        return NULL;
    s->base = base;
    for (unsigned g = 0; g < HPET_GSI_COUNT; g++)
        s->gsi[g] = gsi[g];
    return device_realize(DEVICE(s), err) ? s : NULL;
}
