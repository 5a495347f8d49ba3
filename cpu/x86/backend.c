/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "interp" CPU back end: the x86 interpreter behind the CpuBackend interface, the
 * reference for "tcg" (cpu/jit/, the translator). */
#include "cpu/cpu.h"
#include "cpu/x86/backend.h"
#include "cpu/x86/x86.h"
#include "engine/config.h"
#include "engine/log.h"

#include <string.h>

static bool interp_probe(GError **err)
{
    (void)err;
    return true;
}

static char *interp_host_info(void)
{
    return g_strdup("available (portable interpreter, no host support needed)");
}

static bool interp_vm_init(Vm *vm, const char *options, GError **err)
{
    (void)vm;
    if (options && *options) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-accel interp takes no options (got '%s')", options);
        return false;
    }
    return true;
}

static bool interp_vcpu_init(Vcpu *v, GError **err)
{
    (void)err;
    v->cpu = x86_cpu_new(v);
    return true;
}

static void interp_vcpu_reset(Vcpu *v)
{
    x86_cpu_reset(v->cpu);
}

static CpuRunResult interp_vcpu_run(Vcpu *v)
{
    X86Cpu *c = v->cpu;
    for (;;) {
        switch (x86_cpu_run(c, UINT64_MAX)) {
        case X86_RUN_EXIT:
        case X86_RUN_SHUTDOWN:
            /* A triple fault was reported to the engine, which resets the board. */
            return CPU_RUN_EXIT;
        case X86_RUN_DEBUG:
            return CPU_RUN_DEBUG;
        default:
            break;
        }
    }
}

static void interp_vcpu_kick(Vcpu *v)
{
    /* The interpreter polls Vcpu.requests between instructions; HLT waits on the
     * engine's condition, which vcpu_set_request signals. */
    (void)v;
}

static void interp_vcpu_destroy(Vcpu *v)
{
    VLOG(LOG_CPU, "interp: %" G_GUINT64_FORMAT " instructions executed", x86_cpu_insn_count(v->cpu));
    x86_cpu_free(v->cpu);
    v->cpu = NULL;
}

static bool interp_vcpu_get_state(Vcpu *v, CpuX86State *s, GError **err)
{
    (void)err;
    x86_cpu_save(v->cpu, s);
    return true;
}

static bool interp_vcpu_set_state(Vcpu *v, const CpuX86State *s, GError **err)
{
    return x86_cpu_load(v->cpu, s, err);
}

static char *interp_vcpu_describe(Vcpu *v)
{
    return x86_cpu_describe(v->cpu);
}

const CpuBackend cpu_interp_backend = {
    .name = "interp",
    .description = "x86 interpreter (P6-class integer and system architecture)",
    .probe = interp_probe,
    .host_info = interp_host_info,
    .vm_init = interp_vm_init,
    .vcpu_init = interp_vcpu_init,
    .vcpu_reset = interp_vcpu_reset,
    .vcpu_run = interp_vcpu_run,
    .vcpu_kick = interp_vcpu_kick,
    .vcpu_destroy = interp_vcpu_destroy,
    .vcpu_describe = interp_vcpu_describe,
    .vcpu_get_state = interp_vcpu_get_state,
    .vcpu_set_state = interp_vcpu_set_state,
    .board_apic = true,
    .smp = true,
    .debug = &x86_debug_ops,
};
