/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vm.conf <-> VmConfig. Every bad value is reported as one line that names the file,
 * the key and the value, and says what would be accepted. */
#include "engine/vmconf.h"
#include "engine/regfile.h"
#include "cpu/cpu-model.h"
#include "engine/backend.h"
#include "engine/device.h"

#include <errno.h>
#include <string.h>

/* A VM description is a few hundred bytes; anything near this is not one. */
#define VMCONF_MAX_SIZE ((size_t)1 << 20)

static const VmconfDriveSlot drive_slots[] = {
    { "hda", DRIVE_IF_IDE, DRIVE_MEDIA_DISK, 0, false },
    { "hdb", DRIVE_IF_IDE, DRIVE_MEDIA_DISK, 1, false },
    { "cdrom", DRIVE_IF_IDE, DRIVE_MEDIA_CDROM, 2, true },
    { "hdd", DRIVE_IF_IDE, DRIVE_MEDIA_DISK, 3, false },
    { "fda", DRIVE_IF_FLOPPY, DRIVE_MEDIA_DISK, 0, true },
    { "fdb", DRIVE_IF_FLOPPY, DRIVE_MEDIA_DISK, 1, true },
    /* virtio-blk disks, named as a Linux guest names them. */
    { "vda", DRIVE_IF_VIRTIO, DRIVE_MEDIA_DISK, 0, false },
    { "vdb", DRIVE_IF_VIRTIO, DRIVE_MEDIA_DISK, 1, false },
    { "vdc", DRIVE_IF_VIRTIO, DRIVE_MEDIA_DISK, 2, false },
    { "vdd", DRIVE_IF_VIRTIO, DRIVE_MEDIA_DISK, 3, false },
};

/* Keys of [vm]; anything else there is a typo the user should hear about. */
static const char *const vm_keys[] = {
    "os-id", "os-name", "memory", "cpus", "sockets", "cores", "threads", "cpu-model", "machine", "accel", "firmware", "display",
    "boot", "boot-menu", "boot-disk", "kernel", "initrd", "append", "serial", "rtc", "network", "sound", "audio-backend", "microphone", "clipboard", NULL,
};

const VmconfDriveSlot *vmconf_drive_slots(size_t *count)
{
    *count = G_N_ELEMENTS(drive_slots);
    return drive_slots;
}

const VmconfDriveSlot *vmconf_drive_slot_find(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(drive_slots); i++)
        if (!strcmp(drive_slots[i].key, key))
            return &drive_slots[i];
    return NULL;
}

GKeyFile *vmconf_new(void)
{
    GKeyFile *kf = g_key_file_new();
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "memory", "256M");
    g_key_file_set_integer(kf, VMCONF_GROUP_VM, "cpus", 1);
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "machine", "pc");
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "firmware", "seabios");
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "display", "std");
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "boot", "cda");
    return kf;
}

char *vmconf_resolve_path(const char *dir, const char *value)
{
    if (!value || !*value)
        return NULL;
    if (g_path_is_absolute(value) || !dir)
        return g_strdup(value);
    return g_build_filename(dir, value, NULL);
}

typedef struct Parser {
    GKeyFile *kf;
    const char *dir;
    char *file;        /* for error messages */
    GError **err;
} Parser;

static G_GNUC_PRINTF(5, 6) bool bad_value(Parser *p, const char *group, const char *key,
                                          const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *shown = config_shorten(value, CONFIG_QUOTE_MAX);
    g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: [%s] %s=%s: %s", p->file,
                group, key, shown, why);
    return false;
}

/* bad_value with the reason from a shared check (config.h), which it frees. */
static bool bad_reason(Parser *p, const char *group, const char *key, const char *value, GError *why)
{
    bad_value(p, group, key, value, "%s", why->message);
    g_error_free(why);
    return false;
}

/* The value of a key, or NULL when the key is absent; whitespace around it is dropped. */
static char *get_value(Parser *p, const char *group, const char *key)
{
    char *v = g_key_file_get_string(p->kf, group, key, NULL);
    return v ? g_strstrip(v) : NULL;
}

