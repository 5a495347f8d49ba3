/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Realtek RTL8139C Fast Ethernet controller (PCI 10ec:8139, QEMU's "rtl8139"), after the
 * "RTL8139C(L) Single-Chip Fast Ethernet Controller" datasheet (register descriptions,
 * sections 5-6) and Realtek's programming guide for the RTL8139: the receive ring (one
 * contiguous buffer with a 4-byte header per packet) and the four transmit descriptors
 * (TSAD0-3 / TSD0-3), the interrupt status and mask registers, the 93C46 EEPROM through
 * 9346CR, the MII registers (BMCR, BMSR, ANAR, ANLPAR) and the media status, the
 * general-purpose timer (TCTR, TimerInt).
 *
 * PCI revision 0x10: drivers treat it as a plain RTL8139 (Linux: 8139too), not the
 * 8139C+ (whose C+ descriptor mode is not modelled). Registers are in I/O BAR 0 and
 * memory BAR 1 (256 bytes each). */
#include "engine/device.h"
#include "engine/log.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/net/net.h"
#include "engine/timer.h"
#include "hw/net/eeprom93c46.h"
#include "hw/net/eth.h"
#include "hw/net/nic-boot.h"
#include "hw/pci/pci.h"

#include <string.h>

#define RTL_REGS_SIZE 256
#define RTL_PCI_CLOCK 33000000   /* TCTR counts the PCI clock */
#define RX_EXTRA 1536            /* a no-wrap ring may run this far past its end (+16) */

/* Registers (datasheet section 5), byte offsets. */
enum {
    IDR0 = 0x00, MAR0 = 0x08, TSD0 = 0x10, TSAD0 = 0x20, RBSTART = 0x30, ERBCR = 0x34, ERSR = 0x36,
    CR = 0x37, CAPR = 0x38, CBR = 0x3a, IMR = 0x3c, ISR = 0x3e, TCR = 0x40, RCR = 0x44, TCTR = 0x48,
    MPC = 0x4c, CR9346 = 0x50, CONFIG0 = 0x51, CONFIG1 = 0x52, TIMERINT = 0x54, MSR = 0x58,
    CONFIG3 = 0x59, CONFIG4 = 0x5a, MULINT = 0x5c, RERID = 0x5e, TSAD = 0x60, BMCR = 0x62,
    BMSR = 0x64, ANAR = 0x66, ANLPAR = 0x68, ANER = 0x6a, DIS = 0x6c, FCSC = 0x6e, NWAYTR = 0x70,
    REC = 0x72, CSCR = 0x74, PHY1_PARM = 0x78, TW_PARM = 0x7c, PHY2_PARM = 0x80, CONFIG5 = 0xd8,
};

/* Command register. */
#define CR_BUFE 0x01
#define CR_TE 0x04
#define CR_RE 0x08
#define CR_RST 0x10
/* Interrupt status and mask. */
#define INT_ROK 0x0001
#define INT_RER 0x0002
#define INT_TOK 0x0004
#define INT_TER 0x0008
#define INT_RXOVW 0x0010
#define INT_LINKCHG 0x0020
#define INT_FOVW 0x0040
#define INT_TIMEOUT 0x4000
#define INT_SERR 0x8000
#define INT_MASK 0xe07f
/* Transmit status (TSD). */
#define TSD_SIZE 0x1fff
#define TSD_OWN 0x2000
#define TSD_TOK 0x8000
#define TSD_WRITABLE 0x003f3fff   /* size, OWN, the early-Tx threshold */
/* Receive configuration. */
#define RCR_AAP 0x01
#define RCR_APM 0x02
#define RCR_AM 0x04
#define RCR_AB 0x08
#define RCR_WRAP 0x80
#define RCR_MASK 0xff0fffff
/* Receive packet header status. */
#define RX_ROK 0x0001
#define RX_BAR 0x2000
#define RX_PAM 0x4000
#define RX_MAR 0x8000
/* 9346CR. */
#define EE_DO 0x01
#define EE_DI 0x02
#define EE_SK 0x04
#define EE_CS 0x08
#define EEM_SHIFT 6
#define EEM_PROGRAM 2   /* the pins drive the EEPROM */
#define EEM_CONFIG 3    /* configuration registers writable */
/* Media status: LINKB is 0 while the link is up; SPEED_10 0 for 100 Mbit/s. */
#define MSR_LINKB 0x04
#define MSR_SPEED_10 0x08
#define MSR_TXFCE 0x40
/* MII basic status: 100BASE-TX and 10BASE-T full and half duplex, autonegotiation able
 * and complete, link. */
