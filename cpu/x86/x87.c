/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The x87 unit: the register stack and its tags, the control and status words,
 * exception flags, masks and their delivery (#MF, or FERR#/IRQ13 with CR0.NE clear),
 * the environment and save formats, FXSAVE/FXRSTOR and LDMXCSR/STMXCSR, and every
 * D8-DF escape opcode (SDM vol. 1, chapter 8; vol. 2, appendix A.4). The arithmetic
 * itself runs on the host's x87 (fpu-host.c); this file decides what the guest's stack
 * and flags become. */
#include "cpu/x86/fpu-host.h"

static const X87Reg x87_indefinite = { .mant = UINT64_C(0xc000000000000000), .sexp = 0xffff };

/* ---- the register stack ---- */

static inline unsigned x87_phys(const X86Cpu *c, unsigned i)
{
    return (c->fpu.top + i) & 7;
}
static inline X87Reg *x87_st(X86Cpu *c, unsigned i)
{
    return &c->fpu.st[x87_phys(c, i)];
}
static inline bool x87_is_empty(const X86Cpu *c, unsigned i)
{
    return (c->fpu.empty >> x87_phys(c, i)) & 1;
}
static inline void x87_set_st(X86Cpu *c, unsigned i, X87Reg v)
{
    unsigned p = x87_phys(c, i);
    c->fpu.st[p] = v;
    c->fpu.empty &= (uint8_t)~(1u << p);
}
static inline void x87_push(X86Cpu *c, X87Reg v)
{
    c->fpu.top = (c->fpu.top - 1) & 7;
    x87_set_st(c, 0, v);
}
static inline void x87_pop(X86Cpu *c)
{
    c->fpu.empty |= (uint8_t)(1u << x87_phys(c, 0));
    c->fpu.top = (c->fpu.top + 1) & 7;
}

/* ---- status and tag words ---- */

uint16_t x87_status(const X86Cpu *c)
{
    return (uint16_t)((c->fpu.fsw & ~FSW_TOP) | (c->fpu.top << 11));
}

/* SDM vol. 1, 8.1.7: valid 00, zero 01, special (NaN, infinity, denormal,
 * unsupported) 10, empty 11. */
static unsigned x87_tag_of(const X87Reg *r)
{
    unsigned e = r->sexp & 0x7fff;
    if (e == 0x7fff)
        return 2;
    if (e == 0)
        return r->mant ? 2 : 1;
    return (r->mant >> 63) ? 0 : 2;
}

uint16_t x87_tag_word(const X86Cpu *c)
{
    uint16_t tw = 0;
    for (unsigned p = 0; p < 8; p++) {
        unsigned t = ((c->fpu.empty >> p) & 1) ? 3 : x87_tag_of(&c->fpu.st[p]);
        tw |= (uint16_t)(t << (2 * p));
    }
    return tw;
}

void x87_set_tag_word(X86Cpu *c, uint16_t tags)
{
    uint8_t empty = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((tags >> (2 * p)) & 3) == 3)
            empty |= (uint8_t)(1u << p);
    c->fpu.empty = empty;
}

static void x87_set_ferr(X86Cpu *c, bool on)
{
    if (c->fpu.ferr != on) {
        c->fpu.ferr = on;
        vcpu_set_ferr(c->v, on);
    }
}

void x87_update_es(X86Cpu *c)
{
    /* SDM vol. 1, 8.1.3.1: ES (and B, its copy) summarize the unmasked flags; SF
     * comes with IE and has no mask of its own. */
    if (c->fpu.fsw & ~c->fpu.fcw & FSW_EXC) {
        c->fpu.fsw |= FSW_ES | FSW_B;
    } else {
        c->fpu.fsw &= (uint16_t)~(FSW_ES | FSW_B);
        x87_set_ferr(c, false);
    }
}

void x87_init(X86Cpu *c)
{
    c->fpu.fcw = 0x037f;
    c->fpu.fsw = 0;
    c->fpu.top = 0;
    c->fpu.empty = 0xff;
    c->fpu.fop = 0;
    c->fpu.fip = c->fpu.fdp = 0;
    c->fpu.fcs = c->fpu.fds = 0;
    x87_update_es(c);
}

void x86_fpu_reset(X86Cpu *c)
{
    /* Reset runs with the engine lock held and the board resets its IRQ 13 latch
     * itself: FERR# just goes inactive here, without a call into the engine. */
    c->fpu.ferr = false;
    x87_init(c);
    /* SDM vol. 3, table 9-1: the control word is 0040h after RESET, 037Fh after FINIT. */
    c->fpu.fcw = 0x0040;
    memset(c->fpu.st, 0, sizeof(c->fpu.st));
    memset(c->fpu.xmm, 0, sizeof(c->fpu.xmm));
    c->fpu.mxcsr = MXCSR_RESET;
}

static void x87_set_cw(X86Cpu *c, uint16_t cw)
{
    /* Bit 6 reads as 1, bits 13-15 as 0 (SDM vol. 1, figure 8-6). */
    c->fpu.fcw = (uint16_t)((cw & 0x1f3f) | 0x40);
    x87_update_es(c);
}

/* Condition codes: those in mask from cc, the others kept (an instruction leaves the
 * codes it leaves "undefined" as they were). */
static inline void x87_set_cc(X86Cpu *c, unsigned cc, unsigned mask)
{
    c->fpu.fsw = (uint16_t)((c->fpu.fsw & ~mask) | (cc & mask));
}

/* Adds exception flags (sticky) and updates ES / FERR#. */
static inline void x87_raise(X86Cpu *c, unsigned ex)
{
    c->fpu.fsw |= (uint16_t)(ex & (FSW_EXC | FSW_SF));
    x87_update_es(c);
}

static inline bool x87_masked(const X86Cpu *c, unsigned ex)
{
    return !(ex & ~c->fpu.fcw & FSW_EXC);
}

