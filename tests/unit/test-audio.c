/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audio layer and the SB16 on a VM without CPU: the mixer's output in a WAV file
 * (format conversion, resampling, volume, mixing, length by virtual time, the header),
 * option errors, and the SB16 saved in the middle of an auto-init transfer and restored
 * into a fresh VM, which then behaves exactly as the original. */
#include "engine/audio/audio.h"
#include "engine/backend.h"
#include "hw/isa/isa-bus.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* A device that produces a constant on the virtual clock. */
typedef struct ConstSource {
    Vm *vm;
    AudioVoice *voice;
    unsigned rate, bpf;
    int64_t made;
    uint8_t frame[4];
} ConstSource;

static void const_sync(void *opaque)
{
    ConstSource *c = opaque;
    int64_t due = ns_to_ticks(vm_clock_ns(c->vm), c->rate) - c->made;
    for (; due > 0; due--, c->made++)
        audio_voice_write(c->voice, c->frame, 1);
}

static void test_wav_mix(void)
{
    g_autofree char *dir = g_dir_make_tmp("vireo-audio-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "mix.wav", NULL);
    g_autofree char *opts = g_strdup_printf("wav,id=a,path=%s,out.frequency=48000,timer-period=5000", path);
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    g_assert_true(backend_open(vm, "audiodev", opts, &err));
    g_assert_no_error(err);
    AudioDev *dev = backend_find(vm, "audiodev", "a");
    g_assert_nonnull(dev);

    /* 8-bit unsigned mono at 24 kHz: 0xC0 is +16384 on both channels. */
    ConstSource a = { vm, NULL, 24000, 1, 0, { 0xc0 } };
    /* 16-bit signed stereo at 48 kHz: +1000 / -1000, the left at half volume. */
    ConstSource b = { vm, NULL, 48000, 4, 0, { 0xe8, 0x03, 0x18, 0xfc } };
    vm_lock(vm);
    a.voice = audio_voice_new(dev, "a", const_sync, &a);
    audio_voice_set_format(a.voice, AUDIO_FMT_U8, 1, 24000);
    audio_voice_set_active(a.voice, true);
    b.voice = audio_voice_new(dev, "b", const_sync, &b);
    audio_voice_set_format(b.voice, AUDIO_FMT_S16, 2, 48000);
    audio_voice_set_volume(b.voice, 32768, 65536);
    audio_voice_set_active(b.voice, true);
    vm_unlock(vm);
    for (int i = 0; i < 1000; i++)
        vm_test_clock_step(vm, 1000000);
    vm_lock(vm);
    audio_voice_free(a.voice);
    audio_voice_free(b.voice);
    vm_unlock(vm);
    vm_free(vm); /* closes the back end: the header gets its sizes */

    g_autofree uint8_t *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, (char **)&data, &len, NULL));
    g_assert_cmpuint(len, >=, 44);
    g_assert_cmpmem(data, 4, "RIFF", 4);
    g_assert_cmpuint(le32(data + 4), ==, len - 8);
    g_assert_cmpmem(data + 8, 8, "WAVEfmt ", 8);
    g_assert_cmpuint(le32(data + 16), ==, 16);
    g_assert_cmpuint(le16(data + 20), ==, 1);      /* PCM */
    g_assert_cmpuint(le16(data + 22), ==, 2);
    g_assert_cmpuint(le32(data + 24), ==, 48000);
    g_assert_cmpuint(le32(data + 28), ==, 48000 * 4);
    g_assert_cmpuint(le16(data + 32), ==, 4);
    g_assert_cmpuint(le16(data + 34), ==, 16);
    g_assert_cmpmem(data + 36, 4, "data", 4);
    uint32_t bytes = le32(data + 40);
    g_assert_cmpuint(bytes, ==, len - 44);
    /* One second of virtual time, mixed every 5 ms: all of it but the last period. */
    uint32_t frames = bytes / 4;
    g_assert_cmpuint(frames, <=, 48000);
    g_assert_cmpuint(frames, >=, 48000 - 240);
    /* After the voices' start (a 4 ms lag, then the 24 kHz voice's interpolation),
     * every frame is the exact sum. */
    for (uint32_t f = 480; f < frames; f++) {
        int16_t l = (int16_t)le16(data + 44 + 4 * f), r = (int16_t)le16(data + 46 + 4 * f);
        if (l != 16384 + 500 || r != 16384 - 1000)
            g_error("frame %u: %d %d, expected 16884 15384", f, l, r);
    }
    g_unlink(path);
    g_rmdir(dir);
}

