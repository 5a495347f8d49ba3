/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The qcow2 driver: open and close, guest reads and writes, flush, resize.
 *
 * Concurrency: one mutex per image guards the metadata. Reads and writes in place
 * (clusters the active layer owns alone) look their mapping up under the lock and move
 * the data without it; allocating writes run entirely under the lock. */
#include "disks/qcow2-internal.h"

#include <stdlib.h>
#include <string.h>

Qcow2State *qcow2_state(BlockImage *img)
{
    return img && img->drv == &block_driver_qcow2 ? img->opaque : NULL;
}

void qcow2_signal_corruption(Qcow2State *s, GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    bool mark = !s->read_only && !s->check_mode && !s->corrupt_seen && s->version >= 3;
    s->corrupt_seen = true;
    if (mark) {
        /* Best effort: the error below is what matters. */
        s->incompatible |= QCOW2_INCOMPAT_CORRUPT;
        if (qcow2_header_update_field(s, QCOW2_HDR_INCOMPAT, NULL))
            host_file_flush(s->file, NULL);
    }
    g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT, "%s: qcow2 image is corrupt: %s%s",
                s->img->filename, what, mark ? " (image marked corrupt)" : "");
    g_free(what);
}

bool qcow2_check_table_location(Qcow2State *s, uint64_t offset, uint64_t bytes,
                                const char *what, GError **err)
{
    if (bytes == 0)
        return true;
    if (qcow2_offset_into_cluster(s, offset)) {
        qcow2_signal_corruption(s, err, "%s at 0x%" PRIx64 " is not cluster aligned", what,
                                offset);
        return false;
    }
    if (offset < s->cluster_size) {
        qcow2_signal_corruption(s, err, "%s overlaps the image header", what);
        return false;
    }
    uint64_t size;
    if (!host_file_size(s->file, &size, err))
        return false;
    if (offset > size || bytes > size - offset) {
        qcow2_signal_corruption(s, err, "%s at 0x%" PRIx64 " (%" PRIu64
                                " bytes) lies past the end of the file", what, offset, bytes);
        return false;
    }
    return true;
}

bool qcow2_mark_dirty(Qcow2State *s, GError **err)
{
    if ((s->incompatible & QCOW2_INCOMPAT_DIRTY) || s->version < 3 || s->read_only)
        return true;
    s->incompatible |= QCOW2_INCOMPAT_DIRTY;
    if (!qcow2_header_update_field(s, QCOW2_HDR_INCOMPAT, err) || !qcow2_sync(s, err)) {
        s->incompatible &= ~QCOW2_INCOMPAT_DIRTY;
        return false;
    }
    return true;
}

bool qcow2_host_write_unmarked(Qcow2State *s, uint64_t offset, const void *buf, size_t len,
                               GError **err)
{
    s->needs_sync = true;
    return host_file_pwrite(s->file, offset, buf, len, err);
}

bool qcow2_host_write(Qcow2State *s, uint64_t offset, const void *buf, size_t len,
                      GError **err)
{
    return qcow2_mark_dirty(s, err) && qcow2_host_write_unmarked(s, offset, buf, len, err);
}

bool qcow2_host_writev(Qcow2State *s, uint64_t offset, const struct iovec *iov, int iovcnt,
                       GError **err)
{
    if (!qcow2_mark_dirty(s, err))
        return false;
    s->needs_sync = true;
    return host_file_pwritev(s->file, offset, iov, iovcnt, err);
}

bool qcow2_sync(Qcow2State *s, GError **err)
{
    bool data = g_atomic_int_exchange(&s->data_dirty, 0) != 0;
    if (!s->needs_sync && !data)
        return true;
    s->needs_sync = false;
    if (!host_file_flush(s->file, err)) {
        s->needs_sync = true;
        return false;
    }
    return true;
}

void qcow2_mark_l1_dirty(Qcow2State *s, uint32_t index)
{
    if (s->l1_dirty_lo == s->l1_dirty_hi) {
        s->l1_dirty_lo = index;
        s->l1_dirty_hi = index + 1;
        return;
    }
    if (index < s->l1_dirty_lo)
        s->l1_dirty_lo = index;
    if (index + 1 > s->l1_dirty_hi)
        s->l1_dirty_hi = index + 1;
}

