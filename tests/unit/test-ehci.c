/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The EHCI controller, the high-speed modes of the devices and usb-hub, driven as a
 * guest driver would: registers through the memory BAR, QHs and qTDs in guest RAM, time
 * on the virtual clock, results read back from the qTD tokens, the registers and the
 * IRQ line. Then hostile schedules (pointers and buffers outside RAM, rings without an
 * H bit, qTDs linking to themselves, random memory): the controller halts with Host
 * System Error or bounds its work, and the process never crashes or hangs. Finally the
 * controller is saved with an interrupt transfer NAKing in the periodic schedule and
 * restored into a second VM, which completes it. Built with tests/libusb-double (when
 * libusb's header is there), it also passes that stand-in's microphone through behind
 * a hub and reads it with split isochronous IN (siTDs). */
#include "engine/backend.h"
#include "engine/device.h"
#include "engine/monitor.h"
#include "engine/input.h"
#include "hw/usb/usb.h"
#include "pci-rig.h"
#ifdef VIREO_LIBUSB_DOUBLE
#include "tests/libusb-double/libusb-double.h"
#endif

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RAM (UINT64_C(4) << 20)
#define MMIO 0xfebf0000u
#define DEVFN PCI_DEVFN(3, 0)
#define OP (MMIO + 0x20)
#define FRAMES 0x1000u   /* the periodic frame list */
#define QH_A 0x2000u     /* the asynchronous ring's QH */
#define QH_P 0x2100u     /* the periodic interrupt QH */
#define QTDS 0x3000u     /* qTD n at QTDS + 32 n */
#define BUF 0x8000u
#define DATA 0x10000u
#define MS INT64_C(1000000)

enum {
    USBCMD = 0x00, USBSTS = 0x04, USBINTR = 0x08, FRINDEX = 0x0c, PERIODIC = 0x14, ASYNC = 0x18,
    CONFIGFLAG = 0x40, PORTSC = 0x44,
    CMD_RS = 1, CMD_PSE = 1u << 4, CMD_ASE = 1u << 5, CMD_IAAD = 1u << 6,
    STS_USBINT = 1, STS_ERRINT = 2, STS_PCD = 4, STS_HSE = 0x10, STS_IAA = 0x20, STS_HALTED = 1u << 12,
    TOK_ACTIVE = 1u << 7, TOK_HALTED = 1u << 6, TOK_XACT = 1u << 3, TOK_IOC = 1u << 15,
    PID_OUT = 0, PID_IN = 1, PID_SETUP = 2,
    T = 1,
};

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
} Rig;

static void rig_init(Rig *r, const char *const *devices, const char *drive)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    if (drive)
        vm_test_add_drive(r->vm, "d0", drive, "raw");
    GError *err = NULL;
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    g_assert_nonnull(device_create_from_spec(r->vm, "usb-ehci,addr=3.0,id=ehci", &err));
    g_assert_no_error(err);
    for (; devices && *devices; devices++) {
        g_assert_nonnull(device_create_from_spec(r->vm, *devices, &err));
        g_assert_no_error(err);
    }
    pci_config_write(r->bus, DEVFN, 0x10, MMIO, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

static uint32_t rd(Rig *r, uint32_t addr, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), addr, size);
    vm_unlock(r->vm);
    return v;
}

static uint32_t op(Rig *r, unsigned reg)
{
    return rd(r, OP + reg, 4);
}

static void opw(Rig *r, unsigned reg, uint32_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), OP + reg, v, 4);
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

static void put_bytes(Rig *r, uint32_t addr, const void *p, size_t n)
{
    vm_lock(r->vm);
    mem_write(vm_mem(r->vm), addr, p, n);
    vm_unlock(r->vm);
}

static void get_bytes(Rig *r, uint32_t addr, void *p, size_t n)
{
    vm_lock(r->vm);
    mem_read(vm_mem(r->vm), addr, p, n);
    vm_unlock(r->vm);
}

static void step(Rig *r, int64_t ms)
{
    vm_test_clock_step(r->vm, ms * MS);
}

static uint32_t token(unsigned pid, unsigned len, bool ioc)
{
    return TOK_ACTIVE | pid << 8 | 3u << 10 | (ioc ? TOK_IOC : 0) | (uint32_t)len << 16;
}

/* qTD n: next, alternate next, token, and five consecutive buffer pages from buf. */
static uint32_t qtd(Rig *r, unsigned n, uint32_t next, uint32_t tok, uint32_t buf)
{
    uint32_t a = QTDS + 32 * n;
    put32(r, a, next);
    put32(r, a + 4, T);
    put32(r, a + 8, tok);
    for (unsigned i = 0; i < 5; i++)
        put32(r, a + 12 + 4 * i, i ? (buf & ~0xfffu) + 0x1000 * i : buf);
    return a;
}

static uint32_t qtd_token(Rig *r, unsigned n)
{
    return get32(r, QTDS + 32 * n + 8);
}

/* A QH: its horizontal link, endpoint characteristics and capabilities, an idle overlay
 * whose next pointer is `first`. */
static void qh(Rig *r, uint32_t a, uint32_t link, uint32_t chars, uint32_t caps, uint32_t first)
{
    put32(r, a, link);
    put32(r, a + 4, chars);
    put32(r, a + 8, caps);
    put32(r, a + 12, 0);
    put32(r, a + 16, first);
    put32(r, a + 20, T);
    for (uint32_t o = 24; o < 48; o += 4)
        put32(r, a + o, 0);
}

static uint32_t chars(unsigned addr, unsigned ep, unsigned mps, bool head, bool dtc)
{
    return addr | ep << 8 | 2u << 12 | (dtc ? 1u << 14 : 0) | (head ? 1u << 15 : 0) | (uint32_t)mps << 16;
}

/* Takes the ports, resets port n, and runs the asynchronous schedule on QH_A (empty). */
static void start(Rig *r, int port)
{
    g_assert_cmphex(op(r, USBSTS) & STS_HALTED, ==, STS_HALTED);
    opw(r, CONFIGFLAG, 1);
    uint32_t ps = op(r, PORTSC + 4 * port);
    g_assert_cmphex(ps & 0x3007, ==, 0x1003); /* powered, owned, connected, change, disabled */
    opw(r, PORTSC + 4 * port, 0x2 | 1u << 8);
    g_assert_cmphex(op(r, PORTSC + 4 * port) & 0x107, ==, 0x101);
    opw(r, PORTSC + 4 * port, 0);
    g_assert_cmphex(op(r, PORTSC + 4 * port) & 0x107, ==, 0x5); /* high speed: enabled */
    qh(r, QH_A, QH_A | 2, chars(0, 0, 64, true, true), 0x40000000u, T);
    opw(r, ASYNC, QH_A);
    opw(r, USBINTR, 0x3f);
    opw(r, USBCMD, 0x80000 | CMD_RS | CMD_ASE);
    g_assert_cmphex(op(r, USBSTS) & (STS_HALTED | 1u << 15), ==, 1u << 15);
}

