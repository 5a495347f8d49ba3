/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QMP's keyboard and pointer commands: send-key and input-send-event (see qmp-internal.h). */
#include "engine/qmp-internal.h"
#include "engine/input.h"
#include "engine/vm.h"

#include <string.h>

#define QMP_MAX_KEYS 64
#define QMP_MAX_EVENTS 4096

JsonNode *qmp_cmd_send_key(QmpClient *c, JsonObject *args, GError **err)
{
    QmpServer *s = c->srv;
    JsonNode *keys = args ? json_object_get_member(args, "keys") : NULL;
    if (!keys || !JSON_NODE_HOLDS_ARRAY(keys)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'keys' is missing or not a list");
        return NULL;
    }
    JsonArray *a = json_node_get_array(keys);
    guint n = json_array_get_length(a);
    if (n == 0 || n > QMP_MAX_KEYS) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "send-key takes 1 to %d keys", QMP_MAX_KEYS);
        return NULL;
    }
    gint64 hold = 100;
    JsonNode *h = json_object_get_member(args, "hold-time");
    if (h && (!qmp_node_int(h, &hold) || hold < 0 || hold > 60000)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'hold-time' must be 0 to 60000 ms");
        return NULL;
    }
    uint16_t codes[QMP_MAX_KEYS];
    for (guint i = 0; i < n; i++)
        if (!qmp_parse_key_value(json_array_get_element(a, i), &codes[i], err))
            return NULL;
    /* As QEMU's send-key: pressed in order and released in reverse order, every step
     * followed by the hold time, in the input queue behind earlier commands (so "a"
     * sent twice is typed twice). */
    if (!vm_input_send_chord(s->vm, codes, n, hold * 1000000)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "too many keys are waiting in the input queue");
        return NULL;
    }
    return NULL;
}

typedef struct PointerState {
    int dx, dy, dz;
    unsigned buttons;
    bool changed;
    bool abs_seen;  /* an abs event: also set by the checking pass */
    int x, y;       /* abs position, VM_INPUT_ABS_KEEP for an axis not given */
} PointerState;

static bool button_bit(const char *name, unsigned *bit, int *wheel)
{
    static const struct { const char *name; unsigned bit; int wheel; } buttons[] = {
        { "left", VM_BUTTON_LEFT, 0 }, { "right", VM_BUTTON_RIGHT, 0 },
        { "middle", VM_BUTTON_MIDDLE, 0 }, { "side", VM_BUTTON_SIDE, 0 },
        { "extra", VM_BUTTON_EXTRA, 0 }, { "wheel-up", 0, -1 }, { "wheel-down", 0, 1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(buttons); i++) {
        if (!strcmp(buttons[i].name, name)) {
            *bit = buttons[i].bit;
            *wheel = buttons[i].wheel;
            return true;
        }
    }
    return false;
}

/* Checks one InputEvent; with apply, also carries it out (keys appended to keys,
 * pointer changes gathered into ptr). */
static bool input_event(JsonNode *ev, bool apply, GArray *keys, PointerState *ptr, GError **err)
{
    if (!ev || !JSON_NODE_HOLDS_OBJECT(ev)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "an event must be an object with 'type' and 'data'");
        return false;
    }
    JsonObject *o = json_node_get_object(ev);
    const char *type;
    if (!qmp_arg_string(o, "type", true, &type, err))
        return false;
    JsonNode *dn = json_object_get_member(o, "data");
    if (!dn || !JSON_NODE_HOLDS_OBJECT(dn)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "event '%s' needs a 'data' object", type);
        return false;
    }
    JsonObject *d = json_node_get_object(dn);
    if (!strcmp(type, "key")) {
        bool down;
        uint16_t code;
        if (!qmp_node_bool(json_object_get_member(d, "down"), &down)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a key event needs a boolean 'down'");
            return false;
        }
        if (!qmp_parse_key_value(json_object_get_member(d, "key"), &code, err))
            return false;
        if (apply) {
            VmInputEvent e = { .code = code, .down = down };
            g_array_append_val(keys, e);
        }
        return true;
    }
    if (!strcmp(type, "btn")) {
        bool down;
        const char *name;
        unsigned bit;
        int wheel;
        if (!qmp_node_bool(json_object_get_member(d, "down"), &down) || !qmp_arg_string(d, "button", true, &name, err)) {
            if (err && !*err)
                g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a btn event needs 'down' and 'button'");
            return false;
        }
        if (!button_bit(name, &bit, &wheel)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "unknown button '%s'", name);
            return false;
        }
        if (apply) {
            if (wheel && down)
                ptr->dz += wheel;
            else if (bit)
                ptr->buttons = down ? ptr->buttons | bit : ptr->buttons & ~bit;
            ptr->changed = true;
        }
        return true;
    }
    if (!strcmp(type, "rel")) {
        const char *axis;
        gint64 v;
        if (!qmp_arg_string(d, "axis", true, &axis, err))
            return false;
        if (!qmp_node_int(json_object_get_member(d, "value"), &v) || v < -32768 || v > 32767) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a rel event needs a 'value' from -32768 to 32767");
            return false;
        }
        if (strcmp(axis, "x") && strcmp(axis, "y")) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "rel axis '%s' is not 'x' or 'y'", axis);
            return false;
        }
        if (apply) {
            if (!strcmp(axis, "x"))
                ptr->dx = CLAMP(ptr->dx + (int)v, -65536, 65536);
            else
                ptr->dy = CLAMP(ptr->dy + (int)v, -65536, 65536);
            ptr->changed = true;
        }
        return true;
    }
    if (!strcmp(type, "abs")) {
        const char *axis;
        gint64 v;
        if (!qmp_arg_string(d, "axis", true, &axis, err))
            return false;
        if (!qmp_node_int(json_object_get_member(d, "value"), &v) || v < 0 || v > VM_INPUT_ABS_MAX) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "an abs event needs a 'value' from 0 to %d",
                        VM_INPUT_ABS_MAX);
            return false;
        }
        if (strcmp(axis, "x") && strcmp(axis, "y")) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "abs axis '%s' is not 'x' or 'y'", axis);
            return false;
        }
        if (ptr)
            ptr->abs_seen = true;
        if (apply) {
            if (!strcmp(axis, "x"))
                ptr->x = (int)v;
            else
                ptr->y = (int)v;
            ptr->changed = true;
        }
        return true;
    }
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "event type '%s' is not key, btn, rel or abs", type);
    return false;
}

