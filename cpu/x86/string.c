/* SPDX-License-Identifier: GPL-2.0-or-later */
/* String instructions MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE.
 * A REP instruction is interruptible: between iterations it stops when an event is
 * pending and restarts later from the registers (SDM vol. 2, REP). REP MOVS and REP
 * STOS copy whole page runs through host pointers when nothing forbids it. */
#include "cpu/x86/cpu-internal.h"

enum { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS, STR_INS, STR_OUTS };

/* True when the current REP instruction should stop between iterations. */
static inline bool events_pending(X86Cpu *c)
{
    unsigned r = vcpu_requests(c->v);
    if (__builtin_expect(r == 0, 1))
        return false;
    if (r & ~(unsigned)VCPU_REQ_INTR)
        return true;
    return c->eflags & X86_FL_IF;
}

static inline uint32_t idx_get(X86Cpu *c, unsigned r, bool a32)
{
    return a32 ? c->regs[r] : c->regs[r] & 0xffff;
}
static inline void idx_add(X86Cpu *c, unsigned r, bool a32, int32_t delta)
{
    if (a32)
        c->regs[r] = (uint32_t)(c->regs[r] + (uint32_t)delta);
    else
        c->regs[r] = (c->regs[r] & 0xffff0000u) | ((c->regs[r] + (uint32_t)delta) & 0xffff);
}

/* One iteration; returns the ZF the REPE/REPNE test looks at (CMPS, SCAS). */
static bool string_step(X86Cpu *c, const X86Insn *i, unsigned kind, unsigned size, bool a32)
{
    int32_t d = (c->eflags & X86_FL_DF) ? -(int32_t)size : (int32_t)size;
    uint32_t m = x86_mask(size);
    switch (kind) {
    case STR_MOVS: {
        uint32_t v = x86_read(c, i->seg, idx_get(c, R_ESI, a32), size);
        x86_write(c, S_ES, idx_get(c, R_EDI, a32), size, v);
        idx_add(c, R_ESI, a32, d);
        idx_add(c, R_EDI, a32, d);
        return false;
    }
    case STR_CMPS: {
        uint32_t a = x86_read(c, i->seg, idx_get(c, R_ESI, a32), size);
        uint32_t b = x86_read(c, S_ES, idx_get(c, R_EDI, a32), size);
        x86_set_lazy(c, CC_OP(CC_SUB8, size), (a - b) & m, a, b);
        idx_add(c, R_ESI, a32, d);
        idx_add(c, R_EDI, a32, d);
        return a == b;
    }
    case STR_STOS:
        x86_write(c, S_ES, idx_get(c, R_EDI, a32), size, c->regs[R_EAX] & m);
        idx_add(c, R_EDI, a32, d);
        return false;
    case STR_LODS: {
        uint32_t v = x86_read(c, i->seg, idx_get(c, R_ESI, a32), size);
        x86_set_reg(c, R_EAX, size, v);
        idx_add(c, R_ESI, a32, d);
        return false;
    }
    case STR_SCAS: {
        uint32_t a = c->regs[R_EAX] & m;
        uint32_t b = x86_read(c, S_ES, idx_get(c, R_EDI, a32), size);
        x86_set_lazy(c, CC_OP(CC_SUB8, size), (a - b) & m, a, b);
        idx_add(c, R_EDI, a32, d);
        return a == b;
    }
    case STR_INS: {
        uint16_t port = (uint16_t)c->regs[R_EDX];
        x86_io_check(c, port, size);
        /* The destination is checked before the port is read (no lost input). */
        uint32_t off = idx_get(c, R_EDI, a32);
        uint32_t lin = x86_lin(c, S_ES, off, size, SEG_OK_WRITE);
        x86_wptr(c, lin, size);
        x86_check_io_bp(c, port, size);
        uint32_t v = vcpu_pio_read(c->v, port, size);
        x86_write(c, S_ES, off, size, v);
        idx_add(c, R_EDI, a32, d);
        return false;
    }
    default: { /* OUTS */
        uint16_t port = (uint16_t)c->regs[R_EDX];
        x86_io_check(c, port, size);
        uint32_t v = x86_read(c, i->seg, idx_get(c, R_ESI, a32), size);
        x86_check_io_bp(c, port, size);
        vcpu_pio_write(c->v, port, v, size);
        idx_add(c, R_ESI, a32, d);
        return false;
    }
    }
}

/* Host pointer for n bytes at seg:off if the segment allows them and the TLB already
 * maps the page for this access directly; NULL otherwise. */
static uint8_t *bulk_ptr(X86Cpu *c, unsigned seg, uint32_t off, uint32_t n, bool write)
{
    const X86Seg *s = &c->seg[seg];
    if (!x86_seg_ok(s, off, n, write ? SEG_OK_WRITE : SEG_OK_READ))
        return NULL;
    uint32_t lin = s->base + off;
    if ((lin & 0xfff) + n > 0x1000)
        return NULL;
    return x86_bulk_ptr(c, lin, write);
}

uint8_t *x86_bulk_ptr(X86Cpu *c, uint64_t lin, bool write)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    uint64_t page = lin & ~UINT64_C(0xfff);
    if (write)
        return e->tag_w == page ? (uint8_t *)(e->add_w + lin) : NULL;
    return e->tag_r == page ? (uint8_t *)(e->add_r + lin) : NULL;
}

void x86_bulk_move(uint8_t *dst, const uint8_t *src, size_t bytes, unsigned size, uint64_t v)
{
    if (!src) {
        if (size == 1) {
            memset(dst, (uint8_t)v, bytes);
            return;
        }
        for (size_t k = 0; k < bytes; k += size)
            memcpy(dst + k, &v, size); /* (little-endian: the low size bytes) */
    } else if (dst >= src + bytes || src >= dst + bytes) {
        memcpy(dst, src, bytes);
    } else {
        /* Overlap: element order is visible (the classic pattern-fill trick). */
        for (size_t k = 0; k < bytes; k += size)
            memmove(dst + k, src + k, size);
    }
}

