/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 16, the app's sound control: a VM whose guest holds a 1 kHz tone on the PC
 * speaker plays into a private PulseAudio daemon's null sink; parec records the sink
 * while the test uses the VM window's volume button as a user would. What is checked is
 * what the user hears (the recorded level at 100%, muted, 50%, after a restart) and sees
 * (the library's "playing" icon, the button's icon), and that vm.conf remembers it. */
#include "app-harness.h"
#include "ui/gtk/vireo-machine.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

/* parec's format. */
#define REC_RATE 44100
#define REC_CHANNELS 2

static GPid daemon_pid;

static void stop_daemon(void)
{
    if (daemon_pid > 0)
        kill(daemon_pid, SIGTERM);
}

/* A daemon of our own (its runtime folder in the work folder), so the test meets no
 * desktop session; the app inherits the environment and finds it. */
static bool start_daemon(void)
{
    g_autofree char *run = g_build_filename(work_dir, "pulse-run", NULL);
    g_autofree char *state = g_build_filename(work_dir, "pulse-state", NULL);
    g_mkdir_with_parents(run, 0700);
    g_setenv("XDG_RUNTIME_DIR", run, TRUE);
    g_setenv("PULSE_RUNTIME_PATH", run, TRUE);
    g_setenv("PULSE_STATE_PATH", state, TRUE);
    g_setenv("PULSE_CONFIG_PATH", state, TRUE);
    g_setenv("HOME", work_dir, TRUE);
    g_unsetenv("PULSE_SERVER");
    /* A build without libpulse plays through SDL, which then talks to the same daemon. */
    g_setenv("SDL_AUDIODRIVER", "pulseaudio", TRUE);
    const char *argv[] = { "pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                           "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=vsink", NULL };
    int status = -1;
    g_autofree char *err = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
        printf("SKIP: pulseaudio did not start: %s\n", err ? g_strstrip(err) : "");
        return false;
    }
    g_autofree char *pidfile = g_build_filename(run, "pid", NULL), *pid = NULL;
    CHECK(g_file_get_contents(pidfile, &pid, NULL, NULL), "pulseaudio wrote no pid file");
    daemon_pid = (GPid)atoi(pid);
    atexit(stop_daemon);
    return true;
}

static const char *speaker_guest;
static bool have_sound_server;

static void sound_setup(const char *arg)
{
    speaker_guest = arg;
    if (!have_program("pulseaudio") || !have_program("parec")) {
        printf("SKIP: pulseaudio or parec missing (Debian packages pulseaudio, pulseaudio-utils)\n");
        return;
    }
    have_sound_server = start_daemon();
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nkernel=%s\nsound=sb16\n",
                                            accel ? accel : "kvm:tcg", speaker_guest);
    write_vm("Speaker", conf);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* The level the sink played for about a second: the median over 50 ms blocks of each
 * block's peak, so a gap of a starved host (or the square wave's zero half) does not
 * decide it. */
static int record_level(const char *what)
{
    /* A file per recording: the last one's data must not pass for this one's start. */
    static int n;
    g_autofree char *base = g_strdup_printf("rec%d.raw", n++);
    g_autofree char *raw = g_build_filename(work_dir, base, NULL);
    g_autofree char *cmd = g_strdup_printf("exec parec -d vsink.monitor --format=s16le --rate=%d --channels=%d "
                                           "--latency-msec=20 > '%s' 2> '%s.err'", REC_RATE, REC_CHANNELS, raw, raw);
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    GPid pid;
    CHECK(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL),
          "cannot start parec");
    /* Wait until parec delivers, then record a second more. */
    for (int i = 0; i < 200; i++) {
        GStatBuf st;
        if (g_stat(raw, &st) == 0 && st.st_size > REC_RATE * REC_CHANNELS * 2 / 5)
            break;
        run_for(50);
    }
    run_for(1000);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    g_spawn_close_pid(pid);
    g_autofree char *data = NULL;
    gsize len = 0;
    CHECK(g_file_get_contents(raw, &data, &len, NULL), "parec wrote nothing");
    const int16_t *s = (const int16_t *)data;
    size_t frames = len / (REC_CHANNELS * 2);
    size_t block = REC_RATE / 20, nblocks = MIN(frames / block, 16);
    if (nblocks < 8) {
        g_autofree char *errpath = g_strdup_printf("%s.err", raw), *errtext = NULL;
        g_file_get_contents(errpath, &errtext, NULL, NULL);
        CHECK(false, "parec recorded only %zu frames (status %d): %s", frames, status, errtext ? errtext : "");
    }
    int peaks[16];
    for (size_t b = 0; b < nblocks; b++) {
        size_t first = frames - (nblocks - b) * block;
        int peak = 0;
        for (size_t i = first * REC_CHANNELS; i < (first + block) * REC_CHANNELS; i++)
            peak = MAX(peak, abs((int)s[i]));
        peaks[b] = peak;
    }
    qsort(peaks, nblocks, sizeof(int), cmp_int);
    int level = peaks[nblocks / 2];
    note("%s: recorded level %d", what, level);
    return level;
}

