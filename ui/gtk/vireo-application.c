/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Application object: actions, the library, windows. */
#include "ui/gtk/vireo-application.h"
#include "ui/gtk/vireo-transfer.h"
#include "ui/gtk/vireo-vm-window.h"
#include "ui/gtk/vireo-window.h"
#include "ui/gtk/vireo-wizard.h"
#include "vireo-config.h"

#include <glib/gi18n.h>
#include <locale.h>

struct _VireoApplication {
    AdwApplication parent;
    char *library_root;
    VireoLibrary *library;
    GSettings *settings;
    char *open_vm;          /* --vm NAME */
};

G_DEFINE_FINAL_TYPE(VireoApplication, vireo_application, ADW_TYPE_APPLICATION)

/* True when this executable lives in the build tree (make run, tests). */
static bool running_uninstalled(void)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    return exe && g_str_has_prefix(exe, VIREO_BUILD_ROOT "/");
}

void vireo_application_init_i18n(void)
{
    setlocale(LC_ALL, "");
    const char *dir = VIREO_LOCALEDIR;
    if (running_uninstalled() && g_file_test(VIREO_BUILD_ROOT "/po", G_FILE_TEST_IS_DIR))
        dir = VIREO_BUILD_ROOT "/po";
    bindtextdomain(GETTEXT_PACKAGE, dir);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
}

/* The installed schema, or the one compiled into the build tree. */
static GSettings *open_settings(void)
{
    GSettingsSchemaSource *src = g_settings_schema_source_get_default();
    g_autoptr(GSettingsSchema) schema = src ? g_settings_schema_source_lookup(src, VIREO_APP_ID, TRUE) : NULL;
    if (!schema && g_file_test(VIREO_BUILD_ROOT "/data/gschemas.compiled", G_FILE_TEST_EXISTS)) {
        g_autoptr(GSettingsSchemaSource) build_src =
            g_settings_schema_source_new_from_directory(VIREO_BUILD_ROOT "/data", src, FALSE, NULL);
        if (build_src)
            schema = g_settings_schema_source_lookup(build_src, VIREO_APP_ID, FALSE);
    }
    if (!schema) {
        g_message("GSettings schema %s is not installed; settings last for this session only", VIREO_APP_ID);
        return NULL;
    }
    return g_settings_new_full(schema, NULL, NULL);
}

static void action_new_vm(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoApplication *app = data;
    GtkWindow *main = vireo_application_get_main_window(app);
    gtk_window_present(main);
    VireoWizard *w = vireo_wizard_new(main, app->library);
    gtk_window_present(GTK_WINDOW(w));
}

static void action_import_vm(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoApplication *app = data;
    GtkWindow *main = vireo_application_get_main_window(app);
    /* From the wizard's first page: the import replaces the new VM. */
    GList *tops = gtk_window_list_toplevels();
    for (GList *it = tops; it; it = it->next)
        if (VIREO_IS_WIZARD(it->data))
            gtk_window_destroy(it->data);
    g_list_free(tops);
    gtk_window_present(main);
    vireo_import_choose(main, app->library);
}

static void action_about(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoApplication *app = data;
    GtkWidget *about = adw_about_window_new();
    g_object_set(about,
                 "transient-for", vireo_application_get_main_window(app),
                 "application-name", "Vireo",
                 "application-icon", VIREO_APP_ID,
                 "version", VIREO_VERSION,
                 "developer-name", _("The Vireo developers"),
                 "comments", _("Create and run virtual PCs"),
                 "license-type", GTK_LICENSE_GPL_2_0,
                 /* Translators: put your names here, one per line */
                 "translator-credits", _("translator-credits"),
                 NULL);
    gtk_window_present(GTK_WINDOW(about));
}

static void action_quit(GSimpleAction *a, GVariant *p, gpointer data)
{
    VireoApplication *app = data;
    if (vireo_window_ask_quit(VIREO_WINDOW(vireo_application_get_main_window(app))))
        return;
    /* Running VMs are pulled off: their windows go with the app. */
    GList *windows = g_list_copy(gtk_application_get_windows(GTK_APPLICATION(app)));
    for (GList *it = windows; it; it = it->next)
        gtk_window_destroy(it->data);
    g_list_free(windows);
    g_application_quit(G_APPLICATION(app));
}

static const GActionEntry app_actions[] = {
    { "new-vm", action_new_vm, NULL, NULL, NULL, { 0 } },
    { "import-vm", action_import_vm, NULL, NULL, NULL, { 0 } },
    { "about", action_about, NULL, NULL, NULL, { 0 } },
    { "quit", action_quit, NULL, NULL, NULL, { 0 } },
};

