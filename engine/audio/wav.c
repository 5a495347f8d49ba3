/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The wav audio back end (-audiodev wav,id=ID,path=FILE[,in.path=FILE]): the mix as a
 * RIFF/WAVE file, PCM signed 16-bit little-endian. The header's sizes are rewritten every
 * second and on close, so a run that is killed still leaves a playable file.
 *
 * in.path= is what the VM's inputs record: a 16-bit PCM WAV (mono or stereo, any rate
 * from 1000 to 192000 Hz, at most WAV_IN_MAX bytes of data), converted to the back end's
 * rate when it is opened. It plays from its start each time recording starts, on the
 * virtual clock (so a test hears the same every run), and silence after its end. */
#include "engine/audio/audio-int.h"
#include "engine/timer.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>

#define WAV_HEADER 44
/* RIFF sizes are 32-bit: the data chunk ends before 4 GiB. */
#define WAV_MAX_DATA (UINT32_MAX - WAV_HEADER)

/* The input file's data, read whole. */
#define WAV_IN_MAX (64u << 20)

typedef struct WavOut {
    FILE *f;
    char *path;
    uint64_t data_bytes;
    uint64_t since_header;
    bool failed;
    /* in.path: frames at dev->rate, dev->channels interleaved; where recording is. */
    int16_t *in;
    size_t in_frames, in_pos;
    bool capturing;
    int64_t cap_start_ns;
    int64_t cap_done;       /* frames handed over since capturing started */
} WavOut;

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The canonical 44-byte header: "RIFF" size "WAVE", a 16-byte "fmt " chunk (PCM),
 * "data" size. */
static bool wav_write_header(AudioDev *dev, WavOut *w)
{
    uint8_t h[WAV_HEADER];
    unsigned block = 2 * dev->channels;
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, (uint32_t)(36 + w->data_bytes));
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, 1);
    put_le16(h + 22, (uint16_t)dev->channels);
    put_le32(h + 24, dev->rate);
    put_le32(h + 28, dev->rate * block);
    put_le16(h + 32, (uint16_t)block);
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, (uint32_t)w->data_bytes);
    long pos = ftell(w->f);
    if (fseek(w->f, 0, SEEK_SET) || fwrite(h, 1, sizeof(h), w->f) != sizeof(h))
        return false;
    if (pos > 0 && fseek(w->f, pos, SEEK_SET))
        return false;
    return fflush(w->f) == 0;
}

static void wav_fail(AudioDev *dev, WavOut *w, const char *what)
{
    if (!w->failed)
        g_printerr("vireo: audiodev %s: %s '%s': %s; recording stops\n", dev->id, what, w->path,
                   g_strerror(errno));
    w->failed = true;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Reads a 16-bit PCM WAV and converts it to the back end's rate and channels (linear
 * interpolation): every length in the file is checked against what was read. */
static bool wav_load_input(AudioDev *dev, WavOut *w, const char *path, GError **err)
{
    g_autofree uint8_t *data = NULL;
    gsize len = 0;
    GError *e = NULL;
    GStatBuf st;
    if (g_stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || (guint64)st.st_size > WAV_IN_MAX + 4096u)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "in.path=%s: not a regular file of at most %u MiB",
                    path, WAV_IN_MAX >> 20);
        return false;
    }
    if (!g_file_get_contents(path, (char **)&data, &len, &e)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "in.path=%s: %s", path, e->message);
        g_error_free(e);
        return false;
    }
    const char *why = NULL;
    unsigned channels = 0, rate = 0, bits = 0, format = 0;
    const uint8_t *pcm = NULL;
    size_t pcm_len = 0;
    if (len < 12 || memcmp(data, "RIFF", 4) || memcmp(data + 8, "WAVE", 4)) {
        why = "not a RIFF/WAVE file";
    } else {
        for (size_t at = 12; at + 8 <= len;) {
            uint32_t size = get_le32(data + at + 4);
            const uint8_t *body = data + at + 8;
            size_t room = len - at - 8;
            if (!memcmp(data + at, "fmt ", 4)) {
                if (size < 16 || size > room) {
                    why = "a damaged fmt chunk";
                    break;
                }
                format = get_le16(body);
                channels = get_le16(body + 2);
                rate = get_le32(body + 4);
                bits = get_le16(body + 14);
            } else if (!memcmp(data + at, "data", 4)) {
                pcm = body;
                pcm_len = MIN((size_t)size, room);   /* a file cut short keeps what it has */
                break;
            }
            if (size > room)
                break;
            at += 8 + (size_t)size + (size & 1);
        }
        if (!why && !format)
            why = "no fmt chunk";
        else if (!why && (format != 1 || bits != 16 || channels < 1 || channels > 2))
            why = "not 16-bit PCM in one or two channels";
        else if (!why && (rate < AUDIO_RATE_MIN || rate > AUDIO_RATE_MAX))
            why = "a sample rate outside 1000-192000 Hz";
        else if (!why && !pcm)
            why = "no data chunk";
    }
    if (why) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "in.path=%s: %s", path, why);
        return false;
    }
    size_t src_frames = pcm_len / (2 * channels);
    size_t out_frames = src_frames ? (size_t)(((uint64_t)src_frames * dev->rate) / rate) : 0;
    w->in = g_new0(int16_t, MAX(out_frames, 1) * dev->channels);
    w->in_frames = out_frames;
    for (size_t k = 0; k < out_frames; k++) {
        /* Position k of the output in source frames, 32.32. */
        uint64_t t = ((uint64_t)k * rate << 32) / dev->rate;
        size_t i = (size_t)(t >> 32);
        int32_t f = (int32_t)((t & 0xffffffffu) >> 16);
        size_t j = MIN(i + 1, src_frames - 1);
        for (unsigned c = 0; c < dev->channels; c++) {
            unsigned sc = MIN(c, channels - 1);
            int32_t a = (int16_t)get_le16(pcm + 2 * (i * channels + sc));
            int32_t b = (int16_t)get_le16(pcm + 2 * (j * channels + sc));
            w->in[k * dev->channels + c] = (int16_t)(a + (((b - a) * f) >> 16));
        }
    }
    return true;
}

