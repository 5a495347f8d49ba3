/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audiodev back-end kind: option parsing, output voices and the mixer that feeds
 * the host drivers (see audio.h for the timing and lock rules). */
#include "vireo-config.h"
#include "engine/audio/audio-int.h"
#include "engine/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The lag a voice starts with: the mixer may look one frame ahead and rounds its frame
 * counts independently of the device, so a voice that is exactly on time would
 * underrun by a frame now and then. 4 ms of silence first absorbs that. */
#define VOICE_LAG_DIV 250
/* A voice holds at most half a second. */
#define VOICE_CAP_DIV 2
/* What counts as sound for audio_is_playing: above -60 dBFS, so a device's idle
 * noise floor or a rounding step does not light the app's icon. */
#define AUDIBLE_LEVEL 32
/* How long after its last audible frame a VM still counts as playing. */
#define PLAYING_HOLD_US (500 * 1000)

struct AudioVoice {
    AudioDev *dev;
    char *name;
    AudioSyncFn sync;
    void *opaque;
    AudioFormat fmt;
    unsigned channels, rate;
    bool active;
    uint32_t vol_l, vol_r;
    /* Queued frames as signed 16-bit stereo. */
    int16_t *ring;
    size_t cap, head, count;
    bool primed;
    bool fresh;     /* primed since the last mix: its data starts inside the period */
    /* Resampler: position of the next output frame past `prev`, 32.32 fixed point, and
     * input frames per output frame. */
    uint64_t frac, step;
    int16_t prev[2];
};

static const AudioDriver audio_none_driver;

static const AudioDriver *const drivers[] = {
    &audio_none_driver,
    &audio_wav_driver,
#ifdef HAVE_PULSE
    &audio_pa_driver,
#endif
#ifdef HAVE_SDL2
    &audio_sdl_driver,
#endif
    NULL,
};

/* ---- Voices ---- */

static void voice_reset_stream(AudioVoice *v)
{
    v->head = v->count = 0;
    v->primed = v->fresh = false;
    v->frac = 0;
    v->prev[0] = v->prev[1] = 0;
}

AudioVoice *audio_voice_new(AudioDev *dev, const char *name, AudioSyncFn sync, void *opaque)
{
    AudioVoice *v = g_new0(AudioVoice, 1);
    v->dev = dev;
    v->name = g_strdup(name);
    v->sync = sync;
    v->opaque = opaque;
    v->vol_l = v->vol_r = 65536;
    audio_voice_set_format(v, AUDIO_FMT_S16, 2, 44100);
    dev->voices = g_list_append(dev->voices, v);
    return v;
}

void audio_voice_free(AudioVoice *v)
{
    if (!v)
        return;
    v->dev->voices = g_list_remove(v->dev->voices, v);
    g_free(v->ring);
    g_free(v->name);
    g_free(v);
}

void audio_voice_set_format(AudioVoice *v, AudioFormat fmt, unsigned channels, unsigned rate)
{
    rate = CLAMP(rate, AUDIO_RATE_MIN, AUDIO_RATE_MAX);
    channels = channels == 1 ? 1 : 2;
    if (v->ring && v->fmt == fmt && v->channels == channels && v->rate == rate)
        return;
    v->fmt = fmt;
    v->channels = channels;
    v->rate = rate;
    v->cap = rate / VOICE_CAP_DIV;
    g_free(v->ring);
    v->ring = g_new(int16_t, 2 * v->cap);
    v->step = ((uint64_t)rate << 32) / v->dev->rate;
    voice_reset_stream(v);
}

void audio_voice_set_active(AudioVoice *v, bool active)
{
    if (v->active == active)
        return;
    v->active = active;
    voice_reset_stream(v);
}

void audio_voice_set_volume(AudioVoice *v, uint32_t left, uint32_t right)
{
    v->vol_l = MIN(left, 65536u);
    v->vol_r = MIN(right, 65536u);
}

unsigned audio_voice_rate(const AudioVoice *v)
{
    return v->rate;
}

size_t audio_voice_queued(const AudioVoice *v)
{
    return v->count;
}

