/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Integer arithmetic and logic: the eight ALU operations in all their forms, INC/DEC,
 * TEST, NOT/NEG, MUL/IMUL/DIV/IDIV, decimal adjust, CBW/CWD, XADD, CMPXCHG and
 * CMPXCHG8B. Hot forms get a handler per size and operand kind. */
#include "cpu/x86/cpu-internal.h"

enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP };

X86_INLINE uint32_t alu(X86Cpu *c, unsigned op, unsigned size, uint32_t a, uint32_t b)
{
    uint32_t m = x86_mask(size), r, cin;
    switch (op) {
    case OP_ADD:
        r = (a + b) & m;
        x86_set_lazy(c, CC_OP(CC_ADD8, size), r, a, b);
        return r;
    case OP_OR:
        r = a | b;
        x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, a, b);
        return r;
    case OP_ADC:
        cin = x86_flag_cf(c);
        r = (a + b + cin) & m;
        x86_set_lazy(c, CC_OP(CC_ADC8, size), r, a, b);
        return r;
    case OP_SBB:
        cin = x86_flag_cf(c);
        r = (a - b - cin) & m;
        x86_set_lazy(c, CC_OP(CC_SBB8, size), r, a, b);
        return r;
    case OP_AND:
        r = a & b;
        x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, a, b);
        return r;
    case OP_XOR:
        r = a ^ b;
        x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, a, b);
        return r;
    default: /* SUB, CMP */
        r = (a - b) & m;
        x86_set_lazy(c, CC_OP(CC_SUB8, size), r, a, b);
        return r;
    }
}

/* A locked ADD, ADC, SUB or SBB to memory as one host LOCK XADD of what it adds (the
 * carry in included); the flags then from the value before, as alu computes them.
 * False when op is another operation or the operand is not plain RAM. */
X86_INLINE bool alu_locked_add(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size, uint32_t src)
{
    if (!(i->pfx & X86_PFX_LOCK) || !c->smp)
        return false;
    uint32_t add;
    switch (op) {
    case OP_ADD: add = src; break;
    case OP_ADC: add = src + x86_flag_cf(c); break;
    case OP_SUB: add = 0 - src; break;
    case OP_SBB: add = 0 - (src + x86_flag_cf(c)); break;
    default: return false;
    }
    uint32_t d;
    if (!x86_locked_add(c, i->seg, x86_ea(c, i), size, add, &d))
        return false;
    alu(c, op, size, d, src);
    return true;
}

/* r/m op= reg */
X86_INLINE void alu_e_g(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size, bool mem)
{
    uint32_t src = x86_get_reg(c, i->reg, size);
    if (!mem) {
        uint32_t r = alu(c, op, size, x86_get_reg(c, i->rm, size), src);
        if (op != OP_CMP)
            x86_set_reg(c, i->rm, size, r);
    } else if (op == OP_CMP) {
        alu(c, op, size, x86_read(c, i->seg, x86_ea(c, i), size), src);
    } else if (!alu_locked_add(c, i, op, size, src)) {
        X86Rmw w;
        uint32_t d = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
        while (!x86_rmw_end(c, &w, size, alu(c, op, size, d, src)))
            d = w.old;
    }
}

/* reg op= r/m */
X86_INLINE void alu_g_e(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size, bool mem)
{
    uint32_t src = mem ? x86_read(c, i->seg, x86_ea(c, i), size) : x86_get_reg(c, i->rm, size);
    uint32_t r = alu(c, op, size, x86_get_reg(c, i->reg, size), src);
    if (op != OP_CMP)
        x86_set_reg(c, i->reg, size, r);
}

/* r/m op= imm */
X86_INLINE void alu_e_i(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size, bool mem)
{
    uint32_t src = i->imm & x86_mask(size);
    if (!mem) {
        uint32_t r = alu(c, op, size, x86_get_reg(c, i->rm, size), src);
        if (op != OP_CMP)
            x86_set_reg(c, i->rm, size, r);
    } else if (op == OP_CMP) {
        alu(c, op, size, x86_read(c, i->seg, x86_ea(c, i), size), src);
    } else if (!alu_locked_add(c, i, op, size, src)) {
        X86Rmw w;
        uint32_t d = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
        while (!x86_rmw_end(c, &w, size, alu(c, op, size, d, src)))
            d = w.old;
    }
}

