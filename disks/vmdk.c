/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vmdk: VMware's virtual disks, read-only, for importing. A hosted sparse file
 * (monolithicSparse, streamOptimized with compressed grains), or a descriptor file naming
 * extents: FLAT (monolithicFlat, twoGbMaxExtentFlat, vmfs), SPARSE (twoGbMaxExtentSparse)
 * and ZERO. Child disks (a parentCID other than ffffffff) are refused.
 *
 * VMware's "Virtual Disk Format 1.1" (little-endian): a sparse extent starts with a
 * 512-byte header ("KDMV", version, flags, capacity and grain size in sectors, the
 * embedded descriptor's place, grain table entries per table, the grain directory's
 * sector). The grain directory lists the sector of each grain table (0: none); a grain
 * table lists the sector of each grain (0: never written, 1: zeros when flag bit 2 is
 * set). With compressed grains (flag bit 16, markers bit 17) a grain starts with its
 * LBA and byte count and holds a zlib stream; such files may keep the directory at the
 * end, in a footer copy of the header 1024 bytes before the end of the file. */
#include "disks/block-internal.h"

#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define SPARSE_MAGIC 0x564d444bu /* "KDMV" */
#define GD_AT_END UINT64_MAX
#define FLAG_ZERO_GRAIN (1u << 2)
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS (1u << 17)
#define MAX_EXTENTS 4096
#define MAX_DESCRIPTOR (1u << 20)
#define MAX_GRAIN_SECTORS 2048u   /* 1 MiB; VMware writes 128 (64 KiB) */
#define MAX_GTES 4096u            /* VMware writes 512 */

typedef enum { EXTENT_FLAT, EXTENT_SPARSE, EXTENT_ZERO } ExtentKind;

typedef struct VmdkExtent {
    ExtentKind kind;
    HostFile *file;
    bool own_file;
    uint64_t start;          /* guest byte where it begins */
    uint64_t length;         /* guest bytes */
    uint64_t file_offset;    /* FLAT: where its bytes begin in the file */
    uint64_t file_size;
    /* SPARSE */
    uint64_t grain;          /* bytes */
    uint32_t gtes;
    uint32_t gd_entries;
    uint32_t *gd;
    uint32_t flags;
} VmdkExtent;

typedef struct VmdkState {
    GArray *extents;         /* VmdkExtent */
    char *create_type;
} VmdkState;

static void extent_clear(VmdkExtent *e)
{
    g_free(e->gd);
    if (e->own_file && e->file)
        host_file_close(e->file);
}

static bool read_at(HostFile *f, uint64_t file_size, uint64_t off, void *buf, size_t len)
{
    if (off > file_size || len > file_size - off)
        return false;
    return host_file_pread(f, off, buf, len, NULL);
}

