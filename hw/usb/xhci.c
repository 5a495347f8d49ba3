/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The xHCI USB host controller as QEMU offers it: qemu-xhci (1b36:000d) and
 * nec-usb-xhci (1033:0194), the same model behind two sets of IDs. Registers from the
 * eXtensible Host Controller Interface for USB specification, revision 1.2 ("xHCI"):
 * capability (5.3), operational (5.4), runtime (5.5) and doorbell (5.6) registers, two
 * Supported Protocol capabilities (7.2) naming p2 USB 2 ports then p3 USB 3 ports, one
 * interrupter with its event ring, MFINDEX on the virtual clock; its interrupt is INTx
 * on the PCI pin, or a message (MSI, MSI-X with the table in BAR 0 as QEMU places it)
 * once the driver enables one. Rings, slots and transfers are in xhci-ring.c.
 *
 * The USB 2 ports form this controller's USB bus (low, full and high-speed devices
 * attach there directly, no companion controller); the USB 3 ports exist for the
 * guest's driver but nothing can be attached to them yet, as no super-speed device
 * exists here. */
#include "hw/usb/xhci-internal.h"

#include <string.h>

#define MMIO_SIZE 0x4000
#define OFF_OPER 0x40     /* CAPLENGTH */
#define OFF_PORTS (OFF_OPER + 0x400)
#define OFF_RUNTIME 0x1000
#define OFF_DOORBELL 0x2000
#define OFF_XECP 0x20     /* the extended capabilities, inside the capability block */
#define OFF_MSIX_TABLE 0x3000 /* past the doorbells, where QEMU puts them */
#define OFF_MSIX_PBA 0x3800
#define MSI_CAP_POS 0x70
#define MSIX_CAP_POS 0x90
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_64BIT 0x0080
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 1
#define MICROFRAME_NS 125000
#define IMOD_UNIT_NS 250

enum {
    CMD_RS = 1u << 0,
    CMD_HCRST = 1u << 1,
    CMD_INTE = 1u << 2,
    CMD_HSEE = 1u << 3,
    CMD_LHCRST = 1u << 7,
    CMD_CSS = 1u << 8,
    CMD_CRS = 1u << 9,
    CMD_EWE = 1u << 10,
    CMD_RW = CMD_RS | CMD_INTE | CMD_HSEE | CMD_EWE,
    STS_HCH = 1u << 0,
    STS_HSE = 1u << 2,
    STS_EINT = 1u << 3,
    STS_PCD = 1u << 4,
    STS_SRE = 1u << 10,
    STS_W1C = STS_HSE | STS_EINT | STS_PCD | STS_SRE,
    CRCR_RCS = 1u << 0,
    CRCR_CS = 1u << 1,
    CRCR_CA = 1u << 2,
    CRCR_CRR = 1u << 3,
    IMAN_IP = 1u << 0,
    IMAN_IE = 1u << 1,
    ERDP_EHB = 1u << 3,
};

/* PORTSC (xHCI 5.4.8). */
enum {
    PORT_CCS = 1u << 0,
    PORT_PED = 1u << 1,
    PORT_OCA = 1u << 3,
    PORT_PR = 1u << 4,
    PORT_PLS_SHIFT = 5,
    PORT_PLS = 0xfu << 5,
    PORT_PP = 1u << 9,
    PORT_SPEED_SHIFT = 10,
    PORT_SPEED = 0xfu << 10,
    PORT_LWS = 1u << 16,
    PORT_CSC = 1u << 17,
    PORT_PEC = 1u << 18,
    PORT_WRC = 1u << 19,
    PORT_OCC = 1u << 20,
    PORT_PRC = 1u << 21,
    PORT_PLC = 1u << 22,
    PORT_CEC = 1u << 23,
    PORT_WCE = 1u << 25,
    PORT_WDE = 1u << 26,
    PORT_WOE = 1u << 27,
    PORT_WPR = 1u << 31,
    PORT_CHANGES = PORT_CSC | PORT_PEC | PORT_WRC | PORT_OCC | PORT_PRC | PORT_PLC | PORT_CEC,
    PORT_WAKE = PORT_WCE | PORT_WDE | PORT_WOE,
};

/* Port link states (xHCI table 5-27). */
enum { PLS_U0 = 0, PLS_U3 = 3, PLS_DISABLED = 4, PLS_RXDETECT = 5, PLS_POLLING = 7, PLS_RESUME = 15 };

/* ---- helpers for xhci-ring.c ---- */

static GuestMemory *xhci_mem(XhciState *s)
{
    return vm_mem(s->dev.vm);
}

bool xhci_dma_read(XhciState *s, uint64_t addr, void *buf, size_t len)
{
    if (!pci_bus_master_enabled(&s->pci) || addr >= (UINT64_C(1) << MEM_PHYS_BITS))
        return false;
    return mem_read(xhci_mem(s), addr, buf, len);
}

bool xhci_dma_write(XhciState *s, uint64_t addr, const void *buf, size_t len)
{
    if (!pci_bus_master_enabled(&s->pci) || addr >= (UINT64_C(1) << MEM_PHYS_BITS))
        return false;
    return mem_write(xhci_mem(s), addr, buf, len);
}

bool xhci_running(const XhciState *s)
{
    return !(s->usbsts & STS_HCH);
}

int64_t xhci_now(const XhciState *s)
{
    return vm_clock_ns(s->dev.vm);
}

bool xhci_port_enabled(const XhciState *s, int port)
{
    return port >= 0 && port < (int)s->p2 && (s->portsc[port] & (PORT_CCS | PORT_PED)) == (PORT_CCS | PORT_PED) &&
           ((s->portsc[port] & PORT_PLS) >> PORT_PLS_SHIFT) == PLS_U0;
}

/* ---- MSI and MSI-X (PCI 3.0, 6.8.1 and 6.8.2) ---- */

