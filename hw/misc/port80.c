/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/port80.h"

typedef struct Port80State {
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

void port80_new(Vm *vm)
{
    Port80State *s = g_new0(Port80State, 1);
    io_add(vm_io(vm), "port80", 0x80, 1, &port80_ops, s);
    vm_add_cleanup(vm, g_free, s);
}
