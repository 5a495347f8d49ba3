/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Creative Sound Blaster 16 (-device sb16,audiodev=ID): the DSP 4.05 and the CT1745
 * mixer at iobase 0x220, IRQ 5, DMA 1 (8-bit) and 5 (16-bit), QEMU's property names.
 * After Creative's "Sound Blaster Series Hardware Programming Guide" (DSP commands,
 * section 6; mixer registers, section 4).
 *
 * Playback is paced by the virtual clock: a transfer started at time t0 at rate r has
 * moved floor((now - t0) * r) frames by now. The samples are pulled from the 8237 when
 * the mixer asks (the voice's sync) and at the end of each block, where a timer raises
 * the 8-bit or 16-bit interrupt at the exact virtual time. While the 8237 channel does
 * not serve the request (masked, or at terminal count in single mode) the DSP waits
 * with DREQ held and its DAC runs dry, as the card's FIFO would.
 *
 * Direct mode (0x10) holds each sample until the next one, rendered on the virtual clock
 * up to every write; without a write for 100 ms the DAC output ends.
 *
 * The FM synthesizer is a YMF262 (OPL3, hw/audio/opl3.c): one chip answering at
 * base+0-3 (both register banks), base+8-9 (bank 0, the AdLib-compatible pair) and,
 * as the card decodes it, at 0x388-0x38B unless an adlib device is configured there.
 * Its output is a second voice, scaled by the mixer's FM (0x34/0x35) and master levels.
 *
 * Recording (the A/D commands 0x24, 0x2C, 0x98/0x99 and 0xB8-0xCF) runs the same
 * timeline the other way: the audiodev's capture is the card's line input, passed by
 * the CT1745's input switches (0x3D/0x3E), line level (0x38/0x39) and input gain
 * (0x3F/0x40) and written to guest memory through the 8237. The microphone and CD
 * inputs have nothing plugged in.
 *
 * Not here yet: ADPCM, MIDI, the direct-mode ADC (0x20). */
#include "engine/audio/audio.h"
#include "engine/config.h"
#include "engine/machine.h"
#include "hw/audio/opl3.h"
#include "hw/isa/isa-bus.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#define DSP_OUT_SIZE 64
#define SB_RATE_MIN 4000
#define SB_RATE_MAX 45000
/* A transfer started this soon after the last one ended continues its timeline: the
 * card's FIFO still plays the last block while the interrupt handler starts the next,
 * so single-cycle playback has no gap. Generous, as the virtual clock's timers may
 * fire late on a busy host. */
#define SB_FIFO_NS (20 * 1000 * 1000)
/* Direct-mode samples are rendered at this rate, and end after this long without one. */
#define SB_DIRECT_RATE 22050
#define SB_DIRECT_IDLE_NS (100 * 1000 * 1000)

/* Mixer registers (CT1745). */
#define MIX_RESET 0x00
#define MIX_VOICE_PRO 0x04
#define MIX_MIC_PRO 0x0a
#define MIX_OUTPUT_PRO 0x0e
#define MIX_MASTER_PRO 0x22
#define MIX_MIDI_PRO 0x26
#define MIX_CD_PRO 0x28
#define MIX_LINE_PRO 0x2e
#define MIX_MASTER_L 0x30
#define MIX_VOICE_L 0x32
#define MIX_FM_L 0x34
#define MIX_LINE_L 0x38
#define MIX_IN_SW_L 0x3d
#define MIX_IN_SW_R 0x3e
#define MIX_IN_GAIN_L 0x3f
#define MIX_IN_SW_LINE_L 0x10 /* the left input mixer takes line left (CT1745, 0x3D) */
#define MIX_IN_SW_LINE_R 0x08 /* the right one takes line right (0x3E) */
#define MIX_IRQ_SELECT 0x80
#define MIX_DMA_SELECT 0x81
#define MIX_IRQ_STATUS 0x82

#define IRQ_8BIT 0x01
#define IRQ_16BIT 0x02

typedef struct Sb16 {
    Device dev;
    /* Properties. */
    uint32_t iobase, irq, dma, hdma, version;
    AudioDev *audiodev;
    /* Wiring. */
    Vm *vm;
    IsaBus *isa;
    IsaDma *isadma;
    AudioVoice *voice;
    AudioIn *in;            /* the line input: the audiodev's capture */
    VTimer *block_timer;

    /* DSP command parser. */
    int32_t cmd;            /* command awaiting parameters, -1 none */
    uint32_t need, got;
    uint8_t params[4];
    uint8_t out[DSP_OUT_SIZE]; /* bytes the guest reads at base+0xA */
    uint32_t out_head, out_count;
    bool reset_high;        /* last write to base+6 had bit 0 set */
    bool speaker;
    uint8_t test_reg;
    uint32_t rate;          /* from 0x40 (time constant) or 0x41/0x42 */
    bool rate_is_tc;        /* 0x40 gives channels x rate */
    uint32_t block_size;    /* 0x48: bytes (8-bit) or samples (16-bit) */

    /* The running transfer. */
    bool dma_on, paused, silence; /* silence: 0x80, a pause of N samples */
    bool is16, stereo, is_signed, autoinit, exit_autoinit;
    bool input;             /* A/D: the transfer records */
    bool stereo_input;      /* 0xA8: SB Pro stereo recording for 0x24/0x2C/0x98/0x99 */
    uint32_t frame_rate;
    uint32_t block_bytes, block_left;
    int64_t base_ns;        /* virtual time the current pacing started */
    int64_t base_frames;    /* frames moved since base_ns */
    int64_t end_ns;         /* when the last transfer's final frame was due */

    /* Direct mode (0x10). */
    bool direct_on;
    uint8_t direct_level;
    int64_t direct_last_ns; /* the last 0x10 */
    int64_t direct_done;    /* host side: samples rendered (SB_DIRECT_RATE since 0) */

    uint8_t irq_status;     /* mixer 0x82 bits 0-1 */
    uint8_t mixer_index;
    uint8_t mixer[256];

    /* The DREQ line held now (follows the state above; the 8237 saves its own). */
    bool dreq_set;
    unsigned dreq_ch;

    /* The FM synthesizer. */
    Opl3 fm;
} Sb16;

static const IrqLine *sb_irq_line(Sb16 *s);

/* ---- Interrupts ---- */

static unsigned sb_irq_number(Sb16 *s)
{
    uint8_t sel = s->mixer[MIX_IRQ_SELECT];
    if (sel & 0x02) return 5;
    if (sel & 0x04) return 7;
    if (sel & 0x01) return 9; /* IRQ 2 on the ISA connector is the AT's IRQ 9 */
    if (sel & 0x08) return 10;
    return s->irq;
}

static const IrqLine *sb_irq_line(Sb16 *s)
{
    return isa_bus_irq(s->isa, sb_irq_number(s));
}

static void sb_update_irq(Sb16 *s)
{
    irq_set(sb_irq_line(s), s->irq_status != 0);
}

static void sb_raise(Sb16 *s, uint8_t bit)
{
    s->irq_status |= bit;
    sb_update_irq(s);
}

/* ---- DMA ---- */

static unsigned sb_channel8(Sb16 *s)
{
    uint8_t sel = s->mixer[MIX_DMA_SELECT];
    if (sel & 0x02) return 1;
    if (sel & 0x01) return 0;
    if (sel & 0x08) return 3;
    return s->dma;
}

/* A 16-bit transfer uses the 16-bit channel; with none selected it goes over the
 * 8-bit one, as the card does. */
static unsigned sb_channel(Sb16 *s)
{
    if (!s->is16)
        return sb_channel8(s);
    uint8_t sel = s->mixer[MIX_DMA_SELECT];
    if (sel & 0x20) return 5;
    if (sel & 0x40) return 6;
    if (sel & 0x80) return 7;
    if (!(sel & 0xeb))
        return s->hdma;
    return sb_channel8(s);
}

static unsigned sb_frame_bytes(const Sb16 *s)
{
    return (s->is16 ? 2u : 1u) * (s->stereo ? 2u : 1u);
}

static void sb_update_dreq(Sb16 *s)
{
    bool want = s->dma_on && !s->paused && !s->silence;
    unsigned ch = sb_channel(s);
    if (s->dreq_set && (!want || s->dreq_ch != ch)) {
        i8237_set_dreq(s->isadma, s->dreq_ch, false);
        s->dreq_set = false;
    }
    if (want && !s->dreq_set) {
        i8237_set_dreq(s->isadma, ch, true);
        s->dreq_set = true;
        s->dreq_ch = ch;
    }
}

/* The first virtual time at which `frames` frames are due since base_ns. */
static int64_t sb_frames_ns(const Sb16 *s, int64_t frames)
{
    int64_t ns = ticks_to_ns(frames, s->frame_rate);
    while (ns_to_ticks(ns, s->frame_rate) < frames)
        ns++;
    return s->base_ns + ns;
}

static void sb_arm_block_timer(Sb16 *s)
{
    if (!s->dma_on || s->paused) {
        vtimer_del(s->block_timer);
        return;
    }
    int64_t left = s->block_left / sb_frame_bytes(s);
    vtimer_mod(s->block_timer, sb_frames_ns(s, s->base_frames + MAX(left, 1)));
}

static void sb_stop(Sb16 *s)
{
    if (s->input)
        audio_in_set_active(s->in, false);
    s->dma_on = false;
    s->paused = false;
    sb_update_dreq(s);
    vtimer_del(s->block_timer);
}

static void sb_block_end(Sb16 *s)
{
    sb_raise(s, s->is16 ? IRQ_16BIT : IRQ_8BIT);
    if (s->autoinit && !s->exit_autoinit) {
        s->block_left = s->block_bytes;
    } else {
        s->end_ns = sb_frames_ns(s, s->base_frames);
        sb_stop(s);
    }
}

/* 5-bit volumes in bits 7-3: 2 dB steps down from 0 dB at 31 (CT1745). */
static double mix_gain(uint8_t reg)
{
    unsigned v = reg >> 3;
    return v ? pow(10.0, (double)((int)v - 31) * 2.0 / 20.0) : 0.0;
}

/* A gain of the CT1745's input path: 5-bit level (0x38/0x39) times the input gain
 * (0x3F/0x40 bits 7-6: x1, x2, x4, x8), in 1/65536; 0 when the switch is off. */
static uint32_t sb_line_gain(const Sb16 *s, int right)
{
    uint8_t sw = s->mixer[MIX_IN_SW_L + right];
    if (!(sw & (right ? MIX_IN_SW_LINE_R : MIX_IN_SW_LINE_L)))
        return 0;
    double g = mix_gain(s->mixer[MIX_LINE_L + right]) * (double)(1u << (s->mixer[MIX_IN_GAIN_L + right] >> 6));
    return (uint32_t)(g * 65536.0 + 0.5);
}

/* Fills `frames` frames of the transfer's format with what the line input captured. */
static void sb_capture(Sb16 *s, uint8_t *buf, size_t frames)
{
    int16_t in[2 * 1024];
    uint32_t gl = sb_line_gain(s, 0), gr = sb_line_gain(s, 1);
    for (size_t done = 0; done < frames;) {
        size_t n = MIN(frames - done, G_N_ELEMENTS(in) / 2);
        audio_in_read(s->in, in, n);
        for (size_t i = 0; i < n; i++) {
            int32_t l = CLAMP((int32_t)(((int64_t)in[2 * i] * gl) >> 16), INT16_MIN, INT16_MAX);
            int32_t r = CLAMP((int32_t)(((int64_t)in[2 * i + 1] * gr) >> 16), INT16_MIN, INT16_MAX);
            int32_t v[2] = { l, r };
            unsigned ch = s->stereo ? 2 : 1;
            if (!s->stereo)
                v[0] = (l + r) / 2; /* mono: the ADC takes both input mixers */
            for (unsigned c = 0; c < ch; c++) {
                if (s->is16) {
                    uint16_t w = (uint16_t)(s->is_signed ? v[c] : v[c] + 0x8000);
                    *buf++ = (uint8_t)w;
                    *buf++ = (uint8_t)(w >> 8);
                } else {
                    *buf++ = (uint8_t)((v[c] >> 8) + (s->is_signed ? 0 : 0x80));
                }
            }
        }
        done += n;
    }
}

/* Moves the frames due by now between guest memory and the voice or the input. */
static void sb_run(Sb16 *s)
{
    if (!s->dma_on || s->paused)
        return;
    int64_t now = vm_clock_ns(s->vm);
    int64_t due = ns_to_ticks(now - s->base_ns, s->frame_rate) - s->base_frames;
    if (due <= 0)
        return;
    unsigned bpf = sb_frame_bytes(s);
    if (due > s->frame_rate / 2) {
        /* A state load or a long stall: do not replay more than half a second. */
        s->base_frames += due - s->frame_rate / 2;
        due = s->frame_rate / 2;
    }
    uint8_t buf[4096];
    uint64_t want = (uint64_t)due * bpf;
    while (want && s->dma_on) {
        size_t chunk = (size_t)MIN(want, (uint64_t)MIN(s->block_left, sizeof(buf)));
        chunk -= chunk % bpf;
        if (!chunk) {
            /* A block shorter than a frame (a 1-byte 8-bit stereo block): ends now. */
            s->block_left = 0;
            sb_block_end(s);
            continue;
        }
        size_t got = 0;
        if (s->input) {
            /* A channel programmed the wrong way (memory to device) reads instead:
             * the guest's mistake, harmless here. */
            unsigned ch = sb_channel(s);
            sb_capture(s, buf, chunk / bpf);
            for (size_t n; got < chunk; got += n) {
                n = i8237_transfer(s->isadma, ch, buf + got, chunk - got, NULL);
                if (!n)
                    break;
            }
        } else if (s->silence) {
            memset(buf, s->is_signed || s->is16 ? 0 : 0x80, chunk);
            got = chunk;
        } else {
            /* Memory outside RAM reads as all ones, as an open ISA bus. */
            memset(buf, 0xff, chunk);
            unsigned ch = sb_channel(s);
            for (size_t n; got < chunk; got += n) {
                n = i8237_transfer(s->isadma, ch, buf + got, chunk - got, NULL);
                if (!n)
                    break;
            }
        }
        size_t frames = got / bpf;
        if (!s->input)
            audio_voice_write(s->voice, buf, frames);
        s->base_frames += (int64_t)frames;
        s->block_left -= (uint32_t)(frames * bpf);
        want -= frames * bpf;
        if (s->block_left == 0)
            sb_block_end(s);
        if (got < chunk) {
            /* The channel stopped serving DREQ: the DAC starves until it does again,
             * and the pace starts afresh then. */
            s->base_ns = now;
            s->base_frames = 0;
            break;
        }
    }
    sb_arm_block_timer(s);
}

/* Direct mode: the held level from the last render up to now. */
static void sb_direct_render(Sb16 *s)
{
    if (!s->direct_on)
        return;
    int64_t now = vm_clock_ns(s->vm);
    int64_t end = ns_to_ticks(now, SB_DIRECT_RATE);
    if (end < s->direct_done || end - s->direct_done > SB_DIRECT_RATE / 2)
        s->direct_done = end; /* a state load or a long stall */
    uint8_t buf[512];
    memset(buf, s->direct_level, sizeof(buf));
    while (s->direct_done < end) {
        size_t n = (size_t)MIN(end - s->direct_done, (int64_t)sizeof(buf));
        audio_voice_write(s->voice, buf, n);
        s->direct_done += (int64_t)n;
    }
    if (now - s->direct_last_ns > SB_DIRECT_IDLE_NS)
        s->direct_on = false;
}

static void sb_direct_write(Sb16 *s, uint8_t v)
{
    if (s->dma_on) {
        VLOG(LOG_GUEST, "sb16: direct-mode sample during a DMA transfer ignored");
        return;
    }
    int64_t now = vm_clock_ns(s->vm);
    if (!s->direct_on) {
        audio_voice_set_format(s->voice, AUDIO_FMT_U8, 1, SB_DIRECT_RATE);
        s->direct_done = ns_to_ticks(now, SB_DIRECT_RATE);
        s->direct_on = true;
    } else {
        sb_direct_render(s);
    }
    s->direct_level = v;
    s->direct_last_ns = now;
}

static void sb_sync(void *opaque)
{
    Sb16 *s = opaque;
    sb_direct_render(s);
    sb_run(s);
}

static void sb_block_timer_cb(void *opaque)
{
    sb_run(opaque);
}

static void sb_start(Sb16 *s, bool input, bool is16, bool stereo, bool is_signed, bool autoinit, uint32_t bytes)
{
    sb_direct_render(s);
    s->direct_on = false;
    sb_run(s);
    int64_t now = vm_clock_ns(s->vm);
    bool follows = !s->dma_on && s->end_ns && now >= s->end_ns && now - s->end_ns <= SB_FIFO_NS;
    s->is16 = is16;
    s->stereo = stereo;
    s->is_signed = is_signed;
    s->autoinit = autoinit;
    s->exit_autoinit = false;
    s->silence = false;
    if (s->input && !input)
        audio_in_set_active(s->in, false);
    s->input = input;
    uint32_t rate = s->rate;
    if (s->rate_is_tc && stereo)
        rate /= 2;
    s->frame_rate = CLAMP(rate, SB_RATE_MIN / 2, SB_RATE_MAX);
    s->block_bytes = s->block_left = MAX(bytes, 1u);
    s->dma_on = true;
    s->paused = false;
    s->base_ns = follows ? s->end_ns : now;
    s->base_frames = 0;
    if (input) {
        audio_in_set_format(s->in, AUDIO_FMT_S16, 2, s->frame_rate);
        audio_in_set_active(s->in, true);
    } else {
        AudioFormat fmt = is16 ? (is_signed ? AUDIO_FMT_S16 : AUDIO_FMT_U16)
                               : (is_signed ? AUDIO_FMT_S8 : AUDIO_FMT_U8);
        audio_voice_set_format(s->voice, fmt, stereo ? 2 : 1, s->frame_rate);
    }
    VLOG(LOG_TIMER, "sb16: at %" PRId64 " ns %s %u-bit %s %s%s, %u Hz, block %u bytes", s->base_ns,
         input ? "recording" : "playing", is16 ? 16 : 8,
         stereo ? "stereo" : "mono", is_signed ? "signed" : "unsigned",
         autoinit ? " auto-init" : "", s->frame_rate, s->block_bytes);
    sb_update_dreq(s);
    sb_arm_block_timer(s);
}

/* ---- Mixer ---- */

static void sb_update_volume(Sb16 *s)
{
    double l = mix_gain(s->mixer[MIX_MASTER_L]) * mix_gain(s->mixer[MIX_VOICE_L]);
    double r = mix_gain(s->mixer[MIX_MASTER_L + 1]) * mix_gain(s->mixer[MIX_VOICE_L + 1]);
    audio_voice_set_volume(s->voice, (uint32_t)(l * 65536.0 + 0.5), (uint32_t)(r * 65536.0 + 0.5));
    double fl = mix_gain(s->mixer[MIX_MASTER_L]) * mix_gain(s->mixer[MIX_FM_L]);
    double fr = mix_gain(s->mixer[MIX_MASTER_L + 1]) * mix_gain(s->mixer[MIX_FM_L + 1]);
    opl3_set_volume(&s->fm, (uint32_t)(fl * 65536.0 + 0.5), (uint32_t)(fr * 65536.0 + 0.5));
}

static void mixer_reset(Sb16 *s)
{
    uint8_t irqsel = s->mixer[MIX_IRQ_SELECT], dmasel = s->mixer[MIX_DMA_SELECT];
    memset(s->mixer, 0, sizeof(s->mixer));
    /* The CT1745's power-on levels: -14 dB on master, voice and MIDI, the other
     * inputs off, all outputs switched on, 0 dB gains, tone controls flat. */
    for (int r = 0x30; r <= 0x35; r++)
        s->mixer[r] = 0xc0;
    s->mixer[0x3c] = 0x1f;
    s->mixer[0x3d] = 0x15;
    s->mixer[0x3e] = 0x0b;
    for (int r = 0x44; r <= 0x47; r++)
        s->mixer[r] = 0x80;
    s->mixer[MIX_IRQ_SELECT] = irqsel;
    s->mixer[MIX_DMA_SELECT] = dmasel;
    sb_update_volume(s);
}

/* SB Pro registers: a 4-bit level per nibble, aliasing the CT1745's 5-bit pairs. */
static int pro_alias(uint8_t index)
{
    switch (index) {
    case MIX_VOICE_PRO: return 0x32;
    case MIX_MASTER_PRO: return 0x30;
    case MIX_MIDI_PRO: return 0x34;
    case MIX_CD_PRO: return 0x36;
    case MIX_LINE_PRO: return 0x38;
    default: return -1;
    }
}

static uint8_t mixer_read(Sb16 *s, uint8_t index)
{
    int a = pro_alias(index);
    if (a >= 0)
        return (uint8_t)((s->mixer[a] & 0xf0) | s->mixer[a + 1] >> 4);
    switch (index) {
    case MIX_MIC_PRO:
        return (uint8_t)(s->mixer[0x3a] >> 5);
    case MIX_IRQ_STATUS:
        return s->irq_status;
    default:
        return s->mixer[index];
    }
}

static void mixer_write(Sb16 *s, uint8_t index, uint8_t v)
{
    int a = pro_alias(index);
    if (a >= 0) {
        s->mixer[a] = (uint8_t)((v & 0xf0) | 0x08);
        s->mixer[a + 1] = (uint8_t)((v & 0x0f) << 4 | 0x08);
        sb_update_volume(s);
        return;
    }
    switch (index) {
    case MIX_RESET:
        mixer_reset(s);
        return;
    case MIX_MIC_PRO:
        s->mixer[0x3a] = (uint8_t)((v & 0x07) << 5);
        return;
    case MIX_IRQ_SELECT: {
        /* Moving the interrupt: the old line drops, the new one carries any pending. */
        irq_set(sb_irq_line(s), 0);
        s->mixer[index] = v & 0x0f;
        sb_update_irq(s);
        return;
    }
    case MIX_DMA_SELECT:
        s->mixer[index] = v & 0xeb;
        sb_update_dreq(s);
        return;
    case MIX_IRQ_STATUS:
        return; /* read-only */
    default:
        break;
    }
    if (index >= 0x30 && index <= 0x3b)
        v &= index == 0x3b ? 0xc0 : 0xf8;
    s->mixer[index] = v;
    if (index >= 0x30 && index <= 0x35)
        sb_update_volume(s);
}

/* ---- DSP ---- */

static void dsp_put(Sb16 *s, uint8_t v)
{
    if (s->out_count == DSP_OUT_SIZE)
        return; /* a guest that never reads: the oldest answers stay */
    s->out[(s->out_head + s->out_count) % DSP_OUT_SIZE] = v;
    s->out_count++;
}

static void dsp_reset(Sb16 *s)
{
    sb_stop(s);
    s->cmd = -1;
    s->need = s->got = 0;
    s->out_head = s->out_count = 0;
    s->speaker = false;
    s->end_ns = 0;
    s->direct_on = false;
    s->rate = 11025;
    s->rate_is_tc = false;
    s->block_size = 0x7ff;
    s->irq_status = 0;
    sb_update_irq(s);
}

/* Parameter bytes each command takes (0: none or unknown). */
static unsigned dsp_param_count(uint8_t cmd)
{
    if ((cmd & 0xf0) == 0xb0 || (cmd & 0xf0) == 0xc0)
        return 3;
    switch (cmd) {
    case 0x10: case 0x40: case 0xe0: case 0xe4:
        return 1;
    case 0x14: case 0x24: case 0x41: case 0x42: case 0x48: case 0x80:
        return 2;
    default:
        return 0;
    }
}

static const char copyright[] = "COPYRIGHT (C) CREATIVE TECHNOLOGY LTD, 1992.";

static void dsp_pause(Sb16 *s, bool is16, bool pause)
{
    if (!s->dma_on || s->is16 != is16 || s->paused == pause)
        return;
    if (pause) {
        sb_run(s);
        if (!s->dma_on)
            return;
    } else {
        s->base_ns = vm_clock_ns(s->vm);
        s->base_frames = 0;
    }
    s->paused = pause;
    sb_update_dreq(s);
    sb_arm_block_timer(s);
}

static void dsp_command(Sb16 *s, uint8_t cmd, const uint8_t *p)
{
    switch (cmd) {
    case 0x10: /* direct mode: one 8-bit unsigned sample, held */
        sb_direct_write(s, p[0]);
        break;
    case 0x14: /* 8-bit single-cycle output, rate from the time constant */
    case 0x91:
        sb_start(s, false, false, (s->mixer[MIX_OUTPUT_PRO] & 0x02) != 0, false, false,
                 cmd == 0x14 ? (uint32_t)(p[0] | p[1] << 8) + 1 : s->block_size + 1);
        break;
    case 0x24: /* 8-bit single-cycle input */
    case 0x99:
        sb_start(s, true, false, s->stereo_input, false, false,
                 cmd == 0x24 ? (uint32_t)(p[0] | p[1] << 8) + 1 : s->block_size + 1);
        break;
    case 0x2c: /* 8-bit auto-init input */
    case 0x98:
        sb_start(s, true, false, s->stereo_input, false, true, s->block_size + 1);
        break;
    case 0xa0: /* SB Pro input mode: mono, or stereo (0xA8) */
    case 0xa8:
        s->stereo_input = cmd == 0xa8;
        break;
    case 0x1c: /* 8-bit auto-init output, block size from 0x48 */
    case 0x90:
        sb_start(s, false, false, (s->mixer[MIX_OUTPUT_PRO] & 0x02) != 0, false, true, s->block_size + 1);
        break;
    case 0x40: {
        s->rate = 1000000u / (256u - p[0]);
        s->rate = CLAMP(s->rate, SB_RATE_MIN, SB_RATE_MAX * 2);
        s->rate_is_tc = true;
        break;
    }
    case 0x41:
    case 0x42: /* input and output share the rate on DSP 4 */
        s->rate = CLAMP((uint32_t)(p[0] << 8 | p[1]), SB_RATE_MIN, SB_RATE_MAX);
        s->rate_is_tc = false;
        break;
    case 0x45:
        if (s->dma_on && !s->is16)
            s->exit_autoinit = false;
        break;
    case 0x47:
        if (s->dma_on && s->is16)
            s->exit_autoinit = false;
        break;
    case 0x48:
        s->block_size = (uint32_t)(p[0] | p[1] << 8);
        break;
    case 0x80: /* silence for N+1 samples, then the 8-bit interrupt */
        sb_start(s, false, false, false, false, false, (uint32_t)(p[0] | p[1] << 8) + 1);
        s->silence = true;
        sb_update_dreq(s);
        break;
    case 0xd0: dsp_pause(s, false, true); break;
    case 0xd4: dsp_pause(s, false, false); break;
    case 0xd5: dsp_pause(s, true, true); break;
    case 0xd6: dsp_pause(s, true, false); break;
    case 0xd1: s->speaker = true; break;  /* on DSP 4 the output is not gated: status only */
    case 0xd3: s->speaker = false; break;
    case 0xd8: dsp_put(s, s->speaker ? 0xff : 0x00); break;
    case 0xd9:
        if (s->dma_on && s->is16)
            s->exit_autoinit = true;
        break;
    case 0xda:
        if (s->dma_on && !s->is16)
            s->exit_autoinit = true;
        break;
    case 0xe0: dsp_put(s, (uint8_t)~p[0]); break;
    case 0xe1:
        dsp_put(s, (uint8_t)(s->version >> 8));
        dsp_put(s, (uint8_t)s->version);
        break;
    case 0xe3:
        for (size_t i = 0; i < sizeof(copyright); i++)
            dsp_put(s, (uint8_t)copyright[i]);
        break;
    case 0xe4: s->test_reg = p[0]; break;
    case 0xe8: dsp_put(s, s->test_reg); break;
    case 0xf2: sb_raise(s, IRQ_8BIT); break;
    case 0xf3: sb_raise(s, IRQ_16BIT); break;
    case 0xf8: dsp_put(s, 0); break;
    default:
        if ((cmd & 0xf0) == 0xb0 || (cmd & 0xf0) == 0xc0) {
            /* 0xBx 16-bit, 0xCx 8-bit: bit 3 A/D, bit 2 auto-init, bit 1 FIFO; the mode
             * byte: bit 5 stereo, bit 4 signed; then the length in samples minus 1. */
            bool is16 = (cmd & 0xf0) == 0xb0;
            uint32_t samples = (uint32_t)(p[1] | p[2] << 8) + 1;
            sb_start(s, (cmd & 0x08) != 0, is16, (p[0] & 0x20) != 0, (p[0] & 0x10) != 0, (cmd & 0x04) != 0,
                     samples * (is16 ? 2 : 1));
            break;
        }
        VLOG(LOG_UNIMP, "sb16: DSP command 0x%02x is not emulated", cmd);
        break;
    }
}

static void dsp_write(Sb16 *s, uint8_t v)
{
    if (s->cmd < 0) {
        s->need = dsp_param_count(v);
        s->got = 0;
        if (!s->need) {
            dsp_command(s, v, s->params);
            return;
        }
        s->cmd = v;
        return;
    }
    s->params[s->got++] = v;
    if (s->got == s->need) {
        uint8_t cmd = (uint8_t)s->cmd;
        s->cmd = -1;
        dsp_command(s, cmd, s->params);
    }
}

/* ---- Ports: base+4 mixer index, +5 mixer data, +6 reset, +A read data, +C write
 * command/data and write status, +E read status (and 8-bit IRQ acknowledge), +F 16-bit
 * IRQ acknowledge. ---- */

static uint32_t sb_read(void *opaque, uint32_t offset, unsigned size)
{
    Sb16 *s = opaque;
    switch (offset + 4) {
    case 0x4:
        return s->mixer_index;
    case 0x5:
        return mixer_read(s, s->mixer_index);
    case 0xa: {
        if (!s->out_count)
            return 0xff;
        uint8_t v = s->out[s->out_head];
        s->out_head = (s->out_head + 1) % DSP_OUT_SIZE;
        s->out_count--;
        return v;
    }
    case 0xc:
        return 0x7f; /* bit 7 clear: ready for a command */
    case 0xe:
        s->irq_status &= (uint8_t)~IRQ_8BIT;
        sb_update_irq(s);
        return s->out_count ? 0xff : 0x7f;
    case 0xf:
        s->irq_status &= (uint8_t)~IRQ_16BIT;
        sb_update_irq(s);
        return 0xff;
    default:
        return 0xff;
    }
}

static void sb_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    Sb16 *s = opaque;
    uint8_t v = (uint8_t)value;
    switch (offset + 4) {
    case 0x4:
        s->mixer_index = v;
        break;
    case 0x5:
        mixer_write(s, s->mixer_index, v);
        break;
    case 0x6:
        /* Reset: bit 0 high, then low; the DSP then answers 0xAA. */
        if (v & 1) {
            s->reset_high = true;
        } else if (s->reset_high) {
            s->reset_high = false;
            dsp_reset(s);
            dsp_put(s, 0xaa);
        }
        break;
    case 0xc:
        dsp_write(s, v);
        break;
    default:
        break;
    }
}

