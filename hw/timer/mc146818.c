/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The MC146818A real-time clock with its CMOS RAM, after the Motorola datasheet, with
 * the century byte at 0x32 as PC BIOSes keep it. The clock is kept as binary fields and
 * shown in the format register B selects; it advances once per second at the divider's
 * update instants, computed from virtual time. */
#include "hw/timer/mc146818.h"

#include <time.h>

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define A_UIP 0x80
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM 0x04  /* binary */
#define B_24H 0x02
#define B_DSE 0x01
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10

/* UIP rises 244 us (8 cycles of 32.768 kHz) before each update and stays up through
 * the update cycle, 1984 us (MC146818A data sheet, "Update cycle"). The registers here
 * change at once at the second boundary; UIP still covers the whole cycle, so a guest
 * polling register A sees it for 2.2 ms rather than only the 244 us before. */
#define UIP_NS INT64_C(244141)
#define UPDATE_NS INT64_C(1984000)
/* Days to process one second at a time when catching up; beyond, jump. */
#define CATCHUP_LIMIT_S (86400 + 1)

typedef struct RtcTime {
    int sec, min, hour; /* hour 0-23 */
    int wday;           /* 1-7, Sunday = 1 */
    int mday, mon;      /* 1-31, 1-12 */
    int year;           /* full year */
} RtcTime;

struct RtcState {
    Device dev;
    uint32_t iobase;  /* property */
    bool utc;         /* property: the clock starts at UTC, not local time */
    Vm *vm;
    IrqLine irq;      /* wired by the board */
    VTimer *timer;
    uint8_t cmos[128];
    uint8_t index;
    bool nmi_disabled;
    RtcTime tm;
    /* The divider: update instants are phase_ns + k seconds. tm is the time from
     * tm_ns (an update instant) until the next one. */
    int64_t phase_ns;
    int64_t tm_ns;
    int64_t pf_checked_ns; /* periodic ticks up to here are in PF */
    bool dst_fall_done;    /* DSE: the October hour was already repeated */
    bool irq_level;
};

/* ---- calendar arithmetic (proleptic Gregorian) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *year, int *mon, int *mday)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*mon <= 2));
}

/* mon as the guest left it: a month outside 1-12 (the daylight saving check runs before
 * the fields are brought into range) counts as the nearest real one. */
static int days_in_month(int year, int mon)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    mon = CLAMP(mon, 1, 12);
    if (mon == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return dim[mon - 1];
}

/* Adds whole seconds. Fields the guest set out of range are brought into range first
 * (the chip's behaviour with bad values is undefined). */
static void rtc_time_add(RtcTime *t, int64_t secs)
{
    t->sec = CLAMP(t->sec, 0, 59);
    t->min = CLAMP(t->min, 0, 59);
    t->hour = CLAMP(t->hour, 0, 23);
    t->mon = CLAMP(t->mon, 1, 12);
    t->mday = CLAMP(t->mday, 1, days_in_month(t->year, t->mon));
    t->wday = CLAMP(t->wday, 1, 7);
    int64_t s = t->sec + t->min * 60 + t->hour * 3600 + secs;
    int64_t days = s / 86400;
    s %= 86400;
    t->hour = (int)(s / 3600);
    t->min = (int)(s / 60 % 60);
    t->sec = (int)(s % 60);
    if (days) {
        int64_t d = days_from_civil(t->year, t->mon, t->mday) + days;
        civil_from_days(d, &t->year, &t->mon, &t->mday);
        t->wday = (int)((t->wday - 1 + days % 7) % 7) + 1;
    }
}

/* ---- register formats ---- */

static uint8_t to_bcd(int v)
{
    v = CLAMP(v, 0, 99);
    return (uint8_t)((v / 10) << 4 | (v % 10));
}

