/* SPDX-License-Identifier: GPL-2.0-or-later */
/* xHCI rings: the command ring and its commands (xHCI 4.6), device slots with their
 * device, input and endpoint contexts (32-byte contexts, 6.2), and the transfer rings
 * (4.9, 4.10, 4.11). Devices answer at once (hw/usb/usb.h), so a TRB is done when it
 * was delivered, except a NAK: the TRB stays under the dequeue pointer and the retry
 * timer tries it again on the virtual clock (an interrupt endpoint at its interval).
 *
 * The guest owns rings and contexts: every pointer is checked against guest RAM, a
 * Link TRB chain or a ring with no end costs a bounded amount of work per doorbell
 * (the rest goes on from the timer), and nonsense becomes a completion code. */
#include "hw/usb/xhci-internal.h"

#include <string.h>

/* Link TRBs followed in a row before the ring counts as broken. */
#define MAX_LINKS 32
/* TRBs executed per doorbell or timer pass, per endpoint and for the command ring. */
#define MAX_TRBS_PER_PASS 512
/* When work is left over from a pass, it goes on after this much virtual time. */
#define CONTINUE_NS 10000
#define MICROFRAME_NS 125000

enum { CTX_SIZE = 32 };

/* ---- ring reading ---- */

typedef enum {
    FETCH_OK,
    FETCH_EMPTY,   /* the cycle bit says the guest has not written it yet */
    FETCH_BAD,     /* outside RAM, or a Link TRB loop */
} FetchResult;

/* Reads the TRB at *deq with consumer cycle state *ccs, following Link TRBs (xHCI
 * 4.11.5.1); on FETCH_OK, *deq and *ccs are where t was found. */
static FetchResult ring_fetch(XhciState *s, uint64_t *deq, uint8_t *ccs, XhciTrb *t)
{
    for (int links = 0; links <= MAX_LINKS; links++) {
        uint32_t raw[4];
        if (!xhci_dma_read(s, *deq, raw, sizeof(raw)))
            return FETCH_BAD;
        t->param = GUINT32_FROM_LE(raw[0]) | (uint64_t)GUINT32_FROM_LE(raw[1]) << 32;
        t->status = GUINT32_FROM_LE(raw[2]);
        t->control = GUINT32_FROM_LE(raw[3]);
        t->addr = *deq;
        if ((t->control & TRB_C) != *ccs)
            return FETCH_EMPTY;
        if (trb_type(t) != TRB_LINK)
            return FETCH_OK;
        if (t->control & TRB_TC)
            *ccs ^= 1;
        *deq = t->param & ~UINT64_C(0xf);
    }
    return FETCH_BAD;
}

/* ---- contexts ---- */

static bool ctx_read(XhciState *s, uint64_t addr, uint32_t ctx[8])
{
    if (!xhci_dma_read(s, addr, ctx, CTX_SIZE))
        return false;
    for (int i = 0; i < 8; i++)
        ctx[i] = GUINT32_FROM_LE(ctx[i]);
    return true;
}

static bool ctx_write(XhciState *s, uint64_t addr, const uint32_t ctx[8])
{
    uint32_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = GUINT32_TO_LE(ctx[i]);
    return xhci_dma_write(s, addr, le, CTX_SIZE);
}

/* The output slot context's USB address and Slot State (xHCI 6.2.2, dword 3). */
static void slot_ctx_store(XhciState *s, XhciSlot *sl)
{
    uint32_t ctx[8];
    if (!ctx_read(s, sl->ctx, ctx)) {
        xhci_host_error(s, "output device context outside RAM", sl->ctx);
        return;
    }
    ctx[3] = sl->addr | (uint32_t)sl->state << 27;
    if (!ctx_write(s, sl->ctx, ctx))
        xhci_host_error(s, "output device context outside RAM", sl->ctx);
}

/* The output endpoint context's state and TR Dequeue Pointer (xHCI 6.2.3), which
 * software reads after Stop Endpoint or a halt. */
static void ep_ctx_store(XhciState *s, XhciSlot *sl, unsigned dci)
{
    XhciEp *ep = &sl->ep[dci - 1];
    uint64_t a = sl->ctx + (uint64_t)CTX_SIZE * dci;
    uint32_t ctx[8];
    if (!ctx_read(s, a, ctx)) {
        xhci_host_error(s, "output endpoint context outside RAM", a);
        return;
    }
    ctx[0] = (ctx[0] & ~7u) | ep->state;
    uint64_t deq = ep->dequeue | ep->dcs;
    ctx[2] = (uint32_t)deq;
    ctx[3] = (uint32_t)(deq >> 32);
    if (!ctx_write(s, a, ctx))
        xhci_host_error(s, "output endpoint context outside RAM", a);
}

/* Loads an endpoint from an input endpoint context; false if it makes no sense. */
static bool ep_from_ctx(XhciEp *ep, const uint32_t ctx[8])
{
    uint8_t type = (ctx[1] >> 3) & 7;
    uint64_t deq = ctx[2] | (uint64_t)ctx[3] << 32;
    if (type == 0 || !(deq & ~UINT64_C(0xf)))
        return false;
    memset(ep, 0, sizeof(*ep));
    ep->state = EP_RUNNING;
    ep->type = type;
    ep->interval = MIN((ctx[0] >> 16) & 0xff, 15u);
    ep->max_packet = ctx[1] >> 16;
    ep->dequeue = deq & ~UINT64_C(0xf);
    ep->dcs = deq & 1;
    return true;
}

