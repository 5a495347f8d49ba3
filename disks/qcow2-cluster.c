/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest-to-host cluster mapping through the L1 and L2 tables ("Cluster mapping") and
 * every change to it: allocating writes with copy-on-write, zero clusters, discard,
 * compressed clusters and metadata preallocation. All functions run with s->lock held. */
#include "disks/qcow2-internal.h"

#include <string.h>

Qcow2ClusterType qcow2_entry_type(const Qcow2State *s, uint64_t e)
{
    if (e & QCOW2_OFLAG_COMPRESSED)
        return QCOW2_CLUSTER_COMPRESSED;
    if ((e & QCOW2_OFLAG_ZERO) && s->version >= 3)
        return (e & QCOW2_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC : QCOW2_CLUSTER_ZERO_PLAIN;
    if (e & QCOW2_OFFSET_MASK)
        return QCOW2_CLUSTER_NORMAL;
    return QCOW2_CLUSTER_UNALLOCATED;
}

void qcow2_compressed_range(const Qcow2State *s, uint64_t e, uint64_t *start, uint64_t *len)
{
    uint64_t off = e & s->coffset_mask;
    uint64_t sectors = ((e >> s->csize_shift) & s->csize_mask) + 1;
    *start = off & ~511ULL;
    *len = sectors * 512;
}

/* An L2 entry that no valid image contains. */
static bool entry_valid(const Qcow2State *s, uint64_t e, const char **why)
{
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_COMPRESSED: {
        if (e & QCOW2_OFLAG_COPIED) {
            *why = "compressed cluster marked as unshared";
            return false;
        }
        uint64_t start, len;
        qcow2_compressed_range(s, e, &start, &len);
        if (start + len > (1ULL << 56) || start < s->cluster_size) {
            *why = "compressed cluster outside the file";
            return false;
        }
        return true;
    }
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC: {
        uint64_t host = e & QCOW2_OFFSET_MASK;
        if (e & (QCOW2_L2E_STD_RESERVED & ~(s->version >= 3 ? 0 : QCOW2_OFLAG_ZERO))) {
            *why = "reserved bits set in an L2 entry";
            return false;
        }
        if (host & (s->cluster_size - 1)) {
            *why = "data cluster offset not cluster aligned";
            return false;
        }
        if (host < s->cluster_size) {
            *why = "data cluster overlaps the image header";
            return false;
        }
        return true;
    }
    default:
        if (e & QCOW2_OFLAG_COPIED) {
            *why = "unallocated cluster marked as unshared";
            return false;
        }
        if (s->version < 3 && (e & QCOW2_OFLAG_ZERO)) {
            *why = "zero flag in a version 2 image";
            return false;
        }
        return true;
    }
}

/* The L2 table offset of an active L1 entry (0: unallocated). */
static bool l1_entry_l2(Qcow2State *s, uint64_t l1_index, uint64_t *l2_off, GError **err)
{
    *l2_off = 0;
    if (l1_index >= s->l1_size)
        return true;
    uint64_t e = s->l1[l1_index];
    if (e & QCOW2_L1E_RESERVED) {
        qcow2_signal_corruption(s, err, "L1 entry %" PRIu64 " has reserved bits set", l1_index);
        return false;
    }
    *l2_off = e & QCOW2_OFFSET_MASK;
    if (*l2_off && (qcow2_offset_into_cluster(s, *l2_off) || *l2_off < s->cluster_size)) {
        qcow2_signal_corruption(s, err, "L1 entry %" PRIu64 " points to an invalid L2 offset",
                                l1_index);
        return false;
    }
    return true;
}

