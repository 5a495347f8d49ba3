/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM settings window. Widgets carry names (gtk_widget_set_name) that the UI tests
 * use to find them. */
#include "ui/gtk/vireo-settings-internal.h"
#include "engine/vmconf.h"
#include "ui/gtk/vireo-osinfo.h"

#include <glib/gi18n.h>
#include <string.h>

/* Boot orders people pick from; another value from vm.conf is shown as it is. */
static const struct {
    const char *order;
    const char *label;
} boot_orders[] = {
    { "cda", N_("Hard disk, CD, floppy") },
    { "dca", N_("CD, hard disk, floppy") },
    { "acd", N_("Floppy, hard disk, CD") },
    { "adc", N_("Floppy, CD, hard disk") },
    { "c", N_("Hard disk only") },
    { "d", N_("CD only") },
    { "a", N_("Floppy only") },
};

/* [vm] sound= and network= as the rows offer them (engine/config-devices.c). */
typedef struct Choice {
    const char *value;
    const char *label;
} Choice;

static const Choice sound_choices[] = {
    { "none", N_("None") },
    { "ac97", N_("Intel AC’97") },
    { "hda", N_("Intel HD Audio") },
    { "sb16", N_("Sound Blaster 16") },
};

static const Choice network_choices[] = {
    { "none", N_("None") },
    { "e1000", N_("Intel PRO/1000 (e1000)") },
    { "rtl8139", N_("Realtek RTL8139") },
    { "ne2k_pci", N_("Realtek RTL8029 (NE2000 PCI)") },
    { "ne2k_isa", N_("NE2000 ISA (port 0x300, IRQ 9)") },
    { "virtio-net-pci", N_("virtio (paravirtual: Linux, BSD)") },
};

static void settings_free(Settings *s)
{
    if (s->disk_rows)
        g_ptr_array_unref(s->disk_rows);
    settings_network_free(s);
    settings_usb_free(s);
    g_object_unref(s->machine);
    g_free(s);
}

/* A copy of the VM's key file to change and check before it replaces vm.conf. */
GKeyFile *settings_conf_copy(Settings *s)
{
    GKeyFile *copy = g_key_file_new();
    GKeyFile *cur = vireo_machine_get_conf(s->machine);
    if (cur) {
        gsize len;
        g_autofree char *data = g_key_file_to_data(cur, &len, NULL);
        g_key_file_load_from_data(copy, data, len, G_KEY_FILE_KEEP_COMMENTS, NULL);
    }
    return copy;
}

void settings_row_show_error(GtkWidget *row, const char *message, const char *normal_subtitle)
{
    if (ADW_IS_ACTION_ROW(row))
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), message ? message : (normal_subtitle ? normal_subtitle : ""));
    else
        gtk_widget_set_tooltip_text(row, message);
    if (message)
        gtk_widget_add_css_class(row, "error");
    else
        gtk_widget_remove_css_class(row, "error");
}

/* Writes the changed copy; a bad value is explained on the row that made it. */
bool settings_commit(Settings *s, GKeyFile *conf, GtkWidget *row, const char *normal_subtitle)
{
    g_autoptr(GError) err = NULL;
    bool ok = vireo_machine_save_conf(s->machine, conf, &err);
    settings_row_show_error(row, ok ? NULL : err->message, normal_subtitle);
    /* vm.conf was checked whole before it was written: no bad value is left. */
    if (ok && s->problem)
        gtk_widget_set_visible(GTK_WIDGET(s->problem), FALSE);
    return ok;
}

static void on_memory_changed(GtkSpinButton *spin, Settings *s)
{
    if (s->loading)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_autofree char *v = g_strdup_printf("%dM", gtk_spin_button_get_value_as_int(spin));
    g_key_file_set_string(conf, VMCONF_GROUP_VM, "memory", v);
    settings_commit(s, conf, s->memory_row, NULL);
}

static unsigned spin_uint(GtkSpinButton *spin)
{
    return (unsigned)gtk_spin_button_get_value_as_int(spin);
}

