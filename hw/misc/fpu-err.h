/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PC/AT coprocessor error logic: the CPU's FERR# output latched into IRQ13, and
 * port F0h, whose write clears the latch and asserts IGNNE# until FERR# goes away
 * (the legacy x87 error route used while CR0.NE is clear). */
#pragma once

#include "engine/machine.h"

/* irq13: the latch's output; cpu: the pins whose FERR# it hears. */
void fpu_err_new(Vm *vm, const IrqLine *irq13, CpuPins *cpu);
