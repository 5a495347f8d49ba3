/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input voices (see audio.h): the host's captured frames queue per voice at the host
 * rate and are resampled to the device's rate when it reads. */
#include "vireo-config.h"
#include "engine/audio/audio-int.h"
#include "engine/backend.h"

#include <string.h>

/* A voice holds at most a second of captured frames: a device reads a whole DMA buffer
 * (up to about 0.7 s on an AC'97) at its end; anything older is dropped. */
#define IN_CAP_DIV 1
/* A real-time capture (a sound server, a front end's microphone) delivers in bursts some
 * tens of milliseconds late, later still on a busy host, while a device reads a whole DMA
 * buffer's frames at once when it ends. So a voice starts IN_DELAY (1/IN_DELAY_DIV s)
 * behind the capture: the host's late frames then arrive before the device asks for
 * them, where reading them "on time" left a gap at the end of every buffer. A file
 * (capture_sync) produces its frames on the virtual clock and needs no delay. */
#define IN_DELAY_DIV 10

struct AudioIn {
    AudioDev *dev;
    char *name;
    AudioFormat fmt;
    unsigned channels, rate;
    bool active;
    /* Host-rate stereo frames (in_lock). */
    int16_t *ring;
    size_t cap, head, count;
    /* Resampler: position of the next device frame past prev, 32.32, and host frames per
     * device frame. */
    uint64_t frac, step;
    int16_t prev[2];
};

static void in_reset_stream(AudioIn *in)
{
    in->head = in->count = 0;
    in->frac = 0;
    in->prev[0] = in->prev[1] = 0;
}

/* in_lock held: a voice that starts recording from a real-time capture begins with the
 * last IN_DELAY the capture delivered (when it already runs for another voice), the rest
 * of IN_DELAY silence before it. */
static void in_start_delayed(AudioDev *dev, AudioIn *in)
{
    size_t delay = dev->hist_cap, from_hist = dev->hist_count;
    memset(in->ring, 0, 2 * sizeof(int16_t) * (delay - from_hist));
    for (size_t k = 0; k < from_hist; k++) {
        size_t at = (dev->hist_head + dev->hist_count - from_hist + k) % dev->hist_cap;
        in->ring[2 * (delay - from_hist + k)] = dev->hist[2 * at];
        in->ring[2 * (delay - from_hist + k) + 1] = dev->hist[2 * at + 1];
    }
    in->head = 0;
    in->count = delay;
}

AudioIn *audio_in_new(AudioDev *dev, const char *name)
{
    AudioIn *in = g_new0(AudioIn, 1);
    in->dev = dev;
    in->name = g_strdup(name);
    in->cap = dev->rate / IN_CAP_DIV;
    in->ring = g_new0(int16_t, 2 * in->cap);
    audio_in_set_format(in, AUDIO_FMT_S16, 2, 44100);
    g_mutex_lock(&dev->in_lock);
    if (!dev->hist) {
        dev->hist_cap = MIN(dev->rate / IN_DELAY_DIV, in->cap);
        dev->hist = g_new0(int16_t, 2 * dev->hist_cap);
    }
    dev->inputs = g_list_append(dev->inputs, in);
    g_mutex_unlock(&dev->in_lock);
    return in;
}

void audio_in_free(AudioIn *in)
{
    if (!in)
        return;
    audio_in_set_active(in, false);
    AudioDev *dev = in->dev;
    g_mutex_lock(&dev->in_lock);
    dev->inputs = g_list_remove(dev->inputs, in);
    g_mutex_unlock(&dev->in_lock);
    g_free(in->ring);
    g_free(in->name);
    g_free(in);
}

void audio_in_set_format(AudioIn *in, AudioFormat fmt, unsigned channels, unsigned rate)
{
    rate = CLAMP(rate, AUDIO_RATE_MIN, AUDIO_RATE_MAX);
    channels = channels == 1 ? 1 : 2;
    g_mutex_lock(&in->dev->in_lock);
    if (fmt != in->fmt || channels != in->channels || rate != in->rate)
        in_reset_stream(in);
    in->fmt = fmt;
    in->channels = channels;
    in->rate = rate;
    in->step = ((uint64_t)in->dev->rate << 32) / rate;
    g_mutex_unlock(&in->dev->in_lock);
}

/* Starts or stops what feeds the input voices: the front end's source when one is set,
 * else the driver's capture. */
static void capture_switch(AudioDev *dev, bool on)
{
    if (dev->cap_source)
        dev->cap_source(dev->cap_source_opaque, on);
    else if (dev->driver->set_capture)
        dev->driver->set_capture(dev, on);
}

void audio_in_set_active(AudioIn *in, bool active)
{
    AudioDev *dev = in->dev;
    if (active == in->active)
        return;
    g_mutex_lock(&dev->in_lock);
    in->active = active;
    in_reset_stream(in);
    if (active && (dev->cap_source || !dev->driver->capture_sync))
        in_start_delayed(dev, in);
    if (!active && dev->inputs_active == 1)
        dev->hist_head = dev->hist_count = 0;   /* the last one stops: nothing stale is kept */
    g_mutex_unlock(&dev->in_lock);
    /* The host side (or the front end that replaces it) runs while any voice records. */
    if (active && dev->inputs_active++ == 0)
        capture_switch(dev, true);
    else if (!active && --dev->inputs_active == 0)
        capture_switch(dev, false);
}

