/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-host and USB hot plug without a guest: a mock keyboard in umockdev's testbed
 * (tests/usbmock) stands for the host device, and the test plays a controller on a bus
 * of its own, so it sees what the core hands the controller (connects, disconnects) and
 * what the device answers. Runs under umockdev-wrapper (meson does that); skips
 * without it. Checked: descriptors imported from the device, the kernel driver detached
 * on attach and reattached on release, class requests forwarded, interrupt reports
 * NAKed until they arrive then delivered in order, the mock unplugged = the device
 * unplugged from the bus, one-line errors (bad vendorid, missing ids, no device, busy,
 * speed, permission), and hot plug of usb-kbd on the bus. A mock USB Audio Class 1
 * speaker checks alternate settings (SET_INTERFACE/GET_INTERFACE reach the device and
 * its endpoint table follows, also across a save and load) and isochronous OUT: a
 * tone played in 1 ms packets arrives at the device byte for byte, in order; the
 * speaker unplugged mid-stream leaves the bus. The test
 * plays the controller itself (usb_bus_deliver): no guest boots. */
#include "engine/device.h"
#include "engine/usb-host/usb-host.h"
#include "engine/vmstate.h"
#include "hw/usb/usb.h"
#include "tests/usbmock/usbmock.h"
#include "unit.h"

#include <math.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Ports {
    int attached[USB_MAX_PORTS], detached[USB_MAX_PORTS];
    UsbSpeed speed[USB_MAX_PORTS];
} Ports;

static void port_attach(void *opaque, int port, UsbSpeed speed)
{
    Ports *p = opaque;
    p->attached[port]++;
    p->speed[port] = speed;
}

static void port_detach(void *opaque, int port)
{
    Ports *p = opaque;
    p->detached[port]++;
}

static const UsbPortOps ports_ops = { .attach = port_attach, .detach = port_detach };

typedef struct Rig {
    Vm *vm;
    UsbBus *bus, *low_bus;
    Ports ports, low;
} Rig;

static void rig_init(Rig *r)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(1 << 20);
    vm_lock(r->vm);
    r->bus = usb_bus_new(r->vm, "usb-bus.0", 2, &ports_ops, &r->ports);
    r->low_bus = usb_bus_new(r->vm, "usb-bus.1", 2, &ports_ops, &r->low);
    usb_bus_set_speeds(r->low_bus, 1u << USB_SPEED_LOW);
    vm_unlock(r->vm);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
    usb_bus_free(r->bus);
    usb_bus_free(r->low_bus);
}

static Device *create(Rig *r, const char *spec, GError **err)
{
    vm_lock(r->vm);
    Device *d = device_create_from_spec(r->vm, spec, err);
    vm_unlock(r->vm);
    return d;
}

static UsbResult packet(Rig *r, uint8_t pid, uint8_t addr, uint8_t ep, uint8_t *data, size_t len, size_t *got)
{
    UsbPacket p = { .pid = pid, .addr = addr, .ep = ep, .data = data, .max_len = len, .len = len };
    vm_lock(r->vm);
    usb_bus_deliver(r->bus, 3, &p);
    vm_unlock(r->vm);
    if (got)
        *got = p.len;
    return p.result;
}

/* A whole control transfer (USB 2.0, 8.5.3); returns the IN bytes, or -1 on a stall. */
static int control(Rig *r, uint8_t addr, const uint8_t setup[8], uint8_t *buf, size_t len)
{
    uint8_t s[8];
    memcpy(s, setup, 8);
    if (packet(r, USB_TOKEN_SETUP, addr, 0, s, 8, NULL) != USB_RET_SUCCESS)
        return -1;
    size_t total = 0;
    if (setup[0] & 0x80) {
        for (;;) {
            size_t got = 0;
            UsbResult res = packet(r, USB_TOKEN_IN, addr, 0, buf + total, MIN((size_t)64, len - total), &got);
            if (res != USB_RET_SUCCESS)
                return -1;
            total += got;
            if (got < 64 || total == len)
                break;
        }
        return packet(r, USB_TOKEN_OUT, addr, 0, NULL, 0, NULL) == USB_RET_SUCCESS ? (int)total : -1;
    }
    return packet(r, USB_TOKEN_IN, addr, 0, buf, 0, NULL) == USB_RET_SUCCESS ? 0 : -1;
}

