/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 82441FX PMC (i440FX datasheet, 290549): the PAM registers choose per segment of
 * 0xC0000-0xFFFFF whether reads and writes reach DRAM or the PCI bus (where the BIOS ROM
 * answers), and SMRAM's D_OPEN exposes the RAM under the VGA window. */
#include "hw/pci/i440fx.h"

#define I440FX_PAM0 0x59
#define I440FX_PAM_COUNT 7
#define I440FX_SMRAM 0x72

enum { SMRAM_D_OPEN = 1u << 6, SMRAM_D_CLS = 1u << 5, SMRAM_D_LCK = 1u << 4, SMRAM_G_SMRAME = 1u << 3 };

struct I440fxState {
    Vm *vm;
    PciDevice *dev;
};

/* Segment of a PAM field: PAM0 high nibble is the 64 KiB BIOS area; each other register
 * holds two 16 KiB segments (datasheet 3.2.18). */
static void pam_apply(I440fxState *s)
{
    GuestMemory *m = vm_mem(s->vm);
    const uint8_t *c = s->dev->config;
    unsigned f = (c[I440FX_PAM0] >> 4) & 3;
    mem_set_ram_window(m, 0xf0000, 0x10000, f & 1, f & 2);
    for (int r = 1; r < I440FX_PAM_COUNT; r++) {
        for (int half = 0; half < 2; half++) {
            unsigned bits = (c[I440FX_PAM0 + r] >> (4 * half)) & 3;
            hwaddr base = 0xc0000 + (hwaddr)((r - 1) * 2 + half) * 0x4000;
            mem_set_ram_window(m, base, 0x4000, bits & 1, bits & 2);
        }
    }
    /* Without SMM, only D_OPEN matters: it shows the RAM behind the VGA window. */
    bool open = c[I440FX_SMRAM] & SMRAM_D_OPEN;
    mem_set_ram_window(m, 0xa0000, 0x20000, open, open);
}

static void i440fx_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    I440fxState *s = d->opaque;
    if (addr + size > I440FX_PAM0 && addr < I440FX_SMRAM + 1) {
        /* D_LCK makes D_OPEN read-only until reset (datasheet 3.2.21). */
        if (d->config[I440FX_SMRAM] & SMRAM_D_LCK) {
            d->wmask[I440FX_SMRAM] &= ~(SMRAM_D_OPEN | SMRAM_D_LCK);
            d->config[I440FX_SMRAM] &= ~SMRAM_D_OPEN;
        }
        pam_apply(s);
    }
}

static void i440fx_reset(void *opaque)
{
    I440fxState *s = opaque;
    uint8_t *c = s->dev->config;
    for (int r = 0; r < I440FX_PAM_COUNT; r++)
        c[I440FX_PAM0 + r] = 0;
    c[I440FX_SMRAM] = 0x02; /* C_BASE_SEG is hardwired to 010b */
    s->dev->wmask[I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
    pam_apply(s);
}

I440fxState *i440fx_new(Vm *vm, PciBus *bus)
{
    I440fxState *s = g_new0(I440fxState, 1);
    s->vm = vm;
    s->dev = pci_device_new(bus, PCI_DEVFN(0, 0), "i440fx", 0x8086, 0x1237, 0x060000, 0x02);
    s->dev->opaque = s;
    s->dev->config_write = i440fx_config_write;
    /* SeaBIOS recognises the QEMU-compatible board by this subsystem ID. */
    pci_device_set_subsystem(s->dev, 0x1af4, 0x1100);
    s->dev->wmask[I440FX_PAM0] = 0x30;
    for (int r = 1; r < I440FX_PAM_COUNT; r++)
        s->dev->wmask[I440FX_PAM0 + r] = 0x33;
    /* DRAM row boundaries, DRAM control and timing: plain storage for the BIOS. */
    for (int a = 0x50; a <= 0x58; a++)
        s->dev->wmask[a] = 0xff;
    for (int a = 0x60; a <= 0x67; a++)
        s->dev->wmask[a] = 0xff;
    pci_bus_register_host_ports(bus);
    vm_add_reset_handler(vm, i440fx_reset, s);
    vm_add_cleanup(vm, g_free, s);
    i440fx_reset(s);
    return s;
}
