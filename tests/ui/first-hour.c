/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a new user tripped over in the app's first hour (issue 20), each case in an X
 * server of its own:
 *
 *   first-hour-wizard          the wizard: processors offered only as the engine runs
 *                              them (1), the OS stored as its ID and named in the UI's
 *                              language (3), a failed Create explained in full (4), a
 *                              new medium keeps the name and sizes typed (6), keyboard:
 *                              focus, Enter, one Tab stop per choice (10), a data ISO
 *                              said to be unbootable (11)
 *   first-hour-settings        settings: the processor count (1-16) and its topology
 *                              (sockets, cores, threads; issue 23), the display adapter
 *                              (virtio-vga written and shown again), a bad vm.conf value
 *                              named on its row (5); disks added (new qcow2, existing
 *                              image), grown, moved and removed (keeping or deleting the
 *                              file) as qemu-img sees them; CD and floppy drives added and
 *                              removed; the kernel command line
 *   first-hour-vm KEY-GUEST    the VM window on the key guest: geometry and integer
 *                              scaling per VM (12), the screenshot folder (13), paused
 *                              while grabbed (7), keys after Ctrl+Alt (8), Reset and Force
 *                              Off ask (9), settings say what waits for power off, Ctrl+W
 *                              and the shortcuts window (10)
 *   first-hour-no-boot         a data CD and no disk: no floppy is tried and the window
 *                              says in its own words that nothing could boot (11)
 *   first-hour-virtio GUEST    a disk moved from IDE to virtio and back in the settings
 *                              (vm.conf hda <-> vda); the wizard's Linux preset puts a new
 *                              disk on vda, DOS on hda; beside a blank IDE disk the boot
 *                              disk row chooses vda (boot-disk=, following moves) and
 *                              SeaBIOS boots the boot-media guest from it on virtio-blk
 *   first-hour-forward KIT     port forwarding in the settings (issue 17): a rule written
 *                              to vm.conf answers from the Linux kit's echo service when
 *                              the VM starts; one added while it runs answers at once and
 *                              its removal closes the port; the guest's NAT address shown
 */
#include "app-harness.h"
#include "engine/config.h"
#include "engine/display.h"
#include "engine/vmconf.h"
#include "ui/gtk/vireo-display.h"
#include "ui/gtk/vireo-osinfo.h"
#include "vireo-config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#ifdef HAVE_GTK_X11
#include <gdk/x11/gdkx.h>
#endif

/* ---- helpers ---- */

static GtkWindow *open_settings(const char *vm)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", vm);
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    return find_window(ADW_TYPE_PREFERENCES_WINDOW);
}

static GtkWidget *named(GtkWindow *w, const char *name)
{
    GtkWidget *x = find_named(GTK_WIDGET(w), name);
    CHECK(x, "no widget named %s", name);
    return x;
}

static char *run_capture(const char *const *argv)
{
    g_autofree char *out = NULL, *errout = NULL;
    int status = -1;
    g_autoptr(GError) err = NULL;
    CHECK(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout, &status, &err),
          "%s: %s", argv[0], err ? err->message : "?");
    CHECK(g_spawn_check_wait_status(status, NULL), "%s %s failed: %s", argv[0], argv[1], errout);
    return g_steal_pointer(&out);
}

/* qemu-img's view of an image: its virtual size and format. */
static void qemu_img_info(const char *path, guint64 *size, char **format)
{
    const char *argv[] = { "qemu-img", "info", "--output=json", "-U", path, NULL };
    g_autofree char *out = run_capture(argv);
    const char *vs = strstr(out, "\"virtual-size\":");
    const char *fmt = strstr(out, "\"format\":");
    CHECK(vs && fmt, "qemu-img info says %s", out);
    *size = g_ascii_strtoull(vs + strlen("\"virtual-size\":"), NULL, 10);
    const char *q = strchr(fmt + strlen("\"format\":"), '"');
    *format = g_strndup(q + 1, strcspn(q + 1, "\""));
}

static VireoLibrary *library(void)
{
    return vireo_application_get_library(app);
}

/* Widgets below root that take a Tab stop. */
static int tab_stops(GtkWidget *root)
{
    int n = gtk_widget_get_focusable(root) && gtk_widget_get_visible(root) && gtk_widget_get_sensitive(root);
    for (GtkWidget *c = gtk_widget_get_first_child(root); c; c = gtk_widget_get_next_sibling(c))
        n += tab_stops(c);
    return n;
}

static void wait_probe(VireoWizard *w)
{
    run_for(300);
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (vireo_wizard_is_busy(w) && g_get_monotonic_time() < end)
        run_for(20);
}

/* A CD image with one file and no boot record, made with xorriso. */
static char *make_data_iso(void)
{
    g_autofree char *dir = g_build_filename(work_dir, "iso-root", NULL);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *file = g_build_filename(dir, "README.TXT", NULL);
    CHECK(g_file_set_contents(file, "holiday photos\n", -1, NULL), "cannot write %s", file);
    char *iso = g_build_filename(work_dir, "photos.iso", NULL);
    const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-o", iso, dir, NULL };
    g_free(run_capture(argv));
    return iso;
}

/* ---- case: the wizard ---- */

static void wizard_setup(const char *arg)
{
    /* Written by an older Vireo in German: the name must come from the ID. */
    write_vm("Old DOS", "[vm]\nos-id=dos\nos-name=MS-DOS oder FreeDOS\nmemory=32M\n");
}

static VireoWizard *open_wizard(void)
{
    g_action_group_activate_action(G_ACTION_GROUP(app), "new-vm", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_WIZARD, 5000), "no wizard");
    return VIREO_WIZARD(find_window(VIREO_TYPE_WIZARD));
}

