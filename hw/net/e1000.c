/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 82540EM Gigabit Ethernet controller (PCI 8086:100E, QEMU's "e1000"), after the
 * "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual"
 * (8254x SDM, rev 4.0): the register set in MMIO BAR 0 and through the IOADDR/IODATA
 * window of I/O BAR 1 (§13), legacy and extended transmit descriptors with checksum
 * insertion and TCP segmentation (§3.3-3.6), legacy receive descriptors (§3.2), the
 * interrupt registers ICR/ICS/IMS/IMC (§13.4.17-21), the Microwire EEPROM through EECD
 * (§5) and the internal M88E1011-compatible PHY through MDIC (§13.4.6).
 *
 * Interrupt moderation (ITR, RDTR, RADV, TIDV, TADV) is not modelled: causes interrupt
 * at once, which the SDM allows for zero delays. Receive checksums are verified for
 * IPv4 TCP and UDP (rx_checksum); other frames say "ignore checksum indication". */
#include "engine/device.h"
#include "engine/machine.h"
#include "engine/net/net.h"
#include "hw/net/eth.h"
#include "hw/net/nic-boot.h"
#include "hw/pci/pci.h"

#include <string.h>

#define E1000_MMIO_SIZE 0x20000
#define E1000_IO_SIZE 0x40

/* Registers (§13.4), byte offsets in BAR 0. */
enum {
    CTRL = 0x0000, STATUS = 0x0008, EECD = 0x0010, EERD = 0x0014, CTRL_EXT = 0x0018,
    MDIC = 0x0020, FCAL = 0x0028, FCAH = 0x002c, FCT = 0x0030, VET = 0x0038,
    ICR = 0x00c0, ITR = 0x00c4, ICS = 0x00c8, IMS = 0x00d0, IMC = 0x00d8,
    RCTL = 0x0100, FCTTV = 0x0170, TXCW = 0x0178, RXCW = 0x0180, TCTL = 0x0400,
    TIPG = 0x0410, LEDCTL = 0x0e00, PBA = 0x1000, FCRTL = 0x2160, FCRTH = 0x2168,
    RDBAL = 0x2800, RDBAH = 0x2804, RDLEN = 0x2808, RDH = 0x2810, RDT = 0x2818,
    RDTR = 0x2820, RXDCTL = 0x2828, RADV = 0x282c, RSRPD = 0x2c00,
    TDBAL = 0x3800, TDBAH = 0x3804, TDLEN = 0x3808, TDH = 0x3810, TDT = 0x3818,
    TIDV = 0x3820, TXDCTL = 0x3828, TADV = 0x382c,
    STATS = 0x4000, STATS_END = 0x4100,
    RXCSUM = 0x5000, MTA = 0x5200, RA = 0x5400, VFTA = 0x5600,
    WUC = 0x5800, WUFC = 0x5808, WUS = 0x5810, MANC = 0x5820,
};

/* Statistics (§13.7), as indexes of the 32-bit counters from 0x4000. */
enum {
    ST_MPC = 0x10 / 4, ST_GPRC = 0x74 / 4, ST_BPRC = 0x78 / 4, ST_MPRC = 0x7c / 4,
    ST_GPTC = 0x80 / 4, ST_GORCL = 0x88 / 4, ST_GORCH = 0x8c / 4, ST_GOTCL = 0x90 / 4,
    ST_GOTCH = 0x94 / 4, ST_RNBC = 0xa0 / 4, ST_ROC = 0xac / 4, ST_TORL = 0xc0 / 4,
    ST_TORH = 0xc4 / 4, ST_TOTL = 0xc8 / 4, ST_TOTH = 0xcc / 4, ST_TPR = 0xd0 / 4,
    ST_TPT = 0xd4 / 4, ST_MPTC = 0xf0 / 4, ST_BPTC = 0xf4 / 4, ST_TSCTC = 0xf8 / 4,
    N_STATS = 64,
};

#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)

#define STATUS_FD (1u << 0)
#define STATUS_LU (1u << 1)
#define STATUS_SPEED_1000 (2u << 6)
#define STATUS_ASDV_1000 (2u << 8)

#define EECD_SK (1u << 0)
#define EECD_CS (1u << 1)
#define EECD_DI (1u << 2)
#define EECD_DO (1u << 3)
#define EECD_FWE_MASK (3u << 4)
#define EECD_REQ (1u << 6)
#define EECD_GNT (1u << 7)
#define EECD_PRES (1u << 8)

#define MDIC_DATA_MASK 0xffffu
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ (2u << 26)
#define MDIC_READY (1u << 28)
#define MDIC_INT_EN (1u << 29)
#define MDIC_ERROR (1u << 30)

#define ICR_TXDW (1u << 0)
#define ICR_TXQE (1u << 1)
#define ICR_LSC (1u << 2)
#define ICR_RXDMT0 (1u << 4)
#define ICR_RXO (1u << 6)
#define ICR_RXT0 (1u << 7)
#define ICR_MDAC (1u << 9)
#define ICR_ALL 0x0001f6dfu /* the causes the 82540EM has (§13.4.17) */

#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_RDMTS_SHIFT 8
#define RCTL_MO_SHIFT 12
#define RCTL_BAM (1u << 15)
#define RCTL_BSIZE_SHIFT 16
#define RCTL_VFE (1u << 18)
#define RCTL_BSEX (1u << 25)
#define RCTL_SECRC (1u << 26)

#define TCTL_EN (1u << 1)

#define RAH_AV (1u << 31)

/* Transmit descriptor bits (§3.3). */
#define TXD_CMD_EOP 0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_IC 0x04
#define TXD_CMD_RS 0x08
#define TXD_CMD_DEXT 0x20
#define TXD_CMD_VLE 0x40
#define TXD_CMD_TSE 0x04 /* extended descriptors */
#define TXD_STA_DD 0x01
#define TXD_POPTS_IXSM 0x01
#define TXD_POPTS_TXSM 0x02
#define TUCMD_TCP 0x01
#define TUCMD_IP 0x02
#define TUCMD_TSE 0x04

/* Receive descriptor status (§3.2.3). */
#define RXD_STA_DD 0x01
#define RXD_STA_EOP 0x02
#define RXD_STA_IXSM 0x04
#define RXD_STA_VP 0x08
#define RXD_ERR_RXE 0x80

/* PHY registers (IEEE 802.3 clause 22, and the M88E1011's own). */
enum {
    PHY_CTRL = 0, PHY_STATUS = 1, PHY_ID1 = 2, PHY_ID2 = 3, PHY_AUTONEG_ADV = 4,
    PHY_LP_ABILITY = 5, PHY_AUTONEG_EXP = 6, PHY_1000T_CTRL = 9, PHY_1000T_STATUS = 10,
    PHY_EXT_STATUS = 15, M88_SPEC_CTRL = 16, M88_SPEC_STATUS = 17, M88_EXT_SPEC_CTRL = 20,
    N_PHY = 32,
};
#define MII_CR_RESET 0x8000
#define MII_CR_RESTART_AN 0x0200
#define MII_SR_LINK 0x0004
#define MII_SR_AN_COMPLETE 0x0020
#define M88_SR_LINK 0x0400

#define EEPROM_WORDS 64
#define EEPROM_CHECKSUM 0xbaba
#define EEPROM_READ_OP 0x6 /* start bit and READ (10b) */

/* A packet being assembled: the largest frame, plus the VLAN tag the card inserts. */
#define TX_BUF_SIZE (NET_MAX_FRAME + 4)
/* Frames one pass over the transmit ring sends before it yields to the guest and
 * goes on from a timer: a ring of 64K descriptors, each segmented down to its MSS,
 * must not hold the vCPU for seconds. */
#define TX_BUDGET 4096
#define TX_RESUME_NS 50000
/* Smallest TCP segmentation MSS taken (Linux's TCP_MIN_MSS is 88). */
#define TSO_MIN_MSS 64

typedef struct E1000State {
    Device dev;
    char *addr;       /* property */
    char *mac_prop;   /* property */
    NetClient *nc;    /* property */
    NicBoot boot;     /* properties */
    PciDevice pci;
    Vm *vm;
    uint8_t *tx_buf;  /* TX_BUF_SIZE bytes */

    uint8_t mac[6];
    uint32_t ctrl, status, eecd, ctrl_ext, mdic, fcal, fcah, fct, vet;
    uint32_t icr, itr, ims, rctl, fcttv, txcw, rxcw, tctl, tipg, ledctl, pba, fcrtl, fcrth;
    uint32_t rdbal, rdbah, rdlen, rdh, rdt, rdtr, rxdctl, radv, rsrpd;
    uint32_t tdbal, tdbah, tdlen, tdh, tdt, tidv, txdctl, tadv;
    uint32_t rxcsum, wuc, wufc, wus, manc;
    uint32_t mta[128], ra[32], vfta[128];
    uint32_t stats[N_STATS];
    uint16_t phy[N_PHY];
    uint16_t eeprom[EEPROM_WORDS];
    uint32_t ioaddr;  /* I/O BAR's IOADDR */

    /* Microwire EEPROM shift state (§5.3.1). */
    uint8_t ee_in_bits;
    uint16_t ee_in;
    int32_t ee_out_pos; /* -1: not shifting data out */
    uint8_t ee_addr;

    /* The last context descriptor (§3.3.6). */
    uint8_t ipcss, ipcso, tucss, tucso, tucmd, hdrlen;
    uint16_t ipcse, tucse, mss;
    uint32_t paylen;
    /* The packet being assembled across data descriptors. */
    uint32_t tx_len;
    bool tx_started, tx_bad, tx_tse, tx_vle;
    uint8_t tx_popts;
    uint16_t tx_vlan;
    uint32_t tx_segs, tx_sent;    /* TSO: segments sent, payload bytes sent */
    uint8_t tx_hdr[256];          /* TSO: the header as the guest wrote it */
    uint32_t tx_frames;           /* sent in this pass over the ring (TX_BUDGET) */
    VTimer *tx_timer;             /* resumes a pass that used its budget */
} E1000State;

static void e1000_update_irq(E1000State *s)
{
    pci_set_irq(&s->pci, (s->icr & s->ims) != 0);
}

static void e1000_raise(E1000State *s, uint32_t cause)
{
    s->icr |= cause;
    e1000_update_irq(s);
}

static bool link_up(const E1000State *s)
{
    return !s->nc || net_client_link_up(s->nc);
}

/* STATUS.LU and the PHY's link and autonegotiation bits follow the back end's link. */
static void e1000_set_link_bits(E1000State *s)
{
    if (link_up(s)) {
        s->status |= STATUS_LU;
        s->phy[PHY_STATUS] |= MII_SR_LINK | MII_SR_AN_COMPLETE;
        s->phy[M88_SPEC_STATUS] |= M88_SR_LINK;
    } else {
        s->status &= ~STATUS_LU;
        s->phy[PHY_STATUS] &= ~(MII_SR_LINK | MII_SR_AN_COMPLETE);
        s->phy[M88_SPEC_STATUS] &= ~M88_SR_LINK;
    }
}

static void e1000_link_changed(void *opaque, bool up)
{
    E1000State *s = opaque;
    e1000_set_link_bits(s);
    e1000_raise(s, ICR_LSC);
}

/* ---- PHY ---- */

static void phy_reset(E1000State *s)
{
    memset(s->phy, 0, sizeof(s->phy));
    s->phy[PHY_CTRL] = 0x1140;          /* autonegotiation, full duplex, 1000 Mb/s */
    s->phy[PHY_STATUS] = 0x7949;        /* 10/100 capabilities, extended status */
    s->phy[PHY_ID1] = 0x0141;           /* Marvell OUI: the M88E1011 Linux expects */
    s->phy[PHY_ID2] = 0x0c20;
    s->phy[PHY_AUTONEG_ADV] = 0x0de1;
    s->phy[PHY_LP_ABILITY] = 0x45e1;    /* the partner offers the same, acknowledged */
    s->phy[PHY_AUTONEG_EXP] = 0x0001;
    s->phy[PHY_1000T_CTRL] = 0x0e00;
    s->phy[PHY_1000T_STATUS] = 0x3c00;  /* partner 1000BASE-T FD/HD, receivers OK */
    s->phy[PHY_EXT_STATUS] = 0x3000;
    s->phy[M88_SPEC_CTRL] = 0x0068;
    s->phy[M88_SPEC_STATUS] = 0xac00;   /* 1000 Mb/s, full duplex, resolved */
    s->phy[M88_EXT_SPEC_CTRL] = 0x0d60;
    e1000_set_link_bits(s);
}

static void phy_write(E1000State *s, unsigned reg, uint16_t v)
{
    switch (reg) {
    case PHY_STATUS: case PHY_ID1: case PHY_ID2: case PHY_LP_ABILITY: case PHY_AUTONEG_EXP:
    case PHY_1000T_STATUS: case PHY_EXT_STATUS: case M88_SPEC_STATUS:
        return; /* read-only */
    case PHY_CTRL:
        if (v & MII_CR_RESET) {
            phy_reset(s);
            return;
        }
        /* Autonegotiation completes at once with the emulated partner. */
        s->phy[PHY_CTRL] = v & ~MII_CR_RESTART_AN;
        e1000_set_link_bits(s);
        return;
    }
    s->phy[reg] = v;
}

static void mdic_write(E1000State *s, uint32_t v)
{
    unsigned phyaddr = (v >> 21) & 31, reg = (v >> 16) & 31;
    uint32_t op = v & (3u << 26);
    v &= ~(MDIC_READY | MDIC_ERROR);
    if (phyaddr != 1 || (op != MDIC_OP_READ && op != MDIC_OP_WRITE)) {
        v |= MDIC_ERROR; /* only the internal PHY at address 1 answers */
    } else if (op == MDIC_OP_READ) {
        v = (v & ~MDIC_DATA_MASK) | s->phy[reg];
    } else {
        phy_write(s, reg, (uint16_t)v);
    }
    s->mdic = v | MDIC_READY;
    if (v & MDIC_INT_EN)
        e1000_raise(s, ICR_MDAC);
}

/* ---- EEPROM (Microwire, 64 words: §5.6 lists the words) ---- */

static void eeprom_init(E1000State *s)
{
    memset(s->eeprom, 0, sizeof(s->eeprom));
    for (int i = 0; i < 3; i++)
        s->eeprom[i] = (uint16_t)(s->mac[2 * i] | s->mac[2 * i + 1] << 8);
    s->eeprom[0x04] = 0xffff;  /* LED configuration: the defaults */
    s->eeprom[0x0a] = 0x4408;  /* initialization control 1: 82540 defaults (§5.6.6) */
    s->eeprom[0x0b] = 0x1100;  /* subsystem ID */
    s->eeprom[0x0c] = 0x1af4;  /* subsystem vendor */
    s->eeprom[0x0d] = 0x100e;  /* device ID */
    s->eeprom[0x0e] = 0x8086;  /* vendor ID */
    s->eeprom[0x0f] = 0x0000;  /* initialization control 2: no flow control */
    uint16_t sum = 0;
    for (int i = 0; i < EEPROM_WORDS - 1; i++)
        sum += s->eeprom[i];
    s->eeprom[EEPROM_WORDS - 1] = (uint16_t)(EEPROM_CHECKSUM - sum);
}

/* Software drives SK, CS and DI; on each rising SK edge with CS high the EEPROM takes
 * a DI bit (start bit and opcode, then six address bits) and then shifts data out on
 * DO, most significant bit first, reading on through the following words. */
static void eecd_write(E1000State *s, uint32_t v)
{
    uint32_t old = s->eecd;
    s->eecd = (v & (EECD_SK | EECD_CS | EECD_DI | EECD_FWE_MASK | EECD_REQ)) | EECD_PRES;
    if (v & EECD_REQ)
        s->eecd |= EECD_GNT; /* no firmware competes for the EEPROM */
    if (!(s->eecd & EECD_CS)) {
        s->ee_in_bits = 0;
        s->ee_in = 0;
        s->ee_out_pos = -1;
        return;
    }
    if (!(old & EECD_SK) && (s->eecd & EECD_SK)) {
        if (s->ee_out_pos >= 0) {
            s->ee_out_pos = (s->ee_out_pos + 1) % (EEPROM_WORDS * 16);
        } else if (s->ee_in_bits < 9) {
            s->ee_in = (uint16_t)(s->ee_in << 1 | ((v & EECD_DI) ? 1 : 0));
            if (++s->ee_in_bits == 9) {
                if ((s->ee_in >> 6) == EEPROM_READ_OP) {
                    s->ee_addr = s->ee_in & 0x3f;
                    /* The next rising edge presents the first data bit. */
                    s->ee_out_pos = s->ee_addr * 16 - 1;
                    if (s->ee_out_pos < 0)
                        s->ee_out_pos = EEPROM_WORDS * 16 - 1;
                }
                /* Writes and erases are not offered: the EEPROM is read-only here. */
            }
        }
    }
}

static uint32_t eecd_read(E1000State *s)
{
    uint32_t v = s->eecd & ~EECD_DO;
    if (s->ee_out_pos >= 0 && (s->eecd & EECD_CS)) {
        unsigned word = (unsigned)s->ee_out_pos / 16, bit = 15 - (unsigned)s->ee_out_pos % 16;
        /* A position one before the first bit (pos = addr*16 - 1) shows the dummy 0. */
        if (!(s->ee_in_bits == 9 && s->ee_out_pos == s->ee_addr * 16 - 1) &&
            (s->eeprom[word] >> bit) & 1)
            v |= EECD_DO;
    }
    return v;
}

/* ---- receive ---- */

static unsigned rx_buf_size(const E1000State *s)
{
    unsigned bsize = (s->rctl >> RCTL_BSIZE_SHIFT) & 3;
    if (s->rctl & RCTL_BSEX)
        return bsize == 0 ? 2048 : 32768u >> bsize;
    return 2048u >> bsize;
}

static unsigned ring_count(uint32_t len)
{
    return (len & 0xfff80u) / 16;
}

static hwaddr rx_base(const E1000State *s)
{
    return ((hwaddr)s->rdbah << 32) | (s->rdbal & ~0xfu);
}

static hwaddr tx_base(const E1000State *s)
{
    return ((hwaddr)s->tdbah << 32) | (s->tdbal & ~0xfu);
}

/* Descriptors the card owns: from RDH up to RDT (exclusive), or none when the ring is
 * programmed inconsistently. */
static unsigned rx_free(const E1000State *s)
{
    unsigned n = ring_count(s->rdlen);
    if (!n || s->rdh >= n || s->rdt >= n)
        return 0;
    return (s->rdt + n - s->rdh) % n;
}

static bool e1000_accepts(const E1000State *s, const uint8_t *f, size_t len)
{
    if (len < ETH_HLEN)
        return false;
    /* VLAN filter (§13.4.22): with VFE, a tagged frame needs its VID's bit in VFTA. */
    if ((s->rctl & RCTL_VFE) && eth_get16(f + 12) == (s->vet & 0xffff) && len >= ETH_HLEN + 4) {
        unsigned vid = eth_get16(f + 14) & 0xfff;
        if (!(s->vfta[vid >> 5] & (1u << (vid & 31))))
            return false;
    }
    if (eth_is_broadcast(f))
        return (s->rctl & RCTL_BAM) || (s->rctl & RCTL_MPE);
    if (eth_is_multicast(f)) {
        if (s->rctl & RCTL_MPE)
            return true;
        /* Multicast table (§13.4.29): 12 bits of the address chosen by RCTL.MO. */
        static const int shift[4] = { 4, 3, 2, 0 };
        unsigned mo = (s->rctl >> RCTL_MO_SHIFT) & 3;
        unsigned idx = ((unsigned)(f[4] >> shift[mo]) | (unsigned)f[5] << (8 - shift[mo])) & 0xfff;
        return s->mta[idx >> 5] & (1u << (idx & 31));
    }
    if (s->rctl & RCTL_UPE)
        return true;
    for (int i = 0; i < 16; i++) {
        uint32_t lo = s->ra[2 * i], hi = s->ra[2 * i + 1];
        if (!(hi & RAH_AV))
            continue;
        uint8_t a[6] = { (uint8_t)lo, (uint8_t)(lo >> 8), (uint8_t)(lo >> 16), (uint8_t)(lo >> 24),
                         (uint8_t)hi, (uint8_t)(hi >> 8) };
        if (!memcmp(a, f, 6))
            return true;
    }
    return false;
}

static unsigned rx_need(const E1000State *s, size_t len)
{
    size_t total = MAX(len, (size_t)ETH_ZLEN) + ETH_FCS_LEN;
    return (unsigned)((total + rx_buf_size(s) - 1) / rx_buf_size(s));
}

/* Only a ring that will have room once the guest refills it holds frames back: with the
 * receiver off or a ring that can never hold the frame, it is dropped (receive). */
static bool e1000_can_receive(void *opaque, size_t len)
{
    E1000State *s = opaque;
    unsigned n = ring_count(s->rdlen), need = rx_need(s, len);
    if (!(s->rctl & RCTL_EN) || !pci_bus_master_enabled(&s->pci) || !n || s->rdh >= n || s->rdt >= n ||
        need >= n)
        return true;
    return rx_free(s) >= need;
}

static void stat_add64(E1000State *s, unsigned lo, uint64_t v)
{
    uint64_t c = ((uint64_t)s->stats[lo + 1] << 32 | s->stats[lo]) + v;
    s->stats[lo] = (uint32_t)c;
    s->stats[lo + 1] = (uint32_t)(c >> 32);
}

static void stat_inc(E1000State *s, unsigned i)
{
    if (s->stats[i] != UINT32_MAX)
        s->stats[i]++;
}

/* Receive checksum offload (§3.2.9, RXCSUM): an IPv4 header checksum (IPOFL) and a
 * TCP or UDP checksum over the pseudo-header (TUOFL) are verified for unfragmented
 * IPv4 frames; the result is IPCS/TCPCS in the status, IPE/TCPE in the errors. Other
 * frames get "ignore checksum indication" and the guest checks them. */
#define RXCSUM_IPOFL (1u << 8)
#define RXCSUM_TUOFL (1u << 9)
#define RXD_STA_TCPCS 0x20
#define RXD_STA_IPCS 0x40
#define RXD_ERR_TCPE 0x20
#define RXD_ERR_IPE 0x40

static void rx_checksum(const E1000State *s, const uint8_t *f, size_t len, uint8_t *status, uint8_t *errors)
{
    if (!(s->rxcsum & (RXCSUM_IPOFL | RXCSUM_TUOFL)) || len < ETH_HLEN + 20 || eth_get16(f + 12) != 0x0800)
        return;
    const uint8_t *ip = f + ETH_HLEN;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = eth_get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || ETH_HLEN + tot > len)
        return;
    *status &= (uint8_t)~RXD_STA_IXSM;
    if (s->rxcsum & RXCSUM_IPOFL) {
        *status |= RXD_STA_IPCS;
        if (eth_csum_fold(eth_csum_add(0, ip, ihl)) != 0xffff)
            *errors |= RXD_ERR_IPE;
    }
    unsigned proto = ip[9];
    bool fragment = (eth_get16(ip + 6) & 0x3fff) != 0;
    if (!(s->rxcsum & RXCSUM_TUOFL) || fragment || (proto != 6 && proto != 17))
        return;
    const uint8_t *l4 = ip + ihl;
    size_t l4len = tot - ihl;
    if (l4len < (proto == 6 ? 20u : 8u) || (proto == 17 && !eth_get16(l4 + 6)))
        return; /* a UDP checksum of 0: none was sent */
    uint32_t sum = eth_csum_add(0, ip + 12, 8); /* source and destination addresses */
    sum += proto + (uint32_t)l4len;
    sum = eth_csum_add(sum, l4, l4len);
    *status |= RXD_STA_TCPCS;
    if (eth_csum_fold(sum) != 0xffff)
        *errors |= RXD_ERR_TCPE;
}

