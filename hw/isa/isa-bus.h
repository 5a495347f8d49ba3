/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ISA bus as devices created by name see it: the sixteen interrupt lines and the
 * 8237 DMA channels the board's PIIX3 provides. The board registers it as "isa.0"
 * (vm_add_bus); a device's realize finds it with isa_bus_find. */
#pragma once

#include "engine/machine.h"
#include "hw/dma/i8237.h"

typedef struct IsaBus IsaBus;

/* irq points at the board's 16 lines (IRQ 0-15), which outlive the bus. */
IsaBus *isa_bus_new(Vm *vm, const IrqLine *irq, IsaDma *dma);
/* The VM's ISA bus; NULL with err set on a board without one. */
IsaBus *isa_bus_find(Vm *vm, GError **err);
/* IRQ n (0-15). Lock held. */
const IrqLine *isa_bus_irq(IsaBus *bus, unsigned n);
IsaDma *isa_bus_dma(IsaBus *bus);
/* A device created by name checks that its ports are free: two devices on one port
 * would each see half the accesses. err names the owner. */
bool isa_bus_check_ports(Vm *vm, uint32_t base, uint32_t count, GError **err);