static void case_wizard(const char *arg)
{
    if (!have_program("xorriso")) {
        note("SKIP: xorriso is not installed (Debian package xorriso)");
        exit_code = SKIP;
        return;
    }
    g_autofree char *iso = make_data_iso();
    VireoWindow *main = VIREO_WINDOW(find_window(VIREO_TYPE_WINDOW));
    GtkWidget *list = GTK_WIDGET(gtk_widget_get_template_child(GTK_WIDGET(main), VIREO_TYPE_WINDOW, "list_box"));

    /* Bug 3: the library names a preset by its ID, in the UI's language. */
    CHECK(label_with_text(list, "MS-DOS or FreeDOS"), "the row does not name the system from os-id=dos");
    CHECK(!label_with_text(list, "MS-DOS oder FreeDOS"), "the row shows the German name stored in vm.conf");
    note("bug 3: os-id=dos with a German os-name shows as 'MS-DOS or FreeDOS'");

    VireoWizard *w = open_wizard();
    run_for(200);
    /* Bug 10: focus starts where the work starts, not on Cancel. */
    GtkWidget *focus = gtk_window_get_focus(GTK_WINDOW(w));
    GtkWidget *entry = GTK_WIDGET(wizard_child(w, "media_entry"));
    CHECK(focus && (focus == entry || gtk_widget_is_ancestor(focus, entry)), "initial focus on %s '%s'",
          focus ? G_OBJECT_TYPE_NAME(focus) : "nothing",
          focus && GTK_IS_BUTTON(focus) ? gtk_button_get_label(GTK_BUTTON(focus)) : "");
    /* Bug 10: each choice row is one Tab stop. */
    const char *radios[] = { "media_cdrom", "media_floppy", "media_disk", "media_none" };
    for (size_t i = 0; i < G_N_ELEMENTS(radios); i++) {
        GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(wizard_child(w, radios[i])), ADW_TYPE_ACTION_ROW);
        CHECK(tab_stops(row) == 1, "the %s row takes %d Tab stops", radios[i], tab_stops(row));
    }
    note("bug 10: focus starts in the path field; one Tab stop per choice row");

    /* Bug 11: a CD without a boot record is said to be one. */
    gtk_editable_set_text(GTK_EDITABLE(entry), iso);
    /* Bug 10: Enter in the path field goes on once the file is looked at. */
    g_signal_emit_by_name(entry, "activate");
    wait_probe(w);
    run_for(100);
    const char *status = gtk_label_get_text(GTK_LABEL(wizard_child(w, "media_status")));
    note("medium: %s", status);
    CHECK(strstr(status, "not bootable"), "a data CD is accepted silently: '%s'", status);
    CHECK(!g_strcmp0(vireo_wizard_get_page(w), "system"), "Enter in the path field stayed on %s",
          vireo_wizard_get_page(w));
    note("bug 11: the data CD is said not to be bootable; bug 10: Enter went on to the system page");

    /* Bug 1: processors as the engine runs them. */
    GtkSpinButton *cpus = GTK_SPIN_BUTTON(wizard_child(w, "cpus_spin"));
    double lo, hi;
    gtk_spin_button_get_range(cpus, &lo, &hi);
    CHECK(lo == 1 && hi == VM_CPUS_MAX, "the wizard offers %g-%g processors, the engine runs 1-%d", lo, hi,
          VM_CPUS_MAX);
    note("bug 1: the wizard offers 1-%d processors", VM_CPUS_MAX);

    /* Issue 23: more processors than the computer has are allowed, with a warning. */
    unsigned host = (unsigned)g_get_num_processors();
    AdwActionRow *cpus_row = ADW_ACTION_ROW(wizard_child(w, "cpus_row"));
    if (host < VM_CPUS_MAX) {
        gtk_spin_button_set_value(cpus, host + 1);
        run_for(20);
        const char *warn = adw_action_row_get_subtitle(cpus_row);
        g_autofree char *count = g_strdup_printf("%u", host);
        note("%u processors on a %u-core computer: '%s'", host + 1, host, warn ? warn : "");
        CHECK(warn && strstr(warn, count) && strstr(warn, "slower"), "no warning for %u processors on %u cores: '%s'",
              host + 1, host, warn ? warn : "");
    } else {
        note("the computer has %u cores, as many as the engine runs: no warning to check", host);
    }
    gtk_spin_button_set_value(cpus, 1);
    run_for(20);
    const char *none = adw_action_row_get_subtitle(cpus_row);
    CHECK(!none || !*none, "one processor is warned about: '%s'", none);

    /* Bug 6: what the user typed survives another medium on the first page. */
    gtk_editable_set_text(GTK_EDITABLE(wizard_child(w, "name_row")), "My Photos PC");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(wizard_child(w, "memory_spin")), 48);
    gtk_spin_button_set_value(cpus, 1);
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.back", NULL);
    gtk_check_button_set_active(GTK_CHECK_BUTTON(wizard_child(w, "media_floppy")), TRUE);
    run_for(50);
    gtk_check_button_set_active(GTK_CHECK_BUTTON(wizard_child(w, "media_none")), TRUE);
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    const char *name = gtk_editable_get_text(GTK_EDITABLE(wizard_child(w, "name_row")));
    int mem = gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(wizard_child(w, "memory_spin")));
    CHECK(!strcmp(name, "My Photos PC"), "another medium reset the name to '%s'", name);
    CHECK(mem == 48, "another medium reset the memory to %d MiB", mem);
    note("bug 6: name and memory kept across a change of medium");

    /* Bug 4: a Create that fails says why, whole, in a dialog. The library folder is a
     * file here, so the VM's folder cannot be made. */
    gtk_check_button_set_active(GTK_CHECK_BUTTON(wizard_child(w, "disk_none")), TRUE);
    adw_combo_row_set_selected(ADW_COMBO_ROW(wizard_child(w, "os_row")), 0);   /* DOS */
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    CHECK(!g_strcmp0(vireo_wizard_get_page(w), "summary"), "not on the summary");
    g_autofree char *moved = g_strconcat(library_root, ".away", NULL);
    CHECK(g_rename(library_root, moved) == 0, "cannot move the library aside");
    CHECK(g_file_set_contents(library_root, "not a folder", -1, NULL), "cannot write %s", library_root);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    AdwMessageDialog *d = wait_dialog();
    const char *body = adw_message_dialog_get_body(d);
    note("dialog: %s / %s", adw_message_dialog_get_heading(d), body);
    CHECK(strstr(body, "cannot create the library folder") && strstr(body, library_root),
          "the dialog does not give the whole reason: '%s'", body);
    answer(d, "close");
    CHECK(find_window(VIREO_TYPE_WIZARD), "the wizard closed after a failed Create");
    g_unlink(library_root);
    CHECK(g_rename(moved, library_root) == 0, "cannot move the library back");
    note("bug 4: the failed Create's whole reason is in a dialog; the wizard stays");
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    run_for(100);
    CHECK(!find_window(VIREO_TYPE_WIZARD), "Create failed again");

    /* Bug 3: vm.conf keeps the ID, not a name in the language of the day. */
    g_autofree char *os_id = conf_value("My Photos PC", "vm", "os-id");
    g_autofree char *os_name = conf_value("My Photos PC", "vm", "os-name");
    CHECK(!g_strcmp0(os_id, "dos"), "os-id=%s", os_id);
    CHECK(!os_name, "vm.conf stores the translatable name '%s'", os_name);
    g_autofree char *sound = conf_value("My Photos PC", "vm", "sound");
    g_autofree char *network = conf_value("My Photos PC", "vm", "network");
    CHECK(!g_strcmp0(sound, "sb16") && !g_strcmp0(network, "none"), "a DOS VM got sound=%s network=%s", sound, network);
    VireoMachine *m = vireo_library_find(library(), "My Photos PC");
    CHECK(m && !strcmp(vireo_machine_get_os_name(m), "MS-DOS or FreeDOS"), "shown as '%s'",
          m ? vireo_machine_get_os_name(m) : "?");
    note("bug 3: vm.conf has os-id=dos and no os-name; the row names it");
    exit_code = 0;
}

/* ---- case: the settings ---- */

static void settings_setup(const char *arg)
{
    write_vm("Disks", "[vm]\nmemory=64M\ncpus=1\n[drives]\ncdrom=\n");
    write_vm("Bad memory", "[vm]\nmemory=lots\ncpus=1\n");
    write_vm("Two CPUs", "[vm]\nmemory=64M\ncpus=2\n");
    write_vm("Many CPUs", "[vm]\nmemory=64M\ncpus=64\n");
    /* A topology given in -smp's form, as vireo-run takes it (issue 23). */
    write_vm("Topology", "[vm]\nmemory=64M\ncpus=4,sockets=2,cores=2\n");
}

static char *vm_file(const char *vm, const char *name)
{
    return g_build_filename(library_root, vm, name, NULL);
}

/* The VM's vm.conf as the engine reads it: its processor count and topology. */
static CpuTopology conf_topology(const char *vm, unsigned *n)
{
    g_autofree char *dir = g_build_filename(library_root, vm, NULL);
    g_autofree char *file = g_build_filename(dir, "vm.conf", NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    CHECK(g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, NULL), "cannot read %s", file);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmConfig) cfg = vmconf_parse(kf, vm, dir, &err);
    CHECK(cfg, "the settings wrote a vm.conf the engine refuses: %s", err->message);
    *n = cfg->smp;
    return vm_config_topology(cfg);
}

static unsigned spin_value(GtkWindow *s, const char *name)
{
    return (unsigned)gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(named(s, name)));
}

static void set_spin(GtkWindow *s, const char *name, unsigned v)
{
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, name)), v);
    run_for(50);
}

/* The settings show vm.conf's topology and write what they show. */
static void check_topology_shown(GtkWindow *s, unsigned n, unsigned so, unsigned co, unsigned th)
{
    unsigned got_n = spin_value(s, "cpus-spin"), got_so = spin_value(s, "sockets-spin");
    unsigned got_co = spin_value(s, "cores-spin"), got_th = spin_value(s, "threads-spin");
    CHECK(got_n == n && got_so == so && got_co == co && got_th == th,
          "settings show %u processors as %u x %u x %u, not %u as %u x %u x %u", got_n, got_so, got_co, got_th, n, so,
          co, th);
    unsigned cn;
    CpuTopology t = conf_topology("Topology", &cn);
    CHECK(cn == n && t.sockets == so && t.cores == co && t.threads == th,
          "vm.conf says %u processors as %u x %u x %u, the settings %u as %u x %u x %u", cn, t.sockets, t.cores,
          t.threads, n, so, co, th);
}

/* The display row's virtio-vga: written as display=virtio, which the engine takes as its
 * -vga virtio, and shown again when the settings reopen; std goes back the same way. */
static void check_display(void)
{
    GtkWindow *s = open_settings("Topology");
    AdwComboRow *row = ADW_COMBO_ROW(named(s, "display-row"));
    GtkStringList *list = GTK_STRING_LIST(adw_combo_row_get_model(row));
    CHECK(g_list_model_get_n_items(G_LIST_MODEL(list)) == 4 && strstr(gtk_string_list_get_string(list, 3), "virtio"),
          "the display row offers no virtio-vga");
    CHECK(adw_combo_row_get_selected(row) == 0, "the default std shown as adapter %u",
          adw_combo_row_get_selected(row));
    adw_combo_row_set_selected(row, 3);
    run_for(50);
    g_autofree char *written = conf_value("Topology", "vm", "display");
    CHECK(!g_strcmp0(written, "virtio"), "virtio-vga chosen, vm.conf has display=%s", written);
    g_autofree char *dir = g_build_filename(library_root, "Topology", NULL);
    g_autoptr(GKeyFile) kf = vmconf_load(dir, NULL);
    g_autoptr(VmConfig) cfg = kf ? vmconf_parse(kf, "Topology", dir, NULL) : NULL;
    CHECK(cfg && !g_strcmp0(cfg->vga, "virtio"), "the engine does not take display=virtio");
    gtk_window_destroy(s);
    run_for(50);
    s = open_settings("Topology");
    row = ADW_COMBO_ROW(named(s, "display-row"));
    CHECK(adw_combo_row_get_selected(row) == 3, "display=virtio shown as adapter %u", adw_combo_row_get_selected(row));
    adw_combo_row_set_selected(row, 0);
    run_for(50);
    g_autofree char *back = conf_value("Topology", "vm", "display");
    CHECK(!g_strcmp0(back, "std"), "Standard VGA chosen again, vm.conf has display=%s", back);
    gtk_window_destroy(s);
    run_for(50);
    note("display: virtio-vga written as display=virtio, shown again on reopening, std back");
}

/* Issue 23: a topology set in vm.conf (here in -smp's form) survives the settings, the
 * advanced rows change it, and the count and the topology stay one. */
