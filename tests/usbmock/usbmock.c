/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mock devices of usbmock.h: usbfs answered through umockdev's ioctl handler API.
 * Every buffer of the client (the URB, its data) is reached through umockdev's
 * resolve/set_ptr calls, so the client may be another process. */
#include "tests/usbmock/usbmock.h"

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <string.h>
#include <umockdev.h>


/* HID 1.11, appendix B.1: the boot keyboard's report descriptor. */
static const uint8_t report_desc[] = {
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7, 0x15, 0x00, 0x25, 0x01,
    0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01,
    0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
    0x75, 0x08, 0x15, 0x00, 0x25, 0x65, 0x05, 0x07, 0x19, 0x00, 0x29, 0x65, 0x81, 0x00, 0xc0,
};

/* USB 2.0 9.6.1 and 9.6.3-9.6.6, HID 1.11 6.2.1: one interface, boot keyboard, one
 * interrupt IN endpoint of 8 bytes every 10 ms. */
static const uint8_t kbd_descriptors[18 + 34] = {
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xc0, 0x16, 0xdb, 0x27, 0x00, 0x01, 1, 2, 0, 1,
    9, 2, 34, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 1, 3, 1, 1, 0,
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, sizeof(report_desc), 0,
    7, 5, 0x81, 3, 8, 0, 10,
};

static const char *const kbd_strings[] = { "Vireo", USBMOCK_PRODUCT_NAME };

/* USB MSC BOT 1.0, 4.1-4.3: one interface (class 8, SCSI transparent, bulk-only) with a
 * bulk IN and a bulk OUT endpoint of 64 bytes. */
static const uint8_t disk_descriptors[18 + 32] = {
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xc0, 0x16, 0xdc, 0x27, 0x00, 0x01, 1, 2, 0, 1,
    9, 2, 32, 0, 1, 1, 0, 0x80, 50,
    9, 4, 0, 0, 2, 8, 6, 0x50, 0,
    7, 5, 0x81, 2, 64, 0, 0,
    7, 5, 0x02, 2, 64, 0, 0,
};

static const char *const disk_strings[] = { "Vireo", "Mock USB Disk" };

/* USB Audio Class 1.0 (Audio Device Class 1.0, 4.3-4.6; Audio Data Formats 1.0, 2.2.5):
 * AudioControl interface 0 with a header, a USB streaming input terminal (id 1) and a
 * speaker output terminal (id 2); AudioStreaming interface 1, setting 0 without
 * endpoints (no bandwidth), setting 1 with PCM 16-bit stereo at 48 kHz on an adaptive
 * isochronous OUT endpoint of 192 bytes every frame. */
static const uint8_t speaker_descriptors[18 + 100] = {
    18, 1, 0x00, 0x02, 0, 0, 0, 64, 0xc0, 0x16, 0xdd, 0x27, 0x00, 0x01, 1, 2, 0, 1,
    9, 2, 100, 0, 2, 1, 0, 0x80, 50,
    9, 4, 0, 0, 0, 1, 1, 0, 0,
    9, 0x24, 1, 0x00, 0x01, 30, 0, 1, 1,
    12, 0x24, 2, 1, 0x01, 0x01, 0, 2, 0x03, 0x00, 0, 0,
    9, 0x24, 3, 2, 0x01, 0x03, 0, 1, 0,
    9, 4, 1, 0, 0, 1, 2, 0, 0,
    9, 4, 1, 1, 1, 1, 2, 0, 0,
    7, 0x24, 1, 1, 1, 0x01, 0x00,
    11, 0x24, 2, 1, 2, 2, 16, 1, 0x80, 0xbb, 0x00,
    9, 5, 0x01, 0x09, USBMOCK_SPEAKER_PACKET, 0, 1, 0, 0,
    7, 0x25, 1, 0, 0, 0, 0,
};

static const char *const speaker_strings[] = { "Vireo", "Mock USB Speaker" };

typedef struct Urb {
    UMockdevIoctlData *data;   /* the client's struct usbdevfs_urb */
    UMockdevIoctlData *buffer; /* its buffer */
} Urb;