static uint16_t msi_control(const XhciState *s)
{
    return s->msi_cap ? pci_get_word(s->pci.config, s->msi_cap + 2) : 0;
}

static uint16_t msix_control(const XhciState *s)
{
    return s->msix_cap ? pci_get_word(s->pci.config, s->msix_cap + 2) : 0;
}

static bool msix_enabled(const XhciState *s)
{
    return msix_control(s) & MSIX_CTRL_ENABLE;
}

/* Either kind of message is on: INTx stays low (6.8.1.3, 6.8.2.3). */
static bool messages_enabled(const XhciState *s)
{
    return msix_enabled(s) || (msi_control(s) & MSI_CTRL_ENABLE);
}

static bool msix_masked(const XhciState *s, unsigned v)
{
    return (msix_control(s) & MSIX_CTRL_MASKALL) || (s->msix_table[16 * v + 12] & MSIX_ENTRY_MASKED);
}

static void msix_send(XhciState *s, unsigned v)
{
    const uint8_t *e = s->msix_table + 16 * v;
    pci_msi_send(&s->pci, pci_get_long(e, 0) | (uint64_t)pci_get_long(e, 4) << 32, pci_get_long(e, 8));
}

/* Interrupter v's message (xHCI 4.17: interrupter n signals vector n). A masked MSI-X
 * vector keeps its pending bit until unmasked (6.8.2.9). */
static void msi_notify(XhciState *s, unsigned v)
{
    if (v >= XHCI_INTERRUPTERS)
        return;
    if (msix_enabled(s)) {
        if (msix_masked(s, v))
            s->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
        else
            msix_send(s, v);
        return;
    }
    uint16_t ctrl = msi_control(s);
    if (!(ctrl & MSI_CTRL_ENABLE))
        return;
    const uint8_t *c = s->pci.config + s->msi_cap;
    uint64_t addr = pci_get_long(c, 4) | (uint64_t)pci_get_long(c, 8) << 32;
    /* With several messages enabled the vector goes in the low data bits (6.8.1.6). */
    unsigned mme = (ctrl >> 4) & 7;
    uint32_t data = pci_get_word(c, 12);
    if (mme)
        data = (data & ~((1u << mme) - 1)) | (v & ((1u << mme) - 1));
    pci_msi_send(&s->pci, addr, data);
}

static void msix_flush_pending(XhciState *s)
{
    if (!msix_enabled(s))
        return;
    for (unsigned v = 0; v < XHCI_INTERRUPTERS; v++) {
        uint8_t bit = (uint8_t)(1u << (v % 8));
        if ((s->msix_pba[v / 8] & bit) && !msix_masked(s, v)) {
            s->msix_pba[v / 8] &= (uint8_t)~bit;
            msix_send(s, v);
        }
    }
}

static void update_irq(XhciState *s)
{
    /* INTx follows interrupter 0's pending bit when both enables are set (xHCI 4.17.1);
     * a host system error interrupts when HSEE is set (5.4.1). With MSI or MSI-X on,
     * the interrupt is a message sent when it is raised, and the pin stays low. */
    bool level = ((s->usbcmd & CMD_INTE) && (s->iman & (IMAN_IP | IMAN_IE)) == (IMAN_IP | IMAN_IE)) ||
                 ((s->usbcmd & CMD_HSEE) && (s->usbsts & STS_HSE));
    pci_set_irq(&s->pci, level && !messages_enabled(s));
}

static void halt(XhciState *s)
{
    if (!(s->usbsts & STS_HCH))
        s->mfindex_halted = (uint32_t)((xhci_now(s) - s->mfindex_base) / MICROFRAME_NS) & 0x3fff;
    s->usbcmd &= ~CMD_RS;
    s->usbsts |= STS_HCH;
    s->crr = false;
    s->cmd_more = false;
    vtimer_del(s->retry_timer);
    vtimer_del(s->imod_timer);
    vtimer_del(s->wrap_timer);
}

void xhci_host_error(XhciState *s, const char *what, uint64_t addr)
{
    VLOG(LOG_GUEST, "xhci: %s at 0x%" G_GINT64_MODIFIER "x: host system error, controller halted", what, addr);
    bool was = s->usbsts & STS_HSE;
    s->usbsts |= STS_HSE;
    halt(s);
    update_irq(s);
    if (!was && (s->usbcmd & CMD_HSEE))
        msi_notify(s, 0);
}

/* ---- the event ring (xHCI 4.9.4) ---- */

/* Loads segment n of the event ring segment table. */
static bool er_load_segment(XhciState *s, uint32_t n)
{
    uint32_t e[4];
    uint64_t a = s->erstba + 16u * n;
    if (!xhci_dma_read(s, a, e, sizeof(e))) {
        xhci_host_error(s, "event ring segment table outside RAM", a);
        return false;
    }
    uint64_t base = (GUINT32_FROM_LE(e[0]) | (uint64_t)GUINT32_FROM_LE(e[1]) << 32) & ~UINT64_C(0x3f);
    uint32_t size = GUINT32_FROM_LE(e[2]) & 0xffff;
    /* 16 to 4096 TRBs per segment (xHCI 6.5). */
    if (size < 16 || size > 4096 || !mem_is_ram(xhci_mem(s), base, (uint64_t)size * 16)) {
        xhci_host_error(s, "bad event ring segment", base);
        return false;
    }
    s->er_seg = n;
    s->er_seg_base = base;
    s->er_seg_size = size;
    s->er_idx = 0;
    return true;
}

static uint64_t er_enqueue(const XhciState *s)
{
    return s->er_seg_base + 16u * s->er_idx;
}

static bool er_pending(const XhciState *s)
{
    return s->er_seg_size && er_enqueue(s) != (s->erdp & ~UINT64_C(0xf));
}

