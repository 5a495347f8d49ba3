/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host key table. evdev codes 1-83 are the set 1 scancodes of the same keys (the
 * Linux numbering started from the AT keyboard), so only the keys after those need a
 * table; SDL's scancodes are USB HID usage IDs (HID Usage Tables, page 7). */
#include "ui/keymap.h"
#include "engine/input.h"

#include <glib.h>

typedef struct KeyPair {
    uint16_t from, to;
} KeyPair;

/* evdev codes from 84 up, to PC scancodes. */
static const KeyPair evdev_high[] = {
    { 85, 0x29 },               /* KEY_ZENKAKUHANKAKU: where ` is on other layouts */
    { 86, 0x56 },               /* KEY_102ND: the extra key left of Z on ISO keyboards */
    { 87, 0x57 },               /* KEY_F11 */
    { 88, 0x58 },               /* KEY_F12 */
    { 89, 0x73 },               /* KEY_RO */
    { 90, 0x78 },               /* KEY_KATAKANA */
    { 91, 0x77 },               /* KEY_HIRAGANA */
    { 92, 0x79 },               /* KEY_HENKAN */
    { 93, 0x70 },               /* KEY_KATAKANAHIRAGANA */
    { 94, 0x7b },               /* KEY_MUHENKAN */
    { 95, 0x5c },               /* KEY_KPJPCOMMA */
    { 96, 0xe01c },             /* KEY_KPENTER */
    { 97, 0xe01d },             /* KEY_RIGHTCTRL */
    { 98, 0xe035 },             /* KEY_KPSLASH */
    { 99, VM_KEY_PRINT_SCREEN }, /* KEY_SYSRQ (the Print Screen key) */
    { 100, 0xe038 },            /* KEY_RIGHTALT */
    { 102, 0xe047 },            /* KEY_HOME */
    { 103, 0xe048 },            /* KEY_UP */
    { 104, 0xe049 },            /* KEY_PAGEUP */
    { 105, 0xe04b },            /* KEY_LEFT */
    { 106, 0xe04d },            /* KEY_RIGHT */
    { 107, 0xe04f },            /* KEY_END */
    { 108, 0xe050 },            /* KEY_DOWN */
    { 109, 0xe051 },            /* KEY_PAGEDOWN */
    { 110, 0xe052 },            /* KEY_INSERT */
    { 111, 0xe053 },            /* KEY_DELETE */
    { 113, 0xe020 },            /* KEY_MUTE */
    { 114, 0xe02e },            /* KEY_VOLUMEDOWN */
    { 115, 0xe030 },            /* KEY_VOLUMEUP */
    { 116, 0xe05e },            /* KEY_POWER */
    { 117, 0x59 },              /* KEY_KPEQUAL */
    { 119, VM_KEY_PAUSE },      /* KEY_PAUSE */
    { 121, 0x7e },              /* KEY_KPCOMMA */
    { 122, 0x72 },              /* KEY_HANGEUL */
    { 123, 0x71 },              /* KEY_HANJA */
    { 124, 0x7d },              /* KEY_YEN */
    { 125, 0xe05b },            /* KEY_LEFTMETA */
    { 126, 0xe05c },            /* KEY_RIGHTMETA */
    { 127, 0xe05d },            /* KEY_COMPOSE (the Menu key) */
    { 128, 0xe068 },            /* KEY_STOP */
    { 140, 0xe021 },            /* KEY_CALC */
    { 142, 0xe05f },            /* KEY_SLEEP */
    { 143, 0xe063 },            /* KEY_WAKEUP */
    { 155, 0xe06c },            /* KEY_MAIL */
    { 156, 0xe066 },            /* KEY_BOOKMARKS */
    { 157, 0xe06b },            /* KEY_COMPUTER */
    { 158, 0xe06a },            /* KEY_BACK */
    { 159, 0xe069 },            /* KEY_FORWARD */
    { 163, 0xe019 },            /* KEY_NEXTSONG */
    { 164, 0xe022 },            /* KEY_PLAYPAUSE */
    { 165, 0xe010 },            /* KEY_PREVIOUSSONG */
    { 166, 0xe024 },            /* KEY_STOPCD */
    { 172, 0xe032 },            /* KEY_HOMEPAGE */
    { 173, 0xe067 },            /* KEY_REFRESH */
    { 183, 0x64 }, { 184, 0x65 }, { 185, 0x66 }, { 186, 0x67 }, /* KEY_F13-F16 */
    { 187, 0x68 }, { 188, 0x69 }, { 189, 0x6a }, { 190, 0x6b }, /* KEY_F17-F20 */
    { 191, 0x6c }, { 192, 0x6d }, { 193, 0x6e }, { 194, 0x76 }, /* KEY_F21-F24 */
    { 217, 0xe065 },            /* KEY_SEARCH */
    { 226, 0xe06d },            /* KEY_MEDIA */
};

