/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PC/AT's two cascaded 8237A DMA controllers: channels 0-3 move bytes, 4-7 words
 * (4 is the cascade from the first controller). Ports 0x00-0x0F, 0xC0-0xDF and the
 * page registers 0x81-0x8F. */
#pragma once

#include "engine/machine.h"

typedef struct IsaDma IsaDma;

IsaDma *i8237_new(Vm *vm);

/* What the channel's mode register asks for (8237A mode register bits 3:2). */
typedef enum {
    I8237_VERIFY = 0,       /* no memory cycles */
    I8237_TO_MEMORY = 1,    /* "write transfer": device -> memory */
    I8237_FROM_MEMORY = 2,  /* "read transfer": memory -> device */
} I8237Direction;

/* True when the channel may run: unmasked, its controller enabled and, for 0-3, the
 * cascade channel 4 unmasked. Lock held. */
bool i8237_channel_ready(IsaDma *d, unsigned channel);
I8237Direction i8237_direction(IsaDma *d, unsigned channel);

/* Moves up to len bytes between buf and guest memory in the channel's programmed
 * direction (TO_MEMORY copies buf out, FROM_MEMORY fills buf, VERIFY touches neither)
 * and advances the address and count. Stops at terminal count. Returns the bytes
 * moved; 0 when the channel is not ready. Memory outside RAM reads as 0xFF and drops
 * writes. Lock held. *tc (may be NULL) tells whether terminal count was reached. */
/* A device's DREQ line, reported in the status register's request bits (a device that
 * waits for service, such as a sound card between blocks, holds it). Lock held. */
void i8237_set_dreq(IsaDma *d, unsigned channel, bool level);

size_t i8237_transfer(IsaDma *d, unsigned channel, uint8_t *buf, size_t len, bool *tc);