/* accumulator op= imm */
X86_INLINE void alu_a_i(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size)
{
    uint32_t r = alu(c, op, size, x86_get_reg(c, R_EAX, size), i->imm & x86_mask(size));
    if (op != OP_CMP)
        x86_set_reg(c, R_EAX, size, r);
}

#define ALU_FORMS(name, op)                                                                          \
    static void name##_eg8r(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 1, false); }            \
    static void name##_eg8m(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 1, true); }             \
    static void name##_eg16r(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 2, false); }           \
    static void name##_eg16m(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 2, true); }            \
    static void name##_eg32r(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 4, false); }           \
    static void name##_eg32m(X86Cpu *c, const X86Insn *i) { alu_e_g(c, i, op, 4, true); }            \
    static void name##_ge8r(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 1, false); }            \
    static void name##_ge8m(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 1, true); }             \
    static void name##_ge16r(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 2, false); }           \
    static void name##_ge16m(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 2, true); }            \
    static void name##_ge32r(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 4, false); }           \
    static void name##_ge32m(X86Cpu *c, const X86Insn *i) { alu_g_e(c, i, op, 4, true); }            \
    static void name##_ei8r(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 1, false); }            \
    static void name##_ei8m(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 1, true); }             \
    static void name##_ei16r(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 2, false); }           \
    static void name##_ei16m(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 2, true); }            \
    static void name##_ei32r(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 4, false); }           \
    static void name##_ei32m(X86Cpu *c, const X86Insn *i) { alu_e_i(c, i, op, 4, true); }            \
    static void name##_ai8(X86Cpu *c, const X86Insn *i) { alu_a_i(c, i, op, 1); }                    \
    static void name##_ai16(X86Cpu *c, const X86Insn *i) { alu_a_i(c, i, op, 2); }                   \
    static void name##_ai32(X86Cpu *c, const X86Insn *i) { alu_a_i(c, i, op, 4); }                   \
    static const X86Handler name##_forms[] = {                                                       \
        name##_eg8r, name##_eg8m, name##_eg16r, name##_eg16m, name##_eg32r, name##_eg32m,            \
        name##_ge8r, name##_ge8m, name##_ge16r, name##_ge16m, name##_ge32r, name##_ge32m,            \
        name##_ei8r, name##_ei8m, name##_ei16r, name##_ei16m, name##_ei32r, name##_ei32m,            \
        name##_ai8, name##_ai16, name##_ai16, name##_ai32,                                           \
    };

ALU_FORMS(add, OP_ADD)
ALU_FORMS(or, OP_OR)
ALU_FORMS(adc, OP_ADC)
ALU_FORMS(sbb, OP_SBB)
ALU_FORMS(and, OP_AND)
ALU_FORMS(sub, OP_SUB)
ALU_FORMS(xor, OP_XOR)
ALU_FORMS(cmp, OP_CMP)

static const X86Handler *const alu_forms[8] = {
    add_forms, or_forms, adc_forms, sbb_forms, and_forms, sub_forms, xor_forms, cmp_forms,
};

/* Index into a *_forms table: kind 0 E,G  1 G,E  2 E,I; size 1/2/4; mem. */
static unsigned form_index(unsigned kind, unsigned size, bool mem)
{
    return kind * 6 + (size == 1 ? 0 : size == 2 ? 2 : 4) + (mem ? 1 : 0);
}

/* ---- INC / DEC ---- */

X86_INLINE uint32_t inc_dec(X86Cpu *c, unsigned size, uint32_t a, bool dec)
{
    if (x86_flag_cf(c))
        c->eflags |= X86_FL_CF;
    else
        c->eflags &= ~X86_FL_CF;
    uint32_t r = (dec ? a - 1 : a + 1) & x86_mask(size);
    x86_set_lazy(c, dec ? CC_OP(CC_DEC8, size) : CC_OP(CC_INC8, size), r, a, 1);
    return r;
}

