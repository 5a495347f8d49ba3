/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 82801AA (ICH) AC'97 audio controller with a SigmaTel STAC9700 codec
 * (-device AC97,audiodev=ID; PCI 8086:2415, QEMU's name and IDs).
 *
 * After Intel's "82801AA/AB I/O Controller Hub AC'97 Programmer's Reference Manual"
 * (PRM below; native audio bus master registers, section 2.2; buffer descriptors,
 * section 2.2.1) and the "Audio Codec '97" specification 2.3 (mixer registers,
 * section 5.7).
 *
 * BAR 0 (I/O, 256 bytes) is the codec's mixer (NAM), BAR 1 (I/O, 64 bytes) the bus
 * master (NABM): three DMA channels, PCM in (PI, 0x00), PCM out (PO, 0x10) and mic in
 * (MC, 0x20), each walking a 32-entry list of buffer descriptors in guest memory, and the
 * global control, status and codec semaphore at 0x2C-0x34.
 *
 * Transfers are paced by the virtual clock as the SB16's are: a channel running at rate
 * r since base_ns has moved floor((now - base_ns) * r) frames. PCM out is pulled from
 * guest memory when the mixer asks (the voice's sync) and at the end of each buffer,
 * where a timer completes it at the exact virtual time (interrupt on completion, last
 * valid buffer). PCM in and mic in record what the audiodev captures (its in.* options;
 * silence without one) at their rate, with the same descriptors and interrupts. The
 * host's capture is the codec's microphone input (mono: its channels averaged): PCM in
 * hears it through the record select (0x1A, per channel; the other sources have nothing
 * plugged in and record silence), the mic boost (0x0E bit 6, +20 dB) and the record gain
 * (0x1C, mute and 0 to +22.5 dB); mic in through the boost alone. */
#include "engine/audio/audio.h"
#include "engine/log.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/timer.h"
#include "hw/pci/pci.h"

#include <string.h>

#define NAM_SIZE 256
#define NABM_SIZE 64
#define AC97_RATE 48000
#define BD_ENTRIES 32
#define CH_SIZE 0x0c    /* a channel's registers; the block of each is 16 bytes apart */

/* Channel registers (PRM 2.2), offsets within a channel's 16 bytes. */
enum { CH_BDBAR = 0x0, CH_CIV = 0x4, CH_LVI = 0x5, CH_SR = 0x6, CH_PICB = 0x8, CH_PIV = 0xa, CH_CR = 0xb };
/* Status register bits. */
#define SR_DCH 0x01     /* DMA controller halted */
#define SR_CELV 0x02    /* current equals last valid */
#define SR_LVBCI 0x04   /* last valid buffer completion interrupt (write 1 to clear) */
#define SR_BCIS 0x08    /* buffer completion interrupt status (write 1 to clear) */
#define SR_FIFOE 0x10   /* FIFO error (write 1 to clear) */
#define SR_W1C (SR_LVBCI | SR_BCIS | SR_FIFOE)
/* Control register bits. */
#define CR_RPBM 0x01    /* run/pause bus master */
#define CR_RR 0x02      /* reset registers (self-clearing) */
#define CR_LVBIE 0x04
#define CR_FEIE 0x08
#define CR_IOCE 0x10
#define CR_MASK 0x1d
/* Buffer descriptor flags. */
#define BD_IOC 0x8000   /* interrupt on completion */
#define BD_BUP 0x4000   /* buffer underrun policy */

/* Global registers (PRM 2.2). */
#define GLOB_CNT 0x2c
#define GLOB_STA 0x30
#define CAS 0x34
#define CNT_COLD 0x02   /* AC'97 cold reset# (0: the codec is held in reset) */
#define CNT_WARM 0x04   /* warm reset (self-clearing) */
#define CNT_MASK 0x0030003f
#define STA_PIINT 0x20
#define STA_POINT 0x40
#define STA_MINT 0x80
#define STA_PCR 0x100   /* primary codec ready */
#define STA_RCS 0x8000  /* read completion status (write 1 to clear) */
#define STA_W1C (STA_RCS | 0x1)

/* Mixer registers (AC'97 2.3, 5.7), byte offsets. */
enum {
    MIX_RESET = 0x00, MIX_MASTER = 0x02, MIX_HEADPHONE = 0x04, MIX_MONO = 0x06, MIX_BEEP = 0x0a,
    MIX_PHONE = 0x0c, MIX_MIC = 0x0e, MIX_LINE = 0x10, MIX_CD = 0x12, MIX_VIDEO = 0x14, MIX_AUX = 0x16,
    MIX_PCM_OUT = 0x18, MIX_REC_SELECT = 0x1a, MIX_REC_GAIN = 0x1c, MIX_GENERAL = 0x20, MIX_3D = 0x22,
    MIX_POWERDOWN = 0x26, MIX_EXT_ID = 0x28, MIX_EXT_CTRL = 0x2a, MIX_FRONT_RATE = 0x2c,
    MIX_ADC_RATE = 0x32, MIX_MIC_RATE = 0x34, MIX_VENDOR1 = 0x7c, MIX_VENDOR2 = 0x7e,
};
#define EXT_VRA 0x0001  /* variable rate PCM audio */
#define EXT_VRM 0x0008  /* variable rate mic */

enum { PI, PO, MC, N_CHANNELS };
static const char *const channel_name[N_CHANNELS] = { "PCM in", "PCM out", "mic in" };

typedef struct Ac97Channel {
    uint32_t bdbar;
    uint8_t civ, lvi, piv, cr;
    uint16_t sr, picb;
    uint32_t cur;           /* guest address of the next sample of the current buffer */
    uint16_t bd_flags;      /* the current buffer's descriptor flags */
    bool running;           /* fetching and moving samples (RPBM and not halted) */
    int64_t base_ns;        /* the pace: frames moved since base_ns */
    int64_t base_frames;
    VTimer *timer;          /* the end of the current buffer */
} Ac97Channel;

typedef struct Ac97 {
    Device dev;
    char *addr;             /* property */
    AudioDev *audiodev;     /* property */
    PciDevice pci;
    Vm *vm;
    AudioVoice *voice;
    AudioIn *in[N_CHANNELS];    /* PCM in and mic in: the host's capture */
    Ac97Channel ch[N_CHANNELS];
    uint32_t glob_cnt, glob_sta;
    uint8_t cas;
    uint16_t mixer[NAM_SIZE / 2];
} Ac97;

/* ---- interrupts ---- */

static bool channel_irq(const Ac97Channel *c)
{
    return ((c->sr & SR_BCIS) && (c->cr & CR_IOCE)) || ((c->sr & SR_LVBCI) && (c->cr & CR_LVBIE)) ||
           ((c->sr & SR_FIFOE) && (c->cr & CR_FEIE));
}

static void ac97_update_irq(Ac97 *s)
{
    static const uint32_t bit[N_CHANNELS] = { STA_PIINT, STA_POINT, STA_MINT };
    bool any = false;
    for (int i = 0; i < N_CHANNELS; i++) {
        if (channel_irq(&s->ch[i])) {
            s->glob_sta |= bit[i];
            any = true;
        } else {
            s->glob_sta &= ~bit[i];
        }
    }
    pci_set_irq(&s->pci, any);
}

/* ---- the codec ---- */

static unsigned channel_rate(const Ac97 *s, int i)
{
    uint16_t ext = s->mixer[MIX_EXT_CTRL / 2];
    if (i == PO)
        return ext & EXT_VRA ? s->mixer[MIX_FRONT_RATE / 2] : AC97_RATE;
    if (i == PI)
        return ext & EXT_VRA ? s->mixer[MIX_ADC_RATE / 2] : AC97_RATE;
    return ext & EXT_VRM ? s->mixer[MIX_MIC_RATE / 2] : AC97_RATE;
}

static unsigned channel_channels(int i)
{
    return i == MC ? 1 : 2;
}

/* Attenuation in 1.5 dB steps (AC'97 5.7.2) as a gain out of 65536, capped at unity. */
static uint32_t step_gain(int steps)
{
    double g = 65536.0;
    for (int k = 0; k < steps; k++)
        g *= 0.8413951416451951;   /* 10^(-1.5/20) */
    for (int k = 0; k > steps; k--)
        g /= 0.8413951416451951;
    return g > 65536.0 ? 65536 : (uint32_t)(g + 0.5);
}

/* Gain in 1.5 dB steps, as a gain out of 65536, uncapped: the record gain amplifies. */
static uint32_t step_gain_up(int steps)
{
    double g = 65536.0;
    for (int k = 0; k < steps; k++)
        g /= 0.8413951416451951;
    return (uint32_t)(g + 0.5);
}

/* What reaches channel i's ADC from the microphone, left and right, out of 65536: the
 * record select (register 1Ah) routes the mic (source 0) or nothing to each side of PCM
 * in; the mic volume register's 20 dB boost (0Eh bit 6) comes before the select; the
 * record gain (1Ch) mutes or raises both (AC'97 2.3, the mixer registers in 5.7). */
static void ac97_record_gain(const Ac97 *s, int i, uint32_t gain[2])
{
    uint32_t mic = s->mixer[MIX_MIC / 2] & 0x0040 ? 655360 : 65536;
    if (i == MC) {
        gain[0] = gain[1] = mic;
        return;
    }
    uint16_t sel = s->mixer[MIX_REC_SELECT / 2], rg = s->mixer[MIX_REC_GAIN / 2];
    for (int c = 0; c < 2; c++) {
        unsigned src = (sel >> (c ? 0 : 8)) & 7;
        unsigned steps = (rg >> (c ? 0 : 8)) & 0xf;
        if ((rg & 0x8000) || src != 0)
            gain[c] = 0;
        else
            gain[c] = (uint32_t)(((uint64_t)mic * step_gain_up((int)steps)) >> 16);
    }
}

static int16_t gain_sample(int32_t v, uint32_t gain)
{
    int64_t g = ((int64_t)v * gain) >> 16;
    return (int16_t)CLAMP(g, -32768, 32767);
}

/* Samples of channel i (16-bit, little-endian) as the codec's input path shapes them. */
static void ac97_shape_input(const Ac97 *s, int i, uint8_t *buf, size_t frames)
{
    uint32_t gain[2];
    ac97_record_gain(s, i, gain);
    unsigned nch = channel_channels(i);
    for (size_t k = 0; k < frames; k++) {
        uint8_t *p = buf + k * 2 * nch;
        int32_t l = (int16_t)(p[0] | p[1] << 8);
        int32_t mono = l;
        if (nch == 2)
            mono = (l + (int16_t)(p[2] | p[3] << 8)) / 2;
        for (unsigned c = 0; c < nch; c++) {
            uint16_t v = (uint16_t)gain_sample(mono, gain[c]);
            p[2 * c] = (uint8_t)v;
            p[2 * c + 1] = (uint8_t)(v >> 8);
        }
    }
}

static void ac97_update_volume(Ac97 *s)
{
    uint16_t master = s->mixer[MIX_MASTER / 2], pcm = s->mixer[MIX_PCM_OUT / 2];
    if ((master & 0x8000) || (pcm & 0x8000)) {
        audio_voice_set_volume(s->voice, 0, 0);
        return;
    }
    /* PCM out: 0x08 is 0 dB, each step 1.5 dB (+12 dB .. -34.5 dB). */
    int ml = (master >> 8) & 0x1f, mr = master & 0x1f;
    int pl = ((pcm >> 8) & 0x1f) - 8, pr = (pcm & 0x1f) - 8;
    audio_voice_set_volume(s->voice, step_gain(ml + pl), step_gain(mr + pr));
}

static void mixer_reset(Ac97 *s)
{
    memset(s->mixer, 0, sizeof(s->mixer));
    s->mixer[MIX_MASTER / 2] = 0x8000;
    s->mixer[MIX_HEADPHONE / 2] = 0x8000;
    s->mixer[MIX_MONO / 2] = 0x8000;
    s->mixer[MIX_PHONE / 2] = 0x8008;
    s->mixer[MIX_MIC / 2] = 0x8008;
    s->mixer[MIX_LINE / 2] = 0x8808;
    s->mixer[MIX_CD / 2] = 0x8808;
    s->mixer[MIX_VIDEO / 2] = 0x8808;
    s->mixer[MIX_AUX / 2] = 0x8808;
    s->mixer[MIX_PCM_OUT / 2] = 0x8808;
    s->mixer[MIX_REC_GAIN / 2] = 0x8000;
    s->mixer[MIX_POWERDOWN / 2] = 0x000f;    /* ADC, DAC, analog mixer, Vref ready */
    s->mixer[MIX_EXT_ID / 2] = EXT_VRA | EXT_VRM;
    s->mixer[MIX_FRONT_RATE / 2] = AC97_RATE;
    s->mixer[MIX_ADC_RATE / 2] = AC97_RATE;
    s->mixer[MIX_MIC_RATE / 2] = AC97_RATE;
    s->mixer[MIX_VENDOR1 / 2] = 0x8384;     /* SigmaTel */
    s->mixer[MIX_VENDOR2 / 2] = 0x7600;     /* STAC9700 */
    if (s->voice)
        ac97_update_volume(s);
}

/* ---- DMA channels ---- */

static int64_t channel_frames_ns(const Ac97Channel *c, unsigned rate, int64_t frames)
{
    int64_t ns = ticks_to_ns(frames, rate);
    while (ns_to_ticks(ns, rate) < frames)
        ns++;
    return c->base_ns + ns;
}

static void channel_halt(Ac97 *s, int i, uint16_t why)
{
    Ac97Channel *c = &s->ch[i];
    VLOG(LOG_AUDIO, "AC97 %s: halted%s%s", channel_name[i], why & SR_CELV ? " at the last valid buffer" : "",
         why & SR_FIFOE ? " (FIFO error)" : "");
    c->running = false;
    c->sr |= SR_DCH | why;
    vtimer_del(c->timer);
    if (s->in[i])
        audio_in_set_active(s->in[i], false);
}

/* Loads descriptor CIV (PRM 2.2.1: address, length in samples, IOC and BUP flags). */
static bool channel_fetch(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    uint8_t bd[8];
    GuestMemory *m = vm_mem(s->vm);
    uint32_t a = c->bdbar + (uint32_t)c->civ * 8;
    if (!mem_is_ram(m, a, sizeof(bd)) || !mem_read(m, a, bd, sizeof(bd))) {
        /* A list outside RAM: the master aborts; the driver sees a FIFO error. */
        channel_halt(s, i, SR_FIFOE);
        return false;
    }
    c->cur = (bd[0] | bd[1] << 8 | bd[2] << 16 | (uint32_t)bd[3] << 24) & ~1u;
    c->picb = (uint16_t)(bd[4] | bd[5] << 8);
    c->bd_flags = (uint16_t)(bd[6] | bd[7] << 8);
    VLOG(LOG_AUDIO, "AC97 %s: buffer %u of %u: %u samples at 0x%x%s", channel_name[i], c->civ, c->lvi, c->picb,
         c->cur, c->bd_flags & BD_IOC ? ", interrupt" : "");
    c->piv = (c->civ + 1) & (BD_ENTRIES - 1);
    return true;
}

/* The current buffer is used up: its interrupt, then the next one or the halt at the
 * last valid buffer. */
static void channel_buffer_done(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    if (c->bd_flags & BD_IOC)
        c->sr |= SR_BCIS;
    if (c->civ == c->lvi) {
        channel_halt(s, i, SR_CELV | SR_LVBCI);
        return;
    }
    c->civ = (c->civ + 1) & (BD_ENTRIES - 1);
    channel_fetch(s, i);
}

static void channel_start(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    c->sr &= (uint16_t)~(SR_DCH | SR_CELV);
    c->running = true;
    c->base_ns = vm_clock_ns(s->vm);
    c->base_frames = 0;
    VLOG(LOG_AUDIO, "AC97 %s: running at %u Hz, list at 0x%x", channel_name[i], channel_rate(s, i), c->bdbar);
    if (i == PO) {
        audio_voice_set_format(s->voice, AUDIO_FMT_S16, 2, channel_rate(s, PO));
    } else {
        audio_in_set_format(s->in[i], AUDIO_FMT_S16, channel_channels(i), channel_rate(s, i));
        audio_in_set_active(s->in[i], true);
    }
}

static void channel_arm_timer(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    if (!c->running) {
        vtimer_del(c->timer);
        return;
    }
    int64_t left = c->picb / channel_channels(i);
    vtimer_mod(c->timer, channel_frames_ns(c, channel_rate(s, i), c->base_frames + MAX(left, 1)));
}

/* Moves the frames due by now: guest memory to the voice for PCM out, silence into
 * guest memory for the inputs. */
static void channel_run(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    if (!c->running)
        return;
    if (!pci_bus_master_enabled(&s->pci)) {
        /* No bus master: nothing moves; the pace starts afresh when it may. */
        c->base_ns = vm_clock_ns(s->vm);
        c->base_frames = 0;
        channel_arm_timer(s, i);
        return;
    }
    unsigned rate = channel_rate(s, i), nch = channel_channels(i);
    int64_t now = vm_clock_ns(s->vm);
    int64_t due = ns_to_ticks(now - c->base_ns, rate) - c->base_frames;
    if (due > (int64_t)rate / 2) {
        /* A state load or a long stall: do not replay more than half a second. */
        c->base_frames += due - rate / 2;
        due = rate / 2;
    }
    GuestMemory *m = vm_mem(s->vm);
    uint8_t buf[4096];
    /* Empty descriptors complete at once; a list of nothing but those must still end. */
    unsigned empty = 0;
    while (c->running && (due > 0 || c->picb == 0)) {
        if (c->picb < nch) {
            c->picb = 0;   /* an odd sample left in a stereo buffer is dropped */
            channel_buffer_done(s, i);
            if (++empty > 2 * BD_ENTRIES) {
                channel_halt(s, i, SR_FIFOE);
                break;
            }
            continue;
        }
        empty = 0;
        size_t frames = MIN((size_t)due, (size_t)(c->picb / nch));
        frames = MIN(frames, sizeof(buf) / (2 * nch));
        size_t bytes = frames * 2 * nch;
        if (i == PO) {
            if (!mem_is_ram(m, c->cur, bytes) || !mem_read(m, c->cur, buf, bytes))
                memset(buf, 0, bytes);   /* outside RAM: the bus gives nothing to play */
            audio_voice_write(s->voice, buf, frames);
        } else {
            /* Read even when the buffer is outside RAM: the input keeps its pace. */
            audio_in_read(s->in[i], buf, frames);
            ac97_shape_input(s, i, buf, frames);
            if (mem_is_ram(m, c->cur, bytes))
                mem_write(m, c->cur, buf, bytes);
        }
        c->cur += (uint32_t)bytes;
        c->picb -= (uint16_t)(frames * nch);
        c->base_frames += (int64_t)frames;
        due -= (int64_t)frames;
    }
    channel_arm_timer(s, i);
    ac97_update_irq(s);
}

static void channel_reset(Ac97 *s, int i)
{
    Ac97Channel *c = &s->ch[i];
    vtimer_del(c->timer);
    c->bdbar = 0;
    c->civ = c->lvi = c->piv = c->cr = 0;
    c->sr = SR_DCH;
    c->picb = 0;
    c->cur = 0;
    c->bd_flags = 0;
    c->running = false;
    c->base_ns = c->base_frames = 0;
    if (s->in[i])
        audio_in_set_active(s->in[i], false);
}

static void po_sync(void *opaque)
{
    channel_run(opaque, PO);
}

static void pi_timer(void *opaque) { channel_run(opaque, PI); }
static void po_timer(void *opaque) { channel_run(opaque, PO); }
static void mc_timer(void *opaque) { channel_run(opaque, MC); }

/* ---- bus master registers (BAR 1) ---- */

static uint8_t channel_read_byte(Ac97 *s, int i, unsigned off)
{
    Ac97Channel *c = &s->ch[i];
    if (off != CH_CR && c->running)
        channel_run(s, i);   /* PICB, CIV and SR as of now */
    switch (off) {
    case CH_BDBAR: case CH_BDBAR + 1: case CH_BDBAR + 2: case CH_BDBAR + 3:
        return (uint8_t)(c->bdbar >> (8 * (off - CH_BDBAR)));
    case CH_CIV: return c->civ;
    case CH_LVI: return c->lvi;
    case CH_SR: return (uint8_t)c->sr;
    case CH_SR + 1: return (uint8_t)(c->sr >> 8);
    case CH_PICB: return (uint8_t)c->picb;
    case CH_PICB + 1: return (uint8_t)(c->picb >> 8);
    case CH_PIV: return c->piv;
    case CH_CR: return c->cr;
    }
    return 0;
}

static void channel_write_cr(Ac97 *s, int i, uint8_t v)
{
    Ac97Channel *c = &s->ch[i];
    if (v & CR_RR) {
        /* PRM: reset registers, only while halted; the bit clears itself. */
        channel_reset(s, i);
        ac97_update_irq(s);
        return;
    }
    bool was = c->cr & CR_RPBM;
    if (c->running)
        channel_run(s, i);
    c->cr = v & CR_MASK;
    if (!was && (v & CR_RPBM)) {
        channel_start(s, i);
        if (c->picb == 0 && !channel_fetch(s, i)) {
            ac97_update_irq(s);
            return;
        }
        channel_run(s, i);
    } else if (was && !(v & CR_RPBM)) {
        channel_halt(s, i, 0);
    }
    ac97_update_irq(s);
}

static void channel_write_byte(Ac97 *s, int i, unsigned off, uint8_t v)
{
    Ac97Channel *c = &s->ch[i];
    switch (off) {
    case CH_BDBAR: case CH_BDBAR + 1: case CH_BDBAR + 2: case CH_BDBAR + 3: {
        unsigned sh = 8 * (off - CH_BDBAR);
        c->bdbar = (c->bdbar & ~(0xffu << sh)) | ((uint32_t)v << sh);
        c->bdbar &= ~7u;   /* descriptors are 8-byte aligned */
        break;
    }
    case CH_LVI:
        if (c->running)
            channel_run(s, i);
        c->lvi = v & (BD_ENTRIES - 1);
        /* Halted at the last valid buffer with RPBM still set: new buffers restart it. */
        if (!c->running && (c->cr & CR_RPBM) && (c->sr & SR_CELV) && c->civ != c->lvi) {
            c->civ = (c->civ + 1) & (BD_ENTRIES - 1);
            channel_start(s, i);
            if (channel_fetch(s, i))
                channel_run(s, i);
        }
        break;
    case CH_SR:
        if (c->running)
            channel_run(s, i);
        c->sr &= (uint16_t)~(v & SR_W1C);
        ac97_update_irq(s);
        break;
    case CH_CR:
        channel_write_cr(s, i, v);
        break;
    default:
        break;   /* CIV, PICB, PIV and SR's high byte are read-only */
    }
}

static void codec_cold_reset(Ac97 *s, bool released)
{
    if (released) {
        s->glob_sta |= STA_PCR;
    } else {
        s->glob_sta &= ~STA_PCR;
        mixer_reset(s);
    }
}

static uint32_t nabm_read(void *opaque, uint32_t off, unsigned size)
{
    Ac97 *s = opaque;
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++) {
        unsigned o = off + k;
        uint8_t b = 0;
        if (o < GLOB_CNT && o % 16 < CH_SIZE)
            b = channel_read_byte(s, (int)(o / 16), o % 16);
        else if (o >= GLOB_CNT && o < GLOB_CNT + 4)
            b = (uint8_t)(s->glob_cnt >> (8 * (o - GLOB_CNT)));
        else if (o >= GLOB_STA && o < GLOB_STA + 4)
            b = (uint8_t)(s->glob_sta >> (8 * (o - GLOB_STA)));
        else if (o == CAS) {
            /* The codec access semaphore: reads 0 once, then 1 until a codec access. */
            b = s->cas;
            s->cas = 1;
        }
        v |= (uint32_t)b << (8 * k);
    }
    return v;
}

static void nabm_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Ac97 *s = opaque;
    if (off == GLOB_CNT && size == 4) {
        bool was_released = s->glob_cnt & CNT_COLD;
        s->glob_cnt = value & CNT_MASK & ~CNT_WARM;   /* warm reset completes at once */
        if (was_released != !!(value & CNT_COLD))
            codec_cold_reset(s, value & CNT_COLD);
        return;
    }
    if (off == GLOB_STA && size == 4) {
        s->glob_sta &= ~(value & STA_W1C);
        return;
    }
    for (unsigned k = 0; k < size; k++) {
        unsigned o = off + k;
        if (o < GLOB_CNT && o % 16 < CH_SIZE)
            channel_write_byte(s, (int)(o / 16), o % 16, (uint8_t)(value >> (8 * k)));
        else if (o == CAS)
            s->cas = 0;
        /* Partial writes of the global registers are ignored, as drivers use dwords. */
    }
}

