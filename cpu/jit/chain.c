/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Block chaining (design in README.md, "Block chaining"): chainable exits with their
 * guard, emitted into each block, run_block's linking of an exit to the block that
 * followed it, and the lookup table (with its routine) for exits whose target keeps
 * changing and for indirect jumps. */
#include "cpu/jit/translate.h"
#include "engine/log.h"
#include "engine/vcpu.h"

#include <string.h>

/* The guards test these as one 64-bit word. */
_Static_assert(offsetof(X86Cpu, halted) % 8 == 0 && offsetof(X86Cpu, intr_shadow) == offsetof(X86Cpu, halted) + 1 &&
                   offsetof(X86Cpu, code_bp) == offsetof(X86Cpu, halted) + 2 &&
                   offsetof(X86Cpu, budget) == offsetof(X86Cpu, halted) + 3 &&
                   offsetof(X86Cpu, pending_dr6) == offsetof(X86Cpu, halted) + 4 && sizeof(((X86Cpu *)0)->pending_dr6) == 4,
               "halted, intr_shadow, code_bp, budget, pending_dr6: one 64-bit word");

static size_t emit_movabs(JitEmit *e, int r, uint64_t v)
{
    emit_u8(e, (uint8_t)(0x48 | ((r & 8) ? 1 : 0)));
    emit_u8(e, (uint8_t)(0xb8 + (r & 7)));
    size_t at = emit_pos(e);
    emit_u64(e, v);
    return at;
}

/* CMP r/m32, imm32 with the immediate's offset returned (always the long form, so
 * run_block can patch any value in). */
static size_t emit_cmp_imm32_rr(JitEmit *e, int r)
{
    emit_op_rr(e, 4, 0x81, 7, r);
    size_t at = emit_pos(e);
    emit_u32(e, 0);
    return at;
}

/* Vcpu.requests as an operand: from RBX (the X86Cpu) when the two are within 2 GiB,
 * as they are when allocated together; else through RCX. */
static JitMem requests_mem(JitEmit *e, X86Cpu *c)
{
    intptr_t d = (intptr_t)&c->v->requests - (intptr_t)c;
    if (d >= INT32_MIN && d <= INT32_MAX)
        return jm(H_RBX, (int32_t)d);
    emit_movabs(e, H_RCX, (uint64_t)(uintptr_t)&c->v->requests);
    return jm(H_RCX, 0);
}

JitEventTests jit_emit_event_tests(Tr *t)
{
    JitEmit *e = &t->e;
    JitEventTests ev;
    ev.reqm = requests_mem(e, t->c);
    emit_alu_mi(e, 4, ALU_CMP, ev.reqm, 0);
    ev.req = emit_jcc_fwd(e, HC_NE);
    ev.req_done = emit_pos(e);
    emit_alu_mi(e, 8, ALU_CMP, CPU(halted), 0);
    ev.word = emit_jcc_fwd(e, HC_NE);
    return ev;
}

void jit_emit_intr_alone(Tr *t, const JitEventTests *ev, size_t fail[2])
{
    JitEmit *e = &t->e;
    emit_patch(e, ev->req, emit_pos(e));
    emit_alu_mi(e, 4, ALU_CMP, ev->reqm, VCPU_REQ_INTR);
    fail[0] = emit_jcc_fwd(e, HC_NE);
    emit_op_rm(e, 4, 0xf7, 0, CPU(eflags)); /* TEST [eflags], IF */
    emit_u32(e, X86_FL_IF);
    fail[1] = emit_jcc_fwd(e, HC_NE);
    emit_jmp_to(e, ev->req_done);
}

/* EAX = the next EIP of an exit that left it to be computed (delta known), and
 * c->eip: what the ways back to C need (the way into the next block needs
 * neither: its code computes EIPs from block_eip, its handler calls store EIP). */
static void exit_eip(Tr *t, int64_t delta, bool eax)
{
    if (!eax)
        eip_to_reg_w(t, eip_size(t), H_RAX, (int32_t)delta);
    emit_store(&t->e, eip_size(t), CPU(eip), H_RAX);
}

