/* SPDX-License-Identifier: GPL-2.0-or-later */
/* HD Audio codecs for the intel-hda link (-device hda-duplex,audiodev=ID and
 * -device hda-output,audiodev=ID; QEMU's names and codec IDs, so guests moved from QEMU
 * keep their driver binding).
 *
 * After the "High Definition Audio Specification" revision 1.0a (HDA below), section 7:
 * the codec is a tree of nodes addressed by verbs (7.3). Node 0 is the root, node 1 the
 * audio function group; below it
 *   2  output converter (DAC), stereo, an output amplifier   -> 3  line-out pin (green jack)
 *   4  input converter (ADC), stereo, an input amplifier     <- 5  line-in pin (blue jack)
 * (hda-output has nodes 2 and 3 only). The parameters (7.3.4) describe them so that a
 * generic driver (Linux's snd-hda-codec-generic, Windows' HD Audio class driver) builds
 * one playback and one capture path.
 *
 * The DAC takes the samples of the stream number it was given (verb 706h) from the
 * controller, in the stream's format, and plays them through the audiodev; its amplifier
 * and the pin's output enable set the voice's volume. The ADC records the audiodev's
 * capture (its in.* options; silence without one) through codec_capture, from the moment
 * the driver gives it a stream number until it takes it back; the line-in pin's input
 * enable and the ADC's input amplifier (gain and mute per channel) shape what it hears. */
#include "engine/audio/audio.h"
#include "engine/log.h"
#include "engine/machine.h"
#include "hw/audio/intel-hda.h"

#include <math.h>
#include <string.h>

enum { NID_ROOT, NID_AFG, NID_DAC, NID_OUT_PIN, NID_ADC, NID_IN_PIN, N_NODES };

/* Parameters (HDA 7.3.4). */
enum {
    P_VENDOR_ID = 0x00, P_REVISION_ID = 0x02, P_NODE_COUNT = 0x04, P_FG_TYPE = 0x05, P_AFG_CAP = 0x08,
    P_WIDGET_CAP = 0x09, P_PCM = 0x0a, P_STREAM_FORMATS = 0x0b, P_PIN_CAP = 0x0c, P_AMP_IN_CAP = 0x0d,
    P_CONNLIST_LEN = 0x0e, P_POWER_STATES = 0x0f, P_PROC_CAP = 0x10, P_GPIO_CAP = 0x11,
    P_AMP_OUT_CAP = 0x12, P_VOLUME_KNOB_CAP = 0x13,
};
/* Audio widget capabilities (7.3.4.6). */
#define WCAP_STEREO (1u << 0)
#define WCAP_IN_AMP (1u << 1)
#define WCAP_OUT_AMP (1u << 2)
#define WCAP_AMP_OVRD (1u << 3)
#define WCAP_FMT_OVRD (1u << 4)
#define WCAP_CONN_LIST (1u << 8)
#define WCAP_POWER (1u << 10)
#define WCAP_TYPE(t) ((uint32_t)(t) << 20)
enum { WTYPE_OUTPUT = 0, WTYPE_INPUT = 1, WTYPE_PIN = 4 };
/* PCM sizes and rates (7.3.4.7): 16 bits; 8, 11.025, 16, 22.05, 32, 44.1, 48, 88.2 and 96 kHz. */
#define PCM_CAPS (1u << 17 | 0x1ff)
/* Amplifier (7.3.4.10): mute, 1 dB steps (4 quarter dB), 0-74 with 0 dB at 74. */
#define AMP_STEPS 74
#define AMP_CAPS (1u << 31 | 3u << 16 | (uint32_t)AMP_STEPS << 8 | AMP_STEPS)
#define AMP_MUTE 0x80
/* Pin capabilities (7.3.4.9) and widget control (7.3.3.13). */
#define PINCAP_OUT (1u << 4)
#define PINCAP_IN (1u << 5)
#define PINCAP_EAPD (1u << 16)
#define PINCTL_OUT_EN 0x40
#define PINCTL_IN_EN 0x20
/* Configuration defaults (7.3.3.31): a jack at the rear, 1/8", no presence detection;
 * line out green in association 1, line in blue in association 2. */
