/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internal snapshots ("Snapshots"): the snapshot table, and creating, applying and
 * deleting snapshots. Each operation sets the dirty bit while refcounts and the copied
 * flags are in motion, so a crash half way is repaired on the next open. */
#include "disks/qcow2-internal.h"

#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_FIXED 40
/* Extra data we write: vm_state_size_large, disk_size, icount (as qemu-img does). */
#define SNAPSHOT_EXTRA_WRITTEN 24

void qcow2_snapshots_free(Qcow2Snapshot *sn, uint32_t count)
{
    if (!sn)
        return;
    for (uint32_t i = 0; i < count; i++) {
        g_free(sn[i].id);
        g_free(sn[i].name);
        g_free(sn[i].extra_unknown);
    }
    g_free(sn);
}

bool qcow2_snapshots_parse(Qcow2State *s, const uint8_t *buf, uint64_t buf_len,
                           uint32_t count, Qcow2Snapshot **out, uint64_t *consumed,
                           GError **err)
{
    Qcow2Snapshot *list = g_new0(Qcow2Snapshot, count ? count : 1);
    uint64_t pos = 0;
    for (uint32_t i = 0; i < count; i++) {
        Qcow2Snapshot *sn = &list[i];
        const char *why = NULL;
        if (buf_len - pos < SNAPSHOT_FIXED) {
            why = "the snapshot table is truncated";
            goto bad;
        }
        const uint8_t *p = buf + pos;
        sn->l1_offset = qcow2_be64(p);
        sn->l1_size = qcow2_be32(p + 8);
        uint16_t id_len = qcow2_be16(p + 12);
        uint16_t name_len = qcow2_be16(p + 14);
        sn->date_sec = qcow2_be32(p + 16);
        sn->date_nsec = qcow2_be32(p + 20);
        sn->vm_clock_nsec = qcow2_be64(p + 24);
        sn->vm_state_size = qcow2_be32(p + 32);
        uint32_t extra = qcow2_be32(p + 36);
        if (extra > QCOW2_MAX_SNAPSHOT_EXTRA) {
            why = "snapshot extra data is too large";
            goto bad;
        }
        uint64_t raw_len = SNAPSHOT_FIXED + (uint64_t)extra + id_len + name_len;
        uint64_t entry = (raw_len + 7) & ~7ULL;
        if (raw_len > buf_len - pos) {
            why = "a snapshot entry runs past the table";
            goto bad;
        }
        const uint8_t *x = p + SNAPSHOT_FIXED;
        sn->disk_size = s->size;
        if (extra >= 8)
            sn->vm_state_size = qcow2_be64(x);
        if (extra >= 16)
            sn->disk_size = qcow2_be64(x + 8);
        if (extra >= 24) {
            sn->icount = qcow2_be64(x + 16);
            sn->has_icount = true;
        }
        if (extra > 24) {
            sn->extra_unknown_len = extra - 24;
            sn->extra_unknown = g_memdup2(x + 24, extra - 24);
        }
        sn->id = g_strndup((const char *)x + extra, id_len);
        sn->name = g_strndup((const char *)x + extra + id_len, name_len);
        if (s->version >= 3 && extra < 16) {
            why = "a version 3 snapshot entry lacks the disk size";
            goto bad;
        }
        if (qcow2_offset_into_cluster(s, sn->l1_offset)) {
            why = "a snapshot L1 table is not cluster aligned";
            goto bad;
        }
        if ((uint64_t)sn->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
            why = "a snapshot L1 table is larger than 32 MiB";
            goto bad;
        }
        if (sn->disk_size > QCOW2_MAX_VIRTUAL_SIZE ||
            qcow2_l1_entries_for(s->cluster_bits, sn->disk_size) > sn->l1_size) {
            why = "a snapshot's L1 table is too small for its disk size";
            goto bad;
        }
        pos += entry > buf_len - pos ? buf_len - pos : entry;
        continue;
bad:
        qcow2_snapshots_free(list, count);
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT, "%s: invalid snapshot table: %s",
                    s->img->filename, why);
        return false;
    }
    *out = list;
    *consumed = pos;
    return true;
}

