/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dispatcher: decoded-instruction blocks cached per physical page, the run loop
 * with its event checks (exit requests, NMI, INTR with the interrupt shadow, HLT),
 * single-stepping and breakpoints, and exception delivery with the double-fault and
 * triple-fault rules (SDM vol. 3, 6.15 table 6-5). No allocation and no lock here
 * except the engine calls that take their own. */
#include "cpu/x86/cpu-internal.h"

#include <pthread.h>

#define BLOCK_MAX_INSNS 48
#define HASH_BITS 15
#define MAX_BLOCKS (1u << 15)
#define POOL_INSNS (1u << 18)
#define PAGES_4G (1u << 20)

struct X86Block {
    uint64_t phys;          /* physical address of the first byte */
    const uint8_t *host;    /* host page it was decoded from */
    uint32_t version;       /* page version when decoded */
    uint16_t count;
    uint16_t bytes;
    uint8_t code32;
    X86Insn *insns;
    X86Block *hnext;        /* the next block in its hash bucket */
    /* The last two blocks that followed this one, by linear start address. */
    X86Block *next[2];
    uint64_t next_lin[2];
    uint32_t next_epoch[2];
    void *jit;              /* the translator's code for this block (run_block's slot) */
};

/* An instruction that crosses a page: no block holds it (blocks are cached per page),
 * so the dispatcher runs it alone; kept decoded with both pages and their versions so
 * that a loop over it is not fetched and decoded again on every pass (the amd64 Linux
 * kit ran 12 million of these). */
typedef struct {
    uint64_t lin;           /* linear address of its first byte */
    uint64_t phys[2];       /* the two pages it was decoded from */
    uint32_t version[2];    /* their versions then */
    uint8_t code32;         /* decoding mode, as X86Block.code32; 0xff: empty */
    X86Insn insn;
} X86CrossInsn;

#define CROSS_SLOTS 64

struct X86CodeCache {
    X86Block *hash[1u << HASH_BITS];
    X86Block *blocks;
    unsigned nblocks;
    X86Insn *pool;
    unsigned pool_used;
    uint32_t *page_version;   /* per 4 KiB page below 4 GiB; bumped when written */
    uint64_t *code_mask;      /* per page: which 64-byte chunks hold decoded code */
    X86Block scratch;         /* a block that is not cached (page-crossing, >4 GiB) */
    X86Insn scratch_insn[BLOCK_MAX_INSNS];
    X86CrossInsn cross[CROSS_SLOTS];
};

X86CodeCache *x86_code_new(void)
{
    X86CodeCache *cc = g_new0(X86CodeCache, 1);
    cc->blocks = g_new0(X86Block, MAX_BLOCKS);
    cc->pool = g_new(X86Insn, POOL_INSNS);
    cc->page_version = g_new0(uint32_t, PAGES_4G);
    cc->code_mask = g_new0(uint64_t, PAGES_4G);
    for (unsigned k = 0; k < CROSS_SLOTS; k++)
        cc->cross[k].code32 = 0xff;
    return cc;
}

void x86_code_free(X86CodeCache *cc)
{
    if (!cc)
        return;
    g_free(cc->blocks);
    g_free(cc->pool);
    g_free(cc->page_version);
    g_free(cc->code_mask);
    g_free(cc);
}

void x86_code_flush_all(X86Cpu *c)
{
    X86CodeCache *cc = c->code;
    c->chain_epoch++;
    c->link_epoch++;
    c->stats.code_flushes++;
    c->last_block = NULL;
    memset(cc->hash, 0, sizeof(cc->hash));
    for (unsigned k = 0; k < CROSS_SLOTS; k++)
        cc->cross[k].code32 = 0xff;
    cc->nblocks = 0;
    cc->pool_used = 0;
}

const uint32_t *x86_code_slot_version(X86Cpu *c, void **slot, uint32_t *version, uint64_t *phys)
{
    const X86Block *b = (const X86Block *)(const void *)((char *)slot - offsetof(X86Block, jit));
    *version = b->version;
    *phys = b->phys;
    return &c->code->page_version[b->phys >> 12];
}

bool x86_code_page_cached(X86Cpu *c, uint64_t pa)
{
    return pa < (UINT64_C(1) << 32) && c->code->code_mask[pa >> 12];
}

void x86_code_invalidate_phys(X86Cpu *c, uint64_t pa)
{
    if (pa >= (UINT64_C(1) << 32))
        return;
    X86CodeCache *cc = c->code;
    __atomic_add_fetch(&cc->page_version[pa >> 12], 1, __ATOMIC_RELEASE);
    /* The next block decoded from the page marks it again for every vCPU. */
    __atomic_store_n(&cc->code_mask[pa >> 12], 0, __ATOMIC_RELAXED);
}

/* Bits of the 64-byte chunks that [off, off + len) touches within a page. */
static inline uint64_t chunk_bits(unsigned off, unsigned len)
{
    unsigned first = off >> 6, last = (off + len - 1) >> 6;
    uint64_t hi = last >= 63 ? ~UINT64_C(0) : (UINT64_C(1) << (last + 1)) - 1;
    return hi & ~((UINT64_C(1) << first) - 1);
}

