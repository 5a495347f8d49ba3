/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-host: a device of the host passed to the guest (QEMU's -device usb-host with
 * vendorid=, productid=, hostbus=, hostaddr=). The guest sees the real device's
 * descriptors; the standard requests that only concern the guest's view (addresses) stay
 * in the core, the rest reach the device through engine/usb-host (libusb): class and
 * vendor control requests, alternate settings (SET_INTERFACE/GET_INTERFACE), bulk,
 * interrupt and isochronous transactions (IN packets with the length and status each
 * had on the host's bus). */
#include "hw/usb/usb.h"

#include <string.h>

#include "engine/usb-host/usb-host.h"
#include "engine/vm.h"

/* What the host-side "device left" handler needs after the device itself may be gone:
 * it runs on the main context, finds the device again by id under the engine lock. */
typedef struct GoneCtx {
    Vm *vm;
    char *id;
} GoneCtx;

typedef struct UsbHostState {
    UsbDevice usb;
    uint32_t vendorid, productid, hostbus, hostaddr; /* properties (0: any) */
    UsbHostHandle *h;
    UsbDescriptors desc;
    GoneCtx *gone;
    /* Guest-visible: the alternate setting the guest selected per interface number
     * (what GET_INTERFACE answers, restored on the host device after a load). */
    uint8_t alt[32];
} UsbHostState;

/* Back to setting 0 on every interface the guest had moved (a reset, a new
 * configuration): the host device follows. */
static void host_alts_reset(UsbHostState *s)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(s->alt); i++)
        if (s->alt[i]) {
            s->alt[i] = 0;
            if (s->h)
                usbhost_set_interface(s->h, (uint8_t)i, 0);
        }
}

static UsbResult result_of(UsbHostResult r)
{
    switch (r) {
    case USBHOST_OK: return USB_RET_SUCCESS;
    case USBHOST_NAK: return USB_RET_NAK;
    case USBHOST_STALL: return USB_RET_STALL;
    case USBHOST_BABBLE: return USB_RET_BABBLE;
    default: return USB_RET_NODEV; /* a wire error or a device that left: no handshake */
    }
}

static void host_data(UsbDevice *d, UsbPacket *p)
{
    UsbHostState *s = (UsbHostState *)d;
    bool in = p->pid == USB_TOKEN_IN;
    size_t actual = 0;
    UsbHostResult r = usbhost_data(s->h, (uint8_t)(p->ep | (in ? 0x80 : 0)), p->data, in ? p->max_len : p->len,
                                   &actual);
    p->result = result_of(r);
    if (in)
        p->len = p->result == USB_RET_SUCCESS || p->result == USB_RET_BABBLE ? actual : 0;
    /* The real endpoint halted: the core's view follows, so GET_STATUS tells the guest
     * and its CLEAR_FEATURE reaches the device (USB 2.0, 9.4.5, 8.4.5). */
    if (r == USBHOST_STALL) {
        if (in)
            d->halted_in |= 1u << p->ep;
        else
            d->halted_out |= 1u << p->ep;
    }
}

static int host_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    UsbHostState *s = (UsbHostState *)d;
    uint8_t setup[8] = { st->type, st->request, (uint8_t)st->value, (uint8_t)(st->value >> 8),
                         (uint8_t)st->index, (uint8_t)(st->index >> 8), (uint8_t)st->length,
                         (uint8_t)(st->length >> 8) };
    size_t actual = 0;
    if (usbhost_control(s->h, setup, data, &actual) != USBHOST_OK)
        return -1;
    return (st->type & 0x80) ? (int)actual : 0;
}

static void host_request_done(UsbDevice *d, const UsbSetup *st)
{
    UsbHostState *s = (UsbHostState *)d;
    if (st->request == 1 /* CLEAR_FEATURE */ && (st->type & 3) == 2) {
        usbhost_clear_halt(s->h, (uint8_t)st->index);
    } else if (st->request == 9 /* SET_CONFIGURATION */) {
        /* The pipes restart and every interface is back at setting 0 (USB 2.0, 9.1.1.5):
         * nothing in flight survives. SET_INTERFACE did its part in host_set_interface. */
        usbhost_flush(s->h);
        host_alts_reset(s);
    }
}

