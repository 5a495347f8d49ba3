/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The UHCI controller and the USB HID devices driven as a guest driver would: schedules
 * built in guest RAM, frames run on the virtual clock, results read back from the TDs,
 * the registers and the IRQ line. Then hostile schedules (pointers outside RAM, loops,
 * absurd lengths, random memory): the controller reports an error or bounds its work,
 * and the test process never crashes or hangs. Finally the controller and a tablet are
 * saved with a report queued and restored into a second VM, which delivers it. */
#include "engine/device.h"
#include "engine/input.h"
#include "pci-rig.h"
#ifdef VIREO_LIBUSB_DOUBLE
#include "tests/libusb-double/libusb-double.h"
#endif

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RAM (UINT64_C(4) << 20)
#define IO 0xc000
#define DEVFN PCI_DEVFN(1, 2)
#define FRAMES 0x1000u   /* the frame list */
#define QH 0x2000u
#define TDS 0x3000u      /* TD n at TDS + 32 n */
#define BUF 0x8000u      /* buffers, 0x100 apart */
#define MS INT64_C(1000000)

enum {
    TOK_SETUP = 0x2d, TOK_IN = 0x69, TOK_OUT = 0xe1,
    ACTIVE = 1u << 23, STALLED = 1u << 22, BABBLE = 1u << 20, NAK = 1u << 19, TIMEOUT = 1u << 18,
    IOC = 1u << 24, IOS = 1u << 25, TD_STATUS = 0xff0000u,
    STS_USBINT = 1, STS_ERR = 2, STS_HSE = 8, STS_HCPE = 0x10, STS_HALTED = 0x20,
};

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
} Rig;

static void rig_init_drive(Rig *r, const char *const *devices, const char *drive)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    if (drive)
        vm_test_add_drive(r->vm, "d0", drive, "raw");
    GError *err = NULL;
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    g_assert_nonnull(device_create_from_spec(r->vm, "piix3-usb-uhci,addr=1.2", &err));
    g_assert_no_error(err);
    for (; devices && *devices; devices++) {
        g_assert_nonnull(device_create_from_spec(r->vm, *devices, &err));
        g_assert_no_error(err);
    }
    pci_config_write(r->bus, DEVFN, 0x20, IO, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
}

