/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-gpu-pci: the 2D virtio GPU (VIRTIO §5.7), a virtio 1.0 only device (PCI
 * 1af4:1050) with one scanout. The driver creates resources (host-side images of a
 * pixel format), attaches guest pages as their backing store, copies rectangles from
 * the backing into the resource (TRANSFER_TO_HOST_2D), shows a resource on the scanout
 * (SET_SCANOUT) and says which part changed (RESOURCE_FLUSH). The cursor queue carries
 * a 64x64 cursor image and its position, composed onto the picture.
 *
 * The scanout's size follows what the front end asks (display_console_request_size):
 * the display-info size changes and a configuration interrupt with
 * VIRTIO_GPU_EVENT_DISPLAY tells the driver to read it again (§5.7.4.1), and with
 * VIRTIO_GPU_F_EDID an EDID block whose preferred timing is that size.
 *
 * Host memory is bounded: at most GPU_MAX_RESOURCES resources of at most
 * GPU_MAX_RES_DIM pixels a side, together with their backing entry lists at most
 * max-hostmem-mib MiB (at most 1 GiB, so the saved state stays under 2 GiB); a request beyond
 * answers VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY. Every backing page is checked against
 * guest RAM when attached and copied through the checked memory helpers.
 *
 * Lock rules: everything runs with the engine lock held (queue kicks from the vCPU,
 * the display's update and request_size from the front end through engine/display). */
#include "hw/virtio/virtio-gpu.h"

#include <string.h>

#define GPU_QUEUE_SIZE 256
#define GPU_CONFIG_LEN 16
#define VIRTIO_GPU_F_EDID 1
#define VIRTIO_GPU_EVENT_DISPLAY 1
#define VIRTIO_GPU_FLAG_FENCE 1

#define GPU_MAX_RESOURCES 1024
#define GPU_MAX_RES_DIM 16384
#define GPU_MAX_BACKING 16384 /* entries of one RESOURCE_ATTACH_BACKING */
#define GPU_CURSOR_DIM 64
/* The size the display info may say: an EDID detailed timing holds 12 bits a side. */
#define GPU_MIN_OUT 16
#define GPU_MAX_OUT 4095
#define GPU_EDID_LEN 128

/* Command and response types (§5.7.6.7). */
enum {
    CMD_GET_DISPLAY_INFO = 0x0100,
    CMD_RESOURCE_CREATE_2D,
    CMD_RESOURCE_UNREF,
    CMD_SET_SCANOUT,
    CMD_RESOURCE_FLUSH,
    CMD_TRANSFER_TO_HOST_2D,
    CMD_RESOURCE_ATTACH_BACKING,
    CMD_RESOURCE_DETACH_BACKING,
    CMD_GET_CAPSET_INFO,
    CMD_GET_CAPSET,
    CMD_GET_EDID,
    CMD_UPDATE_CURSOR = 0x0300,
    CMD_MOVE_CURSOR,
    RESP_OK_NODATA = 0x1100,
    RESP_OK_DISPLAY_INFO,
    RESP_OK_CAPSET_INFO,
    RESP_OK_CAPSET,
    RESP_OK_EDID,
    RESP_ERR_UNSPEC = 0x1200,
    RESP_ERR_OUT_OF_MEMORY,
    RESP_ERR_INVALID_SCANOUT_ID,
    RESP_ERR_INVALID_RESOURCE_ID,
    RESP_ERR_INVALID_CONTEXT_ID,
    RESP_ERR_INVALID_PARAMETER,
};

/* struct virtio_gpu_ctrl_hdr: type, flags, fence_id, ctx_id, ring_idx + padding. */
#define HDR_LEN 24
#define DISPLAY_INFO_LEN (HDR_LEN + 16 * 24)
#define EDID_RESP_LEN (HDR_LEN + 8 + 1024)

typedef struct GpuRect {
    uint32_t x, y, w, h;
} GpuRect;

typedef struct GpuBacking {
    uint64_t addr;
    uint32_t len;
    uint64_t start; /* offset of this entry in the backing store */
} GpuBacking;

typedef struct GpuResource {
    uint32_t id, format, width, height;
    pixman_image_t *image;
    GpuBacking *backing;
    uint32_t nbacking;
    uint64_t backing_len;
} GpuResource;

/* Formats (§5.7.6.8) by the order of their bytes in memory; on a little-endian host
 * pixman names them by the bits of a 32-bit word, most significant first. */
static pixman_format_code_t gpu_format(uint32_t f)
{
    switch (f) {
    case 1: return PIXMAN_a8r8g8b8;   /* B8G8R8A8_UNORM */
    case 2: return PIXMAN_x8r8g8b8;   /* B8G8R8X8_UNORM */
    case 3: return PIXMAN_b8g8r8a8;   /* A8R8G8B8_UNORM */
    case 4: return PIXMAN_b8g8r8x8;   /* X8R8G8B8_UNORM */
    case 67: return PIXMAN_a8b8g8r8;  /* R8G8B8A8_UNORM */
    case 68: return PIXMAN_r8g8b8x8;  /* X8B8G8R8_UNORM */
    case 121: return PIXMAN_r8g8b8a8; /* A8B8G8R8_UNORM */
    case 134: return PIXMAN_x8b8g8r8; /* R8G8B8X8_UNORM */
    default: return 0;
    }
}

static uint64_t max_hostmem(const VirtioGpuState *s)
{
    return (uint64_t)s->max_hostmem_mib << 20;
}

static uint64_t res_bytes(uint32_t w, uint32_t h)
{
    return (uint64_t)w * h * 4;
}

/* What a resource costs the host: its image and its backing entry list. */
static uint64_t res_mem(const GpuResource *r)
{
    return res_bytes(r->width, r->height) + (uint64_t)r->nbacking * sizeof(GpuBacking);
}

static void res_free(gpointer p)
{
    GpuResource *r = p;
    if (r->image)
        pixman_image_unref(r->image);
    g_free(r->backing);
    g_free(r);
}

static GpuResource *res_find(VirtioGpuState *s, uint32_t id)
{
    return id ? g_hash_table_lookup(s->res, GUINT_TO_POINTER(id)) : NULL;
}

/* Whether rect lies inside a w x h image (no wrap-around). */
static bool rect_inside(const GpuRect *r, uint32_t w, uint32_t h)
{
    return r->x <= w && r->w <= w - r->x && r->y <= h && r->h <= h - r->y;
}

static void scanout_off(VirtioGpuState *s)
{
    s->scanout_res = 0;
    s->sx = s->sy = s->sw = s->sh = 0;
    pixman_region32_clear(&s->pending);
    s->resize = true;
}

static void res_destroy(VirtioGpuState *s, GpuResource *r)
{
    if (s->scanout_res == r->id)
        scanout_off(s);
    s->hostmem -= res_mem(r);
    g_hash_table_remove(s->res, GUINT_TO_POINTER(r->id));
}

static void res_destroy_all(VirtioGpuState *s)
{
    g_hash_table_remove_all(s->res);
    s->hostmem = 0;
    scanout_off(s);
}

/* Creates a resource after the caller checked id, format and size; NULL when pixman
 * cannot have the memory. */
static GpuResource *res_create(VirtioGpuState *s, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
    pixman_image_t *img = pixman_image_create_bits(gpu_format(format), (int)w, (int)h, NULL, (int)(w * 4));
    if (!img)
        return NULL;
    GpuResource *r = g_new0(GpuResource, 1);
    r->id = id;
    r->format = format;
    r->width = w;
    r->height = h;
    r->image = img;
    g_hash_table_insert(s->res, GUINT_TO_POINTER(id), r);
    s->hostmem += res_bytes(w, h);
    return r;
}

/* Copies len bytes at offset off of the resource's backing store into buf; false
 * when the store ends before (the rest of buf is left as it was). */
static bool backing_read(VirtioGpuState *s, const GpuResource *r, uint64_t off, uint8_t *buf, size_t len)
{
    if (off >= r->backing_len || len > r->backing_len - off)
        return false;
    /* The entry holding off: the last whose start is at or before it. */
    uint32_t lo = 0, hi = r->nbacking;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->backing[mid].start <= off)
            lo = mid;
        else
            hi = mid;
    }
    GuestMemory *m = virtio_pci_mem(&s->vp);
    for (uint32_t i = lo; len && i < r->nbacking; i++) {
        const GpuBacking *b = &r->backing[i];
        if (off < b->start || off - b->start >= b->len)
            continue;
        uint64_t in = off - b->start;
        size_t n = (size_t)MIN((uint64_t)len, b->len - in);
        if (!mem_read(m, b->addr + in, buf, n))
            return false;
        buf += n;
        off += n;
        len -= n;
    }
    return len == 0;
}

