/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's window. The engine runs on its own threads; everything here reacts to the
 * machine's state notifications and never waits on the guest. */
#include "ui/gtk/vireo-vm-window.h"
#include "ui/gtk/vireo-settings.h"
#include "ui/gtk/vireo-window.h"
#include "vireo-config.h"
#include "ui/gtk/vireo-display.h"
#include "engine/input.h"

#include <glib/gi18n.h>
#include <string.h>

struct _VireoVmWindow {
    AdwApplicationWindow parent;
    GtkRevealer *header_revealer;
    AdwWindowTitle *window_title;
    GtkButton *start_button;
    GtkToggleButton *pause_button;
    AdwToastOverlay *toast_overlay;
    GtkStack *stack;
    AdwStatusPage *off_page;

    VireoApplication *app;
    VireoMachine *machine;
    GHashTable *saved_accels;   /* detailed action -> accels, while keys go to the guest */
    VireoDisplay *display;
    bool was_active;
    guint thumbnail_timer;
};

G_DEFINE_FINAL_TYPE(VireoVmWindow, vireo_vm_window, ADW_TYPE_APPLICATION_WINDOW)

static void show_toast(VireoVmWindow *w, const char *text)
{
    adw_toast_overlay_add_toast(w->toast_overlay, adw_toast_new(text));
}

static void set_action_enabled(VireoVmWindow *w, const char *name, bool on)
{
    GAction *a = g_action_map_lookup_action(G_ACTION_MAP(w), name);
    if (a)
        g_simple_action_set_enabled(G_SIMPLE_ACTION(a), on);
}

static bool display_grabbed(VireoVmWindow *w)
{
    return vireo_display_get_grabbed(w->display);
}

/* Keeps the last picture as the library's thumbnail. */
static void save_thumbnail(VireoVmWindow *w, bool save)
{
    g_autoptr(GdkTexture) t = vireo_display_get_texture(w->display);
    if (t)
        vireo_machine_set_thumbnail(w->machine, t, save);
}

/* The library's row follows the running screen, a picture every few seconds. */
static gboolean refresh_thumbnail(gpointer data)
{
    save_thumbnail(data, false);
    return G_SOURCE_CONTINUE;
}

static void update_title(VireoVmWindow *w)
{
    VireoMachineState st = vireo_machine_get_state(w->machine);
    adw_window_title_set_title(w->window_title, vireo_machine_get_name(w->machine));
    gtk_window_set_title(GTK_WINDOW(w), vireo_machine_get_name(w->machine));
    if (display_grabbed(w))
        adw_window_title_set_subtitle(w->window_title, _("Press Ctrl+Alt to release the keyboard and mouse"));
    else if (st == VIREO_MACHINE_RUNNING)
        adw_window_title_set_subtitle(w->window_title, _("Running — click the screen to use it"));
    else
        adw_window_title_set_subtitle(w->window_title, vireo_machine_state_label(st));
    bool full = gtk_window_is_fullscreen(GTK_WINDOW(w));
    gtk_revealer_set_reveal_child(w->header_revealer, !full || !display_grabbed(w));
}

