/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The library window. Per-VM actions take the VM's name as their target, so menus,
 * buttons and tests all drive them the same way: win.start-vm('FreeDOS'). */
#include "ui/gtk/vireo-window.h"
#include "ui/gtk/vireo-volume.h"
#include "ui/gtk/vireo-settings.h"
#include "ui/gtk/vireo-snapshots.h"
#include "ui/gtk/vireo-transfer.h"
#include "engine/config.h"

#include <glib/gi18n.h>

struct _VireoWindow {
    AdwApplicationWindow parent;
    AdwToastOverlay *toast_overlay;
    GtkStack *stack;
    GtkListBox *list_box;
    VireoApplication *app;
    VireoLibrary *library;
    bool quit_confirmed;
};

G_DEFINE_FINAL_TYPE(VireoWindow, vireo_window, ADW_TYPE_APPLICATION_WINDOW)

void vireo_window_show_toast(VireoWindow *win, const char *text)
{
    adw_toast_overlay_add_toast(win->toast_overlay, adw_toast_new(text));
}

void vireo_window_show_error(VireoWindow *win, const char *heading, const char *message)
{
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(win), heading, message);
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

static void on_start_error_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    const char *dir = data;
    if (!g_strcmp0(response, "folder")) {
        g_autofree char *uri = g_filename_to_uri(dir, NULL, NULL);
        if (uri)
            gtk_show_uri(gtk_window_get_transient_for(GTK_WINDOW(d)), uri, GDK_CURRENT_TIME);
    }
}

void vireo_show_start_error(GtkWindow *parent, VireoMachine *m, const GError *err)
{
    const char *hint;
    if (g_error_matches(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND))
        hint = _("Put the file back, or choose another one in the virtual machine's settings.");
    else if (g_error_matches(err, VIREO_ERROR, VIREO_ERROR_INVALID))
        hint = _("Correct the value in the settings, or in vm.conf in the virtual machine's folder.");
    else if (g_error_matches(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED))
        hint = _("This computer or this version of Vireo cannot run it as it is set up.");
    else
        hint = _("See the message above; the virtual machine's files are unchanged.");
    g_autofree char *heading = g_strdup_printf(_("Cannot Start “%s”"), vireo_machine_get_name(m));
    GtkWidget *d = adw_message_dialog_new(parent, heading, NULL);
    adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(d), "%s\n\n%s", err->message, hint);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "folder", _("Open _Folder"),
                                     "close", _("_Close"), NULL);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "close");
    g_signal_connect_data(d, "response", G_CALLBACK(on_start_error_response),
                          g_strdup(vireo_machine_get_dir(m)), (GClosureNotify)(void (*)(void))g_free, 0);
    gtk_window_present(GTK_WINDOW(d));
}

static VireoMachine *machine_from_param(VireoWindow *win, GVariant *param)
{
    const char *name = g_variant_get_string(param, NULL);
    VireoMachine *m = vireo_library_find(win->library, name);
    if (!m) {
        g_autofree char *msg = g_strdup_printf(_("There is no virtual machine called “%s”."), name);
        vireo_window_show_toast(win, msg);
    }
    return m;
}

static void action_start_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (!m)
        return;
    /* The VM's window shows it; it also reports a failure to start. */
    GtkWindow *vw = vireo_application_open_machine(win->app, m);
    gtk_widget_activate_action(GTK_WIDGET(vw), "win.start", NULL);
}

static void action_open_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (m)
        vireo_application_open_machine(win->app, m);
}

static void action_settings_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (m)
        gtk_window_present(vireo_settings_dialog_new(GTK_WINDOW(win), m));
}

static void action_snapshots_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (m)
        vireo_snapshots_window_show(GTK_WINDOW(win), m);
}

/* ---- rename ---- */

typedef struct RenameDialog {
    VireoWindow *win;
    VireoMachine *machine;
    GtkEntry *entry;
    GtkLabel *error;
} RenameDialog;

static void rename_check(GtkEditable *e, gpointer data)
{
    RenameDialog *rd = data;
    const char *name = gtk_editable_get_text(e);
    g_autofree char *problem = vireo_library_name_problem(rd->win->library, name, rd->machine);
    bool ok = problem == NULL;
    gtk_label_set_text(rd->error, ok ? "" : problem);
    gtk_widget_set_visible(GTK_WIDGET(rd->error), !ok);
    if (ok)
        gtk_widget_remove_css_class(GTK_WIDGET(rd->entry), "error");
    else
        gtk_widget_add_css_class(GTK_WIDGET(rd->entry), "error");
    GtkWidget *dialog = gtk_widget_get_ancestor(GTK_WIDGET(e), ADW_TYPE_MESSAGE_DIALOG);
    adw_message_dialog_set_response_enabled(ADW_MESSAGE_DIALOG(dialog), "rename", ok);
}