bool qcow2_write_l1_entries(Qcow2State *s, GError **err)
{
    uint32_t lo = s->l1_dirty_lo, hi = s->l1_dirty_hi;
    if (lo == hi)
        return true;
    uint8_t *buf = g_malloc((size_t)(hi - lo) * 8);
    for (uint32_t i = lo; i < hi; i++)
        qcow2_put_be64(buf + (size_t)(i - lo) * 8, s->l1[i]);
    bool ok = qcow2_host_write(s, s->l1_offset + (uint64_t)lo * 8, buf, (size_t)(hi - lo) * 8,
                               err);
    g_free(buf);
    if (ok)
        s->l1_dirty_lo = s->l1_dirty_hi = 0;
    return ok;
}

/* The order that keeps every prefix of the writes consistent: refcount blocks, sync,
 * L2 tables, L1 entries, sync; only then may references dropped before this point lose
 * their refcounts. */
bool qcow2_flush_metadata(Qcow2State *s, GError **err)
{
    if (s->read_only)
        return true;
    if (!qcow2_cache_flush(s->refblock_cache, err) || !qcow2_sync(s, err))
        return false;
    if (!qcow2_cache_flush(s->l2_cache, err) || !qcow2_write_l1_entries(s, err) ||
        !qcow2_sync(s, err))
        return false;
    s->pending_durable = s->pending_frees->len;
    if (s->pending_durable)
        g_atomic_int_set(&s->frees_waiting, 1);
    if (!qcow2_apply_pending_frees(s, err))
        return false;
    if (s->pending_durable == 0)
        g_atomic_int_set(&s->frees_waiting, 0);
    /* The lowered counts need no sync of their own: losing them only leaks. */
    return qcow2_cache_flush(s->refblock_cache, err);
}

static void unlocked_io_begin(Qcow2State *s)
{
    g_atomic_int_inc(&s->unlocked_io);
}

static void unlocked_io_end(Qcow2State *s)
{
    if (g_atomic_int_dec_and_test(&s->unlocked_io) && g_atomic_int_get(&s->frees_waiting)) {
        g_mutex_lock(&s->lock);
        if (qcow2_apply_pending_frees(s, NULL) && s->pending_durable == 0)
            g_atomic_int_set(&s->frees_waiting, 0);
        g_mutex_unlock(&s->lock);
    }
}

static unsigned default_l2_cache_entries(Qcow2State *s, uint64_t bytes)
{
    /* QEMU's default: enough tables to map the whole disk, at most 32 MiB of them. */
    uint64_t want = bytes ? bytes >> s->cluster_bits : qcow2_l1_entries_for(s->cluster_bits, s->size);
    uint64_t max = (32u * 1024 * 1024) >> s->cluster_bits;
    if (!bytes && want > max)
        want = max;
    if (want < 8)
        want = 8;
    if (want > 65536)
        want = 65536;
    return (unsigned)want;
}

static bool load_l1(Qcow2State *s, GError **err)
{
    s->l1 = g_new0(uint64_t, s->l1_size ? s->l1_size : 1);
    if (s->l1_size == 0)
        return true;
    uint64_t bytes = (uint64_t)s->l1_size * 8;
    if (!qcow2_check_table_location(s, s->l1_offset, bytes, "L1 table", err))
        return false;
    uint8_t *raw = g_malloc(bytes);
    bool ok = host_file_pread(s->file, s->l1_offset, raw, bytes, err);
    for (uint32_t i = 0; ok && i < s->l1_size; i++)
        s->l1[i] = qcow2_be64(raw + (size_t)i * 8);
    g_free(raw);
    return ok;
}

