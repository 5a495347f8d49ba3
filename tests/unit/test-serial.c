/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 16550A as a guest driver sees it: divisor latch, loopback, FIFOs and their
 * trigger levels, the character timeout, THRE and the IIR priorities. */
#include "hw/char/serial.h"
#include "unit.h"

#include <glib/gstdio.h>

#define COM1 0x3f8

typedef struct Fixture {
    Vm *vm;
    SerialState *uart;
    TestLine irq;
    char *dir, *out_path;
    Chardev *chr;
} Fixture;

/* data: NULL, or a -global for the UART */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->vm = vm_new_for_test(0);
    if (data)
        vm_test_add_global(f->vm, data);
    f->dir = g_dir_make_tmp("vireo-serial-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->out_path = g_build_filename(f->dir, "out", NULL);
    g_autofree char *spec = g_strdup_printf("file:%s", f->out_path);
    f->chr = chardev_open(spec, NULL);
    g_assert_nonnull(f->chr);
    IrqLine l = test_line(&f->irq);
    vm_lock(f->vm);
    f->uart = serial_new(f->vm, COM1, &l, f->chr);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
    chardev_close(f->chr);
    g_unlink(f->out_path);
    g_rmdir(f->dir);
    g_free(f->out_path);
    g_free(f->dir);
}

static void receive(Fixture *f, const char *s)
{
    vm_lock(f->vm);
    serial_receive(f->uart, (const uint8_t *)s, strlen(s));
    vm_unlock(f->vm);
}

/* 115200 / 12 = 9600 baud, 8N1: ten bits a character. */
static int64_t char_ns(void)
{
    return 10 * NS_PER_SEC / 9600;
}

static void test_divisor_latch(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x80);
    g_assert_cmpint(inb(f->vm, COM1), ==, 12); /* power-on 9600 baud */
    g_assert_cmpint(inb(f->vm, COM1 + 1), ==, 0);
    outb(f->vm, COM1, 0x01);
    outb(f->vm, COM1 + 1, 0x00);
    g_assert_cmpint(inb(f->vm, COM1), ==, 0x01);
    outb(f->vm, COM1 + 3, 0x03);
    g_assert_cmpint(inb(f->vm, COM1 + 3), ==, 0x03);
    /* With DLAB clear, offset 1 is IER again and the divisor is untouched. */
    outb(f->vm, COM1 + 1, 0x05);
    g_assert_cmpint(inb(f->vm, COM1 + 1), ==, 0x05);
    outb(f->vm, COM1 + 3, 0x83);
    g_assert_cmpint(inb(f->vm, COM1), ==, 0x01);
    g_assert_cmpint(inb(f->vm, COM1 + 1), ==, 0x00);
    outb(f->vm, COM1 + 3, 0x03);
    /* Scratch register. */
    outb(f->vm, COM1 + 7, 0xa5);
    g_assert_cmpint(inb(f->vm, COM1 + 7), ==, 0xa5);
}

static void test_transmit_to_chardev(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    g_assert_cmpint(inb(f->vm, COM1 + 5), ==, 0x60);
    const char *msg = "Hello, Vireo\n";
    for (const char *p = msg; *p; p++) {
        g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x20, ==, 0x20);
        outb(f->vm, COM1, (uint8_t)*p);
    }
    g_assert_cmpint(inb(f->vm, COM1 + 5), ==, 0x60);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(f->out_path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, msg);
    /* 7-bit words drop the top bit on the line. */
    outb(f->vm, COM1 + 3, 0x02);
    outb(f->vm, COM1, 0xc1);
    g_free(text);
    g_assert_true(g_file_get_contents(f->out_path, &text, NULL, NULL));
    g_assert_cmpint((uint8_t)text[strlen(msg)], ==, 0x41);
}

static void test_loopback(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 4, 0x10);
    inb(f->vm, COM1 + 6);
    outb(f->vm, COM1, 0x5a);
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x01, ==, 0x01);
    g_assert_cmpint(inb(f->vm, COM1), ==, 0x5a);
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x01, ==, 0x00);
    /* Nothing reached the character device. */
    g_autofree char *text = NULL;
    gsize len = 1;
    g_assert_true(g_file_get_contents(f->out_path, &text, &len, NULL));
    g_assert_cmpuint(len, ==, 0);
    /* Modem control loops to modem status: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
    outb(f->vm, COM1 + 4, 0x1f);
    g_assert_cmpint(inb(f->vm, COM1 + 6), ==, 0xf0 | 0x0b);
    g_assert_cmpint(inb(f->vm, COM1 + 6), ==, 0xf0); /* deltas clear on read */
    outb(f->vm, COM1 + 4, 0x11); /* RI falls: TERI; CTS and DCD fall */
    g_assert_cmpint(inb(f->vm, COM1 + 6), ==, 0x20 | 0x04 | 0x01 | 0x08);
    /* Line input is ignored in loopback. */
    receive(f, "x");
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x01, ==, 0);
    /* A break set on the output arrives as a break. */
    outb(f->vm, COM1 + 3, 0x43);
    g_assert_cmpint(inb(f->vm, COM1 + 5), ==, 0x60 | 0x10 | 0x08 | 0x01);
    g_assert_cmpint(inb(f->vm, COM1), ==, 0x00);
}

