/* SPDX-License-Identifier: GPL-2.0-or-later */
/* System instructions: descriptor-table registers (LGDT/LIDT/SGDT/SIDT), SMSW/LMSW,
 * CLTS, INVLPG, INVD/WBINVD, MOV to/from CR and DR, CPUID, RDTSC, RDMSR/WRMSR,
 * SYSENTER/SYSEXIT, and the debug-register machinery (SDM vol. 2 and vol. 3
 * chapters 2, 17). */
#include "cpu/x86/cpu-internal.h"
#include "engine/timer.h"

#define MSR_APIC_BASE 0x1b
#define MSR_MISC_ENABLE 0x1a0

/* The CR4 bits of the model's features; the others are reserved (#GP on a write). */
static uint32_t cr4_valid(const X86Cpu *c)
{
    static const struct {
        uint32_t bit;
        uint64_t feature;
    } bits[] = {
        { X86_CR4_TSD, CPUID_TSC }, { X86_CR4_DE, CPUID_DE }, { X86_CR4_PSE, CPUID_PSE }, { X86_CR4_PAE, CPUID_PAE },
        { X86_CR4_PGE, CPUID_PGE }, { X86_CR4_PCE, CPUID_CMOV /* the P6's RDPMC */ },
        { X86_CR4_OSFXSR, CPUID_FXSR }, { X86_CR4_OSXMMEXCPT, CPUID_SSE },
    };
    uint32_t v = 0;
    for (size_t k = 0; k < G_N_ELEMENTS(bits); k++)
        if (x86_has(c, bits[k].feature))
            v |= bits[k].bit;
    return v;
}

static void need_cpl0(X86Cpu *c)
{
    if (c->pe && c->cpl != 0)
        x86_gp0(c);
}

/* ---- time ---- */

uint64_t x86_rdtsc(X86Cpu *c)
{
    /* The TSC runs at 1 GHz of virtual time. */
    return (uint64_t)(vm_clock_ns(c->v->vm) + c->tsc_offset);
}

static void rdtsc(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if ((c->cr4 & X86_CR4_TSD) && c->pe && c->cpl != 0)
        x86_gp0(c);
    uint64_t t = x86_rdtsc(c);
    c->regs[R_EAX] = (uint32_t)t;
    c->regs[R_EDX] = (uint32_t)(t >> 32);
}

/* ---- control registers ---- */