/* The expander's subtitle: the topology in words, as the guest will see it. */
static void show_topology(Settings *s)
{
    unsigned so = spin_uint(s->sockets), co = spin_uint(s->cores), th = spin_uint(s->threads);
    g_autofree char *sockets = g_strdup_printf(ngettext("%u socket", "%u sockets", so), so);
    g_autofree char *cores = g_strdup_printf(ngettext("%u core", "%u cores", co), co);
    g_autofree char *threads = g_strdup_printf(ngettext("%u thread", "%u threads", th), th);
    /* TRANSLATORS: e.g. "2 sockets × 2 cores × 1 thread" */
    g_autofree char *text = g_strdup_printf(_("%s × %s × %s"), sockets, cores, threads);
    if (!gtk_widget_has_css_class(s->topology_row, "error"))
        adw_expander_row_set_subtitle(ADW_EXPANDER_ROW(s->topology_row), text);
}

/* The processor count and its topology into conf: cpus= a plain count, and sockets,
 * cores and threads only when they differ from one socket of N cores (vireo-run's and
 * QEMU's default for -smp N on pc), so a simple VM keeps a simple vm.conf and a topology
 * once given (also in -smp's form in cpus=) survives every save. */
static void put_processors(GKeyFile *conf, unsigned so, unsigned co, unsigned th)
{
    g_key_file_set_integer(conf, VMCONF_GROUP_VM, "cpus", (gint)(so * co * th));
    if (so == 1 && th == 1) {
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "sockets", NULL);
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "cores", NULL);
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "threads", NULL);
        return;
    }
    g_key_file_set_integer(conf, VMCONF_GROUP_VM, "sockets", (gint)so);
    g_key_file_set_integer(conf, VMCONF_GROUP_VM, "cores", (gint)co);
    g_key_file_set_integer(conf, VMCONF_GROUP_VM, "threads", (gint)th);
}

static void set_topology_spins(Settings *s, unsigned so, unsigned co, unsigned th)
{
    bool was = s->loading;
    s->loading = true;
    gtk_spin_button_set_value(s->sockets, so);
    gtk_spin_button_set_value(s->cores, co);
    gtk_spin_button_set_value(s->threads, th);
    s->loading = was;
}

/* A new count keeps the sockets and threads when they divide it (the cores per socket
 * change); otherwise the topology goes back to one socket of N cores. */
static void on_cpus_changed(GtkSpinButton *spin, Settings *s)
{
    if (s->loading)
        return;
    unsigned n = spin_uint(spin), so = spin_uint(s->sockets), th = spin_uint(s->threads);
    if (n % (so * th))
        so = 1, th = 1;
    set_topology_spins(s, so, n / (so * th), th);
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    put_processors(conf, so, n / (so * th), th);
    g_autofree char *advice = vireo_cpus_advice(n);
    settings_commit(s, conf, s->cpus_row, advice);
    settings_row_show_error(s->topology_row, NULL, NULL);
    show_topology(s);
}

/* Sockets, cores or threads: the count becomes their product, up to the engine's limit. */
static void on_topology_changed(GtkSpinButton *spin, Settings *s)
{
    if (s->loading)
        return;
    unsigned so = spin_uint(s->sockets), co = spin_uint(s->cores), th = spin_uint(s->threads);
    unsigned n = so * co * th;
    if (n > VM_CPUS_MAX) {
        g_autofree char *msg = g_strdup_printf(_("%u × %u × %u = %u processors: at most %d run"), so, co, th, n,
                                               VM_CPUS_MAX);
        settings_row_show_error(s->topology_row, msg, NULL);
        adw_expander_row_set_subtitle(ADW_EXPANDER_ROW(s->topology_row), msg);
        return;
    }
    bool was = s->loading;
    s->loading = true;
    gtk_spin_button_set_value(s->cpus, n);
    s->loading = was;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    put_processors(conf, so, co, th);
    g_autofree char *advice = vireo_cpus_advice(n);
    settings_row_show_error(s->topology_row, NULL, NULL);
    if (settings_commit(s, conf, s->cpus_row, advice))
        show_topology(s);
}

