/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The block layer: one interface for every disk image format (raw, qcow2; vmdk, vdi, vpc and
 * vhdx read-only, for importing disks of other products).
 *
 * Synchronous calls serve tools (vireo-img) and run on the caller's thread.
 * Asynchronous requests (block_aio_*) are served by a small shared thread pool; their
 * completion callback runs on a pool thread, so a device may take the engine lock there
 * but must never wait for a request while holding it. */
#pragma once

#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLOCK_ERROR block_error_quark()
GQuark block_error_quark(void);

typedef enum {
    BLOCK_ERROR_FAILED,      /* anything not covered below */
    BLOCK_ERROR_IO,          /* the host file or device reported an error */
    BLOCK_ERROR_NO_SPACE,    /* the host file system is full */
    BLOCK_ERROR_NOT_FOUND,   /* an image, backing file or snapshot does not exist */
    BLOCK_ERROR_INVALID,     /* a bad argument or option from the caller */
    BLOCK_ERROR_CORRUPT,     /* on-disk data contradicts the format */
    BLOCK_ERROR_UNSUPPORTED, /* a valid image uses a feature Vireo does not implement */
    BLOCK_ERROR_READ_ONLY,   /* a write to an image opened read-only */
    BLOCK_ERROR_LOCKED,      /* another process (Vireo or QEMU) holds the image */
    BLOCK_ERROR_CANCELLED,   /* the caller asked a long operation to stop */
} BlockError;

typedef struct BlockImage BlockImage;

/* How the host page cache is used, with qemu-img's names. */
typedef enum {
    BLOCK_CACHE_WRITEBACK,    /* page cache; flush reaches the disk (default) */
    BLOCK_CACHE_NONE,         /* O_DIRECT; flush reaches the disk */
    BLOCK_CACHE_WRITETHROUGH, /* page cache; every write is flushed before it completes */
    BLOCK_CACHE_DIRECTSYNC,   /* O_DIRECT and every write flushed */
    BLOCK_CACHE_UNSAFE,       /* page cache; flushes are ignored (scratch images only) */
} BlockCacheMode;

/* Parses "none", "writeback", ... into *mode; false for an unknown name. */
bool block_cache_mode_parse(const char *name, BlockCacheMode *mode);

typedef struct BlockOpenOptions {
    bool read_only;
    const char *format;         /* "raw", "qcow2", "vmdk", ...; NULL probes the file */
    /* Overrides the backing file named in the image; "" opens it without one. */
    const char *backing_file;
    const char *backing_format; /* format of backing_file; NULL probes */
    bool no_backing;            /* do not open the backing chain at all */
    BlockCacheMode cache;
    bool check_mode;            /* for check: open a dirty or corrupt image without repairing it */
    uint64_t l2_cache_bytes;    /* qcow2 L2 cache size; 0 picks QEMU's default */
    /* Images are locked as QEMU locks them, so Vireo and QEMU never both write one, nor
     * read one another writes. no_locking (QEMU's file.locking=off) takes no locks;
     * force_share (qemu-img -U) opens read-only and lets writers be. Both apply to the
     * backing chain too. */
    bool no_locking;
    bool force_share;
    /* The backing chain lets a writer in: commit writes into a backing file through a
     * second handle while the chain reads it. */
    bool backing_shares_write;
} BlockOpenOptions;

BlockImage *block_open(const char *filename, const BlockOpenOptions *opts, GError **err);

/* Opens filename read-only under a throw-away qcow2 overlay, an unlinked file in
 * $TMPDIR: the guest writes to the overlay and they vanish on close (-snapshot). */
BlockImage *block_open_with_temp_overlay(const char *filename, const BlockOpenOptions *opts,
                                         GError **err);

/* Waits for requests in flight, flushes, and frees. Returns the flush result; err may
 * be NULL. The image is closed either way. */
bool block_close(BlockImage *img, GError **err);

uint64_t block_size(BlockImage *img);
const char *block_format_name(BlockImage *img);
const char *block_filename(BlockImage *img);
bool block_is_read_only(BlockImage *img);
/* The next image down the backing chain, or NULL. */
BlockImage *block_backing(BlockImage *img);

bool block_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err);
bool block_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len, GError **err);
bool block_flush(BlockImage *img, GError **err);
/* The range's content becomes undefined (it reads as zeros where the format can say so)
 * and the host may reclaim its space. Parts smaller than a cluster may be ignored. */
bool block_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err);
/* The range reads as zeros afterwards; may_unmap lets the host space be released. */
bool block_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                        GError **err);

