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
    Device dev;
    PciBus *bus;         /* wiring, set by i440fx_new */
    PciDevice pci;       /* function 00.0 */
    uint32_t config_address; /* the bus's 0xCF8, copied in pre_save / out in post_load */
};

/* Segment of a PAM field: PAM0 high nibble is the 64 KiB BIOS area; each other register
 * holds two 16 KiB segments (datasheet 3.2.18). */
static void pam_apply(I440fxState *s)
{
    GuestMemory *m = vm_mem(s->dev.vm);
    const uint8_t *c = s->pci.config;
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

/* D_LCK makes D_OPEN and itself read-only until reset (datasheet 3.2.21). */
static void smram_lock_apply(PciDevice *d)
{
    if (d->config[I440FX_SMRAM] & SMRAM_D_LCK) {
        d->wmask[I440FX_SMRAM] &= ~(SMRAM_D_OPEN | SMRAM_D_LCK);
        d->config[I440FX_SMRAM] &= ~SMRAM_D_OPEN;
    } else {
        d->wmask[I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
    }
}

static void i440fx_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    I440fxState *s = d->opaque;
    if (addr + size > I440FX_PAM0 && addr < I440FX_SMRAM + 1) {
        smram_lock_apply(d);
        pam_apply(s);
    }
}

static void i440fx_reset(Device *dev)
{
    I440fxState *s = (I440fxState *)dev;
    pci_device_reset(&s->pci);
    uint8_t *c = s->pci.config;
    for (int r = 0; r < I440FX_PAM_COUNT; r++)
        c[I440FX_PAM0 + r] = 0;
    c[I440FX_SMRAM] = 0x02; /* C_BASE_SEG is hardwired to 010b */
    smram_lock_apply(&s->pci);
    pam_apply(s);
}

static bool i440fx_realize(Device *dev, GError **err)
{
    I440fxState *s = (I440fxState *)dev;
    PciDevice *d = &s->pci;
    g_assert(s->bus);
    pci_device_init(d, s->bus, PCI_DEVFN(0, 0), "i440fx", 0x8086, 0x1237, 0x060000, 0x02);
    d->opaque = s;
    d->config_write = i440fx_config_write;
    /* SeaBIOS recognises the QEMU-compatible board by this subsystem ID. */
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    d->wmask[I440FX_PAM0] = 0x30;
    for (int r = 1; r < I440FX_PAM_COUNT; r++)
        d->wmask[I440FX_PAM0 + r] = 0x33;
    /* DRAM row boundaries, DRAM control and timing: plain storage for the BIOS. */
    for (int a = 0x50; a <= 0x58; a++)
        d->wmask[a] = 0xff;
    for (int a = 0x60; a <= 0x67; a++)
        d->wmask[a] = 0xff;
    /* PAM reserved bits and C_BASE_SEG are fixed. */
    for (int r = 0; r < I440FX_PAM_COUNT; r++)
        d->cmask[I440FX_PAM0 + r] = (uint8_t)~d->wmask[I440FX_PAM0 + r];
    d->cmask[I440FX_SMRAM] = 0x07;
    pci_bus_register_host_ports(s->bus);
    return true;
}

static void i440fx_pre_save(void *state)
{
    I440fxState *s = state;
    s->config_address = pci_bus_get_config_address(s->bus);
}

static bool i440fx_check(const void *state, GError **err)
{
    const I440fxState *s = state;
    if (s->config_address & ~PCI_CONFIG_ADDRESS_MASK) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "CONFIG_ADDRESS 0x%08x sets reserved bits", s->config_address);
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

/* The PAM and SMRAM windows are memory map state, not saved: rebuilt from the
 * registers, as is the D_LCK write protection. */
static void i440fx_post_load(void *state)
{
    I440fxState *s = state;
    pci_bus_set_config_address(s->bus, s->config_address);
    smram_lock_apply(&s->pci);
    pci_device_post_load(&s->pci);
    pam_apply(s);
}

static const VmStateField i440fx_fields[] = {
    VMSTATE_STRUCT(I440fxState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U32(I440fxState, config_address),
    VMSTATE_END,
};

static const VmStateDesc i440fx_vmsd = {
    .name = "i440fx",
    .version = 1,
    .fields = i440fx_fields,
    .pre_save = i440fx_pre_save,
    .check = i440fx_check,
    .post_load = i440fx_post_load,
};

static const DeviceClass i440fx_class = {
    .name = "i440FX-pcihost",
    .description = "i440FX host bridge: PCI configuration mechanism #1, PAM shadow RAM, SMRAM",
    .instance_size = sizeof(I440fxState),
    .vmsd = &i440fx_vmsd,
    .realize = i440fx_realize,
    .reset = i440fx_reset,
};

__attribute__((constructor)) static void i440fx_register(void)
{
    device_class_register(&i440fx_class);
}

I440fxState *i440fx_new(Vm *vm, PciBus *bus)
{
    I440fxState *s = (I440fxState *)device_new(vm, i440fx_class.name, "i440fx", NULL);
    g_assert(s);
    s->bus = bus;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
