/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x80: the POST code register. Firmware writes progress codes; software also uses
 * it for short I/O delays. The last code is kept and logged. */
#pragma once

#include "engine/machine.h"

void port80_new(Vm *vm);