/* Bulk-only transport stages (BOT 5.1-5.3). */
typedef enum { BOT_CBW, BOT_DATA_IN, BOT_DATA_OUT, BOT_CSW, BOT_STALL_THEN_CSW } BotStage;

typedef struct MockDev {
    UsbMockDevice kind;
    const uint8_t *desc;
    size_t desc_len;
    const char *const *strings;
    const char *node, *syspath;
    UMockdevIoctlBase *handler;
    GMutex lock;
    GQueue waiting;   /* IN URBs with nothing to say yet */
    GQueue done;      /* URBs the client may reap */
    GQueue reports;   /* keyboard: 8-byte reports to send */
    bool gone, busy;
    UsbMockStats stats;
    /* storage */
    uint8_t *disk;
    BotStage stage;
    uint32_t tag, expected, residue;
    uint8_t status;          /* CSW bStatus */
    uint8_t sense_key, asc;
    GByteArray *io;          /* data to send, or data received */
    size_t io_pos;
    uint32_t write_lba, write_blocks;
    /* speaker */
    GByteArray *played;
} MockDev;

struct UsbMock {
    UMockdevTestbed *testbed;
    MockDev *dev[3];
};

/* dev[] slot of a device kind. */
static int slot_of(UsbMockDevice which)
{
    return which == USBMOCK_KEYBOARD ? 0 : which == USBMOCK_STORAGE ? 1 : 2;
}

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

static void urb_finish(MockDev *d, Urb *u, int status, const void *data, size_t len)
{
    struct usbdevfs_urb *urb = urb_of(u);
    len = MIN(len, (size_t)MAX(urb->buffer_length, 0));
    if (data && len)
        memcpy(u->buffer->data, data, len);
    urb->actual_length = (int)len;
    urb->status = status;
    g_queue_push_tail(&d->done, u);
}

/* ---- the keyboard ---- */

/* lock held: hands waiting interrupt URBs the queued reports. */
static void kbd_pump(MockDev *d)
{
    while (!g_queue_is_empty(&d->waiting) && !g_queue_is_empty(&d->reports)) {
        Urb *u = g_queue_pop_head(&d->waiting);
        GBytes *r = g_queue_pop_head(&d->reports);
        gsize n;
        const uint8_t *p = g_bytes_get_data(r, &n);
        urb_finish(d, u, 0, p, n);
        g_bytes_unref(r);
        d->stats.reports_sent++;
    }
}

/* ---- the disk: SCSI (SPC-2, SBC-2) over bulk-only ---- */

enum { SENSE_NONE = 0, SENSE_NOT_READY = 2, SENSE_ILLEGAL = 5 };

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fail(MockDev *d, uint8_t key, uint8_t asc)
{
    d->status = 1;
    d->sense_key = key;
    d->asc = asc;
}

