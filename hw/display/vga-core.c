/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VGA registers and planar video memory, after the IBM VGA Technical Reference and
 * FreeVGA's register descriptions: sequencer (SRxx), graphics controller (GRxx),
 * attribute controller (ARxx), CRT controller (CRxx), DAC, misc output and input
 * status; host memory access with write modes 0-3, read modes 0-1, chain-4 and
 * odd/even addressing; and the Bochs VBE register file. */
#include "hw/display/vga-internal.h"

#include <string.h>

/* Writable bits of the sequencer and graphics controller registers. */
static const uint8_t sr_mask[8] = { 0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0, 0, 0 };
static const uint8_t gr_mask[16] = { 0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff };

void vga_mark_dirty(VgaState *s, size_t vram_offset, size_t len)
{
    if (!len || vram_offset >= s->vram_size)
        return;
    if (len > s->vram_size - vram_offset)
        len = s->vram_size - vram_offset;
    for (size_t p = vram_offset >> VGA_PAGE_BITS; p <= (vram_offset + len - 1) >> VGA_PAGE_BITS; p++)
        s->dirty[p >> 6] |= UINT64_C(1) << (p & 63);
    s->memory_written = true;
}

bool vga_vbe_enabled(const VgaState *s)
{
    return s->vbe_regs[VBE_INDEX_ENABLE] & VBE_ENABLED;
}

/* ---- CRTC geometry ---- */

unsigned vga_vdisplay_lines(const VgaState *s)
{
    unsigned vde = s->cr[0x12] | (s->cr[0x07] & 0x02) << 7 | (s->cr[0x07] & 0x40) << 3;
    return vde + 1;
}

unsigned vga_line_compare(const VgaState *s)
{
    return s->cr[0x18] | (s->cr[0x07] & 0x10) << 4 | (s->cr[0x09] & 0x40) << 3;
}

uint16_t vga_start_address(const VgaState *s)
{
    return (uint16_t)(s->cr[0x0c] << 8 | s->cr[0x0d]);
}

unsigned vga_row_offset(const VgaState *s)
{
    /* CR13 counts in units of two address-counter steps per character row. */
    return 2u * s->cr[0x13];
}

uint32_t vga_crtc_address(const VgaState *s, uint32_t c, unsigned rs)
{
    uint32_t a;
    c &= 0xffff;
    if (s->cr[0x14] & 0x40) {
        /* CR14 bit 6, doubleword mode: the counter is rotated left by two. */
        a = c << 2 | (c >> 14 & 3);
    } else if (!(s->cr[0x17] & 0x40)) {
        /* CR17 bit 6 clear, word mode: rotated left by one; bit 0 comes from counter
         * bit 13 or, with CR17 bit 5 (address wrap), bit 15. */
        a = c << 1 | ((s->cr[0x17] & 0x20 ? c >> 15 : c >> 13) & 1);
    } else {
        a = c;
    }
    /* CR17 bits 0 and 1 clear: memory address bits 13 and 14 come from the row scan
     * counter (the CGA's interleaved scan lines). */
    if (!(s->cr[0x17] & 0x01))
        a = (a & ~0x2000u) | (rs & 1) << 13;
    if (!(s->cr[0x17] & 0x02))
        a = (a & ~0x4000u) | (rs >> 1 & 1) << 14;
    return a & 0xffff;
}

void vga_frame_timing(const VgaState *s, int64_t *frame_ns, int64_t *line_ns)
{
    int64_t htotal = s->cr[0x00] + 5;
    int64_t dots = (s->sr[0x01] & 0x01) ? 8 : 9;
    if (s->sr[0x01] & 0x08)
        dots *= 2;
    /* Misc output bits 3:2 select the 25.175 or 28.322 MHz dot clock. */
    int64_t clock = ((s->misc >> 2) & 3) == 1 ? 28322000 : 25175000;
    int64_t vtotal = (s->cr[0x06] | (s->cr[0x07] & 0x01) << 8 | (s->cr[0x07] & 0x20) << 4) + 2;
    int64_t line = htotal * dots * NS_PER_SEC / clock;
    int64_t frame = line * vtotal;
    /* Registers a guest has not programmed (or programmed absurdly) still give a
     * plausible 70 Hz, 449-line frame so retrace polling loops end. */
    if (frame < NS_PER_SEC / 250 || frame > NS_PER_SEC / 20 || line < 5000) {
        line = 31778;
        frame = line * 449;
    }
    *frame_ns = frame;
    *line_ns = line;
}