static void free_state(Qcow2State *s)
{
    qcow2_cache_free(s->l2_cache);
    qcow2_refcount_close(s);
    qcow2_snapshots_free(s->snapshots, s->nb_snapshots);
    g_free(s->l1);
    g_free(s->backing_name);
    g_free(s->backing_format);
    g_free(s->header_tail);
    if (s->unknown_exts)
        g_ptr_array_free(s->unknown_exts, TRUE);
    g_array_free(s->inflight, TRUE);
    g_cond_clear(&s->inflight_cond);
    g_mutex_clear(&s->lock);
    g_free(s);
}

static bool qcow2_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    /* Nothing in qcow2 depends on the exact file size: zeros past the last cluster are
     * free clusters. Saves an ftruncate per misaligned O_DIRECT write at the end. */
    img->file->padding_ok = true;
    Qcow2State *s = g_new0(Qcow2State, 1);
    g_mutex_init(&s->lock);
    g_cond_init(&s->inflight_cond);
    s->inflight = g_array_new(FALSE, FALSE, sizeof(Qcow2Inflight));
    s->img = img;
    s->file = img->file;
    s->read_only = img->read_only;
    s->check_mode = opts->check_mode;
    img->opaque = s;
    bool ok = qcow2_header_read(s, err);
    if (ok && !s->read_only && s->version < 3) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: qcow2 version 2 (compat=0.10) images are supported read-only; "
                    "convert it to version 3 with vireo-img convert -O qcow2",
                    img->filename);
        ok = false;
    }
    if (ok && !s->read_only && !s->check_mode && (s->incompatible & QCOW2_INCOMPAT_CORRUPT)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: qcow2 image is marked corrupt and cannot be opened read/write; "
                    "repair it with vireo-img check -r all", img->filename);
        ok = false;
    }
    ok = ok && load_l1(s, err) && qcow2_refcount_init(s, err);
    if (ok) {
        unsigned entries = default_l2_cache_entries(s, opts->l2_cache_bytes);
        s->l2_cache = qcow2_cache_new(s, entries, true);
        ok = qcow2_snapshots_read(s, err);
    }
    uint64_t file_size = 0;
    ok = ok && host_file_size(s->file, &file_size, err);
    if (!ok) {
        free_state(s);
        img->opaque = NULL;
        host_file_close(img->file);
        img->file = NULL;
        return false;
    }
    s->known_zero_from = file_size;
    img->size = s->size;
    img->backing_name = g_strdup(s->backing_name);
    img->backing_format = g_strdup(s->backing_format);

    if (!s->read_only) {
        /* "autoclear_features": we keep no bitmaps up to date, so a writer must clear
         * the bits before changing anything. A repair touches only refcounts and
         * copied flags, which leaves bitmaps valid: check keeps them. */
        if (s->autoclear && !s->check_mode) {
            s->autoclear = 0;
            ok = qcow2_header_update_field(s, QCOW2_HDR_AUTOCLEAR, err) && qcow2_sync(s, err);
        }
        if (ok && (s->incompatible & QCOW2_INCOMPAT_DIRTY) && !s->check_mode)
            ok = qcow2_repair_on_open(s, err);
        if (!ok) {
            free_state(s);
            img->opaque = NULL;
            host_file_close(img->file);
            img->file = NULL;
            return false;
        }
    }
    return true;
}

static void qcow2_close(BlockImage *img)
{
    Qcow2State *s = img->opaque;
    if (!s) {
        host_file_close(img->file);
        img->file = NULL;
        return;
    }
    if (!s->read_only && !s->corrupt_seen) {
        /* block_close flushed already and reported failures; this only syncs the
         * lowered refcounts that flush wrote last. With every count on the disk the
         * dirty bit comes off: nothing leaked. */
        g_mutex_lock(&s->lock);
        if (qcow2_flush_metadata(s, NULL) && qcow2_sync(s, NULL) && s->pending_frees->len == 0)
            qcow2_set_incompatible_bits(s, 0, QCOW2_INCOMPAT_DIRTY, NULL);
        g_mutex_unlock(&s->lock);
    }
    free_state(s);
    img->opaque = NULL;
    host_file_close(img->file);
    img->file = NULL;
}