/* SET_INTERFACE (USB 2.0, 9.4.10) repeated on the real device, which stalls it or not. */
static int host_set_interface(UsbDevice *d, uint8_t iface, uint8_t alt)
{
    UsbHostState *s = (UsbHostState *)d;
    if (iface >= G_N_ELEMENTS(s->alt) || usbhost_set_interface(s->h, iface, alt) != USBHOST_OK)
        return -1;
    s->alt[iface] = alt;
    /* The interface's endpoints start un-halted in the new setting (USB 2.0, 9.4.10);
     * one the guest touched while its setting lacked it was answered with a stall. */
    const UsbDescriptors *desc = d->desc;
    int cur = -1;
    for (size_t pos = 0; pos + 2 <= desc->config_len && desc->config[pos] >= 2; pos += desc->config[pos]) {
        const uint8_t *p = desc->config + pos;
        if (p[1] == USB_DT_INTERFACE && p[0] >= 9 && pos + 9 <= desc->config_len)
            cur = p[2];
        else if (p[1] == USB_DT_ENDPOINT && p[0] >= 7 && pos + 7 <= desc->config_len && cur == iface) {
            if (p[2] & 0x80)
                d->halted_in &= (uint16_t)~(1u << (p[2] & 15));
            else
                d->halted_out &= (uint16_t)~(1u << (p[2] & 15));
        }
    }
    return 0;
}

static uint8_t host_get_interface(UsbDevice *d, uint8_t iface)
{
    UsbHostState *s = (UsbHostState *)d;
    return iface < G_N_ELEMENTS(s->alt) ? s->alt[iface] : 0;
}

static const UsbDeviceOps host_ops = {
    .control = host_control,
    .data = host_data,
    .request_done = host_request_done,
    .set_interface = host_set_interface,
    .get_interface = host_get_interface,
};

/* On the main context, no lock held: the device left the host, so it leaves the guest. */
static void host_gone(void *opaque)
{
    GoneCtx *g = opaque;
    Vm *vm = g->vm;
    g_autofree char *id = g_strdup(g->id);
    vm_lock(vm);
    Device *dev = device_find(vm, id);
    if (dev && dev->klass->unplug) {
        g_printerr("vireo: usb-host %s: the device left the host; unplugged from the guest\n", id);
        g_autoptr(GError) err = NULL;
        if (!device_unplug(dev, &err))
            g_printerr("vireo: %s\n", err->message);
    }
    vm_unlock(vm);
}

static void host_reset(Device *dev)
{
    UsbHostState *s = (UsbHostState *)dev;
    usb_device_reset_core(&s->usb);
    if (s->h)
        usbhost_flush(s->h);
    host_alts_reset(s);
}

static bool host_realize(Device *dev, GError **err)
{
    UsbHostState *s = (UsbHostState *)dev;
    if (!s->vendorid && !s->productid && !s->hostbus && !s->hostaddr) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "usb-host needs vendorid= and productid= (hex, 0x...) or hostbus= and hostaddr=");
        return false;
    }
    UsbHostMatch m = { (uint16_t)s->vendorid, (uint16_t)s->productid, s->hostbus ? (int)s->hostbus : -1,
                       s->hostaddr ? (int)s->hostaddr : -1 };
    g_autofree char *owner = g_strdup_printf("%s/%s", vm_name(dev->vm) ? vm_name(dev->vm) : "vm", dev->id);
    s->h = usbhost_open(&m, owner, err);
    if (!s->h)
        return false;
    s->desc.device = usbhost_device_descriptor(s->h);
    s->desc.config = usbhost_config_descriptor(s->h, &s->desc.config_len);
    s->desc.strings = usbhost_strings(s->h, &s->desc.n_strings);
    s->usb.ops = &host_ops;
    s->usb.desc = &s->desc;
    s->usb.speed = (UsbSpeed)usbhost_speed(s->h);
    if (!usb_device_attach(&s->usb, err)) {
        g_prefix_error(err, "%s: ", usbhost_name(s->h));
        usbhost_close(s->h);
        s->h = NULL;
        return false;
    }
    s->gone = g_new0(GoneCtx, 1);
    s->gone->vm = dev->vm;
    s->gone->id = g_strdup(dev->id);
    usbhost_set_gone_handler(s->h, host_gone, s->gone);
    return true;
}

