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
    /* Optional: checks the format's tables (block_check_tables); NULL if it has none. */
    bool (*check)(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                  void *opaque, GError **err);
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
/* Read-only drivers for images of other products (import). */
extern const BlockDriver block_driver_vmdk;
extern const BlockDriver block_driver_vdi;
extern const BlockDriver block_driver_vpc;
extern const BlockDriver block_driver_vhdx;

/* The format the first BLOCK_PROBE_BYTES of a file name ("raw" when none matches; also
 * "qcow" and "qed", which Vireo refuses). */
#define BLOCK_PROBE_BYTES 512
const char *block_probe_bytes(const uint8_t *buf, size_t len);

/* Opens img's host file with the flags its cache mode asks for, locked as img->lock says. */
HostFile *block_open_host_file(BlockImage *img, GError **err);

/* Reads from img's backing chain as the bottom of img sees it: zeros where there is no
 * backing file or past its end. */
bool block_read_backing(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err);

/* Read-only foreign formats ------------------------------------------------------------*/

static inline uint16_t ld_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ld_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ld_le64(const uint8_t *p) { return ld_le32(p) | (uint64_t)ld_le32(p + 4) << 32; }
static inline uint16_t ld_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t ld_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t ld_be64(const uint8_t *p) { return (uint64_t)ld_be32(p) << 32 | ld_be32(p + 4); }

/* CRC-32C (Castagnoli), as VHDX checksums its headers and tables. */
uint32_t block_crc32c(uint32_t crc, const void *buf, size_t len);

/* Where the guest bytes at an offset of a foreign image live. */
typedef enum {
    BLOCK_MAP_UNALLOCATED,  /* nothing stored: reads as zeros (no backing files here) */
    BLOCK_MAP_ZERO,         /* the format says "zeros" explicitly */
    BLOCK_MAP_DATA,         /* stored at file + host_offset */
    BLOCK_MAP_COMPRESSED,   /* a compressed unit; only the driver can read it */
} BlockMapKind;

typedef struct BlockMapping {
    BlockMapKind kind;
    uint64_t length;        /* bytes from the asked offset mapped the same way (> 0) */
    HostFile *file;
    uint64_t host_offset;
} BlockMapping;

/* Maps [offset, offset + max_len) (within img->size) to its first run. It must have
 * checked that a DATA run lies within its file. Called on any thread at once. */
typedef bool (*BlockMapFn)(BlockImage *img, uint64_t offset, uint64_t max_len, BlockMapping *m,
                           GError **err);

/* pread and get_status for a driver that has a map function. */
bool block_map_pread(BlockImage *img, BlockMapFn map, uint64_t offset, void *buf, size_t len,
                     GError **err);
bool block_map_get_status(BlockImage *img, BlockMapFn map, uint64_t offset, uint64_t max_len,
                          BlockStatus *st, GError **err);

/* Open: refuses a writable open of a read-only format in one line. */
bool block_ro_refuse_write_open(BlockImage *img, const BlockOpenOptions *opts, GError **err);
/* Refuse writes, resizes and discards; flush has nothing to do. */
bool block_ro_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len, GError **err);
bool block_ro_flush(BlockImage *img, GError **err);
bool block_ro_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err);
bool block_ro_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                           GError **err);
bool block_ro_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc, bool allow_shrink,
                       GError **err);

/* For check: the ranges of a file that table entries use. use() is false for a range
 * that does not lie inside the file (and does not note it). */
typedef struct BlockCheckSpace BlockCheckSpace;
BlockCheckSpace *block_check_space_new(uint64_t file_size);
void block_check_space_free(BlockCheckSpace *s);
bool block_check_space_use(BlockCheckSpace *s, uint64_t offset, uint64_t len);
/* How many of the ranges used overlap another. */
uint64_t block_check_space_overlaps(BlockCheckSpace *s);
/* True when [offset, offset + len) lies inside a file of file_size bytes (no overflow). */
static inline bool block_range_in_file(uint64_t offset, uint64_t len, uint64_t file_size)
{
    return len <= file_size && offset <= file_size - len;
}
/* Reads a table of `count` entries of 4 or 8 bytes at `offset` of `file` (file_size bytes)
 * into a new buffer in host byte order, after checking it lies inside the file; NULL
 * with a one-line error naming `what` ("the BAT") otherwise. Free with g_free. */
void *block_table_read(BlockImage *img, HostFile *file, uint64_t file_size, const char *what,
                       uint64_t offset, uint64_t count, unsigned entry_size, bool big_endian,
                       GError **err);
/* A check's report line, printf-style. */
void block_check_reportf(BlockCheckReportFn report, void *opaque, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* Sets a GError with "%s: corrupt image: " + the message, prefixed by the file name. */
void block_set_corrupt(GError **err, BlockImage *img, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
