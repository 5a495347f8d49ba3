/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Paging and the software TLB: 2-level 32-bit paging with 4 MiB pages (PSE), PAE
 * with 2 MiB pages and NX, IA-32e 4-level paging with 2 MiB and 1 GiB pages,
 * accessed/dirty bits, CR0.WP, global pages (SDM vol. 3,
 * chapter 4), A20 masking, and the slow paths of guest memory access (page-crossing
 * accesses, MMIO, writes to pages holding decoded code, alignment checks). */
#include "cpu/x86/cpu-internal.h"

enum {
    PTE_P = 1u << 0,
    PTE_RW = 1u << 1,
    PTE_US = 1u << 2,
    PTE_A = 1u << 5,
    PTE_D = 1u << 6,
    PTE_PS = 1u << 7,
    PTE_G = 1u << 8,
};
#define PTE_XD (UINT64_C(1) << 63)
#define PAE_ADDR_MASK UINT64_C(0x0000000ffffff000) /* MAXPHYADDR 36 */
#define PAE_RSVD_HIGH UINT64_C(0x7ffffff000000000)

enum { PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16 };

/* ---- physical memory ---- */

uint32_t x86_phys_ld32(X86Cpu *c, uint64_t pa)
{
    pa &= c->a20_mask;
    uint8_t *h = mem_read_page(c->mem, pa);
    if (h && (pa & 0xfff) <= 0xffc)
        return x86_ldn(h + (pa & 0xfff), 4);
    return (uint32_t)vcpu_mmio_read(c->v, pa, 4);
}

uint64_t x86_phys_ld64(X86Cpu *c, uint64_t pa)
{
    pa &= c->a20_mask;
    uint8_t *h = mem_read_page(c->mem, pa);
    if (h && (pa & 0xfff) <= 0xff8) {
        uint64_t v;
        memcpy(&v, h + (pa & 0xfff), 8);
        return v;
    }
    return vcpu_mmio_read(c->v, pa, 8);
}

/* Whether a page may hold code decoded by this or (the shared mark) another vCPU:
 * stores to it take the slow path. */
static bool page_holds_code(X86Cpu *c, uint64_t phys)
{
    return x86_code_page_cached(c, phys) || (mem_page_flags(c->mem, phys) & MEM_PAGE_CODE);
}

/* Whether a direct write pointer to the page may be handed out: not to a code page.
 * With several vCPUs this one is listed as a writer first, so a vCPU marking the page
 * at the same time either is seen here or asks this one to drop the pointer. */
static bool page_may_write_directly(X86Cpu *c, uint64_t phys)
{
    if (c->smp)
        mem_add_page_writer(c->mem, phys, (unsigned)c->v->index);
    return !page_holds_code(c, phys);
}

/* A store of size bytes at pa dropping decoded code: this vCPU's own (true if it had
 * some there), and with other vCPUs theirs too, before the store completes, so that
 * code one CPU writes and another runs is seen (SDM vol. 3, 8.1.3). */
static bool code_store_all(X86Cpu *c, uint64_t pa, unsigned size)
{
    bool own = x86_code_store(c, pa, size);
    /* The mark goes first: a vCPU decoding from the page after the report marks it
     * again (and so takes this one's write pointers away), where clearing it after the
     * report would unmark code decoded in between. */
    if (c->smp && mem_set_code_page(c->mem, pa, false))
        mem_report_code_write(c->mem, pa, size);
    return own;
}

/* After a store to RAM at pa: decoded code (every vCPU's) and the dirty log. Returns
 * true when it overwrote this vCPU's decoded code. */
static bool store_report(X86Cpu *c, uint64_t pa, unsigned size)
{
    bool code = code_store_all(c, pa, size);
    if (mem_page_flags(c->mem, pa) & MEM_PAGE_DIRTY_LOG) {
        MemRegion *r = mem_dirty_region_at(c->mem, pa);
        if (r)
            mem_region_mark_dirty(r, pa - mem_region_base(r), size);
    }
    return code;
}

/* A store to physical memory by the CPU: keeps decoded code and dirty logs right.
 * Returns true when it overwrote decoded code. */
static bool phys_store(X86Cpu *c, uint64_t pa, unsigned size, uint64_t v)
{
    uint8_t *h = mem_write_page(c->mem, pa);
    if (!h || (pa & 0xfff) + size > 0x1000) {
        if (size == 8 && (pa & 0xfff) + 8 > 0x1000) {
            bool a = phys_store(c, pa, 4, (uint32_t)v);
            return phys_store(c, (pa + 4) & c->a20_mask, 4, v >> 32) || a;
        }
        if (!h) {
            vcpu_mmio_write(c->v, pa, v, size);
            return false;
        }
        bool any = false;
        for (unsigned k = 0; k < size; k++)
            any |= phys_store(c, (pa + k) & c->a20_mask, 1, (v >> (8 * k)) & 0xff);
        return any;
    }
    /* Stored first, then the mark looked at: a vCPU that marks the page after this
     * finds the new bytes, one that marked it before gets the report (exec.c's
     * block_get marks before it reads). */
    memcpy(h + (pa & 0xfff), &v, size);
    return store_report(c, pa, size);
}

void x86_phys_st32(X86Cpu *c, uint64_t pa, uint32_t v)
{
    phys_store(c, pa & c->a20_mask, 4, v);
}

/* ---- TLB ---- */

