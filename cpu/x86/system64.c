/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Long-mode system instructions and MSRs (issue 18, phase 2): SYSCALL and SYSRET with
 * STAR/LSTAR/SFMASK, SWAPGS with IA32_KERNEL_GS_BASE, the FS/GS base MSRs, IRETQ to
 * 64-bit and to compatibility mode, RDTSCP with IA32_TSC_AUX (SDM vol. 2 for each
 * instruction, vol. 3 5.8.8 and 6.14.3, vol. 4 table 2-2). Targets, stacks and bases
 * are 64-bit canonical addresses. */
#include "cpu/x86/cpu-internal.h"

enum {
    MSR_STAR = 0xc0000081u,
    MSR_LSTAR = 0xc0000082u,
    MSR_CSTAR = 0xc0000083u,
    MSR_FMASK = 0xc0000084u,
    MSR_FS_BASE = 0xc0000100u,
    MSR_GS_BASE = 0xc0000101u,
    MSR_KERNEL_GS_BASE = 0xc0000102u,
    MSR_TSC_AUX = 0xc0000103u,
    MSR_SYSCFG = 0xc0010010u,
    MSR_INT_PENDING_MSG = 0xc0010055u,
};

/* AMD's SYSCFG (AMD64 APM vol. 2, 7.9: the MTRR extensions' enables, bits 17-21, and
 * bit 22 of the K8 BKDG, read/write; the rest reserved here): on the AuthenticAMD
 * models with long mode (qemu64), whose MTRR code Linux reads it in. */
#define SYSCFG_RW (UINT64_C(0x3f) << 17)
static bool has_syscfg(const X86Cpu *c)
{
    return (c->model->ext_edx & CPUID_EXT_LM) && !strcmp(c->model->vendor, "AuthenticAMD");
}

static inline bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

bool x86_msr64_read(X86Cpu *c, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case MSR_STAR: *v = c->star; return true;
    case MSR_LSTAR: *v = c->lstar; return true;
    case MSR_CSTAR: *v = c->cstar; return true;
    case MSR_FMASK: *v = c->sfmask; return true;
    case MSR_FS_BASE: *v = c->seg[S_FS].base; return true;
    case MSR_GS_BASE: *v = c->seg[S_GS].base; return true;
    case MSR_KERNEL_GS_BASE: *v = c->kernel_gs_base; return true;
    case MSR_TSC_AUX: *v = c->tsc_aux; return true;
    case MSR_SYSCFG:
        if (!has_syscfg(c))
            return false;
        *v = c->syscfg;
        return true;
    case MSR_INT_PENDING_MSG:
        /* K8's interrupt-pending message register (BKDG for revision F): its
         * SMI-on-halt and C1E-on-halt enables, which Linux's E400 idle code reads; this
         * CPU enters neither state, so they read 0 and only 0 may be written. */
        if (!has_syscfg(c))
            return false;
        *v = 0;
        return true;
    default: return false;
    }
}

/* The addresses must be canonical (#GP otherwise); SFMASK has 32 bits, TSC_AUX too. */
bool x86_msr64_write(X86Cpu *c, uint32_t msr, uint64_t v, bool *ok)
{
    *ok = false;
    switch (msr) {
    case MSR_STAR: c->star = v; break;
    case MSR_LSTAR: case MSR_CSTAR: case MSR_KERNEL_GS_BASE:
        if (!canonical(v))
            return true;
        *(msr == MSR_LSTAR ? &c->lstar : msr == MSR_CSTAR ? &c->cstar : &c->kernel_gs_base) = v;
        break;
    case MSR_FMASK:
        if (v >> 32)
            return true;
        c->sfmask = v;
        break;
    case MSR_FS_BASE: case MSR_GS_BASE:
        if (!canonical(v))
            return true;
        c->seg[msr == MSR_FS_BASE ? S_FS : S_GS].base = v;
        break;
    case MSR_TSC_AUX:
        if (v >> 32)
            return true;
        c->tsc_aux = (uint32_t)v;
        break;
    case MSR_SYSCFG:
        if (!has_syscfg(c))
            return false;
        if (v & ~SYSCFG_RW)
            return true;
        c->syscfg = v;
        break;
    case MSR_INT_PENDING_MSG:
        if (!has_syscfg(c))
            return false;
        if (v)
            return true;
        break;
    default:
        return false;
    }
    *ok = true;
    return true;
}

