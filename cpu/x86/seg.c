/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Segmentation: descriptor tables, segment register loads with their checks
 * (SDM vol. 3, 3.4 and 5.5-5.8, vol. 2 MOV/POP/LDS), the segment instructions
 * (MOV/PUSH/POP Sreg, LxS), and the protection instructions LAR, LSL, VERR, VERW,
 * ARPL, SLDT, STR, LLDT, LTR. */
#include "cpu/x86/cpu-internal.h"

/* ---- segment caches ---- */

void x86_seg_update(X86Cpu *c, X86Seg *s, unsigned which)
{
    uint16_t a = s->attr;
    s->lo = 0;
    s->hi = s->limit;
    if (!c->pe) {
        /* Real mode: no type checks; the cached limit stays in force (unreal mode). */
        s->ok = SEG_OK_READ | SEG_OK_WRITE;
    } else if (c->vm86) {
        s->ok = SEG_OK_READ | SEG_OK_WRITE;
    } else if (!(a & X86_ATTR_P) || !(a & X86_ATTR_S)) {
        s->ok = 0; /* null selector, or not a code/data segment */
    } else if (a & 8) {
        s->ok = (a & 2) ? SEG_OK_READ : 0; /* code: readable or execute-only */
    } else {
        s->ok = SEG_OK_READ | ((a & 2) ? SEG_OK_WRITE : 0);
        if (a & 4) { /* expand-down: valid offsets above the limit */
            s->lo = s->limit + 1;
            s->hi = (a & X86_ATTR_DB) ? 0xffffffffu : 0xffff;
            if (s->limit == 0xffffffffu)
                s->ok = 0;
        }
    }
    s->flat = s->lo == 0 && s->hi == 0xffffffffu;
    bool was64 = c->long64;
    if (which == S_CS) {
        c->long64 = x86_ia32e(c) && c->pe && !c->vm86 && (a & X86_ATTR_L);
        c->lin_mask = c->long64 ? ~UINT64_C(0) : UINT64_C(0xffffffff);
    }
    if (c->long64 && which < X86_NSEG) {
        /* 64-bit mode (SDM vol. 3, 3.2.4 and 5.2.1): no limit or type checks on data
         * accesses; ES, CS, SS and DS have base 0, FS and GS keep theirs. */
        s->ok = SEG_OK_READ | SEG_OK_WRITE;
        s->lo = 0;
        s->hi = 0xffffffffu;
        s->flat = 1;
        if (which < 4)
            s->base = 0;
    } else if (which < 4 && s == &c->seg[which]) {
        c->seg_base_cached[which] = s->base;
    }
    /* The cached D/B bits count in real mode too (a 32-bit CS survives a switch back). */
    if (which == S_CS) {
        c->code32 = !c->vm86 && (a & X86_ATTR_DB) != 0;
        if (was64 != c->long64) {
            /* Into or out of 64-bit mode: the other segments change their rules; the
             * bases 64-bit mode hid come back. */
            for (unsigned k = 0; k < X86_NSEG; k++) {
                if (k == S_CS)
                    continue;
                if (!c->long64 && k < 4)
                    c->seg[k].base = c->seg_base_cached[k];
                x86_seg_update(c, &c->seg[k], k);
            }
            /* Out of it: the upper halves of RIP go (translated code stores the low
             * halves only). */
            if (!c->long64) {
                c->eip = (uint32_t)c->eip;
                c->prev_eip = (uint32_t)c->prev_eip;
                c->block_eip = (uint32_t)c->block_eip;
            }
            c->link_epoch++;
        }
        c->chain_epoch++; /* cached successors assumed the old CS */
        c->stats.cs_loads++;
        /* Translated chains depend on what block_get checks of CS: its base, limit
         * (when not flat) and operand size; reloading the same kinds of segment
         * (every interrupt and IRET of a flat kernel) keeps them. */
        if (s->base != c->link_cs_base || s->limit != c->link_cs_limit || s->flat != c->link_cs_flat ||
            c->code32 != c->link_cs32) {
            c->link_cs_base = s->base;
            c->link_cs_limit = s->limit;
            c->link_cs_flat = s->flat;
            c->link_cs32 = c->code32;
            c->link_epoch++;
            c->stats.cs_changes++;
        }
    }
    else if (which == S_SS)
        c->ss32 = !c->vm86 && (a & X86_ATTR_DB) != 0;
}