/* A direct write pointer about to go. With several vCPUs its page may have been marked
 * as code since this vCPU got the pointer (another vCPU decoded from it: exec.c's
 * block_get), and stores through the pointer bypassed code_store_all: that vCPU may
 * hold code decoded from bytes before them, which it would run for ever (a Linux
 * text_poke's INT3 over a NOP another vCPU wrote back: the kprobes handler returns to
 * the INT3 each time). Every vCPU's code for the page goes, as a slow-path store
 * would have dropped it. The marking vCPU's vcpu_flush_ask makes this one drop its
 * pointers before its next block, so the stale code cannot outlive that. The mark
 * stays: clearing it here would race with a vCPU marking the page anew (its mask set
 * after this report cleared it, the page unmarked, its code then never dropped). */
static void tlb_drop_write(X86Cpu *c, const X86Tlb *e)
{
    if (c->smp && e->tag_w != TLB_INVALID && (mem_page_flags(c->mem, e->phys) & MEM_PAGE_CODE))
        mem_report_code_write(c->mem, e->phys, MEM_PAGE_SIZE);
}

static void tlb_entry_clear(X86Cpu *c, X86Tlb *e)
{
    tlb_drop_write(c, e);
    e->tag_r = e->tag_w = e->tag_x = TLB_INVALID;
    e->page = TLB_INVALID;
    e->perm = 0;
    e->global = 0;
}

/* Evaluates keep_expr for each set k marked in used (nwords 64-bit words): whether
 * the set still holds a valid entry, its bit kept only then. */
#define FOR_USED_SETS(used, nwords, k, keep_expr)                                      \
    for (unsigned w_ = 0; w_ < (nwords); w_++) {                                       \
        uint64_t bits_ = (used)[w_], kept_ = 0;                                        \
        while (bits_) {                                                                \
            unsigned k = w_ * 64 + (unsigned)__builtin_ctzll(bits_);                   \
            uint64_t bit_ = bits_ & -bits_;                                            \
            bits_ &= bits_ - 1;                                                        \
            if (keep_expr)                                                             \
                kept_ |= bit_;                                                         \
        }                                                                              \
        (used)[w_] = kept_;                                                            \
    }

/* Clears the entries of set k (both ways) of table tab that match: all, or the
 * non-global ones; whether a valid entry is left. */
static bool tlb_set_flush(X86Cpu *c, X86Tlb *tab, unsigned k, bool include_global)
{
    bool left = false;
    for (unsigned way = 0; way < TLB_WAYS; way++) {
        X86Tlb *e = &tab[way * TLB_SIZE + k];
        if (include_global || !(e->global & 1))
            tlb_entry_clear(c, e);
        left |= e->page != TLB_INVALID;
    }
    return left;
}

static bool itlb_slot_flush(X86Itlb *e, bool include_global)
{
    if (include_global || !e->global)
        e->page = TLB_INVALID;
    return e->page != TLB_INVALID;
}

/* A CR3 write flushes the non-global entries, other flushes all (SDM vol. 3,
 * 4.10.4.1). A large page's entries are global only by their G bit. */
void x86_tlb_flush(X86Cpu *c, bool include_global)
{
    c->chain_epoch++;
    c->stats.tlb_flushes++;
    if (include_global)
        c->itlb_large = 0;
    X86Itlb *itabs[2] = { c->itlb_sup, c->itlb_user };
    X86Tlb *tabs[2] = { c->tlb_sup, c->tlb_user };
    for (unsigned t = 0; t < 2; t++) {
        FOR_USED_SETS(c->itlb_used[t], ITLB_SIZE / 64, k, itlb_slot_flush(&itabs[t][k], include_global));
        FOR_USED_SETS(c->tlb_used[t], TLB_SIZE / 64, k, tlb_set_flush(c, tabs[t], k, include_global));
    }
}

/* Set k of table tab after INVLPG of page: its entries for the page, and those of a
 * large page holding it (shift: the large page's size), cleared; whether a valid
 * entry is left. */
static bool tlb_set_flush_page(X86Cpu *c, X86Tlb *tab, unsigned k, uint64_t page, unsigned large_shift)
{
    bool left = false;
    for (unsigned way = 0; way < TLB_WAYS; way++) {
        X86Tlb *e = &tab[way * TLB_SIZE + k];
        unsigned shift = (e->global & 4) ? 30 : large_shift;
        if (e->page == page || ((e->global & 2) && e->page != TLB_INVALID && (e->page >> shift) == (page >> shift)))
            tlb_entry_clear(c, e);
        left |= e->page != TLB_INVALID;
    }
    return left;
}

/* Entries are tagged with their 4 KiB page; a large page may have filled several.
 * global bit 1: global, bit 2: from a large page, bit 4: that page is 1 GiB. */
void x86_tlb_flush_page(X86Cpu *c, uint64_t lin)
{
    c->chain_epoch++;
    c->stats.tlb_page_flushes++;
    uint64_t page = lin & ~UINT64_C(0xfff);
    /* A 4 KiB page has one instruction TLB slot per table. Linux invalidates a page at
     * every PTE it changes under a live mapping; emptying all 2,048 slots each time
     * cost a microsecond (bench/events' page fault). */
    if (c->itlb_large & (UINT64_C(1) << ((lin >> 21) & 63))) {
        for (unsigned t = 0; t < 2; t++) {
            X86Itlb *tab = t ? c->itlb_user : c->itlb_sup;
            FOR_USED_SETS(c->itlb_used[t], ITLB_SIZE / 64, k, itlb_slot_flush(&tab[k], true));
        }
        c->itlb_large = 0;
    } else {
        unsigned k = x86_itlb_index(lin);
        if (c->itlb_sup[k].page == page)
            c->itlb_sup[k].page = TLB_INVALID;
        if (c->itlb_user[k].page == page)
            c->itlb_user[k].page = TLB_INVALID;
    }
    X86Tlb *tabs[2] = { c->tlb_sup, c->tlb_user };
    /* Large pages are 4 MiB without PAE, 2 MiB with it (SDM vol. 3, 4.3 and 4.4); a
     * change of CR4.PAE flushes the TLB, so the mode now is the entries' mode. */
    unsigned large_shift = (c->cr4 & X86_CR4_PAE) ? 21 : 22;
    for (unsigned t = 0; t < 2; t++)
        FOR_USED_SETS(c->tlb_used[t], TLB_SIZE / 64, k, tlb_set_flush_page(c, tabs[t], k, page, large_shift));
}

