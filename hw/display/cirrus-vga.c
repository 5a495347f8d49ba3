/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Cirrus Logic CL-GD5446 PCI VGA (1013:00B8, QEMU's "cirrus-vga"), built on the VGA
 * core of vga-core.c: the extended sequencer, graphics and CRT controller registers
 * (CL-GD5446 Technical Reference Manual, extension registers), the SR06 unlock key (read back
 * 12h unlocked, 0Fh locked; like QEMU, the extensions answer either way), the Hidden DAC
 * register behind four reads of 0x3C6, 4 MiB of video memory banked into 0xA0000 by
 * GR09/GR0A/GR0B, the linear framebuffer and BitBLT aperture in BAR 0, the VGA and BitBLT
 * registers memory-mapped in BAR 1 (and at 0xB8000 when SR17 says so), the extended
 * 8/15/16/24/32 bpp modes, the 32x32 and 64x64 hardware cursor, and the device with its
 * VGA BIOS (SeaBIOS's vgabios-cirrus.bin) in the ROM BAR. The BitBLT engine is in
 * cirrus-blit.c. */
#include "hw/display/cirrus-internal.h"
#include "hw/display/vga.h"
#include "hw/isa/isa-bus.h"
#include "vireo-config.h"

#include <string.h>

#define CIRRUS_ID_5446 (0x2e << 2) /* CR27, the part ID */

/* ---- banked and linear access ---- */

/* The extended (SVGA) mode of SR07 bit 0: memory is linear, banks and blits apply. */
static bool extended(const CirrusState *c)
{
    return c->sr[0x07] & 0x01;
}

/* GR0B bits 1 and 4 with bit 2: the offset the CPU gives is in units of 8 bytes (write
 * modes 4/5 at 8 bpp) or 16 bytes (at 16 bpp). */
static uint32_t scale_offset(const CirrusState *c, uint32_t off)
{
    if ((c->gr[0x0b] & 0x14) == 0x14)
        return off << 4;
    if (c->gr[0x0b] & 0x02)
        return off << 3;
    return off;
}

/* Write modes 4 and 5 (GR05 bits 2:0 with GR0B bit 2): each CPU bit writes a pixel of
 * the foreground colour (GR01/GR11), or for a clear bit the background (mode 5) or
 * nothing (mode 4). Each byte's address wraps inside video memory. */
static void write_expanded(CirrusState *c, uint32_t off, uint8_t v)
{
    unsigned mode = c->vga.gr[0x05] & 7;
    bool wide = (c->gr[0x0b] & 0x14) == 0x14;
    unsigned pw = wide ? 2 : 1;
    uint8_t fg[2] = { c->shadow_gr1, c->gr[0x11] }, bg[2] = { c->shadow_gr0, c->gr[0x10] };
    for (unsigned x = 0; x < 8; x++) {
        bool set = v & (0x80 >> x);
        if (!set && mode != 5)
            continue;
        for (unsigned i = 0; i < pw; i++)
            c->vga.vram[(off + x * pw + i) & CIRRUS_VRAM_MASK] = set ? fg[i] : bg[i];
    }
    vga_mark_dirty(&c->vga, off & CIRRUS_VRAM_MASK, 8 * pw);
    if ((off & CIRRUS_VRAM_MASK) + 8 * pw > CIRRUS_VRAM_SIZE)
        vga_mark_dirty(&c->vga, 0, 8 * pw);
}

static bool expanded_writes(const CirrusState *c)
{
    unsigned mode = c->vga.gr[0x05] & 7;
    return (mode == 4 || mode == 5) && (c->gr[0x0b] & 0x04);
}

static uint8_t vram_read(CirrusState *c, uint32_t off)
{
    return c->vga.vram[scale_offset(c, off) & CIRRUS_VRAM_MASK];
}

static void vram_write(CirrusState *c, uint32_t off, uint8_t v)
{
    off = scale_offset(c, off) & CIRRUS_VRAM_MASK;
    if (expanded_writes(c)) {
        write_expanded(c, off, v);
        return;
    }
    c->vga.vram[off] = v;
    vga_mark_dirty(&c->vga, off, 1);
}

/* GR09/GR0A bank offsets in 4 KiB units (16 KiB with GR0B bit 5); GR0B bit 0 gives
 * 0xA0000 and 0xA8000 a bank each, else GR09 maps all 64 KiB. False: past memory. */
static bool bank_offset(const CirrusState *c, uint32_t addr, uint32_t *off)
{
    unsigned bank = addr >> 15;
    uint32_t in = addr & 0x7fff;
    uint32_t base = (c->gr[0x0b] & 0x01) ? c->gr[0x09 + bank] : c->gr[0x09];
    base <<= (c->gr[0x0b] & 0x20) ? 14 : 12;
    if (!(c->gr[0x0b] & 0x01) && bank)
        base += 0x8000;
    if (base >= CIRRUS_VRAM_SIZE)
        return false;
    *off = base + in;
    return true;
}

/* SR17 bits 2 and 6: the BitBLT registers at 0xB8000 (bit 6 clear) or in the last 256
 * bytes of the linear framebuffer (bit 6 set). */
static bool mmio_at_b8000(const CirrusState *c)
{
    return (c->sr[0x17] & 0x44) == 0x04;
}

static bool mmio_in_lfb(const CirrusState *c)
{
    return (c->sr[0x17] & 0x44) == 0x44;
}

static uint64_t window_read(void *opaque, hwaddr addr, unsigned size)
{
    CirrusState *c = opaque;
    if (!extended(c))
        return vga_mem_read(&c->vga, (uint32_t)addr);
    uint32_t off;
    if (addr < 0x10000)
        return bank_offset(c, (uint32_t)addr, &off) ? vram_read(c, off) : 0xff;
    if (addr >= 0x18000 && addr < 0x18100 && mmio_at_b8000(c))
        return cirrus_blt_reg_read(c, addr & 0xff);
    return 0xff;
}

static void window_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    CirrusState *c = opaque;
    if (!extended(c)) {
        vga_mem_write(&c->vga, (uint32_t)addr, (uint8_t)value);
        return;
    }
    uint32_t off;
    if (addr < 0x10000) {
        if (c->blt_feeding)
            cirrus_blt_feed(c, (uint8_t)value);
        else if (bank_offset(c, (uint32_t)addr, &off))
            vram_write(c, off, (uint8_t)value);
    } else if (addr >= 0x18000 && addr < 0x18100 && mmio_at_b8000(c)) {
        cirrus_blt_reg_write(c, addr & 0xff, (uint8_t)value);
    }
}

static const MemOps window_ops = {
    .read = window_read,
    .write = window_write,
    .min_size = 1,
    .max_size = 1,
};

/* BAR 0 when video memory cannot be mapped straight: write modes 4/5, the scaled
 * offsets of GR0B, a blit's data phase, or the BitBLT registers in its last bytes. */
static uint64_t bar0_read(void *opaque, hwaddr addr, unsigned size)
{
    CirrusState *c = opaque;
    if (addr >= CIRRUS_VRAM_SIZE)
        return 0xff; /* the blit aperture and the unused space read as nothing */
    if (mmio_in_lfb(c) && addr >= CIRRUS_VRAM_SIZE - 0x100)
        return cirrus_blt_reg_read(c, addr & 0xff);
    return vram_read(c, (uint32_t)addr);
}

static void bar0_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    CirrusState *c = opaque;
    if (addr >= CIRRUS_BLT_APERTURE) {
        /* The system-to-screen aperture: source data only. */
        if (addr < CIRRUS_BLT_APERTURE + CIRRUS_VRAM_SIZE)
            cirrus_blt_feed(c, (uint8_t)value);
        return;
    }
    if (addr >= CIRRUS_VRAM_SIZE)
        return;
    if (mmio_in_lfb(c) && addr >= CIRRUS_VRAM_SIZE - 0x100)
        cirrus_blt_reg_write(c, addr & 0xff, (uint8_t)value);
    else if (c->blt_feeding)
        cirrus_blt_feed(c, (uint8_t)value);
    else
        vram_write(c, (uint32_t)addr, (uint8_t)value);
}

