/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Differential test of the interpreter (or, with --accel tcg, the translator) against
 * the host CPU: random and directed sequences of unprivileged 32-bit integer
 * instructions run natively and in Vireo's CPU from the same state; the registers, the flags the SDM defines, EIP,
 * the exception that ended the run and the data page must match.
 *
 * Two modes. Mode 32: every form, run natively by the 32-bit helper difftest-native
 * where the host runs 32-bit programs. Mode 64: the portable set, run natively in
 * 64-bit mode by difftest-native64: only encodings whose bytes mean the same in both
 * modes with the same results and flags, given registers whose upper halves are zero
 * and addresses below 4 GiB. The interpreter runs both in 32-bit protected mode. The
 * forms mode 64 leaves out are listed in the output, never dropped silently.
 *
 * Usage: difftest [--native PATH] [--native64 PATH] [--mode 32|64] [--seed N]
 *                 [--cases N] [--case I] [--accel interp|tcg] [-v]
 * Every case is derived from (mode, seed, index): a failure prints them, and
 * "--mode M --seed S --case I -v" replays just that case. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_TRAPNO and REG_ERR of the INT n probe */
#endif
#include "difftest-proto.h"
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/testing.h"
#include "engine/memory.h"
#include "engine/vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_DF 0x400u
#define F_ALL (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

#define MAX_INSNS 64

enum { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI };

/* Pointer registers keep these values (offsets into the data page); EAX, ECX and EDX
 * hold anything and are the only registers instructions may write. */
#define PTR_EBX 0x400u
#define PTR_EBP 0x600u
#define PTR_ESI 0x800u
#define PTR_EDI 0xa00u
#define PTR_ESP 0xe00u
#define STACK_ROOM 0x180

/* Forms the portable set (mode 64) leaves out, by reason. */
typedef enum Form {
    FORM_INC_SHORT, FORM_ALU_82, FORM_BCD, FORM_PUSHA, FORM_BOUND, FORM_INTO, FORM_MOFFS, FORM_DISP32,
    FORM_PUSH_POP, FORM_PUSHF, FORM_CALL_RET, FORM_ENTER_LEAVE,
    FORM_LAHF_SAHF, FORM_INT_N,
    NFORM
} Form;
enum { WHY_LEGACY, WHY_STACK, WHY_CPUID, WHY_KERNEL, NWHY };

static const struct {
    const char *name;
    unsigned why;
} forms[NFORM] = {
    [FORM_INC_SHORT] = { "short INC/DEC (40-4F)", WHY_LEGACY },
    [FORM_ALU_82] = { "opcode 82", WHY_LEGACY },
    [FORM_BCD] = { "BCD adjust (DAA DAS AAA AAS AAM AAD) and SALC", WHY_LEGACY },
    [FORM_PUSHA] = { "PUSHA/POPA", WHY_LEGACY },
    [FORM_BOUND] = { "BOUND", WHY_LEGACY },
    [FORM_INTO] = { "INTO", WHY_LEGACY },
    [FORM_MOFFS] = { "MOV moffs (A0-A3)", WHY_LEGACY },
    [FORM_DISP32] = { "[disp32] as ModRM mod 00 rm 101 (the SIB form is used)", WHY_LEGACY },
    [FORM_PUSH_POP] = { "PUSH/POP", WHY_STACK },
    [FORM_PUSHF] = { "PUSHF", WHY_STACK },
    [FORM_CALL_RET] = { "CALL/RET", WHY_STACK },
    [FORM_ENTER_LEAVE] = { "ENTER/LEAVE", WHY_STACK },
    [FORM_LAHF_SAHF] = { "LAHF/SAHF", WHY_CPUID },
    [FORM_INT_N] = { "INT n", WHY_KERNEL },
};
static const char *const why_text[NWHY] = {
    [WHY_LEGACY] = "invalid or other bytes in 64-bit mode",
    [WHY_STACK] = "the stack is 8 bytes wide in 64-bit mode",
    [WHY_CPUID] = "no LAHF/SAHF in 64-bit mode on this CPU",
    [WHY_KERNEL] = "this host's kernel does not report every INT n as #GP(n*8+2) at the INT "
                   "(a paravirtual kernel or FRED)",
};
#define FORM_BIT(f) (1u << (f))
#define FORMS_LEGACY                                                                                    \
    (FORM_BIT(FORM_INC_SHORT) | FORM_BIT(FORM_ALU_82) | FORM_BIT(FORM_BCD) | FORM_BIT(FORM_PUSHA) |     \
     FORM_BIT(FORM_BOUND) | FORM_BIT(FORM_INTO) | FORM_BIT(FORM_MOFFS) | FORM_BIT(FORM_DISP32))
#define FORMS_STACK                                                                                     \
    (FORM_BIT(FORM_PUSH_POP) | FORM_BIT(FORM_PUSHF) | FORM_BIT(FORM_CALL_RET) | FORM_BIT(FORM_ENTER_LEAVE))

typedef struct Fixup {
    unsigned pos, size;     /* displacement field */
    unsigned target;        /* instruction index the branch goes to */
    uint32_t defined;
    int depth_min, depth_max;
} Fixup;

typedef struct Gen {
    GRand *rng;
    uint8_t code[DIFF_CODE_MAX];
    unsigned len;
    uint32_t defined;           /* arithmetic flags both CPUs agree on */
    int depth_min, depth_max;   /* bytes pushed since the start, over all paths */
    Fixup fix[32];
    unsigned nfix;
    unsigned ninsn;
    /* Where each instruction group starts and which flags are defined there. */
    unsigned start[MAX_INSNS + 1];
    uint32_t defined_at[MAX_INSNS + 1];
    /* Mode 64: the portable set, without the forms in banned. */
    bool portable;
    uint32_t banned;
    unsigned drawn[NFORM];      /* how often each banned form was drawn */
    unsigned refused;           /* all those draws */
    unsigned ndrawn;            /* instruction groups drawn in all */
} Gen;

/* Whether this run may use a form; counts the draws of the ones it leaves out. A
 * family emits nothing for a refused form unless it has a portable stand-in. */
static bool form_ok(Gen *g, Form f)
{
    if (!(g->banned & FORM_BIT(f)))
        return true;
    g->drawn[f]++;
    g->refused++;
    return false;
}

static unsigned rnd(Gen *g, unsigned n)
{
    return (unsigned)g_rand_int_range(g->rng, 0, (gint32)n);
}
static bool chance(Gen *g, unsigned pct)
{
    return rnd(g, 100) < pct;
}
static void e8(Gen *g, unsigned b)
{
    if (g->len < DIFF_CODE_MAX - 8)
        g->code[g->len++] = (uint8_t)b;
}
static void e16(Gen *g, uint32_t v)
{
    e8(g, v & 0xff);
    e8(g, (v >> 8) & 0xff);
}
static void e32(Gen *g, uint32_t v)
{
    e16(g, v & 0xffff);
    e16(g, v >> 16);
}

static uint32_t interesting(Gen *g)
{
    static const uint32_t v[] = {
        0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0x99, 0x9a, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff,
        0x10000, 0x7fffffff, 0x80000000u, 0x80000001u, 0xffffffffu, 0xfffffffeu, 0x12345678, 0xff00ff00u,
    };
    if (chance(g, 50))
        return v[rnd(g, G_N_ELEMENTS(v))];
    return g_rand_int(g->rng);
}

/* ---- operands ---- */

