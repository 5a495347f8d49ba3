/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exceptions and interrupt delivery: raising faults (unwinding to the dispatcher),
 * delivery through the real-mode IVT and the protected-mode IDT with interrupt,
 * trap and task gates, stack switches from the TSS, V86 to ring 0 (SDM vol. 3,
 * 6.12, 20.3), and the I/O permission check. */
#include "cpu/x86/cpu-internal.h"

X86_NORETURN void x86_fault_err(X86Cpu *c, int vec, uint32_t err)
{
    c->exc_vec = vec;
    c->exc_err = err;
    c->exc_has_err = true;
    c->exc_trap = false;
    longjmp(c->jmp, 1);
}

X86_NORETURN void x86_fault(X86Cpu *c, int vec)
{
    c->exc_vec = vec;
    c->exc_err = 0;
    c->exc_has_err = false;
    c->exc_trap = false;
    longjmp(c->jmp, 1);
}

X86_NORETURN void x86_trap(X86Cpu *c, int vec)
{
    c->exc_vec = vec;
    c->exc_err = 0;
    c->exc_has_err = false;
    c->exc_trap = true;
    longjmp(c->jmp, 1);
}

X86_NORETURN void x86_stall(X86Cpu *c)
{
    c->exc_vec = -1;
    c->exc_err = 0;
    c->exc_has_err = false;
    c->exc_trap = false;
    longjmp(c->jmp, 1);
}

X86_NORETURN void x86_unsupported(X86Cpu *c, const char *what)
{
    g_printerr("vireo: x86 CPU: %s is not implemented yet (at %04x:%08" G_GINT64_MODIFIER "x); stopping the VM\n", what,
               c->seg[S_CS].sel, c->prev_eip);
    c->exc_vec = X86_EXC_UNSUPPORTED;
    c->exc_err = 0;
    c->exc_has_err = false;
    c->exc_trap = false;
    longjmp(c->jmp, 1);
}

X86_NORETURN void x86_ud(X86Cpu *c)
{
    x86_fault(c, X86_EXC_UD);
}

X86_NORETURN void x86_gp0(X86Cpu *c)
{
    x86_fault_err(c, X86_EXC_GP, 0);
}

/* ---- I/O permission (SDM vol. 1, 18.5; vol. 3, 20.2.8) ---- */

void x86_io_check(X86Cpu *c, uint16_t port, unsigned size)
{
    if (!c->pe || (!c->vm86 && c->cpl <= x86_iopl(c)))
        return;
    unsigned type = c->tr.attr & 0xf;
    if (!(c->tr.attr & X86_ATTR_P) || (type != 9 && type != 11) || c->tr.limit < 0x67)
        x86_gp0(c);
    uint32_t map = x86_ld_sys(c, c->tr.base + 0x66, 2);
    uint32_t off = map + port / 8;
    if (off + 1 > c->tr.limit)
        x86_gp0(c);
    uint32_t bits = x86_ld_sys(c, c->tr.base + off, 2) >> (port & 7);
    if (bits & ((1u << size) - 1))
        x86_gp0(c);
}

/* ---- stack pushes during delivery ---- */

/* A stack being built on (possibly not yet loaded) SS: pushes are checked against its
 * limits and written with the privilege of the new CPL; nothing is committed. */
typedef struct NewStack {
    X86Seg ss;
    uint32_t sp;
    bool big;          /* SS.B */
    unsigned acc;      /* ACC_USER when the new CPL is 3 */
    int vec;           /* #SS on overflow */
    uint32_t err;
} NewStack;

static void stack_push(X86Cpu *c, NewStack *s, unsigned size, uint32_t v)
{
    uint32_t sp = (s->sp - size) & (s->big ? 0xffffffffu : 0xffffu);
    if (!x86_seg_ok(&s->ss, sp, size, SEG_OK_WRITE))
        x86_fault_err(c, s->vec, s->err);
    uint32_t lin = s->ss.base + sp;
    if (s->acc & ACC_USER)
        x86_st_slow(c, lin, size, v, ACC_USER | ACC_WRITE);
    else
        x86_st_sys(c, lin, size, v);
    s->sp = s->big ? sp : ((s->sp & 0xffff0000u) | sp);
}

