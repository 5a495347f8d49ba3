/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interpreter's whole-state save and load (x86_cpu_save / x86_cpu_load, behind
 * CpuBackend's vcpu_get_state / vcpu_set_state): a workload mixing integer, x87 and
 * SSE work (cpustate/work.asm) is stopped after N instructions, its state and RAM go
 * into a fresh CPU on a fresh VM, and both finish with the same memory and state;
 * save(load(S)) is S; a state the CPU cannot hold is refused with one line and leaves
 * the CPU exactly as it was.
 *
 * Usage: cpustate WORK.BIN */
#include "cpu/x86/cpu-internal.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/testing.h"

#include "expect.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#define RAM_SIZE (UINT64_C(16) << 20)
#define RESULT_BASE 0x7fe0u
#define RESULT_END (0x8000u + 16u * 300u)


typedef struct Env {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
} Env;

static GBytes *work;

/* max without long mode (max has it now): these checks are about a 32-bit CPU, whose
 * state refuses RIP, R8-R15 and bases beyond 32 bits. */
static CpuModel p6_model;

static void env_open(Env *e)
{
    e->vm = vm_new_for_test(RAM_SIZE);
    e->v = vm_vcpu(e->vm);
    e->c = x86_cpu_new(e->v);
    p6_model = *cpu_model_get("max");
    p6_model.ext_edx &= ~(uint32_t)(CPUID_EXT_LM | CPUID_EXT_SYSCALL | CPUID_EXT_PDPE1GB | CPUID_EXT_RDTSCP);
    p6_model.ext_ecx &= ~(uint32_t)CPUID_EXT_ECX_LAHF_LM;
    p6_model.ecx &= ~(uint32_t)CPUID_ECX_CX16;
    e->c->model = &p6_model;
    e->c->features = cpu_model_features(&p6_model);
    x86_cpu_set_run_flags(e->c, X86_RUN_STOP_ON_HLT);
}

static void env_close(Env *e)
{
    x86_cpu_free(e->c);
    vm_free(e->vm);
}

/* 32-bit flat protected mode at the workload's start, SSE enabled (CR4.OSFXSR). */
static void env_start(Env *e)
{
    gsize n;
    const uint8_t *code = g_bytes_get_data(work, &n);
    mem_write(e->v->mem, 0x1000, code, n);
    X86State s;
    x86_cpu_reset(e->c);
    x86_cpu_get_state(e->c, &s);
    for (unsigned k = 0; k < X86_NSEG; k++) {
        s.seg[k] = (X86SegState){ .sel = 0x10, .base = 0, .limit = 0xffffffffu,
                                  .attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0x3 };
    }
    s.seg[X86_CS].sel = 0x08;
    s.seg[X86_CS].attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0xb;
    s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_MP;
    s.cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    s.eip = 0x1000;
    s.regs[X86_ESP] = 0x7000;
    s.eflags = 2;
    x86_cpu_set_state(e->c, &s);
}

static void run_to_hlt(Env *e)
{
    X86RunResult r = x86_cpu_run(e->c, 10000000);
    EXPECT(r == X86_RUN_HALT, "the workload did not end in HLT (%d)", r);
}

static bool states_equal(const CpuX86State *a, const CpuX86State *b, const char *what)
{
    if (memcmp(a, b, sizeof(*a)) == 0)
        return true;
    const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
    size_t off = 0;
    while (off < sizeof(*a) && pa[off] == pb[off])
        off++;
    printf("  %s: states differ first at byte %zu of %zu\n", what, off, sizeof(*a));
    return false;
}

/* Stops after split instructions, moves state and RAM into a fresh CPU on a fresh VM,
 * and finishes both: same results, same final state. */
