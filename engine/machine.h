/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What boards (machines/) and devices (hw/) use of the engine: the lock, the address
 * spaces, reset, guest requests and the CPU's pins. Front ends use engine/vm.h. */
#pragma once

#include "engine/vm.h"
#include "engine/memory.h"
#include "engine/ioport.h"
#include "engine/irq.h"
#include "engine/timer.h"
#include "engine/log.h"
#include "engine/chardev.h"
#include "engine/device.h"
#include "engine/vcpu.h"

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

/* The CPU's INTR and NMI inputs, driven by the board's interrupt controller. */
void vm_set_cpu_intr(Vm *vm, int level);
void vm_cpu_nmi(Vm *vm);
/* The same for processor cpu (0: the bootstrap processor), and the INIT and STARTUP
 * messages a local APIC delivers to its processor (SDM vol. 3, 8.4.4 and 10.6.1). */
void vm_set_cpu_intr_n(Vm *vm, unsigned cpu, int level);
void vm_cpu_nmi_n(Vm *vm, unsigned cpu);
void vm_cpu_init_n(Vm *vm, unsigned cpu);
void vm_cpu_sipi_n(Vm *vm, unsigned cpu, uint8_t vector);
/* The processor index of the calling vCPU thread, or -1 on another thread. */
int vm_current_cpu(void);
/* Processor cpu's pins (vm_cpu_pins is processor 0's). */
CpuPins *vm_cpu_pins_n(Vm *vm, unsigned cpu);
/* The CPU's pins (CpuPins in engine/vcpu.h: INTA, FERR#, the local APIC, A20M#), for
 * the board to hand to the devices it wires to them. */
CpuPins *vm_cpu_pins(Vm *vm);
/* The IGNNE# input the IRQ 13 latch drives. */
void vm_set_ignne(Vm *vm, bool asserted);
/* Whether the board should build its own local and I/O APIC: the CPU back end takes
 * its APIC from the board (the interpreter) and no kernel irqchip provides one. */
bool vm_wants_board_apic(Vm *vm);
/* A line into the CPU's A20M# gate, input n (0-7): the board gives one to each A20
 * control (the 8042's output port, port 0x92); the gate is open while any is high. The
 * CPU masks address bit 20 while it is closed. vm_a20 reads the gate. */
IrqLine vm_cpu_a20_line(Vm *vm, unsigned n);
bool vm_a20(Vm *vm);

/* An accelerator that emulates the interrupt controllers and PIT in the host kernel. */
bool vm_kernel_irqchip(Vm *vm);
/* Sets a global system interrupt line in the kernel irqchip. */
void vm_kernel_irq_line(Vm *vm, unsigned gsi, int level);
/* The kernel irqchip's whole state (its 8259s, I/O APIC, PIT and every vCPU's local
 * APIC) as the CPU back end formats it, for savevm; NULL when it cannot be read (logged).
 * check refuses a blob the back end would not take, in one line; load puts a checked one
 * back. Lock held, every vCPU outside its back end's run loop. */
GBytes *vm_kernel_irqchip_save(Vm *vm);
bool vm_kernel_irqchip_check(Vm *vm, GBytes *state, GError **err);
void vm_kernel_irqchip_load(Vm *vm, GBytes *state);
/* Puts the kernel irqchip's 8259s, I/O APIC and PIT back to their power-on state. */
void vm_kernel_irqchip_reset(Vm *vm);

/* The board's private state, found again by reset handlers and the control socket. */
void vm_set_board(Vm *vm, void *board);
void *vm_board(Vm *vm);

/* Attachment points a board offers the devices created by name (-device): a device's
 * realize finds its bus here. Each bus's header names its key and type: "pci.0" a
 * PciBus (hw/pci/pci.h), "isa.0" an IsaBus (hw/isa/isa-bus.h). Lock held. */
void vm_add_bus(Vm *vm, const char *name, void *bus);
void *vm_find_bus(Vm *vm, const char *name);
/* The bus's owner frees it: the name is free again. */
void vm_remove_bus(Vm *vm, const char *name);

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
