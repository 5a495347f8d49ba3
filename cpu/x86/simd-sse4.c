/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SSE4.1 and SSE4.2: the 66 0F 38 and 66 0F 3A maps, and CRC32 (F2 0F 38 F0/F1) (SDM
 * vol. 2, each instruction; opcode map appendix A.3). These have XMM forms only. A
 * 16-byte memory operand must be 16-byte aligned (#GP(0)) like every legacy SSE one,
 * except for the string compares PCMPxSTRx, which take any address, and the narrower
 * PMOVSX/ZX, scalar ROUND, INSERTPS and PINSR sources. Integer operations are written
 * out here; ROUND*, DPPS and DPPD run on the host's SSE4.1 unit (fpu-host.c). */
#include "cpu/x86/fpu-host.h"
#include "cpu/x86/simd.h"

static bool is_66(const X86Insn *i)
{
    return (i->pfx & X86_PFX_OPSIZE) && !(i->pfx & (X86_PFX_REP | X86_PFX_REPNE));
}

static bool has_mem(const X86Insn *i)
{
    return i->pfx & X86_PFX_MEM;
}

/* ---- two-operand integer operations and blends (66 0F 38) ---- */

static void sse41_int(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg s, d = c->fpu.xmm[i->reg], r = d;
    simd_rm_vec(c, i, &s, 16, true);
    const XmmReg *mask = &c->fpu.xmm[0];
    switch (i->opcode) {
    case 0x3810: /* PBLENDVB: bytes whose XMM0 byte has bit 7 set come from the source */
        for (unsigned k = 0; k < 16; k++)
            if (mask->b[k] & 0x80)
                r.b[k] = s.b[k];
        break;
    case 0x3814: /* BLENDVPS */
        for (unsigned k = 0; k < 4; k++)
            if (mask->d[k] >> 31)
                r.d[k] = s.d[k];
        break;
    case 0x3815: /* BLENDVPD */
        for (unsigned k = 0; k < 2; k++)
            if (mask->q[k] >> 63)
                r.q[k] = s.q[k];
        break;
    case 0x3817: { /* PTEST: ZF when d AND s is zero, CF when (NOT d) AND s is; others cleared */
        bool zf = !((d.q[0] & s.q[0]) | (d.q[1] & s.q[1]));
        bool cf = !((~d.q[0] & s.q[0]) | (~d.q[1] & s.q[1]));
        x86_set_arith(c, (zf ? X86_FL_ZF : 0) | (cf ? X86_FL_CF : 0), X86_FL_ARITH);
        return;
    }
    case 0x3828: /* PMULDQ: signed doublewords 0 and 2 to quadwords */
        for (unsigned k = 0; k < 2; k++)
            r.q[k] = (uint64_t)((int64_t)(int32_t)d.d[2 * k] * (int32_t)s.d[2 * k]);
        break;
    case 0x3829: /* PCMPEQQ */
        for (unsigned k = 0; k < 2; k++)
            r.q[k] = d.q[k] == s.q[k] ? ~UINT64_C(0) : 0;
        break;
    case 0x382b: /* PACKUSDW: signed doublewords to unsigned words, destination low */
        for (unsigned k = 0; k < 4; k++) {
            r.w[k] = (uint16_t)sat_u16((int32_t)d.d[k]);
            r.w[4 + k] = (uint16_t)sat_u16((int32_t)s.d[k]);
        }
        break;
    case 0x3837: /* PCMPGTQ (SSE4.2): signed */
        for (unsigned k = 0; k < 2; k++)
            r.q[k] = (int64_t)d.q[k] > (int64_t)s.q[k] ? ~UINT64_C(0) : 0;
        break;
    case 0x3838: /* PMINSB */
        for (unsigned k = 0; k < 16; k++)
            r.b[k] = (int8_t)s.b[k] < (int8_t)d.b[k] ? s.b[k] : d.b[k];
        break;
    case 0x3839: /* PMINSD */
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = (int32_t)s.d[k] < (int32_t)d.d[k] ? s.d[k] : d.d[k];
        break;
    case 0x383a: /* PMINUW */
        for (unsigned k = 0; k < 8; k++)
            r.w[k] = s.w[k] < d.w[k] ? s.w[k] : d.w[k];
        break;
    case 0x383b: /* PMINUD */
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = s.d[k] < d.d[k] ? s.d[k] : d.d[k];
        break;
    case 0x383c: /* PMAXSB */
        for (unsigned k = 0; k < 16; k++)
            r.b[k] = (int8_t)s.b[k] > (int8_t)d.b[k] ? s.b[k] : d.b[k];
        break;
    case 0x383d: /* PMAXSD */
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = (int32_t)s.d[k] > (int32_t)d.d[k] ? s.d[k] : d.d[k];
        break;
    case 0x383e: /* PMAXUW */
        for (unsigned k = 0; k < 8; k++)
            r.w[k] = s.w[k] > d.w[k] ? s.w[k] : d.w[k];
        break;
    case 0x383f: /* PMAXUD */
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = s.d[k] > d.d[k] ? s.d[k] : d.d[k];
        break;
    case 0x3840: /* PMULLD: the low halves of the products */
        for (unsigned k = 0; k < 4; k++)
            r.d[k] = d.d[k] * s.d[k];
        break;
    case 0x3841: { /* PHMINPOSUW: the smallest word, the lowest index among equals, in bits 18:16 */
        unsigned at = 0;
        for (unsigned k = 1; k < 8; k++)
            if (s.w[k] < s.w[at])
                at = k;
        memset(&r, 0, sizeof(r));
        r.w[0] = s.w[at];
        r.w[1] = (uint16_t)at;
        break;
    }
    }
    c->fpu.xmm[i->reg] = r;
}

/* PMOVSX / PMOVZX (66 0F 38 20-25, 30-35): the source's low elements widened; a memory
 * source is only as wide as those elements (m64, m32 or m16), with no alignment rule. */
static void sse41_pmovx(X86Cpu *c, const X86Insn *i)
{
    static const uint8_t from[6] = { 1, 1, 1, 2, 2, 4 }, to[6] = { 2, 4, 8, 4, 8, 8 };
    unsigned k = (i->opcode & 0xf), fs = from[k], ts = to[k], cnt = 16 / ts;
    bool sx = (i->opcode & 0xf0) == 0x20;
    simd_check_sse(c);
    XmmReg s, r;
    simd_rm_vec(c, i, &s, cnt * fs, false);
    for (unsigned e = 0; e < cnt; e++) {
        uint64_t v = 0;
        memcpy(&v, s.b + e * fs, fs);
        if (sx) {
            unsigned sh = 64 - 8 * fs;
            v = (uint64_t)((int64_t)(v << sh) >> sh);
        }
        memcpy(r.b + e * ts, &v, ts);
    }
    c->fpu.xmm[i->reg] = r;
}

/* MOVNTDQA (66 0F 38 2A): an aligned 16-byte load; the non-temporal hint has no
 * effect on write-back memory (SDM vol. 2, MOVNTDQA). */
static void sse41_movntdqa(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg v;
    simd_rm_vec(c, i, &v, 16, true);
    c->fpu.xmm[i->reg] = v;
}

/* ---- 66 0F 3A: immediate forms ---- */

static void sse41_blend(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg s, r = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s, 16, true);
    unsigned m = i->imm & 0xff;
    switch (i->opcode) {
    case 0x3a0c: /* BLENDPS */
        for (unsigned k = 0; k < 4; k++)
            if (m >> k & 1)
                r.d[k] = s.d[k];
        break;
    case 0x3a0d: /* BLENDPD */
        for (unsigned k = 0; k < 2; k++)
            if (m >> k & 1)
                r.q[k] = s.q[k];
        break;
    default: /* PBLENDW */
        for (unsigned k = 0; k < 8; k++)
            if (m >> k & 1)
                r.w[k] = s.w[k];
        break;
    }
    c->fpu.xmm[i->reg] = r;
}

