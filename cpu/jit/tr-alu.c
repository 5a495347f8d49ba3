/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's arithmetic forms: the lazy flags written as cpu/x86's alu.c and
 * shift.c write them, the host's own flags where the producer is known, conditions,
 * ALU/TEST/MOV, INC/DEC, shifts, IMUL, SETcc/CMOVcc, MOVZX/MOVSX, NOT/NEG, CBW/CWD,
 * XCHG (design in README.md, "Generated code"). */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>

/* Host CF = bit 0 of R13D (BT R13D, 0). */
static void emit_bt_r13(JitEmit *e)
{
    emit_op_rr(e, 4, 0x0fba, 4, H_R13);
    emit_u8(e, 0);
}

/* cc_op = cc, unless inline code of this block stored that already (known_cc is
 * what cc_op holds: handlers of the instructions with slow paths store the same). */
static void emit_cc_op(Tr *t, unsigned cc)
{
    if (t->known_cc != (int)cc)
        emit_store_imm(&t->e, 4, CPU(cc_op), cc);
    t->known_cc = (int)cc;
}

/* The lazy CC_SHIFT16 or CC_SHIFT32 state (flags.c) from host registers: SF ZF PF
 * from res, CF = bit 0 of cf, OF = bit 0 of of, AF 0 (shifts, IMUL's overflow). */
void jit_store_shift_flags(Tr *t, unsigned cc, int res, int cf, int of)
{
    JitEmit *e = &t->e;
    emit_store(e, 4, CPU(cc_res), res);
    emit_store(e, 4, CPU(cc_src1), cf);
    emit_store(e, 4, CPU(cc_src2), of);
    emit_cc_op(t, cc);
}

/* The cc_op family (its 8-bit member) of a host ALU op (CMP computed as SUB). */
static unsigned alu_cc_base(unsigned host)
{
    return host == ALU_ADD ? CC_ADD8 : host == ALU_SUB ? CC_SUB8 : host == ALU_ADC ? CC_ADC8
         : host == ALU_SBB ? CC_SBB8 : CC_LOGIC8;
}

/* AND, OR, XOR: their lazy flags are cc_res alone. Nothing reads cc_src1/src2 under
 * CC_LOGIC* (flags.c, and the translator's own flag forms), so inline code leaves the
 * sources unstored (alu.c's handlers store them): two stores fewer on each. */
static bool alu_logic(unsigned aluop)
{
    return aluop == ALU_AND || aluop == ALU_OR || aluop == ALU_XOR;
}

/* The lazy kind of a host ALU op (CMP computed as SUB) at 1, 2, 4 or 8 bytes (the
 * 64-bit kinds: ADD, SUB and logic ops only). */
static unsigned alu_cc(unsigned host, unsigned size)
{
    if (size == 8)
        return host == ALU_ADD ? CC_ADD64 : host == ALU_SUB ? CC_SUB64 : CC_LOGIC64;
    return CC_OP(alu_cc_base(host), size);
}

/* RAX = RAX op RCX with the lazy flags written as alu.c's handlers write them:
 * cc_src1/src2 the operands (not for alu_logic), cc_res the result (masked to size).
 * At 8 bytes (not ADC/SBB) one 8-byte store writes each operand or the result with
 * its upper half (cc_*_hi, flags.c's CC_ADD64, CC_SUB64, CC_LOGIC64), as exec64.c's
 * alu leaves them. */
void jit_emit_alu_flags(Tr *t, unsigned aluop, unsigned size)
{
    JitEmit *e = &t->e;
    bool carry = aluop == ALU_ADC || aluop == ALU_SBB;
    unsigned w = size == 8 ? 8 : 4;
    if (t->dead) {
        /* Nothing reads these flags: the lazy state stays as it was. */
        if (carry)
            emit_bt_r13(e);
        if (aluop != ALU_CMP)
            emit_alu_rr(e, w, aluop, H_RAX, H_RCX);
        return;
    }
    if (!alu_logic(aluop)) {
        emit_store(e, w, CPU(cc_src1), H_RAX);
        emit_store(e, w, CPU(cc_src2), H_RCX);
    }
    unsigned host = aluop == ALU_CMP ? ALU_SUB : aluop;
    if (carry)
        emit_bt_r13(e); /* CF in: jit_emit_cf_to_r13 ran before the operands */
    emit_alu_rr(e, w, host, H_RAX, H_RCX);
    if (size < 4 && (host == ALU_ADD || host == ALU_SUB || carry))
        emit_movzx(e, size, H_RAX, H_RAX);
    /* (Only moves follow. Narrower SUB/CMP and logic ops: on zero-extended operands
     * the host's CF, ZF and PF are the guest's, and AF; SF and OF are not, nor any
     * flag of an ADD, whose carry goes into bit 8 or 16.) */
    t->hflags_out = size >= 4 || (!carry && (host == ALU_SUB || alu_logic(host)));
    t->hflags_out_narrow = size < 4;
    if (size < 8 || alu_logic(host)) /* (CC_ADD64 and CC_SUB64 redo the result) */
        emit_store(e, w, CPU(cc_res), H_RAX);
    emit_cc_op(t, alu_cc(host, size));
}

/* TEST: result only (alu.c's test_* store sources 0, which nothing reads). RAX &= RCX. */
void jit_emit_test_flags(Tr *t, unsigned size)
{
    JitEmit *e = &t->e;
    unsigned w = size == 8 ? 8 : 4;
    if (t->dead)
        return;
    emit_alu_rr(e, w, ALU_AND, H_RAX, H_RCX);
    t->hflags_out = true;
    t->hflags_out_narrow = size < 4;
    emit_store(e, w, CPU(cc_res), H_RAX);
    emit_cc_op(t, alu_cc(ALU_AND, size));
}

/* Whether an ALU op is pure in the dead-flags sense: ADC/SBB read CF. */
bool jit_alu_pure(unsigned aluop)
{
    return aluop != ALU_ADC && aluop != ALU_SBB;
}

/* Whether the host's flags are the guest's for a reader that needs CF (need_cf) or
 * not: the producer was the previous instruction (t->hflags), and an INC/DEC (its
 * host ADD/SUB of 1 set a CF the guest's kept) only when CF is not needed, and an 8-
 * or 16-bit producer's only when SF and OF are not (need_so). Consumed either way:
 * what the reader emits next changes them. */
static bool hflags_take(Tr *t, bool need_cf, bool need_so)
{
    int kc = t->known_cc;
    bool ok = t->hflags && !(need_cf && kc >= CC_INC8 && kc <= CC_DEC32) && !(need_so && t->hflags_narrow);
    t->hflags = false;
    return ok;
}