static bool qcow2_flush(BlockImage *img, GError **err)
{
    Qcow2State *s = img->opaque;
    if (s->read_only)
        return true;
    g_mutex_lock(&s->lock);
    bool ok = qcow2_flush_metadata(s, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    Qcow2State *s = img->opaque;
    uint8_t *out = buf;
    while (len > 0) {
        Qcow2Mapping m;
        g_mutex_lock(&s->lock);
        bool ok = qcow2_get_mapping(s, offset, len, &m, err);
        if (ok && (m.type == QCOW2_CLUSTER_NORMAL || m.type == QCOW2_CLUSTER_COMPRESSED))
            unlocked_io_begin(s);
        g_mutex_unlock(&s->lock);
        if (!ok)
            return false;
        size_t n = (size_t)m.bytes;
        switch (m.type) {
        case QCOW2_CLUSTER_UNALLOCATED:
            ok = block_read_backing(img, offset, out, n, err);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            memset(out, 0, n);
            break;
        case QCOW2_CLUSTER_NORMAL:
            ok = host_file_pread_zero_fill(s->file, m.host_offset, out, n, err);
            unlocked_io_end(s);
            break;
        case QCOW2_CLUSTER_COMPRESSED: {
            uint8_t *tmp = g_malloc(s->cluster_size);
            ok = qcow2_read_compressed(s, m.l2_entry, tmp, err);
            if (ok)
                memcpy(out, tmp + qcow2_offset_into_cluster(s, offset), n);
            g_free(tmp);
            unlocked_io_end(s);
            break;
        }
        }
        if (!ok)
            return false;
        out += n;
        offset += n;
        len -= n;
    }
    return true;
}

static bool check_writable(Qcow2State *s, GError **err)
{
    if (s->corrupt_seen) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT,
                    "%s: writes refused after corruption was found", s->img->filename);
        return false;
    }
    return true;
}

bool qcow2_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len,
                  GError **err)
{
    Qcow2State *s = img->opaque;
    const uint8_t *in = buf;
    while (len > 0) {
        Qcow2Mapping m;
        g_mutex_lock(&s->lock);
        bool ok = check_writable(s, err) && qcow2_get_mapping(s, offset, len, &m, err);
        if (!ok) {
            g_mutex_unlock(&s->lock);
            return false;
        }
        size_t n = (size_t)m.bytes;
        if (qcow2_inflight_overlaps(s, offset, n)) {
            /* Another write is giving these clusters new homes: look again after. */
            qcow2_wait_inflight(s, offset, n);
            g_mutex_unlock(&s->lock);
            continue;
        }
        if (m.type == QCOW2_CLUSTER_NORMAL && m.copied) {
            unlocked_io_begin(s);
            g_mutex_unlock(&s->lock);
            ok = host_file_pwrite(s->file, m.host_offset, in, n, err);
            g_atomic_int_set(&s->data_dirty, 1);
            unlocked_io_end(s);
        } else {
            Qcow2AllocWrite w;
            ok = qcow2_alloc_prepare(s, offset, n, &w, err);
            g_mutex_unlock(&s->lock);
            if (ok) {
                GError *io_err = NULL;
                bool io_ok = qcow2_alloc_io(s, &w, in, &io_err);
                g_mutex_lock(&s->lock);
                ok = qcow2_alloc_finish(s, &w, io_ok, err);
                g_mutex_unlock(&s->lock);
                if (!io_ok) {
                    g_propagate_error(err, io_err);
                    ok = false;
                }
            }
        }
        if (!ok)
            return false;
        in += n;
        offset += n;
        len -= n;
    }
    return true;
}

/* Splits [offset, offset + len) into whole clusters (handled by fn) and partial edges
 * (written as zeros); a cluster cut short by the end of the image counts as whole. */
