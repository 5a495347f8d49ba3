/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Refcounts and the cluster allocator ("Host cluster management").
 *
 * Crash safety rests on two orders: a refcount is raised (and durable) before any
 * metadata names the cluster, and lowered only after no durable metadata names it.
 * Raises go straight into the cached refcount blocks; lowers wait in pending_frees
 * until qcow2_flush_metadata has made the new references durable. A crash in between
 * leaves refcounts too high: leaked clusters, never a shared one. */
#include "disks/qcow2-internal.h"

#include <string.h>

bool qcow2_refcount_init(Qcow2State *s, GError **err)
{
    uint64_t bytes = (uint64_t)s->reftable_clusters << s->cluster_bits;
    if (s->reftable_clusters == 0) {
        qcow2_signal_corruption(s, err, "the refcount table is empty");
        return false;
    }
    if (bytes > QCOW2_MAX_REFTABLE_BYTES) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: the refcount table of %" PRIu64 " bytes is larger than the 8 MiB limit",
                    s->img->filename, bytes);
        return false;
    }
    if (!qcow2_check_table_location(s, s->reftable_offset, bytes, "refcount table", err))
        return false;
    uint8_t *raw = g_malloc(bytes);
    if (!host_file_pread(s->file, s->reftable_offset, raw, bytes, err)) {
        g_free(raw);
        return false;
    }
    s->reftable_entries = bytes / 8;
    s->reftable = g_new(uint64_t, s->reftable_entries);
    for (uint64_t i = 0; i < s->reftable_entries; i++)
        s->reftable[i] = qcow2_be64(raw + i * 8);
    g_free(raw);

    /* Two table entries sharing a block would make the counts (and the allocator's
     * scans) meaningless: refuse such a table up front. */
    GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    bool ok = true;
    for (uint64_t i = 0; i < s->reftable_entries && ok; i++) {
        uint64_t off = s->reftable[i] & QCOW2_REFT_OFFSET_MASK;
        if (!off)
            continue;
        if (g_hash_table_contains(seen, &s->reftable[i])) {
            qcow2_signal_corruption(s, err, "refcount blocks %" PRIu64 " and another share offset 0x%" PRIx64,
                                    i, off);
            ok = false;
        }
        g_hash_table_add(seen, &s->reftable[i]);
    }
    g_hash_table_destroy(seen);
    if (!ok)
        return false;

    /* Enough blocks to count a few GiB of file; at least a handful for table growth. */
    uint64_t cap = (4u * 1024 * 1024) >> s->cluster_bits;
    if (cap < 16)
        cap = 16;
    if (cap > 256)
        cap = 256;
    s->refblock_cache = qcow2_cache_new(s, (unsigned)cap, false);
    s->pending_frees = g_array_new(FALSE, FALSE, sizeof(Qcow2PendingFree));
    s->free_hint = 0;
    return true;
}

void qcow2_refcount_close(Qcow2State *s)
{
    qcow2_cache_free(s->refblock_cache);
    s->refblock_cache = NULL;
    g_free(s->reftable);
    s->reftable = NULL;
    if (s->pending_frees)
        g_array_free(s->pending_frees, TRUE);
    s->pending_frees = NULL;
}

/* "Refcount block entry": sub-byte widths count from the least significant bit. */
uint64_t qcow2_refblock_get(const Qcow2State *s, const uint8_t *block, uint64_t index)
{
    switch (s->refcount_order) {
    case 0:
    case 1:
    case 2: {
        unsigned bits = 1u << s->refcount_order;
        unsigned per_byte = 8 / bits;
        unsigned shift = (unsigned)(index % per_byte) * bits;
        return (block[index / per_byte] >> shift) & ((1u << bits) - 1);
    }
    case 3:
        return block[index];
    case 4:
        return qcow2_be16(block + index * 2);
    case 5:
        return qcow2_be32(block + index * 4);
    default:
        return qcow2_be64(block + index * 8);
    }
}

void qcow2_refblock_set(const Qcow2State *s, uint8_t *block, uint64_t index, uint64_t value)
{
    switch (s->refcount_order) {
    case 0:
    case 1:
    case 2: {
        unsigned bits = 1u << s->refcount_order;
        unsigned per_byte = 8 / bits;
        unsigned shift = (unsigned)(index % per_byte) * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);
        uint8_t *b = &block[index / per_byte];
        *b = (uint8_t)((*b & ~mask) | ((value << shift) & mask));
        break;
    }
    case 3:
        block[index] = (uint8_t)value;
        break;
    case 4:
        qcow2_put_be16(block + index * 2, (uint16_t)value);
        break;
    case 5:
        qcow2_put_be32(block + index * 4, (uint32_t)value);
        break;
    default:
        qcow2_put_be64(block + index * 8, value);
        break;
    }
}

