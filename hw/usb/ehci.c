/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-ehci: a USB 2.0 Enhanced Host Controller in the manner of the Intel 82801DB (ICH4,
 * 8086:24cd), and ich9-usb-ehci1 (8086:293a), six high-speed root ports and no companion
 * controllers. Registers and schedules from the Enhanced Host Controller Interface
 * Specification for USB, revision 1.0 ("EHCI" below): capability and operational
 * registers (chapter 2), the periodic schedule of frame list, isochronous transfer
 * descriptors (iTDs) and queue heads (4.6, 4.7), and the asynchronous schedule, a ring of
 * queue heads (QHs) each running a chain of queue element transfer descriptors (qTDs)
 * through its overlay area (4.8, 4.10).
 *
 * Without companions a root port carries high speed only: devices with a high-speed mode
 * (usb-tablet, usb-kbd, usb-mouse, usb-storage, usb-hub) run at high speed here, and a
 * full-speed-only device is refused at attach with an error that names the UHCI bus;
 * behind a usb-hub, full and low-speed devices work, the hub's transaction translator
 * being invisible to a synchronous device model (split transactions complete at once).
 * siTDs (full-speed isochronous through a hub) follow their S-mask and C-mask: start
 * splits, then the packet in a complete split. Not modelled:
 * 64-bit addressing, asynchronous schedule park mode, the debug port.
 *
 * Time: FRINDEX counts microframes (125 us) of the virtual clock while Run/Stop is set.
 * A timer runs only while a schedule is enabled: once a millisecond, or every
 * microframe for 2 ms after the asynchronous schedule last moved data. It runs the
 * periodic schedule for each microframe that passed and then the asynchronous schedule
 * once, so a NAKed transfer stays active and is retried on a later pass instead of
 * being spun on. Every descriptor and buffer access is checked against guest
 * RAM: a failure halts the controller with Host System Error (EHCI 2.3.2, HSE), and the
 * work of a pass is bounded in links followed and bytes moved. */
#include "hw/usb/usb.h"
#include "hw/pci/pci.h"

#include <string.h>

#define EHCI_PORTS 6
#define EHCI_MMIO_SIZE 0x400
#define CAPLENGTH 0x20
#define UFRAME_NS (NS_PER_SEC / 8000)
#define TICK_UFRAMES 8
/* Passes every microframe after the asynchronous schedule last moved data. */
#define BUSY_UFRAMES 16
/* Microframes made up at once when the timer ran late; beyond that, time is skipped. */
#define MAX_CATCH_UP 64
/* Per pass: links followed in the periodic schedule of one microframe and in the
 * asynchronous ring, qTDs run from one QH visit, and bytes moved by the asynchronous
 * schedule in a millisecond (real high speed moves about 60 KB; more is allowed, as
 * nothing on the wire limits a virtual device). */
#define MAX_PERIODIC_LINKS 512
#define MAX_ASYNC_LINKS 1024
#define MAX_QTDS_PER_VISIT 32
#define ASYNC_BYTES (1024 * 1024)
/* The most a qTD moves: five 4 KiB pages (EHCI 3.5.3). */
#define QTD_MAX_BYTES 0x5000

/* Operational registers, from CAPLENGTH (EHCI 2.3). */
enum {
    REG_USBCMD = 0x00,
    REG_USBSTS = 0x04,
    REG_USBINTR = 0x08,
    REG_FRINDEX = 0x0c,
    REG_CTRLDSSEGMENT = 0x10,
    REG_PERIODICLISTBASE = 0x14,
    REG_ASYNCLISTADDR = 0x18,
    REG_CONFIGFLAG = 0x40,
    REG_PORTSC = 0x44,
};

enum {
    CMD_RS = 1u << 0,
    CMD_HCRESET = 1u << 1,
    CMD_FLS = 3u << 2,
    CMD_PSE = 1u << 4,
    CMD_ASE = 1u << 5,
    CMD_IAAD = 1u << 6,
    CMD_LHCR = 1u << 7,
    CMD_ITC = 0xffu << 16,
    STS_USBINT = 1u << 0,
    STS_ERRINT = 1u << 1,
    STS_PCD = 1u << 2,
    STS_FLR = 1u << 3,
    STS_HSE = 1u << 4,
    STS_IAA = 1u << 5,
    STS_W1C = 0x3f,
    STS_HALTED = 1u << 12,
    STS_RECLAMATION = 1u << 13,
    STS_PSS = 1u << 14,
    STS_ASS = 1u << 15,
    /* Port status and control (EHCI 2.3.9). */
    PORT_CCS = 1u << 0,
    PORT_CSC = 1u << 1,
    PORT_PE = 1u << 2,
    PORT_PEC = 1u << 3,
    PORT_OCA = 1u << 4,
    PORT_OCC = 1u << 5,
    PORT_FPR = 1u << 6,
    PORT_SUSPEND = 1u << 7,
    PORT_PR = 1u << 8,
    PORT_PP = 1u << 12,
    PORT_PO = 1u << 13,
    PORT_RW_MISC = 0x7fc000u, /* indicator, test control, wake enables: stored only */
    PORT_W1C = PORT_CSC | PORT_PEC | PORT_OCC,
};

/* Link pointers (EHCI 3.1) and qTD tokens (3.5.3). */
enum {
    LINK_T = 1u << 0,
    TYPE_ITD = 0,
    TYPE_QH = 1,
    TYPE_SITD = 2,
    TYPE_FSTN = 3,
    TOK_PING = 1u << 0,
    TOK_XACT = 1u << 3,
    TOK_BABBLE = 1u << 4,
    TOK_BUFERR = 1u << 5,
    TOK_HALTED = 1u << 6,
    TOK_ACTIVE = 1u << 7,
    TOK_IOC = 1u << 15,
    TOK_DT = 1u << 31,
    QH_H = 1u << 15,
    QH_DTC = 1u << 14,
    ITD_ACTIVE = 1u << 31,
    ITD_BUFERR = 1u << 30,
    ITD_BABBLE = 1u << 29,
    ITD_XACT = 1u << 28,
    ITD_IOC = 1u << 15,
    /* siTD transfer state (EHCI 3.4.3). */
    SITD_IOC = 1u << 31,
    SITD_ACTIVE = 1u << 7,
    SITD_ERR = 1u << 6,
    SITD_BUFERR = 1u << 5,
    SITD_BABBLE = 1u << 4,
    SITD_XACT = 1u << 3,
    SITD_MISSED = 1u << 2,
    SITD_SPLITX = 1u << 1,
};

