/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8042 with its PS/2 keyboard and mouse, and port 0x92, as a guest drives them. */
#include "hw/input/i8042.h"
#include "hw/misc/port92.h"
#include "unit.h"

typedef struct Fixture {
    Vm *vm;
    I8042State *kbc;
    TestLine irq1, irq12;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(0);
    IrqLine k = test_line(&f->irq1), m = test_line(&f->irq12);
    IrqLine a20_kbc = vm_cpu_a20_line(f->vm, 0), a20_port92 = vm_cpu_a20_line(f->vm, 1);
    vm_lock(f->vm);
    f->kbc = i8042_new(f->vm, &k, &m, &a20_kbc);
    port92_new(f->vm, &a20_port92);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

static void cmd(Fixture *f, uint8_t c)
{
    outb(f->vm, 0x64, c);
}

static void data(Fixture *f, uint8_t d)
{
    outb(f->vm, 0x60, d);
}

/* A byte from the keyboard or mouse takes 1 ms over its link after the last one was
 * read (i8042.c). */
#define LINK_NS (1000 * 1000)

/* The output byte there is now, or -1 when the output buffer is empty. */
static int next_now(Fixture *f)
{
    if (!(inb(f->vm, 0x64) & 0x01))
        return -1;
    return inb(f->vm, 0x60);
}

/* The next output byte, waiting out a link transfer; -1 when none comes. */
static int next(Fixture *f)
{
    int b = next_now(f);
    if (b == -1) {
        vm_test_clock_step(f->vm, LINK_NS);
        b = next_now(f);
    }
    return b;
}

/* Reads bytes until the buffer is empty and compares them with the expected list. */
static void expect(Fixture *f, const char *what, const int *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int b = next(f);
        if (b != bytes[i])
            g_error("%s: byte %zu is %d, expected 0x%02x", what, i, b, bytes[i]);
    }
    int extra = next(f);
    if (extra != -1)
        g_error("%s: unexpected extra byte 0x%02x", what, extra);
}
#define EXPECT(what, ...) do { \
        static const int e_[] = { __VA_ARGS__ }; \
        expect(f, what, e_, G_N_ELEMENTS(e_)); \
    } while (0)

static void key(Fixture *f, uint16_t code, bool down)
{
    vm_lock(f->vm);
    ps2_keyboard_event(i8042_keyboard(f->kbc), code, down);
    vm_unlock(f->vm);
}

static void move(Fixture *f, int dx, int dy, int dz, unsigned buttons)
{
    vm_lock(f->vm);
    ps2_mouse_event(i8042_mouse(f->kbc), dx, dy, dz, buttons);
    vm_unlock(f->vm);
}

static void set_cb(Fixture *f, uint8_t cb)
{
    cmd(f, 0x60);
    data(f, cb);
}

static void test_self_test(Fixture *f, gconstpointer d)
{
    (void)d;
    g_assert_cmpint(inb(f->vm, 0x64) & 0x04, ==, 0); /* cold boot: SYS clear */
    cmd(f, 0xaa);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x01, ==, 0x01);
    EXPECT("self-test", 0x55);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x04, ==, 0x04);
    cmd(f, 0xab);
    EXPECT("keyboard interface test", 0x00);
    cmd(f, 0xa9);
    EXPECT("mouse interface test", 0x00);
    cmd(f, 0xa4);
    EXPECT("password", 0xf1);
}

static void test_command_byte(Fixture *f, gconstpointer d)
{
    (void)d;
    cmd(f, 0x20);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x08, ==, 0x08); /* last write was a command */
    EXPECT("initial command byte", 0x03);
    set_cb(f, 0x65);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x08, ==, 0x00);
    cmd(f, 0x20);
    EXPECT("written command byte", 0x65);
    /* Other controller RAM bytes. */
    cmd(f, 0x75);
    data(f, 0x9c);
    cmd(f, 0x35);
    EXPECT("RAM byte 0x15", 0x9c);
    /* Port enables are bits 4 and 5. */
    set_cb(f, 0x00);
    cmd(f, 0xad);
    cmd(f, 0xa7);
    cmd(f, 0x20);
    EXPECT("ports disabled", 0x30);
    cmd(f, 0xae);
    cmd(f, 0xa8);
    cmd(f, 0x20);
    EXPECT("ports enabled", 0x00);
}