void x86_seg_load_real(X86Cpu *c, unsigned which, uint16_t sel)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    if (which < 4)
        c->seg_base_cached[which] = s->base;
    if (c->vm86) {
        /* V86 segments: 64 KiB, DPL 3, read/write data (SDM vol. 3, 20.1.1). */
        s->limit = 0xffff;
        s->attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DPL | (which == S_CS ? 0xb : 0x3);
    }
    x86_seg_update(c, s, which);
}

void x86_seg_from_desc(X86Cpu *c, unsigned which, uint16_t sel, X86Desc d)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->base = x86_desc_base(d);
    s->limit = x86_desc_limit(d);
    s->attr = x86_desc_attr(d);
    if (which < 4)
        c->seg_base_cached[which] = s->base;
    x86_seg_update(c, s, which);
}

static void seg_load_null(X86Cpu *c, unsigned which, uint16_t sel)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->attr = 0;
    s->base = 0;
    s->limit = 0;
    x86_seg_update(c, s, which);
}

bool x86_desc_read(X86Cpu *c, uint16_t sel, X86Desc *d)
{
    uint32_t index = sel & ~7u;
    uint64_t base;
    uint32_t limit;
    if (sel & 4) {
        if (!(c->ldtr.attr & X86_ATTR_P))
            return false;
        base = c->ldtr.base;
        limit = c->ldtr.limit;
    } else {
        base = c->gdt_base;
        limit = c->gdt_limit;
    }
    if (index + 7 > limit)
        return false;
    d->lo = x86_ld_sys(c, base + index, 4);
    d->hi = x86_ld_sys(c, base + index + 4, 4);
    return true;
}

void x86_desc_set_accessed(X86Cpu *c, uint16_t sel, X86Desc *d)
{
    if (d->hi & (1u << 8))
        return;
    d->hi |= 1u << 8;
    uint64_t base = (sel & 4) ? c->ldtr.base : c->gdt_base;
    x86_st_sys(c, base + (sel & ~7u) + 5, 1, (d->hi >> 8) & 0xff);
}

void x86_seg_load(X86Cpu *c, unsigned which, uint16_t sel)
{
    if (!x86_protected(c)) {
        x86_seg_load_real(c, which, sel);
        return;
    }
    uint32_t err = sel & 0xfffc;
    X86Desc d;
    if (which == S_SS) {
        if ((sel & 0xfffc) == 0 || (sel & 3) != c->cpl)
            x86_fault_err(c, X86_EXC_GP, err);
        if (!x86_desc_read(c, sel, &d))
            x86_fault_err(c, X86_EXC_GP, err);
        unsigned t = x86_desc_type(d);
        if (!x86_desc_is_seg(d) || (t & 8) || !(t & 2) || x86_desc_dpl(d) != c->cpl)
            x86_fault_err(c, X86_EXC_GP, err);
        if (!x86_desc_present(d))
            x86_fault_err(c, X86_EXC_SS, err);
    } else {
        if ((sel & 0xfffc) == 0) {
            seg_load_null(c, which, sel);
            return;
        }
        if (!x86_desc_read(c, sel, &d))
            x86_fault_err(c, X86_EXC_GP, err);
        unsigned t = x86_desc_type(d);
        if (!x86_desc_is_seg(d) || (t & 0xa) == 8) /* system, or execute-only code */
            x86_fault_err(c, X86_EXC_GP, err);
        bool conforming_code = (t & 0xc) == 0xc;
        if (!conforming_code && ((sel & 3) > x86_desc_dpl(d) || c->cpl > x86_desc_dpl(d)))
            x86_fault_err(c, X86_EXC_GP, err);
        if (!x86_desc_present(d))
            x86_fault_err(c, X86_EXC_NP, err);
    }
    x86_desc_set_accessed(c, sel, &d);
    x86_seg_from_desc(c, which, sel, d);
}