static bool for_whole_clusters(Qcow2State *s, uint64_t offset, uint64_t len,
                               bool (*fn)(Qcow2State *, uint64_t, uint64_t, bool, GError **),
                               bool arg, bool zero_edges, GError **err)
{
    uint64_t end = offset + len;
    uint64_t first = (offset + s->cluster_size - 1) & ~(s->cluster_size - 1);
    uint64_t last = end == s->size ? end : qcow2_cluster_start(s, end);
    if (first >= last) {
        if (!zero_edges)
            return true;
        g_mutex_unlock(&s->lock);
        bool ok = true;
        for (uint64_t pos = offset; pos < end && ok;) {
            size_t chunk = end - pos > (1u << 21) ? (1u << 21) : (size_t)(end - pos);
            ok = qcow2_pwrite(s->img, pos, host_zero_buffer(chunk), chunk, err);
            pos += chunk;
        }
        g_mutex_lock(&s->lock);
        return ok;
    }
    if (zero_edges && offset < first) {
        g_mutex_unlock(&s->lock);
        bool ok = qcow2_pwrite(s->img, offset, host_zero_buffer(first - offset), first - offset,
                               err);
        g_mutex_lock(&s->lock);
        if (!ok)
            return false;
    }
    qcow2_wait_inflight(s, first, last - first);
    if (!fn(s, first, last - first, arg, err))
        return false;
    if (zero_edges && last < end) {
        g_mutex_unlock(&s->lock);
        bool ok = qcow2_pwrite(s->img, last, host_zero_buffer(end - last), end - last, err);
        g_mutex_lock(&s->lock);
        if (!ok)
            return false;
    }
    /* Many dropped clusters: make them reusable soon rather than at the next flush. */
    if (s->pending_frees->len > 4096)
        return qcow2_flush_metadata(s, err);
    return true;
}