/* The row says when the VM has more processors than the computer (vireo_cpus_advice). */
static void show_cpus_advice(Settings *s)
{
    g_autofree char *advice = vireo_cpus_advice((unsigned)gtk_spin_button_get_value_as_int(s->cpus));
    if (!gtk_widget_has_css_class(s->cpus_row, "error"))
        adw_action_row_set_subtitle(ADW_ACTION_ROW(s->cpus_row), advice ? advice : "");
}

static void on_display_changed(AdwComboRow *row, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    static const char *const values[] = { "std", "none", "cirrus", "virtio" };
    guint sel = adw_combo_row_get_selected(row);
    g_key_file_set_string(conf, VMCONF_GROUP_VM, "display", values[sel < G_N_ELEMENTS(values) ? sel : 0]);
    settings_commit(s, conf, s->display_row, NULL);
}

/* A choice row's key: the list's value, or the vm.conf value shown after the list. */
static void on_choice_changed(AdwComboRow *row, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    const Choice *choices = g_object_get_data(G_OBJECT(row), "choices");
    guint n = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(row), "n-choices"));
    guint i = adw_combo_row_get_selected(row);
    if (i >= n)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_VM, g_object_get_data(G_OBJECT(row), "key"), choices[i].value);
    settings_commit(s, conf, GTK_WIDGET(row), NULL);
}

static AdwComboRow *choice_row(Settings *s, const char *title, const char *subtitle, const char *name,
                               const char *key, const Choice *choices, size_t n)
{
    AdwComboRow *row = ADW_COMBO_ROW(adw_combo_row_new());
    gtk_widget_set_name(GTK_WIDGET(row), name);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    if (subtitle)
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    GtkStringList *list = gtk_string_list_new(NULL);
    for (size_t i = 0; i < n; i++)
        gtk_string_list_append(list, _(choices[i].label));
    adw_combo_row_set_model(row, G_LIST_MODEL(list));
    g_object_unref(list);
    g_object_set_data(G_OBJECT(row), "choices", (gpointer)choices);
    g_object_set_data(G_OBJECT(row), "n-choices", GUINT_TO_POINTER((guint)n));
    g_object_set_data(G_OBJECT(row), "key", (gpointer)key);
    g_signal_connect(row, "notify::selected", G_CALLBACK(on_choice_changed), s);
    return row;
}

/* Selects vm.conf's value (absent: the first choice, none); one not in the list is shown
 * after it, as it is. */
static void choice_load(AdwComboRow *row, GKeyFile *kf)
{
    const Choice *choices = g_object_get_data(G_OBJECT(row), "choices");
    guint n = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(row), "n-choices"));
    g_autofree char *v = kf ? g_key_file_get_string(kf, VMCONF_GROUP_VM, g_object_get_data(G_OBJECT(row), "key"), NULL)
                            : NULL;
    if (v)
        g_strstrip(v);
    guint sel = n;
    for (guint i = 0; i < n; i++)
        if (!g_ascii_strcasecmp(choices[i].value, v && *v ? v : "none"))
            sel = i;
    GtkStringList *list = GTK_STRING_LIST(adw_combo_row_get_model(row));
    if (sel == n && g_list_model_get_n_items(G_LIST_MODEL(list)) == n)
        gtk_string_list_append(list, v);
    adw_combo_row_set_selected(row, sel);
}

static void on_boot_order_changed(AdwComboRow *row, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    guint i = adw_combo_row_get_selected(row);
    if (i >= G_N_ELEMENTS(boot_orders))
        return;   /* the vm.conf value that is not in the list: unchanged */
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_VM, "boot", boot_orders[i].order);
    settings_commit(s, conf, s->boot_row, NULL);
}

static void on_boot_menu_changed(GtkSwitch *sw, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_boolean(conf, VMCONF_GROUP_VM, "boot-menu", gtk_switch_get_active(sw));
    settings_commit(s, conf, s->menu_row, NULL);
}

static const char clipboard_subtitle[] = N_("Copied text goes both ways with a guest that runs spice-vdagent");

static void on_clipboard_changed(GtkSwitch *sw, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_boolean(conf, VMCONF_GROUP_VM, "clipboard", gtk_switch_get_active(sw));
    settings_commit(s, conf, s->clipboard_row, _(clipboard_subtitle));
}