/* Reads the stack for privilege level dpl from the current TSS (SDM vol. 3, 7.2.1). */
static void tss_stack(X86Cpu *c, unsigned dpl, uint16_t *ss, uint32_t *esp, uint32_t ext)
{
    unsigned type = c->tr.attr & 0xf;
    bool tss32 = type == 9 || type == 11;
    uint32_t off = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;
    uint32_t need = off + (tss32 ? 5 : 3);
    if (need > c->tr.limit)
        x86_fault_err(c, X86_EXC_TS, (c->tr.sel & 0xfffc) | ext);
    if (tss32) {
        *esp = x86_ld_sys(c, c->tr.base + off, 4);
        *ss = (uint16_t)x86_ld_sys(c, c->tr.base + off + 4, 2);
    } else {
        *esp = x86_ld_sys(c, c->tr.base + off, 2);
        *ss = (uint16_t)x86_ld_sys(c, c->tr.base + off + 2, 2);
    }
}

/* Checks the stack segment of a privilege change to level dpl; #TS / #SS. */
void x86_check_new_ss(X86Cpu *c, uint16_t ss, unsigned dpl, uint32_t ext, X86Desc *d)
{
    uint32_t err = (ss & 0xfffc) | ext;
    if ((ss & 0xfffc) == 0)
        x86_fault_err(c, X86_EXC_TS, ext);
    if ((ss & 3) != dpl || !x86_desc_read(c, ss, d))
        x86_fault_err(c, X86_EXC_TS, err);
    unsigned t = x86_desc_type(*d);
    if (!x86_desc_is_seg(*d) || (t & 8) || !(t & 2) || x86_desc_dpl(*d) != dpl)
        x86_fault_err(c, X86_EXC_TS, err);
    if (!x86_desc_present(*d))
        x86_fault_err(c, X86_EXC_SS, err);
}

/* A segment cache filled from a descriptor without touching the CPU. */
static void seg_from(X86Seg *s, uint16_t sel, X86Desc d)
{
    s->sel = sel;
    s->base = x86_desc_base(d);
    s->limit = x86_desc_limit(d);
    s->attr = x86_desc_attr(d);
    unsigned a = s->attr;
    s->ok = SEG_OK_READ | ((a & 2) ? SEG_OK_WRITE : 0);
    s->lo = 0;
    s->hi = s->limit;
    if (a & 4) {
        s->lo = s->limit + 1;
        s->hi = (a & X86_ATTR_DB) ? 0xffffffffu : 0xffff;
    }
    s->flat = s->lo == 0 && s->hi == 0xffffffffu;
}

/* ---- delivery ---- */

/* X86_RUN_STOP_ON_EXCEPTION: a software interrupt that passed the gate checks ends the
 * run instead of entering its handler (tests compare with a host that signals it). */
X86_NORETURN static void stop_before_delivery(X86Cpu *c, int vec, X86EventKind kind, bool has_err, uint32_t err)
{
    c->exc_vec = vec;
    c->exc_has_err = has_err;
    c->exc_err = err;
    c->exc_trap = kind != X86_EV_EXC;
    longjmp(c->jmp, 1);
}

static void deliver_real(X86Cpu *c, int vec)
{
    /* IVT entry through IDTR (SDM vol. 3, 20.1.4). */
    uint32_t off = (uint32_t)vec * 4;
    if (off + 3 > c->idt_limit)
        x86_gp0(c);
    uint32_t entry = x86_ld_sys(c, c->idt_base + off, 4);
    uint32_t flags = x86_get_eflags(c);
    x86_push(c, 2, flags & 0xffff);
    x86_push(c, 2, c->seg[S_CS].sel);
    x86_push(c, 2, c->eip & 0xffff);
    c->eflags &= ~(X86_FL_IF | X86_FL_TF | X86_FL_AC | X86_FL_RF);
    x86_seg_load_real(c, S_CS, (uint16_t)(entry >> 16));
    c->eip = entry & 0xffff;
}

