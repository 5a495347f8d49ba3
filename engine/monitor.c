/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The human monitor's commands (monitor.h), in QEMU's words where QEMU has them. */
#include "engine/monitor.h"
#include "engine/net/net.h"
#include "disks/block.h"
#include "engine/device.h"
#include "engine/machine.h"
#include "engine/snapshots.h"
#include "engine/vm.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void drive_free(gpointer p)
{
    MonitorDrive *d = p;
    g_free(d->device);
    g_free(d->file);
    g_free(d->backing_file);
    g_free(d);
}

static void add_drive(void *opaque, const char *name, BlockImage *img, bool writable)
{
    MonitorDrive *d = g_new0(MonitorDrive, 1);
    d->device = g_strdup(name);
    d->file = g_strdup(block_filename(img));
    d->format = block_format_name(img);
    d->read_only = block_is_read_only(img);
    d->removable = g_str_has_prefix(name, "floppy") || strstr(name, "-cd") != NULL;
    d->size = block_size(img);
    BlockImage *b = block_backing(img);
    if (b) {
        d->backing_file = g_strdup(block_filename(b));
        d->backing_format = block_format_name(b);
    }
    g_ptr_array_add(opaque, d);
}

GPtrArray *monitor_list_drives(Vm *vm)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(drive_free);
    vm_lock(vm);
    device_list_for_each_image(vm, add_drive, a);
    vm_unlock(vm);
    return a;
}

static char *info_status(Vm *vm)
{
    switch (vm_get_state(vm)) {
    case VM_STATE_RUNNING: return g_strdup("VM status: running\r\n");
    case VM_STATE_CREATED: return g_strdup("VM status: paused (prelaunch)\r\n");
    case VM_STATE_PAUSED: return g_strdup("VM status: paused\r\n");
    case VM_STATE_SHUTDOWN: return g_strdup("VM status: paused (shutdown)\r\n");
    case VM_STATE_ERROR: return g_strdup("VM status: paused (internal-error)\r\n");
    }
    return g_strdup("VM status: unknown\r\n");
}

/* QEMU's layout: "  Device BUS.ADDR, Port N, Speed 12 Mb/s, Product NAME, ID: id". */
static char *info_usb(Vm *vm)
{
    static const char *const speeds[][2] = {
        { "low", "1.5" }, { "full", "12" }, { "high", "480" }, { "super", "5000" },
    };
    GString *s = g_string_new(NULL);
    vm_lock(vm);
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        DeviceBusPlace p;
        if (!d->klass->bus_place || !d->klass->bus_place(d, &p) || !g_str_has_prefix(p.bus, "usb-bus."))
            continue;
        const char *mbps = "?";
        for (size_t i = 0; i < G_N_ELEMENTS(speeds); i++)
            if (!strcmp(speeds[i][0], p.speed))
                mbps = speeds[i][1];
        /* Behind hubs the port is a path, "4.2", as QEMU prints it. */
        g_string_append_printf(s, "  Device %s.%d, Port %s, Speed %s Mb/s, Product %s, ID: %s\r\n",
                               p.bus + strlen("usb-bus."), p.addr, p.path, mbps, p.product, d->id);
    }
    vm_unlock(vm);
    return g_string_free(s, false);
}

static char *info_block(Vm *vm)
{
    g_autoptr(GPtrArray) drives = monitor_list_drives(vm);
    GString *out = g_string_new(NULL);
    for (guint i = 0; i < drives->len; i++) {
        MonitorDrive *d = drives->pdata[i];
        g_string_append_printf(out, "%s: %s (%s%s)\r\n", d->device, d->file, d->format,
                               d->read_only ? ", read-only" : "");
        if (d->removable)
            g_string_append(out, "    Removable device: not locked, tray closed\r\n");
        if (d->backing_file)
            g_string_append_printf(out, "    Backing file:     %s (%s)\r\n", d->backing_file,
                                   d->backing_format);
        g_string_append(out, "\r\n");
    }
    return g_string_free(out, FALSE);
}