static const MemOps bar0_ops = {
    .read = bar0_read,
    .write = bar0_write,
    .min_size = 1,
    .max_size = 1,
};

void cirrus_update_memory_map(CirrusState *c)
{
    uint64_t base = c->pci.bar[0].addr;
    bool direct = base != PCI_BAR_UNMAPPED && !mmio_in_lfb(c) && !c->blt_feeding && !(c->gr[0x0b] & 0x02) &&
                  (c->gr[0x0b] & 0x14) != 0x14 && !expanded_writes(c);
    if (direct == mem_region_enabled(c->vram_overlay) && (!direct || mem_region_base(c->vram_overlay) == base))
        return;
    mem_region_set_enabled(c->vram_overlay, false);
    if (direct) {
        mem_region_set_base(c->vram_overlay, base);
        mem_region_set_enabled(c->vram_overlay, true);
    }
}

static void pci_config_written(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    /* BAR 0 moved or memory decoding switched: the direct mapping follows. */
    cirrus_update_memory_map(d->opaque);
}

/* ---- extended registers ---- */

static void sr_write(CirrusState *c, unsigned i, uint8_t v)
{
    VgaState *s = &c->vga;
    switch (i & 0x1f) {
    case 0x10:
        /* Cursor X: SR10 holds bits 10:3, the index's bits 7:5 bits 2:0. */
        c->sr[0x10] = v;
        c->cursor_x = (uint16_t)(v << 3 | i >> 5);
        return;
    case 0x11:
        c->sr[0x11] = v;
        c->cursor_y = (uint16_t)(v << 3 | i >> 5);
        return;
    }
    if (i > 0x1f)
        return;
    switch (i) {
    case 0x06:
        /* The unlock key: 12h (bits 4, 2:0 compared) unlocks, anything else locks. */
        c->sr[0x06] = (v & 0x17) == 0x12 ? 0x12 : 0x0f;
        break;
    case 0x07:
        if ((c->sr[0x07] ^ v) & 0x0f)
            s->layout_stale = true;
        c->sr[0x07] = v;
        cirrus_update_memory_map(c);
        break;
    case 0x12:
        c->sr[0x12] = v;
        break;
    case 0x17:
        /* Bits 5:3 report the bus (PCI) and are read-only. */
        c->sr[0x17] = (uint8_t)((c->sr[0x17] & 0x38) | (v & 0xc7));
        cirrus_update_memory_map(c);
        break;
    case 0x05:
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x0e: case 0x0f:
    case 0x13: case 0x14: case 0x15: case 0x16: case 0x18: case 0x19: case 0x1a: case 0x1b:
    case 0x1c: case 0x1d: case 0x1e: case 0x1f:
        c->sr[i] = v;
        break;
    default:
        break;
    }
}