/* Loads a flat segment the way SYSCALL and SYSRET do (no descriptor is read). */
static void load_flat(X86Cpu *c, unsigned which, uint16_t sel, uint16_t attr)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = attr;
    c->seg_base_cached[which] = 0;
    x86_seg_update(c, s, which);
}

/* SYSCALL (64-bit mode only on Intel): RCX = RIP, R11 = RFLAGS, CS and SS from
 * STAR[47:32], RIP = LSTAR, RFLAGS &= ~SFMASK. */
static void syscall64(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (!(c->efer & X86_EFER_SCE))
        x86_ud(c);
    uint32_t fl = x86_get_eflags(c);
    c->regs[R_ECX] = c->eip;
    c->regs[11] = fl & ~X86_FL_RF;
    uint16_t sel = (uint16_t)(c->star >> 32);
    x86_set_cpl(c, 0);
    load_flat(c, S_SS, (uint16_t)((sel + 8) & 0xfffc), 0xc093);
    load_flat(c, S_CS, sel & 0xfffc, 0xa09b);
    x86_set_cpl(c, 0);
    x86_write_eflags(c, fl & ~(uint32_t)c->sfmask & ~(X86_FL_RF | X86_FL_VM), 0xffffffffu);
    c->eip = c->lstar;
    c->exit_block = 1;
}

/* SYSRET: to 64-bit mode with REX.W (CS = STAR[63:48] + 16), else to compatibility
 * mode (CS = STAR[63:48]); SS = STAR[63:48] + 8; RPL 3. RCX must be canonical for a
 * return to 64-bit mode (#GP(0) at CPL 0, the Intel rule). */
static void sysret64(X86Cpu *c, const X86Insn *i)
{
    if (!(c->efer & X86_EFER_SCE))
        x86_ud(c);
    if (c->cpl != 0)
        x86_gp0(c);
    bool to64 = i->rex & 8;
    uint64_t rip = to64 ? c->regs[R_ECX] : (uint32_t)c->regs[R_ECX];
    if (to64 && !canonical(rip))
        x86_gp0(c);
    uint16_t sel = (uint16_t)(c->star >> 48);
    load_flat(c, S_SS, (uint16_t)((sel + 8) | 3), 0xc0f3);
    if (to64)
        load_flat(c, S_CS, (uint16_t)((sel + 16) | 3), 0xa0fb);
    else
        load_flat(c, S_CS, (uint16_t)(sel | 3), 0xc0fb);
    x86_set_cpl(c, 3);
    x86_write_eflags(c, ((uint32_t)c->regs[11] & 0x3c7fd7u & ~X86_FL_VM) | X86_FL_FIXED, 0xffffffffu);
    c->eip = rip;
    c->exit_block = 1;
}

/* SYSENTER in IA-32e mode, from 64-bit or compatibility mode (SDM vol. 2, SYSENTER:
 * Intel processors allow both; AMD's raise #UD in long mode, AMD64 APM vol. 3): to
 * 64-bit mode at CPL 0, CS = SYSENTER_CS with L, SS = SYSENTER_CS + 8, RSP and RIP the
 * whole 64-bit SYSENTER_ESP and SYSENTER_EIP. */
void x86_sysenter_ia32e(X86Cpu *c)
{
    if (strcmp(c->model->vendor, "GenuineIntel"))
        x86_ud(c);
    if ((c->sysenter_cs & 0xfffc) == 0)
        x86_gp0(c);
    uint32_t fl = x86_get_eflags(c);
    x86_set_cpl(c, 0);
    load_flat(c, S_SS, (uint16_t)((c->sysenter_cs + 8) & 0xfffc), 0xc093);
    load_flat(c, S_CS, (uint16_t)(c->sysenter_cs & 0xfffc), 0xa09b);
    x86_set_cpl(c, 0);
    x86_write_eflags(c, fl & ~(X86_FL_VM | X86_FL_IF | X86_FL_RF), 0xffffffffu);
    c->regs[R_ESP] = c->sysenter_esp;
    c->eip = c->sysenter_eip;
    c->exit_block = 1;
}

