/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HPET as a guest sees it through its registers at 0xFED00000, on the manual clock:
 * periodic matches a late timer merges, the 32-bit one-shot's wrap, legacy replacement
 * holding the PIT's line, and its state saved mid-count and loaded into another VM. */
#include "hw/timer/hpet.h"
#include "unit.h"

#include <string.h>

#define CONF 0x10
#define ISR 0x20
#define COUNTER 0xf0
#define TCONF(n) (0x100 + 0x20 * (n))
#define TCMP(n) (0x108 + 0x20 * (n))
#define INT_ENB (1u << 2)
#define PERIODIC (1u << 3)
#define VAL_SET (1u << 6)
#define MODE32 (1u << 8)
#define ROUTE2 (2u << 9)

typedef struct Rig {
    Vm *vm;
    HpetState *hpet;
    TestLine gsi[HPET_GSI_COUNT];
} Rig;

static void rig_init(Rig *r)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(0);
    IrqLine lines[HPET_GSI_COUNT];
    for (int i = 0; i < HPET_GSI_COUNT; i++)
        lines[i] = test_line(&r->gsi[i]);
    vm_lock(r->vm);
    r->hpet = hpet_new(r->vm, HPET_BASE, lines, NULL);
    vm_unlock(r->vm);
    g_assert_nonnull(r->hpet);
}

static uint32_t rd(Rig *r, uint32_t off)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), HPET_BASE + off, 4);
    vm_unlock(r->vm);
    return v;
}

static void wr(Rig *r, uint32_t off, uint32_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), HPET_BASE + off, v, 4);
    vm_unlock(r->vm);
}

static void step_us(Rig *r, int64_t us)
{
    vm_test_clock_step(r->vm, us * 1000);
}

/* A timer thread 4.25 periods late gives one edge, and the comparator moves on by 5
 * periods (HPET 1.0a §2.3.9.2.2: a period per match). A period of one tick gives an
 * event at most every 10 us, its comparator still on whole periods. */
static void test_periodic_late(void)
{
    Rig r;
    rig_init(&r);
    wr(&r, CONF, 1);
    wr(&r, TCONF(2), ROUTE2 | INT_ENB | PERIODIC | VAL_SET | MODE32);
    uint32_t c0 = rd(&r, COUNTER);
    wr(&r, TCMP(2), c0 + 2000);
    wr(&r, TCMP(2), 2000);               /* the period: 20 us */
    step_us(&r, 5);
    g_assert_cmpint(r.gsi[2].rises, ==, 0);
    vm_test_clock_jump(r.vm, 100 * 1000); /* 105 us: matches at 20, 40, ... 100 us */
    step_us(&r, 0);                      /* the timer runs late, once */
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    g_assert_cmpuint(rd(&r, TCMP(2)), ==, c0 + 12000);
    step_us(&r, 14);
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    step_us(&r, 2);                      /* 121 us: the match at 120 */
    g_assert_cmpint(r.gsi[2].rises, ==, 2);
    g_assert_cmpint(r.gsi[2].level, ==, 0); /* edges leave the line low */

    wr(&r, TCONF(2), ROUTE2 | INT_ENB | PERIODIC | VAL_SET | MODE32);
    uint32_t c1 = rd(&r, COUNTER);
    wr(&r, TCMP(2), c1 + 1);
    wr(&r, TCMP(2), 1);
    step_us(&r, 1000);
    int n = r.gsi[2].rises - 2;
    g_assert_cmpint(n, >=, 90);
    g_assert_cmpint(n, <=, 101);
    vm_free(r.vm);
}

/* A periodic timer whose interrupt was off for a while keeps its phase: enabled again,
 * it fires at the next multiple of the period, its comparator there. */
static void test_periodic_disabled(void)
{
    Rig r;
    rig_init(&r);
    wr(&r, CONF, 1);
    wr(&r, TCONF(2), ROUTE2 | INT_ENB | PERIODIC | VAL_SET | MODE32);
    uint32_t c0 = rd(&r, COUNTER);
    wr(&r, TCMP(2), c0 + 1000);
    wr(&r, TCMP(2), 1000);
    step_us(&r, 15);
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    wr(&r, TCONF(2), ROUTE2 | PERIODIC | MODE32);
    step_us(&r, 50);                     /* 65 us */
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    wr(&r, TCONF(2), ROUTE2 | INT_ENB | PERIODIC | MODE32);
    g_assert_cmpuint(rd(&r, TCMP(2)), ==, c0 + 7000);
    step_us(&r, 4);
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    step_us(&r, 2);                      /* 71 us: the match at 70 */
    g_assert_cmpint(r.gsi[2].rises, ==, 2);
    vm_free(r.vm);
}

/* A 32-bit one-shot fires at the match, and again only when the counter's low half
 * comes round to it (2^32 ticks, 42.9 s); a configuration write does not fire it. */
