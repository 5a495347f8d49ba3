/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The MC146818 RTC as a guest sees it through ports 0x70/0x71. */
#include "hw/timer/mc146818.h"
#include "unit.h"

#include <time.h>

typedef struct Fixture {
    Vm *vm;
    RtcState *rtc;
    TestLine irq;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(0);
    IrqLine l = test_line(&f->irq);
    vm_lock(f->vm);
    f->rtc = mc146818_new(f->vm, 0x70, &l, false);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

static uint8_t rd(Fixture *f, uint8_t reg)
{
    outb(f->vm, 0x70, reg);
    return inb(f->vm, 0x71);
}

static void wr(Fixture *f, uint8_t reg, uint8_t v)
{
    outb(f->vm, 0x70, reg);
    outb(f->vm, 0x71, v);
}

static void step_ms(Fixture *f, int64_t ms)
{
    vm_test_clock_step(f->vm, ms * 1000 * 1000);
}

/* Restarts the divider: the next update is exactly 500 ms from now. */
static void restart_divider(Fixture *f)
{
    wr(f, 0x0a, 0x76);
    wr(f, 0x0a, 0x26);
}

/* Sets the clock with SET held, in the current format. */
static void set_time(Fixture *f, uint8_t hour, uint8_t min, uint8_t sec, uint8_t wday,
                     uint8_t mday, uint8_t mon, uint8_t year, uint8_t century)
{
    uint8_t b = rd(f, 0x0b);
    wr(f, 0x0b, b | 0x80);
    wr(f, 0x00, sec);
    wr(f, 0x02, min);
    wr(f, 0x04, hour);
    wr(f, 0x06, wday);
    wr(f, 0x07, mday);
    wr(f, 0x08, mon);
    wr(f, 0x09, year);
    wr(f, 0x32, century);
    wr(f, 0x0b, b & 0x7f);
    restart_divider(f);
}

static void test_starts_at_host_time(Fixture *f, gconstpointer data)
{
    (void)data;
    time_t now = (time_t)(vm_rtc_base_ns(f->vm) / NS_PER_SEC);
    struct tm lt;
    localtime_r(&now, &lt);
    g_assert_cmpint(rd(f, 0x0b), ==, 0x02); /* BCD, 24 hour */
    g_assert_cmpint(rd(f, 0x09), ==, ((lt.tm_year % 100) / 10) << 4 | (lt.tm_year % 10));
    g_assert_cmpint(rd(f, 0x32), ==, 0x20);
    g_assert_cmpint(rd(f, 0x08), ==, ((lt.tm_mon + 1) / 10) << 4 | ((lt.tm_mon + 1) % 10));
    g_assert_cmpint(rd(f, 0x06), ==, lt.tm_wday + 1);
    g_assert_cmpint(rd(f, 0x0d), ==, 0x80);
    g_assert_cmpint(rd(f, 0x0a), ==, 0x26);
}

static void test_bcd_rollover(Fixture *f, gconstpointer data)
{
    (void)data;
    set_time(f, 0x23, 0x59, 0x58, 0x05, 0x31, 0x12, 0x99, 0x20);
    step_ms(f, 400);
    g_assert_cmpint(rd(f, 0x00), ==, 0x58);
    step_ms(f, 200); /* first update 500 ms after the divider restart */
    g_assert_cmpint(rd(f, 0x00), ==, 0x59);
    step_ms(f, 1000);
    g_assert_cmpint(rd(f, 0x00), ==, 0x00);
    g_assert_cmpint(rd(f, 0x02), ==, 0x00);
    g_assert_cmpint(rd(f, 0x04), ==, 0x00);
    g_assert_cmpint(rd(f, 0x06), ==, 0x06);
    g_assert_cmpint(rd(f, 0x07), ==, 0x01);
    g_assert_cmpint(rd(f, 0x08), ==, 0x01);
    g_assert_cmpint(rd(f, 0x09), ==, 0x00);
    g_assert_cmpint(rd(f, 0x32), ==, 0x21); /* century follows */
}

static void test_binary_and_leap(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x06); /* binary, 24 hour */
    set_time(f, 23, 59, 59, 4, 28, 2, 24, 20);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x07), ==, 29); /* 2024 is a leap year */
    g_assert_cmpint(rd(f, 0x08), ==, 2);
    g_assert_cmpint(rd(f, 0x04), ==, 0);
    g_assert_cmpint(rd(f, 0x06), ==, 5);
    /* Switching to BCD shows the same time in BCD. */
    wr(f, 0x0b, 0x02);
    g_assert_cmpint(rd(f, 0x07), ==, 0x29);
    /* 2100 is not a leap year. */
    wr(f, 0x0b, 0x06);
    set_time(f, 23, 59, 59, 1, 28, 2, 0, 21);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x08), ==, 3);
    g_assert_cmpint(rd(f, 0x07), ==, 1);
}

