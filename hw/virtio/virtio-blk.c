/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-blk-pci: a block device (VIRTIO §5.2) on a -drive if=none image:
 * -drive if=none,id=ID,file=... -device virtio-blk-pci,drive=ID.
 *
 * One request queue. Each request is a driver-written header {type, reserved, sector},
 * the data, and a status byte the device writes last (§5.2.6). Reads, writes, flushes,
 * discards and write-zeroes go to the block layer's thread pool, many in flight at
 * once; the data is staged in a host buffer (copied from guest RAM at submission, to it
 * at completion under the engine lock), so guest memory is only touched under the lock
 * and through the checked helpers. A save waits for the requests in flight (drain);
 * what the driver made available meanwhile stays on the ring and is taken afterwards. */
#include "hw/virtio/virtio.h"
#include "hw/storage/drive.h"

#include <string.h>

#define SECTOR 512
#define BLK_QUEUE_SIZE 256
/* Segments and bytes per segment offered (SEG_MAX, SIZE_MAX): a request is at most
 * their product, which bounds the staging buffer of one request. */
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
#define BLK_SIZE_MAX (128 * 1024)
#define BLK_MAX_REQ ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/* Staged bytes in flight before the device stops taking requests off the ring. */
#define BLK_INFLIGHT_LIMIT (64u << 20)
#define BLK_ID_BYTES 20
#define BLK_CONFIG_LEN 60

/* Feature bits (§5.2.3). */
enum {
    VIRTIO_BLK_F_SIZE_MAX = 1,
    VIRTIO_BLK_F_SEG_MAX = 2,
    VIRTIO_BLK_F_RO = 5,
    VIRTIO_BLK_F_BLK_SIZE = 6,
    VIRTIO_BLK_F_FLUSH = 9,
    VIRTIO_BLK_F_DISCARD = 13,
    VIRTIO_BLK_F_WRITE_ZEROES = 14,
};

/* Request types and status values (§5.2.6). */
enum {
    VIRTIO_BLK_T_IN = 0,
    VIRTIO_BLK_T_OUT = 1,
    VIRTIO_BLK_T_FLUSH = 4,
    VIRTIO_BLK_T_GET_ID = 8,
    VIRTIO_BLK_T_DISCARD = 11,
    VIRTIO_BLK_T_WRITE_ZEROES = 13,
};
enum {
    VIRTIO_BLK_S_OK = 0,
    VIRTIO_BLK_S_IOERR = 1,
    VIRTIO_BLK_S_UNSUPP = 2,
};
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

typedef struct VirtioBlkState {
    Device dev;
    char *addr; /* properties */
    bool disable_modern;
    char *drive;
    char *serial;
    VirtioPci vp;
    /* Wiring. */
    BlockImage *img;
    bool read_only;
    uint64_t sectors;
    uint32_t discard_align;   /* sectors */
    unsigned gen;             /* bumped by reset: older completions are dropped */
    unsigned inflight;        /* block requests submitted and not yet completed */
    uint64_t inflight_bytes;
    bool draining;
    VTimer *kick;             /* takes requests left on the ring after a drain or load */
} VirtioBlkState;

typedef struct BlkReq {
    VirtioBlkState *s;
    unsigned gen;
    VirtqElem e;
    uint32_t type;
    uint8_t *buf;
    size_t len;
    struct iovec iov;
} BlkReq;

static void blk_process(VirtioBlkState *s);

static void req_free(BlkReq *r)
{
    virtq_elem_clear(&r->e);
    g_free(r->buf);
    g_free(r);
}

/* Writes the status byte (the last device-writable byte) and returns the chain. */
static void req_complete(VirtioBlkState *s, BlkReq *r, uint8_t status, uint32_t written)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    virtq_elem_write(m, &r->e, r->e.in_len - 1, &status, 1);
    virtio_pci_push(&s->vp, 0, &r->e, written + 1);
}

static void aio_done(void *opaque, const GError *err)
{
    BlkReq *r = opaque;
    VirtioBlkState *s = r->s;
    vm_lock(s->dev.vm);
    s->inflight--;
    s->inflight_bytes -= r->len;
    if (r->gen == s->gen) {
        uint32_t written = 0;
        if (err)
            VLOG(LOG_DISK, "%s: request type %u: %s", s->dev.id, r->type, err->message);
        else if (r->type == VIRTIO_BLK_T_IN)
            written = (uint32_t)virtq_elem_write(virtio_pci_mem(&s->vp), &r->e, 0, r->buf, r->len);
        req_complete(s, r, err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, written);
        if (!s->draining)
            blk_process(s);
    }
    vm_unlock(s->dev.vm);
    req_free(r);
}

