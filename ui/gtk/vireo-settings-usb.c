/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The settings window's USB filters: vm.conf [usb] (engine/vmconf.h). A host device that
 * matches a filter is connected to the VM when it starts and when it is plugged in while
 * the VM runs (vireo-usb.c reads vm.conf each time, so a change here applies at once).
 * A filter vm.conf holds but this Vireo cannot read is shown with its problem and kept as
 * written until the user removes it. */
#include "ui/gtk/vireo-settings-internal.h"
#include "engine/device.h"
#include "engine/vmconf.h"
#include "ui/gtk/vireo-usb.h"

#include <glib/gi18n.h>
#include <string.h>

/* "ID 0781:5567, serial 4C53, class 08" for the row's title. */
static char *filter_title(const VmconfUsbFilter *f)
{
    GString *s = g_string_new(NULL);
    if (f->vendor >= 0 || f->product >= 0) {
        g_autofree char *v = f->vendor >= 0 ? g_strdup_printf("%04x", f->vendor) : g_strdup("*");
        g_autofree char *p = f->product >= 0 ? g_strdup_printf("%04x", f->product) : g_strdup("*");
        g_string_append_printf(s, _("ID %s:%s"), v, p);
    }
    if (f->serial)
        g_string_append_printf(s, "%s%s %s", s->len ? ", " : "", _("serial"), f->serial);
    if (f->dev_class >= 0)
        g_string_append_printf(s, "%s%s %02x", s->len ? ", " : "", _("class"), f->dev_class);
    return g_string_free(s, false);
}

static bool save_filter(Settings *s, const char *id, const char *value, GtkWidget *row)
{
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    if (value)
        g_key_file_set_string(conf, VMCONF_GROUP_USB, id, value);
    else
        g_key_file_remove_key(conf, VMCONF_GROUP_USB, id, NULL);
    g_auto(GStrv) left = g_key_file_get_keys(conf, VMCONF_GROUP_USB, NULL, NULL);
    if (left && !left[0])
        g_key_file_remove_group(conf, VMCONF_GROUP_USB, NULL);
    if (!settings_commit(s, conf, row, NULL))
        return false;
    vireo_usb_filters_changed(s->machine);
    return true;
}

static void on_filter_switch(GtkSwitch *sw, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    const char *id = g_object_get_data(G_OBJECT(sw), "vireo-filter");
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    g_autofree char *value = kf ? g_key_file_get_string(kf, VMCONF_GROUP_USB, id, NULL) : NULL;
    g_autoptr(VmconfUsbFilter) f = value ? vmconf_usb_filter_parse(id, value, NULL) : NULL;
    if (!f)
        return;
    f->connect = gtk_switch_get_active(sw);
    g_autofree char *updated = vmconf_usb_filter_format(f);
    GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(sw), ADW_TYPE_ACTION_ROW);
    save_filter(s, id, updated, row);
}

static void on_remove_filter(GtkButton *b, Settings *s)
{
    g_autofree char *id = g_strdup(g_object_get_data(G_OBJECT(b), "vireo-filter"));
    GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(b), ADW_TYPE_ACTION_ROW);
    if (save_filter(s, id, NULL, row))
        settings_usb_refresh(s);
}

/* The entries' text, stripped. */
static char *entry_text(GtkEntry *e)
{
    return g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(e))));
}

static void on_add_filter(GtkButton *b, Settings *s)
{
    g_autofree char *vendor = entry_text(s->usb_vendor), *product = entry_text(s->usb_product);
    g_autofree char *serial = entry_text(s->usb_serial), *cls = entry_text(s->usb_class);
    if (strchr(serial, ',')) {
        settings_row_show_error(s->usb_add_row, _("A serial number with a comma cannot be a filter"), NULL);
        return;
    }
    GString *v = g_string_new(NULL);
    if (*vendor)
        g_string_append_printf(v, ",vendor=%s", vendor);
    if (*product)
        g_string_append_printf(v, ",product=%s", product);
    if (*serial)
        g_string_append_printf(v, ",serial=%s", serial);
    if (*cls)
        g_string_append_printf(v, ",class=%s", cls);
    g_autofree char *raw = g_string_free(v, false);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmconfUsbFilter) f = vmconf_usb_filter_parse("new", *raw ? raw + 1 : raw, &err);
    if (!f) {
        settings_row_show_error(s->usb_add_row, err->message, NULL);
        return;
    }
    /* The first free name filter1, filter2 ... */
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    g_autofree char *id = NULL;
    for (int n = 1; !id; n++) {
        g_autofree char *cand = g_strdup_printf("filter%d", n);
        if (!kf || !g_key_file_has_key(kf, VMCONF_GROUP_USB, cand, NULL))
            id = g_steal_pointer(&cand);
    }
    g_autofree char *value = vmconf_usb_filter_format(f);
    if (!save_filter(s, id, value, s->usb_add_row))
        return;
    GtkEntry *entries[] = { s->usb_vendor, s->usb_product, s->usb_serial, s->usb_class };
    for (size_t i = 0; i < G_N_ELEMENTS(entries); i++)
        gtk_editable_set_text(GTK_EDITABLE(entries[i]), "");
    settings_usb_refresh(s);
}

