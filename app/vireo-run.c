/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vireo-run: runs one VM from the command line with QEMU's option spellings. */
#include "cpu/cpu.h"
#include "cpu/cpu-model.h"
#include "engine/gdbstub.h"
#include "engine/backend.h"
#include "engine/chardev.h"
#include "engine/library.h"
#include "engine/library-transfer.h"
#include "engine/log.h"
#include "engine/machine.h"
#include "engine/monitor.h"
#include "engine/qemu-cmdline.h"
#include "engine/qmp.h"
#include "engine/secret.h"
#include "engine/snapshots.h"
#include "engine/snaptree.h"
#include "engine/vm.h"
#include "vireo-config.h"
#ifdef HAVE_SPICE
#include "ui/spice/spice-display.h"
#endif
#ifdef HAVE_SDL2
#include "ui/sdl/sdl-display.h"
#endif

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

typedef struct Options {
    char *memory;
    char *smp;
    char *cpu;
    char *accel;
    char *machine;
    char *bios;
    char *kernel, *initrd, *append;
    gboolean nographic;
    char **serial;
    char *display;
    char *qmp;
    char *vga;
    gboolean no_reboot, no_shutdown;
    char *debugcon;
    char **devices;
    gboolean usb;
    gboolean no_hpet;
    char **usbdevices;
    char **globals;
    char **chardevs;
    char **netdevs;
    char **nics;
    char **audiodevs;
    char *log_areas, *log_file;
    char *name;
    char *vm;
    gboolean version;
    gboolean start_paused;
    gboolean gdb_default;
    char *gdb;
    char *spice;
    char **objects;
    char *loadvm;
    char *fda, *fdb;
    char *boot;
    char *hd[4];
    char *cdrom;
    char **drives;
    gboolean snapshot;
    gboolean enable_kvm;
    char *rtc;
    char *keymap;
    char *monitor;
    gboolean print_qemu;
    char *import;
    char *export_libvirt;
    gboolean tree_list;
    char *tree_take, *tree_revert, *tree_delete, *tree_set;
    char *tree_name, *tree_description;
} Options;

static Options opt;

static GOptionEntry entries[] = {
    { "m", 0, 0, G_OPTION_ARG_STRING, &opt.memory, "Guest RAM size, 1M to 32G (default 128M; suffixes K, M, G)", "SIZE" },
    { "smp", 0, 0, G_OPTION_ARG_STRING, &opt.smp, "Number of CPUs, 1-16, one host thread each: N[,sockets=S,cores=C,threads=T,maxcpus=N]", "N" },
    { "cpu", 0, 0, G_OPTION_ARG_STRING, &opt.cpu, "CPU model (\"help\" lists them)", "MODEL" },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &opt.accel, "CPU back end: kvm, tcg, interp; \"help\" lists them", "NAME[,opts]" },
    { "machine", 'M', 0, G_OPTION_ARG_STRING, &opt.machine, "Board (pc) and its options: usb=on|off, hpet=on|off, pcspk-audiodev=ID plays the PC speaker; \"help\" lists boards", "[type=]TYPE[,usb=on|off][,hpet=on|off][,pcspk-audiodev=ID]" },
    { "no-hpet", 0, 0, G_OPTION_ARG_NONE, &opt.no_hpet, "The pc board without its HPET (as -machine hpet=off)", NULL },
    { "usb", 0, 0, G_OPTION_ARG_NONE, &opt.usb, "The board's USB controller (on by default; -machine usb=off removes it)", NULL },
    { "usbdevice", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.usbdevices, "Add a USB device: tablet, mouse or keyboard (QEMU's legacy spelling of -device usb-...)", "NAME" },
    { "bios", 0, 0, G_OPTION_ARG_FILENAME, &opt.bios, "Firmware image (default: SeaBIOS)", "FILE" },
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &opt.kernel, "Linux bzImage or Multiboot kernel to boot directly", "FILE" },
    { "initrd", 0, 0, G_OPTION_ARG_STRING, &opt.initrd, "Initial ramdisk (Multiboot: modules, comma separated)", "FILE" },
    { "append", 0, 0, G_OPTION_ARG_STRING, &opt.append, "Kernel command line", "TEXT" },
    { "nographic", 0, 0, G_OPTION_ARG_NONE, &opt.nographic, "No display: serial port and firmware console on the terminal", NULL },
    { "serial", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.serial, "Serial port backend: stdio, file:PATH, null, none, chardev:ID (repeat for COM2-4)", "DEV" },
    { "spice", 0, 0, G_OPTION_ARG_STRING, &opt.spice, "SPICE server for remote viewers: port=N[,addr=127.0.0.1],password=P|disable-ticketing=on, or unix=on,addr=PATH,...", "OPTIONS" },
    { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.objects, "A secret for options that name one (-spice password-secret=ID): secret,id=ID,data=TEXT or file=PATH[,format=raw|base64]", "secret,id=ID,..." },
    { "display", 0, 0, G_OPTION_ARG_STRING, &opt.display, "Display: sdl (a window) or none (default: sdl when $DISPLAY or $WAYLAND_DISPLAY is set)", "TYPE" },
    { "vga", 0, 0, G_OPTION_ARG_STRING, &opt.vga, "Display adapter: std (Bochs VBE, PCI 1234:1111), cirrus (Cirrus CL-GD5446, PCI 1013:00b8), virtio (virtio-vga, PCI 1af4:1050) or none", "TYPE" },
    { "qmp", 0, 0, G_OPTION_ARG_STRING, &opt.qmp, "Control socket (QMP): unix:PATH,server=on,wait=off", "SPEC" },
    { "no-reboot", 0, 0, G_OPTION_ARG_NONE, &opt.no_reboot, "Exit instead of rebooting when the guest resets", NULL },
    { "no-shutdown", 0, 0, G_OPTION_ARG_NONE, &opt.no_shutdown, "Pause instead of exiting when the guest powers off", NULL },
    { "debugcon", 0, 0, G_OPTION_ARG_STRING, &opt.debugcon, "Debug console (ports 0x402 and 0xE9): stdio, file:PATH, null", "DEV" },
    { "device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.devices, "Add a device; \"help\" lists them, NAME,help their properties", "DRIVER[,opts]" },
    { "global", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.globals, "Default for a property of every device of a kind", "DRIVER.PROP=VALUE" },
    { "chardev", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.chardevs, "Character device: stdio,id=ID | file,id=ID,path=PATH | null,id=ID | socket,id=ID,path=PATH,server=on,wait=off | spicevmc,id=ID,name=vdagent|usbredir | qemu-vdagent,id=ID,clipboard=on", "BACKEND,id=ID[,...]" },
    { "netdev", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.netdevs, "Network back end: user,id=ID[,net=ADDR/BITS,host=,dns=,dhcpstart=,hostfwd=tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport,restrict=on|off,tftp=DIR,bootfile=FILE,tftp-server-name=NAME], or tap,id=ID[,ifname=NAME][,script=FILE|no][,downscript=FILE|no]", "user|tap,id=ID[,...]" },
    { "nic", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.nics, "A network card with its own back end: user[,model=e1000|ne2k_pci|ne2k_isa][,mac=MAC][,user options], or none", "TYPE[,model=MODEL][,...]" },
    { "audiodev", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.audiodevs, "Sound back end: pa (PulseAudio), sdl (SDL2), wav,path=FILE, none; out.frequency=HZ, out.channels=1|2, timer-period=US", "TYPE,id=ID[,...]" },
    { "hda", 0, 0, G_OPTION_ARG_FILENAME, &opt.hd[0], "IDE disk image, primary master (index 0)", "FILE" },
    { "hdb", 0, 0, G_OPTION_ARG_FILENAME, &opt.hd[1], "IDE disk image, primary slave (index 1)", "FILE" },
    { "hdc", 0, 0, G_OPTION_ARG_FILENAME, &opt.hd[2], "IDE disk image, secondary master (index 2)", "FILE" },
    { "hdd", 0, 0, G_OPTION_ARG_FILENAME, &opt.hd[3], "IDE disk image, secondary slave (index 3)", "FILE" },
    { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &opt.cdrom, "CD-ROM image (ISO) in the secondary master drive (index 2)", "FILE" },
    { "drive", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt.drives, "A drive: file=FILE,if=ide|floppy|virtio|none,media=disk|cdrom,format=raw|qcow2|vmdk|vdi|vpc|vhdx,readonly=on|off,index=N,snapshot=on|off,cache=MODE,file.locking=on|off|auto,force-share=on|off", "OPTS" },
    { "snapshot", 0, 0, G_OPTION_ARG_NONE, &opt.snapshot, "Write to temporary overlays thrown away at exit: images stay unchanged", NULL },
    { "d", 0, 0, G_OPTION_ARG_STRING, &opt.log_areas, "Log these areas (comma separated; \"help\" lists them)", "AREAS" },
    { "D", 0, 0, G_OPTION_ARG_FILENAME, &opt.log_file, "Write the log to a file", "FILE" },
    { "fda", 0, 0, G_OPTION_ARG_FILENAME, &opt.fda, "Floppy image for drive A: (160K to 2.88M; raw, qcow2, or vmdk/vdi/vpc/vhdx read-only)", "FILE" },
    { "fdb", 0, 0, G_OPTION_ARG_FILENAME, &opt.fdb, "Floppy image for drive B:", "FILE" },
    { "boot", 0, 0, G_OPTION_ARG_STRING, &opt.boot, "Boot order: a floppy, c hard disk, d CD-ROM, n network (order=ca, once=a, menu=on, or legacy -boot c)", "[order=]DRIVES[,once=DRIVES][,menu=on|off]" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &opt.name, "Name of the VM", "NAME" },
    { "vm", 0, 0, G_OPTION_ARG_STRING, &opt.vm, "Run a VM of the library ($XDG_DATA_HOME/vireo/vms/NAME); other options override its vm.conf", "NAME" },
    { "S", 0, 0, G_OPTION_ARG_NONE, &opt.start_paused, "Do not start the CPU (resume through the control socket)", NULL },
    { "s", 0, 0, G_OPTION_ARG_NONE, &opt.gdb_default, "Shorthand for -gdb tcp::1234", NULL },
    { "gdb", 0, 0, G_OPTION_ARG_STRING, &opt.gdb, "gdb stub: tcp::PORT (this machine only) or tcp:HOST:PORT", "DEV" },
    { "loadvm", 0, 0, G_OPTION_ARG_STRING, &opt.loadvm, "Start from the internal snapshot NAME (savevm)", "NAME" },
    { "enable-kvm", 0, 0, G_OPTION_ARG_NONE, &opt.enable_kvm, "Same as -accel kvm", NULL },
    { "rtc", 0, 0, G_OPTION_ARG_STRING, &opt.rtc, "Real-time clock start: base=localtime (default) or base=utc", "base=utc|localtime" },
    { "k", 0, 0, G_OPTION_ARG_STRING, &opt.keymap, "Keyboard layout name (QEMU's: de, en-us, fr, ...); accepted, not needed: keys are sent by position", "LANG" },
    { "monitor", 0, 0, G_OPTION_ARG_STRING, &opt.monitor, "Human monitor: stdio (a (qemu) prompt on this terminal) or none", "DEV" },
    { "print-qemu-command", 0, 0, G_OPTION_ARG_NONE, &opt.print_qemu, "Print the qemu-system-i386 command line that runs this VM as Vireo would, and exit", NULL },
    { "import", 0, 0, G_OPTION_ARG_FILENAME, &opt.import, "Make a library VM from a libvirt domain XML, an .ovf or an .ova (-name NAME renames it), and exit", "FILE" },
    { "export-libvirt", 0, 0, G_OPTION_ARG_FILENAME, &opt.export_libvirt, "Write the library VM (--vm NAME) as a libvirt domain XML with qcow2 disks into DIR, and exit", "DIR" },
    { "snapshot-list", 0, 0, G_OPTION_ARG_NONE, &opt.tree_list, "With --vm: list the VM's snapshot tree and exit", NULL },
    { "snapshot-take", 0, 0, G_OPTION_ARG_STRING, &opt.tree_take, "With --vm: take a snapshot of the VM's disks (the VM is not running) and exit", "NAME" },
    { "snapshot-revert", 0, 0, G_OPTION_ARG_STRING, &opt.tree_revert, "With --vm: go back to a snapshot (id, id prefix or name) and exit", "ID" },
    { "snapshot-delete", 0, 0, G_OPTION_ARG_STRING, &opt.tree_delete, "With --vm: delete a snapshot (its layer is merged into its child) and exit", "ID" },
    { "snapshot-set", 0, 0, G_OPTION_ARG_STRING, &opt.tree_set, "With --vm: rename a snapshot (--snapshot-name) or describe it (--snapshot-description)", "ID" },
    { "snapshot-name", 0, 0, G_OPTION_ARG_STRING, &opt.tree_name, "New name for --snapshot-set", "NAME" },
    { "snapshot-description", 0, 0, G_OPTION_ARG_STRING, &opt.tree_description, "Description for --snapshot-take or --snapshot-set", "TEXT" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opt.version, "Print the version and exit", NULL },
    { NULL },
};

