/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IDE: an ATA channel with up to two devices (hard disks or ATAPI CD-ROMs) behind the
 * legacy command/control register blocks, the PIIX3 IDE PCI function (82371SB
 * function 1) with its two channels and bus-master DMA, and the ISA interface. */
#pragma once

#include "engine/config.h"
#include "engine/machine.h"
#include "hw/pci/pci.h"

typedef struct BlockImage BlockImage;
typedef struct IdeChannel IdeChannel;
typedef struct PiixIdeState PiixIdeState;
typedef struct IsaIdeState IsaIdeState;

/* One channel: registers at cmd_base (8 ports) and ctl_base (device control/alternate
 * status, 1 port), interrupt on irq. The channel is freed with the VM. */
IdeChannel *ide_channel_new(Vm *vm, uint16_t cmd_base, uint16_t ctl_base, const IrqLine *irq);

/* Attaches an image as unit 0 (master) or 1 (slave). A CD-ROM may have img NULL (no
 * medium). The channel takes the image and closes it with the VM. */
bool ide_channel_attach(IdeChannel *ch, int unit, BlockImage *img, bool cdrom, GError **err);

/* A disk's default geometry (IDENTIFY words 1, 3, 6); false if the unit is no disk. */
bool ide_disk_geometry(IdeChannel *ch, int unit, uint16_t *cyls, uint16_t *heads, uint16_t *secs);

/* Whether the unit is an ATAPI CD-ROM drive (with or without a medium). */
bool ide_unit_is_cdrom(IdeChannel *ch, int unit);

/* Replaces a CD-ROM's medium (img NULL: empty tray); the guest sees a unit attention. */
bool ide_cdrom_change(IdeChannel *ch, int unit, BlockImage *img, GError **err);

/* The PIIX3 IDE function at devfn, legacy channels 0x1F0/0x3F6 on ISA IRQ 14 and
 * 0x170/0x376 on IRQ 15. Opens every IDE drive of cfg (with a temporary overlay when
 * cfg->snapshot or the drive's snapshot is set); an image error fails with its reason. */
PiixIdeState *piix_ide_new(Vm *vm, PciBus *bus, int devfn, const IrqLine *isa_irq,
                           const VmConfig *cfg, GError **err);
/* Channel 0 (primary) or 1 (secondary). */
IdeChannel *piix_ide_channel(PiixIdeState *s, int n);

/* The ISA IDE interface of a board without PCI: channel 0 at 0x1F0/0x3F6 on ISA IRQ 14,
 * channel 1 at 0x170/0x376 on IRQ 15, PIO only. Opens the IDE drives of cfg as
 * piix_ide_new does. */
IsaIdeState *isa_ide_new(Vm *vm, const IrqLine *isa_irq, const VmConfig *cfg, GError **err);
IdeChannel *isa_ide_channel(IsaIdeState *s, int n);
