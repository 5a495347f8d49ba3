/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-redir: a USB device whose other end is a usbredir peer on a chardev (QEMU's
 * -device usb-redir,chardev=ID): usbredirect on a socket, or a SPICE client's USB
 * redirection on -chardev spicevmc,name=usbredir. The protocol (hello and caps,
 * device_connect/disconnect, interface_info, ep_info, control, bulk and interrupt packets)
 * is parsed by libusbredirparser; isochronous endpoints are not carried yet (they stall).
 *
 * The device appears on the bus when the peer connects a device: its device and
 * configuration descriptors are fetched from the peer first (the core answers the
 * guest's GET_DESCRIPTOR from them). A disconnect from the peer, or the chardev's client
 * going away, is an unplug in the guest; the usb-redir object stays for the next one.
 *
 * Transfers are asynchronous as in usb-host: the first attempt sends the packet to the
 * peer and NAKs, the controller's retries NAK until the answer arrived, then take it.
 * Control requests wait the same way (USB_CONTROL_ASYNC in hw/usb/usb.h).
 *
 * Lock rules: the chardev's input arrives on the main context with the engine lock held
 * (chardev_set_receiver's lock_fn); the guest side runs under it too, so the parser is
 * only ever touched under the engine lock. */
#include "hw/usb/usb.h"

#include <stdlib.h>
#include <string.h>
#include <usbredirparser.h>

#include "engine/chardev.h"
#include "engine/vm.h"
#include "vireo-config.h"

#define REDIR_INTR_QUEUE 64     /* interrupt IN reports kept before the oldest is dropped */
#define REDIR_CONFIG_MAX 4096   /* the largest configuration descriptor taken */

/* What the descriptor fetch after a device_connect waits for. */
enum { FETCH_NONE, FETCH_DEVICE, FETCH_CONFIG_HEAD, FETCH_CONFIG, FETCH_STRING };

/* One bulk/interrupt transfer per endpoint and direction (index: in ? 16 + ep : ep). */
typedef struct RedirXfer {
    bool busy, done;
    uint64_t id;
    UsbResult result;
    uint8_t *data;
    size_t len;
} RedirXfer;

typedef struct RedirReport {
    uint8_t status;
    size_t len;
    uint8_t data[];
} RedirReport;

typedef struct RedirState {
    UsbDevice usb;
    Chardev *chr;
    struct usbredirparser *parser;
    const uint8_t *in_buf; /* the chardev input being parsed (read_func takes from it) */
    size_t in_len;
    bool failed;           /* bad data: the rest of this client's input is ignored */
    bool attached;
    uint64_t next_id;
    /* The peer's device. */
    struct usb_redir_device_connect_header conn;
    struct usb_redir_ep_info_header ep;
    int fetch;
    uint64_t fetch_id;
    uint8_t dev_desc[18];
    uint8_t *config;
    size_t config_len;
    char **strings;        /* the device descriptor's strings (manufacturer, product, serial) */
    size_t n_strings;
    int string_pos;        /* FETCH_STRING: which of dev_desc[14..16] is asked for */
    UsbDescriptors desc;
    /* The guest's control request waiting for the peer. */
    bool ctrl_busy;
    uint64_t ctrl_id;
    RedirXfer xfer[32];
    GQueue reports[16];
    bool intr_started[16];
    uint8_t alt[32];
} RedirState;

static const char *redir_name(RedirState *s)
{
    return s->usb.dev.id ? s->usb.dev.id : "usb-redir";
}

static void redir_flush_out(RedirState *s)
{
    while (s->parser && usbredirparser_has_data_to_write(s->parser))
        if (usbredirparser_do_write(s->parser) < 0)
            break;
}

static void redir_xfers_clear(RedirState *s)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(s->xfer); i++) {
        g_free(s->xfer[i].data);
        memset(&s->xfer[i], 0, sizeof(s->xfer[i]));
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(s->reports); i++) {
        g_queue_clear_full(&s->reports[i], g_free);
        s->intr_started[i] = false;
    }
    s->ctrl_busy = false;
}

/* The peer's device leaves the guest (a disconnect, the client gone, bad data); why is
 * the line printed, NULL when the caller printed one. */