static void rig_init(Rig *r, const char *const *devices)
{
    rig_init_drive(r, devices, NULL);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

static uint16_t rd(Rig *r, unsigned reg)
{
    vm_lock(r->vm);
    uint16_t v = (uint16_t)io_read(vm_io(r->vm), IO + reg, 2);
    vm_unlock(r->vm);
    return v;
}

static void wr(Rig *r, unsigned reg, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    io_write(vm_io(r->vm), IO + reg, v, size);
    vm_unlock(r->vm);
}

static void put32(Rig *r, uint32_t addr, uint32_t v)
{
    vm_lock(r->vm);
    mem_stl(vm_mem(r->vm), addr, v);
    vm_unlock(r->vm);
}

static uint32_t get32(Rig *r, uint32_t addr)
{
    vm_lock(r->vm);
    uint32_t v = mem_ldl(vm_mem(r->vm), addr);
    vm_unlock(r->vm);
    return v;
}

static uint32_t token(unsigned pid, unsigned addr, unsigned ep, unsigned toggle, unsigned len)
{
    return ((len - 1) & 0x7ffu) << 21 | toggle << 19 | ep << 15 | addr << 8 | pid;
}

static void td(Rig *r, unsigned n, uint32_t link, uint32_t ctrl, uint32_t tok, uint32_t buf)
{
    uint32_t a = TDS + 32 * n;
    put32(r, a, link);
    put32(r, a + 4, ctrl);
    put32(r, a + 8, tok);
    put32(r, a + 12, buf);
}

static uint32_t td_ctrl(Rig *r, unsigned n)
{
    return get32(r, TDS + 32 * n + 4);
}

/* Every frame list entry points at link; the controller runs. */
static void start(Rig *r, uint32_t link)
{
    for (unsigned i = 0; i < 1024; i++)
        put32(r, FRAMES + 4 * i, link);
    wr(r, 0x08, FRAMES, 4);
    wr(r, 0x04, 0xf, 2);  /* every interrupt enabled */
    wr(r, 0x00, 1, 2);    /* Run */
}

/* Resets and enables root port n (0 or 1), as a driver does after a connect. */
static void port_enable(Rig *r, int n)
{
    wr(r, 0x10 + 2 * n, 1u << 9, 2);
    wr(r, 0x10 + 2 * n, 0, 2);
    wr(r, 0x10 + 2 * n, 0xa, 2);  /* clear the change bits */
    wr(r, 0x10 + 2 * n, 4, 2);
    g_assert_cmphex(rd(r, 0x10 + 2 * n) & 0xf, ==, 0x5);
}

/* One control transfer through a QH, depth first; returns the bytes of the IN data
 * stage (0 for none) and checks every TD retired without error. */
static size_t control(Rig *r, unsigned addr, const uint8_t setup[8], uint8_t *in, size_t in_len)
{
    vm_lock(r->vm);
    mem_write(vm_mem(r->vm), BUF, setup, 8);
    vm_unlock(r->vm);
    unsigned n = 0;
    td(r, n, TDS + 32 * (n + 1) + 4, ACTIVE | 3u << 27, token(TOK_SETUP, addr, 0, 0, 8), BUF);
    n++;
    size_t chunks = (in_len + 7) / 8;
    for (size_t i = 0; i < chunks; i++, n++)
        td(r, n, TDS + 32 * (n + 1) + 4, ACTIVE | 3u << 27, token(TOK_IN, addr, 0, (i + 1) & 1, 8),
           BUF + 0x100 + 8 * (uint32_t)i);
    td(r, n, 1, ACTIVE | IOC | 3u << 27, token(in_len ? TOK_OUT : TOK_IN, addr, 0, 1, 0x800), 0);
    put32(r, QH, 1);
    put32(r, QH + 4, TDS);
    wr(r, 0x02, 0x1f, 2);
    vm_test_clock_step(r->vm, 3 * MS);
    for (unsigned i = 0; i <= n; i++)
        g_assert_cmphex(td_ctrl(r, i) & TD_STATUS, ==, 0);
    g_assert_cmphex(get32(r, QH + 4), ==, 1); /* the queue ran to its end */
    g_assert_cmphex(rd(r, 0x02) & STS_USBINT, ==, STS_USBINT);
    g_assert_cmpint(r->irq, ==, 1);
    wr(r, 0x02, STS_USBINT, 2);
    g_assert_cmpint(r->irq, ==, 0);
    size_t got = 0;
    for (size_t i = 0; i < chunks; i++) {
        uint32_t actual = (td_ctrl(r, 1 + (unsigned)i) + 1) & 0x7ff;
        got += actual;
        if (actual < 8)
            break;
    }
    vm_lock(r->vm);
    mem_read(vm_mem(r->vm), BUF + 0x100, in, MIN(got, in_len));
    vm_unlock(r->vm);
    return got;
}

/* Enumerates the device on port 0 at address 1 and configures it, as Linux does. */
static void enumerate(Rig *r, uint8_t *dev_desc)
{
    port_enable(r, 0);
    start(r, QH | 2);
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    g_assert_cmpuint(control(r, 0, get_dev, dev_desc, 18), ==, 18);
    static const uint8_t set_addr[8] = { 0, 5, 1, 0, 0, 0, 0, 0 };
    uint8_t none[1];
    control(r, 0, set_addr, none, 0);
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(r, 1, set_conf, none, 0);
}

/* An interrupt-IN TD to the tablet's endpoint 1, alone in the schedule. */
static void poll_setup(Rig *r, unsigned addr)
{
    td(r, 0, 1, ACTIVE | IOC, token(TOK_IN, addr, 1, 0, 8), BUF + 0x200);
    put32(r, QH + 4, TDS);
}

static void test_enumerate_and_report(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig r;
    rig_init(&r, devs);
    g_assert_cmphex(rd(&r, 0x10), ==, 0x93);  /* connected, change, full-speed J, bit 7 */
    g_assert_cmphex(rd(&r, 0x12), ==, 0x80);
    g_assert_cmphex(rd(&r, 0x02), ==, STS_HALTED);
    uint8_t desc[18];
    enumerate(&r, desc);
    g_assert_cmphex(desc[0], ==, 18);
    g_assert_cmphex(desc[8] | desc[9] << 8, ==, 0x0627);
    /* The configuration descriptor in a short first read (9 bytes), then whole. */
    uint8_t cfg[64];
    static const uint8_t get_cfg9[8] = { 0x80, 6, 0, 2, 0, 0, 9, 0 };
    g_assert_cmpuint(control(&r, 1, get_cfg9, cfg, 9), ==, 9);
    g_assert_cmpuint(cfg[2], ==, 34);
    /* The report descriptor names 0..32767 for X and Y (Logical Maximum 0x7fff). */
    uint8_t rep[128];
    static const uint8_t get_rep[8] = { 0x81, 6, 0, 0x22, 0, 0, 128, 0 };
    size_t n = control(&r, 1, get_rep, rep, 128);
    g_assert_cmpuint(n, >, 40);
    g_assert_nonnull(memmem(rep, n, "\x26\xff\x7f", 3));

    /* Nothing to report: NAK, the TD stays active, no interrupt. */
    poll_setup(&r, 1);
    vm_test_clock_step(r.vm, 2 * MS);
    g_assert_cmphex(td_ctrl(&r, 0) & (ACTIVE | NAK), ==, ACTIVE | NAK);
    g_assert_cmpint(r.irq, ==, 0);
    /* An absolute move arrives as a 6-byte report with the coordinates. */
    vm_input_pointer_abs(r.vm, 0x1234, 0x7fff, 0, VM_BUTTON_LEFT);
    vm_test_clock_step(r.vm, 2 * MS);
    g_assert_cmphex(td_ctrl(&r, 0) & TD_STATUS, ==, 0);
    g_assert_cmpuint((td_ctrl(&r, 0) + 1) & 0x7ff, ==, 6);
    uint8_t report[6];
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), BUF + 0x200, report, 6);
    vm_unlock(r.vm);
    static const uint8_t want[6] = { 1, 0x34, 0x12, 0xff, 0x7f, 0 };
    g_assert_cmpmem(report, 6, want, 6);
    g_assert_cmpint(r.irq, ==, 1);
    /* A request to an address nobody has: the error counter runs out after three
     * tries and the TD retires with a timeout and the error interrupt. */
    wr(&r, 0x02, 0x1f, 2);
    td(&r, 0, 1, ACTIVE | 3u << 27, token(TOK_IN, 9, 1, 0, 8), BUF);
    put32(&r, QH + 4, TDS);
    vm_test_clock_step(r.vm, 5 * MS);
    g_assert_cmphex(td_ctrl(&r, 0) & (ACTIVE | STALLED | TIMEOUT), ==, STALLED | TIMEOUT);
    g_assert_cmphex(rd(&r, 0x02) & STS_ERR, ==, STS_ERR);
    wr(&r, 0x02, 0x1f, 2);

    /* Remote wakeup: enabled by the host, the port suspended, the controller in global
     * suspend; a move makes the tablet signal resume: the port's Resume Detect, USBSTS
     * Resume Detect and the interrupt. */
    static const uint8_t set_wakeup[8] = { 0, 3, 1, 0, 0, 0, 0, 0 };
    uint8_t none[1];
    put32(&r, QH + 4, 1);
    control(&r, 1, set_wakeup, none, 0);
    wr(&r, 0x00, 0, 2);
    wr(&r, 0x10, 0x1004, 2);   /* enabled and suspended */
    wr(&r, 0x00, 0x8, 2);      /* EGSM */
    g_assert_cmpint(r.irq, ==, 0);
    vm_input_pointer_abs(r.vm, 1, 2, 0, 0);
    g_assert_cmphex(rd(&r, 0x10) & 0x40, ==, 0x40);
    g_assert_cmphex(rd(&r, 0x02) & 4, ==, 4);
    g_assert_cmpint(r.irq, ==, 1);
    rig_free(&r);
}

