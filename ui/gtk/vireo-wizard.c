/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The new-VM wizard. */
#include "ui/gtk/vireo-wizard.h"
#include "ui/gtk/vireo-application.h"
#include "ui/gtk/vireo-osinfo.h"
#include "ui/gtk/vireo-transfer.h"
#include "ui/gtk/vireo-window.h"
#include "engine/library-transfer.h"
#include "engine/library.h"
#include "engine/vmconf.h"
#include "vireo-config.h"
#include "disks/image-ops.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define NEW_DISK_FILE "disk.qcow2"

struct _VireoWizard {
    AdwWindow parent;
    GtkButton *back_button, *next_button;
    AdwToastOverlay *toast_overlay;
    GtkStack *pages;
    GtkCheckButton *media_cdrom, *media_floppy, *media_disk, *media_none;
    AdwPreferencesGroup *file_group;
    GtkEntry *media_entry;
    GtkLabel *media_status;
    AdwComboRow *os_row;
    AdwEntryRow *name_row;
    GtkLabel *name_error, *memory_error, *disk_error;
    GtkSpinButton *memory_spin, *cpus_spin, *disk_size_spin;
    AdwActionRow *cpus_row;
    GtkCheckButton *disk_new, *disk_existing, *disk_none;
    AdwActionRow *disk_existing_row, *disk_asis_row;
    GtkCheckButton *disk_asis;
    GtkListBox *summary_list;

    VireoLibrary *library;
    GSimpleActionGroup *actions;
    guint probe_timeout;
    GCancellable *probe_cancel;
    /* What the last probe of the entry's path found. */
    char *probed_path;
    VireoMediaKind probed_kind;
    const char *probed_format;  /* a disk format Vireo cannot write ("vmdk"), or NULL */
    VireoOsGuess *guess;
    bool probe_ok;
    bool defaults_applied;  /* the system page got the guess's values */
    bool filling;           /* setting widgets from code: no "user changed" reactions */
    /* Fields the user changed on the system page: another medium does not undo them. */
    bool name_edited, memory_edited, cpus_edited, disk_size_edited;
    bool next_when_probed;  /* Enter in the path field while the probe was pending */
    bool converting;        /* the VM exists and its disk is being converted */
};

G_DEFINE_FINAL_TYPE(VireoWizard, vireo_wizard, ADW_TYPE_WINDOW)

static VireoMediaKind selected_media_kind(VireoWizard *w)
{
    if (gtk_check_button_get_active(w->media_cdrom))
        return VIREO_MEDIA_CDROM;
    if (gtk_check_button_get_active(w->media_floppy))
        return VIREO_MEDIA_FLOPPY;
    if (gtk_check_button_get_active(w->media_disk))
        return VIREO_MEDIA_DISK;
    return VIREO_MEDIA_NONE;
}

static void set_field_error(GtkLabel *label, GtkWidget *field, const char *message)
{
    gtk_label_set_text(label, message ? message : "");
    gtk_widget_set_visible(GTK_WIDGET(label), message != NULL);
    if (message)
        gtk_widget_add_css_class(field, "error");
    else
        gtk_widget_remove_css_class(field, "error");
}

static void set_media_status(VireoWizard *w, const char *text, bool error)
{
    gtk_label_set_text(w->media_status, text ? text : "");
    gtk_widget_remove_css_class(GTK_WIDGET(w->media_status), "warning");
    if (error)
        gtk_widget_add_css_class(GTK_WIDGET(w->media_status), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(w->media_status), "error");
    if (error)
        gtk_widget_add_css_class(GTK_WIDGET(w->media_entry), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(w->media_entry), "error");
}

/* ---- validation ---- */

