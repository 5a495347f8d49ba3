/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Vireo GTK application: one library window, one window per opened VM. */
#pragma once

#include "ui/gtk/vireo-library.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define VIREO_APP_ID "org.vireo.Vireo"

#define VIREO_TYPE_APPLICATION (vireo_application_get_type())
G_DECLARE_FINAL_TYPE(VireoApplication, vireo_application, VIREO, APPLICATION, AdwApplication)

/* Sets up gettext (the build tree's catalogues when run from there) and resources. */
void vireo_application_init_i18n(void);

/* library_root NULL: $XDG_DATA_HOME/vireo/vms. */
VireoApplication *vireo_application_new(const char *library_root);
VireoLibrary *vireo_application_get_library(VireoApplication *app);
/* The app's GSettings, or NULL when the schema is not installed (settings then last
 * for the session only). */
GSettings *vireo_application_get_settings(VireoApplication *app);
/* The library window (created on first use). */
GtkWindow *vireo_application_get_main_window(VireoApplication *app);
/* The VM's window, created if needed, and shown. */
GtkWindow *vireo_application_open_machine(VireoApplication *app, VireoMachine *m);
/* The VM's window if it has one. */
GtkWindow *vireo_application_find_machine_window(VireoApplication *app, VireoMachine *m);

G_END_DECLS
