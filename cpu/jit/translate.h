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

/* The lazy flags of an inline 32-bit ALU op on registers, left unstored while only
 * moves follow (tr-alu.c, jit_flags_flush; README.md, "Deferred flags"): what
 * cc_src1/cc_src2/cc_res would hold, rebuilt from guest registers the moves leave
 * alone. */
enum { PEND_NONE, PEND_LOGIC, PEND_ADD, PEND_SUB, PEND_CMP, PEND_INCDEC64, PEND_INCDEC32, PEND_SHIFT32 };
typedef struct FlagPend {
    uint8_t kind;             /* PEND_*: LOGIC res = r; ADD/SUB res = r, src2 = s; CMP src1 = r, src2 = s;
                               * INCDEC64: 64-bit code's INC/DEC of r (tr-64.c); INCDEC32: a 32-bit
                               * register's INC/DEC before a loop's Jcc back to the block's entry
                               * (res = r; stored on every way out but the loop's); SHIFT32: 64-bit
                               * code's 32-bit SHL/SHR/SAR (s: 4, 5 or 7) of r by imm, its
                               * original value in c->jit_stash (tr-64.c) */
    uint8_t cc;               /* cc_op */
    int8_t r, s;              /* guest registers; s -1: src2 is imm */
    uint32_t imm;
    unsigned k;               /* the producer */
    uint8_t size;             /* INCDEC64: 4 or 8 */
    bool dec;
    int16_t prev_cc;          /* INCDEC64: known_cc before it (its CF is kept) */
} FlagPend;

/* An out-of-line path of instruction k: its handler, then back to resume. rc_host
 * and rc_dirty: the register cache as instruction k left it (written back before the
 * handler, reloaded after it); pend: lazy flags the main path had not stored yet
 * (stored before the handler). */
typedef struct Stub {
    size_t fields[12];
    unsigned nfields;
    unsigned k;
    size_t resume;
    int8_t rc_host[8];
    uint8_t rc_dirty;
    FlagPend pend;
    int hflags_cc;            /* >= 0: the host flags of this lazy state redone before resuming */
    X86Handler handler;       /* what the slow path calls, when not the instruction's handler */
    const X86Insn *insn;      /* the instruction it hands over, when not the block's own (tr_cross) */
} Stub;

/* A memory probe's second look, in way 1 of its TLB set (tr-mem.c), emitted with the
 * slow paths: RCX holds the page to match and the way-0 entry is [base + index +
 * disp]; a hit goes back with RSI = way 1's addend, a miss on to the instruction's
 * slow path. */
typedef struct WayStub {
    size_t field;             /* the probe's jump here */
    size_t back;              /* after the probe's load of RSI */
    uint16_t stub;            /* the slow path (index in Tr.stubs) */
    int8_t base, index;
    int32_t tag, add;         /* way 0's tag and addend displacements */
} WayStub;

/* The register cache (regcache.c): guest registers EAX..EDI held in host registers
 * (each in its own, its home) within a block and across chained blocks, bit r of a mask standing for guest register r. Loads happen only at
 * an instruction's start; an instruction is emitted, and emitted again with the
 * registers it asked for (want) loaded, or with those it used in pieces (small: byte
 * registers) written back and left in memory. */
typedef struct RegCache {
    int8_t host[8];                /* host register holding guest register r, or -1 */
    uint8_t dirty;                 /* the host copy is newer than c->regs */
    uint8_t want, small, used;     /* what the instruction being emitted touched */
    uint8_t nocache;               /* left in memory for this instruction */
    bool on;
} RegCache;

/* A chainable exit's description, stored in the code cache right after its guard
 * (never executed): offsets from the exit's start of the fields run_block patches. */
typedef struct JitSite {
    uint16_t info;            /* this record */
    uint16_t guard;           /* the guard's first instruction */
    uint16_t lin, epoch, acc, tlbe, lin_page, phys, vptr, version, total, jmp; /* imm32/imm64/rel32 fields */
    uint16_t count;           /* instructions of the block done at this exit */
    uint16_t retargets;       /* times linked to another target (RET, ...): stops linking */
    uint16_t lookup;          /* "MOV R13D, count; JMP the lookup routine", for such an exit */
    uint16_t home;            /* where the exit starts in its block's code */
    uint16_t wide;            /* 64-bit code: lin and lin_page are imm64 fields, else imm32 */
    uint16_t fixed;           /* lin 0 for a calm exit to a known place in its page, not its own entry */
} JitSite;

