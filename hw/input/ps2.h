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

/* The controller holds both devices inline, and their state goes into its state
 * section (engine/vmstate.h) through the descriptions below. */

typedef struct Vm Vm;
typedef struct VTimer VTimer;
/* Called when the device has a byte for the controller (lock held). */
typedef void (*Ps2NotifyFn)(void *opaque);

#define PS2_QUEUE_SIZE 32
#define PS2_NKEYS 131 /* the keys ps2.c knows */

typedef struct Ps2Queue {
    uint8_t data[PS2_QUEUE_SIZE];
    uint32_t head, count;
} Ps2Queue;

struct Ps2Keyboard {
    Vm *vm;
    Ps2NotifyFn notify;
    void *opaque;
    Ps2Queue q;
    int32_t set;
    bool scanning;
    uint8_t leds;
    uint8_t typematic;
    uint8_t pending;     /* command waiting for its parameter, or 0 */
    uint8_t last_sent;
    bool overrun;
    bool down[PS2_NKEYS];
    uint8_t type3[PS2_NKEYS];
    int32_t repeat_key;  /* key index repeating, or -1 */
    VTimer *repeat_timer;
};

struct Ps2Mouse {
    Vm *vm;
    Ps2NotifyFn notify;
    void *opaque;
    Ps2Queue q;
    bool remote, reporting, wrap, scale21;
    uint8_t resolution, rate;
    uint8_t id;            /* 0 standard, 3 IntelliMouse */
    uint8_t rate_hist[3];  /* the last three sample rates set, newest last */
    uint8_t pending;
    uint8_t last_sent;
    int32_t dx, dy, dz;    /* motion not reported yet (PS/2 directions: y up) */
    uint32_t buttons;
    bool buttons_dirty;
};

void ps2_keyboard_init(Ps2Keyboard *kbd, Vm *vm, Ps2NotifyFn notify, void *opaque);
void ps2_keyboard_cleanup(Ps2Keyboard *kbd);
void ps2_keyboard_reset(Ps2Keyboard *kbd);
/* A byte from the host (command or parameter). */
void ps2_keyboard_write(Ps2Keyboard *kbd, uint8_t byte);
bool ps2_keyboard_has_data(const Ps2Keyboard *kbd);
uint8_t ps2_keyboard_read(Ps2Keyboard *kbd);
/* LED state (bit 0 Scroll, 1 Num, 2 Caps Lock) and scancode set 1-3. */
uint8_t ps2_keyboard_leds(const Ps2Keyboard *kbd);
int ps2_keyboard_scancode_set(const Ps2Keyboard *kbd);

void ps2_mouse_init(Ps2Mouse *mouse, Vm *vm, Ps2NotifyFn notify, void *opaque);
void ps2_mouse_reset(Ps2Mouse *mouse);
void ps2_mouse_write(Ps2Mouse *mouse, uint8_t byte);
bool ps2_mouse_has_data(const Ps2Mouse *mouse);
uint8_t ps2_mouse_read(Ps2Mouse *mouse);

/* The 8042's set 2 to set 1 translation table, from the keyboard's key codes. */
void ps2_build_translation(uint8_t table[256]);

/* Guest-visible state of each device, for the controller's state description; the
 * check functions bound every loaded queue index, key index and mode (engine/vmstate.h
 * runs only the outer description's check hook, so the controller's calls these). */
typedef struct VmStateDesc VmStateDesc;
typedef struct _GError GError;
extern const VmStateDesc ps2_keyboard_vmsd;
extern const VmStateDesc ps2_mouse_vmsd;
bool ps2_keyboard_check(const Ps2Keyboard *kbd, GError **err);
bool ps2_mouse_check(const Ps2Mouse *mouse, GError **err);
