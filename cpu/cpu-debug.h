/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a debugger (engine/gdbstub.c) asks of a CPU back end: breakpoints and watchpoints
 * on linear addresses (CS base + EIP for code, the linear address of a data access), single
 * stepping, why the vCPU stopped, and address translation through the guest's paging.
 * These live beside the architectural state, not in it: the guest cannot see them, and
 * VM state save/load leaves them alone. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The kinds of gdb's Z packets, in their order (Z0-Z4). A back end may treat software
 * and hardware breakpoints the same way: neither changes guest memory. */
typedef enum {
    CPU_DEBUG_BREAK_SW,
    CPU_DEBUG_BREAK_HW,
    CPU_DEBUG_WATCH_WRITE,
    CPU_DEBUG_WATCH_READ,
    CPU_DEBUG_WATCH_ACCESS,
} CpuDebugKind;

typedef enum {
    CPU_DEBUG_STOP_NONE,    /* not stopped by the debugger's request (paused from outside) */
    CPU_DEBUG_STOP_STEP,    /* one instruction (or the first of an exception handler) done */
    CPU_DEBUG_STOP_BREAK,   /* before the instruction at a breakpoint */
    CPU_DEBUG_STOP_WATCH,   /* after the instruction whose access hit a watchpoint */
} CpuDebugStopReason;

typedef struct CpuDebugStop {
    CpuDebugStopReason reason;
    CpuDebugKind kind;      /* BREAK, WATCH: the kind of the breakpoint or watchpoint hit */
    uint64_t addr;          /* its address as it was inserted */
} CpuDebugStop;

/* Most breakpoints, and most watchpoints, a vCPU holds at once. */
#define CPU_DEBUG_MAX_POINTS 64
