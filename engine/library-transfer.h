/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Moving VMs between the library and other products: import of a libvirt domain XML
 * (virsh dumpxml), an OVF descriptor or an OVA appliance; export as a libvirt domain
 * XML with qcow2 disks (virsh define takes it). */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Makes a library VM under root from path: a libvirt domain (.xml), an OVF descriptor
 * (its files beside it) or an .ova (tar). The kind is told by the content. The hard
 * disk and floppy images are copied into the VM's folder as qcow2 (from raw, qcow2,
 * vmdk, vdi, vpc or vhdx), so the source VM stays as it was; a CD image outside an
 * .ova is used where it is. name NULL takes the domain's or appliance's name. What
 * had to change (more CPUs than Vireo runs, a 64-bit system) is added to notes as
 * lines. On failure nothing is left in the library. Returns the VM's name. */
char *vm_library_import(const char *root, const char *path, const char *name, GPtrArray *notes,
                        GError **err);

/* Writes dir/NAME.xml, a libvirt domain of the library VM name, with its hard disks
 * and floppies converted to dir/NAME-<slot>.qcow2 and its kernel and initrd copied
 * into dir; a CD image is referenced where it is. Existing files are not overwritten.
 * Returns the XML file's path. */
char *vm_library_export_libvirt(const char *root, const char *name, const char *dir,
                                GError **err);