/* Set k of table tab with the write tags of physical page phys_page dropped; *had:
 * one was there. Whether a valid entry is left (always: only write tags go). */
static bool tlb_set_drop_writes(X86Tlb *tab, unsigned k, uint64_t phys_page, bool *had)
{
    for (unsigned way = 0; way < TLB_WAYS; way++) {
        X86Tlb *e = &tab[way * TLB_SIZE + k];
        if (e->phys == phys_page && e->page != TLB_INVALID) {
            *had |= e->tag_w != TLB_INVALID;
            e->tag_w = TLB_INVALID;
        }
    }
    return true;
}

void x86_tlb_drop_phys_writes(X86Cpu *c, uint64_t phys_page, bool marked_before)
{
    bool had = false;
    X86Tlb *tabs[2] = { c->tlb_sup, c->tlb_user };
    for (unsigned t = 0; t < 2; t++)
        FOR_USED_SETS(c->tlb_used[t], TLB_SIZE / 64, k, tlb_set_drop_writes(tabs[t], k, phys_page, &had));
    /* Another vCPU marked the page first: as in tlb_drop_write, stores through these
     * pointers may be newer than its code (the mark stays: both hold code now). */
    if (had && marked_before && c->smp)
        mem_report_code_write(c->mem, phys_page, MEM_PAGE_SIZE);
}

bool x86_load_pdptes(X86Cpu *c, uint32_t cr3)
{
    uint64_t e[4];
    for (unsigned k = 0; k < 4; k++) {
        e[k] = x86_phys_ld64(c, (cr3 & ~0x1fu) + 8 * k);
        /* Reserved: bits 1-2, 5-8 and above MAXPHYADDR (SDM vol. 3, 4.4.1). */
        if ((e[k] & PTE_P) && (e[k] & (UINT64_C(0xfffffff000000000) | 0x1e6)))
            return false;
    }
    memcpy(c->pdpte, e, sizeof(e));
    return true;
}

X86_NORETURN static void page_fault(X86Cpu *c, uint64_t lin, unsigned acc, unsigned bits)
{
    unsigned err = bits | (acc & (PF_W | PF_U));
    if ((acc & ACC_FETCH) && (c->cr4 & X86_CR4_PAE) && (c->efer & X86_EFER_NXE))
        err |= PF_I;
    c->cr2 = lin;
    X86_LOG_INT("#PF at %08" G_GINT64_MODIFIER "x err %x (eip %08" G_GINT64_MODIFIER "x)", lin, err, c->prev_eip);
    x86_fault_err(c, X86_EXC_PF, err);
}

/* Result of a page walk. */
typedef struct Walk {
    uint64_t phys;    /* physical page */
    bool rw, us, nx, dirty, global, large;
    bool huge;        /* a 1 GiB page */
} Walk;

/* Sets the accessed bit of a paging-structure entry (and dirty, for the entry that
 * maps the page of a write) once the whole translation has succeeded. */
static void entry_update(X86Cpu *c, uint64_t addr, uint64_t e, bool dirty)
{
    uint64_t want = PTE_A | (dirty ? PTE_D : 0);
    if ((e & want) != want)
        x86_phys_st32(c, addr, (uint32_t)e | (uint32_t)want);
}

/* IA-32e paging (SDM vol. 3, 4.5): PML4, PDPT (1 GiB pages where the model has
 * them), page directory (2 MiB pages), page table. R/W and U/S of all levels must
 * allow the access, XD of any level forbids fetches. Linear addresses are 48 bits; in
 * compatibility mode their upper half is zero. Returns the leaf's level (1: 4 KiB,
 * 2: 2 MiB, 3: 1 GiB); faults as page_walk does. */
static unsigned walk_ia32e(X86Cpu *c, uint64_t lin, unsigned acc, Walk *w, uint64_t addr[4], uint64_t ent[4])
{
    bool nxe = c->efer & X86_EFER_NXE;
    uint64_t rsvd = PAE_RSVD_HIGH | (nxe ? 0 : PTE_XD);
    uint64_t table = c->cr3 & PAE_ADDR_MASK;
    w->rw = w->us = true;
    for (unsigned level = 4; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t a = table + ((lin >> shift) & 0x1ff) * 8;
        uint64_t e = x86_phys_ld64(c, a);
        addr[level - 1] = a;
        ent[level - 1] = e;
        if (!(e & PTE_P))
            page_fault(c, lin, acc, 0);
        /* PS is reserved in a PML4E, and in a PDPTE without 1 GiB pages; a large
         * page's address bits below its size (above bit 12, PAT) must be zero. */
        bool large = level > 1 && (e & PTE_PS);
        bool ps_ok = level == 2 || (level == 3 && (c->model->ext_edx & CPUID_EXT_PDPE1GB));
        uint64_t low = level == 3 ? UINT64_C(0x3fffe000) : UINT64_C(0x1fe000);
        if ((e & rsvd) || (large && (!ps_ok || (e & low))))
            page_fault(c, lin, acc, PF_P | PF_RSVD);
        w->rw = w->rw && (e & PTE_RW);
        w->us = w->us && (e & PTE_US);
        w->nx = w->nx || (nxe && (e & PTE_XD));
        if (large || level == 1) {
            uint64_t size_mask = (UINT64_C(1) << shift) - 1;
            w->large = large;
            w->huge = level == 3;
            w->phys = ((e & PAE_ADDR_MASK & ~size_mask) | (lin & size_mask)) & ~UINT64_C(0xfff);
            w->global = (e & PTE_G) && (c->cr4 & X86_CR4_PGE);
            w->dirty = e & PTE_D;
            return level;
        }
        table = e & PAE_ADDR_MASK;
    }
    g_assert_not_reached();
}

