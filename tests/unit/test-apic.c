/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The local APIC and the I/O APIC as the CPU and a guest see them: register reset
 * values, priority and EOI, the spurious vector, the ExtINT path to the 8259, the timer
 * against the manual clock, ESR, IA32_APIC_BASE, and I/O APIC redirection with
 * edge/level triggering and Remote IRR. */
#include "hw/intc/apic.h"
#include "hw/intc/ioapic.h"
#include "engine/vcpu.h"
#include "unit.h"

#define LAPIC APIC_DEFAULT_BASE
#define IOAPIC IOAPIC_DEFAULT_BASE

typedef struct Fixture {
    Vm *vm;
    ApicState *apic;
    IoapicState *ioapic;
    int pic_acks;
} Fixture;

/* Stands in for the 8259: answers INTA with vector 0x20 + number of acks so far. */
static int fake_pic_ack(void *opaque)
{
    Fixture *f = opaque;
    return 0x20 + f->pic_acks++;
}

static uint32_t rd(Fixture *f, hwaddr a)
{
    vm_lock(f->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(f->vm), a, 4);
    vm_unlock(f->vm);
    return v;
}

static void wr(Fixture *f, hwaddr a, uint32_t v)
{
    vm_lock(f->vm);
    mem_dispatch_write(vm_mem(f->vm), a, v, 4);
    vm_unlock(f->vm);
}

static uint32_t io_rd(Fixture *f, unsigned reg)
{
    wr(f, IOAPIC, reg);
    return rd(f, IOAPIC + 0x10);
}

static void io_wr(Fixture *f, unsigned reg, uint32_t v)
{
    wr(f, IOAPIC, reg);
    wr(f, IOAPIC + 0x10, v);
}

static void deliver(Fixture *f, uint8_t vector)
{
    vm_lock(f->vm);
    g_assert_true(apic_deliver(f->apic, APIC_DM_FIXED, vector, false));
    vm_unlock(f->vm);
}

static void set_pin(Fixture *f, int pin, int level)
{
    vm_lock(f->vm);
    ioapic_set_irq(f->ioapic, pin, level);
    vm_unlock(f->vm);
}

static void set_lint0(Fixture *f, int level)
{
    vm_lock(f->vm);
    apic_set_lint(f->apic, 0, level);
    vm_unlock(f->vm);
}

static bool irr_has(Fixture *f, unsigned v)
{
    return rd(f, LAPIC + 0x200 + (v >> 5) * 0x10) & (1u << (v & 31));
}

static bool isr_has(Fixture *f, unsigned v)
{
    return rd(f, LAPIC + 0x100 + (v >> 5) * 0x10) & (1u << (v & 31));
}

