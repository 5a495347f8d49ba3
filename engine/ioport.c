/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port I/O dispatch: a 64 Ki entry table of owners, rebuilt for the ports a change
 * touches; accesses are split to the sizes each owner declares. */
#include "engine/ioport.h"
#include "engine/log.h"

#define NPORTS 0x10000u

struct PortRegion {
    IoSpace *io;
    char *name;
    uint32_t base, count;
    const PortOps *ops;
    void *opaque;
    bool enabled;
    bool weak;
};

struct IoSpace {
    PortRegion *owner[NPORTS];
    GPtrArray *regions; /* registration order; later wins */
};

IoSpace *io_new(void)
{
    IoSpace *io = g_new0(IoSpace, 1);
    io->regions = g_ptr_array_new();
    return io;
}

void io_free(IoSpace *io)
{
    if (!io)
        return;
    for (guint i = 0; i < io->regions->len; i++) {
        PortRegion *r = io->regions->pdata[i];
        g_free(r->name);
        g_free(r);
    }
    g_ptr_array_free(io->regions, TRUE);
    g_free(io);
}

static void rebuild(IoSpace *io, uint32_t start, uint32_t count)
{
    uint32_t end = MIN(start + count, NPORTS);
    for (uint32_t p = start; p < end; p++)
        io->owner[p] = NULL;
    for (guint i = 0; i < io->regions->len; i++) {
        PortRegion *r = io->regions->pdata[i];
        if (!r->enabled)
            continue;
        uint32_t lo = MAX(r->base, start), hi = MIN(r->base + r->count, end);
        for (uint32_t p = lo; p < hi; p++)
            io->owner[p] = r;
    }
}

PortRegion *io_add(IoSpace *io, const char *name, uint32_t base, uint32_t count,
                   const PortOps *ops, void *opaque)
{
    g_assert(count > 0 && base < NPORTS);
    PortRegion *r = g_new0(PortRegion, 1);
    r->io = io;
    r->name = g_strdup(name);
    r->base = base;
    r->count = count;
    r->ops = ops;
    r->opaque = opaque;
    r->enabled = true;
    g_ptr_array_add(io->regions, r);
    rebuild(io, base, count);
    return r;
}

void io_region_set_base(PortRegion *r, uint32_t base)
{
    uint32_t old = r->base;
    r->base = base;
    rebuild(r->io, old, r->count);
    rebuild(r->io, base, r->count);
}

void io_region_set_enabled(PortRegion *r, bool enabled)
{
    r->enabled = enabled;
    rebuild(r->io, r->base, r->count);
}

void io_region_remove(PortRegion *r)
{
    IoSpace *io = r->io;
    g_ptr_array_remove(io->regions, r);
    rebuild(io, r->base, r->count);
    g_free(r->name);
    g_free(r);
}

uint32_t io_region_base(const PortRegion *r)
{
    return r->base;
}

const char *io_owner(IoSpace *io, uint16_t port)
{
    return io->owner[port] ? io->owner[port]->name : NULL;
}

void io_region_set_weak(PortRegion *r, bool weak)
{
    r->weak = weak;
}

const char *io_claimed_by(IoSpace *io, uint16_t port)
{
    const PortRegion *r = io->owner[port];
    return r && !r->weak ? r->name : NULL;
}

static inline uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

uint32_t io_read(IoSpace *io, uint16_t port, unsigned size)
{
    PortRegion *r = io->owner[port];
    if (r) {
        unsigned min = r->ops->min_size ? r->ops->min_size : 1;
        unsigned max = r->ops->max_size ? r->ops->max_size : 4;
        uint32_t off = port - r->base;
        if (size >= min && size <= max && off + size <= r->count && r->ops->read)
            return r->ops->read(r->opaque, off, size) & size_mask(size);
        if (size < min && r->ops->read) {
            /* A byte read of a word-only register: the low bytes of a wider read. */
            return r->ops->read(r->opaque, off, min) & size_mask(size);
        }
        if (size == 1) {
            if (!r->ops->read)
                return 0xff;
            return r->ops->read(r->opaque, off, 1) & 0xff;
        }
    } else if (size == 1) {
        VLOG(LOG_IOPORT, "unassigned inb 0x%04x", port);
        return 0xff;
    }
    /* Split: each byte (or word) goes to whoever owns that port. */
    unsigned step = (size == 4 && r && (r->ops->max_size ? r->ops->max_size : 4) >= 2) ? 2 : 1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i += step)
        v |= io_read(io, (uint16_t)(port + i), step) << (8 * i);
    return v;
}

void io_write(IoSpace *io, uint16_t port, uint32_t value, unsigned size)
{
    value &= size_mask(size);
    PortRegion *r = io->owner[port];
    if (r) {
        unsigned min = r->ops->min_size ? r->ops->min_size : 1;
        unsigned max = r->ops->max_size ? r->ops->max_size : 4;
        uint32_t off = port - r->base;
        if (size >= min && size <= max && off + size <= r->count) {
            if (r->ops->write)
                r->ops->write(r->opaque, off, value, size);
            return;
        }
        if (size < min) {
            /* Narrow write to a wide-only register: widen with zeros, as the bus does. */
            if (r->ops->write)
                r->ops->write(r->opaque, off, value, min);
            return;
        }
        if (size == 1) {
            if (r->ops->write)
                r->ops->write(r->opaque, off, value, 1);
            return;
        }
    } else if (size == 1) {
        VLOG(LOG_IOPORT, "unassigned outb 0x%04x, 0x%02x", port, value);
        return;
    }
    unsigned step = (size == 4 && r && (r->ops->max_size ? r->ops->max_size : 4) >= 2) ? 2 : 1;
    for (unsigned i = 0; i < size; i += step)
        io_write(io, (uint16_t)(port + i), value >> (8 * i), step);
}
