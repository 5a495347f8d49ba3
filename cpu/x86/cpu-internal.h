/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to cpu/x86 (and the translator later): the CPU structure, the lazy flags,
 * segment checks and the software-TLB fast paths for guest memory. */
#pragma once

#include "cpu/x86/x86.h"
#include "cpu/cpu-model.h"
#include "engine/log.h"

#include <glib.h>
#include <setjmp.h>
#include <string.h>

#define X86_NORETURN __attribute__((noreturn))
#define X86_COLD __attribute__((cold, noinline))
#define X86_INLINE static inline __attribute__((always_inline))

#define R_EAX 0
#define R_ECX 1
#define R_EDX 2
#define R_EBX 3
#define R_ESP 4
#define R_EBP 5
#define R_ESI 6
#define R_EDI 7
#define R_ZERO 16 /* always 0: an absent base or index register (X86_REG_NONE) */

#define S_ES 0
#define S_CS 1
#define S_SS 2
#define S_DS 3
#define S_FS 4
#define S_GS 5

/* ---- segments ---- */

enum { SEG_OK_READ = 1, SEG_OK_WRITE = 2 };

typedef struct X86Seg {
    uint64_t base;     /* 64 bits for FS, GS, LDTR and TR in IA-32e mode */
    uint32_t limit;
    uint16_t sel;
    uint16_t attr;
    uint8_t ok;        /* SEG_OK_*: what data accesses the current mode allows */
    uint8_t flat;      /* base 0, every offset valid: no limit check needed */
    uint8_t pad[2];
    uint32_t lo, hi;   /* valid offsets, inclusive (expand-down turns them around) */
} X86Seg;

/* ---- software TLB ---- */

#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_INVALID 1u /* never equals a page-aligned address */

/* Two ways per set: entry k of a table is way 0 of set k, entry TLB_SIZE + k its way 1,
 * the page way 0 held before (x86_tlb_fill). Fast paths look in way 0 only; a miss
 * looks in way 1 before walking the page tables (the translator's probe in its slow
 * path, cpu/jit/tr-mem.c). Two hot pages of one set no longer evict each other on every
 * access: with the guest's ASLR, one boot in three put two of gzip's hot pages in one
 * set and took 17 million more walks (bench/README, 2026-12-06). */
#define TLB_WAYS 2

/* The megabyte bits are folded into the index: regions a multiple of 1 MiB apart
 * (buffers, stacks, code) would otherwise share their sets. */
static inline unsigned x86_tlb_index(uint64_t lin)
{
    return ((uint32_t)(lin >> 12) ^ (uint32_t)(lin >> 20)) & (TLB_SIZE - 1);
}

/* The translator's instruction TLB (X86Cpu.itlb_*, cpu/jit/README.md): larger than
 * the data TLB, since a guard that finds its entry taken by another code page of the
 * same index sends its exit through the dispatcher (5 million times in a Linux boot
 * at 256 entries). Its pages are contiguous within any 4 MiB. */
#define ITLB_SIZE 1024u
static inline unsigned x86_itlb_index(uint64_t lin)
{
    return (((uint32_t)lin >> 12) ^ ((uint32_t)lin >> 22)) & (ITLB_SIZE - 1);
}

/* Access kinds, laid out like the page-fault error code (SDM vol. 3, 4.7). */
enum {
    ACC_READ = 0,
    ACC_WRITE = 1u << 1,
    ACC_USER = 1u << 2,
    ACC_FETCH = 1u << 4,
};

enum { TLB_PERM_R = 1, TLB_PERM_W = 2, TLB_PERM_X = 4 };

typedef struct X86Tlb {
    /* Fast tags: the linear page when the access may use the host pointer directly,
     * TLB_INVALID otherwise. 64 bits wide: a lookup of a 32-bit address (legacy and
     * compatibility mode, zero-extended) never matches the page of a 64-bit address
     * whose low 32 bits agree. */
    uint64_t tag_r, tag_w, tag_x;
    uint64_t page;     /* linear page of the cached translation, or TLB_INVALID */
    uintptr_t add_r;   /* host address = linear address + add_r */
    uintptr_t add_w;
    uint64_t phys;     /* physical page */
    uint8_t perm;      /* TLB_PERM_*: what the page tables allow (write: dirty already set) */
    uint8_t global;
} X86Tlb;

typedef struct X86Itlb {
    uint64_t page;     /* linear page (64 bits: 64-bit code is translated too), or TLB_INVALID */
    uint64_t phys;     /* physical page */
    uint32_t global;   /* kept by flushes of non-global entries */
} X86Itlb;

/* ---- SIMD opcodes ---- */

/* The mandatory prefix of an SSE instruction: F3 and F2 take precedence over 66. */
enum { P_NONE, P_F3, P_66, P_F2 };

static inline unsigned simd_prefix(const X86Insn *i)
{
    if (i->pfx & X86_PFX_REP)
        return P_F3;
    if (i->pfx & X86_PFX_REPNE)
        return P_F2;
    if (i->pfx & X86_PFX_OPSIZE)
        return P_66;
    return P_NONE;
}

/* The two-byte opcodes of MMX, SSE and later (SDM vol. 2, appendix A.3). */
static inline bool x86_simd_opcode(unsigned op)
{
    return (op >= 0x0f10 && op <= 0x0f17) || (op >= 0x0f28 && op <= 0x0f2f) || (op >= 0x0f50 && op <= 0x0f7f) ||
           (op >= 0x0fc2 && op <= 0x0fc6) || op >= 0x0fd0;
}

/* ---- lazy flags ---- */

/* The operation that produced the arithmetic flags, times three sizes. CC_EAGER: the
 * flags are in eflags. */
enum {
    CC_EAGER = 0,
    CC_ADD8, CC_ADD16, CC_ADD32,
    CC_ADC8, CC_ADC16, CC_ADC32,
    CC_SUB8, CC_SUB16, CC_SUB32,
    CC_SBB8, CC_SBB16, CC_SBB32,
    CC_LOGIC8, CC_LOGIC16, CC_LOGIC32,
    CC_INC8, CC_INC16, CC_INC32,   /* CF kept in eflags */
    CC_DEC8, CC_DEC16, CC_DEC32,
    CC_SHIFT8, CC_SHIFT16, CC_SHIFT32, /* SF ZF PF from res, CF = src1, OF = src2, AF 0:
                                          shifts, SHLD/SHRD, MUL/IMUL */
    /* 64-bit operations of translated 64-bit code (cpu/jit/tr-64.c), with whole
     * operands (cc_src1/cc_src1_hi, cc_src2/cc_src2_hi; ADD and SUB compute the result
     * from them) or result (LOGIC: cc_res/cc_res_hi). Not of the size-triple layout
     * above: CC_OP does not make them. */
    CC_ADD64, CC_SUB64, CC_LOGIC64,
    CC_COUNT,
};
#define CC_OP(base, size) ((base) + ((size) == 1 ? 0 : (size) == 2 ? 1 : 2))

/* ---- x87, MMX, SSE state ---- */

/* An x87 data register in the extended format exactly as FSTP m80 stores it: the
 * 64-bit significand, then sign and 15-bit exponent. MMX register n is R n's
 * significand. */
typedef struct X87Reg {
    uint64_t mant;
    uint16_t sexp;
    uint16_t pad[3];
} X87Reg;