bool qcow2_snapshots_read(Qcow2State *s, GError **err)
{
    s->snapshots = NULL;
    s->snapshots_bytes = 0;
    if (s->nb_snapshots == 0)
        return true;
    uint64_t file_size;
    if (!host_file_size(s->file, &file_size, err))
        return false;
    if (s->snapshots_offset < s->cluster_size || s->snapshots_offset >= file_size) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: the snapshot table lies outside the file", s->img->filename);
        return false;
    }
    /* The table's length follows from its entries: read what the file holds (up to the
     * limit) and let the parser stop at the last entry. */
    uint64_t avail = file_size - s->snapshots_offset;
    if (avail > QCOW2_MAX_SNAPSHOT_TABLE_BYTES)
        avail = QCOW2_MAX_SNAPSHOT_TABLE_BYTES;
    uint64_t need = (uint64_t)s->nb_snapshots * SNAPSHOT_FIXED;
    if (need > avail) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: the snapshot table is truncated", s->img->filename);
        return false;
    }
    /* Entries are at most 40 + 1024 + 2 * 65535 bytes; read no more than that. */
    uint64_t max_len = (uint64_t)s->nb_snapshots * (SNAPSHOT_FIXED + QCOW2_MAX_SNAPSHOT_EXTRA +
                                                    2 * 65535 + 8);
    if (avail > max_len)
        avail = max_len;
    uint8_t *buf = g_malloc(avail);
    bool ok = host_file_pread(s->file, s->snapshots_offset, buf, avail, err) &&
              qcow2_snapshots_parse(s, buf, avail, s->nb_snapshots, &s->snapshots,
                                    &s->snapshots_bytes, err);
    g_free(buf);
    return ok;
}

uint8_t *qcow2_snapshots_serialize(Qcow2State *s, const Qcow2Snapshot *sn, uint32_t count,
                                   uint64_t *bytes, GError **err)
{
    GByteArray *out = g_byte_array_new();
    for (uint32_t i = 0; i < count; i++) {
        const Qcow2Snapshot *e = &sn[i];
        size_t id_len = strlen(e->id), name_len = strlen(e->name);
        if (id_len > 65535 || name_len > 65535) {
            g_byte_array_free(out, TRUE);
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "snapshot name too long");
            return NULL;
        }
        uint32_t extra = SNAPSHOT_EXTRA_WRITTEN + e->extra_unknown_len;
        uint8_t fixed[SNAPSHOT_FIXED + SNAPSHOT_EXTRA_WRITTEN];
        qcow2_put_be64(fixed, e->l1_offset);
        qcow2_put_be32(fixed + 8, e->l1_size);
        qcow2_put_be16(fixed + 12, (uint16_t)id_len);
        qcow2_put_be16(fixed + 14, (uint16_t)name_len);
        qcow2_put_be32(fixed + 16, e->date_sec);
        qcow2_put_be32(fixed + 20, e->date_nsec);
        qcow2_put_be64(fixed + 24, e->vm_clock_nsec);
        qcow2_put_be32(fixed + 32,
                       e->vm_state_size > UINT32_MAX ? 0 : (uint32_t)e->vm_state_size);
        qcow2_put_be32(fixed + 36, extra);
        qcow2_put_be64(fixed + 40, e->vm_state_size);
        qcow2_put_be64(fixed + 48, e->disk_size);
        qcow2_put_be64(fixed + 56, e->has_icount ? e->icount : UINT64_MAX);
        g_byte_array_append(out, fixed, sizeof(fixed));
        if (e->extra_unknown_len)
            g_byte_array_append(out, e->extra_unknown, e->extra_unknown_len);
        g_byte_array_append(out, (const uint8_t *)e->id, (guint)id_len);
        g_byte_array_append(out, (const uint8_t *)e->name, (guint)name_len);
        static const uint8_t pad[8];
        g_byte_array_append(out, pad, (8 - out->len % 8) % 8);
    }
    if (out->len > QCOW2_MAX_SNAPSHOT_TABLE_BYTES) {
        g_byte_array_free(out, TRUE);
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE, "the snapshot table would exceed 64 MiB");
        return NULL;
    }
    *bytes = out->len;
    if (out->len == 0) {
        g_byte_array_free(out, TRUE);
        return g_malloc0(1);
    }
    return g_byte_array_free(out, FALSE);
}

