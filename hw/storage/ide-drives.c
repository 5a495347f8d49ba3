/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The drives of a two-channel IDE controller (the PIIX3 function and the ISA one):
 * opening the configuration's IDE drives into the four positions, and the snapshot and
 * media hooks by QEMU's drive names (ide<channel>-hd<unit>, ide<channel>-cd<unit>). */
#include "hw/storage/ide-internal.h"
#include "hw/storage/drive.h"

#include <stdio.h>

bool ide_pair_attach_drives(IdeChannel ch[2], const VmConfig *cfg, GError **err)
{
    const DriveConfig *slot[4] = { NULL };
    if (!cfg->drives)
        return true;
    /* Fixed indexes first, then the rest in order into free slots. */
    for (int pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < cfg->drives->len; i++) {
            const DriveConfig *dc = g_ptr_array_index(cfg->drives, i);
            if (dc->iface != DRIVE_IF_IDE || (pass == 0) != (dc->index >= 0))
                continue;
            int idx = dc->index;
            if (idx < 0)
                for (idx = 0; idx < 4 && slot[idx]; idx++)
                    ;
            if (idx > 3) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                            "IDE drive %s: index %d is out of range 0-3 (or all four are taken)",
                            dc->file ? dc->file : "(empty)", dc->index);
                return false;
            }
            if (slot[idx]) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IDE index %d is used twice", idx);
                return false;
            }
            slot[idx] = dc;
        }
    }
    for (int i = 0; i < 4; i++) {
        const DriveConfig *dc = slot[i];
        if (!dc)
            continue;
        bool cdrom = dc->media == DRIVE_MEDIA_CDROM;
        BlockImage *img = NULL;
        if (dc->file && *dc->file) {
            bool ro;
            img = drive_open(cfg, dc, false, &ro, err);
            if (!img)
                return false;
        } else if (!cdrom) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IDE disk %d needs file=", i);
            return false;
        }
        if (!ide_channel_attach(&ch[i / 2], i % 2, img, cdrom, err)) {
            if (img)
                block_close(img, NULL);
            return false;
        }
    }
    return true;
}

/* Snapshots: every drive's image, named as QEMU names IDE drives (ide1-cd0). */
void ide_pair_for_each_image(IdeChannel ch[2], DeviceImageFn fn, void *opaque)
{
    for (int c = 0; c < 2; c++) {
        for (int u = 0; u < 2; u++) {
            IdeDevice *d = &ch[c].dev[u];
            if (d->kind == IDE_NONE || !d->img)
                continue;
            char name[16];
            g_snprintf(name, sizeof(name), "ide%d-%s%d", c, d->kind == IDE_CDROM ? "cd" : "hd", u);
            fn(opaque, name, d->img, d->kind == IDE_DISK && !block_is_read_only(d->img));
        }
    }
}

/* QMP eject / blockdev-change-medium for the CD-ROMs, named as QEMU names them:
 * ide<channel>-cd<unit> (-cdrom is ide1-cd0). */
DeviceMediaResult ide_pair_change_media(IdeChannel ch[2], const char *drive, const char *filename,
                                        const char *format, GError **err)
{
    unsigned c, unit;
    char tail;
    if (sscanf(drive, "ide%u-cd%u%c", &c, &unit, &tail) != 2 || c > 1 || unit > 1)
        return DEVICE_MEDIA_NO_DRIVE;
    BlockImage *img = NULL;
    if (filename) {
        DriveConfig dc = { .file = (char *)filename, .format = (char *)format,
                           .iface = DRIVE_IF_IDE, .media = DRIVE_MEDIA_CDROM };
        VmConfig none = { 0 };
        bool ro;
        img = drive_open(&none, &dc, false, &ro, err);
        if (!img)
            return DEVICE_MEDIA_FAILED;
    }
    if (!ide_cdrom_change(&ch[c], (int)unit, img, err)) {
        if (img)
            block_close(img, NULL);
        g_prefix_error(err, "Device '%s': ", drive);
        return DEVICE_MEDIA_FAILED;
    }
    return DEVICE_MEDIA_CHANGED;
}

/* Snapshot trees: the hard disk ide<channel>-hd<unit> continues on another image. */
bool ide_pair_swap_image(IdeChannel ch[2], const char *drive, BlockImage *img, BlockImage **old)
{
    unsigned c, unit;
    char tail;
    if (sscanf(drive, "ide%u-hd%u%c", &c, &unit, &tail) != 2 || c > 1 || unit > 1)
        return false;
    IdeDevice *d = &ch[c].dev[unit];
    if (d->kind != IDE_DISK)
        return false;
    *old = d->img;
    d->img = img;
    return true;
}
