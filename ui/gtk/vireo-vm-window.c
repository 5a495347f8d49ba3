/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VM's window. The engine runs on its own threads; everything here reacts to the
 * machine's state notifications and never waits on the guest. */
#include "ui/gtk/vireo-vm-window.h"
#include "ui/gtk/vireo-volume.h"
#include "ui/gtk/vireo-settings.h"
#include "ui/gtk/vireo-share.h"
#include "ui/gtk/vireo-snapshots.h"
#include "ui/gtk/vireo-usb.h"
#include "ui/gtk/vireo-window.h"
#include "vireo-config.h"
#include "ui/gtk/vireo-display.h"
#include "engine/input.h"

#include "engine/display.h"
#include "engine/vmconf.h"

#include <glib/gi18n.h>
#ifdef HAVE_GTK_X11
#include <gdk/x11/gdkx.h>
#endif
#include <string.h>

/* vm.conf's group for what this window remembers of each VM (engine/vmconf.h). */
#define UI_GROUP "ui"

struct _VireoVmWindow {
    AdwApplicationWindow parent;
    GtkRevealer *header_revealer;
    AdwHeaderBar *header_bar;
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
    guint boot_watch;           /* looks for the firmware's "nothing to boot" */
    GtkRevealer *boot_problem;
    int restore_x, restore_y;   /* a remembered position to apply once mapped, or -1 */
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

/* SeaBIOS ends its boot with "No bootable device." on the text screen when no drive
 * held a boot sector (its boot.c boot_fail); the board's bootorder file ends in HALT,
 * so it says so as soon as the VM's own drives are tried. The screen is what the user
 * sees, in any VM, with or without a debug console, so that is what is watched. */
static bool screen_says_nothing_to_boot(VireoVmWindow *w)
{
    Vm *vm = vireo_machine_get_vm(w->machine);
    DisplayConsole *con = vm ? vm_display_console(vm) : NULL;
    DisplayText t;
    if (!con || !display_console_get_text(con, &t))
        return false;
    bool found = false;
    for (int r = 0; r < t.rows && !found; r++) {
        g_autofree char *row = display_text_row_utf8(&t, r);
        found = g_str_has_prefix(row, "No bootable device");
    }
    display_text_clear(&t);
    return found;
}

static gboolean watch_boot(gpointer data)
{
    VireoVmWindow *w = data;
    bool none = vireo_machine_get_state(w->machine) == VIREO_MACHINE_RUNNING && screen_says_nothing_to_boot(w);
    gtk_revealer_set_reveal_child(w->boot_problem, none);
    return G_SOURCE_CONTINUE;
}

static void update_title(VireoVmWindow *w)
{
    VireoMachineState st = vireo_machine_get_state(w->machine);
    adw_window_title_set_title(w->window_title, vireo_machine_get_name(w->machine));
    gtk_window_set_title(GTK_WINDOW(w), vireo_machine_get_name(w->machine));
    bool paused = st == VIREO_MACHINE_PAUSED;
    if (display_grabbed(w) && paused)
        adw_window_title_set_subtitle(w->window_title, _("Paused — press Ctrl+Alt to release the keyboard and mouse"));
    else if (display_grabbed(w))
        adw_window_title_set_subtitle(w->window_title, _("Press Ctrl+Alt to release the keyboard and mouse"));
    else if (st == VIREO_MACHINE_RUNNING && vireo_display_get_keys_released(w->display))
        adw_window_title_set_subtitle(w->window_title, _("Running — the keyboard is released; click the screen to use it"));
    else if (st == VIREO_MACHINE_RUNNING)
        adw_window_title_set_subtitle(w->window_title, _("Running — click the screen to use it"));
    else
        adw_window_title_set_subtitle(w->window_title, vireo_machine_state_label(st));
    /* The pause button says what a click does. */
    gtk_button_set_icon_name(GTK_BUTTON(w->pause_button),
                             paused ? "media-playback-start-symbolic" : "media-playback-pause-symbolic");
    gtk_widget_set_tooltip_text(GTK_WIDGET(w->pause_button), paused ? _("Resume") : _("Pause"));
    /* Full screen and grabbed, the header bar hides, unless it has to say "Paused". */
    bool full = gtk_window_is_fullscreen(GTK_WINDOW(w));
    gtk_revealer_set_reveal_child(w->header_revealer, !full || !display_grabbed(w) || paused);
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
    if (active && !w->boot_watch)
        w->boot_watch = g_timeout_add(500, watch_boot, w);
    else if (!active && w->boot_watch)
        g_clear_handle_id(&w->boot_watch, g_source_remove);
    if (!active)
        gtk_revealer_set_reveal_child(w->boot_problem, FALSE);
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
                                   "screenshot-to", "share" };
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
    /* The sound properties are the volume button's. */
    const char *name = ps ? g_param_spec_get_name(ps) : "";
    if (!strcmp(name, "volume") || !strcmp(name, "muted") || !strcmp(name, "playing"))
        return;
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

/* Reset and Force Off lose what the guest has not saved: they ask first, as Boxes does. */
static void on_confirm_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    VireoVmWindow *w = data;
    if (!g_strcmp0(response, "reset"))
        vireo_machine_reset(w->machine);
    else if (!g_strcmp0(response, "force-off"))
        vireo_machine_force_off(w->machine);
}

