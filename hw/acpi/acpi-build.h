/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ACPI tables for the PC board, handed to SeaBIOS through fw_cfg's table loader
 * (etc/table-loader, etc/acpi/tables, etc/acpi/rsdp) as QEMU does. */
#pragma once

#include "engine/config.h"
#include "hw/firmware/fw_cfg.h"

typedef struct AcpiPcConfig {
    uint64_t ram_below_4g;  /* where the PCI memory window starts */
    uint16_t pm_base;       /* PIIX4 PM I/O block */
    unsigned sci_irq;
    bool have_apic;         /* emit a MADT (local APIC + I/O APIC) */
    unsigned ncpus;         /* at most VM_CPUS_MAX */
    uint8_t apic_ids[VM_CPUS_MAX]; /* each processor's local APIC ID */
    uint8_t com_mask;       /* bit n: COM n+1 present */
    bool have_hpet;         /* an HPET table and the DSDT's HPET device */
} AcpiPcConfig;

void acpi_build_pc_tables(FwCfgState *fw, const AcpiPcConfig *cfg);