/* An entry of the lookup table of exits whose target changes (JitSite.retargets):
 * the same facts a linked exit's guard holds, for the block at linear address lin. */
#define JIT_IB_SIZE 4096
#define JIT_IB_SETS (JIT_IB_SIZE / 2) /* two ways a set: the newest target first */
typedef struct JitIbEntry {
    uint64_t lin;                    /* 64 bits: compared whole, so 32- and 64-bit code never mix */
    uint32_t epoch, acc, n, version; /* n: the block's instructions */
    uint64_t tlbe, phys, vptr;       /* X86Itlb *, physical page, const uint32_t * */
    uint64_t body;                   /* the block's body (RX) */
    uint64_t pad;                    /* (64 bytes an entry: the routine shifts by 6) */
} JitIbEntry;
/* JitLink.site of a lookup that missed: run_block fills the entry. */
#define JIT_IB_MISS ((uint8_t *)(uintptr_t)1)

/* The exit a block last left through unlinked, for run_block to link. */
typedef struct JitLink {
    uint8_t *site;            /* its JitSite (read-write view), NULL: none */
    uint64_t eip;             /* the EIP (RIP) it left with */
    uint32_t epoch;           /* chain_epoch then: linked only if nothing moved it since */
    uint32_t req;             /* Vcpu.requests then (-d jit-stats: why a linked exit failed) */
} JitLink;

typedef struct Tr {
    JitEmit e;
    X86Cpu *c;
    struct Jit *j;
    const X86Insn *insns;          /* what is translated: orig, or insn_copy (tr_cross) */
    const X86Insn *orig;           /* the block's own, which the generated code hands to handlers */
    unsigned n;
    uint32_t off[MAX_INSNS + 1];   /* EIP of instruction k minus the entry EIP */
    uint32_t host_at[MAX_INSNS + 1]; /* where instruction k's host code starts; n: the out-of-line code (-d out_asm) */
    size_t epilogue;               /* returns EAX */
    Stub stubs[MAX_STUBS];
    unsigned nstubs;
    WayStub ways[MAX_STUBS];
    unsigned nways;
    size_t exit_fields[MAX_EXITS]; /* jumps to "return exit_count[k]" */
    unsigned exit_count[MAX_EXITS];
    unsigned nexits;
    int known_cc;                  /* cc_op as inline code left it, or -1 */
    bool dead;                     /* the current instruction's flags are never read */
    bool called;                   /* a handler call was emitted in the block's main path */
    bool deadv[MAX_INSNS];         /* per instruction, from flag_liveness */
    uint32_t live_out;             /* the flags read after the current instruction (X86_FL_*) */
    uint32_t livev[MAX_INSNS];     /* per instruction, from flag_liveness */
    uint32_t live_in;              /* the flags the block may read before it writes them */
    bool failed;                   /* too many stubs: fall back to calls only */
    unsigned n_inline;
    RegCache rc;
    uint8_t seg_hoist;             /* segments the block's entry checked (bit per S_*) */
    uint8_t seg_zero;              /* of those, the ones it also checked for base 0 */
    int32_t tlb_fixed;             /* the data TLB the entry checked c->tlb is (its offset in X86Cpu), or 0 */
    bool hflags;                   /* the host's flags are known_cc's (32-bit) now */
    bool hflags_out;               /* they will be after the instruction being emitted */
    bool hflags_narrow;            /* ... of an 8- or 16-bit SUB, CMP or logic op done at 32 bits on
                                    * zero-extended operands: CF ZF PF (and AF) are the guest's, SF and OF not */
    bool hflags_out_narrow;
    bool w64;                      /* decoded in 64-bit mode: RIP, block_eip and the exits' EIP are 64-bit */
    FlagPend pend;                 /* lazy flags not stored yet (kind PEND_NONE: none) */
    X86CrossCode cross;            /* the instruction across the page end that ends the block,
                                    * compiled behind a guard on its second page (tr_cross) */
    X86Insn insn_copy[MAX_INSNS];  /* the block's instructions with that one in the stand-in's place */
    bool sse_ok;                   /* SSE's CR0/CR4 test made, no handler called since (tr-sse.c) */
} Tr;

