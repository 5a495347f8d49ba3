/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Consistency check and repair. References are counted from every table that can name a
 * cluster (header, L1/L2 of the active layer and of each snapshot, snapshot table,
 * refcount structure, persistent bitmaps) and compared with the stored refcounts.
 *
 * Each distinct L2 table is read once and weighted by how many L1 entries name it, so a
 * hostile image whose tables all point at the same place costs no more than its size. */
#include "disks/qcow2-internal.h"

#include <string.h>

/* A range some table names that reaches a cluster or more past the end of the file:
 * qemu-img counts none of it, and so does the check; a repair must still keep clear. */
typedef struct Claim {
    uint64_t first, last;     /* clusters */
    uint64_t weight;
} Claim;

typedef struct Check {
    Qcow2State *s;
    Qcow2CheckResult *res;
    Qcow2CheckReportFn report;
    void *opaque;
    uint64_t file_size;
    uint64_t nb_clusters;     /* clusters of the file, rounded up */
    uint64_t nb_refs;         /* clusters counted: a range may end in the one past the file */
    uint64_t refs_cap;
    uint32_t *refs;           /* computed references, saturating */
    GArray *claims;           /* Claim: ranges not counted for reaching past the file */
    uint8_t *held;            /* file clusters a claim covers (NULL: none): no leak there */
    bool count_refcount_structure;
    bool refblock_trouble;    /* a refcount block entry is unusable: rebuild to repair */
    GHashTable *l2_weight;    /* L2 offset -> number of L1 entries naming it */
} Check;