/* A path key: resolved against the VM folder, and the file must exist. */
static bool get_existing_file(Parser *p, const char *group, const char *key, char **out)
{
    g_autofree char *v = get_value(p, group, key);
    *out = NULL;
    if (!v || !*v)
        return true;
    g_autofree char *path = vmconf_resolve_path(p->dir, v);
    /* The path holds the value: it is shortened too, with room for the folder. */
    g_autofree char *shown = config_shorten(path, CONFIG_QUOTE_MAX + 200);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_autofree char *value = config_shorten(v, CONFIG_QUOTE_MAX);
        g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                    "%s: [%s] %s=%s: the file %s does not exist (fix the path or remove the key)",
                    p->file, group, key, value, shown);
        return false;
    }
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
        return bad_value(p, group, key, v, "%s is a folder, not a file", shown);
    *out = g_steal_pointer(&path);
    return true;
}

static bool check_known_keys(Parser *p, const char *group, bool (*known)(const char *key))
{
    g_auto(GStrv) keys = g_key_file_get_keys(p->kf, group, NULL, NULL);
    for (char **k = keys; k && *k; k++) {
        if (!known(*k)) {
            g_autofree char *shown = config_shorten(*k, CONFIG_QUOTE_MAX);
            g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: [%s] %s: unknown key (misspelt? see the README's vm.conf keys)",
                        p->file, group, shown);
            return false;
        }
    }
    return true;
}

static bool is_path_key(const char *group, const char *key)
{
    static const char *const vm_paths[] = { "firmware", "kernel", "initrd", "serial", NULL };
    return !strcmp(group, VMCONF_GROUP_DRIVES) || g_strv_contains(vm_paths, key);
}

/* GKeyFile returns no string for a value that is not UTF-8, exactly as for a missing
 * key: hda=<ff fe>.img would boot without its disk. Every key and value of the group is
 * checked first, so such a value is an error that names its key. */
static bool check_utf8(Parser *p, const char *group)
{
    g_auto(GStrv) keys = g_key_file_get_keys(p->kf, group, NULL, NULL);
    for (char **k = keys; k && *k; k++) {
        g_autofree char *key = config_shorten(*k, CONFIG_QUOTE_MAX);
        if (!g_utf8_validate(*k, -1, NULL)) {
            g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: [%s] %s: the key name is not valid UTF-8 (vm.conf is UTF-8 text)",
                        p->file, group, key);
            return false;
        }
        g_autofree char *raw = g_key_file_get_value(p->kf, group, *k, NULL);
        if (raw && !g_utf8_validate(raw, -1, NULL))
            return bad_value(p, group, key, raw, "the value is not valid UTF-8 (vm.conf is UTF-8 text%s)",
                             is_path_key(group, *k) ? "; a file whose name is in another encoding "
                                                      "must be renamed" : "");
    }
    return true;
}

static bool is_vm_key(const char *key)
{
    return g_strv_contains(vm_keys, key);
}

static bool is_network_key(const char *key)
{
    return !strcmp(key, VMCONF_KEY_FORWARD);
}

static bool is_drive_key(const char *key)
{
    return vmconf_drive_slot_find(key) != NULL;
}

/* cpus= with the topology as its own keys (sockets=, cores=, threads=, what the app
 * writes) or in -smp's form inside cpus=; not both, so no two places disagree. Each
 * key's value is checked on its own line first, then the whole as -smp checks it. */
static bool parse_topology(Parser *p, const char *cpus, VmConfig *cfg)
{
    const char *g = VMCONF_GROUP_VM;
    static const char *const keys[] = { "sockets", "cores", "threads" };
    GError *why = NULL;
    g_autoptr(GString) smp = g_string_new(cpus ? cpus : "");
    g_autoptr(GString) shown = g_string_new(NULL);
    if (cpus)
        g_string_append_printf(shown, "cpus=%s", cpus);
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_autofree char *v = get_value(p, g, keys[i]);
        if (!v)
            continue;
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < 1 || n > VM_CPUS_MAX)
            return bad_value(p, g, keys[i], v, "%s must be a number from 1 to %d", keys[i], VM_CPUS_MAX);
        if (cpus && strpbrk(cpus, ",="))
            return bad_value(p, g, keys[i], v,
                             "cpus=%s gives the topology already: keep it there or in sockets, cores "
                             "and threads, not both", cpus);
        g_string_append_printf(smp, "%s%s=%ld", smp->len ? "," : "", keys[i], n);
        g_string_append_printf(shown, "%s%s=%ld", shown->len ? ", " : "", keys[i], n);
    }
    if (!smp->len)
        return true;
    if (vm_config_parse_smp(smp->str, &cfg->smp, &cfg->topo, &why))
        return true;
    /* A count the keys do not multiply to (or split) is named with all of them. */
    g_autofree char *q = config_shorten(shown->str, CONFIG_QUOTE_MAX);
    g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: [%s] %s: %s", p->file, g, q, why->message);
    g_error_free(why);
    return false;
}