/* Input Status #1 (3BA/3DA): bit 3 vertical retrace, bit 0 display disabled. */
static uint8_t input_status_1(VgaState *s)
{
    int64_t frame, line_ns;
    vga_frame_timing(s, &frame, &line_ns);
    int64_t t = vm_clock_ns(s->vm) % frame;
    int64_t line = t / line_ns, in_line = t % line_ns;
    int64_t lines = frame / line_ns;
    int64_t vrs = s->cr[0x10] | (s->cr[0x07] & 0x04) << 6 | (s->cr[0x07] & 0x80) << 2;
    if (vrs >= lines)
        vrs = lines > 4 ? lines - 4 : 0;
    /* CR11 bits 3:0: retrace ends when the line counter's low four bits match. */
    int64_t vlen = ((s->cr[0x11] & 0x0f) - vrs) & 0x0f;
    if (vlen == 0)
        vlen = 16;
    bool vretrace = line >= vrs && line < vrs + vlen;
    int64_t hdisp = s->cr[0x01] + 1, htotal = s->cr[0x00] + 5;
    bool hblank = in_line * htotal >= line_ns * MIN(hdisp, htotal);
    bool vblank = line >= (int64_t)vga_vdisplay_lines(s);
    return (vretrace ? 0x08 : 0) | (hblank || vblank ? 0x01 : 0);
}

/* ---- ports ---- */

static bool crtc_port_active(const VgaState *s, uint16_t port)
{
    /* Misc output bit 0 (I/O address select): 3Dx for colour, 3Bx for monochrome. */
    bool color = s->misc & 0x01;
    return (port & 0xfff0) == (color ? 0x3d0 : 0x3b0);
}

uint32_t vga_port_read(VgaState *s, uint16_t port)
{
    uint8_t hv;
    if (s->hooks && s->hooks->port_read && s->hooks->port_read(s, port, &hv))
        return hv;
    switch (port) {
    case 0x3c0:
        return s->ar_index;
    case 0x3c1:
        return (s->ar_index & 0x1f) < 0x15 ? s->ar[s->ar_index & 0x1f] : 0;
    case 0x3c2:
        return 0; /* Input Status #0: no retrace interrupt pending */
    case 0x3c3:
        return s->vga_enable;
    case 0x3c4:
        return s->sr_index;
    case 0x3c5:
        return s->sr[s->sr_index & 7];
    case 0x3c6:
        return s->dac_mask;
    case 0x3c7:
        return s->dac_state;
    case 0x3c8:
        return s->dac_write_index;
    case 0x3c9: {
        uint8_t v = s->dac[s->dac_read_index][s->dac_component];
        if (++s->dac_component == 3) {
            s->dac_component = 0;
            s->dac_read_index++;
        }
        return v;
    }
    case 0x3ca:
        return s->feature;
    case 0x3cc:
        return s->misc;
    case 0x3ce:
        return s->gr_index;
    case 0x3cf:
        return s->gr[s->gr_index & 0x0f];
    case 0x3b4:
    case 0x3d4:
        return crtc_port_active(s, port) ? s->cr_index : 0xff;
    case 0x3b5:
    case 0x3d5:
        if (!crtc_port_active(s, port))
            return 0xff;
        return s->cr_index <= 0x18 ? s->cr[s->cr_index] : 0;
    case 0x3ba:
    case 0x3da:
        if (!crtc_port_active(s, port))
            return 0xff;
        /* Reading Input Status #1 resets the attribute controller's flip-flop. */
        s->ar_flipflop = false;
        return input_status_1(s);
    }
    return 0xff;
}

