/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SSSE3 and POPCNT against the host CPU: each instruction form runs on random operands
 * in the interpreter (register and memory source, XMM and MMX forms, every PALIGNR
 * shift) and natively on the same values; results and, for POPCNT, the arithmetic
 * flags must match. Skips (77) on a host without SSSE3 or POPCNT.
 *
 * Usage: simd-host [CASES] */
#include "cpu/x86/x86.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/testing.h"

#include "expect.h"

#include <cpuid.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#define CODE 0x1000u
#define DATA 0x3000u

typedef struct Env {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
} Env;

/* One instruction, then HLT, from flat 32-bit protected mode with SSE on. */
static void run(Env *e, const uint8_t *insn, size_t len, CpuX86State *st)
{
    uint8_t code[32];
    memcpy(code, insn, len);
    code[len] = 0xf4;
    mem_write(e->v->mem, CODE, code, len + 1);
    st->rip = CODE;
    GError *err = NULL;
    if (!x86_cpu_load(e->c, st, &err))
        g_error("load: %s", err->message);
    X86RunResult r = x86_cpu_run(e->c, 10);
    EXPECT(r == X86_RUN_HALT, "the instruction did not run to HLT (%d)", r);
    x86_cpu_save(e->c, st);
}

static void base_state(Env *e, CpuX86State *st)
{
    X86State s;
    x86_cpu_reset(e->c);
    x86_cpu_get_state(e->c, &s);
    for (unsigned k = 0; k < X86_NSEG; k++)
        s.seg[k] = (X86SegState){ .sel = 0x10, .base = 0, .limit = 0xffffffffu,
                                  .attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0x3 };
    s.seg[X86_CS].sel = 0x08;
    s.seg[X86_CS].attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0xb;
    s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_MP;
    s.cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    s.eip = CODE;
    s.regs[X86_ESP] = 0x7000;
    s.eflags = 2;
    x86_cpu_set_state(e->c, &s);
    x86_cpu_save(e->c, st);
}

/* The host's result of "OP xmm1, xmm0" (AT&T: source first), imm for PALIGNR. */
#define HOST_XMM(name, insn)                                                                   \
    static void host_##name(uint8_t d[16], const uint8_t s[16], unsigned imm)                 \
    {                                                                                          \
        (void)imm;                                                                             \
        __asm__ volatile("movdqu (%0), %%xmm0\n\tmovdqu (%1), %%xmm1\n\t" insn                 \
                         " %%xmm1, %%xmm0\n\tmovdqu %%xmm0, (%0)"                              \
                         : : "r"(d), "r"(s) : "xmm0", "xmm1", "memory");                       \
    }                                                                                          \
    static void host_mm_##name(uint8_t d[8], const uint8_t s[8], unsigned imm)                \
    {                                                                                          \
        (void)imm;                                                                             \
        __asm__ volatile("movq (%0), %%mm0\n\tmovq (%1), %%mm1\n\t" insn                       \
                         " %%mm1, %%mm0\n\tmovq %%mm0, (%0)\n\temms"                           \
                         : : "r"(d), "r"(s) : "memory");                                        \
    }

HOST_XMM(pshufb, "pshufb")
HOST_XMM(phaddw, "phaddw")
HOST_XMM(phaddd, "phaddd")
HOST_XMM(phaddsw, "phaddsw")
HOST_XMM(pmaddubsw, "pmaddubsw")
HOST_XMM(phsubw, "phsubw")
HOST_XMM(phsubd, "phsubd")
HOST_XMM(phsubsw, "phsubsw")
HOST_XMM(psignb, "psignb")
HOST_XMM(psignw, "psignw")
HOST_XMM(psignd, "psignd")
HOST_XMM(pmulhrsw, "pmulhrsw")
HOST_XMM(pabsb, "pabsb")
HOST_XMM(pabsw, "pabsw")
HOST_XMM(pabsd, "pabsd")

/* PALIGNR's shift is an immediate: one host function per value used. */
#define HOST_PALIGNR(n)                                                                        \
    static void host_palignr_##n(uint8_t d[16], const uint8_t s[16])                          \
    {                                                                                          \
        __asm__ volatile("movdqu (%0), %%xmm0\n\tmovdqu (%1), %%xmm1\n\tpalignr $" #n          \
                         ", %%xmm1, %%xmm0\n\tmovdqu %%xmm0, (%0)"                             \
                         : : "r"(d), "r"(s) : "xmm0", "xmm1", "memory");                       \
    }
