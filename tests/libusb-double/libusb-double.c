/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libusb stand-in (see libusb-double.h): one device, transfers completed from the
 * test's script on the thread that calls libusb_handle_events_timeout_completed. */
#include "tests/libusb-double/libusb-double.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

struct libusb_context {
    int unused;
};
struct libusb_device {
    int refs;
};
struct libusb_device_handle {
    libusb_device *dev;
};

/* What the double keeps beside each transfer it hands out (the transfer ends in a
 * flexible array, so this header sits in front of it). */
typedef struct Xfer {
    bool submitted, cancelled;
    struct libusb_transfer t;
} Xfer;

#define XFER_OF(p) ((Xfer *)((char *)(p) - offsetof(Xfer, t)))

typedef struct Scripted {
    enum libusb_transfer_status st;
    size_t len;
    uint8_t data[];
} Scripted;

static GMutex lock;
static GCond cond;
static struct libusb_context the_ctx;
static struct libusb_device the_dev;
static const LibusbDoubleDevice *plugged;
static bool unplugged_pending; /* the hotplug callback still has to hear it */
static GList *in_flight;       /* Xfer * */
static GQueue script[16];      /* isochronous IN packets by endpoint number */
static int callbacks_running;
static int alts[32] = { [0 ... 31] = -1 };
static uint32_t claimed, detached;
static GByteArray *iso_out;
static libusb_hotplug_callback_fn hotplug_fn;
static void *hotplug_data;

void libusb_double_plug(const LibusbDoubleDevice *d)
{
    g_mutex_lock(&lock);
    plugged = d;
    detached = 0;
    claimed = 0;
    g_mutex_unlock(&lock);
}

void libusb_double_unplug(void)
{
    g_mutex_lock(&lock);
    plugged = NULL;
    unplugged_pending = true;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
}

void libusb_double_iso_in_push(uint8_t ep, enum libusb_transfer_status st, const uint8_t *data, size_t len)
{
    Scripted *s = g_malloc(sizeof(Scripted) + len);
    s->st = st;
    s->len = len;
    if (len)
        memcpy(s->data, data, len);
    g_mutex_lock(&lock);
    g_queue_push_tail(&script[ep & 15], s);
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
}

bool libusb_double_iso_in_drained(uint8_t ep, int timeout_ms)
{
    gint64 until = g_get_monotonic_time() + timeout_ms * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock(&lock);
    bool ok = true;
    while (ok && (g_queue_get_length(&script[ep & 15]) || callbacks_running))
        ok = g_cond_wait_until(&cond, &lock, until);
    g_mutex_unlock(&lock);
    return ok;
}

int libusb_double_in_flight(uint8_t ep, int *packets, int *packet_len)
{
    int n = 0;
    g_mutex_lock(&lock);
    for (GList *l = in_flight; l; l = l->next) {
        Xfer *x = l->data;
        if (x->t.endpoint != ep)
            continue;
        n++;
        *packets = x->t.num_iso_packets;
        *packet_len = x->t.num_iso_packets ? (int)x->t.iso_packet_desc[0].length : x->t.length;
    }
    g_mutex_unlock(&lock);
    return n;
}

int libusb_double_alt(uint8_t iface)
{
    g_mutex_lock(&lock);
    int a = iface < 32 ? alts[iface] : -1;
    g_mutex_unlock(&lock);
    return a;
}

uint32_t libusb_double_claimed(void)
{
    g_mutex_lock(&lock);
    uint32_t c = claimed;
    g_mutex_unlock(&lock);
    return c;
}

uint32_t libusb_double_detached(void)
{
    g_mutex_lock(&lock);
    uint32_t d = detached;
    g_mutex_unlock(&lock);
    return d;
}

uint8_t *libusb_double_iso_out_take(size_t *len)
{
    g_mutex_lock(&lock);
    GByteArray *b = iso_out ? iso_out : g_byte_array_new();
    iso_out = NULL;
    g_mutex_unlock(&lock);
    *len = b->len;
    return g_byte_array_free(b, false);
}

/* The microphone: an AudioControl interface and an AudioStreaming one whose setting 1 has
 * an asynchronous isochronous IN endpoint of 100 bytes (USB Audio 1.0, 4.6.1.1). */