/* A device that alternates full-scale samples: interpolation between them must not
 * overflow (24 kHz to 48 kHz: every other output frame is the midpoint). */
typedef struct AltSource {
    Vm *vm;
    AudioVoice *voice;
    int64_t made;
} AltSource;

static void alt_sync(void *opaque)
{
    AltSource *c = opaque;
    int64_t due = ns_to_ticks(vm_clock_ns(c->vm), 24000) - c->made;
    for (; due > 0; due--, c->made++) {
        uint8_t s[2] = { c->made & 1 ? 0x00 : 0xff, c->made & 1 ? 0x80 : 0x7f };
        audio_voice_write(c->voice, s, 1);
    }
}

static void test_full_scale(void)
{
    g_autofree char *dir = g_dir_make_tmp("vireo-audio-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "alt.wav", NULL);
    g_autofree char *opts = g_strdup_printf("wav,id=a,path=%s,out.frequency=48000,out.channels=1", path);
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    g_assert_true(backend_open(vm, "audiodev", opts, &err));
    AltSource a = { vm, NULL, 0 };
    vm_lock(vm);
    a.voice = audio_voice_new(backend_find(vm, "audiodev", "a"), "alt", alt_sync, &a);
    audio_voice_set_format(a.voice, AUDIO_FMT_S16, 1, 24000);
    audio_voice_set_active(a.voice, true);
    vm_unlock(vm);
    for (int i = 0; i < 100; i++)
        vm_test_clock_step(vm, 1000000);
    vm_lock(vm);
    audio_voice_free(a.voice);
    vm_unlock(vm);
    vm_free(vm);
    g_autofree uint8_t *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, (char **)&data, &len, NULL));
    size_t frames = (len - 44) / 2;
    g_assert_cmpuint(frames, >, 4000);
    /* Past the start: full-scale frames and midpoints (-1 or 0) in between. */
    unsigned full = 0, mid = 0;
    for (size_t f = 480; f < frames; f++) {
        int16_t v = (int16_t)le16(data + 44 + 2 * f);
        if (v == 32767 || v == -32768)
            full++;
        else if (v == 0 || v == -1)
            mid++;
        else
            g_error("frame %zu: %d, neither full scale nor a midpoint", f, v);
    }
    g_assert_cmpuint(full, >, 1000);
    g_assert_cmpuint(mid, >, 1000);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_options(void)
{
    static const char *const bad[] = {
        "oss,id=a", "wav,id=a", "none,id=a,out.frequency=7999", "none,id=a,out.frequency=44k",
        "none,id=a,out.channels=3", "none,id=a,timer-period=10", "none,id=a,path=x",
        "none,id=a,out.format=f32", "none,id=a,frequency",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        g_assert_false(backend_spec_check("audiodev", bad[i], &err));
        g_assert_nonnull(err);
        g_assert_null(strchr(err->message, '\n'));
        g_clear_error(&err);
    }
    GError *err = NULL;
    g_assert_true(backend_spec_check("audiodev", "none,id=a,out.frequency=48000,out.channels=1", &err));
    g_assert_true(backend_spec_check("audiodev", "wav,id=b,path=a,,b.wav", &err));
    g_assert_no_error(err);
    /* A wav file that cannot be created is one error when the VM starts. */
    Vm *vm = vm_new_for_test(0);
    g_assert_false(backend_open(vm, "audiodev", "wav,id=a,path=/nonexistent/dir/x.wav", &err));
    g_assert_nonnull(strstr(err->message, "cannot create"));
    g_clear_error(&err);
    vm_free(vm);
}

/* ---- a front end as the microphone (audio_set_capture_source) ---- */

typedef struct CaptureSource {
    int starts, stops;
    bool on;
} CaptureSource;

static void capture_on(void *opaque, bool on)
{
    CaptureSource *c = opaque;
    c->on = on;
    if (on)
        c->starts++;
    else
        c->stops++;
}

