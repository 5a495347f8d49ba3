/* SPDX-License-Identifier: GPL-2.0-or-later */
/* 64-bit mode (IA-32e with CS.L, issue 18 phase 2): the integer instructions whose
 * semantics differ there (SDM vol. 1, 3.4.1.1 and vol. 2, 2.2.1): 64-bit operands
 * (REX.W and the default-64 opcodes), 64-bit stack and near branches, RIP-relative and
 * 64-bit effective addresses with the canonical check, MOVSXD, CDQE/CQO, MUL/DIV with
 * 128-bit results, string instructions on RSI/RDI/RCX. The instructions whose 8-, 16-
 * and 32-bit forms behave as in 32-bit code keep their handlers (the decoder numbers
 * R8-R15 and SPL-DIL, x86_ea forms 64-bit addresses); what is neither runs into
 * x86_handle_64_unsupported and stops the VM with one line.
 *
 * A linear address must be canonical (bits 63:47 equal): otherwise #GP(0), or #SS(0)
 * for a stack reference (SDM vol. 3, 3.3.7.1). */
#include "cpu/x86/cpu-internal.h"

/* ---- addresses ---- */

static inline bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

X86_COLD X86_NORETURN static void noncanonical(X86Cpu *c, unsigned seg)
{
    if (seg == S_SS)
        x86_fault_err(c, X86_EXC_SS, 0);
    x86_gp0(c);
}

/* The linear address of seg:off for size bytes (only FS and GS have a base). */
static inline uint64_t lin64(X86Cpu *c, unsigned seg, uint64_t off, unsigned size)
{
    uint64_t lin = off + (seg >= S_FS ? c->seg[seg].base : 0);
    if (__builtin_expect(!canonical(lin) || !canonical(lin + size - 1), 0))
        noncanonical(c, seg);
    return lin;
}

/* The effective address without any check (LEA, and the base of the checked one). */
static inline uint64_t ea_raw(const X86Cpu *c, const X86Insn *i)
{
    uint64_t ea;
    if (i->flags & X86_INSN_RIPREL)
        ea = c->eip + (uint64_t)(int64_t)(int32_t)i->disp;
    else
        ea = c->regs[i->base] + (c->regs[i->index] << i->scale) + (uint64_t)(int64_t)(int32_t)i->disp;
    if (!(i->flags & X86_INSN_AD64)) /* 67h: 32-bit address, zero-extended */
        ea = (uint32_t)ea;
    return ea;
}

uint64_t x86_ea_long(X86Cpu *c, const X86Insn *i)
{
    uint64_t ea = ea_raw(c, i);
    uint64_t lin = ea + (i->seg >= S_FS ? c->seg[i->seg].base : 0);
    if (__builtin_expect(!canonical(lin), 0))
        noncanonical(c, i->seg);
    return ea;
}

/* ---- operands ---- */

static inline uint64_t rd(X86Cpu *c, unsigned r, unsigned size)
{
    switch (size) {
    case 1: return *x86_reg8(c, r);
    case 2: return *x86_reg16(c, r);
    case 4: return (uint32_t)c->regs[r];
    default: return c->regs[r];
    }
}

/* 32-bit results zero-extend into 64 (SDM vol. 1, 3.4.1.1); 8 and 16 do not. */
static inline void wr(X86Cpu *c, unsigned r, unsigned size, uint64_t v)
{
    switch (size) {
    case 1: *x86_reg8(c, r) = (uint8_t)v; break;
    case 2: *x86_reg16(c, r) = (uint16_t)v; break;
    case 4: c->regs[r] = (uint32_t)v; break;
    default: c->regs[r] = v; break;
    }
}

static inline uint64_t ld(X86Cpu *c, uint64_t lin, unsigned size)
{
    return size == 8 ? x86_ld64_lin(c, lin) : x86_ld_lin(c, lin, size);
}

static inline void st(X86Cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
    if (size == 8)
        x86_st64_lin(c, lin, v);
    else
        x86_st_lin(c, lin, size, (uint32_t)v);
}

static inline uint64_t mem_lin(X86Cpu *c, const X86Insn *i)
{
    return c->seg[i->seg].base + x86_ea(c, i);
}

static inline unsigned osize(const X86Insn *i)
{
    return (i->flags & X86_INSN_OP64) ? 8 : (i->pfx & X86_PFX_OP32) ? 4 : 2;
}

static inline uint64_t mask(unsigned size)
{
    return size == 8 ? ~UINT64_C(0) : (UINT64_C(1) << (size * 8)) - 1;
}

static inline uint64_t sext(uint64_t v, unsigned size)
{
    switch (size) {
    case 1: return (uint64_t)(int64_t)(int8_t)v;
    case 2: return (uint64_t)(int64_t)(int16_t)v;
    case 4: return (uint64_t)(int64_t)(int32_t)v;
    default: return v;
    }
}

static inline uint64_t get_rm(X86Cpu *c, const X86Insn *i, unsigned size)
{
    if (!(i->pfx & X86_PFX_MEM))
        return rd(c, i->rm, size);
    return ld(c, mem_lin(c, i), size);
}

static inline void set_rm(X86Cpu *c, const X86Insn *i, unsigned size, uint64_t v)
{
    if (!(i->pfx & X86_PFX_MEM))
        wr(c, i->rm, size, v);
    else
        st(c, mem_lin(c, i), size, v);
}

/* Read-modify-write of the r/m operand with cpu-internal.h's X86Rmw: the write access
 * is checked before the read (x86_wptr translates for writing, so a fault leaves memory
 * unchanged). A locked one (LOCK, or XCHG with memory) in a VM with several vCPUs is a
 * host compare-and-swap over the result (x86_rmw_make_atomic): rmw_end then returns
 * false when another vCPU changed the operand meanwhile, with the flags back as they
 * were and r->old the value now there, and the handler computes again. Only MMIO and
 * page-crossing operands stop the other vCPUs, and that section ends in rmw_end. */
static uint64_t rmw_load(X86Cpu *c, uint64_t lin, unsigned size, bool locked, X86Rmw *r)
{
    r->atomic = 0;
    r->lin = lin;
    r->host = x86_wptr(c, lin, size);
    if (__builtin_expect(locked && c->smp, 0))
        return x86_rmw_make_atomic(c, r, size);
    if (r->host) {
        uint64_t v = 0;
        memcpy(&v, r->host, size);
        return v;
    }
    return size == 8 ? x86_ld64_slow(c, lin, c->acc_user) : x86_ld_slow(c, lin, size, c->acc_user);
}

static bool rmw_store(X86Cpu *c, X86Rmw *r, unsigned size, uint64_t v)
{
    if (__builtin_expect(r->atomic, 0))
        return x86_rmw_end_atomic(c, r, size, v);
    if (r->host)
        memcpy(r->host, &v, size);
    else if (size == 8)
        x86_st64_slow(c, r->lin, v, c->acc_user | ACC_WRITE);
    else
        x86_st_slow(c, r->lin, size, (uint32_t)v, c->acc_user | ACC_WRITE);
    return true;
}

static inline bool locked(const X86Insn *i)
{
    return (i->pfx & X86_PFX_LOCK) || i->opcode == 0x86 || i->opcode == 0x87;
}

static uint64_t rmw_begin(X86Cpu *c, const X86Insn *i, unsigned size, X86Rmw *r)
{
    if (!(i->pfx & X86_PFX_MEM))
        return rd(c, i->rm, size);
    return rmw_load(c, mem_lin(c, i), size, locked(i), r);
}

static bool rmw_end(X86Cpu *c, const X86Insn *i, unsigned size, X86Rmw *r, uint64_t v)
{
    if (!(i->pfx & X86_PFX_MEM)) {
        wr(c, i->rm, size, v);
        return true;
    }
    return rmw_store(c, r, size, v);
}

/* A locked ADD-like operation on memory with several vCPUs as one host LOCK XADD of
 * delta (x86_locked_add_lin); false, nothing done, otherwise (the caller's loop). */