static void e1000_receive(void *opaque, const uint8_t *frame, size_t len)
{
    E1000State *s = opaque;
    GuestMemory *m = vm_mem(s->vm);
    if (!(s->rctl & RCTL_EN) || !pci_bus_master_enabled(&s->pci) || !e1000_accepts(s, frame, len))
        return;
    if (rx_free(s) < rx_need(s, len)) {
        stat_inc(s, ST_RNBC);
        stat_inc(s, ST_MPC);
        e1000_raise(s, ICR_RXO);
        return;
    }
    /* Longer than 1518 bytes (1522 tagged) needs long packet reception (§3.2.8). */
    if (len + ETH_FCS_LEN > 1522 && !(s->rctl & RCTL_LPE)) {
        stat_inc(s, ST_ROC);
        return;
    }
    uint8_t buf[NET_MAX_FRAME + ETH_ZLEN + ETH_FCS_LEN];
    size_t n = len;
    uint16_t special = 0;
    uint8_t status = RXD_STA_IXSM, csum_errors = 0;
    memcpy(buf, frame, len);
    /* VLAN tag stripping (CTRL.VME, §3.2.6): the tag goes into the descriptor. */
    if ((s->ctrl & CTRL_VME) && n >= ETH_HLEN + 4 && eth_get16(buf + 12) == (s->vet & 0xffff)) {
        special = eth_get16(buf + 14);
        memmove(buf + 12, buf + 16, n - 16);
        n -= 4;
        status |= RXD_STA_VP;
    }
    uint8_t last_status = status;
    rx_checksum(s, buf, n, &last_status, &csum_errors);
    if (n < ETH_ZLEN) {
        memset(buf + n, 0, ETH_ZLEN - n);
        n = ETH_ZLEN;
    }
    if (!(s->rctl & RCTL_SECRC)) {
        uint32_t fcs = eth_fcs(buf, n);
        for (int i = 0; i < 4; i++)
            buf[n + i] = (uint8_t)(fcs >> (8 * i));
        n += ETH_FCS_LEN;
    }
    unsigned nd = ring_count(s->rdlen), bsize = rx_buf_size(s);
    hwaddr base = rx_base(s);
    size_t done = 0;
    bool bad = false;
    while (done < n) {
        hwaddr d = base + (hwaddr)s->rdh * 16;
        uint8_t desc[16];
        size_t chunk = MIN(n - done, (size_t)bsize);
        uint8_t errors = n - done <= bsize ? csum_errors : 0;
        if (!mem_is_ram(m, d, 16) || !mem_read(m, d, desc, 16)) {
            VLOG(LOG_GUEST, "e1000: receive descriptor at 0x%" G_GINT64_MODIFIER "x outside RAM", d);
            net_client_count_bad(s->nc);
            s->rctl &= ~RCTL_EN; /* the real card would master-abort; stop receiving */
            e1000_raise(s, ICR_RXO);
            return;
        }
        hwaddr addr = (hwaddr)(desc[4] | desc[5] << 8 | desc[6] << 16 | (uint32_t)desc[7] << 24) << 32 |
               (uint32_t)(desc[0] | desc[1] << 8 | desc[2] << 16 | (uint32_t)desc[3] << 24);
        if (!mem_is_ram(m, addr, chunk)) {
            VLOG(LOG_GUEST, "e1000: receive buffer at 0x%" G_GINT64_MODIFIER "x outside RAM", addr);
            net_client_count_bad(s->nc);
            errors = RXD_ERR_RXE;
            bad = true;
        } else {
            mem_write(m, addr, buf + done, chunk);
        }
        done += chunk;
        uint8_t wb[8] = { (uint8_t)chunk, (uint8_t)(chunk >> 8), 0, 0,
                          (uint8_t)((done == n ? last_status | RXD_STA_EOP : status) | RXD_STA_DD), errors,
                          (uint8_t)special, (uint8_t)(special >> 8) };
        mem_write(m, d + 8, wb, sizeof(wb));
        s->rdh = (s->rdh + 1) % nd;
    }
    if (!bad) {
        stat_inc(s, ST_GPRC);
        stat_add64(s, ST_GORCL, n);
        if (eth_is_broadcast(frame))
            stat_inc(s, ST_BPRC);
        else if (eth_is_multicast(frame))
            stat_inc(s, ST_MPRC);
    }
    stat_inc(s, ST_TPR);
    stat_add64(s, ST_TORL, n);
    uint32_t cause = ICR_RXT0;
    /* Minimum threshold (RCTL.RDMTS): 1/2, 1/4 or 1/8 of the ring left. */
    unsigned rdmts = (s->rctl >> RCTL_RDMTS_SHIFT) & 3;
    if (rdmts < 3 && rx_free(s) <= (nd >> (rdmts + 1)))
        cause |= ICR_RXDMT0;
    e1000_raise(s, cause);
}