static const struct libusb_endpoint_descriptor mic_ep = {
    .bLength = 9, .bDescriptorType = LIBUSB_DT_ENDPOINT, .bEndpointAddress = LIBUSB_DOUBLE_MIC_EP, .bmAttributes = 0x05,
    .wMaxPacketSize = LIBUSB_DOUBLE_MIC_MPS, .bInterval = 1,
};
static const struct libusb_interface_descriptor mic_ac = {
    .bLength = 9, .bDescriptorType = LIBUSB_DT_INTERFACE, .bInterfaceNumber = 0, .bInterfaceClass = 1,
    .bInterfaceSubClass = 1,
};
static const struct libusb_interface_descriptor mic_as[2] = {
    { .bLength = 9, .bDescriptorType = LIBUSB_DT_INTERFACE, .bInterfaceNumber = 1, .bAlternateSetting = 0,
      .bInterfaceClass = 1, .bInterfaceSubClass = 2 },
    { .bLength = 9, .bDescriptorType = LIBUSB_DT_INTERFACE, .bInterfaceNumber = 1, .bAlternateSetting = 1,
      .bNumEndpoints = 1, .bInterfaceClass = 1, .bInterfaceSubClass = 2, .endpoint = &mic_ep },
};
static const struct libusb_interface mic_ifaces[2] = {
    { .altsetting = &mic_ac, .num_altsetting = 1 },
    { .altsetting = mic_as, .num_altsetting = 2 },
};
static const struct libusb_config_descriptor mic_config = {
    .bLength = 9, .bDescriptorType = LIBUSB_DT_CONFIG, .bNumInterfaces = 2, .bConfigurationValue = 1,
    .bmAttributes = 0x80, .MaxPower = 50, .interface = mic_ifaces,
};
static const char *const mic_strings[] = { "Vireo test", "Double microphone" };
const LibusbDoubleDevice libusb_double_mic = {
    .desc = { .bLength = 18, .bDescriptorType = LIBUSB_DT_DEVICE, .bcdUSB = 0x0110, .bMaxPacketSize0 = 8,
              .idVendor = 0x1209, .idProduct = 0x7a01, .bcdDevice = 0x0100, .iManufacturer = 1, .iProduct = 2,
              .bNumConfigurations = 1 },
    .config = &mic_config,
    .speed = LIBUSB_SPEED_FULL,
    .bus = 3,
    .addr = 7,
    .strings = mic_strings,
    .n_strings = 2,
};

/* ---- libusb's functions, as usb-host.c uses them ---- */

int LIBUSB_CALL libusb_init(libusb_context **ctx)
{
    *ctx = &the_ctx;
    return 0;
}

void LIBUSB_CALL libusb_exit(libusb_context *ctx)
{
    (void)ctx;
}

const char *LIBUSB_CALL libusb_strerror(int code)
{
    switch (code) {
    case LIBUSB_SUCCESS: return "Success";
    case LIBUSB_ERROR_NO_DEVICE: return "No such device (it may have been disconnected)";
    case LIBUSB_ERROR_PIPE: return "Pipe error";
    case LIBUSB_ERROR_NOT_FOUND: return "Entity not found";
    default: return "Other error";
    }
}

int LIBUSB_CALL libusb_has_capability(uint32_t capability)
{
    return capability == LIBUSB_CAP_HAS_HOTPLUG;
}

ssize_t LIBUSB_CALL libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
    (void)ctx;
    g_mutex_lock(&lock);
    bool here = plugged != NULL;
    g_mutex_unlock(&lock);
    *list = g_new0(libusb_device *, 2);
    if (!here)
        return 0;
    (*list)[0] = libusb_ref_device(&the_dev);
    return 1;
}

void LIBUSB_CALL libusb_free_device_list(libusb_device **list, int unref_devices)
{
    for (int i = 0; list && list[i]; i++)
        if (unref_devices)
            libusb_unref_device(list[i]);
    g_free(list);
}

libusb_device *LIBUSB_CALL libusb_ref_device(libusb_device *dev)
{
    g_atomic_int_inc(&dev->refs);
    return dev;
}

void LIBUSB_CALL libusb_unref_device(libusb_device *dev)
{
    g_atomic_int_dec_and_test(&dev->refs);
}