/* Stack underflow (c1 = 0) or overflow (c1 = 1): IE and SF (SDM vol. 1, 8.5.1.1).
 * Returns true when IE is masked, i.e. the caller delivers the masked response. */
static bool x87_stack_fault(X86Cpu *c, bool overflow)
{
    x87_set_cc(c, overflow ? FSW_C1 : 0, FSW_C1);
    x87_raise(c, FSW_IE | FSW_SF);
    return x87_masked(c, FSW_IE);
}

/* ---- instruction prologue ---- */

/* The checks before every x87 instruction: #NM for CR0.EM/TS (SDM vol. 3, table
 * 2-2), then for waiting instructions an unmasked exception left by an earlier one:
 * #MF with CR0.NE, otherwise the PC-style FERR# route, where the CPU stops before the
 * instruction until the IRQ13 handler has run, unless IGNNE# is asserted (SDM vol. 1,
 * D.2.1). */
void x87_check_pending(X86Cpu *c)
{
    if (!(c->fpu.fsw & FSW_ES))
        return;
    if (c->cr0 & X86_CR0_NE)
        x86_fault(c, X86_EXC_MF);
    x87_set_ferr(c, true);
    if (atomic_load(&c->v->ignne))
        return;
    x86_stall(c);
}

enum { X87_WAIT = 1, X87_CONTROL = 2 };

static void x87_begin(X86Cpu *c, const X86Insn *i, unsigned how)
{
    if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    if (how & X87_WAIT)
        x87_check_pending(c);
    if (!(how & X87_CONTROL)) {
        /* SDM vol. 1, 8.1.8-8.1.9: the last non-control instruction's pointers. */
        c->fpu.fop = (uint16_t)(((i->opcode & 7) << 8) | i->modrm);
        c->fpu.fip = c->prev_eip;
        c->fpu.fcs = c->seg[S_CS].sel;
        if (i->pfx & X86_PFX_MEM) {
            c->fpu.fdp = x86_ea(c, i);
            c->fpu.fds = c->seg[i->seg].sel;
        }
    }
}

/* ---- running host operations ---- */

static bool x87_is_nan(const X87Reg *r)
{
    return (r->sexp & 0x7fff) == 0x7fff && (r->mant << 1) != 0;
}

/* Runs op (operands set up in h), then applies the guest's masks: an unmasked
 * invalid, denormal or zero-divide exception leaves the destination alone (returns
 * false); an unmasked overflow or underflow stores the biased result (run again
 * with those exceptions live). cc_mask: the condition codes the operation defines. */
static bool x87_compute(X86Cpu *c, X87HostOp op, X87Host *h, unsigned cc_mask)
{
    h->cw = c->fpu.fcw;
    x87_host_run(op, h, false);
    unsigned ex = h->sw & FSW_EXC;
    unsigned live = ex & ~c->fpu.fcw;
    if (live & (FSW_IE | FSW_DE | FSW_ZE)) {
        x87_raise(c, ex & (FSW_IE | FSW_DE | FSW_ZE));
        return false;
    }
    if (live & (FSW_OE | FSW_UE)) {
        h->cw = c->fpu.fcw;
        x87_host_run(op, h, true);
        ex = h->sw & FSW_EXC;
    }
    /* FPREM/FPREM1 leave the condition codes alone when an operand is a NaN or
     * invalid (the host's would be stale). */
    if ((op == HX_PREM || op == HX_PREM1) && ((ex & FSW_IE) || x87_is_nan(&h->a) || x87_is_nan(&h->b)))
        cc_mask &= FSW_C1;
    x87_set_cc(c, h->sw, cc_mask);
    x87_raise(c, ex);
    return true;
}

/* ST(dst) = ST(ia) op ST(ib), then an optional pop. */
static void x87_arith_regs(X86Cpu *c, X87HostOp op, unsigned ia, unsigned ib, unsigned dst, bool pop)
{
    if (x87_is_empty(c, ia) || x87_is_empty(c, ib)) {
        if (!x87_stack_fault(c, false))
            return;
        x87_set_st(c, dst, x87_indefinite);
    } else {
        X87Host h = { .a = *x87_st(c, ia), .b = *x87_st(c, ib) };
        if (!x87_compute(c, op, &h, FSW_C1))
            return;
        x87_set_st(c, dst, h.r0);
    }
    if (pop)
        x87_pop(c);
}

/* FCOM/FUCOM/FCOMI/FUCOMI/FTST/FXAM-style: the result is condition codes (or
 * EFLAGS: C0 -> CF, C2 -> PF, C3 -> ZF, SDM vol. 2, FCOMI). */
static void x87_cc_result(X86Cpu *c, unsigned cc, bool eflags)
{
    if (eflags) {
        uint32_t f = ((cc & FSW_C0) ? X86_FL_CF : 0) | ((cc & FSW_C2) ? X86_FL_PF : 0) |
                     ((cc & FSW_C3) ? X86_FL_ZF : 0);
        x86_set_arith(c, f, X86_FL_ARITH);
        x87_set_cc(c, 0, FSW_C1);
    } else {
        x87_set_cc(c, cc & ~FSW_C1, FSW_CC);
    }
}

static void x87_compare(X86Cpu *c, X87HostOp op, X87Host *h, bool empty, unsigned pops, bool eflags)
{
    if (empty) {
        if (!x87_stack_fault(c, false))
            return;
        x87_cc_result(c, FSW_C0 | FSW_C2 | FSW_C3, eflags);
    } else {
        h->cw = c->fpu.fcw;
        x87_host_run(op, h, false);
        unsigned ex = h->sw & FSW_EXC;
        if (ex & ~c->fpu.fcw & (FSW_IE | FSW_DE)) {
            x87_raise(c, ex);
            return;
        }
        x87_cc_result(c, h->sw, eflags);
        x87_raise(c, ex);
    }
    while (pops--)
        x87_pop(c);
}

