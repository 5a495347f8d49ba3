/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's forms for 64-bit code (issue 18; design in README.md, "Long
 * mode"): operand sizes 32 and 64 (a 32-bit result zero-extends into the whole
 * register, SDM vol. 1, 3.4.1.1), R8-R15, RIP-relative and 64-bit effective
 * addresses with the canonical check (a non-canonical address takes the slow path,
 * whose handler raises #GP(0) or #SS(0), SDM vol. 3, 3.3.7.1), the 64-bit stack and
 * 64-bit RIP. What is not here calls its handler (exec64.c's, or the legacy one
 * x86_bind64 chose), as for 32-bit code.
 *
 * Flags: 32-bit operations keep the lazy form alu.c's handlers (which x86_bind64
 * uses for them in 64-bit mode) write. 64-bit ADD, SUB, CMP and logic ops keep
 * the 64-bit lazy kinds (CC_ADD64...: whole operands in cc_src1/
 * cc_src1_hi and so on, as exec64.c's alu); the other 64-bit ones store the host's own flags into
 * eflags (cc_op = CC_EAGER), as exec64.c's handlers do. */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static unsigned osize64(const X86Insn *i)
{
    return (i->flags & X86_INSN_OP64) ? 8 : (i->pfx & X86_PFX_OP32) ? 4 : 2;
}

/* Host register h = guest register r (size 4 zero-extended, or 8). */
static void rd(Tr *t, unsigned size, int h, unsigned r)
{
    emit_load(&t->e, size, h, gread(t, size, r));
}

/* Guest register r = host register h: for 32 and 64 bits the whole slot, since a
 * 32-bit result zero-extends (h holds it zero-extended: every 32-bit host operation
 * does that); 8- and 16-bit results leave the rest of the register. */
static void wr_size(Tr *t, unsigned size, unsigned r, int h)
{
    if (size >= 4)
        emit_store(&t->e, 8, greg(t, 8, r), h);
    else
        emit_store(&t->e, size, greg(t, size, r), h);
}

static void wr(Tr *t, unsigned r, int h)
{
    wr_size(t, 8, r, h);
}

/* Where a 32- or 64-bit result for guest register r is made: its home, written in
 * place (a 32-bit host operation zero-extends it as the guest's does), or RCX for
 * R8-R15, which wr_home then stores (at size bytes: whole for 4 and 8). */
static int dst_home(Tr *t, unsigned r)
{
    JitMem d = greg(t, 8, r);
    return d.direct ? d.base : H_RCX;
}

static void wr_home(Tr *t, unsigned size, unsigned r, int h)
{
    if (h == H_RCX)
        wr_size(t, size, r, H_RCX);
}

static uint32_t mask_size(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* Host CF = bit 0 of R13D (BT R13D, 0). */
static void bt_r13(JitEmit *e)
{
    emit_op_rr(e, 4, 0x0fba, 4, H_R13);
    emit_u8(e, 0);
}

/* eflags' arithmetic bits = ECX (the others kept), cc_op = CC_EAGER. */
static void store_eager(Tr *t)
{
    JitEmit *e = &t->e;
    emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~(uint32_t)X86_FL_ARITH);
    emit_op_rm(e, 4, 0x09, H_RCX, CPU(eflags)); /* OR [eflags], ECX */
    if (t->known_cc != CC_EAGER)
        emit_store_imm(e, 4, CPU(cc_op), CC_EAGER);
    t->known_cc = CC_EAGER;
}

/* ECX = the host's arithmetic flags in EFLAGS' layout, ANDed with mask: LAHF lays
 * SF ZF AF PF CF out as EFLAGS' low byte, SETO gives OF (bit 11) when with_of.
 * PUSHFQ cost about 1 ns more per use on this host (tens of millions of uses in a
 * Linux kit run). RAX is kept; clobbers RDX when with_of. */
static void host_flags_to_ecx(JitEmit *e, uint32_t mask, bool with_of)
{
    if (with_of)
        emit_op_rr(e, 1, 0x0f90 | HC_O, 0, H_RDX); /* SETO DL */
    emit_mov_rr(e, 8, H_RCX, H_RAX);
    emit_u8(e, 0x9f); /* LAHF (AH) */
    emit_u8(e, 0x0f); /* MOVZX EAX, AH (no REX: AH) */
    emit_u8(e, 0xb6);
    emit_u8(e, 0xc4);
    if (with_of) {
        emit_movzx(e, 1, H_RDX, H_RDX);
        emit_shift_ri(e, 4, 4, H_RDX, 11);
        emit_alu_rr(e, 4, ALU_OR, H_RAX, H_RDX);
    }
    emit_alu_ri(e, 4, ALU_AND, H_RAX, mask);
    emit_u8(e, 0x48); /* XCHG RAX, RCX: the result back in RAX */
    emit_u8(e, 0x91);
}

/* The host's arithmetic flags as the guest's (ADC, SBB, INC/DEC and NEG define all
 * of them alike on both; the logic ops, whose AF the host leaves undefined, are
 * lazy). Clobbers RCX, RDX. */
static void host_flags_eager(Tr *t)
{
    if (t->dead)
        return;
    host_flags_to_ecx(&t->e, X86_FL_ARITH, true);
    store_eager(t);
}

/* RCX = the sign-extended immediate of a 64-bit operation, or the 32-bit one. */
static void imm_to_rcx(JitEmit *e, unsigned size, uint32_t imm)
{
    if (size == 8)
        emit_mov_ri64(e, H_RCX, (uint64_t)(int64_t)(int32_t)imm);
    else
        emit_mov_ri32(e, H_RCX, imm & mask_size(size));
}

/* Host register dst = the effective address of instruction k's memory operand,
 * w bytes of it (the address size, or 4 for LEA's 32-bit results: the low half
 * zero-extended): RIP-relative (the next instruction's RIP + disp), or base + index
 * * scale + disp in 64 bits, or in 32 bits zero-extended with 67h. Clobbers RAX and
 * RCX (a base or index not at home). False: a RIP-relative displacement the host's
 * LEA cannot add in one step (the instruction then calls its handler). */
static bool ea64_to(Tr *t, unsigned k, int dst, unsigned w)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    int32_t disp = (int32_t)i->disp;
    t->hflags = false;
    if (i->flags & X86_INSN_RIPREL) {
        int64_t d = (int64_t)t->off[k + 1] + disp;
        if (d < INT32_MIN || d > INT32_MAX)
            return false;
        eip_to_reg_w(t, w, dst, (int32_t)d);
        return true;
    }
    bool b = i->base != R_ZERO, x = i->index != R_ZERO;
    int hb, hx;
    jit_emit_ea_regs(t, i, 8, &hb, &hx);
    if (b && !x && !disp && w == 8) {
        if (hb != dst)
            emit_mov_rr(e, 8, dst, hb); /* (a move the host may do by renaming) */
    }
    else if (b || x)
        emit_lea(e, w, dst, (JitMem){ hb, hx, x ? i->scale : 0, disp });
    else if (w == 8)
        emit_mov_ri64(e, dst, (uint64_t)(int64_t)disp);
    else
        emit_mov_ri32(e, dst, (uint32_t)disp);
    return true;
}

