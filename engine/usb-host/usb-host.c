/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host USB devices through libusb-1.0 (see usb-host.h for the model and lock rules). */
#include "engine/usb-host/usb-host.h"

#include <errno.h>
#include <stdlib.h>
#include <libusb.h>
#include <string.h>
#include <unistd.h>

#include "engine/config.h"

/* Reports an interrupt IN endpoint keeps before the oldest is dropped (a guest that
 * stopped polling must not grow the queue without end). */
#define REPORT_QUEUE_MAX 32
/* Isochronous OUT transfers an endpoint keeps in flight, one guest packet each: enough
 * for the packets of consecutive frames to be queued on the host's bus while earlier
 * ones are still being sent (the guest hands over one per 1 ms frame, or microframe). */
#define ISO_OUT_DEPTH 16
/* How long a guest's isochronous OUT packet waits for one of those to end before it is
 * dropped: a device that stopped taking data must not hold the engine lock. */
#define ISO_OUT_WAIT_MS 20
/* Isochronous IN: transfers kept submitted while the guest reads the endpoint, each of
 * ISO_IN_PACKETS packets (one per frame or microframe), so the host's bus has data
 * moving ahead of the guest's schedule; the packets they bring wait in a queue of at
 * most ISO_IN_QUEUE for the guest's transactions, one each, oldest first. */
#define ISO_IN_XFERS 4
#define ISO_IN_PACKETS 8
#define ISO_IN_QUEUE 64

typedef enum { EP_IDLE, EP_BUSY, EP_DONE } EpState;

typedef struct UsbHostHandle UsbHostHandle;

/* One isochronous IN packet as the device delivered it: its own status and length. */
typedef struct IsoPacket {
    UsbHostResult result;
    size_t len;
    uint8_t data[];
} IsoPacket;

typedef struct Endpoint {
    UsbHostHandle *h;
    uint8_t addr;           /* bit 7: IN */
    uint8_t type;           /* LIBUSB_TRANSFER_TYPE_* (0: not in the configuration) */
    uint16_t mps;
    EpState state;
    struct libusb_transfer *xfer; /* in flight (EP_BUSY), owned by the event thread then */
    uint8_t *buf;
    size_t want;            /* length submitted */
    size_t actual;
    UsbHostResult result;
    bool polling;           /* interrupt IN: a transfer is kept submitted */
    GQueue reports;         /* interrupt IN: GBytes, oldest first */
    UsbHostResult poll_error; /* interrupt IN: what stopped the polling */
    int iface;              /* interface number whose current alternate setting has it */
    /* Isochronous OUT: transfers in flight (owned by the event thread), the error of a
     * packet that failed after the guest's packet was retired (told on the next one),
     * and counts. */
    struct libusb_transfer *iso[ISO_OUT_DEPTH];
    int iso_busy;
    UsbHostResult iso_error;
    uint64_t iso_dropped;   /* packets dropped: no free transfer in time, no memory */
    /* Isochronous IN: transfers kept submitted (in iso[], counted by iso_busy) and the
     * packets they delivered (IsoPacket *, oldest first). */
    bool iso_streaming;
    GQueue iso_in;
} Endpoint;

struct UsbHostHandle {
    libusb_device *dev;
    libusb_device_handle *dh;
    char *name, *owner;
    int speed;
    int bus, addr;
    uint8_t device_desc[18];
    uint8_t *config;
    size_t config_len;
    char **strings;
    size_t n_strings;
    uint32_t claimed, detached; /* interfaces (bit n: interface n) */
    uint32_t interfaces;    /* the configuration's interface numbers (bit n: n) */
    struct libusb_config_descriptor *cfg; /* the active configuration, parsed */
    uint8_t alt[32];        /* current alternate setting by interface number */
    GMutex lock;            /* guards everything below and the endpoints' transfer state */
    GCond cond;
    int in_flight;
    bool closing, gone;
    Endpoint ep[32];        /* index: number + 16 for IN */
    UsbHostGoneFn gone_fn;
    void *gone_opaque;
    guint gone_idle;
    libusb_hotplug_callback_handle hotplug;
    bool has_hotplug;
};

/* ---- the process's libusb context and its event thread ---- */

static GMutex ctx_lock;
static libusb_context *ctx;
static GThread *event_thread;
static int ctx_users;
static volatile gint event_stop;
static GHashTable *owners;   /* "bus-addr" -> owner, devices open in this process */
static GHashTable *handles;  /* libusb_device * -> UsbHostHandle *, for hotplug */

typedef struct Watch {
    guint id;
    UsbHostChangedFn fn;
    void *opaque;
} Watch;
static GList *watches;
static guint next_watch_id = 1;
static libusb_hotplug_callback_handle list_hotplug;
static bool list_hotplug_on;
static guint list_idle;

static gpointer event_main(gpointer unused)
{
    (void)unused;
    while (!g_atomic_int_get(&event_stop)) {
        struct timeval tv = { 0, 100 * 1000 };
        libusb_handle_events_timeout_completed(ctx, &tv, NULL);
    }
    return NULL;
}

static bool ctx_ref(GError **err)
{
    g_mutex_lock(&ctx_lock);
    if (!ctx) {
        int r = libusb_init(&ctx);
        if (r) {
            ctx = NULL;
            g_mutex_unlock(&ctx_lock);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "usb-host: libusb cannot start: %s%s", libusb_strerror(r),
                        g_file_test("/dev/bus/usb", G_FILE_TEST_IS_DIR)
                            ? ""
                            : " (this host has no /dev/bus/usb: no USB, or a container without it)");
            return false;
        }
        owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        handles = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_atomic_int_set(&event_stop, 0);
        event_thread = g_thread_new("libusb-events", event_main, NULL);
    }
    ctx_users++;
    g_mutex_unlock(&ctx_lock);
    return true;
}

