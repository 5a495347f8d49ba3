/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CPU back end's in-kernel interrupt controllers (KVM's 8259s, I/O APIC, PIT and
 * local APICs) as a device of the board, so savevm carries their state. */
#pragma once

#include "engine/machine.h"

/* On a board whose VM has a kernel irqchip (vm_kernel_irqchip). */
void kernel_irqchip_new(Vm *vm);