/* Leaves the block after count instructions through a chainable exit: a JMP that
 * run_block points at the guard once it knows the block that follows. The next EIP
 * is the entry EIP + delta, computed here where needed, or with delta unknown, EAX
 * (eax: EAX holds it anyway). The guard checks everything the dispatcher would
 * between the two blocks (same linear address, chain epoch and page version as when
 * linked; no pending request, HLT, debug trap, interrupt shadow, TF/RF, breakpoint
 * or exec trace; the budget holds the next block whole), does the dispatcher's
 * bookkeeping and jumps into the next block's body. Anything else: unlinked, with
 * c->eip stored. */
void jit_exit_chained(Tr *t, unsigned count, bool own_stub, int64_t delta, bool eax)
{
    JitEmit *e = &t->e;
    /* Quiet: no handler can have run in this block before the exit (none called, and
     * no slow path except the exiting instruction's own, which leaves elsewhere), so
     * HLT, the interrupt shadow, TF and RF are as the dispatcher last saw them: clear. */
    bool quiet = !t->called;
    for (unsigned k = 0; k < t->nstubs; k++)
        if (!own_stub || t->stubs[k].k + 1 != count)
            quiet = false;
    /* Calm: no handler called, though slow paths may have run. Those are the
     * handlers of inline forms (moves, ALU ops, the stack) redoing an access: they
     * fault (and leave elsewhere) or load no segment, change no CPL, paging state,
     * TLB, TF or RF; a store of theirs into code sets exit_block, so the block
     * leaves right after it. What they may still have done is make a device write
     * memory (MMIO that starts DMA), so the page version is tested after them. */
    bool calm = !t->called;
    /* Every guest register at home, as the next block's body expects them (what the
     * cache holds newer than c->regs stays there: written back only if the exit
     * returns to the dispatcher). */
    jit_rc_leave(t);
    /* A loop counter's deferred flags (PEND_INCDEC32, tr-alu.c): the block needs none
     * of them to go round again, so an exit back to its own entry stores them only
     * where it leaves for the dispatcher or the lookup table; any other exit here. */
    FlagPend loop = t->pend;
    bool loop_flags = loop.kind == PEND_INCDEC32;
    /* A quiet exit to the linear page the block was entered at (EAX = entry EIP +
     * delta, and a linear address's page offset is its physical one, so the block's
     * entry offset is known): that page's mapping, CPL and CS are as the guard or the
     * dispatcher that let the block run checked them, so the guard skips those. */
    int64_t entry_off = (t->c->seg[S_CS].base + t->c->eip) & 0xfff;
    bool same_page = calm && delta != JIT_DELTA_UNKNOWN && entry_off + delta >= 0 && entry_off + delta < 0x1000;
    /* (An exit back to the entry, below; the loop's flags only off its way round.) */
    if (loop_flags && !(same_page && delta == 0 && emit_pos(e) <= UINT16_MAX && !t->j->no_chain)) {
        jit_flags_store(t, &loop, t->rc.host);
        loop_flags = false;
    }
    JitSite site = { 0 };
    size_t start = emit_pos(e);
    /* A quiet exit back to the block's own entry (a loop of one block: EAX = entry
     * EIP, CS unchanged) reaches the block it is part of, at the address it was
     * entered at: no linear address test, and block_eip and block_start already
     * hold the next block's values. run_block links it only to this very
     * block (JitSite.home). */
    bool self = same_page && delta == 0 && start <= UINT16_MAX && !t->j->no_chain;
    eax = eax || delta == JIT_DELTA_UNKNOWN;
    if (t->j->no_chain) {
        exit_eip(t, delta, eax);
        jit_rc_writeback(t);
        jit_exit_with(t, count);
        return;
    }
    /* Any other calm exit to a known place in the block's page reaches the linear
     * address the block was entered at plus delta (CS unchanged; 32- and 64-bit EIP
     * arithmetic wraps as linear addresses do, 16-bit EIP does not): no linear
     * address test either. A block is found by its physical address, so entered
     * through another mapping of its page it has the same successor. */
    bool fixed = same_page && !self && (t->w64 || t->c->code32);
    site.fixed = fixed;
    site.home = (uint16_t)start;
    size_t entry = emit_jmp_fwd(e);
    emit_patch(e, entry, emit_pos(e));
    /* Unlinked: c->regs brought up to date, tell run_block where we left, return. */
    size_t unlinked = emit_pos(e);
    if (loop_flags)
        jit_flags_store(t, &loop, t->rc.host); /* (ECX only: EAX may be the next EIP) */
    jit_rc_writeback(t);
    exit_eip(t, delta, eax);
    size_t info_field = emit_movabs(e, H_RCX, 0);
    emit_movabs(e, H_RDX, (uint64_t)(uintptr_t)&t->j->link);
    emit_store(e, 8, jm(H_RDX, (int32_t)offsetof(JitLink, site)), H_RCX);
    if (!t->w64)
        emit_mov_rr(e, 4, H_RAX, H_RAX); /* (zero-extends: JitLink.eip is 64-bit) */
    emit_store(e, 8, jm(H_RDX, (int32_t)offsetof(JitLink, eip)), H_RAX);
    emit_load(e, 4, H_RCX, CPU(chain_epoch));
    emit_store(e, 4, jm(H_RDX, (int32_t)offsetof(JitLink, epoch)), H_RCX);
    emit_movabs(e, H_RCX, (uint64_t)(uintptr_t)&t->c->v->requests);
    emit_load(e, 4, H_RCX, jm(H_RCX, 0));
    emit_store(e, 4, jm(H_RDX, (int32_t)offsetof(JitLink, req)), H_RCX);
    jit_exit_with(t, count);
    /* For when the target keeps changing: the lookup table instead. */
    site.lookup = (uint16_t)(emit_pos(e) - start);
    if (loop_flags)
        jit_flags_store(t, &loop, t->rc.host);
    if (!eax)
        eip_to_reg_w(t, eip_size(t), H_RAX, (int32_t)delta); /* (the routine stores c->eip) */
    emit_mov_ri32(e, H_R13, count);
    emit_u8(e, 0xe9);
    emit_u32(e, (uint32_t)((t->w64 ? t->j->ib_routine64 : t->j->ib_routine) - (e->rx + emit_pos(e) + 4)));

    site.wide = t->w64;
    site.guard = (uint16_t)(emit_pos(e) - start);
    if (!self && !fixed) {
        /* The linear address test (an exit to another page, or from 16-bit code),
         * on the next EIP in EAX from here on. */
        if (!eax)
            eip_to_reg_w(t, eip_size(t), H_RAX, (int32_t)delta);
        eax = true;
        if (t->w64) {
            /* (CS has base 0 in 64-bit mode: the linear address is RIP.) */
            site.lin = (uint16_t)(emit_movabs(e, H_RCX, 0) - start);
            emit_alu_rr(e, 8, ALU_CMP, H_RCX, H_RAX);
        } else {
            emit_mov_rr(e, 4, H_RCX, H_RAX);
            emit_alu_rm(e, 4, ALU_ADD, H_RCX, CPU_AT(seg, sizeof(X86Seg) * S_CS + offsetof(X86Seg, base)));
            site.lin = (uint16_t)(emit_cmp_imm32_rr(e, H_RCX) - start);
        }
        emit_jcc_to(e, HC_NE, unlinked);
    }
    if (!same_page) {
    /* The target's page as block_get found it: CS as linked (link_epoch), and the
     * instruction TLB of the CPL (3 or not) still holding the page at the same
     * physical address. A CR3 load keeps the links into global pages; any other link
     * fails once after a flush and the dispatcher refills the entry (jit_itlb_fill). */
    emit_op_rm(e, 4, 0x81, 7, CPU(link_epoch));
    site.epoch = (uint16_t)(emit_pos(e) - start);
    emit_u32(e, 0);
    emit_jcc_to(e, HC_NE, unlinked);
    emit_op_rm(e, 4, 0x81, 7, CPU(acc_user));
    site.acc = (uint16_t)(emit_pos(e) - start);
    emit_u32(e, 0);
    emit_jcc_to(e, HC_NE, unlinked);
    site.tlbe = (uint16_t)(emit_movabs(e, H_RCX, 0) - start);
    /* The whole 64-bit page: a 32-bit page never matches the entry of a 64-bit one
     * whose low half agrees. */
    if (t->w64) {
        site.lin_page = (uint16_t)(emit_movabs(e, H_RDX, 0) - start);
    } else {
        emit_u8(e, 0xba); /* MOV EDX, imm32 (zero-extends) */
        site.lin_page = (uint16_t)(emit_pos(e) - start);
        emit_u32(e, 0);
    }
    emit_alu_rm(e, 8, ALU_CMP, H_RDX, jm(H_RCX, (int32_t)offsetof(X86Itlb, page)));
    emit_jcc_to(e, HC_NE, unlinked);
    site.phys = (uint16_t)(emit_movabs(e, H_RDX, 0) - start);
    emit_alu_rm(e, 8, ALU_CMP, H_RDX, jm(H_RCX, (int32_t)offsetof(X86Itlb, phys)));
    emit_jcc_to(e, HC_NE, unlinked);
    }
    if (!same_page || !quiet) {
        site.vptr = (uint16_t)(emit_movabs(e, H_RCX, 0) - start);
        emit_op_rm(e, 4, 0x81, 7, jm(H_RCX, 0));
        site.version = (uint16_t)(emit_pos(e) - start);
        emit_u32(e, 0);
        emit_jcc_to(e, HC_NE, unlinked);
    }
    /* (A quiet exit within its page needs no page version test: the guard or the
     * dispatcher that let the block run checked the version of this very page, and
     * nothing of this vCPU wrote to it since (a store to a page with code takes its
     * slow path, a handler, or is the exit's own and leaves elsewhere). Only another
     * thread could have, unordered with a block that reads no memory: per SDM vol. 3
     * 8.1.3 a CPU runs cross-modified code only after a serializing instruction (a
     * handler, so not quiet); an IPI or interrupt fails the request test below, and
     * the budget test brings the next trip through the dispatcher.) */
    /* The dispatcher's tests before a block (exec.c, x86_cpu_run). A request
     * pending: out of line (after the guard) INTR alone while IF is clear passes,
     * as the dispatcher would deliver nothing either (a kernel's interrupts-off
     * sections with a timer interrupt waiting: a million exits of a Linux boot). */
    JitEventTests ev = jit_emit_event_tests(t);
    /* One 64-bit word (cpu-internal.h): a breakpoint of DR7 or the debugger; and,
     * which only handlers set (for a quiet exit still clear, as the dispatcher runs
     * no block with them), HLT, an interrupt shadow (the dispatcher steps the next
     * instruction, so that an interrupt it makes deliverable, such as a TPR write
     * after STI, is taken right after it) and pending data breakpoint hits. */
    /* The word also holds x86_cpu_run's budget flag: a run with a budget (tests,
     * single steps) counts instructions out of line; one without (the back ends'
     * runs) passes this one test. */
    size_t word_clear = emit_pos(e);
    if (!calm) {
        emit_op_rm(e, 4, 0xf7, 0, CPU(eflags)); /* TEST [eflags], TF|RF */
        emit_u32(e, X86_FL_TF | X86_FL_RF);
        emit_jcc_to(e, HC_NE, unlinked);
    }
    /* -d exec traces every block from the dispatcher; vlog_mask is set once, before
     * any code runs (vireo-run's -d), so the test is made here. */
    if (vlog_mask & LOG_EXEC)
        emit_jmp_to(e, unlinked);
    /* What exec_block does around a block: start the next at its EIP (its
     * block_start is stored where it can fault: handler calls, translate.c). */
    if (fixed && !eax)
        emit_alu_mi(e, eip_size(t), ALU_ADD, CPU(block_eip), (uint32_t)(int32_t)delta);
    else if (!self)
        emit_store(e, eip_size(t), CPU(block_eip), H_RAX);
    site.jmp = (uint16_t)(emit_jmp_fwd(e) - start);
    /* The budget flag alone: icount + this block + the next one within the budget;
     * count this one. */
    emit_patch(e, ev.word, emit_pos(e));
    emit_alu_mi(e, 8, ALU_CMP, CPU(halted), X86_EVENTS_BUDGET);
    emit_jcc_to(e, HC_NE, unlinked);
    emit_load(e, 8, H_RCX, CPU(icount));
    emit_op_rr(e, 8, 0x81, 0, H_RCX);
    site.total = (uint16_t)(emit_pos(e) - start);
    emit_u32(e, 0);
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, CPU(icount_end));
    emit_jcc_to(e, HC_A, unlinked);
    emit_alu_mi(e, 8, ALU_ADD, CPU(icount), count);
    emit_jmp_to(e, word_clear);
    size_t intr[2];
    jit_emit_intr_alone(t, &ev, intr);
    emit_patch(e, intr[0], unlinked);
    emit_patch(e, intr[1], unlinked);
    site.count = (uint16_t)count;
    site.info = (uint16_t)(emit_pos(e) - start);
    const uint8_t *b = (const uint8_t *)&site;
    for (size_t k = 0; k < sizeof(site); k++)
        emit_u8(e, b[k]);
    if (!e->overflow) {
        uint64_t info = (uint64_t)(uintptr_t)(e->start + start + site.info);
        memcpy(e->start + info_field, &info, 8);
    }
}