static uint8_t sr_read(CirrusState *c, unsigned i)
{
    if ((i & 0x1f) == 0x10 || (i & 0x1f) == 0x11)
        return c->sr[i & 0x1f];
    return i <= 0x1f ? c->sr[i] : 0xff;
}

static void gr_write(CirrusState *c, unsigned i, uint8_t v)
{
    VgaState *s = &c->vga;
    switch (i) {
    case 0x05:
        /* Bit 2 extends the write mode to 4/5 (with GR0B bit 2). */
        if ((s->gr[0x05] ^ v) & 0x60)
            s->layout_stale = true;
        s->gr[0x05] = v & 0x7f;
        cirrus_update_memory_map(c);
        break;
    case 0x09: case 0x0a: case 0x0b:
        c->gr[i] = v;
        cirrus_update_memory_map(c);
        break;
    case 0x21: case 0x23: case 0x25: case 0x27:
        c->gr[i] = v & 0x1f;
        break;
    case 0x2a:
        c->gr[i] = v & 0x3f;
        /* GR31 bit 7, auto-start: writing the destination's top byte starts the blit. */
        if (c->gr[0x31] & BLT_STATUS_AUTOSTART)
            cirrus_blt_start(c);
        break;
    case 0x2e:
        c->gr[i] = v & 0x3f;
        break;
    case 0x31:
        cirrus_blt_status_write(c, v);
        break;
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
    case 0x20: case 0x22: case 0x24: case 0x26: case 0x28: case 0x29: case 0x2c: case 0x2d:
    case 0x2f: case 0x30: case 0x32: case 0x33: case 0x34: case 0x35: case 0x38: case 0x39:
        c->gr[i] = v;
        break;
    default:
        break;
    }
}

static uint8_t gr_read(CirrusState *c, unsigned i)
{
    if (i == 0x00)
        return c->shadow_gr0;
    if (i == 0x01)
        return c->shadow_gr1;
    if (i <= 0x08)
        return c->vga.gr[i];
    return i < 0x3a ? c->gr[i] : 0xff;
}

/* The BitBLT registers in memory-mapped order and the GR each one is. */
static int blt_reg_gr(unsigned off)
{
    static const uint8_t map[0x20] = {
        [0x00] = 0x00, [0x01] = 0x10, [0x02] = 0x12, [0x03] = 0x14, /* background */
        [0x04] = 0x01, [0x05] = 0x11, [0x06] = 0x13, [0x07] = 0x15, /* foreground */
        [0x08] = 0x20, [0x09] = 0x21, [0x0a] = 0x22, [0x0b] = 0x23, /* width, height */
        [0x0c] = 0x24, [0x0d] = 0x25, [0x0e] = 0x26, [0x0f] = 0x27, /* pitches */
        [0x10] = 0x28, [0x11] = 0x29, [0x12] = 0x2a, [0x13] = 0xff, /* destination */
        [0x14] = 0x2c, [0x15] = 0x2d, [0x16] = 0x2e, [0x17] = 0x2f, /* source, write mask */
        [0x18] = 0x30, [0x19] = 0xff, [0x1a] = 0x32, [0x1b] = 0x33, /* mode, ROP, mode ext */
        [0x1c] = 0x34, [0x1d] = 0x35, [0x1e] = 0xff, [0x1f] = 0xff, /* transparent colour */
    };
    if (off < 0x20)
        return map[off] == 0xff ? -1 : map[off];
    if (off == 0x20)
        return 0x38;
    if (off == 0x21)
        return 0x39;
    if (off == 0x40)
        return 0x31; /* start/status */
    return -1;
}

uint8_t cirrus_blt_reg_read(CirrusState *c, unsigned off)
{
    int g = blt_reg_gr(off);
    return g < 0 ? 0xff : gr_read(c, (unsigned)g);
}

void cirrus_blt_reg_write(CirrusState *c, unsigned off, uint8_t v)
{
    int g = blt_reg_gr(off);
    if (g == 0x00) {
        c->shadow_gr0 = v;
        c->vga.gr[0x00] = v & 0x0f;
    } else if (g == 0x01) {
        c->shadow_gr1 = v;
        c->vga.gr[0x01] = v & 0x0f;
    } else if (g > 0) {
        gr_write(c, (unsigned)g, v);
    }
}