/* ---- files: firmware and removable media ---- */

static char *conf_path_value(Settings *s, const char *group, const char *key)
{
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    char *v = kf ? g_key_file_get_string(kf, group, key, NULL) : NULL;
    if (v)
        g_strstrip(v);
    return v;
}

void settings_update_file_rows(Settings *s)
{
    g_autofree char *fw = conf_path_value(s, VMCONF_GROUP_VM, "firmware");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->firmware_row),
                                !fw || !*fw || !strcmp(fw, "seabios") ? _("SeaBIOS (built in)") : fw);
    g_autofree char *cd = conf_path_value(s, VMCONF_GROUP_DRIVES, "cdrom");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->cd_row), cd && *cd ? cd : _("Empty"));
    g_autofree char *fd = conf_path_value(s, VMCONF_GROUP_DRIVES, "fda");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->floppy_row), fd && *fd ? fd : _("Empty"));
    /* A medium needs its drive: without one the row says so (add it under Disks). */
    GtkWidget *rows[] = { s->cd_row, s->floppy_row };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        GKeyFile *kf = vireo_machine_get_conf(s->machine);
        bool present = kf && g_key_file_has_key(kf, VMCONF_GROUP_DRIVES, i ? "fda" : "cdrom", NULL);
        gtk_widget_set_sensitive(rows[i], present);
        if (!present)
            adw_action_row_set_subtitle(ADW_ACTION_ROW(rows[i]), _("No drive"));
    }
    settings_disks_refresh(s);
}

typedef struct FileChoice {
    Settings *s;
    const char *group, *key;
    GtkWidget *row;
} FileChoice;

/* The engine's device behind a vm.conf drive key, for media changed while running. */
static const char *running_media_device(const char *group, const char *key)
{
    if (strcmp(group, VMCONF_GROUP_DRIVES))
        return NULL;
    if (!strcmp(key, "fda"))
        return "floppy0";
    if (!strcmp(key, "fdb"))
        return "floppy1";
    if (!strcmp(key, "cdrom"))
        return "ide1-cd0";   /* vm.conf's cdrom is the secondary master, as QEMU's -cdrom */
    return NULL;
}

static void set_file_key(Settings *s, const char *group, const char *key, const char *value,
                         GtkWidget *row)
{
    /* A running VM's drive takes the medium at once, as a real drive would; vm.conf
     * keeps it for the next start. A medium the drive refuses is not saved either. */
    const char *device = running_media_device(group, key);
    Vm *vm = vireo_machine_is_active(s->machine) ? vireo_machine_get_vm(s->machine) : NULL;
    if (device && vm) {
        g_autoptr(GError) err = NULL;
        if (!vm_change_media(vm, device, *value ? value : NULL, NULL, false, &err)) {
            settings_row_show_error(row, err->message, NULL);
            return;
        }
    }
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, group, key, value);
    if (settings_commit(s, conf, row, NULL))
        settings_update_file_rows(s);
}

static void on_file_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    FileChoice *fc = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path)
            set_file_key(fc->s, fc->group, fc->key, path, fc->row);
    }
    g_object_unref(d);
    g_free(fc);
}