/* Points the exit whose JitSite is at info (read-write view) at the block about to
 * run: its code fn, instructions insns[0..n), slot in the interpreter's block. An exit
 * linked that way already is left alone (writing into code the host runs costs it a
 * pipeline flush); one whose target keeps changing (a RET from a function called from
 * several places) stops being linked and looks its targets up in a table instead. */
#define MAX_RETARGETS 16

/* The dispatcher is about to run the block at CS:EIP of physical page phys, with the
 * page's mapping checked (block_get) or unchanged since (its successor cache): the
 * instruction TLB entry the guards check. Global when the TLB entry says so. */
static X86Itlb *itlb_fill(X86Cpu *c, uint64_t lin, uint64_t phys)
{
    bool user = c->cpl == 3;
    unsigned k = x86_itlb_index(lin);
    X86Itlb *ie = &(user ? c->itlb_user : c->itlb_sup)[k];
    c->itlb_used[user][k / 64] |= UINT64_C(1) << (k % 64);
    const X86Tlb *te = &(user ? c->tlb_user : c->tlb_sup)[x86_tlb_index(lin)];
    uint64_t page = lin & ~UINT64_C(0xfff);
    if (te->page != page)
        te += TLB_SIZE; /* (its way 1) */
    bool known = te->tag_x == page && te->phys == phys;
    ie->page = page;
    ie->phys = phys;
    ie->global = known ? te->global & 1 : 0;
    /* For INVLPG (mmu.c's x86_tlb_flush_page): a large page's regions, all of them
     * for a 1 GiB page or when the data TLB no longer says what mapped the page. */
    if (!known || (te->global & 4))
        c->itlb_large = ~UINT64_C(0);
    else if (te->global & 2)
        c->itlb_large |= UINT64_C(3) << ((lin >> 21) & 62);
    return ie;
}

