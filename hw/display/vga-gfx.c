/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the CRT controller shows: the layout of lines the current registers produce,
 * the palette, and the graphics modes (16-colour planar, CGA 4-colour, 256-colour
 * chained and unchained, Bochs VBE linear modes), rendered line by line where video
 * memory changed. */
#include "hw/display/vga-internal.h"

#include <string.h>

bool vga_range_dirty(const VgaState *s, size_t offset, size_t len)
{
    if (!len || offset >= s->vram_size)
        return false;
    if (len > s->vram_size - offset)
        len = s->vram_size - offset;
    size_t first = offset >> VGA_PAGE_BITS, last = (offset + len - 1) >> VGA_PAGE_BITS;
    for (size_t p = first; p <= last; p++)
        if (s->dirty[p >> 6] & (UINT64_C(1) << (p & 63)))
            return true;
    return false;
}

/* A 6-bit DAC component as 8 bits, the way QEMU's VGA widens it (c6_to_8 in its
 * hw/display/vga_int.h): shifted left by two, bit 0 copied into bits 1 and 0, so 0x3F
 * is 0xFF, 0x20 is 0x80 and 0x01 is 0x07. The real DAC drives an analogue level, so
 * any such mapping is a choice; this one makes screendumps equal QEMU's. */
static uint32_t dac_6_to_8(uint8_t v)
{
    v &= 0x3f;
    return (uint32_t)v << 2 | (v & 1u) * 3u;
}

static uint32_t dac_to_pixel(const VgaState *s, unsigned index)
{
    const uint8_t *c = s->dac[index];
    if (s->vbe_regs[VBE_INDEX_ENABLE] & VBE_8BIT_DAC)
        return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    return dac_6_to_8(c[0]) << 16 | dac_6_to_8(c[1]) << 8 | dac_6_to_8(c[2]);
}

void vga_palette_update(VgaState *s)
{
    for (unsigned i = 0; i < 256; i++)
        s->palette[i] = dac_to_pixel(s, i & s->dac_mask);
    /* Attribute controller: AR12 enables colour planes, AR00-0F map the value, AR10
     * bit 7 takes bits 5:4 from AR14 bits 1:0, AR14 bits 3:2 give bits 7:6. */
    for (unsigned v = 0; v < 16; v++) {
        unsigned idx = s->ar[v & s->ar[0x12] & 0x0f];
        if (s->ar[0x10] & 0x80)
            idx = (idx & 0x0f) | (s->ar[0x14] & 0x03) << 4;
        idx = (idx & 0x3f) | (s->ar[0x14] & 0x0c) << 4;
        s->pal16[v] = s->palette[idx];
    }
}

/* ---- layout ---- */

static void layout_blank(VgaState *s, int w, int h)
{
    VgaLayout *l = &s->layout;
    l->kind = VGA_MODE_BLANK;
    l->width = w;
    l->height = h;
}

static void layout_vbe(VgaState *s)
{
    VgaLayout *l = &s->layout;
    const uint16_t *r = s->vbe_regs;
    unsigned bpp = r[VBE_INDEX_BPP];
    unsigned bytes = (bpp + 7) / 8;
    unsigned xres = CLAMP(r[VBE_INDEX_XRES], 1, VBE_MAX_XRES);
    unsigned yres = CLAMP(r[VBE_INDEX_YRES], 1, VBE_MAX_YRES);
    /* A virtual width below the visible one cannot be: the visible width wins. */
    uint64_t line = (uint64_t)MAX(r[VBE_INDEX_VIRT_WIDTH], xres) * bytes;
    uint64_t start = (uint64_t)r[VBE_INDEX_Y_OFFSET] * line + (uint64_t)r[VBE_INDEX_X_OFFSET] * bytes;
    l->kind = VGA_MODE_VBE;
    l->width = (int)xres;
    l->height = (int)yres;
    l->vbe_bpp = bpp;
    l->vbe_line_bytes = (uint32_t)MIN(line, s->vram_size);
    /* Out-of-range offsets read past the end of video memory, which shows black. */
    l->vbe_start = (uint32_t)MIN(start, s->vram_size);
    l->vbe_split = UINT32_MAX;
}

