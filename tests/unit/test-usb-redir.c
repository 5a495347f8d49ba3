/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-redir against a usbredir peer in this process: the peer is the usb-host side of the
 * protocol (libusbredirparser with usbredirparser_fl_usb_host) on the client end of the
 * device's unix socket chardev, playing a small HID-like device with a bulk pair and an
 * interrupt IN endpoint. The test plays the controller itself (usb_bus_deliver): the
 * device appears on the bus after the peer's device_connect, control, bulk and interrupt
 * transfers NAK until the peer's answer comes and then carry its bytes, a disconnect
 * unplugs it. Then hostile peers (unknown packet types, absurd lengths, answers nobody
 * asked for, a bad descriptor): one error line, the device leaves, nothing crashes. */
#include "engine/backend.h"
#include "engine/device.h"
#include "hw/usb/usb.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <usbredirparser.h>

static const uint8_t dev_desc[18] = { 18, 1, 0x10, 0x01, 0, 0, 0, 64, 0x34, 0x12, 0x78, 0x56, 0, 1, 0, 2, 0, 1 };
static const uint8_t cfg_desc[] = {
    9, 2, 39, 0, 1, 1, 0, 0x80, 50,            /* configuration: 39 bytes, 1 interface */
    9, 4, 0, 0, 3, 0xff, 0, 0, 0,               /* interface 0: 3 endpoints, vendor class */
    7, 5, 0x81, 3, 8, 0, 10,                    /* EP1 IN interrupt */
    7, 5, 0x02, 2, 64, 0, 0,                    /* EP2 OUT bulk */
    7, 5, 0x82, 2, 64, 0, 0,                    /* EP2 IN bulk */
};

typedef struct Peer {
    int fd;
    struct usbredirparser *p;
    bool hello;
    uint8_t bulk[256]; /* what EP2 OUT took, EP2 IN gives back reversed */
    size_t bulk_len;
    int ctrl_seen, set_config;
    bool bad_desc;     /* answers GET_DESCRIPTOR(DEVICE) with 17 bytes */
} Peer;

typedef struct Rig {
    Vm *vm;
    UsbBus *bus;
    int attached, detached;
    char *dir, *path;
    Peer peer;
} Rig;

static void port_attach(void *opaque, int port, UsbSpeed speed)
{
    (void)port;
    (void)speed;
    ((Rig *)opaque)->attached++;
}

static void port_detach(void *opaque, int port)
{
    (void)port;
    ((Rig *)opaque)->detached++;
}

static const UsbPortOps ports_ops = { .attach = port_attach, .detach = port_detach };

/* ---- the peer ---- */

static int peer_read(void *priv, uint8_t *data, int count)
{
    Peer *pe = priv;
    ssize_t n = recv(pe->fd, data, (size_t)count, MSG_DONTWAIT);
    return n < 0 ? 0 : (int)n;
}

static int peer_write(void *priv, uint8_t *data, int count)
{
    Peer *pe = priv;
    ssize_t n = send(pe->fd, data, (size_t)count, MSG_NOSIGNAL);
    return n < 0 ? -1 : (int)n;
}

static void peer_flush(Peer *pe)
{
    while (usbredirparser_has_data_to_write(pe->p))
        if (usbredirparser_do_write(pe->p) < 0)
            break;
}

static void peer_log(void *priv, int level, const char *msg)
{
    (void)priv;
    if (level <= usbredirparser_warning)
        g_test_message("peer: %s", msg);
}

static void peer_hello(void *priv, struct usb_redir_hello_header *h)
{
    (void)h;
    ((Peer *)priv)->hello = true;
}

