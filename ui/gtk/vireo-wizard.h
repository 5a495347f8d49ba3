/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The new-VM wizard: install medium, system and hardware, summary, create. Its actions
 * (wizard.next, wizard.back, wizard.choose-media) and template children are what the
 * buttons use, and what the UI tests drive. */
#pragma once

#include "ui/gtk/vireo-library.h"

#include <adwaita.h>

G_BEGIN_DECLS

#define VIREO_TYPE_WIZARD (vireo_wizard_get_type())
G_DECLARE_FINAL_TYPE(VireoWizard, vireo_wizard, VIREO, WIZARD, AdwWindow)

VireoWizard *vireo_wizard_new(GtkWindow *parent, VireoLibrary *library);
/* The page shown: "media", "system" or "summary". */
const char *vireo_wizard_get_page(VireoWizard *w);
/* Whether an install medium is still being looked at. */
gboolean vireo_wizard_is_busy(VireoWizard *w);

G_END_DECLS