static void redir_device_gone(RedirState *s, const char *why)
{
    if (s->attached) {
        if (why)
            g_printerr("vireo: usb-redir %s: %s; unplugged from the guest\n", redir_name(s), why);
        usb_device_unplug(&s->usb.dev);
        s->attached = false;
    }
    redir_xfers_clear(s);
    s->fetch = FETCH_NONE;
    g_free(s->config);
    s->config = NULL;
    s->config_len = 0;
    for (size_t i = 0; i < s->n_strings; i++)
        g_free(s->strings[i]);
    g_free(s->strings);
    s->strings = NULL;
    s->n_strings = 0;
    memset(s->alt, 0, sizeof(s->alt));
}

static void redir_protocol_error(RedirState *s, const char *what)
{
    if (s->failed)
        return;
    g_printerr("vireo: usb-redir %s: bad data from the peer (%s); its device is disconnected\n", redir_name(s),
               what);
    s->failed = true;
    redir_device_gone(s, NULL); /* the line above said it */
}

/* ---- parser callbacks (engine lock held) ---- */

static void redir_log(void *priv, int level, const char *msg)
{
    RedirState *s = priv;
    if (level <= usbredirparser_error)
        redir_protocol_error(s, msg);
}

static int redir_read(void *priv, uint8_t *data, int count)
{
    RedirState *s = priv;
    size_t n = MIN((size_t)count, s->in_len);
    memcpy(data, s->in_buf, n);
    s->in_buf += n;
    s->in_len -= n;
    return (int)n;
}

static int redir_write(void *priv, uint8_t *data, int count)
{
    RedirState *s = priv;
    chardev_write(s->chr, data, (size_t)count);
    return count;
}

static void redir_send_control(RedirState *s, uint64_t id, uint8_t type, uint8_t req, uint16_t value,
                               uint16_t index, uint16_t length, uint8_t *data)
{
    struct usb_redir_control_packet_header h = {
        .endpoint = type & 0x80, .request = req, .requesttype = type, .value = value, .index = index,
        .length = length,
    };
    usbredirparser_send_control_packet(s->parser, id, &h, (type & 0x80) ? NULL : data,
                                       (type & 0x80) ? 0 : length);
    redir_flush_out(s);
}

static void redir_fetch(RedirState *s, int what, uint16_t value, uint16_t length)
{
    s->fetch = what;
    s->fetch_id = ++s->next_id;
    redir_send_control(s, s->fetch_id, 0x80, 6 /* GET_DESCRIPTOR */, value, 0, length, NULL);
}

static void redir_hello(void *priv, struct usb_redir_hello_header *h)
{
    (void)priv;
    (void)h;
}

static void redir_device_connect(void *priv, struct usb_redir_device_connect_header *h)
{
    RedirState *s = priv;
    if (s->attached || s->fetch != FETCH_NONE) {
        redir_protocol_error(s, "a second device_connect");
        return;
    }
    if (h->speed > usb_redir_speed_super) {
        redir_protocol_error(s, "unknown speed");
        return;
    }
    redir_device_gone(s, NULL); /* what an earlier device left (one that could not attach) */
    s->conn = *h;
    redir_fetch(s, FETCH_DEVICE, USB_DT_DEVICE << 8, 18);
}

static void redir_device_disconnect(void *priv)
{
    RedirState *s = priv;
    redir_device_gone(s, "the peer's device left");
    /* The parser queues the device_disconnect_ack itself when both sides have the cap. */
    redir_flush_out(s);
}

static void redir_interface_info(void *priv, struct usb_redir_interface_info_header *h)
{
    (void)priv;
    (void)h; /* the configuration descriptor says the same, and it is what the guest reads */
}

static void redir_ep_info(void *priv, struct usb_redir_ep_info_header *h)
{
    RedirState *s = priv;
    s->ep = *h;
}

static void redir_status_only(void *priv, uint64_t id, void *h)
{
    (void)priv;
    (void)id;
    (void)h; /* set_configuration/set_alt_setting answers: a refusal shows on the endpoints */
}