typedef struct Jit {
    JitLink link;                  /* written by generated code */
    JitCache *cache;
    FILE *perf;
    bool jitdump;                  /* a reference to perf.c's jitdump file */
    JitStats stats;
    size_t body;                   /* offset of a block's body after its prologue */
    bool no_chain;                 /* $VIREO_JIT_CHAIN=0 */
    unsigned inline_mask;          /* $VIREO_JIT_INLINE: IN_* forms compiled inline */
    uint64_t *calls;               /* -d jit-stats: handler calls by opcode and reg (JIT_CALL_SLOTS) */
    uintptr_t ib_routine;          /* the lookup routine (RX), at the cache's start */
    uintptr_t ib_routine64;        /* the same for exits of 64-bit code (64-bit RIP) */
    uintptr_t slow_routine;        /* the slow paths' handler call (RX), after them */
    uintptr_t enter_routine;       /* the blocks' shared prologue and epilogue (RX) */
    uintptr_t leave_routine;
    JitIbEntry ib[JIT_IB_SIZE];
    Tr tr;                         /* the translation in progress (one per vCPU) */
} Jit;

/* Forms compiled inline, a debugging aid ($VIREO_JIT_INLINE, a mask of these): a
 * translator bug shows which form it is in by bisection. */
enum {
    IN_ALU = 1, IN_MEM = 2, IN_MOV = 4, IN_TEST = 8, IN_INCDEC = 16, IN_LEA = 32, IN_BRANCH = 64,
    IN_SHIFT = 128, IN_IMUL = 256, IN_DEADFLAGS = 512, IN_STACK = 1024, IN_MISC = 2048,
    IN_REGCACHE = 4096, IN_SEGCHECK = 8192, IN_HOSTFLAGS = 16384, IN_CALLCHAIN = 32768,
    IN_DIVLEAVE = 65536, /* DIV r/m32, LEAVE, CLD/STD (phase 5) */
    IN_TLBFIXED = 131072, IN_DEFERFLAGS = 262144,
    IN_SSE = 524288, /* tr-sse.c */
    IN_ALL = 1048575,
};

#define CPU(field) jm(H_RBX, (int32_t)offsetof(X86Cpu, field))
#define CPU_AT(field, extra) jm(H_RBX, (int32_t)(offsetof(X86Cpu, field) + (extra)))

/* Emits the whole block (translate.c); false if it did not fit (or had too many
 * slow paths). */
bool jit_translate(Tr *t, bool allow_inline);
/* The register cache (regcache.c). A guest register of the given size in memory
 * (its slot in X86Cpu.regs). */
JitMem jit_greg_mem(unsigned size, unsigned r);
/* The bytes a home loads from and stores to its guest register's slot: all 8, in
 * 32-bit blocks too, so the homes carry RAX..RDI whole across chains between 64-bit
 * blocks and through the shared routines (chain.c) blocks of both widths use. 32-bit
 * code touches the homes only with 32-, 16- and 8-bit host operations and computes
 * addresses with 32-bit LEA/MOV, so an upper half it loads is never read, and one it
 * stores is zero (32-bit writes zero-extend) or as loaded: outside 64-bit mode the
 * upper halves are zero, in compatibility mode undefined (SDM vol. 1, 3.4.1.1). */
#define JIT_RC_W 8

/* Guest register r as an operand: its host register if the cache holds it, else
 * its slot (noting it in want or small). write: the operand may be written. */
JitMem jit_greg_at(Tr *t, unsigned size, unsigned r, bool write);
/* Stores the guest registers the register cache holds newer copies of (the cache's
 * state is unchanged). */
void jit_rc_writeback(Tr *t);
/* The guest registers as a chained exit or the lookup routine needs them: every one
 * in its home host register (the cache's state is unchanged; may sit on one arm of a
 * branch). */
