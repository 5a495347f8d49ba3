/* SPDX-License-Identifier: GPL-2.0-or-later */
/* usb-audio: a full-speed USB Audio Class 1 speaker (-device usb-audio,audiodev=ID; QEMU's
 * name). From the USB Device Class Definition for Audio Devices 1.0 ("UAC1" below) and
 * its Audio Data Formats 1.0: an AudioControl interface with an input terminal (USB
 * streaming), a feature unit (master mute and volume) and an output terminal (speaker),
 * and an AudioStreaming interface whose alternate setting 1 has one isochronous adaptive
 * OUT endpoint taking 48 kHz 16-bit stereo PCM, 48 frames each 1 ms frame. Setting 0 has
 * no endpoint (no bandwidth): the voice is active only while setting 1 is selected.
 *
 * The packets go into the audiodev's voice (engine/audio/audio.h). The controllers pace
 * isochronous packets by their frames on the virtual clock, 48 frames a millisecond of
 * guest time, but a packet comes late whenever the guest's driver or the controller's
 * timer does: like a real speaker's FIFO, the device holds PREBUFFER_MS of the stream
 * before the voice plays, and again after the voice ran dry, so that jitter does not
 * become gaps. */
#include "hw/usb/usb.h"
#include "engine/audio/audio.h"

#include <math.h>
#include <string.h>

#define RATE 48000
#define CHANNELS 2
#define FRAME_BYTES 4
/* The cushion against late packets, in frames. */
#define PREBUFFER_FRAMES (RATE / 1000 * 24)
/* 48 frames a millisecond, one more for a host running slightly fast (adaptive sink). */
#define MAX_PACKET ((RATE / 1000 + 1) * FRAME_BYTES)

/* Entity IDs of the AudioControl interface (UAC1 4.3.2). */
enum { ID_INPUT = 1, ID_FEATURE = 2, ID_OUTPUT = 3 };

/* Class requests (UAC1 A.9) and feature unit control selectors (A.10.2). */
enum {
    UAC_SET_CUR = 0x01,
    UAC_GET_CUR = 0x81,
    UAC_GET_MIN = 0x82,
    UAC_GET_MAX = 0x83,
    UAC_GET_RES = 0x84,
    FU_MUTE = 1,
    FU_VOLUME = 2,
    EP_SAMPLING_FREQ = 1,
};

/* Volume in 1/256 dB (UAC1 5.2.2.4.3.2): -64 dB to 0 dB in 1 dB steps. */
#define VOL_MIN ((int16_t)-0x4000)
#define VOL_MAX 0
#define VOL_RES 0x0100

typedef struct UsbAudioState {
    UsbDevice usb;
    AudioDev *audiodev;   /* property */
    AudioVoice *voice;
    /* The stream held back until PREBUFFER_FRAMES are there (host-side timing, not
     * saved: a restored VM starts its cushion again). */
    GByteArray *pending;
    bool flowing;
    /* Guest-visible state. */
    uint8_t alt;          /* AudioStreaming interface's alternate setting */
    bool mute;
    uint16_t volume;      /* int16 in 1/256 dB, stored as its bits */
} UsbAudioState;

/* ---- descriptors ---- */

static const uint8_t audio_device[18] = {
    18, USB_DT_DEVICE, 0x10, 0x01, /* USB 1.1: full speed only */
    0, 0, 0, 64,                   /* class per interface; EP0 64 bytes */
    0xf4, 0x46, 0x02, 0x00,        /* QEMU's IDs, 46f4:0002 */
    0x00, 0x01, 1, 2, 3, 1,
};

#define AC_TOTAL (9 + 12 + 10 + 9)
#define CONFIG_TOTAL (9 + 9 + AC_TOTAL + 9 + 9 + 7 + 11 + 9 + 7)

