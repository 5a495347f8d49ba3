/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Character devices behind serial ports and the debug console: stdio (with QEMU's
 * Ctrl+A escapes), a file, null, or a pipe for tests. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Chardev Chardev;

/* Spec: "stdio", "mon:stdio", "file:PATH", "null", "none". */
Chardev *chardev_open(const char *spec, GError **err);
void chardev_close(Chardev *c);

/* Output from the guest. Never blocks the guest for long. */
void chardev_write(Chardev *c, const uint8_t *buf, size_t len);

/* Input to the guest: can_read says how many bytes the device takes now; read delivers
 * them. Both run on the main context with the engine lock held (taken via lock_fn). */
typedef size_t (*ChardevCanRead)(void *opaque);
typedef void (*ChardevRead)(void *opaque, const uint8_t *buf, size_t len);
void chardev_set_receiver(Chardev *c, ChardevCanRead can_read, ChardevRead read, void *opaque,
                          void (*lock_fn)(void *), void (*unlock_fn)(void *), void *lock_data);
/* A device that could not take all input calls this when it has room again. */
void chardev_accept_input(Chardev *c);

/* stdio in -nographic: raw terminal, Ctrl+A X quits through this callback. */
void chardev_set_quit_handler(Chardev *c, void (*fn)(void *), void *opaque);
bool chardev_is_stdio(const Chardev *c);
/* Puts a terminal back how it was (also done by an atexit handler). */
void chardev_restore_terminal(void);
