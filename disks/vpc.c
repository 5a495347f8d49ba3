/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpc: Virtual PC / Hyper-V VHD images, read-only, for importing. Fixed and dynamic
 * disks; differencing disks are refused. Named "vpc" as in QEMU.
 *
 * Microsoft's "Virtual Hard Disk Image Format Specification" (2006), big-endian:
 * a 512-byte footer ends the file ("conectix", disk type, current size, CHS geometry,
 * data offset); a fixed disk is its data followed by the footer. A dynamic disk has a
 * copy of the footer at offset 0, a 1024-byte dynamic header ("cxsparse") at the
 * footer's data offset with the block size and the BAT's place and length, and the BAT:
 * one 32-bit sector number per block, 0xffffffff for a block never written. A stored
 * block is a sector bitmap (one bit per sector, most significant bit first, rounded up
 * to whole sectors) followed by the block's data; a sector whose bit is clear reads as
 * zeros. */
#include "disks/block-internal.h"

#include <string.h>

#define VHD_FIXED 2
#define VHD_DYNAMIC 3
#define VHD_DIFFERENCING 4
#define BAT_UNUSED 0xffffffffu
/* The largest CHS geometry a footer can hold: 65535 cylinders, 16 heads, 255 sectors. */
#define VHD_MAX_GEOMETRY (65535ull * 16 * 255)

typedef struct VpcState {
    uint32_t type;
    uint64_t file_size;
    uint32_t block_size;
    uint32_t bitmap_size;           /* bytes, whole sectors */
    uint32_t entries;
    uint32_t *bat;
} VpcState;

static bool footer_ok(const uint8_t *f)
{
    return !memcmp(f, "conectix", 8);
}

/* Which size a footer means. Virtual PC and QEMU's own older images size the disk by
 * its CHS geometry; Hyper-V, Disk2vhd, XenServer and newer QEMU use the current size
 * field. A geometry at its maximum cannot describe a bigger disk, so the field wins. This
 * is the rule QEMU's vpc driver follows, so both read the same number of sectors. */
static uint64_t footer_size(const uint8_t *f)
{
    uint64_t chs = (uint64_t)ld_be16(f + 56) * f[58] * f[59];
    bool by_chs = !memcmp(f + 28, "vpc ", 4) || !memcmp(f + 28, "qemu", 4);
    if (by_chs && chs != VHD_MAX_GEOMETRY)
        return chs * 512;
    return ld_be64(f + 48);
}

static bool vpc_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    if (!block_ro_refuse_write_open(img, opts, err))
        return false;
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    VpcState *s = g_new0(VpcState, 1);
    img->opaque = s;
    if (!host_file_size(img->file, &s->file_size, err))
        return false;
    if (s->file_size < 512) {
        block_set_corrupt(err, img, "the file is shorter than a VHD footer");
        return false;
    }
    /* The footer at the end is the authoritative one; a dynamic disk's copy at offset 0
     * is used when the end was cut off (as QEMU does). */
    uint8_t f[512];
    if (!host_file_pread(img->file, s->file_size - 512, f, sizeof(f), err))
        return false;
    if (!footer_ok(f)) {
        if (!host_file_pread(img->file, 0, f, sizeof(f), err))
            return false;
        if (!footer_ok(f)) {
            block_set_corrupt(err, img, "no VHD footer (\"conectix\") at the end or the start");
            return false;
        }
    }
    s->type = ld_be32(f + 60);
    if (s->type == VHD_DIFFERENCING) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: a differencing VHD (a child of another disk) is not supported; merge "
                    "it into its parent first", img->filename);
        return false;
    }
    if (s->type != VHD_FIXED && s->type != VHD_DYNAMIC) {
        block_set_corrupt(err, img, "unknown disk type %u", s->type);
        return false;
    }
    uint64_t size = footer_size(f) & ~511ull;
    if (s->type == VHD_FIXED) {
        if (size > s->file_size - 512) {
            block_set_corrupt(err, img, "the fixed disk's %" PRIu64 " bytes do not fit in the "
                              "%" PRIu64 "-byte file", size, s->file_size);
            return false;
        }
        img->size = size;
        return true;
    }
    uint64_t dyn_off = ld_be64(f + 16);
    uint8_t d[1024];
    if (dyn_off > s->file_size || sizeof(d) > s->file_size - dyn_off) {
        block_set_corrupt(err, img, "the dynamic header offset %" PRIu64 " lies outside the file",
                          dyn_off);
        return false;
    }
    if (!host_file_pread(img->file, dyn_off, d, sizeof(d), err))
        return false;
    if (memcmp(d, "cxsparse", 8)) {
        block_set_corrupt(err, img, "no dynamic disk header (\"cxsparse\") at offset %" PRIu64,
                          dyn_off);
        return false;
    }
    uint64_t bat_off = ld_be64(d + 16);
    s->entries = ld_be32(d + 28);
    s->block_size = ld_be32(d + 32);
    if (s->block_size < 512 || s->block_size > (256u << 20) ||
        (s->block_size & (s->block_size - 1))) {
        block_set_corrupt(err, img, "block size %u is not a power of two from 512 to 256M",
                          s->block_size);
        return false;
    }
    s->bitmap_size = ((s->block_size / 512 + 7) / 8 + 511) & ~511u;
    if ((uint64_t)s->entries * s->block_size < size) {
        block_set_corrupt(err, img, "the BAT's %u blocks of %u bytes do not cover the disk's "
                          "%" PRIu64 " bytes", s->entries, s->block_size, size);
        return false;
    }
    s->bat = block_table_read(img, img->file, s->file_size, "the BAT", bat_off, s->entries, 4,
                              true, err);
    if (!s->bat)
        return false;
    img->size = size;
    return true;
}