static void deliver_protected(X86Cpu *c, int vec, X86EventKind kind, bool has_err, uint32_t err)
{
    bool soft = kind == X86_EV_SOFT || kind == X86_EV_SOFT_EXC;
    uint32_t ext = soft ? 0 : 1;
    uint32_t idt_err = (uint32_t)vec * 8 + 2 + ext;
    if ((uint32_t)vec * 8 + 7 > c->idt_limit)
        x86_fault_err(c, X86_EXC_GP, idt_err);
    X86Desc g;
    g.lo = x86_ld_sys(c, c->idt_base + vec * 8, 4);
    g.hi = x86_ld_sys(c, c->idt_base + vec * 8 + 4, 4);
    unsigned type = x86_desc_type(g);
    if (x86_desc_is_seg(g) || (type != 5 && type != 6 && type != 7 && type != 14 && type != 15))
        x86_fault_err(c, X86_EXC_GP, idt_err);
    if (soft && x86_desc_dpl(g) < c->cpl)
        x86_fault_err(c, X86_EXC_GP, idt_err);
    if (!x86_desc_present(g))
        x86_fault_err(c, X86_EXC_NP, idt_err);
    if (c->run_flags & X86_RUN_STOP_ON_EXCEPTION)
        stop_before_delivery(c, vec, kind, has_err, err);

    if (type == 5) {
        uint16_t tsel = (uint16_t)(g.lo >> 16);
        X86Desc td;
        if ((tsel & 4) || !x86_desc_read(c, tsel, &td))
            x86_fault_err(c, X86_EXC_TS, (tsel & 0xfffc) | ext);
        x86_task_switch(c, tsel, td, X86_TS_INT, has_err, err);
        return;
    }

    bool gate32 = type >= 14;
    unsigned psize = gate32 ? 4 : 2;
    uint16_t sel = (uint16_t)(g.lo >> 16);
    uint32_t off = (g.lo & 0xffff) | (gate32 ? (g.hi & 0xffff0000u) : 0);
    if ((sel & 0xfffc) == 0)
        x86_fault_err(c, X86_EXC_GP, ext);
    X86Desc cd;
    uint32_t serr = (sel & 0xfffc) | ext;
    if (!x86_desc_read(c, sel, &cd))
        x86_fault_err(c, X86_EXC_GP, serr);
    if (!x86_desc_is_seg(cd) || !(x86_desc_type(cd) & 8) || x86_desc_dpl(cd) > c->cpl)
        x86_fault_err(c, X86_EXC_GP, serr);
    if (!x86_desc_present(cd))
        x86_fault_err(c, X86_EXC_NP, serr);
    unsigned dpl = x86_desc_dpl(cd);
    bool conforming = x86_desc_type(cd) & 4;
    uint32_t flags = x86_get_eflags(c);
    /* Faults put RF in the saved image so the instruction is not hit by an
     * instruction breakpoint again (SDM vol. 3, 17.3.1.1). */
    if (kind == X86_EV_EXC && !c->exc_trap && vec != X86_EXC_DB)
        flags |= X86_FL_RF;
    X86Seg new_cs;
    seg_from(&new_cs, (uint16_t)((sel & ~3u) | (conforming ? c->cpl : dpl)), cd);
    if (off > new_cs.limit)
        x86_fault_err(c, X86_EXC_GP, ext);

    NewStack st;
    X86Desc sd = { 0, 0 };
    bool outer = !conforming && dpl < c->cpl;
    if (c->vm86 && (!outer || dpl != 0))
        x86_fault_err(c, X86_EXC_GP, serr);
    if (outer) {
        uint16_t ss;
        uint32_t esp;
        tss_stack(c, dpl, &ss, &esp, ext);
        x86_check_new_ss(c, ss, dpl, ext, &sd);
        seg_from(&st.ss, ss, sd);
        st.big = (sd.hi >> 22) & 1;
        st.sp = st.big ? esp : esp & 0xffff;
        st.acc = dpl == 3 ? ACC_USER : 0;
        st.vec = X86_EXC_SS;
        st.err = (ss & 0xfffc) | ext;
        if (c->vm86) {
            stack_push(c, &st, psize, c->seg[S_GS].sel);
            stack_push(c, &st, psize, c->seg[S_FS].sel);
            stack_push(c, &st, psize, c->seg[S_DS].sel);
            stack_push(c, &st, psize, c->seg[S_ES].sel);
        }
        stack_push(c, &st, psize, c->seg[S_SS].sel);
        stack_push(c, &st, psize, c->regs[R_ESP]);
    } else {
        st.ss = c->seg[S_SS];
        st.big = c->ss32;
        st.sp = c->regs[R_ESP];
        st.acc = c->acc_user;
        st.vec = X86_EXC_SS;
        st.err = ext;
    }
    stack_push(c, &st, psize, flags);
    stack_push(c, &st, psize, c->seg[S_CS].sel);
    stack_push(c, &st, psize, c->eip);
    if (has_err)
        stack_push(c, &st, psize, err);

    /* Accessed bits, then commit (a fault setting them leaves the old state). */
    if (outer)
        x86_desc_set_accessed(c, st.ss.sel, &sd);
    x86_desc_set_accessed(c, sel, &cd);
    if (outer) {
        if (c->vm86) {
            c->eflags &= ~X86_FL_VM;
            c->vm86 = 0;
            for (unsigned s = 0; s < 6; s++)
                if (s != S_CS && s != S_SS) {
                    c->seg[s].sel = 0;
                    c->seg[s].attr = 0;
                    c->seg[s].base = 0;
                    c->seg[s].limit = 0;
                }
        }
        c->seg[S_SS] = st.ss;
    }
    c->seg[S_CS] = new_cs;
    x86_set_cpl(c, new_cs.sel & 3);
    for (unsigned s = 0; s < 6; s++)
        x86_seg_update(c, &c->seg[s], s);
    if (st.big)
        c->regs[R_ESP] = st.sp;
    else
        c->regs[R_ESP] = (c->regs[R_ESP] & 0xffff0000u) | (st.sp & 0xffff);
    c->eip = off;
    uint32_t clear = X86_FL_TF | X86_FL_NT | X86_FL_VM | X86_FL_RF;
    if (!(type & 1))
        clear |= X86_FL_IF; /* interrupt gate */
    c->eflags &= ~clear;
    x86_update_mode(c);
}

