/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/debugexit.h"
#include "hw/isa/isa-bus.h"

typedef struct DebugExitState {
    Device dev;
    uint32_t iobase, iosize; /* properties */
} DebugExitState;

static uint32_t debugexit_read(void *opaque, uint32_t off, unsigned size)
{
    return 0xffffffffu;
}

static void debugexit_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    DebugExitState *s = opaque;
    /* Exit statuses are 8 bits: the low bits of v*2+1, as QEMU does. */
    vm_request_exit(s->dev.vm, (int)(((value << 1) | 1) & 0xff));
}

static const PortOps debugexit_ops = {
    .read = debugexit_read, .write = debugexit_write, .min_size = 1, .max_size = 4,
};

/* The port answers 4 bytes whatever iosize says: a 32-bit OUT reaches it either way. */
static bool debugexit_realize(Device *dev, GError **err)
{
    DebugExitState *s = (DebugExitState *)dev;
    /* Refused on ports another device owns, which it would otherwise take over. */
    if (!isa_bus_check_ports(dev->vm, s->iobase, 4, err))
        return false;
    io_add(vm_io(dev->vm), "isa-debug-exit", (uint16_t)s->iobase, 4, &debugexit_ops, s);
    return true;
}

static const VmStateField debugexit_fields[] = { VMSTATE_END };
static const VmStateDesc debugexit_vmsd = { .name = "debugexit", .version = 1, .fields = debugexit_fields };

static const DeviceProp debugexit_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(DebugExitState, iobase), "I/O port", "0xf4", 0, 0xfffc },
    { "iosize", DEVICE_PROP_U32, offsetof(DebugExitState, iosize), "I/O size (accepted; the port takes 1 to 4 bytes)", "0x02" },
    { NULL },
};

static const DeviceClass debugexit_class = {
    .name = "isa-debug-exit",
    .description = "a write of v ends the VM with exit status v*2+1 (port 0xF4)",
    .instance_size = sizeof(DebugExitState),
    .user_creatable = true,
    .props = debugexit_props,
    .vmsd = &debugexit_vmsd,
    .realize = debugexit_realize,
};

__attribute__((constructor)) static void debugexit_register(void)
{
    device_class_register(&debugexit_class);
}

bool debugexit_new(Vm *vm, uint16_t port, GError **err)
{
    DebugExitState *s = (DebugExitState *)device_new(vm, debugexit_class.name, NULL, NULL);
    g_assert(s);
    s->iobase = port;
    return device_realize(DEVICE(s), err);
}
