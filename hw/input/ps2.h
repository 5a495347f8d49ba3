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

/* Codes of the two keys whose sequences depend on the modifiers held: Print Screen
 * (set 1 E0 37; SysRq with Alt) and Pause (Break with Ctrl). */
#define PS2_KEY_PRINT_SCREEN 0xE037
#define PS2_KEY_PAUSE 0xE11D

/* The keyboard repeats a held key itself at the rate the guest set (command F3);
 * another press of a key already down is ignored. */

/* ---- the device side, for the controller (i8042.c) ---- */

typedef struct Vm Vm;
/* Called when the device has a byte for the controller (lock held). */
typedef void (*Ps2NotifyFn)(void *opaque);

Ps2Keyboard *ps2_keyboard_new(Vm *vm, Ps2NotifyFn notify, void *opaque);
void ps2_keyboard_free(Ps2Keyboard *kbd);
void ps2_keyboard_reset(Ps2Keyboard *kbd);
/* A byte from the host (command or parameter). */
void ps2_keyboard_write(Ps2Keyboard *kbd, uint8_t byte);
bool ps2_keyboard_has_data(const Ps2Keyboard *kbd);
uint8_t ps2_keyboard_read(Ps2Keyboard *kbd);
/* LED state (bit 0 Scroll, 1 Num, 2 Caps Lock) and scancode set 1-3. */
uint8_t ps2_keyboard_leds(const Ps2Keyboard *kbd);
int ps2_keyboard_scancode_set(const Ps2Keyboard *kbd);

Ps2Mouse *ps2_mouse_new(Vm *vm, Ps2NotifyFn notify, void *opaque);
void ps2_mouse_free(Ps2Mouse *mouse);
void ps2_mouse_reset(Ps2Mouse *mouse);
void ps2_mouse_write(Ps2Mouse *mouse, uint8_t byte);
bool ps2_mouse_has_data(const Ps2Mouse *mouse);
uint8_t ps2_mouse_read(Ps2Mouse *mouse);

/* The 8042's set 2 to set 1 translation table, from the keyboard's key codes. */
void ps2_build_translation(uint8_t table[256]);
