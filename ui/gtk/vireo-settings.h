/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's settings: memory, processors, boot order, media, display adapter, firmware.
 * Every change is checked and written to vm.conf at once; what cannot change while the
 * VM runs is insensitive then and says so. */
#pragma once

#include "ui/gtk/vireo-machine.h"

#include <adwaita.h>

GtkWindow *vireo_settings_dialog_new(GtkWindow *parent, VireoMachine *m);
