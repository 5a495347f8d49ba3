/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qcow2 beyond the common block interface: creation, consistency checks and internal
 * snapshots. On-disk format: QEMU's docs/interop/qcow2.txt. */
#pragma once

#include "disks/block.h"

typedef enum {
    QCOW2_COMPRESSION_ZLIB = 0,
    QCOW2_COMPRESSION_ZSTD = 1,
} Qcow2CompressionType;

typedef struct Qcow2CreateOptions {
    uint64_t size;                  /* virtual size in bytes */
    uint32_t cluster_size;          /* 512 B .. 2 MiB, a power of two; 0 means 64 KiB */
    unsigned refcount_bits;         /* 1, 2, 4, ... 64; 0 means 16 */
    Qcow2CompressionType compression_type;
    BlockPrealloc prealloc;
    const char *backing_file;       /* written into the header as given, or NULL */
    const char *backing_format;     /* written as a header extension, or NULL */
} Qcow2CreateOptions;

/* Creates (or truncates) filename as an empty qcow2 version 3 image. */
bool qcow2_create(const char *filename, const Qcow2CreateOptions *opts, GError **err);

/* Parses qemu-img's names "zlib" and "zstd". */
bool qcow2_compression_type_parse(const char *name, Qcow2CompressionType *type);

/* File size of a fully allocated image with these parameters (QEMU's formula for
 * measure and preallocation), metadata included. */
uint64_t qcow2_fully_allocated_size(uint64_t virtual_size, uint32_t cluster_size,
                                    unsigned refcount_bits);

typedef struct Qcow2FormatInfo {
    unsigned version;               /* 2 or 3 */
    uint32_t cluster_size;
    unsigned refcount_bits;
    Qcow2CompressionType compression_type;
    bool lazy_refcounts;
    bool corrupt;
    bool dirty;
    bool extended_l2;
} Qcow2FormatInfo;

/* False if img is not a qcow2 image. */
bool qcow2_get_format_info(BlockImage *img, Qcow2FormatInfo *info);

typedef struct Qcow2SnapshotInfo {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t disk_size;
    uint64_t icount;
    bool has_icount;
} Qcow2SnapshotInfo;

void qcow2_snapshot_info_free(Qcow2SnapshotInfo *info);
/* The snapshot table, oldest first: Qcow2SnapshotInfo elements freed with the array. */
GPtrArray *qcow2_snapshot_list(BlockImage *img, GError **err);
/* Takes a snapshot of the disk alone, as qemu-img snapshot -c does (icount 0). */
bool qcow2_snapshot_create(BlockImage *img, const char *name, GError **err);
/* Takes a snapshot as savevm does: its VM state is the first vm_state_size bytes written
 * with qcow2_vmstate_write (0: none), the entry records that size, the VM clock and no
 * icount, and the active layer then drops its copy of the state, as QEMU does. */
bool qcow2_snapshot_create_full(BlockImage *img, const char *name, uint64_t vm_state_size,
                                uint64_t vm_clock_nsec, GError **err);
/* These look a snapshot up by ID first, then by name, as qemu-img does. find returns
 * NULL without setting err when there is no such snapshot. */
Qcow2SnapshotInfo *qcow2_snapshot_find(BlockImage *img, const char *id_or_name, GError **err);
bool qcow2_snapshot_apply(BlockImage *img, const char *id_or_name, GError **err);
bool qcow2_snapshot_delete(BlockImage *img, const char *id_or_name, GError **err);

/* The VM-state area ("Snapshots", vm_state_size): bytes pos.. of the saved machine
 * state, kept past the end of the virtual disk of the active layer. Write it before
 * qcow2_snapshot_create_full; after qcow2_snapshot_apply it reads back the state the
 * applied snapshot holds. Guest I/O never reaches it. */
bool qcow2_vmstate_write(BlockImage *img, uint64_t pos, const void *buf, size_t len,
                         GError **err);
bool qcow2_vmstate_read(BlockImage *img, uint64_t pos, void *buf, size_t len, GError **err);

typedef enum {
    QCOW2_REPAIR_NONE,
    QCOW2_REPAIR_LEAKS,
    QCOW2_REPAIR_ALL,
} Qcow2RepairMode;

typedef struct Qcow2CheckResult {
    uint64_t corruptions;
    uint64_t leaks;
    uint64_t check_errors;
    uint64_t corruptions_fixed;
    uint64_t leaks_fixed;
    uint64_t total_clusters;      /* guest clusters */
    uint64_t allocated_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
    uint64_t image_end_offset;
} Qcow2CheckResult;

/* Receives one line per problem found, in qemu-img's words. */
typedef void (*Qcow2CheckReportFn)(void *opaque, const char *line);

/* Checks metadata consistency and repairs what mode allows. Open the image with
 * check_mode set (and writable to repair). res describes the image after the repair. */
bool qcow2_check(BlockImage *img, Qcow2RepairMode mode, Qcow2CheckResult *res,
                 Qcow2CheckReportFn report, void *opaque, GError **err);

/* Rewrites the backing file name and format in the header (rebase). NULL removes them. */
bool qcow2_set_backing(BlockImage *img, const char *backing_file, const char *backing_format,
                       GError **err);

/* Writes one whole cluster compressed (the last cluster of the image may be short).
 * Falls back to a normal write when the data does not compress. */
bool qcow2_write_compressed(BlockImage *img, uint64_t offset, const void *buf, size_t len,
                            GError **err);

/* Drops every cluster of the active layer so it reads through to the backing file
 * (commit empties the top image this way). */
bool qcow2_make_empty(BlockImage *img, GError **err);
