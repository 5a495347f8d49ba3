/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A GDB remote serial protocol server (gdb's "target remote"), as QEMU's -gdb: i386
 * registers with a target description, memory through the guest's paging (or physical
 * with Qqemu.PhyMemMode:1), breakpoints, watchpoints, single step, continue and Ctrl-C.
 * gdb's threads are the vCPUs. It runs on the main context and reaches the VM through
 * engine/debug.h only. One debugger at a time; connecting pauses the VM. */
#pragma once

#include <glib.h>

typedef struct Vm Vm;
typedef struct GdbServer GdbServer;

/* spec is QEMU's -gdb argument: "tcp::PORT" (this machine only: the loopback
 * addresses), "tcp:HOST:PORT" or "tcp:[IPV6]:PORT". Fails when the VM's CPU back end
 * has no debugger support or the port cannot be opened. */
GdbServer *gdb_server_new(Vm *vm, const char *spec, GError **err);
void gdb_server_free(GdbServer *s);

/* What gdb's kill ('k') does (vireo-run ends); without a handler the VM powers off. */
void gdb_server_set_quit_handler(GdbServer *s, void (*fn)(void *data), void *data);