static bool under_umockdev(void)
{
    const char *pre = g_getenv("LD_PRELOAD");
    if (pre && strstr(pre, "umockdev"))
        return true;
    g_test_skip("needs umockdev-wrapper (Debian umockdev)");
    return false;
}

/* Waits for what the libusb event thread and the main context do (bounded). */
static bool wait_for(bool (*cond)(void *), void *opaque)
{
    for (int i = 0; i < 5000; i++) {
        if (cond(opaque))
            return true;
        while (g_main_context_iteration(NULL, false))
            ;
        g_usleep(1000);
    }
    return cond(opaque);
}

static bool kbd_gone(void *opaque)
{
    Rig *r = opaque;
    vm_lock(r->vm);
    bool gone = device_find(r->vm, "kbd") == NULL;
    vm_unlock(r->vm);
    return gone;
}

static void test_passthrough(void)
{
    if (!under_umockdev())
        return;
    UsbMock *m = usbmock_new(USBMOCK_KEYBOARD);
    Rig r;
    rig_init(&r);
    GError *err = NULL;
    Device *dev = create(&r, "usb-host,id=kbd,vendorid=0x16c0,productid=0x27db", &err);
    g_assert_no_error(err);
    g_assert_nonnull(dev);
    UsbMockStats st = usbmock_stats(m, USBMOCK_KEYBOARD);
    /* Attach: the host's driver was detached and the interface claimed. */
    g_assert_cmpint(st.disconnects, ==, 1);
    g_assert_cmpint(st.driver_bound, ==, 0);
    g_assert_cmpint(st.claimed, ==, 1);
    g_assert_cmpint(r.ports.attached[0], ==, 1);
    g_assert_cmpint(r.ports.speed[0], ==, USB_SPEED_FULL);

    /* The descriptors are the device's. */
    uint8_t buf[256];
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0x80, 6, 0, 1, 0, 0, 18, 0 }, buf, 18), ==, 18);
    g_assert_cmphex(buf[8] | buf[9] << 8, ==, USBMOCK_VENDOR);
    g_assert_cmphex(buf[10] | buf[11] << 8, ==, USBMOCK_PRODUCT);
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0x80, 6, 0, 2, 0, 0, 255, 0 }, buf, 255), ==, 34);
    g_assert_cmpint(buf[4], ==, 1);     /* one interface */
    g_assert_cmpint(buf[9 + 5], ==, 3); /* HID */
    g_assert_cmpint(buf[9 + 9 + 1], ==, 0x21); /* the HID class descriptor kept in place */
    g_assert_cmphex(buf[9 + 9 + 9 + 2], ==, 0x81);
    int n = control(&r, 0, (const uint8_t[]){ 0x80, 6, 2, 3, 0x09, 0x04, 255, 0 }, buf, 255);
    g_assert_cmpint(n, ==, 2 + 2 * (int)strlen(USBMOCK_PRODUCT_NAME));
    for (int i = 0; USBMOCK_PRODUCT_NAME[i]; i++)
        g_assert_cmpint(buf[2 + 2 * i], ==, USBMOCK_PRODUCT_NAME[i]);

    /* Addressed and configured as a guest would. */
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0, 5, 7, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0, 9, 1, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    /* Class requests reach the device: the report descriptor, SET_IDLE. */
    n = control(&r, 7, (const uint8_t[]){ 0x81, 6, 0, 0x22, 0, 0, 0x3f, 0 }, buf, 0x3f);
    g_assert_cmpint(n, ==, 0x3f);
    g_assert_cmphex(buf[0], ==, 0x05);
    g_assert_cmphex(buf[62], ==, 0xc0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0x21, 0x0a, 0, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    st = usbmock_stats(m, USBMOCK_KEYBOARD);
    g_assert_cmpint(st.get_report_desc, ==, 1);
    g_assert_cmpint(st.set_idle, ==, 1);
    /* An unknown class request stalls as the device stalled it. */
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0xc0, 0x77, 0, 0, 0, 0, 4, 0 }, buf, 4), ==, -1);

    /* Interrupt IN: NAK while nothing came, then the reports in order. */
    size_t got;
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got), ==, USB_RET_NAK);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got), ==, USB_RET_NAK);
    usbmock_key(m, 0x04);
    UsbResult res = USB_RET_NAK;
    for (int i = 0; i < 5000 && res == USB_RET_NAK; i++) {
        res = packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got);
        if (res == USB_RET_NAK)
            g_usleep(1000);
    }
    g_assert_cmpint(res, ==, USB_RET_SUCCESS);
    g_assert_cmpint(got, ==, 8);
    g_assert_cmphex(buf[2], ==, 0x04);
    res = USB_RET_NAK;
    for (int i = 0; i < 5000 && res == USB_RET_NAK; i++) {
        res = packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got);
        if (res == USB_RET_NAK)
            g_usleep(1000);
    }
    g_assert_cmpint(res, ==, USB_RET_SUCCESS);
    g_assert_cmphex(buf[2], ==, 0);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_KEYBOARD).reports_sent, ==, 2);
    /* Nothing more: NAK, and an OUT to an IN-only device endpoint stalls in the core. */
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got), ==, USB_RET_NAK);
    g_assert_cmpint(packet(&r, USB_TOKEN_OUT, 7, 1, buf, 8, &got), ==, USB_RET_STALL);

    /* Listings: the host device is in use by this device, the bus shows its product. */
    GPtrArray *list = usbhost_list_devices(&err);
    g_assert_no_error(err);
    bool seen = false;
    for (guint i = 0; i < list->len; i++) {
        UsbHostInfo *info = list->pdata[i];
        if (info->vendor_id == USBMOCK_VENDOR && info->product_id == USBMOCK_PRODUCT) {
            seen = true;
            g_assert_cmpint(info->bus, ==, 1);
            g_assert_cmpint(info->addr, ==, 2);
            g_assert_nonnull(info->in_use_by);
            g_assert_true(g_str_has_suffix(info->in_use_by, "/kbd"));
        }
    }
    g_assert_true(seen);
    g_ptr_array_unref(list);
    DeviceBusPlace place;
    g_assert_true(dev->klass->bus_place(dev, &place));
    g_assert_cmpstr(place.product, ==, USBMOCK_PRODUCT_NAME);
    g_assert_cmpint(place.addr, ==, 7);

    /* A second usb-host for the same device: busy, one line. */
    g_assert_null(create(&r, "usb-host,id=kbd2,vendorid=0x16c0,productid=0x27db", &err));
    g_assert_nonnull(strstr(err->message, "is busy"));
    g_assert_nonnull(strstr(err->message, "/kbd uses it"));
    g_assert_null(strchr(err->message, '\n'));
    g_clear_error(&err);

    /* An interrupt IN in flight, then the device leaves the host: it leaves the bus. */
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got), ==, USB_RET_NAK);
    usbmock_unplug(m, USBMOCK_KEYBOARD);
    g_assert_true(wait_for(kbd_gone, &r));
    g_assert_cmpint(r.ports.detached[0], ==, 1);
    g_assert_null(usb_bus_port_device(r.bus, 0));
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 7, 1, buf, 8, &got), ==, USB_RET_NODEV);
    rig_free(&r);
    usbmock_free(m);
}