bool qcow2_get_mapping(Qcow2State *s, uint64_t offset, uint64_t max_bytes, Qcow2Mapping *m,
                       GError **err)
{
    uint64_t cs = s->cluster_size;
    uint64_t in_cluster = qcow2_offset_into_cluster(s, offset);
    uint64_t l2_index = qcow2_l2_index(s, offset);
    uint64_t l2_entries = 1ULL << s->l2_bits;
    /* Bytes to the end of what this L2 table maps. */
    uint64_t avail = (l2_entries - l2_index) * cs - in_cluster;
    if (max_bytes < avail)
        avail = max_bytes;
    memset(m, 0, sizeof(*m));

    uint64_t l2_off;
    if (!l1_entry_l2(s, qcow2_l1_index(s, offset), &l2_off, err))
        return false;
    if (!l2_off) {
        m->type = QCOW2_CLUSTER_UNALLOCATED;
        m->bytes = avail;
        return true;
    }
    uint8_t *table;
    if (!qcow2_cache_get(s->l2_cache, l2_off, &table, err))
        return false;
    uint64_t e = qcow2_l2_get(table, l2_index);
    const char *why;
    if (!entry_valid(s, e, &why)) {
        qcow2_cache_put(s->l2_cache, table);
        qcow2_signal_corruption(s, err, "%s (guest offset 0x%" PRIx64 ")", why, offset);
        return false;
    }
    Qcow2ClusterType type = qcow2_entry_type(s, e);
    m->type = type;
    m->l2_entry = e;
    m->copied = (e & QCOW2_OFLAG_COPIED) != 0;
    uint64_t bytes = cs - in_cluster;
    if (type == QCOW2_CLUSTER_NORMAL || type == QCOW2_CLUSTER_ZERO_ALLOC)
        m->host_offset = (e & QCOW2_OFFSET_MASK) + in_cluster;
    if (type != QCOW2_CLUSTER_COMPRESSED) {
        /* Extend over following entries that map the same way. */
        uint64_t expect = e & QCOW2_OFFSET_MASK;
        for (uint64_t i = l2_index + 1; i < l2_entries && bytes < avail; i++) {
            uint64_t n = qcow2_l2_get(table, i);
            if (qcow2_entry_type(s, n) != type || !entry_valid(s, n, &why))
                break;
            if (type == QCOW2_CLUSTER_NORMAL || type == QCOW2_CLUSTER_ZERO_ALLOC) {
                expect += cs;
                if ((n & QCOW2_OFFSET_MASK) != expect ||
                    ((n ^ e) & QCOW2_OFLAG_COPIED))
                    break;
            }
            bytes += cs;
        }
    }
    qcow2_cache_put(s->l2_cache, table);
    m->bytes = bytes < avail ? bytes : avail;
    return true;
}

bool qcow2_l2_for_write(Qcow2State *s, uint64_t l1_index, uint8_t **table, GError **err)
{
    uint64_t l2_off;
    if (!l1_entry_l2(s, l1_index, &l2_off, err))
        return false;
    if (l1_index >= s->l1_size) {
        qcow2_signal_corruption(s, err, "write beyond the L1 table");
        return false;
    }
    if (l2_off && (s->l1[l1_index] & QCOW2_OFLAG_COPIED))
        return qcow2_cache_get(s->l2_cache, l2_off, table, err);

    uint64_t new_off;
    if (!qcow2_alloc_clusters(s, 1, &new_off, NULL, err))
        return false;
    uint8_t *fresh;
    if (!qcow2_cache_get_new(s->l2_cache, new_off, &fresh, err)) {
        qcow2_free_clusters_now(s, new_off, s->cluster_size, NULL);
        return false;
    }
    if (l2_off) {
        /* Shared with a snapshot: the copy is ours, the original stays theirs. */
        uint8_t *old;
        if (!qcow2_cache_get(s->l2_cache, l2_off, &old, err)) {
            qcow2_cache_put(s->l2_cache, fresh);
            qcow2_cache_drop(s->l2_cache, new_off);
            qcow2_free_clusters_now(s, new_off, s->cluster_size, NULL);
            return false;
        }
        memcpy(fresh, old, s->cluster_size);
        qcow2_cache_put(s->l2_cache, old);
        qcow2_free_clusters_later(s, l2_off, s->cluster_size);
    }
    s->l1[l1_index] = new_off | QCOW2_OFLAG_COPIED;
    qcow2_mark_l1_dirty(s, (uint32_t)l1_index);
    *table = fresh;
    return true;
}

