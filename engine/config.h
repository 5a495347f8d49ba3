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

/* DRIVE_IF_VIRTIO: the board gives the drive its own virtio-blk-pci (QEMU's if=virtio). */
typedef enum { DRIVE_IF_IDE, DRIVE_IF_FLOPPY, DRIVE_IF_NONE, DRIVE_IF_VIRTIO } DriveInterface;

/* if=virtio drives: index 0 to this less one (vm.conf names the first four vda-vdd). */
#define VM_MAX_VIRTIO_DRIVES 16
typedef enum { DRIVE_MEDIA_DISK, DRIVE_MEDIA_CDROM } DriveMedia;

typedef struct DriveConfig {
    char *file;         /* may be NULL for an empty CD or floppy drive */
    char *format;       /* NULL: probe */
    DriveInterface iface;
    DriveMedia media;
    int index;          /* -1: next free; if=virtio: N of its name virtioN */
    bool readonly;
    bool snapshot;
    char *cache;        /* host cache mode as qemu-img names it; NULL: writeback */
    char *id;           /* -drive id=: how a device (usb-storage drive=) names an if=none drive */
    bool no_locking;    /* file.locking=off: no image locks (QEMU's and Vireo's) */
    bool force_share;   /* force-share=on (read-only): open even while another writes */
    bool boot_first;    /* the hard disk the firmware tries first (vm.conf [vm] boot-disk=) */
} DriveConfig;

/* A host back end of the VM (engine/backend.h): its kind ("netdev", "audiodev") and
 * QEMU's option text ("user,id=net0"). */
typedef struct BackendConfig {
    char *kind;
    char *opts;
} BackendConfig;

/* -smp's topology: threads per core, cores per socket, sockets. All zero: QEMU's default
 * for the pc machine since 6.2, one socket of `smp` cores. */
typedef struct CpuTopology {
    unsigned sockets, cores, threads;
} CpuTopology;

typedef struct VmConfig {
    char *name;
    char *machine;           /* "pc" */
    bool no_usb;             /* -machine usb=off: no USB host controller on the board */
    bool no_hpet;            /* -no-hpet, -machine hpet=off: the pc board without its HPET */
    uint64_t ram_size;       /* bytes */
    unsigned smp;
    CpuTopology topo;        /* as -smp gave it (zeros: the default); see vm_config_topology */
    char *accel;             /* "kvm", "tcg", "interp" or a colon list tried in order */
    char *cpu_model;         /* -cpu (cpu/cpu-model.h), NULL: max */
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
    bool rtc_utc;            /* the RTC starts at UTC (-rtc base=utc), else local time */
    GPtrArray *drives;       /* DriveConfig* */
    char *boot_order;        /* e.g. "cad" */
    char *boot_once;         /* order for the first boot only (-boot once=), or NULL */
    bool boot_menu;
    bool snapshot;           /* every drive gets a temporary overlay */
    char *qmp;               /* control socket spec */
    char *vga;               /* "std", "cirrus", "none" */
    char *vm_dir;            /* a library VM's folder (savevm without a qcow2 disk), or NULL */
    GPtrArray *devices;      /* char *: -device specs the board creates, "DRIVER[,PROP=VALUE...]" */
    GPtrArray *globals;      /* char *: -global defaults, "DRIVER.PROP=VALUE" */
    GPtrArray *backends;     /* BackendConfig *: -netdev, -audiodev, ... in order */
} VmConfig;

VmConfig *vm_config_new(void);
/* A deep copy: a new field is copied here, in one place. */
VmConfig *vm_config_copy(const VmConfig *cfg);
void vm_config_free(VmConfig *cfg);
DriveConfig *drive_config_new(void);
void vm_config_add_backend(VmConfig *cfg, const char *kind, const char *opts);

/* The network cards -nic, vm.conf's network= and the app offer, NULL-terminated, and a
 * line naming them for messages (engine/config-devices.c). */
