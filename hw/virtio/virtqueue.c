/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Split virtqueues (VIRTIO §2.6): the descriptor table, the available ring the driver
 * fills and the used ring the device fills, all in guest RAM. Every address the guest
 * gives (the rings, each descriptor's buffer, an indirect table) is checked to lie in
 * main RAM before it is used, and a chain is walked at most as many steps as its table
 * has entries, so a loop or an over-long chain is found, never followed forever. */
#include "hw/virtio/virtio.h"

#include <string.h>

/* Descriptor flags (VIRTIO §2.6.5). */
enum {
    VIRTQ_DESC_F_NEXT = 1,
    VIRTQ_DESC_F_WRITE = 2,
    VIRTQ_DESC_F_INDIRECT = 4,
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define DESC_SIZE 16

static uint64_t desc_bytes(uint16_t num) { return (uint64_t)num * DESC_SIZE; }
/* flags, idx, ring[num], used_event */
static uint64_t avail_bytes(uint16_t num) { return 6 + 2 * (uint64_t)num; }
/* flags, idx, ring[num] of {id, len}, avail_event */
static uint64_t used_bytes(uint16_t num) { return 6 + 8 * (uint64_t)num; }

void virtq_elem_init(VirtqElem *e)
{
    memset(e, 0, sizeof(*e));
    e->out = g_array_new(FALSE, FALSE, sizeof(VirtqSeg));
    e->in = g_array_new(FALSE, FALSE, sizeof(VirtqSeg));
}

void virtq_elem_clear(VirtqElem *e)
{
    if (e->out)
        g_array_free(e->out, TRUE);
    if (e->in)
        g_array_free(e->in, TRUE);
    e->out = e->in = NULL;
}

static void elem_empty(VirtqElem *e)
{
    g_array_set_size(e->out, 0);
    g_array_set_size(e->in, 0);
    e->out_len = e->in_len = 0;
}

void virtq_reset(VirtQueue *vq, uint16_t num)
{
    memset(vq, 0, sizeof(*vq));
    vq->num = num;
}

static bool rings_in_ram(const VirtQueue *vq, GuestMemory *m)
{
    return mem_is_ram(m, vq->desc, desc_bytes(vq->num)) && mem_is_ram(m, vq->avail, avail_bytes(vq->num)) &&
           mem_is_ram(m, vq->used, used_bytes(vq->num));
}

bool virtq_valid(const VirtQueue *vq, GuestMemory *m)
{
    if (vq->num > VIRTQ_MAX_SIZE || (vq->num & (vq->num - 1)))
        return false;
    /* Rings outside RAM are a state a guest can program (the device breaks when it
     * uses them); chains the device holds (taken, not yet used) are at most the ring. */
    (void)m;
    return (uint16_t)(vq->last_avail_idx - vq->used_idx) <= vq->num;
}

static void set_avail_event(VirtQueue *vq, GuestMemory *m)
{
    mem_stw(m, vq->used + 4 + 8 * (uint64_t)vq->num, vq->last_avail_idx);
}

static bool seg_add(VirtqElem *e, bool write, uint64_t addr, uint32_t len)
{
    if (!len)
        return true;
    VirtqSeg s = { addr, len };
    if (write) {
        g_array_append_val(e->in, s);
        e->in_len += len;
    } else {
        /* VIRTIO §2.6.4.2: device-readable descriptors come first. */
        if (e->in->len)
            return false;
        g_array_append_val(e->out, s);
        e->out_len += len;
    }
    return true;
}

/* Walks the chain starting at head; false with *why on any rule broken. */
static bool walk_chain(const VirtQueue *vq, GuestMemory *m, uint64_t features, uint16_t head,
                       VirtqElem *e, const char **why)
{
    hwaddr table = vq->desc;
    uint32_t table_len = vq->num;
    uint32_t idx = head, steps = 0;
    bool indirect = false;
    for (;;) {
        uint8_t d[DESC_SIZE];
        if (!mem_read(m, table + (hwaddr)idx * DESC_SIZE, d, sizeof(d))) {
            *why = "descriptor outside RAM";
            return false;
        }
        uint64_t addr = (uint64_t)pci_get_long(d, 0) | (uint64_t)pci_get_long(d, 4) << 32;
        uint32_t len = pci_get_long(d, 8);
        uint16_t flags = pci_get_word(d, 12), next = pci_get_word(d, 14);
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            /* VIRTIO §2.6.5.3.1: only the head may point at a table, without NEXT, and a
             * table holds no further indirect descriptors. */
            if (!(features & (UINT64_C(1) << VIRTIO_RING_F_INDIRECT_DESC))) {
                *why = "indirect descriptor without the feature";
                return false;
            }
            if (indirect) {
                *why = "indirect descriptor inside an indirect table";
                return false;
            }
            if (steps || (flags & VIRTQ_DESC_F_NEXT)) {
                *why = "indirect descriptor in the middle of a chain";
                return false;
            }
            if (!len || len % DESC_SIZE || len / DESC_SIZE > VIRTQ_MAX_INDIRECT) {
                *why = "indirect table of a bad length";
                return false;
            }
            if (!mem_is_ram(m, addr, len)) {
                *why = "indirect table outside RAM";
                return false;
            }
            table = addr;
            table_len = len / DESC_SIZE;
            idx = 0;
            indirect = true;
            continue;
        }
        if (++steps > table_len) {
            *why = "descriptor chain longer than its table (a loop)";
            return false;
        }
        if (len && !mem_is_ram(m, addr, len)) {
            *why = "buffer outside RAM";
            return false;
        }
        if (!seg_add(e, flags & VIRTQ_DESC_F_WRITE, addr, len)) {
            *why = "device-readable descriptor after a writable one";
            return false;
        }
        if (!(flags & VIRTQ_DESC_F_NEXT))
            return true;
        idx = next;
        if (idx >= table_len) {
            *why = "next descriptor index out of range";
            return false;
        }
    }
}

VirtqPopResult virtq_pop(VirtQueue *vq, GuestMemory *m, uint64_t features, VirtqElem *e,
                         const char **why)
{
    elem_empty(e);
    if (!vq->num || !vq->enabled)
        return VIRTQ_EMPTY;
    if (!rings_in_ram(vq, m)) {
        *why = "rings outside RAM";
        return VIRTQ_BROKEN;
    }
    bool event_idx = features & (UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX);
    uint16_t avail_idx = mem_lduw(m, vq->avail + 2);
    if (avail_idx == vq->last_avail_idx) {
        if (!event_idx)
            return VIRTQ_EMPTY;
        /* Ask for a kick at the next entry, then look again: the driver may have added
         * one before it saw the new avail_event (VIRTIO §2.6.7.1). */
        set_avail_event(vq, m);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        avail_idx = mem_lduw(m, vq->avail + 2);
        if (avail_idx == vq->last_avail_idx)
            return VIRTQ_EMPTY;
    }
    if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
        *why = "available index ran more than the ring size ahead";
        return VIRTQ_BROKEN;
    }
    /* The ring entry and descriptors are read after the index that published them. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint16_t head = mem_lduw(m, vq->avail + 4 + 2 * (uint64_t)(vq->last_avail_idx % vq->num));
    if (head >= vq->num) {
        *why = "head index out of range";
        return VIRTQ_BROKEN;
    }
    if (!walk_chain(vq, m, features, head, e, why)) {
        elem_empty(e);
        return VIRTQ_BROKEN;
    }
    e->head = head;
    vq->last_avail_idx++;
    if (event_idx)
        set_avail_event(vq, m);
    return VIRTQ_GOT;
}

bool virtq_has_avail(VirtQueue *vq, GuestMemory *m, uint64_t features)
{
    if (!vq->num || !vq->enabled || !rings_in_ram(vq, m))
        return false;
    if (mem_lduw(m, vq->avail + 2) != vq->last_avail_idx)
        return true;
    if (!(features & (UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX)))
        return false;
    set_avail_event(vq, m);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return mem_lduw(m, vq->avail + 2) != vq->last_avail_idx;
}

void virtq_unpop(VirtQueue *vq)
{
    vq->last_avail_idx--;
}

void virtq_push(VirtQueue *vq, GuestMemory *m, uint16_t head, uint32_t len)
{
    if (!vq->num || !vq->enabled)
        return;
    hwaddr ent = vq->used + 4 + 8 * (uint64_t)(vq->used_idx % vq->num);
    mem_stl(m, ent, head);
    mem_stl(m, ent + 4, len);
    /* The entry is visible before the index that publishes it (VIRTIO §2.6.8.2). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->used_idx++;
    mem_stw(m, vq->used + 2, vq->used_idx);
}

bool virtq_should_notify(VirtQueue *vq, GuestMemory *m, uint64_t features)
{
    if (!vq->num || !vq->enabled)
        return false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if ((features & (UINT64_C(1) << VIRTIO_F_NOTIFY_ON_EMPTY)) &&
        mem_lduw(m, vq->avail + 2) == vq->last_avail_idx && vq->used_idx == vq->last_avail_idx)
        return true;
    if (!(features & (UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX)))
        return !(mem_lduw(m, vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    /* VIRTIO §2.6.7.2: interrupt when used_event lies in (old, new]. */
    uint16_t old = vq->signalled_used, now = vq->used_idx;
    bool valid = vq->signalled_valid;
    vq->signalled_used = now;
    vq->signalled_valid = true;
    uint16_t ev = mem_lduw(m, vq->avail + 4 + 2 * (uint64_t)vq->num);
    return !valid || (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
}

static size_t elem_copy(GuestMemory *m, GArray *segs, size_t off, uint8_t *buf, size_t len, bool write)
{
    size_t done = 0;
    for (guint i = 0; i < segs->len && done < len; i++) {
        const VirtqSeg *s = &g_array_index(segs, VirtqSeg, i);
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        size_t n = MIN((size_t)(s->len - off), len - done);
        if (write)
            mem_write(m, s->addr + off, buf + done, n);
        else
            mem_read(m, s->addr + off, buf + done, n);
        done += n;
        off = 0;
    }
    return done;
}

size_t virtq_elem_read(GuestMemory *m, const VirtqElem *e, size_t off, void *buf, size_t len)
{
    return elem_copy(m, e->out, off, buf, len, false);
}

size_t virtq_elem_write(GuestMemory *m, const VirtqElem *e, size_t off, const void *buf, size_t len)
{
    return elem_copy(m, e->in, off, (uint8_t *)buf, len, true);
}