static void ctx_unref(void)
{
    g_mutex_lock(&ctx_lock);
    if (--ctx_users > 0) {
        g_mutex_unlock(&ctx_lock);
        return;
    }
    g_atomic_int_set(&event_stop, 1);
    GThread *t = event_thread;
    event_thread = NULL;
    g_mutex_unlock(&ctx_lock);
    /* libusb_close and hotplug deregistration wake the event thread; the 100 ms timeout
     * bounds the wait otherwise. */
    if (t)
        g_thread_join(t);
    else
        return; /* another caller is stopping it and will finish the job */
    g_mutex_lock(&ctx_lock);
    if (!ctx_users) {
        libusb_exit(ctx);
        ctx = NULL;
        g_clear_pointer(&owners, g_hash_table_unref);
        g_clear_pointer(&handles, g_hash_table_unref);
    } else if (!event_thread) {
        /* Someone took the context while the thread was stopping: it runs again. */
        g_atomic_int_set(&event_stop, 0);
        event_thread = g_thread_new("libusb-events", event_main, NULL);
    }
    g_mutex_unlock(&ctx_lock);
}

static int speed_of(libusb_device *dev)
{
    switch (libusb_get_device_speed(dev)) {
    case LIBUSB_SPEED_LOW: return USBHOST_SPEED_LOW;
    case LIBUSB_SPEED_HIGH: return USBHOST_SPEED_HIGH;
    case LIBUSB_SPEED_SUPER:
    case LIBUSB_SPEED_SUPER_PLUS: return USBHOST_SPEED_SUPER;
    default: return USBHOST_SPEED_FULL;
    }
}

static char *owner_key(int bus, int addr)
{
    return g_strdup_printf("%d-%d", bus, addr);
}

/* ---- the device list ---- */

static void info_free(gpointer p)
{
    UsbHostInfo *i = p;
    g_free(i->manufacturer);
    g_free(i->product);
    g_free(i->serial);
    g_free(i->in_use_by);
    g_free(i);
}

static char *string_of(libusb_device_handle *dh, uint8_t index)
{
    unsigned char buf[256];
    if (!index)
        return NULL;
    int n = libusb_get_string_descriptor_ascii(dh, index, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = 0;
    return g_strdup((char *)buf);
}

/* String index (1-based) of an open device, as read at its open; NULL when it has none. */
static const char *held_string(UsbHostHandle *h, uint8_t index)
{
    return index && index <= h->n_strings ? h->strings[index - 1] : NULL;
}

static gint info_cmp(gconstpointer a, gconstpointer b)
{
    const UsbHostInfo *x = *(UsbHostInfo *const *)a, *y = *(UsbHostInfo *const *)b;
    return x->bus != y->bus ? x->bus - y->bus : x->addr - y->addr;
}

GPtrArray *usbhost_list_devices(GError **err)
{
    if (!ctx_ref(err))
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func(info_free);
    libusb_device **list;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd))
            continue;
        UsbHostInfo *info = g_new0(UsbHostInfo, 1);
        info->bus = libusb_get_bus_number(list[i]);
        info->addr = libusb_get_device_address(list[i]);
        info->vendor_id = dd.idVendor;
        info->product_id = dd.idProduct;
        info->dev_class = dd.bDeviceClass;
        info->speed = speed_of(list[i]);
        /* From the descriptors the kernel cached (sysfs): no open needed. */
        struct libusb_config_descriptor *cd;
        if (libusb_get_config_descriptor(list[i], 0, &cd) == 0) {
            for (int f = 0; f < cd->bNumInterfaces && info->n_interfaces < USBHOST_INFO_MAX_INTERFACES; f++) {
                if (cd->interface[f].num_altsetting < 1)
                    continue;
                const struct libusb_interface_descriptor *id = &cd->interface[f].altsetting[0];
                info->interfaces[info->n_interfaces].cls = id->bInterfaceClass;
                info->interfaces[info->n_interfaces].subclass = id->bInterfaceSubClass;
                info->interfaces[info->n_interfaces].protocol = id->bInterfaceProtocol;
                info->n_interfaces++;
            }
            libusb_free_config_descriptor(cd);
        }
        g_mutex_lock(&ctx_lock);
        g_autofree char *key = owner_key(info->bus, info->addr);
        info->in_use_by = g_strdup(g_hash_table_lookup(owners, key));
        /* A device open here keeps the strings read at its open: no second open. */
        UsbHostHandle *held = g_hash_table_lookup(handles, list[i]);
        if (held) {
            info->manufacturer = g_strdup(held_string(held, dd.iManufacturer));
            info->product = g_strdup(held_string(held, dd.iProduct));
            info->serial = g_strdup(held_string(held, dd.iSerialNumber));
        }
        g_mutex_unlock(&ctx_lock);
        libusb_device_handle *dh;
        if (!info->in_use_by && libusb_open(list[i], &dh) == 0) {
            info->manufacturer = string_of(dh, dd.iManufacturer);
            info->product = string_of(dh, dd.iProduct);
            info->serial = string_of(dh, dd.iSerialNumber);
            libusb_close(dh);
        }
        g_ptr_array_add(out, info);
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    g_ptr_array_sort(out, info_cmp);
    ctx_unref();
    return out;
}

static gboolean list_changed_idle(gpointer unused)
{
    (void)unused;
    g_mutex_lock(&ctx_lock);
    list_idle = 0;
    GList *copy = g_list_copy(watches);
    g_mutex_unlock(&ctx_lock);
    for (GList *l = copy; l; l = l->next) {
        Watch *w = l->data;
        /* A callback may unwatch another: only call those still registered. */
        g_mutex_lock(&ctx_lock);
        bool live = g_list_find(watches, w) != NULL;
        g_mutex_unlock(&ctx_lock);
        if (live)
            w->fn(w->opaque);
    }
    g_list_free(copy);
    return G_SOURCE_REMOVE;
}

static void handle_gone(UsbHostHandle *h);

/* On the event thread: a device arrived or left. */
static int hotplug_cb(libusb_context *c, libusb_device *dev, libusb_hotplug_event ev, void *unused)
{
    (void)c;
    (void)unused;
    g_mutex_lock(&ctx_lock);
    if (watches && !list_idle)
        list_idle = g_idle_add(list_changed_idle, NULL);
    UsbHostHandle *h = ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT && handles ? g_hash_table_lookup(handles, dev) : NULL;
    /* Still under ctx_lock: usbhost_close takes the handle out of the table under it
     * before freeing it (lock order: ctx_lock, then a handle's lock). */
    if (h)
        handle_gone(h);
    g_mutex_unlock(&ctx_lock);
    return 0;
}