/* One control transfer on QH_A to device addr; returns the IN data stage's length. */
static size_t control(Rig *r, unsigned addr, const uint8_t setup[8], uint8_t *in, size_t in_len)
{
    put_bytes(r, BUF, setup, 8);
    uint32_t status = QTDS + 64;
    qtd(r, 0, in_len ? QTDS + 32 : status, token(PID_SETUP, 8, false), BUF);
    if (in_len)
        qtd(r, 1, status, token(PID_IN, (unsigned)in_len, false) | 1u << 31, BUF + 0x100);
    qtd(r, 2, T, token(in_len ? PID_OUT : PID_IN, 0, true) | 1u << 31, 0);
    if (in_len)
        put32(r, QTDS + 32 + 4, status); /* a short data stage goes on to the status stage */
    qh(r, QH_A, QH_A | 2, chars(addr, 0, 64, true, true), 0x40000000u, QTDS);
    opw(r, USBSTS, 0x3f);
    step(r, 2);
    g_assert_cmphex(qtd_token(r, 0) & 0xff, ==, 0);
    g_assert_cmphex(qtd_token(r, 2) & 0xff, ==, 0);
    g_assert_cmphex(op(r, USBSTS) & STS_USBINT, ==, STS_USBINT);
    g_assert_cmpint(r->irq, ==, 1);
    opw(r, USBSTS, STS_USBINT);
    g_assert_cmpint(r->irq, ==, 0);
    if (!in_len)
        return 0;
    uint32_t t = qtd_token(r, 1);
    g_assert_cmphex(t & 0xff, ==, 0);
    size_t got = in_len - ((t >> 16) & 0x7fff);
    get_bytes(r, BUF + 0x100, in, got);
    return got;
}

static void enumerate(Rig *r, unsigned addr, uint8_t *dev_desc)
{
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    g_assert_cmpuint(control(r, 0, get_dev, dev_desc, 18), ==, 18);
    const uint8_t set_addr[8] = { 0, 5, (uint8_t)addr, 0, 0, 0, 0, 0 };
    control(r, 0, set_addr, NULL, 0);
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    control(r, addr, set_conf, NULL, 0);
}

/* The periodic schedule: every frame list entry points at QH_P, an interrupt QH on
 * endpoint 1 IN of device addr run in microframe 0 with one 8-byte qTD (n 4). */
static void interrupt_setup(Rig *r, unsigned addr)
{
    for (unsigned i = 0; i < 1024; i++)
        put32(r, FRAMES + 4 * i, QH_P | 2);
    qtd(r, 4, T, token(PID_IN, 8, true), BUF + 0x200);
    qh(r, QH_P, T, chars(addr, 1, 8, false, false), 0x40000001u, QTDS + 4 * 32);
    opw(r, PERIODIC, FRAMES);
    opw(r, USBCMD, op(r, USBCMD) | CMD_PSE);
}