static void test_12_hour(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x00); /* BCD, 12 hour */
    set_time(f, 0x91, 0x59, 0x59, 1, 1, 1, 0x25, 0x20); /* 11:59:59 PM */
    g_assert_cmpint(rd(f, 0x04), ==, 0x91);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x04), ==, 0x12); /* 12 AM */
    wr(f, 0x0b, 0x02);
    g_assert_cmpint(rd(f, 0x04), ==, 0x00);
    wr(f, 0x0b, 0x00);
    set_time(f, 0x11, 0x59, 0x59, 1, 1, 1, 0x25, 0x20); /* 11:59:59 AM */
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x04), ==, 0x92); /* 12 PM */
    wr(f, 0x0b, 0x04);                      /* binary 12 hour */
    g_assert_cmpint(rd(f, 0x04), ==, 0x8c);
    wr(f, 0x0b, 0x06);
    g_assert_cmpint(rd(f, 0x04), ==, 12);
}

static void test_update_in_progress(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x06);
    set_time(f, 10, 0, 0, 1, 1, 1, 25, 20);
    /* The update comes at +500 ms; UIP rises 244 us before it. */
    vm_test_clock_step(f->vm, 500 * 1000 * 1000 - 245 * 1000);
    g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0);
    g_assert_cmpint(rd(f, 0x00), ==, 0);
    vm_test_clock_step(f->vm, 2 * 1000);
    g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0x80);
    g_assert_cmpint(rd(f, 0x00), ==, 0);
    /* Past the update the new second reads, and UIP stays up for the update cycle's
     * 1984 us (MC146818A). */
    vm_test_clock_step(f->vm, 243 * 1000);
    g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0x80);
    g_assert_cmpint(rd(f, 0x00), ==, 1);
    vm_test_clock_step(f->vm, 1983 * 1000);
    g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0x80);
    vm_test_clock_step(f->vm, 2 * 1000);
    g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0);
    g_assert_cmpint(rd(f, 0x00), ==, 1);
    /* Over ten seconds, UIP is seen for about 2228 us of each. */
    int uip = 0;
    for (int i = 0; i < 100000; i++) {
        vm_test_clock_step(f->vm, 100 * 1000);
        uip += (rd(f, 0x0a) & 0x80) != 0;
    }
    g_assert_cmpint(uip, >=, 215);
    g_assert_cmpint(uip, <=, 230);
    /* No updates, no UIP while SET holds the clock. */
    wr(f, 0x0b, 0x86);
    int sec = rd(f, 0x00);
    for (int i = 0; i < 30; i++) {
        vm_test_clock_step(f->vm, 100 * 1000 * 1000);
        g_assert_cmpint(rd(f, 0x0a) & 0x80, ==, 0);
    }
    g_assert_cmpint(rd(f, 0x00), ==, sec);
}

static void test_set_bit_clears_uie(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x12);
    g_assert_cmpint(rd(f, 0x0b), ==, 0x12);
    wr(f, 0x0b, 0x92);
    g_assert_cmpint(rd(f, 0x0b), ==, 0x82);
}

/* Counts IRQ 8 pulses over ms milliseconds, acknowledging each by reading C. */
static int count_irqs(Fixture *f, int64_t ms, int64_t step_us, uint8_t flag)
{
    int n = 0;
    for (int64_t t = 0; t < ms * 1000; t += step_us) {
        vm_test_clock_step(f->vm, step_us * 1000);
        if (f->irq.level) {
            uint8_t c = rd(f, 0x0c);
            g_assert_cmpint(c & 0x80, ==, 0x80);
            g_assert_cmpint(c & flag, ==, flag);
            g_assert_cmpint(f->irq.level, ==, 0);
            n++;
        }
    }
    return n;
}

