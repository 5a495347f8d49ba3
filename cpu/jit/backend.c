/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "tcg" CPU back end (and "jit", its earlier name): the x86 interpreter with the
 * translator attached, so blocks run as host code and everything else as before; on a
 * host the translator cannot generate code for, the interpreter alone. Options:
 * cache-size=BYTES[K|M] (tests fill a tiny cache many times), perf-map=on. */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/config.h"
#include "engine/log.h"

#include <string.h>

/* One VM per process: vm_init's options for the vCPUs it creates. */
static JitOptions jit_opts;

static bool jit_probe(GError **err)
{
    (void)err;
    return true;
}

static char *jit_host_info(void)
{
    GError *err = NULL;
    if (!jit_supported(&err)) {
        char *s = g_strdup_printf("available as the interpreter only (%s)", err->message);
        g_error_free(err);
        return s;
    }
    return g_strdup("available (x86-64 host)");
}

static bool jit_vm_init(Vm *vm, const char *options, GError **err)
{
    (void)vm;
    memset(&jit_opts, 0, sizeof(jit_opts));
    if (!options || !*options)
        return true;
    g_auto(GStrv) parts = g_strsplit(options, ",", -1);
    for (char **p = parts; *p; p++) {
        if (g_str_has_prefix(*p, "cache-size=")) {
            jit_opts.cache_size = jit_parse_size(*p + strlen("cache-size="));
            if (!jit_opts.cache_size) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-accel jit: bad cache-size '%s'", *p);
                return false;
            }
        } else if (!strcmp(*p, "perf-map=on") || !strcmp(*p, "perf-map=off")) {
            jit_opts.perf_map = !strcmp(*p, "perf-map=on");
        } else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-accel jit: unknown option '%s' (cache-size=N[K|M], perf-map=on|off)", *p);
            return false;
        }
    }
    return true;
}

static bool jit_vcpu_init(Vcpu *v, GError **err)
{
    X86Cpu *c = x86_cpu_new(v);
    if (jit_supported(NULL) && !jit_attach(c, &jit_opts, err)) {
        x86_cpu_free(c);
        return false;
    }
    v->cpu = c;
    return true;
}

static void jit_vcpu_reset(Vcpu *v)
{
    x86_cpu_reset(v->cpu);
}

static CpuRunResult jit_vcpu_run(Vcpu *v)
{
    for (;;) {
        switch (x86_cpu_run(v->cpu, UINT64_MAX)) {
        case X86_RUN_EXIT:
        case X86_RUN_SHUTDOWN:
            return CPU_RUN_EXIT;
        case X86_RUN_DEBUG:
            return CPU_RUN_DEBUG;
        default:
            break;
        }
    }
}

static void jit_vcpu_kick(Vcpu *v)
{
    /* As the interpreter: requests are polled between blocks. */
    (void)v;
}

static void jit_vcpu_destroy(Vcpu *v)
{
    JitStats s;
    jit_get_stats(v->cpu, &s);
    VLOG(LOG_CPU, "jit: %" G_GUINT64_FORMAT " instructions executed, %" G_GUINT64_FORMAT " blocks translated, "
         "%" G_GUINT64_FORMAT " cache flushes, %" G_GUINT64_FORMAT " instructions inline, %" G_GUINT64_FORMAT " called, "
         "%" G_GUINT64_FORMAT " exits chained",
         x86_cpu_insn_count(v->cpu), s.blocks, s.flushes, s.insns_inline, s.insns_called, s.links);
    jit_detach(v->cpu);
    x86_cpu_free(v->cpu);
    v->cpu = NULL;
}

static bool jit_vcpu_get_state(Vcpu *v, CpuX86State *s, GError **err)
{
    (void)err;
    x86_cpu_save(v->cpu, s);
    return true;
}

static bool jit_vcpu_set_state(Vcpu *v, const CpuX86State *s, GError **err)
{
    return x86_cpu_load(v->cpu, s, err);
}

static char *jit_vcpu_describe(Vcpu *v)
{
    return x86_cpu_describe(v->cpu);
}

#define JIT_BACKEND(NAME, DESCRIPTION)                                                             \
    {                                                                                              \
        .name = NAME, .description = DESCRIPTION, .probe = jit_probe, .host_info = jit_host_info,  \
        .vm_init = jit_vm_init, .vcpu_init = jit_vcpu_init, .vcpu_reset = jit_vcpu_reset,           \
        .vcpu_run = jit_vcpu_run, .vcpu_kick = jit_vcpu_kick, .vcpu_destroy = jit_vcpu_destroy,     \
        .vcpu_describe = jit_vcpu_describe, .vcpu_get_state = jit_vcpu_get_state,                   \
        .vcpu_set_state = jit_vcpu_set_state, .board_apic = true, .smp = true,                      \
        .debug = &x86_debug_ops,                                                                   \
    }

const CpuBackend cpu_tcg_backend =
    JIT_BACKEND("tcg", "software CPU: dynamic translator to x86-64 host code over the interpreter");
const CpuBackend cpu_jit_backend = JIT_BACKEND("jit", "the same as tcg (its name while experimental)");