static inline bool locked_add(X86Cpu *c, const X86Insn *i, unsigned size, uint64_t delta, uint64_t *old)
{
    return (i->pfx & X86_PFX_LOCK) && (i->pfx & X86_PFX_MEM) && c->smp &&
           x86_locked_add_lin(c, mem_lin(c, i), size, delta, old);
}

/* ---- flags ---- */

static inline uint32_t szp(uint64_t r, unsigned size)
{
    uint32_t f = x86_parity((uint32_t)r);
    r &= mask(size);
    if (!r)
        f |= X86_FL_ZF;
    if (r >> (size * 8 - 1))
        f |= X86_FL_SF;
    return f;
}

static inline void set_flags(X86Cpu *c, uint32_t f, uint32_t which)
{
    x86_set_arith(c, f, which);
}

enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP };

/* The eight ALU operations at any size, flags computed at once (SDM vol. 1, A.2);
 * at 64 bits all but ADC and SBB keep them lazy (flags.c's CC_ADD64...), as
 * translated 64-bit code does (cpu/jit/tr-64.c), so a slow path leaves the state
 * its inline path would. */
static uint64_t alu(X86Cpu *c, unsigned op, uint64_t a, uint64_t b, unsigned size)
{
    if (size == 8 && op != OP_ADC && op != OP_SBB) {
        switch (op) {
        case OP_ADD: x86_set_lazy64(c, CC_ADD64, 0, a, b); return a + b;
        case OP_SUB: case OP_CMP: x86_set_lazy64(c, CC_SUB64, 0, a, b); return a - b;
        case OP_OR: x86_set_lazy64(c, CC_LOGIC64, a | b, 0, 0); return a | b;
        case OP_AND: x86_set_lazy64(c, CC_LOGIC64, a & b, 0, 0); return a & b;
        default: x86_set_lazy64(c, CC_LOGIC64, a ^ b, 0, 0); return a ^ b;
        }
    }
    uint64_t m = mask(size), r, top = UINT64_C(1) << (size * 8 - 1);
    a &= m;
    b &= m;
    uint32_t f = 0;
    bool cin;
    switch (op) {
    case OP_ADD:
    case OP_ADC:
        cin = op == OP_ADC && x86_flag_cf(c);
        r = (a + b + cin) & m;
        if (cin ? r <= a : r < a)
            f |= X86_FL_CF;
        if ((a ^ r) & (b ^ r) & top)
            f |= X86_FL_OF;
        f |= (uint32_t)(a ^ b ^ r) & X86_FL_AF;
        break;
    case OP_SUB:
    case OP_SBB:
    case OP_CMP:
        cin = op == OP_SBB && x86_flag_cf(c);
        r = (a - b - cin) & m;
        if (cin ? a <= b : a < b)
            f |= X86_FL_CF;
        if ((a ^ b) & (a ^ r) & top)
            f |= X86_FL_OF;
        f |= (uint32_t)(a ^ b ^ r) & X86_FL_AF;
        break;
    case OP_OR: r = a | b; break;
    case OP_AND: r = a & b; break;
    default: r = a ^ b; break;
    }
    set_flags(c, f | szp(r, size), X86_FL_ARITH);
    return r;
}

/* ---- ALU ---- */

/* r/m op= b: a locked ADD, ADC, SUB or SBB adds with LOCK XADD (the carry in included)
 * and computes the flags from the value before, as alu does. */
static void alu_rmw(X86Cpu *c, const X86Insn *i, unsigned op, unsigned size, uint64_t b)
{
    uint64_t delta = 0, a;
    bool adds = true;
    switch (op) {
    case OP_ADD: delta = b; break;
    case OP_ADC: delta = b + x86_flag_cf(c); break;
    case OP_SUB: delta = 0 - b; break;
    case OP_SBB: delta = 0 - (b + x86_flag_cf(c)); break;
    default: adds = false; break;
    }
    if (adds && locked_add(c, i, size, delta, &a)) {
        alu(c, op, a, b, size);
        return;
    }
    X86Rmw r;
    a = rmw_begin(c, i, size, &r);
    while (!rmw_end(c, i, size, &r, alu(c, op, a, b, size)))
        a = r.old;
}

static void alu_rm_r(X86Cpu *c, const X86Insn *i)
{
    unsigned op = (i->opcode >> 3) & 7, size = osize(i);
    if (op == OP_CMP) { /* reads only: no write check (a read-only page is fine) */
        alu(c, op, get_rm(c, i, size), rd(c, i->reg, size), size);
        return;
    }
    alu_rmw(c, i, op, size, rd(c, i->reg, size));
}

static void alu_r_rm(X86Cpu *c, const X86Insn *i)
{
    unsigned op = (i->opcode >> 3) & 7, size = osize(i);
    uint64_t v = alu(c, op, rd(c, i->reg, size), get_rm(c, i, size), size);
    if (op != OP_CMP)
        wr(c, i->reg, size, v);
}

static void alu_acc_imm(X86Cpu *c, const X86Insn *i)
{
    unsigned op = (i->opcode >> 3) & 7, size = osize(i);
    uint64_t v = alu(c, op, rd(c, R_EAX, size), sext(i->imm, 4), size);
    if (op != OP_CMP)
        wr(c, R_EAX, size, v);
}

static void grp1(X86Cpu *c, const X86Insn *i)
{
    unsigned op = i->reg & 7, size = osize(i);
    if (op == OP_CMP) {
        alu(c, op, get_rm(c, i, size), sext(i->imm, 4), size);
        return;
    }
    alu_rmw(c, i, op, size, sext(i->imm, 4));
}

static void test_rm_r(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    alu(c, OP_AND, get_rm(c, i, size), rd(c, i->reg, size), size);
}

static void test_acc_imm(X86Cpu *c, const X86Insn *i)
{
    alu(c, OP_AND, c->regs[R_EAX], sext(i->imm, 4), 8);
}

static void incdec(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    unsigned op = i->reg & 1 ? OP_SUB : OP_ADD;
    bool cf = x86_flag_cf(c);
    uint64_t a;
    if (locked_add(c, i, size, op == OP_SUB ? ~UINT64_C(0) : 1, &a)) {
        alu(c, op, a, 1, size);
        set_flags(c, cf ? X86_FL_CF : 0, X86_FL_CF); /* INC/DEC keep CF */
        return;
    }
    X86Rmw r;
    a = rmw_begin(c, i, size, &r);
    for (;;) {
        uint64_t v = alu(c, op, a, 1, size);
        set_flags(c, cf ? X86_FL_CF : 0, X86_FL_CF);
        if (rmw_end(c, i, size, &r, v))
            break;
        a = r.old; /* (the flags are back as they were at begin: CF too) */
    }
}

/* F7: TEST, NOT, NEG, MUL, IMUL, DIV, IDIV with 64-bit operands (128-bit products and
 * dividends in RDX:RAX). */
