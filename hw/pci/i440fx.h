/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The i440FX PCI and memory controller (PMC) at 00.0: PAM shadow RAM and SMRAM. */
#pragma once

#include "hw/pci/pci.h"

typedef struct I440fxState I440fxState;

/* Creates the host bridge on bus 0 and registers the config mechanism ports. */
I440fxState *i440fx_new(Vm *vm, PciBus *bus);
