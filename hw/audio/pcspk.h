/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x61 (system control port B): PIT counter 2 gate and speaker enable, the refresh
 * toggle and OUT2 status bits; the PC speaker itself. */
#pragma once

#include "engine/machine.h"
#include "hw/timer/i8254.h"

typedef struct PcSpeaker PcSpeaker;

/* NULL with err set when its audiodev property names no back end. */
PcSpeaker *pcspk_new(Vm *vm, PitState *pit, GError **err);
/* The tone the speaker plays now in Hz, 0 when silent: counter 2 in square wave mode
 * with its gate and the speaker data bit both set (lock held). */
unsigned pcspk_get_tone(PcSpeaker *spk);
