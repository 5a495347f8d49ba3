/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's x87 and SSE units as the guest's arithmetic: the host is an x86-64 CPU
 * whose floating-point units compute exactly what a P6-class guest's do (the same
 * 80-bit and IEEE formats, roundings, NaN rules and transcendental microcode), so each
 * guest operation runs as the same host instruction under the guest's control word or
 * MXCSR. The host units always run with exceptions masked; the callers apply the
 * guest's masks to the flags returned (private to cpu/x86). */
#pragma once

#include "cpu/x86/cpu-internal.h"

/* x87 operations. a = ST(0) (or the only operand), b = the second operand (ST(i) or
 * ST(1)); results: r0 = the new ST(0), r1 = the new ST(1). m = the memory operand. */
typedef enum {
    /* r0 = a op b (80-bit operands) */
    HX_ADD, HX_MUL, HX_SUB, HX_SUBR, HX_DIV, HX_DIVR,
    /* r0 = a op m: m32fp, m64fp, m16int, m32int, in the order of the six ops above */
    HX_ADD_M32, HX_MUL_M32, HX_SUB_M32, HX_SUBR_M32, HX_DIV_M32, HX_DIVR_M32,
    HX_ADD_M64, HX_MUL_M64, HX_SUB_M64, HX_SUBR_M64, HX_DIV_M64, HX_DIVR_M64,
    HX_ADD_I16, HX_MUL_I16, HX_SUB_I16, HX_SUBR_I16, HX_DIV_I16, HX_DIVR_I16,
    HX_ADD_I32, HX_MUL_I32, HX_SUB_I32, HX_SUBR_I32, HX_DIV_I32, HX_DIVR_I32,
    /* comparisons: only the status word */
    HX_COM, HX_UCOM, HX_COM_M32, HX_COM_M64, HX_COM_I16, HX_COM_I32, HX_TST, HX_XAM,
    /* r0 = m converted */
    HX_LD_M32, HX_LD_M64, HX_LD_I16, HX_LD_I32, HX_LD_I64, HX_LD_BCD,
    /* m = a converted (FIST/FISTTP/FBSTP round or truncate by their rules) */
    HX_ST_M32, HX_ST_M64, HX_ST_I16, HX_ST_I32, HX_ST_I64, HX_ST_BCD,
    HX_STT_I16, HX_STT_I32, HX_STT_I64,
    /* r0 = f(a) */
    HX_SQRT, HX_RNDINT, HX_F2XM1, HX_SIN, HX_COS,
    /* r0, r1 = f(a): FSINCOS (cos, sin), FPTAN (1.0, tan), FXTRACT (significand, exponent);
     * when FSINCOS/FPTAN find the operand out of range (C2) only r0 = a is set */
    HX_SINCOS, HX_PTAN, HX_XTRACT,
    /* r0 = f(a, b) with b = ST(1): FPATAN, FYL2X, FYL2XP1 (which pop), FSCALE, FPREM,
     * FPREM1 (which keep ST(1)) */
    HX_PATAN, HX_YL2X, HX_YL2XP1, HX_SCALE, HX_PREM, HX_PREM1,
    /* r0 = the constant, rounded by the control word */
    HX_LD1, HX_LDL2T, HX_LDL2E, HX_LDPI, HX_LDLG2, HX_LDLN2, HX_LDZ,
    HX_COUNT
} X87HostOp;

typedef struct X87Host {
    X87Reg a, b;
    X87Reg r0, r1;
    union {
        float f;
        double d;
        int16_t w;
        int32_t l;
        int64_t q;
        uint8_t bytes[10];
    } m;
    uint16_t cw;   /* the guest's control word */
    uint16_t sw;   /* the host's status word after the operation */
} X87Host;

/* Runs op with the guest's precision and rounding control. exact = false: every
 * exception masked, the masked response. exact = true: the guest's overflow, underflow
 * and precision masks apply, so an unmasked overflow or underflow leaves the biased
 * result the guest's exception handler sees (SDM vol. 1, 8.5.4, 8.5.5); only for
 * operations that completed without invalid, denormal or zero-divide exceptions. */
