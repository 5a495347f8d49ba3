/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A CPU's local APIC: P6-class xAPIC registers at 0xFEE00000 (each CPU sees its own
 * there), moved and switched off through IA32_APIC_BASE, IPIs to the other APICs, with its timer, LINT0/LINT1 pins and the interrupt
 * acknowledge that falls back to the 8259 through LINT0 in ExtINT mode. */
#pragma once

#include "engine/machine.h"

typedef struct ApicState ApicState;

#define APIC_DEFAULT_BASE 0xfee00000u
/* Bus clock the timer divides (a 100 MHz front-side bus of late P6 boards). */
#define APIC_BUS_HZ INT64_C(100000000)

/* Delivery modes of an interrupt message (ICR, LVT and I/O APIC entries, SDM vol. 3
 * §10.5.1, §10.6.1). */
typedef enum {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWEST = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_STARTUP = 6,
    APIC_DM_EXTINT = 7,
} ApicDeliveryMode;

/* cpu: the pins of the CPU this APIC belongs to; the APIC connects their interrupt
 * acknowledge and IA32_APIC_BASE. ext_ack: the 8259's interrupt acknowledge, used for
 * ExtINT. The CPU's INTR pin is driven by the APIC from now on: the 8259's output goes
 * to LINT0. */
ApicState *apic_new(Vm *vm, uint8_t id, CpuPins *cpu, IntrAckFn ext_ack, void *ext_opaque);
/* The APIC of processor cpu_index (apic_new: processor 0, the BSP). Every APIC of a VM
 * joins one bus; INIT and STARTUP reach the processor through the engine. */
ApicState *apic_new_for_cpu(Vm *vm, unsigned cpu_index, uint8_t id, CpuPins *cpu, IntrAckFn ext_ack,
                            void *ext_opaque);
/* Called with the vector when a level-triggered interrupt is EOIed at any APIC of the
 * bus (the EOI broadcast the I/O APIC listens to). */
void apic_set_eoi_listener(ApicState *s, void (*fn)(void *opaque, uint8_t vector), void *opaque);
/* The LINT0 (n = 0) and LINT1 (n = 1) pins. */
void apic_set_lint(ApicState *s, int n, int level);
/* Whether a message to dest (physical APIC ID or logical MDA) reaches this APIC. */
bool apic_match_dest(ApicState *s, bool logical, uint8_t dest);
/* An interrupt message from the bus (I/O APIC). level: level-triggered (sets TMR).
 * Returns false when the APIC refused it (disabled, illegal vector). */
bool apic_deliver(ApicState *s, ApicDeliveryMode mode, uint8_t vector, bool level);
/* An I/O APIC message to every APIC on any's bus that dest (physical ID or logical
 * MDA) selects; lowest priority picks one of them. True when one accepted it. */
bool apic_bus_deliver(ApicState *any, bool logical, uint8_t dest, ApicDeliveryMode mode, uint8_t vector,
                      bool level);
/* The interrupt acknowledge cycle: a vector, from the APIC or the 8259. */
int apic_intr_ack(ApicState *s);
/* IA32_APIC_BASE (MSR 0x1B). set returns false for a value the CPU refuses (#GP). */
uint64_t apic_get_base(ApicState *s);
bool apic_set_base(ApicState *s, uint64_t value);
