/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control flow and the instructions around it: Jcc, JMP, CALL, RET, LOOP/JCXZ,
 * the far forms (handed to pmode.c), INT/INT3/INTO/INT1/IRET, BOUND, HLT, CLI/STI,
 * IN/OUT. */
#include "cpu/x86/cpu-internal.h"

/* ---- near branches ---- */

static void jcc16(X86Cpu *c, const X86Insn *i)
{
    if (x86_cond(c, i->opcode & 0xf))
        x86_jump_near(c, (c->eip + i->imm) & 0xffff);
}
static void jcc32(X86Cpu *c, const X86Insn *i)
{
    if (x86_cond(c, i->opcode & 0xf))
        x86_jump_near(c, c->eip + i->imm);
}

/* The two most common conditions after CMP/SUB/TEST/AND of 32 bits, without the
 * generic condition evaluation. */
static void jz32(X86Cpu *c, const X86Insn *i)
{
    bool z;
    if (c->cc_op >= CC_ADD32 && c->cc_op <= CC_SHIFT32 && ((c->cc_op - 1) % 3) == 2)
        z = c->cc_res == 0;
    else
        z = x86_cond(c, 4);
    if (z ^ (i->opcode & 1))
        x86_jump_near(c, c->eip + i->imm);
}

static void jmp16(X86Cpu *c, const X86Insn *i) { x86_jump_near(c, (c->eip + i->imm) & 0xffff); }
static void jmp32(X86Cpu *c, const X86Insn *i) { x86_jump_near(c, c->eip + i->imm); }

static void call_rel(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t target = c->eip + i->imm;
    if (size == 2)
        target &= 0xffff;
    x86_jump_near(c, target);
    uint32_t ret = c->prev_eip + i->len;
    /* The push may fault: EIP is restored by the fault path. */
    x86_push(c, size, ret & x86_mask(size));
}

static void call_rel32_flat(X86Cpu *c, const X86Insn *i)
{
    X86Seg *ss = &c->seg[S_SS];
    if (!c->ss32 || !ss->flat || !(ss->ok & SEG_OK_WRITE) || !c->seg[S_CS].flat) {
        call_rel(c, i);
        return;
    }
    uint32_t sp = c->regs[R_ESP] - 4;
    x86_st_lin(c, (uint32_t)(ss->base + sp), 4, (uint32_t)c->eip);
    c->regs[R_ESP] = sp;
    c->eip = (uint32_t)(c->eip + i->imm);
}

static void ret_near(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t sp = c->regs[R_ESP] & x86_sp_mask(c);
    uint32_t target = x86_read(c, S_SS, sp, size);
    x86_jump_near(c, target);
    uint32_t pop = size + (i->opcode == 0xc2 ? (i->imm & 0xffff) : 0);
    x86_set_sp(c, sp + pop);
}

static void ret32_flat(X86Cpu *c, const X86Insn *i)
{
    X86Seg *ss = &c->seg[S_SS];
    if (!c->ss32 || !ss->flat || !(ss->ok & SEG_OK_READ) || !c->seg[S_CS].flat) {
        ret_near(c, i);
        return;
    }
    uint32_t sp = c->regs[R_ESP];
    c->eip = x86_ld_lin(c, (uint32_t)(ss->base + sp), 4);
    c->regs[R_ESP] = sp + 4;
}

/* FF /2, FF /4: through a register or memory. */
static void call_ind(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint32_t target = x86_get_rm(c, i, size);
    x86_jump_near(c, target);
    x86_push(c, size, (c->prev_eip + i->len) & x86_mask(size));
}
static void jmp_ind(X86Cpu *c, const X86Insn *i)
{
    x86_jump_near(c, x86_get_rm(c, i, x86_osize(i)));
}

/* LOOP, LOOPE, LOOPNE, JCXZ: the count register follows the address size. */
static void loop_jcxz(X86Cpu *c, const X86Insn *i)
{
    bool a32 = i->pfx & X86_PFX_AD32;
    uint32_t count = a32 ? c->regs[R_ECX] : (c->regs[R_ECX] & 0xffff);
    bool take;
    if (i->opcode == 0xe3) {
        take = count == 0;
    } else {
        count = a32 ? count - 1 : ((count - 1) & 0xffff);
        if (a32)
            c->regs[R_ECX] = count;
        else
            *x86_reg16(c, R_ECX) = (uint16_t)count;
        take = count != 0;
        if (i->opcode == 0xe0)
            take = take && !x86_cond(c, 4);
        else if (i->opcode == 0xe1)
            take = take && x86_cond(c, 4);
    }
    if (take) {
        uint32_t target = c->eip + i->imm;
        if (!(i->pfx & X86_PFX_OP32))
            target &= 0xffff;
        x86_jump_near(c, target);
    }
}

/* ---- far transfers ---- */

static void jmp_far_imm(X86Cpu *c, const X86Insn *i)
{
    x86_far_jmp(c, i->imm2, i->imm, x86_osize(i));
}
static void call_far_imm(X86Cpu *c, const X86Insn *i)
{
    x86_far_call(c, i->imm2, i->imm, x86_osize(i));
}

