/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshot tree of a library VM, on qcow2 overlays (DESIGN.md "Snapshots").
 *
 * A snapshot is a frozen set of layers, one per disk of the VM (hda, hdb, hdd, vda-vdd,
 * fda, fdb in vm.conf). Taking one freezes the disks' current top layers (a raw base disk
 * included) and the VM continues on new qcow2 overlays over them; reverting drops the
 * current top layers and continues on fresh overlays over the snapshot's; taking after
 * a revert makes a branch. Beside the layers a snapshot keeps the vm.conf as it was,
 * the VM state (engine/savevm.h stream) when it was taken from a running VM, and a
 * thumbnail of its screen. Every image stays a plain qcow2 chain (qemu-img info
 * --backing-chain and check accept it; QEMU runs the top image) whose backing names
 * are relative inside the VM folder, so a moved or renamed folder keeps working.
 *
 * In the VM folder:
 *   vm.conf                     [drives] name the current top layers; [snapshot-tree]
 *                               generation= the tree generation it belongs to
 *   snapshots.json              the tree (json-glib), replaced atomically
 *   snapshots/layer-ID-SLOT.qcow2, state-ID.vmstate, thumb-ID.png, conf-ID.conf
 *   snapshots/lock              flock()ed during an operation
 *
 * Deleting a snapshot N:
 *   - no children: its files are freed (a layer outside the VM folder is only forgotten);
 *   - one child (another snapshot, or the current state when the VM runs on an overlay
 *     over N): N's layer is merged into the child (qemu-img rebase's safe mode: every
 *     cluster that would read differently without N is copied into the child, then the
 *     child's backing file becomes N's parent) and N's files are freed;
 *   - two or more children: N is hidden (not listed, not revertable) and its layer stays
 *     while they need it. When deleting or reverting later leaves a hidden snapshot one
 *     child it is merged into it, with none it is freed, in the same operation.
 * The merge copies into the child only what the child does not override, so it never
 * changes what the child reads: a merge cut short leaves both snapshots as they were.
 *
 * Crash safety: snapshots.json is the commit point. Every operation
 *   1. creates its new files (overlays, state, thumbnail, vm.conf copy) and fsyncs them
 *      and the folder; a merge first writes snapshots/merge.journal naming its child
 *      images, then copies clusters into them (content-preserving, see above);
 *   2. writes the vm.conf it will leave as snapshots/vm.conf.next (fsynced);
 *   3. writes snapshots.json.tmp, fsyncs it, renames it over snapshots.json and fsyncs
 *      the folder: from here on the operation happened;
 *   4. renames vm.conf.next over vm.conf, unlinks what the new tree no longer uses
 *      (listed in the tree as garbage until then) and the journal.
 * Recovery (snaptree_recover; every operation, vireo-run --vm and the library run it
 * first) finishes step 4 when vm.conf.next carries the tree's generation and removes it
 * otherwise, unlinks the garbage and every snapshots/ file of the tree's naming that the
 * tree does not reference (an operation killed before step 3), and repairs leaked
 * clusters in the images a merge journal names. SIGKILL at any point therefore leaves the
 * VM runnable in the old or the new state. Free space is checked before anything is
 * written ("not enough free space ...").
 *
 * A VM that is running in another process (its images are locked) is refused by the
 * functions without a Vm: a running VM's own process uses the vm_snaptree_* calls,
 * reachable through the control socket (x-snapshot-tree-*).
 *
 * Threads: the snaptree_* functions do blocking file I/O (a merge copies data); the app
 * calls them from a worker thread (GTask) for a VM that is not running and shows the
 * progress callback's figures (called on that thread). The vm_snaptree_* functions run
 * on the main loop with the engine lock not held, like engine/snapshots.h: they pause
 * the VM for their duration (for a merge that is the whole copy) and resume it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Vm Vm;

#define SNAPTREE_FILE "snapshots.json"
#define SNAPTREE_DIR "snapshots"

/* One snapshot as the views list it. Paths are absolute. */
typedef struct SnapTreeNode {
    char *id;               /* a UUID */
    char *parent_id;        /* NULL for a root */
    char *name;
    char *description;
    int64_t created;        /* Unix time, seconds */
    bool has_state;         /* taken from a running VM: reverting resumes it */
    uint64_t state_size;    /* bytes of the VM state file */
    char *thumbnail;        /* PNG, or NULL */
    bool current;           /* "you are here": the VM's current state grew from it */
    unsigned depth;         /* 0 for roots */
} SnapTreeNode;

void snaptree_node_free(SnapTreeNode *n);

/* Percent done of the data a merge copies. */
typedef void (*SnapTreeProgressFn)(void *opaque, double percent);

/* Finishes or undoes an operation a crash cut short. Without snapshots.json it does
 * nothing. Another process's operation in progress is left alone (true). */
bool snaptree_recover(const char *vm_dir, GError **err);

/* The visible snapshots, parents before children, siblings by date. */
GPtrArray *snaptree_list(const char *vm_dir, GError **err);

/* A snapshot's id from an id, a unique id prefix of at least 4 characters, or a unique
 * name; an error names the candidates of an ambiguous name. */
char *snaptree_resolve(const char *vm_dir, const char *id_or_name, GError **err);

/* Disk-only snapshot of a VM that is not running; returns the new id. */
char *snaptree_take(const char *vm_dir, const char *name, const char *description,
                    GError **err);
/* The VM (not running) continues from the snapshot, powered off; a snapshot taken
 * from a running VM is resumed by the next vireo-run --vm / app start. */
bool snaptree_revert(const char *vm_dir, const char *id, GError **err);
bool snaptree_delete(const char *vm_dir, const char *id, SnapTreeProgressFn progress,
                     void *opaque, GError **err);
/* New name and/or description (NULL keeps). Allowed while the VM runs. */
bool snaptree_set_info(const char *vm_dir, const char *id, const char *name,
                       const char *description, GError **err);

/* What a revert would throw away: the bytes written to the disks since the last take
 * or revert (the data in the current top layers), for the view's question. Reads the
 * images even while the VM runs. */
bool snaptree_current_changes(const char *vm_dir, uint64_t *bytes, GError **err);

/* The VM state a reverted-to snapshot left for the next start, or NULL (no error). */
char *snaptree_pending_state(const char *vm_dir, GError **err);
/* The next start consumed it: forgets it before the guest runs. */
bool snaptree_clear_pending_state(const char *vm_dir, GError **err);

/* ---- a running VM (its own process; engine/snaptree-vm.c) ---- */

/* Snapshot with the VM state and a thumbnail; the VM runs on afterwards (paused VMs
 * stay paused). Returns the new id. */
char *vm_snaptree_take(Vm *vm, const char *name, const char *description, GError **err);
/* Disks go back to the snapshot; the machine continues from its state, or, for a
 * disk-only snapshot, is reset onto those disks. */
bool vm_snaptree_revert(Vm *vm, const char *id, GError **err);
bool vm_snaptree_delete(Vm *vm, const char *id, SnapTreeProgressFn progress, void *opaque,
                        GError **err);
/* At start (VM started paused): loads the state a revert left pending and forgets it.
 * *loaded says whether there was one. */
bool vm_snaptree_resume_pending(Vm *vm, bool *loaded, GError **err);