#define BMSR_LINK 0x0004
#define BMSR_VALUE 0x7829
/* TCR's hardware version bits: RTL8139C. */
#define TCR_HWVERID 0x74000000u
#define TCR_MASK 0x03070771u

typedef struct Rtl8139State {
    Device dev;
    char *addr;     /* property */
    char *mac_prop; /* property */
    NetClient *nc;  /* property */
    NicBoot boot;   /* properties */
    PciDevice pci;
    Vm *vm;
    uint8_t mac[ETH_ALEN];   /* the EEPROM's; IDR0-5 start as it */

    uint8_t idr[6], mar[8];
    uint32_t tsd[4], tsad[4];
    uint32_t rbstart, tcr, rcr, mpc, timer_int;
    uint16_t capr, cbr, imr, isr, mulint, bmcr, anar;
    uint8_t cr, cr9346, config[6];   /* CONFIG0, 1, 3, 4, 5 and a spare */
    uint8_t msr;
    bool link_down;
    bool link_changed;               /* CSCR's latch, cleared when read */
    int64_t tctr_base;               /* virtual time TCTR counted from */
    VTimer *timer;                   /* TimerInt: TCTR reaching it */
    Eeprom93c46 eeprom;
} Rtl8139State;

enum { CFG0, CFG1, CFG3, CFG4, CFG5 };

/* ---- interrupts, the timer ---- */

static void rtl_update_irq(Rtl8139State *s)
{
    pci_set_irq(&s->pci, (s->isr & s->imr & INT_MASK) != 0);
}

static void rtl_raise(Rtl8139State *s, uint16_t bits)
{
    s->isr |= bits;
    rtl_update_irq(s);
}

static uint32_t rtl_tctr(Rtl8139State *s)
{
    return (uint32_t)ns_to_ticks(vm_clock_ns(s->vm) - s->tctr_base, RTL_PCI_CLOCK);
}

/* TimerInt (datasheet 5: "when TCTR reaches this value the TimeOut bit is set"). */
static void rtl_arm_timer(Rtl8139State *s)
{
    if (!s->timer_int) {
        vtimer_del(s->timer);
        return;
    }
    uint32_t now = rtl_tctr(s);
    /* TCTR wraps at 2^32 counts (about 130 s); the next time it equals TimerInt. */
    uint64_t ticks = (uint64_t)(uint32_t)(s->timer_int - now);
    if (!ticks)
        ticks = UINT64_C(1) << 32;
    vtimer_mod(s->timer, vm_clock_ns(s->vm) + ticks_to_ns((int64_t)ticks, RTL_PCI_CLOCK));
}

static void rtl_timer_cb(void *opaque)
{
    Rtl8139State *s = opaque;
    rtl_raise(s, INT_TIMEOUT);
    rtl_arm_timer(s);
}

/* ---- link ---- */

static void rtl_set_link_bits(Rtl8139State *s)
{
    if (s->link_down)
        s->msr |= MSR_LINKB;
    else
        s->msr &= (uint8_t)~MSR_LINKB;
}

static void rtl_link_changed(void *opaque, bool up)
{
    Rtl8139State *s = opaque;
    s->link_down = !up;
    s->link_changed = true;
    rtl_set_link_bits(s);
    rtl_raise(s, INT_LINKCHG);
}

/* ---- receive (the ring: datasheet 6.1 and the programming guide) ---- */

static uint32_t rx_buf_len(const Rtl8139State *s)
{
    return 8192u << ((s->rcr >> 11) & 3);
}

/* Bytes the ring holds that the driver has not read: from CAPR + 16 (the driver's read
 * pointer) to CBR (the card's write pointer). */
static uint32_t rx_used(const Rtl8139State *s)
{
    uint32_t len = rx_buf_len(s);
    return (s->cbr + len - (uint16_t)(s->capr + 16) % len) % len;
}

static bool rx_empty(const Rtl8139State *s)
{
    return rx_used(s) == 0;
}