/* Interrupter 0 asks for attention: IP and EHB set once the moderation interval has
 * passed since the last interrupt (xHCI 4.17.2), unless software is still handling one. */
static void interrupter_fire(XhciState *s)
{
    if ((s->erdp & ERDP_EHB) || !er_pending(s) || !xhci_running(s))
        return;
    int64_t now = xhci_now(s);
    int64_t interval = (int64_t)(s->imod & 0xffff) * IMOD_UNIT_NS;
    if (interval && now < s->last_irq_ns + interval) {
        vtimer_mod(s->imod_timer, s->last_irq_ns + interval);
        return;
    }
    s->last_irq_ns = now;
    s->erdp |= ERDP_EHB;
    s->iman |= IMAN_IP;
    s->usbsts |= STS_EINT;
    update_irq(s);
    /* A message is an edge: one per interrupt raised, when both enables allow it (the
     * driver clears IP and EHB before the next one). */
    if ((s->usbcmd & CMD_INTE) && (s->iman & IMAN_IE))
        msi_notify(s, 0);
}

static void imod_tick(void *opaque)
{
    interrupter_fire(opaque);
}

/* MFINDEX counts 2^14 microframes, 2.048 s, between wraps. */
#define WRAP_NS (INT64_C(16384) * MICROFRAME_NS)

/* With EWE set, each time MFINDEX wraps to 0 an MFINDEX Wrap Event is posted
 * (xHCI 4.14.2, 6.4.2.8); the timer runs only while the controller runs with EWE. */
static void wrap_rearm(XhciState *s)
{
    if (!xhci_running(s) || !(s->usbcmd & CMD_EWE)) {
        vtimer_del(s->wrap_timer);
        return;
    }
    int64_t since = xhci_now(s) - s->mfindex_base;
    vtimer_mod(s->wrap_timer, s->mfindex_base + (since / WRAP_NS + 1) * WRAP_NS);
}

static void wrap_tick(void *opaque)
{
    XhciState *s = opaque;
    xhci_post_event(s, 0, (uint32_t)CC_SUCCESS << 24, (uint32_t)TRB_EV_MFINDEX_WRAP << 10);
    wrap_rearm(s);
}

void xhci_post_event(XhciState *s, uint64_t param, uint32_t status, uint32_t control)
{
    xhci_post_event_irq(s, param, status, control, true);
}

void xhci_post_event_irq(XhciState *s, uint64_t param, uint32_t status, uint32_t control, bool irq)
{
    if (!xhci_running(s))
        return;
    if (!s->er_seg_size || s->er_full) {
        VLOG(LOG_GUEST, "xhci: event type %u dropped: event ring %s", (control >> 10) & 0x3f,
             s->er_seg_size ? "full" : "not set up");
        return;
    }
    /* Where the enqueue pointer goes next: the ring is full when that is the dequeue
     * pointer; the last free entry then says so (xHCI 4.9.4). */
    uint32_t seg = s->er_seg, idx = s->er_idx + 1;
    uint64_t next = s->er_seg_base + 16u * idx;
    bool wrap = false;
    if (idx >= s->er_seg_size) {
        seg = (s->er_seg + 1) % MAX(s->erstsz, 1u);
        wrap = seg == 0;
        uint32_t e[2];
        if (!xhci_dma_read(s, s->erstba + 16u * seg, e, sizeof(e))) {
            xhci_host_error(s, "event ring segment table outside RAM", s->erstba);
            return;
        }
        next = (GUINT32_FROM_LE(e[0]) | (uint64_t)GUINT32_FROM_LE(e[1]) << 32) & ~UINT64_C(0x3f);
    }
    if (next == (s->erdp & ~UINT64_C(0xf))) {
        VLOG(LOG_GUEST, "xhci: event ring full");
        param = 0;
        status = (uint32_t)CC_EVENT_RING_FULL << 24;
        control = (uint32_t)TRB_EV_HOST_CTRL << 10;
        s->er_full = true;
    }
    uint32_t trb[4] = { GUINT32_TO_LE((uint32_t)param), GUINT32_TO_LE((uint32_t)(param >> 32)),
                        GUINT32_TO_LE(status), GUINT32_TO_LE((control & ~TRB_C) | (s->er_pcs ? TRB_C : 0)) };
    if (!xhci_dma_write(s, er_enqueue(s), trb, sizeof(trb))) {
        xhci_host_error(s, "event ring outside RAM", er_enqueue(s));
        return;
    }
    if (s->er_idx + 1 >= s->er_seg_size) {
        if (!er_load_segment(s, seg))
            return;
        if (wrap)
            s->er_pcs = !s->er_pcs;
    } else {
        s->er_idx++;
    }
    if (irq || s->er_full)
        interrupter_fire(s);
}

/* ---- ports (xHCI 4.19) ---- */

static UsbDevice *port_device(XhciState *s, int i)
{
    return i < (int)s->p2 ? usb_bus_port_device(s->usb, i) : NULL;
}

static uint32_t speed_id(UsbSpeed speed)
{
    /* Default protocol speed IDs (xHCI 7.2.2.1.1). */
    switch (speed) {
    case USB_SPEED_LOW: return 2;
    case USB_SPEED_HIGH: return 3;
    case USB_SPEED_SUPER: return 4;
    default: return 1;
    }
}

/* A change bit went up: the Port Status Change Event (xHCI 4.19.2). */
static void port_notify(XhciState *s, int i)
{
    s->usbsts |= STS_PCD;
    xhci_post_event(s, (uint64_t)(i + 1) << 24, (uint32_t)CC_SUCCESS << 24, (uint32_t)TRB_EV_PORT_STATUS << 10);
}

/* The port's state for what is plugged in: a USB 2 port with a device waits in Polling
 * for a reset; an empty port, or a USB 3 port, is in RxDetect. */