bool x86_code_store(X86Cpu *c, uint64_t pa, unsigned size)
{
    if (pa >= (UINT64_C(1) << 32))
        return false;
    X86CodeCache *cc = c->code;
    uint64_t mask = cc->code_mask[pa >> 12];
    if (!mask || !(mask & chunk_bits(pa & 0xfff, size)))
        return false;
    /* Decoded code was overwritten: drop every block of the page, and let later
     * stores to it take the fast path again. */
    x86_code_invalidate_phys(c, pa);
    c->stats.smc_stores++;
    cc->code_mask[pa >> 12] = 0;
    /* With several vCPUs the caller clears the shared mark and reports the store to the
     * others (mmu.c's code_store_all): cleared here, it found the page unmarked and
     * told no one, and a vCPU running code of the same page kept it. */
    if (!c->smp)
        mem_set_code_page(c->mem, pa, false);
    return true;
}

static inline unsigned block_hash(uint64_t phys, unsigned code32)
{
    uint64_t h = (phys ^ (phys >> HASH_BITS) ^ ((uint64_t)code32 << 14)) * 0x9e3779b1u;
    return (unsigned)(h >> 7) & ((1u << HASH_BITS) - 1);
}

/* An instruction of a feature the CPU model lacks is #UD, as the decoder makes an
 * invalid opcode. Decoded blocks stay valid: a CPU's model never changes. */
static void gate_features(const X86Cpu *c, X86Insn *i)
{
    if (i->handler != x86_handle_ud && !x86_has(c, x86_insn_features(i))) {
        i->handler = x86_handle_ud;
        i->flags |= X86_INSN_END_BLOCK;
    }
}

/* The stand-in that ends a block at an instruction crossing its page end: the rest
 * of the page (its first bytes), run by x86_handle_cross. */
static void cross_stand_in(X86Insn *i, unsigned len)
{
    memset(i, 0, sizeof(*i));
    i->handler = x86_handle_cross;
    i->opcode = X86_OP_CROSS;
    i->len = (uint8_t)len;
    i->flags = X86_INSN_END_BLOCK;
    i->base = i->index = X86_REG_NONE;
}

/* Decodes a run of instructions from one page. avail: bytes that may be fetched
 * (page end or CS limit). cross: avail ends at the page end and the block may end
 * in the stand-in for an instruction that crosses it. Returns the number decoded
 * (0: the first instruction needs bytes beyond avail, and cross is false). */
/* code32: bit 0 CS.D, bit 1 64-bit mode. */
static unsigned decode_run(const X86Cpu *c, const uint8_t *p, unsigned avail, unsigned code32, X86Insn *out,
                           unsigned max, unsigned *bytes, bool cross)
{
    unsigned n = 0, off = 0;
    while (n < max) {
        X86DecodeResult r = (code32 & 2) ? x86_decode64(p + off, avail - off, &out[n])
                                         : x86_decode(p + off, avail - off, code32 & 1, &out[n]);
        if (r == X86_DECODE_MORE) {
            if (cross) {
                cross_stand_in(&out[n++], avail - off);
                off = avail;
            }
            break;
        }
        gate_features(c, &out[n]);
        off += out[n].len;
        n++;
        if ((out[n - 1].flags & X86_INSN_END_BLOCK) || r == X86_DECODE_TOO_LONG || off >= avail)
            break;
    }
    *bytes = off;
    return n;
}

/* Marks the page of phys as holding decoded code, so that stores into it are seen
 * (bump its version), before its bytes are read. */
static void mark_code_page(X86Cpu *c, uint64_t phys)
{
    if (!c->code->code_mask[phys >> 12] || (c->smp && !(mem_page_flags(c->mem, phys) & MEM_PAGE_CODE))) {
        /* Other vCPUs may hold write pointers to the page: they drop them before their
         * next block, and report the page then (mmu.c's tlb_drop_write). Asking spans
         * the mark, so a serializing instruction of a vCPU that found the mark waits
         * for the requests too (vcpu_flushes_pending). */
        bool marked;
        if (c->smp) {
            vcpu_flush_ask_begin(c->v);
            marked = mem_set_code_page(c->mem, phys, true);
            if (!marked)
                vcpu_flush_ask(c->v, mem_take_page_writers(c->mem, phys));
            vcpu_flush_ask_end(c->v);
        } else {
            marked = mem_set_code_page(c->mem, phys, true);
        }
        x86_tlb_drop_phys_writes(c, phys & ~UINT64_C(0xfff), marked);
    }
}

void x86_serialize(X86Cpu *c)
{
    /* Code another vCPU rewrote through a write pointer it has not yet dropped may be
     * cached stale here: wait for its flush at the next boundary (handle_events). */
    if (c->smp && vcpu_flushes_pending(c->v))
        atomic_fetch_or(&c->v->requests, VCPU_REQ_SYNC);
}

/* The flush another vCPU asked for: translations, and write pointers to pages that
 * hold code now (reported as written: mmu.c's tlb_drop_write). */
static void serve_flush(X86Cpu *c)
{
    uint64_t asked = vcpu_flush_take(c->v);
    c->a20_mask = atomic_load(&c->v->a20) ? ~UINT64_C(0) : ~(UINT64_C(1) << 20);
    x86_tlb_flush(c, true);
    /* The memory map or A20 changed: a physical page may have other host memory now,
     * which translated chains (checking the physical page) would not see. */
    c->link_epoch++;
    vcpu_flush_served(c->v, asked);
}