/* FF /3, FF /5: the far pointer is in memory (offset, then selector). */
static void far_ind(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_ud(c);
    unsigned size = x86_osize(i);
    uint64_t ea = x86_ea(c, i);
    uint32_t off = x86_read(c, i->seg, ea, size);
    uint64_t ea2 = ea + size;
    if (!(i->pfx & X86_PFX_AD32))
        ea2 &= 0xffff;
    uint16_t sel = (uint16_t)x86_read(c, i->seg, ea2, 2);
    if (i->reg == 3)
        x86_far_call(c, sel, off, size);
    else
        x86_far_jmp(c, sel, off, size);
}

static void retf(X86Cpu *c, const X86Insn *i)
{
    x86_far_ret(c, x86_osize(i), i->opcode == 0xca ? (uint16_t)i->imm : 0);
}

static void iret(X86Cpu *c, const X86Insn *i)
{
    x86_iret(c, x86_osize(i));
    x86_serialize(c);
}

/* ---- software interrupts ---- */

static void int_n(X86Cpu *c, const X86Insn *i)
{
    /* Without VME, INT n in V86 mode is IOPL-sensitive (SDM vol. 3, 20.2.7). */
    if (c->vm86 && x86_iopl(c) < 3)
        x86_gp0(c);
    x86_deliver(c, i->imm & 0xff, X86_EV_SOFT, false, 0);
}

static void int3(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    x86_deliver(c, X86_EXC_BP, X86_EV_SOFT_EXC, false, 0);
}

static void into(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (x86_cond(c, 0))
        x86_deliver(c, X86_EXC_OF, X86_EV_SOFT_EXC, false, 0);
}

static void icebp(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    x86_deliver(c, X86_EXC_DB, X86_EV_ICEBP, false, 0);
}

static void bound(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_ud(c);
    unsigned size = x86_osize(i);
    uint64_t ea = x86_ea(c, i);
    int32_t lo = (int32_t)x86_sext(x86_read(c, i->seg, ea, size), size);
    uint64_t ea2 = ea + size;
    if (!(i->pfx & X86_PFX_AD32))
        ea2 &= 0xffff;
    int32_t hi = (int32_t)x86_sext(x86_read(c, i->seg, ea2, size), size);
    int32_t idx = (int32_t)x86_sext(x86_get_reg(c, i->reg, size), size);
    if (idx < lo || idx > hi)
        x86_fault(c, X86_EXC_BR);
}

/* ---- processor control ---- */

static void hlt(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (c->pe && c->cpl != 0)
        x86_gp0(c);
    c->halted = 1;
    c->exit_block = 1;
}

static void cli_sti(X86Cpu *c, const X86Insn *i)
{
    /* Protected mode: CPL <= IOPL; V86: IOPL 3 (no VME/PVI, SDM vol. 2, CLI/STI). */
    if (c->vm86 ? x86_iopl(c) < 3 : (c->pe && c->cpl > x86_iopl(c)))
        x86_gp0(c);
    if (i->opcode == 0xfa) {
        c->eflags &= ~X86_FL_IF;
        return;
    }
    if (!(c->eflags & X86_FL_IF)) {
        c->eflags |= X86_FL_IF;
        /* Interrupts are recognized only after the next instruction. */
        c->intr_shadow = 1;
    }
    c->exit_block = 1;
}

static void in_out(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? x86_osize(i) : 1;
    uint16_t port = (i->opcode & 8) ? (uint16_t)c->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
    x86_io_check(c, port, size);
    x86_check_io_bp(c, port, size);
    if (i->opcode & 2)
        vcpu_pio_write(c->v, port, c->regs[R_EAX] & x86_mask(size), size);
    else
        x86_set_reg(c, R_EAX, size, vcpu_pio_read(c->v, port, size));
}

X86Handler x86_bind_control(X86Insn *i)
{
    bool o32 = i->pfx & X86_PFX_OP32;
    switch (i->opcode) {
    case 0x74: case 0x75: case 0x0f84: case 0x0f85:
        return o32 ? jz32 : jcc16;
    case 0x70 ... 0x73: case 0x76 ... 0x7f:
    case 0x0f80 ... 0x0f83: case 0x0f86 ... 0x0f8f:
        return o32 ? jcc32 : jcc16;
    case 0xe9: case 0xeb:
        return o32 ? jmp32 : jmp16;
    case 0xe8:
        return o32 ? call_rel32_flat : call_rel;
    case 0xc3:
        return o32 ? ret32_flat : ret_near;
    case 0xc2:
        return ret_near;
    case 0xe0 ... 0xe3:
        return loop_jcxz;
    case 0xea:
        return jmp_far_imm;
    case 0x9a:
        return call_far_imm;
    case 0xca: case 0xcb:
        return retf;
    case 0xcf:
        return iret;
    case 0xcc:
        return int3;
    case 0xcd:
        return int_n;
    case 0xce:
        return into;
    case 0xf1:
        return icebp;
    case 0x62:
        return bound;
    case 0xf4:
        return hlt;
    case 0xfa: case 0xfb:
        return cli_sti;
    case 0xe4 ... 0xe7: case 0xec ... 0xef:
        return in_out;
    case 0xff:
        switch (i->reg) {
        case 2: i->flags |= X86_INSN_END_BLOCK; return call_ind;
        case 3: case 5: i->flags |= X86_INSN_END_BLOCK; return far_ind;
        case 4: i->flags |= X86_INSN_END_BLOCK; return jmp_ind;
        default: return NULL;
        }
    }
    return NULL;
}
