/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM's sound for SPICE clients: the playback channel carries the first audiodev's
 * mix (audio_set_tap). The mixer hands frames over on its own thread with the engine
 * lock held, so they wait in a queue under SpiceAudio.lock; a main-loop timer moves
 * them into the server's buffers, which are only touched on the main thread.
 *
 * Recording: the record channel is the VM's microphone (audio_set_capture_source, in
 * place of the audiodev's in.* capture). When a guest's input voice starts, its vCPU
 * thread only sets want_record; the same main-loop timer starts the client's recording
 * and moves what arrived into the input voices (audio_capture_push). */
#include "ui/spice/spice-internal.h"
#include "engine/audio/audio.h"

#include <spice.h>
#include <string.h>

#define SPICE_AUDIO_TICK_MS 10
/* At most half a second waits; a client that cannot keep up loses the oldest. */
#define SPICE_AUDIO_QUEUE_DIV 2
/* Without sound for this long the stream is stopped (clients close their output). */
#define SPICE_AUDIO_IDLE_US (500 * 1000)
/* Recorded frames taken from the server per call. */
#define SPICE_RECORD_CHUNK 1024

struct SpiceAudio {
    Vm *vm;
    SpicePlaybackInstance sin;
    guint tick;
    /* Queue of stereo frames (one uint32_t each, as the server takes them). */
    GMutex lock;
    uint32_t *ring;
    size_t ring_cap, ring_head, ring_len;
    unsigned rate;
    /* Main thread: the server's buffer being filled. */
    bool started;
    unsigned started_rate;
    uint32_t *buf;
    uint32_t buf_len, buf_pos;
    gint64 last_data_us;

    SpiceRecordInstance rin;
    AudioDev *capture_dev;  /* NULL: no audiodev, nothing to record into */
    gint want_record;       /* atomic: set on the mixer's thread */
    bool recording;         /* main thread */
};

static const SpicePlaybackInterface playback_iface = {
    .base = { .type = SPICE_INTERFACE_PLAYBACK, .description = "vireo sound",
              .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR, .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR },
};

static const SpiceRecordInterface record_iface = {
    .base = { .type = SPICE_INTERFACE_RECORD, .description = "vireo microphone",
              .major_version = SPICE_INTERFACE_RECORD_MAJOR, .minor_version = SPICE_INTERFACE_RECORD_MINOR },
};

/* A guest's input voice started or stopped; engine lock held, any thread. */
static void record_wanted(void *opaque, bool on)
{
    SpiceAudio *a = opaque;
    g_atomic_int_set(&a->want_record, on);
}

/* Main thread: follows the guest's recording and passes what the client sent on. */
static void record_tick(SpiceAudio *a)
{
    bool want = g_atomic_int_get(&a->want_record);
    if (want && !a->recording) {
        spice_server_set_record_rate(&a->rin, audio_capture_rate(a->capture_dev));
        spice_server_record_start(&a->rin);
        a->recording = true;
    } else if (!want && a->recording) {
        spice_server_record_stop(&a->rin);
        a->recording = false;
    }
    if (!a->recording)
        return;
    uint32_t frames[SPICE_RECORD_CHUNK];
    int16_t pcm[2 * SPICE_RECORD_CHUNK];
    uint32_t n;
    /* Bounded: a client cannot keep this loop going for more than its queue holds. */
    for (int round = 0; round < 64; round++) {
        n = spice_server_record_get_samples(&a->rin, frames, SPICE_RECORD_CHUNK);
        if (!n)
            break;
        n = MIN(n, (uint32_t)SPICE_RECORD_CHUNK);
        for (uint32_t i = 0; i < n; i++) {
            /* The protocol's frames: left then right, signed 16-bit little-endian. */
            pcm[2 * i] = (int16_t)(uint16_t)(frames[i] & 0xffff);
            pcm[2 * i + 1] = (int16_t)(uint16_t)(frames[i] >> 16);
        }
        audio_capture_push(a->capture_dev, pcm, n);
    }
}

