/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Non-blocking reads of a control socket on the main loop (see sockreader.h). */
#include "engine/sockreader.h"

/* One read's worth: a QMP request of up to 1 MiB arrives in a few reads. */
#define SOCK_READER_CHUNK 65536

struct SockReader {
    GSocket *sock;
    GSource *source;
    SockReaderInput input;
    SockReaderGone gone;
    void *opaque;
};

static gboolean on_readable(GSocket *sock, GIOCondition cond, gpointer data)
{
    SockReader *r = data;
    static char buf[SOCK_READER_CHUNK];   /* main loop only */
    g_autoptr(GError) err = NULL;
    gssize n = g_socket_receive(sock, buf, sizeof(buf), NULL, &err);
    if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return G_SOURCE_CONTINUE;
    /* The callbacks may free r: nothing of it is used after them. */
    if (n <= 0) {
        r->gone(r->opaque, err ? err->message : "end of input");
        return G_SOURCE_REMOVE;
    }
    r->input(r->opaque, buf, (size_t)n);
    return G_SOURCE_CONTINUE;
}

SockReader *sock_reader_new(GSocket *sock, SockReaderInput input, SockReaderGone gone, void *opaque)
{
    SockReader *r = g_new0(SockReader, 1);
    r->sock = sock;
    r->input = input;
    r->gone = gone;
    r->opaque = opaque;
    r->source = g_socket_create_source(sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(r->source, (GSourceFunc)(void (*)(void))on_readable, r, NULL);
    g_source_attach(r->source, NULL);
    return r;
}

void sock_reader_free(SockReader *r)
{
    if (!r)
        return;
    /* Destroying the source from its own callback is allowed: GLib holds a reference
     * while it dispatches. */
    g_source_destroy(r->source);
    g_source_unref(r->source);
    g_free(r);
}