static uint64_t host_ram(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

static bool media_page_valid(VireoWizard *w)
{
    if (selected_media_kind(w) == VIREO_MEDIA_NONE)
        return true;
    g_autofree char *path = g_canonicalize_filename(gtk_editable_get_text(GTK_EDITABLE(w->media_entry)), NULL);
    return w->probe_ok && !w->probe_timeout && !g_strcmp0(w->probed_path, path);
}

/* Checks the system page's fields, saying on each field what is wrong. */
static bool system_page_valid(VireoWizard *w)
{
    bool ok = true;
    const char *name = gtk_editable_get_text(GTK_EDITABLE(w->name_row));
    g_autofree char *name_msg = vireo_library_name_problem(w->library, name, NULL);
    set_field_error(w->name_error, GTK_WIDGET(w->name_row), name_msg);
    ok &= !name_msg;

    uint64_t ram = (uint64_t)gtk_spin_button_get_value_as_int(w->memory_spin) * MIB;
    uint64_t have = host_ram();
    g_autofree char *mem_msg = NULL;
    if (have && ram > have) {
        g_autofree char *size = g_format_size_full(have, G_FORMAT_SIZE_IEC_UNITS);
        mem_msg = g_strdup_printf(_("This computer has only %s of memory."), size);
    }
    set_field_error(w->memory_error, GTK_WIDGET(w->memory_spin), mem_msg);
    ok &= !mem_msg;

    const char *disk_msg = NULL;
    if (gtk_check_button_get_active(w->disk_new)) {
        if (gtk_spin_button_get_value(w->disk_size_spin) < 0.001)
            disk_msg = _("A new disk needs a size; or choose “No hard disk”.");
    } else if (gtk_check_button_get_active(w->disk_existing) && w->probed_kind != VIREO_MEDIA_DISK) {
        disk_msg = _("No hard disk image was chosen on the first page.");
    }
    set_field_error(w->disk_error, GTK_WIDGET(w->disk_size_spin), disk_msg);
    ok &= !disk_msg;
    return ok;
}

static void update_buttons(VireoWizard *w)
{
    const char *page = gtk_stack_get_visible_child_name(w->pages);
    bool first = !g_strcmp0(page, "media"), last = !g_strcmp0(page, "summary");
    gtk_button_set_label(w->back_button, first ? _("_Cancel") : _("_Back"));
    gtk_button_set_label(w->next_button, last ? _("C_reate") : _("_Next"));
    bool valid = true;
    if (first)
        valid = media_page_valid(w);
    else if (!g_strcmp0(page, "system"))
        valid = system_page_valid(w);
    GAction *next = g_action_map_lookup_action(G_ACTION_MAP(w->actions), "next");
    g_simple_action_set_enabled(G_SIMPLE_ACTION(next), valid);
    gtk_widget_set_visible(GTK_WIDGET(w->file_group), selected_media_kind(w) != VIREO_MEDIA_NONE);
}

/* ---- probing the medium (off the UI thread: libosinfo reads the ISO) ---- */

typedef struct ProbeResult {
    VireoMediaKind kind;
    const char *format;     /* vm_disk_foreign_format's answer */
    bool bootable;
    VireoOsGuess *guess;
} ProbeResult;

static void probe_result_free(ProbeResult *r)
{
    vireo_os_guess_free(r->guess);
    g_free(r);
}

static void probe_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    const char *path = data;
    GError *err = NULL;
    /* The block layer's probe first: a VMDK or VDI can look like a raw disk by size. */
    const char *format = vm_disk_foreign_format(path, NULL);
    VireoMediaKind kind = format ? VIREO_MEDIA_DISK : vireo_media_probe(path, &err);
    if (err) {
        g_task_return_error(task, err);
        return;
    }
    VireoOsGuess *g = vireo_os_identify(path, kind, &err);
    if (!g) {
        g_task_return_error(task, err);
        return;
    }
    ProbeResult *r = g_new0(ProbeResult, 1);
    r->kind = kind;
    r->format = format;
    r->bootable = vireo_media_is_bootable(path, kind);
    r->guess = g;
    g_task_return_pointer(task, r, (GDestroyNotify)probe_result_free);
}

static const char *media_kind_name(VireoMediaKind k)
{
    switch (k) {
    case VIREO_MEDIA_CDROM: return _("a CD image");
    case VIREO_MEDIA_FLOPPY: return _("a floppy image");
    case VIREO_MEDIA_DISK: return _("a hard disk image");
    case VIREO_MEDIA_NONE: break;
    }
    return "";
}

