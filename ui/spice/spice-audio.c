/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM's sound for SPICE clients: the playback channel carries the first audiodev's
 * mix (audio_set_tap). The mixer hands frames over on its own thread with the engine
 * lock held, so they wait in a queue under SpiceAudio.lock; a main-loop timer moves
 * them into the server's buffers, which are only touched on the main thread. */
#include "ui/spice/spice-internal.h"
#include "engine/audio/audio.h"

#include <spice.h>
#include <string.h>

#define SPICE_AUDIO_TICK_MS 10
/* At most half a second waits; a client that cannot keep up loses the oldest. */
#define SPICE_AUDIO_QUEUE_DIV 2
/* Without sound for this long the stream is stopped (clients close their output). */
#define SPICE_AUDIO_IDLE_US (500 * 1000)

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
};

static const SpicePlaybackInterface playback_iface = {
    .base = { .type = SPICE_INTERFACE_PLAYBACK, .description = "vireo sound",
              .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR, .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR },
};

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
    return G_SOURCE_CONTINUE;
}

SpiceAudio *spice_audio_new(Vm *vm, SpiceServer *server)
{
    SpiceAudio *a = g_new0(SpiceAudio, 1);
    a->vm = vm;
    g_mutex_init(&a->lock);
    a->sin.base.sif = &playback_iface.base;
    spice_server_add_interface(server, &a->sin.base);
    if (!audio_set_tap(vm, audio_tap, a)) {
        /* No audiodev: nothing to carry; the channel stays silent. */
        return a;
    }
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
        g_source_remove(a->tick);
    }
    if (a->started)
        spice_server_playback_stop(&a->sin);
    spice_server_remove_interface(&a->sin.base);
    g_mutex_clear(&a->lock);
    g_free(a->ring);
    g_free(a);
}