/* The one hotplug registration, made while anyone watches the list or holds a device. */
static void hotplug_update(void)
{
    bool want = watches || (handles && g_hash_table_size(handles));
    if (want && !list_hotplug_on && libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        list_hotplug_on = libusb_hotplug_register_callback(
                              ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
                              0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                              hotplug_cb, NULL, &list_hotplug) == LIBUSB_SUCCESS;
    } else if (!want && list_hotplug_on) {
        libusb_hotplug_deregister_callback(ctx, list_hotplug);
        list_hotplug_on = false;
    }
}

guint usbhost_watch(UsbHostChangedFn fn, void *opaque, GError **err)
{
    if (!ctx_ref(err))
        return 0;
    if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "usb-host: this libusb has no hotplug support");
        ctx_unref();
        return 0;
    }
    Watch *w = g_new0(Watch, 1);
    w->fn = fn;
    w->opaque = opaque;
    g_mutex_lock(&ctx_lock);
    w->id = next_watch_id++;
    watches = g_list_append(watches, w);
    g_mutex_unlock(&ctx_lock);
    hotplug_update();
    return w->id;
}

void usbhost_unwatch(guint id)
{
    g_mutex_lock(&ctx_lock);
    Watch *found = NULL;
    for (GList *l = watches; l; l = l->next)
        if (((Watch *)l->data)->id == id)
            found = l->data;
    watches = g_list_remove(watches, found);
    if (!watches && list_idle) {
        g_source_remove(list_idle);
        list_idle = 0;
    }
    g_mutex_unlock(&ctx_lock);
    if (!found)
        return;
    g_free(found);
    hotplug_update();
    ctx_unref();
}

/* ---- opening ---- */

static bool matches(const UsbHostMatch *m, libusb_device *dev, const struct libusb_device_descriptor *dd)
{
    return (!m->vendor_id || dd->idVendor == m->vendor_id) && (!m->product_id || dd->idProduct == m->product_id) &&
           (m->bus < 0 || libusb_get_bus_number(dev) == m->bus) &&
           (m->addr < 0 || libusb_get_device_address(dev) == m->addr);
}

static char *match_text(const UsbHostMatch *m)
{
    GString *s = g_string_new(NULL);
    if (m->vendor_id || m->product_id)
        g_string_append_printf(s, "%04x:%04x", m->vendor_id, m->product_id);
    if (m->bus >= 0 || m->addr >= 0) {
        if (s->len)
            g_string_append(s, " at ");
        g_string_append(s, "bus ");
        if (m->bus >= 0)
            g_string_append_printf(s, "%d", m->bus);
        else
            g_string_append(s, "any");
        g_string_append(s, " address ");
        if (m->addr >= 0)
            g_string_append_printf(s, "%d", m->addr);
        else
            g_string_append(s, "any");
    }
    if (!s->len)
        g_string_append(s, "(any)");
    return g_string_free(s, false);
}

/* The configuration descriptor set as the device sends it: libusb hands it over parsed
 * (USB 2.0, 9.6.3-9.6.6), so it is laid out again in the order of the wire, with the
 * class-specific descriptors ("extra") after the descriptor they follow. */
static void put_config(GByteArray *b, const struct libusb_config_descriptor *c)
{
    uint8_t hdr[9] = { 9, LIBUSB_DT_CONFIG, 0, 0, c->bNumInterfaces, c->bConfigurationValue,
                       c->iConfiguration, c->bmAttributes, c->MaxPower };
    g_byte_array_append(b, hdr, 9);
    g_byte_array_append(b, c->extra, (guint)c->extra_length);
    for (int i = 0; i < c->bNumInterfaces; i++) {
        const struct libusb_interface *itf = &c->interface[i];
        for (int a = 0; a < itf->num_altsetting; a++) {
            const struct libusb_interface_descriptor *id = &itf->altsetting[a];
            uint8_t d[9] = { 9, LIBUSB_DT_INTERFACE, id->bInterfaceNumber, id->bAlternateSetting,
                             id->bNumEndpoints, id->bInterfaceClass, id->bInterfaceSubClass,
                             id->bInterfaceProtocol, id->iInterface };
            g_byte_array_append(b, d, 9);
            g_byte_array_append(b, id->extra, (guint)id->extra_length);
            for (int e = 0; e < id->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ed = &id->endpoint[e];
                /* Audio endpoints carry two more bytes (bRefresh, bSynchAddress). */
                uint8_t ep[9] = { ed->bLength >= 9 ? 9 : 7, LIBUSB_DT_ENDPOINT, ed->bEndpointAddress,
                                  ed->bmAttributes, (uint8_t)ed->wMaxPacketSize, (uint8_t)(ed->wMaxPacketSize >> 8),
                                  ed->bInterval, ed->bRefresh, ed->bSynchAddress };
                g_byte_array_append(b, ep, ep[0]);
                g_byte_array_append(b, ed->extra, (guint)ed->extra_length);
            }
        }
    }
    b->data[2] = (uint8_t)b->len;
    b->data[3] = (uint8_t)(b->len >> 8);
}

static void put_device(uint8_t out[18], const struct libusb_device_descriptor *d)
{
    uint8_t b[18] = { 18, LIBUSB_DT_DEVICE, (uint8_t)d->bcdUSB, (uint8_t)(d->bcdUSB >> 8), d->bDeviceClass,
                      d->bDeviceSubClass, d->bDeviceProtocol, d->bMaxPacketSize0, (uint8_t)d->idVendor,
                      (uint8_t)(d->idVendor >> 8), (uint8_t)d->idProduct, (uint8_t)(d->idProduct >> 8),
                      (uint8_t)d->bcdDevice, (uint8_t)(d->bcdDevice >> 8), d->iManufacturer, d->iProduct,
                      d->iSerialNumber, 1 };
    memcpy(out, b, 18);
}

static Endpoint *ep_of(UsbHostHandle *h, uint8_t addr)
{
    return &h->ep[(addr & 15) + ((addr & 0x80) ? 16 : 0)];
}

/* The parsed alternate setting `alt` of interface number `iface`, or NULL. */
static const struct libusb_interface_descriptor *altsetting_of(UsbHostHandle *h, int iface, int alt)
{
    for (int i = 0; i < h->cfg->bNumInterfaces; i++)
        for (int a = 0; a < h->cfg->interface[i].num_altsetting; a++) {
            const struct libusb_interface_descriptor *id = &h->cfg->interface[i].altsetting[a];
            if (id->bInterfaceNumber == iface && id->bAlternateSetting == alt)
                return id;
        }
    return NULL;
}

