/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vCPU worker thread: runs the back end while the VM is running, and between runs
 * performs resets and waits out pauses. */
#include "engine/vm-internal.h"

uint32_t vcpu_pio_read(Vcpu *v, uint16_t port, unsigned size)
{
    g_mutex_lock(&v->vm->lock);
    uint32_t r = io_read(v->vm->io, port, size);
    vm_timers_run_due(v->vm);
    g_mutex_unlock(&v->vm->lock);
    return r;
}

void vcpu_pio_write(Vcpu *v, uint16_t port, uint32_t value, unsigned size)
{
    g_mutex_lock(&v->vm->lock);
    io_write(v->vm->io, port, value, size);
    vm_timers_run_due(v->vm);
    g_mutex_unlock(&v->vm->lock);
}

uint64_t vcpu_mmio_read(Vcpu *v, hwaddr addr, unsigned size)
{
    g_mutex_lock(&v->vm->lock);
    uint64_t r = mem_dispatch_read(v->vm->mem, addr, size);
    vm_timers_run_due(v->vm);
    g_mutex_unlock(&v->vm->lock);
    return r;
}

void vcpu_mmio_write(Vcpu *v, hwaddr addr, uint64_t value, unsigned size)
{
    g_mutex_lock(&v->vm->lock);
    mem_dispatch_write(v->vm->mem, addr, value, size);
    vm_timers_run_due(v->vm);
    g_mutex_unlock(&v->vm->lock);
}

int vcpu_intr_ack(Vcpu *v)
{
    const CpuPins *p = &v->pins;
    g_mutex_lock(&v->vm->lock);
    int vec = p->intr_ack ? p->intr_ack(p->intr_ack_opaque) : -1;
    g_mutex_unlock(&v->vm->lock);
    VLOG(LOG_IRQ, "INTA -> vector 0x%02x", vec);
    return vec;
}

bool vcpu_has_apic(Vcpu *v)
{
    return v->pins.apic != NULL;
}

void vcpu_cpuid_who(Vcpu *v, CpuidWho *who)
{
    *who = (CpuidWho){ .apic = vcpu_has_apic(v), .threads = 1, .cores = 1 };
    if (!v->vm)
        return;
    CpuTopology t = vm_config_topology(vm_config(v->vm));
    who->apic_id = (uint8_t)vm_cpu_apic_id(v->vm, v->index);
    who->thread_bits = (uint8_t)cpu_topology_thread_bits(&t);
    who->core_bits = (uint8_t)cpu_topology_core_bits(&t);
    who->threads = (uint8_t)t.threads;
    who->cores = (uint8_t)t.cores;
}

bool vcpu_apic_base(Vcpu *v, uint64_t *value)
{
    const CpuPins *p = &v->pins;
    if (!p->apic)
        return false;
    g_mutex_lock(&v->vm->lock);
    *value = p->apic->get_base(p->apic_opaque);
    g_mutex_unlock(&v->vm->lock);
    return true;
}

bool vcpu_set_apic_base(Vcpu *v, uint64_t value)
{
    const CpuPins *p = &v->pins;
    if (!p->apic)
        return false;
    g_mutex_lock(&v->vm->lock);
    bool ok = p->apic->set_base(p->apic_opaque, value);
    g_mutex_unlock(&v->vm->lock);
    return ok;
}

bool vcpu_apic_tpr(Vcpu *v, uint8_t *value)
{
    const CpuPins *p = &v->pins;
    if (!p->apic)
        return false;
    g_mutex_lock(&v->vm->lock);
    *value = p->apic->get_tpr(p->apic_opaque);
    g_mutex_unlock(&v->vm->lock);
    return true;
}

bool vcpu_set_apic_tpr(Vcpu *v, uint8_t value)
{
    const CpuPins *p = &v->pins;
    if (!p->apic)
        return false;
    g_mutex_lock(&v->vm->lock);
    p->apic->set_tpr(p->apic_opaque, value);
    g_mutex_unlock(&v->vm->lock);
    return true;
}

bool vcpu_take_nmi(Vcpu *v)
{
    unsigned old = atomic_fetch_and(&v->requests, ~(unsigned)VCPU_REQ_NMI);
    return old & VCPU_REQ_NMI;
}