/* (lea + cmp: whether ECX, a cc_op, is one of the three sizes of family base.) */
static size_t cc_family_not(JitEmit *e, unsigned base, unsigned count)
{
    emit_lea(e, 4, H_RDX, jm(H_RCX, -(int32_t)base));
    emit_alu_ri(e, 4, ALU_CMP, H_RDX, count - 1);
    return emit_jcc_fwd(e, HC_A);
}

/* EAX = the guest's CF (0/1) from the lazy state in memory, an unknown producer's:
 * x86_flag_cf's cases inline but for ADC/SBB, which call it (a block that starts
 * with INC ESI after the last one's CMP BYTE called it every iteration). When eflags
 * holds CF (CC_EAGER, INC/DEC) and in_eflags is not NULL, it is left there: the two
 * jumps to the caller's label go into in_eflags[0..1]. Clobbers RCX, RDX, the host
 * flags (and calling, the caller-saved registers). */
static void emit_cf_lazy(Tr *t, size_t *in_eflags)
{
    JitEmit *e = &t->e;
    emit_load(e, 4, H_RCX, CPU(cc_op));
    emit_test_rr(e, 4, H_RCX, H_RCX); /* CC_EAGER */
    size_t eager = emit_jcc_fwd(e, HC_E);
    size_t kept = cc_family_not(e, CC_INC8, CC_DEC32 - CC_INC8 + 1);
    size_t incdec = emit_jmp_fwd(e);
    emit_patch(e, kept, emit_pos(e));
    size_t not_sub = cc_family_not(e, CC_SUB8, 3);
    emit_load(e, 4, H_RAX, CPU(cc_src1)); /* SUB: src1 < src2 (operands zero-extended) */
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, CPU(cc_src2));
    size_t sub_b = emit_jmp_fwd(e);
    emit_patch(e, not_sub, emit_pos(e));
    size_t not_add = cc_family_not(e, CC_ADD8, 3);
    emit_load(e, 4, H_RAX, CPU(cc_res)); /* ADD: res < src1 */
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, CPU(cc_src1));
    size_t add_b = emit_jmp_fwd(e);
    emit_patch(e, not_add, emit_pos(e));
    size_t not_logic = cc_family_not(e, CC_LOGIC8, 3);
    emit_alu_rr(e, 4, ALU_XOR, H_RAX, H_RAX); /* logic: 0 (XOR clears CF) */
    emit_patch(e, sub_b, emit_pos(e));
    emit_patch(e, add_b, emit_pos(e));
    emit_setcc(e, HC_B, H_RAX);
    size_t done1 = emit_jmp_fwd(e);
    emit_patch(e, not_logic, emit_pos(e));
    size_t not_shift = cc_family_not(e, CC_SHIFT8, 3);
    emit_load(e, 4, H_RAX, CPU(cc_src1)); /* shifts: CF = src1 bit 0 */
    emit_alu_ri(e, 4, ALU_AND, H_RAX, 1);
    size_t done2 = emit_jmp_fwd(e);
    emit_patch(e, not_shift, emit_pos(e));
    emit_mov_rr(e, 8, H_RDI, H_RBX);
    jit_emit_helper(t, (const void *)x86_flag_cf);
    emit_movzx(e, 1, H_RAX, H_RAX);
    if (in_eflags) {
        in_eflags[0] = eager;
        in_eflags[1] = incdec;
    } else {
        size_t done3 = emit_jmp_fwd(e);
        emit_patch(e, eager, emit_pos(e));
        emit_patch(e, incdec, emit_pos(e));
        emit_load(e, 4, H_RAX, CPU(eflags));
        emit_alu_ri(e, 4, ALU_AND, H_RAX, X86_FL_CF);
        emit_patch(e, done3, emit_pos(e));
    }
    emit_patch(e, done1, emit_pos(e));
    emit_patch(e, done2, emit_pos(e));
}

/* R13D = the guest's CF (0/1) before an ADC/SBB, from the known producer or the
 * lazy state; R13 is callee-saved, so the operand fetch that follows keeps it. */
void jit_emit_cf_to_r13(Tr *t)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    if ((kc >= CC_LOGIC8 && kc <= CC_LOGIC32) || kc == CC_LOGIC64) {
        emit_mov_ri32(e, H_R13, 0);
        return;
    }
    bool incdec = kc >= CC_INC8 && kc <= CC_DEC32;
    if (hflags_take(t, true, false)) {
        emit_setcc(e, HC_B, H_RAX);
    } else if ((kc >= CC_ADD8 && kc <= CC_ADD32) || (kc >= CC_SUB8 && kc <= CC_SUB32) || kc == CC_ADD64 ||
               kc == CC_SUB64) {
        jit_emit_host_flags(t, (unsigned)kc);
        emit_setcc(e, HC_B, H_RAX);
    } else if (incdec || kc == CC_EAGER) {
        /* (INC/DEC keep CF in eflags: alu.c's inc_dec) */
        emit_load(e, 4, H_RAX, CPU(eflags));
        emit_alu_ri(e, 4, ALU_AND, H_RAX, X86_FL_CF);
    } else {
        emit_cf_lazy(t, NULL);
    }
    emit_mov_rr(e, 4, H_R13, H_RAX);
}

/* MOV of size bytes from src to dst, either of them a guest register's home (direct)
 * or memory: one host MOV when a home is on either side (a 32-bit load into a home
 * zero-extends as the register cache's 32-bit stores do; 8- and 16-bit loads would
 * zero-extend the home, so those go through ECX), else through ECX. */
static void mov_op(JitEmit *e, unsigned size, JitMem dst, JitMem src)
{
    if (dst.direct && size == 4) {
        emit_load(e, 4, dst.base, src);
    } else if (src.direct) {
        emit_store(e, size, dst, src.base);
    } else {
        emit_load(e, size, H_RCX, src);
        emit_store(e, size, dst, H_RCX);
    }
}

/* The operand of guest register r where host says (its home, or its slot). */
JitMem jit_pend_reg(const int8_t *host, int r)
{
    return host[r] >= 0 ? jreg(host[r]) : greg_mem(4, (unsigned)r);
}