static void ring_push(AudioVoice *v, int16_t l, int16_t r)
{
    if (v->count == v->cap) {
        /* Full: the oldest frame goes. */
        v->head = (v->head + 1) % v->cap;
        v->count--;
    }
    size_t tail = (v->head + v->count) % v->cap;
    v->ring[2 * tail] = l;
    v->ring[2 * tail + 1] = r;
    v->count++;
}

static int16_t sample_s16(AudioFormat fmt, const uint8_t *p)
{
    switch (fmt) {
    case AUDIO_FMT_U8: return (int16_t)((p[0] - 128) * 256);
    case AUDIO_FMT_S8: return (int16_t)((int8_t)p[0] * 256);
    case AUDIO_FMT_U16: return (int16_t)((p[0] | p[1] << 8) - 32768);
    default: return (int16_t)(p[0] | p[1] << 8);
    }
}

void audio_voice_write(AudioVoice *v, const void *data, size_t frames)
{
    if (!v->active || !frames)
        return;
    if (!v->primed) {
        for (size_t i = 0; i < v->rate / VOICE_LAG_DIV; i++)
            ring_push(v, 0, 0);
        v->primed = true;
        v->fresh = true;
    }
    /* Only the newest `cap` frames can stay. */
    size_t bps = (v->fmt == AUDIO_FMT_U8 || v->fmt == AUDIO_FMT_S8) ? 1 : 2;
    size_t bpf = bps * v->channels;
    const uint8_t *p = data;
    if (frames > v->cap) {
        p += (frames - v->cap) * bpf;
        frames = v->cap;
    }
    for (size_t i = 0; i < frames; i++, p += bpf) {
        int16_t l = sample_s16(v->fmt, p);
        int16_t r = v->channels == 2 ? sample_s16(v->fmt, p + bps) : l;
        ring_push(v, l, r);
    }
}

/* ---- Mixer ---- */

/* Mixes n host frames of one voice into dev->mix (stereo). in holds the resampler's
 * input: in[0] is the previous frame, in[1..] what the queue gives. */
static void voice_mix(AudioDev *dev, AudioVoice *v, size_t n, int16_t *in)
{
    uint64_t t_last = v->frac + (uint64_t)(n - 1) * v->step;
    uint64_t t_end = v->frac + (uint64_t)n * v->step;
    size_t need = MAX((size_t)(t_last >> 32) + 1, (size_t)(t_end >> 32));
    in[0] = v->prev[0];
    in[1] = v->prev[1];
    /* A stream that started inside this period has less than the period's frames:
     * they belong at its end, after silence, and its lag stays queued. */
    size_t lead = 0;
    if (v->fresh) {
        size_t lag = v->rate / VOICE_LAG_DIV;
        size_t avail = v->count > lag ? v->count - lag : 0;
        lead = avail < need ? need - avail : 0;
        v->fresh = false;
    }
    for (size_t i = 1; i <= lead; i++)
        in[2 * i] = in[2 * i + 1] = 0;
    /* Peek at what interpolation needs; consume only the frames the position passes
     * (when upsampling, the last one needed is also the next call's first). */
    size_t got = MIN(need - lead, v->count);
    for (size_t i = 1; i <= got; i++) {
        size_t at = (v->head + i - 1) % v->cap;
        in[2 * (lead + i)] = v->ring[2 * at];
        in[2 * (lead + i) + 1] = v->ring[2 * at + 1];
    }
    if (lead + got < need) {
        /* Underrun: the device fell behind or stopped. Silence (not the last level,
         * which would leave a DC offset in the mix), and the lag again when it writes. */
        for (size_t i = lead + got + 1; i <= need; i++)
            in[2 * i] = in[2 * i + 1] = 0;
        v->primed = false;
    }
    size_t passed = (size_t)(t_end >> 32);
    size_t consume = passed > lead ? MIN(passed - lead, got) : 0;
    v->head = (v->head + consume) % v->cap;
    v->count -= consume;
    int32_t *mix = dev->mix;
    for (size_t k = 0; k < n; k++) {
        uint64_t t = v->frac + (uint64_t)k * v->step;
        size_t i = (size_t)(t >> 32);
        int32_t f = (int32_t)((t & 0xffffffffu) >> 16);
        /* A full-scale step times the fraction needs more than 32 bits. */
        int32_t l = in[2 * i] + (int32_t)(((int64_t)(in[2 * i + 2] - in[2 * i]) * f) >> 16);
        int32_t r = in[2 * i + 1] + (int32_t)(((int64_t)(in[2 * i + 3] - in[2 * i + 1]) * f) >> 16);
        mix[2 * k] += (int32_t)(((int64_t)l * v->vol_l) >> 16);
        mix[2 * k + 1] += (int32_t)(((int64_t)r * v->vol_r) >> 16);
    }
    size_t c = (size_t)(t_end >> 32);
    v->prev[0] = in[2 * c];
    v->prev[1] = in[2 * c + 1];
    v->frac = t_end & 0xffffffffu;
}