void vcpu_set_ferr(Vcpu *v, bool asserted)
{
    Vm *vm = v->vm;
    if (!vm)
        return;
    g_mutex_lock(&vm->lock);
    VLOG(LOG_IRQ, "FERR# %s", asserted ? "asserted" : "deasserted");
    if (v->pins.ferr)
        v->pins.ferr(v->pins.ferr_opaque, asserted);
    g_mutex_unlock(&vm->lock);
}

void vm_set_ignne(Vm *vm, bool asserted)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        atomic_store(&vm->vcpus[i].ignne, asserted);
}

CpuPins *vm_cpu_pins(Vm *vm)
{
    return &vm->vcpus[0].pins;
}

CpuPins *vm_cpu_pins_n(Vm *vm, unsigned cpu)
{
    g_assert(cpu < vm->ncpus);
    return &vm->vcpus[cpu].pins;
}

/* Lock held. A change drops the CPUs' cached translations, which carry bit 20. The
 * gate is the chipset's, so every processor sees the same one. */
void vcpu_set_a20(Vm *vm, bool enabled)
{
    if (atomic_load(&vm->vcpus[0].a20) == enabled)
        return;
    for (unsigned i = 0; i < vm->ncpus; i++)
        atomic_store(&vm->vcpus[i].a20, enabled);
    vcpu_set_request(vm, VCPU_REQ_TLB);
}

/* An A20 control's line (IrqLine rules: lock held): the gate follows the OR. */
static void a20_input(void *opaque, int n, int level)
{
    Vm *vm = opaque;
    CpuPins *p = &vm->vcpus[0].pins;
    if (level)
        p->a20_inputs |= 1u << n;
    else
        p->a20_inputs &= ~(1u << n);
    vcpu_set_a20(vm, p->a20_inputs != 0);
}

IrqLine vm_cpu_a20_line(Vm *vm, unsigned n)
{
    g_assert(n < 8);
    IrqLine line;
    irq_init(&line, a20_input, vm, (int)n);
    return line;
}

bool vm_a20(Vm *vm)
{
    return atomic_load(&vm->vcpus[0].a20);
}

void vcpu_triple_fault(Vcpu *v)
{
    g_mutex_lock(&v->vm->lock);
    VLOG(LOG_INT, "triple fault");
    vm_request_reset(v->vm, VM_RESET_TRIPLE_FAULT);
    g_mutex_unlock(&v->vm->lock);
}

void vcpu_request_reset(Vcpu *v)
{
    g_mutex_lock(&v->vm->lock);
    vm_request_reset(v->vm, VM_RESET_GUEST);
    g_mutex_unlock(&v->vm->lock);
}

void vcpu_request_shutdown(Vcpu *v)
{
    g_mutex_lock(&v->vm->lock);
    vm_request_shutdown(v->vm);
    g_mutex_unlock(&v->vm->lock);
}

void vcpu_halt_wait(Vcpu *v, bool wake_on_intr)
{
    Vm *vm = v->vm;
    unsigned mask = VCPU_REQ_EXIT | VCPU_REQ_NMI | VCPU_REQ_INIT | VCPU_REQ_SIPI |
                    (wake_on_intr ? VCPU_REQ_INTR : 0);
    atomic_store(&v->in_guest, false);
    g_mutex_lock(&vm->lock);
    while (!(atomic_load(&v->requests) & mask))
        g_cond_wait(&vm->halt_cond, &vm->lock);
    atomic_store(&v->in_guest, true);
    g_mutex_unlock(&vm->lock);
}

void vcpu_sipi_wait(Vcpu *v)
{
    Vm *vm = v->vm;
    unsigned mask = VCPU_REQ_EXIT | VCPU_REQ_INIT | VCPU_REQ_SIPI;
    atomic_store(&v->in_guest, false);
    g_mutex_lock(&vm->lock);
    while (!(atomic_load(&v->requests) & mask))
        g_cond_wait(&vm->halt_cond, &vm->lock);
    atomic_store(&v->in_guest, true);
    g_mutex_unlock(&vm->lock);
}

/* Lock held (the halt condition's mutex), so a sleeping vCPU cannot miss the wake-up. */
void vcpu_set_request_one(Vcpu *v, unsigned bits)
{
    Vm *vm = v->vm;
    atomic_fetch_or(&v->requests, bits);
    g_cond_broadcast(&vm->halt_cond);
    if (vm->accel && vm->accel->vcpu_kick && v->cpu)
        vm->accel->vcpu_kick(v);
}

