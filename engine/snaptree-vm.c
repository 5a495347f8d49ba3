/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshot tree of a VM running in this process (snaptree.h): the VM is paused, its
 * disks' images are closed while snaptree.c changes the files and reopened on the
 * current top layers afterwards; take adds the VM state and a thumbnail, revert loads
 * the snapshot's state. */
#include "engine/snaptree.h"
#include "disks/block.h"
#include "engine/config.h"
#include "engine/device.h"
#include "engine/display.h"
#include "engine/machine.h"
#include "engine/savevm.h"
#include "engine/snaptree-internal.h"
#include "engine/vm.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* Thumbnails are at most this wide and high, the screen's shape kept. */
#define THUMB_MAX 240

typedef struct Attach {
    char *slot;    /* vm.conf's key */
    char *drive;   /* QMP's name */
    BlockImage *img;
} Attach;

static void attach_free(gpointer p)
{
    Attach *a = p;
    g_free(a->slot);
    g_free(a->drive);
    g_free(a);
}

static void collect(void *opaque, const char *drive, BlockImage *img, bool writable)
{
    if (!writable)
        return;
    Attach *a = g_new0(Attach, 1);
    a->drive = g_strdup(drive);
    a->img = img;
    g_ptr_array_add(opaque, a);
}

static bool same_file(const char *a, const char *b)
{
    GStatBuf x, y;
    return g_stat(a, &x) == 0 && g_stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static const char *dir_of(Vm *vm, GError **err)
{
    const char *dir = vm_config(vm)->vm_dir;
    if (!dir)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "the snapshot tree is for VMs of the library (vireo-run --vm NAME)");
    return dir;
}

/* Which drive of the running VM each of vm.conf's current top layers is. */
static GPtrArray *map_drives(Vm *vm, const char *dir, GError **err)
{
    g_autoptr(GHashTable) tops = snaptree_current_tops(dir, err);
    if (!tops)
        return NULL;
    g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func(attach_free);
    vm_lock(vm);
    device_list_for_each_image(vm, collect, images);
    vm_unlock(vm);
    GPtrArray *out = g_ptr_array_new_with_free_func(attach_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, tops);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        Attach *hit = NULL;
        for (guint i = 0; !hit && i < images->len; i++) {
            Attach *a = images->pdata[i];
            if (same_file(block_filename(a->img), v))
                hit = a;
        }
        if (!hit) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "the running VM does not write %s (%s in vm.conf): was it started with "
                        "-snapshot or other disks?", (const char *)v, (const char *)k);
            g_ptr_array_unref(out);
            return NULL;
        }
        Attach *a = g_new0(Attach, 1);
        a->slot = g_strdup(k);
        a->drive = g_strdup(hit->drive);
        g_ptr_array_add(out, a);
    }
    return out;
}

/* Closes the drives' images (the VM is paused): the file operations may rewrite them. */
static void detach(Vm *vm, GPtrArray *att)
{
    g_autoptr(GPtrArray) old = g_ptr_array_new();
    vm_lock(vm);
    device_list_drain(vm);
    for (guint i = 0; i < att->len; i++) {
        Attach *a = att->pdata[i];
        BlockImage *img = NULL;
        if (device_list_swap_image(vm, a->drive, NULL, &img) && img)
            g_ptr_array_add(old, img);
    }
    vm_unlock(vm);
    for (guint i = 0; i < old->len; i++)
        block_close(old->pdata[i], NULL);
}

/* Opens the current top layers into the drives; on failure the VM must not run. */
static bool attach(Vm *vm, GPtrArray *att, GHashTable *tops, GError **err)
{
    bool ok = true;
    for (guint i = 0; i < att->len; i++) {
        Attach *a = att->pdata[i];
        const char *path = g_hash_table_lookup(tops, a->slot);
        BlockOpenOptions o = { 0 };
        GError *local = NULL;
        BlockImage *img = path ? block_open(path, &o, &local) : NULL;
        if (!img) {
            if (ok) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot reopen drive %s: %s", a->drive,
                            local ? local->message : "no image");
            }
            g_clear_error(&local);
            ok = false;
            continue;
        }
        BlockImage *old = NULL;
        vm_lock(vm);
        device_list_swap_image(vm, a->drive, img, &old);
        vm_unlock(vm);
        if (old)
            block_close(old, NULL);
    }
    return ok;
}

