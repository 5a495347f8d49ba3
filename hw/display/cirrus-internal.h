/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Cirrus Logic CL-GD5446 shared by its two files: cirrus-vga.c (extended registers,
 * banking, the linear framebuffer, the MMIO BAR, modes, the hardware cursor, the PCI
 * device) and cirrus-blit.c (the BitBLT engine). Register names and bits follow the
 * CL-GD5446 Technical Reference Manual's extension registers (SRxx, GRxx, CRxx) and its
 * BitBLT registers (GR20-GR3F and their memory-mapped copies). */
#pragma once

#include "hw/display/vga-internal.h"
#include "hw/pci/pci.h"

#define CIRRUS_VRAM_SIZE (4u << 20)
#define CIRRUS_VRAM_MASK (CIRRUS_VRAM_SIZE - 1)
/* BAR 0: the linear framebuffer in the first 16 MiB (video memory in the first 4),
 * the system-to-screen BitBLT aperture at 16 MiB, as QEMU lays it out. */
#define CIRRUS_BAR0_SIZE (32u << 20)
#define CIRRUS_BLT_APERTURE 0x1000000u
#define CIRRUS_BAR1_SIZE 0x1000u
/* The hardware cursor's patterns live in the last 16 KiB of video memory. */
#define CIRRUS_CURSOR_AREA (CIRRUS_VRAM_SIZE - 0x4000u)
/* System-to-screen source: one line of the widest blit (8 KiB) plus a dword of slack. */
#define CIRRUS_BLT_BUF 8196u

/* GR30, BLT mode. */
enum {
    BLT_BACKWARDS = 0x01,
    BLT_MEMSYS_DEST = 0x02,
    BLT_MEMSYS_SRC = 0x04,
    BLT_TRANSPARENT = 0x08,
    BLT_PIXEL_WIDTH = 0x30,
    BLT_PATTERN = 0x40,
    BLT_COLOR_EXPAND = 0x80,
};
/* GR31, BLT start/status. */
enum {
    BLT_STATUS_BUSY = 0x01,
    BLT_STATUS_START = 0x02,
    BLT_STATUS_RESET = 0x04,
    BLT_STATUS_PROGRESS = 0x08,
    BLT_STATUS_AUTOSTART = 0x80,
};
/* GR33, BLT mode extensions. */
enum {
    BLTX_DWORD_SOURCE = 0x01,
    BLTX_EXPAND_INVERT = 0x02,
    BLTX_SOLID_FILL = 0x04,
};

/* The blit a start latched from the registers, kept while a system-to-screen blit waits
 * for its source data (and saved with the device then). */
typedef struct CirrusBlit {
    uint8_t mode, modeext, rop;
    uint8_t skip;          /* GR2F bits: pixels (bytes at 24 bpp) skipped at the left */
    uint32_t width;        /* bytes per line, 1..8192 */
    uint32_t height;       /* lines, 1..8192 */
    uint32_t dst_pitch, src_pitch;
    uint32_t dst, src;     /* video memory offsets (22 bits) */
    uint32_t fg, bg;       /* colours, little-endian bytes */
    uint32_t pw;           /* bytes per pixel, 1-4 */
    /* System-to-screen: the line (or pattern) being received. */
    uint32_t line;         /* next destination line */
    uint32_t src_line_bytes;
    uint32_t src_fill;     /* bytes of the current line received */
} CirrusBlit;

typedef struct CirrusState {
    VgaState vga;          /* first: the VGA core and the device header */
    char *addr;            /* property */
    char *romfile;         /* property */
    bool blitter;          /* property */
    PciDevice pci;
    MemRegion *window;     /* 0xA0000-0xBFFFF */
    MemRegion *vram_overlay; /* video memory mapped straight over BAR 0's first 4 MiB */

    uint8_t sr[0x20];      /* SR05-SR1F (SR00-SR04 are the VGA's) */
    uint8_t gr[0x40];      /* GR09-GR3F (GR00-GR08 are the VGA's) */
    uint8_t shadow_gr0, shadow_gr1; /* GR00/GR01 as written: the 8 bits blits use */
    uint8_t hidden_dac;    /* the Hidden DAC register (bit 7..4 colour mode, 3..0 format) */
    uint8_t hidden_dac_reads; /* consecutive reads of 0x3C6 (the fifth reaches the HDR) */
    uint8_t hidden_pal[16][3]; /* cursor colours: entries 0 and 15 */
    uint16_t cursor_x, cursor_y; /* SR10/SR11 with the index's bits 7:5 as low bits */

    bool blt_feeding;      /* a system-to-screen blit waits for data */
    CirrusBlit blt;
    uint8_t blt_buf[CIRRUS_BLT_BUF];

    /* The cursor drawn last (to redraw the lines it left). */
    int drawn_cursor_size, drawn_cursor_x, drawn_cursor_y;
} CirrusState;

/* ---- cirrus-vga.c ---- */
/* Re-decides whether BAR 0's first 4 MiB can be plain memory (after anything that
 * changes how the framebuffer decodes: SR17, GR05, GR0B, a blit's data phase, BARs). */
void cirrus_update_memory_map(CirrusState *c);
/* The blit engine's registers by their memory-mapped offset (0x00-0x40). */
uint8_t cirrus_blt_reg_read(CirrusState *c, unsigned off);
void cirrus_blt_reg_write(CirrusState *c, unsigned off, uint8_t v);

/* ---- cirrus-blit.c ---- */
/* GR31 written: start on 0->1 of bit 1, reset on 1->0 of bit 2. */
void cirrus_blt_status_write(CirrusState *c, uint8_t v);
/* GR2A written while auto-start is on. */
void cirrus_blt_start(CirrusState *c);
/* Ends any blit: the engine idle, GR31's busy, start and progress bits clear. */
void cirrus_blt_reset(CirrusState *c);
/* One byte of source data from the CPU for a system-to-screen blit. */
void cirrus_blt_feed(CirrusState *c, uint8_t v);
/* The state of a loaded blit in progress is consistent (sizes within the buffer). */
bool cirrus_blt_state_check(const CirrusState *c, GError **err);