static void ar_write(VgaState *s, uint8_t v)
{
    if (!s->ar_flipflop) {
        /* Bit 5 (palette address source) enables the display when set. */
        if ((s->ar_index ^ v) & 0x20)
            s->layout_stale = true;
        s->ar_index = v & 0x3f;
        s->ar_flipflop = true;
        return;
    }
    s->ar_flipflop = false;
    unsigned i = s->ar_index & 0x1f;
    if (i >= 0x15)
        return;
    static const uint8_t ar_mask[0x15] = {
        0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
        0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
        0xef, 0xff, 0x3f, 0x0f, 0x0f,
    };
    v &= ar_mask[i];
    if (s->ar[i] == v)
        return;
    s->ar[i] = v;
    if (i < 0x10 || i == 0x12 || i == 0x14)
        s->palette_stale = true;
    else
        s->layout_stale = true;
}

static void dac_data_write(VgaState *s, uint8_t v)
{
    s->dac_latch[s->dac_component++] = v;
    if (s->dac_component < 3)
        return;
    s->dac_component = 0;
    /* The DAC holds six bits per component unless the VBE 8-bit DAC mode is on. */
    uint8_t m = (s->vbe_regs[VBE_INDEX_ENABLE] & VBE_8BIT_DAC) ? 0xff : 0x3f;
    for (int c = 0; c < 3; c++)
        s->dac[s->dac_write_index][c] = s->dac_latch[c] & m;
    s->dac_write_index++;
    s->palette_stale = true;
}

static void cr_write(VgaState *s, uint8_t v)
{
    unsigned i = s->cr_index;
    if (i > 0x18)
        return;
    /* CR11 bit 7 protects CR00-CR07, except CR07 bit 4 (line compare bit 8). */
    if ((s->cr[0x11] & 0x80) && i <= 0x07) {
        if (i != 0x07)
            return;
        v = (s->cr[0x07] & ~0x10) | (v & 0x10);
    }
    if (s->cr[i] == v)
        return;
    s->cr[i] = v;
    /* The cursor location is compared per cell while drawing; everything else shapes
     * the picture. */
    if (i != 0x0e && i != 0x0f)
        s->layout_stale = true;
}

void vga_port_write(VgaState *s, uint16_t port, uint8_t v)
{
    if (s->hooks && s->hooks->port_write && s->hooks->port_write(s, port, v))
        return;
    switch (port) {
    case 0x3c0:
        ar_write(s, v);
        break;
    case 0x3c2:
        if (s->misc != v)
            s->layout_stale = true;
        s->misc = v;
        break;
    case 0x3c3:
        s->vga_enable = v & 0x01;
        break;
    case 0x3c4:
        s->sr_index = v & 0x07;
        break;
    case 0x3c5: {
        unsigned i = s->sr_index & 7;
        v &= sr_mask[i];
        if (s->sr[i] != v && (i == 0x01 || i == 0x03 || i == 0x04))
            s->layout_stale = true;
        s->sr[i] = v;
        break;
    }
    case 0x3c6:
        if (s->dac_mask != v)
            s->palette_stale = true;
        s->dac_mask = v;
        break;
    case 0x3c7:
        s->dac_read_index = v;
        s->dac_component = 0;
        s->dac_state = 3;
        break;
    case 0x3c8:
        s->dac_write_index = v;
        s->dac_component = 0;
        s->dac_state = 0;
        break;
    case 0x3c9:
        dac_data_write(s, v);
        break;
    case 0x3ce:
        s->gr_index = v & 0x0f;
        break;
    case 0x3cf: {
        unsigned i = s->gr_index & 0x0f;
        v &= gr_mask[i];
        /* GR05 bits 5-6 (shift register modes) and GR06 shape the picture; the rest
         * only steer host access. */
        if ((i == 0x05 && ((s->gr[i] ^ v) & 0x60)) || (i == 0x06 && s->gr[i] != v))
            s->layout_stale = true;
        s->gr[i] = v;
        break;
    }
    case 0x3b4:
    case 0x3d4:
        if (crtc_port_active(s, port))
            s->cr_index = v & 0x3f;
        break;
    case 0x3b5:
    case 0x3d5:
        if (crtc_port_active(s, port))
            cr_write(s, v);
        break;
    case 0x3ba:
    case 0x3da:
        if (crtc_port_active(s, port))
            s->feature = v & 0x03;
        break;
    default:
        VLOG(LOG_UNIMP, "vga: write 0x%02x to port 0x%03x", v, port);
        break;
    }
}

