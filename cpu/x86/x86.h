/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The x86 CPU core: architectural state, decoder and interpreter of a P6-class
 * processor (integer and system architecture). Used by the "interp" back end, by the
 * CPU tests (singlestep runner, differential test) without any thread, and later by
 * the translator (cpu/jit/), which reuses the decoder and the instruction helpers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "cpu/cpu-debug.h"
#include "cpu/cpu-state.h"
#include "engine/vcpu.h"

#include <glib.h>

typedef struct X86Cpu X86Cpu;

/* ---- architectural state, as tests and debuggers see it ---- */

enum { X86_EAX, X86_ECX, X86_EDX, X86_EBX, X86_ESP, X86_EBP, X86_ESI, X86_EDI };
enum { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS, X86_NSEG };

/* Segment attributes in the layout of descriptor bits 40-55 (SDM vol. 3, 3.4.5):
 * type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15. */
enum {
    X86_ATTR_TYPE = 0x000f,
    X86_ATTR_S = 0x0010,
    X86_ATTR_DPL = 0x0060,
    X86_ATTR_P = 0x0080,
    X86_ATTR_AVL = 0x1000,
    X86_ATTR_L = 0x2000,    /* 64-bit code segment (IA-32e mode only) */
    X86_ATTR_DB = 0x4000,
    X86_ATTR_G = 0x8000,
};

typedef struct X86SegState {
    uint16_t sel;
    uint16_t attr;
    uint32_t base;
    uint32_t limit; /* in bytes (granularity already applied) */
} X86SegState;

typedef struct X86State {
    uint32_t regs[8];
    uint32_t eip;
    uint32_t eflags;
    X86SegState seg[X86_NSEG];
    X86SegState ldtr, tr;
    uint32_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint32_t cr0, cr2, cr3, cr4;
    uint64_t dr[8];
    uint64_t efer;
    /* Current privilege level: derived from CS in protected mode, 3 in V86, 0 in real
     * mode; x86_cpu_set_state recomputes it from the segments. */
    unsigned cpl;
} X86State;

/* EFLAGS bits (SDM vol. 1, 3.4.3). */
enum {
    X86_FL_CF = 1u << 0,
    X86_FL_FIXED = 1u << 1,
    X86_FL_PF = 1u << 2,
    X86_FL_AF = 1u << 4,
    X86_FL_ZF = 1u << 6,
    X86_FL_SF = 1u << 7,
    X86_FL_TF = 1u << 8,
    X86_FL_IF = 1u << 9,
    X86_FL_DF = 1u << 10,
    X86_FL_OF = 1u << 11,
    X86_FL_IOPL = 3u << 12,
    X86_FL_NT = 1u << 14,
    X86_FL_RF = 1u << 16,
    X86_FL_VM = 1u << 17,
    X86_FL_AC = 1u << 18,
    X86_FL_VIF = 1u << 19,
    X86_FL_VIP = 1u << 20,
    X86_FL_ID = 1u << 21,
};
#define X86_FL_ARITH (X86_FL_CF | X86_FL_PF | X86_FL_AF | X86_FL_ZF | X86_FL_SF | X86_FL_OF)

/* Control register bits (SDM vol. 3, 2.5). */
enum {
    X86_CR0_PE = 1u << 0,
    X86_CR0_MP = 1u << 1,
    X86_CR0_EM = 1u << 2,
    X86_CR0_TS = 1u << 3,
    X86_CR0_ET = 1u << 4,
    X86_CR0_NE = 1u << 5,
    X86_CR0_WP = 1u << 16,
    X86_CR0_AM = 1u << 18,
    X86_CR0_NW = 1u << 29,
    X86_CR0_CD = 1u << 30,
    X86_CR0_PG = 1u << 31,
    X86_CR4_VME = 1u << 0,
    X86_CR4_PVI = 1u << 1,
    X86_CR4_TSD = 1u << 2,
    X86_CR4_DE = 1u << 3,
    X86_CR4_PSE = 1u << 4,
    X86_CR4_PAE = 1u << 5,
    X86_CR4_MCE = 1u << 6,
    X86_CR4_PGE = 1u << 7,
    X86_CR4_PCE = 1u << 8,
    X86_CR4_OSFXSR = 1u << 9,
    X86_CR4_OSXMMEXCPT = 1u << 10,
};
#define X86_EFER_SCE (UINT64_C(1) << 0)
#define X86_EFER_LME (UINT64_C(1) << 8)
#define X86_EFER_LMA (UINT64_C(1) << 10) /* read-only: LME and CR0.PG (SDM vol. 3, 9.8.5) */
#define X86_EFER_NXE (UINT64_C(1) << 11)