typedef struct Played {
    UsbMock *m;
    int want;
} Played;

static bool played_all(void *opaque)
{
    Played *p = opaque;
    return usbmock_stats(p->m, USBMOCK_SPEAKER).iso_packets >= p->want;
}

/* Packet i of a 750 Hz tone, 48 kHz 16-bit stereo (right = -left): 750 Hz does not fit
 * a 1 ms packet a whole number of times, so no two neighbouring packets are alike and
 * any loss or reordering shows. Every 10th packet is one frame short, as an adaptive
 * stream's are now and then. */
static size_t tone_packet(int i, int *frame, uint8_t out[USBMOCK_SPEAKER_PACKET])
{
    int frames = i % 10 == 9 ? 47 : 48;
    for (int f = 0; f < frames; f++, (*frame)++) {
        int16_t l = (int16_t)lround(12000.0 * sin(2 * G_PI * 750.0 * *frame / 48000.0));
        int16_t r = (int16_t)-l;
        out[4 * f] = (uint8_t)l;
        out[4 * f + 1] = (uint8_t)((uint16_t)l >> 8);
        out[4 * f + 2] = (uint8_t)r;
        out[4 * f + 3] = (uint8_t)((uint16_t)r >> 8);
    }
    return (size_t)frames * 4;
}

