/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 16, the app's sound control: a VM whose guest holds a 1 kHz tone on the PC
 * speaker plays into a private PulseAudio daemon's null sink; parec records the sink
 * while the test uses the VM window's volume button as a user would. What is checked is
 * what the user hears (the recorded level at 100%, muted, 50%, after a restart) and sees
 * (the library's "playing" icon, the button's icon), and that vm.conf remembers it. */
#include "app-harness.h"
#include "ui/gtk/vireo-machine.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

/* parec's format. */
#define REC_RATE 44100
#define REC_CHANNELS 2

static GPid daemon_pid;

/* Waits until the daemon is gone: it removes its files from the work folder as it exits,
 * which would race with remove_work_dir (the next atexit handler). */
static void stop_daemon(void)
{
    if (daemon_pid <= 0 || kill(daemon_pid, SIGTERM) != 0)
        return;
    for (int i = 0; i < 200 && kill(daemon_pid, 0) == 0; i++)
        g_usleep(50 * 1000);
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

/* ---- The microphone: the settings' rows, and a VM recording the default source ---- */

static const char *mic_guest;
static bool have_mic_tools;

static void microphone_setup(const char *arg)
{
    mic_guest = arg;
    if (!have_program("pulseaudio") || !have_program("parec") || !have_program("pactl") || !have_program("pacat")) {
        printf("SKIP: pulseaudio, parec, pactl or pacat missing (Debian packages pulseaudio, pulseaudio-utils)\n");
        return;
    }
    have_mic_tools = true;
    have_sound_server = start_daemon();
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nfirmware=%s\nsound=ac97\n",
                                            accel ? accel : "kvm:tcg", mic_guest);
    write_vm("Mic", conf);
}

static int run_shell(const char *cmd)
{
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    int status = -1;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL, NULL, &status, NULL))
        return -1;
    return status;
}

/* The AC'97 guest's input (sound-ac97.asm records 500 ms at +6 dB and plays it back). */
#define MIC_HZ 700
#define MIC_AMP 8000

/* 50 ms blocks of the left channel holding MIC_HZ: zero crossings within 5% of
 * 2 * MIC_HZ / 20 and a peak in [lo, hi], in runs of three or more (not required in one
 * run: on this real-time path a starved host leaves gaps of a few milliseconds). */
static int count_tone_blocks(const int16_t *s, size_t frames, int lo, int hi, int *peak_seen)
{
    size_t block = REC_RATE / 20;
    int count = 0, run = 0;
    *peak_seen = 0;
    for (size_t b = 0; b + 1 <= frames / block; b++) {
        int cross = 0, peak = 0;
        for (size_t i = b * block; i < (b + 1) * block; i++) {
            int v = s[i * REC_CHANNELS];
            peak = MAX(peak, abs(v));
            if (i > b * block && (v >= 0) != (s[(i - 1) * REC_CHANNELS] >= 0))
                cross++;
        }
        bool tone = abs(cross - 2 * MIC_HZ / 20) <= 2 * MIC_HZ / 20 / 20 + 1;
        if (tone)
            *peak_seen = MAX(*peak_seen, peak);
        /* Only runs of three blocks or more count: a block across the guest's change
         * from its 500 Hz to its 1000 Hz tone can cross zero as often as MIC_HZ does. */
        if (tone && peak >= lo && peak <= hi) {
            run++;
            count += run == 3 ? 3 : run > 3 ? 1 : 0;
        } else {
            run = 0;
        }
    }
    return count;
}

/* Runs the Mic VM from the library while parec records the sink for 9 s (the guest's
 * two tones, its recording and the playback take about 3 s of its time, its wait for
 * an input that never comes 6 s); returns the 50 ms blocks of MIC_HZ at +6 dB. */
static int run_mic_vm(GtkWindow *main, const char *what)
{
    static int n;
    g_autofree char *base = g_strdup_printf("mic-rec%d.raw", n++);
    g_autofree char *raw = g_build_filename(work_dir, base, NULL);
    g_autofree char *cmd = g_strdup_printf("exec parec -d vsink.monitor --format=s16le --rate=%d --channels=%d "
                                           "--latency-msec=20 > '%s'", REC_RATE, REC_CHANNELS, raw);
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    GPid rec;
    CHECK(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &rec, NULL),
          "cannot start parec");
    for (int i = 0; i < 200; i++) {
        GStatBuf st;
        if (g_stat(raw, &st) == 0 && st.st_size > REC_RATE * REC_CHANNELS * 2 / 5)
            break;
        run_for(50);
    }
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", "Mic");
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(win);
    start_vm(win, m);
    run_for(9000);
    kill(rec, SIGTERM);
    int status;
    waitpid(rec, &status, 0);
    g_spawn_close_pid(rec);
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "Force Off did not stop the VM");
    run_for(500);
    gtk_window_destroy(GTK_WINDOW(win));

    g_autofree char *data = NULL;
    gsize len = 0;
    CHECK(g_file_get_contents(raw, &data, &len, NULL), "parec wrote nothing");
    /* Played back at the guest's record gain of +6 dB: twice the input's peak. */
    int peak = 0;
    int blocks = count_tone_blocks((const int16_t *)data, len / (REC_CHANNELS * 2), MIC_AMP * 17 / 10,
                                   MIC_AMP * 23 / 10, &peak);
    note("%s: %d blocks of 50 ms at %d Hz (peak %d; played back at +6 dB it is about %d)", what, blocks, MIC_HZ,
         peak, 2 * MIC_AMP);
    return blocks;
}