static const PortOps sb_ops = { sb_read, sb_write, 1, 1 };

static uint32_t sb_read_hi(void *opaque, uint32_t offset, unsigned size)
{
    return sb_read(opaque, offset + 6, size);
}

static void sb_write_hi(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    sb_write(opaque, offset + 6, value, size);
}

static const PortOps sb_ops_hi = { sb_read_hi, sb_write_hi, 1, 1 };

/* ---- Device ---- */

static unsigned irq_select_bits(uint32_t irq)
{
    switch (irq) {
    case 2: case 9: return 0x01;
    case 5: return 0x02;
    case 7: return 0x04;
    case 10: return 0x08;
    default: return 0;
    }
}

static void sb_reset(Device *dev)
{
    Sb16 *s = (Sb16 *)dev;
    s->reset_high = false;
    s->test_reg = 0;
    s->mixer_index = 0;
    s->mixer[MIX_IRQ_SELECT] = (uint8_t)irq_select_bits(s->irq);
    s->mixer[MIX_DMA_SELECT] = (uint8_t)((1u << s->dma) | (s->hdma >= 5 ? 1u << s->hdma : 0));
    opl3_reset(&s->fm);
    mixer_reset(s);
    dsp_reset(s);
}

static bool sb_realize(Device *dev, GError **err)
{
    Sb16 *s = (Sb16 *)dev;
    s->vm = dev->vm;
    if (!s->audiodev) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs audiodev=ID (add -audiodev none,id=ID for silence)");
        return false;
    }
    if (s->iobase & 0xf) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "iobase=0x%x is not a multiple of 0x10", s->iobase);
        return false;
    }
    if (!irq_select_bits(s->irq)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "irq=%u: the card offers 2, 5, 7 and 10", s->irq);
        return false;
    }
    if (s->dma == 2 || s->hdma < 5) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "dma=%u dma16=%u: the card offers 8-bit DMA 0, 1, 3 and 16-bit DMA 5, 6, 7",
                    s->dma, s->hdma);
        return false;
    }
    s->isa = isa_bus_find(s->vm, err);
    if (!s->isa || !isa_bus_check_ports(s->vm, s->iobase + 4, 3, err) ||
        !isa_bus_check_ports(s->vm, s->iobase + 0xa, 6, err) || !isa_bus_check_ports(s->vm, s->iobase, 4, err) ||
        !isa_bus_check_ports(s->vm, s->iobase + 8, 2, err))
        return false;
    /* The card also decodes the AdLib's ports, unless an AdLib card is there; an adlib
     * created later takes them over (a weak claim). */
    bool at388 = isa_bus_check_ports(s->vm, 0x388, 4, NULL);
    s->isadma = isa_bus_dma(s->isa);
    s->block_timer = vtimer_new(s->vm, sb_block_timer_cb, s);
    s->voice = audio_voice_new(s->audiodev, dev->id, sb_sync, s);
    audio_voice_set_active(s->voice, true);
    g_autofree char *in_name = g_strdup_printf("%s.line-in", dev->id);
    s->in = audio_in_new(s->audiodev, in_name);
    io_add(vm_io(s->vm), dev->id, (uint16_t)(s->iobase + 4), 3, &sb_ops, s);
    io_add(vm_io(s->vm), dev->id, (uint16_t)(s->iobase + 0xa), 6, &sb_ops_hi, s);
    g_autofree char *fm_name = g_strdup_printf("%s.fm", dev->id);
    opl3_init(&s->fm, s->vm, s->audiodev, fm_name);
    io_add(vm_io(s->vm), fm_name, (uint16_t)s->iobase, 4, &opl3_port_ops, &s->fm);
    io_add(vm_io(s->vm), fm_name, (uint16_t)(s->iobase + 8), 2, &opl3_port_ops, &s->fm);
    if (at388)
        io_region_set_weak(io_add(vm_io(s->vm), fm_name, 0x388, 4, &opl3_port_ops, &s->fm), true);
    return true;
}