static void peer_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h, uint8_t *data, int len)
{
    Peer *pe = priv;
    pe->ctrl_seen++;
    const uint8_t *ans = NULL;
    int n = 0;
    h->status = usb_redir_success;
    if (h->request == 6 && h->value == 0x100) {
        ans = dev_desc;
        n = pe->bad_desc ? 17 : 18;
    } else if (h->request == 6 && h->value == 0x200) {
        ans = cfg_desc;
        n = MIN((int)sizeof(cfg_desc), h->length);
    } else if (h->request == 6 && h->value == 0x302) {
        static const uint8_t product[] = { 12, 3, 'R', 0, 'e', 0, 'd', 0, 'i', 0, 'r', 0 };
        ans = product;
        n = MIN((int)sizeof(product), h->length);
    } else if (h->requesttype == 0xc0 && h->request == 0x42) {
        static const uint8_t vendor[5] = { 'r', 'e', 'd', 'i', 'r' };
        ans = vendor;
        n = MIN(5, h->length);
    } else if (h->requesttype == 0x40 && h->request == 0x43) {
        n = 0; /* a vendor OUT request taken */
    } else {
        h->status = usb_redir_stall;
    }
    h->length = (uint16_t)n;
    usbredirparser_send_control_packet(pe->p, id, h, (uint8_t *)ans, (h->requesttype & 0x80) ? n : 0);
    usbredirparser_free_packet_data(pe->p, data);
    (void)len;
}

static void peer_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data, int len)
{
    Peer *pe = priv;
    h->status = usb_redir_success;
    if (h->endpoint == 0x02) {
        pe->bulk_len = MIN((size_t)len, sizeof(pe->bulk));
        memcpy(pe->bulk, data, pe->bulk_len);
        usbredirparser_send_bulk_packet(pe->p, id, h, NULL, 0);
    } else {
        uint8_t rev[256];
        for (size_t i = 0; i < pe->bulk_len; i++)
            rev[i] = pe->bulk[pe->bulk_len - 1 - i];
        h->length = (uint16_t)pe->bulk_len;
        h->length_high = 0;
        usbredirparser_send_bulk_packet(pe->p, id, h, rev, (int)pe->bulk_len);
    }
    usbredirparser_free_packet_data(pe->p, data);
}

static void peer_set_config(void *priv, uint64_t id, struct usb_redir_set_configuration_header *h)
{
    Peer *pe = priv;
    pe->set_config = h->configuration;
    struct usb_redir_configuration_status_header st = { usb_redir_success, h->configuration };
    usbredirparser_send_configuration_status(pe->p, id, &st);
}

static void peer_start_intr(void *priv, uint64_t id, struct usb_redir_start_interrupt_receiving_header *h)
{
    Peer *pe = priv;
    struct usb_redir_interrupt_receiving_status_header st = { usb_redir_success, h->endpoint };
    usbredirparser_send_interrupt_receiving_status(pe->p, id, &st);
}

static void peer_open(Rig *r, bool bad_desc)
{
    Peer *pe = &r->peer;
    memset(pe, 0, sizeof(*pe));
    pe->bad_desc = bad_desc;
    pe->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, r->path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    pe->p = usbredirparser_create();
    pe->p->priv = pe;
    pe->p->log_func = peer_log;
    pe->p->read_func = peer_read;
    pe->p->write_func = peer_write;
    pe->p->hello_func = peer_hello;
    pe->p->control_packet_func = peer_control;
    pe->p->bulk_packet_func = peer_bulk;
    pe->p->set_configuration_func = peer_set_config;
    pe->p->start_interrupt_receiving_func = peer_start_intr;
    uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0 };
    usbredirparser_caps_set_cap(caps, usb_redir_cap_connect_device_version);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_ep_info_max_packet_size);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_64bits_ids);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_32bits_bulk_length);
    usbredirparser_init(pe->p, "test-peer", caps, USB_REDIR_CAPS_SIZE, usbredirparser_fl_usb_host);
    peer_flush(pe);
}

static void peer_close(Peer *pe)
{
    if (pe->p)
        usbredirparser_destroy(pe->p);
    pe->p = NULL;
    if (pe->fd >= 0)
        close(pe->fd);
    pe->fd = -1;
}

