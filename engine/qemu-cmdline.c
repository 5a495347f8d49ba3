/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A VmConfig as QEMU options (qemu-cmdline.h). Every option here has the same meaning in
 * vireo-run, which takes QEMU's spellings. */
#include "engine/qemu-cmdline.h"
#include "disks/block.h"

#include <string.h>

static void add(GPtrArray *args, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void add(GPtrArray *args, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(args, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* Commas inside a value of a QEMU option list are doubled. */
static char *opt_escape(const char *v)
{
    GString *s = g_string_new(NULL);
    for (const char *p = v; *p; p++) {
        if (*p == ',')
            g_string_append_c(s, ',');
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

/* Quotes an argument for the shell only when it holds something the shell treats
 * specially, so ordinary command lines stay readable. */
static char *shell_word(const char *a)
{
    if (*a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "-_=.,:/+@%") == strlen(a))
        return g_strdup(a);
    return g_shell_quote(a);
}

static const char *accel_name(const char *a)
{
    return !strcmp(a, "interp") ? "tcg" : a; /* QEMU's only software CPU is its translator */
}

static void add_drive(GPtrArray *args, const VmConfig *cfg, const DriveConfig *d)
{
    GString *o = g_string_new(NULL);
    if (d->file) {
        char *f = opt_escape(d->file);
        g_string_append_printf(o, "file=%s,", f);
        g_free(f);
    }
    g_string_append_printf(o, "if=%s", d->iface == DRIVE_IF_FLOPPY  ? "floppy"
                                       : d->iface == DRIVE_IF_VIRTIO ? "virtio"
                                                                     : "ide");
    if (d->index >= 0)
        g_string_append_printf(o, ",index=%d", d->index);
    g_string_append_printf(o, ",media=%s", d->media == DRIVE_MEDIA_CDROM ? "cdrom" : "disk");
    const char *format = d->format;
    if (!format && d->file && !block_probe_format(d->file, &format, NULL))
        format = NULL;
    if (format && d->file)
        g_string_append_printf(o, ",format=%s", format);
    if (d->readonly && d->media != DRIVE_MEDIA_CDROM)
        g_string_append(o, ",readonly=on");
    if (d->snapshot && !cfg->snapshot)
        g_string_append(o, ",snapshot=on");
    if (d->cache)
        g_string_append_printf(o, ",cache=%s", d->cache);
    if (d->no_locking)
        g_string_append(o, ",file.locking=off");
    if (d->force_share)
        g_string_append(o, ",force-share=on");
    g_ptr_array_add(args, g_strdup("-drive"));
    g_ptr_array_add(args, g_string_free(o, FALSE));
}

char *qemu_command_line(const VmConfig *cfg)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    add(args, "qemu-system-i386");
    if (cfg->name)
        add(args, "-name"), add(args, "%s", cfg->name);
    add(args, "-machine"), add(args, "%s", cfg->machine ? cfg->machine : "pc");
    if (cfg->no_hpet)
        add(args, "-no-hpet");
    g_auto(GStrv) accels = g_strsplit(cfg->accel ? cfg->accel : "kvm:tcg", ":", -1);
    for (char **a = accels; *a; a++) {
        /* kernel-irqchip=off and the other suboptions mean the same in QEMU. */
        char *comma = strchr(*a, ',');
        g_autofree char *base = g_strndup(*a, comma ? (gsize)(comma - *a) : strlen(*a));
        add(args, "-accel"), add(args, "%s%s", accel_name(base), comma ? comma : "");
    }
    if (cfg->cpu_model)
        add(args, "-cpu"), add(args, "%s", cfg->cpu_model);
    add(args, "-m"), add(args, "%" PRIu64 "M", cfg->ram_size >> 20);
    if (cfg->topo.sockets)
        add(args, "-smp"), add(args, "%u,sockets=%u,cores=%u,threads=%u", cfg->smp ? cfg->smp : 1,
                               cfg->topo.sockets, cfg->topo.cores, cfg->topo.threads);
    else
        add(args, "-smp"), add(args, "%u", cfg->smp ? cfg->smp : 1);
    if (cfg->bios)
        add(args, "-bios"), add(args, "%s", cfg->bios);
    if (cfg->kernel)
        add(args, "-kernel"), add(args, "%s", cfg->kernel);
    if (cfg->initrd)
        add(args, "-initrd"), add(args, "%s", cfg->initrd);
    if (cfg->append)
        add(args, "-append"), add(args, "%s", cfg->append);
    /* Vireo's RTC starts at local time unless told; QEMU's at UTC: always say which. */
    add(args, "-rtc"), add(args, "base=%s", cfg->rtc_utc ? "utc" : "localtime");
    GString *boot = g_string_new(NULL);
    g_string_append_printf(boot, "order=%s", cfg->boot_order ? cfg->boot_order : "cad");
    if (cfg->boot_once)
        g_string_append_printf(boot, ",once=%s", cfg->boot_once);
    if (cfg->boot_menu)
        g_string_append(boot, ",menu=on");
    g_ptr_array_add(args, g_strdup("-boot"));
    g_ptr_array_add(args, g_string_free(boot, FALSE));
    add(args, "-vga"), add(args, "%s", cfg->vga ? cfg->vga : "std");
    if (cfg->nographic)
        add(args, "-nographic");
    else if (cfg->display)
        add(args, "-display"), add(args, "%s", cfg->display);
    for (unsigned i = 0; i < VM_MAX_SERIAL; i++) {
        const char *s = cfg->serial[i];
        if (!s && i == 0)
            add(args, "-serial"), add(args, "none");
        if (!s)
            continue;
        add(args, "-serial"), add(args, "%s", s);
    }
    if (cfg->debugcon)
        add(args, "-debugcon"), add(args, "%s", cfg->debugcon);
    if (cfg->debug_exit)
        add(args, "-device"), add(args, "isa-debug-exit,iobase=0x%x", cfg->debug_exit_port);
    /* Back ends (-netdev, -audiodev, ...), devices and globals are kept in QEMU's own
     * spellings. */
    for (guint i = 0; cfg->backends && i < cfg->backends->len; i++) {
        const BackendConfig *b = cfg->backends->pdata[i];
        add(args, "-%s", b->kind), add(args, "%s", b->opts);
    }
    for (guint i = 0; cfg->devices && i < cfg->devices->len; i++)
        add(args, "-device"), add(args, "%s", (const char *)cfg->devices->pdata[i]);
    for (guint i = 0; cfg->globals && i < cfg->globals->len; i++)
        add(args, "-global"), add(args, "%s", (const char *)cfg->globals->pdata[i]);
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++)
        add_drive(args, cfg, cfg->drives->pdata[i]);
    if (cfg->snapshot)
        add(args, "-snapshot");
    if (cfg->no_reboot)
        add(args, "-no-reboot");
    if (cfg->no_shutdown)
        add(args, "-no-shutdown");
    if (cfg->qmp)
        add(args, "-qmp"), add(args, "%s", cfg->qmp);
    GString *line = g_string_new(NULL);
    for (guint i = 0; i < args->len; i++) {
        char *w = shell_word(args->pdata[i]);
        g_string_append_printf(line, "%s%s", i ? " " : "", w);
        g_free(w);
    }
    g_ptr_array_unref(args);
    return g_string_free(line, FALSE);
}