static bool parse_vm_group(Parser *p, VmConfig *cfg)
{
    const char *g = VMCONF_GROUP_VM;
    if (!g_key_file_has_group(p->kf, g)) {
        g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%s: no [vm] group: this is not a Vireo VM description", p->file);
        return false;
    }
    if (!check_utf8(p, g) || !check_known_keys(p, g, is_vm_key))
        return false;

    /* The limits are vireo-run's: what passes here, the engine runs. */
    GError *why = NULL;
    g_autofree char *mem = get_value(p, g, "memory");
    cfg->ram_size = UINT64_C(256) << 20;
    if (mem && !vm_config_parse_ram(mem, &cfg->ram_size, &why))
        return bad_reason(p, g, "memory", mem, why);

    g_autofree char *cpus = get_value(p, g, "cpus");
    cfg->smp = 1;
    if (!parse_topology(p, cpus, cfg))
        return false;

    g_autofree char *machine = get_value(p, g, "machine");
    if (machine && strcmp(machine, "pc") && strcmp(machine, "isapc"))
        return bad_value(p, g, "machine", machine, "the boards are 'pc' and 'isapc'");
    cfg->machine = g_strdup(machine ? machine : "pc");

    g_autofree char *accel = get_value(p, g, "accel");
    if (accel) {
        g_auto(GStrv) names = g_strsplit(accel, ":", -1);
        for (char **n = names; *n; n++) {
            g_autofree char *base = g_strndup(*n, strcspn(*n, ","));
            if (strcmp(base, "kvm") && strcmp(base, "tcg") && strcmp(base, "interp"))
                return bad_value(p, g, "accel", accel,
                                 "use kvm, tcg or interp, or a list such as kvm:tcg");
        }
    }
    cfg->accel = g_strdup(accel && *accel ? accel : "kvm:tcg");

    g_autofree char *fw = get_value(p, g, "firmware");
    if (fw && *fw && strcmp(fw, "seabios")) {
        if (!get_existing_file(p, g, "firmware", &cfg->bios))
            return false;
    }

    g_autofree char *display = get_value(p, g, "display");
    if (display && strcmp(display, "std") && strcmp(display, "cirrus") && strcmp(display, "virtio") &&
        strcmp(display, "none"))
        return bad_value(p, g, "display", display, "the display adapter is std, cirrus, virtio or none");
    cfg->vga = g_strdup(display ? display : "std");

    g_autofree char *boot = get_value(p, g, "boot");
    if (boot) {
        if (!vm_config_check_boot_order(boot, &why))
            return bad_reason(p, g, "boot", boot, why);
        cfg->boot_order = g_strdup(boot);
    }

    g_autofree char *model = get_value(p, g, "cpu-model");
    if (model && *model) {
        GError *model_err = NULL;
        if (!cpu_model_find(model, &model_err))
            return bad_reason(p, g, "cpu-model", model, model_err);
        cfg->cpu_model = g_strdup(model);
    }

    g_autofree char *menu = get_value(p, g, "boot-menu");
    if (menu) {
        GError *local = NULL;
        cfg->boot_menu = g_key_file_get_boolean(p->kf, g, "boot-menu", &local);
        if (local) {
            g_error_free(local);
            return bad_value(p, g, "boot-menu", menu, "use true or false");
        }
    }

    if (!get_existing_file(p, g, "kernel", &cfg->kernel) ||
        !get_existing_file(p, g, "initrd", &cfg->initrd))
        return false;
    if (cfg->initrd && !cfg->kernel) {
        g_autofree char *initrd = get_value(p, g, "initrd");
        return bad_value(p, g, "initrd", initrd, "an initrd needs a kernel= key as well");
    }
    /* COM1 without a terminal: nowhere, or a file that keeps what the guest wrote. */
    g_autofree char *serial = get_value(p, g, "serial");
    if (serial && *serial) {
        if (!strcmp(serial, "null") || !strcmp(serial, "none")) {
            cfg->serial[0] = g_strdup(serial);
        } else if (g_str_has_prefix(serial, "file:") && serial[5]) {
            g_autofree char *path = vmconf_resolve_path(p->dir, serial + 5);
            cfg->serial[0] = g_strdup_printf("file:%s", path);
        } else {
            return bad_value(p, g, "serial", serial, "COM1 goes to null, none or file:PATH");
        }
    }
    /* Where the RTC starts, as vireo-run's -rtc base= (local time unless utc). */
    g_autofree char *rtc = get_value(p, g, "rtc");
    if (rtc && strcmp(rtc, "utc") && strcmp(rtc, "localtime"))
        return bad_value(p, g, "rtc", rtc, "the RTC starts at utc or localtime");
    cfg->rtc_utc = rtc && !strcmp(rtc, "utc");
    g_autofree char *append = g_key_file_get_string(p->kf, g, "append", NULL);
    if (append && *append) {
        if (!cfg->kernel)
            return bad_value(p, g, "append", append, "a kernel command line needs a kernel= key");
        cfg->append = g_steal_pointer(&append);
    }
    return true;
}