static const uint8_t audio_config[CONFIG_TOTAL] = {
    9, USB_DT_CONFIG, CONFIG_TOTAL & 0xff, CONFIG_TOTAL >> 8, 2, 1, 0, 0xc0, 50,
    /* Interface 0: AudioControl (UAC1 4.3.1). */
    9, USB_DT_INTERFACE, 0, 0, 0, 1, 1, 0, 0,
    /* Class-specific AC header: ADC 1.00, the descriptors below, streaming interface 1
     * (4.3.2). */
    9, 0x24, 1, 0x00, 0x01, AC_TOTAL & 0xff, AC_TOTAL >> 8, 1, 1,
    /* Input terminal 1: USB streaming, two channels, left and right front (4.3.2.1). */
    12, 0x24, 2, ID_INPUT, 0x01, 0x01, 0, CHANNELS, 0x03, 0x00, 0, 0,
    /* Feature unit 2 from 1: master mute and volume, none per channel (4.3.2.5). */
    10, 0x24, 6, ID_FEATURE, ID_INPUT, 1, 0x03, 0x00, 0x00, 0,
    /* Output terminal 3: speaker, from 2 (4.3.2.2). */
    9, 0x24, 3, ID_OUTPUT, 0x01, 0x03, 0, ID_FEATURE, 0,
    /* Interface 1, setting 0: AudioStreaming without endpoints (4.5.1). */
    9, USB_DT_INTERFACE, 1, 0, 0, 1, 2, 0, 0,
    /* Interface 1, setting 1: one isochronous endpoint. */
    9, USB_DT_INTERFACE, 1, 1, 1, 1, 2, 0, 0,
    /* AS general: linked to terminal 1, one frame of delay, PCM (4.5.2). */
    7, 0x24, 1, ID_INPUT, 1, 0x01, 0x00,
    /* Type I format: 2 channels, 2-byte subframes, 16 bits, one rate (Formats 2.2.5). */
    11, 0x24, 2, 1, CHANNELS, 2, 16, 1, RATE & 0xff, (RATE >> 8) & 0xff, RATE >> 16,
    /* Endpoint 1 OUT, isochronous adaptive, every frame (standard AS endpoint, 4.6.1.1). */
    9, USB_DT_ENDPOINT, 0x01, 0x09, MAX_PACKET & 0xff, MAX_PACKET >> 8, 1, 0, 0,
    /* Class-specific endpoint: no sampling frequency or pitch control (4.6.1.2). */
    7, 0x25, 1, 0x00, 0, 0, 0,
};

static const char *const audio_strings[] = { "QEMU", "QEMU USB Audio", "1" };

static const UsbDescriptors audio_desc = {
    audio_device, audio_config, sizeof(audio_config), audio_strings, G_N_ELEMENTS(audio_strings),
};

/* ---- the voice ---- */

static void audio_apply_volume(UsbAudioState *s)
{
    if (!s->voice)
        return;
    uint32_t gain = 0;
    if (!s->mute) {
        double db = (int16_t)s->volume / 256.0;
        gain = (uint32_t)lround(65536.0 * pow(10.0, db / 20.0));
    }
    audio_voice_set_volume(s->voice, gain, gain);
}

static void audio_apply_alt(UsbAudioState *s)
{
    if (s->voice)
        audio_voice_set_active(s->voice, s->usb.config && s->alt == 1);
    if (s->pending)
        g_byte_array_set_size(s->pending, 0);
    s->flowing = false;
}

/* The mixer asks for what was produced up to now: the packets arrived already. */
static void audio_sync(void *opaque)
{
    (void)opaque;
}

/* ---- requests ---- */

static int put16(uint8_t *data, uint16_t length, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    size_t n = MIN((size_t)length, sizeof(b));
    memcpy(data, b, n);
    return (int)n;
}

