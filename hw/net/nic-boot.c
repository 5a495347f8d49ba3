/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Boot ROMs and boot indexes of the PCI network cards (see nic-boot.h). */
#include "hw/net/nic-boot.h"
#include "engine/config.h"
#include "engine/vm.h"
#include "vireo-config.h"

#include <stdlib.h>
#include <string.h>

static bool order_has_net(const VmConfig *cfg)
{
    return (cfg->boot_order && strchr(cfg->boot_order, 'n')) || (cfg->boot_once && strchr(cfg->boot_once, 'n'));
}

bool nic_boot_prepare(NicBoot *b, Vm *vm, const char *default_rom, GError **err)
{
    b->rom = NULL;
    b->indexed = false;
    if (b->bootindex && *b->bootindex) {
        char *end;
        unsigned long v = strtoul(b->bootindex, &end, 10);
        if (*end || *b->bootindex == '-' || v > 0xffffu) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "bootindex=%s: expected a number from 0 to 65535",
                        b->bootindex);
            return false;
        }
        b->indexed = true;
        b->index = (uint32_t)v;
    }
    g_autofree char *path = NULL;
    if (b->romfile)
        path = strcmp(b->romfile, "none") ? g_strdup(b->romfile) : NULL;
    else if (b->indexed || order_has_net(vm_config(vm)))
        path = g_build_filename(IPXE_DIR, default_rom, NULL);
    if (!path)
        return true;
    char *data = NULL;
    gsize len = 0;
    if (!pci_rom_load(path, "romfile",
                      b->romfile ? "give romfile= an option ROM image, or romfile=none"
                                 : "install the Debian package 'ipxe-qemu', or give romfile=",
                      &data, &len, err))
        return false;
    b->rom = g_bytes_new_take(data, len);
    return true;
}

/* One image serves several IDs (ipxe-qemu's pxe-virtio.rom says 1af4:1041, the modern
 * virtio-net, and SeaBIOS runs a ROM only when its PCI data structure names the
 * device: PCI Firmware Specification 3.0, 5.1.2). Like QEMU, the device ID is patched
 * to the card's and the byte at offset 6, which iPXE keeps as its checksum byte, makes
 * the image's bytes sum to zero again. Only an image of the card's vendor is touched. */
static void patch_ids(uint8_t *rom, size_t len, const PciDevice *d)
{
    size_t pcir = (size_t)rom[0x18] | (size_t)rom[0x19] << 8;
    size_t ilen = (size_t)rom[2] * 512;
    if (pcir + 8 > len || memcmp(rom + pcir, "PCIR", 4) || ilen > len || ilen < pcir + 8)
        return;
    uint16_t vendor = (uint16_t)(d->config[0] | d->config[1] << 8);
    uint16_t device = (uint16_t)(d->config[2] | d->config[3] << 8);
    uint16_t rom_vendor = (uint16_t)(rom[pcir + 4] | rom[pcir + 5] << 8);
    uint16_t rom_device = (uint16_t)(rom[pcir + 6] | rom[pcir + 7] << 8);
    if (rom_vendor != vendor || rom_device == device)
        return;
    rom[pcir + 6] = (uint8_t)device;
    rom[pcir + 7] = (uint8_t)(device >> 8);
    uint8_t sum = 0;
    for (size_t i = 0; i < ilen; i++)
        sum = (uint8_t)(sum + rom[i]);
    rom[6] = (uint8_t)(rom[6] - sum);
}

void nic_boot_install(NicBoot *b, PciDevice *d)
{
    d->boot_indexed = b->indexed;
    d->boot_index = b->index;
    if (b->rom) {
        gsize len;
        uint8_t *rom = g_bytes_unref_to_data(g_steal_pointer(&b->rom), &len);
        patch_ids(rom, len, d);
        pci_register_rom(d, rom, len);
        g_free(rom);
    }
}

void nic_boot_discard(NicBoot *b)
{
    g_clear_pointer(&b->rom, g_bytes_unref);
}
