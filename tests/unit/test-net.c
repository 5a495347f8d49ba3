/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network cards against -netdev user, driven as a hostile guest would: rings and
 * buffers outside RAM, zero-length and oversized descriptors, rings programmed
 * inconsistently, a flood of frames; and the good path (an ARP request to slirp's
 * host address comes back as a reply in the card's receive ring), the e1000's state
 * saved with a packet half assembled, the option checks. */
#include "engine/backend.h"
#include "engine/net/net.h"
#include "hw/pci/pci.h"
#include "unit.h"

#include <zlib.h>

#define RAM (16u << 20)
#define E1000_BAR0 0xfebc0000u
#define NE2K_IO 0xc100
#define DEVFN PCI_DEVFN(4, 0)

/* e1000 registers (8254x SDM §13.4). */
enum {
    CTRL = 0x0, STATUS = 0x8, EECD = 0x10, MDIC = 0x20, ICR = 0xc0, IMS = 0xd0, RCTL = 0x100,
    TCTL = 0x400, RDBAL = 0x2800, RDLEN = 0x2808, RDH = 0x2810, RDT = 0x2818, TDBAL = 0x3800,
    TDLEN = 0x3808, TDH = 0x3810, TDT = 0x3818,
};

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
} Rig;

static int map_irq(void *opaque, int devfn, int pin)
{
    return 0;
}

static void set_pirq(void *opaque, int pirq, int level)
{
    ((Rig *)opaque)->irq = level;
}

static void rig_init(Rig *r, const char *device)
{
    GError *err = NULL;
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    g_assert_true(backend_open(r->vm, "netdev", "user,id=n0", &err));
    g_assert_no_error(err);
    vm_lock(r->vm);
    r->bus = pci_bus_new(r->vm);
    pci_bus_set_irq_router(r->bus, map_irq, set_pirq, r, 4);
    vm_add_bus(r->vm, "pci.0", r->bus);
    Device *d = device_create_from_spec(r->vm, device, &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    pci_config_write(r->bus, DEVFN, PCI_BAR0, strstr(device, "e1000") ? E1000_BAR0 : NE2K_IO, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

static uint32_t rd(Rig *r, uint32_t reg)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), E1000_BAR0 + reg, 4);
    vm_unlock(r->vm);
    return v;
}

static void wr(Rig *r, uint32_t reg, uint32_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), E1000_BAR0 + reg, v, 4);
    vm_unlock(r->vm);
}

static void ram_write(Rig *r, uint64_t a, const void *buf, size_t len)
{
    vm_lock(r->vm);
    g_assert_true(mem_write(vm_mem(r->vm), a, buf, len));
    vm_unlock(r->vm);
}

static void ram_read(Rig *r, uint64_t a, void *buf, size_t len)
{
    vm_lock(r->vm);
    g_assert_true(mem_read(vm_mem(r->vm), a, buf, len));
    vm_unlock(r->vm);
}

static char *info(Rig *r)
{
    return net_info_text(r->vm);
}

static unsigned info_count(Rig *r, const char *what)
{
    g_autofree char *text = info(r);
    const char *p = strstr(text, what);
    g_assert_nonnull(p);
    while (p > text && p[-1] == ' ')
        p--;
    while (p > text && g_ascii_isdigit(p[-1]))
        p--;
    return (unsigned)strtoul(p, NULL, 10);
}

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x99 };

/* An ARP request from 10.0.2.15 for 10.0.2.2, slirp's host address. */
static size_t arp_request(uint8_t *f)
{
    static const uint8_t head[] = { 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01 };
    memset(f, 0xff, 6);
    memcpy(f + 6, MAC, 6);
    memcpy(f + 12, head, sizeof(head));
    memcpy(f + 22, MAC, 6);
    const uint8_t spa[4] = { 10, 0, 2, 15 }, tpa[4] = { 10, 0, 2, 2 };
    memcpy(f + 28, spa, 4);
    memset(f + 32, 0, 6);
    memcpy(f + 38, tpa, 4);
    return 42;
}

