/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-storage: a USB mass storage device, Bulk-Only Transport (USB Mass Storage Class
 * Bulk-Only Transport 1.0, "BOT" below) carrying SCSI block commands (SPC-3, SBC-2) to
 * a disk image of the block layer: -drive if=none,id=ID,file=... -device
 * usb-storage,drive=ID. One LUN, 512-byte blocks.
 *
 * Every transaction completes at once: block reads and writes run synchronously on the
 * thread that polls the endpoint, a chunk of at most XFER_BUF bytes at a time, so the
 * device state between transactions (the command, its progress, the chunk in hand) is
 * all there is to save. */
#include "hw/usb/usb.h"
#include "hw/storage/drive.h"

#include <string.h>

#define BLOCK 512
#define XFER_BUF (16 * 1024)
#define CBW_SIG 0x43425355u /* "USBC" */
#define CSW_SIG 0x53425355u /* "USBS" */

/* Where the device is in the BOT protocol (BOT 5 and 6). */
enum {
    BOT_CBW,       /* waiting for a command block wrapper on bulk OUT */
    BOT_DATA_IN,
    BOT_DATA_OUT,
    BOT_CSW,       /* the status wrapper is next on bulk IN */
};

/* Sense keys and additional sense codes (SPC-3, 4.5.6 and table D.1). */
enum {
    SENSE_NONE = 0,
    SENSE_MEDIUM_ERROR = 3,
    SENSE_ILLEGAL_REQUEST = 5,
    SENSE_UNIT_ATTENTION = 6,
    SENSE_DATA_PROTECT = 7,
    ASC_INVALID_OPCODE = 0x20,
    ASC_LBA_OUT_OF_RANGE = 0x21,
    ASC_INVALID_FIELD = 0x24,
    ASC_WRITE_PROTECTED = 0x27,
    ASC_READ_ERROR = 0x11,
    ASC_WRITE_ERROR = 0x0c,
};

typedef struct UsbStorageState {
    UsbDevice usb;
    char *drive;              /* property: the if=none drive's id */
    bool removable;           /* property: RMB in INQUIRY */
    /* Wiring. */
    BlockImage *img;
    bool read_only;
    uint64_t sectors;
    /* Guest-visible state. */
    uint8_t bot;              /* BOT_* */
    uint32_t tag;             /* of the command in progress */
    uint32_t host_len;        /* dCBWDataTransferLength */
    uint32_t data_left;       /* bytes of the data stage still to move */
    uint32_t data_done;       /* bytes of real data moved (the rest is padding) */
    uint8_t status;           /* bCSWStatus to report */
    bool is_write;            /* a WRITE in the data-out stage */
    bool is_read;             /* a READ in the data-in stage */
    uint64_t lba;             /* next block of a READ or WRITE */
    uint32_t blocks_left;
    uint16_t buf_len, buf_pos;
    uint8_t buf[XFER_BUF];
    uint8_t sense_key, asc, ascq;
} UsbStorageState;

static void set_sense(UsbStorageState *s, uint8_t key, uint8_t asc)
{
    s->sense_key = key;
    s->asc = asc;
    s->ascq = 0;
}

static void fail(UsbStorageState *s, uint8_t key, uint8_t asc)
{
    set_sense(s, key, asc);
    s->status = 1;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
    size_t l = strlen(src);
    memset(dst, ' ', n);
    memcpy(dst, src, MIN(l, n));
}

/* Builds the response of a non-transfer command into buf; returns its length or -1
 * (sense set). */