/* Appends n frames of channels channels (1 or 2) to a stereo ring of cap frames; when
 * full, the oldest go. */
static void ring_append(int16_t *ring, size_t cap, size_t *head, size_t *count, const int16_t *frames, size_t n,
                        unsigned channels)
{
    for (size_t k = 0; k < n; k++) {
        if (*count == cap) {
            *head = (*head + 1) % cap;
            (*count)--;
        }
        size_t at = (*head + *count) % cap;
        ring[2 * at] = frames[k * channels];
        ring[2 * at + 1] = frames[k * channels + channels - 1];
        (*count)++;
    }
}

/* Queues n frames of channels channels (1 or 2) for every recording voice, and in the
 * history while any records (frames a corked stream still hands over after the last
 * voice stopped are not kept). */
static void captured(AudioDev *dev, const int16_t *frames, size_t n, unsigned channels)
{
    g_mutex_lock(&dev->in_lock);
    bool recording = false;
    for (GList *l = dev->inputs; l; l = l->next) {
        AudioIn *in = l->data;
        if (!in->active)
            continue;
        recording = true;
        ring_append(in->ring, in->cap, &in->head, &in->count, frames, n, channels);
    }
    if (recording)
        ring_append(dev->hist, dev->hist_cap, &dev->hist_head, &dev->hist_count, frames, n, channels);
    g_mutex_unlock(&dev->in_lock);
}

void audio_dev_captured(AudioDev *dev, const int16_t *frames, size_t n)
{
    captured(dev, frames, n, dev->channels);
}

void audio_capture_push(AudioDev *dev, const int16_t *frames, size_t n)
{
    captured(dev, frames, n, 2);
}

unsigned audio_capture_rate(const AudioDev *dev)
{
    return dev->rate;
}

AudioDev *audio_set_capture_source(Vm *vm, AudioCaptureFn on, void *opaque)
{
    g_autoptr(GPtrArray) devs = backend_list(vm, "audiodev");
    if (!devs->len)
        return NULL;
    AudioDev *dev = devs->pdata[0];
    vm_lock(vm);
    bool recording = dev->inputs_active > 0;
    if (recording)
        capture_switch(dev, false);
    dev->cap_source = on;
    dev->cap_source_opaque = opaque;
    if (recording)
        capture_switch(dev, true);
    vm_unlock(vm);
    return dev;
}

static void put_sample(AudioFormat fmt, uint8_t *p, int16_t v)
{
    switch (fmt) {
    case AUDIO_FMT_U8: *p = (uint8_t)((v >> 8) + 128); break;
    case AUDIO_FMT_S8: *p = (uint8_t)(int8_t)(v >> 8); break;
    case AUDIO_FMT_U16: { uint16_t u = (uint16_t)(v + 32768); p[0] = (uint8_t)u; p[1] = (uint8_t)(u >> 8); break; }
    case AUDIO_FMT_S16: p[0] = (uint8_t)v; p[1] = (uint8_t)((uint16_t)v >> 8); break;
    }
}

void audio_in_read(AudioIn *in, void *buf, size_t frames)
{
    AudioDev *dev = in->dev;
    if (dev->driver->capture_sync && !dev->cap_source)
        dev->driver->capture_sync(dev);
    size_t bps = in->fmt == AUDIO_FMT_U8 || in->fmt == AUDIO_FMT_S8 ? 1 : 2;
    uint8_t *out = buf;
    g_mutex_lock(&dev->in_lock);
    for (size_t k = 0; k < frames; k++) {
        /* Linear interpolation between prev and the queue's head, as the output side. */
        while (in->frac >= (1ull << 32)) {
            if (in->count) {
                in->prev[0] = in->ring[2 * in->head];
                in->prev[1] = in->ring[2 * in->head + 1];
                in->head = (in->head + 1) % in->cap;
                in->count--;
            } else {
                in->prev[0] = in->prev[1] = 0;   /* nothing captured: silence */
            }
            in->frac -= 1ull << 32;
        }
        int32_t f = (int32_t)((in->frac & 0xffffffffu) >> 16);
        int32_t nl = in->count ? in->ring[2 * in->head] : 0;
        int32_t nr = in->count ? in->ring[2 * in->head + 1] : 0;
        int32_t l = in->prev[0] + (int32_t)(((int64_t)(nl - in->prev[0]) * f) >> 16);
        int32_t r = in->prev[1] + (int32_t)(((int64_t)(nr - in->prev[1]) * f) >> 16);
        if (in->channels == 1) {
            put_sample(in->fmt, out, (int16_t)((l + r) / 2));
            out += bps;
        } else {
            put_sample(in->fmt, out, (int16_t)l);
            put_sample(in->fmt, out + bps, (int16_t)r);
            out += 2 * bps;
        }
        in->frac += in->active ? in->step : 0;
    }
    g_mutex_unlock(&dev->in_lock);
}