static void test_high_speed_tablet(void)
{
    static const char *const devs[] = { "usb-tablet,bus=ehci.0,port=2", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    /* Capability registers (EHCI 2.2): CAPLENGTH 0x20, version 1.00, six ports, no
     * companions. */
    g_assert_cmphex(rd(&r, MMIO, 1), ==, 0x20);
    g_assert_cmphex(rd(&r, MMIO + 2, 2), ==, 0x0100);
    g_assert_cmphex(rd(&r, MMIO + 4, 4) & 0xff0f, ==, 6);
    /* Until CONFIGFLAG the ports are the companions'. */
    g_assert_cmphex(op(&r, PORTSC + 4) & 0x3003, ==, 0x3003);
    g_assert_cmphex(op(&r, PORTSC) & 1, ==, 0);
    start(&r, 1);
    uint8_t desc[18];
    enumerate(&r, 1, desc);
    g_assert_cmphex(desc[2] | desc[3] << 8, ==, 0x0200);
    g_assert_cmphex(desc[7], ==, 64);
    /* High speed: the interval in microframes; the device qualifier and other-speed
     * configuration describe full speed (USB 2.0, 9.6.2, 9.6.4). */
    uint8_t buf[64];
    static const uint8_t get_cfg[8] = { 0x80, 6, 0, 2, 0, 0, 64, 0 };
    g_assert_cmpuint(control(&r, 1, get_cfg, buf, 64), ==, 34);
    g_assert_cmphex(buf[33], ==, 7);
    static const uint8_t get_qual[8] = { 0x80, 6, 0, 6, 0, 0, 10, 0 };
    g_assert_cmpuint(control(&r, 1, get_qual, buf, 10), ==, 10);
    g_assert_cmphex(buf[1], ==, 6);
    g_assert_cmphex(buf[2] | buf[3] << 8, ==, 0x0200);
    g_assert_cmphex(buf[7], ==, 8); /* full-speed bMaxPacketSize0 */
    static const uint8_t get_other[8] = { 0x80, 6, 0, 7, 0, 0, 64, 0 };
    g_assert_cmpuint(control(&r, 1, get_other, buf, 64), ==, 34);
    g_assert_cmphex(buf[1], ==, 7);
    g_assert_cmphex(buf[33], ==, 10);

    /* Interrupt IN in the periodic schedule: NAK keeps it active, no interrupt. */
    interrupt_setup(&r, 1);
    step(&r, 5);
    g_assert_cmphex(get32(&r, QH_P + 24) & (TOK_ACTIVE | TOK_HALTED), ==, TOK_ACTIVE);
    g_assert_cmphex(qtd_token(&r, 4) & TOK_ACTIVE, ==, TOK_ACTIVE);
    g_assert_cmpint(r.irq, ==, 0);
    uint32_t f0 = op(&r, FRINDEX);
    step(&r, 1);
    g_assert_cmpuint((op(&r, FRINDEX) - f0) & 0x3fff, ==, 8);
    vm_input_pointer_abs(r.vm, 0x1234, 0x7fff, 0, VM_BUTTON_LEFT);
    step(&r, 2);
    uint32_t t = qtd_token(&r, 4);
    g_assert_cmphex(t & 0xff, ==, 0);
    g_assert_cmpuint((t >> 16) & 0x7fff, ==, 2); /* 6 of 8 bytes: a short packet */
    g_assert_cmpint(r.irq, ==, 1);
    uint8_t report[6];
    get_bytes(&r, BUF + 0x200, report, 6);
    static const uint8_t want[6] = { 1, 0x34, 0x12, 0xff, 0x7f, 0 };
    g_assert_cmpmem(report, 6, want, 6);

    /* The doorbell answers after an asynchronous pass. */
    opw(&r, USBSTS, 0x3f);
    opw(&r, USBCMD, op(&r, USBCMD) | CMD_IAAD);
    step(&r, 2);
    g_assert_cmphex(op(&r, USBSTS) & STS_IAA, ==, STS_IAA);
    g_assert_cmphex(op(&r, USBCMD) & CMD_IAAD, ==, 0);
    /* Schedules off: the timer stops and FRINDEX still counts. */
    opw(&r, USBCMD, CMD_RS);
    f0 = op(&r, FRINDEX);
    step(&r, 3);
    g_assert_cmpuint((op(&r, FRINDEX) - f0) & 0x3fff, ==, 24);
    rig_free(&r);
}

/* A bulk transfer of len bytes on QH_A to device 1 endpoint ep (512-byte packets). */
static void bulk(Rig *r, unsigned pid, unsigned ep, uint32_t buf, unsigned len)
{
    qtd(r, 0, T, token(pid, len, true), buf);
    qh(r, QH_A, QH_A | 2, chars(1, ep, 512, true, false), 0x40000000u, QTDS);
    step(r, 2);
    uint32_t t = qtd_token(r, 0);
    g_assert_cmphex(t & 0xff, ==, 0);
    g_assert_cmpuint((t >> 16) & 0x7fff, ==, 0);
}

static void scsi(Rig *r, const uint8_t *cdb, bool in, uint32_t len)
{
    uint8_t cbw[31] = { 'U', 'S', 'B', 'C', 1, 2, 3, 4 };
    memcpy(cbw + 8, &len, 4);
    cbw[12] = in ? 0x80 : 0;
    cbw[14] = 10;
    memcpy(cbw + 15, cdb, 10);
    put_bytes(r, BUF, cbw, 31);
    bulk(r, PID_OUT, 2, BUF, 31);
    if (len)
        bulk(r, in ? PID_IN : PID_OUT, in ? 1 : 2, DATA, len);
    bulk(r, PID_IN, 1, BUF + 0x40, 13);
    uint8_t csw[13];
    get_bytes(r, BUF + 0x40, csw, 13);
    g_assert_cmpmem(csw, 4, "USBS", 4);
    g_assert_cmpuint(csw[12], ==, 0);
}

static void test_high_speed_storage(void)
{
    g_autofree char *path = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("vireo-ehci-XXXXXX.img", &path, &err);
    g_assert_no_error(err);
    uint8_t pattern[16384];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 13 + (i >> 9));
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    g_assert_cmpint(pwrite(fd, pattern, sizeof(pattern), 64 * 512), ==, (ssize_t)sizeof(pattern));
    static const char *const devs[] = { "usb-storage,drive=d0", NULL };
    Rig r;
    rig_init(&r, devs, path);
    start(&r, 0);
    uint8_t desc[18], cfg[32];
    enumerate(&r, 1, desc);
    static const uint8_t get_cfg[8] = { 0x80, 6, 0, 2, 0, 0, 32, 0 };
    g_assert_cmpuint(control(&r, 1, get_cfg, cfg, 32), ==, 32);
    g_assert_cmpuint(cfg[22] | cfg[23] << 8, ==, 512); /* bulk IN at high speed */
    g_assert_cmpuint(cfg[29] | cfg[30] << 8, ==, 512);
    /* READ(10) of 32 blocks in one 16 KiB qTD that crosses four page boundaries. */
    static const uint8_t rd10[10] = { 0x28, 0, 0, 0, 0, 64, 0, 0, 32, 0 };
    scsi(&r, rd10, true, sizeof(pattern));
    uint8_t got[16384];
    get_bytes(&r, DATA, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), pattern, sizeof(pattern));
    /* WRITE(10) of 8 blocks from an unaligned buffer, then the file holds them. */
    uint8_t w[4096];
    for (size_t i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(0xa5 ^ i);
    put_bytes(&r, DATA + 0x123, w, sizeof(w));
    static const uint8_t wr10[10] = { 0x2a, 0, 0, 0, 1, 0, 0, 0, 8, 0 };
    uint8_t cbw[31] = { 'U', 'S', 'B', 'C', 9, 9, 9, 9 };
    uint32_t len = sizeof(w);
    memcpy(cbw + 8, &len, 4);
    cbw[14] = 10;
    memcpy(cbw + 15, wr10, 10);
    put_bytes(&r, BUF, cbw, 31);
    bulk(&r, PID_OUT, 2, BUF, 31);
    bulk(&r, PID_OUT, 2, DATA + 0x123, sizeof(w));
    bulk(&r, PID_IN, 1, BUF + 0x40, 13);
    static const uint8_t sync10[10] = { 0x35 };
    scsi(&r, sync10, false, 0);
    uint8_t file[4096];
    g_assert_cmpint(pread(fd, file, sizeof(file), 256 * 512), ==, (ssize_t)sizeof(file));
    g_assert_cmpmem(file, sizeof(file), w, sizeof(w));
    /* A STALL halts the qTD and the QH: a SETUP-less IN to endpoint 3 that the
     * configuration lacks. */
    opw(&r, USBSTS, 0x3f);
    qtd(&r, 0, T, token(PID_IN, 64, false), BUF);
    qh(&r, QH_A, QH_A | 2, chars(1, 3, 512, true, false), 0x40000000u, QTDS);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 0) & (TOK_ACTIVE | TOK_HALTED), ==, TOK_HALTED);
    g_assert_cmphex(op(&r, USBSTS) & STS_ERRINT, ==, STS_ERRINT);
    close(fd);
    g_unlink(path);
    rig_free(&r);
}

static void hub_request(Rig *r, uint8_t type, uint8_t req, uint16_t value, uint16_t index)
{
    const uint8_t s[8] = { type, req, (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)index,
                           (uint8_t)(index >> 8), 0, 0 };
    control(r, 1, s, NULL, 0);
}