/* A push of h's result (or of *direct without any operation). */
static void x87_load(X86Cpu *c, X87HostOp op, X87Host *h, const X87Reg *direct)
{
    if (!x87_is_empty(c, 7)) {
        if (x87_stack_fault(c, true))
            x87_push(c, x87_indefinite);
        return;
    }
    if (direct) {
        x87_set_cc(c, 0, FSW_C1);
        x87_push(c, *direct);
        return;
    }
    if (!x87_compute(c, op, h, FSW_C1))
        return;
    x87_set_cc(c, 0, FSW_C1);
    x87_push(c, h->r0);
}

/* ST(0) = f(ST(0)). */
static void x87_unary(X86Cpu *c, X87HostOp op, unsigned cc_mask)
{
    if (x87_is_empty(c, 0)) {
        if (x87_stack_fault(c, false))
            x87_set_st(c, 0, x87_indefinite);
        return;
    }
    X87Host h = { .a = *x87_st(c, 0) };
    if (x87_compute(c, op, &h, cc_mask))
        x87_set_st(c, 0, h.r0);
}

/* FSINCOS, FPTAN, FXTRACT: ST(0) = r1, then push r0 (unless the operand was out of
 * range: C2, ST(0) unchanged). */
static void x87_two_results(X86Cpu *c, X87HostOp op)
{
    if (x87_is_empty(c, 0)) {
        if (x87_stack_fault(c, false)) {
            x87_set_st(c, 0, x87_indefinite);
            if (x87_is_empty(c, 7))
                x87_push(c, x87_indefinite);
        }
        return;
    }
    if (!x87_is_empty(c, 7)) {
        if (x87_stack_fault(c, true)) {
            x87_set_st(c, 0, x87_indefinite);
            x87_push(c, x87_indefinite);
        }
        return;
    }
    X87Host h = { .a = *x87_st(c, 0) };
    if (!x87_compute(c, op, &h, op == HX_XTRACT ? FSW_C1 : FSW_C1 | FSW_C2))
        return;
    if (op != HX_XTRACT && (h.sw & FSW_C2)) {
        x87_set_st(c, 0, h.r0);
        return;
    }
    x87_set_st(c, 0, h.r1);
    x87_push(c, h.r0);
}

/* FPATAN, FYL2X, FYL2XP1 (ST(1) = f(ST(1), ST(0)), pop) and FSCALE, FPREM, FPREM1
 * (ST(0) = f(ST(0), ST(1))). */
static void x87_binary_st1(X86Cpu *c, X87HostOp op, bool to_st1, unsigned cc_mask)
{
    unsigned dst = to_st1 ? 1 : 0;
    if (x87_is_empty(c, 0) || x87_is_empty(c, 1)) {
        if (!x87_stack_fault(c, false))
            return;
        x87_set_st(c, dst, x87_indefinite);
    } else {
        X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, 1) };
        if (!x87_compute(c, op, &h, cc_mask))
            return;
        x87_set_st(c, dst, h.r0);
    }
    if (to_st1)
        x87_pop(c);
}

/* ---- memory operands ---- */

static void x87_read_mem(X86Cpu *c, const X86Insn *i, void *buf, unsigned n)
{
    x86_read_block(c, i->seg, x86_ea(c, i), buf, n);
}

/* FST/FSTP/FIST/FISTP/FBSTP to memory: the store happens before anything else is
 * committed, so a page fault leaves the stack as it was. Host ops that pop on the
 * host (FISTP m64, FBSTP) are the same conversion. */
static void x87_store(X86Cpu *c, const X86Insn *i, X87HostOp op, unsigned n, bool pop)
{
    static const uint8_t indef_m32[4] = { 0, 0, 0xc0, 0xff };
    static const uint8_t indef_m64[8] = { 0, 0, 0, 0, 0, 0, 0xf8, 0xff };
    static const uint8_t indef_i16[2] = { 0, 0x80 };
    static const uint8_t indef_i32[4] = { 0, 0, 0, 0x80 };
    static const uint8_t indef_i64[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
    static const uint8_t indef_bcd[10] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff };
    uint64_t ea = x86_ea(c, i);
    X87Host h = { .cw = c->fpu.fcw };
    unsigned ex, cc = 0;
    bool ok;
    if (x87_is_empty(c, 0)) {
        ex = FSW_IE | FSW_SF;
        ok = x87_masked(c, FSW_IE);
        const uint8_t *src = op == HX_ST_M32 ? indef_m32 : op == HX_ST_M64 ? indef_m64 :
                             op == HX_ST_I16 || op == HX_STT_I16 ? indef_i16 :
                             op == HX_ST_I32 || op == HX_STT_I32 ? indef_i32 :
                             op == HX_ST_BCD ? indef_bcd : indef_i64;
        memcpy(h.m.bytes, src, n);
    } else {
        h.a = *x87_st(c, 0);
        x87_host_run(op, &h, false);
        ex = h.sw & FSW_EXC;
        cc = h.sw;
        /* SDM vol. 1, 8.5.4-8.5.5: with a memory destination an unmasked numeric
         * exception (other than precision) stores nothing. */
        ok = !(ex & ~c->fpu.fcw & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE));
    }
    if (ok)
        x86_write_block(c, i->seg, ea, h.m.bytes, n);
    x87_set_cc(c, cc, FSW_C1);
    x87_raise(c, ex);
    if (ok && pop)
        x87_pop(c);
}

/* ---- environment, FSAVE/FRSTOR ---- */

static inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}
static inline uint32_t get16(const uint8_t *p)
{
    return p[0] | (p[1] << 8);
}
static inline uint32_t get32(const uint8_t *p)
{
    return get16(p) | (get16(p + 2) << 16);
}

/* The four environment layouts (SDM vol. 1, figures 8-9 to 8-12): 32- or 16-bit
 * operand size, protected mode (offsets and selectors) or real/V86 mode (20- or 32-bit
 * linear pointers split in two fields). Returns the size. */
