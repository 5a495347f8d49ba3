/* SPDX-License-Identifier: GPL-2.0-or-later */
/* MMX, SSE and SSE2: the 0F, 66 0F, F2 0F and F3 0F opcode maps (SDM vol. 2,
 * appendix A.3). Integer vector operations are written out here, element by element,
 * for 8-byte MMX and 16-byte XMM operands alike; floating-point ones run on the host's
 * SSE unit under the guest's MXCSR (fpu-host.c). MMX registers are the x87 registers'
 * significands (SDM vol. 1, 9.5). */
#include "cpu/x86/fpu-host.h"
#include "cpu/x86/simd.h"

/* ---- mode checks (SDM vol. 3, table 13-1 and 2-2) ---- */

static void check_mmx(X86Cpu *c)
{
    if (c->cr0 & X86_CR0_EM)
        x86_ud(c);
    if (c->cr0 & X86_CR0_TS)
        x86_fault(c, X86_EXC_NM);
    x87_check_pending(c);
}

static void enter_mmx(X86Cpu *c)
{
    /* SDM vol. 1, 9.5.1: every MMX instruction but EMMS sets TOP to 0 and all tags valid. */
    c->fpu.top = 0;
    c->fpu.empty = 0;
}

void simd_check_sse(X86Cpu *c)
{
    if ((c->cr0 & X86_CR0_EM) || !(c->cr4 & X86_CR4_OSFXSR))
        x86_ud(c);
    if (c->cr0 & X86_CR0_TS)
        x86_fault(c, X86_EXC_NM);
}

/* ---- operands ---- */

static inline uint64_t mm_get(X86Cpu *c, unsigned r)
{
    return c->fpu.st[r & 7].mant;
}
static inline void mm_set(X86Cpu *c, unsigned r, uint64_t v)
{
    c->fpu.st[r & 7].mant = v;
    c->fpu.st[r & 7].sexp = 0xffff;
}

/* A 128-bit memory operand: legacy SSE requires 16-byte alignment except for the
 * explicitly unaligned moves (SDM vol. 1, 4.1.1). */
static uint64_t m128_ea(X86Cpu *c, const X86Insn *i, bool aligned, unsigned need)
{
    uint64_t ea = x86_ea(c, i);
    uint64_t lin = x86_lin(c, i->seg, ea, 16, need);
    if (aligned && (lin & 15))
        x86_gp0(c);
    return ea;
}

void simd_read(X86Cpu *c, const X86Insn *i, void *buf, unsigned n, bool aligned)
{
    uint64_t ea = n == 16 ? m128_ea(c, i, aligned, SEG_OK_READ) : x86_ea(c, i);
    x86_read_block(c, i->seg, ea, buf, n);
}

void simd_write(X86Cpu *c, const X86Insn *i, const void *buf, unsigned n, bool aligned)
{
    uint64_t ea = n == 16 ? m128_ea(c, i, aligned, SEG_OK_WRITE) : x86_ea(c, i);
    x86_write_block(c, i->seg, ea, buf, n);
}

/* The r/m operand: an XMM register, or n bytes of memory zero-extended. */
void simd_rm_vec(X86Cpu *c, const X86Insn *i, XmmReg *v, unsigned n, bool aligned)
{
    memset(v, 0, sizeof(*v));
    if (i->pfx & X86_PFX_MEM)
        simd_read(c, i, v, n, aligned);
    else
        *v = c->fpu.xmm[i->rm];
}

/* The r/m operand of an MMX instruction: an MMX register or m64. */
static void rm_mm(X86Cpu *c, const X86Insn *i, XmmReg *v)
{
    memset(v, 0, sizeof(*v));
    if (i->pfx & X86_PFX_MEM)
        simd_read(c, i, v, 8, false);
    else
        v->q[0] = mm_get(c, i->rm);
}

static void reg_vec(X86Cpu *c, unsigned r, XmmReg *v, unsigned n)
{
    if (n == 8) {
        memset(v, 0, sizeof(*v));
        v->q[0] = mm_get(c, r);
    } else {
        *v = c->fpu.xmm[r];
    }
}

static void set_reg_vec(X86Cpu *c, unsigned r, const XmmReg *v, unsigned n)
{
    if (n == 8)
        mm_set(c, r, v->q[0]);
    else
        c->fpu.xmm[r] = *v;
}

/* ---- integer vector operations ---- */

typedef void (*VecOp)(XmmReg *d, const XmmReg *s, unsigned n);


#define ELEMWISE(name, field, type, expr)                                     \
    static void name(XmmReg *d, const XmmReg *s, unsigned n)                  \
    {                                                                         \
        for (unsigned k = 0; k < n / sizeof(d->field[0]); k++) {              \
            type a = (type)d->field[k], b = (type)s->field[k];                \
            d->field[k] = (__typeof__(d->field[0]))(expr);                    \
            (void)a;                                                          \
            (void)b;                                                          \
        }                                                                     \
    }

