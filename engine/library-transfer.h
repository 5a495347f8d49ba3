/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Moving VMs between the library and other products: import of a libvirt domain XML
 * (virsh dumpxml), an OVF descriptor or an OVA appliance; export as a libvirt domain
 * XML with qcow2 disks (virsh define takes it). vireo-run and the app both use it. */
#pragma once

#include "disks/image-ops.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* One hard disk, floppy or CD of an import, as review shows it. */
typedef struct VmImportDisk {
    const char *slot;        /* vm.conf's drive key: "hda", "cdrom", "fda", ... */
    char *source;            /* the file (or the .ova member) it comes from; NULL: empty drive */
    bool convert;            /* copied into the VM's folder as qcow2 */
} VmImportDisk;

/* What an import will create, read before anything is written. */
typedef struct VmImport {
    char *path;
    char *name;              /* the domain's or appliance's */
    uint64_t memory;         /* bytes */
    unsigned cpus;           /* what the VM gets (at most VM_CPUS_MAX) */
    GPtrArray *disks;        /* VmImportDisk*, in the source's order */
    GPtrArray *notes;        /* char*: what had to change (more CPUs than Vireo runs, ...) */
    struct VmImportPrivate *priv;
} VmImport;

/* Reads path: a libvirt domain (.xml), an OVF descriptor (its files beside it) or an
 * .ova (tar); the kind is told by the content. Checks that every image it names is
 * there. Writes nothing. */
VmImport *vm_import_open(const char *path, GError **err);
void vm_import_free(VmImport *imp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmImport, vm_import_free)

/* Makes the library VM under root (name NULL: imp->name). Hard disk and floppy images
 * are copied into the VM's folder as qcow2 (from raw, qcow2, vmdk, vdi, vpc or vhdx),
 * so the source VM stays as it was; a CD image outside an .ova is used where it is.
 * progress gets 0..100 for the whole copy; cancel (may be NULL) stops it with
 * BLOCK_ERROR_CANCELLED. On failure nothing is left in the library. Returns the
 * VM's name. */
char *vm_import_create(const VmImport *imp, const char *root, const char *name,
                       ImageProgressFn progress, void *opaque, const gint *cancel,
                       GError **err);

/* vm_import_open and vm_import_create in one; notes receives imp->notes. */
char *vm_library_import(const char *root, const char *path, const char *name, GPtrArray *notes,
                        GError **err);

/* The format of a disk image Vireo reads but cannot write (vmdk, vdi, vpc, vhdx), told
 * by its content: such an image must be converted before a VM can use it. NULL for
 * qcow2 and raw; NULL with err set for a file that cannot be read. */
const char *vm_disk_foreign_format(const char *path, GError **err);

/* Copies src (format NULL probes) into a new qcow2 image dest, as import does; on
 * failure or cancel dest is removed. */
bool vm_disk_convert(const char *src, const char *format, const char *dest,
                     ImageProgressFn progress, void *opaque, const gint *cancel, GError **err);

/* Writes dir/NAME.xml, a libvirt domain of the library VM name, with its hard disks
 * and floppies converted to dir/NAME-<slot>.qcow2 and its kernel and initrd copied
 * into dir; a CD image is referenced where it is. Existing files are not overwritten;
 * on failure or cancel the files written so far are removed. progress and cancel as
 * for vm_import_create (both may be NULL). Returns the XML file's path. */
char *vm_library_export_libvirt(const char *root, const char *name, const char *dir,
                                ImageProgressFn progress, void *opaque, const gint *cancel,
                                GError **err);