/* Data of kinds not carried yet (isochronous, buffered bulk): dropped. */
static void redir_drop_iso(void *priv, uint64_t id, struct usb_redir_iso_packet_header *h, uint8_t *data, int len)
{
    RedirState *s = priv;
    (void)id, (void)h, (void)len;
    usbredirparser_free_packet_data(s->parser, data);
}

static void redir_drop_buffered(void *priv, uint64_t id, struct usb_redir_buffered_bulk_packet_header *h,
                                uint8_t *data, int len)
{
    RedirState *s = priv;
    (void)id, (void)h, (void)len;
    usbredirparser_free_packet_data(s->parser, data);
}

static void redir_filter_filter(void *priv, struct usbredirfilter_rule *rules, int count)
{
    (void)priv, (void)count;
    free(rules); /* ours to free (usbredirparser.h); Vireo offers every device it is given */
}

static void redir_filter_reject(void *priv)
{
    (void)priv;
}

static UsbResult redir_result(uint8_t status)
{
    switch (status) {
    case usb_redir_success: return USB_RET_SUCCESS;
    case usb_redir_stall: return USB_RET_STALL;
    case usb_redir_babble: return USB_RET_BABBLE;
    default: return USB_RET_NODEV; /* cancelled, I/O error, timeout: no handshake */
    }
}

/* The descriptors are complete: the device appears on the guest's bus. */
static void redir_attach(RedirState *s)
{
    s->desc.device = s->dev_desc;
    s->desc.config = s->config;
    s->desc.config_len = s->config_len;
    s->desc.strings = (const char *const *)s->strings;
    s->desc.n_strings = s->n_strings;
    s->usb.desc = &s->desc;
    s->usb.speed = (UsbSpeed)s->conn.speed;
    usb_device_reset_core(&s->usb);
    g_autoptr(GError) err = NULL;
    if (!usb_device_attach(&s->usb, &err)) {
        g_printerr("vireo: usb-redir %s: the peer's device %04x:%04x cannot be attached: %s\n", redir_name(s),
                   s->conn.vendor_id, s->conn.product_id, err->message);
        return;
    }
    s->attached = true;
}

/* The next of the device descriptor's strings (iManufacturer, iProduct, iSerialNumber,
 * USB 2.0 table 9-8) in US English, or the attach when all were asked for. */
static void redir_fetch_next_string(RedirState *s)
{
    while (s->string_pos < 3) {
        uint8_t idx = s->dev_desc[14 + s->string_pos];
        if (idx) {
            redir_fetch(s, FETCH_STRING, (uint16_t)(USB_DT_STRING << 8 | idx), 255);
            return;
        }
        s->string_pos++;
    }
    s->fetch = FETCH_NONE;
    redir_attach(s);
}