static unsigned wreg(Gen *g, unsigned size)
{
    static const unsigned r8[] = { 0, 1, 2, 4, 5, 6 }; /* AL CL DL AH CH DH */
    return size == 1 ? r8[rnd(g, 6)] : rnd(g, 3);
}
static unsigned rreg(Gen *g)
{
    return rnd(g, 8);
}

typedef struct Mem {
    unsigned mod, rm;
    bool sib;
    unsigned scale, index, base;
    uint32_t disp;
} Mem;

/* Chooses a memory operand inside the data page; emits the preparation its index
 * register needs (MOVZX, which leaves the flags alone). */
static Mem pick_mem(Gen *g)
{
    static const unsigned bases[] = { EBX, EBP, ESI, EDI };
    Mem m = { 0 };
    switch (rnd(g, 4)) {
    case 0: /* [disp32] */
        m.mod = 0;
        m.rm = 5;
        m.disp = DIFF_DATA_ADDR + 0x100 + rnd(g, 0xe00);
        if (!form_ok(g, FORM_DISP32)) {
            /* RIP-relative in 64-bit mode; a SIB with neither base nor index is
             * disp32 absolute in both. */
            m.rm = 4;
            m.sib = true;
            m.base = EBP;
            m.index = ESP;
        }
        break;
    case 1: /* [base + disp8] */
        m.mod = 1;
        m.rm = bases[rnd(g, 4)];
        m.disp = (uint32_t)(int32_t)(int8_t)rnd(g, 256);
        break;
    case 2: { /* [base + index*scale + disp8] */
        m.mod = 1;
        m.rm = 4;
        m.sib = true;
        m.base = bases[rnd(g, 4)];
        m.index = rnd(g, 3);
        m.scale = rnd(g, m.base == EBX ? 4 : 3);
        m.disp = (uint32_t)(int32_t)(int8_t)rnd(g, 256);
        /* movzx index32, index8 */
        e8(g, 0x0f);
        e8(g, 0xb6);
        e8(g, 0xc0 | (m.index << 3) | m.index);
        break;
    }
    default: /* [base + disp32] */
        m.mod = 2;
        m.rm = bases[rnd(g, 4)];
        m.disp = (uint32_t)((int32_t)rnd(g, 400) - 200);
        break;
    }
    return m;
}

static void put_mem(Gen *g, const Mem *m, unsigned reg)
{
    e8(g, (m->mod << 6) | (reg << 3) | m->rm);
    if (m->sib)
        e8(g, (m->scale << 6) | (m->index << 3) | m->base);
    if (m->mod == 1)
        e8(g, m->disp & 0xff);
    else if (m->mod == 2 || (m->mod == 0 && (m->sib ? m->base == EBP : m->rm == 5)))
        e32(g, m->disp);
}

/* An r/m operand: a register (writable if asked) or memory. The caller emits the
 * prefixes and opcode between pick and put. */
typedef struct Rm {
    bool mem;
    unsigned reg;
    Mem m;
} Rm;

static Rm pick_rm(Gen *g, unsigned size, bool writable, unsigned mem_pct)
{
    Rm r = { 0 };
    if (chance(g, mem_pct)) {
        r.mem = true;
        r.m = pick_mem(g);
    } else {
        r.reg = writable ? wreg(g, size) : (size == 1 ? rnd(g, 8) : rreg(g));
    }
    return r;
}
static void put_rm(Gen *g, const Rm *r, unsigned reg)
{
    if (r->mem)
        put_mem(g, &r->m, reg);
    else
        e8(g, 0xc0 | (reg << 3) | r->reg);
}

static unsigned pick_size(Gen *g)
{
    unsigned k = rnd(g, 8);
    return k < 2 ? 1 : k < 4 ? 2 : 4;
}
/* Operand-size prefix for 16 bits; optional segment prefix for memory forms. */
static void prefixes(Gen *g, unsigned size, const Rm *r, bool writes_mem)
{
    if (r && r->mem && chance(g, 15)) {
        static const uint8_t seg[] = { 0x26, 0x36, 0x3e, 0x2e };
        e8(g, seg[rnd(g, writes_mem ? 3 : 4)]);
    }
    if (size == 2)
        e8(g, 0x66);
}

/* Makes every flag defined (CMP EAX, ECX) when an instruction reads flags that are not. */
static void need_flags(Gen *g, uint32_t flags)
{
    if ((g->defined & flags) != flags) {
        e8(g, 0x39);
        e8(g, 0xc8);
        g->defined = F_ALL;
    }
}

static uint32_t cond_flags(unsigned cc)
{
    static const uint32_t f[8] = { F_OF, F_CF, F_ZF, F_CF | F_ZF, F_SF, F_PF, F_SF | F_OF, F_ZF | F_SF | F_OF };
    return f[(cc >> 1) & 7];
}

/* ---- instruction families ---- */

static void gen_alu(Gen *g)
{
    unsigned op = rnd(g, 8);
    unsigned size = pick_size(g);
    if (op == 2 || op == 3)
        need_flags(g, F_CF);
    unsigned w = size == 1 ? 0 : 1;
    uint32_t def = (op == 1 || op == 4 || op == 6) ? F_ALL & ~F_AF : F_ALL;
    switch (rnd(g, 4)) {
    case 0: { /* E, G */
        Rm r = pick_rm(g, size, true, 40);
        prefixes(g, size, &r, true);
        if (r.mem && op != 7 && chance(g, 10))
            e8(g, 0xf0);
        e8(g, (op << 3) | w);
        put_rm(g, &r, size == 1 ? rnd(g, 8) : rreg(g));
        break;
    }
    case 1: { /* G, E */
        Rm r = pick_rm(g, size, false, 40);
        prefixes(g, size, &r, false);
        e8(g, (op << 3) | 2 | w);
        put_rm(g, &r, wreg(g, size));
        break;
    }
    case 2: /* accumulator, imm */
        prefixes(g, size, NULL, false);
        e8(g, (op << 3) | 4 | w);
        if (size == 1)
            e8(g, rnd(g, 256));
        else if (size == 2)
            e16(g, interesting(g));
        else
            e32(g, interesting(g));
        break;
    default: { /* group 1 */
        Rm r = pick_rm(g, size, true, 40);
        prefixes(g, size, &r, true);
        unsigned opc = size == 1 ? (chance(g, 10) && form_ok(g, FORM_ALU_82) ? 0x82 : 0x80)
                                 : (chance(g, 50) ? 0x83 : 0x81);
        e8(g, opc);
        put_rm(g, &r, op);
        if (opc != 0x81)
            e8(g, rnd(g, 256));
        else if (size == 2)
            e16(g, interesting(g));
        else
            e32(g, interesting(g));
        break;
    }
    }
    g->defined = def;
}

static void gen_incdec(Gen *g)
{
    unsigned size = pick_size(g);
    bool dec = chance(g, 50);
    if (size != 1 && chance(g, 40) && form_ok(g, FORM_INC_SHORT)) { /* else FF /0 or /1 */
        prefixes(g, size, NULL, false);
        e8(g, (dec ? 0x48 : 0x40) + rnd(g, 3));
    } else {
        Rm r = pick_rm(g, size, true, 40);
        prefixes(g, size, &r, true);
        e8(g, size == 1 ? 0xfe : 0xff);
        put_rm(g, &r, dec ? 1 : 0);
    }
    g->defined = (g->defined & F_CF) | (F_ALL & ~F_CF);
}

