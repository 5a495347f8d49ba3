/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The qcow2 header and its extensions ("Header", "Header extensions"). Every field is
 * validated before it sizes an allocation or a read: the file may be hostile. */
#include "disks/qcow2-internal.h"

#include <string.h>

/* Bytes of the v3 header we write: the 104 fixed bytes, compression_type, padding. */
#define HEADER_LENGTH_WRITTEN 112

typedef struct FeatureName {
    uint8_t type;
    uint8_t bit;
    char name[47];
} FeatureName;

static void ext_free(gpointer p)
{
    Qcow2Extension *e = p;
    g_free(e->data);
    g_free(e);
}

static GString *describe_unknown_features(uint64_t bits, const GArray *names)
{
    GString *out = g_string_new(NULL);
    for (unsigned b = 0; b < 64; b++) {
        if (!(bits & (1ULL << b)))
            continue;
        const char *label = NULL;
        for (guint i = 0; names && i < names->len; i++) {
            const FeatureName *f = &g_array_index(names, FeatureName, i);
            if (f->type == 0 && f->bit == b)
                label = f->name;
        }
        if (out->len)
            g_string_append(out, ", ");
        if (label)
            g_string_append(out, label);
        else
            g_string_append_printf(out, "unknown bit %u", b);
    }
    return out;
}

static bool fail_corrupt(Qcow2State *s, GError **err, const char *what)
{
    g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT, "%s: invalid qcow2 header: %s",
                s->img->filename, what);
    return false;
}

/* Walks the extension area [start, end) of the header cluster. */
static bool read_extensions(Qcow2State *s, const uint8_t *hdr, uint64_t start, uint64_t end,
                            GArray *feature_names, GError **err)
{
    uint64_t pos = start;
    while (pos + 8 <= end) {
        uint32_t type = qcow2_be32(hdr + pos);
        uint32_t len = qcow2_be32(hdr + pos + 4);
        pos += 8;
        if (type == QCOW2_EXT_END)
            return true;
        if (len > end - pos)
            return fail_corrupt(s, err, "a header extension runs past the header cluster");
        const uint8_t *data = hdr + pos;
        switch (type) {
        case QCOW2_EXT_BACKING_FORMAT:
            if (len == 0 || len > 63)
                return fail_corrupt(s, err, "bad length of the backing format extension");
            g_free(s->backing_format);
            s->backing_format = g_strndup((const char *)data, len);
            if (strlen(s->backing_format) != len)
                return fail_corrupt(s, err, "the backing format name contains a NUL byte");
            break;
        case QCOW2_EXT_FEATURE_TABLE:
            for (uint32_t i = 0; i + 48 <= len; i += 48) {
                FeatureName f = { data[i], data[i + 1], { 0 } };
                memcpy(f.name, data + i + 2, 46);
                g_array_append_val(feature_names, f);
            }
            break;
        case QCOW2_EXT_CRYPTO:
        case QCOW2_EXT_DATA_FILE:
            /* The features these serve are refused by their header bits already. */
            break;
        default: {
            if (type == QCOW2_EXT_BITMAPS) {
                if (len < 24)
                    return fail_corrupt(s, err, "the bitmaps extension is too short");
                s->has_bitmaps_ext = true;
                s->bitmaps_count = qcow2_be32(data);
                s->bitmaps_dir_size = qcow2_be64(data + 8);
                s->bitmaps_dir_offset = qcow2_be64(data + 16);
            }
            /* Kept verbatim and written back whenever the header is rewritten. */
            Qcow2Extension *e = g_new0(Qcow2Extension, 1);
            e->type = type;
            e->len = len;
            e->data = g_memdup2(data, len);
            g_ptr_array_add(s->unknown_exts, e);
            break;
        }
        }
        pos += ((uint64_t)len + 7) & ~7ULL;
    }
    return true;
}