static bool crtc_port(const VgaState *s, uint16_t port)
{
    return (port & 0xfff0) == ((s->misc & 0x01) ? 0x3d0 : 0x3b0);
}

static bool cirrus_port_read(VgaState *s, uint16_t port, uint8_t *v)
{
    CirrusState *c = (CirrusState *)s;
    switch (port) {
    case 0x3c5:
        if (s->sr_index < 0x05)
            return false;
        *v = sr_read(c, s->sr_index);
        return true;
    case 0x3c6:
        /* The fifth read in a row returns the Hidden DAC register. */
        if (c->hidden_dac_reads == 4) {
            c->hidden_dac_reads = 0;
            *v = c->hidden_dac;
        } else {
            c->hidden_dac_reads++;
            *v = s->dac_mask;
        }
        return true;
    case 0x3c7:
    case 0x3c8:
        c->hidden_dac_reads = 0;
        return false;
    case 0x3c9:
        c->hidden_dac_reads = 0;
        if (!(c->sr[0x12] & 0x02))
            return false;
        /* SR12 bit 1: the DAC ports reach the 16 cursor colours. */
        *v = c->hidden_pal[s->dac_read_index & 0x0f][s->dac_component];
        if (++s->dac_component == 3) {
            s->dac_component = 0;
            s->dac_read_index++;
        }
        return true;
    case 0x3cf:
        if (s->gr_index >= 0x02 && s->gr_index <= 0x08)
            return false;
        *v = gr_read(c, s->gr_index);
        return true;
    case 0x3b5:
    case 0x3d5:
        if (!crtc_port(s, port) || s->cr_index <= 0x18)
            return false;
        switch (s->cr_index) {
        case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x25: case 0x27:
            *v = s->cr[s->cr_index];
            break;
        case 0x22:
            *v = s->latch[s->gr[0x04] & 3]; /* graphics data latch readback */
            break;
        case 0x24:
            *v = s->ar_flipflop ? 0x80 : 0x00; /* attribute controller toggle */
            break;
        case 0x26:
            *v = s->ar_index & 0x3f;
            break;
        default:
            *v = 0xff;
            break;
        }
        return true;
    }
    return false;
}

static bool cirrus_port_write(VgaState *s, uint16_t port, uint8_t v)
{
    CirrusState *c = (CirrusState *)s;
    switch (port) {
    case 0x3c4:
        s->sr_index = v; /* the whole byte: bits 7:5 carry the cursor's low position bits */
        return true;
    case 0x3c5:
        if (s->sr_index < 0x05)
            return false;
        sr_write(c, s->sr_index, v);
        return true;
    case 0x3c6:
        if (c->hidden_dac_reads == 4) {
            c->hidden_dac_reads = 0;
            if (c->hidden_dac != v)
                s->layout_stale = true;
            c->hidden_dac = v;
            return true;
        }
        c->hidden_dac_reads = 0;
        return false;
    case 0x3c7:
    case 0x3c8:
        c->hidden_dac_reads = 0;
        return false;
    case 0x3c9:
        c->hidden_dac_reads = 0;
        if (!(c->sr[0x12] & 0x02))
            return false;
        s->dac_latch[s->dac_component++] = v;
        if (s->dac_component == 3) {
            s->dac_component = 0;
            memcpy(c->hidden_pal[s->dac_write_index & 0x0f], s->dac_latch, 3);
            s->dac_write_index++;
            s->full_redraw = true; /* the cursor's colours */
        }
        return true;
    case 0x3ce:
        s->gr_index = v & 0x3f;
        return true;
    case 0x3cf:
        if (s->gr_index == 0x00)
            c->shadow_gr0 = v;
        else if (s->gr_index == 0x01)
            c->shadow_gr1 = v;
        if (s->gr_index <= 0x04 || (s->gr_index >= 0x06 && s->gr_index <= 0x08))
            return false; /* the VGA keeps its 4-bit copy of GR00/GR01 */
        gr_write(c, s->gr_index, v);
        return true;
    case 0x3b5:
    case 0x3d5:
        if (!crtc_port(s, port) || s->cr_index <= 0x18)
            return false;
        /* CR19 interlace end, CR1A misc (interlace), CR1B extended display (start
         * address and offset high bits), CR1C sync, CR1D overlay (start address bit). */
        if (s->cr_index >= 0x19 && s->cr_index <= 0x1d) {
            if (s->cr[s->cr_index] != v)
                s->layout_stale = true;
            s->cr[s->cr_index] = v;
        }
        return true;
    }
    return false;
}

/* ---- extended modes ---- */

/* SR07 bits 3:1 and, for 16 bpp, the Hidden DAC's low nibble (0: 5-5-5, 1: 5-6-5). */
static unsigned cirrus_bpp(const CirrusState *c)
{
    switch (c->sr[0x07] & 0x0e) {
    case 0x02:
    case 0x06:
        return (c->hidden_dac & 0x0f) == 0x01 ? 16 : 15;
    case 0x04:
        return 24;
    case 0x08:
        return 32;
    default:
        return 8;
    }
}