/* The source hears when a voice starts and stops recording (at once when one already
 * records), its frames reach the voice resampled to the voice's format, and removing it
 * stops it. */
static void test_capture_source(void)
{
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    g_assert_null(audio_set_capture_source(vm, capture_on, NULL)); /* no audiodev */
    g_assert_true(backend_open(vm, "audiodev", "none,id=a,out.frequency=48000", &err));
    g_assert_no_error(err);
    AudioDev *dev = backend_find(vm, "audiodev", "a");
    vm_lock(vm);
    AudioIn *in = audio_in_new(dev, "mic");
    audio_in_set_format(in, AUDIO_FMT_S16, 2, 24000);
    audio_in_set_active(in, true);
    vm_unlock(vm);
    CaptureSource c = { 0 };
    g_assert_true(audio_set_capture_source(vm, capture_on, &c) == dev);
    g_assert_true(c.on);
    g_assert_cmpint(c.starts, ==, 1);
    g_assert_cmpuint(audio_capture_rate(dev), ==, 48000);
    /* 480 frames at 48 kHz: left +1000, right -3000. */
    int16_t frames[2 * 480];
    for (int i = 0; i < 480; i++) {
        frames[2 * i] = 1000;
        frames[2 * i + 1] = -3000;
    }
    audio_capture_push(dev, frames, 480);
    vm_lock(vm);
    int16_t got[2 * 200];
    /* The voice starts 100 ms (2400 frames at 24 kHz) behind the capture: silence, as
     * nothing was captured before it started. */
    for (int k = 0; k < 12; k++) {
        audio_in_read(in, got, 200);
        for (int i = 0; i < 200; i++)
            g_assert_cmpint(got[2 * i], ==, 0);
    }
    audio_in_read(in, got, 200);
    /* The first frame interpolates from silence; the rest are the pushed levels. */
    for (int i = 2; i < 200; i++) {
        g_assert_cmpint(got[2 * i], ==, 1000);
        g_assert_cmpint(got[2 * i + 1], ==, -3000);
    }
    /* Beyond what was pushed (240 frames at 24 kHz): silence. */
    audio_in_read(in, got, 100);
    g_assert_cmpint(got[2 * 99], ==, 0);
    audio_in_set_active(in, false);
    vm_unlock(vm);
    g_assert_false(c.on);
    g_assert_cmpint(c.stops, ==, 1);
    vm_lock(vm);
    audio_in_set_active(in, true);
    vm_unlock(vm);
    g_assert_cmpint(c.starts, ==, 2);
    /* Removed while recording: stopped, and the back end captures again. */
    g_assert_true(audio_set_capture_source(vm, NULL, NULL) == dev);
    g_assert_false(c.on);
    g_assert_cmpint(c.stops, ==, 2);
    vm_lock(vm);
    audio_in_free(in);
    vm_unlock(vm);
    vm_free(vm);
}

/* ---- input timing: a real-time capture's late frames ---- */

static void push_level(AudioDev *dev, int16_t level, size_t n)
{
    int16_t f[2 * 480];
    for (size_t i = 0; i < 480; i++)
        f[2 * i] = f[2 * i + 1] = level;
    for (size_t done = 0; done < n; done += MIN(n - done, (size_t)480))
        audio_capture_push(dev, f, MIN(n - done, (size_t)480));
}

/* A device reads a whole buffer at its end while the host delivers 20 ms late: the
 * voice's start delay absorbs that, so the only silence is at the start, never inside
 * the recording. A second voice started while the first records begins with what the
 * capture delivered in the last 100 ms, not with silence. */
