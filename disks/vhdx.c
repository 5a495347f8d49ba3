/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhdx: Hyper-V's VHDX images, read-only, for importing. Fixed and dynamic disks;
 * differencing disks, and images whose log still holds changes, are refused.
 *
 * Microsoft's "VHDX Format Specification" v1.00 (MS-VHDX), little-endian throughout:
 * "vhdxfile" at 0; two 4 KiB headers at 64 KiB and 128 KiB (the valid one with the
 * higher sequence number is current; a non-zero log GUID means the log must be replayed
 * first, 2.2.2); two copies of the region table at 192 KiB and 256 KiB naming the BAT and
 * the metadata region by GUID (2.2.3); metadata items for the block size, the virtual
 * size and the logical sector size (2.6); the BAT (2.5): 64-bit entries, state in bits
 * 0-2 and the file offset in MiB in bits 20-63, one per payload block with a sector
 * bitmap entry after every chunk ratio of them. Headers and region tables carry a
 * CRC-32C over their whole size with the checksum field as zero. GUIDs are stored with
 * their first three fields little-endian. */
#include "disks/block-internal.h"

#include <stdio.h>
#include <string.h>

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define HEADER_SIZE (4 * KiB)
#define REGION_TABLE_SIZE (64 * KiB)
#define MAX_REGION_ENTRIES 2047
#define MAX_METADATA_ENTRIES 2047
#define MAX_VIRTUAL_SIZE (64ull << 40)
#define REQUIRED_BIT 1u
#define METADATA_REQUIRED (1u << 2)

#define PAYLOAD_NOT_PRESENT 0
#define PAYLOAD_UNDEFINED 1
#define PAYLOAD_ZERO 2
#define PAYLOAD_UNMAPPED 3
#define PAYLOAD_FULLY_PRESENT 6
#define PAYLOAD_PARTIALLY_PRESENT 7

static const char *const GUID_BAT = "2DC27766-F623-4200-9D64-115E9BFD4A08";
static const char *const GUID_METADATA = "8B7CA206-4790-4B9A-B8FE-575F050F886E";
static const char *const GUID_FILE_PARAMETERS = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B";
static const char *const GUID_VIRTUAL_SIZE = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
static const char *const GUID_PAGE83 = "BECA12AB-B2E6-4523-93EF-C309E000C746";
static const char *const GUID_LOGICAL_SECTOR = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F";
static const char *const GUID_PHYSICAL_SECTOR = "CDA348C7-445D-4471-9CC9-E9885251C556";
static const char *const GUID_PARENT_LOCATOR = "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C";

typedef struct VhdxState {
    uint64_t file_size;
    uint32_t block_size;
    uint32_t logical_sector;
    uint64_t chunk_ratio;
    uint64_t payload_blocks;
    uint64_t bat_entries;
    uint64_t *bat;
    /* For check: the regions and the log. */
    uint64_t bat_offset, bat_length, meta_offset, meta_length, log_offset, log_length;
} VhdxState;

/* Does the on-disk GUID at p equal the text form? */
static bool guid_is(const uint8_t *p, const char *text)
{
    uint8_t b[16];
    unsigned v[16];
    if (sscanf(text, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13],
               &v[14], &v[15]) != 16)
        return false;
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        b[i] = (uint8_t)v[order[i]];
    return !memcmp(p, b, 16);
}

static bool checksum_ok(uint8_t *buf, size_t len)
{
    uint32_t want = ld_le32(buf + 4);
    uint8_t saved[4];
    memcpy(saved, buf + 4, 4);
    memset(buf + 4, 0, 4);
    uint32_t got = block_crc32c(0, buf, len);
    memcpy(buf + 4, saved, 4);
    return got == want;
}