static uint32_t port_status(Rig *r, unsigned port)
{
    const uint8_t s[8] = { 0xa3, 0, 0, 0, (uint8_t)port, 0, 4, 0 };
    uint8_t b[4];
    g_assert_cmpuint(control(r, 1, s, b, 4), ==, 4);
    return (uint32_t)b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void test_hub(void)
{
    static const char *const devs[] = { "usb-hub,bus=ehci.0,port=1", "usb-kbd,bus=ehci.0,port=1.3,id=kbd", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    start(&r, 0);
    uint8_t desc[18], hd[16];
    enumerate(&r, 1, desc);
    g_assert_cmphex(desc[4], ==, 9);   /* hub class */
    g_assert_cmphex(desc[6], ==, 1);   /* single TT at high speed */
    static const uint8_t get_hub[8] = { 0xa0, 6, 0, 0x29, 0, 0, 16, 0 };
    g_assert_cmpuint(control(&r, 1, get_hub, hd, 16), ==, 11);
    g_assert_cmphex(hd[2], ==, 8);
    /* The status-change endpoint NAKs until a port changes. */
    interrupt_setup(&r, 1);
    step(&r, 3);
    g_assert_cmphex(qtd_token(&r, 4) & TOK_ACTIVE, ==, TOK_ACTIVE);
    /* Power on port 3: the keyboard is seen, reported as a change of port 3. */
    hub_request(&r, 0x23, 3, 8, 3);
    step(&r, 3);
    g_assert_cmphex(qtd_token(&r, 4) & 0xff, ==, 0);
    uint8_t bits;
    get_bytes(&r, BUF + 0x200, &bits, 1);
    g_assert_cmphex(bits, ==, 1u << 3);
    g_assert_cmphex(port_status(&r, 3), ==, 0x00010101); /* connection, power; C_CONNECTION */
    g_assert_cmphex(port_status(&r, 2), ==, 0);
    hub_request(&r, 0x23, 1, 16, 3);        /* clear C_PORT_CONNECTION */
    hub_request(&r, 0x23, 3, 4, 3);         /* reset */
    g_assert_cmphex(port_status(&r, 3), ==, 0x00100503); /* enabled, high speed; C_RESET */
    hub_request(&r, 0x23, 1, 20, 3);
    /* The keyboard behind the hub answers at address 0, then at its own. */
    uint8_t kd[18];
    enumerate(&r, 2, kd);
    g_assert_cmphex(kd[8] | kd[9] << 8, ==, 0x0627);
    /* The listings (x-query-usb's port-path, info usb) name the way through the hub. */
    vm_lock(r.vm);
    Device *kbd = device_find(r.vm, "kbd");
    DeviceBusPlace place;
    g_assert_true(kbd->klass->bus_place(kbd, &place));
    vm_unlock(r.vm);
    g_assert_cmpstr(place.path, ==, "1.3");
    g_assert_cmpint(place.addr, ==, 2);
    bool quit = false;
    g_autofree char *info = monitor_run(r.vm, "info usb", &quit);
    g_assert_nonnull(strstr(info, "Port 1, Speed 480 Mb/s, Product QEMU USB Hub"));
    g_assert_nonnull(strstr(info, "Port 1.3, Speed 480 Mb/s, Product QEMU USB Keyboard, ID: kbd"));
    static const uint8_t get_status[8] = { 0x80, 0, 0, 0, 0, 0, 2, 0 };
    uint8_t st[2];
    g_assert_cmpuint(control(&r, 2, get_status, st, 2), ==, 2);
    /* Remote wakeup through the hub: the keyboard allowed to wake, its port suspended,
     * a key press resumes the port and the hub reports the change. */
    static const uint8_t set_wakeup[8] = { 0, 3, 1, 0, 0, 0, 0, 0 };
    control(&r, 2, set_wakeup, NULL, 0);
    hub_request(&r, 0x23, 3, 2, 3);         /* suspend port 3 */
    g_assert_cmphex(port_status(&r, 3) & 0xffff, ==, 0x0507);
    qtd(&r, 4, T, token(PID_IN, 8, true), BUF + 0x200);
    qh(&r, QH_P, T, chars(1, 1, 8, false, false), 0x40000001u, QTDS + 4 * 32);
    step(&r, 3);
    g_assert_cmphex(qtd_token(&r, 4) & TOK_ACTIVE, ==, TOK_ACTIVE);
    vm_input_key(r.vm, 0x1e, true);
    step(&r, 3);
    g_assert_cmphex(qtd_token(&r, 4) & 0xff, ==, 0);
    get_bytes(&r, BUF + 0x200, &bits, 1);
    g_assert_cmphex(bits, ==, 1u << 3);
    g_assert_cmphex(port_status(&r, 3), ==, 0x00040503); /* resumed; C_SUSPEND */
    hub_request(&r, 0x23, 1, 18, 3);
    /* Port 3 disabled: the keyboard is out of reach, a transaction error. */
    hub_request(&r, 0x23, 1, 1, 3);
    put_bytes(&r, BUF, get_status, 8);
    qtd(&r, 0, T, token(PID_SETUP, 8, false) & ~(3u << 10), BUF);
    put32(&r, QTDS + 8, (qtd_token(&r, 0) & ~(3u << 10)) | 1u << 10);
    qh(&r, QH_A, QH_A | 2, chars(2, 0, 64, true, true), 0x40000000u, QTDS);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 0) & (TOK_ACTIVE | TOK_HALTED | TOK_XACT), ==, TOK_HALTED | TOK_XACT);

    /* Hot unplug behind the hub: its port 3 loses the connection and reports the change
     * on the status change endpoint; the root port holding the hub stays connected. */
    hub_request(&r, 0x23, 3, 4, 3);         /* reset: enabled again */
    hub_request(&r, 0x23, 1, 20, 3);
    g_assert_cmphex(port_status(&r, 3), ==, 0x00000503);
    GError *uerr = NULL;
    vm_lock(r.vm);
    g_assert_true(device_unplug(device_find(r.vm, "kbd"), &uerr));
    g_assert_no_error(uerr);
    vm_unlock(r.vm);
    qtd(&r, 4, T, token(PID_IN, 8, true), BUF + 0x200);
    qh(&r, QH_P, T, chars(1, 1, 8, false, false), 0x40000001u, QTDS + 4 * 32);
    step(&r, 3);
    g_assert_cmphex(qtd_token(&r, 4) & 0xff, ==, 0);
    get_bytes(&r, BUF + 0x200, &bits, 1);
    g_assert_cmphex(bits, ==, 1u << 3);
    g_assert_cmphex(port_status(&r, 3), ==, 0x00010100); /* powered, no connection; C_CONNECTION */
    g_assert_cmphex(op(&r, PORTSC) & 1, ==, 1);          /* the hub is still there */
    hub_request(&r, 0x23, 1, 16, 3);

    /* Attach errors: a port that is no hub's, a hub port out of range, a taken one. */
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,bus=ehci.0,port=2.1", &err));
    g_assert_nonnull(strstr(err->message, "no usb-hub at port 2"));
    g_clear_error(&err);
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,bus=ehci.0,port=1.9", &err));
    g_assert_nonnull(strstr(err->message, "ports 1 to 8"));
    g_clear_error(&err);
    /* The port the keyboard left takes a device again, and then is taken. */
    g_assert_nonnull(device_create_from_spec(r.vm, "usb-mouse,bus=ehci.0,port=1.3", &err));
    g_assert_no_error(err);
    g_assert_null(device_create_from_spec(r.vm, "usb-mouse,bus=ehci.0,port=1.3", &err));
    g_assert_nonnull(strstr(err->message, "taken"));
    g_clear_error(&err);
    vm_unlock(r.vm);
    rig_free(&r);
}