/* ---- EDID (VESA E-EDID 1.4 base block) ---- */

static void edid_chroma(uint8_t *e)
{
    /* sRGB primaries and D65 white as 10-bit fractions (EDID 1.4 §3.7). */
    static const double xy[8] = { 0.640, 0.330, 0.300, 0.600, 0.150, 0.060, 0.3127, 0.3290 };
    unsigned v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (unsigned)(xy[i] * 1024 + 0.5) & 0x3ff;
    e[25] = (uint8_t)((v[0] & 3) << 6 | (v[1] & 3) << 4 | (v[2] & 3) << 2 | (v[3] & 3));
    e[26] = (uint8_t)((v[4] & 3) << 6 | (v[5] & 3) << 4 | (v[6] & 3) << 2 | (v[7] & 3));
    for (int i = 0; i < 8; i++)
        e[27 + i] = (uint8_t)(v[i] >> 2);
}

/* An 18-byte detailed timing descriptor for w x h with reduced blanking at about
 * 60 Hz (EDID 1.4 §3.10.2). */
static void edid_dtd(uint8_t *d, uint32_t w, uint32_t h)
{
    uint32_t hblank = 160, hfront = 48, hsync = 32, vblank = 30, vfront = 3, vsync = 6;
    uint64_t clock = (uint64_t)(w + hblank) * (h + vblank) * 60 / 10000; /* 10 kHz units */
    clock = MIN(clock, 65535);
    uint32_t wmm = w * 254 / 960, hmm = h * 254 / 960; /* 96 dpi */
    d[0] = (uint8_t)clock;
    d[1] = (uint8_t)(clock >> 8);
    d[2] = (uint8_t)w;
    d[3] = (uint8_t)hblank;
    d[4] = (uint8_t)((w >> 8) << 4 | hblank >> 8);
    d[5] = (uint8_t)h;
    d[6] = (uint8_t)vblank;
    d[7] = (uint8_t)((h >> 8) << 4 | vblank >> 8);
    d[8] = (uint8_t)hfront;
    d[9] = (uint8_t)hsync;
    d[10] = (uint8_t)((vfront & 15) << 4 | (vsync & 15));
    d[11] = (uint8_t)((hfront >> 8) << 6 | (hsync >> 8) << 4 | (vfront >> 4) << 2 | vsync >> 4);
    d[12] = (uint8_t)wmm;
    d[13] = (uint8_t)hmm;
    d[14] = (uint8_t)((wmm >> 8) << 4 | (hmm >> 8 & 15));
    d[17] = 0x1e; /* digital separate sync, both polarities positive */
}

static void edid_build(uint8_t *e, uint32_t w, uint32_t h)
{
    static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
    memset(e, 0, GPU_EDID_LEN);
    memcpy(e, header, 8);
    /* Manufacturer "VIR" in three 5-bit letters, big-endian (§3.4.1). */
    uint16_t mfg = ('V' - '@') << 10 | ('I' - '@') << 5 | ('R' - '@');
    e[8] = (uint8_t)(mfg >> 8);
    e[9] = (uint8_t)mfg;
    e[10] = 0x47; /* product code 0x1047 */
    e[11] = 0x10;
    e[17] = 36; /* model year 2026 */
    e[18] = 1;
    e[19] = 4;
    e[20] = 0x80; /* digital input */
    e[21] = (uint8_t)MIN(255u, (w * 254 / 96 + 500) / 1000); /* cm at 96 dpi */
    e[22] = (uint8_t)MIN(255u, (h * 254 / 96 + 500) / 1000);
    e[23] = 120; /* gamma 2.2 */
    e[24] = 0x06; /* sRGB default, the preferred timing is native */
    edid_chroma(e);
    e[35] = 0x21; /* 640x480@60, 800x600@60 */
    e[36] = 0x08; /* 1024x768@60 */
    for (int i = 38; i < 54; i++)
        e[i] = 1; /* no standard timings */
    edid_dtd(e + 54, w, h);
    /* Display product name (tag 0xFC), then two dummy descriptors (tag 0x10). */
    static const char name[13] = "Vireo\n      ";
    e[72 + 3] = 0xfc;
    memcpy(e + 72 + 5, name, 13);
    e[90 + 3] = 0x10;
    e[108 + 3] = 0x10;
    uint8_t sum = 0;
    for (int i = 0; i < 127; i++)
        sum = (uint8_t)(sum + e[i]);
    e[127] = (uint8_t)(0x100 - sum);
}