/* ---- events ---- */

static void transfer_event(XhciState *s, unsigned slot, unsigned dci, uint64_t param, uint32_t residual,
                           unsigned code, uint32_t flags)
{
    xhci_post_event(s, param, (residual & 0xffffff) | (uint32_t)code << 24,
                    (uint32_t)TRB_EV_TRANSFER << 10 | dci << 16 | slot << 24 | flags);
}

/* A completion event of t: success and short packets of a TRB with BEI set do not
 * interrupt (xHCI 4.17.5); errors always do. */
static void trb_event(XhciState *s, unsigned slot, unsigned dci, const XhciTrb *t, uint64_t param,
                      uint32_t residual, unsigned code, uint32_t flags)
{
    unsigned type = trb_type(t);
    bool bei = (t->control & TRB_BEI) &&
               (type == TRB_NORMAL || type == TRB_DATA || type == TRB_ISOCH || type == TRB_EVENT_DATA);
    xhci_post_event_irq(s, param, (residual & 0xffffff) | (uint32_t)code << 24,
                        (uint32_t)TRB_EV_TRANSFER << 10 | dci << 16 | slot << 24 | flags, !bei);
}

/* ---- transfers ---- */

typedef enum {
    XFER_NEXT,     /* the TRB is done: advance */
    XFER_NAK,      /* try the same TRB later */
    XFER_STOP,     /* the endpoint halted (or the controller did) */
} XferResult;

static void ep_halt(XhciState *s, XhciSlot *sl, unsigned dci)
{
    XhciEp *ep = &sl->ep[dci - 1];
    ep->state = EP_HALTED;
    ep->retry_at = 0;
    ep->td_flags = 0;
    ep->td_bytes = 0;
    ep_ctx_store(s, sl, dci);
}

/* A failed TRB: its event, and the endpoint halts with the dequeue pointer on it
 * (xHCI 4.10.2: software resets the endpoint and moves the dequeue pointer on). */
static XferResult xfer_fail(XhciState *s, unsigned slot, unsigned dci, const XhciTrb *t, uint32_t residual,
                            unsigned code)
{
    XhciSlot *sl = &s->slots[slot - 1];
    VLOG(LOG_GUEST, "xhci: slot %u endpoint %u: TRB at 0x%" G_GINT64_MODIFIER "x failed with code %u",
         slot, dci, t->addr, code);
    transfer_event(s, slot, dci, t->addr, residual, code, 0);
    ep_halt(s, sl, dci);
    return XFER_STOP;
}

static bool ep_is_in(const XhciEp *ep)
{
    return ep->type >= 5;
}

static bool ep_is_isoch(const XhciEp *ep)
{
    return ep->type == EPT_ISOCH_OUT || ep->type == EPT_ISOCH_IN;
}