static unsigned x87_env_store(X86Cpu *c, const X86Insn *i, uint8_t *b)
{
    bool pm = x86_protected(c);
    uint16_t cw = c->fpu.fcw, sw = x87_status(c), tw = x87_tag_word(c);
    uint32_t ip = c->fpu.fip, dp = c->fpu.fdp, op = c->fpu.fop & 0x7ff;
    if (!pm) {
        ip += (uint32_t)c->fpu.fcs << 4;
        dp += (uint32_t)c->fpu.fds << 4;
    }
    if (i->pfx & X86_PFX_OP32) {
        put32(b + 0, 0xffff0000u | cw);
        put32(b + 4, 0xffff0000u | sw);
        put32(b + 8, 0xffff0000u | tw);
        if (pm) {
            put32(b + 12, ip);
            put32(b + 16, c->fpu.fcs | (op << 16));
            put32(b + 20, dp);
            put32(b + 24, 0xffff0000u | c->fpu.fds);
        } else {
            put32(b + 12, 0xffff0000u | (ip & 0xffff));
            put32(b + 16, ((ip >> 16) << 12) | op);
            put32(b + 20, 0xffff0000u | (dp & 0xffff));
            put32(b + 24, (dp >> 16) << 12);
        }
        return 28;
    }
    put16(b + 0, cw);
    put16(b + 2, sw);
    put16(b + 4, tw);
    if (pm) {
        put16(b + 6, ip);
        put16(b + 8, c->fpu.fcs);
        put16(b + 10, dp);
        put16(b + 12, c->fpu.fds);
    } else {
        put16(b + 6, ip);
        put16(b + 8, (((ip >> 16) & 0xf) << 12) | op);
        put16(b + 10, dp);
        put16(b + 12, ((dp >> 16) & 0xf) << 12);
    }
    return 14;
}

static unsigned x87_env_size(const X86Insn *i)
{
    return (i->pfx & X86_PFX_OP32) ? 28 : 14;
}

static void x87_env_load(X86Cpu *c, const X86Insn *i, const uint8_t *b)
{
    bool pm = x86_protected(c);
    uint16_t cw, sw, tw;
    if (i->pfx & X86_PFX_OP32) {
        cw = (uint16_t)get16(b);
        sw = (uint16_t)get16(b + 4);
        tw = (uint16_t)get16(b + 8);
        if (pm) {
            c->fpu.fip = get32(b + 12);
            c->fpu.fcs = (uint16_t)get16(b + 16);
            c->fpu.fop = (uint16_t)(get16(b + 18) & 0x7ff);
            c->fpu.fdp = get32(b + 20);
            c->fpu.fds = (uint16_t)get16(b + 24);
        } else {
            c->fpu.fip = get16(b + 12) | ((get32(b + 16) >> 12) << 16);
            c->fpu.fop = (uint16_t)(get16(b + 16) & 0x7ff);
            c->fpu.fdp = get16(b + 20) | ((get32(b + 24) >> 12) << 16);
            c->fpu.fcs = c->fpu.fds = 0;
        }
    } else {
        cw = (uint16_t)get16(b);
        sw = (uint16_t)get16(b + 2);
        tw = (uint16_t)get16(b + 4);
        if (pm) {
            c->fpu.fip = get16(b + 6);
            c->fpu.fcs = (uint16_t)get16(b + 8);
            c->fpu.fdp = get16(b + 10);
            c->fpu.fds = (uint16_t)get16(b + 12);
        } else {
            c->fpu.fip = get16(b + 6) | ((get16(b + 8) >> 12) << 16);
            c->fpu.fop = (uint16_t)(get16(b + 8) & 0x7ff);
            c->fpu.fdp = get16(b + 10) | ((get16(b + 12) >> 12) << 16);
            c->fpu.fcs = c->fpu.fds = 0;
        }
    }
    c->fpu.fsw = sw & (uint16_t)~FSW_TOP;
    c->fpu.top = (sw >> 11) & 7;
    x87_set_tag_word(c, tw);
    x87_set_cw(c, cw);
}

static void x87_fldenv(X86Cpu *c, const X86Insn *i)
{
    uint8_t b[28];
    x87_read_mem(c, i, b, x87_env_size(i));
    x87_env_load(c, i, b);
}

static void x87_fnstenv(X86Cpu *c, const X86Insn *i)
{
    uint8_t b[28];
    unsigned n = x87_env_store(c, i, b);
    x86_write_block(c, i->seg, x86_ea(c, i), b, n);
    /* SDM vol. 2, FSTENV: all exceptions masked afterwards. */
    x87_set_cw(c, c->fpu.fcw | 0x3f);
}

static void x87_frstor(X86Cpu *c, const X86Insn *i)
{
    uint8_t b[108];
    unsigned n = x87_env_size(i);
    x87_read_mem(c, i, b, n + 80);
    x87_env_load(c, i, b);
    for (unsigned r = 0; r < 8; r++) {
        X87Reg *d = x87_st(c, r);
        memcpy(&d->mant, b + n + 10 * r, 8);
        d->sexp = (uint16_t)get16(b + n + 10 * r + 8);
    }
}

static void x87_fnsave(X86Cpu *c, const X86Insn *i)
{
    uint8_t b[108];
    unsigned n = x87_env_store(c, i, b);
    for (unsigned r = 0; r < 8; r++) {
        const X87Reg *s = x87_st(c, r);
        memcpy(b + n + 10 * r, &s->mant, 8);
        put16(b + n + 10 * r + 8, s->sexp);
    }
    x86_write_block(c, i->seg, x86_ea(c, i), b, n + 80);
    x87_init(c);
}

/* ---- FXSAVE / FXRSTOR (SDM vol. 2, FXSAVE, table 3-53) ---- */

#define MXCSR_MASK 0xffffu