/* ROUNDPS/PD/SS/SD, DPPS, DPPD: on the host, with the guest's MXCSR; an unmasked
 * exception leaves the destination unchanged. */
static void sse41_fp(X86Cpu *c, const X86Insn *i)
{
    static const SseImmOp ops[] = { [0x08] = HI_ROUNDPS, [0x09] = HI_ROUNDPD, [0x0a] = HI_ROUNDSS,
                                    [0x0b] = HI_ROUNDSD };
    unsigned op = i->opcode & 0xff, n = op == 0x0a ? 4 : op == 0x0b ? 8 : 16;
    SseImmOp h = op == 0x40 ? HI_DPPS : op == 0x41 ? HI_DPPD : ops[op];
    simd_check_sse(c);
    SseHost s;
    s.a = c->fpu.xmm[i->reg];
    simd_rm_vec(c, i, &s.b, n, true);
    s.mxcsr = c->fpu.mxcsr;
    simd_sse_flags(c, sse_host_imm(h, i->imm & 0xff, &s));
    c->fpu.xmm[i->reg] = s.r;
}

/* MPSADBW: eight sums of absolute differences between a 4-byte block of the source
 * (imm8[1:0]) and sliding 4-byte windows of an 11-byte block of the destination
 * (imm8[2]). */