static void confirm(VireoVmWindow *w, const char *heading, const char *body, const char *response,
                    const char *label)
{
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(w), heading, body);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), response, label, NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), response, ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect_object(d, "response", G_CALLBACK(on_confirm_response), w, 0);
    gtk_window_present(GTK_WINDOW(d));
}

static void action_reset(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    g_autofree char *heading = g_strdup_printf(_("Reset “%s”?"), vireo_machine_get_name(w->machine));
    confirm(w, heading, _("The virtual machine restarts at once, as with a reset button: whatever its system has not saved is lost."),
            "reset", _("_Reset"));
}

static void action_shutdown(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    vireo_machine_shutdown(w->machine);
    show_toast(w, _("Asked the system to shut down (power button)."));
}

static void action_force_off(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    g_autofree char *heading = g_strdup_printf(_("Force Off “%s”?"), vireo_machine_get_name(w->machine));
    confirm(w, heading, _("This pulls the plug: whatever its system has not saved is lost. Shut Down asks the system to stop by itself."),
            "force-off", _("_Force Off"));
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

/* Where screenshots go: the Pictures folder of xdg-user-dirs; without that setting,
 * ~/Pictures as most desktops make it; never the folder the app was started from. */
char *vireo_pictures_folder(void)
{
    const char *pictures = g_get_user_special_dir(G_USER_DIRECTORY_PICTURES);
    if (pictures && g_file_test(pictures, G_FILE_TEST_IS_DIR) && g_strcmp0(pictures, g_get_home_dir()))
        return g_strdup(pictures);
    g_autofree char *fallback = g_build_filename(g_get_home_dir(), "Pictures", NULL);
    if (g_file_test(fallback, G_FILE_TEST_IS_DIR))
        return g_steal_pointer(&fallback);
    return g_strdup(g_get_home_dir());
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
    g_autofree char *folder = vireo_pictures_folder();
    g_autoptr(GFile) dir = g_file_new_for_path(folder);
    gtk_file_chooser_set_current_folder(GTK_FILE_CHOOSER(d), dir, NULL);
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
}

static void action_settings(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    gtk_window_present(vireo_settings_dialog_new(GTK_WINDOW(w), w->machine));
}

static void action_share(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    vireo_share_dialog_show(GTK_WINDOW(w), w->machine);
}

static void action_snapshots(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    vireo_snapshots_window_show(GTK_WINDOW(w), w->machine);
}

static void action_take_snapshot(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoVmWindow *w = data;
    vireo_snapshots_take_now(GTK_WINDOW(w), w->machine);
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
    { "share", action_share, NULL, NULL, NULL, { 0 } },
    { "snapshots", action_snapshots, NULL, NULL, NULL, { 0 } },
    { "take-snapshot", action_take_snapshot, NULL, NULL, NULL, { 0 } },
};

/* ---- window ---- */

#ifdef HAVE_GTK_X11
static bool x11_toplevel(VireoVmWindow *w, Display **dpy, Window *xid)
{
    GdkSurface *s = gtk_native_get_surface(GTK_NATIVE(w));
    if (!s || !GDK_IS_X11_SURFACE(s))
        return false;
    *dpy = GDK_DISPLAY_XDISPLAY(gdk_surface_get_display(s));
    *xid = gdk_x11_surface_get_xid(s);
    return *xid != None;
}
#endif

/* The window's place on the screen. GTK 4 has no API for it; on X11 the server
 * knows. Elsewhere (Wayland) the compositor places windows and nothing is kept. */
static bool get_position(VireoVmWindow *w, int *x, int *y)
{
#ifdef HAVE_GTK_X11
    Display *dpy;
    Window xid, child;
    if (!x11_toplevel(w, &dpy, &xid))
        return false;
    return XTranslateCoordinates(dpy, xid, DefaultRootWindow(dpy), 0, 0, x, y, &child);
#else
    return false;
#endif
}

static void on_map(GtkWidget *widget, gpointer data)
{
    VireoVmWindow *w = VIREO_VM_WINDOW(widget);
    if (w->restore_x < 0)
        return;
#ifdef HAVE_GTK_X11
    Display *dpy;
    Window xid;
    if (x11_toplevel(w, &dpy, &xid)) {
        XMoveWindow(dpy, xid, w->restore_x, w->restore_y);
        XFlush(dpy);
    }
#endif
    w->restore_x = w->restore_y = -1;
}

/* Size, position, maximized and integer scaling go to the VM's vm.conf ([ui]): each VM
 * opens as it was left, whatever another VM's window did. */
static void save_geometry(VireoVmWindow *w)
{
    if (!w->machine || !vireo_machine_get_conf(w->machine))
        return;
    g_autoptr(GKeyFile) conf = g_key_file_new();
    gsize len;
    g_autofree char *data = g_key_file_to_data(vireo_machine_get_conf(w->machine), &len, NULL);
    if (!g_key_file_load_from_data(conf, data, len, G_KEY_FILE_KEEP_COMMENTS, NULL))
        return;
    int width, height, x, y;
    gtk_window_get_default_size(GTK_WINDOW(w), &width, &height);
    bool maximized = gtk_window_is_maximized(GTK_WINDOW(w));
    if (width > 0 && height > 0) {
        g_key_file_set_integer(conf, UI_GROUP, "width", width);
        g_key_file_set_integer(conf, UI_GROUP, "height", height);
    }
    g_key_file_set_boolean(conf, UI_GROUP, "maximized", maximized);
    if (!maximized && get_position(w, &x, &y)) {
        g_key_file_set_integer(conf, UI_GROUP, "x", x);
        g_key_file_set_integer(conf, UI_GROUP, "y", y);
    }
    GVariant *st = g_action_group_get_action_state(G_ACTION_GROUP(w), "integer-scaling");
    g_key_file_set_boolean(conf, UI_GROUP, "integer-scaling", st && g_variant_get_boolean(st));
    if (st)
        g_variant_unref(st);
    /* A vm.conf with a bad value stays as the user left it; nothing here is worth more. */
    vireo_machine_save_conf(w->machine, conf, NULL);
}

static int ui_int(GKeyFile *kf, const char *key, int fallback)
{
    g_autoptr(GError) err = NULL;
    int v = g_key_file_get_integer(kf, UI_GROUP, key, &err);
    return err ? fallback : v;
}

static void restore_geometry(VireoVmWindow *w)
{
    GKeyFile *kf = vireo_machine_get_conf(w->machine);
    w->restore_x = w->restore_y = -1;
    if (!kf || !g_key_file_has_group(kf, UI_GROUP))
        return;
    int width = ui_int(kf, "width", 0), height = ui_int(kf, "height", 0);
    if (width >= 200 && height >= 150 && width <= 16384 && height <= 16384)
        gtk_window_set_default_size(GTK_WINDOW(w), width, height);
    if (g_key_file_get_boolean(kf, UI_GROUP, "maximized", NULL))
        gtk_window_maximize(GTK_WINDOW(w));
    int x = ui_int(kf, "x", -1), y = ui_int(kf, "y", -1);
    if (x >= 0 && y >= 0 && x < 65536 && y < 65536) {
        w->restore_x = x;
        w->restore_y = y;
    }
    if (g_key_file_get_boolean(kf, UI_GROUP, "integer-scaling", NULL))
        g_action_group_change_action_state(G_ACTION_GROUP(w), "integer-scaling", g_variant_new_boolean(TRUE));
}

static gboolean on_close_request(GtkWindow *win, gpointer data)
{
    VireoVmWindow *w = VIREO_VM_WINDOW(win);
    /* The VM keeps running without its window; the library lists it as running, so
     * the library window comes back if it was closed. */
    save_thumbnail(w, true);
    save_geometry(w);
    if (vireo_machine_is_active(w->machine))
        gtk_window_present(vireo_application_get_main_window(w->app));
    vireo_display_attach(w->display, NULL);
    return FALSE;
}

static void on_fullscreen_changed(GObject *obj, GParamSpec *ps, gpointer data)
{
    update_title(VIREO_VM_WINDOW(obj));
}

static void on_boot_problem_settings(GtkButton *b, VireoVmWindow *w)
{
    gtk_widget_activate_action(GTK_WIDGET(w), "win.settings", NULL);
}

/* Above the screen: what the firmware's "No bootable device" means, in our words. */
static void build_boot_problem(VireoVmWindow *w)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    gtk_widget_add_css_class(box, "toolbar");
    gtk_widget_add_css_class(box, "osd");
    GtkWidget *label = gtk_label_new(
        _("Nothing to start from: this virtual machine found no bootable disk, CD or floppy. "
          "Insert an install medium or add a disk with a system in its settings (or check the boot order), then reset it."));
    gtk_widget_set_name(label, "boot-problem-label");
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_xalign(GTK_LABEL(label), 0);
    gtk_widget_set_hexpand(label, TRUE);
    GtkWidget *settings = gtk_button_new_with_mnemonic(_("_Settings"));
    g_signal_connect(settings, "clicked", G_CALLBACK(on_boot_problem_settings), w);
    gtk_box_append(GTK_BOX(box), gtk_image_new_from_icon_name("dialog-warning-symbolic"));
    gtk_box_append(GTK_BOX(box), label);
    gtk_box_append(GTK_BOX(box), settings);
    w->boot_problem = GTK_REVEALER(gtk_revealer_new());
    gtk_widget_set_name(GTK_WIDGET(w->boot_problem), "boot-problem");
    gtk_revealer_set_child(w->boot_problem, box);
    GtkWidget *column = gtk_widget_get_parent(GTK_WIDGET(w->header_revealer));
    gtk_box_insert_child_after(GTK_BOX(column), GTK_WIDGET(w->boot_problem), GTK_WIDGET(w->header_revealer));
}