static bool parse_drives_group(Parser *p, VmConfig *cfg)
{
    const char *g = VMCONF_GROUP_DRIVES;
    if (!g_key_file_has_group(p->kf, g))
        return true;
    if (!check_utf8(p, g) || !check_known_keys(p, g, is_drive_key))
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(drive_slots); i++) {
        const VmconfDriveSlot *s = &drive_slots[i];
        if (!g_key_file_has_key(p->kf, g, s->key, NULL))
            continue;
        g_autofree char *file = NULL;
        if (!get_existing_file(p, g, s->key, &file))
            return false;
        /* An empty hard disk slot is no drive; an empty CD or floppy is a drive
         * without a medium. */
        if (!file && !s->removable)
            continue;
        DriveConfig *d = drive_config_new();
        d->file = g_steal_pointer(&file);
        d->iface = s->iface;
        d->media = s->media;
        d->index = s->index;
        d->readonly = s->media == DRIVE_MEDIA_CDROM;
        g_ptr_array_add(cfg->drives, d);
    }
    return true;
}

/* [vm] boot-disk=KEY: which hard disk of [drives] the firmware boots when the boot
 * order reaches the hard disks, the others following (IDE, then virtio otherwise). */
static bool parse_boot_disk(Parser *p, VmConfig *cfg)
{
    const char *g = VMCONF_GROUP_VM;
    g_autofree char *key = get_value(p, g, "boot-disk");
    if (!key || !*key)
        return true;
    const VmconfDriveSlot *s = vmconf_drive_slot_find(key);
    if (!s || s->media != DRIVE_MEDIA_DISK || s->iface == DRIVE_IF_FLOPPY)
        return bad_value(p, g, "boot-disk", key, "name a hard disk key of [drives] (hda, hdb, hdd, vda-vdd)");
    for (guint i = 0; i < cfg->drives->len; i++) {
        DriveConfig *d = cfg->drives->pdata[i];
        if (d->iface == s->iface && d->index == s->index && d->media == DRIVE_MEDIA_DISK) {
            d->boot_first = true;
            return true;
        }
    }
    return bad_value(p, g, "boot-disk", key, "[drives] has no %s disk", key);
}

/* One key of [backends], [devices] or [global] with its value: checked and added to
 * the configuration. */
typedef bool (*EntryFn)(Parser *p, VmConfig *cfg, const char *group, const char *key, const char *value);