static void probe_done(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *err = NULL;
    ProbeResult *r = g_task_propagate_pointer(G_TASK(res), &err);
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(err);
        return;
    }
    VireoWizard *w = data;
    g_clear_object(&w->probe_cancel);
    g_free(w->probed_path);
    w->probed_path = g_strdup(g_task_get_task_data(G_TASK(res)));
    g_clear_pointer(&w->guess, vireo_os_guess_free);
    w->defaults_applied = false;
    if (!r) {
        w->next_when_probed = false;
        w->probe_ok = false;
        w->probed_kind = VIREO_MEDIA_NONE;
        w->probed_format = NULL;
        set_media_status(w, err->message, true);
        g_error_free(err);
        update_buttons(w);
        return;
    }
    w->probe_ok = true;
    w->probed_kind = r->kind;
    w->probed_format = r->format;
    w->guess = g_steal_pointer(&r->guess);
    /* The file says what it is; the radio buttons follow it. */
    w->filling = true;
    GtkCheckButton *kinds[] = { NULL, w->media_cdrom, w->media_floppy, w->media_disk };
    gtk_check_button_set_active(kinds[r->kind], TRUE);
    w->filling = false;
    g_autofree char *status = NULL;
    if (r->format)
        status = g_strdup_printf(_("This is a hard disk image from %s. Vireo converts it to a qcow2 image in the virtual machine's folder; the original stays as it is."),
                                 vireo_disk_format_label(r->format));
    else if (w->guess->identified)
        status = g_strdup_printf(_("This is %s of %s."), media_kind_name(r->kind), w->guess->os_name);
    else if (r->kind == VIREO_MEDIA_FLOPPY)
        status = g_strdup(_("This is a floppy image: Vireo proposes DOS; change the system on the next page if it is another."));
    else
        status = g_strdup_printf(_("This is %s. Its system is not recognised: choose it on the next page."),
                                 media_kind_name(r->kind));
    if (!r->bootable) {
        /* Accepted (it may be meant as a second medium), but not silently. */
        g_autofree char *warn = g_strdup_printf("%s %s", status,
            _("It is not bootable: a virtual machine cannot start from it. Choose an install medium, or create the VM and insert this one later."));
        set_media_status(w, warn, false);
        gtk_widget_add_css_class(GTK_WIDGET(w->media_status), "warning");
    } else {
        set_media_status(w, status, false);
    }
    probe_result_free(r);
    update_buttons(w);
    if (w->next_when_probed) {
        w->next_when_probed = false;
        gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    }
}

static gboolean start_probe(gpointer data)
{
    VireoWizard *w = data;
    w->probe_timeout = 0;
    const char *text = gtk_editable_get_text(GTK_EDITABLE(w->media_entry));
    if (w->probe_cancel)
        g_cancellable_cancel(w->probe_cancel);
    g_clear_object(&w->probe_cancel);
    if (!*text) {
        w->probe_ok = false;
        set_media_status(w, _("Choose the image file."), false);
        update_buttons(w);
        return G_SOURCE_REMOVE;
    }
    set_media_status(w, _("Looking at the file…"), false);
    w->probe_cancel = g_cancellable_new();
    GTask *task = g_task_new(NULL, w->probe_cancel, probe_done, w);
    /* vm.conf keeps an absolute path without "..": the VM must not depend on where
     * the app was started. */
    g_task_set_task_data(task, g_canonicalize_filename(text, NULL), g_free);
    g_task_set_return_on_cancel(task, TRUE);
    g_task_run_in_thread(task, probe_thread);
    g_object_unref(task);
    update_buttons(w);
    return G_SOURCE_REMOVE;
}

static void on_media_entry_changed(GtkEditable *e, VireoWizard *w)
{
    /* Wait for the user to stop typing. */
    if (w->probe_timeout)
        g_source_remove(w->probe_timeout);
    w->probe_ok = false;
    w->probe_timeout = g_timeout_add(250, start_probe, w);
    update_buttons(w);
}

/* Enter in the path field goes on as Next does, once the file has been looked at. */
static void on_media_entry_activate(GtkEntry *e, VireoWizard *w)
{
    if (w->probe_timeout) {
        g_source_remove(w->probe_timeout);
        start_probe(w);
    }
    if (w->probe_cancel) {
        w->next_when_probed = true;
        return;
    }
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
}

static void on_media_kind_toggled(GtkCheckButton *b, VireoWizard *w)
{
    if (!w->filling)
        w->defaults_applied = false;
    if (gtk_check_button_get_active(b) || b == w->media_none)
        update_buttons(w);
}

static void on_media_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    VireoWizard *w = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path) {
            gtk_editable_set_text(GTK_EDITABLE(w->media_entry), path);
            GApplication *app = g_application_get_default();
            GSettings *s = app ? vireo_application_get_settings(VIREO_APPLICATION(app)) : NULL;
            if (s) {
                g_autofree char *folder = g_path_get_dirname(path);
                g_settings_set_string(s, "last-media-folder", folder);
            }
        }
    }
    g_object_unref(d);
}