void jit_flags_store(Tr *t, const FlagPend *p, const int8_t *host)
{
    JitEmit *e = &t->e;
    if (p->kind == PEND_INCDEC64) {
        jit_incdec64_store(t, p, host);
        return;
    }
    if (p->kind == PEND_SHIFT32) {
        jit_shift32_store(t, p, host);
        return;
    }
    if (p->kind == PEND_INCDEC32) {
        /* Through ECX alone: a loop's exit stores them with the next EIP in EAX. */
        emit_load(e, 4, H_RCX, jit_pend_reg(host, p->r));
        emit_store(e, 4, CPU(cc_res), H_RCX);
        emit_lea(e, 4, H_RCX, jm(H_RCX, p->dec ? 1 : -1));
        emit_store(e, 4, CPU(cc_src1), H_RCX);
        emit_store_imm(e, 4, CPU(cc_src2), 1);
        emit_store_imm(e, 4, CPU(cc_op), p->cc);
        return;
    }
    /* EAX = r, ECX = s (or the immediate); then what alu.c's handler would have
     * stored, by MOV, NOT and LEA only: the host flags may be the producer's still. */
    emit_load(e, 4, H_RAX, jit_pend_reg(host, p->r));
    if (p->kind != PEND_LOGIC) {
        if (p->s < 0)
            emit_mov_ri32(e, H_RCX, p->imm);
        else
            emit_load(e, 4, H_RCX, jit_pend_reg(host, p->s));
        emit_store(e, 4, CPU(cc_src2), H_RCX);
    }
    switch (p->kind) {
    case PEND_LOGIC:
        emit_store(e, 4, CPU(cc_res), H_RAX);
        break;
    case PEND_SUB: /* src1 = res + src2 */
        emit_store(e, 4, CPU(cc_res), H_RAX);
        emit_lea(e, 4, H_RCX, jmx(H_RAX, H_RCX, 0));
        emit_store(e, 4, CPU(cc_src1), H_RCX);
        break;
    case PEND_ADD: /* src1 = res - src2 */
    case PEND_CMP: /* res = src1 - src2 */
        emit_store(e, 4, p->kind == PEND_ADD ? CPU(cc_res) : CPU(cc_src1), H_RAX);
        emit_op_rr(e, 4, 0xf7, 2, H_RCX); /* NOT ECX */
        emit_lea(e, 4, H_RCX, (JitMem){ H_RAX, H_RCX, 0, 1 });
        emit_store(e, 4, p->kind == PEND_ADD ? CPU(cc_src1) : CPU(cc_res), H_RCX);
        break;
    }
    emit_store_imm(e, 4, CPU(cc_op), p->cc);
}

void jit_flags_flush(Tr *t)
{
    if (!t->pend.kind)
        return;
    FlagPend p = t->pend;
    t->pend.kind = PEND_NONE;
    jit_flags_store(t, &p, t->rc.host);
    t->known_cc = p.cc;
}

/* Deferred flags for a 32-bit op on guest register gd with guest register gs (-1:
 * the immediate v) when the instruction after k keeps them (jit_pend_keeps): only
 * the host op is emitted. ADD and SUB rebuild their first operand from the result,
 * so not when gs is gd. */
static bool alu_defer(Tr *t, unsigned k, unsigned op, int gd, int gs, uint32_t v)
{
    if (!(t->j->inline_mask & IN_DEFERFLAGS) || t->w64)
        return false;
    FlagPend p = { PEND_NONE, 0, (int8_t)gd, (int8_t)gs, v, k, 0, false, -1 };
    if (alu_logic(op))
        p.kind = PEND_LOGIC, p.cc = CC_OP(CC_LOGIC8, 4);
    else if (op == ALU_CMP)
        p.kind = PEND_CMP, p.cc = CC_OP(CC_SUB8, 4);
    else if ((op == ALU_ADD || op == ALU_SUB) && gs != gd)
        p.kind = op == ALU_ADD ? PEND_ADD : PEND_SUB, p.cc = CC_OP(op == ALU_ADD ? CC_ADD8 : CC_SUB8, 4);
    if (!p.kind || !jit_pend_keeps(t, &p, k + 1))
        return false;
    t->pend = p;
    t->known_cc = -1; /* (slow paths on the way store cc_op) */
    return true;
}

/* The host op at size (4, or 8 in 64-bit code) on home rd with source register src
 * (H_NONE: the immediate v, sign-extended at 8), the lazy flags stored from both as
 * jit_emit_alu_flags stores them unless dead or deferred (gd, gs: the guest registers
 * of rd and src, gs -1 for the immediate, -2 for a value of no register); CMP
 * computes its result in EAX (rd may be RAX itself). Not ADC/SBB at 8 (their flags
 * are eager there). */
void jit_alu_on_home(Tr *t, unsigned k, unsigned op, unsigned size, int rd, int src, uint32_t v, int gd, int gs)
{
    JitEmit *e = &t->e;
    bool carry = op == ALU_ADC || op == ALU_SBB, cmp = op == ALU_CMP;
    int dst = rd;
    if (!t->dead && gs != -2 && size == 4 && alu_defer(t, k, op, gd, gs, v)) {
        if (!cmp) {
            if (src == H_NONE)
                emit_alu_ri(e, 4, op, rd, v);
            else
                emit_alu_rr(e, 4, op, rd, src);
            t->hflags_out = true; /* (for an INC/DEC right after: its CF) */
        }
        return;
    }
    if (!t->dead) {
        if (!alu_logic(op)) {
            emit_store(e, size, CPU(cc_src1), rd);
            if (src == H_NONE)
                emit_store_imm(e, size, CPU(cc_src2), v);
            else
                emit_store(e, size, CPU(cc_src2), src);
        }
        if (cmp) {
            if (rd != H_RAX)
                emit_mov_rr(e, size, H_RAX, rd);
            dst = H_RAX;
        }
    } else if (cmp) {
        return; /* nothing reads what it computes */
    }
    if (carry)
        emit_bt_r13(e); /* CF in: jit_emit_cf_to_r13 ran before the operands */
    unsigned host = cmp ? ALU_SUB : op;
    if (src == H_NONE)
        emit_alu_ri(e, size, host, dst, v);
    else
        emit_alu_rr(e, size, host, dst, src);
    if (t->dead)
        return;
    t->hflags_out = true; /* (only moves follow) */
    if (size < 8 || alu_logic(host)) /* (CC_ADD64 and CC_SUB64 redo the result) */
        emit_store(e, size, CPU(cc_res), dst);
    emit_cc_op(t, alu_cc(host, size));
}

/* A 32-bit ALU op or CMP on a register its home holds: the host instruction on the
 * home itself (CMP: on a copy in EAX) with the source's home or the immediate, the
 * lazy flags stored from those as jit_emit_alu_flags stores them from EAX and ECX
 * (so the host flags after it are the producer's, as there). False when the
 * destination is not at home; nothing is emitted then. */