ELEMWISE(op_paddb, b, uint8_t, a + b)
ELEMWISE(op_paddw, w, uint16_t, a + b)
ELEMWISE(op_paddd, d, uint32_t, a + b)
ELEMWISE(op_paddq, q, uint64_t, a + b)
ELEMWISE(op_psubb, b, uint8_t, a - b)
ELEMWISE(op_psubw, w, uint16_t, a - b)
ELEMWISE(op_psubd, d, uint32_t, a - b)
ELEMWISE(op_psubq, q, uint64_t, a - b)
ELEMWISE(op_paddsb, b, int8_t, sat_s8(a + b))
ELEMWISE(op_paddsw, w, int16_t, sat_s16(a + b))
ELEMWISE(op_paddusb, b, uint8_t, sat_u8(a + b))
ELEMWISE(op_paddusw, w, uint16_t, sat_u16(a + b))
ELEMWISE(op_psubsb, b, int8_t, sat_s8(a - b))
ELEMWISE(op_psubsw, w, int16_t, sat_s16(a - b))
ELEMWISE(op_psubusb, b, uint8_t, sat_u8(a - b))
ELEMWISE(op_psubusw, w, uint16_t, sat_u16(a - b))
ELEMWISE(op_pcmpeqb, b, uint8_t, a == b ? 0xff : 0)
ELEMWISE(op_pcmpeqw, w, uint16_t, a == b ? 0xffff : 0)
ELEMWISE(op_pcmpeqd, d, uint32_t, a == b ? 0xffffffffu : 0)
ELEMWISE(op_pcmpgtb, b, int8_t, a > b ? 0xff : 0)
ELEMWISE(op_pcmpgtw, w, int16_t, a > b ? 0xffff : 0)
ELEMWISE(op_pcmpgtd, d, int32_t, a > b ? 0xffffffffu : 0)
ELEMWISE(op_pmullw, w, int16_t, (int32_t)a * b)
ELEMWISE(op_pmulhw, w, int16_t, ((int32_t)a * b) >> 16)
ELEMWISE(op_pmulhuw, w, uint16_t, ((uint32_t)a * b) >> 16)
ELEMWISE(op_pminub, b, uint8_t, a < b ? a : b)
ELEMWISE(op_pmaxub, b, uint8_t, a > b ? a : b)
ELEMWISE(op_pminsw, w, int16_t, a < b ? a : b)
ELEMWISE(op_pmaxsw, w, int16_t, a > b ? a : b)
ELEMWISE(op_pavgb, b, uint8_t, (a + b + 1) >> 1)
ELEMWISE(op_pavgw, w, uint16_t, (a + b + 1) >> 1)
ELEMWISE(op_pand, q, uint64_t, a & b)
ELEMWISE(op_pandn, q, uint64_t, ~a & b)
ELEMWISE(op_por, q, uint64_t, a | b)
ELEMWISE(op_pxor, q, uint64_t, a ^ b)

static void op_pmuludq(XmmReg *d, const XmmReg *s, unsigned n)
{
    for (unsigned k = 0; k < n / 8; k++)
        d->q[k] = (uint64_t)d->d[2 * k] * s->d[2 * k];
}

static void op_pmaddwd(XmmReg *d, const XmmReg *s, unsigned n)
{
    XmmReg r;
    for (unsigned k = 0; k < n / 4; k++)
        r.d[k] = (uint32_t)((int32_t)(int16_t)d->w[2 * k] * (int16_t)s->w[2 * k] +
                            (int32_t)(int16_t)d->w[2 * k + 1] * (int16_t)s->w[2 * k + 1]);
    memcpy(d, &r, n);
}

static void op_psadbw(XmmReg *d, const XmmReg *s, unsigned n)
{
    for (unsigned h = 0; h < n / 8; h++) {
        unsigned sum = 0;
        for (unsigned k = 0; k < 8; k++) {
            int x = d->b[8 * h + k] - s->b[8 * h + k];
            sum += (unsigned)(x < 0 ? -x : x);
        }
        d->q[h] = sum;
    }
}

/* Packs: the destination's elements narrow into the low half, the source's into the
 * high half. */
static void op_packsswb(XmmReg *d, const XmmReg *s, unsigned n)
{
    XmmReg r;
    unsigned h = n / 2;
    for (unsigned k = 0; k < h; k++) {
        r.b[k] = (uint8_t)sat_s8((int16_t)d->w[k]);
        r.b[h + k] = (uint8_t)sat_s8((int16_t)s->w[k]);
    }
    memcpy(d, &r, n);
}
static void op_packuswb(XmmReg *d, const XmmReg *s, unsigned n)
{
    XmmReg r;
    unsigned h = n / 2;
    for (unsigned k = 0; k < h; k++) {
        r.b[k] = (uint8_t)sat_u8((int16_t)d->w[k]);
        r.b[h + k] = (uint8_t)sat_u8((int16_t)s->w[k]);
    }
    memcpy(d, &r, n);
}
static void op_packssdw(XmmReg *d, const XmmReg *s, unsigned n)
{
    XmmReg r;
    unsigned h = n / 4;
    for (unsigned k = 0; k < h; k++) {
        r.w[k] = (uint16_t)sat_s16((int32_t)d->d[k]);
        r.w[h + k] = (uint16_t)sat_s16((int32_t)s->d[k]);
    }
    memcpy(d, &r, n);
}

/* Interleaves elements of size es from the low (hi = 0) or high half of both. */
static void unpack(XmmReg *d, const XmmReg *s, unsigned n, unsigned es, bool hi)
{
    XmmReg r;
    unsigned cnt = n / es / 2, base = hi ? n / 2 : 0;
    for (unsigned k = 0; k < cnt; k++) {
        memcpy(r.b + 2 * k * es, d->b + base + k * es, es);
        memcpy(r.b + (2 * k + 1) * es, s->b + base + k * es, es);
    }
    memcpy(d, &r, n);
}
static void op_punpcklbw(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 1, false); }
static void op_punpcklwd(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 2, false); }
static void op_punpckldq(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 4, false); }
static void op_punpcklqdq(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 8, false); }
static void op_punpckhbw(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 1, true); }
static void op_punpckhwd(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 2, true); }
static void op_punpckhdq(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 4, true); }
static void op_punpckhqdq(XmmReg *d, const XmmReg *s, unsigned n) { unpack(d, s, n, 8, true); }

/* Shifts by a count: kind 0 logical right, 1 arithmetic right, 2 left; es element size. */
static void shift(XmmReg *d, uint64_t count, unsigned n, unsigned es, unsigned kind)
{
    unsigned bits = es * 8;
    for (unsigned k = 0; k < n / es; k++) {
        uint64_t v = 0;
        memcpy(&v, d->b + k * es, es);
        if (kind == 1) {
            int64_t sv = (int64_t)(v << (64 - bits)) >> (64 - bits);
            v = (uint64_t)(sv >> (count >= bits ? bits - 1 : count));
        } else if (count >= bits) {
            v = 0;
        } else {
            v = kind == 0 ? v >> count : v << count;
        }
        memcpy(d->b + k * es, &v, es);
    }
}