static void action_choose_media(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoWizard *w = data;
    GtkFileChooserNative *d = gtk_file_chooser_native_new(_("Choose an Install Medium"), GTK_WINDOW(w),
                                                          GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"),
                                                          _("_Cancel"));
    GtkFileFilter *f = gtk_file_filter_new();
    gtk_file_filter_set_name(f, _("Disk images"));
    const char *patterns[] = { "*.iso", "*.img", "*.ima", "*.flp", "*.qcow2", "*.raw", "*.vmdk",
                               "*.vdi", "*.vhd", "*.vhdx", NULL };
    for (const char **pat = patterns; *pat; pat++)
        gtk_file_filter_add_pattern(f, *pat);
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d), f);
    g_object_unref(f);
    GApplication *app = g_application_get_default();
    GSettings *s = app ? vireo_application_get_settings(VIREO_APPLICATION(app)) : NULL;
    g_autofree char *folder = s ? g_settings_get_string(s, "last-media-folder") : NULL;
    if (folder && *folder) {
        g_autoptr(GFile) dir = g_file_new_for_path(folder);
        gtk_file_chooser_set_current_folder(GTK_FILE_CHOOSER(d), dir, NULL);
    }
    g_signal_connect(d, "response", G_CALLBACK(on_media_chosen), w);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

/* ---- system page ---- */

static char *unique_name(VireoWizard *w, const char *base)
{
    char *name = g_strdup(base);
    for (int i = 2; vireo_library_find(w->library, name) || !vm_library_check_name(name, NULL); i++) {
        g_free(name);
        name = g_strdup_printf("%s %d", base, i);
        if (i > 1000)
            break;
    }
    return name;
}

static guint preset_index(const VireoOsPreset *p)
{
    size_t n;
    const VireoOsPreset *all = vireo_os_presets(&n);
    return p ? (guint)(p - all) : (guint)(n - 1);
}

/* A preset's or osinfo's sizes, except where the user typed their own. */
static void apply_sizes(VireoWizard *w, uint64_t ram, uint64_t disk, unsigned cpus)
{
    bool was_filling = w->filling;
    w->filling = true;
    if (!w->memory_edited)
        gtk_spin_button_set_value(w->memory_spin, (double)(ram / MIB));
    if (!w->cpus_edited)
        gtk_spin_button_set_value(w->cpus_spin, vireo_os_fit_cpus(cpus));
    if (!w->disk_size_edited)
        gtk_spin_button_set_value(w->disk_size_spin, (double)disk / (double)GIB);
    w->filling = was_filling;
}

static void apply_guess(VireoWizard *w)
{
    if (w->defaults_applied)
        return;
    w->defaults_applied = true;
    w->filling = true;
    VireoMediaKind kind = selected_media_kind(w);
    const VireoOsGuess *g = kind != VIREO_MEDIA_NONE ? w->guess : NULL;
    const VireoOsPreset *p = g ? g->preset : vireo_os_preset_find("other");
    adw_combo_row_set_selected(w->os_row, preset_index(p));
    g_autofree char *found = g && g->identified ? g_strdup_printf(_("Recognised: %s"), g->os_name) : NULL;
    adw_action_row_set_subtitle(ADW_ACTION_ROW(w->os_row), found ? found : "");
    /* osinfo's name for a recognised system ("FreeDOS 1.2"), else the preset's. */
    if (!w->name_edited) {
        g_autofree char *name = unique_name(w, g && g->identified ? g->os_name : _(p->vm_name));
        gtk_editable_set_text(GTK_EDITABLE(w->name_row), name);
    }
    if (g)
        apply_sizes(w, g->ram, g->disk, g->cpus);
    else
        apply_sizes(w, p->ram, p->disk, p->cpus);
    bool have_disk_image = kind == VIREO_MEDIA_DISK && w->probed_kind == VIREO_MEDIA_DISK;
    gtk_widget_set_visible(GTK_WIDGET(w->disk_existing_row), have_disk_image);
    gtk_widget_set_visible(GTK_WIDGET(w->disk_asis_row), have_disk_image && w->probed_format);
    if (have_disk_image && w->probed_format) {
        /* Vireo cannot write the format: the copy is the only way, and the row says so. */
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(w->disk_existing_row),
                                      _("Convert to qcow2 (recommended)"));
        g_autofree char *sub = g_strdup_printf(_("%s, copied to %s in the virtual machine's folder"),
                                               w->probed_path, NEW_DISK_FILE);
        adw_action_row_set_subtitle(w->disk_existing_row, sub);
        g_autofree char *why = vireo_disk_as_is_reason(w->probed_format);
        adw_action_row_set_subtitle(w->disk_asis_row, why);
        gtk_check_button_set_active(w->disk_existing, TRUE);
    } else if (have_disk_image) {
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(w->disk_existing_row), _("The hard disk image"));
        adw_action_row_set_subtitle(w->disk_existing_row, w->probed_path);
        gtk_check_button_set_active(w->disk_existing, TRUE);
    } else {
        gtk_check_button_set_active(w->disk_new, TRUE);
    }
    w->filling = false;
}

