/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Which CPUID feature each instruction belongs to (SDM vol. 2, each instruction's
 * "CPUID Feature Flag" column), so a CPU model without it raises #UD. Instructions of
 * the 486 (BSWAP, CMPXCHG, XADD, INVLPG, WBINVD) and CPUID exist in every model.
 * LZCNT is not gated here: without its CPUID bit F3 0F BD is BSR, not #UD (shift.c). */
#include "cpu/x86/cpu-internal.h"

/* The P6 family's own instructions without a feature flag of their own (the long
 * NOP 0F 1F, the reserved-NOP hints, RDPMC, FCMOV/FCOMI) come with CMOV: every P6
 * model has it, a 486 or Pentium does not. */
#define P6 CPUID_CMOV

static uint64_t simd_features(const X86Insn *i)
{
    uint16_t op = i->opcode;
    bool f3 = i->pfx & X86_PFX_REP, f2 = i->pfx & X86_PFX_REPNE;
    bool p66 = !f3 && !f2 && (i->pfx & X86_PFX_OPSIZE);
    switch (op) {
    case 0x0f12:
        if (f2 || f3)
            return CPU_FEATURE_ECX(CPUID_ECX_SSE3); /* MOVDDUP, MOVSLDUP */
        break;
    case 0x0f16:
        if (f3)
            return CPU_FEATURE_ECX(CPUID_ECX_SSE3); /* MOVSHDUP */
        break;
    case 0x0ff0: case 0x0fd0: case 0x0f7c: case 0x0f7d:
        return CPU_FEATURE_ECX(CPUID_ECX_SSE3); /* LDDQU, ADDSUBPx, HADDPx, HSUBPx */
    /* SSE2 in every form, the MMX-register ones included. */
    case 0x0f5a: case 0x0f5b: case 0x0fe6: case 0x0fc3: case 0x0fd6:
    case 0x0f6c: case 0x0f6d: case 0x0fd4: case 0x0ff4: case 0x0ffb:
        return CPUID_SSE2;
    }
    if (p66 || f2)
        return CPUID_SSE2;
    if (f3)
        return op < 0x0f60 || op == 0x0fc2 ? CPUID_SSE : CPUID_SSE2;
    if (op < 0x0f60 || op == 0x0fc2 || op == 0x0fc6)
        return CPUID_SSE;
    switch (op) {
    /* The integer instructions SSE added to the MMX registers. */
    case 0x0f70: case 0x0fc4: case 0x0fc5: case 0x0fd7: case 0x0fda: case 0x0fde: case 0x0fe0:
    case 0x0fe3: case 0x0fe4: case 0x0fe7: case 0x0fea: case 0x0fee: case 0x0ff6: case 0x0ff7:
        return CPUID_SSE;
    }
    return CPUID_MMX;
}

/* The 0F 38 and 0F 3A maps: SSSE3, then SSE4.1, and SSE4.2's few. */
static uint64_t three_byte_features(uint16_t op)
{
    switch (op) {
    case 0x3800 ... 0x380b: case 0x381c ... 0x381e: case 0x3a0f:
        return CPU_FEATURE_ECX(CPUID_ECX_SSSE3);
    case 0x3837: case 0x38f0: case 0x38f1: case 0x3a60 ... 0x3a63:
        return CPU_FEATURE_ECX(CPUID_ECX_SSE42);                    /* PCMPGTQ, CRC32, PCMPxSTRx */
    }
    return CPU_FEATURE_ECX(CPUID_ECX_SSE41);
}

uint64_t x86_insn_features(const X86Insn *i)
{
    uint16_t op = i->opcode;
    bool mem = i->pfx & X86_PFX_MEM;
    switch (op) {
    case 0xda:
        return !mem && i->reg <= 3 ? P6 : 0;                       /* FCMOVcc */
    case 0xdb:
        if (mem)
            return i->reg == 1 ? CPU_FEATURE_ECX(CPUID_ECX_SSE3) : 0; /* FISTTP */
        return i->reg <= 3 || i->reg == 5 || i->reg == 6 ? P6 : 0;  /* FCMOVNcc, FUCOMI, FCOMI */
    case 0xdd:
        return mem && i->reg == 1 ? CPU_FEATURE_ECX(CPUID_ECX_SSE3) : 0;
    case 0xdf:
        if (mem)
            return i->reg == 1 ? CPU_FEATURE_ECX(CPUID_ECX_SSE3) : 0;
        return i->reg == 5 || i->reg == 6 ? P6 : 0;                 /* FUCOMIP, FCOMIP */
    case 0x0f30: case 0x0f32:
        return CPUID_MSR;
    case 0x0f31:
        return CPUID_TSC;
    case 0x0f33:
        return P6;                                                  /* RDPMC */
    case 0x0f34: case 0x0f35:
        return CPUID_SEP;
    case 0x0f18:
        return CPUID_SSE;                                           /* PREFETCHh */
    case 0x0f19 ... 0x0f1f:
        return P6;
    case 0x0f40 ... 0x0f4f:
        return CPUID_CMOV;
    case 0x0fc7:
        if (i->reg == 1 && (i->rex & 8))
            return CPU_FEATURE_ECX(CPUID_ECX_CX16);                  /* CMPXCHG16B */
        return i->reg == 1 ? CPUID_CX8 : 0;
    case 0x0fb8:
        return CPU_FEATURE_ECX(CPUID_ECX_POPCNT);
    case 0x3800 ... 0x38ff: case 0x3a00 ... 0x3aff:
        return three_byte_features(op);
    case 0x0fae:
        switch (i->reg) {
        case 0: case 1: return mem ? CPUID_FXSR : 0;
        case 2: case 3: return CPUID_SSE;                           /* LDMXCSR, STMXCSR */
        case 5: case 6: return mem ? 0 : CPUID_SSE2;                /* LFENCE, MFENCE */
        case 7: return mem ? CPUID_CLFSH : CPUID_SSE;               /* CLFLUSH, SFENCE */
        }
        return 0;
    }
    return x86_simd_opcode(op) ? simd_features(i) : 0;
}
