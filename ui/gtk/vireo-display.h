/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest's screen in a GtkGLArea. Every frame it pulls the console's changes
 * (display_client_refresh) and uploads only the dirty rectangles to a texture. A click
 * grabs keyboard and pointer; Ctrl+Alt releases them. */
#pragma once

#include "engine/vm.h"

#include <gtk/gtk.h>
#include <stdint.h>

G_BEGIN_DECLS

#define VIREO_TYPE_DISPLAY (vireo_display_get_type())
G_DECLARE_FINAL_TYPE(VireoDisplay, vireo_display, VIREO, DISPLAY, GtkGLArea)

VireoDisplay *vireo_display_new(void);
/* Shows this VM's console; NULL detaches (before the VM is freed). */
void vireo_display_attach(VireoDisplay *d, Vm *vm);
void vireo_display_set_integer_scaling(VireoDisplay *d, gboolean on);
gboolean vireo_display_get_grabbed(VireoDisplay *d);
void vireo_display_ungrab(VireoDisplay *d);
/* Ctrl+Alt released the keyboard: typed keys are the host's until a click on the
 * screen grabs again (notified as "grabbed"). */
gboolean vireo_display_get_keys_released(VireoDisplay *d);

/* Presses the keys in order and releases them in reverse (PC scancodes), through the
 * VM's input queue with QMP send-key's default hold time between the steps. */
void vireo_display_send_keys(VireoDisplay *d, const uint16_t *codes, size_t n);

/* Where the guest picture is drawn, in widget coordinates; FALSE before the first frame. */
gboolean vireo_display_get_picture_rect(VireoDisplay *d, graphene_rect_t *rect);
/* The guest surface's size; FALSE before the first frame. */
gboolean vireo_display_get_surface_size(VireoDisplay *d, int *width, int *height);
/* The current guest picture at its own size, or NULL. */
GdkTexture *vireo_display_get_texture(VireoDisplay *d);
/* Writes the current guest picture as PNG. */
gboolean vireo_display_save_png(VireoDisplay *d, const char *path, GError **err);

G_END_DECLS
