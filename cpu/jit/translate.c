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
 * Register use in generated code: RBX = the X86Cpu; the guest registers' homes R8-R11,
 * R12, RBP, R14, R15 (regcache.c); RAX, RCX, RDX, RSI, RDI, R13 scratch. A block's code
 * is position independent in EIP (the same physical code runs at other CS bases): it
 * computes EIPs from c->block_eip, the EIP it was entered at. */
#include "cpu/jit/translate.h"
#include "engine/config.h"
#include "engine/log.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* prev_eip and eip as the dispatcher sets them around instruction k, and the block's
 * block_start, from which a fault counts the instructions done (exec.c); stored here,
 * before what can fault, rather than by every guard on the way into the block. */
static void set_eips(Tr *t, unsigned k)
{
    unsigned w = eip_size(t);
    eip_to_eax(t, 0);
    emit_lea(&t->e, w, H_RCX, jm(H_RAX, (int32_t)t->off[k]));
    emit_store(&t->e, w, CPU(prev_eip), H_RCX);
    emit_lea(&t->e, w, H_RAX, jm(H_RAX, (int32_t)t->off[k + 1]));
    emit_store(&t->e, w, CPU(eip), H_RAX);
    emit_mov_ri64(&t->e, H_RCX, (uint64_t)(uintptr_t)t->orig);
    emit_store(&t->e, 8, CPU(block_start), H_RCX);
}

/* A jump to the blocks' epilogue (returns EAX). */
static void jmp_epilogue(Tr *t)
{
    JitEmit *e = &t->e;
    if (!t->j->leave_routine) {
        emit_jmp_to(e, t->epilogue);
        return;
    }
    emit_u8(e, 0xe9);
    emit_u32(e, (uint32_t)(t->j->leave_routine - (e->rx + emit_pos(e) + 4)));
}

void jit_exit_with(Tr *t, unsigned count)
{
    emit_mov_ri32(&t->e, H_RAX, count);
    jmp_epilogue(t);
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

/* Calls i's handler (or handler) as instruction k: i is the block's own instruction
 * (t->orig) or, on tr_cross's guarded way, the page-crossing one itself. */
static void call_handler(Tr *t, unsigned k, const X86Insn *i, X86Handler handler)
{
    if (t->j->calls) {
        unsigned op = i->opcode < 0x100 ? i->opcode : 0x100 + (i->opcode & 0xff);
        emit_mov_ri64(&t->e, H_RAX, (uint64_t)(uintptr_t)&t->j->calls[op * 8 + (i->reg & 7)]);
        emit_alu_mi(&t->e, 8, ALU_ADD, jm(H_RAX, 0), 1);
    }
    set_eips(t, k);
    emit_mov_rr(&t->e, 8, H_RDI, H_RBX);
    emit_mov_ri64(&t->e, H_RSI, (uint64_t)(uintptr_t)i);
    emit_call(&t->e, (const void *)(handler ? handler : i->handler));
}

/* A new slow path for instruction k; jumps to it are added with jit_stub_jcc. */
Stub *jit_stub_new(Tr *t, unsigned k)
{
    if (t->nstubs >= MAX_STUBS) {
        t->failed = true;
        return &t->stubs[0];
    }
    Stub *s = &t->stubs[t->nstubs++];
    s->nfields = 0;
    s->k = k;
    s->resume = 0;
    s->handler = NULL;
    s->insn = NULL;
    s->pend = t->pend; /* (as instruction k found them: only register forms defer) */
    s->hflags_cc = -1;
    return s;
}

void jit_stub_jcc(Tr *t, Stub *s, unsigned cc)
{
    size_t f = emit_jcc_fwd(&t->e, cc);
    if (s->nfields < 8)
        s->fields[s->nfields++] = f;
    else
        t->failed = true;
}

static unsigned form_of(const X86Insn *i)
{
    unsigned op = i->opcode;
    unsigned f = (i->pfx & X86_PFX_MEM) && op != 0x8d ? IN_MEM : 0;
    if (op == 0xc9 || op == 0xfc || op == 0xfd || (op == 0xf7 && i->reg == 6))
        return f | IN_DIVLEAVE;
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
    if (jit_sse_opcode(op))
        return f | IN_SSE;
    return IN_BRANCH;
}

/* Whether i is certain to compile inline without an out-of-line path (so it cannot
 * fault or call anything); *writes: the arithmetic flags it sets. */
static bool inline_pure(const X86Insn *i, unsigned inline_mask, bool w64, uint32_t *writes)
{
    unsigned op = i->opcode;
    const uint32_t all = X86_FL_ARITH;
    *writes = 0;
    if (i->handler == x86_handle_cross)
        return false;
    if (w64)
        return jit_pure64(i, writes); /* (tr-64.c's forms) */
    if ((i->pfx & (X86_PFX_MEM | X86_PFX_LOCK)) || i->handler == x86_handle_ud || (i->flags & X86_INSN_END_BLOCK))
        return false;
    if (op == 0x8d)
        return false; /* LEA has a memory operand form only */
    unsigned form = form_of(i);
    if ((form & inline_mask) != form)
        return false;
    if (op < 0x40 && (op & 7) < 6) {
        *writes = all;
        return jit_alu_pure(op >> 3);
    }
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83:
        *writes = all;
        return jit_alu_pure(i->reg);
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
    case 0xfc: case 0xfd:
        return true;
    case 0x0fc8 ... 0x0fcf:
        return x86_osize(i) == 4;
    }
    return false;
}