static int from_bcd(uint8_t v)
{
    return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode(const RtcState *s, int v)
{
    return (s->cmos[REG_B] & B_DM) ? (uint8_t)CLAMP(v, 0, 255) : to_bcd(v);
}

static int rtc_decode(const RtcState *s, uint8_t v)
{
    return (s->cmos[REG_B] & B_DM) ? v : from_bcd(v);
}

static uint8_t rtc_encode_hour(const RtcState *s, int hour)
{
    if (s->cmos[REG_B] & B_24H)
        return rtc_encode(s, hour);
    int h12 = hour % 12 ? hour % 12 : 12;
    return (uint8_t)(rtc_encode(s, h12) | (hour >= 12 ? 0x80 : 0));
}

static int rtc_decode_hour(const RtcState *s, uint8_t v)
{
    if (s->cmos[REG_B] & B_24H)
        return rtc_decode(s, v);
    int h = rtc_decode(s, v & 0x7f) % 12;
    return h + ((v & 0x80) ? 12 : 0);
}

/* ---- divider and update cycle ---- */

static bool rtc_divider_running(const RtcState *s)
{
    return (s->cmos[REG_A] & 0x60) != 0x60; /* DV2-DV1 = 11: divider held in reset */
}

static bool rtc_updating(const RtcState *s)
{
    return rtc_divider_running(s) && !(s->cmos[REG_B] & B_SET);
}

/* Register A rate select: RS 1-2 are the 256 and 128 Hz rates of RS 8-9 on a 32.768 kHz
 * time base; RS n gives 2^(n-1) cycles of 32.768 kHz. 0 means no periodic interrupt. */
static int64_t rtc_period_cycles(const RtcState *s)
{
    int rs = s->cmos[REG_A] & 0x0f;
    if (rs == 0)
        return 0;
    if (rs <= 2)
        rs += 7;
    return INT64_C(1) << (rs - 1);
}

/* Periodic ticks of the divider in (phase, t]. */
static int64_t rtc_periodic_count(const RtcState *s, int64_t t)
{
    int64_t per = rtc_period_cycles(s);
    if (!per || t <= s->phase_ns)
        return 0;
    return ns_to_ticks(t - s->phase_ns, 32768) / per;
}

static bool rtc_alarm_match(const RtcState *s)
{
    const uint8_t *c = s->cmos;
    /* Alarm bytes 0xC0-0xFF match any value ("don't care"). */
    if (c[REG_SEC_ALARM] < 0xc0 && c[REG_SEC_ALARM] != rtc_encode(s, s->tm.sec))
        return false;
    if (c[REG_MIN_ALARM] < 0xc0 && c[REG_MIN_ALARM] != rtc_encode(s, s->tm.min))
        return false;
    if (c[REG_HOUR_ALARM] < 0xc0 && c[REG_HOUR_ALARM] != rtc_encode_hour(s, s->tm.hour))
        return false;
    return true;
}

/* One update cycle: the clock advances a second, with the MC146818A daylight saving
 * rule when DSE is set (last Sunday in April 1:59:59 -> 3:00:00; last Sunday in October
 * the first 1:59:59 -> 1:00:00). */
static void rtc_tick(RtcState *s)
{
    RtcTime *t = &s->tm;
    bool last_sunday = t->wday == 1 && t->mday + 7 > days_in_month(t->year, t->mon);
    bool at_0159 = t->hour == 1 && t->min == 59 && t->sec == 59;
    if ((s->cmos[REG_B] & B_DSE) && last_sunday && at_0159 && t->mon == 4) {
        rtc_time_add(t, 3601);
    } else if ((s->cmos[REG_B] & B_DSE) && last_sunday && at_0159 && t->mon == 10 &&
               !s->dst_fall_done) {
        s->dst_fall_done = true;
        rtc_time_add(t, 1 - 3600);
    } else {
        rtc_time_add(t, 1);
        if (t->hour == 0 && t->min == 0 && t->sec == 0)
            s->dst_fall_done = false;
    }
    s->cmos[REG_C] |= C_UF;
    if (rtc_alarm_match(s))
        s->cmos[REG_C] |= C_AF;
}

/* Brings the clock and the flags of register C up to virtual time now. */
static void rtc_sync(RtcState *s, int64_t now)
{
    if (rtc_updating(s) && now >= s->tm_ns + NS_PER_SEC) {
        int64_t k = (now - s->tm_ns) / NS_PER_SEC;
        if (k > CATCHUP_LIMIT_S) {
            /* Far behind (nobody looked for a day): flags only need the last day. */
            rtc_time_add(&s->tm, k - CATCHUP_LIMIT_S);
            s->tm_ns += (k - CATCHUP_LIMIT_S) * NS_PER_SEC;
            k = CATCHUP_LIMIT_S;
        }
        for (int64_t i = 0; i < k; i++)
            rtc_tick(s);
        s->tm_ns += k * NS_PER_SEC;
    }
    if (rtc_divider_running(s) && now > s->pf_checked_ns) {
        if (rtc_periodic_count(s, now) != rtc_periodic_count(s, s->pf_checked_ns))
            s->cmos[REG_C] |= C_PF;
    }
    s->pf_checked_ns = now;
}

/* IRQF = PF.PIE + AF.AIE + UF.UIE; the IRQ pin follows IRQF until register C is read. */
static void rtc_update_irq(RtcState *s)
{
    uint8_t b = s->cmos[REG_B], c = s->cmos[REG_C];
    bool irqf = ((b & B_PIE) && (c & C_PF)) || ((b & B_AIE) && (c & C_AF)) ||
                ((b & B_UIE) && (c & C_UF));
    if (irqf)
        s->cmos[REG_C] |= C_IRQF;
    else
        s->cmos[REG_C] &= ~C_IRQF;
    if (irqf != s->irq_level) {
        s->irq_level = irqf;
        VLOG(LOG_TIMER, "rtc: IRQ %d (C=0x%02x)", irqf, s->cmos[REG_C]);
        irq_set(&s->irq, irqf);
    }
}

/* Arms the timer for the next event an enabled interrupt (or DSE) needs. */
static void rtc_arm(RtcState *s, int64_t now)
{
    int64_t next = -1;
    uint8_t b = s->cmos[REG_B];
    if (rtc_updating(s) && (b & (B_AIE | B_UIE | B_DSE)))
        next = s->tm_ns + NS_PER_SEC;
    int64_t per = rtc_period_cycles(s);
    if (per && (b & B_PIE) && rtc_divider_running(s)) {
        int64_t k = rtc_periodic_count(s, now) + 1;
        int64_t p = s->phase_ns + ticks_to_ns(k * per, 32768);
        while (p <= now || rtc_periodic_count(s, p) < k)
            p++;
        if (next < 0 || p < next)
            next = p;
    }
    if (next >= 0)
        vtimer_mod(s->timer, next);
    else
        vtimer_del(s->timer);
}

static void rtc_refresh(RtcState *s)
{
    int64_t now = vm_clock_ns(s->vm);
    rtc_sync(s, now);
    rtc_update_irq(s);
    rtc_arm(s, now);
}

static void rtc_timer_cb(void *opaque)
{
    rtc_refresh(opaque);
}

static bool rtc_uip(const RtcState *s, int64_t now)
{
    if (!rtc_updating(s))
        return false;
    int64_t into = (now - s->tm_ns) % NS_PER_SEC;
    return into >= NS_PER_SEC - UIP_NS || into < UPDATE_NS;
}

static uint8_t rtc_read_reg(RtcState *s, unsigned addr, bool side_effects)
{
    int64_t now = vm_clock_ns(s->vm);
    rtc_sync(s, now);
    switch (addr) {
    case REG_SEC: return rtc_encode(s, s->tm.sec);
    case REG_MIN: return rtc_encode(s, s->tm.min);
    case REG_HOUR: return rtc_encode_hour(s, s->tm.hour);
    case REG_WDAY: return rtc_encode(s, s->tm.wday);
    case REG_MDAY: return rtc_encode(s, s->tm.mday);
    case REG_MON: return rtc_encode(s, s->tm.mon);
    case REG_YEAR: return rtc_encode(s, s->tm.year % 100);
    case REG_CENTURY: return rtc_encode(s, s->tm.year / 100);
    case REG_A:
        return (uint8_t)((s->cmos[REG_A] & 0x7f) | (rtc_uip(s, now) ? A_UIP : 0));
    case REG_C: {
        rtc_update_irq(s);
        uint8_t v = s->cmos[REG_C];
        if (side_effects) {
            /* Reading C clears every flag and releases IRQ 8. */
            s->cmos[REG_C] = 0;
            rtc_update_irq(s);
            rtc_arm(s, now);
        }
        return v;
    }
    case REG_D:
        return 0x80; /* VRT: the battery is fine */
    default:
        return s->cmos[addr];
    }
}

/* Writing a time register sets the clock; the second in progress keeps its phase. */
static void rtc_write_reg(RtcState *s, unsigned addr, uint8_t v)
{
    int64_t now = vm_clock_ns(s->vm);
    rtc_sync(s, now);
    RtcTime *t = &s->tm;
    switch (addr) {
    case REG_SEC: t->sec = rtc_decode(s, v & 0x7f); break;
    case REG_MIN: t->min = rtc_decode(s, v & 0x7f); break;
    case REG_HOUR: t->hour = rtc_decode_hour(s, v); break;
    case REG_WDAY: t->wday = rtc_decode(s, v); break;
    case REG_MDAY: t->mday = rtc_decode(s, v); break;
    case REG_MON: t->mon = rtc_decode(s, v); break;
    case REG_YEAR: t->year = t->year / 100 * 100 + rtc_decode(s, v) % 100; break;
    case REG_CENTURY: t->year = rtc_decode(s, v) % 100 * 100 + t->year % 100; break;
    case REG_A: {
        bool was_running = rtc_divider_running(s);
        s->cmos[REG_A] = v & 0x7f;
        bool running = rtc_divider_running(s);
        if ((v & 0x70) != 0x20 && running)
            VLOG(LOG_GUEST, "rtc: divider 0x%x is not the PC's 32.768 kHz setting", (v >> 4) & 7);
        if (was_running && !running) {
            s->pf_checked_ns = now;
        } else if (!was_running && running) {
            /* MC146818A: the first update comes 500 ms after the divider leaves
             * reset. */
            s->phase_ns = now - NS_PER_SEC / 2;
            s->tm_ns = s->phase_ns;
            s->pf_checked_ns = now;
        }
        break;
    }
    case REG_B: {
        bool was_set = s->cmos[REG_B] & B_SET;
        if (v & B_SET)
            v &= ~B_UIE; /* SET going high clears UIE (MC146818A) */
        s->cmos[REG_B] = v;
        if (was_set && !(v & B_SET) && rtc_divider_running(s)) {
            /* The divider kept running: the new time is valid from the last update
             * instant and advances at the next one. */
            int64_t since = (now - s->phase_ns) % NS_PER_SEC;
            s->tm_ns = now - since;
        }
        break;
    }
    case REG_C:
    case REG_D:
        break; /* read only */
    default:
        s->cmos[addr] = v;
        break;
    }
    rtc_update_irq(s);
    rtc_arm(s, now);
}

static uint32_t rtc_io_read(void *opaque, uint32_t offset, unsigned size)
{
    RtcState *s = opaque;
    if (offset == 0)
        return 0xff; /* the index port is write only */
    return rtc_read_reg(s, s->index, true);
}

static void rtc_io_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    RtcState *s = opaque;
    if (offset == 0) {
        s->index = value & 0x7f;
        s->nmi_disabled = value & 0x80;
        return;
    }
    rtc_write_reg(s, s->index, (uint8_t)value);
}