static uint32_t cirrus_start_address(const VgaState *s)
{
    /* CR0C/CR0D, CR1B bits 0 and 3:2, CR1D bit 7: bits 19:0 of a dword address. */
    uint32_t a = (uint32_t)s->cr[0x0c] << 8 | s->cr[0x0d] | (uint32_t)(s->cr[0x1b] & 0x01) << 16 |
                 (uint32_t)(s->cr[0x1b] & 0x0c) << 15 | (uint32_t)(s->cr[0x1d] & 0x80) << 12;
    return a * 4;
}

static bool cirrus_layout(VgaState *s)
{
    CirrusState *c = (CirrusState *)s;
    if (!extended(c))
        return false;
    VgaLayout *l = &s->layout;
    unsigned bpp = cirrus_bpp(c);
    unsigned width = (s->cr[0x01] + 1u) * 8;
    unsigned height = vga_vdisplay_lines(s);
    if (s->cr[0x1a] & 0x01)
        height *= 2; /* interlaced: both fields */
    /* Lines a character row or double scan repeats show once, as in the VGA modes. */
    unsigned repeat = ((s->cr[0x09] & 0x1f) + 1u) << (s->cr[0x09] >> 7);
    height = MAX(height / repeat, 1u);
    l->kind = VGA_MODE_VBE;
    l->width = (int)width;
    l->height = (int)height;
    l->vbe_bpp = bpp;
    uint32_t pitch = ((uint32_t)s->cr[0x13] | (uint32_t)(s->cr[0x1b] & 0x10) << 4) * 8;
    l->vbe_line_bytes = pitch;
    l->vbe_start = MIN(cirrus_start_address(s), (uint32_t)s->vram_size);
    /* The line compare splits the screen as in the VGA modes: the lines after it show
     * video memory from offset 0. */
    unsigned split = vga_line_compare(s) / repeat;
    l->vbe_split = split + 1 < height ? split : UINT32_MAX;
    /* The attribute controller left in palette access blanks the screen; SR01 bit 5
     * (screen off) does not here: the Cirrus VGA BIOS's extended mode tables set it,
     * written for QEMU, which ignores it. */
    if (width < 16 || height < 16)
        l->kind = VGA_MODE_BLANK, l->width = 640, l->height = 480;
    else if (!(s->ar_index & 0x20))
        l->kind = VGA_MODE_BLANK;
    return true;
}

static char *cirrus_describe(VgaState *s)
{
    CirrusState *c = (CirrusState *)s;
    if (!extended(c) || s->layout.kind != VGA_MODE_VBE)
        return NULL;
    return g_strdup_printf("Cirrus %dx%dx%u", s->layout.width, s->layout.height, s->layout.vbe_bpp);
}

/* ---- hardware cursor (SR10-SR13: position, attributes, pattern address) ---- */

static int cursor_size(const CirrusState *c)
{
    if (!(c->sr[0x12] & 0x01))
        return 0;
    return (c->sr[0x12] & 0x04) ? 64 : 32;
}

/* Marks the video memory behind lines [y, y + n) of the linear mode dirty, so the
 * renderer redraws them (with or without the cursor). */
static void mark_screen_lines(CirrusState *c, int y, int n)
{
    const VgaLayout *l = &c->vga.layout;
    if (l->kind != VGA_MODE_VBE)
        return;
    unsigned bytes = (l->vbe_bpp + 7) / 8;
    for (int i = MAX(y, 0); i < MIN(y + n, l->height); i++) {
        uint64_t off = vga_linear_line_offset(l, i);
        if (off < c->vga.vram_size)
            vga_mark_dirty(&c->vga, (size_t)off, (size_t)l->width * bytes);
    }
}

static void cirrus_pre_render(VgaState *s)
{
    CirrusState *c = (CirrusState *)s;
    vga_ensure_layout(s);
    int size = cursor_size(c);
    bool image_changed = size && vga_range_dirty(s, CIRRUS_CURSOR_AREA, CIRRUS_VRAM_SIZE - CIRRUS_CURSOR_AREA);
    if (size == c->drawn_cursor_size && c->cursor_x == c->drawn_cursor_x && c->cursor_y == c->drawn_cursor_y &&
        !image_changed)
        return;
    mark_screen_lines(c, c->drawn_cursor_y, c->drawn_cursor_size);
    mark_screen_lines(c, c->cursor_y, size);
    c->drawn_cursor_size = size;
    c->drawn_cursor_x = c->cursor_x;
    c->drawn_cursor_y = c->cursor_y;
}

static uint32_t hidden_colour(const CirrusState *c, unsigned i)
{
    uint32_t px = 0;
    for (int k = 0; k < 3; k++) {
        uint32_t v = c->hidden_pal[i][k] & 0x3f;
        px = px << 8 | (v << 2 | (v & 1) * 3); /* widened as the VGA's DAC entries */
    }
    return px;
}