static bool range_ok(const VirtioBlkState *s, uint64_t sector, uint64_t bytes)
{
    return sector <= s->sectors && bytes / SECTOR <= s->sectors - sector;
}

static void submit(VirtioBlkState *s, BlkReq *r)
{
    s->inflight++;
    s->inflight_bytes += r->len;
}

/* Starts one request; false when it must wait for room (it was given back). */
static bool blk_start(VirtioBlkState *s, BlkReq *r)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    uint8_t hdr[16];
    if (r->e.out_len < sizeof(hdr) || !r->e.in_len) {
        /* §5.2.6.1: the header and the status byte are required; without them the
         * device has nowhere to say what went wrong. */
        virtio_pci_set_broken(&s->vp, "virtio-blk request without header or status byte");
        req_free(r);
        return true;
    }
    virtq_elem_read(m, &r->e, 0, hdr, sizeof(hdr));
    r->type = pci_get_long(hdr, 0);
    uint64_t sector = (uint64_t)pci_get_long(hdr, 8) | (uint64_t)pci_get_long(hdr, 12) << 32;
    uint64_t in_data = r->e.in_len - 1, out_data = r->e.out_len - sizeof(hdr);
    uint64_t bytes = r->type == VIRTIO_BLK_T_IN ? in_data : r->type == VIRTIO_BLK_T_OUT ? out_data : 0;
    if (bytes > BLK_MAX_REQ || (bytes && s->inflight_bytes + bytes > BLK_INFLIGHT_LIMIT && s->inflight)) {
        if (bytes <= BLK_MAX_REQ) {
            /* Room comes back as requests complete; aio_done calls blk_process. */
            virtq_unpop(&s->vp.vq[0]);
            req_free(r);
            return false;
        }
        VLOG(LOG_GUEST, "%s: request of %" G_GUINT64_FORMAT " bytes is over the limit", s->dev.id, bytes);
        req_complete(s, r, VIRTIO_BLK_S_IOERR, 0);
        req_free(r);
        return true;
    }
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
        bool write = r->type == VIRTIO_BLK_T_OUT;
        if (bytes % SECTOR || !range_ok(s, sector, bytes) || (write && s->read_only)) {
            VLOG(LOG_GUEST, "%s: %s of %" G_GUINT64_FORMAT " bytes at sector %" G_GUINT64_FORMAT " refused",
                 s->dev.id, write ? "write" : "read", bytes, sector);
            break;
        }
        r->len = bytes;
        r->buf = g_malloc(MAX(bytes, 1));
        r->iov = (struct iovec){ r->buf, bytes };
        submit(s, r);
        if (write) {
            virtq_elem_read(m, &r->e, sizeof(hdr), r->buf, bytes);
            block_aio_writev(s->img, sector * SECTOR, &r->iov, 1, aio_done, r);
        } else {
            block_aio_readv(s->img, sector * SECTOR, &r->iov, 1, aio_done, r);
        }
        return true;
    }
    case VIRTIO_BLK_T_FLUSH:
        submit(s, r);
        block_aio_flush(s->img, aio_done, r);
        return true;
    case VIRTIO_BLK_T_GET_ID: {
        char id[BLK_ID_BYTES] = { 0 };
        const char *serial = s->serial && *s->serial ? s->serial : s->drive;
        memcpy(id, serial, MIN(strlen(serial), sizeof(id)));
        size_t n = virtq_elem_write(m, &r->e, 0, id, (size_t)MIN(in_data, (uint64_t)sizeof(id)));
        req_complete(s, r, VIRTIO_BLK_S_OK, (uint32_t)n);
        req_free(r);
        return true;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        /* One segment {sector, num_sectors, flags} (max_discard_seg = 1, §5.2.6). */
        uint8_t seg[16];
        if (out_data != sizeof(seg)) {
            req_complete(s, r, VIRTIO_BLK_S_UNSUPP, 0);
            req_free(r);
            return true;
        }
        virtq_elem_read(m, &r->e, sizeof(hdr), seg, sizeof(seg));
        uint64_t start = (uint64_t)pci_get_long(seg, 0) | (uint64_t)pci_get_long(seg, 4) << 32;
        uint32_t count = pci_get_long(seg, 8), flags = pci_get_long(seg, 12);
        bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
        if (flags & ~(uint32_t)(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0)) {
            req_complete(s, r, VIRTIO_BLK_S_UNSUPP, 0);
            req_free(r);
            return true;
        }
        if (s->read_only || !range_ok(s, start, (uint64_t)count * SECTOR))
            break;
        submit(s, r);
        if (zeroes)
            block_aio_write_zeroes(s->img, start * SECTOR, (uint64_t)count * SECTOR,
                                   flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, aio_done, r);
        else
            block_aio_discard(s->img, start * SECTOR, (uint64_t)count * SECTOR, aio_done, r);
        return true;
    }
    default:
        req_complete(s, r, VIRTIO_BLK_S_UNSUPP, 0);
        req_free(r);
        return true;
    }
    req_complete(s, r, VIRTIO_BLK_S_IOERR, 0);
    req_free(r);
    return true;
}