void x86_fxsave_image(X86Cpu *c, uint8_t img[512])
{
    memset(img, 0, 512);
    put16(img + 0, c->fpu.fcw);
    put16(img + 2, x87_status(c));
    img[4] = (uint8_t)~c->fpu.empty;
    put16(img + 6, c->fpu.fop & 0x7ff);
    put32(img + 8, c->fpu.fip);
    put16(img + 12, c->fpu.fcs);
    put32(img + 16, c->fpu.fdp);
    put16(img + 20, c->fpu.fds);
    put32(img + 24, c->fpu.mxcsr);
    put32(img + 28, MXCSR_MASK);
    for (unsigned r = 0; r < 8; r++) {
        const X87Reg *s = x87_st(c, r);
        memcpy(img + 32 + 16 * r, &s->mant, 8);
        put16(img + 40 + 16 * r, s->sexp);
    }
    memcpy(img + 160, c->fpu.xmm, sizeof(c->fpu.xmm));
}

bool x86_fxrstor_image(X86Cpu *c, const uint8_t img[512])
{
    uint32_t mxcsr = get32(img + 24);
    if (mxcsr & ~MXCSR_MASK)
        return false;
    c->fpu.mxcsr = mxcsr;
    uint16_t sw = (uint16_t)get16(img + 2);
    c->fpu.fsw = sw & (uint16_t)~FSW_TOP;
    c->fpu.top = (sw >> 11) & 7;
    c->fpu.empty = (uint8_t)~img[4];
    c->fpu.fop = (uint16_t)(get16(img + 6) & 0x7ff);
    c->fpu.fip = get32(img + 8);
    c->fpu.fcs = (uint16_t)get16(img + 12);
    c->fpu.fdp = get32(img + 16);
    c->fpu.fds = (uint16_t)get16(img + 20);
    for (unsigned r = 0; r < 8; r++) {
        X87Reg *d = x87_st(c, r);
        memcpy(&d->mant, img + 32 + 16 * r, 8);
        d->sexp = (uint16_t)get16(img + 40 + 16 * r);
    }
    memcpy(c->fpu.xmm, img + 160, 8 * sizeof(XmmReg)); /* XMM8-15: the caller's */
    x87_set_cw(c, (uint16_t)get16(img));
    return true;
}

/* The saved area covers the x87 and XMM state (bytes 0-287, in 64-bit mode 0-415 with
 * XMM8-15); the rest of the 512 bytes is reserved or left to software, and not
 * written. */
#define FXSAVE_USED 288
#define FXSAVE_USED64 416

static uint64_t fxsave_addr(X86Cpu *c, const X86Insn *i, unsigned need)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_ud(c);
    if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    uint64_t ea = x86_ea(c, i);
    uint64_t lin = x86_lin(c, i->seg, ea, 512, need);
    if (lin & 15)
        x86_gp0(c);
    return ea;
}

static void fxsave(X86Cpu *c, const X86Insn *i)
{
    uint64_t ea = fxsave_addr(c, i, SEG_OK_WRITE);
    uint8_t img[512];
    x86_fxsave_image(c, img);
    /* FXSAVE64 (REX.W): FIP and FDP are 64 bits wide where FCS and FDS were (SDM vol.
     * 2, FXSAVE, table 3-56); the x87 pointers here hold 32 bits. */
    if (i->rex & 8) {
        memset(img + 12, 0, 4);
        memset(img + 20, 0, 4);
    }
    x86_write_block(c, i->seg, ea, img, c->long64 ? FXSAVE_USED64 : FXSAVE_USED);
}

static void fxrstor(X86Cpu *c, const X86Insn *i)
{
    uint64_t ea = fxsave_addr(c, i, SEG_OK_READ);
    uint8_t img[512];
    x86_read_block(c, i->seg, ea, img, c->long64 ? FXSAVE_USED64 : FXSAVE_USED);
    X86Fpu saved = c->fpu;
    if (!x86_fxrstor_image(c, img)) {
        c->fpu = saved;
        x86_gp0(c);
    }
    if (i->rex & 8) /* FXRSTOR64: no selectors in the image */
        c->fpu.fcs = c->fpu.fds = 0;
    if (c->long64)
        memcpy(&c->fpu.xmm[8], img + 288, 8 * sizeof(XmmReg));
}

/* ---- the escape opcodes ---- */

static const X87HostOp x87_mem_arith[8] = { 0, 1, 0, 0, 2, 3, 4, 5 };

static void x87_fcmov(X86Cpu *c, const X86Insn *i)
{
    /* DA: B, E, BE, U; DB: the negations (SDM vol. 2, FCMOVcc). */
    static const uint8_t cond[4] = { 0x2, 0x4, 0x6, 0xa };
    unsigned cc = cond[i->reg & 3] | (i->opcode == 0xdb ? 1 : 0);
    if (x87_is_empty(c, 0) || x87_is_empty(c, i->rm)) {
        if (x87_stack_fault(c, false))
            x87_set_st(c, 0, x87_indefinite);
        return;
    }
    x87_set_cc(c, 0, FSW_C1);
    if (x86_cond(c, cc))
        x87_set_st(c, 0, *x87_st(c, i->rm));
}

static void x87_fxch(X86Cpu *c, unsigned r)
{
    if (x87_is_empty(c, 0) || x87_is_empty(c, r)) {
        if (!x87_stack_fault(c, false))
            return;
        if (x87_is_empty(c, 0))
            x87_set_st(c, 0, x87_indefinite);
        if (x87_is_empty(c, r))
            x87_set_st(c, r, x87_indefinite);
    }
    X87Reg t = *x87_st(c, 0);
    *x87_st(c, 0) = *x87_st(c, r);
    *x87_st(c, r) = t;
    x87_set_cc(c, 0, FSW_C1);
}

static void x87_fst_reg(X86Cpu *c, unsigned r, bool pop)
{
    if (x87_is_empty(c, 0)) {
        if (!x87_stack_fault(c, false))
            return;
        x87_set_st(c, r, x87_indefinite);
    } else {
        x87_set_st(c, r, *x87_st(c, 0));
        x87_set_cc(c, 0, FSW_C1);
    }
    if (pop)
        x87_pop(c);
}

static void x87_fnstsw_ax(X86Cpu *c)
{
    *x86_reg16(c, R_EAX) = x87_status(c);
}