/* SYSEXIT in IA-32e mode: with REX.W to 64-bit mode (CS = SYSENTER_CS + 32, SS + 40,
 * RSP = RCX and RIP = RDX, both canonical or #GP(0)), without it to compatibility mode
 * (CS + 16, SS + 24, ESP = ECX, EIP = EDX); RPL and CPL 3. */
void x86_sysexit_ia32e(X86Cpu *c, bool to64)
{
    if (strcmp(c->model->vendor, "GenuineIntel"))
        x86_ud(c);
    if ((c->sysenter_cs & 0xfffc) == 0 || c->cpl != 0)
        x86_gp0(c);
    uint64_t rsp = to64 ? c->regs[R_ECX] : (uint32_t)c->regs[R_ECX];
    uint64_t rip = to64 ? c->regs[R_EDX] : (uint32_t)c->regs[R_EDX];
    if (to64 && (!canonical(rsp) || !canonical(rip)))
        x86_gp0(c);
    uint16_t base = (uint16_t)c->sysenter_cs;
    load_flat(c, S_SS, (uint16_t)((base + (to64 ? 40 : 24)) | 3), 0xc0f3);
    if (to64)
        load_flat(c, S_CS, (uint16_t)((base + 32) | 3), 0xa0fb);
    else
        load_flat(c, S_CS, (uint16_t)((base + 16) | 3), 0xc0fb);
    x86_set_cpl(c, 3);
    c->regs[R_ESP] = rsp;
    c->eip = rip;
    c->exit_block = 1;
}

static void sysenter64(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    x86_sysenter_ia32e(c);
}

static void sysexit64(X86Cpu *c, const X86Insn *i)
{
    x86_sysexit_ia32e(c, i->rex & 8);
}

/* SWAPGS: GS.base <-> IA32_KERNEL_GS_BASE, at CPL 0 in 64-bit mode. */
static void swapgs(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (c->cpl != 0)
        x86_gp0(c);
    uint64_t old = c->seg[S_GS].base;
    c->seg[S_GS].base = c->kernel_gs_base;
    c->kernel_gs_base = old;
}

static void rdtscp(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if ((c->cr4 & X86_CR4_TSD) && c->cpl != 0)
        x86_gp0(c);
    uint64_t t = x86_rdtsc(c);
    c->regs[R_EAX] = (uint32_t)t;
    c->regs[R_EDX] = (uint32_t)(t >> 32);
    c->regs[R_ECX] = c->tsc_aux;
}

/* The code segment an IRET or a far RET in IA-32e mode returns to, checked as the SDM's
 * pseudocode of both does: #GP(selector) for a null, non-code, more privileged or
 * wrongly conforming one, #NP(selector) when absent, and #GP(selector) for L with D.
 * Returns whether it is a 64-bit code segment. */
static bool return_code_segment(X86Cpu *c, uint16_t cs, X86Desc *out)
{
    if (!(cs & 0xfffc))
        x86_gp0(c);
    X86Desc cd;
    if (!x86_desc_read(c, cs, &cd))
        x86_fault_err(c, X86_EXC_GP, cs & 0xfffc);
    unsigned rpl = cs & 3, type = x86_desc_type(cd);
    if (!x86_desc_is_seg(cd) || !(type & 8) || rpl < c->cpl)
        x86_fault_err(c, X86_EXC_GP, cs & 0xfffc);
    if ((type & 4) ? x86_desc_dpl(cd) > rpl : x86_desc_dpl(cd) != rpl)
        x86_fault_err(c, X86_EXC_GP, cs & 0xfffc);
    if (!x86_desc_present(cd))
        x86_fault_err(c, X86_EXC_NP, cs & 0xfffc);
    uint16_t cattr = x86_desc_attr(cd);
    bool to64 = cattr & X86_ATTR_L;
    if (to64 && (cattr & X86_ATTR_DB))
        x86_fault_err(c, X86_EXC_GP, cs & 0xfffc);
    *out = cd;
    return to64;
}

/* The stack segment an IRET or a far RET to rpl pops (SDM vol. 2, IRET and RET,
 * IA-32e mode): null only back to 64-bit mode below CPL 3 (returns true), else a
 * present writable data segment with RPL = DPL = rpl: #GP(selector), #SS(selector). */