/* The refcount block offset for table index ti, 0 if none; corrupt entries fail. */
static bool refblock_offset(Qcow2State *s, uint64_t ti, uint64_t *offset, GError **err)
{
    *offset = 0;
    if (ti >= s->reftable_entries)
        return true;
    uint64_t e = s->reftable[ti];
    if (e & QCOW2_REFT_RESERVED) {
        qcow2_signal_corruption(s, err, "refcount table entry %" PRIu64 " has reserved bits set",
                                ti);
        return false;
    }
    *offset = e & QCOW2_REFT_OFFSET_MASK;
    if (*offset && qcow2_offset_into_cluster(s, *offset)) {
        qcow2_signal_corruption(s, err, "refcount block %" PRIu64 " is not cluster aligned", ti);
        return false;
    }
    return true;
}

bool qcow2_refblock_lookup(Qcow2State *s, uint64_t cluster, uint8_t **block, GError **err)
{
    uint64_t boff;
    *block = NULL;
    if (!refblock_offset(s, cluster >> s->refblock_bits, &boff, err))
        return false;
    return !boff || qcow2_cache_get(s->refblock_cache, boff, block, err);
}

bool qcow2_get_refcount(Qcow2State *s, uint64_t cluster, uint64_t *refcount, GError **err)
{
    uint8_t *block;
    *refcount = 0;
    if (!qcow2_refblock_lookup(s, cluster, &block, err))
        return false;
    if (!block)
        return true;
    *refcount = qcow2_refblock_get(s, block, cluster & ((1ULL << s->refblock_bits) - 1));
    qcow2_cache_put(s->refblock_cache, block);
    return true;
}

static bool write_reftable_entry(Qcow2State *s, uint64_t ti, GError **err)
{
    uint8_t buf[8];
    qcow2_put_be64(buf, s->reftable[ti]);
    return qcow2_host_write(s, s->reftable_offset + ti * 8, buf, 8, err);
}

static void bump_known_zero(Qcow2State *s, uint64_t end)
{
    if (end > s->known_zero_from)
        s->known_zero_from = end;
}

/* Makes the refcount table cover index need: a larger table and the refcount blocks that
 * count it go into a self-describing area just past the old table's reach; the header is
 * switched to it only once both are durable. */
static bool grow_reftable(Qcow2State *s, uint64_t need, GError **err)
{
    uint64_t per_block = 1ULL << s->refblock_bits;
    uint64_t per_table_cluster = s->cluster_size / 8;
    uint64_t old_entries = s->reftable_entries;
    uint64_t area = old_entries << s->refblock_bits;   /* first cluster of the area */
    uint64_t new_entries = 0, table_clusters = 0, blocks = 1;
    for (int round = 0; round < 64; round++) {
        uint64_t want = need + 1;
        if (want < old_entries + blocks)
            want = old_entries + blocks;
        if (want < old_entries * 2)
            want = old_entries * 2;
        new_entries = (want + per_table_cluster - 1) / per_table_cluster * per_table_cluster;
        table_clusters = new_entries / per_table_cluster;
        uint64_t b = (blocks + table_clusters + per_block - 1) / per_block;
        if (b == blocks)
            break;
        blocks = b;
    }
    if ((table_clusters << s->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                    "%s: the image file would need a refcount table over the 8 MiB limit",
                    s->img->filename);
        return false;
    }
    uint64_t area_clusters = blocks + table_clusters;
    uint64_t cs = s->cluster_size;
    if (area + area_clusters > (1ULL << (56 - s->cluster_bits))) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                    "%s: the refcount table cannot grow past the 64 PiB offset limit",
                    s->img->filename);
        return false;
    }

    uint8_t *buf = g_malloc0(blocks * cs);
    for (uint64_t c = 0; c < area_clusters; c++) {
        uint64_t cl = area + c;
        uint64_t b = (cl >> s->refblock_bits) - old_entries;
        qcow2_refblock_set(s, buf + b * cs, cl & (per_block - 1), 1);
    }
    uint64_t *table = g_new0(uint64_t, new_entries);
    memcpy(table, s->reftable, old_entries * 8);
    for (uint64_t b = 0; b < blocks; b++)
        table[old_entries + b] = (area + b) << s->cluster_bits;
    uint8_t *tbuf = g_malloc(table_clusters * cs);
    for (uint64_t i = 0; i < new_entries; i++)
        qcow2_put_be64(tbuf + i * 8, table[i]);

    uint64_t area_off = area << s->cluster_bits;
    uint64_t table_off = area_off + blocks * cs;
    bool ok = qcow2_host_write(s, area_off, buf, blocks * cs, err) &&
              qcow2_host_write(s, table_off, tbuf, table_clusters * cs, err) &&
              qcow2_sync(s, err);
    g_free(tbuf);
    if (!ok) {
        g_free(buf);
        g_free(table);
        return false;
    }
    uint64_t old_off = s->reftable_offset;
    uint32_t old_clusters = s->reftable_clusters;
    uint64_t *old_table = s->reftable;
    s->reftable = table;
    s->reftable_entries = new_entries;
    s->reftable_offset = table_off;
    s->reftable_clusters = (uint32_t)table_clusters;
    bump_known_zero(s, area_off + area_clusters * cs);
    if (!qcow2_header_update_field(s, QCOW2_HDR_REFTABLE, err) || !qcow2_sync(s, err)) {
        /* The header may or may not point at the new table: keep using the new one,
         * whose content is a superset of the old. */
        g_free(old_table);
        g_free(buf);
        return false;
    }
    g_free(old_table);
    for (uint64_t b = 0; b < blocks && ok; b++)
        ok = qcow2_cache_insert_clean(s->refblock_cache, (area + b) << s->cluster_bits,
                                      buf + b * cs, err);
    g_free(buf);
    /* The header no longer names the old table: its clusters are free now. */
    return ok && qcow2_free_clusters_now(s, old_off, (uint64_t)old_clusters * cs, err);
}

