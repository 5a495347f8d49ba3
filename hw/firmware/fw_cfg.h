/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU's firmware configuration interface (selector 0x510, data 0x511, DMA 0x514), which
 * SeaBIOS uses on a QEMU-compatible PC for RAM layout, boot order, ACPI tables, option
 * ROMs and direct kernel boot. */
#pragma once

#include "engine/machine.h"

/* Well-known selectors (QEMU's docs/specs/fw_cfg.rst). */
enum {
    FW_CFG_SIGNATURE = 0x00,
    FW_CFG_ID = 0x01,
    FW_CFG_UUID = 0x02,
    FW_CFG_RAM_SIZE = 0x03,
    FW_CFG_NOGRAPHIC = 0x04,
    FW_CFG_NB_CPUS = 0x05,
    FW_CFG_MACHINE_ID = 0x06,
    FW_CFG_KERNEL_ADDR = 0x07,
    FW_CFG_KERNEL_SIZE = 0x08,
    FW_CFG_KERNEL_CMDLINE = 0x09,
    FW_CFG_INITRD_ADDR = 0x0a,
    FW_CFG_INITRD_SIZE = 0x0b,
    FW_CFG_BOOT_DEVICE = 0x0c,
    FW_CFG_NUMA = 0x0d,
    FW_CFG_BOOT_MENU = 0x0e,
    FW_CFG_MAX_CPUS = 0x0f,
    FW_CFG_FILE_DIR = 0x19,
    FW_CFG_FILE_FIRST = 0x20,
    FW_CFG_ARCH_LOCAL = 0x8000,
    FW_CFG_ACPI_TABLES = 0x8000,
    FW_CFG_SMBIOS_ENTRIES = 0x8001,
    FW_CFG_IRQ0_OVERRIDE = 0x8002,
    FW_CFG_E820_TABLE = 0x8003,
};

#define FW_CFG_MAX_FILE_NAME 56

typedef struct FwCfgState FwCfgState;

FwCfgState *fw_cfg_new(Vm *vm, uint16_t base);

/* Items keep a reference to the bytes. */
void fw_cfg_add_bytes(FwCfgState *s, uint16_t key, GBytes *data);
void fw_cfg_add_i16(FwCfgState *s, uint16_t key, uint16_t value);
void fw_cfg_add_i32(FwCfgState *s, uint16_t key, uint32_t value);
void fw_cfg_add_i64(FwCfgState *s, uint16_t key, uint64_t value);
/* A named file in the directory; returns its selector. Replaces a file of that name. */
uint16_t fw_cfg_add_file(FwCfgState *s, const char *name, GBytes *data);
/* Guest writes to a file (the table loader's write-pointer) land in a buffer of the
 * file's size; the callback runs after each DMA write. */
typedef void (*FwCfgWriteFn)(void *opaque, const char *name, const uint8_t *data, size_t len);
uint16_t fw_cfg_add_file_writable(FwCfgState *s, const char *name, GBytes *data,
                                  FwCfgWriteFn fn, void *opaque);
/* The data of a file, or NULL (for tests). */
GBytes *fw_cfg_get_file(FwCfgState *s, const char *name);