static G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vireo-run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(EXIT_USAGE);
}

/* QEMU spells long options with one dash (-nographic); GOption wants two. Rewrite every
 * argument that names one of our long options, leaving values and -- alone. */
static char **rewrite_args(int argc, char **argv)
{
    char **out = g_new0(char *, argc + 1);
    out[0] = g_strdup(argv[0]);
    bool takes_value = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (takes_value || a[0] != '-' || a[1] == '-' || a[1] == 0) {
            out[i] = g_strdup(a);
            takes_value = false;
            continue;
        }
        const char *name = a + 1;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const GOptionEntry *match = NULL;
        bool short_form = false;
        for (const GOptionEntry *e = entries; e->long_name; e++) {
            if (strlen(e->long_name) == nlen && !strncmp(e->long_name, name, nlen))
                match = e;
            else if (nlen == 1 && e->short_name == name[0] && !match) {
                match = e;
                short_form = true;
            }
        }
        if (match && short_form) {
            out[i] = g_strdup(a);
            takes_value = match->arg != G_OPTION_ARG_NONE;
            if (takes_value && i + 1 >= argc)
                usage_error("%s needs a value (try --help)", a);
            continue;
        }
        if (!match) {
            if (!strcmp(a, "-h") || !strcmp(a, "-help"))
                out[i] = g_strdup("--help");
            else
                usage_error("unknown option '%s' (try --help)", a);
            continue;
        }
        out[i] = g_strconcat("-", a, NULL);
        takes_value = match->arg != G_OPTION_ARG_NONE && !eq;
        if (takes_value && i + 1 >= argc)
            usage_error("%s needs a value (try --help)", a);
    }
    return out;
}

static void print_accel_help(void)
{
    printf("Accelerators (-accel NAME):\n");
    for (const CpuBackend *const *b = cpu_backends(); *b; b++) {
        g_autofree char *info = (*b)->host_info ? (*b)->host_info() : NULL;
        printf("  %-8s %s%s%s\n", (*b)->name, (*b)->description, info ? ": " : "", info ? info : "");
    }
}

/* Named character devices from -chardev, resolved into the specs the engine opens. */
static GHashTable *chardev_specs;