static void test_fifo_trigger_levels(Fixture *f, gconstpointer data)
{
    (void)data;
    static const struct { uint8_t fcr; unsigned level; } cases[] = {
        { 0x01, 1 }, { 0x41, 4 }, { 0x81, 8 }, { 0xc1, 14 },
    };
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 1, 0x01); /* received data interrupt */
    outb(f->vm, COM1 + 4, 0x08); /* OUT2 */
    for (unsigned c = 0; c < G_N_ELEMENTS(cases); c++) {
        outb(f->vm, COM1 + 2, cases[c].fcr | 0x06);
        for (unsigned i = 0; i + 1 < cases[c].level; i++) {
            receive(f, "a");
            g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
            g_assert_cmpint(f->irq.level, ==, 0);
        }
        receive(f, "b");
        g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc4);
        g_assert_cmpint(f->irq.level, ==, 1);
        /* Below the trigger again after one read. */
        inb(f->vm, COM1);
        if (cases[c].level > 1)
            g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
        outb(f->vm, COM1 + 2, cases[c].fcr | 0x02); /* clear the receive FIFO */
        g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x01, ==, 0);
    }
}

static void test_fifo_order_and_overrun(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 2, 0xc7);
    receive(f, "0123456789abcdefXY");
    /* The 17th character overran; the FIFO kept the first 16. */
    uint8_t lsr = inb(f->vm, COM1 + 5);
    g_assert_cmpint(lsr & 0x03, ==, 0x03);
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x02, ==, 0); /* OE clears on read */
    char got[17] = { 0 };
    for (int i = 0; i < 16; i++)
        got[i] = (char)inb(f->vm, COM1);
    g_assert_cmpstr(got, ==, "0123456789abcdef");
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x01, ==, 0);
    /* Without FIFO, a second character overwrites the first. */
    outb(f->vm, COM1 + 2, 0x00);
    receive(f, "pq");
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x03, ==, 0x03);
    g_assert_cmpint(inb(f->vm, COM1), ==, 'q');
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x01); /* no FIFO bits in IIR */
}

static void test_char_timeout(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 2, 0x81); /* trigger 8 */
    outb(f->vm, COM1 + 1, 0x01);
    outb(f->vm, COM1 + 4, 0x08);
    receive(f, "abc");
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
    vm_test_clock_step(f->vm, 4 * char_ns() - 1000);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
    g_assert_cmpint(f->irq.level, ==, 0);
    vm_test_clock_step(f->vm, 2000);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xcc);
    g_assert_cmpint(f->irq.level, ==, 1);
    /* Reading RBR clears it and restarts the wait. */
    g_assert_cmpint(inb(f->vm, COM1), ==, 'a');
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
    g_assert_cmpint(f->irq.level, ==, 0);
    vm_test_clock_step(f->vm, 4 * char_ns() + 1000);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xcc);
    inb(f->vm, COM1);
    inb(f->vm, COM1);
    vm_test_clock_step(f->vm, 10 * char_ns());
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1); /* empty: no timeout */
    /* A slower line waits longer: 1200 baud. */
    outb(f->vm, COM1 + 3, 0x83);
    outb(f->vm, COM1, 96);
    outb(f->vm, COM1 + 3, 0x03);
    receive(f, "z");
    vm_test_clock_step(f->vm, 4 * char_ns() + 1000);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
    vm_test_clock_step(f->vm, 4 * 8 * char_ns());
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xcc);
}

