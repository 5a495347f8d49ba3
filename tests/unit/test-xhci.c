/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xHCI controller driven as a guest driver would: rings, contexts and the event
 * ring built in guest RAM, doorbells rung through the MMIO BAR, results read back from
 * the event ring, the output contexts, the data buffers and the IRQ line. Enable Slot,
 * Address Device, control transfers (one short), a tablet's interrupt endpoint that
 * NAKs until the pointer moves, saved and restored while its TRB is pending. Then
 * hostile guests: Link TRB loops, pointers outside RAM, bogus slot and endpoint ids,
 * TRB types that mean nothing there, and random rings: the controller answers with a
 * completion code or a host system error, and this process never crashes or hangs.
 * Also: MSI and MSI-X, isochronous OUT (usb-audio) with Frame IDs, and isochronous IN
 * from the libusb stand-in's microphone through usb-host (tests/libusb-double). */
#include "engine/backend.h"
#include "engine/device.h"
#include "engine/input.h"
#include "engine/timer.h"
#include "pci-rig.h"
#ifdef VIREO_LIBUSB_DOUBLE
#include "tests/libusb-double/libusb-double.h"
#endif

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RAM (UINT64_C(4) << 20)
#define BAR 0xe0000000u
#define DEVFN PCI_DEVFN(4, 0)
#define OPER 0x40u
#define RT 0x1000u
#define DB 0x2000u
#define DCBAA 0x10000u
#define CMD_RING 0x11000u
#define ERST 0x12000u
#define EV_RING 0x13000u
#define EV_SIZE 64u
#define INPUT 0x14000u
#define EP0_RING 0x15000u
#define OUT_CTX 0x16000u /* slot n's at OUT(n) */
#define OUT(slot) (OUT_CTX + 0x400u * ((slot) - 1))
#define BUF 0x17000u
#define EP1_RING 0x18000u
#define REPORT 0x19000u
#define MS INT64_C(1000000)

enum {
    T_NORMAL = 1, T_SETUP = 2, T_DATA = 3, T_STATUS = 4, T_LINK = 6,
    T_ENABLE_SLOT = 9, T_DISABLE_SLOT = 10, T_ADDRESS = 11, T_CONFIGURE = 12, T_EVALUATE = 13,
    T_RESET_EP = 14, T_STOP_EP = 15, T_SET_DEQ = 16, T_RESET_DEV = 17, T_NOOP_CMD = 23,
    E_TRANSFER = 32, E_CMD = 33, E_PORT = 34,
    C = 1, TC = 2, ISP = 4, CH = 16, IOC = 32, IDT = 64, DIR_IN = 1u << 16,
    CC_SUCCESS = 1, CC_TRB = 5, CC_STALL = 6, CC_SLOT_NOT_ENABLED = 11, CC_EP_NOT_ENABLED = 12,
    CC_SHORT = 13, CC_PARAMETER = 17, CC_CONTEXT_STATE = 19, CC_STOPPED = 26,
    STS_HCH = 1, STS_HSE = 4, STS_EINT = 8,
};

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
    /* The driver's view of its rings. */
    unsigned cmd_idx, ev_idx, ep0_idx, ep1_idx;
    bool ev_ccs;
    unsigned port_seen;
    /* Messages the bus delivered (rig_init_msi). */
    int msi_count;
    uint64_t msi_addr;
    uint32_t msi_data;
} Rig;

typedef struct Ev {
    uint64_t param;
    uint32_t status, control;
} Ev;

static void rig_init_full(Rig *r, const char *model, const char *const *devices, const char *drive,
                          const char *audiodev)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    if (drive)
        vm_test_add_drive(r->vm, "d0", drive, "raw");
    GError *err = NULL;
    if (audiodev) {
        g_assert_true(backend_open(r->vm, "audiodev", audiodev, &err));
        g_assert_no_error(err);
    }
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    g_autofree char *spec = g_strdup_printf("%s,addr=4", model);
    g_assert_nonnull(device_create_from_spec(r->vm, spec, &err));
    g_assert_no_error(err);
    for (; devices && *devices; devices++) {
        g_assert_nonnull(device_create_from_spec(r->vm, *devices, &err));
        g_assert_no_error(err);
    }
    pci_config_write(r->bus, DEVFN, PCI_BAR0, BAR, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
    r->ev_ccs = true;
}

static void msi_sink(void *opaque, uint64_t addr, uint32_t data)
{
    Rig *r = opaque;
    r->msi_count++;
    r->msi_addr = addr;
    r->msi_data = data;
}

/* A bus that delivers message signalled interrupts, as the pc board's does. */
static void rig_init_msi(Rig *r, const char *spec, const char *const *devices)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    GError *err = NULL;
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    pci_bus_set_msi(r->bus, msi_sink, r);
    g_assert_nonnull(device_create_from_spec(r->vm, spec, &err));
    g_assert_no_error(err);
    for (; devices && *devices; devices++) {
        g_assert_nonnull(device_create_from_spec(r->vm, *devices, &err));
        g_assert_no_error(err);
    }
    pci_config_write(r->bus, DEVFN, PCI_BAR0, BAR, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
    r->ev_ccs = true;
}

static uint32_t cfg_rd(Rig *r, uint32_t off, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = pci_config_read(r->bus, DEVFN, off, size);
    vm_unlock(r->vm);
    return v;
}

static void cfg_wr(Rig *r, uint32_t off, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    pci_config_write(r->bus, DEVFN, off, v, size);
    vm_unlock(r->vm);
}

static void rig_init_model(Rig *r, const char *model, const char *const *devices)
{
    rig_init_full(r, model, devices, NULL, NULL);
}

static void rig_init(Rig *r, const char *const *devices)
{
    rig_init_model(r, "qemu-xhci", devices);
}

static uint32_t rd(Rig *r, uint32_t off)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), BAR + off, 4);
    vm_unlock(r->vm);
    return v;
}

static void wr(Rig *r, uint32_t off, uint32_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), BAR + off, v, 4);
    vm_unlock(r->vm);
}

static void put32(Rig *r, uint64_t addr, uint32_t v)
{
    vm_lock(r->vm);
    mem_stl(vm_mem(r->vm), addr, v);
    vm_unlock(r->vm);
}

static uint32_t get32(Rig *r, uint64_t addr)
{
    vm_lock(r->vm);
    uint32_t v = mem_ldl(vm_mem(r->vm), addr);
    vm_unlock(r->vm);
    return v;
}

static void put_trb(Rig *r, uint64_t addr, uint64_t param, uint32_t status, uint32_t control)
{
    put32(r, addr, (uint32_t)param);
    put32(r, addr + 4, (uint32_t)(param >> 32));
    put32(r, addr + 8, status);
    put32(r, addr + 12, control);
}

static uint32_t trb_type_bits(unsigned type)
{
    return type << 10;
}

/* The next event, if the controller wrote one; the dequeue pointer moves past it. */
static bool next_event(Rig *r, Ev *ev)
{
    uint64_t a = EV_RING + 16u * r->ev_idx;
    uint32_t control = get32(r, a + 12);
    if ((control & C) != (r->ev_ccs ? 1u : 0u))
        return false;
    ev->param = get32(r, a) | (uint64_t)get32(r, a + 4) << 32;
    ev->status = get32(r, a + 8);
    ev->control = control;
    if (++r->ev_idx == EV_SIZE) {
        r->ev_idx = 0;
        r->ev_ccs = !r->ev_ccs;
    }
    /* As a driver's interrupt handler: clear IP and EINT, move ERDP, clear EHB. */
    wr(r, RT + 0x20, 3);
    wr(r, OPER + 4, STS_EINT);
    wr(r, RT + 0x38, (EV_RING + 16u * r->ev_idx) | 8);
    wr(r, RT + 0x3c, 0);
    return true;
}

static Ev expect_event(Rig *r, unsigned type)
{
    Ev ev;
    g_assert_true(next_event(r, &ev));
    if (((ev.control >> 10) & 0x3f) != type)
        g_printerr("event 0x%" G_GINT64_MODIFIER "x 0x%08x 0x%08x\n", ev.param, ev.status, ev.control);
    g_assert_cmpuint((ev.control >> 10) & 0x3f, ==, type);
    return ev;
}

static unsigned code(const Ev *ev)
{
    return ev->status >> 24;
}

static void no_event(Rig *r)
{
    Ev ev;
    g_assert_false(next_event(r, &ev));
}

