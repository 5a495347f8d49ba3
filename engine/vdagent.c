/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's agent peer (qemu-vdagent): see vdagent.h for the protocol and the locks. */
#include "engine/vdagent.h"
#include "engine/backend.h"
#include "engine/chardev.h"
#include "engine/config.h"
#include "engine/log.h"
#include "engine/stream.h"

#include <string.h>

/* Messages queued for the guest beyond this are dropped (a guest that never reads). */
#define VDAGENT_OUT_MAX (4 * 1024 * 1024)

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

/* ---- the parser ---- */

struct VdagentParser {
    size_t max_message;
    VdagentMessageFn fn;
    void *opaque;
    uint8_t hdr[VDAGENT_CHUNK_HEADER];
    size_t hdr_len;
    uint32_t chunk_left, chunk_port;
    uint32_t msg_port;
    GByteArray *msg; /* the message being assembled: header, then data */
    bool broken;
};

VdagentParser *vdagent_parser_new(size_t max_message, VdagentMessageFn fn, void *opaque)
{
    VdagentParser *p = g_new0(VdagentParser, 1);
    p->max_message = max_message;
    p->fn = fn;
    p->opaque = opaque;
    p->msg = g_byte_array_new();
    return p;
}

void vdagent_parser_free(VdagentParser *p)
{
    if (!p)
        return;
    g_byte_array_free(p->msg, TRUE);
    g_free(p);
}

void vdagent_parser_reset(VdagentParser *p)
{
    p->hdr_len = 0;
    p->chunk_left = 0;
    g_byte_array_set_size(p->msg, 0);
    p->broken = false;
}

static bool parser_fail(VdagentParser *p, GError **err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static bool parser_fail(VdagentParser *p, GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "vdagent: %s; the agent's stream is ignored until it reopens the port", msg);
    p->broken = true;
    g_byte_array_set_size(p->msg, 0);
    return false;
}

/* n bytes of chunk data: the message stream. */
static bool parser_take(VdagentParser *p, const uint8_t *buf, size_t n, GError **err)
{
    while (n) {
        if (p->msg->len == 0)
            p->msg_port = p->chunk_port;
        size_t want;
        if (p->msg->len < VDAGENT_MSG_HEADER) {
            want = VDAGENT_MSG_HEADER - p->msg->len;
        } else {
            uint32_t size = get_le32(p->msg->data + 16);
            want = VDAGENT_MSG_HEADER + (size_t)size - p->msg->len;
        }
        size_t take = MIN(want, n);
        g_byte_array_append(p->msg, buf, (guint)take);
        buf += take;
        n -= take;
        if (p->msg->len == VDAGENT_MSG_HEADER) {
            uint32_t protocol = get_le32(p->msg->data), size = get_le32(p->msg->data + 16);
            if (protocol != VDAGENT_PROTOCOL)
                return parser_fail(p, err, "message of protocol %u (expected %u)", protocol, VDAGENT_PROTOCOL);
            if (size > p->max_message)
                return parser_fail(p, err, "message of %u bytes (at most %zu)", size, p->max_message);
        }
        if (p->msg->len >= VDAGENT_MSG_HEADER &&
            p->msg->len == VDAGENT_MSG_HEADER + (size_t)get_le32(p->msg->data + 16)) {
            uint32_t type = get_le32(p->msg->data + 4);
            /* The callback may send: the message is handed over before the next starts. */
            g_autoptr(GByteArray) m = p->msg;
            p->msg = g_byte_array_new();
            p->fn(p->opaque, p->msg_port, type, m->data + VDAGENT_MSG_HEADER, m->len - VDAGENT_MSG_HEADER);
            if (p->broken)
                return true;
        }
    }
    return true;
}

