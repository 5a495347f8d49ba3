/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The library window: every VM with its name, system, state and last screen. */
#pragma once

#include "ui/gtk/vireo-application.h"

G_BEGIN_DECLS

#define VIREO_TYPE_WINDOW (vireo_window_get_type())
G_DECLARE_FINAL_TYPE(VireoWindow, vireo_window, VIREO, WINDOW, AdwApplicationWindow)

VireoWindow *vireo_window_new(VireoApplication *app);
void vireo_window_show_toast(VireoWindow *win, const char *text);
/* A dialog with a heading and what went wrong. */
void vireo_window_show_error(VireoWindow *win, const char *heading, const char *message);

/* Asks before quitting turns running VMs off; TRUE when it asked (the answer quits
 * through app.quit again). */
gboolean vireo_window_ask_quit(VireoWindow *win);

/* Shared by the VM windows: explains why a VM cannot start and what to do about it,
 * with a button that opens the VM's folder. */
void vireo_show_start_error(GtkWindow *parent, VireoMachine *m, const GError *err);

G_END_DECLS