static bool qcow2_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                               GError **err)
{
    Qcow2State *s = img->opaque;
    g_mutex_lock(&s->lock);
    bool ok = check_writable(s, err) &&
              for_whole_clusters(s, offset, len, qcow2_zero_clusters, may_unmap, true, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

static bool qcow2_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    Qcow2State *s = img->opaque;
    g_mutex_lock(&s->lock);
    bool ok = check_writable(s, err) &&
              for_whole_clusters(s, offset, len, qcow2_discard_clusters, false, false, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_grow_l1(Qcow2State *s, uint64_t min_size, GError **err)
{
    if (min_size <= s->l1_size)
        return true;
    if (min_size * 8 > QCOW2_MAX_L1_BYTES) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: the L1 table would exceed 32 MiB; use a larger cluster size",
                    s->img->filename);
        return false;
    }
    /* The new table copies the in-memory one, so everything it names must be durable. */
    if (!qcow2_flush_metadata(s, err))
        return false;
    uint64_t cs = s->cluster_size;
    uint64_t bytes = (min_size * 8 + cs - 1) & ~(cs - 1);
    uint64_t off;
    if (!qcow2_alloc_clusters(s, bytes / cs, &off, NULL, err))
        return false;
    uint8_t *raw = g_malloc0(bytes);
    for (uint32_t i = 0; i < s->l1_size; i++)
        qcow2_put_be64(raw + (size_t)i * 8, s->l1[i]);
    /* Table and the counts of its clusters durable before the header names it. */
    bool ok = qcow2_host_write(s, off, raw, bytes, err) &&
              qcow2_cache_flush(s->refblock_cache, err) && qcow2_sync(s, err);
    g_free(raw);
    if (!ok) {
        qcow2_free_clusters_now(s, off, bytes, NULL);
        return false;
    }
    uint64_t old_off = s->l1_offset;
    uint64_t old_bytes = (uint64_t)s->l1_size * 8;
    uint64_t *l1 = g_new0(uint64_t, min_size);
    memcpy(l1, s->l1, (size_t)s->l1_size * 8);
    g_free(s->l1);
    s->l1 = l1;
    s->l1_size = (uint32_t)min_size;
    s->l1_offset = off;
    if (!qcow2_header_update_field(s, QCOW2_HDR_L1, err) || !qcow2_sync(s, err))
        return false;
    return qcow2_free_clusters_now(s, old_off, (old_bytes + cs - 1) & ~(cs - 1), err);
}

/* Host runs of the clusters mapping [offset, offset + len), for full preallocation. */
static bool preallocate_host(Qcow2State *s, uint64_t offset, uint64_t len, bool full,
                             GError **err)
{
    uint64_t end = offset + len;
    while (offset < end) {
        Qcow2Mapping m;
        if (!qcow2_get_mapping(s, offset, end - offset, &m, err))
            return false;
        if (m.type == QCOW2_CLUSTER_NORMAL) {
            uint64_t start = qcow2_cluster_start(s, m.host_offset);
            uint64_t stop = (m.host_offset + m.bytes + s->cluster_size - 1) &
                            ~(s->cluster_size - 1);
            s->needs_sync = true;
            if (!host_file_preallocate(s->file, start, stop - start, full, err))
                return false;
        }
        offset += m.bytes;
    }
    return true;
}

/* Highest cluster in use plus one, found from the end of the file. */
static bool used_end(Qcow2State *s, uint64_t *end, GError **err)
{
    uint64_t size;
    if (!host_file_size(s->file, &size, err))
        return false;
    uint64_t c = qcow2_size_to_clusters(s, size);
    while (c > 1) {
        uint64_t rc;
        if (!qcow2_get_refcount(s, c - 1, &rc, err))
            return false;
        if (rc)
            break;
        c--;
    }
    *end = c << s->cluster_bits;
    return true;
}

/* The VM-state area moves with the disk size, so state the active layer holds (after
 * loadvm) means nothing after a resize: drop it, durably, before the new size shows.
 * Kept, growing would show it to the guest and shrinking would leak its clusters. */
static bool drop_vmstate_for_resize(Qcow2State *s, GError **err)
{
    return qcow2_vmstate_discard(s, UINT64_MAX, err) && qcow2_flush_metadata(s, err);
}

static bool truncate_locked(Qcow2State *s, uint64_t size, BlockPrealloc prealloc,
                            bool allow_shrink, GError **err)
{
    if (!check_writable(s, err))
        return false;
    if (size > QCOW2_MAX_VIRTUAL_SIZE) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "size %" PRIu64 " is too large", size);
        return false;
    }
    uint64_t old = s->size;
    if (size < old) {
        if (!allow_shrink) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                        "Use the --shrink option to perform a shrink operation.");
            return false;
        }
        if (s->nb_snapshots) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: cannot shrink an image that has internal snapshots",
                        s->img->filename);
            return false;
        }
        if (prealloc != BLOCK_PREALLOC_OFF) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                        "preallocation makes no sense when shrinking");
            return false;
        }
        if (!drop_vmstate_for_resize(s, err))
            return false;
        /* The size first: clusters past the end stay counted until they are dropped. */
        s->size = size;
        s->img->size = size;
        if (!qcow2_header_update_field(s, QCOW2_HDR_SIZE, err) || !qcow2_sync(s, err))
            return false;
        uint64_t from = (size + s->cluster_size - 1) & ~(s->cluster_size - 1);
        if (from < old && !qcow2_discard_clusters(s, from, old - from, true, err))
            return false;
        /* L2 tables that now map nothing but the space past the end. */
        uint64_t keep = qcow2_l1_entries_for(s->cluster_bits, size);
        for (uint64_t i = keep; i < s->l1_size; i++) {
            uint64_t l2 = s->l1[i] & QCOW2_OFFSET_MASK;
            if (!l2)
                continue;
            s->l1[i] = 0;
            qcow2_mark_l1_dirty(s, (uint32_t)i);
            qcow2_free_clusters_later(s, l2, s->cluster_size);
        }
        if (!qcow2_flush_metadata(s, err))
            return false;
        uint64_t end;
        if (!used_end(s, &end, err))
            return false;
        uint64_t fsize;
        if (host_file_size(s->file, &fsize, NULL) && end < fsize &&
            !s->file->is_block_device) {
            if (!host_file_truncate(s->file, end, err))
                return false;
            s->known_zero_from = end;
        }
        return true;
    }
    if (size != old && !drop_vmstate_for_resize(s, err))
        return false;
    if (!qcow2_grow_l1(s, qcow2_l1_entries_for(s->cluster_bits, size), err))
        return false;
    if (prealloc != BLOCK_PREALLOC_OFF) {
        /* Space first, then the size that exposes it. */
        if (!qcow2_preallocate(s, old, size - old, err) ||
            (prealloc != BLOCK_PREALLOC_METADATA &&
             !preallocate_host(s, old, size - old, prealloc == BLOCK_PREALLOC_FULL, err)) ||
            !qcow2_flush_metadata(s, err))
            return false;
    }
    s->size = size;
    s->img->size = size;
    return qcow2_header_update_field(s, QCOW2_HDR_SIZE, err) && qcow2_sync(s, err);
}