/* RAX = the effective address at the address size (ea64_to). */
static bool ea64(Tr *t, unsigned k)
{
    return ea64_to(t, k, H_RAX, (t->insns[k].flags & X86_INSN_AD64) ? 8 : 4);
}

/* The inline probe for 64-bit code with RAX = the offset in segment segno: only FS
 * and GS have a base and no segment checks apply (SDM vol. 3, 3.2.4); the TLB entry
 * of the current privilege must map the whole access (its tag is the whole 64-bit
 * page). The linear address must be canonical (bits 63:47 alike, else the slow
 * path's handler raises the fault): x86_tlb_fill gives a non-canonical page no fast
 * tag, so the tag compare tests it, and an access that starts in the last canonical
 * page and ends beyond it crosses the page end. Returns [RSI + RAX]; clobbers RCX,
 * RDX. */
static JitMem probe64_at(Tr *t, Stub *s, unsigned segno, unsigned size, bool write)
{
    JitEmit *e = &t->e;
    t->hflags = false;
    if (segno >= S_FS)
        emit_alu_rm(e, 8, ALU_ADD, H_RAX, SEG_FIELD(segno, base));
    jit_emit_tlb_offset(t);
    return jit_emit_probe_entry(t, s, 8, size, write);
}

/* Instruction k's memory operand through the probe; false: not inline (ea64). */
bool jit_emit_probe64(Tr *t, Stub *s, unsigned k, unsigned size, bool write, JitMem *m)
{
    if (!ea64(t, k))
        return false;
    *m = probe64_at(t, s, t->insns[k].seg, size, write);
    return true;
}

/* A 32- or 64-bit MOV or ALU op between registers, or with an immediate. At home
 * (RAX..RDI) the destination is worked on in place, which a 32-bit host operation
 * zero-extends as the guest's does; R8-R15 in RAX, loaded and stored whole. The ALU
 * op's lazy flags as jit_alu_on_home stores them. Before, each went through EAX and
 * ECX: four instructions for `and $-2, %edx`. False: TEST or 64-bit ADC/SBB (eager
 * flags), or a MOV to a register not at home (nothing emitted). */
static bool binop_reg(Tr *t, unsigned k, int op, unsigned kind, unsigned size, unsigned dst)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    bool cmp = op == ALU_CMP;
    if (op == -2 || (size == 8 && (op == ALU_ADC || op == ALU_SBB)))
        return false;
    JitMem d = cmp ? gread(t, 8, dst) : greg(t, 8, dst);
    if (!d.direct && op == -1)
        return false;
    int src = H_NONE;
    if (kind != 2) {
        JitMem m = gread(t, size, kind == 1 ? i->rm : i->reg);
        if (op == -1) {
            emit_load(e, size, d.base, m); /* (a register move if at home) */
            return true;
        }
        src = m.direct ? m.base : H_RCX;
        if (!m.direct)
            emit_load(e, size, H_RCX, m);
    } else if (op == -1) {
        if (size == 8)
            emit_store_imm(e, 8, d, i->imm);
        else
            emit_mov_ri32(e, d.base, i->imm);
        return true;
    }
    int h = d.direct ? d.base : H_RAX;
    if (!d.direct)
        emit_load(e, size, H_RAX, d);
    jit_alu_on_home(t, k, (unsigned)op, size, h, src, i->imm, (int)dst,
                    kind == 2 ? -1 : (int)(kind == 1 ? i->rm : i->reg));
    if (!d.direct && !cmp)
        emit_store(e, 8, d, H_RAX); /* (a 32-bit result zero-extended) */
    return true;
}

/* ALU ops, TEST and MOV at 32 and 64 bits. kind: 0 E,G  1 G,E  2 E,imm. op: an ALU
 * op, -1 MOV, -2 TEST. rm: the E register when it is one (RAX for the rAX, imm
 * forms). */
static bool tr_binop(Tr *t, unsigned k, int op, unsigned kind, unsigned size, unsigned rm)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    bool mem = i->pfx & X86_PFX_MEM;
    bool mov = op == -1, test = op == -2, cmp = op == ALU_CMP;
    bool carry = op == ALU_ADC || op == ALU_SBB;
    bool writes = !mov && !test && !cmp;
    Stub *s = NULL;
    JitMem m = { 0 };
    if (carry)
        jit_emit_cf_to_r13(t); /* (before the operands: it may call x86_flag_cf) */
    if (mem) {
        s = jit_stub_new(t, k);
        bool w = kind != 1 && (mov || writes);
        if (!jit_emit_probe64(t, s, k, size, w, &m))
            return false;
        if (w && !mov) {
            /* Read-modify-write through the write translation (x86_rmw_begin). */
            emit_lea(e, 8, H_RSI, m);
            m = jm(H_RSI, 0);
        }
    }
    unsigned dst = kind == 1 ? i->reg : rm; /* (a register destination) */
    if (!mem && size >= 4 && binop_reg(t, k, op, kind, size, dst))
        return true;
    if (mem && kind == 1 && !mov && !test && size >= 4 && !(carry && size == 8)) {
        /* A register at home with a memory source: the op on the home, as
         * binop_reg's (gs -2: the source is no register). */
        JitMem d = cmp ? gread(t, 8, dst) : greg(t, 8, dst);
        if (d.direct) {
            emit_load(e, size, H_RCX, m);
            jit_alu_on_home(t, k, (unsigned)op, size, d.base, H_RCX, 0, (int)dst, -2);
            s->resume = emit_pos(e);
            return true;
        }
    }
    if (mov) {
        if (kind == 2) {
            if (mem)
                emit_store_imm(e, size, m, i->imm & mask_size(size)); /* (size 8: sign-extended, as the guest's) */
            else if (size == 8)
                emit_store_imm(e, 8, greg(t, 8, dst), i->imm);
            else if (size < 4)
                emit_store_imm(e, size, greg(t, size, dst), i->imm & mask_size(size));
            else {
                emit_mov_ri32(e, H_RCX, i->imm);
                wr(t, dst, H_RCX);
            }
        } else if (kind == 1) {
            /* (a load straight into the home: after the probe's last branch) */
            int h = size >= 4 ? dst_home(t, i->reg) : H_RCX;
            emit_load(e, size, h, mem ? m : gread(t, size, rm));
            wr_home(t, size, i->reg, h);
        } else {
            JitMem r = gread(t, size, i->reg);
            int h = mem && r.direct ? r.base : H_RCX; /* (a store from the home) */
            if (h == H_RCX)
                emit_load(e, size, H_RCX, r);
            if (mem)
                emit_store(e, size, m, h);
            else
                wr_size(t, size, rm, H_RCX);
        }
        if (s)
            s->resume = emit_pos(e);
        return true;
    }
    /* RAX = the destination operand, RCX = the source. */
    if (kind == 1) {
        emit_load(e, size, H_RCX, mem ? m : gread(t, size, rm)); /* (m is [RSI + RAX]) */
        rd(t, size, H_RAX, i->reg);
    } else {
        emit_load(e, size, H_RAX, mem ? m : gread(t, size, rm));
        if (kind == 2)
            imm_to_rcx(e, size, i->imm);
        else
            rd(t, size, H_RCX, i->reg);
    }
    if (size < 8 || !carry) {
        /* The lazy flags of alu.c's handlers (x86_bind64 keeps them for 8-, 16- and
         * 32-bit operands), at 64 bits those of exec64.c's alu, which a memory
         * operand's slow path runs: CC_ADD64, CC_SUB64, CC_LOGIC64. */
        if (test)
            jit_emit_test_flags(t, size);
        else
            jit_emit_alu_flags(t, (unsigned)op, size);
    } else {
        /* 64-bit ADC, SBB: eager (no lazy kind carries their CF in). */
        bt_r13(e);
        emit_alu_rr(e, 8, (unsigned)op, H_RAX, H_RCX);
        host_flags_eager(t);
    }
    if (writes) {
        if (mem && kind != 1)
            emit_store(e, size, m, H_RAX);
        else
            wr_size(t, size, dst, H_RAX);
    }
    if (s)
        s->resume = emit_pos(e);
    return true;
}