void jit_chain_link(Jit *j, X86Cpu *c, uint8_t *info, uint32_t req, unsigned n, void **slot, JitFn fn)
{
    JitSite site;
    memcpy(&site, info, sizeof(site));
    uint8_t *start = info - site.info;
    if (site.retargets >= MAX_RETARGETS) {
        /* From now on the exit looks its target up in the table (jit_ib_fill). */
        int32_t to_lookup = (int32_t)site.lookup - 5;
        memcpy(start + 1, &to_lookup, 4);
        j->stats.links_refused++;
        return;
    }
    uint32_t version;
    uint64_t phys;
    const uint32_t *vptr = x86_code_slot_version(c, slot, &version, &phys);
    uint64_t lin = (c->seg[S_CS].base + c->eip) & c->lin_mask;
    uint64_t page = lin & ~UINT64_C(0xfff);
    unsigned lw = site.wide ? 8 : 4; /* the width of the lin and lin_page fields */
    uint32_t acc = c->acc_user;
    phys &= ~UINT64_C(0xfff);
    const X86Itlb *old = &(c->cpl == 3 ? c->itlb_user : c->itlb_sup)[x86_itlb_index(lin)];
    bool itlb_taken = old->page != page || old->phys != phys;
    const X86Itlb *te = itlb_fill(c, lin, phys);
    uint32_t total = site.count + n;
    /* (site.lin is 0 for an exit back to its own block's entry: only the budget and
     * the jump, and only to that block, whose code starts site.home bytes before) */
    bool self = site.lin == 0 && !site.fixed;
    bool no_lin = site.lin == 0;
    if (self && jit_cache_rx(j->cache, start) - site.home != (uintptr_t)fn)
        return;
    uint64_t vp = (uint64_t)(uintptr_t)vptr, tp = (uint64_t)(uintptr_t)te;
    /* rel32 fields count from the end of the field, the same in both views. */
    intptr_t body_rx = (intptr_t)fn + (intptr_t)j->body;
    intptr_t field_rx = (intptr_t)jit_cache_rx(j->cache, start + site.jmp);
    int32_t rel = (int32_t)(body_rx - (field_rx + 4));
    int32_t to_guard = (int32_t)site.guard - 5;
    int32_t cur_entry, cur_rel;
    uint64_t cur_lin = 0;
    memcpy(&cur_entry, start + 1, 4);
    memcpy(&cur_rel, start + site.jmp, 4);
    if (no_lin)
        cur_lin = lin;
    else
        memcpy(&cur_lin, start + site.lin, lw); /* (little-endian: the low bytes) */
    /* (site.epoch is 0 for a calm exit within its block's page: no epoch, CPL or
     * TLB fields; site.version too if it is quiet: no page version) */
    bool page_fields = site.epoch != 0;
    bool version_fields = site.version != 0; /* (also for a calm exit within its page) */
    if (cur_entry == to_guard) {
        if (cur_lin == lin && cur_rel == rel &&
            (!page_fields ||
             (!memcmp(start + site.epoch, &c->link_epoch, 4) && !memcmp(start + site.acc, &acc, 4) &&
              !memcmp(start + site.tlbe, &tp, 8) && !memcmp(start + site.lin_page, &page, lw) &&
              !memcmp(start + site.phys, &phys, 8))) &&
            (!version_fields ||
             (!memcmp(start + site.vptr, &vp, 8) && !memcmp(start + site.version, &version, 4))) &&
            !memcmp(start + site.total, &total, 4)) {
            /* The guard failed on one of the dispatcher's own tests: which. */
            j->stats.links_kept++;
            if (req & VCPU_REQ_EXIT)
                j->stats.kept_exit++;
            else if (req & VCPU_REQ_INTR)
                j->stats.kept_intr++;
            else if (req)
                j->stats.kept_req++;
            else if (itlb_taken)
                j->stats.kept_itlb++;
            return;
        }
        if (cur_lin != lin) {
            site.retargets++;
            memcpy(info + offsetof(JitSite, retargets), &site.retargets, sizeof(site.retargets));
            j->stats.retargets++;
        }
    }
    if (!no_lin)
        memcpy(start + site.lin, &lin, lw);
    if (page_fields) {
        memcpy(start + site.epoch, &c->link_epoch, 4);
        memcpy(start + site.acc, &acc, 4);
        memcpy(start + site.tlbe, &tp, 8);
        memcpy(start + site.lin_page, &page, lw);
        memcpy(start + site.phys, &phys, 8);
    }
    if (version_fields) {
        memcpy(start + site.vptr, &vp, 8);
        memcpy(start + site.version, &version, 4);
    }
    memcpy(start + site.total, &total, 4);
    memcpy(start + site.jmp, &rel, 4);
    memcpy(start + 1, &to_guard, 4);
    j->stats.links++;
}