/* Parses the sparse extent header in e->file; length 0 takes the header's capacity. */
static bool sparse_open(BlockImage *img, VmdkExtent *e, const char *name, GError **err)
{
    uint8_t h[512];
    if (!read_at(e->file, e->file_size, 0, h, sizeof(h)) || ld_le32(h) != SPARSE_MAGIC) {
        block_set_corrupt(err, img, "'%s' has no sparse extent header (KDMV)", name);
        return false;
    }
    uint32_t version = ld_le32(h + 4);
    if (version < 1 || version > 3) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: sparse extent version %u is not supported (1 to 3)", name, version);
        return false;
    }
    e->flags = ld_le32(h + 8);
    uint64_t gd_offset = ld_le64(h + 56);
    if (gd_offset == GD_AT_END) {
        /* Stream-optimized: the real header is the footer's copy. */
        if (e->file_size < 1536 || !read_at(e->file, e->file_size, e->file_size - 1024, h, 512) ||
            ld_le32(h) != SPARSE_MAGIC) {
            block_set_corrupt(err, img, "'%s' keeps its grain directory at the end, but has no "
                              "footer there", name);
            return false;
        }
        e->flags = ld_le32(h + 8);
        gd_offset = ld_le64(h + 56);
    }
    uint64_t capacity = ld_le64(h + 12);
    uint64_t grain_sectors = ld_le64(h + 20);
    e->gtes = ld_le32(h + 44);
    uint16_t algorithm = ld_le16(h + 77);
    if (grain_sectors < 1 || grain_sectors > MAX_GRAIN_SECTORS ||
        (grain_sectors & (grain_sectors - 1))) {
        block_set_corrupt(err, img, "'%s': grain size of %" PRIu64 " sectors is not a power of "
                          "two up to %u", name, grain_sectors, MAX_GRAIN_SECTORS);
        return false;
    }
    if (e->gtes < 1 || e->gtes > MAX_GTES) {
        block_set_corrupt(err, img, "'%s': %u grain table entries per table (1 to %u)", name,
                          e->gtes, MAX_GTES);
        return false;
    }
    if (e->flags & FLAG_COMPRESSED) {
        if (algorithm != 1 || !(e->flags & FLAG_MARKERS)) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: compressed grains %s are not supported", name,
                        algorithm != 1 ? "of an unknown algorithm" : "without markers");
            return false;
        }
    }
    e->grain = grain_sectors * 512;
    if (capacity > UINT64_MAX / 512 / 2) {
        block_set_corrupt(err, img, "'%s': capacity of %" PRIu64 " sectors", name, capacity);
        return false;
    }
    if (!e->length)
        e->length = capacity * 512;
    if (e->length > capacity * 512) {
        block_set_corrupt(err, img, "'%s': the descriptor gives the extent %" PRIu64 " bytes, "
                          "its header %" PRIu64, name, e->length, capacity * 512);
        return false;
    }
    uint64_t grains = (capacity + grain_sectors - 1) / grain_sectors;
    uint64_t gd_entries = (grains + e->gtes - 1) / e->gtes;
    if (gd_offset > e->file_size / 512 || gd_entries > UINT32_MAX) {
        block_set_corrupt(err, img, "'%s': the grain directory at sector %" PRIu64 " does not lie "
                          "inside the %" PRIu64 "-byte file", name, gd_offset, e->file_size);
        return false;
    }
    g_autofree char *what = g_strdup_printf("'%s': the grain directory", name);
    e->gd = block_table_read(img, e->file, e->file_size, what, gd_offset * 512, gd_entries, 4,
                             false, err);
    if (!e->gd)
        return false;
    e->gd_entries = (uint32_t)gd_entries;
    return true;
}

