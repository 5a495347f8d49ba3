/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qcow2 driver internals shared between its source files (and the unit tests).
 * Section names in comments refer to QEMU's docs/interop/qcow2.txt. */
#pragma once

#include "disks/block-internal.h"
#include "disks/qcow2.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_V2_HEADER_LENGTH 72
#define QCOW2_V3_HEADER_LENGTH 104
/* Limits QEMU also enforces; anything larger in a header is treated as hostile. */
#define QCOW2_MAX_L1_BYTES (32u * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES (8u * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS 65536u
#define QCOW2_MAX_SNAPSHOT_TABLE_BYTES (64u * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024u
#define QCOW2_MAX_BACKING_NAME 1023u
#define QCOW2_MAX_VIRTUAL_SIZE (1ULL << 61)

/* "Cluster mapping": L1 and L2 entry bits. */
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO 1ULL
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L1E_RESERVED 0x7f000000000001ffULL
#define QCOW2_L2E_STD_RESERVED 0x3f000000000001feULL
#define QCOW2_REFT_OFFSET_MASK 0xfffffffffffffe00ULL
#define QCOW2_REFT_RESERVED 0x1ffULL

/* "Header": feature bits. */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1fULL
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
#define QCOW2_AUTOCLEAR_BITMAPS (1ULL << 0)

/* "Header extensions": types. */
#define QCOW2_EXT_END 0u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857u
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_EXT_CRYPTO 0x0537be77u
#define QCOW2_EXT_DATA_FILE 0x44415441u

/* Byte offsets of header fields that are updated on their own. */
#define QCOW2_HDR_SIZE 24
#define QCOW2_HDR_L1 36            /* l1_size (4) + l1_table_offset (8) */
#define QCOW2_HDR_REFTABLE 48      /* refcount_table_offset (8) + clusters (4) */
#define QCOW2_HDR_SNAPSHOTS 60     /* nb_snapshots (4) + snapshots_offset (8) */
#define QCOW2_HDR_INCOMPAT 72
#define QCOW2_HDR_AUTOCLEAR 88

typedef enum {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,  /* zero flag, no host cluster */
    QCOW2_CLUSTER_ZERO_ALLOC,  /* zero flag over a preallocated host cluster */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

typedef struct Qcow2Extension {
    uint32_t type;
    uint32_t len;
    uint8_t *data;
} Qcow2Extension;

typedef struct Qcow2Snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;
    uint64_t icount;
    bool has_icount;
    /* Extra data beyond the fields above, kept verbatim ("Snapshots"). */
    uint8_t *extra_unknown;
    uint32_t extra_unknown_len;
} Qcow2Snapshot;

/* Guest clusters an allocating write is filling without the lock. */
typedef struct Qcow2Inflight {
    uint64_t first_cluster;
    uint64_t count;
} Qcow2Inflight;

/* Clusters waiting for a refcount decrement until no durable metadata names them. */
typedef struct Qcow2PendingFree {
    uint64_t first_cluster;
    uint64_t count;
} Qcow2PendingFree;

typedef struct Qcow2Cache Qcow2Cache;