/* Memory forms: opcode D8-DF with ModRM.reg. */
static void x87_mem(X86Cpu *c, const X86Insn *i)
{
    unsigned op = i->opcode & 7, reg = i->reg;
    X87Host h = { 0 };
    switch (op) {
    case 0: case 2: case 4: case 6: {
        /* D8 m32fp, DA m32int, DC m64fp, DE m16int: arithmetic and compares. */
        static const unsigned size[4] = { 4, 4, 8, 2 };
        static const X87HostOp base[4] = { HX_ADD_M32, HX_ADD_I32, HX_ADD_M64, HX_ADD_I16 };
        static const X87HostOp com[4] = { HX_COM_M32, HX_COM_I32, HX_COM_M64, HX_COM_I16 };
        x87_begin(c, i, X87_WAIT);
        x87_read_mem(c, i, h.m.bytes, size[op / 2]);
        if (reg == 2 || reg == 3) {
            h.a = *x87_st(c, 0);
            x87_compare(c, com[op / 2], &h, x87_is_empty(c, 0), reg == 3, false);
            return;
        }
        if (x87_is_empty(c, 0)) {
            if (x87_stack_fault(c, false))
                x87_set_st(c, 0, x87_indefinite);
            return;
        }
        h.a = *x87_st(c, 0);
        if (x87_compute(c, base[op / 2] + x87_mem_arith[reg], &h, FSW_C1))
            x87_set_st(c, 0, h.r0);
        return;
    }
    case 1:
        switch (reg) {
        case 0:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 4);
            x87_load(c, HX_LD_M32, &h, NULL);
            return;
        case 2: case 3:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_M32, 4, reg == 3);
            return;
        case 4:
            x87_begin(c, i, X87_WAIT | X87_CONTROL);
            x87_fldenv(c, i);
            return;
        case 5: {
            x87_begin(c, i, X87_WAIT | X87_CONTROL);
            uint16_t cw = (uint16_t)x86_read(c, i->seg, x86_ea(c, i), 2);
            x87_set_cw(c, cw);
            return;
        }
        case 6:
            x87_begin(c, i, X87_CONTROL);
            x87_fnstenv(c, i);
            return;
        case 7:
            x87_begin(c, i, X87_CONTROL);
            x86_write(c, i->seg, x86_ea(c, i), 2, c->fpu.fcw);
            return;
        }
        break;
    case 3:
        switch (reg) {
        case 0:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 4);
            x87_load(c, HX_LD_I32, &h, NULL);
            return;
        case 1: /* FISTTP m32 (SSE3) */
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_STT_I32, 4, true);
            return;
        case 2: case 3:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_I32, 4, reg == 3);
            return;
        case 5: {
            x87_begin(c, i, X87_WAIT);
            X87Reg r;
            uint8_t b[10];
            x87_read_mem(c, i, b, 10);
            memcpy(&r.mant, b, 8);
            r.sexp = (uint16_t)get16(b + 8);
            memset(r.pad, 0, sizeof(r.pad));
            x87_load(c, 0, NULL, &r);
            return;
        }
        case 7: {
            x87_begin(c, i, X87_WAIT);
            X87Reg r = x87_is_empty(c, 0) ? x87_indefinite : *x87_st(c, 0);
            bool ok = !x87_is_empty(c, 0) || x87_masked(c, FSW_IE);
            uint8_t b[10];
            memcpy(b, &r.mant, 8);
            put16(b + 8, r.sexp);
            if (ok)
                x86_write_block(c, i->seg, x86_ea(c, i), b, 10);
            if (x87_is_empty(c, 0)) {
                x87_stack_fault(c, false);
            } else {
                x87_set_cc(c, 0, FSW_C1);
            }
            if (ok)
                x87_pop(c);
            return;
        }
        }
        break;
    case 5:
        switch (reg) {
        case 0:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 8);
            x87_load(c, HX_LD_M64, &h, NULL);
            return;
        case 1: /* FISTTP m64 */
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_STT_I64, 8, true);
            return;
        case 2: case 3:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_M64, 8, reg == 3);
            return;
        case 4:
            x87_begin(c, i, X87_WAIT | X87_CONTROL);
            x87_frstor(c, i);
            return;
        case 6:
            x87_begin(c, i, X87_CONTROL);
            x87_fnsave(c, i);
            return;
        case 7:
            x87_begin(c, i, X87_CONTROL);
            x86_write(c, i->seg, x86_ea(c, i), 2, x87_status(c));
            return;
        }
        break;
    case 7:
        switch (reg) {
        case 0:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 2);
            x87_load(c, HX_LD_I16, &h, NULL);
            return;
        case 1: /* FISTTP m16 */
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_STT_I16, 2, true);
            return;
        case 2: case 3:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_I16, 2, reg == 3);
            return;
        case 4:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 10);
            x87_load(c, HX_LD_BCD, &h, NULL);
            return;
        case 5:
            x87_begin(c, i, X87_WAIT);
            x87_read_mem(c, i, h.m.bytes, 8);
            x87_load(c, HX_LD_I64, &h, NULL);
            return;
        case 6:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_BCD, 10, true);
            return;
        case 7:
            x87_begin(c, i, X87_WAIT);
            x87_store(c, i, HX_ST_I64, 8, true);
            return;
        }
        break;
    }
    /* D9 /1, DB /4 /6, DD /5: reserved. */
    if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    x86_ud(c);
}

