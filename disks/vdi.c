/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vdi: VirtualBox's disk image, read-only, for importing. Version 1.1 images, normal
 * (dynamic) and fixed; differencing images (snapshots) are refused.
 *
 * The file starts with a 64-byte text line, the signature 0xbeda107f at 64, the version
 * at 68 and the 1.1 header at 72 (little-endian): image type, block map offset, data
 * offset, disk size, block size, block count. The block map holds one 32-bit entry per
 * block of the virtual disk: the index of the block among the data blocks that follow
 * offData, or 0xffffffff (never written: zeros) or 0xfffffffe (discarded: zeros).
 * (VirtualBox's VDICore.h; QEMU's block/vdi.c reads the same fields.) */
#include "disks/block-internal.h"

#include <string.h>

#define VDI_SIGNATURE 0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_TYPE_NORMAL 1
#define VDI_TYPE_FIXED 2
#define VDI_TYPE_UNDO 3
#define VDI_TYPE_DIFF 4
#define VDI_UNALLOCATED 0xffffffffu
#define VDI_DISCARDED 0xfffffffeu
#define VDI_HEADER_END 472

typedef struct VdiState {
    uint32_t type;
    uint32_t block_size;
    uint32_t blocks;
    uint32_t blocks_allocated;      /* as the header says */
    uint64_t map_offset;
    uint64_t data_offset;
    uint64_t file_size;
    uint32_t *map;
} VdiState;

static bool vdi_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    if (!block_ro_refuse_write_open(img, opts, err))
        return false;
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    VdiState *s = g_new0(VdiState, 1);
    img->opaque = s;
    if (!host_file_size(img->file, &s->file_size, err))
        return false;
    uint8_t h[VDI_HEADER_END];
    if (s->file_size < sizeof(h)) {
        block_set_corrupt(err, img, "the file (%" PRIu64 " bytes) is shorter than a VDI header",
                          s->file_size);
        return false;
    }
    if (!host_file_pread(img->file, 0, h, sizeof(h), err))
        return false;
    if (ld_le32(h + 64) != VDI_SIGNATURE) {
        block_set_corrupt(err, img, "no VDI signature at offset 64");
        return false;
    }
    uint32_t version = ld_le32(h + 68);
    if (version != VDI_VERSION_1_1) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: VDI version %u.%u is not supported (only 1.1)", img->filename,
                    version >> 16, version & 0xffff);
        return false;
    }
    s->type = ld_le32(h + 76);
    if (s->type == VDI_TYPE_UNDO || s->type == VDI_TYPE_DIFF) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: a differencing VDI (a VirtualBox snapshot) is not supported; clone it "
                    "into a standalone image first (VBoxManage clonemedium)", img->filename);
        return false;
    }
    if (s->type != VDI_TYPE_NORMAL && s->type != VDI_TYPE_FIXED) {
        block_set_corrupt(err, img, "unknown image type %u", s->type);
        return false;
    }
    s->map_offset = ld_le32(h + 340);
    s->data_offset = ld_le32(h + 344);
    uint32_t sector_size = ld_le32(h + 360);
    uint64_t disk_size = ld_le64(h + 368);
    s->block_size = ld_le32(h + 376);
    uint32_t extra = ld_le32(h + 380);
    s->blocks = ld_le32(h + 384);
    s->blocks_allocated = ld_le32(h + 388);
    if (sector_size != 512) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: VDI sector size %u is not supported (only 512)", img->filename, sector_size);
        return false;
    }
    if (s->block_size < 512 || s->block_size > (256u << 20) ||
        (s->block_size & (s->block_size - 1))) {
        block_set_corrupt(err, img, "block size %u is not a power of two from 512 to 256M",
                          s->block_size);
        return false;
    }
    if (extra != 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: VDI blocks with %u extra bytes are not supported", img->filename, extra);
        return false;
    }
    if (disk_size % 512 || disk_size > (uint64_t)s->blocks * s->block_size) {
        block_set_corrupt(err, img, "disk size %" PRIu64 " is not a whole number of sectors "
                          "covered by %u blocks of %u bytes", disk_size, s->blocks, s->block_size);
        return false;
    }
    if (s->map_offset < VDI_HEADER_END) {
        block_set_corrupt(err, img, "the block map at offset %" PRIu64 " overlaps the header",
                          s->map_offset);
        return false;
    }
    if (s->data_offset < VDI_HEADER_END || s->data_offset > s->file_size) {
        block_set_corrupt(err, img, "data offset %" PRIu64 " lies outside the file", s->data_offset);
        return false;
    }
    s->map = block_table_read(img, img->file, s->file_size, "the block map", s->map_offset,
                              s->blocks, 4, false, err);
    if (!s->map)
        return false;
    img->size = disk_size;
    return true;
}