/* PCI configuration registers (EHCI 2.1). */
enum {
    CFG_SBRN = 0x60,
    CFG_FLADJ = 0x61,
    CFG_PORTWAKECAP = 0x62,
};

typedef struct EhciModel {
    const char *name;
    uint16_t device_id;
    uint8_t revision;
} EhciModel;

typedef struct EhciState {
    Device dev;
    char *addr;                /* property: SLOT.FN on pci.0 */
    PciDevice pci;
    UsbBus *usb;
    VTimer *timer;
    /* Registers. */
    uint32_t cmd, sts, intr;
    uint32_t frindex;          /* at frindex_ns, while running */
    int64_t frindex_ns;
    uint32_t ctrldsseg, periodic_base, async_addr, configflag;
    uint32_t portsc[EHCI_PORTS];
    /* Not saved: only how soon the next pass comes (BUSY_UFRAMES). */
    unsigned busy;
} EhciState;

/* A qTD or QH overlay in host order: next, alternate next, token, five buffer pages. */
typedef struct Qtd {
    uint32_t next, alt, token, buf[5];
} Qtd;

static void update_irq(EhciState *s)
{
    pci_set_irq(&s->pci, (s->sts & s->intr & STS_W1C) != 0);
}

static bool running(const EhciState *s)
{
    return !(s->sts & STS_HALTED);
}

static bool schedules_on(const EhciState *s)
{
    return running(s) && (s->cmd & (CMD_PSE | CMD_ASE));
}

/* FRINDEX now: the stored value plus the microframes since, while running. */
static uint32_t frindex_now(EhciState *s)
{
    if (!running(s))
        return s->frindex;
    int64_t n = MAX((vm_clock_ns(s->dev.vm) - s->frindex_ns) / UFRAME_NS, INT64_C(0));
    return (uint32_t)(s->frindex + (uint64_t)n) & 0x3fff;
}

static void sync_frindex(EhciState *s)
{
    int64_t now = vm_clock_ns(s->dev.vm);
    if (running(s)) {
        int64_t n = MAX((now - s->frindex_ns) / UFRAME_NS, INT64_C(0));
        s->frindex = (uint32_t)(s->frindex + (uint64_t)n) & 0x3fff;
        s->frindex_ns += n * UFRAME_NS;
    } else {
        s->frindex_ns = now;
    }
}

static void schedule_timer(EhciState *s)
{
    if (schedules_on(s)) {
        if (!vtimer_pending(s->timer))
            vtimer_mod(s->timer, s->frindex_ns + TICK_UFRAMES * UFRAME_NS);
    } else {
        vtimer_del(s->timer);
    }
}

static void ehci_halt(EhciState *s)
{
    sync_frindex(s);
    s->cmd &= ~CMD_RS;
    s->sts |= STS_HALTED;
    s->sts &= ~(STS_PSS | STS_ASS | STS_RECLAMATION);
    vtimer_del(s->timer);
}

/* A bad address in the schedule: Host System Error, and the controller halts at once
 * (EHCI 2.3.2, HSE; 4.15.2.4). */
static void ehci_fault(EhciState *s, const char *what, uint32_t addr)
{
    VLOG(LOG_GUEST, "ehci: %s at 0x%08x: host system error, controller halted", what, addr);
    s->sts |= STS_HSE;
    ehci_halt(s);
    update_irq(s);
}

static unsigned enabled_ports(const EhciState *s)
{
    unsigned mask = 0;
    for (int i = 0; i < EHCI_PORTS; i++)
        if ((s->portsc[i] & (PORT_PE | PORT_SUSPEND | PORT_PO)) == PORT_PE)
            mask |= 1u << i;
    return mask;
}

/* ---- data buffers ---- */

/* Moves len bytes between buf and the guest pages of a qTD (page n's address in pages[n]
 * bits 31:12) or an iTD (seven pages), starting at page `page`, offset `off`. */
static bool dma_pages(EhciState *s, const uint32_t *pages, unsigned npages, unsigned page, uint32_t off,
                      uint8_t *buf, size_t len, bool write, uint32_t *bad)
{
    GuestMemory *mem = vm_mem(s->dev.vm);
    while (len) {
        if (page >= npages) {
            *bad = 0;
            return false;
        }
        uint32_t addr = (pages[page] & ~0xfffu) + off;
        size_t n = MIN(len, (size_t)(0x1000 - off));
        bool ok = write ? mem_write(mem, addr, buf, n) : mem_read(mem, addr, buf, n);
        if (!ok) {
            *bad = addr;
            return false;
        }
        buf += n;
        len -= n;
        off = 0;
        page++;
    }
    return true;
}

/* ---- queue heads and qTDs (EHCI 4.10) ---- */

typedef enum {
    QH_IDLE,      /* nothing active, halted, or a NAK: try again next pass */
    QH_PROGRESS,  /* data moved or a qTD retired */
    QH_FATAL,     /* the controller halted */
} QhResult;

typedef struct Pass {
    int budget;       /* bytes the schedule may still move in this pass */
} Pass;