static void gen_test_notneg(Gen *g)
{
    unsigned size = pick_size(g);
    unsigned k = rnd(g, 4);
    if (k == 0) {
        Rm r = pick_rm(g, size, false, 40);
        prefixes(g, size, &r, false);
        e8(g, size == 1 ? 0x84 : 0x85);
        put_rm(g, &r, size == 1 ? rnd(g, 8) : rreg(g));
        g->defined = F_ALL & ~F_AF;
    } else if (k == 1) {
        Rm r = pick_rm(g, size, false, 40);
        prefixes(g, size, &r, false);
        e8(g, size == 1 ? 0xf6 : 0xf7);
        put_rm(g, &r, 0);
        if (size == 1)
            e8(g, rnd(g, 256));
        else if (size == 2)
            e16(g, interesting(g));
        else
            e32(g, interesting(g));
        g->defined = F_ALL & ~F_AF;
    } else {
        Rm r = pick_rm(g, size, true, 40);
        prefixes(g, size, &r, true);
        e8(g, size == 1 ? 0xf6 : 0xf7);
        put_rm(g, &r, k); /* 2 NOT, 3 NEG */
        if (k == 3)
            g->defined = F_ALL;
    }
}

static void gen_muldiv(Gen *g)
{
    unsigned size = pick_size(g);
    unsigned k = rnd(g, 7);
    if (k < 4) {
        Rm r = pick_rm(g, size, false, 40);
        prefixes(g, size, &r, false);
        e8(g, size == 1 ? 0xf6 : 0xf7);
        put_rm(g, &r, 4 + k);
        g->defined = k < 2 ? (F_CF | F_OF) : 0;
        return;
    }
    if (size == 1)
        size = 4;
    Rm r = pick_rm(g, size, false, 40);
    prefixes(g, size, &r, false);
    unsigned dst = wreg(g, size);
    if (k == 4) {
        e8(g, 0x0f);
        e8(g, 0xaf);
        put_rm(g, &r, dst);
    } else if (k == 5) {
        e8(g, 0x6b);
        put_rm(g, &r, dst);
        e8(g, rnd(g, 256));
    } else {
        e8(g, 0x69);
        put_rm(g, &r, dst);
        if (size == 2)
            e16(g, interesting(g));
        else
            e32(g, interesting(g));
    }
    g->defined = F_CF | F_OF;
}

/* Flags defined after a group-2 operation with a known count. */
static uint32_t shift_defined(uint32_t before, unsigned op, unsigned size, unsigned count)
{
    unsigned bits = size * 8;
    count &= 31;
    if (count == 0)
        return before;
    uint32_t d = before;
    switch (op) {
    case 0: case 1: /* ROL ROR: CF, and OF for a count of 1 */
        d &= ~(F_CF | F_OF);
        if (count % bits)
            d |= F_CF;
        if (count == 1)
            d |= F_OF;
        return d;
    case 2: case 3: /* RCL RCR */
        d &= ~(F_CF | F_OF);
        if (count % (bits + 1))
            d |= F_CF;
        if (count == 1)
            d |= F_OF;
        return d;
    default: /* SHL SHR SAL SAR */
        d = F_SF | F_ZF | F_PF;
        if (count < bits)
            d |= F_CF;
        if (count == 1)
            d |= F_OF;
        return d;
    }
}

static void gen_shift(Gen *g)
{
    unsigned size = pick_size(g);
    unsigned op = rnd(g, 8);
    if (op == 2 || op == 3)
        need_flags(g, F_CF);
    unsigned count = 0, form = rnd(g, 3);
    if (form == 2) {
        count = chance(g, 20) ? rnd(g, 256) : rnd(g, 40);
        e8(g, 0xb1); /* mov cl, imm8 */
        e8(g, count);
    }
    Rm r = pick_rm(g, size, true, 40);
    prefixes(g, size, &r, true);
    unsigned w = size == 1 ? 0 : 1;
    if (form == 0) {
        count = chance(g, 30) ? rnd(g, 256) : rnd(g, 34);
        e8(g, 0xc0 | w);
        put_rm(g, &r, op);
        e8(g, count);
    } else if (form == 1) {
        count = 1;
        e8(g, 0xd0 | w);
        put_rm(g, &r, op);
    } else {
        e8(g, 0xd2 | w);
        put_rm(g, &r, op);
    }
    g->defined = shift_defined(g->defined, op, size, count);
}

static void gen_shld(Gen *g)
{
    unsigned size = chance(g, 30) ? 2 : 4;
    bool cl = chance(g, 50);
    unsigned count = rnd(g, size == 2 ? 17 : 32);
    if (cl) {
        e8(g, 0xb1);
        e8(g, count | (size == 4 ? (rnd(g, 8) << 5) : 0));
    }
    Rm r = pick_rm(g, size, true, 40);
    prefixes(g, size, &r, true);
    bool right = chance(g, 50);
    e8(g, 0x0f);
    e8(g, (right ? 0xac : 0xa4) | (cl ? 1 : 0));
    put_rm(g, &r, rreg(g));
    if (!cl)
        e8(g, count);
    if (count) {
        uint32_t d = F_SF | F_ZF | F_PF | F_CF;
        if (count == 1)
            d |= F_OF;
        g->defined = d;
    }
}

static void gen_bt(Gen *g)
{
    unsigned size = chance(g, 30) ? 2 : 4;
    unsigned kind = rnd(g, 4); /* BT BTS BTR BTC */
    bool imm = chance(g, 40);
    Rm r = pick_rm(g, size, kind != 0, 50);
    unsigned off = rnd(g, 3);
    if (r.mem && r.m.sib && r.m.index == off)
        off = (off + 1) % 3; /* not the register indexing the operand */
    if (!imm && r.mem) {
        /* movsx off32, off8: a small signed bit offset */
        e8(g, 0x0f);
        e8(g, 0xbe);
        e8(g, 0xc0 | (off << 3) | off);
    }
    prefixes(g, size, &r, kind != 0);
    if (r.mem && kind != 0 && chance(g, 10))
        e8(g, 0xf0);
    e8(g, 0x0f);
    if (imm) {
        e8(g, 0xba);
        put_rm(g, &r, 4 + kind);
        e8(g, rnd(g, 256));
    } else {
        static const uint8_t ops[] = { 0xa3, 0xab, 0xb3, 0xbb };
        e8(g, ops[kind]);
        put_rm(g, &r, r.mem ? off : rreg(g));
    }
    g->defined = (g->defined & F_ZF) | F_CF;
}

static void gen_bsf(Gen *g)
{
    unsigned size = chance(g, 30) ? 2 : 4;
    Rm r = pick_rm(g, size, false, 40);
    prefixes(g, size, &r, false);
    e8(g, 0x0f);
    e8(g, chance(g, 50) ? 0xbc : 0xbd);
    put_rm(g, &r, wreg(g, size));
    g->defined = F_ZF;
}

static void gen_bcd(Gen *g)
{
    if (!form_ok(g, FORM_BCD))
        return;
    switch (rnd(g, 7)) {
    case 0: case 1:
        need_flags(g, F_AF | F_CF);
        e8(g, chance(g, 50) ? 0x27 : 0x2f);
        g->defined = F_ALL & ~F_OF;
        break;
    case 2: case 3:
        need_flags(g, F_AF);
        e8(g, chance(g, 50) ? 0x37 : 0x3f);
        g->defined = F_AF | F_CF;
        break;
    case 4:
        e8(g, 0xd4);
        e8(g, chance(g, 70) ? 10 : rnd(g, 256));
        g->defined = F_SF | F_ZF | F_PF;
        break;
    case 5:
        e8(g, 0xd5);
        e8(g, chance(g, 70) ? 10 : rnd(g, 256));
        g->defined = F_SF | F_ZF | F_PF;
        break;
    default:
        need_flags(g, F_CF);
        e8(g, 0xd6); /* SALC */
        break;
    }
}

