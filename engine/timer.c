/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtual clock and the timer thread. Timers are kept in a sorted sequence; the
 * thread sleeps on a condition variable (sharing the engine lock) until the earliest
 * deadline and runs due callbacks with the lock held. */
#include "engine/vm-internal.h"

#include <time.h>

struct VTimer {
    Vm *vm;
    VTimerFn fn;
    void *opaque;
    int64_t expire;
    GSequenceIter *iter; /* NULL when not armed */
};

int64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

void vm_clock_init(Vm *vm)
{
    vm->clock_base = host_monotonic_ns();
    vm->clock_offset = 0;
    atomic_store(&vm->clock_frozen, 0);
    vm->rtc_base = g_get_real_time() * 1000;
    vm->timers = g_sequence_new(NULL);
}

int64_t vm_clock_ns(Vm *vm)
{
    if (vm->manual_clock)
        return __atomic_load_n(&vm->manual_now, __ATOMIC_ACQUIRE);
    int64_t f = atomic_load_explicit(&vm->clock_frozen, memory_order_acquire);
    if (f >= 0)
        return f;
    return host_monotonic_ns() - vm->clock_base - __atomic_load_n(&vm->clock_offset, __ATOMIC_ACQUIRE);
}

void vm_clock_set_stopped(Vm *vm, int64_t ns)
{
    if (vm->manual_clock)
        __atomic_store_n(&vm->manual_now, ns, __ATOMIC_RELEASE);
    else if (atomic_load(&vm->clock_frozen) >= 0)
        atomic_store_explicit(&vm->clock_frozen, ns, memory_order_release);
    g_cond_broadcast(&vm->timer_cond);
}

int64_t vm_rtc_base_ns(Vm *vm)
{
    return vm->rtc_base;
}

/* Lock held. */
void vm_clock_set_running(Vm *vm, bool running)
{
    int64_t f = atomic_load(&vm->clock_frozen);
    if (running && f >= 0) {
        /* Resume at the frozen value: offset = host - base - frozen. */
        __atomic_store_n(&vm->clock_offset, host_monotonic_ns() - vm->clock_base - f, __ATOMIC_RELEASE);
        atomic_store_explicit(&vm->clock_frozen, -1, memory_order_release);
        g_cond_broadcast(&vm->timer_cond);
    } else if (!running && f < 0) {
        atomic_store_explicit(&vm->clock_frozen, vm_clock_ns(vm), memory_order_release);
    }
}

static gint timer_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    (void)data;
    const VTimer *ta = a, *tb = b;
    if (ta->expire != tb->expire)
        return ta->expire < tb->expire ? -1 : 1;
    return ta < tb ? -1 : (ta > tb);
}

VTimer *vtimer_new(Vm *vm, VTimerFn fn, void *opaque)
{
    VTimer *t = g_new0(VTimer, 1);
    t->vm = vm;
    t->fn = fn;
    t->opaque = opaque;
    return t;
}

void vtimer_free(VTimer *t)
{
    if (!t)
        return;
    vtimer_del(t);
    g_free(t);
}

void vtimer_del(VTimer *t)
{
    if (t->iter) {
        g_sequence_remove(t->iter);
        t->iter = NULL;
    }
}

void vtimer_mod(VTimer *t, int64_t expire_ns)
{
    Vm *vm = t->vm;
    vtimer_del(t);
    t->expire = expire_ns;
    t->iter = g_sequence_insert_sorted(vm->timers, t, timer_cmp, NULL);
    if (g_sequence_iter_is_begin(t->iter))
        g_cond_broadcast(&vm->timer_cond);
}

bool vtimer_pending(const VTimer *t)
{
    return t->iter != NULL;
}

int64_t vtimer_expire(const VTimer *t)
{
    return t->expire;
}

int64_t ticks_to_ns(int64_t ticks, int64_t hz)
{
    return (int64_t)(((__int128)ticks * NS_PER_SEC) / hz);
}

int64_t ns_to_ticks(int64_t ns, int64_t hz)
{
    return (int64_t)(((__int128)ns * hz) / NS_PER_SEC);
}

void vm_timer_fire(VTimer *t)
{
    g_sequence_remove(t->iter);
    t->iter = NULL;
    t->fn(t->opaque);
}

/* A vCPU that polls a device (a clock register, a status port) takes and drops the
 * engine lock back to back; GMutex is not fair, so the timer thread, woken at a
 * deadline, could wait for the lock for as long as the loop runs and the device's
 * interrupts would come late or merge. Each device access therefore runs what is due
 * itself, a few at a time (the timer thread takes the rest). */
void vm_timers_run_due(Vm *vm)
{
    if (vm->manual_clock || !vm->timer_thread || atomic_load(&vm->clock_frozen) >= 0)
        return;
    int64_t now = -1;
    for (int i = 0; i < 8; i++) {
        GSequenceIter *first = g_sequence_get_begin_iter(vm->timers);
        if (g_sequence_iter_is_end(first))
            return;
        VTimer *t = g_sequence_get(first);
        if (now < 0 || t->expire > now)
            now = vm_clock_ns(vm);
        if (t->expire > now)
            return;
        vm_timer_fire(t);
    }
}

static gpointer timer_thread(gpointer data)
{
    Vm *vm = data;
    g_mutex_lock(&vm->lock);
    while (!vm->timer_quit) {
        GSequenceIter *first = g_sequence_get_begin_iter(vm->timers);
        bool running = atomic_load(&vm->clock_frozen) < 0;
        if (g_sequence_iter_is_end(first) || !running) {
            g_cond_wait(&vm->timer_cond, &vm->lock);
            continue;
        }
        VTimer *t = g_sequence_get(first);
        int64_t now = vm_clock_ns(vm);
        if (t->expire <= now) {
            vm_timer_fire(t);
            continue;
        }
        int64_t host_deadline = t->expire + vm->clock_base + vm->clock_offset;
        /* g_cond_wait_until takes g_get_monotonic_time() microseconds (CLOCK_MONOTONIC). */
        g_cond_wait_until(&vm->timer_cond, &vm->lock, (host_deadline + 999) / 1000);
    }
    g_mutex_unlock(&vm->lock);
    return NULL;
}

void vm_timers_start(Vm *vm)
{
    vm->timer_quit = false;
    vm->timer_thread = g_thread_new("vireo-timers", timer_thread, vm);
}

void vm_timers_stop(Vm *vm)
{
    if (!vm->timer_thread)
        return;
    g_mutex_lock(&vm->lock);
    vm->timer_quit = true;
    g_cond_broadcast(&vm->timer_cond);
    g_mutex_unlock(&vm->lock);
    g_thread_join(vm->timer_thread);
    vm->timer_thread = NULL;
}

void vm_timers_free(Vm *vm)
{
    if (!vm->timers)
        return;
    /* Timers still armed belong to devices that free them; just forget the links. */
    GSequenceIter *it = g_sequence_get_begin_iter(vm->timers);
    while (!g_sequence_iter_is_end(it)) {
        VTimer *t = g_sequence_get(it);
        t->iter = NULL;
        it = g_sequence_iter_next(it);
    }
    g_sequence_free(vm->timers);
    vm->timers = NULL;
}