HOST_PALIGNR(0)
HOST_PALIGNR(5)
HOST_PALIGNR(15)
HOST_PALIGNR(16)
HOST_PALIGNR(23)
HOST_PALIGNR(31)
HOST_PALIGNR(32)
static const struct {
    unsigned n;
    void (*fn)(uint8_t *, const uint8_t *);
} palignr[] = { { 0, host_palignr_0 }, { 5, host_palignr_5 }, { 15, host_palignr_15 }, { 16, host_palignr_16 },
                { 23, host_palignr_23 }, { 31, host_palignr_31 }, { 32, host_palignr_32 } };

typedef void (*HostOp)(uint8_t *d, const uint8_t *s, unsigned imm);
static const struct {
    const char *name;
    uint8_t op;
    HostOp xmm, mm;
} ops[] = {
#define OP(n, b) { #n, b, host_##n, host_mm_##n }
    OP(pshufb, 0x00), OP(phaddw, 0x01), OP(phaddd, 0x02), OP(phaddsw, 0x03), OP(pmaddubsw, 0x04),
    OP(phsubw, 0x05), OP(phsubd, 0x06), OP(phsubsw, 0x07), OP(psignb, 0x08), OP(psignw, 0x09),
    OP(psignd, 0x0a), OP(pmulhrsw, 0x0b), OP(pabsb, 0x1c), OP(pabsw, 0x1d), OP(pabsd, 0x1e),
#undef OP
};

/* Random bytes with the edge values (0, 0x80, 0x7f, 0xff) overrepresented. */
static void fill(GRand *r, uint8_t *p, size_t n)
{
    static const uint8_t edge[] = { 0x00, 0x80, 0x7f, 0xff, 0x01 };
    for (size_t k = 0; k < n; k++)
        p[k] = g_rand_int_range(r, 0, 4) == 0 ? edge[g_rand_int_range(r, 0, 5)] : (uint8_t)g_rand_int(r);
}

static void check_vec(Env *e, GRand *rnd, const char *name, uint8_t op3, uint8_t opb, bool mmx, bool mem,
                      bool has_imm, unsigned imm, void (*host)(uint8_t *, const uint8_t *, unsigned),
                      void (*host2)(uint8_t *, const uint8_t *))
{
    unsigned n = mmx ? 8 : 16;
    uint8_t d[16], s[16], want[16];
    fill(rnd, d, 16);
    fill(rnd, s, 16);
    memcpy(want, d, 16);
    if (host)
        host(want, s, imm);
    else
        host2(want, s);

    CpuX86State st;
    base_state(e, &st);
    uint8_t insn[16];
    size_t len = 0;
    if (!mmx)
        insn[len++] = 0x66;
    insn[len++] = 0x0f;
    insn[len++] = op3;
    insn[len++] = opb;
    if (mem) {
        insn[len++] = 0x05; /* reg 0, [disp32] */
        uint32_t a = DATA;
        memcpy(insn + len, &a, 4);
        len += 4;
        mem_write(e->v->mem, DATA, s, n);
    } else {
        insn[len++] = 0xc1; /* reg 0, r/m register 1 */
    }
    if (has_imm)
        insn[len++] = (uint8_t)imm;
    if (mmx) {
        /* MM0/MM1 are the significands of R0/R1; with TOP 0 those are ST(0)/ST(1). */
        memcpy(st.st[0], d, 8);
        memcpy(st.st[1], s, 8);
        st.st[0][8] = st.st[0][9] = st.st[1][8] = st.st[1][9] = 0xff;
        st.ftw = 0xff;
        st.fsw &= ~0x3800;
    } else {
        memcpy(st.xmm[0], d, 16);
        memcpy(st.xmm[1], s, 16);
    }
    run(e, insn, len, &st);
    const uint8_t *got = mmx ? st.st[0] : st.xmm[0];
    if (memcmp(got, want, n)) {
        GString *g = g_string_new(NULL);
        for (unsigned k = 0; k < n; k++)
            g_string_append_printf(g, "%02x", got[n - 1 - k]);
        g_string_append(g, " want ");
        for (unsigned k = 0; k < n; k++)
            g_string_append_printf(g, "%02x", want[n - 1 - k]);
        EXPECT(0, "%s %s %s imm %u: %s", name, mmx ? "mm" : "xmm", mem ? "mem" : "reg", imm, g->str);
        g_string_free(g, TRUE);
    }
}