static void ring_cmd(Rig *r, uint64_t param, uint32_t status, uint32_t control)
{
    put_trb(r, CMD_RING + 16u * r->cmd_idx, param, status, control | C);
    r->cmd_idx++;
    wr(r, DB, 0);
}

/* One command; returns its completion event. */
static Ev command(Rig *r, uint64_t param, uint32_t status, uint32_t control)
{
    uint64_t at = CMD_RING + 16u * r->cmd_idx;
    ring_cmd(r, param, status, control);
    Ev ev = expect_event(r, E_CMD);
    g_assert_cmphex(ev.param, ==, at);
    return ev;
}

/* Driver start-up (xHCI 4.2): reset, slots, DCBAA, command ring, event ring, run. */
static void start(Rig *r)
{
    wr(r, OPER, 2); /* HCRST */
    g_assert_cmphex(rd(r, OPER + 4) & (1u << 11), ==, 0); /* CNR */
    wr(r, OPER + 0x38, 8);
    wr(r, OPER + 0x30, DCBAA);
    wr(r, OPER + 0x34, 0);
    wr(r, OPER + 0x18, CMD_RING | 1);
    wr(r, OPER + 0x1c, 0);
    put32(r, ERST, EV_RING);
    put32(r, ERST + 4, 0);
    put32(r, ERST + 8, EV_SIZE);
    wr(r, RT + 0x28, 1);
    wr(r, RT + 0x38, EV_RING);
    wr(r, RT + 0x3c, 0);
    wr(r, RT + 0x30, ERST);
    wr(r, RT + 0x34, 0);
    wr(r, RT + 0x24, 0); /* no moderation: events interrupt at once */
    wr(r, RT + 0x20, 2); /* IE */
    wr(r, OPER, 1 | 4);  /* R/S, INTE */
    g_assert_cmphex(rd(r, OPER + 4) & STS_HCH, ==, 0);
}

/* A Port Status Change Event for port n; other ports' events (every connected port
 * reports when the controller starts) are noted for later. */
static void port_event(Rig *r, unsigned n)
{
    while (!(r->port_seen & (1u << n))) {
        Ev ev = expect_event(r, E_PORT);
        r->port_seen |= 1u << (ev.param >> 24);
    }
    r->port_seen &= ~(1u << n);
}

/* Port n (from 1): the connect reported, then a reset that enables it. */
static void port_enable(Rig *r, unsigned n, unsigned speed)
{
    uint32_t off = OPER + 0x400 + 0x10 * (n - 1);
    uint32_t sc = rd(r, off);
    g_assert_cmphex(sc & 1, ==, 1);                    /* CCS */
    g_assert_cmphex((sc >> 10) & 0xf, ==, speed);
    g_assert_cmphex((sc >> 5) & 0xf, ==, 7);           /* Polling */
    port_event(r, n);
    wr(r, off, (sc & 0x0e00c3e0u & ~2u) | (1u << 17) | (1u << 4)); /* clear CSC, PR */
    sc = rd(r, off);
    g_assert_cmphex(sc & 0x3, ==, 3);                  /* CCS, PED */
    g_assert_cmphex((sc >> 5) & 0xf, ==, 0);           /* U0 */
    g_assert_cmphex(sc & (1u << 21), ==, 1u << 21);    /* PRC */
    port_event(r, n);
    wr(r, off, (sc & 0x0e00c3e0u) | (1u << 21));
}