/* Reads and updates the paging structures for lin; raises #PF for a missing or
 * reserved entry or a permission violation of this access. */
static void page_walk(X86Cpu *c, uint64_t lin, unsigned acc, Walk *w)
{
    bool write = acc & ACC_WRITE;
    bool user = acc & ACC_USER;
    bool fetch = acc & ACC_FETCH;
    uint64_t pde_addr, pte_addr = 0;
    uint64_t pde, pte = 0;
    memset(w, 0, sizeof(*w));

    if (x86_ia32e(c)) {
        uint64_t addr[4], ent[4];
        unsigned leaf = walk_ia32e(c, lin, acc, w, addr, ent);
        if (user && !w->us)
            page_fault(c, lin, acc, PF_P);
        if (write && !w->rw && (user || (c->cr0 & X86_CR0_WP)))
            page_fault(c, lin, acc, PF_P);
        if (fetch && w->nx)
            page_fault(c, lin, acc, PF_P);
        for (unsigned level = 4; level >= leaf; level--)
            entry_update(c, addr[level - 1], ent[level - 1], write && level == leaf);
        if (write)
            w->dirty = true;
        return;
    }

    if (c->cr4 & X86_CR4_PAE) {
        bool nxe = c->efer & X86_EFER_NXE;
        uint64_t rsvd = PAE_RSVD_HIGH | (nxe ? 0 : PTE_XD);
        uint64_t pdpte = c->pdpte[lin >> 30];
        if (!(pdpte & PTE_P))
            page_fault(c, lin, acc, 0);
        pde_addr = (pdpte & PAE_ADDR_MASK) + ((lin >> 21) & 0x1ff) * 8;
        pde = x86_phys_ld64(c, pde_addr);
        if (!(pde & PTE_P))
            page_fault(c, lin, acc, 0);
        if (pde & rsvd)
            page_fault(c, lin, acc, PF_P | PF_RSVD);
        w->rw = pde & PTE_RW;
        w->us = pde & PTE_US;
        w->nx = nxe && (pde & PTE_XD);
        if (pde & PTE_PS) {
            if (pde & 0x1fe000) /* bits 20:13 of a 2 MiB entry */
                page_fault(c, lin, acc, PF_P | PF_RSVD);
            w->large = true;
            w->phys = (pde & PAE_ADDR_MASK & ~UINT64_C(0x1fffff)) | (lin & 0x1ff000);
            w->global = (pde & PTE_G) && (c->cr4 & X86_CR4_PGE);
            w->dirty = pde & PTE_D;
        } else {
            pte_addr = (pde & PAE_ADDR_MASK) + ((lin >> 12) & 0x1ff) * 8;
            pte = x86_phys_ld64(c, pte_addr);
            if (!(pte & PTE_P))
                page_fault(c, lin, acc, 0);
            if (pte & rsvd)
                page_fault(c, lin, acc, PF_P | PF_RSVD);
            w->rw = w->rw && (pte & PTE_RW);
            w->us = w->us && (pte & PTE_US);
            w->nx = w->nx || (nxe && (pte & PTE_XD));
            w->phys = pte & PAE_ADDR_MASK;
            w->global = (pte & PTE_G) && (c->cr4 & X86_CR4_PGE);
            w->dirty = pte & PTE_D;
        }
    } else {
        pde_addr = (c->cr3 & ~0xfffu) | ((lin >> 22) << 2);
        pde = x86_phys_ld32(c, pde_addr);
        if (!(pde & PTE_P))
            page_fault(c, lin, acc, 0);
        w->rw = pde & PTE_RW;
        w->us = pde & PTE_US;
        if ((pde & PTE_PS) && (c->cr4 & X86_CR4_PSE)) {
            /* Without PSE-36, bits 21:13 of a 4 MiB entry are reserved. */
            if (pde & 0x3fe000)
                page_fault(c, lin, acc, PF_P | PF_RSVD);
            w->large = true;
            w->phys = (pde & 0xffc00000u) | (lin & 0x3ff000);
            w->global = (pde & PTE_G) && (c->cr4 & X86_CR4_PGE);
            w->dirty = pde & PTE_D;
        } else {
            pte_addr = (pde & ~0xfffu) | (((lin >> 12) & 0x3ff) << 2);
            pte = x86_phys_ld32(c, pte_addr);
            if (!(pte & PTE_P))
                page_fault(c, lin, acc, 0);
            w->rw = w->rw && (pte & PTE_RW);
            w->us = w->us && (pte & PTE_US);
            w->phys = pte & ~0xfffu;
            w->global = (pte & PTE_G) && (c->cr4 & X86_CR4_PGE);
            w->dirty = pte & PTE_D;
        }
    }

    /* Permissions (SDM vol. 3, 4.6). */
    if (user && !w->us)
        page_fault(c, lin, acc, PF_P);
    if (write && !w->rw && (user || (c->cr0 & X86_CR0_WP)))
        page_fault(c, lin, acc, PF_P);
    if (fetch && w->nx)
        page_fault(c, lin, acc, PF_P);

    /* Accessed and dirty bits, set only on a successful translation. */
    if (!(pde & PTE_A) || (w->large && write && !(pde & PTE_D))) {
        uint32_t nv = (uint32_t)pde | PTE_A | (w->large && write ? PTE_D : 0);
        x86_phys_st32(c, pde_addr, nv);
    }
    if (!w->large && (!(pte & PTE_A) || (write && !(pte & PTE_D)))) {
        uint32_t nv = (uint32_t)pte | PTE_A | (write ? PTE_D : 0);
        x86_phys_st32(c, pte_addr, nv);
    }
    if (write)
        w->dirty = true;
}