static void check_topology(void)
{
    GtkWindow *s = open_settings("Topology");
    GtkWidget *expander = named(s, "topology-row");
    CHECK(ADW_IS_EXPANDER_ROW(expander), "the topology is not in an expander");
    check_topology_shown(s, 4, 2, 2, 1);
    /* Another setting leaves cpus= as it was. */
    set_spin(s, "memory-spin", 80);
    g_autofree char *kept = conf_value("Topology", "vm", "cpus");
    CHECK(!g_strcmp0(kept, "4,sockets=2,cores=2"), "saving the memory changed cpus= to %s", kept);
    /* A new count keeps the two sockets: 8 is 2 sockets of 4 cores. */
    set_spin(s, "cpus-spin", 8);
    check_topology_shown(s, 8, 2, 4, 1);
    g_autofree char *sockets = conf_value("Topology", "vm", "sockets");
    CHECK(!g_strcmp0(sockets, "2"), "sockets=%s", sockets);
    /* Threads: the count follows the product. */
    set_spin(s, "cores-spin", 2);
    set_spin(s, "threads-spin", 2);
    check_topology_shown(s, 8, 2, 2, 2);
    /* A count the sockets and threads do not divide: one socket of N cores again, and
     * vm.conf without the topology keys. */
    set_spin(s, "cpus-spin", 6);
    check_topology_shown(s, 6, 1, 6, 1);
    g_autofree char *gone = conf_value("Topology", "vm", "threads");
    CHECK(!gone, "threads=%s left for one socket of six cores", gone);
    /* More than the engine runs is refused on the row and not written. */
    set_spin(s, "sockets-spin", 4);
    set_spin(s, "cores-spin", 8);
    const char *why = gtk_widget_get_tooltip_text(expander);
    CHECK(why && strstr(why, "at most 16"), "no error for 4 x 8 processors: '%s'", why ? why : "");
    unsigned cn;
    conf_topology("Topology", &cn);
    CHECK(cn == 6, "vm.conf has %u processors after refused 24 and 32", cn);
    set_spin(s, "cores-spin", 3);
    check_topology_shown(s, 12, 4, 3, 1);
    CHECK(!gtk_widget_has_css_class(expander, "error"), "the error stays after a good topology");
    gtk_window_destroy(s);
    run_for(50);
    /* Opened again: what vm.conf keeps. */
    s = open_settings("Topology");
    check_topology_shown(s, 12, 4, 3, 1);
    gtk_window_destroy(s);
    note("topology: cpus=4,sockets=2,cores=2 shown and kept; 8, 2x2x2, 6 (1 socket), 4x3 written; 4x8 refused");
}

static void check_cpus_and_bad_values(void)
{
    /* Several processors run now (issue 23); more than the engine runs is refused by name. */
    VireoMachine *two = vireo_library_find(library(), "Two CPUs");
    CHECK(two && vireo_machine_get_state(two) == VIREO_MACHINE_OFF, "cpus=2 is not accepted: %s",
          two ? vireo_machine_get_error(two) : "no such VM");
    VireoMachine *many = vireo_library_find(library(), "Many CPUs");
    CHECK(many && vireo_machine_get_state(many) == VIREO_MACHINE_BROKEN, "cpus=64 accepted although the engine runs %d",
          VM_CPUS_MAX);
    const char *why = vireo_machine_get_error(many);
    note("cpus=64: %s", why);
    CHECK(strstr(why, "cpus=64") && strstr(why, "processor"), "the error does not say what is wrong: %s", why);

    GtkWindow *s = open_settings("Disks");
    double lo, hi;
    gtk_spin_button_get_range(GTK_SPIN_BUTTON(named(s, "cpus-spin")), &lo, &hi);
    CHECK(lo == 1 && hi == VM_CPUS_MAX, "settings offer %g-%g processors", lo, hi);
    /* More than the computer's cores: written, and the row says why it will be slow. */
    unsigned host = (unsigned)g_get_num_processors();
    if (host < VM_CPUS_MAX) {
        gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "cpus-spin")), host + 1);
        run_for(50);
        const char *warn = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(s, "cpus-row")));
        g_autofree char *written = conf_value("Disks", "vm", "cpus");
        g_autofree char *want = g_strdup_printf("%u", host + 1);
        CHECK(!g_strcmp0(written, want), "cpus=%s written for %s processors", written, want);
        CHECK(warn && strstr(warn, "slower"), "settings do not warn about %s processors on %u cores: '%s'", want, host,
              warn ? warn : "");
        note("settings: cpus=%s on %u cores kept, row says '%s'", written, host, warn);
        gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "cpus-spin")), 1);
        run_for(50);
        warn = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(s, "cpus-row")));
        CHECK(!warn || !*warn, "one processor is warned about in the settings: '%s'", warn);
    }
    gtk_window_destroy(s);
    note("bug 1: vm.conf cpus=2 runs, cpus=64 is refused by name; settings offer 1-%d", VM_CPUS_MAX);

    /* Bug 5: memory=lots is named on the memory row, not shown as 1 MiB. */
    s = open_settings("Bad memory");
    GtkWidget *problem = named(s, "problem-group");
    CHECK(gtk_widget_get_visible(problem), "settings do not say vm.conf has a bad value");
    CHECK(label_with_text(problem, "memory=lots"), "the settings do not name the bad key");
    GtkWidget *mem = named(s, "memory-spin");
    GtkWidget *row = gtk_widget_get_ancestor(mem, ADW_TYPE_ACTION_ROW);
    const char *sub = adw_action_row_get_subtitle(ADW_ACTION_ROW(row));
    note("memory row: %s", sub);
    CHECK(sub && strstr(sub, "memory=lots") && gtk_widget_has_css_class(row, "error"),
          "the memory row does not show its bad value: '%s'", sub);
    CHECK(gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(mem)) != 1, "memory shown as 1 MiB");
    /* A value chosen there replaces it. */
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(mem), 128);
    run_for(50);
    g_autofree char *fixed = conf_value("Bad memory", "vm", "memory");
    CHECK(!g_strcmp0(fixed, "128M"), "memory=%s", fixed);
    CHECK(vireo_machine_get_state(vireo_library_find(library(), "Bad memory")) == VIREO_MACHINE_OFF,
          "still broken after the fix");
    CHECK(!gtk_widget_get_visible(problem) && !gtk_widget_has_css_class(row, "error"),
          "the settings still say vm.conf has a bad value");
    gtk_window_destroy(s);
    note("bug 5: memory=lots named on the memory row and in the settings; 128 MiB chosen there fixes it");
}