bool vdagent_parser_feed(VdagentParser *p, const uint8_t *buf, size_t len, GError **err)
{
    while (len && !p->broken) {
        if (p->chunk_left == 0) {
            size_t take = MIN(VDAGENT_CHUNK_HEADER - p->hdr_len, len);
            memcpy(p->hdr + p->hdr_len, buf, take);
            p->hdr_len += take;
            buf += take;
            len -= take;
            if (p->hdr_len < VDAGENT_CHUNK_HEADER)
                break;
            p->hdr_len = 0;
            uint32_t port = get_le32(p->hdr), size = get_le32(p->hdr + 4);
            if (size == 0 || size > VDAGENT_CHUNK_MAX)
                return parser_fail(p, err, "chunk of %u bytes (1 to %d)", size, VDAGENT_CHUNK_MAX);
            if (p->msg->len && port != p->msg_port)
                return parser_fail(p, err, "a message started on port %u goes on on port %u", p->msg_port, port);
            p->chunk_left = size;
            p->chunk_port = port;
            continue;
        }
        size_t n = MIN((size_t)p->chunk_left, len);
        p->chunk_left -= (uint32_t)n;
        if (!parser_take(p, buf, n, err))
            return false;
        buf += n;
        len -= n;
    }
    return true;
}

void vdagent_message_build(GByteArray *out, uint32_t port, uint32_t type, const uint8_t *data, size_t len)
{
    uint8_t mh[VDAGENT_MSG_HEADER] = { 0 };
    put_le32(mh, VDAGENT_PROTOCOL);
    put_le32(mh + 4, type);
    /* opaque (8 bytes) stays 0 */
    put_le32(mh + 16, (uint32_t)len);
    size_t total = sizeof(mh) + len, off = 0;
    while (off < total) {
        size_t n = MIN((size_t)VDAGENT_CHUNK_MAX, total - off);
        uint8_t ch[VDAGENT_CHUNK_HEADER];
        put_le32(ch, port);
        put_le32(ch + 4, (uint32_t)n);
        g_byte_array_append(out, ch, sizeof(ch));
        /* The chunk's part of the message header, then of the data. */
        size_t hn = off < sizeof(mh) ? MIN(sizeof(mh) - off, n) : 0;
        if (hn)
            g_byte_array_append(out, mh + off, (guint)hn);
        if (n > hn)
            g_byte_array_append(out, data + (off + hn - sizeof(mh)), (guint)(n - hn));
        off += n;
    }
}

/* ---- the agent peer ---- */

struct Vdagent {
    Chardev *chr;
    bool clipboard;
    VdagentParser *parser;

    /* Guarded by lock: handed from the vCPU thread (chardev write, fe_open) to the main
     * context's idle. */
    GMutex lock;
    GByteArray *in;
    bool open_changed, fe_open;
    bool closed;              /* the port was closed since the idle ran (maybe reopened) */
    guint idle;

    /* Main context only. */
    bool port_open;           /* a guest program has the port open */
    bool guest_connected;     /* and announced itself */
    uint32_t guest_caps;
    bool host_grabbed;        /* the host's text is what the guest pastes */
    bool requested;           /* the host asked for the guest's text */
    GByteArray *out;          /* chunks waiting for room in the chardev */
    const VdagentClipboardPeer *peer;
    void *peer_opaque;
    char *host_text;          /* without a peer: the host's and the guest's text */
    char *guest_text;
};

static void out_pump(Vdagent *a)
{
    while (a->out->len) {
        size_t n = chardev_peer_input(a->chr, a->out->data, a->out->len);
        if (!n)
            break; /* the rest goes when the guest took some (drained) */
        g_byte_array_remove_range(a->out, 0, (guint)n);
    }
}

static void send_msg(Vdagent *a, uint32_t type, const uint8_t *data, size_t len)
{
    if (!a->port_open)
        return;
    if (a->out->len + len > VDAGENT_OUT_MAX) {
        VLOG(LOG_GUEST, "vdagent: the guest agent reads nothing; message %u dropped", type);
        return;
    }
    vdagent_message_build(a->out, VDAGENT_PORT_CLIENT, type, data, len);
    out_pump(a);
}

