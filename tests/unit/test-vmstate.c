/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Device state save and load: each converted device is saved in the middle of
 * activity, restored into a fresh VM, and then the original and the copy are driven
 * with the same inputs; their register reads, IRQ levels and timer-driven events must
 * match. Bad streams (truncated, bit-flipped, wrong class, newer version, values out
 * of range) must give a one-line error and leave the device as it was. */
#include "engine/device.h"
#include "hw/char/serial.h"
#include "hw/intc/i8259.h"
#include "hw/misc/debugcon.h"
#include "hw/misc/debugexit.h"
#include "hw/timer/i8254.h"
#include "hw/timer/mc146818.h"
#include "unit.h"

#include <string.h>
#include <zlib.h>

typedef enum { DEV_UART, DEV_PIT, DEV_PIC, DEV_RTC } DevKind;

typedef struct Rig {
    Vm *vm;
    DevKind kind;
    void *dev;
    TestLine line;
} Rig;

static const char *const dev_ids[] = { "serial@0x3f8", "pit", "pic", "rtc" };

/* A test VM at virtual time t with one device whose output goes to r->line. */
static void rig_init(Rig *r, DevKind kind, int64_t t)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->vm = vm_new_for_test(0);
    if (t)
        vm_test_clock_step(r->vm, t);
    IrqLine l = test_line(&r->line);
    vm_lock(r->vm);
    switch (kind) {
    case DEV_UART: r->dev = serial_new(r->vm, 0x3f8, &l, NULL); break;
    case DEV_PIT: r->dev = i8254_new(r->vm, 0x40, &l); break;
    case DEV_PIC: r->dev = i8259_new(r->vm, &l, vm_cpu_pins(r->vm)); break;
    case DEV_RTC: r->dev = mc146818_new(r->vm, 0x70, &l, false); break;
    }
    vm_unlock(r->vm);
    g_assert_true(device_find(r->vm, dev_ids[kind]) == r->dev);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

static int64_t now_ns(Rig *r)
{
    return vm_clock_ns(r->vm);
}

static GByteArray *save(Rig *r)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(r->vm);
    device_save_state(r->dev, b);
    vm_unlock(r->vm);
    return b;
}

static bool load(Rig *r, const uint8_t *buf, size_t len, GError **err)
{
    vm_lock(r->vm);
    bool ok = device_load_state(r->dev, buf, len, err);
    vm_unlock(r->vm);
    return ok;
}

/* ---- scripts: the same inputs for both devices, outputs logged ---- */

typedef enum { OP_IN, OP_OUT, OP_STEP, OP_RX, OP_IRQ, OP_ACK, OP_END } OpKind;
typedef struct Op {
    OpKind k;
    uint32_t a, b;
    const char *s;
} Op;

static void run_script(Rig *r, const Op *ops, GString *log)
{
    r->line.rises = 0;
    for (const Op *o = ops; o->k != OP_END; o++) {
        switch (o->k) {
        case OP_IN:
            g_string_append_printf(log, "in %x=%02x ", o->a, inb(r->vm, (uint16_t)o->a));
            break;
        case OP_OUT:
            outb(r->vm, (uint16_t)o->a, (uint8_t)o->b);
            break;
        case OP_STEP:
            vm_test_clock_step(r->vm, o->a);
            break;
        case OP_RX:
            vm_lock(r->vm);
            serial_receive(r->dev, (const uint8_t *)o->s, strlen(o->s));
            vm_unlock(r->vm);
            break;
        case OP_IRQ:
            vm_lock(r->vm);
            i8259_set_irq(r->dev, (int)o->a, (int)o->b);
            vm_unlock(r->vm);
            break;
        case OP_ACK:
            vm_lock(r->vm);
            g_string_append_printf(log, "ack=%02x ", i8259_ack(r->dev));
            vm_unlock(r->vm);
            break;
        case OP_END:
            break;
        }
        g_string_append_printf(log, "[irq %d/%d]\n", r->line.level, r->line.rises);
    }
}

/* Saves a in the middle of what setup did, restores into a fresh VM at the same
 * virtual time, checks the copy saves to the same bytes, then runs script on both. */