static void say(Check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void say(Check *c, const char *fmt, ...)
{
    if (!c->report)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->report(c->opaque, line);
    g_free(line);
}

static void refs_reserve(Check *c, uint64_t n)
{
    if (n <= c->refs_cap)
        return;
    c->refs = g_renew(uint32_t, c->refs, n);
    memset(c->refs + c->refs_cap, 0, (n - c->refs_cap) * sizeof(*c->refs));
    c->refs_cap = n;
}

static void count_clusters(Check *c, uint64_t first, uint64_t last, uint64_t weight)
{
    refs_reserve(c, last + 1);
    for (uint64_t k = first; k <= last; k++) {
        uint64_t v = (uint64_t)c->refs[k] + weight;
        c->refs[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    }
    if (last + 1 > c->nb_refs)
        c->nb_refs = last + 1;
}

/* qemu-img's rule: the file's last cluster may be partly missing, so a range may end
 * less than a cluster past the end of the file; one reaching further is counted not at
 * all (its clusters inside the file included), as qemu-img does. */
static void add_refs(Check *c, uint64_t offset, uint64_t bytes, uint64_t weight)
{
    if (bytes == 0 || weight == 0)
        return;
    Qcow2State *s = c->s;
    uint64_t end = offset + bytes;
    if (end < offset || end > (1ULL << 62))
        end = 1ULL << 62; /* hostile sizes: just far past the end */
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (end - 1) >> s->cluster_bits;
    if (end > c->file_size && end - c->file_size >= s->cluster_size) {
        say(c, "ERROR: counting reference for region exceeding the end of the file by one "
               "cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64, offset, bytes);
        c->res->corruptions++;
        Claim cl = { first, last, weight };
        g_array_append_val(c->claims, cl);
        if (first < c->nb_clusters) {
            if (!c->held)
                c->held = g_malloc0(c->nb_clusters);
            memset(c->held + first, 1, MIN(last + 1, c->nb_clusters) - first);
        }
        return;
    }
    count_clusters(c, first, last, weight);
}

/* Counts an L1 table's L2 tables, weight times (their data comes later, once per
 * distinct table). As qemu-img: a misplaced table is reported and still counted. */
static void weigh_l1(Check *c, const uint64_t *l1, uint32_t size, uint64_t weight)
{
    Qcow2State *s = c->s;
    for (uint32_t i = 0; i < size; i++) {
        uint64_t e = l1[i];
        if (!e)
            continue;
        if (e & QCOW2_L1E_RESERVED) {
            say(c, "ERROR found L1 entry with reserved bits set: %" PRIx64, e);
            c->res->corruptions++;
        }
        /* An entry with flags but offset 0 names the header as its table, to qemu-img. */
        uint64_t l2 = e & QCOW2_OFFSET_MASK;
        if (qcow2_offset_into_cluster(s, l2)) {
            say(c, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry corrupted",
                l2);
            c->res->corruptions++;
        }
        uint64_t *k = g_new(uint64_t, 1);
        *k = l2;
        uintptr_t w = GPOINTER_TO_SIZE(g_hash_table_lookup(c->l2_weight, k));
        g_hash_table_replace(c->l2_weight, k, GSIZE_TO_POINTER(w + weight));
    }
}

/* Past the end of the file a table reads as zeros, as qemu-img reads it. */
static bool read_table(Check *c, uint64_t offset, uint8_t *buf, uint64_t bytes)
{
    GError *e = NULL;
    if (!host_file_pread_zero_fill(c->s->file, offset, buf, bytes, &e)) {
        say(c, "ERROR: cannot read the table at 0x%" PRIx64 ": %s", offset, e->message);
        g_error_free(e);
        c->res->check_errors++;
        return false;
    }
    return true;
}

/* Data references of one L2 table, times weight. */
static void count_l2(Check *c, uint64_t l2_off, uint64_t weight, uint8_t *buf)
{
    Qcow2State *s = c->s;
    add_refs(c, l2_off, s->cluster_size, weight);
    if (!read_table(c, l2_off, buf, s->cluster_size))
        return;
    for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
        uint64_t e = qcow2_l2_get(buf, j);
        Qcow2ClusterType type = qcow2_entry_type(s, e);
        /* qemu-img's order and words, so both list the same problems. */
        if (type != QCOW2_CLUSTER_COMPRESSED && (e & QCOW2_L2E_STD_RESERVED)) {
            say(c, "ERROR found l2 entry with reserved bits set: %" PRIx64, e);
            c->res->corruptions++;
        }
        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED: {
            if (e & QCOW2_OFLAG_COPIED) {
                say(c, "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set for "
                       "compressed clusters", e & s->coffset_mask);
                c->res->corruptions++;
            }
            /* The exact bytes, as qemu-img counts and prints them. */
            uint64_t start, len, coff = e & s->coffset_mask;
            qcow2_compressed_range(s, e, &start, &len);
            add_refs(c, coff, start + len - coff, weight);
            break;
        }
        case QCOW2_CLUSTER_NORMAL:
        case QCOW2_CLUSTER_ZERO_ALLOC: {
            uint64_t host = e & QCOW2_OFFSET_MASK;
            if (qcow2_offset_into_cluster(s, host)) {
                say(c, "ERROR offset=%" PRIx64 ": %s cluster is not properly aligned; L2 entry "
                       "corrupted.", host, type == QCOW2_CLUSTER_NORMAL ? "Data" : "Preallocated");
                c->res->corruptions++;
            }
            add_refs(c, host, s->cluster_size, weight);
            break;
        }
        default:
            break;
        }
    }
}

/* The active layer's own checks: copied flags against the stored refcounts, and the
 * allocation statistics qemu-img prints. */
static void check_active(Check *c, uint8_t *buf)
{
    Qcow2State *s = c->s;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1[i];
        uint64_t l2 = l1e & QCOW2_OFFSET_MASK;
        if (!l2)
            continue;
        uint64_t rc = 0;
        if (!qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc, NULL))
            c->res->check_errors++;
        if ((rc == 1) != ((l1e & QCOW2_OFLAG_COPIED) != 0)) {
            say(c, "ERROR OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64
                   " refcount=%" PRIu64, i, l1e, rc);
            c->res->corruptions++;
        }
        if (!read_table(c, l2, buf, s->cluster_size))
            continue;
        /* Past the disk too: the VM-state area is active data that qemu-img counts. Like
         * qemu-img, fragmentation is counted within each L2 table. */
        uint64_t next_contiguous = 0;
        for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
            uint64_t e = qcow2_l2_get(buf, j);
            switch (qcow2_entry_type(s, e)) {
            case QCOW2_CLUSTER_COMPRESSED:
                c->res->allocated_clusters++;
                c->res->compressed_clusters++;
                /* Compressed data is never contiguous in the sense of a full cluster. */
                c->res->fragmented_clusters++;
                break;
            case QCOW2_CLUSTER_NORMAL:
            case QCOW2_CLUSTER_ZERO_ALLOC: {
                uint64_t host = e & QCOW2_OFFSET_MASK;
                c->res->allocated_clusters++;
                if (next_contiguous && host != next_contiguous)
                    c->res->fragmented_clusters++;
                next_contiguous = host + s->cluster_size;
                if (qcow2_offset_into_cluster(s, host))
                    break;
                if (!qcow2_get_refcount(s, host >> s->cluster_bits, &rc, NULL)) {
                    c->res->check_errors++;
                    break;
                }
                if ((rc == 1) != ((e & QCOW2_OFLAG_COPIED) != 0)) {
                    say(c, "ERROR OFLAG_COPIED data cluster: l2_entry=%" PRIx64
                           " refcount=%" PRIu64, e, rc);
                    c->res->corruptions++;
                }
                break;
            }
            default:
                break;
            }
        }
    }
}