/* An ALU op or TEST (any size and operand kind, no LOCK): it writes all six
 * arithmetic flags and reads none (not ADC/SBB). */
static bool alu_writes_all(const X86Insn *i)
{
    unsigned op = i->opcode;
    if (i->pfx & X86_PFX_LOCK)
        return false;
    if (op < 0x40 && (op & 7) < 6)
        return (op >> 3) != ALU_ADC && (op >> 3) != ALU_SBB;
    if (op >= 0x80 && op <= 0x83)
        return i->reg != ALU_ADC && i->reg != ALU_SBB;
    return op == 0x84 || op == 0x85 || op == 0xa8 || op == 0xa9 || ((op == 0xf6 || op == 0xf7) && i->reg == 0);
}

/* 64-bit code: a move that writes a register other than p's (or memory), or an ALU
 * op that writes all the flags (above). */
static bool pend_keeps64(const X86Insn *i, const FlagPend *p)
{
    bool mem = i->pfx & X86_PFX_MEM;
    int w;
    switch (i->opcode) {
    case 0x89:
        w = mem ? -1 : (int)i->rm;
        break;
    case 0x8b: case 0x8d: case 0x63: case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
    case 0xb8 ... 0xbf:
        w = i->reg;
        break;
    default:
        return false;
    }
    return w != p->r;
}

bool jit_pend_keeps(const Tr *t, const FlagPend *p, unsigned k)
{
    if (p->kind == PEND_INCDEC32)
        return k == p->k + 1; /* (the loop's Jcc, which stores them on its other ways out) */
    if (k + 1 >= t->n)
        return false; /* the last: the block's exit needs the flags stored */
    const X86Insn *i = &t->insns[k];
    if (i->handler == x86_handle_ud || i->handler == x86_handle_cross)
        return false;
    if (alu_writes_all(i))
        return true;
    if (t->w64)
        return pend_keeps64(i, p);
    unsigned op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    /* A register's INC/DEC right after an ADD, SUB or logic op takes them over
     * (jit_tr_incdec): CF from the host flags, the rest its own. */
    if (k == p->k + 1 && p->kind != PEND_CMP &&
        ((op >= 0x40 && op <= 0x4f) || ((op == 0xfe || op == 0xff) && i->reg <= 1 && !mem)))
        return true;
    int w = -1, w2 = -1; /* the guest registers it writes */
    switch (op) {
    case 0x88: case 0xc6:
        w = mem ? -1 : (int)(i->rm & 3); /* (AH..BH are EAX..EBX's) */
        break;
    case 0x89: case 0xc7:
        w = mem ? -1 : (int)i->rm;
        break;
    case 0x8a:
        w = i->reg & 3;
        break;
    case 0x8b: case 0x8d: case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
        w = i->reg;
        break;
    case 0xb0 ... 0xb7:
        w = op & 3;
        break;
    case 0xb8 ... 0xbf:
        w = op & 7;
        break;
    case 0x50 ... 0x57: case 0x68: case 0x6a:
        w = R_ESP;
        break;
    case 0x58 ... 0x5f:
        w = R_ESP;
        w2 = op & 7;
        break;
    default:
        return false;
    }
    if ((op == 0xc6 || op == 0xc7) && i->reg != 0)
        return false;
    return (w < 0 || (w != p->r && w != p->s)) && (w2 < 0 || (w2 != p->r && w2 != p->s));
}

/* An ALU op or TEST with a memory operand (not ADC/SBB, not LOCK): its inline form
 * leaves its flags unstored when they are dead (jit_emit_alu_flags), and its slow
 * path's handler stores them as always; *writes: all arithmetic flags. */
static bool mem_alu(const X86Insn *i, uint32_t *writes)
{
    unsigned op = i->opcode;
    *writes = X86_FL_ARITH;
    if (!(i->pfx & X86_PFX_MEM) || (i->pfx & X86_PFX_LOCK) || i->handler == x86_handle_ud ||
        i->handler == x86_handle_cross || (i->flags & X86_INSN_END_BLOCK))
        return false;
    if (op < 0x40 && (op & 7) < 4)
        return jit_alu_pure(op >> 3);
    if (op == 0x80 || op == 0x81 || op == 0x83)
        return jit_alu_pure(i->reg);
    return op == 0x84 || op == 0x85;
}

