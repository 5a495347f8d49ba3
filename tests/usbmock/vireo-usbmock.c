/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Runs a program beside the mock keyboard and disk of usbmock.h, for guest tests of
 * usb-host:
 *
 *   umockdev-wrapper vireo-usbmock CONTROL STATS -- PROGRAM [ARG...]
 *
 * The program (vireo-run) inherits the preload library and the testbed's UMOCKDEV_DIR,
 * so its libusb sees the mocks at 001/002 (keyboard) and 001/003 (disk). Lines written
 * to the FIFO CONTROL drive them: "key HH" (a press and release of HID usage 0xHH),
 * "unplug kbd|disk", "stats" (writes both mocks' counters to the file STATS, replacing
 * it), "dump PATH" (the disk's bytes to PATH). Exits with the program's status. */
#include "tests/usbmock/usbmock.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct Run {
    UsbMock *mock;
    GMainLoop *loop;
    GString *line;
    const char *stats_path;
    int status;
} Run;

static void command(Run *r, const char *cmd)
{
    unsigned usage;
    if (sscanf(cmd, "key %x", &usage) == 1) {
        usbmock_key(r->mock, (uint8_t)usage);
    } else if (!strcmp(cmd, "unplug kbd") || !strcmp(cmd, "unplug disk")) {
        usbmock_unplug(r->mock, cmd[7] == 'k' ? USBMOCK_KEYBOARD : USBMOCK_STORAGE);
    } else if (!strcmp(cmd, "stats")) {
        GString *text = g_string_new(NULL);
        for (int i = 0; i < 2; i++) {
            UsbMockStats s = usbmock_stats(r->mock, i ? USBMOCK_STORAGE : USBMOCK_KEYBOARD);
            const char *p = i ? "disk_" : "";
            g_string_append_printf(text,
                                   "%sdriver_bound=%d %sdisconnects=%d %sconnects=%d %sclaimed=%d %scontrol=%d "
                                   "%sreports=%d %sset_idle=%d %sreport_desc=%d %scommands=%d %sread=%d %swritten=%d\n",
                                   p, s.driver_bound, p, s.disconnects, p, s.connects, p, s.claimed, p,
                                   s.control_requests, p, s.reports_sent, p, s.set_idle, p, s.get_report_desc, p,
                                   s.commands, p, s.blocks_read, p, s.blocks_written);
        }
        g_autofree char *tmp = g_strconcat(r->stats_path, ".tmp", NULL);
        if (!g_file_set_contents(tmp, text->str, -1, NULL) || rename(tmp, r->stats_path))
            g_printerr("vireo-usbmock: cannot write %s\n", r->stats_path);
        g_string_free(text, true);
    } else if (g_str_has_prefix(cmd, "dump ")) {
        g_autoptr(GBytes) disk = usbmock_disk(r->mock);
        gsize n;
        const void *p = g_bytes_get_data(disk, &n);
        g_autofree char *tmp = g_strconcat(cmd + 5, ".tmp", NULL);
        if (!g_file_set_contents(tmp, p, (gssize)n, NULL) || rename(tmp, cmd + 5))
            g_printerr("vireo-usbmock: cannot write %s\n", cmd + 5);
    } else if (*cmd) {
        g_printerr("vireo-usbmock: unknown command '%s'\n", cmd);
    }
}

static gboolean control_ready(int fd, GIOCondition cond, gpointer opaque)
{
    Run *r = opaque;
    (void)cond;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                command(r, r->line->str);
                g_string_truncate(r->line, 0);
            } else if (r->line->len < 200) {
                g_string_append_c(r->line, buf[i]);
            }
        }
    }
    return G_SOURCE_CONTINUE;
}

static void child_exited(GPid pid, gint status, gpointer opaque)
{
    Run *r = opaque;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    g_spawn_close_pid(pid);
    g_main_loop_quit(r->loop);
}

static gboolean forward_signal(gpointer opaque)
{
    GPid *pid = opaque;
    kill(*pid, SIGTERM);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[3], "--")) {
        fprintf(stderr, "usage: umockdev-wrapper vireo-usbmock CONTROL-FIFO STATS-FILE -- PROGRAM [ARG...]\n");
        return 2;
    }
    const char *pre = g_getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "umockdev")) {
        fprintf(stderr, "vireo-usbmock: run it under umockdev-wrapper\n");
        return 2;
    }
    Run r = { .stats_path = argv[2], .line = g_string_new(NULL) };
    /* Read and write, so the FIFO never reports end-of-file between writers. */
    int fd = open(argv[1], O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "vireo-usbmock: %s: %s\n", argv[1], g_strerror(errno));
        return 2;
    }
    r.mock = usbmock_new(USBMOCK_KEYBOARD | USBMOCK_STORAGE);
    r.loop = g_main_loop_new(NULL, FALSE);
    g_unix_fd_add(fd, G_IO_IN, control_ready, &r);
    GPid pid;
    g_autoptr(GError) err = NULL;
    if (!g_spawn_async(NULL, argv + 4, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL,
                       &pid, &err)) {
        fprintf(stderr, "vireo-usbmock: %s\n", err->message);
        return 2;
    }
    g_child_watch_add(pid, child_exited, &r);
    g_unix_signal_add(SIGTERM, forward_signal, &pid);
    g_unix_signal_add(SIGINT, forward_signal, &pid);
    g_main_loop_run(r.loop);
    usbmock_free(r.mock);
    g_main_loop_unref(r.loop);
    g_string_free(r.line, true);
    close(fd);
    return r.status;
}
