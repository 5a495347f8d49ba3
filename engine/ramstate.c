/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest RAM save and load for VM state streams (see ramstate.h for the layout). */
#include "engine/ramstate.h"
#include "engine/config.h"
#include "engine/stream.h"

#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define CHUNK_PAGES 256u
#define CHUNK_BYTES (CHUNK_PAGES * MEM_PAGE_SIZE)
#define BITMAP_BYTES (CHUNK_PAGES / 8)
#define HEADER_BYTES 16u
/* zstd's fastest level: RAM is mostly code and data that compress well at once. */
#define ZSTD_LEVEL 1

static bool fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "RAM state: %s", msg);
    g_free(msg);
    return false;
}





static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (unsigned k = 0; k < MEM_PAGE_SIZE / 8; k++)
        if (w[k])
            return false;
    return true;
}

/* Host pointer of RAM byte offset off (RAM below 4 GiB first, then above). */
static uint8_t *ram_ptr(GuestMemory *m, uint64_t off)
{
    uint64_t low = mem_ram_below_4g(m);
    return off < low ? mem_ram_low(m) + off : m->ram_high + (off - low);
}

bool ram_state_save(GuestMemory *m, GByteArray *out, GError **err)
{
    uint64_t size = mem_ram_size(m);
    guint start = out->len;
    stream_put_le(out, size, 8);
    stream_put_le(out, MEM_PAGE_SIZE, 4);
    stream_put_le(out, CHUNK_PAGES, 4);
    uint64_t pages = size / MEM_PAGE_SIZE;
    uint8_t *plain = g_malloc(CHUNK_BYTES);
    size_t bound = ZSTD_compressBound(CHUNK_BYTES);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    /* Frames carry a checksum, so a flipped bit in saved RAM is refused at load. */
    bool ok = cctx && !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL)) &&
              !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1));
    if (!ok)
        fail(err, "cannot set up zstd");
    for (uint64_t first = 0; ok && first < pages; first += CHUNK_PAGES) {
        uint8_t bitmap[BITMAP_BYTES] = { 0 };
        uint32_t count = 0;
        unsigned n = (unsigned)MIN((uint64_t)CHUNK_PAGES, pages - first);
        /* RAM below and above 4 GiB are both whole multiples of a page, so a page
         * never straddles the two; a chunk may, hence the per-page pointer. */
        for (unsigned k = 0; k < n; k++) {
            const uint8_t *p = ram_ptr(m, (first + k) * MEM_PAGE_SIZE);
            if (!page_is_zero(p)) {
                bitmap[k / 8] |= (uint8_t)(1u << (k % 8));
                memcpy(plain + (size_t)count * MEM_PAGE_SIZE, p, MEM_PAGE_SIZE);
                count++;
            }
        }
        stream_put_le(out, count, 4);
        g_byte_array_append(out, bitmap, BITMAP_BYTES);
        if (count == 0) {
            stream_put_le(out, 0, 4);
            continue;
        }
        guint at = out->len;
        stream_put_le(out, 0, 4);
        g_byte_array_set_size(out, (guint)(out->len + bound));
        size_t z = ZSTD_compress2(cctx, out->data + at + 4, bound, plain, (size_t)count * MEM_PAGE_SIZE);
        if (ZSTD_isError(z)) {
            ok = fail(err, "zstd: %s", ZSTD_getErrorName(z));
            break;
        }
        g_byte_array_set_size(out, (guint)(at + 4 + z));
        stream_set_le(out, at, z, 4);
    }
    ZSTD_freeCCtx(cctx);
    g_free(plain);
    if (ok) /* zstd does not guard every bit of its frame header; the CRC does */
        stream_put_le(out, (uint32_t)crc32(0, out->data + start, out->len - start), 4);
    return ok;
}

