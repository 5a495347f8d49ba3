/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM library as a list model of VireoMachine, kept in step with the folders. */
#pragma once

#include "ui/gtk/vireo-machine.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define VIREO_TYPE_LIBRARY (vireo_library_get_type())
G_DECLARE_FINAL_TYPE(VireoLibrary, vireo_library, VIREO, LIBRARY, GObject)

VireoLibrary *vireo_library_new(const char *root);
const char *vireo_library_get_root(VireoLibrary *lib);
/* A GListModel of VireoMachine, sorted by name. */
GListModel *vireo_library_get_model(VireoLibrary *lib);
/* Reads the folders again; running VMs keep their objects. */
void vireo_library_reload(VireoLibrary *lib);
VireoMachine *vireo_library_find(VireoLibrary *lib, const char *name);
/* Adds the VM whose folder was just created. */
VireoMachine *vireo_library_add(VireoLibrary *lib, const char *name, GError **err);
/* Why name cannot be a new VM's (or machine's new) name, translated; NULL when it can.
 * except may keep its own name. The rules are vm_library_check_name's. */
char *vireo_library_name_problem(VireoLibrary *lib, const char *name, VireoMachine *except);
bool vireo_library_rename(VireoLibrary *lib, VireoMachine *m, const char *new_name, GError **err);
bool vireo_library_delete(VireoLibrary *lib, VireoMachine *m, GError **err);

G_END_DECLS
