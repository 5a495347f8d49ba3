/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a format driver sees of the block layer. Not for code outside disks/. */
#pragma once

#include "disks/block.h"
#include "disks/hostfile.h"

typedef struct BlockDriver {
    const char *name;
    /* img->filename, read_only and cache are set; open sets img->file, img->size and,
     * for formats with backing files, img->backing_name and img->backing_format. */
    bool (*open)(BlockImage *img, const BlockOpenOptions *opts, GError **err);
    void (*close)(BlockImage *img);
    /* Requests arrive bounds-checked against img->size. */
    bool (*pread)(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err);
    bool (*pwrite)(BlockImage *img, uint64_t offset, const void *buf, size_t len, GError **err);
    bool (*flush)(BlockImage *img, GError **err);
    bool (*discard)(BlockImage *img, uint64_t offset, uint64_t len, GError **err);
    bool (*write_zeroes)(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                         GError **err);
    bool (*truncate)(BlockImage *img, uint64_t size, BlockPrealloc prealloc, bool allow_shrink,
                     GError **err);
    bool (*get_status)(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                       GError **err);
    void (*get_info)(BlockImage *img, BlockImageInfo *info);
} BlockDriver;

struct BlockImage {
    const BlockDriver *drv;
    char *filename;
    bool read_only;
    bool probed_raw;        /* raw chosen by probing: refuse writes that would change that */
    BlockCacheMode cache;
    HostLockMode lock;
    uint64_t size;          /* virtual size in bytes */
    HostFile *file;
    void *opaque;           /* the driver's state */
    BlockImage *backing;
    char *backing_name;     /* as written in the image */
    char *backing_format;   /* as written in the image, or NULL */

    GMutex aio_lock;
    GCond aio_cond;
    unsigned aio_in_flight;
};

extern const BlockDriver block_driver_raw;
extern const BlockDriver block_driver_qcow2;

/* Opens img's host file with the flags its cache mode asks for, locked as img->lock says. */
HostFile *block_open_host_file(BlockImage *img, GError **err);

/* Reads from img's backing chain as the bottom of img sees it: zeros where there is no
 * backing file or past its end. */
bool block_read_backing(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err);
