/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SPICE server front end (-spice): the VM's screen, keyboard and pointer for SPICE
 * clients (remote-viewer, spicy) through libspice-server.
 *
 * The display is pulled from the VM's console like the SDL window's (display.h) at
 * ~30 Hz on the GLib main loop; what changed goes to the server as copy drawables whose
 * pixels are our own copies (a QXL device without guest memory: one memory slot over
 * the host's address space); the guest's hardware cursor (virtio-gpu's) goes to the
 * cursor channel as cursor commands. The refresh runs only while a display client is
 * connected. Threads: the server's display worker takes the drawables and cursor
 * commands from queues guarded by SpiceDisplay.lock and releases them on its own thread; every
 * other callback (the core interface's timers and watches, input) runs on the main
 * thread, which is where vm_input_* are called from. */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct Vm Vm;
typedef struct SpiceDisplay SpiceDisplay;

typedef struct SpiceOptions {
    int port;              /* TCP port, or 0 with unix; -1: no plain port (TLS only) */
    int tls_port;          /* tls-port=N: TLS on this port (0: none) */
    char *x509_dir;        /* x509-dir=DIR: ca-cert.pem, server-cert.pem, server-key.pem */
    char *addr;            /* listening address (127.0.0.1 by default), or the socket path */
    bool unix_socket;      /* unix=on: addr is a path */
    bool disable_ticketing;
    char *password;        /* password=: clients must give it */
    char *password_secret; /* password-secret=ID: the password is that -object secret's */
} SpiceOptions;

/* Parses QEMU's -spice spelling: port=N, tls-port=N with x509-dir=DIR, addr=A, unix=on,
 * disable-ticketing=on, password=P, password-secret=ID. One of port= and tls-port= is
 * needed; with only tls-port= the server has no plain port. One of password=, password-secret= and
 * disable-ticketing=on is required (a server nobody can log in to is a mistake, one
 * anyone can is said out loud). The caller puts the secret's text into password before
 * spice_display_new. */
bool spice_options_parse(const char *text, SpiceOptions *out, GError **err);
void spice_options_clear(SpiceOptions *o);

/* Starts listening. The VM's display, keyboard and pointer are offered to clients. */
SpiceDisplay *spice_display_new(Vm *vm, const SpiceOptions *opts, GError **err);
void spice_display_free(SpiceDisplay *d);
