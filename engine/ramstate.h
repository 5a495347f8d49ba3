/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest RAM in a VM state stream: zero pages cost one bit, the others go through zstd in
 * chunks of 256 pages (1 MiB), so a mostly idle guest saves small and fast.
 *
 * Layout, little-endian: u64 RAM size, u32 page size (4096), u32 pages per chunk (256);
 * then for each chunk: u32 count of non-zero pages, a bitmap of 32 bytes (bit n: page n
 * of the chunk is non-zero and present), u32 compressed length, and a zstd frame holding
 * exactly the non-zero pages in order (no frame when the count is 0); at the end a u32
 * CRC-32 of everything before it.
 *
 * Saving and loading run while the vCPUs are stopped and devices do no DMA (the caller
 * holds the VM paused). Only main RAM is here; RAM of devices (video memory) is theirs. */
#pragma once

#include "engine/memory.h"

#include <glib.h>

/* Appends the RAM section's payload to out. */
bool ram_state_save(GuestMemory *m, GByteArray *out, GError **err);
/* Checks the whole payload (size, structure, every frame decompresses to its page
 * count) before it writes any page: a refused payload leaves RAM unchanged. Decoded
 * code and cached translations are dropped afterwards. */
bool ram_state_load(GuestMemory *m, const uint8_t *buf, size_t len, GError **err);
/* The same checks without writing anything (a whole-VM load checks every part first). */
bool ram_state_check(GuestMemory *m, const uint8_t *buf, size_t len, GError **err);
/* ram_state_load for a payload ram_state_check accepted (the same bytes, unchanged since):
 * skips the second checking pass. */
bool ram_state_load_checked(GuestMemory *m, const uint8_t *buf, size_t len, GError **err);
