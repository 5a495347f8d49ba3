/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backlog writer for non-blocking control sockets (engine/sockwriter.h). */
#include "engine/sockwriter.h"

struct SockWriter {
    GSocket *sock;
    GString *buf;
    GSource *source;       /* armed while the socket refuses more */
    size_t max_backlog;
    SockWriterReady ready;
    void *opaque;
};

SockWriter *sock_writer_new(GSocket *sock, size_t max_backlog, SockWriterReady ready, void *opaque)
{
    SockWriter *w = g_new0(SockWriter, 1);
    w->sock = sock;
    w->buf = g_string_new(NULL);
    w->max_backlog = max_backlog;
    w->ready = ready;
    w->opaque = opaque;
    return w;
}

static void writer_disarm(SockWriter *w)
{
    if (w->source) {
        g_source_destroy(w->source);
        g_source_unref(w->source);
        w->source = NULL;
    }
}

void sock_writer_free(SockWriter *w)
{
    if (!w)
        return;
    writer_disarm(w);
    g_string_free(w->buf, TRUE);
    g_free(w);
}

bool sock_writer_append(SockWriter *w, const char *data, size_t len)
{
    if (w->buf->len + len > w->max_backlog) {
        g_string_truncate(w->buf, 0);
        return false;
    }
    g_string_append_len(w->buf, data, (gssize)len);
    return true;
}

size_t sock_writer_pending(const SockWriter *w)
{
    return w->buf->len;
}

static gboolean writer_on_writable(GSocket *sock, GIOCondition cond, gpointer data)
{
    SockWriter *w = data;
    g_source_unref(w->source);
    w->source = NULL;
    w->ready(w->opaque);   /* may free w */
    return G_SOURCE_REMOVE;
}

bool sock_writer_flush(SockWriter *w, GError **err)
{
    while (w->buf->len) {
        GError *e = NULL;
        gssize n = g_socket_send(w->sock, w->buf->str, w->buf->len, NULL, &e);
        if (n < 0) {
            if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                g_error_free(e);
                if (!w->source) {
                    w->source = g_socket_create_source(w->sock, G_IO_OUT, NULL);
                    g_source_set_callback(w->source, (GSourceFunc)(void (*)(void))writer_on_writable, w, NULL);
                    g_source_attach(w->source, NULL);
                }
                return true;
            }
            g_propagate_error(err, e);
            g_string_truncate(w->buf, 0);
            writer_disarm(w);
            return false;
        }
        g_string_erase(w->buf, 0, n);
    }
    writer_disarm(w);
    return true;
}

void sock_writer_drain(SockWriter *w, unsigned timeout_s)
{
    writer_disarm(w);
    g_socket_set_blocking(w->sock, TRUE);
    g_socket_set_timeout(w->sock, timeout_s);
    while (w->buf->len) {
        gssize n = g_socket_send(w->sock, w->buf->str, w->buf->len, NULL, NULL);
        if (n <= 0)
            break;
        g_string_erase(w->buf, 0, n);
    }
}
