/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PS/2 keyboard (IBM MF2, scancode sets 1-3) and the PS/2 mouse (with the
 * IntelliMouse wheel extension) as devices behind the 8042. Command behaviour follows
 * the IBM PS/2 keyboard and mouse technical references. */
#include "hw/input/ps2.h"
#include "engine/machine.h"

#include <string.h>

#define QUEUE_SIZE PS2_QUEUE_SIZE
/* The keyboard's own buffer holds 16 bytes of key codes; then it reports an overrun. */
#define KBD_KEY_BUFFER 16

static void queue_clear(Ps2Queue *q)
{
    q->head = 0;
    q->count = 0;
}

static bool queue_push(Ps2Queue *q, uint8_t b)
{
    if (q->count >= QUEUE_SIZE)
        return false;
    q->data[(q->head + q->count) % QUEUE_SIZE] = b;
    q->count++;
    return true;
}

static uint8_t queue_pop(Ps2Queue *q)
{
    if (!q->count)
        return 0;
    uint8_t b = q->data[q->head];
    q->head = (q->head + 1) % QUEUE_SIZE;
    q->count--;
    return b;
}

/* ---- keys ---- */

/* Set 3 key types (IBM): typematic (repeats while held) and make/break (sends a break
 * code). */
#define T3_REPEAT 0x01
#define T3_BREAK 0x02

typedef struct KeyDef {
    uint16_t set1;  /* | 0xE000 when E0-prefixed */
    uint16_t set2;  /* likewise */
    uint8_t set3;   /* 0: the key has no set 3 code */
} KeyDef;