static bool alu_home(Tr *t, const X86Insn *i, unsigned op, unsigned kind, unsigned dst)
{
    JitEmit *e = &t->e;
    bool cmp = op == ALU_CMP;
    int src = H_NONE;
    JitMem m = { 0 };
    if (kind != 2)
        m = greg(t, 4, kind == 1 ? i->rm : i->reg);
    JitMem d = cmp ? gread(t, 4, dst) : greg(t, 4, dst);
    if (!d.direct)
        return false;
    if (kind != 2) {
        src = H_RCX;
        if (m.direct)
            src = m.base;
        else
            emit_load(e, 4, H_RCX, m);
    }
    jit_alu_on_home(t, (unsigned)(i - t->insns), op, 4, d.base, src, i->imm, (int)dst,
                kind == 2 ? -1 : (int)(kind == 1 ? i->rm : i->reg));
    return true;
}

/* ALU, TEST and MOV between registers, memory and immediates. kind: 0 E,G  1 G,E
 * 2 E,imm. op: an ALU op, or -1 for MOV, -2 for TEST. */
bool jit_tr_binop(Tr *t, unsigned k, int op, unsigned kind, unsigned size)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    bool mem = i->pfx & X86_PFX_MEM;
    bool mov = op == -1, test = op == -2, cmp = op == ALU_CMP;
    if (op == ALU_ADC || op == ALU_SBB)
        jit_emit_cf_to_r13(t);
    if (!mem) {
        unsigned dst = kind == 1 ? i->reg : i->rm;
        if (mov) {
            if (kind == 2) {
                emit_store_imm(e, size, greg(t, size, dst), i->imm & mask_of(size));
            } else {
                JitMem src = greg(t, size, kind == 1 ? i->rm : i->reg);
                mov_op(e, size, greg(t, size, dst), src);
            }
            return true;
        }
        if (t->dead && !test && !cmp) {
            /* Flags unread: one host instruction on the guest register (its home or
             * its slot), the source's home as its operand when it has one. */
            bool carry = op == ALU_ADC || op == ALU_SBB;
            int src = H_RCX;
            if (kind != 2) {
                JitMem m = greg(t, size, kind == 1 ? i->rm : i->reg);
                if (m.direct)
                    src = m.base;
                else
                    emit_load(e, size, H_RCX, m);
            }
            if (carry)
                emit_bt_r13(e);
            if (kind == 2)
                emit_alu_mi(e, size, (unsigned)op, greg(t, size, dst), i->imm & mask_of(size));
            else
                emit_op_rm(e, size, ((unsigned)op << 3) | (size == 1 ? 0u : 1u), src, greg(t, size, dst));
            return true;
        }
        if (size == 4 && !test && alu_home(t, i, (unsigned)op, kind, dst))
            return true;
        emit_load(e, size, H_RAX, greg(t, size, dst));
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, kind == 1 ? i->rm : i->reg));
        if (test) {
            jit_emit_test_flags(t, size);
            return true;
        }
        jit_emit_alu_flags(t, (unsigned)op, size);
        if (!cmp)
            emit_store(e, size, greg(t, size, dst), H_RAX);
        return true;
    }
    Stub *s = jit_stub_new(t, k);
    if (kind == 1) {
        /* reg op= [mem], MOV reg, [mem] */
        JitMem m = jit_emit_probe(t, s, i, size, SEG_OK_READ, false);
        if (mov) {
            mov_op(e, size, greg(t, size, i->reg), m);
        } else if (size == 4 && (cmp ? gread(t, 4, i->reg) : greg(t, 4, i->reg)).direct) {
            /* reg op= [mem] (CMP reg, [mem]) on the home (alu_home) */
            emit_load(e, 4, H_RCX, m);
            jit_alu_on_home(t, k, (unsigned)op, 4, gread(t, 4, i->reg).base, H_RCX, 0, (int)i->reg, -2);
        } else {
            emit_load(e, size, H_RCX, m);
            emit_load(e, size, H_RAX, greg(t, size, i->reg));
            jit_emit_alu_flags(t, (unsigned)op, size);
            if (!cmp)
                emit_store(e, size, greg(t, size, i->reg), H_RAX);
        }
    } else if (mov) {
        JitMem m = jit_emit_probe(t, s, i, size, SEG_OK_WRITE, true);
        if (kind == 2) {
            emit_store_imm(e, size, m, i->imm & mask_of(size));
        } else {
            mov_op(e, size, m, greg(t, size, i->reg));
        }
    } else if (cmp || test) {
        JitMem m = jit_emit_probe(t, s, i, size, SEG_OK_READ, false);
        emit_load(e, size, H_RDX, m);
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, i->reg));
        emit_mov_rr(e, 4, H_RAX, H_RDX);
        if (test)
            jit_emit_test_flags(t, size);
        else
            jit_emit_alu_flags(t, (unsigned)op, size);
    } else {
        /* Read-modify-write through the write translation (x86_rmw_begin). */
        JitMem m = jit_emit_probe(t, s, i, size, SEG_OK_READ | SEG_OK_WRITE, true);
        emit_lea(e, 8, H_RSI, m);
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, i->reg));
        emit_load(e, size, H_RAX, jm(H_RSI, 0));
        jit_emit_alu_flags(t, (unsigned)op, size);
        emit_store(e, size, jm(H_RSI, 0), H_RAX);
    }
    s->resume = emit_pos(e);
    return true;
}

/* eflags.CF = EAX (0/1). whole_byte (a register's INC/DEC): eflags' low byte in one
 * store, with no load of it (a loop's read-modify-write of eflags chained its
 * iterations through memory). While cc_op is not CC_EAGER the byte's arithmetic bits
 * mean nothing but INC/DEC's CF, and its other bits are fixed: 1 set, 3 and 5 clear
 * (x86_write_eflags); the cc_op store follows with nothing that can fault between. */
static void store_cf(JitEmit *e, bool whole_byte)
{
    if (whole_byte) {
        emit_alu_ri(e, 4, ALU_OR, H_RAX, X86_FL_FIXED);
        emit_store(e, 1, CPU(eflags), H_RAX);
    } else {
        emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~X86_FL_CF);
        emit_op_rm(e, 4, 0x09, H_RAX, CPU(eflags)); /* OR [eflags], EAX */
    }
}

/* Whether the INC/DEC of a 32-bit register at k may leave its flags to the ways out
 * of the loop it closes: the next and last instruction is a Jcc back to the block's
 * entry that reads no CF (the host's ADD/SUB of 1 sets one the guest's INC/DEC
 * keeps), and the block writes every flag before it may read one or fault, so that
 * going round again needs none of them. */