/* One data-moving TRB (Normal, Data, Setup, Status) delivered to the device. */
static XferResult xfer_packet(XhciState *s, unsigned slot, unsigned dci, XhciTrb *t)
{
    XhciSlot *sl = &s->slots[slot - 1];
    XhciEp *ep = &sl->ep[dci - 1];
    unsigned type = trb_type(t);
    uint32_t len = t->status & 0x1ffff;
    uint8_t pid;
    switch (type) {
    case TRB_SETUP:
        /* Eight bytes of request in the TRB itself (xHCI 6.4.1.2.1). */
        if (!(t->control & TRB_IDT) || len != 8)
            return xfer_fail(s, slot, dci, t, len, CC_TRB);
        pid = USB_TOKEN_SETUP;
        break;
    case TRB_DATA:
        ep->td_flags = (ep->td_flags & ~TD_DIR_IN) | ((t->control & TRB_DIR_IN) ? TD_DIR_IN : 0);
        pid = (t->control & TRB_DIR_IN) ? USB_TOKEN_IN : USB_TOKEN_OUT;
        break;
    case TRB_STATUS:
        len = 0;
        pid = (t->control & TRB_DIR_IN) ? USB_TOKEN_IN : USB_TOKEN_OUT;
        break;
    default: /* Normal */
        if (ep->type == EPT_CONTROL)
            pid = (ep->td_flags & TD_DIR_IN) ? USB_TOKEN_IN : USB_TOKEN_OUT;
        else
            pid = ep_is_in(ep) ? USB_TOKEN_IN : USB_TOKEN_OUT;
        break;
    }
    if (len > XHCI_XFER_MAX)
        return xfer_fail(s, slot, dci, t, len, CC_TRB);
    if (pid != USB_TOKEN_IN && len) {
        if (t->control & TRB_IDT) {
            /* Immediate data: up to 8 bytes in the parameter (xHCI 4.11.7). */
            if (len > 8)
                return xfer_fail(s, slot, dci, t, len, CC_TRB);
            uint64_t le = GUINT64_TO_LE(t->param);
            memcpy(s->buf, &le, len);
        } else if (!xhci_dma_read(s, t->param, s->buf, len)) {
            return xfer_fail(s, slot, dci, t, len, CC_DATA_BUFFER);
        }
    }
    UsbPacket p = { .pid = pid, .addr = sl->addr, .ep = (uint8_t)(dci / 2), .data = s->buf,
                    .max_len = len, .len = pid == USB_TOKEN_IN ? 0 : len };
    int port = sl->port - 1;
    if (xhci_port_enabled(s, port))
        usb_bus_deliver(s->usb, 1u << port, &p);
    else
        p.result = USB_RET_NODEV;
    if (ep_is_isoch(ep) && p.result != USB_RET_SUCCESS) {
        /* Isochronous pipes have no handshake or retry: nothing to send in this interval
         * is an empty packet, and an error is reported on the TD while the endpoint runs
         * on (xHCI 4.10.3.2, 4.11.2.5). */
        if (p.result == USB_RET_NAK) {
            p.len = 0;
        } else {
            transfer_event(s, slot, dci, t->addr, len, CC_USB_TRANSACTION, 0);
            ep->td_flags |= TD_SHORT | TD_REPORTED;
            return XFER_NEXT;
        }
        p.result = USB_RET_SUCCESS;
    }
    switch (p.result) {
    case USB_RET_SUCCESS:
        break;
    case USB_RET_NAK:
        return XFER_NAK;
    case USB_RET_STALL:
        return xfer_fail(s, slot, dci, t, len, CC_STALL);
    case USB_RET_BABBLE:
        return xfer_fail(s, slot, dci, t, len, CC_BABBLE);
    default:
        return xfer_fail(s, slot, dci, t, len, CC_USB_TRANSACTION);
    }
    uint32_t actual = pid == USB_TOKEN_IN ? (uint32_t)MIN(p.len, (size_t)len) : len;
    if (pid == USB_TOKEN_IN && actual && !xhci_dma_write(s, t->param, s->buf, actual))
        return xfer_fail(s, slot, dci, t, len, CC_DATA_BUFFER);
    ep->td_bytes += actual;
    if (actual < len) {
        /* A short packet ends the TD (xHCI 4.10.1.1): one event, on this TRB if it asks
         * for one, else on the TD's later TRB with IOC. */
        ep->td_flags |= TD_SHORT;
        if (t->control & (TRB_ISP | TRB_IOC)) {
            trb_event(s, slot, dci, t, t->addr, len - actual, CC_SHORT_PACKET, 0);
            ep->td_flags |= TD_REPORTED;
        }
    } else if (t->control & TRB_IOC) {
        trb_event(s, slot, dci, t, t->addr, 0, CC_SUCCESS, 0);
        ep->td_flags |= TD_REPORTED;
    }
    return XFER_NEXT;
}

static XferResult xfer_trb(XhciState *s, unsigned slot, unsigned dci, XhciTrb *t)
{
    XhciEp *ep = &s->slots[slot - 1].ep[dci - 1];
    unsigned type = trb_type(t);
    bool control = ep->type == EPT_CONTROL;
    bool valid;
    switch (type) {
    case TRB_NORMAL:
    case TRB_EVENT_DATA:
    case TRB_NOOP:
        valid = true;
        break;
    case TRB_ISOCH:
        /* The first TRB of an isochronous TD (xHCI 6.4.1.3), on isochronous endpoints. */
        valid = ep_is_isoch(ep);
        break;
    case TRB_SETUP:
    case TRB_DATA:
    case TRB_STATUS:
        valid = control;
        break;
    default:
        valid = false;
        break;
    }
    if (!valid)
        return xfer_fail(s, slot, dci, t, 0, CC_TRB);
    XferResult r = XFER_NEXT;
    if (type == TRB_EVENT_DATA) {
        /* Reports the TD's byte count with the TRB's own parameter (xHCI 4.11.5.2). */
        if (t->control & TRB_IOC) {
            trb_event(s, slot, dci, t, t->param, ep->td_bytes,
                      (ep->td_flags & TD_SHORT) ? CC_SHORT_PACKET : CC_SUCCESS, TRB_EV_ED);
            ep->td_flags |= TD_REPORTED;
        }
    } else if (type == TRB_NOOP || (ep->td_flags & TD_SHORT)) {
        /* Skipped after a short packet: the TD's event, if still owed, goes here. */
        if ((t->control & TRB_IOC) && !(ep->td_flags & TD_REPORTED)) {
            unsigned code = (ep->td_flags & TD_SHORT) ? CC_SHORT_PACKET : CC_SUCCESS;
            uint32_t residual = type == TRB_NOOP ? 0 : t->status & 0x1ffff;
            trb_event(s, slot, dci, t, t->addr, residual, code, 0);
            ep->td_flags |= TD_REPORTED;
        }
    } else {
        r = xfer_packet(s, slot, dci, t);
    }
    /* A TRB without the chain bit ends its TD; control transfers' stages each end one
     * (Setup, Data and Status do not chain to each other). */
    if (r == XFER_NEXT && !(t->control & TRB_CH)) {
        ep->td_flags &= TD_DIR_IN;
        ep->td_bytes = 0;
        if (type == TRB_STATUS || type == TRB_SETUP)
            ep->td_flags = 0;
    }
    return r;
}

