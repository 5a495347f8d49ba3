/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CL-GD5446 BitBLT engine (Technical Reference Manual, BitBLT engine), as QEMU models
 * it: screen-to-screen copies forward and backward with the sixteen raster operations
 * of GR32 and an optional transparent colour (8 and 16 bpp), 8x8 pattern fills, colour
 * expansion of monochrome source (opaque, or transparent where a bit is clear), 8x8
 * monochrome patterns, solid fills, and system-to-screen blits whose source the CPU
 * writes through the memory window or BAR 0.
 *
 * Safety: before a single byte moves, the whole destination (and video source) region
 * is computed in 64-bit arithmetic from the start address, pitch, width and height and
 * must lie inside video memory; a blit that does not is refused and ends at once (the
 * guest sees the engine idle). Every loop below then stays inside those regions, so no
 * pitch (zero, "negative" through a backward blit, huge) and no width can reach past
 * video memory or the source buffer. */
#include "hw/display/cirrus-internal.h"

#include <string.h>

/* GR32 codes of the sixteen operations (the TRM's BLT ROP table, Windows' ROP2 set);
 * others leave the destination. */
static inline uint8_t rop_apply(uint8_t rop, uint8_t d, uint8_t s)
{
    switch (rop) {
    case 0x00: return 0;
    case 0x05: return s & d;
    case 0x06: return d;
    case 0x09: return s & (uint8_t)~d;
    case 0x0b: return (uint8_t)~d;
    case 0x0d: return s;
    case 0x0e: return 0xff;
    case 0x50: return (uint8_t)~s & d;
    case 0x59: return s ^ d;
    case 0x6d: return s | d;
    case 0x90: return (uint8_t)(~s | ~d);
    case 0x95: return (uint8_t)~(s ^ d);
    case 0xad: return s | (uint8_t)~d;
    case 0xd0: return (uint8_t)~s;
    case 0xd6: return (uint8_t)~s | d;
    case 0xda: return (uint8_t)(~s & ~d);
    default: return d;
    }
}

/* Bytes of the 8x8 pattern in video memory or the source stream, and the distance of
 * its rows: 8 pixels per row, 24 bpp rows padded to 32 bytes. */
static uint32_t pattern_pitch(uint32_t pw)
{
    return pw >= 3 ? 32 : 8 * pw;
}

/* The left edge GR2F skips in pattern and colour-expand blits: in bytes of the
 * destination, and in bits of a monochrome source row. */
static void skip_left(const CirrusBlit *b, uint32_t *dst_skip, uint32_t *src_skip)
{
    if (b->pw == 3) {
        *dst_skip = b->skip & 0x1f;
        *src_skip = *dst_skip / 3;
    } else {
        *src_skip = b->skip & 0x07;
        *dst_skip = *src_skip * b->pw;
    }
}

/* Bytes of monochrome source one line of a colour expansion takes. */
static uint32_t expand_line_bytes(const CirrusBlit *b)
{
    uint32_t dskip, sskip;
    skip_left(b, &dskip, &sskip);
    uint32_t pixels = b->width > dskip ? (b->width - dskip + b->pw - 1) / b->pw : 0;
    uint32_t bytes = (sskip + pixels + 7) / 8;
    if (bytes == 0)
        bytes = 1;
    if (b->modeext & BLTX_DWORD_SOURCE)
        bytes = (bytes + 3) & ~3u;
    return bytes;
}

/* The bytes [*lo, *hi] a region of `height` lines of `width` bytes touches, starting at
 * `start` and moving by `pitch` per line, downwards (forward) or upwards with each line
 * ending at its address (backward). False when any of it is outside video memory. */
static bool region_in_vram(uint32_t start, uint32_t pitch, uint32_t width, uint32_t height, bool backward,
                           uint64_t *lo_out, uint64_t *hi_out)
{
    int64_t span = (int64_t)(height - 1) * pitch;
    int64_t lo, hi;
    if (backward) {
        hi = start;
        lo = (int64_t)start - span - (int64_t)(width - 1);
    } else {
        lo = start;
        hi = (int64_t)start + span + (int64_t)(width - 1);
    }
    if (lo < 0 || hi >= (int64_t)CIRRUS_VRAM_SIZE)
        return false;
    *lo_out = (uint64_t)lo;
    *hi_out = (uint64_t)hi;
    return true;
}