/* ---- transmit ---- */

static void tx_reset_packet(E1000State *s)
{
    s->tx_len = 0;
    s->tx_started = false;
    s->tx_bad = false;
    s->tx_tse = false;
    s->tx_vle = false;
    s->tx_popts = 0;
    s->tx_segs = 0;
    s->tx_sent = 0;
}

static void tx_drop(E1000State *s, const char *why)
{
    if (!s->tx_bad) {
        VLOG(LOG_GUEST, "e1000: transmit packet dropped: %s", why);
        if (s->nc)
            net_client_count_bad(s->nc);
    }
    s->tx_bad = true;
}

static void tx_send(E1000State *s, uint8_t *buf, size_t len)
{
    /* VLAN tag insertion (§3.3.7.3): the tag follows the addresses. */
    if (s->tx_vle && (s->ctrl & CTRL_VME) && len >= 12 && len + 4 <= TX_BUF_SIZE) {
        memmove(buf + 16, buf + 12, len - 12);
        eth_put16(buf + 12, (uint16_t)s->vet);
        eth_put16(buf + 14, s->tx_vlan);
        len += 4;
    }
    if (s->nc)
        net_client_send(s->nc, buf, len);
    stat_inc(s, ST_GPTC);
    stat_inc(s, ST_TPT);
    stat_add64(s, ST_GOTCL, len);
    stat_add64(s, ST_TOTL, len);
    if (eth_is_broadcast(buf))
        stat_inc(s, ST_BPTC);
    else if (eth_is_multicast(buf))
        stat_inc(s, ST_MPTC);
}

