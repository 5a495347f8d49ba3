/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's stack forms and the block-ending transfers: PUSH/POP, CALL/RET,
 * JMP/CALL r/m through the lookup table, LOOP, Jcc/JMP rel, each leaving through a
 * chainable exit (chain.c). */
#include "cpu/jit/translate.h"
#include "engine/log.h"

#include <stddef.h>
#include <stdint.h>

/* The stack fast path of move.c's push_r32_flat / pop_r32_flat and control.c's
 * call_rel32_flat / ret32_flat: a 32-bit stack (SS.B) in a flat segment; with cs,
 * also a flat CS (no limit check of the new EIP). Leaves EAX = the address's offset
 * (ESP - 4 for a push, ESP for a pop) and returns the operand. */
static JitMem emit_stack_probe(Tr *t, Stub *s, bool push, bool cs)
{
    JitEmit *e = &t->e;
    emit_alu_mi(e, 1, ALU_CMP, CPU(ss32), 0);
    jit_stub_jcc(t, s, HC_E);
    if (cs) {
        emit_alu_mi(e, 1, ALU_CMP, SEG_FIELD(S_CS, flat), 0);
        jit_stub_jcc(t, s, HC_E);
    }
    emit_load(e, 4, H_RAX, greg(t, 4, R_ESP));
    if (push)
        emit_alu_ri(e, 4, ALU_SUB, H_RAX, 4);
    return jit_emit_probe_at(t, s, S_SS, 4, push ? SEG_OK_WRITE : SEG_OK_READ, push);
}

/* PUSH r32 / POP r32. */
bool jit_tr_pushpop(Tr *t, unsigned k, bool push)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
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

/* LEAVE with a 32-bit operand size (move.c's leave) on a 32-bit flat stack: EBP is
 * popped from SS:EBP, ESP = EBP + 4; registers are written only after the probe. */
bool jit_tr_leave(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    Stub *s = jit_stub_new(t, k);
    emit_alu_mi(e, 1, ALU_CMP, CPU(ss32), 0);
    jit_stub_jcc(t, s, HC_E);
    emit_load(e, 4, H_RAX, gread(t, 4, R_EBP));
    JitMem m = jit_emit_probe_at(t, s, S_SS, 4, SEG_OK_READ, false);
    emit_load(e, 4, H_RCX, m);
    emit_load(e, 4, H_RDX, gread(t, 4, R_EBP));
    emit_alu_ri(e, 4, ALU_ADD, H_RDX, 4);
    emit_store(e, 4, greg(t, 4, R_ESP), H_RDX);
    emit_store(e, 4, greg(t, 4, R_EBP), H_RCX);
    s->resume = emit_pos(e);
    return true;
}

/* PUSH imm8/imm32 and PUSH r/m32 (move.c's push_imm, and group 5's PUSH), 32-bit
 * operand size: the source (a register, or memory through its own probe) is read
 * into R13D first, so either probe's slow path starts from the instruction's own
 * state. */