/* A stack pointer of IA-32e delivery: 64 bits, canonical (48-bit addresses) or #SS. */
static uint64_t ia32e_stack(X86Cpu *c, uint64_t rsp, unsigned frame, uint32_t ext)
{
    uint64_t low = rsp - frame;
    if ((uint64_t)((int64_t)(rsp << 16) >> 16) != rsp || (uint64_t)((int64_t)(low << 16) >> 16) != low)
        x86_fault_err(c, X86_EXC_SS, ext);
    return low;
}

uint64_t x86_tss64_rsp(X86Cpu *c, unsigned off, uint32_t ext)
{
    if (!(c->tr.attr & X86_ATTR_P) || off + 7 > c->tr.limit)
        x86_fault_err(c, X86_EXC_TS, (c->tr.sel & 0xfffc) | ext);
    return x86_ld_sys(c, c->tr.base + off, 4) | (uint64_t)x86_ld_sys(c, c->tr.base + off + 4, 4) << 32;
}

/* Interrupts and exceptions in IA-32e mode (SDM vol. 3, 6.14): 16-byte gates, 64-bit
 * handlers, the stack from the TSS (RSPn on a privilege change, ISTn when the gate
 * names one), aligned to 16 bytes, and always SS:RSP, RFLAGS, CS:RIP (and the error
 * code) pushed as 8-byte words. The handler is 64-bit code, which this phase cannot
 * run: the dispatcher stops there, with the frame built and CS:RIP loaded. */
