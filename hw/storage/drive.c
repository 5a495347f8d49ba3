/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/storage/drive.h"
#include "engine/vm.h"

#include <string.h>
#include <unistd.h>

BlockImage *drive_open(const VmConfig *cfg, const DriveConfig *dc, bool protect_unwritable,
                       bool *readonly, GError **err)
{
    const char *kind = dc->media == DRIVE_MEDIA_CDROM ? "CD-ROM"
                       : dc->iface == DRIVE_IF_FLOPPY  ? "floppy"
                                                       : "disk";
    bool ro = dc->readonly || dc->media == DRIVE_MEDIA_CDROM ||
              (protect_unwritable && access(dc->file, W_OK) != 0);
    BlockOpenOptions opts = { .read_only = ro, .format = dc->format,
                              .no_locking = dc->no_locking,
                              .force_share = dc->force_share && ro };
    if (dc->cache && !block_cache_mode_parse(dc->cache, &opts.cache)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s %s: unknown cache mode '%s'", kind,
                    dc->file, dc->cache);
        return NULL;
    }
    GError *local = NULL;
    /* An overlay only where the guest could write: a read-only image stays as it is. */
    BlockImage *img = (cfg->snapshot || dc->snapshot) && !ro
                          ? block_open_with_temp_overlay(dc->file, &opts, &local)
                          : block_open(dc->file, &opts, &local);
    if (!img) {
        /* Another process has the image: say how to override, as QEMU does. */
        const char *hint = g_error_matches(local, BLOCK_ERROR, BLOCK_ERROR_LOCKED)
                               ? " (readonly=on,force-share=on reads it anyway; file.locking=off "
                                 "turns locking off)"
                               : "";
        /* Some block errors name the file already. */
        if (strstr(local->message, dc->file))
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s image: %s%s", kind,
                        local->message, hint);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s image %s: %s%s", kind, dc->file,
                        local->message, hint);
        g_error_free(local);
        return NULL;
    }
    *readonly = ro;
    return img;
}

/* N of an if=virtio drive's name virtioN: its index=, or else the lowest number no
 * drive before it took and no drive has as its index (QEMU numbers them so). */
static int virtio_drive_number(const VmConfig *cfg, const DriveConfig *dc)
{
    if (dc->index >= 0)
        return dc->index;
    bool taken[VM_MAX_VIRTIO_DRIVES] = { false };
    for (guint i = 0; i < cfg->drives->len; i++) {
        const DriveConfig *c = cfg->drives->pdata[i];
        if (c->iface == DRIVE_IF_VIRTIO && c->index >= 0 && c->index < VM_MAX_VIRTIO_DRIVES)
            taken[c->index] = true;
    }
    int n = -1;
    for (guint i = 0; i < cfg->drives->len; i++) {
        const DriveConfig *c = cfg->drives->pdata[i];
        if (c->iface != DRIVE_IF_VIRTIO || c->index >= 0)
            continue;
        do
            n++;
        while (n < VM_MAX_VIRTIO_DRIVES && taken[n]);
        if (c == dc)
            return n;
    }
    return n;
}

char *drive_virtio_name(const VmConfig *cfg, const DriveConfig *dc)
{
    if (dc->id)
        return g_strdup(dc->id);
    return g_strdup_printf("virtio%d", virtio_drive_number(cfg, dc));
}

bool drive_create_virtio_devices(Vm *vm, DriveCreatedFn created, void *opaque, GError **err)
{
    const VmConfig *cfg = vm_config(vm);
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *dc = cfg->drives->pdata[i];
        if (dc->iface != DRIVE_IF_VIRTIO)
            continue;
        if (virtio_drive_number(cfg, dc) >= VM_MAX_VIRTIO_DRIVES) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "disk %s: at most %d virtio disks",
                        dc->file ? dc->file : "drive", VM_MAX_VIRTIO_DRIVES);
            return false;
        }
        /* As a -device spec, where a comma in a value is written twice. */
        g_autofree char *name = drive_virtio_name(cfg, dc);
        g_auto(GStrv) pieces = g_strsplit(name, ",", -1);
        g_autofree char *escaped = g_strjoinv(",,", pieces);
        g_autofree char *spec = g_strdup_printf("virtio-blk-pci,drive=%s", escaped);
        Device *dev = device_create_from_spec(vm, spec, err);
        if (!dev)
            return false;
        if (created)
            created(opaque, dc, dev);
    }
    return true;
}

/* The drive= property of a device, if its class has one. */
static const char *device_drive_prop(const Device *d)
{
    for (const DeviceProp *p = d->klass->props; p && p->name; p++)
        if (p->type == DEVICE_PROP_STRING && !strcmp(p->name, "drive"))
            return *(char *const *)((const char *)d + p->offset);
    return NULL;
}

BlockImage *drive_open_by_id(Device *dev, const char *what, const char *drive_id, bool *readonly,
                             const DriveConfig **dc_out, GError **err)
{
    const VmConfig *cfg = vm_config(dev->vm);
    const DriveConfig *dc = NULL;
    if (!drive_id || !*drive_id) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s needs drive=ID of a -drive if=none,id=ID,file=...",
                    what);
        return NULL;
    }
    for (guint i = 0; cfg && cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *c = cfg->drives->pdata[i];
        if (c->iface == DRIVE_IF_NONE && c->id && !strcmp(c->id, drive_id))
            dc = c;
        if (c->iface == DRIVE_IF_VIRTIO) {
            g_autofree char *name = drive_virtio_name(cfg, c);
            if (!strcmp(name, drive_id))
                dc = c;
        }
    }
    if (!dc || !dc->file) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "no -drive if=none,id=%s", drive_id);
        return NULL;
    }
    for (GList *l = device_list_head(dev->vm); l; l = l->next) {
        Device *o = l->data;
        const char *other = o != dev ? device_drive_prop(o) : NULL;
        if (other && !strcmp(other, drive_id)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "drive %s is in use by %s", drive_id, o->id);
            return NULL;
        }
    }
    if (dc_out)
        *dc_out = dc;
    return drive_open(cfg, dc, false, readonly, err);
}