static void parse_chardevs(VmConfig *cfg)
{
    chardev_specs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (char **c = opt.chardevs; c && *c; c++) {
        GError *err = NULL;
        g_autofree char *id = backend_opts_id(*c, &err);
        char *spec = id ? chardev_spec_from_opts(*c, &err) : NULL;
        if (!spec)
            usage_error("-chardev %s: %s", *c, err->message);
        if (g_str_has_prefix(spec, "spicevmc:") && !opt.spice)
            usage_error("-chardev %s: spicevmc needs -spice (the SPICE server carries the channel)", *c);
        g_hash_table_insert(chardev_specs, g_strdup(id), spec);
        /* Devices (virtio-serial ports) find it as a back end by id. */
        vm_config_add_backend(cfg, "chardev", *c);
    }
}

static char *resolve_chardev(const char *what, const char *spec)
{
    if (g_str_has_prefix(spec, "chardev:")) {
        const char *s = g_hash_table_lookup(chardev_specs, spec + 8);
        if (!s)
            usage_error("%s: no -chardev with id '%s'", what, spec + 8);
        if (g_str_has_prefix(s, "unix:") || g_str_has_prefix(s, "tcp:") || g_str_has_prefix(s, "spicevmc:") ||
            g_str_has_prefix(s, "qemu-vdagent"))
            usage_error("%s: %s chardev '%s' serves devices only (virtio-serial ports, usb-redir)", what,
                        g_str_has_prefix(s, "unix:") || g_str_has_prefix(s, "tcp:") ? "socket" : "agent", spec + 8);
        return g_strdup(s);
    }
    static const char *const ok[] = { "stdio", "mon:stdio", "null", "none" };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++)
        if (!strcmp(spec, ok[i]))
            return g_strdup(spec);
    if (g_str_has_prefix(spec, "file:") && spec[5])
        return g_strdup(spec);
    usage_error("%s %s: use stdio, file:PATH, null, none or chardev:ID", what, spec);
}

static bool parse_number(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || end == s || v > max)
        return false;
    *out = v;
    return true;
}

/* -netdev TYPE,id=ID,...: checked by the netdev kind (engine/net/), opened by the VM. */
static void parse_netdevs(VmConfig *cfg)
{
    for (char **n = opt.netdevs; n && *n; n++) {
        GError *err = NULL;
        if (!backend_spec_check("netdev", *n, &err))
            usage_error("-netdev %s: %s", *n, err->message);
        vm_config_add_backend(cfg, "netdev", *n);
    }
}

/* -nic TYPE[,model=M][,mac=A][,...]: QEMU's shorthand for a netdev with a card of its
 * own (engine/config-devices.c), added after the -device cards, as QEMU does. */
static void parse_nics(VmConfig *cfg)
{
    for (char **n = opt.nics; n && *n; n++) {
        if (strstr(*n, "model=help")) {
            printf("Network cards for model=: %s\n", vm_config_nic_models_text);
            exit(0);
        }
        GError *err = NULL;
        if (!vm_config_add_nic(cfg, *n, &err))
            usage_error("-nic %s: %s", *n, err->message);
    }
}

/* -device NAME[,PROP=VALUE...]: the class and its properties come from the device
 * registry, which checks names and values; the board creates the devices from the
 * checked specs, except these two debug devices, which it builds from the
 * configuration's fields. */
static void parse_devices(VmConfig *cfg)
{
    for (char **d = opt.devices; d && *d; d++) {
        size_t nlen = strcspn(*d, ",");
        g_autofree char *name = g_strndup(*d, nlen);
        const char *rest = (*d)[nlen] ? *d + nlen + 1 : "";
        if (!strcmp(name, "help")) {
            device_class_print_list(stdout);
            exit(0);
        }
        const DeviceClass *dc = device_class_find(name);
        if (!dc || !dc->user_creatable)
            usage_error("-device %s: unknown device '%s' (try -device help)", *d, name);
        if (!strcmp(rest, "help")) {
            device_class_print_props(dc, stdout);
            exit(0);
        }
        GError *err = NULL;
        g_autoptr(GHashTable) props = device_class_parse_opts(dc, rest, &err);
        if (!props)
            usage_error("-device %s: %s", *d, err->message);
        if (!strcmp(dc->name, "isa-debug-exit")) {
            cfg->debug_exit = true;
            cfg->debug_exit_port = (uint16_t)device_opts_get_u32(dc, props, "iobase");
        } else if (!strcmp(dc->name, "isa-debugcon")) {
            const char *chr = g_hash_table_lookup(props, "chardev");
            g_autofree char *ref = chr && strcmp(chr, "stdio") ? g_strdup_printf("chardev:%s", chr)
                                                               : g_strdup("stdio");
            g_free(cfg->debugcon);
            cfg->debugcon = resolve_chardev("-device isa-debugcon", ref);
        } else {
            if (!device_spec_check(*d, &err))
                usage_error("-device %s: %s", *d, err->message);
            g_ptr_array_add(cfg->devices, g_strdup(*d));
        }
    }
    for (char **g = opt.globals; g && *g; g++) {
        GError *err = NULL;
        if (!device_global_check(*g, &err))
            usage_error("-global %s: %s", *g, err->message);
        g_ptr_array_add(cfg->globals, g_strdup(*g));
    }
}

/* -cpu MODEL: QEMU's names (cpu/cpu-model.h); feature flags after a comma are not
 * offered yet. */
static void parse_cpu(VmConfig *cfg)
{
    if (!strcmp(opt.cpu, "help")) {
        cpu_model_print_list(stdout);
        exit(0);
    }
    if (strchr(opt.cpu, ','))
        usage_error("-cpu %s: feature flags (+feature, feature=on) are not supported; give a model name "
                    "(try -cpu help)", opt.cpu);
    GError *err = NULL;
    if (!cpu_model_find(opt.cpu, &err))
        usage_error("-cpu %s: %s", opt.cpu, err->message);
    g_free(cfg->cpu_model);
    cfg->cpu_model = g_strdup(opt.cpu);
}

static bool parse_on_off(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return true;
    }
    return false;
}

/* Splits QEMU's key=value list, where ",," stands for a comma inside a value. */
static GPtrArray *split_opts(const char *s)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
        } else if (*p == ',') {
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *p);
        }
    }
    g_ptr_array_add(parts, g_string_free(cur, FALSE));
    return parts;
}

static const char *drive_iface_name(DriveInterface iface)
{
    return iface == DRIVE_IF_FLOPPY ? "floppy" : iface == DRIVE_IF_VIRTIO ? "virtio" : "IDE";
}

