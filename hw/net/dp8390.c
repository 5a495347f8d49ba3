/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DP8390 core of the NE2000 boards, after the National Semiconductor "DP8390D/NS32490D
 * Network Interface Controller" datasheet (register map §10-11, the receive ring
 * §7.1-7.4, remote DMA §8) and the NE2000's memory map (PROM at 0, 16-bit wide as the
 * station address bytes doubled; packet memory from 0x4000). Transmission is immediate;
 * the "send packet" remote DMA command is not offered (no NE2000 driver we know uses it). */
#include "hw/net/dp8390.h"
#include "engine/machine.h"
#include "hw/net/eth.h"

#include <string.h>

/* CR (§11.1). */
#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RD_MASK 0x38
#define CR_RD_READ 0x08
#define CR_RD_WRITE 0x10
#define CR_RD_SEND 0x18
#define CR_PS_SHIFT 6

/* ISR and IMR (§11.3, §11.4). */
#define ISR_PRX 0x01
#define ISR_PTX 0x02
#define ISR_RXE 0x04
#define ISR_TXE 0x08
#define ISR_OVW 0x10
#define ISR_CNT 0x20
#define ISR_RDC 0x40
#define ISR_RST 0x80

#define DCR_WTS 0x01 /* word-wide remote DMA */
#define RCR_SEP 0x01
#define RCR_AR 0x02
#define RCR_AB 0x04
#define RCR_AM 0x08
#define RCR_PRO 0x10
#define RCR_MON 0x20
#define TCR_LB_MASK 0x06
#define RSR_PRX 0x01
#define RSR_PHY 0x20 /* multicast or broadcast */
#define TSR_PTX 0x01
#define TSR_ABT 0x08

#define PORT_DATA 0x10
#define PORT_RESET 0x18

/* The longest frame the board sends: 1514 bytes and a VLAN tag. */
#define MAX_TX 1518

static void update_irq(Dp8390 *s)
{
    s->set_irq(s->irq_opaque, (s->isr & s->imr & 0x7f) != 0);
}

/* ---- packet memory ---- */

static uint8_t mem_readb(Dp8390 *s, uint32_t a)
{
    if (a < DP8390_RAM_START)
        return s->prom[a & 31];
    if (a - DP8390_RAM_START < DP8390_RAM_SIZE)
        return s->ram[a - DP8390_RAM_START];
    return 0xff;
}

static void mem_writeb(Dp8390 *s, uint32_t a, uint8_t v)
{
    if (a >= DP8390_RAM_START && a - DP8390_RAM_START < DP8390_RAM_SIZE)
        s->ram[a - DP8390_RAM_START] = v;
}

/* The ring [PSTART, PSTOP) in pages is usable when it lies in packet memory and CURR,
 * where the next packet goes, is inside it. */
static bool ring_valid(const Dp8390 *s)
{
    return s->pstart < s->pstop && s->pstart >= DP8390_RAM_START / 256 &&
           s->pstop <= (DP8390_RAM_START + DP8390_RAM_SIZE) / 256 && s->curr >= s->pstart &&
           s->curr < s->pstop;
}

/* BNRY as a page of the ring. Drivers keep it one page behind the next packet to read,
 * so it is PSTART - 1 when that packet is at PSTART (Linux's 8390 driver does): the
 * page before PSTART in ring order is PSTOP - 1. */
static unsigned ring_bnry(const Dp8390 *s)
{
    return s->bnry >= s->pstart && s->bnry < s->pstop ? s->bnry : s->pstop - 1u;
}

/* ---- receive (§7) ---- */

static bool accepts(const Dp8390 *s, const uint8_t *f, size_t len)
{
    if (len < ETH_HLEN)
        return false;
    if (s->rcr & RCR_PRO)
        return true;
    if (eth_is_broadcast(f))
        return s->rcr & RCR_AB;
    if (eth_is_multicast(f)) {
        if (!(s->rcr & RCR_AM))
            return false;
        unsigned idx = eth_crc32_be(f, ETH_ALEN) >> 26;
        return s->mar[idx >> 3] & (1u << (idx & 7));
    }
    return !memcmp(f, s->par, ETH_ALEN);
}