/* ---- the control queue ---- */

static uint32_t le32(const uint8_t *p) { return pci_get_long(p, 0); }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void rect_get(GpuRect *r, const uint8_t *p)
{
    r->x = le32(p);
    r->y = le32(p + 4);
    r->w = le32(p + 8);
    r->h = le32(p + 12);
}

static bool edid_negotiated(VirtioGpuState *s)
{
    return s->vp.guest_features & (UINT64_C(1) << VIRTIO_GPU_F_EDID);
}

/* Reads the command's fixed part; false (and *err set) when the buffer is short. */
static bool cmd_get(VirtioGpuState *s, const VirtqElem *e, uint8_t *buf, size_t len, uint32_t *err)
{
    if (virtq_elem_read(virtio_pci_mem(&s->vp), e, 0, buf, len) != len) {
        VLOG(LOG_GUEST, "virtio-gpu: command 0x%x shorter than %zu bytes", le32(buf), len);
        *err = RESP_ERR_UNSPEC;
        return false;
    }
    return true;
}

static uint32_t do_create_2d(VirtioGpuState *s, const uint8_t *c)
{
    uint32_t id = le32(c + 24), format = le32(c + 28), w = le32(c + 32), h = le32(c + 36);
    if (!id || res_find(s, id))
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!gpu_format(format) || !w || !h || w > GPU_MAX_RES_DIM || h > GPU_MAX_RES_DIM)
        return RESP_ERR_INVALID_PARAMETER;
    if (g_hash_table_size(s->res) >= GPU_MAX_RESOURCES || res_bytes(w, h) > max_hostmem(s) - s->hostmem) {
        VLOG(LOG_GUEST, "virtio-gpu: resource %u (%ux%u) over the limit of %u resources, %u MiB",
             id, w, h, GPU_MAX_RESOURCES, s->max_hostmem_mib);
        return RESP_ERR_OUT_OF_MEMORY;
    }
    return res_create(s, id, format, w, h) ? RESP_OK_NODATA : RESP_ERR_OUT_OF_MEMORY;
}

static uint32_t do_attach_backing(VirtioGpuState *s, const VirtqElem *e, const uint8_t *c)
{
    uint32_t id = le32(c + 24), n = le32(c + 28);
    GpuResource *r = res_find(s, id);
    if (!r)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (r->backing || !n || n > GPU_MAX_BACKING)
        return RESP_ERR_UNSPEC;
    /* The entry list counts against the host memory limit too. */
    if ((uint64_t)n * sizeof(GpuBacking) > max_hostmem(s) - s->hostmem)
        return RESP_ERR_OUT_OF_MEMORY;
    size_t bytes = (size_t)n * 16;
    g_autofree uint8_t *ents = g_malloc(bytes);
    GuestMemory *m = virtio_pci_mem(&s->vp);
    if (virtq_elem_read(m, e, 32, ents, bytes) != bytes)
        return RESP_ERR_UNSPEC;
    GpuBacking *b = g_new(GpuBacking, n);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        b[i].addr = le64(ents + 16 * i);
        b[i].len = le32(ents + 16 * i + 8);
        b[i].start = total;
        if (!mem_is_ram(m, b[i].addr, b[i].len)) {
            VLOG(LOG_GUEST, "virtio-gpu: backing entry %u of resource %u (0x%" G_GINT64_MODIFIER "x, %u bytes) is not RAM",
                 i, id, b[i].addr, b[i].len);
            g_free(b);
            return RESP_ERR_UNSPEC;
        }
        total += b[i].len;
    }
    r->backing = b;
    r->nbacking = n;
    r->backing_len = total;
    s->hostmem += (uint64_t)n * sizeof(GpuBacking);
    return RESP_OK_NODATA;
}

static uint32_t do_transfer(VirtioGpuState *s, const uint8_t *c)
{
    GpuRect rc;
    rect_get(&rc, c + 24);
    uint64_t off = le64(c + 40);
    GpuResource *r = res_find(s, le32(c + 48));
    if (!r)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!r->backing || !rect_inside(&rc, r->width, r->height))
        return RESP_ERR_INVALID_PARAMETER;
    uint8_t *bits = (uint8_t *)pixman_image_get_data(r->image);
    size_t stride = (size_t)r->width * 4;
    /* Row i of the rectangle comes from off + i * stride (the guest's image has the
     * resource's layout; off is where the rectangle starts in it). */
    for (uint32_t i = 0; i < rc.h; i++) {
        uint64_t src = off + (uint64_t)i * stride;
        uint8_t *dst = bits + (size_t)(rc.y + i) * stride + (size_t)rc.x * 4;
        if (!backing_read(s, r, src, dst, (size_t)rc.w * 4)) {
            VLOG(LOG_GUEST, "virtio-gpu: transfer to resource %u reads past its backing", r->id);
            return RESP_ERR_INVALID_PARAMETER;
        }
    }
    return RESP_OK_NODATA;
}

static uint32_t do_set_scanout(VirtioGpuState *s, const uint8_t *c)
{
    GpuRect rc;
    rect_get(&rc, c + 24);
    uint32_t scanout = le32(c + 40), id = le32(c + 44);
    if (scanout != 0)
        return RESP_ERR_INVALID_SCANOUT_ID;
    if (!id) {
        scanout_off(s);
        return RESP_OK_NODATA;
    }
    GpuResource *r = res_find(s, id);
    if (!r)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!rc.w || !rc.h || rc.w > DISPLAY_MAX_DIM || rc.h > DISPLAY_MAX_DIM || !rect_inside(&rc, r->width, r->height))
        return RESP_ERR_INVALID_PARAMETER;
    if (rc.w != s->sw || rc.h != s->sh)
        s->resize = true;
    s->scanout_res = id;
    s->scanout_taken = true;
    s->sx = rc.x, s->sy = rc.y, s->sw = rc.w, s->sh = rc.h;
    pixman_region32_union_rect(&s->pending, &s->pending, 0, 0, rc.w, rc.h);
    return RESP_OK_NODATA;
}