static DriveConfig *parse_drive(const char *spec)
{
    DriveConfig *d = drive_config_new();
    d->iface = DRIVE_IF_IDE;
    d->media = DRIVE_MEDIA_DISK;
    d->index = -1;
    g_autoptr(GPtrArray) parts = split_opts(spec);
    for (guint i = 0; i < parts->len; i++) {
        const char *kv = g_ptr_array_index(parts, i);
        const char *eq = strchr(kv, '=');
        if (!*kv)
            continue;
        if (!eq)
            usage_error("-drive %s: '%s' is not KEY=VALUE", spec, kv);
        g_autofree char *key = g_strndup(kv, (gsize)(eq - kv));
        const char *v = eq + 1;
        unsigned long n;
        bool b;
        if (!strcmp(key, "file")) {
            g_free(d->file);
            d->file = g_strdup(v);
        } else if (!strcmp(key, "if")) {
            if (!strcmp(v, "ide"))
                d->iface = DRIVE_IF_IDE;
            else if (!strcmp(v, "floppy"))
                d->iface = DRIVE_IF_FLOPPY;
            else if (!strcmp(v, "none"))
                d->iface = DRIVE_IF_NONE;
            else if (!strcmp(v, "virtio"))
                d->iface = DRIVE_IF_VIRTIO;
            else
                usage_error("-drive %s: if=%s is not supported (use ide, floppy, virtio or none)", spec, v);
        } else if (!strcmp(key, "media")) {
            if (!strcmp(v, "disk"))
                d->media = DRIVE_MEDIA_DISK;
            else if (!strcmp(v, "cdrom"))
                d->media = DRIVE_MEDIA_CDROM;
            else
                usage_error("-drive %s: media=%s (use disk or cdrom)", spec, v);
        } else if (!strcmp(key, "format")) {
            static const char *const formats[] = { "raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx" };
            bool known = false;
            for (size_t k = 0; k < G_N_ELEMENTS(formats); k++)
                known |= !strcmp(v, formats[k]);
            if (!known)
                usage_error("-drive %s: format=%s is not supported (use raw or qcow2; vmdk, vdi, "
                            "vpc and vhdx read-only or with snapshot=on)", spec, v);
            g_free(d->format);
            d->format = g_strdup(v);
        } else if (!strcmp(key, "readonly")) {
            if (!parse_on_off(v, &b))
                usage_error("-drive %s: readonly=%s (use on or off)", spec, v);
            d->readonly = b;
        } else if (!strcmp(key, "snapshot")) {
            if (!parse_on_off(v, &b))
                usage_error("-drive %s: snapshot=%s (use on or off)", spec, v);
            d->snapshot = b;
        } else if (!strcmp(key, "index")) {
            if (!parse_number(v, VM_MAX_VIRTIO_DRIVES - 1, &n))
                usage_error("-drive %s: index=%s (0-3 for IDE, 0-1 for floppy, 0-%d for virtio)", spec, v,
                            VM_MAX_VIRTIO_DRIVES - 1);
            d->index = (int)n;
        } else if (!strcmp(key, "cache")) {
            static const char *const modes[] = { "writeback", "none", "writethrough", "directsync", "unsafe" };
            bool known = false;
            for (size_t m = 0; m < G_N_ELEMENTS(modes); m++)
                known |= !strcmp(v, modes[m]);
            if (!known)
                usage_error("-drive %s: cache=%s (use writeback, none, writethrough, directsync or unsafe)", spec, v);
            g_free(d->cache);
            d->cache = g_strdup(v);
        } else if (!strcmp(key, "file.locking") || !strcmp(key, "locking")) {
            /* QEMU's "auto" means on wherever the host has OFD locks, as here. */
            if (!strcmp(v, "auto"))
                b = true;
            else if (!parse_on_off(v, &b))
                usage_error("-drive %s: file.locking=%s (use on, off or auto)", spec, v);
            d->no_locking = !b;
        } else if (!strcmp(key, "force-share")) {
            if (!parse_on_off(v, &b))
                usage_error("-drive %s: force-share=%s (use on or off)", spec, v);
            d->force_share = b;
        } else if (!strcmp(key, "id")) {
            /* Names the drive for a device's drive= property (if=none drives). */
            if (!*v)
                usage_error("-drive %s: empty id", spec);
            g_free(d->id);
            d->id = g_strdup(v);
        } else {
            usage_error("-drive %s: unknown parameter '%s'", spec, key);
        }
    }
    if (d->iface == DRIVE_IF_NONE && (!d->id || d->index >= 0 || d->media == DRIVE_MEDIA_CDROM))
        usage_error("-drive %s: an if=none drive needs id= (for -device usb-storage,drive=ID), "
                    "and takes no index or media=cdrom", spec);
    if (d->iface == DRIVE_IF_FLOPPY && d->media == DRIVE_MEDIA_CDROM)
        usage_error("-drive %s: a floppy drive cannot hold a CD", spec);
    if (d->iface == DRIVE_IF_FLOPPY && d->index > 1)
        usage_error("-drive %s: floppy index is 0 or 1", spec);
    if (d->iface == DRIVE_IF_IDE && d->index > 3)
        usage_error("-drive %s: IDE index is 0 to 3", spec);
    if (d->iface == DRIVE_IF_VIRTIO && d->media == DRIVE_MEDIA_CDROM)
        usage_error("-drive %s: a virtio disk cannot be a CD-ROM (use if=ide for a CD)", spec);
    if (d->media == DRIVE_MEDIA_DISK && (!d->file || !*d->file))
        usage_error("-drive %s: a disk needs file=FILE", spec);
    if (d->file && !*d->file) {
        g_free(d->file);
        d->file = NULL;
    }
    if (d->media == DRIVE_MEDIA_CDROM)
        d->readonly = true;
    if (d->force_share && !d->readonly)
        usage_error("-drive %s: force-share=on needs readonly=on", spec);
    return d;
}

/* -hda..-hdd, -cdrom and -drive into cfg->drives. Their indexes must not collide with
 * each other; a library VM's drive at the same index (vm.conf, or -fda/-fdb added
 * before) gives way to the one given here. */
static void parse_drives(VmConfig *cfg)
{
    g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func((GDestroyNotify)drive_config_free);
    for (int i = 0; i < 4; i++) {
        if (!opt.hd[i])
            continue;
        DriveConfig *d = drive_config_new();
        d->file = g_strdup(opt.hd[i]);
        d->iface = DRIVE_IF_IDE;
        d->media = DRIVE_MEDIA_DISK;
        d->index = i;
        g_ptr_array_add(mine, d);
    }
    if (opt.cdrom) {
        if (opt.hd[2])
            usage_error("-cdrom and -hdc both want IDE index 2 (give one with -drive index=N)");
        DriveConfig *d = drive_config_new();
        d->file = *opt.cdrom ? g_strdup(opt.cdrom) : NULL;
        d->iface = DRIVE_IF_IDE;
        d->media = DRIVE_MEDIA_CDROM;
        d->index = 2;
        d->readonly = true;
        g_ptr_array_add(mine, d);
    }
    for (char **s = opt.drives; s && *s; s++)
        g_ptr_array_add(mine, parse_drive(*s));
    bool used[4] = { false }, floppy_used[2] = { false }, virtio_used[VM_MAX_VIRTIO_DRIVES] = { false };
    for (guint i = 0; i < mine->len; i++) {
        DriveConfig *d = g_ptr_array_index(mine, i);
        for (guint j = 0; d->id && j < i; j++) {
            const DriveConfig *o = g_ptr_array_index(mine, j);
            if (o->id && !strcmp(o->id, d->id))
                usage_error("two drives have id=%s", d->id);
        }
        if (d->index < 0 || d->iface == DRIVE_IF_NONE)
            continue;
        bool *slot = d->iface == DRIVE_IF_FLOPPY  ? &floppy_used[d->index]
                     : d->iface == DRIVE_IF_VIRTIO ? &virtio_used[d->index]
                                                   : &used[d->index];
        if (*slot)
            usage_error("two drives want %s index %d", drive_iface_name(d->iface), d->index);
        *slot = true;
    }
    for (guint i = cfg->drives->len; i-- > 0;) {
        DriveConfig *d = g_ptr_array_index(cfg->drives, i);
        if (d->index >= 0 && d->iface != DRIVE_IF_NONE &&
            (d->iface == DRIVE_IF_FLOPPY  ? floppy_used[d->index]
             : d->iface == DRIVE_IF_VIRTIO ? virtio_used[d->index]
                                           : used[d->index]))
            g_ptr_array_remove_index(cfg->drives, i);
    }
    while (mine->len)
        g_ptr_array_add(cfg->drives, g_ptr_array_steal_index(mine, 0));
    unsigned ide = 0, fd = 0, vd = 0;
    for (guint i = 0; i < cfg->drives->len; i++) {
        DriveConfig *d = g_ptr_array_index(cfg->drives, i);
        unsigned *count = d->iface == DRIVE_IF_FLOPPY ? &fd : d->iface == DRIVE_IF_VIRTIO ? &vd
                          : d->iface == DRIVE_IF_IDE  ? &ide : NULL;
        unsigned max = d->iface == DRIVE_IF_FLOPPY ? 2 : d->iface == DRIVE_IF_VIRTIO ? VM_MAX_VIRTIO_DRIVES : 4;
        if (count && ++*count > max)
            usage_error("too many %s drives (at most %u)", drive_iface_name(d->iface), max);
    }
    if (opt.snapshot)
        cfg->snapshot = true;
}