static const KeyDef keys[] = {
    { 0x01, 0x76, 0x08 }, /* Esc */
    { 0x02, 0x16, 0x16 }, { 0x03, 0x1e, 0x1e }, { 0x04, 0x26, 0x26 }, { 0x05, 0x25, 0x25 },
    { 0x06, 0x2e, 0x2e }, { 0x07, 0x36, 0x36 }, { 0x08, 0x3d, 0x3d }, { 0x09, 0x3e, 0x3e },
    { 0x0a, 0x46, 0x46 }, { 0x0b, 0x45, 0x45 }, /* 1-0 */
    { 0x0c, 0x4e, 0x4e }, { 0x0d, 0x55, 0x55 }, /* - = */
    { 0x0e, 0x66, 0x66 }, /* Backspace */
    { 0x0f, 0x0d, 0x0d }, /* Tab */
    { 0x10, 0x15, 0x15 }, { 0x11, 0x1d, 0x1d }, { 0x12, 0x24, 0x24 }, { 0x13, 0x2d, 0x2d },
    { 0x14, 0x2c, 0x2c }, { 0x15, 0x35, 0x35 }, { 0x16, 0x3c, 0x3c }, { 0x17, 0x43, 0x43 },
    { 0x18, 0x44, 0x44 }, { 0x19, 0x4d, 0x4d }, /* Q-P */
    { 0x1a, 0x54, 0x54 }, { 0x1b, 0x5b, 0x5b }, /* [ ] */
    { 0x1c, 0x5a, 0x5a }, /* Enter */
    { 0x1d, 0x14, 0x11 }, /* Left Ctrl */
    { 0x1e, 0x1c, 0x1c }, { 0x1f, 0x1b, 0x1b }, { 0x20, 0x23, 0x23 }, { 0x21, 0x2b, 0x2b },
    { 0x22, 0x34, 0x34 }, { 0x23, 0x33, 0x33 }, { 0x24, 0x3b, 0x3b }, { 0x25, 0x42, 0x42 },
    { 0x26, 0x4b, 0x4b }, /* A-L */
    { 0x27, 0x4c, 0x4c }, { 0x28, 0x52, 0x52 }, { 0x29, 0x0e, 0x0e }, /* ; ' ` */
    { 0x2a, 0x12, 0x12 }, /* Left Shift */
    { 0x2b, 0x5d, 0x5c }, /* \ */
    { 0x2c, 0x1a, 0x1a }, { 0x2d, 0x22, 0x22 }, { 0x2e, 0x21, 0x21 }, { 0x2f, 0x2a, 0x2a },
    { 0x30, 0x32, 0x32 }, { 0x31, 0x31, 0x31 }, { 0x32, 0x3a, 0x3a }, /* Z-M */
    { 0x33, 0x41, 0x41 }, { 0x34, 0x49, 0x49 }, { 0x35, 0x4a, 0x4a }, /* , . / */
    { 0x36, 0x59, 0x59 }, /* Right Shift */
    { 0x37, 0x7c, 0x7e }, /* Keypad * */
    { 0x38, 0x11, 0x19 }, /* Left Alt */
    { 0x39, 0x29, 0x29 }, /* Space */
    { 0x3a, 0x58, 0x14 }, /* Caps Lock */
    { 0x3b, 0x05, 0x07 }, { 0x3c, 0x06, 0x0f }, { 0x3d, 0x04, 0x17 }, { 0x3e, 0x0c, 0x1f },
    { 0x3f, 0x03, 0x27 }, { 0x40, 0x0b, 0x2f }, { 0x41, 0x83, 0x37 }, { 0x42, 0x0a, 0x3f },
    { 0x43, 0x01, 0x47 }, { 0x44, 0x09, 0x4f }, /* F1-F10 */
    { 0x45, 0x77, 0x76 }, /* Num Lock */
    { 0x46, 0x7e, 0x5f }, /* Scroll Lock */
    { 0x47, 0x6c, 0x6c }, { 0x48, 0x75, 0x75 }, { 0x49, 0x7d, 0x7d }, /* Keypad 7 8 9 */
    { 0x4a, 0x7b, 0x84 }, /* Keypad - */
    { 0x4b, 0x6b, 0x6b }, { 0x4c, 0x73, 0x73 }, { 0x4d, 0x74, 0x74 }, /* Keypad 4 5 6 */
    { 0x4e, 0x79, 0x7c }, /* Keypad + */
    { 0x4f, 0x69, 0x69 }, { 0x50, 0x72, 0x72 }, { 0x51, 0x7a, 0x7a }, /* Keypad 1 2 3 */
    { 0x52, 0x70, 0x70 }, { 0x53, 0x71, 0x71 }, /* Keypad 0 . */
    { 0x54, 0x84, 0x57 }, /* SysRq (Alt + Print Screen) */
    { 0x56, 0x61, 0x13 }, /* the 102nd key (ISO \) */
    { 0x57, 0x78, 0x56 }, { 0x58, 0x07, 0x5e }, /* F11 F12 */
    { 0x59, 0x0f, 0 },    /* Keypad = */
    { 0x64, 0x08, 0 }, { 0x65, 0x10, 0 }, { 0x66, 0x18, 0 }, { 0x67, 0x20, 0 },
    { 0x68, 0x28, 0 }, { 0x69, 0x30, 0 }, { 0x6a, 0x38, 0 }, { 0x6b, 0x40, 0 },
    { 0x6c, 0x48, 0 }, { 0x6d, 0x50, 0 }, { 0x6e, 0x57, 0 }, { 0x76, 0x5f, 0 }, /* F13-F24 */
    { 0x70, 0x13, 0 }, /* Katakana/Hiragana */
    { 0x73, 0x51, 0 }, /* Ro */
    { 0x79, 0x64, 0 }, /* Henkan */
    { 0x7b, 0x67, 0 }, /* Muhenkan */
    { 0x7d, 0x6a, 0 }, /* Yen */
    { 0x7e, 0x6d, 0 }, /* Keypad , (Brazil) */
    { 0xe01c, 0xe05a, 0x79 }, /* Keypad Enter */
    { 0xe01d, 0xe014, 0x58 }, /* Right Ctrl */
    { 0xe035, 0xe04a, 0x77 }, /* Keypad / */
    { 0xe037, 0xe07c, 0x57 }, /* Print Screen (sequences built in kbd_print_screen) */
    { 0xe038, 0xe011, 0x39 }, /* Right Alt */
    { 0xe047, 0xe06c, 0x6e }, /* Home */
    { 0xe048, 0xe075, 0x63 }, /* Up */
    { 0xe049, 0xe07d, 0x6f }, /* Page Up */
    { 0xe04b, 0xe06b, 0x61 }, /* Left */
    { 0xe04d, 0xe074, 0x6a }, /* Right */
    { 0xe04f, 0xe069, 0x65 }, /* End */
    { 0xe050, 0xe072, 0x60 }, /* Down */
    { 0xe051, 0xe07a, 0x6d }, /* Page Down */
    { 0xe052, 0xe070, 0x67 }, /* Insert */
    { 0xe053, 0xe071, 0x64 }, /* Delete */
    { 0xe05b, 0xe01f, 0x8b }, /* Left GUI */
    { 0xe05c, 0xe027, 0x8c }, /* Right GUI */
    { 0xe05d, 0xe02f, 0x8d }, /* Menu */
    { 0xe05e, 0xe037, 0 },    /* Power */
    { 0xe05f, 0xe03f, 0 },    /* Sleep */
    { 0xe063, 0xe05e, 0 },    /* Wake */
    { 0xe020, 0xe023, 0 },    /* Mute */
    { 0xe02e, 0xe021, 0 },    /* Volume Down */
    { 0xe030, 0xe032, 0 },    /* Volume Up */
    { 0xe11d, 0xe114, 0x62 }, /* Pause (sequences built in kbd_pause) */
};

