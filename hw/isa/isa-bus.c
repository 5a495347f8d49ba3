/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/isa/isa-bus.h"

struct IsaBus {
    const IrqLine *irq;
    IsaDma *dma;
};

IsaBus *isa_bus_new(Vm *vm, const IrqLine *irq, IsaDma *dma)
{
    IsaBus *bus = g_new0(IsaBus, 1);
    bus->irq = irq;
    bus->dma = dma;
    vm_add_cleanup(vm, g_free, bus);
    vm_add_bus(vm, "isa.0", bus);
    return bus;
}

IsaBus *isa_bus_find(Vm *vm, GError **err)
{
    IsaBus *bus = vm_find_bus(vm, "isa.0");
    if (!bus)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "this machine has no ISA bus");
    return bus;
}

const IrqLine *isa_bus_irq(IsaBus *bus, unsigned n)
{
    g_assert(n < 16);
    return &bus->irq[n];
}

IsaDma *isa_bus_dma(IsaBus *bus)
{
    return bus->dma;
}

bool isa_bus_check_ports(Vm *vm, uint32_t base, uint32_t count, GError **err)
{
    for (uint32_t p = base; p < base + count && p < 0x10000; p++) {
        const char *owner = io_claimed_by(vm_io(vm), (uint16_t)p);
        if (owner) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port 0x%x is taken by %s", p, owner);
            return false;
        }
    }
    return true;
}
