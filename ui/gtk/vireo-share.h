/* SPDX-License-Identifier: GPL-2.0-or-later */
/* "Share Screen": lets SPICE viewers (remote-viewer, spicy) show and drive a running VM,
 * with the address and the generated password to give them. */
#pragma once

#include "ui/gtk/vireo-machine.h"

#include <gtk/gtk.h>

/* A window for m's sharing, over parent; one per VM at a time. */
GtkWindow *vireo_share_dialog_show(GtkWindow *parent, VireoMachine *m);
