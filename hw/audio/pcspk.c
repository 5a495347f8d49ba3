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
    Vm *vm;
    PitState *pit;
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

static void pcspk_reset(void *opaque)
{
    PcSpeaker *s = opaque;
    s->ctrl = 0;
    i8254_set_gate(s->pit, 2, 0);
}

PcSpeaker *pcspk_new(Vm *vm, PitState *pit)
{
    PcSpeaker *s = g_new0(PcSpeaker, 1);
    s->vm = vm;
    s->pit = pit;
    pcspk_reset(s);
    io_add(vm_io(vm), "pcspk", 0x61, 1, &pcspk_ops, s);
    vm_add_reset_handler(vm, pcspk_reset, s);
    vm_add_cleanup(vm, g_free, s);
    return s;
}