/* The configuration of a library VM (--vm NAME), or NULL without --vm. */
static VmConfig *config_from_library(void)
{
    if (!opt.vm)
        return NULL;
    g_autofree char *root = vm_library_default_root();
    GError *err = NULL;
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, opt.vm, &err);
    if (!e)
        usage_error("--vm %s: %s", opt.vm, err->message);
    if (e->error)
        usage_error("--vm %s: %s", opt.vm, e->error->message);
    return g_steal_pointer(&e->config);
}

/* Replaces a string field when the option was given. */
static void override_string(char **field, const char *value)
{
    if (value) {
        g_free(*field);
        *field = g_strdup(value);
    }
}

/* -display sdl|none; without -display or -nographic, a window when there is a screen. */
static const char *choose_display(void)
{
    if (opt.display) {
        /* QEMU's sub-options (-display sdl,gl=off) are accepted and ignored. */
        g_autofree char *kind = g_strndup(opt.display, strcspn(opt.display, ","));
        if (!strcmp(kind, "none"))
            return "none";
        if (!strcmp(kind, "sdl")) {
#ifdef HAVE_SDL2
            return "sdl";
#else
            usage_error("-display sdl: this build has no SDL2");
#endif
        }
        usage_error("-display %s: use sdl or none", opt.display);
    }
    if (opt.nographic)
        return "none";
#ifdef HAVE_SDL2
    const char *x = g_getenv("DISPLAY"), *wl = g_getenv("WAYLAND_DISPLAY");
    if ((x && *x) || (wl && *wl))
        return "sdl";
#endif
    return "none";
}

/* -boot order=DRIVES,once=DRIVES,menu=on|off or QEMU's legacy -boot DRIVES; once=
 * holds until the first reboot. */
static void parse_boot(VmConfig *cfg)
{
    if (!opt.boot)
        return;
    g_auto(GStrv) parts = g_strsplit(opt.boot, ",", -1);
    for (char **p = parts; *p; p++) {
        const char *order = NULL;
        char **target = &cfg->boot_order;
        if (g_str_has_prefix(*p, "order="))
            order = *p + 6;
        else if (g_str_has_prefix(*p, "once="))
            order = *p + 5, target = &cfg->boot_once;
        else if (!strchr(*p, '=') && p == parts)
            order = *p;
        else if (!strcmp(*p, "menu=on") || !strcmp(*p, "menu=off"))
            cfg->boot_menu = !strcmp(*p, "menu=on");
        else if (!g_str_has_prefix(*p, "splash-time=") && !g_str_has_prefix(*p, "strict="))
            usage_error("-boot %s: unknown parameter '%s' (order=DRIVES, menu=on|off)", opt.boot, *p);
        GError *why = NULL;
        if (order) {
            if (!vm_config_check_boot_order(order, &why))
                usage_error("-boot %s: %s", opt.boot, why->message);
            g_free(*target);
            *target = g_strdup(order);
        }
    }
}

/* -rtc base=utc|localtime[,clock=host][,driftfix=none|slew]: the keys QEMU users pass.
 * The clock always follows the host (clock=host); slew is QEMU's lost-tick catch-up,
 * which the RTC does not need (its updates are computed from virtual time). */
static void parse_rtc(VmConfig *cfg)
{
    if (!opt.rtc)
        return;
    g_auto(GStrv) parts = g_strsplit(opt.rtc, ",", -1);
    for (char **p = parts; *p; p++) {
        if (!strcmp(*p, "base=utc"))
            cfg->rtc_utc = true;
        else if (!strcmp(*p, "base=localtime"))
            cfg->rtc_utc = false;
        else if (strcmp(*p, "clock=host") && strcmp(*p, "driftfix=none") &&
                 strcmp(*p, "driftfix=slew"))
            usage_error("-rtc %s: '%s' is not supported (base=utc or base=localtime; "
                        "clock=host; driftfix=none or slew)", opt.rtc, *p);
    }
}

/* -k: QEMU's keymap names. QEMU needs them only where raw key positions are unknown
 * (VNC, curses); Vireo's windows send each key by its position on the keyboard, so the
 * guest's own layout setting decides the character, whatever -k says. */
static void check_keymap(void)
{
    static const char *const names[] = {
        "ar", "bepo", "cz", "da", "de", "de-ch", "en-gb", "en-us", "es", "et", "fi", "fo",
        "fr", "fr-be", "fr-ca", "fr-ch", "hr", "hu", "is", "it", "ja", "lt", "lv", "mk",
        "nl", "no", "pl", "pt", "pt-br", "ru", "sl", "sv", "th", "tr",
    };
    if (!opt.keymap)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (!strcmp(opt.keymap, names[i]))
            return;
    usage_error("-k %s: unknown keyboard layout (QEMU's names: de, en-us, fr, ...)", opt.keymap);
}

static void add_floppy(VmConfig *cfg, const char *file, int index)
{
    DriveConfig *d = drive_config_new();
    d->file = g_strdup(file);
    d->iface = DRIVE_IF_FLOPPY;
    d->media = DRIVE_MEDIA_DISK;
    d->index = index;
    g_ptr_array_add(cfg->drives, d);
}

static bool spec_is_stdio(const char *spec)
{
    return spec && (!strcmp(spec, "stdio") || !strcmp(spec, "mon:stdio"));
}

/* -monitor stdio needs the terminal to itself (QEMU refuses two users of stdio too). */
static void check_monitor(const VmConfig *cfg)
{
    if (!opt.monitor || !strcmp(opt.monitor, "none"))
        return;
    if (strcmp(opt.monitor, "stdio"))
        usage_error("-monitor %s: use stdio or none (the control socket is -qmp)", opt.monitor);
    for (unsigned i = 0; i < VM_MAX_SERIAL; i++)
        if (spec_is_stdio(cfg->serial[i]))
            usage_error("-monitor stdio: the terminal is already serial port %u's "
                        "(-nographic or -serial stdio); give the serial port -serial file:PATH "
                        "or null", i + 1);
    if (spec_is_stdio(cfg->debugcon))
        usage_error("-monitor stdio: the terminal is already the debug console's");
}

/* -audiodev TYPE,id=ID,...: checked here, opened by the VM before its board. */
static void parse_audiodevs(VmConfig *cfg)
{
    for (char **a = opt.audiodevs; a && *a; a++) {
        GError *err = NULL;
        if (!backend_spec_check("audiodev", *a, &err))
            usage_error("-audiodev %s: %s", *a, err->message);
        g_autofree char *id = backend_opts_id(*a, NULL);
        for (char **b = opt.audiodevs; b < a; b++) {
            g_autofree char *other = backend_opts_id(*b, NULL);
            if (!strcmp(id, other))
                usage_error("-audiodev %s: id '%s' is used twice", *a, id);
        }
        vm_config_add_backend(cfg, "audiodev", *a);
    }
}

/* on/off and QEMU's other spellings of a switch: 1, 0, or -1 for none of them. */
static int parse_switch(const char *v)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
        return 0;
    return -1;
}

/* -machine [type=]TYPE[,usb=on|off][,hpet=on|off][,pcspk-audiodev=ID]: the board's name
 * (NULL: not given) and the options QEMU's pc takes that Vireo's board has: the USB and
 * HPET switches (*usb, *hpet: 1 on, 0 off, untouched when not given) and the audiodev of
 * the board's own speaker (a global isa-pcspk.audiodev). */