static void count_bitmaps(Check *c)
{
    Qcow2State *s = c->s;
    if (!s->has_bitmaps_ext || !(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS))
        return;
    uint64_t dir = s->bitmaps_dir_offset, size = s->bitmaps_dir_size;
    if (size == 0 || size > 64u * 1024 * 1024 || qcow2_offset_into_cluster(s, dir) ||
        dir > c->file_size || size > c->file_size - dir) {
        say(c, "ERROR: the bitmap directory lies outside the image file");
        c->res->corruptions++;
        return;
    }
    add_refs(c, dir, size, 1);
    uint8_t *d = g_malloc(size);
    if (!read_table(c, dir, d, size)) {
        g_free(d);
        return;
    }
    uint64_t pos = 0;
    for (uint32_t b = 0; b < s->bitmaps_count && pos + 24 <= size; b++) {
        uint64_t table = qcow2_be64(d + pos);
        uint32_t entries = qcow2_be32(d + pos + 8);
        uint16_t name_len = qcow2_be16(d + pos + 18);
        uint32_t extra = qcow2_be32(d + pos + 20);
        pos += (24 + (uint64_t)extra + name_len + 7) & ~7ULL;
        uint64_t bytes = (uint64_t)entries * 8;
        if (qcow2_offset_into_cluster(s, table) || table > c->file_size ||
            bytes > c->file_size - table) {
            say(c, "ERROR: bitmap table %u lies outside the image file", b);
            c->res->corruptions++;
            continue;
        }
        add_refs(c, table, bytes, 1);
        uint8_t *t = g_malloc(bytes ? bytes : 1);
        if (read_table(c, table, t, bytes)) {
            for (uint32_t i = 0; i < entries; i++) {
                uint64_t off = qcow2_be64(t + (size_t)i * 8) & QCOW2_OFFSET_MASK;
                if (off)
                    add_refs(c, off, s->cluster_size, 1);
            }
        }
        g_free(t);
    }
    g_free(d);
}