typedef struct Qcow2State {
    BlockImage *img;
    HostFile *file;
    /* Guards everything below except unlocked_io. */
    GMutex lock;
    bool read_only;
    bool check_mode;
    bool corrupt_seen;         /* corruption found this session: no more writes */

    unsigned version;
    unsigned cluster_bits;
    uint64_t cluster_size;
    unsigned l2_bits;          /* log2 of entries per L2 table */
    uint64_t size;
    uint64_t incompatible;
    uint64_t compatible;
    uint64_t autoclear;
    uint32_t header_length;
    uint8_t *header_tail;      /* header bytes past the fields we know, kept verbatim */
    unsigned refcount_order;
    unsigned refcount_bits;
    uint64_t refcount_max;
    unsigned refblock_bits;    /* log2 of entries per refcount block */
    Qcow2CompressionType compression_type;
    unsigned csize_shift;      /* "Compressed Clusters Descriptor" */
    uint64_t csize_mask;
    uint64_t coffset_mask;
    char *backing_name;
    char *backing_format;
    GPtrArray *unknown_exts;   /* Qcow2Extension*, written back unchanged */
    bool has_bitmaps_ext;
    uint32_t bitmaps_count;
    uint64_t bitmaps_dir_size;
    uint64_t bitmaps_dir_offset;

    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t *l1;              /* host byte order */
    uint32_t l1_dirty_lo;      /* entries [lo, hi) changed since written */
    uint32_t l1_dirty_hi;

    uint64_t reftable_offset;
    uint32_t reftable_clusters;
    uint64_t reftable_entries;
    uint64_t *reftable;        /* host byte order */

    uint64_t snapshots_offset;
    uint32_t nb_snapshots;
    uint64_t snapshots_bytes;
    Qcow2Snapshot *snapshots;

    Qcow2Cache *l2_cache;
    Qcow2Cache *refblock_cache;

    uint64_t free_hint;        /* no free cluster below this index */
    uint64_t compress_next;    /* byte offset where the next compressed cluster may go */
    uint64_t known_zero_from;  /* free clusters at or past this offset read as zeros */
    GArray *pending_frees;     /* Qcow2PendingFree */
    guint pending_durable;     /* leading pending_frees entries no durable metadata names */
    GArray *inflight;          /* Qcow2Inflight: allocating writes under way */
    GCond inflight_cond;       /* signalled when one finishes */
    gint unlocked_io;          /* data transfers in flight without the lock (atomic) */
    gint frees_waiting;        /* pending_durable > 0, readable without the lock (atomic) */
    gint data_dirty;           /* guest data written in place since the last sync (atomic) */
    bool needs_sync;           /* written under the lock since the last fdatasync */
} Qcow2State;

static inline uint64_t qcow2_be64(const void *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

static inline void qcow2_put_be64(void *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    __builtin_memcpy(p, &v, 8);
}

static inline uint32_t qcow2_be32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return GUINT32_FROM_BE(v);
}

static inline void qcow2_put_be32(void *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    __builtin_memcpy(p, &v, 4);
}

static inline uint16_t qcow2_be16(const void *p)
{
    uint16_t v;
    __builtin_memcpy(&v, p, 2);
    return GUINT16_FROM_BE(v);
}

static inline void qcow2_put_be16(void *p, uint16_t v)
{
    v = GUINT16_TO_BE(v);
    __builtin_memcpy(p, &v, 2);
}

static inline uint64_t qcow2_l2_get(const uint8_t *table, uint64_t i)
{
    return qcow2_be64(table + i * 8);
}

static inline void qcow2_l2_set(uint8_t *table, uint64_t i, uint64_t entry)
{
    qcow2_put_be64(table + i * 8, entry);
}

static inline uint64_t qcow2_offset_into_cluster(const Qcow2State *s, uint64_t off)
{
    return off & (s->cluster_size - 1);
}

static inline uint64_t qcow2_cluster_start(const Qcow2State *s, uint64_t off)
{
    return off & ~(s->cluster_size - 1);
}

static inline uint64_t qcow2_size_to_clusters(const Qcow2State *s, uint64_t bytes)
{
    return (bytes + s->cluster_size - 1) >> s->cluster_bits;
}

static inline uint64_t qcow2_l1_index(const Qcow2State *s, uint64_t guest)
{
    return guest >> (s->cluster_bits + s->l2_bits);
}

static inline uint64_t qcow2_l2_index(const Qcow2State *s, uint64_t guest)
{
    return (guest >> s->cluster_bits) & ((1ULL << s->l2_bits) - 1);
}

/* L1 entries needed to map size bytes. */
static inline uint64_t qcow2_l1_entries_for(unsigned cluster_bits, uint64_t size)
{
    unsigned shift = cluster_bits + (cluster_bits - 3);
    return (size + (1ULL << shift) - 1) >> shift;
}

Qcow2ClusterType qcow2_entry_type(const Qcow2State *s, uint64_t l2_entry);
/* Host byte range of a compressed cluster as qemu-img check counts it: the sector
 * holding its first byte through the last sector named by the descriptor. */
