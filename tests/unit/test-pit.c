/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8254 over virtual time: counts, OUT and IRQ 0 in all six modes, GATE, latches,
 * read-back, access modes and BCD; and port 0x61 on top of counter 2. */
#include "hw/timer/i8254.h"
#include "hw/audio/pcspk.h"
#include "unit.h"

typedef struct Fixture {
    Vm *vm;
    PitState *pit;
    PcSpeaker *spk;
    TestLine irq0;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(0);
    IrqLine l = test_line(&f->irq0);
    vm_lock(f->vm);
    f->pit = i8254_new(f->vm, 0x40, &l);
    f->spk = pcspk_new(f->vm, f->pit, NULL);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

/* Virtual time of PIT clock edge k. */
static int64_t edge_ns(int64_t k)
{
    return (int64_t)(((__int128)k * NS_PER_SEC + PIT_FREQ - 1) / PIT_FREQ);
}

/* Moves virtual time to just after clock edge k. */
static void to_edge(Fixture *f, int64_t k)
{
    int64_t now = vm_clock_ns(f->vm);
    int64_t target = edge_ns(k);
    g_assert_cmpint(target, >=, now);
    vm_test_clock_step(f->vm, target - now);
}

static uint16_t latch_read(Fixture *f, int counter)
{
    outb(f->vm, 0x43, (uint8_t)(counter << 6));
    uint8_t lo = inb(f->vm, 0x40 + counter);
    uint8_t hi = inb(f->vm, 0x40 + counter);
    return (uint16_t)(lo | hi << 8);
}

static int out_of(Fixture *f, int counter)
{
    vm_lock(f->vm);
    int v = i8254_get_out(f->pit, counter);
    vm_unlock(f->vm);
    return v;
}

static void gate(Fixture *f, int counter, int level)
{
    vm_lock(f->vm);
    i8254_set_gate(f->pit, counter, level);
    vm_unlock(f->vm);
}

static void program(Fixture *f, int counter, int mode, uint16_t count)
{
    outb(f->vm, 0x43, (uint8_t)(counter << 6 | 0x30 | mode << 1));
    outb(f->vm, 0x40 + counter, count & 0xff);
    outb(f->vm, 0x40 + counter, count >> 8);
}

static void test_mode0(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 0, 100); /* written at edge 0, loaded at edge 1 */
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 50);
    g_assert_cmpint(latch_read(f, 0), ==, 51);
    to_edge(f, 100);
    g_assert_cmpint(latch_read(f, 0), ==, 1);
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 101); /* N + 1 clocks after the write */
    g_assert_cmpint(f->irq0.level, ==, 1);
    g_assert_cmpint(f->irq0.rises, ==, 1);
    g_assert_cmpint(latch_read(f, 0), ==, 0);
    to_edge(f, 102); /* the counter wraps and keeps counting; OUT stays high */
    g_assert_cmpint(latch_read(f, 0), ==, 0xffff);
    to_edge(f, 70000);
    g_assert_cmpint(f->irq0.level, ==, 1);
    g_assert_cmpint(f->irq0.rises, ==, 1);
    /* A new count sets OUT low again, from its first byte on. */
    outb(f->vm, 0x40, 10);
    g_assert_cmpint(f->irq0.level, ==, 0);
    outb(f->vm, 0x40, 0);
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 70011);
    g_assert_cmpint(f->irq0.level, ==, 1);
}

static void test_mode0_first_byte_stops(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 0, 1000);
    to_edge(f, 101);
    outb(f->vm, 0x40, 0x20); /* LSB only: counting stops */
    to_edge(f, 500);
    g_assert_cmpint(i8254_get_count(f->pit, 0), ==, 900);
    outb(f->vm, 0x40, 0x00); /* MSB: 0x20 = 32, loaded on the next clock */
    to_edge(f, 501 + 32 - 1);
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 501 + 32);
    g_assert_cmpint(f->irq0.level, ==, 1);
}

static void test_mode2_rate(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 2, 10);
    g_assert_cmpint(f->irq0.level, ==, 1); /* the control word sets OUT high */
    f->irq0.rises = 0;
    to_edge(f, 1);
    g_assert_cmpint(latch_read(f, 0), ==, 10);
    to_edge(f, 9);
    g_assert_cmpint(latch_read(f, 0), ==, 2);
    g_assert_cmpint(out_of(f, 0), ==, 1);
    to_edge(f, 10); /* count 1: OUT low for one clock */
    g_assert_cmpint(latch_read(f, 0), ==, 1);
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 11); /* reloaded */
    g_assert_cmpint(latch_read(f, 0), ==, 10);
    g_assert_cmpint(f->irq0.level, ==, 1);
    g_assert_cmpint(f->irq0.rises, ==, 1);
    to_edge(f, 1001);
    g_assert_cmpint(f->irq0.rises, ==, 100);
}