/* Pages free from CURR up to BNRY: CURR == BNRY is an empty ring, so a packet never
 * takes the last free page (CURR would meet BNRY and the ring would look empty). */
static unsigned ring_free(const Dp8390 *s)
{
    unsigned cur = s->curr, bnd = ring_bnry(s);
    if (cur < bnd)
        return bnd - cur;
    return (s->pstop - s->pstart) - (cur - bnd);
}

static size_t rx_total(size_t len)
{
    return 4 + MAX(len, (size_t)ETH_ZLEN);
}

static unsigned rx_pages(size_t len)
{
    return (unsigned)((rx_total(len) + 255) / 256);
}

static bool dp8390_can_receive(void *opaque, size_t len)
{
    Dp8390 *s = opaque;
    /* Stopped, monitoring or with a broken ring the frame is not stored: receive drops it. */
    if ((s->cmd & CR_STP) || (s->rcr & RCR_MON) || !ring_valid(s) ||
        rx_pages(len) >= (unsigned)(s->pstop - s->pstart))
        return true;
    if (rx_pages(len) < ring_free(s))
        return true;
    /* The ring is full and a frame waits. The chip would drop it and raise OVW; Vireo
     * keeps it (no loss to recover from) but makes sure the driver hears about the
     * packets in the ring: Linux's 8390 driver reads at most nine per interrupt and
     * then acknowledges PRX, which could leave a full ring nobody is told about. */
    if (!(s->isr & ISR_PRX) && ring_free(s) < (unsigned)(s->pstop - s->pstart)) {
        s->isr |= ISR_PRX;
        update_irq(s);
    }
    return false;
}

static void dp8390_receive(void *opaque, const uint8_t *frame, size_t len)
{
    Dp8390 *s = opaque;
    if ((s->cmd & CR_STP) || !accepts(s, frame, len))
        return;
    if (!ring_valid(s)) {
        VLOG(LOG_GUEST, "%s: receive ring PSTART %02x PSTOP %02x CURR %02x BNRY %02x unusable", s->name,
             s->pstart, s->pstop, s->curr, s->bnry);
        if (s->nc)
            net_client_count_bad(s->nc);
        return;
    }
    size_t total = rx_total(len);
    unsigned pages = rx_pages(len);
    if (pages >= ring_free(s)) {
        /* Missed packet (§11.7: CNTR2); the ring stays as it is. */
        if (s->cntr[2] < 0xff)
            s->cntr[2]++;
        s->isr |= ISR_OVW;
        update_irq(s);
        return;
    }
    if (s->rcr & RCR_MON)
        return;
    uint8_t buf[4 + NET_MAX_FRAME + ETH_ZLEN];
    size_t n = MAX(len, (size_t)ETH_ZLEN);
    memset(buf + 4, 0, n);
    memcpy(buf + 4, frame, len);
    unsigned next = s->curr + pages;
    if (next >= s->pstop)
        next -= s->pstop - s->pstart;
    s->rsr = RSR_PRX | (eth_is_multicast(frame) ? RSR_PHY : 0);
    /* The 4-byte header (§7.4): status, next packet page, byte count with the header. */
    buf[0] = s->rsr;
    buf[1] = (uint8_t)next;
    buf[2] = (uint8_t)total;
    buf[3] = (uint8_t)(total >> 8);
    uint32_t a = s->curr * 256u, stop = s->pstop * 256u;
    for (size_t i = 0; i < total; i++) {
        mem_writeb(s, a, buf[i]);
        if (++a == stop)
            a = s->pstart * 256u;
    }
    s->curr = (uint8_t)next;
    s->isr |= ISR_PRX;
    update_irq(s);
}

/* ---- transmit ---- */

