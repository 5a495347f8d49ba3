/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host keys to PC scancodes (engine/input.h codes: set 1, 0xE000 for extended keys).
 * Linux evdev key codes (linux/input-event-codes.h) are the common base: X11 and
 * GDK keycodes on Linux are evdev + 8, and SDL's scancodes (USB HID usages) map to
 * evdev first. One table, every front end. */
#pragma once

#include <stdint.h>

/* 0 when the key has no PC scancode. */
uint16_t keymap_evdev_to_pc(unsigned evdev);
uint16_t keymap_x11_to_pc(unsigned keycode);
/* SDL_Scancode values (USB HID keyboard usages) to evdev codes; 0 when unknown. */
unsigned keymap_sdl_to_evdev(unsigned sdl_scancode);
uint16_t keymap_sdl_to_pc(unsigned sdl_scancode);
