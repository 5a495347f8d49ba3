/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mock keyboard of usbmock.h: usbfs answered through umockdev's ioctl handler API.
 * Every buffer of the client (the URB, its data) is reached through umockdev's
 * resolve/set_ptr calls, so the client may be another process. */
#include "tests/usbmock/usbmock.h"

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <string.h>
#include <umockdev.h>

#define DEVNODE "/dev/bus/usb/001/002"
#define SYSPATH "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-1"

/* HID 1.11, appendix B.1: the boot keyboard's report descriptor. */
static const uint8_t report_desc[] = {
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01,
    0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01,
    0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
    0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xc0,
};

/* USB 2.0 9.6.1 and 9.6.3-9.6.6, HID 1.11 6.2.1: one interface, boot keyboard, one
 * interrupt IN endpoint of 8 bytes every 10 ms. */
static const uint8_t descriptors[18 + 34] = {
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xc0, 0x16, 0xdb, 0x27, 0x00, 0x01, 1, 2, 0, 1,
    9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 1, 3, 1, 1, 0,
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, sizeof(report_desc), 0,
    7, 5, 0x81, 3, 8, 0, 10,
};

static const char *const strings[] = { "Vireo", USBMOCK_PRODUCT_NAME };

typedef struct Urb {
    UMockdevIoctlData *data;   /* the client's struct usbdevfs_urb */
    UMockdevIoctlData *buffer; /* its buffer */
} Urb;

struct UsbMock {
    UMockdevTestbed *testbed;
    UMockdevIoctlBase *handler;
    char *syspath;
    GMutex lock;
    GQueue waiting;   /* interrupt IN URBs with no report yet */
    GQueue done;      /* URBs the client may reap */
    GQueue reports;   /* 8-byte reports to send */
    bool gone, busy;
    UsbMockStats stats;
};

static void urb_free(Urb *u)
{
    umockdev_ioctl_data_unref(u->data);
    umockdev_ioctl_data_unref(u->buffer);
    g_free(u);
}

static struct usbdevfs_urb *urb_of(Urb *u)
{
    return (struct usbdevfs_urb *)u->data->data;
}

/* lock held: hands waiting interrupt URBs the queued reports. */
static void pump(UsbMock *m)
{
    while (!g_queue_is_empty(&m->waiting) && !g_queue_is_empty(&m->reports)) {
        Urb *u = g_queue_pop_head(&m->waiting);
        GBytes *r = g_queue_pop_head(&m->reports);
        gsize n;
        const uint8_t *p = g_bytes_get_data(r, &n);
        struct usbdevfs_urb *urb = urb_of(u);
        n = MIN(n, (gsize)urb->buffer_length);
        memcpy(u->buffer->data, p, n);
        urb->actual_length = (int)n;
        urb->status = 0;
        g_bytes_unref(r);
        m->stats.reports_sent++;
        g_queue_push_tail(&m->done, u);
    }
}

/* A control request (USB 2.0 9.4, HID 7.1-7.2): the data stage goes after the 8 setup
 * bytes in the URB's buffer; returns its length or -EPIPE for a stall. */
static int control(UsbMock *m, uint8_t *buf, int len)
{
    uint8_t type = buf[0], req = buf[1];
    uint16_t value = (uint16_t)(buf[2] | buf[3] << 8), wlen = (uint16_t)(buf[6] | buf[7] << 8);
    uint8_t *out = buf + 8;
    int room = MIN(len - 8, (int)wlen);
    m->stats.control_requests++;
    if (type == 0x80 && req == 6) {
        uint8_t tmp[256];
        int n;
        switch (value >> 8) {
        case 1: memcpy(tmp, descriptors, 18); n = 18; break;
        case 2: memcpy(tmp, descriptors + 18, 34); n = 34; break;
        case 3:
            if ((value & 0xff) == 0) {
                n = 4;
                memcpy(tmp, (uint8_t[]){ 4, 3, 0x09, 0x04 }, 4);
            } else if ((value & 0xff) <= G_N_ELEMENTS(strings)) {
                const char *s = strings[(value & 0xff) - 1];
                n = 2 + 2 * (int)strlen(s);
                tmp[0] = (uint8_t)n;
                tmp[1] = 3;
                for (size_t i = 0; s[i]; i++) {
                    tmp[2 + 2 * i] = (uint8_t)s[i];
                    tmp[3 + 2 * i] = 0;
                }
            } else {
                return -EPIPE;
            }
            break;
        default: return -EPIPE;
        }
        n = MIN(n, room);
        memcpy(out, tmp, (size_t)n);
        return n;
    }
    if (type == 0x81 && req == 6 && value >> 8 == 0x22) {
        m->stats.get_report_desc++;
        int n = MIN((int)sizeof(report_desc), room);
        memcpy(out, report_desc, (size_t)n);
        return n;
    }
    if (type == 0x21 && req == 0x0a) { /* SET_IDLE */
        m->stats.set_idle++;
        return 0;
    }
    if (type == 0x21 && (req == 0x09 || req == 0x0b)) /* SET_REPORT (LEDs), SET_PROTOCOL */
        return 0;
    if (type == 0x00 && (req == 9 || req == 1 || req == 3)) /* SET_CONFIGURATION, features */
        return 0;
    if (type == 0x02 && req == 1) /* CLEAR_FEATURE(ENDPOINT_HALT) */
        return 0;
    return -EPIPE;
}

