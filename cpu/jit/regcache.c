/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The translator's register cache: guest registers EAX..EDI held in host registers
 * within a block (design in README.md, "Generated code"). translate.c asks for
 * operands through jit_greg_at and emits each instruction again when it met
 * registers the cache should load or must give up (RegCache.want, small). */
#include "cpu/jit/translate.h"

#include <stddef.h>
#include <stdint.h>

/* A guest register of the given size (AL-BH for bytes, SDM vol. 2, table 2-1) in
 * memory: the low bytes of its 64-bit slot. A 32-bit store leaves the upper half,
 * which is zero outside 64-bit mode (the translator compiles no 64-bit code yet). */
JitMem jit_greg_mem(unsigned size, unsigned r)
{
    if (size == 1)
        return CPU_AT(regs, (int)sizeof(uint64_t) * (r & 3) + (r >> 2));
    return CPU_AT(regs, (int)sizeof(uint64_t) * r);
}

/* ---- The register cache ----
 * Guest registers live in these host registers between instructions of a block. The
 * callee-saved ones survive every call; R8-R11 are stored and reloaded around the
 * flag helpers inline code calls (jit_emit_helper). Handler calls, slow paths and exits
 * see c->regs current: the cache is written back before each (a handler call also
 * empties it, a slow path reloads it after the handler), so a fault still sees the
 * state of its instruction's start (the inline fast path writes no guest register
 * before its last branch to the slow path, and the slow path writes back only values
 * the host registers held before the instruction changed anything). */
static const int rc_pool[] = { H_RBP, H_R14, H_R15, H_R8, H_R9, H_R10, H_R11 };
#define RC_POOL (sizeof rc_pool / sizeof rc_pool[0])

static bool rc_caller_saved(int h)
{
    return h >= H_R8 && h <= H_R11;
}

/* Guest register r of the given size as an operand: the host register holding it,
 * or its slot in memory (asking for it to be loaded when the instruction is emitted
 * again, see jit_translate). Bytes stay in memory: AH-BH have no host counterpart
 * in R8-R15, so a byte access to a held register sends the instruction round again
 * with the register written back (small). write: the operand may be written. */
JitMem jit_greg_at(Tr *t, unsigned size, unsigned r, bool write)
{
    RegCache *rc = &t->rc;
    if (!rc->on || r >= 8)
        return jit_greg_mem(size, r);
    if (size == 1) {
        if (rc->host[r & 3] >= 0)
            rc->small |= (uint8_t)(1u << (r & 3));
        return jit_greg_mem(size, r);
    }
    uint8_t bit = (uint8_t)(1u << r);
    if (rc->host[r] >= 0) {
        rc->used |= bit;
        rc->stamp[r] = ++rc->clock;
        if (write)
            rc->dirty |= bit;
        return jreg(rc->host[r]);
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
            emit_store(&t->e, 4, jit_greg_mem(4, r), rc->host[r]);
}

void jit_rc_leave(Tr *t)
{
    jit_rc_writeback(t);
}

/* Guest register r back to memory and out of the cache. */
void jit_rc_evict(Tr *t, unsigned r)
{
    RegCache *rc = &t->rc;
    if (rc->host[r] < 0)
        return;
    if (rc->dirty & (1u << r))
        emit_store(&t->e, 4, jit_greg_mem(4, r), rc->host[r]);
    rc->dirty &= (uint8_t)~(1u << r);
    rc->host[r] = -1;
}

/* Everything back to memory, the cache empty (before a handler call). */
void jit_rc_flush(Tr *t)
{
    for (unsigned r = 0; r < 8; r++)
        jit_rc_evict(t, r);
}

/* Loads guest register r into a free host register, evicting the least recently
 * used register outside keep if none is free. */
void jit_rc_alloc(Tr *t, unsigned r, uint8_t keep)
{
    RegCache *rc = &t->rc;
    int h = -1;
    for (unsigned p = 0; p < RC_POOL && h < 0; p++) {
        bool taken = false;
        for (unsigned g = 0; g < 8; g++)
            taken |= rc->host[g] == rc_pool[p];
        if (!taken)
            h = rc_pool[p];
    }
    if (h < 0) {
        int victim = -1;
        for (unsigned g = 0; g < 8; g++)
            if (rc->host[g] >= 0 && !(keep & (1u << g)) && (victim < 0 || rc->stamp[g] < rc->stamp[victim]))
                victim = (int)g;
        if (victim < 0) {
            rc->nocache |= (uint8_t)(1u << r);
            return;
        }
        h = rc->host[victim];
        jit_rc_evict(t, (unsigned)victim);
    }
    rc->host[r] = (int8_t)h;
    rc->stamp[r] = ++rc->clock;
    emit_load(&t->e, 4, h, jit_greg_mem(4, r));
}

/* A call of a flags helper from inline code (it reads no guest register): the
 * caller-saved registers of the cache are stored before and reloaded after, the
 * cache's state unchanged (the call may sit on one arm of a branch). */
void jit_emit_helper(Tr *t, const void *fn)
{
    RegCache *rc = &t->rc;
    for (unsigned r = 0; r < 8; r++)
        if (rc->host[r] >= 0 && rc_caller_saved(rc->host[r]) && (rc->dirty & (1u << r)))
            emit_store(&t->e, 4, jit_greg_mem(4, r), rc->host[r]);
    emit_call(&t->e, fn);
    for (unsigned r = 0; r < 8; r++)
        if (rc->host[r] >= 0 && rc_caller_saved(rc->host[r]))
            emit_load(&t->e, 4, rc->host[r], jit_greg_mem(4, r));
}