static void send_u32s(Vdagent *a, uint32_t type, const uint32_t *v, size_t n)
{
    uint8_t buf[16];
    g_assert(n <= 4);
    for (size_t i = 0; i < n; i++)
        put_le32(buf + 4 * i, v[i]);
    send_msg(a, type, buf, 4 * n);
}

static void announce_caps(Vdagent *a, bool request)
{
    uint32_t caps = a->clipboard ? 1u << VDAGENT_CAP_CLIPBOARD_BY_DEMAND : 0;
    uint32_t v[2] = { request, caps };
    send_u32s(a, VDAGENT_ANNOUNCE_CAPABILITIES, v, 2);
}

static void set_connected(Vdagent *a, bool on)
{
    if (a->guest_connected == on)
        return;
    a->guest_connected = on;
    a->guest_caps = 0;
    a->requested = false;
    if (a->peer && a->peer->connected)
        a->peer->connected(a->peer_opaque, on);
    /* The host's text is offered again to an agent that (re)starts. */
    if (on && a->clipboard && a->host_grabbed)
        vdagent_clipboard_grab(a);
}

/* The peer's text as the guest gets it, or nothing. */
static void reply_text(Vdagent *a, const char *text, size_t len)
{
    len = MIN(len, (size_t)VDAGENT_TEXT_MAX);
    g_autofree uint8_t *m = g_malloc(4 + len);
    put_le32(m, text ? VDAGENT_CLIPBOARD_UTF8_TEXT : VDAGENT_CLIPBOARD_NONE);
    if (text)
        memcpy(m + 4, text, len);
    send_msg(a, VDAGENT_CLIPBOARD, m, text ? 4 + len : 4);
}

static void on_message(void *opaque, uint32_t port, uint32_t type, const uint8_t *data, size_t len)
{
    Vdagent *a = opaque;
    (void)port;
    switch (type) {
    case VDAGENT_ANNOUNCE_CAPABILITIES:
        if (len < 4) {
            VLOG(LOG_GUEST, "vdagent: capabilities message of %zu bytes", len);
            return;
        }
        set_connected(a, true);
        a->guest_caps = len >= 8 ? get_le32(data + 4) : 0;
        if (get_le32(data))
            announce_caps(a, false);
        return;
    case VDAGENT_CLIPBOARD_GRAB: {
        if (!a->clipboard)
            return;
        bool text = false;
        for (size_t i = 0; i + 4 <= len; i += 4)
            text |= get_le32(data + i) == VDAGENT_CLIPBOARD_UTF8_TEXT;
        a->host_grabbed = false; /* the guest's copy is the newer one */
        if (!text) {
            if (a->peer && a->peer->guest_release)
                a->peer->guest_release(a->peer_opaque);
            return;
        }
        if (a->peer && a->peer->guest_grab)
            a->peer->guest_grab(a->peer_opaque);
        else if (!a->peer)
            vdagent_clipboard_request(a); /* keep the guest's text for QMP */
        return;
    }
    case VDAGENT_CLIPBOARD_REQUEST:
        if (!a->clipboard)
            return;
        if (len < 4 || get_le32(data) != VDAGENT_CLIPBOARD_UTF8_TEXT || !a->host_grabbed) {
            reply_text(a, NULL, 0);
        } else if (a->peer && a->peer->guest_request) {
            a->peer->guest_request(a->peer_opaque);
        } else {
            const char *t = a->host_text ? a->host_text : "";
            reply_text(a, t, strlen(t));
        }
        return;
    case VDAGENT_CLIPBOARD:
        if (!a->clipboard || !a->requested)
            return;
        a->requested = false;
        if (len >= 4 && get_le32(data) == VDAGENT_CLIPBOARD_UTF8_TEXT) {
            /* Text from the guest is made valid UTF-8 and ends at a NUL if it has one. */
            size_t n = strnlen((const char *)data + 4, len - 4);
            g_autofree char *t = g_utf8_make_valid((const char *)data + 4, (gssize)n);
            if (a->peer && a->peer->guest_text) {
                a->peer->guest_text(a->peer_opaque, t, strlen(t));
            } else if (!a->peer) {
                g_free(a->guest_text);
                a->guest_text = g_steal_pointer(&t);
            }
        }
        return;
    case VDAGENT_CLIPBOARD_RELEASE:
        if (a->clipboard && a->peer && a->peer->guest_release)
            a->peer->guest_release(a->peer_opaque);
        return;
    case VDAGENT_REPLY:
        return;
    default:
        /* Messages for a SPICE client (file transfer, volume ...) have no use here. */
        VLOG(LOG_GUEST, "vdagent: message type %u (%zu bytes) ignored", type, len);
        return;
    }
}

