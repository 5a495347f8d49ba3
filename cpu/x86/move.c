/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Data movement: MOV, MOVZX/MOVSX, XCHG, LEA, the stack (PUSH/POP, PUSHA/POPA,
 * PUSHF/POPF, ENTER/LEAVE), LAHF/SAHF, XLAT, CMOVcc, SETcc, BSWAP and the flag
 * instructions CLC/STC/CMC/CLD/STD. */
#include "cpu/x86/cpu-internal.h"

/* ---- MOV ---- */

static void mov_eg8r(X86Cpu *c, const X86Insn *i) { *x86_reg8(c, i->rm) = *x86_reg8(c, i->reg); }
static void mov_eg16r(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->rm) = *x86_reg16(c, i->reg); }
static void mov_eg32r(X86Cpu *c, const X86Insn *i) { c->regs[i->rm] = c->regs[i->reg]; }
static void mov_eg8m(X86Cpu *c, const X86Insn *i) { x86_write(c, i->seg, x86_ea(c, i), 1, *x86_reg8(c, i->reg)); }
static void mov_eg16m(X86Cpu *c, const X86Insn *i) { x86_write(c, i->seg, x86_ea(c, i), 2, *x86_reg16(c, i->reg)); }
static void mov_eg32m(X86Cpu *c, const X86Insn *i) { x86_write(c, i->seg, x86_ea(c, i), 4, c->regs[i->reg]); }
static void mov_ge8r(X86Cpu *c, const X86Insn *i) { *x86_reg8(c, i->reg) = *x86_reg8(c, i->rm); }
static void mov_ge16r(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = *x86_reg16(c, i->rm); }
static void mov_ge32r(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = c->regs[i->rm]; }
static void mov_ge8m(X86Cpu *c, const X86Insn *i) { *x86_reg8(c, i->reg) = (uint8_t)x86_read(c, i->seg, x86_ea(c, i), 1); }
static void mov_ge16m(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = (uint16_t)x86_read(c, i->seg, x86_ea(c, i), 2); }
static void mov_ge32m(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = x86_read(c, i->seg, x86_ea(c, i), 4); }

static void mov_r8_imm(X86Cpu *c, const X86Insn *i) { *x86_reg8(c, i->reg) = (uint8_t)i->imm; }
static void mov_r16_imm(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = (uint16_t)i->imm; }
static void mov_r32_imm(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = i->imm; }

static void mov_e_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    x86_set_rm(c, i, size, i->imm);
}

/* A0-A3: the accumulator and a memory offset. */
static void mov_moffs(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    if (i->opcode & 2)
        x86_write(c, i->seg, i->disp, size, x86_get_reg(c, R_EAX, size));
    else
        x86_set_reg(c, R_EAX, size, x86_read(c, i->seg, i->disp, size));
}

static void movzx_sx(X86Cpu *c, const X86Insn *i)
{
    unsigned src_size = (i->opcode & 1) ? 2 : 1;
    uint32_t v = x86_get_rm(c, i, src_size);
    if (i->opcode >= 0x0fbe)
        v = x86_sext(v, src_size);
    x86_set_reg(c, i->reg, x86_osize(i), v);
}

static void lea16(X86Cpu *c, const X86Insn *i) { *x86_reg16(c, i->reg) = (uint16_t)x86_ea(c, i); }
static void lea32(X86Cpu *c, const X86Insn *i) { c->regs[i->reg] = x86_ea(c, i); }

/* ---- XCHG ---- */

static void xchg_acc(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t a = x86_get_reg(c, R_EAX, size);
    x86_set_reg(c, R_EAX, size, x86_get_reg(c, i->reg, size));
    x86_set_reg(c, i->reg, size, a);
}

static void xchg_eg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint32_t r = x86_get_reg(c, i->reg, size);
    if (!(i->pfx & X86_PFX_MEM)) {
        x86_set_reg(c, i->reg, size, x86_get_reg(c, i->rm, size));
        x86_set_reg(c, i->rm, size, r);
        return;
    }
    /* XCHG with memory always locks (SDM vol. 2, XCHG). */
    X86Rmw w;
    uint32_t m = x86_rmw_begin_locked(c, i->seg, x86_ea(c, i), size, &w, true);
    while (!x86_rmw_end(c, &w, size, r))
        m = w.old;
    x86_set_reg(c, i->reg, size, m);
}