static char *parse_machine(const char *spec, GPtrArray *extra_globals, int *usb, int *hpet)
{
    g_autoptr(GPtrArray) parts = split_opts(spec);
    char *type = NULL;
    for (guint i = 0; i < parts->len; i++) {
        const char *kv = parts->pdata[i];
        const char *eq = strchr(kv, '=');
        if (!eq && i == 0) {
            type = g_strdup(kv);
        } else if (g_str_has_prefix(kv, "type=")) {
            g_free(type);
            type = g_strdup(kv + 5);
        } else if (g_str_has_prefix(kv, "pcspk-audiodev=") && kv[15]) {
            g_ptr_array_add(extra_globals, g_strdup_printf("isa-pcspk.audiodev=%s", kv + 15));
        } else if (g_str_has_prefix(kv, "usb=") || g_str_has_prefix(kv, "hpet=")) {
            int v = parse_switch(eq + 1);
            if (v < 0)
                usage_error("-machine %s: %s: expected on or off", spec, kv);
            *(kv[0] == 'u' ? usb : hpet) = v;
        } else {
            usage_error("-machine %s: unknown option '%s' (type=, usb=on|off, hpet=on|off, pcspk-audiodev=ID)", spec, kv);
        }
    }
    if (type && !*type)
        usage_error("-machine %s: which board? (pc)", spec);
    return type;
}

/* -usbdevice NAME: QEMU's older spelling of -device usb-NAME for the HID devices. */
static void parse_usbdevices(VmConfig *cfg)
{
    static const struct { const char *name, *driver; } map[] = {
        { "tablet", "usb-tablet" }, { "mouse", "usb-mouse" }, { "keyboard", "usb-kbd" },
    };
    for (char **u = opt.usbdevices; u && *u; u++) {
        const char *driver = NULL;
        for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
            if (!strcmp(*u, map[i].name))
                driver = map[i].driver;
        if (!driver)
            usage_error("-usbdevice %s: expected tablet, mouse or keyboard (others: -device)", *u);
        g_ptr_array_add(cfg->devices, g_strdup(driver));
    }
}

static VmConfig *config_from_options(void)
{
    if (opt.enable_kvm) {
        if (opt.accel && strcmp(opt.accel, "kvm") && !g_str_has_prefix(opt.accel, "kvm,"))
            usage_error("-enable-kvm and -accel %s ask for different CPU back ends", opt.accel);
        if (!opt.accel)
            opt.accel = g_strdup("kvm");
    }
    check_keymap();
    g_autoptr(GPtrArray) machine_globals = g_ptr_array_new_with_free_func(g_free);
    int usb = -1, hpet = -1;
    if (opt.machine) {
        char *type = parse_machine(opt.machine, machine_globals, &usb, &hpet);
        g_free(opt.machine);
        opt.machine = type;
    }
    if (opt.usb)
        usb = 1;
    VmConfig *cfg = config_from_library();
    if (cfg) {
        override_string(&cfg->name, opt.name);
        override_string(&cfg->machine, opt.machine);
        override_string(&cfg->accel, opt.accel);
        override_string(&cfg->bios, opt.bios);
        override_string(&cfg->kernel, opt.kernel);
        override_string(&cfg->initrd, opt.initrd);
        override_string(&cfg->append, opt.append);
    } else {
        cfg = vm_config_new();
        cfg->name = g_strdup(opt.name ? opt.name : "vireo");
        cfg->machine = g_strdup(opt.machine ? opt.machine : "pc");
        cfg->ram_size = UINT64_C(128) << 20;
        cfg->accel = g_strdup(opt.accel ? opt.accel : "kvm:tcg");
        cfg->bios = g_strdup(opt.bios);
        cfg->kernel = g_strdup(opt.kernel);
        cfg->initrd = g_strdup(opt.initrd);
        cfg->append = g_strdup(opt.append);
    }
    /* The limits are vm.conf's too (config.h): one check for both. */
    GError *why = NULL;
    if (opt.memory) {
        const char *m = opt.memory;
        if (g_str_has_prefix(m, "size="))
            m += 5;
        if (!vm_config_parse_ram(m, &cfg->ram_size, &why))
            usage_error("-m %s: %s", opt.memory, why->message);
    }
    if (opt.smp && !vm_config_parse_smp(opt.smp, &cfg->smp, &cfg->topo, &why))
        usage_error("-smp %s: %s", opt.smp, why->message);
    if (!cfg->smp)
        cfg->smp = 1;
    cfg->nographic = opt.nographic;
    cfg->no_reboot = opt.no_reboot;
    cfg->no_shutdown = opt.no_shutdown;
    override_string(&cfg->display, choose_display());
    if (opt.vga && strcmp(opt.vga, "std") && strcmp(opt.vga, "cirrus") && strcmp(opt.vga, "virtio") &&
        strcmp(opt.vga, "none"))
        usage_error("-vga %s: use std, cirrus, virtio or none", opt.vga);
    /* The library VM's display adapter stays unless -vga is given. */
    if (opt.vga || !cfg->vga)
        override_string(&cfg->vga, opt.vga ? opt.vga : "std");
    override_string(&cfg->qmp, opt.qmp);

    parse_chardevs(cfg);
    unsigned nserial = opt.serial ? g_strv_length(opt.serial) : 0;
    if (nserial > VM_MAX_SERIAL)
        usage_error("-serial: at most %d serial ports", VM_MAX_SERIAL);
    for (unsigned i = 0; i < nserial; i++) {
        char *spec = resolve_chardev("-serial", opt.serial[i]);
        g_free(cfg->serial[i]);
        cfg->serial[i] = NULL;
        if (!strcmp(spec, "none"))
            g_free(spec);
        else
            cfg->serial[i] = spec;
    }
    /* As on QEMU's PC, COM1 exists unless -serial none: on this terminal with
     * -nographic, otherwise where a library VM's vm.conf says, or on a null device. */
    if (nserial == 0 && (opt.nographic || !cfg->serial[0]))
        override_string(&cfg->serial[0], opt.nographic ? "mon:stdio" : "null");
    if (opt.debugcon)
        cfg->debugcon = resolve_chardev("-debugcon", opt.debugcon);
    parse_netdevs(cfg);
    parse_audiodevs(cfg);
    for (guint i = 0; i < machine_globals->len; i++) {
        const char *want = strchr(machine_globals->pdata[i], '=') + 1;
        bool found = false;
        for (char **a = opt.audiodevs; a && *a && !found; a++) {
            g_autofree char *id = backend_opts_id(*a, NULL);
            found = !strcmp(id, want);
        }
        if (!found)
            usage_error("-machine pcspk-audiodev=%s: no -audiodev with id=%s", want, want);
        g_ptr_array_add(cfg->globals, g_strdup(machine_globals->pdata[i]));
    }
    if (usb >= 0)
        cfg->no_usb = !usb;
    if (opt.no_hpet)
        hpet = 0;
    if (hpet >= 0)
        cfg->no_hpet = !hpet;
    parse_devices(cfg);
    if (!strcmp(cfg->display, "sdl") && !strcmp(cfg->vga, "none")) {
        bool adapter = false;
        for (guint i = 0; i < cfg->devices->len; i++)
            adapter |= g_str_has_prefix(g_ptr_array_index(cfg->devices, i), "cirrus-vga") ||
                       g_str_has_prefix(g_ptr_array_index(cfg->devices, i), "virtio-gpu-pci") ||
                       g_str_has_prefix(g_ptr_array_index(cfg->devices, i), "virtio-vga");
        if (!adapter)
            usage_error("-display sdl needs a display adapter (drop -vga none)");
    }
    parse_usbdevices(cfg);
    if (opt.cpu)
        parse_cpu(cfg);
    parse_nics(cfg);
    if (opt.fda)
        add_floppy(cfg, opt.fda, 0);
    if (opt.fdb)
        add_floppy(cfg, opt.fdb, 1);
    parse_drives(cfg);
    parse_boot(cfg);
    parse_rtc(cfg);
    check_monitor(cfg);
    return cfg;
}

