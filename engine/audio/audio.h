/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sound for devices: an audiodev back end (-audiodev TYPE,id=ID,...) mixes the output
 * voices its devices open and plays the mix on the host (PulseAudio, a WAV file, or
 * nowhere).
 *
 * Timing: a voice carries samples in the device's format and rate; the device produces
 * them on the virtual clock. Every timer period (timer-period=, 10 ms by default) the
 * back end's mixer asks each voice's device to catch up to the present (its sync
 * callback), takes as many frames as the elapsed virtual time holds, resamples them to
 * the host rate (linear interpolation), applies the voice's volume and mixes. A paused
 * VM's clock stands still, so nothing is produced and the host stream is corked.
 *
 * Lock rules: every function here runs with the engine lock held (device callbacks and
 * the mixer's timer hold it). Host threads (libpulse's main loop) never call into a
 * device: the mixer hands them finished frames under the back end's own lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct AudioDev AudioDev;
typedef struct AudioVoice AudioVoice;
typedef struct AudioIn AudioIn;
typedef struct Vm Vm;

/* Sample formats of a voice, little-endian. */
typedef enum {
    AUDIO_FMT_U8,
    AUDIO_FMT_S8,
    AUDIO_FMT_U16,
    AUDIO_FMT_S16,
} AudioFormat;

#define AUDIO_RATE_MIN 1000
#define AUDIO_RATE_MAX 192000

/* Called by the mixer (lock held) before it takes a voice's frames: the device writes
 * what it produced up to the present (vm_clock_ns). */
typedef void (*AudioSyncFn)(void *opaque);

/* An output voice, silent until audio_voice_set_format and inactive until
 * audio_voice_set_active. name is for messages. */
AudioVoice *audio_voice_new(AudioDev *dev, const char *name, AudioSyncFn sync, void *opaque);
void audio_voice_free(AudioVoice *v);
/* channels 1 or 2; rate is clamped to AUDIO_RATE_MIN..MAX. A change drops queued
 * frames of the old format. */
void audio_voice_set_format(AudioVoice *v, AudioFormat fmt, unsigned channels, unsigned rate);
/* An inactive voice is skipped by the mixer (and its queue emptied). */
void audio_voice_set_active(AudioVoice *v, bool active);
/* Queues frames produced at the voice's rate. A voice holds at most half a second: a
 * device far ahead of the mixer loses its oldest frames. */
void audio_voice_write(AudioVoice *v, const void *data, size_t frames);
/* Gain per channel, 0 (mute) to 65536 (unity). */
void audio_voice_set_volume(AudioVoice *v, uint32_t left, uint32_t right);
/* The rate the voice runs at (after clamping). */
unsigned audio_voice_rate(const AudioVoice *v);
/* Frames queued and not yet mixed (for tests and devices that pace themselves). */
size_t audio_voice_queued(const AudioVoice *v);

/* ---- Input (recording) ----
 * An input voice gives a device what the host captures (the back end's in.* options:
 * a PulseAudio source, a WAV file), resampled to the device's rate and format. It reads
 * silence when the back end captures nothing (none, no in.path=, no server) or the host
 * has fallen behind: the device keeps its timing either way. From a real-time capture (a
 * sound server, a front end) a voice runs 100 ms behind it, so the host's late bursts
 * arrive before the device reads them; a voice starting while another records begins
 * with the last 100 ms captured, else with 100 ms of silence. The host side is opened
 * only while an input voice is active (no microphone is held for a VM that does not
 * record). Engine lock held, as for output voices. */
AudioIn *audio_in_new(AudioDev *dev, const char *name);
void audio_in_free(AudioIn *in);
void audio_in_set_format(AudioIn *in, AudioFormat fmt, unsigned channels, unsigned rate);
/* Active: the device records (its DMA engine runs); inactive drops what was captured. */
void audio_in_set_active(AudioIn *in, bool active);
/* Fills frames frames of the voice's format into buf: captured sound, silence where
 * there is none. */
void audio_in_read(AudioIn *in, void *buf, size_t frames);

/* ---- For the app (main thread, engine lock not held) ---- */

/* The VM's output level as the user sets it: percent 0-100 on the desktop's cubic
 * curve (50% is -18 dB, as PulseAudio's sliders), applied to every audiodev's mix after
 * the devices' own volumes; muted plays silence while the devices keep their timing.
 * Takes the engine lock. */
void audio_set_output_volume(Vm *vm, unsigned percent, bool muted);
/* Whether one of the VM's devices made audible sound (above -60 dBFS, before the output
 * level) within the last half second of host time. Lock-free. */
bool audio_is_playing(Vm *vm);
/* Whether the VM has an audiodev at all (a sound card or a connected PC speaker). */
bool audio_has_output(Vm *vm);

/* A front end that carries the VM's sound elsewhere (the SPICE server): fn receives the
 * first audiodev's mix as it is made, before the user's output level, as interleaved
 * stereo signed 16-bit at rate frames per second. It runs with the engine lock held on
 * whatever thread runs the mixer's timer: it must copy and return. NULL removes it.
 * Returns false when the VM has no audiodev. Takes the engine lock. */
typedef void (*AudioTapFn)(void *opaque, const int16_t *frames, size_t n, unsigned rate);
bool audio_set_tap(Vm *vm, AudioTapFn fn, void *opaque);

/* A front end that is the VM's microphone (the SPICE server's record channel) in place
 * of the first audiodev's host capture (its in.* options). on(opaque, true) comes when the
 * first input voice starts recording (at once if one already records), false when the
 * last stops or the source is removed; it runs with the engine lock held on a vCPU or
 * timer thread, so it must only note the change and return. The source hands what it
 * gets to audio_capture_push. NULL gives the capture back to the back end. Returns the
 * audiodev (for audio_capture_push and audio_capture_rate), NULL when the VM has none.
 * Takes the engine lock. */
typedef void (*AudioCaptureFn)(void *opaque, bool on);
AudioDev *audio_set_capture_source(Vm *vm, AudioCaptureFn on, void *opaque);
/* The rate audio_capture_push's frames must have (the audiodev's host rate). Lock-free. */
unsigned audio_capture_rate(const AudioDev *dev);
/* n interleaved stereo signed 16-bit frames for the recording voices, from any thread
 * (the engine lock is not needed; the voices' queues have their own). */
void audio_capture_push(AudioDev *dev, const int16_t *frames, size_t n);
