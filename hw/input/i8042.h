/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8042 keyboard controller (ports 0x60/0x64): command byte, self-test, A20 gate and
 * CPU reset through the output port, and the PS/2 keyboard and mouse behind it. */
#pragma once

#include "engine/machine.h"
#include "hw/input/ps2.h"

typedef struct I8042State I8042State;

/* kbd_irq is IRQ 1, mouse_irq IRQ 12, a20 the output port's line into the CPU's A20
 * gate (vm_cpu_a20_line). */
I8042State *i8042_new(Vm *vm, const IrqLine *kbd_irq, const IrqLine *mouse_irq, const IrqLine *a20);
Ps2Keyboard *i8042_keyboard(I8042State *s);
Ps2Mouse *i8042_mouse(I8042State *s);
