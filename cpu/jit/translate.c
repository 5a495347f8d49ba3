/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator: one decoded block (cpu/x86/exec.c forms them) becomes one host
 * function unsigned f(X86Cpu *c) returning the instructions it completed. Every
 * instruction either compiles inline (MOV, LEA, ADD/SUB/AND/OR/XOR/CMP/TEST/INC/DEC,
 * shifts and rotates by an immediate, IMUL, PUSH/POP, CALL/RET, JMP/CALL r/m, LOOP,
 * Jcc/JMP rel, loads and stores through an inline TLB probe) or calls its interpreter handler with
 * prev_eip/eip set, exactly as the dispatcher's loop would. Inline code that meets
 * anything unusual (a TLB miss, a page crossing, a segment that is not flat, a branch
 * beyond the CS limit) jumps to a stub that runs the instruction's handler instead:
 * the fast path has no side effects before that branch, so the handler starts from
 * the instruction's own state and faults precisely. Exits with a known next EIP are
 * chained to the next block's code through a guard (design in README.md).
 *
 * Register use in generated code: RBX = the X86Cpu, R12D = EIP at block entry (a
 * block's code is position independent in EIP: the same physical code runs at other
 * CS bases); RAX, RCX, RDX, RSI, RDI scratch. */
#include "cpu/jit/translate.h"
#include "engine/config.h"
#include "engine/log.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Guest registers as operands, through the register cache (regcache.c). */
static JitMem greg_mem(unsigned size, unsigned r)
{
    return jit_greg_mem(size, r);
}

/* A guest register operand that may be written. */
static JitMem greg(Tr *t, unsigned size, unsigned r)
{
    return jit_greg_at(t, size, r, true);
}

/* One that is only read. */
static JitMem gread(Tr *t, unsigned size, unsigned r)
{
    return jit_greg_at(t, size, r, false);
}

static unsigned op_size(const X86Insn *i, bool byte)
{
    return byte ? 1 : x86_osize(i);
}