static bool incdec_sinks(const Tr *t, unsigned k, unsigned size)
{
    if (t->w64 || size != 4 || k + 2 != t->n || t->live_in || !(t->j->inline_mask & IN_DEFERFLAGS) ||
        !(t->j->inline_mask & IN_HOSTFLAGS))
        return false;
    const X86Insn *b = &t->insns[k + 1];
    unsigned op = b->opcode;
    if (!((op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f)) || !(b->pfx & X86_PFX_OP32))
        return false;
    unsigned c2 = (op & 0xf) >> 1;
    return c2 != 1 && c2 != 3 && (int32_t)(t->off[k + 2] + b->imm) == 0;
}

/* INC/DEC of a register: CF moves into eflags first (alu.c's inc_dec). */
bool jit_tr_incdec(Tr *t, unsigned k, int r, unsigned size, bool dec)
{
    JitEmit *e = &t->e;
    /* Flags deferred by the producer just before (jit_pend_keeps): a register's
     * INC/DEC takes CF from its host flags and stores all of cc_op, cc_src1/2 and
     * cc_res itself, so they are never stored. Otherwise they are stored first. */
    bool pend_cf = t->pend.kind && t->pend.kind != PEND_CMP && t->pend.k + 1 == k && t->hflags;
    if (t->pend.kind && (t->dead || r < 0 || !pend_cf))
        jit_flags_flush(t);
    else if (t->pend.kind)
        t->known_cc = t->pend.cc, t->pend.kind = PEND_NONE;
    int kc = t->known_cc;
    bool cf_zero = kc >= CC_LOGIC8 && kc <= CC_LOGIC32;
    bool cf_kept = (kc >= CC_INC8 && kc <= CC_DEC32) || kc == CC_EAGER;
    if (t->dead && r >= 0) {
        emit_alu_mi(e, size, dec ? ALU_SUB : ALU_ADD, greg(t, size, (unsigned)r), 1);
        return true;
    }
    /* (For a memory operand this comes before the probe: it only moves CF into
     * eflags where the lazy state already says what it is, as the handler does.) */
    bool hcf = (t->hflags && (kc == CC_ADD32 || kc == CC_ADC32 || kc == CC_SUB32 || kc == CC_SBB32)) ||
               (kc >= CC_ADD8 && kc <= CC_ADD32) || (kc >= CC_SUB8 && kc <= CC_SUB32);
    if (cf_zero) {
        emit_mov_ri32(e, H_RAX, 0);
        store_cf(e, r >= 0);
    } else if (hcf) {
        /* A known ADD/SUB producer: its CF from the host's flags (the producer's own
         * host instruction's when still live, else recomputed), no helper call. */
        if (!t->hflags)
            jit_emit_host_flags(t, (unsigned)kc);
        t->hflags = false;
        emit_setcc(e, HC_B, H_RAX);
        store_cf(e, r >= 0);
    } else if (!cf_kept) {
        /* CF is in eflags already when the last producer was INC/DEC or eager. */
        size_t in_eflags[2];
        emit_cf_lazy(t, in_eflags);
        store_cf(e, r >= 0);
        emit_patch(e, in_eflags[0], emit_pos(e));
        emit_patch(e, in_eflags[1], emit_pos(e));
    }
    Stub *s = NULL;
    JitMem m;
    if (r >= 0) {
        m = greg(t, size, (unsigned)r);
    } else {
        /* Read-modify-write through the write translation (x86_rmw_begin). */
        s = jit_stub_new(t, k);
        emit_lea(e, 8, H_RSI, jit_emit_probe(t, s, &t->insns[k], size, SEG_OK_READ | SEG_OK_WRITE, true));
        m = jm(H_RSI, 0);
    }
    if (r >= 0 && incdec_sinks(t, k, size)) {
        /* The loop's counter: its lazy flags only where the loop is left (PEND_INCDEC32;
         * the Jcc reads the host's). */
        emit_alu_mi(e, 4, dec ? ALU_SUB : ALU_ADD, m, 1);
        t->pend = (FlagPend){ PEND_INCDEC32, (uint8_t)(dec ? CC_DEC32 : CC_INC32), (int8_t)r, -1, 0, k, 4, dec, -1 };
        t->known_cc = dec ? CC_DEC32 : CC_INC32;
        t->hflags_out = true;
        return true;
    }
    emit_load(e, size, H_RAX, m);
    emit_store(e, 4, CPU(cc_src1), H_RAX);
    emit_store_imm(e, 4, CPU(cc_src2), 1);
    emit_alu_ri(e, 4, dec ? ALU_SUB : ALU_ADD, H_RAX, 1);
    if (size < 4)
        emit_movzx(e, size, H_RAX, H_RAX);
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_cc_op(t, dec ? CC_OP(CC_DEC8, size) : CC_OP(CC_INC8, size));
    emit_store(e, size, m, H_RAX);
    if (s)
        s->resume = emit_pos(e);
    /* A register's DEC; JNZ: the loop's branch takes ZF from the host's SUB above (only
     * moves since), not from the lazy state reloaded and recomputed (jit_emit_cond). */
    t->hflags_out = size == 4 && r >= 0;
    return true;
}

bool jit_tr_lea(Tr *t, const X86Insn *i)
{
    jit_emit_ea(t, i);
    unsigned size = x86_osize(i);
    emit_store(&t->e, size, greg(t, size, i->reg), H_RAX);
    return true;
}

static void sync_flags(X86Cpu *c)
{
    x86_flags_sync(c);
}

/* The host flags of lazy state cc (ADD/SUB/LOGIC of any size), recomputed from the
 * operands: the same ISA gives the guest's flags (LOGIC: AF is undefined on the host,
 * the caller clears it). Clobbers ECX. */
bool jit_host_flags_known(int cc)
{
    return (cc >= CC_ADD8 && cc <= CC_ADD32) || (cc >= CC_SUB8 && cc <= CC_SUB32) ||
           (cc >= CC_LOGIC8 && cc <= CC_LOGIC32) || cc >= CC_ADD64;
}

void jit_emit_host_flags(Tr *t, unsigned cc)
{
    JitEmit *e = &t->e;
    if (cc >= CC_ADD64) {
        /* (Whole operands: each 8-byte slot is the lower half and cc_*_hi.) */
        if (cc == CC_LOGIC64) {
            emit_load(e, 8, H_RCX, CPU(cc_res));
            emit_test_rr(e, 8, H_RCX, H_RCX);
        } else {
            emit_load(e, 8, H_RCX, CPU(cc_src1));
            emit_alu_rm(e, 8, cc == CC_SUB64 ? ALU_CMP : ALU_ADD, H_RCX, CPU(cc_src2));
        }
    } else if (cc >= CC_LOGIC8 && cc <= CC_LOGIC32) {
        unsigned size = 1u << (cc - CC_LOGIC8);
        emit_load(e, 4, H_RCX, CPU(cc_res));
        emit_test_rr(e, size, H_RCX, H_RCX);
    } else {
        bool sub = cc >= CC_SUB8 && cc <= CC_SUB32;
        unsigned size = 1u << (cc - (sub ? CC_SUB8 : CC_ADD8));
        emit_load(e, 4, H_RCX, CPU(cc_src1));
        emit_alu_rm(e, size, sub ? ALU_CMP : ALU_ADD, H_RCX, CPU(cc_src2));
    }
}