static void gen_mov(Gen *g)
{
    unsigned size = pick_size(g);
    unsigned w = size == 1 ? 0 : 1;
    switch (rnd(g, 7)) {
    case 0: { Rm r = pick_rm(g, size, true, 50); prefixes(g, size, &r, true); e8(g, 0x88 | w);
              put_rm(g, &r, size == 1 ? rnd(g, 8) : rreg(g)); break; }
    case 1: { Rm r = pick_rm(g, size, false, 50); prefixes(g, size, &r, false); e8(g, 0x8a | w);
              put_rm(g, &r, wreg(g, size)); break; }
    case 2:
        prefixes(g, size, NULL, false);
        if (size == 1) {
            e8(g, 0xb0 + wreg(g, 1));
            e8(g, rnd(g, 256));
        } else {
            e8(g, 0xb8 + wreg(g, size));
            if (size == 2)
                e16(g, interesting(g));
            else
                e32(g, interesting(g));
        }
        break;
    case 3: { Rm r = pick_rm(g, size, true, 60); prefixes(g, size, &r, true); e8(g, 0xc6 | w); put_rm(g, &r, 0);
              if (size == 1) e8(g, rnd(g, 256)); else if (size == 2) e16(g, interesting(g)); else e32(g, interesting(g));
              break; }
    case 4: /* moffs */
        if (!form_ok(g, FORM_MOFFS))
            return;
        prefixes(g, size, NULL, false);
        e8(g, 0xa0 | (chance(g, 50) ? 2 : 0) | w);
        e32(g, DIFF_DATA_ADDR + 0x100 + rnd(g, 0xe00));
        break;
    case 5: { /* LEA */
        unsigned s = chance(g, 30) ? 2 : 4;
        Mem m = pick_mem(g);
        if (s == 2)
            e8(g, 0x66);
        e8(g, 0x8d);
        put_mem(g, &m, wreg(g, s));
        break;
    }
    default: { /* MOVZX / MOVSX */
        unsigned src = chance(g, 50) ? 1 : 2;
        unsigned dst = chance(g, 30) ? 2 : 4;
        Rm r = pick_rm(g, src, false, 40);
        prefixes(g, dst, &r, false);
        e8(g, 0x0f);
        e8(g, (chance(g, 50) ? 0xb6 : 0xbe) | (src == 2 ? 1 : 0));
        put_rm(g, &r, wreg(g, dst));
        break;
    }
    }
}

static void gen_xchg(Gen *g)
{
    unsigned size = pick_size(g);
    unsigned k = rnd(g, 6);
    if (k == 0 && size != 1) {
        prefixes(g, size, NULL, false);
        e8(g, 0x90 + 1 + rnd(g, 2));
        return;
    }
    if (k == 5 && size == 4) {
        e8(g, 0x0f);
        e8(g, 0xc8 + rnd(g, 3)); /* BSWAP */
        return;
    }
    Rm r = pick_rm(g, size, true, 50);
    prefixes(g, size, &r, true);
    bool lock = r.mem && chance(g, 10);
    if (lock)
        e8(g, 0xf0);
    unsigned w = size == 1 ? 0 : 1;
    switch (k) {
    case 1: case 0: case 5: e8(g, 0x86 | w); break;                /* XCHG */
    case 2: e8(g, 0x0f); e8(g, 0xc0 | w); g->defined = F_ALL; break; /* XADD */
    default: e8(g, 0x0f); e8(g, 0xb0 | w); g->defined = F_ALL; break; /* CMPXCHG */
    }
    put_rm(g, &r, wreg(g, size));
}

static void gen_cmpxchg8b(Gen *g)
{
    Mem m = pick_mem(g);
    if (chance(g, 10))
        e8(g, 0xf0);
    e8(g, 0x0f);
    e8(g, 0xc7);
    put_mem(g, &m, 1);
    g->defined |= F_ZF;
}

static void gen_cc(Gen *g)
{
    unsigned cc = rnd(g, 16);
    need_flags(g, cond_flags(cc));
    if (chance(g, 50)) {
        unsigned size = chance(g, 30) ? 2 : 4;
        Rm r = pick_rm(g, size, false, 40);
        prefixes(g, size, &r, false);
        e8(g, 0x0f);
        e8(g, 0x40 + cc);
        put_rm(g, &r, wreg(g, size));
    } else {
        Rm r = pick_rm(g, 1, true, 40);
        prefixes(g, 1, &r, true);
        e8(g, 0x0f);
        e8(g, 0x90 + cc);
        put_rm(g, &r, 0);
    }
}

static void gen_flags(Gen *g)
{
    switch (rnd(g, 8)) {
    case 0: if (!form_ok(g, FORM_LAHF_SAHF)) return; need_flags(g, F_ALL & ~F_OF); e8(g, 0x9f); break;
    case 1: if (!form_ok(g, FORM_LAHF_SAHF)) return; e8(g, 0x9e); g->defined |= F_ALL & ~F_OF; break;
    case 2: e8(g, 0xf8); g->defined |= F_CF; break;
    case 3: e8(g, 0xf9); g->defined |= F_CF; break;
    case 4: need_flags(g, F_CF); e8(g, 0xf5); break;
    case 5: e8(g, chance(g, 50) ? 0xfc : 0xfd); break;
    case 6: if (chance(g, 40)) e8(g, 0x66); e8(g, 0x98); break;
    default: if (chance(g, 40)) e8(g, 0x66); e8(g, 0x99); break;
    }
}

static void gen_stack(Gen *g)
{
    unsigned size = chance(g, 25) ? 2 : 4;
    bool can_push = g->depth_max + 16 <= STACK_ROOM;
    bool can_pop = g->depth_min - 16 >= -STACK_ROOM;
    unsigned k = rnd(g, 7);
    if (!form_ok(g, k <= 4 ? FORM_PUSH_POP : k == 5 ? FORM_PUSHF : FORM_PUSHA))
        return;
    if (k <= 2 && can_push) {
        Mem m = { 0 };
        if (k == 2)
            m = pick_mem(g); /* its preparation comes before the prefix */
        if (size == 2)
            e8(g, 0x66);
        if (k == 0) {
            e8(g, 0x50 + rreg(g));
        } else if (k == 1) {
            bool small = chance(g, 50);
            e8(g, small ? 0x6a : 0x68);
            if (small)
                e8(g, rnd(g, 256));
            else if (size == 2)
                e16(g, interesting(g));
            else
                e32(g, interesting(g));
        } else {
            e8(g, 0xff);
            put_mem(g, &m, 6);
        }
        g->depth_min += (int)size;
        g->depth_max += (int)size;
    } else if (k <= 4 && can_pop) {
        Mem m = { 0 };
        if (k == 4)
            m = pick_mem(g);
        if (size == 2)
            e8(g, 0x66);
        if (k == 3) {
            e8(g, 0x58 + wreg(g, size));
        } else {
            e8(g, 0x8f);
            put_mem(g, &m, 0);
        }
        g->depth_min -= (int)size;
        g->depth_max -= (int)size;
    } else if (k == 5 && can_push) {
        need_flags(g, F_ALL);
        if (size == 2)
            e8(g, 0x66);
        e8(g, 0x9c); /* PUSHF */
        g->depth_min += (int)size;
        g->depth_max += (int)size;
    } else if (can_push) {
        /* PUSHA; POPA restores every register it pushed. */
        if (size == 2)
            e8(g, 0x66);
        e8(g, 0x60);
        if (size == 2)
            e8(g, 0x66);
        e8(g, 0x61);
    }
}

