/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine side of debugging: the CPU back end's CpuDebugOps for every vCPU, guest
 * memory through the vCPU's address translation, and resuming the VM the debugger's way. */
#include "engine/debug.h"
#include "engine/vm-internal.h"

static const CpuDebugOps *debug_ops(Vm *vm, GError **err)
{
    if (!vm->accel || !vm->accel->debug || !vm->vcpus[0].cpu) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "the CPU back end '%s' has no debugger support (use -accel tcg or -accel interp)",
                    vm_accel_name(vm));
        return NULL;
    }
    return vm->accel->debug;
}

/* Lock held: the vCPU's back end, once it is outside the guest. */
static Vcpu *stopped_vcpu(Vm *vm, unsigned cpu, GError **err)
{
    if (cpu >= vm_debug_cpu_count(vm)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no vCPU %u", cpu);
        return NULL;
    }
    if (!debug_ops(vm, err) || !vm_cpu_quiesce(vm, err))
        return NULL;
    return &vm->vcpus[cpu];
}

bool vm_debug_supported(Vm *vm, GError **err)
{
    return debug_ops(vm, err) != NULL;
}

unsigned vm_debug_cpu_count(Vm *vm)
{
    return vm->ncpus;
}

bool vm_debug_get_regs(Vm *vm, unsigned cpu, CpuX86State *s, GError **err)
{
    g_mutex_lock(&vm->lock);
    Vcpu *v = stopped_vcpu(vm, cpu, err);
    bool ok = v && vm->accel->vcpu_get_state(v, s, err);
    g_mutex_unlock(&vm->lock);
    return ok;
}

bool vm_debug_set_regs(Vm *vm, unsigned cpu, const CpuX86State *s, GError **err)
{
    g_mutex_lock(&vm->lock);
    Vcpu *v = stopped_vcpu(vm, cpu, err);
    bool ok = v && vm->accel->vcpu_set_state(v, s, err);
    g_mutex_unlock(&vm->lock);
    return ok;
}

/* Page by page: each page of a linear range may map anywhere. */
static bool debug_access(Vm *vm, unsigned cpu, uint64_t addr, uint8_t *buf, size_t len, bool physical,
                         bool write, GError **err)
{
    g_mutex_lock(&vm->lock);
    Vcpu *v = stopped_vcpu(vm, cpu, err);
    bool ok = v != NULL;
    while (ok && len) {
        size_t chunk = MEM_PAGE_SIZE - (addr & (MEM_PAGE_SIZE - 1));
        if (chunk > len)
            chunk = len;
        uint64_t pa = addr;
        if (!physical && !vm->accel->debug->translate(v, addr, &pa)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "0x%" G_GINT64_MODIFIER "x is not mapped", addr);
            ok = false;
            break;
        }
        ok = write ? mem_write(vm->mem, pa, buf, chunk) : mem_read(vm->mem, pa, buf, chunk);
        if (!ok)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "physical 0x%" G_GINT64_MODIFIER "x is not %s memory", pa, write ? "writable" : "readable");
        addr += chunk;
        buf += chunk;
        len -= chunk;
    }
    g_mutex_unlock(&vm->lock);
    return ok;
}

bool vm_debug_read(Vm *vm, unsigned cpu, uint64_t addr, void *buf, size_t len, bool physical, GError **err)
{
    return debug_access(vm, cpu, addr, buf, len, physical, false, err);
}

bool vm_debug_write(Vm *vm, unsigned cpu, uint64_t addr, const void *buf, size_t len, bool physical,
                    GError **err)
{
    return debug_access(vm, cpu, addr, (uint8_t *)buf, len, physical, true, err);
}

bool vm_debug_insert(Vm *vm, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = true;
    for (unsigned i = 0; ok && i < vm_debug_cpu_count(vm); i++) {
        Vcpu *v = stopped_vcpu(vm, i, err);
        ok = v && vm->accel->debug->insert(v, kind, addr, len, err);
    }
    g_mutex_unlock(&vm->lock);
    return ok;
}

bool vm_debug_remove(Vm *vm, CpuDebugKind kind, uint64_t addr, uint64_t len, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = true;
    for (unsigned i = 0; ok && i < vm_debug_cpu_count(vm); i++) {
        Vcpu *v = stopped_vcpu(vm, i, err);
        ok = v != NULL;
        if (ok && !vm->accel->debug->remove(v, kind, addr, len)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no such breakpoint or watchpoint");
            ok = false;
        }
    }
    g_mutex_unlock(&vm->lock);
    return ok;
}

void vm_debug_remove_all(Vm *vm)
{
    g_mutex_lock(&vm->lock);
    for (unsigned i = 0; i < vm_debug_cpu_count(vm); i++) {
        Vcpu *v = stopped_vcpu(vm, i, NULL);
        if (v)
            vm->accel->debug->remove_all(v);
    }
    g_mutex_unlock(&vm->lock);
}

bool vm_debug_resume(Vm *vm, int step_cpu, GError **err)
{
    g_mutex_lock(&vm->lock);
    bool ok = true;
    for (unsigned i = 0; ok && i < vm_debug_cpu_count(vm); i++) {
        Vcpu *v = stopped_vcpu(vm, i, err);
        ok = v != NULL;
        if (ok)
            vm->accel->debug->resume(v, (int)i == step_cpu);
    }
    VmState state = vm->state;
    if (ok)
        vm->debug_stopped = false;
    g_mutex_unlock(&vm->lock);
    if (!ok)
        return false;
    switch (state) {
    case VM_STATE_CREATED:
        return vm_start(vm, err);
    case VM_STATE_PAUSED:
        vm_resume(vm);
        return true;
    default:
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the VM cannot run (%s)", vm_state_name(state));
        return false;
    }
}

bool vm_debug_stop_reason(Vm *vm, unsigned *cpu, CpuDebugStop *stop)
{
    g_mutex_lock(&vm->lock);
    bool ok = vm->debug_stopped && vm->state != VM_STATE_RUNNING && debug_ops(vm, NULL);
    if (ok) {
        while (vm->vcpu_in_run)
            g_cond_wait(&vm->park_cond, &vm->lock);
        vm->accel->debug->stop_info(&vm->vcpus[0], stop);
        *cpu = 0;
    }
    g_mutex_unlock(&vm->lock);
    return ok;
}
