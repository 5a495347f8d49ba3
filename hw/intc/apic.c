/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local APIC of a P6-class processor with the xAPIC register layout, as described
 * in the Intel SDM vol. 3 chapter 10 ("Advanced Programmable Interrupt Controller").
 * One per CPU, joined by an APIC bus: IPIs (ICR) and I/O APIC messages reach the APICs
 * whose physical or logical destination matches. Every CPU sees its own APIC at the
 * same address, so one MMIO page answers for the APIC of the calling vCPU thread. */
#include "hw/intc/apic.h"

#include <stdarg.h>
#include <string.h>

/* Register offsets (SDM vol. 3 table 10-1). */
enum {
    REG_ID = 0x020,
    REG_VERSION = 0x030,
    REG_TPR = 0x080,
    REG_APR = 0x090,
    REG_PPR = 0x0a0,
    REG_EOI = 0x0b0,
    REG_LDR = 0x0d0,
    REG_DFR = 0x0e0,
    REG_SVR = 0x0f0,
    REG_ISR = 0x100,
    REG_TMR = 0x180,
    REG_IRR = 0x200,
    REG_ESR = 0x280,
    REG_ICR_LO = 0x300,
    REG_ICR_HI = 0x310,
    REG_LVT_TIMER = 0x320,
    REG_LVT_THERMAL = 0x330,
    REG_LVT_PERF = 0x340,
    REG_LVT_LINT0 = 0x350,
    REG_LVT_LINT1 = 0x360,
    REG_LVT_ERROR = 0x370,
    REG_TIMER_INIT = 0x380,
    REG_TIMER_CUR = 0x390,
    REG_TIMER_DIV = 0x3e0,
};

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_MASKED (1u << 16)
#define LVT_LEVEL (1u << 15)       /* trigger mode (LINT0/1 only) */
#define LVT_REMOTE_IRR (1u << 14)  /* LINT0/1, read only */
#define LVT_PERIODIC (1u << 17)    /* timer only */
#define LVT_MODE(v) (((v) >> 8) & 7)

#define SVR_ENABLE (1u << 8)
#define SVR_FOCUS_OFF (1u << 9)

#define BASE_BSP (1u << 8)
#define BASE_ENABLE (1u << 11)
/* IA32_APIC_BASE on a 36-bit physical address P6: base bits 35:12, enable, BSP. */
#define BASE_VALID (UINT64_C(0xffffff000) | BASE_ENABLE | BASE_BSP)

/* ESR bits (SDM vol. 3 §10.5.3). */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

/* Version register: an integrated APIC (0x1X), six LVT entries (max LVT index 5). */
#define APIC_VERSION (0x14u | ((LVT_COUNT - 1u) << 16))

/* A periodic timer faster than this fires at this rate instead, so that a guest cannot
 * flood the engine's timer thread (the count the guest reads stays exact). */
#define APIC_MIN_PERIOD_NS INT64_C(50000)

/* The APICs of one VM (wiring, not saved): the shared register page, the EOI
 * broadcast the I/O APIC listens to, the round-robin start for lowest priority. */
typedef struct ApicBus {
    ApicState *apic[VM_CPUS_MAX];
    unsigned count;      /* slots in use (by CPU index) */
    unsigned live;       /* APICs realized and not yet unrealized */
    MemRegion *mmio;
    void (*eoi_fn)(void *opaque, uint8_t vector);
    void *eoi_opaque;
    unsigned next_lowest;
} ApicBus;

#define APIC_BUS_NAME "apic-bus"

struct ApicState {
    Device dev;
    Vm *vm;
    ApicBus *bus;
    unsigned cpu_index; /* wiring: which processor this APIC belongs to */
    CpuPins *cpu;       /* and that processor's pins */
    IntrAckFn ext_ack;
    void *ext_opaque;

    uint64_t base;
    uint8_t id, initial_id;
    uint8_t tpr;
    uint32_t ldr, dfr, svr;
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LVT_COUNT];
    bool lint_level[2];
    bool extint_msg;   /* an ExtINT message from the I/O APIC waits for INTA */
    bool intr_out;     /* derived from the above; not saved */
    bool intr_extint;  /* INTR was last raised for the 8259 (ExtINT), not a vector of ours */

    VTimer *timer;
    uint32_t timer_initial;
    uint32_t timer_shift;   /* log2 of the divider */
    int64_t timer_start_ns; /* when the count was (re)loaded */
    bool timer_fired;       /* one-shot: this count has reached zero and interrupted */
};

static void apic_update(ApicState *s);

/* ---- 256-bit registers ---- */

static void bit_set(uint32_t *r, unsigned v) { r[v >> 5] |= 1u << (v & 31); }
static void bit_clear(uint32_t *r, unsigned v) { r[v >> 5] &= ~(1u << (v & 31)); }
static bool bit_test(const uint32_t *r, unsigned v) { return r[v >> 5] & (1u << (v & 31)); }

static int highest_bit(const uint32_t *r)
{
    for (int i = 7; i >= 0; i--)
        if (r[i])
            return i * 32 + 31 - __builtin_clz(r[i]);
    return -1;
}

static bool global_enabled(const ApicState *s)
{
    return s->base & BASE_ENABLE;
}