static bool read_header(BlockImage *img, VhdxState *s, uint8_t *cur, GError **err)
{
    uint8_t *h[2] = { g_malloc(HEADER_SIZE), g_malloc(HEADER_SIZE) };
    bool valid[2];
    for (int i = 0; i < 2; i++) {
        valid[i] = host_file_pread(img->file, (uint64_t)(i + 1) * 64 * KiB, h[i], HEADER_SIZE, NULL) &&
                   !memcmp(h[i], "head", 4) && checksum_ok(h[i], HEADER_SIZE);
    }
    int pick = -1;
    if (valid[0] && valid[1])
        pick = ld_le64(h[1] + 8) > ld_le64(h[0] + 8) ? 1 : 0;
    else if (valid[0] || valid[1])
        pick = valid[0] ? 0 : 1;
    if (pick >= 0)
        memcpy(cur, h[pick], HEADER_SIZE);
    g_free(h[0]);
    g_free(h[1]);
    if (pick < 0) {
        block_set_corrupt(err, img, "neither header (at 64 KiB and 128 KiB) is valid");
        return false;
    }
    return true;
}

/* A non-zero log GUID in the header only means the log may hold entries (2.3): it
 * does when a 4 KiB-aligned spot of the log region holds an entry header ("loge") with
 * that GUID whose CRC-32C over the entry's length is right. Replaying them is a
 * writer's job; a reader must refuse such an image. */
static bool log_has_entries(BlockImage *img, VhdxState *s, const uint8_t *guid, bool *found,
                            GError **err)
{
    *found = false;
    if (s->log_length % (4 * KiB) || s->log_offset % MiB || s->log_length > 256 * MiB ||
        s->log_offset < MiB || !block_range_in_file(s->log_offset, s->log_length, s->file_size)) {
        block_set_corrupt(err, img, "the log (%" PRIu64 " bytes at %" PRIu64 ") does not lie "
                          "inside the file", s->log_length, s->log_offset);
        return false;
    }
    uint8_t hdr[64];
    for (uint64_t at = 0; at < s->log_length && !*found; at += 4 * KiB) {
        if (!host_file_pread(img->file, s->log_offset + at, hdr, sizeof(hdr), err))
            return false;
        uint32_t len = ld_le32(hdr + 8);
        if (memcmp(hdr, "loge", 4) || memcmp(hdr + 32, guid, 16) || len < 4 * KiB ||
            len % (4 * KiB) || len > s->log_length - at)
            continue;
        uint8_t *entry = g_malloc(len);
        if (host_file_pread(img->file, s->log_offset + at, entry, len, NULL))
            *found = checksum_ok(entry, len);
        g_free(entry);
    }
    return true;
}

static bool read_metadata(BlockImage *img, VhdxState *s, uint64_t *virtual_size, GError **err)
{
    if (s->meta_length < 64 * KiB || s->meta_length > 256 * MiB) {
        block_set_corrupt(err, img, "metadata region of %" PRIu64 " bytes", s->meta_length);
        return false;
    }
    uint8_t *m = g_malloc(s->meta_length);
    bool ok = host_file_pread(img->file, s->meta_offset, m, s->meta_length, err);
    bool have_params = false, have_size = false, have_sector = false;
    if (ok && memcmp(m, "metadata", 8)) {
        block_set_corrupt(err, img, "no metadata table (\"metadata\") at offset %" PRIu64,
                          s->meta_offset);
        ok = false;
    }
    unsigned count = ok ? ld_le16(m + 10) : 0;
    if (ok && count > MAX_METADATA_ENTRIES) {
        block_set_corrupt(err, img, "%u metadata entries (at most %d)", count, MAX_METADATA_ENTRIES);
        ok = false;
    }
    for (unsigned i = 0; ok && i < count; i++) {
        const uint8_t *e = m + 32 + 32 * i;
        uint32_t off = ld_le32(e + 16), len = ld_le32(e + 20), flags = ld_le32(e + 24);
        if (len == 0)
            continue;
        if (off < 64 * KiB || off > s->meta_length || len > s->meta_length - off) {
            block_set_corrupt(err, img, "metadata item %u (%u bytes at %u) lies outside its region",
                              i, len, off);
            ok = false;
            break;
        }
        const uint8_t *v = m + off;
        if (guid_is(e, GUID_FILE_PARAMETERS) && len >= 8) {
            s->block_size = ld_le32(v);
            if (ld_le32(v + 4) & 2) {
                g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                            "%s: a differencing VHDX (a child of another disk) is not supported; "
                            "merge it into its parent first", img->filename);
                ok = false;
            }
            have_params = true;
        } else if (guid_is(e, GUID_VIRTUAL_SIZE) && len >= 8) {
            *virtual_size = ld_le64(v);
            have_size = true;
        } else if (guid_is(e, GUID_LOGICAL_SECTOR) && len >= 4) {
            s->logical_sector = ld_le32(v);
            have_sector = true;
        } else if (guid_is(e, GUID_PAGE83) || guid_is(e, GUID_PHYSICAL_SECTOR) ||
                   guid_is(e, GUID_PARENT_LOCATOR)) {
            /* Not needed to read the disk. */
        } else if (flags & METADATA_REQUIRED) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: the image needs a metadata item Vireo does not know", img->filename);
            ok = false;
        }
    }
    g_free(m);
    if (ok && (!have_params || !have_size || !have_sector)) {
        block_set_corrupt(err, img, "the metadata lacks the %s", !have_params ? "file parameters"
                          : !have_size ? "virtual disk size" : "logical sector size");
        ok = false;
    }
    return ok;
}