static bool return_stack_segment(X86Cpu *c, uint16_t ss, unsigned rpl, bool to64, X86Desc *sd)
{
    *sd = (X86Desc){ 0, 0 };
    if (!(ss & 0xfffc)) {
        if (!to64 || rpl == 3 || (ss & 3) != rpl)
            x86_fault_err(c, X86_EXC_GP, ss & 0xfffc);
        return true;
    }
    if (!x86_desc_read(c, ss, sd))
        x86_fault_err(c, X86_EXC_GP, ss & 0xfffc);
    unsigned st = x86_desc_type(*sd);
    if ((ss & 3) != rpl || !x86_desc_is_seg(*sd) || (st & 8) || !(st & 2) || x86_desc_dpl(*sd) != rpl)
        x86_fault_err(c, X86_EXC_GP, ss & 0xfffc);
    if (!x86_desc_present(*sd))
        x86_fault_err(c, X86_EXC_SS, ss & 0xfffc);
    return false;
}

static void load_return_ss(X86Cpu *c, uint16_t ss, bool null, X86Desc *sd)
{
    if (null) {
        X86Seg *s = &c->seg[S_SS];
        s->sel = ss;
        s->attr = 0;
        s->base = 0;
        s->limit = 0;
        c->seg_base_cached[S_SS] = 0;
        x86_seg_update(c, s, S_SS);
    } else {
        x86_desc_set_accessed(c, ss, sd);
        x86_seg_from_desc(c, S_SS, ss, *sd);
    }
}

/* IRET in IA-32e mode with any operand size (2, 4 or 8 bytes a slot), from 64-bit
 * mode (RSP) or compatibility mode (SS:ESP or SS:SP by SS.B): EIP/RIP, CS, EFLAGS,
 * then ESP/RSP and SS, which IA-32e mode pops always (SDM vol. 2, IRET, IA-32e-MODE);
 * 16- and 32-bit slots zero-extend, a 16-bit EFLAGS changes only the low half. */
void x86_iret_ia32e(X86Cpu *c, unsigned size)
{
    /* Back to 64-bit or compatibility mode at the same or an outer level; NT set is
     * #GP(0) (no task return in IA-32e mode). */
    if (c->eflags & X86_FL_NT)
        x86_gp0(c);
    uint64_t sp = c->regs[R_ESP], slot[5];
    if (c->long64) {
        if (!canonical(sp) || !canonical(sp + 5 * size - 1))
            x86_fault_err(c, X86_EXC_SS, 0);
        for (unsigned k = 0; k < 5; k++)
            slot[k] = size == 8 ? x86_ld64_lin(c, sp + k * size) : x86_ld_lin(c, sp + k * size, size);
    } else {
        uint32_t m = x86_sp_mask(c);
        for (unsigned k = 0; k < 5; k++)
            slot[k] = size == 8 ? 0 : x86_ld_lin(c, x86_lin(c, S_SS, (sp + k * size) & m, size, SEG_OK_READ), size);
    }
    uint64_t rip = slot[0], rsp = slot[3];
    uint16_t cs = (uint16_t)slot[1], ss = (uint16_t)slot[4];
    uint32_t fl = (uint32_t)slot[2];

    X86Desc cd;
    bool to64 = return_code_segment(c, cs, &cd);
    unsigned rpl = cs & 3;
    if (to64 ? !canonical(rip) : rip > x86_desc_limit(cd))
        x86_gp0(c);

    X86Desc sd;
    bool ss_null = return_stack_segment(c, ss, rpl, to64, &sd);

    /* Commit. */
    unsigned old_cpl = c->cpl;
    uint32_t mask = X86_FL_ARITH | X86_FL_TF | X86_FL_DF | X86_FL_NT | X86_FL_RF | X86_FL_AC | X86_FL_ID |
                    X86_FL_VIF | X86_FL_VIP;
    if (old_cpl == 0)
        mask |= X86_FL_IOPL;
    if (old_cpl <= x86_iopl(c))
        mask |= X86_FL_IF;
    if (size == 2)
        mask &= 0xffff;
    x86_desc_set_accessed(c, cs, &cd);
    load_return_ss(c, ss, ss_null, &sd);
    x86_seg_from_desc(c, S_CS, cs, cd);
    x86_set_cpl(c, rpl);
    x86_write_eflags(c, fl & ~X86_FL_VM, mask);
    c->regs[R_ESP] = to64 ? rsp : (uint32_t)rsp;
    c->eip = to64 ? rip : (uint32_t)rip;
    if (rpl > old_cpl)
        x86_seg_validate_outer(c);
    c->nmi_blocked = 0;
    c->exit_block = 1;
}