static void check_disks(void)
{
    if (!have_program("qemu-img")) {
        note("SKIP: qemu-img is not installed (Debian package qemu-utils)");
        exit_code = SKIP;
        return;
    }
    GtkWindow *s = open_settings("Disks");
    /* Add a new 1 GiB qcow2. */
    click(named(s, "disk-add"));
    AdwMessageDialog *d = wait_dialog();
    GtkWidget *size = find_named(GTK_WIDGET(d), "add-disk-size");
    CHECK(size, "no size field in the add dialog");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(size), 1);
    answer(d, "add");
    g_autofree char *hda = conf_value("Disks", "drives", "hda");
    CHECK(!g_strcmp0(hda, "disk.qcow2"), "hda=%s", hda);
    g_autofree char *disk = vm_file("Disks", "disk.qcow2");
    guint64 vsize;
    g_autofree char *fmt = NULL;
    qemu_img_info(disk, &vsize, &fmt);
    CHECK(vsize == G_GUINT64_CONSTANT(1) << 30 && !strcmp(fmt, "qcow2"), "qemu-img sees %" G_GUINT64_FORMAT " %s",
          vsize, fmt);
    CHECK(find_named(GTK_WIDGET(s), "disk-row-hda"), "the new disk is not listed");
    /* GLib puts a no-break space between number and unit. */
    CHECK(label_with_text(GTK_WIDGET(s), "1.0\u00a0GiB qcow2") || label_with_text(GTK_WIDGET(s), "1.0 GiB qcow2"),
          "the disk row does not say its size");
    note("disk added: qemu-img info: %" G_GUINT64_FORMAT " bytes, %s", vsize, fmt);

    /* Grow it to 3 GiB; it never shrinks. */
    click(named(s, "disk-grow-hda"));
    d = wait_dialog();
    GtkSpinButton *grow = GTK_SPIN_BUTTON(find_named(GTK_WIDGET(d), "grow-disk-size"));
    double lo, hi;
    gtk_spin_button_get_range(grow, &lo, &hi);
    CHECK(lo >= 1.0, "the grow dialog offers %g GiB, less than the disk has", lo);
    gtk_spin_button_set_value(grow, 3);
    answer(d, "grow");
    g_free(fmt);
    qemu_img_info(disk, &vsize, &fmt);
    CHECK(vsize == G_GUINT64_CONSTANT(3) << 30, "after growing qemu-img sees %" G_GUINT64_FORMAT, vsize);
    const char *check[] = { "qemu-img", "check", "-U", disk, NULL };
    g_free(run_capture(check));
    note("disk grown: qemu-img info: %" G_GUINT64_FORMAT " bytes, qemu-img check clean", vsize);

    /* Move it to the primary slave: three IDE positions and VirtIO are offered. */
    GtkDropDown *pos = GTK_DROP_DOWN(named(s, "disk-position-hda"));
    CHECK(g_list_model_get_n_items(gtk_drop_down_get_model(pos)) == 4, "positions offered: %u",
          g_list_model_get_n_items(gtk_drop_down_get_model(pos)));
    gtk_drop_down_set_selected(pos, 1);
    run_for(100);
    g_autofree char *hdb = conf_value("Disks", "drives", "hdb");
    g_autofree char *hda_after = conf_value("Disks", "drives", "hda");
    CHECK(!g_strcmp0(hdb, "disk.qcow2") && !hda_after, "after the move hda=%s hdb=%s", hda_after, hdb);
    note("disk moved to the IDE primary slave");

    /* An existing raw image joins as the primary master. */
    g_autofree char *raw = g_build_filename(work_dir, "old.img", NULL);
    const char *mk[] = { "qemu-img", "create", "-q", "-f", "raw", raw, "64M", NULL };
    g_free(run_capture(mk));
    click(named(s, "disk-add"));
    d = wait_dialog();
    gtk_check_button_set_active(GTK_CHECK_BUTTON(find_named(GTK_WIDGET(d), "add-disk-existing")), TRUE);
    gtk_editable_set_text(GTK_EDITABLE(find_named(GTK_WIDGET(d), "add-disk-path")), raw);
    answer(d, "add");
    g_autofree char *hda2 = conf_value("Disks", "drives", "hda");
    CHECK(!g_strcmp0(hda2, raw), "hda=%s", hda2);

    /* Remove the existing image keeping its file, the new disk deleting it. */
    click(named(s, "disk-remove-hda"));
    d = wait_dialog();
    CHECK(strstr(adw_message_dialog_get_body(d), raw), "the remove dialog does not name the file");
    answer(d, "keep");
    g_autofree char *hda3 = conf_value("Disks", "drives", "hda");
    CHECK(!hda3 && g_file_test(raw, G_FILE_TEST_EXISTS), "keep: hda=%s, file %s", hda3,
          g_file_test(raw, G_FILE_TEST_EXISTS) ? "kept" : "gone");
    click(named(s, "disk-remove-hdb"));
    answer(wait_dialog(), "delete");
    g_autofree char *hdb2 = conf_value("Disks", "drives", "hdb");
    CHECK(!hdb2 && !g_file_test(disk, G_FILE_TEST_EXISTS), "delete: hdb=%s, file %s", hdb2,
          g_file_test(disk, G_FILE_TEST_EXISTS) ? "still there" : "gone");
    CHECK(!find_named(GTK_WIDGET(s), "disk-row-hda") && !find_named(GTK_WIDGET(s), "disk-row-hdb"),
          "removed disks are still listed");
    const char *info[] = { "qemu-img", "info", "-U", disk, NULL };
    int status = -1;
    g_spawn_sync(NULL, (char **)info, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                 G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL);
    CHECK(!g_spawn_check_wait_status(status, NULL), "qemu-img still opens the deleted disk");
    note("removed: the image kept on 'keep', gone on 'delete' (qemu-img cannot open it)");

    /* CD and floppy drives come and go. */
    click(named(s, "drive-remove-cdrom"));
    CHECK(!find_named(GTK_WIDGET(s), "drive-remove-cdrom"), "the CD drive is still listed");
    g_autofree char *dir = g_build_filename(library_root, "Disks", NULL);
    g_autoptr(GKeyFile) kf = vmconf_load(dir, NULL);
    CHECK(!g_key_file_has_key(kf, "drives", "cdrom", NULL), "vm.conf still has a CD drive");
    click(named(s, "drive-add-fda"));
    click(named(s, "drive-add-cdrom"));
    g_autoptr(GKeyFile) kf2 = vmconf_load(dir, NULL);
    CHECK(g_key_file_has_key(kf2, "drives", "fda", NULL) && g_key_file_has_key(kf2, "drives", "cdrom", NULL),
          "the added drives are not in vm.conf");
    CHECK(find_named(GTK_WIDGET(s), "drive-remove-fda"), "the floppy drive is not listed");
    note("CD drive removed and added, floppy drive A: added");

    /* Direct kernel boot: the command line of a VM with a kernel. */
    g_key_file_set_string(kf2, "vm", "kernel", raw);
    CHECK(vmconf_save(kf2, dir, NULL), "cannot write vm.conf");
    gtk_window_destroy(s);
    vireo_machine_reload(vireo_library_find(library(), "Disks"));
    s = open_settings("Disks");
    GtkWidget *append = named(s, "append-row");
    CHECK(gtk_widget_get_sensitive(append), "the command line cannot be edited with a kernel set");
    gtk_editable_set_text(GTK_EDITABLE(append), "console=ttyS0 quiet");
    g_signal_emit_by_name(append, "apply");
    run_for(50);
    g_autofree char *cmdline = conf_value("Disks", "vm", "append");
    CHECK(!g_strcmp0(cmdline, "console=ttyS0 quiet"), "append=%s", cmdline);
    click(named(s, "kernel-clear"));
    g_autofree char *kernel = conf_value("Disks", "vm", "kernel");
    g_autofree char *append_gone = conf_value("Disks", "vm", "append");
    CHECK(!kernel && !append_gone, "kernel=%s append=%s after clearing the kernel", kernel, append_gone);
    CHECK(!gtk_widget_get_sensitive(named(s, "append-row")), "a command line without a kernel is editable");
    gtk_window_destroy(s);
    note("kernel command line written; clearing the kernel takes its command line too");
    exit_code = 0;
}

/* Sound and network: the rows write [vm] sound= and network=, which start real cards. */
static void check_sound_and_network(void)
{
    GtkWindow *s = open_settings("Disks");
    AdwComboRow *sound = ADW_COMBO_ROW(named(s, "sound-row"));
    AdwComboRow *network = ADW_COMBO_ROW(named(s, "network-row"));
    CHECK(adw_combo_row_get_selected(sound) == 0 && adw_combo_row_get_selected(network) == 0,
          "a vm.conf without sound= or network= does not show None");
    adw_combo_row_set_selected(sound, 1);
    adw_combo_row_set_selected(network, 3);
    run_for(50);
    g_autofree char *snd = conf_value("Disks", "vm", "sound");
    g_autofree char *net = conf_value("Disks", "vm", "network");
    CHECK(!g_strcmp0(snd, "ac97") && !g_strcmp0(net, "ne2k_pci"), "sound=%s network=%s", snd, net);
    gtk_window_destroy(s);
    VireoMachine *m = vireo_library_find(library(), "Disks");
    g_autoptr(VmConfig) cfg = vmconf_parse(vireo_machine_get_conf(m), "Disks", vireo_machine_get_dir(m), NULL);
    CHECK(cfg && cfg->devices->len == 2 && !strcmp(cfg->devices->pdata[0], "ne2k_pci,netdev=__nic0") &&
              !strcmp(cfg->devices->pdata[1], "AC97,audiodev=__snd0"),
          "vm.conf's sound and network do not make the cards");
    s = open_settings("Disks");
    CHECK(adw_combo_row_get_selected(ADW_COMBO_ROW(named(s, "sound-row"))) == 1 &&
              adw_combo_row_get_selected(ADW_COMBO_ROW(named(s, "network-row"))) == 3,
          "the settings do not show vm.conf's sound and network again");
    /* HD Audio: the controller and its codec. */
    adw_combo_row_set_selected(ADW_COMBO_ROW(named(s, "sound-row")), 2);
    run_for(50);
    g_autofree char *snd_hda = conf_value("Disks", "vm", "sound");
    CHECK(!g_strcmp0(snd_hda, "hda"), "sound=%s after choosing HD Audio", snd_hda);
    g_autoptr(VmConfig) cfg_hda = vmconf_parse(vireo_machine_get_conf(m), "Disks", vireo_machine_get_dir(m), NULL);
    CHECK(cfg_hda && cfg_hda->devices->len == 3 && !strcmp(cfg_hda->devices->pdata[1], "intel-hda") &&
              !strcmp(cfg_hda->devices->pdata[2], "hda-duplex,audiodev=__snd0"),
          "vm.conf's sound=hda does not make intel-hda and hda-duplex");
    adw_combo_row_set_selected(ADW_COMBO_ROW(named(s, "sound-row")), 0);
    adw_combo_row_set_selected(ADW_COMBO_ROW(named(s, "network-row")), 0);
    run_for(50);
    gtk_window_destroy(s);
    g_autofree char *snd2 = conf_value("Disks", "vm", "sound");
    CHECK(!g_strcmp0(snd2, "none"), "sound=%s after choosing None", snd2);
    note("settings: sound AC'97, HD Audio and network RTL8029 written as vm.conf keys that make the cards");
}

static void case_settings(const char *arg)
{
    check_cpus_and_bad_values();
    check_topology();
    check_display();
    check_sound_and_network();
    check_disks();
}

/* ---- case: the VM window ---- */

static char *serial_log;

static bool serial_has(void *needle)
{
    g_autofree char *text = NULL;
    return g_file_get_contents(serial_log, &text, NULL, NULL) && strstr(text, needle);
}

static int serial_count(const char *needle)
{
    g_autofree char *text = NULL;
    int n = 0;
    if (g_file_get_contents(serial_log, &text, NULL, NULL))
        for (const char *p = text; (p = strstr(p, needle)); p++)
            n++;
    return n;
}