/* A full-speed-only device (no high-speed descriptors), as a passed-through USB 1.1
 * device would be: refused on a root port, working behind the hub. */
typedef struct FsOnly {
    UsbDevice usb;
} FsOnly;

static const uint8_t fs_device[18] = { 18, 1, 0x10, 0x01, 0xff, 0, 0, 8, 0x34, 0x12, 0x78, 0x56, 0, 1, 0, 0, 0, 1 };
static const uint8_t fs_config[9] = { 9, 2, 9, 0, 0, 1, 0, 0x80, 50 };
static const UsbDescriptors fs_desc = { fs_device, fs_config, sizeof(fs_config), NULL, 0 };

static void fs_data(UsbDevice *d, UsbPacket *p)
{
    (void)d;
    p->result = USB_RET_STALL;
}

static const UsbDeviceOps fs_ops = { .data = fs_data };

static bool fs_realize(Device *dev, GError **err)
{
    FsOnly *s = (FsOnly *)dev;
    s->usb.ops = &fs_ops;
    s->usb.desc = &fs_desc;
    s->usb.speed = USB_SPEED_FULL;
    return usb_device_attach(&s->usb, err);
}

/* And a high-speed-only one (a passed-through USB 2.0 device reports just its speed). */
static bool hs_realize(Device *dev, GError **err)
{
    FsOnly *s = (FsOnly *)dev;
    s->usb.ops = &fs_ops;
    s->usb.desc = &fs_desc;
    s->usb.speed = USB_SPEED_HIGH;
    return usb_device_attach(&s->usb, err);
}

static void fs_unrealize(Device *dev)
{
    usb_device_detach(&((FsOnly *)dev)->usb);
}

static const DeviceProp fs_props[] = {
    USB_DEVICE_PROPS(FsOnly),
    { NULL },
};

static const DeviceClass fs_class = {
    .name = "test-usb-fs-only", .description = "a full-speed-only USB device", .instance_size = sizeof(FsOnly),
    .user_creatable = true, .props = fs_props, .realize = fs_realize, .unrealize = fs_unrealize,
};

static const DeviceClass hs_class = {
    .name = "test-usb-hs-only", .description = "a high-speed-only USB device", .instance_size = sizeof(FsOnly),
    .user_creatable = true, .props = fs_props, .realize = hs_realize, .unrealize = fs_unrealize,
};

static void test_full_speed_device(void)
{
    static const char *const devs[] = { "usb-hub,bus=ehci.0,port=1", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_null(device_create_from_spec(r.vm, "test-usb-fs-only,bus=ehci.0,port=2", &err));
    g_assert_nonnull(strstr(err->message, "full-speed device"));
    g_assert_nonnull(strstr(err->message, "high-speed ports only"));
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(r.vm, "test-usb-fs-only,bus=ehci.0,port=1.5", &err));
    g_assert_no_error(err);
    /* A high-speed-only device on UHCI is refused, on EHCI taken. */
    g_assert_nonnull(device_create_from_spec(r.vm, "piix3-usb-uhci,addr=4.0", &err));
    g_assert_null(device_create_from_spec(r.vm, "test-usb-hs-only,bus=usb-bus.1", &err));
    g_assert_nonnull(strstr(err->message, "high-speed device and usb-bus.1 carries low, full speed only"));
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(r.vm, "test-usb-hs-only,bus=ehci.0,port=6", &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    start(&r, 0);
    uint8_t desc[18];
    enumerate(&r, 1, desc);
    hub_request(&r, 0x23, 3, 8, 5);
    hub_request(&r, 0x23, 3, 4, 5);
    g_assert_cmphex(port_status(&r, 5), ==, 0x00110103); /* enabled, full speed */
    enumerate(&r, 2, desc);
    g_assert_cmphex(desc[7], ==, 8);
    g_assert_cmphex(desc[8] | desc[9] << 8, ==, 0x1234);
    /* A full-speed-only device has no device qualifier: the request stalls (9.6.2). */
    static const uint8_t get_qual[8] = { 0x80, 6, 0, 6, 0, 0, 10, 0 };
    put_bytes(&r, BUF, get_qual, 8);
    qtd(&r, 0, QTDS + 32, token(PID_SETUP, 8, false), BUF);
    qtd(&r, 1, T, token(PID_IN, 10, false) | 1u << 31, BUF + 0x100);
    qh(&r, QH_A, QH_A | 2, chars(2, 0, 8, true, true), 0x40000000u, QTDS);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 1) & (TOK_ACTIVE | TOK_HALTED), ==, TOK_HALTED);
    rig_free(&r);
}

/* A full-speed isochronous device behind the hub: usb-audio's OUT packets through siTDs
 * (EHCI 3.4, 4.12.3). An OUT siTD makes a start split in each microframe of its S-mask,
 * counting T-count down (TP Mid, then End), and its packet moves and the siTD retires
 * with its interrupt at the last; an IN one makes its start split in the S-mask's
 * microframe and its transaction in the first complete split of the C-mask after it
 * (C-prog-mask says which), here a transaction error as the speaker has no IN endpoint;
 * an IN siTD with no complete split after its start split retires with Missed
 * Micro-Frame; one whose buffer lies outside RAM halts the controller. */
