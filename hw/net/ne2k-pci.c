/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Realtek RTL8029(AS), a PCI NE2000 (10ec:8029, QEMU's "ne2k_pci"): the DP8390
 * core (dp8390.c) behind I/O BAR 0, 32 ports, and INTA. */
#include "hw/net/dp8390.h"
#include "hw/net/nic-boot.h"
#include "hw/pci/pci.h"

typedef struct Ne2kPciState {
    Device dev;
    char *addr;     /* property */
    char *mac_prop; /* property */
    NetClient *nc;  /* property */
    NicBoot boot;   /* properties */
    PciDevice pci;
    Dp8390 core;
} Ne2kPciState;

static void ne2k_pci_set_irq(void *opaque, int level)
{
    Ne2kPciState *s = opaque;
    pci_set_irq(&s->pci, level);
}

static uint32_t ne2k_pci_read(void *opaque, uint32_t off, unsigned size)
{
    Ne2kPciState *s = opaque;
    return dp8390_io_read(&s->core, off, size);
}

static void ne2k_pci_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Ne2kPciState *s = opaque;
    dp8390_io_write(&s->core, off, value, size);
}

static const PortOps ne2k_pci_ops = {
    .read = ne2k_pci_read,
    .write = ne2k_pci_write,
    .min_size = 1,
    .max_size = 4,
};

static bool ne2k_pci_realize(Device *dev, GError **err)
{
    Ne2kPciState *s = (Ne2kPciState *)dev;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err) || !net_nic_mac(s->mac_prop, s->core.mac, err) ||
        !nic_boot_prepare(&s->boot, dev->vm, "pxe-ne2k_pci.rom", err))
        return false;
    s->core.nc = s->nc;
    s->core.set_irq = ne2k_pci_set_irq;
    s->core.irq_opaque = s;
    s->core.rtl8029 = true;
    s->core.name = "ne2k_pci";
    if (!dp8390_init(&s->core, dev->id, err)) {
        nic_boot_discard(&s->boot);
        return false;
    }
    pci_device_init(&s->pci, bus, devfn, "ne2k_pci", 0x10ec, 0x8029, 0x020000, 0x00);
    s->pci.opaque = s;
    pci_device_set_subsystem(&s->pci, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(&s->pci, 1);
    pci_register_bar_io(&s->pci, 0, DP8390_IO_SIZE, &ne2k_pci_ops, s);
    nic_boot_install(&s->boot, &s->pci);
    return true;
}

static void ne2k_pci_reset(Device *dev)
{
    Ne2kPciState *s = (Ne2kPciState *)dev;
    pci_device_reset(&s->pci);
    dp8390_reset(&s->core);
}

static void ne2k_pci_unrealize(Device *dev)
{
    dp8390_fini(&((Ne2kPciState *)dev)->core);
}

static bool ne2k_pci_check(const void *state, GError **err)
{
    const Ne2kPciState *s = state;
    return dp8390_state_check(&s->core, err) && pci_device_state_check(&s->pci, err);
}

static void ne2k_pci_post_load(void *state)
{
    Ne2kPciState *s = state;
    pci_device_post_load(&s->pci);
    dp8390_post_load(&s->core);
}

static const VmStateField ne2k_pci_fields[] = {
    VMSTATE_STRUCT(Ne2kPciState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_STRUCT(Ne2kPciState, core, Dp8390, &dp8390_vmsd),
    VMSTATE_END,
};

static const VmStateDesc ne2k_pci_vmsd = {
    .name = "ne2k_pci",
    .version = 1,
    .fields = ne2k_pci_fields,
    .check = ne2k_pci_check,
    .post_load = ne2k_pci_post_load,
};

static const DeviceProp ne2k_pci_props[] = {
    PCI_DEVICE_PROP_ADDR(Ne2kPciState, addr),
    NET_NIC_PROPS(Ne2kPciState, mac_prop, nc),
    NIC_BOOT_PROPS(Ne2kPciState, boot),
    { NULL },
};

static const DeviceClass ne2k_pci_class = {
    .name = "ne2k_pci",
    .description = "Realtek RTL8029 PCI NE2000 Ethernet (PCI 10ec:8029)",
    .instance_size = sizeof(Ne2kPciState),
    .user_creatable = true,
    .props = ne2k_pci_props,
    .vmsd = &ne2k_pci_vmsd,
    .realize = ne2k_pci_realize,
    .reset = ne2k_pci_reset,
    .unrealize = ne2k_pci_unrealize,
};

static void __attribute__((constructor)) ne2k_pci_register(void)
{
    device_class_register(&ne2k_pci_class);
}
