/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Lazy arithmetic flags: the last flag-setting operation is kept as (op, result,
 * operands) and the flags are computed only when something reads them. Operands and
 * results are stored zero-extended to 32 bits, those of the 64-bit kinds whole. */
#include "cpu/x86/cpu-internal.h"

static inline unsigned cc_size(unsigned op)
{
    return 1u << ((op - 1) % 3);
}

static inline uint32_t sign_bit(unsigned size)
{
    return 1u << (size * 8 - 1);
}

/* Carry-in of an ADC/SBB recovered from its operands and result. */
static inline uint32_t adc_carry_in(const X86Cpu *c, unsigned size)
{
    return (c->cc_res - c->cc_src1 - c->cc_src2) & x86_mask(size);
}
static inline uint32_t sbb_carry_in(const X86Cpu *c, unsigned size)
{
    return (c->cc_src1 - c->cc_src2 - c->cc_res) & x86_mask(size);
}

static inline uint64_t cc64(uint32_t lo, uint32_t hi)
{
    return lo | (uint64_t)hi << 32;
}

/* The arithmetic flags of a 64-bit kind (SDM vol. 1, appendix A: ADD and SUB set all
 * six; AND, OR, XOR and TEST clear CF and OF, and AF, as P6-family processors do). */
static uint32_t flags64(const X86Cpu *c)
{
    uint64_t a = cc64(c->cc_src1, c->cc_src1_hi), b = cc64(c->cc_src2, c->cc_src2_hi), r;
    uint32_t f = 0;
    switch (c->cc_op) {
    case CC_ADD64:
        r = a + b;
        if (r < a)
            f |= X86_FL_CF;
        f |= (uint32_t)(a ^ b ^ r) & X86_FL_AF;
        if (((a ^ r) & (b ^ r)) >> 63)
            f |= X86_FL_OF;
        break;
    case CC_SUB64:
        r = a - b;
        if (a < b)
            f |= X86_FL_CF;
        f |= (uint32_t)(a ^ b ^ r) & X86_FL_AF;
        if (((a ^ b) & (a ^ r)) >> 63)
            f |= X86_FL_OF;
        break;
    default: /* CC_LOGIC64 */
        r = cc64(c->cc_res, c->cc_res_hi);
        break;
    }
    if (r == 0)
        f |= X86_FL_ZF;
    if (r >> 63)
        f |= X86_FL_SF;
    return f | x86_parity((uint32_t)r);
}

bool x86_flag_cf(const X86Cpu *c)
{
    unsigned op = c->cc_op;
    uint32_t a = c->cc_src1, b = c->cc_src2, r = c->cc_res;
    switch (op) {
    case CC_EAGER:
        return c->eflags & X86_FL_CF;
    case CC_ADD8: case CC_ADD16: case CC_ADD32:
        return r < a;
    case CC_ADC8: case CC_ADC16: case CC_ADC32:
        return adc_carry_in(c, cc_size(op)) ? r <= a : r < a;
    case CC_SUB8: case CC_SUB16: case CC_SUB32:
        return a < b;
    case CC_SBB8: case CC_SBB16: case CC_SBB32:
        return sbb_carry_in(c, cc_size(op)) ? a <= b : a < b;
    case CC_LOGIC8: case CC_LOGIC16: case CC_LOGIC32:
        return false;
    case CC_SHIFT8: case CC_SHIFT16: case CC_SHIFT32:
        return a & 1;
    case CC_ADD64: case CC_SUB64: case CC_LOGIC64:
        return flags64(c) & X86_FL_CF;
    default: /* INC, DEC keep CF */
        return c->eflags & X86_FL_CF;
    }
}

