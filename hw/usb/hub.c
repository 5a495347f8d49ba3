/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-hub: a USB 2.0 hub with eight downstream ports (USB 2.0 specification, chapter 11:
 * the hub class descriptor 11.23.2.1, the class requests 11.24, port status and change
 * bits 11.24.2.7). At high speed it is a single-TT hub; the devices behind it are
 * reached with port=ROOT.N (port=1.3 is port 3 of the hub at root port 1). Transactions
 * to them go through the hub without delay, so its transaction translator has nothing
 * to buffer: the TT requests are accepted and do nothing.
 *
 * The status-change endpoint (1 IN, interrupt) answers NAK until a port changes, then
 * sends the bitmap of changed ports (bit 0 would be the hub itself, which never
 * changes: local power, no over-current). The vendor and product IDs are QEMU's. */
#include "hw/usb/usb.h"

#include <string.h>

#define HUB_PORTS 8

/* Port status and change bits (USB 2.0, tables 11-21 and 11-22), features (table 11-17)
 * and class requests (table 11-16). */
enum {
    PS_CONNECTION = 1u << 0,
    PS_ENABLE = 1u << 1,
    PS_SUSPEND = 1u << 2,
    PS_RESET = 1u << 4,
    PS_POWER = 1u << 8,
    PS_LOW_SPEED = 1u << 9,
    PS_HIGH_SPEED = 1u << 10,
    PS_TEST = 1u << 11,
    PS_INDICATOR = 1u << 12,
    PC_CONNECTION = 1u << 0,
    PC_ENABLE = 1u << 1,
    PC_SUSPEND = 1u << 2,
    PC_OVER_CURRENT = 1u << 3,
    PC_RESET = 1u << 4,
    F_PORT_CONNECTION = 0,
    F_PORT_ENABLE = 1,
    F_PORT_SUSPEND = 2,
    F_PORT_OVER_CURRENT = 3,
    F_PORT_RESET = 4,
    F_PORT_POWER = 8,
    F_PORT_LOW_SPEED = 9,
    F_C_PORT_CONNECTION = 16,
    F_C_PORT_ENABLE = 17,
    F_C_PORT_SUSPEND = 18,
    F_C_PORT_OVER_CURRENT = 19,
    F_C_PORT_RESET = 20,
    F_PORT_TEST = 21,
    F_PORT_INDICATOR = 22,
    REQ_GET_STATUS = 0,
    REQ_CLEAR_FEATURE = 1,
    REQ_SET_FEATURE = 3,
    REQ_GET_DESCRIPTOR = 6,
    REQ_CLEAR_TT_BUFFER = 8,
    REQ_RESET_TT = 9,
    REQ_GET_TT_STATE = 10,
    REQ_STOP_TT = 11,
    REQ_SET_HUB_DEPTH = 12,
    USB_DT_HUB = 0x29,
};

typedef struct UsbHubState {
    UsbDevice usb;
    UsbDevice *child[HUB_PORTS];
    /* Guest-visible state. */
    uint16_t status[HUB_PORTS], change[HUB_PORTS];
} UsbHubState;

/* ---- descriptors ---- */

/* Device descriptors: class 9; protocol 0 at full speed, 1 (single TT) at high speed. */
static const uint8_t hub_device_fs[] = {
    18, USB_DT_DEVICE, 0x00, 0x02, 9, 0, 0, 64, 0x09, 0x04, 0xaa, 0x55, 0x01, 0x01, 1, 2, 3, 1,
};
static const uint8_t hub_device_hs[] = {
    18, USB_DT_DEVICE, 0x00, 0x02, 9, 0, 1, 64, 0x09, 0x04, 0xaa, 0x55, 0x01, 0x01, 1, 2, 3, 1,
};

/* One interface with the status-change endpoint: 2 bytes hold the bits of eight ports
 * and the hub; polled every 255 ms at full speed, every 2^(12-1) microframes (256 ms) at
 * high speed. Self powered, remote wakeup. */
static const uint8_t hub_config_fs[] = {
    9, USB_DT_CONFIG, 25, 0, 1, 1, 0, 0xe0, 0,
    9, USB_DT_INTERFACE, 0, 0, 1, 9, 0, 0, 0,
    7, USB_DT_ENDPOINT, 0x81, 3, 2, 0, 255,
};
static const uint8_t hub_config_hs[] = {
    9, USB_DT_CONFIG, 25, 0, 1, 1, 0, 0xe0, 0,
    9, USB_DT_INTERFACE, 0, 0, 1, 9, 0, 0, 0,
    7, USB_DT_ENDPOINT, 0x81, 3, 2, 0, 12,
};