/* A CBW's command (BOT 5.1): fills d->io for a data-in stage or expects data out. */
static void scsi_command(MockDev *d, const uint8_t *cdb, bool in)
{
    const uint32_t blocks = USBMOCK_DISK_SIZE / 512;
    d->stats.commands++;
    d->status = 0;
    g_byte_array_set_size(d->io, 0);
    d->io_pos = 0;
    d->write_blocks = 0;
    uint8_t buf[64] = { 0 };
    switch (cdb[0]) {
    case 0x00: /* TEST UNIT READY */
    case 0x1b: /* START STOP UNIT */
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x35: /* SYNCHRONIZE CACHE(10) */
        break;
    case 0x03: /* REQUEST SENSE: fixed format (SPC-2 7.20.2) */
        buf[0] = 0x70;
        buf[2] = d->sense_key;
        buf[7] = 10;
        buf[12] = d->asc;
        g_byte_array_append(d->io, buf, MIN(18u, cdb[4]));
        d->sense_key = d->asc = 0;
        break;
    case 0x12: /* INQUIRY, standard data only (SPC-2 7.3.2) */
        if (cdb[1] & 1) {
            fail(d, SENSE_ILLEGAL, 0x24);
            break;
        }
        buf[1] = 0x80; /* removable */
        buf[2] = 4;
        buf[3] = 2;
        buf[4] = 31;
        memcpy(buf + 8, "Vireo   ", 8);
        memcpy(buf + 16, "Mock Disk       ", 16);
        memcpy(buf + 32, "1.0 ", 4);
        g_byte_array_append(d->io, buf, MIN(36u, (unsigned)(cdb[3] << 8 | cdb[4])));
        break;
    case 0x25: /* READ CAPACITY(10) */
        put_be32(buf, blocks - 1);
        put_be32(buf + 4, 512);
        g_byte_array_append(d->io, buf, 8);
        break;
    case 0x1a: /* MODE SENSE(6): a header, no block descriptors, no pages, not protected */
        buf[0] = 3;
        g_byte_array_append(d->io, buf, MIN(4u, cdb[4]));
        break;
    case 0x28:   /* READ(10) */
    case 0x2a: { /* WRITE(10) */
        uint32_t lba = be32(cdb + 2), count = (uint32_t)(cdb[7] << 8 | cdb[8]);
        if (lba > blocks || count > blocks - lba || (uint64_t)count * 512 != d->expected ||
            in != (cdb[0] == 0x28)) {
            fail(d, SENSE_ILLEGAL, 0x21);
            break;
        }
        if (cdb[0] == 0x28) {
            g_byte_array_append(d->io, d->disk + (size_t)lba * 512, count * 512);
            d->stats.blocks_read += (int)count;
        } else {
            d->write_lba = lba;
            d->write_blocks = count;
        }
        break;
    }
    default:
        fail(d, SENSE_ILLEGAL, 0x20);
        break;
    }
}

static void disk_csw(MockDev *d, Urb *u)
{
    uint8_t csw[13] = { 'U', 'S', 'B', 'S' };
    memcpy(csw + 4, &d->tag, 4);
    uint32_t r = GUINT32_TO_LE(d->residue);
    memcpy(csw + 8, &r, 4);
    csw[12] = d->status;
    urb_finish(d, u, 0, csw, 13);
    d->stage = BOT_CBW;
}

/* lock held: an IN URB on the bulk IN endpoint. */
static void disk_in(MockDev *d, Urb *u)
{
    switch (d->stage) {
    case BOT_DATA_IN: {
        size_t left = d->io->len - d->io_pos;
        size_t n = MIN(left, (size_t)urb_of(u)->buffer_length);
        urb_finish(d, u, 0, d->io->data + d->io_pos, n);
        d->io_pos += n;
        d->residue -= (uint32_t)n;
        /* Done when all went, or a short packet ended a shorter answer (BOT 6.7.2). */
        if (d->io_pos == d->io->len)
            d->stage = d->residue && !(n % 64) && n ? BOT_STALL_THEN_CSW : BOT_CSW;
        return;
    }
    case BOT_CSW:
        disk_csw(d, u);
        return;
    case BOT_STALL_THEN_CSW:
        /* Less data than the host asked for, ended on a packet boundary: the endpoint
         * halts and the CSW follows the host's CLEAR_FEATURE (BOT 6.7.2, case 5). */
        urb_finish(d, u, -EPIPE, NULL, 0);
        d->stage = BOT_CSW;
        return;
    default:
        urb_finish(d, u, -EPIPE, NULL, 0);
        return;
    }
}