static void transmit(Dp8390 *s)
{
    uint32_t a = s->tpsr * 256u;
    unsigned len = s->tbcr;
    if (len > MAX_TX || a < DP8390_RAM_START || a + len > DP8390_RAM_START + DP8390_RAM_SIZE) {
        VLOG(LOG_GUEST, "%s: transmit of %u bytes at 0x%04x refused", s->name, len, a);
        if (s->nc)
            net_client_count_bad(s->nc);
        s->tsr = TSR_ABT;
        s->isr |= ISR_TXE;
    } else {
        uint8_t frame[MAX_TX];
        memcpy(frame, s->ram + (a - DP8390_RAM_START), len);
        if (s->tcr & TCR_LB_MASK) {
            /* Loopback (§11.6): the frame comes back to the receiver, not the wire. */
            if (dp8390_can_receive(s, len))
                dp8390_receive(s, frame, len);
        } else if (s->nc && len >= ETH_HLEN) {
            net_client_send(s->nc, frame, len);
        }
        s->tsr = TSR_PTX;
        s->isr |= ISR_PTX;
    }
    s->cmd &= ~CR_TXP;
    update_irq(s);
}

/* ---- remote DMA (§8) ---- */

/* The remote DMA address after one byte: reads of the ring wrap from PSTOP to PSTART
 * as the local DMA does. */
static void dma_step(Dp8390 *s)
{
    s->rsar++;
    if (s->pstop > s->pstart && s->rsar == s->pstop * 256u)
        s->rsar = (uint16_t)(s->pstart * 256u);
}

static void dma_done(Dp8390 *s, unsigned n)
{
    s->rbcr = (uint16_t)(s->rbcr > n ? s->rbcr - n : 0);
    if (!s->rbcr) {
        s->isr |= ISR_RDC;
        update_irq(s);
    }
}

/* Bytes one data port access moves: as wide as the access (the RTL8029 takes 32-bit
 * ones), but a whole word in word mode even for a byte access, whose read sees the
 * low half. */
static unsigned data_width(const Dp8390 *s, unsigned size)
{
    return size == 1 && (s->dcr & DCR_WTS) ? 2 : size;
}

static uint32_t data_read(Dp8390 *s, unsigned size)
{
    uint32_t v = 0;
    unsigned n = data_width(s, size);
    if (!s->rbcr) {
        VLOG(LOG_GUEST, "%s: remote DMA read past its byte count", s->name);
        return 0xffffffffu;
    }
    for (unsigned i = 0; i < n; i++, dma_step(s))
        v |= (uint32_t)mem_readb(s, s->rsar) << (8 * i);
    dma_done(s, n);
    return v;
}

static void data_write(Dp8390 *s, uint32_t v, unsigned size)
{
    unsigned n = data_width(s, size);
    if (!s->rbcr) {
        VLOG(LOG_GUEST, "%s: remote DMA write past its byte count", s->name);
        return;
    }
    for (unsigned i = 0; i < n; i++, v >>= 8, dma_step(s))
        mem_writeb(s, s->rsar, (uint8_t)v);
    dma_done(s, n);
}

/* ---- registers (§10) ---- */

static void cmd_write(Dp8390 *s, uint8_t v)
{
    uint8_t old = s->cmd;
    /* TXP stays set until the transmission completes; a new write cannot clear it. */
    s->cmd = (uint8_t)((v & ~CR_TXP) | (old & CR_TXP) | (v & CR_TXP));
    if (v & CR_STP) {
        s->cmd = (uint8_t)((s->cmd & ~CR_STA) | CR_STP);
        s->isr |= ISR_RST;
        update_irq(s);
        return;
    }
    if (v & CR_STA) {
        s->cmd &= (uint8_t)~CR_STP;
        s->isr &= (uint8_t)~ISR_RST;
    }
    unsigned rd = v & CR_RD_MASK;
    if ((rd == CR_RD_READ || rd == CR_RD_WRITE) && !s->rbcr) {
        s->isr |= ISR_RDC; /* a zero-length transfer completes at once */
        update_irq(s);
    } else if (rd == CR_RD_SEND) {
        VLOG(LOG_UNIMP, "%s: the send packet command is not implemented", s->name);
    }
    if ((v & CR_TXP) && !(s->cmd & CR_STP))
        transmit(s);
    /* A started receiver may take frames that waited. */
    if (s->nc && !(old & CR_STA) && (s->cmd & CR_STA))
        net_client_rx_ready(s->nc);
}

