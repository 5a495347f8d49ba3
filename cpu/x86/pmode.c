/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Far control transfers: JMP/CALL far (direct, call gates, task gates, TSS), RET far
 * and IRET, in real, V86 and protected mode (SDM vol. 2 JMP/CALL/RET/IRET, vol. 3
 * 5.8). Every check happens before any register is committed, so a fault leaves the
 * state of the instruction's start. */
#include "cpu/x86/cpu-internal.h"

/* Loads CS from a validated code descriptor with the given RPL as the new CPL. */
static void load_cs(X86Cpu *c, uint16_t sel, X86Desc d, unsigned cpl)
{
    x86_desc_set_accessed(c, sel, &d);
    x86_seg_from_desc(c, S_CS, (uint16_t)((sel & ~3u) | cpl), d);
    x86_set_cpl(c, cpl);
}

static void check_eip(X86Cpu *c, X86Desc d, uint32_t eip)
{
    if (eip > x86_desc_limit(d))
        x86_gp0(c);
}

/* A far return's offset against the target's limit, except for a 64-bit code segment
 * in IA-32e mode, which has none (SDM vol. 2, RET: only legacy and compatibility-mode
 * targets check it; a 32-bit offset is always canonical). */
static void check_ret_eip(X86Cpu *c, X86Desc d, uint32_t eip)
{
    if (!(x86_ia32e(c) && (x86_desc_attr(d) & X86_ATTR_L)))
        check_eip(c, d, eip);
}

/* A direct transfer to a code segment (JMP/CALL far without a gate). */
static void check_code_direct(X86Cpu *c, uint16_t sel, X86Desc d)
{
    uint32_t err = sel & 0xfffc;
    unsigned dpl = x86_desc_dpl(d);
    if (x86_desc_type(d) & 4) { /* conforming */
        if (dpl > c->cpl)
            x86_fault_err(c, X86_EXC_GP, err);
    } else if ((sel & 3u) > c->cpl || dpl != c->cpl) {
        x86_fault_err(c, X86_EXC_GP, err);
    }
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
}

/* Reads and checks the target of a gate: a code segment no more privileged than
 * required. */
