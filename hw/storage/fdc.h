/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 82078 floppy disk controller in PC-AT mode (ports base..base+5 and base+7,
 * usually 0x3F0, IRQ 6, DMA channel 2) with up to two drives. */
#pragma once

#include "disks/block.h"
#include "engine/machine.h"
#include "hw/dma/i8237.h"

#define FDC_MAX_DRIVES 2

typedef struct FdcState FdcState;

FdcState *fdc_new(Vm *vm, uint16_t base, const IrqLine *irq, IsaDma *dma, unsigned dma_channel);

/* Connects drive unit (0 = A:, 1 = B:) holding img (NULL: an empty drive). The drive's
 * type follows the first medium (a 5.25" 1.2M drive for 160K-1.2M images, a 3.5" 2.88M
 * drive for 2.88M images, a 3.5" 1.44M drive otherwise). The controller owns img from
 * then on. False with err when the image size is not a floppy. Lock held. */
bool fdc_attach_drive(FdcState *s, unsigned unit, BlockImage *img, bool readonly, GError **err);

/* Changes the medium: img NULL ejects. Either raises the drive's disk-change line
 * (DIR bit 7) until the guest steps the head with a disk present. Lock held. */
bool fdc_change_medium(FdcState *s, unsigned unit, BlockImage *img, bool readonly, GError **err);

/* The CMOS drive type of a unit (register 0x10 nibble: 1 360K, 2 1.2M, 3 720K, 4 1.44M,
 * 5 2.88M), 0 when the drive is absent. */
uint8_t fdc_cmos_type(FdcState *s, unsigned unit);

/* Describes the geometry of a floppy image of this many bytes ("1.44M: 80x2x18"), or
 * NULL when no floppy format holds it. */
const char *fdc_format_name(uint64_t size);