static uint32_t mask_of(unsigned size)
{
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* EAX = entry EIP + delta. */
static void eip_to_eax(Tr *t, uint32_t delta)
{
    emit_lea(&t->e, 4, H_RAX, jm(H_R12, (int32_t)delta));
}

/* prev_eip and eip as the dispatcher sets them around instruction k. */
static void set_eips(Tr *t, unsigned k)
{
    eip_to_eax(t, t->off[k]);
    emit_store(&t->e, 4, CPU(prev_eip), H_RAX);
    eip_to_eax(t, t->off[k + 1]);
    emit_store(&t->e, 4, CPU(eip), H_RAX);
}

void jit_exit_with(Tr *t, unsigned count)
{
    emit_mov_ri32(&t->e, H_RAX, count);
    emit_jmp_to(&t->e, t->epilogue);
}

/* Leaves the block with count instructions done when a handler asked for it
 * (exit_block: stores into code, mode changes). */
static void check_exit(Tr *t, unsigned count)
{
    emit_alu_mi(&t->e, 1, ALU_CMP, CPU(exit_block), 0);
    if (t->nexits >= MAX_EXITS) {
        t->failed = true;
        return;
    }
    t->exit_fields[t->nexits] = emit_jcc_fwd(&t->e, HC_NE);
    t->exit_count[t->nexits++] = count;
}

static void call_handler(Tr *t, unsigned k)
{
    const X86Insn *i = &t->insns[k];
    if (t->j->calls) {
        unsigned op = i->opcode < 0x100 ? i->opcode : 0x100 + (i->opcode & 0xff);
        emit_mov_ri64(&t->e, H_RAX, (uint64_t)(uintptr_t)&t->j->calls[op * 8 + (i->reg & 7)]);
        emit_alu_mi(&t->e, 8, ALU_ADD, jm(H_RAX, 0), 1);
    }
    set_eips(t, k);
    emit_mov_rr(&t->e, 8, H_RDI, H_RBX);
    emit_mov_ri64(&t->e, H_RSI, (uint64_t)(uintptr_t)i);
    emit_call(&t->e, (const void *)i->handler);
}

/* A new slow path for instruction k; jumps to it are added with stub_jcc. */
static Stub *stub_new(Tr *t, unsigned k)
{
    if (t->nstubs >= MAX_STUBS) {
        t->failed = true;
        return &t->stubs[0];
    }
    Stub *s = &t->stubs[t->nstubs++];
    s->nfields = 0;
    s->k = k;
    s->resume = 0;
    return s;
}

static void stub_jcc(Tr *t, Stub *s, unsigned cc)
{
    size_t f = emit_jcc_fwd(&t->e, cc);
    if (s->nfields < 8)
        s->fields[s->nfields++] = f;
    else
        t->failed = true;
}

/* EAX = effective address of i's memory operand (SDM vol. 2, 2.1.5), 16-bit
 * wrapped for 16-bit addressing. Clobbers ECX. */
static void emit_ea(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    t->hflags = false; /* (the address arithmetic may change them) */
    bool b = i->base != R_ZERO, x = i->index != R_ZERO;
    int32_t disp = (int32_t)i->disp;
    /* Registers the cache holds are addressed in place; the others loaded first. */
    int hb = H_NONE, hx = H_NONE;
    if (b) {
        JitMem m = gread(t, 4, i->base);
        hb = m.direct ? m.base : H_RAX;
        if (!m.direct)
            emit_load(e, 4, H_RAX, m);
    }
    if (x) {
        JitMem m = gread(t, 4, i->index);
        hx = m.direct ? m.base : H_RCX;
        if (!m.direct)
            emit_load(e, 4, H_RCX, m);
    }
    if (b && !x && !disp) {
        if (hb != H_RAX)
            emit_mov_rr(e, 4, H_RAX, hb);
    } else if (b || x) {
        emit_lea(e, 4, H_RAX, (JitMem){ hb, hx, x ? i->scale : 0, disp });
    }
    else
        emit_mov_ri32(e, H_RAX, (uint32_t)disp);
    if (!(i->pfx & X86_PFX_AD32))
        emit_movzx(e, 2, H_RAX, H_RAX);
}

/* The inline probe (what x86_read / x86_write / x86_rmw_begin do on their fast
 * paths): the segment allows the access and is flat, and the TLB entry of the current
 * privilege maps the whole access. Leaves EAX = linear address, RSI = host addend, so
 * the operand is [RSI + RAX]; anything else goes to stub s. Clobbers ECX, EDX. */
static JitMem emit_probe_at(Tr *t, Stub *s, unsigned segno, unsigned size, unsigned need, bool write);

static JitMem emit_probe(Tr *t, Stub *s, const X86Insn *i, unsigned size, unsigned need, bool write)
{
    emit_ea(t, i);
    return emit_probe_at(t, s, i->seg, size, need, write);
}

/* The same with EAX = the offset in segment segno. */
static JitMem emit_probe_at(Tr *t, Stub *s, unsigned segno, unsigned size, unsigned need, bool write)
{
    JitEmit *e = &t->e;
    t->hflags = false;
    /* The segment allows the access (all bits of need) and every offset (flat: any
     * base, no limit check). */
    size_t seg = offsetof(X86Cpu, seg) + sizeof(X86Seg) * segno;
    /* ok and flat (0 or 1) are adjacent bytes: one 16-bit load tests both. */
    _Static_assert(offsetof(X86Seg, flat) == offsetof(X86Seg, ok) + 1, "X86Seg.ok, flat adjacent");
    /* (Not when the block's entry checked the segment for reads and writes and no
     * handler, which might load it, ran since: jit_translate.) */
    if (!(t->seg_hoist & (1u << segno)) || t->called) {
        emit_load(e, 2, H_RCX, jm(H_RBX, (int32_t)(seg + offsetof(X86Seg, ok))));
        emit_alu_ri(e, 4, ALU_AND, H_RCX, 0x100 | need);
        emit_alu_ri(e, 4, ALU_CMP, H_RCX, 0x100 | need);
        stub_jcc(t, s, HC_NE);
    }
    emit_alu_rm(e, 4, ALU_ADD, H_RAX, jm(H_RBX, (int32_t)(seg + offsetof(X86Seg, base))));
    /* index = ((lin >> 12) ^ (lin >> 20)) & 255, as x86_tlb_index */
    emit_mov_rr(e, 4, H_RDX, H_RAX);
    emit_shift_ri(e, 4, 5, H_RDX, 12);
    if (TLB_SIZE == 256) {
        /* DL = bits 12-19, DH = bits 20-27 of the address */
        emit_u8(e, 0x30); /* XOR DL, DH */
        emit_u8(e, 0xf2);
        emit_movzx(e, 1, H_RDX, H_RDX);
    } else {
        emit_mov_rr(e, 4, H_RCX, H_RAX);
        emit_shift_ri(e, 4, 5, H_RCX, 20);
        emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
        emit_alu_ri(e, 4, ALU_AND, H_RDX, TLB_SIZE - 1);
    }
    if (sizeof(X86Tlb) == 48) {
        emit_lea(e, 4, H_RDX, (JitMem){ H_RDX, H_RDX, 1, 0 }); /* x3 */
        emit_shift_ri(e, 4, 4, H_RDX, 4);                      /* x16 */
    } else if (sizeof(X86Tlb) == 64) {
        emit_shift_ri(e, 4, 4, H_RDX, 6);                      /* x64 */
    } else {
        emit_op_rr(e, 4, 0x69, H_RDX, H_RDX); /* IMUL EDX, EDX, imm32 */
        emit_u32(e, (uint32_t)sizeof(X86Tlb));
    }
    emit_alu_rm(e, 8, ALU_ADD, H_RDX, CPU(tlb));
    emit_mov_rr(e, 4, H_RCX, H_RAX);
    emit_alu_ri(e, 4, ALU_AND, H_RCX, 0xfffff000u);
    /* The whole tag: RCX (a 32-bit address, zero-extended) must not match the entry of
     * a 64-bit address whose low 32 bits agree. */
    emit_alu_rm(e, (unsigned)sizeof(((X86Tlb *)0)->tag_r), ALU_CMP, H_RCX,
                jm(H_RDX, write ? (int32_t)offsetof(X86Tlb, tag_w) : (int32_t)offsetof(X86Tlb, tag_r)));
    stub_jcc(t, s, HC_NE);
    if (size > 1) {
        emit_mov_rr(e, 4, H_RCX, H_RAX);
        emit_alu_ri(e, 4, ALU_AND, H_RCX, 0xfff);
        emit_alu_ri(e, 4, ALU_CMP, H_RCX, 0x1000 - size);
        stub_jcc(t, s, HC_A);
    }
    emit_load(e, 8, H_RSI, jm(H_RDX, write ? (int32_t)offsetof(X86Tlb, add_w) : (int32_t)offsetof(X86Tlb, add_r)));
    return jmx(H_RSI, H_RAX, 0);
}

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

/* EAX = EAX op ECX with the lazy flags written as alu.c's handlers write them:
 * cc_src1/src2 the operands, cc_res the result (masked to size). */
static void emit_alu_flags(Tr *t, unsigned aluop, unsigned size)
{
    JitEmit *e = &t->e;
    bool carry = aluop == ALU_ADC || aluop == ALU_SBB;
    if (t->dead) {
        /* Nothing reads these flags: the lazy state stays as it was. */
        if (carry)
            emit_bt_r13(e);
        if (aluop != ALU_CMP)
            emit_alu_rr(e, 4, aluop, H_RAX, H_RCX);
        return;
    }
    emit_store(e, 4, CPU(cc_src1), H_RAX);
    emit_store(e, 4, CPU(cc_src2), H_RCX);
    unsigned host = aluop == ALU_CMP ? ALU_SUB : aluop;
    if (carry)
        emit_bt_r13(e); /* CF in: emit_cf_to_r13 ran before the operands */
    emit_alu_rr(e, 4, host, H_RAX, H_RCX);
    if (size < 4 && (host == ALU_ADD || host == ALU_SUB || carry))
        emit_movzx(e, size, H_RAX, H_RAX);
    t->hflags_out = size == 4; /* (only moves follow) */
    emit_store(e, 4, CPU(cc_res), H_RAX);
    unsigned base = host == ALU_ADD ? CC_ADD8 : host == ALU_SUB ? CC_SUB8 : host == ALU_ADC ? CC_ADC8
                  : host == ALU_SBB ? CC_SBB8 : CC_LOGIC8;
    unsigned cc = CC_OP(base, size);
    emit_cc_op(t, cc);
}

/* TEST: result only, sources 0 (alu.c's test_*). EAX &= ECX. */
static void emit_test_flags(Tr *t, unsigned size)
{
    JitEmit *e = &t->e;
    if (t->dead)
        return;
    emit_alu_rr(e, 4, ALU_AND, H_RAX, H_RCX);
    t->hflags_out = size == 4;
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_store_imm(e, 4, CPU(cc_src1), 0);
    emit_store_imm(e, 4, CPU(cc_src2), 0);
    emit_cc_op(t, CC_OP(CC_LOGIC8, size));
}

/* Whether an ALU op is pure in the dead-flags sense: ADC/SBB read CF. */
static bool inline_alu_ok(unsigned aluop)
{
    return aluop != ALU_ADC && aluop != ALU_SBB;
}

static void emit_host_flags(Tr *t, unsigned cc);
static void emit_setcc(JitEmit *e, unsigned cc, int r);

/* R13D = the guest's CF (0/1) before an ADC/SBB, from the known producer or
 * x86_flag_cf; R13 is callee-saved, so the operand fetch that follows keeps it. */
static void emit_cf_to_r13(Tr *t)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    if (kc >= CC_LOGIC8 && kc <= CC_LOGIC32) {
        emit_mov_ri32(e, H_R13, 0);
        return;
    }
    if (t->hflags) {
        t->hflags = false;
        emit_setcc(e, HC_B, H_RAX);
    } else if ((kc >= CC_ADD8 && kc <= CC_ADD32) || (kc >= CC_SUB8 && kc <= CC_SUB32)) {
        emit_host_flags(t, (unsigned)kc);
        emit_setcc(e, HC_B, H_RAX);
    } else if ((kc >= CC_INC8 && kc <= CC_DEC32) || kc == CC_EAGER) {
        emit_load(e, 4, H_RAX, CPU(eflags));
        emit_alu_ri(e, 4, ALU_AND, H_RAX, X86_FL_CF);
    } else {
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        jit_emit_helper(t, (const void *)x86_flag_cf);
        emit_movzx(e, 1, H_RAX, H_RAX);
    }
    emit_mov_rr(e, 4, H_R13, H_RAX);
}

/* ALU, TEST and MOV between registers, memory and immediates. kind: 0 E,G  1 G,E
 * 2 E,imm. op: an ALU op, or -1 for MOV, -2 for TEST. */
