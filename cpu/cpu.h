/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interface every CPU back end (KVM, interpreter, translator) implements. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include "cpu/cpu-debug.h"
#include "cpu/cpu-state.h"
#include "engine/vcpu.h"

typedef enum {
    CPU_RUN_EXIT,     /* VCPU_REQ_EXIT seen: the engine has work */
    CPU_RUN_ERROR,    /* the back end failed; the VM stops with an error */
    CPU_RUN_DEBUG,    /* stopped for the debugger (CpuDebugOps.stop_info says why) */
} CpuRunResult;

/* Debugger support (cpu/cpu-debug.h). Only while the vCPU is outside vcpu_run. */
typedef struct CpuDebugOps {
    /* addr and len as gdb gives them; false (err set) when the kind or length is not
     * supported or the table is full. */
    bool (*insert)(Vcpu *v, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err);
    /* false when no such point was inserted. */
    bool (*remove)(Vcpu *v, CpuDebugKind kind, uint64_t addr, uint64_t len);
    void (*remove_all)(Vcpu *v);
    /* Before the vCPU runs again: step (one instruction, then CPU_RUN_DEBUG, with
     * interrupts held back as QEMU's gdb stub does) or run on. A breakpoint at the
     * instruction it resumes at does not stop it again (as EFLAGS.RF for DR0-DR3). */
    void (*resume)(Vcpu *v, bool step);
    /* Why the last CPU_RUN_DEBUG. */
    void (*stop_info)(Vcpu *v, CpuDebugStop *out);
    /* A linear address through the guest's paging as it stands, without side effects
     * (no accessed bits, no faults, any privilege); false when it is not mapped. */
    bool (*translate)(Vcpu *v, uint64_t lin, uint64_t *phys);
} CpuDebugOps;

typedef struct CpuBackend {
    const char *name;
    const char *description;
    /* True when the back end can run on this host; otherwise err says why. */
    bool (*probe)(GError **err);
    /* True when the back end runs here but only small guests, not full operating
     * systems (KVM on a paravirtual PVM host). In a list such as "kvm:tcg" a limited
     * back end gives way to the next one; named alone it is used. May be NULL. */
    bool (*limited)(void);
    /* A line describing host support, for -accel help (may be NULL). */
    char *(*host_info)(void);
    /* Per-VM set-up, before the board is built. options: the text after "name,"
     * in -accel (e.g. "kernel-irqchip=off"). */
    bool (*vm_init)(Vm *vm, const char *options, GError **err);
    void (*vm_destroy)(Vm *vm);
    bool (*vcpu_init)(Vcpu *v, GError **err);
    /* Power-on/reset state (CS:IP = F000:FFF0). Runs on the vCPU thread. */
    void (*vcpu_reset)(Vcpu *v);
    /* Runs the guest until VCPU_REQ_EXIT is set or an error occurs. */
    CpuRunResult (*vcpu_run)(Vcpu *v);
    /* Any thread: makes a running vcpu_run notice new requests promptly. */
    void (*vcpu_kick)(Vcpu *v);
    void (*vcpu_destroy)(Vcpu *v);
    /* The whole architectural state (cpu/cpu-state.h). Only while the vCPU is outside
     * vcpu_run (the VM paused, or on the vCPU thread between runs). set checks the state
     * first and leaves the vCPU unchanged when it refuses it. */
    bool (*vcpu_get_state)(Vcpu *v, CpuX86State *s, GError **err);
    bool (*vcpu_set_state)(Vcpu *v, const CpuX86State *s, GError **err);
    /* Text for a failure (CPU_RUN_ERROR), with register state. */
    char *(*vcpu_describe)(Vcpu *v);
    bool kernel_irqchip_possible;
    /* With a kernel irqchip: its state as one blob for savevm, NULL when it cannot be
     * read; check refuses a blob load would not take (err in one line); load puts a
     * checked one back. Only while every vCPU is outside vcpu_run. May be NULL. */
    GBytes *(*irqchip_save)(Vm *vm);
    bool (*irqchip_check)(Vm *vm, GBytes *state, GError **err);
    void (*irqchip_load)(Vm *vm, GBytes *state);
    /* System reset of the kernel irqchip's 8259s, I/O APIC and PIT (the local APICs are
     * the vCPUs', reset by vcpu_reset). Lock held, vCPUs outside vcpu_run. May be NULL. */
    void (*irqchip_reset)(Vm *vm);
    /* The CPU takes its local APIC from the board (the APIC on its CpuPins, vcpu_apic_base). */
    bool board_apic;
    /* Runs several vCPUs (one thread each); without it the VM has one. */
    bool smp;
    /* Debugger support, or NULL when the back end has none. */
    const CpuDebugOps *debug;
} CpuBackend;

const CpuBackend *cpu_backend_find(const char *name);
/* Every back end compiled in, NULL-terminated. */
const CpuBackend *const *cpu_backends(void);
