/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92 as the PIIX3 implements it: bit 1 is the fast A20 gate (ORed with the
 * 8042's A20GATE), a 0 to 1 transition of bit 0 resets the CPU; bits 7-2 are reserved
 * and read 0. */
#include "hw/misc/port92.h"

struct Port92State {
    Device dev;
    IrqLine a20;     /* bit 1, into the CPU's A20 gate; wired by the board */
    uint8_t value;
};

static uint32_t port92_read(void *opaque, uint32_t offset, unsigned size)
{
    Port92State *s = opaque;
    return s->value;
}

static void port92_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    Port92State *s = opaque;
    uint8_t old = s->value;
    s->value = value & 0x03;
    if ((value & ~0x03u) & 0xff)
        VLOG(LOG_GUEST, "port92: reserved bits written (0x%02x)", value & 0xff);
    irq_set(&s->a20, s->value & 0x02 ? 1 : 0);
    if ((s->value & 0x01) && !(old & 0x01)) {
        VLOG(LOG_CPU, "port92: fast reset");
        vm_request_reset(s->dev.vm, VM_RESET_GUEST);
    }
}

static const PortOps port92_ops = { port92_read, port92_write, 1, 1 };

static void port92_reset(Device *dev)
{
    Port92State *s = (Port92State *)dev;
    s->value = 0;
    irq_lower(&s->a20);
}

static bool port92_realize(Device *dev, GError **err)
{
    io_add(vm_io(dev->vm), "port92", 0x92, 1, &port92_ops, dev);
    return true;
}

/* The CPU's A20 gate ORs this port's bit 1 with the 8042's: give it back its input. */
static void port92_post_load(void *state)
{
    Port92State *s = state;
    irq_set(&s->a20, s->value & 0x02 ? 1 : 0);
}

static const VmStateField port92_fields[] = {
    VMSTATE_U8_RANGE(Port92State, value, 0, 0x03),
    VMSTATE_END,
};

static const VmStateDesc port92_vmsd = {
    .name = "port92",
    .version = 1,
    .fields = port92_fields,
    .post_load = port92_post_load,
};

static const DeviceClass port92_class = {
    .name = "port92",
    .description = "system control port A: fast A20 gate and fast CPU reset (port 0x92)",
    .instance_size = sizeof(Port92State),
    .vmsd = &port92_vmsd,
    .realize = port92_realize,
    .reset = port92_reset,
};

__attribute__((constructor)) static void port92_register(void)
{
    device_class_register(&port92_class);
}

Port92State *port92_new(Vm *vm, const IrqLine *a20)
{
    Port92State *s = (Port92State *)device_new(vm, port92_class.name, "port92", NULL);
    g_assert(s);
    if (a20)
        s->a20 = *a20;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
