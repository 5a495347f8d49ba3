/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HD Audio link between the intel-hda controller (hw/audio/intel-hda.c) and the
 * codecs on it (hw/audio/hda-codec.c): what a codec offers the controller and what it
 * may ask of it.
 *
 * A codec attaches in its realize to the VM's first controller with a free codec
 * address (0-14); the controller reports it in STATESTS when the link leaves reset.
 * The controller owns the stream DMA and its pace (the virtual clock at the stream
 * descriptor's format): it hands each output stream's samples to every codec and asks
 * every codec for each input stream's samples, by stream number (1-15), as the link's
 * frames carry them. A codec converter takes the samples of the stream number it was
 * given (verb 706h) and ignores the rest.
 *
 * Lock rules: everything runs with the engine lock held. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Vm Vm;
typedef struct IntelHda IntelHda;

/* A stream's sample format, decoded from the 16-bit format word both the stream
 * descriptor (SDnFMT) and a converter (verb 2h) hold (HDA 1.0a 3.7.1). */
typedef struct HdaFormat {
    unsigned rate;         /* frames per second */
    unsigned bits;         /* 8, 16, 20, 24 or 32 bits per sample */
    unsigned container;    /* bytes per sample in memory and on the link: 1, 2 or 4 */
    unsigned channels;     /* 1-16 */
} HdaFormat;

/* False for reserved encodings (a multiplier of 5-8, a bit depth above 32). */
bool hda_format_decode(uint16_t fmt, HdaFormat *f);

typedef struct HdaCodecOps {
    /* A verb for the codec (cmd without its address: node << 20 | verb and payload).
     * Every verb has a response (zero for verbs the node does not know). */
    uint32_t (*command)(void *opaque, uint32_t cmd);
    /* Samples of output stream `stream` in the stream's format `fmt`, whole frames. */
    void (*output)(void *opaque, unsigned stream, const HdaFormat *fmt, const uint8_t *data, size_t bytes);
    /* Fills `bytes` (whole frames in fmt) of input stream `stream`; returns false when no
     * converter of this codec takes that stream (the controller then records zeros). */
    bool (*input)(void *opaque, unsigned stream, const HdaFormat *fmt, uint8_t *data, size_t bytes);
    /* Link reset (CRST cleared): the codec's power-on state. */
    void (*reset)(void *opaque);
} HdaCodecOps;

/* Attaches a codec; *cad gets its address. Fails when the VM has no intel-hda device
 * or its 15 addresses are taken. */
IntelHda *intel_hda_attach_codec(Vm *vm, const HdaCodecOps *ops, void *opaque, unsigned *cad, GError **err);
void intel_hda_detach_codec(IntelHda *hda, unsigned cad);
/* The codec's voice wants its samples up to the present: the controller moves what its
 * running output streams owe. */
void intel_hda_sync_output(IntelHda *hda);