/* Creates the refcount block for table index ti in the first free cluster that either
 * lies in the range the block counts (it then counts itself) or is counted by a block
 * that exists already. Placing it at the front of the free space, rather than at the
 * start of its range, keeps large contiguous allocations from splitting forever. */
static bool create_refblock(Qcow2State *s, uint64_t ti, GError **err)
{
    if (ti >= s->reftable_entries && !grow_reftable(s, ti, err))
        return false;
    uint64_t boff;
    if (!refblock_offset(s, ti, &boff, err))
        return false;
    if (boff)
        return true; /* the table growth created it */
    uint64_t c = s->free_hint;
    bool self = false;
    for (;; c++) {
        if (c >= (1ULL << (56 - s->cluster_bits))) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                        "%s: no room for a refcount block below the 64 PiB offset limit",
                        s->img->filename);
            return false;
        }
        uint64_t range = c >> s->refblock_bits;
        if (range == ti) {
            self = true;
            break;
        }
        uint64_t cover;
        if (!refblock_offset(s, range, &cover, err))
            return false;
        if (!cover) {
            c = ((range + 1) << s->refblock_bits) - 1; /* skip the uncounted range */
            continue;
        }
        uint64_t rc;
        if (!qcow2_get_refcount(s, c, &rc, err))
            return false;
        if (rc == 0)
            break;
    }
    uint64_t off = c << s->cluster_bits;
    if (off == 0) {
        qcow2_signal_corruption(s, err, "no refcount block counts the image header");
        return false;
    }
    if (!self && !qcow2_update_refcounts(s, c, 1, 1, err))
        return false;
    uint8_t *block = g_malloc0(s->cluster_size);
    if (self)
        qcow2_refblock_set(s, block, c & ((1ULL << s->refblock_bits) - 1), 1);
    /* The block's content, and the count of its cluster when another block holds it,
     * must be durable before the table entry points at it. */
    bool ok = qcow2_host_write(s, off, block, s->cluster_size, err) &&
              qcow2_cache_flush(s->refblock_cache, err) && qcow2_sync(s, err);
    if (ok) {
        s->reftable[ti] = off;
        bump_known_zero(s, off + s->cluster_size);
        ok = write_reftable_entry(s, ti, err) &&
             qcow2_cache_insert_clean(s->refblock_cache, off, block, err);
    }
    g_free(block);
    return ok;
}

/* Host clusters that reached refcount zero: forget cached tables there, give the space
 * back to the host and let the allocator find them. */
static void cluster_run_freed(Qcow2State *s, uint64_t first, uint64_t count)
{
    for (uint64_t c = first; c < first + count; c++) {
        qcow2_cache_drop(s->l2_cache, c << s->cluster_bits);
        qcow2_cache_drop(s->refblock_cache, c << s->cluster_bits);
    }
    if (first < s->free_hint)
        s->free_hint = first;
    if (!s->read_only)
        host_file_discard(s->file, first << s->cluster_bits, count << s->cluster_bits, NULL,
                          NULL);
}

