/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/jit: a small x86-64 instruction emitter (REX, ModRM, SIB, immediates)
 * without tables, and the code cache it writes into. Encodings follow SDM vol. 2,
 * chapter 2 (instruction format) and the opcode map of appendix A. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Host registers (the ModRM/REX numbering). */
enum {
    H_RAX, H_RCX, H_RDX, H_RBX, H_RSP, H_RBP, H_RSI, H_RDI,
    H_R8, H_R9, H_R10, H_R11, H_R12, H_R13, H_R14, H_R15,
    H_NONE = -1,
};

/* Host condition codes: the low nibble of Jcc/SETcc, the same as the guest's. */
enum { HC_O, HC_NO, HC_B, HC_AE, HC_E, HC_NE, HC_BE, HC_A, HC_S, HC_NS, HC_P, HC_NP, HC_L, HC_GE, HC_LE, HC_G };

/* Writes into the RW view; p - start is the offset, rx the executable address of
 * start. A full buffer sets overflow and drops further bytes. */
typedef struct JitEmit {
    uint8_t *start, *p, *end;
    uintptr_t rx;
    bool overflow;
} JitEmit;

static inline size_t emit_pos(const JitEmit *e)
{
    return (size_t)(e->p - e->start);
}

void emit_u8(JitEmit *e, uint8_t v);
void emit_u16(JitEmit *e, uint16_t v);
void emit_u32(JitEmit *e, uint32_t v);
void emit_u64(JitEmit *e, uint64_t v);

/* A memory operand [base + index * 2^scale + disp]; base or index H_NONE. With
 * direct set it is the register base itself (ModRM.mod = 11b): the translator's
 * register cache hands out guest registers held in host registers this way, so one
 * operand type serves both (never for LEA). */
typedef struct JitMem {
    int base, index;
    unsigned scale;
    int32_t disp;
    bool direct;
} JitMem;

static inline JitMem jreg(int r)
{
    return (JitMem){ r, H_NONE, 0, 0, true };
}

static inline JitMem jm(int base, int32_t disp)
{
    return (JitMem){ base, H_NONE, 0, disp };
}
static inline JitMem jmx(int base, int index, int32_t disp)
{
    return (JitMem){ base, index, 0, disp };
}

/* Opcode op (one byte, or 0x0Fxx for two) with operand size 1, 2, 4 or 8 (66h or
 * REX.W), ModRM.reg = reg (register or /digit) and a register or memory r/m. */
void emit_op_rr(JitEmit *e, unsigned size, unsigned op, int reg, int rm);
void emit_op_rm(JitEmit *e, unsigned size, unsigned op, int reg, JitMem m);
/* An SSE instruction: mandatory prefix pfx (0, 66h, F3h or F2h), REX.W when w, opcode
 * op (0x0Fxx, or 0x0F38xx / 0x0F3Axx), ModRM.reg = reg (an XMM register, or a general
 * one where the instruction says) and r/m m (direct: XMM or general register). */
void emit_sse(JitEmit *e, uint8_t pfx, bool w, uint32_t op, int reg, JitMem m);

/* Common instructions. */
void emit_mov_rr(JitEmit *e, unsigned size, int dst, int src);
void emit_load(JitEmit *e, unsigned size, int dst, JitMem m);   /* 1, 2: zero-extended */
void emit_store(JitEmit *e, unsigned size, JitMem m, int src);
void emit_store_imm(JitEmit *e, unsigned size, JitMem m, uint32_t imm);
void emit_mov_ri32(JitEmit *e, int dst, uint32_t imm);
void emit_mov_ri64(JitEmit *e, int dst, uint64_t imm);
void emit_lea(JitEmit *e, unsigned size, int dst, JitMem m);
/* ALU group 1 (ADD OR ADC SBB AND SUB XOR CMP = 0-7). */
void emit_alu_rr(JitEmit *e, unsigned size, unsigned aluop, int dst, int src);
void emit_alu_rm(JitEmit *e, unsigned size, unsigned aluop, int dst, JitMem m);
void emit_alu_ri(JitEmit *e, unsigned size, unsigned aluop, int dst, uint32_t imm);
void emit_alu_mi(JitEmit *e, unsigned size, unsigned aluop, JitMem m, uint32_t imm);
void emit_test_rr(JitEmit *e, unsigned size, int a, int b);
void emit_shift_ri(JitEmit *e, unsigned size, unsigned sub, int dst, unsigned count); /* sub 4 SHL, 5 SHR */
void emit_movzx(JitEmit *e, unsigned from, int dst, int src); /* from 1 or 2 to 32 bits */
void emit_setcc(JitEmit *e, unsigned cc, int r); /* r = 1 if host condition cc holds, else 0 (SETcc, MOVZX) */
void emit_push(JitEmit *e, int r);
void emit_pop(JitEmit *e, int r);
void emit_ret(JitEmit *e);
/* CALL to an absolute address (through RAX when out of rel32 reach). */
void emit_call(JitEmit *e, const void *fn);
/* Forward branches: return the offset of the rel32 field, patched by emit_patch. */
size_t emit_jcc_fwd(JitEmit *e, unsigned cc);
size_t emit_jmp_fwd(JitEmit *e);
/* Branches to a known (earlier or later) offset. */
void emit_jcc_to(JitEmit *e, unsigned cc, size_t target);
void emit_jmp_to(JitEmit *e, size_t target);
/* Makes the rel32 at field point at target (both offsets in the buffer). */
void emit_patch(JitEmit *e, size_t field, size_t target);

/* ---- the code cache (cache.c) ---- */

typedef struct JitCache JitCache;

/* size bytes of memfd shared memory mapped twice, writable and executable, never
 * both at one address. NULL with *why set when the host refuses. */
JitCache *jit_cache_new(size_t size, const char **why);
void jit_cache_free(JitCache *jc);
/* An emitter over the free space. */
void jit_cache_begin(JitCache *jc, JitEmit *e);
/* Keeps what e emitted; returns its executable address, NULL when it overflowed. */
void *jit_cache_commit(JitCache *jc, JitEmit *e);
/* Forgets all code (the caller drops every pointer into it). */
void jit_cache_flush(JitCache *jc);
/* The executable address of a byte of the read-write view. */
uintptr_t jit_cache_rx(const JitCache *jc, const uint8_t *rw);
unsigned jit_cache_flushes(const JitCache *jc);
size_t jit_cache_size(const JitCache *jc);