static int64_t ep_period_ns(const XhciEp *ep)
{
    /* Interrupt endpoints are polled at their interval (xHCI 6.2.3.6); others retry a
     * NAK once per millisecond. */
    if ((ep->type & 3) == 3)
        return (int64_t)MICROFRAME_NS << ep->interval;
    return 8 * MICROFRAME_NS;
}

/* An isochronous endpoint moves one TD per service interval of virtual time (xHCI
 * 4.14.2.1, 6.2.3.6), so a device such as usb-audio receives its stream at the rate the
 * guest's clock says. True when the TD at the dequeue pointer may run now; else the
 * retry timer comes back at its time. A late timer catches up a few intervals; an
 * endpoint idle for longer starts afresh. */
static bool isoch_due(XhciState *s, XhciEp *ep)
{
    int64_t now = xhci_now(s), period = (int64_t)MICROFRAME_NS << ep->interval;
    if (ep->iso_next > now) {
        ep->retry_at = ep->iso_next;
        xhci_retry_rearm(s);
        return false;
    }
    int64_t base = ep->iso_next && now - ep->iso_next < 8 * period ? ep->iso_next : now;
    ep->iso_next = base + period;
    return true;
}

/* How far ahead of the current frame a Frame ID may name one (xHCI 4.11.2.5: at most
 * 895 ms); the other Frame IDs of the 2048-frame wheel lie in the past. */
#define FRAME_ID_AHEAD 895

typedef enum { FRAME_NOW, FRAME_WAIT, FRAME_MISSED } FrameCheck;

/* An Isoch TRB without SIA runs in the 1 ms frame its Frame ID names (MFINDEX bits 13:3,
 * xHCI 4.11.2.5, 6.4.1.3): now when that frame is the current one, later when it is
 * ahead (the retry timer comes back at its start), and a frame already past is a
 * Missed Service Error for the TD. */
static FrameCheck isoch_frame(XhciState *s, XhciEp *ep, const XhciTrb *t)
{
    int64_t now = xhci_now(s), frame_ns = 8 * MICROFRAME_NS;
    int64_t frames = (now - s->mfindex_base) / frame_ns;
    unsigned want = (t->control >> 20) & 0x7ff;
    unsigned ahead = (want - (unsigned)frames) & 0x7ff;
    if (ahead == 0) {
        /* A later ASAP TD keeps the service interval after this one. */
        ep->iso_next = now + ((int64_t)MICROFRAME_NS << ep->interval);
        return FRAME_NOW;
    }
    if (ahead > FRAME_ID_AHEAD)
        return FRAME_MISSED;
    ep->retry_at = s->mfindex_base + (frames + ahead) * frame_ns;
    xhci_retry_rearm(s);
    return FRAME_WAIT;
}

/* Runs an endpoint's ring until it is empty, NAKs, halts or has used its pass. */
static void ep_run(XhciState *s, unsigned slot, unsigned dci)
{
    XhciSlot *sl = &s->slots[slot - 1];
    XhciEp *ep = &sl->ep[dci - 1];
    ep->retry_at = 0;
    for (int n = 0; n < MAX_TRBS_PER_PASS; n++) {
        if (ep->state != EP_RUNNING || !xhci_running(s))
            return;
        uint64_t deq = ep->dequeue;
        uint8_t ccs = ep->dcs;
        XhciTrb t;
        switch (ring_fetch(s, &deq, &ccs, &t)) {
        case FETCH_EMPTY:
            ep->dequeue = deq;
            ep->dcs = ccs;
            return;
        case FETCH_BAD:
            VLOG(LOG_GUEST, "xhci: slot %u endpoint %u: transfer ring at 0x%" G_GINT64_MODIFIER
                 "x outside RAM or looping", slot, dci, deq);
            transfer_event(s, slot, dci, deq, 0, CC_TRB, 0);
            ep_halt(s, sl, dci);
            return;
        case FETCH_OK:
            break;
        }
        ep->dequeue = deq;
        ep->dcs = ccs;
        if (trb_type(&t) == TRB_ISOCH && ep_is_isoch(ep)) {
            if (t.control & TRB_SIA) {
                if (!isoch_due(s, ep))
                    return;
            } else {
                FrameCheck fc = isoch_frame(s, ep, &t);
                if (fc == FRAME_WAIT)
                    return;
                if (fc == FRAME_MISSED) {
                    /* The TD is skipped: its other TRBs pass without events. */
                    transfer_event(s, slot, dci, t.addr, t.status & 0x1ffff, CC_MISSED_SERVICE, 0);
                    ep->td_flags |= TD_SHORT | TD_REPORTED;
                    if (!(t.control & TRB_CH)) {
                        ep->td_flags &= TD_DIR_IN;
                        ep->td_bytes = 0;
                    }
                    ep->dequeue = t.addr + 16;
                    continue;
                }
            }
        }
        XferResult r = xfer_trb(s, slot, dci, &t);
        if (r == XFER_STOP)
            return;
        if (r == XFER_NAK) {
            ep->retry_at = xhci_now(s) + ep_period_ns(ep);
            xhci_retry_rearm(s);
            return;
        }
        ep->dequeue = t.addr + 16;
    }
    /* A full pass: the rest after a short pause, so a vCPU is never held for long. */
    ep->retry_at = xhci_now(s) + CONTINUE_NS;
    xhci_retry_rearm(s);
}