/* The descriptor: "key=value" lines and extent lines ACCESS SECTORS TYPE "FILE" [OFFSET]. */
static bool parse_descriptor(BlockImage *img, VmdkState *s, const char *text, bool embedded,
                             GError **err)
{
    static GRegex *extent_re;
    static gsize once;
    if (g_once_init_enter(&once)) {
        extent_re = g_regex_new("^(RW|RDONLY|NOACCESS)[ \\t]+([0-9]+)[ \\t]+([A-Za-z]+)"
                                "(?:[ \\t]+\"([^\"]*)\"(?:[ \\t]+([0-9]+))?)?[ \\t]*$",
                                G_REGEX_OPTIMIZE, 0, NULL);
        g_once_init_leave(&once, 1);
    }
    gchar **lines = g_strsplit(text, "\n", -1);
    bool ok = true;
    uint64_t pos = 0;
    for (gchar **l = lines; ok && *l; l++) {
        g_strstrip(*l);
        if (!**l || **l == '#')
            continue;
        if (g_str_has_prefix(*l, "parentCID=")) {
            const char *v = *l + 10;
            if (g_ascii_strcasecmp(v, "ffffffff")) {
                g_autofree char *shown = g_utf8_make_valid(v, (gssize)MIN(strlen(v), 8));
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                            "%s: a child disk (a VMware snapshot, parentCID=%s) is not "
                            "supported; consolidate the snapshots first", img->filename, shown);
                ok = false;
            }
            continue;
        }
        if (g_str_has_prefix(*l, "createType=")) {
            g_free(s->create_type);
            s->create_type = g_strndup(*l + 11, 64);
            g_strdelimit(s->create_type, "\"", ' ');
            g_strstrip(s->create_type);
            continue;
        }
        /* Error messages quote the line: valid UTF-8, at most 60 bytes of it. */
        g_autofree char *shown = g_utf8_make_valid(*l, (gssize)MIN(strlen(*l), 60));
        GMatchInfo *mi = NULL;
        if (embedded || !g_regex_match(extent_re, *l, 0, &mi)) {
            g_match_info_free(mi);
            continue;
        }
        char *sectors = g_match_info_fetch(mi, 2), *type = g_match_info_fetch(mi, 3);
        char *file = g_match_info_fetch(mi, 4), *offset = g_match_info_fetch(mi, 5);
        g_match_info_free(mi);
        VmdkExtent e = { 0 };
        guint64 n = 0, off = 0;
        if (!g_ascii_string_to_unsigned(sectors, 10, 1, UINT64_MAX / 512 / 4, &n, NULL) ||
            (offset && *offset &&
             !g_ascii_string_to_unsigned(offset, 10, 0, UINT64_MAX / 512 / 4, &off, NULL)) ||
            pos + n * 512 < pos || pos + n * 512 > (1ull << 62)) {
            block_set_corrupt(err, img, "bad extent line '%s'", shown);
            ok = false;
        } else if (s->extents->len >= MAX_EXTENTS) {
            block_set_corrupt(err, img, "more than %d extents", MAX_EXTENTS);
            ok = false;
        } else if (!strcmp(type, "ZERO")) {
            e.kind = EXTENT_ZERO;
        } else if (!strcmp(type, "FLAT") || !strcmp(type, "VMFS") || !strcmp(type, "SPARSE")) {
            e.kind = strcmp(type, "SPARSE") ? EXTENT_FLAT : EXTENT_SPARSE;
            e.file_offset = off * 512;
            if (!file || !*file) {
                block_set_corrupt(err, img, "extent line without a file name '%s'", shown);
                ok = false;
            }
        } else {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: %s extents are not supported (FLAT, VMFS, SPARSE and ZERO are)",
                        img->filename, type);
            ok = false;
        }
        if (ok && e.kind != EXTENT_ZERO) {
            char *path = block_resolve_backing_path(img->filename, file);
            struct stat st;
            if (stat(path, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
                g_autofree char *p = g_utf8_make_valid(path, -1);
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND,
                            "%s: extent file '%s' is missing or not a regular file",
                            img->filename, p);
                ok = false;
            } else {
                e.file = host_file_open(path, true, false, img->lock, err);
                e.own_file = true;
                ok = e.file && host_file_size(e.file, &e.file_size, err);
            }
            if (ok && e.kind == EXTENT_SPARSE) {
                e.length = n * 512;
                ok = sparse_open(img, &e, path, err);
            }
            if (ok && e.kind == EXTENT_FLAT &&
                (e.file_offset > e.file_size || n * 512 > e.file_size - e.file_offset)) {
                block_set_corrupt(err, img, "flat extent '%s' is shorter than the %" PRIu64
                                  " sectors the descriptor gives it", path, (uint64_t)n);
                ok = false;
            }
            g_free(path);
        }
        e.start = pos;
        e.length = n * 512;
        pos += e.length;
        if (ok)
            g_array_append_val(s->extents, e);
        else
            extent_clear(&e);
        g_free(sectors);
        g_free(type);
        g_free(file);
        g_free(offset);
    }
    g_strfreev(lines);
    if (ok && !embedded && s->extents->len == 0) {
        block_set_corrupt(err, img, "the descriptor names no extents");
        ok = false;
    }
    return ok;
}