typedef union XmmReg {
    uint8_t b[16];
    uint16_t w[8];
    uint32_t d[4];
    uint64_t q[2];
} XmmReg;

typedef struct X86Fpu {
    X87Reg st[8];        /* physical registers R0-R7; ST(i) is st[(top + i) & 7] */
    uint16_t fcw;
    uint16_t fsw;        /* the status word; its TOP field lives in top */
    uint8_t top;
    uint8_t empty;       /* bit n set: R n is empty (tag 11b) */
    uint16_t fop;        /* last non-control instruction: opcode bits 2-0, then ModRM */
    uint32_t fip, fdp;   /* its offset and its memory operand's offset */
    uint16_t fcs, fds;   /* and their selectors */
    bool ferr;           /* the FERR# output is asserted (CR0.NE clear) */
    XmmReg xmm[16];      /* XMM8-15: 64-bit mode only */
    uint32_t mxcsr;
} X86Fpu;

/* x87 status word (SDM vol. 1, 8.1.3). */
enum {
    FSW_IE = 1u << 0, FSW_DE = 1u << 1, FSW_ZE = 1u << 2, FSW_OE = 1u << 3,
    FSW_UE = 1u << 4, FSW_PE = 1u << 5, FSW_SF = 1u << 6, FSW_ES = 1u << 7,
    FSW_C0 = 1u << 8, FSW_C1 = 1u << 9, FSW_C2 = 1u << 10, FSW_TOP = 7u << 11,
    FSW_C3 = 1u << 14, FSW_B = 1u << 15,
};
#define FSW_EXC 0x3fu
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
/* MXCSR (SDM vol. 1, 10.2.3): flags 0-5, DAZ 6, masks 7-12, RC 13-14, FZ 15. */
#define MXCSR_MASK_BITS 0xffffu
#define MXCSR_RESET 0x1f80u

/* ---- the CPU ---- */

typedef struct X86Block X86Block;
typedef struct X86CodeCache X86CodeCache;

/* That 64-bit word (halted, intr_shadow, code_bp, budget, pending_dr6, little-endian)
 * when only budget is set. */
#define X86_EVENTS_BUDGET (UINT32_C(1) << 24)

/* X86Cpu.code_bp bits. */
enum {
    X86_CODE_BP_DR = 1u << 0,        /* DR7 enables an instruction breakpoint */
    X86_CODE_BP_DEBUGGER = 1u << 1,  /* the debugger has breakpoints, watchpoints, a step
                                        or a stop to report */
};

/* A debugger's breakpoint or watchpoint (debug.c). */
typedef struct X86DebugPoint {
    uint64_t addr;
    uint32_t len;
    uint8_t kind;              /* CpuDebugKind */
} X86DebugPoint;

struct X86Cpu {
    /* Hot state first. */
    /* RAX..R15, then R_ZERO. Outside 64-bit mode only the low halves of the first
     * eight are reachable; 32-bit writes zero-extend (SDM vol. 1, 3.4.1.1), so the
     * upper halves stay zero until 64-bit code runs. */
    uint64_t regs[17];
    /* RIP: outside 64-bit mode the upper half is zero (32-bit code and the translator
     * write the low half only). */
    uint64_t eip;              /* of the next instruction while a handler runs */
    uint64_t prev_eip;         /* start of the instruction being executed */
    uint32_t cc_op;
    /* The lazy state's result and operands, zero-extended to 32 bits; the 64-bit
     * kinds (CC_ADD64...) use the upper halves too, each right after its lower half
     * (one 8-byte store writes both). */
    uint32_t cc_res, cc_res_hi, cc_src1, cc_src1_hi, cc_src2, cc_src2_hi;
    uint32_t eflags;           /* arithmetic bits valid only when cc_op == CC_EAGER,
                                  except CF for CC_INC / CC_DEC */
    uint32_t jit_stash;        /* the translator's: the value a deferred 32-bit shift
                                  started from, live only inside a block (cpu/jit/tr-64.c) */
    X86Tlb *tlb;               /* data TLB for accesses at the current privilege */
    unsigned acc_user;         /* ACC_USER when CPL is 3 */
    uint8_t cpl;
    uint8_t exit_block;        /* stop running the current block after this insn */
    uint8_t code32;            /* CS.D */
    uint8_t ss32;              /* SS.B */
    uint8_t pe, vm86;          /* CR0.PE, EFLAGS.VM */
    uint8_t paging;            /* CR0.PG */
    uint8_t smp;               /* the VM has other vCPUs: locked operations are atomic */
    uint8_t long64;            /* IA-32e mode with CS.L: 64-bit mode (exec64.c) */
    /* Linear addresses wrap at 4 GiB outside 64-bit mode (SDM vol. 3, 3.4.4): all
     * ones in 64-bit mode, 0xffffffff otherwise (x86_lin). */
    uint64_t lin_mask;
    X86Seg seg[6];
    /* In 64-bit mode ES, CS, SS and DS have base 0 (SDM vol. 3, 3.4.4): their cached
     * bases wait here and come back in compatibility mode. */
    uint64_t seg_base_cached[4];

    Vcpu *v;
    GuestMemory *mem;
    uint64_t a20_mask;

    /* System state. */
    X86Seg ldtr, tr;
    uint64_t gdt_base, idt_base;
    uint16_t gdt_limit, idt_limit;
    uint32_t cr0, cr4;
    uint64_t cr2, cr3;
    uint8_t cr8;               /* 64-bit mode's TPR when the VM has no local APIC */
    uint64_t efer;
    uint64_t dr[8];           /* DR0-DR3 hold 64-bit linear addresses in IA-32e mode */
    uint64_t pdpte[4];         /* PAE: loaded with CR3 (SDM vol. 3, 4.4.1) */
    int64_t tsc_offset;
    uint32_t sysenter_cs;
    uint64_t sysenter_esp, sysenter_eip; /* 64 bits on models with long mode */
    /* Long mode (system64.c): SYSCALL targets and mask, SWAPGS's other GS base, the
     * RDTSCP signature (SDM vol. 4, table 2-2). */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint32_t tsc_aux;
    uint64_t syscfg;           /* AMD SYSCFG (qemu64) */
    uint64_t mtrr_cap, mtrr_def_type, mtrr_fixed[11], mtrr_var[16];
    uint32_t bios_sign_id;
    uint64_t pat;
    uint64_t misc_enable;      /* IA32_MISC_ENABLE */
    const CpuModel *model;     /* -cpu: CPUID, and which instructions exist */
    uint64_t features;         /* cpu_model_features(model) */
    X86Fpu fpu;