static void rename_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    RenameDialog *rd = data;
    if (!g_strcmp0(response, "rename")) {
        g_autoptr(GError) err = NULL;
        const char *name = gtk_editable_get_text(GTK_EDITABLE(rd->entry));
        if (!vireo_library_rename(rd->win->library, rd->machine, name, &err))
            vireo_window_show_error(rd->win, _("Cannot Rename"), err->message);
    }
}

static void rename_dialog_free(gpointer data, GClosure *c)
{
    RenameDialog *rd = data;
    g_object_unref(rd->machine);
    g_free(rd);
}

static void action_rename_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (!m)
        return;
    g_autofree char *heading = g_strdup_printf(_("Rename “%s”"), vireo_machine_get_name(m));
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(win), heading, NULL);
    RenameDialog *rd = g_new0(RenameDialog, 1);
    rd->win = win;
    rd->machine = g_object_ref(m);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    rd->entry = GTK_ENTRY(gtk_entry_new());
    gtk_widget_set_name(GTK_WIDGET(rd->entry), "rename-entry");
    gtk_editable_set_text(GTK_EDITABLE(rd->entry), vireo_machine_get_name(m));
    gtk_entry_set_activates_default(rd->entry, TRUE);
    rd->error = GTK_LABEL(gtk_label_new(NULL));
    gtk_label_set_wrap(rd->error, TRUE);
    gtk_widget_add_css_class(GTK_WIDGET(rd->error), "error");
    gtk_widget_set_visible(GTK_WIDGET(rd->error), FALSE);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(rd->entry));
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(rd->error));
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), box);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"),
                                     "rename", _("_Rename"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "rename", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "rename");
    g_signal_connect(rd->entry, "changed", G_CALLBACK(rename_check), rd);
    g_signal_connect_data(d, "response", G_CALLBACK(rename_response), rd, rename_dialog_free, 0);
    if (vireo_machine_is_active(m)) {
        adw_message_dialog_set_body(ADW_MESSAGE_DIALOG(d), _("Turn the virtual machine off before renaming it."));
        adw_message_dialog_set_response_enabled(ADW_MESSAGE_DIALOG(d), "rename", FALSE);
        gtk_widget_set_sensitive(GTK_WIDGET(rd->entry), FALSE);
    }
    gtk_window_present(GTK_WINDOW(d));
}

/* ---- delete ---- */

static void delete_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    VireoMachine *m = data;
    if (g_strcmp0(response, "delete"))
        return;
    VireoWindow *win = VIREO_WINDOW(gtk_window_get_transient_for(GTK_WINDOW(d)));
    g_autoptr(GError) err = NULL;
    g_autofree char *name = g_strdup(vireo_machine_get_name(m));
    /* Its window would show a VM that no longer exists. */
    GtkWindow *vm_window = vireo_machine_is_active(m) ? NULL : vireo_application_find_machine_window(win->app, m);
    if (vm_window)
        gtk_window_destroy(vm_window);
    if (!vireo_library_delete(win->library, m, &err)) {
        vireo_window_show_error(win, _("Cannot Delete"), err->message);
        return;
    }
    g_autofree char *msg = g_strdup_printf(_("“%s” deleted"), name);
    vireo_window_show_toast(win, msg);
}

static void append_file_list(GString *s, GPtrArray *files)
{
    for (guint i = 0; i < files->len; i++)
        g_string_append_printf(s, "\n• %s", (char *)files->pdata[i]);
}