#define SHIFT_OP(name, es, kind)                                      \
    static void name(XmmReg *d, const XmmReg *s, unsigned n)          \
    {                                                                 \
        shift(d, s->q[0], n, es, kind);                               \
    }
SHIFT_OP(op_psrlw, 2, 0)
SHIFT_OP(op_psrld, 4, 0)
SHIFT_OP(op_psrlq, 8, 0)
SHIFT_OP(op_psraw, 2, 1)
SHIFT_OP(op_psrad, 4, 1)
SHIFT_OP(op_psllw, 2, 2)
SHIFT_OP(op_pslld, 4, 2)
SHIFT_OP(op_psllq, 8, 2)

/* Opcodes 0F 60-6D, 74-76, D1-FE with an MMX or XMM operand pair. */
static VecOp int_op(uint16_t op)
{
    switch (op & 0xff) {
    case 0x60: return op_punpcklbw;
    case 0x61: return op_punpcklwd;
    case 0x62: return op_punpckldq;
    case 0x63: return op_packsswb;
    case 0x64: return op_pcmpgtb;
    case 0x65: return op_pcmpgtw;
    case 0x66: return op_pcmpgtd;
    case 0x67: return op_packuswb;
    case 0x68: return op_punpckhbw;
    case 0x69: return op_punpckhwd;
    case 0x6a: return op_punpckhdq;
    case 0x6b: return op_packssdw;
    case 0x6c: return op_punpcklqdq;
    case 0x6d: return op_punpckhqdq;
    case 0x74: return op_pcmpeqb;
    case 0x75: return op_pcmpeqw;
    case 0x76: return op_pcmpeqd;
    case 0xd1: return op_psrlw;
    case 0xd2: return op_psrld;
    case 0xd3: return op_psrlq;
    case 0xd4: return op_paddq;
    case 0xd5: return op_pmullw;
    case 0xd8: return op_psubusb;
    case 0xd9: return op_psubusw;
    case 0xda: return op_pminub;
    case 0xdb: return op_pand;
    case 0xdc: return op_paddusb;
    case 0xdd: return op_paddusw;
    case 0xde: return op_pmaxub;
    case 0xdf: return op_pandn;
    case 0xe0: return op_pavgb;
    case 0xe1: return op_psraw;
    case 0xe2: return op_psrad;
    case 0xe3: return op_pavgw;
    case 0xe4: return op_pmulhuw;
    case 0xe5: return op_pmulhw;
    case 0xe8: return op_psubsb;
    case 0xe9: return op_psubsw;
    case 0xea: return op_pminsw;
    case 0xeb: return op_por;
    case 0xec: return op_paddsb;
    case 0xed: return op_paddsw;
    case 0xee: return op_pmaxsw;
    case 0xef: return op_pxor;
    case 0xf1: return op_psllw;
    case 0xf2: return op_pslld;
    case 0xf3: return op_psllq;
    case 0xf4: return op_pmuludq;
    case 0xf5: return op_pmaddwd;
    case 0xf6: return op_psadbw;
    case 0xf8: return op_psubb;
    case 0xf9: return op_psubw;
    case 0xfa: return op_psubd;
    case 0xfb: return op_psubq;
    case 0xfc: return op_paddb;
    case 0xfd: return op_paddw;
    case 0xfe: return op_paddd;
    }
    return NULL;
}

/* Begins an MMX (no prefix) or SSE2 (66) integer instruction; returns the width. */
static unsigned begin_int(X86Cpu *c, const X86Insn *i)
{
    if (i->pfx & X86_PFX_OPSIZE) {
        simd_check_sse(c);
        return 16;
    }
    check_mmx(c);
    enter_mmx(c);
    return 8;
}

static void pint(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg d, s;
    if (n == 8)
        rm_mm(c, i, &s);
    else
        simd_rm_vec(c, i, &s, n, true);
    reg_vec(c, i->reg, &d, n);
    int_op(i->opcode)(&d, &s, n);
    set_reg_vec(c, i->reg, &d, n);
}

/* 0F 71-73: shifts of the r/m register by imm8; 66 0F 73 /3 /7: PSRLDQ, PSLLDQ. */
static void pshift_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg d;
    reg_vec(c, i->rm, &d, n);
    unsigned es = i->opcode == 0x0f71 ? 2 : i->opcode == 0x0f72 ? 4 : 8;
    unsigned cnt = i->imm & 0xff;
    switch (i->reg) {
    case 2: shift(&d, cnt, n, es, 0); break;
    case 4: shift(&d, cnt, n, es, 1); break;
    case 6: shift(&d, cnt, n, es, 2); break;
    case 3: case 7: {
        XmmReg r;
        memset(&r, 0, sizeof(r));
        if (cnt < 16) {
            if (i->reg == 3)
                memcpy(r.b, d.b + cnt, 16 - cnt);
            else
                memcpy(r.b + cnt, d.b, 16 - cnt);
        }
        d = r;
        break;
    }
    }
    set_reg_vec(c, i->rm, &d, n);
}

static bool pshift_imm_valid(const X86Insn *i)
{
    if (i->pfx & X86_PFX_MEM)
        return false;
    if (i->pfx & (X86_PFX_REP | X86_PFX_REPNE))
        return false;
    switch (i->reg) {
    case 2: case 6: return true;
    case 4: return i->opcode != 0x0f73;
    case 3: case 7: return i->opcode == 0x0f73 && (i->pfx & X86_PFX_OPSIZE);
    }
    return false;
}

static void emms(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    check_mmx(c);
    c->fpu.empty = 0xff;
}

/* MOVD/MOVQ between vector and general registers or memory, and the vector moves
 * of 0F 6F/7F, F3 0F 7E, 66 0F D6, F2/F3 0F D6. */