static uint32_t rx_need(size_t len)
{
    return (uint32_t)((4 + MAX(len, ETH_ZLEN) + ETH_FCS_LEN + 3) & ~(size_t)3);
}

static bool rx_has_room(const Rtl8139State *s, size_t len)
{
    return rx_used(s) + rx_need(len) + 16 <= rx_buf_len(s);
}

/* Which of the receive filters takes the frame (RCR: all, own address, multicast hash,
 * broadcast), and the header bits that say why. */
static bool rtl_accepts(const Rtl8139State *s, const uint8_t *frame, uint16_t *why)
{
    if (eth_is_broadcast(frame)) {
        *why = RX_BAR;
        return s->rcr & (RCR_AB | RCR_AAP);
    }
    if (eth_is_multicast(frame)) {
        *why = RX_MAR;
        if (s->rcr & RCR_AAP)
            return true;
        unsigned bit = eth_crc32_be(frame, ETH_ALEN) >> 26;
        return (s->rcr & RCR_AM) && (s->mar[bit >> 3] & (1u << (bit & 7)));
    }
    *why = RX_PAM;
    if (!memcmp(frame, s->idr, ETH_ALEN))
        return s->rcr & (RCR_APM | RCR_AAP);
    *why = 0;
    return s->rcr & RCR_AAP;
}

static bool rtl_can_receive(void *opaque, size_t len)
{
    Rtl8139State *s = opaque;
    if (!(s->cr & CR_RE) || !pci_bus_master_enabled(&s->pci))
        return false;
    /* A full ring: the chip drops the frame and raises Rx buffer overflow, which is what
     * wakes a driver that has stopped polling with data left (Linux's 8139too). Without
     * that interrupt enabled the frame waits in the back end's queue instead. */
    return rx_has_room(s, len) || (s->imr & INT_RXOVW);
}

/* Writes n bytes at ring offset off; without WRAP a packet runs on past the end into
 * the 1.5 KiB the driver gave beyond it, with WRAP it continues at the start. */
static void rx_write(Rtl8139State *s, uint32_t off, const uint8_t *data, uint32_t n)
{
    GuestMemory *m = vm_mem(s->vm);
    uint32_t len = rx_buf_len(s);
    while (n) {
        uint32_t chunk = n;
        if ((s->rcr & RCR_WRAP) == 0 && off + chunk > len)
            chunk = len - off;
        if (off + chunk > len + RX_EXTRA + 16) {
            /* A no-wrap packet longer than the room the driver gave past the end. */
            net_client_count_bad(s->nc);
            return;
        }
        if (!mem_is_ram(m, (uint64_t)s->rbstart + off, chunk)) {
            VLOG(LOG_GUEST, "rtl8139: receive ring at 0x%x+0x%x outside RAM", s->rbstart, off);
            net_client_count_bad(s->nc);
        } else {
            mem_write(m, (uint64_t)s->rbstart + off, data, chunk);
        }
        data += chunk;
        n -= chunk;
        off = (off + chunk) % len;
    }
}

static void rtl_receive(void *opaque, const uint8_t *frame, size_t len)
{
    Rtl8139State *s = opaque;
    uint16_t why;
    if (len < ETH_HLEN || !rtl_accepts(s, frame, &why))
        return;
    if (!rx_has_room(s, len)) {
        VLOG(LOG_NET, "rtl8139: receive ring full (%u of %u bytes unread): frame dropped", rx_used(s),
             rx_buf_len(s));
        s->mpc++;
        rtl_raise(s, INT_RXOVW);
        return;
    }
    /* Short frames are padded as on the wire; the header's length counts the FCS. */
    uint8_t pkt[NET_MAX_FRAME + ETH_FCS_LEN];
    size_t n = MIN(len, (size_t)NET_MAX_FRAME);
    memcpy(pkt, frame, n);
    if (n < ETH_ZLEN) {
        memset(pkt + n, 0, ETH_ZLEN - n);
        n = ETH_ZLEN;
    }
    uint32_t fcs = eth_fcs(pkt, n);
    memcpy(pkt + n, &fcs, ETH_FCS_LEN);
    n += ETH_FCS_LEN;
    if (n > 4096 + ETH_FCS_LEN) {
        /* Longer than the card's receive FIFO takes: a FIFO overflow. */
        s->mpc++;
        rtl_raise(s, INT_FOVW);
        return;
    }
    uint8_t hdr[4] = { (uint8_t)(RX_ROK | why), (uint8_t)((RX_ROK | why) >> 8), (uint8_t)n, (uint8_t)(n >> 8) };
    uint32_t off = s->cbr % rx_buf_len(s);
    rx_write(s, off, hdr, 4);
    /* Without WRAP the data follows the header even past the ring's end. */
    uint32_t data_off = off + 4;
    if ((s->rcr & RCR_WRAP) == 0)
        data_off %= rx_buf_len(s);
    rx_write(s, data_off, pkt, (uint32_t)n);
    s->cbr = (uint16_t)((off + rx_need(n - ETH_FCS_LEN)) % rx_buf_len(s));
    rtl_raise(s, INT_ROK);
}