static const PortOps nabm_ops = {
    .read = nabm_read,
    .write = nabm_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- mixer registers (BAR 0) ---- */

static uint16_t nam_read_word(Ac97 *s, unsigned reg)
{
    return s->mixer[(reg & (NAM_SIZE - 1)) / 2];
}

static void nam_write_word(Ac97 *s, unsigned reg, uint16_t v)
{
    uint16_t *r = &s->mixer[reg / 2];
    switch (reg) {
    case MIX_RESET:
        mixer_reset(s);   /* any write resets the codec's registers */
        return;
    case MIX_MASTER: case MIX_HEADPHONE:
        /* 5-bit attenuation: a 6-bit value sets the 5 bits (AC'97 5.7.2). */
        if (v & 0x2000)
            v = (v & ~0x3f00) | 0x1f00;
        if (v & 0x0020)
            v = (v & ~0x003f) | 0x001f;
        *r = v & 0x9f1f;
        break;
    case MIX_MONO:
        *r = v & 0x801f;
        break;
    case MIX_PCM_OUT: case MIX_LINE: case MIX_CD: case MIX_VIDEO: case MIX_AUX:
        *r = v & 0x9f1f;
        break;
    case MIX_BEEP: *r = v & 0x801e; break;
    case MIX_PHONE: *r = v & 0x801f; break;
    case MIX_MIC: *r = v & 0x805f; break;
    case MIX_REC_SELECT: *r = v & 0x0707; break;
    case MIX_REC_GAIN: *r = v & 0x8f0f; break;
    case MIX_GENERAL: *r = v & 0xb380; break;
    case MIX_3D: *r = v & 0x0f0f; break;
    case MIX_POWERDOWN:
        *r = (v & 0xff00) | 0x000f;   /* the ready bits are the codec's */
        break;
    case MIX_EXT_CTRL:
        *r = v & (EXT_VRA | EXT_VRM);
        if (!(*r & EXT_VRA))
            s->mixer[MIX_FRONT_RATE / 2] = s->mixer[MIX_ADC_RATE / 2] = AC97_RATE;
        if (!(*r & EXT_VRM))
            s->mixer[MIX_MIC_RATE / 2] = AC97_RATE;
        break;
    case MIX_FRONT_RATE: case MIX_ADC_RATE: case MIX_MIC_RATE: {
        bool variable = s->mixer[MIX_EXT_CTRL / 2] & (reg == MIX_MIC_RATE ? EXT_VRM : EXT_VRA);
        if (variable)
            *r = (uint16_t)CLAMP(v, 8000, AC97_RATE);   /* the STAC9700's range */
        break;
    }
    default:
        break;   /* read-only (IDs) or not present: reads keep the codec's value */
    }
    if (reg == MIX_MASTER || reg == MIX_PCM_OUT)
        ac97_update_volume(s);
    if (reg == MIX_FRONT_RATE && s->ch[PO].running) {
        /* A new rate: the pace starts again from now. */
        channel_run(s, PO);
        channel_start(s, PO);
        channel_arm_timer(s, PO);
    }
}

static uint32_t nam_read(void *opaque, uint32_t off, unsigned size)
{
    Ac97 *s = opaque;
    s->cas = 0;
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++) {
        unsigned o = off + k;
        v |= (uint32_t)((nam_read_word(s, o & ~1u) >> (8 * (o & 1))) & 0xff) << (8 * k);
    }
    return v;
}

