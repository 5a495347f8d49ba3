/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A library VM and, while it runs, its engine instance. */
#include "ui/gtk/vireo-machine.h"
#include "ui/gtk/vireo-clipboard.h"
#include "engine/audio/audio.h"
#include "engine/vmconf.h"
#include "ui/gtk/vireo-osinfo.h"
#include "ui/gtk/vireo-usb.h"
#include "ui/spice/spice-display.h"
#include "vireo-config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <sys/random.h>

struct _VireoMachine {
    GObject parent;
    char *root;
    VmLibraryEntry *entry;
    Vm *vm;
    guint listener;
    VireoMachineState state;
    char *run_error;        /* why the last run failed */
    GdkTexture *thumbnail;
    /* Sound: the user's level ([ui] volume=, muted=), whether the guest is heard now,
     * the poll that finds out while it runs, and the pending write of vm.conf. */
    unsigned volume;
    bool muted;
    bool playing;
    guint playing_poll;
    guint volume_save;
    /* Screen sharing (vireo_machine_share). */
    SpiceDisplay *share;
    VireoClipboard *clipboard; /* vm.conf clipboard=true, while the VM runs */
    char *share_addr, *share_password;
    int share_port;
};

/* vm.conf's group of what the app remembers per VM (window, sound). */
#define UI_GROUP "ui"

G_DEFINE_FINAL_TYPE(VireoMachine, vireo_machine, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_OS_NAME, PROP_STATE, PROP_ERROR, PROP_THUMBNAIL, PROP_VOLUME, PROP_MUTED,
       PROP_PLAYING, PROP_SHARING, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIG_USB_CHANGED, SIG_USB_PROBLEM, N_SIGNALS };
static guint signals[N_SIGNALS];

static void machine_stop_vm(VireoMachine *m, bool now);
static void save_volume(VireoMachine *m);
static void load_volume(VireoMachine *m);

static void vireo_machine_dispose(GObject *obj)
{
    VireoMachine *m = VIREO_MACHINE(obj);
    if (m->volume_save) {
        g_clear_handle_id(&m->volume_save, g_source_remove);
        save_volume(m);
    }
    machine_stop_vm(m, true);
    g_clear_object(&m->thumbnail);
    G_OBJECT_CLASS(vireo_machine_parent_class)->dispose(obj);
}

static void vireo_machine_finalize(GObject *obj)
{
    VireoMachine *m = VIREO_MACHINE(obj);
    vm_library_entry_free(m->entry);
    g_free(m->root);
    g_free(m->run_error);
    G_OBJECT_CLASS(vireo_machine_parent_class)->finalize(obj);
}

static void vireo_machine_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    VireoMachine *m = VIREO_MACHINE(obj);
    switch (id) {
    case PROP_NAME: g_value_set_string(v, vireo_machine_get_name(m)); break;
    case PROP_OS_NAME: g_value_set_string(v, vireo_machine_get_os_name(m)); break;
    case PROP_STATE: g_value_set_int(v, (int)vireo_machine_get_state(m)); break;
    case PROP_ERROR: g_value_set_string(v, vireo_machine_get_error(m)); break;
    case PROP_THUMBNAIL: g_value_set_object(v, m->thumbnail); break;
    case PROP_VOLUME: g_value_set_uint(v, m->volume); break;
    case PROP_MUTED: g_value_set_boolean(v, m->muted); break;
    case PROP_PLAYING: g_value_set_boolean(v, m->playing); break;
    case PROP_SHARING: g_value_set_boolean(v, m->share != NULL); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
    }
}