uint32_t x86_flags_arith(const X86Cpu *c)
{
    unsigned op = c->cc_op;
    if (op == CC_EAGER)
        return c->eflags & X86_FL_ARITH;
    if (op >= CC_ADD64)
        return flags64(c);
    unsigned size = cc_size(op);
    uint32_t a = c->cc_src1, b = c->cc_src2, r = c->cc_res;
    uint32_t sb = sign_bit(size);
    uint32_t f = x86_szp(r, size);
    if (x86_flag_cf(c))
        f |= X86_FL_CF;
    switch (op) {
    case CC_ADD8: case CC_ADD16: case CC_ADD32:
    case CC_ADC8: case CC_ADC16: case CC_ADC32:
        f |= (a ^ b ^ r) & X86_FL_AF;
        if ((a ^ r) & (b ^ r) & sb)
            f |= X86_FL_OF;
        break;
    case CC_SUB8: case CC_SUB16: case CC_SUB32:
    case CC_SBB8: case CC_SBB16: case CC_SBB32:
        f |= (a ^ b ^ r) & X86_FL_AF;
        if ((a ^ b) & (a ^ r) & sb)
            f |= X86_FL_OF;
        break;
    case CC_LOGIC8: case CC_LOGIC16: case CC_LOGIC32:
        /* AF is undefined; P6-family processors clear it. */
        break;
    case CC_INC8: case CC_INC16: case CC_INC32:
        if ((r & 0xf) == 0)
            f |= X86_FL_AF;
        if (r == sb)
            f |= X86_FL_OF;
        break;
    case CC_DEC8: case CC_DEC16: case CC_DEC32:
        if ((r & 0xf) == 0xf)
            f |= X86_FL_AF;
        if (r == sb - 1)
            f |= X86_FL_OF;
        break;
    case CC_SHIFT8: case CC_SHIFT16: case CC_SHIFT32:
        if (b & 1)
            f |= X86_FL_OF;
        break;
    }
    return f;
}

/* Conditions straight from the operands of the common producers (CMP, SUB, TEST,
 * AND...); everything else goes through the full flag computation. */
bool x86_cond(const X86Cpu *c, unsigned cc)
{
    unsigned op = c->cc_op;
    bool r;
    if (op >= CC_SUB8 && op <= CC_SUB32) {
        unsigned size = cc_size(op);
        uint32_t a = c->cc_src1, b = c->cc_src2;
        int32_t sa = (int32_t)x86_sext(a, size), sb = (int32_t)x86_sext(b, size);
        switch (cc >> 1) {
        case 1: r = a < b; goto done;            /* B */
        case 2: r = a == b; goto done;           /* Z */
        case 3: r = a <= b; goto done;           /* BE */
        case 6: r = sa < sb; goto done;          /* L */
        case 7: r = sa <= sb; goto done;         /* LE */
        default: break;
        }
    } else if (op >= CC_LOGIC8 && op <= CC_LOGIC32) {
        unsigned size = cc_size(op);
        int32_t s = (int32_t)x86_sext(c->cc_res, size);
        switch (cc >> 1) {
        case 0: r = false; goto done;            /* O */
        case 1: r = false; goto done;            /* B */
        case 2: r = c->cc_res == 0; goto done;   /* Z */
        case 3: r = c->cc_res == 0; goto done;   /* BE */
        case 4: r = s < 0; goto done;            /* S */
        case 6: r = s < 0; goto done;            /* L: SF != OF, OF = 0 */
        case 7: r = s <= 0; goto done;           /* LE */
        default: break;
        }
    }
    {
        uint32_t f = x86_get_eflags(c);
        switch (cc >> 1) {
        case 0: r = f & X86_FL_OF; break;
        case 1: r = f & X86_FL_CF; break;
        case 2: r = f & X86_FL_ZF; break;
        case 3: r = f & (X86_FL_CF | X86_FL_ZF); break;
        case 4: r = f & X86_FL_SF; break;
        case 5: r = f & X86_FL_PF; break;
        case 6: r = !(f & X86_FL_SF) != !(f & X86_FL_OF); break;
        default: r = (f & X86_FL_ZF) || (!(f & X86_FL_SF) != !(f & X86_FL_OF)); break;
        }
    }
done:
    return (cc & 1) ? !r : r;
}