static void grp3(X86Cpu *c, const X86Insn *i)
{
    unsigned size = 8;
    switch (i->reg & 7) {
    case 0:
    case 1:
        alu(c, OP_AND, get_rm(c, i, size), sext(i->imm, 4), size);
        return;
    case 2: {
        X86Rmw r;
        uint64_t a = rmw_begin(c, i, size, &r);
        while (!rmw_end(c, i, size, &r, ~a))
            a = r.old;
        return;
    }
    case 3: {
        X86Rmw r;
        uint64_t a = rmw_begin(c, i, size, &r);
        while (!rmw_end(c, i, size, &r, alu(c, OP_SUB, 0, a, size)))
            a = r.old;
        return;
    }
    case 4: {
        unsigned __int128 p = (unsigned __int128)c->regs[R_EAX] * get_rm(c, i, size);
        c->regs[R_EAX] = (uint64_t)p;
        c->regs[R_EDX] = (uint64_t)(p >> 64);
        uint32_t f = c->regs[R_EDX] ? X86_FL_CF | X86_FL_OF : 0;
        set_flags(c, f | szp(c->regs[R_EAX], 8), X86_FL_ARITH);
        return;
    }
    case 5: {
        __int128 p = (__int128)(int64_t)c->regs[R_EAX] * (int64_t)get_rm(c, i, size);
        c->regs[R_EAX] = (uint64_t)p;
        c->regs[R_EDX] = (uint64_t)((unsigned __int128)p >> 64);
        uint32_t f = p != (__int128)(int64_t)(uint64_t)p ? X86_FL_CF | X86_FL_OF : 0;
        set_flags(c, f | szp(c->regs[R_EAX], 8), X86_FL_ARITH);
        return;
    }
    case 6: {
        uint64_t d = get_rm(c, i, size);
        unsigned __int128 n = (unsigned __int128)c->regs[R_EDX] << 64 | c->regs[R_EAX];
        if (d == 0 || (n / d) >> 64)
            x86_fault(c, X86_EXC_DE);
        c->regs[R_EAX] = (uint64_t)(n / d);
        c->regs[R_EDX] = (uint64_t)(n % d);
        return;
    }
    default: {
        int64_t d = (int64_t)get_rm(c, i, size);
        __int128 n = (__int128)((unsigned __int128)c->regs[R_EDX] << 64 | c->regs[R_EAX]);
        if (d == 0)
            x86_fault(c, X86_EXC_DE);
        /* The one quotient that does not fit an __int128 division either. */
        if (d == -1 && (unsigned __int128)n == (unsigned __int128)1 << 127)
            x86_fault(c, X86_EXC_DE);
        __int128 q = n / d, rem = n % d;
        if (q != (__int128)(int64_t)q)
            x86_fault(c, X86_EXC_DE);
        c->regs[R_EAX] = (uint64_t)q;
        c->regs[R_EDX] = (uint64_t)rem;
        return;
    }
    }
}

static void imul_r(X86Cpu *c, uint64_t a, uint64_t b, unsigned reg)
{
    __int128 p = (__int128)(int64_t)a * (int64_t)b;
    c->regs[reg] = (uint64_t)p;
    uint32_t f = p != (__int128)(int64_t)(uint64_t)p ? X86_FL_CF | X86_FL_OF : 0;
    set_flags(c, f | szp((uint64_t)p, 8), X86_FL_ARITH);
}

static void imul_2(X86Cpu *c, const X86Insn *i)
{
    imul_r(c, c->regs[i->reg], get_rm(c, i, 8), i->reg);
}

static void imul_3(X86Cpu *c, const X86Insn *i)
{
    imul_r(c, get_rm(c, i, 8), sext(i->imm, 4), i->reg);
}

/* ---- shifts and rotates (count masked to 6 bits; SDM vol. 2, SAL/SAR/SHL/SHR) ---- */

static void shift(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i), bits = size * 8;
    unsigned cnt = i->opcode == 0xd1 ? 1 : i->opcode == 0xd3 ? (c->regs[R_ECX] & 0xff) : (i->imm & 0xff);
    cnt &= size == 8 ? 63 : 31;
    X86Rmw r; /* (never locked: LOCK is #UD here, the decoder's) */
    uint64_t a = rmw_begin(c, i, size, &r), m = mask(size), v = a, top = UINT64_C(1) << (bits - 1);
    if (cnt == 0) {
        rmw_end(c, i, size, &r, a);
        return;
    }
    uint32_t f = 0, which = X86_FL_CF | X86_FL_OF;
    bool cf;
    switch (i->reg & 7) {
    case 0: /* ROL */
        cnt %= bits;
        v = cnt ? ((a << cnt) | (a >> (bits - cnt))) & m : a;
        cf = v & 1;
        f = (cf ? X86_FL_CF : 0) | ((((v & top) != 0) ^ cf) ? X86_FL_OF : 0);
        break;
    case 1: /* ROR */
        cnt %= bits;
        v = cnt ? ((a >> cnt) | (a << (bits - cnt))) & m : a;
        cf = v & top;
        f = (cf ? X86_FL_CF : 0) | ((((v >> (bits - 1)) ^ (v >> (bits - 2))) & 1) ? X86_FL_OF : 0);
        break;
    case 2: { /* RCL through CF: a rotate of bits + 1 */
        unsigned n = cnt % (bits + 1);
        cf = x86_flag_cf(c);
        for (unsigned k = 0; k < n; k++) {
            bool out = v & top;
            v = ((v << 1) | cf) & m;
            cf = out;
        }
        f = (cf ? X86_FL_CF : 0) | ((((v & top) != 0) ^ cf) ? X86_FL_OF : 0);
        break;
    }
    case 3: { /* RCR */
        unsigned n = cnt % (bits + 1);
        cf = x86_flag_cf(c);
        bool of = ((a & top) != 0) ^ cf;
        for (unsigned k = 0; k < n; k++) {
            bool out = v & 1;
            v = (v >> 1) | (cf ? top : 0);
            cf = out;
        }
        f = (cf ? X86_FL_CF : 0) | (of ? X86_FL_OF : 0);
        break;
    }
    case 4:
    case 6: /* SHL/SAL */
        v = (a << cnt) & m;
        cf = (a >> (bits - cnt)) & 1;
        f = (cf ? X86_FL_CF : 0) | ((((v & top) != 0) ^ cf) ? X86_FL_OF : 0) | szp(v, size);
        which = X86_FL_ARITH;
        break;
    case 5: /* SHR */
        v = a >> cnt;
        cf = (a >> (cnt - 1)) & 1;
        f = (cf ? X86_FL_CF : 0) | ((a & top) ? X86_FL_OF : 0) | szp(v, size);
        which = X86_FL_ARITH;
        break;
    default: /* SAR */
        v = (uint64_t)((int64_t)(sext(a, size)) >> cnt) & m;
        cf = ((int64_t)sext(a, size) >> (cnt - 1)) & 1;
        f = (cf ? X86_FL_CF : 0) | szp(v, size);
        which = X86_FL_ARITH;
        break;
    }
    set_flags(c, f, which);
    rmw_end(c, i, size, &r, v);
}

/* SHLD/SHRD r/m32 and r/m64 (a count of 0 still zero-extends a 32-bit register). */
static void shld_shrd(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i), bits = size * 8;
    unsigned cnt = ((i->opcode & 1) ? c->regs[R_ECX] : i->imm) & (size == 8 ? 63 : 31);
    X86Rmw r; /* (never locked) */
    uint64_t m = mask(size);
    uint64_t a = rmw_begin(c, i, size, &r) & m, b = c->regs[i->reg] & m, v = a;
    if (cnt) {
        bool left = i->opcode < 0x0fa8;
        bool cf;
        if (left) {
            v = ((a << cnt) | (b >> (bits - cnt))) & m;
            cf = (a >> (bits - cnt)) & 1;
        } else {
            v = ((a >> cnt) | (b << (bits - cnt))) & m;
            cf = (a >> (cnt - 1)) & 1;
        }
        uint32_t f = (cf ? X86_FL_CF : 0) | ((((a ^ v) >> (bits - 1)) & 1) ? X86_FL_OF : 0) | szp(v, size);
        set_flags(c, f, X86_FL_ARITH);
    }
    rmw_end(c, i, size, &r, v);
}

/* ---- bit instructions ---- */

static void bt(X86Cpu *c, const X86Insn *i)
{
    unsigned kind = i->opcode == 0x0fba ? (i->reg & 3) : ((i->opcode >> 3) & 3); /* BT BTS BTR BTC */
    int64_t off = i->opcode == 0x0fba ? (int64_t)(i->imm & 63) : (int64_t)c->regs[i->reg];
    uint64_t v, bit = UINT64_C(1) << (off & 63);
    if (!(i->pfx & X86_PFX_MEM)) {
        v = c->regs[i->rm];
        x86_set_arith(c, (v & bit) ? X86_FL_CF : 0, X86_FL_CF);
        if (kind)
            c->regs[i->rm] = kind == 1 ? v | bit : kind == 2 ? v & ~bit : v ^ bit;
        return;
    }
    /* A register bit offset reaches beyond the operand (signed, in quadwords). */
    int64_t q = i->opcode == 0x0fba ? 0 : off >> 6;
    uint64_t lin = lin64(c, i->seg, ea_raw(c, i) + (uint64_t)(q * 8), 8);
    if (!kind) {
        x86_set_arith(c, (ld(c, lin, 8) & bit) ? X86_FL_CF : 0, X86_FL_CF);
        return;
    }
    X86Rmw r;
    v = rmw_load(c, lin, 8, i->pfx & X86_PFX_LOCK, &r);
    for (;;) {
        x86_set_arith(c, (v & bit) ? X86_FL_CF : 0, X86_FL_CF);
        if (rmw_store(c, &r, 8, kind == 1 ? v | bit : kind == 2 ? v & ~bit : v ^ bit))
            break;
        v = r.old;
    }
}