/* Plays n packets of the tone on endpoint 1 and appends them to sent. */
static void play(Rig *r, int n, int *packet_no, int *frame, GByteArray *sent)
{
    for (int i = 0; i < n; i++) {
        uint8_t pkt[USBMOCK_SPEAKER_PACKET];
        size_t len = tone_packet((*packet_no)++, frame, pkt);
        size_t got = 0;
        g_assert_cmpint(packet(r, USB_TOKEN_OUT, 7, 1, pkt, len, &got), ==, USB_RET_SUCCESS);
        g_byte_array_append(sent, pkt, (guint)len);
    }
}

static bool spk2_gone(void *opaque)
{
    Rig *r = opaque;
    vm_lock(r->vm);
    bool gone = device_find(r->vm, "spk2") == NULL;
    vm_unlock(r->vm);
    return gone;
}

static void test_iso_speaker(void)
{
    if (!under_umockdev())
        return;
    UsbMock *m = usbmock_new(USBMOCK_SPEAKER);
    Rig r;
    rig_init(&r);
    GError *err = NULL;
    Device *dev = create(&r, "usb-host,id=spk,vendorid=0x16c0,productid=0x27dd", &err);
    g_assert_no_error(err);
    g_assert_nonnull(dev);
    uint8_t buf[256];
    /* The whole descriptor set, both settings of the streaming interface included. */
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0x80, 6, 0, 2, 0, 0, 255, 0 }, buf, 255), ==, 100);
    g_assert_cmpint(buf[4], ==, 2);
    g_assert_cmpint(buf[9 + 9 + 9 + 12 + 9 + 9 + 3], ==, 1);         /* interface 1, setting 1 */
    g_assert_cmphex(buf[9 + 9 + 9 + 12 + 9 + 9 + 9 + 7 + 11 + 2], ==, 0x01); /* endpoint 0x01 */
    g_assert_cmphex(buf[9 + 9 + 9 + 12 + 9 + 9 + 9 + 7 + 11 + 3], ==, 0x09); /* isochronous, adaptive */
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0, 5, 7, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0, 9, 1, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);

    /* Setting 0 has no endpoint: an OUT stalls, and nothing reached the device. */
    const uint8_t get_if1[8] = { 0x81, 10, 0, 0, 1, 0, 1, 0 };
    g_assert_cmpint(control(&r, 7, get_if1, buf, 1), ==, 1);
    g_assert_cmpint(buf[0], ==, 0);
    uint8_t pkt[USBMOCK_SPEAKER_PACKET + 1] = { 0 };
    g_assert_cmpint(packet(&r, USB_TOKEN_OUT, 7, 1, pkt, 192, NULL), ==, USB_RET_STALL);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).iso_urbs, ==, 0);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).iso_refused, ==, 0);

    /* A setting the device lacks stalls; setting 1 reaches the device. */
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0x01, 11, 2, 0, 1, 0, 0, 0 }, buf, 0), ==, -1);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).set_interfaces, ==, 0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0x01, 11, 1, 0, 1, 0, 0, 0 }, buf, 0), ==, 0);
    UsbMockStats st = usbmock_stats(m, USBMOCK_SPEAKER);
    g_assert_cmpint(st.set_interfaces, ==, 1);
    g_assert_cmpint(st.alt_setting, ==, 1);
    g_assert_cmpint(control(&r, 7, get_if1, buf, 1), ==, 1);
    g_assert_cmpint(buf[0], ==, 1);

    /* 300 ms of the tone, one packet a frame: every byte arrives, in order. */
    g_autoptr(GByteArray) sent = g_byte_array_new();
    int packet_no = 0, frame = 0;
    play(&r, 300, &packet_no, &frame, sent);
    Played want = { m, 300 };
    g_assert_true(wait_for(played_all, &want));
    {
        g_autoptr(GBytes) got = usbmock_played(m);
        g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), sent->data, sent->len);
    }
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).iso_urbs, ==, 300);
    /* A packet over the endpoint's 192 bytes is the guest's error: never sent. */
    g_assert_cmpint(packet(&r, USB_TOKEN_OUT, 7, 1, pkt, sizeof(pkt), NULL), ==, USB_RET_BABBLE);

    /* Saved with setting 1; the guest then goes back to setting 0 (the device follows,
     * the endpoint is gone); the load selects setting 1 on the device again and the
     * stream goes on where it was. */
    g_autoptr(GByteArray) saved = g_byte_array_new();
    vm_lock(r.vm);
    vmstate_save(saved, "usb-host", "spk", dev->klass->vmsd, dev);
    vm_unlock(r.vm);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0x01, 11, 0, 0, 1, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).alt_setting, ==, 0);
    g_assert_cmpint(packet(&r, USB_TOKEN_OUT, 7, 1, pkt, 192, NULL), ==, USB_RET_STALL);
    vm_lock(r.vm);
    g_assert_true(vmstate_load(dev->klass->vmsd, "usb-host", "spk", dev, dev->klass->instance_size, saved->data,
                               saved->len, &err));
    vm_unlock(r.vm);
    g_assert_no_error(err);
    st = usbmock_stats(m, USBMOCK_SPEAKER);
    g_assert_cmpint(st.alt_setting, ==, 1);
    g_assert_cmpint(st.set_interfaces, ==, 3);
    g_assert_cmpint(control(&r, 7, get_if1, buf, 1), ==, 1);
    g_assert_cmpint(buf[0], ==, 1);
    play(&r, 100, &packet_no, &frame, sent);
    want.want = 400;
    g_assert_true(wait_for(played_all, &want));
    {
        g_autoptr(GBytes) got = usbmock_played(m);
        g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), sent->data, sent->len);
    }
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).iso_refused, ==, 0);

    /* A bus reset puts the interface back at setting 0 on the device too. */
    vm_lock(r.vm);
    usb_bus_port_reset(r.bus, 0);
    vm_unlock(r.vm);
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).alt_setting, ==, 0);

    vm_lock(r.vm);
    device_unplug(dev, &err);
    vm_unlock(r.vm);
    g_assert_no_error(err);
    /* Released: the host's audio driver has the device back. */
    g_assert_cmpint(usbmock_stats(m, USBMOCK_SPEAKER).driver_bound, ==, 1);

    /* Taken again, streaming, and the speaker leaves the host: it leaves the bus, and
     * the guest's next packet finds no device. */
    dev = create(&r, "usb-host,id=spk2,vendorid=0x16c0,productid=0x27dd", &err);
    g_assert_no_error(err);
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0, 5, 7, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0, 9, 1, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(control(&r, 7, (const uint8_t[]){ 0x01, 11, 1, 0, 1, 0, 0, 0 }, buf, 0), ==, 0);
    play(&r, 20, &packet_no, &frame, sent);
    want.want = 420;
    g_assert_true(wait_for(played_all, &want));
    usbmock_unplug(m, USBMOCK_SPEAKER);
    g_assert_true(wait_for(spk2_gone, &r));
    g_assert_cmpint(packet(&r, USB_TOKEN_OUT, 7, 1, pkt, 192, NULL), ==, USB_RET_NODEV);
    {
        g_autoptr(GBytes) got = usbmock_played(m);
        g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), sent->data, sent->len);
    }
    rig_free(&r);
    usbmock_free(m);
}

