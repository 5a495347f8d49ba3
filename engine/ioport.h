/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The x86 I/O port space: 64 Ki ports, 8/16/32-bit accesses split according to each
 * region's declared access sizes. Dispatch runs with the engine lock held. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct PortOps {
    /* offset is relative to the region's base. */
    uint32_t (*read)(void *opaque, uint32_t offset, unsigned size);
    void (*write)(void *opaque, uint32_t offset, uint32_t value, unsigned size);
    /* Sizes the device handles (1, 2 or 4); others are split little-endian.
     * 0 means 1 for min_size and 4 for max_size. A wider access that is split reads
     * consecutive ports, each going to whatever region owns it. */
    unsigned min_size, max_size;
} PortOps;

typedef struct IoSpace IoSpace;
typedef struct PortRegion PortRegion;

IoSpace *io_new(void);
void io_free(IoSpace *io);

/* Later registrations win over earlier ones where they overlap. */
PortRegion *io_add(IoSpace *io, const char *name, uint32_t base, uint32_t count,
                   const PortOps *ops, void *opaque);
void io_region_set_base(PortRegion *r, uint32_t base);
void io_region_set_enabled(PortRegion *r, bool enabled);
void io_region_remove(PortRegion *r);
uint32_t io_region_base(const PortRegion *r);

/* Unassigned ports read as all ones and ignore writes (logged under -d ioport). */
uint32_t io_read(IoSpace *io, uint16_t port, unsigned size);
void io_write(IoSpace *io, uint16_t port, uint32_t value, unsigned size);

/* A weak region is a card's secondary decode of ports another card may own (the SB16
 * answering at the AdLib's 0x388): it serves them until a later region takes them, and
 * io_claimed_by does not report it, so that card can still be configured there. */
void io_region_set_weak(PortRegion *r, bool weak);

/* The name of the region serving a port, or NULL. */
const char *io_owner(IoSpace *io, uint16_t port);
/* The same, except that a weak region does not count as a claim. */
const char *io_claimed_by(IoSpace *io, uint16_t port);
