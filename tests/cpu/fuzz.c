/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hostile-guest test: random code and random system state (descriptor tables, IDT,
 * page tables, control registers, mode) run through the interpreter with every
 * exception delivered normally. Each run must end in its instruction budget, a HLT
 * or a triple fault: never a crash, an assertion or a hang. Meant to run under the
 * sanitizers too (build-asan). Seeded; a failure names the seed and run.
 *
 * With --ia32e the CPU model has long mode and a third of the paged states start in
 * IA-32e mode (4-level paging, the 64-bit IDT, compatibility mode; a 64-bit code
 * segment ends the run as not implemented, which counts as a stop).
 *
 * With --accel tcg the same runs go through the translator (a code cache of 256 KiB,
 * so that it fills and is flushed too).
 *
 * Usage: fuzz [--seed N] [--runs N] [--insns N] [--ia32e] [--accel interp|tcg] */
#include "cpu/jit/jit.h"
#include "cpu/x86/cpu-internal.h"
#include "engine/testing.h"
#include "engine/memory.h"
#include "engine/vcpu.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#define RAM_SIZE (UINT64_C(4) << 20)

/* A model with long mode, NX and 1 GiB pages (no -cpu model offers long mode yet). */
static const CpuModel lm_model = {
    "lm-fuzz", "IA-32e fuzz model", "GenuineIntel", 6, 15, 11,
    CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_MTRR |
        CPUID_PGE | CPUID_CMOV | CPUID_FXSR | CPUID_MMX | CPUID_SSE | CPUID_SSE2,
    CPUID_ECX_SSE3, CPUID_EXT_NX | CPUID_EXT_LM | CPUID_EXT_PDPE1GB | CPUID_EXT_SYSCALL, 0x80000008u, NULL,
    CPUID_EXT_ECX_LAHF_LM,
};