/* h->lock held (or h not yet shared): the endpoint table takes the endpoints of alternate
 * setting `alt` of interface `iface` in place of those of its previous one (USB 2.0,
 * 9.6.5: each setting lists its own endpoints). False when the setting does not exist. */
static bool endpoints_load(UsbHostHandle *h, int iface, int alt)
{
    const struct libusb_interface_descriptor *id = altsetting_of(h, iface, alt);
    if (!id)
        return false;
    for (int i = 0; i < 32; i++)
        if (h->ep[i].iface == iface) {
            h->ep[i].type = 0;
            h->ep[i].mps = 0;
            h->ep[i].iface = -1;
        }
    for (int k = 0; k < id->bNumEndpoints; k++) {
        const struct libusb_endpoint_descriptor *ed = &id->endpoint[k];
        Endpoint *e = ep_of(h, ed->bEndpointAddress);
        e->addr = ed->bEndpointAddress;
        e->type = ed->bmAttributes & 3;
        /* Bits 12-11: extra transactions per microframe of a high-speed high-bandwidth
         * endpoint (USB 2.0, 9.6.6, table 9-14). */
        unsigned mult = 1 + ((ed->wMaxPacketSize >> 11) & 3);
        e->mps = (uint16_t)((ed->wMaxPacketSize & 0x7ff) * MIN(mult, 3u));
        e->iface = iface;
    }
    if (iface < 32)
        h->alt[iface] = (uint8_t)alt;
    return true;
}

/* The strings a guest may ask for: the indexes the device and configuration name. */
static void read_strings(UsbHostHandle *h)
{
    unsigned max = 0;
    GArray *idx = g_array_new(false, false, 1);
    const uint8_t *dd = h->device_desc;
    uint8_t fixed[] = { dd[14], dd[15], dd[16], h->config[6] };
    g_array_append_vals(idx, fixed, sizeof(fixed));
    for (size_t pos = 0; pos + 2 <= h->config_len && h->config[pos] >= 2; pos += h->config[pos])
        if (h->config[pos + 1] == LIBUSB_DT_INTERFACE && h->config[pos] >= 9 && pos + 9 <= h->config_len)
            g_array_append_val(idx, h->config[pos + 8]);
    for (guint i = 0; i < idx->len; i++)
        max = MAX(max, g_array_index(idx, uint8_t, i));
    h->n_strings = max;
    h->strings = g_new0(char *, max + 1);
    for (guint i = 0; i < idx->len; i++) {
        uint8_t n = g_array_index(idx, uint8_t, i);
        if (n && !h->strings[n - 1])
            h->strings[n - 1] = string_of(h->dh, n);
    }
    g_array_free(idx, true);
}

static void release_interfaces(UsbHostHandle *h)
{
    for (int i = 0; i < 32; i++) {
        if ((h->claimed >> i) & 1)
            libusb_release_interface(h->dh, i);
        if ((h->detached >> i) & 1)
            libusb_attach_kernel_driver(h->dh, i);
    }
    h->claimed = h->detached = 0;
}

static bool claim_interfaces(UsbHostHandle *h, GError **err)
{
    for (int i = 0; i < 32; i++) {
        if (!((h->interfaces >> i) & 1))
            continue;
        if (libusb_kernel_driver_active(h->dh, i) == 1) {
            int r = libusb_detach_kernel_driver(h->dh, i);
            if (r) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                            "usb-host: %s: cannot detach the host's driver from interface %d: %s", h->name, i,
                            libusb_strerror(r));
                return false;
            }
            h->detached |= 1u << i;
        }
        int r = libusb_claim_interface(h->dh, i);
        if (r == LIBUSB_ERROR_BUSY) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "usb-host: %s is busy: another program holds its interface %d", h->name, i);
            return false;
        }
        if (r) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "usb-host: %s: cannot claim interface %d: %s",
                        h->name, i, libusb_strerror(r));
            return false;
        }
        h->claimed |= 1u << i;
    }
    return true;
}

static void handle_free(UsbHostHandle *h)
{
    for (int i = 0; i < 32; i++) {
        g_queue_clear_full(&h->ep[i].reports, (GDestroyNotify)g_bytes_unref);
        g_queue_clear_full(&h->ep[i].iso_in, g_free);
        g_free(h->ep[i].buf);
    }
    /* Indexes the device does not use are holes: not a NULL-terminated vector. */
    for (size_t i = 0; h->strings && i < h->n_strings; i++)
        g_free(h->strings[i]);
    g_free(h->strings);
    g_free(h->config);
    if (h->cfg)
        libusb_free_config_descriptor(h->cfg);
    g_free(h->name);
    g_free(h->owner);
    g_mutex_clear(&h->lock);
    g_cond_clear(&h->cond);
    g_free(h);
}

