/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PIIX4-style ACPI power management function (01.3): PM timer, PM1 event and control
 * blocks, GPE0, SCI on IRQ 9, the APM control port 0xB2 that switches ACPI mode on, and
 * power off through SLP_TYP/SLP_EN. */
#pragma once

#include "hw/pci/pci.h"

#define PIIX4_PM_SCI_IRQ 9
#define PIIX4_PM_APM_CNT 0xb2
#define PIIX4_PM_ACPI_ENABLE 0xf1
#define PIIX4_PM_ACPI_DISABLE 0xf0
/* Where SeaBIOS places the block on a board with ACPI tables from fw_cfg. */
#define PIIX4_PM_BASE_DEFAULT 0x600
#define PIIX4_PM_GPE0_OFFSET 0x0c
#define PIIX4_PM_GPE0_LEN 4
/* SLP_TYP value our DSDT gives \_S5. */
#define PIIX4_PM_SLP_TYP_S5 0

typedef struct Piix4PmState Piix4PmState;

Piix4PmState *piix4_pm_new(Vm *vm, PciBus *bus, int devfn, const IrqLine *sci);
/* The ACPI power button (the class's power_button hook, the engine's vm_powerdown). */
void piix4_pm_power_button(Piix4PmState *s);