static void test_irq0_timing(Fixture *f, gconstpointer data)
{
    (void)data;
    /* The classic 1 kHz tick: count 1193 gives IRQ 0 edges 1193 clocks apart. */
    program(f, 0, 2, 1193);
    f->irq0.rises = 0;
    vm_test_clock_step(f->vm, NS_PER_SEC);
    g_assert_cmpint(f->irq0.rises, ==, 1000);
    /* The BIOS 18.2 Hz tick in mode 3 with count 0 (65536). */
    program(f, 0, 3, 0);
    int before = f->irq0.rises;
    vm_test_clock_step(f->vm, 10 * NS_PER_SEC);
    int n = f->irq0.rises - before;
    g_assert_cmpint(n, >=, 181);
    g_assert_cmpint(n, <=, 183);
}

static void test_mode3_square(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 3, 10);
    f->irq0.rises = 0;
    to_edge(f, 1);
    g_assert_cmpint(latch_read(f, 0), ==, 10);
    to_edge(f, 2);
    g_assert_cmpint(latch_read(f, 0), ==, 8); /* counts by two */
    to_edge(f, 5);
    g_assert_cmpint(f->irq0.level, ==, 1);
    to_edge(f, 6); /* five clocks high, five low */
    g_assert_cmpint(f->irq0.level, ==, 0);
    g_assert_cmpint(latch_read(f, 0), ==, 10);
    to_edge(f, 11);
    g_assert_cmpint(f->irq0.level, ==, 1);
    g_assert_cmpint(f->irq0.rises, ==, 1);

    /* Odd count 5: high for 3 clocks, low for 2; loads 4 and counts by two. */
    program(f, 0, 3, 5);
    int64_t w = ns_to_ticks(vm_clock_ns(f->vm), PIT_FREQ);
    to_edge(f, w + 1);
    g_assert_cmpint(latch_read(f, 0), ==, 4);
    to_edge(f, w + 3);
    g_assert_cmpint(latch_read(f, 0), ==, 0);
    g_assert_cmpint(out_of(f, 0), ==, 1);
    to_edge(f, w + 4);
    g_assert_cmpint(out_of(f, 0), ==, 0);
    g_assert_cmpint(latch_read(f, 0), ==, 4);
    to_edge(f, w + 5);
    g_assert_cmpint(out_of(f, 0), ==, 0);
    to_edge(f, w + 6);
    g_assert_cmpint(out_of(f, 0), ==, 1);
}

static void test_mode1_one_shot(Fixture *f, gconstpointer data)
{
    (void)data;
    gate(f, 1, 0);
    program(f, 1, 1, 5);
    g_assert_cmpint(out_of(f, 1), ==, 1);
    to_edge(f, 20);
    g_assert_cmpint(out_of(f, 1), ==, 1); /* no trigger yet */
    gate(f, 1, 1);                          /* trigger at edge 20 */
    to_edge(f, 21);
    g_assert_cmpint(out_of(f, 1), ==, 0);
    g_assert_cmpint(i8254_get_count(f->pit, 1), ==, 5);
    to_edge(f, 25);
    g_assert_cmpint(out_of(f, 1), ==, 0);
    to_edge(f, 26);
    g_assert_cmpint(out_of(f, 1), ==, 1);
    /* Retrigger during the one-shot restarts it. */
    gate(f, 1, 0);
    gate(f, 1, 1); /* edge 26 */
    to_edge(f, 29);
    gate(f, 1, 0);
    gate(f, 1, 1); /* edge 29: reloads at 30 */
    to_edge(f, 34);
    g_assert_cmpint(out_of(f, 1), ==, 0);
    to_edge(f, 35);
    g_assert_cmpint(out_of(f, 1), ==, 1);
}

