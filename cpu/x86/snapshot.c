/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interpreter's whole architectural state as a CpuX86State (cpu/cpu-state.h): for
 * VM state save/load and debuggers. The x87/SSE part goes through the FXSAVE image so
 * it has one encoding; MSRs through RDMSR/WRMSR's own checks. A load checks everything
 * before it changes anything: a refused state leaves the CPU as it was. */
#include "cpu/x86/cpu-internal.h"
#include "engine/config.h"
#include "engine/timer.h"

#include <string.h>

/* EFLAGS bits a P6 can hold (1 set, 3, 5, 15 and 22-31 clear). */
#define EFLAGS_WRITABLE 0x003f7fd7u
/* CR4 bits this CPU implements (VME and PVI are not). */
#define CR4_KNOWN (X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_MCE | \
                   X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)

static bool canonical64(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static void seg_out(const X86SegState *in, CpuSegment *out)
{
    out->sel = in->sel;
    out->attr = in->attr;
    out->limit = in->limit;
    out->base = in->base;
}

static void seg_in(const CpuSegment *in, X86SegState *out)
{
    out->sel = in->sel;
    out->attr = in->attr;
    out->limit = in->limit;
    out->base = (uint32_t)in->base;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static uint32_t get16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | get16(p + 2) << 16; }

void x86_cpu_save(X86Cpu *c, CpuX86State *s)
{
    memset(s, 0, sizeof(*s));
    X86State b;
    x86_cpu_get_state(c, &b);
    for (unsigned r = 0; r < 16; r++) /* all 64 bits of RAX..R15 */
        s->regs[r] = c->regs[r];
    s->rip = b.eip;
    s->rflags = b.eflags;
    for (unsigned k = 0; k < X86_NSEG; k++)
        seg_out(&b.seg[k], &s->seg[k]);
    seg_out(&b.ldtr, &s->ldtr);
    seg_out(&b.tr, &s->tr);
    s->gdt_base = b.gdt_base;
    s->gdt_limit = b.gdt_limit;
    s->idt_base = b.idt_base;
    s->idt_limit = b.idt_limit;
    s->cr0 = b.cr0;
    s->cr2 = b.cr2;
    s->cr3 = b.cr3;
    s->cr4 = b.cr4;
    for (unsigned r = 0; r < 8; r++)
        s->dr[r] = b.dr[r];
    s->efer = b.efer;
    /* X86State has the 32-bit view: the 64-bit RIP, bases and CR2/CR3 from the CPU. */
    s->rip = c->eip;
    for (unsigned k = 0; k < X86_NSEG; k++)
        s->seg[k].base = c->seg[k].base;
    s->ldtr.base = c->ldtr.base;
    s->tr.base = c->tr.base;
    s->gdt_base = c->gdt_base;
    s->idt_base = c->idt_base;
    s->cr2 = c->cr2;
    s->cr3 = c->cr3;

    /* FXSAVE layout (SDM vol. 1, table 10-2). */
    uint8_t img[512];
    x86_fxsave_image(c, img);
    s->fcw = (uint16_t)get16(img);
    s->fsw = (uint16_t)get16(img + 2);
    s->ftw = img[4];
    s->fop = (uint16_t)get16(img + 6);
    s->fip = get32(img + 8);
    s->fcs = (uint16_t)get16(img + 12);
    s->fdp = get32(img + 16);
    s->fds = (uint16_t)get16(img + 20);
    s->mxcsr = get32(img + 24);
    for (unsigned r = 0; r < 8; r++)
        memcpy(s->st[r], img + 32 + 16 * r, 10);
    for (unsigned r = 0; r < 16; r++)
        memcpy(s->xmm[r], img + 160 + 16 * r, 16);
    s->ferr = c->fpu.ferr;

    s->tsc = x86_rdtsc(c);
    const uint32_t *list;
    unsigned n = x86_msr_state_list(&list);
    for (unsigned k = 0; k < n && s->nmsrs < CPU_MAX_MSRS; k++) {
        uint64_t v;
        if (x86_msr_get(c, list[k], &v))
            s->msrs[s->nmsrs++] = (CpuMsr){ .index = list[k], .value = v };
    }

    s->halted = c->halted != 0;
    s->sipi_wait = c->halted == X86_HALT_SIPI;
    s->shadow = (uint8_t)((c->intr_shadow ? CPU_SHADOW_STI : 0) |
                          (c->debug_shadow ? CPU_SHADOW_MOV_SS : 0));
    s->nmi_blocked = c->nmi_blocked;
    s->exception = -1;
    s->interrupt = -1;
}

static bool fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "CPU state: %s", msg);
    g_free(msg);
    return false;
}

/* What this CPU cannot hold, checked before anything changes. A model with long mode
 * keeps RAX..R15 whole; one without has eight 32-bit registers. */