static void vireo_machine_class_init(VireoMachineClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    oc->dispose = vireo_machine_dispose;
    oc->finalize = vireo_machine_finalize;
    oc->get_property = vireo_machine_get_property;
    const GParamFlags f = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
    props[PROP_NAME] = g_param_spec_string("name", NULL, NULL, NULL, f);
    props[PROP_OS_NAME] = g_param_spec_string("os-name", NULL, NULL, NULL, f);
    props[PROP_STATE] = g_param_spec_int("state", NULL, NULL, 0, VIREO_MACHINE_FAILED, 0, f);
    props[PROP_ERROR] = g_param_spec_string("error", NULL, NULL, NULL, f);
    props[PROP_THUMBNAIL] = g_param_spec_object("thumbnail", NULL, NULL, GDK_TYPE_TEXTURE, f);
    props[PROP_VOLUME] = g_param_spec_uint("volume", NULL, NULL, 0, 100, 100, f);
    props[PROP_MUTED] = g_param_spec_boolean("muted", NULL, NULL, FALSE, f);
    props[PROP_PLAYING] = g_param_spec_boolean("playing", NULL, NULL, FALSE, f);
    props[PROP_SHARING] = g_param_spec_boolean("sharing", NULL, NULL, FALSE, f);
    g_object_class_install_properties(oc, N_PROPS, props);
    signals[SIG_USB_CHANGED] = g_signal_new("usb-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                            NULL, NULL, G_TYPE_NONE, 0);
    signals[SIG_USB_PROBLEM] = g_signal_new("usb-problem", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                            NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

void vireo_machine_usb_changed(VireoMachine *m)
{
    g_signal_emit(m, signals[SIG_USB_CHANGED], 0);
}

void vireo_machine_report_usb_problem(VireoMachine *m, const char *text)
{
    g_signal_emit(m, signals[SIG_USB_PROBLEM], 0, text);
}

static void vireo_machine_init(VireoMachine *m)
{
}

static void load_thumbnail(VireoMachine *m)
{
    g_autofree char *path = g_build_filename(m->entry->dir, VM_LIBRARY_THUMBNAIL, NULL);
    g_clear_object(&m->thumbnail);
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
        m->thumbnail = gdk_texture_new_from_filename(path, NULL);
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_THUMBNAIL]);
}

static void update_state(VireoMachine *m)
{
    VireoMachineState s;
    if (m->vm) {
        VmState vs = vm_get_state(m->vm);
        s = vs == VM_STATE_PAUSED ? VIREO_MACHINE_PAUSED : VIREO_MACHINE_RUNNING;
    } else if (m->run_error) {
        s = VIREO_MACHINE_FAILED;
    } else if (m->entry->error) {
        s = VIREO_MACHINE_BROKEN;
    } else {
        s = VIREO_MACHINE_OFF;
    }
    if (s != m->state) {
        m->state = s;
        g_object_notify_by_pspec(G_OBJECT(m), props[PROP_STATE]);
    }
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_ERROR]);
}

VireoMachine *vireo_machine_new(const char *root, VmLibraryEntry *entry)
{
    VireoMachine *m = g_object_new(VIREO_TYPE_MACHINE, NULL);
    m->root = g_strdup(root);
    m->entry = entry;
    m->state = VIREO_MACHINE_OFF;
    m->volume = 100;
    load_volume(m);
    update_state(m);
    load_thumbnail(m);
    return m;
}

const char *vireo_machine_get_name(VireoMachine *m)
{
    return m->entry->name;
}

const char *vireo_machine_get_dir(VireoMachine *m)
{
    return m->entry->dir;
}

const char *vireo_machine_get_os_name(VireoMachine *m)
{
    g_autofree char *id = NULL, *stored = NULL;
    if (m->entry->conf) {
        id = g_key_file_get_string(m->entry->conf, VMCONF_GROUP_VM, "os-id", NULL);
        stored = g_key_file_get_string(m->entry->conf, VMCONF_GROUP_VM, "os-name", NULL);
    }
    /* os-name of a preset may be a translation an older Vireo stored: the ID decides.
     * The key file owns nothing we could return, so keep the string on the object. */
    char *name = g_strdup(vireo_os_display_name(id, stored));
    g_object_set_data_full(G_OBJECT(m), "vireo-os-name", name, g_free);
    return name;
}

VireoMachineState vireo_machine_get_state(VireoMachine *m)
{
    return m->state;
}

const char *vireo_machine_state_label(VireoMachineState s)
{
    switch (s) {
    case VIREO_MACHINE_OFF: return _("Powered off");
    case VIREO_MACHINE_RUNNING: return _("Running");
    case VIREO_MACHINE_PAUSED: return _("Paused");
    case VIREO_MACHINE_BROKEN: return _("Cannot start");
    case VIREO_MACHINE_FAILED: return _("Stopped with an error");
    }
    return "";
}