static bool tr_binop(Tr *t, unsigned k, int op, unsigned kind, unsigned size)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    bool mem = i->pfx & X86_PFX_MEM;
    bool mov = op == -1, test = op == -2, cmp = op == ALU_CMP;
    if (op == ALU_ADC || op == ALU_SBB)
        emit_cf_to_r13(t);
    if (!mem) {
        unsigned dst = kind == 1 ? i->reg : i->rm;
        if (mov) {
            if (kind == 2) {
                emit_store_imm(e, size, greg(t, size, dst), i->imm & mask_of(size));
            } else {
                emit_load(e, size, H_RCX, greg(t, size, kind == 1 ? i->rm : i->reg));
                emit_store(e, size, greg(t, size, dst), H_RCX);
            }
            return true;
        }
        if (t->dead && !test && !cmp) {
            /* Flags unread: one host instruction on the guest register in memory. */
            bool carry = op == ALU_ADC || op == ALU_SBB;
            if (kind != 2)
                emit_load(e, size, H_RCX, greg(t, size, kind == 1 ? i->rm : i->reg));
            if (carry)
                emit_bt_r13(e);
            if (kind == 2)
                emit_alu_mi(e, size, (unsigned)op, greg(t, size, dst), i->imm & mask_of(size));
            else
                emit_op_rm(e, size, ((unsigned)op << 3) | (size == 1 ? 0u : 1u), H_RCX, greg(t, size, dst));
            return true;
        }
        emit_load(e, size, H_RAX, greg(t, size, dst));
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, kind == 1 ? i->rm : i->reg));
        if (test) {
            emit_test_flags(t, size);
            return true;
        }
        emit_alu_flags(t, (unsigned)op, size);
        if (!cmp)
            emit_store(e, size, greg(t, size, dst), H_RAX);
        return true;
    }
    Stub *s = stub_new(t, k);
    if (kind == 1) {
        /* reg op= [mem], MOV reg, [mem] */
        JitMem m = emit_probe(t, s, i, size, SEG_OK_READ, false);
        emit_load(e, size, H_RCX, m);
        if (mov) {
            emit_store(e, size, greg(t, size, i->reg), H_RCX);
        } else {
            emit_load(e, size, H_RAX, greg(t, size, i->reg));
            emit_alu_flags(t, (unsigned)op, size);
            if (!cmp)
                emit_store(e, size, greg(t, size, i->reg), H_RAX);
        }
    } else if (mov) {
        JitMem m = emit_probe(t, s, i, size, SEG_OK_WRITE, true);
        if (kind == 2) {
            emit_store_imm(e, size, m, i->imm & mask_of(size));
        } else {
            emit_load(e, size, H_RCX, greg(t, size, i->reg));
            emit_store(e, size, m, H_RCX);
        }
    } else if (cmp || test) {
        JitMem m = emit_probe(t, s, i, size, SEG_OK_READ, false);
        emit_load(e, size, H_RDX, m);
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, i->reg));
        emit_mov_rr(e, 4, H_RAX, H_RDX);
        if (test)
            emit_test_flags(t, size);
        else
            emit_alu_flags(t, (unsigned)op, size);
    } else {
        /* Read-modify-write through the write translation (x86_rmw_begin). */
        JitMem m = emit_probe(t, s, i, size, SEG_OK_READ | SEG_OK_WRITE, true);
        emit_lea(e, 8, H_RSI, m);
        if (kind == 2)
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
        else
            emit_load(e, size, H_RCX, greg(t, size, i->reg));
        emit_load(e, size, H_RAX, jm(H_RSI, 0));
        emit_alu_flags(t, (unsigned)op, size);
        emit_store(e, size, jm(H_RSI, 0), H_RAX);
    }
    s->resume = emit_pos(e);
    return true;
}

/* INC/DEC of a register: CF moves into eflags first (alu.c's inc_dec). */
static bool tr_incdec(Tr *t, unsigned k, int r, unsigned size, bool dec)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    bool cf_zero = kc >= CC_LOGIC8 && kc <= CC_LOGIC32;
    bool cf_kept = (kc >= CC_INC8 && kc <= CC_DEC32) || kc == CC_EAGER;
    if (t->dead && r >= 0) {
        emit_alu_mi(e, size, dec ? ALU_SUB : ALU_ADD, greg(t, size, (unsigned)r), 1);
        return true;
    }
    /* (For a memory operand this comes before the probe: it only moves CF into
     * eflags where the lazy state already says what it is, as the handler does.) */
    if (cf_zero) {
        emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~X86_FL_CF);
    } else if (!cf_kept) {
        /* CF is in eflags already when the last producer was INC/DEC or eager. */
        emit_load(e, 4, H_RAX, CPU(cc_op));
        emit_alu_ri(e, 4, ALU_CMP, H_RAX, CC_EAGER);
        size_t eager = emit_jcc_fwd(e, HC_E);
        emit_alu_ri(e, 4, ALU_SUB, H_RAX, CC_INC8);
        emit_alu_ri(e, 4, ALU_CMP, H_RAX, CC_DEC32 - CC_INC8);
        size_t kept = emit_jcc_fwd(e, HC_BE);
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        jit_emit_helper(t, (const void *)x86_flag_cf);
        emit_movzx(e, 1, H_RAX, H_RAX);
        emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~X86_FL_CF);
        emit_alu_rm(e, 4, ALU_OR, H_RAX, CPU(eflags));
        emit_store(e, 4, CPU(eflags), H_RAX);
        emit_patch(e, eager, emit_pos(e));
        emit_patch(e, kept, emit_pos(e));
    }
    Stub *s = NULL;
    JitMem m;
    if (r >= 0) {
        m = greg(t, size, (unsigned)r);
    } else {
        /* Read-modify-write through the write translation (x86_rmw_begin). */
        s = stub_new(t, k);
        emit_lea(e, 8, H_RSI, emit_probe(t, s, &t->insns[k], size, SEG_OK_READ | SEG_OK_WRITE, true));
        m = jm(H_RSI, 0);
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
    return true;
}