static void check_round_trip(DevKind kind, const Op *setup, const Op *script, const char *must_see)
{
    Rig a, b;
    rig_init(&a, kind, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setup, ignored);
    g_autoptr(GByteArray) s = save(&a);

    rig_init(&b, kind, now_ns(&a));
    GError *err = NULL;
    g_assert_true(load(&b, s->data, s->len, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = save(&b);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    g_assert_cmpint(a.line.level, ==, b.line.level);

    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    run_script(&a, script, la);
    run_script(&b, script, lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    if (must_see && !strstr(la->str, must_see))
        g_error("script output lacks '%s':\n%s", must_see, la->str);
    rig_free(&a);
    rig_free(&b);
}

#define COM1 0x3f8

/* RX FIFO half full (8 of 16), THRE pending, a divisor set and DLAB left on, the
 * character timeout armed. */
static const Op uart_setup[] = {
    { OP_OUT, COM1 + 3, 0x83 }, { OP_OUT, COM1, 0x03 }, { OP_OUT, COM1 + 1, 0x00 },
    { OP_OUT, COM1 + 3, 0x03 }, { OP_OUT, COM1 + 2, 0xc7 }, { OP_OUT, COM1 + 1, 0x07 },
    { OP_OUT, COM1 + 4, 0x08 }, { OP_RX, .s = "ABCDEFGH" }, { OP_STEP, 1000 },
    { OP_OUT, COM1 + 3, 0x83 }, { OP_END },
};
static const Op uart_script[] = {
    { OP_IN, COM1 }, { OP_IN, COM1 + 1 }, { OP_OUT, COM1 + 3, 0x03 },
    { OP_IN, COM1 + 2 }, { OP_IN, COM1 + 5 }, { OP_IN, COM1 + 2 },
    { OP_STEP, 2000000 },                   /* the character timeout fires */
    { OP_IN, COM1 + 2 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 + 2 },
    { OP_RX, .s = "0123456789" },           /* 16 in the FIFO: over the trigger */
    { OP_IN, COM1 + 2 }, { OP_IN, COM1 + 5 }, { OP_RX, .s = "xyz" }, { OP_IN, COM1 + 5 },
    { OP_IN, COM1 + 5 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 },
    { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 },
    { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 }, { OP_IN, COM1 },
    { OP_STEP, 3000000 }, { OP_IN, COM1 + 2 }, { OP_IN, COM1 }, { OP_IN, COM1 + 5 },
    { OP_IN, COM1 + 2 }, { OP_OUT, COM1 + 4, 0x18 }, { OP_OUT, COM1, 'Q' }, { OP_IN, COM1 + 5 },
    { OP_IN, COM1 }, { OP_IN, COM1 + 6 }, { OP_END },
};

static void test_uart(void)
{
    /* IIR 0xcc: the character timeout, seen after restore. */
    check_round_trip(DEV_UART, uart_setup, uart_script, "in 3fa=cc");
}

/* Counter 0 in mode 2 (rate generator, IRQ 0), counter 2 in mode 3, counter 1 in
 * mode 0; counter 0 latched and half read when saved. */
static const Op pit_setup[] = {
    { OP_OUT, 0x43, 0x34 }, { OP_OUT, 0x40, 0xe8 }, { OP_OUT, 0x40, 0x03 },
    { OP_OUT, 0x43, 0xb6 }, { OP_OUT, 0x42, 0x35 }, { OP_OUT, 0x42, 0x12 },
    { OP_OUT, 0x43, 0x70 }, { OP_OUT, 0x41, 0x00 }, { OP_OUT, 0x41, 0x40 },
    { OP_STEP, 123457 }, { OP_OUT, 0x43, 0x00 }, { OP_IN, 0x40 }, { OP_STEP, 777 }, { OP_END },
};
static const Op pit_script[] = {
    { OP_IN, 0x40 }, { OP_IN, 0x40 }, { OP_IN, 0x40 }, { OP_STEP, 400000 },
    { OP_IN, 0x40 }, { OP_IN, 0x40 }, { OP_IN, 0x42 }, { OP_IN, 0x42 }, { OP_IN, 0x41 },
    { OP_IN, 0x41 }, { OP_OUT, 0x43, 0xe2 }, { OP_IN, 0x40 }, { OP_IN, 0x40 }, { OP_IN, 0x40 },
    { OP_STEP, 2500000 }, { OP_OUT, 0x43, 0xc8 }, { OP_IN, 0x42 }, { OP_IN, 0x42 },
    { OP_OUT, 0x40, 0x10 }, { OP_OUT, 0x40, 0x00 }, { OP_STEP, 100000 }, { OP_STEP, 100000 },
    { OP_OUT, 0x43, 0x00 }, { OP_IN, 0x40 }, { OP_IN, 0x40 }, { OP_STEP, 5000000 }, { OP_END },
};

static void test_pit(void)
{
    /* The first read returns the latched MSB; IRQ 0 keeps pulsing after restore. */
    check_round_trip(DEV_PIT, pit_setup, pit_script, "[irq 1/3]");
}

/* Master initialized with special mask mode on, IRQ 3 in service and IRQ 5 requested;
 * the slave stopped after ICW2 (its ICW3 and ICW4 still to come). */
static const Op pic_setup[] = {
    { OP_OUT, 0x20, 0x11 }, { OP_OUT, 0x21, 0x08 }, { OP_OUT, 0x21, 0x04 }, { OP_OUT, 0x21, 0x01 },
    { OP_OUT, 0xa0, 0x11 }, { OP_OUT, 0xa1, 0x70 },
    { OP_IRQ, 3, 1 }, { OP_ACK }, { OP_IRQ, 5, 1 }, { OP_IRQ, 6, 1 }, { OP_OUT, 0x21, 0x40 },
    { OP_OUT, 0x20, 0x68 }, { OP_END },
};
static const Op pic_script[] = {
    { OP_OUT, 0x20, 0x0a }, { OP_IN, 0x20 }, { OP_OUT, 0x20, 0x0b }, { OP_IN, 0x20 }, { OP_IN, 0x21 },
    { OP_ACK }, { OP_OUT, 0xa1, 0x02 }, { OP_OUT, 0xa1, 0x01 }, { OP_IN, 0xa1 },
    { OP_IRQ, 10, 1 }, { OP_ACK }, { OP_OUT, 0x20, 0x48 }, { OP_OUT, 0x20, 0x20 },
    { OP_OUT, 0xa0, 0x20 }, { OP_OUT, 0x20, 0x20 }, { OP_OUT, 0x21, 0x00 }, { OP_ACK }, { OP_ACK },
    { OP_OUT, 0x20, 0x0b }, { OP_IN, 0x20 }, { OP_OUT, 0xa0, 0x0b }, { OP_IN, 0xa0 },
    { OP_IRQ, 5, 0 }, { OP_IRQ, 6, 0 }, { OP_OUT, 0x20, 0x0c }, { OP_IN, 0x20 }, { OP_END },
};

static void test_pic(void)
{
    /* In special mask mode IRQ 5 is granted despite IRQ 3 in service: vector 0x0d. */
    check_round_trip(DEV_PIC, pic_setup, pic_script, "ack=0d");
}

/* The clock set to 12:34:56, the periodic interrupt at 1024 Hz and the alarm at
 * hh:mm:58 enabled, a CMOS byte written. */
static const Op rtc_setup[] = {
    { OP_OUT, 0x70, 0x0b }, { OP_OUT, 0x71, 0x82 },
    { OP_OUT, 0x70, 0x04 }, { OP_OUT, 0x71, 0x12 }, { OP_OUT, 0x70, 0x02 }, { OP_OUT, 0x71, 0x34 },
    { OP_OUT, 0x70, 0x00 }, { OP_OUT, 0x71, 0x56 },
    { OP_OUT, 0x70, 0x01 }, { OP_OUT, 0x71, 0x58 }, { OP_OUT, 0x70, 0x03 }, { OP_OUT, 0x71, 0xc0 },
    { OP_OUT, 0x70, 0x05 }, { OP_OUT, 0x71, 0xc0 },
    { OP_OUT, 0x70, 0x0a }, { OP_OUT, 0x71, 0x26 }, { OP_OUT, 0x70, 0x0b }, { OP_OUT, 0x71, 0x62 },
    { OP_OUT, 0x70, 0x40 }, { OP_OUT, 0x71, 0x5a }, { OP_STEP, 300000000 }, { OP_END },
};
static const Op rtc_script[] = {
    { OP_OUT, 0x70, 0x40 }, { OP_IN, 0x71 }, { OP_OUT, 0x70, 0x0c }, { OP_IN, 0x71 },
    { OP_STEP, 700000 }, { OP_IN, 0x71 }, { OP_STEP, 976562 }, { OP_IN, 0x71 }, { OP_IN, 0x71 },
    { OP_OUT, 0x70, 0x0b }, { OP_OUT, 0x71, 0x22 }, { OP_STEP, 2500000000 },
    { OP_OUT, 0x70, 0x0c }, { OP_IN, 0x71 }, { OP_IN, 0x71 }, { OP_OUT, 0x70, 0x00 }, { OP_IN, 0x71 },
    { OP_OUT, 0x70, 0x02 }, { OP_IN, 0x71 }, { OP_OUT, 0x70, 0x04 }, { OP_IN, 0x71 },
    { OP_OUT, 0x70, 0x0a }, { OP_IN, 0x71 }, { OP_END },
};

static void test_rtc(void)
{
    /* Register C with IRQF, PF, AF and UF: the alarm went off after the restore. */
    check_round_trip(DEV_RTC, rtc_setup, rtc_script, "in 71=f0");
}

/* ---- bad streams ---- */

static const Op *const setups[] = { uart_setup, pit_setup, pic_setup, rtc_setup };
static const Op *const scripts[] = { uart_script, pit_script, pic_script, rtc_script };

static void fix_crc(uint8_t *sec, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, sec, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        sec[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Loads buf into b and expects a one-line error and b's state unchanged. */
static void expect_rejected(Rig *b, const uint8_t *buf, size_t len, const char *want)
{
    g_autoptr(GByteArray) before = save(b);
    GError *err = NULL;
    g_assert_false(load(b, buf, len, &err));
    g_assert_nonnull(err);
    g_assert_null(strchr(err->message, '\n'));
    if (want && !strstr(err->message, want))
        g_error("error '%s' lacks '%s'", err->message, want);
    g_error_free(err);
    g_autoptr(GByteArray) after = save(b);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

static void test_bad_streams(gconstpointer data)
{
    DevKind kind = (DevKind)GPOINTER_TO_INT(data);
    Rig a, b;
    rig_init(&a, kind, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setups[kind], ignored);
    g_autoptr(GByteArray) s = save(&a);
    rig_init(&b, kind, now_ns(&a));
    g_autofree uint8_t *buf = g_malloc(s->len + 1);

    for (size_t n = 0; n < s->len; n++)
        expect_rejected(&b, s->data, n, NULL);
    memcpy(buf, s->data, s->len);
    buf[s->len] = 0;
    expect_rejected(&b, buf, s->len + 1, "trailing");
    for (size_t i = 0; i < s->len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, s->data, s->len);
            buf[i] ^= (uint8_t)(1u << bit);
            expect_rejected(&b, buf, s->len, NULL);
        }
    }

    size_t cl = s->data[4] | s->data[5] << 8;
    size_t il = s->data[6 + cl] | s->data[7 + cl] << 8;
    size_t ver_at = 8 + cl + il;
    memcpy(buf, s->data, s->len);
    buf[6] ^= 0x20; /* another class name */
    fix_crc(buf, s->len);
    expect_rejected(&b, buf, s->len, "section is for class");
    memcpy(buf, s->data, s->len);
    buf[8 + cl] ^= 0x01; /* another instance */
    fix_crc(buf, s->len);
    expect_rejected(&b, buf, s->len, "section is for");
    memcpy(buf, s->data, s->len);
    buf[ver_at] = 2; /* newer than this build */
    fix_crc(buf, s->len);
    expect_rejected(&b, buf, s->len, "version 2 is not supported");

    /* Past the checksum: every byte of the fields replaced by values a corrupt or
     * hostile writer could choose. Either the load is refused with the state unchanged,
     * or the state it gives is one the device can run from. */
    static const uint8_t values[] = { 0x00, 0x01, 0x07, 0x10, 0x11, 0x80, 0xff };
    unsigned accepted = 0, refused = 0;
    for (size_t i = ver_at + 4; i < s->len - 4; i++) {
        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            if (s->data[i] == values[v])
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] = values[v];
            fix_crc(buf, s->len);
            g_autoptr(GByteArray) before = save(&b);
            GError *err = NULL;
            if (load(&b, buf, s->len, &err)) {
                accepted++;
                g_autoptr(GString) log = g_string_new(NULL);
                run_script(&b, scripts[kind], log);
                /* Back to a known state for the next case. */
                g_assert_true(load(&b, s->data, s->len, NULL));
            } else {
                refused++;
                g_assert_null(strchr(err->message, '\n'));
                g_error_free(err);
                g_autoptr(GByteArray) after = save(&b);
                g_assert_cmpmem(before->data, before->len, after->data, after->len);
            }
        }
    }
    g_test_message("%s: %u altered streams refused, %u accepted and run", dev_ids[kind], refused, accepted);
    g_assert_cmpuint(refused, >, 0);
    rig_free(&a);
    rig_free(&b);
}

/* Values the description's ranges and check hooks refuse, with a valid checksum. */
static void test_out_of_range(void)
{
    Rig a;
    rig_init(&a, DEV_UART, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, uart_setup, ignored);
    g_autoptr(GByteArray) s = save(&a);
    /* Layout after the header: ier lcr mcr scr fcr, divisor(2), msr lsr_err thre
     * timeout rbr_last, rx (4 + 16), rx_err (4 + 16), rx_head (4), rx_count (4). */
    size_t p = 8 + strlen("isa-serial") + strlen("serial@0x3f8") + 4;
    size_t head_at = p + 5 + 2 + 5 + 20 + 20, count_at = head_at + 4;
    g_autofree uint8_t *buf = g_memdup2(s->data, s->len);
    buf[head_at] = 16;
    fix_crc(buf, s->len);
    expect_rejected(&a, buf, s->len, "'rx_head' is 16, outside 0..15");
    memcpy(buf, s->data, s->len);
    buf[count_at] = 17;
    fix_crc(buf, s->len);
    expect_rejected(&a, buf, s->len, "'rx_count' is 17");
    memcpy(buf, s->data, s->len);
    buf[p + 4] = 0x01 | 0x02; /* FCR with a bit the UART keeps clear */
    fix_crc(buf, s->len);
    expect_rejected(&a, buf, s->len, "FCR 0x03");
    memcpy(buf, s->data, s->len);
    buf[p + 5 + 2 + 2] = 2; /* thre_pending: not a boolean */
    fix_crc(buf, s->len);
    expect_rejected(&a, buf, s->len, "not a boolean");
    rig_free(&a);
}

/* ---- a GBytes field (VMSTATE_BYTES) ---- */

typedef struct BytesState {
    uint32_t a;
    GBytes *b;
} BytesState;

static const VmStateField bytes_fields[] = {
    VMSTATE_U32(BytesState, a),
    VMSTATE_BYTES(BytesState, b, 16),
    VMSTATE_END,
};

static const VmStateDesc bytes_desc = { .name = "bytes", .version = 1, .fields = bytes_fields };

static void test_bytes_field(void)
{
    BytesState s = { 7, g_bytes_new("hello", 5) };
    g_autoptr(GByteArray) out = g_byte_array_new();
    vmstate_save(out, "bytes", "b0", &bytes_desc, &s);
    BytesState t = { 0, g_bytes_new("old", 3) };
    GError *err = NULL;
    g_assert_true(vmstate_load(&bytes_desc, "bytes", "b0", &t, sizeof(t), out->data, out->len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(t.a, ==, 7);
    g_assert_true(g_bytes_equal(t.b, s.b));
    /* A length over the field's maximum, or past the section's end: refused, the live
     * struct keeps its GBytes. */
    size_t at = 4 + 2 + 5 + 2 + 2 + 4 + 4; /* length, class, id, version, a */
    g_autofree uint8_t *buf = g_memdup2(out->data, out->len);
    buf[at] = 17;
    fix_crc(buf, out->len);
    g_assert_false(vmstate_load(&bytes_desc, "bytes", "b0", &t, sizeof(t), buf, out->len, &err));
    g_assert_nonnull(strstr(err->message, "at most 16"));
    g_clear_error(&err);
    buf[at] = 6;
    fix_crc(buf, out->len);
    g_assert_false(vmstate_load(&bytes_desc, "bytes", "b0", &t, sizeof(t), buf, out->len, &err));
    g_clear_error(&err);
    g_assert_true(g_bytes_equal(t.b, s.b));
    /* None at all is kept as none. */
    g_clear_pointer(&s.b, g_bytes_unref);
    g_byte_array_set_size(out, 0);
    vmstate_save(out, "bytes", "b0", &bytes_desc, &s);
    g_assert_true(vmstate_load(&bytes_desc, "bytes", "b0", &t, sizeof(t), out->data, out->len, &err));
    g_assert_null(t.b);
}

/* ---- whole device list ---- */

static Vm *board_vm(int64_t t, TestLine *lines)
{
    Vm *vm = vm_new_for_test(0);
    vm_test_clock_step(vm, t);
    IrqLine l[4];
    for (int i = 0; i < 4; i++)
        l[i] = test_line(&lines[i]);
    vm_lock(vm);
    PicState *pic = i8259_new(vm, &l[0], vm_cpu_pins(vm));
    (void)pic;
    i8254_new(vm, 0x40, &l[1]);
    mc146818_new(vm, 0x70, &l[2], false);
    serial_new(vm, 0x3f8, &l[3], NULL);
    debugcon_new(vm, 0xe9, NULL);
    debugexit_new(vm, 0xf4, NULL);
    vm_unlock(vm);
    return vm;
}

static void test_device_list(void)
{
    TestLine la[4] = { 0 }, lb[4] = { 0 }, lc[4] = { 0 };
    Vm *a = board_vm(5000000, la);
    outb(a, 0x43, 0x34);
    outb(a, 0x40, 0x00);
    outb(a, 0x40, 0x10);
    outb(a, 0x70, 0x41);
    outb(a, 0x71, 0x99);
    outb(a, 0x3f8 + 7, 0x42);
    vm_test_clock_step(a, 1234567);
    GByteArray *s = g_byte_array_new();
    vm_lock(a);
    device_list_save(a, s);
    vm_unlock(a);

    Vm *b = board_vm(vm_clock_ns(a), lb);
    GError *err = NULL;
    vm_lock(b);
    g_assert_true(device_list_load(b, s->data, s->len, &err));
    vm_unlock(b);
    g_assert_no_error(err);
    g_assert_cmpint(inb(b, 0x3f8 + 7), ==, 0x42);
    outb(b, 0x70, 0x41);
    g_assert_cmpint(inb(b, 0x71), ==, 0x99);
    for (int i = 0; i < 4; i++)
        g_assert_cmpint(la[i].level, ==, lb[i].level);
    vm_test_clock_step(a, 10000000);
    vm_test_clock_step(b, 10000000);
    g_assert_cmpint(la[1].rises, ==, lb[1].rises);

    /* A VM without the UART: the stream names a device it lacks; nothing changes. */
    Vm *c = vm_new_for_test(0);
    vm_lock(c);
    i8259_new(c, NULL, vm_cpu_pins(c));
    g_autoptr(GByteArray) before = g_byte_array_new();
    device_list_save(c, before);
    g_assert_false(device_list_load(c, s->data, s->len, &err));
    g_assert_nonnull(strstr(err->message, "this VM has no"));
    g_clear_error(&err);
    g_autoptr(GByteArray) after = g_byte_array_new();
    device_list_save(c, after);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
    /* An unknown class. */
    g_autofree uint8_t *buf = g_memdup2(s->data, s->len);
    buf[16 + 6] = 'X';
    fix_crc(buf + 16, 4 + (buf[16] | buf[17] << 8 | buf[18] << 16 | (size_t)buf[19] << 24));
    g_assert_false(device_list_load(c, buf, s->len, &err));
    g_assert_nonnull(strstr(err->message, "unknown device class"));
    g_clear_error(&err);
    vm_unlock(c);
    (void)lc;

    /* Truncated anywhere: refused. */
    vm_lock(b);
    for (size_t n = 0; n < s->len; n++) {
        g_assert_false(device_list_load(b, s->data, n, &err));
        g_clear_error(&err);
    }
    vm_unlock(b);
    g_byte_array_unref(s);
    vm_free(a);
    vm_free(b);
    vm_free(c);
}

/* ---- the registry ---- */

static void test_registry(void)
{
    g_autoptr(GPtrArray) all = device_class_list(false);
    g_assert_cmpuint(all->len, >=, 6);
    /* The user-creatable ones only, sorted by name. */
    g_autoptr(GPtrArray) user = device_class_list(true);
    g_assert_cmpuint(user->len, >=, 3);
    unsigned seen = 0;
    for (guint i = 0; i < user->len; i++) {
        const DeviceClass *c = user->pdata[i];
        g_assert_true(c->user_creatable);
        if (i > 0)
            g_assert_cmpint(strcmp(((const DeviceClass *)user->pdata[i - 1])->name, c->name), <, 0);
        seen += !strcmp(c->name, "isa-debug-exit") + !strcmp(c->name, "isa-debugcon") +
                !strcmp(c->name, "isa-serial");
    }
    g_assert_cmpuint(seen, ==, 3);
    g_assert_false(device_class_find("i8042")->user_creatable);

    const DeviceClass *dc = device_class_find("isa-debug-exit");
    GError *err = NULL;
    g_autoptr(GHashTable) o = device_class_parse_opts(dc, "iobase=0x501,iosize=4", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(device_opts_get_u32(dc, o, "iobase"), ==, 0x501);
    g_autoptr(GHashTable) d = device_class_parse_opts(dc, "", &err);
    g_assert_cmpuint(device_opts_get_u32(dc, d, "iobase"), ==, 0xf4);
    g_assert_null(device_class_parse_opts(dc, "iobase=0x10000", &err));
    g_assert_nonnull(strstr(err->message, "iobase"));
    g_clear_error(&err);
    g_assert_null(device_class_parse_opts(dc, "port=1", &err));
    g_assert_nonnull(strstr(err->message, "no property 'port'"));
    g_clear_error(&err);

    /* Instances: default ids, properties, reset through the list. */
    Vm *vm = vm_new_for_test(0);
    vm_lock(vm);
    Device *x = device_new(vm, "isa-debug-exit", NULL, &err);
    g_assert_nonnull(x);
    g_assert_cmpstr(x->id, ==, "isa-debug-exit.0");
    g_assert_true(device_set_prop(x, "iobase", "0x501", &err));
    g_assert_false(device_set_prop(x, "iobase", "lots", &err));
    g_clear_error(&err);
    g_assert_true(device_realize(x, &err));
    g_assert_false(device_set_prop(x, "iobase", "0x502", &err));
    g_clear_error(&err);
    g_assert_null(device_new(vm, "no-such-device", NULL, &err));
    g_clear_error(&err);
    g_assert_null(device_new(vm, "isa-debugcon", "isa-debug-exit.0", &err));
    g_clear_error(&err);
    vm_unlock(vm);
    outb(vm, 0x501, 3);
    g_assert_cmpint(vm_exit_status(vm), ==, 7);
    vm_free(vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate/registry", test_registry);
    g_test_add_func("/vmstate/uart", test_uart);
    g_test_add_func("/vmstate/pit", test_pit);
    g_test_add_func("/vmstate/pic", test_pic);
    g_test_add_func("/vmstate/rtc", test_rtc);
    g_test_add_func("/vmstate/out-of-range", test_out_of_range);
    g_test_add_func("/vmstate/bytes-field", test_bytes_field);
    g_test_add_data_func("/vmstate/bad/uart", GINT_TO_POINTER(DEV_UART), test_bad_streams);
    g_test_add_data_func("/vmstate/bad/pit", GINT_TO_POINTER(DEV_PIT), test_bad_streams);
    g_test_add_data_func("/vmstate/bad/pic", GINT_TO_POINTER(DEV_PIC), test_bad_streams);
    g_test_add_data_func("/vmstate/bad/rtc", GINT_TO_POINTER(DEV_RTC), test_bad_streams);
    g_test_add_func("/vmstate/device-list", test_device_list);
    return g_test_run();
}