static bool read_dwords(EhciState *s, uint32_t addr, uint32_t *d, unsigned n, const char *what)
{
    if (!mem_read(vm_mem(s->dev.vm), addr, d, n * 4)) {
        ehci_fault(s, what, addr);
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        d[i] = GUINT32_FROM_LE(d[i]);
    return true;
}

static bool write_dwords(EhciState *s, uint32_t addr, const uint32_t *d, unsigned n, const char *what)
{
    uint32_t le[16];
    g_assert(n <= 16);
    for (unsigned i = 0; i < n; i++)
        le[i] = GUINT32_TO_LE(d[i]);
    if (!mem_write(vm_mem(s->dev.vm), addr, le, n * 4)) {
        ehci_fault(s, what, addr);
        return false;
    }
    return true;
}

/* Loads the next qTD into an idle overlay (EHCI 4.10.2): the alternate next pointer
 * after a short packet left bytes, the next pointer otherwise. False: none active. */
static bool fetch_qtd(EhciState *s, uint32_t *qh, bool *fatal)
{
    Qtd *ov = (Qtd *)&qh[4];
    uint32_t ptr = ov->next;
    if (((ov->token >> 16) & 0x7fff) && !(ov->alt & LINK_T))
        ptr = ov->alt;
    if (ptr & LINK_T)
        return false;
    ptr &= ~0x1fu;
    uint32_t td[8];
    if (!read_dwords(s, ptr, td, 8, "qTD outside RAM")) {
        *fatal = true;
        return false;
    }
    if (!(td[2] & TOK_ACTIVE))
        return false;
    uint32_t rl = qh[1] >> 28;
    qh[3] = ptr;
    /* With DTC clear the QH keeps the data toggle across qTDs (EHCI 4.10.2). */
    uint32_t token = td[2];
    if (!(qh[1] & QH_DTC))
        token = (token & ~TOK_DT) | (ov->token & TOK_DT);
    ov->next = td[0];
    ov->alt = (td[1] & ~0x1eu) | rl << 1;
    ov->token = token & ~TOK_PING;
    for (int i = 0; i < 5; i++)
        ov->buf[i] = td[3 + i];
    /* The split-transaction bookkeeping in pages 1 and 2 starts cleared. */
    ov->buf[1] &= ~0xffu;
    ov->buf[2] &= ~0xfffu;
    return true;
}

/* Runs the overlay's transfer: the whole qTD at once from the asynchronous schedule,
 * one transaction of up to Mult packets from the periodic one. */
static QhResult run_overlay(EhciState *s, uint32_t *qh, bool periodic, Pass *pass, bool *retired)
{
    Qtd *ov = (Qtd *)&qh[4];
    uint32_t token = ov->token;
    unsigned pid = (token >> 8) & 3, total = (token >> 16) & 0x7fff, cpage = (token >> 12) & 7;
    unsigned mps = (qh[1] >> 16) & 0x7ff, mult = qh[2] >> 30;
    uint32_t off = ov->buf[0] & 0xfff;
    *retired = false;
    if (pid == 3 || total > QTD_MAX_BYTES || (pid == 2 && total != 8) || !mps) {
        /* A reserved PID, an impossible length or packet size: the qTD halts. */
        ov->token = (token & ~TOK_ACTIVE) | TOK_HALTED | TOK_BUFERR;
        s->sts |= STS_ERRINT;
        *retired = true;
        return QH_PROGRESS;
    }
    size_t len = total;
    if (periodic)
        len = MIN(len, (size_t)mps * (mult ? mult : 1));
    if (cpage * 0x1000u + off + len > 5 * 0x1000u) {
        /* More bytes than the qTD's five pages hold from where it stands. */
        ov->token = (token & ~TOK_ACTIVE) | TOK_HALTED | TOK_BUFERR;
        s->sts |= STS_ERRINT;
        *retired = true;
        return QH_PROGRESS;
    }
    uint8_t data[QTD_MAX_BYTES];
    static const uint8_t pids[] = { USB_TOKEN_OUT, USB_TOKEN_IN, USB_TOKEN_SETUP };
    UsbPacket p = { .pid = pids[pid], .addr = qh[1] & 0x7f, .ep = (qh[1] >> 8) & 0xf, .data = data,
                    .max_len = len, .len = pid == 1 ? 0 : len };
    uint32_t bad;
    if (pid != 1 && len && !dma_pages(s, ov->buf, 5, cpage, off, data, len, false, &bad)) {
        ehci_fault(s, "qTD buffer outside RAM", bad);
        return QH_FATAL;
    }
    usb_bus_deliver(s->usb, enabled_ports(s), &p);
    pass->budget -= (int)(len ? len : 1);
    token &= ~(TOK_XACT | TOK_PING);
    switch (p.result) {
    case USB_RET_SUCCESS: {
        size_t actual = pid == 1 ? MIN(p.len, len) : len;
        if (pid == 1 && actual && !dma_pages(s, ov->buf, 5, cpage, off, data, actual, true, &bad)) {
            ehci_fault(s, "qTD buffer outside RAM", bad);
            return QH_FATAL;
        }
        unsigned packets = actual ? (unsigned)((actual + mps - 1) / mps) : 1;
        if (packets & 1)
            token ^= TOK_DT;
        total -= (unsigned)actual;
        off += (uint32_t)actual;
        cpage += off >> 12;
        off &= 0xfff;
        ov->buf[0] = (ov->buf[0] & ~0xfffu) | off;
        token = (token & ~(0x7fffu << 16 | 7u << 12)) | total << 16 | (MIN(cpage, 7u) << 12);
        bool shortp = pid == 1 && actual < len;
        if (total == 0 || shortp) {
            token &= ~TOK_ACTIVE;
            *retired = true;
            /* USBINT: a retired qTD with IOC, or a short packet (EHCI 2.3.2). */
            if ((token & TOK_IOC) || shortp)
                s->sts |= STS_USBINT;
        }
        ov->token = token;
        return QH_PROGRESS;
    }
    case USB_RET_NAK:
        /* Stays active and is tried again on the next pass; the NAK counter is not
         * kept, as nothing here polls faster than once a pass (EHCI 4.9). */
        return QH_IDLE;
    case USB_RET_NODEV: {
        /* No handshake: the error counter counts down, and at zero the qTD halts; a
         * counter of zero retries for ever (EHCI 4.15.1.1). */
        unsigned cerr = (token >> 10) & 3;
        token |= TOK_XACT;
        if (cerr) {
            cerr--;
            token = (token & ~(3u << 10)) | cerr << 10;
            if (!cerr) {
                token = (token & ~TOK_ACTIVE) | TOK_HALTED;
                s->sts |= STS_ERRINT;
                *retired = true;
            }
        }
        ov->token = token;
        return *retired ? QH_PROGRESS : QH_IDLE;
    }
    case USB_RET_BABBLE:
    case USB_RET_STALL:
    default:
        ov->token = (token & ~TOK_ACTIVE) | TOK_HALTED | (p.result == USB_RET_BABBLE ? TOK_BABBLE : 0);
        s->sts |= STS_ERRINT;
        *retired = true;
        return QH_PROGRESS;
    }
}

/* One visit of a QH (already read, 12 dwords): runs its qTD chain while it moves data. */
static QhResult process_qh(EhciState *s, uint32_t addr, uint32_t *qh, bool periodic, Pass *pass)
{
    QhResult res = QH_IDLE;
    for (int n = 0; n < MAX_QTDS_PER_VISIT; n++) {
        Qtd *ov = (Qtd *)&qh[4];
        if (ov->token & TOK_HALTED)
            return res;
        if (!(ov->token & TOK_ACTIVE)) {
            bool fatal = false;
            if (!fetch_qtd(s, qh, &fatal))
                return fatal ? QH_FATAL : res;
            if (!write_dwords(s, addr + 12, &qh[3], 9, "queue head outside RAM"))
                return QH_FATAL;
        }
        bool retired;
        uint32_t before[9];
        memcpy(before, &qh[3], sizeof(before));
        QhResult r = run_overlay(s, qh, periodic, pass, &retired);
        if (r == QH_FATAL)
            return r;
        if (memcmp(before, &qh[3], sizeof(before)) &&
            !write_dwords(s, addr + 12, &qh[3], 9, "queue head outside RAM"))
            return QH_FATAL;
        if (retired && !write_dwords(s, (qh[3] & ~0x1fu) + 8, &ov->token, 1, "qTD outside RAM"))
            return QH_FATAL;
        if (r == QH_IDLE)
            return res;
        res = QH_PROGRESS;
        /* The periodic schedule runs one transaction per microframe. */
        if (periodic || pass->budget <= 0 || !retired)
            return res;
    }
    return res;
}

/* ---- the periodic schedule (EHCI 4.6, 4.7) ---- */

static bool process_itd(EhciState *s, uint32_t addr, unsigned uframe, uint32_t *link)
{
    uint32_t itd[16];
    if (!read_dwords(s, addr, itd, 16, "iTD outside RAM"))
        return false;
    *link = itd[0];
    uint32_t tr = itd[1 + uframe];
    if (!(tr & ITD_ACTIVE))
        return true;
    unsigned pg = (tr >> 12) & 7, off = tr & 0xfff, len = (tr >> 16) & 0xfff;
    unsigned mps = itd[8 + 2] & 0x7ff, mult = itd[8 + 3] & 3;
    bool in = (itd[8 + 2] >> 11) & 1;
    uint32_t pages[7];
    for (int i = 0; i < 7; i++)
        pages[i] = itd[9 + i];
    uint8_t data[3 * 1024];
    tr &= ~(ITD_ACTIVE | ITD_BUFERR | ITD_BABBLE | ITD_XACT);
    uint32_t bad = 0;
    if (len > mps * (mult ? mult : 1) || len > sizeof(data) || pg > 6) {
        tr |= ITD_BUFERR;
    } else if (!in && len && !dma_pages(s, pages, 7, pg, off, data, len, false, &bad)) {
        if (bad) {
            ehci_fault(s, "iTD buffer outside RAM", bad);
            return false;
        }
        tr |= ITD_BUFERR;
    } else {
        UsbPacket p = { .pid = in ? USB_TOKEN_IN : USB_TOKEN_OUT, .addr = itd[9] & 0x7f,
                        .ep = (itd[9] >> 8) & 0xf, .data = data, .max_len = len, .len = in ? 0 : len };
        usb_bus_deliver(s->usb, enabled_ports(s), &p);
        if (p.result != USB_RET_SUCCESS) {
            /* Isochronous has no handshake: anything else is a transaction error. */
            tr |= ITD_XACT;
        } else if (in) {
            size_t actual = MIN(p.len, (size_t)len);
            if (actual && !dma_pages(s, pages, 7, pg, off, data, actual, true, &bad)) {
                if (bad) {
                    ehci_fault(s, "iTD buffer outside RAM", bad);
                    return false;
                }
                tr |= ITD_BUFERR;
            }
            tr = (tr & ~(0xfffu << 16)) | (uint32_t)actual << 16;
        }
    }
    if (tr & (ITD_BUFERR | ITD_XACT))
        s->sts |= STS_ERRINT;
    if (tr & ITD_IOC)
        s->sts |= STS_USBINT;
    return write_dwords(s, addr + 4 + 4 * uframe, &tr, 1, "iTD outside RAM");
}

/* The packet of an siTD moves between the device and guest RAM (the translator's
 * full-speed transaction, which the device answers at once here); st is updated with the
 * status and the bytes left. False after a host system error. */
static bool sitd_transfer(EhciState *s, const uint32_t sitd[7], uint32_t *st)
{
    bool in = sitd[1] >> 31;
    unsigned len = (*st >> 16) & 0x3ff;
    uint32_t pages[2] = { sitd[4], sitd[5] };
    uint8_t data[1024];
    uint32_t bad = 0;
    if (len > 1023) {
        *st |= SITD_BUFERR;
        return true;
    }
    if (!in && len && !dma_pages(s, pages, 2, 0, sitd[4] & 0xfff, data, len, false, &bad)) {
        if (bad) {
            ehci_fault(s, "siTD buffer outside RAM", bad);
            return false;
        }
        *st |= SITD_BUFERR;
        return true;
    }
    UsbPacket p = { .pid = in ? USB_TOKEN_IN : USB_TOKEN_OUT, .addr = sitd[1] & 0x7f, .ep = (sitd[1] >> 8) & 0xf,
                    .data = data, .max_len = len, .len = in ? 0 : len };
    usb_bus_deliver(s->usb, enabled_ports(s), &p);
    size_t actual = in ? MIN(p.len, (size_t)len) : len;
    if (p.result == USB_RET_BABBLE) {
        *st |= SITD_BABBLE;
        actual = 0;
    } else if (p.result != USB_RET_SUCCESS) {
        *st |= SITD_XACT;
        actual = 0;
    } else if (in && actual && !dma_pages(s, pages, 2, 0, sitd[4] & 0xfff, data, actual, true, &bad)) {
        if (bad) {
            ehci_fault(s, "siTD buffer outside RAM", bad);
            return false;
        }
        *st |= SITD_BUFERR;
    }
    /* Total Bytes to Transfer counts down to what was not moved (3.4.3). */
    *st = (*st & ~(0x3ffu << 16)) | (uint32_t)(len - actual) << 16;
    return true;
}

/* A split-transaction isochronous TD (siTD, EHCI 3.4): a full-speed isochronous packet
 * through a hub's transaction translator, scheduled by its masks (4.12.3). OUT: a start
 * split in each microframe of the S-mask, T-count counting them down (TP Begin, Mid,
 * End); the translator has the whole packet after the last, so it moves to the device
 * there and the siTD retires. IN: the start split in the S-mask's microframe sets the
 * split state to "do complete split"; the packet comes back in the first complete split
 * of the C-mask after it (its C-prog-mask bit set) and the siTD retires; with no
 * complete split left in the frame it retires with Missed Micro-Frame. The translator
 * being invisible here, the device answers the whole packet in that one complete split
 * (a real one may need several, 188 bytes each). */
static bool process_sitd(EhciState *s, uint32_t addr, unsigned uframe, uint32_t *link)
{
    uint32_t sitd[7];
    if (!read_dwords(s, addr, sitd, 7, "siTD outside RAM"))
        return false;
    *link = sitd[0];
    uint32_t st = sitd[3];
    if (!(st & SITD_ACTIVE))
        return true;
    bool in = sitd[1] >> 31;
    unsigned smask = sitd[2] & 0xff, cmask = (sitd[2] >> 8) & 0xff;
    bool done = false;
    if (in && (st & SITD_SPLITX)) {
        if ((cmask >> uframe) & 1) {
            st &= ~(SITD_ERR | SITD_BUFERR | SITD_BABBLE | SITD_XACT | SITD_MISSED | SITD_SPLITX);
            st |= 1u << (8 + uframe); /* C-prog-mask */
            if (!sitd_transfer(s, sitd, &st))
                return false;
            done = true;
        } else if (!(cmask >> uframe)) {
            st = (st & ~SITD_SPLITX) | SITD_MISSED;
            done = true;
        } else {
            return true;
        }
    } else if (!((smask >> uframe) & 1)) {
        return true;
    } else if (in) {
        /* The start split; complete splits follow in the C-mask's microframes. */
        st = (st & ~(0xffu << 8)) | SITD_SPLITX;
        if (!(cmask >> (uframe + 1))) {
            st = (st & ~SITD_SPLITX) | SITD_MISSED;
            done = true;
        }
    } else {
        unsigned tcount = sitd[5] & 7;
        if (tcount > 1) {
            /* One more start split of the packet: T-count down, the position after it. */
            tcount--;
            uint32_t tp = tcount == 1 ? 3u : 2u; /* End, Mid */
            uint32_t d5 = (sitd[5] & ~0x1fu) | tp << 3 | tcount;
            return write_dwords(s, addr + 20, &d5, 1, "siTD outside RAM");
        }
        st &= ~(SITD_ERR | SITD_BUFERR | SITD_BABBLE | SITD_XACT | SITD_MISSED | SITD_SPLITX);
        if (!sitd_transfer(s, sitd, &st))
            return false;
        uint32_t d5 = sitd[5] & ~7u;
        if (!write_dwords(s, addr + 20, &d5, 1, "siTD outside RAM"))
            return false;
        done = true;
    }
    if (done) {
        st &= ~SITD_ACTIVE;
        if (st & (SITD_BUFERR | SITD_XACT | SITD_BABBLE | SITD_MISSED))
            s->sts |= STS_ERRINT;
        if (st & SITD_IOC)
            s->sts |= STS_USBINT;
    }
    return write_dwords(s, addr + 12, &st, 1, "siTD outside RAM");
}

static void run_periodic(EhciState *s, uint32_t frindex)
{
    static const unsigned sizes[] = { 1024, 512, 256, 1024 };
    unsigned size = sizes[(s->cmd & CMD_FLS) >> 2];
    uint32_t entry_addr = (s->periodic_base & ~0xfffu) + ((frindex >> 3) & (size - 1)) * 4;
    uint32_t link;
    if (!read_dwords(s, entry_addr, &link, 1, "frame list outside RAM"))
        return;
    unsigned uframe = frindex & 7;
    Pass pass = { .budget = ASYNC_BYTES };
    for (unsigned n = 0; !(link & LINK_T) && n < MAX_PERIODIC_LINKS; n++) {
        uint32_t addr = link & ~0x1fu;
        switch ((link >> 1) & 3) {
        case TYPE_ITD:
            if (!process_itd(s, addr, uframe, &link))
                return;
            break;
        case TYPE_QH: {
            uint32_t qh[12];
            if (!read_dwords(s, addr, qh, 12, "queue head outside RAM"))
                return;
            link = qh[0];
            /* Interrupt QHs run in the microframes of their S-mask (EHCI 4.12.2). */
            if (((qh[2] >> uframe) & 1) && process_qh(s, addr, qh, true, &pass) == QH_FATAL)
                return;
            break;
        }
        case TYPE_SITD:
            if (!process_sitd(s, addr, uframe, &link))
                return;
            break;
        case TYPE_FSTN:
        default:
            /* An FSTN's normal path link goes on (3.7). */
            if (!read_dwords(s, addr, &link, 1, "periodic descriptor outside RAM"))
                return;
            break;
        }
    }
}

/* ---- the asynchronous schedule (EHCI 4.8) ---- */

/* Returns whether anything moved. */
static bool run_async(EhciState *s)
{
    Pass pass = { .budget = ASYNC_BYTES };
    uint32_t start = s->async_addr & ~0x1fu, addr = start;
    bool progress = true, seen_h = false, moved = false;
    s->sts |= STS_RECLAMATION;
    for (unsigned n = 0; n < MAX_ASYNC_LINKS && pass.budget > 0; n++) {
        uint32_t qh[12];
        if (!read_dwords(s, addr, qh, 12, "queue head outside RAM"))
            return false;
        /* The head of the reclamation list seen again with nothing done since: the
         * ring is idle (EHCI 4.8.3). A ring without an H bit ends the same way when
         * the walk comes back to where it started. */
        bool marker = (qh[1] & QH_H) || (addr == start && !seen_h);
        seen_h |= (qh[1] & QH_H) != 0;
        if (marker && n) {
            if (!progress)
                break;
        }
        if (marker)
            progress = false;
        QhResult r = process_qh(s, addr, qh, false, &pass);
        if (r == QH_FATAL)
            return false;
        if (r == QH_PROGRESS)
            progress = moved = true;
        if ((qh[0] & LINK_T) || ((qh[0] >> 1) & 3) != TYPE_QH) {
            /* Only QHs belong in the ring (EHCI 4.8.1); anything else ends the pass. */
            VLOG(LOG_GUEST, "ehci: asynchronous link 0x%08x from QH 0x%08x is not a QH", qh[0], addr);
            break;
        }
        addr = qh[0] & ~0x1fu;
    }
    s->sts &= ~STS_RECLAMATION;
    return moved;
}

/* ---- time ---- */

static void ehci_tick(void *opaque)
{
    EhciState *s = opaque;
    if (!schedules_on(s))
        return;
    int64_t now = vm_clock_ns(s->dev.vm);
    int64_t due = MAX((now - s->frindex_ns) / UFRAME_NS, INT64_C(0));
    static const unsigned sizes[] = { 1024, 512, 256, 1024 };
    uint32_t wrap = sizes[(s->cmd & CMD_FLS) >> 2] * 8 - 1;
    for (int64_t i = 0; i < due; i++) {
        if (i < MAX_CATCH_UP && (s->cmd & CMD_PSE) && pci_bus_master_enabled(&s->pci))
            run_periodic(s, s->frindex);
        if (!running(s))
            return;
        if (i >= MAX_CATCH_UP) {
            /* Too far behind: the counter still tells the guest how much time passed. */
            s->frindex = (uint32_t)(s->frindex + (uint64_t)(due - i)) & 0x3fff;
            s->frindex_ns += (due - i) * UFRAME_NS;
            break;
        }
        s->frindex = (s->frindex + 1) & 0x3fff;
        s->frindex_ns += UFRAME_NS;
        if (!(s->frindex & wrap))
            s->sts |= STS_FLR;
    }
    /* While the asynchronous schedule moves data the passes come every microframe, so
     * a driver's next request (a bulk-only status stage after its data) waits 125 us,
     * not a millisecond; idle, once a millisecond. */
    if ((s->cmd & CMD_ASE) && pci_bus_master_enabled(&s->pci) && run_async(s))
        s->busy = BUSY_UFRAMES;
    else if (s->busy)
        s->busy--;
    if (!running(s))
        return;
    /* The doorbell: the pass that just ended holds no pointer into the old ring. */
    if (s->cmd & CMD_IAAD) {
        s->cmd &= ~CMD_IAAD;
        s->sts |= STS_IAA;
    }
    update_irq(s);
    vtimer_mod(s->timer, s->frindex_ns + (s->busy ? 1 : TICK_UFRAMES) * UFRAME_NS);
}

/* ---- ports (EHCI 2.3.9, 4.2) ---- */

static uint32_t port_connected_bits(EhciState *s, int i)
{
    return usb_bus_port_device(s->usb, i) ? PORT_CCS : 0;
}

static void port_attach(void *opaque, int port, UsbSpeed speed)
{
    EhciState *s = opaque;
    (void)speed;
    uint32_t p = s->portsc[port];
    if (p & PORT_PE)
        p |= PORT_PEC;
    s->portsc[port] = (p & ~(PORT_PE | PORT_SUSPEND | PORT_FPR)) | port_connected_bits(s, port) | PORT_CSC;
    s->sts |= STS_PCD;
    update_irq(s);
}

/* Remote wakeup from a device on a suspended port: resume signalling is reported as a
 * port change (EHCI 4.3.1). */
static void port_wakeup(void *opaque, int port)
{
    EhciState *s = opaque;
    if (!(s->portsc[port] & PORT_SUSPEND))
        return;
    s->portsc[port] |= PORT_FPR;
    s->sts |= STS_PCD;
    update_irq(s);
}

static const UsbPortOps ehci_port_ops = { .attach = port_attach, .wakeup = port_wakeup };

static void port_write(EhciState *s, int i, uint32_t v)
{
    uint32_t old = s->portsc[i];
    uint32_t p = old & ~(v & PORT_W1C);
    /* Software may disable a port, never enable it: the reset does (EHCI 2.3.9). */
    if (!(v & PORT_PE))
        p &= ~PORT_PE;
    p = (p & ~(PORT_RW_MISC | PORT_PO)) | (v & (PORT_RW_MISC | PORT_PO));
    if ((v & PORT_SUSPEND) && (p & PORT_PE))
        p |= PORT_SUSPEND;
    if ((v & PORT_FPR) && (p & PORT_SUSPEND))
        p |= PORT_FPR;
    if (!(v & PORT_FPR) && (old & PORT_FPR))
        p &= ~(PORT_FPR | PORT_SUSPEND); /* resume signalling ends */
    if ((v & PORT_PR) && !(old & PORT_PR)) {
        /* Reset signalling: the port disables and the device returns to its default
         * state; software ends it by writing 0 (EHCI 4.2.2). */
        p |= PORT_PR;
        p &= ~(PORT_PE | PORT_SUSPEND | PORT_FPR);
        usb_bus_port_reset(s->usb, i);
    } else if (!(v & PORT_PR) && (old & PORT_PR)) {
        /* The reset ends: a high-speed device finds the port enabled. */
        p &= ~PORT_PR;
        UsbDevice *d = usb_bus_port_device(s->usb, i);
        if (d && d->speed == USB_SPEED_HIGH)
            p |= PORT_PE;
    }
    if (!(p & PORT_CCS))
        p &= ~(PORT_PE | PORT_SUSPEND | PORT_FPR);
    s->portsc[i] = p;
}

/* ---- registers ---- */

static void ehci_reset_regs(EhciState *s)
{
    vtimer_del(s->timer);
    s->cmd = 0x00080000; /* ITC 8 microframes (EHCI 2.3.1) */
    s->sts = STS_HALTED;
    s->intr = 0;
    s->frindex = 0;
    s->frindex_ns = vm_clock_ns(s->dev.vm);
    s->ctrldsseg = 0;
    s->periodic_base = 0;
    s->async_addr = 0;
    s->configflag = 0;
    /* Until CONFIGFLAG is set the ports belong to the (absent) companions. */
    for (int i = 0; i < EHCI_PORTS; i++) {
        s->portsc[i] = PORT_PP | PORT_PO | port_connected_bits(s, i);
        if (s->portsc[i] & PORT_CCS)
            s->portsc[i] |= PORT_CSC;
    }
}

static void cmd_write(EhciState *s, uint32_t v)
{
    uint32_t old = s->cmd;
    if (v & CMD_HCRESET) {
        /* Host controller reset (EHCI 2.3.1): registers to their defaults, done at once. */
        for (int i = 0; i < EHCI_PORTS; i++)
            if (s->portsc[i] & PORT_PE)
                usb_bus_port_reset(s->usb, i);
        ehci_reset_regs(s);
        update_irq(s);
        return;
    }
    /* FLS is read-only while running (EHCI 2.3.1). */
    if (running(s))
        v = (v & ~CMD_FLS) | (old & CMD_FLS);
    s->cmd = v & (CMD_RS | CMD_FLS | CMD_PSE | CMD_ASE | CMD_IAAD | CMD_ITC);
    if ((v & CMD_RS) && !running(s)) {
        s->sts &= ~STS_HALTED;
        s->frindex_ns = vm_clock_ns(s->dev.vm);
    } else if (!(v & CMD_RS) && running(s)) {
        ehci_halt(s);
    }
    s->sts = (s->sts & ~(STS_PSS | STS_ASS)) | (running(s) && (s->cmd & CMD_PSE) ? STS_PSS : 0) |
             (running(s) && (s->cmd & CMD_ASE) ? STS_ASS : 0);
    /* The doorbell with no asynchronous pass to wait for answers at once. */
    if ((s->cmd & CMD_IAAD) && !(running(s) && (s->cmd & CMD_ASE))) {
        s->cmd &= ~CMD_IAAD;
        s->sts |= STS_IAA;
    }
    schedule_timer(s);
    update_irq(s);
}

static uint32_t cap_read(EhciState *s, uint32_t off)
{
    (void)s;
    switch (off) {
    case 0x00:
        return CAPLENGTH | 0x0100u << 16;     /* CAPLENGTH, HCIVERSION 1.00 */
    case 0x04:
        return EHCI_PORTS;                    /* HCSPARAMS: no port power control, no companions */
    case 0x08:
        return 1u << 1 | 1u << 4;             /* HCCPARAMS: programmable frame list, IST 1 */
    default:
        return 0;
    }
}

static uint32_t op_read(EhciState *s, uint32_t off)
{
    switch (off) {
    case REG_USBCMD: return s->cmd;
    case REG_USBSTS: return s->sts;
    case REG_USBINTR: return s->intr;
    case REG_FRINDEX: return frindex_now(s);
    case REG_CTRLDSSEGMENT: return s->ctrldsseg;
    case REG_PERIODICLISTBASE: return s->periodic_base;
    case REG_ASYNCLISTADDR: return s->async_addr;
    case REG_CONFIGFLAG: return s->configflag;
    default:
        if (off >= REG_PORTSC && off < REG_PORTSC + 4 * EHCI_PORTS)
            return s->portsc[(off - REG_PORTSC) / 4];
        return 0;
    }
}

static void op_write(EhciState *s, uint32_t off, uint32_t v)
{
    switch (off) {
    case REG_USBCMD:
        cmd_write(s, v);
        break;
    case REG_USBSTS:
        s->sts &= ~(v & STS_W1C);
        update_irq(s);
        break;
    case REG_USBINTR:
        s->intr = v & 0x3f;
        update_irq(s);
        break;
    case REG_FRINDEX:
        /* Writable only while halted (EHCI 2.3.4). */
        if (!running(s))
            s->frindex = v & 0x3fff;
        break;
    case REG_CTRLDSSEGMENT:
        /* 32-bit addressing only (HCCPARAMS bit 0 clear): the segment stays 0. */
        break;
    case REG_PERIODICLISTBASE:
        s->periodic_base = v & ~0xfffu;
        break;
    case REG_ASYNCLISTADDR:
        s->async_addr = v & ~0x1fu;
        break;
    case REG_CONFIGFLAG: {
        uint32_t cf = v & 1;
        if (cf != s->configflag) {
            /* Port routing: 1 gives every port to this controller (EHCI 4.2). */
            for (int i = 0; i < EHCI_PORTS; i++)
                s->portsc[i] = cf ? s->portsc[i] & ~PORT_PO : (s->portsc[i] | PORT_PO) & ~PORT_PE;
        }
        s->configflag = cf;
        break;
    }
    default:
        if (off >= REG_PORTSC && off < REG_PORTSC + 4 * EHCI_PORTS)
            port_write(s, (int)(off - REG_PORTSC) / 4, v);
        break;
    }
}

static uint64_t ehci_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    EhciState *s = opaque;
    uint32_t off = (uint32_t)addr & ~3u;
    uint32_t v = off < CAPLENGTH ? cap_read(s, off) : op_read(s, off - CAPLENGTH);
    v >>= 8 * (addr & 3);
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void ehci_mmio_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    EhciState *s = opaque;
    uint32_t off = (uint32_t)addr & ~3u;
    if (off < CAPLENGTH)
        return; /* capability registers are read-only */
    off -= CAPLENGTH;
    uint32_t v = (uint32_t)value;
    if (size < 4) {
        /* A narrow write merges into the register; write-one-to-clear bits of the other
         * bytes must not be written back as ones. */
        unsigned shift = 8 * (addr & 3);
        uint32_t mask = ((1u << (8 * size)) - 1) << shift;
        uint32_t cur = op_read(s, off);
        if (off == REG_USBSTS)
            cur &= ~STS_W1C;
        if (off >= REG_PORTSC)
            cur &= ~PORT_W1C;
        v = (cur & ~mask) | ((v << shift) & mask);
    }
    op_write(s, off, v);
}