/* ---- host access to video memory ---- */

/* Offset in the VBE bank window, or false when the window is the planar VGA's. */
static bool vbe_window(const VgaState *s, uint32_t addr, size_t *out)
{
    if (!vga_vbe_enabled(s) || s->vbe_regs[VBE_INDEX_BPP] <= 4)
        return false;
    /* Banked access through 0xA0000-0xAFFFF in 64 KiB banks. */
    size_t off = (size_t)s->vbe_regs[VBE_INDEX_BANK] * 0x10000 + (addr & 0xffff);
    *out = addr < 0x10000 ? off : SIZE_MAX;
    return true;
}

/* GR06 bits 3:2 select where the window decodes: A0000 128K, A0000 64K, B0000 32K,
 * B8000 32K. addr is relative to 0xA0000. */
static bool window_offset(const VgaState *s, uint32_t addr, uint32_t *off)
{
    switch ((s->gr[0x06] >> 2) & 3) {
    case 0:
        *off = addr;
        return true;
    case 1:
        *off = addr;
        return addr < 0x10000;
    case 2:
        *off = addr - 0x10000;
        return addr >= 0x10000 && addr < 0x18000;
    default:
        *off = addr - 0x18000;
        return addr >= 0x18000;
    }
}

uint8_t vga_mem_read(VgaState *s, uint32_t addr)
{
    size_t lin;
    if (vbe_window(s, addr, &lin))
        return lin < s->vram_size ? s->vram[lin] : 0xff;
    uint32_t off;
    if (!window_offset(s, addr, &off))
        return 0xff;
    unsigned plane;
    uint32_t poff;
    if (s->sr[0x04] & 0x08) {
        /* SR04 bit 3, chain-4: address bits 1:0 pick the plane. */
        plane = off & 3;
        poff = off & ~3u;
    } else if (s->gr[0x05] & 0x10) {
        /* GR05 bit 4, host odd/even read: bit 0 picks plane 0/1 (or 2/3 by GR04 bit 1). */
        plane = (s->gr[0x04] & 2) | (off & 1);
        poff = (off & ~1u) | (s->misc & 0x20 ? 0 : 1);
    } else {
        plane = s->gr[0x04] & 3;
        poff = off;
    }
    poff &= VGA_PLANE_SIZE - 1;
    const uint8_t *p = s->vram + (size_t)poff * 4;
    memcpy(s->latch, p, 4);
    if (!(s->gr[0x05] & 0x08))
        return p[plane];
    /* GR05 bit 3, read mode 1: colour compare against GR02 on the planes GR07 selects. */
    uint8_t diff = 0;
    for (int i = 0; i < 4; i++) {
        if (!(s->gr[0x07] & (1u << i)))
            continue;
        uint8_t want = (s->gr[0x02] & (1u << i)) ? 0xff : 0x00;
        diff |= p[i] ^ want;
    }
    return (uint8_t)~diff;
}

static uint8_t alu(const VgaState *s, uint8_t d, uint8_t latch)
{
    /* GR03 bits 4:3, logical operation with the latched data. */
    switch ((s->gr[0x03] >> 3) & 3) {
    case 1: return d & latch;
    case 2: return d | latch;
    case 3: return d ^ latch;
    default: return d;
    }
}