void xhci_doorbell(XhciState *s, unsigned slot, unsigned target)
{
    if (slot < 1 || slot > XHCI_MAX_SLOTS || !s->slots[slot - 1].enabled || target < 1 || target > XHCI_EPS) {
        VLOG(LOG_GUEST, "xhci: doorbell %u target %u: no such slot or endpoint", slot, target);
        return;
    }
    XhciEp *ep = &s->slots[slot - 1].ep[target - 1];
    /* A doorbell restarts a stopped endpoint (xHCI 4.6.9); a halted one waits for
     * Reset Endpoint. */
    if (ep->state == EP_STOPPED)
        ep->state = EP_RUNNING;
    if (ep->state == EP_RUNNING)
        ep_run(s, slot, target);
}

/* ---- the retry timer ---- */

void xhci_retry_rearm(XhciState *s)
{
    int64_t next = INT64_MAX;
    if (s->cmd_more)
        next = xhci_now(s) + CONTINUE_NS;
    for (int i = 0; i < XHCI_MAX_SLOTS; i++) {
        if (!s->slots[i].enabled)
            continue;
        for (int e = 0; e < XHCI_EPS; e++) {
            const XhciEp *ep = &s->slots[i].ep[e];
            if (ep->retry_at && ep->state == EP_RUNNING && ep->retry_at < next)
                next = ep->retry_at;
        }
    }
    /* Nothing pending, or the controller stopped: no timer runs. */
    if (next == INT64_MAX || !xhci_running(s))
        vtimer_del(s->retry_timer);
    else
        vtimer_mod(s->retry_timer, next);
}

void xhci_retry_tick(void *opaque)
{
    XhciState *s = opaque;
    int64_t now = xhci_now(s);
    if (s->cmd_more) {
        s->cmd_more = false;
        xhci_command_ring_run(s);
    }
    for (unsigned i = 0; i < XHCI_MAX_SLOTS; i++) {
        for (unsigned e = 0; e < XHCI_EPS; e++) {
            XhciEp *ep = &s->slots[i].ep[e];
            if (s->slots[i].enabled && ep->retry_at && ep->retry_at <= now && ep->state == EP_RUNNING)
                ep_run(s, i + 1, e + 1);
        }
    }
    xhci_retry_rearm(s);
}

/* ---- commands (xHCI 4.6) ---- */

typedef struct CmdResult {
    unsigned code;
    unsigned slot;
} CmdResult;

static XhciSlot *cmd_slot(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    unsigned id = t->control >> 24;
    res->slot = id;
    if (id < 1 || id > XHCI_MAX_SLOTS || !s->slots[id - 1].enabled) {
        res->code = CC_SLOT_NOT_ENABLED;
        return NULL;
    }
    return &s->slots[id - 1];
}

static void cmd_enable_slot(XhciState *s, CmdResult *res)
{
    unsigned max = MIN(s->config & 0xff, (uint32_t)XHCI_MAX_SLOTS);
    for (unsigned i = 0; i < max; i++) {
        if (!s->slots[i].enabled) {
            memset(&s->slots[i], 0, sizeof(s->slots[i]));
            s->slots[i].enabled = true;
            s->slots[i].state = SLOT_ENABLED;
            res->slot = i + 1;
            return;
        }
    }
    res->code = CC_NO_SLOTS;
}

/* Input context parts: the control context's drop and add flags (xHCI 6.2.5.1), the
 * slot context and the endpoint contexts the add flags name. */
typedef struct InputCtx {
    uint32_t drop, add;
    uint32_t slot[8];
    uint32_t ep[XHCI_EPS][8];
} InputCtx;

static bool input_read(XhciState *s, uint64_t addr, uint32_t need_add, InputCtx *in)
{
    uint32_t ctl[8];
    addr &= ~UINT64_C(0xf);
    if (!ctx_read(s, addr, ctl))
        return false;
    in->drop = ctl[0];
    in->add = ctl[1] | need_add;
    if (!ctx_read(s, addr + CTX_SIZE, in->slot))
        return false;
    for (unsigned dci = 1; dci <= XHCI_EPS; dci++)
        if (((in->add >> dci) & 1) && !ctx_read(s, addr + (uint64_t)CTX_SIZE * (dci + 1), in->ep[dci - 1]))
            return false;
    return true;
}