/* Enable Slot and Address Device for the device on port n; returns the slot id. */
static unsigned address_device(Rig *r, unsigned n, unsigned speed, unsigned mps, bool bsr)
{
    Ev ev = command(r, 0, 0, trb_type_bits(T_ENABLE_SLOT));
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    unsigned slot = ev.control >> 24;
    g_assert_cmpuint(slot, >=, 1);
    put32(r, DCBAA + 8 * slot, OUT(slot));
    for (unsigned i = 0; i < 0x400; i += 4)
        put32(r, EP0_RING + i, 0);
    put32(r, DCBAA + 8 * slot + 4, 0);
    for (unsigned i = 0; i < 0x440; i += 4)
        put32(r, INPUT + i, 0);
    put32(r, INPUT + 4, 3);                                   /* add slot and EP0 */
    put32(r, INPUT + 0x20, 1u << 27 | speed << 20);          /* one context entry */
    put32(r, INPUT + 0x24, n << 16);                          /* root port */
    put32(r, INPUT + 0x40 + 4, mps << 16 | 4u << 3 | 3u << 1); /* control, CErr 3 */
    put32(r, INPUT + 0x40 + 8, EP0_RING | 1);
    r->ep0_idx = 0;
    ev = command(r, INPUT, 0, trb_type_bits(T_ADDRESS) | (bsr ? 1u << 9 : 0) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmpuint(ev.control >> 24, ==, slot);
    uint32_t dw3 = get32(r, OUT(slot) + 12);
    g_assert_cmphex(dw3 >> 27, ==, bsr ? 1 : 2);              /* Default / Addressed */
    g_assert_cmphex(dw3 & 0xff, ==, bsr ? 0 : slot);
    g_assert_cmphex(get32(r, OUT(slot) + 0x20) & 7, ==, 1);   /* EP0 running */
    return slot;
}

static void ep0_trb(Rig *r, uint64_t param, uint32_t status, uint32_t control)
{
    put_trb(r, EP0_RING + 16u * r->ep0_idx, param, status, control | C);
    r->ep0_idx++;
}

/* A control transfer on EP0; returns the IN data stage's length (from the events). */
static size_t control(Rig *r, unsigned slot, const uint8_t setup[8], uint8_t *in, uint32_t in_len)
{
    uint64_t req = 0;
    memcpy(&req, setup, 8);
    req = GUINT64_FROM_LE(req);
    ep0_trb(r, req, 8, trb_type_bits(T_SETUP) | IDT | (in_len ? 3u << 16 : 0));
    uint64_t data_at = EP0_RING + 16u * r->ep0_idx;
    if (in_len)
        ep0_trb(r, BUF, in_len, trb_type_bits(T_DATA) | DIR_IN | ISP);
    uint64_t status_at = EP0_RING + 16u * r->ep0_idx;
    ep0_trb(r, 0, 0, trb_type_bits(T_STATUS) | IOC | (in_len ? 0 : DIR_IN));
    wr(r, DB + 4 * slot, 1);
    size_t got = in_len;
    Ev ev = expect_event(r, E_TRANSFER);
    if (code(&ev) == CC_SHORT) {
        g_assert_cmphex(ev.param, ==, data_at);
        got = in_len - (ev.status & 0xffffff);
        ev = expect_event(r, E_TRANSFER);
    }
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(ev.param, ==, status_at);
    g_assert_cmpuint(ev.control >> 24, ==, slot);
    g_assert_cmpuint((ev.control >> 16) & 0x1f, ==, 1);
    if (in_len) {
        vm_lock(r->vm);
        mem_read(vm_mem(r->vm), BUF, in, got);
        vm_unlock(r->vm);
    }
    return got;
}

/* The tablet: addressed, configured, its interrupt IN endpoint 1 (DCI 3) added. */
static unsigned tablet_setup(Rig *r)
{
    start(r);
    port_enable(r, 1, 3);
    unsigned slot = address_device(r, 1, 3, 64, false);
    uint8_t desc[64];
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 64, 0 };
    g_assert_cmpuint(control(r, slot, get_dev, desc, 64), ==, 18); /* short: 18 of 64 */
    g_assert_cmphex(desc[0], ==, 18);
    g_assert_cmphex(desc[1], ==, 1);
    /* High speed on the USB 2 port: a USB 2.0 device with 64-byte EP0 packets. */
    g_assert_cmphex(desc[2] | desc[3] << 8, ==, 0x0200);
    g_assert_cmphex(desc[7], ==, 64);
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(r, slot, set_conf, NULL, 0);
    for (unsigned i = 0; i < 0x440; i += 4)
        put32(r, INPUT + i, 0);
    put32(r, INPUT + 4, 1u | 1u << 3);                        /* add slot, DCI 3 */
    put32(r, INPUT + 0x20, 3u << 27 | 3u << 20);
    put32(r, INPUT + 0x24, 1u << 16);
    put32(r, INPUT + 0x20 + 0x20 * 3, 6u << 16);              /* interval 2^6 x 125 us */
    put32(r, INPUT + 0x20 + 0x20 * 3 + 4, 8u << 16 | 7u << 3 | 3u << 1); /* interrupt IN */
    put32(r, INPUT + 0x20 + 0x20 * 3 + 8, EP1_RING | 1);
    Ev ev = command(r, INPUT, 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(get32(r, OUT_CTX + 12) >> 27, ==, 3);     /* Configured */
    g_assert_cmphex(get32(r, OUT_CTX + 0x20 * 3) & 7, ==, 1); /* running */
    r->ep1_idx = 0;
    return slot;
}

/* Queues one interrupt IN TRB for a 6-byte tablet report and rings its doorbell. */
static uint64_t tablet_poll(Rig *r, unsigned slot)
{
    uint64_t at = EP1_RING + 16u * r->ep1_idx;
    put_trb(r, at, REPORT, 8, trb_type_bits(T_NORMAL) | IOC | ISP | C);
    r->ep1_idx++;
    wr(r, DB + 4 * slot, 3);
    return at;
}

static void expect_report(Rig *r, uint64_t trb, int x, int y)
{
    Ev ev = expect_event(r, E_TRANSFER);
    g_assert_cmphex(ev.param, ==, trb);
    g_assert_cmpuint(code(&ev), ==, CC_SHORT);
    g_assert_cmpuint(ev.status & 0xffffff, ==, 2); /* 6 of 8 bytes */
    uint8_t report[6];
    vm_lock(r->vm);
    mem_read(vm_mem(r->vm), REPORT, report, 6);
    vm_unlock(r->vm);
    const uint8_t want[6] = { 0, (uint8_t)x, (uint8_t)(x >> 8), (uint8_t)y, (uint8_t)(y >> 8), 0 };
    g_assert_cmpmem(report, 6, want, 6);
}

static void test_registers(void)
{
    Rig r;
    rig_init(&r, NULL);
    g_assert_cmphex(rd(&r, 0) & 0xff, ==, 0x40);             /* CAPLENGTH */
    g_assert_cmphex(rd(&r, 4) >> 24, ==, 8);                 /* 4 + 4 ports */
    g_assert_cmphex(rd(&r, 0x10) & 4, ==, 0);                /* 32-byte contexts */
    unsigned xecp = (rd(&r, 0x10) >> 16) * 4;
    /* The two Supported Protocol capabilities: USB 2 ports 1-4, USB 3 ports 5-8. */
    g_assert_cmphex(rd(&r, xecp) & 0xff, ==, 2);
    g_assert_cmphex(rd(&r, xecp) >> 24, ==, 2);
    g_assert_cmphex(rd(&r, xecp + 8) & 0xffff, ==, 0x0401);
    unsigned next = xecp + ((rd(&r, xecp) >> 8) & 0xff) * 4;
    g_assert_cmphex(rd(&r, next) >> 24, ==, 3);
    g_assert_cmphex(rd(&r, next + 8) & 0xffff, ==, 0x0405);
    g_assert_cmphex(rd(&r, OPER + 4) & STS_HCH, ==, STS_HCH);
    /* An empty USB 3 port: powered, RxDetect; a warm reset completes with WRC, PRC. */
    uint32_t p5 = OPER + 0x400 + 0x40;
    g_assert_cmphex(rd(&r, p5), ==, 1u << 9 | 5u << 5);
    wr(&r, p5, 1u << 9 | 1u << 31);
    g_assert_cmphex(rd(&r, p5) & (3u << 19 | 1u << 21), ==, 1u << 19 | 1u << 21);
    /* MFINDEX counts 125 us microframes while running, and stands still when halted. */
    start(&r);
    uint32_t m0 = rd(&r, RT);
    vm_test_clock_step(r.vm, 1 * MS);
    g_assert_cmpuint((rd(&r, RT) - m0) & 0x3fff, ==, 8);
    /* With EWE, an MFINDEX Wrap Event each time it wraps (every 2.048 s); none without. */
    vm_test_clock_step(r.vm, 2100 * MS);
    no_event(&r);
    wr(&r, OPER, 1 | 4 | 1u << 10);
    vm_test_clock_step(r.vm, 2100 * MS);
    expect_event(&r, 39);
    no_event(&r);
    vm_test_clock_step(r.vm, 2100 * MS);
    expect_event(&r, 39);
    wr(&r, OPER, 0);
    g_assert_cmphex(rd(&r, OPER + 4) & STS_HCH, ==, STS_HCH);
    vm_test_clock_step(r.vm, 2100 * MS);
    no_event(&r);
    m0 = rd(&r, RT);
    vm_test_clock_step(r.vm, 1 * MS);
    g_assert_cmpuint(rd(&r, RT), ==, m0);
    vm_free(r.vm);
}

/* usb-storage through its bulk rings: INQUIRY's data stage as two chained Normal TRBs
 * and an Event Data TRB (a short TD, one event with the TD's byte count), a READ(10)
 * that arrives whole, and the CSWs. */
#define BULK_IN_RING 0x1a000u
#define BULK_OUT_RING 0x1b000u
#define DATA 0x1c000u

static Ev bulk(Rig *r, unsigned slot, unsigned dci, uint64_t *ring_idx, uint64_t param, uint32_t len,
               uint32_t control)
{
    uint64_t base = dci == 3 ? BULK_IN_RING : BULK_OUT_RING;
    put_trb(r, base + 16u * *ring_idx, param, len, trb_type_bits(T_NORMAL) | IOC | C | control);
    (*ring_idx)++;
    wr(r, DB + 4 * slot, dci);
    return expect_event(r, E_TRANSFER);
}

static void cbw(Rig *r, uint32_t tag, uint32_t len, bool in, const uint8_t *cdb, unsigned cdb_len)
{
    uint8_t c[31] = { 'U', 'S', 'B', 'C' };
    memcpy(c + 4, &tag, 4);
    memcpy(c + 8, &len, 4);
    c[12] = in ? 0x80 : 0;
    c[14] = (uint8_t)cdb_len;
    memcpy(c + 15, cdb, cdb_len);
    vm_lock(r->vm);
    mem_write(vm_mem(r->vm), BUF, c, sizeof(c));
    vm_unlock(r->vm);
}

static void test_storage(void)
{
    g_autofree char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("vireo-xhci-XXXXXX.img", &path, &err);
    g_assert_no_error(err);
    uint8_t blocks[4096];
    for (int i = 0; i < 4096; i++)
        blocks[i] = (uint8_t)(i * 13 + (i >> 8));
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    g_assert_cmpint(pwrite(fd, blocks, sizeof(blocks), 16 * 512), ==, sizeof(blocks));
    close(fd);
    static const char *const devs[] = { "usb-storage,drive=d0", NULL };
    Rig r;
    rig_init_full(&r, "qemu-xhci", devs, path, NULL);
    start(&r);
    port_enable(&r, 1, 3);
    unsigned slot = address_device(&r, 1, 3, 64, false);
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(&r, slot, set_conf, NULL, 0);
    for (unsigned i = 0; i < 0x440; i += 4)
        put32(&r, INPUT + i, 0);
    put32(&r, INPUT + 4, 1u | 1u << 3 | 1u << 4);                /* add slot, DCI 3 and 4 */
    put32(&r, INPUT + 0x20, 4u << 27 | 3u << 20);
    put32(&r, INPUT + 0x24, 1u << 16);
    put32(&r, INPUT + 0x20 + 0x20 * 3 + 4, 64u << 16 | 6u << 3 | 3u << 1); /* bulk IN */
    put32(&r, INPUT + 0x20 + 0x20 * 3 + 8, BULK_IN_RING | 1);
    put32(&r, INPUT + 0x20 + 0x20 * 4 + 4, 64u << 16 | 2u << 3 | 3u << 1); /* bulk OUT */
    put32(&r, INPUT + 0x20 + 0x20 * 4 + 8, BULK_OUT_RING | 1);
    Ev ev = command(&r, INPUT, 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    uint64_t in_idx = 0, out_idx = 0;

    static const uint8_t inquiry[6] = { 0x12, 0, 0, 0, 64, 0 };
    cbw(&r, 0x1234, 64, true, inquiry, 6);
    ev = bulk(&r, slot, 4, &out_idx, BUF, 31, 0);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    /* The data TD: 32 + 32 bytes asked; the device pads INQUIRY's 36 bytes to the
     * host's length (BOT case 5), and the Event Data TRB reports the TD's 64. */
    put_trb(&r, BULK_IN_RING, DATA, 32, trb_type_bits(T_NORMAL) | CH | C);
    put_trb(&r, BULK_IN_RING + 16, DATA + 32, 32, trb_type_bits(T_NORMAL) | CH | C);
    put_trb(&r, BULK_IN_RING + 32, 0xcafe0000u, 0, trb_type_bits(7) | IOC | C);
    in_idx = 3;
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(ev.param, ==, 0xcafe0000u);
    g_assert_cmphex(ev.control & 4, ==, 4);                   /* ED */
    g_assert_cmpuint(ev.status & 0xffffff, ==, 64);           /* EDTLA */
    no_event(&r);
    uint8_t buf[4096];
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 36);
    vm_unlock(r.vm);
    g_assert_cmpmem(buf + 8, 5, "VIREO", 5);
    ev = bulk(&r, slot, 3, &in_idx, BUF + 0x100, 13, ISP);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);              /* the 13-byte CSW */
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), BUF + 0x100, buf, 13);
    vm_unlock(r.vm);
    g_assert_cmpmem(buf, 4, "USBS", 4);
    g_assert_cmphex(buf[12], ==, 0);

    /* READ(10) of eight blocks at 16 in one 4 KiB TRB. */
    static const uint8_t read16[10] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 8, 0 };
    cbw(&r, 0x1235, 4096, true, read16, 10);
    ev = bulk(&r, slot, 4, &out_idx, BUF, 31, 0);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    ev = bulk(&r, slot, 3, &in_idx, DATA, 4096, ISP);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 4096);
    vm_unlock(r.vm);
    g_assert_cmpmem(buf, 4096, blocks, 4096);
    ev = bulk(&r, slot, 3, &in_idx, BUF + 0x100, 13, ISP);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);

    /* A control read whose data stage is a Data TRB chained to a Normal TRB and an
     * Event Data TRB: 18 of 8 + 56 bytes come, the second TRB is short, and the one
     * event is the Event Data's, with Short Packet and the 18 bytes moved. */
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 64, 0 };
    uint64_t req = 0;
    memcpy(&req, get_dev, 8);
    ep0_trb(&r, GUINT64_FROM_LE(req), 8, trb_type_bits(T_SETUP) | IDT | 3u << 16);
    ep0_trb(&r, DATA, 8, trb_type_bits(T_DATA) | DIR_IN | CH);
    ep0_trb(&r, DATA + 8, 56, trb_type_bits(T_NORMAL) | CH);
    ep0_trb(&r, 0xbeef0000u, 0, trb_type_bits(7) | IOC);
    uint64_t status_at = EP0_RING + 16u * r.ep0_idx;
    ep0_trb(&r, 0, 0, trb_type_bits(T_STATUS) | IOC);
    wr(&r, DB + 4 * slot, 1);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_SHORT);
    g_assert_cmphex(ev.param, ==, 0xbeef0000u);
    g_assert_cmphex(ev.control & 4, ==, 4);
    g_assert_cmpuint(ev.status & 0xffffff, ==, 18);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(ev.param, ==, status_at);
    vm_lock(r.vm);
    mem_read(vm_mem(r.vm), DATA, buf, 18);
    vm_unlock(r.vm);
    g_assert_cmphex(buf[0], ==, 18);
    g_assert_cmphex(buf[1], ==, 1);
    vm_free(r.vm);
    g_unlink(path);
}