/* 0F 0D /r with memory: PREFETCH / PREFETCHW, a hint. Every AMD64 processor has them
 * (AMD's 3DNow! prefetches, which Linux takes for granted with long mode) and Intel's
 * 64-bit ones execute 0F 0D as a NOP; the P6-class models here have neither: #UD. */
static void prefetch_hint(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (!(c->model->ext_edx & CPUID_EXT_LM))
        x86_ud(c);
}

static void nop(X86Cpu *c, const X86Insn *i)
{
    (void)c;
    (void)i;
}

/* ---- stack ---- */

static void push_r16(X86Cpu *c, const X86Insn *i) { x86_push(c, 2, *x86_reg16(c, i->reg)); }
static void push_r32(X86Cpu *c, const X86Insn *i) { x86_push(c, 4, c->regs[i->reg]); }
static void pop_r16(X86Cpu *c, const X86Insn *i)
{
    uint16_t v = (uint16_t)x86_pop(c, 2);
    *x86_reg16(c, i->reg) = v;
}
static void pop_r32(X86Cpu *c, const X86Insn *i)
{
    uint32_t v = x86_pop(c, 4);
    c->regs[i->reg] = v;
}

/* 32-bit flat stack fast paths: the common case in protected-mode code. */
static void push_r32_flat(X86Cpu *c, const X86Insn *i)
{
    if (!c->ss32 || !c->seg[S_SS].flat || (c->seg[S_SS].ok & SEG_OK_WRITE) == 0) {
        push_r32(c, i);
        return;
    }
    uint32_t sp = c->regs[R_ESP] - 4;
    x86_st_lin(c, (uint32_t)(c->seg[S_SS].base + sp), 4, c->regs[i->reg]);
    c->regs[R_ESP] = sp;
}
static void pop_r32_flat(X86Cpu *c, const X86Insn *i)
{
    if (!c->ss32 || !c->seg[S_SS].flat || (c->seg[S_SS].ok & SEG_OK_READ) == 0) {
        pop_r32(c, i);
        return;
    }
    uint32_t sp = c->regs[R_ESP];
    uint32_t v = x86_ld_lin(c, (uint32_t)(c->seg[S_SS].base + sp), 4);
    c->regs[R_ESP] = sp + 4;
    c->regs[i->reg] = v;
}

static void push_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    x86_push(c, size, i->imm & x86_mask(size));
}

static void push_ev(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    x86_push(c, size, x86_get_rm(c, i, size));
}

/* POP r/m: the address is computed with ESP already incremented (SDM vol. 2, POP). */
static void pop_ev(X86Cpu *c, const X86Insn *i)
{
    if (i->reg != 0)
        x86_ud(c);
    unsigned size = x86_osize(i);
    uint32_t old_esp = c->regs[R_ESP];
    uint32_t sp = old_esp & x86_sp_mask(c);
    uint32_t v = x86_read(c, S_SS, sp, size);
    if (!(i->pfx & X86_PFX_MEM)) {
        x86_set_sp(c, sp + size);
        x86_set_reg(c, i->rm, size, v);
        return;
    }
    x86_set_sp(c, sp + size);
    uint64_t ea = x86_ea(c, i);
    c->regs[R_ESP] = old_esp;
    x86_write(c, i->seg, ea, size, v);
    x86_set_sp(c, sp + size);
}

static void pusha(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t mask = x86_sp_mask(c);
    uint32_t sp = c->regs[R_ESP];
    uint32_t orig = c->regs[R_ESP];
    for (unsigned r = 0; r < 8; r++) {
        sp = (sp - size) & mask;
        uint32_t v = r == R_ESP ? orig : c->regs[r];
        x86_write(c, S_SS, sp, size, v & x86_mask(size));
    }
    x86_set_sp(c, sp);
}