static void sb_unrealize(Device *dev)
{
    Sb16 *s = (Sb16 *)dev;
    vtimer_free(s->block_timer);
    audio_voice_free(s->voice);
    audio_in_free(s->in);
    opl3_destroy(&s->fm);
}

static bool sb_check(const void *state, GError **err)
{
    const Sb16 *s = state;
    if (s->cmd >= 0 && (s->need != dsp_param_count((uint8_t)s->cmd) || s->got >= s->need)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "DSP command 0x%02x with %u of %u parameters",
                    s->cmd, s->got, s->need);
        return false;
    }
    if (s->dma_on && (s->frame_rate < SB_RATE_MIN / 2 || s->frame_rate > SB_RATE_MAX ||
                      s->block_left > s->block_bytes || !s->block_bytes)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "transfer state out of range");
        return false;
    }
    if (s->dma_on && s->direct_on) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a DMA transfer in direct mode");
        return false;
    }
    return opl3_check(&s->fm, err);
}

static void sb_post_load(void *state)
{
    Sb16 *s = state;
    if (s->dma_on && s->input) {
        audio_in_set_format(s->in, AUDIO_FMT_S16, 2, s->frame_rate);
        audio_in_set_active(s->in, true);
    } else if (s->dma_on) {
        AudioFormat fmt = s->is16 ? (s->is_signed ? AUDIO_FMT_S16 : AUDIO_FMT_U16)
                                  : (s->is_signed ? AUDIO_FMT_S8 : AUDIO_FMT_U8);
        audio_voice_set_format(s->voice, fmt, s->stereo ? 2 : 1, s->frame_rate);
    }
    if (s->direct_on) {
        audio_voice_set_format(s->voice, AUDIO_FMT_U8, 1, SB_DIRECT_RATE);
        s->direct_done = ns_to_ticks(vm_clock_ns(s->vm), SB_DIRECT_RATE);
    }
    sb_update_volume(s);
    sb_update_irq(s);
    sb_update_dreq(s);
    opl3_post_load(&s->fm);
}