bool qcow2_header_read(Qcow2State *s, GError **err)
{
    uint64_t file_size;
    if (!s->unknown_exts)
        s->unknown_exts = g_ptr_array_new_with_free_func(ext_free);
    if (!host_file_size(s->file, &file_size, err))
        return false;
    uint8_t fixed[QCOW2_V3_HEADER_LENGTH];
    if (file_size < QCOW2_V2_HEADER_LENGTH)
        return fail_corrupt(s, err, "the file is shorter than a qcow2 header");
    memset(fixed, 0, sizeof(fixed));
    size_t want = file_size < sizeof(fixed) ? (size_t)file_size : sizeof(fixed);
    if (!host_file_pread(s->file, 0, fixed, want, err))
        return false;
    if (qcow2_be32(fixed) != QCOW2_MAGIC)
        return fail_corrupt(s, err, "bad magic");
    s->version = qcow2_be32(fixed + 4);
    if (s->version == 1) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: qcow version 1 images are not supported", s->img->filename);
        return false;
    }
    if (s->version != 2 && s->version != 3) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: unsupported qcow2 version %u", s->img->filename, s->version);
        return false;
    }
    uint64_t backing_off = qcow2_be64(fixed + 8);
    uint32_t backing_len = qcow2_be32(fixed + 16);
    s->cluster_bits = qcow2_be32(fixed + 20);
    if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS || s->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: cluster size 2^%u is outside 512 B .. 2 MiB", s->img->filename,
                    s->cluster_bits);
        return false;
    }
    s->cluster_size = 1ULL << s->cluster_bits;
    s->l2_bits = s->cluster_bits - 3;
    s->size = qcow2_be64(fixed + 24);
    uint32_t crypt = qcow2_be32(fixed + 32);
    s->l1_size = qcow2_be32(fixed + 36);
    s->l1_offset = qcow2_be64(fixed + 40);
    s->reftable_offset = qcow2_be64(fixed + 48);
    s->reftable_clusters = qcow2_be32(fixed + 56);
    s->nb_snapshots = qcow2_be32(fixed + 60);
    s->snapshots_offset = qcow2_be64(fixed + 64);

    if (s->version == 2) {
        s->header_length = QCOW2_V2_HEADER_LENGTH;
        s->refcount_order = 4;
    } else {
        if (file_size < QCOW2_V3_HEADER_LENGTH)
            return fail_corrupt(s, err, "the file is shorter than a version 3 header");
        s->incompatible = qcow2_be64(fixed + 72);
        s->compatible = qcow2_be64(fixed + 80);
        s->autoclear = qcow2_be64(fixed + 88);
        s->refcount_order = qcow2_be32(fixed + 96);
        s->header_length = qcow2_be32(fixed + 100);
        if (s->header_length < QCOW2_V3_HEADER_LENGTH || s->header_length % 8 ||
            s->header_length > s->cluster_size)
            return fail_corrupt(s, err, "bad header length");
    }
    if (file_size < s->cluster_size && file_size < s->header_length)
        return fail_corrupt(s, err, "the file ends inside the header");

    /* The whole header cluster: extensions and the backing file name live there. */
    uint64_t hdr_len = s->cluster_size < file_size ? s->cluster_size : file_size;
    uint8_t *hdr = g_malloc0(s->cluster_size);
    bool ok = host_file_pread(s->file, 0, hdr, hdr_len, err);
    GArray *names = g_array_new(FALSE, TRUE, sizeof(FeatureName));
    if (!ok)
        goto out;

    if (s->version == 3) {
        uint32_t known = QCOW2_V3_HEADER_LENGTH;
        s->compression_type = QCOW2_COMPRESSION_ZLIB;
        if (s->header_length > QCOW2_V3_HEADER_LENGTH) {
            uint8_t ct = hdr[104];
            known = HEADER_LENGTH_WRITTEN < s->header_length ? HEADER_LENGTH_WRITTEN
                                                               : s->header_length;
            if (ct > QCOW2_COMPRESSION_ZSTD) {
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                            "%s: unknown compression type %u", s->img->filename, ct);
                ok = false;
                goto out;
            }
            s->compression_type = (Qcow2CompressionType)ct;
            /* Padding after compression_type must be zero ("Header padding"). */
            for (uint32_t i = 105; i < known; i++) {
                if (hdr[i]) {
                    ok = fail_corrupt(s, err, "nonzero header padding");
                    goto out;
                }
            }
        }
        bool bit = (s->incompatible & QCOW2_INCOMPAT_COMPRESSION) != 0;
        if (bit != (s->compression_type != QCOW2_COMPRESSION_ZLIB)) {
            ok = fail_corrupt(s, err, "compression type and its incompatible bit disagree");
            goto out;
        }
        if (s->header_length > known) {
            s->header_tail = g_memdup2(hdr + known, s->header_length - known);
        }
    }

    uint64_t ext_end = s->cluster_size;
    if (backing_off) {
        if (backing_len == 0 || backing_len > QCOW2_MAX_BACKING_NAME) {
            ok = fail_corrupt(s, err, "backing file name longer than 1023 bytes");
            goto out;
        }
        if (backing_off < s->header_length || backing_off > s->cluster_size ||
            backing_len > s->cluster_size - backing_off || backing_off + backing_len > hdr_len) {
            ok = fail_corrupt(s, err, "backing file name outside the header cluster");
            goto out;
        }
        s->backing_name = g_strndup((const char *)hdr + backing_off, backing_len);
        if (strlen(s->backing_name) != backing_len) {
            ok = fail_corrupt(s, err, "the backing file name contains a NUL byte");
            goto out;
        }
        ext_end = backing_off;
    }
    if (!read_extensions(s, hdr, s->header_length, ext_end < hdr_len ? ext_end : hdr_len, names,
                         err)) {
        ok = false;
        goto out;
    }

    uint64_t unknown = s->incompatible & ~QCOW2_INCOMPAT_KNOWN;
    if (unknown) {
        GString *d = describe_unknown_features(unknown, names);
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: unsupported qcow2 feature(s): %s", s->img->filename, d->str);
        g_string_free(d, TRUE);
        ok = false;
        goto out;
    }
    if (s->incompatible & QCOW2_INCOMPAT_DATA_FILE) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: qcow2 images with an external data file are not supported",
                    s->img->filename);
        ok = false;
        goto out;
    }
    if (s->incompatible & QCOW2_INCOMPAT_EXTL2) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: qcow2 images with extended L2 entries (subclusters) are not supported",
                    s->img->filename);
        ok = false;
        goto out;
    }
    if (crypt != 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: encrypted qcow2 images are not supported", s->img->filename);
        ok = false;
        goto out;
    }
    if (s->refcount_order > 6) {
        ok = fail_corrupt(s, err, "refcount width above 64 bits");
        goto out;
    }
    s->refcount_bits = 1u << s->refcount_order;
    s->refcount_max = s->refcount_bits == 64 ? UINT64_MAX : (1ULL << s->refcount_bits) - 1;
    s->refblock_bits = s->cluster_bits + 3 - s->refcount_order;

    if (s->size > QCOW2_MAX_VIRTUAL_SIZE) {
        ok = fail_corrupt(s, err, "virtual size above 2 EiB");
        goto out;
    }
    if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        ok = fail_corrupt(s, err, "L1 table larger than 32 MiB");
        goto out;
    }
    if (s->l1_size < qcow2_l1_entries_for(s->cluster_bits, s->size)) {
        ok = fail_corrupt(s, err, "L1 table too small for the virtual size");
        goto out;
    }
    if (qcow2_offset_into_cluster(s, s->l1_offset) ||
        qcow2_offset_into_cluster(s, s->reftable_offset)) {
        ok = fail_corrupt(s, err, "L1 or refcount table not cluster aligned");
        goto out;
    }
    if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        ok = fail_corrupt(s, err, "more than 65536 snapshots");
        goto out;
    }
    if (s->nb_snapshots && (qcow2_offset_into_cluster(s, s->snapshots_offset) ||
                            s->snapshots_offset == 0)) {
        ok = fail_corrupt(s, err, "snapshot table not cluster aligned");
        goto out;
    }
    /* "Compressed Clusters Descriptor" */
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ULL << (s->cluster_bits - 8)) - 1;
    s->coffset_mask = (1ULL << s->csize_shift) - 1;