/* -gdb without -accel: the accelerators in the list that a debugger can use (kvm
 * cannot yet), or tcg when none is left. */
static void keep_debuggable_accels(VmConfig *cfg)
{
    g_auto(GStrv) names = g_strsplit(cfg->accel ? cfg->accel : "", ":", -1);
    g_autoptr(GString) kept = g_string_new(NULL);
    for (char **n = names; *n; n++) {
        g_autofree char *name = g_strndup(*n, strcspn(*n, ","));
        const CpuBackend *b = cpu_backend_find(name);
        if (b && b->debug)
            g_string_append_printf(kept, "%s%s", kept->len ? ":" : "", *n);
    }
    g_free(cfg->accel);
    cfg->accel = g_strdup(kept->len ? kept->str : "tcg");
}

static void print_progress(void *opaque, double pct)
{
    (void)opaque;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r    (%.2f/100%%)", pct);
}

/* --snapshot-*: one operation on the library VM's snapshot tree, then exit (0 done,
 * 1 refused or failed, 2 bad usage). */
static int snapshot_tree_command(void)
{
    int ops = !!opt.tree_list + !!opt.tree_take + !!opt.tree_revert + !!opt.tree_delete + !!opt.tree_set;
    if (ops > 1)
        usage_error("give one of --snapshot-list, -take, -revert, -delete, -set");
    if (!opt.vm)
        usage_error("--snapshot-* options need --vm NAME");
    if ((opt.tree_name && !opt.tree_set) || (opt.tree_description && !opt.tree_set && !opt.tree_take))
        usage_error("--snapshot-name goes with --snapshot-set, --snapshot-description with -take or -set");
    g_autofree char *root = vm_library_default_root();
    GError *err = NULL;
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, opt.vm, &err);
    if (!e)
        usage_error("--vm %s: %s", opt.vm, err->message);
    bool ok = true;
    if (opt.tree_list) {
        g_autoptr(GPtrArray) list = snaptree_list(e->dir, &err);
        ok = list != NULL;
        for (guint i = 0; ok && i < list->len; i++) {
            SnapTreeNode *n = list->pdata[i];
            g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(n->created);
            g_autofree char *date = dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
            printf("%s %s  %s  %-9s %*s%s%s\n", n->current ? "*" : " ", n->id, date,
                   n->has_state ? "running" : "disk-only", (int)n->depth * 2, "", n->name,
                   n->current ? "  <- you are here" : "");
        }
        uint64_t changed = 0;
        if (ok && list->len && snaptree_current_changes(e->dir, &changed, NULL)) {
            g_autofree char *size = g_format_size_full(changed, G_FORMAT_SIZE_IEC_UNITS);
            fprintf(stderr, "%s written to the disks since the last take or revert (a revert throws it away)\n", size);
        }
    } else if (opt.tree_take) {
        g_autofree char *id = snaptree_take(e->dir, opt.tree_take, opt.tree_description, &err);
        ok = id != NULL;
        if (ok)
            printf("%s\n", id);
    } else {
        const char *key = opt.tree_revert ? opt.tree_revert : opt.tree_delete ? opt.tree_delete : opt.tree_set;
        g_autofree char *id = snaptree_resolve(e->dir, key, &err);
        ok = id != NULL;
        if (ok && opt.tree_revert)
            ok = snaptree_revert(e->dir, id, &err);
        else if (ok && opt.tree_delete) {
            ok = snaptree_delete(e->dir, id, print_progress, NULL, &err);
            if (isatty(STDERR_FILENO))
                fprintf(stderr, "\n");
        } else if (ok)
            ok = snaptree_set_info(e->dir, id, opt.tree_name, opt.tree_description, &err);
    }
    if (!ok) {
        fprintf(stderr, "vireo-run: --vm %s: %s\n", opt.vm, err->message);
        g_error_free(err);
        return 1;
    }
    return 0;
}

typedef struct RunState {
    GMainLoop *loop;
    Vm *vm;
    int exit_code;
} RunState;

static void on_state(Vm *vm, VmState state, void *data)
{
    RunState *rs = data;
    if (state == VM_STATE_SHUTDOWN) {
        int st = vm_exit_status(vm);
        rs->exit_code = st >= 0 ? st : 0;
        g_main_loop_quit(rs->loop);
    } else if (state == VM_STATE_ERROR) {
        fprintf(stderr, "vireo-run: %s\n", vm_error(vm) ? vm_error(vm) : "the VM stopped with an error");
        rs->exit_code = 1;
        g_main_loop_quit(rs->loop);
    }
}

static gboolean on_signal(gpointer data)
{
    RunState *rs = data;
    fprintf(stderr, "vireo-run: terminating on signal\n");
    rs->exit_code = 0;
    g_main_loop_quit(rs->loop);
    return G_SOURCE_CONTINUE;
}

static void on_quit_request(void *data)
{
    RunState *rs = data;
    rs->exit_code = 0;
    g_main_loop_quit(rs->loop);
}

static void on_quit_key(void *data)
{
    RunState *rs = data;
    fprintf(stderr, "\r\nvireo-run: terminated (Ctrl+A X)\r\n");
    rs->exit_code = 0;
    g_main_loop_quit(rs->loop);
}