static void nam_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Ac97 *s = opaque;
    s->cas = 0;
    if (size == 2 && !(off & 1)) {
        nam_write_word(s, off, (uint16_t)value);
    } else if (size == 4 && !(off & 1)) {
        nam_write_word(s, off, (uint16_t)value);
        nam_write_word(s, off + 2, (uint16_t)(value >> 16));
    }
    /* Byte writes do not reach the codec: the AC-link carries 16-bit registers. */
}

static const PortOps nam_ops = {
    .read = nam_read,
    .write = nam_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- the device object ---- */

static void ac97_reset(Device *dev)
{
    Ac97 *s = (Ac97 *)dev;
    pci_device_reset(&s->pci);
    for (int i = 0; i < N_CHANNELS; i++)
        channel_reset(s, i);
    s->glob_cnt = 0;
    s->glob_sta = 0;
    s->cas = 0;
    mixer_reset(s);
    ac97_update_irq(s);
}

static bool ac97_realize(Device *dev, GError **err)
{
    Ac97 *s = (Ac97 *)dev;
    if (!s->audiodev) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs audiodev=ID (add -audiodev none,id=ID for silence)");
        return false;
    }
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err))
        return false;
    s->vm = dev->vm;
    pci_device_init(&s->pci, bus, devfn, "AC97", 0x8086, 0x2415, 0x040100, 0x01);
    s->pci.opaque = s;
    pci_device_set_subsystem(&s->pci, 0x8086, 0x0000);
    pci_device_set_interrupt_pin(&s->pci, 1);
    pci_register_bar_io(&s->pci, 0, NAM_SIZE, &nam_ops, s);
    pci_register_bar_io(&s->pci, 1, NABM_SIZE, &nabm_ops, s);
    static void (*const timer_fn[N_CHANNELS])(void *) = { pi_timer, po_timer, mc_timer };
    for (int i = 0; i < N_CHANNELS; i++)
        s->ch[i].timer = vtimer_new(s->vm, timer_fn[i], s);
    s->voice = audio_voice_new(s->audiodev, dev->id, po_sync, s);
    audio_voice_set_format(s->voice, AUDIO_FMT_S16, 2, AC97_RATE);
    audio_voice_set_active(s->voice, true);
    for (int i = 0; i < N_CHANNELS; i++) {
        if (i == PO)
            continue;
        g_autofree char *name = g_strdup_printf("%s %s", dev->id, channel_name[i]);
        s->in[i] = audio_in_new(s->audiodev, name);
    }
    for (int i = 0; i < N_CHANNELS; i++)
        channel_reset(s, i);
    mixer_reset(s);
    return true;
}

