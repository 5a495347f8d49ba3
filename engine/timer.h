/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtual clock and its timers. The clock follows the host's monotonic clock while
 * the VM runs and stands still while it is paused. Timer callbacks run with the engine
 * lock held, on the engine's timer thread. */
#pragma once

#include <stdint.h>
#include <stdbool.h>

typedef struct Vm Vm;
typedef struct VTimer VTimer;
typedef void (*VTimerFn)(void *opaque);

#define NS_PER_SEC INT64_C(1000000000)

/* Nanoseconds of virtual time since the VM was created. Any thread, no lock needed. */
int64_t vm_clock_ns(Vm *vm);
/* Host wall-clock time (ns since the epoch) the guest RTC starts from. */
int64_t vm_rtc_base_ns(Vm *vm);

VTimer *vtimer_new(Vm *vm, VTimerFn fn, void *opaque);
void vtimer_free(VTimer *t);
/* Arms the timer to fire at virtual time expire_ns (absolute); re-arming moves it. */
void vtimer_mod(VTimer *t, int64_t expire_ns);
void vtimer_del(VTimer *t);
bool vtimer_pending(const VTimer *t);
int64_t vtimer_expire(const VTimer *t);

/* Converts between a tick count at a given frequency and nanoseconds, without overflow. */
int64_t ticks_to_ns(int64_t ticks, int64_t hz);
int64_t ns_to_ticks(int64_t ns, int64_t hz);