    /* Events. */
    /* halted, intr_shadow, code_bp, budget and pending_dr6 are one aligned 64-bit
     * word, which a chained exit's guard tests at once (cpu/jit/chain.c asserts it). */
    _Alignas(8) uint8_t halted; /* 1: HLT; X86_HALT_SIPI: an AP in wait-for-SIPI */
    uint8_t intr_shadow;       /* the instruction after STI / MOV SS / POP SS */
    uint8_t code_bp;           /* X86_CODE_BP_*: instruction breakpoints, the debugger */
    uint8_t budget;            /* 1: x86_cpu_run has a budget (icount_end), which chained exits count */
    uint32_t pending_dr6;      /* data breakpoint hits of the current instruction */
    uint8_t debug_shadow;      /* after MOV SS / POP SS: debug traps wait one more too */
    uint8_t nmi_blocked;       /* from NMI delivery until the next IRET */
    uint8_t single_step;       /* run one instruction per dispatch (TF, shadow, DRx) */
    uint8_t data_bp;           /* DR7 or the debugger has data breakpoints: all accesses
                                  take the slow path */
    uint8_t ac_check;          /* CR0.AM and EFLAGS.AC: alignment checks at CPL 3 */
    uint8_t in_delivery;       /* delivering an event: class for the #DF decision */
    _Atomic unsigned tlb_flush_pending; /* map changed on another thread */

    /* Exception in flight (set before longjmp). */
    jmp_buf jmp;
    int exc_vec;
    uint32_t exc_err;
    bool exc_has_err;
    bool exc_trap;             /* EIP already points past the instruction */

    /* Run control. */
    unsigned run_flags;
    /* Instructions run (in a run without a budget, not those of chained blocks:
     * x86_cpu_run), and where the budget ends (all ones: none). */
    uint64_t icount;
    uint64_t icount_end;
    const X86Insn *block_start;  /* the block being executed (for counting on faults) */
    uint64_t block_eip;
    uint32_t deliveries;       /* events delivered (for the single-step rule) */
    int last_vec;
    bool last_has_err;
    uint32_t last_err;
    bool stop_exception;       /* X86_RUN_STOP_ON_EXCEPTION hit */

    /* The debugger (debug.c). While anything here is active code_bp has
     * X86_CODE_BP_DEBUGGER, so the dispatcher's one unlikely test covers it. */
    X86DebugPoint dbg_bp[CPU_DEBUG_MAX_POINTS];
    X86DebugPoint dbg_wp[CPU_DEBUG_MAX_POINTS];
    unsigned dbg_nbp, dbg_nwp;
    uint8_t dbg_step;          /* stop after one instruction */
    uint8_t dbg_skip;          /* the first instruction, if at dbg_skip_lin, ignores breakpoints */
    uint8_t dbg_pending;       /* a stop is decided (dbg_stop): return at the next boundary */
    uint64_t dbg_skip_lin;
    CpuDebugStop dbg_stop;

    X86CodeCache *code;
    MemListener listener;
    /* Block chaining: successors cached in a block are valid while chain_epoch (bumped
     * by TLB flushes, CPL and CS changes, code cache flushes) has not moved. */
    uint32_t chain_epoch;
    X86Block *last_block;
    /* Translated chains (cpu/jit/chain.c) check the target's TLB entry and CPL class
     * themselves, so they depend only on link_epoch: code cache flushes and CS changes
     * that matter to block_get (the CS below, as of the last bump). */
    uint32_t link_epoch;
    uint32_t link_cs_base, link_cs_limit;
    bool link_cs_flat, link_cs32;
    X86ExecStats stats;

    /* TLBs: supervisor, user, and an always-empty one that forces the slow path. */
    X86Tlb tlb_sup[TLB_WAYS * TLB_SIZE];
    X86Tlb tlb_user[TLB_WAYS * TLB_SIZE];
    X86Tlb tlb_none[TLB_WAYS * TLB_SIZE];
    /* Code pages translated chains jump to (cpu/jit/chain.c), by CPL 3 or not: an
     * instruction TLB that data accesses do not evict, emptied with the TLB. */
    X86Itlb itlb_sup[ITLB_SIZE];
    X86Itlb itlb_user[ITLB_SIZE];
    /* The sets that may hold a valid entry, a bit each, per table ([0] supervisor, [1]
     * user): flushes visit only those. A Linux kit run flushes the whole TLB some
     * 80,000 times, each time with a few dozen of the 512 sets in use. */
    uint64_t tlb_used[2][TLB_SIZE / 64];
    uint64_t itlb_used[2][ITLB_SIZE / 64];
    /* The 2 MiB regions (bit = region mod 64) whose entries may have come from a large
     * page, and so sit in any slot: INVLPG elsewhere clears one slot, not all of them. */
    uint64_t itlb_large;

    /* A translator (cpu/jit) that runs whole cached blocks instead of the handler loop,
     * or NULL. Same contract as the loop: returns the instructions completed; faults
     * unwind with prev_eip set. slot: per-block storage, NULL when the block is new. */
    unsigned (*run_block)(X86Cpu *c, const X86Insn *insns, unsigned n, void **slot);
    void *jit;
};

/* ---- MSRs (system.c) ---- */

/* The MSRs with state of their own, for save/restore; RDMSR/WRMSR's checks without
 * the #GP: false for an unknown MSR or a refused value. */
unsigned x86_msr_state_list(const uint32_t **list);
bool x86_msr_get(X86Cpu *c, uint32_t msr, uint64_t *v);
bool x86_msr_set(X86Cpu *c, uint32_t msr, uint64_t v);

/* ---- exceptions ---- */

/* Raises a fault with an error code / without: unwinds to the dispatcher. */
X86_NORETURN void x86_fault_err(X86Cpu *c, int vec, uint32_t err);
X86_NORETURN void x86_fault(X86Cpu *c, int vec);
/* #UD for the current instruction. */
X86_NORETURN void x86_ud(X86Cpu *c);
/* #GP(0) */
X86_NORETURN void x86_gp0(X86Cpu *c);
/* A trap (EIP already past the instruction), e.g. #DB after single step. */
X86_NORETURN void x86_trap(X86Cpu *c, int vec);
/* Stops before the current instruction until an interrupt arrives (the P6's stall on
 * an x87 error with CR0.NE clear, SDM vol. 1, D.2.1): the instruction runs again after
 * the interrupt handler returns. */
X86_NORETURN void x86_stall(X86Cpu *c);

/* ---- flags (flags.c) ---- */

/* The six arithmetic flags from the lazy state. */
uint32_t x86_flags_arith(const X86Cpu *c);
/* Carry only (INC/DEC/ADC/SBB/RCL need it). */
bool x86_flag_cf(const X86Cpu *c);
/* Condition code 0-15 as in Jcc/SETcc/CMOVcc. */
bool x86_cond(const X86Cpu *c, unsigned cc);

X86_INLINE uint32_t x86_get_eflags(const X86Cpu *c)
{
    if (c->cc_op == CC_EAGER)
        return c->eflags;
    return (c->eflags & ~X86_FL_ARITH) | x86_flags_arith(c);
}

/* Makes eflags hold the arithmetic flags. */
X86_INLINE void x86_flags_sync(X86Cpu *c)
{
    if (c->cc_op != CC_EAGER) {
        c->eflags = (c->eflags & ~X86_FL_ARITH) | x86_flags_arith(c);
        c->cc_op = CC_EAGER;
    }
}

/* Sets the arithmetic flags in mask to bits (others kept). */
X86_INLINE void x86_set_arith(X86Cpu *c, uint32_t bits, uint32_t mask)
{
    x86_flags_sync(c);
    c->eflags = (c->eflags & ~mask) | (bits & mask);
}