/* Counts every reference into c->refs. */
static void count_references(Check *c)
{
    Qcow2State *s = c->s;
    uint8_t *buf = g_malloc(s->cluster_size);
    add_refs(c, 0, s->cluster_size, 1);

    /* Tables are counted by their exact bytes, as qemu-img does: that decides whether
     * one ends "a cluster or more" past the end of the file. */
    add_refs(c, s->l1_offset, (uint64_t)s->l1_size * 8, 1);
    weigh_l1(c, s->l1, s->l1_size, 1);
    if (s->nb_snapshots)
        add_refs(c, s->snapshots_offset, s->snapshots_bytes, 1);
    /* Snapshots sharing one L1 table are counted once per table and weighted: a hostile
     * table of 65536 snapshots costs no more than one. */
    GHashTable *l1_weight = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Qcow2Snapshot *sn = &s->snapshots[i];
        add_refs(c, sn->l1_offset, (uint64_t)sn->l1_size * 8, 1);
        if (!sn->l1_size)
            continue;
        char *key = g_strdup_printf("%" PRIx64 ":%" PRIx32, sn->l1_offset, sn->l1_size);
        uintptr_t w = GPOINTER_TO_SIZE(g_hash_table_lookup(l1_weight, key));
        g_hash_table_replace(l1_weight, key, GSIZE_TO_POINTER(w + 1));
    }
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, l1_weight);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        uint64_t off = g_ascii_strtoull(k, NULL, 16);
        uint32_t n = (uint32_t)g_ascii_strtoull(strchr(k, ':') + 1, NULL, 16);
        uint8_t *raw = g_malloc((size_t)n * 8);
        if (read_table(c, off, raw, (uint64_t)n * 8)) {
            uint64_t *l1 = g_new(uint64_t, n);
            for (uint32_t j = 0; j < n; j++)
                l1[j] = qcow2_be64(raw + (size_t)j * 8);
            weigh_l1(c, l1, n, GPOINTER_TO_SIZE(v));
            g_free(l1);
        }
        g_free(raw);
    }
    g_hash_table_destroy(l1_weight);

    g_hash_table_iter_init(&it, c->l2_weight);
    while (g_hash_table_iter_next(&it, &k, &v))
        count_l2(c, *(uint64_t *)k, GPOINTER_TO_SIZE(v), buf);

    count_bitmaps(c);
    /* The refcount structure last, as qemu-img: a refcount block must then be named
     * by nothing else. */
    if (c->count_refcount_structure) {
        add_refs(c, s->reftable_offset, (uint64_t)s->reftable_clusters << s->cluster_bits, 1);
        for (uint64_t i = 0; i < s->reftable_entries; i++) {
            uint64_t e = s->reftable[i];
            uint64_t off = e & QCOW2_REFT_OFFSET_MASK;
            if (!off)
                continue;
            if (qcow2_offset_into_cluster(s, off) || (e & QCOW2_REFT_RESERVED)) {
                say(c, "ERROR refcount block %" PRIu64
                       " is not cluster aligned; refcount table entry corrupted", i);
                c->res->corruptions++;
                c->refblock_trouble = true;
                continue;
            }
            if ((off >> s->cluster_bits) >= c->nb_refs) {
                say(c, "ERROR refcount block %" PRIu64 " is outside image", i);
                c->res->corruptions++;
                c->refblock_trouble = true;
                continue;
            }
            add_refs(c, off, s->cluster_size, 1);
            uint32_t n = c->refs[off >> s->cluster_bits];
            if (n != 1) {
                say(c, "ERROR refcount block %" PRIu64 " refcount=%" PRIu32, i, n);
                c->res->corruptions++;
                c->refblock_trouble = true;
            }
        }
    }
    g_free(buf);
}

static bool check_init(Check *c, Qcow2State *s, Qcow2CheckResult *res, GError **err)
{
    c->s = s;
    c->res = res;
    if (!host_file_size(s->file, &c->file_size, err))
        return false;
    c->nb_clusters = qcow2_size_to_clusters(s, c->file_size);
    /* A reference count per cluster of the file: 2^28 of them is 1 GiB of counts
     * (16 TiB of 64 KiB clusters). A sparse file of tiny clusters could ask for far
     * more; refuse it plainly instead of trying to allocate it. */
    if (c->nb_clusters > (1ULL << 28)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: the file has too many clusters to check (%" G_GUINT64_FORMAT
                    " of %u bytes; at most 268435456)", s->img->filename, c->nb_clusters,
                    1u << s->cluster_bits);
        return false;
    }
    /* One more than the file: a range may end in the cluster past it. */
    c->refs_cap = c->nb_clusters + 1;
    c->nb_refs = c->nb_clusters;
    c->refs = g_try_new0(uint32_t, c->refs_cap);
    if (!c->refs) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "out of memory for the check");
        return false;
    }
    c->claims = g_array_new(FALSE, FALSE, sizeof(Claim));
    c->l2_weight = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    return true;
}

