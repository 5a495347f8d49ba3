/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QEMU's human monitor (HMP): the commands Vireo has, as text in and text out. One
 * interpreter serves QMP's human-monitor-command and vireo-run's -monitor stdio. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Vm Vm;

/* Runs one command line on the main loop's thread and returns what QEMU's monitor
 * prints (lines end in "\r\n"; a failure is a line starting "Error:"). *quit is set
 * when the line asks to end the program (quit, q); the caller does that. */
char *monitor_run(Vm *vm, const char *line, bool *quit);

/* A drive with a medium, for info block and QMP query-block. */
typedef struct MonitorDrive {
    char *device;            /* QEMU's name: floppy0, ide0-hd0, ide1-cd0 */
    char *file;              /* the top image's file name */
    const char *format;      /* the top image's format */
    bool read_only;
    bool removable;          /* a floppy or CD-ROM drive */
    uint64_t size;
    char *backing_file;      /* the next image down the chain (-snapshot's base), or NULL */
    const char *backing_format;
} MonitorDrive;

/* The VM's drives that hold a medium, in device order (MonitorDrive, owned). Takes
 * the lock. */
GPtrArray *monitor_list_drives(Vm *vm);

/* -monitor stdio: a "(qemu) " prompt on stdout reading lines from stdin in the main
 * loop. At the end of input the monitor stops reading; the VM runs on. */
typedef struct MonitorStdio MonitorStdio;
MonitorStdio *monitor_stdio_new(Vm *vm, void (*quit)(void *data), void *data);
void monitor_stdio_free(MonitorStdio *m);