static size_t cse_end(uint16_t cse, size_t len)
{
    return cse ? MIN((size_t)cse + 1, len) : len;
}

/* Sends tx_buf[0, tx_len) as one frame, for TSO one segment with the header fixed up
 * (§3.5.4: IP length and ID, TCP sequence number and flags, UDP length). */
static void tx_emit(E1000State *s, bool last)
{
    uint8_t *b = s->tx_buf;
    size_t len = s->tx_len;
    if (s->tx_tse) {
        size_t ip = s->ipcss, l4 = s->tucss;
        if (s->tucmd & TUCMD_IP) {
            eth_put16(b + ip + 2, (uint16_t)(len - ip));
            eth_put16(b + ip + 4, (uint16_t)(eth_get16(s->tx_hdr + ip + 4) + s->tx_segs));
        } else {
            eth_put16(b + ip + 4, (uint16_t)(len - ip - 40));
        }
        if (s->tucmd & TUCMD_TCP) {
            eth_put32(b + l4 + 4, eth_get32(s->tx_hdr + l4 + 4) + s->tx_sent);
            if (!last)
                b[l4 + 13] &= (uint8_t)~0x09; /* FIN and PSH only on the last segment */
        } else {
            eth_put16(b + l4 + 4, (uint16_t)(len - l4));
        }
        /* The guest left the pseudo-header sum without the length: add this segment's. */
        if (s->tx_popts & TXD_POPTS_TXSM)
            eth_put16(b + s->tucso, eth_csum_fold((uint32_t)eth_get16(b + s->tucso) + (uint32_t)(len - l4)));
    }
    if (s->tx_popts & TXD_POPTS_IXSM)
        eth_csum_insert(b, len, s->ipcss, cse_end(s->ipcse, len), s->ipcso);
    if (s->tx_popts & TXD_POPTS_TXSM)
        eth_csum_insert(b, len, s->tucss, cse_end(s->tucse, len), s->tucso);
    tx_send(s, b, len);
    s->tx_frames++;
    if (s->tx_tse) {
        s->tx_sent += (uint32_t)(len - s->hdrlen);
        s->tx_segs++;
        stat_inc(s, ST_TSCTC);
        /* The next segment starts from the header as the guest wrote it. */
        memcpy(b, s->tx_hdr, s->hdrlen);
        s->tx_len = s->hdrlen;
    }
}