/* A reply to it: to our MAC, opcode 2, from 10.0.2.2. */
static void check_arp_reply(const uint8_t *f, size_t len)
{
    g_assert_cmpuint(len, >=, 42);
    g_assert_cmpmem(f, 6, MAC, 6);
    g_assert_cmpuint(f[12], ==, 0x08);
    g_assert_cmpuint(f[13], ==, 0x06);
    g_assert_cmpuint(f[21], ==, 2);
    const uint8_t spa[4] = { 10, 0, 2, 2 };
    g_assert_cmpmem(f + 28, 4, spa, 4);
}

/* ---- e1000 ---- */

#define TX_RING 0x100000u
#define RX_RING 0x110000u
#define TX_BUFS 0x200000u
#define RX_BUFS 0x300000u

static void tx_desc(Rig *r, unsigned i, uint64_t addr, uint16_t len, uint8_t cmd)
{
    uint8_t d[16] = { 0 };
    for (int b = 0; b < 8; b++)
        d[b] = (uint8_t)(addr >> (8 * b));
    d[8] = (uint8_t)len;
    d[9] = (uint8_t)(len >> 8);
    d[11] = cmd;
    ram_write(r, TX_RING + i * 16, d, 16);
}

static void e1000_setup(Rig *r, unsigned rx_descs)
{
    wr(r, TDBAL, TX_RING);
    wr(r, TDLEN, 64 * 16);
    wr(r, TDH, 0);
    wr(r, TDT, 0);
    wr(r, TCTL, 2);
    for (unsigned i = 0; i < 64; i++) {
        uint8_t d[16] = { 0 };
        uint32_t a = RX_BUFS + i * 2048;
        memcpy(d, &a, 4);
        ram_write(r, RX_RING + i * 16, d, 16);
    }
    wr(r, RDBAL, RX_RING);
    wr(r, RDLEN, 64 * 16);
    wr(r, RDH, 0);
    wr(r, RDT, rx_descs);
    wr(r, IMS, 0x1f6df);
    wr(r, RCTL, 2 | (1u << 15)); /* enabled, broadcasts accepted, 2 KiB buffers */
}