static void test_mode4_strobe(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 1, 4, 5);
    to_edge(f, 5);
    g_assert_cmpint(out_of(f, 1), ==, 1);
    to_edge(f, 6);
    g_assert_cmpint(out_of(f, 1), ==, 0); /* one clock low at terminal count */
    to_edge(f, 7);
    g_assert_cmpint(out_of(f, 1), ==, 1);
    to_edge(f, 70000); /* only once per count */
    g_assert_cmpint(out_of(f, 1), ==, 1);
    /* GATE low suspends counting. */
    program(f, 1, 4, 100);
    int64_t w = ns_to_ticks(vm_clock_ns(f->vm), PIT_FREQ);
    to_edge(f, w + 11);
    gate(f, 1, 0);
    uint16_t held = i8254_get_count(f->pit, 1);
    g_assert_cmpint(held, ==, 90);
    to_edge(f, w + 500);
    g_assert_cmpint(i8254_get_count(f->pit, 1), ==, 90);
    gate(f, 1, 1);
    to_edge(f, w + 500 + 89);
    g_assert_cmpint(out_of(f, 1), ==, 1);
    to_edge(f, w + 500 + 90);
    g_assert_cmpint(out_of(f, 1), ==, 0);
}

static void test_mode5_hw_strobe(Fixture *f, gconstpointer data)
{
    (void)data;
    gate(f, 2, 0);
    program(f, 2, 5, 3);
    to_edge(f, 10);
    g_assert_cmpint(out_of(f, 2), ==, 1);
    gate(f, 2, 1); /* trigger at 10, loaded at 11 */
    to_edge(f, 13);
    g_assert_cmpint(out_of(f, 2), ==, 1);
    to_edge(f, 14);
    g_assert_cmpint(out_of(f, 2), ==, 0);
    to_edge(f, 15);
    g_assert_cmpint(out_of(f, 2), ==, 1);
}

static void test_gate_mode0_and_mode2(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Mode 0: GATE low holds the count, OUT unaffected. */
    gate(f, 2, 1);
    program(f, 2, 0, 50);
    to_edge(f, 11);
    gate(f, 2, 0);
    g_assert_cmpint(i8254_get_count(f->pit, 2), ==, 40);
    to_edge(f, 100);
    g_assert_cmpint(i8254_get_count(f->pit, 2), ==, 40);
    g_assert_cmpint(out_of(f, 2), ==, 0);
    gate(f, 2, 1);
    to_edge(f, 139);
    g_assert_cmpint(out_of(f, 2), ==, 0);
    to_edge(f, 140);
    g_assert_cmpint(out_of(f, 2), ==, 1);

    /* Mode 2: GATE low during the low pulse forces OUT high; GATE high reloads. */
    program(f, 2, 2, 20);
    int64_t w = ns_to_ticks(vm_clock_ns(f->vm), PIT_FREQ);
    to_edge(f, w + 20);
    g_assert_cmpint(out_of(f, 2), ==, 0);
    gate(f, 2, 0);
    g_assert_cmpint(out_of(f, 2), ==, 1);
    to_edge(f, w + 30);
    gate(f, 2, 1); /* reload at w + 31 */
    to_edge(f, w + 31);
    g_assert_cmpint(i8254_get_count(f->pit, 2), ==, 20);
    to_edge(f, w + 50);
    g_assert_cmpint(out_of(f, 2), ==, 0);
}

static void test_mode2_new_count_at_cycle_end(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 2, 10);
    to_edge(f, 4);
    outb(f->vm, 0x40, 30);
    outb(f->vm, 0x40, 0);
    /* The running cycle finishes with the old count. */
    to_edge(f, 10);
    g_assert_cmpint(f->irq0.level, ==, 0);
    to_edge(f, 11);
    g_assert_cmpint(latch_read(f, 0), ==, 30);
    to_edge(f, 39);
    g_assert_cmpint(f->irq0.level, ==, 1);
    to_edge(f, 40);
    g_assert_cmpint(f->irq0.level, ==, 0);
}

static void test_latch(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 2, 1000);
    to_edge(f, 101);
    outb(f->vm, 0x43, 0x00); /* latch counter 0: 900 */
    to_edge(f, 301);
    outb(f->vm, 0x43, 0x00); /* ignored: the first latch is unread */
    g_assert_cmpint(inb(f->vm, 0x40), ==, 900 & 0xff);
    to_edge(f, 401);
    g_assert_cmpint(inb(f->vm, 0x40), ==, 900 >> 8);
    /* Unlatched reads follow the counter. */
    uint8_t lo = inb(f->vm, 0x40);
    uint8_t hi = inb(f->vm, 0x40);
    g_assert_cmpint(lo | hi << 8, ==, 600);
}