static void ac97_unrealize(Device *dev)
{
    Ac97 *s = (Ac97 *)dev;
    for (int i = 0; i < N_CHANNELS; i++)
        vtimer_free(s->ch[i].timer);
    audio_voice_free(s->voice);
    for (int i = 0; i < N_CHANNELS; i++)
        audio_in_free(s->in[i]);
}

static bool ac97_check(const void *state, GError **err)
{
    const Ac97 *s = state;
    for (int i = 0; i < N_CHANNELS; i++) {
        const Ac97Channel *c = &s->ch[i];
        if (c->civ >= BD_ENTRIES || c->lvi >= BD_ENTRIES || c->piv >= BD_ENTRIES || (c->cr & ~CR_MASK) ||
            (c->bdbar & 7)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "AC97: %s channel registers out of range",
                        channel_name[i]);
            return false;
        }
    }
    return pci_device_state_check(&s->pci, err);
}

static void ac97_post_load(void *state)
{
    Ac97 *s = state;
    pci_device_post_load(&s->pci);
    audio_voice_set_format(s->voice, AUDIO_FMT_S16, 2, channel_rate(s, PO));
    for (int i = 0; i < N_CHANNELS; i++) {
        if (!s->in[i])
            continue;
        audio_in_set_format(s->in[i], AUDIO_FMT_S16, channel_channels(i), channel_rate(s, i));
        audio_in_set_active(s->in[i], s->ch[i].running);
    }
    ac97_update_volume(s);
    ac97_update_irq(s);
}