uint64_t vga_linear_line_offset(const VgaLayout *l, int y)
{
    if ((uint32_t)y > l->vbe_split)
        return (uint64_t)(y - l->vbe_split - 1) * l->vbe_line_bytes;
    return (uint64_t)l->vbe_start + (uint64_t)y * l->vbe_line_bytes;
}

void vga_layout_build(VgaState *s)
{
    VgaLayout *l = &s->layout;
    memset(l->lines, 0, sizeof(VgaLine) * VGA_MAX_LINES);
    l->text_rows = 0;
    if (s->hooks && s->hooks->layout && s->hooks->layout(s))
        return;
    if (vga_vbe_enabled(s)) {
        layout_vbe(s);
        return;
    }

    bool text = !(s->gr[0x06] & 0x01);
    int chars = s->cr[0x01] + 1;
    int char_width = text ? ((s->sr[0x01] & 0x01) ? 8 : 9) : 8;
    int ppc; /* pixels per character clock */
    if (text) {
        l->kind = VGA_MODE_TEXT;
        ppc = char_width;
    } else if (s->gr[0x05] & 0x40) {
        l->kind = VGA_MODE_256;
        ppc = 4;
    } else if (s->gr[0x05] & 0x20) {
        l->kind = VGA_MODE_CGA4;
        ppc = 8;
    } else {
        l->kind = VGA_MODE_PLANAR;
        ppc = 8;
    }
    l->chars = chars;
    l->char_width = char_width;
    unsigned msl = s->cr[0x09] & 0x1f;
    l->cell_height = (int)msl + 1;

    /* Walk the CRTC's scan lines: the address counter starts at the start address and
     * advances by the row offset after each character row; the line compare split
     * restarts it at zero. Lines that repeat the previous one (double scan, and in
     * graphics the extra scan lines of a character row) collapse into one logical line. */
    unsigned raster = MIN(vga_vdisplay_lines(s), VGA_MAX_LINES);
    unsigned lc = vga_line_compare(s);
    bool double_scan = s->cr[0x09] & 0x80;
    unsigned subst = text ? 0x1f : ((s->cr[0x17] & 0x01) ? 0 : 1) | ((s->cr[0x17] & 0x02) ? 0 : 2);
    uint32_t addr = vga_start_address(s);
    unsigned rs = s->cr[0x08] & 0x1f;
    unsigned offset = vga_row_offset(s);
    bool split = false;
    int n = 0;
    int row = -1;
    uint32_t prev_addr = UINT32_MAX;
    unsigned prev_key = UINT32_MAX;
    for (unsigned y = 0; y < raster; y++) {
        unsigned key = rs & subst;
        bool repeat = n > 0 && addr == prev_addr && key == prev_key && l->lines[n - 1].after_split == split;
        if (!repeat) {
            if (text && (n == 0 || addr != prev_addr || split != l->lines[n - 1].after_split))
                row++;
            l->lines[n].addr = (uint16_t)addr;
            l->lines[n].row_scan = (uint8_t)rs;
            l->lines[n].after_split = split;
            l->lines[n].text_row = (uint16_t)MAX(row, 0);
            n++;
        }
        prev_addr = addr;
        prev_key = key;
        if (!double_scan || (y & 1)) {
            if (rs == msl) {
                rs = 0;
                addr = (addr + offset) & 0xffff;
            } else {
                rs = (rs + 1) & 0x1f;
            }
        }
        /* The split starts on the line after the one that matches the line compare. */
        if (y == lc) {
            addr = 0;
            rs = 0;
            split = true;
        }
    }
    l->height = n;
    l->width = chars * ppc;
    l->text_rows = text ? (unsigned)(row + 1) : 0;

    /* Unprogrammed or nonsensical timing shows nothing; so do a sequencer that turned
     * the screen off (SR01 bit 5) and an attribute controller left in palette access. */
    if (l->width < 16 || l->height < 16) {
        layout_blank(s, 640, 480);
        return;
    }
    if ((s->sr[0x01] & 0x20) || !(s->ar_index & 0x20))
        layout_blank(s, l->width, l->height);
}