void x86_seg_validate_outer(X86Cpu *c)
{
    static const unsigned segs[] = { S_ES, S_DS, S_FS, S_GS };
    for (unsigned k = 0; k < 4; k++) {
        X86Seg *s = &c->seg[segs[k]];
        uint16_t a = s->attr;
        unsigned dpl = (a >> 5) & 3;
        bool conforming_code = (a & 0x18) == 0x18 && (a & 4);
        /* Data and non-conforming code the new CPL may not use become null. */
        if ((a & X86_ATTR_S) && !conforming_code && dpl < c->cpl)
            seg_load_null(c, segs[k], 0);
    }
}

X86_COLD X86_NORETURN void x86_seg_fault(X86Cpu *c, unsigned seg)
{
    x86_fault_err(c, seg == S_SS ? X86_EXC_SS : X86_EXC_GP, 0);
}

/* ---- segment register instructions ---- */

static void mov_sreg_from(X86Cpu *c, const X86Insn *i)
{
    if (i->reg > 5)
        x86_ud(c);
    uint16_t sel = c->seg[i->reg].sel;
    if (i->pfx & X86_PFX_MEM)
        x86_write(c, i->seg, x86_ea(c, i), 2, sel);
    else
        x86_set_reg(c, i->rm, x86_osize(i), sel); /* P6: zero-extended to 32 bits */
}

static void mov_sreg_to(X86Cpu *c, const X86Insn *i)
{
    if (i->reg > 5 || i->reg == S_CS)
        x86_ud(c);
    uint16_t sel = (uint16_t)x86_get_rm(c, i, 2);
    x86_seg_load(c, i->reg, sel);
    if (i->reg == S_SS) {
        /* Loading SS inhibits interrupts and debug traps for one instruction
         * (SDM vol. 3, 6.8.3). */
        c->intr_shadow = 1;
        c->debug_shadow = 1;
        c->exit_block = 1;
    }
}

static unsigned sreg_of(uint16_t op)
{
    switch (op) {
    case 0x06: case 0x07: return S_ES;
    case 0x0e: return S_CS;
    case 0x16: case 0x17: return S_SS;
    case 0x1e: case 0x1f: return S_DS;
    case 0x0fa0: case 0x0fa1: return S_FS;
    default: return S_GS;
    }
}

static void push_sreg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    uint16_t sel = c->seg[sreg_of(i->opcode)].sel;
    /* A 32-bit push moves ESP by 4 and writes the 16-bit selector. */
    uint32_t sp = (c->regs[R_ESP] - size) & x86_sp_mask(c);
    uint32_t lin = x86_lin(c, S_SS, sp, size, SEG_OK_WRITE);
    if (size == 4)
        x86_wptr(c, lin, 4);
    x86_st_lin(c, lin, 2, sel);
    x86_set_sp(c, sp);
}

static void pop_sreg(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    unsigned which = sreg_of(i->opcode);
    uint32_t sp = c->regs[R_ESP] & x86_sp_mask(c);
    uint16_t sel = (uint16_t)x86_read(c, S_SS, sp, size);
    /* SP or ESP moves by the size of the stack the selector came from, also when
     * POP SS loads an SS of the other size (SDM vol. 2, POP: StackAddrSize). */
    uint32_t esp = c->ss32 ? sp + size : (c->regs[R_ESP] & 0xffff0000u) | ((sp + size) & 0xffff);
    x86_seg_load(c, which, sel);
    c->regs[R_ESP] = esp;
    if (which == S_SS) {
        c->intr_shadow = 1;
        c->debug_shadow = 1;
        c->exit_block = 1;
    }
}

/* LDS, LES, LFS, LGS, LSS: offset then selector from memory. */
static void load_far_ptr(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_ud(c);
    unsigned which;
    switch (i->opcode) {
    case 0xc4: which = S_ES; break;
    case 0xc5: which = S_DS; break;
    case 0x0fb2: which = S_SS; break;
    case 0x0fb4: which = S_FS; break;
    default: which = S_GS; break;
    }
    unsigned size = x86_osize(i);
    uint64_t ea = x86_ea(c, i);
    uint32_t off = x86_read(c, i->seg, ea, size);
    uint64_t ea2 = ea + size;
    if (!(i->pfx & X86_PFX_AD32))
        ea2 &= 0xffff;
    uint16_t sel = (uint16_t)x86_read(c, i->seg, ea2, 2);
    x86_seg_load(c, which, sel);
    x86_set_reg(c, i->reg, size, off);
}