/* SDL scancodes (HID usages) to evdev codes. */
static const KeyPair sdl_to_evdev[] = {
    { 4, 30 }, { 5, 48 }, { 6, 46 }, { 7, 32 }, { 8, 18 }, { 9, 33 }, { 10, 34 },   /* A-G */
    { 11, 35 }, { 12, 23 }, { 13, 36 }, { 14, 37 }, { 15, 38 }, { 16, 50 },          /* H-M */
    { 17, 49 }, { 18, 24 }, { 19, 25 }, { 20, 16 }, { 21, 19 }, { 22, 31 },          /* N-S */
    { 23, 20 }, { 24, 22 }, { 25, 47 }, { 26, 17 }, { 27, 45 }, { 28, 21 }, { 29, 44 }, /* T-Z */
    { 30, 2 }, { 31, 3 }, { 32, 4 }, { 33, 5 }, { 34, 6 }, { 35, 7 }, { 36, 8 },     /* 1-7 */
    { 37, 9 }, { 38, 10 }, { 39, 11 },                                               /* 8, 9, 0 */
    { 40, 28 },  /* Return */
    { 41, 1 },   /* Escape */
    { 42, 14 },  /* Backspace */
    { 43, 15 },  /* Tab */
    { 44, 57 },  /* Space */
    { 45, 12 },  /* - */
    { 46, 13 },  /* = */
    { 47, 26 },  /* [ */
    { 48, 27 },  /* ] */
    { 49, 43 },  /* \ */
    { 50, 43 },  /* non-US # (same position and code as \ ) */
    { 51, 39 },  /* ; */
    { 52, 40 },  /* ' */
    { 53, 41 },  /* ` */
    { 54, 51 },  /* , */
    { 55, 52 },  /* . */
    { 56, 53 },  /* / */
    { 57, 58 },  /* Caps Lock */
    { 58, 59 }, { 59, 60 }, { 60, 61 }, { 61, 62 }, { 62, 63 }, { 63, 64 },         /* F1-F6 */
    { 64, 65 }, { 65, 66 }, { 66, 67 }, { 67, 68 }, { 68, 87 }, { 69, 88 },         /* F7-F12 */
    { 70, 99 },  /* Print Screen */
    { 71, 70 },  /* Scroll Lock */
    { 72, 119 }, /* Pause */
    { 73, 110 }, /* Insert */
    { 74, 102 }, /* Home */
    { 75, 104 }, /* Page Up */
    { 76, 111 }, /* Delete */
    { 77, 107 }, /* End */
    { 78, 109 }, /* Page Down */
    { 79, 106 }, /* Right */
    { 80, 105 }, /* Left */
    { 81, 108 }, /* Down */
    { 82, 103 }, /* Up */
    { 83, 69 },  /* Num Lock */
    { 84, 98 },  /* KP / */
    { 85, 55 },  /* KP * */
    { 86, 74 },  /* KP - */
    { 87, 78 },  /* KP + */
    { 88, 96 },  /* KP Enter */
    { 89, 79 }, { 90, 80 }, { 91, 81 }, { 92, 75 }, { 93, 76 }, { 94, 77 },         /* KP 1-6 */
    { 95, 71 }, { 96, 72 }, { 97, 73 }, { 98, 82 },                                 /* KP 7-9, 0 */
    { 99, 83 },  /* KP . */
    { 100, 86 }, /* non-US \ (the 102nd key) */
    { 101, 127 }, /* Application (Menu) */
    { 102, 116 }, /* Power */
    { 103, 117 }, /* KP = */
    { 104, 183 }, { 105, 184 }, { 106, 185 }, { 107, 186 }, { 108, 187 }, { 109, 188 }, /* F13-F18 */
    { 110, 189 }, { 111, 190 }, { 112, 191 }, { 113, 192 }, { 114, 193 }, { 115, 194 }, /* F19-F24 */
    { 127, 113 }, /* Mute */
    { 128, 115 }, /* Volume Up */
    { 129, 114 }, /* Volume Down */
    { 133, 121 }, /* KP , */
    { 135, 89 },  /* International 1 (Ro) */
    { 136, 93 },  /* International 2 (Katakana/Hiragana) */
    { 137, 124 }, /* International 3 (Yen) */
    { 138, 92 },  /* International 4 (Henkan) */
    { 139, 94 },  /* International 5 (Muhenkan) */
    { 144, 122 }, /* Lang 1 (Hangeul) */
    { 145, 123 }, /* Lang 2 (Hanja) */
    { 224, 29 },  /* Left Ctrl */
    { 225, 42 },  /* Left Shift */
    { 226, 56 },  /* Left Alt */
    { 227, 125 }, /* Left GUI */
    { 228, 97 },  /* Right Ctrl */
    { 229, 54 },  /* Right Shift */
    { 230, 100 }, /* Right Alt */
    { 231, 126 }, /* Right GUI */
    { 258, 163 }, /* SDL_SCANCODE_AUDIONEXT */
    { 259, 165 }, /* AUDIOPREV */
    { 260, 166 }, /* AUDIOSTOP */
    { 261, 164 }, /* AUDIOPLAY */
    { 262, 113 }, /* AUDIOMUTE */
    { 263, 226 }, /* MEDIASELECT */
    { 265, 155 }, /* MAIL */
    { 266, 140 }, /* CALCULATOR */
    { 267, 157 }, /* COMPUTER */
    { 268, 217 }, /* AC_SEARCH */
    { 269, 172 }, /* AC_HOME */
    { 270, 158 }, /* AC_BACK */
    { 271, 159 }, /* AC_FORWARD */
    { 272, 128 }, /* AC_STOP */
    { 273, 173 }, /* AC_REFRESH */
    { 274, 156 }, /* AC_BOOKMARKS */
    { 282, 142 }, /* SLEEP */
};

static uint16_t lookup(const KeyPair *t, size_t n, unsigned from)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].from == from)
            return t[i].to;
    return 0;
}

uint16_t keymap_evdev_to_pc(unsigned evdev)
{
    if (evdev >= 1 && evdev <= 83)
        return (uint16_t)evdev;
    return lookup(evdev_high, G_N_ELEMENTS(evdev_high), evdev);
}

uint16_t keymap_x11_to_pc(unsigned keycode)
{
    return keycode >= 8 ? keymap_evdev_to_pc(keycode - 8) : 0;
}

unsigned keymap_sdl_to_evdev(unsigned sdl_scancode)
{
    return lookup(sdl_to_evdev, G_N_ELEMENTS(sdl_to_evdev), sdl_scancode);
}

uint16_t keymap_sdl_to_pc(unsigned sdl_scancode)
{
    unsigned e = keymap_sdl_to_evdev(sdl_scancode);
    return e ? keymap_evdev_to_pc(e) : 0;
}