void x87_host_run(X87HostOp op, X87Host *h, bool exact);

/* SSE/SSE2/SSE3 floating-point operations on 128-bit operands: r = a op b with the
 * scalar forms keeping a's upper elements. */
typedef enum {
    HS_ADDPS, HS_ADDSS, HS_ADDPD, HS_ADDSD,
    HS_SUBPS, HS_SUBSS, HS_SUBPD, HS_SUBSD,
    HS_MULPS, HS_MULSS, HS_MULPD, HS_MULSD,
    HS_DIVPS, HS_DIVSS, HS_DIVPD, HS_DIVSD,
    HS_MINPS, HS_MINSS, HS_MINPD, HS_MINSD,
    HS_MAXPS, HS_MAXSS, HS_MAXPD, HS_MAXSD,
    HS_SQRTPS, HS_SQRTSS, HS_SQRTPD, HS_SQRTSD,
    HS_RCPPS, HS_RCPSS, HS_RSQRTPS, HS_RSQRTSS,
    HS_ADDSUBPS, HS_ADDSUBPD, HS_HADDPS, HS_HADDPD, HS_HSUBPS, HS_HSUBPD,
    /* conversions between the XMM formats */
    HS_CVTPS2PD, HS_CVTPD2PS, HS_CVTSS2SD, HS_CVTSD2SS,
    HS_CVTDQ2PS, HS_CVTPS2DQ, HS_CVTTPS2DQ, HS_CVTDQ2PD, HS_CVTPD2DQ, HS_CVTTPD2DQ,
    /* CMPPS/CMPSS/CMPPD/CMPSD with predicate 0-7: HS_CMPPS + 4 * predicate */
    HS_CMPPS, HS_CMPSS, HS_CMPPD, HS_CMPSD,
    HS_COUNT = HS_CMPPS + 32
} SseHostOp;

/* Conversions with a general register or an MMX register (64 bits in a.q[0] / r.q[0]). */
typedef enum {
    HC_CVTSI2SS, HC_CVTSI2SD,         /* r = a with its low element from the integer i */
    HC_CVTSS2SI, HC_CVTTSS2SI, HC_CVTSD2SI, HC_CVTTSD2SI, /* i = from b's low element */
    HC_CVTPI2PS,                      /* r = a with its low two floats from b.q[0] */
    HC_CVTPS2PI, HC_CVTTPS2PI, HC_CVTPD2PI, HC_CVTTPD2PI, /* r.q[0] = from b */
    HC_COMISS, HC_UCOMISS, HC_COMISD, HC_UCOMISD, /* i = ZF, PF, CF as EFLAGS bits */
    /* The REX.W forms of 64-bit mode: a 64-bit integer i. */
    HC_CVTSI2SS64, HC_CVTSI2SD64, HC_CVTSS2SI64, HC_CVTTSS2SI64, HC_CVTSD2SI64, HC_CVTTSD2SI64,
    HC_COUNT
} SseConvOp;

typedef struct SseHost {
    XmmReg a, b, r;
    int64_t i;        /* the general register operand or result (32 bits but in the
                         ...64 conversions) */
    uint32_t mxcsr;   /* in: the guest's MXCSR; out: the host's after the operation */
} SseHost;

/* Runs the operation with the guest's rounding, FTZ and DAZ controls and every
 * exception masked; returns the exception flags it raised (MXCSR bits 0-5). */
unsigned sse_host_run(SseHostOp op, SseHost *h);
unsigned sse_host_conv(SseConvOp op, SseHost *h);

/* SSE4.1 operations with an imm8 control, run as the host's own instruction with that
 * immediate: r = op(a, b). ROUND* use imm8[3:0] and DPPD imm8[5:4] and [1:0] (the other
 * bits are ignored by the processor, so they are dropped here); DPPS all eight. The
 * host needs SSE4.1, as it needs SSE3 for HADDPS. */
typedef enum { HI_ROUNDPS, HI_ROUNDPD, HI_ROUNDSS, HI_ROUNDSD, HI_DPPS, HI_DPPD } SseImmOp;
unsigned sse_host_imm(SseImmOp op, unsigned imm, SseHost *h);