static void test_readback(Fixture *f, gconstpointer data)
{
    (void)data;
    gate(f, 2, 1);
    outb(f->vm, 0x43, 0xb4); /* counter 2, LSB/MSB, mode 2, binary */
    outb(f->vm, 0x42, 0x34);
    outb(f->vm, 0x42, 0x12);
    /* Status before the count reached CE: null count set. */
    outb(f->vm, 0x43, 0xe8); /* read-back status of counter 2 */
    g_assert_cmpint(inb(f->vm, 0x42), ==, 0x80 | 0x40 | 0x34);
    to_edge(f, 2);
    outb(f->vm, 0x43, 0xe8);
    g_assert_cmpint(inb(f->vm, 0x42), ==, 0x80 | 0x34);
    /* Status and count together: status first, then the count. */
    to_edge(f, 11);
    outb(f->vm, 0x43, 0xc8);
    g_assert_cmpint(inb(f->vm, 0x42), ==, 0x80 | 0x34);
    g_assert_cmpint(inb(f->vm, 0x42), ==, (0x1234 - 10) & 0xff);
    g_assert_cmpint(inb(f->vm, 0x42), ==, (0x1234 - 10) >> 8);
    /* Mode 0 status shows OUT low and the mode bits. */
    outb(f->vm, 0x43, 0x70); /* counter 1, mode 0 */
    outb(f->vm, 0x43, 0xe4);
    g_assert_cmpint(inb(f->vm, 0x41), ==, 0x40 | 0x30);
    /* Read-back of several counters latches each. */
    program(f, 0, 2, 500);
    to_edge(f, 20);
    int64_t w = 20;
    outb(f->vm, 0x43, 0xd6); /* count of counters 0, 1... and 2 */
    to_edge(f, w + 100);
    uint8_t lo = inb(f->vm, 0x40);
    uint8_t hi = inb(f->vm, 0x40);
    uint16_t c0 = (uint16_t)(lo | hi << 8);
    g_assert_cmpint(c0, ==, 500 - (w - 12));
}

static void test_access_modes(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x43, 0x14); /* counter 0, LSB only, mode 2 */
    outb(f->vm, 0x40, 200);
    to_edge(f, 1);
    g_assert_cmpint(inb(f->vm, 0x40), ==, 200);
    g_assert_cmpint(inb(f->vm, 0x40), ==, 200); /* every read is the LSB */
    outb(f->vm, 0x43, 0x64); /* counter 1, MSB only, mode 2 */
    outb(f->vm, 0x41, 0x02); /* 0x200 */
    to_edge(f, 2);
    g_assert_cmpint(inb(f->vm, 0x41), ==, 0x02);
    to_edge(f, 3);
    g_assert_cmpint(i8254_get_count(f->pit, 1), ==, 0x1ff);
    g_assert_cmpint(inb(f->vm, 0x41), ==, 0x01);
    g_assert_cmpint(inb(f->vm, 0x43), ==, 0xff); /* control register is write only */
}

static void test_bcd(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x43, 0x31); /* mode 0, BCD */
    outb(f->vm, 0x40, 0x00);
    outb(f->vm, 0x40, 0x01); /* 100 */
    to_edge(f, 12);
    g_assert_cmpint(latch_read(f, 0), ==, 0x0089);
    to_edge(f, 101);
    g_assert_cmpint(f->irq0.level, ==, 1);
    to_edge(f, 102);
    g_assert_cmpint(latch_read(f, 0), ==, 0x9999); /* BCD wraps to 9999 */
    /* Count 0 in BCD is 10000. */
    outb(f->vm, 0x43, 0x35); /* mode 2, BCD */
    outb(f->vm, 0x40, 0);
    outb(f->vm, 0x40, 0);
    to_edge(f, 103);
    g_assert_cmpint(latch_read(f, 0), ==, 0x0000);
    to_edge(f, 104);
    g_assert_cmpint(latch_read(f, 0), ==, 0x9999);
}

static void test_reprogram_stops(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 2, 100);
    f->irq0.rises = 0;
    to_edge(f, 150);
    g_assert_cmpint(f->irq0.rises, ==, 1);
    /* A control word stops the counter until a count is written. */
    outb(f->vm, 0x43, 0x34);
    vm_test_clock_step(f->vm, NS_PER_SEC / 10);
    g_assert_cmpint(f->irq0.rises, ==, 1);
    g_assert_cmpint(f->irq0.level, ==, 1);
}