static void bsf_bsr(X86Cpu *c, const X86Insn *i)
{
    uint64_t v = get_rm(c, i, 8);
    if (!v) {
        x86_set_arith(c, X86_FL_ZF, X86_FL_ZF);
        return; /* the destination is left alone */
    }
    c->regs[i->reg] = i->opcode == 0x0fbc ? (uint64_t)__builtin_ctzll(v) : (uint64_t)(63 - __builtin_clzll(v));
    x86_set_arith(c, 0, X86_FL_ZF);
}

static void bswap64(X86Cpu *c, const X86Insn *i)
{
    c->regs[i->reg] = __builtin_bswap64(c->regs[i->reg]);
}

static void cmpxchg(X86Cpu *c, const X86Insn *i)
{
    X86Rmw r;
    uint64_t acc = c->regs[R_EAX], src = c->regs[i->reg];
    uint64_t old = rmw_begin(c, i, 8, &r);
    /* The destination is always written: the old value when the comparison fails
     * (SDM vol. 2, CMPXCHG). */
    while (!rmw_end(c, i, 8, &r, old == acc ? src : old))
        old = r.old;
    alu(c, OP_CMP, acc, old, 8);
    if (old != acc)
        c->regs[R_EAX] = old;
}

static void xadd(X86Cpu *c, const X86Insn *i)
{
    uint64_t a, b = c->regs[i->reg];
    if (!(i->pfx & X86_PFX_MEM)) { /* the destination last: XADD r, r with one register adds */
        a = c->regs[i->rm];
        c->regs[i->reg] = a;
        c->regs[i->rm] = alu(c, OP_ADD, a, b, 8);
        return;
    }
    if (locked_add(c, i, 8, b, &a)) {
        alu(c, OP_ADD, a, b, 8);
    } else {
        X86Rmw r;
        a = rmw_begin(c, i, 8, &r);
        while (!rmw_end(c, i, 8, &r, alu(c, OP_ADD, a, b, 8)))
            a = r.old;
    }
    c->regs[i->reg] = a;
}

#if defined(__x86_64__)
/* The host's LOCK CMPXCHG16B on 16 aligned bytes: true when they held *lo:*hi and now
 * hold nlo:nhi, otherwise false with what they hold in *lo:*hi. (Inline: GCC calls
 * libatomic for 16-byte __atomic operations even with -mcx16.) */
static bool host_cas16(uint8_t *h, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
    bool ok;
    __asm__ volatile("lock cmpxchg16b %1"
                     : "=@ccz"(ok), "+m"(*(unsigned __int128 *)(void *)h), "+a"(*lo), "+d"(*hi)
                     : "b"(nlo), "c"(nhi)
                     : "memory");
    return ok;
}
#endif

/* CMPXCHG16B m128 (REX.W 0F C7 /1): 16-byte aligned or #GP(0). */
static void cmpxchg16b(X86Cpu *c, const X86Insn *i)
{
    uint64_t lin = mem_lin(c, i);
    if (lin & 15)
        x86_gp0(c);
    x86_probe(c, lin, 16, c->acc_user | ACC_WRITE);
    bool exclusive = c->smp && (i->pfx & X86_PFX_LOCK);
#if defined(__x86_64__)
    /* With other vCPUs, one host compare-and-swap of the 16 bytes in RAM. */
    uint64_t pa;
    uint8_t *h = exclusive ? x86_atomic_ptr(c, lin, 16, &pa) : NULL;
    if (h) {
        uint64_t lo = c->regs[R_EAX], hi = c->regs[R_EDX];
        bool ok = host_cas16(h, &lo, &hi, c->regs[R_EBX], c->regs[R_ECX]);
        if (ok) {
            x86_atomic_report(c, pa, 16);
        } else {
            c->regs[R_EAX] = lo;
            c->regs[R_EDX] = hi;
        }
        x86_set_arith(c, ok ? X86_FL_ZF : 0, X86_FL_ZF);
        return;
    }
#endif
    /* MMIO (or a host without the instruction): the other vCPUs stop around the access.
     * Translated for writing above: nothing below faults, so the section ends. */
    if (exclusive)
        vcpu_exclusive_begin(c->v);
    uint64_t lo = x86_ld64_lin(c, lin), hi = x86_ld64_lin(c, lin + 8);
    if (lo == c->regs[R_EAX] && hi == c->regs[R_EDX]) {
        x86_st64_lin(c, lin, c->regs[R_EBX]);
        x86_st64_lin(c, lin + 8, c->regs[R_ECX]);
        x86_set_arith(c, X86_FL_ZF, X86_FL_ZF);
    } else {
        x86_st64_lin(c, lin, lo);
        x86_st64_lin(c, lin + 8, hi);
        c->regs[R_EAX] = lo;
        c->regs[R_EDX] = hi;
        x86_set_arith(c, 0, X86_FL_ZF);
    }
    if (exclusive)
        vcpu_exclusive_end(c->v);
}

/* ---- moves ---- */

static void mov_rm_r(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    set_rm(c, i, size, rd(c, i->reg, size));
}

static void mov_r_rm(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    wr(c, i->reg, size, get_rm(c, i, size));
}

static void mov_rm_imm(X86Cpu *c, const X86Insn *i)
{
    set_rm(c, i, 8, sext(i->imm, 4));
}

static void mov_r_imm64(X86Cpu *c, const X86Insn *i)
{
    c->regs[i->reg] = x86_insn_imm64(i);
}

/* LEA at every operand size: the address is truncated, never checked. */
static void lea(X86Cpu *c, const X86Insn *i)
{
    wr(c, i->reg, osize(i), ea_raw(c, i));
}

/* MOVSXD r64, r/m32; without REX.W a plain 32-bit (or 16-bit) move. */
static void movsxd(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    if (size == 8)
        c->regs[i->reg] = sext(get_rm(c, i, 4), 4);
    else
        wr(c, i->reg, size, get_rm(c, i, size));
}

static void movzx_sx(X86Cpu *c, const X86Insn *i)
{
    unsigned src = (i->opcode & 1) ? 2 : 1;
    uint64_t v = get_rm(c, i, src);
    c->regs[i->reg] = (i->opcode & 8) ? sext(v, src) : v;
}

static void xchg_rm(X86Cpu *c, const X86Insn *i)
{
    X86Rmw r;
    uint64_t b = c->regs[i->reg];
    uint64_t a = rmw_begin(c, i, 8, &r);
    while (!rmw_end(c, i, 8, &r, b))
        a = r.old;
    c->regs[i->reg] = a;
}

/* 90+r: XCHG with rAX; 90 without REX.B is NOP (no zero-extension of EAX). */
static void xchg_acc(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    if (i->reg == 0)
        return;
    uint64_t a = rd(c, R_EAX, size);
    wr(c, R_EAX, size, rd(c, i->reg, size));
    wr(c, i->reg, size, a);
}

static void cbw(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    wr(c, R_EAX, size, sext(rd(c, R_EAX, size / 2), size / 2));
}

static void cwd(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    wr(c, R_EDX, size, (rd(c, R_EAX, size) >> (size * 8 - 1)) ? ~UINT64_C(0) : 0);
}

/* CMOVcc r32 writes (zero-extends) the destination whatever the condition; r64. */
static void cmov(X86Cpu *c, const X86Insn *i)
{
    unsigned size = osize(i);
    uint64_t v = get_rm(c, i, size);
    if (x86_cond(c, i->opcode & 0xf))
        wr(c, i->reg, size, v);
    else if (size == 4)
        c->regs[i->reg] = (uint32_t)c->regs[i->reg];
}