static bool vhdx_open(BlockImage *img, const BlockOpenOptions *opts, GError **err)
{
    if (!block_ro_refuse_write_open(img, opts, err))
        return false;
    img->file = block_open_host_file(img, err);
    if (!img->file)
        return false;
    VhdxState *s = g_new0(VhdxState, 1);
    img->opaque = s;
    if (!host_file_size(img->file, &s->file_size, err))
        return false;
    uint8_t sig[8];
    if (s->file_size < 320 * KiB || !host_file_pread(img->file, 0, sig, 8, NULL) ||
        memcmp(sig, "vhdxfile", 8)) {
        block_set_corrupt(err, img, "no \"vhdxfile\" identifier, or shorter than the headers "
                          "and region tables");
        return false;
    }
    uint8_t *h = g_malloc(HEADER_SIZE);
    if (!read_header(img, s, h, err)) {
        g_free(h);
        return false;
    }
    uint16_t version = ld_le16(h + 66);
    uint8_t log_guid[16];
    memcpy(log_guid, h + 48, 16);
    s->log_length = ld_le32(h + 68);
    s->log_offset = ld_le64(h + 72);
    g_free(h);
    bool log_pending = false;
    if (!host_buffer_is_zero(log_guid, 16) &&
        !log_has_entries(img, s, log_guid, &log_pending, err))
        return false;
    if (version != 1) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED, "%s: VHDX version %u is not "
                    "supported (only 1)", img->filename, version);
        return false;
    }
    if (log_pending) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: the VHDX log holds changes not yet written to the image (it was not "
                    "closed cleanly); open it once in Hyper-V, or repair it with "
                    "'qemu-img check -r all', then try again", img->filename);
        return false;
    }
    uint8_t *rt = g_malloc(REGION_TABLE_SIZE);
    bool rt_ok = false;
    for (int i = 0; i < 2 && !rt_ok; i++)
        rt_ok = host_file_pread(img->file, (uint64_t)(192 + 64 * i) * KiB, rt, REGION_TABLE_SIZE,
                                NULL) &&
                !memcmp(rt, "regi", 4) && checksum_ok(rt, REGION_TABLE_SIZE);
    uint32_t count = rt_ok ? ld_le32(rt + 8) : 0;
    bool ok = true;
    if (!rt_ok) {
        block_set_corrupt(err, img, "neither region table (at 192 KiB and 256 KiB) is valid");
        ok = false;
    } else if (count > MAX_REGION_ENTRIES) {
        block_set_corrupt(err, img, "%u region table entries (at most %d)", count,
                          MAX_REGION_ENTRIES);
        ok = false;
    }
    for (uint32_t i = 0; ok && i < count; i++) {
        const uint8_t *e = rt + 16 + 32 * i;
        uint64_t off = ld_le64(e + 16);
        uint32_t len = ld_le32(e + 24), req = ld_le32(e + 28);
        bool bat = guid_is(e, GUID_BAT), meta = guid_is(e, GUID_METADATA);
        if ((bat || meta) && (off < MiB || off % MiB || !block_range_in_file(off, len, s->file_size))) {
            block_set_corrupt(err, img, "the %s region (%u bytes at %" PRIu64 ") does not lie "
                              "inside the file", bat ? "BAT" : "metadata", len, off);
            ok = false;
        } else if (bat) {
            s->bat_offset = off;
            s->bat_length = len;
        } else if (meta) {
            s->meta_offset = off;
            s->meta_length = len;
        } else if (req & REQUIRED_BIT) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                        "%s: the image needs a region Vireo does not know", img->filename);
            ok = false;
        }
    }
    g_free(rt);
    if (ok && (!s->bat_length || !s->meta_length)) {
        block_set_corrupt(err, img, "the region table has no %s", !s->bat_length ? "BAT" : "metadata");
        ok = false;
    }
    uint64_t size = 0;
    if (!ok || !read_metadata(img, s, &size, err))
        return false;
    if (s->block_size < MiB || s->block_size > 256 * MiB || (s->block_size & (s->block_size - 1))) {
        block_set_corrupt(err, img, "block size %u is not a power of two from 1 MiB to 256 MiB",
                          s->block_size);
        return false;
    }
    if (s->logical_sector != 512 && s->logical_sector != 4096) {
        block_set_corrupt(err, img, "logical sector size %u (512 or 4096)", s->logical_sector);
        return false;
    }
    if (size == 0 || size > MAX_VIRTUAL_SIZE || size % s->logical_sector) {
        block_set_corrupt(err, img, "virtual size %" PRIu64 " is not a multiple of the sector "
                          "size up to 64 TiB", size);
        return false;
    }
    s->chunk_ratio = (8 * MiB * s->logical_sector) / s->block_size;
    s->payload_blocks = (size + s->block_size - 1) / s->block_size;
    s->bat_entries = s->payload_blocks + (s->payload_blocks - 1) / s->chunk_ratio;
    if (s->bat_entries * 8 > s->bat_length) {
        block_set_corrupt(err, img, "the BAT region (%" PRIu64 " bytes) is too small for %" PRIu64
                          " entries", s->bat_length, s->bat_entries);
        return false;
    }
    s->bat = block_table_read(img, img->file, s->file_size, "the BAT", s->bat_offset,
                              s->bat_entries, 8, false, err);
    if (!s->bat)
        return false;
    img->size = size;
    return true;
}

