/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to the xHCI controller (xhci.c: registers, ports, the interrupter and the
 * device object; xhci-ring.c: the command ring, device slots and transfer rings).
 * Section numbers are those of the eXtensible Host Controller Interface for USB
 * specification, revision 1.2 ("xHCI" below). Lock rules: all of it runs with the
 * engine lock held (MMIO from a vCPU, the retry and moderation timers). */
#pragma once

#include "hw/usb/usb.h"
#include "hw/pci/pci.h"

#define XHCI_MAX_SLOTS 32
/* Interrupters (HCSPARAMS1 MaxIntrs): one, with its event ring and MSI/MSI-X vector 0. */
#define XHCI_INTERRUPTERS 1
#define XHCI_MAX_PORTS (2 * USB_MAX_PORTS)
#define XHCI_EPS 31            /* device context indexes (DCI) 1 to 31 */
#define XHCI_XFER_MAX 0x10000  /* a TRB moves at most 64 KiB (xHCI 6.4.1.1) */

/* TRB types (xHCI table 6-91). */
enum {
    TRB_NORMAL = 1,
    TRB_SETUP = 2,
    TRB_DATA = 3,
    TRB_STATUS = 4,
    TRB_ISOCH = 5,
    TRB_LINK = 6,
    TRB_EVENT_DATA = 7,
    TRB_NOOP = 8,
    TRB_CMD_ENABLE_SLOT = 9,
    TRB_CMD_DISABLE_SLOT = 10,
    TRB_CMD_ADDRESS_DEVICE = 11,
    TRB_CMD_CONFIGURE_EP = 12,
    TRB_CMD_EVALUATE_CTX = 13,
    TRB_CMD_RESET_EP = 14,
    TRB_CMD_STOP_EP = 15,
    TRB_CMD_SET_TR_DEQ = 16,
    TRB_CMD_RESET_DEVICE = 17,
    TRB_CMD_NOOP = 23,
    TRB_EV_NEC_CMD_COMPLETE = 48,
    TRB_CMD_NEC_GET_FW = 49,
    TRB_EV_TRANSFER = 32,
    TRB_EV_CMD_COMPLETE = 33,
    TRB_EV_PORT_STATUS = 34,
    TRB_EV_HOST_CTRL = 37,
    TRB_EV_MFINDEX_WRAP = 39,
};

/* TRB control-word bits (xHCI 6.4). */
enum {
    TRB_C = 1u << 0,
    TRB_TC = 1u << 1,    /* Link: toggle cycle */
    TRB_ENT = 1u << 1,   /* transfer: evaluate next TRB */
    TRB_ISP = 1u << 2,
    TRB_CH = 1u << 4,
    TRB_IOC = 1u << 5,
    TRB_IDT = 1u << 6,
    TRB_BEI = 1u << 9,   /* Normal, Data, Isoch, Event Data: block event interrupt */
    TRB_BSR = 1u << 9,   /* Address Device: block SET_ADDRESS */
    TRB_DC = 1u << 9,    /* Configure Endpoint: deconfigure */
    TRB_DIR_IN = 1u << 16,
    TRB_SIA = 1u << 31,  /* Isoch: start isochronous ASAP (else at its Frame ID, 30:20) */
    TRB_EV_ED = 1u << 2, /* Transfer Event: param is an Event Data TRB's */
};

/* Completion codes (xHCI table 6-90). */
enum {
    CC_SUCCESS = 1,
    CC_DATA_BUFFER = 2,
    CC_BABBLE = 3,
    CC_USB_TRANSACTION = 4,
    CC_TRB = 5,
    CC_STALL = 6,
    CC_NO_SLOTS = 9,
    CC_SLOT_NOT_ENABLED = 11,
    CC_EP_NOT_ENABLED = 12,
    CC_SHORT_PACKET = 13,
    CC_PARAMETER = 17,
    CC_CONTEXT_STATE = 19,
    CC_MISSED_SERVICE = 23,
    CC_EVENT_RING_FULL = 21,
    CC_CMD_RING_STOPPED = 24,
    CC_STOPPED = 26,
    CC_STOPPED_LENGTH_INVALID = 27,
};

/* Slot states (xHCI 4.5.3, table 6-7 Slot State) and endpoint states (6.2.3, EP State). */
enum { SLOT_ENABLED = 0, SLOT_DEFAULT = 1, SLOT_ADDRESSED = 2, SLOT_CONFIGURED = 3 };
enum { EP_DISABLED = 0, EP_RUNNING = 1, EP_HALTED = 2, EP_STOPPED = 3, EP_ERROR = 4 };
/* Endpoint types (xHCI table 6-9). */
enum { EPT_ISOCH_OUT = 1, EPT_CONTROL = 4, EPT_ISOCH_IN = 5 };

/* Progress through the TD under the dequeue pointer. */
enum {
    TD_SHORT = 1u << 0,    /* a short packet: the rest of the TD is skipped */
    TD_REPORTED = 1u << 1, /* its one completion event was posted */
    TD_DIR_IN = 1u << 2,   /* control: the data stage's direction */
};

