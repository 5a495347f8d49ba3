/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 82093AA I/O APIC: 24 interrupt inputs turned into messages to the local APIC. */
#pragma once

#include "engine/machine.h"
#include "hw/intc/apic.h"

typedef struct IoapicState IoapicState;

#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_NUM_PINS 24

/* Registers the MMIO window at base and listens to the local APIC's EOI broadcast. */
IoapicState *ioapic_new(Vm *vm, hwaddr base, ApicState *lapic);
/* The electrical level of input pin 0-23; the redirection entry's polarity says which
 * level asserts it. */
void ioapic_set_irq(IoapicState *s, int pin, int level);
