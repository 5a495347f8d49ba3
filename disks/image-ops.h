/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-image operations behind vireo-img: create, convert, commit, rebase, resize, map,
 * compare, measure and bench. Each mirrors the qemu-img verb of the same name. */
#pragma once

#include "disks/block.h"
#include "disks/qcow2.h"

/* Called with the fraction done, 0..100. */
typedef void (*ImageProgressFn)(void *opaque, double percent);

/* Parses a size the way qemu-img does: a number with an optional k, M, G, T, P or E
 * suffix (powers of 1024), "b" for bytes; fractions allowed with a suffix ("1.5G"). */
bool image_parse_size(const char *text, uint64_t *size);

typedef struct ImageCreateOptions {
    const char *format;             /* "qcow2" or "raw" */
    uint64_t size;
    bool size_given;                /* without it, the size comes from the backing file */
    const char *backing_file;
    const char *backing_format;     /* NULL probes the backing file */
    bool unsafe_backing;            /* -u: do not open the backing file */
    uint32_t cluster_size;
    unsigned refcount_bits;
    Qcow2CompressionType compression_type;
    BlockPrealloc prealloc;
} ImageCreateOptions;

bool image_create(const char *filename, const ImageCreateOptions *o, GError **err);

typedef struct ImageConvertOptions {
    const char *src_format;         /* NULL probes */
    ImageCreateOptions target;      /* format, cluster size, ... of the new image */
    bool compress;                  /* -c: qcow2 target clusters compressed */
    bool skip_create;               /* -n: write into an existing image */
    uint64_t sparse_size;           /* -S: zero runs this long are not written; 0 writes all */
    bool sparse_size_given;
    BlockCacheMode src_cache;
    bool src_force_share;           /* -U: read the source even while another writes it */
    BlockCacheMode dst_cache;
    ImageProgressFn progress;
    void *progress_opaque;
    /* Set (g_atomic_int_set) from any thread: the copy stops with BLOCK_ERROR_CANCELLED
     * and the new image is left as far as it got, for the caller to delete. */
    const gint *cancel;
} ImageConvertOptions;

bool image_convert(const char *src, const char *dst, const ImageConvertOptions *o,
                   GError **err);

/* Copies what filename holds above base (default: its backing file) into base, then
 * empties filename unless drop is set (-d) or base is deeper than the backing file. */
bool image_commit(const char *filename, const char *format, const char *base, bool drop,
                  BlockCacheMode cache, ImageProgressFn progress, void *opaque, GError **err);

/* Points filename at a new backing file ("" for none). Safe mode copies into filename
 * every cluster whose content would change; unsafe only rewrites the header. */
bool image_rebase(const char *filename, const char *format, const char *backing,
                  const char *backing_format, bool unsafe, BlockCacheMode cache,
                  BlockCacheMode src_cache, ImageProgressFn progress, void *opaque,
                  GError **err);

typedef struct ImageMapEntry {
    uint64_t start;
    uint64_t length;
    unsigned depth;
    bool present;
    bool zero;
    bool data;
    bool offset_valid;
    uint64_t offset;
    const char *filename;           /* the layer that holds the range */
} ImageMapEntry;

typedef void (*ImageMapFn)(void *opaque, const ImageMapEntry *entry);

/* Reports the allocation of [start, start + length) through the whole chain, merging
 * neighbours with the same status, as qemu-img map does. */
bool image_map(BlockImage *img, uint64_t start, uint64_t length, ImageMapFn fn, void *opaque,
               GError **err);

typedef enum {
    IMAGE_COMPARE_SAME = 0,
    IMAGE_COMPARE_DIFFERENT = 1,
    IMAGE_COMPARE_OPEN_ERROR = 2,
    IMAGE_COMPARE_STATUS_ERROR = 3,
    IMAGE_COMPARE_READ_ERROR = 4,
} ImageCompareResult;

/* Compares guest-visible content. *message receives qemu-img's verdict line. */
ImageCompareResult image_compare(const char *file1, const char *fmt1, const char *file2,
                                 const char *fmt2, bool strict, BlockCacheMode cache,
                                 bool force_share, ImageProgressFn progress, void *opaque,
                                 char **message, GError **err);

typedef struct ImageMeasure {
    uint64_t required;
    uint64_t fully_allocated;
    bool has_bitmaps;               /* both source and target could carry bitmaps */
    uint64_t bitmaps;
} ImageMeasure;

/* Size of a new image in out_format: of an empty one of size bytes (filename NULL), or
 * of a conversion of filename. */
bool image_measure(const char *filename, const char *format, bool force_share, uint64_t size,
                   const ImageCreateOptions *target, ImageMeasure *m, GError **err);

typedef struct ImageBenchOptions {
    const char *format;
    unsigned count;                 /* requests (default 75000) */
    unsigned depth;                 /* in flight at once (default 64) */
    uint64_t offset;                /* first request */
    size_t bufsize;                 /* bytes per request (default 4096) */
    uint64_t step;                  /* offset increment; 0 means bufsize */
    bool write;
    uint8_t pattern;
    unsigned flush_interval;        /* write requests between flushes; 0 never */
    bool no_drain;                  /* flush without waiting for requests in flight */
    BlockCacheMode cache;
    bool force_share;               /* -U, read tests only */
} ImageBenchOptions;

/* Runs the requests through the asynchronous interface; *seconds is the wall time. */
bool image_bench(const char *filename, const ImageBenchOptions *o, double *seconds,
                 GError **err);