/* ---- one destination line ---- */

/* Writes pixel colour `col` (pw bytes) at byte x of a line of `width` bytes through the
 * raster operation; bytes of a last, partial pixel past the line are dropped. */
static inline void put_pixel(uint8_t *line, uint32_t x, uint32_t width, uint32_t col, uint32_t pw, uint8_t rop)
{
    for (uint32_t i = 0; i < pw && x + i < width; i++)
        line[x + i] = rop_apply(rop, line[x + i], (uint8_t)(col >> (8 * i)));
}

static void line_copy(const CirrusBlit *b, uint8_t *d, const uint8_t *s, const uint8_t transp[2],
                      const uint8_t tmask[2])
{
    uint32_t w = b->width;
    bool backward = b->mode & BLT_BACKWARDS;
    if (!(b->mode & BLT_TRANSPARENT)) {
        /* Byte by byte in the engine's order, so overlapping copies smear as on the chip. */
        if (backward)
            for (uint32_t i = w; i-- > 0;)
                d[i] = rop_apply(b->rop, d[i], s[i]);
        else
            for (uint32_t i = 0; i < w; i++)
                d[i] = rop_apply(b->rop, d[i], s[i]);
        return;
    }
    /* Transparent compare (8 and 16 bpp): a result pixel equal to GR34/35, bits set in
     * the mask GR38/39 ignored, leaves the destination pixel. */
    uint32_t pw = b->pw;
    for (uint32_t k = 0; k * pw < w; k++) {
        int64_t first = backward ? (int64_t)w - (int64_t)(k + 1) * pw : (int64_t)k * pw;
        uint8_t res[2];
        bool same = true;
        for (uint32_t i = 0; i < pw; i++) {
            int64_t x = first + i;
            if (x < 0 || x >= w)
                continue;
            res[i] = rop_apply(b->rop, d[x], s[x]);
            if ((res[i] ^ transp[i]) & (uint8_t)~tmask[i])
                same = false;
        }
        if (same)
            continue;
        for (uint32_t i = 0; i < pw; i++) {
            int64_t x = first + i;
            if (x >= 0 && x < w)
                d[x] = res[i];
        }
    }
}

/* Colour expansion of one line from its monochrome bits (bit 7 first). */
static void line_expand(const CirrusBlit *b, uint8_t *d, const uint8_t *bits, uint32_t nbytes)
{
    uint32_t dskip, sskip;
    skip_left(b, &dskip, &sskip);
    bool transparent = b->mode & BLT_TRANSPARENT;
    bool invert = b->modeext & BLTX_EXPAND_INVERT;
    uint32_t bit = sskip;
    for (uint32_t x = dskip; x < b->width; x += b->pw, bit++) {
        if (bit / 8 >= nbytes)
            break;
        unsigned v = (bits[bit / 8] >> (7 - bit % 8)) & 1;
        if (transparent) {
            /* GR33 bit 1 inverts the source: clear bits then draw in the background. */
            if (v ^ invert)
                put_pixel(d, x, b->width, invert ? b->bg : b->fg, b->pw, b->rop);
        } else {
            put_pixel(d, x, b->width, v ? b->fg : b->bg, b->pw, b->rop);
        }
    }
}

/* Line y of an 8x8 pattern blit; pat is the whole pattern (colour: 8 rows at
 * pattern_pitch; monochrome: 8 bytes). */