static void update_state(VireoVmWindow *w)
{
    bool active = vireo_machine_is_active(w->machine);
    VireoMachineState st = vireo_machine_get_state(w->machine);
    if (!active && w->was_active)
        save_thumbnail(w, true);
    vireo_display_attach(w->display, active ? vireo_machine_get_vm(w->machine) : NULL);
    if (w->was_active && !active && st == VIREO_MACHINE_FAILED)
        show_toast(w, vireo_machine_get_error(w->machine));
    w->was_active = active;
    if (active && !w->thumbnail_timer)
        w->thumbnail_timer = g_timeout_add_seconds(5, refresh_thumbnail, w);
    else if (!active && w->thumbnail_timer)
        g_clear_handle_id(&w->thumbnail_timer, g_source_remove);
    gtk_stack_set_visible_child_name(w->stack, active ? "display" : "off");
    const char *err = vireo_machine_get_error(w->machine);
    if (st == VIREO_MACHINE_FAILED) {
        adw_status_page_set_title(w->off_page, _("Stopped With an Error"));
        g_autofree char *text = g_strdup_printf("%s\n\n%s", err,
            _("The guest's disks are as it left them. Start it again, or change its settings first."));
        adw_status_page_set_description(w->off_page, text);
    } else if (st == VIREO_MACHINE_BROKEN) {
        adw_status_page_set_title(w->off_page, _("Cannot Start"));
        adw_status_page_set_description(w->off_page, err);
    } else {
        adw_status_page_set_title(w->off_page, _("Powered Off"));
        adw_status_page_set_description(w->off_page, _("Start the virtual machine to see its screen."));
    }
    gtk_widget_set_visible(GTK_WIDGET(w->start_button), !active);
    gtk_widget_set_visible(GTK_WIDGET(w->pause_button), active);
    set_action_enabled(w, "start", !active);
    const char *running_only[] = { "pause", "reset", "shutdown", "force-off", "send-keys", "screenshot",
                                   "screenshot-to" };
    for (size_t i = 0; i < G_N_ELEMENTS(running_only); i++)
        set_action_enabled(w, running_only[i], active);
    GAction *pause = g_action_map_lookup_action(G_ACTION_MAP(w), "pause");
    g_simple_action_set_state(G_SIMPLE_ACTION(pause), g_variant_new_boolean(st == VIREO_MACHINE_PAUSED));
    update_title(w);
}

/* The application's shortcuts (Ctrl+Q, F11, ...) run before any widget sees a key.
 * While the guest has the keyboard they are taken away, and given back on release. */
static void suspend_app_accels(VireoVmWindow *w, bool suspend)
{
    GtkApplication *app = GTK_APPLICATION(w->app);
    if (suspend && !w->saved_accels) {
        w->saved_accels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
        g_auto(GStrv) actions = gtk_application_list_action_descriptions(app);
        const char *none[] = { NULL };
        for (char **a = actions; a && *a; a++) {
            g_hash_table_insert(w->saved_accels, g_strdup(*a), gtk_application_get_accels_for_action(app, *a));
            gtk_application_set_accels_for_action(app, *a, none);
        }
    } else if (!suspend && w->saved_accels) {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, w->saved_accels);
        while (g_hash_table_iter_next(&it, &key, &value))
            gtk_application_set_accels_for_action(app, key, (const char *const *)value);
        g_clear_pointer(&w->saved_accels, g_hash_table_unref);
    }
}

static void on_grab_changed(VireoVmWindow *w)
{
    suspend_app_accels(w, display_grabbed(w));
    update_title(w);
}

static void on_machine_notify(VireoMachine *m, GParamSpec *ps, VireoVmWindow *w)
{
    update_state(w);
}

/* ---- actions ---- */

static void action_start(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    g_autoptr(GError) err = NULL;
    if (!vireo_machine_start(w->machine, &err))
        vireo_show_start_error(GTK_WINDOW(w), w->machine, err);
    update_state(w);
    if (vireo_machine_is_active(w->machine))
        gtk_widget_grab_focus(GTK_WIDGET(w->display));
}

static void action_pause(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    if (vireo_machine_get_state(w->machine) == VIREO_MACHINE_PAUSED)
        vireo_machine_resume(w->machine);
    else
        vireo_machine_pause(w->machine);
}

static void action_reset(GSimpleAction *a, GVariant *p, gpointer data)
{
    vireo_machine_reset(((VireoVmWindow *)data)->machine);
}

static void action_shutdown(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    vireo_machine_shutdown(w->machine);
    show_toast(w, _("Asked the system to shut down (power button)."));
}

static void action_force_off(GSimpleAction *a, GVariant *p, gpointer data)
{
    vireo_machine_force_off(((VireoVmWindow *)data)->machine);
}

