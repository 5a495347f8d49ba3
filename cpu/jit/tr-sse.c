/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SSE forms on XMM registers compiled inline, in 32- and 64-bit code: the moves, the
 * SSE2 integer and bitwise operations, PSHUFD, the shifts by an immediate, PMOVMSKB,
 * and (where the host has them) SSSE3's byte operations and SSE4's PTEST and
 * PCMPISTRI. The guest's XMM registers stay in X86Cpu.fpu.xmm; an instruction loads
 * its operands into the host's XMM0 and XMM1, runs the same host instruction (these
 * compute the same bits on any host that has them, SDM vol. 2) and stores the result
 * back. MMX forms, floating-point arithmetic (MXCSR, exceptions) and the rest call
 * their handlers (simd.c, simd-sse4.c). */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>

static JitMem xmm_slot(unsigned r, unsigned byte)
{
    return jm(H_RBX, (int32_t)(offsetof(X86Cpu, fpu.xmm) + sizeof(XmmReg) * r + byte));
}

/* Host XMM register x = guest XMM register r, and back. */
static void xmm_load(JitEmit *e, int x, unsigned r)
{
    emit_sse(e, 0xf3, false, 0x0f6f, x, xmm_slot(r, 0)); /* MOVDQU */
}

static void xmm_store(JitEmit *e, unsigned r, int x)
{
    emit_sse(e, 0xf3, false, 0x0f7f, x, xmm_slot(r, 0));
}

/* The host instructions beyond SSE2 this CPU has (the guest's model may list them
 * without the host having them: then their handlers run). */
static bool host_has(unsigned level)
{
    static int ssse3 = -1, sse41, sse42;
    if (ssse3 < 0) {
        __builtin_cpu_init();
        sse41 = __builtin_cpu_supports("sse4.1");
        sse42 = __builtin_cpu_supports("sse4.2");
        ssse3 = __builtin_cpu_supports("ssse3");
    }
    return level == 3 ? ssse3 : level == 41 ? sse41 : sse42;
}

/* simd_check_sse inline: CR0.EM and CR0.TS clear and CR4.OSFXSR set, else the slow
 * path's handler raises #UD or #NM. Once a block until a handler runs (only handlers
 * write CR0 and CR4, and a task switch's TS). */
static void sse_check(Tr *t, Stub *s)
{
    JitEmit *e = &t->e;
    if (t->sse_ok)
        return;
    emit_load(e, 4, H_RCX, CPU(cr0));
    emit_alu_ri(e, 4, ALU_AND, H_RCX, X86_CR0_EM | X86_CR0_TS);
    jit_stub_jcc(t, s, HC_NE);
    emit_load(e, 4, H_RCX, CPU(cr4));
    emit_alu_ri(e, 4, ALU_AND, H_RCX, X86_CR4_OSFXSR);
    jit_stub_jcc(t, s, HC_E);
    t->sse_ok = true;
}

/* Instruction k's memory operand of size bytes through the probe: [RSI + RAX] with
 * RAX the linear address. aligned: a 16-byte operand that must be 16-byte aligned
 * (legacy SSE, SDM vol. 1, 4.1.1; m128_ea tests the linear address); a misaligned one
 * takes the slow path, whose handler raises #GP(0). False: not inline. */
static bool sse_mem(Tr *t, Stub *s, unsigned k, unsigned size, bool write, bool aligned, JitMem *m)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    if (t->w64) {
        if (!jit_emit_probe64(t, s, k, size, write, m))
            return false;
    } else {
        *m = jit_emit_probe(t, s, i, size, write ? SEG_OK_WRITE : SEG_OK_READ, write);
    }
    if (aligned) {
        emit_u8(e, 0xa8); /* TEST AL, 15 */
        emit_u8(e, 0x0f);
        jit_stub_jcc(t, s, HC_NE);
    }
    return true;
}

