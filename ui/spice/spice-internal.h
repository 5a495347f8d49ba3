/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the parts of the SPICE front end (spice-display.c, spice-audio.c). */
#pragma once

#include "ui/spice/spice-display.h"

#include <spice.h>

typedef struct SpiceAudio SpiceAudio;
typedef struct SpiceChar SpiceChar;

/* The VM's -chardev spicevmc,name=vdagent devices as the server's agent channel
 * (spice-char.c): attached when the server starts, an array of SpiceChar; detach
 * before the server is destroyed. Main thread. */
GPtrArray *spice_chars_attach(Vm *vm, SpiceServer *server);
void spice_chars_detach(GPtrArray *chars);

/* The playback channel for the VM's sound (the first audiodev's mix); main thread. */
SpiceAudio *spice_audio_new(Vm *vm, SpiceServer *server);
void spice_audio_free(SpiceAudio *a);