/* The cursor's two bit planes for a line: (plane 0, plane 1) = (0,0) transparent,
 * (1,0) inverts the screen, (0,1) colour 0 and (1,1) colour 15 of the hidden palette;
 * 32x32 patterns are 256 bytes (plane 1 at +128), 64x64 ones 1 KiB (16 bytes a line). */
static void cirrus_overlay_line(VgaState *s, int y, uint32_t *line, int width)
{
    CirrusState *c = (CirrusState *)s;
    int size = cursor_size(c);
    if (!size || y < c->cursor_y || y >= c->cursor_y + size || c->cursor_x >= width)
        return;
    const uint8_t *pat = s->vram + CIRRUS_CURSOR_AREA;
    const uint8_t *p0, *p1;
    if (size == 64) {
        p0 = pat + (c->sr[0x13] & 0x3c) * 256u + (unsigned)(y - c->cursor_y) * 16;
        p1 = p0 + 8;
    } else {
        p0 = pat + (c->sr[0x13] & 0x3f) * 256u + (unsigned)(y - c->cursor_y) * 4;
        p1 = p0 + 128;
    }
    uint32_t col0 = hidden_colour(c, 0), col15 = hidden_colour(c, 15);
    int n = MIN(size, width - c->cursor_x);
    for (int x = 0; x < n; x++) {
        unsigned b0 = (p0[x >> 3] >> (7 - (x & 7))) & 1, b1 = (p1[x >> 3] >> (7 - (x & 7))) & 1;
        uint32_t *d = &line[c->cursor_x + x];
        switch (b0 | b1 << 1) {
        case 1: *d ^= 0xffffff; break;
        case 2: *d = col0; break;
        case 3: *d = col15; break;
        default: break;
        }
    }
}

static const VgaHooks cirrus_hooks = {
    .port_read = cirrus_port_read,
    .port_write = cirrus_port_write,
    .layout = cirrus_layout,
    .pre_render = cirrus_pre_render,
    .overlay_line = cirrus_overlay_line,
    .describe = cirrus_describe,
};

/* ---- ports and BAR 1 ---- */

static uint32_t ports_read(void *opaque, uint32_t off, unsigned size)
{
    return vga_port_read(opaque, (uint16_t)(0x3b0 + off));
}

static void ports_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    vga_port_write(opaque, (uint16_t)(0x3b0 + off), (uint8_t)value);
}

static const PortOps port_ops = {
    .read = ports_read,
    .write = ports_write,
    .min_size = 1,
    .max_size = 1,
};

/* BAR 1: the VGA ports 0x3C0-0x3DF at 0x00 (drivers reach the registers without I/O
 * space), the BitBLT registers at 0x100. */
static uint64_t bar1_read(void *opaque, hwaddr addr, unsigned size)
{
    CirrusState *c = opaque;
    if (addr >= 0x100)
        return addr < 0x200 ? cirrus_blt_reg_read(c, (unsigned)(addr - 0x100)) : 0xff;
    return addr < 0x20 ? vga_port_read(&c->vga, (uint16_t)(0x3c0 + addr)) : 0xff;
}

static void bar1_write(void *opaque, hwaddr addr, uint64_t value, unsigned size)
{
    CirrusState *c = opaque;
    if (addr >= 0x100) {
        if (addr < 0x200)
            cirrus_blt_reg_write(c, (unsigned)(addr - 0x100), (uint8_t)value);
    } else if (addr < 0x20) {
        vga_port_write(&c->vga, (uint16_t)(0x3c0 + addr), (uint8_t)value);
    }
}

static const MemOps bar1_ops = {
    .read = bar1_read,
    .write = bar1_write,
    .min_size = 1,
    .max_size = 1,
};

/* ---- device ---- */

static void cirrus_reset(Device *dev)
{
    CirrusState *c = (CirrusState *)dev;
    VgaState *s = &c->vga;
    vga_core_reset(s);
    pci_device_reset(&c->pci);
    memset(c->sr, 0, sizeof(c->sr));
    memset(c->gr, 0, sizeof(c->gr));
    memset(c->hidden_pal, 0, sizeof(c->hidden_pal));
    c->shadow_gr0 = c->shadow_gr1 = 0;
    /* The 5446's power-on configuration as QEMU gives it: locked, 4 MiB of 64-bit
     * DRAM (SR0F, SR15), PCI with its memory clock (SR17, SR1F), the part ID in CR27. */
    c->sr[0x06] = 0x0f;
    c->sr[0x0f] = 0x98;
    c->sr[0x15] = 0x04;
    c->sr[0x17] = 0x20;
    c->sr[0x1f] = 0x2d;
    c->gr[0x18] = 0x0f;
    s->cr[0x27] = CIRRUS_ID_5446;
    c->hidden_dac = 0;
    c->hidden_dac_reads = 0;
    c->cursor_x = c->cursor_y = 0;
    c->blt_feeding = false;
    memset(&c->blt, 0, sizeof(c->blt));
    c->drawn_cursor_size = 0;
    cirrus_update_memory_map(c);
}

