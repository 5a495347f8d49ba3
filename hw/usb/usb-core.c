/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The USB bus, device attachment and the default control pipe with the standard
 * requests (USB 2.0 specification, 8.5.3 and 9.4). */
#include "hw/usb/usb.h"

#include <string.h>

struct UsbBus {
    Vm *vm;
    char *name;
    int nports;
    unsigned speeds;      /* bit n: the root ports carry UsbSpeed n */
    UsbDevice *port[USB_MAX_PORTS];
    const UsbPortOps *ops;
    void *opaque;
};

/* Stages of the default pipe (USB 2.0, 8.5.3). */
enum {
    CTRL_IDLE,
    CTRL_DATA_IN,    /* IN data stage; an OUT is the status stage */
    CTRL_DATA_OUT,   /* OUT data stage; an IN is the status stage */
    CTRL_STATUS_IN,  /* no data stage: the IN status stage is next */
    CTRL_STALLED,    /* the request was refused: every stage stalls until a SETUP */
    CTRL_WAIT_IN,    /* an IN request's answer comes later: its data stage NAKs */
    CTRL_WAIT_STATUS, /* an OUT/no-data request's answer comes later: the status stage NAKs */
};

/* Standard requests (USB 2.0, table 9-4) and features (table 9-6). */
enum {
    REQ_GET_STATUS = 0,
    REQ_CLEAR_FEATURE = 1,
    REQ_SET_FEATURE = 3,
    REQ_SET_ADDRESS = 5,
    REQ_GET_DESCRIPTOR = 6,
    REQ_GET_CONFIGURATION = 8,
    REQ_SET_CONFIGURATION = 9,
    REQ_GET_INTERFACE = 10,
    REQ_SET_INTERFACE = 11,
    FEATURE_ENDPOINT_HALT = 0,
    FEATURE_REMOTE_WAKEUP = 1,
};

/* ---- the bus ---- */

UsbBus *usb_bus_new(Vm *vm, const char *name, int nports, const UsbPortOps *ops, void *opaque)
{
    g_assert(nports > 0 && nports <= USB_MAX_PORTS);
    UsbBus *bus = g_new0(UsbBus, 1);
    bus->vm = vm;
    bus->name = g_strdup(name);
    bus->nports = nports;
    bus->speeds = 1u << USB_SPEED_LOW | 1u << USB_SPEED_FULL;
    bus->ops = ops;
    bus->opaque = opaque;
    vm_add_bus(vm, name, bus);
    return bus;
}

void usb_bus_free(UsbBus *bus)
{
    if (!bus)
        return;
    for (int i = 0; i < bus->nports; i++)
        if (bus->port[i])
            bus->port[i]->bus = NULL;
    g_free(bus->name);
    g_free(bus);
}

void usb_bus_set_speeds(UsbBus *bus, unsigned mask)
{
    bus->speeds = mask;
}

char *usb_bus_next_name(Vm *vm)
{
    for (int n = 0;; n++) {
        char *name = g_strdup_printf("usb-bus.%d", n);
        if (!vm_find_bus(vm, name))
            return name;
        g_free(name);
    }
}

UsbDevice *usb_bus_port_device(UsbBus *bus, int port)
{
    return port >= 0 && port < bus->nports ? bus->port[port] : NULL;
}

const char *usb_speed_name(UsbSpeed speed)
{
    static const char *const names[] = { "low", "full", "high", "super" };
    return speed <= USB_SPEED_SUPER ? names[speed] : "?";
}

void usb_bus_port_reset(UsbBus *bus, int port)
{
    UsbDevice *d = usb_bus_port_device(bus, port);
    if (d && d->dev.klass->reset)
        d->dev.klass->reset(&d->dev);
}

/* ---- attachment ---- */

/* The few facts the core needs from the configuration descriptor: the endpoints. A
 * malformed table is a bug in the device class, caught at realize. */