/* Feature unit requests to entity 2 of interface 0 (UAC1 5.2.2.4). */
static int feature_request(UsbAudioState *s, const UsbSetup *st, uint8_t *data)
{
    unsigned cs = st->value >> 8, ch = st->value & 0xff;
    if (ch != 0)
        return -1;
    bool set = st->type == 0x21;
    if (cs == FU_MUTE) {
        if (set) {
            if (st->length < 1)
                return -1;
            s->mute = data[0] & 1;
            audio_apply_volume(s);
            return 0;
        }
        if (st->request != UAC_GET_CUR || st->length < 1)
            return -1;
        data[0] = s->mute;
        return 1;
    }
    if (cs != FU_VOLUME)
        return -1;
    if (set) {
        if (st->request != UAC_SET_CUR || st->length < 2)
            return -1;
        int v = (int16_t)(data[0] | data[1] << 8);
        /* 0x8000 is "silence" (-infinity, 5.2.2.4.3.2): the bottom of the range here. */
        s->volume = (uint16_t)CLAMP(v, VOL_MIN, VOL_MAX);
        audio_apply_volume(s);
        return 0;
    }
    switch (st->request) {
    case UAC_GET_CUR: return put16(data, st->length, s->volume);
    case UAC_GET_MIN: return put16(data, st->length, (uint16_t)VOL_MIN);
    case UAC_GET_MAX: return put16(data, st->length, VOL_MAX);
    case UAC_GET_RES: return put16(data, st->length, VOL_RES);
    default: return -1;
    }
}

static int audio_control(UsbDevice *d, const UsbSetup *st, uint8_t *data)
{
    UsbAudioState *s = (UsbAudioState *)d;
    switch (st->type) {
    case 0x21: /* class, interface, OUT */
    case 0xa1: /* class, interface, IN */
        if ((st->index & 0xff) != 0 || st->index >> 8 != ID_FEATURE)
            return -1;
        if (st->type == 0x21 && st->request != UAC_SET_CUR)
            return -1;
        return feature_request(s, st, data);
    case 0x22: /* class, endpoint, OUT */
    case 0xa2: /* class, endpoint, IN */
        /* The rate is fixed: SET_CUR of 48000 Hz is accepted, GET_CUR says it (5.2.3.2.3.1). */
        if ((st->index & 0xff) != 0x01 || st->value >> 8 != EP_SAMPLING_FREQ || st->length < 3)
            return -1;
        if (st->type == 0x22)
            return st->request == UAC_SET_CUR && (data[0] | data[1] << 8 | data[2] << 16) == RATE ? 0 : -1;
        if (st->request != UAC_GET_CUR)
            return -1;
        data[0] = RATE & 0xff;
        data[1] = (RATE >> 8) & 0xff;
        data[2] = RATE >> 16;
        return 3;
    default:
        return -1;
    }
}

static int audio_set_interface(UsbDevice *d, uint8_t iface, uint8_t alt)
{
    UsbAudioState *s = (UsbAudioState *)d;
    if (iface == 0)
        return alt == 0 ? 0 : -1;
    if (iface != 1 || alt > 1)
        return -1;
    s->alt = alt;
    audio_apply_alt(s);
    return 0;
}

static uint8_t audio_get_interface(UsbDevice *d, uint8_t iface)
{
    UsbAudioState *s = (UsbAudioState *)d;
    return iface == 1 ? s->alt : 0;
}

static void audio_request_done(UsbDevice *d, const UsbSetup *st)
{
    UsbAudioState *s = (UsbAudioState *)d;
    /* SET_CONFIGURATION selects setting 0 of every interface (USB 2.0 9.1.1.5). */
    if (st->type == 0 && st->request == 9) {
        s->alt = 0;
        audio_apply_alt(s);
    }
}

/* Isochronous OUT packets on endpoint 1: whole frames of PCM for the voice. There is no
 * handshake on an isochronous pipe (USB 2.0 5.6.5): a packet outside setting 1, or a
 * trailing partial frame, is dropped. */
static void audio_data(UsbDevice *d, UsbPacket *p)
{
    UsbAudioState *s = (UsbAudioState *)d;
    if (p->pid != USB_TOKEN_OUT || p->ep != 1) {
        p->result = USB_RET_STALL;
        return;
    }
    p->result = USB_RET_SUCCESS;
    if (s->alt != 1 || !s->voice)
        return;
    size_t frames = MIN(p->len, (size_t)MAX_PACKET) / FRAME_BYTES;
    if (!frames)
        return;
    /* The voice ran dry: the mixer played silence, and the cushion builds up again. */
    if (s->flowing && !audio_voice_queued(s->voice))
        s->flowing = false;
    if (s->flowing) {
        audio_voice_write(s->voice, p->data, frames);
        return;
    }
    g_byte_array_append(s->pending, p->data, (guint)(frames * FRAME_BYTES));
    if (s->pending->len >= PREBUFFER_FRAMES * FRAME_BYTES) {
        audio_voice_write(s->voice, s->pending->data, s->pending->len / FRAME_BYTES);
        g_byte_array_set_size(s->pending, 0);
        s->flowing = true;
    }
}

