/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers the device unit tests share: port access with the engine lock taken,
 * as a CPU's IN and OUT would. */
#pragma once

#include "engine/testing.h"

static inline void outb(Vm *vm, uint16_t port, uint8_t v)
{
    vm_lock(vm);
    io_write(vm_io(vm), port, v, 1);
    vm_unlock(vm);
}

static inline uint8_t inb(Vm *vm, uint16_t port)
{
    vm_lock(vm);
    uint8_t v = (uint8_t)io_read(vm_io(vm), port, 1);
    vm_unlock(vm);
    return v;
}

/* A line whose last level the test can read (a device's IRQ output). */
typedef struct TestLine {
    int level;
    int rises; /* rising edges seen */
} TestLine;

static inline void test_line_handler(void *opaque, int n, int level)
{
    TestLine *t = opaque;
    (void)n;
    if (level && !t->level)
        t->rises++;
    t->level = level;
}

static inline IrqLine test_line(TestLine *t)
{
    IrqLine l;
    irq_init(&l, test_line_handler, t, 0);
    return l;
}