static const char *const hub_strings[] = { "QEMU", "QEMU USB Hub", "314159" };

static const UsbDescriptors hub_desc_fs = { hub_device_fs, hub_config_fs, sizeof(hub_config_fs), hub_strings, 3 };
static const UsbDescriptors hub_desc_hs = { hub_device_hs, hub_config_hs, sizeof(hub_config_hs), hub_strings, 3 };

/* The hub descriptor (11.23.2.1): per-port power switching and over-current reporting,
 * 20 ms from power on to power good, no removable-device bits, and the power control
 * mask of USB 1.0 all ones. */
static const uint8_t hub_class_desc[] = {
    11, USB_DT_HUB, HUB_PORTS, 0x09, 0x00, 10, 0, 0x00, 0x00, 0xff, 0xff,
};

/* ---- ports ---- */

static void port_changed(UsbHubState *s)
{
    usb_device_wakeup(&s->usb);
}

static uint16_t speed_bits(UsbDevice *d)
{
    return d->speed == USB_SPEED_LOW ? PS_LOW_SPEED : d->speed == USB_SPEED_HIGH ? PS_HIGH_SPEED : 0;
}

static void hub_child_attached(UsbDevice *d, int port)
{
    UsbHubState *s = (UsbHubState *)d;
    uint16_t *st = &s->status[port];
    if (!(*st & PS_POWER))
        return;
    if (*st & PS_ENABLE)
        s->change[port] |= PC_ENABLE;
    *st = (uint16_t)((*st & ~(PS_ENABLE | PS_SUSPEND | PS_LOW_SPEED | PS_HIGH_SPEED)) | PS_CONNECTION);
    s->change[port] |= PC_CONNECTION;
    port_changed(s);
}

/* The device on a powered port was removed at run time: the port loses its connection
 * and is disabled; C_PORT_CONNECTION tells the host through the status change endpoint
 * (USB 2.0 11.24.2.7.1.1, 11.24.2.7.2.1). */
static void hub_child_detached(UsbDevice *d, int port)
{
    UsbHubState *s = (UsbHubState *)d;
    uint16_t *st = &s->status[port];
    if (!(*st & PS_CONNECTION))
        return;
    *st = (uint16_t)(*st & ~(PS_CONNECTION | PS_ENABLE | PS_SUSPEND | PS_RESET | PS_LOW_SPEED | PS_HIGH_SPEED));
    s->change[port] |= PC_CONNECTION;
    port_changed(s);
}

/* Resume signalling from a suspended port: the hub ends the suspend and reports it as a
 * change, waking its own host in turn (11.9, 11.24.2.7.2.3). */
static void hub_child_wakeup(UsbDevice *d, int port)
{
    UsbHubState *s = (UsbHubState *)d;
    if (!(s->status[port] & PS_SUSPEND))
        return;
    s->status[port] &= (uint16_t)~PS_SUSPEND;
    s->change[port] |= PC_SUSPEND;
    port_changed(s);
}

static UsbDevice *hub_find(UsbDevice *d, uint8_t addr)
{
    UsbHubState *s = (UsbHubState *)d;
    for (int i = 0; i < HUB_PORTS; i++) {
        if (!s->child[i] || (s->status[i] & (PS_ENABLE | PS_SUSPEND | PS_POWER)) != (PS_ENABLE | PS_POWER))
            continue;
        UsbDevice *found = usb_device_find(s->child[i], addr);
        if (found)
            return found;
    }
    return NULL;
}