static void line_pattern(const CirrusBlit *b, uint8_t *d, const uint8_t *pat, uint32_t y)
{
    uint32_t dskip, sskip;
    skip_left(b, &dskip, &sskip);
    uint32_t row = (b->src + y) & 7;
    if (b->mode & BLT_COLOR_EXPAND) {
        uint8_t bits = pat[row];
        bool transparent = b->mode & BLT_TRANSPARENT;
        bool invert = b->modeext & BLTX_EXPAND_INVERT;
        unsigned pos = 7 - (sskip & 7);
        for (uint32_t x = dskip; x < b->width; x += b->pw, pos = (pos - 1) & 7) {
            unsigned v = (bits >> pos) & 1;
            if (transparent) {
                if (v ^ invert)
                    put_pixel(d, x, b->width, invert ? b->bg : b->fg, b->pw, b->rop);
            } else {
                put_pixel(d, x, b->width, v ? b->fg : b->bg, b->pw, b->rop);
            }
        }
        return;
    }
    const uint8_t *prow = pat + row * pattern_pitch(b->pw);
    uint32_t px = (dskip / b->pw) & 7;
    for (uint32_t x = dskip; x < b->width; x += b->pw, px = (px + 1) & 7) {
        const uint8_t *p = prow + px * b->pw;
        uint32_t col = 0;
        for (uint32_t i = 0; i < b->pw; i++)
            col |= (uint32_t)p[i] << (8 * i);
        put_pixel(d, x, b->width, col, b->pw, b->rop);
    }
}

static void line_fill(const CirrusBlit *b, uint8_t *d)
{
    for (uint32_t x = 0; x < b->width; x += b->pw)
        put_pixel(d, x, b->width, b->fg, b->pw, b->rop);
}

/* ---- the engine ---- */

/* Where destination line y starts (its leftmost byte). The caller checked the region. */
static uint32_t dst_line(const CirrusBlit *b, uint32_t y)
{
    if (b->mode & BLT_BACKWARDS)
        return b->dst - y * b->dst_pitch - (b->width - 1);
    return b->dst + y * b->dst_pitch;
}

void cirrus_blt_reset(CirrusState *c)
{
    uint8_t *gr31 = &c->gr[0x31];
    *gr31 &= (uint8_t)~(BLT_STATUS_BUSY | BLT_STATUS_START | BLT_STATUS_PROGRESS);
    bool was_feeding = c->blt_feeding;
    c->blt_feeding = false;
    c->blt.src_fill = 0;
    c->blt.line = 0;
    if (was_feeding)
        cirrus_update_memory_map(c);
}

static bool refuse(CirrusState *c, const char *why)
{
    VLOG(LOG_UNIMP, "cirrus: blit refused (%s): %ux%u dst 0x%x/%u src 0x%x/%u mode 0x%02x",
         why, c->blt.width, c->blt.height, c->blt.dst, c->blt.dst_pitch, c->blt.src, c->blt.src_pitch, c->blt.mode);
    cirrus_blt_reset(c);
    return false;
}

static void transp_colour(const CirrusState *c, uint8_t transp[2], uint8_t tmask[2])
{
    transp[0] = c->gr[0x34];
    transp[1] = c->gr[0x35];
    tmask[0] = c->gr[0x38];
    tmask[1] = c->gr[0x39];
}

/* Runs lines [from, to) with the source for each from src_at (video source) or the one
 * buffered line (system source). */
static void run_lines(CirrusState *c, uint32_t from, uint32_t to, const uint8_t *cpu_src)
{
    CirrusBlit *b = &c->blt;
    uint8_t *vram = c->vga.vram;
    uint8_t transp[2], tmask[2];
    transp_colour(c, transp, tmask);
    bool pattern = b->mode & BLT_PATTERN;
    bool expand = b->mode & BLT_COLOR_EXPAND;
    const uint8_t *pat = NULL;
    if (pattern)
        pat = cpu_src ? cpu_src
                      : vram + (b->src & ~((expand ? 8u : 8u * pattern_pitch(b->pw)) - 1));
    uint32_t ebytes = expand ? expand_line_bytes(b) : 0;
    for (uint32_t y = from; y < to; y++) {
        uint8_t *d = vram + dst_line(b, y);
        if (pattern) {
            line_pattern(b, d, pat, y);
        } else if (expand) {
            const uint8_t *bits = cpu_src ? cpu_src : vram + b->src + (size_t)y * ebytes;
            line_expand(b, d, bits, ebytes);
        } else {
            const uint8_t *s;
            if (cpu_src)
                s = cpu_src;
            else if (b->mode & BLT_BACKWARDS)
                s = vram + (b->src - y * b->src_pitch - (b->width - 1));
            else
                s = vram + (b->src + y * b->src_pitch);
            line_copy(b, d, s, transp, tmask);
        }
    }
}