/* Backwards over the block: an instruction's flags are dead when later inline code
 * overwrites them all before anything can read them. Everything that is not pure
 * inline code (a handler, a slow path that may fault, the block's end) reads all:
 * a fault must see the flags of its instruction exactly. An ALU op on memory may
 * fault, so the flags before it stay live, but its own are dead like a pure one's
 * (a fault in it happens before it writes them). */
static void flag_liveness(Tr *t)
{
    uint32_t live = X86_FL_ARITH;
    for (unsigned k = t->n; k-- > 0;) {
        uint32_t w;
        unsigned mask = t->j->inline_mask;
        bool pure = (mask & IN_DEADFLAGS) && inline_pure(&t->insns[k], mask, t->w64, &w);
        bool own = pure || ((mask & IN_DEADFLAGS) && mem_alu(&t->insns[k], &w));
        t->deadv[k] = own && w && !(w & live);
        t->livev[k] = live;
        if (!pure)
            live = X86_FL_ARITH;
        else
            live &= ~w;
    }
    t->live_in = live;
}

/* Compiles instruction k inline if it is one of the simple forms; false: call. */
static bool tr_inline(Tr *t, unsigned k)
{
    const X86Insn *i = &t->insns[k];
    unsigned op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    bool last = k + 1 == t->n;
    /* #UD, LOCK and over-long instructions keep their handlers, and so does an
     * instruction across the page end (its stand-in checks the second page). */
    if (i->handler == x86_handle_ud || i->handler == x86_handle_cross || (i->pfx & X86_PFX_LOCK))
        return false;
    if (t->w64)
        return jit_tr64(t, k); /* 64-bit code: tr-64.c */
    unsigned form = form_of(i);
    if ((form & t->j->inline_mask) != form)
        return false;
    bool is_branch = (op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f) || op == 0xe9 || op == 0xeb;
    if (is_branch)
        return last && jit_tr_branch(t, k, op == 0xe9 || op == 0xeb ? -1 : (int)(op & 0xf));
    if ((op == 0xe8 || op == 0xc3) && last && x86_osize(i) == 4)
        return jit_tr_callret(t, k, op == 0xe8);
    if (op == 0xe2 && last)
        return jit_tr_loop(t, k);
    if (op == 0xff && (i->reg == 2 || i->reg == 4) && last && x86_osize(i) == 4)
        return jit_tr_indirect(t, k, i->reg == 2);
    if (i->flags & X86_INSN_END_BLOCK)
        return false;
    if (jit_sse_opcode(op))
        return jit_tr_sse(t, k);
    if (op < 0x40 && (op & 7) < 6) {
        unsigned aluop = op >> 3;
        switch (op & 7) {
        case 0: return jit_tr_binop(t, k, (int)aluop, 0, 1);
        case 1: return jit_tr_binop(t, k, (int)aluop, 0, op_size(i, false));
        case 2: return jit_tr_binop(t, k, (int)aluop, 1, 1);
        case 3: return jit_tr_binop(t, k, (int)aluop, 1, op_size(i, false));
        default: {
            /* AL/eAX, imm: as the E,imm form with rm = EAX. */
            unsigned size = (op & 7) == 4 ? 1 : op_size(i, false);
            JitEmit *e = &t->e;
            if (aluop == ALU_ADC || aluop == ALU_SBB)
                jit_emit_cf_to_r13(t);
            emit_load(e, size, H_RAX, greg(t, size, R_EAX));
            emit_mov_ri32(e, H_RCX, i->imm & mask_of(size));
            jit_emit_alu_flags(t, aluop, size);
            if (aluop != ALU_CMP)
                emit_store(e, size, greg(t, size, R_EAX), H_RAX);
            return true;
        }
        }
    }
    switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83:
        return jit_tr_binop(t, k, i->reg, 2, op_size(i, op == 0x80 || op == 0x82));
    case 0x84: case 0x85:
        return jit_tr_binop(t, k, -2, 0, op_size(i, op == 0x84));
    case 0xa8: case 0xa9: {
        unsigned size = op_size(i, op == 0xa8);
        emit_load(&t->e, size, H_RAX, greg(t, size, R_EAX));
        emit_mov_ri32(&t->e, H_RCX, i->imm & mask_of(size));
        jit_emit_test_flags(t, size);
        return true;
    }
    case 0xf6: case 0xf7:
        if (op == 0xf7 && i->reg == 6)
            return x86_osize(i) == 4 && jit_tr_div(t, k);
        if (i->reg == 2 || i->reg == 3)
            return !mem && jit_tr_notneg(t, i, op_size(i, op == 0xf6));
        if (i->reg > 1)
            return false;
        return jit_tr_binop(t, k, -2, 2, op_size(i, op == 0xf6));
    case 0x0f90 ... 0x0f9f:
        return !mem && jit_tr_setcc_cmov(t, i, true);
    case 0x0f40 ... 0x0f4f:
        return mem ? jit_tr_cmov_mem(t, k) : jit_tr_setcc_cmov(t, i, false);
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
        return jit_tr_movx(t, k);
    case 0x98: case 0x99:
        return jit_tr_cbw_cwd(t, i);
    case 0x86: case 0x87:
        return !mem && jit_tr_xchg(t, i->reg, i->rm, op_size(i, op == 0x86));
    case 0x91 ... 0x97:
        return jit_tr_xchg(t, R_EAX, i->reg, op_size(i, false));
    case 0x88: case 0x89:
        return jit_tr_binop(t, k, -1, 0, op_size(i, op == 0x88));
    case 0x8a: case 0x8b:
        return jit_tr_binop(t, k, -1, 1, op_size(i, op == 0x8a));
    case 0xc6: case 0xc7:
        if (i->reg != 0)
            return false;
        return jit_tr_binop(t, k, -1, 2, op_size(i, op == 0xc6));
    case 0xb0 ... 0xb7:
        emit_store_imm(&t->e, 1, greg(t, 1, i->reg), i->imm & 0xff);
        return true;
    case 0xb8 ... 0xbf: {
        unsigned size = op_size(i, false);
        emit_store_imm(&t->e, size, greg(t, size, i->reg), i->imm & mask_of(size));
        return true;
    }
    case 0x8d:
        return mem && jit_tr_lea(t, i);
    case 0x40 ... 0x47:
    case 0x48 ... 0x4f:
        return jit_tr_incdec(t, k, (int)i->reg, op_size(i, false), op >= 0x48);
    case 0xfe: case 0xff:
        if (op == 0xff && i->reg == 6)
            return x86_osize(i) == 4 && jit_tr_push_value(t, k);
        if (i->reg > 1)
            return false;
        return jit_tr_incdec(t, k, mem ? -1 : (int)i->rm, op_size(i, op == 0xfe), i->reg == 1);
    case 0x6a: case 0x68:
        return x86_osize(i) == 4 && jit_tr_push_value(t, k);
    case 0xa0 ... 0xa3:
        return jit_tr_mov_moffs(t, k);
    case 0x90:
        return true; /* NOP (and PAUSE) */
    case 0xc9:
        return x86_osize(i) == 4 && jit_tr_leave(t, k);
    case 0xfc: /* CLD, STD (move.c's flag_op) */
        emit_alu_mi(&t->e, 4, ALU_AND, CPU(eflags), ~(uint32_t)X86_FL_DF);
        return true;
    case 0xfd:
        emit_alu_mi(&t->e, 4, ALU_OR, CPU(eflags), X86_FL_DF);
        return true;
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
            return jit_tr_shift_mem(t, k, op == 0xd1 ? 1 : i->imm & 0x1f);
        return jit_tr_shift(t, i, op == 0xd1 ? 1 : i->imm & 0x1f);
    case 0xd3:
        if (mem || x86_osize(i) != 4 || i->reg < 4)
            return false;
        return jit_tr_shift_cl(t, i);
    case 0x50 ... 0x57: case 0x58 ... 0x5f:
        if (x86_osize(i) != 4)
            return false;
        return jit_tr_pushpop(t, k, op < 0x58);
    case 0x69: case 0x6b: case 0x0faf:
        if (mem || x86_osize(i) != 4)
            return false;
        return jit_tr_imul(t, i);
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
    if (t->w64)
        return jit_rc_predict64(i);
    bool mem = i->pfx & X86_PFX_MEM;
    uint32_t m = 0;
    if (mem && i->base < 8)
        m |= 1u << i->base;
    if (mem && i->index < 8)
        m |= 1u << i->index;
    if (jit_sse_opcode(op))
        return (uint8_t)m; /* (reg and rm are XMM registers, mostly) */
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
    if (op == 0xf7 && i->reg == 6)
        m |= (1u << R_EAX) | (1u << R_EDX);
    if (op == 0xc9)
        m |= (1u << R_EBP) | (1u << R_ESP);
    return (uint8_t)m;
}