#define CONFIG_LINE_OUT 0x01014110u
#define CONFIG_LINE_IN 0x01813120u
#define DEFAULT_FORMAT 0x0011   /* 48 kHz, 16 bits, stereo */

typedef struct HdaCodec {
    Device dev;
    AudioDev *audiodev;     /* property */
    Vm *vm;
    bool duplex;            /* wiring: hda-duplex (has the input path) or hda-output */
    IntelHda *hda;
    unsigned cad;
    AudioVoice *voice;
    AudioIn *in;            /* the line input (hda-duplex) */
    /* Node state, set by verbs. */
    uint16_t dac_fmt, adc_fmt;
    uint8_t dac_stream, adc_stream;     /* stream number << 4 | lowest channel (7.3.3.11) */
    uint8_t dac_amp[2], adc_amp[2];     /* left, right: mute bit, gain */
    uint8_t out_pinctl, in_pinctl, out_eapd;
    uint8_t power[N_NODES];
    uint8_t unsol[N_NODES];
    uint32_t config[2];                 /* the pins' configuration defaults */
    uint32_t subsystem;
} HdaCodec;

static bool node_exists(const HdaCodec *s, unsigned nid)
{
    return nid < (s->duplex ? N_NODES : NID_ADC);
}

static uint32_t widget_caps(unsigned nid)
{
    switch (nid) {
    case NID_DAC:
        return WCAP_TYPE(WTYPE_OUTPUT) | WCAP_STEREO | WCAP_OUT_AMP | WCAP_AMP_OVRD | WCAP_FMT_OVRD | WCAP_POWER;
    case NID_OUT_PIN:
        return WCAP_TYPE(WTYPE_PIN) | WCAP_STEREO | WCAP_CONN_LIST | WCAP_POWER;
    case NID_ADC:
        return WCAP_TYPE(WTYPE_INPUT) | WCAP_STEREO | WCAP_IN_AMP | WCAP_AMP_OVRD | WCAP_FMT_OVRD |
               WCAP_CONN_LIST | WCAP_POWER;
    case NID_IN_PIN:
        return WCAP_TYPE(WTYPE_PIN) | WCAP_STEREO | WCAP_POWER;
    }
    return 0;
}

static uint32_t codec_parameter(const HdaCodec *s, unsigned nid, unsigned p)
{
    if (nid == NID_ROOT) {
        switch (p) {
        case P_VENDOR_ID: return s->duplex ? 0x1af40022 : 0x1af40012;
        case P_REVISION_ID: return 0x00100101;
        case P_NODE_COUNT: return NID_AFG << 16 | 1;
        }
        return 0;
    }
    if (nid == NID_AFG) {
        switch (p) {
        case P_NODE_COUNT: return NID_DAC << 16 | (s->duplex ? 4 : 2);
        case P_FG_TYPE: return 0x01;   /* audio function group */
        case P_PCM: return PCM_CAPS;
        case P_STREAM_FORMATS: return 0x1;   /* PCM */
        case P_POWER_STATES: return 0xf;     /* D0-D3 */
        }
        return 0;
    }
    switch (p) {
    case P_WIDGET_CAP: return widget_caps(nid);
    case P_PCM: return nid == NID_DAC || nid == NID_ADC ? PCM_CAPS : 0;
    case P_STREAM_FORMATS: return nid == NID_DAC || nid == NID_ADC ? 0x1 : 0;
    case P_PIN_CAP: return nid == NID_OUT_PIN ? PINCAP_OUT | PINCAP_EAPD : nid == NID_IN_PIN ? PINCAP_IN : 0;
    case P_AMP_IN_CAP: return nid == NID_ADC ? AMP_CAPS : 0;
    case P_AMP_OUT_CAP: return nid == NID_DAC ? AMP_CAPS : 0;
    case P_CONNLIST_LEN: return nid == NID_OUT_PIN || nid == NID_ADC ? 1 : 0;
    case P_POWER_STATES: return 0xf;
    }
    return 0;
}