/* Reads an inactive L1 table (host byte order). */
static bool read_l1(Qcow2State *s, uint64_t offset, uint32_t size, uint64_t **out, GError **err)
{
    *out = g_new0(uint64_t, size ? size : 1);
    if (size == 0)
        return true;
    uint64_t bytes = (uint64_t)size * 8;
    if (!qcow2_check_table_location(s, offset, bytes, "snapshot L1 table", err))
        return false;
    uint8_t *raw = g_malloc(bytes);
    bool ok = host_file_pread(s->file, offset, raw, bytes, err);
    for (uint32_t i = 0; ok && i < size; i++)
        (*out)[i] = qcow2_be64(raw + (size_t)i * 8);
    g_free(raw);
    return ok;
}

/* Writes an L1 table into newly allocated clusters, without copied flags (they only
 * mean something in the active table). */
static bool write_new_l1(Qcow2State *s, const uint64_t *l1, uint32_t size, uint64_t *offset,
                         GError **err)
{
    *offset = 0;
    if (size == 0)
        return true;
    uint64_t cs = s->cluster_size;
    uint64_t bytes = ((uint64_t)size * 8 + cs - 1) & ~(cs - 1);
    if (!qcow2_alloc_clusters(s, bytes / cs, offset, NULL, err))
        return false;
    uint8_t *raw = g_malloc0(bytes);
    for (uint32_t i = 0; i < size; i++)
        qcow2_put_be64(raw + (size_t)i * 8, l1[i] & ~QCOW2_OFLAG_COPIED);
    bool ok = qcow2_host_write(s, *offset, raw, bytes, err);
    g_free(raw);
    return ok;
}

static uint64_t l1_bytes(Qcow2State *s, uint32_t size)
{
    return ((uint64_t)size * 8 + s->cluster_size - 1) & ~(s->cluster_size - 1);
}

bool qcow2_update_l1_refcounts(Qcow2State *s, const uint64_t *l1, uint32_t l1_size,
                               int64_t delta, GError **err)
{
    for (uint32_t i = 0; i < l1_size; i++) {
        if (l1[i] & QCOW2_L1E_RESERVED) {
            qcow2_signal_corruption(s, err, "L1 entry %u has reserved bits set", i);
            return false;
        }
        uint64_t l2 = l1[i] & QCOW2_OFFSET_MASK;
        if (!l2)
            continue;
        uint8_t *table;
        if (!qcow2_cache_get(s->l2_cache, l2, &table, err))
            return false;
        /* Copy the entries: lowering counts may free this table's cluster. */
        uint64_t n = 1ULL << s->l2_bits;
        uint64_t *entries = g_new(uint64_t, n);
        for (uint64_t j = 0; j < n; j++)
            entries[j] = qcow2_l2_get(table, j);
        qcow2_cache_put(s->l2_cache, table);
        bool ok = true;
        for (uint64_t j = 0; j < n && ok; j++) {
            uint64_t e = entries[j];
            switch (qcow2_entry_type(s, e)) {
            case QCOW2_CLUSTER_NORMAL:
            case QCOW2_CLUSTER_ZERO_ALLOC:
                ok = qcow2_update_refcounts(s, (e & QCOW2_OFFSET_MASK) >> s->cluster_bits, 1,
                                            delta, err);
                break;
            case QCOW2_CLUSTER_COMPRESSED: {
                uint64_t start, len;
                qcow2_compressed_range(s, e, &start, &len);
                uint64_t first = start >> s->cluster_bits;
                uint64_t last = (start + len - 1) >> s->cluster_bits;
                ok = qcow2_update_refcounts(s, first, last - first + 1, delta, err);
                break;
            }
            default:
                break;
            }
        }
        g_free(entries);
        if (!ok || !qcow2_update_refcounts(s, l2 >> s->cluster_bits, 1, delta, err))
            return false;
    }
    return true;
}

static int find_snapshot(Qcow2State *s, const char *id_or_name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        if (!strcmp(s->snapshots[i].id, id_or_name))
            return (int)i;
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        if (!strcmp(s->snapshots[i].name, id_or_name))
            return (int)i;
    return -1;
}

