/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92 as the PIIX3 implements it: bit 1 is the fast A20 gate (ORed with the
 * 8042's A20GATE), a 0 to 1 transition of bit 0 resets the CPU; bits 7-2 are reserved
 * and read 0. */
#include "hw/misc/port92.h"

struct Port92State {
    Vm *vm;
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
    vm_set_a20_source(s->vm, VM_A20_PORT92, s->value & 0x02);
    if ((s->value & 0x01) && !(old & 0x01)) {
        VLOG(LOG_CPU, "port92: fast reset");
        vm_request_reset(s->vm, VM_RESET_GUEST);
    }
}

static const PortOps port92_ops = { port92_read, port92_write, 1, 1 };

static void port92_reset(void *opaque)
{
    Port92State *s = opaque;
    s->value = 0;
    vm_set_a20_source(s->vm, VM_A20_PORT92, false);
}

Port92State *port92_new(Vm *vm)
{
    Port92State *s = g_new0(Port92State, 1);
    s->vm = vm;
    port92_reset(s);
    io_add(vm_io(vm), "port92", 0x92, 1, &port92_ops, s);
    vm_add_reset_handler(vm, port92_reset, s);
    vm_add_cleanup(vm, g_free, s);
    return s;
}
