/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What simd.c shares with simd-sse4.c: the SSE mode check, vector operands and the
 * MXCSR exception rule (private to cpu/x86). */
#pragma once

#include "cpu/x86/cpu-internal.h"

/* #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS (SDM vol. 3, table 13-1). */
void simd_check_sse(X86Cpu *c);
/* n bytes of the memory operand; a 16-byte one with aligned set must be 16-byte
 * aligned (#GP(0)), as legacy SSE requires (SDM vol. 1, 4.1.1). */
void simd_read(X86Cpu *c, const X86Insn *i, void *buf, unsigned n, bool aligned);
void simd_write(X86Cpu *c, const X86Insn *i, const void *buf, unsigned n, bool aligned);
/* The r/m operand: an XMM register, or n bytes of memory zero-extended. */
void simd_rm_vec(X86Cpu *c, const X86Insn *i, XmmReg *v, unsigned n, bool aligned);
/* Accumulates MXCSR flags; an unmasked one raises #XM (CR4.OSXMMEXCPT) or #UD. */
void simd_sse_flags(X86Cpu *c, unsigned flags);

/* SSE4.1, SSE4.2 and CRC32 in the 0F 38 / 0F 3A maps (simd-sse4.c). */
X86Handler x86_bind_sse4(X86Insn *i);

static inline int sat_s8(int v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
static inline int sat_u8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
static inline int sat_s16(int v) { return v < -32768 ? -32768 : v > 32767 ? 32767 : v; }
static inline int sat_u16(int v) { return v < 0 ? 0 : v > 65535 ? 65535 : v; }