/* ---- transmit (datasheet 6.2: four descriptors used in turn) ---- */

static void rtl_transmit(Rtl8139State *s, int i)
{
    if (!(s->cr & CR_TE) || (s->tsd[i] & TSD_OWN))
        return;
    uint32_t size = s->tsd[i] & TSD_SIZE;
    GuestMemory *m = vm_mem(s->vm);
    uint8_t frame[TSD_SIZE + 1];
    if (!pci_bus_master_enabled(&s->pci) || size > 1792 || !mem_is_ram(m, s->tsad[i], size) ||
        !mem_read(m, s->tsad[i], frame, size)) {
        /* Outside RAM or beyond the FIFO (1792 bytes): the transmit aborts. */
        VLOG(LOG_GUEST, "rtl8139: bad transmit of %u bytes at 0x%x", size, s->tsad[i]);
        if (s->nc)
            net_client_count_bad(s->nc);
        s->tsd[i] |= TSD_OWN | (1u << 30);   /* TABT */
        rtl_raise(s, INT_TER);
        return;
    }
    if (s->nc && size >= ETH_HLEN && !(s->tcr & (3u << 17)))
        net_client_send(s->nc, frame, size);
    else if (size >= ETH_HLEN && (s->tcr & (3u << 17)) && rtl_can_receive(s, size))
        rtl_receive(s, frame, size);   /* loopback (TCR LBK) */
    s->tsd[i] |= TSD_OWN | TSD_TOK;
    rtl_raise(s, INT_TOK);
}

/* ---- reset ---- */

static void rtl_soft_reset(Rtl8139State *s)
{
    /* Software reset (CR.RST): the rings and interrupts restart; the address and the
     * configuration registers stay (datasheet 5, CR). */
    s->cr = CR_BUFE;
    s->capr = 0xfff0;   /* CAPR + 16 = 0: empty */
    s->cbr = 0;
    s->isr = 0;
    s->imr = 0;
    for (int i = 0; i < 4; i++)
        s->tsd[i] = TSD_OWN;
    rtl_update_irq(s);
}

static void rtl_hard_reset(Rtl8139State *s)
{
    memcpy(s->idr, s->mac, ETH_ALEN);
    memset(s->mar, 0, sizeof(s->mar));
    memset(s->tsad, 0, sizeof(s->tsad));
    s->rbstart = 0;
    s->tcr = TCR_HWVERID;
    s->rcr = 0;
    s->mpc = 0;
    s->timer_int = 0;
    s->mulint = 0;
    s->cr9346 = 0;
    s->config[CFG0] = 0x00;
    s->config[CFG1] = 0x0d;   /* I/O and memory mapping, driver loaded */
    s->config[CFG3] = 0x00;
    s->config[CFG4] = 0x00;
    s->config[CFG5] = 0x00;
    s->bmcr = 0x3100;         /* 100 Mbit/s, autonegotiation, full duplex */
    s->anar = 0x01e1;
    s->msr = MSR_TXFCE;
    rtl_set_link_bits(s);
    s->tctr_base = vm_clock_ns(s->vm);
    vtimer_del(s->timer);
    eeprom93c46_reset(&s->eeprom);
    rtl_soft_reset(s);
}

/* ---- registers ---- */

