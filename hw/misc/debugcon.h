/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debug console ports: bytes written go to a character device. SeaBIOS on a QEMU board
 * logs to 0x402; Bochs-style software writes to 0xE9. */
#pragma once

#include "engine/machine.h"

void debugcon_new(Vm *vm, uint16_t port, Chardev *chr);
