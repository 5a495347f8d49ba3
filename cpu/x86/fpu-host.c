/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest floating-point arithmetic on the host's x87 and SSE units (see fpu-host.h).
 * Each operation is one host instruction between loads and stores of its operands, so
 * its result and flags are the hardware's, bit for bit. The host's own state is kept
 * as the x86-64 ABI wants it: the x87 stack empty and the control word 037Fh after
 * every x87 operation, MXCSR saved and restored around every SSE one. */
#include "cpu/x86/fpu-host.h"

static const uint16_t host_cw = 0x037f;

/* One x87 operation: "pre" loads the operands and runs the instruction, "post" stores
 * the results and leaves the host stack empty. Stale host flags are cleared first (a
 * masked flag left by other host code would be read back as the guest's, and in exact
 * mode an unmasked one would trap); in exact mode the flags are read and cleared before
 * the stores, which would otherwise raise the pending exception on the host. */
#define X87(pre, post)                                                                  \
    __asm__ volatile("fnstsw %%ax\n\t"                                                  \
                     "testb $0xbf, %%al\n\t"                                            \
                     "jz 2f\n\t"                                                        \
                     "fnclex\n"                                                         \
                     "2:\n\t"                                                           \
                     "fldcw %[cw]\n\t" pre "\n\t"                                       \
                     "fnstsw %[sw]\n\t"                                                 \
                     "cmpb $0, %[ex]\n\t"                                               \
                     "je 1f\n\t"                                                        \
                     "fnclex\n"                                                         \
                     "1:\n\t" post "\n\t"                                               \
                     "fldcw %[hcw]"                                                     \
                     : [sw] "=m"(h->sw), [r0] "=m"(h->r0), [r1] "=m"(h->r1), [m] "+m"(h->m) \
                     : [cw] "m"(cw), [hcw] "m"(host_cw), [ex] "m"(ex), [a] "m"(h->a),   \
                       [b] "m"(h->b)                                                    \
                     : "rax", "cc", "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", \
                       "st(5)", "st(6)", "st(7)")

#define LD_AB "fldt %[b]\n\tfldt %[a]\n\t"
#define POP1 "fstp %%st(0)"
#define ST_R0 "fstpt %[r0]"
#define ST_R0_POP "fstpt %[r0]\n\tfstp %%st(0)"
#define ST_R0_R1 "fstpt %[r0]\n\tfstpt %[r1]"
/* FSINCOS and FPTAN push their second result only when the operand was in range. */
#define ST_RANGE "fnstsw %%ax\n\ttestb $4, %%ah\n\tjnz 3f\n\tfstpt %[r0]\n\tfstpt %[r1]\n\tjmp 4f\n" \
                 "3:\n\tfstpt %[r0]\n4:"

#define ARITH_MEM(op, sfx, ...) X87("fldt %[a]\n\t" op sfx " %[m]", ST_R0)