static void test_oneshot_wrap(void)
{
    Rig r;
    rig_init(&r);
    wr(&r, CONF, 1);
    wr(&r, TCONF(2), ROUTE2 | INT_ENB | MODE32);
    wr(&r, TCMP(2), rd(&r, COUNTER) + 100);
    step_us(&r, 2);
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    wr(&r, TCONF(2), ROUTE2 | INT_ENB | MODE32);
    step_us(&r, 42949000);
    g_assert_cmpint(r.gsi[2].rises, ==, 1);
    step_us(&r, 1000);
    g_assert_cmpint(r.gsi[2].rises, ==, 2);
    vm_free(r.vm);
}

/* Legacy replacement: the PIT's output stops reaching GSI 0, timer 0 drives it; leaving
 * the mode hands the line back at the PIT's current level. */
static void test_legacy(void)
{
    Rig r;
    rig_init(&r);
    IrqLine pit = hpet_input(r.hpet, HPET_IN_PIT);
    vm_lock(r.vm);
    irq_set(&pit, 1);
    vm_unlock(r.vm);
    g_assert_cmpint(r.gsi[0].level, ==, 1);
    wr(&r, CONF, 3);
    g_assert_cmpint(r.gsi[0].level, ==, 0);
    vm_lock(r.vm);
    irq_set(&pit, 0);
    irq_set(&pit, 1);
    vm_unlock(r.vm);
    g_assert_cmpint(r.gsi[0].rises, ==, 1);
    wr(&r, TCONF(0), INT_ENB | MODE32);
    wr(&r, TCMP(0), rd(&r, COUNTER) + 100);
    step_us(&r, 2);
    g_assert_cmpint(r.gsi[0].rises, ==, 2);
    g_assert_cmpint(r.gsi[2].rises, ==, 0);
    wr(&r, CONF, 1);
    g_assert_cmpint(r.gsi[0].level, ==, 1);
    vm_free(r.vm);
}

/* Saved with a periodic level-triggered timer mid-period, legacy mode on and a status
 * bit set: the other VM reads the same counter and fires at the same instants. */
static void test_state(void)
{
    Rig a, b;
    rig_init(&a);
    wr(&a, CONF, 3);
    wr(&a, TCONF(2), ROUTE2 | INT_ENB | PERIODIC | VAL_SET | MODE32 | 2);
    uint32_t c0 = rd(&a, COUNTER);
    wr(&a, TCMP(2), c0 + 5000);
    wr(&a, TCMP(2), 5000);                /* 50 us */
    step_us(&a, 70);                      /* one match at 50 us: status and line set */
    g_assert_cmpint(a.gsi[2].level, ==, 1);
    g_assert_cmpuint(rd(&a, ISR), ==, 4);
    g_autoptr(GByteArray) state = g_byte_array_new();
    vm_lock(a.vm);
    device_save_state(device_find(a.vm, "hpet"), state);
    vm_unlock(a.vm);

    rig_init(&b);
    step_us(&b, 70);
    GError *err = NULL;
    vm_lock(b.vm);
    g_assert_true(device_load_state(device_find(b.vm, "hpet"), state->data, state->len, &err));
    vm_unlock(b.vm);
    g_assert_no_error(err);
    g_assert_cmpint(b.gsi[2].level, ==, 1);
    g_assert_cmpuint(rd(&b, COUNTER), ==, rd(&a, COUNTER));
    g_assert_cmpuint(rd(&b, TCMP(2)), ==, c0 + 10000);
    /* The guest clears the status: the line drops; the next match at 100 us sets it. */
    wr(&a, ISR, 4);
    wr(&b, ISR, 4);
    g_assert_cmpint(b.gsi[2].level, ==, 0);
    step_us(&a, 29);
    step_us(&b, 29);
    g_assert_cmpint(b.gsi[2].level, ==, 0);
    step_us(&a, 2);
    step_us(&b, 2);
    g_assert_cmpint(a.gsi[2].level, ==, 1);
    g_assert_cmpint(b.gsi[2].level, ==, 1);
    g_assert_cmpuint(rd(&b, TCMP(2)), ==, rd(&a, TCMP(2)));
    /* Legacy mode came along: the PIT's line is still cut off. */
    IrqLine pit = hpet_input(b.hpet, HPET_IN_PIT);
    vm_lock(b.vm);
    irq_set(&pit, 1);
    vm_unlock(b.vm);
    g_assert_cmpint(b.gsi[0].level, ==, 0);

    vm_free(a.vm);
    vm_free(b.vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hpet/periodic-late", test_periodic_late);
    g_test_add_func("/hpet/periodic-disabled", test_periodic_disabled);
    g_test_add_func("/hpet/oneshot-wrap", test_oneshot_wrap);
    g_test_add_func("/hpet/legacy", test_legacy);
    g_test_add_func("/hpet/state", test_state);
    return g_test_run();
}