static inline unsigned ib_set(uint64_t lin)
{
    return ((uint32_t)lin ^ ((uint32_t)lin >> 12)) & (JIT_IB_SETS - 1);
}

void jit_ib_fill(Jit *j, X86Cpu *c, unsigned n, void **slot, JitFn fn)
{
    uint32_t version;
    uint64_t phys;
    const uint32_t *vptr = x86_code_slot_version(c, slot, &version, &phys);
    uint64_t lin = (c->seg[S_CS].base + c->eip) & c->lin_mask;
    /* Two ways: an entry for this address is refilled in place; otherwise the
     * newer way moves to the second place and the new target takes the first. */
    JitIbEntry *set = &j->ib[ib_set(lin) * 2];
    JitIbEntry *ie = &set[0];
    if (set[1].lin == lin && set[1].acc != UINT32_MAX)
        ie = &set[1];
    else if (set[0].lin != lin)
        set[1] = set[0];
    ie->lin = lin;
    ie->epoch = c->link_epoch;
    ie->acc = c->acc_user;
    ie->n = n;
    ie->phys = phys & ~UINT64_C(0xfff);
    ie->tlbe = (uint64_t)(uintptr_t)itlb_fill(c, lin, ie->phys);
    ie->vptr = (uint64_t)(uintptr_t)vptr;
    ie->version = version;
    ie->body = (uint64_t)(uintptr_t)fn + j->body;
    j->stats.ib_fills++;
}