static bool parse_config(UsbDevice *d, GError **err)
{
    const UsbDescriptors *desc = d->desc;
    if (!desc || !desc->device || desc->device[0] != 18 || desc->device[1] != USB_DT_DEVICE ||
        !desc->config || desc->config_len < 9 || desc->config[1] != USB_DT_CONFIG ||
        (size_t)(desc->config[2] | desc->config[3] << 8) != desc->config_len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: bad USB descriptors", d->dev.klass->name);
        return false;
    }
    d->ep_in_mask = d->ep_out_mask = 0;
    for (size_t pos = 0; pos < desc->config_len;) {
        uint8_t len = desc->config[pos];
        if (len < 2 || pos + len > desc->config_len) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: bad configuration descriptor",
                        d->dev.klass->name);
            return false;
        }
        if (desc->config[pos + 1] == USB_DT_ENDPOINT && len >= 7) {
            uint8_t a = desc->config[pos + 2];
            if (a & 0x80)
                d->ep_in_mask |= 1u << (a & 15);
            else
                d->ep_out_mask |= 1u << (a & 15);
        }
        pos += len;
    }
    return true;
}

/* Picks the speed the device runs at behind a port carrying `speeds`: high where it can,
 * else its own; false when the port carries neither. */
static bool pick_speed(UsbDevice *d, unsigned speeds, const char *where, GError **err)
{
    if (!d->desc_full)
        d->desc_full = d->desc;
    if (d->desc_high && (speeds >> USB_SPEED_HIGH) & 1) {
        d->speed = USB_SPEED_HIGH;
        d->desc = d->desc_high;
        return true;
    }
    d->desc = d->desc_full;
    if (d->speed == USB_SPEED_HIGH && d->desc_high)
        d->speed = USB_SPEED_FULL;
    if ((speeds >> d->speed) & 1)
        return true;
    if (speeds == 1u << USB_SPEED_HIGH) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "%s is a %s-speed device and %s has high-speed ports only (EHCI without companion "
                    "controllers): put it on the UHCI bus usb-bus.0 or behind a usb-hub",
                    d->dev.klass->name, usb_speed_name(d->speed), where);
        return false;
    }
    GString *carried = g_string_new(NULL);
    for (int i = USB_SPEED_LOW; i <= USB_SPEED_SUPER; i++)
        if ((speeds >> i) & 1)
            g_string_append_printf(carried, "%s%s", carried->len ? ", " : "", usb_speed_name((UsbSpeed)i));
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "%s is a %s-speed device and %s carries %s speed only",
                d->dev.klass->name, usb_speed_name(d->speed), where, carried->str);
    g_string_free(carried, TRUE);
    return false;
}

/* The hub at the path's prefix ("1.3.2" names port 2 of the hub at port 3 of the hub at
 * root port 1) and the last port number, from 1. */
static bool resolve_path(UsbDevice *d, UsbBus *bus, const char *bus_name, UsbDevice **hub, int *port,
                         GError **err)
{
    g_auto(GStrv) parts = g_strsplit(d->port_path, ".", 0);
    UsbDevice *h = NULL;
    for (int i = 0; parts[i]; i++) {
        char *end;
        guint64 n = g_ascii_strtoull(parts[i], &end, 10);
        int max = h ? h->ndown : bus->nports;
        if (!*parts[i] || *end || n < 1 || n > (guint64)max) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port '%s': %s has ports 1 to %d",
                        d->port_path, h ? h->dev.id : bus_name, max);
            return false;
        }
        if (!parts[i + 1]) {
            *hub = h;
            *port = (int)n - 1;
            return true;
        }
        UsbDevice *next = h ? h->down[n - 1] : bus->port[n - 1];
        if (!next || !next->down) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "port '%s': no usb-hub at port %s of %s (create the hub first)", d->port_path,
                        parts[i], h ? h->dev.id : bus_name);
            return false;
        }
        h = next;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port '%s': not a port number", d->port_path);
    return false;
}

