/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The UI tests' shared helpers (app-harness.h). */
#include "app-harness.h"
#include "engine/vmconf.h"
#include "engine/display.h"
#include "ui/gtk/vireo-display.h"
#include "vireo-config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

int exit_code = 1;
char *library_root;
char *work_dir;


void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

/* Runs the main loop until cond(data) holds or the time is up. */
bool wait_for(bool (*cond)(void *), void *data, int timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!cond(data)) {
        if (g_get_monotonic_time() > end)
            return false;
        g_main_context_iteration(NULL, FALSE);
        g_usleep(2000);
    }
    return true;
}

bool never(void *data)
{
    return false;
}

void run_for(int ms)
{
    wait_for(never, NULL, ms);
}

GtkWindow *find_window(GType type)
{
    GListModel *tops = gtk_window_get_toplevels();
    for (guint i = 0; i < g_list_model_get_n_items(tops); i++) {
        g_autoptr(GtkWindow) w = g_list_model_get_item(tops, i);
        if (G_TYPE_CHECK_INSTANCE_TYPE(w, type) && gtk_widget_get_visible(GTK_WIDGET(w)))
            return w;
    }
    return NULL;
}

bool window_exists(void *type)
{
    return find_window((GType)(gsize)type) != NULL;
}

bool message_dialog_shown(void *data)
{
    return find_window(ADW_TYPE_MESSAGE_DIALOG) != NULL;
}

GtkWidget *find_named(GtkWidget *root, const char *name)
{
    if (!g_strcmp0(gtk_widget_get_name(root), name))
        return root;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *hit = find_named(c, name);
        if (hit)
            return hit;
    }
    return NULL;
}

bool label_with_text(GtkWidget *root, const char *needle)
{
    if (GTK_IS_LABEL(root) && strstr(gtk_label_get_text(GTK_LABEL(root)), needle))
        return true;
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        if (label_with_text(c, needle))
            return true;
    return false;
}

GObject *wizard_child(VireoWizard *w, const char *id)
{
    GObject *o = gtk_widget_get_template_child(GTK_WIDGET(w), VIREO_TYPE_WIZARD, id);
    CHECK(o != NULL, "wizard has no child '%s'", id);
    return o;
}

bool next_enabled(VireoWizard *w)
{
    return gtk_widget_get_sensitive(GTK_WIDGET(wizard_child(w, "next_button")));
}

char *conf_value(const char *vm, const char *group, const char *key)
{
    g_autofree char *dir = g_build_filename(library_root, vm, NULL);
    g_autoptr(GKeyFile) kf = vmconf_load(dir, NULL);
    return kf ? g_key_file_get_string(kf, group, key, NULL) : NULL;
}

/* With VIREO_UI_SCREENSHOT_DIR set, pictures of the screen for the README: the
 * window at the top left of the (window-manager-less) X screen, cropped to its size. */
void screenshot(GtkWindow *win, const char *name)
{
    const char *dir = g_getenv("VIREO_UI_SCREENSHOT_DIR");
    if (!dir)
        return;
    run_for(300);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *crop = g_strdup_printf("%dx%d+0+0", gtk_widget_get_width(GTK_WIDGET(win)),
                                            gtk_widget_get_height(GTK_WIDGET(win)));
    const char *argv[] = { "import", "-window", "root", "-crop", crop, path, NULL };
    int status = -1;
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL);
    note("screenshot %s: %s", path, status == 0 ? "written" : "failed");
}

VireoApplication *app;


bool screen_shows(void *data)
{
    ScreenWait *sw = data;
    Vm *vm = vireo_machine_get_vm(vireo_vm_window_get_machine(sw->win));
    DisplayConsole *con = vm ? vm_display_console(vm) : NULL;
    if (!con)
        return false;
    DisplayText t;
    if (!display_console_get_text(con, &t))
        return false;
    bool found = false;
    for (int r = 0; r < t.rows && !found; r++) {
        g_autofree char *row = display_text_row_utf8(&t, r);
        found = strstr(row, sw->text) != NULL;
    }
    display_text_clear(&t);
    return found;
}

void dump_screen(VireoVmWindow *win)
{
    Vm *vm = vireo_machine_get_vm(vireo_vm_window_get_machine(win));
    DisplayConsole *con = vm ? vm_display_console(vm) : NULL;
    DisplayText t;
    if (!con || !display_console_get_text(con, &t))
        return;
    for (int r = 0; r < t.rows; r++) {
        g_autofree char *row = display_text_row_utf8(&t, r);
        g_strchomp(row);
        if (*row)
            note("screen %2d: %s", r, row);
    }
    display_text_clear(&t);
}