static const char help_text[] =
    "cont|c -- resume emulation\r\n"
    "delvm tag -- delete a VM snapshot from its tag\r\n"
    "help|? -- show this help\r\n"
    "hostfwd_add [netdev_id] tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport -- redirect a host port\r\n"
    "hostfwd_remove [netdev_id] tcp|udp:[hostaddr]:hostport -- remove a port redirection\r\n"
    "info block -- show the block devices\r\n"
    "info network -- show the network state\r\n"
    "info qtree -- show the device tree\r\n"
    "info snapshots -- show the currently available VM snapshots\r\n"
    "info usb -- show guest USB devices\r\n"
    "info status -- show the current VM status (running|paused)\r\n"
    "loadvm tag -- restore a VM snapshot from its tag\r\n"
    "quit|q -- quit the emulator\r\n"
    "savevm [tag] -- save a VM snapshot; without a tag one is made up\r\n"
    "set_link name on|off -- change the link status of a network adapter\r\n"
    "stop -- stop emulation\r\n"
    "system_powerdown -- send system power down event\r\n"
    "system_reset -- reset the system\r\n";

char *monitor_run(Vm *vm, const char *line, bool *quit)
{
    *quit = false;
    g_auto(GStrv) words = g_strsplit_set(line, " \t\r\n", -1);
    g_autoptr(GPtrArray) w = g_ptr_array_new();
    for (char **p = words; *p; p++)
        if (**p)
            g_ptr_array_add(w, *p);
    const char *cmd = w->len ? w->pdata[0] : "";
    const char *arg = w->len > 1 ? w->pdata[1] : NULL;
    GError *local = NULL;
    char *out = NULL;
    if (!*cmd) {
        out = g_strdup("");
    } else if (!strcmp(cmd, "hostfwd_add") || !strcmp(cmd, "hostfwd_remove")) {
        /* QEMU's "hostfwd_add [netdev_id] rule" and "hostfwd_remove [netdev_id] rule". */
        bool add = !strcmp(cmd, "hostfwd_add");
        const char *id = w->len > 2 ? w->pdata[1] : NULL, *rule = w->len > 2 ? w->pdata[2] : arg;
        if (!rule || w->len > 3)
            out = g_strdup_printf("Error: usage: %s [netdev_id] %s\r\n", cmd,
                                  add ? "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport"
                                      : "tcp|udp:[hostaddr]:hostport");
        else if (add ? net_hostfwd_add(vm, id, rule, &local) : net_hostfwd_remove(vm, id, rule, &local))
            out = g_strdup("");
    } else if (!strcmp(cmd, "set_link")) {
        if (w->len != 3 || (strcmp(w->pdata[2], "on") && strcmp(w->pdata[2], "off")))
            out = g_strdup("Error: usage: set_link NAME on|off\r\n");
        else if (net_set_link(vm, arg, !strcmp(w->pdata[2], "on"), &local))
            out = g_strdup("");
    } else if (w->len > 2) {
        out = g_strdup_printf("Error: %s: too many arguments\r\n", cmd);
    } else if (!strcmp(cmd, "savevm")) {
        g_autofree char *name = NULL;
        if (!arg) {
            g_autoptr(GDateTime) now = g_date_time_new_now_local();
            name = g_date_time_format(now, "vm-%Y%m%d%H%M%S");
        }
        if (vm_snapshot_save(vm, arg ? arg : name, &local))
            out = g_strdup("");
    } else if (!strcmp(cmd, "loadvm") || !strcmp(cmd, "delvm")) {
        if (!arg)
            out = g_strdup_printf("Error: %s needs a snapshot tag\r\n", cmd);
        else if (!strcmp(cmd, "loadvm") ? vm_snapshot_load(vm, arg, &local)
                                        : vm_snapshot_delete(vm, arg, &local))
            out = g_strdup("");
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "snapshots")) {
        out = vm_snapshot_list_text(vm, &local);
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "qtree")) {
        vm_lock(vm);
        out = device_list_describe(vm);
        vm_unlock(vm);
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "usb")) {
        out = info_usb(vm);
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "status")) {
        out = info_status(vm);
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "block")) {
        out = info_block(vm);
    } else if (!strcmp(cmd, "info") && arg && !strcmp(arg, "network")) {
        out = net_info_text(vm);
    } else if (!strcmp(cmd, "stop")) {
        vm_pause(vm);
        out = g_strdup("");
    } else if (!strcmp(cmd, "cont") || !strcmp(cmd, "c")) {
        VmState st = vm_get_state(vm);
        if (st == VM_STATE_SHUTDOWN || st == VM_STATE_ERROR)
            out = g_strdup_printf("Error: the VM is in state '%s'; reset it first\r\n",
                                  vm_state_name(st));
        else if (vm_start(vm, &local))
            out = g_strdup("");
    } else if (!strcmp(cmd, "system_reset")) {
        vm_reset(vm);
        out = g_strdup("");
    } else if (!strcmp(cmd, "system_powerdown")) {
        vm_powerdown(vm);
        out = g_strdup("");
    } else if (!strcmp(cmd, "quit") || !strcmp(cmd, "q")) {
        *quit = true;
        out = g_strdup("");
    } else if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
        out = g_strdup(help_text);
    } else {
        g_autofree char *shown = g_strndup(line, 80);
        g_strchomp(shown);
        out = g_strdup_printf("Error: unknown command '%s' (help lists the commands)\r\n", shown);
    }
    if (!out) {
        out = g_strdup_printf("Error: %s\r\n", local->message);
        g_error_free(local);
    }
    return out;
}