/* A schedule fault halts the controller with the given status and raises the line. */
static void assert_fault(Rig *r, uint16_t status)
{
    g_assert_cmphex(rd(r, 0x02) & (status | STS_HALTED), ==, status | STS_HALTED);
    g_assert_cmphex(rd(r, 0x00) & 1, ==, 0);
    g_assert_cmpint(r->irq, ==, 1);
    /* Clearing the status lowers it; running again is the driver's choice. */
    wr(r, 0x02, status, 2);
    g_assert_cmpint(r->irq, ==, 0);
}

static void test_hostile(void)
{
    static const char *const devs[] = { "usb-tablet", "usb-kbd", NULL };
    Rig r;
    rig_init(&r, devs);
    uint8_t desc[18];
    enumerate(&r, desc);

    /* The frame list outside RAM. */
    wr(&r, 0x08, 0xfffff000u, 4);
    vm_test_clock_step(r.vm, 2 * MS);
    assert_fault(&r, STS_HSE);
    /* A TD pointer, a QH pointer, a QH element outside RAM. */
    static const uint32_t bad_links[] = { 0xfff00000u, 0xfff00000u | 2, QH | 2 };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_links); i++) {
        put32(&r, QH, 1);
        put32(&r, QH + 4, 0xffff0000u);
        start(&r, bad_links[i]);
        vm_test_clock_step(r.vm, 2 * MS);
        assert_fault(&r, STS_HSE);
    }
    /* A SETUP whose buffer runs off the end of RAM, an IN buffer outside RAM. */
    td(&r, 0, 1, ACTIVE, token(TOK_SETUP, 1, 0, 0, 8), (uint32_t)RAM - 4);
    start(&r, TDS);
    vm_test_clock_step(r.vm, 2 * MS);
    assert_fault(&r, STS_HSE);
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    vm_lock(r.vm);
    mem_write(vm_mem(r.vm), BUF, get_dev, 8);
    vm_unlock(r.vm);
    td(&r, 0, TDS + 32, ACTIVE, token(TOK_SETUP, 1, 0, 0, 8), BUF);
    td(&r, 1, 1, ACTIVE, token(TOK_IN, 1, 0, 1, 8), 0xfffffff0u);
    start(&r, TDS);
    vm_test_clock_step(r.vm, 2 * MS);
    assert_fault(&r, STS_HSE);
    /* Absurd lengths (MaxLen 0x500-0x7FE) and a bad PID: process error. */
    td(&r, 0, 1, ACTIVE, token(TOK_IN, 1, 1, 0, 0x600), BUF);
    start(&r, TDS);
    vm_test_clock_step(r.vm, 2 * MS);
    assert_fault(&r, STS_HCPE);
    td(&r, 0, 1, ACTIVE, 0x12 | 1u << 8, BUF);
    start(&r, TDS);
    vm_test_clock_step(r.vm, 2 * MS);
    assert_fault(&r, STS_HCPE);

    /* Loops: a QH whose horizontal link is itself with a NAKing TD, two QHs pointing
     * at each other, a TD linking to itself, a queue whose TD links back to the QH
     * depth first. Each frame ends; the frame counter moves on; nothing hangs. */
    put32(&r, QH, QH | 2);
    td(&r, 0, 1, ACTIVE, token(TOK_IN, 1, 1, 0, 8), BUF);
    put32(&r, QH + 4, TDS);
    wr(&r, 0x06, 0, 2);
    start(&r, QH | 2);
    vm_test_clock_step(r.vm, 100 * MS);
    g_assert_cmphex(rd(&r, 0x02) & (STS_HSE | STS_HCPE | STS_HALTED), ==, 0);
    g_assert_cmpuint(rd(&r, 0x06), >=, 99);
    g_assert_cmphex(td_ctrl(&r, 0) & (ACTIVE | NAK), ==, ACTIVE | NAK);
    put32(&r, QH, (QH + 16) | 2);
    put32(&r, QH + 4, 1);
    put32(&r, QH + 16, QH | 2);
    put32(&r, QH + 20, 1);
    vm_test_clock_step(r.vm, 10 * MS);
    td(&r, 0, TDS, 0, token(TOK_IN, 1, 1, 0, 8), BUF); /* inactive, links to itself */
    start(&r, TDS);
    vm_test_clock_step(r.vm, 10 * MS);
    td(&r, 0, QH | 2 | 4, ACTIVE, token(TOK_IN, 1, 1, 0, 8), BUF);
    put32(&r, QH, QH | 2);
    put32(&r, QH + 4, TDS);
    start(&r, QH | 2);
    vm_input_key(r.vm, 0x1e, true);  /* the keyboard has data: the TD completes */
    vm_test_clock_step(r.vm, 10 * MS);
    g_assert_cmphex(rd(&r, 0x02) & (STS_HSE | STS_HCPE | STS_HALTED), ==, 0);

    /* Random memory as a schedule: whatever it does, the process survives and the
     * controller either runs or halted with an error status. */
    GRand *rand = g_rand_new_with_seed(1234);
    for (int round = 0; round < 200; round++) {
        for (uint32_t a = 0x1000; a < 0x10000; a += 4) {
            uint32_t v = g_rand_int(rand);
            /* Mostly pointers into the first 64 KiB, so the walk goes somewhere. */
            if (g_rand_int_range(rand, 0, 4))
                v &= 0xffffu;
            put32(&r, a, v);
        }
        wr(&r, 0x02, 0x3f, 2);
        wr(&r, 0x08, 0x1000u * (uint32_t)g_rand_int_range(rand, 1, 16), 4);
        wr(&r, 0x00, 1, 2);
        vm_test_clock_step(r.vm, 3 * MS);
        uint16_t sts = rd(&r, 0x02);
        g_assert_true(!(sts & STS_HALTED) || (sts & (STS_HSE | STS_HCPE)));
    }
    g_rand_free(rand);
    rig_free(&r);
}