static void cmd_address_device(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl = cmd_slot(s, t, res);
    if (!sl)
        return;
    bool bsr = t->control & TRB_BSR;
    /* From Enabled, or from Default without BSR (xHCI 4.6.5). */
    if (sl->state != SLOT_ENABLED && (sl->state != SLOT_DEFAULT || bsr)) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    g_autofree InputCtx *in = g_new0(InputCtx, 1);
    uint64_t out = 0;
    if (!input_read(s, t->param, 0, in) || !xhci_dma_read(s, s->dcbaap + 8u * res->slot, &out, 8)) {
        res->code = CC_TRB;
        return;
    }
    out = GUINT64_FROM_LE(out) & ~UINT64_C(0x3f);
    uint32_t probe[8];
    if ((in->add & 3) != 3 || !out || !ctx_read(s, out + (uint64_t)CTX_SIZE * XHCI_EPS, probe)) {
        res->code = CC_PARAMETER;
        return;
    }
    unsigned port = (in->slot[1] >> 16) & 0xff;
    XhciEp ep0;
    if (port < 1 || port > s->p2 + s->p3 || !ep_from_ctx(&ep0, in->ep[0]) || ep0.type != EPT_CONTROL) {
        res->code = CC_PARAMETER;
        return;
    }
    if (!xhci_port_enabled(s, (int)port - 1)) {
        res->code = CC_USB_TRANSACTION;
        return;
    }
    uint8_t addr = 0;
    if (!bsr) {
        /* The controller addresses the device itself (xHCI 4.6.5): SET_ADDRESS with
         * the slot id, then the status stage. */
        uint8_t setup[8] = { 0x00, 5, (uint8_t)res->slot, 0, 0, 0, 0, 0 };
        UsbPacket p = { .pid = USB_TOKEN_SETUP, .addr = 0, .ep = 0, .data = setup, .max_len = 8, .len = 8 };
        usb_bus_deliver(s->usb, 1u << (port - 1), &p);
        if (p.result == USB_RET_SUCCESS) {
            uint8_t none[1];
            p = (UsbPacket){ .pid = USB_TOKEN_IN, .addr = 0, .ep = 0, .data = none, .max_len = 0 };
            usb_bus_deliver(s->usb, 1u << (port - 1), &p);
        }
        if (p.result != USB_RET_SUCCESS) {
            res->code = CC_USB_TRANSACTION;
            return;
        }
        addr = (uint8_t)res->slot;
    }
    for (unsigned i = 0; i < XHCI_EPS; i++)
        memset(&sl->ep[i], 0, sizeof(sl->ep[i]));
    sl->ep[0] = ep0;
    sl->port = (uint8_t)port;
    sl->addr = addr;
    sl->ctx = out;
    sl->state = bsr ? SLOT_DEFAULT : SLOT_ADDRESSED;
    /* The output context: the input slot context with one entry, and endpoint 0. */
    uint32_t slot_ctx[8], ep_ctx[8];
    memcpy(slot_ctx, in->slot, sizeof(slot_ctx));
    slot_ctx[0] = (slot_ctx[0] & ~(0x1fu << 27)) | 1u << 27;
    slot_ctx[3] = addr | (uint32_t)sl->state << 27;
    memcpy(ep_ctx, in->ep[0], sizeof(ep_ctx));
    ep_ctx[0] = (ep_ctx[0] & ~7u) | EP_RUNNING;
    if (!ctx_write(s, out, slot_ctx) || !ctx_write(s, out + CTX_SIZE, ep_ctx))
        xhci_host_error(s, "output device context outside RAM", out);
}

static void slot_disable_eps(XhciSlot *sl, unsigned from_dci)
{
    for (unsigned dci = from_dci; dci <= XHCI_EPS; dci++)
        memset(&sl->ep[dci - 1], 0, sizeof(sl->ep[dci - 1]));
}

static bool slot_has_eps(const XhciSlot *sl)
{
    for (unsigned dci = 2; dci <= XHCI_EPS; dci++)
        if (sl->ep[dci - 1].state != EP_DISABLED)
            return true;
    return false;
}

static void cmd_configure_ep(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl = cmd_slot(s, t, res);
    if (!sl)
        return;
    if (sl->state != SLOT_ADDRESSED && sl->state != SLOT_CONFIGURED) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    if (t->control & TRB_DC) {
        /* Deconfigure: every endpoint but the default one (xHCI 4.6.6). */
        slot_disable_eps(sl, 2);
        sl->state = SLOT_ADDRESSED;
        slot_ctx_store(s, sl);
        return;
    }
    g_autofree InputCtx *in = g_new0(InputCtx, 1);
    if (!input_read(s, t->param, 0, in)) {
        res->code = CC_TRB;
        return;
    }
    /* Check everything before changing anything. */
    XhciEp eps[XHCI_EPS];
    for (unsigned dci = 2; dci <= XHCI_EPS; dci++) {
        if (((in->add >> dci) & 1) && !ep_from_ctx(&eps[dci - 1], in->ep[dci - 1])) {
            res->code = CC_PARAMETER;
            return;
        }
    }
    uint32_t slot_out[8];
    if (!ctx_read(s, sl->ctx, slot_out)) {
        res->code = CC_TRB;
        return;
    }
    for (unsigned dci = 2; dci <= XHCI_EPS; dci++) {
        if ((in->drop >> dci) & 1)
            memset(&sl->ep[dci - 1], 0, sizeof(sl->ep[dci - 1]));
        if ((in->add >> dci) & 1) {
            sl->ep[dci - 1] = eps[dci - 1];
            uint32_t ctx[8];
            memcpy(ctx, in->ep[dci - 1], sizeof(ctx));
            ctx[0] = (ctx[0] & ~7u) | EP_RUNNING;
            if (!ctx_write(s, sl->ctx + (uint64_t)CTX_SIZE * dci, ctx)) {
                xhci_host_error(s, "output endpoint context outside RAM", sl->ctx);
                return;
            }
        } else if ((in->drop >> dci) & 1) {
            ep_ctx_store(s, sl, dci);
        }
    }
    if (in->add & 1)
        slot_out[0] = (slot_out[0] & ~(0x1fu << 27)) | (in->slot[0] & (0x1fu << 27));
    sl->state = slot_has_eps(sl) ? SLOT_CONFIGURED : SLOT_ADDRESSED;
    slot_out[3] = sl->addr | (uint32_t)sl->state << 27;
    if (!ctx_write(s, sl->ctx, slot_out))
        xhci_host_error(s, "output device context outside RAM", sl->ctx);
}