/* The translator's probe compares the page of an access's last byte with the tag of
 * its first byte's entry (cpu/jit/tr-mem.c): a page whose predecessor has the same
 * index (bits 12-19 zero, bits 20-27 zero or 80h) gets no fast tags, so that an access
 * crossing into it never matches. Page 0 follows the last page only for 64-bit
 * addresses, which wrap (its index is the last page's, 0): in IA-32e mode it gets no
 * fast tags either, outside it (real mode's vectors and BIOS data) it does. LMA
 * changes only with CR0.PG, which flushes the TLB (x86_write_cr0). */
static bool tlb_fast_page(const X86Cpu *c, uint64_t page)
{
    if (page == 0)
        return !(c->efer & X86_EFER_LMA);
    return x86_tlb_index(page - MEM_PAGE_SIZE) != x86_tlb_index(page);
}

/* No fast tag for a non-canonical page (every access to it faults, SDM vol. 3,
 * 3.3.7.1): translated 64-bit code leaves the canonical test to the tag compare
 * (cpu/jit/tr-64.c's probe). */
static inline bool page_canonical(uint64_t page)
{
    return (uint64_t)((int64_t)(page << 16) >> 16) == page;
}

/* What an access needs of its entry's perm. */
static unsigned tlb_need(unsigned acc)
{
    return (acc & ACC_WRITE) ? TLB_PERM_W : (acc & ACC_FETCH) ? TLB_PERM_X : TLB_PERM_R;
}

X86Tlb *x86_tlb_fill(X86Cpu *c, uint64_t lin, unsigned acc)
{
    bool user = acc & ACC_USER;
    unsigned k = x86_tlb_index(lin);
    X86Tlb *e = &(user ? c->tlb_user : c->tlb_sup)[k];
    c->tlb_used[user][k / 64] |= UINT64_C(1) << (k % 64);
    X86Tlb *old = e + TLB_SIZE;
    uint64_t page = lin & ~UINT64_C(0xfff);
    /* The page way 1 kept, if it allows the access, swaps with way 0 (its walk set
     * the accessed and dirty bits that perm stands for): no walk. */
    if (old->page == page && (old->perm & tlb_need(acc))) {
        X86Tlb tmp = *e;
        *e = *old;
        *old = tmp;
        c->stats.tlb_way1_hits++;
        return e;
    }
    /* Otherwise a walk into way 0. One copy of a page per set: way 1's, with too
     * few rights, goes. Way 0's page, if it holds another, moves to way 1; if it
     * holds this one, it is refilled in place. */
    if (old->page == page)
        tlb_entry_clear(c, old);
    if (e->page == page) {
        tlb_drop_write(c, e);
    } else if (e->page != TLB_INVALID) {
        tlb_drop_write(c, old);
        *old = *e;
    }
    c->stats.tlb_walks++;
    Walk w;
    if (c->paging) {
        page_walk(c, lin, acc, &w);
    } else {
        memset(&w, 0, sizeof(w));
        w.phys = page;
        w.rw = w.us = w.dirty = true;
    }
    uint64_t phys = w.phys & c->a20_mask;
    unsigned perm = TLB_PERM_R;
    bool may_write = user ? w.rw : (w.rw || !(c->cr0 & X86_CR0_WP));
    if (may_write && w.dirty)
        perm |= TLB_PERM_W;
    if (!w.nx)
        perm |= TLB_PERM_X;
    e->page = page;
    e->phys = phys;
    e->perm = (uint8_t)perm;
    e->global = (w.global ? 1 : 0) | (w.large ? 2 : 0) | (w.huge ? 4 : 0);

    uint8_t *hr = mem_read_page(c->mem, phys);
    bool canon = page_canonical(page);
    bool fast = canon && tlb_fast_page(c, page);
    e->tag_r = hr && fast ? page : TLB_INVALID;
    e->tag_x = hr && canon && (perm & TLB_PERM_X) ? page : TLB_INVALID;
    e->add_r = (uintptr_t)hr - page;
    uint8_t *hw = mem_write_page(c->mem, phys);
    e->tag_w = TLB_INVALID;
    e->add_w = (uintptr_t)hw - page;
    if (hw && fast && (perm & TLB_PERM_W) && page_may_write_directly(c, phys)) {
        if (mem_page_flags(c->mem, phys) & MEM_PAGE_DIRTY_LOG) {
            /* Handing out a direct write pointer: the page counts as written now. */
            MemRegion *r = mem_dirty_region_at(c->mem, phys);
            if (r)
                mem_region_mark_dirty(r, phys - mem_region_base(r), MEM_PAGE_SIZE);
        }
        e->tag_w = page;
    }
    return e;
}

/* The TLB entry for an access, walking the page tables when it is not cached. */
static X86Tlb *tlb_lookup(X86Cpu *c, uint64_t lin, unsigned acc)
{
    bool user = acc & ACC_USER;
    X86Tlb *e = &(user ? c->tlb_user : c->tlb_sup)[x86_tlb_index(lin)];
    if (e->page == (lin & ~UINT64_C(0xfff)) && (e->perm & tlb_need(acc)))
        return e;
    return x86_tlb_fill(c, lin, acc);
}