static bool sw_enabled(const ApicState *s)
{
    return global_enabled(s) && (s->svr & SVR_ENABLE);
}

/* ---- priorities (SDM vol. 3 §10.8.3.1) ---- */

static uint8_t apic_ppr(const ApicState *s)
{
    int isrv = highest_bit(s->isr);
    uint8_t isr_class = isrv < 0 ? 0 : (uint8_t)(isrv & 0xf0);
    return (s->tpr & 0xf0) >= isr_class ? s->tpr : isr_class;
}

/* Arbitration priority (§10.6.2.4), for lowest-priority delivery. */
static uint8_t apic_apr(const ApicState *s)
{
    int isrv = highest_bit(s->isr), irrv = highest_bit(s->irr);
    unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv & 0xf0;
    unsigned irr_class = irrv < 0 ? 0 : (unsigned)irrv & 0xf0;
    unsigned tpr_class = s->tpr & 0xf0;
    if (tpr_class >= irr_class && tpr_class > isr_class)
        return s->tpr;
    unsigned m = MAX(tpr_class, MAX(isr_class, irr_class));
    return (uint8_t)m;
}

/* The IRR vector the APIC would dispatch now, or -1: the highest one whose priority
 * class is above the processor priority class (§10.8.3.1). */
static int apic_deliverable(const ApicState *s)
{
    if (!sw_enabled(s))
        return -1;
    int v = highest_bit(s->irr);
    if (v < 0 || (v & 0xf0) <= (apic_ppr(s) & 0xf0))
        return -1;
    return v;
}

static bool extint_pending(const ApicState *s)
{
    if (!s->lint_level[0])
        return false;
    uint32_t l0 = s->lvt[LVT_LINT0];
    return s->extint_msg || (!(l0 & LVT_MASKED) && LVT_MODE(l0) == APIC_DM_EXTINT);
}

/* Drives the CPU's INTR: with the APIC off (IA32_APIC_BASE) LINT0 is the INTR pin
 * itself, as on a processor without APIC (§10.4.3). */
static void apic_update(ApicState *s)
{
    bool out;
    if (!global_enabled(s))
        out = s->lint_level[0];
    else
        out = apic_deliverable(s) >= 0 || extint_pending(s);
    if (out && !s->intr_out)
        s->intr_extint = global_enabled(s) && apic_deliverable(s) < 0;
    if (out != s->intr_out) {
        s->intr_out = out;
        VLOG(LOG_IRQ, "apic: INTR %d", out);
    }
    vm_set_cpu_intr_n(s->vm, s->cpu_index, out);
}

static void apic_error(ApicState *s, uint32_t bit);

/* Accepts a fixed interrupt into the IRR (§10.8.4); TMR records its trigger mode. */
static bool apic_accept(ApicState *s, uint8_t vector, bool level)
{
    if (!sw_enabled(s)) {
        VLOG(LOG_IRQ, "apic: vector 0x%02x dropped: APIC software-disabled", vector);
        return false;
    }
    if (vector < 16) {
        apic_error(s, ESR_RECV_ILLEGAL_VECTOR);
        return false;
    }
    bit_set(s->irr, vector);
    if (level)
        bit_set(s->tmr, vector);
    else
        bit_clear(s->tmr, vector);
    apic_update(s);
    return true;
}

/* Errors accumulate until the next ESR write and raise the error LVT (§10.5.3). */
static void apic_error(ApicState *s, uint32_t bit)
{
    VLOG(LOG_GUEST, "apic: error 0x%02x", bit);
    s->esr_pending |= bit;
    uint32_t lvt = s->lvt[LVT_ERROR];
    if (!(lvt & LVT_MASKED)) {
        uint8_t v = lvt & 0xff;
        /* An illegal error vector would recurse; it only records its own error. */
        if (v < 16)
            s->esr_pending |= ESR_RECV_ILLEGAL_VECTOR;
        else
            apic_accept(s, v, false);
    }
}

/* A local interrupt source (LVT entry) fires. */
static void lvt_fire(ApicState *s, int lvt)
{
    uint32_t e = s->lvt[lvt];
    if (e & LVT_MASKED)
        return;
    switch (LVT_MODE(e)) {
    case APIC_DM_FIXED: {
        /* Only the LINT pins can be level-triggered (§10.5.1). */
        bool level = (lvt == LVT_LINT0 || lvt == LVT_LINT1) && (e & LVT_LEVEL);
        if (apic_accept(s, e & 0xff, level) && level)
            s->lvt[lvt] |= LVT_REMOTE_IRR;
        break;
    }
    case APIC_DM_NMI:
        vm_cpu_nmi_n(s->vm, s->cpu_index);
        break;
    case APIC_DM_EXTINT:
        apic_update(s);
        break;
    default:
        VLOG(LOG_UNIMP, "apic: LVT %d delivery mode %u not emulated", lvt, LVT_MODE(e));
        break;
    }
}