/* Walks a group's keys in the order written; ids_are_keys: each key is an id (QEMU's
 * characters, device_id_valid). */
static bool parse_entry_group(Parser *p, VmConfig *cfg, const char *g, bool ids_are_keys, EntryFn fn)
{
    if (!g_key_file_has_group(p->kf, g))
        return true;
    if (!check_utf8(p, g))
        return false;
    g_auto(GStrv) keys = g_key_file_get_keys(p->kf, g, NULL, NULL);
    for (char **k = keys; k && *k; k++) {
        if (ids_are_keys && !device_id_valid(*k)) {
            g_autofree char *shown = config_shorten(*k, CONFIG_QUOTE_MAX);
            g_set_error(p->err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: [%s] %s: an id starts with a letter, then letters, digits, '-', '.' or '_'",
                        p->file, g, shown);
            return false;
        }
        g_autofree char *v = get_value(p, g, *k);
        if (!fn(p, cfg, g, *k, v))
            return false;
    }
    return true;
}

/* [backends] ID=KIND:OPTIONS, e.g. net0=netdev:user,hostfwd=tcp::2222-:22, in the order
 * written (devices name them, so they come first). */
static bool backend_entry(Parser *p, VmConfig *cfg, const char *g, const char *k, const char *v)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v)
        return bad_value(p, g, k, v, "expected KIND:OPTIONS, e.g. netdev:user or audiodev:pa");
    g_autofree char *kind = g_strndup(v, (gsize)(colon - v));
    g_autofree char *opts = *(colon + 1) ? g_strdup_printf("%s,id=%s", colon + 1, k)
                                         : g_strdup_printf("id=%s", k);
    GError *why = NULL;
    if (!backend_spec_check(kind, opts, &why))
        return bad_reason(p, g, k, v, why);
    vm_config_add_backend(cfg, kind, opts);
    return true;
}

/* [devices] ID=DRIVER[,PROP=VALUE...], as -device DRIVER,...,id=ID. */
static bool device_entry(Parser *p, VmConfig *cfg, const char *g, const char *k, const char *v)
{
    g_autofree char *spec = g_strdup_printf("%s,id=%s", v, k);
    GError *why = NULL;
    if (!device_spec_check(spec, &why))
        return bad_reason(p, g, k, v, why);
    g_ptr_array_add(cfg->devices, g_steal_pointer(&spec));
    return true;
}

/* [global] DRIVER.PROP=VALUE, as -global. */
static bool global_entry(Parser *p, VmConfig *cfg, const char *g, const char *k, const char *v)
{
    g_autofree char *global = g_strdup_printf("%s=%s", k, v);
    GError *why = NULL;
    if (!device_global_check(global, &why))
        return bad_reason(p, g, k, v, why);
    g_ptr_array_add(cfg->globals, g_steal_pointer(&global));
    return true;
}

/* [vm] network=MODEL (the host's network through user-mode NAT, as -nic user,model=MODEL)
 * and sound=MODEL (the host's sound through audio-backend=, recording the microphone
 * with microphone=true): after [devices], as -nic comes after -device. */
