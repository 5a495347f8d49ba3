/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 19, the app's clipboard sharing: the settings' "Share the clipboard" switch
 * (off by default) writes clipboard=true to vm.conf; the VM then runs Debian's Linux
 * with the test agent (tests/guests/linux/vdagent-guest.c, in the kit's
 * initrd-vdagent.img) on the com.redhat.spice.0 port vm.conf added. Text the guest
 * copies lands on the desktop's clipboard; text copied on the desktop arrives in the
 * guest (its serial log). The Linux kit is the argument; VIREO_TEST_AGENT names the
 * agent built for the guest. */
#include "app-harness.h"
#include "ui/gtk/vireo-machine.h"
#include "vireo-config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#define GUEST_TEXT "copied-in-the-guest"

static char *clip_kit, *clip_log;

static void clipboard_setup(const char *arg)
{
    clip_kit = g_strdup(arg);
    const char *agent = g_getenv("VIREO_TEST_AGENT");
    if (!agent || !g_file_test(agent, G_FILE_TEST_EXISTS)) {
        note("SKIP: the test agent was not built (gcc -m32 -static does not link here)");
        exit(SKIP);
    }
    build_linux_kit(clip_kit, "mkvdagent.sh", agent);
    clip_log = g_build_filename(work_dir, "com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf(
        "[vm]\nmemory=128M\naccel=%s\nserial=file:%s\nkernel=%s/vmlinuz\ninitrd=%s/initrd-vdagent.img\n"
        "append=console=ttyS0 vireo.text=" GUEST_TEXT " vireo.ports=1\n",
        accel ? accel : "kvm:tcg", clip_log, clip_kit, clip_kit);
    write_vm("Clip", conf);
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

/* The first match of pattern in the guest's serial log (group 1), or NULL. */
static char *log_match(const char *pattern)
{
    g_autofree char *log = NULL;
    if (!g_file_get_contents(clip_log, &log, NULL, NULL))
        return NULL;
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;
    return g_regex_match(re, log, 0, &mi) ? g_match_info_fetch(mi, 1) : NULL;
}

static bool log_has(void *pattern)
{
    g_autofree char *m = log_match(pattern);
    return m != NULL;
}

typedef struct ClipRead {
    bool done;
    char *text;
} ClipRead;

static void read_done(GObject *src, GAsyncResult *res, gpointer data)
{
    ClipRead *r = data;
    r->text = gdk_clipboard_read_text_finish(GDK_CLIPBOARD(src), res, NULL);
    r->done = true;
}

static bool read_finished(void *data)
{
    return ((ClipRead *)data)->done;
}

/* The desktop clipboard's text, read as another program would (NULL: none). */
static char *desktop_text(GdkClipboard *cb)
{
    ClipRead r = { 0 };
    gdk_clipboard_read_text_async(cb, NULL, read_done, &r);
    CHECK(wait_for(read_finished, &r, 5000), "reading the clipboard did not finish");
    return r.text;
}

typedef struct TextWait {
    GdkClipboard *cb;
    const char *want;
} TextWait;

static bool desktop_has(void *data)
{
    TextWait *t = data;
    g_autofree char *got = desktop_text(t->cb);
    return !g_strcmp0(got, t->want);
}

static void case_clipboard(const char *arg)
{
    (void)arg;
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", "Clip");
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    GtkWindow *set = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    GtkSwitch *sw = GTK_SWITCH(named(GTK_WIDGET(set), "clipboard-switch"));
    CHECK(!gtk_switch_get_active(sw), "clipboard sharing is on by default");
    gtk_switch_set_active(sw, TRUE);
    run_for(50);
    g_autofree char *on = conf_value("Clip", "vm", "clipboard");
    CHECK(!g_strcmp0(on, "true"), "vm.conf has clipboard=%s after switching sharing on", on);
    gtk_window_destroy(set);
    note("settings: Share the clipboard writes clipboard=true");

    GdkClipboard *cb = gdk_display_get_clipboard(gdk_display_get_default());
    gdk_clipboard_set_text(cb, "before-the-vm");
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", "Clip");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(win);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "the VM did not start: %s",
          vireo_machine_get_error(m) ? vireo_machine_get_error(m) : "no error");

    /* The guest's agent grabs its clipboard as soon as it has our capabilities: the text
     * arrives on the desktop's clipboard. */
    CHECK(wait_for(log_has, "VDAGENT-(s\\w+) GRABBED", 180000), "the guest agent never started");
    g_autofree char *tag = log_match("VDAGENT-(s\\w+) GRABBED");
    g_autofree char *want = g_strdup_printf(GUEST_TEXT "-%s", tag);
    TextWait tw = { cb, want };
    CHECK(wait_for(desktop_has, &tw, 30000), "the desktop's clipboard never got the guest's text %s", want);
    note("the guest copied %s: it is on the desktop's clipboard", want);

    /* Text the desktop copies goes to the guest when it pastes (the agent asks at once). */
    gdk_clipboard_set_text(cb, "copied-on-the-desktop");
    g_autofree char *got_pat = g_strdup_printf("VDAGENT-%s CLIPBOARD type=1 len=\\d+ text=(copied-on-the-desktop)", tag);
    CHECK(wait_for(log_has, got_pat, 30000), "the guest never got the desktop's text");
    note("the desktop copied text: the guest agent received it");
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    gtk_window_destroy(GTK_WINDOW(win));
    exit_code = 0;
}

static const UiCase cases[] = {
    { "clipboard", true, clipboard_setup, case_clipboard },
};

const UiCase *clipboard_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