static void test_state(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig a, b;
    rig_init(&a, devs);
    uint8_t desc[18];
    enumerate(&a, desc);
    poll_setup(&a, 1);
    wr(&a, 0x00, 0, 2); /* stopped, so the report stays queued */
    vm_input_pointer_abs(a.vm, 300, 400, 0, 0);
    vm_lock(a.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(a.vm, devstate);
    GByteArray *ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x10000);
    mem_read(vm_mem(a.vm), 0, ram->data, ram->len);
    vm_unlock(a.vm);

    rig_init(&b, devs);
    GError *err = NULL;
    vm_lock(b.vm);
    mem_write(vm_mem(b.vm), 0, ram->data, ram->len);
    g_assert_true(device_list_load(b.vm, devstate->data, devstate->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    g_byte_array_free(ram, TRUE);
    /* The restored controller and tablet deliver the queued position. */
    wr(&b, 0x00, 1, 2);
    vm_test_clock_step(b.vm, 2 * MS);
    g_assert_cmphex(td_ctrl(&b, 0) & TD_STATUS, ==, 0);
    uint8_t report[6];
    vm_lock(b.vm);
    mem_read(vm_mem(b.vm), BUF + 0x200, report, 6);
    vm_unlock(b.vm);
    static const uint8_t want[6] = { 0, 300 & 0xff, 300 >> 8, 400 & 0xff, 400 >> 8, 0 };
    g_assert_cmpmem(report, 6, want, 6);

    /* A stream that claims a port is connected where this VM has no device is refused,
     * the device unchanged. */
    Rig c;
    rig_init(&c, NULL);
    vm_lock(c.vm);
    g_assert_false(device_list_load(c.vm, devstate->data, devstate->len, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_unlock(c.vm);
    rig_free(&c);
    rig_free(&a);
    rig_free(&b);
}

static void test_bus_errors(void)
{
    Rig r;
    rig_init(&r, NULL);
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_nonnull(device_create_from_spec(r.vm, "usb-kbd,port=2", &err));
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,port=2", &err));
    g_assert_nonnull(strstr(err->message, "taken"));
    g_clear_error(&err);
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,port=3", &err));
    g_assert_nonnull(strstr(err->message, "ports 1 to 2"));
    g_clear_error(&err);
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,bus=usb-bus.7", &err));
    g_assert_nonnull(strstr(err->message, "usb-bus.7"));
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(r.vm, "usb-mouse", &err));
    g_assert_null(device_create_from_spec(r.vm, "usb-tablet", &err));
    g_assert_nonnull(strstr(err->message, "all 2 ports"));
    g_clear_error(&err);
    vm_unlock(r.vm);
    /* Port 2 connected, port 1 (the mouse) too. */
    g_assert_cmphex(rd(&r, 0x10) & 1, ==, 1);
    g_assert_cmphex(rd(&r, 0x12) & 1, ==, 1);
    rig_free(&r);
}

/* ---- usb-storage ---- */

#define DATA 0x10000u

/* A bulk transfer in 64-byte packets through the QH, depth first; checks every TD
 * retired without error (or returns false at the first stalled one). */
static bool bulk(Rig *r, unsigned pid, unsigned ep, uint32_t buf, size_t len)
{
    unsigned n = (unsigned)((len + 63) / 64);
    g_assert_cmpuint(n, <=, 120);
    for (unsigned i = 0; i < n; i++) {
        unsigned plen = (unsigned)MIN((size_t)64, len - 64 * i);
        bool last = i + 1 == n;
        td(r, i, last ? 1 : (TDS + 32 * (i + 1)) | 4, ACTIVE | (last ? IOC : 0) | 3u << 27,
           token(pid, 1, ep, i & 1, plen), buf + 64 * i);
    }
    put32(r, QH, 1);
    put32(r, QH + 4, TDS);
    vm_test_clock_step(r->vm, (int64_t)(len / 1000 + 3) * MS);
    for (unsigned i = 0; i < n; i++) {
        uint32_t c = td_ctrl(r, i);
        if (c & STALLED)
            return false;
        g_assert_cmphex(c & TD_STATUS, ==, 0);
    }
    return true;
}

/* One SCSI command through BOT: CBW, data stage, CSW. Returns the CSW status; the
 * data is at DATA. */
static unsigned scsi(Rig *r, const uint8_t *cdb, unsigned cdb_len, bool in, uint32_t len, uint32_t *residue)
{
    static uint32_t tag = 0x1000;
    uint8_t cbw[31] = { 'U', 'S', 'B', 'C' };
    tag++;
    memcpy(cbw + 4, &tag, 4);
    memcpy(cbw + 8, &len, 4);
    cbw[12] = in ? 0x80 : 0;
    cbw[14] = (uint8_t)cdb_len;
    memcpy(cbw + 15, cdb, cdb_len);
    vm_lock(r->vm);
    mem_write(vm_mem(r->vm), BUF, cbw, 31);
    vm_unlock(r->vm);
    g_assert_true(bulk(r, TOK_OUT, 2, BUF, 31));
    if (len)
        g_assert_true(bulk(r, in ? TOK_IN : TOK_OUT, in ? 1 : 2, DATA, len));
    g_assert_true(bulk(r, TOK_IN, 1, BUF + 0x40, 13));
    uint8_t csw[13];
    vm_lock(r->vm);
    mem_read(vm_mem(r->vm), BUF + 0x40, csw, 13);
    vm_unlock(r->vm);
    g_assert_cmpmem(csw, 4, "USBS", 4);
    uint32_t t;
    memcpy(&t, csw + 4, 4);
    g_assert_cmphex(t, ==, tag);
    if (residue)
        memcpy(residue, csw + 8, 4);
    return csw[12];
}

static void test_storage(void)
{
    g_autofree char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("vireo-usb-XXXXXX.img", &path, &err);
    g_assert_no_error(err);
    uint8_t block[512];
    for (int i = 0; i < 512; i++)
        block[i] = (uint8_t)(i * 7 + 5);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    g_assert_cmpint(pwrite(fd, block, 512, 5 * 512), ==, 512);
    static const char *const devs[] = { "usb-storage,drive=d0", NULL };
    Rig r;
    rig_init_drive(&r, devs, path);
    uint8_t desc[18];
    enumerate(&r, desc);
    g_assert_cmphex(desc[7], ==, 64);
    uint8_t buf[2048];
    uint32_t residue;

    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 36, 0 };
    g_assert_cmpuint(scsi(&r, inquiry, 6, true, 36, &residue), ==, 0);
    g_assert_cmpuint(residue, ==, 0);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 36);
    vm_unlock(r.vm);
    g_assert_cmphex(buf[0], ==, 0);
    g_assert_cmpmem(buf + 8, 5, "VIREO", 5);

    static const uint8_t capacity[10] = { 0x25 };
    g_assert_cmpuint(scsi(&r, capacity, 10, true, 8, NULL), ==, 0);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 8);
    vm_unlock(r.vm);
    static const uint8_t cap_want[8] = { 0, 0, 0x07, 0xff, 0, 0, 2, 0 };
    g_assert_cmpmem(buf, 8, cap_want, 8);

    /* READ(10) of block 5 gives the image's bytes. */
    static const uint8_t read5[10] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0 };
    g_assert_cmpuint(scsi(&r, read5, 10, true, 512, &residue), ==, 0);
    g_assert_cmpuint(residue, ==, 0);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 512);
    vm_unlock(r.vm);
    g_assert_cmpmem(buf, 512, block, 512);

    /* WRITE(10) of three blocks at 7 lands in the image file. */
    for (int i = 0; i < 1536; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    vm_lock(r.vm);
    mem_write(vm_mem(r.vm), DATA, buf, 1536);
    vm_unlock(r.vm);
    static const uint8_t write7[10] = { 0x2a, 0, 0, 0, 0, 7, 0, 0, 3, 0 };
    g_assert_cmpuint(scsi(&r, write7, 10, false, 1536, &residue), ==, 0);
    g_assert_cmpuint(residue, ==, 0);
    uint8_t file[1536];
    g_assert_cmpint(pread(fd, file, 1536, 7 * 512), ==, 1536);
    g_assert_cmpmem(file, 1536, buf, 1536);

    /* Past the end: failed, the data stage padded, the sense says why. */
    static const uint8_t read_end[10] = { 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0 };
    g_assert_cmpuint(scsi(&r, read_end, 10, true, 1024, &residue), ==, 1);
    g_assert_cmpuint(residue, ==, 1024);
    static const uint8_t sense[6] = { 0x03, 0, 0, 0, 18, 0 };
    g_assert_cmpuint(scsi(&r, sense, 6, true, 18, NULL), ==, 0);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 18);
    vm_unlock(r.vm);
    g_assert_cmphex(buf[2], ==, 5);
    g_assert_cmphex(buf[12], ==, 0x21);
    /* An unknown command fails; the host asking for less than a READ returns: phase error. */
    static const uint8_t bogus[6] = { 0xc7 };
    g_assert_cmpuint(scsi(&r, bogus, 6, false, 0, NULL), ==, 1);
    g_assert_cmpuint(scsi(&r, read5, 10, true, 256, NULL), ==, 2);

    /* A CBW that is not one: both bulk endpoints stall until the host clears them
     * and resets the device (BOT 5.3.4 reset recovery); then commands run again. */
    vm_lock(r.vm);
    mem_write(vm_mem(r.vm), BUF, "USBX", 4);
    vm_unlock(r.vm);
    g_assert_false(bulk(&r, TOK_OUT, 2, BUF, 31));
    g_assert_false(bulk(&r, TOK_IN, 1, BUF, 13));
    static const uint8_t bot_reset[8] = { 0x21, 0xff, 0, 0, 0, 0, 0, 0 };
    static const uint8_t clear_in[8] = { 0x02, 1, 0, 0, 0x81, 0, 0, 0 };
    static const uint8_t clear_out[8] = { 0x02, 1, 0, 0, 0x02, 0, 0, 0 };
    uint8_t none[1];
    control(&r, 1, bot_reset, none, 0);
    control(&r, 1, clear_in, none, 0);
    control(&r, 1, clear_out, none, 0);
    g_assert_cmpuint(scsi(&r, inquiry, 6, true, 36, NULL), ==, 0);

    /* A drive= that names nothing is a one-line error. */
    vm_lock(r.vm);
    g_assert_null(device_create_from_spec(r.vm, "usb-storage,drive=nope", &err));
    g_assert_nonnull(strstr(err->message, "nope"));
    g_clear_error(&err);
    vm_unlock(r.vm);
    rig_free(&r);
    close(fd);
    g_unlink(path);
}