static void eoi(Fixture *f)
{
    wr(f, LAPIC + 0xb0, 0);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(0);
    vm_lock(f->vm);
    f->apic = apic_new(f->vm, 0, vm_cpu_pins(f->vm), fake_pic_ack, f);
    f->ioapic = ioapic_new(f->vm, IOAPIC, f->apic);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

static void enable(Fixture *f)
{
    wr(f, LAPIC + 0xf0, 0x1ff);
}

static void test_reset_values(Fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmphex(apic_get_base(f->apic), ==, 0xfee00900);
    g_assert_cmphex(rd(f, LAPIC + 0x20), ==, 0);
    g_assert_cmphex(rd(f, LAPIC + 0x30), ==, 0x00050014);
    g_assert_cmphex(rd(f, LAPIC + 0xe0), ==, 0xffffffff);
    g_assert_cmphex(rd(f, LAPIC + 0xf0), ==, 0xff);
    g_assert_cmphex(rd(f, LAPIC + 0x320), ==, 0x10000);
    g_assert_cmphex(rd(f, LAPIC + 0x350), ==, 0x700);
    g_assert_cmphex(rd(f, LAPIC + 0x360), ==, 0x400);
    g_assert_cmphex(rd(f, LAPIC + 0x370), ==, 0x10000);
    /* Byte reads pick out of the 32-bit register. */
    vm_lock(f->vm);
    g_assert_cmphex(mem_dispatch_read(vm_mem(f->vm), LAPIC + 0x32, 1), ==, 0x05);
    vm_unlock(f->vm);
    g_assert_cmphex(io_rd(f, 0x01), ==, 0x00170011);
    for (unsigned pin = 0; pin < 24; pin++)
        g_assert_cmphex(io_rd(f, 0x10 + 2 * pin), ==, 0x10000);
    /* A software-disabled APIC refuses fixed interrupts and keeps LVTs masked. */
    vm_lock(f->vm);
    g_assert_false(apic_deliver(f->apic, APIC_DM_FIXED, 0x40, false));
    vm_unlock(f->vm);
    wr(f, LAPIC + 0x320, 0x30);
    g_assert_cmphex(rd(f, LAPIC + 0x320), ==, 0x10030);
}

static void test_priority_and_eoi(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    g_assert_false(vm_test_cpu_intr(f->vm));
    deliver(f, 0x31);
    deliver(f, 0x52);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x52);
    g_assert_true(isr_has(f, 0x52));
    g_assert_false(irr_has(f, 0x52));
    g_assert_cmphex(rd(f, LAPIC + 0xa0), ==, 0x50); /* PPR from the ISR */
    /* 0x31 is in a lower class than the one in service: it waits. */
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* 0x5f is in the same class: it waits too (§10.8.3.1: above, not equal). */
    deliver(f, 0x5f);
    g_assert_false(vm_test_cpu_intr(f->vm));
    deliver(f, 0x61);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x61);
    eoi(f); /* ends 0x61, the highest in service */
    g_assert_false(isr_has(f, 0x61));
    g_assert_true(isr_has(f, 0x52));
    eoi(f);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x5f);
    eoi(f);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x31);
    eoi(f);
    g_assert_false(vm_test_cpu_intr(f->vm));

    /* TPR holds back its class and below; PPR follows it. */
    wr(f, LAPIC + 0x80, 0x45);
    g_assert_cmphex(rd(f, LAPIC + 0xa0), ==, 0x45);
    deliver(f, 0x4f);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmphex(rd(f, LAPIC + 0x90), ==, 0x45); /* APR: TPR at or above the IRR */
    deliver(f, 0x50);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x50);
    eoi(f);
    wr(f, LAPIC + 0x80, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x4f);
    eoi(f);
}

static void test_spurious(Fixture *f, gconstpointer data)
{
    (void)data;
    /* P6: the low four bits of the spurious vector read as ones. */
    wr(f, LAPIC + 0xf0, 0x1e0);
    g_assert_cmphex(rd(f, LAPIC + 0xf0), ==, 0x1ef);
    set_lint0(f, 0);
    deliver(f, 0x70);
    g_assert_true(vm_test_cpu_intr(f->vm));
    /* The CPU saw INTR, then the TPR went up before the acknowledge. */
    wr(f, LAPIC + 0x80, 0x80);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0xef);
    g_assert_false(isr_has(f, 0xef));
    g_assert_true(irr_has(f, 0x70));
    wr(f, LAPIC + 0x80, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x70);
}

static void test_extint(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Virtual wire: the 8259's INTR reaches the CPU through LINT0 even before the
     * APIC is software-enabled, and INTA goes to the 8259. */
    set_lint0(f, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x20);
    /* The APIC's own interrupts come first. */
    enable(f);
    deliver(f, 0x90);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x90);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x21);
    /* Masked LINT0: the 8259 is cut off. */
    wr(f, LAPIC + 0x350, 0x10700);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* Software disable masks it too; unmasking needs the enable first. */
    wr(f, LAPIC + 0xf0, 0xff);
    wr(f, LAPIC + 0x350, 0x700);
    g_assert_false(vm_test_cpu_intr(f->vm));
    enable(f);
    wr(f, LAPIC + 0x350, 0x700);
    g_assert_true(vm_test_cpu_intr(f->vm));
    set_lint0(f, 0);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* The 8259's INTR fell between the CPU's INTR and its INTA (an edge input withdrawn):
     * the INTA still goes to the 8259, which answers (on a PC, spurious IRQ 7), not the
     * APIC's spurious vector. */
    int acks = f->pic_acks;
    set_lint0(f, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    set_lint0(f, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x20 + acks);
    g_assert_cmpint(f->pic_acks, ==, acks + 1);
}

