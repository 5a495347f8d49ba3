/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The YMF262 (OPL3) on the virtual clock, and the AdLib card that carries it
 * (-device adlib,audiodev=ID[,iobase=0x388]).
 *
 * Ports (YMF262 data sheet, "CPU interface"): offset 0 writes the address of bank 0 and
 * reads the status; offset 1 writes data; offset 2 writes the address of bank 1 (in
 * OPL2 mode, NEW = 0, only register 0x105 is reachable there: the other addresses
 * select bank 0); offset 3 writes data. The chip's write delays (a few microseconds
 * on the real part) are not enforced.
 *
 * Output: the synthesizer runs up to the present before every register write and
 * whenever the mixer asks, so a note starts at the virtual time of its key-on. While
 * every envelope is off the voice is stopped and no samples are computed; a write that
 * starts a sound starts it again ("-d audio" logs both).
 *
 * Timers (data sheet, "Timer"): timer 1 counts every 4 chip samples (80.5 us), timer 2
 * every 16 (322 us), from the preset in 0x02 / 0x03 up to 256, then reload; an
 * overflow sets its flag unless masked. Register 0x04 bit 7 clears the flags; masking
 * a timer clears its flag. They are evaluated from the sample clock when the status
 * is read, so nothing runs while no one looks.
 *
 * The timers run on bus time: drivers wait for them by reading the status port a
 * number of times (the AdLib guide counts on ISA cycles of about a microsecond: 80 us
 * for detection), which an emulated CPU does far faster. Each access to the chip
 * therefore takes at least ISA_ACCESS_NS of the chip's time, which otherwise follows
 * the virtual clock and leads it by at most BUS_LEAD_MAX_NS. Only the status register
 * sees this time; the sound follows the virtual clock. */
#include "hw/audio/opl3.h"

#include "engine/log.h"
#include "engine/machine.h"
#include "engine/timer.h"
#include "hw/isa/isa-bus.h"

#include <inttypes.h>
#include <string.h>

#define STATUS_IRQ 0x80
#define STATUS_FT1 0x40
#define STATUS_FT2 0x20
#define CTL_RESET 0x80
#define CTL_MASK1 0x40
#define CTL_MASK2 0x20
#define CTL_ST2 0x02
#define CTL_ST1 0x01

#define ISA_ACCESS_NS 1000
#define BUS_LEAD_MAX_NS 1000000

/* The voice stops after this much silence. */
#define QUIET_STOP (OPL3_RATE / 5)

static int64_t opl3_now(Opl3 *c)
{
    return ns_to_ticks(vm_clock_ns(c->vm), OPL3_RATE);
}

/* ---- Output ---- */

static void opl3_render(Opl3 *c)
{
    int64_t end = opl3_now(c);
    if (end <= c->done) {
        if (end < c->done)
            c->done = end; /* a state load from the future */
        return;
    }
    if (!c->playing) {
        opl3_synth_skip(&c->synth, (uint64_t)(end - c->done));
        c->done = end;
        return;
    }
    if (end - c->done > OPL3_RATE / 2) {
        /* A long stall or a state load: the voice holds half a second at most. */
        opl3_synth_skip(&c->synth, (uint64_t)(end - c->done - OPL3_RATE / 2));
        c->done = end - OPL3_RATE / 2;
    }
    int16_t buf[2 * 512];
    while (c->done < end) {
        size_t n = (size_t)MIN(end - c->done, (int64_t)512);
        opl3_synth_generate(&c->synth, buf, n);
        audio_voice_write(c->voice, buf, n);
        c->done += (int64_t)n;
        if (opl3_synth_idle(&c->synth))
            c->quiet += (int64_t)n;
        else
            c->quiet = 0;
    }
    if (c->quiet >= QUIET_STOP) {
        c->playing = false;
        audio_voice_set_active(c->voice, false);
        VLOG(LOG_AUDIO, "%s: FM output silent, voice stopped", c->name);
    }
}

/* After a register write: a silent chip that now sounds starts its voice. */
static void opl3_wake(Opl3 *c)
{
    if (c->playing || opl3_synth_idle(&c->synth))
        return;
    c->playing = true;
    c->quiet = 0;
    c->done = opl3_now(c);
    audio_voice_set_active(c->voice, true);
    VLOG(LOG_AUDIO, "%s: FM voice started, %u Hz stereo (OPL%s mode)", c->name, OPL3_RATE,
         (c->synth.regs[0x105] & 1) ? "3" : "2");
}

static void opl3_sync(void *opaque)
{
    opl3_render(opaque);
}

/* ---- Timers ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t timer_period(const Opl3 *c, int t)
{
    return t == 0 ? (256 - c->timer1) * 4 : (256 - c->timer2) * 16;
}

/* Whether timer t overflowed in (t_seen, now]: overflows fall at base + k * period. */
static bool timer_overflowed(const Opl3 *c, int t, int64_t now)
{
    int64_t base = t == 0 ? c->t1_base : c->t2_base;
    int64_t p = timer_period(c, t);
    int64_t k_now = floor_div(now - base, p), k_seen = floor_div(c->t_seen - base, p);
    return k_now >= 1 && k_now > MAX(k_seen, 0);
}

