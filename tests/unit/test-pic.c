/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8259A pair as a guest sees it: init sequence, masking, priorities, EOI variants,
 * the cascade, ELCR level triggering and spurious interrupts. */
#include "hw/intc/i8259.h"
#include "unit.h"

typedef struct Fixture {
    Vm *vm;
    PicState *pic;
} Fixture;

static void cpu_intr(void *opaque, int n, int level)
{
    (void)n;
    vm_set_cpu_intr(opaque, level);
}

/* Programs both chips the way a PC BIOS does: vectors 0x08 and 0x70, cascade on IR2. */
static void pic_init_bios(Vm *vm, uint8_t icw4)
{
    outb(vm, 0x20, 0x11);
    outb(vm, 0x21, 0x08);
    outb(vm, 0x21, 0x04);
    outb(vm, 0x21, icw4);
    outb(vm, 0xa0, 0x11);
    outb(vm, 0xa1, 0x70);
    outb(vm, 0xa1, 0x02);
    outb(vm, 0xa1, icw4);
    outb(vm, 0x21, 0x00);
    outb(vm, 0xa1, 0x00);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(0);
    IrqLine intr;
    irq_init(&intr, cpu_intr, f->vm, 0);
    vm_lock(f->vm);
    f->pic = i8259_new(f->vm, &intr, vm_cpu_pins(f->vm));
    vm_unlock(f->vm);
    pic_init_bios(f->vm, 0x01);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

static void set_irq(Fixture *f, int irq, int level)
{
    vm_lock(f->vm);
    i8259_set_irq(f->pic, irq, level);
    vm_unlock(f->vm);
}

static void pulse(Fixture *f, int irq)
{
    set_irq(f, irq, 1);
    set_irq(f, irq, 0);
}

static void test_init_and_vector(Fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_irq(f, 1, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x02); /* IRR */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x09);
    g_assert_false(vm_test_cpu_intr(f->vm));
    outb(f->vm, 0x20, 0x0b); /* OCW3: read ISR */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x02);
    outb(f->vm, 0x20, 0x20); /* non-specific EOI */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x00);
    /* Edge triggered: the line still high gives no second interrupt. */
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_irq(f, 1, 0);
}

static void test_mask(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x21, 0x08); /* mask IRQ 3 */
    g_assert_cmpint(inb(f->vm, 0x21), ==, 0x08);
    set_irq(f, 3, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    outb(f->vm, 0x20, 0x0a); /* read IRR */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x08); /* requested, but masked */
    outb(f->vm, 0x21, 0x00);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0b);
}

static void test_priority_and_nesting(Fixture *f, gconstpointer data)
{
    (void)data;
    set_irq(f, 5, 1);
    set_irq(f, 3, 1);
    /* Fixed priority: IR3 before IR5. */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0b);
    /* IR5 is below IR3 in service: no INTR. */
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* A higher request nests. */
    set_irq(f, 0, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x08);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x09);
    outb(f->vm, 0x20, 0x20); /* ends IR0, the highest in service */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x08);
    g_assert_false(vm_test_cpu_intr(f->vm));
    outb(f->vm, 0x20, 0x20); /* ends IR3 */
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0d);
}

static void test_specific_eoi(Fixture *f, gconstpointer data)
{
    (void)data;
    set_irq(f, 4, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0c);
    set_irq(f, 1, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x09);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x12);
    outb(f->vm, 0x20, 0x64); /* specific EOI for IR4 while IR1 is higher */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x02);
    outb(f->vm, 0x20, 0x61);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x00);
}

static void test_rotation(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Rotate on non-specific EOI: the serviced IR becomes the lowest priority. */
    set_irq(f, 1, 1);
    set_irq(f, 4, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x09);
    outb(f->vm, 0x20, 0xa0);
    set_irq(f, 1, 0);
    set_irq(f, 1, 1);
    /* IR1 is now the lowest: IR4 wins. */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0c);
    outb(f->vm, 0x20, 0x20);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x09);
    outb(f->vm, 0x20, 0x20);
    set_irq(f, 1, 0);
    set_irq(f, 4, 0);

    /* Set priority: IR5 lowest makes IR6 the highest. */
    outb(f->vm, 0x20, 0xc5);
    set_irq(f, 0, 1);
    set_irq(f, 6, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0e);
    outb(f->vm, 0x20, 0x66); /* specific EOI IR6 */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x08);
    /* Rotate on specific EOI for IR0: IR1 becomes the highest. */
    outb(f->vm, 0x20, 0xe0);
    set_irq(f, 0, 0);
    set_irq(f, 6, 0);
    set_irq(f, 0, 1);
    set_irq(f, 7, 1);
    set_irq(f, 1, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x09);
    outb(f->vm, 0x20, 0x20);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0f);
    outb(f->vm, 0x20, 0x20);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x08);
}