static void test_system_reset(Fixture *f, gconstpointer data)
{
    (void)data;
    program(f, 0, 2, 100);
    outb(f->vm, 0x61, 0x03);
    vm_test_system_reset(f->vm);
    g_assert_cmpint(f->irq0.level, ==, 0);
    int rises = f->irq0.rises;
    vm_test_clock_step(f->vm, NS_PER_SEC / 10);
    g_assert_cmpint(f->irq0.rises, ==, rises); /* no count after reset */
    g_assert_cmpint(inb(f->vm, 0x61) & 0x0f, ==, 0);
    outb(f->vm, 0x43, 0xe2); /* status of counter 0: mode 0, LSB/MSB */
    g_assert_cmpint(inb(f->vm, 0x40), ==, 0x30);
}

static void test_port61(Fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmpint(inb(f->vm, 0x61) & 0x10, ==, 0);
    vm_test_clock_step(f->vm, 15085);
    g_assert_cmpint(inb(f->vm, 0x61) & 0x10, ==, 0x10);
    vm_test_clock_step(f->vm, 15085);
    g_assert_cmpint(inb(f->vm, 0x61) & 0x10, ==, 0);
    /* Count the toggles a BIOS delay loop would see in 1 ms. */
    int toggles = 0;
    int last = inb(f->vm, 0x61) & 0x10;
    for (int i = 0; i < 1000; i++) {
        vm_test_clock_step(f->vm, 1000);
        int v = inb(f->vm, 0x61) & 0x10;
        toggles += v != last;
        last = v;
    }
    g_assert_cmpint(toggles, >=, 65);
    g_assert_cmpint(toggles, <=, 67);

    /* Counter 2 with its gate from bit 0; OUT2 on bit 5. */
    outb(f->vm, 0x43, 0xb6); /* counter 2, mode 3 */
    outb(f->vm, 0x42, 0xa9);
    outb(f->vm, 0x42, 0x04); /* 1193: about 1 kHz */
    vm_test_clock_step(f->vm, 5 * 1000 * 1000);
    uint8_t v = inb(f->vm, 0x61);
    g_assert_cmpint(v & 0x20, ==, 0x20); /* gate low in mode 3: OUT high */
    g_assert_cmpint(i8254_get_count(f->pit, 2), ==, 1193); /* loaded, held */
    outb(f->vm, 0x61, 0x03);
    g_assert_cmpint(inb(f->vm, 0x61) & 0x0f, ==, 0x03);
    int highs = 0, lows = 0;
    for (int i = 0; i < 100; i++) {
        vm_test_clock_step(f->vm, 20 * 1000);
        if (inb(f->vm, 0x61) & 0x20)
            highs++;
        else
            lows++;
    }
    g_assert_cmpint(highs, >=, 40);
    g_assert_cmpint(lows, >=, 40);
    vm_lock(f->vm);
    g_assert_cmpuint(pcspk_get_tone(f->spk), ==, 1000);
    vm_unlock(f->vm);
    outb(f->vm, 0x61, 0x01); /* speaker data off: silent */
    vm_lock(f->vm);
    g_assert_cmpuint(pcspk_get_tone(f->spk), ==, 0);
    vm_unlock(f->vm);
    /* Mode 0 on counter 2, the BIOS delay idiom: OUT2 rises at terminal count. */
    outb(f->vm, 0x61, 0x00);
    outb(f->vm, 0x43, 0xb0);
    outb(f->vm, 0x42, 100);
    outb(f->vm, 0x42, 0);
    outb(f->vm, 0x61, 0x01);
    g_assert_cmpint(inb(f->vm, 0x61) & 0x20, ==, 0);
    vm_test_clock_step(f->vm, edge_ns(102));
    g_assert_cmpint(inb(f->vm, 0x61) & 0x20, ==, 0x20);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/pit/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("mode0", test_mode0);
    ADD("mode0-first-byte-stops", test_mode0_first_byte_stops);
    ADD("mode1-one-shot", test_mode1_one_shot);
    ADD("mode2-rate", test_mode2_rate);
    ADD("mode2-new-count-at-cycle-end", test_mode2_new_count_at_cycle_end);
    ADD("mode3-square", test_mode3_square);
    ADD("mode4-strobe", test_mode4_strobe);
    ADD("mode5-hw-strobe", test_mode5_hw_strobe);
    ADD("irq0-timing", test_irq0_timing);
    ADD("gate", test_gate_mode0_and_mode2);
    ADD("latch", test_latch);
    ADD("readback", test_readback);
    ADD("access-modes", test_access_modes);
    ADD("bcd", test_bcd);
    ADD("reprogram-stops", test_reprogram_stops);
    ADD("system-reset", test_system_reset);
    ADD("port61", test_port61);
    return g_test_run();
}