static const PortOps rtc_ops = { rtc_io_read, rtc_io_write, 1, 1 };

void mc146818_set_cmos(RtcState *s, unsigned addr, uint8_t value)
{
    g_return_if_fail(addr < 128);
    rtc_write_reg(s, addr, value);
}

uint8_t mc146818_get_cmos(RtcState *s, unsigned addr)
{
    g_return_val_if_fail(addr < 128, 0xff);
    return rtc_read_reg(s, addr, false);
}

bool mc146818_nmi_disabled(RtcState *s)
{
    return s->nmi_disabled;
}

/* The RESET pin (MC146818A) clears PIE, AIE, UIE, SQWE and the flags of register C;
 * time, calendar, register A and the RAM are battery backed and stay. */
static void rtc_reset(Device *dev)
{
    RtcState *s = (RtcState *)dev;
    int64_t now = vm_clock_ns(s->vm);
    rtc_sync(s, now);
    s->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | 0x08);
    s->cmos[REG_C] = 0;
    s->nmi_disabled = false;
    rtc_update_irq(s);
    rtc_arm(s, now);
}

static bool rtc_realize(Device *dev, GError **err)
{
    RtcState *s = (RtcState *)dev;
    Vm *vm = s->vm = dev->vm;
    s->timer = vtimer_new(vm, rtc_timer_cb, s);

    /* Host local time (or UTC, -rtc base=utc) at VM creation; updates land on the
     * host's second boundaries. */
    int64_t base_ns = vm_rtc_base_ns(vm);
    time_t secs = (time_t)(base_ns / NS_PER_SEC);
    struct tm lt;
    if (s->utc)
        gmtime_r(&secs, &lt);
    else
        localtime_r(&secs, &lt);
    s->tm.sec = MIN(lt.tm_sec, 59);
    s->tm.min = lt.tm_min;
    s->tm.hour = lt.tm_hour;
    s->tm.wday = lt.tm_wday + 1;
    s->tm.mday = lt.tm_mday;
    s->tm.mon = lt.tm_mon + 1;
    s->tm.year = lt.tm_year + 1900;
    int64_t now = vm_clock_ns(vm);
    s->phase_ns = now - base_ns % NS_PER_SEC;
    s->tm_ns = s->phase_ns;
    s->pf_checked_ns = now;

    s->cmos[REG_A] = 0x26; /* 32.768 kHz, 1024 Hz periodic rate */
    s->cmos[REG_B] = B_24H;
    s->cmos[REG_C] = 0;
    io_add(vm_io(vm), "rtc", (uint16_t)s->iobase, 2, &rtc_ops, s);
    return true;
}