static void test_resume(uint64_t split)
{
    Env a, b;
    env_open(&a);
    env_start(&a);
    X86RunResult r = x86_cpu_run(a.c, split);
    EXPECT(r == X86_RUN_BUDGET, "split %" G_GUINT64_FORMAT ": stopped early (%d)", split, r);
    CpuX86State *s = g_new(CpuX86State, 1);
    x86_cpu_save(a.c, s);

    env_open(&b);
    uint8_t *ram = g_malloc(RAM_SIZE);
    mem_read(a.v->mem, 0, ram, RAM_SIZE);
    mem_write(b.v->mem, 0, ram, RAM_SIZE);
    GError *err = NULL;
    bool ok = x86_cpu_load(b.c, s, &err);
    EXPECT(ok, "split %" G_GUINT64_FORMAT ": load refused: %s", split, err ? err->message : "?");
    g_clear_error(&err);

    run_to_hlt(&a);
    run_to_hlt(&b);
    uint8_t ra[RESULT_END - RESULT_BASE], rb[RESULT_END - RESULT_BASE];
    mem_read(a.v->mem, RESULT_BASE, ra, sizeof(ra));
    mem_read(b.v->mem, RESULT_BASE, rb, sizeof(rb));
    EXPECT(memcmp(ra, rb, sizeof(ra)) == 0, "split %" G_GUINT64_FORMAT ": the results differ", split);
    CpuX86State *fa = g_new(CpuX86State, 1), *fb = g_new(CpuX86State, 1);
    x86_cpu_save(a.c, fa);
    x86_cpu_save(b.c, fb);
    EXPECT(states_equal(fa, fb, "final"), "split %" G_GUINT64_FORMAT ": the final states differ", split);
    /* Past its start the workload has live x87 and SSE values when it is stopped. */
    static const uint8_t zero16[16];
    if (split >= 100)
        EXPECT((s->ftw & 0xc0) == 0xc0 && (s->mxcsr & 0x20) && memcmp(s->xmm[1], zero16, 16) != 0,
               "split %" G_GUINT64_FORMAT ": x87/SSE state looks unused (MXCSR %x, tags %x)", split,
               s->mxcsr, s->ftw);
    g_free(fa);
    g_free(fb);
    g_free(s);
    g_free(ram);
    env_close(&a);
    env_close(&b);
}

/* save(load(S)) == S, including MSRs, the TSC and the event state. */
static void test_round_trip(void)
{
    Env e;
    env_open(&e);
    env_start(&e);
    x86_cpu_run(e.c, 2500);
    CpuX86State *s = g_new(CpuX86State, 1), *t = g_new(CpuX86State, 1);
    x86_cpu_save(e.c, s);
    EXPECT(s->nmsrs >= 20, "only %u MSRs saved", s->nmsrs);
    for (unsigned k = 0; k < s->nmsrs; k++) {
        if (s->msrs[k].index == 0x277)
            s->msrs[k].value = UINT64_C(0x0001050600070406); /* PAT: WC, WP in two entries */
        if (s->msrs[k].index == 0x174)
            s->msrs[k].value = 0x10;
    }
    s->tsc = UINT64_C(0x123456789abc);
    s->halted = true;
    s->shadow = CPU_SHADOW_STI | CPU_SHADOW_MOV_SS;
    s->nmi_blocked = true;
    s->dr[0] = 0x1234;
    s->dr[7] = 0x401;
    GError *err = NULL;
    EXPECT(x86_cpu_load(e.c, s, &err), "load refused: %s", err ? err->message : "?");
    g_clear_error(&err);
    x86_cpu_save(e.c, t);
    EXPECT(states_equal(s, t, "round trip"), "save(load(S)) differs from S");
    g_free(s);
    g_free(t);
    env_close(&e);
}

