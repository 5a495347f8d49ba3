/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State of the VGA shared by the files of hw/display: vga-core.c (registers, planar
 * memory, retrace), vga-text.c and vga-gfx.c (rendering), vga-pci.c (Bochs VBE, the PCI
 * std-vga device and the display console glue); the Cirrus (cirrus-*.c) builds on it
 * through VgaHooks. */
#pragma once

#include "hw/display/vga.h"
#include "engine/display.h"
#include "engine/device.h"

#define VGA_VRAM_SIZE (16u << 20)
/* Planar VGA memory: four planes of 64 KiB, stored interleaved (byte plane_offset*4 + plane). */
#define VGA_PLANE_SIZE 0x10000u
#define VGA_PLANAR_BYTES (4 * VGA_PLANE_SIZE)
#define VGA_PAGE_BITS 12
#define VGA_DIRTY_WORDS (VGA_VRAM_SIZE >> VGA_PAGE_BITS >> 6)
/* Guest timing is ignored past this many scan lines (the CRTC counts to 2047). */
#define VGA_MAX_LINES 2048

/* Bochs VBE "dispi" registers (Bochs vbe.h numbering). */
enum {
    VBE_INDEX_ID = 0,
    VBE_INDEX_XRES,
    VBE_INDEX_YRES,
    VBE_INDEX_BPP,
    VBE_INDEX_ENABLE,
    VBE_INDEX_BANK,
    VBE_INDEX_VIRT_WIDTH,
    VBE_INDEX_VIRT_HEIGHT,
    VBE_INDEX_X_OFFSET,
    VBE_INDEX_Y_OFFSET,
    VBE_INDEX_VIDEO_MEMORY_64K,
    VBE_NUM_REGS,
};
enum {
    VBE_ENABLED = 0x01,
    VBE_GETCAPS = 0x02,
    VBE_8BIT_DAC = 0x20,
    VBE_LFB_ENABLED = 0x40,
    VBE_NOCLEARMEM = 0x80,
};
#define VBE_ID0 0xb0c0
#define VBE_ID5 0xb0c5
#define VBE_MAX_XRES 4096
#define VBE_MAX_YRES 4096
#define VBE_MAX_BPP 32

typedef enum {
    VGA_MODE_BLANK,   /* screen off, palette access, or timing that shows nothing */
    VGA_MODE_TEXT,
    VGA_MODE_PLANAR,  /* 16 colours (EGA/VGA planar, CGA 640x200x2 through the palette) */
    VGA_MODE_CGA4,    /* shift register interleave: CGA 320x200x4 */
    VGA_MODE_256,     /* 256 colours: mode 13h and the unchained "mode X" family */
    VGA_MODE_VBE,
} VgaModeKind;

/* What a VGA-compatible chip with extensions (the Cirrus 5446) adds to the core: its
 * own decoding of the register ports, layouts for its extended modes, and what it draws
 * over a rendered line. Every hook is optional; all run with the engine lock held. */
typedef struct VgaHooks {
    /* Ports 0x3B0-0x3DF before the VGA's own decoding: true when the hook served the
     * access (*value set for a read), false to let the VGA handle it. */
    bool (*port_read)(VgaState *s, uint16_t port, uint8_t *value);
    bool (*port_write)(VgaState *s, uint16_t port, uint8_t value);
    /* Builds the layout of an extended mode (kind VGA_MODE_VBE, the linear renderer);
     * false when the registers select no extended mode and the VGA's layout applies. */
    bool (*layout)(VgaState *s);
    /* Before a refresh renders: may ask for a full redraw (a cursor that moved). */
    void (*pre_render)(VgaState *s);
    /* Draws over line y of a linear mode just rendered (the hardware cursor). */
    void (*overlay_line)(VgaState *s, int y, uint32_t *line, int width);
    /* describe_mode's text for an extended layout, or NULL for the VGA's. */
    char *(*describe)(VgaState *s);
} VgaHooks;

/* One displayed line: the CRTC's address counter at its start and its row scan. */
typedef struct VgaLine {
    uint16_t addr;
    uint8_t row_scan;
    bool after_split;  /* below the line compare split (panning may reset) */
    uint16_t text_row; /* text: which character row the line belongs to */
} VgaLine;

/* What the current register values make of the screen; rebuilt when registers change. */
typedef struct VgaLayout {
    VgaModeKind kind;
    int width, height;      /* the surface, in logical pixels */
    int chars;              /* character clocks per line */
    int char_width;         /* 8 or 9 (text) */
    int cell_height;        /* text: scan lines per character row */
    unsigned text_rows;     /* text: character rows on screen */
    VgaLine *lines;         /* height entries (logical lines) */
    /* VBE */
    unsigned vbe_bpp;
    uint32_t vbe_start;      /* byte offset of the first visible pixel */
    uint32_t vbe_line_bytes;
    uint32_t vbe_split;      /* lines after this one start again at offset 0 (the line
                              * compare of a Cirrus mode); UINT32_MAX: no split */
} VgaLayout;

struct VgaState {
    Device dev;
    Vm *vm;
    const VgaHooks *hooks;   /* NULL: a plain VGA */
    PciBus *bus;             /* wiring vga_pci_new sets before realize */
    int devfn;
    uint8_t *vram;
    size_t vram_size;
    MemRegion *lfb;          /* BAR 0, dirty-logged */
    PciDevice *pci;
    DisplayConsole *con;
    uint8_t *rom;            /* the option ROM image until realize copies it into the BAR */
    size_t rom_size;

