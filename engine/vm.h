/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One virtual machine, as front ends (vireo-run, the GTK app, the control socket) see it.
 * Every function here may be called from the UI thread; none waits on the guest. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include "engine/config.h"
#include "cpu/cpu-state.h"

typedef struct Vm Vm;

typedef enum {
    VM_STATE_CREATED,   /* built, not started */
    VM_STATE_RUNNING,
    VM_STATE_PAUSED,
    VM_STATE_SHUTDOWN,  /* the guest powered off, or a host power off */
    VM_STATE_ERROR,     /* the CPU back end failed; see vm_error() */
} VmState;

typedef enum {
    VM_RESET_HOST,        /* a front end asked */
    VM_RESET_GUEST,       /* port 0xCF9, the i8042 reset line, port 0x92, ACPI reset */
    VM_RESET_TRIPLE_FAULT,
} VmResetReason;

const char *vm_state_name(VmState s);

/* Creates the VM and its board from the configuration. The VM does not run yet. */
Vm *vm_new(const VmConfig *cfg, GError **err);
void vm_free(Vm *vm);

bool vm_start(Vm *vm, GError **err);
/* Powers on (reset, vCPU thread) but leaves the VM paused: for loading a saved state
 * before the guest runs (-loadvm); vm_start or vm_resume then runs it. */
bool vm_start_paused(Vm *vm, GError **err);
void vm_pause(Vm *vm);
void vm_resume(Vm *vm);
void vm_reset(Vm *vm);
/* Presses the ACPI power button: the guest decides. */
void vm_powerdown(Vm *vm);
/* Removable media (QEMU's device names: "floppy0", "floppy1", "ide1-cd0"): filename NULL
 * ejects, otherwise the image is opened (format NULL probes) and inserted. The device
 * that owns the drive serves it. Takes the lock. */
bool vm_change_media(Vm *vm, const char *device, const char *filename, const char *format,
                     bool read_only, GError **err);
/* Pulls the plug. */
void vm_poweroff(Vm *vm);
/* Hot plug, as QMP's device_add and device_del: a device of a class that may come and go
 * while the VM runs (USB devices) from a -device spec "DRIVER,PROP=VALUE,...,id=ID", and
 * its removal by id. Take the lock; errors are one line. */
bool vm_device_add(Vm *vm, const char *spec, GError **err);
bool vm_device_del(Vm *vm, const char *id, GError **err);

VmState vm_get_state(Vm *vm);
const VmConfig *vm_config(Vm *vm);
/* The initial APIC ID of processor index under -smp's topology (cpu_topology_apic_id),
 * and one above the highest, up to which firmware looks for processors. */
unsigned vm_cpu_apic_id(Vm *vm, unsigned index);
unsigned vm_cpu_apic_id_limit(Vm *vm);
const char *vm_name(Vm *vm);
/* Exit status a guest asked for through isa-debug-exit (value*2+1), or -1. */
int vm_exit_status(Vm *vm);
/* Why the VM entered VM_STATE_ERROR. */
const char *vm_error(Vm *vm);
/* The CPU back end in use ("kvm", "interp", ...). */
const char *vm_accel_name(Vm *vm);
/* The vCPU's whole architectural state (cpu/cpu-state.h), for VM state save/load and
 * debuggers. Only while the VM is not running (paused, created or shut down); waits
 * until the vCPU thread has left the guest. set refuses a state the CPU cannot hold
 * with one line in err and leaves the vCPU unchanged. */
bool vm_cpu_get_state(Vm *vm, CpuX86State *s, GError **err);
bool vm_cpu_set_state(Vm *vm, const CpuX86State *s, GError **err);

/* Called on the main context (g_main_context_default) after every state change. */
typedef void (*VmStateFn)(Vm *vm, VmState state, void *data);
guint vm_add_state_listener(Vm *vm, VmStateFn fn, void *data);
void vm_remove_state_listener(Vm *vm, guint id);