/* A0-A3: MOV AL/rAX to or from a 64-bit absolute offset. */
static void mov_moffs(X86Cpu *c, const X86Insn *i)
{
    unsigned size = (i->opcode & 1) ? osize(i) : 1;
    uint64_t off = (i->flags & X86_INSN_IMM64) ? x86_insn_imm64(i) : i->disp;
    uint64_t lin = lin64(c, i->seg, off, size);
    if (i->opcode & 2)
        st(c, lin, size, rd(c, R_EAX, size));
    else
        wr(c, R_EAX, size, ld(c, lin, size));
}

/* ---- stack (RSP, 8 or 2 bytes; SS has base 0) ---- */

static void push(X86Cpu *c, unsigned size, uint64_t v)
{
    uint64_t sp = c->regs[R_ESP] - size;
    st(c, lin64(c, S_SS, sp, size), size, v);
    c->regs[R_ESP] = sp;
}

static uint64_t pop(X86Cpu *c, unsigned size)
{
    uint64_t sp = c->regs[R_ESP];
    uint64_t v = ld(c, lin64(c, S_SS, sp, size), size);
    c->regs[R_ESP] = sp + size;
    return v;
}

static inline unsigned ssize(const X86Insn *i)
{
    return (i->flags & X86_INSN_OP64) ? 8 : 2;
}

static void push_r(X86Cpu *c, const X86Insn *i)
{
    push(c, ssize(i), c->regs[i->reg]);
}

static void pop_r(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    wr(c, i->reg, size, pop(c, size));
}

static void push_imm(X86Cpu *c, const X86Insn *i)
{
    push(c, ssize(i), sext(i->imm, 4));
}

static void push_rm(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    push(c, size, get_rm(c, i, size));
}

/* POP r/m: the address is computed with RSP already incremented (SDM vol. 2, POP); a
 * fault on the destination leaves RSP as it was. */
static void pop_rm(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    uint64_t sp = c->regs[R_ESP];
    uint64_t v = ld(c, lin64(c, S_SS, sp, size), size);
    if (i->pfx & X86_PFX_MEM) {
        c->regs[R_ESP] = sp + size;
        uint64_t ea = ea_raw(c, i);
        c->regs[R_ESP] = sp;
        uint64_t lin = lin64(c, i->seg, ea, size);
        x86_probe(c, lin, size, c->acc_user | ACC_WRITE);
        st(c, lin, size, v);
        c->regs[R_ESP] = sp + size;
    } else {
        c->regs[R_ESP] = sp + size;
        wr(c, i->rm, size, v);
    }
}

static void pushf(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    push(c, size, (x86_get_eflags(c) & ~(X86_FL_VM | X86_FL_RF)) & mask(size));
}

static void popf(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    uint32_t v = (uint32_t)pop(c, size);
    uint32_t m = X86_FL_ARITH | X86_FL_TF | X86_FL_DF | X86_FL_NT | X86_FL_AC | X86_FL_ID | X86_FL_IF |
                 X86_FL_IOPL;
    if (c->cpl > 0) {
        m &= ~X86_FL_IOPL;
        if (c->cpl > x86_iopl(c))
            m &= ~X86_FL_IF;
    }
    if (size == 2)
        m &= 0xffff;
    x86_write_eflags(c, v, m);
}

static void leave(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    uint64_t bp = c->regs[R_EBP];
    uint64_t v = ld(c, lin64(c, S_SS, bp, size), size);
    c->regs[R_ESP] = bp + size;
    wr(c, R_EBP, size, v);
}

/* XLAT: AL = [RBX + AL], EBX with 67h (SDM vol. 2, XLAT, 64-bit mode). */
static void xlat64(X86Cpu *c, const X86Insn *i)
{
    uint64_t off = c->regs[R_EBX] + (c->regs[R_EAX] & 0xff);
    if (!(i->flags & X86_INSN_AD64))
        off = (uint32_t)off;
    *x86_reg8(c, 0) = (uint8_t)ld(c, lin64(c, i->seg, off, 1), 1);
}

/* ENTER imm16, imm8 (SDM vol. 2, ENTER, 64-bit mode): push RBP; for a nesting level
 * L > 0 copy L - 1 frame pointers from the enclosing frame (below RBP) and push the
 * new frame pointer; then RSP -= imm16. Registers change only after every access. */
static void enter(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i), level = i->imm2 & 31;
    uint64_t sp = c->regs[R_ESP] - size;
    st(c, lin64(c, S_SS, sp, size), size, c->regs[R_EBP]);
    uint64_t frame = sp, bp = c->regs[R_EBP];
    if (level > 0) {
        for (unsigned n = 1; n < level; n++) {
            bp -= size;
            uint64_t v = ld(c, lin64(c, S_SS, bp, size), size);
            sp -= size;
            st(c, lin64(c, S_SS, sp, size), size, v);
        }
        sp -= size;
        st(c, lin64(c, S_SS, sp, size), size, frame);
    }
    sp -= i->imm;
    /* A write at the final RSP must be allowed (#SS if not canonical, #PF where paging
     * refuses it); checked as a one-byte write that stores nothing. */
    if (i->imm)
        x86_probe(c, lin64(c, S_SS, sp, 1), 1, c->acc_user | ACC_WRITE);
    wr(c, R_EBP, size, frame);
    c->regs[R_ESP] = sp;
}

/* ---- near branches (64-bit operand size always; SDM vol. 2, JMP/CALL/Jcc/RET) ---- */

static inline void jump(X86Cpu *c, uint64_t target)
{
    if (__builtin_expect(!canonical(target), 0))
        x86_gp0(c);
    c->eip = target;
}

static inline uint64_t rel(const X86Cpu *c, const X86Insn *i)
{
    return (uint64_t)c->eip + (uint64_t)(int64_t)(int32_t)i->imm;
}

static void jcc(X86Cpu *c, const X86Insn *i)
{
    if (x86_cond(c, i->opcode & 0xf))
        jump(c, rel(c, i));
}

static void jmp_rel(X86Cpu *c, const X86Insn *i)
{
    jump(c, rel(c, i));
}

static void call_rel(X86Cpu *c, const X86Insn *i)
{
    uint64_t t = rel(c, i);
    push(c, 8, c->eip);
    jump(c, t);
}

static void jmp_rm(X86Cpu *c, const X86Insn *i)
{
    jump(c, get_rm(c, i, 8));
}

static void call_rm(X86Cpu *c, const X86Insn *i)
{
    uint64_t t = get_rm(c, i, 8);
    push(c, 8, c->eip);
    jump(c, t);
}

static void ret(X86Cpu *c, const X86Insn *i)
{
    uint64_t sp = c->regs[R_ESP];
    uint64_t t = ld(c, lin64(c, S_SS, sp, 8), 8);
    jump(c, t);
    c->regs[R_ESP] = sp + 8 + (i->opcode == 0xc2 ? (i->imm & 0xffff) : 0);
}

/* LOOPNE, LOOPE, LOOP, JRCXZ: RCX, or ECX with 67h. */
static void loop(X86Cpu *c, const X86Insn *i)
{
    bool a64 = i->flags & X86_INSN_AD64;
    uint64_t cx = a64 ? c->regs[R_ECX] : (uint32_t)c->regs[R_ECX];
    bool go;
    if (i->opcode == 0xe3) {
        go = cx == 0;
    } else {
        cx--;
        if (a64)
            c->regs[R_ECX] = cx;
        else
            c->regs[R_ECX] = (uint32_t)cx;
        go = cx != 0;
        if (i->opcode == 0xe0)
            go = go && !x86_cond(c, 4);
        else if (i->opcode == 0xe1)
            go = go && x86_cond(c, 4);
    }
    if (go)
        jump(c, rel(c, i));
}

/* ---- string instructions with 64-bit addresses (RSI, RDI, RCX) ---- */