/* A 64-bit kind (CC_ADD64, CC_SUB64: the operands; CC_LOGIC64: the result). */
X86_INLINE void x86_set_lazy64(X86Cpu *c, unsigned op, uint64_t res, uint64_t a, uint64_t b)
{
    c->cc_op = op;
    c->cc_res = (uint32_t)res;
    c->cc_res_hi = (uint32_t)(res >> 32);
    c->cc_src1 = (uint32_t)a;
    c->cc_src1_hi = (uint32_t)(a >> 32);
    c->cc_src2 = (uint32_t)b;
    c->cc_src2_hi = (uint32_t)(b >> 32);
}

X86_INLINE void x86_set_lazy(X86Cpu *c, unsigned op, uint32_t res, uint32_t a, uint32_t b)
{
    c->cc_op = op;
    c->cc_res = res;
    c->cc_src1 = a;
    c->cc_src2 = b;
}

/* Parity of the low byte: PF set when even. */
X86_INLINE uint32_t x86_parity(uint32_t v)
{
    return (__builtin_parity(v & 0xff) ? 0 : X86_FL_PF);
}
/* SF, ZF and PF of a result of the given size in bytes. */
X86_INLINE uint32_t x86_szp(uint32_t res, unsigned size)
{
    unsigned bits = size * 8;
    uint32_t m = bits == 32 ? 0xffffffffu : (1u << bits) - 1;
    uint32_t f = x86_parity(res);
    if (!(res & m))
        f |= X86_FL_ZF;
    if (res & (1u << (bits - 1)))
        f |= X86_FL_SF;
    return f;
}

/* Writes EFLAGS with all side effects (mode, interrupt flag, TF); mask selects the
 * bits the instruction may change. */
void x86_write_eflags(X86Cpu *c, uint32_t value, uint32_t mask);

/* ---- registers ---- */

/* Byte registers: 0-7 AL..BH; 8-15 R8B-R15B and 20-23 SPL-DIL (64-bit mode with a
 * REX prefix: the decoder numbers those byte operands so, X86Insn.rex). */
X86_INLINE uint8_t *x86_reg8(X86Cpu *c, unsigned r)
{
    if (__builtin_expect(r >= 8, 0))
        return (uint8_t *)&c->regs[r & 15];
    return (uint8_t *)&c->regs[r & 3] + (r >> 2);
}
X86_INLINE uint16_t *x86_reg16(X86Cpu *c, unsigned r)
{
    return (uint16_t *)&c->regs[r];
}

/* 64-bit mode (exec64.c): the 64-bit or RIP-relative effective address, its linear
 * address (with the FS/GS base) checked to be canonical (#GP(0), #SS(0) for SS).
 * Returns the offset x86_lin turns into that linear address. */
uint64_t x86_ea_long(X86Cpu *c, const X86Insn *i);

/* Effective address of the ModRM memory operand (offset within its segment; below
 * 4 GiB outside 64-bit mode). */
X86_INLINE uint64_t x86_ea(X86Cpu *c, const X86Insn *i)
{
    if (__builtin_expect(i->flags & (X86_INSN_AD64 | X86_INSN_RIPREL), 0))
        return x86_ea_long(c, i);
    uint32_t ea = c->regs[i->base] + (c->regs[i->index] << i->scale) + i->disp;
    return (i->pfx & X86_PFX_AD32) ? ea : (ea & 0xffff);
}

/* ---- segments ---- */

X86_COLD X86_NORETURN void x86_seg_fault(X86Cpu *c, unsigned seg);

/* (off: the offset modulo 4 GiB; 64-bit mode's segments are flat.) */
X86_INLINE bool x86_seg_ok(const X86Seg *s, uint32_t off, unsigned size, unsigned need)
{
    if (__builtin_expect((s->ok & need) != need, 0))
        return false;
    if (s->flat)
        return true;
    uint32_t end = off + (size - 1);
    return off >= s->lo && end <= s->hi && end >= off;
}

/* Linear address of seg:off after the type and limit checks (#GP / #SS); it wraps at
 * 4 GiB outside 64-bit mode. */
X86_INLINE uint64_t x86_lin(X86Cpu *c, unsigned seg, uint64_t off, unsigned size, unsigned need)
{
    const X86Seg *s = &c->seg[seg];
    if (__builtin_expect(!x86_seg_ok(s, (uint32_t)off, size, need), 0))
        x86_seg_fault(c, seg);
    return (s->base + off) & c->lin_mask;
}

/* ---- memory (mmu.c) ---- */

uint32_t x86_ld_slow(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc);
void x86_st_slow(X86Cpu *c, uint64_t lin, unsigned size, uint32_t val, unsigned acc);
/* Host pointer for a write of size bytes at lin, after all checks, or NULL when the
 * access must go through x86_ld_slow/x86_st_slow (which then cannot fault). */
uint8_t *x86_wptr_slow(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc);
uint64_t x86_ld64_slow(X86Cpu *c, uint64_t lin, unsigned acc);
void x86_st64_slow(X86Cpu *c, uint64_t lin, uint64_t val, unsigned acc);

X86_INLINE uint32_t x86_ldn(const uint8_t *p, unsigned size)
{
    if (size == 1)
        return *p;
    if (size == 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
X86_INLINE void x86_stn(uint8_t *p, unsigned size, uint32_t v)
{
    if (size == 1)
        *p = (uint8_t)v;
    else if (size == 2) {
        uint16_t w = (uint16_t)v;
        memcpy(p, &w, 2);
    } else
        memcpy(p, &v, 4);
}

/* Loads at a linear address with the current privilege's rights. */
X86_INLINE uint32_t x86_ld_lin(X86Cpu *c, uint64_t lin, unsigned size)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    if (__builtin_expect(e->tag_r == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - size, 1))
        return x86_ldn((const uint8_t *)(e->add_r + lin), size);
    return x86_ld_slow(c, lin, size, c->acc_user);
}
X86_INLINE void x86_st_lin(X86Cpu *c, uint64_t lin, unsigned size, uint32_t v)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    if (__builtin_expect(e->tag_w == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - size, 1)) {
        x86_stn((uint8_t *)(e->add_w + lin), size, v);
        return;
    }
    x86_st_slow(c, lin, size, v, c->acc_user | ACC_WRITE);
}
X86_INLINE uint8_t *x86_wptr(X86Cpu *c, uint64_t lin, unsigned size)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    if (__builtin_expect(e->tag_w == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - size, 1))
        return (uint8_t *)(e->add_w + lin);
    return x86_wptr_slow(c, lin, size, c->acc_user | ACC_WRITE);
}

/* seg:off accesses with segment checks. */
X86_INLINE uint32_t x86_read(X86Cpu *c, unsigned seg, uint64_t off, unsigned size)
{
    return x86_ld_lin(c, x86_lin(c, seg, off, size, SEG_OK_READ), size);
}
X86_INLINE void x86_write(X86Cpu *c, unsigned seg, uint64_t off, unsigned size, uint32_t v)
{
    x86_st_lin(c, x86_lin(c, seg, off, size, SEG_OK_WRITE), size, v);
}

/* Read-modify-write: begin translates for writing (faults happen here), end stores.
 * A locked one (x86_rmw_begin_locked) is atomic against the other vCPUs: end stores
 * with a compare-and-swap against the value begin read and returns false when another
 * CPU changed it meanwhile; the lazy flags are then back as they were, old holds the
 * value now in memory, and the handler computes again from it. */