static const VmStateField sb_fields[] = {
    VMSTATE_I32_RANGE(Sb16, cmd, -1, 255),
    VMSTATE_U32_RANGE(Sb16, need, 0, 3),
    VMSTATE_U32_RANGE(Sb16, got, 0, 3),
    VMSTATE_U8_ARRAY(Sb16, params, 4),
    VMSTATE_U8_ARRAY(Sb16, out, DSP_OUT_SIZE),
    VMSTATE_U32_RANGE(Sb16, out_head, 0, DSP_OUT_SIZE - 1),
    VMSTATE_U32_RANGE(Sb16, out_count, 0, DSP_OUT_SIZE),
    VMSTATE_BOOL(Sb16, reset_high),
    VMSTATE_BOOL(Sb16, speaker),
    VMSTATE_U8(Sb16, test_reg),
    VMSTATE_U32_RANGE(Sb16, rate, SB_RATE_MIN, SB_RATE_MAX * 2),
    VMSTATE_BOOL(Sb16, rate_is_tc),
    VMSTATE_U32_RANGE(Sb16, block_size, 0, 0xffff),
    VMSTATE_BOOL(Sb16, dma_on),
    VMSTATE_BOOL(Sb16, paused),
    VMSTATE_BOOL(Sb16, silence),
    VMSTATE_BOOL(Sb16, is16),
    VMSTATE_BOOL(Sb16, stereo),
    VMSTATE_BOOL(Sb16, is_signed),
    VMSTATE_BOOL(Sb16, autoinit),
    VMSTATE_BOOL(Sb16, exit_autoinit),
    VMSTATE_U32(Sb16, frame_rate),
    VMSTATE_U32_RANGE(Sb16, block_bytes, 0, 0x20000),
    VMSTATE_U32_RANGE(Sb16, block_left, 0, 0x20000),
    /* Virtual times and counts: never negative, far from overflowing the arithmetic
     * on them. */
    VMSTATE_I64_RANGE(Sb16, base_ns, 0, INT64_C(1) << 62),
    VMSTATE_I64_RANGE(Sb16, base_frames, 0, INT64_C(1) << 40),
    VMSTATE_I64_RANGE(Sb16, end_ns, 0, INT64_C(1) << 62),
    VMSTATE_BOOL(Sb16, direct_on),
    VMSTATE_U8(Sb16, direct_level),
    VMSTATE_I64_RANGE(Sb16, direct_last_ns, 0, INT64_C(1) << 62),
    VMSTATE_U8_RANGE(Sb16, irq_status, 0, 3),
    VMSTATE_U8(Sb16, mixer_index),
    VMSTATE_U8_ARRAY(Sb16, mixer, 256),
    VMSTATE_TIMER(Sb16, block_timer),
    /* Version 2: the FM chip. */
    { .name = "fm", .type = VMS_STRUCT, .offset = offsetof(Sb16, fm), .elem_size = sizeof(Opl3),
      .sub = &opl3_vmsd, .version_added = 2 },
    /* Version 3: recording. */
    { .name = "input", .type = VMS_BOOL, .offset = offsetof(Sb16, input), .version_added = 3 },
    { .name = "stereo_input", .type = VMS_BOOL, .offset = offsetof(Sb16, stereo_input), .version_added = 3 },
    VMSTATE_END,
};