/* ---- output ---- */

static uint32_t amp_gain(uint8_t amp)
{
    if (amp & AMP_MUTE)
        return 0;
    int db = (int)MIN(amp & 0x7f, AMP_STEPS) - AMP_STEPS;
    return (uint32_t)lround(65536.0 * pow(10.0, db / 20.0));
}

static void codec_update_voice(HdaCodec *s)
{
    HdaFormat f;
    if (!hda_format_decode(s->dac_fmt, &f))
        f.rate = 48000, f.channels = 2;
    audio_voice_set_format(s->voice, AUDIO_FMT_S16, MIN(f.channels, 2), f.rate);
    bool on = (s->out_pinctl & PINCTL_OUT_EN) && (s->power[NID_AFG] & 0xf) == 0;
    audio_voice_set_volume(s->voice, on ? amp_gain(s->dac_amp[0]) : 0, on ? amp_gain(s->dac_amp[1]) : 0);
}

/* One sample of a stream as 16 bits: 8-bit samples are unsigned, wider ones signed and
 * MSB-justified in their 32-bit container. */
static int16_t sample_s16(const uint8_t *p, unsigned container)
{
    switch (container) {
    case 1: return (int16_t)((p[0] - 128) * 256);
    case 2: return (int16_t)(p[0] | p[1] << 8);
    default: return (int16_t)(p[2] | p[3] << 8);
    }
}

static void codec_output(void *opaque, unsigned stream, const HdaFormat *f, const uint8_t *data, size_t bytes)
{
    HdaCodec *s = opaque;
    if (stream != (unsigned)(s->dac_stream >> 4))
        return;
    HdaFormat dac;
    if (!hda_format_decode(s->dac_fmt, &dac))
        return;
    unsigned nch = MIN(dac.channels, 2), first = s->dac_stream & 0xf;
    size_t fb = (size_t)f->container * f->channels, frames = bytes / fb;
    int16_t out[1024];
    size_t done = 0;
    while (done < frames) {
        size_t n = MIN(frames - done, G_N_ELEMENTS(out) / 2);
        for (size_t k = 0; k < n; k++) {
            const uint8_t *fr = data + (done + k) * fb;
            for (unsigned c = 0; c < nch; c++) {
                unsigned ch = first + c;
                out[k * nch + c] = ch < f->channels ? sample_s16(fr + ch * f->container, f->container) : 0;
            }
        }
        audio_voice_write(s->voice, out, n);
        done += n;
    }
}

/* ---- input ---- */

/* The ADC records while it has a stream number (7.3.3.11): that is when a driver has
 * prepared capture, so the host side opens then and closes when it is taken back. */
static void codec_update_input(HdaCodec *s)
{
    if (s->in)
        audio_in_set_active(s->in, (s->adc_stream >> 4) != 0);
}

/* The line-in jack: what the audiodev captures, in the stream's format (the first two
 * channels; any others, and the bits past 16 of wider samples, are zero). */
