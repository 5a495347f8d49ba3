/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input routing and the table of QEMU key names. */
#include "engine/input.h"
#include "engine/vm-internal.h"

#include <string.h>

struct VmInputHandler {
    const VmInputOps *ops;
    void *opaque;
};

void vm_set_input_handler(Vm *vm, const VmInputOps *ops, void *opaque)
{
    if (!vm->input_board) {
        vm->input_board = g_new0(VmInputHandler, 1);
        vm->input_handlers = g_list_prepend(vm->input_handlers, vm->input_board);
    }
    vm->input_board->ops = ops;
    vm->input_board->opaque = opaque;
}

VmInputHandler *vm_input_handler_add(Vm *vm, const VmInputOps *ops, void *opaque)
{
    VmInputHandler *h = g_new0(VmInputHandler, 1);
    h->ops = ops;
    h->opaque = opaque;
    vm->input_handlers = g_list_append(vm->input_handlers, h);
    return h;
}

void vm_input_handler_remove(Vm *vm, VmInputHandler *h)
{
    if (!h)
        return;
    vm->input_handlers = g_list_remove(vm->input_handlers, h);
    if (h == vm->input_board)
        vm->input_board = NULL;
    g_free(h);
}

/* The newest handler whose ops have the member at `offset` (lock held). */
static VmInputHandler *input_find(Vm *vm, size_t offset)
{
    for (GList *l = g_list_last(vm->input_handlers); l; l = l->prev) {
        VmInputHandler *h = l->data;
        if (h->ops && *(void **)((char *)h->ops + offset))
            return h;
    }
    return NULL;
}

bool vm_input_available(Vm *vm)
{
    return vm->input_handlers != NULL;
}

bool vm_input_absolute(Vm *vm)
{
    vm_lock(vm);
    bool abs = input_find(vm, offsetof(VmInputOps, abs)) != NULL;
    vm_unlock(vm);
    return abs;
}

/* Lock held. */
static void input_apply(Vm *vm, const VmInputEvent *e)
{
    if (e->pointer) {
        VmInputHandler *abs = input_find(vm, offsetof(VmInputOps, abs));
        bool motion = e->absolute ? (e->dx != VM_INPUT_ABS_KEEP || e->dy != VM_INPUT_ABS_KEEP)
                                  : (e->dx || e->dy);
        /* Buttons and the wheel alone go to the pointer the front end drives. */
        if (e->absolute || (!motion && abs)) {
            int x = e->absolute ? e->dx : VM_INPUT_ABS_KEEP, y = e->absolute ? e->dy : VM_INPUT_ABS_KEEP;
            VLOG(LOG_INPUT, "absolute pointer %d %d wheel %+d buttons 0x%x%s", x, y, e->dz,
                 e->buttons, abs ? "" : " dropped: no absolute pointer device");
            if (abs)
                abs->ops->abs(abs->opaque, x, y, e->dz, e->buttons);
            return;
        }
        VmInputHandler *rel = input_find(vm, offsetof(VmInputOps, pointer));
        VLOG(LOG_INPUT, "pointer %+d %+d wheel %+d buttons 0x%x", e->dx, e->dy, e->dz, e->buttons);
        if (rel)
            rel->ops->pointer(rel->opaque, e->dx, e->dy, e->dz, e->buttons);
        return;
    }
    VLOG(LOG_INPUT, "key 0x%04x %s", e->code, e->down ? "down" : "up");
    VmInputHandler *kbd = input_find(vm, offsetof(VmInputOps, key));
    if (kbd)
        kbd->ops->key(kbd->opaque, e->code, e->down);
}

static bool input_queue_busy(Vm *vm)
{
    return (vm->input_queue && !g_queue_is_empty(vm->input_queue)) ||
           (vm->input_timer && vtimer_pending(vm->input_timer));
}

/* Applies queued events until one asks for a pause (lock held); the timer resumes. */
static void input_queue_run(void *opaque)
{
    Vm *vm = opaque;
    while (!vtimer_pending(vm->input_timer) && !g_queue_is_empty(vm->input_queue)) {
        VmInputEvent *e = g_queue_pop_head(vm->input_queue);
        input_apply(vm, e);
        if (e->pause_ns > 0)
            vtimer_mod(vm->input_timer, vm_clock_ns(vm) + e->pause_ns);
        g_free(e);
    }
}