/* eflags |= the host's arithmetic flags (AF dropped for LOGIC), cc_op = EAGER. */
void jit_emit_take_host_flags(Tr *t, bool logic)
{
    JitEmit *e = &t->e;
    emit_u8(e, 0x9c); /* PUSHFQ */
    emit_pop(e, H_RCX);
    emit_alu_ri(e, 4, ALU_AND, H_RCX, logic ? X86_FL_ARITH & ~X86_FL_AF : X86_FL_ARITH);
    emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~(uint32_t)X86_FL_ARITH);
    emit_op_rm(e, 4, 0x09, H_RCX, CPU(eflags)); /* OR [eflags], ECX */
    emit_store_imm(e, 4, CPU(cc_op), CC_EAGER);
}

/* x86_flags_sync inline: the lazy flags into eflags, on the host's own flags for the
 * common producers (known at translation time, or told apart at run time for the
 * 32-bit ones), through flags.c otherwise. */
static void emit_materialize(Tr *t)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    if (jit_host_flags_known(kc)) {
        jit_emit_host_flags(t, (unsigned)kc);
        jit_emit_take_host_flags(t, (kc >= CC_LOGIC8 && kc <= CC_LOGIC32) || kc == CC_LOGIC64);
        return;
    }
    static const unsigned common[] = { CC_SUB32, CC_ADD32, CC_LOGIC32 };
    size_t done[4];
    emit_alu_mi(e, 4, ALU_CMP, CPU(cc_op), CC_EAGER);
    done[0] = emit_jcc_fwd(e, HC_E);
    for (unsigned k = 0; k < 3; k++) {
        emit_alu_mi(e, 4, ALU_CMP, CPU(cc_op), common[k]);
        size_t next = emit_jcc_fwd(e, HC_NE);
        jit_emit_host_flags(t, common[k]);
        jit_emit_take_host_flags(t, common[k] == CC_LOGIC32);
        done[k + 1] = emit_jmp_fwd(e);
        emit_patch(e, next, emit_pos(e));
    }
    emit_mov_rr(e, 8, H_RDI, H_RBX);
    jit_emit_helper(t, (const void *)sync_flags);
    for (unsigned k = 0; k < 4; k++)
        emit_patch(e, done[k], emit_pos(e));
}

/* Group 2 by an immediate on a 32-bit register (shift.c's shift_op): the host's
 * shift gives the result and CF; OF as the interpreter defines it for every count. */
/* size 4, or 2 for SHL/SHR/SAR by fewer than 16 (beyond, the host's CF is undefined
 * where shift.c follows the 286). */
static bool tr_shift_to(Tr *t, const X86Insn *i, unsigned count, JitMem dst, unsigned size)
{
    JitEmit *e = &t->e;
    unsigned op = i->reg;
    unsigned msb = size * 8 - 1;
    if (!count)
        return true; /* no operation, flags untouched */
    if (t->dead) {
        emit_op_rm(e, size, 0xc1, op == 6 ? 4 : (int)op, dst); /* (/6 is SHL's undocumented alias) */
        emit_u8(e, (uint8_t)count);
        return true;
    }
    if (op == 0 || op == 1) {
        /* ROL/ROR keep SF ZF AF PF: materialize them, then set CF and OF; unless
         * later inline code replaces them before anything reads them (ROR; DEC). */
        if (t->known_cc != CC_EAGER && (t->live_out & X86_FL_ARITH & ~(uint32_t)(X86_FL_CF | X86_FL_OF)))
            emit_materialize(t);
        emit_load(e, 4, H_RAX, dst);
        emit_shift_ri(e, 4, op, H_RAX, count);
        emit_store(e, 4, dst, H_RAX);
        jit_emit_rot_flags(e, 4, 31, op == 1);
        emit_store_imm(e, 4, CPU(cc_op), CC_EAGER);
        t->known_cc = CC_EAGER;
        return true;
    }
    /* SHL/SAL, SHR, SAR: CC_SHIFT16/32 with src1 = CF, src2 = OF. */
    emit_load(e, size, H_RAX, dst); /* (zero-extended) */
    if (op == 5 && count == 1) {
        emit_mov_rr(e, 4, H_RDX, H_RAX);
        emit_shift_ri(e, 4, 5, H_RDX, msb);
    }
    emit_shift_ri(e, size, op == 6 ? 4 : op, H_RAX, count);
    emit_setcc(e, HC_B, H_RCX);
    emit_store(e, size, dst, H_RAX);
    if (op == 4 || op == 6) {
        emit_mov_rr(e, 4, H_RDX, H_RAX);
        emit_shift_ri(e, 4, 5, H_RDX, msb);
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
    } else if (!(op == 5 && count == 1)) {
        emit_mov_ri32(e, H_RDX, 0);
    }
    jit_store_shift_flags(t, size == 2 ? CC_SHIFT16 : CC_SHIFT32, H_RAX, H_RCX, H_RDX);
    return true;
}

/* CF and OF of a ROL (ror false) or ROR whose result is in RAX, into eflags (SDM vol.
 * 2, RCL/RCR/ROL/ROR): ROL: CF = bit 0, OF = the MSB (bit msb) ^ CF; ROR: CF = the MSB,
 * OF = the MSB ^ the next bit. w: the width of the host shifts (RAX holds the result
 * zero-extended to w bytes). Clobbers RCX, RDX. */
void jit_emit_rot_flags(JitEmit *e, unsigned w, unsigned msb, bool ror)
{
    emit_mov_rr(e, w, H_RCX, H_RAX);
    emit_mov_rr(e, w, H_RDX, H_RAX);
    if (!ror) {
        emit_shift_ri(e, w, 5, H_RDX, msb);   /* RDX = MSB */
        emit_alu_ri(e, 4, ALU_AND, H_RCX, 1); /* CF = bit 0 */
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
    } else {
        emit_shift_ri(e, w, 5, H_RCX, msb);     /* CF = MSB */
        emit_shift_ri(e, w, 5, H_RDX, msb - 1); /* MSB:next */
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
        emit_alu_ri(e, 4, ALU_AND, H_RDX, 1);
    }
    emit_shift_ri(e, 4, 4, H_RDX, 11); /* OF is bit 11, CF bit 0 */
    emit_alu_rr(e, 4, ALU_OR, H_RCX, H_RDX);
    emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~(uint32_t)(X86_FL_CF | X86_FL_OF));
    emit_op_rm(e, 4, 0x09, H_RCX, CPU(eflags)); /* OR [eflags], ECX */
}