bool qcow2_update_refcounts(Qcow2State *s, uint64_t first, uint64_t count, int64_t delta,
                            GError **err)
{
    uint64_t per_block = 1ULL << s->refblock_bits;
    uint64_t c = first;
    uint64_t end = first + count;
    while (c < end) {
        uint64_t ti = c >> s->refblock_bits;
        uint64_t boff;
        if (!refblock_offset(s, ti, &boff, err))
            return false;
        if (!boff) {
            if (delta < 0) {
                qcow2_signal_corruption(s, err,
                                        "refcount of cluster %" PRIu64 " would drop below zero",
                                        c);
                return false;
            }
            if (!create_refblock(s, ti, err))
                return false;
            continue;
        }
        uint64_t stop = (ti + 1) << s->refblock_bits;
        if (stop > end)
            stop = end;
        uint8_t *block;
        if (!qcow2_cache_get(s->refblock_cache, boff, &block, err))
            return false;
        /* Check the whole run first so a failure changes nothing in this block. */
        for (uint64_t i = c; i < stop; i++) {
            uint64_t v = qcow2_refblock_get(s, block, i & (per_block - 1));
            if (delta < 0 && v < (uint64_t)-delta) {
                qcow2_cache_put(s->refblock_cache, block);
                qcow2_signal_corruption(s, err,
                                        "refcount of cluster %" PRIu64 " would drop below zero",
                                        i);
                return false;
            }
            if (delta > 0 && s->refcount_max - v < (uint64_t)delta) {
                qcow2_cache_put(s->refblock_cache, block);
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                            "%s: refcount of cluster %" PRIu64 " would exceed %" PRIu64
                            " (refcount_bits=%u)",
                            s->img->filename, i, s->refcount_max, s->refcount_bits);
                return false;
            }
        }
        uint64_t run_start = 0, run_len = 0;
        for (uint64_t i = c; i < stop; i++) {
            uint64_t idx = i & (per_block - 1);
            uint64_t v = qcow2_refblock_get(s, block, idx) + (uint64_t)delta;
            qcow2_refblock_set(s, block, idx, v);
            if (v == 0) {
                if (run_len && run_start + run_len == i) {
                    run_len++;
                } else {
                    if (run_len)
                        cluster_run_freed(s, run_start, run_len);
                    run_start = i;
                    run_len = 1;
                }
            }
        }
        qcow2_cache_mark_dirty(s->refblock_cache, block);
        qcow2_cache_put(s->refblock_cache, block);
        if (run_len)
            cluster_run_freed(s, run_start, run_len);
        c = stop;
    }
    return true;
}

bool qcow2_set_refcount(Qcow2State *s, uint64_t cluster, uint64_t value, GError **err)
{
    uint64_t boff;
    if (!refblock_offset(s, cluster >> s->refblock_bits, &boff, err))
        return false;
    if (!boff) {
        if (value == 0)
            return true;
        if (!create_refblock(s, cluster >> s->refblock_bits, err) ||
            !refblock_offset(s, cluster >> s->refblock_bits, &boff, err))
            return false;
    }
    if (value > s->refcount_max) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: refcount %" PRIu64 " does not fit in %u bits", s->img->filename, value,
                    s->refcount_bits);
        return false;
    }
    uint8_t *block;
    if (!qcow2_cache_get(s->refblock_cache, boff, &block, err))
        return false;
    qcow2_refblock_set(s, block, cluster & ((1ULL << s->refblock_bits) - 1), value);
    qcow2_cache_mark_dirty(s->refblock_cache, block);
    qcow2_cache_put(s->refblock_cache, block);
    if (value == 0)
        cluster_run_freed(s, cluster, 1);
    return true;
}

/* First run of count free clusters at or after the hint (past the refcount table's reach
 * everything is free). */
static bool find_free_run(Qcow2State *s, uint64_t count, uint64_t *start, GError **err)
{
    uint64_t run = 0;
    uint64_t c = s->free_hint;
    bool hint_moves = true;
    for (;;) {
        uint64_t rc;
        if (!qcow2_get_refcount(s, c, &rc, err))
            return false;
        if (rc == 0) {
            run++;
            if (run == count) {
                *start = c + 1 - count;
                return true;
            }
        } else {
            if (hint_moves)
                s->free_hint = c + 1;
            run = 0;
        }
        if (run > 0)
            hint_moves = false;
        c++;
        if (c >= (1ULL << (56 - s->cluster_bits))) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                        "%s: no free cluster below the 64 PiB offset limit", s->img->filename);
            return false;
        }
    }
}