/* A TSO context must describe a header that fits and segments a frame can hold. */
static bool tso_valid(const E1000State *s)
{
    unsigned l4_min = (s->tucmd & TUCMD_TCP) ? 20 : 8, ip_min = (s->tucmd & TUCMD_IP) ? 20 : 40;
    return s->mss >= TSO_MIN_MSS && s->hdrlen >= s->tucss + l4_min && s->tucss >= s->ipcss + ip_min &&
           s->tucso + 2u <= s->hdrlen && s->ipcso + 2u <= s->hdrlen &&
           (size_t)s->hdrlen + s->mss <= NET_MAX_FRAME;
}

/* Appends a data buffer to the packet; with TSO, sends each full segment on the way. */
static void tx_append(E1000State *s, hwaddr addr, uint32_t len)
{
    GuestMemory *m = vm_mem(s->vm);
    while (len && !s->tx_bad) {
        size_t limit = MIN(s->tx_tse ? (size_t)s->hdrlen + s->mss : NET_MAX_FRAME, (size_t)NET_MAX_FRAME);
        if (s->tx_tse && s->tx_len >= limit) {
            /* A full segment and more data: it is not the last one. */
            tx_emit(s, false);
            continue;
        }
        if (s->tx_len >= limit) {
            tx_drop(s, "frame longer than 16 KiB");
            return;
        }
        uint32_t chunk = (uint32_t)MIN((size_t)len, limit - s->tx_len);
        if (!mem_is_ram(m, addr, chunk)) {
            tx_drop(s, "buffer outside RAM");
            return;
        }
        mem_read(m, addr, s->tx_buf + s->tx_len, chunk);
        uint32_t before = s->tx_len;
        s->tx_len += chunk;
        addr += chunk;
        len -= chunk;
        if (s->tx_tse && before < s->hdrlen && s->tx_len >= s->hdrlen)
            memcpy(s->tx_hdr, s->tx_buf, s->hdrlen);
    }
}

static void tx_finish(E1000State *s)
{
    if (!s->tx_bad) {
        if (s->tx_tse) {
            if (s->tx_len < s->hdrlen)
                tx_drop(s, "segmentation packet shorter than its header");
            else if (s->tx_len > s->hdrlen || !s->tx_segs)
                tx_emit(s, true);
        } else if (s->tx_len >= ETH_HLEN) {
            tx_emit(s, true);
        } else {
            tx_drop(s, "frame shorter than an Ethernet header");
        }
    }
    tx_reset_packet(s);
}