static void mark_lines(CirrusState *c, uint32_t from, uint32_t to)
{
    CirrusBlit *b = &c->blt;
    if (from >= to)
        return;
    uint32_t a = dst_line(b, from), z = dst_line(b, to - 1);
    uint32_t lo = MIN(a, z), hi = MAX(a, z) + b->width - 1;
    vga_mark_dirty(&c->vga, lo, (size_t)hi - lo + 1);
}

void cirrus_blt_start(CirrusState *c)
{
    CirrusBlit *b = &c->blt;
    const uint8_t *g = c->gr;
    if (c->blt_feeding)
        cirrus_blt_reset(c);
    if (!c->blitter) {
        cirrus_blt_reset(c);
        return;
    }
    memset(b, 0, sizeof(*b));
    b->width = (g[0x20] | (uint32_t)(g[0x21] & 0x1f) << 8) + 1;
    b->height = (g[0x22] | (uint32_t)(g[0x23] & 0x1f) << 8) + 1;
    b->dst_pitch = g[0x24] | (uint32_t)(g[0x25] & 0x1f) << 8;
    b->src_pitch = g[0x26] | (uint32_t)(g[0x27] & 0x1f) << 8;
    b->dst = g[0x28] | (uint32_t)g[0x29] << 8 | (uint32_t)(g[0x2a] & 0x3f) << 16;
    b->src = g[0x2c] | (uint32_t)g[0x2d] << 8 | (uint32_t)(g[0x2e] & 0x3f) << 16;
    b->skip = g[0x2f];
    b->mode = g[0x30];
    b->rop = g[0x32];
    b->modeext = g[0x33];
    b->pw = ((b->mode & BLT_PIXEL_WIDTH) >> 4) + 1;
    /* Foreground GR01/11/13/15 and background GR00/10/12/14, byte 0 first. */
    b->fg = c->shadow_gr1 | (uint32_t)g[0x11] << 8 | (uint32_t)g[0x13] << 16 | (uint32_t)g[0x15] << 24;
    b->bg = c->shadow_gr0 | (uint32_t)g[0x10] << 8 | (uint32_t)g[0x12] << 16 | (uint32_t)g[0x14] << 24;
    c->gr[0x31] |= BLT_STATUS_BUSY;

    if (b->mode & BLT_MEMSYS_DEST) {
        /* Screen-to-system blits are not modelled (nor by QEMU): the engine ends. */
        refuse(c, "video-to-system");
        return;
    }
    bool solid = (b->modeext & BLTX_SOLID_FILL) &&
                 (b->mode & (BLT_TRANSPARENT | BLT_PATTERN | BLT_COLOR_EXPAND)) == (BLT_PATTERN | BLT_COLOR_EXPAND);
    bool pattern = b->mode & BLT_PATTERN, expand = b->mode & BLT_COLOR_EXPAND;
    if (solid || pattern || expand)
        b->mode &= (uint8_t)~BLT_BACKWARDS; /* only plain copies run backward */
    if (!solid && !pattern && !expand && (b->mode & BLT_TRANSPARENT) && b->pw > 2) {
        refuse(c, "transparent copy above 16 bpp");
        return;
    }
    uint64_t lo, hi;
    if (!region_in_vram(b->dst, b->dst_pitch, b->width, b->height, b->mode & BLT_BACKWARDS, &lo, &hi)) {
        refuse(c, "destination outside video memory");
        return;
    }
    if (solid) {
        for (uint32_t y = 0; y < b->height; y++)
            line_fill(b, c->vga.vram + dst_line(b, y));
        mark_lines(c, 0, b->height);
        cirrus_blt_reset(c);
        return;
    }
    if (b->mode & BLT_MEMSYS_SRC) {
        if (pattern)
            b->src_line_bytes = expand ? 8 : 8 * pattern_pitch(b->pw);
        else if (expand)
            b->src_line_bytes = expand_line_bytes(b);
        else
            b->src_line_bytes = (b->width + 3) & ~3u; /* lines arrive in whole dwords */
        g_assert(b->src_line_bytes <= CIRRUS_BLT_BUF);
        c->blt_feeding = true;
        c->gr[0x31] |= BLT_STATUS_PROGRESS;
        cirrus_update_memory_map(c);
        return;
    }
    /* Screen-to-screen: the source region must be inside video memory too. */
    bool src_ok;
    if (pattern) {
        uint32_t size = expand ? 8 : 8 * pattern_pitch(b->pw);
        src_ok = region_in_vram(b->src & ~(size - 1), 0, size, 1, false, &lo, &hi);
    } else if (expand) {
        uint32_t eb = expand_line_bytes(b);
        src_ok = region_in_vram(b->src, eb, eb, b->height, false, &lo, &hi);
    } else {
        src_ok = region_in_vram(b->src, b->src_pitch, b->width, b->height, b->mode & BLT_BACKWARDS, &lo, &hi);
    }
    if (!src_ok) {
        refuse(c, "source outside video memory");
        return;
    }
    run_lines(c, 0, b->height, NULL);
    mark_lines(c, 0, b->height);
    cirrus_blt_reset(c);
}