/* VCPU_REQ_SYNC: until every flush asked of another vCPU before the serializing
 * instruction is served. Serves this vCPU's own requests meanwhile (two vCPUs may wait
 * for each other), and leaves for an exit request (a pause, or a vCPU that wants the
 * others stopped), keeping the request to wait again before the next instruction. */
static int sync_wait(X86Cpu *c)
{
    Vcpu *v = c->v;
    for (unsigned spins = 0; vcpu_flushes_pending(v); spins++) {
        unsigned req = vcpu_requests(v);
        if (req & VCPU_REQ_EXIT)
            return X86_RUN_EXIT;
        if (req & VCPU_REQ_TLB)
            serve_flush(c);
        /* The vCPU waited for may not be running on the host: leave it the core. */
        if (spins >= 1000)
            g_usleep(50);
        else if (spins >= 100)
            g_thread_yield();
    }
    vcpu_clear_request(v, VCPU_REQ_SYNC);
    return -1;
}

/* Looks up or builds the block at the current CS:EIP; NULL when the instruction must
 * be fetched byte-wise (it crosses a page or the CS limit, or comes from MMIO). */
static X86Block *block_get(X86Cpu *c)
{
    X86CodeCache *cc = c->code;
    X86Seg *cs = &c->seg[S_CS];
    uint64_t eip = c->eip;
    if (__builtin_expect(eip >> 32 && !c->long64, 0))
        c->eip = eip = (uint32_t)eip; /* EIP wraps at 4 GiB outside 64-bit mode */
    if (!cs->flat && eip > cs->limit)
        x86_gp0(c);
    uint64_t lin = (cs->base + eip) & c->lin_mask;
    X86Tlb *tlb = c->cpl == 3 ? c->tlb_user : c->tlb_sup;
    X86Tlb *e = &tlb[x86_tlb_index(lin)];
    if (e->tag_x != (lin & ~UINT64_C(0xfff))) {
        e = x86_tlb_fill(c, lin, ACC_FETCH | c->acc_user);
        if (!(e->perm & TLB_PERM_X)) /* cannot happen: the walk faulted */
            x86_fault_err(c, X86_EXC_PF, 0);
        if (e->tag_x != (lin & ~UINT64_C(0xfff)))
            return NULL; /* no host memory behind the page */
    }
    const uint8_t *host = (const uint8_t *)(e->add_r + (lin & ~UINT64_C(0xfff)));
    uint64_t phys = e->phys | (lin & 0xfff);
    unsigned page_off = lin & 0xfff;
    unsigned avail = 0x1000 - page_off;
    if (!cs->flat && cs->limit - (uint32_t)eip + 1 < avail)
        avail = cs->limit - (uint32_t)eip + 1;
    /* The decoding mode is part of a block's identity: CS.D, and 64-bit mode. */
    unsigned code32 = c->code32 | (unsigned)c->long64 << 1;

    if (phys >= (UINT64_C(1) << 32) || (c->run_flags & X86_RUN_NO_CACHE)) {
        unsigned bytes;
        unsigned n = decode_run(c, host + page_off, avail, code32, cc->scratch_insn, BLOCK_MAX_INSNS, &bytes, false);
        if (n == 0)
            return NULL;
        cc->scratch.count = (uint16_t)n;
        cc->scratch.bytes = (uint16_t)bytes;
        cc->scratch.insns = cc->scratch_insn;
        return &cc->scratch;
    }

    uint32_t pfn = (uint32_t)(phys >> 12);
    uint32_t version = __atomic_load_n(&cc->page_version[pfn], __ATOMIC_ACQUIRE);
    unsigned h = block_hash(phys, code32);
    /* Buckets are lists: a block whose bucket another one took is not decoded (and
     * translated) again, which a direct-mapped table did for every collision. A block
     * that is found moves to its bucket's head. */
    X86Block *b, **link = &cc->hash[h];
    for (b = *link; b; link = &b->hnext, b = *link) {
        if (b->phys == phys && b->version != version) {
            /* Decoded before a store into its page: never valid again. */
            *link = b->hnext;
            if (!(b = *link))
                break;
        }
        if (b->phys == phys && b->code32 == code32 && b->version == version && b->host == host &&
            b->bytes <= avail) {
            if (link != &cc->hash[h]) {
                *link = b->hnext;
                b->hnext = cc->hash[h];
                cc->hash[h] = b;
            }
            return b;
        }
    }

    if (cc->nblocks >= MAX_BLOCKS || cc->pool_used + BLOCK_MAX_INSNS > POOL_INSNS)
        x86_code_flush_all(c);
    /* The shared mark too: another vCPU's store may have cleared it after this one's
     * mask was set (its report racing this decode), and an unmarked page gets direct
     * write pointers whose stores no code of this vCPU would see. The page is marked
     * before its bytes are read: another vCPU's slow-path store that finds no mark
     * landed before the mark, so before the read, and one that finds it reports after
     * storing (mmu.c's phys_store), bumping the version read above. Marking after the
     * read let a store land between the two unreported (smp.asm's decoding race lost
     * a round now and then). The version is not read again: a report between the mark
     * and the read would then leave this block valid and the page unmarked. */
    mark_code_page(c, phys);
    X86Insn *insns = cc->pool + cc->pool_used;
    unsigned bytes;
    /* An instruction across the page end (not the CS limit's) ends the block as a
     * stand-in, so that the blocks around it chain through it (x86_handle_cross). */
    unsigned n = decode_run(c, host + page_off, avail, code32, insns, BLOCK_MAX_INSNS, &bytes,
                            avail == 0x1000 - page_off);
    if (n == 0)
        return NULL;
    cc->code_mask[pfn] |= chunk_bits(page_off, bytes);
    c->stats.blocks_decoded++;
    b = &cc->blocks[cc->nblocks++];
    cc->pool_used += n;
    b->phys = phys;
    b->host = host;
    b->version = version;
    b->count = (uint16_t)n;
    b->bytes = (uint16_t)bytes;
    b->code32 = code32;
    b->insns = insns;
    b->next[0] = b->next[1] = NULL;
    b->jit = NULL;
    b->next_epoch[0] = b->next_epoch[1] = c->chain_epoch - 1;
    b->hnext = cc->hash[h];
    cc->hash[h] = b;
    return b;
}

