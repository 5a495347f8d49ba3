/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hardware task switching with 16- and 32-bit TSSs (SDM vol. 3, 7.3): through JMP,
 * CALL, INT (task gates in the IDT) and IRET with NT. The old task's state is saved
 * and the new one loaded; faults while loading the new segments are raised in the
 * new task's context, as on real hardware. */
#include "cpu/x86/cpu-internal.h"

typedef struct TssState {
    uint32_t cr3, eip, eflags;
    uint32_t regs[8];
    uint16_t sel[6];
    uint16_t ldt;
    bool trap;
} TssState;

static void read_tss(X86Cpu *c, uint32_t base, bool t32, TssState *s)
{
    static const uint8_t seg_order[6] = { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS };
    if (t32) {
        s->cr3 = x86_ld_sys(c, base + 0x1c, 4);
        s->eip = x86_ld_sys(c, base + 0x20, 4);
        s->eflags = x86_ld_sys(c, base + 0x24, 4);
        for (unsigned r = 0; r < 8; r++)
            s->regs[r] = x86_ld_sys(c, base + 0x28 + 4 * r, 4);
        for (unsigned k = 0; k < 6; k++)
            s->sel[seg_order[k]] = (uint16_t)x86_ld_sys(c, base + 0x48 + 4 * k, 2);
        s->ldt = (uint16_t)x86_ld_sys(c, base + 0x60, 2);
        s->trap = x86_ld_sys(c, base + 0x64, 2) & 1;
    } else {
        s->cr3 = c->cr3;
        s->eip = x86_ld_sys(c, base + 0x0e, 2);
        s->eflags = (c->eflags & 0xffff0000u & ~(X86_FL_VM | X86_FL_RF)) | x86_ld_sys(c, base + 0x10, 2);
        /* A 16-bit TSS holds the low words; the high halves of the general
         * registers are "modified and not maintained" (SDM vol. 3, 7.6): Intel
         * processors set them to FFFFh (test386 checks it on a 386). */
        for (unsigned r = 0; r < 8; r++)
            s->regs[r] = 0xffff0000u | x86_ld_sys(c, base + 0x12 + 2 * r, 2);
        for (unsigned k = 0; k < 4; k++)
            s->sel[seg_order[k]] = (uint16_t)x86_ld_sys(c, base + 0x22 + 2 * k, 2);
        s->sel[S_FS] = s->sel[S_GS] = 0;
        s->ldt = (uint16_t)x86_ld_sys(c, base + 0x2a, 2);
        s->trap = false;
    }
}

static void save_tss(X86Cpu *c, uint32_t base, bool t32, uint32_t eflags)
{
    static const uint8_t seg_order[6] = { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS };
    if (t32) {
        x86_st_sys(c, base + 0x20, 4, c->eip);
        x86_st_sys(c, base + 0x24, 4, eflags);
        for (unsigned r = 0; r < 8; r++)
            x86_st_sys(c, base + 0x28 + 4 * r, 4, c->regs[r]);
        for (unsigned k = 0; k < 6; k++)
            x86_st_sys(c, base + 0x48 + 4 * k, 2, c->seg[seg_order[k]].sel);
    } else {
        x86_st_sys(c, base + 0x0e, 2, c->eip);
        x86_st_sys(c, base + 0x10, 2, eflags);
        for (unsigned r = 0; r < 8; r++)
            x86_st_sys(c, base + 0x12 + 2 * r, 2, c->regs[r]);
        for (unsigned k = 0; k < 4; k++)
            x86_st_sys(c, base + 0x22 + 2 * k, 2, c->seg[seg_order[k]].sel);
    }
}

static void set_busy(X86Cpu *c, uint16_t sel, bool busy)
{
    uint32_t a = c->gdt_base + (sel & ~7u) + 5;
    uint32_t v = x86_ld_sys(c, a, 1);
    v = busy ? (v | 2) : (v & ~2u);
    x86_st_sys(c, a, 1, v);
}

