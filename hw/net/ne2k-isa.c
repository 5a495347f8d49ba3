/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An NE2000 on the ISA bus (QEMU's "ne2k_isa"): the DP8390 core (dp8390.c) at 32 ports
 * from iobase (0x300) and an ISA interrupt (9, as QEMU; 3 or 5 where IRQ 9 carries the
 * ACPI SCI for the guest). */
#include "hw/net/dp8390.h"
#include "hw/isa/isa-bus.h"

typedef struct Ne2kIsaState {
    Device dev;
    uint32_t iobase; /* property */
    uint32_t irq;    /* property */
    char *mac_prop;  /* property */
    NetClient *nc;   /* property */
    IrqLine line;
    Dp8390 core;
} Ne2kIsaState;

static void ne2k_isa_set_irq(void *opaque, int level)
{
    Ne2kIsaState *s = opaque;
    irq_set(&s->line, level);
}

static uint32_t ne2k_isa_read(void *opaque, uint32_t off, unsigned size)
{
    Ne2kIsaState *s = opaque;
    return dp8390_io_read(&s->core, off, size);
}

static void ne2k_isa_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Ne2kIsaState *s = opaque;
    dp8390_io_write(&s->core, off, value, size);
}

static const PortOps ne2k_isa_ops = {
    .read = ne2k_isa_read,
    .write = ne2k_isa_write,
    .min_size = 1,
    .max_size = 2, /* a 16-bit ISA card */
};

static bool ne2k_isa_realize(Device *dev, GError **err)
{
    Ne2kIsaState *s = (Ne2kIsaState *)dev;
    IsaBus *bus = isa_bus_find(dev->vm, err);
    if (!bus || !isa_bus_check_ports(dev->vm, s->iobase, DP8390_IO_SIZE, err) ||
        !net_nic_mac(s->mac_prop, s->core.mac, err))
        return false;
    s->line = *isa_bus_irq(bus, s->irq);
    s->core.nc = s->nc;
    s->core.set_irq = ne2k_isa_set_irq;
    s->core.irq_opaque = s;
    s->core.name = "ne2k_isa";
    if (!dp8390_init(&s->core, dev->id, err))
        return false;
    io_add(vm_io(dev->vm), "ne2k_isa", (uint16_t)s->iobase, DP8390_IO_SIZE, &ne2k_isa_ops, s);
    return true;
}

static void ne2k_isa_reset(Device *dev)
{
    dp8390_reset(&((Ne2kIsaState *)dev)->core);
}

static void ne2k_isa_unrealize(Device *dev)
{
    dp8390_fini(&((Ne2kIsaState *)dev)->core);
}

static bool ne2k_isa_check(const void *state, GError **err)
{
    return dp8390_state_check(&((const Ne2kIsaState *)state)->core, err);
}

static void ne2k_isa_post_load(void *state)
{
    dp8390_post_load(&((Ne2kIsaState *)state)->core);
}

static const VmStateField ne2k_isa_fields[] = {
    VMSTATE_STRUCT(Ne2kIsaState, core, Dp8390, &dp8390_vmsd),
    VMSTATE_END,
};

static const VmStateDesc ne2k_isa_vmsd = {
    .name = "ne2k_isa",
    .version = 1,
    .fields = ne2k_isa_fields,
    .check = ne2k_isa_check,
    .post_load = ne2k_isa_post_load,
};

static const DeviceProp ne2k_isa_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(Ne2kIsaState, iobase), "I/O port base", "0x300", 0, 0xffe0 },
    { "irq", DEVICE_PROP_U32, offsetof(Ne2kIsaState, irq), "ISA IRQ line", "9", 0, 15 },
    NET_NIC_PROPS(Ne2kIsaState, mac_prop, nc),
    { NULL },
};

static const DeviceClass ne2k_isa_class = {
    .name = "ne2k_isa",
    .description = "NE2000 ISA Ethernet (DP8390)",
    .instance_size = sizeof(Ne2kIsaState),
    .user_creatable = true,
    .props = ne2k_isa_props,
    .vmsd = &ne2k_isa_vmsd,
    .realize = ne2k_isa_realize,
    .reset = ne2k_isa_reset,
    .unrealize = ne2k_isa_unrealize,
};

static void __attribute__((constructor)) ne2k_isa_register(void)
{
    device_class_register(&ne2k_isa_class);
}