static uint32_t do_flush(VirtioGpuState *s, const uint8_t *c)
{
    GpuRect rc;
    rect_get(&rc, c + 24);
    GpuResource *r = res_find(s, le32(c + 40));
    if (!r)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!rect_inside(&rc, r->width, r->height))
        return RESP_ERR_INVALID_PARAMETER;
    if (r->id != s->scanout_res)
        return RESP_OK_NODATA;
    /* The flushed part of the scanout's rectangle, in screen coordinates. */
    int64_t x1 = MAX((int64_t)rc.x, (int64_t)s->sx), y1 = MAX((int64_t)rc.y, (int64_t)s->sy);
    int64_t x2 = MIN((int64_t)rc.x + rc.w, (int64_t)s->sx + s->sw);
    int64_t y2 = MIN((int64_t)rc.y + rc.h, (int64_t)s->sy + s->sh);
    if (x1 < x2 && y1 < y2)
        pixman_region32_union_rect(&s->pending, &s->pending, (int)(x1 - s->sx), (int)(y1 - s->sy),
                                   (unsigned)(x2 - x1), (unsigned)(y2 - y1));
    return RESP_OK_NODATA;
}

static void ctrl_one(VirtioGpuState *s, const VirtqElem *e)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    uint8_t c[64] = { 0 };
    uint8_t hdr[HDR_LEN] = { 0 };
    virtq_elem_read(m, e, 0, hdr, HDR_LEN);
    uint32_t type = le32(hdr);
    uint32_t err = RESP_ERR_UNSPEC, resp = 0;
    /* Responses with data are built here; most commands answer with a header only. */
    g_autofree uint8_t *data = NULL;
    size_t data_len = HDR_LEN;
    static const struct { uint32_t type, len; } sizes[] = {
        { CMD_GET_DISPLAY_INFO, HDR_LEN }, { CMD_RESOURCE_CREATE_2D, 40 }, { CMD_RESOURCE_UNREF, 32 },
        { CMD_SET_SCANOUT, 48 }, { CMD_RESOURCE_FLUSH, 48 }, { CMD_TRANSFER_TO_HOST_2D, 56 },
        { CMD_RESOURCE_ATTACH_BACKING, 32 }, { CMD_RESOURCE_DETACH_BACKING, 32 }, { CMD_GET_EDID, 32 },
    };
    uint32_t need = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++)
        if (sizes[i].type == type)
            need = sizes[i].len;
    if (!need) {
        VLOG(LOG_GUEST, "virtio-gpu: unsupported command 0x%x", type);
    } else if (cmd_get(s, e, c, need, &err)) {
        switch (type) {
        case CMD_GET_DISPLAY_INFO:
            data_len = DISPLAY_INFO_LEN;
            data = g_malloc0(data_len);
            pci_set_long(data, HDR_LEN + 8, s->out_w);
            pci_set_long(data, HDR_LEN + 12, s->out_h);
            pci_set_long(data, HDR_LEN + 16, 1); /* enabled */
            resp = RESP_OK_DISPLAY_INFO;
            break;
        case CMD_GET_EDID:
            if (!edid_negotiated(s)) {
                err = RESP_ERR_UNSPEC;
            } else if (le32(c + 24) != 0) {
                err = RESP_ERR_INVALID_SCANOUT_ID;
            } else {
                data_len = EDID_RESP_LEN;
                data = g_malloc0(data_len);
                pci_set_long(data, HDR_LEN, GPU_EDID_LEN);
                edid_build(data + HDR_LEN + 8, s->out_w, s->out_h);
                resp = RESP_OK_EDID;
            }
            break;
        case CMD_RESOURCE_CREATE_2D: err = do_create_2d(s, c); break;
        case CMD_RESOURCE_UNREF: {
            GpuResource *r = res_find(s, le32(c + 24));
            if (r)
                res_destroy(s, r);
            err = r ? RESP_OK_NODATA : RESP_ERR_INVALID_RESOURCE_ID;
            break;
        }
        case CMD_RESOURCE_ATTACH_BACKING: err = do_attach_backing(s, e, c); break;
        case CMD_RESOURCE_DETACH_BACKING: {
            GpuResource *r = res_find(s, le32(c + 24));
            err = !r ? RESP_ERR_INVALID_RESOURCE_ID : !r->backing ? RESP_ERR_UNSPEC : RESP_OK_NODATA;
            if (err == RESP_OK_NODATA) {
                s->hostmem -= (uint64_t)r->nbacking * sizeof(GpuBacking);
                g_clear_pointer(&r->backing, g_free);
                r->nbacking = 0;
                r->backing_len = 0;
            }
            break;
        }
        case CMD_TRANSFER_TO_HOST_2D: err = do_transfer(s, c); break;
        case CMD_SET_SCANOUT: err = do_set_scanout(s, c); break;
        case CMD_RESOURCE_FLUSH: err = do_flush(s, c); break;
        }
    }
    if (!data)
        data = g_malloc0(data_len);
    if (!resp) {
        resp = err;
        if (err != RESP_OK_NODATA)
            VLOG(LOG_GUEST, "virtio-gpu: command 0x%x failed with 0x%x", type, err);
    }
    pci_set_long(data, 0, resp);
    /* A fenced command completes now: everything here is synchronous (§5.7.6.7). */
    if (le32(hdr + 4) & VIRTIO_GPU_FLAG_FENCE) {
        pci_set_long(data, 4, VIRTIO_GPU_FLAG_FENCE);
        memcpy(data + 8, hdr + 8, 16); /* fence_id, ctx_id, ring_idx */
    }
    size_t n = virtq_elem_write(m, e, 0, data, data_len);
    if (n != data_len)
        VLOG(LOG_GUEST, "virtio-gpu: response of %zu bytes cut to %zu", data_len, n);
    virtio_pci_push(&s->vp, 0, e, (uint32_t)n);
}

/* ---- the cursor queue ---- */