static void count_change(void *opaque)
{
    (*(int *)opaque)++;
}

static bool changed(void *opaque)
{
    return *(int *)opaque > 0;
}

static bool listed(void)
{
    g_autoptr(GError) err = NULL;
    GPtrArray *list = usbhost_list_devices(&err);
    g_assert_no_error(err);
    bool found = false;
    for (guint i = 0; i < list->len; i++)
        found |= ((UsbHostInfo *)list->pdata[i])->product_id == USBMOCK_PRODUCT;
    g_ptr_array_unref(list);
    return found;
}

/* The host list for the app: the mock with its strings, and a hotplug callback on the
 * main context when it leaves. */
static void test_host_list(void)
{
    if (!under_umockdev())
        return;
    UsbMock *m = usbmock_new(USBMOCK_KEYBOARD);
    GError *err = NULL;
    GPtrArray *list = usbhost_list_devices(&err);
    g_assert_no_error(err);
    g_assert_cmpuint(list->len, ==, 1);
    UsbHostInfo *info = list->pdata[0];
    g_assert_cmphex(info->vendor_id, ==, USBMOCK_VENDOR);
    g_assert_cmpint(info->speed, ==, USBHOST_SPEED_FULL);
    g_assert_cmpstr(info->manufacturer, ==, "Vireo");
    g_assert_cmpstr(info->product, ==, USBMOCK_PRODUCT_NAME);
    g_assert_null(info->in_use_by);
    g_ptr_array_unref(list);
    int changes = 0;
    guint id = usbhost_watch(count_change, &changes, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(id, >, 0);
    usbmock_unplug(m, USBMOCK_KEYBOARD);
    g_assert_true(wait_for(changed, &changes));
    g_assert_false(listed());
    usbhost_unwatch(id);
    usbmock_free(m);
}

/* device_del of a device with a transfer in flight, then the host driver is back. */
static void test_release(void)
{
    if (!under_umockdev())
        return;
    UsbMock *m = usbmock_new(USBMOCK_KEYBOARD);
    Rig r;
    rig_init(&r);
    GError *err = NULL;
    Device *dev = create(&r, "usb-host,id=kbd,hostbus=1,hostaddr=2", &err);
    g_assert_no_error(err);
    uint8_t buf[8];
    size_t got;
    g_assert_cmpint(control(&r, 0, (const uint8_t[]){ 0, 9, 1, 0, 0, 0, 0, 0 }, buf, 0), ==, 0);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 0, 1, buf, 8, &got), ==, USB_RET_NAK);
    vm_lock(r.vm);
    g_assert_true(device_unplug(dev, &err));
    vm_unlock(r.vm);
    g_assert_no_error(err);
    g_assert_cmpint(r.ports.detached[0], ==, 1);
    UsbMockStats st = usbmock_stats(m, USBMOCK_KEYBOARD);
    g_assert_cmpint(st.claimed, ==, 0);
    g_assert_cmpint(st.connects, ==, 1);
    g_assert_cmpint(st.driver_bound, ==, 1);
    /* Free again: another usb-host may take it. */
    dev = create(&r, "usb-host,id=again,vendorid=0x16c0", &err);
    g_assert_no_error(err);
    g_assert_nonnull(dev);
    rig_free(&r);
    /* vm_free released it too. */
    g_assert_cmpint(usbmock_stats(m, USBMOCK_KEYBOARD).driver_bound, ==, 1);
    usbmock_free(m);
}