void jit_rc_leave(Tr *t);
/* All eight homes loaded from c->regs (the prologue), or stored to it (where code
 * entered with the homes live returns to C: the lookup routine's miss, the entry's
 * failed segment check). */
void jit_rc_load_all(JitEmit *e);
/* The host register that is guest register r's home. */
int jit_rc_home(unsigned r);
void jit_rc_store_all(JitEmit *e);
/* The cache's state at a block body's start (all at home, all maybe newer than
 * c->regs); on false: written back and not used in this block. */
void jit_rc_enter(Tr *t, bool on);
/* Guest register r back to memory and out of the cache. */
void jit_rc_evict(Tr *t, unsigned r);
/* Everything back to memory, the cache empty (before a handler call). */
void jit_rc_flush(Tr *t);
/* Loads r into its home host register. */
void jit_rc_alloc(Tr *t, unsigned r);
/* A call of a flags helper from inline code, R8-R11 stored and reloaded around it. */
void jit_emit_helper(Tr *t, const void *fn);
/* The blocks' epilogue: the frame of the prologue popped, return. */
void jit_emit_leave(JitEmit *e);
/* Runs a block's instructions through their handlers as the dispatcher would,
 * returning how many completed (run.c). */
unsigned jit_run_interp(X86Cpu *c, const X86Insn *insns, unsigned n);
/* Leaves the block with count instructions done (EIP already stored). */
void jit_exit_with(Tr *t, unsigned count);
/* The same through a chainable exit (chain.c), c->eip left to it. own_stub: the
 * exiting instruction's own slow path, if any, leaves elsewhere. delta: the next EIP
 * minus the block's entry EIP when known (32 bits, no wrap at 64 KiB): the exit
 * computes the EIP only on the ways that need it; else JIT_DELTA_UNKNOWN and EAX =
 * the next EIP. eax: EAX holds the next EIP with delta known too. */
#define JIT_DELTA_UNKNOWN INT64_MIN
void jit_exit_chained(Tr *t, unsigned count, bool own_stub, int64_t delta, bool eax);
/* Points the exit described at info at the block about to run (chain.c). */
void jit_chain_link(Jit *j, X86Cpu *c, uint8_t *info, uint32_t req, unsigned n, void **slot, JitFn fn);
/* Empties the lookup table and emits its routine at the start of an empty cache. */
bool jit_ib_reset(Jit *j, X86Cpu *c);
/* Enters the block about to run into the lookup table (after a lookup missed). */
void jit_ib_fill(Jit *j, X86Cpu *c, unsigned n, void **slot, JitFn fn);

/* ---- Shared by the translator's files (translate.c, tr-alu.c, tr-mem.c,
 * tr-branch.c) ---- */

#define SEG_FIELD(segno, field) jm(H_RBX, (int32_t)(offsetof(X86Cpu, seg) + sizeof(X86Seg) * (segno) + offsetof(X86Seg, field)))

/* Guest registers as operands, through the register cache (regcache.c). */
static inline JitMem greg_mem(unsigned size, unsigned r)
{
    return jit_greg_mem(size, r);
}

/* A guest register operand that may be written. */
static inline JitMem greg(Tr *t, unsigned size, unsigned r)
{
    return jit_greg_at(t, size, r, true);
}

/* One that is only read. */
static inline JitMem gread(Tr *t, unsigned size, unsigned r)
{
    return jit_greg_at(t, size, r, false);
}

static inline unsigned op_size(const X86Insn *i, bool byte)
{
    return byte ? 1 : x86_osize(i);
}

