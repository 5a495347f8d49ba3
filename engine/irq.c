/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/irq.h"

void irq_init(IrqLine *line, IrqHandler handler, void *opaque, int n)
{
    line->handler = handler;
    line->opaque = opaque;
    line->n = n;
}