static void movd_to_vec(X86Cpu *c, const X86Insn *i) /* 0F 6E */
{
    unsigned n = begin_int(c, i);
    XmmReg v;
    memset(&v, 0, sizeof(v));
    if (i->rex & 8) /* MOVQ from r/m64 (64-bit mode) */
        v.q[0] = x86_get_rm64(c, i);
    else
        v.d[0] = x86_get_rm(c, i, 4);
    set_reg_vec(c, i->reg, &v, n);
}

static void movd_from_vec(X86Cpu *c, const X86Insn *i) /* 0F 7E */
{
    if (simd_prefix(i) == P_F3) { /* MOVQ xmm, xmm/m64 */
        simd_check_sse(c);
        XmmReg v;
        simd_rm_vec(c, i, &v, 8, false);
        if (!(i->pfx & X86_PFX_MEM))
            v.q[1] = 0;
        c->fpu.xmm[i->reg] = v;
        return;
    }
    unsigned n = begin_int(c, i);
    XmmReg v;
    reg_vec(c, i->reg, &v, n);
    if (i->rex & 8) /* MOVQ to r/m64 (64-bit mode) */
        x86_set_rm64(c, i, v.q[0]);
    else
        x86_set_rm(c, i, 4, v.d[0]);
}

static void movq_load(X86Cpu *c, const X86Insn *i) /* 0F 6F */
{
    unsigned p = simd_prefix(i);
    if (p == P_NONE) {
        check_mmx(c);
        enter_mmx(c);
        XmmReg v;
        rm_mm(c, i, &v);
        mm_set(c, i->reg, v.q[0]);
        return;
    }
    simd_check_sse(c);
    XmmReg v;
    simd_rm_vec(c, i, &v, 16, p == P_66);
    c->fpu.xmm[i->reg] = v;
}

static void movq_store(X86Cpu *c, const X86Insn *i) /* 0F 7F, 0F E7 */
{
    unsigned p = simd_prefix(i);
    if (p == P_NONE) {
        check_mmx(c);
        enter_mmx(c);
        uint64_t v = mm_get(c, i->reg);
        if (i->pfx & X86_PFX_MEM)
            simd_write(c, i, &v, 8, false);
        else
            mm_set(c, i->rm, v);
        return;
    }
    simd_check_sse(c);
    XmmReg v = c->fpu.xmm[i->reg];
    if (i->pfx & X86_PFX_MEM)
        simd_write(c, i, &v, 16, p == P_66 || i->opcode == 0x0fe7);
    else
        c->fpu.xmm[i->rm] = v;
}

static void movq_d6(X86Cpu *c, const X86Insn *i)
{
    unsigned p = simd_prefix(i);
    simd_check_sse(c);
    if (p == P_66) { /* MOVQ xmm/m64, xmm */
        XmmReg v = c->fpu.xmm[i->reg];
        if (i->pfx & X86_PFX_MEM) {
            simd_write(c, i, &v, 8, false);
        } else {
            v.q[1] = 0;
            c->fpu.xmm[i->rm] = v;
        }
        return;
    }
    x87_check_pending(c);
    enter_mmx(c);
    if (p == P_F2) { /* MOVDQ2Q mm, xmm */
        mm_set(c, i->reg, c->fpu.xmm[i->rm].q[0]);
    } else { /* MOVQ2DQ xmm, mm */
        XmmReg v = { .q = { mm_get(c, i->rm), 0 } };
        c->fpu.xmm[i->reg] = v;
    }
}

/* PSHUFW / PSHUFD / PSHUFLW / PSHUFHW. */
static void pshuf(X86Cpu *c, const X86Insn *i)
{
    unsigned p = simd_prefix(i), o = i->imm & 0xff;
    XmmReg s, r;
    if (p == P_NONE) {
        check_mmx(c);
        enter_mmx(c);
        rm_mm(c, i, &s);
        r = s;
        for (unsigned k = 0; k < 4; k++)
            r.w[k] = s.w[(o >> (2 * k)) & 3];
        mm_set(c, i->reg, r.q[0]);
        return;
    }
    simd_check_sse(c);
    simd_rm_vec(c, i, &s, 16, true);
    r = s;
    if (p == P_66) {
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = s.d[(o >> (2 * k)) & 3];
    } else {
        unsigned base = p == P_F2 ? 0 : 4;
        for (unsigned k = 0; k < 4; k++)
            r.w[base + k] = s.w[base + ((o >> (2 * k)) & 3)];
    }
    c->fpu.xmm[i->reg] = r;
}

static void pinsrw(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    uint16_t v = (uint16_t)x86_get_rm(c, i, 2);
    XmmReg d;
    reg_vec(c, i->reg, &d, n);
    d.w[(i->imm & 0xff) % (n / 2)] = v;
    set_reg_vec(c, i->reg, &d, n);
}

static void pextrw(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg s;
    reg_vec(c, i->rm, &s, n);
    c->regs[i->reg] = s.w[(i->imm & 0xff) % (n / 2)];
}

static void pmovmskb(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg s;
    reg_vec(c, i->rm, &s, n);
    uint32_t m = 0;
    for (unsigned k = 0; k < n; k++)
        m |= (uint32_t)(s.b[k] >> 7) << k;
    c->regs[i->reg] = m;
}

/* MASKMOVQ / MASKMOVDQU: bytes whose mask byte has bit 7 set go to DS:(E)DI. */
static void maskmov(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg d, m;
    reg_vec(c, i->reg, &d, n);
    reg_vec(c, i->rm, &m, n);
    uint32_t off = (i->pfx & X86_PFX_AD32) ? c->regs[R_EDI] : (c->regs[R_EDI] & 0xffff);
    unsigned seg = (i->pfx & X86_PFX_SEG) ? i->seg : S_DS;
    for (unsigned k = 0; k < n; k++)
        if (m.b[k] & 0x80)
            x86_write(c, seg, off + k, 1, d.b[k]);
}