typedef struct Count {
    const char *needle;
    int n;
} Count;

static bool serial_count_reached(void *data)
{
    Count *c = data;
    return serial_count(c->needle) >= c->n;
}

static const char *key_guest;

/* Alt+Tab from the Send Keys menu, and the key guest's line for it. */
static void send_marker(VireoVmWindow *w)
{
    int keys = serial_count("KEY ");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.send-keys", "s", "alt-tab");
    Count c = { "KEY ", keys + 1 };
    CHECK(wait_for(serial_count_reached, &c, 20000), "Send Keys Alt+Tab did not arrive");
}

static void vm_setup(const char *arg)
{
    key_guest = arg;
    serial_log = g_build_filename(work_dir, "com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=32M\naccel=%s\nkernel=%s\nserial=file:%s\n",
                                            accel ? accel : "kvm:tcg", key_guest, serial_log);
    write_vm("Key", conf);
    write_vm("Other", "[vm]\nmemory=32M\n");
    /* A home without xdg-user-dirs settings, with a Pictures folder (bug 13). */
    g_autofree char *home = g_build_filename(work_dir, "home", NULL);
    g_autofree char *pictures = g_build_filename(home, "Pictures", NULL);
    g_mkdir_with_parents(pictures, 0755);
    g_autofree char *config = g_build_filename(home, ".config", NULL);
    g_setenv("HOME", home, TRUE);
    g_setenv("XDG_CONFIG_HOME", config, TRUE);
}

static VireoVmWindow *open_vm_window(const char *vm)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", vm);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window for %s", vm);
    run_for(300);
    return VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
}

static bool integer_scaling(VireoVmWindow *w)
{
    g_autoptr(GVariant) st = g_action_group_get_action_state(G_ACTION_GROUP(w), "integer-scaling");
    return st && g_variant_get_boolean(st);
}

#ifdef HAVE_GTK_X11
static Window x11_window(GtkWindow *w, Display **dpy)
{
    GdkSurface *s = gtk_native_get_surface(GTK_NATIVE(w));
    CHECK(s && GDK_IS_X11_SURFACE(s), "not an X11 window");
    *dpy = GDK_DISPLAY_XDISPLAY(gdk_surface_get_display(s));
    return gdk_x11_surface_get_xid(s);
}

static void x11_position(GtkWindow *w, int *x, int *y)
{
    Display *dpy;
    Window xid = x11_window(w, &dpy), child;
    XTranslateCoordinates(dpy, xid, DefaultRootWindow(dpy), 0, 0, x, y, &child);
}
#endif

/* Bug 12: each VM's window opens with its own size, place and scaling. */
static void check_geometry(void)
{
    VireoVmWindow *w = open_vm_window("Key");
#ifdef HAVE_GTK_X11
    Display *dpy;
    Window xid = x11_window(GTK_WINDOW(w), &dpy);
    /* As a window manager would move and resize it for the user. */
    XMoveResizeWindow(dpy, xid, 130, 90, 700, 540);
    XSync(dpy, False);
#else
    gtk_window_set_default_size(GTK_WINDOW(w), 700, 540);
#endif
    run_for(500);
    g_action_group_change_action_state(G_ACTION_GROUP(w), "integer-scaling", g_variant_new_boolean(TRUE));
    gtk_window_close(GTK_WINDOW(w));
    run_for(200);
    g_autofree char *width = conf_value("Key", "ui", "width");
    g_autofree char *height = conf_value("Key", "ui", "height");
    g_autofree char *scaling = conf_value("Key", "ui", "integer-scaling");
    note("vm.conf [ui] width=%s height=%s integer-scaling=%s", width, height, scaling);
    CHECK(!g_strcmp0(width, "700") && !g_strcmp0(height, "540"), "size %sx%s kept", width, height);
    CHECK(!g_strcmp0(scaling, "true"), "integer-scaling=%s", scaling);

    /* Another VM keeps its own (the default). */
    w = open_vm_window("Other");
    int ow, oh;
    gtk_window_get_default_size(GTK_WINDOW(w), &ow, &oh);
    CHECK(!integer_scaling(w), "integer scaling of one VM reached another");
    CHECK(ow != 700 || oh != 540, "one VM's size reached another");
    gtk_window_close(GTK_WINDOW(w));
    run_for(200);

    w = open_vm_window("Key");
#ifdef HAVE_GTK_X11
    /* The X window's size, as it was set above (GTK's widget size leaves out the frame). */
    XWindowAttributes wa;
    xid = x11_window(GTK_WINDOW(w), &dpy);
    XGetWindowAttributes(dpy, xid, &wa);
    int kw = wa.width, kh = wa.height;
#else
    int kw, kh;
    gtk_window_get_default_size(GTK_WINDOW(w), &kw, &kh);
#endif
    CHECK(kw == 700 && kh == 540, "reopened at %dx%d", kw, kh);
    CHECK(integer_scaling(w), "integer scaling forgotten");
#ifdef HAVE_GTK_X11
    int x, y;
    x11_position(GTK_WINDOW(w), &x, &y);
    g_autofree char *sx = conf_value("Key", "ui", "x");
    note("reopened at %d,%d (vm.conf x=%s)", x, y, sx);
    CHECK(x == 130 && y == 90, "reopened at %d,%d, not where it was left (130,90)", x, y);
#endif
    gtk_window_close(GTK_WINDOW(w));
    run_for(200);
    note("bug 12: size, position and integer scaling kept per VM");
}

static GtkWidget *display_of(VireoVmWindow *w)
{
    return vireo_vm_window_get_display(w);
}

static void tap(GtkWidget *display, guint keyval, guint keycode)
{
    type_key(display, keyval, keycode, true);
    run_for(20);
    type_key(display, keyval, keycode, false);
    run_for(20);
}

static void ctrl_alt(GtkWidget *display)
{
    type_key(display, GDK_KEY_Control_L, 37, true);
    type_key(display, GDK_KEY_Alt_L, 64, true);
    type_key(display, GDK_KEY_Alt_L, 64, false);
    type_key(display, GDK_KEY_Control_L, 37, false);
    run_for(50);
}

static void grab_by_click(GtkWidget *display)
{
    GtkGesture *click_g = click_gesture(display);
    CHECK(click_g, "no click gesture");
    g_signal_emit_by_name(click_g, "pressed", 1, 10.0, 10.0);
    g_signal_emit_by_name(click_g, "released", 1, 10.0, 10.0);
    CHECK(wait_for(grabbed, display, 1000), "a click did not grab");
}

/* Ctrl+? lists every shortcut the app sets. */
static void check_shortcuts_window(VireoVmWindow *w)
{
    CHECK(g_action_group_has_action(G_ACTION_GROUP(w), "show-help-overlay"), "no shortcuts window");
    g_auto(GStrv) help = gtk_application_get_accels_for_action(GTK_APPLICATION(app), "win.show-help-overlay");
    CHECK(help && help[0], "the shortcuts window has no shortcut");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.show-help-overlay", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)GTK_TYPE_SHORTCUTS_WINDOW, 5000), "the shortcuts window did not open");
    GtkWindow *sw = find_window(GTK_TYPE_SHORTCUTS_WINDOW);
    g_auto(GStrv) actions = gtk_application_list_action_descriptions(GTK_APPLICATION(app));
    int listed = 0;
    for (char **a = actions; *a; a++) {
        g_auto(GStrv) accels = gtk_application_get_accels_for_action(GTK_APPLICATION(app), *a);
        if (!accels || !accels[0])
            continue;
        /* A GtkShortcutsShortcut for the action, by name. */
        bool found = false;
        GPtrArray *stack = g_ptr_array_new();
        g_ptr_array_add(stack, sw);
        while (stack->len && !found) {
            GtkWidget *x = g_ptr_array_steal_index(stack, stack->len - 1);
            if (GTK_IS_SHORTCUTS_SHORTCUT(x)) {
                g_autofree char *name = NULL;
                g_object_get(x, "action-name", &name, NULL);
                found = !g_strcmp0(name, *a);
            }
            for (GtkWidget *c = gtk_widget_get_first_child(x); c; c = gtk_widget_get_next_sibling(c))
                g_ptr_array_add(stack, c);
        }
        g_ptr_array_free(stack, TRUE);
        CHECK(found, "the shortcuts window does not list %s (%s)", *a, accels[0]);
        listed++;
    }
    note("bug 10: the shortcuts window lists all %d shortcuts", listed);
    gtk_window_destroy(sw);
}

static bool chooser_has_folder(void *fc)
{
    g_autoptr(GFile) f = gtk_file_chooser_get_current_folder(fc);
    return f != NULL;
}

static bool window_gone(void *data)
{
    return find_window(VIREO_TYPE_VM_WINDOW) == NULL;
}