JsonNode *qmp_cmd_input_send_event(QmpClient *c, JsonObject *args, GError **err)
{
    QmpServer *s = c->srv;
    JsonNode *events = args ? json_object_get_member(args, "events") : NULL;
    if (!events || !JSON_NODE_HOLDS_ARRAY(events)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'events' is missing or not a list");
        return NULL;
    }
    JsonArray *a = json_node_get_array(events);
    guint n = json_array_get_length(a);
    if (n > QMP_MAX_EVENTS) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "at most %d events at once", QMP_MAX_EVENTS);
        return NULL;
    }
    /* All or nothing: check every event before any reaches the guest. */
    PointerState seen = { 0 };
    for (guint i = 0; i < n; i++)
        if (!input_event(json_array_get_element(a, i), false, NULL, &seen, err))
            return NULL;
    if (seen.abs_seen && !vm_input_absolute(s->vm)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "absolute pointer events need an absolute pointer device (-device usb-tablet); "
                    "send 'rel' events to the mouse");
        return NULL;
    }
    PointerState ptr = { .buttons = s->buttons, .x = VM_INPUT_ABS_KEEP, .y = VM_INPUT_ABS_KEEP };
    g_autoptr(GArray) queued = g_array_new(FALSE, FALSE, sizeof(VmInputEvent));
    for (guint i = 0; i < n; i++)
        input_event(json_array_get_element(a, i), true, queued, &ptr, NULL);
    /* A batch with both kinds of motion makes two packets: the relative one to the
     * mouse, the absolute one (with the buttons and wheel) to the tablet. */
    if (ptr.changed && (ptr.dx || ptr.dy) && ptr.abs_seen) {
        VmInputEvent e = { .pointer = true, .dx = ptr.dx, .dy = ptr.dy, .buttons = ptr.buttons };
        g_array_append_val(queued, e);
    }
    if (ptr.changed) {
        VmInputEvent e = { .pointer = true, .dx = ptr.dx, .dy = ptr.dy, .dz = ptr.dz, .buttons = ptr.buttons };
        if (ptr.abs_seen)
            e = (VmInputEvent){ .pointer = true, .absolute = true, .dx = ptr.x, .dy = ptr.y, .dz = ptr.dz,
                                .buttons = ptr.buttons };
        g_array_append_val(queued, e);
    }
    /* Keys in the given order, then the pointer packet, without pauses of their own but
     * behind what earlier commands queued (send-key's steps). */
    if (!vm_input_queue(s->vm, (VmInputEvent *)(void *)queued->data, queued->len)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "too many events are waiting in the input queue");
        return NULL;
    }
    if (ptr.changed)
        s->buttons = ptr.buttons;
    return NULL;
}

/* x-display-resize {width, height}: what a front end does when its window is resized
 * (dynamic resolution); "follows" says whether the display device told the guest. */