static void on_os_selected(AdwComboRow *row, GParamSpec *ps, VireoWizard *w)
{
    if (w->filling)
        return;
    /* The user picked a system: take its preset's hardware. */
    size_t n;
    const VireoOsPreset *all = vireo_os_presets(&n);
    guint i = adw_combo_row_get_selected(row);
    if (i < n) {
        w->memory_edited = w->cpus_edited = w->disk_size_edited = false;
        apply_sizes(w, all[i].ram, all[i].disk, all[i].cpus);
    }
    update_buttons(w);
}

/* More processors than the computer has is allowed (up to what the engine runs) but
 * said on the row: the extra vCPU threads share cores. */
static void on_cpus_changed(GtkSpinButton *spin, VireoWizard *w)
{
    g_autofree char *advice = vireo_cpus_advice((unsigned)gtk_spin_button_get_value_as_int(spin));
    adw_action_row_set_subtitle(w->cpus_row, advice ? advice : "");
    if (advice)
        gtk_widget_add_css_class(GTK_WIDGET(w->cpus_row), "warning");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(w->cpus_row), "warning");
}

static void on_field_changed(GtkWidget *widget, VireoWizard *w)
{
    if (!w->filling) {
        if (widget == GTK_WIDGET(w->name_row))
            w->name_edited = true;
        else if (widget == GTK_WIDGET(w->memory_spin))
            w->memory_edited = true;
        else if (widget == GTK_WIDGET(w->cpus_spin))
            w->cpus_edited = true;
        else if (widget == GTK_WIDGET(w->disk_size_spin))
            w->disk_size_edited = true;
    }
    update_buttons(w);
}

/* ---- the VM that comes out ---- */

static const VireoOsPreset *selected_preset(VireoWizard *w)
{
    size_t n;
    const VireoOsPreset *all = vireo_os_presets(&n);
    guint i = adw_combo_row_get_selected(w->os_row);
    return &all[i < n ? i : n - 1];
}

static GKeyFile *build_conf(VireoWizard *w)
{
    GKeyFile *kf = vmconf_new();
    const VireoOsPreset *p = selected_preset(w);
    VireoMediaKind kind = selected_media_kind(w);
    /* Keep osinfo's precise answer when the user left its family selected. */
    bool use_guess = kind != VIREO_MEDIA_NONE && w->guess && w->guess->preset == p;
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "os-id", use_guess ? w->guess->os_id : p->id);
    /* The ID is what counts; the name is shown in the language of the day. osinfo's
     * product names are the same in every language, so only they are kept. */
    if (use_guess && w->guess->identified)
        g_key_file_set_string(kf, VMCONF_GROUP_VM, "os-name", w->guess->os_name);
    g_autofree char *mem = g_strdup_printf("%dM", gtk_spin_button_get_value_as_int(w->memory_spin));
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "memory", mem);
    g_key_file_set_integer(kf, VMCONF_GROUP_VM, "cpus", gtk_spin_button_get_value_as_int(w->cpus_spin));
    const char *boot = "cda";
    if (kind == VIREO_MEDIA_CDROM)
        boot = "dca";
    else if (kind == VIREO_MEDIA_FLOPPY)
        boot = "acd";
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "boot", boot);
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "sound", p->sound);
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "network", p->network);
    g_key_file_set_string(kf, VMCONF_GROUP_VM, "display", p->display);

    /* Only a new, empty disk goes on virtio: an existing system may name its disks as
     * IDE ones (/dev/sda in fstab) or lack the driver. */
    if (gtk_check_button_get_active(w->disk_new))
        g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, p->virtio_disk ? "vda" : "hda", NEW_DISK_FILE);
    else if (gtk_check_button_get_active(w->disk_existing) && kind == VIREO_MEDIA_DISK)
        g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, "hda",
                              w->probed_format ? NEW_DISK_FILE : w->probed_path);
    /* Every VM has a CD drive, so a medium can go in later. */
    g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, "cdrom", kind == VIREO_MEDIA_CDROM ? w->probed_path : "");
    if (kind == VIREO_MEDIA_FLOPPY || !g_strcmp0(p->id, "dos") || !g_strcmp0(p->id, "win9x"))
        g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, "fda", kind == VIREO_MEDIA_FLOPPY ? w->probed_path : "");
    return kf;
}

static void add_summary_row(VireoWizard *w, const char *title, const char *value)
{
    GtkWidget *row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), value);
    gtk_list_box_append(w->summary_list, row);
}

