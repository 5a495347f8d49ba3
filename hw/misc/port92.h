/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x92, PS/2 system control port A: fast A20 (bit 1) and fast CPU reset (bit 0). */
#pragma once

#include "engine/machine.h"

typedef struct Port92State Port92State;

Port92State *port92_new(Vm *vm);
