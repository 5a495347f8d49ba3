/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's memory operands: effective addresses and the inline TLB probe
 * (x86_read/x86_write's fast path, a slow path to the handler otherwise), MOV moffs,
 * CMOVcc from memory. */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>

/* The host registers of i's address base and index at w bytes (4, or 8 for 64-bit
 * addresses): registers the cache holds are addressed in place, the others loaded
 * into RAX (base) and RCX (index). H_NONE for an absent one. */
void jit_emit_ea_regs(Tr *t, const X86Insn *i, unsigned w, int *hb, int *hx)
{
    JitEmit *e = &t->e;
    *hb = *hx = H_NONE;
    if (i->base != R_ZERO) {
        JitMem m = gread(t, w, i->base);
        *hb = m.direct ? m.base : H_RAX;
        if (!m.direct)
            emit_load(e, w, H_RAX, m);
    }
    if (i->index != R_ZERO) {
        JitMem m = gread(t, w, i->index);
        *hx = m.direct ? m.base : H_RCX;
        if (!m.direct)
            emit_load(e, w, H_RCX, m);
    }
}

/* EAX = effective address of i's memory operand (SDM vol. 2, 2.1.5), 16-bit
 * wrapped for 16-bit addressing. Clobbers ECX. */
void jit_emit_ea(Tr *t, const X86Insn *i)
{
    JitEmit *e = &t->e;
    t->hflags = false; /* (the address arithmetic may change them) */
    bool b = i->base != R_ZERO, x = i->index != R_ZERO;
    int32_t disp = (int32_t)i->disp;
    int hb, hx;
    jit_emit_ea_regs(t, i, 4, &hb, &hx);
    if (b && !x && !disp) {
        if (hb != H_RAX)
            emit_mov_rr(e, 4, H_RAX, hb);
    } else if (b || x) {
        emit_lea(e, 4, H_RAX, (JitMem){ hb, hx, x ? i->scale : 0, disp });
    }
    else
        emit_mov_ri32(e, H_RAX, (uint32_t)disp);
    if (!(i->pfx & X86_PFX_AD32))
        emit_movzx(e, 2, H_RAX, H_RAX);
}

/* The inline probe (what x86_read / x86_write / x86_rmw_begin do on their fast
 * paths): the segment allows the access and is flat, and the TLB entry of the current
 * privilege maps the whole access. Leaves EAX = linear address, RSI = host addend, so
 * the operand is [RSI + RAX]; anything else goes to stub s. Clobbers ECX, EDX. */
JitMem jit_emit_probe(Tr *t, Stub *s, const X86Insn *i, unsigned size, unsigned need, bool write)
{
    jit_emit_ea(t, i);
    return jit_emit_probe_at(t, s, i->seg, size, need, write);
}

/* The same with EAX = the offset in segment segno. */
JitMem jit_emit_probe_at(Tr *t, Stub *s, unsigned segno, unsigned size, unsigned need, bool write)
{
    JitEmit *e = &t->e;
    t->hflags = false;
    /* The segment allows the access (all bits of need) and every offset (flat: any
     * base, no limit check). */
    size_t seg = offsetof(X86Cpu, seg) + sizeof(X86Seg) * segno;
    /* ok and flat (0 or 1) are adjacent bytes: one 16-bit load tests both. */
    _Static_assert(offsetof(X86Seg, flat) == offsetof(X86Seg, ok) + 1, "X86Seg.ok, flat adjacent");
    /* (Not when the block's entry checked the segment for reads and writes and no
     * handler, which might load it, ran since: jit_translate.) */
    bool hoisted = (t->seg_hoist & (1u << segno)) && !t->called;
    if (!hoisted) {
        emit_load(e, 2, H_RCX, jm(H_RBX, (int32_t)(seg + offsetof(X86Seg, ok))));
        emit_alu_ri(e, 4, ALU_AND, H_RCX, 0x100 | need);
        emit_alu_ri(e, 4, ALU_CMP, H_RCX, 0x100 | need);
        jit_stub_jcc(t, s, HC_NE);
    }
    /* (A base the entry found 0 is not added: linear = offset.) */
    if (!hoisted || !(t->seg_zero & (1u << segno)))
        emit_alu_rm(e, 4, ALU_ADD, H_RAX, jm(H_RBX, (int32_t)(seg + offsetof(X86Seg, base))));
    jit_emit_tlb_offset(t);
    return jit_emit_probe_entry(t, s, 4, size, write);
}

/* EDX = the offset in its table of the TLB entry of the linear address in EAX (or
 * RAX): x86_tlb_index(lin) * sizeof(X86Tlb), the index ((lin >> 12) ^ (lin >> 20)) &
 * 255 by DL = bits 12-19 and DH = bits 20-27. (Without the XOR, two instructions
 * fewer, bench/cpu's workload took 5.1 s of CPU instead of 2.2: its pages 1 MiB
 * apart evict each other.) */
void jit_emit_tlb_offset(Tr *t)
{
    JitEmit *e = &t->e;
    _Static_assert(TLB_SIZE == 256 && sizeof(X86Tlb) == 64, "the probe's index arithmetic");
    emit_mov_rr(e, 4, H_RDX, H_RAX);
    emit_shift_ri(e, 4, 5, H_RDX, 12);
    emit_u8(e, 0x30); /* XOR DL, DH */
    emit_u8(e, 0xf2);
    emit_movzx(e, 1, H_RDX, H_RDX);
    emit_shift_ri(e, 4, 4, H_RDX, 6); /* x sizeof(X86Tlb) */
}

/* The probe's end, with EDX = the TLB index and RAX = the linear address (w bytes,
 * 4: zero-extended): the entry's whole tag is the address's page (a 32-bit address
 * never matches the entry of a 64-bit one whose low 32 bits agree) and the access
 * stays in the page; returns [RSI + RAX]. Clobbers RCX, RDX. */
JitMem jit_emit_probe_entry(Tr *t, Stub *s, unsigned w, unsigned size, bool write)
{
    JitEmit *e = &t->e;
    _Static_assert(sizeof(((X86Tlb *)0)->tag_r) == 8, "X86Tlb tags are 64-bit");
    /* RDX = the entry's offset in its table; its address from c->tlb, or from RBX
     * when the block's entry checked which table c->tlb is. */
    int tb = H_RDX, tx = H_NONE;
    int32_t toff = 0;
    if (t->tlb_fixed && !t->called) {
        tb = H_RBX;
        tx = H_RDX;
        toff = t->tlb_fixed;
    } else {
        emit_alu_rm(e, 8, ALU_ADD, H_RDX, CPU(tlb));
    }
    /* The access also stays in its page when its last byte's page is the entry's
     * tag: the page after the first byte's has another index (x86_tlb_fill gives no
     * fast tag to a page that shares its predecessor's; in IA-32e mode, where a
     * 64-bit address wraps, none to page 0), and a 64-bit LEA of a zero-extended
     * 32-bit address does not wrap. One compare instead of two. */
    if (size > 1) {
        emit_lea(e, 8, H_RCX, jm(H_RAX, (int32_t)size - 1));
        emit_alu_ri(e, 8, ALU_AND, H_RCX, 0xfffff000u); /* (sign-extended: ~0xfff, bit 32 kept) */
    } else {
        emit_mov_rr(e, w, H_RCX, H_RAX);
        emit_alu_ri(e, w, ALU_AND, H_RCX, 0xfffff000u); /* (at 8 bytes sign-extended: ~0xfff) */
    }
    int32_t tag = toff + (int32_t)(write ? offsetof(X86Tlb, tag_w) : offsetof(X86Tlb, tag_r));
    int32_t add = toff + (int32_t)(write ? offsetof(X86Tlb, add_w) : offsetof(X86Tlb, add_r));
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, jmx(tb, tx, tag));
    /* A miss looks in way 1 first (jit_emit_way_stub). */
    WayStub *way = NULL;
    if (t->nways < MAX_STUBS) {
        way = &t->ways[t->nways++];
        *way = (WayStub){ emit_jcc_fwd(e, HC_NE), 0, (uint16_t)(s - t->stubs), (int8_t)tb, (int8_t)tx, tag, add };
    } else
        jit_stub_jcc(t, s, HC_NE);
    emit_load(e, 8, H_RSI, jmx(tb, tx, add));
    if (way)
        way->back = emit_pos(e);
    return jmx(H_RSI, H_RAX, 0);
}