bool qcow2_read_compressed(Qcow2State *s, uint64_t e, uint8_t *out, GError **err)
{
    uint64_t start = e & s->coffset_mask;
    uint64_t sector_start, span;
    qcow2_compressed_range(s, e, &sector_start, &span);
    uint64_t len = sector_start + span - start;
    uint8_t *in = g_malloc(len);
    bool ok = host_file_pread_zero_fill(s->file, start, in, len, err);
    if (ok && !qcow2_decompress(s->compression_type, in, len, out, s->cluster_size)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: compressed cluster at host offset 0x%" PRIx64 " does not decompress",
                    s->img->filename, start);
        ok = false;
    }
    g_free(in);
    return ok;
}

/* Whether the old content behind an entry reads as zeros at guest offset off. */
static bool source_is_zero(Qcow2State *s, uint64_t e, uint64_t off)
{
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return true;
    case QCOW2_CLUSTER_UNALLOCATED:
        return !s->img->backing || off >= block_size(s->img->backing);
    default:
        return false;
    }
}

/* Reads the old guest content [off, off + len) behind entry e (one cluster). */
static bool read_old(Qcow2State *s, uint64_t e, uint64_t off, uint8_t *buf, uint64_t len,
                     GError **err)
{
    switch (qcow2_entry_type(s, e)) {
    case QCOW2_CLUSTER_UNALLOCATED:
        return block_read_backing(s->img, off, buf, len, err);
    case QCOW2_CLUSTER_NORMAL:
        return host_file_pread_zero_fill(s->file,
                                         (e & QCOW2_OFFSET_MASK) + qcow2_offset_into_cluster(s, off),
                                         buf, len, err);
    case QCOW2_CLUSTER_COMPRESSED: {
        uint8_t *tmp = g_malloc(s->cluster_size);
        bool ok = qcow2_read_compressed(s, e, tmp, err);
        if (ok)
            memcpy(buf, tmp + qcow2_offset_into_cluster(s, off), len);
        g_free(tmp);
        return ok;
    }
    default:
        memset(buf, 0, len);
        return true;
    }
}

bool qcow2_inflight_overlaps(Qcow2State *s, uint64_t offset, uint64_t len)
{
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = (offset + (len ? len : 1) - 1) >> s->cluster_bits;
    for (guint i = 0; i < s->inflight->len; i++) {
        Qcow2Inflight *f = &g_array_index(s->inflight, Qcow2Inflight, i);
        if (first < f->first_cluster + f->count && f->first_cluster <= last)
            return true;
    }
    return false;
}

void qcow2_wait_inflight(Qcow2State *s, uint64_t offset, uint64_t len)
{
    while (qcow2_inflight_overlaps(s, offset, len))
        g_cond_wait(&s->inflight_cond, &s->lock);
}

bool qcow2_alloc_prepare(Qcow2State *s, uint64_t offset, uint64_t len, Qcow2AllocWrite *w,
                         GError **err)
{
    uint64_t cs = s->cluster_size;
    memset(w, 0, sizeof(*w));
    w->offset = offset;
    w->len = len;
    w->l2_index = qcow2_l2_index(s, offset);
    w->head = qcow2_offset_into_cluster(s, offset);
    w->n = (w->head + len + cs - 1) >> s->cluster_bits;
    g_assert(w->l2_index + w->n <= (1ULL << s->l2_bits));

    uint8_t *table;
    if (!qcow2_l2_for_write(s, qcow2_l1_index(s, offset), &table, err))
        return false;
    w->first_e = qcow2_l2_get(table, w->l2_index);
    w->last_e = qcow2_l2_get(table, w->l2_index + w->n - 1);
    qcow2_cache_put(s->l2_cache, table);
    const char *why;
    if (!entry_valid(s, w->first_e, &why) || !entry_valid(s, w->last_e, &why)) {
        qcow2_signal_corruption(s, err, "%s (guest offset 0x%" PRIx64 ")", why, offset);
        return false;
    }
    if (!qcow2_alloc_clusters(s, w->n, &w->host, &w->zeroed, err))
        return false;
    /* Whether the untouched head and tail need copying can be decided now. */
    uint64_t cluster_guest = offset - w->head;
    w->tail_start = w->head + len;
    w->tail_len = w->n * cs - w->tail_start;
    w->copy_head = w->head && !(w->zeroed && source_is_zero(s, w->first_e, cluster_guest));
    w->copy_tail = w->tail_len &&
                   !(w->zeroed && source_is_zero(s, w->last_e, cluster_guest + w->tail_start));
    Qcow2Inflight f = { offset >> s->cluster_bits, w->n };
    g_array_append_val(s->inflight, f);
    g_atomic_int_inc(&s->unlocked_io);
    return true;
}