/* The lookup routine, entered by an exit's lookup path with EAX = the next EIP (in
 * c->eip too), R13D = the instructions done in the block, the guest registers at
 * home (regcache.c) and the block's frame on the stack. It makes the linked guard's checks against the table's entry for the
 * target and jumps into that block's body, or returns to the dispatcher, which
 * fills the entry (run_block, jit_ib_fill). */
static void ib_emit_routine(Jit *j, JitEmit *e, X86Cpu *c, bool w64)
{
    size_t misses[24];
    unsigned nm = 0;
    unsigned w = w64 ? 8 : 4; /* RIP and linear addresses of 64-bit code are 64-bit */
    emit_mov_rr(e, w, H_RCX, H_RAX);
    emit_alu_rm(e, w, ALU_ADD, H_RCX, CPU_AT(seg, sizeof(X86Seg) * S_CS + offsetof(X86Seg, base)));
    emit_mov_rr(e, 4, H_RDX, H_RCX);
    emit_shift_ri(e, 4, 5, H_RDX, 12);
    emit_alu_rr(e, 4, ALU_XOR, H_RDX, H_RCX);
    emit_alu_ri(e, 4, ALU_AND, H_RDX, JIT_IB_SETS - 1);
    emit_shift_ri(e, 4, 4, H_RDX, 7); /* sets of two 64-byte entries */
    emit_mov_ri64(e, H_RSI, (uint64_t)(uintptr_t)j->ib);
    emit_alu_rr(e, 8, ALU_ADD, H_RSI, H_RDX);
#define IE(f) jm(H_RSI, (int32_t)offsetof(JitIbEntry, f))
    /* (The whole 64 bits: RCX is zero-extended in 32-bit code.) */
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, IE(lin));
    size_t way0 = emit_jcc_fwd(e, HC_E);
    emit_alu_ri(e, 8, ALU_ADD, H_RSI, (uint32_t)sizeof(JitIbEntry));
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, IE(lin));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_patch(e, way0, emit_pos(e));
    emit_load(e, 4, H_RDX, IE(epoch));
    emit_alu_rm(e, 4, ALU_CMP, H_RDX, CPU(link_epoch));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 4, H_RDX, IE(acc));
    emit_alu_rm(e, 4, ALU_CMP, H_RDX, CPU(acc_user));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 8, H_RDI, IE(tlbe));
    emit_alu_ri(e, w, ALU_AND, H_RCX, ~0xfffu); /* (sign-extended with REX.W) */
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, jm(H_RDI, (int32_t)offsetof(X86Itlb, page)));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 8, H_RDX, IE(phys));
    emit_alu_rm(e, 8, ALU_CMP, H_RDX, jm(H_RDI, (int32_t)offsetof(X86Itlb, phys)));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_load(e, 8, H_RDI, IE(vptr));
    emit_load(e, 4, H_RDX, jm(H_RDI, 0));
    emit_alu_rm(e, 4, ALU_CMP, H_RDX, IE(version));
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    /* The dispatcher's tests before a block, all of them (see jit_exit_chained). */
    JitMem reqm = requests_mem(e, c);
    emit_alu_mi(e, 4, ALU_CMP, reqm, 0);
    size_t no_req = emit_jcc_fwd(e, HC_E);
    emit_alu_mi(e, 4, ALU_CMP, reqm, VCPU_REQ_INTR); /* (INTR alone, IF clear: as a guard) */
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_op_rm(e, 4, 0xf7, 0, CPU(eflags)); /* TEST [eflags], IF */
    emit_u32(e, X86_FL_IF);
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_patch(e, no_req, emit_pos(e));
    /* code_bp, pending_dr6, halted, intr_shadow; and the budget flag: with a budget
     * (as a guard), icount + this block + the next one within it; count this one. */
    emit_alu_mi(e, 8, ALU_CMP, CPU(halted), 0);
    size_t word_set = emit_jcc_fwd(e, HC_NE);
    size_t word_clear = emit_pos(e);
    emit_op_rm(e, 4, 0xf7, 0, CPU(eflags)); /* TEST [eflags], TF|RF */
    emit_u32(e, X86_FL_TF | X86_FL_RF);
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    if (vlog_mask & LOG_EXEC)
        misses[nm++] = emit_jmp_fwd(e); /* (as a guard: a test at translation) */
    size_t counted_done = emit_jmp_fwd(e);
    emit_patch(e, word_set, emit_pos(e));
    emit_alu_mi(e, 8, ALU_CMP, CPU(halted), X86_EVENTS_BUDGET);
    misses[nm++] = emit_jcc_fwd(e, HC_NE);
    emit_mov_rr(e, 4, H_R13, H_R13); /* zero-extends */
    emit_load(e, 8, H_RCX, CPU(icount));
    emit_alu_rr(e, 8, ALU_ADD, H_RCX, H_R13);
    emit_load(e, 4, H_RDX, IE(n));
    emit_alu_rr(e, 8, ALU_ADD, H_RCX, H_RDX);
    emit_alu_rm(e, 8, ALU_CMP, H_RCX, CPU(icount_end));
    misses[nm++] = emit_jcc_fwd(e, HC_A);
    emit_alu_rm(e, 8, ALU_ADD, H_R13, CPU(icount));
    emit_store(e, 8, CPU(icount), H_R13);
    emit_jmp_to(e, word_clear);
    emit_patch(e, counted_done, emit_pos(e));
    emit_store(e, w, CPU(block_eip), H_RAX);
    emit_op_rm(e, 4, 0xff, 4, IE(body)); /* JMP [body] */