static uint8_t rtl_read8(Rtl8139State *s, uint32_t a)
{
    switch (a) {
    case IDR0 ... IDR0 + 5: return s->idr[a - IDR0];
    case MAR0 ... MAR0 + 7: return s->mar[a - MAR0];
    case TSD0 ... TSD0 + 15: return (uint8_t)(s->tsd[(a - TSD0) / 4] >> (8 * (a & 3)));
    case TSAD0 ... TSAD0 + 15: return (uint8_t)(s->tsad[(a - TSAD0) / 4] >> (8 * (a & 3)));
    case RBSTART ... RBSTART + 3: return (uint8_t)(s->rbstart >> (8 * (a & 3)));
    case CR: return (uint8_t)((s->cr & ~CR_BUFE) | (rx_empty(s) ? CR_BUFE : 0));
    case CAPR: case CAPR + 1: return (uint8_t)(s->capr >> (8 * (a & 1)));
    case CBR: case CBR + 1: return (uint8_t)(s->cbr >> (8 * (a & 1)));
    case IMR: case IMR + 1: return (uint8_t)(s->imr >> (8 * (a & 1)));
    case ISR: case ISR + 1: return (uint8_t)(s->isr >> (8 * (a & 1)));
    case TCR ... TCR + 3: return (uint8_t)(s->tcr >> (8 * (a & 3)));
    case RCR ... RCR + 3: return (uint8_t)(s->rcr >> (8 * (a & 3)));
    case TCTR ... TCTR + 3: return (uint8_t)(rtl_tctr(s) >> (8 * (a & 3)));
    case MPC ... MPC + 3: return (uint8_t)(s->mpc >> (8 * (a & 3)));
    case CR9346: {
        uint8_t v = s->cr9346 & ~EE_DO;
        if ((v >> EEM_SHIFT) == EEM_PROGRAM && eeprom93c46_dout(&s->eeprom))
            v |= EE_DO;
        return v;
    }
    case CONFIG0: return s->config[CFG0];
    case CONFIG1: return s->config[CFG1];
    case TIMERINT ... TIMERINT + 3: return (uint8_t)(s->timer_int >> (8 * (a & 3)));
    case MSR: return s->msr;
    case CONFIG3: return s->config[CFG3];
    case CONFIG4: return s->config[CFG4];
    case MULINT: case MULINT + 1: return (uint8_t)(s->mulint >> (8 * (a & 1)));
    case RERID: return 0x10;
    case TSAD: case TSAD + 1: {
        /* All descriptors' status: TOK 15-12, TUN 11-8, TABT 7-4, OWN 3-0. */
        uint16_t v = 0;
        for (int i = 0; i < 4; i++) {
            v |= (uint16_t)(!!(s->tsd[i] & TSD_OWN) << i);
            v |= (uint16_t)(!!(s->tsd[i] & (1u << 30)) << (i + 4));
            v |= (uint16_t)(!!(s->tsd[i] & TSD_TOK) << (i + 12));
        }
        return (uint8_t)(v >> (8 * (a & 1)));
    }
    case BMCR: case BMCR + 1: return (uint8_t)(s->bmcr >> (8 * (a & 1)));
    case BMSR: case BMSR + 1: {
        uint16_t v = BMSR_VALUE | (s->link_down ? 0 : BMSR_LINK);
        return (uint8_t)(v >> (8 * (a & 1)));
    }
    case ANAR: case ANAR + 1: return (uint8_t)(s->anar >> (8 * (a & 1)));
    case ANLPAR: case ANLPAR + 1: return (uint8_t)((s->link_down ? 0 : 0x45e1) >> (8 * (a & 1)));
    case ANER: return 0x01;   /* the link partner negotiates */
    case CSCR: case CSCR + 1: {
        /* Link OK (bit 10) and the link-change latch (bit 11), which drivers read after
         * the LinkChg interrupt; reading the high byte clears the latch. */
        uint16_t v = (uint16_t)(0x0340 | (s->link_down ? 0 : 0x0400) | (s->link_changed ? 0x0800 : 0));
        if (a == CSCR + 1)
            s->link_changed = false;
        return (uint8_t)(v >> (8 * (a & 1)));
    }
    case CONFIG5: return s->config[CFG5];
    default: return 0;   /* registers of the PHY's test modes and power management */
    }
}

static void set_byte32(uint32_t *r, uint32_t a, uint8_t v)
{
    unsigned sh = 8 * (a & 3);
    *r = (*r & ~(0xffu << sh)) | ((uint32_t)v << sh);
}