/* A 32- or 64-bit register's INC/DEC whose flags the next instruction replaces, or
 * keeps unread (jit_pend_keeps), before anything but a fault there could read them:
 * only the host op is emitted, and the flags are made from the register where they
 * are needed (jit_incdec64_store, on a slow path or when something reads them). The
 * kit's string scans (INC RAX; CMP BYTE [RAX], 0; JNE) spent most of their time on
 * the eager flags of the INC and the CF it keeps. */
static bool incdec_defer(Tr *t, unsigned k, unsigned r, unsigned size, bool dec)
{
    if (!(t->j->inline_mask & IN_DEFERFLAGS) || (size != 4 && size != 8))
        return false;
    FlagPend p = { PEND_INCDEC64, CC_EAGER, (int8_t)r, -1, 0, k, (uint8_t)size, dec, (int16_t)t->known_cc };
    if (!jit_pend_keeps(t, &p, k + 1))
        return false;
    t->pend = p;
    t->known_cc = -1; /* (slow paths on the way store cc_op) */
    return true;
}

void jit_incdec64_store(Tr *t, const FlagPend *p, const int8_t *host)
{
    JitEmit *e = &t->e;
    /* CF of the state before the INC/DEC, which it keeps: that state is still in
     * cc_op and its operands (only moves ran since). */
    int kc = t->known_cc;
    bool hf = t->hflags;
    RegCache rc = t->rc;
    t->known_cc = p->prev_cc;
    t->hflags = false;
    /* (A helper call there saves and reloads the homes by the register cache: the one
     * where these flags are stored, a slow path's, every home it holds maybe newer.) */
    memcpy(t->rc.host, host, sizeof(t->rc.host));
    t->rc.dirty = 0xff;
    jit_emit_cf_to_r13(t);
    t->rc = rc;
    t->known_cc = kc;
    t->hflags = hf;
    JitMem m = p->r < 8 && host[p->r] >= 0 ? jreg(host[p->r]) : greg_mem(8, (unsigned)p->r);
    emit_load(e, p->size, H_RAX, m);
    emit_op_rr(e, p->size, 0xff, !p->dec, H_RAX); /* the operand back */
    bt_r13(e);
    emit_op_rr(e, p->size, 0xff, p->dec, H_RAX); /* and the op again, for its flags */
    host_flags_to_ecx(e, X86_FL_ARITH, true);
    emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~(uint32_t)X86_FL_ARITH);
    emit_op_rm(e, 4, 0x09, H_RCX, CPU(eflags)); /* OR [eflags], ECX */
    emit_store_imm(e, 4, CPU(cc_op), CC_EAGER);
}

/* A narrower INC/DEC's slow path: its handler, then the flags eager (tr_incdec). */
static void incdec_eager(X86Cpu *c, const X86Insn *i)
{
    i->handler(c, i);
    x86_flags_sync(c);
}

/* INC/DEC (FF /0, /1) at 32 and 64 bits: CF is kept, so the guest's CF goes into the
 * host's before the host's INC/DEC, whose flags are then the guest's (eager). */
static bool tr_incdec(Tr *t, unsigned k, unsigned size, bool dec)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    bool mem = i->pfx & X86_PFX_MEM;
    unsigned opc = size == 1 ? 0xfe : 0xff;
    /* (Deferred: emitted as when dead, its flags made later.) */
    bool dead = t->dead || (!mem && incdec_defer(t, k, i->rm, size, dec));
    if (dead && !mem) {
        if (size != 4) {
            emit_op_rm(e, size, opc, dec, greg(t, size, i->rm)); /* (8/16 bits: the rest kept) */
        } else {
            rd(t, 4, H_RAX, i->rm);
            emit_op_rr(e, 4, 0xff, dec, H_RAX);
            wr(t, i->rm, H_RAX);
        }
        return true;
    }
    if (!t->dead)
        jit_emit_cf_to_r13(t);
    Stub *s = NULL;
    JitMem m;
    if (mem) {
        s = jit_stub_new(t, k);
        if (!jit_emit_probe64(t, s, k, size, true, &m))
            return false;
        emit_lea(e, 8, H_RSI, m);
        m = jm(H_RSI, 0);
    } else {
        m = gread(t, size, i->rm);
    }
    emit_load(e, size, H_RAX, m);
    if (!t->dead)
        bt_r13(e);
    emit_op_rr(e, size, opc, dec, H_RAX);
    host_flags_eager(t);
    if (mem)
        emit_store(e, size, m, H_RAX);
    else
        wr_size(t, size, i->rm, H_RAX);
    if (s) {
        s->resume = emit_pos(e);
        /* The handler below 64 bits (alu.c's) leaves the lazy CC_INC or CC_DEC: the
         * slow path makes them eager as this path does, so cc_op is known after (a
         * DEC [mem]; JNZ read eflags instead of calling x86_cond). Flags nothing
         * reads stay as the handler left them: not known. */
        if (size != 8 && t->dead)
            t->known_cc = -1;
        else if (size != 8)
            s->handler = incdec_eager;
    }
    return true;
}