static void branch(Gen *g, unsigned dsize)
{
    Fixup *f = &g->fix[g->nfix++];
    f->pos = g->len;
    f->size = dsize;
    f->target = g->ninsn + 1 + rnd(g, 4);
    f->defined = g->defined;
    f->depth_min = g->depth_min;
    f->depth_max = g->depth_max;
    if (dsize == 1)
        e8(g, 0);
    else
        e32(g, 0);
}

static void gen_branch(Gen *g)
{
    if (g->nfix >= G_N_ELEMENTS(g->fix))
        return;
    unsigned k = rnd(g, 6);
    if (k == 0) {
        unsigned cc = rnd(g, 16);
        need_flags(g, cond_flags(cc));
        e8(g, 0x70 + cc);
        branch(g, 1);
    } else if (k == 1) {
        unsigned cc = rnd(g, 16);
        need_flags(g, cond_flags(cc));
        e8(g, 0x0f);
        e8(g, 0x80 + cc);
        branch(g, 4);
    } else if (k == 2) {
        e8(g, chance(g, 50) ? 0xeb : 0xe9);
        branch(g, g->code[g->len - 1] == 0xeb ? 1 : 4);
    } else if (k == 3) {
        unsigned op = 0xe0 + rnd(g, 4);
        if (op == 0xe0 || op == 0xe1)
            need_flags(g, F_ZF);
        if (chance(g, 50)) {
            e8(g, 0xb9); /* mov ecx, small */
            e32(g, rnd(g, 3));
        } else if (g->portable) {
            /* mov ecx, ecx: LOOP and JECXZ test all of RCX in 64-bit mode, and a LOOP
             * from 0 sets its upper half; this clears it and keeps ECX. */
            e8(g, 0x89);
            e8(g, 0xc9);
        }
        e8(g, op);
        branch(g, 1);
    } else if (k == 4 && g->depth_max + 8 <= STACK_ROOM) {
        /* call L; jmp over; L: ret (or ret 0) */
        if (!form_ok(g, FORM_CALL_RET))
            return;
        bool imm = chance(g, 30);
        e8(g, 0xe8);
        e32(g, 2);
        e8(g, 0xeb);
        e8(g, imm ? 3 : 1);
        if (imm) {
            e8(g, 0xc2);
            e16(g, 0);
        } else {
            e8(g, 0xc3);
        }
    } else {
        /* enter N, L; leave */
        if (!form_ok(g, FORM_ENTER_LEAVE))
            return;
        bool o16 = chance(g, 20);
        if (g->depth_max + 64 + 16 > STACK_ROOM)
            return;
        if (o16)
            e8(g, 0x66);
        e8(g, 0xc8);
        e16(g, rnd(g, 32));
        e8(g, rnd(g, 4));
        if (o16)
            e8(g, 0x66);
        e8(g, 0xc9);
    }
}

static void gen_string(Gen *g)
{
    unsigned kind = rnd(g, 5); /* MOVS CMPS STOS LODS SCAS */
    unsigned size = pick_size(g);
    unsigned rep = rnd(g, 3);  /* none, REP/REPE, REPNE */
    e8(g, 0xbe);
    e32(g, DIFF_DATA_ADDR + PTR_ESI + rnd(g, 64));
    e8(g, 0xbf);
    e32(g, DIFF_DATA_ADDR + PTR_EDI + rnd(g, 64));
    if (rep) {
        e8(g, 0xb9);
        e32(g, rnd(g, 17));
    }
    e8(g, chance(g, 50) ? 0xfc : 0xfd);
    if (size == 2)
        e8(g, 0x66);
    if (kind != 2 && chance(g, 15))
        e8(g, kind == 4 ? 0x26 : 0x3e); /* a source override (SCAS has none: harmless) */
    if (rep)
        e8(g, rep == 1 ? 0xf3 : 0xf2);
    static const uint8_t ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
    e8(g, ops[kind] | (size == 1 ? 0 : 1));
    if ((kind == 1 || kind == 4) && !rep)
        g->defined = F_ALL;
    else if (kind == 1 || kind == 4)
        g->defined = 0; /* a zero count leaves the flags as they were: unknown here */
}

static void gen_misc(Gen *g)
{
    switch (rnd(g, 10)) {
    case 0: e8(g, 0xd7); break; /* XLAT */
    case 1: e8(g, 0x90); break;
    case 2: { Rm r = pick_rm(g, 4, false, 50); e8(g, 0x0f); e8(g, 0x1f); put_rm(g, &r, 0); break; }
    case 3: e8(g, 0x0f); e8(g, 0x0b); break;                 /* UD2 */
    case 4: /* INTO */
        if (form_ok(g, FORM_INTO)) {
            need_flags(g, F_OF);
            e8(g, 0xce);
        }
        break;
    case 5: { /* BOUND */
        if (!form_ok(g, FORM_BOUND))
            break;
        unsigned size = chance(g, 30) ? 2 : 4;
        Mem m = pick_mem(g);
        if (size == 2)
            e8(g, 0x66);
        e8(g, 0x62);
        put_mem(g, &m, rreg(g));
        break;
    }
    case 6: { /* privileged or IOPL-sensitive at CPL 3: #GP */
        static const uint8_t ops[] = { 0xf4, 0xfa, 0xfb, 0xec, 0xee, 0xe4 };
        unsigned op = ops[rnd(g, G_N_ELEMENTS(ops))];
        e8(g, op);
        if (op == 0xe4)
            e8(g, rnd(g, 256));
        break;
    }
    case 7: { /* INT n through a gate the OS keeps at DPL 0: #GP(n*8+2) */
        if (!form_ok(g, FORM_INT_N))
            break;
        unsigned n;
        do
            n = rnd(g, 256);
        while (n == 3 || n == 4 || n == 0x80);
        e8(g, 0xcd);
        e8(g, n);
        break;
    }
    case 8: { /* LOCK on a register destination: #UD */
        e8(g, 0xf0);
        e8(g, 0x01);
        e8(g, 0xc0 | (rreg(g) << 3) | wreg(g, 4));
        break;
    }
    default:
        e8(g, 0xcc); /* INT3 in the middle */
        break;
    }
}

typedef void (*GenFn)(Gen *g);
static const struct {
    GenFn fn;
    unsigned weight;
    uint32_t only; /* the forms it draws when all are mode-dependent */
} families[] = {
    { gen_alu, 20, 0 }, { gen_incdec, 5, 0 }, { gen_test_notneg, 6, 0 }, { gen_muldiv, 6, 0 },
    { gen_shift, 10, 0 }, { gen_shld, 4, 0 }, { gen_bt, 5, 0 }, { gen_bsf, 3, 0 },
    { gen_bcd, 5, FORM_BIT(FORM_BCD) }, { gen_mov, 8, 0 }, { gen_xchg, 5, 0 }, { gen_cmpxchg8b, 1, 0 },
    { gen_cc, 5, 0 }, { gen_flags, 4, 0 },
    { gen_stack, 5, FORM_BIT(FORM_PUSH_POP) | FORM_BIT(FORM_PUSHF) | FORM_BIT(FORM_PUSHA) },
    { gen_branch, 6, 0 }, { gen_string, 5, 0 }, { gen_misc, 2, 0 },
};