static const MemOps ehci_mmio_ops = {
    .read = ehci_mmio_read, .write = ehci_mmio_write, .min_size = 1, .max_size = 4,
};

/* ---- the device object ---- */

static void ehci_reset(Device *dev)
{
    EhciState *s = (EhciState *)dev;
    pci_device_reset(&s->pci);
    ehci_reset_regs(s);
    update_irq(s);
}

static bool ehci_realize_model(Device *dev, const EhciModel *m, GError **err)
{
    EhciState *s = (EhciState *)dev;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err))
        return false;
    PciDevice *d = &s->pci;
    pci_device_init(d, bus, devfn, m->name, 0x8086, m->device_id, 0x0c0320, m->revision);
    d->opaque = s;
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(d, 1);
    d->config[CFG_SBRN] = 0x20; /* USB 2.0 */
    d->config[CFG_FLADJ] = 0x20;
    d->wmask[CFG_FLADJ] = 0x3f;
    pci_set_word(d->config, CFG_PORTWAKECAP, 0x007f);
    pci_register_bar_mmio(d, 0, EHCI_MMIO_SIZE, &ehci_mmio_ops, s);
    s->timer = vtimer_new(dev->vm, ehci_tick, s);
    g_autofree char *name = usb_bus_next_name(dev->vm);
    s->usb = usb_bus_new(dev->vm, name, EHCI_PORTS, &ehci_port_ops, s);
    usb_bus_set_speeds(s->usb, 1u << USB_SPEED_HIGH);
    /* QEMU's name for the bus as well, ID.0, for a controller with an id of its own
     * (automatic ids carry a dot). */
    if (dev->id && !strchr(dev->id, '.')) {
        g_autofree char *alias = g_strdup_printf("%s.0", dev->id);
        if (!vm_find_bus(dev->vm, alias))
            vm_add_bus(dev->vm, alias, s->usb);
    }
    return true;
}