static void test_lint(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    /* LINT1 is the NMI input: one NMI per rising edge. */
    vm_lock(f->vm);
    apic_set_lint(f->apic, 1, 1);
    vm_unlock(f->vm);
    g_assert_true(vcpu_take_nmi(vm_vcpu(f->vm)));
    vm_lock(f->vm);
    apic_set_lint(f->apic, 1, 1);
    vm_unlock(f->vm);
    g_assert_false(vcpu_take_nmi(vm_vcpu(f->vm)));
    /* LINT0 as a fixed, level-triggered input: Remote IRR until the EOI, and again
     * while the pin stays high. */
    wr(f, LAPIC + 0x350, 0x8000 | 0x66);
    set_lint0(f, 1);
    g_assert_cmphex(rd(f, LAPIC + 0x350), ==, 0xc066);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x66);
    g_assert_false(vm_test_cpu_intr(f->vm));
    eoi(f);
    g_assert_true(irr_has(f, 0x66));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x66);
    set_lint0(f, 0);
    eoi(f);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmphex(rd(f, LAPIC + 0x350), ==, 0x8066);
    /* Edge-triggered: one interrupt per rising edge. */
    wr(f, LAPIC + 0x350, 0x67);
    set_lint0(f, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x67);
    eoi(f);
    set_lint0(f, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
}

static void test_apic_base(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    vm_lock(f->vm);
    /* Reserved bits: #GP. */
    g_assert_false(apic_set_base(f->apic, 0xfee00900 | 0x400));
    /* Moved: the registers answer at the new page only. */
    g_assert_true(apic_set_base(f->apic, 0xfed00800));
    g_assert_cmphex(apic_get_base(f->apic), ==, 0xfed00900);
    vm_unlock(f->vm);
    g_assert_cmphex(rd(f, 0xfed00030), ==, 0x00050014);
    g_assert_cmphex(rd(f, LAPIC + 0x30), ==, 0xffffffff);
    /* Above 4 GiB (a 36-bit base), and back; bits above 35 are reserved. */
    vm_lock(f->vm);
    g_assert_false(apic_set_base(f->apic, UINT64_C(0x1000000000) | 0x800));
    g_assert_true(apic_set_base(f->apic, UINT64_C(0xf00000000) | 0x800));
    vm_unlock(f->vm);
    g_assert_cmphex(rd(f, UINT64_C(0xf00000030)), ==, 0x00050014);
    vm_lock(f->vm);
    g_assert_true(apic_set_base(f->apic, 0xfed00800));
    vm_unlock(f->vm);
    /* Globally disabled: no registers, LINT0 is INTR, INTA goes to the 8259. */
    vm_lock(f->vm);
    g_assert_true(apic_set_base(f->apic, 0xfee00000));
    vm_unlock(f->vm);
    g_assert_cmphex(rd(f, LAPIC + 0x30), ==, 0xffffffff);
    g_assert_cmphex(rd(f, 0xfed00030), ==, 0xffffffff);
    set_lint0(f, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x20);
    set_lint0(f, 0);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* Enabled again, it starts from its power-up state. */
    vm_lock(f->vm);
    g_assert_true(apic_set_base(f->apic, 0xfee00800));
    vm_unlock(f->vm);
    g_assert_cmphex(rd(f, LAPIC + 0xf0), ==, 0xff);
    /* A system reset restores the base. */
    vm_lock(f->vm);
    g_assert_true(apic_set_base(f->apic, 0xfed00800));
    vm_unlock(f->vm);
    vm_test_system_reset(f->vm);
    g_assert_cmphex(apic_get_base(f->apic), ==, 0xfee00900);
    g_assert_cmphex(rd(f, LAPIC + 0x30), ==, 0x00050014);
}

