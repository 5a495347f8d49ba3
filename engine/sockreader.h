/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The input side of a non-blocking control socket (QMP, the gdb stub): bytes handed to
 * the owner as they arrive, and one call when the peer is gone. sockwriter.h is the
 * output side.
 *
 * Threading: main loop only (the GSource runs on the default context). Either callback
 * may free the reader (the owner closing its client); the reader touches nothing of
 * its own after calling one. */
#ifndef VIREO_ENGINE_SOCKREADER_H
#define VIREO_ENGINE_SOCKREADER_H

#include <gio/gio.h>
#include <stddef.h>

typedef struct SockReader SockReader;

/* Bytes that arrived; the owner parses them. */
typedef void (*SockReaderInput)(void *opaque, const char *data, size_t len);
/* The peer closed or the socket failed (why says which); no more input follows, and
 * the owner closes its client (sock_reader_free included). */
typedef void (*SockReaderGone)(void *opaque, const char *why);

SockReader *sock_reader_new(GSocket *sock, SockReaderInput input, SockReaderGone gone, void *opaque);
void sock_reader_free(SockReader *r);

#endif