static bool vmdk_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    if (!block_ro_refuse_write_open(img, opts, err))
        return false;
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    VmdkState *s = g_new0(VmdkState, 1);
    img->opaque = s;
    s->extents = g_array_new(FALSE, TRUE, sizeof(VmdkExtent));
    uint64_t file_size;
    if (!host_file_size(img->file, &file_size, err))
        return false;
    uint8_t h[512] = { 0 };
    if (!host_file_pread_zero_fill(img->file, 0, h, sizeof(h), err))
        return false;
    if (ld_le32(h) == SPARSE_MAGIC) {
        VmdkExtent e = { .kind = EXTENT_SPARSE, .file = img->file, .file_size = file_size };
        g_array_append_val(s->extents, e);
        VmdkExtent *x = &g_array_index(s->extents, VmdkExtent, 0);
        if (!sparse_open(img, x, img->filename, err))
            return false;
        /* The embedded descriptor says whether this is a child disk. */
        uint64_t doff = ld_le64(h + 28), dlen = ld_le64(h + 36);
        if (doff && dlen && dlen <= MAX_DESCRIPTOR / 512 && doff <= file_size / 512 &&
            dlen * 512 <= file_size - doff * 512) {
            char *text = g_malloc0(dlen * 512 + 1);
            bool ok = host_file_pread(img->file, doff * 512, text, dlen * 512, err) &&
                      parse_descriptor(img, s, text, true, err);
            g_free(text);
            if (!ok)
                return false;
        }
        img->size = x->length;
        return true;
    }
    if (file_size > MAX_DESCRIPTOR) {
        block_set_corrupt(err, img, "neither a sparse extent nor a descriptor file (at most %u "
                          "bytes)", MAX_DESCRIPTOR);
        return false;
    }
    char *text = g_malloc0(file_size + 1);
    bool ok = host_file_pread(img->file, 0, text, file_size, err);
    /* Descriptors are often padded to whole sectors with NULs; the text ends there. */
    if (ok && !g_str_has_prefix(text, "# Disk DescriptorFile")) {
        block_set_corrupt(err, img, "neither a sparse extent (KDMV) nor a descriptor file "
                          "(\"# Disk DescriptorFile\")");
        ok = false;
    }
    ok = ok && parse_descriptor(img, s, text, false, err);
    g_free(text);
    if (!ok)
        return false;
    VmdkExtent *last = &g_array_index(s->extents, VmdkExtent, s->extents->len - 1);
    img->size = last->start + last->length;
    return true;
}

static void vmdk_close(BlockImage *img)
{
    VmdkState *s = img->opaque;
    if (s) {
        for (guint i = 0; s->extents && i < s->extents->len; i++)
            extent_clear(&g_array_index(s->extents, VmdkExtent, i));
        if (s->extents)
            g_array_free(s->extents, TRUE);
        g_free(s->create_type);
        g_free(s);
    }
    img->opaque = NULL;
    if (img->file)
        host_file_close(img->file);
    img->file = NULL;
}