static void rtc_unrealize(Device *dev)
{
    RtcState *s = (RtcState *)dev;
    vtimer_free(s->timer);
}

/* UIP is computed, never stored; register C holds only its four flags. */
static bool rtc_check(const void *state, GError **err)
{
    const RtcState *s = state;
    if ((s->cmos[REG_A] & A_UIP) || (s->cmos[REG_C] & 0x0f)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "registers A 0x%02x and C 0x%02x hold bits the chip keeps clear",
                    s->cmos[REG_A], s->cmos[REG_C]);
        return false;
    }
    return true;
}

static void rtc_post_load(void *state)
{
    RtcState *s = state;
    irq_set(&s->irq, s->irq_level);
}

/* Guest writes of any byte decode to 0-255 (a bad BCD digit gives up to 165); the
 * chip's behaviour with such values is undefined, rtc_time_add clamps them. */
static const VmStateField rtc_time_fields[] = {
    VMSTATE_I32_RANGE(RtcTime, sec, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, min, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, hour, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, wday, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, mday, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, mon, 0, 255),
    VMSTATE_I32_RANGE(RtcTime, year, 0, 1000000),
    VMSTATE_END,
};

static const VmStateDesc rtc_time_vmsd = {
    .name = "mc146818-time",
    .version = 1,
    .fields = rtc_time_fields,
};