static uint32_t port_idle_state(XhciState *s, int i)
{
    UsbDevice *d = port_device(s, i);
    if (!d)
        return PORT_PP | (uint32_t)PLS_RXDETECT << PORT_PLS_SHIFT;
    return PORT_PP | PORT_CCS | speed_id(d->speed) << PORT_SPEED_SHIFT | (uint32_t)PLS_POLLING << PORT_PLS_SHIFT;
}

static void port_attach(void *opaque, int port, UsbSpeed speed)
{
    XhciState *s = opaque;
    (void)speed;
    uint32_t keep = s->portsc[port] & (PORT_WAKE | PORT_CHANGES);
    s->portsc[port] = port_idle_state(s, port) | keep | PORT_CSC;
    port_notify(s, port);
}

/* Remote wakeup from a suspended USB 2 port: the link goes to Resume (xHCI 4.15.2.1). */
static void port_wakeup(void *opaque, int port)
{
    XhciState *s = opaque;
    if (((s->portsc[port] & PORT_PLS) >> PORT_PLS_SHIFT) != PLS_U3)
        return;
    s->portsc[port] = (s->portsc[port] & ~PORT_PLS) | (uint32_t)PLS_RESUME << PORT_PLS_SHIFT | PORT_PLC;
    port_notify(s, port);
}

/* Hot unplug (the device already left the bus): the port loses its connection and is
 * disabled, CSC and, when it was enabled, PEC report it (xHCI 4.19.1.1, 4.19.2). */
static void port_detach(void *opaque, int port)
{
    XhciState *s = opaque;
    uint32_t old = s->portsc[port];
    s->portsc[port] = port_idle_state(s, port) | (old & (PORT_WAKE | PORT_CHANGES)) | PORT_CSC |
                      ((old & PORT_PED) ? PORT_PEC : 0);
    port_notify(s, port);
}

/* The USB 2 ports carry low, full and high speed (xHCI 7.2.2.1.3.1). */
static const UsbPortOps xhci_port_ops = {
    .attach = port_attach,
    .wakeup = port_wakeup,
    .detach = port_detach,
};

static void port_reset(XhciState *s, int i, bool warm)
{
    uint32_t v = s->portsc[i];
    bool usb3 = i >= (int)s->p2;
    if (!(v & PORT_CCS)) {
        /* Nothing attached: the reset completes with the port still disabled. */
        v |= PORT_PRC | (warm && usb3 ? PORT_WRC : 0);
    } else {
        usb_bus_port_reset(s->usb, i);
        /* Reset done at once: enabled, in U0 (xHCI 4.19.1.1 for USB 2 ports). */
        v = (v & ~PORT_PLS) | PORT_PED | PORT_PRC | (uint32_t)PLS_U0 << PORT_PLS_SHIFT |
            (warm && usb3 ? PORT_WRC : 0);
    }
    s->portsc[i] = v & ~PORT_PR;
    port_notify(s, i);
}

static void port_write(XhciState *s, int i, uint32_t val)
{
    uint32_t old = s->portsc[i];
    uint32_t v = old & ~(val & PORT_CHANGES);  /* RW1C change bits */
    v = (v & ~PORT_WAKE) | (val & PORT_WAKE);
    if ((val & PORT_PED) && (v & PORT_PED)) {
        /* Writing 1 to PED disables the port (xHCI 5.4.8). */
        v &= ~PORT_PED;
        v = (v & ~PORT_PLS) | (uint32_t)(i < (int)s->p2 ? PLS_POLLING : PLS_DISABLED) << PORT_PLS_SHIFT;
    }
    if ((val & PORT_LWS) && (v & PORT_PED)) {
        /* Link state writes software may make: U0 from U3 or Resume, U3 from U0. */
        unsigned cur = (v & PORT_PLS) >> PORT_PLS_SHIFT, want = (val & PORT_PLS) >> PORT_PLS_SHIFT;
        bool ok = (want == PLS_U3 && cur == PLS_U0) || (want == PLS_U0 && (cur == PLS_U3 || cur == PLS_RESUME)) ||
                  (want == PLS_RESUME && cur == PLS_U3);
        if (ok) {
            v = (v & ~PORT_PLS) | want << PORT_PLS_SHIFT;
            if (want == PLS_U0 && cur != PLS_U0)
                v |= PORT_PLC;
        }
    }
    s->portsc[i] = v;
    if (val & PORT_PR)
        port_reset(s, i, false);
    else if ((val & PORT_WPR) && i >= (int)s->p2)
        port_reset(s, i, true);
    else if ((v & ~old) & PORT_CHANGES)
        port_notify(s, i);
}

/* ---- reset ---- */

static void xhci_reset_regs(XhciState *s)
{
    vtimer_del(s->retry_timer);
    vtimer_del(s->imod_timer);
    vtimer_del(s->wrap_timer);
    s->usbcmd = 0;
    s->usbsts = STS_HCH;
    s->dnctrl = 0;
    s->config = 0;
    s->crcr = 0;
    s->crcs = false;
    s->crr = false;
    s->cmd_more = false;
    s->dcbaap = 0;
    s->mfindex_base = 0;
    s->mfindex_halted = 0;
    s->iman = 0;
    s->imod = 4000; /* 1 ms, the reset value (xHCI 5.5.2.2) */
    s->erstsz = 0;
    s->erstba = 0;
    s->erdp = 0;
    s->er_seg = s->er_idx = s->er_seg_size = 0;
    s->er_seg_base = 0;
    s->er_pcs = true;
    s->er_full = false;
    s->last_irq_ns = 0;
    xhci_slots_reset(s);
    for (int i = 0; i < (int)(s->p2 + s->p3); i++) {
        if (port_device(s, i))
            usb_bus_port_reset(s->usb, i);
        s->portsc[i] = port_idle_state(s, i);
        if (s->portsc[i] & PORT_CCS)
            s->portsc[i] |= PORT_CSC;
        s->portpmsc[i] = 0;
    }
}