static inline uint32_t mask_of(unsigned size)
{
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* The width of EIP in the block's mode: 8 for 64-bit code (RIP), else 4. */
static inline unsigned eip_size(const Tr *t)
{
    return t->w64 ? 8 : 4;
}

/* Host register dst = entry EIP + delta, size bytes wide (at most eip_size: a 32-bit
 * result of 64-bit code is the RIP-relative address of 67h, truncated). No host
 * flags changed: they may be a live producer's. The entry EIP (RIP in 64-bit code)
 * is c->block_eip, which the dispatcher, the guards and the lookup routines set
 * before a block's body runs. */
static inline void eip_to_reg_w(Tr *t, unsigned size, int dst, int32_t delta)
{
    emit_load(&t->e, eip_size(t), dst, CPU(block_eip));
    if (delta || size < eip_size(t))
        emit_lea(&t->e, size, dst, jm(dst, delta));
}

/* The same in the block's EIP width. */
static inline void eip_to_reg(Tr *t, int dst, uint32_t delta)
{
    eip_to_reg_w(t, eip_size(t), dst, (int32_t)delta);
}

/* EAX = entry EIP + delta (RAX = entry RIP + delta in 64-bit code). */
static inline void eip_to_eax(Tr *t, uint32_t delta)
{
    eip_to_reg(t, H_RAX, delta);
}

/* chain.c: the dispatcher's tests between two blocks (exec.c, x86_cpu_run), as a
 * guard makes them: a request pending (Vcpu.requests at reqm: from RBX, or from RCX
 * when the two lie far apart) jumps to req, the event word (halted, interrupt
 * shadow, breakpoints, budget) to word; both out of line. jit_emit_intr_alone,
 * there: INTR alone while IF is clear passes (back to req_done, as the dispatcher
 * would deliver nothing either); anything else takes one of fail[0..1]. */
typedef struct JitEventTests {
    size_t req, req_done, word;
    JitMem reqm; /* Vcpu.requests */
} JitEventTests;
JitEventTests jit_emit_event_tests(Tr *t);
void jit_emit_intr_alone(Tr *t, const JitEventTests *ev, size_t fail[2]);

/* translate.c: a new slow path for instruction k, and a jump to it (the fast path
 * has written nothing before it). */
Stub *jit_stub_new(Tr *t, unsigned k);
void jit_stub_jcc(Tr *t, Stub *s, unsigned cc);

/* tr-mem.c: the base and index of i's address as host registers at w bytes (loaded
 * into RAX, RCX where the cache does not hold them); EAX = the effective address of
 * i's memory operand (clobbers ECX); the inline TLB probe of it, or of the offset in
 * EAX in segment segno, returning the host operand [RSI + RAX] (anything unusual jumps
 * to stub s; clobbers ECX, EDX); its end from the TLB index in EDX, shared with 64-bit
 * code. */
void jit_emit_ea_regs(Tr *t, const X86Insn *i, unsigned w, int *hb, int *hx);
void jit_emit_ea(Tr *t, const X86Insn *i);
JitMem jit_emit_probe(Tr *t, Stub *s, const X86Insn *i, unsigned size, unsigned need, bool write);
JitMem jit_emit_probe_at(Tr *t, Stub *s, unsigned segno, unsigned size, unsigned need, bool write);
JitMem jit_emit_probe_entry(Tr *t, Stub *s, unsigned w, unsigned size, bool write);
void jit_emit_tlb_offset(Tr *t);
void jit_emit_way_stub(Tr *t, const WayStub *w);
bool jit_tr_mov_moffs(Tr *t, unsigned k);
bool jit_tr_cmov_mem(Tr *t, unsigned k);

/* tr-alu.c: the lazy flags of RAX op RCX / RAX & RCX (1-8 bytes), an ALU op on a
 * home with its lazy flags, and those of a shift
 * (CC_SHIFT16/32 from three host registers); the guest's CF into R13D; the host
 * condition code that tests guest condition cc; whether an ALU op is pure for the
 * dead-flags pass (ADC/SBB read CF); CF and OF of a rotate's result in RAX; the
 * arithmetic forms (false: not inline). */
void jit_emit_alu_flags(Tr *t, unsigned aluop, unsigned size);
void jit_alu_on_home(Tr *t, unsigned k, unsigned op, unsigned size, int rd, int src, uint32_t v, int gd, int gs);
void jit_store_shift_flags(Tr *t, unsigned cc, int res, int cf, int of);
/* Stores the deferred lazy flags (t->pend) now, on the main path; and those of p
 * with the guest registers where host says (a stub's register cache). */
void jit_flags_flush(Tr *t);
void jit_flags_store(Tr *t, const FlagPend *p, const int8_t *host);
/* Guest register r (EAX..EDI) where host says: its home, or its slot. */
JitMem jit_pend_reg(const int8_t *host, int r);
/* translate.c: whether deferred flags p may stay unstored over instruction k (a move
 * that writes none of p's registers, not the block's last) or end at it (an ALU op
 * or TEST that writes all the flags). */
bool jit_pend_keeps(const Tr *t, const FlagPend *p, unsigned k);
void jit_emit_test_flags(Tr *t, unsigned size);
void jit_emit_cf_to_r13(Tr *t);
/* The host's flags of lazy state cc (ADD, SUB or LOGIC, any size) from cc_src1/
 * cc_src2/cc_res; whether cc is one. */
void jit_emit_host_flags(Tr *t, unsigned cc);
bool jit_host_flags_known(int cc);
unsigned jit_emit_cond(Tr *t, unsigned cc);
bool jit_alu_pure(unsigned aluop);
bool jit_tr_binop(Tr *t, unsigned k, int op, unsigned kind, unsigned size);
bool jit_tr_incdec(Tr *t, unsigned k, int r, unsigned size, bool dec);
bool jit_tr_lea(Tr *t, const X86Insn *i);
void jit_emit_rot_flags(JitEmit *e, unsigned w, unsigned msb, bool ror);
bool jit_tr_shift(Tr *t, const X86Insn *i, unsigned count);
bool jit_tr_shift_mem(Tr *t, unsigned k, unsigned count);
bool jit_tr_shift_cl(Tr *t, const X86Insn *i);
bool jit_tr_imul(Tr *t, const X86Insn *i);
bool jit_tr_setcc_cmov(Tr *t, const X86Insn *i, bool set);
bool jit_tr_movx(Tr *t, unsigned k);
bool jit_tr_notneg(Tr *t, const X86Insn *i, unsigned size);
bool jit_tr_cbw_cwd(Tr *t, const X86Insn *i);
bool jit_tr_xchg(Tr *t, unsigned a, unsigned b, unsigned size);
bool jit_tr_div(Tr *t, unsigned k);

/* tr-64.c: 64-bit code's inline forms (false: call the handler), whether one is
 * pure for the dead-flags pass, the registers it likely uses. */
bool jit_tr64(Tr *t, unsigned k);
/* The eager flags of a deferred INC/DEC (PEND_INCDEC64) stored, from its register
 * where host says. */
void jit_incdec64_store(Tr *t, const FlagPend *p, const int8_t *host);
void jit_shift32_store(Tr *t, const FlagPend *p, const int8_t *host);
bool jit_pure64(const X86Insn *i, uint32_t *writes);
uint8_t jit_rc_predict64(const X86Insn *i);

/* tr-sse.c: whether opcode op is one of the SSE maps' (0F 10-17, 28-2F, 50-7F,
 * C2-C6, D0-FF, 0F 38, 0F 3A); instruction k inline (false: call its handler). */
static inline bool jit_sse_opcode(unsigned op)
{
    return (op >= 0x0f00 && op <= 0x0fff && x86_simd_opcode(op)) || (op >= 0x3800 && op <= 0x3aff);
}
bool jit_tr_sse(Tr *t, unsigned k);
/* tr-64.c: instruction k's memory operand in 64-bit code through the probe ([RSI +
 * RAX], RAX the linear address); false: not inline. */
bool jit_emit_probe64(Tr *t, Stub *s, unsigned k, unsigned size, bool write, JitMem *m);
/* tr-alu.c: eflags' arithmetic bits = the host's (AF cleared for logic), cc_op =
 * CC_EAGER. */
void jit_emit_take_host_flags(Tr *t, bool logic);

/* tr-branch.c: the stack forms and the block-ending transfers. */
bool jit_tr_pushpop(Tr *t, unsigned k, bool push);
bool jit_tr_push_value(Tr *t, unsigned k);
bool jit_tr_leave(Tr *t, unsigned k);
bool jit_tr_indirect(Tr *t, unsigned k, bool call);
bool jit_tr_callret(Tr *t, unsigned k, bool call);
bool jit_tr_loop(Tr *t, unsigned k);
bool jit_tr_branch(Tr *t, unsigned k, int cc);