static gboolean vdagent_idle(gpointer p)
{
    Vdagent *a = p;
    g_mutex_lock(&a->lock);
    a->idle = 0;
    GByteArray *in = a->in;
    a->in = g_byte_array_new();
    bool changed = a->open_changed, open = a->fe_open, closed = a->closed;
    a->open_changed = a->closed = false;
    g_mutex_unlock(&a->lock);

    /* A close and reopen since the last run is a new agent too. */
    if (changed && (open != a->port_open || closed)) {
        if (closed && a->port_open)
            set_connected(a, false);
        a->port_open = open;
        vdagent_parser_reset(a->parser);
        g_byte_array_set_size(a->out, 0);
        if (open) {
            /* Ask the agent that just opened the port for its capabilities. */
            announce_caps(a, true);
        } else {
            set_connected(a, false);
        }
    }
    GError *err = NULL;
    if (a->port_open && in->len && !vdagent_parser_feed(a->parser, in->data, in->len, &err)) {
        VLOG(LOG_GUEST, "%s", err->message);
        g_error_free(err);
        set_connected(a, false);
    }
    g_byte_array_free(in, TRUE);
    return G_SOURCE_REMOVE;
}

static void schedule(Vdagent *a)
{
    if (!a->idle)
        a->idle = g_idle_add(vdagent_idle, a);
}

/* vCPU thread (engine lock held): the guest's bytes wait for the main context. */
static void chr_write(void *opaque, const uint8_t *buf, size_t len)
{
    Vdagent *a = opaque;
    g_mutex_lock(&a->lock);
    if (a->in->len + len <= VDAGENT_OUT_MAX)
        g_byte_array_append(a->in, buf, (guint)len);
    schedule(a);
    g_mutex_unlock(&a->lock);
}

static void chr_fe_open(void *opaque, bool open)
{
    Vdagent *a = opaque;
    g_mutex_lock(&a->lock);
    /* Bytes of an earlier opening are not the new agent's. */
    if (!open && a->fe_open) {
        g_byte_array_set_size(a->in, 0);
        a->closed = true;
    }
    a->fe_open = open;
    a->open_changed = true;
    schedule(a);
    g_mutex_unlock(&a->lock);
}

static void chr_drained(void *opaque)
{
    out_pump(opaque);
}

/* ---- savevm ----
 * The session as the guest's agent knows it, so that after a loadvm both sides go on
 * from the saved point (a grab the guest was told of, a request it waits for, bytes of
 * a message half sent either way):
 *   u32 version (1)
 *   u8 port_open, guest_connected, host_grabbed, requested; u32 guest_caps
 *   u32 n + n bytes: chunks for the guest not yet handed to the chardev
 *   the parser: u8 hdr_len, 8 bytes hdr, u32 chunk_left, chunk_port, msg_port,
 *     u8 broken, u32 n + n bytes of the message being assembled
 *   u32 n + n bytes: the guest's last copied text (0xffffffff: none)
 * The host's text (and the app's clipboard) is the host's now, not the saved one. */

