/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The wav audio back end (-audiodev wav,id=ID,path=FILE): the mix as a RIFF/WAVE file,
 * PCM signed 16-bit little-endian. The header's sizes are rewritten every second and
 * on close, so a run that is killed still leaves a playable file. */
#include "engine/audio/audio-int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define WAV_HEADER 44
/* RIFF sizes are 32-bit: the data chunk ends before 4 GiB. */
#define WAV_MAX_DATA (UINT32_MAX - WAV_HEADER)

typedef struct WavOut {
    FILE *f;
    char *path;
    uint64_t data_bytes;
    uint64_t since_header;
    bool failed;
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

static bool wav_init(AudioDev *dev, GHashTable *opts, GError **err)
{
    const char *path = g_hash_table_lookup(opts, "path");
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot create '%s': %s", path,
                    g_strerror(e));
        return false;
    }
    WavOut *w = g_new0(WavOut, 1);
    w->f = f;
    w->path = g_strdup(path);
    if (!wav_write_header(dev, w)) {
        int e = errno;
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot write '%s': %s", path,
                    g_strerror(e));
        fclose(f);
        g_free(w->path);
        g_free(w);
        return false;
    }
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
    g_free(w);
}

static const char *const wav_keys[] = { "path", NULL };

const AudioDriver audio_wav_driver = {
    .name = "wav",
    .description = "writes the sound to a WAV file",
    .keys = wav_keys,
    .init = wav_init,
    .play = wav_play,
    .fini = wav_fini,
};