static void test_e1000_good_path(void)
{
    Rig r;
    rig_init(&r, "e1000,netdev=n0,addr=4,mac=52:54:00:12:34:99");
    /* Link up, and the EEPROM's first word (bit-banged as Linux does) is the MAC's. */
    g_assert_cmpuint(rd(&r, STATUS) & 2, ==, 2);
    wr(&r, EECD, 0x40);
    g_assert_cmpuint(rd(&r, EECD) & 0x80, ==, 0x80);
    uint32_t bits = 0x6u << 6 | 0; /* start, READ, address 0 */
    wr(&r, EECD, 0x42);
    for (int i = 8; i >= 0; i--) {
        uint32_t di = (bits >> i) & 1 ? 4 : 0;
        wr(&r, EECD, 0x42 | di);
        wr(&r, EECD, 0x43 | di);
        wr(&r, EECD, 0x42 | di);
    }
    uint16_t word = 0;
    for (int i = 0; i < 16; i++) {
        wr(&r, EECD, 0x43);
        word = (uint16_t)(word << 1 | ((rd(&r, EECD) >> 3) & 1));
        wr(&r, EECD, 0x42);
    }
    g_assert_cmphex(word, ==, 0x5452);
    /* The PHY at address 1 answers with the M88E1011's ID. */
    wr(&r, MDIC, 2u << 26 | 1u << 21 | 2u << 16);
    g_assert_cmphex(rd(&r, MDIC), ==, (2u << 26 | 1u << 21 | 2u << 16 | 1u << 28 | 0x0141));

    e1000_setup(&r, 63);
    uint8_t f[64];
    size_t n = arp_request(f);
    ram_write(&r, TX_BUFS, f, n);
    tx_desc(&r, 0, TX_BUFS, (uint16_t)n, 0x0b); /* EOP, IFCS, RS */
    wr(&r, TDT, 1);
    g_assert_cmpuint(rd(&r, TDH), ==, 1);
    uint8_t d[16];
    ram_read(&r, TX_RING, d, 16);
    g_assert_cmpuint(d[12] & 1, ==, 1);
    /* slirp answered at once; the reply is in the first receive buffer, with its FCS. */
    ram_read(&r, RX_RING, d, 16);
    g_assert_cmpuint(d[12] & 3, ==, 3); /* DD, EOP */
    uint16_t len = (uint16_t)(d[8] | d[9] << 8);
    g_assert_cmpuint(len, ==, 64 + 4); /* slirp's reply is 64 bytes; the FCS follows */
    uint8_t got[68];
    ram_read(&r, RX_BUFS, got, len);
    check_arp_reply(got, len);
    uint32_t fcs = (uint32_t)crc32(0, got, 64);
    g_assert_cmphex(got[64] | got[65] << 8 | got[66] << 16 | (uint32_t)got[67] << 24, ==, fcs);
    g_assert_cmpuint(rd(&r, RDH), ==, 1);
    g_assert_cmpint(r.irq, ==, 1);
    uint32_t icr = rd(&r, ICR);
    g_assert_cmpuint(icr & 0x81, ==, 0x81); /* RXT0, TXDW */
    g_assert_cmpint(r.irq, ==, 0);
    g_assert_cmpuint(info_count(&r, "bad by card"), ==, 0);

    /* A DHCP discover: slirp's offer is UDP with a checksum, which the card verifies
     * (receive checksum offload: IPCS and TCPCS set, no errors, no IXSM). */
    uint8_t dhcp[286] = { 0 };
    memset(dhcp, 0xff, 6);
    memcpy(dhcp + 6, MAC, 6);
    dhcp[12] = 0x08;
    uint8_t *ip = dhcp + 14, *udp = ip + 20, *bootp = udp + 8;
    ip[0] = 0x45;
    ip[2] = 272 >> 8;
    ip[3] = 272 & 0xff;
    ip[8] = 64;
    ip[9] = 17;
    memset(ip + 16, 0xff, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
    udp[1] = 68;
    udp[3] = 67;
    udp[5] = 252;
    bootp[0] = 1;
    bootp[1] = 1;
    bootp[2] = 6;
    bootp[4] = 0x12;
    memcpy(bootp + 28, MAC, 6);
    static const uint8_t opts[] = { 0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255 };
    memcpy(bootp + 236, opts, sizeof(opts));
    ram_write(&r, TX_BUFS + 0x1000, dhcp, sizeof(dhcp));
    tx_desc(&r, 1, TX_BUFS + 0x1000, sizeof(dhcp), 0x0b);
    wr(&r, TDT, 2);
    ram_read(&r, RX_RING + 16, d, 16);
    g_assert_cmpuint(d[12] & 3, ==, 3);
    g_assert_cmphex(d[12] & 0x64, ==, 0x60); /* IPCS, TCPCS, not IXSM */
    g_assert_cmphex(d[13], ==, 0);
    uint8_t offer[600];
    len = (uint16_t)(d[8] | d[9] << 8);
    g_assert_cmpuint(len, <=, sizeof(offer));
    ram_read(&r, RX_BUFS + 2048, offer, len);
    g_assert_cmpuint(offer[14 + 9], ==, 17);
    g_assert_cmpuint(offer[14 + 20 + 3], ==, 68);
    rd(&r, ICR);

    /* set_link off: STATUS.LU clears and LSC interrupts. */
    GError *err = NULL;
    g_assert_true(net_set_link(r.vm, "e1000.0", false, &err)); /* the card's id names its link */
    g_assert_no_error(err);
    g_assert_cmpuint(rd(&r, STATUS) & 2, ==, 0);
    g_assert_cmpuint(rd(&r, ICR) & 4, ==, 4);
    g_assert_true(net_set_link(r.vm, "n0", true, NULL));
    g_assert_cmpuint(rd(&r, STATUS) & 2, ==, 2);
    g_assert_false(net_set_link(r.vm, "nosuch", true, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_clear_error(&err);
    rig_free(&r);
}

static void test_e1000_hostile(void)
{
    Rig r;
    rig_init(&r, "e1000,netdev=n0,addr=4,mac=52:54:00:12:34:99");
    e1000_setup(&r, 63);
    uint8_t f[64];
    size_t n = arp_request(f);
    ram_write(&r, TX_BUFS, f, n);

    /* A buffer outside RAM, a zero-length descriptor, then an oversized packet (twenty
     * 0xffff-byte buffers without EOP, then EOP): each dropped and counted, the ring
     * runs on. */
    tx_desc(&r, 0, 0xf0000000u, 100, 0x0b);
    tx_desc(&r, 1, TX_BUFS, 0, 0x0b);
    for (unsigned i = 2; i < 22; i++)
        tx_desc(&r, i, 0, 0xffff, i == 21 ? 0x0b : 0x08);
    tx_desc(&r, 22, TX_BUFS, (uint16_t)n, 0x0b);
    wr(&r, TDT, 23);
    g_assert_cmpuint(rd(&r, TDH), ==, 23);
    g_assert_cmpuint(info_count(&r, "bad by card"), ==, 3);
    uint8_t d[16];
    ram_read(&r, RX_RING, d, 16);
    g_assert_cmpuint(d[12] & 1, ==, 1); /* the good frame after them got its reply */

    /* TDT beyond the ring: nothing runs. */
    wr(&r, TDT, 1000);
    g_assert_cmpuint(rd(&r, TDH), ==, 23);

    /* A flood: 40 rounds of a full ring of ARP requests with no receive buffers left:
     * the replies wait in the netdev's bounded queue, the rest are dropped. */
    wr(&r, RDT, rd(&r, RDH)); /* the guest gives no more buffers */
    for (unsigned round = 0; round < 40; round++) {
        for (unsigned i = 0; i < 64; i++)
            tx_desc(&r, i, TX_BUFS, (uint16_t)n, 0x03);
        uint32_t h = rd(&r, TDH);
        wr(&r, TDT, (h + 63) % 64);
    }
    unsigned queued = info_count(&r, "queued"), dropped = info_count(&r, "queue full");
    g_assert_cmpuint(queued, <=, NET_QUEUE_MAX_FRAMES);
    g_assert_cmpuint(queued + dropped, >=, 40 * 63);

    /* A receive ring outside RAM: receiving stops (overrun), nothing is written. */
    wr(&r, RDBAL, 0xf0000000u);
    wr(&r, RDH, 0);
    wr(&r, RDT, 10);
    g_assert_cmpuint(rd(&r, RCTL) & 2, ==, 0);
    g_assert_cmpuint(rd(&r, ICR) & 0x40, ==, 0x40);

    /* A transmit ring outside RAM: transmission stops. */
    wr(&r, TDBAL, 0xf0000000u);
    wr(&r, TDH, 0);
    wr(&r, TDT, 5);
    g_assert_cmpuint(rd(&r, TCTL) & 2, ==, 0);
    g_assert_cmpuint(rd(&r, TDH), ==, 0);
    rig_free(&r);
}

/* Segmentation down to a small MSS over a full ring: a pass sends a bounded number of
 * frames and the rest follows from a timer, so one TDT write cannot hold the vCPU. */
static void test_e1000_tso_budget(void)
{
    Rig r;
    rig_init(&r, "e1000,netdev=n0,addr=4,mac=52:54:00:12:34:99");
    e1000_setup(&r, 63);
    enum { HDR = 54, PAY = 60000, MSS = 64 };
    uint8_t *pkt = g_malloc0(HDR + PAY);
    memset(pkt, 0x52, 6);
    memcpy(pkt + 6, MAC, 6);
    pkt[12] = 0x08;
    pkt[14] = 0x45;
    pkt[22] = 64;
    pkt[23] = 6;
    const uint8_t src[4] = { 10, 0, 2, 15 }, dst[4] = { 10, 0, 2, 2 };
    memcpy(pkt + 26, src, 4);
    memcpy(pkt + 30, dst, 4);
    pkt[34] = 0x30; /* ports 12345 -> 9 (discard): nothing listens */
    pkt[35] = 0x39;
    pkt[37] = 9;
    pkt[46] = 0x50;
    pkt[47] = 0x18;
    ram_write(&r, TX_BUFS, pkt, HDR + PAY);
    g_free(pkt);
    /* Eight packets: a context descriptor and one data descriptor each. */
    for (unsigned p = 0; p < 8; p++) {
        uint8_t c[16] = { 14, 24, 33, 0, 34, 50, 0, 0 };
        uint32_t lower = PAY | 0x27u << 24; /* TCP, IPv4, TSE, DEXT; type 0 */
        memcpy(c + 8, &lower, 4);
        c[13] = HDR;
        c[14] = MSS;
        ram_write(&r, TX_RING + (2 * p) * 16, c, 16);
        uint8_t d[16] = { 0 };
        uint32_t a = TX_BUFS;
        memcpy(d, &a, 4);
        lower = (HDR + PAY) | 1u << 20 | 0x2du << 24; /* data: EOP, TSE, RS, DEXT */
        memcpy(d + 8, &lower, 4);
        d[13] = 3; /* IXSM, TXSM */
        ram_write(&r, TX_RING + (2 * p + 1) * 16, d, 16);
    }
    wr(&r, TDT, 16);
    unsigned first = rd(&r, TDH);
    g_assert_cmpuint(first, <, 16);  /* 8 x 938 segments is beyond one pass */
    g_assert_cmpuint(first, >, 0);
    for (int i = 0; i < 10 && rd(&r, TDH) != 16; i++)
        vm_test_clock_step(r.vm, 100000);
    g_assert_cmpuint(rd(&r, TDH), ==, 16);
    g_assert_cmpuint(info_count(&r, "bad by card"), ==, 0);
    g_assert_cmpuint(info_count(&r, " frames, rx"), >=, 8 * 938); /* frames sent to slirp */
    rig_free(&r);
}

/* A packet split over two descriptors, saved between them: the restored card finishes
 * it. */
static void test_e1000_savevm_mid_packet(void)
{
    Rig r;
    rig_init(&r, "e1000,netdev=n0,addr=4,mac=52:54:00:12:34:99,id=nic");
    e1000_setup(&r, 63);
    uint8_t f[64];
    size_t n = arp_request(f);
    ram_write(&r, TX_BUFS, f, n);
    tx_desc(&r, 0, TX_BUFS, 20, 0x00);
    tx_desc(&r, 1, TX_BUFS + 20, (uint16_t)(n - 20), 0x0b);
    wr(&r, TDT, 1);
    GByteArray *st = g_byte_array_new();
    vm_lock(r.vm);
    Device *dev = device_find(r.vm, "nic");
    device_save_state(dev, st);
    vm_unlock(r.vm);
    /* Lose the half packet: a reset, then the saved state comes back. */
    wr(&r, CTRL, 1u << 26);
    g_assert_cmpuint(rd(&r, TCTL), ==, 0);
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_true(device_load_state(dev, st->data, st->len, &err));
    vm_unlock(r.vm);
    g_assert_no_error(err);
    wr(&r, TDT, 2);
    uint8_t d[16];
    ram_read(&r, RX_RING, d, 16);
    g_assert_cmpuint(d[12] & 3, ==, 3);
    uint8_t got[68];
    ram_read(&r, RX_BUFS, got, 68);
    check_arp_reply(got, 68);
    /* A damaged state is refused and the card keeps its own. */
    st->data[st->len / 2] ^= 0x55;
    vm_lock(r.vm);
    g_assert_false(device_load_state(dev, st->data, st->len, &err));
    vm_unlock(r.vm);
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_byte_array_unref(st);
    rig_free(&r);
}

/* ---- ne2k_pci ---- */

static void nb(Rig *r, unsigned reg, uint8_t v)
{
    outb(r->vm, NE2K_IO + reg, v);
}

static uint8_t ib(Rig *r, unsigned reg)
{
    return inb(r->vm, NE2K_IO + reg);
}

static void ne_dma(Rig *r, uint16_t addr, uint16_t count, uint8_t cmd)
{
    nb(r, 0, 0x22);
    nb(r, 0x0a, (uint8_t)count);
    nb(r, 0x0b, (uint8_t)(count >> 8));
    nb(r, 0x08, (uint8_t)addr);
    nb(r, 0x09, (uint8_t)(addr >> 8));
    nb(r, 0, cmd);
}

static void test_ne2k_pci(void)
{
    Rig r;
    rig_init(&r, "ne2k_pci,netdev=n0,addr=4,mac=52:54:00:12:34:99");
    /* The PROM (word mode: each byte twice) holds the MAC. */
    nb(&r, 0x0e, 0x49);
    ne_dma(&r, 0, 12, 0x0a);
    for (int i = 0; i < 6; i++) {
        g_assert_cmpuint(ib(&r, 0x10), ==, MAC[i]);
    }
    g_assert_cmpuint(ib(&r, 0x07) & 0x40, ==, 0x40); /* RDC */
    nb(&r, 0x07, 0xff);
    /* Byte mode from here on. Ring 0x4c-0x80, transmit buffer at 0x40. */
    nb(&r, 0x0e, 0x48);
    nb(&r, 0x01, 0x4c);
    nb(&r, 0x02, 0x80);
    nb(&r, 0x03, 0x7f);
    nb(&r, 0, 0x61);
    for (int i = 0; i < 6; i++)
        nb(&r, 1 + i, MAC[i]);
    nb(&r, 0x07, 0x4c); /* CURR */
    nb(&r, 0, 0x22);
    nb(&r, 0x0c, 0x04); /* broadcasts */
    nb(&r, 0x0f, 0x3f);
    nb(&r, 0x07, 0xff);

    uint8_t f[64];
    size_t n = arp_request(f);
    ne_dma(&r, 0x4000, (uint16_t)n, 0x12);
    for (size_t i = 0; i < n; i++)
        nb(&r, 0x10, f[i]);
    nb(&r, 0x04, 0x40);
    nb(&r, 0x05, (uint8_t)n);
    nb(&r, 0x06, 0);
    nb(&r, 0, 0x26); /* transmit */
    uint8_t isr = ib(&r, 0x07);
    g_assert_cmpuint(isr & 0x03, ==, 0x03); /* PTX, and PRX: slirp's reply */
    g_assert_cmpint(r.irq, ==, 1);
    /* The reply at 0x4c00: header (status, next page, count), then the frame. */
    ne_dma(&r, 0x4c00, 4 + 60, 0x0a);
    uint8_t hdr[4], got[60];
    for (int i = 0; i < 4; i++)
        hdr[i] = ib(&r, 0x10);
    for (int i = 0; i < 60; i++)
        got[i] = ib(&r, 0x10);
    g_assert_cmpuint(hdr[0] & 1, ==, 1);
    g_assert_cmpuint(hdr[1], ==, 0x4d);
    g_assert_cmpuint(hdr[2] | hdr[3] << 8, >=, 4 + 60); /* slirp pads its ARP replies itself */
    check_arp_reply(got, 60);
    nb(&r, 0x07, 0xff);
    g_assert_cmpint(r.irq, ==, 0);

    /* Hostile: a transmit of 60000 bytes and one past packet memory: refused (TXE),
     * counted. */
    nb(&r, 0x05, 0x60);
    nb(&r, 0x06, 0xea);
    nb(&r, 0, 0x26);
    g_assert_cmpuint(ib(&r, 0x07) & 0x08, ==, 0x08);
    nb(&r, 0x04, 0xbf);
    nb(&r, 0x05, 0x00);
    nb(&r, 0x06, 0x02);
    nb(&r, 0, 0x26);
    g_assert_cmpuint(info_count(&r, "bad by card"), ==, 2);
    /* Remote DMA past packet memory reads 0xff and writes nothing; the address wraps
     * at 64 KiB. */
    ne_dma(&r, 0xfffe, 4, 0x0a);
    g_assert_cmpuint(ib(&r, 0x10), ==, 0xff);
    ne_dma(&r, 0xc000, 4, 0x12);
    nb(&r, 0x10, 0x12);
    /* A ring out of packet memory: frames are dropped and counted, nothing written. */
    nb(&r, 0x01, 0x90);
    nb(&r, 0x02, 0x20);
    nb(&r, 0x04, 0x40);
    nb(&r, 0x05, (uint8_t)n);
    nb(&r, 0x06, 0);
    nb(&r, 0, 0x26);
    g_assert_cmpuint(info_count(&r, "bad by card"), ==, 3);
    /* A flood with the ring full and never emptied: bounded queue. */
    nb(&r, 0x01, 0x4c);
    nb(&r, 0x02, 0x50);
    for (int i = 0; i < 3000; i++)
        nb(&r, 0, 0x26);
    g_assert_cmpuint(info_count(&r, "queued"), <=, NET_QUEUE_MAX_FRAMES);
    rig_free(&r);
}

/* ---- options ---- */

static void test_options(void)
{
    static const char *const bad[] = {
        "user,id=a,net=10.0.2.0/33", "user,id=a,host=10.0.3.2", "user,id=a,dns=x",
        "user,id=a,hostfwd=tcp::99999-:22", "user,id=a,hostfwd=icmp::80-:22", "user,id=a,hostfwd=tcp:80-:22",
        "user,id=a,restrict=maybe", "user,id=a,nosuch=1", "vde,id=a", "id=a",
        "tap,id=a,vnet_hdr=on", "tap,id=a,ifname=a/b", "tap,id=a,ifname=sixteen-chars-xx", "tap,id=a,fd=3",
        "tap,id=a,script=/nonexistent/ifup", "user,id=a,tftp=/nonexistent/x",
        "user,id=a,net=10.0.2.0/255.0.255.0",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        g_assert_false(backend_spec_check("netdev", bad[i], &err));
        g_assert_nonnull(err);
        g_test_message("%s: %s", bad[i], err->message);
        g_assert_null(strchr(err->message, '\n'));
        g_clear_error(&err);
    }
    static const char *const good[] = {
        "user,id=a", "user,id=a,net=192.168.76.0/24,host=192.168.76.2,dns=192.168.76.3,dhcpstart=192.168.76.9",
        "user,id=a,hostfwd=tcp::5555-:22,hostfwd=udp:127.0.0.1:6666-10.0.2.15:66,restrict=on",
        "user,id=a,net=10.0.0.0/255.255.0.0,ipv6=off,hostname=guest",
        "user,id=a,tftp=/,bootfile=boot.ipxe,tftp-server-name=boot",
        "tap,id=a,ifname=tap0,script=no,downscript=no,vnet_hdr=off", "tap,id=a",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        GError *err = NULL;
        g_assert_true(backend_spec_check("netdev", good[i], &err));
        g_assert_no_error(err);
    }
    uint8_t mac[6];
    GError *err = NULL;
    g_assert_true(net_nic_mac("02:00:00:aa:bb:cc", mac, &err));
    g_assert_cmpuint(mac[5], ==, 0xcc);
    g_assert_false(net_nic_mac("01:00:5e:00:00:01", mac, &err));
    g_clear_error(&err);
    g_assert_false(net_nic_mac("52:54:00:12:34", mac, &err));
    g_clear_error(&err);
    g_assert_true(net_nic_mac(NULL, mac, &err));
    g_assert_cmpuint(mac[0], ==, 0x52);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/net/options", test_options);
    g_test_add_func("/net/e1000/good-path", test_e1000_good_path);
    g_test_add_func("/net/e1000/hostile", test_e1000_hostile);
    g_test_add_func("/net/e1000/savevm-mid-packet", test_e1000_savevm_mid_packet);
    g_test_add_func("/net/e1000/tso-budget", test_e1000_tso_budget);
    g_test_add_func("/net/ne2k_pci", test_ne2k_pci);
    return g_test_run();
}