static void blk_process(VirtioBlkState *s)
{
    for (;;) {
        BlkReq *r = g_new0(BlkReq, 1);
        r->s = s;
        r->gen = s->gen;
        virtq_elem_init(&r->e);
        if (!virtio_pci_pop(&s->vp, 0, &r->e)) {
            req_free(r);
            return;
        }
        if (!blk_start(s, r))
            return;
    }
}

static void blk_notify(VirtioPci *vp, unsigned q)
{
    (void)q;
    VirtioBlkState *s = vp->opaque;
    if (!s->draining)
        blk_process(s);
}

static void blk_kick(void *opaque)
{
    VirtioBlkState *s = opaque;
    if (virtio_pci_queue_ready(&s->vp, 0))
        blk_process(s);
}

/* Device configuration (§5.2.4), little-endian. */
static void blk_config_read(VirtioPci *vp, uint8_t *c)
{
    VirtioBlkState *s = vp->opaque;
    memset(c, 0, BLK_CONFIG_LEN);
    pci_set_long(c, 0, (uint32_t)s->sectors);           /* capacity */
    pci_set_long(c, 4, (uint32_t)(s->sectors >> 32));
    pci_set_long(c, 8, BLK_SIZE_MAX);                    /* size_max */
    pci_set_long(c, 12, BLK_SEG_MAX);                    /* seg_max */
    pci_set_long(c, 20, SECTOR);                         /* blk_size */
    c[32] = 1;                                           /* writeback */
    pci_set_word(c, 34, 1);                              /* num_queues */
    pci_set_long(c, 36, UINT32_MAX / SECTOR);            /* max_discard_sectors */
    pci_set_long(c, 40, 1);                              /* max_discard_seg */
    pci_set_long(c, 44, s->discard_align);               /* discard_sector_alignment */
    pci_set_long(c, 48, UINT32_MAX / SECTOR);            /* max_write_zeroes_sectors */
    pci_set_long(c, 52, 1);                              /* max_write_zeroes_seg */
    c[56] = 1;                                           /* write_zeroes_may_unmap */
}

static void blk_vreset(VirtioPci *vp)
{
    VirtioBlkState *s = vp->opaque;
    /* Requests in flight finish in the block layer; their results are dropped. */
    s->gen++;
    if (s->kick)
        vtimer_del(s->kick);
}

static const VirtioDeviceInfo blk_info = {
    .name = "virtio-blk-pci",
    .pci_device_id = 0x1001,
    .virtio_type = 2,
    .pci_class = 0x010000,
    .config_len = BLK_CONFIG_LEN,
    .queue_notify = blk_notify,
    .config_read = blk_config_read,
    .reset = blk_vreset,
};

static bool blk_realize(Device *dev, GError **err)
{
    VirtioBlkState *s = (VirtioBlkState *)dev;
    const DriveConfig *dc = NULL;
    s->img = drive_open_by_id(dev, "virtio-blk-pci", s->drive, &s->read_only, &dc, err);
    if (!s->img)
        return false;
    s->sectors = block_size(s->img) / SECTOR;
    if (!s->sectors) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "drive %s: image %s is smaller than one sector",
                    s->drive, dc->file);
        block_close(s->img, NULL);
        s->img = NULL;
        return false;
    }
    BlockImageInfo bi;
    s->discard_align = 8;
    if (block_get_info(s->img, &bi, NULL)) {
        if (bi.cluster_size >= 4096 && bi.cluster_size / SECTOR <= UINT32_MAX)
            s->discard_align = (uint32_t)(bi.cluster_size / SECTOR);
        g_free(bi.full_backing_filename);
    }
    uint64_t features = UINT64_C(1) << VIRTIO_BLK_F_SIZE_MAX | UINT64_C(1) << VIRTIO_BLK_F_SEG_MAX |
                        UINT64_C(1) << VIRTIO_BLK_F_BLK_SIZE | UINT64_C(1) << VIRTIO_BLK_F_FLUSH;
    if (s->read_only)
        features |= UINT64_C(1) << VIRTIO_BLK_F_RO;
    else
        features |= UINT64_C(1) << VIRTIO_BLK_F_DISCARD | UINT64_C(1) << VIRTIO_BLK_F_WRITE_ZEROES;
    if (!virtio_pci_realize(&s->vp, dev->vm, s->addr, s->disable_modern, &blk_info, features, s, err)) {
        block_close(s->img, NULL);
        s->img = NULL;
        return false;
    }
    virtio_pci_add_queue(&s->vp, BLK_QUEUE_SIZE);
    s->kick = vtimer_new(dev->vm, blk_kick, s);
    return true;
}