static VmdkExtent *find_extent(VmdkState *s, uint64_t offset)
{
    guint lo = 0, hi = s->extents->len;
    while (hi - lo > 1) {
        guint mid = (lo + hi) / 2;
        if (g_array_index(s->extents, VmdkExtent, mid).start <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return &g_array_index(s->extents, VmdkExtent, lo);
}

/* The grain table entry of grain g of a sparse extent, or false on a bad directory. */
static bool grain_entry(BlockImage *img, VmdkExtent *e, uint64_t g, uint32_t *gte, GError **err)
{
    uint64_t gdi = g / e->gtes, gti = g % e->gtes;
    if (gdi >= e->gd_entries) {
        block_set_corrupt(err, img, "grain %" PRIu64 " is beyond the grain directory", g);
        return false;
    }
    uint64_t gt = e->gd[gdi];
    if (gt == 0) {
        *gte = 0;
        return true;
    }
    if (gt > e->file_size / 512 || (uint64_t)e->gtes * 4 > e->file_size - gt * 512) {
        block_set_corrupt(err, img, "grain table %" PRIu64 " at sector %" PRIu64 " does not lie "
                          "inside the file", gdi, gt);
        return false;
    }
    uint8_t b[4];
    if (!host_file_pread(e->file, gt * 512 + gti * 4, b, 4, err))
        return false;
    *gte = ld_le32(b);
    return true;
}

static bool vmdk_map(BlockImage *img, uint64_t offset, uint64_t max_len, BlockMapping *m,
                     GError **err)
{
    VmdkState *s = img->opaque;
    VmdkExtent *e = find_extent(s, offset);
    uint64_t rel = offset - e->start;
    m->length = MIN(max_len, e->length - rel);
    switch (e->kind) {
    case EXTENT_ZERO:
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    case EXTENT_FLAT:
        m->kind = BLOCK_MAP_DATA;
        m->file = e->file;
        m->host_offset = e->file_offset + rel;
        return true;
    case EXTENT_SPARSE:
        break;
    }
    uint64_t g = rel / e->grain, within = rel % e->grain;
    m->length = MIN(m->length, e->grain - within);
    uint32_t gte;
    if (!grain_entry(img, e, g, &gte, err))
        return false;
    if (gte == 0) {
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    }
    if (gte == 1 && (e->flags & FLAG_ZERO_GRAIN)) {
        m->kind = BLOCK_MAP_ZERO;
        return true;
    }
    uint64_t host = (uint64_t)gte * 512;
    m->file = e->file;
    if (e->flags & FLAG_COMPRESSED) {
        m->kind = BLOCK_MAP_COMPRESSED;
        m->host_offset = host;
        return true;
    }
    /* The part of the last grain past the extent's end need not be stored. */
    uint64_t used = MIN(e->grain, e->length - g * e->grain);
    if (host > e->file_size || used > e->file_size - host) {
        block_set_corrupt(err, img, "grain %" PRIu64 " at sector %u does not lie inside the file",
                          g, gte);
        return false;
    }
    m->kind = BLOCK_MAP_DATA;
    m->host_offset = host + within;
    return true;
}

/* Inflates the compressed grain whose marker is at host into out (e->grain bytes). */
static bool read_compressed(BlockImage *img, VmdkExtent *e, uint64_t host, uint8_t *out,
                            GError **err)
{
    uint8_t marker[12];
    if (!read_at(e->file, e->file_size, host, marker, sizeof(marker))) {
        block_set_corrupt(err, img, "compressed grain at offset %" PRIu64 " does not lie inside "
                          "the file", host);
        return false;
    }
    uint32_t size = ld_le32(marker + 8);
    /* zlib never grows data by more than a small fraction; anything bigger is damage. */
    if (size == 0 || size > e->grain + e->grain / 8 + 1024 ||
        size > e->file_size - host - sizeof(marker)) {
        block_set_corrupt(err, img, "compressed grain at offset %" PRIu64 " claims %u bytes",
                          host, size);
        return false;
    }
    uint8_t *in = g_malloc(size);
    bool ok = host_file_pread(e->file, host + sizeof(marker), in, size, err);
    uLongf out_len = (uLongf)e->grain;
    if (ok) {
        int r = uncompress(out, &out_len, in, size);
        if (r != Z_OK && r != Z_BUF_ERROR) {
            block_set_corrupt(err, img, "compressed grain at offset %" PRIu64 " does not inflate",
                              host);
            ok = false;
        } else if (out_len < e->grain) {
            memset(out + out_len, 0, e->grain - out_len);
        }
    }
    g_free(in);
    return ok;
}

static bool vmdk_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    uint8_t *out = buf;
    uint8_t *grain = NULL;
    bool ok = true;
    while (ok && len > 0) {
        BlockMapping m = { 0 };
        if (!vmdk_map(img, offset, len, &m, err)) {
            ok = false;
            break;
        }
        size_t n = (size_t)MIN(m.length, (uint64_t)len);
        if (m.kind == BLOCK_MAP_COMPRESSED) {
            VmdkExtent *e = find_extent(img->opaque, offset);
            if (!grain)
                grain = g_malloc(e->grain);
            uint64_t within = (offset - e->start) % e->grain;
            ok = read_compressed(img, e, m.host_offset, grain, err);
            if (ok)
                memcpy(out, grain + within, n);
        } else if (m.kind == BLOCK_MAP_DATA) {
            ok = host_file_pread(m.file, m.host_offset, out, n, err);
        } else {
            memset(out, 0, n);
        }
        out += n;
        offset += n;
        len -= n;
    }
    g_free(grain);
    return ok;
}

static bool vmdk_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                            GError **err)
{
    return block_map_get_status(img, vmdk_map, offset, max_len, st, err);
}

