/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the new-VM wizard knows about operating systems: install media probing, ISO
 * identification through libosinfo, and a table of presets for what osinfo-db lacks. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VIREO_MEDIA_NONE,
    VIREO_MEDIA_CDROM,   /* an ISO 9660 image */
    VIREO_MEDIA_FLOPPY,  /* a raw image of a standard floppy size */
    VIREO_MEDIA_DISK,    /* a qcow2 image or a raw hard disk image */
} VireoMediaKind;

/* Hardware a family of systems runs well with. Names are translatable (N_()). */
typedef struct VireoOsPreset {
    const char *id;          /* stored as os-id when nothing more precise is known */
    const char *name;
    const char *vm_name;     /* what a new VM is called by default */
    uint64_t ram;            /* bytes */
    uint64_t disk;           /* bytes, for a new disk */
    unsigned cpus;
    const char *sound;       /* vm.conf's sound=: a card the system has drivers for */
    const char *network;     /* vm.conf's network= */
    const char *display;     /* vm.conf's display=: an adapter the system has drivers for */
    bool virtio_disk;        /* a new disk goes on virtio (vda): the system has the driver */
} VireoOsPreset;

const VireoOsPreset *vireo_os_presets(size_t *count);

/* The processors this computer lets Vireo run on (its cores, less any affinity mask). */
unsigned vireo_host_cpus(void);
/* A preset's processor count as this computer can run it: never more than its cores
 * (under every CPU back end, KVM included, each vCPU is a host thread). */
unsigned vireo_os_fit_cpus(unsigned cpus);
/* A warning for more virtual processors than the computer has (each vCPU is a thread,
 * so the extra ones share cores and run slower), or NULL. */
char *vireo_cpus_advice(unsigned cpus);
/* The preset with this ID, or NULL. */
const VireoOsPreset *vireo_os_preset_find(const char *id);
/* The preset for an os-id (an osinfo short ID such as "winxp" or a preset ID). */
const VireoOsPreset *vireo_os_preset_for_os_id(const char *os_id);

/* The name to show for a VM's os-id in the current language: a preset's translated
 * name; for an osinfo short ID, osinfo's product name as vm.conf keeps it (os-name, the
 * same in every language); else the ID itself. */
const char *vireo_os_display_name(const char *os_id, const char *stored_name);

/* What the wizard fills in for a medium. */
typedef struct VireoOsGuess {
    char *os_id;             /* osinfo short ID ("freedos1.2") or a preset ID */
    char *os_name;           /* "FreeDOS 1.2", or the preset's name */
    const VireoOsPreset *preset;
    uint64_t ram, disk;
    unsigned cpus;
    bool identified;         /* libosinfo recognised the medium */
} VireoOsGuess;

void vireo_os_guess_free(VireoOsGuess *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VireoOsGuess, vireo_os_guess_free)

/* Looks at the file's content: an ISO, a floppy image or a disk image. A missing,
 * unreadable or empty file, or one that is none of these, is an error saying so. */
VireoMediaKind vireo_media_probe(const char *path, GError **err);

/* Whether a PC BIOS can start from the medium: an El Torito boot record on a CD
 * (El Torito 1.0, section 2.0: the Boot Record Volume Descriptor in sector 17), the
 * 55 AA signature ending the first sector of a floppy or disk. */
bool vireo_media_is_bootable(const char *path, VireoMediaKind kind);

/* Identifies the system on a medium. ISOs go through libosinfo; what it does not know
 * (or a floppy or disk image) gets the closest preset, NULL only with err set for a
 * file that cannot be read. Blocking: run it off the UI thread. */
VireoOsGuess *vireo_os_identify(const char *path, VireoMediaKind kind, GError **err);
