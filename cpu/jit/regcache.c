/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's register cache: guest registers EAX..EDI (RAX..RDI whole in
 * 64-bit code; R8-R15 stay in memory) held in host registers within a block and
 * across chained blocks (design in README.md, "Generated code"). translate.c asks for
 * operands through jit_greg_at and emits each instruction again when it met
 * registers the cache should load or must give up (RegCache.want, small). */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A guest register of the given size (AL-BH for bytes, SDM vol. 2, table 2-1) in
 * memory: the low bytes of its 64-bit slot. A 32-bit store leaves the upper half,
 * which is zero outside 64-bit mode (64-bit code's forms, tr-64.c, store whole
 * slots). */
JitMem jit_greg_mem(unsigned size, unsigned r)
{
    if (size == 1 && r >= 8) /* 64-bit code: R8B-R15B, and SPL-DIL as 20-23 (x86_reg8) */
        return CPU_AT(regs, (int)sizeof(uint64_t) * (r & 15));
    if (size == 1)
        return CPU_AT(regs, (int)sizeof(uint64_t) * (r & 3) + (r >> 2));
    return CPU_AT(regs, (int)sizeof(uint64_t) * r);
}

/* ---- The register cache ----
 * Each guest register has a fixed home, a host register (rc_home): within a block it
 * is either there or only in c->regs, and at every block boundary a chain can cross
 * (a block's body entered by a guard, the lookup routine, or the prologue) all eight
 * are in their homes, c->regs possibly older. So a chained exit needs no write-back
 * and the next block no loads; c->regs is brought up to date wherever control leaves
 * translated code: before a handler call (the cache is then emptied), in a slow path
 * (written back before its handler, reloaded after), on an exit's unlinked path, on
 * the lookup routine's miss and when the entry's segment check fails. A fault
 * therefore still sees the state of its instruction's start (the inline fast path
 * writes no guest register before its last branch to the slow path, and the slow
 * path writes back only values the host registers held before the instruction
 * changed anything). The callee-saved homes survive every call; R8-R11 are stored
 * and reloaded around the flag helpers inline code calls (jit_emit_helper). The
 * entry EIP/RIP, which R12 held before, is c->block_eip. Homes load and store
 * whole slots (JIT_RC_W). */
/* (EAX..EBX in R8-R11: their low bytes AL..BL are R8B-R11B.) */
static const int rc_home[8] = { H_R8, H_R9, H_R10, H_R11, H_R12, H_RBP, H_R14, H_R15 };

static bool rc_caller_saved(int h)
{
    return h >= H_R8 && h <= H_R11;
}

/* Guest register r of the given size as an operand: the host register holding it,
 * or its slot in memory (asking for it to be loaded when the instruction is emitted
 * again, see jit_translate). AL-BL are the low bytes of their homes R8-R11 (R8B-R11B,
 * with a REX prefix); AH-BH have no host counterpart when a REX prefix is present, so
 * an access to one sends the instruction round again with its 32-bit register written
 * back and left in memory for it (small). write: the operand may be written. */
JitMem jit_greg_at(Tr *t, unsigned size, unsigned r, bool write)
{
    RegCache *rc = &t->rc;
    if (!rc->on)
        return jit_greg_mem(size, r);
    /* SPL-DIL of 64-bit code (20-23 in x86_reg8's numbering) are the low bytes R12B,
     * BPL, R14B and R15B of their homes (crc32's table loop, `mov (%rsi),%dil; ...;
     * movzbl %dil,%edi`, used them through memory: a byte store then a wider load,
     * which the host cannot forward). */
    unsigned slot = size == 1 && r >= 20 ? r - 16 : r;
    if (size == 1 && r >= 4 && r < 8) {
        /* AH-BH (bytes 1 of EAX..EBX): in memory, the register holding them written
         * back first (small). */
        if (rc->host[r & 3] >= 0)
            rc->small |= (uint8_t)(1u << (r & 3));
        return jit_greg_mem(size, r);
    }
    if (slot >= 8)
        return jit_greg_mem(size, r); /* R8-R15 (R8B-R15B too) have no homes */
    uint8_t bit = (uint8_t)(1u << slot);
    if (rc->host[slot] >= 0) {
        rc->used |= bit;
        if (write)
            rc->dirty |= bit;
        return jreg(rc->host[slot]);
    }
    if (!(rc->nocache & bit))
        rc->want |= bit;
    return jit_greg_mem(size, r);
}