#define NKEYS G_N_ELEMENTS(keys)
G_STATIC_ASSERT(NKEYS == PS2_NKEYS);

enum { K_LSHIFT = 0x2a, K_RSHIFT = 0x36, K_LCTRL = 0x1d, K_RCTRL = 0xe01d, K_LALT = 0x38,
       K_RALT = 0xe038, K_CAPS = 0x3a };

static int key_find(uint16_t set1)
{
    for (unsigned i = 0; i < NKEYS; i++)
        if (keys[i].set1 == set1)
            return (int)i;
    return -1;
}

static int key_find_set3(uint8_t code)
{
    for (unsigned i = 0; i < NKEYS; i++)
        if (keys[i].set3 == code)
            return (int)i;
    return -1;
}

/* Each key's set 2 code translates to its set 1 code (E0 keys too: their second byte
 * maps like a plain key's). 00 becomes FF; values no key uses pass through, as do
 * the protocol bytes (E0, E1, FA, AA, EE, FE). */
void ps2_build_translation(uint8_t table[256])
{
    for (int i = 0; i < 256; i++)
        table[i] = (uint8_t)i;
    table[0x00] = 0xff;
    for (unsigned i = 0; i < NKEYS; i++)
        table[keys[i].set2 & 0xff] = (uint8_t)(keys[i].set1 & 0x7f);
}

/* ---- keyboard ---- */


static void kbd_notify(Ps2Keyboard *k)
{
    if (k->q.count && k->notify)
        k->notify(k->opaque);
}

static void kbd_respond(Ps2Keyboard *k, uint8_t b)
{
    queue_push(&k->q, b);
}

/* Key codes go through the 16-byte key buffer; what does not fit is replaced by one
 * overrun code (00 in sets 2 and 3, FF in set 1). */
static void kbd_send_keys(Ps2Keyboard *k, const uint8_t *codes, unsigned n)
{
    if (!n)
        return;
    if (k->q.count + n > KBD_KEY_BUFFER) {
        if (!k->overrun) {
            k->overrun = true;
            queue_push(&k->q, k->set == 1 ? 0xff : 0x00);
            VLOG(LOG_INPUT, "ps2 kbd: buffer overrun");
        }
        return;
    }
    for (unsigned i = 0; i < n; i++)
        queue_push(&k->q, codes[i]);
}

static bool kbd_held(const Ps2Keyboard *k, uint16_t set1)
{
    int i = key_find(set1);
    return i >= 0 && k->down[i];
}

/* Print Screen: plain E0 2A E0 37, with Shift or Ctrl E0 37, with Alt the SysRq code. */
static unsigned kbd_print_screen(const Ps2Keyboard *k, bool down, uint8_t *o)
{
    bool alt = kbd_held(k, K_LALT) || kbd_held(k, K_RALT);
    bool shift_ctrl = kbd_held(k, K_LSHIFT) || kbd_held(k, K_RSHIFT) ||
                      kbd_held(k, K_LCTRL) || kbd_held(k, K_RCTRL);
    unsigned n = 0;
    if (k->set == 1) {
        if (alt) {
            o[n++] = down ? 0x54 : 0xd4;
        } else if (shift_ctrl) {
            o[n++] = 0xe0;
            o[n++] = down ? 0x37 : 0xb7;
        } else if (down) {
            o[n++] = 0xe0; o[n++] = 0x2a; o[n++] = 0xe0; o[n++] = 0x37;
        } else {
            o[n++] = 0xe0; o[n++] = 0xb7; o[n++] = 0xe0; o[n++] = 0xaa;
        }
    } else {
        if (alt) {
            if (!down)
                o[n++] = 0xf0;
            o[n++] = 0x84;
        } else if (shift_ctrl) {
            o[n++] = 0xe0;
            if (!down)
                o[n++] = 0xf0;
            o[n++] = 0x7c;
        } else if (down) {
            o[n++] = 0xe0; o[n++] = 0x12; o[n++] = 0xe0; o[n++] = 0x7c;
        } else {
            o[n++] = 0xe0; o[n++] = 0xf0; o[n++] = 0x7c;
            o[n++] = 0xe0; o[n++] = 0xf0; o[n++] = 0x12;
        }
    }
    return n;
}

/* Pause sends its whole make and break on the press and nothing on release; with Ctrl
 * it is Break (E0 46 / E0 7E). */