static bool parse_shorthands(Parser *p, VmConfig *cfg)
{
    const char *g = VMCONF_GROUP_VM;
    /* [network] forward=: each rule is checked as -netdev user checks it, whether or not
     * the VM has a card now (the rules wait for network= to name one). */
    if (!check_utf8(p, VMCONF_GROUP_NETWORK) || !check_known_keys(p, VMCONF_GROUP_NETWORK, is_network_key))
        return false;
    g_auto(GStrv) forwards = g_key_file_get_string_list(p->kf, VMCONF_GROUP_NETWORK, VMCONF_KEY_FORWARD, NULL, NULL);
    g_autoptr(GString) hostfwd = g_string_new(NULL);
    for (char **f = forwards; f && *f; f++) {
        g_strstrip(*f);
        if (!**f)
            continue;
        g_autofree char *check = g_strdup_printf("user,id=forward,hostfwd=%s", *f);
        GError *why = NULL;
        if (strchr(*f, ',') || !backend_spec_check("netdev", check, &why)) {
            if (!why)
                why = g_error_new(VIREO_ERROR, VIREO_ERROR_INVALID,
                                  "expected tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport");
            return bad_reason(p, VMCONF_GROUP_NETWORK, VMCONF_KEY_FORWARD, *f, why);
        }
        g_string_append_printf(hostfwd, ",hostfwd=%s", *f);
    }
    g_autofree char *network = get_value(p, g, "network");
    if (network && *network && strcmp(network, "none")) {
        g_autofree char *spec = g_strdup_printf("user,model=%s%s", network, hostfwd->str);
        GError *why = NULL;
        if (strchr(network, ',') || !vm_config_add_nic(cfg, spec, &why)) {
            if (!why)
                why = g_error_new(VIREO_ERROR, VIREO_ERROR_INVALID, "a card model alone (%s), or none",
                                  vm_config_nic_models_text);
            return bad_reason(p, g, "network", network, why);
        }
    }
    /* audio-backend= and microphone= are checked whether or not there is a card. */
    g_autofree char *backend = get_value(p, g, "audio-backend");
    if (backend && !g_strv_contains(vm_config_audio_backends, backend))
        return bad_value(p, g, "audio-backend", backend, "use auto, pa, sdl or none");
    g_autofree char *mic = get_value(p, g, "microphone");
    bool microphone = false;
    if (mic) {
        g_autoptr(GError) local = NULL;
        microphone = g_key_file_get_boolean(p->kf, g, "microphone", &local);
        if (local)
            return bad_value(p, g, "microphone", mic, "use true or false");
    }
    /* clipboard=true: the host's agent peer on a com.redhat.spice.0 port of its own
     * virtio-serial card, for a guest's spice-vdagent (the app shares its clipboard). */
    g_autofree char *clip = get_value(p, g, "clipboard");
    if (clip) {
        g_autoptr(GError) local = NULL;
        bool on = g_key_file_get_boolean(p->kf, g, "clipboard", &local);
        if (local)
            return bad_value(p, g, "clipboard", clip, "use true or false");
        if (on) {
            vm_config_add_backend(cfg, "chardev", "qemu-vdagent,id=" VMCONF_CLIPBOARD_ID ",clipboard=on");
            g_ptr_array_add(cfg->devices, g_strdup("virtio-serial-pci,id=" VMCONF_CLIPBOARD_ID "-serial"));
            g_ptr_array_add(cfg->devices, g_strdup("virtserialport,bus=" VMCONF_CLIPBOARD_ID "-serial.0,chardev="
                                                   VMCONF_CLIPBOARD_ID ",name=com.redhat.spice.0,id="
                                                   VMCONF_CLIPBOARD_ID "-port"));
        }
    }
    g_autofree char *sound = get_value(p, g, "sound");
    if (sound && *sound) {
        GError *why = NULL;
        if (!vm_config_add_sound_on(cfg, sound, backend ? backend : "auto", microphone, &why))
            return bad_reason(p, g, "sound", sound, why);
    }
    return true;
}

/* ---- [usb] filters ---- */

void vmconf_usb_filter_free(VmconfUsbFilter *f)
{
    if (!f)
        return;
    g_free(f->id);
    g_free(f->serial);
    g_free(f);
}

/* A hex number of at most max, with or without 0x (lsusb prints none). */
static bool parse_hex(const char *text, unsigned max, int *out)
{
    const char *t = g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X") ? text + 2 : text;
    guint64 v;
    if (!*t || strlen(t) > 4 || !g_ascii_string_to_unsigned(t, 16, 0, max, &v, NULL))
        return false;
    *out = (int)v;
    return true;
}