static void test_periodic(Fixture *f, gconstpointer data)
{
    (void)data;
    restart_divider(f);
    rd(f, 0x0c);
    wr(f, 0x0b, 0x42); /* PIE */
    g_assert_cmpint(count_irqs(f, 1000, 50, 0x40), ==, 1024);
    wr(f, 0x0a, 0x2f); /* 2 Hz */
    g_assert_cmpint(count_irqs(f, 3000, 1000, 0x40), ==, 6);
    wr(f, 0x0a, 0x23); /* 8192 Hz */
    int n = count_irqs(f, 100, 10, 0x40);
    g_assert_cmpint(n, >=, 819);
    g_assert_cmpint(n, <=, 820);
    /* Rate 0: none. */
    wr(f, 0x0a, 0x20);
    rd(f, 0x0c);
    g_assert_cmpint(count_irqs(f, 100, 100, 0x40), ==, 0);
    /* PF is set without PIE, but IRQ 8 stays low. */
    wr(f, 0x0a, 0x26);
    wr(f, 0x0b, 0x02);
    rd(f, 0x0c);
    step_ms(f, 2);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmpint(rd(f, 0x0c), ==, 0x40);
    g_assert_cmpint(rd(f, 0x0c), ==, 0x00);
}

static void test_update_ended(Fixture *f, gconstpointer data)
{
    (void)data;
    restart_divider(f);
    rd(f, 0x0c);
    wr(f, 0x0b, 0x12); /* UIE */
    g_assert_cmpint(count_irqs(f, 5000, 1000, 0x10), ==, 5);
}

static void test_alarm(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x06);
    set_time(f, 10, 0, 0, 1, 1, 1, 25, 20);
    wr(f, 0x01, 5);
    wr(f, 0x03, 0);
    wr(f, 0x05, 10);
    rd(f, 0x0c);
    wr(f, 0x0b, 0x26); /* AIE */
    step_ms(f, 4400);
    g_assert_cmpint(f->irq.level, ==, 0);
    step_ms(f, 200); /* 10:00:05 */
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpint(rd(f, 0x00), ==, 5);
    g_assert_cmpint(rd(f, 0x0c), ==, 0xf0); /* IRQF, AF, and PF, UF though not enabled */
    g_assert_cmpint(f->irq.level, ==, 0);
    /* Don't care hours and minutes: every minute at :30. */
    wr(f, 0x01, 30);
    wr(f, 0x03, 0xc0);
    wr(f, 0x05, 0xff);
    g_assert_cmpint(count_irqs(f, 180 * 1000, 100 * 1000, 0x20), ==, 3);
}

static void test_alarm_12h(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x00); /* BCD 12 hour */
    set_time(f, 0x83, 0x15, 0x00, 1, 1, 1, 0x25, 0x20); /* 3:15:00 PM */
    wr(f, 0x01, 0x01);
    wr(f, 0x03, 0x15);
    wr(f, 0x05, 0x03); /* 3 AM: no match */
    rd(f, 0x0c);
    wr(f, 0x0b, 0x20);
    step_ms(f, 2000);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr(f, 0x0b, 0xa0);
    wr(f, 0x00, 0x00);
    wr(f, 0x05, 0x83); /* 3 PM */
    wr(f, 0x0b, 0x20);
    restart_divider(f);
    step_ms(f, 600);
    g_assert_cmpint(f->irq.level, ==, 1);
}

static void test_register_c_and_d(Fixture *f, gconstpointer data)
{
    (void)data;
    restart_divider(f);
    wr(f, 0x0b, 0x52); /* PIE + UIE */
    step_ms(f, 600);
    g_assert_cmpint(f->irq.level, ==, 1);
    uint8_t c = rd(f, 0x0c);
    g_assert_cmpint(c, ==, 0xd0);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmpint(rd(f, 0x0c), ==, 0x00);
    wr(f, 0x0c, 0xff); /* read only */
    wr(f, 0x0d, 0x00);
    g_assert_cmpint(rd(f, 0x0c), ==, 0x00);
    g_assert_cmpint(rd(f, 0x0d), ==, 0x80);
    /* Without reading C the IRQ stays high: no further edges. */
    step_ms(f, 10);
    int rises = f->irq.rises;
    step_ms(f, 100);
    g_assert_cmpint(f->irq.rises, ==, rises);
}

static void test_guest_sets_clock(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x06);
    restart_divider(f);
    wr(f, 0x04, 7); /* written without SET: takes effect at once */
    wr(f, 0x02, 30);
    wr(f, 0x00, 0);
    g_assert_cmpint(rd(f, 0x04), ==, 7);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x00), ==, 1);
    g_assert_cmpint(rd(f, 0x02), ==, 30);
    step_ms(f, 3600 * 1000);
    g_assert_cmpint(rd(f, 0x04), ==, 8);
    g_assert_cmpint(rd(f, 0x02), ==, 30);
    g_assert_cmpint(rd(f, 0x00), ==, 1);
}