UsbHostHandle *usbhost_open(const UsbHostMatch *m, const char *owner, GError **err)
{
    if (!ctx_ref(err))
        return NULL;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(ctx, &list);
    libusb_device *found = NULL;
    int count = 0;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        if (!libusb_get_device_descriptor(list[i], &dd) && matches(m, list[i], &dd)) {
            count++;
            if (!found)
                found = list[i];
        }
    }
    g_autofree char *want = match_text(m);
    if (count != 1) {
        if (count == 0)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                        "usb-host: no host USB device %s (lsusb lists the attached ones)", want);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "usb-host: %d host USB devices match %s: add hostbus= and hostaddr=", count, want);
        if (n >= 0)
            libusb_free_device_list(list, 1);
        ctx_unref();
        return NULL;
    }
    UsbHostHandle *h = g_new0(UsbHostHandle, 1);
    g_mutex_init(&h->lock);
    g_cond_init(&h->cond);
    h->dev = libusb_ref_device(found);
    libusb_free_device_list(list, 1);
    h->bus = libusb_get_bus_number(h->dev);
    h->addr = libusb_get_device_address(h->dev);
    h->speed = speed_of(h->dev);
    struct libusb_device_descriptor dd;
    libusb_get_device_descriptor(h->dev, &dd);
    h->name = g_strdup_printf("%03d/%03d %04x:%04x", h->bus, h->addr, dd.idVendor, dd.idProduct);
    h->owner = g_strdup(owner);
    g_autofree char *key = owner_key(h->bus, h->addr);

    g_mutex_lock(&ctx_lock);
    const char *other = g_hash_table_lookup(owners, key);
    if (other) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "usb-host: %s is busy: %s uses it", h->name, other);
        g_mutex_unlock(&ctx_lock);
        goto fail;
    }
    g_mutex_unlock(&ctx_lock);

    int r = libusb_open(h->dev, &h->dh);
    if (r == LIBUSB_ERROR_ACCESS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                    "usb-host: %s: /dev/bus/usb/%03d/%03d needs read and write permission for this user; "
                    "a udev rule grants it: SUBSYSTEM==\"usb\", ATTR{idVendor}==\"%04x\", ATTR{idProduct}==\"%04x\", "
                    "MODE=\"0660\", TAG+=\"uaccess\" (in /etc/udev/rules.d/50-vireo-usb.rules, then replug)",
                    h->name, h->bus, h->addr, dd.idVendor, dd.idProduct);
        goto fail;
    }
    if (r) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "usb-host: %s: cannot open: %s", h->name, libusb_strerror(r));
        goto fail;
    }
    struct libusb_config_descriptor *cfg;
    r = libusb_get_active_config_descriptor(h->dev, &cfg);
    if (r) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "usb-host: %s: no active configuration: %s", h->name,
                    libusb_strerror(r));
        goto fail;
    }
    put_device(h->device_desc, &dd);
    GByteArray *b = g_byte_array_new();
    put_config(b, cfg);
    /* Interface numbers need not run from 0 without gaps (USB 2.0, 9.6.5). */
    for (int i = 0; i < cfg->bNumInterfaces; i++)
        if (cfg->interface[i].num_altsetting > 0 && cfg->interface[i].altsetting[0].bInterfaceNumber < 32)
            h->interfaces |= 1u << cfg->interface[i].altsetting[0].bInterfaceNumber;
    h->cfg = cfg;
    h->config_len = b->len;
    h->config = g_byte_array_free(b, false);
    for (int i = 0; i < 32; i++) {
        Endpoint *e = ep_of(h, (uint8_t)((i & 15) | (i >= 16 ? 0x80 : 0)));
        e->h = h;
        e->iface = -1;
    }
    for (int i = 0; i < cfg->bNumInterfaces; i++)
        if (cfg->interface[i].num_altsetting > 0)
            endpoints_load(h, cfg->interface[i].altsetting[0].bInterfaceNumber, 0);
    libusb_set_auto_detach_kernel_driver(h->dh, 0);
    if (!claim_interfaces(h, err))
        goto fail;
    read_strings(h);

    g_mutex_lock(&ctx_lock);
    g_hash_table_insert(owners, g_strdup(key), g_strdup(owner));
    g_hash_table_insert(handles, h->dev, h);
    g_mutex_unlock(&ctx_lock);
    hotplug_update();
    return h;

fail:
    if (h->dh) {
        release_interfaces(h);
        libusb_close(h->dh);
    }
    libusb_unref_device(h->dev);
    handle_free(h);
    ctx_unref();
    return NULL;
}

/* ---- transfers ---- */

static UsbHostResult status_result(enum libusb_transfer_status st)
{
    switch (st) {
    case LIBUSB_TRANSFER_COMPLETED: return USBHOST_OK;
    case LIBUSB_TRANSFER_STALL: return USBHOST_STALL;
    case LIBUSB_TRANSFER_OVERFLOW: return USBHOST_BABBLE;
    case LIBUSB_TRANSFER_NO_DEVICE: return USBHOST_GONE;
    default: return USBHOST_ERROR;
    }
}

static gboolean gone_idle(gpointer opaque)
{
    UsbHostHandle *h = opaque;
    g_mutex_lock(&h->lock);
    h->gone_idle = 0;
    UsbHostGoneFn fn = h->gone_fn;
    void *fo = h->gone_opaque;
    h->gone_fn = NULL;
    g_mutex_unlock(&h->lock);
    if (fn)
        fn(fo);
    return G_SOURCE_REMOVE;
}

/* h->lock held: the device left. The handler runs once, on the main context. */
static void gone_locked(UsbHostHandle *h)
{
    if (!h->gone) {
        h->gone = true;
        if (h->gone_fn && !h->closing)
            h->gone_idle = g_idle_add(gone_idle, h);
    }
}

static void handle_gone(UsbHostHandle *h)
{
    g_mutex_lock(&h->lock);
    gone_locked(h);
    g_mutex_unlock(&h->lock);
}

static void submit_locked(Endpoint *e);

/* On the event thread. */
static void LIBUSB_CALL xfer_done(struct libusb_transfer *x)
{
    Endpoint *e = x->user_data;
    UsbHostHandle *h = e->h;
    UsbHostResult res = status_result(x->status);
    g_mutex_lock(&h->lock);
    /* Everything about h happens before in_flight drops under the lock: once it is 0,
     * usbhost_close may free h. */
    if (res == USBHOST_GONE)
        gone_locked(h);
    h->in_flight--;
    e->xfer = NULL;
    if (x->status == LIBUSB_TRANSFER_CANCELLED || h->closing) {
        e->state = EP_IDLE;
        e->polling = false;
    } else if (e->polling) {
        if (res == USBHOST_OK) {
            if (g_queue_get_length(&e->reports) >= REPORT_QUEUE_MAX)
                g_bytes_unref(g_queue_pop_head(&e->reports));
            g_queue_push_tail(&e->reports, g_bytes_new(x->buffer, (gsize)x->actual_length));
            submit_locked(e);
        } else {
            e->polling = false;
            e->poll_error = res;
            e->state = EP_IDLE;
        }
    } else {
        e->actual = (size_t)x->actual_length;
        e->result = res;
        e->state = EP_DONE;
    }
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
    libusb_free_transfer(x);
}

/* On the event thread: an isochronous OUT transfer (one packet) ended. */
static void LIBUSB_CALL iso_out_done(struct libusb_transfer *x)
{
    Endpoint *e = x->user_data;
    UsbHostHandle *h = e->h;
    g_mutex_lock(&h->lock);
    if (x->status == LIBUSB_TRANSFER_NO_DEVICE)
        gone_locked(h);
    for (int i = 0; i < ISO_OUT_DEPTH; i++)
        if (e->iso[i] == x)
            e->iso[i] = NULL;
    e->iso_busy--;
    h->in_flight--;
    if (x->status != LIBUSB_TRANSFER_CANCELLED && !h->closing) {
        /* The transfer's status covers the submission; each packet has its own. */
        enum libusb_transfer_status st = x->status == LIBUSB_TRANSFER_COMPLETED ? x->iso_packet_desc[0].status
                                                                                : x->status;
        if (st != LIBUSB_TRANSFER_COMPLETED)
            e->iso_error = status_result(st);
    }
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
    libusb_free_transfer(x); /* and its buffer: LIBUSB_TRANSFER_FREE_BUFFER */
}