static void test_sitd(void)
{
    enum { SITD = 0x2200u, PCM = DATA };
    static const char *const devs[] = { "usb-hub,bus=ehci.0,port=1", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    GError *err = NULL;
    g_assert_true(backend_open(r.vm, "audiodev", "none,id=a", &err));
    g_assert_no_error(err);
    vm_lock(r.vm);
    g_assert_nonnull(device_create_from_spec(r.vm, "usb-audio,audiodev=a,bus=ehci.0,port=1.5", &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    start(&r, 0);
    uint8_t desc[18];
    enumerate(&r, 1, desc);
    hub_request(&r, 0x23, 3, 8, 5);
    hub_request(&r, 0x23, 3, 4, 5);
    g_assert_cmphex(port_status(&r, 5) & 0x0603, ==, 0x0003); /* enabled, full speed */
    enumerate(&r, 2, desc);
    g_assert_cmphex(desc[8] | desc[9] << 8, ==, 0x46f4);
    static const uint8_t set_alt1[8] = { 0x01, 11, 1, 0, 1, 0, 0, 0 };
    control(&r, 2, set_alt1, NULL, 0);

    for (unsigned f = 0; f < 48; f++)
        put32(&r, PCM + 4 * f, 1000u | (uint32_t)(uint16_t)-1000 << 16);
    /* OUT to device 2 endpoint 1 through hub 1 port 5, start split in microframe 1. */
    uint32_t ep = 2u | 1u << 8 | 1u << 16 | 5u << 24;
    uint32_t sitd[7] = { T, ep, 0x02, 1u << 31 | 192u << 16 | 1u << 7, PCM, PCM + 0x1000, T };
    for (int i = 0; i < 7; i++)
        put32(&r, SITD + 4 * i, sitd[i]);
    for (unsigned i = 0; i < 1024; i++)
        put32(&r, FRAMES + 4 * i, SITD | 2u << 1);
    opw(&r, PERIODIC, FRAMES);
    opw(&r, USBSTS, 0x3f);
    opw(&r, USBCMD, op(&r, USBCMD) | CMD_PSE);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31);      /* retired, all 192 bytes moved */
    g_assert_cmphex(op(&r, USBSTS) & (STS_USBINT | STS_ERRINT), ==, STS_USBINT);
    /* Start splits in microframes 1 and 2 of each frame and T-count 5, TP Begin: two
     * frames (16 microframes, whatever the phase) make four start splits and leave one
     * (TP End); the next start split is the last, and the packet goes. */
    put32(&r, SITD + 8, 0x06);
    put32(&r, SITD + 12, 1u << 31 | 192u << 16 | 1u << 7);
    put32(&r, SITD + 20, PCM + 0x1000 + (1u << 3 | 5u));
    opw(&r, USBSTS, 0x3f);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31 | 192u << 16 | 1u << 7);
    g_assert_cmphex(get32(&r, SITD + 20), ==, PCM + 0x1000 + (3u << 3 | 1u));
    g_assert_cmphex(op(&r, USBSTS) & STS_USBINT, ==, 0);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31);
    g_assert_cmphex(get32(&r, SITD + 20) & 7, ==, 0);
    g_assert_cmphex(op(&r, USBSTS) & (STS_USBINT | STS_ERRINT), ==, STS_USBINT);
    /* IN from an endpoint the speaker lacks: start split in microframe 1, complete splits
     * allowed in 2-4; the first of them carries the transaction, a transaction error,
     * nothing moved. */
    put32(&r, SITD + 4, ep | 1u << 31);
    put32(&r, SITD + 8, 0x1c02);
    put32(&r, SITD + 12, 1u << 31 | 192u << 16 | 1u << 7);
    opw(&r, USBSTS, 0x3f);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31 | 192u << 16 | 1u << 10 | 1u << 3);
    g_assert_cmphex(op(&r, USBSTS) & (STS_USBINT | STS_ERRINT), ==, STS_USBINT | STS_ERRINT);
    /* Complete splits only before the start split's microframe: missed. */
    put32(&r, SITD + 8, 0x0310);
    put32(&r, SITD + 12, 1u << 31 | 192u << 16 | 1u << 7);
    opw(&r, USBSTS, 0x3f);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31 | 192u << 16 | 1u << 2);
    g_assert_cmphex(op(&r, USBSTS) & (STS_USBINT | STS_ERRINT), ==, STS_USBINT | STS_ERRINT);
    put32(&r, SITD + 8, 0x02);
    /* A buffer outside RAM: Host System Error, the controller halts. */
    put32(&r, SITD + 4, ep);
    put32(&r, SITD + 12, 192u << 16 | 1u << 7);
    put32(&r, SITD + 16, 0x7ffff000u);
    step(&r, 2);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, STS_HSE | STS_HALTED);
    rig_free(&r);
}

#ifdef VIREO_LIBUSB_DOUBLE
/* siTD IN with data: the host microphone of tests/libusb-double (standing for libusb and
 * the device; usb-host passes it through) at full speed behind the hub. Each siTD makes
 * its start split in microframe 0 and takes the packet in the first complete split of
 * microframes 2-4: Total Bytes to Transfer keeps what did not come, C-prog-mask has
 * microframe 2, the bytes are in the buffer; the first, before the device delivered
 * anything, is empty; a packet the host's bus failed is a transaction error. */