static void cursor_one(VirtioGpuState *s, const VirtqElem *e)
{
    uint8_t c[56] = { 0 };
    if (virtq_elem_read(virtio_pci_mem(&s->vp), e, 0, c, sizeof(c)) != sizeof(c)) {
        VLOG(LOG_GUEST, "virtio-gpu: cursor command shorter than 56 bytes");
        return;
    }
    uint32_t type = le32(c);
    if (le32(c + 24) != 0) /* scanout */
        return;
    if (type == CMD_UPDATE_CURSOR) {
        uint32_t id = le32(c + 40);
        s->cursor_gen++;
        GpuResource *r = res_find(s, id);
        if (!id) {
            s->cursor_on = false;
        } else if (r && r->width == GPU_CURSOR_DIM && r->height == GPU_CURSOR_DIM) {
            if (!s->cursor)
                s->cursor = pixman_image_create_bits(PIXMAN_a8r8g8b8, GPU_CURSOR_DIM, GPU_CURSOR_DIM, NULL,
                                                     GPU_CURSOR_DIM * 4);
            if (r->format == 2) {
                /* B8G8R8X8: Linux's cursor plane draws ARGB8888 into a dumb buffer whose
                 * resource it creates as XRGB, so the fourth byte is the alpha (QEMU
                 * takes a cursor resource's bytes as they are, too). */
                const uint8_t *src = (const uint8_t *)pixman_image_get_data(r->image);
                int stride = pixman_image_get_stride(r->image);
                uint8_t *dst = (uint8_t *)pixman_image_get_data(s->cursor);
                for (int y = 0; y < GPU_CURSOR_DIM; y++)
                    memcpy(dst + (size_t)y * GPU_CURSOR_DIM * 4, src + (size_t)y * (size_t)stride, GPU_CURSOR_DIM * 4);
            } else {
                pixman_image_composite32(PIXMAN_OP_SRC, r->image, NULL, s->cursor, 0, 0, 0, 0, 0, 0,
                                         GPU_CURSOR_DIM, GPU_CURSOR_DIM);
            }
            s->cursor_on = true;
            s->hot_x = MIN(le32(c + 44), GPU_CURSOR_DIM - 1);
            s->hot_y = MIN(le32(c + 48), GPU_CURSOR_DIM - 1);
        } else {
            VLOG(LOG_GUEST, "virtio-gpu: cursor resource %u is not a %dx%d resource", id, GPU_CURSOR_DIM,
                 GPU_CURSOR_DIM);
        }
    } else if (type != CMD_MOVE_CURSOR) {
        VLOG(LOG_GUEST, "virtio-gpu: unknown cursor command 0x%x", type);
        return;
    }
    s->cursor_x = MIN(le32(c + 28), (uint32_t)DISPLAY_MAX_DIM);
    s->cursor_y = MIN(le32(c + 32), (uint32_t)DISPLAY_MAX_DIM);
}

static void gpu_notify(VirtioPci *vp, unsigned q)
{
    VirtioGpuState *s = vp->opaque;
    VirtqElem e;
    virtq_elem_init(&e);
    while (virtio_pci_pop(vp, q, &e)) {
        if (q == 0) {
            ctrl_one(s, &e);
        } else {
            cursor_one(s, &e);
            virtio_pci_push(vp, q, &e, 0);
        }
    }
    virtq_elem_clear(&e);
}

/* ---- configuration (§5.7.4) ---- */

static void gpu_config_read(VirtioPci *vp, uint8_t *config)
{
    VirtioGpuState *s = vp->opaque;
    pci_set_long(config, 0, s->events_read);
    pci_set_long(config, 4, 0);
    pci_set_long(config, 8, 1); /* num_scanouts */
    pci_set_long(config, 12, 0); /* num_capsets: no 3D */
}

static void gpu_config_write(VirtioPci *vp, const uint8_t *config, unsigned off, unsigned len)
{
    VirtioGpuState *s = vp->opaque;
    /* events_clear: the bits written are cleared from events_read. */
    if (off < 8 && off + len > 4)
        s->events_read &= ~pci_get_long(config, 4);
}

static void gpu_reset(VirtioPci *vp)
{
    VirtioGpuState *s = vp->opaque;
    res_destroy_all(s);
    s->events_read = 0;
    s->cursor_on = false;
    s->cursor_x = s->cursor_y = s->hot_x = s->hot_y = 0;
    s->cursor_gen++;
    s->scanout_taken = false;
}

/* ---- the display ---- */

/* The cursor for front ends that draw one (display_console_set_cursor): the shape when
 * the guest sent a new one, the position at every update. */
static void cursor_publish(VirtioGpuState *s, DisplayConsole *con)
{
    bool show = s->cursor_on && s->cursor;
    if (s->cursor_gen != s->cursor_published) {
        s->cursor_published = s->cursor_gen;
        if (show)
            display_console_set_cursor(con, pixman_image_get_data(s->cursor), GPU_CURSOR_DIM, GPU_CURSOR_DIM,
                                       (int)s->hot_x, (int)s->hot_y);
        else
            display_console_set_cursor(con, NULL, 0, 0, 0, 0);
    }
    display_console_move_cursor(con, show && s->scanout_res, (int)s->cursor_x, (int)s->cursor_y);
}

void virtio_gpu_redraw(VirtioGpuState *s)
{
    s->resize = true;
    s->cursor_gen++;
}