static void test_a20_output_port(Fixture *f, gconstpointer d)
{
    (void)d;
    g_assert_true(vm_a20(f->vm));
    cmd(f, 0xd0);
    EXPECT("output port", 0xcf);
    cmd(f, 0xd1);
    data(f, 0xdd); /* A20 off, reset line high */
    g_assert_false(vm_a20(f->vm));
    g_assert_false(vm_test_take_reset_request(f->vm));
    cmd(f, 0xd0);
    EXPECT("output port A20 off", 0xcd);
    cmd(f, 0xd1);
    data(f, 0xdf);
    g_assert_true(vm_a20(f->vm));
    cmd(f, 0xdd);
    g_assert_false(vm_a20(f->vm));
    cmd(f, 0xdf);
    g_assert_true(vm_a20(f->vm));
    /* Either source keeps A20 open: port 0x92 holds it while the 8042 lets go. */
    outb(f->vm, 0x92, 0x02);
    cmd(f, 0xdd);
    g_assert_true(vm_a20(f->vm));
    outb(f->vm, 0x92, 0x00);
    g_assert_false(vm_a20(f->vm));
}

static void test_reset_lines(Fixture *f, gconstpointer d)
{
    (void)d;
    cmd(f, 0xff); /* pulses nothing */
    g_assert_false(vm_test_take_reset_request(f->vm));
    cmd(f, 0xfe);
    g_assert_true(vm_test_take_reset_request(f->vm));
    cmd(f, 0xfc); /* bit 0 clear: also the reset line */
    g_assert_true(vm_test_take_reset_request(f->vm));
    cmd(f, 0xd1);
    data(f, 0x02); /* output port bit 0 low */
    g_assert_true(vm_test_take_reset_request(f->vm));
}

static void test_keyboard_reset_identify(Fixture *f, gconstpointer d)
{
    (void)d;
    data(f, 0xff);
    EXPECT("reset", 0xfa, 0xaa);
    data(f, 0xf2);
    EXPECT("identify", 0xfa, 0xab, 0x83);
    data(f, 0xee);
    EXPECT("echo", 0xee);
    data(f, 0xed);
    data(f, 0x05);
    EXPECT("LEDs", 0xfa, 0xfa);
    vm_lock(f->vm);
    g_assert_cmpint(ps2_keyboard_leds(i8042_keyboard(f->kbc)), ==, 0x05);
    vm_unlock(f->vm);
    data(f, 0xfe);
    EXPECT("resend", 0xfa);
    data(f, 0x12);
    EXPECT("unknown command", 0xfe);
    /* Translated, the identify answer reads AB 41 as PCs see it. */
    set_cb(f, 0x43);
    data(f, 0xf2);
    EXPECT("identify translated", 0xfa, 0xab, 0x41);
}

static void test_scancode_sets(Fixture *f, gconstpointer d)
{
    (void)d;
    data(f, 0xf0);
    data(f, 0x00);
    EXPECT("get set", 0xfa, 0xfa, 0x02);
    key(f, 0x1e, true); /* A */
    key(f, 0x1e, false);
    EXPECT("A set 2", 0x1c, 0xf0, 0x1c);
    key(f, 0xe01d, true); /* Right Ctrl */
    key(f, 0xe01d, false);
    EXPECT("RCtrl set 2", 0xe0, 0x14, 0xe0, 0xf0, 0x14);
    key(f, PS2_KEY_PAUSE, true);
    key(f, PS2_KEY_PAUSE, false);
    EXPECT("Pause set 2", 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);

    data(f, 0xf0);
    data(f, 0x01);
    EXPECT("select set 1", 0xfa, 0xfa);
    data(f, 0xf0);
    data(f, 0x00);
    EXPECT("get set 1", 0xfa, 0xfa, 0x01);
    key(f, 0x1e, true);
    key(f, 0x1e, false);
    EXPECT("A set 1", 0x1e, 0x9e);
    key(f, 0xe048, true); /* Up */
    key(f, 0xe048, false);
    EXPECT("Up set 1", 0xe0, 0x48, 0xe0, 0xc8);

    data(f, 0xf0);
    data(f, 0x03);
    EXPECT("select set 3", 0xfa, 0xfa);
    key(f, 0x1e, true);
    key(f, 0x1e, false); /* make only by default */
    key(f, 0x2a, true);  /* Left Shift: make/break */
    key(f, 0x2a, false);
    key(f, 0xe048, true);
    EXPECT("set 3", 0x1c, 0x12, 0xf0, 0x12, 0x63);
    key(f, 0xe048, false);
    /* Make A send breaks too (FC + key list, ended by a command). */
    data(f, 0xfc);
    EXPECT("set key type", 0xfa);
    data(f, 0x1c);
    EXPECT("key in list", 0xfa);
    data(f, 0xf4);
    EXPECT("list ended by a command", 0xfa);
    key(f, 0x1e, true);
    key(f, 0x1e, false);
    EXPECT("A make/break in set 3", 0x1c, 0xf0, 0x1c);
    data(f, 0xf0);
    data(f, 0x07); /* no such set */
    EXPECT("bad set", 0xfa, 0xfe);
    data(f, 0xf4); /* a command ends the wait for the parameter */
    EXPECT("enable", 0xfa);
}