static unsigned kbd_pause(const Ps2Keyboard *k, bool down, uint8_t *o)
{
    static const uint8_t s1[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 };
    static const uint8_t s2[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
    static const uint8_t b1[] = { 0xe0, 0x46, 0xe0, 0xc6 };
    static const uint8_t b2[] = { 0xe0, 0x7e, 0xe0, 0xf0, 0x7e };
    if (!down)
        return 0;
    bool ctrl = kbd_held(k, K_LCTRL) || kbd_held(k, K_RCTRL);
    const uint8_t *src;
    unsigned n;
    if (k->set == 1) {
        src = ctrl ? b1 : s1;
        n = ctrl ? sizeof(b1) : sizeof(s1);
    } else {
        src = ctrl ? b2 : s2;
        n = ctrl ? sizeof(b2) : sizeof(s2);
    }
    memcpy(o, src, n);
    return n;
}

/* The bytes a key sends in the current set. */
static unsigned kbd_encode(const Ps2Keyboard *k, int idx, bool down, uint8_t *o)
{
    const KeyDef *d = &keys[idx];
    if (k->set == 3) {
        if (!d->set3 || (!down && !(k->type3[idx] & T3_BREAK)))
            return 0;
        unsigned n = 0;
        if (!down)
            o[n++] = 0xf0;
        o[n++] = d->set3;
        return n;
    }
    if (d->set1 == PS2_KEY_PRINT_SCREEN)
        return kbd_print_screen(k, down, o);
    if (d->set1 == PS2_KEY_PAUSE)
        return kbd_pause(k, down, o);
    unsigned n = 0;
    if (k->set == 1) {
        if (d->set1 & 0xff00)
            o[n++] = 0xe0;
        o[n++] = (uint8_t)((d->set1 & 0x7f) | (down ? 0 : 0x80));
    } else {
        if (d->set2 & 0xff00)
            o[n++] = 0xe0;
        if (!down)
            o[n++] = 0xf0;
        o[n++] = (uint8_t)d->set2;
    }
    return n;
}

static bool kbd_repeats(const Ps2Keyboard *k, int idx)
{
    if (keys[idx].set1 == PS2_KEY_PAUSE)
        return false;
    if (k->set == 3)
        return k->type3[idx] & T3_REPEAT;
    return true;
}

/* F3 parameter: delay (bits 6-5) (1 + D) * 250 ms; period (8 + A) * 2^B * 4.17 ms
 * with A bits 2-0 and B bits 4-3. */
static int64_t kbd_repeat_delay_ns(const Ps2Keyboard *k)
{
    return (((k->typematic >> 5) & 3) + 1) * 250 * INT64_C(1000000);
}

static int64_t kbd_repeat_period_ns(const Ps2Keyboard *k)
{
    int64_t a = k->typematic & 7, b = (k->typematic >> 3) & 3;
    return (8 + a) * (INT64_C(1) << b) * NS_PER_SEC / 240;
}

static void kbd_repeat_stop(Ps2Keyboard *k)
{
    k->repeat_key = -1;
    vtimer_del(k->repeat_timer);
}

static void kbd_repeat_cb(void *opaque)
{
    Ps2Keyboard *k = opaque;
    int idx = k->repeat_key;
    if (idx < 0 || !k->down[idx] || !k->scanning)
        return;
    uint8_t o[8];
    kbd_send_keys(k, o, kbd_encode(k, idx, true, o));
    kbd_notify(k);
    vtimer_mod(k->repeat_timer, vm_clock_ns(k->vm) + kbd_repeat_period_ns(k));
}

void ps2_keyboard_event(Ps2Keyboard *k, uint16_t code, bool down)
{
    int idx = key_find(code);
    if (idx < 0) {
        VLOG(LOG_INPUT, "ps2 kbd: no key for code 0x%04x", code);
        return;
    }
    if (down && k->down[idx])
        return; /* the keyboard's own typematic repeats a held key */
    if (!down && !k->down[idx])
        return;
    k->down[idx] = down;
    if (!k->scanning)
        return;
    uint8_t o[8];
    kbd_send_keys(k, o, kbd_encode(k, idx, down, o));
    if (down && kbd_repeats(k, idx)) {
        k->repeat_key = idx;
        vtimer_mod(k->repeat_timer, vm_clock_ns(k->vm) + kbd_repeat_delay_ns(k));
    } else if (down || idx == k->repeat_key) {
        kbd_repeat_stop(k);
    }
    kbd_notify(k);
}

/* Set 3 default key types (IBM): the Shift, Ctrl, Alt and Caps Lock keys make/break;
 * all others typematic, make only. */
static void kbd_default_types(Ps2Keyboard *k)
{
    for (unsigned i = 0; i < NKEYS; i++) {
        uint16_t c = keys[i].set1;
        bool mod = c == K_LSHIFT || c == K_RSHIFT || c == K_LCTRL || c == K_RCTRL ||
                   c == K_LALT || c == K_RALT || c == K_CAPS;
        k->type3[i] = mod ? T3_BREAK : T3_REPEAT;
    }
}

static void kbd_defaults(Ps2Keyboard *k)
{
    k->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
    kbd_default_types(k);
    kbd_repeat_stop(k);
}

static void kbd_clear_buffer(Ps2Keyboard *k)
{
    queue_clear(&k->q);
    k->overrun = false;
}

static void kbd_command(Ps2Keyboard *k, uint8_t cmd)
{
    switch (cmd) {
    case 0xff: /* reset: ACK, then the self-test result */
        kbd_clear_buffer(k);
        kbd_defaults(k);
        k->set = 2;
        k->leds = 0;
        k->scanning = true;
        kbd_respond(k, 0xfa);
        kbd_respond(k, 0xaa);
        break;
    case 0xfe: /* resend the last byte */
        kbd_respond(k, k->last_sent);
        break;
    case 0xfd: case 0xfc: case 0xfb: /* set key type for the listed set 3 keys */
        kbd_respond(k, 0xfa);
        k->pending = cmd;
        break;
    case 0xfa: case 0xf9: case 0xf8: case 0xf7: { /* set all keys' type */
        static const uint8_t all[4] = { T3_REPEAT, T3_BREAK, 0, T3_REPEAT | T3_BREAK };
        uint8_t t = all[cmd - 0xf7];
        for (unsigned i = 0; i < NKEYS; i++)
            k->type3[i] = t;
        kbd_respond(k, 0xfa);
        break;
    }
    case 0xf6: /* set defaults, keep scanning */
        kbd_clear_buffer(k);
        kbd_defaults(k);
        kbd_respond(k, 0xfa);
        break;
    case 0xf5: /* set defaults and stop scanning */
        kbd_clear_buffer(k);
        kbd_defaults(k);
        k->scanning = false;
        kbd_respond(k, 0xfa);
        break;
    case 0xf4: /* enable scanning */
        kbd_clear_buffer(k);
        kbd_repeat_stop(k);
        k->scanning = true;
        kbd_respond(k, 0xfa);
        break;
    case 0xf3: case 0xf0: case 0xed:
        kbd_respond(k, 0xfa);
        k->pending = cmd;
        break;
    case 0xf2: /* identify: MF2 keyboard */
        kbd_respond(k, 0xfa);
        kbd_respond(k, 0xab);
        kbd_respond(k, 0x83);
        break;
    case 0xee:
        kbd_respond(k, 0xee);
        break;
    default:
        VLOG(LOG_GUEST, "ps2 kbd: unknown command 0x%02x", cmd);
        kbd_respond(k, 0xfe);
        break;
    }
}

void ps2_keyboard_write(Ps2Keyboard *k, uint8_t b)
{
    uint8_t pending = k->pending;
    k->pending = 0;
    /* A command byte where a parameter was expected starts that command instead. */
    bool is_cmd = b >= 0xed;
    switch (pending) {
    case 0xed:
        if (is_cmd && (b & 0xf8))
            break;
        k->leds = b & 7;
        kbd_respond(k, 0xfa);
        kbd_notify(k);
        return;
    case 0xf3:
        if (b & 0x80)
            break;
        k->typematic = b;
        kbd_respond(k, 0xfa);
        kbd_notify(k);
        return;
    case 0xf0:
        if (is_cmd)
            break;
        if (b == 0) {
            kbd_respond(k, 0xfa);
            kbd_respond(k, (uint8_t)k->set);
        } else if (b <= 3) {
            kbd_clear_buffer(k);
            kbd_repeat_stop(k);
            k->set = b;
            kbd_respond(k, 0xfa);
        } else {
            k->pending = 0xf0;
            kbd_respond(k, 0xfe);
        }
        kbd_notify(k);
        return;
    case 0xfb: case 0xfc: case 0xfd: {
        if (is_cmd)
            break;
        int idx = key_find_set3(b);
        if (idx >= 0)
            k->type3[idx] = pending == 0xfb ? T3_REPEAT : pending == 0xfc ? T3_BREAK : 0;
        k->pending = pending; /* the list goes on until a command */
        kbd_respond(k, 0xfa);
        kbd_notify(k);
        return;
    }
    default:
        break;
    }
    kbd_command(k, b);
    kbd_notify(k);
}

bool ps2_keyboard_has_data(const Ps2Keyboard *k)
{
    return k->q.count > 0;
}

uint8_t ps2_keyboard_read(Ps2Keyboard *k)
{
    uint8_t b = queue_pop(&k->q);
    k->last_sent = b;
    if (!k->q.count)
        k->overrun = false;
    return b;
}

uint8_t ps2_keyboard_leds(const Ps2Keyboard *k)
{
    return k->leds;
}

int ps2_keyboard_scancode_set(const Ps2Keyboard *k)
{
    return k->set;
}

void ps2_keyboard_reset(Ps2Keyboard *k)
{
    kbd_clear_buffer(k);
    kbd_defaults(k);
    k->set = 2;
    k->leds = 0;
    k->scanning = true;
    k->pending = 0;
    k->last_sent = 0;
    memset(k->down, 0, sizeof(k->down));
}

void ps2_keyboard_init(Ps2Keyboard *k, Vm *vm, Ps2NotifyFn notify, void *opaque)
{
    k->vm = vm;
    k->notify = notify;
    k->opaque = opaque;
    k->repeat_timer = vtimer_new(vm, kbd_repeat_cb, k);
    ps2_keyboard_reset(k);
}

void ps2_keyboard_cleanup(Ps2Keyboard *k)
{
    vtimer_free(k->repeat_timer);
    k->repeat_timer = NULL;
}

/* ---- mouse ---- */


static void mouse_notify(Ps2Mouse *m)
{
    if (m->q.count && m->notify)
        m->notify(m->opaque);
}

/* Scaling 2:1 (stream mode): 1->1, 2->1, 3->3, 4->6, 5->9, above twice the value. */
static int mouse_scale(int v)
{
    static const int table[6] = { 0, 1, 1, 3, 6, 9 };
    int a = v < 0 ? -v : v;
    int s = a <= 5 ? table[a] : 2 * a;
    return v < 0 ? -s : s;
}

/* Sends one packet with as much of the pending motion as it can carry. */
static void mouse_send_packet(Ps2Mouse *m, bool stream)
{
    int x = CLAMP(m->dx, -256, 255);
    int y = CLAMP(m->dy, -256, 255);
    int z = CLAMP(m->dz, -8, 7);
    m->dx -= x;
    m->dy -= y;
    m->dz -= z;
    if (stream && m->scale21) {
        x = CLAMP(mouse_scale(x), -256, 255);
        y = CLAMP(mouse_scale(y), -256, 255);
    }
    uint8_t b0 = (uint8_t)(0x08 | (m->buttons & 7) | (x < 0 ? 0x10 : 0) | (y < 0 ? 0x20 : 0));
    queue_push(&m->q, b0);
    queue_push(&m->q, (uint8_t)x);
    queue_push(&m->q, (uint8_t)y);
    if (m->id == 3)
        queue_push(&m->q, (uint8_t)(int8_t)z);
    else
        m->dz = 0; /* a standard mouse has no wheel to report */
    m->buttons_dirty = false;
}

/* Stream mode: a packet goes out when there is something to say and the last one has
 * been taken by the controller, so motion piles up in the counters meanwhile. */
static void mouse_try_stream(Ps2Mouse *m)
{
    if (m->remote || !m->reporting || m->wrap || m->q.count)
        return;
    if (m->dx || m->dy || (m->dz && m->id == 3) || m->buttons_dirty)
        mouse_send_packet(m, true);
}

void ps2_mouse_event(Ps2Mouse *m, int dx, int dy, int dz, unsigned buttons)
{
    if (!m->reporting && !m->remote)
        return; /* stream mode with reporting off: the mouse ignores movement */
    m->dx = CLAMP(m->dx + dx, -65536, 65535);
    m->dy = CLAMP(m->dy - dy, -65536, 65535);
    m->dz = CLAMP(m->dz + dz, -1024, 1023);
    if ((buttons & 7) != m->buttons)
        m->buttons_dirty = true;
    m->buttons = buttons & 7;
    mouse_try_stream(m);
    mouse_notify(m);
}

static void mouse_clear_motion(Ps2Mouse *m)
{
    m->dx = m->dy = m->dz = 0;
    m->buttons_dirty = false;
}

static void mouse_defaults(Ps2Mouse *m)
{
    m->rate = 100;
    m->resolution = 2; /* 4 counts/mm */
    m->scale21 = false;
    m->reporting = false;
    m->remote = false;
    mouse_clear_motion(m);
}

static void mouse_respond(Ps2Mouse *m, uint8_t b)
{
    queue_push(&m->q, b);
}

static bool mouse_valid_rate(uint8_t r)
{
    return r == 10 || r == 20 || r == 40 || r == 60 || r == 80 || r == 100 || r == 200;
}

static void mouse_command(Ps2Mouse *m, uint8_t cmd)
{
    switch (cmd) {
    case 0xff: /* reset: ACK, self-test passed, ID; back to a standard mouse */
        queue_clear(&m->q);
        mouse_defaults(m);
        m->wrap = false;
        m->id = 0;
        memset(m->rate_hist, 0, sizeof(m->rate_hist));
        mouse_respond(m, 0xfa);
        mouse_respond(m, 0xaa);
        mouse_respond(m, 0x00);
        break;
    case 0xfe:
        mouse_respond(m, m->last_sent);
        break;
    case 0xf6:
        queue_clear(&m->q);
        mouse_defaults(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xf5:
        queue_clear(&m->q);
        m->reporting = false;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xf4:
        m->reporting = true;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xf3: case 0xe8:
        mouse_respond(m, 0xfa);
        m->pending = cmd;
        break;
    case 0xf2:
        mouse_respond(m, 0xfa);
        mouse_respond(m, m->id);
        break;
    case 0xf0:
        m->remote = true;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xee:
        m->wrap = true;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xec:
        m->wrap = false;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xeb: /* read data: a packet now, in either mode */
        mouse_respond(m, 0xfa);
        mouse_send_packet(m, false);
        break;
    case 0xea:
        m->remote = false;
        mouse_clear_motion(m);
        mouse_respond(m, 0xfa);
        break;
    case 0xe9: /* status: mode/enable/scaling/buttons, resolution, rate */
        mouse_respond(m, 0xfa);
        mouse_respond(m, (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
                                   (m->scale21 ? 0x10 : 0) | ((m->buttons & 1) << 2) |
                                   ((m->buttons & 4) >> 1) | ((m->buttons & 2) >> 1)));
        mouse_respond(m, m->resolution);
        mouse_respond(m, m->rate);
        break;
    case 0xe7:
        m->scale21 = true;
        mouse_respond(m, 0xfa);
        break;
    case 0xe6:
        m->scale21 = false;
        mouse_respond(m, 0xfa);
        break;
    default:
        VLOG(LOG_GUEST, "ps2 mouse: unknown command 0x%02x", cmd);
        mouse_respond(m, 0xfe);
        break;
    }
}

void ps2_mouse_write(Ps2Mouse *m, uint8_t b)
{
    if (m->wrap && b != 0xec && b != 0xff) {
        mouse_respond(m, b); /* wrap mode echoes */
        mouse_notify(m);
        return;
    }
    uint8_t pending = m->pending;
    m->pending = 0;
    if (pending == 0xf3) {
        if (mouse_valid_rate(b)) {
            m->rate = b;
            mouse_clear_motion(m);
            m->rate_hist[0] = m->rate_hist[1];
            m->rate_hist[1] = m->rate_hist[2];
            m->rate_hist[2] = b;
            /* The IntelliMouse knock: rates 200, 100, 80 in a row enable the wheel. */
            if (m->rate_hist[0] == 200 && m->rate_hist[1] == 100 && m->rate_hist[2] == 80)
                m->id = 3;
            mouse_respond(m, 0xfa);
        } else {
            m->pending = pending;
            mouse_respond(m, 0xfe);
        }
        mouse_notify(m);
        return;
    }
    if (pending == 0xe8) {
        if (b <= 3) {
            m->resolution = b;
            mouse_clear_motion(m);
            mouse_respond(m, 0xfa);
        } else {
            m->pending = pending;
            mouse_respond(m, 0xfe);
        }
        mouse_notify(m);
        return;
    }
    mouse_command(m, b);
    mouse_notify(m);
}

bool ps2_mouse_has_data(const Ps2Mouse *m)
{
    return m->q.count > 0;
}

uint8_t ps2_mouse_read(Ps2Mouse *m)
{
    uint8_t b = queue_pop(&m->q);
    m->last_sent = b;
    if (!m->q.count)
        mouse_try_stream(m);
    return b;
}

void ps2_mouse_reset(Ps2Mouse *m)
{
    queue_clear(&m->q);
    mouse_defaults(m);
    m->wrap = false;
    m->id = 0;
    m->pending = 0;
    m->last_sent = 0;
    m->buttons = 0;
    memset(m->rate_hist, 0, sizeof(m->rate_hist));
}

void ps2_mouse_init(Ps2Mouse *m, Vm *vm, Ps2NotifyFn notify, void *opaque)
{
    m->vm = vm;
    m->notify = notify;
    m->opaque = opaque;
    ps2_mouse_reset(m);
}

/* ---- state ---- */

static const VmStateField ps2_queue_fields[] = {
    VMSTATE_U8_ARRAY(Ps2Queue, data, PS2_QUEUE_SIZE),
    VMSTATE_U32_RANGE(Ps2Queue, head, 0, PS2_QUEUE_SIZE - 1),
    VMSTATE_U32_RANGE(Ps2Queue, count, 0, PS2_QUEUE_SIZE),
    VMSTATE_END,
};

static const VmStateDesc ps2_queue_vmsd = { .name = "ps2-queue", .version = 1, .fields = ps2_queue_fields };

/* The held keys and the set 3 key types are per key of the table above. */
static const VmStateField ps2_keyboard_fields[] = {
    VMSTATE_STRUCT(Ps2Keyboard, q, Ps2Queue, &ps2_queue_vmsd),
    VMSTATE_I32_RANGE(Ps2Keyboard, set, 1, 3),
    VMSTATE_BOOL(Ps2Keyboard, scanning),
    VMSTATE_U8_RANGE(Ps2Keyboard, leds, 0, 7),
    VMSTATE_U8_RANGE(Ps2Keyboard, typematic, 0, 0x7f),
    VMSTATE_U8(Ps2Keyboard, pending),
    VMSTATE_U8(Ps2Keyboard, last_sent),
    VMSTATE_BOOL(Ps2Keyboard, overrun),
    { .name = "down", .type = VMS_BOOL, .offset = VMS_AOFF_(Ps2Keyboard, down, bool), .count = PS2_NKEYS },
    VMSTATE_U8_ARRAY(Ps2Keyboard, type3, PS2_NKEYS),
    VMSTATE_I32_RANGE(Ps2Keyboard, repeat_key, -1, PS2_NKEYS - 1),
    VMSTATE_TIMER(Ps2Keyboard, repeat_timer),
    VMSTATE_END,
};

const VmStateDesc ps2_keyboard_vmsd = { .name = "ps2-kbd", .version = 1, .fields = ps2_keyboard_fields };

/* Only commands that take a parameter leave one pending. */
bool ps2_keyboard_check(const Ps2Keyboard *k, GError **err)
{
    switch (k->pending) {
    case 0: case 0xed: case 0xf0: case 0xf3: case 0xfb: case 0xfc: case 0xfd:
        break;
    default:
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "keyboard: no command 0x%02x takes a parameter",
                    k->pending);
        return false;
    }
    for (unsigned i = 0; i < NKEYS; i++) {
        if (k->type3[i] & ~(T3_REPEAT | T3_BREAK)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "keyboard: key %u has type 0x%02x", i,
                        k->type3[i]);
            return false;
        }
    }
    return true;
}