/* The device as the test described it; a device that left keeps its descriptors, as
 * libusb's cached copy does. */
static const LibusbDoubleDevice *desc_of(void)
{
    static const LibusbDoubleDevice *last;
    g_mutex_lock(&lock);
    if (plugged)
        last = plugged;
    const LibusbDoubleDevice *d = last;
    g_mutex_unlock(&lock);
    return d;
}

int LIBUSB_CALL libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc)
{
    (void)dev;
    const LibusbDoubleDevice *d = desc_of();
    if (!d)
        return LIBUSB_ERROR_NO_DEVICE;
    *desc = d->desc;
    return 0;
}

uint8_t LIBUSB_CALL libusb_get_bus_number(libusb_device *dev)
{
    (void)dev;
    const LibusbDoubleDevice *d = desc_of();
    return d ? d->bus : 0;
}

uint8_t LIBUSB_CALL libusb_get_device_address(libusb_device *dev)
{
    (void)dev;
    const LibusbDoubleDevice *d = desc_of();
    return d ? d->addr : 0;
}

int LIBUSB_CALL libusb_get_device_speed(libusb_device *dev)
{
    (void)dev;
    const LibusbDoubleDevice *d = desc_of();
    return d ? (int)d->speed : LIBUSB_SPEED_UNKNOWN;
}

/* The test's descriptor stays its own: the free below leaves it alone. */
int LIBUSB_CALL libusb_get_config_descriptor(libusb_device *dev, uint8_t config_index,
                                             struct libusb_config_descriptor **config)
{
    (void)dev;
    const LibusbDoubleDevice *d = desc_of();
    if (!d || config_index != 0)
        return LIBUSB_ERROR_NOT_FOUND;
    *config = (struct libusb_config_descriptor *)d->config;
    return 0;
}

int LIBUSB_CALL libusb_get_active_config_descriptor(libusb_device *dev, struct libusb_config_descriptor **config)
{
    return libusb_get_config_descriptor(dev, 0, config);
}

void LIBUSB_CALL libusb_free_config_descriptor(struct libusb_config_descriptor *config)
{
    (void)config;
}

int LIBUSB_CALL libusb_open(libusb_device *dev, libusb_device_handle **dev_handle)
{
    g_mutex_lock(&lock);
    bool here = plugged != NULL;
    g_mutex_unlock(&lock);
    if (!here)
        return LIBUSB_ERROR_NO_DEVICE;
    *dev_handle = g_new0(libusb_device_handle, 1);
    (*dev_handle)->dev = libusb_ref_device(dev);
    return 0;
}

void LIBUSB_CALL libusb_close(libusb_device_handle *dev_handle)
{
    if (!dev_handle)
        return;
    libusb_unref_device(dev_handle->dev);
    g_free(dev_handle);
}

int LIBUSB_CALL libusb_get_string_descriptor_ascii(libusb_device_handle *dev_handle, uint8_t desc_index,
                                                   unsigned char *data, int length)
{
    (void)dev_handle;
    const LibusbDoubleDevice *d = desc_of();
    if (!d || !desc_index || desc_index > d->n_strings || !d->strings[desc_index - 1])
        return LIBUSB_ERROR_PIPE;
    int n = (int)MIN(strlen(d->strings[desc_index - 1]), (size_t)length);
    memcpy(data, d->strings[desc_index - 1], (size_t)n);
    return n;
}

int LIBUSB_CALL libusb_set_auto_detach_kernel_driver(libusb_device_handle *dev_handle, int enable)
{
    (void)dev_handle;
    (void)enable;
    return 0;
}

/* Every interface has a host driver until detached. */
int LIBUSB_CALL libusb_kernel_driver_active(libusb_device_handle *dev_handle, int interface_number)
{
    (void)dev_handle;
    return interface_number >= 0 && interface_number < 32 && !(libusb_double_detached() >> interface_number & 1);
}

int LIBUSB_CALL libusb_detach_kernel_driver(libusb_device_handle *dev_handle, int interface_number)
{
    (void)dev_handle;
    g_mutex_lock(&lock);
    detached |= 1u << (interface_number & 31);
    g_mutex_unlock(&lock);
    return 0;
}