/* ---- registers ---- */

static uint32_t cap_read(XhciState *s, unsigned off)
{
    unsigned nports = s->p2 + s->p3;
    switch (off) {
    case 0x00: return OFF_OPER | 0x0100u << 16;                /* CAPLENGTH, HCIVERSION 1.0 */
    case 0x04: return XHCI_MAX_SLOTS | XHCI_INTERRUPTERS << 8 | nports << 24; /* HCSPARAMS1 */
    case 0x08: return 4u << 4;                                /* HCSPARAMS2: ERST Max 2^4, no scratchpad */
    case 0x0c: return 0;
    case 0x10: return 1u | (OFF_XECP / 4u) << 16;             /* HCCPARAMS1: AC64, 32-byte contexts */
    case 0x14: return OFF_DOORBELL;
    case 0x18: return OFF_RUNTIME;
    case 0x1c: return 0;
    /* Supported Protocol capabilities (xHCI 7.2): USB 2.0 ports first, then USB 3.0. */
    case 0x20: return 2u | 4u << 8 | 0x02u << 24;
    case 0x24: return 0x20425355; /* "USB " */
    case 0x28: return 1u | s->p2 << 8;
    case 0x2c: return 0;
    case 0x30: return 2u | 0x03u << 24;
    case 0x34: return 0x20425355;
    case 0x38: return (s->p2 + 1) | s->p3 << 8;
    default: return 0;
    }
}

static uint32_t oper_read(XhciState *s, unsigned off)
{
    if (off >= 0x400) {
        unsigned i = (off - 0x400) / 16;
        if (i >= s->p2 + s->p3)
            return 0;
        switch (off & 0xf) {
        case 0: return s->portsc[i];
        case 4: return s->portpmsc[i];
        default: return 0;
        }
    }
    switch (off) {
    case 0x00: return s->usbcmd;
    case 0x04: return s->usbsts;
    case 0x08: return 1; /* PAGESIZE: 4 KiB */
    case 0x14: return s->dnctrl;
    case 0x18: return s->crr ? CRCR_CRR : 0; /* the pointer reads as 0 (xHCI 5.4.5) */
    case 0x1c: return 0;
    case 0x30: return (uint32_t)s->dcbaap;
    case 0x34: return (uint32_t)(s->dcbaap >> 32);
    case 0x38: return s->config;
    default: return 0;
    }
}

static void cmd_write(XhciState *s, uint32_t val)
{
    if (val & (CMD_HCRST | CMD_LHCRST)) {
        /* Reset completes at once: CNR and HCRST read 0 afterwards (xHCI 4.2). */
        xhci_reset_regs(s);
        update_irq(s);
        return;
    }
    uint32_t old = s->usbcmd;
    s->usbcmd = val & CMD_RW;
    if ((val & CMD_RS) && !(old & CMD_RS)) {
        s->usbsts &= ~STS_HCH;
        s->mfindex_base = xhci_now(s) - (int64_t)s->mfindex_halted * MICROFRAME_NS;
        for (int i = 0; i < (int)(s->p2 + s->p3); i++)
            if (s->portsc[i] & PORT_CHANGES)
                port_notify(s, i);
        xhci_retry_rearm(s);
    } else if (!(val & CMD_RS) && (old & CMD_RS)) {
        halt(s);
    }
    wrap_rearm(s);
    /* Save and restore state (CSS/CRS) have nothing to do: the controller's state is
     * never lost, so SRE stays clear. */
    update_irq(s);
}

static void oper_write(XhciState *s, unsigned off, uint32_t val)
{
    if (off >= 0x400) {
        unsigned i = (off - 0x400) / 16;
        if (i >= s->p2 + s->p3)
            return;
        if ((off & 0xf) == 0)
            port_write(s, (int)i, val);
        else if ((off & 0xf) == 4)
            s->portpmsc[i] = val;
        return;
    }
    switch (off) {
    case 0x00:
        cmd_write(s, val);
        break;
    case 0x04:
        s->usbsts &= ~(val & STS_W1C);
        update_irq(s);
        break;
    case 0x14:
        s->dnctrl = val & 0xffff;
        break;
    case 0x18:
        if (s->crr) {
            /* Stop or abort: the ring stops and says where (xHCI 4.6.1.1, 4.6.1.2). */
            if (val & (CRCR_CS | CRCR_CA)) {
                s->crr = false;
                s->cmd_more = false;
                xhci_post_event(s, s->crcr, (uint32_t)CC_CMD_RING_STOPPED << 24,
                                (uint32_t)TRB_EV_CMD_COMPLETE << 10);
            }
            break;
        }
        s->crcr = (s->crcr & ~UINT64_C(0xffffffff)) | (val & ~0x3fu);
        s->crcs = val & CRCR_RCS;
        break;
    case 0x1c:
        if (!s->crr)
            s->crcr = (s->crcr & 0xffffffffu) | (uint64_t)val << 32;
        break;
    case 0x30:
        s->dcbaap = (s->dcbaap & ~UINT64_C(0xffffffff)) | (val & ~0x3fu);
        break;
    case 0x34:
        s->dcbaap = (s->dcbaap & 0xffffffffu) | (uint64_t)val << 32;
        break;
    case 0x38:
        s->config = val & 0x3ff;
        if ((s->config & 0xff) > XHCI_MAX_SLOTS)
            s->config = (s->config & ~0xffu) | XHCI_MAX_SLOTS;
        break;
    default:
        break;
    }
}

static uint32_t mfindex(XhciState *s)
{
    if (!xhci_running(s))
        return s->mfindex_halted;
    return (uint32_t)((xhci_now(s) - s->mfindex_base) / MICROFRAME_NS) & 0x3fff;
}