static void codec_capture(HdaCodec *s, const HdaFormat *f, uint8_t *data, size_t bytes)
{
    uint8_t silence = f->container == 1 ? 0x80 : 0;
    size_t frame = (size_t)f->container * f->channels;
    size_t frames = frame ? bytes / frame : 0;
    memset(data, silence, bytes);
    if (!s->in || !frames)
        return;
    unsigned ch = MIN(f->channels, 2u);
    bool u8 = f->container == 1;
    /* The path from the jack: the pin passes it only with In Enable set (HDA 7.3.3.13),
     * the function group must be powered, then the ADC's input amplifier (7.3.3.7). */
    bool on = (s->in_pinctl & PINCTL_IN_EN) && (s->power[NID_AFG] & 0xf) == 0;
    uint32_t gain[2] = { on ? amp_gain(s->adc_amp[0]) : 0, on ? amp_gain(s->adc_amp[1]) : 0 };
    audio_in_set_format(s->in, u8 ? AUDIO_FMT_U8 : AUDIO_FMT_S16, ch, f->rate);
    audio_in_set_active(s->in, true);
    uint8_t tmp[512 * 2 * 2];
    for (size_t done = 0; done < frames;) {
        size_t n = MIN(frames - done, (size_t)512);
        audio_in_read(s->in, tmp, n);
        for (size_t k = 0; k < n; k++) {
            uint8_t *out = data + (done + k) * frame;
            for (unsigned c = 0; c < ch; c++) {
                if (u8) {
                    int32_t v = (int32_t)tmp[k * ch + c] - 128;
                    out[c] = (uint8_t)(128 + (((int64_t)v * gain[c]) >> 16));
                } else {
                    const uint8_t *in = tmp + 2 * (k * ch + c);
                    int32_t v = (int16_t)(in[0] | in[1] << 8);
                    uint16_t g = (uint16_t)(int16_t)(((int64_t)v * gain[c]) >> 16);
                    /* Little-endian; a 4-byte container holds the sample in its top bits. */
                    uint8_t *o = out + (size_t)c * f->container + (f->container == 4 ? 2 : 0);
                    o[0] = (uint8_t)g;
                    o[1] = (uint8_t)(g >> 8);
                }
            }
        }
        done += n;
    }
}

static bool codec_input(void *opaque, unsigned stream, const HdaFormat *f, uint8_t *data, size_t bytes)
{
    HdaCodec *s = opaque;
    if (!s->duplex || stream != (unsigned)(s->adc_stream >> 4))
        return false;
    codec_capture(s, f, data, bytes);
    return true;
}

/* ---- verbs (HDA 7.3.3) ---- */

static void codec_reset_state(HdaCodec *s)
{
    s->dac_fmt = s->adc_fmt = DEFAULT_FORMAT;
    s->dac_stream = s->adc_stream = 0;
    /* Amplifiers come up muted at 0 dB; pins disabled; every node in D0. */
    s->dac_amp[0] = s->dac_amp[1] = AMP_MUTE | AMP_STEPS;
    s->adc_amp[0] = s->adc_amp[1] = AMP_MUTE | AMP_STEPS;
    s->out_pinctl = s->in_pinctl = 0;
    s->out_eapd = 0x2;   /* EAPD: the external amplifier powered */
    memset(s->power, 0, sizeof(s->power));
    memset(s->unsol, 0, sizeof(s->unsol));
    s->config[0] = CONFIG_LINE_OUT;
    s->config[1] = CONFIG_LINE_IN;
    s->subsystem = 0x1af41100;
    if (s->voice)
        codec_update_voice(s);
    codec_update_input(s);
}

/* 3h/Bh: amplifier gain and mute (7.3.3.7). */
static uint32_t amp_verb(HdaCodec *s, unsigned nid, bool set, uint16_t payload)
{
    uint8_t *amp = nid == NID_DAC ? s->dac_amp : nid == NID_ADC ? s->adc_amp : NULL;
    bool output = payload & 0x8000;
    if (!set) {
        /* Get: bit 15 output, bit 13 left, bits 3:0 the input index. */
        if (!amp || output != (nid == NID_DAC) || (payload & 0xf))
            return 0;
        return amp[payload & 0x2000 ? 0 : 1];
    }
    /* Set: bit 15 output, 14 input, 13 left, 12 right, 11:8 index, 7 mute, 6:0 gain. */
    bool mine = nid == NID_DAC ? output : (payload & 0x4000) && ((payload >> 8) & 0xf) == 0;
    if (!amp || !mine)
        return 0;
    uint8_t v = (uint8_t)((payload & AMP_MUTE) | MIN(payload & 0x7f, AMP_STEPS));
    if (payload & 0x2000)
        amp[0] = v;
    if (payload & 0x1000)
        amp[1] = v;
    if (nid == NID_DAC)
        codec_update_voice(s);
    return 0;
}