int LIBUSB_CALL libusb_attach_kernel_driver(libusb_device_handle *dev_handle, int interface_number)
{
    (void)dev_handle;
    g_mutex_lock(&lock);
    detached &= ~(1u << (interface_number & 31));
    g_mutex_unlock(&lock);
    return 0;
}

int LIBUSB_CALL libusb_claim_interface(libusb_device_handle *dev_handle, int interface_number)
{
    (void)dev_handle;
    g_mutex_lock(&lock);
    claimed |= 1u << (interface_number & 31);
    g_mutex_unlock(&lock);
    return 0;
}

int LIBUSB_CALL libusb_release_interface(libusb_device_handle *dev_handle, int interface_number)
{
    (void)dev_handle;
    g_mutex_lock(&lock);
    claimed &= ~(1u << (interface_number & 31));
    g_mutex_unlock(&lock);
    return 0;
}

int LIBUSB_CALL libusb_set_interface_alt_setting(libusb_device_handle *dev_handle, int interface_number,
                                                 int alternate_setting)
{
    (void)dev_handle;
    g_mutex_lock(&lock);
    int r = plugged ? 0 : LIBUSB_ERROR_NO_DEVICE;
    if (!r && interface_number >= 0 && interface_number < 32)
        alts[interface_number] = alternate_setting;
    g_mutex_unlock(&lock);
    return r;
}

int LIBUSB_CALL libusb_clear_halt(libusb_device_handle *dev_handle, unsigned char endpoint)
{
    (void)dev_handle;
    (void)endpoint;
    return 0;
}

/* Class and vendor requests: OUT ones are taken, IN ones stall (the scripted device has
 * nothing to say on its default pipe beyond its descriptors). */
int LIBUSB_CALL libusb_control_transfer(libusb_device_handle *dev_handle, uint8_t request_type, uint8_t bRequest,
                                        uint16_t wValue, uint16_t wIndex, unsigned char *data, uint16_t wLength,
                                        unsigned int timeout)
{
    (void)dev_handle;
    (void)bRequest;
    (void)wValue;
    (void)wIndex;
    (void)data;
    (void)timeout;
    g_mutex_lock(&lock);
    bool here = plugged != NULL;
    g_mutex_unlock(&lock);
    if (!here)
        return LIBUSB_ERROR_NO_DEVICE;
    return (request_type & 0x80) ? LIBUSB_ERROR_PIPE : wLength;
}

struct libusb_transfer *LIBUSB_CALL libusb_alloc_transfer(int iso_packets)
{
    if (iso_packets < 0)
        return NULL;
    Xfer *x = calloc(1, sizeof(Xfer) + (size_t)iso_packets * sizeof(struct libusb_iso_packet_descriptor));
    if (!x)
        return NULL;
    x->t.num_iso_packets = iso_packets;
    return &x->t;
}

void LIBUSB_CALL libusb_free_transfer(struct libusb_transfer *transfer)
{
    if (!transfer)
        return;
    if (transfer->flags & LIBUSB_TRANSFER_FREE_BUFFER)
        free(transfer->buffer);
    free(XFER_OF(transfer));
}

int LIBUSB_CALL libusb_submit_transfer(struct libusb_transfer *transfer)
{
    Xfer *x = XFER_OF(transfer);
    g_mutex_lock(&lock);
    int r = 0;
    if (!plugged)
        r = LIBUSB_ERROR_NO_DEVICE;
    else if (x->submitted)
        r = LIBUSB_ERROR_BUSY;
    if (!r) {
        x->submitted = true;
        x->cancelled = false;
        in_flight = g_list_append(in_flight, x);
        g_cond_broadcast(&cond);
    }
    g_mutex_unlock(&lock);
    return r;
}

int LIBUSB_CALL libusb_cancel_transfer(struct libusb_transfer *transfer)
{
    Xfer *x = XFER_OF(transfer);
    g_mutex_lock(&lock);
    int r = x->submitted && !x->cancelled ? 0 : LIBUSB_ERROR_NOT_FOUND;
    if (!r) {
        x->cancelled = true;
        g_cond_broadcast(&cond);
    }
    g_mutex_unlock(&lock);
    return r;
}

