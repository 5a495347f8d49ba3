/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/testing.h"
#include "engine/backend.h"
#include "engine/vm-internal.h"

static bool null_probe(GError **err) { (void)err; return true; }
static bool null_vcpu_init(Vcpu *v, GError **err) { (void)err; v->cpu = v; return true; }
static void null_vcpu_reset(Vcpu *v) { (void)v; }
static CpuRunResult null_vcpu_run(Vcpu *v)
{
    vcpu_halt_wait(v, false);
    return CPU_RUN_EXIT;
}

/* No CPU at all: devices are driven by the test. */
static const CpuBackend test_backend = {
    .name = "test",
    .description = "no CPU (device unit tests)",
    .probe = null_probe,
    .vcpu_init = null_vcpu_init,
    .vcpu_reset = null_vcpu_reset,
    .vcpu_run = null_vcpu_run,
};

/* The same for a whole board: the board builds its own local APIC, as it does for the
 * interpreter, so the APIC and I/O APIC are there to be driven too. */
static const CpuBackend test_board_backend = {
    .name = "test",
    .description = "no CPU (board tests)",
    .probe = null_probe,
    .vcpu_init = null_vcpu_init,
    .vcpu_reset = null_vcpu_reset,
    .vcpu_run = null_vcpu_run,
    .board_apic = true,
};

static bool none_init(Vm *vm, const VmConfig *cfg, GError **err)
{
    (void)vm; (void)cfg; (void)err;
    return true;
}

static const MachineClass none_machine = { "test-none", "an empty board for unit tests", none_init };

/* A VM without a board: memory, ports, a manual clock and the given CPU back end. */
static Vm *test_vm_alloc(uint64_t ram_size, const CpuBackend *accel)
{
    if (!machine_find(none_machine.name))
        machine_register(&none_machine);
    Vm *vm = g_new0(Vm, 1);
    g_mutex_init(&vm->lock);
    g_cond_init(&vm->run_cond);
    g_cond_init(&vm->halt_cond);
    g_cond_init(&vm->park_cond);
    g_cond_init(&vm->timer_cond);
    vm->devices = device_list_new();
    vm->reset_handlers = g_array_new(FALSE, FALSE, sizeof(ResetEntry));
    vm->cleanups = g_array_new(FALSE, FALSE, sizeof(CleanupEntry));
    vm->state_listeners = g_array_new(FALSE, FALSE, sizeof(StateListener));
    vm->state_events = g_ptr_array_new();
    vm->exit_status = -1;
    vm->cfg = vm_config_new();
    vm->cfg->name = g_strdup("test");
    vm->cfg->machine = g_strdup(none_machine.name);
    vm->cfg->ram_size = ram_size ? ram_size : UINT64_C(16) << 20;
    vm_clock_init(vm);
    vm->manual_clock = true;
    vm->manual_now = 0;
    vm->mem = mem_new(vm->cfg->ram_size, NULL);
    g_assert(vm->mem);
    vm->io = io_new();
    vm->ncpus = 1;
    vcpu_setup_all(vm);
    vm->accel = accel;
    vm->state = VM_STATE_CREATED;
    return vm;
}

Vm *vm_new_for_test(uint64_t ram_size)
{
    return test_vm_alloc(ram_size, &test_backend);
}

Vm *vm_new_board_for_test(const VmConfig *cfg, GError **err)
{
    const char *machine = cfg->machine ? cfg->machine : "pc";
    const MachineClass *mc = machine_find(machine);
    if (!mc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown machine type '%s'", machine);
        return NULL;
    }
    Vm *vm = test_vm_alloc(cfg->ram_size, &test_board_backend);
    /* A fixed date for the RTC (2026-01-01 00:00 UTC), so a run replays exactly. */
    vm->rtc_base = INT64_C(1767225600) * 1000000000;
    VmConfig *c = vm_config_copy(cfg);
    g_free(c->name);
    c->name = g_strdup("test");
    g_free(c->machine);
    c->machine = g_strdup(machine);
    c->ram_size = vm->cfg->ram_size;
    if (!c->smp)
        c->smp = 1;
    vm_config_free(vm->cfg);
    vm->cfg = c;
    /* vm_new's order: character devices and back ends, then the board, then the CPU. */
    for (int i = 0; i < VM_MAX_SERIAL; i++) {
        if (c->serial[i] && !(vm->serial[i] = chardev_open(c->serial[i], err))) {
            g_prefix_error(err, "serial%d: ", i);
            goto fail;
        }
    }
    if (c->debugcon && !(vm->debugcon = chardev_open(c->debugcon, err)))
        goto fail;
    if (!backend_open_configured(vm, err))
        goto fail;
    g_mutex_lock(&vm->lock);
    bool ok = mc->init(vm, c, err);
    g_mutex_unlock(&vm->lock);
    if (!ok || !vm->accel->vcpu_init(&vm->vcpus[0], err))
        goto fail;
    return vm;
fail:
    vm_free(vm);
    return NULL;
}

void vm_test_clock_step(Vm *vm, int64_t ns)
{
    g_mutex_lock(&vm->lock);
    int64_t target = vm->manual_now + ns;
    for (;;) {
        GSequenceIter *first = g_sequence_get_begin_iter(vm->timers);
        if (g_sequence_iter_is_end(first))
            break;
        VTimer *t = g_sequence_get(first);
        if (vtimer_expire(t) > target)
            break;
        if (vtimer_expire(t) > vm->manual_now)
            vm->manual_now = vtimer_expire(t);
        vm_timer_fire(t);
    }
    vm->manual_now = target;
    g_mutex_unlock(&vm->lock);
}

void vm_test_clock_jump(Vm *vm, int64_t ns)
{
    g_mutex_lock(&vm->lock);
    __atomic_store_n(&vm->manual_now, vm->manual_now + ns, __ATOMIC_RELEASE);
    g_mutex_unlock(&vm->lock);
}

bool vm_test_cpu_intr(Vm *vm)
{
    return atomic_load(&vm->vcpus[0].requests) & VCPU_REQ_INTR;
}

int vm_test_intr_ack(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    const CpuPins *p = &vm->vcpus[0].pins;
    int v = p->intr_ack ? p->intr_ack(p->intr_ack_opaque) : -1;
    g_mutex_unlock(&vm->lock);
    return v;
}

bool vm_test_take_reset_request(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    bool r = vm->reset_pending;
    vm->reset_pending = false;
    g_mutex_unlock(&vm->lock);
    return r;
}

void vm_test_system_reset(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    /* What vm_do_system_reset does on the vCPU thread, less the CPU. */
    vm->reset_pending = false;
    vcpu_set_a20(vm, true);
    vm_run_reset(vm);
    g_mutex_unlock(&vm->lock);
}

void vm_test_add_global(Vm *vm, const char *global)
{
    g_ptr_array_add(vm->cfg->globals, g_strdup(global));
}

void vm_test_add_drive(Vm *vm, const char *id, const char *file, const char *format)
{
    DriveConfig *d = drive_config_new();
    d->iface = DRIVE_IF_NONE;
    d->id = g_strdup(id);
    d->file = g_strdup(file);
    d->format = g_strdup(format);
    g_ptr_array_add(vm->cfg->drives, d);
}