bool vm_input_queue(Vm *vm, const VmInputEvent *ev, size_t n)
{
    vm_lock(vm);
    if (!vm->input_queue) {
        vm->input_queue = g_queue_new();
        vm->input_timer = vtimer_new(vm, input_queue_run, vm);
    }
    bool fits = n <= VM_INPUT_QUEUE_MAX - g_queue_get_length(vm->input_queue);
    if (fits) {
        for (size_t i = 0; i < n; i++)
            g_queue_push_tail(vm->input_queue, g_memdup2(&ev[i], sizeof(ev[i])));
        input_queue_run(vm);
    }
    vm_unlock(vm);
    return fits;
}

bool vm_input_send_chord(Vm *vm, const uint16_t *codes, size_t n, int64_t hold_ns)
{
    if (n > VM_INPUT_QUEUE_MAX / 2)
        return false;
    g_autofree VmInputEvent *ev = g_new0(VmInputEvent, 2 * n);
    for (size_t i = 0; i < n; i++) {
        ev[i] = (VmInputEvent){ .code = codes[i], .down = true, .pause_ns = hold_ns };
        ev[2 * n - 1 - i] = (VmInputEvent){ .code = codes[i], .down = false, .pause_ns = hold_ns };
    }
    return vm_input_queue(vm, ev, 2 * n);
}

void vm_input_key(Vm *vm, uint16_t code, bool down)
{
    VmInputEvent e = { .code = code, .down = down };
    vm_lock(vm);
    bool busy = input_queue_busy(vm);
    if (!busy)
        input_apply(vm, &e);
    vm_unlock(vm);
    /* Keys typed while queued ones are still going in follow them (the queue may fill
     * up only when a client queued thousands of events; such a key is dropped). */
    if (busy && !vm_input_queue(vm, &e, 1))
        VLOG(LOG_INPUT, "key 0x%04x dropped: the input queue is full", code);
}

void vm_input_free(Vm *vm)
{
    g_list_free_full(vm->input_handlers, g_free);
    vm->input_handlers = NULL;
    vm->input_board = NULL;
    vtimer_free(vm->input_timer);
    vm->input_timer = NULL;
    if (vm->input_queue)
        g_queue_free_full(vm->input_queue, g_free);
    vm->input_queue = NULL;
}

void vm_input_pointer(Vm *vm, int dx, int dy, int dz, unsigned buttons)
{
    VmInputEvent e = { .pointer = true, .dx = dx, .dy = dy, .dz = dz, .buttons = buttons };
    vm_lock(vm);
    input_apply(vm, &e);
    vm_unlock(vm);
}

void vm_input_pointer_abs(Vm *vm, int x, int y, int dz, unsigned buttons)
{
    VmInputEvent e = { .pointer = true, .absolute = true, .dz = dz, .buttons = buttons,
                       .dx = x < 0 ? VM_INPUT_ABS_KEEP : MIN(x, VM_INPUT_ABS_MAX),
                       .dy = y < 0 ? VM_INPUT_ABS_KEEP : MIN(y, VM_INPUT_ABS_MAX) };
    vm_lock(vm);
    input_apply(vm, &e);
    vm_unlock(vm);
}

typedef struct QcodeEntry {
    const char *name;
    uint16_t code;
} QcodeEntry;

/* QEMU's QKeyCode names (qapi/ui.json) with the set 1 code of the key they name. Keys
 * QEMU knows that have no PC scancode are left out. */