/* Lock held: whether x can end now, and if so its results written into it. */
static bool xfer_ready(Xfer *x)
{
    struct libusb_transfer *t = &x->t;
    if (x->cancelled) {
        t->status = LIBUSB_TRANSFER_CANCELLED;
        return true;
    }
    if (!plugged) {
        t->status = LIBUSB_TRANSFER_NO_DEVICE;
        return true;
    }
    if (t->type != LIBUSB_TRANSFER_TYPE_ISOCHRONOUS)
        return false;
    if (!(t->endpoint & 0x80)) {
        if (!iso_out)
            iso_out = g_byte_array_new();
        g_byte_array_append(iso_out, t->buffer, (guint)t->length);
        for (int i = 0; i < t->num_iso_packets; i++) {
            t->iso_packet_desc[i].actual_length = t->iso_packet_desc[i].length;
            t->iso_packet_desc[i].status = LIBUSB_TRANSFER_COMPLETED;
        }
        t->actual_length = t->length;
        t->status = LIBUSB_TRANSFER_COMPLETED;
        return true;
    }
    GQueue *q = &script[t->endpoint & 15];
    if (g_queue_get_length(q) < (guint)t->num_iso_packets)
        return false;
    /* The packets sit at multiples of the first one's length, as libusb lays them out
     * for libusb_get_iso_packet_buffer_simple. */
    size_t stride = t->num_iso_packets ? t->iso_packet_desc[0].length : 0;
    t->actual_length = 0;
    for (int i = 0; i < t->num_iso_packets; i++) {
        Scripted *s = g_queue_pop_head(q);
        struct libusb_iso_packet_descriptor *d = &t->iso_packet_desc[i];
        size_t n = MIN(s->len, (size_t)d->length);
        memcpy(t->buffer + stride * (size_t)i, s->data, n);
        d->actual_length = (unsigned)n;
        d->status = s->st;
        t->actual_length += (int)n;
        g_free(s);
    }
    t->status = LIBUSB_TRANSFER_COMPLETED;
    return true;
}

int LIBUSB_CALL libusb_handle_events_timeout_completed(libusb_context *ctx, struct timeval *tv, int *completed)
{
    (void)ctx;
    (void)completed;
    gint64 until = g_get_monotonic_time() + tv->tv_sec * G_TIME_SPAN_SECOND + tv->tv_usec;
    g_mutex_lock(&lock);
    GList *done = NULL;
    bool left = false;
    for (;;) {
        for (GList *l = in_flight; l;) {
            GList *next = l->next;
            Xfer *x = l->data;
            if (xfer_ready(x)) {
                in_flight = g_list_delete_link(in_flight, l);
                x->submitted = false;
                done = g_list_append(done, x);
            }
            l = next;
        }
        left = unplugged_pending;
        unplugged_pending = false;
        if (done || left || !g_cond_wait_until(&cond, &lock, until))
            break;
    }
    callbacks_running++;
    libusb_hotplug_callback_fn fn = hotplug_fn;
    void *fn_data = hotplug_data;
    g_mutex_unlock(&lock);
    /* As libusb does, callbacks run without the library's locks: they submit again. */
    if (left && fn)
        fn(&the_ctx, &the_dev, LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, fn_data);
    for (GList *l = done; l; l = l->next) {
        Xfer *x = l->data;
        x->t.callback(&x->t);
    }
    g_list_free(done);
    g_mutex_lock(&lock);
    callbacks_running--;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
    return 0;
}

int LIBUSB_CALL libusb_hotplug_register_callback(libusb_context *ctx, int events, int flags, int vendor_id,
                                                 int product_id, int dev_class, libusb_hotplug_callback_fn cb_fn,
                                                 void *user_data, libusb_hotplug_callback_handle *callback_handle)
{
    (void)ctx;
    (void)events;
    (void)flags;
    (void)vendor_id;
    (void)product_id;
    (void)dev_class;
    g_mutex_lock(&lock);
    hotplug_fn = cb_fn;
    hotplug_data = user_data;
    g_mutex_unlock(&lock);
    *callback_handle = 1;
    return LIBUSB_SUCCESS;
}

void LIBUSB_CALL libusb_hotplug_deregister_callback(libusb_context *ctx, libusb_hotplug_callback_handle callback_handle)
{
    (void)ctx;
    (void)callback_handle;
    g_mutex_lock(&lock);
    hotplug_fn = NULL;
    hotplug_data = NULL;
    g_mutex_unlock(&lock);
}