void qcow2_compressed_range(const Qcow2State *s, uint64_t l2_entry, uint64_t *start,
                            uint64_t *len);

/* Marks an inconsistency: sets the corrupt bit (when writable) and fails with one line. */
void qcow2_signal_corruption(Qcow2State *s, GError **err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* qcow2-header.c */
bool qcow2_header_read(Qcow2State *s, GError **err);
/* Rewrites the header cluster from the in-memory state (creation, rebase). */
bool qcow2_header_write(Qcow2State *s, GError **err);
/* Writes one header field range at byte offset field from the in-memory state. */
bool qcow2_header_update_field(Qcow2State *s, unsigned field, GError **err);
bool qcow2_set_incompatible_bits(Qcow2State *s, uint64_t set, uint64_t clear, GError **err);
/* Serialises a header cluster (cluster_size bytes) from s; false if it would not fit. */
bool qcow2_header_build(Qcow2State *s, uint8_t *buf, GError **err);

/* qcow2-cache.c: whole-table caches for L2 tables and refcount blocks. Tables are kept
 * in on-disk (big-endian) form. get/get_new pin a table until put. */
Qcow2Cache *qcow2_cache_new(Qcow2State *s, unsigned capacity, bool is_l2);
void qcow2_cache_free(Qcow2Cache *c);
bool qcow2_cache_get(Qcow2Cache *c, uint64_t offset, uint8_t **table, GError **err);
bool qcow2_cache_get_new(Qcow2Cache *c, uint64_t offset, uint8_t **table, GError **err);
void qcow2_cache_put(Qcow2Cache *c, uint8_t *table);
void qcow2_cache_mark_dirty(Qcow2Cache *c, uint8_t *table);
bool qcow2_cache_flush(Qcow2Cache *c, GError **err);
bool qcow2_cache_is_dirty(Qcow2Cache *c);
/* Forgets a table without writing it (its cluster was freed or rewritten directly). */
void qcow2_cache_drop(Qcow2Cache *c, uint64_t offset);
/* Inserts a table just written to disk, so it need not be read back. */
bool qcow2_cache_insert_clean(Qcow2Cache *c, uint64_t offset, const uint8_t *table,
                              GError **err);
unsigned qcow2_cache_capacity(Qcow2Cache *c);

/* qcow2-refcount.c */
bool qcow2_refcount_init(Qcow2State *s, GError **err);
void qcow2_refcount_close(Qcow2State *s);
uint64_t qcow2_refblock_get(const Qcow2State *s, const uint8_t *block, uint64_t index);
void qcow2_refblock_set(const Qcow2State *s, uint8_t *block, uint64_t index, uint64_t value);
bool qcow2_get_refcount(Qcow2State *s, uint64_t cluster, uint64_t *refcount, GError **err);
/* The refcount block covering cluster, pinned (release with qcow2_cache_put), or NULL
 * when the table has none there (all its counts are 0). */
bool qcow2_refblock_lookup(Qcow2State *s, uint64_t cluster, uint8_t **block, GError **err);
/* Adds delta to the refcounts of count clusters from first; increments create refcount
 * blocks as needed. Never lets a refcount pass its maximum or go below zero. */
bool qcow2_update_refcounts(Qcow2State *s, uint64_t first, uint64_t count, int64_t delta,
                            GError **err);
/* Sets one refcount outright (repairs). */
bool qcow2_set_refcount(Qcow2State *s, uint64_t cluster, uint64_t value, GError **err);
/* Allocates count contiguous free clusters with refcount 1. *zeroed (may be NULL) says
 * whether they are known to read as zeros (never written since the file grew). */
bool qcow2_alloc_clusters(Qcow2State *s, uint64_t count, uint64_t *offset, bool *zeroed,
                          GError **err);
/* Allocates bytes (at most a cluster) for compressed data, packing them after the
 * previous compressed cluster when they fit. */
bool qcow2_alloc_bytes(Qcow2State *s, uint64_t bytes, uint64_t *offset, GError **err);
/* Queues a refcount decrement for clusters dropped from metadata not yet durable. */
void qcow2_free_clusters_later(Qcow2State *s, uint64_t offset, uint64_t bytes);
/* Decrements refcounts now: only for clusters no durable metadata references. */
bool qcow2_free_clusters_now(Qcow2State *s, uint64_t offset, uint64_t bytes, GError **err);
/* Frees (later) whatever an L2 entry owns. */
void qcow2_free_entry_later(Qcow2State *s, uint64_t l2_entry);
/* Applies the queued decrements that became safe, if no unlocked transfer may still
 * be reading the clusters. */
bool qcow2_apply_pending_frees(Qcow2State *s, GError **err);

/* qcow2-cluster.c: guest offset -> host mapping and allocating writes. */
typedef struct Qcow2Mapping {
    Qcow2ClusterType type;
    uint64_t host_offset;   /* host bytes for NORMAL / ZERO_ALLOC at the guest offset */
    uint64_t l2_entry;      /* for COMPRESSED */
    uint64_t bytes;         /* guest bytes from the offset that share this mapping */
    bool copied;            /* NORMAL cluster with refcount 1: writable in place */
} Qcow2Mapping;

/* Maps up to max_bytes from guest offset (within one L2 table). Lock held. */
bool qcow2_get_mapping(Qcow2State *s, uint64_t offset, uint64_t max_bytes, Qcow2Mapping *m,
                       GError **err);
/* An allocating write moves its data without the lock: prepare (lock held) allocates
 * the new clusters and marks the guest clusters in flight; io (no lock) copies the
 * untouched parts of the old clusters and writes; finish (lock held) points the L2
 * entries at the new clusters. Other writers wait for in-flight clusters. */
typedef struct Qcow2AllocWrite {
    uint64_t offset, len;     /* guest range, within one L2 table */
    uint64_t l2_index;
    uint64_t n;               /* clusters */
    uint64_t head;            /* bytes before offset in the first cluster */
    uint64_t tail_start, tail_len;
    uint64_t first_e, last_e; /* old entries of the first and last cluster */
    uint64_t host;            /* the new clusters */
    bool zeroed;
    bool copy_head, copy_tail;
} Qcow2AllocWrite;

bool qcow2_alloc_prepare(Qcow2State *s, uint64_t offset, uint64_t len, Qcow2AllocWrite *w,
                         GError **err);
bool qcow2_alloc_io(Qcow2State *s, Qcow2AllocWrite *w, const void *buf, GError **err);
bool qcow2_alloc_finish(Qcow2State *s, Qcow2AllocWrite *w, bool ok, GError **err);
bool qcow2_inflight_overlaps(Qcow2State *s, uint64_t offset, uint64_t len);
/* Waits (releasing the lock) until no allocating write covers the range. */
void qcow2_wait_inflight(Qcow2State *s, uint64_t offset, uint64_t len);
/* Sets whole clusters to zero (zero flag, or unallocated when nothing shows through). */
bool qcow2_zero_clusters(Qcow2State *s, uint64_t offset, uint64_t len, bool may_unmap,
                         GError **err);
/* Drops whole clusters: zero-flagged where a backing file would otherwise show
 * through, unallocated when full is set. */
bool qcow2_discard_clusters(Qcow2State *s, uint64_t offset, uint64_t len, bool full,
                            GError **err);
/* Stores one compressed cluster's bytes at guest cluster offset. Lock held. */
bool qcow2_write_compressed_cluster(Qcow2State *s, uint64_t offset, const void *cdata,
                                    size_t clen, GError **err);
/* Reads a compressed cluster into out (cluster_size bytes). */
bool qcow2_read_compressed(Qcow2State *s, uint64_t l2_entry, uint8_t *out, GError **err);
/* Allocates L2 tables and data clusters for [offset, offset + len) (metadata prealloc). */
bool qcow2_preallocate(Qcow2State *s, uint64_t offset, uint64_t len, GError **err);
/* Points L1 entry index at a fresh L2 table, or copies a shared one. Lock held. */
bool qcow2_l2_for_write(Qcow2State *s, uint64_t l1_index, uint8_t **table, GError **err);

/* qcow2-compress.c */
bool qcow2_compress(Qcow2CompressionType type, const void *in, size_t in_len, void *out,
                    size_t out_cap, size_t *out_len);
bool qcow2_decompress(Qcow2CompressionType type, const void *in, size_t in_len, void *out,
                      size_t out_len);

/* qcow2.c */
/* Writes every dirty table in dependency order so the file is consistent, and syncs.
 * Lock held. */
bool qcow2_flush_metadata(Qcow2State *s, GError **err);
bool qcow2_write_l1_entries(Qcow2State *s, GError **err);
void qcow2_mark_l1_dirty(Qcow2State *s, uint32_t index);
bool qcow2_sync(Qcow2State *s, GError **err);
/* Host writes that change metadata or data go through here so syncs know, and so the
 * session's first one is preceded by qcow2_mark_dirty. */
bool qcow2_host_write(Qcow2State *s, uint64_t offset, const void *buf, size_t len,
                      GError **err);
/* Only for the incompatible-features field, which carries the dirty bit itself. */
bool qcow2_host_write_unmarked(Qcow2State *s, uint64_t offset, const void *buf, size_t len,
                               GError **err);
/* Sets the dirty bit, durably, unless set: from then on a crash may leave leaked
 * clusters, and the next read-write open (Vireo's or QEMU's) checks and reclaims them.
 * A clean close clears it. Called before anything that builds a header from memory. */
bool qcow2_mark_dirty(Qcow2State *s, GError **err);
bool qcow2_host_writev(Qcow2State *s, uint64_t offset, const struct iovec *iov, int iovcnt,
                       GError **err);
/* A cluster range may be read as table data: aligned, inside the file, not the header. */
bool qcow2_check_table_location(Qcow2State *s, uint64_t offset, uint64_t bytes,
                                const char *what, GError **err);
Qcow2State *qcow2_state(BlockImage *img);
/* Guest reads and writes as the driver serves them, without the block layer's bounds
 * check against the virtual size: the VM-state area lies past it. Lock not held. */
bool qcow2_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err);
bool qcow2_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len,
                  GError **err);