static bool check_state(const X86Cpu *c, const CpuX86State *s, GError **err)
{
    bool lm = c->model->ext_edx & CPUID_EXT_LM;
    for (unsigned r = 0; r < 16 && !lm; r++)
        if (s->regs[r] >> (r < 8 ? 32 : 0))
            return fail(err, "register %u holds 0x%" G_GINT64_MODIFIER "x, beyond a 32-bit CPU", r, s->regs[r]);
    /* A model with long mode holds 64-bit canonical addresses (RIP, bases, CR2) and a
     * CR3 within MAXPHYADDR (36); one without, 32-bit ones. */
    if (!lm ? s->rip >> 32 : !canonical64(s->rip))
        return fail(err, "RIP 0x%" G_GINT64_MODIFIER "x is beyond what this CPU holds", s->rip);
    if ((s->rflags & ~(uint64_t)EFLAGS_WRITABLE) != 0 || !(s->rflags & X86_FL_FIXED))
        return fail(err, "EFLAGS 0x%" G_GINT64_MODIFIER "x has reserved bits wrong", s->rflags);
    const CpuSegment *segs[CPU_NSEG + 2];
    for (unsigned k = 0; k < CPU_NSEG; k++)
        segs[k] = &s->seg[k];
    segs[CPU_NSEG] = &s->ldtr;
    segs[CPU_NSEG + 1] = &s->tr;
    for (unsigned k = 0; k < G_N_ELEMENTS(segs); k++)
        if (!lm ? segs[k]->base >> 32 : !canonical64(segs[k]->base))
            return fail(err, "a segment base 0x%" G_GINT64_MODIFIER "x is beyond what this CPU holds",
                        segs[k]->base);
    if (!lm ? (s->gdt_base | s->idt_base | s->cr2 | s->cr3) >> 32
            : !canonical64(s->gdt_base) || !canonical64(s->idt_base) || !canonical64(s->cr2) || s->cr3 >> 36)
        return fail(err, "a descriptor table base, CR2 or CR3 is beyond what this CPU holds");
    if (s->cr0 >> 32)
        return fail(err, "CR0 0x%" G_GINT64_MODIFIER "x is beyond 32 bits", s->cr0);
    if ((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE))
        return fail(err, "CR0 0x%" G_GINT64_MODIFIER "x has PG without PE", s->cr0);
    if (s->cr4 & ~(uint64_t)CR4_KNOWN)
        return fail(err, "CR4 0x%" G_GINT64_MODIFIER "x has bits this CPU lacks", s->cr4);
    if (s->efer & ~(X86_EFER_NXE | X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA))
        return fail(err, "EFER 0x%" G_GINT64_MODIFIER "x has bits this CPU lacks", s->efer);
    /* LMA is LME with paging on, which needs PAE (SDM vol. 3, 9.8.5). */
    bool lma = (s->efer & X86_EFER_LME) && (s->cr0 & X86_CR0_PG);
    if (!!(s->efer & X86_EFER_LMA) != lma || (lma && !(s->cr4 & X86_CR4_PAE)))
        return fail(err, "EFER 0x%" G_GINT64_MODIFIER "x does not agree with CR0 0x%" G_GINT64_MODIFIER
                    "x and CR4 0x%" G_GINT64_MODIFIER "x", s->efer, s->cr0, s->cr4);
    for (unsigned r = 0; r < 8; r++)
        if ((s->dr[r] >> 32) && (r >= 6 || !lm))
            return fail(err, "DR%u is beyond 32 bits", r);
    if ((s->fip | s->fdp) >> 32)
        return fail(err, "the x87 instruction or data pointer is beyond 32 bits");
    for (unsigned r = 8; r < 16 && !lm; r++)
        for (unsigned b = 0; b < 16; b++)
            if (s->xmm[r][b])
                return fail(err, "XMM%u is set, but this CPU has eight XMM registers", r);
    if (s->nmsrs > CPU_MAX_MSRS)
        return fail(err, "%u MSRs, at most %u", s->nmsrs, CPU_MAX_MSRS);
    /* The interpreter delivers events within an instruction: none can be half done. */
    if (s->exception >= 0 || s->interrupt >= 0)
        return fail(err, "an event half delivered (exception %d, interrupt %d) cannot be "
                    "resumed by this CPU", s->exception, s->interrupt);
    if (s->shadow & ~(CPU_SHADOW_STI | CPU_SHADOW_MOV_SS))
        return fail(err, "unknown interrupt shadow bits 0x%x", s->shadow);
    return true;
}