/* Hot plug (QMP device_add/device_del): unplugging the tablet drops the port's
 * connection and enable with CSC and PEC and an event; a keyboard added takes the port
 * and reports its connect, and Linux's sequence addresses it. */
static void test_hotplug(void)
{
    static const char *const devs[] = { "usb-tablet,id=tab", NULL };
    Rig r;
    rig_init(&r, devs);
    start(&r);
    port_enable(&r, 1, 3);
    uint32_t off = OPER + 0x400;
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_true(device_unplug(device_find(r.vm, "tab"), &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    port_event(&r, 1);
    uint32_t sc = rd(&r, off);
    g_assert_cmphex(sc & 3, ==, 0);                                 /* CCS, PED clear */
    g_assert_cmphex(sc & (3u << 17), ==, 3u << 17);                  /* CSC, PEC */
    g_assert_cmphex((sc >> 5) & 0xf, ==, 5);                         /* RxDetect */
    wr(&r, off, (sc & 0x0e00c3e0u) | 3u << 17);
    vm_lock(r.vm);
    g_assert_nonnull(device_create_from_spec(r.vm, "usb-kbd,id=kbd", &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    port_enable(&r, 1, 3);
    unsigned slot = address_device(&r, 1, 3, 64, false);
    uint8_t desc[18];
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    g_assert_cmpuint(control(&r, slot, get_dev, desc, 18), ==, 18);
    vm_free(r.vm);
}

/* nec-usb-xhci: NEC's IDs, and the firmware version command Linux sends such a host;
 * qemu-xhci refuses that command. */
static void test_nec(void)
{
    Rig r;
    rig_init_model(&r, "nec-usb-xhci", NULL);
    vm_lock(r.vm);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, 0, 4), ==, 0x01941033);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, 8, 4) >> 8, ==, 0x0c0330);
    vm_unlock(r.vm);
    start(&r);
    ring_cmd(&r, 0, 0, trb_type_bits(49));
    Ev ev = expect_event(&r, 48);
    g_assert_cmphex(ev.param, ==, CMD_RING);
    g_assert_cmphex(ev.status, ==, (uint32_t)CC_SUCCESS << 24 | 0x3025);
    vm_free(r.vm);
    rig_init(&r, NULL);
    vm_lock(r.vm);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, 0, 4), ==, 0x000d1b36);
    vm_unlock(r.vm);
    start(&r);
    ev = command(&r, 0, 0, trb_type_bits(49));
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    vm_free(r.vm);
}

