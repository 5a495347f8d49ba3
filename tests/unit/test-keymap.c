/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host key table (ui/keymap.c) against the QEMU key names (engine/input.c): two
 * tables written from different sources (USB HID usages and evdev codes on one side,
 * QEMU's QKeyCode list on the other) must give every key of a 105-key keyboard the same
 * PC scancode. */
#include "engine/input.h"
#include "ui/keymap.h"

#include <glib.h>

typedef struct {
    unsigned sdl;      /* SDL_Scancode (USB HID usage) */
    unsigned evdev;    /* linux/input-event-codes.h */
    const char *qcode;
} KeyCase;

static const KeyCase keys[] = {
    { 41, 1, "esc" }, { 58, 59, "f1" }, { 59, 60, "f2" }, { 60, 61, "f3" }, { 61, 62, "f4" },
    { 62, 63, "f5" }, { 63, 64, "f6" }, { 64, 65, "f7" }, { 65, 66, "f8" }, { 66, 67, "f9" },
    { 67, 68, "f10" }, { 68, 87, "f11" }, { 69, 88, "f12" }, { 70, 99, "print" },
    { 71, 70, "scroll_lock" }, { 72, 119, "pause" },
    { 53, 41, "grave_accent" }, { 30, 2, "1" }, { 31, 3, "2" }, { 32, 4, "3" }, { 33, 5, "4" },
    { 34, 6, "5" }, { 35, 7, "6" }, { 36, 8, "7" }, { 37, 9, "8" }, { 38, 10, "9" },
    { 39, 11, "0" }, { 45, 12, "minus" }, { 46, 13, "equal" }, { 42, 14, "backspace" },
    { 43, 15, "tab" }, { 20, 16, "q" }, { 26, 17, "w" }, { 8, 18, "e" }, { 21, 19, "r" },
    { 23, 20, "t" }, { 28, 21, "y" }, { 24, 22, "u" }, { 12, 23, "i" }, { 18, 24, "o" },
    { 19, 25, "p" }, { 47, 26, "bracket_left" }, { 48, 27, "bracket_right" },
    { 49, 43, "backslash" }, { 57, 58, "caps_lock" }, { 4, 30, "a" }, { 22, 31, "s" },
    { 7, 32, "d" }, { 9, 33, "f" }, { 10, 34, "g" }, { 11, 35, "h" }, { 13, 36, "j" },
    { 14, 37, "k" }, { 15, 38, "l" }, { 51, 39, "semicolon" }, { 52, 40, "apostrophe" },
    { 40, 28, "ret" }, { 225, 42, "shift" }, { 100, 86, "less" }, { 29, 44, "z" },
    { 27, 45, "x" }, { 6, 46, "c" }, { 25, 47, "v" }, { 5, 48, "b" }, { 17, 49, "n" },
    { 16, 50, "m" }, { 54, 51, "comma" }, { 55, 52, "dot" }, { 56, 53, "slash" },
    { 229, 54, "shift_r" }, { 224, 29, "ctrl" }, { 227, 125, "meta_l" }, { 226, 56, "alt" },
    { 44, 57, "spc" }, { 230, 100, "alt_r" }, { 231, 126, "meta_r" }, { 101, 127, "menu" },
    { 228, 97, "ctrl_r" }, { 73, 110, "insert" }, { 74, 102, "home" }, { 75, 104, "pgup" },
    { 76, 111, "delete" }, { 77, 107, "end" }, { 78, 109, "pgdn" }, { 82, 103, "up" },
    { 80, 105, "left" }, { 81, 108, "down" }, { 79, 106, "right" }, { 83, 69, "num_lock" },
    { 84, 98, "kp_divide" }, { 85, 55, "kp_multiply" }, { 86, 74, "kp_subtract" },
    { 95, 71, "kp_7" }, { 96, 72, "kp_8" }, { 97, 73, "kp_9" }, { 87, 78, "kp_add" },
    { 92, 75, "kp_4" }, { 93, 76, "kp_5" }, { 94, 77, "kp_6" }, { 89, 79, "kp_1" },
    { 90, 80, "kp_2" }, { 91, 81, "kp_3" }, { 88, 96, "kp_enter" }, { 98, 82, "kp_0" },
    { 99, 83, "kp_decimal" },
};

static void test_105_keys(void)
{
    g_assert_cmpuint(G_N_ELEMENTS(keys), ==, 105);
    GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        uint16_t want;
        g_assert_true(input_qcode_to_key(keys[i].qcode, &want));
        g_assert_cmphex(keymap_sdl_to_evdev(keys[i].sdl), ==, keys[i].evdev);
        g_assert_cmphex(keymap_evdev_to_pc(keys[i].evdev), ==, want);
        g_assert_cmphex(keymap_x11_to_pc(keys[i].evdev + 8), ==, want);
        g_assert_cmphex(keymap_sdl_to_pc(keys[i].sdl), ==, want);
        g_assert_cmpstr(input_key_to_qcode(want), !=, NULL);
        /* No two keys share a scancode. */
        g_assert_false(g_hash_table_contains(seen, GUINT_TO_POINTER(want)));
        g_hash_table_add(seen, GUINT_TO_POINTER(want));
    }
    g_hash_table_destroy(seen);
}

static void test_unknown_keys(void)
{
    g_assert_cmphex(keymap_sdl_to_pc(0), ==, 0);
    g_assert_cmphex(keymap_sdl_to_pc(500), ==, 0);
    g_assert_cmphex(keymap_evdev_to_pc(0), ==, 0);
    g_assert_cmphex(keymap_evdev_to_pc(0x2ff), ==, 0);
    g_assert_cmphex(keymap_x11_to_pc(3), ==, 0);
    uint16_t code;
    g_assert_false(input_qcode_to_key("no_such_key", &code));
    g_assert_false(input_qnum_to_key(0, &code));
    g_assert_false(input_qnum_to_key(0x100, &code));
    g_assert_true(input_qnum_to_key(0x9d, &code));
    g_assert_cmphex(code, ==, 0xe01d); /* QEMU's number for right Ctrl */
    g_assert_true(input_qnum_to_key(0xc6, &code));
    g_assert_cmphex(code, ==, VM_KEY_PAUSE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keymap/105-keys", test_105_keys);
    g_test_add_func("/keymap/unknown", test_unknown_keys);
    return g_test_run();
}
