/* SPDX-License-Identifier: GPL-2.0-or-later */
/* savevm / loadvm / delvm over qcow2 internal snapshots (snapshots.h). */
#include "engine/snapshots.h"
#include "disks/block.h"
#include "disks/qcow2.h"
#include "engine/config.h"
#include "engine/device.h"
#include "engine/machine.h"
#include "engine/savevm.h"
#include "engine/vm.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct Disk {
    char *drive;
    BlockImage *img;
    bool qcow2;
} Disk;

static void disk_free(gpointer p)
{
    Disk *d = p;
    g_free(d->drive);
    g_free(d);
}

static void collect(void *opaque, const char *drive, BlockImage *img, bool writable)
{
    if (!writable)
        return;
    Disk *d = g_new0(Disk, 1);
    d->drive = g_strdup(drive);
    d->img = img;
    d->qcow2 = g_strcmp0(block_format_name(img), "qcow2") == 0;
    g_ptr_array_add(opaque, d);
}

/* The writable disks, in device order; refuses a writable disk that is not qcow2. */
static GPtrArray *writable_disks(Vm *vm, GError **err)
{
    GPtrArray *disks = g_ptr_array_new_with_free_func(disk_free);
    vm_lock(vm);
    device_list_for_each_image(vm, collect, disks);
    vm_unlock(vm);
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        if (!d->qcow2) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "drive %s is writable but its %s image cannot hold snapshots "
                        "(convert it with vireo-img convert -O qcow2)", d->drive, block_format_name(d->img));
            g_ptr_array_unref(disks);
            return NULL;
        }
    }
    return disks;
}

static bool valid_name(const char *name, GError **err)
{
    if (!name || !*name || strlen(name) > 255 || strchr(name, '/') || !g_utf8_validate(name, -1, NULL)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "'%s' is not a snapshot name (1-255 characters of UTF-8, no '/')", name ? name : "");
        return false;
    }
    return true;
}

static char *state_file(Vm *vm, const char *name, GError **err)
{
    const VmConfig *cfg = vm_config(vm);
    if (!cfg->vm_dir) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "no writable qcow2 disk to hold the VM state (give the VM one, or run it from the library)");
        return NULL;
    }
    g_autofree char *file = g_strconcat(name, ".vmstate", NULL);
    return g_build_filename(cfg->vm_dir, "snapshots", file, NULL);
}

/* Pauses the VM; true if it was running. Saving and loading device state drain the
 * devices' in-flight disk work themselves. */
static bool quiesce(Vm *vm)
{
    bool was_running = vm_get_state(vm) == VM_STATE_RUNNING;
    vm_pause(vm);
    return was_running;
}

bool vm_snapshot_save(Vm *vm, const char *name, GError **err)
{
    if (!valid_name(name, err))
        return false;
    bool was_running = quiesce(vm);
    bool ok = false;
    GByteArray *state = g_byte_array_new();
    g_autoptr(GPtrArray) disks = writable_disks(vm, err);
    if (!disks || !vm_state_save(vm, state, err))
        goto out;
    if (disks->len == 0) {
        g_autofree char *file = state_file(vm, name, err);
        g_autofree char *dir = file ? g_path_get_dirname(file) : NULL;
        if (!file)
            goto out;
        if (g_mkdir_with_parents(dir, 0755) < 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: %s", dir, g_strerror(errno));
            goto out;
        }
        ok = g_file_set_contents(file, (const char *)state->data, state->len, err);
        goto out;
    }
    /* savevm replaces a snapshot of the same name on every disk. */
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        Qcow2SnapshotInfo *old = qcow2_snapshot_find(d->img, name, NULL);
        if (old) {
            bool gone = qcow2_snapshot_delete(d->img, old->id, err);
            qcow2_snapshot_info_free(old);
            if (!gone)
                goto out;
        }
    }
    int64_t clock = 0;
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        uint64_t size = 0;
        if (i == 0) {
            if (!qcow2_vmstate_write(d->img, 0, state->data, state->len, err))
                goto out;
            size = state->len;
        }
        /* The header's virtual clock is bytes 16-23 of the stream, little-endian. */
        uint64_t le;
        memcpy(&le, state->data + 16, 8);
        clock = (int64_t)GUINT64_FROM_LE(le);
        if (!qcow2_snapshot_create_full(d->img, name, size, (uint64_t)clock, err) ||
            !block_flush(d->img, err))
            goto out;
    }
    ok = true;