const char *vireo_machine_get_error(VireoMachine *m)
{
    if (m->run_error)
        return m->run_error;
    return m->entry->error ? m->entry->error->message : NULL;
}

GKeyFile *vireo_machine_get_conf(VireoMachine *m)
{
    return m->entry->conf;
}

GdkTexture *vireo_machine_get_thumbnail(VireoMachine *m)
{
    return m->thumbnail;
}

Vm *vireo_machine_get_vm(VireoMachine *m)
{
    return m->vm;
}

bool vireo_machine_is_active(VireoMachine *m)
{
    return m->vm != NULL;
}

/* The level vm.conf remembers; a missing or bad value is full volume, not muted. */
static void load_volume(VireoMachine *m)
{
    g_autoptr(GError) err = NULL;
    GKeyFile *kf = m->entry->conf;
    int v = kf ? g_key_file_get_integer(kf, UI_GROUP, "volume", &err) : 100;
    unsigned volume = err || v < 0 || v > 100 ? 100 : (unsigned)v;
    bool muted = kf && g_key_file_get_boolean(kf, UI_GROUP, "muted", NULL);
    if (volume != m->volume || muted != m->muted) {
        m->volume = volume;
        m->muted = muted;
        g_object_notify_by_pspec(G_OBJECT(m), props[PROP_VOLUME]);
        g_object_notify_by_pspec(G_OBJECT(m), props[PROP_MUTED]);
    }
}

static void replace_entry(VireoMachine *m, VmLibraryEntry *e)
{
    vm_library_entry_free(m->entry);
    m->entry = e;
    /* A change not yet written wins over the file. */
    if (!m->volume_save)
        load_volume(m);
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_NAME]);
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_OS_NAME]);
    update_state(m);
}

void vireo_machine_reload(VireoMachine *m)
{
    GError *err = NULL;
    VmLibraryEntry *e = vm_library_open(m->root, m->entry->name, &err);
    if (!e) {
        /* The folder went away: keep the name, say why it cannot start. */
        e = g_new0(VmLibraryEntry, 1);
        e->name = g_strdup(m->entry->name);
        e->dir = g_strdup(m->entry->dir);
        e->error = err;
    }
    replace_entry(m, e);
}

bool vireo_machine_save_conf(VireoMachine *m, GKeyFile *conf, GError **err)
{
    g_autoptr(VmConfig) cfg = vmconf_parse(conf, m->entry->name, m->entry->dir, err);
    if (!cfg || !vmconf_save(conf, m->entry->dir, err))
        return false;
    vireo_machine_reload(m);
    return true;
}

void vireo_machine_set_name(VireoMachine *m, const char *name)
{
    g_autofree char *dir = g_build_filename(m->root, name, NULL);
    g_free(m->entry->name);
    m->entry->name = g_strdup(name);
    g_free(m->entry->dir);
    m->entry->dir = g_steal_pointer(&dir);
    vireo_machine_reload(m);
}

static void set_playing(VireoMachine *m, bool playing)
{
    if (playing == m->playing)
        return;
    m->playing = playing;
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_PLAYING]);
}

/* The mixer notes when it last mixed an audible frame; four looks a second are enough
 * for an icon. */
static gboolean poll_playing(gpointer data)
{
    VireoMachine *m = data;
    set_playing(m, m->vm && audio_is_playing(m->vm));
    return G_SOURCE_CONTINUE;
}

static gboolean free_vm_later(gpointer data)
{
    vm_free(data);
    return G_SOURCE_REMOVE;
}

/* now: free at once (not from a state callback of this VM); otherwise once the
 * callback has returned. */
static void machine_stop_vm(VireoMachine *m, bool now)
{
    if (!m->vm)
        return;
    vireo_machine_unshare(m);
    vireo_usb_machine_stopping(m);
    g_clear_pointer(&m->clipboard, vireo_clipboard_free);
    vm_remove_state_listener(m->vm, m->listener);
    g_clear_handle_id(&m->playing_poll, g_source_remove);
    set_playing(m, false);
    Vm *vm = g_steal_pointer(&m->vm);
    if (now)
        vm_free(vm);
    else
        g_idle_add(free_vm_later, vm);
}