/* Host XMM1 = the r/m operand (16 bytes: a register or aligned memory). */
static bool src_to_xmm1(Tr *t, Stub *s, unsigned k, bool aligned)
{
    const X86Insn *i = &t->insns[k];
    if (!(i->pfx & X86_PFX_MEM)) {
        xmm_load(&t->e, 1, i->rm);
        return true;
    }
    JitMem m;
    if (!sse_mem(t, s, k, 16, false, aligned, &m))
        return false;
    emit_sse(&t->e, 0xf3, false, 0x0f6f, 1, m);
    return true;
}

/* The host's pfx hop XMM0, XMM1 [, imm8] with XMM0 = ModRM.reg's XMM register and
 * XMM1 = the r/m operand (16 bytes, aligned: see sse_mem): the two-operand forms,
 * after the mode test. False: not inline. */
static bool xmm_op(Tr *t, Stub *s, unsigned k, uint8_t pfx, uint32_t hop, bool aligned, bool imm)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    sse_check(t, s);
    if (!src_to_xmm1(t, s, k, aligned))
        return false;
    xmm_load(e, 0, i->reg);
    emit_sse(e, pfx, false, hop, 0, jreg(1));
    if (imm)
        emit_u8(e, (uint8_t)i->imm);
    return true;
}

/* The low size bytes of XMM register r to instruction k's memory operand (false: not
 * inline); loaded after the probe, which clobbers RCX. */
static bool low_to_mem(Tr *t, Stub *s, unsigned k, unsigned r, unsigned size)
{
    JitMem m;
    if (!sse_mem(t, s, k, size, true, false, &m))
        return false;
    emit_load(&t->e, size, H_RCX, xmm_slot(r, 0));
    emit_store(&t->e, size, m, H_RCX);
    return true;
}

/* XMM register r = RCX, zero-extended to 128 bits. */
static void xmm_from_rcx(JitEmit *e, unsigned r)
{
    emit_store(e, 8, xmm_slot(r, 0), H_RCX);
    emit_store_imm(e, 8, xmm_slot(r, 8), 0);
}

/* The SSE2 integer operations 66 0F xx whose host instruction computes the guest's
 * result from the same two operands: unpacks and packs, compares, shifts by an XMM
 * count, additions and subtractions (wrapping and saturating), multiplications,
 * minimum/maximum, averages, PSADBW, and the bitwise operations. */
static bool sse2_binop(unsigned op)
{
    switch (op) {
    case 0x0f60 ... 0x0f6d: case 0x0f74 ... 0x0f76:
    case 0x0fd1 ... 0x0fd5: case 0x0fd8 ... 0x0fdf:
    case 0x0fe0 ... 0x0fe5: case 0x0fe8 ... 0x0fef:
    case 0x0ff1 ... 0x0ff6: case 0x0ff8 ... 0x0ffe:
        return true;
    }
    return false;
}

/* The same among the 0F 38 map's (66 prefix): SSSE3's PSHUFB, horizontal sums,
 * PMADDUBSW, PMULHRSW, PSIGN, PABS; SSE4.1's PMULDQ, PCMPEQQ, PACKUSDW, minimum and
 * maximum, PMULLD; SSE4.2's PCMPGTQ. The host level they need, or 0. */
static unsigned three_byte_binop(unsigned op)
{
    switch (op) {
    case 0x3800 ... 0x380b: case 0x381c ... 0x381e:
        return 3;
    case 0x3828: case 0x3829: case 0x382b: case 0x3838 ... 0x3840:
        return 41;
    case 0x3837:
        return 42;
    }
    return 0;
}

/* The guest's arithmetic flags from the host's after PTEST or PCMPISTRI, which
 * define all six (AF and PF zero, and for PTEST SF and OF too). */
static void flags_from_host(Tr *t)
{
    jit_emit_take_host_flags(t, false);
    t->known_cc = CC_EAGER;
}

