/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A 16550A UART with FIFOs (COM1 0x3F8 IRQ 4, COM2 0x2F8 IRQ 3, COM3 0x3E8, COM4 0x2E8). */
#pragma once

#include "engine/machine.h"

typedef struct SerialState SerialState;

/* chr may be NULL: the port exists, output goes nowhere, no input. */
SerialState *serial_new(Vm *vm, uint16_t base, const IrqLine *irq, Chardev *chr);
/* Feeds bytes as if they arrived on the line (tests, the control socket). Lock held. */
void serial_receive(SerialState *s, const uint8_t *buf, size_t len);