GtkEventController *key_controller(GtkWidget *w)
{
    g_autoptr(GListModel) ctrls = gtk_widget_observe_controllers(w);
    for (guint i = 0; i < g_list_model_get_n_items(ctrls); i++) {
        g_autoptr(GtkEventController) c = g_list_model_get_item(ctrls, i);
        if (GTK_IS_EVENT_CONTROLLER_KEY(c))
            return c;
    }
    return NULL;
}

GtkGesture *click_gesture(GtkWidget *w)
{
    g_autoptr(GListModel) ctrls = gtk_widget_observe_controllers(w);
    for (guint i = 0; i < g_list_model_get_n_items(ctrls); i++) {
        g_autoptr(GtkEventController) c = g_list_model_get_item(ctrls, i);
        if (GTK_IS_GESTURE_CLICK(c))
            return GTK_GESTURE(c);
    }
    return NULL;
}

/* A key as the X server reports it: keyval and X11 keycode. */
void type_key(GtkWidget *display, guint keyval, guint keycode, bool down)
{
    GtkEventController *c = key_controller(display);
    CHECK(c, "the display has no key controller");
    gboolean handled = FALSE;
    if (down)
        g_signal_emit_by_name(c, "key-pressed", keyval, keycode, (GdkModifierType)0, &handled);
    else
        g_signal_emit_by_name(c, "key-released", keyval, keycode, (GdkModifierType)0);
}

bool machine_is_off(void *data)
{
    return !vireo_machine_is_active(data);
}

bool grabbed(void *data)
{
    return vireo_display_get_grabbed(data);
}

void build_linux_kit(const char *dir, const char *script, const char *arg)
{
    for (int i = 0; i < 2; i++) {
        g_autofree char *path = g_build_filename(VIREO_SOURCE_ROOT, "tests", "guests", "linux",
                                                 i ? script : "mkkit.sh", NULL);
        const char *argv[] = { "sh", path, dir, i ? arg : NULL, NULL };
        int status = -1;
        CHECK(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL),
              "cannot run %s", path);
        if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP) {
            note("SKIP: the Linux kit could not be built");
            exit(SKIP);
        }
        CHECK(g_spawn_check_wait_status(status, NULL), "%s failed", path);
    }
}

void write_vm(const char *name, const char *conf)
{
    g_autofree char *dir = g_build_filename(library_root, name, NULL);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *p = g_build_filename(dir, "vm.conf", NULL);
    CHECK(!conf || g_file_set_contents(p, conf, -1, NULL), "cannot write %s", p);
}


/* A screen row that is exactly line (command output, not the command line echoed). */
bool screen_has_row(void *data)
{
    RowWait *rw = data;
    Vm *vm = vireo_machine_get_vm(vireo_vm_window_get_machine(rw->win));
    DisplayConsole *con = vm ? vm_display_console(vm) : NULL;
    DisplayText t;
    if (!con || !display_console_get_text(con, &t))
        return false;
    bool found = false;
    for (int r = 0; r < t.rows && !found; r++) {
        g_autofree char *row = display_text_row_utf8(&t, r);
        found = !strcmp(g_strstrip(row), rw->line);
    }
    display_text_clear(&t);
    return found;
}

void remove_tree(const char *path)
{
    GStatBuf st;
    if (g_lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, n, NULL);
            remove_tree(p);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

/* The work folder goes however the case ends (CHECK exits); VIREO_UI_KEEP_WORK_DIR=1
 * keeps it to look at a failure. */
void remove_work_dir(void)
{
    if (!work_dir)
        return;
    if (g_getenv("VIREO_UI_KEEP_WORK_DIR")) {
        printf("# kept %s\n", work_dir);
        return;
    }
    remove_tree(work_dir);
}

AdwMessageDialog *wait_dialog(void)
{
    CHECK(wait_for(message_dialog_shown, NULL, 5000), "no dialog appeared");
    return ADW_MESSAGE_DIALOG(find_window(ADW_TYPE_MESSAGE_DIALOG));
}

void answer(AdwMessageDialog *d, const char *response)
{
    adw_message_dialog_response(d, response);
    gtk_window_destroy(GTK_WINDOW(d));
    run_for(50);
}

void click(GtkWidget *button)
{
    g_signal_emit_by_name(button, "clicked");
    run_for(50);
}

bool have_program(const char *name)
{
    g_autofree char *p = g_find_program_in_path(name);
    return p != NULL;
}

void force_off(VireoVmWindow *win)
{
    gtk_widget_activate_action(GTK_WIDGET(win), "win.force-off", NULL);
    CHECK(wait_for(message_dialog_shown, NULL, 5000), "Force Off did not ask");
    AdwMessageDialog *d = ADW_MESSAGE_DIALOG(find_window(ADW_TYPE_MESSAGE_DIALOG));
    adw_message_dialog_response(d, "force-off");
    gtk_window_destroy(GTK_WINDOW(d));
}

/* ---- the window's picture against the engine's ---- */

bool display_has_picture(void *data)
{
    int w, h;
    return vireo_display_get_surface_size(data, &w, &h) && w > 300;
}

/* The display widget's picture as GTK composites it: its render node through the
 * window's renderer, downloaded to memory (B, G, R, A bytes). */
static guchar *capture_widget(GtkWidget *w, int *width, int *height)
{
    *width = gtk_widget_get_width(w);
    *height = gtk_widget_get_height(w);
    g_autoptr(GdkPaintable) p = gtk_widget_paintable_new(w);
    GtkSnapshot *snap = gtk_snapshot_new();
    gdk_paintable_snapshot(p, GDK_SNAPSHOT(snap), *width, *height);
    g_autoptr(GskRenderNode) node = gtk_snapshot_free_to_node(snap);
    CHECK(node, "the display drew nothing");
    GskRenderer *r = gtk_native_get_renderer(gtk_widget_get_native(w));
    graphene_rect_t bounds = GRAPHENE_RECT_INIT(0, 0, (float)*width, (float)*height);
    g_autoptr(GdkTexture) t = gsk_renderer_render_texture(r, node, &bounds);
    guchar *buf = g_malloc((size_t)*width * (size_t)*height * 4);
    gdk_texture_download(t, buf, (gsize)*width * 4);
    return buf;
}

static guchar *load_png(const char *path, int *width, int *height)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GdkTexture) t = gdk_texture_new_from_filename(path, &err);
    CHECK(t, "%s: %s", path, err ? err->message : "?");
    *width = gdk_texture_get_width(t);
    *height = gdk_texture_get_height(t);
    guchar *buf = g_malloc((size_t)*width * (size_t)*height * 4);
    gdk_texture_download(t, buf, (gsize)*width * 4);
    return buf;
}