typedef struct XhciTrb {
    uint64_t param;
    uint32_t status, control;
    uint64_t addr;         /* where it was read */
} XhciTrb;

static inline unsigned trb_type(const XhciTrb *t)
{
    return (t->control >> 10) & 0x3f;
}

typedef struct XhciEp {
    uint8_t state;         /* EP_* */
    uint8_t type;          /* EPT_* or the other table 6-9 values */
    uint8_t interval;      /* 2^interval x 125 us */
    uint8_t dcs;           /* dequeue cycle state */
    uint8_t td_flags;      /* TD_* */
    uint16_t max_packet;
    uint32_t td_bytes;     /* moved so far in this TD (Event Data's EDTLA, 4.11.5.2) */
    uint64_t dequeue;
    int64_t retry_at;      /* virtual time of the next try of a NAKed TRB; 0: none */
    /* Isochronous endpoints: the earliest virtual time of the next TD, one TD per
     * service interval. Not saved: post_load clears it and the next TD starts at once. */
    int64_t iso_next;
} XhciEp;

typedef struct XhciSlot {
    bool enabled;
    uint8_t state;         /* SLOT_* */
    uint8_t port;          /* root hub port number from 1; 0 before Address Device */
    uint8_t addr;          /* the device's USB address */
    uint64_t ctx;          /* output device context (from the DCBAA) */
    XhciEp ep[XHCI_EPS];   /* ep[dci - 1] */
} XhciSlot;

typedef struct XhciState {
    Device dev;
    /* Properties. */
    char *addr;
    uint32_t p2, p3;       /* USB 2 and USB 3 root ports */
    bool msi_on, msix_on;  /* offer MSI / MSI-X (when the bus delivers messages) */
    /* Wiring. */
    PciDevice pci;
    UsbBus *usb;           /* the USB 2 ports */
    VTimer *retry_timer;   /* NAK retries and work left over from a busy doorbell */
    VTimer *imod_timer;    /* the interrupter's moderation interval */
    VTimer *wrap_timer;    /* MFINDEX wrap events while USBCMD.EWE is set */
    uint8_t *buf;          /* one TRB's data */
    bool nec;              /* nec-usb-xhci: answers NEC's firmware version command */
    /* Operational registers (xHCI 5.4). */
    uint32_t usbcmd, usbsts, dnctrl, config;
    uint64_t crcr;         /* command ring dequeue pointer */
    bool crcs;             /* its consumer cycle state */
    bool crr;              /* Command Ring Running */
    bool cmd_more;         /* commands left over for the retry timer */
    uint64_t dcbaap;
    uint32_t portsc[XHCI_MAX_PORTS];
    uint32_t portpmsc[XHCI_MAX_PORTS];
    /* MFINDEX: the clock when it was 0 while running, or its value while halted. */
    int64_t mfindex_base;
    uint32_t mfindex_halted;
    /* Interrupter 0 (xHCI 5.5.2). */
    uint32_t iman, imod, erstsz;
    uint64_t erstba, erdp;
    /* Its event ring producer (xHCI 4.9.4). */
    uint32_t er_seg, er_idx, er_seg_size;
    uint64_t er_seg_base;
    bool er_pcs, er_full;
    int64_t last_irq_ns;
    /* Message signalled interrupts (PCI 3.0, 6.8): the capabilities' offsets in config
     * space (0: not offered), the MSI-X table and pending bits (in BAR 0), one vector
     * per interrupter. */
    unsigned msi_cap, msix_cap;
    uint8_t msix_table[16 * XHCI_INTERRUPTERS];
    uint8_t msix_pba[8];
    XhciSlot slots[XHCI_MAX_SLOTS];
} XhciState;

/* xhci.c */
bool xhci_dma_read(XhciState *s, uint64_t addr, void *buf, size_t len);
bool xhci_dma_write(XhciState *s, uint64_t addr, const void *buf, size_t len);
/* A system bus error (xHCI 4.10.2.6): HSE set, the controller halts. */
void xhci_host_error(XhciState *s, const char *what, uint64_t addr);
/* Posts an event TRB to interrupter 0 and interrupts as IMAN/IMOD allow; with irq
 * false (a TRB with BEI, xHCI 4.17.5) the event waits for the next interrupt. */
void xhci_post_event(XhciState *s, uint64_t param, uint32_t status, uint32_t control);
void xhci_post_event_irq(XhciState *s, uint64_t param, uint32_t status, uint32_t control, bool irq);
bool xhci_running(const XhciState *s);
bool xhci_port_enabled(const XhciState *s, int port);
int64_t xhci_now(const XhciState *s);

/* xhci-ring.c */
void xhci_command_ring_run(XhciState *s);
void xhci_doorbell(XhciState *s, unsigned slot, unsigned target);
/* The retry timer: NAKed TRBs due and leftover command work; re-arms itself. */
void xhci_retry_tick(void *opaque);
void xhci_retry_rearm(XhciState *s);
void xhci_slots_reset(XhciState *s);
bool xhci_slots_check(const XhciState *s, GError **err);
extern const VmStateDesc xhci_slot_vmsd;