/* One round: the VM's main context takes what the peer sent, the peer what the VM sent. */
static void pump(Rig *r)
{
    for (int i = 0; i < 20; i++) {
        while (g_main_context_iteration(NULL, false))
            ;
        if (r->peer.p) {
            usbredirparser_do_read(r->peer.p);
            peer_flush(&r->peer);
        }
        g_usleep(1000);
    }
}

static void peer_connect_device(Rig *r)
{
    Peer *pe = &r->peer;
    for (int i = 0; i < 200 && !pe->hello; i++)
        pump(r);
    g_assert_true(pe->hello);
    struct usb_redir_interface_info_header ii = { .interface_count = 1, .interface_class = { 0xff } };
    usbredirparser_send_interface_info(pe->p, &ii);
    struct usb_redir_ep_info_header ep;
    memset(&ep, 0, sizeof(ep));
    memset(ep.type, usb_redir_type_invalid, sizeof(ep.type));
    ep.type[0] = ep.type[16] = usb_redir_type_control;
    ep.type[16 | 1] = usb_redir_type_interrupt;
    ep.type[2] = ep.type[16 | 2] = usb_redir_type_bulk;
    usbredirparser_send_ep_info(pe->p, &ep);
    struct usb_redir_device_connect_header dc = { .speed = usb_redir_speed_full, .device_class = 0,
                                                  .vendor_id = 0x1234, .product_id = 0x5678,
                                                  .device_version_bcd = 0x0100 };
    usbredirparser_send_device_connect(pe->p, &dc);
    peer_flush(pe);
}

/* ---- the controller side ---- */

static void rig_init(Rig *r)
{
    memset(r, 0, sizeof(*r));
    r->peer.fd = -1;
    r->dir = g_dir_make_tmp("vireo-usbredir-XXXXXX", NULL);
    r->path = g_build_filename(r->dir, "redir.sock", NULL);
    r->vm = vm_new_for_test(1 << 20);
    g_autofree char *opts = g_strdup_printf("socket,id=r0,path=%s,server=on,wait=off", r->path);
    GError *err = NULL;
    g_assert_true(backend_open(r->vm, "chardev", opts, &err));
    g_assert_no_error(err);
    vm_lock(r->vm);
    r->bus = usb_bus_new(r->vm, "usb-bus.0", 2, &ports_ops, r);
    g_assert_nonnull(device_create_from_spec(r->vm, "usb-redir,chardev=r0,id=redir0", &err));
    g_assert_no_error(err);
    vm_unlock(r->vm);
}

static void rig_free(Rig *r)
{
    peer_close(&r->peer);
    vm_free(r->vm);
    usb_bus_free(r->bus);
    g_unlink(r->path);
    g_rmdir(r->dir);
    g_free(r->path);
    g_free(r->dir);
}

static UsbResult packet(Rig *r, uint8_t pid, uint8_t ep, uint8_t *data, size_t len, size_t *got)
{
    UsbPacket p = { .pid = pid, .addr = 0, .ep = ep, .data = data, .max_len = len, .len = len };
    vm_lock(r->vm);
    usb_bus_deliver(r->bus, 3, &p);
    vm_unlock(r->vm);
    if (got)
        *got = p.len;
    return p.result;
}

/* Repeats a transaction while it NAKs, letting the peer answer between the attempts,
 * as a controller retries a NAKed TD on later frames (bounded). */
static UsbResult retry(Rig *r, uint8_t pid, uint8_t ep, uint8_t *data, size_t len, size_t *got, int *naks)
{
    for (int i = 0; i < 200; i++) {
        UsbResult res = packet(r, pid, ep, data, len, got);
        if (res != USB_RET_NAK)
            return res;
        if (naks)
            (*naks)++;
        pump(r);
    }
    return USB_RET_NAK;
}