/* NOT / NEG of a register (NEG's flags are SUB's from 0, exec64.c and alu.c). */
static bool tr_notneg(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    if (i->reg == 2) {
        rd(t, size, H_RAX, i->rm);
        emit_op_rr(e, size, size == 1 ? 0xf6 : 0xf7, 2, H_RAX);
        wr_size(t, size, i->rm, H_RAX);
        return true;
    }
    rd(t, size, H_RCX, i->rm);
    emit_mov_ri32(e, H_RAX, 0);
    jit_emit_alu_flags(t, ALU_SUB, size); /* (64 bits: CC_SUB64) */
    wr_size(t, size, i->rm, H_RAX);
    return true;
}

static void sync_flags(X86Cpu *c)
{
    x86_flags_sync(c);
}

/* The count of a shift or rotate by an immediate or one (C1, D1), masked as the
 * processor does (5 or 6 bits). */
static unsigned shift_count(const X86Insn *i, unsigned size)
{
    return (i->opcode == 0xd1 ? 1 : i->imm) & (size == 8 ? 63 : 31);
}

/* After the host's shift or rotate of RAX (size bytes; RDX the original value for
 * SHR): the guest's flags as exec64.c's shift defines them for every count. SHL,
 * SHR, SAR: CF SF ZF PF from the host, AF 0, OF the MSB of the result xor CF (SHL),
 * the original MSB (SHR), 0 (SAR). ROL: CF bit 0 of the result, OF its MSB xor CF;
 * ROR: CF the MSB, OF the MSB xor the next bit; the other flags kept (eflags made
 * authoritative before the operation, see tr_shift). Clobbers RCX, RDX. */
static void shift_flags(Tr *t, unsigned op, unsigned size)
{
    JitEmit *e = &t->e;
    unsigned msb = size * 8 - 1;
    if (op <= 1) {
        jit_emit_rot_flags(e, 8, msb, op == 1);
        t->known_cc = CC_EAGER; /* (made so before the rotate) */
        return;
    }
    host_flags_to_ecx(e, X86_FL_CF | X86_FL_PF | X86_FL_ZF | X86_FL_SF, false); /* (RDX kept) */
    if (op == 4) {
        emit_mov_rr(e, 8, H_RDX, H_RAX);
        emit_shift_ri(e, 8, 5, H_RDX, msb);
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX); /* bit 0: MSB ^ CF */
    }
    if (op == 4 || op == 5) {
        if (op == 5)
            emit_shift_ri(e, 8, 5, H_RDX, msb);
        emit_alu_ri(e, 4, ALU_AND, H_RDX, 1);
        emit_shift_ri(e, 4, 4, H_RDX, 11); /* OF is bit 11 */
        emit_alu_rr(e, 4, ALU_OR, H_RCX, H_RDX);
    }
    store_eager(t);
}

/* After a 32-bit SHL, SHR or SAR of host register res (RDX the original value for
 * SHR), with only moves since: the flags lazy as CC_SHIFT32 (flags.c: CF = src1,
 * OF = src2,
 * SF ZF PF from the result, AF 0), which gives exec64.c's shift for every count: OF
 * the result's MSB xor CF (SHL), the original MSB (SHR), 0 (SAR). Four stores, where
 * shift_flags rewrites eflags by two read-modify-writes: a chain through memory from
 * one pass of a loop to the next (crc32's `shr $8,%eax`). Clobbers RCX, RDX. */
static void shift32_lazy(Tr *t, unsigned op, int res)
{
    JitEmit *e = &t->e;
    emit_setcc(e, HC_B, H_RCX);
    if (op == 4) {
        emit_mov_rr(e, 4, H_RDX, res);
        emit_shift_ri(e, 4, 5, H_RDX, 31);
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
    } else if (op == 5) {
        emit_shift_ri(e, 4, 5, H_RDX, 31);
    } else {
        emit_mov_ri32(e, H_RDX, 0);
    }
    jit_store_shift_flags(t, CC_SHIFT32, res, H_RCX, H_RDX);
}

/* A 32-bit SHL, SHR or SAR (op 4, 5, 7) by count of guest register r at home whose
 * flags the next instruction replaces or keeps unread (jit_pend_keeps): the original
 * value is stashed and only the shift emitted; jit_shift32_store makes the flags
 * where they are needed (a slow path on the way, or before a reader). One store
 * where shift32_lazy takes eight instructions: the decompressor's crc32 and range
 * coder shift and then load. */
static bool shift_defer(Tr *t, unsigned k, unsigned op, unsigned count, unsigned r, int h)
{
    if (!(t->j->inline_mask & IN_DEFERFLAGS))
        return false;
    FlagPend p = { PEND_SHIFT32, CC_SHIFT32, (int8_t)r, (int8_t)op, count, k, 4, false, -1 };
    if (!jit_pend_keeps(t, &p, k + 1))
        return false;
    emit_store(&t->e, 4, CPU(jit_stash), h);
    emit_op_rr(&t->e, 4, 0xc1, (int)op, h);
    emit_u8(&t->e, (uint8_t)count);
    t->pend = p;
    t->known_cc = -1; /* (slow paths on the way store cc_op) */
    return true;
}

/* The CC_SHIFT32 flags (shift32_lazy's) of a deferred shift: the result from its
 * register, CF (the last bit shifted out) and OF from the stashed original (SDM
 * vol. 2, SAL/SAR/SHL/SHR). Leaves the stash, so it can be made again on another
 * way. Clobbers RAX, RCX, RDX and the host flags. */