static void tx_descriptor(E1000State *s, const uint8_t *d)
{
    uint32_t lower = (uint32_t)(d[8] | d[9] << 8 | d[10] << 16 | (uint32_t)d[11] << 24);
    uint8_t cmd = d[11];
    hwaddr addr = (hwaddr)(d[4] | d[5] << 8 | d[6] << 16 | (uint32_t)d[7] << 24) << 32 |
                  (uint32_t)(d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
    if (!(cmd & TXD_CMD_DEXT)) {
        /* Legacy descriptor (§3.3.3): length, CSO, CMD, CSS, special. */
        uint32_t len = lower & 0xffff;
        if (!s->tx_started) {
            s->tx_started = true;
            s->tx_tse = false;
            s->tx_vle = cmd & TXD_CMD_VLE;
            s->tx_vlan = (uint16_t)(d[14] | d[15] << 8);
        }
        tx_append(s, addr, len);
        if (cmd & TXD_CMD_EOP) {
            if ((cmd & TXD_CMD_IC) && !s->tx_bad)
                eth_csum_insert(s->tx_buf, s->tx_len, d[13], s->tx_len, d[10]);
            tx_finish(s);
        }
        return;
    }
    unsigned dtyp = (lower >> 20) & 0xf;
    if (dtyp == 0) {
        /* Context descriptor (§3.3.6). */
        s->ipcss = d[0];
        s->ipcso = d[1];
        s->ipcse = (uint16_t)(d[2] | d[3] << 8);
        s->tucss = d[4];
        s->tucso = d[5];
        s->tucse = (uint16_t)(d[6] | d[7] << 8);
        s->paylen = lower & 0xfffff;
        s->tucmd = cmd;
        s->hdrlen = d[13];
        s->mss = (uint16_t)(d[14] | d[15] << 8);
        return;
    }
    if (dtyp != 1) {
        tx_drop(s, "unknown descriptor type");
        if (cmd & TXD_CMD_EOP)
            tx_reset_packet(s);
        return;
    }
    /* Data descriptor (§3.3.7): POPTS and TSE come from the packet's first one. */
    if (!s->tx_started) {
        s->tx_started = true;
        s->tx_popts = d[13];
        s->tx_tse = cmd & TXD_CMD_TSE;
        s->tx_vle = cmd & TXD_CMD_VLE;
        s->tx_vlan = (uint16_t)(d[14] | d[15] << 8);
        if (s->tx_tse && !tso_valid(s))
            tx_drop(s, "TCP segmentation context out of range");
    }
    tx_append(s, addr, lower & 0xfffff);
    if (cmd & TXD_CMD_EOP)
        tx_finish(s);
}

/* Runs the transmit ring from TDH to TDT (§3.4). */
static void e1000_tx_run(E1000State *s)
{
    GuestMemory *m = vm_mem(s->vm);
    if (!(s->tctl & TCTL_EN) || !pci_bus_master_enabled(&s->pci))
        return;
    unsigned n = ring_count(s->tdlen);
    if (!n || s->tdh >= n || s->tdt >= n) {
        if (s->tdh != s->tdt)
            VLOG(LOG_GUEST, "e1000: transmit ring TDH %u TDT %u outside its %u descriptors", s->tdh, s->tdt, n);
        return;
    }
    uint32_t cause = 0;
    hwaddr base = tx_base(s);
    s->tx_frames = 0;
    vtimer_del(s->tx_timer);
    while (s->tdh != s->tdt) {
        if (s->tx_frames >= TX_BUDGET) {
            vtimer_mod(s->tx_timer, vm_clock_ns(s->vm) + TX_RESUME_NS);
            break;
        }
        hwaddr a = base + (hwaddr)s->tdh * 16;
        uint8_t d[16];
        if (!mem_is_ram(m, a, 16) || !mem_read(m, a, d, 16)) {
            VLOG(LOG_GUEST, "e1000: transmit descriptor at 0x%" G_GINT64_MODIFIER "x outside RAM", a);
            if (s->nc)
                net_client_count_bad(s->nc);
            s->tctl &= ~TCTL_EN; /* stop, as after a master abort: the driver resets */
            break;
        }
        tx_descriptor(s, d);
        /* Report status (§3.3.3.2): DD in the descriptor's status byte. */
        uint8_t cmd = d[11];
        if (cmd & TXD_CMD_RS) {
            uint8_t sta = d[12] | TXD_STA_DD;
            mem_write(m, a + 12, &sta, 1);
            cause |= ICR_TXDW;
        }
        s->tdh = (s->tdh + 1) % n;
    }
    if (s->tdh == s->tdt)
        cause |= ICR_TXQE;
    if (cause)
        e1000_raise(s, cause);
}

static void e1000_tx_resume(void *opaque)
{
    e1000_tx_run(opaque);
}

/* ---- registers ---- */

static void e1000_soft_reset(E1000State *s);

static uint32_t e1000_reg_read(E1000State *s, uint32_t off)
{
    switch (off) {
    case CTRL: return s->ctrl;
    case STATUS: return s->status;
    case EECD: return eecd_read(s);
    case EERD: return 0; /* the 82540 has no EERD: its driver bit-bangs EECD */
    case CTRL_EXT: return s->ctrl_ext;
    case MDIC: return s->mdic;
    case FCAL: return s->fcal;
    case FCAH: return s->fcah;
    case FCT: return s->fct;
    case VET: return s->vet;
    case ICR: {
        uint32_t v = s->icr;
        s->icr = 0; /* read to clear (§13.4.17) */
        e1000_update_irq(s);
        return v;
    }
    case ITR: return s->itr;
    case IMS: return s->ims;
    case RCTL: return s->rctl;
    case FCTTV: return s->fcttv;
    case TXCW: return s->txcw;
    case RXCW: return s->rxcw;
    case TCTL: return s->tctl;
    case TIPG: return s->tipg;
    case LEDCTL: return s->ledctl;
    case PBA: return s->pba;
    case FCRTL: return s->fcrtl;
    case FCRTH: return s->fcrth;
    case RDBAL: return s->rdbal;
    case RDBAH: return s->rdbah;
    case RDLEN: return s->rdlen;
    case RDH: return s->rdh;
    case RDT: return s->rdt;
    case RDTR: return s->rdtr;
    case RXDCTL: return s->rxdctl;
    case RADV: return s->radv;
    case RSRPD: return s->rsrpd;
    case TDBAL: return s->tdbal;
    case TDBAH: return s->tdbah;
    case TDLEN: return s->tdlen;
    case TDH: return s->tdh;
    case TDT: return s->tdt;
    case TIDV: return s->tidv;
    case TXDCTL: return s->txdctl;
    case TADV: return s->tadv;
    case RXCSUM: return s->rxcsum;
    case WUC: return s->wuc;
    case WUFC: return s->wufc;
    case WUS: return s->wus;
    case MANC: return s->manc;
    }
    if (off >= STATS && off < STATS_END) {
        uint32_t v = s->stats[(off - STATS) / 4];
        s->stats[(off - STATS) / 4] = 0; /* statistics clear on read (§13.7) */
        return v;
    }
    if (off >= MTA && off < MTA + 512)
        return s->mta[(off - MTA) / 4];
    if (off >= RA && off < RA + 128)
        return s->ra[(off - RA) / 4];
    if (off >= VFTA && off < VFTA + 512)
        return s->vfta[(off - VFTA) / 4];
    VLOG(LOG_UNIMP, "e1000: read of register 0x%05x", off);
    return 0;
}

static void e1000_reg_write(E1000State *s, uint32_t off, uint32_t v)
{
    switch (off) {
    case CTRL:
        if (v & CTRL_RST) {
            e1000_soft_reset(s);
            return;
        }
        if (v & CTRL_PHY_RST)
            phy_reset(s);
        s->ctrl = v & ~(CTRL_RST | CTRL_PHY_RST);
        return;
    case EECD: eecd_write(s, v); return;
    case CTRL_EXT: s->ctrl_ext = v; return;
    case MDIC: mdic_write(s, v); return;
    case FCAL: s->fcal = v; return;
    case FCAH: s->fcah = v & 0xffff; return;
    case FCT: s->fct = v & 0xffff; return;
    case VET: s->vet = v & 0xffff; return;
    case ICR: s->icr &= ~v; e1000_update_irq(s); return;
    case ITR: s->itr = v & 0xffff; return;
    case ICS: e1000_raise(s, v & ICR_ALL); return;
    case IMS:
        s->ims |= v & ICR_ALL;
        e1000_update_irq(s);
        return;
    case IMC:
        s->ims &= ~v;
        e1000_update_irq(s);
        return;
    case RCTL:
        s->rctl = v;
        if (s->nc)
            net_client_rx_ready(s->nc);
        return;
    case FCTTV: s->fcttv = v & 0xffff; return;
    case TXCW: s->txcw = v; return;
    case TCTL:
        s->tctl = v;
        e1000_tx_run(s);
        return;
    case TIPG: s->tipg = v; return;
    case LEDCTL: s->ledctl = v; return;
    case PBA: s->pba = v & 0xffff; return;
    case FCRTL: s->fcrtl = v; return;
    case FCRTH: s->fcrth = v; return;
    case RDBAL: s->rdbal = v & ~0xfu; return;
    case RDBAH: s->rdbah = v; return;
    case RDLEN: s->rdlen = v & 0xfff80u; return;
    case RDH: s->rdh = v & 0xffff; return;
    case RDT:
        s->rdt = v & 0xffff;
        if (s->nc)
            net_client_rx_ready(s->nc);
        return;
    case RDTR: s->rdtr = v & 0xffff; return;
    case RXDCTL: s->rxdctl = v; return;
    case RADV: s->radv = v & 0xffff; return;
    case RSRPD: s->rsrpd = v & 0xfff; return;
    case TDBAL: s->tdbal = v & ~0xfu; return;
    case TDBAH: s->tdbah = v; return;
    case TDLEN: s->tdlen = v & 0xfff80u; return;
    case TDH: s->tdh = v & 0xffff; return;
    case TDT:
        s->tdt = v & 0xffff;
        e1000_tx_run(s);
        return;
    case TIDV: s->tidv = v & 0xffff; return;
    case TXDCTL: s->txdctl = v; return;
    case TADV: s->tadv = v & 0xffff; return;
    case RXCSUM: s->rxcsum = v & 0x3ff; return;
    case WUC: s->wuc = v; return;
    case WUFC: s->wufc = v; return;
    case WUS: s->wus &= ~v; return;
    case MANC: s->manc = v; return;
    }
    if (off >= MTA && off < MTA + 512) {
        s->mta[(off - MTA) / 4] = v;
        return;
    }
    if (off >= RA && off < RA + 128) {
        s->ra[(off - RA) / 4] = (off & 4) ? (v & 0x800cffffu) : v;
        return;
    }
    if (off >= VFTA && off < VFTA + 512) {
        s->vfta[(off - VFTA) / 4] = v;
        return;
    }
    if (off >= STATS && off < STATS_END)
        return; /* counters are read-only */
    VLOG(LOG_UNIMP, "e1000: write 0x%08x to register 0x%05x", v, off);
}

static uint64_t e1000_mmio_read(void *opaque, hwaddr off, unsigned size)
{
    return e1000_reg_read(opaque, (uint32_t)off & ~3u);
}

static void e1000_mmio_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
    e1000_reg_write(opaque, (uint32_t)off & ~3u, (uint32_t)v);
}