#define VDAGENT_STATE_VERSION 1
#define NO_TEXT 0xffffffffu

typedef struct StateReader {
    const uint8_t *p;
    size_t left;
} StateReader;

static bool rd_take(StateReader *r, size_t n, const uint8_t **out)
{
    if (n > r->left)
        return false;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static bool rd_u8(StateReader *r, uint8_t *v)
{
    const uint8_t *p;
    if (!rd_take(r, 1, &p))
        return false;
    *v = *p;
    return true;
}

static bool rd_u32(StateReader *r, uint32_t *v)
{
    const uint8_t *p;
    if (!rd_take(r, 4, &p))
        return false;
    *v = get_le32(p);
    return true;
}

/* u32 n + n bytes of at most max (NO_TEXT allowed when none_ok): *data NULL for none. */
static bool rd_blob(StateReader *r, size_t max, bool none_ok, const uint8_t **data, uint32_t *n)
{
    *data = NULL;
    if (!rd_u32(r, n))
        return false;
    if (*n == NO_TEXT)
        return none_ok;
    return *n <= max && rd_take(r, *n, data);
}

static void put_blob(GByteArray *out, const void *data, size_t n)
{
    stream_put_le(out, n, 4);
    g_byte_array_append(out, data, (guint)n);
}

/* The parts of a saved session, read and checked (nothing changed). */
typedef struct SavedSession {
    uint8_t flags[4];
    uint32_t caps;
    const uint8_t *out;
    uint32_t out_len;
    uint8_t hdr_len, broken;
    const uint8_t *hdr;
    uint32_t chunk_left, chunk_port, msg_port;
    const uint8_t *msg;
    uint32_t msg_len;
    const uint8_t *text;
    uint32_t text_len;
} SavedSession;

static bool session_parse(const Vdagent *a, const uint8_t *data, size_t len, SavedSession *ss, GError **err)
{
    StateReader r = { data, len };
    uint32_t version = 0;
    const char *why = NULL;
    if (!rd_u32(&r, &version) || version != VDAGENT_STATE_VERSION)
        why = "an agent state of another version";
    for (int i = 0; !why && i < 4; i++)
        if (!rd_u8(&r, &ss->flags[i]) || ss->flags[i] > 1)
            why = "bad flags";
    if (!why && (!rd_u32(&r, &ss->caps) || !rd_blob(&r, VDAGENT_OUT_MAX, false, &ss->out, &ss->out_len)))
        why = "cut short";
    if (!why && (!rd_u8(&r, &ss->hdr_len) || !rd_take(&r, VDAGENT_CHUNK_HEADER, &ss->hdr) ||
                 !rd_u32(&r, &ss->chunk_left) || !rd_u32(&r, &ss->chunk_port) || !rd_u32(&r, &ss->msg_port) ||
                 !rd_u8(&r, &ss->broken) ||
                 !rd_blob(&r, VDAGENT_MSG_HEADER + a->parser->max_message, false, &ss->msg, &ss->msg_len) ||
                 !rd_blob(&r, VDAGENT_TEXT_MAX, true, &ss->text, &ss->text_len)))
        why = "cut short";
    /* The parser's invariants: a chunk header is read whole before its data, and a
     * message whose header is complete is of protocol 1 and not yet whole. */
    if (!why && (ss->hdr_len >= VDAGENT_CHUNK_HEADER || ss->chunk_left > VDAGENT_CHUNK_MAX ||
                 (ss->hdr_len && ss->chunk_left) || ss->broken > 1 || (ss->broken && ss->msg_len)))
        why = "a chunk state the parser cannot be in";
    if (!why && ss->msg_len >= VDAGENT_MSG_HEADER) {
        uint32_t size = get_le32(ss->msg + 16);
        if (get_le32(ss->msg) != VDAGENT_PROTOCOL || size > a->parser->max_message ||
            ss->msg_len >= VDAGENT_MSG_HEADER + (size_t)size)
            why = "a half-read message the parser cannot hold";
    }
    if (!why && r.left)
        why = "trailing bytes";
    if (!why && ss->flags[1] && !ss->flags[0])
        why = "an agent connected on a closed port";
    if (why) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "qemu-vdagent: saved session: %s", why);
        return false;
    }
    return true;
}