void settings_usb_refresh(Settings *s)
{
    bool was_loading = s->loading;
    s->loading = true;
    for (guint i = 0; i < s->usb_rows->len; i++)
        adw_preferences_group_remove(s->usb_filters, g_ptr_array_index(s->usb_rows, i));
    g_ptr_array_set_size(s->usb_rows, 0);
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    g_auto(GStrv) keys = kf ? g_key_file_get_keys(kf, VMCONF_GROUP_USB, NULL, NULL) : NULL;
    for (char **k = keys; k && *k; k++) {
        g_autofree char *value = g_key_file_get_string(kf, VMCONF_GROUP_USB, *k, NULL);
        g_autoptr(GError) err = NULL;
        g_autoptr(VmconfUsbFilter) f = NULL;
        if (!device_id_valid(*k))
            g_set_error(&err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        _("the name must start with a letter, then letters, digits, '-', '.' or '_'"));
        else
            f = vmconf_usb_filter_parse(*k, value ? value : "", &err);
        GtkWidget *row = adw_action_row_new();
        g_autofree char *rname = g_strdup_printf("usb-filter-row-%s", *k);
        gtk_widget_set_name(row, rname);
        g_autofree char *title = f ? filter_title(f) : g_strdup(*k);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        if (f) {
            g_autofree char *sub = g_strdup_printf(_("“%s”: connect when plugged in or at start"), *k);
            adw_action_row_set_subtitle(ADW_ACTION_ROW(row), sub);
            GtkWidget *sw = gtk_switch_new();
            g_autofree char *sname = g_strdup_printf("usb-filter-switch-%s", *k);
            gtk_widget_set_name(sw, sname);
            gtk_widget_set_valign(sw, GTK_ALIGN_CENTER);
            gtk_widget_set_tooltip_text(sw, _("Connect when plugged in"));
            gtk_switch_set_active(GTK_SWITCH(sw), f->connect);
            g_object_set_data_full(G_OBJECT(sw), "vireo-filter", g_strdup(*k), g_free);
            g_signal_connect(sw, "notify::active", G_CALLBACK(on_filter_switch), s);
            adw_action_row_add_suffix(ADW_ACTION_ROW(row), sw);
        } else {
            /* Kept as written: the user sees why and may remove it. */
            g_autofree char *msg = g_strdup_printf(_("A bad filter: %s"), err->message);
            settings_row_show_error(row, msg, NULL);
        }
        g_autofree char *bname = g_strdup_printf("usb-filter-remove-%s", *k);
        GtkWidget *b = settings_add_button(row, "list-remove-symbolic", _("Remove this filter"), bname,
                                           G_CALLBACK(on_remove_filter), s);
        g_object_set_data_full(G_OBJECT(b), "vireo-filter", g_strdup(*k), g_free);
        adw_preferences_group_add(s->usb_filters, row);
        g_ptr_array_add(s->usb_rows, row);
    }
    s->loading = was_loading;
}

static GtkEntry *filter_entry(const char *name, const char *placeholder, const char *tooltip, int chars)
{
    GtkEntry *e = GTK_ENTRY(gtk_entry_new());
    gtk_widget_set_name(GTK_WIDGET(e), name);
    gtk_entry_set_placeholder_text(e, placeholder);
    gtk_widget_set_tooltip_text(GTK_WIDGET(e), tooltip);
    gtk_editable_set_width_chars(GTK_EDITABLE(e), chars);
    gtk_widget_set_valign(GTK_WIDGET(e), GTK_ALIGN_CENTER);
    return e;
}

void settings_usb_build(Settings *s, AdwPreferencesPage *page)
{
    s->usb_filters = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    gtk_widget_set_name(GTK_WIDGET(s->usb_filters), "usb-filter-group");
    adw_preferences_group_set_title(s->usb_filters, _("USB Filters"));
    adw_preferences_group_set_description(s->usb_filters,
        _("A USB device of this computer that matches a filter is connected to the virtual machine when it starts and when it is plugged in while the virtual machine runs. IDs and classes are hexadecimal, as lsusb shows them."));
    s->usb_rows = g_ptr_array_new();
    s->usb_add_row = adw_action_row_new();
    gtk_widget_set_name(s->usb_add_row, "usb-filter-add-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->usb_add_row), _("New filter"));
    s->usb_vendor = filter_entry("usb-filter-vendor", _("Vendor"), _("Vendor ID, e.g. 0781"), 6);
    s->usb_product = filter_entry("usb-filter-product", _("Product"), _("Product ID, e.g. 5567"), 6);
    s->usb_serial = filter_entry("usb-filter-serial", _("Serial"), _("The device's serial number"), 10);
    s->usb_class = filter_entry("usb-filter-class", _("Class"), _("USB class, e.g. 08 for storage, 03 for HID"), 4);
    GtkWidget *parts[] = { GTK_WIDGET(s->usb_vendor), GTK_WIDGET(s->usb_product), GTK_WIDGET(s->usb_serial),
                           GTK_WIDGET(s->usb_class) };
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++)
        adw_action_row_add_suffix(ADW_ACTION_ROW(s->usb_add_row), parts[i]);
    settings_add_button(s->usb_add_row, "list-add-symbolic", _("Add this filter"), "usb-filter-add",
                        G_CALLBACK(on_add_filter), s);
    adw_preferences_group_add(s->usb_filters, s->usb_add_row);
    adw_preferences_page_add(page, s->usb_filters);
}

void settings_usb_free(Settings *s)
{
    if (s->usb_rows)
        g_ptr_array_unref(s->usb_rows);
}
