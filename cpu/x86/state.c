/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CPU object: creation, the power-on state, architectural state get/set for
 * tests and debuggers, EFLAGS writes with their side effects, and the mode-derived
 * fields the fast paths read (CPL, TLB selection, segment access bits). */
#include "cpu/x86/cpu-internal.h"
#include "engine/timer.h"
#include "engine/vm.h"

#include <pthread.h>

/* Processor signature: family 6, model 5, stepping 2 (Pentium II). */
#define X86_SIGNATURE 0x652u

void x86_set_cpl(X86Cpu *c, unsigned cpl)
{
    if (c->cpl != cpl)
        c->stats.cpl_changes++;
    c->chain_epoch++;
    c->cpl = (uint8_t)cpl;
    c->acc_user = cpl == 3 ? ACC_USER : 0;
    c->ac_check = (c->cr0 & X86_CR0_AM) && (c->eflags & X86_FL_AC) && cpl == 3;
    if (c->data_bp)
        c->tlb = c->tlb_none;
    else if (cpl == 3)
        c->tlb = c->ac_check ? c->tlb_none : c->tlb_user;
    else
        c->tlb = c->tlb_sup;
}

void x86_update_mode(X86Cpu *c)
{
    c->pe = (c->cr0 & X86_CR0_PE) != 0;
    c->vm86 = c->pe && (c->eflags & X86_FL_VM);
    if (!c->pe)
        c->eflags &= ~X86_FL_VM;
    c->paging = c->pe && (c->cr0 & X86_CR0_PG);
    unsigned cpl = !c->pe ? 0 : c->vm86 ? 3 : c->cpl;
    for (unsigned s = 0; s < 6; s++)
        x86_seg_update(c, &c->seg[s], s);
    x86_set_cpl(c, cpl);
}

void x86_write_eflags(X86Cpu *c, uint32_t value, uint32_t mask)
{
    uint32_t old = x86_get_eflags(c);
    uint32_t nf = (old & ~mask) | (value & mask);
    /* Reserved bits: 1 is always set; 3, 5, 15 and 22-31 always clear. */
    nf = (nf | X86_FL_FIXED) & 0x003f7fd7u;
    c->eflags = nf;
    c->cc_op = CC_EAGER;
    if ((old ^ nf) & X86_FL_VM)
        x86_update_mode(c);
    else if ((old ^ nf) & X86_FL_AC)
        x86_set_cpl(c, c->cpl);
    /* Interrupts may now be recognized, or single-stepping starts: leave the block. */
    if (((nf & ~old) & X86_FL_IF) || (nf & (X86_FL_TF | X86_FL_RF)))
        c->exit_block = 1;
}

static void seg_reset(X86Cpu *c, unsigned which, uint16_t sel, uint32_t base, uint16_t attr)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->base = base;
    s->limit = 0xffff;
    s->attr = attr;
    x86_seg_update(c, s, which);
}