static const VmStateField ac97_channel_fields[] = {
    VMSTATE_U32(Ac97Channel, bdbar),
    VMSTATE_U8(Ac97Channel, civ),
    VMSTATE_U8(Ac97Channel, lvi),
    VMSTATE_U8(Ac97Channel, piv),
    VMSTATE_U8(Ac97Channel, cr),
    VMSTATE_U16(Ac97Channel, sr),
    VMSTATE_U16(Ac97Channel, picb),
    VMSTATE_U32(Ac97Channel, cur),
    VMSTATE_U16(Ac97Channel, bd_flags),
    VMSTATE_BOOL(Ac97Channel, running),
    VMSTATE_I64(Ac97Channel, base_ns),
    VMSTATE_I64(Ac97Channel, base_frames),
    VMSTATE_TIMER(Ac97Channel, timer),
    VMSTATE_END,
};

static const VmStateDesc ac97_channel_vmsd = {
    .name = "ac97-channel",
    .version = 1,
    .fields = ac97_channel_fields,
};

static const VmStateField ac97_fields[] = {
    VMSTATE_STRUCT(Ac97, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_STRUCT_ARRAY(Ac97, ch, N_CHANNELS, Ac97Channel, &ac97_channel_vmsd),
    VMSTATE_U32(Ac97, glob_cnt),
    VMSTATE_U32(Ac97, glob_sta),
    VMSTATE_U8(Ac97, cas),
    VMSTATE_U16_ARRAY(Ac97, mixer, NAM_SIZE / 2),
    VMSTATE_END,
};

static const VmStateDesc ac97_vmsd = {
    .name = "AC97",
    .version = 1,
    .fields = ac97_fields,
    .check = ac97_check,
    .post_load = ac97_post_load,
};

static const DeviceProp ac97_props[] = {
    PCI_DEVICE_PROP_ADDR(Ac97, addr),
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(Ac97, audiodev), "the audiodev that plays the card",
      NULL, 0, 0, "audiodev" },
    { NULL },
};

static const DeviceClass ac97_class = {
    .name = "AC97",
    .description = "Intel 82801AA AC'97 audio with a STAC9700 codec (PCI 8086:2415)",
    .instance_size = sizeof(Ac97),
    .user_creatable = true,
    .props = ac97_props,
    .vmsd = &ac97_vmsd,
    .realize = ac97_realize,
    .reset = ac97_reset,
    .unrealize = ac97_unrealize,
};

static void __attribute__((constructor)) ac97_register(void)
{
    device_class_register(&ac97_class);
}
