/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a VM is made of: filled in by vireo-run's options or a vm.conf, read by the
 * engine and the board. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define VIREO_ERROR (vireo_error_quark())
GQuark vireo_error_quark(void);
typedef enum {
    VIREO_ERROR_FAILED,
    VIREO_ERROR_INVALID,   /* a bad option or configuration value */
    VIREO_ERROR_NOT_FOUND, /* a missing file */
    VIREO_ERROR_UNSUPPORTED,
} VireoError;

#define VM_MAX_SERIAL 4

typedef enum { DRIVE_IF_IDE, DRIVE_IF_FLOPPY, DRIVE_IF_NONE } DriveInterface;
typedef enum { DRIVE_MEDIA_DISK, DRIVE_MEDIA_CDROM } DriveMedia;

typedef struct DriveConfig {
    char *file;         /* may be NULL for an empty CD or floppy drive */
    char *format;       /* NULL: probe */
    DriveInterface iface;
    DriveMedia media;
    int index;          /* -1: next free */
    bool readonly;
    bool snapshot;
    char *cache;        /* host cache mode as qemu-img names it; NULL: writeback */
    bool no_locking;    /* file.locking=off: no image locks (QEMU's and Vireo's) */
    bool force_share;   /* force-share=on (read-only): open even while another writes */
} DriveConfig;

typedef struct VmConfig {
    char *name;
    char *machine;           /* "pc" */
    uint64_t ram_size;       /* bytes */
    unsigned smp;
    char *accel;             /* "kvm", "tcg", "interp" or a colon list tried in order */
    char *bios;              /* NULL: SeaBIOS from the seabios package */
    char *kernel, *initrd, *append;
    char *serial[VM_MAX_SERIAL]; /* character device specs, NULL = no port */
    char *debugcon;          /* chardev for ports 0x402/0xE9, NULL = none */
    bool debug_exit;         /* isa-debug-exit present */
    uint16_t debug_exit_port;
    char *display;           /* "none", "sdl", "gtk" */
    bool nographic;
    bool no_reboot;          /* guest reset exits instead */
    bool no_shutdown;        /* guest power off pauses instead of exiting */
    GPtrArray *drives;       /* DriveConfig* */
    char *boot_order;        /* e.g. "cad" */
    char *boot_once;         /* order for the first boot only (-boot once=), or NULL */
    bool boot_menu;
    bool snapshot;           /* every drive gets a temporary overlay */
    char *qmp;               /* control socket spec */
    char *vga;               /* "std", "none" */
} VmConfig;

VmConfig *vm_config_new(void);
void vm_config_free(VmConfig *cfg);
DriveConfig *drive_config_new(void);
void drive_config_free(DriveConfig *d);

/* Parses a size with an optional K/M/G/T suffix; bare numbers are MiB when
 * default_mib is true (as -m). */
bool parse_size(const char *s, bool default_mib, uint64_t *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmConfig, vm_config_free)
