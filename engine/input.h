/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Keyboard and mouse input into a VM. Front ends and the control socket speak PC
 * scancodes: the set 1 make code of a key, with 0xE000 added for the 0xE0-prefixed
 * (extended) keys. The board routes events to its keyboard and mouse devices, which
 * produce whatever scancode set and packet format the guest asked for. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Vm Vm;

#define VM_KEY_EXTENDED 0xE000
/* The two keys whose make codes are sequences rather than one code. */
#define VM_KEY_PRINT_SCREEN 0xE037
#define VM_KEY_PAUSE 0xE11D

/* Mouse buttons (bit masks of VmInputOps.pointer's buttons). */
enum {
    VM_BUTTON_LEFT = 1u << 0,
    VM_BUTTON_RIGHT = 1u << 1,
    VM_BUTTON_MIDDLE = 1u << 2,
    VM_BUTTON_SIDE = 1u << 3,
    VM_BUTTON_EXTRA = 1u << 4,
};

/* ---- front ends (engine lock taken inside) ---- */

/* A key went down or up. Repeats of a held key are the keyboard's business: send one
 * press and one release. */
void vm_input_key(Vm *vm, uint16_t code, bool down);
/* Relative motion (x right, y down), wheel notches (z > 0: towards the user), and the
 * state of all buttons after the event. */
void vm_input_pointer(Vm *vm, int dx, int dy, int dz, unsigned buttons);
/* Absolute position: x and y from 0 (left, top) to VM_INPUT_ABS_MAX (right, bottom) of
 * the screen, or VM_INPUT_ABS_KEEP for an axis that did not move; wheel and buttons as
 * vm_input_pointer. Goes to the absolute pointer (a USB tablet); dropped without one. */
#define VM_INPUT_ABS_MAX 0x7fff
#define VM_INPUT_ABS_KEEP (-1)
void vm_input_pointer_abs(Vm *vm, int x, int y, int dz, unsigned buttons);
/* Whether the board has somewhere to send input. */
bool vm_input_available(Vm *vm);
/* Whether an absolute pointer device is present: a front end then sends absolute
 * positions and needs no pointer grab. Any thread (lock taken inside). */
bool vm_input_absolute(Vm *vm);

/* ---- the input queue (engine lock taken inside) ----
 * Typed keys (QMP send-key and input-send-event, the app's Send Keys menu) go through
 * one queue in the order given. Each event may be followed by a pause of virtual time
 * before the next one is applied; the first event of an idle queue is applied at once.
 * While the queue is busy, keys from vm_input_key wait their turn behind it too. */

/* How long send-key holds each step by default (QEMU's hold-time default). */
#define VM_INPUT_HOLD_DEFAULT_NS (100 * INT64_C(1000000))
/* Events the queue holds at most. */
#define VM_INPUT_QUEUE_MAX 8192

typedef struct VmInputEvent {
    bool pointer;           /* a pointer packet, else a key */
    bool absolute;          /* pointer: dx, dy are a position as vm_input_pointer_abs */
    bool down;              /* key */
    uint16_t code;          /* key */
    int dx, dy, dz;         /* pointer, as vm_input_pointer (or _abs) */
    unsigned buttons;       /* pointer */
    int64_t pause_ns;       /* virtual time before the next queued event */
} VmInputEvent;

/* Appends n events; all or nothing: false (and nothing queued) when there is no room. */
bool vm_input_queue(Vm *vm, const VmInputEvent *ev, size_t n);
/* A chord: the keys pressed in order, then released in reverse order, every step
 * followed by hold_ns (QMP send-key). False when the queue has no room for it. */
bool vm_input_send_chord(Vm *vm, const uint16_t *codes, size_t n, int64_t hold_ns);

/* ---- boards and devices (lock held when called) ----
 * Each kind of event goes to one handler: the most recently added one that takes it
 * (QEMU's rule), so a USB keyboard added with -device gets the keys the board's PS/2
 * keyboard got before. Relative motion goes to the newest handler with `pointer`,
 * absolute motion to the newest with `abs`; an event with only buttons or the wheel
 * goes to the absolute pointer when there is one (it is the pointer the front end
 * drives), else the relative one. NULL members: the handler does not take that kind. */

typedef struct VmInputOps {
    void (*key)(void *opaque, uint16_t code, bool down);
    void (*pointer)(void *opaque, int dx, int dy, int dz, unsigned buttons);
    void (*abs)(void *opaque, int x, int y, int dz, unsigned buttons);
} VmInputOps;
typedef struct VmInputHandler VmInputHandler;
/* The board's own handler (PS/2), the oldest one; replaces an earlier board handler. */
void vm_set_input_handler(Vm *vm, const VmInputOps *ops, void *opaque);
/* A device's handler, newer than all before it; removed by the device's unrealize. */
VmInputHandler *vm_input_handler_add(Vm *vm, const VmInputOps *ops, void *opaque);
void vm_input_handler_remove(Vm *vm, VmInputHandler *h);

/* ---- key names ---- */

/* QEMU's key names (QKeyCode, as QMP's send-key takes them) to scancodes and back. */
bool input_qcode_to_key(const char *qcode, uint16_t *code);
const char *input_key_to_qcode(uint16_t code);
/* QEMU's numeric key codes ("number" keys in send-key): set 1 codes with 0x80 set for
 * the extended ones. */
bool input_qnum_to_key(unsigned qnum, uint16_t *code);