typedef struct X86Rmw {
    uint8_t *host;
    uint64_t lin;
    uint64_t old;      /* locked: the value the swap expects */
    uint64_t pa;       /* locked, report set: where the swap stores */
    uint8_t atomic;    /* 1: compare-and-swap; 2: the other vCPUs are stopped */
    uint8_t report;    /* locked: the page may hold code or be dirty-logged (x86_atomic_report) */
    uint32_t saved_cc[8]; /* locked: cc_op, cc_res, cc_src1, cc_src2, eflags, the _hi halves at begin */
} X86Rmw;

X86_INLINE uint32_t x86_rmw_begin(X86Cpu *c, unsigned seg, uint64_t off, unsigned size, X86Rmw *r)
{
    r->atomic = 0;
    r->lin = x86_lin(c, seg, off, size, SEG_OK_READ | SEG_OK_WRITE);
    r->host = x86_wptr(c, r->lin, size);
    if (__builtin_expect(r->host != NULL, 1))
        return x86_ldn(r->host, size);
    return x86_ld_slow(c, r->lin, size, c->acc_user);
}

/* mmu.c: turns a begun read-modify-write of 1, 2, 4 or 8 bytes (r->lin translated for
 * writing, r->host the direct write pointer or NULL) into an atomic one (a host pointer
 * into RAM even for a page holding decoded code, which is dropped) and returns the
 * operand read again atomically. For MMIO and page-crossing operands the other vCPUs
 * stop until the store instead. */
uint64_t x86_rmw_make_atomic(X86Cpu *c, X86Rmw *r, unsigned size);
bool x86_rmw_end_atomic(X86Cpu *c, X86Rmw *r, unsigned size, uint64_t v);

/* locked: the instruction has a LOCK prefix or always locks (XCHG with memory). Only
 * a VM with several vCPUs pays for the swap. */
X86_INLINE uint32_t x86_rmw_begin_locked(X86Cpu *c, unsigned seg, uint64_t off, unsigned size, X86Rmw *r,
                                         bool locked)
{
    uint32_t v = x86_rmw_begin(c, seg, off, size, r);
    if (__builtin_expect(locked && c->smp, 0))
        v = (uint32_t)x86_rmw_make_atomic(c, r, size);
    return v;
}

X86_INLINE bool x86_rmw_end(X86Cpu *c, X86Rmw *r, unsigned size, uint32_t v)
{
    if (__builtin_expect(r->atomic, 0))
        return x86_rmw_end_atomic(c, r, size, v);
    if (__builtin_expect(r->host != NULL, 1))
        x86_stn(r->host, size, v);
    else
        x86_st_slow(c, r->lin, size, v, c->acc_user | ACC_WRITE);
    return true;
}

/* mmu.c: a host pointer for an atomic access of size bytes at lin (translated for
 * writing, faults as a store would) and its physical address in *pa, or NULL for MMIO
 * and page-crossing operands. The caller reports its store afterwards with
 * x86_atomic_report: reported before, a vCPU decoding the page in between would keep
 * the old bytes (the order phys_store keeps for plain stores). */
uint8_t *x86_atomic_ptr(X86Cpu *c, uint64_t lin, unsigned size, uint64_t *pa);
void x86_atomic_report(X86Cpu *c, uint64_t pa, unsigned size);

X86_INLINE uint64_t x86_fetch_add(uint8_t *h, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: return __atomic_fetch_add(h, (uint8_t)v, __ATOMIC_SEQ_CST);
    case 2: return __atomic_fetch_add((uint16_t *)(void *)h, (uint16_t)v, __ATOMIC_SEQ_CST);
    case 4: return __atomic_fetch_add((uint32_t *)(void *)h, (uint32_t)v, __ATOMIC_SEQ_CST);
    default: return __atomic_fetch_add((uint64_t *)(void *)h, v, __ATOMIC_SEQ_CST);
    }
}

/* mmu.c: x86_locked_add_lin for an operand without a direct write pointer. */
bool x86_locked_add_slow(X86Cpu *c, uint64_t lin, unsigned size, uint64_t v, uint64_t *old);

/* A locked ADD, ADC, SUB, SBB, INC, DEC or XADD of 1 to 8 bytes at a linear address
 * (only with c->smp): adds v to the operand with the host's LOCK XADD and returns true
 * with the value before in *old. Contended, it never retries, where x86_rmw_end's
 * compare-and-swap fails and the handler computes again. False, nothing done, for
 * MMIO and page-crossing operands: the caller then takes x86_rmw_begin_locked's way. */
X86_INLINE bool x86_locked_add_lin(X86Cpu *c, uint64_t lin, unsigned size, uint64_t v, uint64_t *old)
{
    uint8_t *h = x86_wptr(c, lin, size);
    if (__builtin_expect(!h, 0))
        return x86_locked_add_slow(c, lin, size, v, old);
    *old = x86_fetch_add(h, size, v);
    return true;
}

/* The same at seg:off, for 8-, 16- and 32-bit operands. */
X86_INLINE bool x86_locked_add(X86Cpu *c, unsigned seg, uint64_t off, unsigned size, uint32_t v, uint32_t *old)
{
    uint64_t o = 0;
    bool ok = x86_locked_add_lin(c, x86_lin(c, seg, off, size, SEG_OK_READ | SEG_OK_WRITE), size, v, &o);
    *old = (uint32_t)o;
    return ok;
}

/* Translates every page of an access (faults as the access would) without touching
 * memory. */
void x86_probe(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc);

/* 64-bit accesses at a linear address (page-crossing and MMIO through the slow path). */
X86_INLINE uint64_t x86_ld64_lin(X86Cpu *c, uint64_t lin)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    if (__builtin_expect(e->tag_r == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - 8, 1)) {
        uint64_t v;
        memcpy(&v, (const uint8_t *)(e->add_r + lin), 8);
        return v;
    }
    return x86_ld64_slow(c, lin, c->acc_user);
}
X86_INLINE void x86_st64_lin(X86Cpu *c, uint64_t lin, uint64_t v)
{
    const X86Tlb *e = &c->tlb[x86_tlb_index(lin)];
    if (__builtin_expect(e->tag_w == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - 8, 1)) {
        memcpy((uint8_t *)(e->add_w + lin), &v, 8);
        return;
    }
    x86_st64_slow(c, lin, v, c->acc_user | ACC_WRITE);
}

/* Reads size bytes (up to 512) at seg:off after the segment checks; a fault leaves
 * nothing changed. */
void x86_read_block(X86Cpu *c, unsigned seg, uint64_t off, void *buf, unsigned size);
/* Writes size bytes (up to 512): every page is translated for writing before the
 * first byte is stored, so a fault leaves memory unchanged (FSAVE, FXSAVE, m80, m128). */
void x86_write_block(X86Cpu *c, unsigned seg, uint64_t off, const void *buf, unsigned size);

/* Supervisor-mode ("implicit") accesses to system structures: GDT, LDT, IDT, TSS. */
uint32_t x86_ld_sys(X86Cpu *c, uint64_t lin, unsigned size);
void x86_st_sys(X86Cpu *c, uint64_t lin, unsigned size, uint32_t v);