static void deliver_ia32e(X86Cpu *c, int vec, X86EventKind kind, bool has_err, uint32_t err)
{
    bool soft = kind == X86_EV_SOFT || kind == X86_EV_SOFT_EXC;
    uint32_t ext = soft ? 0 : 1;
    uint32_t idt_err = (uint32_t)vec * 8 + 2 + ext;
    if ((uint32_t)vec * 16 + 15 > c->idt_limit)
        x86_fault_err(c, X86_EXC_GP, idt_err);
    uint64_t gate = c->idt_base + (uint32_t)vec * 16;
    X86Desc g;
    g.lo = x86_ld_sys(c, gate, 4);
    g.hi = x86_ld_sys(c, gate + 4, 4);
    uint32_t off_hi = x86_ld_sys(c, gate + 8, 4);
    uint32_t d3 = x86_ld_sys(c, gate + 12, 4);
    unsigned type = x86_desc_type(g);
    /* Only 64-bit interrupt and trap gates; the upper half's type field must be 0. */
    if (x86_desc_is_seg(g) || (type != 14 && type != 15) || ((d3 >> 8) & 0x1f))
        x86_fault_err(c, X86_EXC_GP, idt_err);
    if (soft && x86_desc_dpl(g) < c->cpl)
        x86_fault_err(c, X86_EXC_GP, idt_err);
    if (!x86_desc_present(g))
        x86_fault_err(c, X86_EXC_NP, idt_err);
    if (c->run_flags & X86_RUN_STOP_ON_EXCEPTION)
        stop_before_delivery(c, vec, kind, has_err, err);

    uint16_t sel = (uint16_t)(g.lo >> 16);
    uint64_t rip = (g.lo & 0xffff) | (g.hi & 0xffff0000u) | (uint64_t)off_hi << 32;
    if ((sel & 0xfffc) == 0)
        x86_fault_err(c, X86_EXC_GP, ext);
    X86Desc cd;
    uint32_t serr = (sel & 0xfffc) | ext;
    if (!x86_desc_read(c, sel, &cd))
        x86_fault_err(c, X86_EXC_GP, serr);
    /* A 64-bit code segment (L set, D clear) no less privileged than CPL. */
    uint16_t cattr = x86_desc_attr(cd);
    if (!x86_desc_is_seg(cd) || !(x86_desc_type(cd) & 8) || x86_desc_dpl(cd) > c->cpl)
        x86_fault_err(c, X86_EXC_GP, serr);
    if (!x86_desc_present(cd))
        x86_fault_err(c, X86_EXC_NP, serr);
    if (!(cattr & X86_ATTR_L) || (cattr & X86_ATTR_DB))
        x86_fault_err(c, X86_EXC_GP, serr);
    if ((uint64_t)((int64_t)(rip << 16) >> 16) != rip)
        x86_fault_err(c, X86_EXC_GP, ext);
    bool conforming = x86_desc_type(cd) & 4;
    unsigned dpl = conforming ? c->cpl : x86_desc_dpl(cd);
    bool outer = dpl < c->cpl;

    uint64_t rsp = c->regs[R_ESP];
    unsigned ist = g.hi & 7;
    if (ist)
        rsp = x86_tss64_rsp(c, 36 + 8 * (ist - 1), ext);
    else if (outer)
        rsp = x86_tss64_rsp(c, 4 + 8 * dpl, ext);
    rsp &= ~UINT64_C(15);
    uint32_t flags = x86_get_eflags(c);
    if (kind == X86_EV_EXC && !c->exc_trap && vec != X86_EXC_DB)
        flags |= X86_FL_RF;
    /* In push order, from the top of the new stack down. */
    uint64_t words[6] = { c->seg[S_SS].sel, c->regs[R_ESP], flags, c->seg[S_CS].sel, c->eip, err };
    unsigned n = has_err ? 6 : 5;
    uint64_t low = ia32e_stack(c, rsp, 8 * n, ext);
    unsigned acc = ACC_WRITE | (dpl == 3 ? ACC_USER : 0);
    x86_probe(c, low, 8 * n, acc);
    for (unsigned k = 0; k < n; k++)
        x86_st64_slow(c, rsp - 8 * (k + 1), words[k], acc);

    x86_desc_set_accessed(c, sel, &cd);
    if (outer) {
        /* The new SS is a null selector with RPL = the new CPL (SDM vol. 3, 6.14.4). */
        X86Seg *ss = &c->seg[S_SS];
        ss->sel = (uint16_t)dpl;
        ss->attr = 0;
        ss->base = 0;
        ss->limit = 0;
        c->seg_base_cached[S_SS] = 0;
    }
    X86Seg *cs = &c->seg[S_CS];
    cs->sel = (uint16_t)((sel & ~3u) | dpl);
    cs->base = 0;
    cs->limit = 0xffffffffu;
    cs->attr = cattr;
    x86_set_cpl(c, dpl);
    c->regs[R_ESP] = low;
    c->eip = rip;
    uint32_t clear = X86_FL_TF | X86_FL_NT | X86_FL_VM | X86_FL_RF;
    if (!(type & 1))
        clear |= X86_FL_IF; /* interrupt gate */
    c->eflags &= ~clear;
    x86_update_mode(c);
}

void x86_deliver(X86Cpu *c, int vec, X86EventKind kind, bool has_err, uint32_t err)
{
    X86_LOG_INT("%s %02x%s err %x at %04x:%08" G_GINT64_MODIFIER "x (%s)",
                kind == X86_EV_EXT ? "interrupt" : kind == X86_EV_EXC ? "exception" : "int",
                vec, has_err ? " with" : "", err, c->seg[S_CS].sel, c->eip,
                !c->pe ? "real" : c->vm86 ? "v86" : "protected");
    if (!c->pe) {
        if (c->run_flags & X86_RUN_STOP_ON_EXCEPTION)
            stop_before_delivery(c, vec, kind, has_err, err);
        deliver_real(c, vec);
    } else if (x86_ia32e(c)) {
        deliver_ia32e(c, vec, kind, has_err, err);
    } else
        deliver_protected(c, vec, kind, has_err, err);
    c->halted = 0;
    c->intr_shadow = 0;
    c->debug_shadow = 0;
    c->exit_block = 1;
    c->deliveries++;
}