static void inc_r16(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = inc_dec(c, 2, *x86_reg16(c, i->reg), false); }
static void inc_r32(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = inc_dec(c, 4, c->regs[i->reg], false); }
static void dec_r16(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = inc_dec(c, 2, *x86_reg16(c, i->reg), true); }
static void dec_r32(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = inc_dec(c, 4, c->regs[i->reg], true); }

X86_INLINE void inc_dec_e(X86Cpu *c, const X86Insn *i, unsigned size, bool dec)
{
    if (!(i->pfx & X86_PFX_MEM)) {
        x86_set_reg(c, i->rm, size, inc_dec(c, size, x86_get_reg(c, i->rm, size), dec));
        return;
    }
    uint32_t d;
    if ((i->pfx & X86_PFX_LOCK) && c->smp && x86_locked_add(c, i->seg, x86_ea(c, i), size, dec ? ~0u : 1, &d)) {
        inc_dec(c, size, d, dec);   /* the flags */
        return;
    }
    X86Rmw w;
    d = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
    while (!x86_rmw_end(c, &w, size, inc_dec(c, size, d, dec)))
        d = w.old;
}
static void inc_e8(X86Cpu *c, const X86Insn *i) { inc_dec_e(c, i, 1, false); }
static void dec_e8(X86Cpu *c, const X86Insn *i) { inc_dec_e(c, i, 1, true); }
static void inc_ev(X86Cpu *c, const X86Insn *i) { inc_dec_e(c, i, x86_osize(i), false); }
static void dec_ev(X86Cpu *c, const X86Insn *i) { inc_dec_e(c, i, x86_osize(i), true); }

/* ---- TEST, NOT, NEG ---- */

static void test_eg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t r = x86_get_rm(c, i, size) & x86_get_reg(c, i->reg, size);
    x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, 0, 0);
}
static void test_ei(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t r = x86_get_rm(c, i, size) & i->imm & x86_mask(size);
    x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, 0, 0);
}
static void test_ai(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t r = x86_get_reg(c, R_EAX, size) & i->imm & x86_mask(size);
    x86_set_lazy(c, CC_OP(CC_LOGIC8, size), r, 0, 0);
}

static void not_neg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    bool neg = i->reg == 3;
    uint32_t m = x86_mask(size);
    if (!(i->pfx & X86_PFX_MEM)) {
        uint32_t a = x86_get_reg(c, i->rm, size);
        uint32_t r = neg ? alu(c, OP_SUB, size, 0, a) : (~a & m);
        x86_set_reg(c, i->rm, size, r);
        return;
    }
    X86Rmw w;
    uint32_t a = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
    uint32_t r = neg ? (0 - a) & m : (~a & m);
    while (!x86_rmw_end(c, &w, size, r)) {
        a = w.old;
        r = neg ? (0 - a) & m : (~a & m);
    }
    if (neg)
        x86_set_lazy(c, CC_OP(CC_SUB8, size), r, 0, a);
}

/* ---- multiply and divide ---- */

/* Flags after MUL/IMUL: CF = OF = overflow; SF, ZF, PF follow the low half and AF is
 * cleared, as P6-family processors leave them (the SDM calls them undefined). */
static void mul_flags(X86Cpu *c, uint32_t low, unsigned size, bool overflow)
{
    x86_set_lazy(c, CC_OP(CC_SHIFT8, size), low & x86_mask(size), overflow, overflow);
}