void vga_mem_write(VgaState *s, uint32_t addr, uint8_t v)
{
    size_t lin;
    if (vbe_window(s, addr, &lin)) {
        if (lin < s->vram_size) {
            s->vram[lin] = v;
            vga_mark_dirty(s, lin, 1);
        }
        return;
    }
    uint32_t off;
    if (!window_offset(s, addr, &off))
        return;
    unsigned planes = s->sr[0x02] & 0x0f; /* SR02 map mask */
    uint32_t poff;
    if (s->sr[0x04] & 0x08) {
        planes &= 1u << (off & 3);
        poff = off & ~3u;
    } else if (!(s->sr[0x04] & 0x04)) {
        /* SR04 bit 2 clear, odd/even: even addresses to planes 0/2, odd to 1/3; bit 0
         * of the plane offset is the odd/even page (misc output bit 5, inverted). */
        planes &= (off & 1) ? 0x0a : 0x05;
        poff = (off & ~1u) | (s->misc & 0x20 ? 0 : 1);
    } else {
        poff = off;
    }
    poff &= VGA_PLANE_SIZE - 1;
    if (!planes)
        return;

    uint8_t rot = s->gr[0x03] & 7;
    uint8_t rotated = (uint8_t)((v >> rot) | (v << ((8 - rot) & 7)));
    uint8_t mask = s->gr[0x08];
    uint8_t data[4];
    switch (s->gr[0x05] & 3) {
    case 0:
        /* Write mode 0: rotated data, or set/reset where GR01 enables it. */
        for (int i = 0; i < 4; i++) {
            uint8_t d = (s->gr[0x01] & (1u << i)) ? ((s->gr[0x00] & (1u << i)) ? 0xff : 0) : rotated;
            data[i] = alu(s, d, s->latch[i]);
        }
        break;
    case 1:
        /* Write mode 1: the latches, as read last. */
        memcpy(data, s->latch, 4);
        mask = 0xff;
        break;
    case 2:
        /* Write mode 2: data bit i fills plane i. */
        for (int i = 0; i < 4; i++)
            data[i] = alu(s, (v & (1u << i)) ? 0xff : 0, s->latch[i]);
        break;
    default:
        /* Write mode 3: rotated data ANDed with the bit mask is the mask; set/reset the value. */
        mask &= rotated;
        for (int i = 0; i < 4; i++)
            data[i] = alu(s, (s->gr[0x00] & (1u << i)) ? 0xff : 0, s->latch[i]);
        break;
    }
    uint8_t *p = s->vram + (size_t)poff * 4;
    for (int i = 0; i < 4; i++) {
        if (!(planes & (1u << i)))
            continue;
        p[i] = (uint8_t)((data[i] & mask) | (s->latch[i] & ~mask));
    }
    if (planes & 0x04)
        s->font_written = true;
    vga_mark_dirty(s, (size_t)poff * 4, 4);
}

/* ---- Bochs VBE ---- */

static unsigned vbe_bytes_per_pixel_x8(unsigned bpp)
{
    /* Eighths of a byte per pixel, so 4 bpp works too. */
    return bpp == 15 ? 16 : bpp;
}

/* Virtual height follows from the memory a line takes. */
static void vbe_update_virtual(VgaState *s)
{
    uint16_t *r = s->vbe_regs;
    unsigned bpp = vbe_bytes_per_pixel_x8(r[VBE_INDEX_BPP] ? r[VBE_INDEX_BPP] : 8);
    uint64_t line = ((uint64_t)MAX(r[VBE_INDEX_VIRT_WIDTH], 1) * bpp + 7) / 8;
    uint64_t h = s->vram_size / line;
    r[VBE_INDEX_VIRT_HEIGHT] = (uint16_t)MIN(h, 0xffffu);
}

uint16_t vga_vbe_read(VgaState *s, unsigned i)
{
    if (i >= VBE_NUM_REGS)
        return 0;
    if (s->vbe_regs[VBE_INDEX_ENABLE] & VBE_GETCAPS) {
        switch (i) {
        case VBE_INDEX_XRES: return VBE_MAX_XRES;
        case VBE_INDEX_YRES: return VBE_MAX_YRES;
        case VBE_INDEX_BPP: return VBE_MAX_BPP;
        default: break;
        }
    }
    if (i == VBE_INDEX_VIDEO_MEMORY_64K)
        return (uint16_t)(s->vram_size >> 16);
    return s->vbe_regs[i];
}