static int simple_command(UsbStorageState *s, const uint8_t *cdb)
{
    uint8_t *b = s->buf;
    memset(b, 0, 64);
    switch (cdb[0]) {
    case 0x00: /* TEST UNIT READY */
    case 0x1b: /* START STOP UNIT */
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
    case 0x2f: /* VERIFY(10): the medium is always readable */
        return 0;
    case 0x35: { /* SYNCHRONIZE CACHE(10) */
        g_autoptr(GError) err = NULL;
        if (!block_flush(s->img, &err)) {
            VLOG(LOG_DISK, "%s: flush: %s", s->usb.dev.id, err->message);
            fail(s, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
            return -1;
        }
        return 0;
    }
    case 0x03: /* REQUEST SENSE: fixed format (SPC-3, 4.5.3), then the sense clears */
        b[0] = 0x70;
        b[2] = s->sense_key;
        b[7] = 10;
        b[12] = s->asc;
        b[13] = s->ascq;
        set_sense(s, SENSE_NONE, 0);
        return MIN(18, cdb[4]);
    case 0x12: /* INQUIRY (SPC-3, 6.4) */
        if (cdb[1] & 1) {
            /* Vital product data: only the list of pages. */
            if (cdb[2] != 0) {
                fail(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
                return -1;
            }
            b[3] = 1;
            return MIN(5, be16(cdb + 3));
        }
        b[0] = 0x00;                       /* direct access block device */
        b[1] = s->removable ? 0x80 : 0;
        b[2] = 5;                          /* SPC-3 */
        b[3] = 2;                          /* response data format */
        b[4] = 31;
        pad_copy(b + 8, "VIREO", 8);
        pad_copy(b + 16, "USB HARDDISK", 16);
        pad_copy(b + 32, "1.0", 4);
        return MIN(36, be16(cdb + 3));
    case 0x1a:   /* MODE SENSE(6) */
    case 0x5a: { /* MODE SENSE(10) (SPC-3, 6.9, 6.10): the caching page, write back */
        bool ten = cdb[0] == 0x5a;
        unsigned page = cdb[2] & 0x3f, hdr = ten ? 8 : 4, n = hdr;
        if (page == 0x08 || page == 0x3f) {
            uint8_t *p = b + hdr;
            p[0] = 0x08;
            p[1] = 18;
            p[2] = 0x04;                   /* WCE */
            n += 20;
        } else if (page != 0) {
            fail(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
            return -1;
        }
        if (ten) {
            b[1] = (uint8_t)(n - 2);
            b[3] = s->read_only ? 0x80 : 0;
            return (int)MIN(n, (unsigned)be16(cdb + 7));
        }
        b[0] = (uint8_t)(n - 1);
        b[2] = s->read_only ? 0x80 : 0;
        return (int)MIN(n, (unsigned)cdb[4]);
    }
    case 0x25: /* READ CAPACITY(10) (SBC-2, 5.10) */
        put_be32(b, s->sectors - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(s->sectors - 1));
        put_be32(b + 4, BLOCK);
        return 8;
    case 0x9e: /* SERVICE ACTION IN(16): READ CAPACITY(16) (SBC-2, 5.11) */
        if ((cdb[1] & 0x1f) != 0x10) {
            fail(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
            return -1;
        }
        put_be32(b, (uint32_t)((s->sectors - 1) >> 32));
        put_be32(b + 4, (uint32_t)(s->sectors - 1));
        put_be32(b + 8, BLOCK);
        return (int)MIN(32u, be32(cdb + 10));
    case 0x23: /* READ FORMAT CAPACITIES (MMC/UFI): one formatted descriptor */
        b[3] = 8;
        put_be32(b + 4, s->sectors > 0xffffffffu ? 0xffffffffu : (uint32_t)s->sectors);
        put_be32(b + 8, BLOCK);
        b[8] = 0x02;
        return MIN(12, be16(cdb + 7));
    default:
        fail(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
        return -1;
    }
}

/* READ and WRITE in their 6, 10, 12 and 16-byte forms: true with lba/count set. */
static bool rw_command(const uint8_t *cdb, bool *write, uint64_t *lba, uint32_t *count)
{
    switch (cdb[0]) {
    case 0x08: case 0x0a:
        *write = cdb[0] == 0x0a;
        *lba = (uint32_t)(cdb[1] & 0x1f) << 16 | be16(cdb + 2);
        *count = cdb[4] ? cdb[4] : 256;
        return true;
    case 0x28: case 0x2a:
        *write = cdb[0] == 0x2a;
        *lba = be32(cdb + 2);
        *count = be16(cdb + 7);
        return true;
    case 0xa8: case 0xaa:
        *write = cdb[0] == 0xaa;
        *lba = be32(cdb + 2);
        *count = be32(cdb + 6);
        return true;
    case 0x88: case 0x8a:
        *write = cdb[0] == 0x8a;
        *lba = (uint64_t)be32(cdb + 2) << 32 | be32(cdb + 6);
        *count = be32(cdb + 10);
        return true;
    default:
        return false;
    }
}

/* A command block wrapper (BOT 5.1) arrived. */
static void command(UsbStorageState *s, const uint8_t *cbw)
{
    s->tag = (uint32_t)cbw[4] | cbw[5] << 8 | cbw[6] << 16 | (uint32_t)cbw[7] << 24;
    s->host_len = (uint32_t)cbw[8] | cbw[9] << 8 | cbw[10] << 16 | (uint32_t)cbw[11] << 24;
    bool host_in = cbw[12] & 0x80;
    const uint8_t *cdb = cbw + 15;
    s->status = 0;
    s->data_done = 0;
    s->data_left = s->host_len;
    s->is_read = s->is_write = false;
    s->buf_len = s->buf_pos = 0;
    s->blocks_left = 0;
    bool write;
    uint64_t lba;
    uint32_t count;
    if (cbw[13] != 0) {
        fail(s, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD); /* one LUN */
    } else if (rw_command(cdb, &write, &lba, &count)) {
        uint64_t bytes = (uint64_t)count * BLOCK;
        if (lba > s->sectors || count > s->sectors - lba) {
            fail(s, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        } else if (write && s->read_only) {
            fail(s, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
        } else if (bytes > s->host_len || (count && host_in == write)) {
            /* The host expects less data, or the other direction (BOT 6.7, cases 7,
             * 8, 10, 13): a phase error; the host recovers with a reset. */
            s->status = 2;
        } else {
            s->lba = lba;
            s->blocks_left = count;
            s->is_write = write;
            s->is_read = !write;
        }
    } else {
        int n = simple_command(s, cdb);
        if (n > 0) {
            if (!host_in || (uint32_t)n > s->host_len)
                s->status = 2;
            else
                s->buf_len = (uint16_t)n;
        }
    }
    if (!s->data_left)
        s->bot = BOT_CSW;
    else
        s->bot = host_in ? BOT_DATA_IN : BOT_DATA_OUT;
}

/* Fills buf with the next blocks of a READ. */
static void read_chunk(UsbStorageState *s)
{
    uint32_t n = MIN(s->blocks_left, (uint32_t)(XFER_BUF / BLOCK));
    g_autoptr(GError) err = NULL;
    if (!block_pread(s->img, s->lba * BLOCK, s->buf, (size_t)n * BLOCK, &err)) {
        VLOG(LOG_DISK, "%s: read at block %" G_GUINT64_FORMAT ": %s", s->usb.dev.id, s->lba, err->message);
        fail(s, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
        s->blocks_left = 0;
        s->is_read = false;
        return;
    }
    s->lba += n;
    s->blocks_left -= n;
    s->buf_len = (uint16_t)(n * BLOCK);
    s->buf_pos = 0;
}

static void write_chunk(UsbStorageState *s)
{
    g_autoptr(GError) err = NULL;
    if (!block_pwrite(s->img, s->lba * BLOCK, s->buf, s->buf_len, &err)) {
        VLOG(LOG_DISK, "%s: write at block %" G_GUINT64_FORMAT ": %s", s->usb.dev.id, s->lba, err->message);
        fail(s, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
        s->blocks_left = 0;
        s->is_write = false;
    } else {
        s->lba += s->buf_len / BLOCK;
        s->blocks_left -= s->buf_len / BLOCK;
    }
    s->buf_len = s->buf_pos = 0;
}

static void data_in(UsbStorageState *s, UsbPacket *p)
{
    size_t want = MIN(p->max_len, (size_t)s->data_left), n = 0;
    while (n < want) {
        if (s->buf_pos == s->buf_len && s->is_read && s->blocks_left)
            read_chunk(s);
        size_t avail = (size_t)(s->buf_len - s->buf_pos);
        size_t k = MIN(avail, want - n);
        if (!k) {
            /* Past the data: padding up to the host's length (BOT 6.7.2, case 5). */
            memset(p->data + n, 0, want - n);
            n = want;
            break;
        }
        memcpy(p->data + n, s->buf + s->buf_pos, k);
        s->buf_pos += (uint16_t)k;
        s->data_done += (uint32_t)k;
        n += k;
    }
    s->data_left -= (uint32_t)n;
    p->len = n;
    p->result = USB_RET_SUCCESS;
    if (!s->data_left)
        s->bot = BOT_CSW;
}

static void data_out(UsbStorageState *s, UsbPacket *p)
{
    size_t n = MIN(p->len, (size_t)s->data_left);
    for (size_t pos = 0; pos < n;) {
        if (!s->is_write || !s->blocks_left) {
            pos = n; /* more than the command needs: dropped (BOT 6.7.3, case 9) */
            break;
        }
        size_t room = MIN((size_t)XFER_BUF - s->buf_len, (size_t)s->blocks_left * BLOCK - s->buf_len);
        size_t k = MIN(room, n - pos);
        memcpy(s->buf + s->buf_len, p->data + pos, k);
        s->buf_len += (uint16_t)k;
        s->data_done += (uint32_t)k;
        pos += k;
        if (s->buf_len == XFER_BUF || s->buf_len == s->blocks_left * BLOCK)
            write_chunk(s);
    }
    s->data_left -= (uint32_t)n;
    p->result = USB_RET_SUCCESS;
    if (!s->data_left) {
        /* Whole blocks only; a tail the host did not complete is a phase error. */
        if (s->is_write && s->blocks_left)
            s->status = 2;
        s->bot = BOT_CSW;
    }
}

static void storage_data(UsbDevice *d, UsbPacket *p)
{
    UsbStorageState *s = (UsbStorageState *)d;
    if (p->pid == USB_TOKEN_OUT && p->ep == 2) {
        if (s->bot == BOT_DATA_OUT) {
            data_out(s, p);
            return;
        }
        if (s->bot == BOT_CBW && p->len == 31 &&
            (p->data[0] | p->data[1] << 8 | p->data[2] << 16 | (uint32_t)p->data[3] << 24) == CBW_SIG &&
            p->data[14] >= 1 && p->data[14] <= 16) {
            command(s, p->data);
            p->result = USB_RET_SUCCESS;
            return;
        }
        /* Not a meaningful CBW: both bulk endpoints halt until reset recovery (BOT 6.6.1). */
        d->halted_in |= 1u << 1;
        d->halted_out |= 1u << 2;
        p->result = USB_RET_STALL;
        return;
    }
    if (p->pid == USB_TOKEN_IN && p->ep == 1) {
        if (s->bot == BOT_DATA_IN) {
            data_in(s, p);
            return;
        }
        if (s->bot == BOT_CSW && p->max_len >= 13) {
            uint32_t residue = s->host_len - s->data_done;
            uint8_t *c = p->data;
            memcpy(c, "USBS", 4);
            for (int i = 0; i < 4; i++) {
                c[4 + i] = (uint8_t)(s->tag >> (8 * i));
                c[8 + i] = (uint8_t)(residue >> (8 * i));
            }
            c[12] = s->status;
            p->len = 13;
            p->result = USB_RET_SUCCESS;
            s->bot = BOT_CBW;
            return;
        }
    }
    p->result = USB_RET_STALL;
}

static void bot_reset(UsbStorageState *s)
{
    s->bot = BOT_CBW;
    s->data_left = s->data_done = 0;
    s->is_read = s->is_write = false;
    s->blocks_left = 0;
    s->buf_len = s->buf_pos = 0;
}

/* Class requests (BOT 3.1, 3.2). */
static int storage_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    UsbStorageState *s = (UsbStorageState *)d;
    if (st->type == 0x21 && st->request == 0xff && st->value == 0 && st->index == 0 && st->length == 0) {
        bot_reset(s);
        return 0;
    }
    if (st->type == 0xa1 && st->request == 0xfe && st->value == 0 && st->index == 0 && st->length >= 1) {
        data[0] = 0; /* one LUN */
        return 1;
    }
    return -1;
}

static const UsbDeviceOps storage_ops = { .control = storage_control, .data = storage_data };

/* ---- descriptors ---- */

static const uint8_t storage_device_desc[] = {
    18, USB_DT_DEVICE, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06, 0x01, 0x00, 0x00, 0x00, 1, 2, 3, 1,
};

/* Configuration, interface (mass storage, SCSI transparent, bulk-only: BOT 4.3) and the
 * two bulk endpoints, 64 bytes each. Self powered. */
static const uint8_t storage_config[] = {
    9, USB_DT_CONFIG, 32, 0, 1, 1, 0, 0xc0, 0,
    9, USB_DT_INTERFACE, 0, 0, 2, 0x08, 0x06, 0x50, 0,
    7, USB_DT_ENDPOINT, 0x81, 2, 64, 0, 0,
    7, USB_DT_ENDPOINT, 0x02, 2, 64, 0, 0,
};

/* The serial number is twelve hex digits, as BOT 4.1.1 asks of a mass storage device. */
static const char *const storage_strings[] = { "QEMU", "QEMU USB HARDDRIVE", "314159265358" };

static const UsbDescriptors storage_desc = {
    storage_device_desc, storage_config, sizeof(storage_config), storage_strings, 3,
};

/* ---- the device object ---- */

static void storage_reset(Device *dev)
{
    UsbStorageState *s = (UsbStorageState *)dev;
    usb_device_reset_core(&s->usb);
    bot_reset(s);
    s->status = 0;
    s->tag = s->host_len = 0;
    s->lba = 0;
    /* No power-on unit attention is reported (SPC-3 allows one): nothing is pending. */
    set_sense(s, SENSE_NONE, 0);
}

static bool storage_realize(Device *dev, GError **err)
{
    UsbStorageState *s = (UsbStorageState *)dev;
    const DriveConfig *dc = NULL;
    s->img = drive_open_by_id(dev, "usb-storage", s->drive, &s->read_only, &dc, err);
    if (!s->img)
        return false;
    s->sectors = block_size(s->img) / BLOCK;
    if (!s->sectors) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "drive %s: image %s is smaller than one block",
                    s->drive, dc->file);
        block_close(s->img, NULL);
        s->img = NULL;
        return false;
    }
    s->usb.ops = &storage_ops;
    s->usb.desc = &storage_desc;
    s->usb.speed = USB_SPEED_FULL;
    if (!usb_device_attach(&s->usb, err)) {
        block_close(s->img, NULL);
        s->img = NULL;
        return false;
    }
    return true;
}

static void storage_unrealize(Device *dev)
{
    UsbStorageState *s = (UsbStorageState *)dev;
    usb_device_detach(&s->usb);
    if (s->img) {
        g_autoptr(GError) err = NULL;
        if (!block_close(s->img, &err))
            g_printerr("vireo: %s: %s\n", dev->id, err->message);
    }
    s->img = NULL;
}

static void storage_for_each_image(Device *dev, DeviceImageFn fn, void *opaque)
{
    UsbStorageState *s = (UsbStorageState *)dev;
    if (s->img)
        fn(opaque, s->drive, s->img, !s->read_only);
}

static bool storage_check(const void *state, GError **err)
{
    const UsbStorageState *s = state;
    if (!usb_device_state_check(&s->usb, err))
        return false;
    bool bad = s->usb.config > 1 || s->bot > BOT_CSW || s->status > 2 || s->buf_pos > s->buf_len ||
               s->buf_len > XFER_BUF || s->data_done > s->host_len || s->data_left > s->host_len ||
               (s->blocks_left && (s->lba > s->sectors || s->blocks_left > s->sectors - s->lba)) ||
               (s->is_write && s->buf_len > (uint64_t)s->blocks_left * BLOCK);
    if (bad) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "usb-storage: stage %u, status %u, buffer %u/%u, data %u+%u of %u or blocks %u at %"
                    G_GUINT64_FORMAT " do not fit this disk",
                    s->bot, s->status, s->buf_pos, s->buf_len, s->data_done, s->data_left, s->host_len,
                    s->blocks_left, s->lba);
        return false;
    }
    return true;
}

static const VmStateField storage_fields[] = {
    VMSTATE_STRUCT(UsbStorageState, usb, UsbDevice, &usb_device_vmsd),
    VMSTATE_U8(UsbStorageState, bot),
    VMSTATE_U32(UsbStorageState, tag),
    VMSTATE_U32(UsbStorageState, host_len),
    VMSTATE_U32(UsbStorageState, data_left),
    VMSTATE_U32(UsbStorageState, data_done),
    VMSTATE_U8(UsbStorageState, status),
    VMSTATE_BOOL(UsbStorageState, is_write),
    VMSTATE_BOOL(UsbStorageState, is_read),
    VMSTATE_U64(UsbStorageState, lba),
    VMSTATE_U32(UsbStorageState, blocks_left),
    VMSTATE_U16(UsbStorageState, buf_len),
    VMSTATE_U16(UsbStorageState, buf_pos),
    VMSTATE_BUFFER(UsbStorageState, buf),
    VMSTATE_U8(UsbStorageState, sense_key),
    VMSTATE_U8(UsbStorageState, asc),
    VMSTATE_U8(UsbStorageState, ascq),
    VMSTATE_END,
};

static const VmStateDesc storage_vmsd = {
    .name = "usb-storage",
    .version = 1,
    .fields = storage_fields,
    .check = storage_check,
};

static const DeviceProp storage_props[] = {
    USB_DEVICE_PROPS(UsbStorageState),
    { "drive", DEVICE_PROP_STRING, offsetof(UsbStorageState, drive),
      "id of a -drive if=none", NULL, 0, 0, NULL },
    { "removable", DEVICE_PROP_BOOL, offsetof(UsbStorageState, removable),
      "report removable media", "off", 0, 0, NULL },
    { NULL },
};

static const DeviceClass storage_class = {
    .name = "usb-storage",
    .description = "USB mass storage (bulk-only, SCSI disk) on a -drive if=none",
    .instance_size = sizeof(UsbStorageState),
    .user_creatable = true,
    .props = storage_props,
    .vmsd = &storage_vmsd,
    .realize = storage_realize,
    .reset = storage_reset,
    .unrealize = storage_unrealize,
    .unplug = usb_device_unplug,
    .bus_place = usb_device_bus_place,
    .for_each_image = storage_for_each_image,
};

__attribute__((constructor)) static void storage_register(void)
{
    device_class_register(&storage_class);
}