static void vhdx_close(BlockImage *img)
{
    VhdxState *s = img->opaque;
    if (s)
        g_free(s->bat);
    g_free(s);
    img->opaque = NULL;
    if (img->file)
        host_file_close(img->file);
    img->file = NULL;
}

static uint64_t payload_entry(const VhdxState *s, uint64_t block)
{
    return s->bat[block + block / s->chunk_ratio];
}

/* Where a fully present block's data begins, if the whole block lies inside the file. */
static bool block_location(const VhdxState *s, uint64_t entry, uint64_t *off)
{
    uint64_t o = (entry >> 20) * MiB;
    if (o < MiB || !block_range_in_file(o, s->block_size, s->file_size))
        return false;
    *off = o;
    return true;
}

static bool vhdx_map(BlockImage *img, uint64_t offset, uint64_t max_len, BlockMapping *m,
                     GError **err)
{
    VhdxState *s = img->opaque;
    uint64_t block = offset / s->block_size, within = offset % s->block_size;
    m->length = MIN(max_len, s->block_size - within);
    uint64_t entry = payload_entry(s, block);
    switch (entry & 7) {
    case PAYLOAD_NOT_PRESENT:
    case PAYLOAD_UNDEFINED:
    case PAYLOAD_UNMAPPED:
        m->kind = BLOCK_MAP_UNALLOCATED;
        return true;
    case PAYLOAD_ZERO:
        m->kind = BLOCK_MAP_ZERO;
        return true;
    case PAYLOAD_FULLY_PRESENT: {
        uint64_t host;
        if (!block_location(s, entry, &host)) {
            block_set_corrupt(err, img, "block %" PRIu64 " at %" PRIu64 " MiB does not lie inside "
                              "the file", block, entry >> 20);
            return false;
        }
        m->kind = BLOCK_MAP_DATA;
        m->file = img->file;
        m->host_offset = host + within;
        return true;
    }
    default:
        block_set_corrupt(err, img, "block %" PRIu64 " has state %u, which a disk without a "
                          "parent cannot have", block, (unsigned)(entry & 7));
        return false;
    }
}

