/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Share Screen window: see vireo-share.h. Sharing itself (the server, the port, the
 * password) lives in VireoMachine; this window shows it and switches it. */
#include "ui/gtk/vireo-share.h"

#include <adwaita.h>
#include <glib/gi18n.h>

typedef struct Share {
    GtkWindow *win;
    VireoMachine *machine;
    GtkSwitch *on, *remote;
    GtkWidget *address_row, *password_row, *copy_address, *copy_password;
    AdwPreferencesGroup *group;
    gulong notify_sharing, notify_state;
    bool updating;
} Share;

static char *share_uri(VireoMachine *m)
{
    const char *addr, *password;
    int port;
    if (!vireo_machine_get_share(m, &addr, &port, &password))
        return NULL;
    /* Every address: other computers reach it by this one's name. */
    const char *host = !strcmp(addr, "0.0.0.0") ? g_get_host_name() : addr;
    return g_strdup_printf("spice://%s:%d", host, port);
}

static void share_update(Share *s)
{
    s->updating = true;
    const char *addr = NULL, *password = NULL;
    int port = 0;
    bool on = vireo_machine_get_share(s->machine, &addr, &port, &password);
    bool running = vireo_machine_is_active(s->machine);
    gtk_switch_set_active(s->on, on);
    gtk_widget_set_sensitive(GTK_WIDGET(s->on), running && vireo_machine_share_available());
    g_autofree char *uri = share_uri(s->machine);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->address_row), uri ? uri : "");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->password_row), on ? password : "");
    gtk_widget_set_visible(s->address_row, on);
    gtk_widget_set_visible(s->password_row, on);
    if (!vireo_machine_share_available())
        adw_preferences_group_set_description(s->group, _("This build of Vireo has no SPICE server."));
    else if (!running)
        adw_preferences_group_set_description(s->group, _("Start the virtual machine to share its screen."));
    else if (on)
        adw_preferences_group_set_description(
            s->group, _("A SPICE viewer such as Remote Viewer shows and drives this virtual machine with the "
                        "address and password below. Sharing stops when the machine stops."));
    else
        adw_preferences_group_set_description(
            s->group, _("Lets a SPICE viewer such as Remote Viewer show and drive this virtual machine."));
    s->updating = false;
}

static void share_error(Share *s, const GError *err)
{
    AdwMessageDialog *d = ADW_MESSAGE_DIALOG(adw_message_dialog_new(s->win, _("Cannot Share the Screen"), err->message));
    adw_message_dialog_add_response(d, "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

static void on_switch(GObject *sw, GParamSpec *ps, Share *s)
{
    if (s->updating)
        return;
    if (gtk_switch_get_active(s->on)) {
        g_autoptr(GError) err = NULL;
        if (!vireo_machine_share(s->machine, gtk_switch_get_active(s->remote), &err))
            share_error(s, err);
    } else if (GTK_SWITCH(sw) == s->on) {
        vireo_machine_unshare(s->machine);
    }
    share_update(s);
}

static void copy_text(GtkWidget *from, const char *text)
{
    if (text && *text)
        gdk_clipboard_set_text(gtk_widget_get_clipboard(from), text);
}

static void on_copy_address(GtkButton *b, Share *s)
{
    g_autofree char *uri = share_uri(s->machine);
    copy_text(GTK_WIDGET(b), uri);
}

static void on_copy_password(GtkButton *b, Share *s)
{
    const char *addr, *password;
    int port;
    if (vireo_machine_get_share(s->machine, &addr, &port, &password))
        copy_text(GTK_WIDGET(b), password);
}

static void on_machine_changed(VireoMachine *m, GParamSpec *ps, Share *s)
{
    share_update(s);
}

static void on_destroy(GtkWidget *w, Share *s)
{
    g_signal_handler_disconnect(s->machine, s->notify_sharing);
    g_signal_handler_disconnect(s->machine, s->notify_state);
    g_object_set_data(G_OBJECT(s->machine), "share-window", NULL);
    g_object_unref(s->machine);
    g_free(s);
}

static GtkWidget *switch_row(const char *title, const char *subtitle, const char *name, GtkSwitch **sw)
{
    GtkWidget *row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    if (subtitle)
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    *sw = GTK_SWITCH(gtk_switch_new());
    gtk_widget_set_name(GTK_WIDGET(*sw), name);
    gtk_widget_set_valign(GTK_WIDGET(*sw), GTK_ALIGN_CENTER);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), GTK_WIDGET(*sw));
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), GTK_WIDGET(*sw));
    return row;
}

static GtkWidget *copy_row(const char *title, const char *name, const char *button_name, const char *tooltip,
                           GCallback cb, Share *s, GtkWidget **button)
{
    GtkWidget *row = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    gtk_widget_set_name(row, name);
    *button = gtk_button_new_from_icon_name("edit-copy-symbolic");
    gtk_widget_set_name(*button, button_name);
    gtk_widget_set_tooltip_text(*button, tooltip);
    gtk_widget_set_valign(*button, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(*button, "flat");
    g_signal_connect(*button, "clicked", cb, s);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), *button);
    return row;
}

GtkWindow *vireo_share_dialog_show(GtkWindow *parent, VireoMachine *m)
{
    GtkWindow *open = g_object_get_data(G_OBJECT(m), "share-window");
    if (open) {
        gtk_window_present(open);
        return open;
    }
    Share *s = g_new0(Share, 1);
    s->machine = g_object_ref(m);
    GtkWidget *win = adw_preferences_window_new();
    s->win = GTK_WINDOW(win);
    gtk_widget_set_name(win, "share-window");
    g_autofree char *title = g_strdup_printf(_("Share Screen of %s"), vireo_machine_get_name(m));
    gtk_window_set_title(s->win, title);
    gtk_window_set_transient_for(s->win, parent);
    gtk_window_set_default_size(s->win, 520, 420);
    adw_preferences_window_set_search_enabled(ADW_PREFERENCES_WINDOW(win), FALSE);

    GtkWidget *page = adw_preferences_page_new();
    s->group = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(s->group, _("Screen Sharing"));
    adw_preferences_group_add(s->group, switch_row(_("Share this virtual machine’s screen"), NULL, "share-switch",
                                                   &s->on));
    adw_preferences_group_add(
        s->group, switch_row(_("Allow other computers"),
                             _("Off: only programs on this computer can connect. Takes effect when sharing starts."),
                             "share-remote-switch", &s->remote));
    s->address_row = copy_row(_("Address"), "share-address-row", "share-copy-address", _("Copy the address"),
                              G_CALLBACK(on_copy_address), s, &s->copy_address);
    s->password_row = copy_row(_("Password"), "share-password-row", "share-copy-password", _("Copy the password"),
                               G_CALLBACK(on_copy_password), s, &s->copy_password);
    adw_preferences_group_add(s->group, s->address_row);
    adw_preferences_group_add(s->group, s->password_row);
    adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), s->group);
    adw_preferences_window_add(ADW_PREFERENCES_WINDOW(win), ADW_PREFERENCES_PAGE(page));

    g_signal_connect(s->on, "notify::active", G_CALLBACK(on_switch), s);
    s->notify_sharing = g_signal_connect(m, "notify::sharing", G_CALLBACK(on_machine_changed), s);
    s->notify_state = g_signal_connect(m, "notify::state", G_CALLBACK(on_machine_changed), s);
    g_signal_connect(win, "destroy", G_CALLBACK(on_destroy), s);
    g_object_set_data(G_OBJECT(m), "share-window", win);
    share_update(s);
    gtk_window_present(s->win);
    return s->win;
}