static void set_byte16(uint16_t *r, uint32_t a, uint8_t v)
{
    unsigned sh = 8 * (a & 1);
    *r = (uint16_t)((*r & ~(0xffu << sh)) | ((unsigned)v << sh));
}

static void rtl_write_cr9346(Rtl8139State *s, uint8_t v)
{
    s->cr9346 = v & 0xce;
    unsigned mode = v >> EEM_SHIFT;
    if (mode == EEM_PROGRAM)
        eeprom93c46_pins(&s->eeprom, v & EE_CS, v & EE_SK, v & EE_DI);
    else if (mode == 1) {
        /* Auto-load: the address comes from the EEPROM again; the bits clear when done. */
        for (int i = 0; i < 3; i++) {
            s->idr[2 * i] = (uint8_t)s->eeprom.data[7 + i];
            s->idr[2 * i + 1] = (uint8_t)(s->eeprom.data[7 + i] >> 8);
        }
        s->cr9346 &= 0x3f;
    }
}

/* One byte of a register write; registers that act on a write (TSD, CAPR, RCR) act when
 * the byte that completes them arrives, as drivers write them whole. */
static void rtl_write8(Rtl8139State *s, uint32_t a, uint8_t v)
{
    bool config_ok = (s->cr9346 >> EEM_SHIFT) == EEM_CONFIG;
    switch (a) {
    case IDR0 ... IDR0 + 5: s->idr[a - IDR0] = v; break;
    case MAR0 ... MAR0 + 7: s->mar[a - MAR0] = v; break;
    case TSD0 ... TSD0 + 15: {
        int i = (int)((a - TSD0) / 4);
        uint32_t t = s->tsd[i];
        set_byte32(&t, a, v);
        s->tsd[i] = (s->tsd[i] & ~TSD_WRITABLE) | (t & TSD_WRITABLE);
        /* Writing the byte with OWN clear starts the transmit (datasheet 6.2). */
        if ((a & 3) == 1 && !(s->tsd[i] & TSD_OWN)) {
            s->tsd[i] &= ~(TSD_TOK | (1u << 30));
            rtl_transmit(s, i);
        }
        break;
    }
    case TSAD0 ... TSAD0 + 15: set_byte32(&s->tsad[(a - TSAD0) / 4], a, v); break;
    case RBSTART ... RBSTART + 3: set_byte32(&s->rbstart, a, v); break;
    case CR:
        if (v & CR_RST) {
            rtl_soft_reset(s);
            break;
        }
        s->cr = (uint8_t)((s->cr & CR_BUFE) | (v & (CR_TE | CR_RE)));
        if ((v & CR_RE) && s->nc)
            net_client_rx_ready(s->nc);
        break;
    case CAPR: case CAPR + 1:
        set_byte16(&s->capr, a, v);
        if (a == CAPR + 1 && s->nc)
            net_client_rx_ready(s->nc);   /* the driver read: room again */
        break;
    case IMR: case IMR + 1:
        set_byte16(&s->imr, a, v);
        rtl_update_irq(s);
        break;
    case ISR: case ISR + 1:
        /* Write 1 to clear. */
        s->isr &= (uint16_t)~((unsigned)v << (8 * (a & 1)));
        rtl_update_irq(s);
        break;
    case TCR ... TCR + 3: {
        uint32_t t = s->tcr;
        set_byte32(&t, a, v);
        s->tcr = (t & TCR_MASK) | TCR_HWVERID;
        break;
    }
    case RCR ... RCR + 3: {
        uint32_t t = s->rcr;
        set_byte32(&t, a, v);
        s->rcr = t & RCR_MASK;
        if (a == RCR + 3 && s->nc)
            net_client_rx_ready(s->nc);
        break;
    }
    case TCTR ... TCTR + 3:
        /* Any write starts the count at zero. */
        s->tctr_base = vm_clock_ns(s->vm);
        rtl_arm_timer(s);
        break;
    case MPC ... MPC + 3: s->mpc = 0; break;
    case CR9346: rtl_write_cr9346(s, v); break;
    case CONFIG0: break;   /* read-only */
    case CONFIG1: if (config_ok) s->config[CFG1] = v; break;
    case TIMERINT ... TIMERINT + 3:
        set_byte32(&s->timer_int, a, v);
        rtl_arm_timer(s);
        break;
    case CONFIG3: if (config_ok) s->config[CFG3] = v; break;
    case CONFIG4: if (config_ok) s->config[CFG4] = v; break;
    case MULINT: case MULINT + 1: set_byte16(&s->mulint, a, v); break;
    case BMCR: case BMCR + 1: {
        uint16_t t = s->bmcr;
        set_byte16(&t, a, v);
        if (t & 0x8000)
            t = 0x3100;   /* PHY reset: the defaults, at once */
        s->bmcr = t & 0x3300;
        break;
    }
    case ANAR: case ANAR + 1: set_byte16(&s->anar, a, v); s->anar &= 0x05e1; s->anar |= 1; break;
    case CONFIG5: s->config[CFG5] = v; break;
    default: break;   /* read-only or test registers */
    }
}