/* Resolves the branches that land on the current instruction. */
static void land(Gen *g)
{
    for (unsigned k = 0; k < g->nfix; k++) {
        Fixup *f = &g->fix[k];
        if (f->target != g->ninsn)
            continue;
        int32_t d = (int32_t)g->len - (int32_t)(f->pos + f->size);
        if (f->size == 1)
            g->code[f->pos] = (uint8_t)d;
        else
            memcpy(&g->code[f->pos], &d, 4);
        g->defined &= f->defined;
        if (f->depth_min < g->depth_min)
            g->depth_min = f->depth_min;
        if (f->depth_max > g->depth_max)
            g->depth_max = f->depth_max;
        f->target = UINT32_MAX;
    }
}

static void gen_case(Gen *g, DiffCase *k, unsigned family)
{
    k->magic = DIFF_MAGIC;
    for (unsigned r = 0; r < 3; r++)
        k->regs[r] = interesting(g);
    k->regs[EBX] = DIFF_DATA_ADDR + PTR_EBX;
    k->regs[EBP] = DIFF_DATA_ADDR + PTR_EBP;
    k->regs[ESI] = DIFF_DATA_ADDR + PTR_ESI;
    k->regs[EDI] = DIFF_DATA_ADDR + PTR_EDI;
    k->regs[ESP] = DIFF_DATA_ADDR + PTR_ESP;
    k->eflags = (g_rand_int(g->rng) & (F_ALL | F_DF)) | 2;
    for (unsigned b = 0; b < DIFF_DATA_SIZE; b += 4) {
        uint32_t v = chance(g, 10) ? interesting(g) : g_rand_int(g->rng);
        memcpy(&k->data[b], &v, 4);
    }
    g->len = 0;
    g->defined = F_ALL;
    g->depth_min = g->depth_max = 0;
    g->nfix = 0;
    unsigned n = family < G_N_ELEMENTS(families) ? 1 + rnd(g, 3) : 1 + rnd(g, 24);
    unsigned total = 0;
    for (unsigned f = 0; f < G_N_ELEMENTS(families); f++)
        total += families[f].weight;
    for (g->ninsn = 0; g->ninsn < n; g->ninsn++) {
        land(g);
        g->start[g->ninsn] = g->len;
        g->defined_at[g->ninsn] = g->defined;
        /* A refused form emitted nothing: draw again (never in mode 32). */
        for (unsigned tries = 0; tries < 16; tries++) {
            unsigned len = g->len, refused = g->refused;
            unsigned f = family;
            if (f >= G_N_ELEMENTS(families)) {
                unsigned pick = rnd(g, total);
                f = 0;
                while (pick >= families[f].weight)
                    pick -= families[f++].weight;
            }
            g->ndrawn++;
            families[f].fn(g);
            if (g->len != len || g->refused == refused)
                break;
        }
    }
    /* Branches past the end land on the final INT3. */
    for (unsigned k2 = 0; k2 < g->nfix; k2++)
        if (g->fix[k2].target != UINT32_MAX)
            g->fix[k2].target = g->ninsn;
    land(g);
    g->start[g->ninsn] = g->len;
    g->defined_at[g->ninsn] = g->defined;
    k->code_len = g->len;
    memcpy(k->code, g->code, g->len);
}

/* Flags the SDM defines at a code offset: the most recent instruction start at or
 * before it (every prefix/prep byte of a group belongs to the group's start). */
static uint32_t defined_at(const Gen *g, uint32_t off)
{
    uint32_t d = F_ALL;
    for (unsigned k = 0; k <= g->ninsn; k++)
        if (g->start[k] <= off)
            d = g->defined_at[k];
    return d;
}

/* ---- the interpreter side ---- */

typedef struct Interp {
    Vm *vm;
    Vcpu *v;
    X86Cpu *cpu;
} Interp;

static void flat(X86SegState *s, uint16_t sel, bool code)
{
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | (3 << 5) | (code ? 0xb : 0x3);
}

/* An IDT like a Linux host's for 32-bit processes: interrupt gates at DPL 0 except
 * the ones user code may invoke (INT3, INTO, INT 0x80). */
#define IDT_ADDR 0x8000u

static void build_idt(GuestMemory *m)
{
    for (unsigned v = 0; v < 256; v++) {
        unsigned dpl = (v == 3 || v == 4 || v == 0x80) ? 3 : 0;
        uint32_t lo = 0x10u << 16, hi = 0x8e00u | (dpl << 13);
        mem_write(m, IDT_ADDR + v * 8, &lo, 4);
        mem_write(m, IDT_ADDR + v * 8 + 4, &hi, 4);
    }
}

static void run_interp(Interp *in, const DiffCase *k, DiffResult *out)
{
    GuestMemory *m = in->v->mem;
    mem_write(m, DIFF_DATA_ADDR, k->data, DIFF_DATA_SIZE);
    static uint8_t code[DIFF_CODE_SIZE];
    memset(code, 0xcc, sizeof(code));
    memcpy(code + DIFF_STUB_LEN, k->code, k->code_len);
    mem_write(m, DIFF_STUB_ADDR, code, sizeof(code));

    X86State s;
    x86_cpu_reset(in->cpu);
    x86_cpu_get_state(in->cpu, &s);
    s.idt_base = IDT_ADDR;
    s.idt_limit = 256 * 8 - 1;
    memcpy(s.regs, k->regs, sizeof(s.regs));
    s.eip = DIFF_CODE_ADDR;
    s.eflags = k->eflags | 0x202;
    for (unsigned r = 0; r < X86_NSEG; r++)
        flat(&s.seg[r], r == X86_CS ? 0x23 : 0x2b, r == X86_CS);
    s.cr0 = X86_CR0_PE | X86_CR0_ET;
    /* A TSS too short for an I/O map base, so port I/O at CPL 3 is #GP as for the
     * native user-mode program (the reset TR, a 32-bit TSS at 0 with limit FFFFh,
     * would read an I/O bitmap from guest memory). */
    s.tr.limit = 0;
    x86_cpu_set_state(in->cpu, &s);
    X86RunResult res = x86_cpu_run(in->cpu, 100000);
    x86_cpu_get_state(in->cpu, &s);
    memset(out, 0, sizeof(*out));
    bool has_err;
    uint32_t err;
    out->vector = res == X86_RUN_EXCEPTION ? (uint32_t)x86_cpu_last_exception(in->cpu, &has_err, &err) : 0xffffffffu;
    out->error = res == X86_RUN_EXCEPTION && has_err ? err : 0;
    memcpy(out->regs, s.regs, sizeof(out->regs));
    out->eip = s.eip;
    out->eflags = s.eflags;
    mem_read(m, DIFF_DATA_ADDR, out->data, DIFF_DATA_SIZE);
}

/* ---- the native side ---- */

typedef struct Native {
    pid_t pid;
    int in_fd, out_fd;
} Native;

/* Starts a helper with pipes on its stdin and stdout. posix_spawn, as it reports an
 * exec failure as such (g_spawn hands a file the kernel refuses to /bin/sh). */
static bool native_start(Native *n, const char *path, char **why)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        *why = g_strdup_printf("pipe: %s", g_strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = { (char *)path, NULL };
    int e = posix_spawn(&n->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (e) {
        close(in[1]);
        close(out[0]);
        *why = g_strdup_printf("cannot start %s: %s", path, g_strerror(e));
        return false;
    }
    n->in_fd = in[1];
    n->out_fd = out[0];
    return true;
}

/* Ends the helper (EOF on its input) and says how it ended. */
static char *native_stop(Native *n)
{
    close(n->in_fd);
    close(n->out_fd);
    int status = 0;
    while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
        continue;
    if (WIFSIGNALED(status))
        return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return g_strdup_printf("exit status %d", WEXITSTATUS(status));
}

static bool io_all(int fd, void *buf, size_t len, bool wr)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t r = wr ? write(fd, p, len) : read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        len -= (size_t)r;
    }
    return true;
}

