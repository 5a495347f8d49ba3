/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PulseAudio back end (-audiodev pa,id=ID[,server=][,out.latency=US][,in.source=])
 * through libpulse's threaded main loop. The mixer's timer hands each period's frames to the
 * stream with a non-blocking write of what the server's buffer (out.latency, 40 ms by
 * default) has room for; frames beyond that are dropped, so a host clock that runs
 * slower than the virtual one cannot build up latency. The stream is corked while the
 * VM is not running. With in.source=SOURCE (a PulseAudio source name;
 * @DEFAULT_SOURCE@ is the host's default microphone) the VM's inputs record from it: the
 * record stream opens with the playback one, corked, and runs only while a device
 * records. (A record stream created later from the vCPU thread stayed in CREATING for
 * the whole recording in every try; waiting for it at open time works.) Without
 * in.source= the inputs hear silence: no microphone is opened unasked.
 *
 * Locks: libpulse calls back on its own thread with the main-loop lock held; those
 * callbacks touch only this file's state and the input voices' queues (their own lock).
 * play runs with the engine lock held and then takes the main-loop lock (never the
 * other way round). A host without a server, or a
 * server that goes away, gives one warning line and silence. */
#include "engine/audio/audio-int.h"

#include <pulse/pulseaudio.h>
#include <string.h>

typedef struct PaOut {
    AudioDev *dev;
    pa_threaded_mainloop *loop;
    pa_context *ctx;
    pa_stream *stream;
    pa_stream *rec;     /* while an input voice records */
    char *source;       /* in.source=, NULL: no recording */
    bool silent;        /* no server (warned once) */
    bool lost_warned;
    uint32_t latency_us;
} PaOut;

static void pa_context_state_cb(pa_context *c, void *data)
{
    PaOut *p = data;
    pa_threaded_mainloop_signal(p->loop, 0);
}

static void pa_stream_state_cb(pa_stream *s, void *data)
{
    PaOut *p = data;
    pa_threaded_mainloop_signal(p->loop, 0);
}

/* Main-loop lock held: waits until the context is ready or has failed. */
static bool pa_wait_context(PaOut *p)
{
    for (;;) {
        pa_context_state_t st = pa_context_get_state(p->ctx);
        if (st == PA_CONTEXT_READY)
            return true;
        if (!PA_CONTEXT_IS_GOOD(st))
            return false;
        pa_threaded_mainloop_wait(p->loop);
    }
}

static bool pa_wait_stream(PaOut *p)
{
    for (;;) {
        pa_stream_state_t st = pa_stream_get_state(p->stream);
        if (st == PA_STREAM_READY)
            return true;
        if (!PA_STREAM_IS_GOOD(st))
            return false;
        pa_threaded_mainloop_wait(p->loop);
    }
}

/* libpulse's thread, main-loop lock held: hands what was captured to the input voices
 * (which take only their own lock). */
static void pa_rec_read_cb(pa_stream *s, size_t nbytes, void *data)
{
    PaOut *p = data;
    const void *buf;
    size_t n;
    while (pa_stream_readable_size(s) > 0 && pa_stream_peek(s, &buf, &n) == 0 && n) {
        /* buf NULL with n > 0 is a hole in the stream: nothing to hand over. */
        if (buf)
            audio_dev_captured(p->dev, buf, n / (2 * p->dev->channels));
        pa_stream_drop(s);
    }
}

/* Main-loop lock held. */
static void pa_rec_close(PaOut *p)
{
    if (!p->rec)
        return;
    pa_stream_set_read_callback(p->rec, NULL, NULL);
    pa_stream_set_state_callback(p->rec, NULL, NULL);
    pa_stream_disconnect(p->rec);
    pa_stream_unref(p->rec);
    p->rec = NULL;
}

/* Main-loop lock held: waits until the stream is ready or has failed. */
static bool pa_wait_rec(PaOut *p)
{
    for (;;) {
        pa_stream_state_t st = pa_stream_get_state(p->rec);
        if (st == PA_STREAM_READY)
            return true;
        if (!PA_STREAM_IS_GOOD(st))
            return false;
        pa_threaded_mainloop_wait(p->loop);
    }
}

static void pa_rec_state_cb(pa_stream *s, void *data)
{
    PaOut *p = data;
    pa_threaded_mainloop_signal(p->loop, 0);
}

/* Main-loop lock held: opens the record stream corked (from init, where it can wait). */
static const char *pa_rec_open(AudioDev *dev, PaOut *p)
{
    pa_sample_spec ss = { PA_SAMPLE_S16LE, dev->rate, (uint8_t)dev->channels };
    char name[96];
    g_snprintf(name, sizeof(name), "Vireo %s input", dev->id);
    p->rec = pa_stream_new(p->ctx, name, &ss, NULL);
    if (!p->rec)
        return pa_strerror(pa_context_errno(p->ctx));
    pa_buffer_attr attr = {
        .maxlength = (uint32_t)-1,
        .tlength = (uint32_t)-1,
        .prebuf = (uint32_t)-1,
        .minreq = (uint32_t)-1,
        .fragsize = (uint32_t)pa_usec_to_bytes(20000, &ss),
    };
    pa_stream_set_state_callback(p->rec, pa_rec_state_cb, p);
    pa_stream_set_read_callback(p->rec, pa_rec_read_cb, p);
    if (pa_stream_connect_record(p->rec, p->source, &attr, PA_STREAM_ADJUST_LATENCY | PA_STREAM_START_CORKED) < 0 ||
        !pa_wait_rec(p)) {
        const char *why = pa_strerror(pa_context_errno(p->ctx));
        pa_rec_close(p);
        return why;
    }
    return NULL;
}

/* Capture runs while a device records: the record stream (open from the start when
 * in.source= asked for one) is uncorked, and corked again after. Engine lock held,
 * then the main-loop lock. */
static void pa_set_capture(AudioDev *dev, bool on)
{
    PaOut *p = dev->drv;
    if (p->silent || !p->rec)
        return;
    pa_threaded_mainloop_lock(p->loop);
    if (pa_stream_get_state(p->rec) == PA_STREAM_READY) {
        pa_operation *op = pa_stream_cork(p->rec, !on, NULL, NULL);
        if (op)
            pa_operation_unref(op);
    }
    pa_threaded_mainloop_unlock(p->loop);
}

static void pa_teardown(PaOut *p)
{
    if (!p->loop)
        return;
    pa_threaded_mainloop_lock(p->loop);
    pa_rec_close(p);
    if (p->stream) {
        pa_stream_set_state_callback(p->stream, NULL, NULL);
        pa_stream_disconnect(p->stream);
        pa_stream_unref(p->stream);
        p->stream = NULL;
    }
    if (p->ctx) {
        pa_context_set_state_callback(p->ctx, NULL, NULL);
        pa_context_disconnect(p->ctx);
        pa_context_unref(p->ctx);
        p->ctx = NULL;
    }
    pa_threaded_mainloop_unlock(p->loop);
    pa_threaded_mainloop_stop(p->loop);
    pa_threaded_mainloop_free(p->loop);
    p->loop = NULL;
}

static bool pa_out_init(AudioDev *dev, GHashTable *opts, GError **err)
{
    PaOut *p = g_new0(PaOut, 1);
    p->dev = dev;
    p->latency_us = 40000;
    const char *lat = g_hash_table_lookup(opts, "out.latency");
    if (lat) {
        char *end;
        unsigned long v = strtoul(lat, &end, 10);
        if (!*lat || *end || v < 10000 || v > 1000000) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "out.latency=%s: not a number of microseconds from 10000 to 1000000", lat);
            g_free(p);
            return false;
        }
        p->latency_us = (uint32_t)v;
    }
    const char *server = g_hash_table_lookup(opts, "server");
    p->source = g_strdup(g_hash_table_lookup(opts, "in.source"));
    dev->drv = p;
    const char *why = NULL;
    p->loop = pa_threaded_mainloop_new();
    if (!p->loop) {
        why = "no main loop";
        goto silent;
    }
    p->ctx = pa_context_new(pa_threaded_mainloop_get_api(p->loop), "Vireo");
    if (!p->ctx) {
        why = "no context";
        goto silent;
    }
    pa_context_set_state_callback(p->ctx, pa_context_state_cb, p);
    if (pa_threaded_mainloop_start(p->loop) < 0) {
        why = "cannot start its thread";
        goto silent;
    }
    pa_threaded_mainloop_lock(p->loop);
    if (pa_context_connect(p->ctx, server, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0 || !pa_wait_context(p)) {
        why = pa_strerror(pa_context_errno(p->ctx));
        pa_threaded_mainloop_unlock(p->loop);
        goto silent;
    }
    pa_sample_spec ss = { PA_SAMPLE_S16LE, dev->rate, (uint8_t)dev->channels };
    char name[96];
    g_snprintf(name, sizeof(name), "Vireo %s", dev->id);
    p->stream = pa_stream_new(p->ctx, name, &ss, NULL);
    if (!p->stream) {
        why = pa_strerror(pa_context_errno(p->ctx));
        pa_threaded_mainloop_unlock(p->loop);
        goto silent;
    }
    pa_stream_set_state_callback(p->stream, pa_stream_state_cb, p);
    uint32_t tlength = (uint32_t)pa_usec_to_bytes(p->latency_us, &ss);
    pa_buffer_attr attr = {
        .maxlength = tlength * 2,
        .tlength = tlength,
        .prebuf = tlength / 2,
        .minreq = (uint32_t)-1,
        .fragsize = (uint32_t)-1,
    };
    if (pa_stream_connect_playback(p->stream, NULL, &attr,
                                   PA_STREAM_ADJUST_LATENCY | PA_STREAM_START_CORKED, NULL, NULL) < 0 ||
        !pa_wait_stream(p)) {
        why = pa_strerror(pa_context_errno(p->ctx));
        pa_threaded_mainloop_unlock(p->loop);
        goto silent;
    }
    if (p->source) {
        const char *rec_why = pa_rec_open(dev, p);
        if (rec_why)
            g_printerr("vireo: audiodev %s: cannot record from %s (%s); the inputs hear silence\n", dev->id,
                       p->source, rec_why);
    }
    pa_threaded_mainloop_unlock(p->loop);
    return true;

silent:
    /* As QEMU: no sound server is no reason not to run the VM. */
    g_printerr("vireo: audiodev %s: no PulseAudio server (%s); running without sound\n", dev->id,
               why);
    pa_teardown(p);
    p->silent = true;
    return true;
}