/* Exception vectors (SDM vol. 3, table 6-1). */
enum {
    X86_EXC_DE = 0, X86_EXC_DB = 1, X86_EXC_NMI = 2, X86_EXC_BP = 3, X86_EXC_OF = 4,
    X86_EXC_BR = 5, X86_EXC_UD = 6, X86_EXC_NM = 7, X86_EXC_DF = 8, X86_EXC_TS = 10,
    X86_EXC_NP = 11, X86_EXC_SS = 12, X86_EXC_GP = 13, X86_EXC_PF = 14, X86_EXC_MF = 16,
    X86_EXC_AC = 17, X86_EXC_MC = 18, X86_EXC_XM = 19,
};

/* ---- the CPU object ---- */

/* Creates the CPU for a Vcpu (memory through v->mem, ports and MMIO through the
 * vcpu_* calls) in its power-on state. Registers a memory listener. */
X86Cpu *x86_cpu_new(Vcpu *v);
void x86_cpu_free(X86Cpu *c);
/* Power-on / RESET state (SDM vol. 3, 9.1.1). */
void x86_cpu_reset(X86Cpu *c);

void x86_cpu_get_state(X86Cpu *c, X86State *s);
/* Loads the whole state; segment caches are taken as given (no descriptor reads). */
void x86_cpu_set_state(X86Cpu *c, const X86State *s);
/* The whole architectural state incl. x87/SSE, MSRs, TSC and events (snapshot.c);
 * a load checks everything first and changes nothing when it refuses. Only while the
 * CPU is not running. */
void x86_cpu_save(X86Cpu *c, CpuX86State *s);
bool x86_cpu_load(X86Cpu *c, const CpuX86State *s, GError **err);

typedef enum {
    X86_RUN_EXIT,         /* VCPU_REQ_EXIT was set */
    X86_RUN_BUDGET,       /* the instruction budget ran out */
    X86_RUN_HALT,         /* HLT with X86_RUN_STOP_ON_HLT */
    X86_RUN_EXCEPTION,    /* an exception with X86_RUN_STOP_ON_EXCEPTION */
    X86_RUN_SHUTDOWN,     /* triple fault (already reported to the engine) */
    X86_RUN_DEBUG,        /* stopped for the debugger (x86_cpu_debug_stop_info) */
} X86RunResult;

/* Options for running without the engine's vCPU thread (tests). */
enum {
    /* HLT returns X86_RUN_HALT (EIP after the HLT) instead of waiting. */
    X86_RUN_STOP_ON_HLT = 1u << 0,
    /* An exception returns X86_RUN_EXCEPTION with the state of the faulting (or, for
     * traps, the following) instruction instead of being delivered. */
    X86_RUN_STOP_ON_EXCEPTION = 1u << 1,
    /* Decode every instruction afresh (no code cache): for cross-checks. */
    X86_RUN_NO_CACHE = 1u << 2,
};
void x86_cpu_set_run_flags(X86Cpu *c, unsigned flags);

/* Runs until an exit request, a stop condition, or max_insns instructions.
 * UINT64_MAX: no budget, and then the translator's chained blocks are not counted in
 * x86_cpu_insn_count (UINT64_MAX - 1 counts them: -d jit-stats). */
X86RunResult x86_cpu_run(X86Cpu *c, uint64_t max_insns);
/* The last exception a X86_RUN_EXCEPTION stop reported; has_error tells whether
 * error holds an error code. */