static void case_vm(const char *arg)
{
    check_geometry();

    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", "Key");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *w = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(w);
    CHECK(vireo_machine_is_active(m), "the VM did not start: %s", vireo_machine_get_error(m));
    CHECK(wait_for(serial_has, "READY", 60000), "the key guest never started");
    GtkWidget *display = display_of(w);
    gtk_widget_grab_focus(display);
    note("the key guest runs on %s", vm_accel_name(vireo_machine_get_vm(m)));

    /* Bug 13: the screenshot dialog opens in Pictures. */
    gtk_widget_activate_action(GTK_WIDGET(w), "win.screenshot", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)GTK_TYPE_FILE_CHOOSER_DIALOG, 5000), "no screenshot dialog");
    GtkWindow *fc = find_window(GTK_TYPE_FILE_CHOOSER_DIALOG);
    CHECK(wait_for(chooser_has_folder, fc, 5000), "the screenshot dialog shows no folder");
    g_autoptr(GFile) folder = gtk_file_chooser_get_current_folder(GTK_FILE_CHOOSER(fc));
    g_autofree char *path = folder ? g_file_get_path(folder) : NULL;
    g_autofree char *pictures = g_build_filename(work_dir, "home", "Pictures", NULL);
    note("screenshot dialog opens in %s", path);
    CHECK(!g_strcmp0(path, pictures), "the screenshot dialog opens in %s, not %s", path, pictures);
    gtk_dialog_response(GTK_DIALOG(fc), GTK_RESPONSE_CANCEL);
    run_for(200);
    note("bug 13: the screenshot dialog opens in ~/Pictures");

    /* Bug 7: paused shows while grabbed. */
    grab_by_click(display);
    g_action_group_activate_action(G_ACTION_GROUP(w), "pause", NULL);
    run_for(200);
    CHECK(vireo_machine_get_state(m) == VIREO_MACHINE_PAUSED, "not paused");
    const char *status = vireo_vm_window_get_status(w);
    GtkWidget *pause = GTK_WIDGET(gtk_widget_get_template_child(GTK_WIDGET(w), VIREO_TYPE_VM_WINDOW, "pause_button"));
    note("paused while grabbed: '%s', button %s", status, gtk_button_get_icon_name(GTK_BUTTON(pause)));
    CHECK(strstr(status, "Paused"), "the header says '%s' while paused and grabbed", status);
    CHECK(!g_strcmp0(gtk_button_get_icon_name(GTK_BUTTON(pause)), "media-playback-start-symbolic"),
          "the pause button keeps its pause icon while paused");
    g_action_group_activate_action(G_ACTION_GROUP(w), "pause", NULL);
    run_for(200);
    CHECK(!strstr(vireo_vm_window_get_status(w), "Paused"), "still says paused");
    note("bug 7: paused shown while grabbed (subtitle, Resume icon)");

    /* Bug 8: after Ctrl+Alt, typed keys are not the guest's; a click gives them back. */
    ctrl_alt(display);
    CHECK(!vireo_display_get_grabbed(VIREO_DISPLAY(display)), "Ctrl+Alt did not release");
    tap(display, GDK_KEY_b, 56);
    /* Keys go to the guest in order: once a later one from Send Keys arrived, the typed
     * one would have. (Not Escape: it ends the key guest.) */
    send_marker(w);
    CHECK(!serial_has("KEY 3062"), "a key typed after Ctrl+Alt reached the guest");
    grab_by_click(display);
    tap(display, GDK_KEY_c, 54);
    if (!wait_for(serial_has, "KEY 2e63", 20000)) {
        g_autofree char *text = NULL;
        g_file_get_contents(serial_log, &text, NULL, NULL);
        CHECK(false, "after a click keys do not reach the guest; COM1: %s", text);
    }
    ctrl_alt(display);
    note("bug 8: 'b' typed after Ctrl+Alt stayed with the host; 'c' after a click reached the guest");

    /* Bug 9: Reset asks; Cancel leaves the guest as it is. */
    int readies = serial_count("READY");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.reset", NULL);
    AdwMessageDialog *d = wait_dialog();
    note("reset asks: %s", adw_message_dialog_get_heading(d));
    answer(d, "cancel");
    send_marker(w);
    CHECK(serial_count("READY") == readies, "Cancel reset the guest");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.reset", NULL);
    answer(wait_dialog(), "reset");
    Count again = { "READY", readies + 1 };
    CHECK(wait_for(serial_count_reached, &again, 60000), "Reset confirmed did not restart the guest");
    note("bug 9: Reset asks; Cancel keeps the guest running, Reset restarts it");

    /* Changes to disks wait for power off, and the settings say so. */
    gtk_widget_activate_action(GTK_WIDGET(w), "win.settings", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    GtkWindow *s = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    GtkWidget *disks = find_named(GTK_WIDGET(s), "disks-group");
    CHECK(disks && !gtk_widget_get_sensitive(disks), "disks can change while the VM runs");
    CHECK(label_with_text(disks, "Shut it down first"), "the disks group does not say why it is off");
    gtk_window_destroy(s);
    note("settings: disks wait for power off and say so");

    /* The key guest booted: no word of a boot problem. */
    CHECK(!vireo_vm_window_shows_boot_problem(w), "a VM that booted is said to have nothing to boot");

    check_shortcuts_window(w);

    /* Bug 9: Force Off asks too. */
    gtk_widget_activate_action(GTK_WIDGET(w), "win.force-off", NULL);
    d = wait_dialog();
    answer(d, "cancel");
    CHECK(vireo_machine_is_active(m), "Cancel forced the VM off");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.force-off", NULL);
    answer(wait_dialog(), "force-off");
    CHECK(wait_for(machine_is_off, m, 5000), "Force Off confirmed did not stop the VM");
    note("bug 9: Force Off asks; Cancel keeps it running");

    /* Bug 10: Ctrl+W closes the VM's window. */
    g_auto(GStrv) close = gtk_application_get_accels_for_action(GTK_APPLICATION(app), "window.close");
    CHECK(close && close[0] && !strcmp(close[0], "<Control>w"), "Ctrl+W is not the close shortcut");
    gtk_window_present(GTK_WINDOW(w));
    run_for(200);
#ifdef HAVE_GTK_X11
    if (have_program("xdotool")) {
        /* A real key press through the X server (XTEST), as a user types it. */
        Display *dpy;
        Window xid = x11_window(GTK_WINDOW(w), &dpy);
        XSetInputFocus(dpy, xid, RevertToParent, CurrentTime);
        XSync(dpy, False);
        run_for(200);
        const char *argv[] = { "xdotool", "key", "ctrl+w", NULL };
        g_free(run_capture(argv));
        CHECK(wait_for(window_gone, NULL, 5000), "Ctrl+W did not close the VM window");
        note("bug 10: Ctrl+W typed through the X server closed the VM window");
    } else
#endif
    {
        gtk_widget_activate_action(GTK_WIDGET(w), "window.close", NULL);
        CHECK(wait_for(window_gone, NULL, 5000), "window.close did not close the VM window");
    }
    exit_code = 0;
}

/* ---- case: nothing to boot ---- */

static bool shows_boot_problem(void *w)
{
    return vireo_vm_window_shows_boot_problem(w);
}

static void case_no_boot(const char *arg)
{
    if (!have_program("xorriso")) {
        note("SKIP: xorriso is not installed (Debian package xorriso)");
        exit_code = SKIP;
        return;
    }
    g_autofree char *iso = make_data_iso();
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=32M\naccel=%s\nboot=dca\n[drives]\ncdrom=%s\n",
                                            accel ? accel : "kvm:tcg", iso);
    write_vm("Photos", conf);
    VireoMachine *m = vireo_library_add(library(), "Photos", NULL);
    CHECK(m && vireo_machine_get_state(m) == VIREO_MACHINE_OFF, "the VM is not ready: %s",
          m ? vireo_machine_get_error(m) : "not added");
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", "Photos");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *w = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    CHECK(vireo_machine_is_active(m), "the VM did not start: %s", vireo_machine_get_error(m));
    note("the VM runs on %s", vm_accel_name(vireo_machine_get_vm(m)));
    ScreenWait none = { w, "No bootable device" };
    if (!wait_for(screen_shows, &none, 60000))
        dump_screen(w);
    CHECK(screen_shows(&none), "SeaBIOS did not reach No bootable device");
    dump_screen(w);
    ScreenWait floppy = { w, "Booting from Floppy" };
    CHECK(!screen_shows(&floppy), "the firmware tried a floppy drive the VM does not have");
    ScreenWait disk = { w, "Booting from Hard Disk" };
    CHECK(!screen_shows(&disk), "the firmware tried a hard disk the VM does not have");
    CHECK(wait_for(shows_boot_problem, w, 5000),
          "the window does not say that nothing could boot");
    GtkWidget *label = find_named(GTK_WIDGET(w), "boot-problem-label");
    CHECK(label && gtk_widget_is_visible(label), "the explanation is not visible");
    note("window says: %s", gtk_label_get_text(GTK_LABEL(label)));
    CHECK(strstr(gtk_label_get_text(GTK_LABEL(label)), "no bootable disk, CD or floppy"),
          "the explanation is '%s'", gtk_label_get_text(GTK_LABEL(label)));
    note("bug 11: only the CD was tried; the window says nothing could boot and what to do");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.force-off", NULL);
    answer(wait_dialog(), "force-off");
    CHECK(wait_for(machine_is_off, m, 5000), "Force Off did not stop the VM");
    CHECK(!vireo_vm_window_shows_boot_problem(w), "the explanation stays after power off");
    gtk_window_destroy(GTK_WINDOW(w));
    exit_code = 0;
}

/* ---- case: a disk moved to virtio ---- */

#define VIRTIO_BOOT_SECTORS 8192