/* lock held: an OUT URB on the bulk OUT endpoint. */
static void disk_out(MockDev *d, Urb *u)
{
    struct usbdevfs_urb *urb = urb_of(u);
    const uint8_t *p = u->buffer->data;
    size_t len = (size_t)MAX(urb->buffer_length, 0);
    if (d->stage == BOT_CBW) {
        if (len != 31 || memcmp(p, "USBC", 4) || (p[13] & 15) != 0 || p[14] < 1 || p[14] > 16) {
            urb_finish(d, u, -EPIPE, NULL, 0);
            return;
        }
        memcpy(&d->tag, p + 4, 4);
        d->expected = GUINT32_FROM_LE(*(const uint32_t *)(p + 8));
        d->residue = d->expected;
        bool in = p[12] & 0x80;
        scsi_command(d, p + 15, in);
        urb->actual_length = 31;
        urb->status = 0;
        g_queue_push_tail(&d->done, u);
        if (!d->expected) {
            d->stage = BOT_CSW;
        } else if (in) {
            if (d->io->len > d->expected)
                g_byte_array_set_size(d->io, d->expected);
            d->stage = d->io->len ? BOT_DATA_IN : BOT_STALL_THEN_CSW;
        } else {
            d->stage = BOT_DATA_OUT;
            if (!d->write_blocks && !d->status)
                fail(d, SENSE_ILLEGAL, 0x24);
        }
        /* A waiting IN (the CSW or data) can be answered now. */
        while (d->stage != BOT_CBW && d->stage != BOT_DATA_OUT && !g_queue_is_empty(&d->waiting))
            disk_in(d, g_queue_pop_head(&d->waiting));
        return;
    }
    if (d->stage == BOT_DATA_OUT) {
        size_t n = MIN(len, (size_t)d->residue);
        g_byte_array_append(d->io, p, (guint)n);
        d->residue -= (uint32_t)n;
        urb->actual_length = (int)n;
        urb->status = 0;
        g_queue_push_tail(&d->done, u);
        if (!d->residue) {
            if (d->write_blocks && !d->status) {
                memcpy(d->disk + (size_t)d->write_lba * 512, d->io->data, (size_t)d->write_blocks * 512);
                d->stats.blocks_written += (int)d->write_blocks;
            }
            d->stage = BOT_CSW;
            while (!g_queue_is_empty(&d->waiting) && d->stage == BOT_CSW)
                disk_in(d, g_queue_pop_head(&d->waiting));
        }
        return;
    }
    urb_finish(d, u, -EPIPE, NULL, 0);
}

/* ---- the speaker ---- */

/* lock held: an isochronous OUT URB of one packet (what usb-host submits), whose
 * length is the buffer's. Its packet descriptor lies after the URB in the client's
 * memory, which umockdev cannot reach here (it resolves the URB once, at the struct's
 * fixed size): the packet is taken whole and the URB completes without error, so the
 * client keeps the descriptor as it filled it (its actual length reads 0). */
static void speaker_out(MockDev *d, Urb *u)
{
    struct usbdevfs_urb *urb = urb_of(u);
    size_t len = (size_t)MAX(urb->buffer_length, 0);
    d->stats.iso_urbs++;
    if (len > USBMOCK_SPEAKER_PACKET) {
        urb_finish(d, u, -EOVERFLOW, NULL, 0);
        return;
    }
    g_byte_array_append(d->played, u->buffer->data, (guint)len);
    d->stats.iso_packets++;
    urb->actual_length = (int)len;
    urb->status = 0;
    g_queue_push_tail(&d->done, u);
}

/* ---- the default pipe ---- */

static int string_desc(const char *const *strings, unsigned idx, uint8_t *tmp)
{
    if (idx == 0) {
        memcpy(tmp, (uint8_t[]){ 4, 3, 0x09, 0x04 }, 4);
        return 4;
    }
    if (idx > 2)
        return -EPIPE;
    const char *s = strings[idx - 1];
    int n = 2 + 2 * (int)strlen(s);
    tmp[0] = (uint8_t)n;
    tmp[1] = 3;
    for (size_t i = 0; s[i]; i++) {
        tmp[2 + 2 * i] = (uint8_t)s[i];
        tmp[3 + 2 * i] = 0;
    }
    return n;
}

/* A control request (USB 2.0 9.4, HID 7.1-7.2, BOT 3.1-3.2): the data stage goes after
 * the 8 setup bytes in the URB's buffer; returns its length or -EPIPE for a stall. */