void x86_write_cr0(X86Cpu *c, uint32_t v)
{
    /* Reserved bits are ignored; ET is hardwired to 1 on the P6. */
    v &= 0xe005003fu;
    v |= X86_CR0_ET;
    if (((v & X86_CR0_PG) && !(v & X86_CR0_PE)) || ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
        x86_gp0(c);
    bool enable_pg = (v & X86_CR0_PG) && !(c->cr0 & X86_CR0_PG);
    if (enable_pg && (c->efer & X86_EFER_LME)) {
        /* Activating IA-32e mode needs PAE, a CS that is not a 64-bit one and a TR
         * that is not a 16-bit TSS (SDM vol. 3, 9.8.5, and MOV to CR0's #GP list);
         * no PDPTEs are loaded. */
        unsigned tr_type = c->tr.attr & 0xf;
        if (!(c->cr4 & X86_CR4_PAE) || (c->seg[S_CS].attr & X86_ATTR_L) || tr_type == 1 || tr_type == 3)
            x86_gp0(c);
    } else if (enable_pg && (c->cr4 & X86_CR4_PAE) && !x86_load_pdptes(c, c->cr3)) {
        x86_gp0(c);
    }
    uint32_t changed = c->cr0 ^ v;
    c->cr0 = v;
    /* LMA follows LME while paging is on, and clears with paging (SDM vol. 3, 9.8.5.4:
     * compatibility-mode code turns paging off to leave IA-32e mode). */
    if (enable_pg && (c->efer & X86_EFER_LME))
        c->efer |= X86_EFER_LMA;
    else if (!(v & X86_CR0_PG))
        c->efer &= ~X86_EFER_LMA;
    if (changed & (X86_CR0_PE | X86_CR0_PG | X86_CR0_WP))
        x86_tlb_flush(c, true);
    x86_update_mode(c);
    c->exit_block = 1;
}

void x86_write_cr3(X86Cpu *c, uint64_t v)
{
    /* IA-32e paging has no PDPTE registers: CR3 points at the PML4 (SDM vol. 3, 4.5). */
    if (c->paging && (c->cr4 & X86_CR4_PAE) && !x86_ia32e(c) && !x86_load_pdptes(c, v))
        x86_gp0(c);
    c->cr3 = v;
    x86_tlb_flush(c, false);
    c->exit_block = 1;
}

void x86_write_cr4(X86Cpu *c, uint32_t v)
{
    if (v & ~cr4_valid(c))
        x86_gp0(c);
    /* PAE may not be cleared in IA-32e mode (SDM vol. 2, MOV to CR4, #GP list). */
    if (x86_ia32e(c) && !(v & X86_CR4_PAE))
        x86_gp0(c);
    if (c->paging && (v & X86_CR4_PAE) && !(c->cr4 & X86_CR4_PAE) && !x86_load_pdptes(c, c->cr3))
        x86_gp0(c);
    uint32_t changed = c->cr4 ^ v;
    c->cr4 = v;
    if (changed & (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE))
        x86_tlb_flush(c, true);
    c->exit_block = 1;
}

static void mov_cr(X86Cpu *c, const X86Insn *i)
{
    if (c->vm86 || (c->pe && c->cpl != 0))
        x86_gp0(c);
    unsigned cr = i->reg;
    if (i->opcode == 0x0f20) {
        uint32_t v;
        switch (cr) {
        case 0: v = c->cr0; break;
        case 2: v = c->cr2; break;
        case 3: v = c->cr3; break;
        case 4: v = c->cr4; break;
        default: x86_ud(c);
        }
        c->regs[i->rm] = v;
        return;
    }
    uint32_t v = c->regs[i->rm];
    switch (cr) {
    case 0: x86_write_cr0(c, v); break;
    case 2: c->cr2 = v; break;
    case 3: x86_write_cr3(c, v); break;
    case 4: x86_write_cr4(c, v); break;
    default: x86_ud(c);
    }
}

/* ---- debug registers (SDM vol. 3, 17.2) ---- */

void x86_update_debug(X86Cpu *c)
{
    uint32_t dr7 = c->dr[7];
    bool code = false, data = false;
    for (unsigned k = 0; k < 4; k++) {
        if (!((dr7 >> (2 * k)) & 3))
            continue;
        unsigned rw = (dr7 >> (16 + 4 * k)) & 3;
        if (rw == 0)
            code = true;
        else if (rw == 1 || rw == 3)
            data = true;
    }
    c->code_bp = code ? X86_CODE_BP_DR : 0;
    x86_debug_refresh(c);
    /* The debugger's watchpoints use the same slow path as DR7's data breakpoints. */
    c->data_bp = data || c->dbg_nwp;
    x86_set_cpl(c, c->cpl);
    c->exit_block = 1;
}

void x86_check_data_bp(X86Cpu *c, uint64_t lin, unsigned size, bool write)
{
    uint32_t dr7 = c->dr[7];
    for (unsigned k = 0; k < 4; k++) {
        if (!((dr7 >> (2 * k)) & 3))
            continue;
        unsigned rw = (dr7 >> (16 + 4 * k)) & 3;
        if (rw == 0 || rw == 2 || (rw == 1 && !write))
            continue;
        static const uint32_t lens[4] = { 1, 2, 8, 4 };
        uint32_t len = lens[(dr7 >> (18 + 4 * k)) & 3];
        uint64_t start = c->dr[k] & ~(uint64_t)(len - 1);
        if (lin < start + len && start < lin + size) {
            c->pending_dr6 |= 1u << k;
            c->exit_block = 1;
        }
    }
    if (c->dbg_nwp)
        x86_debug_check_watch(c, lin, size, write);
}

/* I/O breakpoints (SDM vol. 3, 17.2.4 and 17.2.5): with CR4.DE, an enabled DRn whose
 * R/W field is 10b traps after an IN, OUT, INS or OUTS whose ports overlap its LEN
 * bytes at the port number in DRn[15:0]. Called just before the port access. */
void x86_check_io_bp(X86Cpu *c, uint16_t port, unsigned size)
{
    if (!(c->cr4 & X86_CR4_DE))
        return;
    uint32_t dr7 = (uint32_t)c->dr[7];
    for (unsigned k = 0; k < 4; k++) {
        if (!((dr7 >> (2 * k)) & 3) || ((dr7 >> (16 + 4 * k)) & 3) != 2)
            continue;
        static const uint32_t lens[4] = { 1, 2, 8, 4 };
        uint32_t len = lens[(dr7 >> (18 + 4 * k)) & 3];
        uint32_t start = (uint16_t)c->dr[k] & ~(len - 1);
        if (port < start + len && start < (uint32_t)port + size) {
            c->pending_dr6 |= 1u << k;
            c->exit_block = 1;
        }
    }
}

static void mov_dr(X86Cpu *c, const X86Insn *i)
{
    if (c->vm86 || (c->pe && c->cpl != 0))
        x86_gp0(c);
    unsigned dr = i->reg;
    /* DR4/DR5 alias DR6/DR7, unless CR4.DE makes them #UD (SDM vol. 3, 17.2.2). */
    if (dr == 4 || dr == 5) {
        if (c->cr4 & X86_CR4_DE)
            x86_ud(c);
        dr += 2;
    }
    if (c->dr[7] & (1u << 13)) {
        /* General detect: the access raises #DB (fault) with BD, GD cleared. */
        c->dr[6] |= 1u << 13;
        c->dr[7] &= ~(1u << 13);
        x86_fault(c, X86_EXC_DB);
    }
    /* 64 bits in 64-bit mode, whatever REX.W says (SDM vol. 2, MOV debug registers);
     * DR6 and DR7 keep bits 63:32 zero (#GP(0) on a 1 there). */
    if (i->opcode == 0x0f21) {
        c->regs[i->rm] = c->long64 ? c->dr[dr] : (uint32_t)c->dr[dr];
        return;
    }
    uint64_t v = c->long64 ? c->regs[i->rm] : (uint32_t)c->regs[i->rm];
    if (dr >= 6 && (v >> 32))
        x86_gp0(c);
    if (dr == 6)
        v = (v & 0xe00fu) | 0xffff0ff0u;
    else if (dr == 7)
        v = (v & 0xffff2bffu) | 0x400u;
    c->dr[dr] = v;
    x86_update_debug(c);
}

/* ---- 0F 01 and friends ---- */

static void group7(X86Cpu *c, const X86Insn *i)
{
    unsigned size = x86_osize(i);
    switch (i->reg) {
    case 0: case 1: { /* SGDT, SIDT */
        if (!(i->pfx & X86_PFX_MEM))
            x86_ud(c);
        uint32_t ea = x86_ea(c, i);
        uint32_t base = i->reg == 0 ? c->gdt_base : c->idt_base;
        uint16_t limit = i->reg == 0 ? c->gdt_limit : c->idt_limit;
        if (size == 2)
            base &= 0x00ffffffu;
        uint32_t ea2 = ea + 2;
        if (!(i->pfx & X86_PFX_AD32))
            ea2 &= 0xffff;
        /* Both parts are checked before either is written. */
        x86_lin(c, i->seg, ea2, 4, SEG_OK_WRITE);
        x86_write(c, i->seg, ea, 2, limit);
        x86_write(c, i->seg, ea2, 4, base);
        return;
    }
    case 2: case 3: { /* LGDT, LIDT */
        if (!(i->pfx & X86_PFX_MEM))
            x86_ud(c);
        if (c->vm86)
            x86_gp0(c);
        need_cpl0(c);
        uint32_t ea = x86_ea(c, i);
        uint16_t limit = (uint16_t)x86_read(c, i->seg, ea, 2);
        uint32_t ea2 = ea + 2;
        if (!(i->pfx & X86_PFX_AD32))
            ea2 &= 0xffff;
        uint32_t base = x86_read(c, i->seg, ea2, 4);
        if (size == 2)
            base &= 0x00ffffffu;
        if (i->reg == 2) {
            c->gdt_base = base;
            c->gdt_limit = limit;
        } else {
            c->idt_base = base;
            c->idt_limit = limit;
        }
        return;
    }
    case 4: /* SMSW: the whole CR0 into a 32-bit register, as P6 processors do */
        if (i->pfx & X86_PFX_MEM)
            x86_write(c, i->seg, x86_ea(c, i), 2, c->cr0 & 0xffff);
        else
            x86_set_reg(c, i->rm, size, size == 4 ? c->cr0 : (c->cr0 & 0xffff));
        return;
    case 6: { /* LMSW: PE (which it cannot clear), MP, EM, TS */
        if (c->vm86)
            x86_gp0(c);
        need_cpl0(c);
        uint32_t v = x86_get_rm(c, i, 2);
        uint32_t n = (c->cr0 & ~0xeu) | (v & 0xf);
        x86_write_cr0(c, n);
        return;
    }
    case 7: { /* INVLPG */
        if (!(i->pfx & X86_PFX_MEM)) {
            /* RDTSCP (0F 01 F9) exists outside 64-bit mode too, with its CPUID bit
             * (SDM vol. 2, RDTSCP); SWAPGS is 64-bit only. */
            if (i->modrm != 0xf9 || !(c->model->ext_edx & CPUID_EXT_RDTSCP))
                x86_ud(c);
            if ((c->cr4 & X86_CR4_TSD) && c->pe && c->cpl != 0)
                x86_gp0(c);
            uint64_t t = x86_rdtsc(c);
            c->regs[R_EAX] = (uint32_t)t;
            c->regs[R_EDX] = (uint32_t)(t >> 32);
            c->regs[R_ECX] = (uint32_t)c->tsc_aux;
            return;
        }
        if (c->vm86)
            x86_gp0(c);
        need_cpl0(c);
        x86_tlb_flush_page(c, (c->seg[i->seg].base + x86_ea(c, i)) & c->lin_mask);
        c->exit_block = 1;
        return;
    }
    default:
        x86_ud(c);
    }
}

static void clts(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (c->vm86)
        x86_gp0(c);
    need_cpl0(c);
    c->cr0 &= ~X86_CR0_TS;
}

/* INVD, WBINVD: caches are not modelled, the memory is always coherent. */
static void cache_op(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (c->vm86)
        x86_gp0(c);
    need_cpl0(c);
}

/* ---- CPUID ---- */

static void cpuid(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    uint32_t r[4];
    CpuidWho who;
    vcpu_cpuid_who(c->v, &who);
    who.nx_disabled = c->misc_enable & X86_MISC_ENABLE_XD_DISABLE;
    uint32_t leaf = (uint32_t)c->regs[R_EAX];
    cpu_model_cpuid(c->model, leaf, (uint32_t)c->regs[R_ECX], &who, r);
    /* Intel processors report SYSCALL/SYSRET (80000001h EDX[11]) only to CPUID run in
     * 64-bit mode, where they exist (SDM vol. 2, CPUID); KVM's table keeps the bit. */
    if (leaf == 0x80000001u && !c->long64 && !strcmp(c->model->vendor, "GenuineIntel"))
        r[3] &= ~CPUID_EXT_SYSCALL;
    /* A hardware-disabled APIC (IA32_APIC_BASE[11] clear) leaves CPUID's APIC flag 0
     * (SDM vol. 3, 10.4.3). */
    uint64_t apic_base;
    if (leaf == 1 && (r[3] & CPUID_APIC) && vcpu_apic_base(c->v, &apic_base) && !(apic_base & (1u << 11)))
        r[3] &= ~CPUID_APIC;
    c->regs[R_EAX] = r[0];
    c->regs[R_EBX] = r[1];
    c->regs[R_ECX] = r[2];
    c->regs[R_EDX] = r[3];
    x86_serialize(c);
}

/* ---- MSRs ---- */

static bool mtrr_type_ok(uint64_t t)
{
    return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

static bool msr_read(X86Cpu *c, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case 0x10: *v = x86_rdtsc(c); return true;
    case 0x17: *v = 0; return true; /* platform ID */
    case MSR_APIC_BASE: return vcpu_apic_base(c->v, v);
    case 0x8b: *v = (uint64_t)c->bios_sign_id << 32; return true;
    case 0xfe: *v = c->mtrr_cap; return true;
    case 0x174: *v = c->sysenter_cs; return true;
    case 0x175: *v = c->sysenter_esp; return true;
    case 0x176: *v = c->sysenter_eip; return true;
    case MSR_MISC_ENABLE: *v = c->misc_enable; return true;
    case 0x200 ... 0x20f: *v = c->mtrr_var[msr - 0x200]; return true;
    case 0x250: *v = c->mtrr_fixed[0]; return true;
    case 0x258: case 0x259: *v = c->mtrr_fixed[1 + msr - 0x258]; return true;
    case 0x268 ... 0x26f: *v = c->mtrr_fixed[3 + msr - 0x268]; return true;
    case 0x277: *v = c->pat; return true;
    case 0x2ff: *v = c->mtrr_def_type; return true;
    case 0xc0000080u: *v = c->efer; return true;
    default: return x86_msr64_read(c, msr, v);
    }
}

static bool msr_write(X86Cpu *c, uint32_t msr, uint64_t v)
{
    switch (msr) {
    case 0x10:
        /* P6: only the low 32 bits are written, the high half is cleared. */
        c->tsc_offset = (int64_t)(v & 0xffffffffu) - vm_clock_ns(c->v->vm);
        return true;
    case 0x8b:
        c->bios_sign_id = 0; /* no microcode update loaded */
        return true;
    case MSR_APIC_BASE:
        /* Moving or disabling the APIC changes the memory map, which flushes the TLB
         * through the memory listener. */
        return vcpu_set_apic_base(c->v, v);
    case 0x174: c->sysenter_cs = (uint32_t)v; return true;
    case 0x175: case 0x176:
        /* 64 bits wide with long mode, then canonical or #GP (SDM vol. 2, WRMSR). */
        if (c->model->ext_edx & CPUID_EXT_LM) {
            if ((uint64_t)((int64_t)(v << 16) >> 16) != v)
                return false;
        } else {
            v = (uint32_t)v;
        }
        if (msr == 0x175)
            c->sysenter_esp = v;
        else
            c->sysenter_eip = v;
        return true;
    case 0x200 ... 0x20f:
        if (msr & 1) {
            if (v & (UINT64_C(0xfffffff000000000) | 0x7ff))
                return false;
        } else if ((v & (UINT64_C(0xfffffff000000000) | 0xf00)) || !mtrr_type_ok(v & 0xff)) {
            return false;
        }
        c->mtrr_var[msr - 0x200] = v;
        return true;
    case 0x250: case 0x258: case 0x259: case 0x268 ... 0x26f: {
        for (unsigned k = 0; k < 8; k++)
            if (!mtrr_type_ok((v >> (8 * k)) & 0xff))
                return false;
        unsigned idx = msr == 0x250 ? 0 : msr < 0x268 ? 1 + msr - 0x258 : 3 + msr - 0x268;
        c->mtrr_fixed[idx] = v;
        return true;
    }
    case 0x277:
        /* PAT: eight 3-bit types, 2 and 3 reserved (SDM vol. 3, 11.12.2). */
        for (unsigned n = 0; n < 8; n++) {
            uint64_t t = (v >> (8 * n)) & 0xff;
            if (t > 7 || t == 2 || t == 3)
                return false;
        }
        c->pat = v;
        return true;
    case 0x2ff:
        if ((v & ~UINT64_C(0xcff)) || !mtrr_type_ok(v & 0xff))
            return false;
        c->mtrr_def_type = v;
        return true;
    case MSR_MISC_ENABLE: {
        /* Reserved bits refuse the write; read-only ones keep their value. */
        if (v & ~(X86_MISC_ENABLE_RW | X86_MISC_ENABLE_RO))
            return false;
        uint64_t old = c->misc_enable;
        c->misc_enable = (old & X86_MISC_ENABLE_RO) | (v & X86_MISC_ENABLE_RW);
        if ((old ^ c->misc_enable) & X86_MISC_ENABLE_XD_DISABLE) {
            /* With XD disabled EFER.NXE is reserved; the SDM does not say what
             * becomes of a set NXE, here it is cleared. */
            c->efer &= x86_efer_valid(c);
            x86_tlb_flush(c, true);
            c->exit_block = 1;
        }
        return true;
    }
    case 0xc0000080u:
        /* SCE is writable, but on Intel processors SYSCALL is for 64-bit mode only
         * and stays #UD here (SDM vol. 3, 5.8.8); NXE counts in PAE page walks. LMA
         * is read-only (a write keeps it), and LME may not change while paging is
         * on (SDM vol. 3, 9.8.5). */
        if (v & ~x86_efer_valid(c))
            return false;
        if (c->paging && ((v ^ c->efer) & X86_EFER_LME))
            return false;
        c->efer = (v & ~X86_EFER_LMA) | (c->efer & X86_EFER_LMA);
        x86_tlb_flush(c, true);
        c->exit_block = 1;
        return true;
    default: {
        bool ok = false;
        return x86_msr64_write(c, msr, v, &ok) && ok;
    }
    }
}

/* The MSRs that hold state of their own, for saving and restoring the CPU (the TSC,
 * EFER and the board's APIC base travel separately). */
static const uint32_t msr_state_list[] = {
    0x174, 0x175, 0x176, MSR_MISC_ENABLE,
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
    0x277, 0x2ff,
    /* Long mode; FS and GS bases travel with the segments. */
    0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u, 0xc0000102u, 0xc0000103u, 0xc0010010u,
};

unsigned x86_msr_state_list(const uint32_t **list)
{
    *list = msr_state_list;
    return G_N_ELEMENTS(msr_state_list);
}

bool x86_msr_get(X86Cpu *c, uint32_t msr, uint64_t *v)
{
    return msr_read(c, msr, v);
}

bool x86_msr_set(X86Cpu *c, uint32_t msr, uint64_t v)
{
    return msr_write(c, msr, v);
}

/* Whether the CPU model has an MSR at all: the SYSENTER, MTRR and EFER registers come
 * with their features, and the P6's model-specific ones with the P6 (a Pentium has a
 * different set, of which the TSC is the one kept). The state save and load of every
 * model uses the same list, so this gates the guest's RDMSR/WRMSR only. */
static bool msr_in_model(const X86Cpu *c, uint32_t msr)
{
    switch (msr) {
    case 0x10:
        return true;
    case 0x174 ... 0x176:
        return x86_has(c, CPUID_SEP);
    case 0xfe: case 0x200 ... 0x2ff:
        return x86_has(c, CPUID_MTRR);
    case 0xc0000080u:
        return c->model->ext_edx & CPUID_EXT_NX;
    case 0xc0000081u ... 0xc0000084u: case 0xc0000100u ... 0xc0000102u:
        return c->model->ext_edx & CPUID_EXT_LM;
    case 0xc0000103u:
        return c->model->ext_edx & CPUID_EXT_RDTSCP;
    default:
        return c->model->family >= 6;
    }
}

static void rdmsr_wrmsr(X86Cpu *c, const X86Insn *i)
{
    if (c->vm86 || (c->pe && c->cpl != 0))
        x86_gp0(c);
    uint32_t msr = c->regs[R_ECX];
    if (!msr_in_model(c, msr)) {
        VLOG(LOG_UNIMP, "%s 0x%x: not in CPU model %s (#GP)", i->opcode == 0x0f32 ? "rdmsr" : "wrmsr", msr,
             c->model->name);
        x86_gp0(c);
    }
    if (i->opcode == 0x0f32) {
        uint64_t v;
        if (!msr_read(c, msr, &v)) {
            VLOG(LOG_UNIMP, "rdmsr 0x%x: no such MSR (#GP)", msr);
            x86_gp0(c);
        }
        c->regs[R_EAX] = (uint32_t)v;
        c->regs[R_EDX] = (uint32_t)(v >> 32);
    } else {
        uint64_t v = (uint32_t)c->regs[R_EAX] | ((uint64_t)(uint32_t)c->regs[R_EDX] << 32);
        if (!msr_write(c, msr, v)) {
            VLOG(LOG_UNIMP, "wrmsr 0x%x = 0x%" G_GINT64_MODIFIER "x: refused (#GP)", msr, v);
            x86_gp0(c);
        }
    }
}

/* RDPMC: the P6 performance counters are not implemented, so no counter index is
 * valid and the instruction raises #GP(0) as it does for an invalid ECX. */
static void rdpmc(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    VLOG(LOG_UNIMP, "rdpmc %u: performance counters are not implemented", (uint32_t)c->regs[R_ECX]);
    x86_gp0(c);
}

/* ---- SYSENTER / SYSEXIT (SDM vol. 2) ---- */

static void flat_seg(X86Cpu *c, unsigned which, uint16_t sel, unsigned dpl, bool code)
{
    X86Seg *s = &c->seg[which];
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = X86_ATTR_P | X86_ATTR_S | X86_ATTR_DB | X86_ATTR_G | (uint16_t)(dpl << 5) | (code ? 0xb : 0x3);
}

static void sysenter(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (!c->pe || (c->sysenter_cs & 0xfffc) == 0)
        x86_gp0(c);
    if (x86_ia32e(c)) { /* from compatibility mode: enters 64-bit mode (system64.c) */
        x86_sysenter_ia32e(c);
        return;
    }
    c->eflags &= ~(X86_FL_VM | X86_FL_IF | X86_FL_RF);
    flat_seg(c, S_CS, (uint16_t)(c->sysenter_cs & 0xfffc), 0, true);
    flat_seg(c, S_SS, (uint16_t)((c->sysenter_cs + 8) & 0xfffc), 0, false);
    c->cpl = 0;
    c->regs[R_ESP] = (uint32_t)c->sysenter_esp;
    c->eip = (uint32_t)c->sysenter_eip;
    x86_update_mode(c);
}

static void sysexit(X86Cpu *c, const X86Insn *i)
{
    (void)i;
    if (x86_ia32e(c)) { /* from compatibility mode: to compatibility mode */
        x86_sysexit_ia32e(c, false);
        return;
    }
    if (!c->pe || c->vm86 || c->cpl != 0 || (c->sysenter_cs & 0xfffc) == 0)
        x86_gp0(c);
    flat_seg(c, S_CS, (uint16_t)((c->sysenter_cs + 16) | 3), 3, true);
    flat_seg(c, S_SS, (uint16_t)((c->sysenter_cs + 24) | 3), 3, false);
    c->cpl = 3;
    c->regs[R_ESP] = c->regs[R_ECX];
    c->eip = c->regs[R_EDX];
    x86_update_mode(c);
}

X86Handler x86_bind_system(X86Insn *i)
{
    switch (i->opcode) {
    case 0x0f01: return group7;
    case 0x0f06: return clts;
    case 0x0f08: case 0x0f09: return cache_op;
    case 0x0f20: case 0x0f22: return mov_cr;
    case 0x0f21: case 0x0f23: return mov_dr;
    case 0x0f31: return rdtsc;
    case 0x0f30: case 0x0f32: return rdmsr_wrmsr;
    case 0x0f33: return rdpmc;
    case 0x0f34: return sysenter;
    case 0x0f35: return sysexit;
    case 0x0fa2: return cpuid;
    }
    return NULL;
}