/* Physical memory (page walks, tests). */
uint32_t x86_phys_ld32(X86Cpu *c, uint64_t pa);
uint64_t x86_phys_ld64(X86Cpu *c, uint64_t pa);
void x86_phys_st32(X86Cpu *c, uint64_t pa, uint32_t v);

/* Translates for an access (acc = ACC_*), raising #PF; fills the TLB. */
X86Tlb *x86_tlb_fill(X86Cpu *c, uint64_t lin, unsigned acc);
void x86_tlb_flush(X86Cpu *c, bool include_global);
void x86_tlb_flush_page(X86Cpu *c, uint64_t lin);
/* Drops cached write pointers to a physical page (it now holds decoded code);
 * marked_before: another vCPU had marked it as code already. */
void x86_tlb_drop_phys_writes(X86Cpu *c, uint64_t phys_page, bool marked_before);
/* A serializing instruction (CPUID, IRET; SDM vol. 3, 8.1.3 and 8.3): with several
 * vCPUs, before the next instruction, code rewritten by another CPU is seen. The
 * instruction must end its block. */
void x86_serialize(X86Cpu *c);
/* string.c, for REP MOVS/STOS page runs (also exec64.c's): the host pointer for an
 * access at lin within its page when the TLB holds the page's fast tag for it (none
 * for MMIO, code pages when writing, watched or dirty-logged pages), else NULL; and
 * the run itself: bytes from src in elements of size (overlap copied in element
 * order), or, src NULL, the low size bytes of v repeated. */
uint8_t *x86_bulk_ptr(X86Cpu *c, uint64_t lin, bool write);
void x86_bulk_move(uint8_t *dst, const uint8_t *src, size_t bytes, unsigned size, uint64_t v);
/* PAE: loads the four PDPTEs from CR3; false if one has reserved bits set. */
bool x86_load_pdptes(X86Cpu *c, uint32_t cr3);

/* ---- stack ---- */

X86_INLINE uint32_t x86_sp_mask(const X86Cpu *c)
{
    return c->ss32 ? 0xffffffffu : 0xffffu;
}
X86_INLINE void x86_set_sp(X86Cpu *c, uint32_t sp)
{
    if (c->ss32)
        c->regs[R_ESP] = sp;
    else
        c->regs[R_ESP] = (c->regs[R_ESP] & 0xffff0000u) | (sp & 0xffff);
}
X86_INLINE void x86_push(X86Cpu *c, unsigned size, uint32_t v)
{
    uint32_t sp = (c->regs[R_ESP] - size) & x86_sp_mask(c);
    x86_write(c, S_SS, sp, size, v);
    x86_set_sp(c, sp);
}
X86_INLINE uint32_t x86_pop(X86Cpu *c, unsigned size)
{
    uint32_t sp = c->regs[R_ESP] & x86_sp_mask(c);
    uint32_t v = x86_read(c, S_SS, sp, size);
    x86_set_sp(c, sp + size);
    return v;
}

/* ---- modes and privilege (state.c, seg.c) ---- */

X86_INLINE bool x86_protected(const X86Cpu *c)
{
    return c->pe && !c->vm86;
}
X86_INLINE unsigned x86_iopl(const X86Cpu *c)
{
    return (c->eflags >> 12) & 3;
}

/* Recomputes the derived mode fields (CPL-dependent TLB, segment access bits). */
void x86_update_mode(X86Cpu *c);
/* Recomputes one segment's derived fields from base/limit/attr. */
void x86_seg_update(X86Cpu *c, X86Seg *s, unsigned which);
void x86_set_cpl(X86Cpu *c, unsigned cpl);

/* Descriptors. */
typedef struct X86Desc {
    uint32_t lo, hi;
} X86Desc;

X86_INLINE uint32_t x86_desc_base(X86Desc d)
{
    return (d.lo >> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000u);
}
X86_INLINE uint32_t x86_desc_limit(X86Desc d)
{
    uint32_t l = (d.lo & 0xffff) | (d.hi & 0x000f0000u);
    return (d.hi & (1u << 23)) ? (l << 12) | 0xfff : l;
}
X86_INLINE uint16_t x86_desc_attr(X86Desc d)
{
    return (uint16_t)((d.hi >> 8) & 0xf0ff);
}
X86_INLINE unsigned x86_desc_dpl(X86Desc d)
{
    return (d.hi >> 13) & 3;
}
X86_INLINE bool x86_desc_present(X86Desc d)
{
    return d.hi & (1u << 15);
}
X86_INLINE unsigned x86_desc_type(X86Desc d)
{
    return (d.hi >> 8) & 0xf;
}
X86_INLINE bool x86_desc_is_seg(X86Desc d)
{
    return d.hi & (1u << 12);
}

/* Reads the descriptor for sel from the GDT or LDT; false if outside the table. */
bool x86_desc_read(X86Cpu *c, uint16_t sel, X86Desc *d);
/* Sets the accessed bit of a code/data descriptor in memory. */
void x86_desc_set_accessed(X86Cpu *c, uint16_t sel, X86Desc *d);
/* Fills a segment cache from a descriptor. */
void x86_seg_from_desc(X86Cpu *c, unsigned which, uint16_t sel, X86Desc d);
/* Real-mode / V86 style load: base = sel << 4. */
void x86_seg_load_real(X86Cpu *c, unsigned which, uint16_t sel);
/* MOV/POP/LxS to a data or stack segment register with every check. */
void x86_seg_load(X86Cpu *c, unsigned which, uint16_t sel);
/* After a privilege decrease (RET/IRET to an outer level): null out data segments
 * the new CPL may not use (SDM vol. 3, 5.8.6). */
void x86_seg_validate_outer(X86Cpu *c);

/* ---- control transfers (pmode.c, except.c, task.c) ---- */

void x86_far_jmp(X86Cpu *c, uint16_t sel, uint32_t off, unsigned osize);
void x86_far_call(X86Cpu *c, uint16_t sel, uint32_t off, unsigned osize);
void x86_far_ret(X86Cpu *c, unsigned osize, uint16_t pop_bytes);
/* system64.c: JMP (call false) or CALL far through the system descriptor sel, d (its
 * first 8 bytes) in IA-32e mode, which must be a 64-bit call gate (#GP(sel) else); the
 * return address is c->eip. */
void x86_far_gate64(X86Cpu *c, uint16_t sel, X86Desc d, bool call);
/* except.c: a 64-bit TSS stack pointer (SDM vol. 3, 8.7, figure 8-11: RSP0-2 at 4,
 * IST1-7 at 36); #TS(TR | ext) past the TSS limit. */
uint64_t x86_tss64_rsp(X86Cpu *c, unsigned off, uint32_t ext);
void x86_iret(X86Cpu *c, unsigned osize);
/* Near branch target check against the CS limit (#GP(0)). */
X86_INLINE void x86_jump_near(X86Cpu *c, uint32_t target)
{
    if (__builtin_expect(target > c->seg[S_CS].limit, 0) && !c->seg[S_CS].flat)
        x86_gp0(c);
    c->eip = target;
}

typedef enum {
    X86_EV_EXT,        /* external interrupt (INTR) or NMI */
    X86_EV_EXC,        /* processor exception */
    X86_EV_SOFT,       /* INT n: gate DPL checked, returns after the instruction */
    X86_EV_SOFT_EXC,   /* INT3, INTO: like INT n but a trap-class exception */
    X86_EV_ICEBP,      /* INT1 (F1): no DPL check, trap */
} X86EventKind;
/* Delivers an interrupt or exception through the IVT / IDT (may fault: callers run
 * it under the dispatcher's exception handling). */
