/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's own SPICE agent peer, QEMU's "-chardev qemu-vdagent,id=ID,clipboard=on":
 * behind a virtserialport named com.redhat.spice.0 it speaks the VDAgent protocol
 * (spice-protocol's vd_agent.h) with the guest's spice-vdagent, in place of a SPICE
 * server and client, so that the app's clipboard and the guest's share text.
 *
 * The wire (vd_agent.h): the port carries chunks, each a VDIChunkHeader {u32 port,
 * u32 size} and at most 2048 bytes of data; the chunks' data of one port is a stream of
 * messages, each a VDAgentMessage {u32 protocol = 1, u32 type, u64 opaque, u32 size}
 * and size bytes. All little-endian.
 *
 * Clipboard (UTF8_TEXT, the CLIPBOARD selection): who copies sends CLIPBOARD_GRAB with
 * the types it has; who pastes sends CLIPBOARD_REQUEST and gets CLIPBOARD (u32 type +
 * bytes); CLIPBOARD_RELEASE drops a grab.
 *
 * Lock rules: every function here runs on the main context without the engine lock,
 * and the peer's callbacks are called there too. The guest's bytes arrive on the vCPU
 * thread and wait under Vdagent's own mutex until the main context parses them. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Vm Vm;
typedef struct Chardev Chardev;
typedef struct Vdagent Vdagent;

/* Protocol numbers (vd_agent.h). */
enum {
    VDAGENT_PORT_CLIENT = 1, /* VDP_CLIENT_PORT */
    VDAGENT_PORT_SERVER = 2,
    VDAGENT_PROTOCOL = 1,
    VDAGENT_CHUNK_MAX = 2048, /* VD_AGENT_MAX_DATA_SIZE */
    VDAGENT_MSG_HEADER = 20,
    VDAGENT_CHUNK_HEADER = 8,

    VDAGENT_MOUSE_STATE = 1,
    VDAGENT_MONITORS_CONFIG = 2,
    VDAGENT_REPLY = 3,
    VDAGENT_CLIPBOARD = 4,
    VDAGENT_DISPLAY_CONFIG = 5,
    VDAGENT_ANNOUNCE_CAPABILITIES = 6,
    VDAGENT_CLIPBOARD_GRAB = 7,
    VDAGENT_CLIPBOARD_REQUEST = 8,
    VDAGENT_CLIPBOARD_RELEASE = 9,

    VDAGENT_CAP_CLIPBOARD_BY_DEMAND = 5,
    VDAGENT_CAP_CLIPBOARD_SELECTION = 6,

    VDAGENT_CLIPBOARD_NONE = 0,
    VDAGENT_CLIPBOARD_UTF8_TEXT = 1,
};

/* Largest clipboard text taken from or given to the guest. */
#define VDAGENT_TEXT_MAX (1024 * 1024)

/* ---- the stream parser (also for tests) ---- */

typedef struct VdagentParser VdagentParser;
/* One whole message: the chunks' port, the message's type and its size bytes. */
typedef void (*VdagentMessageFn)(void *opaque, uint32_t port, uint32_t type, const uint8_t *data, size_t len);
/* max_message: the largest message size accepted. */
VdagentParser *vdagent_parser_new(size_t max_message, VdagentMessageFn fn, void *opaque);
void vdagent_parser_free(VdagentParser *p);
/* Takes bytes as they came, split anywhere. A chunk of size 0 or over 2048, a message
 * of another protocol or over max_message, or a message whose chunks change port
 * breaks the stream: false with err set once, and every later byte is ignored until
 * vdagent_parser_reset (the guest reopens the port). */
bool vdagent_parser_feed(VdagentParser *p, const uint8_t *buf, size_t len, GError **err);
void vdagent_parser_reset(VdagentParser *p);
/* Appends a message as chunks of at most 2048 data bytes for port. */
void vdagent_message_build(GByteArray *out, uint32_t port, uint32_t type, const uint8_t *data, size_t len);

/* ---- the agent peer ---- */

/* What the app implements (GdkClipboard); opaque is its own. */
typedef struct VdagentClipboardPeer {
    /* A guest agent opened the port and announced itself (true) or went (false). */
    void (*connected)(void *opaque, bool connected);
    /* The guest copied text: the host may now ask for it (vdagent_clipboard_request). */
    void (*guest_grab)(void *opaque);
    /* The guest's clipboard no longer has text. */
    void (*guest_release)(void *opaque);
    /* The text asked for, valid UTF-8, len bytes (no NUL inside the length). */
    void (*guest_text)(void *opaque, const char *text, size_t len);
    /* The guest pastes what the host grabbed: answer with vdagent_clipboard_send. */
    void (*guest_request)(void *opaque);
} VdagentClipboardPeer;

/* For engine/chardev.c: the peer behind a "qemu-vdagent" chardev. */
Vdagent *vdagent_new(Chardev *chr, bool clipboard);
void vdagent_free(Vdagent *a);

/* The agent peer of -chardev qemu-vdagent,id=ID, or NULL (err set) when there is none. */
Vdagent *vdagent_find(Vm *vm, const char *id, GError **err);
/* The first qemu-vdagent chardev's peer, or NULL. */
Vdagent *vdagent_find_any(Vm *vm);

/* Sets (NULL: removes) the app's clipboard; without one the peer keeps the guest's
 * last text and answers the guest with the text of vdagent_host_set_text. */
void vdagent_set_clipboard_peer(Vdagent *a, const VdagentClipboardPeer *peer, void *opaque);
bool vdagent_clipboard_enabled(const Vdagent *a);
/* Whether a guest agent is there (it announced its capabilities). */
bool vdagent_guest_connected(const Vdagent *a);

/* The host copied text: tells the guest (CLIPBOARD_GRAB of UTF8_TEXT). */
void vdagent_clipboard_grab(Vdagent *a);
/* The host's clipboard has no text any more. */
void vdagent_clipboard_release(Vdagent *a);
/* Asks for the guest's text (after guest_grab); it arrives through guest_text. */
void vdagent_clipboard_request(Vdagent *a);
/* Answers guest_request (text NULL: nothing to give). */
void vdagent_clipboard_send(Vdagent *a, const char *text, size_t len);

/* Without a peer (the runner, QMP x-vdagent-clipboard-*): the host's text, grabbed for
 * the guest at once, and the guest's text, fetched whenever the guest copies. */
void vdagent_host_set_text(Vdagent *a, const char *text);
/* The guest's last copied text (NULL: none yet), a new string. */
char *vdagent_guest_last_text(Vdagent *a);