static void vpc_close(BlockImage *img)
{
    VpcState *s = img->opaque;
    if (s)
        g_free(s->bat);
    g_free(s);
    img->opaque = NULL;
    if (img->file)
        host_file_close(img->file);
    img->file = NULL;
}

/* Where block i's bitmap starts, if the bitmap and block lie inside the file. */
static bool block_in_file(const VpcState *s, uint32_t entry, uint64_t *bitmap_off)
{
    uint64_t o = (uint64_t)entry * 512, len = (uint64_t)s->bitmap_size + s->block_size;
    if (!block_range_in_file(o, len, s->file_size))
        return false;
    *bitmap_off = o;
    return true;
}

static bool vpc_map(BlockImage *img, uint64_t offset, uint64_t max_len, BlockMapping *m,
                    GError **err)
{
    VpcState *s = img->opaque;
    if (s->type == VHD_FIXED) {
        m->kind = BLOCK_MAP_DATA;
        m->length = max_len;
        m->file = img->file;
        m->host_offset = offset;
        return true;
    }
    uint64_t index = offset / s->block_size, within = offset % s->block_size;
    m->length = MIN(max_len, s->block_size - within);
    uint32_t entry = s->bat[index];
    if (entry == BAT_UNUSED) {
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    }
    uint64_t bitmap_off;
    if (!block_in_file(s, entry, &bitmap_off)) {
        block_set_corrupt(err, img, "block %" PRIu64 " at sector %u does not lie inside the file",
                          index, entry);
        return false;
    }
    /* The run ends where the sector bitmap changes between set and clear. */
    uint32_t first = (uint32_t)(within / 512);
    uint32_t last = (uint32_t)((within + m->length - 1) / 512);
    uint8_t bits[512];
    uint32_t have_from = UINT32_MAX;
    bool present = false;
    for (uint32_t sec = first; sec <= last; sec++) {
        uint32_t byte = sec / 8;
        if (have_from == UINT32_MAX || byte < have_from || byte >= have_from + sizeof(bits)) {
            have_from = byte & ~511u;
            if (!host_file_pread(img->file, bitmap_off + have_from, bits, sizeof(bits), err))
                return false;
        }
        bool set = bits[byte - have_from] & (0x80 >> (sec % 8));
        if (sec == first) {
            present = set;
        } else if (set != present) {
            m->length = (uint64_t)sec * 512 - within;
            break;
        }
    }
    if (!present) {
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    }
    m->kind = BLOCK_MAP_DATA;
    m->file = img->file;
    m->host_offset = bitmap_off + s->bitmap_size + within;
    return true;
}

static bool vpc_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    return block_map_pread(img, vpc_map, offset, buf, len, err);
}

static bool vpc_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                           GError **err)
{
    VpcState *s = img->opaque;
    if (s->type == VHD_FIXED) {
        /* Holes in the host file show through, as for raw. */
        bool is_data;
        uint64_t len;
        if (!host_file_data_status(img->file, offset, max_len, &is_data, &len, err))
            return false;
        st->length = len;
        st->allocated = true;
        st->data = is_data;
        st->zero = !is_data;
        st->offset_valid = true;
        st->host_offset = offset;
        return true;
    }
    return block_map_get_status(img, vpc_map, offset, max_len, st, err);
}

static void vpc_get_info(BlockImage *img, BlockImageInfo *info)
{
    VpcState *s = img->opaque;
    info->cluster_size = s->type == VHD_DYNAMIC ? s->block_size : 0;
}

static bool vpc_check(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                      void *opaque, GError **err)
{
    VpcState *s = img->opaque;
    if (s->type == VHD_FIXED) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "This image format does not support checks (a fixed VHD has no tables)");
        return false;
    }
    BlockCheckSpace *space = block_check_space_new(s->file_size - 512);
    res->total_clusters = (img->size + s->block_size - 1) / s->block_size;
    for (uint32_t i = 0; i < s->entries; i++) {
        if (s->bat[i] == BAT_UNUSED)
            continue;
        res->allocated_clusters++;
        uint64_t off;
        if (!block_in_file(s, s->bat[i], &off) ||
            !block_check_space_use(space, off, (uint64_t)s->bitmap_size + s->block_size)) {
            block_check_reportf(report, opaque, "ERROR: block %u at sector %u does not lie inside "
                                "the file", i, s->bat[i]);
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
    return true;
}

const BlockDriver block_driver_vpc = {
    .name = "vpc",
    .open = vpc_open,
    .close = vpc_close,
    .pread = vpc_pread,
    .pwrite = block_ro_pwrite,
    .flush = block_ro_flush,
    .discard = block_ro_discard,
    .write_zeroes = block_ro_write_zeroes,
    .truncate = block_ro_truncate,
    .get_status = vpc_get_status,
    .get_info = vpc_get_info,
    .check = vpc_check,
};
