/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Creating qcow2 images. A minimal image (header, refcount table, one refcount block)
 * is written first; the driver then grows it to the requested size, so the L1 table and
 * any preallocation go through the same allocator as every later write. */
#include "disks/qcow2-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

bool qcow2_compression_type_parse(const char *name, Qcow2CompressionType *type)
{
    if (!g_strcmp0(name, "zlib")) {
        *type = QCOW2_COMPRESSION_ZLIB;
        return true;
    }
    if (!g_strcmp0(name, "zstd")) {
        *type = QCOW2_COMPRESSION_ZSTD;
        return true;
    }
    return false;
}

/* Refcount table and block bytes needed to count clusters clusters plus themselves:
 * adding blocks adds clusters to count, so iterate to the fixed point. */
static uint64_t refcount_metadata_bytes(uint64_t clusters, uint64_t cs, unsigned refcount_bits)
{
    uint64_t per_block = cs * 8 / refcount_bits;
    uint64_t per_table_cluster = cs / 8;
    uint64_t blocks = 0, table = 0, total = 0, prev;
    do {
        prev = total;
        blocks = (clusters + blocks + table + per_block - 1) / per_block;
        table = (blocks + per_table_cluster - 1) / per_table_cluster;
        total = clusters + blocks + table;
    } while (total != prev);
    return (blocks + table) * cs;
}

uint64_t qcow2_fully_allocated_size(uint64_t virtual_size, uint32_t cluster_size,
                                    unsigned refcount_bits)
{
    uint64_t cs = cluster_size;
    uint64_t data = (virtual_size + cs - 1) / cs * cs;
    uint64_t entries_per_cluster = cs / 8;
    uint64_t meta = cs; /* header */
    uint64_t l2_entries = data / cs;
    l2_entries = (l2_entries + entries_per_cluster - 1) / entries_per_cluster * entries_per_cluster;
    meta += l2_entries * 8;
    uint64_t l1_entries = l2_entries * 8 / cs;
    l1_entries = (l1_entries + entries_per_cluster - 1) / entries_per_cluster * entries_per_cluster;
    meta += l1_entries * 8;
    meta += refcount_metadata_bytes((meta + data) / cs, cs, refcount_bits);
    return meta + data;
}

static bool validate(const Qcow2CreateOptions *o, uint32_t *cs, unsigned *rb, GError **err)
{
    *cs = o->cluster_size ? o->cluster_size : 65536;
    if (*cs < 512 || *cs > 2 * 1024 * 1024 || (*cs & (*cs - 1))) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Cluster size must be a power of two between 512 and 2048k");
        return false;
    }
    *rb = o->refcount_bits ? o->refcount_bits : 16;
    if (*rb > 64 || (*rb & (*rb - 1))) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Refcount width must be a power of two and may not exceed 64 bits");
        return false;
    }
    if (o->size > QCOW2_MAX_VIRTUAL_SIZE) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Image size too large");
        return false;
    }
    unsigned bits = (unsigned)__builtin_ctz(*cs);
    if (qcow2_l1_entries_for(bits, o->size) * 8 > QCOW2_MAX_L1_BYTES) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "The image size is too large for cluster size %u (the L1 table would "
                    "exceed 32 MiB); use a larger cluster_size", *cs);
        return false;
    }
    if (o->backing_file && (!*o->backing_file || strlen(o->backing_file) > QCOW2_MAX_BACKING_NAME)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Backing file name must be 1 to 1023 bytes long");
        return false;
    }
    if (o->backing_format && (!*o->backing_format || strlen(o->backing_format) > 63)) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Invalid backing format name");
        return false;
    }
    if (o->compression_type != QCOW2_COMPRESSION_ZLIB &&
        o->compression_type != QCOW2_COMPRESSION_ZSTD) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Unknown compression type");
        return false;
    }
    return true;
}

bool qcow2_create(const char *filename, const Qcow2CreateOptions *o, GError **err)
{
    uint32_t cs;
    unsigned refcount_bits;
    if (!validate(o, &cs, &refcount_bits, err))
        return false;

    /* Cluster 0: header; 1: refcount table; 2: the refcount block counting 0..2. */
    Qcow2State tmp = { 0 };
    BlockImage fake = { .filename = (char *)filename };
    tmp.img = &fake;
    tmp.version = 3;
    tmp.cluster_bits = (unsigned)__builtin_ctz(cs);
    tmp.cluster_size = cs;
    tmp.refcount_order = (unsigned)__builtin_ctz(refcount_bits);
    tmp.refcount_bits = refcount_bits;
    tmp.compression_type = o->compression_type;
    if (o->compression_type != QCOW2_COMPRESSION_ZLIB)
        tmp.incompatible |= QCOW2_INCOMPAT_COMPRESSION;
    tmp.reftable_offset = cs;
    tmp.reftable_clusters = 1;
    tmp.backing_name = (char *)o->backing_file;
    tmp.backing_format = o->backing_file ? (char *)o->backing_format : NULL;

    uint8_t *buf = g_malloc0((size_t)cs * 3);
    bool ok = qcow2_header_build(&tmp, buf, err);
    if (ok) {
        qcow2_put_be64(buf + cs, 2ULL * cs);
        tmp.refblock_bits = tmp.cluster_bits + 3 - tmp.refcount_order;
        for (uint64_t i = 0; i < 3; i++)
            qcow2_refblock_set(&tmp, buf + 2 * cs, i, 1);
    }
    int fd = -1;
    if (ok) {
        fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_IO, "Could not create '%s': %s",
                        filename, g_strerror(errno));
            ok = false;
        }
    }
    if (ok) {
        size_t done = 0, total = (size_t)cs * 3;
        while (done < total) {
            ssize_t n = pwrite(fd, buf + done, total - done, (off_t)done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                g_set_error(err, BLOCK_ERROR, errno == ENOSPC ? BLOCK_ERROR_NO_SPACE : BLOCK_ERROR_IO,
                            "Could not write '%s': %s", filename, g_strerror(n < 0 ? errno : EIO));
                ok = false;
                break;
            }
            done += (size_t)n;
        }
    }
    if (fd >= 0 && close(fd) < 0 && ok) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_IO, "Could not write '%s': %s", filename,
                    g_strerror(errno));
        ok = false;
    }
    g_free(buf);
    if (!ok)
        return false;

    BlockOpenOptions opts = { .format = "qcow2", .no_backing = true };
    BlockImage *img = block_open(filename, &opts, err);
    if (!img)
        return false;
    ok = block_truncate(img, o->size, o->prealloc, false, err);
    GError *close_err = NULL;
    if (!block_close(img, ok ? &close_err : NULL) && ok) {
        g_propagate_error(err, close_err);
        ok = false;
    }
    return ok;
}
