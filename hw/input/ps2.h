/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PS/2 keyboard and mouse as devices on the 8042's two ports. Host input arrives as
 * PC scancodes (set 1 "XT" codes, 0xE0-prefixed for extended keys) and is translated
 * to the scancode set the guest selected. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct Ps2Keyboard Ps2Keyboard;
typedef struct Ps2Mouse Ps2Mouse;

/* Key press or release, lock held. code: set 1 make code, | 0xE000 for extended keys;
 * Pause and Print Screen use their own codes (see ps2.c). */
void ps2_keyboard_event(Ps2Keyboard *kbd, uint16_t code, bool down);
/* Relative motion (x right, y down, z wheel down), buttons bit 0 left, 1 right, 2 middle. */
void ps2_mouse_event(Ps2Mouse *mouse, int dx, int dy, int dz, unsigned buttons);