static gboolean handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer opaque)
{
    (void)h;
    UsbMock *m = opaque;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    g_mutex_lock(&m->lock);
    int ret = 0, err = 0;
    Urb *reaped = NULL;
    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(uint32_t), NULL);
        *(uint32_t *)d->data = USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                               USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
        umockdev_ioctl_data_unref(d);
        break;
    }
    case USBDEVFS_GETDRIVER: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_getdriver), NULL);
        struct usbdevfs_getdriver *gd = (struct usbdevfs_getdriver *)d->data;
        if (gd->interface == 0 && m->stats.driver_bound)
            g_strlcpy(gd->driver, "usbhid", sizeof(gd->driver));
        else
            ret = -1, err = ENODATA;
        umockdev_ioctl_data_unref(d);
        break;
    }
    case USBDEVFS_IOCTL: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_ioctl), NULL);
        struct usbdevfs_ioctl *io = (struct usbdevfs_ioctl *)d->data;
        if (io->ioctl_code == (int)USBDEVFS_DISCONNECT && io->ifno == 0 && m->stats.driver_bound) {
            m->stats.driver_bound = 0;
            m->stats.disconnects++;
        } else if (io->ioctl_code == (int)USBDEVFS_CONNECT && io->ifno == 0 && !m->stats.driver_bound) {
            m->stats.driver_bound = 1;
            m->stats.connects++;
        } else {
            ret = -1, err = ENODATA;
        }
        umockdev_ioctl_data_unref(d);
        break;
    }
    case USBDEVFS_CLAIMINTERFACE:
        if (m->busy || m->stats.driver_bound)
            ret = -1, err = EBUSY;
        else
            m->stats.claimed = 1;
        break;
    case USBDEVFS_RELEASEINTERFACE:
        m->stats.claimed = 0;
        break;
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
    case USBDEVFS_SETINTERFACE:
        break;
    case USBDEVFS_SUBMITURB: {
        if (m->gone) {
            ret = -1, err = ENODEV;
            break;
        }
        Urb *u = g_new0(Urb, 1);
        u->data = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
        struct usbdevfs_urb *urb = urb_of(u);
        u->buffer = umockdev_ioctl_data_resolve(u->data, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                                (gsize)MAX(urb->buffer_length, 0), NULL);
        urb->status = 0;
        urb->actual_length = 0;
        if (urb->type == USBDEVFS_URB_TYPE_CONTROL && urb->buffer_length >= 8) {
            int n = control(m, u->buffer->data, urb->buffer_length);
            urb->status = n < 0 ? n : 0;
            urb->actual_length = n < 0 ? 0 : n;
            g_queue_push_tail(&m->done, u);
        } else if (urb->type == USBDEVFS_URB_TYPE_INTERRUPT && urb->endpoint == 0x81) {
            g_queue_push_tail(&m->waiting, u);
            pump(m);
        } else {
            urb->status = -EPIPE;
            g_queue_push_tail(&m->done, u);
        }
        break;
    }
    case USBDEVFS_DISCARDURB: {
        /* The argument is the client's URB address itself. */
        gulong addr = (gulong) * (void **)arg->data;
        Urb *found = NULL;
        for (GList *l = m->waiting.head; l && !found; l = l->next)
            if (((Urb *)l->data)->data->client_addr == addr)
                found = l->data;
        if (found) {
            g_queue_remove(&m->waiting, found);
            urb_of(found)->status = -ENOENT;
            g_queue_push_tail(&m->done, found);
        } else {
            ret = -1, err = EINVAL;
        }
        break;
    }
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY: {
        Urb *u = g_queue_pop_head(&m->done);
        if (!u) {
            ret = -1, err = m->gone ? ENODEV : EAGAIN;
            break;
        }
        UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
        umockdev_ioctl_data_set_ptr(ptr, 0, u->data);
        umockdev_ioctl_data_unref(ptr);
        /* The client's URB and buffer get the result when this completes. */
        reaped = u;
        break;
    }
    default:
        g_mutex_unlock(&m->lock);
        return FALSE;
    }
    g_mutex_unlock(&m->lock);
    umockdev_ioctl_client_complete(client, ret, err);
    if (reaped)
        urb_free(reaped);
    return TRUE;
}