void vcpu_exclusive_begin(Vcpu *v)
{
    Vm *vm = v->vm;
    g_mutex_lock(&vm->lock);
    /* Another vCPU's turn first. A waiter stays counted in vcpu_in_run (it is in the
     * middle of an instruction: a pause must not see it stopped) but the owner does
     * not wait for it. */
    while (vm->exclusive) {
        vm->exclusive_waiters++;
        g_cond_broadcast(&vm->park_cond);
        g_cond_wait(&vm->run_cond, &vm->lock);
        vm->exclusive_waiters--;
    }
    vm->exclusive = v;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (&vm->vcpus[i] != v)
            vcpu_set_request_one(&vm->vcpus[i], VCPU_REQ_EXIT);
    while (vm->vcpu_in_run - vm->exclusive_waiters > 1)
        g_cond_wait(&vm->park_cond, &vm->lock);
    g_mutex_unlock(&vm->lock);
}

void vcpu_exclusive_end(Vcpu *v)
{
    Vm *vm = v->vm;
    g_mutex_lock(&vm->lock);
    g_assert(vm->exclusive == v);
    vm->exclusive = NULL;
    g_cond_broadcast(&vm->run_cond);
    g_mutex_unlock(&vm->lock);
}

void vcpu_flush_ask_begin(Vcpu *v)
{
    atomic_store(&v->flush_asking, true);
}

void vcpu_flush_ask_end(Vcpu *v)
{
    atomic_store(&v->flush_asking, false);
}

G_STATIC_ASSERT(VM_CPUS_MAX <= 32); /* a bit each in GuestMemory.page_writers */

void vcpu_flush_ask(Vcpu *v, uint32_t cpus)
{
    Vm *vm = v->vm;
    if (!vm)
        return;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (&vm->vcpus[i] == v || !(cpus & (1u << i)))
            continue;
        /* Counted before the request is raised: the count a server reads after taking
         * the request includes every ask whose request it took. */
        atomic_fetch_add(&vm->vcpus[i].flush_asked, 1);
        atomic_fetch_or(&vm->vcpus[i].requests, VCPU_REQ_TLB);
    }
}

uint64_t vcpu_flush_take(Vcpu *v)
{
    vcpu_clear_request(v, VCPU_REQ_TLB);
    return atomic_load(&v->flush_asked);
}

void vcpu_flush_served(Vcpu *v, uint64_t asked)
{
    atomic_store(&v->flush_served, asked);
}

bool vcpu_flushes_pending(Vcpu *v)
{
    Vm *vm = v->vm;
    if (!vm)
        return false;
    /* An asker still raising its requests first: once it is done, every request it
     * asked is counted and raised. */
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (&vm->vcpus[i] != v && atomic_load(&vm->vcpus[i].flush_asking))
            return true;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        Vcpu *o = &vm->vcpus[i];
        if (o == v)
            continue;
        uint64_t asked = atomic_load(&o->flush_asked);
        if (atomic_load(&o->flush_served) < asked && atomic_load(&o->in_guest))
            return true;
    }
    return false;
}

void vcpu_set_request(Vm *vm, unsigned bits)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_set_request_one(&vm->vcpus[i], bits);
}

void vm_set_accel_state(Vm *vm, void *state) { vm->accel_state = state; }
void *vm_accel_state(Vm *vm) { return vm->accel_state; }
Vcpu *vm_vcpu(Vm *vm) { return &vm->vcpus[0]; }
unsigned vm_cpu_count(Vm *vm) { return vm->ncpus; }

Vcpu *vm_vcpu_n(Vm *vm, unsigned i)
{
    g_assert(i < vm->ncpus);
    return &vm->vcpus[i];
}

static _Thread_local Vcpu *current_vcpu;

Vcpu *vcpu_current(void)
{
    return current_vcpu;
}

int vm_current_cpu(void)
{
    return current_vcpu ? current_vcpu->index : -1;
}

void vcpu_setup_all(Vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        Vcpu *v = &vm->vcpus[i];
        v->vm = vm;
        v->mem = vm->mem;
        v->index = (int)i;
        atomic_store(&v->a20, true);
    }
}

void vm_set_cpu_intr_n(Vm *vm, unsigned cpu, int level)
{
    g_return_if_fail(cpu < vm->ncpus);
    Vcpu *v = &vm->vcpus[cpu];
    if (level)
        vcpu_set_request_one(v, VCPU_REQ_INTR);
    else
        atomic_fetch_and(&v->requests, ~(unsigned)VCPU_REQ_INTR);
}

