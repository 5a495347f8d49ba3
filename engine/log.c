/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/log.h"
#include "engine/config.h"
#include "vireo-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

unsigned vlog_mask;
static FILE *log_file;
static GMutex log_lock;

static const struct {
    const char *name;
    LogArea area;
    const char *help;
} areas[] = {
    { "ioport", LOG_IOPORT, "unassigned I/O port accesses" },
    { "irq", LOG_IRQ, "interrupt lines and acknowledgements" },
    { "pci", LOG_PCI, "PCI configuration space and BAR mapping" },
    { "mmio", LOG_MMIO, "unassigned memory accesses" },
    { "cpu", LOG_CPU, "CPU back end events, resets" },
    { "int", LOG_INT, "exceptions and interrupts taken by the CPU" },
    { "guest_errors", LOG_GUEST, "invalid guest behaviour (bad DMA, bad register values)" },
    { "unimp", LOG_UNIMP, "features the guest used that Vireo lacks" },
    { "fw_cfg", LOG_FWCFG, "firmware configuration interface" },
    { "timer", LOG_TIMER, "timer devices" },
    { "disk", LOG_DISK, "disk controllers and images" },
    { "display", LOG_DISPLAY, "display adapters" },
    { "input", LOG_INPUT, "keyboard and mouse" },
    { "exec", LOG_EXEC, "every executed instruction or block (very slow)" },
    { "net", LOG_NET, "network back ends and cards: frames, link, drops" },
    { "audio", LOG_AUDIO, "sound cards: streams started and stopped, rates, buffers" },
    { "jit-stats", LOG_JIT_STATS, "the CPU dispatcher's and translator's counters, printed when the VM ends" },
    { "in_asm", LOG_IN_ASM, "guest code of each block the translator compiles (-accel tcg), disassembled" },
    { "out_asm", LOG_OUT_ASM, "host code of each block the translator compiles (-accel tcg), disassembled" },
};

void vlog_print_areas(FILE *out)
{
    fprintf(out, "Log areas for -d (comma separated):\n");
    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++)
        fprintf(out, "  %-13s %s\n", areas[i].name, areas[i].help);
}

static void vlog_install_writer(void);

bool vlog_set_areas(const char *spec, GError **err)
{
    unsigned mask = 0;
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    for (char **p = parts; *p; p++) {
        if (!**p)
            continue;
        size_t i;
        for (i = 0; i < G_N_ELEMENTS(areas); i++)
            if (!strcmp(*p, areas[i].name))
                break;
        if (i == G_N_ELEMENTS(areas)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-d: unknown log area '%s' (try -d help)", *p);
            return false;
        }
#ifndef HAVE_CAPSTONE
        /* Both need the disassembler, an optional build dependency. */
        if (areas[i].area & (LOG_IN_ASM | LOG_OUT_ASM)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "-d %s is unavailable: this build has no disassembler (rebuild with libcapstone-dev)", *p);
            return false;
        }
#endif
        mask |= areas[i].area;
    }
    vlog_mask = mask;
    vlog_install_writer();
    return true;
}

/* -d output goes through GLib's structured logging under the "vireo" domain; this writer
 * sends it to the -D file or stderr, and leaves every other message to GLib's default. */
static GLogWriterOutput vlog_writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    const char *domain = NULL, *area = NULL, *message = NULL;
    for (gsize i = 0; i < n; i++) {
        if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
            domain = fields[i].value;
        else if (!strcmp(fields[i].key, "VIREO_AREA"))
            area = fields[i].value;
        else if (!strcmp(fields[i].key, "MESSAGE"))
            message = fields[i].value;
    }
    if (!area || !domain || strcmp(domain, "vireo"))
        return g_log_writer_default(level, fields, n, data);
    g_mutex_lock(&log_lock);
    FILE *f = log_file ? log_file : stderr;
    fprintf(f, "[%s] %s\n", area, message ? message : "");
    g_mutex_unlock(&log_lock);
    return G_LOG_WRITER_HANDLED;
}

static void vlog_install_writer(void)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        g_log_set_writer_func(vlog_writer, NULL, NULL);
        g_once_init_leave(&once, 1);
    }
}

bool vlog_set_file(const char *path, GError **err)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "-D %s: %s", path, g_strerror(errno));
        return false;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    log_file = f;
    vlog_install_writer();
    return true;
}

void vlog_write(LogArea area, const char *fmt, ...)
{
    const char *name = "";
    for (size_t i = 0; i < G_N_ELEMENTS(areas); i++)
        if (areas[i].area == area)
            name = areas[i].name;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_log_structured("vireo", G_LOG_LEVEL_INFO, "VIREO_AREA", name, "MESSAGE", "%s", msg);
}
