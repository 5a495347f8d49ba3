/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A configured drive's image opened through the block layer: the options every storage
 * controller honours (format, cache mode, read-only, -snapshot overlays) in one place. */
#pragma once

#include "disks/block.h"
#include "engine/config.h"
#include "engine/device.h"

#include <stdbool.h>

/* Opens dc's image (dc->file must be set). A CD is always read-only; with
 * protect_unwritable a file this user cannot write opens read-only (a write-protected
 * floppy) instead of failing. *readonly says how it was opened. Errors name the medium
 * kind and the file once. */
BlockImage *drive_open(const VmConfig *cfg, const DriveConfig *dc, bool protect_unwritable,
                       bool *readonly, GError **err);

/* For a device created with drive=ID (usb-storage, virtio-blk-pci): finds the -drive
 * if=none,id=ID, refuses it when another device of any class names it in its own drive=
 * property, and opens it. *dc_out (may be NULL) gets the drive's configuration. Errors
 * name the device kind (what) and the drive. */
BlockImage *drive_open_by_id(Device *dev, const char *what, const char *drive_id, bool *readonly,
                             const DriveConfig **dc_out, GError **err);

/* The name (drive= value) of an if=virtio drive: its id=, else virtioN as QEMU names it. */
char *drive_virtio_name(const VmConfig *cfg, const DriveConfig *dc);

/* A virtio-blk-pci on the root PCI bus for each if=virtio drive, in the configuration's
 * order (lock held): the board calls this before the -device list, as QEMU does.
 * created (may be NULL) hears of each device as it is realized. */
typedef void (*DriveCreatedFn)(void *opaque, const DriveConfig *dc, Device *dev);
bool drive_create_virtio_devices(Vm *vm, DriveCreatedFn created, void *opaque, GError **err);