void virtio_gpu_display_update(VirtioGpuState *s, DisplayConsole *con)
{
    cursor_publish(s, con);
    GpuResource *r = res_find(s, s->scanout_res);
    if (s->resize) {
        s->resize = false;
        s->cursor_drawn = false;
        if (r) {
            display_console_resize(con, (int)s->sw, (int)s->sh, 0, 0);
            pixman_region32_union_rect(&s->pending, &s->pending, 0, 0, s->sw, s->sh);
        } else {
            /* Scanout off: the picture goes black at the size it had. */
            DisplaySurface *ds = display_console_surface(con);
            pixman_color_t black = { 0, 0, 0, 0xffff };
            pixman_box32_t box = { 0, 0, ds->width, ds->height };
            pixman_image_fill_boxes(PIXMAN_OP_SRC, ds->image, &black, 1, &box);
            display_console_dirty(con, 0, 0, ds->width, ds->height);
        }
    }
    if (!r)
        return;
    DisplaySurface *ds = display_console_surface(con);
    /* The cursor is composed over the picture: where it was and where it goes are
     * redrawn from the resource, then the cursor on top. */
    int cx = (int)s->cursor_x - (int)s->hot_x, cy = (int)s->cursor_y - (int)s->hot_y;
    bool show = s->cursor_on && s->cursor && display_console_cursor_in_picture(con);
    if (s->cursor_drawn && (!show || cx != s->drawn_x || cy != s->drawn_y))
        pixman_region32_union_rect(&s->pending, &s->pending, s->drawn_x, s->drawn_y, GPU_CURSOR_DIM, GPU_CURSOR_DIM);
    if (show && (!s->cursor_drawn || cx != s->drawn_x || cy != s->drawn_y))
        pixman_region32_union_rect(&s->pending, &s->pending, cx, cy, GPU_CURSOR_DIM, GPU_CURSOR_DIM);
    if (show) {
        /* Anything redrawn under the cursor needs the cursor again: redraw all of it. */
        pixman_box32_t cb = { cx, cy, cx + GPU_CURSOR_DIM, cy + GPU_CURSOR_DIM };
        if (pixman_region32_contains_rectangle(&s->pending, &cb) != PIXMAN_REGION_OUT)
            pixman_region32_union_rect(&s->pending, &s->pending, cx, cy, GPU_CURSOR_DIM, GPU_CURSOR_DIM);
    }
    pixman_region32_intersect_rect(&s->pending, &s->pending, 0, 0, (unsigned)ds->width, (unsigned)ds->height);
    int nb = 0;
    pixman_box32_t *boxes = pixman_region32_rectangles(&s->pending, &nb);
    bool cursor_hit = false;
    for (int i = 0; i < nb; i++) {
        pixman_box32_t *b = &boxes[i];
        int w = b->x2 - b->x1, h = b->y2 - b->y1;
        pixman_image_composite32(PIXMAN_OP_SRC, r->image, NULL, ds->image, b->x1 + (int)s->sx, b->y1 + (int)s->sy,
                                 0, 0, b->x1, b->y1, w, h);
        display_console_dirty(con, b->x1, b->y1, w, h);
        cursor_hit |= show && b->x1 < cx + GPU_CURSOR_DIM && cx < b->x2 && b->y1 < cy + GPU_CURSOR_DIM && cy < b->y2;
    }
    if (cursor_hit) {
        pixman_image_composite32(PIXMAN_OP_OVER, s->cursor, NULL, ds->image, 0, 0, 0, 0, cx, cy, GPU_CURSOR_DIM,
                                 GPU_CURSOR_DIM);
        display_console_dirty(con, cx, cy, GPU_CURSOR_DIM, GPU_CURSOR_DIM);
    }
    if (show && cursor_hit) {
        s->cursor_drawn = true;
        s->drawn_x = cx;
        s->drawn_y = cy;
    } else if (!show) {
        s->cursor_drawn = false;
    }
    pixman_region32_clear(&s->pending);
}

static void gpu_update(void *opaque, DisplayConsole *con)
{
    virtio_gpu_display_update(opaque, con);
}

char *virtio_gpu_describe_mode(VirtioGpuState *s)
{
    if (!s->scanout_res)
        return g_strdup("virtio-gpu: no scanout");
    GpuResource *r = res_find(s, s->scanout_res);
    return g_strdup_printf("virtio-gpu %ux%u (resource %u, format %u)", s->sw, s->sh, s->scanout_res,
                           r ? r->format : 0);
}

static char *gpu_describe_mode(void *opaque)
{
    return virtio_gpu_describe_mode(opaque);
}

bool virtio_gpu_request_size(VirtioGpuState *s, int width, int height)
{
    uint32_t w = CLAMP((uint32_t)width, GPU_MIN_OUT, GPU_MAX_OUT);
    uint32_t h = CLAMP((uint32_t)height, GPU_MIN_OUT, GPU_MAX_OUT);
    if (w == s->out_w && h == s->out_h)
        return true;
    s->out_w = w;
    s->out_h = h;
    /* §5.7.4.1: the driver reads the display information again on this event. */
    s->events_read |= VIRTIO_GPU_EVENT_DISPLAY;
    virtio_pci_config_changed(&s->vp);
    return true;
}

static bool gpu_request_size(void *opaque, int width, int height)
{
    return virtio_gpu_request_size(opaque, width, height);
}

static const DisplayDeviceOps gpu_display_ops = {
    .update = gpu_update,
    .describe_mode = gpu_describe_mode,
    .request_size = gpu_request_size,
};

static const VirtioDeviceInfo gpu_info = {
    .name = "virtio-gpu-pci",
    .virtio_type = 16,
    .pci_class = 0x038000, /* display controller, other */
    .modern_only = true,
    .config_len = GPU_CONFIG_LEN,
    .queue_notify = gpu_notify,
    .config_read = gpu_config_read,
    .config_write = gpu_config_write,
    .reset = gpu_reset,
};

/* virtio-vga (QEMU's layout): a VGA-class function whose BAR 0 is the VGA's video
 * memory, BAR 2 the VGA's MMIO registers followed by the modern interface, BAR 4
 * the MSI-X table. */
static const VirtioDeviceInfo vga_gpu_info = {
    .name = "virtio-vga",
    .virtio_type = 16,
    .pci_class = 0x030000, /* VGA-compatible display controller */
    .modern_only = true,
    .config_len = GPU_CONFIG_LEN,
    .queue_notify = gpu_notify,
    .config_read = gpu_config_read,
    .config_write = gpu_config_write,
    .reset = gpu_reset,
};

bool virtio_gpu_init(VirtioGpuState *s, Vm *vm, bool vga, const MemOps *vga_mmio, void *vga_opaque,
                     GError **err)
{
    const VirtioDeviceInfo *info = vga ? &vga_gpu_info : &gpu_info;
    if (vm_display_console(vm)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%s: the VM already has a display adapter (a VM has one screen)", info->name);
        return false;
    }
    if (s->xres < GPU_MIN_OUT || s->xres > GPU_MAX_OUT || s->yres < GPU_MIN_OUT || s->yres > GPU_MAX_OUT) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: xres and yres must be %d to %d", info->name,
                    GPU_MIN_OUT, GPU_MAX_OUT);
        return false;
    }
    if (vga) {
        s->vp.modern_bar = 2;
        s->vp.msix_bar = 4;
        s->vp.modern_base = VIRTIO_PCI_MODERN_BASE;
        s->vp.front_ops = vga_mmio;
        s->vp.front_opaque = vga_opaque;
    }
    uint64_t features = s->edid ? UINT64_C(1) << VIRTIO_GPU_F_EDID : 0;
    if (!virtio_pci_realize(&s->vp, vm, s->addr, false, info, features, s, err))
        return false;
    virtio_pci_add_queue(&s->vp, GPU_QUEUE_SIZE); /* controlq */
    virtio_pci_add_queue(&s->vp, 16);             /* cursorq */
    s->res = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, res_free);
    pixman_region32_init(&s->pending);
    s->out_w = s->xres;
    s->out_h = s->yres;
    return true;
}

static bool gpu_realize(Device *dev, GError **err)
{
    VirtioGpuState *s = (VirtioGpuState *)dev;
    if (!virtio_gpu_init(s, dev->vm, false, NULL, NULL, err))
        return false;
    display_console_register(dev->vm, &gpu_display_ops, s);
    return true;
}