/* The block at CS:EIP from the previous block's successor cache, or NULL. */
static inline X86Block *chained_block(X86Cpu *c)
{
    X86Block *p = c->last_block;
    if (!p)
        return NULL;
    uint64_t lin = (c->seg[S_CS].base + c->eip) & c->lin_mask;
    for (unsigned k = 0; k < 2; k++) {
        if (p->next_lin[k] == lin && p->next_epoch[k] == c->chain_epoch) {
            X86Block *b = p->next[k];
            uint32_t v = __atomic_load_n(&c->code->page_version[b->phys >> 12], __ATOMIC_RELAXED);
            if (b->version != v)
                return NULL;
            c->last_block = b;
            return b;
        }
    }
    return NULL;
}

/* Remembers b as a successor of the previous block (not for uncached blocks). */
static inline void chain_to(X86Cpu *c, X86Block *b)
{
    X86Block *p = c->last_block;
    if (b == &c->code->scratch) {
        c->last_block = NULL;
        return;
    }
    if (p) {
        unsigned k = p->next_epoch[0] == c->chain_epoch && p->next[0] ? 1 : 0;
        p->next[k] = b;
        p->next_lin[k] = (c->seg[S_CS].base + c->eip) & c->lin_mask;
        p->next_epoch[k] = c->chain_epoch;
    }
    c->last_block = b;
}

/* Fetches bytes of one instruction that the block path could not take. */
static void fetch_bytes(X86Cpu *c, uint64_t lin, uint8_t *buf, unsigned n)
{
    X86Tlb *e = x86_tlb_fill(c, lin, ACC_FETCH | c->acc_user);
    uint64_t pa = e->phys | (lin & 0xfff);
    const uint8_t *h = mem_read_page(c->mem, e->phys);
    if (h) {
        memcpy(buf, h + (lin & 0xfff), n);
        return;
    }
    for (unsigned k = 0; k < n; k++)
        buf[k] = (uint8_t)vcpu_mmio_read(c->v, pa + k, 1);
}

/* Decodes the instruction at CS:EIP byte-wise (across pages, up to the CS limit). */
static void decode_uncached(X86Cpu *c, X86Insn *out)
{
    X86Seg *cs = &c->seg[S_CS];
    uint64_t eip = c->eip & c->lin_mask;
    uint8_t buf[16];
    unsigned have = 0;
    for (;;) {
        uint64_t off = (eip + have) & c->lin_mask;
        if (!cs->flat && (off > cs->limit || off < eip))
            x86_gp0(c);
        uint64_t lin = (cs->base + off) & c->lin_mask;
        unsigned chunk = 0x1000 - (lin & 0xfff);
        if (chunk > 15 - have)
            chunk = 15 - have;
        if (!cs->flat && cs->limit - off + 1 < chunk)
            chunk = cs->limit - off + 1;
        fetch_bytes(c, lin, buf + have, chunk);
        have += chunk;
        X86DecodeResult r = c->long64 ? x86_decode64(buf, have, out) : x86_decode(buf, have, c->code32, out);
        if (r != X86_DECODE_MORE) {
            gate_features(c, out);
            return;
        }
        if (have >= 15) { /* cannot happen: 15 bytes always decode */
            x86_gp0(c);
        }
    }
}

/* ---- running ---- */

static inline void exec_insns(X86Cpu *c, const X86Insn *i, unsigned n)
{
    const X86Insn *end = i + n;
    c->exit_block = 0;
    /* A fault unwinds from inside: the dispatcher counts that partial block from
     * block_start and prev_eip. */
    c->block_start = i;
    c->block_eip = c->eip;
    do {
        c->prev_eip = c->eip;
        c->eip += i->len;
        i->handler(c, i);
        i++;
    } while (i < end && !c->exit_block);
    c->icount += (uint64_t)(i - c->block_start);
    c->block_start = NULL;
}

/* A whole cached block through the translator when one is attached. */
static inline void exec_block(X86Cpu *c, X86Block *b, unsigned n)
{
    c->stats.blocks_run++;
    if (!c->run_block || n != b->count || b == &c->code->scratch) {
        c->stats.blocks_cut++;
        exec_insns(c, b->insns, n);
        return;
    }
    c->exit_block = 0;
    c->block_start = b->insns;
    c->block_eip = c->eip;
    c->icount += c->run_block(c, b->insns, n, &b->jit);
    c->block_start = NULL;
}