/* Where the emission of an instruction started: it is emitted again from here when
 * the register cache has to load or write back registers first. */
typedef struct TrMark {
    size_t pos;
    unsigned nstubs, nways, nexits, n_inline;
    int known_cc;
    bool called, failed, overflow, hflags, hflags_out, hflags_narrow, hflags_out_narrow, sse_ok;
    RegCache rc;
    FlagPend pend;
} TrMark;

static void mark_save(Tr *t, TrMark *m)
{
    *m = (TrMark){ emit_pos(&t->e), t->nstubs, t->nways, t->nexits, t->n_inline, t->known_cc, t->called, t->failed,
                   t->e.overflow, t->hflags, t->hflags_out, t->hflags_narrow, t->hflags_out_narrow, t->sse_ok, t->rc, t->pend };
}

/* The translation state a mark holds, without the emission's (tr_cross takes two
 * ways from one state). */
static void state_restore(Tr *t, const TrMark *m)
{
    t->known_cc = m->known_cc;
    t->called = m->called;
    t->hflags = m->hflags;
    t->hflags_out = m->hflags_out;
    t->hflags_narrow = m->hflags_narrow;
    t->hflags_out_narrow = m->hflags_out_narrow;
    t->sse_ok = m->sse_ok;
    t->rc = m->rc;
    t->pend = m->pend;
}