bool x86_cpu_load(X86Cpu *c, const CpuX86State *s, GError **err)
{
    if (!check_state(c, s, err))
        return false;
    uint8_t img[512];
    memset(img, 0, sizeof(img));
    put16(img, s->fcw);
    put16(img + 2, s->fsw);
    img[4] = s->ftw;
    put16(img + 6, s->fop);
    put32(img + 8, (uint32_t)s->fip);
    put16(img + 12, s->fcs);
    put32(img + 16, (uint32_t)s->fdp);
    put16(img + 20, s->fds);
    put32(img + 24, s->mxcsr);
    for (unsigned r = 0; r < 8; r++)
        memcpy(img + 32 + 16 * r, s->st[r], 10);
    for (unsigned r = 0; r < 8; r++)
        memcpy(img + 160 + 16 * r, s->xmm[r], 16);
    if (s->mxcsr & ~(uint32_t)MXCSR_MASK_BITS)
        return fail(err, "MXCSR 0x%x has reserved bits set", s->mxcsr);

    /* MSRs through WRMSR's checks; a refused one puts back the values before it. */
    uint64_t old[CPU_MAX_MSRS];
    for (unsigned k = 0; k < s->nmsrs; k++) {
        const CpuMsr *m = &s->msrs[k];
        bool known = x86_msr_get(c, m->index, &old[k]);
        if (!known || !x86_msr_set(c, m->index, m->value)) {
            for (unsigned j = k; j-- > 0;)
                x86_msr_set(c, s->msrs[j].index, old[j]);
            if (!known)
                return fail(err, "MSR 0x%x is not implemented by this CPU", m->index);
            return fail(err, "MSR 0x%x refuses 0x%" G_GINT64_MODIFIER "x", m->index, m->value);
        }
    }

    /* IA32_MISC_ENABLE's XD disable makes EFER.NXE reserved. */
    if (s->efer & ~x86_efer_valid(c)) {
        for (unsigned j = s->nmsrs; j-- > 0;)
            x86_msr_set(c, s->msrs[j].index, old[j]);
        return fail(err, "EFER 0x%" G_GINT64_MODIFIER "x has bits CPU model %s lacks (long mode, or NX "
                    "disabled in IA32_MISC_ENABLE)", s->efer, c->model->name);
    }

    X86State b;
    memset(&b, 0, sizeof(b));
    for (unsigned r = 0; r < 8; r++)
        b.regs[r] = (uint32_t)s->regs[r];
    b.eip = (uint32_t)s->rip;
    b.eflags = (uint32_t)s->rflags;
    for (unsigned k = 0; k < X86_NSEG; k++)
        seg_in(&s->seg[k], &b.seg[k]);
    seg_in(&s->ldtr, &b.ldtr);
    seg_in(&s->tr, &b.tr);
    b.gdt_base = (uint32_t)s->gdt_base;
    b.gdt_limit = s->gdt_limit;
    b.idt_base = (uint32_t)s->idt_base;
    b.idt_limit = s->idt_limit;
    b.cr0 = (uint32_t)s->cr0;
    b.cr2 = (uint32_t)s->cr2;
    b.cr3 = (uint32_t)s->cr3;
    b.cr4 = (uint32_t)s->cr4;
    for (unsigned r = 0; r < 8; r++)
        b.dr[r] = s->dr[r];
    b.efer = s->efer;
    /* Reloads the PAE PDPTEs from CR3, as MOV CR3 would: an approximation when the
     * guest changed its PDPT after loading CR3 (they are not saved on their own). */
    x86_cpu_set_state(c, &b);
    for (unsigned r = 0; r < 16; r++)
        c->regs[r] = s->regs[r];
    /* The 64-bit parts X86State does not carry (zero upper halves from older streams
     * and 32-bit guests: the same as before). Outside 64-bit mode the segments'
     * 32-bit view stands. */
    c->eip = s->rip;
    c->prev_eip = c->eip;
    c->gdt_base = s->gdt_base;
    c->idt_base = s->idt_base;
    c->cr2 = s->cr2;
    c->cr3 = s->cr3;
    c->ldtr.base = s->ldtr.base;
    c->tr.base = s->tr.base;
    c->seg[S_FS].base = s->seg[X86_FS].base;
    c->seg[S_GS].base = s->seg[X86_GS].base;
    x86_fxrstor_image(c, img); /* cannot fail: MXCSR was checked above */
    for (unsigned r = 8; r < 16; r++) /* XMM8-15 (zero on models without long mode) */
        memcpy(&c->fpu.xmm[r], s->xmm[r], 16);
    c->fpu.ferr = s->ferr;     /* the board's IRQ 13 latch keeps its own state */
    c->tsc_offset = (int64_t)(s->tsc - (uint64_t)vm_clock_ns(c->v->vm));
    c->halted = s->sipi_wait ? X86_HALT_SIPI : s->halted;
    c->intr_shadow = (s->shadow & (CPU_SHADOW_STI | CPU_SHADOW_MOV_SS)) != 0;
    c->debug_shadow = (s->shadow & CPU_SHADOW_MOV_SS) != 0;
    c->nmi_blocked = s->nmi_blocked;
    if (s->nmi_pending) /* an NMI another back end had accepted: the pin again */
        atomic_fetch_or(&c->v->requests, VCPU_REQ_NMI);
    return true;
}