static void popa(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t mask = x86_sp_mask(c);
    uint32_t sp = c->regs[R_ESP] & mask;
    uint32_t v[8];
    for (int r = 7; r >= 0; r--) {
        v[r] = x86_read(c, S_SS, sp, size);
        sp = (sp + size) & mask;
    }
    for (unsigned r = 0; r < 8; r++)
        if (r != R_ESP)
            x86_set_reg(c, r, size, v[r]);
    x86_set_sp(c, sp);
}

static void pushf(X86Cpu *c, const X86Insn *i)
{
    if (c->vm86 && x86_iopl(c) < 3)
        x86_gp0(c);
    unsigned size = x86_osize(i);
    /* The image has VM and RF clear (SDM vol. 2, PUSHF). */
    uint32_t f = x86_get_eflags(c) & ~(X86_FL_VM | X86_FL_RF);
    x86_push(c, size, f & x86_mask(size));
}

static void popf(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    if (c->vm86 && x86_iopl(c) < 3)
        x86_gp0(c);
    uint32_t v = x86_pop(c, size);
    /* What POPF may change (SDM vol. 2, POPF). */
    uint32_t mask = X86_FL_ARITH | X86_FL_TF | X86_FL_DF | X86_FL_NT | X86_FL_AC | X86_FL_ID |
                    X86_FL_IF | X86_FL_IOPL;
    if (c->vm86) {
        mask &= ~X86_FL_IOPL;
    } else if (c->pe && c->cpl > 0) {
        mask &= ~X86_FL_IOPL;
        if (c->cpl > x86_iopl(c))
            mask &= ~X86_FL_IF;
    }
    if (size == 2)
        mask &= 0xffff;
    x86_write_eflags(c, v, mask | X86_FL_RF);
    /* RF is cleared: the value written for it is 0. */
    c->eflags &= ~X86_FL_RF;
}

static void enter(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t alloc = i->imm & 0xffff;
    unsigned level = i->imm2 & 31;
    uint32_t mask = x86_sp_mask(c);
    uint32_t sp = (c->regs[R_ESP] - size) & mask;
    x86_write(c, S_SS, sp, size, c->regs[R_EBP] & x86_mask(size));
    /* FrameTemp: ESP (all 32 bits) for a 32-bit operand size, else SP. */
    uint32_t frame = size == 4 && !c->ss32 ? (c->regs[R_ESP] & 0xffff0000u) | sp : sp;
    uint32_t bp = c->regs[R_EBP];
    if (level > 0) {
        for (unsigned n = 1; n < level; n++) {
            bp = c->ss32 ? bp - size : ((bp & 0xffff0000u) | ((bp - size) & 0xffff));
            uint32_t v = x86_read(c, S_SS, bp & mask, size);
            sp = (sp - size) & mask;
            x86_write(c, S_SS, sp, size, v);
        }
        sp = (sp - size) & mask;
        x86_write(c, S_SS, sp, size, frame);
    }
    sp = (sp - alloc) & mask;
    /* A write at the final stack pointer must be allowed: #SS past the SS limit, #PF
     * where paging would refuse it (SDM vol. 2, ENTER, exceptions); checked as a
     * one-byte write that stores nothing. */
    if (alloc) {
        uint32_t lin = x86_lin(c, S_SS, sp, 1, SEG_OK_WRITE);
        if (c->paging)
            x86_probe(c, lin, 1, c->acc_user | ACC_WRITE);
    }
    x86_set_reg(c, R_EBP, size, frame);
    x86_set_sp(c, sp);
}

static void leave(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t sp = c->regs[R_EBP] & x86_sp_mask(c);
    uint32_t v = x86_read(c, S_SS, sp, size);
    x86_set_sp(c, sp + size);
    x86_set_reg(c, R_EBP, size, v);
}

/* ---- flags ---- */

static void lahf(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    uint32_t f = x86_get_eflags(c);
    *x86_reg8(c, 4) = (uint8_t)((f & (X86_FL_SF | X86_FL_ZF | X86_FL_AF | X86_FL_PF | X86_FL_CF)) | X86_FL_FIXED);
}

static void sahf(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    uint32_t ah = *x86_reg8(c, 4);
    x86_set_arith(c, ah, X86_FL_SF | X86_FL_ZF | X86_FL_AF | X86_FL_PF | X86_FL_CF);
}