static uint32_t runtime_read(XhciState *s, unsigned off)
{
    switch (off) {
    case 0x00: return mfindex(s);
    case 0x20: return s->iman;
    case 0x24: return s->imod;
    case 0x28: return s->erstsz;
    case 0x30: return (uint32_t)s->erstba;
    case 0x34: return (uint32_t)(s->erstba >> 32);
    case 0x38: return (uint32_t)s->erdp;
    case 0x3c: return (uint32_t)(s->erdp >> 32);
    default: return 0;
    }
}

static void runtime_write(XhciState *s, unsigned off, uint32_t val)
{
    switch (off) {
    case 0x20:
        s->iman = (s->iman & ~(val & IMAN_IP) & IMAN_IP) | (val & IMAN_IE);
        update_irq(s);
        break;
    case 0x24:
        s->imod = val;
        break;
    case 0x28:
        s->erstsz = MIN(val & 0xffff, 16u);
        break;
    case 0x30:
        s->erstba = (s->erstba & ~UINT64_C(0xffffffff)) | (val & ~0x3fu);
        break;
    case 0x34:
        /* Writing ERSTBA (its high half last) starts the event ring (xHCI 4.9.4). */
        s->erstba = (s->erstba & 0xffffffffu) | (uint64_t)val << 32;
        s->er_pcs = true;
        s->er_full = false;
        s->er_seg_size = 0;
        if (s->erstsz)
            er_load_segment(s, 0);
        break;
    case 0x38: {
        /* Software's dequeue pointer; writing EHB=1 clears it, and events still
         * waiting raise the interrupt again (xHCI 5.5.2.3.3). */
        uint64_t ehb = (s->erdp & ERDP_EHB) && !(val & ERDP_EHB) ? ERDP_EHB : 0;
        s->erdp = (s->erdp & ~UINT64_C(0xffffffff)) | (val & ~0xfu & 0xffffffffu) | (val & 7) | ehb;
        s->er_full = false;
        interrupter_fire(s);
        break;
    }
    case 0x3c:
        s->erdp = (s->erdp & 0xffffffffu) | (uint64_t)val << 32;
        break;
    default:
        break;
    }
}

static uint64_t xhci_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    XhciState *s = opaque;
    unsigned off = (unsigned)addr & ~3u;
    uint32_t v;
    if (off < OFF_OPER)
        v = cap_read(s, off);
    else if (off < OFF_RUNTIME)
        v = oper_read(s, off - OFF_OPER);
    else if (off < OFF_DOORBELL)
        v = runtime_read(s, off - OFF_RUNTIME);
    else if (s->msix_cap && off >= OFF_MSIX_TABLE && off < OFF_MSIX_TABLE + sizeof(s->msix_table))
        v = pci_get_long(s->msix_table, off - OFF_MSIX_TABLE);
    else if (s->msix_cap && off >= OFF_MSIX_PBA && off < OFF_MSIX_PBA + sizeof(s->msix_pba))
        v = pci_get_long(s->msix_pba, off - OFF_MSIX_PBA);
    else
        v = 0; /* doorbells read as 0 */
    v >>= 8 * (addr & 3);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void xhci_mmio_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    XhciState *s = opaque;
    unsigned off = (unsigned)addr;
    if (size != 4 || (off & 3)) {
        VLOG(LOG_GUEST, "xhci: %u-byte write at 0x%x ignored (registers take dwords)", size, off);
        return;
    }
    uint32_t val = (uint32_t)value;
    if (off < OFF_OPER)
        return;
    if (off < OFF_RUNTIME)
        oper_write(s, off - OFF_OPER, val);
    else if (off < OFF_DOORBELL)
        runtime_write(s, off - OFF_RUNTIME, val);
    else if (off >= OFF_MSIX_TABLE) {
        /* The MSI-X table (the pending bits are read-only, 6.8.2.10); an unmask sends
         * what waited. */
        if (s->msix_cap && off < OFF_MSIX_TABLE + sizeof(s->msix_table)) {
            pci_set_long(s->msix_table, off - OFF_MSIX_TABLE, val);
            msix_flush_pending(s);
        }
    } else if (xhci_running(s)) {
        /* Doorbells (xHCI 5.6): 0 is the command ring's, n is slot n's with the
         * endpoint's DCI as target. A halted controller ignores them. */
        unsigned db = (off - OFF_DOORBELL) / 4;
        if (db == 0) {
            if ((val & 0xff) == 0)
                xhci_command_ring_run(s);
        } else {
            xhci_doorbell(s, db, val & 0xff);
        }
    }
}

static const MemOps xhci_mmio_ops = {
    .read = xhci_mmio_read, .write = xhci_mmio_write, .min_size = 1, .max_size = 4,
};

/* ---- the device object ---- */

typedef struct XhciModel {
    const char *name;
    uint16_t vendor, device;
} XhciModel;

/* MSI and MSI-X off, every vector masked, nothing pending (PCI 3.0, 6.8.1.3, 6.8.2.9). */
static void msi_reset(XhciState *s)
{
    if (s->msi_cap)
        pci_set_word(s->pci.config, s->msi_cap + 2, MSI_CTRL_64BIT);
    if (s->msix_cap)
        pci_set_word(s->pci.config, s->msix_cap + 2, XHCI_INTERRUPTERS - 1);
    memset(s->msix_table, 0, sizeof(s->msix_table));
    for (unsigned v = 0; v < XHCI_INTERRUPTERS; v++)
        s->msix_table[16 * v + 12] = MSIX_ENTRY_MASKED;
    memset(s->msix_pba, 0, sizeof(s->msix_pba));
}

static void xhci_reset(Device *dev)
{
    XhciState *s = (XhciState *)dev;
    pci_device_reset(&s->pci);
    msi_reset(s);
    xhci_reset_regs(s);
    update_irq(s);
}