/* The tops to go back to when an operation failed before its commit. */
static GHashTable *tops_now(const char *dir)
{
    return snaptree_current_tops(dir, NULL);
}

/* The screen scaled down into a PNG in the tree's folder; NULL without a display. */
static char *write_thumbnail(Vm *vm, const char *dir)
{
    DisplayConsole *con = vm_display_console(vm);
    if (!con)
        return NULL;
    DisplayClient *c = display_client_new(con);
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool fresh;
    DisplaySurface *s = display_client_refresh(c, &dirty, &fresh);
    pixman_region32_fini(&dirty);
    char *out = NULL;
    if (s && s->width > 0 && s->height > 0) {
        /* The picture's shape on a monitor (4:3 for VGA modes) fits THUMB_MAX. */
        double aw = s->aspect_w > 0 ? s->aspect_w : s->width, ah = s->aspect_h > 0 ? s->aspect_h : s->height;
        int w = THUMB_MAX, h = (int)(THUMB_MAX * ah / aw + 0.5);
        if (h > THUMB_MAX) {
            h = THUMB_MAX;
            w = (int)(THUMB_MAX * aw / ah + 0.5);
        }
        w = MAX(w, 1);
        h = MAX(h, 1);
        pixman_image_t *dst = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, 0);
        pixman_transform_t tr;
        pixman_transform_init_scale(&tr, pixman_double_to_fixed((double)s->width / w),
                                    pixman_double_to_fixed((double)s->height / h));
        pixman_image_set_transform(s->image, &tr);
        pixman_image_set_filter(s->image, PIXMAN_FILTER_BILINEAR, NULL, 0);
        pixman_image_composite32(PIXMAN_OP_SRC, s->image, NULL, dst, 0, 0, 0, 0, 0, 0, w, h);
        pixman_image_set_transform(s->image, NULL);
        pixman_image_set_filter(s->image, PIXMAN_FILTER_NEAREST, NULL, 0);
        DisplaySurface small = { .image = dst, .width = w, .height = h, .aspect_w = w, .aspect_h = h };
        g_autofree char *uuid = g_uuid_string_random();
        g_autofree char *leaf = g_strdup_printf("thumb-new-%s.png", uuid);
        char *path = g_build_filename(dir, SNAPTREE_DIR, leaf, NULL);
        g_autofree char *sdir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(sdir, 0755) == 0 && display_surface_write_png(&small, path, NULL))
            out = path;
        else
            g_free(path);
        pixman_image_unref(dst);
    }
    display_client_free(c);
    return out;
}

char *vm_snaptree_take(Vm *vm, const char *name, const char *description, GError **err)
{
    const char *dir = dir_of(vm, err);
    if (!dir)
        return NULL;
    bool was_running = vm_get_state(vm) == VM_STATE_RUNNING;
    vm_pause(vm);
    char *id = NULL;
    GByteArray *state = g_byte_array_new();
    g_autoptr(GPtrArray) att = NULL;
    g_autoptr(GHashTable) back = NULL;
    SnapTreeOp op = { .vm_running = true };
    if (!vm_state_save(vm, state, err) || !(att = map_drives(vm, dir, err)))
        goto out;
    op.state = state->data;
    op.state_len = state->len;
    op.thumb_tmp = write_thumbnail(vm, dir);
    detach(vm, att);
    id = snaptree_take_op(dir, name, description, &op, err);
    back = id ? NULL : tops_now(dir);
    if (!attach(vm, att, id ? op.tops : back, id ? err : NULL)) {
        if (!id)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "the snapshot failed and the disks "
                        "could not be reopened: the VM stays paused");
        was_running = false;
        g_clear_pointer(&id, g_free);
    }
out:
    snaptree_op_clear(&op);
    g_byte_array_unref(state);
    if (was_running)
        vm_resume(vm);
    return id;
}