out:
    g_array_free(names, TRUE);
    g_free(hdr);
    return ok;
}

static bool ext_append(uint8_t *buf, uint64_t cap, uint64_t *pos, uint32_t type,
                       const void *data, uint32_t len)
{
    uint64_t padded = ((uint64_t)len + 7) & ~7ULL;
    if (*pos + 8 + padded > cap)
        return false;
    qcow2_put_be32(buf + *pos, type);
    qcow2_put_be32(buf + *pos + 4, len);
    memset(buf + *pos + 8, 0, padded);
    if (len)
        memcpy(buf + *pos + 8, data, len);
    *pos += 8 + padded;
    return true;
}

static bool header_build(Qcow2State *s, uint8_t *buf, bool feature_table, GError **err);

bool qcow2_header_build(Qcow2State *s, uint8_t *buf, GError **err)
{
    /* The feature name table is a courtesy: small clusters may have no room for it. */
    return header_build(s, buf, true, NULL) || header_build(s, buf, false, err);
}

static bool header_build(Qcow2State *s, uint8_t *buf, bool feature_table, GError **err)
{
    uint64_t cs = s->cluster_size;
    memset(buf, 0, cs);
    qcow2_put_be32(buf, QCOW2_MAGIC);
    qcow2_put_be32(buf + 4, s->version);
    qcow2_put_be32(buf + 20, s->cluster_bits);
    qcow2_put_be64(buf + 24, s->size);
    qcow2_put_be32(buf + 36, s->l1_size);
    qcow2_put_be64(buf + 40, s->l1_offset);
    qcow2_put_be64(buf + 48, s->reftable_offset);
    qcow2_put_be32(buf + 56, s->reftable_clusters);
    qcow2_put_be32(buf + 60, s->nb_snapshots);
    qcow2_put_be64(buf + 64, s->snapshots_offset);
    uint64_t pos = QCOW2_V2_HEADER_LENGTH;
    if (s->version >= 3) {
        uint32_t tail = 0;
        uint32_t hlen = HEADER_LENGTH_WRITTEN;
        if (s->header_length > HEADER_LENGTH_WRITTEN) {
            tail = s->header_length - HEADER_LENGTH_WRITTEN;
            hlen = s->header_length;
        }
        qcow2_put_be64(buf + 72, s->incompatible);
        qcow2_put_be64(buf + 80, s->compatible);
        qcow2_put_be64(buf + 88, s->autoclear);
        qcow2_put_be32(buf + 96, s->refcount_order);
        qcow2_put_be32(buf + 100, hlen);
        buf[104] = (uint8_t)s->compression_type;
        if (tail && s->header_tail)
            memcpy(buf + HEADER_LENGTH_WRITTEN, s->header_tail, tail);
        pos = hlen;
    }
    bool fits = true;
    if (s->backing_format)
        fits = ext_append(buf, cs, &pos, QCOW2_EXT_BACKING_FORMAT, s->backing_format,
                          (uint32_t)strlen(s->backing_format));
    if (fits && s->version >= 3 && feature_table) {
        static const struct {
            uint8_t type, bit;
            const char *name;
        } features[] = {
            { 0, 0, "dirty bit" },         { 0, 1, "corrupt bit" },
            { 0, 2, "external data file" }, { 0, 3, "compression type" },
            { 0, 4, "extended L2 entries" }, { 1, 0, "lazy refcounts" },
            { 2, 0, "bitmaps" },           { 2, 1, "raw external data" },
        };
        uint8_t table[G_N_ELEMENTS(features) * 48];
        memset(table, 0, sizeof(table));
        for (size_t i = 0; i < G_N_ELEMENTS(features); i++) {
            table[i * 48] = features[i].type;
            table[i * 48 + 1] = features[i].bit;
            memcpy(table + i * 48 + 2, features[i].name, strlen(features[i].name));
        }
        fits = ext_append(buf, cs, &pos, QCOW2_EXT_FEATURE_TABLE, table, sizeof(table));
    }
    for (guint i = 0; fits && s->unknown_exts && i < s->unknown_exts->len; i++) {
        Qcow2Extension *e = g_ptr_array_index(s->unknown_exts, i);
        fits = ext_append(buf, cs, &pos, e->type, e->data, e->len);
    }
    fits = fits && ext_append(buf, cs, &pos, QCOW2_EXT_END, NULL, 0);
    if (fits && s->backing_name) {
        size_t blen = strlen(s->backing_name);
        if (pos + blen > cs) {
            fits = false;
        } else {
            memcpy(buf + pos, s->backing_name, blen);
            qcow2_put_be64(buf + 8, pos);
            qcow2_put_be32(buf + 16, (uint32_t)blen);
        }
    }
    if (!fits) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: the header, its extensions and the backing file name do not fit in "
                    "one %" PRIu64 "-byte cluster", s->img ? s->img->filename : "image", cs);
        return false;
    }
    return true;
}