/* One access to the chip's ports: the bus time it ends at. */
static void bus_access(Opl3 *c)
{
    int64_t now = vm_clock_ns(c->vm);
    c->bus_ns = MIN(MAX(now, c->bus_ns + ISA_ACCESS_NS), now + BUS_LEAD_MAX_NS);
}

/* Counts the overflows up to the bus time into the flags. */
static void timers_update(Opl3 *c)
{
    int64_t now = ns_to_ticks(c->bus_ns, OPL3_RATE);
    if (now <= c->t_seen)
        return;
    if ((c->timer_ctl & CTL_ST1) && !(c->timer_ctl & CTL_MASK1) && timer_overflowed(c, 0, now))
        c->status |= STATUS_FT1;
    if ((c->timer_ctl & CTL_ST2) && !(c->timer_ctl & CTL_MASK2) && timer_overflowed(c, 1, now))
        c->status |= STATUS_FT2;
    c->t_seen = now;
}

/* A new preset while the counter runs applies from the next reload: the running count
 * ends when it would have. */
static void timer_preset(Opl3 *c, int t, uint8_t v)
{
    bool running = c->timer_ctl & (t == 0 ? CTL_ST1 : CTL_ST2);
    int64_t *base = t == 0 ? &c->t1_base : &c->t2_base;
    int64_t next = 0;
    if (running) {
        int64_t p = timer_period(c, t);
        next = *base + (floor_div(c->t_seen - *base, p) + 1) * p;
    }
    if (t == 0)
        c->timer1 = v;
    else
        c->timer2 = v;
    if (running)
        *base = next - timer_period(c, t);
}

static void timer_control(Opl3 *c, uint8_t v)
{
    if (v & CTL_RESET) {
        c->status = 0;
        return;
    }
    uint8_t started = (uint8_t)(v & ~c->timer_ctl);
    c->timer_ctl = v & (CTL_MASK1 | CTL_MASK2 | CTL_ST1 | CTL_ST2);
    if (v & CTL_MASK1)
        c->status &= (uint8_t)~STATUS_FT1;
    if (v & CTL_MASK2)
        c->status &= (uint8_t)~STATUS_FT2;
    if (started & CTL_ST1)
        c->t1_base = c->t_seen;
    if (started & CTL_ST2)
        c->t2_base = c->t_seen;
}

static uint8_t opl3_status(Opl3 *c)
{
    timers_update(c);
    uint8_t st = c->status & (STATUS_FT1 | STATUS_FT2);
    return st ? (uint8_t)(st | STATUS_IRQ) : 0;
}

/* ---- Ports ---- */

static void opl3_write_reg(Opl3 *c, unsigned reg, uint8_t v)
{
    timers_update(c);
    switch (reg) {
    case 0x02:
        timer_preset(c, 0, v);
        return;
    case 0x03:
        timer_preset(c, 1, v);
        return;
    case 0x04:
        timer_control(c, v);
        return;
    default:
        break;
    }
    opl3_render(c);
    opl3_synth_write(&c->synth, reg, v);
    opl3_wake(c);
}

static uint32_t opl3_port_read(void *opaque, uint32_t offset, unsigned size)
{
    Opl3 *c = opaque;
    bus_access(c);
    /* The status answers at both address ports; the data ports read as an open bus. */
    return (offset & 1) ? 0xff : opl3_status(c);
}

static void opl3_port_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    Opl3 *c = opaque;
    uint8_t v = (uint8_t)value;
    bus_access(c);
    switch (offset & 3) {
    case 0:
        c->index = v;
        break;
    case 2:
        c->index = ((c->synth.regs[0x105] & 1) || v == 0x05) ? (uint16_t)(0x100 | v) : v;
        break;
    default:
        opl3_write_reg(c, c->index, v);
        break;
    }
}

const PortOps opl3_port_ops = { opl3_port_read, opl3_port_write, 1, 1 };

/* ---- The chip's life ---- */

void opl3_init(Opl3 *c, Vm *vm, AudioDev *audiodev, const char *name)
{
    c->vm = vm;
    c->name = g_strdup(name);
    c->voice = audio_voice_new(audiodev, name, opl3_sync, c);
    audio_voice_set_format(c->voice, AUDIO_FMT_S16, 2, OPL3_RATE);
}

void opl3_destroy(Opl3 *c)
{
    audio_voice_free(c->voice);
    c->voice = NULL;
    g_free(c->name);
    c->name = NULL;
}

void opl3_reset(Opl3 *c)
{
    opl3_synth_reset(&c->synth);
    c->index = 0;
    c->timer1 = c->timer2 = 0;
    c->timer_ctl = 0;
    c->status = 0;
    c->bus_ns = vm_clock_ns(c->vm);
    c->t_seen = opl3_now(c);
    c->t1_base = c->t2_base = c->t_seen;
    c->done = c->t_seen;
    c->quiet = 0;
    if (c->playing)
        audio_voice_set_active(c->voice, false);
    c->playing = false;
}