/* D9 E0-FF: one-operand instructions and constants. */
static void x87_d9_misc(X86Cpu *c, const X86Insn *i)
{
    unsigned m = i->modrm;
    switch (m) {
    case 0xd0: /* FNOP */
        x87_begin(c, i, X87_WAIT);
        return;
    case 0xe0: case 0xe1: /* FCHS, FABS */
        x87_begin(c, i, X87_WAIT);
        if (x87_is_empty(c, 0)) {
            if (x87_stack_fault(c, false))
                x87_set_st(c, 0, x87_indefinite);
            return;
        }
        if (m == 0xe0)
            x87_st(c, 0)->sexp ^= 0x8000;
        else
            x87_st(c, 0)->sexp &= 0x7fff;
        x87_set_cc(c, 0, FSW_C1);
        return;
    case 0xe4: case 0xe5: { /* FTST, FXAM */
        x87_begin(c, i, X87_WAIT);
        if (m == 0xe5) {
            if (x87_is_empty(c, 0)) {
                /* Empty: C3 C2 C0 = 101, C1 the sign of whatever is there. */
                unsigned s = (x87_st(c, 0)->sexp & 0x8000) ? FSW_C1 : 0;
                x87_set_cc(c, FSW_C3 | FSW_C0 | s, FSW_CC);
                return;
            }
            X87Host h = { .a = *x87_st(c, 0), .cw = c->fpu.fcw };
            x87_host_run(HX_XAM, &h, false);
            x87_set_cc(c, h.sw, FSW_CC);
            return;
        }
        X87Host h = { .a = *x87_st(c, 0) };
        x87_compare(c, HX_TST, &h, x87_is_empty(c, 0), 0, false);
        return;
    }
    case 0xe8 ... 0xee: {
        static const X87HostOp k[7] = { HX_LD1, HX_LDL2T, HX_LDL2E, HX_LDPI, HX_LDLG2, HX_LDLN2, HX_LDZ };
        x87_begin(c, i, X87_WAIT);
        X87Host h = { 0 };
        x87_load(c, k[m - 0xe8], &h, NULL);
        return;
    }
    case 0xf0: x87_begin(c, i, X87_WAIT); x87_unary(c, HX_F2XM1, FSW_C1); return;
    case 0xf1: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_YL2X, true, FSW_C1); return;
    case 0xf2: x87_begin(c, i, X87_WAIT); x87_two_results(c, HX_PTAN); return;
    case 0xf3: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_PATAN, true, FSW_C1); return;
    case 0xf4: x87_begin(c, i, X87_WAIT); x87_two_results(c, HX_XTRACT); return;
    case 0xf5: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_PREM1, false, FSW_CC); return;
    case 0xf6: case 0xf7: /* FDECSTP, FINCSTP */
        x87_begin(c, i, X87_WAIT);
        c->fpu.top = (c->fpu.top + (m == 0xf6 ? 7 : 1)) & 7;
        x87_set_cc(c, 0, FSW_C1);
        return;
    case 0xf8: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_PREM, false, FSW_CC); return;
    case 0xf9: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_YL2XP1, true, FSW_C1); return;
    case 0xfa: x87_begin(c, i, X87_WAIT); x87_unary(c, HX_SQRT, FSW_C1); return;
    case 0xfb: x87_begin(c, i, X87_WAIT); x87_two_results(c, HX_SINCOS); return;
    case 0xfc: x87_begin(c, i, X87_WAIT); x87_unary(c, HX_RNDINT, FSW_C1); return;
    case 0xfd: x87_begin(c, i, X87_WAIT); x87_binary_st1(c, HX_SCALE, false, FSW_C1); return;
    case 0xfe: x87_begin(c, i, X87_WAIT); x87_unary(c, HX_SIN, FSW_C1 | FSW_C2); return;
    case 0xff: x87_begin(c, i, X87_WAIT); x87_unary(c, HX_COS, FSW_C1 | FSW_C2); return;
    }
    if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    x86_ud(c);
}