static void test_auto_eoi(Fixture *f, gconstpointer data)
{
    (void)data;
    pic_init_bios(f->vm, 0x03); /* AEOI */
    set_irq(f, 3, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0b);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x00); /* nothing left in service */
    set_irq(f, 5, 1);
    g_assert_true(vm_test_cpu_intr(f->vm)); /* lower level not blocked */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0d);
    /* Rotate in AEOI mode. */
    outb(f->vm, 0x20, 0x80);
    set_irq(f, 3, 0);
    set_irq(f, 3, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0b);
    set_irq(f, 3, 0);
    set_irq(f, 3, 1);
    set_irq(f, 6, 1);
    /* IR3 became the lowest: IR6 first. */
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0e);
}

static void test_cascade(Fixture *f, gconstpointer data)
{
    (void)data;
    set_irq(f, 12, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x04); /* master sees IR2 */
    g_assert_cmpint(inb(f->vm, 0xa0), ==, 0x10);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x74);
    outb(f->vm, 0x20, 0x0b);
    outb(f->vm, 0xa0, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x04);
    g_assert_cmpint(inb(f->vm, 0xa0), ==, 0x10);
    /* Another slave request waits for both EOIs. */
    set_irq(f, 9, 1);
    g_assert_false(vm_test_cpu_intr(f->vm)); /* same level as IR2 in service */
    outb(f->vm, 0xa0, 0x20);
    g_assert_false(vm_test_cpu_intr(f->vm)); /* master IR2 still in service */
    outb(f->vm, 0x20, 0x20);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x71);
    /* Masking IR2 on the master hides every slave input. */
    outb(f->vm, 0xa0, 0x20);
    outb(f->vm, 0x20, 0x20);
    outb(f->vm, 0x21, 0x04);
    set_irq(f, 14, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    outb(f->vm, 0x21, 0x00);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x76);
}

static void test_slave_nests_over_master_low(Fixture *f, gconstpointer data)
{
    (void)data;
    /* IRQ 8-15 sit at IR2's priority: above IRQ 3-7, below IRQ 0-1. */
    set_irq(f, 5, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0d);
    set_irq(f, 8, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x70);
}

static void test_special_fully_nested(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Master in SFNM, slave normal: a higher slave request gets through while a lower
     * slave interrupt is in service. */
    outb(f->vm, 0x20, 0x11);
    outb(f->vm, 0x21, 0x08);
    outb(f->vm, 0x21, 0x04);
    outb(f->vm, 0x21, 0x11);
    set_irq(f, 12, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x74);
    set_irq(f, 9, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x71);
    /* Without SFNM the same sequence blocks. */
    pic_init_bios(f->vm, 0x01);
    set_irq(f, 12, 0);
    set_irq(f, 9, 0);
    set_irq(f, 12, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x74);
    set_irq(f, 9, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
}

static void test_special_mask(Fixture *f, gconstpointer data)
{
    (void)data;
    set_irq(f, 3, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0b);
    set_irq(f, 6, 1);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* Handler masks its own level and enters special mask mode: IR6 gets through. */
    outb(f->vm, 0x21, 0x08);
    outb(f->vm, 0x20, 0x68);
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0e);
    outb(f->vm, 0x20, 0x66);
    outb(f->vm, 0x20, 0x48); /* leave special mask mode */
    outb(f->vm, 0x21, 0x00);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x08);
}

static void test_poll(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x20, 0x0c); /* poll */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x00);
    set_irq(f, 6, 1);
    outb(f->vm, 0x20, 0x0c);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x86);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x40); /* poll set ISR like an INTA */
    /* Only the next read was a poll. */
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x40);
}

static void test_elcr_level(Fixture *f, gconstpointer data)
{
    (void)data;
    /* IRQ 0-2, 8 and 13 cannot be level triggered. */
    outb(f->vm, 0x4d0, 0xff);
    outb(f->vm, 0x4d1, 0xff);
    g_assert_cmpint(inb(f->vm, 0x4d0), ==, 0xf8);
    g_assert_cmpint(inb(f->vm, 0x4d1), ==, 0xde);
    outb(f->vm, 0x4d0, 0x00);
    outb(f->vm, 0x4d1, 0x08); /* IRQ 11 level */
    set_irq(f, 11, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x73);
    outb(f->vm, 0xa0, 0x20);
    outb(f->vm, 0x20, 0x20);
    /* Still high after EOI: level triggering asks again. */
    g_assert_true(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x73);
    outb(f->vm, 0xa0, 0x20);
    outb(f->vm, 0x20, 0x20);
    set_irq(f, 11, 0);
    g_assert_false(vm_test_cpu_intr(f->vm));
    /* The same input edge triggered asks once. */
    outb(f->vm, 0x4d1, 0x00);
    set_irq(f, 11, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x73);
    outb(f->vm, 0xa0, 0x20);
    outb(f->vm, 0x20, 0x20);
    g_assert_false(vm_test_cpu_intr(f->vm));
}