static void test_capture_late_host(void)
{
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    g_assert_true(backend_open(vm, "audiodev", "none,id=a,out.frequency=48000", &err));
    g_assert_no_error(err);
    AudioDev *dev = backend_find(vm, "audiodev", "a");
    CaptureSource c = { 0 };
    g_assert_true(audio_set_capture_source(vm, capture_on, &c) == dev);
    vm_lock(vm);
    AudioIn *in = audio_in_new(dev, "pcm-in");
    audio_in_set_format(in, AUDIO_FMT_S16, 1, 48000);
    audio_in_set_active(in, true);
    vm_unlock(vm);
    g_assert_true(c.on);
    /* 250 ms buffers; by each buffer's end the host has delivered 230 ms of it. */
    int16_t *buf = g_new(int16_t, 12000);
    size_t silent_inside = 0, loud = 0;
    for (int b = 0; b < 4; b++) {
        push_level(dev, 5000, b == 0 ? 11040 : 12000);
        vm_lock(vm);
        audio_in_read(in, buf, 12000);
        vm_unlock(vm);
        for (size_t i = 0; i < 12000; i++) {
            if (buf[i] == 5000)
                loud++;
            else if (loud)
                silent_inside++;
        }
    }
    g_assert_cmpuint(silent_inside, ==, 0);
    g_assert_cmpuint(loud, >=, 4 * 12000 - 4800 - 960 - 1);
    /* A second voice: the last 100 ms of the capture at once. */
    vm_lock(vm);
    AudioIn *in2 = audio_in_new(dev, "mic-in");
    audio_in_set_format(in2, AUDIO_FMT_S16, 1, 48000);
    audio_in_set_active(in2, true);
    audio_in_read(in2, buf, 4800);
    vm_unlock(vm);
    for (size_t i = 1; i < 4800; i++)
        g_assert_cmpint(buf[i], ==, 5000);
    /* Both stop: the next start has nothing stale from before. */
    vm_lock(vm);
    audio_in_set_active(in2, false);
    audio_in_set_active(in, false);
    audio_in_set_active(in, true);
    audio_in_read(in, buf, 4800);
    vm_unlock(vm);
    for (size_t i = 0; i < 4800; i++)
        g_assert_cmpint(buf[i], ==, 0);
    vm_lock(vm);
    audio_in_free(in2);
    audio_in_free(in);
    vm_unlock(vm);
    g_assert_true(audio_set_capture_source(vm, NULL, NULL) == dev);
    g_free(buf);
    vm_free(vm);
}

/* ---- SB16 ---- */

typedef struct SbRig {
    Vm *vm;
    TestLine lines[16];
    IrqLine irq[16];
} SbRig;

static void sb_rig_init(SbRig *r, int64_t t)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(0);
    if (t)
        vm_test_clock_step(r->vm, t);
    for (int i = 0; i < 16; i++)
        r->irq[i] = test_line(&r->lines[i]);
    GError *err = NULL;
    g_assert_true(backend_open(r->vm, "audiodev", "none,id=a", &err));
    vm_lock(r->vm);
    IsaDma *dma = i8237_new(r->vm);
    isa_bus_new(r->vm, r->irq, dma);
    g_assert_nonnull(device_create_from_spec(r->vm, "sb16,audiodev=a,id=sb", &err));
    g_assert_no_error(err);
    vm_unlock(r->vm);
}

static void dsp(Vm *vm, uint8_t v)
{
    g_assert_cmpuint(inb(vm, 0x22c) & 0x80, ==, 0);
    outb(vm, 0x22c, v);
}

static uint16_t dma1_addr(Vm *vm)
{
    outb(vm, 0x0c, 0);
    uint8_t lo = inb(vm, 0x02);
    return (uint16_t)(lo | inb(vm, 0x02) << 8);
}

/* One millisecond as a guest would live it: acknowledge the 8-bit interrupt. */
static void sb_step(SbRig *r)
{
    vm_test_clock_step(r->vm, 1000000);
    if (r->lines[5].level)
        inb(r->vm, 0x22e);
}