void jit_shift32_store(Tr *t, const FlagPend *p, const int8_t *host)
{
    JitEmit *e = &t->e;
    unsigned op = (unsigned)p->s, n = p->imm;
    emit_load(e, 4, H_RAX, jit_pend_reg(host, p->r));
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_load(e, 4, H_RCX, CPU(jit_stash));
    emit_mov_rr(e, 4, H_RDX, H_RCX);
    unsigned cf_bit = op == 4 ? 32 - n : n - 1;
    if (cf_bit)
        emit_shift_ri(e, 4, 5, H_RDX, cf_bit);
    emit_alu_ri(e, 4, ALU_AND, H_RDX, 1);
    emit_store(e, 4, CPU(cc_src1), H_RDX);
    if (op == 4) { /* OF: the result's MSB xor CF */
        emit_shift_ri(e, 4, 5, H_RAX, 31);
        emit_alu_rr(e, 4, ALU_XOR, H_RAX, H_RDX);
        emit_store(e, 4, CPU(cc_src2), H_RAX);
    } else if (op == 5) { /* OF: the original MSB */
        emit_shift_ri(e, 4, 5, H_RCX, 31);
        emit_store(e, 4, CPU(cc_src2), H_RCX);
    } else {
        emit_store_imm(e, 4, CPU(cc_src2), 0);
    }
    emit_store_imm(e, 4, CPU(cc_op), CC_SHIFT32);
}

/* ROL/ROR/SHL/SHR/SAR of a 32- or 64-bit register by an immediate or one (exec64.c's
 * shift, which x86_bind64 picks for 32-bit operands too). A count of 0 keeps its
 * handler; RCL/RCR too. */
static bool tr_shift(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    unsigned op = i->reg == 6 ? 4 : i->reg;
    unsigned count = shift_count(i, size);
    if (op == 2 || op == 3 || !count)
        return false;
    if (!t->dead && op <= 1 && t->known_cc != CC_EAGER &&
        (t->live_out & X86_FL_ARITH & ~(uint32_t)(X86_FL_CF | X86_FL_OF))) {
        /* Rotates keep SF ZF AF PF: eflags authoritative first (before any operand
         * is in a scratch register: the helper call clobbers them), unless later
         * inline code replaces those before anything reads them. */
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        jit_emit_helper(t, (const void *)sync_flags);
    }
    /* On the register's home when its flags are dead or lazy (a 32-bit shift
     * zero-extends it), else on a copy in RAX. */
    bool lazy = !t->dead && size == 4 && op >= 4;
    JitMem d = greg(t, 8, i->rm);
    int h = d.direct && (t->dead || lazy) ? d.base : H_RAX;
    if (lazy && h != H_RAX && shift_defer(t, (unsigned)(i - t->insns), op, count, i->rm, h))
        return true;
    if (h == H_RAX)
        rd(t, size, H_RAX, i->rm);
    if (!t->dead && op == 5)
        emit_mov_rr(e, 8, H_RDX, h);
    emit_op_rr(e, size, 0xc1, (int)op, h);
    emit_u8(e, (uint8_t)count);
    if (h == H_RAX)
        wr(t, i->rm, H_RAX); /* (a move: the flags stay) */
    if (lazy)
        shift32_lazy(t, op, h);
    else if (!t->dead)
        shift_flags(t, op, size);
    return true;
}

/* SHL/SHR/SAR of a 32- or 64-bit register by CL: a count of 0 (after masking)
 * changes no flag but still zero-extends a 32-bit register (exec64.c's shift). */
static bool tr_shift_cl(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    unsigned op = i->reg == 6 ? 4 : i->reg;
    if (op < 4)
        return false;
    /* (Every operand loaded before the branch: the register cache loads only at an
     * instruction's start.) */
    rd(t, size, H_RAX, i->rm);
    rd(t, 4, H_RCX, R_ECX);
    emit_alu_ri(e, 4, ALU_AND, H_RCX, size == 8 ? 63 : 31);
    size_t zero = emit_jcc_fwd(e, HC_E);
    emit_mov_rr(e, 8, H_RDX, H_RAX);
    emit_op_rr(e, size, 0xd3, (int)op, H_RAX); /* shift RAX by CL */
    wr(t, i->rm, H_RAX);
    shift_flags(t, op, size);
    size_t done = emit_jmp_fwd(e);
    emit_patch(e, zero, emit_pos(e));
    wr(t, i->rm, H_RAX);
    emit_patch(e, done, emit_pos(e));
    t->known_cc = -1; /* (eager on one arm, unchanged on the other) */
    return true;
}

/* BSWAP r32 / r64. */
static bool tr_bswap(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    rd(t, size, H_RAX, i->reg);
    if (size == 8)
        emit_u8(e, 0x48);
    emit_u8(e, 0x0f); /* BSWAP EAX / RAX */
    emit_u8(e, 0xc8);
    wr(t, i->reg, H_RAX);
    return true;
}

/* IMUL r, r/m(register)[, imm] at 32 and 64 bits. Flags: at 32 bits alu.c's lazy
 * form (CC_SHIFT32, the product in cc_res, CF = OF in both sources); at 64 bits
 * exec64.c's: CF = OF = the product overflowed, SF ZF PF of the product, AF 0. */
static bool tr_imul(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    if (i->pfx & X86_PFX_MEM)
        return false;
    /* On the destination's home (a 32-bit IMUL zero-extends it), else in RAX (64-bit
     * flags: host_flags_to_ecx keeps only RAX). */
    JitMem d = greg(t, 8, i->reg);
    int h = d.direct && (t->dead || size == 4) ? d.base : H_RAX;
    if (i->opcode == 0x0faf && h == H_RAX)
        rd(t, size, H_RAX, i->reg);
    emit_op_rm(e, size, i->opcode == 0x0faf ? 0x0faf : 0x69, h, gread(t, size, i->rm));
    if (i->opcode != 0x0faf)
        emit_u32(e, i->imm);
    if (h == H_RAX)
        wr(t, i->reg, H_RAX);
    if (t->dead)
        return true;
    emit_op_rr(e, 1, 0x0f90 | HC_O, 0, H_RDX); /* SETO DL */
    emit_movzx(e, 1, H_RDX, H_RDX);
    if (size == 4) {
        jit_store_shift_flags(t, CC_SHIFT32, h, H_RDX, H_RDX);
        return true;
    }
    emit_test_rr(e, 8, H_RAX, H_RAX);
    host_flags_to_ecx(e, X86_FL_PF | X86_FL_ZF | X86_FL_SF, false); /* (RDX kept) */
    emit_op_rr(e, 4, 0x69, H_RDX, H_RDX); /* EDX *= CF | OF */
    emit_u32(e, X86_FL_CF | X86_FL_OF);
    emit_alu_rr(e, 4, ALU_OR, H_RCX, H_RDX);
    store_eager(t);
    return true;
}

/* CMOVcc at 32 and 64 bits: a 32-bit destination is zero-extended whether or not
 * the condition holds (SDM vol. 2, CMOVcc), so the host's CMOV on copies decides.
 * A memory source is read whatever the condition (into R13, kept by the
 * condition's helper call). */
