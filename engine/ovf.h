/* SPDX-License-Identifier: GPL-2.0-or-later */
/* OVF appliances (DMTF DSP0243): the descriptor's virtual hardware and disks, and
 * .ova files (a POSIX tar holding the .ovf first, then its files). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct OvfDisk {
    char *href;          /* the file in References (a name beside the .ovf) */
    char *format;        /* the DiskSection's format URI, or NULL */
    bool cdrom;          /* a CD drive's image (ResourceType 15) */
    bool floppy;         /* a floppy drive's image (ResourceType 14) */
} OvfDisk;

typedef struct Ovf {
    char *name;
    uint64_t memory;     /* bytes; 0 if not given */
    unsigned cpus;       /* 0 if not given */
    char *os_description;
    GPtrArray *disks;    /* OvfDisk*, in the order of the hardware section's items */
} Ovf;

void ovf_free(Ovf *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Ovf, ovf_free)

/* Reads an OVF descriptor (1.x or 2.x; namespace prefixes are ignored). */
Ovf *ovf_parse(const char *xml, gsize len, GError **err);

/* A member of a tar file. */
typedef struct TarMember {
    char *name;
    uint64_t offset;     /* of its data in the tar file */
    uint64_t size;
} TarMember;

/* The regular files of a POSIX (ustar) or GNU tar, checked: header checksums, sizes
 * within the file, at most 10000 members. Member names are only compared with the
 * names a descriptor gives, never used as paths. */
GPtrArray *tar_list(const char *path, GError **err);
/* Copies a member's data to a new file at dest. */
bool tar_extract(const char *path, const TarMember *m, const char *dest, GError **err);