/* Key combinations of the Send Keys menu, as PC scancodes. */
static const struct {
    const char *name;
    uint16_t codes[4];
    size_t n;
} key_combos[] = {
    { "ctrl-alt-delete", { 0x1d, 0x38, 0xe053 }, 3 },
    { "ctrl-alt-backspace", { 0x1d, 0x38, 0x0e }, 3 },
    { "ctrl-alt-f1", { 0x1d, 0x38, 0x3b }, 3 },
    { "ctrl-alt-f2", { 0x1d, 0x38, 0x3c }, 3 },
    { "ctrl-alt-f7", { 0x1d, 0x38, 0x41 }, 3 },
    { "alt-tab", { 0x38, 0x0f }, 2 },
    { "print", { VM_KEY_PRINT_SCREEN }, 1 },
    { "escape", { 0x01 }, 1 },
};

static void action_send_keys(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    const char *name = g_variant_get_string(p, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(key_combos); i++)
        if (!strcmp(key_combos[i].name, name))
            vireo_display_send_keys(w->display, key_combos[i].codes, key_combos[i].n);
}

static void save_screenshot(VireoVmWindow *w, const char *path)
{
    g_autoptr(GError) err = NULL;
    if (!vireo_display_save_png(w->display, path, &err)) {
        g_autofree char *msg = g_strdup_printf(_("Cannot save the screenshot: %s"),
                                               err->message);
        show_toast(w, msg);
        return;
    }
    g_autofree char *msg = g_strdup_printf(_("Screenshot saved to %s"), path);
    show_toast(w, msg);
}

static void action_screenshot_to(GSimpleAction *a, GVariant *p, gpointer data)
{
    save_screenshot(data, g_variant_get_string(p, NULL));
}

static void on_screenshot_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    VireoVmWindow *w = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path)
            save_screenshot(w, path);
    }
    g_object_unref(d);
    g_object_unref(w);
}