static void blk_unrealize(Device *dev)
{
    VirtioBlkState *s = (VirtioBlkState *)dev;
    /* Called without the lock, which completions take: they see a new generation and
     * drop their results while block_close waits for them. */
    vm_lock(dev->vm);
    s->gen++;
    s->draining = true;
    vm_unlock(dev->vm);
    if (s->img) {
        g_autoptr(GError) err = NULL;
        if (!block_close(s->img, &err))
            g_printerr("vireo: %s: %s\n", dev->id, err->message);
    }
    s->img = NULL;
    if (s->kick)
        vtimer_free(s->kick);
    s->kick = NULL;
    virtio_pci_unrealize(&s->vp);
}

static void blk_reset(Device *dev)
{
    virtio_pci_reset(&((VirtioBlkState *)dev)->vp);
}

/* A save waits for requests in flight; their completions take the lock. */
static void blk_drain(Device *dev)
{
    VirtioBlkState *s = (VirtioBlkState *)dev;
    s->draining = true;
    while (s->inflight && s->img) {
        vm_unlock(dev->vm);
        block_drain(s->img);
        vm_lock(dev->vm);
    }
    s->draining = false;
    if (virtio_pci_queue_ready(&s->vp, 0))
        vtimer_mod(s->kick, vm_clock_ns(dev->vm));
}

static void blk_for_each_image(Device *dev, DeviceImageFn fn, void *opaque)
{
    VirtioBlkState *s = (VirtioBlkState *)dev;
    if (s->img)
        fn(opaque, s->drive, s->img, !s->read_only);
}

static bool blk_swap_image(Device *dev, const char *drive, BlockImage *img, BlockImage **old)
{
    VirtioBlkState *s = (VirtioBlkState *)dev;
    if (strcmp(drive, s->drive))
        return false;
    *old = s->img;
    s->img = img;
    return true;
}

static bool blk_check(const void *state, GError **err)
{
    return virtio_pci_state_check(&((const VirtioBlkState *)state)->vp, err);
}

static void blk_post_load(void *state)
{
    VirtioBlkState *s = state;
    virtio_pci_post_load(&s->vp);
    /* Requests of the old timeline are not this state's; what the loaded ring holds
     * beyond last_avail_idx is taken once the VM runs. */
    s->gen++;
    if (virtio_pci_queue_ready(&s->vp, 0))
        vtimer_mod(s->kick, vm_clock_ns(s->dev.vm));
}

static const VmStateField blk_fields[] = {
    VMSTATE_STRUCT(VirtioBlkState, vp, VirtioPci, &virtio_pci_vmsd),
    VMSTATE_END,
};

static const VmStateDesc blk_vmsd = {
    .name = "virtio-blk-pci",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = blk_fields,
    .check = blk_check,
    .post_load = blk_post_load,
};

static const DeviceProp blk_props[] = {
    PCI_DEVICE_PROP_ADDR(VirtioBlkState, addr),
    VIRTIO_PCI_PROP_DISABLE_MODERN(VirtioBlkState, disable_modern),
    { "drive", DEVICE_PROP_STRING, offsetof(VirtioBlkState, drive), "id of a -drive if=none", NULL, 0, 0,
      NULL },
    { "serial", DEVICE_PROP_STRING, offsetof(VirtioBlkState, serial),
      "the disk's serial number, up to 20 characters (default: the drive's id)", NULL, 0, 0, NULL },
    { NULL },
};

static const DeviceClass blk_class = {
    .name = "virtio-blk-pci",
    .description = "virtio block device (PCI 1af4:1001) on a -drive if=none",
    .instance_size = sizeof(VirtioBlkState),
    .user_creatable = true,
    .props = blk_props,
    .vmsd = &blk_vmsd,
    .realize = blk_realize,
    .reset = blk_reset,
    .unrealize = blk_unrealize,
    .drain = blk_drain,
    .for_each_image = blk_for_each_image,
    .swap_image = blk_swap_image,
};

static void __attribute__((constructor)) blk_register(void)
{
    device_class_register(&blk_class);
}
