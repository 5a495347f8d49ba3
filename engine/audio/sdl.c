/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SDL2 audio back end (-audiodev sdl,id=ID[,out.buffer-length=US][,in.source=]). SDL pulls from
 * its own thread through a callback; the mixer pushes each period's frames into a
 * ring the callback drains. The ring holds at most out.buffer-length (40 ms by
 * default) beyond one callback's worth: frames that do not fit are dropped, so latency
 * stays bounded when the host's clock is slower than the virtual one; after an
 * underrun output resumes once it is half full. The device is
 * paused while the VM is not running.
 *
 * Recording: with in.source=default (SDL's default capture device, the host's
 * microphone) or in.source=NAME (a capture device as SDL names it) the VM's inputs record
 * from it. The capture device is opened (SDL_OpenAudioDevice with iscapture) only while
 * a device records and closed when the last one stops, so no microphone is held for a VM
 * that does not record; without in.source= the inputs hear silence. A capture device
 * that cannot be opened gives one warning line per attempt and silence.
 *
 * Locks: the ring has its own mutex, taken by play (engine lock held) and by SDL's
 * callback (no engine lock). The capture callback runs on SDL's thread and hands its
 * frames to audio_dev_captured (the input voices' own lock, never the engine lock), so
 * closing the device under the engine lock, which waits for that thread, cannot
 * deadlock. No audio device (SDL cannot initialise its audio subsystem or open one)
 * gives one warning line and silence. */
#include "engine/audio/audio-int.h"

#include <SDL.h>
#include <string.h>

typedef struct SdlOut {
    AudioDev *dev;
    SDL_AudioDeviceID id;
    bool silent;
    GMutex lock;
    int16_t *ring;         /* interleaved frames */
    size_t cap, head, count; /* in frames */
    size_t prefill;        /* frames queued before output (re)starts */
    bool starved;          /* waiting for prefill */
    /* Capture: in.source= (NULL: none), whether it means SDL's default device; under
     * cap_lock (set_capture has the engine lock, set_running runs on the main thread)
     * the open capture device (0: closed) and whether the VM runs. */
    GMutex cap_lock;
    char *source;
    bool source_default;
    SDL_AudioDeviceID in_id;
    unsigned samples;
    bool running;
} SdlOut;

static void sdl_callback(void *opaque, Uint8 *stream, int len)
{
    SdlOut *s = opaque;
    unsigned ch = s->dev->channels;
    size_t want = (size_t)len / (2 * ch);
    int16_t *out = (int16_t *)stream;
    g_mutex_lock(&s->lock);
    /* After an underrun (and at the start) wait for a cushion, so that one late
     * period does not starve every callback after it. */
    if (s->starved && s->count >= s->prefill)
        s->starved = false;
    size_t n = s->starved ? 0 : MIN(want, s->count);
    for (size_t i = 0; i < n; i++) {
        memcpy(out + i * ch, s->ring + s->head * ch, 2 * ch);
        s->head = (s->head + 1) % s->cap;
    }
    s->count -= n;
    if (n < want)
        s->starved = true;
    g_mutex_unlock(&s->lock);
    memset(out + n * ch, 0, (want - n) * 2 * ch);
}

/* SDL's capture thread: what the device recorded, at the mix's rate and channels (SDL
 * converts from the device's own format). */
static void sdl_capture_callback(void *opaque, Uint8 *stream, int len)
{
    SdlOut *s = opaque;
    audio_dev_captured(s->dev, (const int16_t *)stream, (size_t)len / (2 * s->dev->channels));
}

static void sdl_capture_close(SdlOut *s)
{
    g_mutex_lock(&s->cap_lock);
    if (s->in_id) {
        SDL_CloseAudioDevice(s->in_id);
        s->in_id = 0;
    }
    g_mutex_unlock(&s->cap_lock);
}

/* A device started (on) or stopped recording: the capture device opens and closes with
 * it. Engine lock held. */
static void sdl_set_capture(AudioDev *dev, bool on)
{
    SdlOut *s = dev->drv;
    if (!on) {
        sdl_capture_close(s);
        return;
    }
    if (s->silent || !s->source)
        return;
    g_mutex_lock(&s->cap_lock);
    if (s->in_id) {
        g_mutex_unlock(&s->cap_lock);
        return;
    }
    SDL_AudioSpec want = { 0 }, have;
    want.freq = (int)dev->rate;
    want.format = AUDIO_S16LSB;
    want.channels = (Uint8)dev->channels;
    want.samples = (Uint16)s->samples;
    want.callback = sdl_capture_callback;
    want.userdata = s;
    s->in_id = SDL_OpenAudioDevice(s->source_default ? NULL : s->source, 1, &want, &have, 0);
    if (!s->in_id) {
        g_printerr("vireo: audiodev %s: cannot open the capture device %s (%s); recording silence\n", dev->id,
                   s->source, SDL_GetError());
    } else {
        SDL_PauseAudioDevice(s->in_id, s->running ? 0 : 1);
    }
    g_mutex_unlock(&s->cap_lock);
}

static bool sdl_out_init(AudioDev *dev, GHashTable *opts, GError **err)
{
    unsigned buffer_us = 40000;
    const char *v = g_hash_table_lookup(opts, "out.buffer-length");
    if (v) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (!*v || *end || n < 10000 || n > 1000000) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "out.buffer-length=%s: not a number of microseconds from 10000 to 1000000", v);
            return false;
        }
        buffer_us = (unsigned)n;
    }
    const char *src = g_hash_table_lookup(opts, "in.source");
    if (src && !*src) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "in.source= is empty: give default or the name of an SDL capture device");
        return false;
    }
    SdlOut *s = g_new0(SdlOut, 1);
    s->dev = dev;
    s->source = g_strdup(src);
    s->source_default = src && strcmp(src, "default") == 0;
    g_mutex_init(&s->lock);
    g_mutex_init(&s->cap_lock);
    /* About 20 ms per callback: a power of two of frames. */
    unsigned samples = 256;
    while (samples * 50 < dev->rate)
        samples *= 2;
    /* One callback's worth plus the buffer; output starts half-way through it. */
    size_t extra = (size_t)dev->rate * buffer_us / 1000000;
    s->cap = samples + extra;
    s->prefill = samples + extra / 2;
    s->starved = true;
    s->ring = g_new0(int16_t, s->cap * dev->channels);
    s->samples = samples;
    dev->drv = s;
    if (SDL_InitSubSystem(SDL_INIT_AUDIO) < 0) {
        g_printerr("vireo: audiodev %s: no SDL audio (%s); running without sound\n", dev->id, SDL_GetError());
        s->silent = true;
        return true;
    }
    SDL_AudioSpec want = { 0 }, have;
    want.freq = (int)dev->rate;
    want.format = AUDIO_S16LSB;
    want.channels = (Uint8)dev->channels;
    want.samples = (Uint16)samples;
    want.callback = sdl_callback;
    want.userdata = s;
    s->id = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
    if (!s->id) {
        g_printerr("vireo: audiodev %s: no SDL audio device (%s); running without sound\n", dev->id,
                   SDL_GetError());
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
        s->silent = true;
    }
    return true;
}