/* Register forms: mod = 3. */
static void x87_reg(X86Cpu *c, const X86Insn *i)
{
    unsigned op = i->opcode & 7, reg = i->reg, r = i->rm;
    static const X87HostOp d8[8] = { HX_ADD, HX_MUL, 0, 0, HX_SUB, HX_SUBR, HX_DIV, HX_DIVR };
    /* DC/DE with ST(i) as destination: E0 is FSUBR, E8 FSUB, F0 FDIVR, F8 FDIV. */
    static const X87HostOp dc[8] = { HX_ADD, HX_MUL, 0, 0, HX_SUBR, HX_SUB, HX_DIVR, HX_DIV };
    switch (op) {
    case 0:
        x87_begin(c, i, X87_WAIT);
        if (reg == 2 || reg == 3) {
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), reg == 3, false);
        } else {
            x87_arith_regs(c, d8[reg], 0, r, 0, false);
        }
        return;
    case 1:
        switch (reg) {
        case 0: { /* FLD ST(i) */
            x87_begin(c, i, X87_WAIT);
            if (x87_is_empty(c, r)) {
                if (x87_stack_fault(c, false) && x87_is_empty(c, 7))
                    x87_push(c, x87_indefinite);
                return;
            }
            X87Reg v = *x87_st(c, r);
            x87_load(c, 0, NULL, &v);
            return;
        }
        case 1: x87_begin(c, i, X87_WAIT); x87_fxch(c, r); return;
        case 2: if (r == 0) { x87_d9_misc(c, i); return; } break;
        case 3: x87_begin(c, i, X87_WAIT); x87_fst_reg(c, r, true); return; /* FSTP1 alias */
        default: x87_d9_misc(c, i); return;
        }
        break;
    case 2:
        if (reg < 4) {
            x87_begin(c, i, X87_WAIT);
            x87_fcmov(c, i);
            return;
        }
        if (i->modrm == 0xe9) { /* FUCOMPP */
            x87_begin(c, i, X87_WAIT);
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, 1) };
            x87_compare(c, HX_UCOM, &h, x87_is_empty(c, 0) || x87_is_empty(c, 1), 2, false);
            return;
        }
        break;
    case 3:
        if (reg < 4) {
            x87_begin(c, i, X87_WAIT);
            x87_fcmov(c, i);
            return;
        }
        switch (i->modrm) {
        case 0xe0: case 0xe1: case 0xe4: /* FNENI, FNDISI, FNSETPM: no-ops on a 387+ */
            x87_begin(c, i, X87_CONTROL);
            return;
        case 0xe2: /* FNCLEX */
            x87_begin(c, i, X87_CONTROL);
            c->fpu.fsw &= (uint16_t)~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);
            x87_update_es(c);
            return;
        case 0xe3: /* FNINIT */
            x87_begin(c, i, X87_CONTROL);
            x87_init(c);
            return;
        }
        if (reg == 5 || reg == 6) { /* FUCOMI, FCOMI */
            x87_begin(c, i, X87_WAIT);
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, reg == 5 ? HX_UCOM : HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), 0, true);
            return;
        }
        break;
    case 4:
        x87_begin(c, i, X87_WAIT);
        if (reg == 2 || reg == 3) { /* FCOM2/FCOMP3 aliases */
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), reg == 3, false);
        } else {
            x87_arith_regs(c, dc[reg], r, 0, r, false);
        }
        return;
    case 5:
        switch (reg) {
        case 0: /* FFREE */
            x87_begin(c, i, X87_WAIT);
            c->fpu.empty |= (uint8_t)(1u << x87_phys(c, r));
            return;
        case 1: x87_begin(c, i, X87_WAIT); x87_fxch(c, r); return; /* FXCH4 alias */
        case 2: case 3: x87_begin(c, i, X87_WAIT); x87_fst_reg(c, r, reg == 3); return;
        case 4: case 5: { /* FUCOM, FUCOMP */
            x87_begin(c, i, X87_WAIT);
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, HX_UCOM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), reg == 5, false);
            return;
        }
        }
        break;
    case 6:
        if (reg == 2) { /* FCOMP5 alias */
            x87_begin(c, i, X87_WAIT);
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), 1, false);
            return;
        }
        if (reg == 3) {
            if (r != 1)
                break;
            x87_begin(c, i, X87_WAIT); /* FCOMPP */
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, 1) };
            x87_compare(c, HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, 1), 2, false);
            return;
        }
        x87_begin(c, i, X87_WAIT);
        x87_arith_regs(c, dc[reg], r, 0, r, true);
        return;
    case 7:
        switch (reg) {
        case 0: /* FFREEP (undocumented, P6) */
            x87_begin(c, i, X87_WAIT);
            c->fpu.empty |= (uint8_t)(1u << x87_phys(c, r));
            x87_pop(c);
            return;
        case 1: x87_begin(c, i, X87_WAIT); x87_fxch(c, r); return; /* FXCH7 alias */
        case 2: case 3: x87_begin(c, i, X87_WAIT); x87_fst_reg(c, r, true); return; /* FSTP8/9 */
        case 4:
            if (r != 0)
                break;
            x87_begin(c, i, X87_CONTROL); /* FNSTSW AX */
            x87_fnstsw_ax(c);
            return;
        case 5: case 6: { /* FUCOMIP, FCOMIP */
            x87_begin(c, i, X87_WAIT);
            X87Host h = { .a = *x87_st(c, 0), .b = *x87_st(c, r) };
            x87_compare(c, reg == 5 ? HX_UCOM : HX_COM, &h, x87_is_empty(c, 0) || x87_is_empty(c, r), 1, true);
            return;
        }
        }
        break;
    }
    if (c->cr0 & (X86_CR0_EM | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    x86_ud(c);
}

static void x87_esc(X86Cpu *c, const X86Insn *i)
{
    if (i->pfx & X86_PFX_MEM)
        x87_mem(c, i);
    else
        x87_reg(c, i);
}

/* WAIT/FWAIT: #NM only with MP and TS both set (SDM vol. 3, table 2-2), then the
 * pending exception check. */
static void x87_fwait(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if ((c->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
        x86_fault(c, X86_EXC_NM);
    x87_check_pending(c);
}

/* ---- LDMXCSR / STMXCSR ---- */

static void mxcsr_check(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM) || (c->cr0 & X86_CR0_EM) || !(c->cr4 & X86_CR4_OSFXSR))
        x86_ud(c);
    if (c->cr0 & X86_CR0_TS)
        x86_fault(c, X86_EXC_NM);
}

static void ldmxcsr(X86Cpu *c, const X86Insn *i)
{
    mxcsr_check(c, i);
    uint32_t v = x86_read(c, i->seg, x86_ea(c, i), 4);
    if (v & ~MXCSR_MASK)
        x86_gp0(c);
    c->fpu.mxcsr = v;
}

static void stmxcsr(X86Cpu *c, const X86Insn *i)
{
    mxcsr_check(c, i);
    x86_write(c, i->seg, x86_ea(c, i), 4, c->fpu.mxcsr);
}

/* CLFLUSH: no cache to flush, but the address is checked like a byte load (SDM
 * vol. 2, CLFLUSH). */
static void clflush(X86Cpu *c, const X86Insn *i)
{
    uint32_t lin = x86_lin(c, i->seg, x86_ea(c, i), 1, SEG_OK_READ);
    x86_probe(c, lin, 1, c->acc_user);
}

/* 0F AE /5 /6 /7 with a register operand: LFENCE, MFENCE, SFENCE. A single
 * in-order vCPU has nothing to order. */
static void fence(X86Cpu *c, const X86Insn *i)
{
    (void)c;
    (void)i;
}

X86Handler x86_bind_x87(X86Insn *i)
{
    switch (i->opcode) {
    case 0x9b:
        return x87_fwait;
    case 0xd8 ... 0xdf:
        return x87_esc;
    case 0x0fae:
        if (i->pfx & (X86_PFX_OPSIZE | X86_PFX_REP | X86_PFX_REPNE))
            return NULL;
        if (!(i->pfx & X86_PFX_MEM))
            return i->reg >= 5 ? fence : NULL;
        switch (i->reg) {
        case 0: return fxsave;
        case 1: i->flags |= X86_INSN_END_BLOCK; return fxrstor;
        case 2: return ldmxcsr;
        case 3: return stmxcsr;
        case 7: return clflush;
        default: return NULL;
        }
    }
    return NULL;
}