static void fill_summary(VireoWizard *w)
{
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(w->summary_list))))
        gtk_list_box_remove(w->summary_list, child);
    g_autoptr(GKeyFile) kf = build_conf(w);
    const char *name = gtk_editable_get_text(GTK_EDITABLE(w->name_row));
    add_summary_row(w, _("Name"), name);
    g_autofree char *os_id = g_key_file_get_string(kf, VMCONF_GROUP_VM, "os-id", NULL);
    g_autofree char *os = g_key_file_get_string(kf, VMCONF_GROUP_VM, "os-name", NULL);
    add_summary_row(w, _("System"), vireo_os_display_name(os_id, os));
    g_autofree char *mem = g_strdup_printf(_("%d MiB"), gtk_spin_button_get_value_as_int(w->memory_spin));
    add_summary_row(w, _("Memory"), mem);
    g_autofree char *cpus = g_strdup_printf("%d", gtk_spin_button_get_value_as_int(w->cpus_spin));
    add_summary_row(w, _("Processors"), cpus);
    VireoMediaKind kind = selected_media_kind(w);
    if (kind == VIREO_MEDIA_CDROM)
        add_summary_row(w, _("CD drive"), w->probed_path);
    else if (kind == VIREO_MEDIA_FLOPPY)
        add_summary_row(w, _("Floppy drive"), w->probed_path);
    g_autofree char *disk = NULL;
    if (gtk_check_button_get_active(w->disk_new))
        disk = g_strdup_printf(_("New %.1f GiB disk (%s, grows as it fills)"),
                               gtk_spin_button_get_value(w->disk_size_spin), NEW_DISK_FILE);
    else if (gtk_check_button_get_active(w->disk_existing) && w->probed_format)
        disk = g_strdup_printf(_("%s converted to qcow2 (%s)"), w->probed_path, NEW_DISK_FILE);
    else if (gtk_check_button_get_active(w->disk_existing))
        disk = g_strdup(w->probed_path);
    else
        disk = g_strdup(_("None"));
    bool virtio = gtk_check_button_get_active(w->disk_new) && selected_preset(w)->virtio_disk;
    add_summary_row(w, virtio ? _("Hard disk (VirtIO)") : _("Hard disk"), disk);
    g_autofree char *folder = g_build_filename(vireo_library_get_root(w->library), name, NULL);
    add_summary_row(w, _("Folder"), folder);
}

static void show_create_error(VireoWizard *w, const char *message)
{
    /* The whole reason, where it can be read (a toast cuts it off). */
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(w), _("Cannot Create the Virtual Machine"), NULL);
    adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(d), "%s\n\n%s", message,
        _("Nothing was created. Change the name, or free the folder, and try again."));
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

static void created(VireoWizard *w, const char *name)
{
    GtkWindow *parent = gtk_window_get_transient_for(GTK_WINDOW(w));
    if (parent && VIREO_IS_WINDOW(parent)) {
        g_autofree char *msg = g_strdup_printf(_("“%s” created"), name);
        vireo_window_show_toast(VIREO_WINDOW(parent), msg);
    }
    gtk_window_destroy(GTK_WINDOW(w));
}

typedef struct Conversion {
    VireoWizard *w;
    char *name;
    char *part, *final;     /* the disk while converting, and its name once complete */
} Conversion;

static void conversion_free(gpointer p)
{
    Conversion *c = p;
    g_object_unref(c->w);
    g_free(c->name);
    g_free(c->part);
    g_free(c->final);
    g_free(c);
}

static void conversion_done(gpointer data, const GError *err)
{
    Conversion *c = data;
    VireoWizard *w = c->w;
    w->converting = false;
    const char *root = vireo_library_get_root(w->library);
    GError *add_err = NULL;
    if (!err && g_rename(c->part, c->final) != 0) {
        int e = errno;
        g_set_error(&add_err, G_FILE_ERROR, g_file_error_from_errno(e), _("Cannot rename %s: %s"), c->part,
                    g_strerror(e));
    }
    if (!err && !add_err && vireo_library_add(w->library, c->name, &add_err)) {
        created(w, c->name);
        return;
    }
    /* The folder made for the disk goes again: cancelled or failed, nothing stays. */
    vm_library_delete(root, c->name, NULL);
    if (g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED))
        adw_toast_overlay_add_toast(w->toast_overlay,
                                    adw_toast_new(_("Conversion cancelled; nothing was created")));
    else
        show_create_error(w, err ? err->message : add_err->message);
    g_clear_error(&add_err);
    update_buttons(w);
}

/* Creates the VM; false with err on failure. A disk to convert is copied afterwards on
 * a worker thread (*pending then set): the wizard stays until it is done. */