void apic_set_lint(ApicState *s, int n, int level)
{
    g_return_if_fail(n == 0 || n == 1);
    bool was = s->lint_level[n];
    s->lint_level[n] = level != 0;
    int lvt = n ? LVT_LINT1 : LVT_LINT0;
    uint32_t e = s->lvt[lvt];
    if (!global_enabled(s)) {
        /* No APIC: LINT0 is INTR, LINT1 is NMI. */
        if (n == 1 && level && !was)
            vm_cpu_nmi_n(s->vm, s->cpu_index);
        apic_update(s);
        return;
    }
    switch (LVT_MODE(e)) {
    case APIC_DM_EXTINT:
        apic_update(s);
        break;
    case APIC_DM_FIXED:
        if (e & LVT_LEVEL) {
            if (level && !(e & LVT_REMOTE_IRR))
                lvt_fire(s, lvt);
        } else if (level && !was) {
            lvt_fire(s, lvt);
        }
        break;
    default:
        /* NMI, SMI and INIT are edge-sensitive (§10.5.1). */
        if (level && !was)
            lvt_fire(s, lvt);
        break;
    }
}

/* ---- timer (§10.5.4) ---- */

static int64_t timer_tick_ns(const ApicState *s)
{
    return ticks_to_ns(INT64_C(1) << s->timer_shift, APIC_BUS_HZ);
}

static bool timer_periodic(const ApicState *s)
{
    return s->lvt[LVT_TIMER] & LVT_PERIODIC;
}

static uint32_t timer_current(const ApicState *s)
{
    if (!s->timer_initial)
        return 0;
    int64_t ticks = (vm_clock_ns(s->vm) - s->timer_start_ns) / timer_tick_ns(s);
    if (ticks < 0)
        ticks = 0;
    if (timer_periodic(s))
        return s->timer_initial - (uint32_t)(ticks % s->timer_initial);
    return ticks >= s->timer_initial ? 0 : s->timer_initial - (uint32_t)ticks;
}

/* Arms the virtual timer for the next time the count reaches zero. after_fire: called
 * from the expiry, where a too short period is stretched. */
static void timer_arm_next(ApicState *s, bool after_fire)
{
    if (!s->timer_initial) {
        vtimer_del(s->timer);
        return;
    }
    int64_t now = vm_clock_ns(s->vm);
    int64_t period = timer_tick_ns(s) * (int64_t)s->timer_initial;
    int64_t elapsed = now - s->timer_start_ns;
    int64_t expire;
    if (!timer_periodic(s)) {
        /* A count that reached zero interrupts once. One that ran out before this was
         * armed (the host preempted us after the load) still interrupts, at once:
         * dropping it would leave a tickless guest asleep for good. */
        if (s->timer_fired) {
            vtimer_del(s->timer);
            return;
        }
        expire = s->timer_start_ns + period;
    } else {
        int64_t n = elapsed < 0 ? 1 : elapsed / period + 1;
        expire = s->timer_start_ns + n * period;
        if (after_fire && period < APIC_MIN_PERIOD_NS && expire < now + APIC_MIN_PERIOD_NS)
            expire = now + APIC_MIN_PERIOD_NS;
    }
    vtimer_mod(s->timer, expire);
}

static void timer_arm(ApicState *s)
{
    timer_arm_next(s, false);
}

static void timer_expired(void *opaque)
{
    ApicState *s = opaque;
    VLOG(LOG_TIMER, "apic: timer reached zero");
    lvt_fire(s, LVT_TIMER);
    if (timer_periodic(s))
        timer_arm_next(s, true);
    else
        s->timer_fired = true;
}

/* Divide configuration register bits 3, 1, 0: 000 = 2 ... 110 = 128, 111 = 1. */
static unsigned div_shift(uint32_t v)
{
    unsigned code = (v & 3) | ((v >> 1) & 4);
    return (code + 1) & 7;
}

static void timer_set_divide(ApicState *s, uint32_t v)
{
    uint32_t cur = timer_current(s);
    s->timer_shift = div_shift(v);
    /* The count goes on from where it is, at the new rate. */
    if (s->timer_initial) {
        uint32_t done = cur ? s->timer_initial - cur : s->timer_initial;
        s->timer_start_ns = vm_clock_ns(s->vm) - timer_tick_ns(s) * (int64_t)done;
        timer_arm(s);
    }
}

/* ---- IPIs (§10.6) ---- */

bool apic_match_dest(ApicState *s, bool logical, uint8_t dest)
{
    if (!logical)
        return dest == 0xff || dest == s->id;
    uint8_t ldr = (uint8_t)(s->ldr >> 24);
    if (dest == 0xff)
        return true;
    if ((s->dfr >> 28) == 0xf)
        return (ldr & dest) != 0; /* flat model: a bit per APIC */
    /* Cluster model: cluster number in the high nibble, members in the low one. */
    return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0x0f);
}

static void apic_regs_reset(ApicState *s);

