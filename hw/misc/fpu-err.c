/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "hw/misc/fpu-err.h"

typedef struct FpuErrState {
    Device dev;
    IrqLine irq;     /* IRQ 13, wired by the board */
    CpuPins *cpu;    /* wired by the board: whose FERR# this latch hears */
    bool ferr;       /* the CPU's FERR# output as last signalled */
    bool irq_level;  /* the IRQ 13 latch */
    bool ignne;      /* IGNNE# driven to the CPU */
} FpuErrState;

static void fpu_err_set_irq(FpuErrState *s, bool level)
{
    s->irq_level = level;
    irq_set(&s->irq, level);
}

static void fpu_err_set_ignne(FpuErrState *s, bool asserted)
{
    s->ignne = asserted;
    vm_set_ignne(s->dev.vm, asserted);
}

/* PIIX/PIIX3 datasheet, "Coprocessor error": FERR# sets the IRQ13 latch; the latch
 * stays set (an edge for the 8259) until software writes port F0h. */
static void fpu_err_ferr(void *opaque, bool asserted)
{
    FpuErrState *s = opaque;
    s->ferr = asserted;
    if (asserted) {
        fpu_err_set_irq(s, true);
    } else {
        /* IGNNE# follows FERR# back to inactive. */
        fpu_err_set_ignne(s, false);
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
    fpu_err_set_irq(s, false);
    /* The handler acknowledged the error: let the next x87 instruction run even if
     * it has not cleared the exception flags yet. */
    if (s->ferr)
        fpu_err_set_ignne(s, true);
}

static const PortOps fpu_err_ops = { .read = fpu_err_read, .write = fpu_err_write, .min_size = 1, .max_size = 1 };

static void fpu_err_reset(Device *dev)
{
    FpuErrState *s = (FpuErrState *)dev;
    s->ferr = false;
    fpu_err_set_irq(s, false);
    fpu_err_set_ignne(s, false);
}

static bool fpu_err_realize(Device *dev, GError **err)
{
    FpuErrState *s = (FpuErrState *)dev;
    io_add(vm_io(dev->vm), "fpu-error", 0xf0, 1, &fpu_err_ops, dev);
    if (s->cpu) {
        s->cpu->ferr = fpu_err_ferr;
        s->cpu->ferr_opaque = s;
    }
    return true;
}

static void fpu_err_unrealize(Device *dev)
{
    FpuErrState *s = (FpuErrState *)dev;
    if (s->cpu && s->cpu->ferr_opaque == s) {
        s->cpu->ferr = NULL;
        s->cpu->ferr_opaque = NULL;
    }
}

/* IGNNE# is only driven while FERR# is (it follows FERR# back to inactive). */
static bool fpu_err_check(const void *state, GError **err)
{
    const FpuErrState *s = state;
    if (s->ignne && !s->ferr) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "IGNNE# asserted without FERR#");
        return false;
    }
    return true;
}

/* The latch's level goes back out on IRQ 13 and IGNNE# back to the CPU. */
static void fpu_err_post_load(void *state)
{
    FpuErrState *s = state;
    irq_set(&s->irq, s->irq_level);
    vm_set_ignne(s->dev.vm, s->ignne);
}

static const VmStateField fpu_err_fields[] = {
    VMSTATE_BOOL(FpuErrState, ferr),
    VMSTATE_BOOL(FpuErrState, irq_level),
    VMSTATE_BOOL(FpuErrState, ignne),
    VMSTATE_END,
};

static const VmStateDesc fpu_err_vmsd = {
    .name = "fpu-error",
    .version = 1,
    .fields = fpu_err_fields,
    .check = fpu_err_check,
    .post_load = fpu_err_post_load,
};

/* QEMU models this as its "ioportF0" region, not a device; the class takes that name. */
static const DeviceClass fpu_err_class = {
    .name = "ioportF0",
    .description = "coprocessor error latch: FERR# to IRQ 13, port 0xF0 clears it and asserts IGNNE#",
    .instance_size = sizeof(FpuErrState),
    .vmsd = &fpu_err_vmsd,
    .realize = fpu_err_realize,
    .reset = fpu_err_reset,
    .unrealize = fpu_err_unrealize,
};

__attribute__((constructor)) static void fpu_err_register(void)
{
    device_class_register(&fpu_err_class);
}

void fpu_err_new(Vm *vm, const IrqLine *irq13, CpuPins *cpu)
{
    FpuErrState *s = (FpuErrState *)device_new(vm, fpu_err_class.name, "fpu-error", NULL);
    g_assert(s);
    s->cpu = cpu;
    if (irq13)
        s->irq = *irq13;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
}
