/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PIIX3 PCI-to-ISA bridge at 01.0: PIRQ routing to ISA IRQs, and the reset control
 * register at 0xCF9. */
#pragma once

#include "hw/pci/pci.h"

typedef struct Piix3State Piix3State;

/* isa_irq: the 16 ISA interrupt lines the PIRQs route to. */
Piix3State *piix3_new(Vm *vm, PciBus *bus, const IrqLine *isa_irq);