static void case_microphone(const char *arg)
{
    if (!have_mic_tools || !have_sound_server) {
        exit_code = SKIP;
        return;
    }
    /* The settings: PulseAudio and the microphone, kept in vm.conf. */
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", "Mic");
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    GtkWindow *set = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    AdwComboRow *backend = ADW_COMBO_ROW(named(GTK_WIDGET(set), "audio-backend-row"));
    GtkSwitch *mic = GTK_SWITCH(named(GTK_WIDGET(set), "microphone-switch"));
    CHECK(adw_combo_row_get_selected(backend) == 0 && !gtk_switch_get_active(mic),
          "a vm.conf without audio-backend= and microphone= does not show Automatic and off");
    adw_combo_row_set_selected(backend, 2);
    run_for(50);
    g_autofree char *sdl = conf_value("Mic", "vm", "audio-backend");
    CHECK(!g_strcmp0(sdl, "sdl"), "audio-backend=%s after choosing SDL", sdl);
    adw_combo_row_set_selected(backend, 1);
    gtk_switch_set_active(mic, TRUE);
    run_for(50);
    g_autofree char *be = conf_value("Mic", "vm", "audio-backend");
    g_autofree char *on = conf_value("Mic", "vm", "microphone");
    CHECK(!g_strcmp0(be, "pa") && !g_strcmp0(on, "true"), "vm.conf has audio-backend=%s microphone=%s", be, on);
    gtk_window_destroy(set);
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", "Mic");
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    set = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    CHECK(adw_combo_row_get_selected(ADW_COMBO_ROW(named(GTK_WIDGET(set), "audio-backend-row"))) == 1 &&
              gtk_switch_get_active(GTK_SWITCH(named(GTK_WIDGET(set), "microphone-switch"))),
          "the settings do not show vm.conf's PulseAudio and microphone again");
    gtk_window_destroy(set);
    note("settings: audio-backend=pa and microphone=true written and shown again");

    /* The default source: a second null sink's monitor, playing MIC_HZ; vsink stays the
     * default sink the VM plays into. */
    g_autofree char *tone = g_build_filename(work_dir, "mic-tone.raw", NULL);
    {
        size_t frames = REC_RATE * 60;
        g_autofree int16_t *t = g_new(int16_t, frames * 2);
        for (size_t i = 0; i < frames; i++)
            t[2 * i] = t[2 * i + 1] = (int16_t)lround(MIC_AMP * sin(2 * G_PI * MIC_HZ * (double)i / REC_RATE));
        CHECK(g_file_set_contents(tone, (const char *)t, (gssize)(frames * 4), NULL), "cannot write the tone");
    }
    CHECK(run_shell("pactl load-module module-null-sink sink_name=vin >/dev/null && "
                    "pactl set-default-source vin.monitor && pactl set-default-sink vsink") == 0,
          "pactl could not make vin.monitor the default source");
    g_autofree char *feed = g_strdup_printf("exec pacat -d vin --format=s16le --rate=%d --channels=2 '%s'",
                                            REC_RATE, tone);
    const char *feed_argv[] = { "/bin/sh", "-c", feed, NULL };
    GPid feeder;
    CHECK(g_spawn_async(NULL, (char **)feed_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &feeder, NULL),
          "cannot start pacat");

    int blocks = run_mic_vm(main, "microphone on");
    /* The playback lasts 500 ms (9 whole blocks); a gap spoils the block it falls in. */
    CHECK(blocks >= 4, "the VM did not play back the default source's %d Hz tone at +6 dB (%d blocks)", MIC_HZ,
          blocks);

    /* Off again: the card's input hears silence, nothing comes back. */
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", "Mic");
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    set = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    gtk_switch_set_active(GTK_SWITCH(named(GTK_WIDGET(set), "microphone-switch")), FALSE);
    run_for(50);
    gtk_window_destroy(set);
    g_autofree char *off = conf_value("Mic", "vm", "microphone");
    CHECK(!g_strcmp0(off, "false"), "microphone=%s after switching it off", off);
    blocks = run_mic_vm(main, "microphone off");
    CHECK(blocks == 0, "with the microphone off the VM still played back the default source (%d blocks)", blocks);
    kill(feeder, SIGTERM);
    int status;
    waitpid(feeder, &status, 0);
    g_spawn_close_pid(feeder);
    exit_code = 0;
}

static const UiCase cases[] = {
    { "sound", true, sound_setup, case_sound },
    { "sound-microphone", true, microphone_setup, case_microphone },
};

const UiCase *sound_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