static const VmStateField ps2_mouse_fields[] = {
    VMSTATE_STRUCT(Ps2Mouse, q, Ps2Queue, &ps2_queue_vmsd),
    VMSTATE_BOOL(Ps2Mouse, remote),
    VMSTATE_BOOL(Ps2Mouse, reporting),
    VMSTATE_BOOL(Ps2Mouse, wrap),
    VMSTATE_BOOL(Ps2Mouse, scale21),
    VMSTATE_U8_RANGE(Ps2Mouse, resolution, 0, 3),
    VMSTATE_U8(Ps2Mouse, rate),
    VMSTATE_U8(Ps2Mouse, id),
    VMSTATE_U8_ARRAY(Ps2Mouse, rate_hist, 3),
    VMSTATE_U8(Ps2Mouse, pending),
    VMSTATE_U8(Ps2Mouse, last_sent),
    /* The bounds ps2_mouse_event clamps the counters to. */
    VMSTATE_I32_RANGE(Ps2Mouse, dx, -65536, 65535),
    VMSTATE_I32_RANGE(Ps2Mouse, dy, -65536, 65535),
    VMSTATE_I32_RANGE(Ps2Mouse, dz, -1024, 1023),
    VMSTATE_U32_RANGE(Ps2Mouse, buttons, 0, 7),
    VMSTATE_BOOL(Ps2Mouse, buttons_dirty),
    VMSTATE_END,
};

const VmStateDesc ps2_mouse_vmsd = { .name = "ps2-mouse", .version = 1, .fields = ps2_mouse_fields };

bool ps2_mouse_check(const Ps2Mouse *m, GError **err)
{
    if (m->id != 0 && m->id != 3) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "mouse: device ID %u", m->id);
        return false;
    }
    if (m->pending != 0 && m->pending != 0xf3 && m->pending != 0xe8) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "mouse: no command 0x%02x takes a parameter",
                    m->pending);
        return false;
    }
    return true;
}