static bool native_run(Native *n, const DiffCase *k, DiffResult *out)
{
    return io_all(n->in_fd, (void *)k, sizeof(*k), true) && io_all(n->out_fd, out, sizeof(*out), false) &&
           out->magic == DIFF_MAGIC;
}

/* ---- comparison ---- */

static const char *rname[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };

static void dump_case(const DiffCase *k)
{
    printf("    code:");
    for (unsigned b = 0; b < k->code_len; b++)
        printf(" %02x", k->code[b]);
    printf("\n    regs:");
    for (unsigned r = 0; r < 8; r++)
        printf(" %s=%08x", rname[r], k->regs[r]);
    printf(" eflags=%08x\n", k->eflags | 0x202);
}

static bool compare(const Gen *g, const DiffCase *k, const DiffResult *nat, const DiffResult *emu, GString *why)
{
    bool ok = true;
    if (nat->vector != emu->vector) {
        g_string_append_printf(why, " vector native %u interp %d;", nat->vector, (int)emu->vector);
        ok = false;
    } else if ((nat->vector == 10 || nat->vector == 11 || nat->vector == 12 || nat->vector == 13) &&
               nat->error != emu->error) {
        g_string_append_printf(why, " error code native %x interp %x;", nat->error, emu->error);
        ok = false;
    }
    if (nat->eip != emu->eip) {
        g_string_append_printf(why, " eip native %08x interp %08x;", nat->eip, emu->eip);
        ok = false;
    }
    for (unsigned r = 0; r < 8; r++)
        if (nat->regs[r] != emu->regs[r]) {
            g_string_append_printf(why, " %s native %08x interp %08x;", rname[r], nat->regs[r], emu->regs[r]);
            ok = false;
        }
    /* Flags at the end (or at the faulting instruction) that the SDM defines. */
    uint32_t off = nat->eip - DIFF_CODE_ADDR;
    uint32_t mask = (nat->vector == 3 || nat->vector == 1 || nat->vector == 4 ? defined_at(g, off - 1)
                                                                               : defined_at(g, off)) |
                    F_DF;
    if (off > k->code_len + 1)
        mask = F_DF;
    if ((nat->eflags & mask) != (emu->eflags & mask)) {
        g_string_append_printf(why, " eflags native %08x interp %08x (mask %03x);", nat->eflags, emu->eflags, mask);
        ok = false;
    }
    for (unsigned b = 0; b < DIFF_DATA_SIZE; b++)
        if (nat->data[b] != emu->data[b]) {
            g_string_append_printf(why, " data[%03x] native %02x interp %02x;", b, nat->data[b], emu->data[b]);
            ok = false;
            break;
        }
    return ok;
}

/* LAHF and SAHF in 64-bit mode need CPUID 80000001h ECX bit 0 (early x86-64 CPUs lack it). */
static bool host_lahf64(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & 1);
#else
    return false;
#endif
}

static sigjmp_buf int_n_probe_jmp;
static volatile uintptr_t int_n_probe_at;
static volatile unsigned int_n_probe_vec;
static volatile bool int_n_probe_ok;

static void int_n_probe_signal(int sig, siginfo_t *si, void *ctx)
{
    (void)si;
    const greg_t *r = ((ucontext_t *)ctx)->uc_mcontext.gregs;
    int_n_probe_ok = sig == SIGSEGV && r[REG_TRAPNO] == 13 && r[REG_ERR] == (greg_t)(int_n_probe_vec * 8 + 2) &&
                     r[REG_RIP] == (greg_t)int_n_probe_at;
    siglongjmp(int_n_probe_jmp, 1);
}

/* Whether the host's kernel reports every INT n the generator draws as the SDM says for
 * a gate of DPL 0 (SDM vol. 3, 6.12.1.1): #GP with error code n*8+2 at the INT. A
 * paravirtual kernel (PVM: some vectors raise #UD, some return) or one with FRED
 * reports something else, and the native side is then no reference for them. */
static bool host_int_n_sdm(void)
{
#if defined(__x86_64__)
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            _exit(1);
        struct sigaction sa = { 0 };
        sa.sa_sigaction = int_n_probe_signal;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGILL, &sa, NULL);
        sigaction(SIGTRAP, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        for (unsigned n = 0; n < 256; n++) {
            if (n == 3 || n == 4 || n == 0x80)
                continue;
            page[0] = 0xcd;
            page[1] = (uint8_t)n;
            page[2] = 0xc3; /* a kernel that returns from INT n comes back here */
            int_n_probe_at = (uintptr_t)page;
            int_n_probe_vec = n;
            int_n_probe_ok = false;
            if (!sigsetjmp(int_n_probe_jmp, 1))
                ((void (*)(void))(void *)page)();
            if (!int_n_probe_ok)
                _exit(1);
        }
        _exit(0);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
#else
    return false;
#endif
}

/* Whether the host runs the 32-bit helper: it starts and answers an empty case (what
 * it answers is mode 32's business). Where the kernel has no 32-bit support the exec
 * fails ("Exec format error"); under scripts/ci-host-sim.py the helper is killed at
 * its first system call. */
static bool native_probe(Native *n, const char *path, char **why)
{
    if (!path || !g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
        *why = g_strdup("no 32-bit helper: building it needs gcc-multilib");
        return false;
    }
    if (!native_start(n, path, why))
        return false;
    static DiffCase k;
    static DiffResult r;
    k.magic = DIFF_MAGIC;
    k.code_len = 0;
    if (native_run(n, &k, &r))
        return true;
    char *end = native_stop(n);
    *why = g_strdup_printf("%s did not run: %s", path, end);
    g_free(end);
    return false;
}

/* Prints one line per reason for the forms the portable set leaves out, saying
 * where they were compared (in mode 32) or not. */
static void report_left_out(const Gen *g, const char *where)
{
    for (unsigned w = 0; w < NWHY; w++) {
        GString *list = g_string_new(NULL);
        unsigned n = 0;
        for (unsigned f = 0; f < NFORM; f++)
            if (forms[f].why == w && (g->banned & FORM_BIT(f))) {
                g_string_append_printf(list, "%s%s", list->len ? ", " : "", forms[f].name);
                n += g->drawn[f];
            }
        if (list->len)
            printf("difftest: %s: %s [%s] (drawn %u times in %u instruction draws)\n",
                   w == WHY_KERNEL ? "not compared on this host" : where, list->str, why_text[w], n, g->ndrawn);
        g_string_free(list, TRUE);
    }
}

typedef struct Options {
    uint64_t seed;
    unsigned cases;
    long only;
    bool verbose;
    bool tcg;
} Options;

/* Runs one mode's cases against its helper; returns the number of mismatches (or
 * -1 if the helper died). The generator's counters stay in g for the report. */
