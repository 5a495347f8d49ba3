/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the mixer (audio.c) and the host drivers (wav.c, pa.c): a driver receives
 * the mixed frames, interleaved signed 16-bit at AudioDev.rate and .channels. */
#pragma once

#include "vireo-config.h"
#include "engine/audio/audio.h"
#include "engine/machine.h"

typedef struct AudioDriver {
    const char *name;
    const char *description;
    const char *const *keys;  /* the driver's own option keys (NULL-terminated) */
    /* Opens the host side from the options (key -> value); sets dev->drv. Runs without
     * the engine lock on the thread that creates the VM. */
    bool (*init)(AudioDev *dev, GHashTable *opts, GError **err);
    /* Takes n mixed frames (engine lock held, from the mixer's timer); must not block. */
    void (*play)(AudioDev *dev, const int16_t *frames, size_t n);
    /* The VM started running (true) or stopped (false): main context. May be NULL. */
    void (*set_running)(AudioDev *dev, bool running);
    /* Starts (true) or stops capturing for the input voices (engine lock held); the
     * driver hands what it captures to audio_dev_captured. NULL: nothing to record. */
    void (*set_capture)(AudioDev *dev, bool on);
    /* A driver that captures on the virtual clock (a file): produce the frames due up to
     * the present now (engine lock held, before a device reads). May be NULL. */
    void (*capture_sync)(AudioDev *dev);
    void (*fini)(AudioDev *dev);
} AudioDriver;

struct AudioDev {
    Vm *vm;
    char *id;
    const AudioDriver *driver;
    void *drv;              /* the driver's state */
    unsigned rate;          /* host frames per second (out.frequency) */
    unsigned channels;      /* 1 or 2 (out.channels) */
    int64_t period_ns;      /* mixer period (timer-period, in us on the command line) */
    /* Mixer state. */
    VTimer *timer;
    int64_t start_ns;       /* virtual time of host frame 0 */
    int64_t frames_out;     /* host frames mixed so far */
    GList *voices;
    int32_t *mix;
    int16_t *out;
    size_t mix_cap;         /* frames */
    guint state_listener;
    /* The user's output level (audio_set_output_volume): 0-65536 applied to the mix;
     * set under the engine lock. */
    uint32_t master_gain;
    /* audio_set_tap's receiver of the stereo mix (engine lock), and its buffer. */
    AudioTapFn tap;
    void *tap_opaque;
    int16_t *tap_buf;
    size_t tap_cap;         /* frames */
    /* g_get_monotonic_time() of the last mix with an audible frame (atomic: the app
     * reads it without the lock). */
    gint64 last_audible_us;
    /* Input voices (capture.c): the list and each voice's queue are guarded by in_lock,
     * which a driver's capture thread takes in audio_dev_captured. */
    GMutex in_lock;
    GList *inputs;
    unsigned inputs_active;
    /* The last IN_DELAY of host frames captured while any voice records (in_lock; stereo,
     * emptied when capture stops): what a voice that starts recording begins with. */
    int16_t *hist;
    size_t hist_cap, hist_head, hist_count;
    /* audio_set_capture_source's front end, which replaces the driver's capture while
     * set (engine lock). */
    AudioCaptureFn cap_source;
    void *cap_source_opaque;
};

/* For drivers: n frames captured at dev->rate with dev->channels channels (signed 16-bit,
 * interleaved), from any thread. */
void audio_dev_captured(AudioDev *dev, const int16_t *frames, size_t n);

extern const AudioDriver audio_wav_driver;
#ifdef HAVE_PULSE
extern const AudioDriver audio_pa_driver;
#endif
#ifdef HAVE_SDL2
extern const AudioDriver audio_sdl_driver;
#endif
