/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The MC146818 real-time clock and its 128 bytes of CMOS memory (ports 0x70/0x71). */
#pragma once

#include "engine/machine.h"

typedef struct RtcState RtcState;

/* base is 0x70; irq is IRQ 8. The clock starts at the host's local time, or at UTC
 * with utc (-rtc base=utc, what Linux guests expect; DOS and Windows want local time). */
RtcState *mc146818_new(Vm *vm, uint16_t base, const IrqLine *irq, bool utc);
/* The board fills in configuration bytes (memory size, drives, boot order). */
void mc146818_set_cmos(RtcState *rtc, unsigned addr, uint8_t value);
uint8_t mc146818_get_cmos(RtcState *rtc, unsigned addr);
/* Bit 7 of the last write to the index port: NMI disabled (the board's NMI gate). */
bool mc146818_nmi_disabled(RtcState *rtc);