static int port_feature(UsbHubState *s, bool set, unsigned feature, unsigned port)
{
    uint16_t *st = &s->status[port], *ch = &s->change[port];
    UsbDevice *child = s->child[port];
    switch (feature | (set ? 0x100 : 0)) {
    case 0x100 | F_PORT_POWER:
        if (!(*st & PS_POWER)) {
            *st |= PS_POWER;
            if (child) {
                *st |= PS_CONNECTION;
                *ch |= PC_CONNECTION;
                port_changed(s);
            }
        }
        return 0;
    case F_PORT_POWER:
        *st = 0;
        return 0;
    case 0x100 | F_PORT_RESET:
        /* Reset signalling ends at once: the device is in its default state and the
         * port enabled at the device's speed (11.5.1.5). */
        if (!(*st & PS_CONNECTION) || !child)
            return 0;
        if (child->dev.klass->reset)
            child->dev.klass->reset(&child->dev);
        *st = (uint16_t)((*st & ~(PS_SUSPEND | PS_RESET | PS_LOW_SPEED | PS_HIGH_SPEED)) | PS_ENABLE |
                         speed_bits(child));
        *ch |= PC_RESET;
        port_changed(s);
        return 0;
    case 0x100 | F_PORT_SUSPEND:
        if (*st & PS_ENABLE)
            *st |= PS_SUSPEND;
        return 0;
    case F_PORT_SUSPEND:
        /* Resume completes at once and is reported as a change (11.24.2.7.2.3). */
        if (*st & PS_SUSPEND) {
            *st &= (uint16_t)~PS_SUSPEND;
            *ch |= PC_SUSPEND;
            port_changed(s);
        }
        return 0;
    case F_PORT_ENABLE:
        *st &= (uint16_t)~(PS_ENABLE | PS_SUSPEND);
        return 0;
    case 0x100 | F_PORT_TEST:
        *st |= PS_TEST;
        return 0;
    case 0x100 | F_PORT_INDICATOR:
        *st |= PS_INDICATOR;
        return 0;
    case F_PORT_INDICATOR:
        *st &= (uint16_t)~PS_INDICATOR;
        return 0;
    case F_C_PORT_CONNECTION:
    case F_C_PORT_ENABLE:
    case F_C_PORT_SUSPEND:
    case F_C_PORT_OVER_CURRENT:
    case F_C_PORT_RESET:
        *ch &= (uint16_t)~(1u << (feature - F_C_PORT_CONNECTION));
        return 0;
    default:
        /* Setting ENABLE, CONNECTION, OVER_CURRENT or LOW_SPEED is not allowed. */
        return -1;
    }
}

static int hub_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    UsbHubState *s = (UsbHubState *)d;
    unsigned port = st->index & 0xff;
    switch (st->type << 8 | st->request) {
    case 0xa000 | REQ_GET_DESCRIPTOR:
    case 0x8000 | REQ_GET_DESCRIPTOR:
        if (st->value >> 8 != USB_DT_HUB)
            return -1;
        memcpy(data, hub_class_desc, MIN(sizeof(hub_class_desc), (size_t)st->length));
        return (int)MIN(sizeof(hub_class_desc), (size_t)st->length);
    case 0xa000 | REQ_GET_STATUS:
        /* Local power good, no over-current, no changes. */
        memset(data, 0, MIN((size_t)4, (size_t)st->length));
        return (int)MIN((size_t)4, (size_t)st->length);
    case 0x2000 | REQ_CLEAR_FEATURE:
    case 0x2000 | REQ_SET_FEATURE:
        /* C_HUB_LOCAL_POWER and C_HUB_OVER_CURRENT: never set. */
        return st->value <= 1 ? 0 : -1;
    case 0xa300 | REQ_GET_STATUS: {
        if (port < 1 || port > HUB_PORTS)
            return -1;
        uint8_t b[4] = { (uint8_t)s->status[port - 1], (uint8_t)(s->status[port - 1] >> 8),
                         (uint8_t)s->change[port - 1], (uint8_t)(s->change[port - 1] >> 8) };
        memcpy(data, b, MIN(sizeof(b), (size_t)st->length));
        return (int)MIN(sizeof(b), (size_t)st->length);
    }
    case 0x2300 | REQ_SET_FEATURE:
    case 0x2300 | REQ_CLEAR_FEATURE:
        if (port < 1 || port > HUB_PORTS)
            return -1;
        return port_feature(s, st->request == REQ_SET_FEATURE, st->value, port - 1);
    case 0x2300 | REQ_CLEAR_TT_BUFFER:
    case 0x2300 | REQ_RESET_TT:
    case 0x2300 | REQ_STOP_TT:
        /* Nothing is ever buffered in the transaction translator. */
        return d->speed == USB_SPEED_HIGH ? 0 : -1;
    case 0x2000 | REQ_SET_HUB_DEPTH:
        return d->speed == USB_SPEED_HIGH && st->value < 5 ? 0 : -1;
    default:
        return -1;
    }
}