/* Writes a new snapshot table and points the header at it; frees the old one. */
static bool replace_snapshot_table(Qcow2State *s, Qcow2Snapshot *list, uint32_t count,
                                   GError **err)
{
    uint64_t bytes;
    uint8_t *buf = qcow2_snapshots_serialize(s, list, count, &bytes, err);
    if (!buf)
        return false;
    uint64_t off = 0, alloc = 0;
    bool ok = true;
    if (count) {
        alloc = (bytes + s->cluster_size - 1) & ~(s->cluster_size - 1);
        uint8_t *padded = g_malloc0(alloc);
        memcpy(padded, buf, bytes);
        ok = qcow2_alloc_clusters(s, alloc / s->cluster_size, &off, NULL, err) &&
             qcow2_host_write(s, off, padded, alloc, err) && qcow2_flush_metadata(s, err);
        g_free(padded);
    }
    g_free(buf);
    if (!ok)
        return false;
    uint64_t old_off = s->snapshots_offset;
    uint64_t old_alloc = (s->snapshots_bytes + s->cluster_size - 1) & ~(s->cluster_size - 1);
    bool had = s->nb_snapshots > 0;
    s->snapshots_offset = off;
    s->nb_snapshots = count;
    s->snapshots_bytes = bytes;
    if (!qcow2_header_update_field(s, QCOW2_HDR_SNAPSHOTS, err) || !qcow2_sync(s, err))
        return false;
    if (had && old_alloc && !qcow2_free_clusters_now(s, old_off, old_alloc, err))
        return false;
    return true;
}

static bool begin_operation(Qcow2State *s, GError **err)
{
    if (s->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s is open read-only",
                    s->img->filename);
        return false;
    }
    if (s->corrupt_seen) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: writes refused after corruption was found", s->img->filename);
        return false;
    }
    return qcow2_flush_metadata(s, err) &&
           qcow2_set_incompatible_bits(s, QCOW2_INCOMPAT_DIRTY, 0, err);
}

static bool end_operation(Qcow2State *s, GError **err)
{
    return qcow2_flush_metadata(s, err) && qcow2_sync(s, err) &&
           qcow2_set_incompatible_bits(s, 0, QCOW2_INCOMPAT_DIRTY, err);
}

static bool snapshot_create_locked(Qcow2State *s, const char *name, uint64_t vm_state_size,
                                   uint64_t vm_clock_nsec, bool savevm, GError **err)
{
    if (!name || !*name) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "a snapshot needs a name");
        return false;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].name, name)) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                        "a snapshot named '%s' already exists", name);
            return false;
        }
    }
    if (s->nb_snapshots >= QCOW2_MAX_SNAPSHOTS) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NO_SPACE, "too many snapshots");
        return false;
    }
    if (!begin_operation(s, err))
        return false;
    /* Everything the active L1 reaches gains a reference from the snapshot's copy; the
     * copied flags go, as nothing is unshared any more. */
    uint64_t l1_off;
    if (!qcow2_update_l1_refcounts(s, s->l1, s->l1_size, 1, err) ||
        !qcow2_update_copied_flags(s, err) ||
        !write_new_l1(s, s->l1, s->l1_size, &l1_off, err) || !qcow2_flush_metadata(s, err))
        return false;

    unsigned long max_id = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        unsigned long v = strtoul(s->snapshots[i].id, NULL, 10);
        if (v > max_id)
            max_id = v;
    }
    gint64 now = g_get_real_time();
    Qcow2Snapshot *list = g_new0(Qcow2Snapshot, s->nb_snapshots + 1);
    if (s->nb_snapshots)
        memcpy(list, s->snapshots, sizeof(*list) * s->nb_snapshots);
    Qcow2Snapshot *sn = &list[s->nb_snapshots];
    sn->l1_offset = l1_off;
    sn->l1_size = s->l1_size;
    sn->id = g_strdup_printf("%lu", max_id + 1);
    sn->name = g_strdup(name);
    sn->date_sec = (uint32_t)(now / G_USEC_PER_SEC);
    sn->date_nsec = (uint32_t)(now % G_USEC_PER_SEC) * 1000;
    sn->vm_state_size = vm_state_size;
    sn->vm_clock_nsec = vm_clock_nsec;
    sn->disk_size = s->size;
    /* qemu-img snapshot -c records icount 0; savevm outside record/replay records
     * none (all ones). */
    sn->has_icount = true;
    sn->icount = savevm ? UINT64_MAX : 0;
    uint32_t old_count = s->nb_snapshots;
    if (!replace_snapshot_table(s, list, old_count + 1, err)) {
        s->nb_snapshots = old_count;
        g_free(sn->id);
        g_free(sn->name);
        g_free(list);
        return false;
    }
    g_free(s->snapshots);
    s->snapshots = list;
    /* The active layer drops the state the snapshot now keeps, over the range QEMU's
     * qcow2_snapshot_create discards (vm_state_size rounded up to clusters): left in
     * place, the next savevm would copy each cluster on write. The snapshot exists once
     * the header names the table, so like QEMU ignore a failed discard (an I/O error
     * shows again in the flush below). */
    qcow2_vmstate_discard(s, vm_state_size, NULL);
    return end_operation(s, err);
}