static void redir_fetch_answer(RedirState *s, struct usb_redir_control_packet_header *h, const uint8_t *data,
                               int len)
{
    if (s->fetch == FETCH_STRING) {
        /* A string the device lacks stays unset (the core stalls a request for it). */
        uint8_t idx = s->dev_desc[14 + s->string_pos];
        if (h->status == usb_redir_success && len >= 2 && data[1] == USB_DT_STRING && data[0] <= len) {
            size_t chars = (size_t)(data[0] - 2) / 2;
            char *text = g_malloc(chars + 1);
            for (size_t i = 0; i < chars; i++) {
                unsigned c = data[2 + 2 * i] | data[3 + 2 * i] << 8;
                text[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
            }
            text[chars] = 0;
            if (idx > s->n_strings) {
                s->strings = g_renew(char *, s->strings, idx);
                memset(s->strings + s->n_strings, 0, (idx - s->n_strings) * sizeof(char *));
                s->n_strings = idx;
            }
            g_free(s->strings[idx - 1]);
            s->strings[idx - 1] = text;
        }
        s->string_pos++;
        redir_fetch_next_string(s);
        return;
    }
    if (h->status != usb_redir_success) {
        g_printerr("vireo: usb-redir %s: the peer's device did not give its descriptors\n", redir_name(s));
        s->fetch = FETCH_NONE;
        return;
    }
    if (s->fetch == FETCH_DEVICE) {
        if (len != 18 || data[0] != 18 || data[1] != USB_DT_DEVICE) {
            redir_protocol_error(s, "a bad device descriptor");
            return;
        }
        memcpy(s->dev_desc, data, 18);
        redir_fetch(s, FETCH_CONFIG_HEAD, USB_DT_CONFIG << 8, 9);
    } else if (s->fetch == FETCH_CONFIG_HEAD) {
        if (len != 9 || data[1] != USB_DT_CONFIG) {
            redir_protocol_error(s, "a bad configuration descriptor");
            return;
        }
        unsigned total = data[2] | data[3] << 8;
        if (total < 9 || total > REDIR_CONFIG_MAX) {
            redir_protocol_error(s, "a configuration descriptor of a bad length");
            return;
        }
        redir_fetch(s, FETCH_CONFIG, USB_DT_CONFIG << 8, (uint16_t)total);
    } else {
        if (len < 9 || len > REDIR_CONFIG_MAX || data[1] != USB_DT_CONFIG || (data[2] | data[3] << 8) != len) {
            redir_protocol_error(s, "a configuration descriptor of a bad length");
            return;
        }
        s->config = g_memdup2(data, (gsize)len);
        s->config_len = (size_t)len;
        s->string_pos = 0;
        redir_fetch_next_string(s);
    }
}

static void redir_control_packet(void *priv, uint64_t id, struct usb_redir_control_packet_header *h,
                                 uint8_t *data, int len)
{
    RedirState *s = priv;
    if (id > s->next_id)
        redir_protocol_error(s, "an answer to a request never made");
    else if (s->fetch != FETCH_NONE && id == s->fetch_id)
        redir_fetch_answer(s, h, data, len);
    else if (s->ctrl_busy && id == s->ctrl_id) {
        s->ctrl_busy = false;
        int n = -1;
        if (h->status == usb_redir_success) {
            n = (h->requesttype & 0x80) ? len : 0;
            if (n > USB_CTRL_BUF)
                n = -1; /* more than the request asked for: the core stalls it too */
            else if (n > 0)
                memcpy(s->usb.ctrl_buf, data, (size_t)n);
        }
        usb_device_control_done(&s->usb, n);
    }
    /* Anything else answers a request the guest gave up on (a reset, a new SETUP). */
    usbredirparser_free_packet_data(s->parser, data);
}

static void redir_data_answer(RedirState *s, uint64_t id, uint8_t ep, uint8_t status, uint8_t *data, int len)
{
    if (id > s->next_id) {
        redir_protocol_error(s, "an answer to a transfer never made");
        return;
    }
    RedirXfer *x = &s->xfer[((ep & 0x80) >> 3) | (ep & 15)];
    if (!x->busy || x->id != id)
        return; /* a transfer flushed by a reset or a new configuration */
    x->busy = false;
    x->done = true;
    x->result = redir_result(status);
    if (ep & 0x80) {
        x->data = g_memdup2(data, (gsize)len);
        x->len = (size_t)len;
    }
}

static void redir_bulk_packet(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data,
                              int len)
{
    RedirState *s = priv;
    redir_data_answer(s, id, h->endpoint, h->status, data, len);
    usbredirparser_free_packet_data(s->parser, data);
}

static void redir_interrupt_packet(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *h,
                                   uint8_t *data, int len)
{
    RedirState *s = priv;
    if (h->endpoint & 0x80) {
        /* A report from a started interrupt IN endpoint, queued until the guest polls. */
        unsigned n = h->endpoint & 15;
        if (!s->intr_started[n]) {
            if (id > s->next_id && id != 0)
                redir_protocol_error(s, "a report for an endpoint not started");
        } else {
            if (g_queue_get_length(&s->reports[n]) >= REDIR_INTR_QUEUE)
                g_free(g_queue_pop_head(&s->reports[n]));
            RedirReport *r = g_malloc(sizeof(*r) + (size_t)len);
            r->status = h->status;
            r->len = (size_t)len;
            memcpy(r->data, data, (size_t)len);
            g_queue_push_tail(&s->reports[n], r);
        }
    } else {
        redir_data_answer(s, id, h->endpoint, h->status, data, len);
    }
    usbredirparser_free_packet_data(s->parser, data);
}

/* ---- the guest side (engine lock held) ---- */

static void redir_mark_halt(UsbDevice *d, UsbPacket *p)
{
    if (p->result != USB_RET_STALL)
        return;
    if (p->pid == USB_TOKEN_IN)
        d->halted_in |= (uint16_t)(1u << p->ep);
    else
        d->halted_out |= (uint16_t)(1u << p->ep);
}

static void redir_hand_in(UsbPacket *p, UsbResult result, const uint8_t *data, size_t len)
{
    p->result = result;
    p->len = 0;
    if (result != USB_RET_SUCCESS)
        return;
    if (len > p->max_len) {
        p->result = USB_RET_BABBLE;
        len = p->max_len;
    }
    if (len)
        memcpy(p->data, data, len);
    p->len = len;
}

static void redir_data(UsbDevice *d, UsbPacket *p)
{
    RedirState *s = (RedirState *)d;
    bool in = p->pid == USB_TOKEN_IN;
    unsigned idx = (in ? 16 : 0) | (p->ep & 15);
    uint8_t ep = (uint8_t)((in ? 0x80 : 0) | (p->ep & 15));
    if (!s->attached || !s->parser) {
        p->result = USB_RET_NODEV;
        return;
    }
    uint8_t type = s->ep.type[idx];
    if (type == usb_redir_type_interrupt && in) {
        unsigned n = p->ep & 15;
        if (!s->intr_started[n]) {
            struct usb_redir_start_interrupt_receiving_header h = { .endpoint = ep };
            usbredirparser_send_start_interrupt_receiving(s->parser, ++s->next_id, &h);
            redir_flush_out(s);
            s->intr_started[n] = true;
        }
        RedirReport *r = g_queue_pop_head(&s->reports[n]);
        if (!r) {
            p->result = USB_RET_NAK;
            p->len = 0;
            return;
        }
        redir_hand_in(p, redir_result(r->status), r->data, r->len);
        g_free(r);
        redir_mark_halt(d, p);
        return;
    }
    if (type != usb_redir_type_bulk && type != usb_redir_type_interrupt) {
        p->result = USB_RET_STALL; /* isochronous (not carried yet) or no such endpoint */
        p->len = 0;
        return;
    }
    RedirXfer *x = &s->xfer[idx];
    if (x->done) {
        if (in)
            redir_hand_in(p, x->result, x->data, x->len);
        else
            p->result = x->result;
        g_free(x->data);
        memset(x, 0, sizeof(*x));
        redir_mark_halt(d, p);
        return;
    }
    p->result = USB_RET_NAK;
    if (in)
        p->len = 0;
    if (x->busy)
        return;
    x->busy = true;
    x->id = ++s->next_id;
    uint32_t len = (uint32_t)(in ? p->max_len : p->len);
    if (type == usb_redir_type_bulk) {
        struct usb_redir_bulk_packet_header h = { .endpoint = ep, .length = (uint16_t)len,
                                                  .length_high = (uint16_t)(len >> 16) };
        usbredirparser_send_bulk_packet(s->parser, x->id, &h, in ? NULL : p->data, in ? 0 : (int)len);
    } else {
        struct usb_redir_interrupt_packet_header h = { .endpoint = ep, .length = (uint16_t)len };
        usbredirparser_send_interrupt_packet(s->parser, x->id, &h, p->data, (int)len);
    }
    redir_flush_out(s);
}

static int redir_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    RedirState *s = (RedirState *)d;
    if (!s->attached || !s->parser)
        return -1;
    s->ctrl_busy = true;
    s->ctrl_id = ++s->next_id;
    redir_send_control(s, s->ctrl_id, st->type, st->request, st->value, st->index, st->length, data);
    return USB_CONTROL_ASYNC;
}

