/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 19, the app's "Share Screen": a running VM's window opens Share Screen, the user
 * switches sharing on, and what the window shows (address, password) is what a SPICE
 * viewer needs: spicy-screenshot with them gets the engine's screen pixel for pixel, a
 * wrong password does not, loopback is the default, switching off or stopping the VM
 * ends it. */
#include "app-harness.h"
#include "ui/gtk/vireo-machine.h"
#include "ui/gtk/vireo-share.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *echo_guest;

static void share_setup(const char *arg)
{
    echo_guest = arg;
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nkernel=%s\n", accel ? accel : "kvm:tcg",
                                            echo_guest);
    write_vm("Shared", conf);
}

static GtkWidget *named(GtkWidget *root, const char *name)
{
    GtkWidget *w = find_named(root, name);
    CHECK(w, "no widget named %s", name);
    return w;
}

static bool machine_running(void *data)
{
    return vireo_machine_get_state(data) == VIREO_MACHINE_RUNNING;
}

/* spicy-screenshot against uri-ish host and port; true when it wrote a picture. */
static bool spice_shot(const char *host, const char *port, const char *password, const char *out)
{
    g_unlink(out);
    const char *argv[] = { "spicy-screenshot", "-h", host, "-p", port, "-w", password, "-o", out, NULL };
    g_autofree char *err = NULL;
    int status = -1;
    /* The main loop must run while the client talks to the server in this process. */
    GPid pid;
    CHECK(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, NULL),
          "cannot run spicy-screenshot");
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        run_for(50);
    }
    g_spawn_close_pid(pid);
    (void)err;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && g_file_test(out, G_FILE_TEST_EXISTS);
}

/* A binary PPM's pixels (RGB). */
static guchar *read_ppm(const char *path, int *w, int *h)
{
    g_autofree char *data = NULL;
    gsize len;
    CHECK(g_file_get_contents(path, &data, &len, NULL), "cannot read %s", path);
    int maxval, off = 0;
    CHECK(sscanf(data, "P6 %d %d %d%n", w, h, &maxval, &off) == 3 && maxval == 255, "%s is not a PPM", path);
    off++; /* the one whitespace after maxval */
    CHECK(len >= (gsize)off + (gsize)(*w) * (gsize)(*h) * 3, "%s is short", path);
    return g_memdup2(data + off, (gsize)(*w) * (gsize)(*h) * 3);
}

static int differing_pixels(const char *ppm, const char *png)
{
    int w, h;
    g_autofree guchar *a = read_ppm(ppm, &w, &h);
    g_autoptr(GdkTexture) t = gdk_texture_new_from_filename(png, NULL);
    CHECK(t, "cannot read %s", png);
    int tw = gdk_texture_get_width(t), th = gdk_texture_get_height(t);
    CHECK(tw == w && th == h, "the SPICE picture is %dx%d, the screendump %dx%d", w, h, tw, th);
    g_autofree guchar *b = g_malloc((gsize)w * (gsize)h * 4);
    gdk_texture_download(t, b, (gsize)w * 4);
    int diff = 0;
    for (int i = 0; i < w * h; i++) {
        /* GDK's download is B, G, R, A in memory (cairo ARGB32 on little-endian). */
        if (a[3 * i] != b[4 * i + 2] || a[3 * i + 1] != b[4 * i + 1] || a[3 * i + 2] != b[4 * i])
            diff++;
    }
    return diff;
}