static void mixer_tick(void *opaque)
{
    AudioDev *dev = opaque;
    int64_t now = vm_clock_ns(dev->vm);
    int64_t target = ns_to_ticks(now - dev->start_ns, dev->rate);
    int64_t n = target - dev->frames_out;
    if (n < 0 || n > (int64_t)dev->rate) {
        /* The clock jumped (a state load) or the mixer starved for a second: go on
         * from the present rather than replay or invent the difference. */
        dev->frames_out = target;
        n = 0;
    }
    if (n > 0) {
        if ((size_t)n > dev->mix_cap) {
            dev->mix_cap = (size_t)n;
            dev->mix = g_renew(int32_t, dev->mix, 2 * dev->mix_cap);
            dev->out = g_renew(int16_t, dev->out, 2 * dev->mix_cap);
        }
        memset(dev->mix, 0, sizeof(int32_t) * 2 * (size_t)n);
        int16_t *in = NULL;
        size_t in_cap = 0;
        for (GList *l = dev->voices; l; l = l->next) {
            AudioVoice *v = l->data;
            if (!v->active)
                continue;
            if (v->sync)
                v->sync(v->opaque);
            if (!v->active)
                continue;
            size_t need = (size_t)(((uint64_t)(n + 1) * v->step + v->frac) >> 32) + 3;
            if (need > in_cap) {
                in_cap = need;
                in = g_renew(int16_t, in, 2 * in_cap);
            }
            voice_mix(dev, v, (size_t)n, in);
        }
        g_free(in);
        bool audible = false;
        for (int64_t k = 0; k < n; k++) {
            int32_t l = CLAMP(dev->mix[2 * k], -32768, 32767);
            int32_t r = CLAMP(dev->mix[2 * k + 1], -32768, 32767);
            audible |= l > AUDIBLE_LEVEL || l < -AUDIBLE_LEVEL || r > AUDIBLE_LEVEL || r < -AUDIBLE_LEVEL;
            if (dev->master_gain != 65536) {
                l = (int32_t)(((int64_t)l * dev->master_gain) >> 16);
                r = (int32_t)(((int64_t)r * dev->master_gain) >> 16);
            }
            if (dev->channels == 1) {
                dev->out[k] = (int16_t)((l + r) / 2);
            } else {
                dev->out[2 * k] = (int16_t)l;
                dev->out[2 * k + 1] = (int16_t)r;
            }
        }
        if (dev->tap) {
            if ((size_t)n > dev->tap_cap) {
                dev->tap_cap = (size_t)n;
                dev->tap_buf = g_renew(int16_t, dev->tap_buf, 2 * dev->tap_cap);
            }
            for (int64_t k = 0; k < 2 * n; k++)
                dev->tap_buf[k] = (int16_t)CLAMP(dev->mix[k], -32768, 32767);
            dev->tap(dev->tap_opaque, dev->tap_buf, (size_t)n, dev->rate);
        }
        dev->driver->play(dev, dev->out, (size_t)n);
        dev->frames_out += n;
        if (audible)
            __atomic_store_n(&dev->last_audible_us, g_get_monotonic_time(), __ATOMIC_RELAXED);
    }
    vtimer_mod(dev->timer, now + dev->period_ns);
}