static void vireo_application_startup(GApplication *gapp)
{
    VireoApplication *app = VIREO_APPLICATION(gapp);
    G_APPLICATION_CLASS(vireo_application_parent_class)->startup(gapp);
    g_action_map_add_action_entries(G_ACTION_MAP(app), app_actions, G_N_ELEMENTS(app_actions), app);
    const char *quit_accels[] = { "<Control>q", NULL };
    const char *new_accels[] = { "<Control>n", NULL };
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.new-vm", new_accels);
    const char *fullscreen_accels[] = { "F11", NULL };
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "win.fullscreen", fullscreen_accels);
    const char *snapshots_accels[] = { "<Control><Shift>s", NULL };
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "win.snapshots", snapshots_accels);
    const char *take_accels[] = { "<Control><Shift>t", NULL };
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "win.take-snapshot", take_accels);
    /* GtkWindow's own close action; help-overlay.ui lists every shortcut (Ctrl+?). */
    const char *close_accels[] = { "<Control>w", NULL };
    gtk_application_set_accels_for_action(GTK_APPLICATION(app), "window.close", close_accels);

    /* Uninstalled runs find the icons in the source tree. */
    GdkDisplay *display = gdk_display_get_default();
    if (display && running_uninstalled()) {
        GtkIconTheme *theme = gtk_icon_theme_get_for_display(display);
        gtk_icon_theme_add_search_path(theme, VIREO_SOURCE_ROOT "/data/icons");
    }
    gtk_window_set_default_icon_name(VIREO_APP_ID);
    if (display) {
        g_autoptr(GtkCssProvider) css = gtk_css_provider_new();
        gtk_css_provider_load_from_resource(css, "/org/vireo/Vireo/style.css");
        gtk_style_context_add_provider_for_display(display, GTK_STYLE_PROVIDER(css),
                                                   GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    }
    app->settings = open_settings();
    app->library = vireo_library_new(app->library_root);
}

static void vireo_application_activate(GApplication *gapp)
{
    VireoApplication *app = VIREO_APPLICATION(gapp);
    GtkWindow *main = vireo_application_get_main_window(app);
    gtk_window_present(main);
    if (app->open_vm) {
        VireoMachine *m = vireo_library_find(app->library, app->open_vm);
        if (m)
            vireo_application_open_machine(app, m);
        else
            vireo_window_show_error(VIREO_WINDOW(main), _("No such virtual machine"),
                                    app->open_vm);
        g_clear_pointer(&app->open_vm, g_free);
    }
}

static int vireo_application_handle_local_options(GApplication *gapp, GVariantDict *opts)
{
    VireoApplication *app = VIREO_APPLICATION(gapp);
    const char *vm = NULL;
    if (g_variant_dict_lookup(opts, "vm", "&s", &vm))
        app->open_vm = g_strdup(vm);
    if (g_variant_dict_contains(opts, "version")) {
        g_print("vireo %s\n", VIREO_VERSION);
        return 0;
    }
    return -1;
}

static void vireo_application_shutdown(GApplication *gapp)
{
    VireoApplication *app = VIREO_APPLICATION(gapp);
    G_APPLICATION_CLASS(vireo_application_parent_class)->shutdown(gapp);
    /* Frees every machine, and with it every VM still running. */
    g_clear_object(&app->library);
}

static void vireo_application_finalize(GObject *obj)
{
    VireoApplication *app = VIREO_APPLICATION(obj);
    g_clear_object(&app->library);
    g_clear_object(&app->settings);
    g_free(app->library_root);
    g_free(app->open_vm);
    G_OBJECT_CLASS(vireo_application_parent_class)->finalize(obj);
}

static void vireo_application_class_init(VireoApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = vireo_application_finalize;
    GApplicationClass *ac = G_APPLICATION_CLASS(klass);
    ac->startup = vireo_application_startup;
    ac->activate = vireo_application_activate;
    ac->shutdown = vireo_application_shutdown;
    ac->handle_local_options = vireo_application_handle_local_options;
}

static const GOptionEntry app_options[] = {
    { "vm", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Open the window of this virtual machine"), N_("NAME") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { NULL },
};

static void vireo_application_init(VireoApplication *app)
{
    g_application_add_main_option_entries(G_APPLICATION(app), app_options);
}

VireoApplication *vireo_application_new(const char *library_root)
{
    /* NON_UNIQUE: each process has its own engine; two app instances on one library
     * are the user's choice, as two vireo-run processes are. */
    VireoApplication *app = g_object_new(VIREO_TYPE_APPLICATION, "application-id", VIREO_APP_ID,
                                         "flags", G_APPLICATION_NON_UNIQUE,
                                         "resource-base-path", "/org/vireo/Vireo", NULL);
    app->library_root = library_root ? g_strdup(library_root) : vm_library_default_root();
    return app;
}

VireoLibrary *vireo_application_get_library(VireoApplication *app)
{
    return app->library;
}

GSettings *vireo_application_get_settings(VireoApplication *app)
{
    return app->settings;
}

GtkWindow *vireo_application_get_main_window(VireoApplication *app)
{
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(app)); l; l = l->next)
        if (VIREO_IS_WINDOW(l->data))
            return l->data;
    return GTK_WINDOW(vireo_window_new(app));
}

GtkWindow *vireo_application_find_machine_window(VireoApplication *app, VireoMachine *m)
{
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(app)); l; l = l->next)
        if (VIREO_IS_VM_WINDOW(l->data) && vireo_vm_window_get_machine(l->data) == m)
            return l->data;
    return NULL;
}

GtkWindow *vireo_application_open_machine(VireoApplication *app, VireoMachine *m)
{
    GtkWindow *w = vireo_application_find_machine_window(app, m);
    if (!w)
        w = GTK_WINDOW(vireo_vm_window_new(app, m));
    gtk_window_present(w);
    return w;
}
