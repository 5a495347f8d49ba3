/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x61 (system control port B): PIT counter 2 gate and speaker enable, the refresh
 * toggle and OUT2 status bits; the PC speaker itself. */
#pragma once

#include "engine/machine.h"
#include "hw/timer/i8254.h"

typedef struct PcSpeaker PcSpeaker;

PcSpeaker *pcspk_new(Vm *vm, PitState *pit);