static void on_vm_state(Vm *vm, VmState state, void *data)
{
    VireoMachine *m = data;
    if (state == VM_STATE_ERROR) {
        g_free(m->run_error);
        m->run_error = g_strdup(vm_error(vm) ? vm_error(vm) : _("The virtual machine stopped with an error."));
        machine_stop_vm(m, false);
    } else if (state == VM_STATE_SHUTDOWN) {
        machine_stop_vm(m, false);
    }
    update_state(m);
}

bool vireo_machine_start(VireoMachine *m, GError **err)
{
    if (m->vm)
        return true;
    /* vm.conf may have been edited since the library was read. */
    vireo_machine_reload(m);
    if (m->entry->error) {
        g_propagate_error(err, g_error_copy(m->entry->error));
        return false;
    }
    g_autoptr(VmConfig) cfg = vmconf_parse(m->entry->conf, m->entry->name, m->entry->dir, err);
    if (!cfg)
        return false;
    g_free(cfg->display);
    cfg->display = g_strdup("gtk");
    /* A PC has COM1; with no terminal behind it here, it leads nowhere. */
    if (!cfg->serial[0])
        cfg->serial[0] = g_strdup("null");
    Vm *vm = vm_new(cfg, err);
    if (!vm)
        return false;
    g_clear_pointer(&m->run_error, g_free);
    m->vm = vm;
    m->listener = vm_add_state_listener(vm, on_vm_state, m);
    audio_set_output_volume(vm, m->volume, m->muted);
    if (audio_has_output(vm))
        m->playing_poll = g_timeout_add(250, poll_playing, m);
    if (!vm_start(vm, err)) {
        vm_remove_state_listener(vm, m->listener);
        m->vm = NULL;
        vm_free(vm);
        update_state(m);
        return false;
    }
    GdkDisplay *display = gdk_display_get_default();
    if (display)
        m->clipboard = vireo_clipboard_new(vm, gdk_display_get_clipboard(display));
    update_state(m);
    /* vm.conf's [usb] filters: the matching devices plugged in now, and later ones. */
    vireo_usb_machine_started(m);
    return true;
}

void vireo_machine_pause(VireoMachine *m)
{
    if (m->vm)
        vm_pause(m->vm);
}

void vireo_machine_resume(VireoMachine *m)
{
    if (m->vm)
        vm_resume(m->vm);
}

void vireo_machine_reset(VireoMachine *m)
{
    if (m->vm)
        vm_reset(m->vm);
}

void vireo_machine_shutdown(VireoMachine *m)
{
    if (m->vm)
        vm_powerdown(m->vm);
}

void vireo_machine_force_off(VireoMachine *m)
{
    if (m->vm)
        vm_poweroff(m->vm);
}

void vireo_machine_set_thumbnail(VireoMachine *m, GdkTexture *texture, bool save)
{
    if (!texture)
        return;
    g_set_object(&m->thumbnail, texture);
    g_autofree char *path = g_build_filename(m->entry->dir, VM_LIBRARY_THUMBNAIL, NULL);
    if (save && !gdk_texture_save_to_png(texture, path))
        g_warning("cannot write %s", path);
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_THUMBNAIL]);
}

bool vireo_machine_has_sound(VireoMachine *m)
{
    if (m->vm)
        return audio_has_output(m->vm);
    g_autofree char *sound = m->entry->conf ? g_key_file_get_string(m->entry->conf, VMCONF_GROUP_VM, "sound", NULL) : NULL;
    return sound && *sound && g_ascii_strcasecmp(sound, "none");
}

bool vireo_machine_get_playing(VireoMachine *m)
{
    return m->playing;
}

void vireo_machine_get_volume(VireoMachine *m, unsigned *percent, bool *muted)
{
    *percent = m->volume;
    *muted = m->muted;
}