/* ---- SSE floating point ---- */

/* MXCSR flags, then #XM (CR4.OSXMMEXCPT) or #UD for an unmasked exception, which
 * leaves the destination unchanged (SDM vol. 1, 11.5.1). */
void simd_sse_flags(X86Cpu *c, unsigned flags)
{
    c->fpu.mxcsr |= flags & 0x3f;
    if (flags & ~(c->fpu.mxcsr >> 7) & 0x3f) {
        if (c->cr4 & X86_CR4_OSXMMEXCPT)
            x86_fault(c, X86_EXC_XM);
        x86_ud(c);
    }
}

/* Memory operand size of the scalar forms. */
static unsigned fp_src_size(unsigned p)
{
    return p == P_F3 ? 4 : p == P_F2 ? 8 : 16;
}

static void sse_arith(X86Cpu *c, const X86Insn *i)
{
    unsigned p = simd_prefix(i), op = i->opcode & 0xff;
    SseHostOp h;
    unsigned src = fp_src_size(p);
    switch (op) {
    case 0x58: h = HS_ADDPS; break;
    case 0x59: h = HS_MULPS; break;
    case 0x5c: h = HS_SUBPS; break;
    case 0x5d: h = HS_MINPS; break;
    case 0x5e: h = HS_DIVPS; break;
    case 0x5f: h = HS_MAXPS; break;
    case 0x51: h = HS_SQRTPS; break;
    case 0x52: h = HS_RSQRTPS; break;
    case 0x53: h = HS_RCPPS; break;
    case 0x5a: {
        static const SseHostOp cv[4] = { HS_CVTPS2PD, HS_CVTSS2SD, HS_CVTPD2PS, HS_CVTSD2SS };
        static const uint8_t sz[4] = { 8, 4, 16, 8 };
        h = cv[p];
        src = sz[p];
        break;
    }
    case 0x5b: {
        static const SseHostOp cv[3] = { HS_CVTDQ2PS, HS_CVTTPS2DQ, HS_CVTPS2DQ };
        h = cv[p];
        src = 16; /* packed under F3 too (CVTTPS2DQ) */
        break;
    }
    case 0xe6: {
        static const SseHostOp cv[4] = { 0, HS_CVTDQ2PD, HS_CVTTPD2DQ, HS_CVTPD2DQ };
        h = cv[p];
        src = p == P_F3 ? 8 : 16;
        break;
    }
    case 0xc2:
        h = HS_CMPPS + p + 4 * (i->imm & 7);
        break;
    default:
        x86_ud(c);
    }
    if (op == 0x52 || op == 0x53) {
        /* RSQRT/RCP: PS and SS only. */
        h = (SseHostOp)(h + (p == P_F3 ? 1 : 0));
    } else if (op >= 0x51 && op <= 0x5f && op != 0x5a && op != 0x5b) {
        h = (SseHostOp)(h + p);
    }
    simd_check_sse(c);
    SseHost s;
    s.a = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s.b, src, true);
    s.mxcsr = c->fpu.mxcsr;
    unsigned f = sse_host_run(h, &s);
    simd_sse_flags(c, f);
    c->fpu.xmm[i->reg] = s.r;
}

static bool sse_arith_valid(const X86Insn *i)
{
    unsigned p = simd_prefix(i), op = i->opcode & 0xff;
    if (op == 0x52 || op == 0x53)
        return p == P_NONE || p == P_F3;
    if (op == 0x5b)
        return p != P_F2;
    if (op == 0xe6)
        return p != P_NONE;
    return true;
}

/* ANDPS/ANDNPS/ORPS/XORPS and the PD forms: bitwise, no exceptions. */
static void sse_logic(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg s, d = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s, 16, true);
    for (unsigned k = 0; k < 2; k++) {
        switch (i->opcode & 0xff) {
        case 0x54: d.q[k] &= s.q[k]; break;
        case 0x55: d.q[k] = ~d.q[k] & s.q[k]; break;
        case 0x56: d.q[k] |= s.q[k]; break;
        case 0x57: d.q[k] ^= s.q[k]; break;
        }
    }
    c->fpu.xmm[i->reg] = d;
}

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF, OF SF AF cleared. */
static void sse_comis(X86Cpu *c, const X86Insn *i)
{
    bool pd = i->pfx & X86_PFX_OPSIZE;
    simd_check_sse(c);
    SseHost s;
    s.a = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s.b, pd ? 8 : 4, false);
    s.mxcsr = c->fpu.mxcsr;
    s.i = 0;
    SseConvOp op = (i->opcode & 0xff) == 0x2e ? (pd ? HC_UCOMISD : HC_UCOMISS) : (pd ? HC_COMISD : HC_COMISS);
    unsigned f = sse_host_conv(op, &s);
    simd_sse_flags(c, f);
    x86_set_arith(c, (uint32_t)s.i, X86_FL_ARITH);
}

