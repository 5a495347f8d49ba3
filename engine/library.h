/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM library: every VM is a folder ROOT/NAME/ holding vm.conf, its disks and what
 * front ends keep beside them (thumbnail.png). ROOT is $XDG_DATA_HOME/vireo/vms unless a
 * caller says otherwise. vireo-run --vm and the GTK app share this module. */
#pragma once

#include "engine/config.h"

#include <glib.h>
#include <stdbool.h>

#define VM_LIBRARY_THUMBNAIL "thumbnail.png"

/* One VM folder as the library found it. A folder whose vm.conf is missing or bad is
 * still listed, with error set, so the user can see it, fix it or delete it. */
typedef struct VmLibraryEntry {
    char *name;
    char *dir;
    GKeyFile *conf;     /* NULL when vm.conf could not be read */
    VmConfig *config;   /* NULL when conf has a bad value */
    GError *error;      /* why conf or config is NULL */
} VmLibraryEntry;

void vm_library_entry_free(VmLibraryEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmLibraryEntry, vm_library_entry_free)

/* $XDG_DATA_HOME/vireo/vms (not created). */
char *vm_library_default_root(void);

/* Every VM folder under root, sorted by name; an absent root is an empty library. */
GPtrArray *vm_library_list(const char *root);

/* One VM by name; NULL with err when the folder does not exist. The entry may still
 * carry an error about its vm.conf. */
VmLibraryEntry *vm_library_open(const char *root, const char *name, GError **err);

/* A name is a folder name: not empty, no '/', not starting with '.', at most 100 bytes,
 * valid UTF-8. */
bool vm_library_check_name(const char *name, GError **err);

/* Creates root/name/ with conf as its vm.conf; fails if the name is taken. Returns the
 * new folder. */
char *vm_library_create(const char *root, const char *name, GKeyFile *conf, GError **err);

/* Renames the folder; paths in vm.conf are relative to it and keep working. */
bool vm_library_rename(const char *root, const char *old_name, const char *new_name,
                       GError **err);

/* The files deleting the VM removes (everything in its folder), and the files its
 * vm.conf uses from elsewhere, which stay. Either list may be empty. */
void vm_library_list_files(const VmLibraryEntry *e, GPtrArray **removed, GPtrArray **kept);

/* Removes the VM's folder and everything in it. */
bool vm_library_delete(const char *root, const char *name, GError **err);