void vm_cpu_nmi_n(Vm *vm, unsigned cpu)
{
    g_return_if_fail(cpu < vm->ncpus);
    vcpu_set_request_one(&vm->vcpus[cpu], VCPU_REQ_NMI);
}

void vm_cpu_init_n(Vm *vm, unsigned cpu)
{
    g_return_if_fail(cpu < vm->ncpus);
    Vcpu *v = &vm->vcpus[cpu];
    /* An INIT cancels a STARTUP that has not been taken yet. */
    atomic_fetch_and(&v->requests, ~(unsigned)VCPU_REQ_SIPI);
    vcpu_set_request_one(v, VCPU_REQ_INIT);
}

void vm_cpu_sipi_n(Vm *vm, unsigned cpu, uint8_t vector)
{
    g_return_if_fail(cpu < vm->ncpus);
    Vcpu *v = &vm->vcpus[cpu];
    atomic_store(&v->sipi_vector, vector);
    vcpu_set_request_one(v, VCPU_REQ_SIPI);
}

void vm_set_kernel_irqchip(Vm *vm, void (*line)(Vm *vm, unsigned gsi, int level))
{
    vm->kernel_irq_line = line;
}

static gpointer vcpu_thread(gpointer data)
{
    Vcpu *v = data;
    Vm *vm = v->vm;
    current_vcpu = v;
    g_mutex_lock(&vm->lock);
    for (;;) {
        if (vm->quit)
            break;
        if (vm->reset_pending || vm->resetting) {
            /* The bootstrap processor's thread resets the board once every other vCPU
             * has stopped at an instruction boundary; the others wait for it. */
            if (v->index == 0 && !vm->resetting) {
                while (vm->vcpu_in_run)
                    g_cond_wait(&vm->park_cond, &vm->lock);
                vm_do_system_reset(vm);
                g_cond_broadcast(&vm->run_cond);
            } else {
                g_cond_wait(&vm->run_cond, &vm->lock);
            }
            continue;
        }
        if (vm->state != VM_STATE_RUNNING || (vm->exclusive && vm->exclusive != v)) {
            g_cond_wait(&vm->run_cond, &vm->lock);
            continue;
        }
        vcpu_clear_request(v, VCPU_REQ_EXIT);
        /* Resumed from a debugger stop by someone else (QMP cont): the CPU must not
         * report the same stop again. */
        if (vm->debug_stopped && v->index == 0) {
            vm->debug_stopped = false;
            vm->accel->debug->resume(v, false);
        }
        vm->vcpu_in_run++;
        g_mutex_unlock(&vm->lock);
        atomic_store(&v->in_guest, true);
        CpuRunResult r = vm->accel->vcpu_run(v);
        atomic_store(&v->in_guest, false);
        g_mutex_lock(&vm->lock);
        vm->vcpu_in_run--;
        g_cond_broadcast(&vm->park_cond);
        /* A debugger stop pauses the VM, unless the stepped instruction already
         * stopped it another way (isa-debug-exit, power off). */
        if (r == CPU_RUN_DEBUG) {
            vm->debug_stopped = true;
            if (vm->state == VM_STATE_RUNNING)
                vm_set_state_locked(vm, VM_STATE_PAUSED);
        }
        if (r == CPU_RUN_ERROR) {
            char *why = vm->accel->vcpu_describe ? vm->accel->vcpu_describe(v) : NULL;
            g_free(vm->error);
            vm->error = why ? why : g_strdup("the CPU back end failed");
            vm_set_state_locked(vm, VM_STATE_ERROR);
        }
    }
    g_mutex_unlock(&vm->lock);
    return NULL;
}

bool vcpu_thread_start(Vm *vm, GError **err)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        GError *local = NULL;
        g_autofree char *name = g_strdup_printf("vireo-vcpu%u", i);
        vm->vcpu_threads[i] = g_thread_try_new(name, vcpu_thread, &vm->vcpus[i], &local);
        if (!vm->vcpu_threads[i]) {
            g_propagate_prefixed_error(err, local, "cannot start vCPU thread %u: ", i);
            return false;
        }
    }
    return true;
}

void vcpu_thread_join(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    vm->quit = true;
    vcpu_set_request(vm, VCPU_REQ_EXIT);
    g_cond_broadcast(&vm->run_cond);
    g_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (vm->vcpu_threads[i])
            g_thread_join(vm->vcpu_threads[i]);
        vm->vcpu_threads[i] = NULL;
    }
}