static void virtio_setup(const char *arg)
{
    serial_log = g_build_filename(work_dir, "virtio-com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=32M\naccel=%s\nboot=c\nserial=file:%s\n"
                                            "[drives]\nhda=boot.img\n",
                                            accel ? accel : "kvm:tcg", serial_log);
    write_vm("Fast disk", conf);
    /* The boot-media guest (tests/guests) as the disk's first sectors; sector 100 starts
     * with the dword 100 and ends with 0x5a5a0064, which it reads back through INT 13h. */
    g_autofree char *guest = NULL;
    gsize len = 0;
    CHECK(g_file_get_contents(arg, &guest, &len, NULL) && len <= 100 * 512, "cannot read %s", arg);
    g_autofree uint8_t *disk = g_malloc0(VIRTIO_BOOT_SECTORS * 512);
    memcpy(disk, guest, len);
    uint32_t hundred = 100, marker = 0x5a5a0064;
    memcpy(disk + 100 * 512, &hundred, 4);
    memcpy(disk + 100 * 512 + 508, &marker, 4);
    g_autofree char *path = vm_file("Fast disk", "boot.img");
    CHECK(g_file_set_contents(path, (const char *)disk, VIRTIO_BOOT_SECTORS * 512, NULL), "cannot write %s", path);
}

static void select_bus(GtkWindow *s, const char *key, guint choice)
{
    g_autofree char *name = g_strdup_printf("disk-position-%s", key);
    gtk_drop_down_set_selected(GTK_DROP_DOWN(named(s, name)), choice);
    run_for(200);
}

static void case_virtio(const char *arg)
{
    GtkWindow *s = open_settings("Fast disk");
    GtkDropDown *pos = GTK_DROP_DOWN(named(s, "disk-position-hda"));
    GListModel *model = gtk_drop_down_get_model(pos);
    CHECK(g_list_model_get_n_items(model) == 4, "bus choices offered: %u", g_list_model_get_n_items(model));
    const char *virtio = gtk_string_list_get_string(GTK_STRING_LIST(model), 3);
    note("the last bus choice: %s", virtio);
    CHECK(strstr(virtio, "VirtIO") && strstr(virtio, "virtio-win"), "the last choice is '%s'", virtio);

    /* IDE -> virtio: hda becomes vda, and the row says where the disk is now. */
    select_bus(s, "hda", 3);
    g_autofree char *vda = conf_value("Fast disk", "drives", "vda");
    g_autofree char *hda = conf_value("Fast disk", "drives", "hda");
    CHECK(!g_strcmp0(vda, "boot.img") && !hda, "after the move to virtio hda=%s vda=%s", hda, vda);
    CHECK(find_named(GTK_WIDGET(s), "disk-row-vda") && !find_named(GTK_WIDGET(s), "disk-row-hda"),
          "the settings do not list the disk as vda");
    CHECK(gtk_drop_down_get_selected(GTK_DROP_DOWN(named(s, "disk-position-vda"))) == 3,
          "the moved disk's bus choice is not VirtIO");
    CHECK(label_with_text(GTK_WIDGET(s), "VirtIO disk 1"), "the row does not say VirtIO disk 1");
    /* Back to IDE (the secondary slave) and to virtio again: the keys follow. */
    select_bus(s, "vda", 2);
    g_autofree char *hdd = conf_value("Fast disk", "drives", "hdd");
    g_autofree char *vda_gone = conf_value("Fast disk", "drives", "vda");
    CHECK(!g_strcmp0(hdd, "boot.img") && !vda_gone, "after the move back hdd=%s vda=%s", hdd, vda_gone);
    select_bus(s, "hdd", 3);
    g_autofree char *vda2 = conf_value("Fast disk", "drives", "vda");
    g_autofree char *hdd_gone = conf_value("Fast disk", "drives", "hdd");
    CHECK(!g_strcmp0(vda2, "boot.img") && !hdd_gone, "after the second move hdd=%s vda=%s", hdd_gone, vda2);
    note("settings: hda -> vda -> hdd -> vda in vm.conf, the row follows");

    /* A blank IDE disk beside it: the boot disk row appears and chooses the virtio one. */
    CHECK(!find_named(GTK_WIDGET(s), "boot-disk-row"), "a boot disk choice with one disk");
    click(named(s, "disk-add"));
    AdwMessageDialog *d = wait_dialog();
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(find_named(GTK_WIDGET(d), "add-disk-size")), 0.1);
    answer(d, "add");
    g_autofree char *blank = conf_value("Fast disk", "drives", "hda");
    CHECK(!g_strcmp0(blank, "disk.qcow2"), "the new disk is hda=%s", blank);
    AdwComboRow *boot = ADW_COMBO_ROW(named(s, "boot-disk-row"));
    CHECK(g_list_model_get_n_items(adw_combo_row_get_model(boot)) == 2 && adw_combo_row_get_selected(boot) == 0,
          "the boot disk row offers %u disks, the %u. chosen", g_list_model_get_n_items(adw_combo_row_get_model(boot)),
          adw_combo_row_get_selected(boot) + 1);
    adw_combo_row_set_selected(boot, 1);
    run_for(100);
    g_autofree char *chosen = conf_value("Fast disk", "vm", "boot-disk");
    CHECK(!g_strcmp0(chosen, "vda"), "boot-disk=%s", chosen);
    /* The choice follows its disk when it moves. */
    select_bus(s, "vda", 1);
    g_autofree char *followed = conf_value("Fast disk", "vm", "boot-disk");
    CHECK(!g_strcmp0(followed, "hdb"), "after moving the boot disk to hdb, boot-disk=%s", followed);
    select_bus(s, "hdb", 3);
    g_autofree char *back = conf_value("Fast disk", "vm", "boot-disk");
    g_autofree char *vda3 = conf_value("Fast disk", "drives", "vda");
    CHECK(!g_strcmp0(back, "vda") && !g_strcmp0(vda3, "boot.img"), "after moving it back boot-disk=%s vda=%s", back,
          vda3);
    gtk_window_destroy(s);
    note("boot disk: vda chosen beside a blank hda; the choice followed vda -> hdb -> vda");

    /* The wizard puts a Linux VM's new disk on virtio (vda), a DOS VM's on IDE (hda). */
    static const struct { const char *preset, *vm, *key, *other; } wiz[] = {
        { "linux", "Penguin", "vda", "hda" }, { "dos", "Old games", "hda", "vda" },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(wiz); k++) {
        VireoWizard *wz = open_wizard();
        gtk_check_button_set_active(GTK_CHECK_BUTTON(wizard_child(wz, "media_none")), TRUE);
        run_for(50);
        gtk_widget_activate_action(GTK_WIDGET(wz), "wizard.next", NULL);
        gtk_editable_set_text(GTK_EDITABLE(wizard_child(wz, "name_row")), wiz[k].vm);
        size_t n;
        const VireoOsPreset *all = vireo_os_presets(&n);
        for (guint i = 0; i < n; i++)
            if (!strcmp(all[i].id, wiz[k].preset))
                adw_combo_row_set_selected(ADW_COMBO_ROW(wizard_child(wz, "os_row")), i);
        gtk_check_button_set_active(GTK_CHECK_BUTTON(wizard_child(wz, "disk_new")), TRUE);
        gtk_spin_button_set_value(GTK_SPIN_BUTTON(wizard_child(wz, "disk_size_spin")), 0.1);
        run_for(50);
        gtk_widget_activate_action(GTK_WIDGET(wz), "wizard.next", NULL);
        CHECK(!g_strcmp0(vireo_wizard_get_page(wz), "summary"), "%s: not on the summary", wiz[k].vm);
        bool says_virtio = label_with_text(GTK_WIDGET(wz), "Hard disk (VirtIO)");
        CHECK(says_virtio == !strcmp(wiz[k].key, "vda"), "%s: the summary %s VirtIO", wiz[k].vm,
              says_virtio ? "says" : "does not say");
        gtk_widget_activate_action(GTK_WIDGET(wz), "wizard.next", NULL);
        run_for(100);
        CHECK(!find_window(VIREO_TYPE_WIZARD), "%s: Create failed", wiz[k].vm);
        g_autofree char *on = conf_value(wiz[k].vm, "drives", wiz[k].key);
        g_autofree char *off = conf_value(wiz[k].vm, "drives", wiz[k].other);
        CHECK(!g_strcmp0(on, "disk.qcow2") && !off, "%s: %s=%s %s=%s", wiz[k].vm, wiz[k].key, on, wiz[k].other, off);
        note("wizard: the %s preset's new disk is %s", wiz[k].preset, wiz[k].key);
    }

    /* The VM boots from its virtio disk, the one chosen, not the blank IDE disk that would
     * be 80h otherwise: the guest reads its disk through SeaBIOS's virtio-blk driver. */
    VireoMachine *m = vireo_library_find(library(), "Fast disk");
    CHECK(m && vireo_machine_get_state(m) == VIREO_MACHINE_OFF, "the VM is not ready: %s",
          m ? vireo_machine_get_error(m) : "missing");
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", "Fast disk");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *w = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    CHECK(vireo_machine_is_active(m), "the VM did not start: %s", vireo_machine_get_error(m));
    if (!wait_for(serial_has, "boot test passed", 60000))
        dump_screen(w);
    g_autofree char *log = NULL;
    g_file_get_contents(serial_log, &log, NULL, NULL);
    note("guest says:\n%s", log ? log : "(nothing)");
    g_autofree char *sectors = g_strdup_printf("sectors %d", VIRTIO_BOOT_SECTORS);
    CHECK(log && strstr(log, "disk boot: drive 0x80") && strstr(log, sectors) && strstr(log, "read sector 100") &&
          strstr(log, "boot test passed") && !strstr(log, "FAIL"),
          "the guest did not boot from the virtio disk");
    note("SeaBIOS booted the guest from vda: drive 0x80, %d sectors, sector 100 read", VIRTIO_BOOT_SECTORS);
    force_off(w);
    CHECK(wait_for(machine_is_off, m, 5000), "Force Off did not stop the VM");
    gtk_window_destroy(GTK_WINDOW(w));

    /* Removing the boot disk takes boot-disk= with it: vm.conf stays valid. */
    s = open_settings("Fast disk");
    click(named(s, "disk-remove-vda"));
    answer(wait_dialog(), "keep");
    g_autofree char *vda_removed = conf_value("Fast disk", "drives", "vda");
    g_autofree char *boot_removed = conf_value("Fast disk", "vm", "boot-disk");
    CHECK(!vda_removed && !boot_removed, "after removing vda: vda=%s boot-disk=%s", vda_removed, boot_removed);
    CHECK(vireo_machine_get_state(m) == VIREO_MACHINE_OFF, "the VM is broken after the removal: %s",
          vireo_machine_get_error(m));
    CHECK(!find_named(GTK_WIDGET(s), "boot-disk-row"), "a boot disk choice with one disk left");
    gtk_window_destroy(s);
    note("removing the boot disk removed boot-disk= too; the VM stays usable");
    exit_code = 0;
}