bool jit_tr_sse(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned op = i->opcode, p = simd_prefix(i);
    bool mem = i->pfx & X86_PFX_MEM;
    if (!(t->j->inline_mask & IN_SSE))
        return false;
    Stub *s = jit_stub_new(t, k);
    JitMem m;
    switch (op) {
    case 0x0f10: case 0x0f28: /* MOVUPS/MOVUPD, MOVAPS/MOVAPD xmm, xmm/m128 */
    case 0x0f6f: /* MOVDQA (66), MOVDQU (F3) */
        if (op == 0x0f6f ? p != P_66 && p != P_F3 : p != P_NONE && p != P_66)
            return false;
        sse_check(t, s);
        if (!src_to_xmm1(t, s, k, op == 0x0f28 || (op == 0x0f6f && p == P_66)))
            return false;
        xmm_store(e, i->reg, 1);
        break;
    case 0x0f11: case 0x0f29: /* MOVUPS/MOVUPD, MOVAPS/MOVAPD xmm/m128, xmm */
    case 0x0f2b: /* MOVNTPS/MOVNTPD m128, xmm */
    case 0x0f7f: /* MOVDQA (66), MOVDQU (F3) */
    case 0x0fe7: /* 66: MOVNTDQ m128, xmm */
        if (op == 0x0f7f ? p != P_66 && p != P_F3 : op == 0x0fe7 ? p != P_66 : p != P_NONE && p != P_66)
            return false;
        if ((op == 0x0fe7 || op == 0x0f2b) && !mem)
            return false;
        sse_check(t, s);
        if (!mem) {
            xmm_load(e, 1, i->reg);
            xmm_store(e, i->rm, 1);
            break;
        }
        if (!sse_mem(t, s, k, 16, true, op != 0x0f11 && !(op == 0x0f7f && p == P_F3), &m))
            return false;
        xmm_load(e, 1, i->reg);
        emit_sse(e, 0xf3, false, 0x0f7f, 1, m);
        break;
    case 0x0f7e: /* F3: MOVQ xmm, xmm/m64; 66: MOVD/MOVQ r/m32/64, xmm */
        if (p == P_F3) {
            sse_check(t, s);
            if (mem) {
                if (!sse_mem(t, s, k, 8, false, false, &m))
                    return false;
                emit_load(e, 8, H_RCX, m);
            } else {
                emit_load(e, 8, H_RCX, xmm_slot(i->rm, 0));
            }
            xmm_from_rcx(e, i->reg);
            break;
        }
        if (p != P_66)
            return false;
        {
            unsigned size = (i->rex & 8) ? 8 : 4;
            sse_check(t, s);
            if (mem) {
                if (!low_to_mem(t, s, k, i->reg, size))
                    return false;
            } else {
                /* (A 32-bit write zero-extends in 64-bit code: the whole slot.) */
                emit_load(e, size, H_RCX, xmm_slot(i->reg, 0));
                emit_store(e, t->w64 ? 8 : 4, greg(t, t->w64 ? 8 : 4, i->rm), H_RCX);
            }
        }
        break;
    case 0x0f6e: { /* 66: MOVD/MOVQ xmm, r/m32/64 (the rest zeroed) */
        if (p != P_66)
            return false;
        unsigned size = (i->rex & 8) ? 8 : 4;
        sse_check(t, s);
        if (mem) {
            if (!sse_mem(t, s, k, size, false, false, &m))
                return false;
            emit_load(e, size, H_RCX, m);
        } else {
            emit_load(e, size, H_RCX, gread(t, size, i->rm));
        }
        xmm_from_rcx(e, i->reg);
        break;
    }
    case 0x0fd6: /* 66: MOVQ xmm/m64, xmm (a register destination's upper half zeroed) */
        if (p != P_66)
            return false;
        sse_check(t, s);
        if (mem) {
            if (!low_to_mem(t, s, k, i->reg, 8))
                return false;
        } else {
            emit_load(e, 8, H_RCX, xmm_slot(i->reg, 0));
            xmm_from_rcx(e, i->rm);
        }
        break;
    case 0x0fd7: /* 66: PMOVMSKB r32, xmm */
        if (p != P_66 || mem)
            return false;
        sse_check(t, s);
        xmm_load(e, 0, i->rm);
        emit_sse(e, 0x66, false, 0x0fd7, H_RCX, jreg(0));
        emit_store(e, t->w64 ? 8 : 4, greg(t, t->w64 ? 8 : 4, i->reg), H_RCX);
        break;
    case 0x0f54 ... 0x0f57: /* ANDPS, ANDNPS, ORPS, XORPS (and the PD forms) */
        if (p != P_NONE && p != P_66)
            return false;
        if (!xmm_op(t, s, k, 0, op, true, false))
            return false;
        xmm_store(e, i->reg, 0);
        break;
    case 0x0f70: /* 66: PSHUFD, F3: PSHUFHW, F2: PSHUFLW xmm, xmm/m128, imm8 */
        if (p == P_NONE)
            return false;
        sse_check(t, s);
        if (!src_to_xmm1(t, s, k, true))
            return false;
        emit_sse(e, p == P_66 ? 0x66 : p == P_F3 ? 0xf3 : 0xf2, false, 0x0f70, 0, jreg(1));
        emit_u8(e, (uint8_t)i->imm);
        xmm_store(e, i->reg, 0);
        break;
    case 0x0f71: case 0x0f72: case 0x0f73: { /* 66: shifts of an XMM register by imm8 */
        static const uint8_t subs[3] = { 0x54, 0x54, 0xcc }; /* the valid /digits: 2 4 6 | 2 3 6 7 */
        unsigned digit = i->reg & 7; /* (REX.R does not extend an opcode's /digit) */
        if (p != P_66 || mem || !(subs[op - 0x0f71] >> digit & 1))
            return false;
        sse_check(t, s);
        xmm_load(e, 0, i->rm);
        emit_sse(e, 0x66, false, op, (int)digit, jreg(0));
        emit_u8(e, (uint8_t)i->imm);
        xmm_store(e, i->rm, 0);
        break;
    }
    case 0x3a0f: /* 66: PALIGNR xmm, xmm/m128, imm8 (SSSE3) */
        if (p != P_66 || !host_has(3))
            return false;
        if (!xmm_op(t, s, k, 0x66, 0x0f3a0f, true, true))
            return false;
        xmm_store(e, i->reg, 0);
        break;
    case 0x3817: /* 66: PTEST xmm, xmm/m128 (SSE4.1): ZF, CF; the others cleared */
        if (p != P_66 || !host_has(41))
            return false;
        if (!xmm_op(t, s, k, 0x66, 0x0f3817, true, false))
            return false;
        flags_from_host(t);
        break;
    case 0x3a63: /* 66: PCMPISTRI xmm, xmm/m128, imm8 (SSE4.2): ECX and the flags */
        if (p != P_66 || !host_has(42))
            return false;
        if (!xmm_op(t, s, k, 0x66, 0x0f3a63, false, true))
            return false;
        emit_mov_rr(e, 4, H_RCX, H_RCX); /* (ECX zero-extended into the whole slot) */
        emit_store(e, t->w64 ? 8 : 4, greg(t, t->w64 ? 8 : 4, R_ECX), H_RCX);
        flags_from_host(t);
        break;
    default: {
        unsigned level = (op >> 8) == 0x38 ? three_byte_binop(op) : 0;
        if (p != P_66 || !(sse2_binop(op) || (level && host_has(level))))
            return false;
        if (!xmm_op(t, s, k, 0x66, level ? 0x0f0000u | op : op, true, false))
            return false;
        xmm_store(e, i->reg, 0);
        break;
    }
    }
    s->resume = emit_pos(e);
    return true;
}