/* ---- graphics lines ---- */

/* Plane bytes the CRTC fetches at character clock n of a line. */
static inline const uint8_t *fetch(const VgaState *s, const VgaLine *ln, unsigned n, unsigned count_shift)
{
    uint32_t c = ln->addr + (n >> count_shift);
    return s->vram + (size_t)vga_crtc_address(s, c, ln->row_scan) * 4;
}

static unsigned count_shift(const VgaState *s)
{
    /* CR14 bit 5 counts by four, CR17 bit 3 by two. */
    if (s->cr[0x14] & 0x20)
        return 2;
    return (s->cr[0x17] & 0x08) ? 1 : 0;
}

/* The range of planar memory a line reads, for dirty checks. */
static bool line_dirty(const VgaState *s, const VgaLine *ln, unsigned chars, unsigned shift)
{
    uint32_t first = vga_crtc_address(s, ln->addr, ln->row_scan);
    uint32_t last = vga_crtc_address(s, ln->addr + ((chars - 1) >> shift), ln->row_scan);
    if (last < first)
        return vga_range_dirty(s, 0, VGA_PLANAR_BYTES);
    return vga_range_dirty(s, (size_t)first * 4, (size_t)(last - first + 1) * 4);
}

static void render_planar_line(VgaState *s, const VgaLine *ln, uint32_t *dst)
{
    const VgaLayout *l = &s->layout;
    unsigned shift = count_shift(s);
    unsigned pan = s->ar[0x13] & 0x0f, byte_pan = (s->cr[0x08] >> 5) & 3;
    if (pan > 7)
        pan = 0;
    if (ln->after_split && (s->ar[0x10] & 0x20))
        pan = byte_pan = 0;
    uint32_t *out = s->linebuf;
    for (unsigned n = 0; n <= (unsigned)l->chars; n++) {
        const uint8_t *p = fetch(s, ln, n + byte_pan, shift);
        if (l->kind == VGA_MODE_CGA4) {
            /* GR05 bit 5: two bits per pixel, plane 0 then plane 1 (planes 2/3 on top). */
            for (int half = 0; half < 2; half++) {
                uint8_t lo = p[half], hi = p[half + 2];
                for (int i = 3; i >= 0; i--)
                    *out++ = s->pal16[((lo >> (2 * i)) & 3) | ((hi >> (2 * i)) & 3) << 2];
            }
        } else {
            for (int b = 7; b >= 0; b--) {
                unsigned v = ((p[0] >> b) & 1) | ((p[1] >> b) & 1) << 1 | ((p[2] >> b) & 1) << 2 |
                             ((p[3] >> b) & 1) << 3;
                *out++ = s->pal16[v];
            }
        }
    }
    memcpy(dst, s->linebuf + pan, (size_t)l->width * 4);
}

static void render_256_line(VgaState *s, const VgaLine *ln, uint32_t *dst)
{
    const VgaLayout *l = &s->layout;
    unsigned shift = count_shift(s);
    /* In 256-colour mode the pixel panning register moves by half pixels. */
    unsigned pan = (s->ar[0x13] >> 1) & 3, byte_pan = (s->cr[0x08] >> 5) & 3;
    if (ln->after_split && (s->ar[0x10] & 0x20))
        pan = byte_pan = 0;
    uint32_t *out = s->linebuf;
    for (unsigned n = 0; n <= (unsigned)l->chars; n++) {
        const uint8_t *p = fetch(s, ln, n + byte_pan, shift);
        for (int i = 0; i < 4; i++)
            *out++ = s->palette[p[i]];
    }
    memcpy(dst, s->linebuf + pan, (size_t)l->width * 4);
}

/* Copies 32-bit pixels with vector moves. glibc's memcpy uses REP MOVSB for lines of a
 * few KiB, which runs ten times slower when source and destination are a small distance
 * apart modulo 4 KiB -- as page-aligned video memory and malloc'd surface rows are. */