bool jit_tr_push_value(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
    if (i->opcode != 0xff) {
        emit_mov_ri32(e, H_R13, i->imm);
    } else if (i->pfx & X86_PFX_MEM) {
        JitMem m = jit_emit_probe(t, s, i, 4, SEG_OK_READ, false);
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


/* JMP r/m32 and CALL r/m32 ending the block (control.c's group 5 forms, 32-bit
 * operand size, flat CS): the target, read first into R13D, leaves through the
 * lookup table of changing targets (chain.c, jit_ib_fill) instead of the
 * dispatcher. */
bool jit_tr_indirect(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    if (t->j->no_chain || !t->j->ib_routine)
        return false;
    Stub *s = jit_stub_new(t, k);
    if (i->pfx & X86_PFX_MEM) {
        JitMem m = jit_emit_probe(t, s, i, 4, SEG_OK_READ, false);
        emit_load(e, 4, H_R13, m);
    } else {
        emit_load(e, 4, H_R13, greg(t, 4, i->rm));
    }
    if (call) {
        JitMem m = emit_stack_probe(t, s, true, true);
        eip_to_reg(t, H_RCX, t->off[k + 1]);
        emit_store(e, 4, m, H_RCX);
        emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
    } else {
        emit_alu_mi(e, 1, ALU_CMP, SEG_FIELD(S_CS, flat), 0);
        jit_stub_jcc(t, s, HC_E);
    }
    emit_mov_rr(e, 4, H_RAX, H_R13); /* (the lookup routine stores c->eip on a miss) */
    jit_rc_leave(t);
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
bool jit_tr_callret(Tr *t, unsigned k, bool call)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    Stub *s = jit_stub_new(t, k);
    JitMem m = emit_stack_probe(t, s, call, true);
    if (call) {
        eip_to_reg(t, H_RCX, t->off[k + 1]);
        emit_store(e, 4, m, H_RCX);
        emit_alu_mi(e, 4, ALU_SUB, greg(t, 4, R_ESP), 4);
    } else {
        emit_load(e, 4, H_RCX, m);
        emit_alu_mi(e, 4, ALU_ADD, greg(t, 4, R_ESP), 4);
        emit_mov_rr(e, 4, H_RAX, H_RCX);
    }
    jit_exit_chained(t, k + 1, true, call ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN, false);
    /* After the handler (stub): EIP is what it set. */
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* LOOP rel8 ending the block (control.c's loop_jcxz): ECX or CX minus one, taken
 * while not zero. The count is written only once the target passed the CS limit
 * check, so the slow path starts from the instruction's own state. */
bool jit_tr_loop(Tr *t, unsigned k)
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
    jit_exit_chained(t, k + 1, true, t->off[k + 1], false);
    emit_patch(e, taken, emit_pos(e));
    eip_to_eax(t, t->off[k + 1] + i->imm);
    if (!(i->pfx & X86_PFX_OP32))
        emit_movzx(e, 2, H_RAX, H_RAX);
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, SEG_FIELD(S_CS, limit));
    Stub *s = jit_stub_new(t, k);
    jit_stub_jcc(t, s, HC_A);
    emit_store(e, csize, greg(t, csize, R_ECX), H_RDX);
    jit_exit_chained(t, k + 1, true, (i->pfx & X86_PFX_OP32) ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN, true);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    return true;
}

/* A quiet block's Jcc back to its own entry (a loop of one block), laid out with the
 * way round as the fall-through: the guest's condition, then the exit's EIP and CS
 * limit, the dispatcher's tests between blocks and a JMP into the body, all known
 * when the block is translated (the guard chain.c's self exit would be linked to), so
 * the loop runs one taken branch an iteration wherever the cache put its code. The
 * tests' rare cases (a request, the event word, a budget) out of line after it,
 * then the way out of the loop. */
static void tr_self_loop(Tr *t, unsigned k, unsigned cc)
{
    JitEmit *e = &t->e;
    size_t fall = emit_jcc_fwd(e, cc ^ 1);
    FlagPend loop = t->pend;
    t->pend.kind = PEND_NONE;
    eip_to_eax(t, 0);
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, CPU_AT(seg, sizeof(X86Seg) * S_CS + offsetof(X86Seg, limit)));
    Stub *s = jit_stub_new(t, k);
    s->pend = loop;
    jit_stub_jcc(t, s, HC_A);
    jit_rc_leave(t);
    /* As chain.c's guard: no request (INTR alone with IF clear passes), nothing in the
     * event word (halted, interrupt shadow, breakpoints, the budget flag). */
    JitEventTests ev = jit_emit_event_tests(t);
    size_t round = emit_pos(e);
    emit_jmp_to(e, t->j->body);
    size_t out[4];
    unsigned nout = 0;
    /* The budget flag alone: this block twice within the budget; count this pass. */
    emit_patch(e, ev.word, emit_pos(e));
    emit_alu_mi(e, 8, ALU_CMP, CPU(halted), X86_EVENTS_BUDGET);
    out[nout++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 8, H_RCX, CPU(icount));
    emit_alu_ri(e, 8, ALU_ADD, H_RCX, 2 * t->n);
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, CPU(icount_end));
    out[nout++] = emit_jcc_fwd(e, HC_A);
    emit_alu_mi(e, 8, ALU_ADD, CPU(icount), t->n);
    emit_jmp_to(e, round);
    jit_emit_intr_alone(t, &ev, out + nout);
    nout += 2;
    /* To the dispatcher (EAX = the entry EIP, stored before a flags store may use
     * RAX): the loop's flags, the cache. */
    for (unsigned o = 0; o < nout; o++)
        emit_patch(e, out[o], emit_pos(e));
    emit_store(e, 4, CPU(eip), H_RAX);
    if (loop.kind)
        jit_flags_store(t, &loop, t->rc.host);
    jit_rc_writeback(t);
    jit_exit_with(t, t->n);
    /* Out of the loop. */
    emit_patch(e, fall, emit_pos(e));
    if (loop.kind)
        jit_flags_store(t, &loop, t->rc.host);
    jit_exit_chained(t, k + 1, true, t->off[k + 1], false);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    if (loop.kind)
        t->known_cc = loop.cc;
}