bool qcow2_alloc_io(Qcow2State *s, Qcow2AllocWrite *w, const void *buf, GError **err)
{
    /* Copy-on-write: the parts of the first and last cluster the write leaves alone
     * keep their old content, unless that is zeros over fresh (zeroed) clusters. */
    uint64_t cluster_guest = w->offset - w->head;
    if (w->n == 1 && w->copy_head && w->copy_tail) {
        /* Both ends of one cluster: one read of the old cluster instead of two (on a
         * cold disk each read is a seek). */
        uint8_t *whole = g_malloc(s->cluster_size);
        bool ok = read_old(s, w->first_e, cluster_guest, whole, s->cluster_size, err);
        if (ok) {
            memcpy(whole + w->head, buf, w->len);
            ok = host_file_pwrite(s->file, w->host, whole, s->cluster_size, err);
        }
        g_atomic_int_set(&s->data_dirty, 1);
        g_free(whole);
        return ok;
    }
    uint8_t *head_buf = NULL, *tail_buf = NULL;
    struct iovec iov[3];
    int iovcnt = 0;
    uint64_t write_at = w->host;
    bool ok = true;
    if (w->head) {
        if (!w->copy_head) {
            write_at = w->host + w->head;
        } else {
            head_buf = g_malloc(w->head);
            ok = read_old(s, w->first_e, cluster_guest, head_buf, w->head, err);
            iov[iovcnt++] = (struct iovec){ head_buf, w->head };
        }
    }
    iov[iovcnt++] = (struct iovec){ (void *)buf, w->len };
    if (ok && w->copy_tail) {
        tail_buf = g_malloc(w->tail_len);
        ok = read_old(s, w->last_e, cluster_guest + w->tail_start, tail_buf, w->tail_len, err);
        iov[iovcnt++] = (struct iovec){ tail_buf, w->tail_len };
    }
    if (ok)
        ok = host_file_pwritev(s->file, write_at, iov, iovcnt, err);
    g_atomic_int_set(&s->data_dirty, 1);
    g_free(head_buf);
    g_free(tail_buf);
    return ok;
}

bool qcow2_alloc_finish(Qcow2State *s, Qcow2AllocWrite *w, bool ok, GError **err)
{
    uint64_t cs = s->cluster_size;
    uint8_t *table = NULL;
    /* Only now, with the data on its way to the disk, may the L2 table name it. */
    if (ok)
        ok = qcow2_l2_for_write(s, qcow2_l1_index(s, w->offset), &table, err);
    if (ok) {
        for (uint64_t i = 0; i < w->n; i++) {
            uint64_t old = qcow2_l2_get(table, w->l2_index + i);
            qcow2_l2_set(table, w->l2_index + i, (w->host + i * cs) | QCOW2_OFLAG_COPIED);
            qcow2_free_entry_later(s, old);
        }
        qcow2_cache_mark_dirty(s->l2_cache, table);
        qcow2_cache_put(s->l2_cache, table);
    } else {
        /* Nothing names the new clusters: give them back at once. */
        qcow2_free_clusters_now(s, w->host, w->n * cs, NULL);
    }
    uint64_t first = w->offset >> s->cluster_bits;
    for (guint i = 0; i < s->inflight->len; i++) {
        Qcow2Inflight *f = &g_array_index(s->inflight, Qcow2Inflight, i);
        if (f->first_cluster == first && f->count == w->n) {
            g_array_remove_index_fast(s->inflight, i);
            break;
        }
    }
    g_cond_broadcast(&s->inflight_cond);
    if (g_atomic_int_dec_and_test(&s->unlocked_io) && s->pending_durable)
        qcow2_apply_pending_frees(s, NULL);
    return ok;
}