/* ---- slow paths of guest memory access ---- */

static void alignment_check(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc)
{
    if (c->ac_check && (acc & ACC_USER) && (lin & (size - 1)) && c->cpl == 3)
        x86_fault_err(c, X86_EXC_AC, 0);
}

/* One access that stays inside a page. */
static uint64_t load_in_page(X86Cpu *c, const X86Tlb *e, uint64_t lin, unsigned size)
{
    uint64_t pa = e->phys | (lin & 0xfff);
    uint8_t *h = mem_read_page(c->mem, e->phys);
    if (h) {
        uint64_t v = 0;
        memcpy(&v, h + (lin & 0xfff), size);
        return v;
    }
    return vcpu_mmio_read(c->v, pa, size);
}

static void store_in_page(X86Cpu *c, const X86Tlb *e, uint64_t lin, unsigned size, uint64_t v)
{
    uint64_t pa = e->phys | (lin & 0xfff);
    /* Overwritten code is possibly the next instruction of this block: stop after
     * this one. */
    if (phys_store(c, pa, size, v))
        c->exit_block = 1;
}

static uint64_t load_any(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc)
{
    alignment_check(c, lin, size, acc);
    unsigned in_first = 0x1000 - (lin & 0xfff);
    uint64_t v;
    if (in_first >= size) {
        v = load_in_page(c, tlb_lookup(c, lin, acc), lin, size);
    } else {
        /* Both pages are translated before any byte is read. */
        uint64_t lin2 = lin + in_first;
        X86Tlb t1 = *tlb_lookup(c, lin, acc);
        X86Tlb *e2 = tlb_lookup(c, lin2, acc);
        uint64_t lo = load_in_page(c, &t1, lin, in_first);
        uint64_t hi = load_in_page(c, e2, lin2, size - in_first);
        v = lo | (hi << (8 * in_first));
    }
    if (c->data_bp)
        x86_check_data_bp(c, lin, size, false);
    return v;
}

/* A page that stopped holding code (or was filled for reading first) gets its direct
 * write pointer back, so later stores take the fast path. */
static void tlb_enable_write(X86Cpu *c, X86Tlb *e)
{
    if (e->tag_w != TLB_INVALID || !(e->perm & TLB_PERM_W) || !page_canonical(e->page) ||
        !tlb_fast_page(c, e->page) || !page_may_write_directly(c, e->phys))
        return;
    uint8_t *hw = mem_write_page(c->mem, e->phys);
    if (!hw)
        return;
    if (mem_page_flags(c->mem, e->phys) & MEM_PAGE_DIRTY_LOG) {
        MemRegion *r = mem_dirty_region_at(c->mem, e->phys);
        if (r)
            mem_region_mark_dirty(r, e->phys - mem_region_base(r), MEM_PAGE_SIZE);
    }
    e->add_w = (uintptr_t)hw - e->page;
    e->tag_w = e->page;
}

static void store_any(X86Cpu *c, uint64_t lin, unsigned size, uint64_t v, unsigned acc)
{
    alignment_check(c, lin, size, acc);
    unsigned in_first = 0x1000 - (lin & 0xfff);
    if (in_first >= size) {
        X86Tlb *e = tlb_lookup(c, lin, acc | ACC_WRITE);
        store_in_page(c, e, lin, size, v);
        tlb_enable_write(c, e);
    } else {
        uint64_t lin2 = lin + in_first;
        X86Tlb t1 = *tlb_lookup(c, lin, acc | ACC_WRITE);
        X86Tlb *e2 = tlb_lookup(c, lin2, acc | ACC_WRITE);
        store_in_page(c, &t1, lin, in_first, v);
        store_in_page(c, e2, lin2, size - in_first, v >> (8 * in_first));
    }
    if (c->data_bp)
        x86_check_data_bp(c, lin, size, true);
}

uint32_t x86_ld_slow(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc)
{
    return (uint32_t)load_any(c, lin, size, acc);
}

void x86_st_slow(X86Cpu *c, uint64_t lin, unsigned size, uint32_t val, unsigned acc)
{
    store_any(c, lin, size, val, acc);
}

uint64_t x86_ld64_slow(X86Cpu *c, uint64_t lin, unsigned acc)
{
    return load_any(c, lin, 8, acc);
}

void x86_st64_slow(X86Cpu *c, uint64_t lin, uint64_t val, unsigned acc)
{
    store_any(c, lin, 8, val, acc);
}

uint8_t *x86_wptr_slow(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc)
{
    alignment_check(c, lin, size, acc);
    unsigned in_first = 0x1000 - (lin & 0xfff);
    X86Tlb *e = tlb_lookup(c, lin, acc | ACC_WRITE);
    if (in_first < size) {
        tlb_lookup(c, lin + in_first, acc | ACC_WRITE);
        return NULL;
    }
    if (c->data_bp)
        return NULL;
    if (e->tag_w == (lin & ~UINT64_C(0xfff)) && !(c->ac_check && (acc & ACC_USER)))
        return (uint8_t *)(e->add_w + lin);
    return NULL;
}

/* (System-structure addresses are 64-bit in IA-32e mode, compatibility mode too;
 * they wrap at 4 GiB outside it.) */
