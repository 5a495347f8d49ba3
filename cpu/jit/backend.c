/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "tcg" CPU back end (and "jit", its earlier name): the x86 interpreter with the
 * translator attached, so blocks run as host code and everything else as before; on a
 * host the translator cannot generate code for, the interpreter alone. Options:
 * cache-size=BYTES[K|M] (tests fill a tiny cache many times), perf-map=on, jitdump=on. */
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
        } else if (!strcmp(*p, "jitdump=on") || !strcmp(*p, "jitdump=off")) {
            jit_opts.jitdump = !strcmp(*p, "jitdump=on");
        } else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-accel jit: unknown option '%s' (cache-size=N[K|M], perf-map=on|off, jitdump=on|off)", *p);
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
        /* (-d jit-stats counts every instruction: a budget that never ends.) */
        switch (x86_cpu_run(v->cpu, (vlog_mask & LOG_JIT_STATS) ? UINT64_MAX - 1 : UINT64_MAX)) {
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

/* -d jit-stats: what the dispatcher and the translator did, to find where a guest's
 * time goes (cpu/jit/README.md, "Counters"). */
static void print_stats(Vcpu *v)
{
    X86Cpu *c = v->cpu;
    JitStats s;
    X86ExecStats x;
    jit_get_stats(c, &s);
    x86_cpu_get_exec_stats(c, &x);
    vlog_write(LOG_JIT_STATS,
               "vcpu %u: %" G_GUINT64_FORMAT " instructions; translated %" G_GUINT64_FORMAT " blocks (%" G_GUINT64_FORMAT
               " bytes of host code, %.3f s), %" G_GUINT64_FORMAT " cache flushes; %" G_GUINT64_FORMAT " inline, %" G_GUINT64_FORMAT
               " called instructions translated; %" G_GUINT64_FORMAT " blocks interpreted (a segment their entry checks changed)",
               v->index, x86_cpu_insn_count(c), s.blocks, s.code_bytes, s.translate_ns / 1e9, s.flushes, s.insns_inline,
               s.insns_called, s.entry_interp);
    vlog_write(LOG_JIT_STATS,
               "vcpu %u: blocks run by the dispatcher %" G_GUINT64_FORMAT " (interpreted %" G_GUINT64_FORMAT "), single steps %"
               G_GUINT64_FORMAT " (interrupt shadow %" G_GUINT64_FORMAT ", no cached block %" G_GUINT64_FORMAT
               "), page-crossing instructions run at a block's end %" G_GUINT64_FORMAT ", decoded %" G_GUINT64_FORMAT ", decoded-block flushes %" G_GUINT64_FORMAT
               ", stores into code %" G_GUINT64_FORMAT,
               v->index, x.blocks_run, x.blocks_cut, x.steps, x.steps_shadow, x.steps_fetch, x.cross_runs, x.blocks_decoded, x.code_flushes, x.smc_stores);
    vlog_write(LOG_JIT_STATS,
               "vcpu %u: exits linked %" G_GUINT64_FORMAT " (to another target %" G_GUINT64_FORMAT "), found linked %" G_GUINT64_FORMAT
               " (requests pending: exit %" G_GUINT64_FORMAT ", INTR %" G_GUINT64_FORMAT ", other %" G_GUINT64_FORMAT
               "; none, instruction TLB entry taken %" G_GUINT64_FORMAT "), looked up instead (target changes too often) %" G_GUINT64_FORMAT " (table entries made %" G_GUINT64_FORMAT
               "), chainable exits to the dispatcher %"
               G_GUINT64_FORMAT "; TLB flushes %" G_GUINT64_FORMAT ", INVLPG %" G_GUINT64_FORMAT
               ", page walks %" G_GUINT64_FORMAT " (misses way 1 answered in C %" G_GUINT64_FORMAT "), CS loads %" G_GUINT64_FORMAT
               " (changed %" G_GUINT64_FORMAT "), CPL changes %" G_GUINT64_FORMAT ", interrupts %" G_GUINT64_FORMAT,
               v->index, s.links, s.retargets, s.links_kept, s.kept_exit, s.kept_intr, s.kept_req, s.kept_itlb, s.links_refused, s.ib_fills, s.unlinked, x.tlb_flushes, x.tlb_page_flushes, x.tlb_walks, x.tlb_way1_hits, x.cs_loads, x.cs_changes,
               x.cpl_changes, x.interrupts);
    uint32_t which[24];
    uint64_t count[24];
    unsigned n = jit_top_calls(c, G_N_ELEMENTS(which), which, count);
    GString *line = g_string_new(NULL);
    for (unsigned k = 0; k < n; k++) {
        unsigned op = which[k] >> 3;
        g_string_append_printf(line, " %s%02x/%u:%" G_GUINT64_FORMAT, op >= 0x100 ? "0f" : "", op & 0xff, which[k] & 7,
                               count[k]);
    }
    vlog_write(LOG_JIT_STATS, "vcpu %u: handler calls by opcode/reg:%s", v->index, line->str);
    g_string_free(line, TRUE);
}

static void jit_vcpu_destroy(Vcpu *v)
{
    JitStats s;
    if (vlog_mask & LOG_JIT_STATS)
        print_stats(v);
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
