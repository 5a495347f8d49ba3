/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The IA-PC HPET (Intel "IA-PC HPET Specification" 1.0a): a 64-bit main counter at
 * 100 MHz and three comparators, with the legacy replacement route that takes IRQ 0
 * and IRQ 8 away from the 8254 and the RTC. */
#pragma once

#include "engine/machine.h"

#define HPET_BASE 0xfed00000u
#define HPET_MMIO_SIZE 0x400u
#define HPET_NUM_TIMERS 3
#define HPET_GSI_COUNT 24
/* Event Timer Block ID: the low half of the capabilities register (rev 1, 3 timers,
 * 64-bit counter, legacy replacement capable, vendor 8086h), which the ACPI HPET table
 * repeats. */
#define HPET_BLOCK_ID 0x8086a201u

typedef struct HpetState HpetState;

/* Lines into the HPET from the devices legacy replacement disconnects. */
typedef enum { HPET_IN_PIT = 0, HPET_IN_RTC = 1 } HpetInput;

/* gsi[n] is the board's global system interrupt n (n < 16: the ISA IRQ, whose 0 reaches
 * I/O APIC pin 2): the HPET drives 0 and 8 (the PIT and RTC lines it passes through, or
 * its timers 0 and 1 in legacy replacement mode) and the routes its timers may take.
 * Fails only on a bad -global hpet.hpet-intcap. */
HpetState *hpet_new(Vm *vm, hwaddr base, const IrqLine gsi[HPET_GSI_COUNT], GError **err);
/* The line the PIT (counter 0) or the RTC drives instead of its ISA IRQ. */
IrqLine hpet_input(HpetState *s, HpetInput which);