/* Jcc / JMP rel ending the block: EIP of the target or the next instruction, and the
 * CS limit check of x86_jump_near (beyond it: the handler raises #GP). cc < 0: JMP. */
bool jit_tr_branch(Tr *t, unsigned k, int cc)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    size_t taken = 0;
    /* (Quiet: no handler called and no slow path before this, which could have run.) */
    bool quiet = !t->called && !t->nstubs && !t->j->no_chain && !(vlog_mask & LOG_EXEC) && !t->w64;
    if (cc >= 0 && quiet && (i->pfx & X86_PFX_OP32) && (int32_t)(t->off[k + 1] + i->imm) == 0) {
        tr_self_loop(t, k, jit_emit_cond(t, (unsigned)cc));
        return true;
    }
    if (cc >= 0) {
        cc = (int)jit_emit_cond(t, (unsigned)cc);
        taken = emit_jcc_fwd(e, (unsigned)cc);
        /* (A loop counter's deferred flags, PEND_INCDEC32: stored on this way out, on
         * the CS limit's slow path below (its stub), and by the loop's own exit
         * wherever it does not go round again.) */
        FlagPend loop = t->pend;
        if (loop.kind == PEND_INCDEC32) {
            t->pend.kind = PEND_NONE;
            jit_flags_store(t, &loop, t->rc.host);
        }
        jit_exit_chained(t, k + 1, true, t->off[k + 1], false);
        t->pend = loop;
        emit_patch(e, taken, emit_pos(e));
    }
    eip_to_eax(t, t->off[k + 1] + i->imm);
    if (!(i->pfx & X86_PFX_OP32))
        emit_movzx(e, 2, H_RAX, H_RAX);
    emit_alu_rm(e, 4, ALU_CMP, H_RAX, CPU_AT(seg, sizeof(X86Seg) * S_CS + offsetof(X86Seg, limit)));
    Stub *s = jit_stub_new(t, k);
    jit_stub_jcc(t, s, HC_A);
    jit_exit_chained(t, k + 1, true, (i->pfx & X86_PFX_OP32) ? (int64_t)(int32_t)(t->off[k + 1] + i->imm) : JIT_DELTA_UNKNOWN, true);
    s->resume = emit_pos(e);
    jit_exit_with(t, k + 1);
    if (t->pend.kind == PEND_INCDEC32)
        t->known_cc = t->pend.cc, t->pend.kind = PEND_NONE;
    return true;
}