static void action_delete_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (!m)
        return;
    /* Say exactly which files go and which stay. */
    VmLibraryEntry e = { .name = (char *)vireo_machine_get_name(m),
                         .dir = (char *)vireo_machine_get_dir(m),
                         .conf = vireo_machine_get_conf(m) };
    g_autoptr(GPtrArray) removed = NULL, kept = NULL;
    vm_library_list_files(&e, &removed, &kept);
    g_autoptr(GString) body = g_string_new(NULL);
    g_string_append_printf(body, _("The folder %s and these files in it are deleted:"), e.dir);
    append_file_list(body, removed);
    if (kept->len) {
        g_string_append(body, "\n\n");
        g_string_append(body, _("These files are used by the virtual machine but stay where they are:"));
        append_file_list(body, kept);
    }
    g_autofree char *heading = g_strdup_printf(_("Delete “%s”?"), e.name);
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(win), heading, body->str);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"),
                                     "delete", _("_Delete"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "delete", ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    if (vireo_machine_is_active(m)) {
        adw_message_dialog_set_body(ADW_MESSAGE_DIALOG(d), _("Turn the virtual machine off before deleting it."));
        adw_message_dialog_set_response_enabled(ADW_MESSAGE_DIALOG(d), "delete", FALSE);
    }
    g_signal_connect_data(d, "response", G_CALLBACK(delete_response), g_object_ref(m),
                          (GClosureNotify)(void (*)(void))g_object_unref, 0);
    gtk_window_present(GTK_WINDOW(d));
}

/* ---- export ---- */

static void action_export_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (m)
        vireo_export_choose(GTK_WINDOW(win), win->library, m);
}

static void action_copy_qemu_vm(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    VireoMachine *m = machine_from_param(win, param);
    if (!m)
        return;
    g_autoptr(GError) err = NULL;
    g_autofree char *line = vireo_qemu_command(win->library, m, &err);
    if (!line) {
        vireo_window_show_error(win, _("Cannot Make the QEMU Command Line"), err->message);
        return;
    }
    gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(win)), line);
    vireo_window_show_toast(win, _("The qemu-system-i386 command line is on the clipboard"));
}

static void action_reload(GSimpleAction *a, GVariant *param, gpointer data)
{
    VireoWindow *win = data;
    vireo_library_reload(win->library);
}

static const GActionEntry win_actions[] = {
    { "start-vm", action_start_vm, "s", NULL, NULL, { 0 } },
    { "open-vm", action_open_vm, "s", NULL, NULL, { 0 } },
    { "settings-vm", action_settings_vm, "s", NULL, NULL, { 0 } },
    { "snapshots-vm", action_snapshots_vm, "s", NULL, NULL, { 0 } },
    { "rename-vm", action_rename_vm, "s", NULL, NULL, { 0 } },
    { "delete-vm", action_delete_vm, "s", NULL, NULL, { 0 } },
    { "export-vm", action_export_vm, "s", NULL, NULL, { 0 } },
    { "copy-qemu-vm", action_copy_qemu_vm, "s", NULL, NULL, { 0 } },
    { "reload", action_reload, NULL, NULL, NULL, { 0 } },
};

/* ---- rows ---- */

typedef struct RowWidgets {
    GtkPicture *thumbnail;
    GtkLabel *name, *os, *state;
    GtkWidget *playing;
    GtkWidget *start, *open, *menu;
} RowWidgets;

/* A loudspeaker while the guest is heard (or would be: muted shows as muted). */
static void row_update_playing(VireoMachine *m, RowWidgets *w)
{
    unsigned percent;
    bool muted;
    vireo_machine_get_volume(m, &percent, &muted);
    bool playing = vireo_machine_get_playing(m);
    gtk_image_set_from_icon_name(GTK_IMAGE(w->playing), vireo_volume_icon_name(playing ? percent : 0, muted));
    gtk_widget_set_tooltip_text(w->playing, muted || !percent ? _("Playing sound (muted)") : _("Playing sound"));
    gtk_widget_set_visible(w->playing, playing);
}