static void test_translation(Fixture *f, gconstpointer d)
{
    (void)d;
    set_cb(f, 0x43); /* translate, both IRQs */
    key(f, 0x1e, true);
    key(f, 0x1e, false);
    EXPECT("A", 0x1e, 0x9e);
    key(f, 0x1c, true); /* Enter */
    key(f, 0x1c, false);
    EXPECT("Enter", 0x1c, 0x9c);
    key(f, 0xe01c, true); /* Keypad Enter */
    key(f, 0xe01c, false);
    EXPECT("KP Enter", 0xe0, 0x1c, 0xe0, 0x9c);
    key(f, 0xe035, true); /* Keypad / */
    key(f, 0xe035, false);
    EXPECT("KP /", 0xe0, 0x35, 0xe0, 0xb5);
    key(f, 0xe05b, true); /* Left GUI */
    key(f, 0xe05b, false);
    EXPECT("LGUI", 0xe0, 0x5b, 0xe0, 0xdb);
    key(f, 0x41, true); /* F7: set 2 0x83 */
    key(f, 0x41, false);
    EXPECT("F7", 0x41, 0xc1);
    key(f, PS2_KEY_PAUSE, true);
    key(f, PS2_KEY_PAUSE, false);
    EXPECT("Pause", 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
    key(f, PS2_KEY_PRINT_SCREEN, true);
    key(f, PS2_KEY_PRINT_SCREEN, false);
    EXPECT("Print Screen", 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);
    key(f, 0x1d, true); /* Ctrl + Pause = Break */
    key(f, PS2_KEY_PAUSE, true);
    key(f, PS2_KEY_PAUSE, false);
    key(f, 0x1d, false);
    EXPECT("Ctrl+Break", 0x1d, 0xe0, 0x46, 0xe0, 0xc6, 0x9d);
    key(f, 0x38, true); /* Alt + Print Screen = SysRq */
    key(f, PS2_KEY_PRINT_SCREEN, true);
    key(f, PS2_KEY_PRINT_SCREEN, false);
    key(f, 0x38, false);
    EXPECT("Alt+SysRq", 0x38, 0x54, 0xd4, 0xb8);
    key(f, 0x2a, true); /* Shift + Print Screen */
    key(f, PS2_KEY_PRINT_SCREEN, true);
    key(f, PS2_KEY_PRINT_SCREEN, false);
    key(f, 0x2a, false);
    EXPECT("Shift+PrtSc", 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xaa);
}

static void test_irq1_and_port_disable(Fixture *f, gconstpointer d)
{
    (void)d;
    key(f, 0x1e, true);
    g_assert_cmpint(f->irq1.level, ==, 1);
    g_assert_cmpint(f->irq12.level, ==, 0);
    g_assert_cmpint(inb(f->vm, 0x60), ==, 0x1c);
    g_assert_cmpint(f->irq1.level, ==, 0);
    /* Keyboard interface disabled: the keyboard keeps the code (even once the link
     * would be free again). */
    cmd(f, 0xad);
    key(f, 0x1e, false);
    vm_test_clock_step(f->vm, LINK_NS);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x01, ==, 0);
    g_assert_cmpint(f->irq1.level, ==, 0);
    cmd(f, 0xae);
    g_assert_cmpint(f->irq1.level, ==, 1);
    EXPECT("held back", 0xf0, 0x1c);
    /* Command byte without INT: OBF without IRQ 1. */
    set_cb(f, 0x00);
    key(f, 0x30, true);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x01, ==, 0x01);
    g_assert_cmpint(f->irq1.level, ==, 0);
    EXPECT("B", 0x32);
    /* Scanning off (F5): keys are ignored. */
    data(f, 0xf5);
    EXPECT("disable", 0xfa);
    key(f, 0x30, false);
    key(f, 0x30, true);
    g_assert_cmpint(next(f), ==, -1);
    /* Write keyboard output buffer (D2). */
    set_cb(f, 0x01);
    cmd(f, 0xd2);
    data(f, 0x5a);
    g_assert_cmpint(f->irq1.level, ==, 1);
    EXPECT("D2", 0x5a);
}