static const EhciModel ich4_model = { "usb-ehci", 0x24cd, 0x10 };
static const EhciModel ich9_model = { "ich9-usb-ehci1", 0x293a, 0x03 };

static bool ich4_realize(Device *dev, GError **err) { return ehci_realize_model(dev, &ich4_model, err); }
static bool ich9_realize(Device *dev, GError **err) { return ehci_realize_model(dev, &ich9_model, err); }

static void ehci_unrealize(Device *dev)
{
    EhciState *s = (EhciState *)dev;
    vtimer_free(s->timer);
    usb_bus_free(s->usb);
}

static bool ehci_check(const void *state, GError **err)
{
    const EhciState *s = state;
    if (s->cmd & ~(uint32_t)(CMD_RS | CMD_FLS | CMD_PSE | CMD_ASE | CMD_IAAD | CMD_ITC) ||
        s->sts & ~(uint32_t)(STS_W1C | STS_HALTED | STS_RECLAMATION | STS_PSS | STS_ASS) ||
        s->intr & ~0x3fu || s->frindex & ~0x3fffu || s->periodic_base & 0xfffu || s->async_addr & 0x1fu ||
        s->configflag > 1 || s->ctrldsseg) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "EHCI registers with reserved bits: cmd 0x%x sts 0x%x intr 0x%x frindex 0x%x", s->cmd,
                    s->sts, s->intr, s->frindex);
        return false;
    }
    if (!(s->cmd & CMD_RS) != !!(s->sts & STS_HALTED)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "EHCI: Run/Stop 0x%x disagrees with HCHalted 0x%x",
                    s->cmd, s->sts);
        return false;
    }
    for (int i = 0; i < EHCI_PORTS; i++) {
        bool attached = usb_bus_port_device(s->usb, i) != NULL;
        if (s->portsc[i] & ~(uint32_t)(0x1ff | PORT_PP | PORT_PO | PORT_RW_MISC) ||
            !!(s->portsc[i] & PORT_CCS) != attached) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "EHCI port %d: status 0x%08x does not match this VM (device %s)", i + 1, s->portsc[i],
                        attached ? "attached" : "absent");
            return false;
        }
    }
    return pci_device_state_check(&s->pci, err);
}