static void case_share(const char *arg)
{
    if (!vireo_machine_share_available() || !have_program("spicy-screenshot")) {
        printf("SKIP: %s\n", vireo_machine_share_available() ? "spicy-screenshot is missing (spice-client-gtk)"
                                                               : "this build has no SPICE server");
        exit_code = SKIP;
        return;
    }
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", "Shared");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(win);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "the VM did not start: %s",
          vireo_machine_get_error(m) ? vireo_machine_get_error(m) : "no error");
    ScreenWait ready = { win, "type here" };
    CHECK(wait_for(screen_shows, &ready, 30000), "the guest's prompt never appeared");

    gtk_widget_activate_action(GTK_WIDGET(win), "win.share", NULL);
    run_for(200);
    GtkWidget *share = GTK_WIDGET(g_object_get_data(G_OBJECT(m), "share-window"));
    CHECK(share, "Share Screen opened no window");
    GtkSwitch *on = GTK_SWITCH(named(share, "share-switch"));
    GtkSwitch *remote = GTK_SWITCH(named(share, "share-remote-switch"));
    CHECK(!gtk_switch_get_active(on) && !gtk_switch_get_active(remote), "sharing or remote access is on by default");
    gtk_switch_set_active(on, TRUE);
    run_for(300);
    CHECK(gtk_switch_get_active(on), "the switch did not stay on");
    const char *address = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(share, "share-address-row")));
    const char *password = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(share, "share-password-row")));
    note("sharing at %s with password %s", address, password);
    CHECK(g_str_has_prefix(address, "spice://127.0.0.1:"), "not on the loopback address: %s", address);
    CHECK(password && strlen(password) >= 12, "a weak password: '%s'", password ? password : "");
    g_autofree char *port = g_strdup(strrchr(address, ':') + 1);
    g_autofree char *pw = g_strdup(password);
    screenshot(GTK_WINDOW(share), "share-window.png");

    /* What a viewer gets with the shown address and password is the VM's screen. */
    g_autofree char *ppm = g_build_filename(work_dir, "spice.ppm", NULL);
    g_autofree char *png = g_build_filename(work_dir, "engine.png", NULL);
    int diff = -1;
    for (int attempt = 0; attempt < 5 && diff; attempt++) {
        CHECK(spice_shot("127.0.0.1", port, pw, ppm), "spicy-screenshot with the shown password failed");
        engine_screendump(win, png);
        diff = differing_pixels(ppm, png);
        run_for(200);
    }
    CHECK(diff == 0, "the viewer's picture differs from the screen in %d pixels", diff);
    note("spicy-screenshot with the window's address and password: the VM's screen, pixel for pixel");
    CHECK(!spice_shot("127.0.0.1", port, "not-the-password", ppm), "a wrong password was let in");
    CHECK(machine_running(m), "a refused viewer stopped the VM");
    note("a wrong password is refused; the VM runs on");

    /* Off: nobody gets in any more. */
    gtk_switch_set_active(on, FALSE);
    run_for(300);
    CHECK(!gtk_widget_get_visible(named(share, "share-password-row")), "the password still shows after sharing stopped");
    CHECK(!spice_shot("127.0.0.1", port, pw, ppm), "the server still answers after sharing was switched off");
    note("switched off: the viewer cannot connect");

    /* On again, then the VM stops: sharing ends with it. */
    gtk_switch_set_active(on, TRUE);
    run_for(300);
    const char *a2, *p2;
    int port2;
    CHECK(vireo_machine_get_share(m, &a2, &port2, &p2), "sharing did not start again");
    CHECK(strcmp(p2, pw), "the new session reuses the old password");
    g_autofree char *port2s = g_strdup_printf("%d", port2);
    g_autofree char *pw2 = g_strdup(p2);
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    run_for(300);
    CHECK(!vireo_machine_get_share(m, &a2, &port2, &p2), "the VM stopped but its screen is still shared");
    CHECK(!gtk_switch_get_active(on) && !gtk_widget_get_sensitive(GTK_WIDGET(on)),
          "the window does not show that a stopped VM cannot be shared");
    CHECK(!spice_shot("127.0.0.1", port2s, pw2, ppm), "the server still answers after the VM stopped");
    note("the VM stopped: sharing ended, the switch is off and insensitive");
    gtk_window_destroy(GTK_WINDOW(share));
    gtk_window_destroy(GTK_WINDOW(win));
    exit_code = 0;
}

static const UiCase cases[] = {
    { "share", true, share_setup, case_share },
};

const UiCase *share_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