static void row_update(VireoMachine *m, GParamSpec *ps, GtkWidget *row)
{
    RowWidgets *w = g_object_get_data(G_OBJECT(row), "vireo-row");
    /* The sound properties change the icon only (the menu stays as the user opened it). */
    const char *prop = ps ? g_param_spec_get_name(ps) : "";
    if (!strcmp(prop, "playing") || !strcmp(prop, "volume") || !strcmp(prop, "muted")) {
        row_update_playing(m, w);
        return;
    }
    const char *name = vireo_machine_get_name(m);
    gtk_label_set_text(w->name, name);
    gtk_label_set_text(w->os, vireo_machine_get_os_name(m));
    VireoMachineState st = vireo_machine_get_state(m);
    const char *err = vireo_machine_get_error(m);
    gtk_label_set_text(w->state, err && (st == VIREO_MACHINE_BROKEN || st == VIREO_MACHINE_FAILED)
                                     ? err : vireo_machine_state_label(st));
    gtk_widget_set_tooltip_text(GTK_WIDGET(w->state), err);
    if (st == VIREO_MACHINE_BROKEN || st == VIREO_MACHINE_FAILED)
        gtk_widget_add_css_class(GTK_WIDGET(w->state), "error");
    else
        gtk_widget_remove_css_class(GTK_WIDGET(w->state), "error");
    gtk_picture_set_paintable(w->thumbnail, GDK_PAINTABLE(vireo_machine_get_thumbnail(m)));
    GVariant *target = g_variant_new_string(name);
    g_variant_ref_sink(target);
    gtk_actionable_set_action_target_value(GTK_ACTIONABLE(w->start), target);
    gtk_actionable_set_action_target_value(GTK_ACTIONABLE(w->open), target);
    gtk_actionable_set_action_target_value(GTK_ACTIONABLE(row), target);
    gtk_widget_set_visible(w->start, !vireo_machine_is_active(m));
    row_update_playing(m, w);
    GMenu *menu = g_menu_new();
    GMenuItem *it = g_menu_item_new(_("_Settings"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.settings-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    it = g_menu_item_new(_("S_napshots"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.snapshots-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    it = g_menu_item_new(_("_Rename…"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.rename-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    it = g_menu_item_new(_("_Export…"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.export-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    it = g_menu_item_new(_("Copy _QEMU Command Line"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.copy-qemu-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    it = g_menu_item_new(_("_Delete…"), NULL);
    g_menu_item_set_action_and_target_value(it, "win.delete-vm", target);
    g_menu_append_item(menu, it);
    g_object_unref(it);
    gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(w->menu), G_MENU_MODEL(menu));
    g_object_unref(menu);
    g_variant_unref(target);
}

static GtkWidget *create_row(gpointer item, gpointer data)
{
    VireoMachine *m = item;
    RowWidgets *w = g_new0(RowWidgets, 1);
    GtkWidget *row = gtk_list_box_row_new();
    g_object_set_data_full(G_OBJECT(row), "vireo-row", w, g_free);
    gtk_actionable_set_action_name(GTK_ACTIONABLE(row), "win.open-vm");
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_set_margin_top(box, 8);
    gtk_widget_set_margin_bottom(box, 8);
    gtk_widget_set_margin_start(box, 8);
    gtk_widget_set_margin_end(box, 8);

    w->thumbnail = GTK_PICTURE(gtk_picture_new());
    gtk_picture_set_can_shrink(w->thumbnail, TRUE);
    gtk_widget_set_size_request(GTK_WIDGET(w->thumbnail), 96, 72);
    gtk_widget_add_css_class(GTK_WIDGET(w->thumbnail), "vm-thumbnail");
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(w->thumbnail));

    GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_hexpand(text, TRUE);
    gtk_widget_set_valign(text, GTK_ALIGN_CENTER);
    w->name = GTK_LABEL(gtk_label_new(NULL));
    w->os = GTK_LABEL(gtk_label_new(NULL));
    w->state = GTK_LABEL(gtk_label_new(NULL));
    gtk_widget_add_css_class(GTK_WIDGET(w->name), "heading");
    gtk_widget_add_css_class(GTK_WIDGET(w->os), "dim-label");
    gtk_widget_add_css_class(GTK_WIDGET(w->state), "caption");
    GtkLabel *labels[] = { w->name, w->os, w->state };
    for (size_t i = 0; i < G_N_ELEMENTS(labels); i++) {
        gtk_label_set_xalign(labels[i], 0);
        gtk_label_set_ellipsize(labels[i], PANGO_ELLIPSIZE_END);
        gtk_box_append(GTK_BOX(text), GTK_WIDGET(labels[i]));
    }
    gtk_box_append(GTK_BOX(box), text);

    w->playing = gtk_image_new();
    gtk_widget_set_name(w->playing, "playing-icon");
    gtk_widget_set_valign(w->playing, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(w->playing, "dim-label");
    gtk_box_append(GTK_BOX(box), w->playing);

    w->start = gtk_button_new_from_icon_name("media-playback-start-symbolic");
    gtk_widget_set_tooltip_text(w->start, _("Start"));
    gtk_actionable_set_action_name(GTK_ACTIONABLE(w->start), "win.start-vm");
    w->open = gtk_button_new_from_icon_name("window-new-symbolic");
    gtk_widget_set_tooltip_text(w->open, _("Open"));
    gtk_actionable_set_action_name(GTK_ACTIONABLE(w->open), "win.open-vm");
    w->menu = gtk_menu_button_new();
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(w->menu), "view-more-symbolic");
    gtk_widget_set_tooltip_text(w->menu, _("More"));
    GtkWidget *buttons[] = { w->start, w->open, w->menu };
    for (size_t i = 0; i < G_N_ELEMENTS(buttons); i++) {
        gtk_widget_set_valign(buttons[i], GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(buttons[i], "flat");
        gtk_box_append(GTK_BOX(box), buttons[i]);
    }
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
    row_update(m, NULL, row);
    g_signal_connect_object(m, "notify", G_CALLBACK(row_update), row, 0);
    return row;
}

static void update_page(VireoWindow *win)
{
    guint n = g_list_model_get_n_items(vireo_library_get_model(win->library));
    gtk_stack_set_visible_child_name(win->stack, n ? "list" : "empty");
}

static void on_items_changed(GListModel *model, guint pos, guint removed, guint added, gpointer data)
{
    update_page(data);
}

static void vireo_window_class_init(VireoWindowClass *klass)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
    gtk_widget_class_set_template_from_resource(wc, "/org/vireo/Vireo/ui/vireo-window.ui");
    gtk_widget_class_bind_template_child(wc, VireoWindow, toast_overlay);
    gtk_widget_class_bind_template_child(wc, VireoWindow, stack);
    gtk_widget_class_bind_template_child(wc, VireoWindow, list_box);
}

static void vireo_window_init(VireoWindow *win)
{
    gtk_widget_init_template(GTK_WIDGET(win));
    g_action_map_add_action_entries(G_ACTION_MAP(win), win_actions, G_N_ELEMENTS(win_actions), win);
}

static guint count_running(VireoWindow *win)
{
    GListModel *model = vireo_library_get_model(win->library);
    guint n = 0;
    for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
        g_autoptr(VireoMachine) m = g_list_model_get_item(model, i);
        n += vireo_machine_is_active(m);
    }
    return n;
}

static void on_quit_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    VireoWindow *win = data;
    if (!g_strcmp0(response, "quit")) {
        win->quit_confirmed = true;
        g_action_group_activate_action(G_ACTION_GROUP(win->app), "quit", NULL);
    }
}

gboolean vireo_window_ask_quit(VireoWindow *win)
{
    guint running = count_running(win);
    if (win->quit_confirmed || !running)
        return FALSE;
    g_autofree char *body = g_strdup_printf(
        ngettext("%u virtual machine is running. Quitting turns it off as if its power was cut.",
                 "%u virtual machines are running. Quitting turns them off as if their power was cut.",
                 running), running);
    gtk_window_present(GTK_WINDOW(win));
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(win), _("Quit Vireo?"), body);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), "quit", _("_Quit"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "quit", ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect(d, "response", G_CALLBACK(on_quit_response), win);
    gtk_window_present(GTK_WINDOW(d));
    return TRUE;
}

/* Closing the last window ends the app and with it every VM: ask first when some run
 * (their own windows keep the app going, so then there is nothing to ask). */
static gboolean on_close_request(GtkWindow *w, gpointer data)
{
    VireoWindow *win = VIREO_WINDOW(w);
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(win->app)); l; l = l->next)
        if (l->data != w && gtk_widget_get_visible(l->data) && !ADW_IS_MESSAGE_DIALOG(l->data) &&
            gtk_window_get_transient_for(l->data) != w)
            return FALSE;
    return vireo_window_ask_quit(win);
}

static gboolean save_size(GtkWindow *w, gpointer data)
{
    GSettings *s = data;
    int width, height;
    gtk_window_get_default_size(w, &width, &height);
    g_settings_set_int(s, "window-width", width);
    g_settings_set_int(s, "window-height", height);
    return FALSE;
}

VireoWindow *vireo_window_new(VireoApplication *app)
{
    VireoWindow *win = g_object_new(VIREO_TYPE_WINDOW, "application", app, NULL);
    win->app = app;
    win->library = vireo_application_get_library(app);
    GListModel *model = vireo_library_get_model(win->library);
    gtk_list_box_bind_model(win->list_box, model, create_row, win, NULL);
    g_signal_connect_object(model, "items-changed", G_CALLBACK(on_items_changed), win, 0);
    update_page(win);
    g_signal_connect(win, "close-request", G_CALLBACK(on_close_request), NULL);
    GSettings *s = vireo_application_get_settings(app);
    if (s) {
        gtk_window_set_default_size(GTK_WINDOW(win), g_settings_get_int(s, "window-width"),
                                    g_settings_get_int(s, "window-height"));
        g_signal_connect_object(win, "close-request", G_CALLBACK(save_size), s, 0);
    }
    return win;
}
