/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Snapshots window (issue 14), driven as a user would, checked through what the
 * disks hold (qemu-io reads the VM's current top image) and what qemu-img check says:
 *
 *   snapshots KEY-GUEST   a stopped VM with a qcow2 disk: take A (data 0x11), take B
 *                         (0x22), write 0x33, revert to A asking for a snapshot first
 *                         (0x11 back, "You are here" on A), revert to that snapshot
 *                         (0x33 back), branch C from A, delete A and the rest; rename
 *                         and describe; every image passes qemu-img check. Then the key
 *                         guest running from the same kind of VM: the VM window's
 *                         shortcut takes a snapshot with the machine state and a
 *                         thumbnail, and reverting to it keeps the machine running.
 */
#include "app-harness.h"
#include "engine/snaptree.h"
#include "ui/gtk/vireo-snapshots.h"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *key_guest;

static void run_ok(const char *const *argv)
{
    g_autofree char *out = NULL, *errout = NULL;
    int status = -1;
    g_autoptr(GError) err = NULL;
    CHECK(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout, &status, &err),
          "%s: %s", argv[0], err ? err->message : "?");
    CHECK(g_spawn_check_wait_status(status, NULL), "%s %s %s failed: %s%s", argv[0], argv[1], argv[2], out, errout);
}

/* The VM's current top image for hda, as vm.conf names it. */
static char *top_image(const char *vm)
{
    g_autofree char *hda = conf_value(vm, "drives", "hda");
    CHECK(hda, "vm.conf of %s has no hda", vm);
    if (g_path_is_absolute(hda))
        return g_steal_pointer(&hda);
    return g_build_filename(library_root, vm, hda, NULL);
}

/* Fills the first 64 KiB of the VM's disk with byte, through the current top layer. */
static void disk_write(const char *vm, unsigned byte)
{
    g_autofree char *img = top_image(vm);
    g_autofree char *cmd = g_strdup_printf("write -P 0x%02x 0 64k", byte);
    const char *argv[] = { "qemu-io", "-f", "qcow2", "-c", cmd, img, NULL };
    run_ok(argv);
}

/* The disk, as the VM would read it, holds byte in its first 64 KiB. */
static void disk_expect(const char *vm, unsigned byte, const char *when)
{
    g_autofree char *img = top_image(vm);
    g_autofree char *cmd = g_strdup_printf("read -P 0x%02x 0 64k", byte);
    const char *argv[] = { "qemu-io", "-r", "-f", "qcow2", "-c", cmd, img, NULL };
    g_autofree char *out = NULL, *errout = NULL;
    int status = -1;
    CHECK(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout, &status, NULL),
          "qemu-io did not run");
    CHECK(g_spawn_check_wait_status(status, NULL) && !strstr(out, "Pattern verification failed"),
          "%s: the disk does not hold 0x%02x: %s%s", when, byte, out, errout);
    note("%s: the disk holds 0x%02x", when, byte);
}

/* Whether some open file description holds a lock on the image's QEMU lock bytes
 * (100-299: the permission and shared-permission bytes both Vireo and QEMU take). */
static bool image_locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200 };
    bool locked = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return locked;
}

static bool image_unlocked(void *path)
{
    return !image_locked(path);
}

/* Every qcow2 of the VM's folder passes qemu-img check. */
static void check_images(const char *vm)
{
    g_autofree char *dir = g_build_filename(library_root, vm, NULL);
    g_autofree char *snapdir = g_build_filename(dir, SNAPTREE_DIR, NULL);
    const char *dirs[] = { dir, snapdir };
    int n = 0;
    for (size_t d = 0; d < G_N_ELEMENTS(dirs); d++) {
        g_autoptr(GDir) it = g_dir_open(dirs[d], 0, NULL);
        const char *name;
        while (it && (name = g_dir_read_name(it))) {
            if (!g_str_has_suffix(name, ".qcow2"))
                continue;
            g_autofree char *p = g_build_filename(dirs[d], name, NULL);
            /* A VM that was just stopped lets go of its images once it is freed, from
             * an idle callback; nothing else may still hold one. */
            CHECK(wait_for(image_unlocked, p, 10000), "%s is still locked by the app", p);
            const char *argv[] = { "qemu-img", "check", "-q", p, NULL };
            run_ok(argv);
            n++;
        }
    }
    note("qemu-img check accepts all %d images of %s", n, vm);
}