bool usb_device_attach(UsbDevice *d, GError **err)
{
    const char *bus_name = d->bus_name && *d->bus_name ? d->bus_name : "usb-bus.0";
    UsbBus *bus = vm_find_bus(d->dev.vm, bus_name);
    if (!bus) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "no USB bus '%s' (the pc machine has usb-bus.0 unless -machine usb=off)", bus_name);
        return false;
    }
    UsbDevice *hub = NULL;
    int port = -1;
    if (d->port_path && *d->port_path) {
        if (!resolve_path(d, bus, bus_name, &hub, &port, err))
            return false;
        UsbDevice *taken = hub ? hub->down[port] : bus->port[port];
        if (taken) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port %s of %s is taken by %s", d->port_path,
                        bus_name, taken->dev.id);
            return false;
        }
    } else {
        for (int i = 0; i < bus->nports && port < 0; i++)
            if (!bus->port[i])
                port = i;
        if (port < 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "all %d ports of %s are taken (add a usb-hub and port=N.M)", bus->nports, bus_name);
            return false;
        }
    }
    /* Behind a high-speed hub a full or low-speed device talks through the hub's
     * transaction translator (USB 2.0, 11.14), which the synchronous model makes
     * invisible; behind a full-speed hub everything is full or low speed. */
    unsigned speeds = bus->speeds;
    if (hub)
        speeds = hub->speed == USB_SPEED_HIGH ? 0x7u : 0x3u;
    if (!pick_speed(d, speeds, hub ? hub->dev.id : bus_name, err) || !parse_config(d, err))
        return false;
    d->bus = bus;
    d->port = port;
    d->parent = hub;
    if (hub) {
        hub->down[port] = d;
        if (hub->ops->child_attached)
            hub->ops->child_attached(hub, port);
        return true;
    }
    bus->port[port] = d;
    if (bus->ops && bus->ops->attach)
        bus->ops->attach(bus->opaque, port, d->speed);
    return true;
}

void usb_device_detach(UsbDevice *d)
{
    if (d->parent) {
        if (d->parent->down && d->parent->down[d->port] == d)
            d->parent->down[d->port] = NULL;
    } else if (d->bus && d->bus->port[d->port] == d) {
        d->bus->port[d->port] = NULL;
    }
    /* A hub leaving first: its devices are no longer reachable. */
    for (int i = 0; i < d->ndown; i++) {
        if (d->down[i]) {
            d->down[i]->parent = NULL;
            d->down[i]->bus = NULL;
            d->down[i] = NULL;
        }
    }
    d->parent = NULL;
    d->bus = NULL;
}

void usb_device_unplug(Device *dev)
{
    UsbDevice *d = (UsbDevice *)dev;
    UsbBus *bus = d->bus;
    UsbDevice *hub = d->parent;
    int port = d->port;
    usb_device_detach(d);
    /* Behind a hub the port is the hub's: its status change endpoint reports it. */
    if (hub) {
        if (hub->ops && hub->ops->child_detached)
            hub->ops->child_detached(hub, port);
    } else if (bus && bus->ops && bus->ops->detach) {
        bus->ops->detach(bus->opaque, port);
    }
}

bool usb_device_bus_place(Device *dev, DeviceBusPlace *out)
{
    UsbDevice *d = (UsbDevice *)dev;
    if (!d->bus)
        return false;
    out->bus = d->bus->name;
    out->port = d->port + 1;
    /* The path as port= takes it: root port first, then each hub's port (at most
     * USB's five hubs deep, USB 2.0 4.1.1). */
    int ports[8], n = 0;
    for (const UsbDevice *u = d; u && n < (int)G_N_ELEMENTS(ports); u = u->parent)
        ports[n++] = u->port + 1;
    out->path[0] = 0;
    for (int i = n - 1; i >= 0; i--) {
        size_t len = strlen(out->path);
        g_snprintf(out->path + len, sizeof(out->path) - len, i == n - 1 ? "%d" : ".%d", ports[i]);
    }
    out->addr = d->addr;
    out->speed = usb_speed_name(d->speed);
    out->product = usb_device_product_name(d);
    return true;
}

const char *usb_device_product_name(const UsbDevice *d)
{
    uint8_t i = d->desc && d->desc->device ? d->desc->device[15] : 0;
    if (i && i <= d->desc->n_strings && d->desc->strings[i - 1])
        return d->desc->strings[i - 1];
    return d->dev.klass->description;
}