void x86_cpu_reset(X86Cpu *c)
{
    /* Power-on state (SDM vol. 3, 9.1.1, table 9-1). */
    memset(c->regs, 0, sizeof(c->regs));
    c->regs[R_EDX] = X86_SIGNATURE;
    c->eip = 0xfff0;
    c->prev_eip = 0xfff0;
    c->eflags = X86_FL_FIXED;
    c->cc_op = CC_EAGER;
    c->cr0 = 0x60000010u;
    c->cr2 = c->cr3 = c->cr4 = 0;
    c->cr8 = 0;
    c->efer = 0;
    memset(c->pdpte, 0, sizeof(c->pdpte));
    c->pe = c->vm86 = c->paging = 0;
    c->cpl = 0;
    for (unsigned s = 0; s < 6; s++)
        seg_reset(c, s, 0, 0, X86_ATTR_P | X86_ATTR_S | 0x3);
    seg_reset(c, S_CS, 0xf000, 0xffff0000u, X86_ATTR_P | X86_ATTR_S | 0xb);
    c->gdt_base = c->idt_base = 0;
    c->gdt_limit = c->idt_limit = 0xffff;
    c->ldtr = (X86Seg){ .limit = 0xffff, .attr = X86_ATTR_P | 2 };
    /* A busy 32-bit TSS, as QEMU, Bochs and KVM's VMX reset state have it: a 16-bit one
     * would make the MOV to CR0 that activates IA-32e mode #GP (SDM vol. 3, 9.8.5), and
     * loaders such as kvm-unit-tests' enter long mode without an LTR. */
    c->tr = (X86Seg){ .limit = 0xffff, .attr = X86_ATTR_P | 11 };
    memset(c->dr, 0, sizeof(c->dr));
    c->dr[6] = 0xffff0ff0u;
    c->dr[7] = 0x400;
    c->sysenter_cs = c->sysenter_esp = c->sysenter_eip = 0;
    c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = 0;
    c->tsc_aux = 0;
    c->syscfg = 0;
    c->mtrr_def_type = 0;
    memset(c->mtrr_fixed, 0, sizeof(c->mtrr_fixed));
    memset(c->mtrr_var, 0, sizeof(c->mtrr_var));
    c->bios_sign_id = 0;
    c->pat = UINT64_C(0x0007040600070406);
    c->misc_enable = X86_MISC_ENABLE_RESET;
    x86_fpu_reset(c);
    c->tsc_offset = -(int64_t)x86_rdtsc(c) + c->tsc_offset;
    c->halted = 0;
    c->intr_shadow = 0;
    c->debug_shadow = 0;
    c->nmi_blocked = 0;
    c->pending_dr6 = 0;
    c->in_delivery = 0;
    /* Application processors come out of reset waiting for a STARTUP IPI. */
    if (c->v->index > 0)
        c->halted = X86_HALT_SIPI;
    c->a20_mask = atomic_load(&c->v->a20) ? ~UINT64_C(0) : ~(UINT64_C(1) << 20);
    x86_update_debug(c);
    x86_update_mode(c);
    x86_tlb_flush(c, true);
    c->link_epoch++; /* a new state: no chain made before holds */
}

/* An INIT (SDM vol. 3, 9.1 and table 9-1): the power-up state, except that the x87
 * and SSE state, the MTRRs, PAT, IA32_MISC_ENABLE and the TSC keep their values. An application
 * processor then waits for a STARTUP IPI (8.4.4.1); the BSP starts at F000:FFF0. */
static void cpu_init_signal(X86Cpu *c)
{
    X86Fpu fpu = c->fpu;
    uint64_t def_type = c->mtrr_def_type, pat = c->pat, misc = c->misc_enable;
    /* The TSC is not reset by INIT either: it stays in step with the other CPUs'. */
    int64_t tsc_offset = c->tsc_offset;
    uint64_t fixed[11], var[16];
    memcpy(fixed, c->mtrr_fixed, sizeof(fixed));
    memcpy(var, c->mtrr_var, sizeof(var));
    x86_cpu_reset(c);
    c->fpu = fpu;
    c->mtrr_def_type = def_type;
    c->pat = pat;
    c->misc_enable = misc;
    c->tsc_offset = tsc_offset;
    memcpy(c->mtrr_fixed, fixed, sizeof(fixed));
    memcpy(c->mtrr_var, var, sizeof(var));
    c->last_block = NULL;
}

void x86_cpu_startup_events(X86Cpu *c)
{
    Vcpu *v = c->v;
    unsigned req = vcpu_requests(v);
    if (req & VCPU_REQ_INIT) {
        vcpu_clear_request(v, VCPU_REQ_INIT);
        X86_LOG_INT("INIT");
        cpu_init_signal(c);
    }
    if (req & VCPU_REQ_SIPI) {
        vcpu_clear_request(v, VCPU_REQ_SIPI);
        /* Only a processor in wait-for-SIPI takes it; it starts in real mode at
         * vector:0000, i.e. physical vector * 4096. */
        if (c->halted == X86_HALT_SIPI) {
            unsigned vec = atomic_load(&v->sipi_vector) & 0xff;
            X86_LOG_INT("STARTUP at %02x00:0000", vec);
            x86_seg_load_real(c, S_CS, (uint16_t)(vec << 8));
            c->eip = c->prev_eip = 0;
            c->halted = 0;
            c->last_block = NULL;
        }
    }
}