static const UsbDeviceOps audio_ops = {
    .control = audio_control,
    .data = audio_data,
    .request_done = audio_request_done,
    .set_interface = audio_set_interface,
    .get_interface = audio_get_interface,
};

/* ---- the device object ---- */

static void audio_reset(Device *dev)
{
    UsbAudioState *s = (UsbAudioState *)dev;
    usb_device_reset_core(&s->usb);
    s->alt = 0;
    s->mute = false;
    s->volume = VOL_MAX;
    audio_apply_alt(s);
    audio_apply_volume(s);
}

static bool audio_realize(Device *dev, GError **err)
{
    UsbAudioState *s = (UsbAudioState *)dev;
    if (!s->audiodev) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs audiodev=ID (add -audiodev none,id=ID for silence)");
        return false;
    }
    s->usb.ops = &audio_ops;
    s->usb.desc = &audio_desc;
    s->usb.speed = USB_SPEED_FULL;
    if (!usb_device_attach(&s->usb, err))
        return false;
    s->pending = g_byte_array_new();
    s->voice = audio_voice_new(s->audiodev, dev->id, audio_sync, s);
    audio_voice_set_format(s->voice, AUDIO_FMT_S16, CHANNELS, RATE);
    s->volume = VOL_MAX;
    audio_apply_alt(s);
    audio_apply_volume(s);
    return true;
}

static void audio_unrealize(Device *dev)
{
    UsbAudioState *s = (UsbAudioState *)dev;
    usb_device_detach(&s->usb);
    if (s->voice) {
        audio_voice_free(s->voice);
        s->voice = NULL;
    }
    if (s->pending) {
        g_byte_array_unref(s->pending);
        s->pending = NULL;
    }
}

static bool audio_check(const void *state, GError **err)
{
    const UsbAudioState *s = state;
    if (!usb_device_state_check(&s->usb, err))
        return false;
    int16_t v = (int16_t)s->volume;
    if (s->usb.config > 1 || s->alt > 1 || v < VOL_MIN || v > VOL_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "usb-audio: configuration %u, setting %u or volume %d out of range", s->usb.config, s->alt, v);
        return false;
    }
    return true;
}

static void audio_post_load(void *state)
{
    UsbAudioState *s = state;
    audio_apply_alt(s);
    audio_apply_volume(s);
}

static const VmStateField audio_fields[] = {
    VMSTATE_STRUCT(UsbAudioState, usb, UsbDevice, &usb_device_vmsd),
    VMSTATE_U8(UsbAudioState, alt),
    VMSTATE_BOOL(UsbAudioState, mute),
    VMSTATE_U16(UsbAudioState, volume),
    VMSTATE_END,
};

static const VmStateDesc audio_vmsd = {
    .name = "usb-audio",
    .version = 1,
    .fields = audio_fields,
    .check = audio_check,
    .post_load = audio_post_load,
};

static const DeviceProp audio_props[] = {
    USB_DEVICE_PROPS(UsbAudioState),
    { "audiodev", DEVICE_PROP_BACKEND, offsetof(UsbAudioState, audiodev), "the audiodev that plays the speaker",
      NULL, 0, 0, "audiodev" },
    { NULL },
};

static const DeviceClass audio_class = {
    .name = "usb-audio",
    .description = "USB Audio Class 1 speaker (48 kHz 16-bit stereo, isochronous)",
    .instance_size = sizeof(UsbAudioState),
    .user_creatable = true,
    .props = audio_props,
    .vmsd = &audio_vmsd,
    .realize = audio_realize,
    .reset = audio_reset,
    .unrealize = audio_unrealize,
    .unplug = usb_device_unplug,
    .bus_place = usb_device_bus_place,
};

__attribute__((constructor)) static void audio_register(void)
{
    device_class_register(&audio_class);
}
