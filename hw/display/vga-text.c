/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VGA text modes: characters from plane 0, attributes from plane 1, glyphs from the
 * fonts the guest loaded into plane 2 (32 bytes per glyph, SR03 selects the maps), 8- or
 * 9-dot cells, cursor shape and blink, attribute blink, underline, hardware scrolling
 * through the start address and the line compare split. Rows are redrawn when their
 * cells differ from what was drawn last. */
#include "hw/display/vga-internal.h"

#include <string.h>

/* Plane 2 offsets of the eight character maps (SR03 values 0-7). */
static const uint32_t font_offset[8] = { 0x0000, 0x4000, 0x8000, 0xc000, 0x2000, 0x6000, 0xa000, 0xe000 };

enum {
    CELL_CURSOR = 1u << 16,     /* the cursor is drawn in this cell */
    CELL_BLINK_HIDDEN = 1u << 17, /* a blinking character in its off phase */
};

/* Bit 0: cursor on (it blinks every 16 frames), bit 1: blinking characters shown
 * (every 32 frames), as the VGA derives both from vertical sync. */
int vga_text_blink_phase(const VgaState *s)
{
    int64_t frame_ns, line_ns;
    vga_frame_timing(s, &frame_ns, &line_ns);
    int64_t frame = vm_clock_ns(s->vm) / frame_ns;
    return ((frame >> 3) & 1 ? 0 : 1) | ((frame >> 4) & 1 ? 0 : 2);
}

static bool cursor_enabled(const VgaState *s)
{
    /* CR0A bit 5 turns the cursor off; a start row past the end row shows none. */
    return !(s->cr[0x0a] & 0x20) && (s->cr[0x0a] & 0x1f) <= (s->cr[0x0b] & 0x1f);
}

static uint16_t cursor_address(const VgaState *s)
{
    return (uint16_t)(s->cr[0x0e] << 8 | s->cr[0x0f]);
}

static inline const uint8_t *cell_ptr(const VgaState *s, const VgaLine *ln, unsigned col)
{
    return s->vram + (size_t)vga_crtc_address(s, ln->addr + col, ln->row_scan) * 4;
}

static uint32_t cell_value(const VgaState *s, const VgaLine *ln, unsigned col, int phase)
{
    const uint8_t *p = cell_ptr(s, ln, col);
    uint32_t v = p[0] | (uint32_t)p[1] << 8;
    if ((phase & 1) && cursor_enabled(s) && ((ln->addr + col) & 0xffff) == cursor_address(s))
        v |= CELL_CURSOR;
    if ((s->ar[0x10] & 0x08) && (p[1] & 0x80) && !(phase & 2))
        v |= CELL_BLINK_HIDDEN;
    return v;
}

/* For each glyph row byte, the eight pixels as all-ones (foreground) or zero masks, so a
 * cell row is drawn without a branch per pixel. */
static uint32_t glyph_masks[256][8];

static void glyph_masks_init(void)
{
    for (unsigned v = 0; v < 256; v++)
        for (unsigned b = 0; b < 8; b++)
            glyph_masks[v][b] = (v & (0x80u >> b)) ? 0xffffffffu : 0;
}

/* Draws one scan line of a character row from its cells (character | attribute << 8 and
 * the CELL_ flags, as cell_value makes them). */
static void render_text_line(VgaState *s, const VgaLine *ln, const uint32_t *cells, uint32_t *dst)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, (GThreadFunc)(void (*)(void))glyph_masks_init, NULL);
    const VgaLayout *l = &s->layout;
    unsigned rs = ln->row_scan;
    uint8_t sr3 = s->sr[0x03];
    /* SR03: map A (bits 5,3,2) for attribute bit 3 set, map B (bits 4,1,0) otherwise. */
    uint32_t map_a = font_offset[((sr3 >> 3) & 4) | ((sr3 >> 2) & 3)];
    uint32_t map_b = font_offset[((sr3 >> 2) & 4) | (sr3 & 3)];
    bool nine = l->char_width == 9;
    bool line_gfx = s->ar[0x10] & 0x04;
    bool blink_attr = s->ar[0x10] & 0x08;
    unsigned cur_start = s->cr[0x0a] & 0x1f, cur_end = s->cr[0x0b] & 0x1f;
    bool cursor_row = rs >= cur_start && rs <= cur_end;
    unsigned underline = s->cr[0x14] & 0x1f;
    for (unsigned col = 0; col < (unsigned)l->chars; col++) {
        uint32_t cell = cells[col];
        uint8_t ch = cell & 0xff, attr = (cell >> 8) & 0xff;
        uint32_t font = (attr & 0x08) ? map_a : map_b;
        uint8_t bits = s->vram[(size_t)((font + ch * 32u + rs) & (VGA_PLANE_SIZE - 1)) * 4 + 2];
        unsigned fg = attr & 0x0f, bg = attr >> 4;
        if (blink_attr) {
            /* AR10 bit 3: attribute bit 7 blinks instead of brightening the background. */
            bg &= 7;
            if (cell & CELL_BLINK_HIDDEN)
                bits = 0;
        }
        if (rs == underline && (attr & 0x77) == 0x01)
            bits = 0xff;
        if (cursor_row && (cell & CELL_CURSOR))
            bits = 0xff;
        uint32_t fgc = s->pal16[fg], bgc = s->pal16[bg];
        const uint32_t *m = glyph_masks[bits];
        for (int b = 0; b < 8; b++)
            dst[b] = (fgc & m[b]) | (bgc & ~m[b]);
        dst += 8;
        if (nine) {
            /* AR10 bit 2: line-drawing characters C0-DF extend into the ninth column. */
            bool extend = line_gfx && ch >= 0xc0 && ch <= 0xdf;
            *dst++ = extend && (bits & 1) ? fgc : bgc;
        }
    }
}