static VireoSnapshotsWindow *snapshots_window(void)
{
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_SNAPSHOTS_WINDOW, 5000), "no Snapshots window");
    return VIREO_SNAPSHOTS_WINDOW(find_window(VIREO_TYPE_SNAPSHOTS_WINDOW));
}

static bool idle(void *data)
{
    return !vireo_snapshots_window_is_busy(data);
}

static void wait_idle(VireoSnapshotsWindow *w, const char *what)
{
    run_for(50);
    CHECK(wait_for(idle, w, 60000), "%s did not finish", what);
    run_for(100);
    GtkWidget *err = find_named(GTK_WIDGET(w), "snapshot-error");
    CHECK(err && !gtk_widget_get_visible(err), "%s: the window shows an error: %s", what,
          err ? gtk_label_get_text(GTK_LABEL(err)) : "?");
}

static GtkWidget *named(VireoSnapshotsWindow *w, const char *fmt, const char *arg)
{
    g_autofree char *name = g_strdup_printf(fmt, arg);
    GtkWidget *x = find_named(GTK_WIDGET(w), name);
    CHECK(x, "the Snapshots window has no %s", name);
    return x;
}

static const SnapTreeNode *node(VireoSnapshotsWindow *w, const char *name)
{
    GPtrArray *nodes = vireo_snapshots_window_get_nodes(w);
    for (guint i = 0; nodes && i < nodes->len; i++)
        if (!strcmp(((SnapTreeNode *)nodes->pdata[i])->name, name))
            return nodes->pdata[i];
    return NULL;
}

static unsigned listed(VireoSnapshotsWindow *w)
{
    GPtrArray *nodes = vireo_snapshots_window_get_nodes(w);
    return nodes ? nodes->len : 0;
}

static void take(VireoSnapshotsWindow *w, const char *expect_name)
{
    unsigned before = listed(w);
    click(named(w, "%s", "snapshot-take"));
    wait_idle(w, "Take Snapshot");
    CHECK(listed(w) == before + 1, "Take Snapshot: %u snapshots listed, expected %u", listed(w), before + 1);
    CHECK(node(w, expect_name), "no snapshot named %s after Take", expect_name);
}

static void expect_here(VireoSnapshotsWindow *w, const char *name)
{
    const SnapTreeNode *n = node(w, name);
    CHECK(n && n->current, "\"You are here\" is not at %s", name);
    named(w, "here-%s", name);
}

static void revert(VireoSnapshotsWindow *w, const char *name, bool snapshot_first, const char *body_has)
{
    click(named(w, "revert-%s", name));
    AdwMessageDialog *d = wait_dialog();
    const char *body = adw_message_dialog_get_body(d);
    CHECK(strstr(body, body_has), "the revert question says \"%s\", not \"%s\"", body, body_has);
    GtkWidget *first = find_named(GTK_WIDGET(d), "snapshot-first");
    CHECK(first, "the revert question offers no snapshot first");
    gtk_check_button_set_active(GTK_CHECK_BUTTON(first), snapshot_first);
    answer(d, "revert");
    wait_idle(w, "Revert");
    expect_here(w, name);
}

static void delete(VireoSnapshotsWindow *w, const char *name)
{
    unsigned before = listed(w);
    click(named(w, "delete-%s", name));
    answer(wait_dialog(), "delete");
    wait_idle(w, "Delete");
    CHECK(!node(w, name) && listed(w) == before - 1, "%s is still listed after Delete", name);
}

static void snapshots_setup(const char *arg)
{
    key_guest = arg;
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    for (int i = 0; i < 2; i++) {
        const char *vm = i ? "Running" : "Stopped";
        g_autofree char *conf = i ? g_strdup_printf("[vm]\nmemory=32M\naccel=%s\nkernel=%s\n[drives]\nhda=disk.qcow2\n",
                                                    accel ? accel : "kvm:tcg", key_guest)
                                  : g_strdup("[vm]\nmemory=32M\n[drives]\nhda=disk.qcow2\n");
        write_vm(vm, conf);
        g_autofree char *img = g_build_filename(library_root, vm, "disk.qcow2", NULL);
        const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", img, "16M", NULL };
        run_ok(argv);
    }
}