static void cmd_evaluate_ctx(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl = cmd_slot(s, t, res);
    if (!sl)
        return;
    if (sl->state == SLOT_ENABLED) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    g_autofree InputCtx *in = g_new0(InputCtx, 1);
    uint32_t slot_out[8], ep0_out[8];
    if (!input_read(s, t->param, 0, in) || !ctx_read(s, sl->ctx, slot_out) ||
        !ctx_read(s, sl->ctx + CTX_SIZE, ep0_out)) {
        res->code = CC_TRB;
        return;
    }
    /* Only the fields xHCI 6.2.2.2 and 6.2.3.3 name: exit latency, interrupter target,
     * and endpoint 0's maximum packet size. */
    if (in->add & 1) {
        slot_out[1] = (slot_out[1] & ~0xffffu) | (in->slot[1] & 0xffff);
        slot_out[2] = (slot_out[2] & 0x3fffffu) | (in->slot[2] & ~0x3fffffu);
    }
    if (in->add & 2) {
        ep0_out[1] = (ep0_out[1] & 0xffff) | (in->ep[0][1] & 0xffff0000u);
        sl->ep[0].max_packet = in->ep[0][1] >> 16;
    }
    if (!ctx_write(s, sl->ctx, slot_out) || !ctx_write(s, sl->ctx + CTX_SIZE, ep0_out))
        xhci_host_error(s, "output device context outside RAM", sl->ctx);
}

static XhciEp *cmd_ep(XhciState *s, const XhciTrb *t, CmdResult *res, XhciSlot **slp, unsigned *dci)
{
    XhciSlot *sl = cmd_slot(s, t, res);
    if (!sl)
        return NULL;
    *dci = (t->control >> 16) & 0x1f;
    if (*dci < 1 || sl->ep[*dci - 1].state == EP_DISABLED) {
        res->code = CC_EP_NOT_ENABLED;
        return NULL;
    }
    *slp = sl;
    return &sl->ep[*dci - 1];
}

static void cmd_reset_ep(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl;
    unsigned dci;
    XhciEp *ep = cmd_ep(s, t, res, &sl, &dci);
    if (!ep)
        return;
    if (ep->state != EP_HALTED) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    ep->state = EP_STOPPED;
    ep->td_flags = 0;
    ep->td_bytes = 0;
    ep_ctx_store(s, sl, dci);
}

static void cmd_stop_ep(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl;
    unsigned dci;
    XhciEp *ep = cmd_ep(s, t, res, &sl, &dci);
    if (!ep)
        return;
    if (ep->state != EP_RUNNING) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    /* A TRB waiting for its retry was being worked on: its event says Stopped, with
     * what it did not move (xHCI 4.6.9). */
    if (ep->retry_at) {
        uint64_t deq = ep->dequeue;
        uint8_t ccs = ep->dcs;
        XhciTrb pending;
        if (ring_fetch(s, &deq, &ccs, &pending) == FETCH_OK)
            transfer_event(s, res->slot, dci, pending.addr, pending.status & 0x1ffff, CC_STOPPED, 0);
    }
    ep->state = EP_STOPPED;
    ep->retry_at = 0;
    ep_ctx_store(s, sl, dci);
}

static void cmd_set_tr_deq(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl;
    unsigned dci;
    XhciEp *ep = cmd_ep(s, t, res, &sl, &dci);
    if (!ep)
        return;
    if (ep->state != EP_STOPPED && ep->state != EP_ERROR) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    uint64_t deq = t->param & ~UINT64_C(0xf);
    if (!deq) {
        res->code = CC_PARAMETER;
        return;
    }
    ep->dequeue = deq;
    ep->dcs = t->param & 1;
    ep->td_flags = 0;
    ep->td_bytes = 0;
    ep_ctx_store(s, sl, dci);
}

static void cmd_reset_device(XhciState *s, const XhciTrb *t, CmdResult *res)
{
    XhciSlot *sl = cmd_slot(s, t, res);
    if (!sl)
        return;
    /* xHCI 4.6.11 refuses a slot in Default; Linux issues it after the port reset
     * that follows its first Address Device (BSR=1), so it is accepted there too. */
    if (sl->state == SLOT_ENABLED) {
        res->code = CC_CONTEXT_STATE;
        return;
    }
    slot_disable_eps(sl, 2);
    sl->state = SLOT_DEFAULT;
    sl->addr = 0;
    slot_ctx_store(s, sl);
}