/* After a read of port 0x60 the device's next byte takes 1 ms to arrive: a second read
 * in between returns the same byte (DOS memory managers' IRQ 1 handlers read the port
 * twice), and the next byte raises its IRQ only once it is there. */
static void test_link_delay(Fixture *f, gconstpointer d)
{
    (void)d;
    set_cb(f, 0x43); /* translate, IRQ 1 and 12 */
    key(f, 0x2a, true); /* Left Shift, then A: two bytes waiting */
    key(f, 0x1e, true);
    g_assert_cmpint(f->irq1.level, ==, 1);
    g_assert_cmphex(inb(f->vm, 0x60), ==, 0x2a);
    g_assert_cmpint(f->irq1.level, ==, 0);
    g_assert_cmphex(inb(f->vm, 0x60), ==, 0x2a);
    g_assert_cmphex(inb(f->vm, 0x64) & 0x01, ==, 0);
    vm_test_clock_step(f->vm, LINK_NS - 1000);
    g_assert_cmphex(inb(f->vm, 0x64) & 0x01, ==, 0);
    g_assert_cmpint(f->irq1.level, ==, 0);
    vm_test_clock_step(f->vm, 1000);
    g_assert_cmpint(f->irq1.level, ==, 1);
    g_assert_cmphex(inb(f->vm, 0x60), ==, 0x1e);
    /* The controller's own replies cross no link: they are there at once. */
    cmd(f, 0x20);
    g_assert_cmphex(inb(f->vm, 0x64) & 0x01, ==, 0x01);
    g_assert_cmphex(inb(f->vm, 0x60), ==, 0x43);
    /* Mouse bytes come 1 ms apart too, each with its IRQ 12 edge. */
    vm_test_clock_step(f->vm, LINK_NS);
    cmd(f, 0xd4);
    data(f, 0xf4);
    g_assert_cmphex(inb(f->vm, 0x60), ==, 0xfa);
    move(f, 1, 0, 0, 0);
    int rises = f->irq12.rises;
    static const uint8_t packet[] = { 0x08, 0x01, 0x00 };
    for (size_t i = 0; i < G_N_ELEMENTS(packet); i++) {
        g_assert_cmphex(inb(f->vm, 0x64) & 0x01, ==, 0);
        vm_test_clock_step(f->vm, LINK_NS);
        g_assert_cmpint(f->irq12.rises, ==, rises + (int)i + 1);
        g_assert_cmphex(inb(f->vm, 0x60), ==, packet[i]);
    }
}

static void test_typematic(Fixture *f, gconstpointer d)
{
    (void)d;
    key(f, 0x1e, true);
    EXPECT("press", 0x1c);
    vm_test_clock_step(f->vm, 490 * 1000 * 1000);
    g_assert_cmpint(next(f), ==, -1);
    vm_test_clock_step(f->vm, 20 * 1000 * 1000); /* 500 ms delay */
    EXPECT("first repeat", 0x1c);
    int n = 0;
    for (int i = 0; i < 100; i++) {
        vm_test_clock_step(f->vm, 10 * 1000 * 1000);
        while (next_now(f) == 0x1c)
            n++;
    }
    g_assert_cmpint(n, >=, 10); /* 10.9 per second */
    g_assert_cmpint(n, <=, 11);
    key(f, 0x1e, true); /* host auto-repeat is ignored */
    key(f, 0x1e, false);
    EXPECT("release", 0xf0, 0x1c);
    vm_test_clock_step(f->vm, NS_PER_SEC);
    g_assert_cmpint(next(f), ==, -1);
    /* Fastest rate, shortest delay: 30 per second after 250 ms. */
    data(f, 0xf3);
    data(f, 0x00);
    EXPECT("typematic", 0xfa, 0xfa);
    key(f, 0x1e, true);
    vm_test_clock_step(f->vm, 260 * 1000 * 1000);
    n = 0;
    for (int i = 0; i < 100; i++) {
        while (next_now(f) == 0x1c)
            n++;
        vm_test_clock_step(f->vm, 10 * 1000 * 1000);
    }
    g_assert_cmpint(n, >=, 30);
    g_assert_cmpint(n, <=, 32);
}