UsbDevice *usb_device_find(UsbDevice *d, uint8_t addr)
{
    if (d->addr == addr)
        return d;
    return d->ops && d->ops->find ? d->ops->find(d, addr) : NULL;
}

void usb_device_wakeup(UsbDevice *d)
{
    /* Behind a hub the resume signalling reaches the hub's port first (USB 2.0, 11.9). */
    if (d->remote_wakeup && d->parent) {
        if (d->parent->ops && d->parent->ops->child_wakeup)
            d->parent->ops->child_wakeup(d->parent, d->port);
        return;
    }
    if (d->remote_wakeup && d->bus && d->bus->ops && d->bus->ops->wakeup)
        d->bus->ops->wakeup(d->bus->opaque, d->port);
}

void usb_device_reset_core(UsbDevice *d)
{
    d->addr = 0;
    d->config = 0;
    d->pending_addr = 0;
    d->addr_pending = false;
    d->remote_wakeup = false;
    d->halted_in = d->halted_out = 0;
    d->ctrl_state = CTRL_IDLE;
    d->ctrl_len = d->ctrl_pos = 0;
}

/* ---- standard requests ---- */

static int copy_out(uint8_t *data, size_t max, const void *src, size_t len)
{
    len = MIN(len, max);
    memcpy(data, src, len);
    return (int)len;
}

/* String descriptor n (USB 2.0, 9.6.7): index 0 lists US English only; the strings are
 * ASCII, sent as UTF-16LE. */
static int string_descriptor(UsbDevice *d, unsigned n, uint8_t *data, size_t max)
{
    uint8_t buf[2 + 2 * 126];
    size_t len;
    if (n == 0) {
        static const uint8_t langs[] = { 4, USB_DT_STRING, 0x09, 0x04 };
        return copy_out(data, max, langs, sizeof(langs));
    }
    if (n > d->desc->n_strings || !d->desc->strings[n - 1])
        return -1;
    const char *s = d->desc->strings[n - 1];
    size_t chars = MIN(strlen(s), (size_t)126);
    len = 2 + 2 * chars;
    buf[0] = (uint8_t)len;
    buf[1] = USB_DT_STRING;
    for (size_t i = 0; i < chars; i++) {
        buf[2 + 2 * i] = (uint8_t)s[i];
        buf[3 + 2 * i] = 0;
    }
    return copy_out(data, max, buf, len);
}

static bool endpoint_valid(const UsbDevice *d, unsigned index)
{
    unsigned ep = index & 15;
    if (ep == 0)
        return true;
    return (index & 0x80) ? (d->ep_in_mask >> ep) & 1 : (d->ep_out_mask >> ep) & 1;
}

