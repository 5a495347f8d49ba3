/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM window's sound control: a header-bar button whose icon shows the level and
 * whether the guest is heard, with a popover holding a mute button and a slider. */
#pragma once

#include "ui/gtk/vireo-machine.h"

#include <gtk/gtk.h>

/* Follows the machine (its level, its sound card, whether it plays) and sets its level. */
GtkWidget *vireo_volume_button_new(VireoMachine *m);
/* The icon for a level: muted, low, medium, high (also the library's "playing" icon). */
const char *vireo_volume_icon_name(unsigned percent, bool muted);
