/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/debugcon.h"

typedef struct DebugconState {
    Chardev *chr;
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

void debugcon_new(Vm *vm, uint16_t port, Chardev *chr)
{
    DebugconState *s = g_new0(DebugconState, 1);
    s->chr = chr;
    io_add(vm_io(vm), "debugcon", port, 1, &debugcon_ops, s);
    vm_add_cleanup(vm, g_free, s);
}