VmconfUsbFilter *vmconf_usb_filter_parse(const char *id, const char *value, GError **err)
{
    g_autoptr(VmconfUsbFilter) f = g_new0(VmconfUsbFilter, 1);
    f->id = g_strdup(id);
    f->vendor = f->product = f->dev_class = -1;
    f->connect = true;
    g_auto(GStrv) fields = g_strsplit(value ? value : "", ",", -1);
    for (char **field = fields; *field; field++) {
        g_strstrip(*field);
        if (!**field)
            continue;
        const char *eq = strchr(*field, '=');
        g_autofree char *key = eq ? g_strstrip(g_strndup(*field, (gsize)(eq - *field))) : g_strdup(*field);
        g_autofree char *v = g_strstrip(g_strdup(eq ? eq + 1 : ""));
        bool ok = eq != NULL;
        if (ok && !strcmp(key, "vendor"))
            ok = parse_hex(v, 0xffff, &f->vendor);
        else if (ok && !strcmp(key, "product"))
            ok = parse_hex(v, 0xffff, &f->product);
        else if (ok && !strcmp(key, "class"))
            ok = parse_hex(v, 0xff, &f->dev_class);
        else if (ok && !strcmp(key, "serial")) {
            ok = *v != 0;
            g_free(f->serial);
            f->serial = g_strdup(v);
        } else if (ok && !strcmp(key, "connect")) {
            ok = !strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "yes") || !strcmp(v, "no");
            f->connect = !strcmp(v, "true") || !strcmp(v, "yes");
        } else {
            g_autofree char *shown = config_shorten(key, CONFIG_QUOTE_MAX);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "'%s' is not a filter field (vendor=VVVV, product=PPPP, serial=TEXT, class=CC, "
                        "connect=true|false, separated by commas)", shown);
            return NULL;
        }
        if (!ok) {
            g_autofree char *shown = config_shorten(v, CONFIG_QUOTE_MAX);
            const char *want = !strcmp(key, "class") ? "a class in hex, 00 to ff"
                               : !strcmp(key, "serial") ? "the serial number's text"
                               : !strcmp(key, "connect") ? "true or false"
                                                         : "an ID of four hex digits, as lsusb shows it";
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s='%s': expected %s", key, shown, want);
            return NULL;
        }
    }
    if (f->vendor < 0 && f->product < 0 && f->dev_class < 0 && !f->serial) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "a filter needs at least one of vendor=, product=, serial=, class= (it would take every device, "
                    "the keyboard too)");
        return NULL;
    }
    return g_steal_pointer(&f);
}

char *vmconf_usb_filter_format(const VmconfUsbFilter *f)
{
    GString *s = g_string_new(NULL);
    if (f->vendor >= 0)
        g_string_append_printf(s, ",vendor=%04x", f->vendor);
    if (f->product >= 0)
        g_string_append_printf(s, ",product=%04x", f->product);
    if (f->serial)
        g_string_append_printf(s, ",serial=%s", f->serial);
    if (f->dev_class >= 0)
        g_string_append_printf(s, ",class=%02x", f->dev_class);
    g_string_append_printf(s, ",connect=%s", f->connect ? "true" : "false");
    /* Every field starts with a comma; the first one goes. */
    g_autofree char *all = g_string_free(s, false);
    return g_strdup(all + 1);
}

GPtrArray *vmconf_usb_filters(GKeyFile *kf)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vmconf_usb_filter_free);
    g_auto(GStrv) keys = kf ? g_key_file_get_keys(kf, VMCONF_GROUP_USB, NULL, NULL) : NULL;
    for (char **k = keys; k && *k; k++) {
        g_autofree char *v = g_key_file_get_string(kf, VMCONF_GROUP_USB, *k, NULL);
        VmconfUsbFilter *f = v && device_id_valid(*k) ? vmconf_usb_filter_parse(*k, v, NULL) : NULL;
        if (f)
            g_ptr_array_add(out, f);
    }
    return out;
}

bool vmconf_usb_filter_matches(const VmconfUsbFilter *f, uint16_t vendor, uint16_t product, const char *serial,
                               uint8_t dev_class, const uint8_t *if_classes, size_t n_if_classes)
{
    if ((f->vendor >= 0 && f->vendor != vendor) || (f->product >= 0 && f->product != product))
        return false;
    if (f->serial && (!serial || strcmp(f->serial, serial)))
        return false;
    if (f->dev_class < 0 || f->dev_class == dev_class)
        return true;
    for (size_t i = 0; i < n_if_classes; i++)
        if (if_classes[i] == f->dev_class)
            return true;
    return false;
}