static void action_screenshot(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    GtkFileChooserNative *d = gtk_file_chooser_native_new(_("Save Screenshot"), GTK_WINDOW(w),
                                                          GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%d %H-%M-%S");
    g_autofree char *name = g_strdup_printf("%s %s.png", vireo_machine_get_name(w->machine), stamp);
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(d), name);
    const char *pictures = g_get_user_special_dir(G_USER_DIRECTORY_PICTURES);
    if (pictures) {
        g_autoptr(GFile) dir = g_file_new_for_path(pictures);
        gtk_file_chooser_set_current_folder(GTK_FILE_CHOOSER(d), dir, NULL);
    }
    g_signal_connect(d, "response", G_CALLBACK(on_screenshot_chosen), g_object_ref(w));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

static void action_fullscreen(GSimpleAction *a, GVariant *p, gpointer data)
{
    GtkWindow *win = data;
    if (gtk_window_is_fullscreen(win))
        gtk_window_unfullscreen(win);
    else
        gtk_window_fullscreen(win);
}

static void action_integer_scaling(GSimpleAction *a, GVariant *value, gpointer data)
{
    VireoVmWindow *w = data;
    g_simple_action_set_state(a, value);
    vireo_display_set_integer_scaling(w->display, g_variant_get_boolean(value));
    GSettings *s = vireo_application_get_settings(w->app);
    if (s)
        g_settings_set_boolean(s, "integer-scaling", g_variant_get_boolean(value));
}

static void action_settings(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    gtk_window_present(vireo_settings_dialog_new(GTK_WINDOW(w), w->machine));
}

static const GActionEntry vm_actions[] = {
    { "start", action_start, NULL, NULL, NULL, { 0 } },
    { "pause", action_pause, NULL, "false", NULL, { 0 } },
    { "reset", action_reset, NULL, NULL, NULL, { 0 } },
    { "shutdown", action_shutdown, NULL, NULL, NULL, { 0 } },
    { "force-off", action_force_off, NULL, NULL, NULL, { 0 } },
    { "send-keys", action_send_keys, "s", NULL, NULL, { 0 } },
    { "screenshot", action_screenshot, NULL, NULL, NULL, { 0 } },
    { "screenshot-to", action_screenshot_to, "s", NULL, NULL, { 0 } },
    { "fullscreen", action_fullscreen, NULL, NULL, NULL, { 0 } },
    { "integer-scaling", NULL, NULL, "false", action_integer_scaling, { 0 } },
    { "settings", action_settings, NULL, NULL, NULL, { 0 } },
};

/* ---- window ---- */

static gboolean on_close_request(GtkWindow *win, gpointer data)
{
    VireoVmWindow *w = VIREO_VM_WINDOW(win);
    /* The VM keeps running without its window; the library lists it as running, so
     * the library window comes back if it was closed. */
    save_thumbnail(w, true);
    if (vireo_machine_is_active(w->machine))
        gtk_window_present(vireo_application_get_main_window(w->app));
    vireo_display_attach(w->display, NULL);
    return FALSE;
}

static void on_fullscreen_changed(GObject *obj, GParamSpec *ps, gpointer data)
{
    update_title(VIREO_VM_WINDOW(obj));
}

static void vireo_vm_window_dispose(GObject *obj)
{
    VireoVmWindow *w = VIREO_VM_WINDOW(obj);
    suspend_app_accels(w, false);
    g_clear_handle_id(&w->thumbnail_timer, g_source_remove);
    g_clear_object(&w->machine);
    G_OBJECT_CLASS(vireo_vm_window_parent_class)->dispose(obj);
}

static void vireo_vm_window_class_init(VireoVmWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = vireo_vm_window_dispose;
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
    gtk_widget_class_set_template_from_resource(wc, "/org/vireo/Vireo/ui/vireo-vm-window.ui");
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, header_revealer);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, window_title);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, start_button);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, pause_button);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, toast_overlay);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, stack);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, off_page);
}

static void vireo_vm_window_init(VireoVmWindow *w)
{
    gtk_widget_init_template(GTK_WIDGET(w));
    g_action_map_add_action_entries(G_ACTION_MAP(w), vm_actions, G_N_ELEMENTS(vm_actions), w);
    w->display = vireo_display_new();
    g_signal_connect_swapped(w->display, "notify::grabbed", G_CALLBACK(on_grab_changed), w);
    gtk_stack_add_named(w->stack, GTK_WIDGET(w->display), "display");
    g_signal_connect(w, "close-request", G_CALLBACK(on_close_request), NULL);
    g_signal_connect(w, "notify::fullscreened", G_CALLBACK(on_fullscreen_changed), NULL);
}

VireoVmWindow *vireo_vm_window_new(VireoApplication *app, VireoMachine *m)
{
    VireoVmWindow *w = g_object_new(VIREO_TYPE_VM_WINDOW, "application", app, NULL);
    w->app = app;
    w->machine = g_object_ref(m);
    w->was_active = vireo_machine_is_active(m);
    g_signal_connect_object(m, "notify", G_CALLBACK(on_machine_notify), w, 0);
    GSettings *s = vireo_application_get_settings(app);
    if (s && g_settings_get_boolean(s, "integer-scaling"))
        g_action_group_change_action_state(G_ACTION_GROUP(w), "integer-scaling", g_variant_new_boolean(TRUE));
    update_state(w);
    return w;
}

VireoMachine *vireo_vm_window_get_machine(VireoVmWindow *w)
{
    return w->machine;
}

GtkWidget *vireo_vm_window_get_display(VireoVmWindow *w)
{
    return GTK_WIDGET(w->display);
}

const char *vireo_vm_window_get_status(VireoVmWindow *w)
{
    return adw_window_title_get_subtitle(w->window_title);
}