void virtio_gpu_fini(VirtioGpuState *s)
{
    if (s->res)
        g_hash_table_destroy(s->res);
    s->res = NULL;
    if (s->cursor)
        pixman_image_unref(s->cursor);
    s->cursor = NULL;
    if (s->saved)
        g_bytes_unref(s->saved);
    s->saved = NULL;
    pixman_region32_fini(&s->pending);
    virtio_pci_unrealize(&s->vp);
}

static void gpu_unrealize(Device *dev)
{
    virtio_gpu_fini((VirtioGpuState *)dev);
}

static void gpu_dev_reset(Device *dev)
{
    virtio_pci_reset(&((VirtioGpuState *)dev)->vp);
}

/* ---- saved state ----
 * The resources have no fixed shape, so pre_save writes them into one blob (field
 * "saved"): per resource u32 id, format, width, height, backing entries n, then n x
 * (u64 address, u32 length), then the pixels (width * 4 bytes a row); then a u32 0
 * and, when the cursor is on, its 64x64 pixels. check parses it without side effects;
 * post_load rebuilds the resources from it. */

#define SAVED_MAX ((size_t)1 << 31)

static void put32(GByteArray *a, uint32_t v)
{
    uint8_t b[4];
    pci_set_long(b, 0, v);
    g_byte_array_append(a, b, 4);
}

static gint id_cmp(gconstpointer a, gconstpointer b)
{
    uint32_t x = GPOINTER_TO_UINT(*(gconstpointer *)a), y = GPOINTER_TO_UINT(*(gconstpointer *)b);
    return x < y ? -1 : x > y;
}

void virtio_gpu_pre_save(VirtioGpuState *s)
{
    GByteArray *a = g_byte_array_new();
    GPtrArray *ids = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, s->res);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_ptr_array_add(ids, key);
    g_ptr_array_sort(ids, id_cmp);
    for (guint i = 0; i < ids->len; i++) {
        GpuResource *r = res_find(s, GPOINTER_TO_UINT(ids->pdata[i]));
        put32(a, r->id);
        put32(a, r->format);
        put32(a, r->width);
        put32(a, r->height);
        put32(a, r->nbacking);
        for (uint32_t j = 0; j < r->nbacking; j++) {
            put32(a, (uint32_t)r->backing[j].addr);
            put32(a, (uint32_t)(r->backing[j].addr >> 32));
            put32(a, r->backing[j].len);
        }
        g_byte_array_append(a, (const guint8 *)pixman_image_get_data(r->image), (guint)res_bytes(r->width, r->height));
    }
    g_ptr_array_free(ids, TRUE);
    put32(a, 0);
    if (s->cursor_on && s->cursor)
        g_byte_array_append(a, (const guint8 *)pixman_image_get_data(s->cursor), GPU_CURSOR_DIM * GPU_CURSOR_DIM * 4);
    if (s->saved)
        g_bytes_unref(s->saved);
    s->saved = g_byte_array_free_to_bytes(a);
}

typedef struct SavedReader {
    const uint8_t *p;
    size_t left;
} SavedReader;

static bool take(SavedReader *r, size_t n, const uint8_t **out)
{
    if (n > r->left)
        return false;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static bool take32(SavedReader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!take(r, 4, &p))
        return false;
    *v = le32(p);
    return true;
}

/* Walks the blob; with s (post_load) it rebuilds the resources, without it (check)
 * it only validates against the limits of t. */
static bool saved_walk(const VirtioGpuState *t, VirtioGpuState *s, GError **err)
{
    if (!t->saved) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "virtio-gpu-pci: no resource list");
        return false;
    }
    gsize len;
    SavedReader rd = { g_bytes_get_data(t->saved, &len), 0 };
    rd.left = len;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    uint64_t mem = 0;
    GuestMemory *m = virtio_pci_mem((VirtioPci *)&t->vp);
    const char *why = NULL;
    for (;;) {
        uint32_t id, format, w, h, n;
        if (!take32(&rd, &id)) {
            why = "truncated";
            break;
        }
        if (!id)
            break;
        if (!take32(&rd, &format) || !take32(&rd, &w) || !take32(&rd, &h) || !take32(&rd, &n)) {
            why = "truncated";
            break;
        }
        if (g_hash_table_contains(seen, GUINT_TO_POINTER(id)) || !gpu_format(format) || !w || !h ||
            w > GPU_MAX_RES_DIM || h > GPU_MAX_RES_DIM || n > GPU_MAX_BACKING ||
            g_hash_table_size(seen) >= GPU_MAX_RESOURCES ||
            res_bytes(w, h) + (uint64_t)n * sizeof(GpuBacking) > max_hostmem(t) - mem) {
            why = "a resource beyond the device's limits";
            break;
        }
        g_hash_table_add(seen, GUINT_TO_POINTER(id));
        mem += res_bytes(w, h) + (uint64_t)n * sizeof(GpuBacking);
        const uint8_t *ents, *pix;
        if (!take(&rd, (size_t)n * 12, &ents) || !take(&rd, (size_t)res_bytes(w, h), &pix)) {
            why = "truncated";
            break;
        }
        for (uint32_t j = 0; j < n && !why; j++)
            if (!mem_is_ram(m, le64(ents + 12 * j), le32(ents + 12 * j + 8)))
                why = "a backing entry outside RAM";
        if (why)
            break;
        if (s) {
            GpuResource *r = res_create(s, id, format, w, h);
            if (!r)
                g_error("virtio-gpu: out of memory restoring a %ux%u resource", w, h);
            memcpy(pixman_image_get_data(r->image), pix, (size_t)res_bytes(w, h));
            if (n) {
                r->backing = g_new(GpuBacking, n);
                r->nbacking = n;
                s->hostmem += (uint64_t)n * sizeof(GpuBacking);
                for (uint32_t j = 0; j < n; j++) {
                    r->backing[j].addr = le64(ents + 12 * j);
                    r->backing[j].len = le32(ents + 12 * j + 8);
                    r->backing[j].start = r->backing_len;
                    r->backing_len += r->backing[j].len;
                }
            }
        }
    }
    if (!why) {
        size_t want = t->cursor_on ? GPU_CURSOR_DIM * GPU_CURSOR_DIM * 4 : 0;
        if (rd.left != want)
            why = "a cursor image of the wrong size";
        else if (s && want) {
            if (!s->cursor)
                s->cursor = pixman_image_create_bits(PIXMAN_a8r8g8b8, GPU_CURSOR_DIM, GPU_CURSOR_DIM, NULL,
                                                     GPU_CURSOR_DIM * 4);
            memcpy(pixman_image_get_data(s->cursor), rd.p, want);
        }
    }
    if (!why && t->scanout_res && !g_hash_table_contains(seen, GUINT_TO_POINTER(t->scanout_res)))
        why = "a scanout on a resource that does not exist";
    if (why) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "virtio-gpu-pci: resource list: %s", why);
        return false;
    }
    return true;
}