/* The TLB entry that maps linear page lin for fetching, filled on a miss (a fault is
 * the fetch's own); NULL when no host memory is behind it. */
static X86Tlb *fetch_entry(X86Cpu *c, uint64_t lin)
{
    X86Tlb *tlb = c->cpl == 3 ? c->tlb_user : c->tlb_sup;
    X86Tlb *e = &tlb[x86_tlb_index(lin)];
    uint64_t page = lin & ~UINT64_C(0xfff);
    if (e->tag_x != page) {
        e = x86_tlb_fill(c, lin, ACC_FETCH | c->acc_user);
        if (e->tag_x != page)
            return NULL;
    }
    return e;
}

/* Decodes the instruction across the page end at linear address lin into out, its
 * first bytes at h0 (the page at phys0) and the rest at h1 (phys1): both pages are
 * marked as code before their bytes are read, as in block_get, and the chunks the
 * instruction covers recorded, so a store into its bytes bumps their versions. */
static void cross_decode(X86Cpu *c, uint64_t lin, const uint8_t *h0, uint64_t phys0, const uint8_t *h1,
                         uint64_t phys1, X86Insn *out)
{
    X86CodeCache *cc = c->code;
    unsigned left = 0x1000 - (unsigned)(lin & 0xfff);
    mark_code_page(c, phys0);
    mark_code_page(c, phys1);
    uint8_t buf[15];
    memcpy(buf, h0 + (lin & 0xfff), left);
    memcpy(buf + left, h1, 15 - left);
    X86DecodeResult r = c->long64 ? x86_decode64(buf, 15, out) : x86_decode(buf, 15, c->code32, out);
    (void)r; /* (15 bytes always decode: too long is the #GP form) */
    gate_features(c, out);
    unsigned len = out->len;
    cc->code_mask[phys0 >> 12] |= chunk_bits(lin & 0xfff, len < left ? len : left);
    if (len > left)
        cc->code_mask[phys1 >> 12] |= chunk_bits(0, len - left);
}

/* The instruction at CS:EIP that block_get could not take: from the page-crossing
 * cache when both its pages are mapped as when it was decoded and unchanged since
 * (their versions), else fetched and decoded into tmp. The fetch faults as
 * decode_uncached's would: the first page was mapped by block_get, the second is
 * needed by an instruction that crosses into it. */
static const X86Insn *cross_get(X86Cpu *c, X86Insn *tmp)
{
    X86CodeCache *cc = c->code;
    X86Seg *cs = &c->seg[S_CS];
    uint64_t lin = (cs->base + c->eip) & c->lin_mask;
    unsigned left = 0x1000 - (unsigned)(lin & 0xfff);
    X86Tlb *e0;
    if (!cs->flat || left >= 15 || (c->run_flags & X86_RUN_NO_CACHE) || !(e0 = fetch_entry(c, lin))) {
        decode_uncached(c, tmp); /* a CS limit, MMIO, no caching asked for: byte-wise */
        return tmp;
    }
    uint64_t phys0 = e0->phys & ~UINT64_C(0xfff);
    const uint8_t *h0 = (const uint8_t *)(e0->add_r + (lin & ~UINT64_C(0xfff)));
    X86Tlb *e1 = fetch_entry(c, (lin + left) & c->lin_mask);
    if (!e1 || phys0 >> 32 || e1->phys >> 32) {
        decode_uncached(c, tmp);
        return tmp;
    }
    uint64_t phys1 = e1->phys & ~UINT64_C(0xfff);
    const uint8_t *h1 = (const uint8_t *)(e1->add_r + ((lin + left) & c->lin_mask));
    unsigned code32 = c->code32 | (unsigned)c->long64 << 1;
    uint32_t v0 = __atomic_load_n(&cc->page_version[phys0 >> 12], __ATOMIC_ACQUIRE);
    uint32_t v1 = __atomic_load_n(&cc->page_version[phys1 >> 12], __ATOMIC_ACQUIRE);
    X86CrossInsn *x = &cc->cross[(lin ^ (lin >> 12)) & (CROSS_SLOTS - 1)];
    if (x->lin == lin && x->code32 == code32 && x->phys[0] == phys0 && x->phys[1] == phys1 &&
        x->version[0] == v0 && x->version[1] == v1)
        return &x->insn;
    cross_decode(c, lin, h0, phys0, h1, phys1, &x->insn);
    x->lin = lin;
    x->code32 = (uint8_t)code32;
    x->phys[0] = phys0;
    x->phys[1] = phys1;
    x->version[0] = v0;
    x->version[1] = v1;
    return &x->insn;
}

/* For the translator, which compiles the instruction across the page end at linear
 * address lin (64-bit code: RIP) behind a guard on its second page
 * (cpu/jit/translate.c, tr_cross): the instruction decoded now from what both pages
 * map, by the debugger's walk (no fault, no accessed bits: the guard takes the
 * mapping from the TLB at run time), into the block pool, which lasts as long as the
 * translations that point into it (cross_decode marks the pages). False when it
 * cannot be: not flat, not RAM below 4 GiB, uncached runs, the pool full. */