static void vmdk_get_info(BlockImage *img, BlockImageInfo *info)
{
    VmdkState *s = img->opaque;
    for (guint i = 0; i < s->extents->len; i++) {
        VmdkExtent *e = &g_array_index(s->extents, VmdkExtent, i);
        if (e->kind == EXTENT_SPARSE && !info->cluster_size)
            info->cluster_size = e->grain;
        if (e->own_file)
            info->actual_size += host_file_allocated_bytes(e->file);
    }
}

static bool vmdk_check(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                       void *opaque, GError **err)
{
    VmdkState *s = img->opaque;
    for (guint i = 0; i < s->extents->len; i++) {
        VmdkExtent *e = &g_array_index(s->extents, VmdkExtent, i);
        if (e->kind != EXTENT_SPARSE)
            continue;
        BlockCheckSpace *space = block_check_space_new(e->file_size);
        uint64_t grains = (e->length + e->grain - 1) / e->grain;
        res->total_clusters += grains;
        uint32_t *gt = g_new(uint32_t, e->gtes);
        for (uint32_t d = 0; d < e->gd_entries; d++) {
            uint64_t sec = e->gd[d];
            if (!sec)
                continue;
            if (!block_check_space_use(space, sec * 512, (uint64_t)e->gtes * 4) ||
                !host_file_pread(e->file, sec * 512, gt, (size_t)e->gtes * 4, NULL)) {
                block_check_reportf(report, opaque, "ERROR: grain table %u at sector %" PRIu64 " does not "
                            "lie inside the file", d, sec);
                res->corruptions++;
                continue;
            }
            for (uint32_t t = 0; t < e->gtes; t++) {
                uint64_t g = (uint64_t)d * e->gtes + t;
                uint32_t gte = GUINT32_FROM_LE(gt[t]);
                if (g >= grains || gte == 0)
                    continue;
                res->allocated_clusters++;
                if (gte == 1 && (e->flags & FLAG_ZERO_GRAIN))
                    continue;
                uint64_t len = MIN(e->grain, e->length - g * e->grain);
                uint8_t marker[12];
                if (e->flags & FLAG_COMPRESSED) {
                    len = 0;
                    if (read_at(e->file, e->file_size, (uint64_t)gte * 512, marker, 12))
                        len = 12 + (uint64_t)ld_le32(marker + 8);
                }
                if (!len || !block_check_space_use(space, (uint64_t)gte * 512, len)) {
                    block_check_reportf(report, opaque, "ERROR: grain %" PRIu64 " at sector %u does not "
                                "lie inside the file", g, gte);
                    res->corruptions++;
                }
            }
        }
        g_free(gt);
        uint64_t overlaps = block_check_space_overlaps(space);
        block_check_space_free(space);
        if (overlaps) {
            block_check_reportf(report, opaque, "ERROR: %" PRIu64 " grains or grain tables are stored "
                        "where another is", overlaps);
            res->corruptions += overlaps;
        }
    }
    return true;
}

const BlockDriver block_driver_vmdk = {
    .name = "vmdk",
    .open = vmdk_open,
    .close = vmdk_close,
    .pread = vmdk_pread,
    .pwrite = block_ro_pwrite,
    .flush = block_ro_flush,
    .discard = block_ro_discard,
    .write_zeroes = block_ro_write_zeroes,
    .truncate = block_ro_truncate,
    .get_status = vmdk_get_status,
    .get_info = vmdk_get_info,
    .check = vmdk_check,
};