bool virtio_gpu_state_check(const VirtioGpuState *s, GError **err)
{
    if (!virtio_pci_state_check(&s->vp, err))
        return false;
    if (s->out_w < GPU_MIN_OUT || s->out_w > GPU_MAX_OUT || s->out_h < GPU_MIN_OUT || s->out_h > GPU_MAX_OUT) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "virtio-gpu-pci: display size %ux%u", s->out_w, s->out_h);
        return false;
    }
    if (!saved_walk(s, NULL, err))
        return false;
    if (s->scanout_res) {
        /* The resource's size is in the blob: find it again for the rectangle. */
        gsize len;
        const uint8_t *p = g_bytes_get_data(s->saved, &len);
        SavedReader rd = { p, len };
        uint32_t id = 0, format, w = 0, h = 0, n;
        while (take32(&rd, &id) && id && take32(&rd, &format) && take32(&rd, &w) && take32(&rd, &h) &&
               take32(&rd, &n) && id != s->scanout_res) {
            const uint8_t *skip;
            take(&rd, (size_t)n * 12 + (size_t)res_bytes(w, h), &skip);
        }
        GpuRect rc = { s->sx, s->sy, s->sw, s->sh };
        if (!rc.w || !rc.h || rc.w > DISPLAY_MAX_DIM || rc.h > DISPLAY_MAX_DIM || !rect_inside(&rc, w, h)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "virtio-gpu-pci: scanout rectangle outside its resource");
            return false;
        }
    }
    return true;
}

void virtio_gpu_post_load(VirtioGpuState *s)
{
    uint32_t scanout = s->scanout_res, x = s->sx, y = s->sy, w = s->sw, h = s->sh;
    g_hash_table_remove_all(s->res);
    s->hostmem = 0;
    saved_walk(s, s, NULL); /* checked before the load committed */
    g_clear_pointer(&s->saved, g_bytes_unref);
    pixman_region32_clear(&s->pending);
    s->scanout_res = scanout;
    s->sx = x, s->sy = y, s->sw = w, s->sh = h;
    if (scanout)
        pixman_region32_union_rect(&s->pending, &s->pending, 0, 0, w, h);
    s->resize = true;
    s->cursor_drawn = false;
    s->cursor_gen++;
    virtio_pci_post_load(&s->vp);
}

static const VmStateField gpu_fields[] = {
    VMSTATE_STRUCT(VirtioGpuState, vp, VirtioPci, &virtio_pci_vmsd),
    VMSTATE_U32_RANGE(VirtioGpuState, events_read, 0, VIRTIO_GPU_EVENT_DISPLAY),
    VMSTATE_U32(VirtioGpuState, out_w),
    VMSTATE_U32(VirtioGpuState, out_h),
    VMSTATE_U32(VirtioGpuState, scanout_res),
    VMSTATE_U32(VirtioGpuState, sx),
    VMSTATE_U32(VirtioGpuState, sy),
    VMSTATE_U32(VirtioGpuState, sw),
    VMSTATE_U32(VirtioGpuState, sh),
    VMSTATE_BOOL(VirtioGpuState, cursor_on),
    VMSTATE_U32_RANGE(VirtioGpuState, cursor_x, 0, DISPLAY_MAX_DIM),
    VMSTATE_U32_RANGE(VirtioGpuState, cursor_y, 0, DISPLAY_MAX_DIM),
    VMSTATE_U32_RANGE(VirtioGpuState, hot_x, 0, GPU_CURSOR_DIM - 1),
    VMSTATE_U32_RANGE(VirtioGpuState, hot_y, 0, GPU_CURSOR_DIM - 1),
    VMSTATE_BYTES(VirtioGpuState, saved, SAVED_MAX),
    VMSTATE_END,
};

const VmStateDesc virtio_gpu_state_vmsd = {
    .name = "virtio-gpu",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = gpu_fields,
};

static void gpu_pre_save(void *state)
{
    virtio_gpu_pre_save(state);
}

static bool gpu_check(const void *state, GError **err)
{
    return virtio_gpu_state_check(state, err);
}

static void gpu_post_load(void *state)
{
    virtio_gpu_post_load(state);
}

static const VmStateDesc gpu_vmsd = {
    .name = "virtio-gpu-pci",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = gpu_fields,
    .pre_save = gpu_pre_save,
    .check = gpu_check,
    .post_load = gpu_post_load,
};

const DeviceProp virtio_gpu_props[] = {
    PCI_DEVICE_PROP_ADDR(VirtioGpuState, addr),
    { "xres", DEVICE_PROP_U32, offsetof(VirtioGpuState, xres), "display width offered at start", "1280",
      GPU_MIN_OUT, GPU_MAX_OUT, NULL },
    { "yres", DEVICE_PROP_U32, offsetof(VirtioGpuState, yres), "display height offered at start", "800",
      GPU_MIN_OUT, GPU_MAX_OUT, NULL },
    { "max-hostmem-mib", DEVICE_PROP_U32, offsetof(VirtioGpuState, max_hostmem_mib),
      "MiB of host memory the guest's resources may use", "256", 1, 1024, NULL },
    { "edid", DEVICE_PROP_BOOL, offsetof(VirtioGpuState, edid), "offer an EDID block (VIRTIO_GPU_F_EDID)", "on",
      0, 0, NULL },
    { NULL },
};

static const DeviceClass gpu_class = {
    .name = "virtio-gpu-pci",
    .description = "virtio 2D GPU (PCI 1af4:1050), display size following the window",
    .instance_size = sizeof(VirtioGpuState),
    .user_creatable = true,
    .props = virtio_gpu_props,
    .vmsd = &gpu_vmsd,
    .realize = gpu_realize,
    .reset = gpu_dev_reset,
    .unrealize = gpu_unrealize,
};

static void __attribute__((constructor)) gpu_register(void)
{
    device_class_register(&gpu_class);
}
