/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shifts and rotates (group 2), SHLD/SHRD, the bit tests BT/BTS/BTR/BTC and the bit
 * scans BSF/BSR (SDM vol. 2). Where the SDM leaves a flag undefined the comment says
 * what is done. */
#include "cpu/x86/cpu-internal.h"

enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

/* Applies a group-2 operation; count already masked to 5 bits and non-zero. Returns
 * the result and updates the flags. */
static uint32_t shift_op(X86Cpu *c, unsigned op, unsigned size, uint32_t a, unsigned count)
{
    unsigned bits = size * 8;
    uint32_t m = x86_mask(size), sb = 1u << (bits - 1);
    /* Rotates keep SF ZF AF PF: they materialize the old flags once and change CF
     * and OF in place; shifts replace them all (lazily). */
    uint32_t f = 0;
    if (op <= SH_RCR) {
        x86_flags_sync(c);
        f = c->eflags & X86_FL_ARITH;
    }
    uint32_t r;
    bool cf;
    switch (op) {
    case SH_ROL: {
        unsigned n = count % bits;
        r = n ? ((a << n) | (a >> (bits - n))) & m : a;
        cf = r & 1;
        /* OF = MSB(result) XOR CF, for every count (P6). */
        f = (f & ~(X86_FL_CF | X86_FL_OF)) | (cf ? X86_FL_CF : 0) |
            (((r & sb) != 0) != cf ? X86_FL_OF : 0);
        c->eflags = (c->eflags & ~X86_FL_ARITH) | f;
        return r;
    }
    case SH_ROR: {
        unsigned n = count % bits;
        r = n ? ((a >> n) | (a << (bits - n))) & m : a;
        cf = r & sb;
        f = (f & ~(X86_FL_CF | X86_FL_OF)) | (cf ? X86_FL_CF : 0) |
            ((((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) ? X86_FL_OF : 0);
        c->eflags = (c->eflags & ~X86_FL_ARITH) | f;
        return r;
    }
    case SH_RCL: case SH_RCR: {
        unsigned n = count % (bits + 1);
        uint64_t v = a | ((uint64_t)((f & X86_FL_CF) ? 1 : 0) << bits); /* CF:a, bits+1 wide */
        uint64_t vm = (UINT64_C(1) << (bits + 1)) - 1;
        /* A count that is a multiple of bits+1 rotates nothing and keeps CF, but OF is
         * still computed from the result, as the 286 test vectors show (the SDM
         * leaves OF undefined for counts other than 1). */
        if (n && op == SH_RCL)
            v = ((v << n) | (v >> (bits + 1 - n))) & vm;
        else if (n)
            v = ((v >> n) | (v << (bits + 1 - n))) & vm;
        r = (uint32_t)v & m;
        cf = (v >> bits) & 1;
        bool of = op == SH_RCL ? (((r & sb) != 0) != cf) : ((((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) != 0);
        f = (f & ~(X86_FL_CF | X86_FL_OF)) | (cf ? X86_FL_CF : 0) | (of ? X86_FL_OF : 0);
        c->eflags = (c->eflags & ~X86_FL_ARITH) | f;
        return r;
    }
    case SH_SHL: case SH_SAL: {
        uint64_t v = (uint64_t)a << count;
        r = (uint32_t)v & m;
        cf = (v >> bits) & 1;
        /* OF = MSB(result) XOR CF, also for counts above 1; AF cleared. */
        x86_set_lazy(c, CC_OP(CC_SHIFT8, size), r, cf, ((r & sb) != 0) != cf);
        return r;
    }
    case SH_SHR: {
        r = count >= bits ? 0 : a >> count;
        cf = count - 1 < bits ? (a >> (count - 1)) & 1 : 0;
        /* OF = MSB of the operand before the last one-bit step: the original MSB for a
         * count of 1, else 0 (undefined in the SDM; what the 286 vectors show). */
        x86_set_lazy(c, CC_OP(CC_SHIFT8, size), r, cf, count == 1 && (a & sb));
        return r;
    }
    default: { /* SAR */
        int32_t s = (int32_t)x86_sext(a, size);
        unsigned n = count > 31 ? 31 : count;
        r = (uint32_t)(s >> n) & m;
        cf = (s >> (count - 1 > 31 ? 31 : count - 1)) & 1;
        x86_set_lazy(c, CC_OP(CC_SHIFT8, size), r, cf, 0);
        return r;
    }
    }
}

static unsigned shift_count(X86Cpu *c, const X86Insn *i)
{
    switch (i->opcode) {
    case 0xd0: case 0xd1: return 1;
    case 0xd2: case 0xd3: return c->regs[R_ECX] & 0x1f;
    default: return i->imm & 0x1f;
    }
}

static void group2(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    unsigned count = shift_count(c, i);
    if (!(i->pfx & X86_PFX_MEM)) {
        if (count)
            x86_set_reg(c, i->rm, size, shift_op(c, i->reg, size, x86_get_reg(c, i->rm, size), count));
        return;
    }
    X86Rmw w;
    uint32_t a = x86_rmw_begin(c, i->seg, x86_ea(c, i), size, &w);
    /* The write was checked by rmw_begin, so the flags may be set before it. */
    if (count)
        x86_rmw_end(c, &w, size, shift_op(c, i->reg, size, a, count));
}

/* Fast forms of the most common shifts by an immediate on registers. */
static void shl_r32_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned count = i->imm & 0x1f;
    if (count)
        c->regs[i->rm] = shift_op(c, SH_SHL, 4, c->regs[i->rm], count);
}
static void shr_r32_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned count = i->imm & 0x1f;
    if (count)
        c->regs[i->rm] = shift_op(c, SH_SHR, 4, c->regs[i->rm], count);
}

/* ---- SHLD / SHRD ---- */

static void shld_shrd(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    unsigned count = ((i->opcode & 1) ? c->regs[R_ECX] : i->imm) & 0x1f;
    bool left = i->opcode < 0x0fa8;
    uint32_t src = x86_get_reg(c, i->reg, size);
    X86Rmw w = { 0 };
    uint32_t d;
    bool mem = i->pfx & X86_PFX_MEM;
    if (mem)
        d = x86_rmw_begin(c, i->seg, x86_ea(c, i), size, &w);
    else
        d = x86_get_reg(c, i->rm, size);
    if (count == 0) {
        if (mem)
            x86_rmw_end(c, &w, size, d);
        return;
    }
    uint32_t r;
    bool cf;
    if (size == 4) {
        uint64_t v = left ? ((uint64_t)d << 32) | src : ((uint64_t)src << 32) | d;
        if (left) {
            r = (uint32_t)((v << count) >> 32);
            cf = (d >> (32 - count)) & 1;
        } else {
            r = (uint32_t)(v >> count);
            cf = (d >> (count - 1)) & 1;
        }
    } else {
        /* Counts above 16 are undefined; the P6 shifts the 48-bit pattern d:src:d,
         * which gives the defined result for counts up to 16. */
        uint64_t v = ((uint64_t)d << 32) | ((uint64_t)src << 16) | d;
        if (left) {
            r = (uint32_t)((v << count) >> 32) & 0xffff;
            cf = (v >> (48 - count)) & 1;
        } else {
            r = (uint32_t)(v >> count) & 0xffff;
            cf = (v >> (count - 1)) & 1;
        }
    }
    uint32_t sb = 1u << (size * 8 - 1);
    if (mem)
        x86_rmw_end(c, &w, size, r);
    else
        x86_set_reg(c, i->rm, size, r);
    /* OF: sign change, for every count. AF cleared. */
    x86_set_lazy(c, CC_OP(CC_SHIFT8, size), r, cf, ((r ^ d) & sb) != 0);
}

/* ---- BT, BTS, BTR, BTC ---- */

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

static unsigned bt_kind(const X86Insn *i)
{
    switch (i->opcode) {
    case 0x0fa3: return BT_TEST;
    case 0x0fab: return BT_SET;
    case 0x0fb3: return BT_RESET;
    case 0x0fbb: return BT_COMPLEMENT;
    default: return i->reg - 4; /* 0F BA /4-/7 */
    }
}

static uint32_t bt_apply(unsigned kind, uint32_t v, uint32_t bit)
{
    switch (kind) {
    case BT_SET: return v | bit;
    case BT_RESET: return v & ~bit;
    case BT_COMPLEMENT: return v ^ bit;
    default: return v;
    }
}

static void bit_test(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i), bits = size * 8;
    unsigned kind = bt_kind(i);
    bool imm = i->opcode == 0x0fba;
    uint32_t offset = imm ? i->imm : x86_get_reg(c, i->reg, size);
    uint32_t v, bit;
    bool cf;
    if (!(i->pfx & X86_PFX_MEM)) {
        bit = 1u << (offset & (bits - 1));
        v = x86_get_reg(c, i->rm, size);
        cf = v & bit;
        if (kind != BT_TEST)
            x86_set_reg(c, i->rm, size, bt_apply(kind, v, bit));
    } else {
        uint64_t ea = x86_ea(c, i);
        if (!imm) {
            /* The register offset is signed and may reach outside the operand. */
            int32_t so = (int32_t)x86_sext(offset, size);
            ea += (uint64_t)(int64_t)((so >> (size == 4 ? 5 : 4)) * (int32_t)size);
            if (!(i->pfx & X86_PFX_AD32))
                ea &= 0xffff;
        }
        bit = 1u << (offset & (bits - 1));
        if (kind == BT_TEST) {
            v = x86_read(c, i->seg, ea, size);
            cf = v & bit;
        } else {
            X86Rmw w;
            v = x86_rmw_begin_locked(c, i->seg, ea, size, &w, i->pfx & X86_PFX_LOCK);
            while (!x86_rmw_end(c, &w, size, bt_apply(kind, v, bit)))
                v = w.old;
            cf = v & bit;
        }
    }
    /* Only CF is defined; the other flags are left as they were. */
    x86_set_arith(c, cf ? X86_FL_CF : 0, X86_FL_CF);
}

/* ---- BSF / BSR ---- */

static void bit_scan(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t v = x86_get_rm(c, i, size);
    if (v == 0) {
        /* Destination left unchanged, as every P6 does. */
        x86_set_arith(c, X86_FL_ZF, X86_FL_ZF);
        return;
    }
    unsigned idx = i->opcode == 0x0fbc ? (unsigned)__builtin_ctz(v) : 31u - (unsigned)__builtin_clz(v);
    x86_set_reg(c, i->reg, size, idx);
    x86_set_arith(c, 0, X86_FL_ZF);
}

/* LZCNT (F3 0F BD): the count of leading zero bits, the operand size for zero; CF when
 * the source is zero, ZF when the result is (SDM vol. 2, LZCNT). A processor without
 * CPUID.80000001h:ECX.LZCNT[5] ignores the F3 and runs BSR, so the model decides here. */
static void lzcnt(X86Cpu *c, const X86Insn *i)
{
    if (!(c->model->ext_ecx & CPUID_EXT_ECX_ABM)) {
        bit_scan(c, i);
        return;
    }
    unsigned size = x86_osize(i), bits = size * 8;
    uint32_t v = x86_get_rm(c, i, size);
    unsigned n = v ? (unsigned)__builtin_clz(v) - (32 - bits) : bits;
    x86_set_reg(c, i->reg, size, n);
    /* OF, SF, AF and PF are undefined: left as they were. */
    x86_set_arith(c, (v ? 0 : X86_FL_CF) | (n ? 0 : X86_FL_ZF), X86_FL_ZF | X86_FL_CF);
}

/* POPCNT (F3 0F B8): ZF when the source is zero, the other arithmetic flags clear. */
static void bit_count(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t v = x86_get_rm(c, i, size);
    x86_set_reg(c, i->reg, size, (uint32_t)__builtin_popcount(v));
    x86_set_arith(c, v ? 0 : X86_FL_ZF,
                  X86_FL_OF | X86_FL_SF | X86_FL_ZF | X86_FL_AF | X86_FL_PF | X86_FL_CF);
}

X86Handler x86_bind_shift(X86Insn *i)
{
    switch (i->opcode) {
    case 0xc1:
        if (!(i->pfx & X86_PFX_MEM) && (i->pfx & X86_PFX_OP32)) {
            if (i->reg == SH_SHL || i->reg == SH_SAL)
                return shl_r32_imm;
            if (i->reg == SH_SHR)
                return shr_r32_imm;
        }
        return group2;
    case 0xc0: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        return group2;
    case 0x0fa4: case 0x0fa5: case 0x0fac: case 0x0fad:
        return shld_shrd;
    case 0x0fa3: case 0x0fab: case 0x0fb3: case 0x0fbb:
        return bit_test;
    case 0x0fba:
        return i->reg >= 4 ? bit_test : NULL;
    case 0x0fbd:
        return (i->pfx & X86_PFX_REP) ? lzcnt : bit_scan;
    case 0x0fbc:
        return bit_scan;
    case 0x0fb8: /* without F3: JMPE of IA-64 processors, #UD here */
        return (i->pfx & X86_PFX_REP) ? bit_count : NULL;
    }
    return NULL;
}
