/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The output side of a non-blocking control socket (QMP, the gdb stub): a bounded
 * backlog written as the peer reads, never blocking the main loop.
 *
 * Threading: main loop only (the GSource it arms runs on the default context). */
#ifndef VIREO_ENGINE_SOCKWRITER_H
#define VIREO_ENGINE_SOCKWRITER_H

#include <gio/gio.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct SockWriter SockWriter;

/* Called from the main loop when the socket can take more of the backlog; the owner
 * calls sock_writer_flush from it (and closes its client when that fails). */
typedef void (*SockWriterReady)(void *opaque);

SockWriter *sock_writer_new(GSocket *sock, size_t max_backlog, SockWriterReady ready, void *opaque);
void sock_writer_free(SockWriter *w);

/* Queues bytes; false (and the backlog dropped) when the peer has stopped reading and
 * the backlog would pass max_backlog. */
bool sock_writer_append(SockWriter *w, const char *data, size_t len);
size_t sock_writer_pending(const SockWriter *w);

/* Writes what the socket takes now and waits for the rest through `ready`; false when
 * the peer is gone (err says why, the backlog is dropped). */
bool sock_writer_flush(SockWriter *w, GError **err);

/* On the way out: blocks up to timeout_s seconds to hand the last bytes over. */
void sock_writer_drain(SockWriter *w, unsigned timeout_s);

#endif
