/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PC's display adapters. QEMU's "std-vga", a PCI device (1234:1111) that is a full
 * VGA (ports 0x3B0-0x3DF, memory 0xA0000-0xBFFFF) plus the Bochs VBE extension (ports
 * 0x1CE/0x1CF) with a 16 MiB linear framebuffer (BAR 0) and an MMIO register window
 * (BAR 2). Its option ROM is SeaBIOS's vgabios-stdvga.bin. */
#pragma once

#include "engine/machine.h"
#include "hw/pci/pci.h"

typedef struct VgaState VgaState;

/* rom_path: the VGA BIOS image for the ROM BAR, or NULL for none (unit tests). */
VgaState *vga_pci_new(Vm *vm, PciBus *bus, int devfn, const char *rom_path, GError **err);
/* The ISA VGA of a board without PCI: ports 3B0h-3DFh, 1CEh-1D0h, memory A0000h-BFFFFh. */
VgaState *vga_isa_new(Vm *vm, GError **err);

/* The Cirrus CL-GD5446 (cirrus-vga) with id "vga" at addr ("SLOT[.FN]", NULL: the first
 * free slot) on the VM's PCI bus, its VGA BIOS SeaBIOS's vgabios-cirrus.bin. */
bool cirrus_vga_new(Vm *vm, const char *addr, GError **err);
/* virtio-vga (QEMU's -vga virtio) with id "vga" at addr (as cirrus_vga_new): the
 * virtio GPU behind a std-vga, its VGA BIOS SeaBIOS's vgabios-virtio.bin. */
bool virtio_vga_new(Vm *vm, const char *addr, GError **err);
