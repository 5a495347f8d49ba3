/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Debug logging by area, QEMU style (-d ioport,irq,... -D FILE). Silent by default. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum {
    LOG_IOPORT   = 1u << 0,  /* unassigned or traced port accesses */
    LOG_IRQ      = 1u << 1,  /* IRQ line changes and acknowledgements */
    LOG_PCI      = 1u << 2,  /* PCI config space and BAR mapping */
    LOG_MMIO     = 1u << 3,  /* unassigned memory accesses */
    LOG_CPU      = 1u << 4,  /* CPU back end events */
    LOG_INT      = 1u << 5,  /* exceptions and interrupts taken by the CPU */
    LOG_GUEST    = 1u << 6,  /* guest errors: bad DMA, bad register values */
    LOG_UNIMP    = 1u << 7,  /* features the guest used that Vireo lacks */
    LOG_FWCFG    = 1u << 8,
    LOG_TIMER    = 1u << 9,
    LOG_DISK     = 1u << 10,
    LOG_DISPLAY  = 1u << 11,
    LOG_INPUT    = 1u << 12,
    LOG_EXEC     = 1u << 13, /* every executed block or instruction (very slow) */
    LOG_NET      = 1u << 14, /* network back ends and cards: frames, drops */
    LOG_AUDIO    = 1u << 15, /* sound cards: streams started and stopped, rates, buffers */
    LOG_JIT_STATS = 1u << 16, /* the CPU's dispatcher and translator counters, at exit */
    LOG_IN_ASM   = 1u << 17, /* the guest code of each block the translator compiles */
    LOG_OUT_ASM  = 1u << 18, /* the host code it compiled the block to */
} LogArea;

extern unsigned vlog_mask;

/* Parses "ioport,irq" or "help"; on error sets err and returns false. */
bool vlog_set_areas(const char *spec, GError **err);
/* Sends the log to a file instead of stderr. */
bool vlog_set_file(const char *path, GError **err);
/* One line per area for -d help. */
void vlog_print_areas(FILE *out);
void vlog_write(LogArea area, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define VLOG(area, ...) \
    do { if (G_UNLIKELY(vlog_mask & (area))) vlog_write((area), __VA_ARGS__); } while (0)