/* A whole control transfer; returns the IN bytes, or -1 on a stall. */
static int control(Rig *r, const uint8_t setup[8], uint8_t *buf, size_t len, int *naks)
{
    uint8_t s[8];
    memcpy(s, setup, 8);
    if (packet(r, USB_TOKEN_SETUP, 0, s, 8, NULL) != USB_RET_SUCCESS)
        return -1;
    size_t got = 0;
    if (setup[0] & 0x80) {
        if (retry(r, USB_TOKEN_IN, 0, buf, len, &got, naks) != USB_RET_SUCCESS)
            return -1;
        return packet(r, USB_TOKEN_OUT, 0, NULL, 0, NULL) == USB_RET_SUCCESS ? (int)got : -1;
    }
    if (setup[6] && packet(r, USB_TOKEN_OUT, 0, buf, len, NULL) != USB_RET_SUCCESS)
        return -1;
    return retry(r, USB_TOKEN_IN, 0, NULL, 0, NULL, naks) == USB_RET_SUCCESS ? 0 : -1;
}

static bool wait_attached(Rig *r, int n)
{
    for (int i = 0; i < 200 && r->attached < n; i++)
        pump(r);
    return r->attached >= n;
}

static void test_transfers(void)
{
    Rig r;
    rig_init(&r);
    peer_open(&r, false);
    peer_connect_device(&r);
    g_assert_true(wait_attached(&r, 1));

    /* The guest's GET_DESCRIPTOR is answered from what was fetched from the peer. */
    uint8_t buf[256];
    static const uint8_t get_dev[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
    g_assert_cmpint(control(&r, get_dev, buf, 18, NULL), ==, 18);
    g_assert_cmpmem(buf, 18, dev_desc, 18);
    static const uint8_t get_cfg[8] = { 0x80, 6, 0, 2, 0, 0, 255, 0 };
    g_assert_cmpint(control(&r, get_cfg, buf, 255, NULL), ==, (int)sizeof(cfg_desc));
    g_assert_cmpmem(buf, sizeof(cfg_desc), cfg_desc, sizeof(cfg_desc));
    static const uint8_t get_str[8] = { 0x80, 6, 2, 3, 0x09, 0x04, 255, 0 };
    g_assert_cmpint(control(&r, get_str, buf, 255, NULL), ==, 12);
    g_assert_cmpmem(buf + 2, 10, "R\0e\0d\0i\0r\0", 10);

    /* SET_CONFIGURATION reaches the peer. */
    static const uint8_t set_cfg[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    g_assert_cmpint(control(&r, set_cfg, NULL, 0, NULL), ==, 0);
    pump(&r);
    g_assert_cmpint(r.peer.set_config, ==, 1);

    /* A vendor IN request goes to the peer: the data stage NAKs until its answer. */
    int naks = 0;
    static const uint8_t vin[8] = { 0xc0, 0x42, 0, 0, 0, 0, 16, 0 };
    g_assert_cmpint(control(&r, vin, buf, 16, &naks), ==, 5);
    g_assert_cmpmem(buf, 5, "redir", 5);
    g_assert_cmpint(naks, >=, 1);
    static const uint8_t vout[8] = { 0x40, 0x43, 0, 0, 0, 0, 3, 0 };
    uint8_t three[3] = { 1, 2, 3 };
    g_assert_cmpint(control(&r, vout, three, 3, NULL), ==, 0);
    /* A request the peer's device stalls stalls for the guest. */
    static const uint8_t vbad[8] = { 0xc0, 0x99, 0, 0, 0, 0, 4, 0 };
    g_assert_cmpint(control(&r, vbad, buf, 4, NULL), ==, -1);

    /* Bulk OUT then IN: the peer gives the bytes back reversed. */
    uint8_t out[5] = { 'h', 'e', 'l', 'l', 'o' };
    size_t got = 0;
    g_assert_cmpint(retry(&r, USB_TOKEN_OUT, 2, out, 5, NULL, NULL), ==, USB_RET_SUCCESS);
    g_assert_cmpmem(r.peer.bulk, r.peer.bulk_len, out, 5);
    naks = 0;
    g_assert_cmpint(retry(&r, USB_TOKEN_IN, 2, buf, 64, &got, &naks), ==, USB_RET_SUCCESS);
    g_assert_cmpmem(buf, got, "olleh", 5);
    g_assert_cmpint(naks, >=, 1);
    /* An IN shorter than what the peer has: babble, the packet's length kept. */
    g_assert_cmpint(retry(&r, USB_TOKEN_IN, 2, buf, 2, &got, NULL), ==, USB_RET_BABBLE);
    g_assert_cmpuint(got, ==, 2);

    /* Interrupt IN: the first poll starts the peer's stream and NAKs; reports queue. */
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 1, buf, 8, &got), ==, USB_RET_NAK);
    pump(&r);
    uint8_t report[8] = { 0, 0, 4, 0, 0, 0, 0, 0 }; /* 'a' in a boot keyboard report */
    struct usb_redir_interrupt_packet_header ih = { .endpoint = 0x81, .status = usb_redir_success, .length = 8 };
    usbredirparser_send_interrupt_packet(r.peer.p, 0, &ih, report, 8);
    peer_flush(&r.peer);
    g_assert_cmpint(retry(&r, USB_TOKEN_IN, 1, buf, 8, &got, NULL), ==, USB_RET_SUCCESS);
    g_assert_cmpmem(buf, got, report, 8);

    /* An endpoint the device lacks stalls. */
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 5, buf, 8, &got), ==, USB_RET_STALL);

    /* The peer's device leaves: unplugged; it comes back on a new connect. */
    usbredirparser_send_device_disconnect(r.peer.p);
    peer_flush(&r.peer);
    for (int i = 0; i < 200 && !r.detached; i++)
        pump(&r);
    g_assert_cmpint(r.detached, ==, 1);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 2, buf, 64, &got), ==, USB_RET_NODEV);
    peer_connect_device(&r);
    g_assert_true(wait_attached(&r, 2));

    /* The client goes away: unplugged again; a new client gets a device attached. */
    peer_close(&r.peer);
    for (int i = 0; i < 200 && r.detached < 2; i++)
        pump(&r);
    g_assert_cmpint(r.detached, ==, 2);
    peer_open(&r, false);
    peer_connect_device(&r);
    g_assert_true(wait_attached(&r, 3));
    rig_free(&r);
}

