/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM-state area of internal snapshots ("Snapshots", vm_state_size): the saved
 * machine state is stored like guest data, in the guest address space past the virtual
 * disk, from the first L1 entry that maps no disk cluster on. savevm writes it into the
 * active layer before the snapshot is taken; the snapshot's copy of the L1 table then
 * keeps it, and applying the snapshot brings it back where it was. */
#include "disks/qcow2-internal.h"

uint64_t qcow2_vmstate_offset(const Qcow2State *s)
{
    /* QEMU's l1_vm_state_index << (cluster_bits + l2_bits): not the disk size itself
     * but the next L1 boundary, so no L2 table maps disk and VM state at once. */
    unsigned shift = s->cluster_bits + s->l2_bits;
    return ((s->size + (1ULL << shift) - 1) >> shift) << shift;
}

bool qcow2_vmstate_discard(Qcow2State *s, uint64_t len, GError **err)
{
    uint64_t start = qcow2_vmstate_offset(s);
    /* Nothing past the L1 table is allocated; discard must not reach there. */
    uint64_t covered = (uint64_t)s->l1_size << (s->cluster_bits + s->l2_bits);
    if (start >= covered || len == 0)
        return true;
    if (len > covered - start)
        len = covered - start;
    len = (len + s->cluster_size - 1) & ~(s->cluster_size - 1);
    /* Unallocated rather than zero-flagged (QEMU's choice): nobody reads the area before
     * the next savevm rewrites it, and it costs no new L2 table where none was. */
    return qcow2_discard_clusters(s, start, len, true, err);
}

/* Checks the request and returns the guest offset where it starts. Lock held. */
static bool vmstate_range(Qcow2State *s, uint64_t pos, size_t len, uint64_t *guest,
                          GError **err)
{
    unsigned shift = s->cluster_bits + s->l2_bits;
    uint64_t base = qcow2_vmstate_offset(s);
    /* The largest L1 table QEMU accepts bounds the guest address space. */
    uint64_t limit = ((uint64_t)QCOW2_MAX_L1_BYTES / 8) << shift;
    if (base > limit || pos > limit - base || len > limit - base - pos) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "%s: VM state range %" PRIu64 "+%zu is beyond what the L1 table can map",
                    s->img->filename, pos, len);
        return false;
    }
    *guest = base + pos;
    return true;
}

static Qcow2State *vmstate_state(BlockImage *img, GError **err)
{
    Qcow2State *s = qcow2_state(img);
    if (!s)
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "%s: only qcow2 images can hold VM state", block_filename(img));
    return s;
}

bool qcow2_vmstate_write(BlockImage *img, uint64_t pos, const void *buf, size_t len,
                         GError **err)
{
    Qcow2State *s = vmstate_state(img, err);
    if (!s)
        return false;
    if (s->read_only) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY, "%s is open read-only",
                    img->filename);
        return false;
    }
    if (len == 0)
        return true;
    uint64_t guest;
    g_mutex_lock(&s->lock);
    /* The header's L1 table covers the disk only: grow it over the area first, as an
     * allocating write past the table would be taken for corruption. */
    bool ok = vmstate_range(s, pos, len, &guest, err) &&
              qcow2_grow_l1(s, qcow2_l1_index(s, guest + len - 1) + 1, err);
    g_mutex_unlock(&s->lock);
    return ok && qcow2_pwrite(img, guest, buf, len, err);
}

bool qcow2_vmstate_read(BlockImage *img, uint64_t pos, void *buf, size_t len, GError **err)
{
    Qcow2State *s = vmstate_state(img, err);
    if (!s)
        return false;
    if (len == 0)
        return true;
    uint64_t guest;
    g_mutex_lock(&s->lock);
    bool ok = vmstate_range(s, pos, len, &guest, err);
    g_mutex_unlock(&s->lock);
    /* Unallocated clusters read like the disk's (zeros, or the backing file as QEMU
     * reads them); past the L1 table they are unallocated. */
    return ok && qcow2_pread(img, guest, buf, len, err);
}