/* ---- protection instructions ---- */

static void need_protected(X86Cpu *c)
{
    if (!x86_protected(c))
        x86_ud(c);
}

/* Whether the descriptor for sel is visible to LAR/LSL/VERR/VERW at CPL and RPL. */
static bool desc_visible(X86Cpu *c, uint16_t sel, X86Desc *d)
{
    if ((sel & 0xfffc) == 0 || !x86_desc_read(c, sel, d))
        return false;
    bool conforming_code = x86_desc_is_seg(*d) && (x86_desc_type(*d) & 0xc) == 0xc;
    if (!conforming_code) {
        unsigned dpl = x86_desc_dpl(*d);
        if (dpl < c->cpl || dpl < (sel & 3u))
            return false;
    }
    return true;
}

static void lar_lsl(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    uint16_t sel = (uint16_t)x86_get_rm(c, i, 2);
    X86Desc d;
    bool ok = desc_visible(c, sel, &d);
    if (ok && !x86_desc_is_seg(d)) {
        unsigned t = x86_desc_type(d);
        bool lar = i->opcode == 0x0f02;
        /* TSS (16/32, available/busy) and LDT; LAR also accepts call and task gates. */
        ok = t == 1 || t == 2 || t == 3 || t == 9 || t == 11 || (lar && (t == 4 || t == 5 || t == 12));
    }
    if (!ok) {
        x86_set_arith(c, 0, X86_FL_ZF);
        return;
    }
    unsigned size = x86_osize(i);
    uint32_t v;
    if (i->opcode == 0x0f02)
        v = d.hi & (size == 4 ? 0x00f0ff00u : 0xff00u);
    else
        v = x86_desc_limit(d);
    x86_set_reg(c, i->reg, size, v);
    x86_set_arith(c, X86_FL_ZF, X86_FL_ZF);
}

static void verr_verw(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    uint16_t sel = (uint16_t)x86_get_rm(c, i, 2);
    X86Desc d;
    bool ok = desc_visible(c, sel, &d) && x86_desc_is_seg(d);
    if (ok) {
        unsigned t = x86_desc_type(d);
        if (i->reg == 4)
            ok = !(t & 8) || (t & 2);     /* VERR: data, or readable code */
        else
            ok = !(t & 8) && (t & 2);     /* VERW: writable data */
    }
    x86_set_arith(c, ok ? X86_FL_ZF : 0, X86_FL_ZF);
}

/* ARPL writes its destination only when it raises the RPL. The SDM lists #GP(0) for a
 * destination in a non-writable segment; processors raise it only when they write:
 * a memory operand that keeps its RPL is only read, so read-only data does not fault
 * (test386 checks this on real hardware). */
static void arpl(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    uint16_t src = *x86_reg16(c, i->reg);
    bool mem = i->pfx & X86_PFX_MEM;
    uint64_t ea = mem ? x86_ea(c, i) : 0;
    uint16_t d = mem ? (uint16_t)x86_read(c, i->seg, ea, 2) : *x86_reg16(c, i->rm);
    bool adjust = (d & 3) < (src & 3);
    if (adjust) {
        uint16_t r = (uint16_t)((d & ~3) | (src & 3));
        if (mem)
            x86_write(c, i->seg, ea, 2, r);
        else
            *x86_reg16(c, i->rm) = r;
    }
    x86_set_arith(c, adjust ? X86_FL_ZF : 0, X86_FL_ZF);
}

static void sldt_str(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    uint16_t sel = i->reg == 0 ? c->ldtr.sel : c->tr.sel;
    if (i->pfx & X86_PFX_MEM)
        x86_write(c, i->seg, x86_ea(c, i), 2, sel);
    else
        x86_set_reg(c, i->rm, x86_osize(i), sel);
}

/* The base of an LDT or TSS descriptor. In IA-32e mode they are 16 bytes (SDM vol. 3,
 * 3.5.2 and figure 8-4): the whole of it must lie within the GDT, the upper half's
 * type field be 0 and the 64-bit base canonical (#GP(selector); LLDT, LTR). */