static X86Desc gate_target(X86Cpu *c, uint16_t tsel)
{
    if ((tsel & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    uint32_t err = tsel & 0xfffc;
    if (!x86_desc_read(c, tsel, &d) || !x86_desc_is_seg(d) || !(x86_desc_type(d) & 8) ||
        x86_desc_dpl(d) > c->cpl)
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    return d;
}

/* Task gate or TSS descriptor as the target of JMP/CALL: checks and switches. */
static void far_to_task(X86Cpu *c, uint16_t sel, X86Desc d, X86TaskReason why)
{
    uint32_t err = sel & 0xfffc;
    unsigned dpl = x86_desc_dpl(d);
    if (dpl < c->cpl || dpl < (sel & 3u))
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    if (x86_desc_type(d) == 5) {
        uint16_t tsel = (uint16_t)(d.lo >> 16);
        X86Desc td;
        if ((tsel & 4) || !x86_desc_read(c, tsel, &td))
            x86_fault_err(c, X86_EXC_GP, tsel & 0xfffc);
        x86_task_switch(c, tsel, td, why, false, 0);
    } else {
        x86_task_switch(c, sel, d, why, false, 0);
    }
}

void x86_far_jmp(X86Cpu *c, uint16_t sel, uint32_t off, unsigned osize)
{
    if (osize == 2)
        off &= 0xffff;
    if (!x86_protected(c)) {
        if (off > c->seg[S_CS].limit)
            x86_gp0(c);
        x86_seg_load_real(c, S_CS, sel);
        c->eip = off;
        return;
    }
    if ((sel & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    if (!x86_desc_read(c, sel, &d))
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    if (x86_desc_is_seg(d)) {
        if (!(x86_desc_type(d) & 8))
            x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
        check_code_direct(c, sel, d);
        check_eip(c, d, off);
        load_cs(c, sel, d, c->cpl);
        c->eip = off;
        return;
    }
    if (x86_ia32e(c)) {
        x86_far_gate64(c, sel, d, false);
        return;
    }
    switch (x86_desc_type(d)) {
    case 4: case 12: { /* call gate */
        unsigned dpl = x86_desc_dpl(d);
        if (dpl < c->cpl || dpl < (sel & 3u))
            x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
        if (!x86_desc_present(d))
            x86_fault_err(c, X86_EXC_NP, sel & 0xfffc);
        uint16_t tsel = (uint16_t)(d.lo >> 16);
        uint32_t toff = (d.lo & 0xffff) | (x86_desc_type(d) == 12 ? (d.hi & 0xffff0000u) : 0);
        X86Desc td = gate_target(c, tsel);
        /* JMP through a gate never changes privilege. */
        if (!(x86_desc_type(td) & 4) && x86_desc_dpl(td) != c->cpl)
            x86_fault_err(c, X86_EXC_GP, tsel & 0xfffc);
        check_eip(c, td, toff);
        load_cs(c, tsel, td, c->cpl);
        c->eip = toff;
        return;
    }
    case 5: case 1: case 9:
        far_to_task(c, sel, d, X86_TS_JMP);
        return;
    default:
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    }
}

/* Pushes onto the current stack with a temporary stack pointer (nothing committed). */
static void push_tmp(X86Cpu *c, uint32_t *sp, unsigned size, uint32_t v)
{
    uint32_t n = (*sp - size) & x86_sp_mask(c);
    x86_write(c, S_SS, n, size, v);
    *sp = c->ss32 ? n : ((*sp & 0xffff0000u) | n);
}

void x86_far_call(X86Cpu *c, uint16_t sel, uint32_t off, unsigned osize)
{
    if (osize == 2)
        off &= 0xffff;
    uint32_t ret = c->eip;
    if (!x86_protected(c)) {
        if (off > c->seg[S_CS].limit)
            x86_gp0(c);
        uint32_t sp = c->regs[R_ESP];
        push_tmp(c, &sp, osize, c->seg[S_CS].sel);
        push_tmp(c, &sp, osize, ret);
        x86_seg_load_real(c, S_CS, sel);
        c->regs[R_ESP] = sp;
        c->eip = off;
        return;
    }
    if ((sel & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    if (!x86_desc_read(c, sel, &d))
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    if (x86_desc_is_seg(d)) {
        if (!(x86_desc_type(d) & 8))
            x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
        check_code_direct(c, sel, d);
        check_eip(c, d, off);
        uint32_t sp = c->regs[R_ESP];
        push_tmp(c, &sp, osize, c->seg[S_CS].sel);
        push_tmp(c, &sp, osize, ret);
        load_cs(c, sel, d, c->cpl);
        c->regs[R_ESP] = sp;
        c->eip = off;
        return;
    }
    if (x86_ia32e(c)) {
        x86_far_gate64(c, sel, d, true);
        return;
    }
    unsigned type = x86_desc_type(d);
    if (type == 5 || type == 1 || type == 9) {
        far_to_task(c, sel, d, X86_TS_CALL);
        return;
    }
    if (type != 4 && type != 12)
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);

    /* Call gate (SDM vol. 3, 5.8.5). */
    unsigned gdpl = x86_desc_dpl(d);
    if (gdpl < c->cpl || gdpl < (sel & 3u))
        x86_fault_err(c, X86_EXC_GP, sel & 0xfffc);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, sel & 0xfffc);
    bool gate32 = type == 12;
    unsigned psize = gate32 ? 4 : 2;
    uint16_t tsel = (uint16_t)(d.lo >> 16);
    uint32_t toff = (d.lo & 0xffff) | (gate32 ? (d.hi & 0xffff0000u) : 0);
    unsigned params = d.hi & 0x1f;
    X86Desc td = gate_target(c, tsel);
    unsigned dpl = x86_desc_dpl(td);
    check_eip(c, td, toff);

    if (!(x86_desc_type(td) & 4) && dpl < c->cpl) {
        /* More privileged: switch to the stack of level dpl from the TSS. */
        unsigned ttype = c->tr.attr & 0xf;
        bool tss32 = ttype == 9 || ttype == 11;
        uint32_t toffs = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;
        if (toffs + (tss32 ? 5 : 3) > c->tr.limit)
            x86_fault_err(c, X86_EXC_TS, c->tr.sel & 0xfffc);
        uint32_t nesp = x86_ld_sys(c, c->tr.base + toffs, tss32 ? 4 : 2);
        uint16_t nss = (uint16_t)x86_ld_sys(c, c->tr.base + toffs + (tss32 ? 4 : 2), 2);
        X86Desc sd;
        x86_check_new_ss(c, nss, dpl, 0, &sd);
        bool big = (sd.hi >> 22) & 1;
        uint32_t nbase = x86_desc_base(sd);
        uint32_t nlimit = x86_desc_limit(sd);
        bool expdown = x86_desc_type(sd) & 4;
        uint32_t sp = big ? nesp : (nesp & 0xffff);
        uint32_t ssmask = big ? 0xffffffffu : 0xffff;
        /* Parameters come from the old stack. */
        uint32_t old_sp = c->regs[R_ESP] & x86_sp_mask(c);
        uint32_t pv[32];
        for (unsigned k = 0; k < params; k++)
            pv[k] = x86_read(c, S_SS, (old_sp + k * psize) & x86_sp_mask(c), psize);
        uint32_t vals[40];
        unsigned n = 0;
        vals[n++] = c->seg[S_SS].sel;
        vals[n++] = c->regs[R_ESP];
        for (unsigned k = params; k-- > 0;)
            vals[n++] = pv[k];
        vals[n++] = c->seg[S_CS].sel;
        vals[n++] = ret;
        unsigned acc = dpl == 3 ? (ACC_USER | ACC_WRITE) : ACC_WRITE;
        for (unsigned k = 0; k < n; k++) {
            sp = (sp - psize) & ssmask;
            bool in = expdown ? (sp > nlimit && sp + psize - 1 <= (big ? 0xffffffffu : 0xffffu))
                              : (sp + psize - 1 <= nlimit && sp + psize - 1 >= sp);
            if (!in)
                x86_fault_err(c, X86_EXC_SS, nss & 0xfffc);
            if (acc & ACC_USER)
                x86_st_slow(c, nbase + sp, psize, vals[k], acc);
            else
                x86_st_sys(c, nbase + sp, psize, vals[k]);
        }
        x86_desc_set_accessed(c, nss, &sd);
        load_cs(c, tsel, td, dpl);
        x86_seg_from_desc(c, S_SS, nss, sd);
        c->regs[R_ESP] = big ? sp : ((nesp & 0xffff0000u) | sp);
        c->eip = toff;
        x86_update_mode(c);
        return;
    }
    /* Same privilege through the gate. */
    uint32_t sp = c->regs[R_ESP];
    push_tmp(c, &sp, psize, c->seg[S_CS].sel);
    push_tmp(c, &sp, psize, ret);
    load_cs(c, tsel, td, c->cpl);
    c->regs[R_ESP] = sp;
    c->eip = toff;
}

/* Validates a return CS (RETF and IRET to protected mode). */
static X86Desc check_return_cs(X86Cpu *c, uint16_t sel)
{
    if ((sel & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    uint32_t err = sel & 0xfffc;
    if (!x86_desc_read(c, sel, &d) || !x86_desc_is_seg(d) || !(x86_desc_type(d) & 8))
        x86_fault_err(c, X86_EXC_GP, err);
    unsigned rpl = sel & 3, dpl = x86_desc_dpl(d);
    if (rpl < c->cpl)
        x86_fault_err(c, X86_EXC_GP, err);
    if ((x86_desc_type(d) & 4) ? dpl > rpl : dpl != rpl)
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    return d;
}

/* Validates the SS of a return to an outer level rpl. */
static X86Desc check_return_ss(X86Cpu *c, uint16_t ss, unsigned rpl)
{
    if ((ss & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    uint32_t err = ss & 0xfffc;
    if ((ss & 3u) != rpl || !x86_desc_read(c, ss, &d))
        x86_fault_err(c, X86_EXC_GP, err);
    unsigned t = x86_desc_type(d);
    if (!x86_desc_is_seg(d) || (t & 8) || !(t & 2) || x86_desc_dpl(d) != rpl)
        x86_fault_err(c, X86_EXC_GP, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_SS, err);
    return d;
}

void x86_far_ret(X86Cpu *c, unsigned osize, uint16_t pop_bytes)
{
    uint32_t mask = x86_sp_mask(c);
    uint32_t sp = c->regs[R_ESP] & mask;
    uint32_t eip = x86_read(c, S_SS, sp, osize);
    uint16_t sel = (uint16_t)x86_read(c, S_SS, (sp + osize) & mask, osize);
    if (!x86_protected(c)) {
        if (eip > c->seg[S_CS].limit)
            x86_gp0(c);
        x86_seg_load_real(c, S_CS, sel);
        c->eip = eip;
        x86_set_sp(c, sp + 2 * osize + pop_bytes);
        return;
    }
    X86Desc d = check_return_cs(c, sel);
    unsigned rpl = sel & 3;
    if (rpl > c->cpl) {
        uint32_t p = (sp + 2 * osize + pop_bytes) & mask;
        uint32_t nesp = x86_read(c, S_SS, p, osize);
        uint16_t nss = (uint16_t)x86_read(c, S_SS, (p + osize) & mask, osize);
        X86Desc sd = check_return_ss(c, nss, rpl);
        check_ret_eip(c, d, eip);
        /* Accessed bits first: a fault there still leaves the old state. */
        x86_desc_set_accessed(c, nss, &sd);
        load_cs(c, sel, d, rpl);
        x86_seg_from_desc(c, S_SS, nss, sd);
        if (osize == 2)
            nesp &= 0xffff;
        x86_set_sp(c, nesp + pop_bytes);
        x86_seg_validate_outer(c);
        c->eip = eip;
        x86_update_mode(c);
        return;
    }
    check_ret_eip(c, d, eip);
    load_cs(c, sel, d, c->cpl);
    c->eip = eip;
    x86_set_sp(c, sp + 2 * osize + pop_bytes);
}

/* EFLAGS bits an IRET restores at the given (old) CPL (SDM vol. 2, IRET). */
static uint32_t iret_flag_mask(X86Cpu *c, unsigned osize)
{
    uint32_t m = X86_FL_ARITH | X86_FL_TF | X86_FL_DF | X86_FL_NT;
    if (osize == 4)
        m |= X86_FL_RF | X86_FL_AC | X86_FL_ID;
    if (c->cpl <= x86_iopl(c))
        m |= X86_FL_IF;
    if (c->cpl == 0) {
        m |= X86_FL_IOPL;
        if (osize == 4)
            m |= X86_FL_VIF | X86_FL_VIP;
    }
    return m;
}

void x86_iret(X86Cpu *c, unsigned osize)
{
    /* IA-32e mode's IRET always pops SS:ESP and may return to 64-bit code (SDM vol. 2,
     * IRET, IA-32e-MODE): system64.c. */
    if (x86_ia32e(c)) {
        x86_iret_ia32e(c, osize);
        return;
    }
    c->nmi_blocked = 0;
    uint32_t mask = x86_sp_mask(c);
    uint32_t sp = c->regs[R_ESP] & mask;
    if (!c->pe || c->vm86) {
        if (c->vm86 && x86_iopl(c) < 3)
            x86_gp0(c);
        uint32_t eip = x86_read(c, S_SS, sp, osize);
        uint16_t sel = (uint16_t)x86_read(c, S_SS, (sp + osize) & mask, osize);
        uint32_t fl = x86_read(c, S_SS, (sp + 2 * osize) & mask, osize);
        if (eip > c->seg[S_CS].limit)
            x86_gp0(c);
        x86_seg_load_real(c, S_CS, sel);
        c->eip = eip;
        x86_set_sp(c, sp + 3 * osize);
        uint32_t m = X86_FL_ARITH | X86_FL_TF | X86_FL_IF | X86_FL_DF | X86_FL_NT | X86_FL_IOPL;
        if (osize == 4)
            m |= X86_FL_RF | X86_FL_AC | X86_FL_ID;
        if (c->vm86)
            m &= ~X86_FL_IOPL;
        x86_write_eflags(c, fl, m);
        return;
    }
    if (c->eflags & X86_FL_NT) {
        /* Return from a nested task through the back link (SDM vol. 3, 7.3). */
        uint16_t link = (uint16_t)x86_ld_sys(c, c->tr.base, 2);
        X86Desc d;
        if ((link & 4) || !x86_desc_read(c, link, &d))
            x86_fault_err(c, X86_EXC_TS, link & 0xfffc);
        x86_task_switch(c, link, d, X86_TS_IRET, false, 0);
        return;
    }
    uint32_t eip = x86_read(c, S_SS, sp, osize);
    uint16_t sel = (uint16_t)x86_read(c, S_SS, (sp + osize) & mask, osize);
    uint32_t fl = x86_read(c, S_SS, (sp + 2 * osize) & mask, osize);

    if ((fl & X86_FL_VM) && osize == 4 && c->cpl == 0) {
        /* Return to virtual-8086 mode (SDM vol. 3, 20.3.1). */
        uint32_t v[6];
        for (unsigned k = 0; k < 6; k++)
            v[k] = x86_read(c, S_SS, (sp + 12 + 4 * k) & mask, 4);
        x86_write_eflags(c, fl, 0x3f7fd5u | X86_FL_VM | X86_FL_VIF | X86_FL_VIP);
        x86_seg_load_real(c, S_CS, sel);
        x86_seg_load_real(c, S_SS, (uint16_t)v[1]);
        x86_seg_load_real(c, S_ES, (uint16_t)v[2]);
        x86_seg_load_real(c, S_DS, (uint16_t)v[3]);
        x86_seg_load_real(c, S_FS, (uint16_t)v[4]);
        x86_seg_load_real(c, S_GS, (uint16_t)v[5]);
        c->regs[R_ESP] = v[0];
        c->eip = eip & 0xffff;
        x86_update_mode(c);
        return;
    }

    X86Desc d = check_return_cs(c, sel);
    unsigned rpl = sel & 3;
    uint32_t fmask = iret_flag_mask(c, osize);
    if (rpl > c->cpl) {
        uint32_t p = (sp + 3 * osize) & mask;
        uint32_t nesp = x86_read(c, S_SS, p, osize);
        uint16_t nss = (uint16_t)x86_read(c, S_SS, (p + osize) & mask, osize);
        X86Desc sd = check_return_ss(c, nss, rpl);
        check_eip(c, d, eip);
        /* Accessed bits first: a fault there still leaves the old state. */
        x86_desc_set_accessed(c, nss, &sd);
        load_cs(c, sel, d, rpl);
        x86_seg_from_desc(c, S_SS, nss, sd);
        if (osize == 2)
            nesp &= 0xffff;
        x86_set_sp(c, nesp);
        c->eip = eip;
        /* fmask was computed with the CPL before the return, as the SDM says. */
        x86_write_eflags(c, fl, fmask);
        x86_seg_validate_outer(c);
        x86_update_mode(c);
        return;
    }
    check_eip(c, d, eip);
    load_cs(c, sel, d, c->cpl);
    c->eip = eip;
    x86_set_sp(c, sp + 3 * osize);
    x86_write_eflags(c, fl, fmask);
}