/* --import and --export-libvirt: library work, no VM runs. */
static int transfer(void)
{
    g_autofree char *root = vm_library_default_root();
    GError *err = NULL;
    if (opt.import && opt.export_libvirt)
        usage_error("--import and --export-libvirt: one at a time");
    if (opt.import) {
        g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *name = vm_library_import(root, opt.import, opt.name, notes, &err);
        if (!name) {
            fprintf(stderr, "vireo-run: --import: %s\n", err->message);
            g_error_free(err);
            return 1;
        }
        for (guint i = 0; i < notes->len; i++)
            printf("note: %s\n", (const char *)notes->pdata[i]);
        printf("Imported '%s' into the library (run it with vireo-run --vm '%s')\n", name, name);
        return 0;
    }
    if (!opt.vm)
        usage_error("--export-libvirt needs --vm NAME (the library VM to export)");
    g_autofree char *xml = vm_library_export_libvirt(root, opt.vm, opt.export_libvirt, NULL, NULL,
                                                     NULL, &err);
    if (!xml) {
        fprintf(stderr, "vireo-run: --export-libvirt: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    printf("%s\n", xml);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    /* parse_strv frees what it consumes from a GStrv it owns, leaving the rest. */
    g_auto(GStrv) args = rewrite_args(argc, argv);
    g_autoptr(GOptionContext) ctx = g_option_context_new("- run a virtual PC");
    g_option_context_set_summary(ctx,
        "Options take QEMU's spellings with one dash (-m 512M -nographic) or two.\n"
        "In -nographic mode, Ctrl+A X quits and Ctrl+A H lists the other keys.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse_strv(ctx, &args, &err))
        usage_error("%s", err->message);
    /* As QEMU, a bare file name is the first hard disk. */
    if (g_strv_length(args) > 2)
        usage_error("unexpected argument '%s'", args[2]);
    if (g_strv_length(args) == 2) {
        if (opt.hd[0])
            usage_error("unexpected argument '%s' (-hda is given)", args[1]);
        opt.hd[0] = g_strdup(args[1]);
    }

    if (opt.version) {
        printf("vireo-run %s\n", VIREO_VERSION);
        return 0;
    }
    if (opt.accel && !strcmp(opt.accel, "help")) {
        print_accel_help();
        return 0;
    }
    if (opt.machine && !strcmp(opt.machine, "help")) {
        printf("Machines (-machine):\n  pc       Standard PC (i440FX + PIIX3, SeaBIOS)\n"
               "  isapc    ISA-only PC (no PCI: ISA IDE, ISA VGA; SeaBIOS)\n");
        return 0;
    }
    if (opt.log_areas) {
        if (!strcmp(opt.log_areas, "help")) {
            vlog_print_areas(stdout);
            return 0;
        }
        if (!vlog_set_areas(opt.log_areas, &err))
            usage_error("%s", err->message);
    }
    if (opt.log_file && !vlog_set_file(opt.log_file, &err))
        usage_error("%s", err->message);

    if (opt.import || opt.export_libvirt)
        return transfer();
    if (opt.tree_list || opt.tree_take || opt.tree_revert || opt.tree_delete || opt.tree_set ||
        opt.tree_name || opt.tree_description)
        return snapshot_tree_command();

    g_autoptr(VmConfig) cfg = config_from_options();
    const char *gdb_spec = opt.gdb ? opt.gdb : opt.gdb_default ? "tcp::1234" : NULL;
    if (gdb_spec && !opt.accel)
        keep_debuggable_accels(cfg);
    if (opt.print_qemu) {
        g_autofree char *line = qemu_command_line(cfg);
        printf("%s\n", line);
        return 0;
    }
    /* Static: an option error below exits with the store still reachable. */
    static SecretStore *secrets;
    secrets = secret_store_new();
    for (char **o = opt.objects; o && *o; o++)
        if (!secret_store_add(secrets, *o, &err))
            usage_error("-object: %s", err->message);
#ifdef HAVE_SPICE
    SpiceOptions spice_opts = { 0 };
    if (opt.spice && !spice_options_parse(opt.spice, &spice_opts, &err))
        usage_error("-spice: %s", err->message);
    if (spice_opts.password_secret) {
        const char *pw = secret_store_lookup(secrets, spice_opts.password_secret);
        if (!pw)
            usage_error("-spice: password-secret=%s: no -object secret,id=%s was given", spice_opts.password_secret,
                        spice_opts.password_secret);
        spice_opts.password = g_strdup(pw);
    }
#else
    if (opt.spice)
        usage_error("-spice: this build has no SPICE server (libspice-server-dev)");
#endif
    g_clear_pointer(&secrets, secret_store_free);
    Vm *vm = vm_new(cfg, &err);
    if (!vm) {
        fprintf(stderr, "vireo-run: %s\n", err->message);
        chardev_restore_terminal();
        return err->code == VIREO_ERROR_INVALID ? EXIT_USAGE : 1;
    }

    RunState rs = { g_main_loop_new(NULL, FALSE), vm, 0 };
    vm_add_state_listener(vm, on_state, &rs);
    g_unix_signal_add(SIGINT, on_signal, &rs);
    g_unix_signal_add(SIGTERM, on_signal, &rs);
    g_unix_signal_add(SIGHUP, on_signal, &rs);
    for (unsigned i = 0; i < VM_MAX_SERIAL; i++)
        if (chardev_is_stdio(vm_serial_chardev(vm, i)))
            chardev_set_quit_handler(vm_serial_chardev(vm, i), on_quit_key, &rs);

    QmpServer *qmp = NULL;
    if (cfg->qmp) {
        qmp = qmp_server_new(vm, cfg->qmp, &err);
        if (!qmp) {
            fprintf(stderr, "vireo-run: %s\n", err->message);
            vm_free(vm);
            return EXIT_USAGE;
        }
        qmp_server_set_quit_handler(qmp, on_quit_request, &rs);
    }
    GdbServer *gdb = NULL;
    if (gdb_spec) {
        gdb = gdb_server_new(vm, gdb_spec, &err);
        if (!gdb) {
            fprintf(stderr, "vireo-run: %s\n", err->message);
            int status = err->code == VIREO_ERROR_INVALID ? EXIT_USAGE : 1;
            g_error_free(err);
            qmp_server_free(qmp);
            vm_free(vm);
            chardev_restore_terminal();
            g_main_loop_unref(rs.loop);
            return status;
        }
        gdb_server_set_quit_handler(gdb, on_quit_request, &rs);
    }
    MonitorStdio *monitor = NULL;
    if (opt.monitor && !strcmp(opt.monitor, "stdio"))
        monitor = monitor_stdio_new(vm, on_quit_request, &rs);
#ifdef HAVE_SDL2
    SdlDisplay *sdl = NULL;
    if (!strcmp(cfg->display, "sdl")) {
        sdl = sdl_display_new(vm, &err);
        if (!sdl && !opt.display) {
            /* A window was only the default: run headless rather than not at all. */
            fprintf(stderr, "vireo-run: no window (%s); running without a display\n", err->message);
            g_clear_error(&err);
        } else if (!sdl) {
            fprintf(stderr, "vireo-run: %s\n", err->message);
            gdb_server_free(gdb);
            qmp_server_free(qmp);
            vm_free(vm);
            return 1;
        } else {
            sdl_display_set_close_handler(sdl, on_quit_request, &rs);
        }
    }
#endif

#ifdef HAVE_SPICE
    SpiceDisplay *spice = NULL;
    if (opt.spice) {
        spice = spice_display_new(vm, &spice_opts, &err);
        spice_options_clear(&spice_opts);
        if (!spice) {
            fprintf(stderr, "vireo-run: -spice: %s\n", err->message);
            gdb_server_free(gdb);
            qmp_server_free(qmp);
            vm_free(vm);
            chardev_restore_terminal();
            return 1;
        }
    }
#endif

    /* -loadvm: powered on paused, the snapshot loaded, then run (or left paused with -S). */
    bool started = true;
    g_autofree char *pending = NULL;
    if (opt.loadvm) {
        if (!vm_start_paused(vm, &err) || !vm_snapshot_load(vm, opt.loadvm, &err)) {
            g_prefix_error(&err, "-loadvm %s: ", opt.loadvm);
            started = false;
        } else if (!opt.start_paused) {
            vm_resume(vm);
        }
    } else if (opt.start_paused && cfg->vm_dir && (pending = snaptree_pending_state(cfg->vm_dir, &err)) != NULL) {
        /* The snapshot tree went back to a running snapshot: the VM resumes it (paused
         * here for -S; vm_start does the same for a VM that runs at once). */
        bool loaded;
        if (!vm_start_paused(vm, &err) || !vm_snaptree_resume_pending(vm, &loaded, &err)) {
            g_prefix_error(&err, "resuming the snapshot's VM state: ");
            started = false;
        } else if (!opt.start_paused) {
            vm_resume(vm);
        }
    } else if (err) {
        started = false;
    } else if (!opt.start_paused) {
        /* -S leaves the VM created but stopped until a control client continues it. */
        started = vm_start(vm, &err);
    } else if (gdb) {
        /* With gdb, powered on at the reset vector and paused: what gdb reads and
         * changes before it continues is what runs. */
        started = vm_start_paused(vm, &err);
    }
    if (!started) {
        fprintf(stderr, "vireo-run: %s\n", err->message);
        rs.exit_code = 1;
    } else {
        g_main_loop_run(rs.loop);
    }
#ifdef HAVE_SDL2
    sdl_display_free(sdl);
#endif
#ifdef HAVE_SPICE
    spice_display_free(spice);
#endif
    gdb_server_free(gdb);
    monitor_stdio_free(monitor);
    qmp_server_free(qmp);
    vm_free(vm);
    chardev_restore_terminal();
    g_main_loop_unref(rs.loop);
    return rs.exit_code;
}
