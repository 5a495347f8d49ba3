/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM object's fields, shared by the engine's own files only. */
#pragma once

#include "engine/machine.h"
#include "engine/vcpu.h"
#include "cpu/cpu.h"
#include "engine/device.h"

typedef struct ResetEntry {
    VmResetFn fn;
    void *opaque;
    bool board; /* the board's own glue, no guest state (vm_add_board_reset_handler) */
} ResetEntry;

typedef struct CleanupEntry {
    GDestroyNotify fn;
    void *opaque;
} CleanupEntry;

typedef struct StateListener {
    guint id;
    VmStateFn fn;
    void *data;
} StateListener;

struct Vm {
    VmConfig *cfg;
    GMutex lock;
    GuestMemory *mem;
    IoSpace *io;

    const CpuBackend *accel;
    void *accel_state;
    void (*kernel_irq_line)(Vm *vm, unsigned gsi, int level);

    /* One Vcpu and host thread per processor; vcpus[0] is the bootstrap processor. */
    Vcpu vcpus[VM_CPUS_MAX];
    unsigned ncpus;
    GThread *vcpu_threads[VM_CPUS_MAX];
    GCond run_cond;   /* vCPU threads wait here while not running */
    GCond halt_cond;  /* HLT waits here for a request */
    unsigned vcpu_in_run; /* how many vCPU threads are inside the back end's vcpu_run */
    GCond park_cond;  /* signalled when one leaves vcpu_run */
    Vcpu *exclusive;  /* vcpu_exclusive_begin: the only vCPU allowed to run */
    unsigned exclusive_waiters; /* vCPUs inside vcpu_exclusive_begin waiting their turn */
    /* The vCPU stopped for the debugger (CPU_RUN_DEBUG) and the VM paused for it;
     * cleared when it runs again (debug.c resumes it the debugger's way first). */
    bool debug_stopped;

    VmState state;
    bool started;
    bool quit;
    bool reset_pending;
    bool resetting;   /* vm_do_system_reset runs with the lock dropped: others stay parked */
    VmResetReason reset_reason;
    int exit_status;
    char *error;

    /* Virtual clock: guest ns = host monotonic ns - clock_base - clock_offset while running. */
    int64_t clock_base;
    int64_t clock_offset;
    _Atomic int64_t clock_frozen; /* >= 0 while stopped: the frozen value */
    int64_t rtc_base;
    bool manual_clock;  /* unit tests: time moves only in vm_test_clock_step */
    int64_t manual_now;

    GSequence *timers;
    GCond timer_cond;
    GThread *timer_thread;
    bool timer_quit;

    DeviceList *devices; /* device.c: the device objects, in realize order */
    GArray *reset_handlers;
    GArray *cleanups;
    GArray *state_listeners;
    /* State changes queued for the main context and not yet delivered (StateEvent*):
     * vm_free cancels them, so none runs after the VM is gone. */
    GPtrArray *state_events;
    guint next_listener_id;

    void *board;
    GHashTable *buses; /* name -> attachment point (vm_add_bus) */
    GPtrArray *backends; /* backend.c: the opened host back ends */

    Chardev *serial[VM_MAX_SERIAL];
    Chardev *debugcon;

    /* display.c: the display device's console; input.c: where input events go. */
    struct DisplayConsole *display;
    struct VmInputHandler *input_board; /* the board's handler, or NULL */
    GList *input_handlers; /* VmInputHandler*, oldest first (the board's at the head) */
    GQueue *input_queue;   /* VmInputEvent*, created on first use */
    VTimer *input_timer;   /* the pause after the last event applied */
};

/* timer.c */
void vm_clock_init(Vm *vm);
void vm_clock_set_running(Vm *vm, bool running);
/* Moves a stopped clock to ns (VM state load); lock held. */
void vm_clock_set_stopped(Vm *vm, int64_t ns);
void vm_timers_start(Vm *vm);
void vm_timers_stop(Vm *vm);
void vm_timers_free(Vm *vm);
int64_t host_monotonic_ns(void);
/* Unlinks an armed timer and runs its callback (lock held). */
void vm_timer_fire(VTimer *t);
/* Runs the timers already due, on the calling vCPU thread (lock held). */
void vm_timers_run_due(Vm *vm);

/* input.c: frees the input queue (timers stopped). */
void vm_input_free(Vm *vm);

/* vcpu.c */
void vcpu_set_request(Vm *vm, unsigned bits); /* every vCPU; lock held */
void vcpu_set_request_one(Vcpu *v, unsigned bits);
/* Sets up vcpus[0..ncpus-1] (index, memory, A20 open) before the back end's vcpu_init. */
void vcpu_setup_all(Vm *vm);
/* Opens or closes the CPU's A20 gate directly (system reset; lock held). */
void vcpu_set_a20(Vm *vm, bool enabled);
bool vcpu_thread_start(Vm *vm, GError **err);
void vcpu_thread_join(Vm *vm);

/* vm.c */
void vm_set_state_locked(Vm *vm, VmState s);
/* Lock held: waits until the vCPU is outside the guest in a VM that is not running;
 * false (err set) while it runs or when the back end cannot save its state. */
bool vm_cpu_quiesce(Vm *vm, GError **err);
/* Devices still on the old reset-handler path, whose state no stream carries. */
unsigned vm_legacy_device_count(Vm *vm);
void vm_do_system_reset(Vm *vm);
/* Resets the device objects, then runs the reset handlers of the others (lock held). */
void vm_run_reset(Vm *vm);