/* The driver switched MSI or MSI-X on or off, or lifted the function mask. */
static void xhci_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    (void)value;
    XhciState *s = d->opaque;
    bool msi = s->msi_cap && addr < s->msi_cap + 4 && addr + size > s->msi_cap + 2;
    bool msix = s->msix_cap && addr < s->msix_cap + 4 && addr + size > s->msix_cap + 2;
    if (msi || msix) {
        update_irq(s);
        msix_flush_pending(s);
    }
}

/* The capability list: MSI (64-bit addresses, one message per interrupter) then MSI-X,
 * offered only where the bus delivers messages (a board with local APICs). */
static void msi_init(XhciState *s)
{
    PciDevice *d = &s->pci;
    if (!pci_msi_supported(d))
        return;
    unsigned next = 0;
    if (s->msix_on) {
        unsigned pos = MSIX_CAP_POS;
        uint8_t *c = d->config + pos;
        c[0] = 0x11; /* MSI-X */
        c[1] = (uint8_t)next;
        pci_set_long(d->config, pos + 4, OFF_MSIX_TABLE); /* BIR 0 */
        pci_set_long(d->config, pos + 8, OFF_MSIX_PBA);
        d->wmask[pos + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
        s->msix_cap = pos;
        next = pos;
    }
    if (s->msi_on) {
        unsigned pos = MSI_CAP_POS;
        uint8_t *c = d->config + pos;
        c[0] = 0x05; /* MSI */
        c[1] = (uint8_t)next;
        /* Enable; Multiple Message Enable stays 0 with one message capable (6.8.1.3). */
        d->wmask[pos + 2] = MSI_CTRL_ENABLE;
        pci_set_long(d->wmask, pos + 4, 0xfffffffc);
        pci_set_long(d->wmask, pos + 8, 0xffffffff);
        pci_set_word(d->wmask, pos + 12, 0xffff);
        s->msi_cap = pos;
        next = pos;
    }
    if (!next)
        return;
    d->config[PCI_CAPABILITY_LIST] = (uint8_t)next;
    pci_set_word(d->config, PCI_STATUS, pci_get_word(d->config, PCI_STATUS) | 0x10); /* capability list */
    d->config_write = xhci_config_write;
    msi_reset(s);
}

static bool xhci_realize_model(Device *dev, const XhciModel *m, GError **err)
{
    XhciState *s = (XhciState *)dev;
    if (s->p2 < 1 || s->p2 > USB_MAX_PORTS || s->p3 > USB_MAX_PORTS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: p2 must be 1-%d and p3 0-%d (p2=%u p3=%u)",
                    m->name, USB_MAX_PORTS, USB_MAX_PORTS, s->p2, s->p3);
        return false;
    }
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err))
        return false;
    PciDevice *d = &s->pci;
    pci_device_init(d, bus, devfn, m->name, m->vendor, m->device, 0x0c0330, 0x01);
    d->opaque = s;
    s->nec = m->vendor == 0x1033;
    pci_device_set_interrupt_pin(d, 1);
    d->config[0x60] = 0x30; /* SBRN: USB 3.0 */
    d->config[0x61] = 0x20; /* FLADJ: 60000 clocks per frame */
    pci_register_bar_mmio(d, 0, MMIO_SIZE, &xhci_mmio_ops, s);
    msi_init(s);
    s->retry_timer = vtimer_new(dev->vm, xhci_retry_tick, s);
    s->imod_timer = vtimer_new(dev->vm, imod_tick, s);
    s->wrap_timer = vtimer_new(dev->vm, wrap_tick, s);
    s->buf = g_malloc(XHCI_XFER_MAX);
    g_autofree char *name = usb_bus_next_name(dev->vm);
    s->usb = usb_bus_new(dev->vm, name, (int)s->p2, &xhci_port_ops, s);
    /* The USB 2 ports carry all three USB 2 speeds (xHCI 7.2.2.1.3.1): devices with a
     * high-speed mode take it here as on EHCI, and the slot and endpoint contexts the
     * driver fills from PORTSC's speed ID carry the high-speed packet sizes and
     * microframe intervals. */
    usb_bus_set_speeds(s->usb, 1u << USB_SPEED_LOW | 1u << USB_SPEED_FULL | 1u << USB_SPEED_HIGH);
    /* QEMU names a controller's bus after the id given to it: with
     * "-device qemu-xhci,id=xhci", "bus=xhci.0" finds this bus too. */
    size_t n = strlen(m->name);
    if (dev->id && !(strncmp(dev->id, m->name, n) == 0 && dev->id[n] == '.')) {
        g_autofree char *alias = g_strdup_printf("%s.0", dev->id);
        if (!vm_find_bus(dev->vm, alias))
            vm_add_bus(dev->vm, alias, s->usb);
    }
    return true;
}

static const XhciModel qemu_xhci_model = { "qemu-xhci", 0x1b36, 0x000d };
static const XhciModel nec_xhci_model = { "nec-usb-xhci", 0x1033, 0x0194 };

static bool qemu_xhci_realize(Device *dev, GError **err)
{
    return xhci_realize_model(dev, &qemu_xhci_model, err);
}

static bool nec_xhci_realize(Device *dev, GError **err)
{
    return xhci_realize_model(dev, &nec_xhci_model, err);
}

static void xhci_unrealize(Device *dev)
{
    XhciState *s = (XhciState *)dev;
    vtimer_free(s->retry_timer);
    vtimer_free(s->imod_timer);
    vtimer_free(s->wrap_timer);
    usb_bus_free(s->usb);
    g_free(s->buf);
}