static void expect_error(Rig *r, const char *spec, const char *want)
{
    GError *err = NULL;
    g_assert_null(create(r, spec, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, want))
        g_error("%s: %s (expected %s)", spec, err->message, want);
    g_assert_null(strchr(err->message, '\n'));
    g_error_free(err);
}

static void test_errors(void)
{
    if (!under_umockdev())
        return;
    UsbMock *m = usbmock_new(USBMOCK_KEYBOARD);
    Rig r;
    rig_init(&r);
    GError *err = NULL;
    g_assert_false(device_spec_check("usb-host,vendorid=0x10000,productid=1", &err));
    g_assert_nonnull(strstr(err->message, "'vendorid' must be a number from 0x0 to 0xffff"));
    g_clear_error(&err);
    g_assert_false(device_spec_check("usb-host,productid=banana", &err));
    g_assert_nonnull(strstr(err->message, "productid"));
    g_clear_error(&err);
    expect_error(&r, "usb-host", "usb-host needs vendorid= and productid=");
    expect_error(&r, "usb-host,vendorid=0x1234,productid=0x5678", "no host USB device 1234:5678");
    expect_error(&r, "usb-host,hostbus=3,hostaddr=9", "no host USB device bus 3 address 9");
    /* A bus whose ports carry low speed only refuses the full-speed device. */
    expect_error(&r, "usb-host,vendorid=0x16c0,bus=usb-bus.1",
                 "is a full-speed device and usb-bus.1 carries low speed only");
    g_assert_cmpint(usbmock_stats(m, USBMOCK_KEYBOARD).driver_bound, ==, 1);
    /* Another program holds the interface. */
    usbmock_set_busy(m, true);
    expect_error(&r, "usb-host,vendorid=0x16c0", "is busy: another program holds its interface 0");
    usbmock_set_busy(m, false);
    /* The failed attempts gave the host's driver back. */
    g_assert_cmpint(usbmock_stats(m, USBMOCK_KEYBOARD).driver_bound, ==, 1);
    rig_free(&r);
    usbmock_free(m);
}

