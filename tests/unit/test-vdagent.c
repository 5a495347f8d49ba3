/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VDAgent protocol (engine/vdagent.c): the stream parser with messages split
 * anywhere and hostile chunks and sizes, and the qemu-vdagent peer talking to a fake
 * guest agent through its chardev, with a clipboard peer as the app implements it. */
#include "engine/chardev.h"
#include "engine/stream.h"
#include "engine/vdagent.h"
#include "unit.h"

#include <string.h>

typedef struct Msg {
    uint32_t port, type;
    GBytes *data;
} Msg;

static void msg_free(gpointer p)
{
    Msg *m = p;
    g_bytes_unref(m->data);
    g_free(m);
}

static void collect(void *opaque, uint32_t port, uint32_t type, const uint8_t *data, size_t len)
{
    Msg *m = g_new0(Msg, 1);
    m->port = port;
    m->type = type;
    m->data = g_bytes_new(data, len);
    g_ptr_array_add(opaque, m);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = g_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
    return p;
}

static void check_msg(GPtrArray *got, guint i, uint32_t port, uint32_t type, const uint8_t *data, size_t len)
{
    g_assert_cmpuint(got->len, >, i);
    Msg *m = got->pdata[i];
    g_assert_cmpuint(m->port, ==, port);
    g_assert_cmpuint(m->type, ==, type);
    gsize n;
    const uint8_t *d = g_bytes_get_data(m->data, &n);
    g_assert_cmpmem(d, n, data, len);
}

/* Three messages (one over three chunks, one empty, one of a type nobody knows) arrive
 * whole whether the bytes come one by one, all at once or split at random. */