/* Applies fn's new entry to every cluster of [offset, offset + len) (whole clusters). */
typedef uint64_t (*EntryRewrite)(Qcow2State *s, uint64_t old, void *opaque);

static bool rewrite_entries(Qcow2State *s, uint64_t offset, uint64_t len, EntryRewrite fn,
                            void *opaque, bool skip_unallocated_l2, GError **err)
{
    uint64_t cs = s->cluster_size;
    uint64_t end = offset + len;
    while (offset < end) {
        uint64_t l1_index = qcow2_l1_index(s, offset);
        uint64_t l2_index = qcow2_l2_index(s, offset);
        uint64_t count = (1ULL << s->l2_bits) - l2_index;
        if (count > (end - offset + cs - 1) >> s->cluster_bits)
            count = (end - offset + cs - 1) >> s->cluster_bits;
        uint64_t l2_off;
        if (!l1_entry_l2(s, l1_index, &l2_off, err))
            return false;
        if (!l2_off && skip_unallocated_l2) {
            offset += count * cs;
            continue;
        }
        /* Only touch (and copy) the L2 table when an entry really changes. */
        bool change = !l2_off;
        if (l2_off) {
            uint8_t *ro;
            if (!qcow2_cache_get(s->l2_cache, l2_off, &ro, err))
                return false;
            for (uint64_t i = 0; i < count && !change; i++) {
                uint64_t old = qcow2_l2_get(ro, l2_index + i);
                change = fn(s, old, opaque) != old;
            }
            qcow2_cache_put(s->l2_cache, ro);
        }
        if (change) {
            uint8_t *table;
            if (!qcow2_l2_for_write(s, l1_index, &table, err))
                return false;
            bool dirty = false;
            for (uint64_t i = 0; i < count; i++) {
                uint64_t old = qcow2_l2_get(table, l2_index + i);
                const char *why;
                if (!entry_valid(s, old, &why)) {
                    qcow2_cache_put(s->l2_cache, table);
                    qcow2_signal_corruption(s, err, "%s", why);
                    return false;
                }
                uint64_t e = fn(s, old, opaque);
                if (e == old)
                    continue;
                qcow2_l2_set(table, l2_index + i, e);
                dirty = true;
                /* Whatever host space the old entry owned and the new one does not. */
                if ((old & QCOW2_OFFSET_MASK) != (e & QCOW2_OFFSET_MASK) ||
                    qcow2_entry_type(s, old) == QCOW2_CLUSTER_COMPRESSED)
                    qcow2_free_entry_later(s, old);
            }
            if (dirty)
                qcow2_cache_mark_dirty(s->l2_cache, table);
            qcow2_cache_put(s->l2_cache, table);
        }
        offset += count * cs;
    }
    return true;
}