bool apic_deliver(ApicState *s, ApicDeliveryMode mode, uint8_t vector, bool level)
{
    if (!global_enabled(s))
        return false;
    switch (mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        return apic_accept(s, vector, level);
    case APIC_DM_NMI:
        vm_cpu_nmi_n(s->vm, s->cpu_index);
        return true;
    case APIC_DM_EXTINT:
        s->extint_msg = true;
        apic_update(s);
        return true;
    case APIC_DM_INIT:
        /* The APIC returns to its power-up state except its ID (§10.4.7.3); the
         * processor goes to its INIT state (an AP then waits for a STARTUP). */
        VLOG(LOG_IRQ, "apic %u: INIT", s->cpu_index);
        apic_regs_reset(s);
        apic_update(s);
        vm_cpu_init_n(s->vm, s->cpu_index);
        return true;
    case APIC_DM_STARTUP:
        /* Ignored by a processor not in wait-for-SIPI (§8.4.4.1): the CPU decides. */
        VLOG(LOG_IRQ, "apic %u: STARTUP vector 0x%02x", s->cpu_index, vector);
        vm_cpu_sipi_n(s->vm, s->cpu_index, vector);
        return true;
    default:
        VLOG(LOG_UNIMP, "apic: delivery mode %u not emulated", mode);
        return false;
    }
}

/* Lowest priority (§10.6.2.4): the matching APIC with the lowest arbitration priority;
 * among equals the bus takes turns, as focus-less P6 arbitration rotates. */
static ApicState *lowest_of(ApicBus *b, const bool *match)
{
    ApicState *best = NULL;
    unsigned best_apr = 0x100;
    for (unsigned k = 0; k < b->count; k++) {
        unsigned i = (b->next_lowest + k) % b->count;
        ApicState *t = b->apic[i];
        if (!match[i] || !sw_enabled(t))
            continue;
        unsigned apr = apic_apr(t) & 0xf0;
        if (apr < best_apr) {
            best = t;
            best_apr = apr;
        }
    }
    if (best)
        b->next_lowest = (best->cpu_index + 1) % b->count;
    return best;
}

/* A message on the bus from self (NULL: the I/O APIC). shorthand as in ICR bits 19:18.
 * Returns true when some APIC accepted it. */
static bool bus_send(ApicBus *b, ApicState *self, unsigned shorthand, bool logical, uint8_t dest,
                     ApicDeliveryMode mode, uint8_t vector, bool level)
{
    bool match[VM_CPUS_MAX] = { false };
    for (unsigned i = 0; i < b->count; i++) {
        ApicState *t = b->apic[i];
        if (!t)
            continue;
        switch (shorthand) {
        case 1: match[i] = t == self; break;               /* self */
        case 2: match[i] = true; break;                    /* all including self */
        case 3: match[i] = t != self; break;               /* all excluding self */
        default: match[i] = apic_match_dest(t, logical, dest); break;
        }
    }
    if (mode == APIC_DM_LOWEST) {
        ApicState *t = lowest_of(b, match);
        return t && apic_deliver(t, mode, vector, level);
    }
    bool any = false;
    for (unsigned i = 0; i < b->count; i++)
        if (match[i])
            any |= apic_deliver(b->apic[i], mode, vector, level);
    return any;
}

bool apic_bus_deliver(ApicState *any, bool logical, uint8_t dest, ApicDeliveryMode mode, uint8_t vector,
                      bool level)
{
    return bus_send(any->bus, NULL, 0, logical, dest, mode, vector, level);
}