/* h->lock held: one isochronous OUT packet of the guest, sent in a transfer of its own.
 * Isochronous transactions have no handshake (USB 2.0, 5.6.4): the guest's packet is
 * retired at once, so a packet that fails on the host's wire is told on the next one. */
static UsbHostResult iso_out_locked(Endpoint *e, const uint8_t *data, size_t len)
{
    UsbHostHandle *h = e->h;
    if (len > e->mps)
        return USBHOST_BABBLE;
    UsbHostResult res = e->iso_error;
    e->iso_error = USBHOST_OK;
    gint64 until = g_get_monotonic_time() + ISO_OUT_WAIT_MS * G_TIME_SPAN_MILLISECOND;
    while (e->iso_busy >= ISO_OUT_DEPTH && !h->gone && g_cond_wait_until(&h->cond, &h->lock, until))
        ;
    if (h->gone)
        return USBHOST_GONE;
    int slot = -1;
    for (int i = 0; i < ISO_OUT_DEPTH && slot < 0; i++)
        if (!e->iso[i])
            slot = i;
    if (slot < 0) {
        /* One line for the first: a device that stopped taking data is worth a note. */
        if (!e->iso_dropped++)
            g_printerr("vireo: usb-host: %s: endpoint 0x%02x takes no more isochronous data; dropping packets\n",
                       h->name, e->addr);
        return res;
    }
    struct libusb_transfer *x = libusb_alloc_transfer(1);
    uint8_t *buf = malloc(MAX(len, (size_t)1));
    if (!x || !buf) {
        libusb_free_transfer(x);
        free(buf);
        e->iso_dropped++;
        return res;
    }
    memcpy(buf, data, len);
    libusb_fill_iso_transfer(x, h->dh, e->addr, buf, (int)len, 1, iso_out_done, e, 0);
    libusb_set_iso_packet_lengths(x, (unsigned)len);
    x->flags |= LIBUSB_TRANSFER_FREE_BUFFER;
    int r = libusb_submit_transfer(x);
    if (r) {
        libusb_free_transfer(x);
        e->iso_dropped++;
        return r == LIBUSB_ERROR_NO_DEVICE ? USBHOST_GONE : USBHOST_ERROR;
    }
    e->iso[slot] = x;
    e->iso_busy++;
    h->in_flight++;
    return res;
}

G_STATIC_ASSERT(ISO_IN_XFERS <= ISO_OUT_DEPTH);

static void iso_in_submit_locked(Endpoint *e, int slot);

/* On the event thread: an isochronous IN transfer ended. Each packet carries its own
 * status and length (a device may send less than its maximum, or nothing, in a frame:
 * USB 2.0, 5.6.3), and they go to the queue as they are; the transfer is submitted
 * again while the guest still reads the endpoint. */
static void LIBUSB_CALL iso_in_done(struct libusb_transfer *x)
{
    Endpoint *e = x->user_data;
    UsbHostHandle *h = e->h;
    g_mutex_lock(&h->lock);
    if (x->status == LIBUSB_TRANSFER_NO_DEVICE)
        gone_locked(h);
    int slot = -1;
    for (int i = 0; i < ISO_IN_XFERS; i++)
        if (e->iso[i] == x)
            slot = i;
    if (slot >= 0)
        e->iso[slot] = NULL;
    e->iso_busy--;
    h->in_flight--;
    bool again = false;
    if (x->status == LIBUSB_TRANSFER_CANCELLED || h->closing || !e->iso_streaming) {
        /* Cancelled by a new setting, a flush or the close: nothing to hand over. */
    } else if (x->status == LIBUSB_TRANSFER_COMPLETED) {
        for (int i = 0; i < x->num_iso_packets; i++) {
            const struct libusb_iso_packet_descriptor *d = &x->iso_packet_desc[i];
            size_t n = MIN((size_t)d->actual_length, (size_t)d->length);
            IsoPacket *p = g_malloc(sizeof(IsoPacket) + n);
            p->result = status_result(d->status);
            p->len = d->status == LIBUSB_TRANSFER_COMPLETED ? n : 0;
            memcpy(p->data, libusb_get_iso_packet_buffer_simple(x, (unsigned)i), p->len);
            /* A guest that reads slower than the device sends loses the oldest. */
            if (g_queue_get_length(&e->iso_in) >= ISO_IN_QUEUE) {
                g_free(g_queue_pop_head(&e->iso_in));
                e->iso_dropped++;
            }
            g_queue_push_tail(&e->iso_in, p);
        }
        again = slot >= 0;
    } else {
        /* The whole transfer failed (the device left, the endpoint went away): the
         * guest hears it on its next packet and the stream stops until it reads again. */
        e->iso_error = status_result(x->status);
        e->iso_streaming = false;
    }
    if (again)
        iso_in_submit_locked(e, slot);
    g_cond_broadcast(&h->cond);
    g_mutex_unlock(&h->lock);
    free(x->buffer);
    libusb_free_transfer(x);
}

/* h->lock held: one transfer of ISO_IN_PACKETS packets of the endpoint's size into
 * iso[slot]; the slot stays empty when it could not be submitted (e->iso_error says
 * why). */
static void iso_in_submit_locked(Endpoint *e, int slot)
{
    UsbHostHandle *h = e->h;
    size_t mps = MAX(e->mps, (uint16_t)1);
    struct libusb_transfer *x = libusb_alloc_transfer(ISO_IN_PACKETS);
    uint8_t *buf = malloc(mps * ISO_IN_PACKETS);
    if (!x || !buf) {
        libusb_free_transfer(x);
        free(buf);
        e->iso_error = USBHOST_ERROR;
        return;
    }
    libusb_fill_iso_transfer(x, h->dh, e->addr, buf, (int)(mps * ISO_IN_PACKETS), ISO_IN_PACKETS, iso_in_done, e,
                             0);
    libusb_set_iso_packet_lengths(x, (unsigned)mps);
    int r = libusb_submit_transfer(x);
    if (r) {
        libusb_free_transfer(x);
        free(buf);
        e->iso_error = r == LIBUSB_ERROR_NO_DEVICE ? USBHOST_GONE : USBHOST_ERROR;
        if (r == LIBUSB_ERROR_NO_DEVICE)
            gone_locked(h);
        return;
    }
    e->iso[slot] = x;
    e->iso_busy++;
    h->in_flight++;
}