/* Loads a data segment register of the new task (SDM vol. 3, 7.3 step 13). */
static void load_task_data_seg(X86Cpu *c, unsigned which, uint16_t sel)
{
    if ((sel & 0xfffc) == 0) {
        c->seg[which].sel = sel;
        c->seg[which].attr = 0;
        x86_seg_update(c, &c->seg[which], which);
        return;
    }
    uint32_t err = sel & 0xfffc;
    X86Desc d;
    if (!x86_desc_read(c, sel, &d) || !x86_desc_is_seg(d) || (x86_desc_type(d) & 0xa) == 8)
        x86_fault_err(c, X86_EXC_TS, err);
    bool conforming_code = (x86_desc_type(d) & 0xc) == 0xc;
    unsigned dpl = x86_desc_dpl(d);
    if (!conforming_code && (dpl < c->cpl || dpl < (sel & 3u)))
        x86_fault_err(c, X86_EXC_TS, err);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    x86_desc_set_accessed(c, sel, &d);
    x86_seg_from_desc(c, which, sel, d);
}

void x86_task_switch(X86Cpu *c, uint16_t sel, X86Desc d, X86TaskReason why, bool has_err, uint32_t err)
{
    uint32_t serr = sel & 0xfffc;
    unsigned type = x86_desc_type(d);
    X86_LOG_INT("task switch to %04x (%s)", sel,
                why == X86_TS_JMP ? "jmp" : why == X86_TS_CALL ? "call" : why == X86_TS_IRET ? "iret" : "int");
    if (x86_desc_is_seg(d))
        x86_fault_err(c, why == X86_TS_IRET ? X86_EXC_TS : X86_EXC_GP, serr);
    if (why == X86_TS_IRET) {
        if (type != 3 && type != 11)
            x86_fault_err(c, X86_EXC_TS, serr);
    } else if (type != 1 && type != 9) {
        x86_fault_err(c, X86_EXC_GP, serr);
    }
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, serr);
    bool new32 = type & 8;
    uint32_t nbase = x86_desc_base(d), nlimit = x86_desc_limit(d);
    if (nlimit < (new32 ? 0x67u : 0x2bu))
        x86_fault_err(c, X86_EXC_TS, serr);
    unsigned otype = c->tr.attr & 0xf;
    bool old32 = otype == 9 || otype == 11;
    if (c->tr.limit < (old32 ? 0x5fu : 0x29u))
        x86_fault_err(c, X86_EXC_TS, c->tr.sel & 0xfffc);

    /* Everything the switch reads comes first: faults here leave the old task intact. */
    TssState ns;
    read_tss(c, nbase, new32, &ns);

    uint32_t old_flags = x86_get_eflags(c);
    if (why == X86_TS_IRET)
        old_flags &= ~X86_FL_NT;
    if (why == X86_TS_JMP || why == X86_TS_IRET)
        set_busy(c, c->tr.sel, false);
    save_tss(c, c->tr.base, old32, old_flags);
    if (why == X86_TS_CALL || why == X86_TS_INT) {
        x86_st_sys(c, nbase, 2, c->tr.sel);
        ns.eflags |= X86_FL_NT;
    }
    if (why != X86_TS_IRET)
        set_busy(c, sel, true);

    /* The new task from here on. */
    c->tr.sel = sel;
    c->tr.base = nbase;
    c->tr.limit = nlimit;
    c->tr.attr = x86_desc_attr(d) | (2u); /* busy */
    c->cr0 |= X86_CR0_TS;
    if (new32 && (c->cr0 & X86_CR0_PG)) {
        if ((c->cr4 & X86_CR4_PAE) && !x86_load_pdptes(c, ns.cr3))
            x86_gp0(c);
        c->cr3 = ns.cr3;
        x86_tlb_flush(c, false);
    } else if (new32) {
        c->cr3 = ns.cr3;
    }
    c->eip = ns.eip;
    for (unsigned r = 0; r < 8; r++)
        c->regs[r] = ns.regs[r];
    c->cc_op = CC_EAGER;
    c->eflags = (ns.eflags & 0x3f7fd5u) | X86_FL_FIXED;
    c->vm86 = (c->eflags & X86_FL_VM) != 0;
    /* Selectors first, with unusable caches; then each descriptor with its checks. */
    for (unsigned s = 0; s < 6; s++) {
        c->seg[s].sel = ns.sel[s];
        c->seg[s].attr = 0;
    }
    c->ldtr.sel = ns.ldt;
    c->ldtr.attr = 0;
    x86_set_cpl(c, c->vm86 ? 3 : (ns.sel[S_CS] & 3u));
    x86_update_mode(c);

    if ((ns.ldt & 0xfffc) != 0) {
        X86Desc ld;
        if ((ns.ldt & 4) || !x86_desc_read(c, ns.ldt, &ld) || x86_desc_is_seg(ld) || x86_desc_type(ld) != 2 ||
            !x86_desc_present(ld))
            x86_fault_err(c, X86_EXC_TS, ns.ldt & 0xfffc);
        c->ldtr.base = x86_desc_base(ld);
        c->ldtr.limit = x86_desc_limit(ld);
        c->ldtr.attr = x86_desc_attr(ld);
    }

    if (c->vm86) {
        for (unsigned s = 0; s < 6; s++)
            x86_seg_load_real(c, s, ns.sel[s]);
    } else {
        uint16_t cs = ns.sel[S_CS], ss = ns.sel[S_SS];
        X86Desc cd, sd;
        if ((cs & 0xfffc) == 0 || !x86_desc_read(c, cs, &cd) || !x86_desc_is_seg(cd) || !(x86_desc_type(cd) & 8))
            x86_fault_err(c, X86_EXC_TS, cs & 0xfffc);
        unsigned cdpl = x86_desc_dpl(cd);
        if ((x86_desc_type(cd) & 4) ? cdpl > (cs & 3u) : cdpl != (cs & 3u))
            x86_fault_err(c, X86_EXC_TS, cs & 0xfffc);
        if (!x86_desc_present(cd))
            x86_fault_err(c, X86_EXC_NP, cs & 0xfffc);
        if ((ss & 0xfffc) == 0 || !x86_desc_read(c, ss, &sd))
            x86_fault_err(c, X86_EXC_TS, ss & 0xfffc);
        unsigned st = x86_desc_type(sd);
        if (!x86_desc_is_seg(sd) || (st & 8) || !(st & 2) || (ss & 3u) != c->cpl || x86_desc_dpl(sd) != c->cpl)
            x86_fault_err(c, X86_EXC_TS, ss & 0xfffc);
        if (!x86_desc_present(sd))
            x86_fault_err(c, X86_EXC_SS, ss & 0xfffc);
        x86_desc_set_accessed(c, cs, &cd);
        x86_seg_from_desc(c, S_CS, cs, cd);
        x86_desc_set_accessed(c, ss, &sd);
        x86_seg_from_desc(c, S_SS, ss, sd);
        load_task_data_seg(c, S_ES, ns.sel[S_ES]);
        load_task_data_seg(c, S_DS, ns.sel[S_DS]);
        load_task_data_seg(c, S_FS, ns.sel[S_FS]);
        load_task_data_seg(c, S_GS, ns.sel[S_GS]);
    }
    x86_update_mode(c);
    c->exit_block = 1;

    if (has_err) {
        unsigned size = new32 ? 4 : 2;
        x86_push(c, size, err);
    }
    if (c->eip > c->seg[S_CS].limit)
        x86_gp0(c);
    if (ns.trap) {
        c->dr[6] |= 1u << 15; /* BT */
        c->pending_dr6 |= 1u << 15;
    }
}