UsbMock *usbmock_new(void)
{
    UsbMock *m = g_new0(UsbMock, 1);
    g_mutex_init(&m->lock);
    m->stats.driver_bound = 1;
    m->testbed = umockdev_testbed_new();
    m->handler = umockdev_ioctl_base_new();
    g_signal_connect(m->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), m);
    /* The handler first, so the node is ready when libusb hears of the device. */
    umockdev_testbed_attach_ioctl(m->testbed, DEVNODE, m->handler, NULL);
    GString *hex = g_string_new(NULL);
    for (size_t i = 0; i < sizeof(descriptors); i++)
        g_string_append_printf(hex, "%02x", descriptors[i]);
    g_autofree char *text = g_strdup_printf(
        "P: /devices/pci0000:00/0000:00:01.2/usb1/1-1\n"
        "N: bus/usb/001/002\n"
        "E: SUBSYSTEM=usb\n"
        "E: DEVTYPE=usb_device\n"
        "E: DRIVER=usb\n"
        "E: BUSNUM=001\n"
        "E: DEVNUM=002\n"
        "E: DEVNAME=/dev/bus/usb/001/002\n"
        "E: PRODUCT=16c0/27db/100\n"
        "A: busnum=1\\n\n"
        "A: devnum=2\\n\n"
        "A: speed=12\\n\n"
        "A: bConfigurationValue=1\\n\n"
        "A: idVendor=16c0\\n\n"
        "A: idProduct=27db\\n\n"
        "A: manufacturer=Vireo\\n\n"
        "A: product=%s\\n\n"
        "H: descriptors=%s\n",
        USBMOCK_PRODUCT_NAME, hex->str);
    g_string_free(hex, true);
    g_autoptr(GError) err = NULL;
    if (!umockdev_testbed_add_from_string(m->testbed, text, &err))
        g_error("usbmock: umockdev cannot add the device: %s", err->message);
    m->syspath = g_strdup(SYSPATH);
    return m;
}

void usbmock_free(UsbMock *m)
{
    if (!m)
        return;
    umockdev_testbed_detach_ioctl(m->testbed, DEVNODE, NULL);
    g_clear_object(&m->handler);
    g_clear_object(&m->testbed);
    g_queue_clear_full(&m->waiting, (GDestroyNotify)urb_free);
    g_queue_clear_full(&m->done, (GDestroyNotify)urb_free);
    g_queue_clear_full(&m->reports, (GDestroyNotify)g_bytes_unref);
    g_free(m->syspath);
    g_mutex_clear(&m->lock);
    g_free(m);
}

void usbmock_key(UsbMock *m, uint8_t usage)
{
    uint8_t down[8] = { 0, 0, usage, 0, 0, 0, 0, 0 }, up[8] = { 0 };
    g_mutex_lock(&m->lock);
    g_queue_push_tail(&m->reports, g_bytes_new(down, 8));
    g_queue_push_tail(&m->reports, g_bytes_new(up, 8));
    pump(m);
    g_mutex_unlock(&m->lock);
}

void usbmock_unplug(UsbMock *m)
{
    g_mutex_lock(&m->lock);
    m->gone = true;
    /* What was in flight comes back as the kernel gives it back on a disconnect. */
    while (!g_queue_is_empty(&m->waiting)) {
        Urb *u = g_queue_pop_head(&m->waiting);
        urb_of(u)->status = -ESHUTDOWN;
        g_queue_push_tail(&m->done, u);
    }
    g_mutex_unlock(&m->lock);
    umockdev_testbed_uevent(m->testbed, m->syspath, "remove");
    umockdev_testbed_remove_device(m->testbed, m->syspath);
}

void usbmock_set_busy(UsbMock *m, bool busy)
{
    g_mutex_lock(&m->lock);
    m->busy = busy;
    g_mutex_unlock(&m->lock);
}

UsbMockStats usbmock_stats(UsbMock *m)
{
    g_mutex_lock(&m->lock);
    UsbMockStats s = m->stats;
    g_mutex_unlock(&m->lock);
    return s;
}