/* Answers a request; returns the IN byte count (0 for OUT) or -1 to stall. */
static int control_request(UsbDevice *d, const UsbSetup *s, uint8_t *data)
{
    uint8_t config_value = d->desc->config[5];
    unsigned ep = s->index & 15;
    switch (s->type << 8 | s->request) {
    case 0x8000 | REQ_GET_DESCRIPTOR:
        switch (s->value >> 8) {
        case USB_DT_DEVICE:
            return copy_out(data, s->length, d->desc->device, 18);
        case USB_DT_CONFIG:
            if ((s->value & 0xff) != 0)
                return -1;
            return copy_out(data, s->length, d->desc->config, d->desc->config_len);
        case USB_DT_STRING:
            return string_descriptor(d, s->value & 0xff, data, s->length);
        case USB_DT_DEVICE_QUALIFIER:
        case USB_DT_OTHER_SPEED_CONFIG: {
            /* What the device would be at its other speed (9.6.2, 9.6.4); a device
             * with one speed only stalls. */
            if (!d->desc_high || !d->desc_full || (s->value & 0xff) != 0)
                return -1;
            const UsbDescriptors *other = d->desc == d->desc_high ? d->desc_full : d->desc_high;
            if (s->value >> 8 == USB_DT_OTHER_SPEED_CONFIG) {
                int n = copy_out(data, s->length, other->config, other->config_len);
                if (n > 1)
                    data[1] = USB_DT_OTHER_SPEED_CONFIG;
                return n;
            }
            const uint8_t *dv = other->device;
            /* bcdUSB 2.00: a device with a high-speed mode is a USB 2.0 device. */
            uint8_t q[10] = { 10, USB_DT_DEVICE_QUALIFIER, 0x00, 0x02, dv[4], dv[5], dv[6], dv[7], dv[17], 0 };
            return copy_out(data, s->length, q, sizeof(q));
        }
        default:
            break;
        }
        break;
    case 0x0000 | REQ_SET_ADDRESS:
        if (s->value > 127 || s->index || s->length)
            return -1;
        d->pending_addr = (uint8_t)s->value;
        d->addr_pending = true;
        return 0;
    case 0x8000 | REQ_GET_CONFIGURATION:
        return copy_out(data, s->length, &d->config, 1);
    case 0x0000 | REQ_SET_CONFIGURATION:
        if (s->value != 0 && s->value != config_value)
            return -1;
        d->config = (uint8_t)s->value;
        d->halted_in = d->halted_out = 0;
        if (d->ops->request_done)
            d->ops->request_done(d, s);
        return 0;
    case 0x8000 | REQ_GET_STATUS: {
        /* Bit 0 self-powered (from bmAttributes bit 6), bit 1 remote wakeup (9.4.5). */
        uint8_t st[2] = { (uint8_t)(((d->desc->config[7] >> 6) & 1) | (d->remote_wakeup ? 2 : 0)), 0 };
        return copy_out(data, s->length, st, 2);
    }
    case 0x8100 | REQ_GET_STATUS: {
        static const uint8_t zero[2];
        return copy_out(data, s->length, zero, 2);
    }
    case 0x8200 | REQ_GET_STATUS: {
        if (!endpoint_valid(d, s->index))
            return -1;
        uint16_t halted = (s->index & 0x80) ? d->halted_in : d->halted_out;
        uint8_t st[2] = { (uint8_t)((halted >> ep) & 1), 0 };
        return copy_out(data, s->length, st, 2);
    }
    case 0x0000 | REQ_CLEAR_FEATURE:
    case 0x0000 | REQ_SET_FEATURE:
        if (s->value != FEATURE_REMOTE_WAKEUP)
            return -1;
        d->remote_wakeup = s->request == REQ_SET_FEATURE;
        return 0;
    case 0x0200 | REQ_CLEAR_FEATURE:
    case 0x0200 | REQ_SET_FEATURE: {
        if (s->value != FEATURE_ENDPOINT_HALT || !endpoint_valid(d, s->index))
            return -1;
        uint16_t *halted = (s->index & 0x80) ? &d->halted_in : &d->halted_out;
        if (ep && s->request == REQ_SET_FEATURE)
            *halted |= 1u << ep;
        else
            *halted &= ~(1u << ep);
        if (s->request == REQ_CLEAR_FEATURE && d->ops->request_done)
            d->ops->request_done(d, s);
        return 0;
    }
    case 0x8100 | REQ_GET_INTERFACE: {
        if (!d->config)
            return -1;
        uint8_t alt = d->ops->get_interface ? d->ops->get_interface(d, (uint8_t)s->index) : 0;
        return copy_out(data, s->length, &alt, 1);
    }
    case 0x0100 | REQ_SET_INTERFACE:
        /* One alternate setting per interface unless the device has its own. */
        if (!d->config || s->value > 0xff || s->index > 0xff)
            return -1;
        if (d->ops->set_interface ? d->ops->set_interface(d, (uint8_t)s->index, (uint8_t)s->value) < 0
                                  : s->value != 0)
            return -1;
        if (d->ops->request_done)
            d->ops->request_done(d, s);
        return 0;
    default:
        break;
    }
    return d->ops->control ? d->ops->control(d, s, data) : -1;
}

/* ---- the default pipe ---- */