static void vdi_close(BlockImage *img)
{
    VdiState *s = img->opaque;
    if (s)
        g_free(s->map);
    g_free(s);
    img->opaque = NULL;
    if (img->file)
        host_file_close(img->file);
    img->file = NULL;
}

/* The host offset of block index `entry`, or false if it does not lie inside the file. */
static bool block_host_offset(const VdiState *s, uint32_t entry, uint64_t *off)
{
    if (entry >= s->blocks)
        return false;
    uint64_t o = s->data_offset + (uint64_t)entry * s->block_size;
    if (!block_range_in_file(o, s->block_size, s->file_size))
        return false;
    *off = o;
    return true;
}

static bool vdi_map(BlockImage *img, uint64_t offset, uint64_t max_len, BlockMapping *m,
                    GError **err)
{
    VdiState *s = img->opaque;
    uint64_t index = offset / s->block_size, within = offset % s->block_size;
    m->length = MIN(max_len, s->block_size - within);
    uint32_t entry = s->map[index];
    if (entry == VDI_UNALLOCATED || entry == VDI_DISCARDED) {
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    }
    uint64_t host;
    if (!block_host_offset(s, entry, &host)) {
        block_set_corrupt(err, img, "block %" PRIu64 " is stored as block %u, which does not lie "
                          "inside the file", index, entry);
        return false;
    }
    m->kind = BLOCK_MAP_DATA;
    m->file = img->file;
    m->host_offset = host + within;
    return true;
}

static bool vdi_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    return block_map_pread(img, vdi_map, offset, buf, len, err);
}

static bool vdi_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                           GError **err)
{
    return block_map_get_status(img, vdi_map, offset, max_len, st, err);
}

static void vdi_get_info(BlockImage *img, BlockImageInfo *info)
{
    VdiState *s = img->opaque;
    info->cluster_size = s->block_size;
}

static bool vdi_check(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                      void *opaque, GError **err)
{
    VdiState *s = img->opaque;
    BlockCheckSpace *space = block_check_space_new(s->file_size);
    res->total_clusters = s->blocks;
    for (uint32_t i = 0; i < s->blocks; i++) {
        uint32_t entry = s->map[i];
        if (entry == VDI_UNALLOCATED || entry == VDI_DISCARDED)
            continue;
        res->allocated_clusters++;
        uint64_t host;
        if (!block_host_offset(s, entry, &host) ||
            !block_check_space_use(space, host, s->block_size)) {
            block_check_reportf(report, opaque, "ERROR: block %u is stored as block %u, which "
                                "does not lie inside the file", i, entry);
            res->corruptions++;
        }
    }
    uint64_t overlaps = block_check_space_overlaps(space);
    block_check_space_free(space);
    if (overlaps) {
        block_check_reportf(report, opaque, "ERROR: %" PRIu64 " blocks are stored where another "
                            "block is", overlaps);
        res->corruptions += overlaps;
    }
    if (res->allocated_clusters != s->blocks_allocated) {
        block_check_reportf(report, opaque, "ERROR: the header counts %u allocated blocks, the "
                            "map %" PRIu64, s->blocks_allocated, res->allocated_clusters);
        res->corruptions++;
    }
    return true;
}

const BlockDriver block_driver_vdi = {
    .name = "vdi",
    .open = vdi_open,
    .close = vdi_close,
    .pread = vdi_pread,
    .pwrite = block_ro_pwrite,
    .flush = block_ro_flush,
    .discard = block_ro_discard,
    .write_zeroes = block_ro_write_zeroes,
    .truncate = block_ro_truncate,
    .get_status = vdi_get_status,
    .get_info = vdi_get_info,
    .check = vdi_check,
};