static void test_timer_oneshot(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    wr(f, LAPIC + 0x3e0, 0xb); /* divide by 1: 10 ns per count at 100 MHz */
    g_assert_cmphex(rd(f, LAPIC + 0x3e0), ==, 0xb);
    wr(f, LAPIC + 0x320, 0x40);
    wr(f, LAPIC + 0x380, 1000);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 1000);
    vm_test_clock_step(f->vm, 5000);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 500);
    g_assert_false(vm_test_cpu_intr(f->vm));
    vm_test_clock_step(f->vm, 4990);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    vm_test_clock_step(f->vm, 10);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 0);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x40);
    eoi(f);
    /* One shot: nothing more, the count stays at zero. */
    vm_test_clock_step(f->vm, 1000000);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 0);
    g_assert_cmpuint(rd(f, LAPIC + 0x380), ==, 1000);

    /* Divide by 128: 1.28 us per count. */
    wr(f, LAPIC + 0x3e0, 0xa);
    wr(f, LAPIC + 0x380, 100);
    vm_test_clock_step(f->vm, 1280 * 99);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* A masked timer still counts down but raises nothing. */
    wr(f, LAPIC + 0x320, 0x10040);
    vm_test_clock_step(f->vm, 1280);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 0);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* Writing 0 stops a running count. */
    wr(f, LAPIC + 0x320, 0x40);
    wr(f, LAPIC + 0x380, 50);
    wr(f, LAPIC + 0x380, 0);
    vm_test_clock_step(f->vm, 1000000);
    g_assert_false(vm_test_cpu_intr(f->vm));
}

/* Switching a running periodic timer to one-shot: the count in progress ends once with
 * an interrupt, then the timer stays at zero. */
static void test_timer_periodic_to_oneshot(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    wr(f, LAPIC + 0x3e0, 0x3);          /* divide by 16: 160 ns per count */
    wr(f, LAPIC + 0x320, 0x20000 | 0x42);
    wr(f, LAPIC + 0x380, 625);          /* 100 us period */
    int taken = 0;
    for (int i = 0; i < 5; i++) {
        vm_test_clock_step(f->vm, 50000);
        if (vm_test_cpu_intr(f->vm)) {
            g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x42);
            eoi(f);
            taken++;
        }
    }
    g_assert_cmpint(taken, ==, 2);      /* at 100 and 200 us; now 250 us */
    wr(f, LAPIC + 0x320, 0x42);         /* one-shot */
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 313);
    vm_test_clock_step(f->vm, 49990);
    g_assert_false(vm_test_cpu_intr(f->vm));
    vm_test_clock_step(f->vm, 10);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x42);
    eoi(f);
    vm_test_clock_step(f->vm, 1000000);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 0);
    /* A divider change after the end does not bring the interrupt back. */
    wr(f, LAPIC + 0x3e0, 0xb);
    vm_test_clock_step(f->vm, 1000000);
    g_assert_false(vm_test_cpu_intr(f->vm));
}

static void test_timer_periodic(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    wr(f, LAPIC + 0x3e0, 0x3);          /* divide by 16: 160 ns per count */
    wr(f, LAPIC + 0x320, 0x20000 | 0x41);
    wr(f, LAPIC + 0x380, 625);          /* 100 us period */
    int taken = 0;
    for (int i = 0; i < 50; i++) {
        vm_test_clock_step(f->vm, 50000);
        /* Half way through each period the count is half the initial count. */
        if (i % 2 == 0)
            g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 313);
        if (vm_test_cpu_intr(f->vm)) {
            g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x41);
            eoi(f);
            taken++;
        }
    }
    g_assert_cmpint(taken, ==, 25);
    /* A new divider keeps the count where it is and goes on at the new rate. */
    vm_test_clock_step(f->vm, 16000); /* 100 counts into a period */
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 525);
    wr(f, LAPIC + 0x3e0, 0xb);          /* divide by 1 */
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 525);
    vm_test_clock_step(f->vm, 5240);
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    vm_test_clock_step(f->vm, 10);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpuint(rd(f, LAPIC + 0x390), ==, 625);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x41);
    eoi(f);
    /* A periodic count of 1 at 10 ns would fire 100 million times a second: the
     * timer is held to one interrupt per 50 us instead. */
    wr(f, LAPIC + 0x380, 1);
    int fired = 0;
    for (int i = 0; i < 100; i++) {
        vm_test_clock_step(f->vm, 10000);
        if (vm_test_cpu_intr(f->vm)) {
            vm_test_intr_ack(f->vm);
            eoi(f);
            fired++;
        }
    }
    g_assert_cmpint(fired, >=, 19);
    g_assert_cmpint(fired, <=, 21);
}