static void test_thre_interrupt(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 4, 0x08);
    g_assert_cmpint(f->irq.level, ==, 0);
    /* Enabling ETBEI with THR empty raises THRE at once. */
    outb(f->vm, COM1 + 1, 0x02);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x02);
    /* Reading IIR while it shows THRE cleared it. */
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x01);
    g_assert_cmpint(f->irq.level, ==, 0);
    /* Linux's probe: disable and enable again, THRE comes back. */
    outb(f->vm, COM1 + 1, 0x00);
    outb(f->vm, COM1 + 1, 0x02);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x02);
    /* Each character written empties THR again: a new THRE interrupt edge. */
    int rises = f->irq.rises;
    outb(f->vm, COM1, 'x');
    g_assert_cmpint(f->irq.rises, ==, rises + 1);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x02);
    /* QEMU's board ignores OUT2: the line follows the pending interrupt without it. */
    outb(f->vm, COM1 + 4, 0x00);
    outb(f->vm, COM1, 'y');
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x02);
    g_assert_cmpint(f->irq.level, ==, 0);
}

/* strict-out2=on: an IBM PC's card passes the interrupt only while OUT2 is set and the
 * UART is not in loopback (which forces OUT2 inactive). */
static void test_strict_out2(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 4, 0x00);
    outb(f->vm, COM1 + 1, 0x02);
    g_assert_cmpint(f->irq.level, ==, 0);
    outb(f->vm, COM1 + 4, 0x08);
    g_assert_cmpint(f->irq.level, ==, 1);
    outb(f->vm, COM1 + 4, 0x18);
    g_assert_cmpint(f->irq.level, ==, 0);
    outb(f->vm, COM1 + 4, 0x08);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x02);
    g_assert_cmpint(f->irq.level, ==, 0);
}

static void test_iir_priorities(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x03);
    outb(f->vm, COM1 + 2, 0x07); /* FIFO, trigger 1 */
    outb(f->vm, COM1 + 4, 0x08);
    outb(f->vm, COM1 + 1, 0x0f);
    inb(f->vm, COM1 + 2); /* THRE from enabling */
    /* Modem status change (made by entering loopback, where CTS drops and DSR follows
     * DTR): the lowest priority. */
    outb(f->vm, COM1 + 4, 0x09);
    outb(f->vm, COM1 + 4, 0x18 | 0x01);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc0);
    outb(f->vm, COM1 + 4, 0x08);
    /* THRE above modem status. */
    outb(f->vm, COM1, 'x');
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc2);
    outb(f->vm, COM1 + 4, 0x08);
    /* Received data above THRE. */
    outb(f->vm, COM1, 'x');
    receive(f, "r");
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc4);
    /* Line status above received data: fill to overrun. */
    receive(f, "0123456789abcdef");
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc6);
    g_assert_cmpint(inb(f->vm, COM1 + 5) & 0x02, ==, 0x02); /* reading LSR clears it */
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc4);
    for (int i = 0; i < 16; i++)
        inb(f->vm, COM1);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc2);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc0);
    g_assert_cmpint(inb(f->vm, COM1 + 6) & 0x0f, !=, 0);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0xc1);
    g_assert_cmpint(f->irq.level, ==, 0);
}

static void test_modem_status_outside_loopback(Fixture *f, gconstpointer data)
{
    (void)data;
    /* A connected character device is a ready far end: CTS, DSR, DCD. */
    g_assert_cmpint(inb(f->vm, COM1 + 6), ==, 0xb0);
}

static void test_reset(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, COM1 + 3, 0x1b);
    outb(f->vm, COM1 + 1, 0x0f);
    outb(f->vm, COM1 + 4, 0x0b);
    outb(f->vm, COM1 + 2, 0xc1);
    receive(f, "abc");
    vm_test_system_reset(f->vm);
    g_assert_cmpint(inb(f->vm, COM1 + 1), ==, 0);
    g_assert_cmpint(inb(f->vm, COM1 + 2), ==, 0x01);
    g_assert_cmpint(inb(f->vm, COM1 + 3), ==, 0);
    g_assert_cmpint(inb(f->vm, COM1 + 4), ==, 0);
    g_assert_cmpint(inb(f->vm, COM1 + 5), ==, 0x60);
    g_assert_cmpint(f->irq.level, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/serial/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    g_test_add("/serial/strict-out2", Fixture, "isa-serial.strict-out2=on", fixture_setup,
               test_strict_out2, fixture_teardown);
    ADD("divisor-latch", test_divisor_latch);
    ADD("transmit-to-chardev", test_transmit_to_chardev);
    ADD("loopback", test_loopback);
    ADD("fifo-trigger-levels", test_fifo_trigger_levels);
    ADD("fifo-order-and-overrun", test_fifo_order_and_overrun);
    ADD("char-timeout", test_char_timeout);
    ADD("thre-interrupt", test_thre_interrupt);
    ADD("iir-priorities", test_iir_priorities);
    ADD("modem-status", test_modem_status_outside_loopback);
    ADD("reset", test_reset);
    return g_test_run();
}