int x86_cpu_last_exception(X86Cpu *c, bool *has_error, uint32_t *error);
/* Instructions retired since creation. */
uint64_t x86_cpu_insn_count(X86Cpu *c);

/* The dispatcher's counters (-d jit-stats): what invalidates decoded blocks and
 * chains, and how blocks run. */
typedef struct X86ExecStats {
    uint64_t tlb_flushes;      /* whole-TLB flushes (CR3/CR4/CR0 writes, task switches) */
    uint64_t tlb_page_flushes; /* INVLPG */
    uint64_t tlb_walks;        /* data TLB misses that walked the page tables */
    uint64_t tlb_way1_hits;    /* misses way 1 answered in C (x86_tlb_fill's swap) */
    uint64_t cs_changes;       /* CS loads that changed base, limit or operand size */
    uint64_t cs_loads;         /* all CS loads */
    uint64_t cpl_changes;      /* CPL really changed */
    uint64_t code_flushes;     /* all decoded blocks dropped (cache full, attach, ...) */
    uint64_t smc_stores;       /* stores into decoded code (the page's blocks dropped) */
    uint64_t blocks_decoded;   /* blocks decoded into the cache */
    uint64_t blocks_run;       /* blocks the dispatcher ran (not counting chained ones) */
    uint64_t blocks_cut;       /* ... of them interpreted: cut by the budget or a breakpoint, or uncached */
    uint64_t steps;            /* single instructions (TF, breakpoints, fetch across pages) */
    uint64_t steps_shadow;     /* ... of them: the instruction after STI, MOV SS, POP SS */
    uint64_t steps_fetch;      /* ... the dispatcher's uncached ones (no block at CS:EIP) */
    uint64_t cross_runs;       /* instructions across a page end run at the end of a block */
    uint64_t interrupts;       /* external interrupts and NMIs delivered */
} X86ExecStats;
void x86_cpu_get_exec_stats(X86Cpu *c, X86ExecStats *s);
/* Registers and mode, one line, for errors and -d. */
char *x86_cpu_describe(X86Cpu *c);

/* ---- the debugger (debug.c; cpu/cpu-debug.h) ---- */

/* Breakpoints on linear code addresses (CS base + EIP) and watchpoints on the linear
 * addresses of data accesses; they survive x86_cpu_load and reset. Only while the CPU is
 * not running. */
bool x86_cpu_debug_insert(X86Cpu *c, CpuDebugKind kind, uint64_t addr, uint32_t len, GError **err);
bool x86_cpu_debug_remove(X86Cpu *c, CpuDebugKind kind, uint64_t addr, uint32_t len);
void x86_cpu_debug_remove_all(X86Cpu *c);
/* See CpuDebugOps.resume. */
void x86_cpu_debug_resume(X86Cpu *c, bool step);
void x86_cpu_debug_stop_info(X86Cpu *c, CpuDebugStop *out);
/* The page walk without side effects (mmu.c). */
bool x86_cpu_debug_translate(X86Cpu *c, uint64_t lin, uint64_t *phys);
/* The CpuDebugOps of the back ends built on this CPU (interp, tcg). */
extern const struct CpuDebugOps x86_debug_ops;

/* ---- the decoder (shared with the translator) ---- */

typedef struct X86Insn X86Insn;
typedef void (*X86Handler)(X86Cpu *c, const X86Insn *i);

/* Prefix and decode flags (X86Insn.pfx). */
enum {
    X86_PFX_OP32 = 1u << 0,    /* effective operand size is 32 bits */
    X86_PFX_AD32 = 1u << 1,    /* effective address size is 32 bits */
    X86_PFX_LOCK = 1u << 2,
    X86_PFX_REP = 1u << 3,     /* F3 */
    X86_PFX_REPNE = 1u << 4,   /* F2 */
    X86_PFX_SEG = 1u << 5,     /* a segment override was present */
    X86_PFX_OPSIZE = 1u << 6,  /* a 66 prefix was present (SSE: mandatory prefix) */
    X86_PFX_MEM = 1u << 7,     /* the ModRM operand is memory */
};