extern const char *const vm_config_nic_models[];
extern const char *const vm_config_nic_models_text;
/* QEMU's -nic TYPE[,model=M][,mac=A][,netdev options]: a back end with a card of its own
 * (e1000 by default), ids __nicN; "none" adds nothing. Nothing is added on error. */
bool vm_config_add_nic(VmConfig *cfg, const char *spec, GError **err);
/* vm.conf's sound= values besides none, NULL-terminated. */
extern const char *const vm_config_sound_models[];
/* A sound card (ac97; hda: intel-hda with hda-duplex; sb16; none adds nothing) on the
 * host's sound (PulseAudio, else SDL, else silence), with the board's PC speaker on the
 * same stream. */
bool vm_config_add_sound(VmConfig *cfg, const char *model, GError **err);
/* vm.conf's audio-backend= values, NULL-terminated: auto (PulseAudio, else SDL, else
 * silence), pa, sdl, none. */
extern const char *const vm_config_audio_backends[];
/* As vm_config_add_sound on the host back end named (one of vm_config_audio_backends;
 * pa or sdl missing from the build is an error); microphone: the card's inputs record
 * the host's default microphone (PulseAudio's @DEFAULT_SOURCE@, SDL's default capture
 * device), opened only while the guest records. */
bool vm_config_add_sound_on(VmConfig *cfg, const char *model, const char *backend, bool microphone, GError **err);
void drive_config_free(DriveConfig *d);

/* Parses a size with an optional K/M/G/T suffix; bare numbers are MiB when
 * default_mib is true (as -m). */
bool parse_size(const char *s, bool default_mib, uint64_t *out);

/* Limits of a VM, the one place vireo-run's options, vm.conf, the engine and the app's
 * fields take them from (README states the same). RAM: the memory map holds at most half
 * the 36-bit physical address space (memory.h). CPUs: one host thread each, up to 16. Boot
 * order: the CMOS bytes SeaBIOS reads hold three devices. */
#define VM_RAM_MIN_MIB 1
#define VM_RAM_MAX_GIB 32
#define VM_RAM_MIN ((uint64_t)VM_RAM_MIN_MIB << 20)
#define VM_RAM_MAX ((uint64_t)VM_RAM_MAX_GIB << 30)
#define VM_CPUS_MAX 16
#define VM_BOOT_ORDER_MAX 3

/* Each takes a value as -m/memory=, -smp/cpus= and -boot/boot= do; on failure err says
 * what is accepted (VIREO_ERROR_INVALID, without the option or key: callers add it). */
bool vm_config_parse_ram(const char *s, uint64_t *bytes, GError **err);
bool vm_config_parse_cpus(const char *s, unsigned *n, GError **err);
/* The same, also giving the topology with QEMU's defaults filled in (topo may be NULL). */
bool vm_config_parse_smp(const char *s, unsigned *n, CpuTopology *topo, GError **err);
/* The topology a VM of cfg has: cfg->topo, or one socket of cfg->smp cores. */
CpuTopology vm_config_topology(const VmConfig *cfg);
/* The initial APIC ID of processor index (0 = the BSP): the thread, core and package
 * numbers each in a field as wide as its count needs (SDM vol. 3A 9.6.2, "Hierarchical
 * Mapping of Shared Resources"; QEMU numbers them the same way), so counts that are not
 * powers of two leave gaps. */
unsigned cpu_topology_apic_id(const CpuTopology *t, unsigned index);
/* Bits of the APIC ID that number the threads of a core and the cores of a package. */
unsigned cpu_topology_thread_bits(const CpuTopology *t);
unsigned cpu_topology_core_bits(const CpuTopology *t);
bool vm_config_check_boot_order(const char *order, GError **err);

/* Text from a file or the user as an error message quotes it: valid UTF-8 (bad bytes
 * become U+FFFD), control characters escaped (\n, \x1b) so the message stays one line,
 * and at most max_chars characters followed by "…" so a huge value gives a short line. */
#define CONFIG_QUOTE_MAX 40
char *config_shorten(const char *text, size_t max_chars);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmConfig, vm_config_free)