bool qcow2_header_write(Qcow2State *s, GError **err)
{
    /* The bit first: the header is built from memory, and must carry it. */
    if (!qcow2_mark_dirty(s, err))
        return false;
    uint8_t *buf = g_malloc(s->cluster_size);
    bool ok = qcow2_header_build(s, buf, err) &&
              qcow2_host_write(s, 0, buf, s->cluster_size, err);
    g_free(buf);
    return ok;
}

bool qcow2_header_update_field(Qcow2State *s, unsigned field, GError **err)
{
    uint8_t buf[12];
    size_t len;
    switch (field) {
    case QCOW2_HDR_SIZE:
        qcow2_put_be64(buf, s->size);
        len = 8;
        break;
    case QCOW2_HDR_L1:
        qcow2_put_be32(buf, s->l1_size);
        qcow2_put_be64(buf + 4, s->l1_offset);
        len = 12;
        break;
    case QCOW2_HDR_REFTABLE:
        qcow2_put_be64(buf, s->reftable_offset);
        qcow2_put_be32(buf + 8, s->reftable_clusters);
        len = 12;
        break;
    case QCOW2_HDR_SNAPSHOTS:
        qcow2_put_be32(buf, s->nb_snapshots);
        qcow2_put_be64(buf + 4, s->snapshots_offset);
        len = 12;
        break;
    case QCOW2_HDR_INCOMPAT:
        qcow2_put_be64(buf, s->incompatible);
        len = 8;
        break;
    case QCOW2_HDR_AUTOCLEAR:
        qcow2_put_be64(buf, s->autoclear);
        len = 8;
        break;
    default:
        g_assert_not_reached();
    }
    if (s->version < 3 && field >= QCOW2_HDR_INCOMPAT)
        return true;
    if (field == QCOW2_HDR_INCOMPAT)
        return qcow2_host_write_unmarked(s, field, buf, len, err);
    return qcow2_host_write(s, field, buf, len, err);
}

bool qcow2_set_incompatible_bits(Qcow2State *s, uint64_t set, uint64_t clear, GError **err)
{
    if (s->version < 3)
        return true;
    uint64_t v = (s->incompatible | set) & ~clear;
    if (v == s->incompatible)
        return true;
    s->incompatible = v;
    return qcow2_header_update_field(s, QCOW2_HDR_INCOMPAT, err) && qcow2_sync(s, err);
}