static void sse41_mpsadbw(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    XmmReg s, d = c->fpu.xmm[i->reg], r;
    simd_rm_vec(c, i, &s, 16, true);
    unsigned so = (i->imm & 3) * 4, dof = (i->imm >> 2 & 1) * 4;
    for (unsigned k = 0; k < 8; k++) {
        unsigned sum = 0;
        for (unsigned m = 0; m < 4; m++) {
            int x = d.b[dof + k + m] - s.b[so + m];
            sum += (unsigned)(x < 0 ? -x : x);
        }
        r.w[k] = (uint16_t)sum;
    }
    c->fpu.xmm[i->reg] = r;
}

/* PEXTRB/PEXTRW/PEXTRD/EXTRACTPS (66 0F 3A 14-17): an element to memory, or
 * zero-extended to a 32-bit general register. */
static void sse41_extract(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    const XmmReg *s = &c->fpu.xmm[i->reg];
    unsigned imm = i->imm & 0xff, size;
    uint32_t v;
    if (i->opcode == 0x3a16 && (i->rex & 8)) { /* PEXTRQ (64-bit mode) */
        x86_set_rm64(c, i, s->q[imm & 1]);
        return;
    }
    switch (i->opcode) {
    case 0x3a14: v = s->b[imm & 15]; size = 1; break;
    case 0x3a15: v = s->w[imm & 7]; size = 2; break;
    default: v = s->d[imm & 3]; size = 4; break;
    }
    if (has_mem(i))
        x86_write(c, i->seg, x86_ea(c, i), size, v);
    else
        c->regs[i->rm] = v;
}

/* PINSRB/INSERTPS/PINSRD (66 0F 3A 20-22). */
static void sse41_insert(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    unsigned imm = i->imm & 0xff;
    XmmReg r = c->fpu.xmm[i->reg];
    switch (i->opcode) {
    case 0x3a20: /* from the low byte of a general register or from m8 */
        r.b[imm & 15] = has_mem(i) ? (uint8_t)x86_read(c, i->seg, x86_ea(c, i), 1) : (uint8_t)c->regs[i->rm];
        break;
    case 0x3a22:
        if (i->rex & 8) /* PINSRQ (64-bit mode) */
            r.q[imm & 1] = x86_get_rm64(c, i);
        else
            r.d[imm & 3] = x86_get_rm(c, i, 4);
        break;
    default: { /* INSERTPS: source element imm8[7:6] (a register) or m32, to imm8[5:4];
                * then imm8[3:0] zeroes elements */
        uint32_t v;
        if (has_mem(i))
            v = x86_read(c, i->seg, x86_ea(c, i), 4);
        else
            v = c->fpu.xmm[i->rm].d[imm >> 6];
        r.d[(imm >> 4) & 3] = v;
        for (unsigned k = 0; k < 4; k++)
            if (imm >> k & 1)
                r.d[k] = 0;
        break;
    }
    }
    c->fpu.xmm[i->reg] = r;
}

