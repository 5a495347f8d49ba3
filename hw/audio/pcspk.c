/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x61, system control port B of the PC/AT: bit 0 drives GATE2 of the PIT, bit 1
 * enables the speaker data path, bits 2-3 are the parity and I/O channel check enables.
 * Reads add bit 4, the refresh request toggle, and bit 5, counter 2's OUT.
 * Sound output is not produced yet; the tone state is kept for the audio back end. */
#include "hw/audio/pcspk.h"

/* The AT's DRAM refresh request toggles every 15.085 us (counter 1 at 18 clocks);
 * BIOS delay loops count these toggles. */
#define REFRESH_PERIOD_NS 15085

struct PcSpeaker {
    Device dev;
    Vm *vm;
    PitState *pit; /* wired by the board: counter 2 */
    uint8_t ctrl; /* bits 0-3 as written */
};

static uint32_t pcspk_read(void *opaque, uint32_t offset, unsigned size)
{
    PcSpeaker *s = opaque;
    uint8_t v = s->ctrl & 0x0f;
    if ((vm_clock_ns(s->vm) / REFRESH_PERIOD_NS) & 1)
        v |= 0x10;
    if (i8254_get_out(s->pit, 2))
        v |= 0x20;
    return v;
}

static void pcspk_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    PcSpeaker *s = opaque;
    uint8_t old = s->ctrl;
    s->ctrl = value & 0x0f;
    if ((old ^ s->ctrl) & 0x01)
        i8254_set_gate(s->pit, 2, s->ctrl & 0x01);
    if ((old ^ s->ctrl) & 0x03)
        VLOG(LOG_TIMER, "pcspk: gate %d data %d, tone %u Hz", s->ctrl & 1, (s->ctrl >> 1) & 1,
             pcspk_get_tone(s));
}

unsigned pcspk_get_tone(PcSpeaker *s)
{
    if ((s->ctrl & 0x03) != 0x03 || i8254_get_mode(s->pit, 2) != 3)
        return 0;
    uint32_t n = i8254_get_initial_count(s->pit, 2);
    return n ? (unsigned)((PIT_FREQ + n / 2) / n) : 0;
}

static const PortOps pcspk_ops = { pcspk_read, pcspk_write, 1, 1 };

static void pcspk_reset(Device *dev)
{
    PcSpeaker *s = (PcSpeaker *)dev;
    s->ctrl = 0;
    i8254_set_gate(s->pit, 2, 0);
}

static bool pcspk_realize(Device *dev, GError **err)
{
    PcSpeaker *s = (PcSpeaker *)dev;
    s->vm = dev->vm;
    io_add(vm_io(s->vm), "pcspk", 0x61, 1, &pcspk_ops, s);
    return true;
}

/* Bits 4 and 5 are read from the refresh clock and the PIT, never stored. GATE2 is an
 * input of the PIT, whose own state carries its level; post_load has nothing to
 * re-drive. */
static const VmStateField pcspk_fields[] = {
    VMSTATE_U8_RANGE(PcSpeaker, ctrl, 0, 0x0f),
    VMSTATE_END,
};

static const VmStateDesc pcspk_vmsd = { .name = "pcspk", .version = 1, .fields = pcspk_fields };

static const DeviceClass pcspk_class = {
    .name = "isa-pcspk",
    .description = "PC speaker and system control port B (port 0x61)",
    .instance_size = sizeof(PcSpeaker),
    .vmsd = &pcspk_vmsd,
    .realize = pcspk_realize,
    .reset = pcspk_reset,
};

__attribute__((constructor)) static void pcspk_register(void)
{
    device_class_register(&pcspk_class);
}

PcSpeaker *pcspk_new(Vm *vm, PitState *pit)
{
    PcSpeaker *s = (PcSpeaker *)device_new(vm, pcspk_class.name, "pcspk", NULL);
    g_assert(s);
    s->pit = pit;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