static void chr_save(void *opaque, GByteArray *out)
{
    Vdagent *a = opaque;
    /* What the guest wrote before the stop is parsed first: it is part of the session. */
    if (a->idle) {
        g_source_remove(a->idle);
        a->idle = 0;
        vdagent_idle(a);
    }
    VdagentParser *p = a->parser;
    stream_put_le(out, VDAGENT_STATE_VERSION, 4);
    uint8_t flags[4] = { a->port_open, a->guest_connected, a->host_grabbed, a->requested };
    g_byte_array_append(out, flags, 4);
    stream_put_le(out, a->guest_caps, 4);
    put_blob(out, a->out->data, a->out->len);
    uint8_t hl = (uint8_t)p->hdr_len;
    g_byte_array_append(out, &hl, 1);
    g_byte_array_append(out, p->hdr, VDAGENT_CHUNK_HEADER);
    stream_put_le(out, p->chunk_left, 4);
    stream_put_le(out, p->chunk_port, 4);
    stream_put_le(out, p->msg_port, 4);
    uint8_t broken = p->broken;
    g_byte_array_append(out, &broken, 1);
    put_blob(out, p->msg->data, p->msg->len);
    if (a->guest_text)
        put_blob(out, a->guest_text, strlen(a->guest_text));
    else
        stream_put_le(out, NO_TEXT, 4);
}

static bool chr_check(void *opaque, const uint8_t *data, size_t len, GError **err)
{
    SavedSession ss;
    return session_parse(opaque, data, len, &ss, err);
}

static void chr_load(void *opaque, const uint8_t *data, size_t len)
{
    Vdagent *a = opaque;
    SavedSession ss;
    if (!session_parse(a, data, len, &ss, NULL))
        return; /* checked before the load committed */
    /* Nothing of the live session survives: the guest's unparsed bytes and the port
     * changes not yet seen are the abandoned timeline's. The port's device tells the
     * loaded open state again after this (chardev_set_fe_open). */
    g_mutex_lock(&a->lock);
    g_byte_array_set_size(a->in, 0);
    a->open_changed = a->closed = false;
    a->fe_open = ss.flags[0];
    g_mutex_unlock(&a->lock);
    bool was_connected = a->guest_connected;
    a->port_open = ss.flags[0];
    a->guest_connected = ss.flags[1];
    a->host_grabbed = ss.flags[2];
    a->requested = ss.flags[3];
    a->guest_caps = ss.caps;
    g_byte_array_set_size(a->out, 0);
    g_byte_array_append(a->out, ss.out, ss.out_len);
    VdagentParser *p = a->parser;
    vdagent_parser_reset(p);
    p->hdr_len = ss.hdr_len;
    memcpy(p->hdr, ss.hdr, VDAGENT_CHUNK_HEADER);
    p->chunk_left = ss.chunk_left;
    p->chunk_port = ss.chunk_port;
    p->msg_port = ss.msg_port;
    p->broken = ss.broken;
    g_byte_array_append(p->msg, ss.msg, ss.msg_len);
    g_free(a->guest_text);
    a->guest_text = ss.text_len != NO_TEXT ? g_utf8_make_valid((const char *)ss.text, ss.text_len) : NULL;
    /* The app hears of an agent that came or went with the load. */
    if (was_connected != a->guest_connected && a->peer && a->peer->connected)
        a->peer->connected(a->peer_opaque, a->guest_connected);
    out_pump(a);
}