static void test_enumerate_and_report(void)
{
    static const char *const devs[] = { "usb-tablet", "usb-kbd,port=3", NULL };
    Rig r;
    rig_init(&r, devs);
    unsigned slot = tablet_setup(&r);
    g_assert_cmpint(r.irq, ==, 0);
    /* Nothing to report: the TRB NAKs and waits, no event, no busy loop. */
    uint64_t trb = tablet_poll(&r, slot);
    vm_test_clock_step(r.vm, 20 * MS);
    no_event(&r);
    vm_input_pointer_abs(r.vm, 1000, 2000, 0, 0);
    vm_test_clock_step(r.vm, 20 * MS);
    g_assert_cmpint(r.irq, ==, 1);
    expect_report(&r, trb, 1000, 2000);
    g_assert_cmpint(r.irq, ==, 0);
    /* With BEI the event is written but does not interrupt. */
    uint64_t at = EP1_RING + 16u * r.ep1_idx;
    put_trb(&r, at, REPORT, 8, trb_type_bits(T_NORMAL) | IOC | ISP | 1u << 9 | C);
    r.ep1_idx++;
    vm_input_pointer_abs(r.vm, 30, 40, 0, 0);
    wr(&r, DB + 4 * slot, 3);
    vm_test_clock_step(r.vm, 20 * MS);
    g_assert_cmpint(r.irq, ==, 0);
    g_assert_cmphex(rd(&r, RT + 0x20) & 1, ==, 0);           /* IMAN.IP */
    expect_report(&r, at, 30, 40);

    /* Stop Endpoint with a TRB waiting: its event says Stopped, the context has the
     * dequeue pointer; Set TR Dequeue moves past it and a doorbell restarts. */
    trb = tablet_poll(&r, slot);
    vm_test_clock_step(r.vm, 10 * MS);
    Ev ev;
    uint64_t cmd_at = CMD_RING + 16u * r.cmd_idx;
    ring_cmd(&r, 0, 0, trb_type_bits(T_STOP_EP) | 3u << 16 | slot << 24);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_STOPPED);
    g_assert_cmphex(ev.param, ==, trb);
    ev = expect_event(&r, E_CMD);
    g_assert_cmphex(ev.param, ==, cmd_at);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(get32(&r, OUT_CTX + 0x20 * 3) & 7, ==, 3);
    g_assert_cmphex(get32(&r, OUT_CTX + 0x20 * 3 + 8), ==, trb | 1);
    ev = command(&r, (trb + 16) | 1, 0, trb_type_bits(T_SET_DEQ) | 3u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    vm_input_pointer_abs(r.vm, 5, 6, 0, 0);
    trb = tablet_poll(&r, slot);
    expect_report(&r, trb, 5, 6);

    /* The keyboard on port 3, addressed with BSR first as Linux does, then for real. */
    port_enable(&r, 3, 3);
    unsigned kslot = address_device(&r, 3, 3, 64, true);
    g_assert_cmpuint(kslot, !=, slot);
    uint8_t desc[18];
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    g_assert_cmpuint(control(&r, kslot, get_dev, desc, 18), ==, 18);
    g_assert_cmphex(desc[1], ==, 1);
    /* Address Device again without BSR from Default: SET_ADDRESS is the controller's. */
    put32(&r, INPUT + 0x40 + 8, EP0_RING | 1);
    r.ep0_idx = 0;
    for (unsigned i = 0; i < 64; i++)
        put32(&r, EP0_RING + 4 * i, 0);
    ev = command(&r, INPUT, 0, trb_type_bits(T_ADDRESS) | kslot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmphex(get32(&r, OUT(kslot) + 12), ==, 2u << 27 | kslot);
    g_assert_cmpuint(control(&r, kslot, get_dev, desc, 18), ==, 18);
    /* A request the keyboard refuses stalls; the endpoint halts until Reset Endpoint. */
    static const uint8_t bad[8] = { 0x80, 6, 0, 0x7f, 0, 0, 8, 0 };
    uint64_t req = 0;
    memcpy(&req, bad, 8);
    ep0_trb(&r, GUINT64_FROM_LE(req), 8, trb_type_bits(T_SETUP) | IDT | 3u << 16);
    uint64_t data_at = EP0_RING + 16u * r.ep0_idx;
    ep0_trb(&r, BUF, 8, trb_type_bits(T_DATA) | DIR_IN | ISP);
    ep0_trb(&r, 0, 0, trb_type_bits(T_STATUS) | IOC);
    wr(&r, DB + 4 * kslot, 1);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_STALL);
    g_assert_cmphex(ev.param, ==, data_at);
    g_assert_cmphex(get32(&r, OUT(kslot) + 0x20) & 7, ==, 2); /* halted */
    ev = command(&r, 0, 0, trb_type_bits(T_SET_DEQ) | 1u << 16 | kslot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_CONTEXT_STATE);       /* not while halted */
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 1u << 16 | kslot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    ev = command(&r, (EP0_RING + 16u * r.ep0_idx) | 1, 0, trb_type_bits(T_SET_DEQ) | 1u << 16 | kslot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmpuint(control(&r, kslot, get_dev, desc, 18), ==, 18);
    ev = command(&r, 0, 0, trb_type_bits(T_DISABLE_SLOT) | kslot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    ev = command(&r, 0, 0, trb_type_bits(T_NOOP_CMD));
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    vm_free(r.vm);
}

static void test_state(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig a, b;
    rig_init(&a, devs);
    unsigned slot = tablet_setup(&a);
    /* Mid-transfer: a TRB NAKed and waiting for its retry. */
    uint64_t trb = tablet_poll(&a, slot);
    vm_test_clock_step(a.vm, 10 * MS);
    no_event(&a);
    vm_lock(a.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(a.vm, devstate);
    GByteArray *ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x20000);
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
    b.ev_idx = a.ev_idx;
    b.ev_ccs = a.ev_ccs;
    b.cmd_idx = a.cmd_idx;
    b.ep1_idx = a.ep1_idx;
    /* The restored controller retries the pending TRB and delivers the new position. */
    vm_input_pointer_abs(b.vm, 321, 654, 0, 0);
    vm_test_clock_step(b.vm, 20 * MS);
    expect_report(&b, trb, 321, 654);
    trb = tablet_poll(&b, slot);
    vm_input_pointer_abs(b.vm, 7, 8, 0, 0);
    vm_test_clock_step(b.vm, 20 * MS);
    expect_report(&b, trb, 7, 8);

    /* A stream that says a device sits on port 1 of a VM without one is refused. */
    Rig c;
    rig_init(&c, NULL);
    vm_lock(c.vm);
    g_assert_false(device_list_load(c.vm, devstate->data, devstate->len, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_unlock(c.vm);
    vm_free(c.vm);
    vm_free(a.vm);
    vm_free(b.vm);
}

static void test_hostile_commands(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig r;
    rig_init(&r, devs);
    unsigned slot = tablet_setup(&r);
    Ev ev;
    /* Bogus slot ids, endpoint ids and states. */
    ev = command(&r, 0, 0, trb_type_bits(T_DISABLE_SLOT) | 200u << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SLOT_NOT_ENABLED);
    ev = command(&r, INPUT, 0, trb_type_bits(T_ADDRESS) | 7u << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SLOT_NOT_ENABLED);
    ev = command(&r, 0, 0, trb_type_bits(T_STOP_EP) | 9u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_EP_NOT_ENABLED);
    ev = command(&r, 0, 0, trb_type_bits(T_STOP_EP) | 0u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_EP_NOT_ENABLED);
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 3u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_CONTEXT_STATE);       /* not halted */
    ev = command(&r, INPUT, 0, trb_type_bits(T_ADDRESS) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_CONTEXT_STATE);       /* already configured */
    /* TRB type garbage, and an input context outside RAM. */
    ev = command(&r, 0, 0, trb_type_bits(63));
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    ev = command(&r, 0, 0, trb_type_bits(T_NORMAL));
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    ev = command(&r, UINT64_C(0x7fff0000), 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    ev = command(&r, UINT64_C(0xffffffff00000000), 0, trb_type_bits(T_EVALUATE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    /* An endpoint context of type 0 in Configure Endpoint: a parameter error, and the
     * slot is as it was. */
    put32(&r, INPUT + 4, 1u << 5);
    put32(&r, INPUT + 0x20 + 0x20 * 5 + 4, 0);
    ev = command(&r, INPUT, 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_PARAMETER);
    g_assert_cmphex(get32(&r, OUT_CTX + 12) >> 27, ==, 3);

    /* Doorbells for slots and endpoints that do not exist change nothing. */
    wr(&r, DB + 4 * 31, 1);
    wr(&r, DB + 4 * slot, 0);
    wr(&r, DB + 4 * slot, 200);
    wr(&r, DB + 4 * 400, 1);
    no_event(&r);

    /* A transfer ring with a TRB type it cannot hold: TRB Error, endpoint halted. */
    put_trb(&r, EP1_RING + 16u * r.ep1_idx, 0, 0, trb_type_bits(T_ENABLE_SLOT) | C);
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    g_assert_cmphex(get32(&r, OUT_CTX + 0x20 * 3) & 7, ==, 2);
    /* A transfer ring of Link TRBs that loop: the same, after a bounded walk. */
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 3u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    put_trb(&r, EP1_RING + 0x100, EP1_RING + 0x110, 0, trb_type_bits(T_LINK) | C);
    put_trb(&r, EP1_RING + 0x110, EP1_RING + 0x100, 0, trb_type_bits(T_LINK) | C);
    ev = command(&r, (EP1_RING + 0x100) | 1, 0, trb_type_bits(T_SET_DEQ) | 3u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    /* A transfer ring outside RAM, and a data buffer outside RAM. */
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 3u << 16 | slot << 24);
    ev = command(&r, UINT64_C(0xfee00000) | 1, 0, trb_type_bits(T_SET_DEQ) | 3u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 3u << 16 | slot << 24);
    ev = command(&r, EP1_RING | 1, 0, trb_type_bits(T_SET_DEQ) | 3u << 16 | slot << 24);
    put_trb(&r, EP1_RING, UINT64_C(0x3fffffffff), 8, trb_type_bits(T_NORMAL) | IOC | C);
    vm_input_pointer_abs(r.vm, 1, 1, 0, 0);
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, 2); /* Data Buffer Error */
    g_assert_cmphex(rd(&r, OPER + 4) & STS_HSE, ==, 0);

    /* A command ring that loops through Link TRBs: a host system error, halted. */
    put_trb(&r, CMD_RING + 16u * r.cmd_idx, CMD_RING + 16u * r.cmd_idx, 0, trb_type_bits(T_LINK) | C);
    wr(&r, DB, 0);
    g_assert_cmphex(rd(&r, OPER + 4) & (STS_HSE | STS_HCH), ==, STS_HSE | STS_HCH);
    vm_free(r.vm);

    /* A command ring outside RAM, and an event ring segment outside RAM. */
    rig_init(&r, NULL);
    start(&r);
    wr(&r, OPER, 0);
    wr(&r, OPER + 0x18, 0xfff00000u | 1);
    wr(&r, OPER, 1);
    wr(&r, DB, 0);
    g_assert_cmphex(rd(&r, OPER + 4) & STS_HSE, ==, STS_HSE);
    wr(&r, OPER + 4, STS_HSE);
    put32(&r, ERST, 0xfff00000u);
    wr(&r, RT + 0x30, ERST);
    wr(&r, RT + 0x34, 0);
    g_assert_cmphex(rd(&r, OPER + 4) & STS_HSE, ==, STS_HSE);
    vm_free(r.vm);
}

/* Random rings, contexts and register writes: whatever happens, the process survives
 * and the controller stays consistent (running, or halted). */
static void test_random(void)
{
    static const char *const devs[] = { "usb-tablet", "usb-kbd", NULL };
    GRand *rand = g_rand_new_with_seed(15);
    for (int round = 0; round < 40; round++) {
        Rig r;
        rig_init(&r, devs);
        unsigned slot = tablet_setup(&r);
        for (int i = 0; i < 200; i++) {
            uint32_t a = 0x10000u + (g_rand_int(rand) & 0xfff0u);
            uint32_t ctl = g_rand_int(rand);
            if (g_rand_boolean(rand))
                ctl = (ctl & ~0xfc00u) | (g_rand_int_range(rand, 1, 40) << 10);
            put_trb(&r, a, g_rand_boolean(rand) ? 0x10000u + (g_rand_int(rand) & 0xfff0u) : g_rand_int(rand),
                    g_rand_int(rand), ctl);
        }
        for (int i = 0; i < 50; i++) {
            switch (g_rand_int_range(rand, 0, 5)) {
            case 0: wr(&r, DB, 0); break;
            case 1: wr(&r, DB + 4 * g_rand_int_range(rand, 0, 40), g_rand_int(rand) & 0xff); break;
            case 2: wr(&r, DB + 4 * slot, g_rand_int_range(rand, 0, 32)); break;
            case 3: wr(&r, OPER + 0x400 + 0x10 * g_rand_int_range(rand, 0, 8), g_rand_int(rand)); break;
            default: vm_test_clock_step(r.vm, g_rand_int_range(rand, 0, 3) * MS); break;
            }
        }
        vm_test_clock_step(r.vm, 5 * MS);
        uint32_t sts = rd(&r, OPER + 4), cmd = rd(&r, OPER);
        g_assert_true(!(sts & STS_HCH) == !!(cmd & 1));
        vm_free(r.vm);
    }
    g_rand_free(rand);
}

/* usb-audio at full speed: its AudioStreaming setting 1 selected, an isochronous OUT
 * endpoint (DCI 2, every 1 ms) fed with Isoch TRBs. The controller moves one TD per
 * service interval of virtual time, each with its transfer event, and the PCM reaches
 * the audiodev's WAV file, also after a save mid-stream restored into a second VM. A TD
 * without SIA runs in the frame its Frame ID names (a past one: Missed Service). An
 * Isoch TRB on the control endpoint is a TRB Error. */
static void test_isoch_audio(void)
{
    enum { T_ISOCH = 5, TDS = 60, SAVED_AT = 30, PCM = 0x17400 };
    g_autofree char *dir = g_dir_make_tmp("vireo-xhci-XXXXXX", NULL);
    g_autofree char *wav = g_build_filename(dir, "out.wav", NULL);
    g_autofree char *wav_b = g_build_filename(dir, "restored.wav", NULL);
    g_autofree char *opts = g_strdup_printf("wav,id=a,path=%s,out.frequency=48000,timer-period=1000", wav);
    g_autofree char *opts_b = g_strdup_printf("wav,id=a,path=%s,out.frequency=48000,timer-period=1000", wav_b);
    static const char *const devs[] = { "usb-audio,audiodev=a,id=spk", NULL };
    Rig r;
    rig_init_full(&r, "qemu-xhci", devs, NULL, opts);
    start(&r);
    port_enable(&r, 1, 1);                                    /* full speed */
    unsigned slot = address_device(&r, 1, 1, 64, false);
    uint8_t buf[128];
    static const uint8_t get_conf[8] = { 0x80, 6, 0, 2, 0, 0, 128, 0 };
    g_assert_cmpuint(control(&r, slot, get_conf, buf, 128), ==, 110);
    g_assert_cmphex(buf[4], ==, 2);                           /* two interfaces */
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(&r, slot, set_conf, NULL, 0);
    /* Setting 2 does not exist (a stall); setting 1 does, and GET_INTERFACE says so. */
    static const uint8_t set_alt2[8] = { 0x01, 11, 2, 0, 1, 0, 0, 0 };
    static const uint8_t set_alt1[8] = { 0x01, 11, 1, 0, 1, 0, 0, 0 };
    static const uint8_t get_alt[8] = { 0x81, 10, 0, 0, 1, 0, 1, 0 };
    uint64_t req = 0;
    memcpy(&req, set_alt2, 8);
    ep0_trb(&r, GUINT64_FROM_LE(req), 8, trb_type_bits(T_SETUP) | IDT);
    ep0_trb(&r, 0, 0, trb_type_bits(T_STATUS) | IOC | DIR_IN);
    wr(&r, DB + 4 * slot, 1);
    Ev ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_STALL);
    ev = command(&r, 0, 0, trb_type_bits(T_RESET_EP) | 1u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    ev = command(&r, (EP0_RING + 16u * r.ep0_idx) | 1, 0, trb_type_bits(T_SET_DEQ) | 1u << 16 | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    control(&r, slot, set_alt1, NULL, 0);
    g_assert_cmpuint(control(&r, slot, get_alt, buf, 1), ==, 1);
    g_assert_cmphex(buf[0], ==, 1);
    /* The feature unit's volume range: -64 dB to 0 dB in 1/256 dB. */
    static const uint8_t get_min[8] = { 0xa1, 0x82, 0, 2, 0, 2, 2, 0 };
    g_assert_cmpuint(control(&r, slot, get_min, buf, 2), ==, 2);
    g_assert_cmphex(buf[0] | buf[1] << 8, ==, 0xc000);

    for (unsigned i = 0; i < 0x440; i += 4)
        put32(&r, INPUT + i, 0);
    put32(&r, INPUT + 4, 1u | 1u << 2);                       /* add slot, DCI 2 */
    put32(&r, INPUT + 0x20, 2u << 27 | 1u << 20);
    put32(&r, INPUT + 0x24, 1u << 16);
    put32(&r, INPUT + 0x20 + 0x20 * 2, 3u << 16);             /* interval 2^3 x 125 us */
    put32(&r, INPUT + 0x20 + 0x20 * 2 + 4, 196u << 16 | 1u << 3); /* isoch OUT */
    put32(&r, INPUT + 0x20 + 0x20 * 2 + 8, EP1_RING | 1);
    ev = command(&r, INPUT, 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    /* 48 frames of +1000 left, -1000 right: one millisecond. */
    for (unsigned f = 0; f < 48; f++)
        put32(&r, PCM + 4 * f, 1000u | (uint32_t)(uint16_t)-1000 << 16);
    for (unsigned i = 0; i < TDS; i++)
        put_trb(&r, EP1_RING + 16u * i, PCM, 192, trb_type_bits(T_ISOCH) | IOC | 1u << 31 | C);
    wr(&r, DB + 4 * slot, 2);
    /* The first TD at once, then one a millisecond. */
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmphex(ev.param, ==, EP1_RING);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    no_event(&r);
    for (unsigned i = 1; i < SAVED_AT; i++) {
        vm_test_clock_step(r.vm, 1 * MS);
        ev = expect_event(&r, E_TRANSFER);
        g_assert_cmphex(ev.param, ==, EP1_RING + 16u * i);
        g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
        no_event(&r);
    }
    /* Saved mid-stream and restored into a second VM: the speaker's setting 1 and the
     * controller's endpoint carry on there, one TD a millisecond. */
    vm_lock(r.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(r.vm, devstate);
    g_autoptr(GByteArray) ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x20000);
    mem_read(vm_mem(r.vm), 0, ram->data, ram->len);
    int64_t saved_ns = vm_clock_ns(r.vm);
    vm_unlock(r.vm);
    Rig b;
    GError *err = NULL;
    rig_init_full(&b, "qemu-xhci", devs, NULL, opts_b);
    /* A load happens at the saved moment of the virtual clock. */
    vm_test_clock_step(b.vm, saved_ns - vm_clock_ns(b.vm));
    vm_lock(b.vm);
    mem_write(vm_mem(b.vm), 0, ram->data, ram->len);
    g_assert_true(device_list_load(b.vm, devstate->data, devstate->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    b.ev_idx = r.ev_idx;
    b.ev_ccs = r.ev_ccs;
    b.cmd_idx = r.cmd_idx;
    b.ep0_idx = r.ep0_idx;
    vm_free(r.vm);
    for (unsigned i = SAVED_AT; i < TDS; i++) {
        vm_test_clock_step(b.vm, 1 * MS);
        ev = expect_event(&b, E_TRANSFER);
        g_assert_cmphex(ev.param, ==, EP1_RING + 16u * i);
        g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
        no_event(&b);
    }
    /* The device holds 24 ms before its voice plays; then all of it is mixed. */
    vm_test_clock_step(b.vm, 60 * MS);
    no_event(&b);
    /* Without SIA a TD waits for the frame its Frame ID names (MFINDEX / 8): five
     * frames ahead, nothing for 3 ms, done by 6 ms. One for the current frame runs at
     * once; one for a frame already past is a Missed Service Error. */
    unsigned frame = (rd(&b, RT) >> 3) & 0x7ff;
    uint64_t at = EP1_RING + 16u * TDS;
    put_trb(&b, at, PCM, 192, trb_type_bits(T_ISOCH) | IOC | ((frame + 5) & 0x7ffu) << 20 | C);
    wr(&b, DB + 4 * slot, 2);
    no_event(&b);
    vm_test_clock_step(b.vm, 3 * MS);
    no_event(&b);
    vm_test_clock_step(b.vm, 3 * MS);
    ev = expect_event(&b, E_TRANSFER);
    g_assert_cmphex(ev.param, ==, at);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    frame = (rd(&b, RT) >> 3) & 0x7ff;
    put_trb(&b, at + 16, PCM, 192, trb_type_bits(T_ISOCH) | IOC | frame << 20 | C);
    wr(&b, DB + 4 * slot, 2);
    ev = expect_event(&b, E_TRANSFER);
    g_assert_cmphex(ev.param, ==, at + 16);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    put_trb(&b, at + 32, PCM, 192, trb_type_bits(T_ISOCH) | IOC | ((frame - 10) & 0x7ffu) << 20 | C);
    wr(&b, DB + 4 * slot, 2);
    ev = expect_event(&b, E_TRANSFER);
    g_assert_cmphex(ev.param, ==, at + 32);
    g_assert_cmpuint(code(&ev), ==, 23); /* Missed Service Error */
    no_event(&b);
    /* Not on a control endpoint. */
    ep0_trb(&b, PCM, 8, trb_type_bits(T_ISOCH) | IOC);
    wr(&b, DB + 4 * slot, 1);
    ev = expect_event(&b, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_TRB);
    vm_free(b.vm);

    g_autofree uint8_t *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(wav_b, (char **)&data, &len, NULL));
    g_assert_cmpuint(len, >, 44);
    unsigned same = 0;
    for (gsize o = 44; o + 4 <= len; o += 4)
        if ((int16_t)(data[o] | data[o + 1] << 8) == 1000 && (int16_t)(data[o + 2] | data[o + 3] << 8) == -1000)
            same++;
    /* The restored VM's 30 TDs of 48 frames went to its voice: the mix holds them (a
     * first period aside). */
    g_assert_cmpuint(same, >=, (TDS - SAVED_AT) * 48 - 96);
    g_assert_cmpuint(same, <=, (TDS - SAVED_AT) * 48);
    g_unlink(wav);
    g_unlink(wav_b);
    g_rmdir(dir);
}

#ifdef VIREO_LIBUSB_DOUBLE
/* usb-host's isochronous IN on the xHCI: the host microphone of tests/libusb-double
 * (which stands for libusb and the device) at full speed on a USB 2 port, its streaming
 * setting selected and its endpoint 0x81 configured as Isoch IN (DCI 3, every 1 ms).
 * One Isoch TRB of 100 bytes a frame: the first, before anything arrived, is an empty
 * packet (Short Packet, residual 100); then each packet the device delivered lands in
 * its TRB's buffer with its length (Success when full, Short Packet with the residual
 * otherwise), and one the host's bus failed is a USB Transaction Error on its TD while
 * the endpoint runs on. */
static void test_host_iso_in(void)
{
    enum { T_ISOCH = 5, PKT = LIBUSB_DOUBLE_MIC_MPS, N = 64, CC_XACT = 4 };
    libusb_double_plug(&libusb_double_mic);
    static const char *const devs[] = { "usb-host,vendorid=0x1209,productid=0x7a01,id=mic", NULL };
    Rig r;
    rig_init(&r, devs);
    start(&r);
    port_enable(&r, 1, 1);                                    /* full speed */
    unsigned slot = address_device(&r, 1, 1, 8, false);
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(&r, slot, set_conf, NULL, 0);
    static const uint8_t set_alt1[8] = { 0x01, 11, 1, 0, 1, 0, 0, 0 };
    control(&r, slot, set_alt1, NULL, 0);
    g_assert_cmpint(libusb_double_alt(1), ==, 1);
    for (unsigned i = 0; i < 0x440; i += 4)
        put32(&r, INPUT + i, 0);
    put32(&r, INPUT + 4, 1u | 1u << 3);                       /* add slot, DCI 3 */
    put32(&r, INPUT + 0x20, 3u << 27 | 1u << 20);
    put32(&r, INPUT + 0x24, 1u << 16);
    put32(&r, INPUT + 0x20 + 0x20 * 3, 3u << 16);             /* interval 2^3 x 125 us */
    put32(&r, INPUT + 0x20 + 0x20 * 3 + 4, (uint32_t)PKT << 16 | 5u << 3); /* isoch IN */
    put32(&r, INPUT + 0x20 + 0x20 * 3 + 8, EP1_RING | 1);
    Ev ev = command(&r, INPUT, 0, trb_type_bits(T_CONFIGURE) | slot << 24);
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);

    /* The first TD: nothing delivered yet; the stream starts on the host. */
    put_trb(&r, EP1_RING, BUF, PKT, trb_type_bits(T_ISOCH) | IOC | ISP | 1u << 31 | C);
    wr(&r, DB + 4 * slot, 3);
    ev = expect_event(&r, E_TRANSFER);
    g_assert_cmpuint(code(&ev), ==, CC_SHORT);
    g_assert_cmpuint(ev.status & 0xffffff, ==, PKT);
    int packets = 0, plen = 0;
    int xfers = libusb_double_in_flight(LIBUSB_DOUBLE_MIC_EP, &packets, &plen);
    g_assert_cmpint(xfers, >=, 1);
    g_assert_cmpint(plen, ==, PKT);
    int total = xfers * packets;
    g_assert_cmpint(total, <=, 32); /* buffers 0x80 apart below EP1_RING */
    size_t lens[N];
    for (int i = 0; i < total; i++) {
        lens[i] = i == 2 ? PKT : (size_t)(i * 41 + 7) % (PKT + 1);
        uint8_t data[PKT];
        for (size_t k = 0; k < lens[i]; k++)
            data[k] = (uint8_t)(i * 13 + k * 3);
        libusb_double_iso_in_push(LIBUSB_DOUBLE_MIC_EP, i == 4 ? LIBUSB_TRANSFER_ERROR : LIBUSB_TRANSFER_COMPLETED,
                                  data, lens[i]);
    }
    g_assert_true(libusb_double_iso_in_drained(LIBUSB_DOUBLE_MIC_EP, 5000));
    for (int i = 0; i < total; i++) {
        uint64_t at = EP1_RING + 16u * (1 + (unsigned)i);
        uint32_t buf = BUF + 0x80u * (uint32_t)i;
        put_trb(&r, at, buf, PKT, trb_type_bits(T_ISOCH) | IOC | ISP | 1u << 31 | C);
        wr(&r, DB + 4 * slot, 3);
        if (!next_event(&r, &ev)) {
            vm_test_clock_step(r.vm, 2 * MS);
            g_assert_true(next_event(&r, &ev));
        }
        g_assert_cmphex(ev.param, ==, at);
        if (i == 4) {
            g_assert_cmpuint(code(&ev), ==, CC_XACT);
            continue;
        }
        g_assert_cmpuint(code(&ev), ==, lens[i] == PKT ? CC_SUCCESS : CC_SHORT);
        g_assert_cmpuint(ev.status & 0xffffff, ==, PKT - lens[i]);
        uint8_t got[PKT];
        vm_lock(r.vm);
        mem_read(vm_mem(r.vm), buf, got, lens[i]);
        vm_unlock(r.vm);
        for (size_t k = 0; k < lens[i]; k++)
            g_assert_cmphex(got[k], ==, (uint8_t)(i * 13 + k * 3));
    }
    vm_free(r.vm);
    g_assert_cmphex(libusb_double_claimed(), ==, 0);
}
#endif

/* MSI and MSI-X (PCI 3.0, 6.8): both capabilities offered, MSI-X's table in BAR 0; the
 * interrupter's events arrive as messages with the address and data the driver
 * programmed and INTx stays low; a masked vector's message waits in the pending bit
 * until unmasked, also across a save and load; MSI sends its own message; with both
 * off the pin is used again. Without a message sink (the other tests' bus) neither is
 * offered, and msix=off leaves MSI alone in the list. */
static void test_msi(void)
{
    static const char *const devs[] = { "usb-tablet", NULL };
    Rig r;
    rig_init_msi(&r, "qemu-xhci,addr=4", devs);
    g_assert_cmphex(cfg_rd(&r, PCI_STATUS, 2) & 0x10, ==, 0x10);
    unsigned msi = cfg_rd(&r, 0x34, 1);
    g_assert_cmphex(cfg_rd(&r, msi, 1), ==, 0x05);
    g_assert_cmphex(cfg_rd(&r, msi + 2, 2) & 0x81, ==, 0x80); /* 64-bit, off */
    unsigned msix = cfg_rd(&r, msi + 1, 1);
    g_assert_cmphex(cfg_rd(&r, msix, 1), ==, 0x11);
    g_assert_cmphex(cfg_rd(&r, msix + 1, 1), ==, 0);
    /* One vector (one interrupter, HCSPARAMS1 MaxIntrs), the table and PBA in BAR 0. */
    g_assert_cmphex(cfg_rd(&r, msix + 2, 2), ==, 0);
    g_assert_cmphex((rd(&r, 4) >> 8) & 0x7ff, ==, 1);
    uint32_t table = cfg_rd(&r, msix + 4, 4), pba = cfg_rd(&r, msix + 8, 4);
    g_assert_cmphex(table & 7, ==, 0);
    g_assert_cmphex(pba & 7, ==, 0);
    g_assert_cmphex(rd(&r, table + 12), ==, 1); /* masked after reset */

    /* MSI-X on with vector 0 programmed: the port change events of the start arrive as
     * messages; the pin never rises. */
    wr(&r, table, 0xfee00000);
    wr(&r, table + 4, 0);
    wr(&r, table + 8, 0x41);
    wr(&r, table + 12, 0);
    cfg_wr(&r, msix + 2, 0x8000, 2);
    start(&r);
    g_assert_cmpint(r.msi_count, ==, 1);
    g_assert_cmphex(r.msi_addr, ==, 0xfee00000);
    g_assert_cmphex(r.msi_data, ==, 0x41);
    g_assert_cmpint(r.irq, ==, 0);
    Ev ev = expect_event(&r, E_PORT); /* acknowledging it: the next events interrupt again */
    (void)ev;
    while (next_event(&r, &ev))
        ;
    int before = r.msi_count;
    ev = command(&r, 0, 0, trb_type_bits(T_NOOP_CMD));
    g_assert_cmpuint(code(&ev), ==, CC_SUCCESS);
    g_assert_cmpint(r.msi_count, ==, before + 1);
    g_assert_cmpint(r.irq, ==, 0);

    /* The function masked: the No Op's interrupt waits in the pending bit. */
    cfg_wr(&r, msix + 2, 0xc000, 2);
    before = r.msi_count;
    ring_cmd(&r, 0, 0, trb_type_bits(T_NOOP_CMD));
    g_assert_cmpint(r.msi_count, ==, before);
    g_assert_cmphex(rd(&r, pba) & 1, ==, 1);
    /* Saved and restored so: the copy sends it when unmasked. */
    vm_lock(r.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(r.vm, devstate);
    GByteArray *ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x20000);
    mem_read(vm_mem(r.vm), 0, ram->data, ram->len);
    vm_unlock(r.vm);
    Rig b;
    rig_init_msi(&b, "qemu-xhci,addr=4", devs);
    GError *err = NULL;
    vm_lock(b.vm);
    mem_write(vm_mem(b.vm), 0, ram->data, ram->len);
    g_assert_true(device_list_load(b.vm, devstate->data, devstate->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    g_byte_array_free(ram, TRUE);
    g_assert_cmpint(b.msi_count, ==, 0);
    g_assert_cmphex(rd(&b, pba) & 1, ==, 1);
    cfg_wr(&b, msix + 2, 0x8000, 2);
    g_assert_cmpint(b.msi_count, ==, 1);
    g_assert_cmphex(b.msi_data, ==, 0x41);
    g_assert_cmphex(rd(&b, pba) & 1, ==, 0);
    g_assert_cmpint(b.irq, ==, 0);
    vm_free(b.vm);
    /* In the original, lifting the entry's own mask does it too. */
    cfg_wr(&r, msix + 2, 0x8000, 2);
    g_assert_cmpint(r.msi_count, ==, before + 1);
    g_assert_true(next_event(&r, &ev));

    /* MSI instead: its own address and data. */
    cfg_wr(&r, msix + 2, 0, 2);
    cfg_wr(&r, msi + 4, 0xfee01000, 4);
    cfg_wr(&r, msi + 8, 0, 4);
    cfg_wr(&r, msi + 12, 0x52, 2);
    cfg_wr(&r, msi + 2, 1, 2);
    before = r.msi_count;
    ev = command(&r, 0, 0, trb_type_bits(T_NOOP_CMD));
    g_assert_cmpint(r.msi_count, ==, before + 1);
    g_assert_cmphex(r.msi_addr, ==, 0xfee01000);
    g_assert_cmphex(r.msi_data, ==, 0x52);
    g_assert_cmpint(r.irq, ==, 0);
    /* Both off: the pin again. */
    cfg_wr(&r, msi + 2, 0, 2);
    before = r.msi_count;
    ring_cmd(&r, 0, 0, trb_type_bits(T_NOOP_CMD));
    g_assert_cmpint(r.irq, ==, 1);
    g_assert_true(next_event(&r, &ev));
    g_assert_cmpint(r.irq, ==, 0);
    g_assert_cmpint(r.msi_count, ==, before);
    vm_free(r.vm);

    /* msix=off: MSI alone. A bus without message delivery: no capability at all. */
    rig_init_msi(&r, "qemu-xhci,addr=4,msix=off", NULL);
    msi = cfg_rd(&r, 0x34, 1);
    g_assert_cmphex(cfg_rd(&r, msi, 1), ==, 0x05);
    g_assert_cmphex(cfg_rd(&r, msi + 1, 1), ==, 0);
    vm_free(r.vm);
    rig_init(&r, NULL);
    g_assert_cmphex(cfg_rd(&r, PCI_STATUS, 2) & 0x10, ==, 0);
    vm_free(r.vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xhci/registers", test_registers);
    g_test_add_func("/xhci/nec", test_nec);
    g_test_add_func("/xhci/hotplug", test_hotplug);
    g_test_add_func("/xhci/storage", test_storage);
    g_test_add_func("/xhci/enumerate-and-report", test_enumerate_and_report);
    g_test_add_func("/xhci/state", test_state);
    g_test_add_func("/xhci/hostile-commands", test_hostile_commands);
    g_test_add_func("/xhci/random", test_random);
    g_test_add_func("/xhci/isoch-audio", test_isoch_audio);
    g_test_add_func("/xhci/msi", test_msi);
#ifdef VIREO_LIBUSB_DOUBLE
    g_test_add_func("/xhci/host-iso-in", test_host_iso_in);
#endif
    return g_test_run();
}