/* The operand size a shift by count compiles inline at, or 0: 32-bit, or 16-bit
 * SHL/SHR/SAR by fewer than 16. */
static unsigned shift_size(const X86Insn *i, unsigned count)
{
    unsigned size = x86_osize(i);
    if (i->reg == 2 || i->reg == 3)
        return 0;
    if (size == 4)
        return 4;
    return size == 2 && i->reg >= 4 && count < 16 ? 2 : 0;
}

bool jit_tr_shift(Tr *t, const X86Insn *i, unsigned count)
{
    unsigned size = shift_size(i, count);
    return size && tr_shift_to(t, i, count, greg(t, size, i->rm), size);
}

/* SHL/SHR/SAR of a memory operand by an immediate or one (shift_size): the same on
 * the host address a read-write probe gave (in RSI, which the shift leaves alone). A
 * count of 0 keeps its handler (the access and its faults without a change). */
bool jit_tr_shift_mem(Tr *t, unsigned k, unsigned count)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = shift_size(i, count);
    if (!size || i->reg < 4 || !count)
        return false;
    Stub *s = jit_stub_new(t, k);
    emit_lea(e, 8, H_RSI, jit_emit_probe(t, s, i, size, SEG_OK_READ | SEG_OK_WRITE, true));
    tr_shift_to(t, i, count, jm(H_RSI, 0), size);
    s->resume = emit_pos(e);
    return true;
}

/* SHL/SAL, SHR, SAR of a 32-bit register by CL (shift.c's group2): a count of zero
 * (CL & 31) changes nothing, not even the flags, so what the lazy state holds
 * afterwards is known only at run time. */
bool jit_tr_shift_cl(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    unsigned op = i->reg == 6 ? 4 : i->reg;
    JitMem dst = greg(t, 4, i->rm);
    emit_load(e, 4, H_RCX, greg(t, 4, R_ECX));
    emit_alu_ri(e, 4, ALU_AND, H_RCX, 31);
    size_t skip = emit_jcc_fwd(e, HC_E);
    emit_load(e, 4, H_RAX, dst);
    if (op == 5) {
        /* OF: the original MSB for a count of 1, else 0 */
        emit_mov_ri32(e, H_RDX, 0);
        emit_alu_ri(e, 4, ALU_CMP, H_RCX, 1);
        size_t not_one = emit_jcc_fwd(e, HC_NE);
        emit_mov_rr(e, 4, H_RDX, H_RAX);
        emit_shift_ri(e, 4, 5, H_RDX, 31);
        emit_patch(e, not_one, emit_pos(e));
    }
    emit_op_rr(e, 4, 0xd3, (int)op, H_RAX); /* shift EAX by CL */
    emit_setcc(e, HC_B, H_R13);
    emit_store(e, 4, dst, H_RAX);
    if (op == 4) {
        emit_mov_rr(e, 4, H_RDX, H_RAX);
        emit_shift_ri(e, 4, 5, H_RDX, 31);
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_R13);
    } else if (op == 7) {
        emit_mov_ri32(e, H_RDX, 0);
    }
    jit_store_shift_flags(t, CC_SHIFT32, H_RAX, H_R13, H_RDX);
    emit_patch(e, skip, emit_pos(e));
    t->known_cc = -1; /* (unchanged on the count-0 way) */
    return true;
}

/* IMUL r32, r/m32(register)[, imm] (alu.c's imul_3): the low half, and CF = OF =
 * whether the signed product overflowed, kept as CC_SHIFT32 with both sources. */
bool jit_tr_imul(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    emit_load(e, 4, H_RAX, greg(t, 4, i->rm));
    if (i->opcode == 0x0faf) {
        emit_op_rm(e, 4, 0x0faf, H_RAX, greg(t, 4, i->reg));
    } else {
        emit_op_rr(e, 4, 0x69, H_RAX, H_RAX);
        emit_u32(e, i->imm);
    }
    emit_store(e, 4, greg(t, 4, i->reg), H_RAX);
    if (t->dead)
        return true;
    emit_setcc(e, HC_O, H_RCX);
    jit_store_shift_flags(t, CC_SHIFT32, H_RAX, H_RCX, H_RCX);
    return true;
}


/* Host flags for guest condition cc (SDM vol. 1, B.1), returning the host
 * condition to test: when the flags' producer is known, the same host instruction
 * on its saved operands; otherwise x86_cond. Clobbers RAX (and, calling, the
 * caller-saved registers). */
unsigned jit_emit_cond(Tr *t, unsigned cc)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    bool incdec = kc >= CC_INC8 && kc <= CC_DEC32;
    bool reads_cf = (cc >> 1) == 1 || (cc >> 1) == 3; /* B, BE, AE, A */
    bool reads_so = (cc >> 1) == 0 || (cc >> 1) == 4 || (cc >> 1) >= 6; /* O, S, L, LE and their negations */
    if (hflags_take(t, reads_cf, reads_so))
        return cc; /* the producer was the previous instruction: its host flags */
    if (kc >= CC_SUB8 && kc <= CC_SUB32) {
        /* The host's CMP of the same operands gives the guest's flags. */
        unsigned size = 1u << (kc - CC_SUB8);
        emit_load(e, 4, H_RAX, CPU(cc_src1));
        emit_alu_rm(e, size, ALU_CMP, H_RAX, CPU(cc_src2));
    } else if (kc >= CC_ADD8 && kc <= CC_ADD32) {
        unsigned size = 1u << (kc - CC_ADD8);
        emit_load(e, 4, H_RAX, CPU(cc_src1));
        emit_alu_rm(e, size, ALU_ADD, H_RAX, CPU(cc_src2));
    } else if (kc >= CC_LOGIC8 && kc <= CC_LOGIC32) {
        unsigned size = 1u << (kc - CC_LOGIC8);
        emit_load(e, 4, H_RAX, CPU(cc_res));
        emit_test_rr(e, size, H_RAX, H_RAX);
    } else if (kc >= CC_ADD64) {
        jit_emit_host_flags(t, (unsigned)kc);
    } else if (incdec && !reads_cf) {
        /* INC/DEC: the host's ADD/SUB of 1 gives every flag but CF, which these
         * conditions do not read. */
        bool dec = kc >= CC_DEC8;
        unsigned size = 1u << (kc - (dec ? CC_DEC8 : CC_INC8));
        emit_load(e, 4, H_RAX, CPU(cc_src1));
        emit_op_rr(e, size, size == 1 ? 0x80 : 0x83, dec ? ALU_SUB : ALU_ADD, H_RAX);
        emit_u8(e, 1);
    } else if (kc == CC_EAGER) {
        /* The flags are in eflags (64-bit code's producers, tr-64.c): SAHF takes SF
         * ZF AF PF CF from its low byte, laid out as AH; OF, for the conditions
         * that read it, from ADD AL, 7Fh overflowing for AL = 1. */
        unsigned c2 = cc >> 1;
        if (c2 == 0 || c2 == 6 || c2 == 7) {
            emit_load(e, 1, H_RAX, CPU_AT(eflags, 1));
            emit_shift_ri(e, 4, 5, H_RAX, 3);
            emit_alu_ri(e, 4, ALU_AND, H_RAX, 1);
            emit_u8(e, 0x04); /* ADD AL, 7Fh */
            emit_u8(e, 0x7f);
        }
        emit_u8(e, 0x8a); /* MOV AH, [RBX + eflags] (no REX: AH) */
        emit_u8(e, 0x80 | (4 << 3) | H_RBX);
        emit_u32(e, (uint32_t)offsetof(X86Cpu, eflags));
        emit_u8(e, 0x9e); /* SAHF */
    } else {
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        emit_mov_ri32(e, H_RSI, cc);
        jit_emit_helper(t, (const void *)x86_cond);
        emit_test_rr(e, 1, H_RAX, H_RAX);
        return HC_NE;
    }
    return cc;
}