static void pa_out_play(AudioDev *dev, const int16_t *frames, size_t n)
{
    PaOut *p = dev->drv;
    if (p->silent)
        return;
    pa_threaded_mainloop_lock(p->loop);
    if (pa_stream_get_state(p->stream) == PA_STREAM_READY) {
        size_t bytes = n * 2 * dev->channels;
        size_t room = pa_stream_writable_size(p->stream);
        if (room != (size_t)-1) {
            bytes = MIN(bytes, room - room % (2 * dev->channels));
            if (bytes)
                pa_stream_write(p->stream, frames, bytes, NULL, 0, PA_SEEK_RELATIVE);
        }
    } else if (!p->lost_warned) {
        p->lost_warned = true;
        g_printerr("vireo: audiodev %s: lost the PulseAudio server (%s); sound is off\n", dev->id,
                   pa_strerror(pa_context_errno(p->ctx)));
    }
    pa_threaded_mainloop_unlock(p->loop);
}

static void pa_out_set_running(AudioDev *dev, bool running)
{
    PaOut *p = dev->drv;
    if (p->silent)
        return;
    pa_threaded_mainloop_lock(p->loop);
    if (pa_stream_get_state(p->stream) == PA_STREAM_READY) {
        pa_operation *op = pa_stream_cork(p->stream, !running, NULL, NULL);
        if (op)
            pa_operation_unref(op);
    }
    pa_threaded_mainloop_unlock(p->loop);
}

static void pa_out_fini(AudioDev *dev)
{
    PaOut *p = dev->drv;
    pa_teardown(p);
    g_free(p->source);
    g_free(p);
}

static const char *const pa_keys[] = { "server", "out.latency", "in.source", NULL };

const AudioDriver audio_pa_driver = {
    .name = "pa",
    .description = "PulseAudio (or PipeWire's PulseAudio server)",
    .keys = pa_keys,
    .init = pa_out_init,
    .play = pa_out_play,
    .set_running = pa_out_set_running,
    .set_capture = pa_set_capture,
    .fini = pa_out_fini,
};