/* An isochronous TD (IOS) gets one try in its frame: to the tablet's interrupt endpoint
 * with nothing to report (a NAK) it retires at once with its interrupt, where an
 * ordinary TD stays active for the next frame (UHCI 3.2.2). */
static void test_isochronous_td(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig r;
    rig_init(&r, devs);
    uint8_t desc[18];
    enumerate(&r, desc);
    wr(&r, 0x02, 0x1f, 2);
    td(&r, 0, TDS + 32, ACTIVE | IOC | IOS, token(TOK_IN, 1, 1, 0, 8), BUF + 0x200);
    td(&r, 1, 1, ACTIVE, token(TOK_IN, 1, 1, 0, 8), BUF + 0x300);
    start(&r, TDS);  /* the frame list points at the isochronous TD, then the other */
    vm_test_clock_step(r.vm, 2 * MS);
    g_assert_cmphex(td_ctrl(&r, 0) & (ACTIVE | NAK | STALLED), ==, 0);
    g_assert_cmphex(td_ctrl(&r, 1) & (ACTIVE | NAK), ==, ACTIVE | NAK);
    g_assert_cmphex(rd(&r, 0x02) & STS_USBINT, ==, STS_USBINT);
    rig_free(&r);
}

#ifdef VIREO_LIBUSB_DOUBLE
/* usb-host's isochronous IN (a host microphone), with libusb replaced by
 * tests/libusb-double: the real engine/usb-host back end and hw/usb/host.c run, and the
 * double stands for libusb and the device behind it, delivering isochronous IN packets
 * with lengths and statuses the test chooses (umockdev cannot script those). Checked:
 * each TD's actual length and status bits and the bytes in guest RAM are those of the
 * packet the device sent, in order (a short packet, an empty one, one with a transaction
 * error, one longer than the TD's buffer = babble); with nothing delivered a TD retires
 * empty; SET_INTERFACE back to setting 0 ends the stream on the host; the device leaving
 * mid-stream disconnects the port. */