/* Virtual times within 2^62 ns (146 years) either side of the clock's start. */
#define RTC_NS_LIMIT (INT64_C(1) << 62)

static const VmStateField rtc_fields[] = {
    VMSTATE_BUFFER(RtcState, cmos),
    VMSTATE_U8_RANGE(RtcState, index, 0, 127),
    VMSTATE_BOOL(RtcState, nmi_disabled),
    VMSTATE_STRUCT(RtcState, tm, RtcTime, &rtc_time_vmsd),
    VMSTATE_I64_RANGE(RtcState, phase_ns, -RTC_NS_LIMIT, RTC_NS_LIMIT),
    VMSTATE_I64_RANGE(RtcState, tm_ns, -RTC_NS_LIMIT, RTC_NS_LIMIT),
    VMSTATE_I64_RANGE(RtcState, pf_checked_ns, -RTC_NS_LIMIT, RTC_NS_LIMIT),
    VMSTATE_BOOL(RtcState, dst_fall_done),
    VMSTATE_BOOL(RtcState, irq_level),
    VMSTATE_TIMER(RtcState, timer),
    VMSTATE_END,
};

static const VmStateDesc rtc_vmsd = {
    .name = "mc146818",
    .version = 1,
    .fields = rtc_fields,
    .check = rtc_check,
    .post_load = rtc_post_load,
};

static const DeviceProp rtc_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(RtcState, iobase), "I/O port base", "0x70", 0, 0xfffe },
    { "utc", DEVICE_PROP_BOOL, offsetof(RtcState, utc), "Start at UTC instead of the host's local time (-rtc base=utc)", "off" },
    { NULL },
};

static const DeviceClass rtc_class = {
    .name = "mc146818rtc",
    .description = "MC146818A real-time clock with 128 bytes of CMOS memory",
    .instance_size = sizeof(RtcState),
    .props = rtc_props,
    .vmsd = &rtc_vmsd,
    .realize = rtc_realize,
    .reset = rtc_reset,
    .unrealize = rtc_unrealize,
};

__attribute__((constructor)) static void rtc_register(void)
{
    device_class_register(&rtc_class);
}

RtcState *mc146818_new(Vm *vm, uint16_t base, const IrqLine *irq, bool utc)
{
    RtcState *s = (RtcState *)device_new(vm, rtc_class.name, "rtc", NULL);
    g_assert(s);
    s->iobase = base;
    s->utc = utc;
    if (irq)
        s->irq = *irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