static bool create_vm(VireoWizard *w, bool *pending, GError **err)
{
    g_autoptr(GKeyFile) kf = build_conf(w);
    const char *name = gtk_editable_get_text(GTK_EDITABLE(w->name_row));
    const char *root = vireo_library_get_root(w->library);
    g_autofree char *dir = vm_library_create(root, name, kf, err);
    if (!dir)
        return false;
    if (gtk_check_button_get_active(w->disk_new)) {
        g_autofree char *disk = g_build_filename(dir, NEW_DISK_FILE, NULL);
        ImageCreateOptions o = { 0 };
        o.format = "qcow2";
        o.size = (uint64_t)(gtk_spin_button_get_value(w->disk_size_spin) * (double)GIB) & ~UINT64_C(511);
        o.size_given = true;
        if (!image_create(disk, &o, err)) {
            vm_library_delete(root, name, NULL);
            return false;
        }
    } else if (gtk_check_button_get_active(w->disk_existing) && w->probed_format) {
        /* Converted under a temporary name and renamed when complete: a crash on the way
         * leaves a VM whose disk is missing (it says so), never one with half a disk. */
        g_autofree char *disk = g_build_filename(dir, NEW_DISK_FILE ".part", NULL);
        Conversion *c = g_new0(Conversion, 1);
        c->part = g_strdup(disk);
        c->final = g_build_filename(dir, NEW_DISK_FILE, NULL);
        c->w = g_object_ref(w);
        c->name = g_strdup(name);
        w->converting = true;
        *pending = true;
        vireo_disk_convert_run(GTK_WINDOW(w), w->probed_path, w->probed_format, disk,
                               conversion_done, c, conversion_free);
        return true;
    }
    return vireo_library_add(w->library, name, err) != NULL;
}

/* ---- navigation ---- */

static void action_next(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoWizard *w = data;
    const char *page = gtk_stack_get_visible_child_name(w->pages);
    if (!g_strcmp0(page, "media")) {
        apply_guess(w);
        gtk_stack_set_visible_child_name(w->pages, "system");
        gtk_window_set_focus(GTK_WINDOW(w), GTK_WIDGET(w->name_row));
    } else if (!g_strcmp0(page, "system")) {
        if (!system_page_valid(w))
            return;
        fill_summary(w);
        gtk_stack_set_visible_child_name(w->pages, "summary");
        gtk_window_set_focus(GTK_WINDOW(w), GTK_WIDGET(w->next_button));
    } else {
        g_autoptr(GError) err = NULL;
        bool pending = false;
        if (w->converting)
            return;
        if (!create_vm(w, &pending, &err)) {
            show_create_error(w, err->message);
            return;
        }
        if (!pending)
            created(w, gtk_editable_get_text(GTK_EDITABLE(w->name_row)));
        return;
    }
    update_buttons(w);
}

static void action_back(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoWizard *w = data;
    const char *page = gtk_stack_get_visible_child_name(w->pages);
    if (!g_strcmp0(page, "media")) {
        gtk_window_destroy(GTK_WINDOW(w));
        return;
    }
    gtk_stack_set_visible_child_name(w->pages, !g_strcmp0(page, "summary") ? "system" : "media");
    update_buttons(w);
}

/* The application's Import…: the wizard is no application window, so it forwards. */
static void action_import(GSimpleAction *a, GVariant *p, gpointer data)
{
    GApplication *app = g_application_get_default();
    if (app)
        g_action_group_activate_action(G_ACTION_GROUP(app), "import-vm", NULL);
}

static const GActionEntry wizard_actions[] = {
    { "next", action_next, NULL, NULL, NULL, { 0 } },
    { "back", action_back, NULL, NULL, NULL, { 0 } },
    { "choose-media", action_choose_media, NULL, NULL, NULL, { 0 } },
    { "import", action_import, NULL, NULL, NULL, { 0 } },
};

static void vireo_wizard_dispose(GObject *obj)
{
    VireoWizard *w = VIREO_WIZARD(obj);
    if (w->probe_timeout)
        g_source_remove(w->probe_timeout);
    w->probe_timeout = 0;
    if (w->probe_cancel)
        g_cancellable_cancel(w->probe_cancel);
    g_clear_object(&w->probe_cancel);
    g_clear_object(&w->actions);
    g_clear_object(&w->library);
    G_OBJECT_CLASS(vireo_wizard_parent_class)->dispose(obj);
}

static void vireo_wizard_finalize(GObject *obj)
{
    VireoWizard *w = VIREO_WIZARD(obj);
    g_free(w->probed_path);
    vireo_os_guess_free(w->guess);
    G_OBJECT_CLASS(vireo_wizard_parent_class)->finalize(obj);
}