static bool vhdx_pread(BlockImage *img, uint64_t offset, void *buf, size_t len, GError **err)
{
    return block_map_pread(img, vhdx_map, offset, buf, len, err);
}

static bool vhdx_get_status(BlockImage *img, uint64_t offset, uint64_t max_len, BlockStatus *st,
                            GError **err)
{
    return block_map_get_status(img, vhdx_map, offset, max_len, st, err);
}

static void vhdx_get_info(BlockImage *img, BlockImageInfo *info)
{
    VhdxState *s = img->opaque;
    info->cluster_size = s->block_size;
}

static bool vhdx_check(BlockImage *img, BlockCheckResult *res, BlockCheckReportFn report,
                       void *opaque, GError **err)
{
    VhdxState *s = img->opaque;
    BlockCheckSpace *space = block_check_space_new(s->file_size);
    /* The first MiB (identifier, headers, region tables) and the regions are taken. */
    block_check_space_use(space, 0, MiB);
    block_check_space_use(space, s->bat_offset, s->bat_length);
    block_check_space_use(space, s->meta_offset, s->meta_length);
    if (s->log_length)
        block_check_space_use(space, s->log_offset, s->log_length);
    res->total_clusters = s->payload_blocks;
    for (uint64_t b = 0; b < s->payload_blocks; b++) {
        uint64_t entry = payload_entry(s, b), host;
        unsigned state = (unsigned)(entry & 7);
        if (state == PAYLOAD_NOT_PRESENT || state == PAYLOAD_UNDEFINED ||
            state == PAYLOAD_UNMAPPED || state == PAYLOAD_ZERO)
            continue;
        res->allocated_clusters++;
        if (state != PAYLOAD_FULLY_PRESENT) {
            block_check_reportf(report, opaque, "ERROR: block %" PRIu64 " has state %u", b, state);
            res->corruptions++;
        } else if (!block_location(s, entry, &host) ||
                   !block_check_space_use(space, host, s->block_size)) {
            block_check_reportf(report, opaque, "ERROR: block %" PRIu64 " at %" PRIu64 " MiB does "
                                "not lie inside the file", b, entry >> 20);
            res->corruptions++;
        }
    }
    uint64_t overlaps = block_check_space_overlaps(space);
    block_check_space_free(space);
    if (overlaps) {
        block_check_reportf(report, opaque, "ERROR: %" PRIu64 " blocks or regions overlap another",
                            overlaps);
        res->corruptions += overlaps;
    }
    return true;
}

const BlockDriver block_driver_vhdx = {
    .name = "vhdx",
    .open = vhdx_open,
    .close = vhdx_close,
    .pread = vhdx_pread,
    .pwrite = block_ro_pwrite,
    .flush = block_ro_flush,
    .discard = block_ro_discard,
    .write_zeroes = block_ro_write_zeroes,
    .truncate = block_ro_truncate,
    .get_status = vhdx_get_status,
    .get_info = vhdx_get_info,
    .check = vhdx_check,
};
