/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Character devices behind serial ports and the debug console: stdio (with QEMU's
 * Ctrl+A escapes), a file, null, or a pipe for tests; and a listening unix socket
 * (one client at a time) for virtio-serial ports.
 *
 * -chardev ...,id=ID is also a back end of kind "chardev" (engine/backend.h), which
 * devices name with chardev=ID (DEVICE_PROP_CHARDEV). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Chardev Chardev;

/* Spec: "stdio", "mon:stdio", "file:PATH", "null", "none", "spicevmc:NAME",
 * "qemu-vdagent[:clipboard=on]", "tcp:HOST:PORT" (a listening TCP socket, otherwise as
 * unix:), "unix:PATH" (a listening
 * socket at PATH, replaced if a socket is there; its client's bytes are the input and
 * output goes to the client, or nowhere while none is connected). */
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
/* Whether the other end is there: a socket chardev's client is connected (always true
 * for the other kinds). */
bool chardev_connected(const Chardev *c);
/* Called on the main context with the receiver's lock taken when a socket's client
 * connects (true) or goes (false). */
void chardev_set_open_handler(Chardev *c, void (*fn)(void *opaque, bool open));
/* QEMU's -chardev text ("socket,id=ID,path=P,server=on,wait=off", "socket,id=ID,
 * host=127.0.0.1,port=N,server=on,wait=off" (host defaults to 127.0.0.1), "file,id=ID,path=P",
 * "stdio,id=ID", "null,id=ID", "spicevmc,id=ID,name=vdagent",
 * "qemu-vdagent,id=ID[,clipboard=on]") as a chardev_open spec; NULL with err set. */
char *chardev_spec_from_opts(const char *opts, GError **err);

/* ---- In-process peers ----
 * A chardev whose other end is code in this process rather than a file or socket:
 * "spicevmc:NAME" (-chardev spicevmc,name=vdagent|usbredir: the SPICE server's agent or
 * USB redirection channel,
 * ui/spice/spice-char.c attaches itself when -spice starts) and "qemu-vdagent"
 * (engine/vdagent.c, the host's own agent peer for the app's clipboard).
 *
 * Lock rules: write and fe_open are called by the device with the engine lock held
 * (vCPU thread or main context), and fe_open also from chardev_peer_attach when the
 * port is already open; both run under the chardev's own mutex (so that a detach waits
 * for them) and must only queue work, never call back into the chardev. chardev_peer_input and
 * chardev_peer_set_connected may be called from any thread without the engine lock;
 * the input reaches the device on the main context. drained runs on the main context
 * without any lock after the device took queued input; attach and detach are made on
 * the main context too, so a peer is never detached while its drained runs. */
typedef struct ChardevPeerOps {
    void (*write)(void *opaque, const uint8_t *buf, size_t len); /* guest output */
    void (*fe_open)(void *opaque, bool open); /* a guest program opened/closed the port */
    void (*drained)(void *opaque);            /* room for more chardev_peer_input */
    /* savevm of the peer's session (optional; main context, engine lock held, VM
     * stopped): save appends it to out; check says whether a saved one can be loaded,
     * without side effects; load replaces the session by a checked one. */
    void (*save)(void *opaque, GByteArray *out);
    bool (*check)(void *opaque, const uint8_t *data, size_t len, GError **err);
    void (*load)(void *opaque, const uint8_t *data, size_t len);
} ChardevPeerOps;

/* "spicevmc:vdagent" or "spicevmc:usbredir" for a spicevmc chardev, "qemu-vdagent" for the agent peer, NULL
 * for the other kinds. */
const char *chardev_peer_kind(const Chardev *c);
/* Connects the in-process end; ops NULL detaches. The chardev counts as connected (the
 * guest's port sees its host side open) while a peer is attached. Main context. */
void chardev_peer_attach(Chardev *c, const ChardevPeerOps *ops, void *opaque);
/* The engine's agent peer of a "qemu-vdagent" chardev (engine/vdagent.h), else NULL. */
struct Vdagent *chardev_vdagent(const Chardev *c);
/* The peer's far end started a new stream (true: a SPICE client's usbredir channel
 * connected) or ended it (false): the device's open handler runs as for a socket's
 * client. Main context, no lock held. */
void chardev_peer_session(Chardev *c, bool open);
/* Queues bytes for the guest; returns how many fit (the rest is the peer's to retry
 * when drained runs). */
size_t chardev_peer_input(Chardev *c, const uint8_t *buf, size_t len);
/* The device (virtio-serial) says whether a guest program has the port open. Engine
 * lock held. */
void chardev_set_fe_open(Chardev *c, bool open);

/* The session of an in-process peer with state (the qemu-vdagent's) for the savevm of
 * the device that owns the port: the input queued for the device, then the peer's own
 * state. NULL: the chardev has no such peer. Main context, engine lock held, VM
 * stopped. load takes a state check accepted (then the caller calls
 * chardev_set_fe_open with the port's loaded state, and chardev_accept_input). */
GBytes *chardev_peer_state_save(Chardev *c);
bool chardev_peer_state_check(Chardev *c, GBytes *state, GError **err);
void chardev_peer_state_load(Chardev *c, GBytes *state);

/* A device that could not take all input calls this when it has room again. */
void chardev_accept_input(Chardev *c);

/* stdio in -nographic: raw terminal, Ctrl+A X quits through this callback. */
void chardev_set_quit_handler(Chardev *c, void (*fn)(void *), void *opaque);
bool chardev_is_stdio(const Chardev *c);
/* Puts a terminal back how it was (also done by an atexit handler). */
void chardev_restore_terminal(void);