static uint64_t sys_desc_base(X86Cpu *c, uint16_t sel, X86Desc d)
{
    uint64_t base = x86_desc_base(d);
    if (!x86_ia32e(c))
        return base;
    uint32_t err = sel & 0xfffc;
    if ((uint32_t)(sel & ~7u) + 15 > c->gdt_limit)
        x86_fault_err(c, X86_EXC_GP, err);
    uint64_t at = c->gdt_base + (sel & ~7u) + 8;
    base |= (uint64_t)x86_ld_sys(c, at, 4) << 32;
    if ((x86_ld_sys(c, at + 4, 4) >> 8) & 0x1f)
        x86_fault_err(c, X86_EXC_GP, err);
    if ((uint64_t)((int64_t)(base << 16) >> 16) != base)
        x86_fault_err(c, X86_EXC_GP, err);
    return base;
}

static void lldt(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    if (c->cpl != 0)
        x86_gp0(c);
    uint16_t sel = (uint16_t)x86_get_rm(c, i, 2);
    if ((sel & 0xfffc) == 0) {
        c->ldtr.sel = sel;
        c->ldtr.attr = 0;
        c->ldtr.base = 0;
        c->ldtr.limit = 0;
        return;
    }
    X86Desc d;
    uint32_t err = sel & 0xfffc;
    if ((sel & 4) || !x86_desc_read(c, sel, &d))
        x86_fault_err(c, X86_EXC_GP, err);
    if (x86_desc_is_seg(d) || x86_desc_type(d) != 2)
        x86_fault_err(c, X86_EXC_GP, err);
    uint64_t base = sys_desc_base(c, sel, d);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    c->ldtr.sel = sel;
    c->ldtr.base = base;
    c->ldtr.limit = x86_desc_limit(d);
    c->ldtr.attr = x86_desc_attr(d);
}

static void ltr(X86Cpu *c, const X86Insn *i)
{
    need_protected(c);
    if (c->cpl != 0)
        x86_gp0(c);
    uint16_t sel = (uint16_t)x86_get_rm(c, i, 2);
    uint32_t err = sel & 0xfffc;
    if ((sel & 0xfffc) == 0)
        x86_gp0(c);
    X86Desc d;
    if ((sel & 4) || !x86_desc_read(c, sel, &d))
        x86_fault_err(c, X86_EXC_GP, err);
    unsigned t = x86_desc_type(d);
    /* IA-32e mode has only the 64-bit TSS (type 9); no 16-bit one. */
    if (x86_desc_is_seg(d) || (t != 1 && t != 9) || (t == 1 && x86_ia32e(c)))
        x86_fault_err(c, X86_EXC_GP, err);
    uint64_t base = sys_desc_base(c, sel, d);
    if (!x86_desc_present(d))
        x86_fault_err(c, X86_EXC_NP, err);
    /* Mark the TSS busy (SDM vol. 3, 7.2.4). */
    d.hi |= 2u << 8;
    x86_st_sys(c, c->gdt_base + (sel & ~7u) + 5, 1, (d.hi >> 8) & 0xff);
    c->tr.sel = sel;
    c->tr.base = base;
    c->tr.limit = x86_desc_limit(d);
    c->tr.attr = x86_desc_attr(d);
}

X86Handler x86_bind_seg(X86Insn *i)
{
    switch (i->opcode) {
    case 0x8c: return mov_sreg_from;
    case 0x8e:
        if (i->reg == S_SS)
            i->flags |= X86_INSN_END_BLOCK;
        return mov_sreg_to;
    case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x0fa0: case 0x0fa8: return push_sreg;
    case 0x07: case 0x17: case 0x1f: case 0x0fa1: case 0x0fa9: return pop_sreg;
    case 0xc4: case 0xc5: case 0x0fb2: case 0x0fb4: case 0x0fb5: return load_far_ptr;
    case 0x0f02: case 0x0f03: return lar_lsl;
    case 0x63: return arpl;
    case 0x0f00:
        switch (i->reg) {
        case 0: case 1: return sldt_str;
        case 2: return lldt;
        case 3: return ltr;
        case 4: case 5: return verr_verw;
        default: return NULL;
        }
    }
    return NULL;
}