static void mul_div(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t src = x86_get_rm(c, i, size);
    switch (i->reg) {
    case 4: { /* MUL */
        if (size == 1) {
            uint32_t r = (c->regs[R_EAX] & 0xff) * src;
            *x86_reg16(c, R_EAX) = (uint16_t)r;
            mul_flags(c, r & 0xff, 1, r >> 8);
        } else if (size == 2) {
            uint32_t r = (c->regs[R_EAX] & 0xffff) * src;
            *x86_reg16(c, R_EAX) = (uint16_t)r;
            *x86_reg16(c, R_EDX) = (uint16_t)(r >> 16);
            mul_flags(c, r & 0xffff, 2, r >> 16);
        } else {
            uint64_t r = (uint64_t)(uint32_t)c->regs[R_EAX] * src;
            c->regs[R_EAX] = (uint32_t)r;
            c->regs[R_EDX] = (uint32_t)(r >> 32);
            mul_flags(c, (uint32_t)r, 4, r >> 32);
        }
        break;
    }
    case 5: { /* IMUL */
        if (size == 1) {
            int32_t r = (int8_t)c->regs[R_EAX] * (int8_t)src;
            *x86_reg16(c, R_EAX) = (uint16_t)r;
            mul_flags(c, r & 0xff, 1, r != (int8_t)r);
        } else if (size == 2) {
            int32_t r = (int16_t)c->regs[R_EAX] * (int16_t)src;
            *x86_reg16(c, R_EAX) = (uint16_t)r;
            *x86_reg16(c, R_EDX) = (uint16_t)((uint32_t)r >> 16);
            mul_flags(c, r & 0xffff, 2, r != (int16_t)r);
        } else {
            int64_t r = (int64_t)(int32_t)c->regs[R_EAX] * (int32_t)src;
            c->regs[R_EAX] = (uint32_t)r;
            c->regs[R_EDX] = (uint32_t)((uint64_t)r >> 32);
            mul_flags(c, (uint32_t)r, 4, r != (int32_t)r);
        }
        break;
    }
    case 6: { /* DIV: #DE on zero or a quotient too large (SDM vol. 2, DIV) */
        if (src == 0)
            x86_fault(c, X86_EXC_DE);
        if (size == 1) {
            uint32_t n = c->regs[R_EAX] & 0xffff;
            uint32_t q = n / src;
            if (q > 0xff)
                x86_fault(c, X86_EXC_DE);
            *x86_reg8(c, 0) = (uint8_t)q;
            *x86_reg8(c, 4) = (uint8_t)(n % src);
        } else if (size == 2) {
            uint32_t n = (c->regs[R_EAX] & 0xffff) | ((c->regs[R_EDX] & 0xffff) << 16);
            uint32_t q = n / src;
            if (q > 0xffff)
                x86_fault(c, X86_EXC_DE);
            *x86_reg16(c, R_EAX) = (uint16_t)q;
            *x86_reg16(c, R_EDX) = (uint16_t)(n % src);
        } else {
            uint64_t n = (uint32_t)c->regs[R_EAX] | ((uint64_t)(uint32_t)c->regs[R_EDX] << 32);
            uint64_t q = n / src;
            if (q > 0xffffffffu)
                x86_fault(c, X86_EXC_DE);
            c->regs[R_EAX] = (uint32_t)q;
            c->regs[R_EDX] = (uint32_t)(n % src);
        }
        break;
    }
    default: { /* IDIV */
        if (src == 0)
            x86_fault(c, X86_EXC_DE);
        if (size == 1) {
            int32_t n = (int16_t)c->regs[R_EAX];
            int32_t d = (int8_t)src;
            int32_t q = n / d;
            if (q != (int8_t)q)
                x86_fault(c, X86_EXC_DE);
            *x86_reg8(c, 0) = (uint8_t)q;
            *x86_reg8(c, 4) = (uint8_t)(n % d);
        } else if (size == 2) {
            int32_t n = (int32_t)((c->regs[R_EAX] & 0xffff) | (c->regs[R_EDX] << 16));
            int32_t d = (int16_t)src;
            if (n == INT32_MIN && d == -1)
                x86_fault(c, X86_EXC_DE);
            int32_t q = n / d;
            if (q != (int16_t)q)
                x86_fault(c, X86_EXC_DE);
            *x86_reg16(c, R_EAX) = (uint16_t)q;
            *x86_reg16(c, R_EDX) = (uint16_t)(n % d);
        } else {
            int64_t n = (int64_t)((uint32_t)c->regs[R_EAX] | ((uint64_t)(uint32_t)c->regs[R_EDX] << 32));
            int64_t d = (int32_t)src;
            if (n == INT64_MIN && d == -1)
                x86_fault(c, X86_EXC_DE);
            int64_t q = n / d;
            if (q != (int32_t)q)
                x86_fault(c, X86_EXC_DE);
            c->regs[R_EAX] = (uint32_t)q;
            c->regs[R_EDX] = (uint32_t)(n % d);
        }
        break;
    }
    }
}