void settings_choose_file(Settings *s, const char *group, const char *key, GtkWidget *row,
                        const char *title)
{
    GtkFileChooserNative *d = gtk_file_chooser_native_new(title, s->window, GTK_FILE_CHOOSER_ACTION_OPEN,
                                                          _("_Choose"), _("_Cancel"));
    FileChoice *fc = g_new0(FileChoice, 1);
    *fc = (FileChoice){ s, group, key, row };
    g_signal_connect(d, "response", G_CALLBACK(on_file_chosen), fc);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

static void on_choose_cd(GtkButton *b, Settings *s)
{
    settings_choose_file(s, VMCONF_GROUP_DRIVES, "cdrom", s->cd_row, _("Choose a CD Image"));
}

static void on_eject_cd(GtkButton *b, Settings *s)
{
    set_file_key(s, VMCONF_GROUP_DRIVES, "cdrom", "", s->cd_row);
}

static void on_choose_floppy(GtkButton *b, Settings *s)
{
    settings_choose_file(s, VMCONF_GROUP_DRIVES, "fda", s->floppy_row, _("Choose a Floppy Image"));
}

static void on_eject_floppy(GtkButton *b, Settings *s)
{
    set_file_key(s, VMCONF_GROUP_DRIVES, "fda", "", s->floppy_row);
}

static void on_choose_firmware(GtkButton *b, Settings *s)
{
    settings_choose_file(s, VMCONF_GROUP_VM, "firmware", s->firmware_row, _("Choose a BIOS Image"));
}

static void on_default_firmware(GtkButton *b, Settings *s)
{
    set_file_key(s, VMCONF_GROUP_VM, "firmware", "seabios", s->firmware_row);
}

/* ---- building ---- */

GtkWidget *settings_add_button(GtkWidget *row, const char *icon, const char *tooltip, const char *name,
                             GCallback cb, Settings *s)
{
    GtkWidget *b = gtk_button_new_from_icon_name(icon);
    gtk_widget_set_tooltip_text(b, tooltip);
    gtk_widget_set_name(b, name);
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(b, "flat");
    g_signal_connect(b, "clicked", cb, s);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), b);
    return b;
}

static GtkWidget *spin_row(const char *title, const char *name, double lo, double hi, double step,
                           GtkSpinButton **spin)
{
    GtkWidget *row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    *spin = GTK_SPIN_BUTTON(gtk_spin_button_new_with_range(lo, hi, step));
    gtk_widget_set_name(GTK_WIDGET(*spin), name);
    gtk_widget_set_valign(GTK_WIDGET(*spin), GTK_ALIGN_CENTER);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), GTK_WIDGET(*spin));
    return row;
}

/* One key of [vm] for a field; a bad value is shown on the field's row, naming it. */
static void load_number_key(Settings *s, GKeyFile *kf, const char *key, GtkWidget *row,
                            bool (*parse)(const char *, void *, GError **), void *out)
{
    g_autofree char *v = g_key_file_get_string(kf, VMCONF_GROUP_VM, key, NULL);
    g_autoptr(GError) err = NULL;
    if (!v || parse(g_strstrip(v), out, &err)) {
        settings_row_show_error(row, NULL, NULL);
        return;
    }
    g_autofree char *shown = config_shorten(v, CONFIG_QUOTE_MAX);
    g_autofree char *msg = g_strdup_printf(_("vm.conf has %s=%s: %s. Choose a value here to replace it."),
                                           key, shown, err->message);
    settings_row_show_error(row, msg, NULL);
}

static bool parse_ram(const char *v, void *out, GError **err)
{
    return vm_config_parse_ram(v, out, err);
}

static bool parse_cpus(const char *v, void *out, GError **err)
{
    return vm_config_parse_cpus(v, out, err);
}

static void load_key_by_key(Settings *s, GKeyFile *kf)
{
    uint64_t ram = 256u << 20;
    unsigned cpus = 1;
    load_number_key(s, kf, "memory", s->memory_row, parse_ram, &ram);
    load_number_key(s, kf, "cpus", s->cpus_row, parse_cpus, &cpus);
    gtk_spin_button_set_value(s->memory, (double)(ram >> 20));
    gtk_spin_button_set_value(s->cpus, cpus);
    set_topology_spins(s, 1, cpus, 1);
}