static void test_overrun(Fixture *f, gconstpointer d)
{
    (void)d;
    cmd(f, 0xad); /* the controller holds off; the keyboard's buffer fills */
    for (int i = 0; i < 10; i++) {
        key(f, 0x1e, true);
        key(f, 0x1e, false);
    }
    cmd(f, 0xae);
    int n = 0, last = -1, b;
    while ((b = next(f)) != -1) {
        n++;
        last = b;
    }
    g_assert_cmpint(n, ==, 17); /* 16 bytes of codes and the overrun marker */
    g_assert_cmpint(last, ==, 0x00);
}

static void test_mouse_packets(Fixture *f, gconstpointer d)
{
    (void)d;
    cmd(f, 0xd4);
    data(f, 0xf4);
    g_assert_cmpint(inb(f->vm, 0x64) & 0x21, ==, 0x21); /* from the mouse */
    g_assert_cmpint(f->irq12.level, ==, 1);
    g_assert_cmpint(f->irq1.level, ==, 0);
    EXPECT("enable", 0xfa);
    g_assert_cmpint(f->irq12.level, ==, 0);
    move(f, 10, -5, 0, 0);
    EXPECT("right and up", 0x08, 0x0a, 0x05);
    move(f, -3, 4, 0, 1);
    EXPECT("left, down, left button", 0x39, 0xfd, 0xfc);
    move(f, 0, 0, 0, 3);
    EXPECT("right button too", 0x0b, 0x00, 0x00);
    /* Large motion arrives over several packets. */
    move(f, 600, 0, 0, 3);
    EXPECT("split", 0x0b, 0xff, 0x00, 0x0b, 0xff, 0x00, 0x0b, 0x5a, 0x00);
    /* No wheel byte and no wheel report on a standard mouse. */
    move(f, 0, 0, 1, 3);
    g_assert_cmpint(next(f), ==, -1);
    cmd(f, 0xd4);
    data(f, 0xf2);
    EXPECT("identify", 0xfa, 0x00);
    /* Mouse interface disabled: its bytes wait. */
    cmd(f, 0xa7);
    move(f, 1, 0, 0, 3);
    g_assert_cmpint(next(f), ==, -1);
    cmd(f, 0xa8);
    EXPECT("after enable", 0x0b, 0x01, 0x00);
}

static void mouse_cmd(Fixture *f, uint8_t c)
{
    cmd(f, 0xd4);
    data(f, c);
}

static void test_mouse_wheel(Fixture *f, gconstpointer d)
{
    (void)d;
    static const uint8_t knock[] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        mouse_cmd(f, 0xf3);
        mouse_cmd(f, knock[i]);
    }
    EXPECT("knock", 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa);
    mouse_cmd(f, 0xf2);
    EXPECT("IntelliMouse", 0xfa, 0x03);
    mouse_cmd(f, 0xf4);
    EXPECT("enable", 0xfa);
    move(f, 1, 1, 2, 4);
    EXPECT("four bytes", 0x2c, 0x01, 0xff, 0x02);
    move(f, 0, 0, -1, 4);
    EXPECT("wheel up", 0x0c, 0x00, 0x00, 0xff);
    /* Reset returns to a standard mouse. */
    mouse_cmd(f, 0xff);
    EXPECT("reset", 0xfa, 0xaa, 0x00);
    mouse_cmd(f, 0xf2);
    EXPECT("standard again", 0xfa, 0x00);
}

