/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ISA IDE interface of a PC without PCI (QEMU's isapc): two channels at the AT's
 * ports, 1F0h-1F7h/3F6h on IRQ 14 and 170h-177h/376h on IRQ 15, always decoded, PIO
 * only (no bus master: that is a PCI function, SFF-8038i). */
#include "hw/storage/ide-internal.h"
#include "engine/device.h"

struct IsaIdeState {
    Device dev;
    const IrqLine *isa_irq; /* wiring set by isa_ide_new before realize */
    IdeChannel ch[2];
};

static void isa_ide_reset(Device *dev)
{
    IsaIdeState *s = (IsaIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_reset(&s->ch[i]);
}

static bool isa_ide_realize(Device *dev, GError **err)
{
    IsaIdeState *s = (IsaIdeState *)dev;
    static const uint16_t cmd_base[2] = { 0x1f0, 0x170 }, ctl_base[2] = { 0x3f6, 0x376 };
    for (int i = 0; i < 2; i++) {
        ide_channel_init(&s->ch[i], dev->vm, cmd_base[i], ctl_base[i], &s->isa_irq[i ? 15 : 14]);
        ide_channel_set_decode(&s->ch[i], true);
    }
    return true;
}

static void isa_ide_unrealize(Device *dev)
{
    IsaIdeState *s = (IsaIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_fini(&s->ch[i]);
}

static void isa_ide_drain(Device *dev)
{
    IsaIdeState *s = (IsaIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_drain(&s->ch[i]);
}

static void isa_ide_pre_save(void *state)
{
    IsaIdeState *s = state;
    for (int i = 0; i < 2; i++)
        ide_channel_pre_save(&s->ch[i]);
}

static bool isa_ide_check(const void *state, GError **err)
{
    const IsaIdeState *s = state;
    for (int i = 0; i < 2; i++)
        if (!ide_channel_check(&s->ch[i], err))
            return false;
    return true;
}

/* The channels' INTRQ outputs are the ISA lines themselves: driven again after a load. */
static void isa_ide_post_load(void *state)
{
    IsaIdeState *s = state;
    for (int i = 0; i < 2; i++) {
        ide_channel_post_load(&s->ch[i]);
        irq_set(&s->isa_irq[i ? 15 : 14], ide_channel_irq_level(&s->ch[i]));
    }
}

static const VmStateField isa_ide_fields[] = {
    VMSTATE_STRUCT_ARRAY(IsaIdeState, ch, 2, IdeChannel, &ide_channel_vmsd),
    VMSTATE_END,
};

static const VmStateDesc isa_ide_vmsd = {
    .name = "isa-ide",
    .version = 1,
    .fields = isa_ide_fields,
    .pre_save = isa_ide_pre_save,
    .check = isa_ide_check,
    .post_load = isa_ide_post_load,
};

static void isa_ide_for_each_image(Device *dev, DeviceImageFn fn, void *opaque)
{
    ide_pair_for_each_image(((IsaIdeState *)dev)->ch, fn, opaque);
}

static DeviceMediaResult isa_ide_change_media(Device *dev, const char *drive, const char *filename,
                                              const char *format, bool read_only, GError **err)
{
    (void)read_only; /* a CD is read-only anyway */
    return ide_pair_change_media(((IsaIdeState *)dev)->ch, drive, filename, format, err);
}

static bool isa_ide_swap_image(Device *dev, const char *drive, BlockImage *img, BlockImage **old)
{
    return ide_pair_swap_image(((IsaIdeState *)dev)->ch, drive, img, old);
}

static const DeviceClass isa_ide_class = {
    .name = "isa-ide",
    .description = "ISA IDE interface (primary and secondary channels, PIO)",
    .instance_size = sizeof(IsaIdeState),
    .vmsd = &isa_ide_vmsd,
    .realize = isa_ide_realize,
    .reset = isa_ide_reset,
    .unrealize = isa_ide_unrealize,
    .drain = isa_ide_drain,
    .for_each_image = isa_ide_for_each_image,
    .change_media = isa_ide_change_media,
    .swap_image = isa_ide_swap_image,
};

__attribute__((constructor)) static void isa_ide_register(void)
{
    device_class_register(&isa_ide_class);
}

IsaIdeState *isa_ide_new(Vm *vm, const IrqLine *isa_irq, const VmConfig *cfg, GError **err)
{
    IsaIdeState *s = (IsaIdeState *)device_new(vm, isa_ide_class.name, "ide", NULL);
    g_assert(s);
    s->isa_irq = isa_irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    if (!ide_pair_attach_drives(s->ch, cfg, err))
        return NULL;
    return s;
}

IdeChannel *isa_ide_channel(IsaIdeState *s, int n)
{
    return &s->ch[n & 1];
}