uint32_t x86_ld_sys(X86Cpu *c, uint64_t lin, unsigned size)
{
    if (!x86_ia32e(c))
        lin = (uint32_t)lin;
    const X86Tlb *e = &c->tlb_sup[x86_tlb_index(lin)];
    if (e->tag_r == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - size && !c->data_bp)
        return x86_ldn((const uint8_t *)(e->add_r + lin), size);
    return (uint32_t)load_any(c, lin, size, ACC_READ);
}

void x86_st_sys(X86Cpu *c, uint64_t lin, unsigned size, uint32_t v)
{
    if (!x86_ia32e(c))
        lin = (uint32_t)lin;
    const X86Tlb *e = &c->tlb_sup[x86_tlb_index(lin)];
    if (e->tag_w == (lin & ~UINT64_C(0xfff)) && (lin & 0xfff) <= 0x1000 - size && !c->data_bp) {
        x86_stn((uint8_t *)(e->add_w + lin), size, v);
        return;
    }
    store_any(c, lin, size, v, ACC_WRITE);
}

void x86_probe(X86Cpu *c, uint64_t lin, unsigned size, unsigned acc)
{
    uint64_t last = lin + size - 1;
    tlb_lookup(c, lin, acc);
    if ((last & ~UINT64_C(0xfff)) != (lin & ~UINT64_C(0xfff)))
        tlb_lookup(c, last, acc);
}

/* Blocks of up to 512 bytes (x87 environments and saves, FXSAVE, m80, m128): both
 * pages are translated before the first byte moves, so a #PF leaves nothing done. */
void x86_read_block(X86Cpu *c, unsigned seg, uint64_t off, void *buf, unsigned size)
{
    uint64_t lin = x86_lin(c, seg, off, size, SEG_OK_READ);
    x86_probe(c, lin, size, c->acc_user);
    uint8_t *p = buf;
    unsigned n = 0;
    for (; n + 4 <= size; n += 4) {
        uint32_t v = x86_ld_lin(c, lin + n, 4);
        memcpy(p + n, &v, 4);
    }
    for (; n < size; n++)
        p[n] = (uint8_t)x86_ld_lin(c, lin + n, 1);
}

void x86_write_block(X86Cpu *c, unsigned seg, uint64_t off, const void *buf, unsigned size)
{
    uint64_t lin = x86_lin(c, seg, off, size, SEG_OK_WRITE);
    x86_probe(c, lin, size, c->acc_user | ACC_WRITE);
    const uint8_t *p = buf;
    unsigned n = 0;
    for (; n + 4 <= size; n += 4) {
        uint32_t v;
        memcpy(&v, p + n, 4);
        x86_st_lin(c, lin + n, 4, v);
    }
    for (; n < size; n++)
        x86_st_lin(c, lin + n, 1, p[n]);
}

/* ---- the debugger's view ---- */

/* A paging-structure entry in RAM (the debugger must not reach devices: reading MMIO
 * can have side effects, and the engine lock is held). */
static bool debug_pte(X86Cpu *c, uint64_t pa, unsigned size, uint64_t *out)
{
    pa &= c->a20_mask;
    const uint8_t *h = mem_read_page(c->mem, pa);
    if (!h || (pa & 0xfff) + size > 0x1000)
        return false;
    uint64_t v = 0;
    memcpy(&v, h + (pa & 0xfff), size);
    *out = v;
    return true;
}

/* The same walk as page_walk (SDM vol. 3, 4.3 and 4.4) for any privilege and without
 * accessed/dirty updates or faults. */
bool x86_cpu_debug_translate(X86Cpu *c, uint64_t lin, uint64_t *phys)
{
    /* Linear addresses beyond 32 bits exist only in IA-32e mode. */
    if (lin > UINT32_MAX && !x86_ia32e(c))
        return false;
    if (!c->paging) {
        *phys = lin & c->a20_mask;
        return true;
    }
    uint64_t pde, pte;
    if (x86_ia32e(c)) {
        uint64_t table = c->cr3 & PAE_ADDR_MASK;
        for (unsigned level = 4; level >= 1; level--) {
            unsigned shift = 12 + 9 * (level - 1);
            uint64_t e;
            if (!debug_pte(c, table + (((uint64_t)lin >> shift) & 0x1ff) * 8, 8, &e) || !(e & PTE_P))
                return false;
            bool ps_ok = level == 2 || (level == 3 && (c->model->ext_edx & CPUID_EXT_PDPE1GB));
            if (level == 1 || (ps_ok && (e & PTE_PS))) {
                uint64_t size_mask = (UINT64_C(1) << shift) - 1;
                *phys = ((e & PAE_ADDR_MASK & ~size_mask) | (lin & size_mask)) & c->a20_mask;
                return true;
            }
            table = e & PAE_ADDR_MASK;
        }
        return false;
    }
    if (c->cr4 & X86_CR4_PAE) {
        uint64_t pdpte = c->pdpte[lin >> 30];
        if (!(pdpte & PTE_P) || !debug_pte(c, (pdpte & PAE_ADDR_MASK) + ((lin >> 21) & 0x1ff) * 8, 8, &pde) ||
            !(pde & PTE_P))
            return false;
        if (pde & PTE_PS) {
            *phys = ((pde & PAE_ADDR_MASK & ~UINT64_C(0x1fffff)) | (lin & 0x1fffff)) & c->a20_mask;
            return true;
        }
        if (!debug_pte(c, (pde & PAE_ADDR_MASK) + ((lin >> 12) & 0x1ff) * 8, 8, &pte) || !(pte & PTE_P))
            return false;
        *phys = ((pte & PAE_ADDR_MASK) | (lin & 0xfff)) & c->a20_mask;
        return true;
    }
    if (!debug_pte(c, (c->cr3 & ~0xfffu) | ((lin >> 22) << 2), 4, &pde) || !(pde & PTE_P))
        return false;
    if ((pde & PTE_PS) && (c->cr4 & X86_CR4_PSE)) {
        *phys = ((pde & 0xffc00000u) | (lin & 0x3fffff)) & c->a20_mask;
        return true;
    }
    if (!debug_pte(c, (pde & ~0xfffu) | (((lin >> 12) & 0x3ff) << 2), 4, &pte) || !(pte & PTE_P))
        return false;
    *phys = ((pte & ~0xfffu) | (lin & 0xfff)) & c->a20_mask;
    return true;
}