static void sdl_out_play(AudioDev *dev, const int16_t *frames, size_t n)
{
    SdlOut *s = dev->drv;
    if (s->silent)
        return;
    unsigned ch = dev->channels;
    g_mutex_lock(&s->lock);
    size_t room = s->cap - s->count;
    size_t take = MIN(n, room);
    for (size_t i = 0; i < take; i++) {
        size_t tail = (s->head + s->count) % s->cap;
        memcpy(s->ring + tail * ch, frames + i * ch, 2 * ch);
        s->count++;
    }
    g_mutex_unlock(&s->lock);
}

static void sdl_out_set_running(AudioDev *dev, bool running)
{
    SdlOut *s = dev->drv;
    if (!s->silent)
        SDL_PauseAudioDevice(s->id, running ? 0 : 1);
    g_mutex_lock(&s->cap_lock);
    s->running = running;
    if (s->in_id)
        SDL_PauseAudioDevice(s->in_id, running ? 0 : 1);
    g_mutex_unlock(&s->cap_lock);
}

static void sdl_out_fini(AudioDev *dev)
{
    SdlOut *s = dev->drv;
    sdl_capture_close(s);
    g_mutex_clear(&s->cap_lock);
    g_free(s->source);
    if (!s->silent) {
        SDL_CloseAudioDevice(s->id);
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
    }
    g_mutex_clear(&s->lock);
    g_free(s->ring);
    g_free(s);
}

static const char *const sdl_keys[] = { "out.buffer-length", "in.source", NULL };

const AudioDriver audio_sdl_driver = {
    .name = "sdl",
    .description = "SDL2 audio",
    .keys = sdl_keys,
    .init = sdl_out_init,
    .play = sdl_out_play,
    .set_running = sdl_out_set_running,
    .set_capture = sdl_set_capture,
    .fini = sdl_out_fini,
};