static uint64_t zero_entry(Qcow2State *s, uint64_t old, void *opaque)
{
    bool may_unmap = *(bool *)opaque;
    Qcow2ClusterType t = qcow2_entry_type(s, old);
    if (t == QCOW2_CLUSTER_ZERO_PLAIN)
        return old;
    if (!may_unmap && (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
        (old & QCOW2_OFLAG_COPIED))
        return (old & (QCOW2_OFFSET_MASK | QCOW2_OFLAG_COPIED)) | QCOW2_OFLAG_ZERO;
    return QCOW2_OFLAG_ZERO;
}

bool qcow2_zero_clusters(Qcow2State *s, uint64_t offset, uint64_t len, bool may_unmap,
                         GError **err)
{
    /* With nothing below, unallocated clusters already read as zeros. */
    bool skip = !s->img->backing;
    return rewrite_entries(s, offset, len, zero_entry, &may_unmap, skip, err);
}

static uint64_t discard_entry(Qcow2State *s, uint64_t old, void *opaque)
{
    bool full = *(bool *)opaque;
    if (!full && s->img->backing && s->version >= 3)
        return qcow2_entry_type(s, old) == QCOW2_CLUSTER_ZERO_PLAIN ? old : QCOW2_OFLAG_ZERO;
    return 0;
}

bool qcow2_discard_clusters(Qcow2State *s, uint64_t offset, uint64_t len, bool full,
                            GError **err)
{
    bool skip = full || !s->img->backing;
    return rewrite_entries(s, offset, len, discard_entry, &full, skip, err);
}

bool qcow2_write_compressed_cluster(Qcow2State *s, uint64_t offset, const void *cdata,
                                    size_t clen, GError **err)
{
    qcow2_wait_inflight(s, offset, s->cluster_size);
    uint8_t *table;
    uint64_t l2_index = qcow2_l2_index(s, offset);
    if (!qcow2_l2_for_write(s, qcow2_l1_index(s, offset), &table, err))
        return false;
    uint64_t host;
    if (!qcow2_alloc_bytes(s, clen, &host, err)) {
        qcow2_cache_put(s->l2_cache, table);
        return false;
    }
    uint64_t extra_sectors = ((host + clen - 1) >> 9) - (host >> 9);
    if (host > s->coffset_mask || extra_sectors > s->csize_mask) {
        qcow2_free_clusters_now(s, host, clen, NULL);
        qcow2_cache_put(s->l2_cache, table);
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE,
                    "%s: compressed data at 0x%" PRIx64 " is beyond what an L2 entry can name",
                    s->img->filename, host);
        return false;
    }
    if (!qcow2_host_write(s, host, cdata, clen, err)) {
        qcow2_free_clusters_now(s, host, clen, NULL);
        qcow2_cache_put(s->l2_cache, table);
        return false;
    }
    uint64_t old = qcow2_l2_get(table, l2_index);
    qcow2_l2_set(table, l2_index,
                 QCOW2_OFLAG_COMPRESSED | (extra_sectors << s->csize_shift) | host);
    qcow2_free_entry_later(s, old);
    qcow2_cache_mark_dirty(s->l2_cache, table);
    qcow2_cache_put(s->l2_cache, table);
    return true;
}

bool qcow2_preallocate(Qcow2State *s, uint64_t offset, uint64_t len, GError **err)
{
    uint64_t cs = s->cluster_size;
    uint64_t end = offset + len;
    offset = qcow2_cluster_start(s, offset);
    while (offset < end) {
        uint64_t l2_index = qcow2_l2_index(s, offset);
        uint64_t count = (1ULL << s->l2_bits) - l2_index;
        uint64_t left = (end - offset + cs - 1) >> s->cluster_bits;
        if (count > left)
            count = left;
        uint8_t *table;
        if (!qcow2_l2_for_write(s, qcow2_l1_index(s, offset), &table, err))
            return false;
        /* One contiguous host run for the unallocated entries of this table. */
        uint64_t need = 0;
        for (uint64_t i = 0; i < count; i++)
            if (qcow2_entry_type(s, qcow2_l2_get(table, l2_index + i)) ==
                QCOW2_CLUSTER_UNALLOCATED)
                need++;
        if (need) {
            uint64_t host;
            bool zeroed;
            if (!qcow2_alloc_clusters(s, need, &host, &zeroed, err)) {
                qcow2_cache_put(s->l2_cache, table);
                return false;
            }
            /* Fresh clusters past the end of the file: extend it over them, so the
             * references stay inside the file; reused ones must be zeroed. */
            uint64_t fsize = 0;
            bool ok = zeroed ? host_file_size(s->file, &fsize, err) &&
                                   (host + need * cs <= fsize ||
                                    host_file_extend(s->file, host + need * cs, err))
                             : host_file_write_zeroes(s->file, host, need * cs, false, err);
            if (!ok) {
                qcow2_free_clusters_now(s, host, need * cs, NULL);
                qcow2_cache_put(s->l2_cache, table);
                return false;
            }
            s->needs_sync = true;
            for (uint64_t i = 0; i < count; i++) {
                if (qcow2_entry_type(s, qcow2_l2_get(table, l2_index + i)) ==
                    QCOW2_CLUSTER_UNALLOCATED) {
                    qcow2_l2_set(table, l2_index + i, host | QCOW2_OFLAG_COPIED);
                    host += cs;
                }
            }
            qcow2_cache_mark_dirty(s->l2_cache, table);
        }
        qcow2_cache_put(s->l2_cache, table);
        offset += count * cs;
    }
    return true;
}