/* Operand kinds for X86Insn.rm/base/index that are not registers. */
#define X86_REG_NONE 16 /* after R15: the CPU's always-zero slot */

/* One decoded instruction. The interpreter calls handler with EIP already advanced
 * past the instruction (X86Cpu's prev_eip holds its start); the translator may call
 * the same handler for instructions it does not compile. */
struct X86Insn {
    X86Handler handler;
    uint32_t disp;      /* displacement, or the moffs address */
    uint32_t imm;       /* immediate (sign- or zero-extended as the opcode says) */
    uint16_t imm2;      /* far pointer selector, ENTER nesting level */
    uint16_t opcode;    /* 00-FF, 0F00-0FFF */
    uint8_t len;
    uint8_t modrm;
    uint8_t reg;        /* ModRM.reg, or the register coded in the opcode */
    uint8_t rm;         /* ModRM.rm register when the operand is a register */
    uint8_t base;       /* memory operand: base register or X86_REG_NONE */
    uint8_t index;      /* index register or X86_REG_NONE */
    uint8_t scale;      /* shift count 0-3 */
    uint8_t seg;        /* effective segment of the memory operand */
    uint8_t pfx;        /* X86_PFX_* */
    uint8_t flags;      /* X86_INSN_* */
    uint8_t rex;        /* 64-bit mode: the REX prefix (40h-4Fh) in effect, or 0. With one,
                           byte registers 4-7 are SPL-DIL, not AH-BH; reg, rm, base and
                           index already include REX.R, .B and .X (0-15) */
};

/* Decode flags (X86Insn.flags). */
enum {
    X86_INSN_END_BLOCK = 1u << 0,   /* changes control flow or mode: ends a block */
    X86_INSN_MODRM = 1u << 1,
    X86_INSN_STRING = 1u << 2,      /* a string instruction (REP-able) */
    /* 64-bit mode only (x86_decode64): */
    X86_INSN_OP64 = 1u << 3,        /* 64-bit operand size (REX.W, or an opcode whose
                                       default is 64 bits: PUSH/POP, near branches) */
    X86_INSN_AD64 = 1u << 4,        /* 64-bit address size (no 67h prefix) */
    X86_INSN_RIPREL = 1u << 5,      /* the memory operand is disp + the next
                                       instruction's RIP (base and index none) */
    X86_INSN_IMM64 = 1u << 6,       /* MOV r64, imm64 (B8+r) or a 64-bit moffs (A0-A3):
                                       the value is x86_insn_imm64 */
};

/* The 64-bit immediate of B8+r with REX.W (imm, high half in disp), or the 64-bit
 * moffs of A0-A3 (disp, high half in imm): neither form has the other field. */
static inline uint64_t x86_insn_imm64(const X86Insn *i)
{
    if ((i->opcode & 0xfc) == 0xa0)
        return i->disp | (uint64_t)i->imm << 32;
    return i->imm | (uint64_t)i->disp << 32;
}

typedef enum {
    X86_DECODE_OK = 0,
    X86_DECODE_MORE = -1,   /* the bytes end inside the instruction */
    X86_DECODE_TOO_LONG = -2, /* longer than 15 bytes: #GP(0) */
} X86DecodeResult;

/* Decodes one instruction from bytes[0..avail). code32 is the CS default size.
 * Undefined opcodes decode to a handler that raises #UD when executed (so the
 * exception happens in order, after earlier instructions). */
X86DecodeResult x86_decode(const uint8_t *bytes, unsigned avail, bool code32, X86Insn *out);
/* The same in 64-bit mode (SDM vol. 2, 2.2): REX, 64-bit operand and address sizes,
 * RIP-relative operands, imm64/moffs64, the opcodes that are invalid there (#UD).
 * Phase 1 of long mode decodes only: the handler of a valid instruction stops the VM
 * as not implemented yet. */
X86DecodeResult x86_decode64(const uint8_t *bytes, unsigned avail, X86Insn *out);