static void ehci_post_load(void *state)
{
    EhciState *s = state;
    pci_device_post_load(&s->pci);
    /* A stream from a clock ahead of this one: FRINDEX counts on from now. */
    int64_t now = vm_clock_ns(s->dev.vm);
    if (s->frindex_ns > now) {
        s->frindex_ns = now;
        if (schedules_on(s))
            vtimer_mod(s->timer, now + TICK_UFRAMES * UFRAME_NS);
    }
    update_irq(s);
}

static const VmStateField ehci_fields[] = {
    VMSTATE_STRUCT(EhciState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U32(EhciState, cmd),
    VMSTATE_U32(EhciState, sts),
    VMSTATE_U32(EhciState, intr),
    VMSTATE_U32(EhciState, frindex),
    VMSTATE_I64(EhciState, frindex_ns),
    VMSTATE_U32(EhciState, ctrldsseg),
    VMSTATE_U32(EhciState, periodic_base),
    VMSTATE_U32(EhciState, async_addr),
    VMSTATE_U32(EhciState, configflag),
    VMSTATE_U32_ARRAY(EhciState, portsc, EHCI_PORTS),
    VMSTATE_TIMER(EhciState, timer),
    VMSTATE_END,
};

static const VmStateDesc ehci_vmsd = {
    .name = "usb-ehci",
    .version = 1,
    .fields = ehci_fields,
    .check = ehci_check,
    .post_load = ehci_post_load,
};

static const DeviceProp ehci_props[] = {
    PCI_DEVICE_PROP_ADDR(EhciState, addr),
    { NULL },
};

static const DeviceClass ehci_classes[] = {
    { .name = "usb-ehci", .description = "USB 2.0 EHCI controller (ICH4 8086:24cd, six high-speed ports)",
      .instance_size = sizeof(EhciState), .user_creatable = true, .props = ehci_props, .vmsd = &ehci_vmsd,
      .realize = ich4_realize, .reset = ehci_reset, .unrealize = ehci_unrealize },
    { .name = "ich9-usb-ehci1", .description = "USB 2.0 EHCI controller (ICH9 8086:293a, six high-speed ports)",
      .instance_size = sizeof(EhciState), .user_creatable = true, .props = ehci_props, .vmsd = &ehci_vmsd,
      .realize = ich9_realize, .reset = ehci_reset, .unrealize = ehci_unrealize },
};

__attribute__((constructor)) static void ehci_register(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(ehci_classes); i++)
        device_class_register(&ehci_classes[i]);
}