/* REP MOVS / REP STOS with DF clear, as string.c's bulk_run: the elements before
 * either address reaches a page end (at most count) through host pointers, RSI and
 * RDI advanced. Returns how many, 0 when the next element must take the general
 * path (a TLB miss, a page it may not use directly, an element across a page end, a
 * non-canonical address: within one page all addresses are canonical or none). */
static uint64_t bulk64(X86Cpu *c, bool movs, unsigned size, unsigned src_seg, uint64_t count)
{
    uint64_t di = c->regs[R_EDI]; /* (ES has base 0) */
    uint64_t n = (0x1000 - (di & 0xfff)) / size;
    uint64_t src = 0;
    if (movs) {
        src = c->regs[R_ESI] + (src_seg >= S_FS ? c->seg[src_seg].base : 0);
        uint64_t ns = (0x1000 - (src & 0xfff)) / size;
        if (ns < n)
            n = ns;
    }
    if (n > count)
        n = count;
    if (n < 2 || !canonical(di) || (movs && !canonical(src)))
        return 0;
    size_t bytes = (size_t)n * size;
    uint8_t *d = x86_bulk_ptr(c, di, true);
    if (!d)
        return 0;
    const uint8_t *sp = NULL;
    if (movs) {
        sp = x86_bulk_ptr(c, src, false);
        if (!sp)
            return 0;
        c->regs[R_ESI] += bytes;
    }
    x86_bulk_move(d, sp, bytes, size, c->regs[R_EAX]);
    c->regs[R_EDI] = di + bytes;
    return n;
}

static void string64(X86Cpu *c, const X86Insn *i)
{
    unsigned op = i->opcode;
    unsigned size = (op & 1) ? osize(i) : 1;
    bool io = op >= 0x6c && op <= 0x6f;
    if (io && size == 8)
        size = 4; /* INS/OUTS move at most a doubleword; REX.W is ignored */
    bool rep = i->pfx & (X86_PFX_REP | X86_PFX_REPNE);
    bool cmp = op == 0xa6 || op == 0xa7 || op == 0xae || op == 0xaf;
    int64_t step = (c->eflags & X86_FL_DF) ? -(int64_t)size : (int64_t)size;
    unsigned src_seg = (i->pfx & X86_PFX_SEG) ? i->seg : S_DS;
    /* REP MOVS and REP STOS forwards copy page runs through host pointers (not under
     * TF, whose trap would come after each iteration). */
    bool bulk = rep && (op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab) && step > 0 &&
                !(c->eflags & X86_FL_TF);
    size_t bulk_bytes = 0;
    /* A bounded batch per dispatch so interrupts and the budget get their turn; the
     * instruction restarts from its start with the registers as they are. */
    for (unsigned n = 0; n < 4096 && bulk_bytes < 0x10000; n++) {
        if (rep && c->regs[R_ECX] == 0)
            return;
        if (bulk) {
            uint64_t done = bulk64(c, op <= 0xa5, size, src_seg, c->regs[R_ECX]);
            if (done) {
                c->regs[R_ECX] -= done;
                bulk_bytes += done * size;
                continue;
            }
        }
        uint64_t si = c->regs[R_ESI], di = c->regs[R_EDI];
        uint64_t a = 0, b = 0;
        switch (op) {
        case 0xa4: case 0xa5: /* MOVS */
            a = ld(c, lin64(c, src_seg, si, size), size);
            st(c, lin64(c, S_ES, di, size), size, a);
            c->regs[R_ESI] = si + step;
            c->regs[R_EDI] = di + step;
            break;
        case 0xa6: case 0xa7: /* CMPS */
            a = ld(c, lin64(c, src_seg, si, size), size);
            b = ld(c, lin64(c, S_ES, di, size), size);
            alu(c, OP_CMP, a, b, size);
            c->regs[R_ESI] = si + step;
            c->regs[R_EDI] = di + step;
            break;
        case 0xaa: case 0xab: /* STOS */
            st(c, lin64(c, S_ES, di, size), size, rd(c, R_EAX, size));
            c->regs[R_EDI] = di + step;
            break;
        case 0xac: case 0xad: /* LODS */
            wr(c, R_EAX, size, ld(c, lin64(c, src_seg, si, size), size));
            c->regs[R_ESI] = si + step;
            break;
        case 0x6c: case 0x6d: { /* INS: the destination is translated before the port is read */
            uint16_t port = (uint16_t)c->regs[R_EDX];
            x86_io_check(c, port, size);
            uint64_t lin = lin64(c, S_ES, di, size);
            x86_probe(c, lin, size, c->acc_user | ACC_WRITE);
            x86_check_io_bp(c, port, size);
            st(c, lin, size, vcpu_pio_read(c->v, port, size));
            c->regs[R_EDI] = di + step;
            c->exit_block = 1;
            break;
        }
        case 0x6e: case 0x6f: { /* OUTS */
            uint16_t port = (uint16_t)c->regs[R_EDX];
            x86_io_check(c, port, size);
            a = ld(c, lin64(c, src_seg, si, size), size);
            x86_check_io_bp(c, port, size);
            vcpu_pio_write(c->v, port, (uint32_t)a, size);
            c->regs[R_ESI] = si + step;
            c->exit_block = 1;
            break;
        }
        default: /* SCAS */
            b = ld(c, lin64(c, S_ES, di, size), size);
            alu(c, OP_CMP, rd(c, R_EAX, size), b, size);
            c->regs[R_EDI] = di + step;
            break;
        }
        if (!rep)
            return;
        c->regs[R_ECX]--;
        if (cmp && c->regs[R_ECX]) {
            bool zf = x86_cond(c, 4);
            if ((i->pfx & X86_PFX_REP) ? !zf : zf)
                return;
        }
    }
    if (c->regs[R_ECX]) {
        c->eip = c->prev_eip; /* more to do: run again */
        c->exit_block = 1;
    }
}

/* CRC32 r64, r/m64 (F2 REX.W 0F 38 F1, SSE4.2): eight bytes into the CRC-32C of the
 * destination's low half; the result zero-extends (SDM vol. 2, CRC32). */
static void crc32_64(X86Cpu *c, const X86Insn *i)
{
    uint64_t v = get_rm(c, i, 8);
    uint32_t crc = x86_crc32c((uint32_t)c->regs[i->reg], (uint32_t)v, 4);
    c->regs[i->reg] = x86_crc32c(crc, (uint32_t)(v >> 32), 4);
}

/* ---- system ---- */

/* MOV CRn, r64: CR0 and CR4 are 32 bits wide (bits 63:32 reserved, #GP); CR2 holds
 * a 64-bit linear address; CR3 the PML4's physical address, bits above MAXPHYADDR
 * (36) reserved (SDM vol. 2, MOV to/from control registers, 64-bit mode). */
/* CR8 is TPR[7:4] of the local APIC (SDM vol. 3, 10.8.6.1): a write sets TPR[3:0] to
 * 0. Without a local APIC the CPU keeps the value itself. */
static unsigned read_cr8(X86Cpu *c)
{
    uint8_t tpr;
    if (vcpu_apic_tpr(c->v, &tpr))
        return tpr >> 4;
    return c->cr8;
}

static void write_cr8(X86Cpu *c, unsigned v)
{
    if (!vcpu_set_apic_tpr(c->v, (uint8_t)(v << 4)))
        c->cr8 = (uint8_t)v;
    c->exit_block = 1; /* a lower priority may let an interrupt in */
}

static X86Handler legacy_mov_to_cr;
static void mov_to_cr(X86Cpu *c, const X86Insn *i)
{
    uint64_t v = c->regs[i->rm];
    if (i->reg == 8) {
        if (c->cpl != 0 || (v >> 4))
            x86_gp0(c);
        write_cr8(c, (unsigned)v);
        return;
    }
    if (i->reg > 8)
        x86_ud(c);
    if (i->reg == 2 || i->reg == 3) {
        if (c->cpl != 0)
            x86_gp0(c);
        if (i->reg == 2) {
            c->cr2 = v;
            return;
        }
        if (v >> 36)
            x86_gp0(c);
        x86_write_cr3(c, v);
        return;
    }
    if (v >> 32)
        x86_gp0(c);
    legacy_mov_to_cr(c, i);
}