/* ---- SSE4.2 string compares (SDM vol. 2, 4.1 "Imm8 control byte operation for
 * PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM") ---- */

/* Element k of v as a signed or unsigned byte or word. */
static int str_elem(const XmmReg *v, unsigned k, unsigned imm)
{
    switch (imm & 3) {
    case 0: return v->b[k];
    case 1: return v->w[k];
    case 2: return (int8_t)v->b[k];
    default: return (int16_t)v->w[k];
    }
}

/* The implicit length: the index of the first zero element, or the element count. */
static unsigned str_implicit_len(const XmmReg *v, unsigned n, unsigned imm)
{
    for (unsigned k = 0; k < n; k++)
        if (!str_elem(v, k, imm))
            return k;
    return n;
}

/* The explicit length: the register's absolute value, saturated to the element count. */
static unsigned str_explicit_len(uint32_t reg, unsigned n)
{
    int64_t v = (int32_t)reg;
    if (v < 0)
        v = -v;
    return v > n ? n : (unsigned)v;
}

/* IntRes2 of a compare of a (the register operand, xmm1) against b (xmm2/m128) with
 * lengths la and lb; *zf, *sf: which operand ended early. */
static unsigned str_compare(const XmmReg *a, const XmmReg *b, unsigned la, unsigned lb, unsigned imm)
{
    unsigned n = imm & 1 ? 8 : 16, agg = imm >> 2 & 3, res = 0;
    /* BoolRes[j][i]: a[j] against b[i], with the forced values of table 4-7 where
     * either element lies beyond its string's end. */
#define VALID_A(j) ((j) < la)
#define VALID_B(x) ((x) < lb)
    switch (agg) {
    case 0: /* equal any: b[i] is one of a's valid elements */
        for (unsigned x = 0; x < n; x++) {
            if (!VALID_B(x))
                continue;
            for (unsigned j = 0; j < la; j++)
                if (str_elem(a, j, imm) == str_elem(b, x, imm))
                    res |= 1u << x;
        }
        break;
    case 1: /* ranges: a[2k] <= b[i] <= a[2k + 1] for some valid pair */
        for (unsigned x = 0; x < n; x++) {
            if (!VALID_B(x))
                continue;
            int v = str_elem(b, x, imm);
            for (unsigned j = 0; j + 1 < n; j += 2) {
                bool ge = VALID_A(j) && v >= str_elem(a, j, imm);
                bool le = VALID_A(j + 1) && v <= str_elem(a, j + 1, imm);
                if (ge && le)
                    res |= 1u << x;
            }
        }
        break;
    case 2: /* equal each: element by element; both invalid counts as equal */
        for (unsigned x = 0; x < n; x++) {
            bool va = VALID_A(x), vb = VALID_B(x);
            bool eq = va && vb ? str_elem(a, x, imm) == str_elem(b, x, imm) : !va && !vb;
            if (eq)
                res |= 1u << x;
        }
        break;
    default: /* equal ordered: a (the needle) starts at b[i]; an invalid a matches
              * anything, a valid a never matches an invalid b */
        for (unsigned x = 0; x < n; x++) {
            bool match = true;
            for (unsigned j = 0; x + j < n && match; j++) {
                if (!VALID_A(j))
                    break;
                if (!VALID_B(x + j) || str_elem(a, j, imm) != str_elem(b, x + j, imm))
                    match = false;
            }
            if (match)
                res |= 1u << x;
        }
        break;
    }
#undef VALID_A
#undef VALID_B
    unsigned all = (1u << n) - 1;
    switch (imm >> 4 & 3) {
    case 1: /* negative polarity */
        res ^= all;
        break;
    case 3: /* masked negative: only the valid elements of b are inverted */
        res ^= (1u << lb) - 1;
        break;
    }
    return res & all;
}