#define MIC_EP LIBUSB_DOUBLE_MIC_EP
#define MIC_MPS LIBUSB_DOUBLE_MIC_MPS

/* One isochronous IN TD (IOS) to the microphone's endpoint, given to the frames until one
 * took it (it gets its one try in that frame); returns its control/status word. */
static uint32_t iso_in(Rig *r, unsigned maxlen, uint32_t buf)
{
    /* Frame list entry n points at the QH (control) then, through it, nowhere: the
     * isochronous TD goes in front, where a driver puts it (UHCI 3.4). */
    td(r, 8, QH | 2, ACTIVE | IOS, token(TOK_IN, 1, MIC_EP & 15, 0, maxlen), buf);
    put32(r, QH + 4, 1);
    for (int i = 0; i < 10 && (td_ctrl(r, 8) & ACTIVE); i++)
        vm_test_clock_step(r->vm, MS);
    uint32_t c = td_ctrl(r, 8);
    g_assert_cmphex(c & ACTIVE, ==, 0);
    return c;
}

static size_t actlen(uint32_t ctrl)
{
    return (ctrl + 1) & 0x7ff;
}

static void set_interface(Rig *r, unsigned iface, unsigned alt)
{
    /* The schedule goes back to the QH for the control transfer. */
    const uint8_t req[8] = { 0x01, 11, (uint8_t)alt, 0, (uint8_t)iface, 0, 0, 0 };
    uint8_t none[1];
    for (unsigned i = 0; i < 1024; i++)
        put32(r, FRAMES + 4 * i, QH | 2);
    control(r, 1, req, none, 0);
    for (unsigned i = 0; i < 1024; i++)
        put32(r, FRAMES + 4 * i, TDS + 32 * 8);
}