static bool cirrus_realize(Device *dev, GError **err)
{
    CirrusState *c = (CirrusState *)dev;
    VgaState *s = &c->vga;
    Vm *vm = dev->vm;
    PciBus *bus = pci_root_bus(vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, c->addr, &devfn, err))
        return false;
    if (!isa_bus_check_ports(vm, 0x3b0, 0x30, err)) {
        g_prefix_error(err, "cirrus-vga: the VGA ports (use -vga none with -device cirrus-vga): ");
        return false;
    }
    g_autofree char *rom = NULL;
    gsize rom_len = 0;
    g_autofree char *rom_path =
        c->romfile ? g_strdup(c->romfile) : g_build_filename(SEABIOS_DIR, "vgabios-cirrus.bin", NULL);
    if (strcmp(rom_path, "none") &&
        !pci_rom_load(rom_path, "cirrus-vga: VGA BIOS", "install the Debian package 'seabios', or give romfile=", &rom,
                      &rom_len, err))
        return false;
    s->hooks = &cirrus_hooks;
    vga_core_init(s, vm, CIRRUS_VRAM_SIZE);

    pci_device_init(&c->pci, bus, devfn, "cirrus-vga", 0x1013, 0x00b8, 0x030000, 0x00);
    pci_device_set_subsystem(&c->pci, 0x1af4, 0x1100);
    c->pci.opaque = c;
    c->pci.config_write = pci_config_written;
    s->pci = &c->pci;
    pci_register_bar_mmio(&c->pci, 0, CIRRUS_BAR0_SIZE, &bar0_ops, c);
    pci_register_bar_mmio(&c->pci, 1, CIRRUS_BAR1_SIZE, &bar1_ops, c);
    if (rom)
        pci_register_rom(&c->pci, rom, rom_len);
    /* Video memory straight over BAR 0 (above its MMIO), dirty-logged for the display. */
    c->vram_overlay = mem_add_ram(vm_mem(vm), "cirrus-vram", 0, CIRRUS_VRAM_SIZE, s->vram, false, 2);
    mem_region_set_enabled(c->vram_overlay, false);
    mem_region_set_dirty_log(c->vram_overlay, true);
    s->lfb = c->vram_overlay;

    io_add(vm_io(vm), "cirrus-vga", 0x3b0, 0x30, &port_ops, c);
    c->window = mem_add_mmio(vm_mem(vm), "cirrus-window", 0xa0000, 0x20000, &window_ops, c, 1);
    s->con = display_console_register(vm, &vga_display_ops, s);
    return true;
}

static void cirrus_unrealize(Device *dev)
{
    CirrusState *c = (CirrusState *)dev;
    vga_core_destroy(&c->vga);
}

static bool cirrus_fail(GError **err, const char *what, unsigned v)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cirrus-vga: %s (0x%x)", what, v);
    return false;
}

static bool cirrus_check(const void *state, GError **err)
{
    const CirrusState *c = state;
    if (!pci_device_state_check(&c->pci, err))
        return false;
    if (!vga_core_state_check(&c->vga, 0xff, 0x3f, err))
        return false;
    if (c->hidden_dac_reads > 4)
        return cirrus_fail(err, "Hidden DAC read count", c->hidden_dac_reads);
    if (c->sr[0x06] != 0x12 && c->sr[0x06] != 0x0f)
        return cirrus_fail(err, "SR06 is neither locked nor unlocked", c->sr[0x06]);
    if (c->cursor_x > 0x7ff || c->cursor_y > 0x7ff)
        return cirrus_fail(err, "cursor position", (unsigned)c->cursor_x << 16 | c->cursor_y);
    return cirrus_blt_state_check(c, err);
}

static void cirrus_post_load(void *state)
{
    CirrusState *c = state;
    VgaState *s = &c->vga;
    pci_device_post_load(&c->pci);
    cirrus_update_memory_map(c);
    s->layout_stale = true;
    s->palette_stale = true;
    s->full_redraw = true;
    s->font_written = true;
    c->drawn_cursor_size = 0;
    vga_mark_dirty(s, 0, s->vram_size);
}

static const VmStateField blit_fields[] = {
    VMSTATE_U8(CirrusBlit, mode),
    VMSTATE_U8(CirrusBlit, modeext),
    VMSTATE_U8(CirrusBlit, rop),
    VMSTATE_U8(CirrusBlit, skip),
    VMSTATE_U32(CirrusBlit, width),
    VMSTATE_U32(CirrusBlit, height),
    VMSTATE_U32(CirrusBlit, dst_pitch),
    VMSTATE_U32(CirrusBlit, src_pitch),
    VMSTATE_U32(CirrusBlit, dst),
    VMSTATE_U32(CirrusBlit, src),
    VMSTATE_U32(CirrusBlit, fg),
    VMSTATE_U32(CirrusBlit, bg),
    VMSTATE_U32(CirrusBlit, pw),
    VMSTATE_U32(CirrusBlit, line),
    VMSTATE_U32(CirrusBlit, src_line_bytes),
    VMSTATE_U32(CirrusBlit, src_fill),
    VMSTATE_END,
};

