/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/jit: -d in_asm,out_asm, the guest code of each block the translator
 * compiles and the host code it became, disassembled by capstone (dump.c). */
#pragma once

#include "cpu/x86/x86.h"

#include <stddef.h>

/* Logs the block at CS:EIP (insns[0..n), as the dispatcher decoded it) and its host
 * code (size bytes at code, the executable view) to the areas -d enabled. */
void jit_dump_block(X86Cpu *c, const X86Insn *insns, unsigned n, const void *code, size_t size);