/* IMUL r, r/m, imm (69, 6B) and IMUL r, r/m (0F AF). */
static void imul_3(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t a = x86_get_rm(c, i, size);
    uint32_t b = i->opcode == 0x0faf ? x86_get_reg(c, i->reg, size) : i->imm;
    if (size == 2) {
        int32_t r = (int16_t)a * (int16_t)b;
        *x86_reg16(c, i->reg) = (uint16_t)r;
        mul_flags(c, r & 0xffff, 2, r != (int16_t)r);
    } else {
        int64_t r = (int64_t)(int32_t)a * (int32_t)b;
        c->regs[i->reg] = (uint32_t)r;
        mul_flags(c, (uint32_t)r, 4, r != (int32_t)r);
    }
}

/* ---- decimal and ASCII adjust (SDM vol. 2, DAA/DAS/AAA/AAS/AAM/AAD) ---- */

static void daa_das(X86Cpu *c, const X86Insn *i)
{
    uint32_t f = x86_get_eflags(c);
    uint8_t al = (uint8_t)c->regs[R_EAX], old_al = al;
    bool old_cf = f & X86_FL_CF, cf = false, af = false;
    bool das = i->opcode == 0x2f;
    if ((al & 0x0f) > 9 || (f & X86_FL_AF)) {
        cf = old_cf || (das ? al < 6 : al > 0xf9);
        al = das ? al - 6 : al + 6;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = das ? al - 0x60 : al + 0x60;
        cf = true;
    } else if (!das) {
        cf = false;
    }
    *x86_reg8(c, 0) = al;
    uint32_t nf = x86_szp(al, 1) | (cf ? X86_FL_CF : 0) | (af ? X86_FL_AF : 0);
    /* OF is undefined (SDM vol. 2, DAA/DAS): reported as the signed overflow of the
     * adjustment, which is what the test vectors cannot see (they mask it). */
    if (das ? ((old_al ^ al) & old_al & 0x80) : ((old_al ^ al) & al & 0x80))
        nf |= X86_FL_OF;
    x86_set_arith(c, nf, X86_FL_ARITH);
}

static void aaa_aas(X86Cpu *c, const X86Insn *i)
{
    uint32_t f = x86_get_eflags(c);
    uint16_t ax = (uint16_t)c->regs[R_EAX];
    bool adj = (ax & 0x0f) > 9 || (f & X86_FL_AF);
    if (adj) {
        if (i->opcode == 0x37)
            ax = ax + 0x106;
        else
            ax = (uint16_t)(ax - 6 - 0x100);
    }
    ax = (ax & 0xff00) | (ax & 0x0f);
    *x86_reg16(c, R_EAX) = ax;
    uint32_t nf = adj ? (X86_FL_AF | X86_FL_CF) : 0;
    nf |= x86_szp(ax & 0xff, 1);
    x86_set_arith(c, nf, X86_FL_ARITH);
}

static void aam(X86Cpu *c, const X86Insn *i)
{
    uint8_t base = (uint8_t)i->imm;
    if (base == 0)
        x86_fault(c, X86_EXC_DE);
    uint8_t al = (uint8_t)c->regs[R_EAX];
    uint8_t q = al / base, r = al % base;
    *x86_reg16(c, R_EAX) = (uint16_t)((q << 8) | r);
    x86_set_arith(c, x86_szp(r, 1), X86_FL_ARITH);
}