static void test_host_sitd_in(void)
{
    enum { SITD = 0x2200u, PKT = LIBUSB_DOUBLE_MIC_MPS };
    libusb_double_plug(&libusb_double_mic);
    static const char *const devs[] = { "usb-hub,bus=ehci.0,port=1",
                                        "usb-host,vendorid=0x1209,productid=0x7a01,bus=ehci.0,port=1.5", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    start(&r, 0);
    uint8_t desc[18];
    enumerate(&r, 1, desc);
    hub_request(&r, 0x23, 3, 8, 5);
    hub_request(&r, 0x23, 3, 4, 5);
    g_assert_cmphex(port_status(&r, 5) & 0x0603, ==, 0x0003); /* enabled, full speed */
    enumerate(&r, 2, desc);
    g_assert_cmphex(desc[8] | desc[9] << 8, ==, 0x1209);
    static const uint8_t set_alt1[8] = { 0x01, 11, 1, 0, 1, 0, 0, 0 };
    control(&r, 2, set_alt1, NULL, 0);
    g_assert_cmpint(libusb_double_alt(1), ==, 1);

    uint32_t ep = 2u | 1u << 8 | 1u << 16 | 5u << 24 | 1u << 31; /* IN, hub 1 port 5 */
    uint32_t sitd[7] = { T, ep, 0x1c01, 1u << 31 | (uint32_t)PKT << 16 | 1u << 7, DATA, DATA + 0x1000, T };
    for (int i = 0; i < 7; i++)
        put32(&r, SITD + 4 * i, sitd[i]);
    for (unsigned i = 0; i < 1024; i++)
        put32(&r, FRAMES + 4 * i, SITD | 2u << 1);
    opw(&r, PERIODIC, FRAMES);
    opw(&r, USBCMD, op(&r, USBCMD) | CMD_PSE);
    step(&r, 2);
    g_assert_cmphex(get32(&r, SITD + 12), ==, 1u << 31 | (uint32_t)PKT << 16 | 1u << 10);
    int packets = 0, plen = 0;
    int total = libusb_double_in_flight(LIBUSB_DOUBLE_MIC_EP, &packets, &plen) * packets;
    g_assert_cmpint(total, >=, 1);
    g_assert_cmpint(total, <=, 32);
    g_assert_cmpint(plen, ==, PKT);
    size_t lens[32];
    for (int i = 0; i < total; i++) {
        lens[i] = i == 1 ? PKT : (size_t)(i * 23 + 5) % (PKT + 1);
        uint8_t data[PKT];
        for (size_t k = 0; k < lens[i]; k++)
            data[k] = (uint8_t)(i * 7 + k * 5 + 3);
        libusb_double_iso_in_push(LIBUSB_DOUBLE_MIC_EP, i == 6 ? LIBUSB_TRANSFER_ERROR : LIBUSB_TRANSFER_COMPLETED,
                                  data, lens[i]);
    }
    g_assert_true(libusb_double_iso_in_drained(LIBUSB_DOUBLE_MIC_EP, 5000));
    for (int i = 0; i < total; i++) {
        uint32_t buf = DATA + 0x80u * (uint32_t)(i % 16);
        put32(&r, SITD + 16, buf);
        put32(&r, SITD + 12, 1u << 31 | (uint32_t)PKT << 16 | 1u << 7);
        for (int n = 0; n < 4 && (get32(&r, SITD + 12) & (1u << 7)); n++)
            step(&r, 1);
        uint32_t st = get32(&r, SITD + 12);
        if (i == 6) {
            g_assert_cmphex(st, ==, 1u << 31 | (uint32_t)PKT << 16 | 1u << 10 | 1u << 3);
            continue;
        }
        g_assert_cmphex(st, ==, 1u << 31 | (uint32_t)(PKT - lens[i]) << 16 | 1u << 10);
        uint8_t got[PKT];
        get_bytes(&r, buf, got, lens[i]);
        for (size_t k = 0; k < lens[i]; k++)
            g_assert_cmphex(got[k], ==, (uint8_t)(i * 7 + k * 5 + 3));
    }
    rig_free(&r);
}
#endif

static void assert_hse(Rig *r)
{
    uint32_t sts = op(r, USBSTS);
    g_assert_cmphex(sts & (STS_HSE | STS_HALTED), ==, STS_HSE | STS_HALTED);
    g_assert_cmphex(op(r, USBCMD) & CMD_RS, ==, 0);
    g_assert_cmpint(r->irq, ==, 1);
    opw(r, USBSTS, 0x3f);
    g_assert_cmpint(r->irq, ==, 0);
}

static void run_async(Rig *r, uint32_t head)
{
    opw(r, ASYNC, head);
    opw(r, USBCMD, 0x80000 | CMD_RS | CMD_ASE);
}

static void test_hostile(void)
{
    static const char *const devs[] = { "usb-kbd,bus=ehci.0,port=1", NULL };
    Rig r;
    rig_init(&r, devs, NULL);
    start(&r, 0);
    uint8_t desc[18];
    enumerate(&r, 1, desc);
    opw(&r, USBCMD, 0);

    /* The frame list, a periodic QH, an asynchronous QH, a qTD and buffers outside RAM:
     * Host System Error and a halt each time. */
    opw(&r, PERIODIC, 0xfffff000u);
    opw(&r, USBCMD, CMD_RS | CMD_PSE);
    step(&r, 2);
    assert_hse(&r);
    for (unsigned i = 0; i < 1024; i++)
        put32(&r, FRAMES + 4 * i, 0xfff00000u | 2);
    opw(&r, PERIODIC, FRAMES);
    opw(&r, USBCMD, CMD_RS | CMD_PSE);
    step(&r, 2);
    assert_hse(&r);
    run_async(&r, 0xffff0000u);
    step(&r, 2);
    assert_hse(&r);
    qh(&r, QH_A, QH_A | 2, chars(1, 0, 64, true, true), 0, 0xfff00000u);
    run_async(&r, QH_A);
    step(&r, 2);
    assert_hse(&r);
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    put_bytes(&r, BUF, get_dev, 8);
    qtd(&r, 0, T, token(PID_SETUP, 8, false), (uint32_t)RAM - 4);
    qh(&r, QH_A, QH_A | 2, chars(1, 0, 64, true, true), 0, QTDS);
    run_async(&r, QH_A);
    step(&r, 2);
    assert_hse(&r);
    qtd(&r, 0, QTDS + 32, token(PID_SETUP, 8, false), BUF);
    qtd(&r, 1, T, token(PID_IN, 18, false), 0xfffff000u);
    qh(&r, QH_A, QH_A | 2, chars(1, 0, 64, true, true), 0, QTDS);
    run_async(&r, QH_A);
    step(&r, 2);
    assert_hse(&r);
    /* Impossible lengths and a reserved PID halt the qTD, not the controller. */
    qtd(&r, 0, T, (token(PID_IN, 0, false) & ~(0x7fffu << 16)) | 0x6000u << 16, BUF);
    qh(&r, QH_A, QH_A | 2, chars(1, 1, 8, true, false), 0, QTDS);
    run_async(&r, QH_A);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 0) & (TOK_ACTIVE | TOK_HALTED), ==, TOK_HALTED);
    qtd(&r, 0, T, token(3, 8, false), BUF);
    qh(&r, QH_A, QH_A | 2, chars(1, 1, 8, true, false), 0, QTDS);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 0) & (TOK_ACTIVE | TOK_HALTED), ==, TOK_HALTED);
    /* 0x5000 bytes from offset 0xf00 of the first page: more than five pages hold. */
    qtd(&r, 0, T, token(PID_IN, 0x5000, false), BUF + 0xf00);
    qh(&r, QH_A, QH_A | 2, chars(1, 1, 8, true, false), 0, QTDS);
    step(&r, 2);
    g_assert_cmphex(qtd_token(&r, 0) & (TOK_ACTIVE | TOK_HALTED | 1u << 5), ==, TOK_HALTED | 1u << 5);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, 0);

    /* Loops: two QHs without an H bit pointing at each other with NAKing qTDs, a QH
     * ring of one whose qTD links to itself, a periodic QH linking to itself. Each pass
     * ends; FRINDEX moves on; nothing hangs. */
    qtd(&r, 0, T, token(PID_IN, 8, false), BUF);
    qtd(&r, 1, T, token(PID_IN, 8, false), BUF);
    qh(&r, QH_A, (QH_A + 0x80) | 2, chars(1, 1, 8, false, false), 0, QTDS);
    qh(&r, QH_A + 0x80, QH_A | 2, chars(1, 1, 8, false, false), 0, QTDS + 32);
    uint32_t f0 = op(&r, FRINDEX);
    run_async(&r, QH_A);
    step(&r, 100);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, 0);
    g_assert_cmpuint((op(&r, FRINDEX) - f0) & 0x3fff, >=, 790);
    g_assert_cmphex(qtd_token(&r, 0) & TOK_ACTIVE, ==, TOK_ACTIVE);
    /* The keyboard has a report: one of the two qTDs completes. */
    vm_input_key(r.vm, 0x1e, true);
    step(&r, 2);
    g_assert_cmphex((qtd_token(&r, 0) & qtd_token(&r, 1)) & TOK_ACTIVE, ==, 0);
    qtd(&r, 0, QTDS, token(PID_SETUP, 8, false), BUF);
    put32(&r, QTDS + 4, QTDS);
    qh(&r, QH_A, QH_A | 2, chars(1, 0, 64, true, true), 0, QTDS);
    step(&r, 10);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, 0);
    for (unsigned i = 0; i < 1024; i++)
        put32(&r, FRAMES + 4 * i, QH_P | 2);
    qtd(&r, 4, T, token(PID_IN, 8, false), BUF + 0x200);
    qh(&r, QH_P, QH_P | 2, chars(1, 1, 8, false, false), 0xff, QTDS + 4 * 32);
    opw(&r, PERIODIC, FRAMES);
    opw(&r, USBCMD, CMD_RS | CMD_PSE);
    step(&r, 10);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, 0);
    /* An iTD for an endpoint with no isochronous pipe: a transaction error. */
    for (uint32_t o = 0; o < 64; o += 4)
        put32(&r, QH_P + o, 0);
    put32(&r, QH_P, T);
    for (unsigned u = 0; u < 8; u++)
        put32(&r, QH_P + 4 + 4 * u, 1u << 31 | 64u << 16);
    put32(&r, QH_P + 36, BUF | 1 | 5u << 8);
    put32(&r, QH_P + 40, 1u << 11 | 64);
    put32(&r, QH_P + 44, 1);
    for (unsigned i = 0; i < 1024; i++)
        put32(&r, FRAMES + 4 * i, QH_P);
    step(&r, 2);
    g_assert_cmphex(get32(&r, QH_P + 4) & (1u << 31 | 1u << 28), ==, 1u << 28);
    g_assert_cmphex(op(&r, USBSTS) & (STS_HSE | STS_HALTED), ==, 0);

    /* Random memory as the schedules: whatever it does, the process survives and the
     * controller either runs or halted with Host System Error. */
    GRand *rand = g_rand_new_with_seed(4321);
    for (int round = 0; round < 200; round++) {
        for (uint32_t a = 0x1000; a < 0x10000; a += 4) {
            uint32_t v = g_rand_int(rand);
            if (g_rand_int_range(rand, 0, 4))
                v &= 0xffffu;
            put32(&r, a, v);
        }
        opw(&r, USBSTS, 0x3f);
        opw(&r, PERIODIC, 0x1000u * (uint32_t)g_rand_int_range(rand, 1, 16));
        opw(&r, ASYNC, g_rand_int_range(rand, 0x1000, 0x10000));
        opw(&r, USBCMD, CMD_RS | CMD_PSE | CMD_ASE);
        step(&r, 3);
        uint32_t sts = op(&r, USBSTS);
        g_assert_true(!(sts & STS_HALTED) || (sts & STS_HSE));
    }
    g_rand_free(rand);
    rig_free(&r);
}