static bool qcow2_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc,
                           bool allow_shrink, GError **err)
{
    Qcow2State *s = img->opaque;
    g_mutex_lock(&s->lock);
    bool ok = truncate_locked(s, size, prealloc, allow_shrink, err);
    g_mutex_unlock(&s->lock);
    return ok;
}

static bool qcow2_get_status(BlockImage *img, uint64_t offset, uint64_t max_len,
                             BlockStatus *st, GError **err)
{
    Qcow2State *s = img->opaque;
    Qcow2Mapping m;
    g_mutex_lock(&s->lock);
    bool ok = qcow2_get_mapping(s, offset, max_len, &m, err);
    g_mutex_unlock(&s->lock);
    if (!ok)
        return false;
    st->length = m.bytes;
    switch (m.type) {
    case QCOW2_CLUSTER_UNALLOCATED:
        break;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        st->allocated = st->zero = true;
        break;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        st->allocated = st->zero = true;
        st->offset_valid = true;
        st->host_offset = m.host_offset;
        break;
    case QCOW2_CLUSTER_NORMAL:
        st->allocated = st->data = true;
        st->offset_valid = true;
        st->host_offset = m.host_offset;
        break;
    case QCOW2_CLUSTER_COMPRESSED:
        st->allocated = st->data = st->compressed = true;
        break;
    }
    return true;
}

static void qcow2_get_info(BlockImage *img, BlockImageInfo *info)
{
    Qcow2State *s = img->opaque;
    info->cluster_size = s->cluster_size;
    info->dirty = (s->incompatible & QCOW2_INCOMPAT_DIRTY) != 0;
}

const BlockDriver block_driver_qcow2 = {
    .name = "qcow2",
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .truncate = qcow2_truncate,
    .get_status = qcow2_get_status,
    .get_info = qcow2_get_info,
};

bool qcow2_update_copied_flags(Qcow2State *s, GError **err)
{
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_OFFSET_MASK;
        if (!l2)
            continue;
        uint64_t rc;
        if (!qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc, err))
            return false;
        uint64_t want = rc == 1 ? (s->l1[i] | QCOW2_OFLAG_COPIED) : (s->l1[i] & ~QCOW2_OFLAG_COPIED);
        if (want != s->l1[i]) {
            s->l1[i] = want;
            qcow2_mark_l1_dirty(s, i);
        }
        uint8_t *table;
        if (!qcow2_cache_get(s->l2_cache, l2, &table, err))
            return false;
        bool dirty = false;
        for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
            uint64_t e = qcow2_l2_get(table, j);
            Qcow2ClusterType t = qcow2_entry_type(s, e);
            uint64_t n = e & ~QCOW2_OFLAG_COPIED;
            if (t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) {
                if (!qcow2_get_refcount(s, (e & QCOW2_OFFSET_MASK) >> s->cluster_bits, &rc, err)) {
                    qcow2_cache_put(s->l2_cache, table);
                    return false;
                }
                if (rc == 1)
                    n |= QCOW2_OFLAG_COPIED;
            }
            if (n != e) {
                qcow2_l2_set(table, j, n);
                dirty = true;
            }
        }
        if (dirty)
            qcow2_cache_mark_dirty(s->l2_cache, table);
        qcow2_cache_put(s->l2_cache, table);
    }
    return true;
}

/* Public helpers from qcow2.h -------------------------------------------------------*/