bool x86_cross_prepare(X86Cpu *c, uint64_t lin, X86CrossCode *out)
{
    X86CodeCache *cc = c->code;
    unsigned left = 0x1000 - (unsigned)(lin & 0xfff);
    uint64_t p0, p1;
    if (left >= 15 || !c->seg[S_CS].flat || (c->run_flags & X86_RUN_NO_CACHE) || cc->pool_used >= POOL_INSNS ||
        !x86_cpu_debug_translate(c, lin, &p0) || !x86_cpu_debug_translate(c, (lin + left) & c->lin_mask, &p1))
        return false;
    p0 &= ~UINT64_C(0xfff);
    p1 &= ~UINT64_C(0xfff);
    const uint8_t *h0 = mem_read_page(c->mem, p0), *h1 = mem_read_page(c->mem, p1);
    if (p0 >> 32 || p1 >> 32 || !h0 || !h1)
        return false;
    uint32_t *v1 = &cc->page_version[p1 >> 12];
    X86Insn *x = &cc->pool[cc->pool_used++];
    *out = (X86CrossCode){ x, left, p1, v1, __atomic_load_n(v1, __ATOMIC_ACQUIRE) };
    cross_decode(c, lin, h0, p0, h1, p1, x);
    return true;
}

/* The stand-in (cross_stand_in) that ends a cached block at an instruction crossing
 * its page end, run as that instruction: the block's version covers the first page,
 * this checks the second one on every pass (its mapping now, a fetch fault if it has
 * none, as the byte-wise fetch raises, and its version), through the page-crossing
 * cache. Its length may differ from the stand-in's: EIP is set from the instruction.
 * Called by the interpreter and by translated code alike, with prev_eip at the
 * instruction, so a fault is precise. */
void x86_handle_cross(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    X86Insn tmp;
    c->eip = c->prev_eip;
    const X86Insn *x = cross_get(c, &tmp);
    c->stats.cross_runs++;
    c->eip += x->len;
    x->handler(c, x);
}

static void trace_insn(X86Cpu *c, const X86Insn *i)
{
    char *d = x86_cpu_describe(c);
    vlog_write(LOG_EXEC, "%04x:%08" G_GINT64_MODIFIER "x op %04x len %u | %s", c->seg[S_CS].sel, c->eip, i->opcode, i->len, d);
    g_free(d);
}

/* Instruction breakpoints in DR0-DR3 (SDM vol. 3, 17.2.4). */
static uint32_t code_bp_hits(X86Cpu *c, uint64_t lin)
{
    uint32_t hits = 0;
    uint32_t dr7 = c->dr[7];
    for (unsigned k = 0; k < 4; k++) {
        bool enabled = (dr7 >> (2 * k)) & 3;
        unsigned rw = (dr7 >> (16 + 4 * k)) & 3;
        if (enabled && rw == 0 && c->dr[k] == lin)
            hits |= 1u << k;
    }
    return hits;
}

/* One instruction with the debug rules around it: instruction breakpoints, RF,
 * the single-step trap. */
static void step_one(X86Cpu *c)
{
    c->stats.steps++;
    c->last_block = NULL;
    bool rf = c->eflags & X86_FL_RF;
    c->eflags &= ~X86_FL_RF;
    c->prev_eip = c->eip;
    /* Right after MOV SS / POP SS an instruction breakpoint is suppressed as if RF
     * were set (SDM vol. 3, 6.8.3 and 17.3.1.1). */
    if ((c->code_bp & X86_CODE_BP_DR) && !rf && !c->debug_shadow) {
        uint32_t hits = code_bp_hits(c, c->seg[S_CS].base + c->eip);
        if (hits) {
            c->dr[6] = (c->dr[6] & ~0xfu) | hits;
            x86_fault(c, X86_EXC_DB);
        }
    }
    bool tf = c->eflags & X86_FL_TF;
    X86Insn tmp;
    X86Block *b = block_get(c);
    const X86Insn *i;
    if (b && b->insns->handler != x86_handle_cross) {
        i = b->insns;
    } else {
        decode_uncached(c, &tmp);
        i = &tmp;
    }
    if (vlog_mask & LOG_EXEC)
        trace_insn(c, i);
    c->intr_shadow = 0;
    c->debug_shadow = 0;
    uint32_t deliveries = c->deliveries;
    exec_insns(c, i, 1);
    /* Single-step trap after the instruction, unless it delivered an interrupt (the
     * handler starts with TF clear) or loaded SS: the trap that would follow a MOV SS
     * or POP SS is suppressed (SDM vol. 3, 6.8.3). Data breakpoints that MOV SS / POP SS
     * hit wait for the next instruction: pending_dr6 survives while debug_shadow is set. */
    if (tf && c->deliveries == deliveries && !c->debug_shadow)
        c->pending_dr6 |= 1u << 14; /* BS */
}

static void raise_pending_db(X86Cpu *c)
{
    c->dr[6] |= c->pending_dr6;
    c->pending_dr6 = 0;
    x86_trap(c, X86_EXC_DB);
}

/* Exception classes for the double-fault decision. */
enum { CLASS_NONE, CLASS_BENIGN, CLASS_CONTRIB, CLASS_PF, CLASS_DF };

static unsigned exc_class(int vec)
{
    switch (vec) {
    case X86_EXC_DE: case X86_EXC_TS: case X86_EXC_NP: case X86_EXC_SS: case X86_EXC_GP:
        return CLASS_CONTRIB;
    case X86_EXC_PF:
        return CLASS_PF;
    case X86_EXC_DF:
        return CLASS_DF;
    default:
        return CLASS_BENIGN;
    }
}