static void command_execute(XhciState *s, const XhciTrb *t)
{
    CmdResult res = { .code = CC_SUCCESS, .slot = 0 };
    switch (trb_type(t)) {
    case TRB_CMD_ENABLE_SLOT:
        cmd_enable_slot(s, &res);
        break;
    case TRB_CMD_DISABLE_SLOT: {
        XhciSlot *sl = cmd_slot(s, t, &res);
        if (sl)
            memset(sl, 0, sizeof(*sl));
        break;
    }
    case TRB_CMD_ADDRESS_DEVICE:
        cmd_address_device(s, t, &res);
        break;
    case TRB_CMD_CONFIGURE_EP:
        cmd_configure_ep(s, t, &res);
        break;
    case TRB_CMD_EVALUATE_CTX:
        cmd_evaluate_ctx(s, t, &res);
        break;
    case TRB_CMD_RESET_EP:
        cmd_reset_ep(s, t, &res);
        break;
    case TRB_CMD_STOP_EP:
        cmd_stop_ep(s, t, &res);
        break;
    case TRB_CMD_SET_TR_DEQ:
        cmd_set_tr_deq(s, t, &res);
        break;
    case TRB_CMD_RESET_DEVICE:
        cmd_reset_device(s, t, &res);
        break;
    case TRB_CMD_NOOP:
        break;
    case TRB_CMD_NEC_GET_FW:
        if (s->nec) {
            /* NEC's vendor command, which Linux sends to hosts with NEC's IDs: the
             * firmware revision (3.025, as QEMU's model reports) in its own event. */
            xhci_post_event(s, t->addr, (uint32_t)CC_SUCCESS << 24 | 0x3025,
                            (uint32_t)TRB_EV_NEC_CMD_COMPLETE << 10);
            return;
        }
        res.code = CC_TRB;
        break;
    default:
        VLOG(LOG_GUEST, "xhci: command TRB type %u at 0x%" G_GINT64_MODIFIER "x not supported",
             trb_type(t), t->addr);
        res.code = CC_TRB;
        break;
    }
    if (!xhci_running(s))
        return;
    xhci_post_event(s, t->addr, (uint32_t)res.code << 24,
                    (uint32_t)TRB_EV_CMD_COMPLETE << 10 | (res.slot & 0xff) << 24);
}

void xhci_command_ring_run(XhciState *s)
{
    if (!xhci_running(s))
        return;
    s->crr = true;
    for (int n = 0; n < MAX_TRBS_PER_PASS; n++) {
        uint64_t deq = s->crcr;
        uint8_t ccs = s->crcs;
        XhciTrb t;
        FetchResult r = ring_fetch(s, &deq, &ccs, &t);
        if (r == FETCH_BAD) {
            xhci_host_error(s, "command ring outside RAM or looping", deq);
            return;
        }
        s->crcr = deq;
        s->crcs = ccs;
        if (r == FETCH_EMPTY || !s->crr)
            return;
        command_execute(s, &t);
        if (!xhci_running(s))
            return;
        s->crcr = t.addr + 16;
    }
    s->cmd_more = true;
    xhci_retry_rearm(s);
}

/* ---- reset and state ---- */

void xhci_slots_reset(XhciState *s)
{
    memset(s->slots, 0, sizeof(s->slots));
}

bool xhci_slots_check(const XhciState *s, GError **err)
{
    for (int i = 0; i < XHCI_MAX_SLOTS; i++) {
        const XhciSlot *sl = &s->slots[i];
        bool bad = sl->state > SLOT_CONFIGURED || sl->port > s->p2 + s->p3 || sl->addr > 127;
        for (int e = 0; e < XHCI_EPS && !bad; e++) {
            const XhciEp *ep = &sl->ep[e];
            bad = ep->state > EP_ERROR || ep->type > 7 || ep->interval > 15 || ep->dcs > 1 ||
                  (ep->dequeue & 0xf) || ep->retry_at < 0 || (!sl->enabled && ep->state != EP_DISABLED);
        }
        if (bad) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "xHCI slot %d: state out of range", i + 1);
            return false;
        }
    }
    return true;
}

static const VmStateField xhci_ep_fields[] = {
    VMSTATE_U8(XhciEp, state),
    VMSTATE_U8(XhciEp, type),
    VMSTATE_U8(XhciEp, interval),
    VMSTATE_U8(XhciEp, dcs),
    VMSTATE_U8(XhciEp, td_flags),
    VMSTATE_U16(XhciEp, max_packet),
    VMSTATE_U32(XhciEp, td_bytes),
    VMSTATE_U64(XhciEp, dequeue),
    VMSTATE_I64(XhciEp, retry_at),
    VMSTATE_END,
};

static const VmStateDesc xhci_ep_vmsd = {
    .name = "xhci-ep",
    .version = 1,
    .fields = xhci_ep_fields,
};

static const VmStateField xhci_slot_fields[] = {
    VMSTATE_BOOL(XhciSlot, enabled),
    VMSTATE_U8(XhciSlot, state),
    VMSTATE_U8(XhciSlot, port),
    VMSTATE_U8(XhciSlot, addr),
    VMSTATE_U64(XhciSlot, ctx),
    VMSTATE_STRUCT_ARRAY(XhciSlot, ep, XHCI_EPS, XhciEp, &xhci_ep_vmsd),
    VMSTATE_END,
};

const VmStateDesc xhci_slot_vmsd = {
    .name = "xhci-slot",
    .version = 1,
    .fields = xhci_slot_fields,
};