/* /dev/bus/usb not writable: the open fails with the permission and the udev rule named.
 * Run in a child as "nobody" (root may open anything). */
static void test_permission(void)
{
    if (!under_umockdev())
        return;
    if (getuid() != 0) {
        g_test_skip("needs root to become another user");
        return;
    }
    struct passwd *pw = getpwnam("nobody");
    if (!pw) {
        g_test_skip("no user nobody");
        return;
    }
    if (g_test_subprocess()) {
        /* The parent's testbed (UMOCKDEV_DIR inherited) answers this child. */
        g_assert_cmpint(setgid(pw->pw_gid), ==, 0);
        g_assert_cmpint(setuid(pw->pw_uid), ==, 0);
        UsbHostMatch match = { USBMOCK_VENDOR, USBMOCK_PRODUCT, -1, -1 };
        GError *err = NULL;
        g_assert_null(usbhost_open(&match, "test", &err));
        g_print("%s\n", err->message);
        g_error_free(err);
        return;
    }
    UsbMock *m = usbmock_new(USBMOCK_KEYBOARD);
    /* The testbed is private to its creator: the child may use all of it but the node. */
    const char *root = g_getenv("UMOCKDEV_DIR");
    g_assert_nonnull(root);
    g_autofree char *cmd = g_strdup_printf("chmod -R a+rwX %s && chmod 0644 %s/dev/bus/usb/001/002", root, root);
    g_assert_cmpint(system(cmd), ==, 0);
    g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("*/dev/bus/usb/001/002 needs read and write permission for this user; a udev rule "
                              "grants it: SUBSYSTEM==\"usb\", ATTR{idVendor}==\"16c0\", ATTR{idProduct}==\"27db\"*");
    usbmock_free(m);
}

/* Hot plug of a device class on a bus: the controller hears of the connect and the
 * disconnect, and the port is free again. */
static void test_hotplug_bus(void)
{
    Rig r;
    rig_init(&r);
    GError *err = NULL;
    Device *kbd = create(&r, "usb-kbd,id=k,port=2", &err);
    g_assert_no_error(err);
    g_assert_cmpint(r.ports.attached[1], ==, 1);
    g_assert_true(usb_bus_port_device(r.bus, 1) == (UsbDevice *)kbd);
    vm_lock(r.vm);
    g_assert_true(device_unplug(kbd, &err));
    vm_unlock(r.vm);
    g_assert_cmpint(r.ports.detached[1], ==, 1);
    g_assert_null(usb_bus_port_device(r.bus, 1));
    g_assert_null(device_find(r.vm, "k"));
    kbd = create(&r, "usb-kbd,id=k,port=2", &err);
    g_assert_no_error(err);
    g_assert_cmpint(r.ports.attached[1], ==, 2);
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/usb-host/passthrough", test_passthrough);
    g_test_add_func("/usb-host/release", test_release);
    g_test_add_func("/usb-host/iso-speaker", test_iso_speaker);
    g_test_add_func("/usb-host/host-list", test_host_list);
    g_test_add_func("/usb-host/errors", test_errors);
    g_test_add_func("/usb-host/permission", test_permission);
    g_test_add_func("/usb-host/hotplug-bus", test_hotplug_bus);
    return g_test_run();
}