static void test_ltim(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x20, 0x19); /* ICW1 with LTIM */
    outb(f->vm, 0x21, 0x08);
    outb(f->vm, 0x21, 0x04);
    outb(f->vm, 0x21, 0x01);
    set_irq(f, 4, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0c);
    outb(f->vm, 0x20, 0x20);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0c);
}

static void test_spurious(Fixture *f, gconstpointer data)
{
    (void)data;
    /* A level request that goes away before the acknowledge gives IRQ 7. */
    outb(f->vm, 0x4d0, 0x20);
    set_irq(f, 5, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    set_irq(f, 5, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0f);
    outb(f->vm, 0x20, 0x0b);
    g_assert_cmpint(inb(f->vm, 0x20), ==, 0x00); /* no ISR bit for a spurious IRQ */
    /* An edge request dropped before INTA is lost as well (8259A). */
    set_irq(f, 3, 1);
    set_irq(f, 3, 0);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0f);
    /* A slave request withdrawn before INTA takes the master's IR2 down with it: the
     * master answers with its own IR7. */
    outb(f->vm, 0x4d1, 0x02);
    set_irq(f, 9, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    outb(f->vm, 0xa1, 0x02);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0f);
}

static void test_spurious_after_mask(Fixture *f, gconstpointer data)
{
    (void)data;
    set_irq(f, 12, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
    /* The CPU took INTR, then the master's mask changed before INTA. */
    outb(f->vm, 0x21, 0x04);
    g_assert_false(vm_test_cpu_intr(f->vm));
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0f);
}

static void test_pulse_is_edge(Fixture *f, gconstpointer data)
{
    (void)data;
    /* An edge-triggered line held high after the acknowledge keeps nothing pending. */
    set_irq(f, 4, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x0c);
    outb(f->vm, 0x20, 0x20);
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_irq(f, 4, 0);
    pulse(f, 4);
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_irq(f, 4, 1);
    g_assert_true(vm_test_cpu_intr(f->vm));
}

static void test_input_line(Fixture *f, gconstpointer data)
{
    (void)data;
    IrqLine line = i8259_input(f->pic, 10);
    vm_lock(f->vm);
    irq_raise(&line);
    vm_unlock(f->vm);
    g_assert_true(vm_test_cpu_intr(f->vm));
    vm_lock(f->vm);
    g_assert_true(i8259_intr_level(f->pic));
    vm_unlock(f->vm);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x72);
}

static void test_reinit_clears(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x21, 0x55);
    set_irq(f, 1, 1);
    outb(f->vm, 0x20, 0x11);
    g_assert_cmpint(inb(f->vm, 0x21), ==, 0x00); /* ICW1 clears IMR... */
    outb(f->vm, 0x21, 0x20);                    /* ...and ICW2 follows on port 1 */
    outb(f->vm, 0x21, 0x04);
    outb(f->vm, 0x21, 0x01);
    /* The edge latched before ICW1 is gone. */
    g_assert_false(vm_test_cpu_intr(f->vm));
    set_irq(f, 1, 0);
    set_irq(f, 1, 1);
    g_assert_cmpint(vm_test_intr_ack(f->vm), ==, 0x21);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/pic/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("init-and-vector", test_init_and_vector);
    ADD("mask", test_mask);
    ADD("priority-and-nesting", test_priority_and_nesting);
    ADD("specific-eoi", test_specific_eoi);
    ADD("rotation", test_rotation);
    ADD("auto-eoi", test_auto_eoi);
    ADD("cascade", test_cascade);
    ADD("slave-nests-over-master-low", test_slave_nests_over_master_low);
    ADD("special-fully-nested", test_special_fully_nested);
    ADD("special-mask", test_special_mask);
    ADD("poll", test_poll);
    ADD("elcr-level", test_elcr_level);
    ADD("ltim", test_ltim);
    ADD("spurious", test_spurious);
    ADD("spurious-after-mask", test_spurious_after_mask);
    ADD("pulse-is-edge", test_pulse_is_edge);
    ADD("input-line", test_input_line);
    ADD("reinit-clears", test_reinit_clears);
    return g_test_run();
}