static uint8_t pattern(unsigned packet, unsigned k)
{
    return (uint8_t)(packet * 29 + k * 7 + 1);
}

static void test_host_iso_in(void)
{
    libusb_double_plug(&libusb_double_mic);
    static const char *const devs[] = { "usb-host,vendorid=0x1209,productid=0x7a01,id=mic", NULL };
    Rig rig, *r = &rig;
    rig_init(r, devs);
    /* Opened: both interfaces taken from the host's drivers and claimed. */
    g_assert_cmphex(libusb_double_claimed(), ==, 3);
    g_assert_cmphex(libusb_double_detached(), ==, 3);
    g_assert_cmphex(rd(r, 0x10) & 1, ==, 1); /* connected */

    /* Port reset and enable, the schedule running, enumeration at address 1. */
    uint8_t dd[18];
    enumerate(r, dd);
    g_assert_cmphex(dd[8] | dd[9] << 8, ==, 0x1209);
    g_assert_cmphex(dd[10] | dd[11] << 8, ==, 0x7a01);
    /* The configuration as the guest reads it: the endpoint is isochronous IN. */
    static const uint8_t get_cfg[8] = { 0x80, 6, 0, 2, 0, 0, 64, 0 };
    uint8_t cfg[64];
    size_t cfg_len = control(r, 1, get_cfg, cfg, 64);
    g_assert_cmpuint(cfg_len, ==, 9 + 9 + 9 + 9 + 9);
    g_assert_cmphex(cfg[38], ==, MIC_EP);
    g_assert_cmphex(cfg[39], ==, 0x05);

    /* The streaming setting reaches the device. */
    set_interface(r, 1, 1);
    g_assert_cmpint(libusb_double_alt(1), ==, 1);

    /* The first read starts the stream: nothing delivered yet, so an empty packet; the
     * back end now keeps transfers of whole frames' packets submitted on the host. */
    uint32_t c = iso_in(r, MIC_MPS, BUF);
    g_assert_cmphex(c & TD_STATUS, ==, 0);
    g_assert_cmpuint(actlen(c), ==, 0);
    int packets = 0, plen = 0;
    int n_xfers = libusb_double_in_flight(MIC_EP, &packets, &plen);
    g_assert_cmpint(n_xfers, >=, 1);
    g_assert_cmpint(plen, ==, MIC_MPS);
    g_assert_cmpint(packets, >=, 1);

    /* Two rounds of every transfer's packets: lengths from 0 to the maximum, one packet
     * failed on the host's wire, one longer than the guest's TD. */
    int total = 2 * n_xfers * packets;
    g_assert_cmpint(total, <=, 64);
    size_t lens[64];
    enum libusb_transfer_status sts[64];
    for (int i = 0; i < total; i++) {
        lens[i] = i == 3 ? 0 : i == 5 ? MIC_MPS : (size_t)(i * 37) % (MIC_MPS + 1);
        sts[i] = i == 7 ? LIBUSB_TRANSFER_ERROR : LIBUSB_TRANSFER_COMPLETED;
        uint8_t data[MIC_MPS];
        for (size_t k = 0; k < lens[i]; k++)
            data[k] = pattern((unsigned)i, (unsigned)k);
        libusb_double_iso_in_push(MIC_EP, sts[i], data, lens[i]);
    }
    g_assert_true(libusb_double_iso_in_drained(MIC_EP, 5000));
    /* The host keeps the stream going: every transfer went back in flight. */
    g_assert_cmpint(libusb_double_in_flight(MIC_EP, &packets, &plen), ==, n_xfers);

    for (int i = 0; i < total; i++) {
        uint32_t buf = BUF + 0x100 * (uint32_t)(i % 16);
        vm_lock(r->vm);
        uint8_t clear[MIC_MPS];
        memset(clear, 0xee, sizeof(clear));
        mem_write(vm_mem(r->vm), buf, clear, sizeof(clear));
        vm_unlock(r->vm);
        unsigned maxlen = i == 5 ? 64 : MIC_MPS;
        c = iso_in(r, maxlen, buf);
        if (i == 7) {
            /* A transaction error: no handshake, the TD says CRC/time-out. */
            g_assert_cmphex(c & (TIMEOUT | STALLED | BABBLE), ==, TIMEOUT);
            continue;
        }
        if (i == 5) {
            /* 100 bytes for a 64-byte TD: babble, and the TD says so. */
            g_assert_cmphex(c & (STALLED | BABBLE), ==, STALLED | BABBLE);
            continue;
        }
        g_assert_cmphex(c & TD_STATUS, ==, 0);
        g_assert_cmpuint(actlen(c), ==, lens[i]);
        uint8_t got[MIC_MPS], want[MIC_MPS];
        vm_lock(r->vm);
        mem_read(vm_mem(r->vm), buf, got, sizeof(got));
        vm_unlock(r->vm);
        memset(want, 0xee, sizeof(want));
        for (size_t k = 0; k < lens[i]; k++)
            want[k] = pattern((unsigned)i, (unsigned)k);
        g_assert_cmpmem(got, sizeof(got), want, sizeof(want));
    }
    /* Everything delivered was read: the next frame's TD is empty again. */
    c = iso_in(r, MIC_MPS, BUF);
    g_assert_cmphex(c & TD_STATUS, ==, 0);
    g_assert_cmpuint(actlen(c), ==, 0);

    /* Setting 0 has no endpoint: the stream ends on the host. */
    set_interface(r, 1, 0);
    g_assert_cmpint(libusb_double_alt(1), ==, 0);
    g_assert_cmpint(libusb_double_in_flight(MIC_EP, &packets, &plen), ==, 0);

    /* Streaming again, then the device leaves the host: the port shows the disconnect. */
    set_interface(r, 1, 1);
    iso_in(r, MIC_MPS, BUF);
    g_assert_cmpint(libusb_double_in_flight(MIC_EP, &packets, &plen), ==, n_xfers);
    libusb_double_unplug();
    gint64 until = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
    while ((rd(r, 0x10) & 1) && g_get_monotonic_time() < until)
        g_main_context_iteration(NULL, false), g_usleep(1000);
    g_assert_cmphex(rd(r, 0x10) & 1, ==, 0);
    g_assert_cmpint(libusb_double_in_flight(MIC_EP, &packets, &plen), ==, 0);
    rig_free(r);
    /* Released on the way out: the host's drivers are back. */
    g_assert_cmphex(libusb_double_claimed(), ==, 0);
    g_assert_cmphex(libusb_double_detached(), ==, 0);
}

#endif

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/usb/enumerate-and-report", test_enumerate_and_report);
    g_test_add_func("/usb/hostile", test_hostile);
    g_test_add_func("/usb/state", test_state);
    g_test_add_func("/usb/bus-errors", test_bus_errors);
    g_test_add_func("/usb/storage", test_storage);
    g_test_add_func("/usb/isochronous-td", test_isochronous_td);
#ifdef VIREO_LIBUSB_DOUBLE
    g_test_add_func("/usb/host-iso-in", test_host_iso_in);
#endif
    return g_test_run();
}