static bool read_state(const char *file, uint8_t **buf, gsize *len, GError **err)
{
    GError *local = NULL;
    if (!g_file_get_contents(file, (char **)buf, len, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "the snapshot's VM state: %s", local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

typedef struct RevertCtx {
    Vm *vm;
    GPtrArray *att;
    const uint8_t *state;
    size_t len;
} RevertCtx;

/* Before the revert commits: the drives take the new overlays and the machine the
 * snapshot's state, which checks its media against them. A refused state undoes it. */
static bool revert_apply(SnapTreeOp *op, GHashTable *tops, GError **err)
{
    RevertCtx *c = op->opaque;
    if (!attach(c->vm, c->att, tops, err)) {
        detach(c->vm, c->att);
        return false;
    }
    if (c->state && !vm_state_load(c->vm, c->state, c->len, err)) {
        detach(c->vm, c->att);
        return false;
    }
    return true;
}

bool vm_snaptree_revert(Vm *vm, const char *id, GError **err)
{
    const char *dir = dir_of(vm, err);
    if (!dir)
        return false;
    GError *local = NULL;
    g_autofree char *state_file = snaptree_state_file(dir, id, &local);
    if (local) {
        g_propagate_error(err, local);
        return false;
    }
    bool was_running = vm_get_state(vm) == VM_STATE_RUNNING;
    vm_pause(vm);
    g_autofree uint8_t *buf = NULL;
    gsize len = 0;
    g_autoptr(GPtrArray) att = map_drives(vm, dir, err);
    if (!att || (state_file && !read_state(state_file, &buf, &len, err))) {
        if (was_running)
            vm_resume(vm);
        return false;
    }
    RevertCtx ctx = { vm, att, buf, len };
    SnapTreeOp op = { .vm_running = true, .before_commit = revert_apply, .opaque = &ctx };
    detach(vm, att);
    bool ok = snaptree_revert_op(dir, id, &op, err);
    snaptree_op_clear(&op);
    if (!ok) {
        /* Nothing changed: the old top layers go back into the drives (the state was
         * loaded only if the commit then failed; vm_state_load is all or nothing). */
        g_autoptr(GHashTable) back = tops_now(dir);
        if (!attach(vm, att, back, NULL)) {
            g_prefix_error(err, "the disks could not be reopened, the VM stays paused: ");
            return false;
        }
        if (was_running)
            vm_resume(vm);
        return false;
    }
    if (!state_file)
        vm_reset(vm); /* a disk-only snapshot: the machine starts afresh on its disks */
    if (was_running)
        vm_resume(vm);
    return true;
}

bool vm_snaptree_delete(Vm *vm, const char *id, SnapTreeProgressFn progress, void *opaque,
                        GError **err)
{
    const char *dir = dir_of(vm, err);
    if (!dir)
        return false;
    bool was_running = vm_get_state(vm) == VM_STATE_RUNNING;
    vm_pause(vm);
    g_autoptr(GPtrArray) att = map_drives(vm, dir, err);
    bool ok = false;
    if (att) {
        SnapTreeOp op = { .vm_running = true };
        detach(vm, att);
        ok = snaptree_delete_op(dir, id, progress, opaque, &op, err);
        g_autoptr(GHashTable) back = ok ? NULL : tops_now(dir);
        if (!attach(vm, att, ok ? op.tops : back, ok ? err : NULL)) {
            was_running = false;
            ok = false;
        }
        snaptree_op_clear(&op);
    }
    if (was_running)
        vm_resume(vm);
    return ok;
}

bool vm_snaptree_resume_pending(Vm *vm, bool *loaded, GError **err)
{
    *loaded = false;
    const char *dir = vm_config(vm)->vm_dir;
    if (!dir)
        return true;
    GError *local = NULL;
    g_autofree char *file = snaptree_pending_state(dir, &local);
    if (local) {
        g_propagate_error(err, local);
        return false;
    }
    if (!file)
        return true;
    g_autofree uint8_t *buf = NULL;
    gsize len;
    if (!read_state(file, &buf, &len, err) || !vm_state_load(vm, buf, len, err))
        return false;
    /* Forgotten before the guest runs: a later start must boot the changed disks, not
     * resume a machine that no longer matches them. */
    if (!snaptree_clear_pending_state(dir, err))
        return false;
    *loaded = true;
    return true;
}
