/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/jit: the translator's state (one Jit per vCPU, the translation in
 * progress) shared by translate.c and chain.c. */
#pragma once

#include "cpu/jit/emit.h"
#include "cpu/jit/jit.h"
#include "cpu/x86/cpu-internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DEFAULT_CACHE_SIZE ((size_t)32 << 20)
#define MIN_CACHE_SIZE ((size_t)16 << 10)
#define MAX_STUBS 64
#define MAX_EXITS 64
#define MAX_INSNS 64 /* exec.c forms blocks of up to 48 */
#define JIT_CALL_SLOTS (0x200 * 8)

typedef unsigned (*JitFn)(X86Cpu *c);


enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/* An out-of-line path of instruction k: its handler, then back to resume. rc_host
 * and rc_dirty: the register cache as instruction k left it (written back before the
 * handler, reloaded after it). */
typedef struct Stub {
    size_t fields[8];
    unsigned nfields;
    unsigned k;
    size_t resume;
    int8_t rc_host[8];
    uint8_t rc_dirty;
} Stub;

/* The register cache (translate.c): guest registers EAX..EDI held in host registers
 * within a block, bit r of a mask standing for guest register r. Loads happen only at
 * an instruction's start; an instruction is emitted, and emitted again with the
 * registers it asked for (want) loaded, or with those it used in pieces (small: byte
 * registers) written back and left in memory. */
typedef struct RegCache {
    int8_t host[8];                /* host register holding guest register r, or -1 */
    uint8_t dirty;                 /* the host copy is newer than c->regs */
    uint8_t want, small, used;     /* what the instruction being emitted touched */
    uint8_t nocache;               /* left in memory for this instruction */
    uint32_t stamp[8], clock;      /* last use, for eviction */
    bool on;
} RegCache;

/* A chainable exit's description, stored in the code cache right after its guard
 * (never executed): offsets from the exit's start of the fields run_block patches. */
typedef struct JitSite {
    uint16_t info;            /* this record */
    uint16_t guard;           /* the guard's first instruction */
    uint16_t lin, epoch, acc, tlbe, lin_page, phys, vptr, version, total, insns, jmp; /* imm32/imm64/rel32 fields */
    uint16_t count;           /* instructions of the block done at this exit */
    uint16_t retargets;       /* times linked to another target (RET, ...): stops linking */
    uint16_t lookup;          /* "MOV R13D, count; JMP the lookup routine", for such an exit */
} JitSite;

/* An entry of the lookup table of exits whose target changes (JitSite.retargets):
 * the same facts a linked exit's guard holds, for the block at linear address lin. */
#define JIT_IB_SIZE 4096
typedef struct JitIbEntry {
    uint32_t lin, epoch, acc, n;     /* n: the block's instructions */
    uint64_t tlbe, phys, vptr;       /* X86Tlb *, physical page, const uint32_t * */
    uint32_t version, pad;
    uint64_t insns, body;            /* const X86Insn *, the block's body (RX) */
} JitIbEntry;
/* JitLink.site of a lookup that missed: run_block fills the entry. */
#define JIT_IB_MISS ((uint8_t *)(uintptr_t)1)

/* The exit a block last left through unlinked, for run_block to link. */
typedef struct JitLink {
    uint8_t *site;            /* its JitSite (read-write view), NULL: none */
    uint32_t eip;             /* the EIP it left with */
    uint32_t epoch;           /* chain_epoch then: linked only if nothing moved it since */
} JitLink;

typedef struct Tr {
    JitEmit e;
    X86Cpu *c;
    struct Jit *j;
    const X86Insn *insns;
    unsigned n;
    uint32_t off[MAX_INSNS + 1];   /* EIP of instruction k minus the entry EIP */
    size_t epilogue;               /* returns EAX */
    Stub stubs[MAX_STUBS];
    unsigned nstubs;
    size_t exit_fields[MAX_EXITS]; /* jumps to "return exit_count[k]" */
    unsigned exit_count[MAX_EXITS];
    unsigned nexits;
    int known_cc;                  /* cc_op as inline code left it, or -1 */
    bool dead;                     /* the current instruction's flags are never read */
    bool called;                   /* a handler call was emitted in the block's main path */
    bool deadv[MAX_INSNS];         /* per instruction, from flag_liveness */
    bool failed;                   /* too many stubs: fall back to calls only */
    unsigned n_inline;
    RegCache rc;
    uint8_t seg_hoist;             /* segments the block's entry checked (bit per S_*) */
    bool hflags;                   /* the host's flags are known_cc's (32-bit) now */
    bool hflags_out;               /* they will be after the instruction being emitted */
} Tr;