static bool xhci_check(const void *state, GError **err)
{
    const XhciState *s = state;
    if (s->usbcmd & ~(uint32_t)CMD_RW || !(s->usbcmd & CMD_RS) != !!(s->usbsts & STS_HCH) ||
        (s->config & 0xff) > XHCI_MAX_SLOTS || s->erstsz > 16 || s->er_seg >= MAX(s->erstsz, 1u) ||
        s->er_seg_size > 4096 || (s->er_seg_size && s->er_idx >= s->er_seg_size) || s->mfindex_halted > 0x3fff) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "xHCI registers out of range: cmd 0x%x sts 0x%x config 0x%x event ring %u/%u/%u",
                    s->usbcmd, s->usbsts, s->config, s->er_seg, s->er_idx, s->er_seg_size);
        return false;
    }
    for (int i = 0; i < (int)(s->p2 + s->p3); i++) {
        /* The live controller's bus: a device must be where the stream says one is. */
        bool attached = i < (int)s->p2 && usb_bus_port_device(s->usb, i) != NULL;
        if (!!(s->portsc[i] & PORT_CCS) != attached) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "xHCI port %d: status 0x%08x does not match this VM (device %s)", i + 1, s->portsc[i],
                        attached ? "attached" : "absent");
            return false;
        }
    }
    return xhci_slots_check(s, err) && pci_device_state_check(&s->pci, err);
}

static void xhci_post_load(void *state)
{
    XhciState *s = state;
    for (int i = 0; i < XHCI_MAX_SLOTS; i++)
        for (int e = 0; e < XHCI_EPS; e++)
            s->slots[i].ep[e].iso_next = 0;
    pci_device_post_load(&s->pci);
    update_irq(s);
    msix_flush_pending(s);
}

static const VmStateField xhci_fields[] = {
    VMSTATE_STRUCT(XhciState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U32(XhciState, usbcmd),
    VMSTATE_U32(XhciState, usbsts),
    VMSTATE_U32(XhciState, dnctrl),
    VMSTATE_U32(XhciState, config),
    VMSTATE_U64(XhciState, crcr),
    VMSTATE_BOOL(XhciState, crcs),
    VMSTATE_BOOL(XhciState, crr),
    VMSTATE_BOOL(XhciState, cmd_more),
    VMSTATE_U64(XhciState, dcbaap),
    VMSTATE_U32_ARRAY(XhciState, portsc, XHCI_MAX_PORTS),
    VMSTATE_U32_ARRAY(XhciState, portpmsc, XHCI_MAX_PORTS),
    VMSTATE_I64(XhciState, mfindex_base),
    VMSTATE_U32(XhciState, mfindex_halted),
    VMSTATE_U32(XhciState, iman),
    VMSTATE_U32(XhciState, imod),
    VMSTATE_U32(XhciState, erstsz),
    VMSTATE_U64(XhciState, erstba),
    VMSTATE_U64(XhciState, erdp),
    VMSTATE_U32(XhciState, er_seg),
    VMSTATE_U32(XhciState, er_idx),
    VMSTATE_U32(XhciState, er_seg_size),
    VMSTATE_U64(XhciState, er_seg_base),
    VMSTATE_BOOL(XhciState, er_pcs),
    VMSTATE_BOOL(XhciState, er_full),
    VMSTATE_I64(XhciState, last_irq_ns),
    /* Version 2: the MSI-X table and pending bits (MSI's state is in config space). */
    { .name = "msix_table", .type = VMS_U8, .offset = offsetof(XhciState, msix_table),
      .count = 16 * XHCI_INTERRUPTERS, .version_added = 2 },
    { .name = "msix_pba", .type = VMS_U8, .offset = offsetof(XhciState, msix_pba), .count = 8, .version_added = 2 },
    VMSTATE_STRUCT_ARRAY(XhciState, slots, XHCI_MAX_SLOTS, XhciSlot, &xhci_slot_vmsd),
    VMSTATE_TIMER(XhciState, retry_timer),
    VMSTATE_TIMER(XhciState, imod_timer),
    VMSTATE_TIMER(XhciState, wrap_timer),
    VMSTATE_END,
};

static const VmStateDesc xhci_vmsd = {
    .name = "xhci",
    .version = 2,
    .fields = xhci_fields,
    .check = xhci_check,
    .post_load = xhci_post_load,
};

static const DeviceProp xhci_props[] = {
    PCI_DEVICE_PROP_ADDR(XhciState, addr),
    { "p2", DEVICE_PROP_U32, offsetof(XhciState, p2), "USB 2 root ports (low, full, high speed)", "4", 1,
      USB_MAX_PORTS, NULL },
    { "p3", DEVICE_PROP_U32, offsetof(XhciState, p3), "USB 3 root ports (super speed)", "4", 0, USB_MAX_PORTS,
      NULL },
    { "msi", DEVICE_PROP_BOOL, offsetof(XhciState, msi_on), "offer MSI", "on", 0, 0, NULL },
    { "msix", DEVICE_PROP_BOOL, offsetof(XhciState, msix_on), "offer MSI-X", "on", 0, 0, NULL },
    { NULL },
};

static const DeviceClass qemu_xhci_class = {
    .name = "qemu-xhci",
    .description = "xHCI USB host controller (1b36:000d; USB 2 and USB 3 root ports)",
    .instance_size = sizeof(XhciState),
    .user_creatable = true,
    .props = xhci_props,
    .vmsd = &xhci_vmsd,
    .realize = qemu_xhci_realize,
    .reset = xhci_reset,
    .unrealize = xhci_unrealize,
};

static const DeviceClass nec_xhci_class = {
    .name = "nec-usb-xhci",
    .description = "xHCI USB host controller with NEC's IDs (1033:0194), as qemu-xhci",
    .instance_size = sizeof(XhciState),
    .user_creatable = true,
    .props = xhci_props,
    .vmsd = &xhci_vmsd,
    .realize = nec_xhci_realize,
    .reset = xhci_reset,
    .unrealize = xhci_unrealize,
};

__attribute__((constructor)) static void xhci_register(void)
{
    device_class_register(&qemu_xhci_class);
    device_class_register(&nec_xhci_class);
}