/* Elements that fit before either address leaves its page or its 16-bit offset wraps. */
static uint32_t run_length(X86Cpu *c, unsigned seg, uint32_t off, bool a32, unsigned size)
{
    uint32_t lin = c->seg[seg].base + off;
    uint32_t n = (0x1000 - (lin & 0xfff)) / size;
    if (!a32) {
        uint32_t w = (0x10000 - off) / size;
        if (w < n)
            n = w;
    }
    return n;
}

/* REP MOVS / REP STOS with DF clear through host pointers, a page run at a time.
 * Returns false when an iteration must take the general path. */
static bool bulk_run(X86Cpu *c, const X86Insn *i, unsigned kind, unsigned size, bool a32, uint32_t *count)
{
    uint32_t di = idx_get(c, R_EDI, a32);
    uint32_t n = run_length(c, S_ES, di, a32, size);
    if (n > *count)
        n = *count;
    uint32_t si = 0;
    if (kind == STR_MOVS) {
        si = idx_get(c, R_ESI, a32);
        uint32_t ns = run_length(c, i->seg, si, a32, size);
        if (ns < n)
            n = ns;
    }
    if (n < 2)
        return false;
    uint32_t bytes = n * size;
    uint8_t *dst = bulk_ptr(c, S_ES, di, bytes, true);
    if (!dst)
        return false;
    const uint8_t *src = NULL;
    if (kind == STR_MOVS) {
        src = bulk_ptr(c, i->seg, si, bytes, false);
        if (!src)
            return false;
        idx_add(c, R_ESI, a32, (int32_t)bytes);
    }
    x86_bulk_move(dst, src, bytes, size, (uint32_t)c->regs[R_EAX]);
    idx_add(c, R_EDI, a32, (int32_t)bytes);
    *count -= n;
    return true;
}

static void string_op(X86Cpu *c, const X86Insn *i, unsigned kind, unsigned size)
{
    bool a32 = i->pfx & X86_PFX_AD32;
    if (!(i->pfx & (X86_PFX_REP | X86_PFX_REPNE))) {
        string_step(c, i, kind, size, a32);
        return;
    }
    uint32_t count = idx_get(c, R_ECX, a32);
    if (count == 0)
        return;
    bool cond = kind == STR_CMPS || kind == STR_SCAS;
    bool repne = i->pfx & X86_PFX_REPNE;
    /* With TF each iteration ends in its own single-step trap, EIP still at the
     * instruction while the count is not exhausted (SDM vol. 3, 17.3.1.4). */
    bool step = c->eflags & X86_FL_TF;
    bool bulk = (kind == STR_MOVS || kind == STR_STOS) && !(c->eflags & X86_FL_DF) && !step;
    for (;;) {
        if (bulk && bulk_run(c, i, kind, size, a32, &count)) {
            if (a32)
                c->regs[R_ECX] = count;
            else
                *x86_reg16(c, R_ECX) = (uint16_t)count;
        } else {
            bool zf = string_step(c, i, kind, size, a32);
            count--;
            if (a32)
                c->regs[R_ECX] = count;
            else
                *x86_reg16(c, R_ECX) = (uint16_t)count;
            if (cond && zf == repne)
                return;
        }
        if (count == 0)
            return;
        if (__builtin_expect(step || events_pending(c) || c->exit_block, 0)) {
            /* Restart the instruction after the event or trap (EIP back at its start). */
            c->eip = c->prev_eip;
            c->exit_block = 1;
            return;
        }
    }
}

#define STRING_HANDLER(name, kind)                                                    \
    static void name##_b(X86Cpu *c, const X86Insn *i) { string_op(c, i, kind, 1); } \
    static void name##_w(X86Cpu *c, const X86Insn *i) { string_op(c, i, kind, 2); } \
    static void name##_d(X86Cpu *c, const X86Insn *i) { string_op(c, i, kind, 4); }

STRING_HANDLER(movs, STR_MOVS)
STRING_HANDLER(cmps, STR_CMPS)
STRING_HANDLER(stos, STR_STOS)
STRING_HANDLER(lods, STR_LODS)
STRING_HANDLER(scas, STR_SCAS)
STRING_HANDLER(ins, STR_INS)
STRING_HANDLER(outs, STR_OUTS)

X86Handler x86_bind_string(X86Insn *i)
{
    static const X86Handler table[7][3] = {
        { movs_b, movs_w, movs_d }, { cmps_b, cmps_w, cmps_d }, { stos_b, stos_w, stos_d },
        { lods_b, lods_w, lods_d }, { scas_b, scas_w, scas_d }, { ins_b, ins_w, ins_d },
        { outs_b, outs_w, outs_d },
    };
    int kind;
    switch (i->opcode) {
    case 0xa4: case 0xa5: kind = STR_MOVS; break;
    case 0xa6: case 0xa7: kind = STR_CMPS; break;
    case 0xaa: case 0xab: kind = STR_STOS; break;
    case 0xac: case 0xad: kind = STR_LODS; break;
    case 0xae: case 0xaf: kind = STR_SCAS; break;
    case 0x6c: case 0x6d: kind = STR_INS; break;
    case 0x6e: case 0x6f: kind = STR_OUTS; break;
    default: return NULL;
    }
    unsigned s = (i->opcode & 1) ? ((i->pfx & X86_PFX_OP32) ? 2 : 1) : 0;
    return table[kind][s];
}