#undef IE
    for (unsigned k = 0; k < nm; k++)
        emit_patch(e, misses[k], emit_pos(e));
    /* Missed: run_block enters the block that follows into the table. The guest
     * registers come home to c->regs (from an exit that may hold them newer). */
    jit_rc_store_all(e);
    emit_store(e, w, CPU(eip), H_RAX); /* (the exits leave it to the ways back to C) */
    emit_mov_ri64(e, H_RDX, (uint64_t)(uintptr_t)&j->link);
    emit_mov_ri64(e, H_RCX, (uint64_t)(uintptr_t)JIT_IB_MISS);
    emit_store(e, 8, jm(H_RDX, (int32_t)offsetof(JitLink, site)), H_RCX);
    if (!w64)
        emit_mov_rr(e, 4, H_RAX, H_RAX); /* (zero-extends: JitLink.eip is 64-bit) */
    emit_store(e, 8, jm(H_RDX, (int32_t)offsetof(JitLink, eip)), H_RAX);
    emit_mov_rr(e, 4, H_RAX, H_R13);
    jit_emit_leave(e); /* the blocks' epilogue */
}

bool jit_ib_reset(Jit *j, X86Cpu *c)
{
    _Static_assert(sizeof(JitIbEntry) == 64, "the routine indexes entries by << 6");
    for (unsigned k = 0; k < JIT_IB_SIZE; k++) {
        memset(&j->ib[k], 0, sizeof(j->ib[k]));
        j->ib[k].acc = UINT32_MAX; /* never acc_user: the entry is empty */
    }
    JitEmit e;
    jit_cache_begin(j->cache, &e);
    ib_emit_routine(j, &e, c, false);
    size_t ib64 = emit_pos(&e);
    ib_emit_routine(j, &e, c, true);
    size_t slow = emit_pos(&e);
    /* The slow paths' handler call (translate.c): entered by CALL with RDI = the
     * CPU, RSI = the instruction, RDX = its handler and every guest register at
     * home; c->regs brought up to date, the handler called, the homes reloaded. */
    emit_alu_ri(&e, 8, ALU_SUB, H_RSP, 8); /* (16-byte alignment for the call) */
    jit_rc_store_all(&e);
    emit_op_rr(&e, 4, 0xff, 2, H_RDX); /* CALL RDX */
    jit_rc_load_all(&e);
    emit_alu_ri(&e, 8, ALU_ADD, H_RSP, 8);
    emit_ret(&e);
    /* The blocks' prologue, entered by a JMP from a block's entry with RDI = the CPU
     * and RAX = its body (translate.c): the frame every block shares, the guest
     * registers loaded into their homes. Then the epilogue they all jump to. */
    size_t enter = emit_pos(&e);
    emit_push(&e, H_RBX);
    emit_push(&e, H_R12);
    emit_push(&e, H_R13);
    emit_push(&e, H_RBP);
    emit_push(&e, H_R14);
    emit_push(&e, H_R15);
    emit_alu_ri(&e, 8, ALU_SUB, H_RSP, 8);
    emit_mov_rr(&e, 8, H_RBX, H_RDI);
    jit_rc_load_all(&e);
    emit_op_rr(&e, 4, 0xff, 4, H_RAX); /* JMP RAX */
    size_t leave = emit_pos(&e);
    jit_emit_leave(&e);
    void *code = jit_cache_commit(j->cache, &e);
    j->ib_routine = (uintptr_t)code;
    j->ib_routine64 = code ? (uintptr_t)code + ib64 : 0;
    j->slow_routine = code ? (uintptr_t)code + slow : 0;
    j->enter_routine = code ? (uintptr_t)code + enter : 0;
    j->leave_routine = code ? (uintptr_t)code + leave : 0;
    return code != NULL;
}