static void test_esr_and_ipi(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    /* A self-IPI through the shorthand. */
    wr(f, LAPIC + 0x300, 0x40000 | 0x55);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x55);
    eoi(f);
    /* Physical destination = our ID, and logical flat with our LDR bit. */
    wr(f, LAPIC + 0x310, 0x00000000);
    wr(f, LAPIC + 0x300, 0x56);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x56);
    eoi(f);
    wr(f, LAPIC + 0xd0, 0x02000000);
    wr(f, LAPIC + 0x310, 0x04000000);
    wr(f, LAPIC + 0x300, 0x800 | 0x57);
    g_assert_false(vm_test_cpu_intr(f->vm));
    wr(f, LAPIC + 0x310, 0x06000000);
    wr(f, LAPIC + 0x300, 0x800 | 0x57);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x57);
    eoi(f);
    /* All excluding self reaches nobody on one CPU. */
    wr(f, LAPIC + 0x300, 0xc0000 | 0x58);
    g_assert_false(vm_test_cpu_intr(f->vm));

    /* An illegal vector is refused and recorded; ESR shows it after a write. */
    wr(f, LAPIC + 0x370, 0xe3);        /* error LVT: vector 0xe3 */
    wr(f, LAPIC + 0x280, 0);
    g_assert_cmphex(rd(f, LAPIC + 0x280), ==, 0);
    wr(f, LAPIC + 0x300, 0x40000 | 0x05);
    g_assert_cmphex(rd(f, LAPIC + 0x280), ==, 0);  /* not yet latched */
    g_assert_true(irr_has(f, 0xe3));
    wr(f, LAPIC + 0x280, 0);
    g_assert_cmphex(rd(f, LAPIC + 0x280), ==, 0x20);
    wr(f, LAPIC + 0x280, 0);
    g_assert_cmphex(rd(f, LAPIC + 0x280), ==, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0xe3);
    eoi(f);
    /* Receive side (I/O APIC message with vector 3) and a reserved register. */
    vm_lock(f->vm);
    g_assert_false(apic_deliver(f->apic, APIC_DM_FIXED, 3, false));
    vm_unlock(f->vm);
    rd(f, LAPIC + 0x3f0);
    wr(f, LAPIC + 0x280, 0);
    g_assert_cmphex(rd(f, LAPIC + 0x280), ==, 0xc0);
}