static void redir_request_done(UsbDevice *d, const UsbSetup *st)
{
    RedirState *s = (RedirState *)d;
    if (!s->attached || !s->parser)
        return;
    if (st->request == 1 /* CLEAR_FEATURE */ && (st->type & 3) == 2) {
        /* The halt is cleared on the real endpoint too; its answer is not waited for. */
        redir_send_control(s, ++s->next_id, st->type, st->request, st->value, st->index, 0, NULL);
    } else if (st->request == 9 /* SET_CONFIGURATION */) {
        redir_xfers_clear(s);
        memset(s->alt, 0, sizeof(s->alt));
        struct usb_redir_set_configuration_header h = { .configuration = (uint8_t)st->value };
        usbredirparser_send_set_configuration(s->parser, ++s->next_id, &h);
        redir_flush_out(s);
    }
}

static int redir_set_interface(UsbDevice *d, uint8_t iface, uint8_t alt)
{
    RedirState *s = (RedirState *)d;
    if (!s->attached || !s->parser || iface >= G_N_ELEMENTS(s->alt))
        return -1;
    struct usb_redir_set_alt_setting_header h = { .interface = iface, .alt = alt };
    usbredirparser_send_set_alt_setting(s->parser, ++s->next_id, &h);
    redir_flush_out(s);
    s->alt[iface] = alt;
    return 0;
}