/* Raw bytes from a hostile peer, after a well-behaved connect. */
static void hostile_raw(const void *bytes, size_t len, bool connected_first)
{
    Rig r;
    rig_init(&r);
    peer_open(&r, false);
    if (connected_first) {
        peer_connect_device(&r);
        g_assert_true(wait_attached(&r, 1));
    } else {
        for (int i = 0; i < 200 && !r.peer.hello; i++)
            pump(&r);
    }
    g_assert_cmpint(send(r.peer.fd, bytes, len, MSG_NOSIGNAL), ==, (ssize_t)len);
    for (int i = 0; i < 20; i++)
        pump(&r);
    g_assert_cmpint(r.detached, ==, r.attached);
    /* Nothing on the bus answers, and the device object is still there. */
    uint8_t buf[8];
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 2, buf, 8, NULL), ==, USB_RET_NODEV);
    vm_lock(r.vm);
    g_assert_nonnull(device_find(r.vm, "redir0"));
    vm_unlock(r.vm);
    rig_free(&r);
}

static void test_hostile(void)
{
    /* Headers (type, length, 64-bit id): an unknown type, then an absurd length. */
    uint32_t unknown[4] = { 0x7777, 0, 1, 0 };
    hostile_raw(unknown, sizeof(unknown), true);
    uint32_t huge[4] = { 100 /* control_packet */, 0xfffffff0u, 1, 0 };
    hostile_raw(huge, sizeof(huge), true);
    /* A control packet whose header length is wrong for its type. */
    uint32_t shortpkt[6] = { 100, 2, 1, 0, 0, 0 };
    hostile_raw(shortpkt, sizeof(shortpkt), true);

    /* Well-formed packets that make no sense: an answer to a request never made, a
     * bulk answer for an absent endpoint, a report for an endpoint never started. */
    Rig r;
    rig_init(&r);
    peer_open(&r, false);
    peer_connect_device(&r);
    g_assert_true(wait_attached(&r, 1));
    struct usb_redir_bulk_packet_header bh = { .endpoint = 0x8f, .status = usb_redir_success, .length = 4 };
    uint8_t four[4] = { 1, 2, 3, 4 };
    usbredirparser_send_bulk_packet(r.peer.p, 1, &bh, four, 4); /* id 1: the fetch's, long done */
    struct usb_redir_interrupt_packet_header ih = { .endpoint = 0x83, .status = usb_redir_success, .length = 4 };
    usbredirparser_send_interrupt_packet(r.peer.p, 0, &ih, four, 4);
    peer_flush(&r.peer);
    pump(&r);
    g_assert_cmpint(r.detached, ==, 0); /* stale answers are dropped quietly */
    struct usb_redir_control_packet_header ch = { .endpoint = 0x80, .request = 6, .requesttype = 0x80,
                                                  .status = usb_redir_success, .length = 4 };
    usbredirparser_send_control_packet(r.peer.p, 999999, &ch, four, 4);
    peer_flush(&r.peer);
    for (int i = 0; i < 20 && !r.detached; i++)
        pump(&r);
    g_assert_cmpint(r.detached, ==, 1);
    rig_free(&r);

    /* A device descriptor of the wrong length: never attached. */
    rig_init(&r);
    peer_open(&r, true);
    peer_connect_device(&r);
    for (int i = 0; i < 20; i++)
        pump(&r);
    g_assert_cmpint(r.attached, ==, 0);
    rig_free(&r);
}