/* Resizes the L1 table to at least min_size entries (a new table, then the header). */
bool qcow2_grow_l1(Qcow2State *s, uint64_t min_size, GError **err);
/* Recomputes the COPIED flags of the active L1 and L2 tables from the refcounts. */
bool qcow2_update_copied_flags(Qcow2State *s, GError **err);

/* qcow2-snapshot.c */
bool qcow2_snapshots_read(Qcow2State *s, GError **err);
void qcow2_snapshots_free(Qcow2Snapshot *sn, uint32_t count);
/* Serialises count snapshots into a new buffer of *bytes bytes; NULL with err on failure. */
uint8_t *qcow2_snapshots_serialize(Qcow2State *s, const Qcow2Snapshot *sn, uint32_t count,
                                   uint64_t *bytes, GError **err);
/* Parses a snapshot table image (count entries) into a newly allocated array;
 * *consumed is the table's length in bytes. */
bool qcow2_snapshots_parse(Qcow2State *s, const uint8_t *buf, uint64_t buf_len,
                           uint32_t count, Qcow2Snapshot **out, uint64_t *consumed,
                           GError **err);
/* Adds delta to the refcount of every cluster reachable from an L1 table. */
bool qcow2_update_l1_refcounts(Qcow2State *s, const uint64_t *l1, uint32_t l1_size,
                               int64_t delta, GError **err);

/* qcow2-vmstate.c */
/* Guest offset where the VM-state area starts: the first L1 entry past the disk. */
uint64_t qcow2_vmstate_offset(const Qcow2State *s);
/* Drops the active layer's clusters in the first len bytes of the area (rounded up to
 * clusters; UINT64_MAX: all of it), leaving them unallocated. Lock held. */
bool qcow2_vmstate_discard(Qcow2State *s, uint64_t len, GError **err);

/* qcow2-check.c */
/* Rebuilds refcounts from scratch; used by check -r all and the open of a dirty image. */
bool qcow2_repair_on_open(Qcow2State *s, GError **err);