static void control_setup(UsbDevice *d, UsbPacket *p)
{
    if (p->len != 8) {
        p->result = USB_RET_STALL;
        return;
    }
    memcpy(d->setup, p->data, 8);
    UsbSetup s = { p->data[0], p->data[1], (uint16_t)(p->data[2] | p->data[3] << 8),
                   (uint16_t)(p->data[4] | p->data[5] << 8), (uint16_t)(p->data[6] | p->data[7] << 8) };
    d->addr_pending = false;
    d->ctrl_pos = 0;
    /* A SETUP is always acknowledged; a refusal shows at the next stage (8.5.3.4). */
    p->result = USB_RET_SUCCESS;
    p->len = 0;
    if (s.type & 0x80) {
        s.length = MIN(s.length, (uint16_t)USB_CTRL_BUF);
        memset(d->ctrl_buf, 0, sizeof(d->ctrl_buf));
        int n = control_request(d, &s, d->ctrl_buf);
        if (n == USB_CONTROL_ASYNC) {
            d->ctrl_len = s.length; /* the most the answer may carry */
            d->ctrl_state = CTRL_WAIT_IN;
            return;
        }
        if (n < 0 || n > s.length) {
            d->ctrl_state = CTRL_STALLED;
            return;
        }
        d->ctrl_len = (uint16_t)n;
        d->ctrl_state = CTRL_DATA_IN;
    } else if (s.length) {
        if (s.length > USB_CTRL_BUF) {
            d->ctrl_state = CTRL_STALLED;
            return;
        }
        d->ctrl_len = s.length;
        d->ctrl_state = CTRL_DATA_OUT;
    } else {
        d->ctrl_len = 0;
        int r = control_request(d, &s, d->ctrl_buf);
        d->ctrl_state = r == USB_CONTROL_ASYNC ? CTRL_WAIT_STATUS : r < 0 ? CTRL_STALLED : CTRL_STATUS_IN;
    }
}

static void control_in(UsbDevice *d, UsbPacket *p)
{
    p->len = 0;
    switch (d->ctrl_state) {
    case CTRL_DATA_IN: {
        size_t n = MIN((size_t)(d->ctrl_len - d->ctrl_pos), p->max_len);
        memcpy(p->data, d->ctrl_buf + d->ctrl_pos, n);
        d->ctrl_pos += (uint16_t)n;
        p->len = n;
        p->result = USB_RET_SUCCESS;
        return;
    }
    case CTRL_DATA_OUT: {
        /* The status stage of an OUT request: now it has all its data. */
        UsbSetup s = { d->setup[0], d->setup[1], (uint16_t)(d->setup[2] | d->setup[3] << 8),
                       (uint16_t)(d->setup[4] | d->setup[5] << 8), d->ctrl_len };
        int r = d->ctrl_pos < d->ctrl_len ? -1 : control_request(d, &s, d->ctrl_buf);
        if (r == USB_CONTROL_ASYNC) {
            d->ctrl_state = CTRL_WAIT_STATUS;
            p->result = USB_RET_NAK;
            return;
        }
        if (r < 0) {
            d->ctrl_state = CTRL_STALLED;
            p->result = USB_RET_STALL;
            return;
        }
        break;
    }
    case CTRL_WAIT_IN:
    case CTRL_WAIT_STATUS:
        p->result = USB_RET_NAK; /* the device's answer has not come yet: the host retries */
        return;
    case CTRL_STATUS_IN:
        break;
    default:
        p->result = USB_RET_STALL;
        return;
    }
    if (d->addr_pending)
        d->addr = d->pending_addr;
    d->addr_pending = false;
    d->ctrl_state = CTRL_IDLE;
    p->result = USB_RET_SUCCESS;
}

static void control_out(UsbDevice *d, UsbPacket *p)
{
    switch (d->ctrl_state) {
    case CTRL_DATA_OUT:
        if (p->len > (size_t)(d->ctrl_len - d->ctrl_pos)) {
            d->ctrl_state = CTRL_STALLED;
            p->result = USB_RET_STALL;
            return;
        }
        memcpy(d->ctrl_buf + d->ctrl_pos, p->data, p->len);
        d->ctrl_pos += (uint16_t)p->len;
        p->result = USB_RET_SUCCESS;
        return;
    case CTRL_DATA_IN:
        /* The status stage of an IN request (the host may end the data stage early). */
        d->ctrl_state = CTRL_IDLE;
        p->result = USB_RET_SUCCESS;
        return;
    default:
        p->result = USB_RET_STALL;
        return;
    }
}

