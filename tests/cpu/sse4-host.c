/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SSE4.1, SSE4.2, CRC32 and LZCNT against the host CPU. Each case is one instruction's
 * bytes, run natively (a 64-bit host executes the same encoding: no REX, operands in
 * XMM0-XMM2 and EAX-EBX, memory at [ESI]/[RSI]) and in Vireo twice, by the interpreter
 * and with the translator attached, from the same registers, flags, MXCSR and memory.
 * XMM0-XMM2, EAX-EDX, the flags the SDM defines, MXCSR and the 16 memory bytes must
 * all agree. Every imm8 value of the PCMPxSTRx, ROUND*, DPPS/DPPD, BLEND*, INSERTPS
 * and MPSADBW forms runs; operands are random with the edge values overrepresented.
 * Then directed checks the host cannot make safely: the 16-byte alignment #GP of
 * PTEST and friends, and none for PCMPxSTRx; unmasked MXCSR exceptions (#XM). Skips (77) on a host without SSE4.2 or
 * LZCNT.
 *
 * Usage: sse4-host [CASES-PER-FORM] */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/testing.h"

#include "expect.h"

#include <cpuid.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define CODE 0x1000u
#define DATA 0x3000u

/* ---- the host side ---- */

typedef struct HostState {
    uint8_t xmm[3][16]; /* 0 */
    uint32_t gpr[4];    /* 48: EAX, ECX, EDX, EBX (ModRM order) */
    uint64_t flags;     /* 64 */
    uint32_t mxcsr;     /* 72 */
    uint32_t pad;
} HostState;

/* host_exec(state, mem, code): loads the state, calls code (the instruction and a RET)
 * with RSI = mem, stores the state back. Callee-saved RBX is kept. */
void host_exec(HostState *h, void *mem, void *code);
__asm__(".text\n"
        ".globl host_exec\n"
        ".type host_exec, @function\n"
        "host_exec:\n\t"
        "push %rbx\n\t"
        "sub $16, %rsp\n\t"
        "stmxcsr (%rsp)\n\t"
        "mov %rdx, %r11\n\t"
        "ldmxcsr 72(%rdi)\n\t"
        "movdqu 0(%rdi), %xmm0\n\t"
        "movdqu 16(%rdi), %xmm1\n\t"
        "movdqu 32(%rdi), %xmm2\n\t"
        "mov 48(%rdi), %eax\n\t"
        "mov 52(%rdi), %ecx\n\t"
        "mov 56(%rdi), %edx\n\t"
        "mov 60(%rdi), %ebx\n\t"
        "pushq 64(%rdi)\n\t"
        "popfq\n\t"
        "push %rdi\n\t"
        "call *%r11\n\t"
        "pop %rdi\n\t"
        "pushfq\n\t"
        "popq 64(%rdi)\n\t"
        "movdqu %xmm0, 0(%rdi)\n\t"
        "movdqu %xmm1, 16(%rdi)\n\t"
        "movdqu %xmm2, 32(%rdi)\n\t"
        "mov %eax, 48(%rdi)\n\t"
        "mov %ecx, 52(%rdi)\n\t"
        "mov %edx, 56(%rdi)\n\t"
        "mov %ebx, 60(%rdi)\n\t"
        "stmxcsr 72(%rdi)\n\t"
        "ldmxcsr (%rsp)\n\t"
        "add $16, %rsp\n\t"
        "pop %rbx\n\t"
        "ret\n\t"
        ".size host_exec, .-host_exec\n");

static uint8_t *host_code;

/* ---- the Vireo side ---- */

typedef struct Side {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
    const char *name;
} Side;

static void side_init(Side *s, bool jit)
{
    s->vm = vm_new_for_test(UINT64_C(16) << 20);
    s->v = vm_vcpu(s->vm);
    atomic_store(&s->v->a20, true);
    s->c = x86_cpu_new(s->v);
    s->name = jit ? "tcg" : "interp";
    x86_cpu_set_run_flags(s->c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    if (jit) {
        GError *err = NULL;
        if (!jit_attach(s->c, NULL, &err)) {
            printf("SKIP: %s\n", err->message);
            exit(77);
        }
    }
}

static void side_free(Side *s, bool jit)
{
    if (jit)
        jit_detach(s->c);
    x86_cpu_free(s->c);
    vm_free(s->vm);
}

/* Flat 32-bit protected mode with SSE on (CR4.OSFXSR, OSXMMEXCPT), ESI = DATA. */
static void side_state(Side *s, CpuX86State *st)
{
    X86State x;
    x86_cpu_reset(s->c);
    x86_cpu_get_state(s->c, &x);
    for (unsigned k = 0; k < X86_NSEG; k++)
        x.seg[k] = (X86SegState){ .sel = 0x10, .base = 0, .limit = 0xffffffffu,
                                  .attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0x3 };
    x.seg[X86_CS].sel = 0x08;
    x.seg[X86_CS].attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | 0xb;
    x.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_MP;
    x.cr4 = X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    x.eip = CODE;
    x.regs[X86_ESP] = 0x7000;
    x.regs[X86_ESI] = DATA;
    x.eflags = 2;
    x86_cpu_set_state(s->c, &x);
    x86_cpu_save(s->c, st);
}

/* Runs insn then HLT from h's registers and mem; returns the exception vector or -1,
 * with h and mem updated (to the faulting state after an exception). */
static int side_run(Side *s, const uint8_t *insn, size_t len, HostState *h, uint8_t mem[16], uint32_t data)
{
    CpuX86State st;
    side_state(s, &st);
    uint8_t code[32];
    memcpy(code, insn, len);
    code[len] = 0xf4;
    mem_write(s->v->mem, CODE, code, len + 1);
    mem_write(s->v->mem, data, mem, 16);
    for (unsigned k = 0; k < 3; k++)
        memcpy(st.xmm[k], h->xmm[k], 16);
    st.regs[0] = h->gpr[0];
    st.regs[1] = h->gpr[1];
    st.regs[2] = h->gpr[2];
    st.regs[3] = h->gpr[3];
    st.regs[6] = data;
    st.rflags = 2 | (h->flags & X86_FL_ARITH);
    st.mxcsr = h->mxcsr;
    GError *err = NULL;
    if (!x86_cpu_load(s->c, &st, &err))
        g_error("load: %s", err->message);
    X86RunResult r = x86_cpu_run(s->c, 10);
    int exc = -1;
    if (r == X86_RUN_EXCEPTION) {
        bool he;
        uint32_t ec;
        exc = x86_cpu_last_exception(s->c, &he, &ec);
    } else {
        EXPECT(r == X86_RUN_HALT, "%s: the instruction did not run to HLT (%d)", s->name, r);
    }
    x86_cpu_save(s->c, &st);
    for (unsigned k = 0; k < 3; k++)
        memcpy(h->xmm[k], st.xmm[k], 16);
    for (unsigned k = 0; k < 4; k++)
        h->gpr[k] = (uint32_t)st.regs[k];
    h->flags = st.rflags;
    h->mxcsr = st.mxcsr;
    mem_read(s->v->mem, data, mem, 16);
    return exc;
}

/* ---- instruction forms ---- */

typedef enum {
    K_XMM,     /* xmm(reg), xmm/m(rm) */
    K_EXTRACT, /* r32/m(rm), xmm(reg), imm8 */
    K_INSERT,  /* xmm(reg), r32/m(rm), imm8 */
    K_GPR,     /* r32(reg), r/m(rm): CRC32, LZCNT */
} Kind;

enum { D_INT, D_FLOAT, D_DOUBLE, D_STRING };

typedef struct Form {
    const char *name;
    uint8_t pfx[2];      /* 0: none */
    uint8_t map;         /* 0x38, 0x3a, or 0 for a 0F xx opcode */
    uint8_t op;
    Kind kind;
    bool imm;            /* every imm8 value is tried */
    bool rm8;            /* r/m8 from a general register: AL..BH */
    uint8_t data;        /* D_*: how operands are made */
    uint32_t flags;      /* flags compared (the defined ones; the others must stay) */
} Form;

#define ALLF X86_FL_ARITH
static const Form forms[] = {
    { "pblendvb", { 0x66 }, 0x38, 0x10, K_XMM, false, false, D_INT, ALLF },
    { "blendvps", { 0x66 }, 0x38, 0x14, K_XMM, false, false, D_FLOAT, ALLF },
    { "blendvpd", { 0x66 }, 0x38, 0x15, K_XMM, false, false, D_DOUBLE, ALLF },
    { "ptest", { 0x66 }, 0x38, 0x17, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxbw", { 0x66 }, 0x38, 0x20, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxbd", { 0x66 }, 0x38, 0x21, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxbq", { 0x66 }, 0x38, 0x22, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxwd", { 0x66 }, 0x38, 0x23, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxwq", { 0x66 }, 0x38, 0x24, K_XMM, false, false, D_INT, ALLF },
    { "pmovsxdq", { 0x66 }, 0x38, 0x25, K_XMM, false, false, D_INT, ALLF },
    { "pmuldq", { 0x66 }, 0x38, 0x28, K_XMM, false, false, D_INT, ALLF },
    { "pcmpeqq", { 0x66 }, 0x38, 0x29, K_XMM, false, false, D_INT, ALLF },
    { "movntdqa", { 0x66 }, 0x38, 0x2a, K_XMM, false, false, D_INT, ALLF },
    { "packusdw", { 0x66 }, 0x38, 0x2b, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxbw", { 0x66 }, 0x38, 0x30, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxbd", { 0x66 }, 0x38, 0x31, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxbq", { 0x66 }, 0x38, 0x32, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxwd", { 0x66 }, 0x38, 0x33, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxwq", { 0x66 }, 0x38, 0x34, K_XMM, false, false, D_INT, ALLF },
    { "pmovzxdq", { 0x66 }, 0x38, 0x35, K_XMM, false, false, D_INT, ALLF },
    { "pcmpgtq", { 0x66 }, 0x38, 0x37, K_XMM, false, false, D_INT, ALLF },
    { "pminsb", { 0x66 }, 0x38, 0x38, K_XMM, false, false, D_INT, ALLF },
    { "pminsd", { 0x66 }, 0x38, 0x39, K_XMM, false, false, D_INT, ALLF },
    { "pminuw", { 0x66 }, 0x38, 0x3a, K_XMM, false, false, D_INT, ALLF },
    { "pminud", { 0x66 }, 0x38, 0x3b, K_XMM, false, false, D_INT, ALLF },
    { "pmaxsb", { 0x66 }, 0x38, 0x3c, K_XMM, false, false, D_INT, ALLF },
    { "pmaxsd", { 0x66 }, 0x38, 0x3d, K_XMM, false, false, D_INT, ALLF },
    { "pmaxuw", { 0x66 }, 0x38, 0x3e, K_XMM, false, false, D_INT, ALLF },
    { "pmaxud", { 0x66 }, 0x38, 0x3f, K_XMM, false, false, D_INT, ALLF },
    { "pmulld", { 0x66 }, 0x38, 0x40, K_XMM, false, false, D_INT, ALLF },
    { "phminposuw", { 0x66 }, 0x38, 0x41, K_XMM, false, false, D_INT, ALLF },
    { "roundps", { 0x66 }, 0x3a, 0x08, K_XMM, true, false, D_FLOAT, ALLF },
    { "roundpd", { 0x66 }, 0x3a, 0x09, K_XMM, true, false, D_DOUBLE, ALLF },
    { "roundss", { 0x66 }, 0x3a, 0x0a, K_XMM, true, false, D_FLOAT, ALLF },
    { "roundsd", { 0x66 }, 0x3a, 0x0b, K_XMM, true, false, D_DOUBLE, ALLF },
    { "blendps", { 0x66 }, 0x3a, 0x0c, K_XMM, true, false, D_INT, ALLF },
    { "blendpd", { 0x66 }, 0x3a, 0x0d, K_XMM, true, false, D_INT, ALLF },
    { "pblendw", { 0x66 }, 0x3a, 0x0e, K_XMM, true, false, D_INT, ALLF },
    { "pextrb", { 0x66 }, 0x3a, 0x14, K_EXTRACT, true, false, D_INT, ALLF },
    { "pextrw", { 0x66 }, 0x3a, 0x15, K_EXTRACT, true, false, D_INT, ALLF },
    { "pextrd", { 0x66 }, 0x3a, 0x16, K_EXTRACT, true, false, D_INT, ALLF },
    { "extractps", { 0x66 }, 0x3a, 0x17, K_EXTRACT, true, false, D_INT, ALLF },
    { "pinsrb", { 0x66 }, 0x3a, 0x20, K_INSERT, true, false, D_INT, ALLF },
    { "insertps", { 0x66 }, 0x3a, 0x21, K_XMM, true, false, D_INT, ALLF },
    { "pinsrd", { 0x66 }, 0x3a, 0x22, K_INSERT, true, false, D_INT, ALLF },
    { "dpps", { 0x66 }, 0x3a, 0x40, K_XMM, true, false, D_FLOAT, ALLF },
    { "dppd", { 0x66 }, 0x3a, 0x41, K_XMM, true, false, D_DOUBLE, ALLF },
    { "mpsadbw", { 0x66 }, 0x3a, 0x42, K_XMM, true, false, D_INT, ALLF },
    { "pcmpestrm", { 0x66 }, 0x3a, 0x60, K_XMM, true, false, D_STRING, ALLF },
    { "pcmpestri", { 0x66 }, 0x3a, 0x61, K_XMM, true, false, D_STRING, ALLF },
    { "pcmpistrm", { 0x66 }, 0x3a, 0x62, K_XMM, true, false, D_STRING, ALLF },
    { "pcmpistri", { 0x66 }, 0x3a, 0x63, K_XMM, true, false, D_STRING, ALLF },
    { "crc32b", { 0xf2 }, 0x38, 0xf0, K_GPR, false, true, D_INT, ALLF },
    { "crc32w", { 0x66, 0xf2 }, 0x38, 0xf1, K_GPR, false, false, D_INT, ALLF },
    { "crc32l", { 0xf2 }, 0x38, 0xf1, K_GPR, false, false, D_INT, ALLF },
    /* LZCNT: OF, SF, AF and PF are undefined */
    { "lzcntw", { 0x66, 0xf3 }, 0, 0xbd, K_GPR, false, false, D_INT, X86_FL_CF | X86_FL_ZF },
    { "lzcntl", { 0xf3 }, 0, 0xbd, K_GPR, false, false, D_INT, X86_FL_CF | X86_FL_ZF },
};

static GRand *rnd;

static unsigned pick(unsigned n)
{
    return (unsigned)g_rand_int_range(rnd, 0, (gint32)n);
}

/* Random bytes with the edge values overrepresented. */
static void fill_int(uint8_t *p, size_t n)
{
    static const uint8_t edge[] = { 0x00, 0x80, 0x7f, 0xff, 0x01 };
    unsigned mode = pick(4);
    for (size_t k = 0; k < n; k++) {
        if (mode == 0)
            p[k] = (uint8_t)pick(3);                  /* small values: equal elements, zero runs */
        else
            p[k] = pick(4) == 0 ? edge[pick(5)] : (uint8_t)g_rand_int(rnd);
    }
}

/* Strings from a small alphabet with zeros (the implicit ends) now and then. */
static void fill_string(uint8_t *p, size_t n)
{
    static const uint8_t alpha[] = { 'a', 'b', 'c', 0x80, 0xff, 0x7f, 0x01 };
    unsigned zero_odds = 4 + pick(28);
    for (size_t k = 0; k < n; k++)
        p[k] = pick(zero_odds) == 0 ? 0 : alpha[pick(G_N_ELEMENTS(alpha))];
}

static float rand_float(void)
{
    static const uint32_t special[] = { 0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                                        0x7fa00000, 0xffc00001, 0x00000001, 0x807fffff, 0x3f000000,
                                        0xbf000000, 0x3fc00000, 0x4b000000, 0x4b7fffff, 0xcb000001,
                                        0x7f7fffff, 0x00800000 };
    uint32_t bits;
    switch (pick(4)) {
    case 0:
        bits = special[pick(G_N_ELEMENTS(special))];
        break;
    case 1: {
        float f = (float)((int)pick(4001) - 2000) / (float)(1u << pick(4)); /* halves, quarters */
        memcpy(&bits, &f, 4);
        break;
    }
    case 2: {
        float f = (float)g_rand_double_range(rnd, -1e6, 1e6);
        memcpy(&bits, &f, 4);
        break;
    }
    default:
        bits = g_rand_int(rnd);
        break;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static double rand_double(void)
{
    static const uint64_t special[] = { 0, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
                                        0x7ff8000000000000ull, 0x7ff4000000000000ull, 0x0000000000000001ull,
                                        0x800fffffffffffffull, 0x3fe0000000000000ull, 0xbfe0000000000000ull,
                                        0x4330000000000000ull, 0x433fffffffffffffull, 0x7fefffffffffffffull };
    uint64_t bits;
    switch (pick(4)) {
    case 0:
        bits = special[pick(G_N_ELEMENTS(special))];
        break;
    case 1: {
        double d = (double)((int)pick(4001) - 2000) / (double)(1u << pick(4));
        memcpy(&bits, &d, 8);
        break;
    }
    case 2: {
        double d = g_rand_double_range(rnd, -1e12, 1e12);
        memcpy(&bits, &d, 8);
        break;
    }
    default:
        bits = (uint64_t)g_rand_int(rnd) << 32 | g_rand_int(rnd);
        break;
    }
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static void fill(uint8_t *p, unsigned data)
{
    switch (data) {
    case D_FLOAT:
        for (unsigned k = 0; k < 4; k++) {
            float f = rand_float();
            memcpy(p + 4 * k, &f, 4);
        }
        break;
    case D_DOUBLE:
        for (unsigned k = 0; k < 2; k++) {
            double d = rand_double();
            memcpy(p + 8 * k, &d, 8);
        }
        break;
    case D_STRING:
        fill_string(p, 16);
        break;
    default:
        fill_int(p, 16);
        break;
    }
}

/* An explicit string length: mostly within reach, sometimes beyond either end. */
static uint32_t rand_len(void)
{
    static const uint32_t edge[] = { 0x80000000u, 0x7fffffffu, 0xfffffff0u, 16, 17, 8, 9, 0 };
    if (pick(6) == 0)
        return edge[pick(G_N_ELEMENTS(edge))];
    return (uint32_t)((int)pick(41) - 20);
}

static void hexdump(GString *g, const uint8_t *p, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        g_string_append_printf(g, "%02x", p[n - 1 - k]);
}

static void describe(GString *g, const HostState *h, const uint8_t mem[16])
{
    for (unsigned k = 0; k < 3; k++) {
        g_string_append_printf(g, " xmm%u=", k);
        hexdump(g, h->xmm[k], 16);
    }
    g_string_append_printf(g, " eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03x mxcsr=%08x mem=", h->gpr[0],
                           h->gpr[1], h->gpr[2], h->gpr[3], (unsigned)(h->flags & X86_FL_ARITH), h->mxcsr);
    hexdump(g, mem, 16);
}

static unsigned cases_run;

/* One case of form f with imm8 imm: random operands, then host and both sides. */
static void run_case(Side sides[2], const Form *f, unsigned imm)
{
    bool mem_form = pick(3) == 0;
    /* MOVNTDQA has only the memory form. */
    if (f->map == 0x38 && f->op == 0x2a)
        mem_form = true;
    uint8_t insn[16];
    size_t len = 0;
    for (unsigned k = 0; k < 2 && f->pfx[k]; k++)
        insn[len++] = f->pfx[k];
    insn[len++] = 0x0f;
    if (f->map)
        insn[len++] = f->map;
    insn[len++] = f->op;
    unsigned reg = f->kind == K_XMM || f->kind == K_EXTRACT || f->kind == K_INSERT ? pick(3) : pick(4);
    unsigned rm = f->rm8 ? pick(8) : f->kind == K_XMM ? pick(3) : pick(4);
    insn[len++] = mem_form ? (uint8_t)(reg << 3 | 6) : (uint8_t)(0xc0 | reg << 3 | rm);
    if (f->map == 0x3a)
        insn[len++] = (uint8_t)imm;

    HostState in;
    memset(&in, 0, sizeof(in));
    uint8_t mem[16] __attribute__((aligned(16)));
    for (unsigned k = 0; k < 3; k++)
        fill(in.xmm[k], f->data);
    fill(mem, f->data);
    for (unsigned k = 0; k < 4; k++) {
        unsigned sh = pick(33); /* 32: zero, without shifting by the width */
        in.gpr[k] = sh < 32 ? g_rand_int(rnd) >> sh : 0;
    }
    if (f->data == D_STRING) {
        in.gpr[0] = rand_len();
        in.gpr[2] = rand_len();
    }
    in.flags = 2 | (g_rand_int(rnd) & X86_FL_ARITH);
    /* Every exception masked (an unmasked one would trap on the host); random
     * rounding, FTZ, DAZ and sticky flags. */
    in.mxcsr = 0x1f80 | (g_rand_int(rnd) & (0x6000 | 0x8000 | 0x40 | 0x3f));

    HostState want = in;
    uint8_t want_mem[16] __attribute__((aligned(16)));
    memcpy(want_mem, mem, 16);
    memcpy(host_code, insn, len);
    host_code[len] = 0xc3;
    host_exec(&want, want_mem, host_code);

    for (unsigned s = 0; s < 2; s++) {
        HostState got = in;
        uint8_t got_mem[16];
        memcpy(got_mem, mem, 16);
        int exc = side_run(&sides[s], insn, len, &got, got_mem, DATA);
        bool same = exc < 0 && !memcmp(got.xmm, want.xmm, sizeof(got.xmm)) &&
                    !memcmp(got.gpr, want.gpr, sizeof(got.gpr)) && got.mxcsr == want.mxcsr &&
                    !memcmp(got_mem, want_mem, 16) &&
                    ((got.flags ^ want.flags) & f->flags) == 0 &&
                    /* undefined flags: Vireo leaves them as they were */
                    ((got.flags ^ in.flags) & X86_FL_ARITH & ~f->flags) == 0;
        if (!same) {
            GString *g = g_string_new(NULL);
            g_string_append_printf(g, "%s %s imm %02x (%s), exception %d\n  in:  ", f->name, sides[s].name, imm,
                                   mem_form ? "mem" : "reg", exc);
            describe(g, &in, mem);
            g_string_append(g, "\n  got: ");
            describe(g, &got, got_mem);
            g_string_append(g, "\n  want:");
            describe(g, &want, want_mem);
            EXPECT(0, "%s", g->str);
            g_string_free(g, TRUE);
        }
    }
    cases_run++;
}

/* ---- directed: alignment and encodings the host cannot be asked about safely ---- */

static void check_alignment(Side sides[2])
{
    static const struct {
        const char *name;
        uint8_t insn[8];
        size_t len;
        bool faults; /* #GP(0) on a misaligned m128 */
    } cases[] = {
        { "ptest", { 0x66, 0x0f, 0x38, 0x17, 0x06 }, 5, true },
        { "pminsd", { 0x66, 0x0f, 0x38, 0x39, 0x06 }, 5, true },
        { "movntdqa", { 0x66, 0x0f, 0x38, 0x2a, 0x06 }, 5, true },
        { "roundps", { 0x66, 0x0f, 0x3a, 0x08, 0x06, 0x00 }, 6, true },
        { "dpps", { 0x66, 0x0f, 0x3a, 0x40, 0x06, 0xff }, 6, true },
        { "pblendvb", { 0x66, 0x0f, 0x38, 0x10, 0x06 }, 5, true },
        /* SDM vol. 2, 4.1.1: the string compares take unaligned operands */
        { "pcmpistri", { 0x66, 0x0f, 0x3a, 0x63, 0x06, 0x00 }, 6, false },
        { "pcmpestrm", { 0x66, 0x0f, 0x3a, 0x60, 0x06, 0x0c }, 6, false },
        /* narrower operands have no alignment rule */
        { "pmovzxbw", { 0x66, 0x0f, 0x38, 0x30, 0x06 }, 5, false },
        { "roundss", { 0x66, 0x0f, 0x3a, 0x0a, 0x06, 0x00 }, 6, false },
    };
    for (unsigned s = 0; s < 2; s++) {
        for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
            HostState h;
            memset(&h, 0, sizeof(h));
            h.mxcsr = 0x1f80;
            uint8_t mem[16] = { 0 };
            int exc = side_run(&sides[s], cases[k].insn, cases[k].len, &h, mem, DATA + 4);
            EXPECT(exc == (cases[k].faults ? X86_EXC_GP : -1), "%s %s at DATA+4: exception %d", cases[k].name,
                   sides[s].name, exc);
        }
    }
}

/* An unmasked SIMD exception: #XM with CR4.OSXMMEXCPT, the destination and the other
 * flags unchanged, the flag set in MXCSR; ROUND's imm8 bit 3 suppresses precision. */
static void check_unmasked(Side sides[2])
{
    static const uint8_t roundps[] = { 0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x00 }; /* xmm0, xmm1, nearest */
    static const uint8_t roundps_noprec[] = { 0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x08 };
    static const uint8_t dpps[] = { 0x66, 0x0f, 0x3a, 0x40, 0xc1, 0xff };
    for (unsigned s = 0; s < 2; s++) {
        HostState h;
        uint8_t mem[16] = { 0 };
        static const uint32_t src[4] = { 0x7fa00000u, 0x3fc00000u, 0, 0 }; /* SNaN, 1.5 */
        /* SNaN with IM clear: invalid, #XM */
        memset(&h, 0, sizeof(h));
        memset(h.xmm[0], 0x11, 16);
        memcpy(h.xmm[1], src, 16);
        h.mxcsr = 0x1f80 & ~0x80u;
        int exc = side_run(&sides[s], roundps, sizeof(roundps), &h, mem, DATA);
        uint8_t old[16];
        memset(old, 0x11, 16);
        /* IE from lane 0, PE from lane 1's 1.5: both flags, whichever traps */
        EXPECT(exc == X86_EXC_XM && !memcmp(h.xmm[0], old, 16) && (h.mxcsr & 0x3f) == 0x21,
               "roundps SNaN, IM clear, %s: exception %d mxcsr %04x", sides[s].name, exc, h.mxcsr);
        /* 1.5 with PM clear: precision #XM, unless imm8[3] suppresses it */
        memset(&h, 0, sizeof(h));
        memcpy(h.xmm[1], src + 1, 4);
        h.mxcsr = 0x1f80 & ~0x1000u;
        exc = side_run(&sides[s], roundps, sizeof(roundps), &h, mem, DATA);
        EXPECT(exc == X86_EXC_XM && (h.mxcsr & 0x3f) == 0x20, "roundps 1.5, PM clear, %s: exception %d mxcsr %04x",
               sides[s].name, exc, h.mxcsr);
        memset(&h, 0, sizeof(h));
        memcpy(h.xmm[1], src + 1, 4);
        h.mxcsr = 0x1f80 & ~0x1000u;
        exc = side_run(&sides[s], roundps_noprec, sizeof(roundps_noprec), &h, mem, DATA);
        uint32_t two;
        memcpy(&two, h.xmm[0], 4);
        EXPECT(exc == -1 && two == 0x40000000u && (h.mxcsr & 0x3f) == 0,
               "roundps 1.5 imm 08, PM clear, %s: exception %d result %08x mxcsr %04x", sides[s].name, exc, two,
               h.mxcsr);
        /* DPPS of 1.5 * 1.5 is exact: nothing raised with every exception unmasked */
        memset(&h, 0, sizeof(h));
        memcpy(h.xmm[0], src + 1, 4);
        memcpy(h.xmm[1], src + 1, 4);
        h.mxcsr = 0x0000;
        exc = side_run(&sides[s], dpps, sizeof(dpps), &h, mem, DATA);
        uint32_t r;
        memcpy(&r, h.xmm[0], 4);
        EXPECT(exc == -1 && r == 0x40100000u, "dpps 1.5*1.5 unmasked %s: exception %d result %08x", sides[s].name,
               exc, r);
    }
}

/* Encodings that must be #UD: without 66, MOVNTDQA's register form, the F3 forms. */
static void check_ud(Side sides[2])
{
    static const struct {
        const char *name;
        uint8_t insn[8];
        size_t len;
    } cases[] = {
        { "ptest without 66", { 0x0f, 0x38, 0x17, 0xc1 }, 4 },
        { "movntdqa xmm, xmm", { 0x66, 0x0f, 0x38, 0x2a, 0xc1 }, 5 },
        { "pminsd with f3", { 0xf3, 0x0f, 0x38, 0x39, 0xc1 }, 5 },
        { "dpps without 66", { 0x0f, 0x3a, 0x40, 0xc1, 0xff }, 5 },
        { "crc32 with f3", { 0xf3, 0x0f, 0x38, 0xf0, 0xc1 }, 5 },
        { "lock crc32", { 0xf0, 0xf2, 0x0f, 0x38, 0xf1, 0x06 }, 6 },
    };
    for (unsigned s = 0; s < 2; s++) {
        for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
            HostState h;
            memset(&h, 0, sizeof(h));
            h.mxcsr = 0x1f80;
            uint8_t mem[16] = { 0 };
            int exc = side_run(&sides[s], cases[k].insn, cases[k].len, &h, mem, DATA);
            EXPECT(exc == X86_EXC_UD, "%s %s: exception %d, want #UD", cases[k].name, sides[s].name, exc);
        }
    }
}

int main(int argc, char **argv)
{
    unsigned cases = argc > 1 ? (unsigned)atoi(argv[1]) : 40;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 20))) {
        printf("SKIP: the host CPU has no SSE4.1/SSE4.2 to compare with\n");
        return 77;
    }
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d) || !(c & (1u << 5))) {
        printf("SKIP: the host CPU has no LZCNT to compare with\n");
        return 77;
    }
    GError *err = NULL;
    if (!jit_supported(&err)) {
        printf("SKIP: %s\n", err->message);
        return 77;
    }
    host_code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host_code == MAP_FAILED) {
        printf("SKIP: no executable memory for the host's instructions\n");
        return 77;
    }
    Side sides[2];
    side_init(&sides[0], false);
    side_init(&sides[1], true);
    rnd = g_rand_new_with_seed(18);

    for (size_t k = 0; k < G_N_ELEMENTS(forms); k++) {
        const Form *f = &forms[k];
        if (f->imm) {
            /* every imm8, a few cases each (cases / 8, at least 2) */
            unsigned per = cases / 8 > 2 ? cases / 8 : 2;
            for (unsigned imm = 0; imm < 256; imm++)
                for (unsigned t = 0; t < per; t++)
                    run_case(sides, f, imm);
        } else {
            for (unsigned t = 0; t < cases * 8; t++)
                run_case(sides, f, 0);
        }
    }
    check_alignment(sides);
    check_unmasked(sides);
    check_ud(sides);

    JitStats js;
    jit_get_stats(sides[1].c, &js);
    EXPECT(js.blocks > 0 && js.insns_called > 0, "the translator ran nothing (%" G_GUINT64_FORMAT " blocks)",
           js.blocks);
    printf("%u cases on interp and tcg (%" G_GUINT64_FORMAT " blocks translated), %d failures\n", cases_run,
           js.blocks, failures);
    g_rand_free(rnd);
    side_free(&sides[0], false);
    side_free(&sides[1], true);
    munmap(host_code, 4096);
    return failures ? 1 : 0;
}