static void host_unrealize(Device *dev)
{
    UsbHostState *s = (UsbHostState *)dev;
    usb_device_detach(&s->usb);
    /* Closing drops a pending "left" handler, so the context can go after it. */
    usbhost_close(s->h);
    s->h = NULL;
    if (s->gone) {
        g_free(s->gone->id);
        g_free(s->gone);
        s->gone = NULL;
    }
}

static bool host_check(const void *state, GError **err)
{
    const UsbHostState *s = state;
    return usb_device_state_check(&s->usb, err);
}

/* After a load, a result collected for a transaction of the saved run must not be
 * handed to the restored one: the restored schedule starts its transfers again. The
 * host device takes the alternate settings the guest had selected; one it refuses
 * leaves that interface at what the device has (its endpoints then stall). */
static void host_post_load(void *state)
{
    UsbHostState *s = state;
    if (!s->h)
        return;
    usbhost_flush(s->h);
    for (unsigned i = 0; i < G_N_ELEMENTS(s->alt); i++) {
        int now = usbhost_get_interface(s->h, (uint8_t)i);
        if (now < 0) {
            s->alt[i] = 0; /* no such interface: it has only "setting 0" to report */
            continue;
        }
        if (now != s->alt[i] && usbhost_set_interface(s->h, (uint8_t)i, s->alt[i]) != USBHOST_OK) {
            g_printerr("vireo: usb-host %s: the device refused alternate setting %u of interface %u after the load\n",
                       usbhost_name(s->h), s->alt[i], i);
            s->alt[i] = (uint8_t)now;
        }
    }
}

static const VmStateField host_fields[] = {
    VMSTATE_STRUCT(UsbHostState, usb, UsbDevice, &usb_device_vmsd),
    /* Version 2: alternate settings (version 1 had only setting 0). */
    { .name = "alt", .type = VMS_U8, .offset = offsetof(UsbHostState, alt), .count = 32, .version_added = 2 },
    VMSTATE_END,
};

static const VmStateDesc host_vmsd = {
    .name = "usb-host",
    .version = 2,
    .fields = host_fields,
    .check = host_check,
    .post_load = host_post_load,
};

static const DeviceProp host_props[] = {
    USB_DEVICE_PROPS(UsbHostState),
    { "vendorid", DEVICE_PROP_U32, offsetof(UsbHostState, vendorid), "host device's vendor id (0x046d)", "0", 0,
      0xffff, NULL },
    { "productid", DEVICE_PROP_U32, offsetof(UsbHostState, productid), "host device's product id (0xc52b)", "0",
      0, 0xffff, NULL },
    { "hostbus", DEVICE_PROP_U32, offsetof(UsbHostState, hostbus), "host bus number (lsusb's Bus, 0: any)", "0",
      0, 255, NULL },
    { "hostaddr", DEVICE_PROP_U32, offsetof(UsbHostState, hostaddr), "host device address (lsusb's Device, 0: any)",
      "0", 0, 127, NULL },
    { NULL },
};

static const DeviceClass host_class = {
    .name = "usb-host",
    .description = "a USB device of the host passed through to the guest (libusb)",
    .instance_size = sizeof(UsbHostState),
    .user_creatable = true,
    .props = host_props,
    .vmsd = &host_vmsd,
    .realize = host_realize,
    .reset = host_reset,
    .unrealize = host_unrealize,
    .unplug = usb_device_unplug,
    .bus_place = usb_device_bus_place,
};

__attribute__((constructor)) static void host_register(void)
{
    device_class_register(&host_class);
}