static void vireo_wizard_class_init(VireoWizardClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = vireo_wizard_dispose;
    G_OBJECT_CLASS(klass)->finalize = vireo_wizard_finalize;
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
    gtk_widget_class_set_template_from_resource(wc, "/org/vireo/Vireo/ui/vireo-wizard.ui");
#define BIND(x) gtk_widget_class_bind_template_child(wc, VireoWizard, x)
    BIND(back_button); BIND(next_button); BIND(toast_overlay); BIND(pages);
    BIND(media_cdrom); BIND(media_floppy); BIND(media_disk); BIND(media_none);
    BIND(file_group); BIND(media_entry); BIND(media_status);
    BIND(os_row); BIND(name_row); BIND(name_error); BIND(memory_error); BIND(disk_error);
    BIND(memory_spin); BIND(cpus_spin); BIND(disk_size_spin); BIND(cpus_row);
    BIND(disk_new); BIND(disk_existing); BIND(disk_none); BIND(disk_existing_row);
    BIND(disk_asis_row); BIND(disk_asis);
    BIND(summary_list);
#undef BIND
    gtk_widget_class_add_binding_action(wc, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void vireo_wizard_init(VireoWizard *w)
{
    gtk_widget_init_template(GTK_WIDGET(w));
    /* The engine's limits (config.h) bound the fields: a preset or osinfo asking for more
     * processors than Vireo runs gets what it can have. */
    gtk_spin_button_set_range(w->memory_spin, VM_RAM_MIN_MIB, (double)(VM_RAM_MAX >> 20));
    gtk_spin_button_set_range(w->cpus_spin, 1, VM_CPUS_MAX);
    w->actions = g_simple_action_group_new();
    g_action_map_add_action_entries(G_ACTION_MAP(w->actions), wizard_actions,
                                    G_N_ELEMENTS(wizard_actions), w);
    gtk_widget_insert_action_group(GTK_WIDGET(w), "wizard", G_ACTION_GROUP(w->actions));

    size_t n;
    const VireoOsPreset *presets = vireo_os_presets(&n);
    GtkStringList *names = gtk_string_list_new(NULL);
    for (size_t i = 0; i < n; i++)
        gtk_string_list_append(names, _(presets[i].name));
    adw_combo_row_set_model(w->os_row, G_LIST_MODEL(names));
    g_object_unref(names);

    g_signal_connect(w->media_entry, "changed", G_CALLBACK(on_media_entry_changed), w);
    g_signal_connect(w->media_entry, "activate", G_CALLBACK(on_media_entry_activate), w);
    GtkCheckButton *kinds[] = { w->media_cdrom, w->media_floppy, w->media_disk, w->media_none };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        g_signal_connect(kinds[i], "toggled", G_CALLBACK(on_media_kind_toggled), w);
    g_signal_connect(w->os_row, "notify::selected", G_CALLBACK(on_os_selected), w);
    g_signal_connect(w->name_row, "changed", G_CALLBACK(on_field_changed), w);
    g_signal_connect(w->memory_spin, "value-changed", G_CALLBACK(on_field_changed), w);
    g_signal_connect(w->cpus_spin, "value-changed", G_CALLBACK(on_field_changed), w);
    g_signal_connect(w->cpus_spin, "value-changed", G_CALLBACK(on_cpus_changed), w);
    g_signal_connect(w->disk_size_spin, "value-changed", G_CALLBACK(on_field_changed), w);
    GtkCheckButton *disks[] = { w->disk_new, w->disk_existing, w->disk_none };
    for (size_t i = 0; i < G_N_ELEMENTS(disks); i++)
        g_signal_connect(disks[i], "toggled", G_CALLBACK(on_field_changed), w);
    set_media_status(w, _("Choose the image file."), false);
}

VireoWizard *vireo_wizard_new(GtkWindow *parent, VireoLibrary *library)
{
    VireoWizard *w = g_object_new(VIREO_TYPE_WIZARD, "transient-for", parent, NULL);
    w->library = g_object_ref(library);
    update_buttons(w);
    /* The first thing to do is to name the medium, not to cancel. */
    gtk_window_set_focus(GTK_WINDOW(w), GTK_WIDGET(w->media_entry));
    return w;
}

const char *vireo_wizard_get_page(VireoWizard *w)
{
    return gtk_stack_get_visible_child_name(w->pages);
}

gboolean vireo_wizard_is_busy(VireoWizard *w)
{
    return w->probe_timeout != 0 || w->probe_cancel != NULL || w->converting;
}