bool qcow2_get_format_info(BlockImage *img, Qcow2FormatInfo *info)
{
    Qcow2State *s = qcow2_state(img);
    if (!s)
        return false;
    g_mutex_lock(&s->lock);
    info->version = s->version;
    info->cluster_size = (uint32_t)s->cluster_size;
    info->refcount_bits = s->refcount_bits;
    info->compression_type = s->compression_type;
    info->lazy_refcounts = (s->compatible & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    info->corrupt = (s->incompatible & QCOW2_INCOMPAT_CORRUPT) != 0;
    info->dirty = (s->incompatible & QCOW2_INCOMPAT_DIRTY) != 0;
    info->extended_l2 = (s->incompatible & QCOW2_INCOMPAT_EXTL2) != 0;
    g_mutex_unlock(&s->lock);
    return true;
}

static Qcow2State *writable_state(BlockImage *img, GError **err)
{
    Qcow2State *s = qcow2_state(img);
    if (!s) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED, "%s is not a qcow2 image",
                    block_filename(img));
        return NULL;
    }
    if (s->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s is open read-only",
                    img->filename);
        return NULL;
    }
    return s;
}

bool qcow2_set_backing(BlockImage *img, const char *backing_file, const char *backing_format,
                       GError **err)
{
    Qcow2State *s = writable_state(img, err);
    if (!s)
        return false;
    if (backing_file && (!*backing_file || strlen(backing_file) > QCOW2_MAX_BACKING_NAME)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "backing file name must be 1 to 1023 bytes long");
        return false;
    }
    g_mutex_lock(&s->lock);
    char *old_name = s->backing_name, *old_fmt = s->backing_format;
    s->backing_name = g_strdup(backing_file);
    s->backing_format = backing_file ? g_strdup(backing_format) : NULL;
    bool ok = qcow2_flush_metadata(s, err) && qcow2_header_write(s, err) && qcow2_sync(s, err);
    if (ok) {
        g_free(old_name);
        g_free(old_fmt);
        g_free(img->backing_name);
        g_free(img->backing_format);
        img->backing_name = g_strdup(s->backing_name);
        img->backing_format = g_strdup(s->backing_format);
    } else {
        g_free(s->backing_name);
        g_free(s->backing_format);
        s->backing_name = old_name;
        s->backing_format = old_fmt;
    }
    g_mutex_unlock(&s->lock);
    return ok;
}

bool qcow2_write_compressed(BlockImage *img, uint64_t offset, const void *buf, size_t len,
                            GError **err)
{
    Qcow2State *s = writable_state(img, err);
    if (!s)
        return false;
    uint64_t cs = s->cluster_size;
    if (qcow2_offset_into_cluster(s, offset) || len == 0 || len > cs ||
        (len < cs && offset + len != s->size) || offset + len > s->size) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "compressed writes must cover exactly one cluster");
        return false;
    }
    const void *data = buf;
    uint8_t *padded = NULL;
    if (len < cs) {
        padded = g_malloc0(cs);
        memcpy(padded, buf, len);
        data = padded;
    }
    /* Compress without the lock; a result that saves nothing is stored plainly. */
    uint8_t *out = g_malloc(cs);
    size_t clen = 0;
    bool small = qcow2_compress(s->compression_type, data, cs, out, cs - 512, &clen) &&
                 clen > 0 && clen < cs - 512;
    bool ok;
    if (small) {
        g_mutex_lock(&s->lock);
        ok = check_writable(s, err) && qcow2_write_compressed_cluster(s, offset, out, clen, err);
        g_mutex_unlock(&s->lock);
    } else {
        ok = qcow2_pwrite(img, offset, buf, len, err);
    }
    g_free(out);
    g_free(padded);
    return ok;
}

bool qcow2_make_empty(BlockImage *img, GError **err)
{
    Qcow2State *s = writable_state(img, err);
    if (!s)
        return false;
    g_mutex_lock(&s->lock);
    bool ok = check_writable(s, err) &&
              qcow2_discard_clusters(s, 0, (s->size + s->cluster_size - 1) & ~(s->cluster_size - 1),
                                     true, err) &&
              qcow2_flush_metadata(s, err);
    g_mutex_unlock(&s->lock);
    return ok;
}