static void vireo_vm_window_dispose(GObject *obj)
{
    VireoVmWindow *w = VIREO_VM_WINDOW(obj);
    /* Quitting destroys windows without a close request. */
    if (w->machine && gtk_widget_get_realized(GTK_WIDGET(w)))
        save_geometry(w);
    suspend_app_accels(w, false);
    g_clear_handle_id(&w->thumbnail_timer, g_source_remove);
    g_clear_handle_id(&w->boot_watch, g_source_remove);
    g_clear_object(&w->machine);
    G_OBJECT_CLASS(vireo_vm_window_parent_class)->dispose(obj);
}

static void vireo_vm_window_class_init(VireoVmWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = vireo_vm_window_dispose;
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(klass);
    gtk_widget_class_set_template_from_resource(wc, "/org/vireo/Vireo/ui/vireo-vm-window.ui");
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, header_revealer);
    gtk_widget_class_bind_template_child(wc, VireoVmWindow, header_bar);
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
    g_signal_connect(w, "map", G_CALLBACK(on_map), NULL);
    w->restore_x = w->restore_y = -1;
    build_boot_problem(w);
    g_signal_connect(w, "notify::fullscreened", G_CALLBACK(on_fullscreen_changed), NULL);
}

/* A filter that could not connect its device says so where the user looks. */
static void on_usb_problem(VireoMachine *m, const char *text, VireoVmWindow *w)
{
    show_toast(w, text);
}

VireoVmWindow *vireo_vm_window_new(VireoApplication *app, VireoMachine *m)
{
    VireoVmWindow *w = g_object_new(VIREO_TYPE_VM_WINDOW, "application", app, NULL);
    w->app = app;
    w->machine = g_object_ref(m);
    w->was_active = vireo_machine_is_active(m);
    g_signal_connect_object(m, "notify", G_CALLBACK(on_machine_notify), w, 0);
    adw_header_bar_pack_end(w->header_bar, vireo_volume_button_new(m));
    adw_header_bar_pack_end(w->header_bar, vireo_usb_button_new(m));
    g_signal_connect_object(m, "usb-problem", G_CALLBACK(on_usb_problem), w, 0);
    restore_geometry(w);
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

gboolean vireo_vm_window_shows_boot_problem(VireoVmWindow *w)
{
    return gtk_revealer_get_reveal_child(w->boot_problem);
}

const char *vireo_vm_window_get_status(VireoVmWindow *w)
{
    return adw_window_title_get_subtitle(w->window_title);
}
