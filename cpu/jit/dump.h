/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/jit: -d in_asm,out_asm, the guest code of each block the translator
 * compiles and the host code it became, disassembled by capstone (dump.c). */
#pragma once

#include "cpu/x86/x86.h"

#include <stddef.h>
#include <stdint.h>

/* Logs the block at CS:EIP (insns[0..n), as the dispatcher decoded it) and its host
 * code (size bytes at code, the executable view) to the areas -d enabled. host_at
 * (n + 1 offsets into the code, or NULL): where each instruction's host code starts,
 * then where the out-of-line code (slow paths, early exits) starts. */
void jit_dump_block(X86Cpu *c, const X86Insn *insns, unsigned n, const void *code, size_t size,
                    const uint32_t *host_at);