static int control(MockDev *d, uint8_t *buf, int len)
{
    uint8_t type = buf[0], req = buf[1];
    uint16_t value = (uint16_t)(buf[2] | buf[3] << 8), wlen = (uint16_t)(buf[6] | buf[7] << 8);
    uint8_t *out = buf + 8;
    int room = MIN(len - 8, (int)wlen);
    uint8_t tmp[256];
    int n = -EPIPE;
    d->stats.control_requests++;
    if (type == 0x80 && req == 6) {
        switch (value >> 8) {
        case 1: memcpy(tmp, d->desc, 18); n = 18; break;
        case 2: memcpy(tmp, d->desc + 18, d->desc_len - 18); n = (int)d->desc_len - 18; break;
        case 3: n = string_desc(d->strings, value & 0xff, tmp); break;
        default: break;
        }
    } else if (type == 0x00 && (req == 9 || req == 1 || req == 3)) { /* SET_CONFIGURATION, features */
        n = 0;
    } else if (type == 0x02 && req == 1) { /* CLEAR_FEATURE(ENDPOINT_HALT) */
        n = 0;
    } else if (d->kind == USBMOCK_KEYBOARD) {
        if (type == 0x81 && req == 6 && value >> 8 == 0x22) {
            d->stats.get_report_desc++;
            memcpy(tmp, report_desc, sizeof(report_desc));
            n = sizeof(report_desc);
        } else if (type == 0x21 && req == 0x0a) { /* SET_IDLE */
            d->stats.set_idle++;
            n = 0;
        } else if (type == 0x21 && (req == 0x09 || req == 0x0b)) { /* SET_REPORT (LEDs), SET_PROTOCOL */
            n = 0;
        }
    } else if (d->kind == USBMOCK_SPEAKER) {
        /* SET_CUR of the endpoint's sampling frequency (Audio 1.0, 5.2.3.2.3.1): 48 kHz
         * is the one it has; GET_CUR answers it. */
        if (type == 0x22 && req == 0x01 && value == 0x0100 && wlen == 3)
            n = 0;
        else if (type == 0xa2 && req == 0x81 && value == 0x0100) {
            memcpy(tmp, (uint8_t[]){ 0x80, 0xbb, 0x00 }, 3);
            n = 3;
        }
    } else {
        if (type == 0xa1 && req == 0xfe) { /* Get Max LUN */
            tmp[0] = 0;
            n = 1;
        } else if (type == 0x21 && req == 0xff) { /* Bulk-Only Mass Storage Reset */
            d->stage = BOT_CBW;
            n = 0;
        }
    }
    if (n < 0)
        return n;
    n = MIN(n, room);
    memcpy(out, tmp, (size_t)n);
    return n;
}