/* A probe's miss in way 0, looked up in way 1 of the set (cpu-internal.h's TLB_WAYS):
 * the same tests on that entry, back with its addend in RSI, or on to the slow path.
 * Costs a few host instructions where the slow path, which redoes the instruction in
 * its handler, costs a hundred or more. */
void jit_emit_way_stub(Tr *t, const WayStub *w)
{
    JitEmit *e = &t->e;
    Stub *s = &t->stubs[w->stub];
    int32_t way1 = (int32_t)(TLB_SIZE * sizeof(X86Tlb));
    emit_patch(e, w->field, emit_pos(e));
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, jmx(w->base, w->index, w->tag + way1));
    jit_stub_jcc(t, s, HC_NE);
    emit_load(e, 8, H_RSI, jmx(w->base, w->index, w->add + way1));
    emit_jmp_to(e, w->back);
}


/* MOV AL/eAX, moffs and MOV moffs, AL/eAX (A0-A3): the address is the displacement. */
bool jit_tr_mov_moffs(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = op_size(i, !(i->opcode & 1));
    bool store = i->opcode & 2;
    Stub *s = jit_stub_new(t, k);
    emit_mov_ri32(e, H_RAX, i->disp);
    JitMem m = jit_emit_probe_at(t, s, i->seg, size, store ? SEG_OK_WRITE : SEG_OK_READ, store);
    if (store) {
        emit_load(e, size, H_RCX, greg(t, size, R_EAX));
        emit_store(e, size, m, H_RCX);
    } else {
        emit_load(e, size, H_RCX, m);
        emit_store(e, size, greg(t, size, R_EAX), H_RCX);
    }
    s->resume = emit_pos(e);
    return true;
}

/* CMOVcc r, m: the source is read whatever the condition (a fault is taken either
 * way, SDM vol. 2 CMOVcc), into R13, which the condition's call keeps. */
bool jit_tr_cmov_mem(Tr *t, unsigned k)
{
    JitEmit *e = &t->e;
    const X86Insn *i = &t->insns[k];
    unsigned size = x86_osize(i);
    Stub *s = jit_stub_new(t, k);
    JitMem m = jit_emit_probe(t, s, i, size, SEG_OK_READ, false);
    emit_load(e, size, H_R13, m);
    unsigned hc = jit_emit_cond(t, i->opcode & 0xf);
    size_t skip = emit_jcc_fwd(e, hc ^ 1);
    emit_store(e, size, greg(t, size, i->reg), H_R13);
    emit_patch(e, skip, emit_pos(e));
    s->resume = emit_pos(e);
    return true;
}