typedef enum {
    BLOCK_PREALLOC_OFF,
    BLOCK_PREALLOC_METADATA,
    BLOCK_PREALLOC_FALLOC,
    BLOCK_PREALLOC_FULL,
} BlockPrealloc;

bool block_prealloc_parse(const char *name, BlockPrealloc *mode);
const char *block_prealloc_name(BlockPrealloc mode);

/* Changes the virtual size. Shrinking loses data past the end and needs allow_shrink. */
bool block_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc, bool allow_shrink,
                    GError **err);

/* Allocation status of [offset, offset + length) in one image of a chain. */
typedef struct BlockStatus {
    uint64_t length;       /* bytes from offset that share this status (> 0) */
    bool allocated;        /* this layer decides the content (no fall-through to backing) */
    bool data;             /* content is stored (not only known zeros) */
    bool zero;             /* reads as zeros */
    bool compressed;
    bool offset_valid;     /* host_offset says where the bytes are in the layer's file */
    uint64_t host_offset;
    BlockImage *layer;     /* the image that answered */
    unsigned depth;        /* 0 for img itself, 1 for its backing file, ... */
} BlockStatus;

/* Status in img alone: unallocated ranges report allocated = false. */
bool block_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                      GError **err);
/* Status through the chain from img down to (not including) base; base NULL means the
 * whole chain. Ranges allocated nowhere report the bottom layer, zero = true when
 * reading them gives zeros. */
bool block_get_status_above(BlockImage *img, BlockImage *base, uint64_t offset,
                            uint64_t max_len, BlockStatus *st, GError **err);

/* What info prints. Strings belong to the image. */
typedef struct BlockImageInfo {
    const char *filename;
    const char *format;
    uint64_t virtual_size;
    uint64_t actual_size;            /* bytes the host file occupies (st_blocks * 512) */
    uint64_t cluster_size;           /* 0 if the format has none */
    const char *backing_filename;    /* as written in the image, or NULL */
    char *full_backing_filename;     /* resolved path (caller frees), or NULL */
    const char *backing_format;      /* as written in the image, or NULL */
    bool dirty;
} BlockImageInfo;

bool block_get_info(BlockImage *img, BlockImageInfo *info, GError **err);

/* What block_check_tables finds in an image of a format with tables but no refcounts
 * (vmdk, vdi, vpc, vhdx). */
typedef struct BlockCheckResult {
    uint64_t corruptions;           /* table entries outside the file or overlapping others */
    uint64_t total_clusters;        /* the format's blocks (grains) of the virtual disk */
    uint64_t allocated_clusters;
} BlockCheckResult;

/* Receives one line per problem found. */
typedef void (*BlockCheckReportFn)(void *opaque, const char *line);

/* Checks the tables of img's format; fails with BLOCK_ERROR_UNSUPPORTED for a format
 * that has none to check (raw) or its own check (qcow2: qcow2_check). */
bool block_check_tables(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                        void *opaque, GError **err);

/* Resolves a backing file name the way QEMU does: relative names are relative to the
 * directory of the image that names them. */
char *block_resolve_backing_path(const char *image_filename, const char *backing_name);

/* Guesses the format of a file from its first bytes: "qcow2", "vmdk", "vdi", "vpc" (a
 * dynamic VHD; a fixed one has its footer at the end only and probes as raw, as in QEMU),
 * "vhdx" or "raw". Files that carry the magic of a format Vireo cannot read give
 * BLOCK_ERROR_UNSUPPORTED. vmdk, vdi, vpc and vhdx open read-only only. */
bool block_probe_format(const char *filename, const char **format, GError **err);

/* Asynchronous requests ---------------------------------------------------------------*/

/* Called once per request on a pool thread; err is NULL on success and owned by the
 * block layer (copy it to keep it). */
typedef void (*BlockDoneFn)(void *opaque, const GError *err);

/* The iovec array is copied; the buffers it points to must stay valid until done runs. */
void block_aio_readv(BlockImage *img, uint64_t offset, const struct iovec *iov, int iovcnt,
                     BlockDoneFn done, void *opaque);
void block_aio_writev(BlockImage *img, uint64_t offset, const struct iovec *iov, int iovcnt,
                      BlockDoneFn done, void *opaque);
void block_aio_flush(BlockImage *img, BlockDoneFn done, void *opaque);
void block_aio_discard(BlockImage *img, uint64_t offset, uint64_t len, BlockDoneFn done,
                       void *opaque);
void block_aio_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                            BlockDoneFn done, void *opaque);
/* Blocks until every request submitted so far on img has completed. */
void block_drain(BlockImage *img);
/* Number of worker threads of the shared pool (default 8); call before the first request. */
void block_set_pool_threads(unsigned n);
