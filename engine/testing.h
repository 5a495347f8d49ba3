/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For unit tests of devices: a VM with no CPU and no board, whose virtual clock only
 * moves when the test says so. Devices are created on it directly and driven through
 * io_read/io_write and mem_dispatch_*; timers fire inside vm_test_clock_step. */
#pragma once

#include "engine/machine.h"

/* ram_size in bytes (0: 16 MiB). The lock is NOT held on return. */
Vm *vm_new_for_test(uint64_t ram_size);
/* A whole board (cfg->machine, NULL: "pc") built from cfg as vm_new builds it, with its
 * character devices, back ends and -device list, on the same CPU-less back end and
 * manual clock; the board makes its own APIC and I/O APIC. NULL with err set when the
 * board refuses the configuration. The RTC starts at a fixed date (2026-01-01), so that
 * what a test does replays exactly. The lock is NOT held on return; vm_free frees it. */
Vm *vm_new_board_for_test(const VmConfig *cfg, GError **err);
/* A -global default (DRIVER.PROP=VALUE) for devices created after the call. */
void vm_test_add_global(Vm *vm, const char *global);
/* A -drive if=none,id=ID,file=FILE[,format=FORMAT] for devices created after the call. */
void vm_test_add_drive(Vm *vm, const char *id, const char *file, const char *format);
/* Advances virtual time by ns, firing due timers in order (takes the lock). */
void vm_test_clock_step(Vm *vm, int64_t ns);
/* Moves the manual clock on by ns without running the timers that come due: a timer
 * thread kept from running (a loaded host). The next step runs them, late. */
void vm_test_clock_jump(Vm *vm, int64_t ns);
/* The INTR pin as the board last drove it, and whether an NMI is pending. */
bool vm_test_cpu_intr(Vm *vm);
/* Runs the board's interrupt acknowledge (as the CPU would). */
int vm_test_intr_ack(Vm *vm);
/* Reset and exit requests a device made: */
bool vm_test_take_reset_request(Vm *vm);
/* Runs every reset handler, as a system reset does (takes the lock). */
void vm_test_system_reset(Vm *vm);