static void test_parser_split(void)
{
    g_autofree uint8_t *big = pattern(5000, 1);
    g_autoptr(GByteArray) s = g_byte_array_new();
    vdagent_message_build(s, VDAGENT_PORT_CLIENT, VDAGENT_CLIPBOARD, big, 5000);
    vdagent_message_build(s, VDAGENT_PORT_SERVER, VDAGENT_CLIPBOARD_RELEASE, NULL, 0);
    vdagent_message_build(s, VDAGENT_PORT_CLIENT, 99, (const uint8_t *)"xyz", 3);
    /* 5020 bytes of message: chunks of 2048, 2048 and 924 bytes. */
    g_assert_cmpuint(s->len, ==, (5020 + 3 * 8) + (20 + 8) + (23 + 8));
    for (unsigned mode = 0; mode < 12; mode++) {
        g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(msg_free);
        VdagentParser *p = vdagent_parser_new(8192, collect, got);
        GRand *r = g_rand_new_with_seed(mode);
        for (guint off = 0; off < s->len;) {
            guint n = mode == 0 ? 1 : mode == 1 ? s->len : (guint)g_rand_int_range(r, 1, 64 << (mode % 6));
            n = MIN(n, s->len - off);
            GError *err = NULL;
            g_assert_true(vdagent_parser_feed(p, s->data + off, n, &err));
            g_assert_no_error(err);
            off += n;
        }
        g_rand_free(r);
        g_assert_cmpuint(got->len, ==, 3);
        check_msg(got, 0, VDAGENT_PORT_CLIENT, VDAGENT_CLIPBOARD, big, 5000);
        check_msg(got, 1, VDAGENT_PORT_SERVER, VDAGENT_CLIPBOARD_RELEASE, NULL, 0);
        check_msg(got, 2, VDAGENT_PORT_CLIENT, 99, (const uint8_t *)"xyz", 3);
        vdagent_parser_free(p);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A chunk header followed by a message header. */
static size_t raw_msg(uint8_t *b, uint32_t port, uint32_t chunk, uint32_t protocol, uint32_t type, uint32_t size)
{
    memset(b, 0, 28);
    put32(b, port);
    put32(b + 4, chunk);
    put32(b + 8, protocol);
    put32(b + 12, type);
    put32(b + 24, size);
    return 28;
}

/* Feeds bad, expects one error; later bytes give nothing until reset, then a good
 * message parses. */
static void expect_broken(const uint8_t *bad, size_t len, const char *what)
{
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(msg_free);
    VdagentParser *p = vdagent_parser_new(4096, collect, got);
    GError *err = NULL;
    g_assert_false(vdagent_parser_feed(p, bad, len, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, what));
    g_clear_error(&err);
    g_autoptr(GByteArray) good = g_byte_array_new();
    vdagent_message_build(good, VDAGENT_PORT_CLIENT, VDAGENT_REPLY, (const uint8_t *)"12345678", 8);
    g_assert_true(vdagent_parser_feed(p, good->data, good->len, &err));
    g_assert_cmpuint(got->len, ==, 0);
    vdagent_parser_reset(p);
    g_assert_true(vdagent_parser_feed(p, good->data, good->len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(got->len, ==, 1);
    check_msg(got, 0, VDAGENT_PORT_CLIENT, VDAGENT_REPLY, (const uint8_t *)"12345678", 8);
    vdagent_parser_free(p);
}

static void test_parser_hostile(void)
{
    uint8_t b[64];
    /* Chunks of 0 and of 2049 bytes. */
    expect_broken(b, raw_msg(b, 1, 0, 1, 4, 0), "chunk of 0 bytes");
    expect_broken(b, raw_msg(b, 1, 2049, 1, 4, 0), "chunk of 2049 bytes");
    expect_broken(b, raw_msg(b, 1, 0xffffffffu, 1, 4, 0), "chunk of 4294967295 bytes");
    /* Another protocol, a message over the limit, a size that wraps 32 bits. */
    expect_broken(b, raw_msg(b, 1, 20, 2, 4, 0), "protocol 2");
    expect_broken(b, raw_msg(b, 1, 20, 1, 4, 4097), "4097 bytes");
    expect_broken(b, raw_msg(b, 1, 20, 1, 4, 0xfffffff0u), "4294967280 bytes");
    /* A message begun on port 1 goes on on port 2. */
    size_t n = raw_msg(b, 1, 24, 1, 4, 8);
    memset(b + n, 0xaa, 4);
    n += 4;
    put32(b + n, 2);
    put32(b + n + 4, 4);
    n += 8;
    expect_broken(b, n + 4, "port 2");

    /* Short input is no error: half a chunk header, half a message, a message whose
     * data is still coming. */
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(msg_free);
    VdagentParser *p = vdagent_parser_new(4096, collect, got);
    GError *err = NULL;
    n = raw_msg(b, 1, 28, 1, 7, 8);
    g_assert_true(vdagent_parser_feed(p, b, 5, &err));
    g_assert_true(vdagent_parser_feed(p, b + 5, n - 5, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(got->len, ==, 0);
    g_assert_true(vdagent_parser_feed(p, (const uint8_t *)"\1\0\0\0\2\0\0\0", 8, &err));
    g_assert_cmpuint(got->len, ==, 1);
    vdagent_parser_free(p);

    /* Random bytes never crash it and stop at the first error. */
    GRand *r = g_rand_new_with_seed(19);
    for (int round = 0; round < 200; round++) {
        uint8_t junk[512];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)g_rand_int(r);
        if (round & 1) { /* plausible headers with random sizes */
            put32(junk, 1);
            put32(junk + 4, g_rand_int_range(r, 0, 3000));
            put32(junk + 8, 1);
            put32(junk + 24, g_rand_int_range(r, 0, 6000));
        }
        g_autoptr(GPtrArray) any = g_ptr_array_new_with_free_func(msg_free);
        p = vdagent_parser_new(4096, collect, any);
        for (size_t off = 0; off < sizeof(junk); off += 37) {
            vdagent_parser_feed(p, junk + off, MIN((size_t)37, sizeof(junk) - off), &err);
            g_clear_error(&err);
        }
        vdagent_parser_free(p);
    }
    g_rand_free(r);
}

/* ---- the qemu-vdagent peer against a fake guest agent ---- */

typedef struct Rig {
    Chardev *chr;
    Vdagent *a;
    GByteArray *to_guest;      /* what the device got from the chardev */
    GPtrArray *guest_got;      /* parsed */
    VdagentParser *guest_parser;
    int connected, grabs, releases, requests;
    GString *text;
    bool answer_request;       /* the peer answers guest_request itself */
    const char *host_text;
} Rig;

static size_t rig_can_read(void *opaque)
{
    (void)opaque;
    return 4096;
}

static void rig_read(void *opaque, const uint8_t *buf, size_t len)
{
    Rig *r = opaque;
    g_byte_array_append(r->to_guest, buf, (guint)len);
    GError *err = NULL;
    g_assert_true(vdagent_parser_feed(r->guest_parser, buf, len, &err));
    g_assert_no_error(err);
}

static void pump(void)
{
    while (g_main_context_iteration(NULL, FALSE))
        ;
}

static void guest_send(Rig *r, uint32_t type, const void *data, size_t len)
{
    g_autoptr(GByteArray) b = g_byte_array_new();
    vdagent_message_build(b, VDAGENT_PORT_CLIENT, type, data, len);
    chardev_write(r->chr, b->data, b->len);
    pump();
}

static void guest_send_u32(Rig *r, uint32_t type, uint32_t a, uint32_t b, size_t n)
{
    uint8_t d[8];
    put32(d, a);
    put32(d + 4, b);
    guest_send(r, type, d, n);
}

static void peer_connected(void *o, bool on) { ((Rig *)o)->connected += on ? 1 : -1; }
static void peer_grab(void *o) { Rig *r = o; r->grabs++; vdagent_clipboard_request(r->a); }
static void peer_release(void *o) { ((Rig *)o)->releases++; }
static void peer_text(void *o, const char *t, size_t n)
{
    Rig *r = o;
    g_assert_true(g_utf8_validate(t, (gssize)n, NULL));
    g_string_assign(r->text, t);
}
static void peer_request(void *o)
{
    Rig *r = o;
    r->requests++;
    if (r->answer_request)
        vdagent_clipboard_send(r->a, r->host_text, strlen(r->host_text));
}

static const VdagentClipboardPeer rig_peer = {
    .connected = peer_connected,
    .guest_grab = peer_grab,
    .guest_release = peer_release,
    .guest_text = peer_text,
    .guest_request = peer_request,
};

static Msg *last(Rig *r)
{
    g_assert_cmpuint(r->guest_got->len, >, 0);
    return r->guest_got->pdata[r->guest_got->len - 1];
}

static uint32_t u32_at(Msg *m, size_t off)
{
    gsize n;
    const uint8_t *d = g_bytes_get_data(m->data, &n);
    g_assert_cmpuint(n, >=, off + 4);
    return (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 | (uint32_t)d[off + 2] << 16 | (uint32_t)d[off + 3] << 24;
}

static void test_peer(void)
{
    Rig r = { 0 };
    GError *err = NULL;
    r.chr = chardev_open("qemu-vdagent:clipboard=on", &err);
    g_assert_no_error(err);
    r.a = chardev_vdagent(r.chr);
    g_assert_nonnull(r.a);
    g_assert_true(chardev_connected(r.chr));
    r.to_guest = g_byte_array_new();
    r.guest_got = g_ptr_array_new_with_free_func(msg_free);
    r.guest_parser = vdagent_parser_new(2 * VDAGENT_TEXT_MAX, collect, r.guest_got);
    r.text = g_string_new(NULL);
    chardev_set_receiver(r.chr, rig_can_read, rig_read, &r, NULL, NULL, NULL);
    vdagent_set_clipboard_peer(r.a, &rig_peer, &r);

    /* The guest opens the port: the peer asks for its capabilities. */
    chardev_set_fe_open(r.chr, true);
    pump();
    g_assert_cmpuint(r.guest_got->len, ==, 1);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_ANNOUNCE_CAPABILITIES);
    g_assert_cmpuint(u32_at(last(&r), 0), ==, 1);
    g_assert_cmpuint(u32_at(last(&r), 4), ==, 1u << VDAGENT_CAP_CLIPBOARD_BY_DEMAND);
    g_assert_false(vdagent_guest_connected(r.a));

    /* The agent answers with its own and asks for ours: the peer replies, no request. */
    guest_send_u32(&r, VDAGENT_ANNOUNCE_CAPABILITIES, 1, 1u << VDAGENT_CAP_CLIPBOARD_BY_DEMAND, 8);
    g_assert_cmpint(r.connected, ==, 1);
    g_assert_true(vdagent_guest_connected(r.a));
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_ANNOUNCE_CAPABILITIES);
    g_assert_cmpuint(u32_at(last(&r), 0), ==, 0);

    /* A CLIPBOARD nobody asked for is ignored. */
    guest_send(&r, VDAGENT_CLIPBOARD, "\1\0\0\0unasked", 11);
    g_assert_cmpuint(r.text->len, ==, 0);

    /* Guest copies: the app asks, the text (with a byte that is not UTF-8) arrives
     * valid, cut at a NUL. */
    guest_send_u32(&r, VDAGENT_CLIPBOARD_GRAB, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    g_assert_cmpint(r.grabs, ==, 1);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD_REQUEST);
    g_assert_cmpuint(u32_at(last(&r), 0), ==, VDAGENT_CLIPBOARD_UTF8_TEXT);
    guest_send(&r, VDAGENT_CLIPBOARD, "\1\0\0\0h\xc3\xa9llo\xff\0tail", 17);
    g_assert_cmpstr(r.text->str, ==, "h\xc3\xa9llo\xef\xbf\xbd");

    /* A grab of other types only (an image) and a ragged one are releases of text. */
    guest_send_u32(&r, VDAGENT_CLIPBOARD_GRAB, 2, 0, 4);
    guest_send(&r, VDAGENT_CLIPBOARD_GRAB, "\1\0\0", 3);
    g_assert_cmpint(r.releases, ==, 2);
    g_assert_cmpint(r.grabs, ==, 1);

    /* The guest pastes before the host copied: an empty answer, the app is not asked. */
    guest_send_u32(&r, VDAGENT_CLIPBOARD_REQUEST, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    g_assert_cmpint(r.requests, ==, 0);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD);
    g_assert_cmpuint(u32_at(last(&r), 0), ==, VDAGENT_CLIPBOARD_NONE);

    /* The host copies 300 KB of text: grab, the guest asks, the text goes in chunks
     * (more than the chardev holds at once; the rest follows as the device drains). */
    size_t big_len = 300 * 1024;
    g_autofree char *big = g_malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    big[big_len] = 0;
    r.host_text = big;
    r.answer_request = true;
    vdagent_clipboard_grab(r.a);
    pump();
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD_GRAB);
    guest_send_u32(&r, VDAGENT_CLIPBOARD_REQUEST, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    g_assert_cmpint(r.requests, ==, 1);
    Msg *m = last(&r);
    g_assert_cmpuint(m->type, ==, VDAGENT_CLIPBOARD);
    gsize n;
    const uint8_t *d = g_bytes_get_data(m->data, &n);
    g_assert_cmpuint(n, ==, 4 + big_len);
    g_assert_cmpmem(d + 4, big_len, big, big_len);
    /* A request for another type gets nothing. */
    guest_send_u32(&r, VDAGENT_CLIPBOARD_REQUEST, 3, 0, 4);
    g_assert_cmpuint(u32_at(last(&r), 0), ==, VDAGENT_CLIPBOARD_NONE);
    vdagent_clipboard_release(r.a);
    pump();
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD_RELEASE);

    /* A broken stream: the agent is gone until it reopens the port. */
    uint8_t bad[28];
    raw_msg(bad, 1, 5000, 1, 4, 0);
    chardev_write(r.chr, bad, sizeof(bad));
    pump();
    g_assert_cmpint(r.connected, ==, 0);
    g_assert_false(vdagent_guest_connected(r.a));
    guint before = r.guest_got->len;
    guest_send_u32(&r, VDAGENT_ANNOUNCE_CAPABILITIES, 1, 0, 8);
    g_assert_cmpuint(r.guest_got->len, ==, before);
    /* The agent closes and reopens the port before the main loop looks: still a new
     * session (the peer asks for capabilities again). */
    chardev_set_fe_open(r.chr, false);
    chardev_set_fe_open(r.chr, true);
    pump();
    g_assert_cmpuint(r.guest_got->len, ==, before + 1);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_ANNOUNCE_CAPABILITIES);
    guest_send_u32(&r, VDAGENT_ANNOUNCE_CAPABILITIES, 0, 0, 8);
    g_assert_cmpint(r.connected, ==, 1);
    /* A capabilities message shorter than its request word changes nothing. */
    guest_send(&r, VDAGENT_ANNOUNCE_CAPABILITIES, "\1", 1);
    g_assert_cmpint(r.connected, ==, 1);

    vdagent_set_clipboard_peer(r.a, NULL, NULL);
    chardev_set_receiver(r.chr, NULL, NULL, NULL, NULL, NULL, NULL);
    chardev_close(r.chr);
    pump();
    vdagent_parser_free(r.guest_parser);
    g_ptr_array_free(r.guest_got, TRUE);
    g_byte_array_free(r.to_guest, TRUE);
    g_string_free(r.text, TRUE);
}

/* Without an app: the guest's text is kept, the host's is what the guest pastes; with
 * clipboard off nothing of the clipboard is offered or taken. */
static void test_store_and_off(void)
{
    Rig r = { 0 };
    GError *err = NULL;
    r.chr = chardev_open("qemu-vdagent:clipboard=on", &err);
    g_assert_no_error(err);
    r.a = chardev_vdagent(r.chr);
    r.to_guest = g_byte_array_new();
    r.guest_got = g_ptr_array_new_with_free_func(msg_free);
    r.guest_parser = vdagent_parser_new(2 * VDAGENT_TEXT_MAX, collect, r.guest_got);
    chardev_set_receiver(r.chr, rig_can_read, rig_read, &r, NULL, NULL, NULL);
    vdagent_host_set_text(r.a, "early"); /* before any agent: offered when it comes */
    chardev_set_fe_open(r.chr, true);
    pump();
    guest_send_u32(&r, VDAGENT_ANNOUNCE_CAPABILITIES, 0, 0, 8);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD_GRAB);
    guest_send_u32(&r, VDAGENT_CLIPBOARD_REQUEST, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    Msg *m = last(&r);
    g_assert_cmpuint(m->type, ==, VDAGENT_CLIPBOARD);
    g_assert_cmpmem((const char *)g_bytes_get_data(m->data, NULL) + 4, g_bytes_get_size(m->data) - 4, "early", 5);
    guest_send_u32(&r, VDAGENT_CLIPBOARD_GRAB, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    g_assert_cmpuint(last(&r)->type, ==, VDAGENT_CLIPBOARD_REQUEST);
    guest_send(&r, VDAGENT_CLIPBOARD, "\1\0\0\0from guest", 14);
    g_autofree char *t = vdagent_guest_last_text(r.a);
    g_assert_cmpstr(t, ==, "from guest");
    chardev_set_receiver(r.chr, NULL, NULL, NULL, NULL, NULL, NULL);
    chardev_close(r.chr);
    pump();
    vdagent_parser_free(r.guest_parser);
    g_ptr_array_free(r.guest_got, TRUE);
    g_byte_array_free(r.to_guest, TRUE);

    Rig o = { 0 };
    o.chr = chardev_open("qemu-vdagent", &err);
    g_assert_no_error(err);
    o.a = chardev_vdagent(o.chr);
    g_assert_false(vdagent_clipboard_enabled(o.a));
    o.to_guest = g_byte_array_new();
    o.guest_got = g_ptr_array_new_with_free_func(msg_free);
    o.guest_parser = vdagent_parser_new(4096, collect, o.guest_got);
    chardev_set_receiver(o.chr, rig_can_read, rig_read, &o, NULL, NULL, NULL);
    chardev_set_fe_open(o.chr, true);
    pump();
    g_assert_cmpuint(u32_at(last(&o), 4), ==, 0); /* no clipboard capability */
    guest_send_u32(&o, VDAGENT_ANNOUNCE_CAPABILITIES, 0, 0, 8);
    guint before = o.guest_got->len;
    guest_send_u32(&o, VDAGENT_CLIPBOARD_GRAB, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    guest_send_u32(&o, VDAGENT_CLIPBOARD_REQUEST, VDAGENT_CLIPBOARD_UTF8_TEXT, 0, 4);
    vdagent_host_set_text(o.a, "nothing");
    pump();
    g_assert_cmpuint(o.guest_got->len, ==, before);
    chardev_set_receiver(o.chr, NULL, NULL, NULL, NULL, NULL, NULL);
    chardev_close(o.chr);
    pump();
    vdagent_parser_free(o.guest_parser);
    g_ptr_array_free(o.guest_got, TRUE);
    g_byte_array_free(o.to_guest, TRUE);
}

/* savevm of the peer's session: saved with half a guest message held, the session goes
 * on (the agent closes the port), then loaded: the agent is connected again and the
 * other half completes the message. Saved states that are cut short or carry values
 * the peer cannot be in are refused by the check. */
static size_t count_type(Rig *r, uint32_t type)
{
    size_t n = 0;
    for (guint i = 0; i < r->guest_got->len; i++)
        n += ((Msg *)r->guest_got->pdata[i])->type == type;
    return n;
}

static void test_savevm(void)
{
    Rig r = { 0 };
    GError *err = NULL;
    r.chr = chardev_open("qemu-vdagent:clipboard=on", &err);
    g_assert_no_error(err);
    r.a = chardev_vdagent(r.chr);
    r.to_guest = g_byte_array_new();
    r.guest_got = g_ptr_array_new_with_free_func(msg_free);
    r.guest_parser = vdagent_parser_new(2 * VDAGENT_TEXT_MAX, collect, r.guest_got);
    chardev_set_receiver(r.chr, rig_can_read, rig_read, &r, NULL, NULL, NULL);
    chardev_set_fe_open(r.chr, true);
    pump();
    guest_send_u32(&r, VDAGENT_ANNOUNCE_CAPABILITIES, 0, 1u << VDAGENT_CAP_CLIPBOARD_BY_DEMAND, 8);
    g_assert_true(vdagent_guest_connected(r.a));
    /* Half of the guest's CLIPBOARD_GRAB of UTF8_TEXT. */
    g_autoptr(GByteArray) grab = g_byte_array_new();
    uint8_t t[4];
    put32(t, VDAGENT_CLIPBOARD_UTF8_TEXT);
    vdagent_message_build(grab, VDAGENT_PORT_CLIENT, VDAGENT_CLIPBOARD_GRAB, t, 4);
    chardev_write(r.chr, grab->data, 14);
    GBytes *state = chardev_peer_state_save(r.chr);
    g_assert_nonnull(state);
    g_assert_true(chardev_peer_state_check(r.chr, state, &err));
    g_assert_no_error(err);
    /* Cut short, a flag that is not 0 or 1, another version: refused. */
    gsize len;
    const uint8_t *d = g_bytes_get_data(state, &len);
    g_autoptr(GBytes) cut = g_bytes_new(d, len - 1);
    g_assert_false(chardev_peer_state_check(r.chr, cut, &err));
    g_clear_error(&err);
    g_autofree uint8_t *bad = g_memdup2(d, len);
    uint32_t pending = stream_get_le32(bad);
    bad[4 + pending + 4] = 2;
    g_autoptr(GBytes) flag = g_bytes_new(bad, len);
    g_assert_false(chardev_peer_state_check(r.chr, flag, &err));
    g_assert_nonnull(strstr(err->message, "qemu-vdagent"));
    g_clear_error(&err);
    bad[4 + pending + 4] = 1;
    bad[4 + pending] = 9;
    g_autoptr(GBytes) version = g_bytes_new(bad, len);
    g_assert_false(chardev_peer_state_check(r.chr, version, &err));
    g_clear_error(&err);

    /* The live session goes on: the grab completes (the peer asks for the text),
     * then the agent closes the port. */
    chardev_write(r.chr, grab->data + 14, grab->len - 14);
    pump();
    g_assert_cmpuint(count_type(&r, VDAGENT_CLIPBOARD_REQUEST), ==, 1);
    chardev_set_fe_open(r.chr, false);
    pump();
    g_assert_false(vdagent_guest_connected(r.a));

    /* loadvm: the saved session is back, the port open as it was saved. */
    chardev_peer_state_load(r.chr, state);
    chardev_set_fe_open(r.chr, true);
    chardev_accept_input(r.chr);
    pump();
    g_assert_true(vdagent_guest_connected(r.a));
    /* The agent, back at its half, writes the rest: one message, a second request. */
    chardev_write(r.chr, grab->data + 14, grab->len - 14);
    pump();
    g_assert_cmpuint(count_type(&r, VDAGENT_CLIPBOARD_REQUEST), ==, 2);
    g_assert_true(vdagent_guest_connected(r.a));
    guest_send(&r, VDAGENT_CLIPBOARD, "\1\0\0\0restored", 12);
    g_autofree char *text = vdagent_guest_last_text(r.a);
    g_assert_cmpstr(text, ==, "restored");
    g_bytes_unref(state);
    chardev_set_receiver(r.chr, NULL, NULL, NULL, NULL, NULL, NULL);
    chardev_close(r.chr);
    pump();
    vdagent_parser_free(r.guest_parser);
    g_ptr_array_free(r.guest_got, TRUE);
    g_byte_array_free(r.to_guest, TRUE);
}

/* QEMU's option spellings. */
static void test_options(void)
{
    static const struct { const char *opts, *spec; } ok[] = {
        { "spicevmc,id=a,name=vdagent", "spicevmc:vdagent" },
        { "spicevmc,id=a,name=usbredir", "spicevmc:usbredir" },
        { "socket,id=a,port=4000,server=on,wait=off", "tcp:127.0.0.1:4000" },
        { "socket,id=a,host=::1,port=4000,server=on,wait=off", "tcp:::1:4000" },
        { "qemu-vdagent,id=a", "qemu-vdagent" },
        { "qemu-vdagent,id=a,clipboard=on", "qemu-vdagent:clipboard=on" },
        { "qemu-vdagent,id=a,clipboard=off,mouse=off", "qemu-vdagent" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        GError *err = NULL;
        g_autofree char *spec = chardev_spec_from_opts(ok[i].opts, &err);
        g_assert_no_error(err);
        g_assert_cmpstr(spec, ==, ok[i].spec);
    }
    static const char *const bad[] = {
        "spicevmc,id=a", "spicevmc,id=a,name=smartcard", "qemu-vdagent,id=a,clipboard=yes",
        "socket,id=a,port=70000,server=on,wait=off", "socket,id=a,port=4000", "socket,id=a,port=x,server=on,wait=off",
        "qemu-vdagent,id=a,mouse=on", "qemu-vdagent,id=a,name=vdagent",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        g_assert_null(chardev_spec_from_opts(bad[i], &err));
        g_assert_nonnull(err);
        g_clear_error(&err);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vdagent/parser/split", test_parser_split);
    g_test_add_func("/vdagent/parser/hostile", test_parser_hostile);
    g_test_add_func("/vdagent/peer/clipboard", test_peer);
    g_test_add_func("/vdagent/peer/store-and-off", test_store_and_off);
    g_test_add_func("/vdagent/peer/savevm", test_savevm);
    g_test_add_func("/vdagent/options", test_options);
    return g_test_run();
}