static uint32_t codec_command(void *opaque, uint32_t cmd)
{
    HdaCodec *s = opaque;
    unsigned nid = (cmd >> 20) & 0xff;
    uint32_t verb = cmd & 0xfffff;
    if (!node_exists(s, nid))
        return 0;
    bool converter = nid == NID_DAC || nid == NID_ADC;
    uint16_t *fmt = nid == NID_DAC ? &s->dac_fmt : &s->adc_fmt;
    uint8_t *strm = nid == NID_DAC ? &s->dac_stream : &s->adc_stream;
    bool pin = nid == NID_OUT_PIN || nid == NID_IN_PIN;
    int pin_idx = nid == NID_OUT_PIN ? 0 : 1;
    /* Verbs with a 4-bit ID and a 16-bit payload. */
    switch (verb >> 16) {
    case 0x2:
        if (converter) {
            *fmt = (uint16_t)verb;
            if (nid == NID_DAC)
                codec_update_voice(s);
        }
        return 0;
    case 0xa:
        return converter ? *fmt : 0;
    case 0x3:
        return amp_verb(s, nid, true, (uint16_t)verb);
    case 0xb:
        return amp_verb(s, nid, false, (uint16_t)verb);
    case 0x4: case 0x5: case 0xc: case 0xd:
        return 0;   /* coefficients: no processing widgets */
    }
    unsigned id = verb >> 8, p = verb & 0xff;
    switch (id) {
    case 0xf00:
        return codec_parameter(s, nid, p);
    case 0xf02:
        /* Connection list entries from index p, four per response (7.3.3.3). */
        if (p == 0 && nid == NID_OUT_PIN)
            return NID_DAC;
        if (p == 0 && nid == NID_ADC)
            return NID_IN_PIN;
        return 0;
    case 0xf01: case 0x701:
        return 0;   /* connection select: one entry, always index 0 */
    case 0xf05:
        return (uint32_t)MAX(s->power[nid], s->power[NID_AFG]) << 4 | s->power[nid];
    case 0x705:
        if (nid != NID_ROOT && (p & 0xf) <= 3) {
            s->power[nid] = p & 0xf;
            codec_update_voice(s);
        }
        return 0;
    case 0xf06:
        return converter ? *strm : 0;
    case 0x706:
        if (converter) {
            *strm = (uint8_t)p;
            if (nid == NID_ADC)
                codec_update_input(s);
        }
        return 0;
    case 0xf07:
        return nid == NID_OUT_PIN ? s->out_pinctl : nid == NID_IN_PIN ? s->in_pinctl : 0;
    case 0x707:
        if (nid == NID_OUT_PIN) {
            s->out_pinctl = (uint8_t)(p & (PINCTL_OUT_EN | 0x80));
            codec_update_voice(s);
        } else if (nid == NID_IN_PIN) {
            s->in_pinctl = (uint8_t)(p & (PINCTL_IN_EN | 0x07));
        }
        return 0;
    case 0xf08:
        return s->unsol[nid];
    case 0x708:
        s->unsol[nid] = (uint8_t)(p & 0xbf);   /* stored; the jacks never change */
        return 0;
    case 0xf09:
        return 0;   /* pin sense: no presence detection */
    case 0xf0c:
        return nid == NID_OUT_PIN ? s->out_eapd : 0;
    case 0x70c:
        if (nid == NID_OUT_PIN)
            s->out_eapd = (uint8_t)(p & 0x7);
        return 0;
    case 0xf1c:
        return pin ? s->config[pin_idx] : 0;
    case 0x71c: case 0x71d: case 0x71e: case 0x71f:
        if (pin) {
            unsigned sh = 8 * (id - 0x71c);
            s->config[pin_idx] = (s->config[pin_idx] & ~(0xffu << sh)) | (uint32_t)p << sh;
        }
        return 0;
    case 0xf20:
        return nid == NID_AFG ? s->subsystem : 0;
    case 0x720: case 0x721: case 0x722: case 0x723:
        if (nid == NID_AFG) {
            unsigned sh = 8 * (id - 0x720);
            s->subsystem = (s->subsystem & ~(0xffu << sh)) | (uint32_t)p << sh;
        }
        return 0;
    case 0x7ff:
        if (nid == NID_AFG) {
            VLOG(LOG_AUDIO, "%s: function group reset", s->dev.id);
            codec_reset_state(s);
        }
        return 0;
    }
    return 0;   /* verbs these nodes do not have answer zero */
}