/* -monitor stdio ----------------------------------------------------------------------*/

#define MONITOR_MAX_LINE 4096

struct MonitorStdio {
    Vm *vm;
    void (*quit)(void *data);
    void *data;
    guint watch;
    GString *pending;        /* bytes of a line not yet ended */
};

static void prompt(void)
{
    fputs("(qemu) ", stdout);
    fflush(stdout);
}

static void print_crlf_as_lf(const char *text)
{
    /* The monitor's lines end in "\r\n" as QEMU's; a terminal or pipe wants "\n". */
    for (const char *p = text; *p; p++)
        if (!(p[0] == '\r' && p[1] == '\n'))
            fputc(*p, stdout);
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
    MonitorStdio *m = data;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
        m->watch = 0;
        return G_SOURCE_REMOVE;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            /* A line longer than any command is cut, not grown without bound. */
            if (m->pending->len < MONITOR_MAX_LINE)
                g_string_append_c(m->pending, buf[i]);
            continue;
        }
        bool quit = false;
        char *out = monitor_run(m->vm, m->pending->str, &quit);
        g_string_truncate(m->pending, 0);
        print_crlf_as_lf(out);
        g_free(out);
        if (quit) {
            fflush(stdout);
            m->watch = 0;
            if (m->quit)
                m->quit(m->data);
            return G_SOURCE_REMOVE;
        }
        prompt();
    }
    return G_SOURCE_CONTINUE;
}

MonitorStdio *monitor_stdio_new(Vm *vm, void (*quit)(void *data), void *data)
{
    MonitorStdio *m = g_new0(MonitorStdio, 1);
    m->vm = vm;
    m->quit = quit;
    m->data = data;
    m->pending = g_string_new(NULL);
    printf("Vireo monitor - type 'help' for more information\n");
    prompt();
    m->watch = g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, m);
    return m;
}

void monitor_stdio_free(MonitorStdio *m)
{
    if (!m)
        return;
    if (m->watch)
        g_source_remove(m->watch);
    g_string_free(m->pending, TRUE);
    g_free(m);
}