static bool tr_lea(Tr *t, const X86Insn *i)
{
    emit_ea(t, i);
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
static void emit_host_flags(Tr *t, unsigned cc)
{
    JitEmit *e = &t->e;
    if (cc >= CC_LOGIC8 && cc <= CC_LOGIC32) {
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
static void emit_take_host_flags(Tr *t, bool logic)
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
    if ((kc >= CC_ADD8 && kc <= CC_ADD32) || (kc >= CC_SUB8 && kc <= CC_SUB32) || (kc >= CC_LOGIC8 && kc <= CC_LOGIC32)) {
        emit_host_flags(t, (unsigned)kc);
        emit_take_host_flags(t, kc >= CC_LOGIC8);
        return;
    }
    static const unsigned common[] = { CC_SUB32, CC_ADD32, CC_LOGIC32 };
    size_t done[4];
    emit_alu_mi(e, 4, ALU_CMP, CPU(cc_op), CC_EAGER);
    done[0] = emit_jcc_fwd(e, HC_E);
    for (unsigned k = 0; k < 3; k++) {
        emit_alu_mi(e, 4, ALU_CMP, CPU(cc_op), common[k]);
        size_t next = emit_jcc_fwd(e, HC_NE);
        emit_host_flags(t, common[k]);
        emit_take_host_flags(t, common[k] == CC_LOGIC32);
        done[k + 1] = emit_jmp_fwd(e);
        emit_patch(e, next, emit_pos(e));
    }
    emit_mov_rr(e, 8, H_RDI, H_RBX);
    jit_emit_helper(t, (const void *)sync_flags);
    for (unsigned k = 0; k < 4; k++)
        emit_patch(e, done[k], emit_pos(e));
}

/* SETcc into the low byte of r (AL-DL) and zero-extended. */
static void emit_setcc(JitEmit *e, unsigned cc, int r)
{
    emit_op_rr(e, 1, 0x0f90 | cc, 0, r);
    emit_movzx(e, 1, r, r);
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
        /* ROL/ROR keep SF ZF AF PF: materialize them, then set CF and OF. */
        if (t->known_cc != CC_EAGER)
            emit_materialize(t);
        emit_load(e, 4, H_RAX, dst);
        emit_shift_ri(e, 4, op, H_RAX, count);
        emit_store(e, 4, dst, H_RAX);
        emit_mov_rr(e, 4, H_RCX, H_RAX);
        emit_mov_rr(e, 4, H_RDX, H_RAX);
        if (op == 0) {
            /* CF = bit 0, OF = bit 31 ^ CF */
            emit_shift_ri(e, 4, 5, H_RDX, 31);
            emit_alu_ri(e, 4, ALU_AND, H_RCX, 1);
            emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
        } else {
            /* CF = bit 31, OF = bit 31 ^ bit 30 */
            emit_shift_ri(e, 4, 5, H_RCX, 31);
            emit_shift_ri(e, 4, 5, H_RDX, 30);
            emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
            emit_alu_ri(e, 4, ALU_AND, H_RDX, 1);
        }
        emit_shift_ri(e, 4, 4, H_RDX, 11); /* OF is bit 11, CF bit 0 */
        emit_alu_rr(e, 4, ALU_OR, H_RCX, H_RDX);
        emit_alu_mi(e, 4, ALU_AND, CPU(eflags), ~(uint32_t)(X86_FL_CF | X86_FL_OF));
        emit_op_rm(e, 4, 0x09, H_RCX, CPU(eflags)); /* OR [eflags], ECX */
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
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_store(e, 4, CPU(cc_src1), H_RCX);
    emit_store(e, 4, CPU(cc_src2), H_RDX);
    emit_store_imm(e, 4, CPU(cc_op), size == 2 ? CC_SHIFT16 : CC_SHIFT32);
    t->known_cc = size == 2 ? CC_SHIFT16 : CC_SHIFT32;
    return true;
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

static bool tr_shift(Tr *t, const X86Insn *i, unsigned count)
{
    unsigned size = shift_size(i, count);
    return size && tr_shift_to(t, i, count, greg(t, size, i->rm), size);
}

/* SHL/SHR/SAR of a memory operand by an immediate or one (shift_size): the same on
 * the host address a read-write probe gave (in RSI, which the shift leaves alone). A
 * count of 0 keeps its handler (the access and its faults without a change). */
static bool tr_shift_mem(Tr *t, unsigned k, unsigned count)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = shift_size(i, count);
    if (!size || i->reg < 4 || !count)
        return false;
    Stub *s = stub_new(t, k);
    emit_lea(e, 8, H_RSI, emit_probe(t, s, i, size, SEG_OK_READ | SEG_OK_WRITE, true));
    tr_shift_to(t, i, count, jm(H_RSI, 0), size);
    s->resume = emit_pos(e);
    return true;
}

/* SHL/SAL, SHR, SAR of a 32-bit register by CL (shift.c's group2): a count of zero
 * (CL & 31) changes nothing, not even the flags, so what the lazy state holds
 * afterwards is known only at run time. */
static bool tr_shift_cl(Tr *t, const X86Insn *i)
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
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_store(e, 4, CPU(cc_src1), H_R13);
    emit_store(e, 4, CPU(cc_src2), H_RDX);
    emit_store_imm(e, 4, CPU(cc_op), CC_SHIFT32);
    emit_patch(e, skip, emit_pos(e));
    t->known_cc = -1;
    return true;
}

/* IMUL r32, r/m32(register)[, imm] (alu.c's imul_3): the low half, and CF = OF =
 * whether the signed product overflowed, kept as CC_SHIFT32 with both sources. */
static bool tr_imul(Tr *t, const X86Insn *i)
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
    emit_store(e, 4, CPU(cc_res), H_RAX);
    emit_store(e, 4, CPU(cc_src1), H_RCX);
    emit_store(e, 4, CPU(cc_src2), H_RCX);
    emit_store_imm(e, 4, CPU(cc_op), CC_SHIFT32);
    t->known_cc = CC_SHIFT32;
    return true;
}

#define SEG_FIELD(segno, field) jm(H_RBX, (int32_t)(offsetof(X86Cpu, seg) + sizeof(X86Seg) * (segno) + offsetof(X86Seg, field)))

/* The stack fast path of move.c's push_r32_flat / pop_r32_flat and control.c's
 * call_rel32_flat / ret32_flat: a 32-bit stack (SS.B) in a flat segment; with cs,
 * also a flat CS (no limit check of the new EIP). Leaves EAX = the address's offset
 * (ESP - 4 for a push, ESP for a pop) and returns the operand. */
static JitMem emit_stack_probe(Tr *t, Stub *s, bool push, bool cs)
{
    JitEmit *e = &t->e;
    emit_alu_mi(e, 1, ALU_CMP, CPU(ss32), 0);
    stub_jcc(t, s, HC_E);
    if (cs) {
        emit_alu_mi(e, 1, ALU_CMP, SEG_FIELD(S_CS, flat), 0);
        stub_jcc(t, s, HC_E);
    }
    emit_load(e, 4, H_RAX, greg(t, 4, R_ESP));
    if (push)
        emit_alu_ri(e, 4, ALU_SUB, H_RAX, 4);
    return emit_probe_at(t, s, S_SS, 4, push ? SEG_OK_WRITE : SEG_OK_READ, push);
}

/* PUSH r32 / POP r32. */
static bool tr_pushpop(Tr *t, unsigned k, bool push)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = stub_new(t, k);
    JitMem m = emit_stack_probe(t, s, push, false);
    if (push) {
        emit_load(e, 4, H_RCX, greg(t, 4, i->reg)); /* PUSH ESP stores the old value */
        emit_store(e, 4, m, H_RCX);
        emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
    } else {
        emit_load(e, 4, H_RCX, m);
        emit_alu_mi(e, 4, ALU_ADD, greg(t, 4, R_ESP), 4);
        emit_store(e, 4, greg(t, 4, i->reg), H_RCX); /* POP ESP keeps the popped value */
    }
    s->resume = emit_pos(e);
    return true;
}

/* PUSH imm8/imm32 and PUSH r/m32 (move.c's push_imm, and group 5's PUSH), 32-bit
 * operand size: the source (a register, or memory through its own probe) is read
 * into R13D first, so either probe's slow path starts from the instruction's own
 * state. */
static bool tr_push_value(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = stub_new(t, k);
    if (i->opcode != 0xff) {
        emit_mov_ri32(e, H_R13, i->imm);
    } else if (i->pfx & X86_PFX_MEM) {
        JitMem m = emit_probe(t, s, i, 4, SEG_OK_READ, false);
        emit_load(e, 4, H_R13, m);
    } else {
        emit_load(e, 4, H_R13, greg(t, 4, i->rm)); /* PUSH ESP stores the old value */
    }
    JitMem m = emit_stack_probe(t, s, true, false);
    emit_store(e, 4, m, H_R13);
    emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
    s->resume = emit_pos(e);
    return true;
}

/* MOV AL/eAX, moffs and MOV moffs, AL/eAX (A0-A3): the address is the displacement. */
static bool tr_mov_moffs(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = op_size(i, !(i->opcode & 1));
    bool store = i->opcode & 2;
    Stub *s = stub_new(t, k);
    emit_mov_ri32(e, H_RAX, i->disp);
    JitMem m = emit_probe_at(t, s, i->seg, size, store ? SEG_OK_WRITE : SEG_OK_READ, store);
    if (store) {
        emit_load(e, size, H_RCX, greg(t, size, R_EAX));
        emit_store(e, size, m, H_RCX);
    } else {
        emit_load(e, size, H_RCX, m);
        emit_store(e, size, greg(t, size, R_EAX), H_RCX);
    }
    s->resume = emit_pos(e);
    return true;
}

static unsigned emit_cond(Tr *t, unsigned cc);

/* CMOVcc r, m: the source is read whatever the condition (a fault is taken either
 * way, SDM vol. 2 CMOVcc), into R13, which the condition's call keeps. */
static bool tr_cmov_mem(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = x86_osize(i);
    Stub *s = stub_new(t, k);
    JitMem m = emit_probe(t, s, i, size, SEG_OK_READ, false);
    emit_load(e, size, H_R13, m);
    unsigned hc = emit_cond(t, i->opcode & 0xf);
    size_t skip = emit_jcc_fwd(e, hc ^ 1);
    emit_store(e, size, greg(t, size, i->reg), H_R13);
    emit_patch(e, skip, emit_pos(e));
    s->resume = emit_pos(e);
    return true;
}

/* JMP r/m32 and CALL r/m32 ending the block (control.c's group 5 forms, 32-bit
 * operand size, flat CS): the target, read first into R13D, leaves through the
 * lookup table of changing targets (chain.c, jit_ib_fill) instead of the
 * dispatcher. */