static bool machine_running(void *data)
{
    return vireo_machine_get_state(data) == VIREO_MACHINE_RUNNING;
}

static bool machine_playing(void *data)
{
    return vireo_machine_get_playing(data);
}

static bool machine_silent(void *data)
{
    return !vireo_machine_get_playing(data);
}

static GtkWidget *named(GtkWidget *root, const char *name)
{
    GtkWidget *w = find_named(root, name);
    CHECK(w, "no widget named %s", name);
    return w;
}

static const char *button_icon(GtkWidget *win)
{
    return gtk_menu_button_get_icon_name(GTK_MENU_BUTTON(named(win, "volume-button")));
}

static void start_vm(VireoVmWindow *win, VireoMachine *m)
{
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "the VM did not start: %s",
          vireo_machine_get_error(m) ? vireo_machine_get_error(m) : "no error");
    CHECK(wait_for(machine_playing, m, 20000), "the VM never counted as playing (the guest's tone is not mixed)");
}

static void case_sound(const char *arg)
{
    if (!have_sound_server) {
        exit_code = SKIP;
        return;
    }
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    GtkWidget *icon = named(GTK_WIDGET(main), "playing-icon");
    CHECK(!gtk_widget_get_visible(icon), "the library shows a playing icon for a VM that is off");
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", "Speaker");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    GtkWidget *w = GTK_WIDGET(win);
    VireoMachine *m = vireo_vm_window_get_machine(win);
    CHECK(gtk_widget_get_sensitive(named(w, "volume-button")), "a VM with a sound card has no volume control");
    start_vm(win, m);
    CHECK(gtk_widget_get_visible(icon), "the library shows no playing icon while the guest plays");
    CHECK(!strcmp(button_icon(w), "audio-volume-high-symbolic"), "volume button icon %s at 100%%", button_icon(w));
    screenshot(GTK_WINDOW(main), "library-playing.png");

    int full = record_level("volume 100%");
    CHECK(full > 2000, "the tone is not heard at full volume (level %d)", full);

    GtkToggleButton *mute = GTK_TOGGLE_BUTTON(named(w, "mute-button"));
    gtk_toggle_button_set_active(mute, TRUE);
    int muted = record_level("muted");
    CHECK(muted < full / 100, "muted, the sink still plays level %d (full %d)", muted, full);
    CHECK(!strcmp(button_icon(w), "audio-volume-muted-symbolic"), "volume button icon %s when muted", button_icon(w));
    CHECK(gtk_widget_get_visible(icon) &&
              !strcmp(gtk_image_get_icon_name(GTK_IMAGE(icon)), "audio-volume-muted-symbolic"),
          "the library does not show a muted VM that plays as muted");

    /* 50% on the desktop's cubic curve: 0.125 of the amplitude (-18 dB). */
    gtk_toggle_button_set_active(mute, FALSE);
    gtk_range_set_value(GTK_RANGE(named(w, "volume-scale")), 50);
    int half = record_level("volume 50%");
    double ratio = (double)half / full;
    CHECK(ratio > 0.09 && ratio < 0.16, "at 50%% the level is %.3f of full (expected 0.125)", ratio);
    CHECK(!strcmp(button_icon(w), "audio-volume-medium-symbolic"), "volume button icon %s at 50%%", button_icon(w));
    run_for(800);
    g_autofree char *vol = conf_value("Speaker", "ui", "volume");
    g_autofree char *mut = conf_value("Speaker", "ui", "muted");
    CHECK(!g_strcmp0(vol, "50") && !g_strcmp0(mut, "false"), "vm.conf keeps volume=%s muted=%s", vol, mut);

    /* Paused, the guest is silent and the library says so. */
    gtk_widget_activate_action(w, "win.pause", NULL);
    CHECK(wait_for(machine_silent, m, 5000), "a paused VM still counts as playing");
    CHECK(!gtk_widget_get_visible(icon), "the library shows a paused VM as playing");
    gtk_widget_activate_action(w, "win.pause", NULL);

    /* The level outlives the run. */
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    run_for(500);
    start_vm(win, m);
    int again = record_level("volume 50% after a restart");
    ratio = (double)again / full;
    CHECK(ratio > 0.09 && ratio < 0.16, "after a restart the level is %.3f of full (expected 0.125)", ratio);
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    run_for(500);
    gtk_window_destroy(GTK_WINDOW(win));
    exit_code = 0;
}

static const UiCase cases[] = {
    { "sound", true, sound_setup, case_sound },
};

const UiCase *sound_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