static void save_volume(VireoMachine *m)
{
    GKeyFile *cur = m->entry->conf;
    if (!cur)
        return;
    g_autoptr(GKeyFile) conf = g_key_file_new();
    gsize len;
    g_autofree char *data = g_key_file_to_data(cur, &len, NULL);
    if (!g_key_file_load_from_data(conf, data, len, G_KEY_FILE_KEEP_COMMENTS, NULL))
        return;
    g_key_file_set_integer(conf, UI_GROUP, "volume", (int)m->volume);
    g_key_file_set_boolean(conf, UI_GROUP, "muted", m->muted);
    /* A vm.conf with a bad value stays as the user left it; the level still applies. */
    vireo_machine_save_conf(m, conf, NULL);
}

static gboolean save_volume_later(gpointer data)
{
    VireoMachine *m = data;
    m->volume_save = 0;
    save_volume(m);
    return G_SOURCE_REMOVE;
}

void vireo_machine_set_volume(VireoMachine *m, unsigned percent, bool muted)
{
    percent = MIN(percent, 100u);
    if (percent == m->volume && muted == m->muted)
        return;
    bool vol_changed = percent != m->volume, mute_changed = muted != m->muted;
    m->volume = percent;
    m->muted = muted;
    if (m->vm)
        audio_set_output_volume(m->vm, percent, muted);
    /* A slider drag is many steps: write vm.conf once it rests. */
    if (m->volume_save)
        g_source_remove(m->volume_save);
    m->volume_save = g_timeout_add(400, save_volume_later, m);
    if (vol_changed)
        g_object_notify_by_pspec(G_OBJECT(m), props[PROP_VOLUME]);
    if (mute_changed)
        g_object_notify_by_pspec(G_OBJECT(m), props[PROP_MUTED]);
}

/* ---- screen sharing ---- */

#define SHARE_PORT_FIRST 5930
#define SHARE_PORT_LAST 5999
#define SHARE_PASSWORD_LEN 12

bool vireo_machine_share_available(void)
{
#ifdef HAVE_SPICE
    return true;
#else
    return false;
#endif
}

/* Letters and digits a person can read out without confusion (no 0/O, 1/l/I). */
static char *share_new_password(void)
{
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t raw[SHARE_PASSWORD_LEN];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (uint8_t)g_random_int();
    }
    char *pw = g_malloc(SHARE_PASSWORD_LEN + 1);
    for (size_t i = 0; i < SHARE_PASSWORD_LEN; i++)
        pw[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
    pw[SHARE_PASSWORD_LEN] = 0;
    return pw;
}

bool vireo_machine_share(VireoMachine *m, bool remote, GError **err)
{
#ifdef HAVE_SPICE
    if (!m->vm) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("The virtual machine is not running."));
        return false;
    }
    vireo_machine_unshare(m);
    g_autofree char *password = share_new_password();
    const char *addr = remote ? "0.0.0.0" : "127.0.0.1";
    for (int port = SHARE_PORT_FIRST; port <= SHARE_PORT_LAST; port++) {
        SpiceOptions o = { .port = port, .addr = (char *)addr, .password = password };
        g_autoptr(GError) local = NULL;
        SpiceDisplay *d = spice_display_new(m->vm, &o, &local);
        if (d) {
            m->share = d;
            m->share_port = port;
            m->share_addr = g_strdup(addr);
            m->share_password = g_steal_pointer(&password);
            g_object_notify_by_pspec(G_OBJECT(m), props[PROP_SHARING]);
            return true;
        }
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, _("No free port between %d and %d to share the screen on."),
                SHARE_PORT_FIRST, SHARE_PORT_LAST);
    return false;
#else
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, _("This build of Vireo has no SPICE server."));
    return false;
#endif
}

void vireo_machine_unshare(VireoMachine *m)
{
#ifdef HAVE_SPICE
    if (!m->share)
        return;
    spice_display_free(g_steal_pointer(&m->share));
    g_clear_pointer(&m->share_addr, g_free);
    if (m->share_password)
        memset(m->share_password, 0, strlen(m->share_password));
    g_clear_pointer(&m->share_password, g_free);
    m->share_port = 0;
    g_object_notify_by_pspec(G_OBJECT(m), props[PROP_SHARING]);
#endif
}

bool vireo_machine_get_share(VireoMachine *m, const char **addr, int *port, const char **password)
{
    if (!m->share)
        return false;
    *addr = m->share_addr;
    *port = m->share_port;
    *password = m->share_password;
    return true;
}