void x86_deliver(X86Cpu *c, int vec, X86EventKind kind, bool has_err, uint32_t err);

typedef enum { X86_TS_JMP, X86_TS_CALL, X86_TS_IRET, X86_TS_INT } X86TaskReason;
void x86_task_switch(X86Cpu *c, uint16_t sel, X86Desc d, X86TaskReason why,
                     bool has_err, uint32_t err);

/* Checks the stack segment of a privilege change to level dpl (#TS / #SS with the
 * EXT bit ext); returns its descriptor. */
void x86_check_new_ss(X86Cpu *c, uint16_t ss, unsigned dpl, uint32_t ext, X86Desc *d);

/* I/O permission (IOPL and the TSS bitmap): #GP(0) if denied. */
void x86_io_check(X86Cpu *c, uint16_t port, unsigned size);

/* ---- model-specific registers (system.c) ---- */

/* IA32_MISC_ENABLE of this model (SDM vol. 4, table 2-2): fast strings (bit 0), the
 * automatic thermal control circuit (3) and XD bit disable (34) are read/write; the
 * performance-monitoring-available (7, clear: no counters here), BTS-unavailable (11)
 * and PEBS-unavailable (12) bits are read-only; everything else is reserved here: no
 * Enhanced SpeedStep (16), MONITOR (18) or xTPR (23), and with CPUID's highest leaf
 * at 2 no Limit-CPUID-Maxval (22). */
#define X86_MISC_ENABLE_FAST_STRINGS (UINT64_C(1) << 0)
#define X86_MISC_ENABLE_TCC (UINT64_C(1) << 3)
#define X86_MISC_ENABLE_BTS_UNAVAIL (UINT64_C(1) << 11)
#define X86_MISC_ENABLE_PEBS_UNAVAIL (UINT64_C(1) << 12)
#define X86_MISC_ENABLE_XD_DISABLE (UINT64_C(1) << 34)
#define X86_MISC_ENABLE_RW (X86_MISC_ENABLE_FAST_STRINGS | X86_MISC_ENABLE_TCC | X86_MISC_ENABLE_XD_DISABLE)
#define X86_MISC_ENABLE_RO ((UINT64_C(1) << 7) | X86_MISC_ENABLE_BTS_UNAVAIL | X86_MISC_ENABLE_PEBS_UNAVAIL)
#define X86_MISC_ENABLE_RESET (X86_MISC_ENABLE_FAST_STRINGS | X86_MISC_ENABLE_BTS_UNAVAIL | \
                               X86_MISC_ENABLE_PEBS_UNAVAIL)

/* The EFER bits this model has (SDM vol. 4, table 2-2, IA32_EFER): SCE, NXE unless
 * IA32_MISC_ENABLE hides the XD feature, and LME/LMA on models with long mode. */
X86_INLINE uint64_t x86_efer_valid(const X86Cpu *c)
{
    bool nx = (c->model->ext_edx & CPUID_EXT_NX) && !(c->misc_enable & X86_MISC_ENABLE_XD_DISABLE);
    bool lm = c->model->ext_edx & CPUID_EXT_LM;
    return X86_EFER_SCE | (nx ? X86_EFER_NXE : 0) | (lm ? X86_EFER_LME | X86_EFER_LMA : 0);
}

/* IA-32e mode is active (EFER.LMA): 4-level paging, the 64-bit IDT. */
X86_INLINE bool x86_ia32e(const X86Cpu *c)
{
    return c->efer & X86_EFER_LMA;
}

/* Stops the vCPU for something this CPU cannot do yet (64-bit mode: see README.md):
 * one error line, then the VM shuts down (X86_RUN_SHUTDOWN), rather than running the
 * guest on with wrong semantics. */
X86_NORETURN void x86_unsupported(X86Cpu *c, const char *what);
#define X86_EXC_UNSUPPORTED (-2) /* c->exc_vec of x86_unsupported (-1: x86_stall) */

/* ---- CPU models (features.c) ---- */
/* The CPUID features an instruction needs (cpu-model.h's one-word form; 0: every
 * model has it). The block builder turns an instruction whose features the model
 * lacks into #UD. */
uint64_t x86_insn_features(const X86Insn *i);
X86_INLINE bool x86_has(const X86Cpu *c, uint64_t features)
{
    return (c->features & features) == features;
}

/* ---- control registers (system.c) ---- */
void x86_write_cr0(X86Cpu *c, uint32_t v);
void x86_write_cr3(X86Cpu *c, uint64_t v);
void x86_write_cr4(X86Cpu *c, uint32_t v);
void x86_update_debug(X86Cpu *c);
/* Data breakpoint check for a linear access (slow path only). */
void x86_check_data_bp(X86Cpu *c, uint64_t lin, unsigned size, bool write);
/* system.c: I/O breakpoints (CR4.DE) for an access to port, just before it. */
void x86_check_io_bp(X86Cpu *c, uint16_t port, unsigned size);

/* ---- the debugger (debug.c) ---- */
/* Recomputes X86_CODE_BP_DEBUGGER after the debugger's state changed. */
void x86_debug_refresh(X86Cpu *c);
/* The breakpoint at lin, or -1. */
int x86_debug_bp_find(const X86Cpu *c, uint64_t lin);
/* Whether a breakpoint lies in [lin, lin + len). */
bool x86_debug_bp_in_range(const X86Cpu *c, uint64_t lin, uint32_t len);
/* Decides a stop, reported at the next instruction boundary. */
void x86_debug_set_stop(X86Cpu *c, CpuDebugStopReason reason, CpuDebugKind kind, uint64_t addr);
/* Watchpoints against a data access (from x86_check_data_bp). */
void x86_debug_check_watch(X86Cpu *c, uint64_t lin, unsigned size, bool write);
uint64_t x86_rdtsc(X86Cpu *c);

/* ---- INIT and STARTUP (state.c) ---- */

#define X86_HALT_SIPI 2
/* Takes pending INIT and STARTUP requests (VCPU_REQ_INIT, VCPU_REQ_SIPI). */
void x86_cpu_startup_events(X86Cpu *c);

/* ---- code cache (exec.c) ---- */

/* A physical page holding decoded code was written by a device (any thread): the
 * code is dropped before it runs again. */
void x86_code_invalidate_phys(X86Cpu *c, uint64_t pa);
/* The vCPU itself stores size bytes at pa (within a page): drops the page's decoded
 * code if the store touches it; true if it did. */
bool x86_code_store(X86Cpu *c, uint64_t pa, unsigned size);
bool x86_code_page_cached(X86Cpu *c, uint64_t pa);
void x86_code_flush_all(X86Cpu *c);
/* For the translator's chained jumps: the version word of the page of the block that
 * owns slot (run_block's slot), and in *version the version the block was decoded at and
 * in *phys its physical address. */
const uint32_t *x86_code_slot_version(X86Cpu *c, void **slot, uint32_t *version, uint64_t *phys);
X86CodeCache *x86_code_new(void);
void x86_code_free(X86CodeCache *cc);