static long run_mode(Interp *in, Native *nat, Gen *g, unsigned mode, const Options *o)
{
    static DiffCase k;
    static DiffResult rn, ri;
    unsigned failed = 0, run = 0;
    unsigned nfam = G_N_ELEMENTS(families);
    /* Directed cases skip the families the mode leaves out entirely. */
    unsigned directed[G_N_ELEMENTS(families)], ndirected = 0;
    for (unsigned f = 0; f < nfam; f++)
        if (!families[f].only || (families[f].only & ~g->banned))
            directed[ndirected++] = f;
    printf("difftest: mode %u (%s): seed %" G_GUINT64_FORMAT ", %u cases\n", mode,
           mode == 32 ? "every form, 32-bit helper" : "the portable set, 64-bit helper", o->seed, o->cases);
    for (unsigned c = 0; c < o->cases; c++) {
        if (o->only >= 0 && c != (unsigned)o->only)
            continue;
        /* Every third case exercises one family (directed), the others mix everything. */
        g->rng = g_rand_new_with_seed((guint32)(o->seed * 0x9e3779b97f4a7c15ull + c * 0x632be59bd9b4e019ull) ^
                                      (guint32)((o->seed + c) >> 7));
        unsigned family = c % 3 == 0 ? directed[(c / 3) % ndirected] : nfam;
        gen_case(g, &k, family);
        g_rand_free(g->rng);
        if (!native_run(nat, &k, &rn)) {
            printf("FAIL: the native helper died at mode %u case %u (seed %" G_GUINT64_FORMAT ")\n", mode, c,
                   o->seed);
            dump_case(&k);
            return -1;
        }
        if (rn.signal == SIGSEGV && rn.vector == 14) {
            /* The generator left the data page: its own bug, reported as such. */
            printf("FAIL: mode %u case %u (seed %" G_GUINT64_FORMAT
                   ") touched memory outside the test page at eip %08x\n",
                   mode, c, o->seed, rn.eip);
            dump_case(&k);
            failed++;
            run++;
            continue;
        }
        run_interp(in, &k, &ri);
        run++;
        GString *why = g_string_new(NULL);
        if (!compare(g, &k, &rn, &ri, why)) {
            failed++;
            if (failed <= 20 || o->verbose) {
                printf("FAIL: mode %u seed %" G_GUINT64_FORMAT " case %u:%s\n", mode, o->seed, c, why->str);
                dump_case(&k);
            }
        } else if (o->verbose) {
            printf("ok: mode %u case %u vector %u eip %08x\n", mode, c, rn.vector, rn.eip);
            dump_case(&k);
        }
        g_string_free(why, TRUE);
    }
    printf("difftest: mode %u: %u of %u cases match (seed %" G_GUINT64_FORMAT ")\n", mode, run - failed, run,
           o->seed);
    return failed;
}

int main(int argc, char **argv)
{
    const char *native32 = NULL, *native64 = NULL;
    unsigned mode = 0; /* both where the host can */
    Options o = { .seed = 1, .cases = 100000, .only = -1 };
    bool usage = false;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--native") && a + 1 < argc)
            native32 = argv[++a];
        else if (!strcmp(argv[a], "--native64") && a + 1 < argc)
            native64 = argv[++a];
        else if (!strcmp(argv[a], "--mode") && a + 1 < argc)
            mode = (unsigned)g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            o.seed = g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--cases") && a + 1 < argc)
            o.cases = (unsigned)g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "--case") && a + 1 < argc)
            o.only = (long)g_ascii_strtoull(argv[++a], NULL, 0);
        else if (!strcmp(argv[a], "-v"))
            o.verbose = true;
        else if (!strcmp(argv[a], "--accel") && a + 1 < argc && !strcmp(argv[a + 1], "tcg"))
            o.tcg = true, a++;
        else if (!strcmp(argv[a], "--accel") && a + 1 < argc && !strcmp(argv[a + 1], "interp"))
            a++;
        else
            usage = true;
    }
    if (usage || (mode != 0 && mode != 32 && mode != 64)) {
        fprintf(stderr, "usage: difftest [--native PATH] [--native64 PATH] [--mode 32|64] [--seed N] "
                        "[--cases N] [--case I] [--accel interp|tcg] [-v]\n");
        return 2;
    }
    if (o.only >= 0 && (unsigned)o.only >= o.cases)
        o.cases = (unsigned)o.only + 1;
    if (g_getenv("DIFFTEST_SEED"))
        o.seed = g_ascii_strtoull(g_getenv("DIFFTEST_SEED"), NULL, 0);
    signal(SIGPIPE, SIG_IGN);

    Native nat32, nat64;
    char *why32 = NULL;
    bool host32 = mode != 64 && native_probe(&nat32, native32, &why32);
    if (!host32 && mode == 32) {
        printf("SKIP: mode 32 needs a host that runs 32-bit programs: %s\n", why32);
        return 77;
    }
    if (why32)
        printf("difftest: no mode 32 on this host: %s\n", why32);
    bool run64 = mode != 32 && native64 && g_file_test(native64, G_FILE_TEST_IS_EXECUTABLE);
    if (mode != 32 && !run64) {
        if (!host32) {
            printf("SKIP: no native helper to compare with (the 64-bit one needs an x86-64 host)\n");
            return 77;
        }
        printf("difftest: mode 64 not run: no 64-bit helper\n");
    }
    char *why64 = NULL;
    if (run64 && !native_start(&nat64, native64, &why64)) {
        printf("FAIL: %s\n", why64);
        return 1;
    }

    Interp in;
    in.vm = vm_new_for_test(UINT64_C(16) << 20);
    in.v = vm_vcpu(in.vm);
    atomic_store(&in.v->a20, true);
    in.cpu = x86_cpu_new(in.v);
    if (o.tcg) {
        JitOptions jo = { 0 };
        GError *err = NULL;
        if (!jit_supported(&err) || !jit_attach(in.cpu, &jo, &err)) {
            printf("SKIP: no translator: %s\n", err->message);
            g_error_free(err);
            return 77;
        }
    }
    build_idt(in.v->mem);
    x86_cpu_set_run_flags(in.cpu, X86_RUN_STOP_ON_EXCEPTION);

    bool failed = false;
    unsigned kernel_banned = host_int_n_sdm() ? 0 : FORM_BIT(FORM_INT_N);
    for (unsigned m = 32; m <= 64; m += 32) {
        if (m == 32 ? !host32 : !run64)
            continue;
        Gen *g = g_new0(Gen, 1);
        g->banned = kernel_banned;
        if (m == 64) {
            g->portable = true;
            g->banned |= FORMS_LEGACY | FORMS_STACK | (host_lahf64() ? 0 : FORM_BIT(FORM_LAHF_SAHF));
        }
        Native *nat = m == 32 ? &nat32 : &nat64;
        long f = run_mode(&in, nat, g, m, &o);
        char *end = native_stop(nat);
        if (f < 0)
            printf("FAIL: the %u-bit helper ended: %s\n", m, end);
        g_free(end);
        failed |= f != 0;
        report_left_out(g, m == 32 ? "mode 32 leaves out"
                           : host32 ? "mode 64 leaves out (compared in mode 32)"
                           : mode   ? "not compared in this run (--mode 64)"
                                    : "not compared on this host (no 32-bit programs)");
        g_free(g);
    }
    if (o.tcg) {
        /* (Proof that the cases ran as translated code, not through the handlers.) */
        JitStats js;
        jit_get_stats(in.cpu, &js);
        printf("translator: %" G_GUINT64_FORMAT " blocks translated, %" G_GUINT64_FORMAT " instructions inline, %" G_GUINT64_FORMAT
               " called\n", js.blocks, js.insns_inline, js.insns_called);
        if (js.blocks < o.cases / 2) {
            printf("FAIL: fewer blocks translated than half the cases\n");
            failed = true;
        }
        jit_detach(in.cpu);
    }
    x86_cpu_free(in.cpu);
    vm_free(in.vm);
    g_free(why32);
    if (failed)
        printf("replay one with: difftest --native %s --native64 %s --mode M --seed %" G_GUINT64_FORMAT
               " --case N%s -v\n",
               native32 ? native32 : "PATH", native64 ? native64 : "PATH", o.seed, o.tcg ? " --accel tcg" : "");
    return failed ? 1 : 0;
}