/* Runs after a fault or trap unwound to the dispatcher. Returns a run result, or -1
 * to continue. May not return at all (a fault while delivering unwinds again). */
static int handle_exception(X86Cpu *c)
{
    int vec = c->exc_vec;
    bool has_err = c->exc_has_err;
    uint32_t err = c->exc_err;
    /* Instructions of the interrupted block that completed before the fault (their
     * lengths add up to the distance from the block's start to the faulting one). */
    if (c->block_start) {
        uint64_t at = c->block_eip;
        const X86Insn *i = c->block_start;
        for (unsigned n = 0; n < BLOCK_MAX_INSNS && at != c->prev_eip; n++, i++) {
            at += i->len;
            c->icount++;
        }
        c->block_start = NULL;
    }
    if (!c->exc_trap)
        c->eip = c->prev_eip;
    c->exit_block = 1;
    c->last_block = NULL;
    /* A faulting instruction counts against the budget: a guest whose every
     * instruction faults still ends a bounded run. */
    c->icount++;
    if (vec == X86_EXC_UNSUPPORTED) {
        c->in_delivery = CLASS_NONE;
        vcpu_request_shutdown(c->v);
        c->halted = 1;
        return X86_RUN_SHUTDOWN;
    }
    if (vec < 0) {
        /* x86_stall: wait at the instruction, as HLT would, for an interrupt. */
        c->halted = 1;
        return -1;
    }
    if (c->run_flags & X86_RUN_STOP_ON_EXCEPTION) {
        c->last_vec = vec;
        c->last_has_err = has_err;
        c->last_err = err;
        c->in_delivery = CLASS_NONE;
        return X86_RUN_EXCEPTION;
    }
    unsigned cls = exc_class(vec);
    unsigned prev = c->in_delivery;
    if (prev == CLASS_DF) {
        X86_LOG_INT("triple fault (exception %02x while delivering #DF)", vec);
        c->in_delivery = CLASS_NONE;
        vcpu_triple_fault(c->v);
        c->halted = 1;
        return X86_RUN_SHUTDOWN;
    }
    if ((prev == CLASS_CONTRIB && cls == CLASS_CONTRIB) ||
        (prev == CLASS_PF && (cls == CLASS_CONTRIB || cls == CLASS_PF))) {
        vec = X86_EXC_DF;
        has_err = true;
        err = 0;
        cls = CLASS_DF;
    }
    /* Real mode pushes no error codes. */
    if (!c->pe)
        has_err = false;
    c->in_delivery = (uint8_t)cls;
    c->prev_eip = c->eip;
    x86_deliver(c, vec, X86_EV_EXC, has_err, err);
    c->in_delivery = CLASS_NONE;
    return -1;
}

/* Interrupts, NMI, exit and TLB requests at an instruction boundary. Returns a run
 * result or -1. */
static int handle_events(X86Cpu *c)
{
    Vcpu *v = c->v;
    for (;;) {
        /* A debugger stop is reported before any event moves EIP away from it. */
        if (c->dbg_pending)
            return X86_RUN_DEBUG;
        unsigned req = vcpu_requests(v);
        if (req & VCPU_REQ_EXIT)
            return X86_RUN_EXIT;
        /* While the debugger steps, interrupts wait (as with QEMU's gdb stub), unless
         * the CPU halts: then only an interrupt can end the step. */
        if (c->dbg_step && !c->halted)
            req &= ~(unsigned)(VCPU_REQ_NMI | VCPU_REQ_INTR);
        if (__builtin_expect(req & (VCPU_REQ_INIT | VCPU_REQ_SIPI), 0))
            x86_cpu_startup_events(c);
        /* An AP in wait-for-SIPI takes no interrupt, NMI or flush until it starts. */
        if (c->halted == X86_HALT_SIPI) {
            vcpu_sipi_wait(v);
            continue;
        }
        if (req & VCPU_REQ_TLB)
            serve_flush(c);
        if (req & VCPU_REQ_SYNC) {
            int r = sync_wait(c);
            if (r >= 0)
                return r;
        }
        if (c->pending_dr6 && !c->debug_shadow) {
            c->prev_eip = c->eip;
            raise_pending_db(c);
        }
        if ((req & VCPU_REQ_NMI) && !c->nmi_blocked && !c->intr_shadow) {
            if (vcpu_take_nmi(v)) {
                c->nmi_blocked = 1;
                c->in_delivery = CLASS_BENIGN;
                c->prev_eip = c->eip;
                c->stats.interrupts++;
                x86_deliver(c, X86_EXC_NMI, X86_EV_EXT, false, 0);
                c->in_delivery = CLASS_NONE;
                continue;
            }
        }
        if ((req & VCPU_REQ_INTR) && (c->eflags & X86_FL_IF) && !c->intr_shadow) {
            int vec = vcpu_intr_ack(v);
            if (vec >= 0) {
                c->in_delivery = CLASS_BENIGN;
                c->prev_eip = c->eip;
                c->stats.interrupts++;
                x86_deliver(c, vec & 0xff, X86_EV_EXT, false, 0);
                c->in_delivery = CLASS_NONE;
            }
        }
        if (!c->halted)
            return -1;
        req = vcpu_requests(v);
        bool wake = ((req & VCPU_REQ_NMI) && !c->nmi_blocked) || ((req & VCPU_REQ_INTR) && (c->eflags & X86_FL_IF));
        if (wake || (req & VCPU_REQ_EXIT))
            continue;
        if (c->run_flags & X86_RUN_STOP_ON_HLT)
            return X86_RUN_HALT;
        if ((req & VCPU_REQ_NMI) && c->nmi_blocked) {
            /* An NMI waits for IRET while the CPU halts in the NMI handler: the
             * engine's wait would return at once for it, so poll gently instead. */
            g_usleep(1000);
            continue;
        }
        vcpu_halt_wait(v, c->eflags & X86_FL_IF);
    }
}