static bool tr_cmov(Tr *t, unsigned k, unsigned size)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = NULL;
    int src = H_RCX;
    if (i->pfx & X86_PFX_MEM) {
        s = jit_stub_new(t, k);
        JitMem m;
        if (!jit_emit_probe64(t, s, k, size, false, &m))
            return false;
        emit_load(e, size, H_R13, m);
        src = H_R13;
    }
    unsigned hc = jit_emit_cond(t, i->opcode & 0xf);
    /* (loads and moves leave the host's flags) */
    if (!s) {
        JitMem m = gread(t, size, i->rm);
        src = m.direct ? m.base : H_RCX;
        if (!m.direct)
            emit_load(e, size, H_RCX, m);
    }
    /* On the destination's home when it has one (the host's 32-bit CMOV zero-extends
     * it either way, as the guest's). */
    JitMem d = greg(t, 8, i->reg);
    int h = d.direct ? d.base : H_RAX;
    if (!d.direct)
        rd(t, size, H_RAX, i->reg);
    emit_op_rr(e, size, 0x0f40 | hc, h, src);
    if (!d.direct)
        wr(t, i->reg, H_RAX);
    if (s)
        s->resume = emit_pos(e);
    return true;
}

/* MOVZX/MOVSX from memory or a word register, MOVSXD (63 with REX.W). */
static bool tr_movx(Tr *t, unsigned k, unsigned size)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned op = i->opcode, from = op == 0x63 ? 4 : (op & 1) ? 2 : 1;
    bool mem = i->pfx & X86_PFX_MEM;
    if (op == 0x63 && size != 8)
        return false;
    Stub *s = NULL;
    JitMem m;
    if (mem) {
        s = jit_stub_new(t, k);
        if (!jit_emit_probe64(t, s, k, from, false, &m))
            return false;
    } else {
        m = gread(t, from, i->rm);
    }
    bool sx = op == 0x63 || op >= 0x0fbe;
    /* MOVZX zero-extends into 64 bits at any size; MOVSX to 64 bits needs REX.W. */
    int h = dst_home(t, i->reg);
    emit_op_rm(e, sx && size == 8 ? 8 : 4, op, h, m);
    wr_home(t, 8, i->reg, h);
    if (s)
        s->resume = emit_pos(e);
    return true;
}

/* The 64-bit stack (SS has base 0): RAX = RSP - 8 for a push, RSP for a pop, checked
 * canonical (else the handler raises #SS(0)) and probed. */
static JitMem stack_probe(Tr *t, Stub *s, bool push)
{
    JitEmit *e = &t->e;
    rd(t, 8, H_RAX, R_ESP);
    if (push)
        emit_alu_ri(e, 8, ALU_SUB, H_RAX, 8);
    return probe64_at(t, s, S_SS, 8, push);
}

/* PUSH r64 / POP r64, PUSH imm (68, 6A: sign-extended to 64 bits). */
static bool tr_pushpop(Tr *t, unsigned k, bool push)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
    int src = H_R13;
    if (push && (i->opcode == 0x68 || i->opcode == 0x6a))
        emit_mov_ri64(e, H_R13, (uint64_t)(int64_t)(int32_t)i->imm);
    else if (push) {
        JitMem r = gread(t, 8, i->reg); /* (the probe leaves the homes alone) */
        if (r.direct)
            src = r.base;
        else
            emit_load(e, 8, H_R13, r);
    }
    JitMem m = stack_probe(t, s, push);
    if (push) {
        emit_store(e, 8, m, src); /* (PUSH RSP stores the old value) */
        emit_alu_mi(e, 8, ALU_SUB, greg(t, 8, R_ESP), 8);
    } else {
        /* (POP RSP keeps the popped value: through RCX, stored after the increment) */
        int h = i->reg == R_ESP ? H_RCX : dst_home(t, i->reg);
        emit_load(e, 8, h, m);
        emit_alu_mi(e, 8, ALU_ADD, greg(t, 8, R_ESP), 8);
        wr_home(t, 8, i->reg, h);
    }
    s->resume = emit_pos(e);
    return true;
}

/* Host register r (not RCX) canonical, else the slow path (the handler raises
 * #GP(0) for the target). Clobbers RCX. */
static void check_canonical(Tr *t, Stub *s, int r)
{
    JitEmit *e = &t->e;
    emit_mov_rr(e, 8, H_RCX, r);
    emit_op_rr(e, 8, 0xc1, 7, H_RCX); /* SAR RCX, 47 */
    emit_u8(e, 47);
    emit_alu_ri(e, 4, ALU_ADD, H_RCX, 1);
    emit_alu_ri(e, 4, ALU_CMP, H_RCX, 1);
    jit_stub_jcc(t, s, HC_A);
}