static bool tr_indirect(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    if (t->j->no_chain || !t->j->ib_routine)
        return false;
    Stub *s = stub_new(t, k);
    if (i->pfx & X86_PFX_MEM) {
        JitMem m = emit_probe(t, s, i, 4, SEG_OK_READ, false);
        emit_load(e, 4, H_R13, m);
    } else {
        emit_load(e, 4, H_R13, greg(t, 4, i->rm));
    }
    if (call) {
        JitMem m = emit_stack_probe(t, s, true, true);
        emit_lea(e, 4, H_RCX, jm(H_R12, (int32_t)t->off[k + 1]));
        emit_store(e, 4, m, H_RCX);
        emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
    } else {
        emit_alu_mi(e, 1, ALU_CMP, SEG_FIELD(S_CS, flat), 0);
        stub_jcc(t, s, HC_E);
    }
    emit_mov_rr(e, 4, H_RAX, H_R13);
    emit_store(e, 4, CPU(eip), H_RAX);
    jit_rc_writeback(t);
    emit_mov_ri32(e, H_R13, k + 1);
    emit_u8(e, 0xe9);
    emit_u32(e, (uint32_t)(t->j->ib_routine - (e->rx + emit_pos(e) + 4)));
    /* After the handler (stub): EIP is what it set. */
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* CALL rel32 / RET ending the block (32-bit operand size): the new EIP leaves
 * through a chained exit, whose guard also checks the linear address, so a RET
 * chains to where it returned last time and otherwise goes back to the dispatcher. */
static bool tr_callret(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = stub_new(t, k);
    JitMem m = emit_stack_probe(t, s, call, true);
    if (call) {
        emit_lea(e, 4, H_RCX, jm(H_R12, (int32_t)t->off[k + 1]));
        emit_store(e, 4, m, H_RCX);
        emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
        eip_to_eax(t, t->off[k + 1] + i->imm);
    } else {
        emit_load(e, 4, H_RCX, m);
        emit_alu_mi(e, 4, ALU_ADD, greg(t, 4, R_ESP), 4);
        emit_mov_rr(e, 4, H_RAX, H_RCX);
    }
    emit_store(e, 4, CPU(eip), H_RAX);
    jit_exit_chained(t, k + 1, true, call ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN);
    /* After the handler (stub): EIP is what it set. */
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* LOOP rel8 ending the block (control.c's loop_jcxz): ECX or CX minus one, taken
 * while not zero. The count is written only once the target passed the CS limit
 * check, so the slow path starts from the instruction's own state. */
static bool tr_loop(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned csize = (i->pfx & X86_PFX_AD32) ? 4 : 2;
    emit_load(e, csize, H_RDX, greg(t, csize, R_ECX));
    emit_alu_ri(e, 4, ALU_SUB, H_RDX, 1);
    if (csize == 2)
        emit_movzx(e, 2, H_RDX, H_RDX);
    emit_test_rr(e, 4, H_RDX, H_RDX);
    size_t taken = emit_jcc_fwd(e, HC_NE);
    emit_store(e, csize, greg(t, csize, R_ECX), H_RDX);
    eip_to_eax(t, t->off[k + 1]);
    emit_store(e, 4, CPU(eip), H_RAX);
    jit_exit_chained(t, k + 1, true, t->off[k + 1]);
    emit_patch(e, taken, emit_pos(e));
    eip_to_eax(t, t->off[k + 1] + i->imm);
    if (!(i->pfx & X86_PFX_OP32))
        emit_movzx(e, 2, H_RAX, H_RAX);
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, SEG_FIELD(S_CS, limit));
    Stub *s = stub_new(t, k);
    stub_jcc(t, s, HC_A);
    emit_store(e, csize, greg(t, csize, R_ECX), H_RDX);
    emit_store(e, 4, CPU(eip), H_RAX);
    jit_exit_chained(t, k + 1, true, (i->pfx & X86_PFX_OP32) ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* Host flags for guest condition cc (SDM vol. 1, B.1), returning the host
 * condition to test: when the flags' producer is known, the same host instruction
 * on its saved operands; otherwise x86_cond. Clobbers RAX (and, calling, the
 * caller-saved registers). */
static unsigned emit_cond(Tr *t, unsigned cc)
{
    JitEmit *e = &t->e;
    int kc = t->known_cc;
    if (t->hflags) {
        /* The producer was the previous instruction: its host instruction's flags
         * are still there. */
        t->hflags = false;
        return cc;
    }
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
    } else if (kc >= CC_INC8 && kc <= CC_DEC32 && (cc >> 1) != 1 && (cc >> 1) != 3) {
        /* INC/DEC: the host's ADD/SUB of 1 gives every flag but CF, which these
         * conditions do not read. */
        bool dec = kc >= CC_DEC8;
        unsigned size = 1u << (kc - (dec ? CC_DEC8 : CC_INC8));
        emit_load(e, 4, H_RAX, CPU(cc_src1));
        emit_op_rr(e, size, size == 1 ? 0x80 : 0x83, dec ? ALU_SUB : ALU_ADD, H_RAX);
        emit_u8(e, 1);
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
static bool tr_setcc_cmov(Tr *t, const X86Insn *i, bool set)
{
    JitEmit *e = &t->e;
    unsigned hc = emit_cond(t, i->opcode & 0xf);
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
static bool tr_movx(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned from = (i->opcode & 1) ? 2 : 1, size = x86_osize(i);
    unsigned op = i->opcode >= 0x0fbe ? (from == 1 ? 0x0fbe : 0x0fbf) : (from == 1 ? 0x0fb6 : 0x0fb7);
    Stub *s = NULL;
    JitMem m;
    if (i->pfx & X86_PFX_MEM) {
        s = stub_new(t, k);
        m = emit_probe(t, s, i, from, SEG_OK_READ, false);
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
static bool tr_notneg(Tr *t, const X86Insn *i, unsigned size)
{
    JitEmit *e = &t->e;
    if (i->reg == 2) {
        emit_op_rm(e, size, size == 1 ? 0xf6 : 0xf7, 2, greg(t, size, i->rm));
        return true;
    }
    emit_mov_ri32(e, H_RAX, 0);
    emit_load(e, size, H_RCX, greg(t, size, i->rm));
    emit_alu_flags(t, ALU_SUB, size);
    emit_store(e, size, greg(t, size, i->rm), H_RAX);
    return true;
}

/* CBW/CWDE, CWD/CDQ (alu.c's cbw, cwd). */
static bool tr_cbw_cwd(Tr *t, const X86Insn *i)
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
static bool tr_xchg(Tr *t, unsigned a, unsigned b, unsigned size)
{
    JitEmit *e = &t->e;
    emit_load(e, size, H_RAX, greg(t, size, a));
    emit_load(e, size, H_RCX, greg(t, size, b));
    emit_store(e, size, greg(t, size, a), H_RCX);
    emit_store(e, size, greg(t, size, b), H_RAX);
    return true;
}

/* Jcc / JMP rel ending the block: EIP of the target or the next instruction, and the
 * CS limit check of x86_jump_near (beyond it: the handler raises #GP). cc < 0: JMP. */
static bool tr_branch(Tr *t, unsigned k, int cc)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    size_t taken = 0;
    if (cc >= 0) {
        cc = (int)emit_cond(t, (unsigned)cc);
        taken = emit_jcc_fwd(e, (unsigned)cc);
        eip_to_eax(t, t->off[k + 1]);
        emit_store(e, 4, CPU(eip), H_RAX);
        jit_exit_chained(t, k + 1, true, t->off[k + 1]);
        emit_patch(e, taken, emit_pos(e));
    }
    eip_to_eax(t, t->off[k + 1] + i->imm);
    if (!(i->pfx & X86_PFX_OP32))
        emit_movzx(e, 2, H_RAX, H_RAX);
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, CPU_AT(seg, sizeof(X86Seg) * S_CS + offsetof(X86Seg, limit)));
    Stub *s = stub_new(t, k);
    stub_jcc(t, s, HC_A);
    emit_store(e, 4, CPU(eip), H_RAX);
    jit_exit_chained(t, k + 1, true, (i->pfx & X86_PFX_OP32) ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

static unsigned form_of(const X86Insn *i)
{
    unsigned op = i->opcode;
    unsigned f = (i->pfx & X86_PFX_MEM) && op != 0x8d ? IN_MEM : 0;
    if ((op < 0x40 && (op & 7) < 6) || (op >= 0x80 && op <= 0x83))
        return f | IN_ALU;
    if (op == 0x84 || op == 0x85 || op == 0xa8 || op == 0xa9 || op == 0xf6 || op == 0xf7)
        return f | IN_TEST;
    if ((op >= 0x88 && op <= 0x8b) || op == 0xc6 || op == 0xc7 || (op >= 0xb0 && op <= 0xbf))
        return f | IN_MOV;
    if ((op >= 0x40 && op <= 0x4f) || op == 0xfe || (op == 0xff && i->reg != 6))
        return f | IN_INCDEC;
    if (op == 0x8d)
        return IN_LEA;
    if (op == 0xc1 || op == 0xd1 || op == 0xd3)
        return f | IN_SHIFT;
    if (op == 0xff && (i->reg == 2 || i->reg == 4))
        return f | IN_BRANCH;
    if ((op >= 0x50 && op <= 0x5f) || op == 0xe8 || op == 0xc3 || op == 0x6a || op == 0x68 || op == 0xff)
        return op == 0xff && i->reg != 6 ? f | IN_INCDEC : f | IN_STACK;
    if (op == 0x90 || (op >= 0x0fc8 && op <= 0x0fcf) || (op >= 0xa0 && op <= 0xa3) || op == 0x0fae)
        return f | IN_MISC;
    if ((op >= 0x0f90 && op <= 0x0f9f) || (op >= 0x0f40 && op <= 0x0f4f) || (op >= 0x0fb6 && op <= 0x0fbf) ||
        op == 0x98 || op == 0x99 || op == 0x86 || op == 0x87 || (op >= 0x91 && op <= 0x97))
        return f | IN_MISC;
    if (op == 0x69 || op == 0x6b || op == 0x0faf)
        return f | IN_IMUL;
    return IN_BRANCH;
}

/* Whether i is certain to compile inline without an out-of-line path (so it cannot
 * fault or call anything); *writes: the arithmetic flags it sets. */
static bool inline_pure(const X86Insn *i, unsigned inline_mask, uint32_t *writes)
{
    unsigned op = i->opcode;
    const uint32_t all = X86_FL_ARITH;
    *writes = 0;
    if ((i->pfx & (X86_PFX_MEM | X86_PFX_LOCK)) || i->handler == x86_handle_ud || (i->flags & X86_INSN_END_BLOCK))
        return false;
    if (op == 0x8d)
        return false; /* LEA has a memory operand form only */
    unsigned form = form_of(i);
    if ((form & inline_mask) != form)
        return false;
    if (op < 0x40 && (op & 7) < 6) {
        *writes = all;
        return inline_alu_ok(op >> 3);
    }
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83:
        *writes = all;
        return inline_alu_ok(i->reg);
    case 0x84: case 0x85: case 0xa8: case 0xa9:
        *writes = all;
        return true;
    case 0xf6: case 0xf7:
        *writes = i->reg == 2 ? 0 : all;
        return i->reg <= 3;
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
    case 0x98: case 0x99: case 0x86: case 0x87: case 0x91 ... 0x97:
        return true;
    case 0x88 ... 0x8b: case 0xb0 ... 0xbf:
        return true;
    case 0xc6: case 0xc7:
        return i->reg == 0;
    case 0x40 ... 0x4f:
        *writes = all & ~X86_FL_CF;
        return true;
    case 0xfe: case 0xff:
        *writes = all & ~X86_FL_CF;
        return i->reg <= 1;
    case 0xc1: case 0xd1:
        if (x86_osize(i) != 4 || i->reg == 2 || i->reg == 3)
            return false;
        if (op == 0xc1 && !(i->imm & 0x1f))
            return true;
        *writes = i->reg <= 1 ? X86_FL_CF | X86_FL_OF : all;
        return true;
    case 0x69: case 0x6b: case 0x0faf:
        *writes = all;
        return x86_osize(i) == 4;
    case 0x90:
        return true;
    case 0x0fc8 ... 0x0fcf:
        return x86_osize(i) == 4;
    }
    return false;
}

/* Backwards over the block: an instruction's flags are dead when later inline code
 * overwrites them all before anything can read them. Everything that is not pure
 * inline code (a handler, a slow path that may fault, the block's end) reads all:
 * a fault must see the flags of its instruction exactly. */
static void flag_liveness(Tr *t)
{
    uint32_t live = X86_FL_ARITH;
    for (unsigned k = t->n; k-- > 0;) {
        uint32_t w;
        unsigned mask = t->j->inline_mask;
        bool pure = (mask & IN_DEADFLAGS) && inline_pure(&t->insns[k], mask, &w);
        t->deadv[k] = pure && w && !(w & live);
        if (!pure)
            live = X86_FL_ARITH;
        else
            live &= ~w;
    }
}

/* Compiles instruction k inline if it is one of the simple forms; false: call. */
static bool tr_inline(Tr *t, unsigned k)
{
    const X86Insn *i = &t->insns[k];
    unsigned op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    bool last = k + 1 == t->n;
    /* #UD, LOCK and over-long instructions keep their handlers. */
    if (i->handler == x86_handle_ud || (i->pfx & X86_PFX_LOCK))
        return false;
    unsigned form = form_of(i);
    if ((form & t->j->inline_mask) != form)
        return false;
    bool is_branch = (op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f) || op == 0xe9 || op == 0xeb;
    if (is_branch)
        return last && tr_branch(t, k, op == 0xe9 || op == 0xeb ? -1 : (int)(op & 0xf));
    if ((op == 0xe8 || op == 0xc3) && last && x86_osize(i) == 4)
        return tr_callret(t, k, op == 0xe8);
    if (op == 0xe2 && last)
        return tr_loop(t, k);
    if (op == 0xff && (i->reg == 2 || i->reg == 4) && last && x86_osize(i) == 4)
        return tr_indirect(t, k, i->reg == 2);
    if (i->flags & X86_INSN_END_BLOCK)
        return false;
    if (op < 0x40 && (op & 7) < 6) {
        unsigned aluop = op >> 3;
        switch (op & 7) {
        case 0: return tr_binop(t, k, (int)aluop, 0, 1);
        case 1: return tr_binop(t, k, (int)aluop, 0, op_size(i, false));
        case 2: return tr_binop(t, k, (int)aluop, 1, 1);
        case 3: return tr_binop(t, k, (int)aluop, 1, op_size(i, false));
        default: {
            /* AL/eAX, imm: as the E,imm form with rm = EAX. */
            unsigned size = (op & 7) == 4 ? 1 : op_size(i, false);
            JitEmit *e = &t->e;
            if (aluop == ALU_ADC || aluop == ALU_SBB)
                emit_cf_to_r13(t);
            emit_load(e, size, H_RAX, greg(t, size, R_EAX));
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
            emit_alu_flags(t, aluop, size);
            if (aluop != ALU_CMP)
                emit_store(e, size, greg(t, size, R_EAX), H_RAX);
            return true;
        }
        }
    }
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83:
        return tr_binop(t, k, i->reg, 2, op_size(i, op == 0x80 || op == 0x82));
    case 0x84: case 0x85:
        return tr_binop(t, k, -2, 0, op_size(i, op == 0x84));
    case 0xa8: case 0xa9: {
        unsigned size = op_size(i, op == 0xa8);
        emit_load(&t->e, size, H_RAX, greg(t, size, R_EAX));
        emit_mov_ri32(&t->e, H_RCX, i->imm & mask_of(size));
        emit_test_flags(t, size);
        return true;
    }
    case 0xf6: case 0xf7:
        if (i->reg == 2 || i->reg == 3)
            return !mem && tr_notneg(t, i, op_size(i, op == 0xf6));
        if (i->reg > 1)
            return false;
        return tr_binop(t, k, -2, 2, op_size(i, op == 0xf6));
    case 0x0f90 ... 0x0f9f:
        return !mem && tr_setcc_cmov(t, i, true);
    case 0x0f40 ... 0x0f4f:
        return mem ? tr_cmov_mem(t, k) : tr_setcc_cmov(t, i, false);
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
        return tr_movx(t, k);
    case 0x98: case 0x99:
        return tr_cbw_cwd(t, i);
    case 0x86: case 0x87:
        return !mem && tr_xchg(t, i->reg, i->rm, op_size(i, op == 0x86));
    case 0x91 ... 0x97:
        return tr_xchg(t, R_EAX, i->reg, op_size(i, false));
    case 0x88: case 0x89:
        return tr_binop(t, k, -1, 0, op_size(i, op == 0x88));
    case 0x8a: case 0x8b:
        return tr_binop(t, k, -1, 1, op_size(i, op == 0x8a));
    case 0xc6: case 0xc7:
        if (i->reg != 0)
            return false;
        return tr_binop(t, k, -1, 2, op_size(i, op == 0xc6));
    case 0xb0 ... 0xb7:
        emit_store_imm(&t->e, 1, greg(t, 1, i->reg), i->imm & 0xff);
        return true;
    case 0xb8 ... 0xbf: {
        unsigned size = op_size(i, false);
        emit_store_imm(&t->e, size, greg(t, size, i->reg), i->imm & mask_of(size));
        return true;
    }
    case 0x8d:
        return mem && tr_lea(t, i);
    case 0x40 ... 0x47:
    case 0x48 ... 0x4f:
        return tr_incdec(t, k, (int)i->reg, op_size(i, false), op >= 0x48);
    case 0xfe: case 0xff:
        if (op == 0xff && i->reg == 6)
            return x86_osize(i) == 4 && tr_push_value(t, k);
        if (i->reg > 1)
            return false;
        return tr_incdec(t, k, mem ? -1 : (int)i->rm, op_size(i, op == 0xfe), i->reg == 1);
    case 0x6a: case 0x68:
        return x86_osize(i) == 4 && tr_push_value(t, k);
    case 0xa0 ... 0xa3:
        return tr_mov_moffs(t, k);
    case 0x90:
        return true; /* NOP (and PAUSE) */
    case 0x0fae:
        /* LFENCE and SFENCE order nothing the host's TSO does not; MFENCE also
         * orders stores before loads, which other vCPU threads can see. */
        if (mem || i->reg < 5)
            return false;
        if (i->reg == 6) {
            emit_u8(&t->e, 0x0f);
            emit_u8(&t->e, 0xae);
            emit_u8(&t->e, 0xf0);
        }
        return true;
    case 0x0fc8 ... 0x0fcf: {
        if (x86_osize(i) != 4)
            return false;
        JitEmit *e = &t->e;
        emit_load(e, 4, H_RAX, greg(t, 4, i->reg));
        emit_u8(e, 0x0f); /* BSWAP EAX */
        emit_u8(e, 0xc8);
        emit_store(e, 4, greg(t, 4, i->reg), H_RAX);
        return true;
    }
    case 0xc1: case 0xd1:
        if (mem)
            return tr_shift_mem(t, k, op == 0xd1 ? 1 : i->imm & 0x1f);
        return tr_shift(t, i, op == 0xd1 ? 1 : i->imm & 0x1f);
    case 0xd3:
        if (mem || x86_osize(i) != 4 || i->reg < 4)
            return false;
        return tr_shift_cl(t, i);
    case 0x50 ... 0x57: case 0x58 ... 0x5f:
        if (x86_osize(i) != 4)
            return false;
        return tr_pushpop(t, k, op < 0x58);
    case 0x69: case 0x6b: case 0x0faf:
        if (mem || x86_osize(i) != 4)
            return false;
        return tr_imul(t, i);
    }
    return false;
}

/* The 32-bit registers an inline form of i will most likely use (its address's
 * base and index, its register operands, ESP for the stack forms): loaded before
 * the instruction is first emitted, so that most instructions are emitted once. A
 * guess: what it misses is asked for (want), what it loads needlessly costs a load. */
static uint8_t rc_predict(Tr *t, const X86Insn *i)
{
    unsigned op = i->opcode, form = form_of(i);
    if ((form & t->j->inline_mask) != form || (i->pfx & X86_PFX_LOCK))
        return 0;
    bool mem = i->pfx & X86_PFX_MEM;
    uint32_t m = 0;
    if (mem && i->base < 8)
        m |= 1u << i->base;
    if (mem && i->index < 8)
        m |= 1u << i->index;
    if ((op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a || op == 0xe8 || op == 0xc3 ||
        (op == 0xff && (i->reg == 2 || i->reg == 6)))
        m |= 1u << R_ESP;
    if (x86_osize(i) != 4)
        return (uint8_t)m;
    bool reg_rm = (op < 0x40 && (op & 7) < 4 && (op & 1)) || op == 0x85 || op == 0x87 || op == 0x89 || op == 0x8b ||
                  op == 0x8d || op == 0x0faf || op == 0x69 || op == 0x6b || op == 0x0fb6 || op == 0x0fb7 ||
                  op == 0x0fbe || op == 0x0fbf || (op >= 0x0f40 && op <= 0x0f4f);
    bool digit = op == 0x81 || op == 0x83 || op == 0xc1 || op == 0xd1 || op == 0xd3 || op == 0xf7 || op == 0xc7 ||
                 op == 0xff;
    if (reg_rm && i->reg < 8)
        m |= 1u << i->reg;
    if ((reg_rm || digit) && !mem && i->rm < 8)
        m |= 1u << i->rm;
    if (((op >= 0x40 && op <= 0x5f) || (op >= 0xb8 && op <= 0xbf) || (op >= 0x0fc8 && op <= 0x0fcf)) && i->reg < 8)
        m |= 1u << i->reg;
    if (op == 0xd3)
        m |= 1u << R_ECX;
    return (uint8_t)m;
}

/* Where the emission of an instruction started: it is emitted again from here when
 * the register cache has to load or write back registers first. */
typedef struct TrMark {
    size_t pos;
    unsigned nstubs, nexits, n_inline;
    int known_cc;
    bool called, failed, overflow, hflags, hflags_out;
    RegCache rc;
} TrMark;

static void mark_save(Tr *t, TrMark *m)
{
    *m = (TrMark){ emit_pos(&t->e), t->nstubs, t->nexits, t->n_inline, t->known_cc, t->called, t->failed,
                   t->e.overflow, t->hflags, t->hflags_out, t->rc };
}

static void mark_restore(Tr *t, const TrMark *m)
{
    t->e.p = t->e.start + m->pos;
    t->e.overflow = m->overflow;
    t->nstubs = m->nstubs;
    t->nexits = m->nexits;
    t->n_inline = m->n_inline;
    t->known_cc = m->known_cc;
    t->called = m->called;
    t->failed = m->failed;
    t->hflags = m->hflags;
    t->hflags_out = m->hflags_out;
    t->rc = m->rc;
}

void jit_emit_leave(JitEmit *e)
{
    emit_alu_ri(e, 8, ALU_ADD, H_RSP, 8);
    emit_pop(e, H_R15);
    emit_pop(e, H_R14);
    emit_pop(e, H_RBP);
    emit_pop(e, H_R13);
    emit_pop(e, H_R12);
    emit_pop(e, H_RBX);
    emit_ret(e);
}

/* Instruction k: inline, or its handler called. */
static void tr_one(Tr *t, unsigned k, bool allow_inline)
{
    JitEmit *e = &t->e;
    bool last = k + 1 == t->n;
    bool is_branch = t->insns[k].flags & X86_INSN_END_BLOCK;
    TrMark m;
    mark_save(t, &m);
    if (allow_inline && tr_inline(t, k)) {
        t->n_inline++;
        if (t->nstubs != m.nstubs)
            t->hflags_out = false; /* a slow path's handler call rejoins after it */
        if (last && !is_branch) {
            eip_to_eax(t, t->off[t->n]);
            emit_store(e, 4, CPU(eip), H_RAX);
            jit_exit_chained(t, t->n, false, t->off[t->n]);
        }
        return;
    }
    mark_restore(t, &m);
    t->hflags_out = false;
    jit_rc_flush(t);
    call_handler(t, k);
    t->called = true;
    t->known_cc = -1;
    if (last && (!allow_inline || !(t->j->inline_mask & IN_CALLCHAIN))) {
        jit_exit_with(t, t->n);
    } else if (last) {
        /* On to wherever the handler left EIP (IRET, far transfers, RET imm16, the
         * end of a page or of 48 instructions), through a chainable exit whose guard
         * makes all of the dispatcher's tests, as after any handler. */
        check_exit(t, k + 1);
        emit_load(e, 4, H_RAX, CPU(eip));
        jit_exit_chained(t, t->n, false, JIT_DELTA_UNKNOWN);
    } else {
        check_exit(t, k + 1);
    }
}

bool jit_translate(Tr *t, bool allow_inline)
{
    JitEmit *e = &t->e;
    /* Six pushes and 8 bytes keep RSP 16-byte aligned for the calls (SysV ABI);
     * RBP, R14 and R15 belong to the register cache. */
    emit_push(e, H_RBX);
    emit_push(e, H_R12);
    emit_push(e, H_R13);
    emit_push(e, H_RBP);
    emit_push(e, H_R14);
    emit_push(e, H_R15);
    emit_alu_ri(e, 8, ALU_SUB, H_RSP, 8);
    emit_mov_rr(e, 8, H_RBX, H_RDI);
    emit_load(e, 4, H_R12, CPU(eip));
    size_t over = emit_jmp_fwd(e);
    t->epilogue = emit_pos(e);
    jit_emit_leave(e);
    emit_patch(e, over, emit_pos(e));
    t->j->body = emit_pos(e); /* the same for every block */

    /* Segments the block's memory operands use more than once, flat and allowing
     * reads and writes now: checked once here instead of at each access (probes
     * before the first handler call skip the test). A block entered when one no
     * longer is runs through the interpreter's handlers. */
    t->seg_hoist = 0;
    size_t seg_fail[8];
    unsigned nfail = 0;
    if (allow_inline && (t->j->inline_mask & IN_SEGCHECK)) {
        unsigned uses[8] = { 0 };
        for (unsigned k = 0; k < t->n; k++) {
            const X86Insn *i = &t->insns[k];
            unsigned op = i->opcode;
            if ((i->pfx & X86_PFX_MEM) && op != 0x8d && i->seg < 6)
                uses[i->seg]++;
            if ((op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a || op == 0xe8 || op == 0xc3 ||
                (op == 0xff && (i->reg == 2 || i->reg == 6)))
                uses[S_SS]++;
        }
        for (unsigned sg = 0; sg < 6; sg++) {
            const X86Seg *d = &t->c->seg[sg];
            if (uses[sg] < 2 || !d->flat || (d->ok & (SEG_OK_READ | SEG_OK_WRITE)) != (SEG_OK_READ | SEG_OK_WRITE))
                continue;
            size_t off = offsetof(X86Cpu, seg) + sizeof(X86Seg) * sg + offsetof(X86Seg, ok);
            emit_load(e, 2, H_RCX, jm(H_RBX, (int32_t)off));
            emit_alu_ri(e, 4, ALU_AND, H_RCX, 0x100 | SEG_OK_READ | SEG_OK_WRITE);
            emit_alu_ri(e, 4, ALU_CMP, H_RCX, 0x100 | SEG_OK_READ | SEG_OK_WRITE);
            seg_fail[nfail++] = emit_jcc_fwd(e, HC_NE);
            t->seg_hoist |= (uint8_t)(1u << sg);
        }
    }

    RegCache *rc = &t->rc;
    memset(rc, 0, sizeof(*rc));
    memset(rc->host, -1, sizeof(rc->host));
    rc->on = allow_inline && (t->j->inline_mask & IN_REGCACHE);
    if (allow_inline)
        flag_liveness(t);
    for (unsigned k = 0; k < t->n; k++) {
        t->dead = allow_inline && t->deadv[k];
        rc->nocache = 0;
        if (rc->on) {
            uint8_t pre = rc_predict(t, &t->insns[k]);
            for (unsigned r = 0; r < 8; r++)
                if ((pre & (1u << r)) && rc->host[r] < 0)
                    jit_rc_alloc(t, r, pre);
        }
        /* Host flags of a 32-bit ADD/ADC/SUB/SBB/CMP/logic/TEST producer that was the
         * previous instruction, for a condition computed first thing (emit_cond). */
        t->hflags = t->hflags_out && (t->j->inline_mask & IN_HOSTFLAGS);
        t->hflags_out = false;
        TrMark m;
        mark_save(t, &m);
        for (unsigned pass = 0;; pass++) {
            rc->want = rc->small = rc->used = 0;
            tr_one(t, k, allow_inline);
            if (!rc->want && !rc->small)
                break;
            /* Again, with what it asked for loaded (or bytes it used written back). */
            uint8_t want = rc->want, small = rc->small, keep = rc->used | rc->want;
            mark_restore(t, &m);
            if (pass >= 2) {
                jit_rc_flush(t);
                rc->nocache = 0xff;
            } else {
                for (unsigned r = 0; r < 8; r++)
                    if (small & (1u << r))
                        jit_rc_evict(t, r);
                rc->nocache |= small;
                for (unsigned r = 0; r < 8; r++)
                    if ((want & ~rc->nocache) & (1u << r))
                        jit_rc_alloc(t, r, keep);
            }
            mark_save(t, &m);
        }
        for (unsigned s = m.nstubs; s < t->nstubs; s++) {
            memcpy(t->stubs[s].rc_host, rc->host, sizeof(rc->host));
            t->stubs[s].rc_dirty = rc->dirty;
        }
    }
    /* Slow paths: the cache written back, the handler, then on with the block (or
     * out if it said so) with the cache reloaded. */
    for (unsigned s = 0; s < t->nstubs; s++) {
        Stub *st = &t->stubs[s];
        for (unsigned f = 0; f < st->nfields; f++)
            emit_patch(e, st->fields[f], emit_pos(e));
        for (unsigned r = 0; r < 8; r++)
            if (st->rc_dirty & (1u << r))
                emit_store(e, 4, greg_mem(4, r), st->rc_host[r]);
        call_handler(t, st->k);
        check_exit(t, st->k + 1);
        for (unsigned r = 0; r < 8; r++)
            if (st->rc_host[r] >= 0)
                emit_load(e, 4, st->rc_host[r], greg_mem(4, r));
        emit_jmp_to(e, st->resume);
    }
    /* Early exits after handlers: EIP is already set. */
    for (unsigned x = 0; x < t->nexits; x++) {
        emit_patch(e, t->exit_fields[x], emit_pos(e));
        jit_exit_with(t, t->exit_count[x]);
    }
    /* A segment checked at the entry is not flat or not writable any more. */
    if (nfail) {
        for (unsigned f = 0; f < nfail; f++)
            emit_patch(e, seg_fail[f], emit_pos(e));
        emit_mov_ri64(e, H_RAX, (uint64_t)(uintptr_t)&t->j->stats.entry_interp);
        emit_alu_mi(e, 8, ALU_ADD, jm(H_RAX, 0), 1);
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        emit_mov_ri64(e, H_RSI, (uint64_t)(uintptr_t)t->insns);
        emit_mov_ri32(e, H_RDX, t->n);
        emit_call(e, (const void *)jit_run_interp);
        emit_jmp_to(e, t->epilogue);
    }
    return !e->overflow && !t->failed;
}