/* [usb] ID=FILTER: checked here so a bad one is the VM's one error line. */
static bool usb_entry(Parser *p, VmConfig *cfg, const char *g, const char *k, const char *v)
{
    (void)cfg;
    GError *why = NULL;
    g_autoptr(VmconfUsbFilter) f = vmconf_usb_filter_parse(k, v, &why);
    return f ? true : bad_reason(p, g, k, v, why);
}

VmConfig *vmconf_parse(GKeyFile *kf, const char *name, const char *dir, GError **err)
{
    g_autofree char *file = dir ? g_build_filename(dir, VMCONF_FILE, NULL) : g_strdup(VMCONF_FILE);
    Parser p = { kf, dir, file, err };
    g_autoptr(VmConfig) cfg = vm_config_new();
    cfg->name = g_strdup(name);
    cfg->vm_dir = g_strdup(dir);
    if (!parse_vm_group(&p, cfg) || !parse_drives_group(&p, cfg) || !parse_boot_disk(&p, cfg) ||
        !parse_entry_group(&p, cfg, VMCONF_GROUP_BACKENDS, true, backend_entry) ||
        !parse_entry_group(&p, cfg, VMCONF_GROUP_DEVICES, true, device_entry) || !parse_shorthands(&p, cfg) ||
        !parse_entry_group(&p, cfg, VMCONF_GROUP_GLOBAL, false, global_entry) ||
        !parse_entry_group(&p, cfg, VMCONF_GROUP_USB, true, usb_entry))
        return NULL;
    return g_steal_pointer(&cfg);
}

/* GKeyFile's syntax errors quote the whole offending line, which may be a megabyte:
 * what stands between quotation marks (English “”, German „“, French «») is shortened,
 * then the whole message. */
static char *shorten_quoted(const char *msg)
{
    static const char *const open_marks[] = { "“", "„", "«" };
    static const char *const close_marks[] = { "”", "“", "»" };
    GString *out = g_string_new(NULL);
    const char *p = msg;
    for (;;) {
        const char *open = NULL, *close = NULL;
        size_t open_len = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(open_marks); i++) {
            const char *o = strstr(p, open_marks[i]);
            if (o && (!open || o < open)) {
                open = o;
                open_len = strlen(open_marks[i]);
            }
        }
        for (size_t i = 0; open && i < G_N_ELEMENTS(close_marks); i++) {
            const char *c = strstr(open + open_len, close_marks[i]);
            if (c && (!close || c < close))
                close = c;
        }
        if (!close)
            break;
        g_autofree char *inner = g_strndup(open + open_len, (size_t)(close - open - open_len));
        g_autofree char *shown = config_shorten(inner, CONFIG_QUOTE_MAX);
        g_string_append_len(out, p, open + open_len - p);
        g_string_append(out, shown);
        p = close;
    }
    g_string_append(out, p);
    char *all = config_shorten(out->str, 300);
    g_string_free(out, TRUE);
    return all;
}

GKeyFile *vmconf_load(const char *dir, GError **err)
{
    g_autofree char *file = g_build_filename(dir, VMCONF_FILE, NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *data = NULL;
    size_t len;
    GError *local = NULL;
    /* Not g_key_file_load_from_file: it would wait forever on a FIFO, and read a file of
     * any size into memory. */
    if (!regfile_read(file, VMCONF_MAX_SIZE, &data, &len, &local)) {
        if (local->code == VIREO_ERROR_NOT_FOUND)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                        "%s: missing: this folder has no VM description", file);
        else
            g_set_error_literal(err, VIREO_ERROR, VIREO_ERROR_INVALID, local->message);
        g_error_free(local);
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_KEEP_COMMENTS, &local)) {
        g_autofree char *why = shorten_quoted(local->message);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: %s", file, why);
        g_error_free(local);
        return NULL;
    }
    return g_steal_pointer(&kf);
}

bool vmconf_save(GKeyFile *kf, const char *dir, GError **err)
{
    g_autofree char *file = g_build_filename(dir, VMCONF_FILE, NULL);
    gsize len;
    g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
    GError *local = NULL;
    if (!g_file_set_contents(file, data, (gssize)len, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot write %s: %s", file,
                    local->message);
        g_error_free(local);
        return false;
    }
    return true;
}
