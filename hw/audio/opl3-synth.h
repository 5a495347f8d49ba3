/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sound generator of the Yamaha YMF262 (OPL3): its register file and the 36
 * operators, producing stereo samples at the chip's rate (14.31818 MHz / 288). No
 * clock, ports or timers here: hw/audio/opl3.c puts it on the virtual clock. Pure
 * computation, usable without a VM (tests/unit/test-opl3.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/vmstate.h"

#define OPL3_RATE 49716
#define OPL3_OPS 36
#define OPL3_CHANNELS 18

/* Envelope phases. */
enum { OPL3_EG_ATTACK, OPL3_EG_DECAY, OPL3_EG_SUSTAIN, OPL3_EG_RELEASE };

typedef struct Opl3Op {
    uint32_t phase;   /* 19-bit phase accumulator: the top 10 bits index the waveform */
    uint16_t env;     /* attenuation, 9 bits of 0.1875 dB: 0 loudest, 0x1FF off */
    uint8_t eg_state; /* OPL3_EG_* */
    uint8_t key;      /* bit 0: the channel's KEY-ON, bit 1: a rhythm key (0xBD) */
    int32_t out, prev; /* the last two outputs (feedback averages them) */
} Opl3Op;

typedef struct Opl3Synth {
    uint8_t regs[512]; /* 0x000-0x0FF bank 0, 0x100-0x1FF bank 1 */
    Opl3Op op[OPL3_OPS]; /* 18 per bank, in register offset order (0x00-0x05, 0x08-0x0D, 0x10-0x15) */
    uint32_t counter;  /* samples since reset: drives the envelopes, tremolo and vibrato */
    uint32_t noise;    /* the 23-bit noise generator of the rhythm section */
} Opl3Synth;

extern const VmStateDesc opl3_synth_vmsd;

void opl3_synth_reset(Opl3Synth *s);
/* reg 0x000-0x1FF as the chip decodes it (the caller handles bank 1 in OPL2 mode and
 * the timer registers 0x02-0x04, which only the clocked chip knows about). */
void opl3_synth_write(Opl3Synth *s, unsigned reg, uint8_t v);
/* frames stereo frames (left, right interleaved) of the chip's output A and B. */
void opl3_synth_generate(Opl3Synth *s, int16_t *out, size_t frames);
/* Advances time without sound: only for a silent chip (opl3_synth_idle). */
void opl3_synth_skip(Opl3Synth *s, uint64_t frames);
/* True when every operator's envelope is off and none is attacking: the output is
 * silent (at most -1 of DC) until a register write changes that. */
bool opl3_synth_idle(const Opl3Synth *s);
/* Whether the register values in s are consistent enough to run (for state loads). */
bool opl3_synth_valid(const Opl3Synth *s);