static uint8_t reg_read(Dp8390 *s, unsigned r)
{
    unsigned page = s->cmd >> CR_PS_SHIFT;
    if (r == 0)
        return s->cmd;
    switch (page) {
    case 0:
        switch (r) {
        case 0x01: return 0;       /* CLDA0/1: the local DMA rests at CURR between packets */
        case 0x02: return s->curr;
        case 0x03: return s->bnry;
        case 0x04: return s->tsr;
        case 0x05: return 0; /* NCR: no collisions on the emulated wire */
        case 0x06: return 0;
        case 0x07: return s->isr;
        case 0x08: return (uint8_t)s->rsar;
        case 0x09: return (uint8_t)(s->rsar >> 8);
        case 0x0a: return s->rtl8029 ? 0x50 : 0xff; /* RTL8029 ID 'P', 'C' */
        case 0x0b: return s->rtl8029 ? 0x43 : 0xff;
        case 0x0c: return s->rsr;
        case 0x0d: case 0x0e: case 0x0f: {
            uint8_t v = s->cntr[r - 0x0d];
            s->cntr[r - 0x0d] = 0; /* tally counters clear on read */
            return v;
        }
        }
        break;
    case 1:
        if (r <= 6)
            return s->par[r - 1];
        if (r == 7)
            return s->curr;
        return s->mar[r - 8];
    case 2:
        switch (r) {
        case 0x01: return s->pstart;
        case 0x02: return s->pstop;
        case 0x03: return 0; /* remote next packet pointer (send packet only) */
        case 0x04: return s->tpsr;
        case 0x05: return 0;
        case 0x0c: return s->rcr;
        case 0x0d: return s->tcr;
        case 0x0e: return s->dcr;
        case 0x0f: return s->imr;
        }
        break;
    default:
        /* Page 3: the RTL8029's configuration registers, which drivers leave alone. */
        VLOG(LOG_UNIMP, "%s: read of page 3 register %u", s->name, r);
        return 0;
    }
    return 0xff;
}

static void reg_write(Dp8390 *s, unsigned r, uint8_t v)
{
    unsigned page = s->cmd >> CR_PS_SHIFT;
    if (r == 0) {
        cmd_write(s, v);
        return;
    }
    switch (page) {
    case 0:
        switch (r) {
        case 0x01: s->pstart = v; return;
        case 0x02: s->pstop = v; return;
        case 0x03:
            s->bnry = v;
            if (s->nc)
                net_client_rx_ready(s->nc); /* the guest freed ring space */
            return;
        case 0x04: s->tpsr = v; return;
        case 0x05: s->tbcr = (uint16_t)((s->tbcr & 0xff00) | v); return;
        case 0x06: s->tbcr = (uint16_t)((s->tbcr & 0x00ff) | v << 8); return;
        case 0x07:
            s->isr &= (uint8_t)~(v & 0x7f); /* RST is not cleared by writing */
            update_irq(s);
            return;
        case 0x08: s->rsar = (uint16_t)((s->rsar & 0xff00) | v); return;
        case 0x09: s->rsar = (uint16_t)((s->rsar & 0x00ff) | v << 8); return;
        case 0x0a: s->rbcr = (uint16_t)((s->rbcr & 0xff00) | v); return;
        case 0x0b: s->rbcr = (uint16_t)((s->rbcr & 0x00ff) | v << 8); return;
        case 0x0c: s->rcr = v & 0x3f; return;
        case 0x0d: s->tcr = v & 0x1f; return;
        case 0x0e: s->dcr = v & 0x7f; return;
        case 0x0f:
            s->imr = v & 0x7f;
            update_irq(s);
            return;
        }
        return;
    case 1:
        if (r <= 6)
            s->par[r - 1] = v;
        else if (r == 7) {
            s->curr = v;
            if (s->nc)
                net_client_rx_ready(s->nc);
        } else
            s->mar[r - 8] = v;
        return;
    case 2:
        switch (r) {
        case 0x01: s->pstart = v; return;
        case 0x02: s->pstop = v; return;
        case 0x04: s->tpsr = v; return;
        }
        return;
    default:
        VLOG(LOG_UNIMP, "%s: write 0x%02x to page 3 register %u", s->name, v, r);
    }
}

