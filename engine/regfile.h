/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading the files a user names (vm.conf, -kernel, -initrd, -bios) safely: only
 * regular files are opened, without blocking (a FIFO would wait for a writer forever and
 * a device may never end), and callers learn the size before they read anything, so a
 * huge or sparse file is refused without reading it. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens path read-only when it is a regular file (symbolic links followed); *size is its
 * size. Returns the descriptor, or -1 with err: VIREO_ERROR_NOT_FOUND when nothing is
 * there, VIREO_ERROR_INVALID for a FIFO, device, socket or folder, messages starting
 * with path. */
int regfile_open(const char *path, uint64_t *size, GError **err);

/* Reads exactly len bytes at offset off; a file that shrank meanwhile is an error. */
bool regfile_read_at(int fd, const char *path, uint64_t off, void *buf, size_t len, GError **err);

/* The whole regular file when it holds at most max bytes (plus a NUL after the data, as
 * g_file_get_contents); a bigger one is refused before it is read (VIREO_ERROR_INVALID,
 * "PATH is 50.0 MiB, more than the 1.0 MiB ..."). */
bool regfile_read(const char *path, size_t max, char **data, size_t *len, GError **err);

/* What kind of file st_mode is, for messages: "a FIFO", "a folder", ... */
const char *regfile_kind(unsigned mode);