static void codec_link_reset(void *opaque)
{
    codec_reset_state(opaque);
}

static const HdaCodecOps codec_ops = {
    .command = codec_command,
    .output = codec_output,
    .input = codec_input,
    .reset = codec_link_reset,
};

static void codec_sync(void *opaque)
{
    HdaCodec *s = opaque;
    intel_hda_sync_output(s->hda);
}

/* ---- the device objects ---- */

static void codec_reset(Device *dev)
{
    codec_reset_state((HdaCodec *)dev);
}

static bool codec_realize(Device *dev, GError **err)
{
    HdaCodec *s = (HdaCodec *)dev;
    if (!s->audiodev) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs audiodev=ID (add -audiodev none,id=ID for silence)");
        return false;
    }
    s->vm = dev->vm;
    s->duplex = strcmp(dev->klass->name, "hda-duplex") == 0;
    s->hda = intel_hda_attach_codec(dev->vm, &codec_ops, s, &s->cad, err);
    if (!s->hda)
        return false;
    s->voice = audio_voice_new(s->audiodev, dev->id, codec_sync, s);
    audio_voice_set_active(s->voice, true);
    if (s->duplex) {
        g_autofree char *name = g_strdup_printf("%s line in", dev->id);
        s->in = audio_in_new(s->audiodev, name);
    }
    codec_reset_state(s);
    return true;
}

static void codec_unrealize(Device *dev)
{
    HdaCodec *s = (HdaCodec *)dev;
    intel_hda_detach_codec(s->hda, s->cad);
    audio_voice_free(s->voice);
    audio_in_free(s->in);
}

static void codec_post_load(void *state)
{
    codec_update_voice(state);
    codec_update_input(state);
}

static const VmStateField codec_fields[] = {
    VMSTATE_U16(HdaCodec, dac_fmt),
    VMSTATE_U16(HdaCodec, adc_fmt),
    VMSTATE_U8(HdaCodec, dac_stream),
    VMSTATE_U8(HdaCodec, adc_stream),
    VMSTATE_U8_ARRAY(HdaCodec, dac_amp, 2),
    VMSTATE_U8_ARRAY(HdaCodec, adc_amp, 2),
    VMSTATE_U8(HdaCodec, out_pinctl),
    VMSTATE_U8(HdaCodec, in_pinctl),
    VMSTATE_U8(HdaCodec, out_eapd),
    VMSTATE_U8_ARRAY(HdaCodec, power, N_NODES),
    VMSTATE_U8_ARRAY(HdaCodec, unsol, N_NODES),
    VMSTATE_U32_ARRAY(HdaCodec, config, 2),
    VMSTATE_U32(HdaCodec, subsystem),
    VMSTATE_END,
};

static const VmStateDesc codec_vmsd = {
    .name = "hda-codec",
    .version = 1,
    .fields = codec_fields,
    .post_load = codec_post_load,
};

static const DeviceProp codec_props[] = {
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(HdaCodec, audiodev), "the audiodev that plays the codec",
      NULL, 0, 0, "audiodev" },
    { NULL },
};

static const DeviceClass duplex_class = {
    .name = "hda-duplex",
    .description = "HD Audio codec with line out and line in (on intel-hda)",
    .instance_size = sizeof(HdaCodec),
    .user_creatable = true,
    .props = codec_props,
    .vmsd = &codec_vmsd,
    .realize = codec_realize,
    .reset = codec_reset,
    .unrealize = codec_unrealize,
};

static const DeviceClass output_class = {
    .name = "hda-output",
    .description = "HD Audio codec with line out (on intel-hda)",
    .instance_size = sizeof(HdaCodec),
    .user_creatable = true,
    .props = codec_props,
    .vmsd = &codec_vmsd,
    .realize = codec_realize,
    .reset = codec_reset,
    .unrealize = codec_unrealize,
};

static void __attribute__((constructor)) codec_register(void)
{
    device_class_register(&duplex_class);
    device_class_register(&output_class);
}