bool qcow2_alloc_clusters(Qcow2State *s, uint64_t count, uint64_t *offset, bool *zeroed,
                          GError **err)
{
    g_assert(count > 0);
    for (;;) {
        uint64_t start;
        if (!find_free_run(s, count, &start, err))
            return false;
        /* Creating a refcount block takes a free cluster, possibly inside the run: then
         * search again (each round creates blocks the next one need not). */
        bool created = false;
        for (uint64_t ti = start >> s->refblock_bits;
             ti <= (start + count - 1) >> s->refblock_bits; ti++) {
            uint64_t boff;
            if (!refblock_offset(s, ti, &boff, err))
                return false;
            if (!boff) {
                if (!create_refblock(s, ti, err))
                    return false;
                created = true;
            }
        }
        if (created)
            continue;
        if (!qcow2_update_refcounts(s, start, count, 1, err))
            return false;
        uint64_t off = start << s->cluster_bits;
        uint64_t end = off + (count << s->cluster_bits);
        if (zeroed)
            *zeroed = off >= s->known_zero_from;
        bump_known_zero(s, end);
        if (start == s->free_hint)
            s->free_hint = start + count;
        *offset = off;
        return true;
    }
}

bool qcow2_alloc_bytes(Qcow2State *s, uint64_t bytes, uint64_t *offset, GError **err)
{
    g_assert(bytes > 0 && bytes <= s->cluster_size);
    uint64_t cs = s->cluster_size;
    if (s->compress_next) {
        uint64_t cur = qcow2_cluster_start(s, s->compress_next);
        uint64_t end = s->compress_next + bytes;
        if (end <= cur + cs) {
            if (!qcow2_update_refcounts(s, cur >> s->cluster_bits, 1, 1, err))
                return false;
            *offset = s->compress_next;
            s->compress_next = end == cur + cs ? 0 : end;
            return true;
        }
        /* The data would spill into the next cluster: only if that one is free. */
        uint64_t next = (cur + cs) >> s->cluster_bits;
        uint64_t rc, boff;
        if (!qcow2_get_refcount(s, next, &rc, err) ||
            !refblock_offset(s, next >> s->refblock_bits, &boff, err))
            return false;
        if (rc == 0 && boff && (next << s->cluster_bits) >= s->known_zero_from) {
            if (!qcow2_update_refcounts(s, next, 1, 1, err) ||
                !qcow2_update_refcounts(s, cur >> s->cluster_bits, 1, 1, err))
                return false;
            bump_known_zero(s, (next + 1) << s->cluster_bits);
            *offset = s->compress_next;
            s->compress_next = end == (next + 1) * cs ? 0 : end;
            return true;
        }
    }
    uint64_t off;
    if (!qcow2_alloc_clusters(s, 1, &off, NULL, err))
        return false;
    *offset = off;
    s->compress_next = bytes == cs ? 0 : off + bytes;
    return true;
}

void qcow2_free_clusters_later(Qcow2State *s, uint64_t offset, uint64_t bytes)
{
    if (bytes == 0)
        return;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + bytes - 1) >> s->cluster_bits;
    Qcow2PendingFree f = { first, last - first + 1 };
    g_array_append_val(s->pending_frees, f);
}

bool qcow2_free_clusters_now(Qcow2State *s, uint64_t offset, uint64_t bytes, GError **err)
{
    if (bytes == 0)
        return true;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + bytes - 1) >> s->cluster_bits;
    if (!qcow2_update_refcounts(s, first, last - first + 1, -1, err))
        return false;
    s->compress_next = 0;
    return true;
}

void qcow2_free_entry_later(Qcow2State *s, uint64_t l2_entry)
{
    switch (qcow2_entry_type(s, l2_entry)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        qcow2_free_clusters_later(s, l2_entry & QCOW2_OFFSET_MASK, s->cluster_size);
        break;
    case QCOW2_CLUSTER_COMPRESSED: {
        uint64_t start, len;
        qcow2_compressed_range(s, l2_entry, &start, &len);
        qcow2_free_clusters_later(s, start, len);
        break;
    }
    default:
        break;
    }
}

bool qcow2_apply_pending_frees(Qcow2State *s, GError **err)
{
    if (s->pending_durable == 0 || g_atomic_int_get(&s->unlocked_io) > 0)
        return true;
    guint n = s->pending_durable;
    bool ok = true;
    guint done = 0;
    for (; done < n && ok; done++) {
        Qcow2PendingFree *f = &g_array_index(s->pending_frees, Qcow2PendingFree, done);
        ok = qcow2_update_refcounts(s, f->first_cluster, f->count, -1, err);
    }
    g_array_remove_range(s->pending_frees, 0, done);
    s->pending_durable = 0;
    /* A freed cluster may have held the tail the next compressed cluster would share. */
    s->compress_next = 0;
    return ok;
}