/* h->lock held: one isochronous IN transaction of the guest. The first one starts the
 * stream (ISO_IN_XFERS transfers submitted); each takes the oldest packet the device
 * delivered with its length and status. With none waiting the answer is an empty
 * packet, what a device with no sample ready sends (isochronous IN has no NAK: USB 2.0,
 * 8.5.5). */
static UsbHostResult iso_in_locked(Endpoint *e, uint8_t *data, size_t len, size_t *actual)
{
    *actual = 0;
    if (!e->iso_streaming && e->iso_error == USBHOST_OK) {
        e->iso_streaming = true;
        for (int i = 0; i < ISO_IN_XFERS; i++)
            if (!e->iso[i])
                iso_in_submit_locked(e, i);
        if (!e->iso_busy)
            e->iso_streaming = false;
    }
    IsoPacket *p = g_queue_pop_head(&e->iso_in);
    if (!p) {
        UsbHostResult res = e->iso_error;
        e->iso_error = USBHOST_OK;
        return res;
    }
    UsbHostResult res = p->result;
    size_t n = MIN(p->len, len);
    memcpy(data, p->data, n);
    *actual = n;
    if (p->len > len && res == USBHOST_OK)
        res = USBHOST_BABBLE;
    g_free(p);
    return res;
}

/* h->lock held: submits e->want bytes of e->buf. */
static void submit_locked(Endpoint *e)
{
    UsbHostHandle *h = e->h;
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    if (e->type == LIBUSB_TRANSFER_TYPE_INTERRUPT)
        libusb_fill_interrupt_transfer(x, h->dh, e->addr, e->buf, (int)e->want, xfer_done, e, 0);
    else
        libusb_fill_bulk_transfer(x, h->dh, e->addr, e->buf, (int)e->want, xfer_done, e, 0);
    int r = libusb_submit_transfer(x);
    if (r) {
        libusb_free_transfer(x);
        e->result = r == LIBUSB_ERROR_NO_DEVICE ? USBHOST_GONE : USBHOST_ERROR;
        e->actual = 0;
        e->state = e->polling ? EP_IDLE : EP_DONE;
        if (e->polling)
            e->poll_error = e->result;
        e->polling = false;
        return;
    }
    e->xfer = x;
    e->state = EP_BUSY;
    h->in_flight++;
}

UsbHostResult usbhost_data(UsbHostHandle *h, uint8_t ep_addr, uint8_t *data, size_t len, size_t *actual)
{
    Endpoint *e = ep_of(h, ep_addr);
    bool in = ep_addr & 0x80;
    *actual = 0;
    g_mutex_lock(&h->lock);
    UsbHostResult res;
    if (h->gone) {
        res = USBHOST_GONE;
    } else if (e->type == LIBUSB_TRANSFER_TYPE_ISOCHRONOUS && !in) {
        res = iso_out_locked(e, data, len);
        *actual = res == USBHOST_OK ? len : 0;
    } else if (e->type == LIBUSB_TRANSFER_TYPE_ISOCHRONOUS) {
        res = iso_in_locked(e, data, len, actual);
    } else if (e->type != LIBUSB_TRANSFER_TYPE_BULK && e->type != LIBUSB_TRANSFER_TYPE_INTERRUPT) {
        /* Control endpoints are not data pipes, and an endpoint of no current alternate
         * setting has no type. */
        res = USBHOST_STALL;
    } else if (in && e->type == LIBUSB_TRANSFER_TYPE_INTERRUPT) {
        GBytes *r = g_queue_pop_head(&e->reports);
        if (r) {
            gsize n;
            const uint8_t *p = g_bytes_get_data(r, &n);
            memcpy(data, p, MIN(n, len));
            *actual = MIN(n, len);
            res = n > len ? USBHOST_BABBLE : USBHOST_OK;
            g_bytes_unref(r);
        } else if (e->poll_error != USBHOST_OK && !e->polling) {
            res = e->poll_error;
            e->poll_error = USBHOST_OK;
        } else {
            if (!e->polling) {
                e->want = MAX(e->mps, (uint16_t)1);
                e->buf = g_realloc(e->buf, e->want);
                e->polling = true;
                submit_locked(e);
                if (!e->polling) {
                    res = e->poll_error;
                    e->poll_error = USBHOST_OK;
                    goto out;
                }
            }
            res = USBHOST_NAK;
        }
    } else if (e->state == EP_IDLE) {
        e->want = len;
        e->buf = g_realloc(e->buf, MAX(len, (size_t)1));
        if (!in)
            memcpy(e->buf, data, len);
        submit_locked(e);
        res = e->state == EP_DONE ? (e->state = EP_IDLE, e->result) : USBHOST_NAK;
    } else if (e->state == EP_BUSY) {
        res = USBHOST_NAK;
    } else {
        /* Done: hand the result to this retry of the transaction. */
        e->state = EP_IDLE;
        res = e->result;
        if (in) {
            size_t n = MIN(e->actual, len);
            memcpy(data, e->buf, n);
            *actual = n;
            if (e->actual > len)
                res = USBHOST_BABBLE;
        } else {
            *actual = e->actual;
        }
    }
out:
    g_mutex_unlock(&h->lock);
    return res;
}

UsbHostResult usbhost_control(UsbHostHandle *h, const uint8_t setup[8], uint8_t *data, size_t *actual)
{
    *actual = 0;
    if (usbhost_gone(h))
        return USBHOST_GONE;
    uint16_t len = (uint16_t)(setup[6] | setup[7] << 8);
    int r = libusb_control_transfer(h->dh, setup[0], setup[1], (uint16_t)(setup[2] | setup[3] << 8),
                                    (uint16_t)(setup[4] | setup[5] << 8), data, len, USBHOST_CONTROL_TIMEOUT_MS);
    if (r >= 0) {
        *actual = (size_t)r;
        return USBHOST_OK;
    }
    switch (r) {
    case LIBUSB_ERROR_PIPE: return USBHOST_STALL;
    case LIBUSB_ERROR_OVERFLOW: return USBHOST_BABBLE;
    case LIBUSB_ERROR_NO_DEVICE:
        handle_gone(h);
        return USBHOST_GONE;
    default: return USBHOST_ERROR;
    }
}