/* The debugger at an instruction boundary (code_bp has X86_CODE_BP_DEBUGGER): a stop
 * already decided, a breakpoint at CS:EIP, or a single step. Returns X86_RUN_DEBUG, or
 * -1 to go on as usual. */
static int debug_boundary(X86Cpu *c)
{
    if (c->dbg_pending)
        return X86_RUN_DEBUG;
    uint64_t lin = c->seg[S_CS].base + c->eip;
    bool skip = c->dbg_skip && c->dbg_skip_lin == lin;
    if (c->dbg_skip) {
        c->dbg_skip = 0;
        x86_debug_refresh(c);
    }
    if (!skip) {
        int k = x86_debug_bp_find(c, lin);
        if (k >= 0) {
            x86_debug_set_stop(c, CPU_DEBUG_STOP_BREAK, (CpuDebugKind)c->dbg_bp[k].kind, lin);
            return X86_RUN_DEBUG;
        }
    }
    if (!c->dbg_step)
        return -1;
    step_one(c);
    if (!c->dbg_pending)
        x86_debug_set_stop(c, CPU_DEBUG_STOP_STEP, CPU_DEBUG_BREAK_SW, 0);
    return X86_RUN_DEBUG;
}

/* How many of a block's first n instructions run before a breakpoint: the block's
 * translated code never runs past one (a cut block is interpreted). The first
 * instruction was checked by debug_boundary. */
static unsigned debug_block_limit(X86Cpu *c, const X86Block *b, unsigned n)
{
    uint64_t lin = c->seg[S_CS].base + c->eip;
    if (!c->dbg_nbp || !x86_debug_bp_in_range(c, lin + 1, b->bytes > 1 ? b->bytes - 1u : 0))
        return n;
    uint64_t at = lin;
    for (unsigned k = 1; k < n; k++) {
        at += b->insns[k - 1].len;
        if (x86_debug_bp_find(c, at) >= 0)
            return k;
    }
    return n;
}

X86RunResult x86_cpu_run(X86Cpu *c, uint64_t max_insns)
{
    /* (All ones means no budget to chained blocks, cpu/jit/chain.c: a finite one
     * stops one short of that.) */
    if (max_insns == UINT64_MAX)
        c->icount_end = UINT64_MAX;
    else
        c->icount_end = max_insns > UINT64_MAX - 1 - c->icount ? UINT64_MAX - 1 : c->icount + max_insns;
    c->budget = max_insns != UINT64_MAX;
    if (setjmp(c->jmp)) {
        int r = handle_exception(c);
        if (r >= 0)
            return (X86RunResult)r;
        /* A stepped instruction that faulted stops at the first instruction of the
         * handler, as on a real CPU with TF. */
        if (c->dbg_step && !c->dbg_pending)
            x86_debug_set_stop(c, CPU_DEBUG_STOP_STEP, CPU_DEBUG_BREAK_SW, 0);
    }
    for (;;) {
        if (__builtin_expect(vcpu_requests(c->v) || c->halted || (c->pending_dr6 && !c->debug_shadow), 0)) {
            int r = handle_events(c);
            if (r >= 0)
                return (X86RunResult)r;
        }
        if (c->icount >= c->icount_end)
            return X86_RUN_BUDGET;
        c->prev_eip = c->eip;
        if (__builtin_expect(c->intr_shadow || (c->eflags & (X86_FL_TF | X86_FL_RF)) || c->code_bp ||
                             (vlog_mask & LOG_EXEC), 0)) {
            if (c->code_bp & X86_CODE_BP_DEBUGGER) {
                if (debug_boundary(c) == X86_RUN_DEBUG)
                    return X86_RUN_DEBUG;
            }
            if (c->intr_shadow || (c->eflags & (X86_FL_TF | X86_FL_RF)) || (c->code_bp & X86_CODE_BP_DR) ||
                (vlog_mask & LOG_EXEC)) {
                c->stats.steps_shadow += c->intr_shadow != 0;
                step_one(c);
                continue;
            }
        }
        X86Block *b = chained_block(c);
        if (!b) {
            b = block_get(c);
            if (!b) {
                X86Insn tmp;
                c->last_block = NULL;
                c->stats.steps++;
                c->stats.steps_fetch++;
                exec_insns(c, cross_get(c, &tmp), 1);
                continue;
            }
            chain_to(c, b);
        }
        uint64_t left = c->icount_end - c->icount;
        unsigned n = left < b->count ? (unsigned)left : b->count;
        if (__builtin_expect(c->code_bp & X86_CODE_BP_DEBUGGER, 0))
            n = debug_block_limit(c, b, n);
        exec_block(c, b, n);
    }
}
