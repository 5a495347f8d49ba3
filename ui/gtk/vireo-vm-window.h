/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's own window: its screen, and the controls to run it. */
#pragma once

#include "ui/gtk/vireo-application.h"

G_BEGIN_DECLS

#define VIREO_TYPE_VM_WINDOW (vireo_vm_window_get_type())
G_DECLARE_FINAL_TYPE(VireoVmWindow, vireo_vm_window, VIREO, VM_WINDOW, AdwApplicationWindow)

VireoVmWindow *vireo_vm_window_new(VireoApplication *app, VireoMachine *m);
VireoMachine *vireo_vm_window_get_machine(VireoVmWindow *w);
/* The display widget (a VireoDisplay). */
GtkWidget *vireo_vm_window_get_display(VireoVmWindow *w);
/* The header bar's subtitle: the state, or how to release the grab. */
const char *vireo_vm_window_get_status(VireoVmWindow *w);
/* Whether the window says the VM found nothing to boot. */
gboolean vireo_vm_window_shows_boot_problem(VireoVmWindow *w);
/* The folder the screenshot dialog opens in. */
char *vireo_pictures_folder(void);

G_END_DECLS