static void flag_op(X86Cpu *c, const X86Insn *i)
{
    switch (i->opcode) {
    case 0xf5: x86_set_arith(c, x86_flag_cf(c) ? 0 : X86_FL_CF, X86_FL_CF); break;
    case 0xf8: x86_set_arith(c, 0, X86_FL_CF); break;
    case 0xf9: x86_set_arith(c, X86_FL_CF, X86_FL_CF); break;
    case 0xfc: c->eflags &= ~X86_FL_DF; break;
    default: c->eflags |= X86_FL_DF; break;
    }
}

static void xlat(X86Cpu *c, const X86Insn *i)
{
    uint32_t off = c->regs[R_EBX] + (c->regs[R_EAX] & 0xff);
    if (!(i->pfx & X86_PFX_AD32))
        off &= 0xffff;
    *x86_reg8(c, 0) = (uint8_t)x86_read(c, i->seg, off, 1);
}

/* ---- conditional moves and sets ---- */

static void cmov(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    /* The source is read (and may fault) whatever the condition. */
    uint32_t v = x86_get_rm(c, i, size);
    if (x86_cond(c, i->opcode & 0xf))
        x86_set_reg(c, i->reg, size, v);
}

static void setcc(X86Cpu *c, const X86Insn *i)
{
    x86_set_rm(c, i, 1, x86_cond(c, i->opcode & 0xf));
}

static void bswap(X86Cpu *c, const X86Insn *i)
{
    if (i->pfx & X86_PFX_OP32)
        c->regs[i->reg] = __builtin_bswap32(c->regs[i->reg]);
    else
        *x86_reg16(c, i->reg) = 0; /* undefined for 16 bits; P6 processors give 0 */
}

X86Handler x86_bind_move(X86Insn *i)
{
    bool mem = i->pfx & X86_PFX_MEM;
    bool o32 = i->pfx & X86_PFX_OP32;
    switch (i->opcode) {
    case 0x88: return mem ? mov_eg8m : mov_eg8r;
    case 0x89: return mem ? (o32 ? mov_eg32m : mov_eg16m) : (o32 ? mov_eg32r : mov_eg16r);
    case 0x8a: return mem ? mov_ge8m : mov_ge8r;
    case 0x8b: return mem ? (o32 ? mov_ge32m : mov_ge16m) : (o32 ? mov_ge32r : mov_ge16r);
    case 0x8d: return mem ? (o32 ? lea32 : lea16) : NULL;
    case 0xa0 ... 0xa3: return mov_moffs;
    case 0xb0 ... 0xb7: return mov_r8_imm;
    case 0xb8 ... 0xbf: return o32 ? mov_r32_imm : mov_r16_imm;
    case 0xc6: case 0xc7: return i->reg == 0 ? mov_e_imm : NULL;
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf: return movzx_sx;
    case 0x86: case 0x87: return xchg_eg;
    case 0x90: return nop;
    case 0x91 ... 0x97: return xchg_acc;
    case 0x0f18 ... 0x0f1f: return nop; /* hint NOPs (NOP r/m) */
    case 0x0f0d: return mem ? prefetch_hint : NULL;
    case 0x50 ... 0x57: return o32 ? push_r32_flat : push_r16;
    case 0x58 ... 0x5f: return o32 ? pop_r32_flat : pop_r16;
    case 0x68: case 0x6a: return push_imm;
    case 0x8f: return pop_ev;
    case 0xff: return i->reg == 6 ? push_ev : NULL;
    case 0x60: return pusha;
    case 0x61: return popa;
    case 0x9c: return pushf;
    case 0x9d: return popf;
    case 0xc8: return enter;
    case 0xc9: return leave;
    case 0x9e: return sahf;
    case 0x9f: return lahf;
    case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd: return flag_op;
    case 0xd7: return xlat;
    case 0x0f40 ... 0x0f4f: return cmov;
    case 0x0f90 ... 0x0f9f: return setcc;
    case 0x0fc8 ... 0x0fcf: return bswap;
    }
    return NULL;
}