void opl3_set_volume(Opl3 *c, uint32_t left, uint32_t right)
{
    audio_voice_set_volume(c->voice, left, right);
}

bool opl3_check(const Opl3 *c, GError **err)
{
    if (!opl3_synth_valid(&c->synth)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "OPL3 operator state inconsistent with its keys");
        return false;
    }
    if (c->t_seen > ns_to_ticks(c->bus_ns, OPL3_RATE)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "OPL3 timers counted beyond the bus time");
        return false;
    }
    if (c->t1_base > c->t_seen + 256 * 4 || c->t2_base > c->t_seen + 256 * 16) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "OPL3 timer reload beyond its period");
        return false;
    }
    return true;
}

void opl3_post_load(Opl3 *c)
{
    /* The samples before the load were played by the saved VM: produce from now on. */
    c->done = opl3_now(c);
    c->quiet = 0;
    bool sound = !opl3_synth_idle(&c->synth);
    if (sound != c->playing)
        audio_voice_set_active(c->voice, sound);
    c->playing = sound;
}

static const VmStateField opl3_fields[] = {
    VMSTATE_STRUCT(Opl3, synth, Opl3Synth, &opl3_synth_vmsd),
    VMSTATE_U16_RANGE(Opl3, index, 0, 0x1ff),
    VMSTATE_U8(Opl3, timer1),
    VMSTATE_U8(Opl3, timer2),
    VMSTATE_U8_RANGE(Opl3, timer_ctl, 0, CTL_MASK1 | CTL_MASK2 | CTL_ST1 | CTL_ST2),
    VMSTATE_U8_RANGE(Opl3, status, 0, STATUS_FT1 | STATUS_FT2),
    /* Chip samples: never negative (virtual time starts at 0), far from overflow. */
    VMSTATE_I64_RANGE(Opl3, t1_base, -(INT64_C(1) << 20), INT64_C(1) << 56),
    VMSTATE_I64_RANGE(Opl3, t2_base, -(INT64_C(1) << 20), INT64_C(1) << 56),
    VMSTATE_I64_RANGE(Opl3, t_seen, 0, INT64_C(1) << 56),
    VMSTATE_I64_RANGE(Opl3, bus_ns, 0, INT64_C(1) << 62),
    VMSTATE_END,
};

const VmStateDesc opl3_vmsd = {
    .name = "opl3",
    .version = 1,
    .fields = opl3_fields,
};

/* ---- The AdLib card: the chip alone at 0x388 ---- */

typedef struct AdLib {
    Device dev;
    uint32_t iobase;
    AudioDev *audiodev;
    Opl3 chip;
} AdLib;

static bool adlib_realize(Device *dev, GError **err)
{
    AdLib *s = (AdLib *)dev;
    if (!s->audiodev) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs audiodev=ID (add -audiodev none,id=ID for silence)");
        return false;
    }
    if (s->iobase & 3) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "iobase=0x%x is not a multiple of 4", s->iobase);
        return false;
    }
    if (!isa_bus_find(dev->vm, err) || !isa_bus_check_ports(dev->vm, s->iobase, 4, err))
        return false;
    opl3_init(&s->chip, dev->vm, s->audiodev, dev->id);
    io_add(vm_io(dev->vm), dev->id, (uint16_t)s->iobase, 4, &opl3_port_ops, &s->chip);
    return true;
}

static void adlib_reset(Device *dev)
{
    opl3_reset(&((AdLib *)dev)->chip);
}

static void adlib_unrealize(Device *dev)
{
    opl3_destroy(&((AdLib *)dev)->chip);
}

static bool adlib_check(const void *state, GError **err)
{
    return opl3_check(&((const AdLib *)state)->chip, err);
}

static void adlib_post_load(void *state)
{
    opl3_post_load(&((AdLib *)state)->chip);
}

static const VmStateField adlib_fields[] = {
    VMSTATE_STRUCT(AdLib, chip, Opl3, &opl3_vmsd),
    VMSTATE_END,
};

static const VmStateDesc adlib_vmsd = {
    .name = "adlib",
    .version = 1,
    .fields = adlib_fields,
    .check = adlib_check,
    .post_load = adlib_post_load,
};

static const DeviceProp adlib_props[] = {
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(AdLib, audiodev), "the audiodev that plays the chip", NULL, 0, 0,
      "audiodev" },
    { "iobase", DEVICE_PROP_U32, offsetof(AdLib, iobase), "I/O port base (4 ports)", "0x388", 0x100, 0xfffc },
    { NULL },
};

static const DeviceClass adlib_class = {
    .name = "adlib",
    .description = "AdLib-compatible FM synthesizer: a Yamaha YMF262 (OPL3) at 0x388",
    .instance_size = sizeof(AdLib),
    .user_creatable = true,
    .props = adlib_props,
    .vmsd = &adlib_vmsd,
    .realize = adlib_realize,
    .reset = adlib_reset,
    .unrealize = adlib_unrealize,
};

__attribute__((constructor)) static void adlib_register(void)
{
    device_class_register(&adlib_class);
}