static void check_popcnt(Env *e, GRand *rnd, bool word)
{
    unsigned sh = (unsigned)g_rand_int_range(rnd, 0, 33); /* 32: zero, without shifting by the width */
    uint32_t v = sh < 32 ? g_rand_int(rnd) >> sh : 0;
    if (g_rand_int_range(rnd, 0, 8) == 0)
        v = 0;
    uint32_t out;
    unsigned long fl;
    if (word) {
        uint16_t o16;
        __asm__ volatile("popcntw %w2, %w0\n\tpushfq\n\tpopq %1" : "=r"(o16), "=r"(fl) : "r"(v) : "cc");
        out = o16;
    } else {
        __asm__ volatile("popcntl %2, %0\n\tpushfq\n\tpopq %1" : "=r"(out), "=r"(fl) : "r"(v) : "cc");
    }
    CpuX86State st;
    base_state(e, &st);
    st.regs[1] = v;                 /* ECX */
    st.regs[0] = 0xdeadbeef;        /* EAX: the high half survives a 16-bit POPCNT */
    st.rflags = 2 | X86_FL_ARITH;   /* every flag POPCNT clears starts set */
    const uint8_t w[] = { 0x66, 0xf3, 0x0f, 0xb8, 0xc1 }, l[] = { 0xf3, 0x0f, 0xb8, 0xc1 };
    if (word)
        run(e, w, sizeof(w), &st);
    else
        run(e, l, sizeof(l), &st);
    uint32_t want = word ? (0xdeadbeefu & 0xffff0000u) | out : out;
    EXPECT((uint32_t)st.regs[0] == want, "popcnt%s 0x%x: 0x%x want 0x%x", word ? "w" : "l", v,
           (uint32_t)st.regs[0], want);
    EXPECT((st.rflags & X86_FL_ARITH) == (fl & X86_FL_ARITH), "popcnt 0x%x: flags 0x%x want 0x%x", v,
           (unsigned)(st.rflags & X86_FL_ARITH), (unsigned)(fl & X86_FL_ARITH));
}

int main(int argc, char **argv)
{
    unsigned cases = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 23))) {
        printf("SKIP: the host CPU has no SSSE3 or POPCNT to compare with\n");
        return 77;
    }
    Env e;
    e.vm = vm_new_for_test(UINT64_C(16) << 20);
    e.v = vm_vcpu(e.vm);
    atomic_store(&e.v->a20, true);
    e.c = x86_cpu_new(e.v);
    x86_cpu_set_run_flags(e.c, X86_RUN_STOP_ON_HLT);
    GRand *rnd = g_rand_new_with_seed(1);

    unsigned total = 0;
    for (size_t k = 0; k < G_N_ELEMENTS(ops); k++) {
        for (unsigned form = 0; form < 4; form++) {
            for (unsigned t = 0; t < cases; t++, total++)
                check_vec(&e, rnd, ops[k].name, 0x38, ops[k].op, form & 1, form & 2, false, 0,
                          form & 1 ? ops[k].mm : ops[k].xmm, NULL);
        }
    }
    for (size_t k = 0; k < G_N_ELEMENTS(palignr); k++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            for (unsigned t = 0; t < cases / 4; t++, total++)
                check_vec(&e, rnd, "palignr", 0x3a, 0x0f, false, mem, true, palignr[k].n, NULL, palignr[k].fn);
        }
    }
    for (unsigned t = 0; t < cases * 4; t++, total += 2) {
        check_popcnt(&e, rnd, false);
        check_popcnt(&e, rnd, true);
    }
    g_rand_free(rnd);
    x86_cpu_free(e.c);
    vm_free(e.vm);
    printf("%u cases, %d failures\n", total, failures);
    return failures ? 1 : 0;
}
