/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The whole VM's state as one stream: what savevm stores and loadvm restores.
 *
 *   header: 8 bytes "VIREOVMS", u32 format version, u32 vCPU count, u64 virtual clock
 *           (ns) at the save, u32 CRC-32 of the 24 bytes before it
 *   u32 length + the CPU section (engine/vmstate.h format, class "cpu", id "cpu0")
 *   u32 length + the devices' part (device_list_save: "VIREODEV" ...)
 *   u64 length + the RAM part (engine/ramstate.h, with its own CRC)
 *   8 bytes "VIREOEND"
 *
 * Saving needs the VM stopped (paused, created, or shut down): the vCPU is outside the
 * guest and devices finished their in-flight work. Loading checks the whole stream
 * first (every length, checksum and section, the RAM size, the CPU state the back end
 * can hold, every device present once) and only then changes the VM; on any error the
 * VM is exactly as it was and err says what was wrong in one line.
 *
 * Lock rules: both take the engine lock themselves; call them from the main loop (the
 * control socket, the app) with the VM paused. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Vm Vm;

#define VM_STATE_FORMAT_VERSION 1

/* Appends the stream to out. Refused while the VM runs, or while a device of this VM
 * has no state description yet (it would come back wrong). */
bool vm_state_save(Vm *vm, GByteArray *out, GError **err);
bool vm_state_load(Vm *vm, const uint8_t *buf, size_t len, GError **err);