/* ---- locked operations (SDM vol. 3, 8.1.2) ---- */

uint8_t *x86_atomic_ptr(X86Cpu *c, uint64_t lin, unsigned size, uint64_t *pa)
{
    unsigned acc = c->acc_user | ACC_WRITE;
    alignment_check(c, lin, size, acc);
    if (0x1000 - (lin & 0xfff) < size)
        return NULL;
    X86Tlb *e = tlb_lookup(c, lin, acc);
    *pa = e->phys | (lin & 0xfff);
    uint8_t *h = mem_write_page(c->mem, *pa);
    if (!h)
        return NULL;
    if (c->data_bp)
        x86_check_data_bp(c, lin, size, true);
    return h + (*pa & 0xfff);
}

/* As phys_store does after a plain store: a vCPU that marks the page after the atomic
 * write finds the new bytes, one that marked it before gets the report. */
void x86_atomic_report(X86Cpu *c, uint64_t pa, unsigned size)
{
    if (store_report(c, pa, size))
        c->exit_block = 1;
}

bool x86_locked_add_slow(X86Cpu *c, uint64_t lin, unsigned size, uint64_t v, uint64_t *old)
{
    uint64_t pa;
    uint8_t *h = x86_atomic_ptr(c, lin, size, &pa);
    if (!h)
        return false;
    *old = x86_fetch_add(h, size, v);
    x86_atomic_report(c, pa, size);
    return true;
}

uint64_t x86_rmw_make_atomic(X86Cpu *c, X86Rmw *r, unsigned size)
{
    uint8_t *h = r->host;
    r->report = !h;
    if (!h)
        h = x86_atomic_ptr(c, r->lin, size, &r->pa);
    if (!h) {
        /* A split or MMIO operand: read again with every other vCPU stopped (the
         * translation is done, so nothing between here and x86_rmw_end faults). */
        vcpu_exclusive_begin(c->v);
        r->atomic = 2;
        return size == 8 ? x86_ld64_slow(c, r->lin, c->acc_user) : x86_ld_slow(c, r->lin, size, c->acc_user);
    }
    r->host = h;
    r->atomic = 1;
    switch (size) {
    case 1: r->old = __atomic_load_n(h, __ATOMIC_SEQ_CST); break;
    case 2: r->old = __atomic_load_n((uint16_t *)(void *)h, __ATOMIC_SEQ_CST); break;
    case 4: r->old = __atomic_load_n((uint32_t *)(void *)h, __ATOMIC_SEQ_CST); break;
    default: r->old = __atomic_load_n((uint64_t *)(void *)h, __ATOMIC_SEQ_CST); break;
    }
    r->saved_cc[0] = c->cc_op;
    r->saved_cc[1] = c->cc_res;
    r->saved_cc[2] = c->cc_src1;
    r->saved_cc[3] = c->cc_src2;
    r->saved_cc[4] = c->eflags;
    r->saved_cc[5] = c->cc_res_hi;
    r->saved_cc[6] = c->cc_src1_hi;
    r->saved_cc[7] = c->cc_src2_hi;
    return r->old;
}

/* A compare-and-swap over the computed result: a plain store another vCPU made since
 * the read (a spinlock's release) makes it fail instead of being overwritten. */
bool x86_rmw_end_atomic(X86Cpu *c, X86Rmw *r, unsigned size, uint64_t v)
{
    if (r->atomic == 2) {
        if (size == 8)
            x86_st64_slow(c, r->lin, v, c->acc_user | ACC_WRITE);
        else
            x86_st_slow(c, r->lin, size, (uint32_t)v, c->acc_user | ACC_WRITE);
        vcpu_exclusive_end(c->v);
        return true;
    }
    bool ok;
    switch (size) {
    case 1: {
        uint8_t want = (uint8_t)r->old;
        ok = __atomic_compare_exchange_n(r->host, &want, (uint8_t)v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        r->old = want;
        break;
    }
    case 2: {
        uint16_t want = (uint16_t)r->old;
        ok = __atomic_compare_exchange_n((uint16_t *)(void *)r->host, &want, (uint16_t)v, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
        r->old = want;
        break;
    }
    case 4: {
        uint32_t want = (uint32_t)r->old;
        ok = __atomic_compare_exchange_n((uint32_t *)(void *)r->host, &want, (uint32_t)v, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
        r->old = want;
        break;
    }
    default: {
        uint64_t want = r->old;
        ok = __atomic_compare_exchange_n((uint64_t *)(void *)r->host, &want, v, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
        r->old = want;
        break;
    }
    }
    if (!ok) {
        c->cc_op = r->saved_cc[0];
        c->cc_res = r->saved_cc[1];
        c->cc_src1 = r->saved_cc[2];
        c->cc_src2 = r->saved_cc[3];
        c->eflags = r->saved_cc[4];
        c->cc_res_hi = r->saved_cc[5];
        c->cc_src1_hi = r->saved_cc[6];
        c->cc_src2_hi = r->saved_cc[7];
    } else if (r->report) {
        x86_atomic_report(c, r->pa, size);
    }
    return ok;
}