typedef struct Jit {
    JitLink link;                  /* written by generated code */
    JitCache *cache;
    FILE *perf;
    JitStats stats;
    size_t body;                   /* offset of a block's body after its prologue */
    bool no_chain;                 /* $VIREO_JIT_CHAIN=0 */
    unsigned inline_mask;          /* $VIREO_JIT_INLINE: IN_* forms compiled inline */
    uint64_t *calls;               /* -d jit-stats: handler calls by opcode and reg (JIT_CALL_SLOTS) */
    uintptr_t ib_routine;          /* the lookup routine (RX), at the cache's start */
    JitIbEntry ib[JIT_IB_SIZE];
    Tr tr;                         /* the translation in progress (one per vCPU) */
} Jit;

/* Forms compiled inline, a debugging aid ($VIREO_JIT_INLINE, a mask of these): a
 * translator bug shows which form it is in by bisection. */
enum {
    IN_ALU = 1, IN_MEM = 2, IN_MOV = 4, IN_TEST = 8, IN_INCDEC = 16, IN_LEA = 32, IN_BRANCH = 64,
    IN_SHIFT = 128, IN_IMUL = 256, IN_DEADFLAGS = 512, IN_STACK = 1024, IN_MISC = 2048,
    IN_REGCACHE = 4096, IN_SEGCHECK = 8192, IN_HOSTFLAGS = 16384, IN_CALLCHAIN = 32768,
    IN_ALL = 65535,
};

#define CPU(field) jm(H_RBX, (int32_t)offsetof(X86Cpu, field))
#define CPU_AT(field, extra) jm(H_RBX, (int32_t)(offsetof(X86Cpu, field) + (extra)))

/* Emits the whole block (translate.c); false if it did not fit (or had too many
 * slow paths). */
bool jit_translate(Tr *t, bool allow_inline);
/* The register cache (regcache.c). A guest register of the given size in memory
 * (its slot in X86Cpu.regs). */
JitMem jit_greg_mem(unsigned size, unsigned r);
/* Guest register r as an operand: its host register if the cache holds it, else
 * its slot (noting it in want or small). write: the operand may be written. */
JitMem jit_greg_at(Tr *t, unsigned size, unsigned r, bool write);
/* Stores the guest registers the register cache holds newer copies of (before a
 * chained exit; the cache's state is unchanged). */
void jit_rc_writeback(Tr *t);
/* Guest register r back to memory and out of the cache. */
void jit_rc_evict(Tr *t, unsigned r);
/* Everything back to memory, the cache empty (before a handler call). */
void jit_rc_flush(Tr *t);
/* Loads r into a free host register, evicting the least recently used register
 * outside keep if none is free (or leaving r in memory: RegCache.nocache). */
void jit_rc_alloc(Tr *t, unsigned r, uint8_t keep);
/* A call of a flags helper from inline code, R8-R11 stored and reloaded around it. */
void jit_emit_helper(Tr *t, const void *fn);
/* The blocks' epilogue: the frame of the prologue popped, return. */
void jit_emit_leave(JitEmit *e);
/* Runs a block's instructions through their handlers as the dispatcher would,
 * returning how many completed (run.c). */
unsigned jit_run_interp(X86Cpu *c, const X86Insn *insns, unsigned n);
/* Leaves the block with count instructions done (EIP already stored). */
void jit_exit_with(Tr *t, unsigned count);
/* The same through a chainable exit, EAX = the next EIP (chain.c). own_stub: the
 * exiting instruction's own slow path, if any, leaves elsewhere. delta: EAX minus the
 * block's entry EIP when the code computed EAX that way (32 bits, no wrap at 64 KiB),
 * else JIT_DELTA_UNKNOWN. */
#define JIT_DELTA_UNKNOWN INT64_MIN
void jit_exit_chained(Tr *t, unsigned count, bool own_stub, int64_t delta);
/* Points the exit described at info at the block about to run (chain.c). */
void jit_chain_link(Jit *j, X86Cpu *c, uint8_t *info, const X86Insn *insns, unsigned n, void **slot, JitFn fn);
/* Empties the lookup table and emits its routine at the start of an empty cache. */
bool jit_ib_reset(Jit *j, X86Cpu *c);
/* Enters the block about to run into the lookup table (after a lookup missed). */
void jit_ib_fill(Jit *j, X86Cpu *c, const X86Insn *insns, unsigned n, void **slot, JitFn fn);