uint32_t dp8390_io_read(Dp8390 *s, uint32_t off, unsigned size)
{
    if (off >= PORT_RESET) {
        /* Reading the reset port resets the board (ISR.RST tells when it is done). */
        dp8390_reset(s);
        return 0;
    }
    if (off >= PORT_DATA)
        return data_read(s, size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && off + i < PORT_DATA; i++)
        v |= (uint32_t)reg_read(s, off + i) << (8 * i);
    return v;
}

void dp8390_io_write(Dp8390 *s, uint32_t off, uint32_t value, unsigned size)
{
    if (off >= PORT_RESET)
        return;
    if (off >= PORT_DATA) {
        data_write(s, value, size);
        return;
    }
    for (unsigned i = 0; i < size && off + i < PORT_DATA; i++)
        reg_write(s, off + i, (uint8_t)(value >> (8 * i)));
}

/* ---- life cycle ---- */

void dp8390_reset(Dp8390 *s)
{
    s->cmd = CR_STP | 0x20; /* stopped, remote DMA aborted, page 0 */
    s->isr = ISR_RST;
    s->imr = 0;
    s->dcr = 0;
    s->rcr = 0;
    s->tcr = 0;
    s->tsr = s->rsr = 0;
    s->tbcr = s->rsar = s->rbcr = 0;
    memset(s->cntr, 0, sizeof(s->cntr));
    update_irq(s);
}

static const NetNicOps dp8390_nic_ops = {
    .can_receive = dp8390_can_receive,
    .receive = dp8390_receive,
};

bool dp8390_init(Dp8390 *s, const char *nic_id, GError **err)
{
    /* The PROM as the NE2000 reads it in word mode: each byte twice; bytes 14 and 15
     * (0x57, 'W') mark a 16-bit NE2000 for drivers that probe. */
    uint8_t p[16] = { 0 };
    memcpy(p, s->mac, 6);
    p[14] = p[15] = 0x57;
    for (int i = 0; i < 16; i++)
        s->prom[2 * i] = s->prom[2 * i + 1] = p[i];
    return !s->nc || net_client_attach(s->nc, nic_id, &dp8390_nic_ops, s, err);
}

void dp8390_fini(Dp8390 *s)
{
    if (s->nc)
        net_client_detach(s->nc);
}

bool dp8390_state_check(const Dp8390 *s, GError **err)
{
    (void)s;
    (void)err;
    /* Every register value is one a guest could write; ring pointers are checked where
     * they are used. */
    return true;
}

void dp8390_post_load(Dp8390 *s)
{
    update_irq(s);
    if (s->nc)
        net_client_rx_ready(s->nc);
}

static const VmStateField dp8390_fields[] = {
    VMSTATE_U8_ARRAY(Dp8390, mac, 6),
    VMSTATE_U8(Dp8390, cmd), VMSTATE_U8(Dp8390, pstart), VMSTATE_U8(Dp8390, pstop),
    VMSTATE_U8(Dp8390, bnry), VMSTATE_U8(Dp8390, tpsr), VMSTATE_U8(Dp8390, isr),
    VMSTATE_U8(Dp8390, rcr), VMSTATE_U8(Dp8390, tcr), VMSTATE_U8(Dp8390, dcr),
    VMSTATE_U8(Dp8390, imr), VMSTATE_U8(Dp8390, rsr), VMSTATE_U8(Dp8390, tsr),
    VMSTATE_U8(Dp8390, curr), VMSTATE_U8_ARRAY(Dp8390, cntr, 3),
    VMSTATE_U16(Dp8390, tbcr), VMSTATE_U16(Dp8390, rsar), VMSTATE_U16(Dp8390, rbcr),
    VMSTATE_U8_ARRAY(Dp8390, par, 6), VMSTATE_U8_ARRAY(Dp8390, mar, 8),
    VMSTATE_U8_ARRAY(Dp8390, prom, 32),
    VMSTATE_BUFFER(Dp8390, ram),
    VMSTATE_END,
};

const VmStateDesc dp8390_vmsd = {
    .name = "dp8390",
    .version = 1,
    .fields = dp8390_fields,
};