static void ensure_cache(VgaState *s, size_t cells, bool *full)
{
    if (s->text_cache_len == cells)
        return;
    g_free(s->text_cache);
    s->text_cache = g_new0(uint32_t, cells);
    s->text_cache_len = cells;
    *full = true;
}

void vga_text_render(VgaState *s, DisplaySurface *surf, bool full)
{
    const VgaLayout *l = &s->layout;
    unsigned rows = l->text_rows, chars = (unsigned)l->chars;
    int phase = vga_text_blink_phase(s);
    ensure_cache(s, (size_t)rows * chars, &full);
    s->last_blink_phase = phase;

    /* Which character rows differ from what was drawn, judged at each row's first line. */
    uint8_t row_dirty[VGA_MAX_LINES];
    memset(row_dirty, full, MIN(rows, VGA_MAX_LINES));
    int h = MIN(l->height, surf->height);
    int prev_row = -1;
    for (int y = 0; y < h; y++) {
        const VgaLine *ln = &l->lines[y];
        if (ln->text_row == prev_row || ln->text_row >= rows)
            continue;
        prev_row = ln->text_row;
        uint32_t *cache = s->text_cache + (size_t)ln->text_row * chars;
        for (unsigned col = 0; col < chars; col++) {
            uint32_t v = cell_value(s, ln, col, phase);
            if (cache[col] != v) {
                cache[col] = v;
                row_dirty[ln->text_row] = 1;
            }
        }
    }

    uint32_t *bits = pixman_image_get_data(surf->image);
    int stride = pixman_image_get_stride(surf->image) / 4;
    uint32_t line_cells[256];
    int run_start = -1;
    for (int y = 0; y < h; y++) {
        const VgaLine *ln = &l->lines[y];
        if (ln->text_row < rows && row_dirty[ln->text_row]) {
            const uint32_t *cells = s->text_cache + (size_t)ln->text_row * chars;
            if ((s->cr[0x17] & 3) != 3) {
                /* CR17 bits 0-1 clear: each scan line of the row may address other cells. */
                for (unsigned col = 0; col < chars; col++)
                    line_cells[col] = cell_value(s, ln, col, phase);
                cells = line_cells;
            }
            render_text_line(s, ln, cells, bits + (size_t)y * stride);
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

bool vga_text_snapshot(VgaState *s, DisplayText *text)
{
    const VgaLayout *l = &s->layout;
    if (l->kind != VGA_MODE_TEXT || !l->text_rows)
        return false;
    unsigned rows = l->text_rows, chars = (unsigned)l->chars;
    text->cols = (int)chars;
    text->rows = (int)rows;
    text->cells = g_new0(uint16_t, (size_t)rows * chars);
    text->cursor_col = text->cursor_row = -1;
    text->cursor_visible = false;
    uint16_t cur = cursor_address(s);
    int prev_row = -1;
    for (int y = 0; y < l->height; y++) {
        const VgaLine *ln = &l->lines[y];
        if (ln->text_row == prev_row || ln->text_row >= rows)
            continue;
        prev_row = ln->text_row;
        for (unsigned col = 0; col < chars; col++) {
            const uint8_t *p = cell_ptr(s, ln, col);
            text->cells[(size_t)ln->text_row * chars + col] = (uint16_t)(p[0] | p[1] << 8);
            if (((ln->addr + col) & 0xffff) == cur && text->cursor_row < 0) {
                text->cursor_row = ln->text_row;
                text->cursor_col = (int)col;
            }
        }
    }
    text->cursor_visible = cursor_enabled(s) && text->cursor_row >= 0;
    return true;
}