/* 0F 2A, 2C, 2D: conversions with general or MMX registers. */
static void sse_cvt(X86Cpu *c, const X86Insn *i)
{
    unsigned p = simd_prefix(i), op = i->opcode & 0xff;
    simd_check_sse(c);
    SseHost s;
    memset(&s, 0, sizeof(s));
    s.a = c->fpu.xmm[i->reg];
    s.mxcsr = c->fpu.mxcsr;
    unsigned f;
    bool w = i->rex & 8; /* REX.W: a 64-bit integer (64-bit mode) */
    if (op == 0x2a) {
        if (p == P_F3 || p == P_F2) {
            s.i = w ? (int64_t)x86_get_rm64(c, i) : (int32_t)x86_get_rm(c, i, 4);
            f = sse_host_conv(p == P_F3 ? (w ? HC_CVTSI2SS64 : HC_CVTSI2SS) : (w ? HC_CVTSI2SD64 : HC_CVTSI2SD), &s);
            simd_sse_flags(c, f);
            c->fpu.xmm[i->reg] = s.r;
            return;
        }
        /* CVTPI2PS / CVTPI2PD from mm/m64: an MMX register operand is an MMX access. */
        if (!(i->pfx & X86_PFX_MEM)) {
            x87_check_pending(c);
            enter_mmx(c);
        }
        rm_mm(c, i, &s.b);
        if (p == P_NONE) {
            f = sse_host_conv(HC_CVTPI2PS, &s);
        } else {
            f = sse_host_run(HS_CVTDQ2PD, &s);
        }
        simd_sse_flags(c, f);
        c->fpu.xmm[i->reg] = s.r;
        return;
    }
    bool trunc = op == 0x2c;
    if (p == P_F3 || p == P_F2) {
        simd_rm_vec(c, i, &s.b, p == P_F3 ? 4 : 8, false);
        SseConvOp h = p == P_F3 ? (trunc ? HC_CVTTSS2SI : HC_CVTSS2SI) : (trunc ? HC_CVTTSD2SI : HC_CVTSD2SI);
        if (w)
            h = (SseConvOp)(h - HC_CVTSS2SI + HC_CVTSS2SI64);
        f = sse_host_conv(h, &s);
        simd_sse_flags(c, f);
        c->regs[i->reg] = w ? (uint64_t)s.i : (uint32_t)s.i;
        return;
    }
    /* CVT(T)PS2PI from xmm/m64, CVT(T)PD2PI from xmm/m128, to an MMX register. */
    simd_rm_vec(c, i, &s.b, p == P_66 ? 16 : 8, true);
    x87_check_pending(c);
    SseConvOp h = p == P_66 ? (trunc ? HC_CVTTPD2PI : HC_CVTPD2PI) : (trunc ? HC_CVTTPS2PI : HC_CVTPS2PI);
    f = sse_host_conv(h, &s);
    simd_sse_flags(c, f);
    enter_mmx(c);
    mm_set(c, i->reg, s.r.q[0]);
}

/* ---- SSE moves and shuffles ---- */

static void sse_mov(X86Cpu *c, const X86Insn *i)
{
    unsigned p = simd_prefix(i), op = i->opcode & 0xff;
    simd_check_sse(c);
    XmmReg *d = &c->fpu.xmm[i->reg];
    bool mem = i->pfx & X86_PFX_MEM;
    XmmReg v;
    switch (op) {
    case 0x10: /* MOVUPS/MOVUPD/MOVSS/MOVSD load */
        if (p == P_NONE || p == P_66) {
            simd_rm_vec(c, i, &v, 16, false);
            *d = v;
        } else {
            unsigned n = p == P_F3 ? 4 : 8;
            if (mem) {
                simd_rm_vec(c, i, &v, n, false);
                *d = v;
            } else {
                memcpy(d->b, c->fpu.xmm[i->rm].b, n);
            }
        }
        return;
    case 0x11:
        if (p == P_NONE || p == P_66) {
            v = *d;
            if (mem)
                simd_write(c, i, &v, 16, false);
            else
                c->fpu.xmm[i->rm] = v;
        } else {
            unsigned n = p == P_F3 ? 4 : 8;
            if (mem)
                simd_write(c, i, d->b, n, false);
            else
                memcpy(c->fpu.xmm[i->rm].b, d->b, n);
        }
        return;
    case 0x12: /* MOVLPS/MOVLPD load, MOVHLPS */
        if (mem) {
            simd_read(c, i, &d->q[0], 8, false);
        } else {
            if (p != P_NONE)
                x86_ud(c);
            d->q[0] = c->fpu.xmm[i->rm].q[1];
        }
        return;
    case 0x13: /* MOVLPS/MOVLPD store */
        if (!mem)
            x86_ud(c);
        simd_write(c, i, &d->q[0], 8, false);
        return;
    case 0x16: /* MOVHPS/MOVHPD load, MOVLHPS */
        if (mem) {
            simd_read(c, i, &d->q[1], 8, false);
        } else {
            if (p != P_NONE)
                x86_ud(c);
            d->q[1] = c->fpu.xmm[i->rm].q[0];
        }
        return;
    case 0x17:
        if (!mem)
            x86_ud(c);
        simd_write(c, i, &d->q[1], 8, false);
        return;
    case 0x28: /* MOVAPS/MOVAPD */
        simd_rm_vec(c, i, &v, 16, true);
        *d = v;
        return;
    case 0x29:
    case 0x2b: /* MOVNTPS/MOVNTPD */
        v = *d;
        if (mem)
            simd_write(c, i, &v, 16, true);
        else if (op == 0x29)
            c->fpu.xmm[i->rm] = v;
        else
            x86_ud(c);
        return;
    case 0x14: case 0x15: { /* UNPCKLPS/UNPCKHPS, PD */
        simd_rm_vec(c, i, &v, 16, true);
        unpack(d, &v, 16, p == P_66 ? 8 : 4, op == 0x15);
        return;
    }
    case 0xc6: { /* SHUFPS / SHUFPD */
        simd_rm_vec(c, i, &v, 16, true);
        unsigned o = i->imm & 0xff;
        XmmReg r;
        if (p == P_66) {
            r.q[0] = d->q[o & 1];
            r.q[1] = v.q[(o >> 1) & 1];
        } else {
            r.d[0] = d->d[o & 3];
            r.d[1] = d->d[(o >> 2) & 3];
            r.d[2] = v.d[(o >> 4) & 3];
            r.d[3] = v.d[(o >> 6) & 3];
        }
        *d = r;
        return;
    }
    case 0x50: { /* MOVMSKPS / MOVMSKPD */
        if (mem)
            x86_ud(c);
        const XmmReg *s = &c->fpu.xmm[i->rm];
        uint32_t m = 0;
        if (p == P_66)
            m = (uint32_t)(s->q[0] >> 63) | (uint32_t)(s->q[1] >> 63) << 1;
        else
            for (unsigned k = 0; k < 4; k++)
                m |= (s->d[k] >> 31) << k;
        c->regs[i->reg] = m;
        return;
    }
    }
    x86_ud(c);
}