static gboolean handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *client, gpointer opaque)
{
    (void)h;
    MockDev *m = opaque;
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
            g_strlcpy(gd->driver,
                      m->kind == USBMOCK_KEYBOARD  ? "usbhid"
                      : m->kind == USBMOCK_STORAGE ? "usb-storage"
                                                   : "snd-usb-audio",
                      sizeof(gd->driver));
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
        break;
    case USBDEVFS_SETINTERFACE: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_setinterface), NULL);
        struct usbdevfs_setinterface *si = (struct usbdevfs_setinterface *)d->data;
        /* Only the speaker's streaming interface has a setting besides 0. */
        if (si->altsetting == 0 || (m->kind == USBMOCK_SPEAKER && si->interface == 1 && si->altsetting == 1)) {
            if (m->kind == USBMOCK_SPEAKER && si->interface == 1) {
                m->stats.alt_setting = (int)si->altsetting;
                m->stats.set_interfaces++;
            }
        } else {
            ret = -1, err = EINVAL;
        }
        umockdev_ioctl_data_unref(d);
        break;
    }
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
        } else if (m->kind == USBMOCK_KEYBOARD && urb->type == USBDEVFS_URB_TYPE_INTERRUPT && urb->endpoint == 0x81) {
            g_queue_push_tail(&m->waiting, u);
            kbd_pump(m);
        } else if (m->kind == USBMOCK_STORAGE && urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == 0x81) {
            if (m->stage == BOT_CBW || m->stage == BOT_DATA_OUT)
                g_queue_push_tail(&m->waiting, u);
            else
                disk_in(m, u);
        } else if (m->kind == USBMOCK_STORAGE && urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == 0x02) {
            disk_out(m, u);
        } else if (m->kind == USBMOCK_SPEAKER && urb->type == USBDEVFS_URB_TYPE_ISO && urb->endpoint == 0x01) {
            if (m->stats.alt_setting != 1 || urb->number_of_packets != 1) {
                /* Setting 0 has no endpoint: usbfs refuses the URB. */
                m->stats.iso_refused++;
                urb_free(u);
                ret = -1, err = EINVAL;
                break;
            }
            speaker_out(m, u);
        } else {
            urb_finish(m, u, -EPIPE, NULL, 0);
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

static MockDev *mockdev_add(UMockdevTestbed *tb, UsbMockDevice kind)
{
    MockDev *d = g_new0(MockDev, 1);
    bool kbd = kind == USBMOCK_KEYBOARD;
    int devnum = kbd ? 2 : kind == USBMOCK_STORAGE ? 3 : 4;
    d->kind = kind;
    if (kind == USBMOCK_SPEAKER) {
        d->desc = speaker_descriptors;
        d->desc_len = sizeof(speaker_descriptors);
        d->strings = speaker_strings;
        d->node = "/dev/bus/usb/001/004";
        d->syspath = "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-3";
        d->played = g_byte_array_new();
    } else {
        d->desc = kbd ? kbd_descriptors : disk_descriptors;
        d->desc_len = kbd ? sizeof(kbd_descriptors) : sizeof(disk_descriptors);
        d->strings = kbd ? kbd_strings : disk_strings;
        d->node = kbd ? "/dev/bus/usb/001/002" : "/dev/bus/usb/001/003";
        d->syspath =
            kbd ? "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-1" : "/sys/devices/pci0000:00/0000:00:01.2/usb1/1-2";
    }
    g_mutex_init(&d->lock);
    d->stats.driver_bound = 1;
    if (kind == USBMOCK_STORAGE) {
        d->disk = g_malloc(USBMOCK_DISK_SIZE);
        for (size_t i = 0; i < USBMOCK_DISK_SIZE; i++)
            d->disk[i] = (uint8_t)((i * 37 + (i >> 8)) & 0xff);
        d->io = g_byte_array_new();
    }
    d->handler = umockdev_ioctl_base_new();
    g_signal_connect(d->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), d);
    /* The handler first, so the node is ready when libusb hears of the device. */
    umockdev_testbed_attach_ioctl(tb, d->node, d->handler, NULL);
    GString *hex = g_string_new(NULL);
    for (size_t i = 0; i < d->desc_len; i++)
        g_string_append_printf(hex, "%02x", d->desc[i]);
    g_autofree char *text = g_strdup_printf(
        "P: %s\n"
        "N: bus/usb/001/%s\n"
        "E: SUBSYSTEM=usb\n"
        "E: DEVTYPE=usb_device\n"
        "E: DRIVER=usb\n"
        "E: BUSNUM=001\n"
        "E: DEVNUM=%s\n"
        "E: DEVNAME=%s\n"
        "A: busnum=1\\n\n"
        "A: devnum=%d\\n\n"
        "A: speed=12\\n\n"
        "A: bConfigurationValue=1\\n\n"
        "A: manufacturer=%s\\n\n"
        "A: product=%s\\n\n"
        "H: descriptors=%s\n",
        d->syspath + strlen("/sys"), d->node + strlen("/dev/bus/usb/001/"), d->node + strlen("/dev/bus/usb/001/"),
        d->node, devnum, d->strings[0], d->strings[1], hex->str);
    g_string_free(hex, true);
    g_autoptr(GError) err = NULL;
    if (!umockdev_testbed_add_from_string(tb, text, &err))
        g_error("usbmock: umockdev cannot add the device: %s", err->message);
    return d;
}

static void mockdev_free(UMockdevTestbed *tb, MockDev *d)
{
    if (!d)
        return;
    umockdev_testbed_detach_ioctl(tb, d->node, NULL);
    g_clear_object(&d->handler);
    g_queue_clear_full(&d->waiting, (GDestroyNotify)urb_free);
    g_queue_clear_full(&d->done, (GDestroyNotify)urb_free);
    g_queue_clear_full(&d->reports, (GDestroyNotify)g_bytes_unref);
    if (d->io)
        g_byte_array_unref(d->io);
    if (d->played)
        g_byte_array_unref(d->played);
    g_free(d->disk);
    g_mutex_clear(&d->lock);
    g_free(d);
}