static uint32_t rtl_read(void *opaque, uint32_t off, unsigned size)
{
    Rtl8139State *s = opaque;
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint32_t)rtl_read8(s, (off + k) & (RTL_REGS_SIZE - 1)) << (8 * k);
    return v;
}

static void rtl_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Rtl8139State *s = opaque;
    /* ISR is cleared as a whole word: clear both bytes before the interrupt updates. */
    if (off == ISR && size >= 2) {
        s->isr &= (uint16_t)~value;
        rtl_update_irq(s);
        return;
    }
    for (unsigned k = 0; k < size; k++)
        rtl_write8(s, (off + k) & (RTL_REGS_SIZE - 1), (uint8_t)(value >> (8 * k)));
}

static const PortOps rtl_io_ops = {
    .read = rtl_read,
    .write = rtl_write,
    .min_size = 1,
    .max_size = 4,
};

static uint64_t rtl_mmio_read(void *opaque, hwaddr off, unsigned size)
{
    return rtl_read(opaque, (uint32_t)off, size);
}

static void rtl_mmio_write(void *opaque, hwaddr off, uint64_t value, unsigned size)
{
    rtl_write(opaque, (uint32_t)off, (uint32_t)value, size);
}

static const MemOps rtl_mmio_ops = {
    .read = rtl_mmio_read,
    .write = rtl_mmio_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- the device object ---- */

static const NetNicOps rtl_nic_ops = {
    .can_receive = rtl_can_receive,
    .receive = rtl_receive,
    .link_changed = rtl_link_changed,
};

static void rtl_eeprom_init(Rtl8139State *s)
{
    uint16_t *d = s->eeprom.data;
    memset(d, 0, sizeof(s->eeprom.data));
    d[0] = 0x8129;            /* the RTL8139's EEPROM signature */
    d[1] = 0x10ec;            /* vendor, device, subsystem */
    d[2] = 0x8139;
    d[3] = 0x10ec;
    d[4] = 0x8139;
    d[5] = 0x4020;            /* PCI minimum grant / maximum latency */
    d[6] = 0xe112;
    for (int i = 0; i < 3; i++)
        d[7 + i] = (uint16_t)(s->mac[2 * i] | s->mac[2 * i + 1] << 8);
    d[10] = 0x4d10;           /* CONFIG3/CONFIG4-like defaults, MSR */
    d[11] = 0xf7c2;
}

static void rtl_reset(Device *dev)
{
    Rtl8139State *s = (Rtl8139State *)dev;
    pci_device_reset(&s->pci);
    rtl_hard_reset(s);
}

static bool rtl_realize(Device *dev, GError **err)
{
    Rtl8139State *s = (Rtl8139State *)dev;
    s->vm = dev->vm;
    if (!net_nic_mac(s->mac_prop, s->mac, err) || !nic_boot_prepare(&s->boot, dev->vm, "pxe-rtl8139.rom", err))
        return false;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err) ||
        (s->nc && !net_client_attach(s->nc, dev->id, &rtl_nic_ops, s, err))) {
        nic_boot_discard(&s->boot);
        return false;
    }
    s->timer = vtimer_new(dev->vm, rtl_timer_cb, s);
    pci_device_init(&s->pci, bus, devfn, "rtl8139", 0x10ec, 0x8139, 0x020000, 0x10);
    s->pci.opaque = s;
    pci_device_set_subsystem(&s->pci, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(&s->pci, 1);
    pci_register_bar_io(&s->pci, 0, RTL_REGS_SIZE, &rtl_io_ops, s);
    pci_register_bar_mmio(&s->pci, 1, RTL_REGS_SIZE, &rtl_mmio_ops, s);
    nic_boot_install(&s->boot, &s->pci);
    rtl_eeprom_init(s);
    s->link_down = s->nc && !net_client_link_up(s->nc);
    rtl_hard_reset(s);
    return true;
}

