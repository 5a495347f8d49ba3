/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SDL2 window of vireo-run (-display sdl): the VM's screen scaled to the window with
 * the right aspect ratio, keyboard and mouse to the guest, mouse grab on click (Ctrl+Alt+G
 * releases it), full screen with Ctrl+Alt+F, the VM's name and state in the title.
 * Driven from the GLib main loop: a ~60 Hz timeout pulls the surface and polls events. */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct Vm Vm;
typedef struct SdlDisplay SdlDisplay;

SdlDisplay *sdl_display_new(Vm *vm, GError **err);
void sdl_display_free(SdlDisplay *d);
/* Called when the user closes the window. */
void sdl_display_set_close_handler(SdlDisplay *d, void (*fn)(void *data), void *data);