static const VmStateDesc sb_vmsd = {
    .name = "sb16",
    .version = 3,
    .fields = sb_fields,
    .check = sb_check,
    .post_load = sb_post_load,
};

static const DeviceProp sb_props[] = {
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(Sb16, audiodev), "the audiodev that plays the card",
      NULL, 0, 0, "audiodev" },
    { "iobase", DEVICE_PROP_U32, offsetof(Sb16, iobase), "I/O port base", "0x220", 0x200, 0x2f0 },
    { "irq", DEVICE_PROP_U32, offsetof(Sb16, irq), "ISA IRQ (2, 5, 7, 10)", "5", 2, 10 },
    { "dma", DEVICE_PROP_U32, offsetof(Sb16, dma), "8-bit DMA channel (0, 1, 3)", "1", 0, 3 },
    { "dma16", DEVICE_PROP_U32, offsetof(Sb16, hdma), "16-bit DMA channel (5, 6, 7)", "5", 5, 7 },
    { "version", DEVICE_PROP_U32, offsetof(Sb16, version), "DSP version (major << 8 | minor)", "0x405",
      0x100, 0x4ff },
    { NULL },
};

static const DeviceClass sb_class = {
    .name = "sb16",
    .description = "Creative Sound Blaster 16 (DSP 4.05, CT1745 mixer, YMF262 OPL3 FM synthesizer)",
    .instance_size = sizeof(Sb16),
    .user_creatable = true,
    .props = sb_props,
    .vmsd = &sb_vmsd,
    .realize = sb_realize,
    .reset = sb_reset,
    .unrealize = sb_unrealize,
};

__attribute__((constructor)) static void sb_register(void)
{
    device_class_register(&sb_class);
}