static void rtl_unrealize(Device *dev)
{
    Rtl8139State *s = (Rtl8139State *)dev;
    if (s->nc)
        net_client_detach(s->nc);
    vtimer_free(s->timer);
}

static bool rtl_check(const void *state, GError **err)
{
    const Rtl8139State *s = state;
    if (!eeprom93c46_state_check(&s->eeprom)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "rtl8139: EEPROM state out of range");
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

static void rtl_post_load(void *state)
{
    Rtl8139State *s = state;
    pci_device_post_load(&s->pci);
    /* The back end's link may differ from the saved one: the guest hears of it. */
    bool up = !s->nc || net_client_link_up(s->nc);
    if (up == s->link_down) {
        s->link_down = !up;
        s->link_changed = true;
        s->isr |= INT_LINKCHG;
    }
    rtl_set_link_bits(s);
    rtl_update_irq(s);
    if (s->nc)
        net_client_rx_ready(s->nc);
}

static const VmStateField rtl_fields[] = {
    VMSTATE_STRUCT(Rtl8139State, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_BUFFER(Rtl8139State, idr),
    VMSTATE_BUFFER(Rtl8139State, mar),
    VMSTATE_U32_ARRAY(Rtl8139State, tsd, 4),
    VMSTATE_U32_ARRAY(Rtl8139State, tsad, 4),
    VMSTATE_U32(Rtl8139State, rbstart),
    VMSTATE_U32(Rtl8139State, tcr),
    VMSTATE_U32(Rtl8139State, rcr),
    VMSTATE_U32(Rtl8139State, mpc),
    VMSTATE_U32(Rtl8139State, timer_int),
    VMSTATE_U16(Rtl8139State, capr),
    VMSTATE_U16(Rtl8139State, cbr),
    VMSTATE_U16(Rtl8139State, imr),
    VMSTATE_U16(Rtl8139State, isr),
    VMSTATE_U16(Rtl8139State, mulint),
    VMSTATE_U16(Rtl8139State, bmcr),
    VMSTATE_U16(Rtl8139State, anar),
    VMSTATE_U8(Rtl8139State, cr),
    VMSTATE_U8(Rtl8139State, cr9346),
    VMSTATE_BUFFER(Rtl8139State, config),
    VMSTATE_U8(Rtl8139State, msr),
    VMSTATE_BOOL(Rtl8139State, link_down),
    VMSTATE_BOOL(Rtl8139State, link_changed),
    VMSTATE_I64(Rtl8139State, tctr_base),
    VMSTATE_TIMER(Rtl8139State, timer),
    VMSTATE_STRUCT(Rtl8139State, eeprom, Eeprom93c46, &eeprom93c46_vmsd),
    VMSTATE_END,
};

static const VmStateDesc rtl_vmsd = {
    .name = "rtl8139",
    .version = 1,
    .fields = rtl_fields,
    .check = rtl_check,
    .post_load = rtl_post_load,
};

static const DeviceProp rtl_props[] = {
    PCI_DEVICE_PROP_ADDR(Rtl8139State, addr),
    NET_NIC_PROPS(Rtl8139State, mac_prop, nc),
    NIC_BOOT_PROPS(Rtl8139State, boot),
    { NULL },
};

static const DeviceClass rtl_class = {
    .name = "rtl8139",
    .description = "Realtek RTL8139C Fast Ethernet (PCI 10ec:8139)",
    .instance_size = sizeof(Rtl8139State),
    .user_creatable = true,
    .props = rtl_props,
    .vmsd = &rtl_vmsd,
    .realize = rtl_realize,
    .reset = rtl_reset,
    .unrealize = rtl_unrealize,
};

static void __attribute__((constructor)) rtl_register(void)
{
    device_class_register(&rtl_class);
}
