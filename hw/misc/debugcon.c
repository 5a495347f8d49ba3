/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/debugcon.h"
#include "hw/isa/isa-bus.h"

typedef struct DebugconState {
    Device dev;
    uint32_t iobase; /* property */
    Chardev *chr;    /* property */
} DebugconState;

/* Reads return 0xE9, the value firmware checks to detect the port (QEMU, Bochs). */
static uint32_t debugcon_read(void *opaque, uint32_t off, unsigned size)
{
    return 0xe9;
}

static void debugcon_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    DebugconState *s = opaque;
    uint8_t b = (uint8_t)value;
    chardev_write(s->chr, &b, 1);
}

static const PortOps debugcon_ops = {
    .read = debugcon_read, .write = debugcon_write, .min_size = 1, .max_size = 1,
};

static bool debugcon_realize(Device *dev, GError **err)
{
    DebugconState *s = (DebugconState *)dev;
    /* A second device on the port would take it from the first (-device with the
     * board's 0xE9 or 0x402, or a UART's port). */
    if (!isa_bus_check_ports(dev->vm, s->iobase, 1, err))
        return false;
    io_add(vm_io(dev->vm), "debugcon", (uint16_t)s->iobase, 1, &debugcon_ops, s);
    return true;
}

/* No guest-visible state; the empty section still tells a restore the port existed. */
static const VmStateField debugcon_fields[] = { VMSTATE_END };
static const VmStateDesc debugcon_vmsd = { .name = "debugcon", .version = 1, .fields = debugcon_fields };

static const DeviceProp debugcon_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(DebugconState, iobase), "I/O port (under -device the pc board maps 0x402 and 0xE9)", "0xe9", 0, 0xffff },
    { "chardev", DEVICE_PROP_CHARDEV, offsetof(DebugconState, chr), "ID of a chardev to use as a backend" },
    { NULL },
};

static const DeviceClass debugcon_class = {
    .name = "isa-debugcon",
    .description = "debug console: bytes written to ports 0x402 and 0xE9 go to a character device",
    .instance_size = sizeof(DebugconState),
    .user_creatable = true,
    .props = debugcon_props,
    .vmsd = &debugcon_vmsd,
    .realize = debugcon_realize,
};

__attribute__((constructor)) static void debugcon_register(void)
{
    device_class_register(&debugcon_class);
}

void debugcon_new(Vm *vm, uint16_t port, Chardev *chr)
{
    g_autofree char *id = g_strdup_printf("debugcon@0x%x", port);
    DebugconState *s = (DebugconState *)device_new(vm, debugcon_class.name, id, NULL);
    g_assert(s);
    s->iobase = port;
    s->chr = chr;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
}