static void case_stopped(void)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.snapshots-vm", "s", "Stopped");
    VireoSnapshotsWindow *w = snapshots_window();
    run_for(200);
    GtkWidget *empty = named(w, "%s", "snapshots-empty");
    CHECK(gtk_widget_get_mapped(empty), "a VM without snapshots does not say so");
    screenshot(GTK_WINDOW(w), "snapshots-empty.png");

    disk_write("Stopped", 0x11);
    take(w, "Snapshot 1");
    expect_here(w, "Snapshot 1");
    disk_write("Stopped", 0x22);
    take(w, "Snapshot 2");
    expect_here(w, "Snapshot 2");
    disk_write("Stopped", 0x33);
    disk_expect("Stopped", 0x33, "after two snapshots and a write");

    /* Revert asks, says how much is lost, and can keep the current state first. */
    revert(w, "Snapshot 1", true, "(64.0");
    disk_expect("Stopped", 0x11, "reverted to Snapshot 1");
    CHECK(listed(w) == 3, "the snapshot taken before reverting is not listed (%u)", listed(w));
    const SnapTreeNode *before = NULL;
    GPtrArray *nodes = vireo_snapshots_window_get_nodes(w);
    for (guint i = 0; i < nodes->len; i++)
        if (g_str_has_prefix(((SnapTreeNode *)nodes->pdata[i])->name, "Before reverting"))
            before = nodes->pdata[i];
    CHECK(before, "no \"Before reverting\" snapshot");
    g_autofree char *before_name = g_strdup(before->name);
    revert(w, before_name, false, "Nothing was written");
    disk_expect("Stopped", 0x33, "reverted to the snapshot taken before reverting");
    revert(w, "Snapshot 2", false, "Nothing was written");
    disk_expect("Stopped", 0x22, "reverted to Snapshot 2");

    /* A branch: back to 1, new data, a snapshot beside 2. */
    revert(w, "Snapshot 1", false, "Nothing was written");
    disk_write("Stopped", 0x44);
    take(w, "Snapshot 4");
    const SnapTreeNode *s1 = node(w, "Snapshot 1"), *s4 = node(w, "Snapshot 4");
    CHECK(s4 && s1 && !g_strcmp0(s4->parent_id, s1->id) && s4->depth == s1->depth + 1,
          "Snapshot 4 is not a child of Snapshot 1");
    screenshot(GTK_WINDOW(w), "snapshots-tree.png");
    /* The lines join 1 to its two children: 2 (and its own child) first, then 4, the last. */
    static const struct { const char *name, *connector; } lines[] = {
        { "Snapshot 1", "" }, { "Snapshot 2", "├" }, { "Snapshot 4", "└" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        const char *c = g_object_get_data(G_OBJECT(named(w, "tree-%s", lines[i].name)), "vireo-tree-connector");
        CHECK(c && !strcmp(c, lines[i].connector), "%s is drawn with the connector \"%s\", expected \"%s\"",
              lines[i].name, c ? c : "(none)", lines[i].connector);
    }

    /* Rename and describe. */
    click(named(w, "edit-%s", "Snapshot 4"));
    AdwMessageDialog *d = wait_dialog();
    GtkWidget *name = find_named(GTK_WIDGET(d), "edit-name");
    GtkWidget *desc = find_named(GTK_WIDGET(d), "edit-description");
    CHECK(name && desc, "the details dialog has no name or description entry");
    gtk_editable_set_text(GTK_EDITABLE(name), "Branch");
    gtk_editable_set_text(GTK_EDITABLE(desc), "data 0x44");
    answer(d, "save");
    wait_idle(w, "Save details");
    const SnapTreeNode *br = node(w, "Branch");
    CHECK(br && !g_strcmp0(br->description, "data 0x44"), "rename/describe did not reach the tree");
    CHECK(label_with_text(GTK_WIDGET(w), "data 0x44"), "the description is not shown");

    /* Deleting merges layers into their children; what each snapshot holds stays. */
    delete(w, "Snapshot 1");
    revert(w, "Snapshot 2", false, "Nothing was written");
    disk_expect("Stopped", 0x22, "Snapshot 2 after deleting its parent");
    revert(w, "Branch", false, "Nothing was written");
    disk_expect("Stopped", 0x44, "Branch after deleting its parent");
    delete(w, "Snapshot 2");
    delete(w, before_name);
    delete(w, "Branch");
    disk_expect("Stopped", 0x44, "every snapshot deleted");
    CHECK(gtk_widget_get_mapped(empty), "the window does not say there are no snapshots");
    check_images("Stopped");
    /* The library's own view of the VM follows: its vm.conf names the current image. */
    g_autofree char *top = top_image("Stopped");
    CHECK(g_file_test(top, G_FILE_TEST_EXISTS), "vm.conf names %s, which does not exist", top);
    gtk_window_destroy(GTK_WINDOW(w));
    run_for(100);
}