/* ---- case: port forwarding ---- */

static char *forward_kit;

/* The Linux kit's network guest (tests/guests/linux/init-net.sh) on e1000: DHCP, then a
 * TCP echo service on port 7777. Skips where the kit cannot be built. */
static void forward_setup(const char *arg)
{
    forward_kit = g_strdup(arg);
    build_linux_kit(forward_kit, "mknet.sh", NULL);
    serial_log = g_build_filename(work_dir, "com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf(
        "[vm]\nmemory=256M\naccel=%s\nnetwork=e1000\nserial=file:%s\nkernel=%s/vmlinuz\ninitrd=%s/initrd-net.img\n"
        "append=console=ttyS0 vireo.nic=e1000 vireo.echo=7777\n",
        accel ? accel : "kvm:tcg", serial_log, forward_kit, forward_kit);
    write_vm("Server", conf);
}

/* Sends data to 127.0.0.1:port and reads it back (the guest's echo); NULL on failure. */
static GBytes *echo_through(int port, const char *data, GError **err)
{
    g_autoptr(GSocketClient) c = g_socket_client_new();
    g_socket_client_set_timeout(c, 30);
    g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host(c, "127.0.0.1", (guint16)port, NULL, err);
    if (!conn)
        return NULL;
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    if (!g_output_stream_write_all(out, data, strlen(data), NULL, NULL, err) ||
        !g_socket_shutdown(g_socket_connection_get_socket(conn), FALSE, TRUE, err))
        return NULL;
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
    g_autoptr(GByteArray) got = g_byte_array_new();
    char buf[4096];
    gssize n;
    while ((n = g_input_stream_read(in, buf, sizeof(buf), NULL, err)) > 0)
        g_byte_array_append(got, (guint8 *)buf, (guint)n);
    return n < 0 ? NULL : g_byte_array_free_to_bytes(g_steal_pointer(&got));
}

/* vm.conf's forward rules, joined by spaces ("" for none). */
static char *conf_forwards(void)
{
    g_autofree char *dir = g_build_filename(library_root, "Server", NULL);
    g_autoptr(GKeyFile) kf = vmconf_load(dir, NULL);
    g_auto(GStrv) rules = kf ? g_key_file_get_string_list(kf, VMCONF_GROUP_NETWORK, VMCONF_KEY_FORWARD, NULL, NULL)
                             : NULL;
    return rules ? g_strjoinv(" ", rules) : g_strdup("");
}

static bool nat_row_shows(void *row)
{
    const char *sub = adw_action_row_get_subtitle(row);
    return sub && !strcmp(sub, "10.0.2.15");
}

static void case_forward(const char *arg)
{
    /* Off: a forward added in the settings is written to vm.conf. */
    GtkWindow *s = open_settings("Server");
    const char *sub = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(s, "nat-address-row")));
    CHECK(sub && strstr(sub, "runs"), "the guest address row of a VM that is off says '%s'", sub);
    int port1 = 20000 + g_random_int_range(0, 20000), port2 = port1 + 1;
    gtk_editable_set_text(GTK_EDITABLE(named(s, "forward-host-address")), "127.0.0.1");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "forward-host-port")), port1);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "forward-guest-port")), 7777);
    click(named(s, "forward-add"));
    g_autofree char *want1 = g_strdup_printf("tcp:127.0.0.1:%d-:7777", port1);
    g_autofree char *fw = conf_forwards();
    CHECK(!strcmp(fw, want1), "vm.conf has forward=%s, expected %s", fw, want1);
    CHECK(find_named(GTK_WIDGET(s), "forward-row-0"), "no row for the new forward");
    /* The same host port twice is refused on the row. */
    click(named(s, "forward-add"));
    CHECK(gtk_widget_has_css_class(named(s, "forward-add-row"), "error"), "the same port was added twice");
    g_autofree char *fw_again = conf_forwards();
    CHECK(!strcmp(fw_again, want1), "vm.conf has forward=%s after a duplicate", fw_again);
    gtk_window_destroy(s);
    note("settings: forward %s written to vm.conf", want1);

    /* Running: the rule from vm.conf answers; one added now answers at once; removing
     * it closes the port. */
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", "Server");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *w = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(w);
    CHECK(vireo_machine_is_active(m), "the VM did not start: %s", vireo_machine_get_error(m));
    CHECK(wait_for(serial_has, "VIREO-NET-ECHO-READY", 300000), "the guest's echo service never started");
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) back = echo_through(port1, "through vm.conf\n", &err);
    CHECK(back && g_bytes_get_size(back) == 16 && !memcmp(g_bytes_get_data(back, NULL), "through vm.conf\n", 16),
          "the forward from vm.conf did not echo: %s", err ? err->message : "other data");
    note("the forward from vm.conf reaches the guest's echo service");

    gtk_widget_activate_action(GTK_WIDGET(w), "win.settings", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    s = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    CHECK(wait_for(nat_row_shows, named(s, "nat-address-row"), 10000), "the guest address row says '%s'",
          adw_action_row_get_subtitle(ADW_ACTION_ROW(named(s, "nat-address-row"))));
    note("settings show the guest's NAT address 10.0.2.15");
    CHECK(wait_for(serial_has, "VIREO-NET-ECHO2-READY", 60000), "the guest's second echo service never started");
    gtk_editable_set_text(GTK_EDITABLE(named(s, "forward-host-address")), "127.0.0.1");
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "forward-host-port")), port2);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(named(s, "forward-guest-port")), 7777);
    click(named(s, "forward-add"));
    CHECK(!gtk_widget_has_css_class(named(s, "forward-add-row"), "error"), "adding to the running VM: %s",
          adw_action_row_get_subtitle(ADW_ACTION_ROW(named(s, "forward-add-row"))));
    g_autofree char *both = conf_forwards();
    g_autofree char *want2 = g_strdup_printf("%s tcp:127.0.0.1:%d-:7777", want1, port2);
    CHECK(!strcmp(both, want2), "vm.conf lists '%s', expected '%s'", both, want2);
    g_autoptr(GBytes) back2 = echo_through(port2, "added while running\n", &err);
    CHECK(back2 && g_bytes_get_size(back2) == 20, "the forward added while running did not echo: %s",
          err ? err->message : "other data");
    note("a forward added while the VM runs answers at once");
    screenshot(s, "settings-forwards.png");
    /* Remove it (the second row) while running: the port closes. */
    click(named(s, "forward-remove-1"));
    g_autofree char *fw_left = conf_forwards();
    CHECK(!strcmp(fw_left, want1), "vm.conf has forward=%s after the removal", fw_left);
    g_autoptr(GError) refused = NULL;
    g_autoptr(GSocketClient) c = g_socket_client_new();
    g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host(c, "127.0.0.1", (guint16)port2, NULL, &refused);
    CHECK(!conn, "port %d still accepts connections after the forward was removed", port2);
    note("removing it while the VM runs closes port %d", port2);
    gtk_window_destroy(s);
    vireo_machine_force_off(m);
    CHECK(wait_for(machine_is_off, m, 20000), "the VM did not stop");
    exit_code = 0;
}

static const UiCase cases[] = {
    { "first-hour-wizard", false, wizard_setup, case_wizard },
    { "first-hour-settings", false, settings_setup, case_settings },
    { "first-hour-vm", true, vm_setup, case_vm },
    { "first-hour-no-boot", false, NULL, case_no_boot },
    { "first-hour-virtio", true, virtio_setup, case_virtio },
    { "first-hour-forward", true, forward_setup, case_forward },
};

const UiCase *first_hour_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
