/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PCI root the device unit tests build their controller on: bus "pci.0" whose INTx
 * lines, swizzled as the PIIX3 routes them, all drive one level the test reads. */
#pragma once

#include "hw/pci/pci.h"
#include "unit.h"

static inline int pci_rig_map_irq(void *opaque, int devfn, int pin)
{
    (void)opaque;
    return (PCI_SLOT(devfn) + pin) & 3;
}

static inline void pci_rig_set_pirq(void *opaque, int pirq, int level)
{
    (void)pirq;
    *(int *)opaque = level;
}

/* Engine lock held; *irq follows the last level any PIRQ took. */
static inline PciBus *pci_rig_bus_new(Vm *vm, int *irq)
{
    PciBus *bus = pci_bus_new(vm);
    vm_add_bus(vm, "pci.0", bus);
    pci_bus_set_irq_router(bus, pci_rig_map_irq, pci_rig_set_pirq, irq, 4);
    return bus;
}