/* The frames due since recording started, from the file and then silence. */
static void wav_capture_sync(AudioDev *dev)
{
    WavOut *w = dev->drv;
    if (!w->capturing)
        return;
    int64_t due = ns_to_ticks(vm_clock_ns(dev->vm) - w->cap_start_ns, dev->rate) - w->cap_done;
    if (due <= 0)
        return;
    /* After a long stop (a state load) at most a second: the voices keep no more. */
    if (due > (int64_t)dev->rate) {
        w->cap_done += due - dev->rate;
        due = dev->rate;
    }
    int16_t silence[256 * 2] = { 0 };
    while (due > 0) {
        size_t n;
        if (w->in_pos < w->in_frames) {
            n = MIN((size_t)due, w->in_frames - w->in_pos);
            audio_dev_captured(dev, w->in + w->in_pos * dev->channels, n);
            w->in_pos += n;
        } else {
            n = MIN((size_t)due, (size_t)256);
            audio_dev_captured(dev, silence, n);
        }
        due -= (int64_t)n;
        w->cap_done += (int64_t)n;
    }
}

static void wav_set_capture(AudioDev *dev, bool on)
{
    WavOut *w = dev->drv;
    if (!w->in)
        return;
    w->capturing = on;
    w->in_pos = 0;
    w->cap_done = 0;
    w->cap_start_ns = vm_clock_ns(dev->vm);
}

static bool wav_init(AudioDev *dev, GHashTable *opts, GError **err)
{
    const char *path = g_hash_table_lookup(opts, "path");
    const char *in_path = g_hash_table_lookup(opts, "in.path");
    WavOut *w = g_new0(WavOut, 1);
    /* The input first: a bad one must not truncate the output file. */
    if (in_path && !wav_load_input(dev, w, in_path, err)) {
        g_free(w);
        return false;
    }
    w->f = fopen(path, "wb");
    if (!w->f || !wav_write_header(dev, w)) {
        int e = errno;
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot %s '%s': %s", w->f ? "write" : "create",
                    path, g_strerror(e));
        if (w->f)
            fclose(w->f);
        g_free(w->in);
        g_free(w);
        return false;
    }
    w->path = g_strdup(path);
    dev->drv = w;
    return true;
}

static void wav_play(AudioDev *dev, const int16_t *frames, size_t n)
{
    WavOut *w = dev->drv;
    if (w->failed)
        return;
    size_t bytes = n * 2 * dev->channels;
    if (w->data_bytes + bytes > WAV_MAX_DATA) {
        errno = EFBIG;
        wav_fail(dev, w, "4 GiB of WAV data in");
        return;
    }
    /* The file is little-endian; so are the hosts Vireo builds for (x86-64). */
    if (fwrite(frames, 1, bytes, w->f) != bytes) {
        wav_fail(dev, w, "cannot write");
        return;
    }
    w->data_bytes += bytes;
    w->since_header += n;
    if (w->since_header >= dev->rate) {
        w->since_header = 0;
        if (!wav_write_header(dev, w))
            wav_fail(dev, w, "cannot write");
    }
}

static void wav_fini(AudioDev *dev)
{
    WavOut *w = dev->drv;
    if (!w->failed && !wav_write_header(dev, w))
        wav_fail(dev, w, "cannot finish");
    if (fclose(w->f) && !w->failed)
        wav_fail(dev, w, "cannot close");
    g_free(w->path);
    g_free(w->in);
    g_free(w);
}

static const char *const wav_keys[] = { "path", "in.path", NULL };

const AudioDriver audio_wav_driver = {
    .name = "wav",
    .description = "writes the sound to a WAV file",
    .keys = wav_keys,
    .init = wav_init,
    .play = wav_play,
    .set_capture = wav_set_capture,
    .capture_sync = wav_capture_sync,
    .fini = wav_fini,
};
