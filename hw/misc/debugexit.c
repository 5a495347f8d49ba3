/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/debugexit.h"

static uint32_t debugexit_read(void *opaque, uint32_t off, unsigned size)
{
    return 0xffffffffu;
}

static void debugexit_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Vm *vm = opaque;
    /* Exit statuses are 8 bits: the low bits of v*2+1, as QEMU does. */
    vm_request_exit(vm, (int)(((value << 1) | 1) & 0xff));
}

static const PortOps debugexit_ops = {
    .read = debugexit_read, .write = debugexit_write, .min_size = 1, .max_size = 4,
};

void debugexit_new(Vm *vm, uint16_t port)
{
    io_add(vm_io(vm), "isa-debug-exit", port, 4, &debugexit_ops, vm);
}