static void hub_data(UsbDevice *d, UsbPacket *p)
{
    UsbHubState *s = (UsbHubState *)d;
    if (p->pid != USB_TOKEN_IN || p->ep != 1) {
        p->result = USB_RET_STALL;
        return;
    }
    unsigned bits = 0;
    for (int i = 0; i < HUB_PORTS; i++)
        if (s->change[i])
            bits |= 1u << (i + 1);
    if (!bits) {
        p->result = USB_RET_NAK;
        return;
    }
    uint8_t b[2] = { (uint8_t)bits, (uint8_t)(bits >> 8) };
    p->len = MIN(sizeof(b), p->max_len);
    memcpy(p->data, b, p->len);
    p->result = USB_RET_SUCCESS;
}

static const UsbDeviceOps hub_ops = {
    .control = hub_control, .data = hub_data, .find = hub_find, .child_attached = hub_child_attached,
    .child_wakeup = hub_child_wakeup, .child_detached = hub_child_detached,
};

/* ---- the device object ---- */

static void hub_reset(Device *dev)
{
    UsbHubState *s = (UsbHubState *)dev;
    usb_device_reset_core(&s->usb);
    /* Ports start powered off (11.11); the devices behind stay attached. */
    memset(s->status, 0, sizeof(s->status));
    memset(s->change, 0, sizeof(s->change));
}

static bool hub_realize(Device *dev, GError **err)
{
    UsbHubState *s = (UsbHubState *)dev;
    s->usb.ops = &hub_ops;
    s->usb.desc = s->usb.desc_full = &hub_desc_fs;
    s->usb.desc_high = &hub_desc_hs;
    s->usb.speed = USB_SPEED_FULL;
    s->usb.down = s->child;
    s->usb.ndown = HUB_PORTS;
    return usb_device_attach(&s->usb, err);
}

static void hub_unrealize(Device *dev)
{
    UsbHubState *s = (UsbHubState *)dev;
    usb_device_detach(&s->usb);
}

static bool hub_check(const void *state, GError **err)
{
    const UsbHubState *s = state;
    if (!usb_device_state_check(&s->usb, err))
        return false;
    if (s->usb.config > 1) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "usb-hub: configuration %u", s->usb.config);
        return false;
    }
    for (int i = 0; i < HUB_PORTS; i++) {
        uint16_t st = s->status[i];
        bool connected = (st & PS_CONNECTION) != 0;
        if ((st & ~(uint16_t)(PS_CONNECTION | PS_ENABLE | PS_SUSPEND | PS_POWER | PS_LOW_SPEED | PS_HIGH_SPEED |
                              PS_TEST | PS_INDICATOR)) ||
            s->change[i] & ~0x1fu || (connected && !(st & PS_POWER)) ||
            connected != (s->child[i] && (st & PS_POWER))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "usb-hub port %d: status 0x%04x change 0x%04x do not match this VM (device %s)", i + 1,
                        st, s->change[i], s->child[i] ? "attached" : "absent");
            return false;
        }
    }
    return true;
}

static const VmStateField hub_fields[] = {
    VMSTATE_STRUCT(UsbHubState, usb, UsbDevice, &usb_device_vmsd),
    VMSTATE_U16_ARRAY(UsbHubState, status, HUB_PORTS),
    VMSTATE_U16_ARRAY(UsbHubState, change, HUB_PORTS),
    VMSTATE_END,
};

static const VmStateDesc hub_vmsd = {
    .name = "usb-hub",
    .version = 1,
    .fields = hub_fields,
    .check = hub_check,
};

static const DeviceProp hub_props[] = {
    USB_DEVICE_PROPS(UsbHubState),
    { NULL },
};

static const DeviceClass hub_class = {
    .name = "usb-hub",
    .description = "USB 2.0 hub with eight ports (devices behind it: port=N.M)",
    .instance_size = sizeof(UsbHubState),
    .user_creatable = true,
    .props = hub_props,
    .vmsd = &hub_vmsd,
    .realize = hub_realize,
    .reset = hub_reset,
    .unrealize = hub_unrealize,
    /* Listed with the other USB devices (x-query-usb, info usb). */
    .bus_place = usb_device_bus_place,
};

__attribute__((constructor)) static void hub_register(void)
{
    device_class_register(&hub_class);
}
