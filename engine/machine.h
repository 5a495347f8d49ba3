/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What boards (machines/) and devices (hw/) use of the engine: the lock, the address
 * spaces, reset, guest requests and the CPU's interrupt pins. Front ends use engine/vm.h. */
#pragma once

#include "engine/vm.h"
#include "engine/memory.h"
#include "engine/ioport.h"
#include "engine/irq.h"
#include "engine/timer.h"
#include "engine/log.h"
#include "engine/chardev.h"
#include "engine/device.h"

/* The engine lock. Device callbacks (port, MMIO, timers, chardev input) already hold it;
 * take it only when entering device code from elsewhere (UI, control socket). */
void vm_lock(Vm *vm);
void vm_unlock(Vm *vm);

GuestMemory *vm_mem(Vm *vm);
IoSpace *vm_io(Vm *vm);

/* Reset handlers run on every system reset, in registration order, lock held, vCPU stopped. */
typedef void (*VmResetFn)(void *opaque);
void vm_add_reset_handler(Vm *vm, VmResetFn fn, void *opaque);
/* For the board's own glue that holds no guest state (it needs no state section). */
void vm_add_board_reset_handler(Vm *vm, VmResetFn fn, void *opaque);

/* Run at power-off or vm_free to release device resources, lock not held. */
void vm_add_cleanup(Vm *vm, GDestroyNotify fn, void *opaque);

/* Requests a guest makes through devices (lock held; they take effect on the vCPU thread). */
void vm_request_reset(Vm *vm, VmResetReason why);
void vm_request_shutdown(Vm *vm);
void vm_request_exit(Vm *vm, int status);

/* The CPU's pins, driven by the board's interrupt controller. */
void vm_set_cpu_intr(Vm *vm, int level);
void vm_cpu_nmi(Vm *vm);
/* The board answers the CPU's interrupt acknowledge cycle with a vector. */
typedef int (*IntrAckFn)(void *opaque);
void vm_set_intr_ack(Vm *vm, IntrAckFn fn, void *opaque);
/* The CPU's FERR# output, for the board's IRQ13 latch (called with the lock held),
 * and the IGNNE# input that latch drives. */
typedef void (*VmFerrFn)(void *opaque, bool asserted);
void vm_set_ferr_handler(Vm *vm, VmFerrFn fn, void *opaque);
void vm_set_ignne(Vm *vm, bool asserted);
/* The board's local APIC as the CPU reaches it: IA32_APIC_BASE (MSR 0x1B). Registered by
 * the APIC model; the CPU then reports an APIC in CPUID. set_base returns false for a
 * value the CPU refuses with #GP. */
typedef struct VmApicOps {
    uint64_t (*get_base)(void *opaque);
    bool (*set_base)(void *opaque, uint64_t value);
} VmApicOps;
void vm_set_apic(Vm *vm, const VmApicOps *ops, void *opaque);
/* Whether the board should build its own local and I/O APIC: the CPU back end takes
 * its APIC from the board (the interpreter) and no kernel irqchip provides one. */
bool vm_wants_board_apic(Vm *vm);
/* A20 gate (port 0x92, i8042 output port): the CPU masks address bit 20 when low. */
void vm_set_a20(Vm *vm, bool enabled);
bool vm_a20(Vm *vm);
/* A PC has two A20 controls and the gate is open while either enables it (PIIX3:
 * A20M# is asserted only when port 0x92 bit 1 and the 8042's A20GATE are both low).
 * Each device sets its own source; the gate follows their OR. */
typedef enum { VM_A20_KBC = 1u << 0, VM_A20_PORT92 = 1u << 1 } VmA20Source;
void vm_set_a20_source(Vm *vm, VmA20Source src, bool enabled);
/* An accelerator that emulates the interrupt controllers and PIT in the host kernel. */
bool vm_kernel_irqchip(Vm *vm);
/* Sets a global system interrupt line in the kernel irqchip. */
void vm_kernel_irq_line(Vm *vm, unsigned gsi, int level);

/* The board's private state, found again by reset handlers and the control socket. */
void vm_set_board(Vm *vm, void *board);
void *vm_board(Vm *vm);

/* Character device opened for serial port N or the debug console, or NULL. */
Chardev *vm_serial_chardev(Vm *vm, unsigned n);
Chardev *vm_debugcon_chardev(Vm *vm);

/* Boards register themselves; vm_new finds them by VmConfig.machine. */
typedef struct MachineClass {
    const char *name;
    const char *description;
    bool (*init)(Vm *vm, const VmConfig *cfg, GError **err);
} MachineClass;
void machine_register(const MachineClass *mc);
const MachineClass *machine_find(const char *name);