typedef void (*Spoil)(CpuX86State *s);
static void spoil_rip(CpuX86State *s) { s->rip |= UINT64_C(1) << 32; }
static void spoil_r9(CpuX86State *s) { s->regs[9] = 1; }
static void spoil_eflags(CpuX86State *s) { s->rflags |= 1u << 3; }
static void spoil_mxcsr(CpuX86State *s) { s->mxcsr |= 0x10000; }
static void spoil_cr4(CpuX86State *s) { s->cr4 |= 1u << 13; }
static void spoil_cr0(CpuX86State *s) { s->cr0 = (s->cr0 & ~(uint64_t)X86_CR0_PE) | X86_CR0_PG; }
static void spoil_segbase(CpuX86State *s) { s->seg[CPU_SEG_DS].base = UINT64_C(1) << 40; }
static void spoil_xmm15(CpuX86State *s) { s->xmm[15][3] = 1; }
static void spoil_exception(CpuX86State *s) { s->exception = 14; }
static void spoil_nmsrs(CpuX86State *s) { s->nmsrs = CPU_MAX_MSRS + 1; }
static void spoil_msr_unknown(CpuX86State *s) { s->msrs[s->nmsrs++] = (CpuMsr){ .index = 0x4321 }; }
/* The last MSR refused after the others were written: they must be put back. */
static void spoil_msr_value(CpuX86State *s) { s->msrs[s->nmsrs++] = (CpuMsr){ .index = 0x277, .value = 2 }; }
/* XD disable in IA32_MISC_ENABLE with EFER.NXE set: only detectable after the MSRs. */
static void spoil_nx(CpuX86State *s)
{
    s->efer |= X86_EFER_NXE;
    for (unsigned k = 0; k < s->nmsrs; k++)
        if (s->msrs[k].index == 0x1a0)
            s->msrs[k].value |= UINT64_C(1) << 34;
}

static void test_refusals(void)
{
    static const struct { const char *name; Spoil fn; } cases[] = {
        { "RIP beyond 32 bits", spoil_rip }, { "R9", spoil_r9 }, { "EFLAGS bit 3", spoil_eflags },
        { "MXCSR bit 16", spoil_mxcsr }, { "CR4.VMXE", spoil_cr4 }, { "CR0.PG without PE", spoil_cr0 },
        { "a 64-bit segment base", spoil_segbase }, { "XMM15", spoil_xmm15 },
        { "a half-delivered #PF", spoil_exception }, { "too many MSRs", spoil_nmsrs },
        { "an unknown MSR", spoil_msr_unknown }, { "PAT type 2", spoil_msr_value },
        { "NXE with XD disabled", spoil_nx },
    };
    Env e;
    env_open(&e);
    env_start(&e);
    x86_cpu_run(e.c, 777);
    CpuX86State *before = g_new(CpuX86State, 1), *bad = g_new(CpuX86State, 1), *after = g_new(CpuX86State, 1);
    x86_cpu_save(e.c, before);
    /* Different MSR values in the bad states, so a partial write would show. */
    for (unsigned k = 0; k < G_N_ELEMENTS(cases); k++) {
        *bad = *before;
        for (unsigned m = 0; m < bad->nmsrs; m++)
            if (bad->msrs[m].index == 0x175)
                bad->msrs[m].value = 0xdead0000u + k;
        cases[k].fn(bad);
        GError *err = NULL;
        bool ok = x86_cpu_load(e.c, bad, &err);
        EXPECT(!ok, "%s: accepted", cases[k].name);
        if (err) {
            EXPECT(!strchr(err->message, '\n'), "%s: the error is not one line", cases[k].name);
            printf("refused %s: %s\n", cases[k].name, err->message);
        }
        g_clear_error(&err);
        x86_cpu_save(e.c, after);
        EXPECT(states_equal(before, after, cases[k].name), "%s: the CPU changed", cases[k].name);
    }
    g_free(before);
    g_free(bad);
    g_free(after);
    env_close(&e);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: cpustate WORK.BIN\n");
        return 2;
    }
    GError *err = NULL;
    gchar *data;
    gsize len;
    if (!g_file_get_contents(argv[1], &data, &len, &err)) {
        fprintf(stderr, "cpustate: %s\n", err->message);
        return 2;
    }
    work = g_bytes_new_take(data, len);

    static const uint64_t splits[] = { 1, 2, 3, 17, 100, 1234, 4321, 6001 };
    for (unsigned k = 0; k < G_N_ELEMENTS(splits); k++)
        test_resume(splits[k]);
    test_round_trip();
    test_refusals();
    g_bytes_unref(work);
    printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