void x87_host_run(X87HostOp op, X87Host *h, bool exact)
{
    uint16_t cw = exact ? (uint16_t)(h->cw | 0x07) : (uint16_t)(h->cw | 0x3f);
    uint8_t ex = exact;
    switch (op) {
    case HX_ADD: X87(LD_AB "fadd %%st(1), %%st", ST_R0_POP); break;
    case HX_MUL: X87(LD_AB "fmul %%st(1), %%st", ST_R0_POP); break;
    case HX_SUB: X87(LD_AB "fsub %%st(1), %%st", ST_R0_POP); break;
    case HX_SUBR: X87(LD_AB "fsubr %%st(1), %%st", ST_R0_POP); break;
    case HX_DIV: X87(LD_AB "fdiv %%st(1), %%st", ST_R0_POP); break;
    case HX_DIVR: X87(LD_AB "fdivr %%st(1), %%st", ST_R0_POP); break;

    case HX_ADD_M32: ARITH_MEM("fadd", "s"); break;
    case HX_MUL_M32: ARITH_MEM("fmul", "s"); break;
    case HX_SUB_M32: ARITH_MEM("fsub", "s"); break;
    case HX_SUBR_M32: ARITH_MEM("fsubr", "s"); break;
    case HX_DIV_M32: ARITH_MEM("fdiv", "s"); break;
    case HX_DIVR_M32: ARITH_MEM("fdivr", "s"); break;
    case HX_ADD_M64: ARITH_MEM("fadd", "l"); break;
    case HX_MUL_M64: ARITH_MEM("fmul", "l"); break;
    case HX_SUB_M64: ARITH_MEM("fsub", "l"); break;
    case HX_SUBR_M64: ARITH_MEM("fsubr", "l"); break;
    case HX_DIV_M64: ARITH_MEM("fdiv", "l"); break;
    case HX_DIVR_M64: ARITH_MEM("fdivr", "l"); break;
    case HX_ADD_I16: ARITH_MEM("fiadd", "s"); break;
    case HX_MUL_I16: ARITH_MEM("fimul", "s"); break;
    case HX_SUB_I16: ARITH_MEM("fisub", "s"); break;
    case HX_SUBR_I16: ARITH_MEM("fisubr", "s"); break;
    case HX_DIV_I16: ARITH_MEM("fidiv", "s"); break;
    case HX_DIVR_I16: ARITH_MEM("fidivr", "s"); break;
    case HX_ADD_I32: ARITH_MEM("fiadd", "l"); break;
    case HX_MUL_I32: ARITH_MEM("fimul", "l"); break;
    case HX_SUB_I32: ARITH_MEM("fisub", "l"); break;
    case HX_SUBR_I32: ARITH_MEM("fisubr", "l"); break;
    case HX_DIV_I32: ARITH_MEM("fidiv", "l"); break;
    case HX_DIVR_I32: ARITH_MEM("fidivr", "l"); break;

    case HX_COM: X87(LD_AB "fcom %%st(1)", POP1 "\n\t" POP1); break;
    case HX_UCOM: X87(LD_AB "fucom %%st(1)", POP1 "\n\t" POP1); break;
    case HX_COM_M32: X87("fldt %[a]\n\tfcoms %[m]", POP1); break;
    case HX_COM_M64: X87("fldt %[a]\n\tfcoml %[m]", POP1); break;
    case HX_COM_I16: X87("fldt %[a]\n\tficoms %[m]", POP1); break;
    case HX_COM_I32: X87("fldt %[a]\n\tficoml %[m]", POP1); break;
    case HX_TST: X87("fldt %[a]\n\tftst", POP1); break;
    case HX_XAM: X87("fldt %[a]\n\tfxam", POP1); break;

    case HX_LD_M32: X87("flds %[m]", ST_R0); break;
    case HX_LD_M64: X87("fldl %[m]", ST_R0); break;
    case HX_LD_I16: X87("filds %[m]", ST_R0); break;
    case HX_LD_I32: X87("fildl %[m]", ST_R0); break;
    case HX_LD_I64: X87("fildll %[m]", ST_R0); break;
    case HX_LD_BCD: X87("fbld %[m]", ST_R0); break;

    case HX_ST_M32: X87("fldt %[a]\n\tfsts %[m]", POP1); break;
    case HX_ST_M64: X87("fldt %[a]\n\tfstl %[m]", POP1); break;
    case HX_ST_I16: X87("fldt %[a]\n\tfists %[m]", POP1); break;
    case HX_ST_I32: X87("fldt %[a]\n\tfistl %[m]", POP1); break;
    case HX_ST_I64: X87("fldt %[a]\n\tfistpll %[m]", ""); break;
    case HX_ST_BCD: X87("fldt %[a]\n\tfbstp %[m]", ""); break;
    case HX_STT_I16: X87("fldt %[a]\n\tfisttps %[m]", ""); break;
    case HX_STT_I32: X87("fldt %[a]\n\tfisttpl %[m]", ""); break;
    case HX_STT_I64: X87("fldt %[a]\n\tfisttpll %[m]", ""); break;

    case HX_SQRT: X87("fldt %[a]\n\tfsqrt", ST_R0); break;
    case HX_RNDINT: X87("fldt %[a]\n\tfrndint", ST_R0); break;
    case HX_F2XM1: X87("fldt %[a]\n\tf2xm1", ST_R0); break;
    case HX_SIN: X87("fldt %[a]\n\tfsin", ST_R0); break;
    case HX_COS: X87("fldt %[a]\n\tfcos", ST_R0); break;
    case HX_SINCOS: X87("fldt %[a]\n\tfsincos", ST_RANGE); break;
    case HX_PTAN: X87("fldt %[a]\n\tfptan", ST_RANGE); break;
    case HX_XTRACT: X87("fldt %[a]\n\tfxtract", ST_R0_R1); break;

    case HX_PATAN: X87(LD_AB "fpatan", ST_R0); break;
    case HX_YL2X: X87(LD_AB "fyl2x", ST_R0); break;
    case HX_YL2XP1: X87(LD_AB "fyl2xp1", ST_R0); break;
    case HX_SCALE: X87(LD_AB "fscale", ST_R0_POP); break;
    case HX_PREM: X87(LD_AB "fprem", ST_R0_POP); break;
    case HX_PREM1: X87(LD_AB "fprem1", ST_R0_POP); break;

    case HX_LD1: X87("fld1", ST_R0); break;
    case HX_LDL2T: X87("fldl2t", ST_R0); break;
    case HX_LDL2E: X87("fldl2e", ST_R0); break;
    case HX_LDPI: X87("fldpi", ST_R0); break;
    case HX_LDLG2: X87("fldlg2", ST_R0); break;
    case HX_LDLN2: X87("fldln2", ST_R0); break;
    case HX_LDZ: X87("fldz", ST_R0); break;
    case HX_COUNT: break;
    }
}