static void random_seg(GRand *r, X86SegState *s, bool code)
{
    s->sel = (uint16_t)g_rand_int(r);
    s->base = g_rand_boolean(r) ? 0 : (g_rand_int(r) & 0x3fffff);
    s->limit = g_rand_boolean(r) ? 0xffffffffu : (g_rand_int(r) & 0xfffff);
    s->attr = (uint16_t)((g_rand_int(r) & 0xf0ff) | X86_ATTR_P | X86_ATTR_S);
    if (code)
        s->attr |= 0x8;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    unsigned runs = 3000, insns = 20000;
    bool ia32e = false, tcg = false;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            seed = g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--runs") && a + 1 < argc)
            runs = (unsigned)g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--insns") && a + 1 < argc)
            insns = (unsigned)g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--ia32e"))
            ia32e = true;
        else if (!strcmp(argv[a], "--accel") && a + 1 < argc)
            tcg = !strcmp(argv[++a], "tcg");
    }
    GError *err = NULL;
    if (tcg && !jit_supported(&err)) {
        printf("SKIP: %s\n", err->message);
        return 77;
    }
    Vm *vm = vm_new_for_test(RAM_SIZE);
    Vcpu *v = vm_vcpu(vm);
    atomic_store(&v->a20, true);
    mem_set_ram_window(v->mem, 0xa0000, 0x60000, true, true);
    X86Cpu *c = x86_cpu_new(v);
    if (ia32e) {
        c->model = &lm_model;
        c->features = cpu_model_features(&lm_model);
    }
    x86_cpu_set_run_flags(c, X86_RUN_STOP_ON_HLT);
    if (tcg) {
        JitOptions jo = { .cache_size = 256 << 10 };
        if (!jit_attach(c, &jo, &err)) {
            printf("FAIL: cannot attach the translator: %s\n", err->message);
            return 1;
        }
    }
    uint8_t *ram = g_malloc(RAM_SIZE);
    unsigned counts[5] = { 0 };
    uint64_t total = 0;

    for (unsigned run = 0; run < runs; run++) {
        GRand *r = g_rand_new_with_seed((guint32)(seed * 1000003u + run));
        /* Memory: random bytes, sometimes mostly zeros or sparse (more plausible
         * descriptors and page tables). */
        unsigned style = g_rand_int_range(r, 0, 3);
        for (uint64_t k = 0; k < RAM_SIZE; k += 4) {
            uint32_t w = g_rand_int(r);
            if (style == 1 && (w & 7))
                w = 0;
            else if (style == 2 && (w & 1))
                w &= 0x00ff00ff;
            memcpy(ram + k, &w, 4);
        }
        mem_write(v->mem, 0, ram, RAM_SIZE);

        X86State s;
        x86_cpu_reset(c);
        x86_cpu_get_state(c, &s);
        for (unsigned k = 0; k < 8; k++)
            s.regs[k] = g_rand_int(r);
        s.eip = g_rand_int(r) & (g_rand_boolean(r) ? 0xffff : 0x3fffff);
        s.eflags = g_rand_int(r) & ~(X86_FL_TF | X86_FL_IF);
        if (g_rand_int_range(r, 0, 8) == 0)
            s.eflags |= X86_FL_TF;
        unsigned mode = g_rand_int_range(r, 0, 4);
        if (mode == 0) {
            /* real mode */
            s.eflags &= ~X86_FL_VM;
            for (unsigned k = 0; k < X86_NSEG; k++) {
                s.seg[k].sel = (uint16_t)g_rand_int(r);
                s.seg[k].base = (uint32_t)s.seg[k].sel << 4;
                s.seg[k].limit = 0xffff;
                s.seg[k].attr = X86_ATTR_P | X86_ATTR_S | (k == X86_CS ? 0xb : 0x3);
            }
            s.idt_base = 0;
            s.idt_limit = 0x3ff;
        } else {
            s.cr0 = X86_CR0_PE | X86_CR0_ET | (g_rand_int(r) & (X86_CR0_WP | X86_CR0_AM | X86_CR0_EM | X86_CR0_TS));
            if (mode >= 2)
                s.cr0 |= X86_CR0_PG;
            s.cr3 = g_rand_int(r) & 0x3ff000;
            s.cr4 = g_rand_int(r) & (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_TSD);
            s.efer = g_rand_boolean(r) ? X86_EFER_NXE : 0;
            s.gdt_base = g_rand_int(r) & 0x3fffff;
            s.gdt_limit = (uint16_t)g_rand_int(r);
            s.idt_base = g_rand_int(r) & 0x3fffff;
            s.idt_limit = (uint16_t)g_rand_int(r);
            for (unsigned k = 0; k < X86_NSEG; k++)
                random_seg(r, &s.seg[k], k == X86_CS);
            random_seg(r, &s.tr, false);
            s.tr.attr = X86_ATTR_P | (g_rand_boolean(r) ? 0xb : 0x3);
            random_seg(r, &s.ldtr, false);
            s.ldtr.attr = X86_ATTR_P | 2;
            /* CPL from SS.DPL; V86 sometimes */
            if (mode == 3 && g_rand_boolean(r))
                s.eflags |= X86_FL_VM;
            else
                s.eflags &= ~X86_FL_VM;
            if (ia32e && mode >= 2 && g_rand_int_range(r, 0, 3) != 0) {
                s.cr4 |= X86_CR4_PAE;
                s.efer |= X86_EFER_LME | X86_EFER_LMA;
                s.eflags &= ~X86_FL_VM;
                if (g_rand_int_range(r, 0, 8) != 0)
                    s.seg[X86_CS].attr &= (uint16_t)~X86_ATTR_L;
            }
            if (g_rand_boolean(r))
                s.dr[7] = g_rand_int(r) & 0xff00ff;
            for (unsigned k = 0; k < 4; k++)
                s.dr[k] = g_rand_int(r) & 0x3fffff;
        }
        x86_cpu_set_state(c, &s);
        uint64_t before = x86_cpu_insn_count(c);
        X86RunResult res = x86_cpu_run(c, insns);
        total += x86_cpu_insn_count(c) - before;
        if ((unsigned)res >= G_N_ELEMENTS(counts) || res == X86_RUN_EXIT || res == X86_RUN_EXCEPTION) {
            printf("FAIL: seed %" G_GUINT64_FORMAT " run %u ended with %d\n", seed, run, res);
            return 1;
        }
        counts[res]++;
        /* A triple fault asked the (absent) board for a reset: drop the request. */
        vm_test_take_reset_request(vm);
        vcpu_clear_request(v, VCPU_REQ_EXIT);
        g_rand_free(r);
    }
    printf("fuzz: seed %" G_GUINT64_FORMAT ": %u runs, %" G_GUINT64_FORMAT " instructions: "
           "%u budget, %u HLT, %u triple fault\n",
           seed, runs, total, counts[X86_RUN_BUDGET], counts[X86_RUN_HALT], counts[X86_RUN_SHUTDOWN]);
    if (tcg) {
        JitStats js;
        jit_get_stats(c, &js);
        printf("translator: %" G_GUINT64_FORMAT " blocks translated, %" G_GUINT64_FORMAT " instructions inline, %" G_GUINT64_FORMAT
               " called, %" G_GUINT64_FORMAT " cache flushes\n", js.blocks, js.insns_inline, js.insns_called, js.flushes);
        if (!js.blocks) {
            printf("FAIL: nothing was translated\n");
            return 1;
        }
        jit_detach(c);
    }
    x86_cpu_free(c);
    vm_free(vm);
    g_free(ram);
    return 0;
}