static void mark_restore(Tr *t, const TrMark *m)
{
    t->e.p = t->e.start + m->pos;
    t->e.overflow = m->overflow;
    t->nstubs = m->nstubs;
    t->nways = m->nways;
    t->nexits = m->nexits;
    t->n_inline = m->n_inline;
    t->failed = m->failed;
    state_restore(t, m);
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

/* Instruction k by its handler: the cache written back, the deferred flags stored;
 * after the block's last, on to wherever the handler left EIP. */
static void tr_call(Tr *t, unsigned k, bool allow_inline)
{
    JitEmit *e = &t->e;
    bool last = k + 1 == t->n;
    t->hflags_out = false;
    jit_rc_flush(t);
    jit_flags_flush(t);
    call_handler(t, k, &t->orig[k], NULL);
    t->called = true;
    t->sse_ok = false;
    t->known_cc = -1;
    if (last && (!allow_inline || !(t->j->inline_mask & IN_CALLCHAIN))) {
        jit_exit_with(t, t->n);
    } else if (last) {
        /* On to wherever the handler left EIP (IRET, far transfers, RET imm16, the
         * end of a page or of 48 instructions), through a chainable exit whose guard
         * makes all of the dispatcher's tests, as after any handler. */
        check_exit(t, k + 1);
        emit_load(e, eip_size(t), H_RAX, CPU(eip));
        jit_exit_chained(t, t->n, false, JIT_DELTA_UNKNOWN, true);
    } else {
        check_exit(t, k + 1);
    }
}

/* The block's last instruction k, across the page end (t->cross, cross_setup),
 * inline behind a guard on its second page: the TLB's fetch entry of the current
 * privilege still maps that linear page (RIP, or CS base + EIP through a flat CS) to
 * the physical page it was decoded from, and that page's version is still the one it
 * had then (a store into the instruction's bytes there bumps it). Otherwise the
 * stand-in's handler runs it as before (x86_handle_cross). The amd64 kit's kernel
 * decompressor ran one such MOV 2.4 million times in its first 3.6 s, each a handler
 * call and an exit through the dispatcher's tests. The instruction's slow paths hand
 * their handlers the copy the guard vouches for. False: no inline form (nothing
 * emitted that stays). */
static bool tr_cross(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    size_t fail[4];
    unsigned nfail = 0;
    if (!t->w64) {
        /* (32-bit code: through a flat CS, whose base the linear address adds) */
        emit_alu_mi(e, 1, ALU_CMP, SEG_FIELD(S_CS, flat), 0);
        fail[nfail++] = emit_jcc_fwd(e, HC_E);
    }
    eip_to_reg(t, H_RAX, t->off[k] + t->cross.left);
    if (!t->w64)
        emit_alu_rm(e, 4, ALU_ADD, H_RAX, SEG_FIELD(S_CS, base));
    jit_emit_tlb_offset(t);
    emit_alu_rm(e, 8, ALU_ADD, H_RDX, CPU(tlb));
    emit_alu_rm(e, 8, ALU_CMP, H_RAX, jm(H_RDX, (int32_t)offsetof(X86Tlb, tag_x)));
    fail[nfail++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 8, H_RCX, jm(H_RDX, (int32_t)offsetof(X86Tlb, phys)));
    emit_alu_ri(e, 8, ALU_AND, H_RCX, 0xfffff000u); /* (sign-extended: ~0xfff) */
    emit_mov_ri64(e, H_RAX, t->cross.phys1);
    emit_alu_rr(e, 8, ALU_CMP, H_RCX, H_RAX);
    fail[nfail++] = emit_jcc_fwd(e, HC_NE);
    emit_mov_ri64(e, H_RAX, (uint64_t)(uintptr_t)t->cross.version_at);
    emit_alu_mi(e, 4, ALU_CMP, jm(H_RAX, 0), t->cross.version);
    fail[nfail++] = emit_jcc_fwd(e, HC_NE);
    t->hflags = t->hflags_narrow = false; /* (the guard's compares) */
    TrMark before, after;
    mark_save(t, &before);
    unsigned s0 = t->nstubs;
    if (!tr_inline(t, k))
        return false;
    t->n_inline++;
    for (unsigned s = s0; s < t->nstubs; s++)
        t->stubs[s].insn = t->cross.insn;
    jit_exit_chained(t, t->n, false, t->off[t->n], false);
    mark_save(t, &after);
    for (unsigned f = 0; f < nfail; f++)
        emit_patch(e, fail[f], emit_pos(e));
    state_restore(t, &before);
    tr_call(t, k, true);
    /* (the state the inline way's slow paths take their register cache from) */
    state_restore(t, &after);
    return true;
}

/* A block that ends in the stand-in of an instruction across the page end (32- or
 * 64-bit code): that instruction decoded for tr_cross, translated in the stand-in's
 * place (after flag_liveness, which took the stand-in for an instruction that may
 * read and write anything). */
static void cross_setup(Tr *t)
{
    unsigned k = t->n - 1;
    X86Cpu *c = t->c;
    X86CrossCode x;
    if (t->insns[k].handler != x86_handle_cross || !(t->w64 || c->code32))
        return;
    /* (the block runs from c->eip now) */
    uint64_t lin = t->w64 ? c->eip + t->off[k] : (uint32_t)(c->seg[S_CS].base + c->eip + t->off[k]);
    if (!x86_cross_prepare(c, lin, &x) || x.insn->len <= x.left || (x.insn->flags & X86_INSN_END_BLOCK) ||
        x.insn->handler == x86_handle_ud)
        return;
    memcpy(t->insn_copy, t->insns, t->n * sizeof(X86Insn));
    t->insn_copy[k] = *x.insn;
    t->insns = t->insn_copy;
    t->off[t->n] = t->off[k] + x.insn->len;
    t->cross = x;
}

/* Instruction k: inline, or its handler called. */
static void tr_one(Tr *t, unsigned k, bool allow_inline)
{
    bool last = k + 1 == t->n;
    bool is_branch = t->insns[k].flags & X86_INSN_END_BLOCK;
    TrMark m;
    mark_save(t, &m);
    if (last && t->cross.insn) {
        if (!tr_cross(t, k)) {
            mark_restore(t, &m);
            tr_call(t, k, allow_inline);
        }
        return;
    }
    if (allow_inline && tr_inline(t, k)) {
        t->n_inline++;
        if (t->nstubs != m.nstubs) {
            /* A slow path's handler call rejoins after the producer: it redoes the
             * host flags from the lazy state the handler stored (an ADD, SUB or
             * logic op), or the next instruction cannot take them. */
            bool redo = t->hflags_out && jit_host_flags_known(t->known_cc);
            for (unsigned s = m.nstubs; s < t->nstubs; s++)
                t->stubs[s].hflags_cc = redo ? t->known_cc : -1;
            if (!redo)
                t->hflags_out = false;
        }
        if (last && !is_branch)
            jit_exit_chained(t, t->n, false, t->off[t->n], false);
        return;
    }
    mark_restore(t, &m);
    tr_call(t, k, allow_inline);
}

bool jit_translate(Tr *t, bool allow_inline)
{
    JitEmit *e = &t->e;
    if (t->j->enter_routine) {
        /* LEA RAX, [RIP + 5] (the body, after the JMP); JMP to the shared prologue
         * (chain.c), which sets up the frame, loads the guest registers and jumps
         * back to RAX: 12 bytes instead of about 65 in every block. */
        emit_u8(e, 0x48);
        emit_u8(e, 0x8d);
        emit_u8(e, 0x05);
        emit_u32(e, 5);
        emit_u8(e, 0xe9);
        emit_u32(e, (uint32_t)(t->j->enter_routine - (e->rx + emit_pos(e) + 4)));
    } else {
        /* Six pushes and 8 bytes keep RSP 16-byte aligned for the calls (SysV ABI);
         * RBP, R12, R14 and R15 are homes of guest registers (regcache.c), loaded here
         * for a block the dispatcher enters; chained blocks find them loaded. */
        emit_push(e, H_RBX);
        emit_push(e, H_R12);
        emit_push(e, H_R13);
        emit_push(e, H_RBP);
        emit_push(e, H_R14);
        emit_push(e, H_R15);
        emit_alu_ri(e, 8, ALU_SUB, H_RSP, 8);
        emit_mov_rr(e, 8, H_RBX, H_RDI);
        jit_rc_load_all(e);
        size_t over = emit_jmp_fwd(e);
        t->epilogue = emit_pos(e);
        jit_emit_leave(e);
        emit_patch(e, over, emit_pos(e));
    }
    t->j->body = emit_pos(e); /* the same for every block */

    /* Segments the block's memory operands use more than once, flat and allowing
     * reads and writes now: checked once here instead of at each access (probes
     * before the first handler call skip the test). A block entered when one no
     * longer is runs through the interpreter's handlers. */
    t->seg_hoist = t->seg_zero = 0;
    t->tlb_fixed = 0;
    size_t seg_fail[14];
    unsigned nfail = 0;
    unsigned uses[8] = { 0 }, accesses = 0;
    for (unsigned k = 0; k < t->n; k++) {
        const X86Insn *i = &t->insns[k];
        unsigned op = i->opcode;
        if ((i->pfx & X86_PFX_MEM) && op != 0x8d && i->seg < 6)
            uses[i->seg]++, accesses++;
        if ((op >= 0x50 && op <= 0x5f) || op == 0x68 || op == 0x6a || op == 0xe8 || op == 0xc3 || op == 0xc9 ||
            (op == 0xff && (i->reg == 2 || i->reg == 6)))
            uses[S_SS]++, accesses++;
    }
    /* (Not in 64-bit code: its probes make no segment checks.) */
    if (allow_inline && !t->w64 && (t->j->inline_mask & IN_SEGCHECK)) {
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
            if (!d->base) {
                /* Base 0 as well (Linux's data and stack segments): the probes skip
                 * adding it, a load and an add on the way to every access. */
                emit_alu_mi(e, 8, ALU_CMP, jm(H_RBX, (int32_t)(offsetof(X86Cpu, seg) + sizeof(X86Seg) * sg +
                                                              offsetof(X86Seg, base))), 0);
                seg_fail[nfail++] = emit_jcc_fwd(e, HC_NE);
                t->seg_zero |= (uint8_t)(1u << sg);
            }
        }
    }

    /* The data TLB of the current privilege (c->tlb), checked once here: the probes
     * before the first handler call then address its entries from RBX, a load fewer
     * on the way from an address to its tag. A block entered with another table (at
     * the other privilege, or with data breakpoints or alignment checks on, whose
     * table sends every access to the handlers) runs through the handlers. */
    if (allow_inline && (t->j->inline_mask & IN_TLBFIXED) && accesses) {
        const X86Cpu *c = t->c;
        size_t off = c->tlb == c->tlb_sup ? offsetof(X86Cpu, tlb_sup)
                   : c->tlb == c->tlb_user ? offsetof(X86Cpu, tlb_user) : 0;
        if (off) {
            emit_lea(e, 8, H_RCX, jm(H_RBX, (int32_t)off));
            emit_alu_rm(e, 8, ALU_CMP, H_RCX, CPU(tlb));
            seg_fail[nfail++] = emit_jcc_fwd(e, HC_NE);
            t->tlb_fixed = (int32_t)off;
        }
    }

    RegCache *rc = &t->rc;
    jit_rc_enter(t, allow_inline && (t->j->inline_mask & IN_REGCACHE));
    t->pend.kind = PEND_NONE;
    t->live_in = X86_FL_ARITH;
    t->sse_ok = false;
    if (allow_inline) {
        flag_liveness(t);
        cross_setup(t);
    }
    for (unsigned k = 0; k < t->n; k++) {
        t->host_at[k] = (uint32_t)emit_pos(e);
        t->dead = allow_inline && t->deadv[k];
        t->live_out = allow_inline ? t->livev[k] : X86_FL_ARITH;
        /* Deferred flags are stored before an instruction that is neither a move
         * leaving their registers alone nor an ALU op that replaces them all. */
        if (t->pend.kind && !jit_pend_keeps(t, &t->pend, k))
            jit_flags_flush(t);
        bool replaces = t->pend.kind && alu_writes_all(&t->insns[k]);
        rc->nocache = 0;
        if (rc->on) {
            uint8_t pre = rc_predict(t, &t->insns[k]);
            for (unsigned r = 0; r < 8; r++)
                if ((pre & (1u << r)) && rc->host[r] < 0)
                    jit_rc_alloc(t, r);
        }
        /* Host flags of a 32-bit ADD/ADC/SUB/SBB/CMP/logic/TEST producer that was the
         * previous instruction, for a condition computed first thing (jit_emit_cond). */
        t->hflags = t->hflags_out && (t->j->inline_mask & IN_HOSTFLAGS);
        t->hflags_narrow = t->hflags_out_narrow;
        t->hflags_out = t->hflags_out_narrow = false;
        TrMark m;
        mark_save(t, &m);
        for (unsigned pass = 0;; pass++) {
            rc->want = rc->small = rc->used = 0;
            tr_one(t, k, allow_inline);
            if (!rc->want && !rc->small)
                break;
            /* Again, with what it asked for loaded (or bytes it used written back). */
            uint8_t want = rc->want, small = rc->small;
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
                        jit_rc_alloc(t, r);
            }
            mark_save(t, &m);
        }
        for (unsigned s = m.nstubs; s < t->nstubs; s++) {
            memcpy(t->stubs[s].rc_host, rc->host, sizeof(rc->host));
            t->stubs[s].rc_dirty = rc->dirty;
        }
        /* Dead flags left cc_op as it was, but a slow path's handler stored its own. */
        if (t->dead && t->nstubs > m.nstubs)
            t->known_cc = -1;
        /* An ALU op replaced the deferred flags (its slow path, if any, stores them). */
        if (replaces && t->pend.kind && t->pend.k != k)
            t->pend.kind = PEND_NONE;
    }
    t->host_at[t->n] = (uint32_t)emit_pos(e);
    /* The probes' looks in way 1, whose misses join the slow paths below. */
    for (unsigned w = 0; w < t->nways; w++)
        jit_emit_way_stub(t, &t->ways[w]);
    /* Slow paths: the cache written back, the handler, then on with the block (or
     * out if it said so) with the cache reloaded. */
    for (unsigned s = 0; s < t->nstubs; s++) {
        Stub *st = &t->stubs[s];
        for (unsigned f = 0; f < st->nfields; f++)
            emit_patch(e, st->fields[f], emit_pos(e));
        if (st->pend.kind)
            jit_flags_store(t, &st->pend, st->rc_host);
        if (t->j->slow_routine && rc->on) {
            /* Through the shared routine (chain.c), which stores and reloads all
             * eight homes: those the cache does not hold are loaded first (c->regs
             * is current for them), so what it stores is what c->regs should hold.
             * About a hundred bytes less per slow path than stores and loads here. */
            for (unsigned r = 0; r < 8; r++)
                if (st->rc_host[r] < 0)
                    emit_load(e, JIT_RC_W, jit_rc_home(r), greg_mem(4, r));
            const X86Insn *i = st->insn ? st->insn : &t->orig[st->k];
            if (t->j->calls) {
                unsigned op = i->opcode < 0x100 ? i->opcode : 0x100 + (i->opcode & 0xff);
                emit_mov_ri64(e, H_RAX, (uint64_t)(uintptr_t)&t->j->calls[op * 8 + (i->reg & 7)]);
                emit_alu_mi(e, 8, ALU_ADD, jm(H_RAX, 0), 1);
            }
            set_eips(t, st->k);
            emit_mov_rr(e, 8, H_RDI, H_RBX);
            emit_mov_ri64(e, H_RSI, (uint64_t)(uintptr_t)i);
            emit_mov_ri64(e, H_RDX, (uint64_t)(uintptr_t)(st->handler ? st->handler : i->handler));
            emit_call(e, (const void *)t->j->slow_routine);
            check_exit(t, st->k + 1);
            if (st->hflags_cc >= 0)
                jit_emit_host_flags(t, (unsigned)st->hflags_cc);
            emit_jmp_to(e, st->resume);
            continue;
        }
        for (unsigned r = 0; r < 8; r++)
            if (st->rc_dirty & (1u << r))
                emit_store(e, JIT_RC_W, greg_mem(JIT_RC_W, r), st->rc_host[r]);
        call_handler(t, st->k, st->insn ? st->insn : &t->orig[st->k], st->handler);
        check_exit(t, st->k + 1);
        for (unsigned r = 0; r < 8; r++)
            if (st->rc_host[r] >= 0)
                emit_load(e, JIT_RC_W, st->rc_host[r], greg_mem(JIT_RC_W, r));
        if (st->hflags_cc >= 0)
            jit_emit_host_flags(t, (unsigned)st->hflags_cc);
        emit_jmp_to(e, st->resume);
    }
    /* Early exits after handlers: EIP is already set. */
    for (unsigned x = 0; x < t->nexits; x++) {
        emit_patch(e, t->exit_fields[x], emit_pos(e));
        jit_exit_with(t, t->exit_count[x]);
    }
    /* A segment checked at the entry is not flat or not writable any more, or the
     * data TLB is another (the guest registers are still at home, maybe newer than
     * c->regs). */
    if (nfail) {
        for (unsigned f = 0; f < nfail; f++)
            emit_patch(e, seg_fail[f], emit_pos(e));
        jit_rc_store_all(e);
        eip_to_eax(t, 0); /* (a chained block's exit left c->eip to it) */
        emit_store(e, eip_size(t), CPU(eip), H_RAX);
        emit_mov_ri64(e, H_RAX, (uint64_t)(uintptr_t)&t->j->stats.entry_interp);
        emit_alu_mi(e, 8, ALU_ADD, jm(H_RAX, 0), 1);
        emit_mov_rr(e, 8, H_RDI, H_RBX);
        emit_mov_ri64(e, H_RSI, (uint64_t)(uintptr_t)t->orig);
        emit_mov_ri32(e, H_RDX, t->n);
        emit_call(e, (const void *)jit_run_interp);
        jmp_epilogue(t);
    }
    return !e->overflow && !t->failed;
}