/* ---- SSE ---- */

/* One SSE operation on xmm0 (a) and xmm1 (b), the result from xmm0. */
#define SSE(text)                                                                       \
    __asm__ volatile("stmxcsr %[save]\n\t"                                              \
                     "ldmxcsr %[mx]\n\t"                                                \
                     "movdqu %[a], %%xmm0\n\t"                                          \
                     "movdqu %[b], %%xmm1\n\t" text "\n\t"                              \
                     "movdqu %%xmm0, %[r]\n\t"                                          \
                     "stmxcsr %[out]\n\t"                                               \
                     "ldmxcsr %[save]"                                                  \
                     : [r] "=m"(h->r), [out] "=m"(out), [save] "=m"(save)               \
                     : [a] "m"(h->a), [b] "m"(h->b), [mx] "m"(mx)                       \
                     : "xmm0", "xmm1", "memory")

#define CMP4(p)                                                                          \
    case HS_CMPPS + 4 * (p): SSE("cmpps $" #p ", %%xmm1, %%xmm0"); break;               \
    case HS_CMPSS + 4 * (p): SSE("cmpss $" #p ", %%xmm1, %%xmm0"); break;               \
    case HS_CMPPD + 4 * (p): SSE("cmppd $" #p ", %%xmm1, %%xmm0"); break;               \
    case HS_CMPSD + 4 * (p): SSE("cmpsd $" #p ", %%xmm1, %%xmm0"); break;

/* The guest's MXCSR with its flags cleared and every exception masked. */
static uint32_t masked_mxcsr(uint32_t guest)
{
    return (guest & ~0x3fu) | 0x1f80u;
}

unsigned sse_host_run(SseHostOp op, SseHost *h)
{
    uint32_t mx = masked_mxcsr(h->mxcsr), out = 0, save;
    switch ((int)op) {
    case HS_ADDPS: SSE("addps %%xmm1, %%xmm0"); break;
    case HS_ADDSS: SSE("addss %%xmm1, %%xmm0"); break;
    case HS_ADDPD: SSE("addpd %%xmm1, %%xmm0"); break;
    case HS_ADDSD: SSE("addsd %%xmm1, %%xmm0"); break;
    case HS_SUBPS: SSE("subps %%xmm1, %%xmm0"); break;
    case HS_SUBSS: SSE("subss %%xmm1, %%xmm0"); break;
    case HS_SUBPD: SSE("subpd %%xmm1, %%xmm0"); break;
    case HS_SUBSD: SSE("subsd %%xmm1, %%xmm0"); break;
    case HS_MULPS: SSE("mulps %%xmm1, %%xmm0"); break;
    case HS_MULSS: SSE("mulss %%xmm1, %%xmm0"); break;
    case HS_MULPD: SSE("mulpd %%xmm1, %%xmm0"); break;
    case HS_MULSD: SSE("mulsd %%xmm1, %%xmm0"); break;
    case HS_DIVPS: SSE("divps %%xmm1, %%xmm0"); break;
    case HS_DIVSS: SSE("divss %%xmm1, %%xmm0"); break;
    case HS_DIVPD: SSE("divpd %%xmm1, %%xmm0"); break;
    case HS_DIVSD: SSE("divsd %%xmm1, %%xmm0"); break;
    case HS_MINPS: SSE("minps %%xmm1, %%xmm0"); break;
    case HS_MINSS: SSE("minss %%xmm1, %%xmm0"); break;
    case HS_MINPD: SSE("minpd %%xmm1, %%xmm0"); break;
    case HS_MINSD: SSE("minsd %%xmm1, %%xmm0"); break;
    case HS_MAXPS: SSE("maxps %%xmm1, %%xmm0"); break;
    case HS_MAXSS: SSE("maxss %%xmm1, %%xmm0"); break;
    case HS_MAXPD: SSE("maxpd %%xmm1, %%xmm0"); break;
    case HS_MAXSD: SSE("maxsd %%xmm1, %%xmm0"); break;
    case HS_SQRTPS: SSE("sqrtps %%xmm1, %%xmm0"); break;
    case HS_SQRTSS: SSE("sqrtss %%xmm1, %%xmm0"); break;
    case HS_SQRTPD: SSE("sqrtpd %%xmm1, %%xmm0"); break;
    case HS_SQRTSD: SSE("sqrtsd %%xmm1, %%xmm0"); break;
    case HS_RCPPS: SSE("rcpps %%xmm1, %%xmm0"); break;
    case HS_RCPSS: SSE("rcpss %%xmm1, %%xmm0"); break;
    case HS_RSQRTPS: SSE("rsqrtps %%xmm1, %%xmm0"); break;
    case HS_RSQRTSS: SSE("rsqrtss %%xmm1, %%xmm0"); break;
    case HS_ADDSUBPS: SSE("addsubps %%xmm1, %%xmm0"); break;
    case HS_ADDSUBPD: SSE("addsubpd %%xmm1, %%xmm0"); break;
    case HS_HADDPS: SSE("haddps %%xmm1, %%xmm0"); break;
    case HS_HADDPD: SSE("haddpd %%xmm1, %%xmm0"); break;
    case HS_HSUBPS: SSE("hsubps %%xmm1, %%xmm0"); break;
    case HS_HSUBPD: SSE("hsubpd %%xmm1, %%xmm0"); break;
    case HS_CVTPS2PD: SSE("cvtps2pd %%xmm1, %%xmm0"); break;
    case HS_CVTPD2PS: SSE("cvtpd2ps %%xmm1, %%xmm0"); break;
    case HS_CVTSS2SD: SSE("cvtss2sd %%xmm1, %%xmm0"); break;
    case HS_CVTSD2SS: SSE("cvtsd2ss %%xmm1, %%xmm0"); break;
    case HS_CVTDQ2PS: SSE("cvtdq2ps %%xmm1, %%xmm0"); break;
    case HS_CVTPS2DQ: SSE("cvtps2dq %%xmm1, %%xmm0"); break;
    case HS_CVTTPS2DQ: SSE("cvttps2dq %%xmm1, %%xmm0"); break;
    case HS_CVTDQ2PD: SSE("cvtdq2pd %%xmm1, %%xmm0"); break;
    case HS_CVTPD2DQ: SSE("cvtpd2dq %%xmm1, %%xmm0"); break;
    case HS_CVTTPD2DQ: SSE("cvttpd2dq %%xmm1, %%xmm0"); break;
    CMP4(0) CMP4(1) CMP4(2) CMP4(3) CMP4(4) CMP4(5) CMP4(6) CMP4(7)
    default: break;
    }
    h->mxcsr = out;
    return out & 0x3f;
}

/* Conversions with a general register operand and the ordered/unordered compares. */
#define CONV(text, ...)                                                                 \
    __asm__ volatile("stmxcsr %[save]\n\t"                                              \
                     "ldmxcsr %[mx]\n\t"                                                \
                     "movdqu %[a], %%xmm0\n\t"                                          \
                     "movdqu %[b], %%xmm1\n\t" text "\n\t"                              \
                     "movdqu %%xmm0, %[r]\n\t"                                          \
                     "stmxcsr %[out]\n\t"                                               \
                     "ldmxcsr %[save]"                                                  \
                     : [r] "=m"(h->r), [out] "=m"(out), [save] "=m"(save), [i] "+r"(iv), \
                       [zf] "=m"(zf), [pf] "=m"(pf), [cf] "=m"(cf)                      \
                     : [a] "m"(h->a), [b] "m"(h->b), [mx] "m"(mx)                       \
                     : "xmm0", "xmm1", "cc", "memory")

unsigned sse_host_conv(SseConvOp op, SseHost *h)
{
    uint32_t mx = masked_mxcsr(h->mxcsr), out = 0, save;
    bool wide = op >= HC_CVTSI2SS64 && op <= HC_CVTTSD2SI64;
    int64_t iv = wide ? h->i : (int32_t)h->i;
    uint8_t zf = 0, pf = 0, cf = 0;
    switch (op) {
    case HC_CVTSI2SS: CONV("cvtsi2ssl %k[i], %%xmm0"); break;
    case HC_CVTSI2SD: CONV("cvtsi2sdl %k[i], %%xmm0"); break;
    case HC_CVTSS2SI: CONV("cvtss2si %%xmm1, %k[i]"); break;
    case HC_CVTTSS2SI: CONV("cvttss2si %%xmm1, %k[i]"); break;
    case HC_CVTSD2SI: CONV("cvtsd2si %%xmm1, %k[i]"); break;
    case HC_CVTTSD2SI: CONV("cvttsd2si %%xmm1, %k[i]"); break;
    case HC_CVTSI2SS64: CONV("cvtsi2ssq %q[i], %%xmm0"); break;
    case HC_CVTSI2SD64: CONV("cvtsi2sdq %q[i], %%xmm0"); break;
    case HC_CVTSS2SI64: CONV("cvtss2si %%xmm1, %q[i]"); break;
    case HC_CVTTSS2SI64: CONV("cvttss2si %%xmm1, %q[i]"); break;
    case HC_CVTSD2SI64: CONV("cvtsd2si %%xmm1, %q[i]"); break;
    case HC_CVTTSD2SI64: CONV("cvttsd2si %%xmm1, %q[i]"); break;
    /* The MMX forms are the XMM conversions on the low 64 bits; the unused source
     * elements are zeros, which raise no flags. */
    case HC_CVTPI2PS: CONV("movq %%xmm1, %%xmm1\n\tcvtdq2ps %%xmm1, %%xmm1\n\tmovsd %%xmm1, %%xmm0"); break;
    case HC_CVTPS2PI: CONV("movq %%xmm1, %%xmm1\n\tcvtps2dq %%xmm1, %%xmm0"); break;
    case HC_CVTTPS2PI: CONV("movq %%xmm1, %%xmm1\n\tcvttps2dq %%xmm1, %%xmm0"); break;
    case HC_CVTPD2PI: CONV("cvtpd2dq %%xmm1, %%xmm0"); break;
    case HC_CVTTPD2PI: CONV("cvttpd2dq %%xmm1, %%xmm0"); break;
    case HC_COMISS: CONV("comiss %%xmm1, %%xmm0\n\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]"); break;
    case HC_UCOMISS: CONV("ucomiss %%xmm1, %%xmm0\n\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]"); break;
    case HC_COMISD: CONV("comisd %%xmm1, %%xmm0\n\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]"); break;
    case HC_UCOMISD: CONV("ucomisd %%xmm1, %%xmm0\n\tsetz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]"); break;
    case HC_COUNT: break;
    }
    if (op >= HC_COMISS && op <= HC_UCOMISD)
        iv = (zf ? X86_FL_ZF : 0) | (pf ? X86_FL_PF : 0) | (cf ? X86_FL_CF : 0);
    h->i = wide ? iv : (int32_t)iv;
    h->mxcsr = out;
    return out & 0x3f;
}

/* ---- SSE4.1 with an immediate ---- */

/* The immediate is part of the instruction, so each value is its own asm statement:
 * IMM_CASES16/256 expand to a case per value. */
#define SSE_IMM(text, n)                                                                \
    __asm__ volatile("stmxcsr %[save]\n\t"                                              \
                     "ldmxcsr %[mx]\n\t"                                                \
                     "movdqu %[a], %%xmm0\n\t"                                          \
                     "movdqu %[b], %%xmm1\n\t" text " %[imm], %%xmm1, %%xmm0\n\t"      \
                     "movdqu %%xmm0, %[r]\n\t"                                          \
                     "stmxcsr %[out]\n\t"                                               \
                     "ldmxcsr %[save]"                                                  \
                     : [r] "=m"(h->r), [out] "=m"(out), [save] "=m"(save)               \
                     : [a] "m"(h->a), [b] "m"(h->b), [mx] "m"(mx), [imm] "i"(n)         \
                     : "xmm0", "xmm1", "memory")
#define IMM_CASE(text, n) case (n): SSE_IMM(text, (n)); break;
#define IMM_CASES4(text, n) IMM_CASE(text, n) IMM_CASE(text, (n) + 1) IMM_CASE(text, (n) + 2) IMM_CASE(text, (n) + 3)
#define IMM_CASES16(text, n) IMM_CASES4(text, n) IMM_CASES4(text, (n) + 4) IMM_CASES4(text, (n) + 8) IMM_CASES4(text, (n) + 12)
#define IMM_CASES64(text, n) IMM_CASES16(text, n) IMM_CASES16(text, (n) + 16) IMM_CASES16(text, (n) + 32) IMM_CASES16(text, (n) + 48)
#define IMM_CASES256(text) IMM_CASES64(text, 0) IMM_CASES64(text, 64) IMM_CASES64(text, 128) IMM_CASES64(text, 192)

unsigned sse_host_imm(SseImmOp op, unsigned imm, SseHost *h)
{
    uint32_t mx = masked_mxcsr(h->mxcsr), out = 0, save;
    switch (op) {
    case HI_ROUNDPS:
        switch (imm & 15) { IMM_CASES16("roundps", 0) }
        break;
    case HI_ROUNDPD:
        switch (imm & 15) { IMM_CASES16("roundpd", 0) }
        break;
    case HI_ROUNDSS:
        switch (imm & 15) { IMM_CASES16("roundss", 0) }
        break;
    case HI_ROUNDSD:
        switch (imm & 15) { IMM_CASES16("roundsd", 0) }
        break;
    case HI_DPPS:
        switch (imm & 255) { IMM_CASES256("dpps") }
        break;
    case HI_DPPD:
        /* bits 5:4 and 1:0 only: the four values of each field */
        switch (imm & 0x33) {
        IMM_CASES4("dppd", 0x00) IMM_CASES4("dppd", 0x10) IMM_CASES4("dppd", 0x20) IMM_CASES4("dppd", 0x30)
        }
        break;
    }
    h->mxcsr = out;
    return out & 0x3f;
}