/* h->lock held: a transfer is in flight on interface iface's endpoints (any, when
 * negative). */
static bool busy_on(UsbHostHandle *h, int iface)
{
    if (iface < 0)
        return h->in_flight > 0;
    for (int i = 0; i < 32; i++)
        if (h->ep[i].iface == iface && (h->ep[i].xfer || h->ep[i].iso_busy))
            return true;
    return false;
}

/* Cancels the transfers of the endpoints of interface iface (every endpoint when
 * negative) and waits (bounded) for the event thread to see them end. */
static void cancel_endpoints(UsbHostHandle *h, int iface)
{
    g_mutex_lock(&h->lock);
    for (int i = 0; i < 32; i++) {
        Endpoint *e = &h->ep[i];
        if (iface >= 0 && e->iface != iface)
            continue;
        e->polling = false;
        e->iso_streaming = false;
        if (e->xfer)
            libusb_cancel_transfer(e->xfer);
        for (int k = 0; k < ISO_OUT_DEPTH; k++)
            if (e->iso[k])
                libusb_cancel_transfer(e->iso[k]);
    }
    gint64 until = g_get_monotonic_time() + 2 * G_TIME_SPAN_SECOND;
    while (busy_on(h, iface) && g_cond_wait_until(&h->cond, &h->lock, until))
        ;
    for (int i = 0; i < 32; i++) {
        Endpoint *e = &h->ep[i];
        if (iface >= 0 && e->iface != iface)
            continue;
        if (!e->xfer)
            e->state = EP_IDLE;
        g_queue_clear_full(&e->reports, (GDestroyNotify)g_bytes_unref);
        g_queue_clear_full(&e->iso_in, g_free);
        e->poll_error = USBHOST_OK;
        e->iso_error = USBHOST_OK;
    }
    g_mutex_unlock(&h->lock);
}

UsbHostResult usbhost_set_interface(UsbHostHandle *h, uint8_t iface, uint8_t alt)
{
    if (usbhost_gone(h))
        return USBHOST_GONE;
    if (iface >= 32 || !((h->interfaces >> iface) & 1) || !altsetting_of(h, iface, alt))
        return USBHOST_STALL;
    /* The pipes of the old setting end (USB 2.0, 9.4.10): nothing of them stays queued;
     * the other interfaces' pipes go on. */
    cancel_endpoints(h, iface);
    int r = libusb_set_interface_alt_setting(h->dh, iface, alt);
    if (r == LIBUSB_ERROR_NO_DEVICE) {
        handle_gone(h);
        return USBHOST_GONE;
    }
    if (r)
        return r == LIBUSB_ERROR_PIPE || r == LIBUSB_ERROR_NOT_FOUND ? USBHOST_STALL : USBHOST_ERROR;
    g_mutex_lock(&h->lock);
    endpoints_load(h, iface, alt);
    g_mutex_unlock(&h->lock);
    return USBHOST_OK;
}

int usbhost_get_interface(UsbHostHandle *h, uint8_t iface)
{
    if (iface >= 32 || !((h->interfaces >> iface) & 1))
        return -1;
    g_mutex_lock(&h->lock);
    int alt = h->alt[iface];
    g_mutex_unlock(&h->lock);
    return alt;
}

static void cancel_all(UsbHostHandle *h)
{
    cancel_endpoints(h, -1);
}

void usbhost_flush(UsbHostHandle *h)
{
    cancel_all(h);
}

void usbhost_clear_halt(UsbHostHandle *h, uint8_t ep_addr)
{
    if (!usbhost_gone(h))
        libusb_clear_halt(h->dh, ep_addr);
}

void usbhost_close(UsbHostHandle *h)
{
    if (!h)
        return;
    g_mutex_lock(&ctx_lock);
    g_autofree char *key = owner_key(h->bus, h->addr);
    g_hash_table_remove(owners, key);
    g_hash_table_remove(handles, h->dev);
    g_mutex_unlock(&ctx_lock);
    g_mutex_lock(&h->lock);
    h->closing = true;
    h->gone_fn = NULL;
    if (h->gone_idle) {
        g_source_remove(h->gone_idle);
        h->gone_idle = 0;
    }
    g_mutex_unlock(&h->lock);
    cancel_all(h);
    g_mutex_lock(&h->lock);
    int left = h->in_flight;
    g_mutex_unlock(&h->lock);
    if (left) {
        /* A transfer the kernel would not give back: the handle must outlive it. */
        g_printerr("vireo: usb-host: %s: %d transfers did not end; leaving the device open\n", h->name, left);
        return;
    }
    release_interfaces(h);
    libusb_close(h->dh);
    libusb_unref_device(h->dev);
    handle_free(h);
    hotplug_update();
    ctx_unref();
}

const char *usbhost_name(UsbHostHandle *h)
{
    return h->name;
}

int usbhost_speed(UsbHostHandle *h)
{
    return h->speed;
}

const uint8_t *usbhost_device_descriptor(UsbHostHandle *h)
{
    return h->device_desc;
}

const uint8_t *usbhost_config_descriptor(UsbHostHandle *h, size_t *len)
{
    *len = h->config_len;
    return h->config;
}

const char *const *usbhost_strings(UsbHostHandle *h, size_t *n)
{
    *n = h->n_strings;
    return (const char *const *)h->strings;
}

void usbhost_set_gone_handler(UsbHostHandle *h, UsbHostGoneFn fn, void *opaque)
{
    g_mutex_lock(&h->lock);
    h->gone_fn = fn;
    h->gone_opaque = opaque;
    if (h->gone && fn && !h->gone_idle && !h->closing)
        h->gone_idle = g_idle_add(gone_idle, h);
    g_mutex_unlock(&h->lock);
}

bool usbhost_gone(UsbHostHandle *h)
{
    g_mutex_lock(&h->lock);
    bool g = h->gone;
    g_mutex_unlock(&h->lock);
    return g;
}