static void sse42_string(X86Cpu *c, const X86Insn *i)
{
    simd_check_sse(c);
    unsigned imm = i->imm & 0xff, n = imm & 1 ? 8 : 16, op = i->opcode & 0xff;
    XmmReg b;
    simd_rm_vec(c, i, &b, 16, false);
    const XmmReg *a = &c->fpu.xmm[i->reg];
    bool explicit_len = op <= 0x61, index = op & 1;
    unsigned la, lb;
    if (explicit_len) {
        la = str_explicit_len(c->regs[R_EAX], n);
        lb = str_explicit_len(c->regs[R_EDX], n);
    } else {
        la = str_implicit_len(a, n, imm);
        lb = str_implicit_len(&b, n, imm);
    }
    unsigned res = str_compare(a, &b, la, lb, imm);
    if (index) {
        /* imm8[6]: the most significant set bit, else the least; none: the count */
        unsigned idx = n;
        if (res)
            idx = imm & 0x40 ? 31u - (unsigned)__builtin_clz(res) : (unsigned)__builtin_ctz(res);
        c->regs[R_ECX] = idx;
    } else {
        /* imm8[6]: each result bit expanded to its element, else the bits in XMM0's low bits */
        XmmReg m;
        memset(&m, 0, sizeof(m));
        if (imm & 0x40) {
            for (unsigned k = 0; k < n; k++)
                if (res >> k & 1) {
                    if (n == 16)
                        m.b[k] = 0xff;
                    else
                        m.w[k] = 0xffff;
                }
        } else {
            m.w[0] = (uint16_t)res;
        }
        c->fpu.xmm[0] = m;
    }
    /* CF: any result bit; ZF, SF: b, a ended within the register; OF: result bit 0. */
    uint32_t fl = (res ? X86_FL_CF : 0) | (lb < n ? X86_FL_ZF : 0) | (la < n ? X86_FL_SF : 0) |
                  (res & 1 ? X86_FL_OF : 0);
    x86_set_arith(c, fl, X86_FL_ARITH);
}

/* ---- CRC32 (F2 0F 38 F0/F1, SSE4.2): CRC-32C, polynomial 11EDC6F41h, bit-reflected,
 * without the initial and final inversions (SDM vol. 2, CRC32). Flags unaffected. ---- */

uint32_t x86_crc32c(uint32_t crc, uint32_t data, unsigned bytes)
{
    for (unsigned k = 0; k < bytes; k++) {
        crc ^= (data >> (8 * k)) & 0xff;
        for (unsigned b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return crc;
}

static void sse42_crc32(X86Cpu *c, const X86Insn *i)
{
    unsigned size = i->opcode == 0x38f0 ? 1 : x86_osize(i);
    uint32_t v = x86_get_rm(c, i, size);
    c->regs[i->reg] = x86_crc32c((uint32_t)c->regs[i->reg], v, size);
}

X86Handler x86_bind_sse4(X86Insn *i)
{
    uint16_t op = i->opcode;
    if (op == 0x38f0 || op == 0x38f1)
        return (i->pfx & X86_PFX_REPNE) && !(i->pfx & X86_PFX_REP) ? sse42_crc32 : NULL;
    if (!is_66(i))
        return NULL;
    switch (op) {
    case 0x3810: case 0x3814: case 0x3815: case 0x3817:
    case 0x3828: case 0x3829: case 0x382b: case 0x3837 ... 0x3841:
        return sse41_int;
    case 0x3820 ... 0x3825: case 0x3830 ... 0x3835:
        return sse41_pmovx;
    case 0x382a:
        return has_mem(i) ? sse41_movntdqa : NULL;
    case 0x3a08 ... 0x3a0b: case 0x3a40: case 0x3a41:
        return sse41_fp;
    case 0x3a0c ... 0x3a0e:
        return sse41_blend;
    case 0x3a14 ... 0x3a17:
        return sse41_extract;
    case 0x3a20 ... 0x3a22:
        return sse41_insert;
    case 0x3a42:
        return sse41_mpsadbw;
    case 0x3a60 ... 0x3a63:
        return sse42_string;
    }
    return NULL;
}