static void aad(X86Cpu *c, const X86Insn *i)
{
    uint8_t base = (uint8_t)i->imm;
    uint8_t al = (uint8_t)c->regs[R_EAX], ah = (uint8_t)(c->regs[R_EAX] >> 8);
    /* Flags as the byte addition AL + AH * base that the P6 performs. */
    uint8_t prod = (uint8_t)(ah * base);
    uint8_t r = (uint8_t)(al + prod);
    *x86_reg16(c, R_EAX) = r;
    uint32_t nf = x86_szp(r, 1);
    if (r < al)
        nf |= X86_FL_CF;
    if ((al ^ prod ^ r) & 0x10)
        nf |= X86_FL_AF;
    if ((al ^ r) & (prod ^ r) & 0x80)
        nf |= X86_FL_OF;
    x86_set_arith(c, nf, X86_FL_ARITH);
}

static void salc(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    *x86_reg8(c, 0) = x86_flag_cf(c) ? 0xff : 0;
}

static void cbw(X86Cpu *c, const X86Insn *i)
{
    if (i->pfx & X86_PFX_OP32)
        c->regs[R_EAX] = (uint32_t)(int32_t)(int16_t)c->regs[R_EAX];
    else
        *x86_reg16(c, R_EAX) = (uint16_t)(int16_t)(int8_t)c->regs[R_EAX];
}

static void cwd(X86Cpu *c, const X86Insn *i)
{
    if (i->pfx & X86_PFX_OP32)
        c->regs[R_EDX] = (c->regs[R_EAX] & 0x80000000u) ? 0xffffffffu : 0;
    else
        *x86_reg16(c, R_EDX) = (c->regs[R_EAX] & 0x8000) ? 0xffff : 0;
}

/* ---- XADD, CMPXCHG, CMPXCHG8B ---- */

static void xadd(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t src = x86_get_reg(c, i->reg, size);
    if (!(i->pfx & X86_PFX_MEM)) {
        uint32_t d = x86_get_reg(c, i->rm, size);
        uint32_t sum = alu(c, OP_ADD, size, d, src);
        x86_set_reg(c, i->reg, size, d);
        x86_set_reg(c, i->rm, size, sum);
        return;
    }
    uint32_t d, sum;
    if ((i->pfx & X86_PFX_LOCK) && c->smp && x86_locked_add(c, i->seg, x86_ea(c, i), size, src, &d)) {
        sum = (d + src) & x86_mask(size);
    } else {
        X86Rmw w;
        d = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
        sum = (d + src) & x86_mask(size);
        while (!x86_rmw_end(c, &w, size, sum)) {
            d = w.old;
            sum = (d + src) & x86_mask(size);
        }
    }
    x86_set_lazy(c, CC_OP(CC_ADD8, size), sum, d, src);
    x86_set_reg(c, i->reg, size, d);
}

static void cmpxchg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t acc = x86_get_reg(c, R_EAX, size);
    uint32_t src = x86_get_reg(c, i->reg, size);
    if (!(i->pfx & X86_PFX_MEM)) {
        uint32_t d = x86_get_reg(c, i->rm, size);
        alu(c, OP_CMP, size, acc, d);
        if (acc == d)
            x86_set_reg(c, i->rm, size, src);
        else
            x86_set_reg(c, R_EAX, size, d);
        return;
    }
    /* The destination is always written: the old value when the comparison fails. */
    X86Rmw w;
    uint32_t d = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, i->pfx & X86_PFX_LOCK);
    while (!x86_rmw_end(c, &w, size, acc == d ? src : d))
        d = w.old;
    alu(c, OP_CMP, size, acc, d);
    if (acc != d)
        x86_set_reg(c, R_EAX, size, d);
}