static void iret64(X86Cpu *c, const X86Insn *i)
{
    x86_iret_ia32e(c, (i->rex & 8) ? 8 : (i->pfx & X86_PFX_OP32) ? 4 : 2);
    x86_serialize(c);
}

/* SGDT, SIDT, LGDT, LIDT in 64-bit mode: a 2-byte limit and an 8-byte base (SDM vol. 2,
 * LGDT/LIDT, SGDT); a base must be canonical (#GP(0)). */
static void desc_table64(X86Cpu *c, const X86Insn *i)
{
    unsigned op = i->reg & 7;
    uint64_t lin = c->seg[i->seg].base + x86_ea(c, i);
    bool idt = op & 1;
    if (op < 2) {
        x86_probe(c, lin, 10, c->acc_user | ACC_WRITE);
        x86_st_lin(c, lin, 2, idt ? c->idt_limit : c->gdt_limit);
        x86_st64_lin(c, lin + 2, idt ? c->idt_base : c->gdt_base);
        return;
    }
    if (c->cpl != 0)
        x86_gp0(c);
    uint16_t limit = (uint16_t)x86_ld_lin(c, lin, 2);
    uint64_t base = x86_ld64_lin(c, lin + 2);
    if (!canonical(base))
        x86_gp0(c);
    if (idt) {
        c->idt_base = base;
        c->idt_limit = limit;
    } else {
        c->gdt_base = base;
        c->gdt_limit = limit;
    }
}

/* RETF in 64-bit mode (SDM vol. 2, RET, far return in IA-32e mode): pops RIP/EIP/IP
 * and CS (8, 4 or 2 bytes each, zero-extended), then imm16 bytes; to an outer level it
 * pops RSP and SS as well (SS checked as IRET's), adds imm16 to the new RSP and nulls
 * the data segment registers the new CPL may not use. */
static void retf64(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->rex & 8) ? 8 : (i->pfx & X86_PFX_OP32) ? 4 : 2;
    uint64_t imm = i->opcode == 0xca ? (i->imm & 0xffff) : 0;
    uint64_t sp = c->regs[R_ESP];
    if (!canonical(sp) || !canonical(sp + 2 * size - 1))
        x86_fault_err(c, X86_EXC_SS, 0);
    uint64_t rip = size == 8 ? x86_ld64_lin(c, sp) : x86_ld_lin(c, sp, size);
    uint16_t cs = (uint16_t)x86_ld_lin(c, sp + size, 2);
    X86Desc cd;
    bool to64 = return_code_segment(c, cs, &cd);
    unsigned rpl = cs & 3;
    if (to64 ? !canonical(rip) : rip > x86_desc_limit(cd))
        x86_gp0(c);
    if (rpl == c->cpl) {
        x86_desc_set_accessed(c, cs, &cd);
        x86_seg_from_desc(c, S_CS, cs, cd);
        c->regs[R_ESP] = sp + 2 * size + imm;
        c->eip = to64 ? rip : (uint32_t)rip;
        c->exit_block = 1;
        return;
    }
    uint64_t at = sp + 2 * size + imm;
    if (!canonical(at) || !canonical(at + 2 * size - 1))
        x86_fault_err(c, X86_EXC_SS, 0);
    uint64_t rsp = size == 8 ? x86_ld64_lin(c, at) : x86_ld_lin(c, at, size);
    uint16_t ss = (uint16_t)x86_ld_lin(c, at + size, 2);
    X86Desc sd;
    bool ss_null = return_stack_segment(c, ss, rpl, to64, &sd);
    x86_desc_set_accessed(c, cs, &cd);
    load_return_ss(c, ss, ss_null, &sd);
    x86_seg_from_desc(c, S_CS, cs, cd);
    x86_set_cpl(c, rpl);
    c->regs[R_ESP] = (to64 ? rsp : (uint32_t)rsp) + imm;
    c->eip = to64 ? rip : (uint32_t)rip;
    x86_seg_validate_outer(c);
    c->exit_block = 1;
}