static void check_fini(Check *c)
{
    g_free(c->refs);
    g_free(c->held);
    if (c->claims)
        g_array_free(c->claims, TRUE);
    if (c->l2_weight)
        g_hash_table_destroy(c->l2_weight);
}

/* Compares stored and computed refcounts; optionally lowers leaked counts. Walks one
 * refcount block at a time: a corrupt table can make a tiny image claim a file of
 * millions of clusters, and a cache lookup per cluster would take minutes. */
static void compare_refcounts(Check *c, bool fix_leaks, bool *need_rebuild)
{
    Qcow2State *s = c->s;
    uint64_t highest = 0;
    bool any = false;
    uint64_t per_block = 1ULL << s->refblock_bits;
    for (uint64_t first = 0; first < c->nb_refs; first += per_block) {
        uint64_t end = MIN(c->nb_refs, first + per_block);
        uint8_t *block;
        GError *e = NULL;
        if (!qcow2_refblock_lookup(s, first, &block, &e)) {
            say(c, "ERROR: cannot read the refcount block of clusters %" PRIu64 "-%" PRIu64
                ": %s", first, end - 1, e->message);
            g_error_free(e);
            c->res->check_errors++;
            *need_rebuild = true;
            continue;
        }
        for (uint64_t k = first; k < end; k++) {
            uint64_t stored = block ? qcow2_refblock_get(s, block, k - first) : 0;
            uint64_t computed = c->refs[k];
            if (stored || computed) {
                highest = k;
                any = true;
            }
            if (stored == computed)
                continue;
            if (stored > computed) {
                bool fixed = false;
                /* A range the count left out names the cluster: lowering its refcount
                 * would let the allocator hand it out again. */
                bool held = c->held && k < c->nb_clusters && c->held[k];
                if (fix_leaks && !held) {
                    /* The repair may write through the cache: unpin around it. */
                    if (block)
                        qcow2_cache_put(s->refblock_cache, block);
                    GError *fe = NULL;
                    fixed = qcow2_set_refcount(s, k, computed, &fe);
                    if (fe)
                        g_error_free(fe);
                    if (!qcow2_refblock_lookup(s, first, &block, NULL)) {
                        block = NULL;
                        c->res->check_errors++;
                        *need_rebuild = true;
                    }
                }
                say(c, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
                    fixed ? "Repairing" : "Leaked", k, stored, computed);
                if (fixed)
                    c->res->leaks_fixed++;
                else
                    c->res->leaks++;
            } else {
                say(c, "ERROR cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64, k,
                    stored, computed);
                c->res->corruptions++;
                *need_rebuild = true;
            }
        }
        if (block)
            qcow2_cache_put(s->refblock_cache, block);
    }
    c->res->image_end_offset = any ? (highest + 1) << s->cluster_bits : 0;
}

static void count_all(Check *c)
{
    Qcow2State *s = c->s;
    c->res->total_clusters = qcow2_size_to_clusters(s, s->size);
    count_references(c);
    uint8_t *buf = g_malloc(s->cluster_size);
    check_active(c, buf);
    g_free(buf);
}

/* Counts and compares without changing anything. */
static void analyse(Check *c, bool *need_rebuild)
{
    count_all(c);
    compare_refcounts(c, false, need_rebuild);
    if (c->refblock_trouble)
        *need_rebuild = true;
}

/* Refcount blocks and table clusters a new structure at cluster start needs. */
static void area_size(Qcow2State *s, uint64_t start, uint64_t *blocks, uint64_t *table)
{
    uint64_t per_block = 1ULL << s->refblock_bits;
    uint64_t per_table_cluster = s->cluster_size / 8;
    uint64_t b = 0, t = 0, prev;
    do {
        prev = b + t;
        b = (start + b + t + per_block - 1) / per_block;
        t = (b + per_table_cluster - 1) / per_table_cluster;
    } while (b + t != prev);
    *blocks = b;
    *table = t;
}

/* Writes a new refcount structure for the counts in c->refs past the end of the file
 * and switches the header to it. Nothing of the old structure is read.
 *
 * It must not land on anything a table names. Ranges that reach past the end of the
 * file were left out of the count: those ending within 64 MiB of it (the largest table
 * allowed) are counted now and the structure goes past them, so they lie inside the
 * file afterwards (reading as the zeros they read as before). Ranges further out stay
 * uncounted, still reported; the structure must not reach them. */