void vga_vbe_write(VgaState *s, unsigned i, uint16_t v)
{
    uint16_t *r = s->vbe_regs;
    bool enabled = r[VBE_INDEX_ENABLE] & VBE_ENABLED;
    switch (i) {
    case VBE_INDEX_ID:
        if (v >= VBE_ID0 && v <= VBE_ID5)
            r[i] = v;
        break;
    case VBE_INDEX_XRES:
    case VBE_INDEX_YRES:
        /* Geometry changes only while the extension is off, as on Bochs. */
        if (!enabled && v > 0 && v <= (i == VBE_INDEX_XRES ? VBE_MAX_XRES : VBE_MAX_YRES))
            r[i] = v;
        break;
    case VBE_INDEX_BPP:
        if (v == 0)
            v = 8;
        if (!enabled && (v == 8 || v == 15 || v == 16 || v == 24 || v == 32))
            r[i] = v;
        break;
    case VBE_INDEX_BANK:
        r[i] = (uint16_t)MIN(v, (s->vram_size >> 16) - 1);
        break;
    case VBE_INDEX_ENABLE: {
        uint16_t old = r[i];
        r[i] = v & (VBE_ENABLED | VBE_GETCAPS | VBE_8BIT_DAC | VBE_LFB_ENABLED | VBE_NOCLEARMEM);
        if ((v & VBE_ENABLED) && !(old & VBE_ENABLED)) {
            if (!r[VBE_INDEX_XRES])
                r[VBE_INDEX_XRES] = 640;
            if (!r[VBE_INDEX_YRES])
                r[VBE_INDEX_YRES] = 480;
            if (!r[VBE_INDEX_BPP])
                r[VBE_INDEX_BPP] = 8;
            r[VBE_INDEX_VIRT_WIDTH] = r[VBE_INDEX_XRES];
            r[VBE_INDEX_X_OFFSET] = 0;
            r[VBE_INDEX_Y_OFFSET] = 0;
            r[VBE_INDEX_BANK] = 0;
            vbe_update_virtual(s);
            if (!(v & VBE_NOCLEARMEM)) {
                memset(s->vram, 0, s->vram_size);
                vga_mark_dirty(s, 0, s->vram_size);
            }
            /* Keep the VGA registers coherent with a linear graphics mode: graphics,
             * 64 KiB window at A0000, chain-4. */
            s->gr[0x06] = (s->gr[0x06] & ~0x0c) | 0x05;
            s->sr[0x04] |= 0x08;
        }
        if ((old ^ r[i]) & VBE_8BIT_DAC)
            s->palette_stale = true;
        if ((old ^ r[i]) & VBE_ENABLED)
            s->layout_stale = true;
        break;
    }
    case VBE_INDEX_VIRT_WIDTH:
        if (v > 0) {
            r[i] = v;
            vbe_update_virtual(s);
            s->layout_stale = true;
        }
        break;
    case VBE_INDEX_X_OFFSET:
    case VBE_INDEX_Y_OFFSET:
        if (r[i] != v)
            s->layout_stale = true;
        r[i] = v;
        break;
    default:
        break;
    }
}

/* ---- set-up ---- */

void vga_core_reset(VgaState *s)
{
    memset(s->sr, 0, sizeof(s->sr));
    memset(s->gr, 0, sizeof(s->gr));
    memset(s->ar, 0, sizeof(s->ar));
    memset(s->cr, 0, sizeof(s->cr));
    s->sr_index = s->gr_index = s->ar_index = s->cr_index = 0;
    s->ar_flipflop = false;
    s->misc = 0;
    s->feature = 0;
    s->vga_enable = 1;
    s->dac_mask = 0xff;
    s->dac_read_index = s->dac_write_index = s->dac_component = 0;
    s->dac_state = 0;
    memset(s->vbe_regs, 0, sizeof(s->vbe_regs));
    s->vbe_regs[VBE_INDEX_ID] = VBE_ID5;
    s->vbe_index = 0;
    s->layout_stale = true;
    s->palette_stale = true;
    s->full_redraw = true;
}

void vga_core_init(VgaState *s, Vm *vm, size_t vram_size)
{
    s->vm = vm;
    s->vram_size = vram_size;
    s->vram = mem_host_alloc(vram_size);
    s->layout.lines = g_new0(VgaLine, VGA_MAX_LINES);
    vga_core_reset(s);
}

void vga_core_destroy(VgaState *s)
{
    mem_host_free(s->vram, s->vram_size);
    g_free(s->layout.lines);
    g_free(s->text_cache);
}
