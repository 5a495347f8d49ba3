/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-host's isochronous IN (a host microphone) through the UHCI controller, with libusb
 * replaced by tests/libusb-double: the real engine/usb-host back end and hw/usb/host.c
 * run, and the double stands for libusb and the device behind it, delivering isochronous
 * IN packets with lengths and statuses the test chooses (umockdev cannot script those).
 * The test plays the guest's driver: it enumerates the device through the controller's
 * schedule in guest RAM, selects the streaming setting, and reads one isochronous TD per
 * frame. Checked: each TD's actual length and status bits and the bytes in guest RAM are
 * those of the packet the device sent, in order (a short packet, an empty one, one with a
 * transaction error, one longer than the TD's buffer = babble); with nothing delivered a
 * TD retires empty; SET_INTERFACE back to setting 0 ends the stream on the host; the
 * device leaving mid-stream disconnects the port. */
#include "engine/device.h"
#include "pci-rig.h"
#include "tests/libusb-double/libusb-double.h"

#include <string.h>

#define RAM (UINT64_C(4) << 20)
#define IO 0xc000
#define DEVFN PCI_DEVFN(1, 2)
#define FRAMES 0x1000u /* the frame list */
#define QH 0x2000u
#define TDS 0x3000u    /* TD n at TDS + 32 n */
#define BUF 0x8000u    /* buffers, 0x100 apart */
#define MS INT64_C(1000000)
#define MIC_EP LIBUSB_DOUBLE_MIC_EP
#define MIC_MPS LIBUSB_DOUBLE_MIC_MPS

enum {
    TOK_SETUP = 0x2d, TOK_IN = 0x69, TOK_OUT = 0xe1,
    ACTIVE = 1u << 23, STALLED = 1u << 22, BABBLE = 1u << 20, NAK = 1u << 19, CRC_TIMEOUT = 1u << 18,
    IOC = 1u << 24, IOS = 1u << 25, STATUS = 0xff0000u,
};

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
} Rig;

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

/* A control transfer without data stage, or with an IN one of at most 64 bytes, through
 * the QH the frame list points at; the TDs must all retire without error. */
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
    vm_test_clock_step(r->vm, 3 * MS);
    for (unsigned i = 0; i <= n; i++)
        g_assert_cmphex(td_ctrl(r, i) & STATUS, ==, 0);
    g_assert_cmphex(get32(r, QH + 4), ==, 1);
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

static void test_iso_in_uhci(void)
{
    libusb_double_plug(&libusb_double_mic);
    Rig rig, *r = &rig;
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    GError *err = NULL;
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    g_assert_nonnull(device_create_from_spec(r->vm, "piix3-usb-uhci,addr=1.2", &err));
    g_assert_no_error(err);
    g_assert_nonnull(device_create_from_spec(r->vm, "usb-host,vendorid=0x1209,productid=0x7a01,id=mic", &err));
    g_assert_no_error(err);
    pci_config_write(r->bus, DEVFN, 0x20, IO, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
    /* Opened: both interfaces taken from the host's drivers and claimed. */
    g_assert_cmphex(libusb_double_claimed(), ==, 3);
    g_assert_cmphex(libusb_double_detached(), ==, 3);
    g_assert_cmphex(rd(r, 0x10) & 1, ==, 1); /* connected */

    /* Port reset and enable, the schedule running, enumeration at address 1. */
    wr(r, 0x10, 1u << 9, 2);
    wr(r, 0x10, 0, 2);
    wr(r, 0x10, 0xa, 2);
    wr(r, 0x10, 4, 2);
    for (unsigned i = 0; i < 1024; i++)
        put32(r, FRAMES + 4 * i, QH | 2);
    wr(r, 0x08, FRAMES, 4);
    wr(r, 0x04, 0xf, 2);
    wr(r, 0x00, 1, 2);
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    uint8_t dd[18];
    g_assert_cmpuint(control(r, 0, get_dev, dd, 18), ==, 18);
    g_assert_cmphex(dd[8] | dd[9] << 8, ==, 0x1209);
    g_assert_cmphex(dd[10] | dd[11] << 8, ==, 0x7a01);
    static const uint8_t set_addr[8] = { 0, 5, 1, 0, 0, 0, 0, 0 };
    static const uint8_t set_conf[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    uint8_t none[1];
    control(r, 0, set_addr, none, 0);
    control(r, 1, set_conf, none, 0);
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
    g_assert_cmphex(c & STATUS, ==, 0);
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
            g_assert_cmphex(c & (CRC_TIMEOUT | STALLED | BABBLE), ==, CRC_TIMEOUT);
            continue;
        }
        if (i == 5) {
            /* 100 bytes for a 64-byte TD: babble, and the TD says so. */
            g_assert_cmphex(c & (STALLED | BABBLE), ==, STALLED | BABBLE);
            continue;
        }
        g_assert_cmphex(c & STATUS, ==, 0);
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
    g_assert_cmphex(c & STATUS, ==, 0);
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
    vm_free(r->vm);
    /* Released on the way out: the host's drivers are back. */
    g_assert_cmphex(libusb_double_claimed(), ==, 0);
    g_assert_cmphex(libusb_double_detached(), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/usb-host-iso/uhci", test_iso_in_uhci);
    return g_test_run();
}