static void test_mouse_settings(Fixture *f, gconstpointer d)
{
    (void)d;
    mouse_cmd(f, 0xe9);
    EXPECT("default status", 0xfa, 0x00, 0x02, 100);
    mouse_cmd(f, 0xe8);
    mouse_cmd(f, 0x03);
    mouse_cmd(f, 0xf3);
    mouse_cmd(f, 40);
    mouse_cmd(f, 0xe7);
    mouse_cmd(f, 0xf4);
    EXPECT("settings", 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa);
    move(f, 0, 0, 0, 1);
    EXPECT("left button packet", 0x09, 0x00, 0x00);
    mouse_cmd(f, 0xe9);
    EXPECT("status", 0xfa, 0x34, 0x03, 40);
    /* Scaling 2:1 maps 4 to 6. */
    move(f, 4, 0, 0, 1);
    EXPECT("scaled", 0x09, 0x06, 0x00);
    mouse_cmd(f, 0xe6);
    EXPECT("1:1", 0xfa);
    move(f, 4, 0, 0, 1);
    EXPECT("unscaled", 0x09, 0x04, 0x00);
    /* An invalid rate is refused. */
    mouse_cmd(f, 0xf3);
    mouse_cmd(f, 33);
    EXPECT("bad rate", 0xfa, 0xfe);
    mouse_cmd(f, 60);
    EXPECT("good rate", 0xfa);
    /* Remote mode: no stream; EB reads the counters. */
    mouse_cmd(f, 0xf0);
    EXPECT("remote", 0xfa);
    move(f, 7, 0, 0, 0);
    g_assert_cmpint(next(f), ==, -1);
    mouse_cmd(f, 0xeb);
    EXPECT("read data", 0xfa, 0x08, 0x07, 0x00);
    mouse_cmd(f, 0xea);
    EXPECT("stream", 0xfa);
    /* Wrap mode echoes until EC. */
    mouse_cmd(f, 0xee);
    mouse_cmd(f, 0x42);
    mouse_cmd(f, 0xec);
    EXPECT("wrap", 0xfa, 0x42, 0xfa);
    /* D3 writes the mouse output buffer. */
    cmd(f, 0xd3);
    data(f, 0x77);
    g_assert_cmpint(f->irq12.level, ==, 1);
    EXPECT("D3", 0x77);
}

static void test_port92(Fixture *f, gconstpointer d)
{
    (void)d;
    g_assert_cmpint(inb(f->vm, 0x92), ==, 0x00);
    cmd(f, 0xdd); /* 8042 lets go of A20 */
    g_assert_false(vm_a20(f->vm));
    outb(f->vm, 0x92, 0x02);
    g_assert_true(vm_a20(f->vm));
    g_assert_cmpint(inb(f->vm, 0x92), ==, 0x02);
    g_assert_false(vm_test_take_reset_request(f->vm));
    outb(f->vm, 0x92, 0x03); /* 0 -> 1 on bit 0: fast reset */
    g_assert_true(vm_test_take_reset_request(f->vm));
    g_assert_cmpint(inb(f->vm, 0x92), ==, 0x03);
    outb(f->vm, 0x92, 0x03); /* no new transition */
    g_assert_false(vm_test_take_reset_request(f->vm));
    outb(f->vm, 0x92, 0x00);
    g_assert_false(vm_a20(f->vm));
    g_assert_false(vm_test_take_reset_request(f->vm));
}

static void test_system_reset(Fixture *f, gconstpointer d)
{
    (void)d;
    set_cb(f, 0x47);
    cmd(f, 0xdd);
    outb(f->vm, 0x92, 0x00);
    data(f, 0xf0);
    data(f, 0x01);
    mouse_cmd(f, 0xf4);
    key(f, 0x1e, true);
    vm_test_system_reset(f->vm);
    g_assert_true(vm_a20(f->vm));
    g_assert_cmpint(inb(f->vm, 0x92), ==, 0x00);
    g_assert_cmpint(next(f), ==, -1);
    cmd(f, 0x20);
    EXPECT("command byte", 0x03);
    data(f, 0xf0);
    data(f, 0x00);
    EXPECT("set 2 again", 0xfa, 0xfa, 0x02);
    move(f, 5, 5, 0, 0); /* reporting off after reset */
    g_assert_cmpint(next(f), ==, -1);
    g_assert_cmpint(f->irq1.level, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/i8042/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("self-test", test_self_test);
    ADD("command-byte", test_command_byte);
    ADD("a20-output-port", test_a20_output_port);
    ADD("reset-lines", test_reset_lines);
    ADD("keyboard-reset-identify", test_keyboard_reset_identify);
    ADD("scancode-sets", test_scancode_sets);
    ADD("translation", test_translation);
    ADD("irq1-and-port-disable", test_irq1_and_port_disable);
    ADD("link-delay", test_link_delay);
    ADD("typematic", test_typematic);
    ADD("overrun", test_overrun);
    ADD("mouse-packets", test_mouse_packets);
    ADD("mouse-wheel", test_mouse_wheel);
    ADD("mouse-settings", test_mouse_settings);
    ADD("port92", test_port92);
    ADD("system-reset", test_system_reset);
    return g_test_run();
}
