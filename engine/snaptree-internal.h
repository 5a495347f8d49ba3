/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What engine/snaptree.c offers engine/snaptree-vm.c: the operations with the extras a
 * running VM brings (its state, its screen) and the current top layers they leave. */
#pragma once

#include "engine/snaptree.h"

#include <stddef.h>

typedef struct SnapTreeOp {
    /* In: the VM runs in this process (its images are closed for the operation), so
     * its images being in use is not checked and no state is left pending. */
    bool vm_running;
    /* In (take): the VM state stream, and a PNG in snapshots/ (named thumb-*) that
     * becomes the snapshot's thumbnail. */
    const uint8_t *state;
    size_t state_len;
    char *thumb_tmp;
    /* In (revert): called with the new top layers (slot -> absolute path) once they
     * exist, before the commit; false undoes the operation. */
    bool (*before_commit)(struct SnapTreeOp *op, GHashTable *tops, GError **err);
    void *opaque;
    /* Out: the current top layers afterwards, slot ("hda") -> absolute path. */
    GHashTable *tops;
} SnapTreeOp;

void snaptree_op_clear(SnapTreeOp *op);

/* The current top layers vm.conf names: slot -> absolute path. */
GHashTable *snaptree_current_tops(const char *vm_dir, GError **err);
char *snaptree_take_op(const char *vm_dir, const char *name, const char *description,
                       SnapTreeOp *op, GError **err);
bool snaptree_revert_op(const char *vm_dir, const char *id, SnapTreeOp *op, GError **err);
bool snaptree_delete_op(const char *vm_dir, const char *id, SnapTreeProgressFn progress,
                        void *opaque, SnapTreeOp *op, GError **err);
/* The snapshot's VM state file (absolute), or NULL for a disk-only one. */
char *snaptree_state_file(const char *vm_dir, const char *id, GError **err);