static const VmStateDesc blit_vmsd = {
    .name = "cirrus-blit",
    .version = 1,
    .fields = blit_fields,
};

#define V(f) offsetof(CirrusState, vga.f)
static const VmStateField cirrus_fields[] = {
    VMSTATE_STRUCT(CirrusState, pci, PciDevice, &pci_device_vmsd),
    { .name = "misc", .type = VMS_U8, .offset = V(misc) },
    { .name = "feature", .type = VMS_U8, .offset = V(feature) },
    { .name = "vga_enable", .type = VMS_U8, .offset = V(vga_enable) },
    { .name = "sr_index", .type = VMS_U8, .offset = V(sr_index) },
    { .name = "vga_sr", .type = VMS_U8, .offset = V(sr), .count = 8 },
    { .name = "gr_index", .type = VMS_U8, .offset = V(gr_index) },
    { .name = "vga_gr", .type = VMS_U8, .offset = V(gr), .count = 16 },
    { .name = "ar_index", .type = VMS_U8, .offset = V(ar_index) },
    { .name = "ar", .type = VMS_U8, .offset = V(ar), .count = 32 },
    { .name = "ar_flipflop", .type = VMS_BOOL, .offset = V(ar_flipflop) },
    { .name = "cr_index", .type = VMS_U8, .offset = V(cr_index) },
    { .name = "cr", .type = VMS_U8, .offset = V(cr), .count = 64 },
    { .name = "latch", .type = VMS_U8, .offset = V(latch), .count = 4 },
    { .name = "dac", .type = VMS_U8, .offset = V(dac), .count = 256 * 3 },
    { .name = "dac_mask", .type = VMS_U8, .offset = V(dac_mask) },
    { .name = "dac_read_index", .type = VMS_U8, .offset = V(dac_read_index) },
    { .name = "dac_write_index", .type = VMS_U8, .offset = V(dac_write_index) },
    { .name = "dac_component", .type = VMS_U8, .offset = V(dac_component) },
    { .name = "dac_state", .type = VMS_U8, .offset = V(dac_state) },
    { .name = "dac_latch", .type = VMS_U8, .offset = V(dac_latch), .count = 3 },
    VMSTATE_U8_ARRAY(CirrusState, sr, 0x20),
    VMSTATE_U8_ARRAY(CirrusState, gr, 0x40),
    VMSTATE_U8(CirrusState, shadow_gr0),
    VMSTATE_U8(CirrusState, shadow_gr1),
    VMSTATE_U8(CirrusState, hidden_dac),
    VMSTATE_U8(CirrusState, hidden_dac_reads),
    { .name = "hidden_pal", .type = VMS_U8, .offset = offsetof(CirrusState, hidden_pal), .count = 16 * 3 },
    VMSTATE_U16(CirrusState, cursor_x),
    VMSTATE_U16(CirrusState, cursor_y),
    VMSTATE_BOOL(CirrusState, blt_feeding),
    VMSTATE_STRUCT(CirrusState, blt, CirrusBlit, &blit_vmsd),
    VMSTATE_BUFFER(CirrusState, blt_buf),
    { .name = "vram", .type = VMS_BUFFER_PTR, .offset = V(vram), .count = CIRRUS_VRAM_SIZE },
    VMSTATE_END,
};
#undef V

static const VmStateDesc cirrus_vmsd = {
    .name = "cirrus-vga",
    .version = 1,
    .fields = cirrus_fields,
    .check = cirrus_check,
    .post_load = cirrus_post_load,
};

static const DeviceProp cirrus_props[] = {
    PCI_DEVICE_PROP_ADDR(CirrusState, addr),
    { "romfile", DEVICE_PROP_STRING, offsetof(CirrusState, romfile),
      "VGA BIOS image for the ROM BAR (default: SeaBIOS's vgabios-cirrus.bin; none: no ROM)", NULL, 0, 0 },
    { "blitter", DEVICE_PROP_BOOL, offsetof(CirrusState, blitter), "the BitBLT engine runs blits", "on", 0, 0 },
    { NULL },
};

static const DeviceClass cirrus_class = {
    .name = "cirrus-vga",
    .description = "Cirrus Logic CL-GD5446 PCI VGA with BitBLT engine (PCI 1013:00b8)",
    .instance_size = sizeof(CirrusState),
    .user_creatable = true,
    .props = cirrus_props,
    .vmsd = &cirrus_vmsd,
    .realize = cirrus_realize,
    .reset = cirrus_reset,
    .unrealize = cirrus_unrealize,
};

__attribute__((constructor)) static void cirrus_register(void)
{
    device_class_register(&cirrus_class);
}

bool cirrus_vga_new(Vm *vm, const char *addr, GError **err)
{
    g_autofree char *spec = g_strdup_printf("%s,id=vga%s%s", cirrus_class.name, addr ? ",addr=" : "", addr ? addr : "");
    return device_create_from_spec(vm, spec, err) != NULL;
}