static void cmpxchg8b(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM) || i->reg != 1)
        x86_ud(c);
    uint64_t off = x86_ea(c, i);
    uint64_t lin = x86_lin(c, i->seg, off, 8, SEG_OK_READ | SEG_OK_WRITE);
    /* Translate for writing first: the P6 writes the destination in both cases. */
    x86_wptr_slow(c, lin, 8, c->acc_user | ACC_WRITE);
    uint64_t cmp = (uint32_t)c->regs[R_EAX] | ((uint64_t)(uint32_t)c->regs[R_EDX] << 32);
    x86_flags_sync(c);
    /* With other vCPUs a locked CMPXCHG8B is one host compare-and-swap of 8 bytes. */
    uint64_t pa;
    uint8_t *h = (i->pfx & X86_PFX_LOCK) && c->smp ? x86_atomic_ptr(c, lin, 8, &pa) : NULL;
    if (h) {
        uint64_t d = cmp;
        uint64_t nv = (uint32_t)c->regs[R_EBX] | ((uint64_t)(uint32_t)c->regs[R_ECX] << 32);
        if (__atomic_compare_exchange_n((uint64_t *)(void *)h, &d, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            x86_atomic_report(c, pa, 8);
            c->eflags |= X86_FL_ZF;
        } else {
            c->regs[R_EAX] = (uint32_t)d;
            c->regs[R_EDX] = (uint32_t)(d >> 32);
            c->eflags &= ~X86_FL_ZF;
        }
        return;
    }
    /* Split or MMIO: atomic by stopping the other vCPUs around the access. */
    bool exclusive = (i->pfx & X86_PFX_LOCK) && c->smp;
    if (exclusive)
        vcpu_exclusive_begin(c->v);
    uint64_t d = x86_ld64_slow(c, lin, c->acc_user);
    if (d == cmp) {
        x86_st64_slow(c, lin, (uint32_t)c->regs[R_EBX] | ((uint64_t)(uint32_t)c->regs[R_ECX] << 32), c->acc_user | ACC_WRITE);
        c->eflags |= X86_FL_ZF;
    } else {
        x86_st64_slow(c, lin, d, c->acc_user | ACC_WRITE);
        c->regs[R_EAX] = (uint32_t)d;
        c->regs[R_EDX] = (uint32_t)(d >> 32);
        c->eflags &= ~X86_FL_ZF;
    }
    if (exclusive)
        vcpu_exclusive_end(c->v);
}

X86Handler x86_bind_alu(X86Insn *i)
{
    unsigned op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    unsigned vsize = x86_osize(i);
    if (op < 0x40 && (op & 7) < 6) {
        const X86Handler *f = alu_forms[op >> 3];
        switch (op & 7) {
        case 0: return f[form_index(0, 1, mem)];
        case 1: return f[form_index(0, vsize, mem)];
        case 2: return f[form_index(1, 1, mem)];
        case 3: return f[form_index(1, vsize, mem)];
        case 4: return f[18];
        default: return f[18 + vsize / 2 + (vsize == 4)];
        }
    }
    switch (op) {
    case 0x80: case 0x82:
        return alu_forms[i->reg][form_index(2, 1, mem)];
    case 0x81: case 0x83:
        return alu_forms[i->reg][form_index(2, vsize, mem)];
    case 0x40 ... 0x47:
        return vsize == 4 ? inc_r32 : inc_r16;
    case 0x48 ... 0x4f:
        return vsize == 4 ? dec_r32 : dec_r16;
    case 0xfe:
        return i->reg == 0 ? inc_e8 : i->reg == 1 ? dec_e8 : NULL;
    case 0xff:
        return i->reg == 0 ? inc_ev : i->reg == 1 ? dec_ev : NULL;
    case 0x84: case 0x85:
        return test_eg;
    case 0xa8: case 0xa9:
        return test_ai;
    case 0xf6: case 0xf7:
        switch (i->reg) {
        case 0: case 1: return test_ei; /* /1 is an alias of TEST on P6 */
        case 2: case 3: return not_neg;
        default: return mul_div;
        }
    case 0x69: case 0x6b: case 0x0faf:
        return imul_3;
    case 0x27: case 0x2f:
        return daa_das;
    case 0x37: case 0x3f:
        return aaa_aas;
    case 0xd4:
        return aam;
    case 0xd5:
        return aad;
    case 0xd6:
        return salc;
    case 0x98:
        return cbw;
    case 0x99:
        return cwd;
    case 0x0fc0: case 0x0fc1:
        return xadd;
    case 0x0fb0: case 0x0fb1:
        return cmpxchg;
    case 0x0fc7:
        return cmpxchg8b;
    }
    return NULL;
}
