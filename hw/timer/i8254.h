/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8254 programmable interval timer: three counters at 1.193182 MHz, all six modes,
 * counter latch and read-back, BCD. Counter 0 drives IRQ 0; counter 2 the speaker. */
#pragma once

#include "engine/machine.h"

#define PIT_FREQ 1193182

typedef struct PitState PitState;

/* base is 0x40 on the PC. */
PitState *i8254_new(Vm *vm, uint16_t base, const IrqLine *irq0);
/* GATE input of a counter (counter 2's is port 0x61 bit 0). */
void i8254_set_gate(PitState *pit, int counter, int level);
/* OUT pin of a counter at the current virtual time. */
int i8254_get_out(PitState *pit, int counter);
/* The current count of a counter, as a latch would read it (for tests). */
uint16_t i8254_get_count(PitState *pit, int counter);
/* The programmed mode (0-5) and initial count (1-65536, 0 before any count) of a
 * counter: what the PC speaker needs for its tone. */
int i8254_get_mode(PitState *pit, int counter);
uint32_t i8254_get_initial_count(PitState *pit, int counter);
/* For the PC speaker, which renders counter 2's OUT on the virtual clock: fn runs
 * before every guest port access that reads or changes the counter, so the speaker can
 * render up to that moment with the programming still in force. */
void i8254_set_access_hook(PitState *pit, int counter, void (*fn)(void *opaque), void *opaque);
/* OUT of a counter without an IRQ line at virtual time ns, which must not lie before
 * the counter's last access (times are asked in increasing order). */
int i8254_get_out_at(PitState *pit, int counter, int64_t ns);