static void load_values(Settings *s)
{
    s->loading = true;
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    g_autoptr(VmConfig) cfg = kf ? vmconf_parse(kf, vireo_machine_get_name(s->machine),
                                                vireo_machine_get_dir(s->machine), NULL) : NULL;
    if (!cfg && kf) {
        /* vm.conf has a bad value: each field shows its own key as far as it is good,
         * and the rows of the bad ones say what is wrong with them. */
        g_autoptr(GError) err = NULL;
        vmconf_parse(kf, vireo_machine_get_name(s->machine), vireo_machine_get_dir(s->machine), &err);
        adw_preferences_group_set_description(s->problem, err ? err->message : NULL);
        gtk_widget_set_visible(GTK_WIDGET(s->problem), TRUE);
        load_key_by_key(s, kf);
    } else {
        gtk_widget_set_visible(GTK_WIDGET(s->problem), FALSE);
    }
    if (cfg) {
        gtk_spin_button_set_value(s->memory, (double)(cfg->ram_size >> 20));
        gtk_spin_button_set_value(s->cpus, cfg->smp);
        CpuTopology t = vm_config_topology(cfg);
        set_topology_spins(s, t.sockets, t.cores, t.threads);
        adw_combo_row_set_selected(s->display, !g_strcmp0(cfg->vga, "none")     ? 1
                                               : !g_strcmp0(cfg->vga, "cirrus") ? 2
                                               : !g_strcmp0(cfg->vga, "virtio") ? 3
                                                                                : 0);
        gtk_switch_set_active(s->boot_menu, cfg->boot_menu);
        const char *order = cfg->boot_order ? cfg->boot_order : "cda";
        GtkStringList *orders = GTK_STRING_LIST(adw_combo_row_get_model(s->boot_order));
        guint sel = G_N_ELEMENTS(boot_orders);
        for (guint i = 0; i < G_N_ELEMENTS(boot_orders); i++)
            if (!strcmp(boot_orders[i].order, order))
                sel = i;
        if (sel == G_N_ELEMENTS(boot_orders) &&
            g_list_model_get_n_items(G_LIST_MODEL(orders)) == G_N_ELEMENTS(boot_orders))
            gtk_string_list_append(orders, order);
        adw_combo_row_set_selected(s->boot_order, sel);
    }
    gtk_switch_set_active(s->clipboard, kf && g_key_file_get_boolean(kf, VMCONF_GROUP_VM, "clipboard", NULL));
    choice_load(s->sound, kf);
    choice_load(s->network, kf);
    settings_sound_load(s, kf);
    if (s->forwards)
        settings_network_refresh(s);
    if (s->usb_filters)
        settings_usb_refresh(s);
    settings_update_file_rows(s);
    show_cpus_advice(s);
    show_topology(s);
    s->loading = false;
}

static void update_sensitivity(VireoMachine *m, GParamSpec *ps, Settings *s)
{
    bool active = vireo_machine_is_active(m);
    AdwPreferencesGroup *groups[] = { s->hardware, s->boot, s->disks, s->kernel, s->sharing };
    const char *why = active ? _("These cannot change while the virtual machine runs. Shut it down first.") : NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(groups); i++) {
        gtk_widget_set_sensitive(GTK_WIDGET(groups[i]), !active);
        adw_preferences_group_set_description(groups[i], why);
    }
    /* The drives follow vm.conf again once the VM is off (it may have changed them). */
    if (!active)
        settings_update_file_rows(s);
}

static void on_state_notify(VireoMachine *m, GParamSpec *ps, GtkWindow *win)
{
    update_sensitivity(m, ps, g_object_get_data(G_OBJECT(win), "vireo-settings"));
}