static bool machine_running(void *data)
{
    return vireo_machine_get_state(data) == VIREO_MACHINE_RUNNING;
}

static void case_running(void)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", "Running");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(win);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "the VM did not start: state %d, %s", vireo_machine_get_state(m),
          vireo_machine_get_error(m) ? vireo_machine_get_error(m) : "no error");
    /* The echo guest: a prompt, then every key typed shows on the screen. */
    ScreenWait prompt = { win, "type here:" };
    CHECK(wait_for(screen_shows, &prompt, 60000), "the echo guest's prompt never showed");
    GtkWidget *display = vireo_vm_window_get_display(win);
    CHECK(wait_for(display_has_picture, display, 5000), "the window has no picture");
    run_for(500);
    /* The shortcut's action: a snapshot of the running machine, and the engine's picture
     * of that moment (the guest waits for a key, its cursor hidden: nothing changes). */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.take-snapshot", NULL);
    VireoSnapshotsWindow *w = snapshots_window();
    wait_idle(w, "Take Snapshot (running)");
    g_autofree char *at_take = g_build_filename(work_dir, "at-take.png", NULL);
    engine_screendump(win, at_take);
    const SnapTreeNode *n = node(w, "Snapshot 1");
    CHECK(n && n->has_state && n->state_size > 0, "the running VM's snapshot has no machine state");
    CHECK(n->thumbnail && g_file_test(n->thumbnail, G_FILE_TEST_IS_REGULAR), "the snapshot has no thumbnail");
    GtkWidget *thumb = named(w, "thumb-%s", "Snapshot 1");
    CHECK(GTK_IS_PICTURE(thumb) && gtk_picture_get_paintable(GTK_PICTURE(thumb)), "the thumbnail is not shown");
    CHECK(label_with_text(GTK_WIDGET(w), "running machine"), "the row does not say it kept the running machine");
    screenshot(GTK_WINDOW(w), "snapshots-running.png");
    /* Typed after the snapshot: on the screen now, gone after the revert. */
    gtk_widget_grab_focus(display);
    static const struct { guint keyval, keycode; } keys[] = { { GDK_KEY_x, 53 }, { GDK_KEY_y, 29 }, { GDK_KEY_z, 52 } };
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        type_key(display, keys[i].keyval, keys[i].keycode, true);
        run_for(30);
        type_key(display, keys[i].keyval, keys[i].keycode, false);
        run_for(30);
    }
    ScreenWait typed = { win, "type here: xyz" };
    if (!wait_for(screen_shows, &typed, 20000))
        dump_screen(win);
    CHECK(screen_shows(&typed), "the keys typed after the snapshot are not on the screen");
    revert(w, "Snapshot 1", false, "continues from the moment");
    CHECK(machine_running(m), "the VM is not running after reverting to a running snapshot");
    CHECK(!screen_shows(&typed), "after reverting, the screen still shows what was typed after the snapshot");
    /* What the user sees is the snapshot's moment, pixel for pixel. */
    compare_window_with_png(win, at_take);
    note("after the revert the window equals the screendump taken with the snapshot");
    note("a running VM: snapshot with state and thumbnail, reverted, still running");
    gtk_window_destroy(GTK_WINDOW(w));
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    run_for(500);   /* the engine lets go of the images once its VM is freed, from idle */
    check_images("Running");
    gtk_window_destroy(GTK_WINDOW(win));
}

static void case_snapshots(const char *arg)
{
    if (!have_program("qemu-io") || !have_program("qemu-img")) {
        printf("SKIP: qemu-io/qemu-img missing (Debian package qemu-utils)\n");
        exit_code = SKIP;
        return;
    }
    case_stopped();
    case_running();
    exit_code = 0;
}

static const UiCase cases[] = {
    { "snapshots", true, snapshots_setup, case_snapshots },
};

const UiCase *snapshots_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