void usb_bus_deliver(UsbBus *bus, unsigned port_mask, UsbPacket *p)
{
    UsbDevice *d = NULL;
    for (int i = 0; i < bus->nports && !d; i++)
        if ((port_mask >> i) & 1 && bus->port[i])
            d = usb_device_find(bus->port[i], p->addr);
    if (!d) {
        p->len = 0;
        p->result = USB_RET_NODEV;
        return;
    }
    if (p->ep == 0) {
        if (p->pid == USB_TOKEN_SETUP)
            control_setup(d, p);
        else if (p->pid == USB_TOKEN_IN)
            control_in(d, p);
        else
            control_out(d, p);
        return;
    }
    bool in = p->pid == USB_TOKEN_IN;
    uint16_t mask = in ? d->ep_in_mask : d->ep_out_mask;
    uint16_t halted = in ? d->halted_in : d->halted_out;
    /* A SETUP to a data endpoint, an endpoint the configuration lacks, or any endpoint
     * of an unconfigured device gets no handshake a host could use: stall. */
    if (p->pid == USB_TOKEN_SETUP || !d->config || !((mask >> p->ep) & 1) || ((halted >> p->ep) & 1)) {
        p->len = 0;
        p->result = USB_RET_STALL;
        return;
    }
    if (in)
        p->len = 0;
    d->ops->data(d, p);
}

void usb_device_control_done(UsbDevice *d, int n)
{
    if (d->ctrl_state == CTRL_WAIT_IN) {
        if (n < 0 || n > d->ctrl_len) {
            d->ctrl_state = CTRL_STALLED;
            return;
        }
        d->ctrl_len = (uint16_t)n;
        d->ctrl_pos = 0;
        d->ctrl_state = CTRL_DATA_IN;
    } else if (d->ctrl_state == CTRL_WAIT_STATUS) {
        d->ctrl_state = n < 0 ? CTRL_STALLED : CTRL_STATUS_IN;
    }
}

bool usb_device_control_waiting(const UsbDevice *d)
{
    return d->ctrl_state == CTRL_WAIT_IN || d->ctrl_state == CTRL_WAIT_STATUS;
}

/* ---- state ---- */

bool usb_device_state_check(const UsbDevice *d, GError **err)
{
    if (d->addr > 127 || d->pending_addr > 127 || d->ctrl_state > CTRL_WAIT_STATUS ||
        d->ctrl_len > USB_CTRL_BUF || d->ctrl_pos > d->ctrl_len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "USB device: address %u, pending address %u, pipe stage %u or data %u/%u out of range",
                    d->addr, d->pending_addr, d->ctrl_state, d->ctrl_pos, d->ctrl_len);
        return false;
    }
    return true;
}

static const VmStateField usb_device_fields[] = {
    VMSTATE_U8(UsbDevice, addr),
    VMSTATE_U8(UsbDevice, config),
    VMSTATE_U8(UsbDevice, pending_addr),
    VMSTATE_BOOL(UsbDevice, addr_pending),
    VMSTATE_BOOL(UsbDevice, remote_wakeup),
    VMSTATE_U16(UsbDevice, halted_in),
    VMSTATE_U16(UsbDevice, halted_out),
    VMSTATE_U8(UsbDevice, ctrl_state),
    VMSTATE_BUFFER(UsbDevice, setup),
    VMSTATE_U16(UsbDevice, ctrl_len),
    VMSTATE_U16(UsbDevice, ctrl_pos),
    VMSTATE_BUFFER(UsbDevice, ctrl_buf),
    VMSTATE_END,
};

const VmStateDesc usb_device_vmsd = {
    .name = "usb-device",
    .version = 1,
    .fields = usb_device_fields,
};