static void map_changed(void *opaque)
{
    X86Cpu *c = opaque;
    /* Any thread, engine lock held: the vCPU drops its TLB at the next instruction
     * boundary (string instructions stop between iterations for it). */
    atomic_fetch_or(&c->v->requests, VCPU_REQ_TLB);
}

static void code_written(void *opaque, hwaddr addr, size_t len)
{
    X86Cpu *c = opaque;
    for (hwaddr a = addr & MEM_PAGE_MASK; a < addr + len; a += MEM_PAGE_SIZE)
        x86_code_invalidate_phys(c, a);
}

X86Cpu *x86_cpu_new(Vcpu *v)
{
    X86Cpu *c = g_malloc0(sizeof(X86Cpu));
    c->v = v;
    c->mem = v->mem;
    c->code = x86_code_new();
    for (unsigned k = 0; k < TLB_WAYS * TLB_SIZE; k++) {
        c->tlb_none[k] = (X86Tlb){ TLB_INVALID, TLB_INVALID, TLB_INVALID, TLB_INVALID, 0, 0, 0, 0, 0 };
        c->tlb_sup[k] = c->tlb_user[k] = c->tlb_none[k];
    }
    for (unsigned k = 0; k < ITLB_SIZE; k++)
        c->itlb_sup[k].page = c->itlb_user[k].page = TLB_INVALID;
    c->mtrr_cap = 0x508; /* 8 variable ranges, fixed ranges, write-combining */
    c->model = cpu_model_get(v->vm ? vm_config(v->vm)->cpu_model : NULL);
    c->features = cpu_model_features(c->model);
    c->smp = v->vm && vm_cpu_count(v->vm) > 1;
    c->listener.map_changed = map_changed;
    c->listener.code_written = code_written;
    c->listener.opaque = c;
    mem_add_listener(c->mem, &c->listener);
    x86_cpu_reset(c);
    return c;
}

void x86_cpu_free(X86Cpu *c)
{
    if (!c)
        return;
    mem_remove_listener(c->mem, &c->listener);
    x86_code_free(c->code);
    g_free(c);
}

void x86_cpu_set_run_flags(X86Cpu *c, unsigned flags)
{
    c->run_flags = flags;
}

uint64_t x86_cpu_insn_count(X86Cpu *c)
{
    return c->icount;
}

void x86_cpu_get_exec_stats(X86Cpu *c, X86ExecStats *s)
{
    *s = c->stats;
}

int x86_cpu_last_exception(X86Cpu *c, bool *has_error, uint32_t *error)
{
    if (has_error)
        *has_error = c->last_has_err;
    if (error)
        *error = c->last_err;
    return c->last_vec;
}

static void seg_get(const X86Seg *s, X86SegState *o)
{
    o->sel = s->sel;
    o->attr = s->attr;
    o->base = s->base;
    o->limit = s->limit;
}

static void seg_set(X86Seg *s, const X86SegState *o)
{
    s->sel = o->sel;
    s->attr = o->attr;
    s->base = o->base;
    s->limit = o->limit;
}