static void icr_send(ApicState *s)
{
    uint32_t lo = s->icr_lo;
    uint8_t vector = lo & 0xff;
    unsigned mode = (lo >> 8) & 7;
    bool logical = lo & (1u << 11);
    bool level_trig = lo & (1u << 15);
    unsigned shorthand = (lo >> 18) & 3;
    uint8_t dest = (uint8_t)(s->icr_hi >> 24);
    VLOG(LOG_IRQ, "apic %u: ICR 0x%08x dest 0x%02x", s->cpu_index, lo, dest);
    if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16) {
        apic_error(s, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    /* INIT level de-assert only resynchronizes arbitration IDs (§10.6.1). */
    if (mode == APIC_DM_INIT && !(lo & (1u << 14)) && level_trig)
        return;
    if (mode == APIC_DM_SMI || mode == 3 || mode == APIC_DM_EXTINT) {
        VLOG(LOG_UNIMP, "apic: IPI delivery mode %u not emulated", mode);
        return;
    }
    bus_send(s->bus, s, shorthand, logical, dest, (ApicDeliveryMode)mode, vector, false);
}

/* ---- EOI and acknowledge ---- */

static void apic_eoi(ApicState *s)
{
    int v = highest_bit(s->isr);
    if (v < 0)
        return;
    bit_clear(s->isr, (unsigned)v);
    if (bit_test(s->tmr, (unsigned)v)) {
        ApicBus *b = s->bus;
        bit_clear(s->tmr, (unsigned)v);
        /* A level-triggered LINT source may interrupt again once EOIed. */
        for (int n = 0; n < 2; n++) {
            int lvt = n ? LVT_LINT1 : LVT_LINT0;
            if ((s->lvt[lvt] & LVT_REMOTE_IRR) && (s->lvt[lvt] & 0xff) == (uint32_t)v) {
                s->lvt[lvt] &= ~LVT_REMOTE_IRR;
                if (s->lint_level[n] && LVT_MODE(s->lvt[lvt]) == APIC_DM_FIXED)
                    lvt_fire(s, lvt);
            }
        }
        if (b->eoi_fn)
            b->eoi_fn(b->eoi_opaque, (uint8_t)v);
    }
    apic_update(s);
}

int apic_intr_ack(ApicState *s)
{
    if (!global_enabled(s))
        return s->ext_ack(s->ext_opaque);
    int v = apic_deliverable(s);
    if (v >= 0) {
        bit_clear(s->irr, (unsigned)v);
        bit_set(s->isr, (unsigned)v);
        apic_update(s);
        VLOG(LOG_IRQ, "apic: ack vector 0x%02x", v);
        return v;
    }
    if (extint_pending(s)) {
        s->extint_msg = false;
        int vec = s->ext_ack(s->ext_opaque);
        apic_update(s);
        return vec;
    }
    /* INTR was raised for the 8259 (virtual wire): the INTA cycle goes to it even when
     * its INTR fell meanwhile (an edge input must stay high until the first INTA, 8259A
     * datasheet), and it answers with its spurious IRQ 7, not the APIC's vector. */
    if (s->intr_extint) {
        s->intr_extint = false;
        int vec = s->ext_ack(s->ext_opaque);
        apic_update(s);
        return vec;
    }
    /* The request went away between INTR and INTA (a TPR raise, a mask): the spurious
     * vector, with no ISR bit to EOI (§10.9). */
    apic_update(s);
    VLOG(LOG_IRQ, "apic: spurious vector 0x%02x", s->svr & 0xff);
    return s->svr & 0xff;
}

static int ack_trampoline(void *opaque)
{
    return apic_intr_ack(opaque);
}

/* ---- registers ---- */

static void apic_regs_reset(ApicState *s)
{
    s->id = s->initial_id;
    s->tpr = 0;
    s->ldr = 0;
    s->dfr = 0xffffffffu;
    s->svr = 0xff;
    memset(s->isr, 0, sizeof(s->isr));
    memset(s->tmr, 0, sizeof(s->tmr));
    memset(s->irr, 0, sizeof(s->irr));
    s->esr = s->esr_pending = 0;
    s->icr_lo = s->icr_hi = 0;
    for (int i = 0; i < LVT_COUNT; i++)
        s->lvt[i] = LVT_MASKED;
    /* Virtual wire mode as a PC BIOS leaves it (QEMU does the same at reset): LINT0
     * passes the 8259's INTR through and LINT1 is the NMI input, so software written
     * for the 8259 alone (DOS, our -bios test guests) keeps its interrupts. */
    s->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
    s->lvt[LVT_LINT1] = APIC_DM_NMI << 8;
    s->extint_msg = false;
    s->timer_initial = 0;
    s->timer_shift = div_shift(0);
    s->timer_start_ns = 0;
    s->timer_fired = false;
    vtimer_del(s->timer);
}

static uint32_t lvt_writable(int lvt)
{
    switch (lvt) {
    case LVT_TIMER:
        return 0xff | (1u << 16) | LVT_PERIODIC;
    case LVT_LINT0:
    case LVT_LINT1:
        return 0xff | (7u << 8) | (1u << 13) | LVT_LEVEL | LVT_MASKED;
    case LVT_ERROR:
        return 0xff | LVT_MASKED;
    default: /* thermal, performance counters: vector, delivery mode, mask */
        return 0xff | (7u << 8) | LVT_MASKED;
    }
}

static void lvt_write(ApicState *s, int lvt, uint32_t v)
{
    uint32_t keep = s->lvt[lvt] & LVT_REMOTE_IRR;
    v &= lvt_writable(lvt);
    /* A software-disabled APIC keeps every LVT masked (§10.4.7.2). */
    if (!(s->svr & SVR_ENABLE))
        v |= LVT_MASKED;
    /* Edge-triggered LINT entries have no remote IRR. */
    if (!(v & LVT_LEVEL))
        keep = 0;
    bool was_periodic = timer_periodic(s);
    if (lvt == LVT_TIMER && was_periodic && !(v & LVT_PERIODIC) && s->timer_initial) {
        /* Periodic to one-shot: the count in progress is the one that ends. */
        int64_t period = timer_tick_ns(s) * (int64_t)s->timer_initial;
        int64_t elapsed = vm_clock_ns(s->vm) - s->timer_start_ns;
        if (elapsed > 0)
            s->timer_start_ns += elapsed / period * period;
        s->timer_fired = false;
    }
    s->lvt[lvt] = v | keep;
    if (lvt == LVT_TIMER && was_periodic != timer_periodic(s))
        timer_arm(s);
    if ((lvt == LVT_LINT0 || lvt == LVT_LINT1) && LVT_MODE(v) == APIC_DM_FIXED && (v & LVT_LEVEL) &&
        s->lint_level[lvt == LVT_LINT1] && !keep)
        lvt_fire(s, lvt);
    apic_update(s);
}

static uint32_t apic_reg_read(ApicState *s, unsigned reg)
{
    switch (reg) {
    case REG_ID: return (uint32_t)s->id << 24;
    case REG_VERSION: return APIC_VERSION;
    case REG_TPR: return s->tpr;
    case REG_APR: return apic_apr(s);
    case REG_PPR: return apic_ppr(s);
    case REG_EOI: return 0;
    case REG_LDR: return s->ldr;
    case REG_DFR: return s->dfr;
    case REG_SVR: return s->svr;
    case REG_ISR ... REG_ISR + 0x70: return s->isr[(reg - REG_ISR) >> 4];
    case REG_TMR ... REG_TMR + 0x70: return s->tmr[(reg - REG_TMR) >> 4];
    case REG_IRR ... REG_IRR + 0x70: return s->irr[(reg - REG_IRR) >> 4];
    case REG_ESR: return s->esr;
    case REG_ICR_LO: return s->icr_lo; /* delivery status 0: sent at once */
    case REG_ICR_HI: return s->icr_hi;
    case REG_LVT_TIMER ... REG_LVT_ERROR: return s->lvt[(reg - REG_LVT_TIMER) >> 4];
    case REG_TIMER_INIT: return s->timer_initial;
    case REG_TIMER_CUR: return timer_current(s);
    case REG_TIMER_DIV: {
        unsigned code = (s->timer_shift + 7) & 7;
        return (code & 3) | ((code & 4) << 1);
    }
    default:
        apic_error(s, ESR_ILLEGAL_REGISTER);
        return 0;
    }
}

static void apic_reg_write(ApicState *s, unsigned reg, uint32_t v)
{
    switch (reg) {
    case REG_ID:
        s->id = (uint8_t)(v >> 24);
        break;
    case REG_TPR:
        s->tpr = (uint8_t)v;
        apic_update(s);
        break;
    case REG_EOI:
        apic_eoi(s);
        break;
    case REG_LDR:
        s->ldr = v & 0xff000000u;
        break;
    case REG_DFR:
        s->dfr = v | 0x0fffffffu;
        break;
    case REG_SVR:
        /* P6: bits 3:0 of the spurious vector are hardwired to 1 (§10.9). */
        s->svr = (v & (0xf0 | SVR_ENABLE | SVR_FOCUS_OFF)) | 0x0f;
        if (!(s->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                s->lvt[i] |= LVT_MASKED;
        apic_update(s);
        break;
    case REG_ESR:
        /* Write-before-read: a write latches the errors seen since the last one. */
        s->esr = s->esr_pending;
        s->esr_pending = 0;
        break;
    case REG_ICR_LO:
        s->icr_lo = v & 0x000ccfffu;
        icr_send(s);
        break;
    case REG_ICR_HI:
        s->icr_hi = v & 0xff000000u;
        break;
    case REG_LVT_TIMER ... REG_LVT_ERROR:
        lvt_write(s, (int)((reg - REG_LVT_TIMER) >> 4), v);
        break;
    case REG_TIMER_INIT:
        /* Loading the initial count restarts the count from it (§10.5.4). */
        s->timer_initial = v;
        s->timer_start_ns = vm_clock_ns(s->vm);
        s->timer_fired = false;
        timer_arm(s);
        break;
    case REG_TIMER_DIV:
        timer_set_divide(s, v & 0xb);
        break;
    case REG_VERSION: case REG_APR: case REG_PPR:
    case REG_ISR ... REG_ISR + 0x70: case REG_TMR ... REG_TMR + 0x70:
    case REG_IRR ... REG_IRR + 0x70: case REG_TIMER_CUR:
        VLOG(LOG_GUEST, "apic: write 0x%08x to read-only register 0x%03x ignored", v, reg);
        break;
    default:
        apic_error(s, ESR_ILLEGAL_REGISTER);
        break;
    }
}

/* Registers are 32 bits wide on 16-byte boundaries; narrower reads pick bytes out of
 * them, and the other 12 bytes of each slot read as zero. The SDM leaves other writes
 * undefined; they are dropped. */
/* The APIC of the processor making the access; the BSP's for any other thread (the
 * debugger reading guest memory). */
static ApicState *bus_current(ApicBus *b)
{
    int i = vm_current_cpu();
    return b->apic[i >= 0 && (unsigned)i < b->count && b->apic[i] ? (unsigned)i : 0];
}

static uint64_t apic_mmio_read(void *opaque, hwaddr offset, unsigned size)
{
    ApicState *s = bus_current(opaque);
    unsigned within = offset & 0xf;
    if (within >= 4)
        return 0;
    uint32_t v = apic_reg_read(s, (unsigned)(offset & 0xff0));
    return (v >> (8 * within)) & (size >= 4 ? 0xffffffffu : ((1u << (8 * size)) - 1));
}

static void apic_mmio_write(void *opaque, hwaddr offset, uint64_t value, unsigned size)
{
    ApicState *s = bus_current(opaque);
    if (size != 4 || (offset & 0xf)) {
        VLOG(LOG_GUEST, "apic: %u-byte write at 0x%03x ignored", size, (unsigned)offset);
        return;
    }
    apic_reg_write(s, (unsigned)offset, (uint32_t)value);
}

static const MemOps apic_mmio_ops = {
    .read = apic_mmio_read,
    .write = apic_mmio_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- IA32_APIC_BASE ---- */

/* The shared page sits where the last IA32_APIC_BASE write put it (operating systems
 * move every APIC alike) and answers while any APIC is enabled. */
static void bus_place_mmio(ApicBus *b, uint64_t base)
{
    bool on = false;
    for (unsigned i = 0; i < b->count; i++)
        if (b->apic[i])
            on |= global_enabled(b->apic[i]);
    mem_region_set_base(b->mmio, base & UINT64_C(0xffffff000));
    mem_region_set_enabled(b->mmio, on);
}

uint64_t apic_get_base(ApicState *s)
{
    return s->base;
}

bool apic_set_base(ApicState *s, uint64_t value)
{
    if (value & ~BASE_VALID)
        return false;
    /* The BSP flag is read-only. */
    value = (value & ~(uint64_t)BASE_BSP) | (s->base & BASE_BSP);
    bool was = global_enabled(s);
    s->base = value;
    bus_place_mmio(s->bus, value);
    /* Switched off, the APIC forgets its state and LINT0/LINT1 become the CPU's INTR
     * and NMI pins; switched on again it starts from its power-up state (§10.4.3). */
    if (was != global_enabled(s)) {
        VLOG(LOG_IRQ, "apic: %s through IA32_APIC_BASE", global_enabled(s) ? "enabled" : "disabled");
        apic_regs_reset(s);
    }
    apic_update(s);
    return true;
}

static uint64_t base_get_trampoline(void *opaque)
{
    return apic_get_base(opaque);
}

static bool base_set_trampoline(void *opaque, uint64_t value)
{
    return apic_set_base(opaque, value);
}

static uint8_t tpr_get_trampoline(void *opaque)
{
    return ((ApicState *)opaque)->tpr;
}

/* As a write of the TPR register (its interrupt decision with it). */
static void tpr_set_trampoline(void *opaque, uint8_t value)
{
    apic_reg_write(opaque, REG_TPR, value);
}

static const CpuApicOps apic_cpu_ops = {
    .get_base = base_get_trampoline,
    .set_base = base_set_trampoline,
    .get_tpr = tpr_get_trampoline,
    .set_tpr = tpr_set_trampoline,
};

static void apic_reset(Device *dev)
{
    ApicState *s = (ApicState *)dev;
    s->base = APIC_DEFAULT_BASE | BASE_ENABLE | (s->cpu_index == 0 ? BASE_BSP : 0);
    bus_place_mmio(s->bus, APIC_DEFAULT_BASE);
    apic_regs_reset(s);
    apic_update(s);
}

void apic_set_eoi_listener(ApicState *s, void (*fn)(void *opaque, uint8_t vector), void *opaque)
{
    s->bus->eoi_fn = fn;
    s->bus->eoi_opaque = opaque;
}

static bool apic_realize(Device *dev, GError **err)
{
    ApicState *s = (ApicState *)dev;
    Vm *vm = dev->vm;
    g_assert(s->ext_ack && s->cpu);
    s->vm = vm;
    ApicBus *b = vm_find_bus(vm, APIC_BUS_NAME);
    if (!b) {
        /* The first APIC brings the bus; the last one to go frees it. */
        b = g_new0(ApicBus, 1);
        vm_add_bus(vm, APIC_BUS_NAME, b);
        /* Above RAM and the PCI window: the APIC page answers wherever it is moved. */
        b->mmio = mem_add_mmio(vm_mem(vm), "lapic", APIC_DEFAULT_BASE, MEM_PAGE_SIZE, &apic_mmio_ops, b, 10);
    }
    if (s->cpu_index >= VM_CPUS_MAX || b->apic[s->cpu_index]) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "processor %u already has a local APIC",
                    s->cpu_index);
        return false;
    }
    b->apic[s->cpu_index] = s;
    if (b->count <= s->cpu_index)
        b->count = s->cpu_index + 1;
    b->live++;
    s->bus = b;
    s->timer = vtimer_new(vm, timer_expired, s);
    /* The APIC answers the CPU's acknowledge first and asks the 8259 for ExtINT. */
    s->cpu->intr_ack = ack_trampoline;
    s->cpu->intr_ack_opaque = s;
    s->cpu->apic = &apic_cpu_ops;
    s->cpu->apic_opaque = s;
    return true;
}

static void apic_unrealize(Device *dev)
{
    ApicState *s = (ApicState *)dev;
    if (s->cpu->intr_ack_opaque == s) {
        s->cpu->intr_ack = NULL;
        s->cpu->intr_ack_opaque = NULL;
    }
    if (s->cpu->apic_opaque == s) {
        s->cpu->apic = NULL;
        s->cpu->apic_opaque = NULL;
    }
    vtimer_free(s->timer);
    ApicBus *b = s->bus;
    b->apic[s->cpu_index] = NULL;
    /* The last APIC takes the bus with it; its page stops answering. */
    if (--b->live == 0) {
        mem_region_remove(b->mmio);
        vm_remove_bus(s->vm, APIC_BUS_NAME);
        g_free(b);
    }
    s->bus = NULL;
}

static bool apic_bad(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool apic_bad(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, VIREO_ERROR, VIREO_ERROR_INVALID, msg);
    return false;
}

/* Every register holds only what a guest write or an accepted interrupt can leave in
 * it (the masks of apic_reg_write and lvt_writable), so a loaded APIC behaves like one
 * the guest programmed. */
static bool apic_check(const void *state, GError **err)
{
    const ApicState *s = state;
    if (s->base & ~BASE_VALID)
        return apic_bad(err, "IA32_APIC_BASE 0x%" G_GINT64_MODIFIER "x sets reserved bits", s->base);
    if ((s->svr & ~(0xffu | SVR_ENABLE | SVR_FOCUS_OFF)) || (s->svr & 0x0f) != 0x0f)
        return apic_bad(err, "SVR 0x%08x: bits 3-0 are hardwired to 1, bits 31-10 to 0", s->svr);
    if ((s->dfr & 0x0fffffffu) != 0x0fffffffu)
        return apic_bad(err, "DFR 0x%08x: bits 27-0 read as 1", s->dfr);
    if (s->ldr & 0x00ffffffu)
        return apic_bad(err, "LDR 0x%08x sets reserved bits", s->ldr);
    if ((s->icr_lo & ~0x000ccfffu) || (s->icr_hi & 0x00ffffffu))
        return apic_bad(err, "ICR 0x%08x%08x sets reserved bits", s->icr_hi, s->icr_lo);
    if ((s->esr | s->esr_pending) & ~0xffu)
        return apic_bad(err, "ESR 0x%08x/0x%08x sets reserved bits", s->esr, s->esr_pending);
    /* Vectors 0-15 are refused on receipt (§10.5.3), so they are never requested. */
    if ((s->irr[0] | s->isr[0] | s->tmr[0]) & 0xffffu)
        return apic_bad(err, "IRR/ISR/TMR hold a vector below 16");
    for (int i = 0; i < LVT_COUNT; i++) {
        uint32_t e = s->lvt[i];
        bool lint = i == LVT_LINT0 || i == LVT_LINT1;
        if ((e & ~lvt_writable(i) & ~(lint ? LVT_REMOTE_IRR : 0)) ||
            ((e & LVT_REMOTE_IRR) && !(e & LVT_LEVEL)))
            return apic_bad(err, "LVT entry %d is 0x%08x", i, e);
    }
    /* The count is (now - start) / tick: keep it far from overflowing. */
    int64_t now = vm_clock_ns(s->dev.vm);
    if (s->timer_start_ns > now || s->timer_start_ns < now - (INT64_C(1) << 61))
        return apic_bad(err, "timer loaded at %" G_GINT64_FORMAT " ns, the clock is at %" G_GINT64_FORMAT,
                        s->timer_start_ns, now);
    return true;
}

/* The MMIO page follows the loaded IA32_APIC_BASE; INTR is recomputed and driven. */
static void apic_post_load(void *state)
{
    ApicState *s = state;
    bus_place_mmio(s->bus, s->base);
    apic_update(s);
}

static const VmStateField apic_fields[] = {
    VMSTATE_U64(ApicState, base),
    VMSTATE_U8(ApicState, id),
    VMSTATE_U8(ApicState, tpr),
    VMSTATE_U32(ApicState, ldr),
    VMSTATE_U32(ApicState, dfr),
    VMSTATE_U32(ApicState, svr),
    VMSTATE_U32_ARRAY(ApicState, isr, 8),
    VMSTATE_U32_ARRAY(ApicState, tmr, 8),
    VMSTATE_U32_ARRAY(ApicState, irr, 8),
    VMSTATE_U32(ApicState, esr),
    VMSTATE_U32(ApicState, esr_pending),
    VMSTATE_U32(ApicState, icr_lo),
    VMSTATE_U32(ApicState, icr_hi),
    VMSTATE_U32_ARRAY(ApicState, lvt, LVT_COUNT),
    { .name = "lint_level", .type = VMS_BOOL, .offset = VMS_AOFF_(ApicState, lint_level, bool), .count = 2 },
    VMSTATE_BOOL(ApicState, extint_msg),
    VMSTATE_TIMER(ApicState, timer),
    VMSTATE_U32(ApicState, timer_initial),
    VMSTATE_U32_RANGE(ApicState, timer_shift, 0, 7),
    VMSTATE_I64(ApicState, timer_start_ns),
    VMSTATE_BOOL(ApicState, timer_fired),
    VMSTATE_END,
};

static const VmStateDesc apic_vmsd = {
    .name = "apic",
    .version = 1,
    .fields = apic_fields,
    .check = apic_check,
    .post_load = apic_post_load,
};

static const DeviceClass apic_class = {
    .name = "apic",
    .description = "local APIC of the CPU (P6-class xAPIC)",
    .instance_size = sizeof(ApicState),
    .vmsd = &apic_vmsd,
    .realize = apic_realize,
    .reset = apic_reset,
    .unrealize = apic_unrealize,
};

__attribute__((constructor)) static void apic_register(void)
{
    device_class_register(&apic_class);
}

ApicState *apic_new(Vm *vm, uint8_t id, CpuPins *cpu, IntrAckFn ext_ack, void *ext_opaque)
{
    return apic_new_for_cpu(vm, 0, id, cpu, ext_ack, ext_opaque);
}

ApicState *apic_new_for_cpu(Vm *vm, unsigned cpu_index, uint8_t id, CpuPins *cpu, IntrAckFn ext_ack,
                            void *ext_opaque)
{
    g_autofree char *name = cpu_index ? g_strdup_printf("apic%u", cpu_index) : g_strdup("apic");
    ApicState *s = (ApicState *)device_new(vm, apic_class.name, name, NULL);
    g_assert(s);
    s->cpu_index = cpu_index;
    s->initial_id = id;
    s->cpu = cpu;
    s->ext_ack = ext_ack;
    s->ext_opaque = ext_opaque;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