static bool snapshot_apply_locked(Qcow2State *s, const char *id_or_name, GError **err)
{
    int idx = find_snapshot(s, id_or_name);
    if (idx < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND, "Could not find snapshot '%s'",
                    id_or_name);
        return false;
    }
    Qcow2Snapshot *sn = &s->snapshots[idx];
    uint64_t *l1 = NULL;
    if (!begin_operation(s, err) || !read_l1(s, sn->l1_offset, sn->l1_size, &l1, err)) {
        g_free(l1);
        return false;
    }
    /* Raise the snapshot's clusters, switch the header to a copy of its L1 table, then
     * lower the old active clusters: a crash only ever leaves counts too high. */
    uint64_t new_off;
    bool ok = qcow2_update_l1_refcounts(s, l1, sn->l1_size, 1, err) &&
              write_new_l1(s, l1, sn->l1_size, &new_off, err) && qcow2_flush_metadata(s, err);
    if (!ok) {
        g_free(l1);
        return false;
    }
    uint64_t *old_l1 = s->l1;
    uint32_t old_size = s->l1_size;
    uint64_t old_off = s->l1_offset;
    s->l1 = l1;
    s->l1_size = sn->l1_size;
    s->l1_offset = new_off;
    s->l1_dirty_lo = s->l1_dirty_hi = 0;
    for (uint32_t i = 0; i < s->l1_size; i++)
        s->l1[i] &= ~QCOW2_OFLAG_COPIED;
    s->size = sn->disk_size;
    s->img->size = s->size;
    /* size, crypt_method, l1_size and l1_table_offset are adjacent: one write. */
    uint8_t hdr[24];
    qcow2_put_be64(hdr, s->size);
    qcow2_put_be32(hdr + 8, 0);
    qcow2_put_be32(hdr + 12, s->l1_size);
    qcow2_put_be64(hdr + 16, s->l1_offset);
    ok = qcow2_host_write(s, QCOW2_HDR_SIZE, hdr, sizeof(hdr), err) && qcow2_sync(s, err) &&
         qcow2_update_l1_refcounts(s, old_l1, old_size, -1, err) &&
         qcow2_free_clusters_now(s, old_off, l1_bytes(s, old_size), err) &&
         qcow2_update_copied_flags(s, err);
    g_free(old_l1);
    return ok && end_operation(s, err);
}