static const QcodeEntry qcodes[] = {
    { "esc", 0x01 }, { "1", 0x02 }, { "2", 0x03 }, { "3", 0x04 }, { "4", 0x05 },
    { "5", 0x06 }, { "6", 0x07 }, { "7", 0x08 }, { "8", 0x09 }, { "9", 0x0a },
    { "0", 0x0b }, { "minus", 0x0c }, { "equal", 0x0d }, { "backspace", 0x0e },
    { "tab", 0x0f }, { "q", 0x10 }, { "w", 0x11 }, { "e", 0x12 }, { "r", 0x13 },
    { "t", 0x14 }, { "y", 0x15 }, { "u", 0x16 }, { "i", 0x17 }, { "o", 0x18 },
    { "p", 0x19 }, { "bracket_left", 0x1a }, { "bracket_right", 0x1b }, { "ret", 0x1c },
    { "ctrl", 0x1d }, { "a", 0x1e }, { "s", 0x1f }, { "d", 0x20 }, { "f", 0x21 },
    { "g", 0x22 }, { "h", 0x23 }, { "j", 0x24 }, { "k", 0x25 }, { "l", 0x26 },
    { "semicolon", 0x27 }, { "apostrophe", 0x28 }, { "grave_accent", 0x29 },
    { "shift", 0x2a }, { "backslash", 0x2b }, { "z", 0x2c }, { "x", 0x2d },
    { "c", 0x2e }, { "v", 0x2f }, { "b", 0x30 }, { "n", 0x31 }, { "m", 0x32 },
    { "comma", 0x33 }, { "dot", 0x34 }, { "slash", 0x35 }, { "shift_r", 0x36 },
    { "kp_multiply", 0x37 }, { "asterisk", 0x37 }, { "alt", 0x38 }, { "spc", 0x39 },
    { "caps_lock", 0x3a }, { "f1", 0x3b }, { "f2", 0x3c }, { "f3", 0x3d },
    { "f4", 0x3e }, { "f5", 0x3f }, { "f6", 0x40 }, { "f7", 0x41 }, { "f8", 0x42 },
    { "f9", 0x43 }, { "f10", 0x44 }, { "num_lock", 0x45 }, { "scroll_lock", 0x46 },
    { "kp_7", 0x47 }, { "kp_8", 0x48 }, { "kp_9", 0x49 }, { "kp_subtract", 0x4a },
    { "kp_4", 0x4b }, { "kp_5", 0x4c }, { "kp_6", 0x4d }, { "kp_add", 0x4e },
    { "kp_1", 0x4f }, { "kp_2", 0x50 }, { "kp_3", 0x51 }, { "kp_0", 0x52 },
    { "kp_decimal", 0x53 }, { "sysrq", 0x54 }, { "less", 0x56 }, { "f11", 0x57 },
    { "f12", 0x58 }, { "kp_equals", 0x59 }, { "f13", 0x64 }, { "f14", 0x65 },
    { "f15", 0x66 }, { "f16", 0x67 }, { "f17", 0x68 }, { "f18", 0x69 }, { "f19", 0x6a },
    { "f20", 0x6b }, { "f21", 0x6c }, { "f22", 0x6d }, { "f23", 0x6e },
    { "hiragana", 0x70 }, { "katakanahiragana", 0x70 }, { "lang2", 0x71 },
    { "lang1", 0x72 }, { "ro", 0x73 }, { "f24", 0x76 }, { "henkan", 0x79 },
    { "muhenkan", 0x7b }, { "yen", 0x7d }, { "kp_comma", 0x7e },
    { "audioprev", 0xe010 }, { "audionext", 0xe019 }, { "kp_enter", 0xe01c },
    { "ctrl_r", 0xe01d }, { "audiomute", 0xe020 }, { "calculator", 0xe021 },
    { "audioplay", 0xe022 }, { "audiostop", 0xe024 }, { "volumedown", 0xe02e },
    { "volumeup", 0xe030 }, { "ac_home", 0xe032 }, { "kp_divide", 0xe035 },
    { "print", 0xe037 }, { "alt_r", 0xe038 }, { "home", 0xe047 }, { "up", 0xe048 },
    { "pgup", 0xe049 }, { "left", 0xe04b }, { "right", 0xe04d }, { "end", 0xe04f },
    { "down", 0xe050 }, { "pgdn", 0xe051 }, { "insert", 0xe052 }, { "delete", 0xe053 },
    { "meta_l", 0xe05b }, { "meta_r", 0xe05c }, { "compose", 0xe05d }, { "menu", 0xe05d },
    { "power", 0xe05e }, { "sleep", 0xe05f }, { "wake", 0xe063 },
    { "ac_bookmarks", 0xe066 }, { "ac_refresh", 0xe067 }, { "ac_stop", 0xe068 },
    { "ac_forward", 0xe069 }, { "ac_back", 0xe06a }, { "computer", 0xe06b },
    { "mail", 0xe06c }, { "mediaselect", 0xe06d },
    { "pause", VM_KEY_PAUSE },
};

bool input_qcode_to_key(const char *qcode, uint16_t *code)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qcodes); i++) {
        if (!strcmp(qcodes[i].name, qcode)) {
            *code = qcodes[i].code;
            return true;
        }
    }
    return false;
}

const char *input_key_to_qcode(uint16_t code)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qcodes); i++)
        if (qcodes[i].code == code)
            return qcodes[i].name;
    return NULL;
}

bool input_qnum_to_key(unsigned qnum, uint16_t *code)
{
    if (qnum == 0 || qnum > 0xff)
        return false;
    /* QEMU numbers Pause 0xC6, after the E0 46 of Ctrl+Break that shares its key. */
    if (qnum == 0xc6) {
        *code = VM_KEY_PAUSE;
        return true;
    }
    *code = qnum < 0x80 ? (uint16_t)qnum : (uint16_t)(VM_KEY_EXTENDED | (qnum & 0x7f));
    return true;
}