static const MemOps e1000_mmio_ops = {
    .read = e1000_mmio_read,
    .write = e1000_mmio_write,
    .min_size = 4,
    .max_size = 4,
};

/* I/O BAR (§13.3): IOADDR at 0 selects a register, IODATA at 4 accesses it. */
static uint32_t e1000_io_read(void *opaque, uint32_t off, unsigned size)
{
    E1000State *s = opaque;
    if (off == 0)
        return s->ioaddr;
    if (off == 4 && s->ioaddr < E1000_MMIO_SIZE)
        return e1000_reg_read(s, s->ioaddr & ~3u);
    return 0;
}

static void e1000_io_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    E1000State *s = opaque;
    if (off == 0)
        s->ioaddr = v & 0x1fffc;
    else if (off == 4)
        e1000_reg_write(s, s->ioaddr & ~3u, v);
}

static const PortOps e1000_io_ops = {
    .read = e1000_io_read,
    .write = e1000_io_write,
    .min_size = 4,
    .max_size = 4,
};

/* ---- device ---- */

/* The register part of a reset: power on, system reset and CTRL.RST (§14.1). */
static void e1000_soft_reset(E1000State *s)
{
    s->ctrl = CTRL_SLU | (2u << 8); /* link up, 1000 Mb/s */
    s->status = STATUS_FD | STATUS_SPEED_1000 | STATUS_ASDV_1000;
    s->eecd = EECD_PRES;
    s->ctrl_ext = s->mdic = s->fcal = s->fcah = s->fct = 0;
    s->vet = 0x8100;
    s->icr = s->itr = s->ims = s->rctl = s->fcttv = s->txcw = s->rxcw = s->tctl = 0;
    s->tipg = 0;
    s->ledctl = 0x07068302;
    s->pba = 0x00000030; /* 48 KiB receive, 16 KiB transmit buffer */
    s->fcrtl = s->fcrth = 0;
    s->rdbal = s->rdbah = s->rdlen = s->rdh = s->rdt = s->rdtr = s->radv = s->rsrpd = 0;
    s->rxdctl = 0x00010000;
    s->tdbal = s->tdbah = s->tdlen = s->tdh = s->tdt = s->tidv = s->tadv = 0;
    s->txdctl = 0;
    s->rxcsum = 0x300;
    s->wuc = s->wufc = s->wus = s->manc = 0;
    memset(s->mta, 0, sizeof(s->mta));
    memset(s->vfta, 0, sizeof(s->vfta));
    memset(s->stats, 0, sizeof(s->stats));
    /* The EEPROM loads the station address into receive address 0 (§5.6.1). */
    memset(s->ra, 0, sizeof(s->ra));
    s->ra[0] = (uint32_t)(s->mac[0] | s->mac[1] << 8 | s->mac[2] << 16 | (uint32_t)s->mac[3] << 24);
    s->ra[1] = (uint32_t)(s->mac[4] | s->mac[5] << 8) | RAH_AV;
    s->ioaddr = 0;
    s->ee_in_bits = 0;
    s->ee_in = 0;
    s->ee_out_pos = -1;
    s->ee_addr = 0;
    s->ipcss = s->ipcso = s->tucss = s->tucso = s->tucmd = s->hdrlen = 0;
    s->ipcse = s->tucse = s->mss = 0;
    s->paylen = 0;
    tx_reset_packet(s);
    vtimer_del(s->tx_timer);
    phy_reset(s);
    e1000_update_irq(s);
}

static void e1000_reset(Device *dev)
{
    E1000State *s = (E1000State *)dev;
    pci_device_reset(&s->pci);
    e1000_soft_reset(s);
}

static const NetNicOps e1000_nic_ops = {
    .can_receive = e1000_can_receive,
    .receive = e1000_receive,
    .link_changed = e1000_link_changed,
};

static bool e1000_realize(Device *dev, GError **err)
{
    E1000State *s = (E1000State *)dev;
    s->vm = dev->vm;
    if (!net_nic_mac(s->mac_prop, s->mac, err) || !nic_boot_prepare(&s->boot, dev->vm, "pxe-e1000.rom", err))
        return false;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err) ||
        (s->nc && !net_client_attach(s->nc, dev->id, &e1000_nic_ops, s, err))) {
        nic_boot_discard(&s->boot);
        return false;
    }
    s->tx_buf = g_malloc0(TX_BUF_SIZE);
    s->tx_timer = vtimer_new(dev->vm, e1000_tx_resume, s);
    PciDevice *d = &s->pci;
    pci_device_init(d, bus, devfn, "e1000", 0x8086, 0x100e, 0x020000, 0x03);
    d->opaque = s;
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(d, 1);
    pci_register_bar_mmio(d, 0, E1000_MMIO_SIZE, &e1000_mmio_ops, s);
    pci_register_bar_io(d, 1, E1000_IO_SIZE, &e1000_io_ops, s);
    nic_boot_install(&s->boot, d);
    eeprom_init(s);
    return true;
}