static void test_state(void)
{
    static const char *const devs[] = { "usb-hub,bus=ehci.0,port=3", "usb-tablet,bus=ehci.0,port=3.1", NULL };
    Rig a, b;
    rig_init(&a, devs, NULL);
    start(&a, 2);
    uint8_t desc[18];
    enumerate(&a, 1, desc);
    hub_request(&a, 0x23, 3, 8, 1);
    hub_request(&a, 0x23, 3, 4, 1);
    enumerate(&a, 2, desc);
    /* The tablet's interrupt transfer NAKs in the periodic schedule; saved so. */
    interrupt_setup(&a, 2);
    step(&a, 3);
    g_assert_cmphex(qtd_token(&a, 4) & TOK_ACTIVE, ==, TOK_ACTIVE);
    vm_lock(a.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(a.vm, devstate);
    GByteArray *ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x20000);
    mem_read(vm_mem(a.vm), 0, ram->data, ram->len);
    vm_unlock(a.vm);

    rig_init(&b, devs, NULL);
    GError *err = NULL;
    vm_lock(b.vm);
    mem_write(vm_mem(b.vm), 0, ram->data, ram->len);
    g_assert_true(device_list_load(b.vm, devstate->data, devstate->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    g_byte_array_free(ram, TRUE);
    /* The restored controller, hub and tablet complete the transfer with a new move. */
    g_assert_cmphex(op(&b, USBCMD) & (CMD_RS | CMD_PSE | CMD_ASE), ==, CMD_RS | CMD_PSE | CMD_ASE);
    step(&b, 3);
    g_assert_cmphex(qtd_token(&b, 4) & TOK_ACTIVE, ==, TOK_ACTIVE);
    vm_input_pointer_abs(b.vm, 300, 400, 0, 0);
    step(&b, 3);
    g_assert_cmphex(qtd_token(&b, 4) & 0xff, ==, 0);
    uint8_t report[6];
    get_bytes(&b, BUF + 0x200, report, 6);
    static const uint8_t want[6] = { 0, 300 & 0xff, 300 >> 8, 400 & 0xff, 400 >> 8, 0 };
    g_assert_cmpmem(report, 6, want, 6);

    /* A VM without the hub's devices refuses the stream. */
    static const char *const fewer[] = { "usb-hub,bus=ehci.0,port=3", NULL };
    Rig c;
    rig_init(&c, fewer, NULL);
    vm_lock(c.vm);
    g_assert_false(device_list_load(c.vm, devstate->data, devstate->len, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_unlock(c.vm);
    rig_free(&c);
    rig_free(&a);
    rig_free(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    device_class_register(&fs_class);
    device_class_register(&hs_class);
    g_test_add_func("/ehci/high-speed-tablet", test_high_speed_tablet);
    g_test_add_func("/ehci/high-speed-storage", test_high_speed_storage);
    g_test_add_func("/ehci/hub", test_hub);
    g_test_add_func("/ehci/full-speed-device", test_full_speed_device);
    g_test_add_func("/ehci/sitd", test_sitd);
#ifdef VIREO_LIBUSB_DOUBLE
    g_test_add_func("/ehci/host-sitd-in", test_host_sitd_in);
#endif
    g_test_add_func("/ehci/hostile", test_hostile);
    g_test_add_func("/ehci/state", test_state);
    return g_test_run();
}