static void test_ioapic_edge(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    set_lint0(f, 0);
    /* Masked entries lose their edges. */
    set_pin(f, 2, 1);
    set_pin(f, 2, 0);
    io_wr(f, 0x14, 0x31);              /* pin 2: vector 0x31, fixed, edge, high */
    io_wr(f, 0x15, 0x00000000);        /* destination APIC 0 */
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_pin(f, 2, 1);
    g_assert_true(irr_has(f, 0x31));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x31);
    /* Still high: no second edge. */
    set_pin(f, 2, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    eoi(f);
    set_pin(f, 2, 0);
    set_pin(f, 2, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x31);
    eoi(f);
    set_pin(f, 2, 0);
    g_assert_cmphex(io_rd(f, 0x14), ==, 0x31);
    /* Active low: the falling edge asserts. */
    io_wr(f, 0x14, 0x2000 | 0x32);
    set_pin(f, 2, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_pin(f, 2, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x32);
    eoi(f);
    /* A destination that is not ours. */
    io_wr(f, 0x15, 0x05000000);
    set_pin(f, 2, 1);
    set_pin(f, 2, 0);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* NMI delivery. */
    io_wr(f, 0x16, 0x400);
    io_wr(f, 0x17, 0);
    set_pin(f, 3, 1);
    g_assert_true(vcpu_take_nmi(vm_vcpu(f->vm)));
    /* ExtINT: pin 0 brings the 8259's vector even with LINT0 masked. */
    wr(f, LAPIC + 0x350, 0x10700);
    io_wr(f, 0x10, 0x700);
    io_wr(f, 0x11, 0);
    set_lint0(f, 1);
    set_pin(f, 0, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x20);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* The ID register is writable (4 bits), the arbitration ID follows it. */
    io_wr(f, 0x00, 0x0f000000);
    g_assert_cmphex(io_rd(f, 0x00), ==, 0x0f000000);
    g_assert_cmphex(io_rd(f, 0x02), ==, 0x0f000000);
}

static void test_ioapic_level(Fixture *f, gconstpointer data)
{
    (void)data;
    enable(f);
    io_wr(f, 0x10 + 2 * 10, 0x8000 | 0x10000 | 0x61); /* level, masked */
    io_wr(f, 0x11 + 2 * 10, 0);
    set_pin(f, 10, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* Unmasking an asserted level input delivers at once. */
    io_wr(f, 0x10 + 2 * 10, 0x8000 | 0x61);
    g_assert_true(irr_has(f, 0x61));
    g_assert_cmphex(rd(f, LAPIC + 0x180 + 3 * 0x10) & 2, ==, 2); /* TMR */
    g_assert_cmphex(io_rd(f, 0x10 + 2 * 10), ==, 0x4000 | 0x8000 | 0x61); /* Remote IRR */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x61);
    /* Until the EOI, the still-high line sends nothing more. */
    set_pin(f, 10, 1);
    g_assert_false(irr_has(f, 0x61));
    /* EOI with the line still high: Remote IRR clears and it interrupts again. */
    eoi(f);
    g_assert_true(irr_has(f, 0x61));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x61);
    /* The device is serviced: the line drops before the EOI. */
    set_pin(f, 10, 0);
    eoi(f);
    g_assert_cmphex(io_rd(f, 0x10 + 2 * 10), ==, 0x8000 | 0x61);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* A lost EOI: switching to edge clears a stuck Remote IRR. */
    set_pin(f, 10, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x61);
    set_pin(f, 10, 0);
    g_assert_cmphex(io_rd(f, 0x10 + 2 * 10) & 0x4000, ==, 0x4000);
    io_wr(f, 0x10 + 2 * 10, 0x10000 | 0x61);
    io_wr(f, 0x10 + 2 * 10, 0x8000 | 0x61);
    g_assert_cmphex(io_rd(f, 0x10 + 2 * 10), ==, 0x8000 | 0x61);
    /* Out-of-range register indexes read 0 and do not crash. */
    g_assert_cmphex(io_rd(f, 0x40), ==, 0);
    g_assert_cmphex(io_rd(f, 0xff), ==, 0);
    io_wr(f, 0xff, 0xffffffff);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/apic/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("reset-values", test_reset_values);
    ADD("priority-eoi", test_priority_and_eoi);
    ADD("spurious", test_spurious);
    ADD("extint", test_extint);
    ADD("lint", test_lint);
    ADD("apic-base", test_apic_base);
    ADD("timer-oneshot", test_timer_oneshot);
    ADD("timer-periodic-to-oneshot", test_timer_periodic_to_oneshot);
    ADD("timer-periodic", test_timer_periodic);
    ADD("esr-ipi", test_esr_and_ipi);
    ADD("ioapic-edge", test_ioapic_edge);
    ADD("ioapic-level", test_ioapic_level);
    return g_test_run();
}