static X86Handler legacy_mov_to_dr;
static void mov_to_dr(X86Cpu *c, const X86Insn *i)
{
    if (i->reg >= 8) /* DR8-DR15 do not exist */
        x86_ud(c);
    legacy_mov_to_dr(c, i); /* 64 bits: DR0-DR3 take any, DR6/DR7 #GP on bits 63:32 */
}

static X86Handler legacy_mov_from_crdr;
static void mov_from_crdr(X86Cpu *c, const X86Insn *i)
{
    if (i->opcode == 0x0f20 && i->reg == 8) {
        if (c->cpl != 0)
            x86_gp0(c);
        c->regs[i->rm] = read_cr8(c);
        return;
    }
    if (i->opcode == 0x0f20 && i->reg > 8)
        x86_ud(c);
    if (i->opcode == 0x0f21 && i->reg >= 8) /* DR8-DR15 do not exist */
        x86_ud(c);
    if (i->opcode == 0x0f20 && (i->reg == 2 || i->reg == 3)) {
        if (c->cpl != 0)
            x86_gp0(c);
        c->regs[i->rm] = i->reg == 2 ? c->cr2 : c->cr3;
        return;
    }
    legacy_mov_from_crdr(c, i);
}

/* MOV Sreg, r/m: as in protected mode, except that a null SS is allowed at CPL 0-2
 * with RPL = CPL (SDM vol. 2, MOV, 64-bit mode). */
static X86Handler legacy_mov_sreg;
static void mov_sreg(X86Cpu *c, const X86Insn *i)
{
    if (i->reg == S_SS) {
        uint16_t sel = (uint16_t)get_rm(c, i, 2);
        if (!(sel & 0xfffc) && c->cpl != 3 && (sel & 3) == c->cpl) {
            X86Seg *s = &c->seg[S_SS];
            s->sel = sel;
            s->attr = 0;
            s->base = 0;
            s->limit = 0;
            c->seg_base_cached[S_SS] = 0;
            x86_seg_update(c, s, S_SS);
            c->intr_shadow = 1;
            c->debug_shadow = 1;
            c->exit_block = 1;
            return;
        }
    }
    legacy_mov_sreg(c, i);
}

/* PUSH FS/GS (8 or 2 bytes), POP FS/GS. */
static void push_fsgs(X86Cpu *c, const X86Insn *i)
{
    push(c, ssize(i), c->seg[i->opcode == 0x0fa0 ? S_FS : S_GS].sel);
}

static void pop_fsgs(X86Cpu *c, const X86Insn *i)
{
    unsigned size = ssize(i);
    uint64_t sp = c->regs[R_ESP];
    uint16_t sel = (uint16_t)ld(c, lin64(c, S_SS, sp, size), size);
    x86_seg_load(c, i->opcode == 0x0fa1 ? S_FS : S_GS, sel);
    c->regs[R_ESP] = sp + size;
}

/* LAHF/SAHF exist in 64-bit mode only with CPUID.80000001h:ECX.LAHF-SAHF[0]. */
static X86Handler legacy_lahf_sahf[2];
static void lahf_sahf(X86Cpu *c, const X86Insn *i)
{
    if (!(c->model->ext_ecx & CPUID_EXT_ECX_LAHF_LM))
        x86_ud(c);
    legacy_lahf_sahf[i->opcode & 1](c, i);
}

void x86_handle_64_unsupported(X86Cpu *c, const X86Insn *i)
{
    char what[64];
    g_snprintf(what, sizeof(what), "opcode %04x /%u%s in 64-bit mode", i->opcode, i->reg & 7u,
               (i->flags & X86_INSN_OP64) ? " with a 64-bit operand" : "");
    x86_unsupported(c, what);
}

/* ---- binding ---- */

/* SSE and MMX forms run their 32-bit handlers: XMM registers 8-15 are what the
 * decoder's REX.R/REX.B numbers give (MMX registers take the low 3 bits), and REX.W
 * means nothing to all but the forms with a general-register or memory integer operand,
 * whose handlers read it (MOVQ, CVTSI2SS/SD, CVT(T)SS/SD2SI, MOVNTI, PINSRQ/PEXTRQ;
 * SDM vol. 2, each). CRC32 r64, r/m64 is not implemented yet. */
static bool simd_legacy_ok(const X86Insn *i)
{
    return !(i->rex & 8) || i->opcode != 0x38f1;
}

static X86Handler bind_op64(X86Insn *i)
{
    unsigned op = i->opcode;
    switch (op) {
    case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39:
        return alu_rm_r;
    case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b:
        return alu_r_rm;
    case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
        return alu_acc_imm;
    case 0x63: return movsxd;
    case 0x69: case 0x6b: return imul_3;
    case 0x81: case 0x83: return grp1;
    case 0x85: return test_rm_r;
    case 0x87: return xchg_rm;
    case 0x89: return mov_rm_r;
    case 0x8b: return mov_r_rm;
    case 0x8d: return lea;
    case 0x90 ... 0x97: return xchg_acc;
    case 0x98: return cbw;
    case 0x99: return cwd;
    case 0xa1: case 0xa3: return mov_moffs;
    case 0xa9: return test_acc_imm;
    case 0xb8 ... 0xbf: return mov_r_imm64;
    case 0xc1: case 0xd1: case 0xd3: return shift;
    case 0xc7: return i->reg == 0 ? mov_rm_imm : NULL;
    case 0xf7: return grp3;
    case 0xff: return (i->reg & 7) <= 1 ? incdec : NULL;
    case 0x0f40 ... 0x0f4f: return cmov;
    case 0x0fa3: case 0x0fab: case 0x0fb3: case 0x0fbb: return bt;
    case 0x0fba: return (i->reg & 7) >= 4 ? bt : NULL;
    case 0x0fa4: case 0x0fa5: case 0x0fac: case 0x0fad: return shld_shrd;
    case 0x0faf: return imul_2;
    case 0x0fb1: return cmpxchg;
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf: return movzx_sx;
    case 0x0fbc: case 0x0fbd: return bsf_bsr;
    case 0x0fc1: return xadd;
    case 0x0fc7: return (i->reg & 7) == 1 && (i->pfx & X86_PFX_MEM) ? cmpxchg16b : NULL;
    case 0x0fc8 ... 0x0fcf: return bswap64;
    }
    return NULL;
}

