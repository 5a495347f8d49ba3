/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the read-only drivers for other products' images (vmdk, vdi, vpc, vhdx) share:
 * reads and allocation status through a driver's map function, refusing writes, and the
 * bookkeeping of their table checks. */
#include "disks/block-internal.h"

#include <stdarg.h>
#include <string.h>

uint32_t block_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static gsize ready;
    if (g_once_init_enter(&ready)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1; /* reflected Castagnoli polynomial */
            table[i] = c;
        }
        g_once_init_leave(&ready, 1);
    }
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void block_set_corrupt(GError **err, BlockImage *img, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT, "%s: corrupt %s image: %s", img->filename,
                img->drv->name, msg);
    g_free(msg);
}

void *block_table_read(BlockImage *img, HostFile *file, uint64_t file_size, const char *what,
                       uint64_t offset, uint64_t count, unsigned entry_size, bool big_endian,
                       GError **err)
{
    g_assert(entry_size == 4 || entry_size == 8);
    if (count > file_size / entry_size || !block_range_in_file(offset, count * entry_size, file_size)) {
        block_set_corrupt(err, img, "%s (%" PRIu64 " entries at offset %" PRIu64 ") does not lie "
                          "inside the %" PRIu64 "-byte file", what, count, offset, file_size);
        return NULL;
    }
    size_t bytes = (size_t)(count * entry_size);
    void *table = g_try_malloc(bytes ? bytes : 1);
    if (!table) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_FAILED, "%s: out of memory for %s",
                    img->filename, what);
        return NULL;
    }
    if (bytes && !host_file_pread(file, offset, table, bytes, err)) {
        g_free(table);
        return NULL;
    }
    if (entry_size == 4) {
        uint32_t *t = table;
        for (uint64_t i = 0; i < count; i++)
            t[i] = big_endian ? GUINT32_FROM_BE(t[i]) : GUINT32_FROM_LE(t[i]);
    } else {
        uint64_t *t = table;
        for (uint64_t i = 0; i < count; i++)
            t[i] = big_endian ? GUINT64_FROM_BE(t[i]) : GUINT64_FROM_LE(t[i]);
    }
    return table;
}

void block_check_reportf(BlockCheckReportFn report, void *opaque, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    report(opaque, line);
    g_free(line);
}

bool block_map_pread(BlockImage *img, BlockMapFn map, uint64_t offset, void *buf, size_t len,
                     GError **err)
{
    uint8_t *out = buf;
    while (len > 0) {
        BlockMapping m = { 0 };
        if (!map(img, offset, len, &m, err))
            return false;
        uint64_t n = m.length < len ? m.length : len;
        if (n == 0) {
            block_set_corrupt(err, img, "empty mapping at offset %" PRIu64, offset);
            return false;
        }
        if (m.kind == BLOCK_MAP_DATA) {
            if (!host_file_pread(m.file, m.host_offset, out, (size_t)n, err))
                return false;
        } else if (m.kind == BLOCK_MAP_COMPRESSED) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: compressed data the driver did not read", img->filename);
            return false;
        } else {
            memset(out, 0, (size_t)n);
        }
        out += n;
        offset += n;
        len -= (size_t)n;
    }
    return true;
}

bool block_map_get_status(BlockImage *img, BlockMapFn map, uint64_t offset, uint64_t max_len,
                          BlockStatus *st, GError **err)
{
    BlockMapping m = { 0 };
    if (!map(img, offset, max_len, &m, err))
        return false;
    st->length = m.length < max_len ? m.length : max_len;
    switch (m.kind) {
    case BLOCK_MAP_UNALLOCATED:
        /* No backing files: the bottom of the chain, where unallocated reads as zeros. */
        st->allocated = false;
        st->zero = true;
        break;
    case BLOCK_MAP_ZERO:
        st->allocated = true;
        st->zero = true;
        break;
    case BLOCK_MAP_DATA:
        st->allocated = true;
        st->data = true;
        st->offset_valid = true;
        st->host_offset = m.host_offset;
        break;
    case BLOCK_MAP_COMPRESSED:
        st->allocated = true;
        st->data = true;
        st->compressed = true;
        break;
    }
    return true;
}

bool block_ro_refuse_write_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    if (opts->read_only)
        return true;
    g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY,
                "%s: Vireo opens %s images read-only; convert it with "
                "'vireo-img convert -O qcow2', or use it read-only (-snapshot)",
                img->filename, img->drv->name);
    return false;
}

static bool refuse(BlockImage *img, GError **err)
{
    g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s: Vireo cannot write %s images",
                img->filename, img->drv->name);
    return false;
}

bool block_ro_pwrite(BlockImage *img, uint64_t offset, const void *buf, size_t len, GError **err)
{
    return refuse(img, err);
}

bool block_ro_flush(BlockImage *img, GError **err)
{
    return true;
}

bool block_ro_discard(BlockImage *img, uint64_t offset, uint64_t len, GError **err)
{
    return refuse(img, err);
}

bool block_ro_write_zeroes(BlockImage *img, uint64_t offset, uint64_t len, bool may_unmap,
                           GError **err)
{
    return refuse(img, err);
}

bool block_ro_truncate(BlockImage *img, uint64_t size, BlockPrealloc prealloc, bool allow_shrink,
                       GError **err)
{
    return refuse(img, err);
}

/* Used ranges kept sorted by start in a GTree would be neater, but checks visit entries
 * in table order, and sorting an array of ranges once at the end finds overlaps in
 * O(n log n) just as well. */
typedef struct Range {
    uint64_t start, end;
} Range;

struct BlockCheckSpace {
    uint64_t file_size;
    GArray *ranges;
};

BlockCheckSpace *block_check_space_new(uint64_t file_size)
{
    BlockCheckSpace *s = g_new0(BlockCheckSpace, 1);
    s->file_size = file_size;
    s->ranges = g_array_new(FALSE, FALSE, sizeof(Range));
    return s;
}

bool block_check_space_use(BlockCheckSpace *s, uint64_t offset, uint64_t len)
{
    if (!block_range_in_file(offset, len, s->file_size))
        return false;
    Range r = { offset, offset + len };
    g_array_append_val(s->ranges, r);
    return true;
}

static gint range_cmp(gconstpointer a, gconstpointer b)
{
    const Range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The number of ranges that overlap an earlier one. */
uint64_t block_check_space_overlaps(BlockCheckSpace *s)
{
    g_array_sort(s->ranges, range_cmp);
    uint64_t n = 0, end = 0;
    for (guint i = 0; i < s->ranges->len; i++) {
        Range *r = &g_array_index(s->ranges, Range, i);
        if (i > 0 && r->start < end)
            n++;
        if (r->end > end)
            end = r->end;
    }
    return n;
}

void block_check_space_free(BlockCheckSpace *s)
{
    g_array_free(s->ranges, TRUE);
    g_free(s);
}

bool block_check_tables(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                        void *opaque, GError **err)
{
    memset(res, 0, sizeof(*res));
    if (!img->drv->check) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "This image format does not support checks");
        return false;
    }
    return img->drv->check(img, res, report, opaque, err);
}