/* SETcc r8, CMOVcc r, r (move.c's setcc, cmov; register operands only). */
bool jit_tr_setcc_cmov(Tr *t, const X86Insn *i, bool set)
{
    JitEmit *e = &t->e;
    unsigned hc = jit_emit_cond(t, i->opcode & 0xf);
    if (set) {
        emit_setcc(e, hc, H_RAX);
        emit_store(e, 1, greg(t, 1, i->rm), H_RAX);
        return true;
    }
    unsigned size = x86_osize(i);
    size_t skip = emit_jcc_fwd(e, hc ^ 1);
    emit_load(e, size, H_RCX, greg(t, size, i->rm));
    emit_store(e, size, greg(t, size, i->reg), H_RCX);
    emit_patch(e, skip, emit_pos(e));
    return true;
}

/* MOVZX/MOVSX r, r/m8 or r/m16 (move.c's movzx_sx), memory through the probe. */
bool jit_tr_movx(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned from = (i->opcode & 1) ? 2 : 1, size = x86_osize(i);
    unsigned op = i->opcode >= 0x0fbe ? (from == 1 ? 0x0fbe : 0x0fbf) : (from == 1 ? 0x0fb6 : 0x0fb7);
    Stub *s = NULL;
    JitMem m;
    if (i->pfx & X86_PFX_MEM) {
        s = jit_stub_new(t, k);
        m = jit_emit_probe(t, s, i, from, SEG_OK_READ, false);
    } else {
        m = greg(t, from, i->rm);
    }
    emit_op_rm(e, 4, op, H_RCX, m);
    emit_store(e, size, greg(t, size, i->reg), H_RCX);
    if (s)
        s->resume = emit_pos(e);
    return true;
}

/* NOT / NEG of a register (alu.c's not_neg: NEG is SUB from 0). */
bool jit_tr_notneg(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    if (i->reg == 2) {
        emit_op_rm(e, size, size == 1 ? 0xf6 : 0xf7, 2, greg(t, size, i->rm));
        return true;
    }
    emit_mov_ri32(e, H_RAX, 0);
    emit_load(e, size, H_RCX, greg(t, size, i->rm));
    jit_emit_alu_flags(t, ALU_SUB, size);
    emit_store(e, size, greg(t, size, i->rm), H_RAX);
    return true;
}

/* CBW/CWDE, CWD/CDQ (alu.c's cbw, cwd). */
bool jit_tr_cbw_cwd(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    bool o32 = i->pfx & X86_PFX_OP32;
    if (i->opcode == 0x98) {
        emit_op_rm(e, 4, o32 ? 0x0fbf : 0x0fbe, H_RAX, greg(t, o32 ? 2 : 1, R_EAX));
        emit_store(e, o32 ? 4 : 2, greg(t, 4, R_EAX), H_RAX);
    } else {
        emit_op_rm(e, 4, o32 ? 0x8b : 0x0fbf, H_RAX, greg(t, o32 ? 4 : 2, R_EAX));
        emit_op_rr(e, 4, 0xc1, 7, H_RAX); /* SAR EAX, 31 */
        emit_u8(e, 31);
        emit_store(e, o32 ? 4 : 2, greg(t, 4, R_EDX), H_RAX);
    }
    return true;
}

/* XCHG between registers (move.c's xchg_eg, xchg_acc); the memory form locks and
 * stays a handler. */
bool jit_tr_xchg(Tr *t, unsigned a, unsigned b, unsigned size)
{
    JitEmit *e = &t->e;
    emit_load(e, size, H_RAX, greg(t, size, a));
    emit_load(e, size, H_RCX, greg(t, size, b));
    emit_store(e, size, greg(t, size, a), H_RCX);
    emit_store(e, size, greg(t, size, b), H_RAX);
    return true;
}

/* DIV r/m32 (alu.c's mul_div): EDX:EAX / the source, quotient to EAX, remainder to
 * EDX, the flags untouched (as the handler leaves them). A zero divisor or a quotient
 * beyond 32 bits (EDX >= divisor) takes the slow path, whose handler raises #DE;
 * nothing is written before those tests, and the host's DIV then cannot fault. */
bool jit_tr_div(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
    if (i->pfx & X86_PFX_MEM)
        emit_load(e, 4, H_RCX, jit_emit_probe(t, s, i, 4, SEG_OK_READ, false));
    else
        emit_load(e, 4, H_RCX, gread(t, 4, i->rm));
    emit_load(e, 4, H_RDX, gread(t, 4, R_EDX));
    emit_test_rr(e, 4, H_RCX, H_RCX);
    jit_stub_jcc(t, s, HC_E);
    emit_alu_rr(e, 4, ALU_CMP, H_RDX, H_RCX);
    jit_stub_jcc(t, s, HC_AE);
    emit_load(e, 4, H_RAX, gread(t, 4, R_EAX));
    emit_op_rr(e, 4, 0xf7, 6, H_RCX); /* DIV ECX */
    emit_store(e, 4, greg(t, 4, R_EAX), H_RAX);
    emit_store(e, 4, greg(t, 4, R_EDX), H_RDX);
    s->resume = emit_pos(e);
    return true;
}