/* CALL rel32 / RET ending the block: the new RIP leaves through a chained exit. */
static bool tr_callret(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
    int64_t delta = (int64_t)t->off[k + 1] + (int32_t)i->imm;
    if (call && (delta < INT32_MIN || delta > INT32_MAX))
        return false;
    JitMem m = stack_probe(t, s, call);
    if (call) {
        /* (The target is checked before the push, SDM vol. 2 CALL: nothing written
         * before the slow path.) */
        eip_to_reg_w(t, 8, H_RDX, (int32_t)delta);
        check_canonical(t, s, H_RDX);
        eip_to_reg_w(t, 8, H_RCX, (int32_t)t->off[k + 1]);
        emit_store(e, 8, m, H_RCX);
        emit_alu_mi(e, 8, ALU_SUB, greg(t, 8, R_ESP), 8);
        emit_mov_rr(e, 8, H_RAX, H_RDX);
    } else {
        emit_load(e, 8, H_RAX, m);
        check_canonical(t, s, H_RAX);
        emit_alu_mi(e, 8, ALU_ADD, greg(t, 8, R_ESP), 8);
    }
    jit_exit_chained(t, k + 1, true, call ? delta : JIT_DELTA_UNKNOWN, true);
    /* After the handler (stub): RIP is what it set. */
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* Jcc / JMP rel ending the block: RIP of the target (checked canonical: else the
 * handler raises #GP(0)) or of the next instruction. cc < 0: JMP. */
static bool tr_branch(Tr *t, unsigned k, int cc)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    int64_t delta = (int64_t)t->off[k + 1] + (int32_t)i->imm;
    if (delta < INT32_MIN || delta > INT32_MAX)
        return false;
    if (cc >= 0) {
        unsigned hc = jit_emit_cond(t, (unsigned)cc);
        size_t taken = emit_jcc_fwd(e, hc);
        jit_exit_chained(t, k + 1, true, t->off[k + 1], false);
        emit_patch(e, taken, emit_pos(e));
    }
    eip_to_reg_w(t, 8, H_RAX, (int32_t)delta);
    Stub *s = jit_stub_new(t, k);
    check_canonical(t, s, H_RAX);
    jit_exit_chained(t, k + 1, true, delta, true);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* SETcc r8 (register form). */
static bool tr_setcc(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    unsigned hc = jit_emit_cond(t, i->opcode & 0xf);
    emit_op_rr(e, 1, 0x0f90 | hc, 0, H_RAX); /* SETcc AL */
    emit_store(e, 1, greg(t, 1, i->rm), H_RAX);
    return true;
}

/* CWDE/CDQE (98) and CDQ/CQO (99) at 32 and 64 bits. */
static bool tr_cbw_cwd(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    if (i->opcode == 0x98) {
        if (size == 8)
            emit_op_rm(e, 8, 0x63, H_RAX, gread(t, 4, R_EAX)); /* MOVSXD RAX, EAX */
        else
            emit_op_rm(e, 4, 0x0fbf, H_RAX, gread(t, 2, R_EAX));
        wr(t, R_EAX, H_RAX);
    } else {
        rd(t, size, H_RAX, R_EAX);
        emit_op_rr(e, size, 0xc1, 7, H_RAX); /* SAR, size * 8 - 1 */
        emit_u8(e, (uint8_t)(size * 8 - 1));
        wr(t, 2, H_RAX); /* RDX */
    }
    return true;
}

/* JMP r/m64 and CALL r/m64 ending the block: the target, read first into R13 and
 * checked canonical (else the handler raises #GP(0), before the push), leaves
 * through the lookup table of changing targets (chain.c). */
static bool tr_indirect(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    if (t->j->no_chain || !t->j->ib_routine64)
        return false;
    Stub *s = jit_stub_new(t, k);
    if (i->pfx & X86_PFX_MEM) {
        JitMem m;
        if (!jit_emit_probe64(t, s, k, 8, false, &m))
            return false;
        emit_load(e, 8, H_R13, m);
    } else {
        rd(t, 8, H_R13, i->rm);
    }
    check_canonical(t, s, H_R13);
    if (call) {
        JitMem m = stack_probe(t, s, true);
        eip_to_reg_w(t, 8, H_RCX, (int32_t)t->off[k + 1]);
        emit_store(e, 8, m, H_RCX);
        emit_alu_mi(e, 8, ALU_SUB, greg(t, 8, R_ESP), 8);
    }
    emit_mov_rr(e, 8, H_RAX, H_R13); /* (the lookup routine stores c->eip on a miss) */
    jit_rc_leave(t); /* (the lookup routine expects every register at home) */
    emit_mov_ri32(e, H_R13, k + 1);
    emit_u8(e, 0xe9);
    emit_u32(e, (uint32_t)(t->j->ib_routine64 - (e->rx + emit_pos(e) + 4)));
    /* After the handler (stub): RIP is what it set. */
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* The operand size of i's ALU-style forms: 1 for the byte opcodes. */
static unsigned op_size64(const X86Insn *i)
{
    unsigned op = i->opcode;
    bool byte = (op < 0x40 && !(op & 1)) || op == 0x80 || op == 0x84 || op == 0x88 || op == 0x8a || op == 0xa8 ||
                op == 0xc6 || op == 0xfe || op == 0xf6 || (op >= 0xb0 && op <= 0xb7);
    return byte ? 1 : osize64(i);
}

/* Whether instruction i of 64-bit code surely compiles inline with no slow path
 * and no call (the dead-flags pass, translate.c); *writes: the flags it sets. The
 * register forms of tr_binop (not ADC/SBB), TEST, MOV, INC/DEC, NOT/NEG, MOVZX/MOVSX,
 * IMUL, NOP. */
bool jit_pure64(const X86Insn *i, uint32_t *writes)
{
    unsigned op = i->opcode, size = op_size64(i);
    const uint32_t all = X86_FL_ARITH;
    *writes = 0;
    if ((i->pfx & (X86_PFX_MEM | X86_PFX_LOCK)) || (i->flags & X86_INSN_END_BLOCK) || i->handler == x86_handle_ud)
        return false;
    if (op == 0x90 && i->reg == 0)
        return true;
    if (op == 0x0f1f)
        return true;
    if (op < 0x40 && (op & 7) < 6) {
        *writes = all;
        return jit_alu_pure(op >> 3);
    }
    switch (op) {
    case 0x80: case 0x81: case 0x83:
        *writes = all;
        return jit_alu_pure(i->reg);
    case 0x84: case 0x85: case 0xa8: case 0xa9:
        *writes = all;
        return true;
    case 0x88 ... 0x8b: case 0xb0 ... 0xbf:
        return true;
    case 0xc6: case 0xc7:
        return i->reg == 0;
    case 0xfe: case 0xff:
        *writes = all & ~X86_FL_CF;
        return i->reg <= 1;
    case 0xf6: case 0xf7:
        *writes = i->reg == 3 || i->reg == 0 ? all : 0;
        return i->reg == 0 || i->reg == 2 || i->reg == 3;
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
        return size >= 4;
    case 0x0faf: case 0x69: case 0x6b:
        *writes = all;
        return size >= 4;
    case 0xc1: case 0xd1:
        /* (not a count of 0, which keeps its handler and every flag) */
        if (size < 4 || i->reg == 2 || i->reg == 3 || !shift_count(i, size))
            return false;
        *writes = i->reg <= 1 ? X86_FL_CF | X86_FL_OF : all;
        return true;
    case 0x0fc8 ... 0x0fcf:
        return size >= 4;
    }
    return false;
}

/* Instruction k of 64-bit code inline, or false (its handler is called). */
bool jit_tr64(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned op = i->opcode, size = osize64(i), bsize = op_size64(i);
    bool mem = i->pfx & X86_PFX_MEM;
    bool last = k + 1 == t->n;
    if (i->handler == x86_handle_ud || (i->pfx & X86_PFX_LOCK))
        return false;
    unsigned mask = t->j->inline_mask;
    if ((mem && !(mask & IN_MEM)))
        return false;
    /* Block ends. */
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f) || op == 0xe9 || op == 0xeb)
        return last && (mask & IN_BRANCH) && tr_branch(t, k, op == 0xe9 || op == 0xeb ? -1 : (int)(op & 0xf));
    if (op == 0xe8 || op == 0xc3)
        return last && size == 8 && (mask & IN_STACK) && tr_callret(t, k, op == 0xe8);
    if (op == 0xff && (i->reg == 2 || i->reg == 4))
        return last && size == 8 && (mask & IN_BRANCH) && tr_indirect(t, k, i->reg == 2);
    if (i->flags & X86_INSN_END_BLOCK)
        return false;
    if (jit_sse_opcode(op))
        return jit_tr_sse(t, k);
    if (op == 0x90 && i->reg == 0)
        return true; /* NOP, PAUSE (not XCHG with R8) */
    if (op == 0x0f1f)
        return true; /* NOP r/m: no access */
    if ((op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a)
        return size == 8 && (mask & IN_STACK) && tr_pushpop(t, k, op < 0x58 || op == 0x68 || op == 0x6a);
    if (op < 0x40 && (op & 7) < 4) {
        /* E,G (00, 01) and G,E (02, 03) at every size */
        if (!(mask & IN_ALU))
            return false;
        return tr_binop(t, k, (int)(op >> 3), (op & 2) ? 1 : 0, bsize, i->rm);
    }
    if (op < 0x40 && (op & 7) < 6) {
        /* AL/rAX, imm: as E, imm with rm = RAX */
        if (!(mask & IN_ALU))
            return false;
        return tr_binop(t, k, (int)(op >> 3), 2, bsize, R_EAX);
    }
    switch (op) {
    case 0x80: case 0x81: case 0x83:
        return (mask & IN_ALU) && tr_binop(t, k, i->reg, 2, bsize, i->rm);
    case 0x84: case 0x85:
        return (mask & IN_TEST) && tr_binop(t, k, -2, 0, bsize, i->rm);
    case 0xa8: case 0xa9:
        return (mask & IN_TEST) && tr_binop(t, k, -2, 2, bsize, R_EAX);
    case 0x88: case 0x89:
        return (mask & IN_MOV) && tr_binop(t, k, -1, 0, bsize, i->rm);
    case 0x8a: case 0x8b:
        return (mask & IN_MOV) && tr_binop(t, k, -1, 1, bsize, i->rm);
    case 0xc6: case 0xc7:
        return i->reg == 0 && (mask & IN_MOV) && tr_binop(t, k, -1, 2, bsize, i->rm);
    case 0xb0 ... 0xb7:
        if (!(mask & IN_MOV))
            return false;
        emit_store_imm(e, 1, greg(t, 1, i->reg), i->imm & 0xff);
        return true;
    case 0xb8 ... 0xbf:
        if (!(mask & IN_MOV))
            return false;
        if (size == 2) {
            emit_store_imm(e, 2, greg(t, 2, i->reg), i->imm & 0xffff);
            return true;
        }
        {
            int h = dst_home(t, i->reg); /* (straight into the home when it has one) */
            if (i->flags & X86_INSN_IMM64)
                emit_mov_ri64(e, h, x86_insn_imm64(i));
            else
                emit_mov_ri32(e, h, i->imm);
            wr_home(t, 8, i->reg, h);
        }
        return true;
    case 0x8d: {
        if (!mem || !(mask & IN_LEA))
            return false;
        /* 32 bits wide but for a 64-bit result of a 64-bit address (SDM vol. 2, LEA),
         * straight into a 32- or 64-bit destination at home. */
        JitMem d = size >= 4 ? greg(t, 8, i->reg) : (JitMem){ 0 };
        if (!ea64_to(t, k, d.direct ? d.base : H_RAX, size == 8 && (i->flags & X86_INSN_AD64) ? 8 : 4))
            return false;
        if (!d.direct)
            wr_size(t, size, i->reg, H_RAX);
        return true;
    }
    case 0xfe: case 0xff:
        return i->reg <= 1 && (mask & IN_INCDEC) && tr_incdec(t, k, bsize, i->reg == 1);
    case 0xf6: case 0xf7:
        if (i->reg == 0)
            return (mask & IN_TEST) && tr_binop(t, k, -2, 2, bsize, i->rm);
        return (i->reg == 2 || i->reg == 3) && !mem && (mask & IN_TEST) && tr_notneg(t, i, bsize);
    case 0x98: case 0x99:
        return size >= 4 && (mask & IN_MISC) && tr_cbw_cwd(t, i, size);
    case 0x0f90 ... 0x0f9f:
        return !mem && (mask & IN_MISC) && tr_setcc(t, i);
    }
    if (size < 4 && (op == 0xc1 || op == 0xd1))
        /* 16-bit SHL/SHR/SAR by fewer than 16: the 32-bit translator's form (16-bit
         * stores keep the rest of the register; legacy shift.c's lazy flags, which
         * x86_bind64 keeps for 16-bit operands). */
        return !mem && (mask & IN_SHIFT) && jit_tr_shift(t, i, op == 0xd1 ? 1 : i->imm & 0x1f);
    if (size < 4)
        return false; /* the other 16-bit forms: their handlers */
    switch (op) {
    case 0xc1: case 0xd1:
        return !mem && (mask & IN_SHIFT) && tr_shift(t, i, size);
    case 0xd3:
        return !mem && (mask & IN_SHIFT) && tr_shift_cl(t, i, size);
    case 0x0fc8 ... 0x0fcf:
        return (mask & IN_MISC) && tr_bswap(t, i, size);
    case 0x69: case 0x6b: case 0x0faf:
        return (mask & IN_IMUL) && tr_imul(t, i, size);
    case 0x0f40 ... 0x0f4f:
        return (mask & IN_MISC) && tr_cmov(t, k, size);
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf: case 0x63:
        return (mask & IN_MISC) && tr_movx(t, k, size);
    }
    return false;
}

/* The guest registers an inline form of i will most likely use (RAX..RDI only: the
 * register cache holds those): loaded before it is first emitted. */
uint8_t jit_rc_predict64(const X86Insn *i)
{
    unsigned op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    uint32_t m = 0;
    if (mem && !(i->flags & X86_INSN_RIPREL)) {
        if (i->base < 8)
            m |= 1u << i->base;
        if (i->index < 8)
            m |= 1u << i->index;
    }
    if ((op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a || op == 0xe8 || op == 0xc3)
        m |= 1u << R_ESP;
    if (jit_sse_opcode(op))
        return (uint8_t)m; /* (reg and rm are XMM registers, mostly) */
    if (i->reg < 8 && op != 0xff && op != 0xf7 && op != 0xc1 && op != 0xd1 && op != 0x81 && op != 0x83 && op != 0xc7)
        m |= 1u << i->reg;
    if (!mem && i->rm < 8 && (i->flags & X86_INSN_MODRM))
        m |= 1u << i->rm;
    return (uint8_t)m;
}