void x86_cpu_get_state(X86Cpu *c, X86State *s)
{
    memset(s, 0, sizeof(*s));
    for (unsigned r = 0; r < 8; r++)
        s->regs[r] = (uint32_t)c->regs[r];
    s->eip = c->eip;
    s->eflags = x86_get_eflags(c);
    for (unsigned k = 0; k < 6; k++)
        seg_get(&c->seg[k], &s->seg[k]);
    seg_get(&c->ldtr, &s->ldtr);
    seg_get(&c->tr, &s->tr);
    s->gdt_base = c->gdt_base;
    s->gdt_limit = c->gdt_limit;
    s->idt_base = c->idt_base;
    s->idt_limit = c->idt_limit;
    s->cr0 = c->cr0;
    s->cr2 = c->cr2;
    s->cr3 = c->cr3;
    s->cr4 = c->cr4;
    memcpy(s->dr, c->dr, sizeof(s->dr));
    s->efer = c->efer;
    s->cpl = c->cpl;
}

void x86_cpu_set_state(X86Cpu *c, const X86State *s)
{
    for (unsigned r = 0; r < 8; r++)
        c->regs[r] = s->regs[r];
    c->regs[R_ZERO] = 0;
    c->eip = c->prev_eip = s->eip;
    c->eflags = (s->eflags | X86_FL_FIXED) & 0x003f7fd7u;
    c->cc_op = CC_EAGER;
    for (unsigned k = 0; k < 6; k++)
        seg_set(&c->seg[k], &s->seg[k]);
    seg_set(&c->ldtr, &s->ldtr);
    seg_set(&c->tr, &s->tr);
    c->gdt_base = s->gdt_base;
    c->gdt_limit = s->gdt_limit;
    c->idt_base = s->idt_base;
    c->idt_limit = s->idt_limit;
    c->cr0 = s->cr0 | X86_CR0_ET;
    c->cr2 = s->cr2;
    c->cr3 = s->cr3;
    c->cr4 = s->cr4;
    memcpy(c->dr, s->dr, sizeof(c->dr));
    c->efer = s->efer & x86_efer_valid(c);
    /* CPL: 0 in real mode, 3 in V86, else the DPL of SS (which always equals CPL). */
    c->cpl = (uint8_t)((s->seg[X86_SS].attr >> 5) & 3);
    c->halted = 0;
    c->intr_shadow = 0;
    c->debug_shadow = 0;
    c->pending_dr6 = 0;
    c->in_delivery = 0;
    /* Application processors come out of reset waiting for a STARTUP IPI. */
    if (c->v->index > 0)
        c->halted = X86_HALT_SIPI;
    c->a20_mask = atomic_load(&c->v->a20) ? ~UINT64_C(0) : ~(UINT64_C(1) << 20);
    x86_update_mode(c);
    if (c->paging && (c->cr4 & X86_CR4_PAE) && !x86_ia32e(c))
        x86_load_pdptes(c, c->cr3);
    x86_update_debug(c);
    x86_tlb_flush(c, true);
    c->link_epoch++; /* a new state: no chain made before holds */
}

char *x86_cpu_describe(X86Cpu *c)
{
    uint32_t f = x86_get_eflags(c);
    return g_strdup_printf(
        "EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x "
        "EIP=%08" G_GINT64_MODIFIER "x EFL=%08x CS=%04x(%08" G_GINT64_MODIFIER "x) SS=%04x DS=%04x ES=%04x CR0=%08x "
        "CR3=%08" G_GINT64_MODIFIER "x CR4=%08x CPL=%u %s",
        (uint32_t)c->regs[R_EAX], (uint32_t)c->regs[R_EBX], (uint32_t)c->regs[R_ECX], (uint32_t)c->regs[R_EDX],
        (uint32_t)c->regs[R_ESI], (uint32_t)c->regs[R_EDI], (uint32_t)c->regs[R_EBP], (uint32_t)c->regs[R_ESP], c->eip, f, c->seg[S_CS].sel, c->seg[S_CS].base, c->seg[S_SS].sel,
        c->seg[S_DS].sel, c->seg[S_ES].sel, c->cr0, c->cr3, c->cr4, c->cpl,
        !c->pe ? "real" : c->vm86 ? "v86" : x86_ia32e(c) ? "ia32e-compat" : c->paging ? "protected+paging" : "protected");
}