static bool snapshot_delete_locked(Qcow2State *s, const char *id_or_name, GError **err)
{
    int idx = find_snapshot(s, id_or_name);
    if (idx < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND, "Could not find snapshot '%s'",
                    id_or_name);
        return false;
    }
    if (!begin_operation(s, err))
        return false;
    Qcow2Snapshot gone = s->snapshots[idx];
    uint32_t count = s->nb_snapshots - 1;
    Qcow2Snapshot *list = g_new0(Qcow2Snapshot, count ? count : 1);
    memcpy(list, s->snapshots, sizeof(*list) * (size_t)idx);
    memcpy(list + idx, s->snapshots + idx + 1, sizeof(*list) * (size_t)(count - (uint32_t)idx));
    uint32_t old_count = s->nb_snapshots;
    /* Drop the entry first; its clusters are lowered once no durable table names it. */
    if (!replace_snapshot_table(s, list, count, err)) {
        s->nb_snapshots = old_count;
        g_free(list);
        return false;
    }
    g_free(s->snapshots);
    s->snapshots = list;
    uint64_t *l1 = NULL;
    bool ok = read_l1(s, gone.l1_offset, gone.l1_size, &l1, err) &&
              qcow2_update_l1_refcounts(s, l1, gone.l1_size, -1, err) &&
              qcow2_free_clusters_now(s, gone.l1_offset, l1_bytes(s, gone.l1_size), err) &&
              qcow2_update_copied_flags(s, err);
    g_free(l1);
    g_free(gone.id);
    g_free(gone.name);
    g_free(gone.extra_unknown);
    return ok && end_operation(s, err);
}

static Qcow2State *snapshot_state(BlockImage *img, GError **err)
{
    Qcow2State *s = qcow2_state(img);
    if (!s)
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: only qcow2 images have internal snapshots", block_filename(img));
    return s;
}

static bool snapshot_create(BlockImage *img, const char *name, uint64_t vm_state_size,
                            uint64_t vm_clock_nsec, bool savevm, GError **err)
{
    Qcow2State *s = snapshot_state(img, err);
    if (!s)
        return false;
    block_drain(img);
    g_mutex_lock(&s->lock);
    bool ok = snapshot_create_locked(s, name, vm_state_size, vm_clock_nsec, savevm, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_snapshot_create(BlockImage *img, const char *name, GError **err)
{
    return snapshot_create(img, name, 0, 0, false, err);
}

bool qcow2_snapshot_create_full(BlockImage *img, const char *name, uint64_t vm_state_size,
                                uint64_t vm_clock_nsec, GError **err)
{
    return snapshot_create(img, name, vm_state_size, vm_clock_nsec, true, err);
}

bool qcow2_snapshot_apply(BlockImage *img, const char *id_or_name, GError **err)
{
    Qcow2State *s = snapshot_state(img, err);
    if (!s)
        return false;
    block_drain(img);
    g_mutex_lock(&s->lock);
    bool ok = snapshot_apply_locked(s, id_or_name, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_snapshot_delete(BlockImage *img, const char *id_or_name, GError **err)
{
    Qcow2State *s = snapshot_state(img, err);
    if (!s)
        return false;
    block_drain(img);
    g_mutex_lock(&s->lock);
    bool ok = snapshot_delete_locked(s, id_or_name, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

void qcow2_snapshot_info_free(Qcow2SnapshotInfo *info)
{
    if (!info)
        return;
    g_free(info->id);
    g_free(info->name);
    g_free(info);
}

static Qcow2SnapshotInfo *snapshot_info(const Qcow2Snapshot *sn)
{
    Qcow2SnapshotInfo *info = g_new0(Qcow2SnapshotInfo, 1);
    info->id = g_strdup(sn->id);
    info->name = g_strdup(sn->name);
    info->vm_state_size = sn->vm_state_size;
    info->date_sec = sn->date_sec;
    info->date_nsec = sn->date_nsec;
    info->vm_clock_nsec = sn->vm_clock_nsec;
    info->disk_size = sn->disk_size;
    info->icount = sn->icount;
    info->has_icount = sn->has_icount;
    return info;
}

GPtrArray *qcow2_snapshot_list(BlockImage *img, GError **err)
{
    Qcow2State *s = snapshot_state(img, err);
    if (!s)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)qcow2_snapshot_info_free);
    g_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->nb_snapshots; i++)
        g_ptr_array_add(out, snapshot_info(&s->snapshots[i]));
    g_mutex_unlock(&s->lock);
    return out;
}

Qcow2SnapshotInfo *qcow2_snapshot_find(BlockImage *img, const char *id_or_name, GError **err)
{
    Qcow2State *s = snapshot_state(img, err);
    if (!s)
        return NULL;
    g_mutex_lock(&s->lock);
    int i = find_snapshot(s, id_or_name);
    Qcow2SnapshotInfo *info = i < 0 ? NULL : snapshot_info(&s->snapshots[i]);
    g_mutex_unlock(&s->lock);
    return info;
}
