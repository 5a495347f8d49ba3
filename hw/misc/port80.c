/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/port80.h"

typedef struct Port80State {
    Device dev;
    uint8_t code;
} Port80State;

static uint32_t port80_read(void *opaque, uint32_t off, unsigned size)
{
    Port80State *s = opaque;
    return s->code;
}

static void port80_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Port80State *s = opaque;
    s->code = (uint8_t)value;
    VLOG(LOG_IOPORT, "POST code 0x%02x", s->code);
}

static const PortOps port80_ops = { .read = port80_read, .write = port80_write, .min_size = 1, .max_size = 1 };

static bool port80_realize(Device *dev, GError **err)
{
    io_add(vm_io(dev->vm), "port80", 0x80, 1, &port80_ops, dev);
    return true;
}

/* No reset hook: as before the conversion, a system reset leaves the last code. */
static const VmStateField port80_fields[] = {
    VMSTATE_U8(Port80State, code),
    VMSTATE_END,
};

static const VmStateDesc port80_vmsd = { .name = "port80", .version = 1, .fields = port80_fields };

/* QEMU has no device here, only its "ioport80" region; the class takes that name. */
static const DeviceClass port80_class = {
    .name = "ioport80",
    .description = "POST code register (port 0x80)",
    .instance_size = sizeof(Port80State),
    .vmsd = &port80_vmsd,
    .realize = port80_realize,
};

__attribute__((constructor)) static void port80_register(void)
{
    device_class_register(&port80_class);
}

void port80_new(Vm *vm)
{
    Device *d = device_new(vm, port80_class.name, "port80", NULL);
    g_assert(d);
    if (!device_realize(d, NULL))
        g_assert_not_reached();
}
