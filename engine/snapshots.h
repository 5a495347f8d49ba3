/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Internal snapshots as QEMU's savevm/loadvm/delvm make them: every writable disk gets
 * a qcow2 internal snapshot of the same name, and the whole VM state (engine/savevm.h)
 * goes into the VM-state area of the first writable qcow2 disk, so qemu-img snapshot -l
 * lists it. A VM with no writable disk at all keeps the state in a file in its library
 * folder instead (snapshots/NAME.vmstate). A writable disk that is not qcow2 makes
 * savevm refuse, as in QEMU.
 *
 * All run on the main loop with the engine lock NOT held; they pause the VM, let disk
 * I/O finish, and resume it afterwards if it was running. Errors are one line. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Vm Vm;

typedef struct VmSnapshotInfo {
    char *id;
    char *name;
    uint64_t vm_state_size;
    int64_t date_sec;
    uint64_t vm_clock_ns;
} VmSnapshotInfo;

bool vm_snapshot_save(Vm *vm, const char *name, GError **err);
/* Disks go back to the snapshot and the VM continues from its state. A state the VM
 * refuses (another RAM size, other devices) leaves the VM paused with the error. */
bool vm_snapshot_load(Vm *vm, const char *name, GError **err);
bool vm_snapshot_delete(Vm *vm, const char *name, GError **err);
/* The snapshots that hold a VM state (VmSnapshotInfo, freed with the array). */
GPtrArray *vm_snapshot_list(Vm *vm, GError **err);
/* The list as QEMU's "info snapshots" prints it. */
char *vm_snapshot_list_text(Vm *vm, GError **err);
