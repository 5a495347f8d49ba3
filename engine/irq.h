/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Interrupt lines between devices. A line carries a level; the receiver decides
 * whether it is edge or level sensitive (the 8259 ELCR, the I/O APIC redirection entry). */
#pragma once

typedef void (*IrqHandler)(void *opaque, int n, int level);

typedef struct IrqLine {
    IrqHandler handler;
    void *opaque;
    int n;
} IrqLine;

/* Lines are plain values owned by their user; irq_init fills one in. */
static inline void irq_init(IrqLine *line, IrqHandler handler, void *opaque, int n)
{
    line->handler = handler;
    line->opaque = opaque;
    line->n = n;
}

/* Called with the engine lock held. An unconnected line (handler NULL) is ignored. */
static inline void irq_set(const IrqLine *line, int level)
{
    if (line && line->handler)
        line->handler(line->opaque, line->n, level);
}
static inline void irq_raise(const IrqLine *line) { irq_set(line, 1); }
static inline void irq_lower(const IrqLine *line) { irq_set(line, 0); }
static inline void irq_pulse(const IrqLine *line) { irq_set(line, 1); irq_set(line, 0); }