/* ---- handler binding (one per file, called by the decoder) ---- */

X86Handler x86_bind_alu(X86Insn *i);
X86Handler x86_bind_shift(X86Insn *i);
X86Handler x86_bind_move(X86Insn *i);
X86Handler x86_bind_string(X86Insn *i);
X86Handler x86_bind_control(X86Insn *i);
X86Handler x86_bind_system(X86Insn *i);
X86Handler x86_bind_seg(X86Insn *i);
X86Handler x86_bind_x87(X86Insn *i);
X86Handler x86_bind_simd(X86Insn *i);
/* 64-bit mode (exec64.c): the handler of a decoded instruction, given the one the
 * other binders chose (legacy): that one where it is right in 64-bit mode too, one of
 * exec64.c's, or x86_handle_64_unsupported (the VM stops: not implemented yet). May
 * renumber operands; sets X86_INSN_END_BLOCK where the 64-bit form needs it. */
X86Handler x86_bind64(X86Insn *i, X86Handler legacy);
/* system64.c: SYSCALL, SYSRET, SWAPGS, IRETQ, RDTSCP in 64-bit mode; NULL if op is none. */
X86Handler x86_bind_system64(X86Insn *i);
/* The long-mode MSRs (STAR..TSC_AUX, FS/GS base): false when msr is none of them. */
bool x86_msr64_read(X86Cpu *c, uint32_t msr, uint64_t *v);
/* simd-sse4.c: CRC-32C (CRC32's polynomial) of the low bytes of data. */
uint32_t x86_crc32c(uint32_t crc, uint32_t data, unsigned bytes);
/* system64.c: SYSENTER and SYSEXIT in IA-32e mode (from compatibility mode too). */
void x86_sysenter_ia32e(X86Cpu *c);
void x86_sysexit_ia32e(X86Cpu *c, bool to64);
/* system64.c: IRET in IA-32e mode (64-bit or compatibility mode), slots of size bytes. */
void x86_iret_ia32e(X86Cpu *c, unsigned size);
bool x86_msr64_write(X86Cpu *c, uint32_t msr, uint64_t v, bool *ok);
void x86_handle_64_unsupported(X86Cpu *c, const X86Insn *i);

/* ---- x87, MMX, SSE (x87.c, simd.c) ---- */

/* Power-on state of the x87 and SSE units (SDM vol. 3, table 9-1). */
void x86_fpu_reset(X86Cpu *c);
/* FNINIT. */
void x87_init(X86Cpu *c);
/* The status word with TOP, and the full tag word computed from the registers. */
uint16_t x87_status(const X86Cpu *c);
uint16_t x87_tag_word(const X86Cpu *c);
/* Loads the tag word's empty/non-empty state. */
void x87_set_tag_word(X86Cpu *c, uint16_t tags);
/* A waiting x87 (or MMX) instruction meets an unmasked exception left by an earlier
 * one: #MF, or the FERR# stall. */
void x87_check_pending(X86Cpu *c);
/* Recomputes ES and B from the flags and masks, and the FERR# output with them. */
void x87_update_es(X86Cpu *c);
/* FXSAVE / FXRSTOR images (SDM vol. 2, FXSAVE table 3-53): the save fills XMM0-15
 * (bytes 160-415), the restore loads XMM0-7 (64-bit mode's callers XMM8-15). */
void x86_fxsave_image(X86Cpu *c, uint8_t img[512]);
/* false if the image's MXCSR has reserved bits set (#GP). */
bool x86_fxrstor_image(X86Cpu *c, const uint8_t img[512]);
void x86_handle_ud(X86Cpu *c, const X86Insn *i);
/* The stand-in for an instruction across a page end at the end of a cached block
 * (exec.c): opcode X86_OP_CROSS (0F FF is UD0, which the decoder makes #UD), never
 * compiled inline. */
#define X86_OP_CROSS 0x0fff
void x86_handle_cross(X86Cpu *c, const X86Insn *i);
/* An instruction across a page end as the translator compiles it (x86_cross_prepare):
 * the decoded copy, its bytes in the first page, and the second page, where its
 * version is kept and what it was when the bytes were read. */
typedef struct X86CrossCode {
    const X86Insn *insn;       /* NULL: none */
    unsigned left;
    uint64_t phys1;
    const uint32_t *version_at;
    uint32_t version;
} X86CrossCode;
bool x86_cross_prepare(X86Cpu *c, uint64_t lin, X86CrossCode *out);

/* The 64-bit r/m operand of a REX.W form (64-bit mode: flat segments). */
X86_INLINE uint64_t x86_get_rm64(X86Cpu *c, const X86Insn *i)
{
    if (!(i->pfx & X86_PFX_MEM))
        return c->regs[i->rm];
    return x86_ld64_lin(c, x86_lin(c, i->seg, x86_ea(c, i), 8, SEG_OK_READ));
}
X86_INLINE void x86_set_rm64(X86Cpu *c, const X86Insn *i, uint64_t v)
{
    if (!(i->pfx & X86_PFX_MEM))
        c->regs[i->rm] = v;
    else
        x86_st64_lin(c, x86_lin(c, i->seg, x86_ea(c, i), 8, SEG_OK_WRITE), v);
}

/* Operand size of an instruction with the w bit (bit 0 of the opcode) decided. */
X86_INLINE unsigned x86_osize(const X86Insn *i)
{
    return (i->pfx & X86_PFX_OP32) ? 4 : 2;
}

/* Sign-extension helpers. */
X86_INLINE uint32_t x86_sext(uint32_t v, unsigned size)
{
    if (size == 1)
        return (uint32_t)(int32_t)(int8_t)v;
    if (size == 2)
        return (uint32_t)(int32_t)(int16_t)v;
    return v;
}
X86_INLINE uint32_t x86_mask(unsigned size)
{
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

/* Reads / writes a ModRM r/m operand of the given size (register or memory). */
X86_INLINE uint32_t x86_get_rm(X86Cpu *c, const X86Insn *i, unsigned size)
{
    if (!(i->pfx & X86_PFX_MEM)) {
        if (size == 1)
            return *x86_reg8(c, i->rm);
        if (size == 2)
            return *x86_reg16(c, i->rm);
        return c->regs[i->rm];
    }
    return x86_read(c, i->seg, x86_ea(c, i), size);
}
X86_INLINE void x86_set_reg(X86Cpu *c, unsigned r, unsigned size, uint32_t v)
{
    if (size == 1)
        *x86_reg8(c, r) = (uint8_t)v;
    else if (size == 2)
        *x86_reg16(c, r) = (uint16_t)v;
    else
        c->regs[r] = v;
}
X86_INLINE uint32_t x86_get_reg(X86Cpu *c, unsigned r, unsigned size)
{
    if (size == 1)
        return *x86_reg8(c, r);
    if (size == 2)
        return *x86_reg16(c, r);
    return c->regs[r];
}
X86_INLINE void x86_set_rm(X86Cpu *c, const X86Insn *i, unsigned size, uint32_t v)
{
    if (!(i->pfx & X86_PFX_MEM))
        x86_set_reg(c, i->rm, size, v);
    else
        x86_write(c, i->seg, x86_ea(c, i), size, v);
}

/* Logging. */
#define X86_LOG_INT(...) VLOG(LOG_INT, __VA_ARGS__)