static void test_sb16_savevm(void)
{
    SbRig a, b;
    sb_rig_init(&a, 0);
    Vm *vm = a.vm;
    uint8_t ramp[1000];
    for (int i = 0; i < 1000; i++)
        ramp[i] = (uint8_t)i;
    vm_lock(vm);
    g_assert_true(mem_write(vm_mem(vm), 0x10000, ramp, sizeof(ramp)));
    vm_unlock(vm);
    /* The 8237s on, channel 1 auto-init from 0x10000, 1000 bytes. */
    outb(vm, 0x08, 0);
    outb(vm, 0xd0, 0);
    outb(vm, 0xd6, 0xc0);
    outb(vm, 0xd4, 0);
    outb(vm, 0x0a, 0x05);
    outb(vm, 0x0c, 0);
    outb(vm, 0x0b, 0x59);
    outb(vm, 0x02, 0);
    outb(vm, 0x02, 0);
    outb(vm, 0x83, 1);
    outb(vm, 0x03, 999 & 0xff);
    outb(vm, 0x03, 999 >> 8);
    outb(vm, 0x0a, 0x01);
    /* DSP: reset, 8000 Hz, 8-bit unsigned mono auto-init, 500-byte blocks (62.5 ms). */
    outb(vm, 0x226, 1);
    outb(vm, 0x226, 0);
    g_assert_cmpuint(inb(vm, 0x22e) & 0x80, ==, 0x80);
    g_assert_cmpuint(inb(vm, 0x22a), ==, 0xaa);
    dsp(vm, 0x41);
    dsp(vm, 8000 >> 8);
    dsp(vm, 8000 & 0xff);
    dsp(vm, 0xc6);
    dsp(vm, 0x00);
    dsp(vm, 499 & 0xff);
    dsp(vm, 499 >> 8);
    for (int i = 0; i < 100; i++)
        sb_step(&a);
    /* 100 ms at 8000 Hz: 800 bytes moved, one interrupt. */
    g_assert_cmpint(a.lines[5].rises, ==, 1);
    g_assert_cmpuint(dma1_addr(vm), ==, 800);

    int64_t t = vm_clock_ns(vm);
    g_autoptr(GByteArray) dma_state = g_byte_array_new();
    g_autoptr(GByteArray) sb_state = g_byte_array_new();
    vm_lock(vm);
    device_save_state(device_find(vm, "dma"), dma_state);
    device_save_state(device_find(vm, "sb"), sb_state);
    vm_unlock(vm);

    sb_rig_init(&b, t);
    GError *err = NULL;
    vm_lock(b.vm);
    g_assert_true(mem_write(vm_mem(b.vm), 0x10000, ramp, sizeof(ramp)));
    g_assert_true(device_load_state(device_find(b.vm, "dma"), dma_state->data, dma_state->len, &err));
    g_assert_true(device_load_state(device_find(b.vm, "sb"), sb_state->data, sb_state->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    b.lines[5].rises = a.lines[5].rises;
    /* Both run on: same interrupts at the same milliseconds, same DMA position; then
     * 0xDA ends both after their current block. */
    for (int i = 0; i < 400; i++) {
        if (i == 200) {
            dsp(a.vm, 0xda);
            dsp(b.vm, 0xda);
        }
        sb_step(&a);
        sb_step(&b);
        g_assert_cmpint(a.lines[5].rises, ==, b.lines[5].rises);
        g_assert_cmpuint(dma1_addr(a.vm), ==, dma1_addr(b.vm));
    }
    /* 300 ms: blocks ended at 62.5, 125, 187.5, 250 and 312.5 ms; the exit command
     * at 300 ms lets the one running finish. */
    g_assert_cmpint(a.lines[5].rises, ==, 5);
    /* The 8237 stopped where the DSP stopped: 5 x 500 bytes into a 1000-byte ring. */
    g_assert_cmpuint(dma1_addr(a.vm), ==, (5 * 500) % 1000);

    /* A stream with a command half received, a bad state: refused with one line. */
    sb_state->data[sb_state->len / 2] ^= 0xff;
    vm_lock(b.vm);
    g_assert_false(device_load_state(device_find(b.vm, "sb"), sb_state->data, sb_state->len, &err));
    vm_unlock(b.vm);
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_free(a.vm);
    vm_free(b.vm);
}

/* 0xD0/0xD4 hold and resume a transfer (the 8237 address stands still, no interrupt
 * comes), 0x80 is silence that ends with the 8-bit interrupt, 0xF3 raises the 16-bit one
 * (mixer 0x82 bit 1, acknowledged at base+0xF), the speaker status follows 0xD1/0xD3. */
static void test_sb16_pause(void)
{
    SbRig a;
    sb_rig_init(&a, 0);
    Vm *vm = a.vm;
    outb(vm, 0x08, 0);
    outb(vm, 0xd0, 0);
    outb(vm, 0xd6, 0xc0);
    outb(vm, 0xd4, 0);
    outb(vm, 0x0a, 0x05);
    outb(vm, 0x0c, 0);
    outb(vm, 0x0b, 0x49);
    outb(vm, 0x02, 0);
    outb(vm, 0x02, 0);
    outb(vm, 0x83, 1);
    outb(vm, 0x03, 999 & 0xff);
    outb(vm, 0x03, 999 >> 8);
    outb(vm, 0x0a, 0x01);
    outb(vm, 0x226, 1);
    outb(vm, 0x226, 0);
    g_assert_cmpuint(inb(vm, 0x22a), ==, 0xaa);
    dsp(vm, 0xd8);
    g_assert_cmpuint(inb(vm, 0x22a), ==, 0x00);
    dsp(vm, 0xd1);
    dsp(vm, 0xd8);
    g_assert_cmpuint(inb(vm, 0x22a), ==, 0xff);
    /* 10000 Hz through the time constant (156), 1000 bytes single-cycle: 100 ms. */
    dsp(vm, 0x40);
    dsp(vm, 156);
    dsp(vm, 0x14);
    dsp(vm, 999 & 0xff);
    dsp(vm, 999 >> 8);
    for (int i = 0; i < 30; i++)
        sb_step(&a);
    g_assert_cmpuint(dma1_addr(vm), ==, 300);
    dsp(vm, 0xd0);
    for (int i = 0; i < 200; i++)
        sb_step(&a);
    g_assert_cmpuint(dma1_addr(vm), ==, 300);
    g_assert_cmpint(a.lines[5].rises, ==, 0);
    dsp(vm, 0xd4);
    for (int i = 0; i < 69; i++)
        sb_step(&a);
    g_assert_cmpint(a.lines[5].rises, ==, 0);
    for (int i = 0; i < 2; i++)
        sb_step(&a);
    g_assert_cmpint(a.lines[5].rises, ==, 1);
    g_assert_cmpuint(dma1_addr(vm), ==, 1000);
    /* 0x80: 500 samples of silence at 10000 Hz, then IRQ 5; no DMA. Given within a
     * millisecond of the block's end, it continues that timeline (the FIFO rule). */
    dsp(vm, 0x80);
    dsp(vm, 499 & 0xff);
    dsp(vm, 499 >> 8);
    for (int i = 0; i < 48; i++)
        sb_step(&a);
    g_assert_cmpint(a.lines[5].rises, ==, 1);
    for (int i = 0; i < 3; i++)
        sb_step(&a);
    g_assert_cmpint(a.lines[5].rises, ==, 2);
    /* The 16-bit interrupt: status bit 1 until base+0xF is read. */
    dsp(vm, 0xf3);
    g_assert_cmpint(a.lines[5].level, ==, 1);
    outb(vm, 0x224, 0x82);
    g_assert_cmpuint(inb(vm, 0x225) & 3, ==, 2);
    inb(vm, 0x22e);
    g_assert_cmpint(a.lines[5].level, ==, 1);
    inb(vm, 0x22f);
    g_assert_cmpint(a.lines[5].level, ==, 0);
    /* Moving the interrupt to IRQ 7 with the mixer. */
    outb(vm, 0x224, 0x80);
    outb(vm, 0x225, 0x04);
    dsp(vm, 0xf2);
    g_assert_cmpint(a.lines[7].level, ==, 1);
    g_assert_cmpint(a.lines[5].level, ==, 0);
    inb(vm, 0x22e);
    g_assert_cmpint(a.lines[7].level, ==, 0);
    vm_free(vm);
}

/* A hostile auto-init block shorter than one frame (16-bit stereo, 4 bytes a frame, of
 * one 16-bit sample): the block ends at once with its interrupt, as a single-cycle
 * one, instead of restarting for ever inside one mixer step (a hang the device
 * fuzzer found). */
static void test_sb16_tiny_autoinit(void)
{
    SbRig a;
    sb_rig_init(&a, 0);
    Vm *vm = a.vm;
    outb(vm, 0xd0, 0);
    outb(vm, 0xd4, 0x05);
    outb(vm, 0xd8, 0);
    outb(vm, 0xd6, 0x59); /* auto-init, memory to device, channel 5 */
    outb(vm, 0xc4, 0);
    outb(vm, 0xc4, 0);
    outb(vm, 0xc6, 0xff);
    outb(vm, 0xc6, 0x00);
    outb(vm, 0xd4, 0x01);
    outb(vm, 0x226, 1);
    outb(vm, 0x226, 0);
    g_assert_cmpuint(inb(vm, 0x22a), ==, 0xaa);
    dsp(vm, 0x41);
    dsp(vm, 44100 >> 8);
    dsp(vm, 44100 & 0xff);
    dsp(vm, 0xb6);        /* 16-bit, D/A, auto-init */
    dsp(vm, 0x30);        /* stereo, signed */
    dsp(vm, 0);           /* one sample */
    dsp(vm, 0);
    for (int i = 0; i < 20; i++) {
        vm_test_clock_step(vm, 1000000);
        inb(vm, 0x22f);
    }
    g_assert_cmpint(a.lines[5].rises, >=, 1);
    vm_free(vm);
}

/* Direct mode (0x10): each sample holds until the next, on the virtual clock: samples
 * alternating 0xC0 and 0x40 every 10 ms give runs of 441 frames at 44.1 kHz. */
static void test_sb16_direct(void)
{
    g_autofree char *dir = g_dir_make_tmp("vireo-audio-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "direct.wav", NULL);
    g_autofree char *opts = g_strdup_printf("wav,id=w,path=%s", path);
    SbRig a;
    sb_rig_init(&a, 0);
    GError *err = NULL;
    g_assert_true(backend_open(a.vm, "audiodev", opts, &err));
    vm_lock(a.vm);
    Device *sb = device_create_from_spec(a.vm, "sb16,audiodev=w,id=sbw,iobase=0x240", &err);
    g_assert_no_error(err);
    g_assert_nonnull(sb);
    vm_unlock(a.vm);
    outb(a.vm, 0x246, 1);
    outb(a.vm, 0x246, 0);
    g_assert_cmpuint(inb(a.vm, 0x24a), ==, 0xaa);
    /* Master and voice at 0 dB. */
    for (uint8_t r = 0x30; r <= 0x33; r++) {
        outb(a.vm, 0x244, r);
        outb(a.vm, 0x245, 0xf8);
    }
    for (int i = 0; i < 30; i++) {
        outb(a.vm, 0x24c, 0x10);
        outb(a.vm, 0x24c, i & 1 ? 0x40 : 0xc0);
        for (int ms = 0; ms < 10; ms++)
            vm_test_clock_step(a.vm, 1000000);
    }
    for (int ms = 0; ms < 200; ms++)
        vm_test_clock_step(a.vm, 1000000);
    vm_free(a.vm);

    g_autofree uint8_t *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, (char **)&data, &len, NULL));
    g_assert_cmpuint(len, >, 44);
    size_t frames = (len - 44) / 4;
    /* Runs of the held levels (left channel; the right is the same). */
    int16_t last = 0;
    size_t run = 0, runs = 0;
    for (size_t f = 0; f < frames; f++) {
        int16_t l = (int16_t)le16(data + 44 + 4 * f), r = (int16_t)le16(data + 46 + 4 * f);
        g_assert_cmpint(l, ==, r);
        if (l == last) {
            run++;
            continue;
        }
        /* The 28 runs between the first and the last sample are 10 ms each (the
         * 22050 Hz samples interpolated at a change give one frame in between). */
        if ((last == 16384 || last == -16384) && runs >= 1 && runs <= 28 && (run < 439 || run > 442))
            g_error("run %zu of level %d: %zu frames, expected 441", runs, last, run);
        if (last == 16384 || last == -16384)
            runs++;
        last = l;
        run = 1;
    }
    g_assert_cmpuint(runs, >=, 29);
    /* 100 ms after the last sample the DAC output has ended: silence at the end. */
    g_assert_cmpint((int16_t)le16(data + 44 + 4 * (frames - 1)), ==, 0);
    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/audio/wav-mix", test_wav_mix);
    g_test_add_func("/audio/full-scale", test_full_scale);
    g_test_add_func("/audio/options", test_options);
    g_test_add_func("/audio/capture-source", test_capture_source);
    g_test_add_func("/audio/capture-late-host", test_capture_late_host);
    g_test_add_func("/audio/sb16-savevm", test_sb16_savevm);
    g_test_add_func("/audio/sb16-pause", test_sb16_pause);
    g_test_add_func("/audio/sb16-direct", test_sb16_direct);
    g_test_add_func("/audio/sb16-tiny-autoinit", test_sb16_tiny_autoinit);
    return g_test_run();
}