void engine_screendump(VireoVmWindow *win, const char *path)
{
    g_autoptr(GError) err = NULL;
    Vm *vm = vireo_machine_get_vm(vireo_vm_window_get_machine(win));
    CHECK(vm, "screendump of a VM that is off");
    DisplayClient *client = display_client_new(vm_display_console(vm));
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool fresh;
    DisplaySurface *surf = display_client_refresh(client, &dirty, &fresh);
    CHECK(display_surface_write_png(surf, path, &err), "screendump: %s", err ? err->message : "?");
    pixman_region32_fini(&dirty);
    display_client_free(client);
}

void compare_window_with_png(VireoVmWindow *win, const char *png)
{
    GtkWidget *display = vireo_vm_window_get_display(win);
    /* Integer scaling: one guest pixel is k x k window pixels, so the comparison is exact. */
    g_action_group_change_action_state(G_ACTION_GROUP(win), "integer-scaling", g_variant_new_boolean(TRUE));
    /* Paused: the cursor stops blinking and the screen holds still. */
    g_action_group_activate_action(G_ACTION_GROUP(win), "pause", NULL);
    run_for(300);
    int cw, ch;
    g_autofree guchar *cap = capture_widget(display, &cw, &ch);
    g_autofree char *dump = g_build_filename(work_dir, "screendump.png", NULL);
    if (!png) {
        engine_screendump(win, dump);
        png = dump;
    }
    int sw, sh;
    g_autofree guchar *ref = load_png(png, &sw, &sh);
    graphene_rect_t r;
    CHECK(vireo_display_get_picture_rect(VIREO_DISPLAY(display), &r), "no picture rect");
    int k = (int)(r.size.width / sw);
    note("window display %dx%d, guest %dx%d, picture at %.0f,%.0f scale %d", cw, ch, sw, sh,
         r.origin.x, r.origin.y, k);
    CHECK(k >= 1 && (int)r.size.width == sw * k && (int)r.size.height == sh * k, "not an integer scale");
    long diff = 0, lit = 0;
    for (int y = 0; y < sh * k; y++) {
        for (int x = 0; x < sw * k; x++) {
            int wx = (int)r.origin.x + x, wy = (int)r.origin.y + y;
            CHECK(wx < cw && wy < ch, "picture outside the widget");
            const guchar *a = cap + ((size_t)wy * (size_t)cw + (size_t)wx) * 4;
            const guchar *b = ref + ((size_t)(y / k) * (size_t)sw + (size_t)(x / k)) * 4;
            if (abs(a[0] - b[0]) > 2 || abs(a[1] - b[1]) > 2 || abs(a[2] - b[2]) > 2)
                diff++;
            if (b[0] | b[1] | b[2])
                lit++;
        }
    }
    note("%ld of %d pixels differ, %ld lit", diff, sw * k * sh * k, lit);
    CHECK(lit > 1000, "the screendump is blank");
    CHECK(diff == 0, "the window shows something else than %s", png == dump ? "the engine's screendump" : png);
    g_action_group_activate_action(G_ACTION_GROUP(win), "pause", NULL);
}
