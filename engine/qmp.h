/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket: a QMP-compatible JSON protocol (QEMU's docs/interop/qmp-spec)
 * on a Unix socket, for tests and tools. It runs on the main context; commands take
 * the engine lock where they touch devices. Supported: qmp_capabilities,
 * query-version, query-status, query-block, query-name, query-commands, stop, cont,
 * system_reset, system_powerdown, quit, screendump, send-key, input-send-event,
 * human-monitor-command (monitor.h), the snapshot commands, and the Vireo extensions
 * x-screen-text, x-query-devices and x-snapshot-tree-list/-take/-revert/-delete/-set
 * (engine/snaptree.h). */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct Vm Vm;
typedef struct QmpServer QmpServer;

/* spec is QEMU's -qmp argument: "unix:PATH,server=on,wait=off" (also the older
 * "unix:PATH,server,nowait"). The server listens at once and never waits for a client. */
QmpServer *qmp_server_new(Vm *vm, const char *spec, GError **err);
void qmp_server_free(QmpServer *s);

/* What 'quit' does once its reply is on its way (vireo-run ends its main loop). Without
 * a handler 'quit' powers the VM off. */
void qmp_server_set_quit_handler(QmpServer *s, void (*fn)(void *data), void *data);

/* The socket's path. */
const char *qmp_server_path(const QmpServer *s);