static bool rebuild_refcounts(Check *c, GError **err)
{
    Qcow2State *s = c->s;
    uint64_t cs = s->cluster_size;
    uint64_t per_block = 1ULL << s->refblock_bits;
    uint64_t per_table_cluster = cs / 8;
    uint64_t limit = c->nb_clusters + ((uint64_t)QCOW2_MAX_SNAPSHOT_TABLE_BYTES >> s->cluster_bits);
    uint64_t start = c->nb_refs, blocks, table;
    for (guint i = 0; i < c->claims->len; i++) {
        Claim *cl = &g_array_index(c->claims, Claim, i);
        if (cl->last < limit) {
            count_clusters(c, cl->first, cl->last, cl->weight);
            start = MAX(start, cl->last + 1);
        }
    }
    area_size(s, start, &blocks, &table);
    for (guint i = 0; i < c->claims->len; i++) {
        Claim *cl = &g_array_index(c->claims, Claim, i);
        if (cl->last >= limit && cl->first < start + blocks + table) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                        "%s: cannot rebuild the refcounts: a table names clusters %" PRIu64
                        " to %" PRIu64 ", far past the end of the file", s->img->filename,
                        cl->first, cl->last);
            return false;
        }
    }
    refs_reserve(c, start);
    if ((table << s->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: the rebuilt refcount table would exceed 8 MiB", s->img->filename);
        return false;
    }
    for (uint64_t k = 0; k < start; k++) {
        if (c->refs[k] > s->refcount_max) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: cluster %" PRIu64 " has more references than refcount_bits=%u "
                        "can count", s->img->filename, k, s->refcount_bits);
            return false;
        }
    }
    uint8_t *bbuf = g_malloc0(blocks * cs);
    for (uint64_t k = 0; k < start + blocks + table; k++) {
        uint64_t v = k < start ? c->refs[k] : 1;
        if (v)
            qcow2_refblock_set(s, bbuf + (k / per_block) * cs, k % per_block, v);
    }
    uint64_t *new_table = g_new0(uint64_t, table * per_table_cluster);
    uint8_t *tbuf = g_malloc0(table * cs);
    for (uint64_t b = 0; b < blocks; b++) {
        new_table[b] = (start + b) << s->cluster_bits;
        qcow2_put_be64(tbuf + b * 8, new_table[b]);
    }
    uint64_t area = start << s->cluster_bits;
    bool ok = qcow2_host_write(s, area, bbuf, blocks * cs, err) &&
              qcow2_host_write(s, area + blocks * cs, tbuf, table * cs, err) &&
              qcow2_sync(s, err);
    g_free(bbuf);
    g_free(tbuf);
    if (!ok) {
        g_free(new_table);
        return false;
    }
    g_free(s->reftable);
    s->reftable = new_table;
    s->reftable_entries = table * per_table_cluster;
    s->reftable_offset = area + blocks * cs;
    s->reftable_clusters = (uint32_t)table;
    qcow2_cache_free(s->refblock_cache);
    s->refblock_cache = qcow2_cache_new(s, 16, false);
    s->free_hint = 0;
    s->compress_next = 0;
    s->known_zero_from = area + (blocks + table) * cs;
    g_array_set_size(s->pending_frees, 0);
    s->pending_durable = 0;
    return qcow2_header_update_field(s, QCOW2_HDR_REFTABLE, err) && qcow2_sync(s, err);
}