out:
    g_byte_array_unref(state);
    if (was_running)
        vm_resume(vm);
    return ok;
}

bool vm_snapshot_load(Vm *vm, const char *name, GError **err)
{
    if (!valid_name(name, err))
        return false;
    bool was_running = quiesce(vm);
    bool ok = false;
    uint8_t *buf = NULL;
    gsize len = 0;
    g_autoptr(GPtrArray) disks = writable_disks(vm, err);
    if (!disks)
        goto out;
    if (disks->len == 0) {
        g_autofree char *file = state_file(vm, name, err);
        if (!file)
            goto out;
        if (!g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no snapshot '%s' (%s)", name, file);
            goto out;
        }
        if (!g_file_get_contents(file, (char **)&buf, &len, err))
            goto out;
        ok = vm_state_load(vm, buf, len, err);
        goto out;
    }
    /* Every disk must have it before any disk changes. */
    Qcow2SnapshotInfo *first = NULL;
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        GError *why = NULL;
        Qcow2SnapshotInfo *s = qcow2_snapshot_find(d->img, name, &why);
        if (!s) {
            if (why)
                g_propagate_error(err, why);
            else
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "drive %s has no snapshot '%s'",
                            d->drive, name);
            qcow2_snapshot_info_free(first);
            goto out;
        }
        if (i == 0)
            first = s;
        else
            qcow2_snapshot_info_free(s);
    }
    if (first->vm_state_size == 0 || first->vm_state_size > G_MAXUINT32) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    first->vm_state_size ? "snapshot '%s' holds %" G_GUINT64_FORMAT " bytes of VM state, more than Vireo reads"
                                         : "snapshot '%s' has no VM state (a disk-only snapshot: qemu-img snapshot -a applies it)",
                    name, first->vm_state_size);
        qcow2_snapshot_info_free(first);
        goto out;
    }
    len = first->vm_state_size;
    qcow2_snapshot_info_free(first);
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        if (!qcow2_snapshot_apply(d->img, name, err))
            goto out;
    }
    buf = g_malloc(len);
    Disk *d0 = disks->pdata[0];
    if (!qcow2_vmstate_read(d0->img, 0, buf, len, err))
        goto out;
    if (!vm_state_load(vm, buf, len, err)) {
        /* The disks are the snapshot's now, but the machine is not: do not run it. */
        g_prefix_error(err, "the disks went back to snapshot '%s' but its VM state was refused, the VM stays paused: ",
                       name);
        was_running = false;
        goto out;
    }
    ok = true;
out:
    g_free(buf);
    if (was_running)
        vm_resume(vm);
    return ok;
}

bool vm_snapshot_delete(Vm *vm, const char *name, GError **err)
{
    if (!valid_name(name, err))
        return false;
    g_autoptr(GPtrArray) disks = writable_disks(vm, err);
    if (!disks)
        return false;
    if (disks->len == 0) {
        g_autofree char *file = state_file(vm, name, err);
        if (!file)
            return false;
        if (g_unlink(file) < 0) {
            g_set_error(err, VIREO_ERROR, errno == ENOENT ? VIREO_ERROR_NOT_FOUND : VIREO_ERROR_FAILED,
                        errno == ENOENT ? "no snapshot '%s'" : "%s: cannot delete", name);
            return false;
        }
        return true;
    }
    bool any = false;
    for (guint i = 0; i < disks->len; i++) {
        Disk *d = disks->pdata[i];
        Qcow2SnapshotInfo *s = qcow2_snapshot_find(d->img, name, NULL);
        if (!s)
            continue;
        bool gone = qcow2_snapshot_delete(d->img, s->id, err);
        qcow2_snapshot_info_free(s);
        if (!gone)
            return false;
        any = true;
    }
    if (!any)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no snapshot '%s'", name);
    return any;
}