/* ---- SSE3 ---- */

/* ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD on the host's SSE3 unit. */
static void sse3_arith(X86Cpu *c, const X86Insn *i)
{
    bool pd = simd_prefix(i) == P_66;
    SseHostOp h;
    switch (i->opcode & 0xff) {
    case 0xd0: h = pd ? HS_ADDSUBPD : HS_ADDSUBPS; break;
    case 0x7c: h = pd ? HS_HADDPD : HS_HADDPS; break;
    default: h = pd ? HS_HSUBPD : HS_HSUBPS; break;
    }
    simd_check_sse(c);
    SseHost s;
    s.a = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s.b, 16, true);
    s.mxcsr = c->fpu.mxcsr;
    simd_sse_flags(c, sse_host_run(h, &s));
    c->fpu.xmm[i->reg] = s.r;
}

/* MOVSLDUP, MOVSHDUP (F3 0F 12/16), MOVDDUP (F2 0F 12, m64), LDDQU (F2 0F F0). */
static void sse3_mov(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg v, r;
    switch (i->opcode & 0xff) {
    case 0xf0:
        simd_rm_vec(c, i, &v, 16, false);
        c->fpu.xmm[i->reg] = v;
        return;
    case 0x12:
        if (simd_prefix(i) == P_F2) {
            simd_rm_vec(c, i, &v, 8, false);
            r.q[0] = r.q[1] = v.q[0];
            break;
        }
        simd_rm_vec(c, i, &v, 16, true);
        r.d[0] = r.d[1] = v.d[0];
        r.d[2] = r.d[3] = v.d[2];
        break;
    default:
        simd_rm_vec(c, i, &v, 16, true);
        r.d[0] = r.d[1] = v.d[1];
        r.d[2] = r.d[3] = v.d[3];
        break;
    }
    c->fpu.xmm[i->reg] = r;
}

static void movnti(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_ud(c);
    if (i->rex & 8)
        x86_set_rm64(c, i, c->regs[i->reg]);
    else
        x86_write(c, i->seg, x86_ea(c, i), 4, (uint32_t)c->regs[i->reg]);
}

/* ---- SSSE3 (0F 38 00-1E, 0F 3A 0F): the MMX form, or with 66 the XMM form ---- */

/* Horizontal add/subtract of adjacent pairs: the destination's pairs fill the low half
 * of the result, the source's the high half (SDM vol. 2, PHADDW). */
static void ssse3_horizontal(XmmReg *d, const XmmReg *s, unsigned n, uint16_t op)
{
    XmmReg r = { 0 };
    bool sub = op >= 0x3805, sat = (op & 3) == 3;
    if ((op & 3) == 2) { /* PHADDD, PHSUBD */
        unsigned half = n / 8;
        for (unsigned k = 0; k < half; k++) {
            r.d[k] = sub ? d->d[2 * k] - d->d[2 * k + 1] : d->d[2 * k] + d->d[2 * k + 1];
            r.d[half + k] = sub ? s->d[2 * k] - s->d[2 * k + 1] : s->d[2 * k] + s->d[2 * k + 1];
        }
    } else {
        unsigned half = n / 4;
        for (unsigned k = 0; k < half; k++) {
            for (unsigned side = 0; side < 2; side++) {
                const XmmReg *v = side ? s : d;
                int a = (int16_t)v->w[2 * k], b = (int16_t)v->w[2 * k + 1];
                int x = sub ? a - b : a + b;
                r.w[side * half + k] = (uint16_t)(sat ? sat_s16(x) : x);
            }
        }
    }
    *d = r;
}

static void ssse3(X86Cpu *c, const X86Insn *i)
{
    unsigned n = begin_int(c, i);
    XmmReg d, s, r = { 0 };
    if (n == 8)
        rm_mm(c, i, &s);
    else
        simd_rm_vec(c, i, &s, n, true);
    reg_vec(c, i->reg, &d, n);
    switch (i->opcode) {
    case 0x3800: /* PSHUFB: a set bit 7 zeroes the byte, else the low bits index */
        for (unsigned k = 0; k < n; k++)
            r.b[k] = (s.b[k] & 0x80) ? 0 : d.b[s.b[k] & (n - 1)];
        break;
    case 0x3801: case 0x3802: case 0x3803: case 0x3805: case 0x3806: case 0x3807:
        ssse3_horizontal(&d, &s, n, i->opcode);
        r = d;
        break;
    case 0x3804: /* PMADDUBSW: unsigned bytes of the destination times signed of the source */
        for (unsigned k = 0; k < n / 2; k++)
            r.w[k] = (uint16_t)sat_s16(d.b[2 * k] * (int8_t)s.b[2 * k] + d.b[2 * k + 1] * (int8_t)s.b[2 * k + 1]);
        break;
    case 0x3808:
        for (unsigned k = 0; k < n; k++)
            r.b[k] = (int8_t)s.b[k] < 0 ? (uint8_t)-d.b[k] : s.b[k] ? d.b[k] : 0;
        break;
    case 0x3809:
        for (unsigned k = 0; k < n / 2; k++)
            r.w[k] = (int16_t)s.w[k] < 0 ? (uint16_t)-d.w[k] : s.w[k] ? d.w[k] : 0;
        break;
    case 0x380a:
        for (unsigned k = 0; k < n / 4; k++)
            r.d[k] = (int32_t)s.d[k] < 0 ? (uint32_t)-d.d[k] : s.d[k] ? d.d[k] : 0;
        break;
    case 0x380b: /* PMULHRSW: the product's bits 30:15, rounded */
        for (unsigned k = 0; k < n / 2; k++)
            r.w[k] = (uint16_t)((((int32_t)(int16_t)d.w[k] * (int16_t)s.w[k] >> 14) + 1) >> 1);
        break;
    case 0x381c:
        for (unsigned k = 0; k < n; k++)
            r.b[k] = (int8_t)s.b[k] < 0 ? (uint8_t)-s.b[k] : s.b[k];
        break;
    case 0x381d:
        for (unsigned k = 0; k < n / 2; k++)
            r.w[k] = (int16_t)s.w[k] < 0 ? (uint16_t)-s.w[k] : s.w[k];
        break;
    case 0x381e:
        for (unsigned k = 0; k < n / 4; k++)
            r.d[k] = (int32_t)s.d[k] < 0 ? (uint32_t)-s.d[k] : s.d[k];
        break;
    case 0x3a0f: { /* PALIGNR: destination:source shifted right by imm8 bytes */
        uint8_t cat[32] = { 0 };
        memcpy(cat, s.b, n);
        memcpy(cat + n, d.b, n);
        unsigned sh = i->imm & 0xff;
        for (unsigned k = 0; k < n; k++)
            r.b[k] = sh + k < 2 * n ? cat[sh + k] : 0;
        break;
    }
    }
    set_reg_vec(c, i->reg, &r, n);
}