UsbMock *usbmock_new(unsigned devices)
{
    UsbMock *m = g_new0(UsbMock, 1);
    m->testbed = umockdev_testbed_new();
    if (devices & USBMOCK_KEYBOARD)
        m->dev[0] = mockdev_add(m->testbed, USBMOCK_KEYBOARD);
    if (devices & USBMOCK_STORAGE)
        m->dev[1] = mockdev_add(m->testbed, USBMOCK_STORAGE);
    if (devices & USBMOCK_SPEAKER)
        m->dev[2] = mockdev_add(m->testbed, USBMOCK_SPEAKER);
    return m;
}

void usbmock_free(UsbMock *m)
{
    if (!m)
        return;
    for (int i = 0; i < 3; i++)
        mockdev_free(m->testbed, m->dev[i]);
    g_clear_object(&m->testbed);
    g_free(m);
}

static MockDev *dev_of(UsbMock *m, UsbMockDevice which)
{
    MockDev *d = m->dev[slot_of(which)];
    g_assert(d);
    return d;
}

void usbmock_key(UsbMock *m, uint8_t usage)
{
    MockDev *d = dev_of(m, USBMOCK_KEYBOARD);
    uint8_t down[8] = { 0, 0, usage, 0, 0, 0, 0, 0 }, up[8] = { 0 };
    g_mutex_lock(&d->lock);
    g_queue_push_tail(&d->reports, g_bytes_new(down, 8));
    g_queue_push_tail(&d->reports, g_bytes_new(up, 8));
    kbd_pump(d);
    g_mutex_unlock(&d->lock);
}

void usbmock_unplug(UsbMock *m, UsbMockDevice which)
{
    MockDev *d = dev_of(m, which);
    g_mutex_lock(&d->lock);
    d->gone = true;
    /* What was in flight comes back as the kernel gives it back on a disconnect. */
    while (!g_queue_is_empty(&d->waiting)) {
        Urb *u = g_queue_pop_head(&d->waiting);
        urb_of(u)->status = -ESHUTDOWN;
        g_queue_push_tail(&d->done, u);
    }
    g_mutex_unlock(&d->lock);
    umockdev_testbed_uevent(m->testbed, d->syspath, "remove");
    umockdev_testbed_remove_device(m->testbed, d->syspath);
}

void usbmock_plug(UsbMock *m, UsbMockDevice which)
{
    MockDev **slot = &m->dev[slot_of(which)];
    g_assert(!*slot || (*slot)->gone);
    mockdev_free(m->testbed, *slot);
    *slot = mockdev_add(m->testbed, which);
    umockdev_testbed_uevent(m->testbed, (*slot)->syspath, "add");
}

void usbmock_set_busy(UsbMock *m, bool busy)
{
    MockDev *d = dev_of(m, USBMOCK_KEYBOARD);
    g_mutex_lock(&d->lock);
    d->busy = busy;
    g_mutex_unlock(&d->lock);
}

GBytes *usbmock_disk(UsbMock *m)
{
    MockDev *d = dev_of(m, USBMOCK_STORAGE);
    g_mutex_lock(&d->lock);
    GBytes *b = g_bytes_new(d->disk, USBMOCK_DISK_SIZE);
    g_mutex_unlock(&d->lock);
    return b;
}

GBytes *usbmock_played(UsbMock *m)
{
    MockDev *d = dev_of(m, USBMOCK_SPEAKER);
    g_mutex_lock(&d->lock);
    GBytes *b = g_bytes_new(d->played->data, d->played->len);
    g_mutex_unlock(&d->lock);
    return b;
}

UsbMockStats usbmock_stats(UsbMock *m, UsbMockDevice which)
{
    MockDev *d = dev_of(m, which);
    g_mutex_lock(&d->lock);
    UsbMockStats s = d->stats;
    g_mutex_unlock(&d->lock);
    return s;
}