/* The upper half of a 16-byte gate descriptor: all 16 bytes within their table and
 * its type field 0 (SDM vol. 3, 5.8.3.1, figure 5-9), else #GP(selector); returns
 * bits 63:32 of the offset. */
static uint32_t gate64_offset_high(X86Cpu *c, uint16_t sel)
{
    uint64_t base = (sel & 4) ? c->ldtr.base : c->gdt_base;
    uint32_t limit = (sel & 4) ? c->ldtr.limit : c->gdt_limit;
    uint32_t at = sel & ~7u;
    if (at + 15 > limit)
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    uint32_t high = x86_ld_sys(c, base + at + 8, 4);
    if ((x86_ld_sys(c, base + at + 12, 4) >> 8) & 0x1f)
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    return high;
}

/* JMP and CALL far through a 64-bit call gate (IA-32e mode; SDM vol. 2, CALL and JMP,
 * vol. 3, 5.8.3.1 and 5.8.5): the gate's DPL admits CPL and RPL; it leads to a 64-bit
 * code segment (L set, D clear) at a canonical offset. CALL to a more privileged
 * non-conforming segment switches to RSPn of the 64-bit TSS with a null SS (RPL the
 * new CPL) and pushes the old SS, RSP, CS and RIP; otherwise CS and RIP on the current
 * stack; all in 8-byte slots, with no parameters copied and no alignment. JMP never
 * changes privilege: a non-conforming target must have DPL = CPL. Nothing is
 * committed before the last check. */
void x86_far_gate64(X86Cpu *c, uint16_t sel, X86Desc d, bool call)
{
    /* IA-32e mode has no task switches and no 16-bit gates (SDM vol. 3, 7.7). */
    if (x86_desc_type(d) != 12)
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    unsigned gdpl = x86_desc_dpl(d);
    if (gdpl < c->cpl || gdpl < (sel & 3u))
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, sel & 0xfffc);
    uint64_t rip = (d.lo & 0xffff) | (d.hi & 0xffff0000u) | (uint64_t)gate64_offset_high(c, sel) << 32;
    uint16_t tsel = (uint16_t)(d.lo >> 16);
    uint32_t terr = tsel & 0xfffc;
    if (!terr)
        x86_gp0(c);
    X86Desc td;
    if (!x86_desc_read(c, tsel, &td) || !x86_desc_is_seg(td) || !(x86_desc_type(td) & 8))
        x86_fault_err(c, X86_EXC_GP, terr);
    unsigned tdpl = x86_desc_dpl(td);
    bool conforming = x86_desc_type(td) & 4;
    if (tdpl > c->cpl || (!call && !conforming && tdpl != c->cpl))
        x86_fault_err(c, X86_EXC_GP, terr);
    uint16_t attr = x86_desc_attr(td);
    if (!(attr & X86_ATTR_L) || (attr & X86_ATTR_DB))
        x86_fault_err(c, X86_EXC_GP, terr);
    if (!x86_desc_present(td))
        x86_fault_err(c, X86_EXC_NP, terr);
    unsigned cpl = conforming ? c->cpl : tdpl;
    bool outer = call && cpl < c->cpl;
    uint64_t rsp = outer ? x86_tss64_rsp(c, 4 + 8 * cpl, 0) : c->regs[R_ESP];
    if (!canonical(rip))
        x86_gp0(c);
    if (call) {
        uint64_t words[4] = { c->seg[S_SS].sel, c->regs[R_ESP], c->seg[S_CS].sel, c->eip };
        const uint64_t *push = outer ? words : words + 2;
        unsigned n = outer ? 4 : 2;
        uint64_t low = rsp - 8 * n;
        if (!canonical(rsp) || !canonical(low))
            x86_fault_err(c, X86_EXC_SS, 0);
        unsigned acc = ACC_WRITE | (cpl == 3 ? ACC_USER : 0);
        x86_probe(c, low, 8 * n, acc);
        for (unsigned k = 0; k < n; k++)
            x86_st64_slow(c, rsp - 8 * (k + 1), push[k], acc);
        rsp = low;
    }
    x86_desc_set_accessed(c, tsel, &td);
    if (outer)
        load_return_ss(c, (uint16_t)cpl, true, NULL);
    x86_seg_from_desc(c, S_CS, (uint16_t)((tsel & ~3u) | cpl), td);
    x86_set_cpl(c, cpl);
    c->regs[R_ESP] = rsp;
    c->eip = rip;
    c->exit_block = 1;
}

