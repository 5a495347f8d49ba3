/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/jit: perf's jitdump file, so `perf inject --jit` can name translated
 * blocks (perf.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

/* /tmp/jit-PID.dump (g_free it). */
char *jit_jitdump_path(void);
/* Creates the file with its header, or takes one more reference to it (one file per
 * process, shared by the vCPUs' translators). */
bool jit_jitdump_open(GError **err);
/* A JIT_CODE_LOAD record: size bytes of host code at code (the executable view). */
void jit_jitdump_load(const void *code, size_t size, const char *name);
/* Drops a reference; the last one writes JIT_CODE_CLOSE and closes the file. */
void jit_jitdump_close(void);