void jit_rc_writeback(Tr *t)
{
    RegCache *rc = &t->rc;
    for (unsigned r = 0; r < 8; r++)
        if (rc->dirty & (1u << r))
            emit_store(&t->e, JIT_RC_W, jit_greg_mem(4, r), rc->host[r]);
}

/* Every guest register into its home: those the cache does not hold are loaded
 * (c->regs is current for them). */
void jit_rc_leave(Tr *t)
{
    for (unsigned r = 0; r < 8; r++)
        if (t->rc.host[r] < 0)
            emit_load(&t->e, JIT_RC_W, rc_home[r], jit_greg_mem(4, r));
}

int jit_rc_home(unsigned r)
{
    return rc_home[r];
}

void jit_rc_load_all(JitEmit *e)
{
    for (unsigned r = 0; r < 8; r++)
        emit_load(e, JIT_RC_W, rc_home[r], jit_greg_mem(4, r));
}

void jit_rc_store_all(JitEmit *e)
{
    for (unsigned r = 0; r < 8; r++)
        emit_store(e, JIT_RC_W, jit_greg_mem(4, r), rc_home[r]);
}

/* A block's body starts with every register at home, none known to match c->regs
 * (a chain may have brought newer values); without the cache they go to memory. */
void jit_rc_enter(Tr *t, bool on)
{
    RegCache *rc = &t->rc;
    memset(rc, 0, sizeof(*rc));
    for (unsigned r = 0; r < 8; r++)
        rc->host[r] = (int8_t)rc_home[r];
    rc->dirty = 0xff;
    rc->on = on;
    if (!on)
        jit_rc_flush(t);
}

/* Guest register r back to memory and out of the cache. */
void jit_rc_evict(Tr *t, unsigned r)
{
    RegCache *rc = &t->rc;
    if (rc->host[r] < 0)
        return;
    if (rc->dirty & (1u << r))
        emit_store(&t->e, JIT_RC_W, jit_greg_mem(4, r), rc->host[r]);
    rc->dirty &= (uint8_t)~(1u << r);
    rc->host[r] = -1;
}

/* Everything back to memory, the cache empty (before a handler call). */
void jit_rc_flush(Tr *t)
{
    for (unsigned r = 0; r < 8; r++)
        jit_rc_evict(t, r);
}

/* Loads guest register r into its home. */
void jit_rc_alloc(Tr *t, unsigned r)
{
    RegCache *rc = &t->rc;
    if (rc->host[r] >= 0)
        return;
    rc->host[r] = (int8_t)rc_home[r];
    emit_load(&t->e, JIT_RC_W, rc_home[r], jit_greg_mem(4, r));
}

/* A call of a flags helper from inline code (it reads no guest register): the
 * caller-saved registers of the cache are stored before and reloaded after, the
 * cache's state unchanged (the call may sit on one arm of a branch). */
void jit_emit_helper(Tr *t, const void *fn)
{
    RegCache *rc = &t->rc;
    for (unsigned r = 0; r < 8; r++)
        if (rc->host[r] >= 0 && rc_caller_saved(rc->host[r]) && (rc->dirty & (1u << r)))
            emit_store(&t->e, JIT_RC_W, jit_greg_mem(4, r), rc->host[r]);
    emit_call(&t->e, fn);
    for (unsigned r = 0; r < 8; r++)
        if (rc->host[r] >= 0 && rc_caller_saved(rc->host[r]))
            emit_load(&t->e, JIT_RC_W, rc->host[r], jit_greg_mem(4, r));
}