/* Saved with a control request and a bulk IN waiting for the peer, loaded back: the
 * answers that come meanwhile belong to the saved run and are dropped; the waiting
 * control request stalls (the guest's driver retries), the bulk IN is sent again. */
static void test_state(void)
{
    Rig r;
    rig_init(&r);
    peer_open(&r, false);
    peer_connect_device(&r);
    g_assert_true(wait_attached(&r, 1));
    static const uint8_t set_cfg[8] = { 0, 9, 1, 0, 0, 0, 0, 0 };
    g_assert_cmpint(control(&r, set_cfg, NULL, 0, NULL), ==, 0);
    uint8_t out[3] = { 'a', 'b', 'c' };
    g_assert_cmpint(retry(&r, USB_TOKEN_OUT, 2, out, 3, NULL, NULL), ==, USB_RET_SUCCESS);

    uint8_t buf[64];
    size_t got = 0;
    static const uint8_t vin[8] = { 0xc0, 0x42, 0, 0, 0, 0, 16, 0 };
    uint8_t s8[8];
    memcpy(s8, vin, 8);
    g_assert_cmpint(packet(&r, USB_TOKEN_SETUP, 0, s8, 8, NULL), ==, USB_RET_SUCCESS);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 0, buf, 16, &got), ==, USB_RET_NAK);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 2, buf, 64, &got), ==, USB_RET_NAK);
    g_autoptr(GByteArray) st = g_byte_array_new();
    vm_lock(r.vm);
    device_list_save(r.vm, st);
    vm_unlock(r.vm);
    pump(&r); /* the answers arrive for the saved run */
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_true(device_list_load(r.vm, st->data, st->len, &err));
    vm_unlock(r.vm);
    g_assert_no_error(err);
    g_assert_cmpint(packet(&r, USB_TOKEN_IN, 0, buf, 16, &got), ==, USB_RET_STALL);
    g_assert_cmpint(control(&r, vin, buf, 16, NULL), ==, 5);
    g_assert_cmpmem(buf, 5, "redir", 5);
    g_assert_cmpint(retry(&r, USB_TOKEN_IN, 2, buf, 64, &got, NULL), ==, USB_RET_SUCCESS);
    g_assert_cmpmem(buf, got, "cba", 3);
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/usb-redir/transfers", test_transfers);
    g_test_add_func("/usb-redir/hostile", test_hostile);
    g_test_add_func("/usb-redir/state", test_state);
    return g_test_run();
}
