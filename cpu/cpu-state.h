/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The whole architectural state of one x86 vCPU, the same for every back end: what
 * VM state save/load, a debugger and tests read and write through CpuBackend's
 * vcpu_get_state / vcpu_set_state.
 *
 * Only what software can observe is here; caches (TLBs, decoded blocks, lazy flags)
 * are rebuilt by the back end on load. Fields are wide enough for long mode (64-bit
 * registers, sixteen of them) though the CPUs are 32-bit for now. Board state (the
 * local APIC, the A20 and IGNNE# pins, pending INTR/NMI lines) belongs to devices. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Version of this layout in saved VM state; bump when a field changes meaning. */
#define CPU_X86_STATE_VERSION 2

typedef struct CpuSegment {
    uint16_t sel;
    uint16_t attr;    /* descriptor bits 40-55: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15 */
    uint32_t limit;   /* in bytes (granularity applied) */
    uint64_t base;
} CpuSegment;

enum { CPU_SEG_ES, CPU_SEG_CS, CPU_SEG_SS, CPU_SEG_DS, CPU_SEG_FS, CPU_SEG_GS, CPU_NSEG };

typedef struct CpuMsr {
    uint32_t index;
    uint32_t pad;
    uint64_t value;
} CpuMsr;

#define CPU_MAX_MSRS 64

/* Interrupt shadow bits (SDM vol. 3, 6.8.3): events after STI, and after MOV SS/POP SS
 * (which also holds back debug traps). */
enum {
    CPU_SHADOW_STI = 1u << 0,
    CPU_SHADOW_MOV_SS = 1u << 1,
};

typedef struct CpuX86State {
    /* General registers RAX..R15 (EAX..EDI in 32-bit CPUs), RIP, RFLAGS. */
    uint64_t regs[16];
    uint64_t rip;
    uint64_t rflags;
    CpuSegment seg[CPU_NSEG];
    CpuSegment ldtr, tr;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint64_t cr0, cr2, cr3, cr4;
    uint64_t dr[8];       /* DR4/DR5 unused (aliases) */
    uint64_t efer;

    /* x87 and SSE in FXSAVE's terms (SDM vol. 1, 10.5.1): the abridged tag word has a
     * bit per physical register R0-R7 (1 = valid); st[] is in stack order ST(0)-ST(7),
     * each the 80-bit register image (64-bit significand, then sign and exponent). */
    uint16_t fcw, fsw, fop;
    uint8_t ftw;
    bool ferr;            /* FERR# asserted (an unmasked x87 error, CR0.NE clear) */
    uint16_t fcs, fds;
    uint64_t fip, fdp;
    uint8_t st[8][10];
    uint8_t xmm[16][16];
    uint32_t mxcsr;

    /* The time-stamp counter (all 64 bits) and the other MSRs the CPU implements, in
     * the order the back end lists them (IA32_SYSENTER_*, PAT, MTRRs, ...). */
    uint64_t tsc;
    unsigned nmsrs;
    CpuMsr msrs[CPU_MAX_MSRS];

    /* Events between two instructions. A back end that delivers events as they come
     * (the interpreter) never has one half-injected; KVM may. */
    bool halted;
    uint8_t shadow;       /* CPU_SHADOW_* */
    bool nmi_blocked;     /* from NMI delivery until the next IRET */
    bool nmi_pending;     /* accepted by the CPU, not yet delivered */
    int16_t exception;    /* an exception being delivered, or -1 */
    bool exception_has_error;
    uint32_t exception_error;
    int16_t interrupt;    /* an external interrupt vector being delivered, or -1 */
    /* An application processor waiting for a STARTUP IPI (after reset or INIT); since
     * version 2. */
    bool sipi_wait;
} CpuX86State;