/* Mixer thread, engine lock held. */
static void audio_tap(void *opaque, const int16_t *frames, size_t n, unsigned rate)
{
    SpiceAudio *a = opaque;
    g_mutex_lock(&a->lock);
    if (rate != a->rate) {
        a->rate = rate;
        a->ring_len = 0;
        a->ring_cap = (size_t)rate / SPICE_AUDIO_QUEUE_DIV + 1;
        a->ring = g_renew(uint32_t, a->ring, a->ring_cap);
        a->ring_head = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t f = (uint32_t)(uint16_t)frames[2 * i] | (uint32_t)(uint16_t)frames[2 * i + 1] << 16;
        if (a->ring_len == a->ring_cap) {
            a->ring_head = (a->ring_head + 1) % a->ring_cap;
            a->ring_len--;
        }
        a->ring[(a->ring_head + a->ring_len) % a->ring_cap] = f;
        a->ring_len++;
    }
    g_mutex_unlock(&a->lock);
}

/* Main thread: queued frames into the server's buffers. */
static gboolean audio_tick(gpointer p)
{
    SpiceAudio *a = p;
    g_mutex_lock(&a->lock);
    unsigned rate = a->rate;
    gint64 now = g_get_monotonic_time();
    if (a->ring_len)
        a->last_data_us = now;
    if (a->ring_len && (!a->started || rate != a->started_rate)) {
        if (a->started)
            spice_server_playback_stop(&a->sin);
        spice_server_set_playback_rate(&a->sin, rate);
        spice_server_playback_start(&a->sin);
        a->started = true;
        a->started_rate = rate;
        a->buf = NULL;
    }
    while (a->started && a->ring_len) {
        if (!a->buf) {
            spice_server_playback_get_buffer(&a->sin, &a->buf, &a->buf_len);
            a->buf_pos = 0;
            if (!a->buf || !a->buf_len) {
                a->buf = NULL;
                break; /* no client, or none ready: the queue keeps its bound */
            }
        }
        size_t n = MIN((size_t)(a->buf_len - a->buf_pos), a->ring_len);
        n = MIN(n, a->ring_cap - a->ring_head);
        memcpy(a->buf + a->buf_pos, a->ring + a->ring_head, n * sizeof(uint32_t));
        a->buf_pos += (uint32_t)n;
        a->ring_head = (a->ring_head + n) % a->ring_cap;
        a->ring_len -= n;
        if (a->buf_pos == a->buf_len) {
            spice_server_playback_put_samples(&a->sin, a->buf);
            a->buf = NULL;
        }
    }
    g_mutex_unlock(&a->lock);
    if (a->started && !a->buf && now - a->last_data_us > SPICE_AUDIO_IDLE_US) {
        spice_server_playback_stop(&a->sin);
        a->started = false;
    }
    if (a->capture_dev)
        record_tick(a);
    return G_SOURCE_CONTINUE;
}

SpiceAudio *spice_audio_new(Vm *vm, SpiceServer *server)
{
    SpiceAudio *a = g_new0(SpiceAudio, 1);
    a->vm = vm;
    g_mutex_init(&a->lock);
    a->sin.base.sif = &playback_iface.base;
    spice_server_add_interface(server, &a->sin.base);
    a->rin.base.sif = &record_iface.base;
    spice_server_add_interface(server, &a->rin.base);
    if (!audio_set_tap(vm, audio_tap, a)) {
        /* No audiodev: nothing to carry; the channels stay silent. */
        return a;
    }
    a->capture_dev = audio_set_capture_source(vm, record_wanted, a);
    a->tick = g_timeout_add(SPICE_AUDIO_TICK_MS, audio_tick, a);
    return a;
}

/* Before the server is destroyed. */
void spice_audio_free(SpiceAudio *a)
{
    if (!a)
        return;
    if (a->tick) {
        audio_set_tap(a->vm, NULL, NULL);
        if (a->capture_dev)
            audio_set_capture_source(a->vm, NULL, NULL);
        g_source_remove(a->tick);
    }
    if (a->started)
        spice_server_playback_stop(&a->sin);
    if (a->recording)
        spice_server_record_stop(&a->rin);
    spice_server_remove_interface(&a->sin.base);
    spice_server_remove_interface(&a->rin.base);
    g_mutex_clear(&a->lock);
    g_free(a->ring);
    g_free(a);
}