/* The legacy handler is right in 64-bit mode for these 8/16/32-bit forms. */
static bool legacy_ok(const X86Insn *i)
{
    unsigned op = i->opcode, reg = i->reg & 7;
    switch (op) {
    case 0x00 ... 0x05: case 0x08 ... 0x0d: case 0x10 ... 0x15: case 0x18 ... 0x1d:
    case 0x20 ... 0x25: case 0x28 ... 0x2d: case 0x30 ... 0x35: case 0x38 ... 0x3d:
    case 0x69: case 0x6b: case 0x80 ... 0x8c: case 0x98: case 0x99: case 0x9e: case 0x9f:
    case 0xa0 ... 0xa3: case 0xa8: case 0xa9: case 0xb0 ... 0xbf: case 0xc0: case 0xc1: case 0xc6: case 0xc7:
    case 0xcc: case 0xcd: case 0xd0 ... 0xd3: case 0xe4 ... 0xe7: case 0xec ... 0xef:
    case 0xf1: case 0xf4: case 0xf5: case 0xf6: case 0xf7: case 0xf8 ... 0xfe:
    case 0x0f0b: case 0x0f0d: case 0x0f18 ... 0x0f1f: case 0x0f31: case 0x0fa2: case 0x0f30: case 0x0f32:
    case 0x0f06: case 0x0f08: case 0x0f09: case 0x0f40 ... 0x0f4f:
    case 0x0f90 ... 0x0f9f: case 0x0fa3: case 0x0fa4: case 0x0fa5: case 0x0fab: case 0x0fac: case 0x0fad:
    case 0x0faf: case 0x0fb0: case 0x0fb1: case 0x0fb3: case 0x0fb6: case 0x0fb7: case 0x0fba: case 0x0fbb:
    case 0x0fbc: case 0x0fbd: case 0x0fbe: case 0x0fbf: case 0x0fc0: case 0x0fc1: case 0x0fc8 ... 0x0fcf:
        return op != 0x8d && !(op >= 0xa0 && op <= 0xa3 && (i->flags & X86_INSN_IMM64));
    case 0xff:
        return reg <= 1;
    case 0x0f01:
        /* INVLPG, SMSW, LMSW; the register forms other than SWAPGS and RDTSCP
         * (system64.c) are VMX, SVM, MONITOR/MWAIT, SMAP and XSAVE instructions,
         * which these models lack: #UD as in 32-bit code. */
        return (reg == 7 && (i->pfx & X86_PFX_MEM)) || reg == 4 || reg == 6 || !(i->pfx & X86_PFX_MEM);
    case 0x0f00:
        /* SLDT, STR (a register destination zero-extends, REX.W or not), LLDT and LTR
         * (16-byte descriptors, seg.c), VERR, VERW (SDM vol. 2, each in 64-bit mode). */
        return reg <= 5;
    case 0x0fc7:
        return reg == 1;                           /* CMPXCHG8B */
    case 0x0fae: /* FXSAVE/FXRSTOR (64-bit layout with REX.W, XMM8-15), LDMXCSR,
                  * STMXCSR, CLFLUSH, the fences */
        return reg <= 3 || reg == 7 || ((i->pfx & X86_PFX_MEM) == 0 && reg >= 5);
    case 0x9b: case 0xd8 ... 0xdf:
        return true;
    case 0x6c ... 0x6f: case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
        return !(i->flags & X86_INSN_AD64); /* 67h: ESI/EDI/ECX */
    case 0x0f10 ... 0x0f17: case 0x0f28 ... 0x0f2f: case 0x0f50 ... 0x0f7f:
    case 0x0fc2 ... 0x0fc6: case 0x0fd0 ... 0x0fff: case 0x3800 ... 0x38ff: case 0x3a00 ... 0x3aff:
        return simd_legacy_ok(i);
    }
    return false;
}

static bool w_ignored(unsigned op)
{
    switch (op) {
    case 0x00: case 0x02: case 0x04: case 0x08: case 0x0a: case 0x0c: case 0x10: case 0x12: case 0x14:
    case 0x18: case 0x1a: case 0x1c: case 0x20: case 0x22: case 0x24: case 0x28: case 0x2a: case 0x2c:
    case 0x30: case 0x32: case 0x34: case 0x38: case 0x3a: case 0x3c:
    case 0x80: case 0x84: case 0x86: case 0x88: case 0x8a: case 0x8c: case 0x9e: case 0x9f: case 0xa8:
    case 0xb0 ... 0xb7: case 0xc0: case 0xc6: case 0xcc: case 0xcd: case 0xd0: case 0xd2:
    case 0x9b: case 0xd8 ... 0xdf: case 0xe4 ... 0xe7: case 0xec ... 0xef: case 0xf1: case 0xf4: case 0xf5: case 0xf6:
    case 0xf8 ... 0xfe: case 0x0f06: case 0x0f08: case 0x0f09: case 0x0f0b: case 0x0f0d: case 0x0f18 ... 0x0f1f:
    case 0x0f30: case 0x0f31: case 0x0f32: case 0x0f90 ... 0x0f9f: case 0x0fa2: case 0x0fb0: case 0x0fc0:
    case 0x0f00: case 0x0f01: case 0x0fae:
    /* SSE and MMX: simd_legacy_ok decides */
    case 0x0f10 ... 0x0f17: case 0x0f28 ... 0x0f2f: case 0x0f50 ... 0x0f7f:
    case 0x0fc2 ... 0x0fc6: case 0x0fd0 ... 0x0fff: case 0x3800 ... 0x38ff: case 0x3a00 ... 0x3aff:
        return true;
    }
    return false;
}

X86Handler x86_bind64(X86Insn *i, X86Handler legacy)
{
    unsigned op = i->opcode, reg = i->reg & 7;
    X86Handler h = x86_bind_system64(i);
    if (h) {
        i->flags |= X86_INSN_END_BLOCK;
        return h;
    }
    /* Instructions whose every form is different in 64-bit mode. */
    switch (op) {
    case 0x50 ... 0x57: h = push_r; break;
    case 0x58 ... 0x5f: h = pop_r; break;
    case 0x63: h = movsxd; break;
    case 0x68: case 0x6a: h = push_imm; break;
    case 0x70 ... 0x7f: case 0x0f80 ... 0x0f8f: h = jcc; break;
    case 0x8d: h = lea; break;
    case 0x8f: h = reg == 0 ? pop_rm : NULL; break;
    case 0x90 ... 0x97: h = xchg_acc; break;
    case 0x9c: h = pushf; break;
    case 0x9d: h = popf; break;
    case 0xc2: case 0xc3: h = ret; break;
    case 0xc8: h = enter; break;
    case 0xc9: h = leave; break;
    case 0xe0 ... 0xe3: h = loop; break;
    case 0xe8: h = call_rel; break;
    case 0xe9: case 0xeb: h = jmp_rel; break;
    case 0xff:
        if (reg == 2)
            h = call_rm;
        else if (reg == 4)
            h = jmp_rm;
        else if (reg == 6)
            h = push_rm;
        break;
    case 0x0f40 ... 0x0f4f:
        if (!(i->flags & X86_INSN_OP64) && (i->pfx & X86_PFX_OP32))
            h = cmov;
        break;
    case 0xa0 ... 0xa3:
        if (i->flags & X86_INSN_IMM64)
            h = mov_moffs;
        break;
    case 0x6c ... 0x6f: case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
        if (i->flags & X86_INSN_AD64)
            h = string64;
        break;
    case 0x38f1:
        if ((i->rex & 8) && (i->pfx & X86_PFX_REPNE) && !(i->pfx & X86_PFX_REP))
            h = crc32_64;
        break;
    case 0x0f20: case 0x0f21:
        legacy_mov_from_crdr = legacy;
        h = mov_from_crdr;
        break;
    case 0x9e: case 0x9f:
        legacy_lahf_sahf[op & 1] = legacy;
        h = lahf_sahf;
        break;
    case 0x8e:
        legacy_mov_sreg = legacy;
        h = mov_sreg;
        break;
    case 0xd7: h = xlat64; break;
    case 0x0fa0: case 0x0fa8: h = push_fsgs; break;
    case 0x0fa1: case 0x0fa9: h = pop_fsgs; break;
    case 0x0f22:
        legacy_mov_to_cr = legacy;
        h = mov_to_cr;
        break;
    case 0x0f23:
        legacy_mov_to_dr = legacy;
        h = mov_to_dr;
        break;
    }
    /* 32-bit forms whose handlers elsewhere leave the upper half of a register
     * destination alone: a register-to-register MOV, shifts by a count of 0. */
    if (!h && !(i->flags & X86_INSN_OP64) && (i->pfx & X86_PFX_OP32)) {
        switch (op) {
        case 0x89: h = mov_rm_r; break;
        case 0x8b: h = mov_r_rm; break;
        case 0xc1: case 0xd1: case 0xd3: h = shift; break;
        case 0x0fa4: case 0x0fa5: case 0x0fac: case 0x0fad: h = shld_shrd; break;
        }
    }
    if (!h && (i->flags & X86_INSN_OP64))
        h = bind_op64(i);
    /* REX.W means nothing to byte operations and to those without a sized operand. */
    if (!h && legacy_ok(i) && (!(i->flags & X86_INSN_OP64) || w_ignored(op)))
        h = legacy;
    if (!h)
        return x86_handle_64_unsupported;
    /* Branches and string repeats end a block; so does anything that stops. */
    if (h == string64 || h == jcc || h == ret || h == loop || h == call_rel || h == jmp_rel || h == call_rm ||
        h == jmp_rm || h == popf || h == mov_to_cr)
        i->flags |= X86_INSN_END_BLOCK;
    return h;
}
