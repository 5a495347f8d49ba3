/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Port 0x61, system control port B of the PC/AT: bit 0 drives GATE2 of the PIT, bit 1
 * enables the speaker data path, bits 2-3 are the parity and I/O channel check enables.
 * Reads add bit 4, the refresh request toggle, and bit 5, counter 2's OUT.
 * The speaker is driven by OUT2 AND bit 1 (IBM PC/AT Technical Reference, system
 * board: the speaker data gate); with an audiodev (-machine pcspk-audiodev=ID) that
 * level is rendered on the virtual clock, up to every port access that could change
 * it, through the speaker's coupling capacitor (a DC-blocking high-pass). */
#include "hw/audio/pcspk.h"
#include "engine/audio/audio.h"

/* The AT's DRAM refresh request toggles every 15.085 us (counter 1 at 18 clocks);
 * BIOS delay loops count these toggles. */
#define REFRESH_PERIOD_NS 15085

#define SPK_RATE 44100
/* The swing of the speaker drive: 20000 peak to peak, +-10000 (-10 dBFS) after the
 * DC blocker. */
#define SPK_LEVEL 20000.0f
/* One-pole DC blocker, corner about 7 Hz at 44.1 kHz: a 100 Hz square wave sags 3%. */
#define SPK_HPF_R 0.999f

struct PcSpeaker {
    Device dev;
    Vm *vm;
    PitState *pit; /* wired by the board: counter 2 */
    AudioDev *audiodev; /* property */
    AudioVoice *voice;
    uint8_t ctrl; /* bits 0-3 as written */
    /* Renderer (host side, not saved): samples before `rendered` are queued. */
    int64_t rendered;
    float hp_x, hp_y;
};

/* Queues the speaker's output from the last render up to now, with the port and the
 * counter programmed as they are (the callers render before they change either). */
static void pcspk_render(PcSpeaker *s)
{
    if (!s->voice)
        return;
    int64_t end = ns_to_ticks(vm_clock_ns(s->vm), SPK_RATE);
    if (end < s->rendered || end - s->rendered > SPK_RATE / 2)
        s->rendered = end - MIN(end, SPK_RATE / 50); /* a state load or a long stall */
    int16_t buf[512];
    bool data = (s->ctrl & 0x02) != 0;
    while (s->rendered < end) {
        size_t n = (size_t)MIN(end - s->rendered, (int64_t)G_N_ELEMENTS(buf));
        for (size_t i = 0; i < n; i++) {
            float x = 0;
            if (data && i8254_get_out_at(s->pit, 2, ticks_to_ns(s->rendered + (int64_t)i, SPK_RATE)))
                x = SPK_LEVEL;
            s->hp_y = x - s->hp_x + SPK_HPF_R * s->hp_y;
            s->hp_x = x;
            buf[i] = (int16_t)CLAMP(s->hp_y, -32768.0f, 32767.0f);
        }
        audio_voice_write(s->voice, buf, n);
        s->rendered += (int64_t)n;
    }
}

static void pcspk_sync(void *opaque)
{
    pcspk_render(opaque);
}

static uint32_t pcspk_read(void *opaque, uint32_t offset, unsigned size)
{
    PcSpeaker *s = opaque;
    pcspk_render(s);
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
    pcspk_render(s);
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
    pcspk_render(s);
    s->ctrl = 0;
    i8254_set_gate(s->pit, 2, 0);
}

static bool pcspk_realize(Device *dev, GError **err)
{
    PcSpeaker *s = (PcSpeaker *)dev;
    s->vm = dev->vm;
    io_add(vm_io(s->vm), "pcspk", 0x61, 1, &pcspk_ops, s);
    if (s->audiodev) {
        s->voice = audio_voice_new(s->audiodev, "pcspk", pcspk_sync, s);
        audio_voice_set_format(s->voice, AUDIO_FMT_S16, 1, SPK_RATE);
        audio_voice_set_active(s->voice, true);
        s->rendered = ns_to_ticks(vm_clock_ns(s->vm), SPK_RATE);
        i8254_set_access_hook(s->pit, 2, pcspk_sync, s);
    }
    return true;
}

static void pcspk_unrealize(Device *dev)
{
    PcSpeaker *s = (PcSpeaker *)dev;
    audio_voice_free(s->voice);
    s->voice = NULL;
}

static const DeviceProp pcspk_props[] = {
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(PcSpeaker, audiodev),
      "the audiodev that plays the speaker (-machine pcspk-audiodev=ID)", NULL, 0, 0, "audiodev" },
    { NULL },
};

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
    .props = pcspk_props,
    .vmsd = &pcspk_vmsd,
    .realize = pcspk_realize,
    .unrealize = pcspk_unrealize,
    .reset = pcspk_reset,
};

__attribute__((constructor)) static void pcspk_register(void)
{
    device_class_register(&pcspk_class);
}

PcSpeaker *pcspk_new(Vm *vm, PitState *pit, GError **err)
{
    /* -global isa-pcspk.audiodev=ID (from -machine pcspk-audiodev) may name a back end
     * that does not exist. */
    PcSpeaker *s = (PcSpeaker *)device_new(vm, pcspk_class.name, "pcspk", err);
    if (!s)
        return NULL;
    s->pit = pit;
    if (!device_realize(DEVICE(s), err))
        return NULL;
    return s;
}
