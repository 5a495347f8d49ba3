/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/fpu-err.h"

typedef struct FpuErrState {
    Vm *vm;
    const IrqLine *irq;
    bool ferr;
} FpuErrState;

/* PIIX/PIIX3 datasheet, "Coprocessor error": FERR# sets the IRQ13 latch; the latch
 * stays set (an edge for the 8259) until software writes port F0h. */
static void fpu_err_ferr(void *opaque, bool asserted)
{
    FpuErrState *s = opaque;
    s->ferr = asserted;
    if (asserted) {
        irq_raise(s->irq);
    } else {
        /* IGNNE# follows FERR# back to inactive. */
        vm_set_ignne(s->vm, false);
    }
}

static uint32_t fpu_err_read(void *opaque, uint32_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0xff;
}

static void fpu_err_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    FpuErrState *s = opaque;
    (void)off;
    (void)value;
    (void)size;
    irq_lower(s->irq);
    /* The handler acknowledged the error: let the next x87 instruction run even if
     * it has not cleared the exception flags yet. */
    if (s->ferr)
        vm_set_ignne(s->vm, true);
}

static const PortOps fpu_err_ops = { .read = fpu_err_read, .write = fpu_err_write, .min_size = 1, .max_size = 1 };

static void fpu_err_reset(void *opaque)
{
    FpuErrState *s = opaque;
    s->ferr = false;
    irq_lower(s->irq);
    vm_set_ignne(s->vm, false);
}

void fpu_err_new(Vm *vm, const IrqLine *irq13)
{
    FpuErrState *s = g_new0(FpuErrState, 1);
    s->vm = vm;
    s->irq = irq13;
    io_add(vm_io(vm), "fpu-error", 0xf0, 1, &fpu_err_ops, s);
    vm_set_ferr_handler(vm, fpu_err_ferr, s);
    vm_add_reset_handler(vm, fpu_err_reset, s);
    vm_add_cleanup(vm, g_free, s);
}