void cirrus_blt_feed(CirrusState *c, uint8_t v)
{
    CirrusBlit *b = &c->blt;
    if (!c->blt_feeding)
        return;
    c->blt_buf[b->src_fill++] = v;
    if (b->src_fill < b->src_line_bytes)
        return;
    b->src_fill = 0;
    if (b->mode & BLT_PATTERN) {
        /* The whole pattern has arrived: every line at once. */
        run_lines(c, 0, b->height, c->blt_buf);
        mark_lines(c, 0, b->height);
        cirrus_blt_reset(c);
        return;
    }
    run_lines(c, b->line, b->line + 1, c->blt_buf);
    mark_lines(c, b->line, b->line + 1);
    if (++b->line >= b->height)
        cirrus_blt_reset(c);
}

void cirrus_blt_status_write(CirrusState *c, uint8_t v)
{
    uint8_t old = c->gr[0x31];
    /* Busy and progress are the engine's; the guest writes start, reset, autostart. */
    c->gr[0x31] = (uint8_t)((old & (BLT_STATUS_BUSY | BLT_STATUS_PROGRESS)) |
                            (v & ~(BLT_STATUS_BUSY | BLT_STATUS_PROGRESS)));
    if ((old & BLT_STATUS_RESET) && !(v & BLT_STATUS_RESET))
        cirrus_blt_reset(c);
    else if (!(old & BLT_STATUS_START) && (v & BLT_STATUS_START))
        cirrus_blt_start(c);
}

bool cirrus_blt_state_check(const CirrusState *c, GError **err)
{
    const CirrusBlit *b = &c->blt;
    if (!c->blt_feeding)
        return true;
    uint64_t lo, hi;
    bool ok = b->pw >= 1 && b->pw <= 4 && b->width >= 1 && b->width <= 8192 && b->height >= 1 &&
              b->height <= 8192 && b->dst_pitch < 8192 && b->src_pitch < 8192 && b->dst < CIRRUS_VRAM_SIZE &&
              b->src < CIRRUS_VRAM_SIZE && b->src_line_bytes >= 1 && b->src_line_bytes <= CIRRUS_BLT_BUF &&
              b->src_fill < b->src_line_bytes && b->line < b->height && (b->mode & BLT_MEMSYS_SRC) &&
              !(b->mode & BLT_MEMSYS_DEST) &&
              region_in_vram(b->dst, b->dst_pitch, b->width, b->height, b->mode & BLT_BACKWARDS, &lo, &hi);
    if (ok) {
        /* The line length must be the one the mode gives, so a line's loops stay in it. */
        uint32_t want;
        if (b->mode & BLT_PATTERN)
            want = (b->mode & BLT_COLOR_EXPAND) ? 8 : 8 * pattern_pitch(b->pw);
        else if (b->mode & BLT_COLOR_EXPAND)
            want = expand_line_bytes(b);
        else
            want = (b->width + 3) & ~3u;
        ok = want == b->src_line_bytes;
        if (ok && !(b->mode & (BLT_PATTERN | BLT_COLOR_EXPAND)) && (b->mode & BLT_TRANSPARENT) && b->pw > 2)
            ok = false;
    }
    if (!ok) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "cirrus-vga: a system-to-screen blit in progress with impossible parameters "
                    "(%ux%u, pixel width %u, line %u of %u bytes)",
                    b->width, b->height, b->pw, b->src_fill, b->src_line_bytes);
        return false;
    }
    return true;
}