/* One pass over the payload; writes RAM only when apply is set. */
static bool ram_state_walk(GuestMemory *m, const uint8_t *buf, size_t len, bool apply,
                           ZSTD_DCtx *dctx, uint8_t *plain, GError **err)
{
    uint64_t size = mem_ram_size(m);
    if (len < HEADER_BYTES)
        return fail(err, "truncated header");
    if (stream_get_le64(buf) != size)
        return fail(err, "saved from %" G_GUINT64_FORMAT " MiB of RAM, this VM has %" G_GUINT64_FORMAT " MiB",
                    stream_get_le64(buf) >> 20, size >> 20);
    if (stream_get_le32(buf + 8) != MEM_PAGE_SIZE || stream_get_le32(buf + 12) != CHUNK_PAGES)
        return fail(err, "unknown page size %u or chunk size %u", stream_get_le32(buf + 8), stream_get_le32(buf + 12));
    size_t pos = HEADER_BYTES;
    uint64_t pages = size / MEM_PAGE_SIZE;
    for (uint64_t first = 0; first < pages; first += CHUNK_PAGES) {
        unsigned n = (unsigned)MIN((uint64_t)CHUNK_PAGES, pages - first);
        if (len - pos < 4 + BITMAP_BYTES + 4)
            return fail(err, "truncated at page %" G_GUINT64_FORMAT, first);
        uint32_t count = stream_get_le32(buf + pos);
        const uint8_t *bitmap = buf + pos + 4;
        uint32_t zlen = stream_get_le32(buf + pos + 4 + BITMAP_BYTES);
        pos += 8 + BITMAP_BYTES;
        unsigned bits = 0;
        for (unsigned k = 0; k < CHUNK_PAGES; k++) {
            if (bitmap[k / 8] & (1u << (k % 8))) {
                if (k >= n)
                    return fail(err, "a page beyond the end of RAM in the chunk at page %" G_GUINT64_FORMAT, first);
                bits++;
            }
        }
        if (bits != count)
            return fail(err, "chunk at page %" G_GUINT64_FORMAT " counts %u pages, its bitmap %u",
                        first, count, bits);
        if (zlen > len - pos)
            return fail(err, "truncated in the chunk at page %" G_GUINT64_FORMAT, first);
        if ((count == 0) != (zlen == 0))
            return fail(err, "chunk at page %" G_GUINT64_FORMAT " has %u pages and %u compressed bytes",
                        first, count, zlen);
        if (count) {
            size_t want = (size_t)count * MEM_PAGE_SIZE;
            size_t got = ZSTD_decompressDCtx(dctx, plain, CHUNK_BYTES, buf + pos, zlen);
            if (ZSTD_isError(got))
                return fail(err, "chunk at page %" G_GUINT64_FORMAT ": zstd: %s", first, ZSTD_getErrorName(got));
            if (got != want)
                return fail(err, "chunk at page %" G_GUINT64_FORMAT " holds %zu bytes, not %zu",
                            first, got, want);
        }
        pos += zlen;
        if (apply) {
            unsigned used = 0;
            for (unsigned k = 0; k < n; k++) {
                uint8_t *p = ram_ptr(m, (first + k) * MEM_PAGE_SIZE);
                if (bitmap[k / 8] & (1u << (k % 8)))
                    memcpy(p, plain + (size_t)used++ * MEM_PAGE_SIZE, MEM_PAGE_SIZE);
                else if (!page_is_zero(p))
                    /* Reading a page the guest never touched is cheap; writing it would
                     * give it memory of its own. */
                    memset(p, 0, MEM_PAGE_SIZE);
            }
        }
    }
    if (pos != len)
        return fail(err, "%zu bytes after the last chunk", len - pos);
    return true;
}

/* check: verify the checksum and the structure; apply: write RAM (after a check of
 * the same bytes, unless check is set too). */
static bool ram_state_run(GuestMemory *m, const uint8_t *buf, size_t len, bool check, bool apply,
                          GError **err)
{
    if (len < HEADER_BYTES + 4)
        return fail(err, "truncated header");
    len -= 4;
    if (check && crc32(0, buf, (uInt)len) != stream_get_le32(buf + len))
        return fail(err, "the checksum does not match (damaged or truncated)");
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return fail(err, "cannot set up zstd");
    uint8_t *plain = g_malloc(CHUNK_BYTES);
    /* Decompressing twice keeps memory at one chunk and RAM untouched on any error. */
    bool ok = (!check || ram_state_walk(m, buf, len, false, dctx, plain, err)) &&
              (!apply || ram_state_walk(m, buf, len, true, dctx, plain, err));
    g_free(plain);
    ZSTD_freeDCtx(dctx);
    if (ok && apply)
        mem_ram_replaced(m);
    return ok;
}

bool ram_state_check(GuestMemory *m, const uint8_t *buf, size_t len, GError **err)
{
    return ram_state_run(m, buf, len, true, false, err);
}

bool ram_state_load(GuestMemory *m, const uint8_t *buf, size_t len, GError **err)
{
    return ram_state_run(m, buf, len, true, true, err);
}

bool ram_state_load_checked(GuestMemory *m, const uint8_t *buf, size_t len, GError **err)
{
    return ram_state_run(m, buf, len, false, true, err);
}
