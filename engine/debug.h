/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A debugger's access to a VM (the gdb stub, engine/gdbstub.c): registers, memory
 * through a vCPU's paging or physical, breakpoints and watchpoints, step and continue.
 * vCPUs are numbered from 0 (gdb's threads 1..n). Call from the main thread. Everything
 * but vm_debug_supported and vm_debug_cpu_count needs a VM that is not running, and
 * waits until the vCPUs have left the guest. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cpu/cpu-debug.h"
#include "cpu/cpu-state.h"
#include "engine/vm.h"

/* True when the VM's CPU back end supports a debugger; otherwise err says why. */
bool vm_debug_supported(Vm *vm, GError **err);
unsigned vm_debug_cpu_count(Vm *vm);

bool vm_debug_get_regs(Vm *vm, unsigned cpu, CpuX86State *s, GError **err);
bool vm_debug_set_regs(Vm *vm, unsigned cpu, const CpuX86State *s, GError **err);

/* Guest memory at a linear address through that vCPU's paging, or at a physical
 * address. Only RAM and ROM: device memory is refused (reading it could change the
 * device). A page that is not mapped, or not RAM, fails the whole access. */
bool vm_debug_read(Vm *vm, unsigned cpu, uint64_t addr, void *buf, size_t len, bool physical, GError **err);
bool vm_debug_write(Vm *vm, unsigned cpu, uint64_t addr, const void *buf, size_t len, bool physical,
                    GError **err);

/* Breakpoints and watchpoints apply to every vCPU. */
bool vm_debug_insert(Vm *vm, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err);
bool vm_debug_remove(Vm *vm, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err);
void vm_debug_remove_all(Vm *vm);

/* Runs the VM again: step_cpu >= 0 steps that vCPU by one instruction, -1 continues.
 * A VM that was created but not started (-S) is powered on. The stop that follows is
 * a pause (state listeners see VM_STATE_PAUSED); vm_debug_stop_reason says why. */
bool vm_debug_resume(Vm *vm, int step_cpu, GError **err);
/* true, with the vCPU and the reason, when a breakpoint, watchpoint or step stopped
 * the VM; false when it was paused or stopped otherwise. */
bool vm_debug_stop_reason(Vm *vm, unsigned *cpu, CpuDebugStop *stop);