static void e1000_unrealize(Device *dev)
{
    E1000State *s = (E1000State *)dev;
    if (s->nc)
        net_client_detach(s->nc);
    vtimer_free(s->tx_timer);
    g_free(s->tx_buf);
}

static bool e1000_check(const void *state, GError **err)
{
    const E1000State *s = state;
    if (s->tx_len > TX_BUF_SIZE || s->ee_in_bits > 9 ||
        s->ee_out_pos < -1 || s->ee_out_pos >= EEPROM_WORDS * 16 || s->ee_addr >= EEPROM_WORDS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "e1000: packet or EEPROM state out of range");
        return false;
    }
    if (s->tx_tse && ((s->tx_len < s->hdrlen && s->tx_segs) || s->mss < TSO_MIN_MSS ||
                      (size_t)s->hdrlen + s->mss > NET_MAX_FRAME || s->tx_len > (size_t)s->hdrlen + s->mss)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "e1000: segmentation state inconsistent");
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

static void e1000_post_load(void *state)
{
    E1000State *s = state;
    pci_device_post_load(&s->pci);
    /* The back end's link may differ from the saved one: the guest hears of it. */
    bool saved_up = s->status & STATUS_LU;
    e1000_set_link_bits(s);
    if (saved_up != link_up(s))
        s->icr |= ICR_LSC;
    e1000_update_irq(s);
    if (s->nc)
        net_client_rx_ready(s->nc);
}

static const VmStateField e1000_fields[] = {
    VMSTATE_STRUCT(E1000State, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U8_ARRAY(E1000State, mac, 6),
    VMSTATE_U32(E1000State, ctrl), VMSTATE_U32(E1000State, status), VMSTATE_U32(E1000State, eecd),
    VMSTATE_U32(E1000State, ctrl_ext), VMSTATE_U32(E1000State, mdic), VMSTATE_U32(E1000State, fcal),
    VMSTATE_U32(E1000State, fcah), VMSTATE_U32(E1000State, fct), VMSTATE_U32(E1000State, vet),
    VMSTATE_U32(E1000State, icr), VMSTATE_U32(E1000State, itr), VMSTATE_U32(E1000State, ims),
    VMSTATE_U32(E1000State, rctl), VMSTATE_U32(E1000State, fcttv), VMSTATE_U32(E1000State, txcw),
    VMSTATE_U32(E1000State, rxcw), VMSTATE_U32(E1000State, tctl), VMSTATE_U32(E1000State, tipg),
    VMSTATE_U32(E1000State, ledctl), VMSTATE_U32(E1000State, pba), VMSTATE_U32(E1000State, fcrtl),
    VMSTATE_U32(E1000State, fcrth), VMSTATE_U32(E1000State, rdbal), VMSTATE_U32(E1000State, rdbah),
    VMSTATE_U32_RANGE(E1000State, rdlen, 0, 0xfff80), VMSTATE_U32_RANGE(E1000State, rdh, 0, 0xffff),
    VMSTATE_U32_RANGE(E1000State, rdt, 0, 0xffff), VMSTATE_U32(E1000State, rdtr),
    VMSTATE_U32(E1000State, rxdctl), VMSTATE_U32(E1000State, radv), VMSTATE_U32(E1000State, rsrpd),
    VMSTATE_U32(E1000State, tdbal), VMSTATE_U32(E1000State, tdbah),
    VMSTATE_U32_RANGE(E1000State, tdlen, 0, 0xfff80), VMSTATE_U32_RANGE(E1000State, tdh, 0, 0xffff),
    VMSTATE_U32_RANGE(E1000State, tdt, 0, 0xffff), VMSTATE_U32(E1000State, tidv),
    VMSTATE_U32(E1000State, txdctl), VMSTATE_U32(E1000State, tadv), VMSTATE_U32(E1000State, rxcsum),
    VMSTATE_U32(E1000State, wuc), VMSTATE_U32(E1000State, wufc), VMSTATE_U32(E1000State, wus),
    VMSTATE_U32(E1000State, manc),
    VMSTATE_U32_ARRAY(E1000State, mta, 128), VMSTATE_U32_ARRAY(E1000State, ra, 32),
    VMSTATE_U32_ARRAY(E1000State, vfta, 128), VMSTATE_U32_ARRAY(E1000State, stats, N_STATS),
    VMSTATE_U16_ARRAY(E1000State, phy, N_PHY), VMSTATE_U16_ARRAY(E1000State, eeprom, EEPROM_WORDS),
    VMSTATE_U32(E1000State, ioaddr),
    VMSTATE_U8(E1000State, ee_in_bits), VMSTATE_U16(E1000State, ee_in),
    VMSTATE_I32(E1000State, ee_out_pos), VMSTATE_U8(E1000State, ee_addr),
    VMSTATE_U8(E1000State, ipcss), VMSTATE_U8(E1000State, ipcso), VMSTATE_U8(E1000State, tucss),
    VMSTATE_U8(E1000State, tucso), VMSTATE_U8(E1000State, tucmd), VMSTATE_U8(E1000State, hdrlen),
    VMSTATE_U16(E1000State, ipcse), VMSTATE_U16(E1000State, tucse), VMSTATE_U16(E1000State, mss),
    VMSTATE_U32(E1000State, paylen),
    VMSTATE_U32(E1000State, tx_len), VMSTATE_BOOL(E1000State, tx_started), VMSTATE_BOOL(E1000State, tx_bad),
    VMSTATE_BOOL(E1000State, tx_tse), VMSTATE_BOOL(E1000State, tx_vle), VMSTATE_U8(E1000State, tx_popts),
    VMSTATE_U16(E1000State, tx_vlan), VMSTATE_U32(E1000State, tx_segs), VMSTATE_U32(E1000State, tx_sent),
    VMSTATE_BUFFER(E1000State, tx_hdr),
    VMSTATE_BUFFER_PTR(E1000State, tx_buf, TX_BUF_SIZE),
    VMSTATE_TIMER(E1000State, tx_timer),
    VMSTATE_END,
};

static const VmStateDesc e1000_vmsd = {
    .name = "e1000",
    .version = 1,
    .fields = e1000_fields,
    .check = e1000_check,
    .post_load = e1000_post_load,
};

static const DeviceProp e1000_props[] = {
    PCI_DEVICE_PROP_ADDR(E1000State, addr),
    NET_NIC_PROPS(E1000State, mac_prop, nc),
    NIC_BOOT_PROPS(E1000State, boot),
    { NULL },
};

static const DeviceClass e1000_class = {
    .name = "e1000",
    .description = "Intel 82540EM Gigabit Ethernet (PCI 8086:100e)",
    .instance_size = sizeof(E1000State),
    .user_creatable = true,
    .props = e1000_props,
    .vmsd = &e1000_vmsd,
    .realize = e1000_realize,
    .reset = e1000_reset,
    .unrealize = e1000_unrealize,
};

static void __attribute__((constructor)) e1000_register(void)
{
    device_class_register(&e1000_class);
}
