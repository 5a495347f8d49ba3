/* SPDX-License-Identifier: GPL-2.0-or-later */
/* isa-debug-exit: a write of v ends the VM with exit status v*2+1, as QEMU's device does,
 * so test guests report their verdict through the process exit status. */
#pragma once

#include "engine/machine.h"

/* At port..port+3; false (err says which device owns one) when a port is taken. */
bool debugexit_new(Vm *vm, uint16_t port, GError **err);