static void on_vm_state(Vm *vm, VmState state, void *data)
{
    AudioDev *dev = data;
    if (dev->driver->set_running)
        dev->driver->set_running(dev, state == VM_STATE_RUNNING);
}

/* ---- Options ---- */

static const AudioDriver *driver_find(const char *name)
{
    for (const AudioDriver *const *d = drivers; *d; d++)
        if (!strcmp((*d)->name, name))
            return *d;
    return NULL;
}

static bool parse_uint(const char *key, const char *v, unsigned lo, unsigned hi, unsigned *out,
                       GError **err)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi || v[0] == '-') {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s: not a number from %u to %u",
                    key, v, lo, hi);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

typedef struct AudioOpts {
    const AudioDriver *driver;
    GHashTable *kv; /* the driver's keys */
    unsigned rate, channels, period_us;
} AudioOpts;

static void audio_opts_clear(AudioOpts *o)
{
    if (o->kv)
        g_hash_table_destroy(o->kv);
}

static bool audio_opts_parse(const char *opts, AudioOpts *o, GError **err)
{
    g_autoptr(GPtrArray) parts = backend_opts_split(opts);
    const char *type = parts->pdata[0];
    memset(o, 0, sizeof(*o));
    o->rate = 44100;
    o->channels = 2;
    o->period_us = 10000;
    o->kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    o->driver = driver_find(type);
    if (!o->driver) {
        GString *names = g_string_new(NULL);
        for (const AudioDriver *const *d = drivers; *d; d++)
            g_string_append_printf(names, "%s%s", names->len ? ", " : "", (*d)->name);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' is not an audio back end (%s)",
                    type, names->str);
        g_string_free(names, TRUE);
        return false;
    }
    for (guint i = 1; i < parts->len; i++) {
        const char *kv = parts->pdata[i];
        const char *eq = strchr(kv, '=');
        if (!*kv)
            continue;
        if (!eq) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' is not KEY=VALUE", kv);
            return false;
        }
        g_autofree char *key = g_strndup(kv, (gsize)(eq - kv));
        const char *v = eq + 1;
        bool ok = true;
        if (!strcmp(key, "id"))
            continue;
        else if (!strcmp(key, "out.frequency"))
            ok = parse_uint(key, v, 8000, 192000, &o->rate, err);
        else if (!strcmp(key, "out.channels"))
            ok = parse_uint(key, v, 1, 2, &o->channels, err);
        else if (!strcmp(key, "timer-period"))
            ok = parse_uint(key, v, 1000, 100000, &o->period_us, err);
        else if (!strcmp(key, "out.format")) {
            if (strcmp(v, "s16")) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "out.format=%s: only s16", v);
                ok = false;
            }
        } else {
            bool known = false;
            for (const char *const *k = o->driver->keys; k && *k; k++)
                known |= !strcmp(*k, key);
            if (!known) {
                GString *keys = g_string_new("out.frequency, out.channels, timer-period");
                for (const char *const *k = o->driver->keys; k && *k; k++)
                    g_string_append_printf(keys, ", %s", *k);
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                            "%s has no option '%s' (%s)", o->driver->name, key, keys->str);
                g_string_free(keys, TRUE);
                return false;
            }
            g_hash_table_replace(o->kv, g_strdup(key), g_strdup(v));
        }
        if (!ok)
            return false;
    }
    if (o->driver == &audio_wav_driver && !g_hash_table_contains(o->kv, "path")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "wav needs path=FILE");
        return false;
    }
    return true;
}

static bool audiodev_check(const char *opts, GError **err)
{
    AudioOpts o;
    bool ok = audio_opts_parse(opts, &o, err);
    audio_opts_clear(&o);
    return ok;
}

static void audiodev_close(void *p)
{
    AudioDev *dev = p;
    if (dev->state_listener)
        vm_remove_state_listener(dev->vm, dev->state_listener);
    vm_lock(dev->vm);
    vtimer_free(dev->timer);
    /* Devices are gone before back ends close; a voice left over is a device bug. */
    g_warn_if_fail(dev->voices == NULL && dev->inputs == NULL);
    vm_unlock(dev->vm);
    if (dev->drv)
        dev->driver->fini(dev);
    g_free(dev->mix);
    g_free(dev->out);
    g_free(dev->tap_buf);
    g_free(dev->hist);
    g_free(dev->id);
    g_mutex_clear(&dev->in_lock);
    g_free(dev);
}

