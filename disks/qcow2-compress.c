/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Compressed cluster payloads: raw deflate with a 4 KiB window (what QEMU writes for
 * compression type zlib) or a zstd frame. Decompression stops once a cluster is full;
 * the bytes after it in the last sector are not part of the stream. */
#include "disks/qcow2-internal.h"

#include <zlib.h>
#include <zstd.h>

static bool deflate_raw(const void *in, size_t in_len, void *out, size_t out_cap,
                        size_t *out_len)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_cap;
    int r = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    /* Z_OK or Z_BUF_ERROR here means it did not fit: store the cluster uncompressed. */
    return r == Z_STREAM_END;
}

static bool inflate_raw(const void *in, size_t in_len, void *out, size_t out_len)
{
    z_stream z = { 0 };
    if (inflateInit2(&z, -12) != Z_OK)
        return false;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int r = inflate(&z, Z_FINISH);
    bool ok = (r == Z_STREAM_END || r == Z_OK || r == Z_BUF_ERROR) && z.avail_out == 0;
    inflateEnd(&z);
    return ok;
}

static bool zstd_pack(const void *in, size_t in_len, void *out, size_t out_cap,
                      size_t *out_len)
{
    size_t r = ZSTD_compress(out, out_cap, in, in_len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(r))
        return false;
    *out_len = r;
    return true;
}

static bool zstd_unpack(const void *in, size_t in_len, void *out, size_t out_len)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return false;
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    bool ok = true;
    while (ob.pos < ob.size) {
        size_t before_in = ib.pos, before_out = ob.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            ok = false;
            break;
        }
        if (r == 0 && ob.pos < ob.size) {
            ok = false; /* the frame ended before the cluster was full */
            break;
        }
        if (ib.pos == before_in && ob.pos == before_out) {
            ok = false; /* truncated input: no progress possible */
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return ok;
}

bool qcow2_compress(Qcow2CompressionType type, const void *in, size_t in_len, void *out,
                    size_t out_cap, size_t *out_len)
{
    if (type == QCOW2_COMPRESSION_ZSTD)
        return zstd_pack(in, in_len, out, out_cap, out_len);
    return deflate_raw(in, in_len, out, out_cap, out_len);
}

bool qcow2_decompress(Qcow2CompressionType type, const void *in, size_t in_len, void *out,
                      size_t out_len)
{
    if (type == QCOW2_COMPRESSION_ZSTD)
        return zstd_unpack(in, in_len, out, out_len);
    return inflate_raw(in, in_len, out, out_len);
}
