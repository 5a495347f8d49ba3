/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network boot for the PCI cards: the iPXE option ROM a card carries in its expansion
 * ROM BAR (QEMU's romfile= property; the images come from Debian's ipxe-qemu package)
 * and its place in the firmware's boot order (bootindex=). SeaBIOS runs the ROM at
 * POST; iPXE registers a boot entry vector (BEV) that the board's bootorder file
 * names for -boot n (machines/pc.c).
 *
 * A card loads its ROM when romfile= names one, or by default (IPXE_DIR/pxe-CARD.rom)
 * when the VM's boot order has n or the card has a bootindex=; romfile=none means no
 * ROM (QEMU's empty romfile=, which device properties do not take). Without network boot no ROM is loaded, so iPXE's banner and
 * its POST time stay out of ordinary boots. */
#pragma once

#include "engine/device.h"
#include "hw/pci/pci.h"

typedef struct NicBoot {
    char *romfile;   /* properties */
    char *bootindex;
    /* Between nic_boot_prepare and nic_boot_install. */
    GBytes *rom;
    bool indexed;
    uint32_t index;
} NicBoot;

#define NIC_BOOT_PROPS(State, member)                                                          \
    { "romfile", DEVICE_PROP_STRING, offsetof(State, member.romfile),                          \
      "option ROM for network boot (default: iPXE's when the boot order has n; none: no ROM)", NULL, 0, 0 }, \
    { "bootindex", DEVICE_PROP_STRING, offsetof(State, member.bootindex),                      \
      "place in the firmware's boot order (0 first); loads the boot ROM", NULL, 0, 0 }

/* Reads and checks the ROM the card needs (default_rom: its file name under the
 * ipxe-qemu folder) before the card claims anything; a missing or bad file is an error. */
bool nic_boot_prepare(NicBoot *b, Vm *vm, const char *default_rom, GError **err);
/* Puts the prepared ROM in d's expansion ROM BAR and records its boot index. */
void nic_boot_install(NicBoot *b, PciDevice *d);
/* Drops a prepared ROM when the card's realize fails after nic_boot_prepare. */
void nic_boot_discard(NicBoot *b);