static uint8_t redir_get_interface(UsbDevice *d, uint8_t iface)
{
    RedirState *s = (RedirState *)d;
    return iface < G_N_ELEMENTS(s->alt) ? s->alt[iface] : 0;
}

static const UsbDeviceOps redir_ops = {
    .control = redir_control,
    .data = redir_data,
    .request_done = redir_request_done,
    .set_interface = redir_set_interface,
    .get_interface = redir_get_interface,
};

/* ---- the chardev ---- */

static void redir_parser_free(RedirState *s)
{
    if (s->parser)
        usbredirparser_destroy(s->parser);
    s->parser = NULL;
}

/* A new client: a fresh parser, whose init queues our hello. */
static void redir_parser_new(RedirState *s)
{
    redir_parser_free(s);
    struct usbredirparser *p = usbredirparser_create();
    p->priv = s;
    p->log_func = redir_log;
    p->read_func = redir_read;
    p->write_func = redir_write;
    p->hello_func = redir_hello;
    p->device_connect_func = redir_device_connect;
    p->device_disconnect_func = redir_device_disconnect;
    p->interface_info_func = redir_interface_info;
    p->ep_info_func = redir_ep_info;
    p->configuration_status_func = (usbredirparser_configuration_status)redir_status_only;
    p->alt_setting_status_func = (usbredirparser_alt_setting_status)redir_status_only;
    p->interrupt_receiving_status_func = (usbredirparser_interrupt_receiving_status)redir_status_only;
    p->control_packet_func = redir_control_packet;
    p->bulk_packet_func = redir_bulk_packet;
    p->interrupt_packet_func = redir_interrupt_packet;
    /* Every kind the usb-host side may send gets a callback: the parser calls them
     * without checking. */
    p->iso_stream_status_func = (usbredirparser_iso_stream_status)redir_status_only;
    p->bulk_streams_status_func = (usbredirparser_bulk_streams_status)redir_status_only;
    p->bulk_receiving_status_func = (usbredirparser_bulk_receiving_status)redir_status_only;
    p->iso_packet_func = redir_drop_iso;
    p->buffered_bulk_packet_func = redir_drop_buffered;
    p->filter_reject_func = redir_filter_reject;
    p->filter_filter_func = redir_filter_filter;
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0 };
    usbredirparser_caps_set_cap(caps, usb_redir_cap_connect_device_version);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_device_disconnect_ack);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_ep_info_max_packet_size);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_64bits_ids);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_32bits_bulk_length);
    s->parser = p;
    s->failed = false;
    s->next_id = 0;
    usbredirparser_init(p, "vireo " VIREO_VERSION, caps, USB_REDIR_CAPS_SIZE, 0);
    redir_flush_out(s);
}

static size_t redir_can_read(void *opaque)
{
    (void)opaque;
    return 65536;
}

static void redir_chr_read(void *opaque, const uint8_t *buf, size_t len)
{
    RedirState *s = opaque;
    if (!s->parser)
        redir_parser_new(s);
    if (s->failed)
        return;
    s->in_buf = buf;
    s->in_len = len;
    while (s->in_len && !s->failed) {
        int r = usbredirparser_do_read(s->parser);
        if (r == usbredirparser_read_parse_error || r == usbredirparser_read_io_error)
            redir_protocol_error(s, "a malformed packet");
        else if (r < 0)
            break;
    }
    s->in_len = 0;
    s->in_buf = NULL;
}

