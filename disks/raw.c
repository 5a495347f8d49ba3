/* SPDX-License-Identifier: GPL-2.0-or-later */
/* raw: the guest disk is the host file or block device, byte for byte. */
#include "disks/block-internal.h"

#include <string.h>

static bool raw_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    return host_file_size(img->file, &img->size, err);
}

static void raw_close(BlockImage *img)
{
    host_file_close(img->file);
    img->file = NULL;
}

static bool raw_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    return host_file_pread_zero_fill(img->file, offset, buf, len, err);
}

/* A probed raw image whose first sector comes to look like another format would be
 * opened as that format next time: a vmdk descriptor naming a host file as its extent
 * would hand that file to the guest (QEMU's CVE-2008-2004). Such writes are refused, as
 * QEMU refuses them. The sector as it would be after the write is probed, so a write
 * of part of it cannot complete a magic either. */
static bool raw_write_changes_probe(BlockImage *img, uint64_t offset, const void *buf,
                                    size_t len, bool *changes, GError **err)
{
    *changes = false;
    if (!img->probed_raw || offset >= BLOCK_PROBE_BYTES)
        return true;
    uint8_t sector[BLOCK_PROBE_BYTES];
    if (!host_file_pread_zero_fill(img->file, 0, sector, sizeof(sector), err))
        return false;
    size_t n = MIN(len, sizeof(sector) - (size_t)offset);
    memcpy(sector + offset, buf, n);
    *changes = strcmp(block_probe_bytes(sector, sizeof(sector)), "raw") != 0;
    return true;
}

static bool raw_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len,
                       GError **err)
{
    bool changes;
    if (!raw_write_changes_probe(img, offset, buf, len, &changes, err))
        return false;
    if (changes) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: refusing to write an image header into a raw image whose format was "
                    "probed; open it with an explicit format raw", img->filename);
        return false;
    }
    return host_file_pwrite(img->file, offset, buf, len, err);
}

static bool raw_flush(BlockImage *img, GError **err)
{
    return host_file_flush(img->file, err);
}

static bool raw_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    return host_file_discard(img->file, offset, len, NULL, err);
}

static bool raw_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                             GError **err)
{
    return host_file_write_zeroes(img->file, offset, len, may_unmap, err);
}

static bool raw_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc,
                         bool allow_shrink, GError **err)
{
    if (prealloc == BLOCK_PREALLOC_METADATA) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "raw images have no metadata to preallocate; use falloc or full");
        return false;
    }
    if (size < img->size && !allow_shrink) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Use the --shrink option to perform a shrink operation.");
        return false;
    }
    uint64_t old = img->size;
    if (img->file->is_block_device) {
        uint64_t dev;
        if (!host_file_size(img->file, &dev, err))
            return false;
        if (size != dev) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: a block device keeps its size of %" PRIu64 " bytes",
                        img->filename, dev);
            return false;
        }
        return true;
    }
    if (!host_file_truncate(img->file, size, err))
        return false;
    if (size > old && prealloc != BLOCK_PREALLOC_OFF &&
        !host_file_preallocate(img->file, old, size - old, prealloc == BLOCK_PREALLOC_FULL, err))
        return false;
    img->size = size;
    return true;
}

static bool raw_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                           GError **err)
{
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

static void raw_get_info(BlockImage *img, BlockImageInfo *info)
{
    info->cluster_size = 0;
}

const BlockDriver block_driver_raw = {
    .name = "raw",
    .open = raw_open,
    .close = raw_close,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .truncate = raw_truncate,
    .get_status = raw_get_status,
    .get_info = raw_get_info,
};