static const ChardevPeerOps vdagent_chr_ops = {
    .write = chr_write,
    .fe_open = chr_fe_open,
    .drained = chr_drained,
    .save = chr_save,
    .check = chr_check,
    .load = chr_load,
};

Vdagent *vdagent_new(Chardev *chr, bool clipboard)
{
    Vdagent *a = g_new0(Vdagent, 1);
    a->chr = chr;
    a->clipboard = clipboard;
    a->parser = vdagent_parser_new(VDAGENT_TEXT_MAX + 64, on_message, a);
    g_mutex_init(&a->lock);
    a->in = g_byte_array_new();
    a->out = g_byte_array_new();
    chardev_peer_attach(chr, &vdagent_chr_ops, a);
    return a;
}

/* After the devices are gone (backend close): no vCPU thread writes any more. */
void vdagent_free(Vdagent *a)
{
    if (!a)
        return;
    chardev_peer_attach(a->chr, NULL, NULL);
    if (a->idle)
        g_source_remove(a->idle);
    vdagent_parser_free(a->parser);
    g_byte_array_free(a->in, TRUE);
    g_byte_array_free(a->out, TRUE);
    g_mutex_clear(&a->lock);
    g_free(a->host_text);
    g_free(a->guest_text);
    g_free(a);
}

Vdagent *vdagent_find(Vm *vm, const char *id, GError **err)
{
    Chardev *c = backend_find(vm, "chardev", id);
    Vdagent *a = c ? chardev_vdagent(c) : NULL;
    if (!a)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no -chardev qemu-vdagent with id '%s'", id);
    return a;
}

Vdagent *vdagent_find_any(Vm *vm)
{
    g_autoptr(GPtrArray) all = backend_list(vm, "chardev");
    for (guint i = 0; i < all->len; i++)
        if (chardev_vdagent(all->pdata[i]))
            return chardev_vdagent(all->pdata[i]);
    return NULL;
}

void vdagent_set_clipboard_peer(Vdagent *a, const VdagentClipboardPeer *peer, void *opaque)
{
    a->peer = peer;
    a->peer_opaque = peer ? opaque : NULL;
    a->host_grabbed = false;
    if (peer && peer->connected && a->guest_connected)
        peer->connected(opaque, true);
}

bool vdagent_clipboard_enabled(const Vdagent *a)
{
    return a && a->clipboard;
}

bool vdagent_guest_connected(const Vdagent *a)
{
    return a && a->guest_connected;
}

void vdagent_clipboard_grab(Vdagent *a)
{
    if (!a->clipboard)
        return;
    a->host_grabbed = true;
    if (!a->guest_connected)
        return; /* offered when an agent announces itself */
    uint32_t type = VDAGENT_CLIPBOARD_UTF8_TEXT;
    send_u32s(a, VDAGENT_CLIPBOARD_GRAB, &type, 1);
}

void vdagent_clipboard_release(Vdagent *a)
{
    if (!a->clipboard || !a->host_grabbed)
        return;
    a->host_grabbed = false;
    if (a->guest_connected)
        send_msg(a, VDAGENT_CLIPBOARD_RELEASE, NULL, 0);
}

void vdagent_clipboard_request(Vdagent *a)
{
    if (!a->clipboard || !a->guest_connected)
        return;
    a->requested = true;
    uint32_t type = VDAGENT_CLIPBOARD_UTF8_TEXT;
    send_u32s(a, VDAGENT_CLIPBOARD_REQUEST, &type, 1);
}

void vdagent_clipboard_send(Vdagent *a, const char *text, size_t len)
{
    if (a->clipboard && a->guest_connected)
        reply_text(a, text, len);
}

void vdagent_host_set_text(Vdagent *a, const char *text)
{
    g_free(a->host_text);
    a->host_text = g_strndup(text, VDAGENT_TEXT_MAX);
    vdagent_clipboard_grab(a);
}

char *vdagent_guest_last_text(Vdagent *a)
{
    return g_strdup(a->guest_text);
}