static void redir_chr_open(void *opaque, bool open)
{
    RedirState *s = opaque;
    if (open) {
        redir_parser_new(s);
    } else {
        redir_device_gone(s, "the usbredir peer went away");
        redir_parser_free(s);
    }
}

static void redir_lock(void *vm)
{
    vm_lock(vm);
}

static void redir_unlock(void *vm)
{
    vm_unlock(vm);
}

/* ---- the device object ---- */

/* device_del: only a device on the bus has a port to leave. */
static void redir_unplug(Device *dev)
{
    RedirState *s = (RedirState *)dev;
    if (s->attached)
        usb_device_unplug(dev);
    s->attached = false;
}

static void redir_reset(Device *dev)
{
    RedirState *s = (RedirState *)dev;
    usb_device_reset_core(&s->usb);
    /* Answers to what was in flight are dropped when they come (their ids mismatch). */
    redir_xfers_clear(s);
    memset(s->alt, 0, sizeof(s->alt));
    if (s->attached && s->parser) {
        usbredirparser_send_reset(s->parser);
        redir_flush_out(s);
    }
}

static bool redir_realize(Device *dev, GError **err)
{
    RedirState *s = (RedirState *)dev;
    if (!s->chr) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "usb-redir needs chardev=ID (a -chardev socket or spicevmc,name=usbredir)");
        return false;
    }
    s->usb.ops = &redir_ops;
    for (unsigned i = 0; i < G_N_ELEMENTS(s->reports); i++)
        g_queue_init(&s->reports[i]);
    chardev_set_receiver(s->chr, redir_can_read, redir_chr_read, s, redir_lock, redir_unlock, dev->vm);
    chardev_set_open_handler(s->chr, redir_chr_open);
    /* A spicevmc chardev is offered to the SPICE server's clients while its device end
     * is open. */
    chardev_set_fe_open(s->chr, true);
    if (chardev_connected(s->chr))
        redir_parser_new(s);
    return true;
}

static void redir_unrealize(Device *dev)
{
    RedirState *s = (RedirState *)dev;
    if (s->chr) {
        chardev_set_fe_open(s->chr, false);
        chardev_set_receiver(s->chr, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    if (s->attached)
        usb_device_detach(&s->usb);
    s->attached = false;
    redir_device_gone(s, NULL);
    redir_parser_free(s);
}

static bool redir_check(const void *state, GError **err)
{
    const RedirState *s = state;
    return usb_device_state_check(&s->usb, err);
}

/* After a load the peer knows nothing of the saved run: what was in flight is dropped
 * (the guest's controller retries its transfers), a control request left waiting
 * stalls, and the guest re-reads what it needs. */
static void redir_post_load(void *state)
{
    RedirState *s = state;
    redir_xfers_clear(s);
    if (usb_device_control_waiting(&s->usb))
        usb_device_control_done(&s->usb, -1);
}

static const VmStateField redir_fields[] = {
    VMSTATE_STRUCT(RedirState, usb, UsbDevice, &usb_device_vmsd),
    { .name = "alt", .type = VMS_U8, .offset = offsetof(RedirState, alt), .count = 32 },
    VMSTATE_END,
};

static const VmStateDesc redir_vmsd = {
    .name = "usb-redir",
    .version = 1,
    .fields = redir_fields,
    .check = redir_check,
    .post_load = redir_post_load,
};

static const DeviceProp redir_props[] = {
    USB_DEVICE_PROPS(RedirState),
    { "chardev", DEVICE_PROP_CHARDEV, offsetof(RedirState, chr), "ID of the -chardev the usbredir peer is on",
      NULL, 0, 0, NULL },
    { NULL },
};

static const DeviceClass redir_class = {
    .name = "usb-redir",
    .description = "a USB device of a usbredir peer (usbredirect, a SPICE client) on a chardev",
    .instance_size = sizeof(RedirState),
    .user_creatable = true,
    .props = redir_props,
    .vmsd = &redir_vmsd,
    .realize = redir_realize,
    .reset = redir_reset,
    .unrealize = redir_unrealize,
    .unplug = redir_unplug,
    .bus_place = usb_device_bus_place,
};

__attribute__((constructor)) static void redir_register(void)
{
    device_class_register(&redir_class);
}