static X86Handler bind_ssse3(const X86Insn *i)
{
    unsigned p = simd_prefix(i);
    if (p != P_NONE && p != P_66)
        return NULL;
    switch (i->opcode) {
    case 0x3800 ... 0x380b: case 0x381c ... 0x381e: case 0x3a0f:
        return ssse3;
    }
    return NULL;
}

X86Handler x86_bind_simd(X86Insn *i)
{
    if ((i->opcode & 0xfd00) == 0x3800) {
        X86Handler h = bind_ssse3(i);
        return h ? h : x86_bind_sse4(i);
    }
    uint16_t op = i->opcode;
    if (op < 0x0f10 || op > 0x0fff)
        return NULL;
    unsigned p = simd_prefix(i);
    bool mmx_ok = p == P_NONE, sse2_ok = p == P_66;
    switch (op) {
    case 0x0f10: case 0x0f11:
        return sse_mov;
    case 0x0f12:
        if (p == P_F2 || p == P_F3)
            return sse3_mov;
        return sse_mov;
    case 0x0f16:
        if (p == P_F3)
            return sse3_mov;
        return p == P_NONE || p == P_66 ? sse_mov : NULL;
    case 0x0ff0:
        return p == P_F2 && (i->pfx & X86_PFX_MEM) ? sse3_mov : NULL;
    case 0x0fd0:
        return p == P_66 || p == P_F2 ? sse3_arith : NULL;
    case 0x0f7c: case 0x0f7d:
        return p == P_66 || p == P_F2 ? sse3_arith : NULL;
    case 0x0f13: case 0x0f17:
    case 0x0f14: case 0x0f15: case 0x0f28: case 0x0f29: case 0x0f2b: case 0x0fc6:
        return p == P_NONE || p == P_66 ? sse_mov : NULL;
    case 0x0f50:
        return p == P_NONE || p == P_66 ? sse_mov : NULL;
    case 0x0f2a: case 0x0f2c: case 0x0f2d:
        return sse_cvt;
    case 0x0f2e: case 0x0f2f:
        return p == P_NONE || p == P_66 ? sse_comis : NULL;
    case 0x0f51: case 0x0f52: case 0x0f53: case 0x0f58: case 0x0f59: case 0x0f5a: case 0x0f5b:
    case 0x0f5c: case 0x0f5d: case 0x0f5e: case 0x0f5f: case 0x0fe6: case 0x0fc2:
        return sse_arith_valid(i) ? sse_arith : NULL;
    case 0x0f54: case 0x0f55: case 0x0f56: case 0x0f57:
        return p == P_NONE || p == P_66 ? sse_logic : NULL;
    case 0x0f60 ... 0x0f6b: case 0x0f74 ... 0x0f76:
        return mmx_ok || sse2_ok ? pint : NULL;
    case 0x0f6c: case 0x0f6d:
        return sse2_ok ? pint : NULL;
    case 0x0f6e:
        return mmx_ok || sse2_ok ? movd_to_vec : NULL;
    case 0x0f7e:
        return p != P_F2 ? movd_from_vec : NULL;
    case 0x0f6f:
        return p != P_F2 ? movq_load : NULL;
    case 0x0f7f:
        return p != P_F2 ? movq_store : NULL;
    case 0x0f70:
        return pshuf;
    case 0x0f71: case 0x0f72: case 0x0f73:
        return pshift_imm_valid(i) ? pshift_imm : NULL;
    case 0x0f77:
        return p == P_NONE ? emms : NULL;
    case 0x0fc3:
        return p == P_NONE ? movnti : NULL;
    case 0x0fc4:
        return mmx_ok || sse2_ok ? pinsrw : NULL;
    case 0x0fc5:
        return (mmx_ok || sse2_ok) && !(i->pfx & X86_PFX_MEM) ? pextrw : NULL;
    case 0x0fd6:
        if (p == P_NONE || ((p == P_F2 || p == P_F3) && (i->pfx & X86_PFX_MEM)))
            return NULL;
        return movq_d6;
    case 0x0fd7:
        return (mmx_ok || sse2_ok) && !(i->pfx & X86_PFX_MEM) ? pmovmskb : NULL;
    case 0x0fe7:
        return (mmx_ok || sse2_ok) && (i->pfx & X86_PFX_MEM) ? movq_store : NULL;
    case 0x0ff7:
        return (mmx_ok || sse2_ok) && !(i->pfx & X86_PFX_MEM) ? maskmov : NULL;
    case 0x0fd1 ... 0x0fd5: case 0x0fd8 ... 0x0fdf:
    case 0x0fe0 ... 0x0fe5: case 0x0fe8 ... 0x0fef:
    case 0x0ff1 ... 0x0ff6: case 0x0ff8 ... 0x0ffe:
        return mmx_ok || sse2_ok ? pint : NULL;
    }
    return NULL;
}
