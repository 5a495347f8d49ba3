/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The two cascaded 8259A PICs of the PC (ports 0x20/0x21, 0xA0/0xA1) and the PIIX
 * edge/level control registers (ELCR, ports 0x4D0/0x4D1). */
#pragma once

#include "engine/machine.h"

typedef struct PicState PicState;

/* intr: the CPU's INTR pin. cpu: the CPU's pins, whose interrupt acknowledge the 8259
 * answers; NULL when a local APIC answers it and asks i8259_ack for ExtINT. */
PicState *i8259_new(Vm *vm, const IrqLine *intr, CpuPins *cpu);
/* An input line 0-15 (level; edge or level sensitivity per ICW1.LTIM and ELCR).
 * As on the 8259A, an edge-triggered request must stay high until the CPU acknowledges
 * it: a line lowered before then withdraws the request (the CPU gets IRQ 7 if it already
 * saw INTR). A raise immediately followed by a lower (irq_pulse) is therefore lost;
 * devices hold their line until the guest services them. IRQ 2 is the cascade and
 * cannot be driven. */
IrqLine i8259_input(PicState *pic, int irq);
void i8259_set_irq(PicState *pic, int irq, int level);
/* The interrupt acknowledge cycle: the vector to deliver (spurious IRQ 7/15 when nothing). */
int i8259_ack(PicState *pic);
/* Whether the PIC asserts INTR now (for the I/O APIC's ExtINT path later). */
bool i8259_intr_level(PicState *pic);
