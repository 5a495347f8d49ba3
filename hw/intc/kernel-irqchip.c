/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state of the interrupt controllers and the timer a CPU back end keeps in the host
 * kernel (KVM's irqchip: two 8259s, the I/O APIC, the PIT, a local APIC per vCPU). The
 * board has no models of them then; this device stands for them in the device list so
 * that savevm/loadvm carry their state, which only the back end can read and write: it
 * is one blob the back end formats and checks (vm_kernel_irqchip_save/_check/_load). */
#include "hw/intc/kernel-irqchip.h"
#include "engine/device.h"

/* Far above the 8259s, I/O APIC, PIT and 16 local APICs (about 18 KiB under KVM). */
#define KERNEL_IRQCHIP_STATE_MAX (256 * 1024)

typedef struct KernelIrqchip {
    Device dev;
    GBytes *state; /* filled before a save; what a load brings, checked by the back end */
} KernelIrqchip;

static void kernel_irqchip_pre_save(void *opaque)
{
    KernelIrqchip *s = opaque;
    g_clear_pointer(&s->state, g_bytes_unref);
    s->state = vm_kernel_irqchip_save(s->dev.vm);
}

static bool kernel_irqchip_check(const void *opaque, GError **err)
{
    const KernelIrqchip *s = opaque;
    if (!s->state) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "no state of the kernel's interrupt controllers");
        return false;
    }
    return vm_kernel_irqchip_check(s->dev.vm, s->state, err);
}

static void kernel_irqchip_post_load(void *opaque)
{
    KernelIrqchip *s = opaque;
    vm_kernel_irqchip_load(s->dev.vm, s->state);
}

/* System reset: as after power-on (the back end kept that state when it made them). */
static void kernel_irqchip_reset(Device *dev)
{
    vm_kernel_irqchip_reset(dev->vm);
}

static void kernel_irqchip_unrealize(Device *dev)
{
    KernelIrqchip *s = (KernelIrqchip *)dev;
    g_clear_pointer(&s->state, g_bytes_unref);
}

static const VmStateField kernel_irqchip_fields[] = {
    VMSTATE_BYTES(KernelIrqchip, state, KERNEL_IRQCHIP_STATE_MAX),
    VMSTATE_END,
};

static const VmStateDesc kernel_irqchip_vmsd = {
    .name = "kernel-irqchip",
    .version = 1,
    .fields = kernel_irqchip_fields,
    .pre_save = kernel_irqchip_pre_save,
    .check = kernel_irqchip_check,
    .post_load = kernel_irqchip_post_load,
};

static const DeviceClass kernel_irqchip_class = {
    .name = "kernel-irqchip",
    .description = "the CPU back end's in-kernel interrupt controllers and PIT (KVM)",
    .instance_size = sizeof(KernelIrqchip),
    .vmsd = &kernel_irqchip_vmsd,
    .reset = kernel_irqchip_reset,
    .unrealize = kernel_irqchip_unrealize,
};

__attribute__((constructor)) static void kernel_irqchip_register(void)
{
    device_class_register(&kernel_irqchip_class);
}

void kernel_irqchip_new(Vm *vm)
{
    Device *dev = device_new(vm, kernel_irqchip_class.name, "kernel-irqchip", NULL);
    g_assert(dev);
    if (!device_realize(dev, NULL))
        g_assert_not_reached();
}