static void test_cmos_ram_and_nmi(Fixture *f, gconstpointer data)
{
    (void)data;
    for (int i = 0x0e; i < 0x80; i++) {
        if (i == 0x32)
            continue;
        wr(f, (uint8_t)i, (uint8_t)(i ^ 0x5a));
    }
    for (int i = 0x0e; i < 0x80; i++) {
        if (i == 0x32)
            continue;
        g_assert_cmpint(rd(f, (uint8_t)i), ==, i ^ 0x5a);
    }
    /* Bit 7 of the index is the NMI mask, not part of the address. */
    outb(f->vm, 0x70, 0x80 | 0x40);
    g_assert_cmpint(inb(f->vm, 0x71), ==, 0x40 ^ 0x5a);
    vm_lock(f->vm);
    g_assert_true(mc146818_nmi_disabled(f->rtc));
    mc146818_set_cmos(f->rtc, 0x10, 0x44);
    g_assert_cmpint(mc146818_get_cmos(f->rtc, 0x10), ==, 0x44);
    vm_unlock(f->vm);
    outb(f->vm, 0x70, 0x10);
    g_assert_cmpint(inb(f->vm, 0x71), ==, 0x44);
    vm_lock(f->vm);
    g_assert_false(mc146818_nmi_disabled(f->rtc));
    vm_unlock(f->vm);
}

static void test_daylight_saving(Fixture *f, gconstpointer data)
{
    (void)data;
    /* 30 April 2023 was the last Sunday of April. */
    wr(f, 0x0b, 0x07); /* binary, 24 hour, DSE */
    set_time(f, 1, 59, 59, 1, 30, 4, 23, 20);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x04), ==, 3);
    g_assert_cmpint(rd(f, 0x02), ==, 0);
    /* 29 October 2023, last Sunday of October: 1:59:59 repeats 1:00:00 once. */
    set_time(f, 1, 59, 59, 1, 29, 10, 23, 20);
    step_ms(f, 600);
    g_assert_cmpint(rd(f, 0x04), ==, 1);
    g_assert_cmpint(rd(f, 0x02), ==, 0);
    step_ms(f, 3600 * 1000);
    g_assert_cmpint(rd(f, 0x04), ==, 2);
}

static void test_reset(Fixture *f, gconstpointer data)
{
    (void)data;
    wr(f, 0x0b, 0x7a);
    wr(f, 0x40, 0x99);
    uint8_t year = rd(f, 0x09);
    step_ms(f, 1100);
    vm_test_system_reset(f->vm);
    g_assert_cmpint(rd(f, 0x0b), ==, 0x02); /* PIE, AIE, UIE, SQWE cleared */
    g_assert_cmpint(rd(f, 0x0c), ==, 0x00);
    g_assert_cmpint(rd(f, 0x40), ==, 0x99); /* battery-backed RAM kept */
    g_assert_cmpint(rd(f, 0x09), ==, year);
    g_assert_cmpint(f->irq.level, ==, 0);
}

/* A Sunday in month 0 or 0x99 with DSE set: the daylight saving check used to index the
 * month table at -1 (found by fuzz-devices, seed 7200059). The clock keeps running and
 * the month comes into range. */
static void test_bad_month(Fixture *f, gconstpointer data)
{
    (void)data;
    static const uint8_t months[] = { 0x00, 0x99, 0xff };
    for (size_t i = 0; i < G_N_ELEMENTS(months); i++) {
        wr(f, 0x0b, 0x07); /* binary, 24 hour, DSE */
        set_time(f, 1, 59, 59, 1, 30, months[i], 23, 20);
        step_ms(f, 1600);
        g_assert_cmpint(rd(f, 0x04), ==, 2);
        g_assert_cmpint(rd(f, 0x02), ==, 0);
        uint8_t mon = rd(f, 0x08);
        g_assert_cmpint(mon, >=, 1);
        g_assert_cmpint(mon, <=, 12);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/rtc/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("starts-at-host-time", test_starts_at_host_time);
    ADD("bcd-rollover", test_bcd_rollover);
    ADD("binary-and-leap", test_binary_and_leap);
    ADD("12-hour", test_12_hour);
    ADD("update-in-progress", test_update_in_progress);
    ADD("set-bit-clears-uie", test_set_bit_clears_uie);
    ADD("periodic", test_periodic);
    ADD("update-ended", test_update_ended);
    ADD("alarm", test_alarm);
    ADD("alarm-12h", test_alarm_12h);
    ADD("register-c-and-d", test_register_c_and_d);
    ADD("guest-sets-clock", test_guest_sets_clock);
    ADD("cmos-ram-and-nmi", test_cmos_ram_and_nmi);
    ADD("daylight-saving", test_daylight_saving);
    ADD("reset", test_reset);
    ADD("bad-month", test_bad_month);
    return g_test_run();
}