static void copy_pixels(uint32_t *restrict dst, const uint8_t *restrict src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32_t block[8];
        __builtin_memcpy(block, src + 4 * i, sizeof(block));
        __builtin_memcpy(dst + i, block, sizeof(block));
    }
    for (; i < n; i++)
        __builtin_memcpy(dst + i, src + 4 * i, 4);
}

static void render_vbe_line(VgaState *s, int y, uint32_t *dst)
{
    const VgaLayout *l = &s->layout;
    unsigned bytes = (l->vbe_bpp + 7) / 8;
    uint64_t off = vga_linear_line_offset(l, y);
    size_t w = (size_t)l->width;
    /* Pixels past the end of video memory show black. */
    size_t avail = off >= s->vram_size ? 0 : MIN(w, (s->vram_size - off) / bytes);
    const uint8_t *src = s->vram + (avail ? off : 0);
    size_t x = 0;
    switch (l->vbe_bpp) {
    case 32:
        copy_pixels(dst, src, avail);
        x = avail;
        break;
    case 24:
        for (; x < avail; x++, src += 3)
            dst[x] = (uint32_t)src[2] << 16 | (uint32_t)src[1] << 8 | src[0];
        break;
    case 16:
        for (; x < avail; x++, src += 2) {
            unsigned p = src[0] | src[1] << 8;
            unsigned r = (p >> 11) & 0x1f, g = (p >> 5) & 0x3f, b = p & 0x1f;
            dst[x] = (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
        }
        break;
    case 15:
        for (; x < avail; x++, src += 2) {
            unsigned p = src[0] | src[1] << 8;
            unsigned r = (p >> 10) & 0x1f, g = (p >> 5) & 0x1f, b = p & 0x1f;
            dst[x] = (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (b << 3 | b >> 2);
        }
        break;
    default:
        for (; x < avail; x++)
            dst[x] = s->palette[src[x]];
        break;
    }
    for (; x < w; x++)
        dst[x] = 0;
}

static bool vbe_line_dirty(const VgaState *s, int y)
{
    const VgaLayout *l = &s->layout;
    uint64_t off = vga_linear_line_offset(l, y);
    if (off >= s->vram_size)
        return false;
    return vga_range_dirty(s, (size_t)off, (size_t)l->width * ((l->vbe_bpp + 7) / 8));
}

void vga_gfx_render(VgaState *s, DisplaySurface *surf, bool full)
{
    const VgaLayout *l = &s->layout;
    uint32_t *bits = pixman_image_get_data(surf->image);
    int stride = pixman_image_get_stride(surf->image) / 4;
    int h = MIN(l->height, surf->height);
    if (l->kind == VGA_MODE_BLANK) {
        if (full) {
            memset(bits, 0, (size_t)stride * 4 * surf->height);
            display_console_dirty(s->con, 0, 0, surf->width, surf->height);
        }
        return;
    }
    unsigned shift = count_shift(s);
    int run_start = -1;
    for (int y = 0; y < h; y++) {
        bool redraw;
        if (l->kind == VGA_MODE_VBE)
            redraw = full || vbe_line_dirty(s, y);
        else
            redraw = full || line_dirty(s, &l->lines[y], (unsigned)l->chars, shift);
        if (redraw) {
            uint32_t *dst = bits + (size_t)y * stride;
            if (l->kind == VGA_MODE_VBE) {
                render_vbe_line(s, y, dst);
                if (s->hooks && s->hooks->overlay_line)
                    s->hooks->overlay_line(s, y, dst, l->width);
            } else if (l->kind == VGA_MODE_256)
                render_256_line(s, &l->lines[y], dst);
            else
                render_planar_line(s, &l->lines[y], dst);
            if (run_start < 0)
                run_start = y;
        } else if (run_start >= 0) {
            display_console_dirty(s->con, 0, run_start, l->width, y - run_start);
            run_start = -1;
        }
    }
    if (run_start >= 0)
        display_console_dirty(s->con, 0, run_start, l->width, h - run_start);
}