GtkWindow *vireo_settings_dialog_new(GtkWindow *parent, VireoMachine *m)
{
    Settings *s = g_new0(Settings, 1);
    s->machine = g_object_ref(m);
    GtkWidget *win = adw_preferences_window_new();
    s->window = GTK_WINDOW(win);
    g_autofree char *title = g_strdup_printf(_("Settings of “%s”"), vireo_machine_get_name(m));
    gtk_window_set_title(GTK_WINDOW(win), title);
    gtk_window_set_transient_for(GTK_WINDOW(win), parent);
    gtk_window_set_modal(GTK_WINDOW(win), TRUE);
    adw_preferences_window_set_search_enabled(ADW_PREFERENCES_WINDOW(win), FALSE);
    g_object_set_data_full(G_OBJECT(win), "vireo-settings", s, (GDestroyNotify)settings_free);

    GtkWidget *page = adw_preferences_page_new();
    adw_preferences_window_add(ADW_PREFERENCES_WINDOW(win), ADW_PREFERENCES_PAGE(page));

    if (!vireo_machine_get_conf(m)) {
        GtkWidget *g = adw_preferences_group_new();
        adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(g), _("This virtual machine cannot be read"));
        adw_preferences_group_set_description(ADW_PREFERENCES_GROUP(g), vireo_machine_get_error(m));
        adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), ADW_PREFERENCES_GROUP(g));
        return GTK_WINDOW(win);
    }

    /* What is wrong with vm.conf, when something is. */
    s->problem = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    gtk_widget_set_name(GTK_WIDGET(s->problem), "problem-group");
    adw_preferences_group_set_title(s->problem, _("vm.conf Has a Bad Value"));
    gtk_widget_add_css_class(GTK_WIDGET(s->problem), "error");
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), s->problem);

    s->hardware = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(s->hardware, _("Hardware"));
    /* The engine's limits (config.h), as vm.conf and vireo-run take them. */
    s->memory_row = spin_row(_("Memory (MiB)"), "memory-spin", VM_RAM_MIN_MIB, (double)(VM_RAM_MAX >> 20), 16,
                             &s->memory);
    s->cpus_row = spin_row(_("Processors"), "cpus-spin", 1, VM_CPUS_MAX, 1, &s->cpus);
    gtk_widget_set_name(s->cpus_row, "cpus-row");
    g_signal_connect(s->memory, "value-changed", G_CALLBACK(on_memory_changed), s);
    g_signal_connect(s->cpus, "value-changed", G_CALLBACK(on_cpus_changed), s);
    /* Advanced: how the guest sees the processors (CPUID, APIC IDs, the MADT). */
    s->topology_row = adw_expander_row_new();
    gtk_widget_set_name(s->topology_row, "topology-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->topology_row), _("Processor topology (advanced)"));
    struct {
        const char *title, *name;
        GtkSpinButton **spin;
    } topo[] = {
        { N_("Sockets"), "sockets-spin", &s->sockets },
        { N_("Cores per socket"), "cores-spin", &s->cores },
        { N_("Threads per core"), "threads-spin", &s->threads },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(topo); i++) {
        GtkWidget *row = spin_row(_(topo[i].title), topo[i].name, 1, VM_CPUS_MAX, 1, topo[i].spin);
        adw_expander_row_add_row(ADW_EXPANDER_ROW(s->topology_row), row);
        g_signal_connect(*topo[i].spin, "value-changed", G_CALLBACK(on_topology_changed), s);
    }
    s->display = ADW_COMBO_ROW(adw_combo_row_new());
    s->display_row = GTK_WIDGET(s->display);
    gtk_widget_set_name(s->display_row, "display-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->display), _("Display adapter"));
    const char *displays[] = { _("Standard VGA (Bochs VBE)"), _("None"), _("Cirrus CL-GD5446"),
                               _("virtio-vga (virtio GPU)"), NULL };
    adw_combo_row_set_model(s->display, G_LIST_MODEL(gtk_string_list_new(displays)));
    g_signal_connect(s->display, "notify::selected", G_CALLBACK(on_display_changed), s);
    s->firmware_row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->firmware_row), _("Firmware"));
    settings_add_button(s->firmware_row, "document-open-symbolic", _("Choose a BIOS image"), "firmware-choose",
               G_CALLBACK(on_choose_firmware), s);
    settings_add_button(s->firmware_row, "edit-undo-symbolic", _("Use SeaBIOS"), "firmware-default",
               G_CALLBACK(on_default_firmware), s);
    s->sound = choice_row(s, _("Sound card"), _("Plays through the computer’s sound"), "sound-row", "sound",
                          sound_choices, G_N_ELEMENTS(sound_choices));
    s->network = choice_row(s, _("Network card"), _("Shares the computer’s connection (NAT)"), "network-row",
                            "network", network_choices, G_N_ELEMENTS(network_choices));
    GtkWidget *hw_rows[] = { s->memory_row, s->cpus_row, s->topology_row, s->display_row, GTK_WIDGET(s->sound),
                             GTK_WIDGET(s->network), s->firmware_row };
    for (size_t i = 0; i < G_N_ELEMENTS(hw_rows); i++)
        adw_preferences_group_add(s->hardware, hw_rows[i]);
    settings_sound_build(s, s->hardware);
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), s->hardware);
    /* Port forwards next to the network card they go through. */
    settings_network_build(s, ADW_PREFERENCES_PAGE(page));

    s->boot = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(s->boot, _("Boot"));
    s->boot_order = ADW_COMBO_ROW(adw_combo_row_new());
    s->boot_row = GTK_WIDGET(s->boot_order);
    gtk_widget_set_name(s->boot_row, "boot-order-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->boot_order), _("Boot order"));
    GtkStringList *orders = gtk_string_list_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(boot_orders); i++)
        gtk_string_list_append(orders, _(boot_orders[i].label));
    adw_combo_row_set_model(s->boot_order, G_LIST_MODEL(orders));
    g_object_unref(orders);
    g_signal_connect(s->boot_order, "notify::selected", G_CALLBACK(on_boot_order_changed), s);
    s->menu_row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->menu_row), _("Boot menu"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->menu_row), _("The firmware offers a choice of boot device (Esc)"));
    s->boot_menu = GTK_SWITCH(gtk_switch_new());
    gtk_widget_set_name(GTK_WIDGET(s->boot_menu), "boot-menu-switch");
    gtk_widget_set_valign(GTK_WIDGET(s->boot_menu), GTK_ALIGN_CENTER);
    adw_action_row_add_suffix(ADW_ACTION_ROW(s->menu_row), GTK_WIDGET(s->boot_menu));
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(s->menu_row), GTK_WIDGET(s->boot_menu));
    g_signal_connect(s->boot_menu, "notify::active", G_CALLBACK(on_boot_menu_changed), s);
    adw_preferences_group_add(s->boot, s->boot_row);
    adw_preferences_group_add(s->boot, s->menu_row);
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), s->boot);

    AdwPreferencesGroup *sharing = s->sharing = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(sharing, _("Sharing"));
    s->clipboard_row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->clipboard_row), _("Share the clipboard"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->clipboard_row), _(clipboard_subtitle));
    s->clipboard = GTK_SWITCH(gtk_switch_new());
    gtk_widget_set_name(GTK_WIDGET(s->clipboard), "clipboard-switch");
    gtk_widget_set_valign(GTK_WIDGET(s->clipboard), GTK_ALIGN_CENTER);
    adw_action_row_add_suffix(ADW_ACTION_ROW(s->clipboard_row), GTK_WIDGET(s->clipboard));
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(s->clipboard_row), GTK_WIDGET(s->clipboard));
    g_signal_connect(s->clipboard, "notify::active", G_CALLBACK(on_clipboard_changed), s);
    adw_preferences_group_add(sharing, s->clipboard_row);
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), sharing);

    AdwPreferencesGroup *media = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(media, _("Removable Media"));
    adw_preferences_group_set_description(media,
        _("A medium chosen here goes into the drive at once when the virtual machine is running, and stays there for its next start."));
    s->cd_row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->cd_row), _("CD drive"));
    settings_add_button(s->cd_row, "document-open-symbolic", _("Insert a CD image"), "cd-choose",
               G_CALLBACK(on_choose_cd), s);
    settings_add_button(s->cd_row, "media-eject-symbolic", _("Eject"), "cd-eject", G_CALLBACK(on_eject_cd), s);
    s->floppy_row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->floppy_row), _("Floppy drive"));
    settings_add_button(s->floppy_row, "document-open-symbolic", _("Insert a floppy image"), "floppy-choose",
               G_CALLBACK(on_choose_floppy), s);
    settings_add_button(s->floppy_row, "media-eject-symbolic", _("Eject"), "floppy-eject",
               G_CALLBACK(on_eject_floppy), s);
    adw_preferences_group_add(media, s->cd_row);
    adw_preferences_group_add(media, s->floppy_row);
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), media);
    settings_disks_build(s, ADW_PREFERENCES_PAGE(page));
    settings_usb_build(s, ADW_PREFERENCES_PAGE(page));

    load_values(s);
    update_sensitivity(m, NULL, s);
    g_signal_connect_object(m, "notify::state", G_CALLBACK(on_state_notify), win, 0);
    return GTK_WINDOW(win);
}
