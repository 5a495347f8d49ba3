/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The National Semiconductor DP8390 network interface controller as NE2000-compatible
 * boards wrap it (ne2k_isa, ne2k_pci): the 16 registers per page at offsets 0-15, the
 * remote DMA data port at 0x10, the reset port at 0x1F, 32 KiB of packet memory at
 * 0x4000 and the station address PROM at 0. A board embeds a Dp8390, wires its
 * interrupt and back end, and forwards its 32 ports here. */
#pragma once

#include "engine/device.h"
#include "engine/net/net.h"

#define DP8390_IO_SIZE 32
#define DP8390_RAM_START 0x4000
#define DP8390_RAM_SIZE 0x8000

typedef struct Dp8390 {
    /* Wiring, set by the board before dp8390_init. */
    NetClient *nc;
    void (*set_irq)(void *opaque, int level);
    void *irq_opaque;
    bool rtl8029;       /* the RTL8029's ID in page 0 registers 0x0A/0x0B */
    const char *name;   /* for messages */

    /* Guest-visible state. */
    uint8_t mac[6];
    uint8_t cmd, pstart, pstop, bnry, tpsr, isr, rcr, tcr, dcr, imr, rsr, tsr, curr;
    uint8_t cntr[3];
    uint16_t tbcr, rsar, rbcr;
    uint8_t par[6], mar[8];
    uint8_t prom[32];
    uint8_t ram[DP8390_RAM_SIZE];
} Dp8390;

/* Builds the PROM from mac and attaches the back end; err if the netdev is taken. */
bool dp8390_init(Dp8390 *s, const char *nic_id, GError **err);
void dp8390_fini(Dp8390 *s);
/* Power-on and hardware reset state. */
void dp8390_reset(Dp8390 *s);
/* The board's 32 ports (offset 0-31), 1, 2 or 4 bytes wide. Lock held. */
uint32_t dp8390_io_read(Dp8390 *s, uint32_t off, unsigned size);
void dp8390_io_write(Dp8390 *s, uint32_t off, uint32_t value, unsigned size);

/* For the board's own description (VMSTATE_STRUCT) and its check and post_load. */
extern const VmStateDesc dp8390_vmsd;
bool dp8390_state_check(const Dp8390 *loaded, GError **err);
void dp8390_post_load(Dp8390 *s);
