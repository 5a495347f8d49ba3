/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92, PS/2 system control port A: fast A20 (bit 1) and fast CPU reset (bit 0). */
#pragma once

#include "engine/machine.h"

typedef struct Port92State Port92State;

/* a20: bit 1's line into the CPU's A20 gate (vm_cpu_a20_line). */
Port92State *port92_new(Vm *vm, const IrqLine *a20);