    /* General registers */
    uint8_t misc;            /* 3C2 write / 3CC read */
    uint8_t feature;         /* 3DA/3BA write, 3CA read */
    uint8_t vga_enable;      /* 3C3 */
    /* Sequencer, graphics controller, attribute controller, CRT controller */
    uint8_t sr_index, sr[8];
    uint8_t gr_index, gr[16];
    uint8_t ar_index, ar[32];
    bool ar_flipflop;        /* false: the next 3C0 write is an index */
    uint8_t cr_index, cr[64];
    uint8_t latch[4];
    /* DAC */
    uint8_t dac[256][3];
    uint8_t dac_mask;
    uint8_t dac_read_index, dac_write_index, dac_component;
    uint8_t dac_state;       /* 3C7 read: 0 after a write index, 3 after a read index */
    uint8_t dac_latch[3];

    /* Bochs VBE */
    uint16_t vbe_index;
    uint16_t vbe_regs[VBE_NUM_REGS];

    /* The PCI function's configuration space (BARs, command), copied at save. */
    uint8_t pci_config[256];

    /* Rendering */
    uint64_t dirty[VGA_DIRTY_WORDS]; /* VRAM pages written since the last render */
    bool layout_stale;       /* a register that shapes the picture changed */
    bool palette_stale;      /* the DAC, pixel mask or attribute palette changed */
    bool font_written;       /* plane 2 changed: text glyphs may differ */
    bool memory_written;     /* any VRAM write since the last render */
    bool full_redraw;
    VgaLayout layout;
    uint32_t palette[256];   /* DAC entries as host pixels (pixel mask applied) */
    uint32_t pal16[16];      /* 4-bit pixel values through the attribute controller */
    uint32_t linebuf[(256 + 2) * 9]; /* one line before panning */
    int last_blink_phase;    /* text: cursor and attribute blink state drawn last */
    /* Text: cells drawn last, per text row (row_count * chars entries). */
    uint32_t *text_cache;
    size_t text_cache_len;
};

/* ---- vga-core.c ---- */
/* Video memory of vram_size bytes, the line table, then the power-on state; every
 * VGA-compatible adapter's realize calls it, its unrealize vga_core_destroy. */
void vga_core_init(VgaState *s, Vm *vm, size_t vram_size);
void vga_core_destroy(VgaState *s);
void vga_core_reset(VgaState *s);
uint32_t vga_port_read(VgaState *s, uint16_t port);
void vga_port_write(VgaState *s, uint16_t port, uint8_t value);
uint8_t vga_mem_read(VgaState *s, uint32_t offset);
void vga_mem_write(VgaState *s, uint32_t offset, uint8_t value);
void vga_mark_dirty(VgaState *s, size_t vram_offset, size_t len);
/* Nanoseconds per frame and per scan line from the CRTC timing. */
void vga_frame_timing(const VgaState *s, int64_t *frame_ns, int64_t *line_ns);
/* The plane offset the CRTC reads for address counter c on a line with row scan rs. */
uint32_t vga_crtc_address(const VgaState *s, uint32_t c, unsigned rs);
/* The CRTC's vertical display end, line compare, start address, row offset. */
unsigned vga_vdisplay_lines(const VgaState *s);
unsigned vga_line_compare(const VgaState *s);
uint16_t vga_start_address(const VgaState *s);
unsigned vga_row_offset(const VgaState *s);
/* vbe */
bool vga_vbe_enabled(const VgaState *s);
/* Bochs VBE register i (the index port's value, or the MMIO window's offset / 2). */
uint16_t vga_vbe_read(VgaState *s, unsigned i);
void vga_vbe_write(VgaState *s, unsigned i, uint16_t value);

/* ---- vga-text.c ---- */
void vga_text_render(VgaState *s, DisplaySurface *surf, bool full);
bool vga_text_snapshot(VgaState *s, DisplayText *text);
int vga_text_blink_phase(const VgaState *s);

/* ---- vga-gfx.c ---- */
void vga_layout_build(VgaState *s);
void vga_gfx_render(VgaState *s, DisplaySurface *surf, bool full);
void vga_palette_update(VgaState *s);
/* Where line y of a linear (VBE or extended) mode starts in video memory. */
uint64_t vga_linear_line_offset(const VgaLayout *l, int y);
/* Whether any VRAM page in [offset, offset + len) was written since the last render. */
bool vga_range_dirty(const VgaState *s, size_t offset, size_t len);

/* ---- vga-pci.c ---- */
/* Rebuilds the layout if registers changed since (lock held). */
void vga_ensure_layout(VgaState *s);
/* The display console's operations, shared by every adapter built on this core
 * (opaque: the VgaState). The refresh harvests the dirty log of s->lfb. */
extern const DisplayDeviceOps vga_display_ops;
/* The validation vga_check does of the core's registers (indices, masks, DAC state),
 * without the VBE and PCI parts; for adapters with a state description of their own. */
bool vga_core_state_check(const VgaState *s, unsigned sr_index_max, unsigned gr_index_max, GError **err);
/* The std-vga's pieces for an adapter that has one inside (virtio-vga): the legacy
 * ports 3B0h-3DFh and 1CEh-1D0h and the window A0000h-BFFFFh (after vga_core_init);
 * the MMIO registers of the std-vga's BAR 2 (VGA ports at 0x400, VBE at 0x500, QEMU's
 * extended registers at 0x600; opaque: the VgaState); the registers and 16 MiB of
 * video memory as a nested description with its check (core and VBE, no PCI) and its
 * post_load (layout, palette and every page redrawn). */
void vga_legacy_init(VgaState *s);
extern const MemOps vga_mmio_ops;
extern const VmStateDesc vga_std_vmsd;
bool vga_std_state_check(const VgaState *s, GError **err);
void vga_std_post_load(VgaState *s);
