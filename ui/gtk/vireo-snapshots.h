/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's Snapshots window: the tree of engine/snaptree.h with thumbnails and the "you
 * are here" marker; take, revert, delete, rename and describe, for a stopped VM (the
 * operations run on a worker thread) and a running one (through its Vm, which pauses
 * for the operation). */
#pragma once

#include "ui/gtk/vireo-machine.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define VIREO_TYPE_SNAPSHOTS_WINDOW (vireo_snapshots_window_get_type())
G_DECLARE_FINAL_TYPE(VireoSnapshotsWindow, vireo_snapshots_window, VIREO, SNAPSHOTS_WINDOW, AdwWindow)

/* One window per machine: presents the existing one if it is open. */
GtkWindow *vireo_snapshots_window_show(GtkWindow *parent, VireoMachine *m);
/* Takes a snapshot of the machine at once (the VM window's shortcut), in its Snapshots
 * window, which shows the result. */
void vireo_snapshots_take_now(GtkWindow *parent, VireoMachine *m);

/* For tests: an operation is running. */
gboolean vireo_snapshots_window_is_busy(VireoSnapshotsWindow *w);
/* For tests: the snapshots listed, as SnapTreeNode (engine/snaptree.h). */
GPtrArray *vireo_snapshots_window_get_nodes(VireoSnapshotsWindow *w);

G_END_DECLS