static bool check_locked(Qcow2State *s, Qcow2RepairMode mode, Qcow2CheckResult *res,
                         Qcow2CheckReportFn report, void *opaque, GError **err)
{
    memset(res, 0, sizeof(*res));
    if (mode != QCOW2_REPAIR_NONE && s->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY,
                    "%s: repairing needs the image opened read/write", s->img->filename);
        return false;
    }
    if (!s->read_only && !qcow2_flush_metadata(s, err))
        return false;
    Check c = { .report = report, .opaque = opaque, .count_refcount_structure = true };
    if (!check_init(&c, s, res, err))
        return false;
    bool need_rebuild = false;
    count_all(&c);
    Qcow2CheckResult counted = *res;
    compare_refcounts(&c, false, &need_rebuild);
    need_rebuild = need_rebuild || c.refblock_trouble;
    bool rebuild = mode == QCOW2_REPAIR_ALL && (need_rebuild || res->corruptions);
    if (mode != QCOW2_REPAIR_NONE && !rebuild && res->leaks) {
        if (need_rebuild) {
            /* A leak repair writes into refcount blocks that may be named by something
             * else: only a rebuild is safe (qemu-img refuses likewise). */
            say(&c, "ERROR need to rebuild refcount structures (use -r all)");
        } else {
            /* Compare again, lowering the leaked counts this time (as qemu-img, which
             * also reports each leak twice). */
            *res = counted;
            bool ignored = false;
            compare_refcounts(&c, true, &ignored);
        }
    }
    check_fini(&c);
    bool ok = true;
    if (mode != QCOW2_REPAIR_NONE)
        ok = qcow2_flush_metadata(s, err);
    /* A lowered count can leave a cluster that was shared with refcount 1 and no copied
     * flag (a snapshot create cut short before its table was written): flags follow. */
    if (ok && res->leaks_fixed && !rebuild)
        ok = qcow2_update_copied_flags(s, err) && qcow2_flush_metadata(s, err);
    if (ok && rebuild) {
        /* Count again without the old refcount structure, then write a new one; that
         * also makes the copied flags recomputable from trustworthy counts. */
        Qcow2CheckResult scratch = { 0 };
        Check r = { .count_refcount_structure = false };
        ok = check_init(&r, s, &scratch, err);
        if (ok) {
            count_references(&r);
            ok = rebuild_refcounts(&r, err) && qcow2_update_copied_flags(s, err) &&
                 qcow2_flush_metadata(s, err);
        }
        check_fini(&r);
    }
    if (ok && mode != QCOW2_REPAIR_NONE) {
        /* What a second, silent look still finds was not repaired. */
        Qcow2CheckResult before = *res, after = { 0 };
        Check again = { .count_refcount_structure = true };
        ok = check_init(&again, s, &after, err);
        if (ok) {
            bool again_rebuild = false;
            analyse(&again, &again_rebuild);
            after.leaks_fixed = before.leaks_fixed +
                                (before.leaks > after.leaks ? before.leaks - after.leaks : 0);
            after.corruptions_fixed = before.corruptions > after.corruptions
                                          ? before.corruptions - after.corruptions : 0;
            *res = after;
        }
        check_fini(&again);
    }
    if (ok && mode != QCOW2_REPAIR_NONE && res->corruptions == 0 && !s->read_only) {
        ok = qcow2_set_incompatible_bits(s, 0, QCOW2_INCOMPAT_CORRUPT, err);
        if (ok)
            s->corrupt_seen = false;
    }
    return ok;
}

bool qcow2_check(BlockImage *img, Qcow2RepairMode mode, Qcow2CheckResult *res,
                 Qcow2CheckReportFn report, void *opaque, GError **err)
{
    Qcow2State *s = qcow2_state(img);
    if (!s) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "This image format does not support checks");
        return false;
    }
    block_drain(img);
    g_mutex_lock(&s->lock);
    bool ok = check_locked(s, mode, res, report, opaque, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_repair_on_open(Qcow2State *s, GError **err)
{
    Qcow2CheckResult res;
    bool saved = s->check_mode;
    /* Repairs write the header; they must not mark the image corrupt meanwhile. */
    s->check_mode = true;
    bool ok = check_locked(s, QCOW2_REPAIR_ALL, &res, NULL, NULL, err);
    s->check_mode = saved;
    if (ok && res.corruptions) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: the image was not closed cleanly and %" PRIu64
                    " inconsistencies remain after repair; run vireo-img check",
                    s->img->filename, res.corruptions);
        return false;
    }
    return ok && qcow2_set_incompatible_bits(s, 0, QCOW2_INCOMPAT_DIRTY, err);
}