static void snapshot_info_free(gpointer p)
{
    VmSnapshotInfo *s = p;
    g_free(s->id);
    g_free(s->name);
    g_free(s);
}

GPtrArray *vm_snapshot_list(Vm *vm, GError **err)
{
    g_autoptr(GPtrArray) disks = writable_disks(vm, err);
    if (!disks)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func(snapshot_info_free);
    if (disks->len == 0) {
        const VmConfig *cfg = vm_config(vm);
        if (!cfg->vm_dir)
            return out;
        g_autofree char *dir = g_build_filename(cfg->vm_dir, "snapshots", NULL);
        GDir *gd = g_dir_open(dir, 0, NULL);
        const char *e;
        unsigned n = 0;
        while (gd && (e = g_dir_read_name(gd))) {
            if (!g_str_has_suffix(e, ".vmstate"))
                continue;
            g_autofree char *path = g_build_filename(dir, e, NULL);
            GStatBuf st;
            if (g_stat(path, &st) < 0)
                continue;
            VmSnapshotInfo *s = g_new0(VmSnapshotInfo, 1);
            s->id = g_strdup_printf("%u", ++n);
            s->name = g_strndup(e, strlen(e) - strlen(".vmstate"));
            s->vm_state_size = (uint64_t)st.st_size;
            s->date_sec = st.st_mtime;
            g_ptr_array_add(out, s);
        }
        if (gd)
            g_dir_close(gd);
        return out;
    }
    Disk *d0 = disks->pdata[0];
    GPtrArray *list = qcow2_snapshot_list(d0->img, err);
    if (!list) {
        g_ptr_array_unref(out);
        return NULL;
    }
    for (guint i = 0; i < list->len; i++) {
        Qcow2SnapshotInfo *q = list->pdata[i];
        if (!q->vm_state_size)
            continue;
        VmSnapshotInfo *s = g_new0(VmSnapshotInfo, 1);
        s->id = g_strdup(q->id);
        s->name = g_strdup(q->name);
        s->vm_state_size = q->vm_state_size;
        s->date_sec = q->date_sec;
        s->vm_clock_ns = q->vm_clock_nsec;
        g_ptr_array_add(out, s);
    }
    g_ptr_array_unref(list);
    return out;
}

char *vm_snapshot_list_text(Vm *vm, GError **err)
{
    g_autoptr(GPtrArray) list = vm_snapshot_list(vm, err);
    if (!list)
        return NULL;
    if (list->len == 0)
        return g_strdup("There is no snapshot available.\r\n");
    GString *s = g_string_new("List of snapshots present on all disks:\r\n");
    g_string_append_printf(s, "%-10s%-17s%8s%20s%13s\r\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK");
    for (guint i = 0; i < list->len; i++) {
        VmSnapshotInfo *v = list->pdata[i];
        g_autofree char *size = g_format_size_full(v->vm_state_size, G_FORMAT_SIZE_IEC_UNITS);
        g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(v->date_sec);
        g_autofree char *date = dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
        uint64_t secs = v->vm_clock_ns / 1000000000u;
        g_string_append_printf(s, "%-9s %-16s %8s %19s %02" G_GUINT64_FORMAT ":%02u:%02u.%03u\r\n", "--",
                               v->name, size, date, secs / 3600, (unsigned)(secs / 60 % 60),
                               (unsigned)(secs % 60), (unsigned)(v->vm_clock_ns / 1000000u % 1000));
    }
    return g_string_free(s, FALSE);
}