/* JMP and CALL far through memory in 64-bit mode (FF /5, FF /3; SDM vol. 2, JMP and
 * CALL, IA-32e mode): an m16:64 pointer with REX.W, m16:32 without, m16:16 with 66h,
 * to a code segment at the same privilege (conforming: DPL <= CPL), a 64-bit one (L)
 * taking a canonical offset, a compatibility-mode one an offset within its limit. CALL
 * pushes CS and the return RIP in slots of the operand size. IA-32e mode has no task
 * switches and no 16- or 32-bit gates: #GP(selector); a 64-bit call gate goes through
 * x86_far_gate64. */
static void far_mem64(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->rex & 8) ? 8 : (i->pfx & X86_PFX_OP32) ? 4 : 2;
    bool call = (i->reg & 7) == 3;
    uint64_t lin = x86_lin(c, i->seg, x86_ea(c, i), size + 2, SEG_OK_READ);
    uint64_t off = size == 8 ? x86_ld64_lin(c, lin) : x86_ld_lin(c, lin, size);
    uint16_t sel = (uint16_t)x86_ld_lin(c, lin + size, 2);
    uint32_t err = sel & 0xfffc;
    if (!err)
        x86_gp0(c);
    X86Desc d;
    if (!x86_desc_read(c, sel, &d))
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_is_seg(d)) {
        x86_far_gate64(c, sel, d, call);
        return;
    }
    unsigned type = x86_desc_type(d), dpl = x86_desc_dpl(d);
    if (!(type & 8) || ((type & 4) ? dpl > c->cpl : ((sel & 3u) > c->cpl || dpl != c->cpl)))
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    uint16_t attr = x86_desc_attr(d);
    bool to64 = attr & X86_ATTR_L;
    if (to64 && (attr & X86_ATTR_DB))
        x86_fault_err(c, X86_EXC_GP, err);
    if (to64 ? !canonical(off) : off > x86_desc_limit(d))
        x86_gp0(c);
    if (call) {
        uint64_t sp = c->regs[R_ESP], top = sp - 2 * size;
        if (!canonical(top) || !canonical(sp - 1))
            x86_fault_err(c, X86_EXC_SS, 0);
        x86_probe(c, top, 2 * size, c->acc_user | ACC_WRITE);
        uint64_t vals[2] = { c->eip, c->seg[S_CS].sel };
        for (unsigned k = 0; k < 2; k++) {
            if (size == 8)
                x86_st64_lin(c, top + k * size, vals[k]);
            else
                x86_st_lin(c, top + k * size, size, (uint32_t)vals[k]);
        }
        c->regs[R_ESP] = top;
    }
    x86_desc_set_accessed(c, sel, &d);
    x86_seg_from_desc(c, S_CS, (uint16_t)((sel & ~3u) | c->cpl), d);
    c->eip = to64 ? off : (uint32_t)off;
    c->exit_block = 1;
}

X86Handler x86_bind_system64(X86Insn *i)
{
    switch (i->opcode) {
    case 0x0f05: return syscall64;
    case 0x0f07: return sysret64;
    case 0x0f34: return sysenter64;
    case 0x0f35: return sysexit64;
    case 0xcf: return iret64;
    case 0xca: case 0xcb: return retf64;
    case 0xff:
        return ((i->reg & 7) == 3 || (i->reg & 7) == 5) && (i->pfx & X86_PFX_MEM) ? far_mem64 : NULL;
    case 0x0f01:
        if (i->modrm == 0xf8)
            return swapgs;
        if (i->modrm == 0xf9)
            return rdtscp;
        if ((i->pfx & X86_PFX_MEM) && (i->reg & 7) <= 3)
            return desc_table64;
        return NULL;
    }
    return NULL;
}
