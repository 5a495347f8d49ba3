/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Direct kernel boot (-kernel, -initrd, -append) as QEMU does it: the pieces go into
 * fw_cfg and a small option ROM (vireoboot.asm) copies them into place at boot time.
 * Linux bzImage (boot protocol 2.02 and later) and Multiboot v1 kernels are supported. */
#pragma once

#include "hw/firmware/fw_cfg.h"

typedef struct KernelLoadInfo {
    uint64_t ram_below_4g;
    uint64_t ram_above_4g;
} KernelLoadInfo;

bool kernel_load(FwCfgState *fw, const char *kernel, const char *initrd, const char *cmdline,
                 const KernelLoadInfo *info, GError **err);

/* The boot ROM image (checksums filled in), and its fw_cfg name. */
#define VIREOBOOT_ROM_NAME "genroms/vireoboot.bin"
GBytes *vireoboot_rom(void);