static void *audiodev_open(Vm *vm, const char *id, const char *opts, GError **err)
{
    AudioOpts o;
    if (!audio_opts_parse(opts, &o, err)) {
        audio_opts_clear(&o);
        return NULL;
    }
    AudioDev *dev = g_new0(AudioDev, 1);
    dev->vm = vm;
    dev->id = g_strdup(id);
    dev->driver = o.driver;
    dev->rate = o.rate;
    dev->channels = o.channels;
    dev->period_ns = (int64_t)o.period_us * 1000;
    dev->master_gain = 65536;
    g_mutex_init(&dev->in_lock);
    bool ok = dev->driver->init(dev, o.kv, err);
    audio_opts_clear(&o);
    if (!ok) {
        g_free(dev->id);
        g_mutex_clear(&dev->in_lock);
        g_free(dev);
        return NULL;
    }
    vm_lock(vm);
    dev->timer = vtimer_new(vm, mixer_tick, dev);
    dev->start_ns = vm_clock_ns(vm);
    vtimer_mod(dev->timer, dev->start_ns + dev->period_ns);
    vm_unlock(vm);
    dev->state_listener = vm_add_state_listener(vm, on_vm_state, dev);
    return dev;
}

/* PulseAudio's volume sliders map percent to amplitude on a cubic curve, which
 * sounds even; the VM's control behaves like the desktop's. */
static uint32_t gain_from_percent(unsigned percent)
{
    double f = MIN(percent, 100u) / 100.0;
    return (uint32_t)(f * f * f * 65536.0 + 0.5);
}

void audio_set_output_volume(Vm *vm, unsigned percent, bool muted)
{
    uint32_t gain = muted ? 0 : gain_from_percent(percent);
    g_autoptr(GPtrArray) devs = backend_list(vm, "audiodev");
    vm_lock(vm);
    for (guint i = 0; i < devs->len; i++)
        ((AudioDev *)devs->pdata[i])->master_gain = gain;
    vm_unlock(vm);
}

bool audio_is_playing(Vm *vm)
{
    g_autoptr(GPtrArray) devs = backend_list(vm, "audiodev");
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; i < devs->len; i++) {
        gint64 t = __atomic_load_n(&((AudioDev *)devs->pdata[i])->last_audible_us, __ATOMIC_RELAXED);
        if (t && now - t < PLAYING_HOLD_US)
            return true;
    }
    return false;
}

bool audio_has_output(Vm *vm)
{
    g_autoptr(GPtrArray) devs = backend_list(vm, "audiodev");
    return devs->len > 0;
}

bool audio_set_tap(Vm *vm, AudioTapFn fn, void *opaque)
{
    g_autoptr(GPtrArray) devs = backend_list(vm, "audiodev");
    if (!devs->len)
        return false;
    AudioDev *dev = devs->pdata[0];
    vm_lock(vm);
    dev->tap = fn;
    dev->tap_opaque = opaque;
    vm_unlock(vm);
    return true;
}

static const BackendClass audiodev_class = {
    .kind = "audiodev",
    .description = "sound output: pa (PulseAudio), sdl (SDL2), wav (a file), none",
    .check = audiodev_check,
    .open = audiodev_open,
    .close = audiodev_close,
};

__attribute__((constructor)) static void audiodev_register(void)
{
    backend_class_register(&audiodev_class);
}

/* ---- none: mixes on the virtual clock (devices keep their timing) and drops it ---- */

static bool none_init(AudioDev *dev, GHashTable *opts, GError **err)
{
    dev->drv = dev;
    return true;
}

static void none_play(AudioDev *dev, const int16_t *frames, size_t n)
{
}

static void none_fini(AudioDev *dev)
{
}

static const AudioDriver audio_none_driver = {
    .name = "none",
    .description = "no sound; devices keep their timing",
    .init = none_init,
    .play = none_play,
    .fini = none_fini,
};
