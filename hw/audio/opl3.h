/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The YMF262 (OPL3) FM chip on the virtual clock: its four ports (address and data for
 * each register bank), the two timers and the status register, and an audio voice
 * that plays its output at 49716 Hz. The sound generator itself is opl3-synth.h.
 *
 * A card embeds an Opl3 in its state struct, calls opl3_init in realize and maps
 * opl3_port_ops with the Opl3 as opaque over each port range that decodes the chip
 * (offsets 0-3: address bank 0 / status, data, address bank 1, data): the AdLib
 * (-device adlib, in opl3.c) at 0x388, the SB16 at base+0 and base+8. Its state is
 * a VMSTATE_STRUCT with opl3_vmsd; the card's check and post_load call opl3_check and
 * opl3_post_load, as sub-descriptions have none of their own.
 *
 * The IRQ output of the timers is not wired: the AdLib and SB16 leave it unconnected,
 * and drivers poll the status register.
 *
 * Lock rules: all of it runs under the engine lock (port accesses, the mixer's sync). */
#pragma once

#include <glib.h>

#include "engine/audio/audio.h"
#include "engine/ioport.h"
#include "hw/audio/opl3-synth.h"

typedef struct Vm Vm;


typedef struct Opl3 {
    /* Guest-visible state. */
    Opl3Synth synth;
    uint16_t index;     /* the register the last address write selected (0x000-0x1FF) */
    uint8_t timer1, timer2; /* registers 0x02 and 0x03: the counters' preset values */
    uint8_t timer_ctl;  /* register 0x04: bit 6 MASK T1, bit 5 MASK T2, bits 0-1 ST1/ST2 */
    uint8_t status;     /* bit 6 FT1, bit 5 FT2 (bit 7 IRQ is their OR) */
    /* Chip sample (49716 Hz since virtual time 0) each running counter last loaded,
     * and up to which the overflows were counted. */
    int64_t t1_base, t2_base, t_seen;
    int64_t bus_ns;     /* the chip's time: the virtual clock, or ahead by its accesses */
    /* Wiring. */
    Vm *vm;
    AudioVoice *voice;
    char *name;
    bool playing;       /* the voice is active */
    int64_t done;       /* chip samples produced (or skipped) since virtual time 0 */
    int64_t quiet;      /* samples the output has been silent */
} Opl3;

extern const PortOps opl3_port_ops;
extern const VmStateDesc opl3_vmsd;

void opl3_init(Opl3 *c, Vm *vm, AudioDev *audiodev, const char *name);
void opl3_destroy(Opl3 *c);
void opl3_reset(Opl3 *c);
/* Gain of the chip's output (the SB16 mixer's FM and master levels), 0 to 65536. */
void opl3_set_volume(Opl3 *c, uint32_t left, uint32_t right);
bool opl3_check(const Opl3 *c, GError **err);
void opl3_post_load(Opl3 *c);
