/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IA-32e mode, phase 1 (issue 18): entering and leaving it from protected mode, the
 * 4-level page walk with 4 KiB, 2 MiB and 1 GiB pages, accessed/dirty bits, NX, #PF
 * error codes and CR2, the #GP rules of CR0/CR4/EFER around it (SDM vol. 3, 4.5 and
 * 9.8.5), the whole-state save and load of a CPU in IA-32e mode, and the clean stop
 * where 64-bit code would have to run. The code (ia32e/frags.asm) runs in
 * compatibility mode, under the interpreter and, where the host has it, the translator.
 * The CPU model is a test model with long mode: no -cpu model offers it yet.
 *
 * Usage: ia32e FRAGS.BIN */
#include "cpu/x86/cpu-internal.h"
#include "cpu/jit/jit.h"
#include "engine/machine.h"
#include "engine/memory.h"
#include "engine/testing.h"

#include "expect.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#define RAM_SIZE (UINT64_C(32) << 20)
#define CODE 0x10000u
#define GDT 0x800u
#define PML4 0x100000u
#define PDPT 0x101000u
#define PD 0x102000u
#define PT 0x103000u
#define PDPT_HI 0x104000u
#define PD_HI 0x105000u
#define PD_ALIAS 0x106000u
#define PT_ALIAS 0x107000u
#define KBASE UINT64_C(0xffffffff80000000)
#define IDT 0x1000u
#define TSS 0x3000u
#define LDT 0x4000u
#define IST1_TOP 0x8f008u /* aligned down to 16 by the CPU */
#define RSP0_TOP 0x9f000u

enum {
    F_ENTER, F_NX, F_RO, F_NP_READ, F_NP_WRITE, F_RSVD, F_CLEAR_PAE, F_LME_CHANGE,
    F_GO64, F_LEAVE, F_PG_WITHOUT_PAE, F_READ_AGAIN, F_WRMSR_LME, F_INT80, F_INT81, F_INT82, F_LTR, F_LLDT,
    F_T64, F_GP64, F_SS64, F_CX16_ALIGN, F_GP64_RIP, F_BYTE64, F_UD64, F_T64_RET,
    F_SYS64, F_SYS64_KERNEL, F_SYS64_UD, F_LAHF64, F_HIGH64, F_HIGH64_HI, F_HIGH64_COMPAT, F_HIGH64_PF, F_DESC64, F_FX64, F_CR8, F_CMP_RO64,
    F_SYSENTER64, F_SYSEXIT64_NC, F_IRET32_64, F_RETF_OUTER, F_RETF_OUTER_USER, F_FAR_MEM64,
    F_GATE64_USER, F_GATE64_USER_RET, F_GATE64_KERNEL, F_GATE64_SAME, F_GATE64_SAME_TARGET, F_GATE64_CALL_AX,
    F_GATE64_JMP_AX, F_GATE64_JMP_TARGET, F_GATE64_COMPAT, F_DR64_DATA, F_DR64_DATA_AFTER, F_DR64_EXEC,
    F_DR64_EXEC_HI, F_DR64_GP, F_COUNT
};

/* A Core 2-like model with long mode, NX and 1 GiB pages. */
static const CpuModel lm_model = {
    "lm-test", "IA-32e test model", "GenuineIntel", 6, 15, 11,
    CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_MTRR |
        CPUID_PGE | CPUID_CMOV | CPUID_FXSR | CPUID_MMX | CPUID_SSE | CPUID_SSE2,
    CPUID_ECX_SSE3 | CPUID_ECX_CX16, CPUID_EXT_NX | CPUID_EXT_LM | CPUID_EXT_PDPE1GB | CPUID_EXT_SYSCALL, 0x80000008u, NULL,
    CPUID_EXT_ECX_LAHF_LM,
};

/* The same without long mode (max, the default model, has long mode now). */
static const CpuModel nolm_model = {
    "nolm-test", "P6 test model with NX and no long mode", "GenuineIntel", 6, 15, 11,
    CPUID_FPU | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_SEP | CPUID_MTRR |
        CPUID_PGE | CPUID_CMOV | CPUID_FXSR | CPUID_MMX | CPUID_SSE | CPUID_SSE2,
    CPUID_ECX_SSE3, CPUID_EXT_NX, 0x80000008u, NULL, 0,
};

typedef struct Env {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
    bool jit;
    uint32_t entry[F_COUNT];
} Env;

enum { P = 1, RW = 2, US = 4, PS = 0x80, ACC = 0x20, DIRTY = 0x40 };
#define XD (UINT64_C(1) << 63)

static void put64(Env *e, uint64_t pa, uint64_t v)
{
    mem_write(e->v->mem, pa, &v, 8);
}
static uint64_t get64(Env *e, uint64_t pa)
{
    uint64_t v = 0;
    mem_read(e->v->mem, pa, &v, 8);
    return v;
}
static void put32(Env *e, uint64_t pa, uint32_t v)
{
    mem_write(e->v->mem, pa, &v, 4);
}
static uint32_t get32(Env *e, uint64_t pa)
{
    uint32_t v = 0;
    mem_read(e->v->mem, pa, &v, 4);
    return v;
}

/* The map: linear 0-2 MiB identity in 4 KiB user pages except 0x1f0000 (read-only, onto
 * 0x5000) and 0x1f1000 (not present); 0x200000 a 2 MiB page onto 0x600000;
 * 0x400000 a 2 MiB page with XD; 0x600000 a 2 MiB entry with a reserved bit (13);
 * 1 GiB-2 GiB one 1 GiB page onto 0. Above 4 GiB: KBASE (0xffffffff80000000) a
 * 2 MiB supervisor page onto 0, KBASE + 0x400000 not present, and 0x100030000 one
 * 4 KiB page onto 0x50000 (its low 32 bits are those of 0x30000, the results). */
static void build_tables(Env *e)
{
    put64(e, PML4, PDPT | P | RW | US);
    put64(e, PDPT, PD | P | RW | US);
    put64(e, PDPT + 8, 0 | P | RW | PS);
    put64(e, PD, PT | P | RW | US);
    put64(e, PD + 8, 0x600000 | P | RW | PS);
    put64(e, PD + 16, 0x400000 | P | RW | PS | XD);
    put64(e, PD + 24, 0x600000 | P | RW | PS | 0x2000);
    for (uint64_t k = 0; k < 512; k++)
        put64(e, PT + 8 * k, (k << 12) | P | RW | US);
    put64(e, PT + 8 * 0x1f0, 0x5000 | P);
    put64(e, PT + 8 * 0x1f1, 0);
    put64(e, PML4 + 8 * 511, PDPT_HI | P | RW);
    put64(e, PDPT_HI + 8 * 510, PD_HI | P | RW);
    put64(e, PD_HI, 0 | P | RW | PS);
    put64(e, PDPT + 8 * 4, PD_ALIAS | P | RW);
    put64(e, PD_ALIAS, PT_ALIAS | P | RW);
    put64(e, PT_ALIAS + 8 * 0x30, 0x50000 | P | RW);
    /* Values the reads must find. */
    put32(e, 0x600010, 0xa5a50010u);
    put32(e, 0x7000, 0x5a5a7000u);
    put32(e, 0x5000, 0x12345000u);
    put32(e, 0x600020, 0);
}

static void env_init(Env *e, const CpuModel *model, bool jit, const uint8_t *code, size_t n)
{
    e->vm = vm_new_for_test(RAM_SIZE);
    e->v = vm_vcpu(e->vm);
    atomic_store(&e->v->a20, true);
    e->c = x86_cpu_new(e->v);
    if (model) {
        e->c->model = model;
        e->c->features = cpu_model_features(model);
    }
    x86_cpu_set_run_flags(e->c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    if (jit) {
        JitOptions o = { .cache_size = 1 << 20 };
        GError *err = NULL;
        if (!jit_attach(e->c, &o, &err)) {
            printf("SKIP: %s\n", err->message);
            exit(77);
        }
    }
    e->jit = jit;
    mem_write(e->v->mem, CODE, code, n);
    memcpy(e->entry, code, sizeof(e->entry));
    /* GDT: null, flat 32-bit code (8), flat data (0x10), 64-bit code (0x18: L set). */
    put64(e, GDT, 0);
    put64(e, GDT + 8, UINT64_C(0x00cf9a000000ffff));
    put64(e, GDT + 16, UINT64_C(0x00cf92000000ffff));
    put64(e, GDT + 24, UINT64_C(0x00af9a000000ffff));
    /* 0x28: ring-3 flat data, 0x30: ring-3 32-bit code. */
    put64(e, GDT + 40, UINT64_C(0x00cff2000000ffff));
    put64(e, GDT + 48, UINT64_C(0x00cffa000000ffff));
    /* 16-byte system descriptors: 0x38 a 64-bit TSS at 0x3000, 0x48 one whose upper
     * half has a type, 0x58 an LDT at 0x4000, 0x68 a TSS cut by the GDT limit (6Fh). */
    put64(e, GDT + 0x38, UINT64_C(0x0000890030000067));
    put64(e, GDT + 0x40, 0);
    put64(e, GDT + 0x48, UINT64_C(0x0000890030000067));
    put64(e, GDT + 0x50, UINT64_C(0x0000010000000000));
    put64(e, GDT + 0x58, UINT64_C(0x00008200400000ff));
    put64(e, GDT + 0x60, 0);
    put64(e, GDT + 0x68, UINT64_C(0x0000890030000067));
    build_tables(e);
    /* IDT of 16-byte gates (SDM vol. 3, figure 6-8): #GP an interrupt gate on the
     * current stack, #PF an interrupt gate on IST1,
     * INT 80h a DPL-3 trap gate, 81h a gate to a 32-bit code segment, 82h not present. */
    uint8_t zero[0x1000] = { 0 };
    mem_write(e->v->mem, IDT, zero, sizeof(zero));
    put64(e, IDT + 16 * 13, UINT64_C(0x00018e0000181313));
    put64(e, IDT + 16 * 14, UINT64_C(0x00018e0100182345));
    put64(e, IDT + 16 * 0x80, UINT64_C(0x0001ef0000183456));
    put64(e, IDT + 16 * 0x81, UINT64_C(0x00008e0000081000));
    put64(e, IDT + 16 * 0x82, UINT64_C(0x00000e0000181000));
    /* The handlers are 64-bit code: HLT. */
    static const uint8_t hlt = 0xf4;
    mem_write(e->v->mem, 0x12345, &hlt, 1);
    mem_write(e->v->mem, 0x13456, &hlt, 1);
    mem_write(e->v->mem, 0x11313, &hlt, 1);
    /* 64-bit TSS: RSP0 at 4, IST1 at 36. */
    mem_write(e->v->mem, TSS, zero, 0x68);
    put64(e, TSS + 4, RSP0_TOP);
    put64(e, TSS + 36, IST1_TOP);

    X86State s;
    x86_cpu_reset(e->c);
    x86_cpu_get_state(e->c, &s);
    for (unsigned k = 0; k < X86_NSEG; k++) {
        s.seg[k].sel = k == X86_CS ? 8 : 0x10;
        s.seg[k].attr = k == X86_CS ? 0xc09b : 0xc093;
        s.seg[k].base = 0;
        s.seg[k].limit = 0xffffffffu;
    }
    s.gdt_base = GDT;
    s.gdt_limit = 0x6f;
    s.idt_base = IDT;
    s.idt_limit = 0xfff;
    s.tr.sel = 0x20;
    s.tr.base = TSS;
    s.tr.limit = 0x67;
    s.tr.attr = 0x8b; /* busy 64-bit TSS */
    s.cr0 = X86_CR0_PE | X86_CR0_ET;
    s.regs[X86_ESP] = 0x90000;
    s.eflags = 2;
    x86_cpu_set_state(e->c, &s);
}

static void env_free(Env *e)
{
    if (e->jit)
        jit_detach(e->c);
    x86_cpu_free(e->c);
    vm_free(e->vm);
}

static X86State state(Env *e)
{
    X86State s;
    x86_cpu_get_state(e->c, &s);
    return s;
}

/* Runs one fragment from its entry in flat 32-bit code at CPL 0, or at CPL 3. */
static X86RunResult run_at(Env *e, unsigned frag, unsigned cpl)
{
    X86State s = state(e);
    s.eip = e->entry[frag];
    for (unsigned k = 0; k < X86_NSEG; k++) {
        bool code = k == X86_CS;
        s.seg[k].sel = (uint16_t)(cpl ? (code ? 0x33 : 0x2b) : (code ? 8 : 0x10));
        s.seg[k].attr = (uint16_t)((code ? 0xc09b : 0xc093) | (cpl << 5));
        s.seg[k].base = 0;
        s.seg[k].limit = 0xffffffffu;
    }
    x86_cpu_set_state(e->c, &s);
    return x86_cpu_run(e->c, 1000);
}
static X86RunResult run(Env *e, unsigned frag)
{
    return run_at(e, frag, 0);
}

/* A fragment must end in exception vec with error code err. */
static void expect_fault(Env *e, const char *what, unsigned frag, int vec, uint32_t err)
{
    X86RunResult r = run(e, frag);
    bool has_err = false;
    uint32_t got_err = 0;
    int got = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(e->c, &has_err, &got_err) : -1;
    EXPECT(got == vec && has_err && got_err == err, "%s: run %d, exception %d error %x (want %d error %x)", what, r,
           got, got_err, vec, err);
}

static void check_enter(Env *e, const char *name)
{
    X86RunResult r = run(e, F_ENTER);
    X86State s = state(e);
    EXPECT(r == X86_RUN_HALT, "%s: entering IA-32e mode ended with %d at %x", name, r, s.eip);
    EXPECT((s.efer & (X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)) ==
               (X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE),
           "%s: EFER %llx after CR0.PG", name, (unsigned long long)s.efer);
    EXPECT((s.regs[X86_ESI] & 0xd00) == 0xd00, "%s: RDMSR EFER read %x", name, s.regs[X86_ESI]);
    EXPECT(s.regs[X86_EAX] == 0xa5a50010u, "%s: 2 MiB page read %x", name, s.regs[X86_EAX]);
    EXPECT(s.regs[X86_EBX] == 0x5a5a7000u, "%s: 1 GiB page read %x", name, s.regs[X86_EBX]);
    EXPECT(s.regs[X86_EDX] == 0x12345000u, "%s: read-only 4 KiB page read %x", name, s.regs[X86_EDX]);
    EXPECT(get32(e, 0x600020) == 0x11223344u, "%s: write through the 2 MiB page: %x", name, get32(e, 0x600020));
    /* Accessed bits on every level walked, dirty on the written 2 MiB page only. */
    EXPECT(get64(e, PML4) & ACC, "%s: PML4E not accessed", name);
    EXPECT(get64(e, PDPT) & ACC, "%s: PDPTE 0 not accessed", name);
    EXPECT((get64(e, PDPT + 8) & (ACC | DIRTY)) == ACC, "%s: 1 GiB PDPTE %llx", name,
           (unsigned long long)get64(e, PDPT + 8));
    EXPECT((get64(e, PD + 8) & (ACC | DIRTY)) == (ACC | DIRTY), "%s: written 2 MiB PDE %llx", name,
           (unsigned long long)get64(e, PD + 8));
    EXPECT((get64(e, PT + 8 * 0x1f0) & (ACC | DIRTY)) == ACC, "%s: read-only PTE %llx", name,
           (unsigned long long)get64(e, PT + 8 * 0x1f0));
    /* The debugger's walk agrees. */
    uint64_t pa = 0;
    EXPECT(x86_cpu_debug_translate(e->c, 0x40007123u, &pa) && pa == 0x7123, "%s: debug walk 1 GiB: %llx", name,
           (unsigned long long)pa);
    EXPECT(x86_cpu_debug_translate(e->c, 0x2abcdeu, &pa) && pa == 0x6abcde, "%s: debug walk 2 MiB: %llx", name,
           (unsigned long long)pa);
    EXPECT(!x86_cpu_debug_translate(e->c, 0x1f1000u, &pa), "%s: debug walk of a missing page", name);
}

static void check_faults(Env *e)
{
    expect_fault(e, "NX fetch", F_NX, X86_EXC_PF, 0x11);
    EXPECT(state(e).cr2 == 0x400000 && state(e).eip == 0x400000, "NX fetch: CR2 %x EIP %x", state(e).cr2,
           state(e).eip);
    expect_fault(e, "read-only write", F_RO, X86_EXC_PF, 0x3);
    EXPECT(state(e).cr2 == 0x1f0004, "read-only write: CR2 %x", state(e).cr2);
    expect_fault(e, "not-present read", F_NP_READ, X86_EXC_PF, 0x0);
    EXPECT(state(e).cr2 == 0x1f1008, "not-present read: CR2 %x", state(e).cr2);
    expect_fault(e, "not-present write", F_NP_WRITE, X86_EXC_PF, 0x2);
    EXPECT(state(e).cr2 == 0x1f1ffc, "not-present write: CR2 %x", state(e).cr2);
    expect_fault(e, "reserved bit", F_RSVD, X86_EXC_PF, 0x9);
    EXPECT(state(e).cr2 == 0x600000, "reserved bit: CR2 %x", state(e).cr2);
    expect_fault(e, "CR4.PAE cleared in IA-32e mode", F_CLEAR_PAE, X86_EXC_GP, 0);
    EXPECT(state(e).cr4 & X86_CR4_PAE, "CR4.PAE cleared in IA-32e mode");
    expect_fault(e, "EFER.LME changed with paging on", F_LME_CHANGE, X86_EXC_GP, 0);
    EXPECT(state(e).efer & X86_EFER_LMA, "EFER changed by a refused WRMSR");
}

/* Delivery through the 64-bit IDT (SDM vol. 3, 6.14): the gate checks, then the frame
 * of 8-byte words on the IST or RSP0 stack aligned to 16, and CS:RIP of the handler,
 * where the VM stops, since the handler is 64-bit code. */
static void check_delivery(Env *e)
{
    expect_fault(e, "INT to a gate that is not present", F_INT82, X86_EXC_NP, 0x82 * 8 + 2);

    x86_cpu_set_run_flags(e->c, X86_RUN_STOP_ON_HLT);
    X86State s = state(e);
    s.eflags = 0x202;
    x86_cpu_set_state(e->c, &s);
    X86RunResult r = run(e, F_NX);
    s = state(e);
    uint64_t top = IST1_TOP & ~15u;
    EXPECT(r == X86_RUN_HALT, "#PF through IST1: run %d", r);
    EXPECT(s.seg[X86_CS].sel == 0x18 && s.eip == 0x12346 && s.regs[X86_ESP] == top - 48 && s.cr2 == 0x400000,
           "#PF through IST1: CS:EIP %x:%x ESP %x CR2 %x", s.seg[X86_CS].sel, s.eip, s.regs[X86_ESP], s.cr2);
    EXPECT(!(s.eflags & X86_FL_IF), "#PF through an interrupt gate left IF set");
    static const char *names[] = { "SS", "RSP", "RFLAGS", "CS", "RIP", "error code" };
    uint64_t want[6] = { 0x10, 0x90000, 0x10202, 0x08, 0x400000, 0x11 };
    for (unsigned k = 0; k < 6; k++)
        EXPECT(get64(e, top - 8 * (k + 1)) == want[k], "#PF frame %s: %llx, want %llx", names[k],
               (unsigned long long)get64(e, top - 8 * (k + 1)), (unsigned long long)want[k]);
    atomic_store(&e->v->requests, 0); /* the stop asked the VM to shut down */

    /* From CPL 3: RSP0, the old SS:RSP, a null SS; a trap gate keeps IF. */
    s = state(e);
    s.regs[X86_ESP] = 0x70008;
    s.eflags = 0x202;
    x86_cpu_set_state(e->c, &s);
    r = run_at(e, F_INT80, 3);
    s = state(e);
    EXPECT(r == X86_RUN_HALT, "INT 80h from CPL 3: run %d", r);
    EXPECT(s.seg[X86_CS].sel == 0x18 && s.eip == 0x13457 && s.regs[X86_ESP] == RSP0_TOP - 40 &&
               s.seg[X86_SS].sel == 0 && s.cpl == 0 && (s.eflags & X86_FL_IF),
           "INT 80h from CPL 3: CS:EIP %x:%x ESP %x SS %x CPL %u EFLAGS %x", s.seg[X86_CS].sel, s.eip,
           s.regs[X86_ESP], s.seg[X86_SS].sel, s.cpl, s.eflags);
    uint64_t want3[5] = { 0x2b, 0x70008, 0x202, 0x33, e->entry[F_INT80] + 2 };
    for (unsigned k = 0; k < 5; k++)
        EXPECT(get64(e, RSP0_TOP - 8 * (k + 1)) == want3[k], "INT 80h frame %s: %llx, want %llx", names[k],
               (unsigned long long)get64(e, RSP0_TOP - 8 * (k + 1)), (unsigned long long)want3[k]);
    atomic_store(&e->v->requests, 0);

    /* INT 81h's gate leads to a 32-bit code segment: #GP(selector) raised while
     * delivering it, itself delivered on the current stack, aligned, at the INT. */
    s = state(e);
    s.regs[X86_ESP] = 0x90008;
    x86_cpu_set_state(e->c, &s);
    r = run(e, F_INT81);
    s = state(e);
    EXPECT(r == X86_RUN_HALT && s.seg[X86_CS].sel == 0x18 && s.eip == 0x11314 && s.regs[X86_ESP] == 0x90000 - 48,
           "#GP from INT 81h: run %d CS:EIP %x:%x ESP %x", r, s.seg[X86_CS].sel, s.eip, s.regs[X86_ESP]);
    uint64_t want_gp[6] = { 0x10, 0x90008, 0x10202, 0x08, e->entry[F_INT81], 0x08 };
    for (unsigned k = 0; k < 6; k++)
        EXPECT(get64(e, 0x90000 - 8 * (k + 1)) == want_gp[k], "#GP frame %s: %llx, want %llx", names[k],
               (unsigned long long)get64(e, 0x90000 - 8 * (k + 1)), (unsigned long long)want_gp[k]);
    atomic_store(&e->v->requests, 0);
    x86_cpu_set_run_flags(e->c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
}

/* LTR and LLDT read 16-byte descriptors in IA-32e mode. */
static void check_sys_desc(Env *e)
{
    static const struct {
        uint16_t sel;
        unsigned frag;
        const char *what;
    } bad[] = {
        { 0x48, F_LTR, "LTR of a TSS descriptor with a type in its upper half" },
        { 0x68, F_LTR, "LTR of a TSS descriptor past the GDT limit" },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
        X86State s = state(e);
        s.regs[X86_EAX] = bad[k].sel;
        x86_cpu_set_state(e->c, &s);
        expect_fault(e, bad[k].what, bad[k].frag, X86_EXC_GP, bad[k].sel);
    }
    X86State s = state(e);
    s.regs[X86_EAX] = 0x38;
    x86_cpu_set_state(e->c, &s);
    X86RunResult r = run(e, F_LTR);
    s = state(e);
    uint64_t d = get64(e, GDT + 0x38);
    EXPECT(r == X86_RUN_HALT && s.tr.sel == 0x38 && s.tr.base == TSS && s.tr.limit == 0x67 && ((d >> 40) & 0xf) == 0xb,
           "LTR 38h: run %d TR %x base %x limit %x, descriptor type %x", r, s.tr.sel, s.tr.base, s.tr.limit,
           (unsigned)((d >> 40) & 0xf));
    s.regs[X86_EAX] = 0x58;
    x86_cpu_set_state(e->c, &s);
    r = run(e, F_LLDT);
    s = state(e);
    EXPECT(r == X86_RUN_HALT && s.ldtr.sel == 0x58 && s.ldtr.base == 0x4000 && s.ldtr.limit == 0xff,
           "LLDT 58h: run %d LDTR %x base %x limit %x", r, s.ldtr.sel, s.ldtr.base, s.ldtr.limit);
}

/* The whole state of a CPU in IA-32e mode goes through save and load; states that
 * contradict themselves or the model are refused. */
static void check_save_load(Env *e, const uint8_t *code, size_t n)
{
    static CpuX86State st;
    x86_cpu_save(e->c, &st);
    EXPECT(st.efer & X86_EFER_LMA, "saved EFER %llx", (unsigned long long)st.efer);
    Env f;
    env_init(&f, &lm_model, false, code, n);
    build_tables(&f);
    GError *err = NULL;
    EXPECT(x86_cpu_load(f.c, &st, &err), "load of an IA-32e state: %s", err ? err->message : "");
    g_clear_error(&err);
    X86RunResult res = run(&f, F_READ_AGAIN);
    X86State s = state(&f);
    EXPECT(res == X86_RUN_HALT && s.regs[X86_EAX] == 0xa5a50010u && s.regs[X86_EBX] == 0x5a5a7000u,
           "after load: run %d, reads %x %x", res, s.regs[X86_EAX], s.regs[X86_EBX]);
    /* All 64 bits of RAX..R15 are state on a model with long mode. */
    static CpuX86State wide, back;
    wide = st;
    wide.regs[0] |= UINT64_C(0xfeed) << 40;
    for (unsigned r = 8; r < 16; r++)
        wide.regs[r] = UINT64_C(0x0123456789abcdef) * (r + 1);
    EXPECT(x86_cpu_load(f.c, &wide, &err), "load of 64-bit registers: %s", err ? err->message : "");
    g_clear_error(&err);
    x86_cpu_save(f.c, &back);
    EXPECT(!memcmp(back.regs, wide.regs, sizeof(wide.regs)), "RAX..R15 changed by load and save: R9 %llx",
           (unsigned long long)back.regs[9]);
    env_free(&f);

    static CpuX86State bad;
    bad = st;
    bad.efer &= ~X86_EFER_LMA;
    EXPECT(!x86_cpu_load(e->c, &bad, &err), "EFER.LME with paging but no LMA accepted");
    if (err)
        printf("  (refused: %s)\n", err->message);
    g_clear_error(&err);
    Env g;
    env_init(&g, &nolm_model, false, code, n);
    EXPECT(!x86_cpu_load(g.c, &st, &err), "an IA-32e state accepted by a model without long mode");
    if (err)
        printf("  (refused: %s)\n", err->message);
    g_clear_error(&err);
    bad = st;
    bad.efer = X86_EFER_NXE;
    bad.cr0 &= ~(uint64_t)X86_CR0_PG;
    bad.regs[12] = 1;
    EXPECT(!x86_cpu_load(g.c, &bad, &err), "R12 accepted by a model without long mode");
    if (err)
        printf("  (refused: %s)\n", err->message);
    g_clear_error(&err);
    env_free(&g);
}

static void check_leave_and_64(Env *e)
{
    X86RunResult r = run(e, F_LEAVE);
    X86State s = state(e);
    EXPECT(r == X86_RUN_HALT && !(s.cr0 & X86_CR0_PG), "leaving: run %d, CR0 %x", r, s.cr0);
    EXPECT((s.regs[X86_EAX] & 0x500) == 0x100 && !(s.efer & X86_EFER_LMA),
           "leaving: EFER read %x, now %llx (LME stays, LMA clears)", s.regs[X86_EAX], (unsigned long long)s.efer);
    expect_fault(e, "CR0.PG with LME but no PAE", F_PG_WITHOUT_PAE, X86_EXC_GP, 0);
    EXPECT(!(state(e).efer & X86_EFER_LMA), "LMA set by a refused CR0 write");
    /* Not with TR on a 16-bit TSS. */
    s = state(e);
    s.tr.attr = 0x83;
    x86_cpu_set_state(e->c, &s);
    expect_fault(e, "CR0.PG with LME and a 16-bit TSS", F_ENTER, X86_EXC_GP, 0);
    EXPECT(!(state(e).efer & X86_EFER_LMA), "LMA set with a 16-bit TSS");
    s = state(e);
    s.tr.attr = 0x8b;
    x86_cpu_set_state(e->c, &s);
    /* Back in, then a far jump to a 64-bit code segment runs t64 (check_64). */
    r = run(e, F_ENTER);
    EXPECT(r == X86_RUN_HALT, "re-entering: %d", r);
    r = run(e, F_GO64);
    EXPECT(r == X86_RUN_HALT, "64-bit code: run %d", r);
}

/* Runs a fragment in 64-bit mode (CS 18h: L set) at CPL 0; IA-32e mode is active. */
static X86RunResult run64(Env *e, unsigned frag)
{
    X86State s = state(e);
    s.eip = e->entry[frag];
    for (unsigned k = 0; k < X86_NSEG; k++) {
        bool code = k == X86_CS;
        s.seg[k].sel = (uint16_t)(code ? 0x18 : 0x10);
        s.seg[k].attr = (uint16_t)(code ? 0xa09b : 0xc093);
        s.seg[k].base = 0;
        s.seg[k].limit = 0xffffffffu;
    }
    s.regs[X86_ESP] = 0x90000;
    x86_cpu_set_state(e->c, &s);
    return x86_cpu_run(e->c, 100000);
}

static void expect_fault64(Env *e, const char *what, unsigned frag, int vec, bool has_err, uint32_t err)
{
    X86RunResult r = run64(e, frag);
    bool got_has = false;
    uint32_t got_err = 0;
    int got = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(e->c, &got_has, &got_err) : -1;
    EXPECT(got == vec && got_has == has_err && got_err == err,
           "%s: run %d, exception %d error %x (want %d error %x)", what, r, got, got_err, vec, err);
}

/* 64-bit linear addresses (phase 3, frags.asm high64): code, stack, FS base and GDT
 * above 4 GiB, then a compatibility-mode read whose TLB slot a 64-bit page with the
 * same low 32 bits holds; a #PF above 4 GiB reports all of CR2. */
static void check_high64(Env *e, const char *name)
{
    const uint64_t res = 0x30000;
    X86RunResult r = run64(e, F_HIGH64);
    X86Cpu *c = e->c;
    EXPECT(r == X86_RUN_HALT && !c->long64 && c->eip > e->entry[F_HIGH64_COMPAT] &&
               c->eip <= e->entry[F_HIGH64_COMPAT] + 16,
           "%s: high64: run %d, RIP %" G_GINT64_MODIFIER "x", name, r, c->eip);
    const uint64_t want[] = {
        KBASE + e->entry[F_HIGH64_HI], 0, 0x4455, KBASE + 0x30800, KBASE + 0x800, 0x1357,
    };
    for (unsigned k = 0; k < G_N_ELEMENTS(want); k++) {
        uint64_t got = get64(e, res + 8 * (60 + k));
        if (k == 1) /* the return address: the instruction after CALL, above 4 GiB */
            EXPECT(got > KBASE + e->entry[F_HIGH64] && got < KBASE + e->entry[F_HIGH64_COMPAT],
                   "%s: high64 check 61: %llx", name, (unsigned long long)got);
        else
            EXPECT(got == want[k], "%s: high64 check %u: %llx, want %llx", name, 60 + k, (unsigned long long)got,
                   (unsigned long long)want[k]);
    }
    EXPECT(get64(e, 0x50f00) == 0x6677, "%s: the store through 0x100030f00 went to %llx", name,
           (unsigned long long)get64(e, 0x50f00));
    expect_fault64(e, "not present above 4 GiB", F_HIGH64_PF, X86_EXC_PF, true, 0);
    EXPECT(c->cr2 == KBASE + 0x400000, "%s: CR2 %" G_GINT64_MODIFIER "x", name, c->cr2);
    r = run64(e, F_DESC64);
    EXPECT(r == X86_RUN_HALT && get64(e, res + 8 * 70) == 0x38 && get64(e, res + 8 * 71) == 0x58 &&
               c->tr.sel == 0x38 && c->tr.base == 0x3000 && c->ldtr.sel == 0x58 && c->ldtr.base == 0x4000,
           "%s: LTR/STR/LLDT/SLDT in 64-bit mode: run %d, STR %llx SLDT %llx", name, r,
           (unsigned long long)get64(e, res + 8 * 70), (unsigned long long)get64(e, res + 8 * 71));
    r = run64(e, F_FX64);
    EXPECT(r == X86_RUN_HALT && get64(e, res + 8 * 72) == UINT64_C(0x1122334455667788) &&
               get64(e, res + 8 * 73) == 0x5566 && c->fpu.xmm[11].q[0] == 0x5566,
           "%s: FXSAVE64/FXRSTOR64 with XMM8-15: run %d, %llx %llx", name, r,
           (unsigned long long)get64(e, res + 8 * 72), (unsigned long long)get64(e, res + 8 * 73));
    expect_fault64(e, "CR8 with bits 63:4", F_CR8, X86_EXC_GP, true, 0);
    EXPECT(get64(e, res + 8 * 74) == 9 && c->cr8 == 9, "%s: CR8 read back %llx", name,
           (unsigned long long)get64(e, res + 8 * 74));
    expect_fault64(e, "ADD to a read-only page after CMPs of it", F_CMP_RO64, X86_EXC_PF, true, 3);
    EXPECT(get64(e, res + 8 * 75) == 1, "%s: CMP r/m64 of a read-only page: %llx", name,
           (unsigned long long)get64(e, res + 8 * 75));
    /* SYSENTER/SYSEXIT in IA-32e mode (frags.asm sysenter64). */
    r = run64(e, F_SYSENTER64);
    const uint64_t want_se[] = { 0x2b, UINT64_C(0x200008000), 0x08, UINT64_C(0x10008ff00),
                                 0x1b | UINT64_C(0x8fff0) << 32, 0x08, 0x10 };
    EXPECT(r == X86_RUN_HALT && c->long64 && c->cpl == 0, "%s: sysenter64: run %d", name, r);
    for (unsigned k = 0; k < G_N_ELEMENTS(want_se); k++) {
        uint64_t got = get64(e, res + 8 * (76 + k));
        EXPECT(got == want_se[k], "%s: SYSENTER/SYSEXIT check %u: %llx, want %llx", name, 76 + k,
               (unsigned long long)got, (unsigned long long)want_se[k]);
    }
    expect_fault64(e, "SYSEXIT to a non-canonical RIP", F_SYSEXIT64_NC, X86_EXC_GP, true, 0);
    /* RETF imm16 to an outer level (frags.asm retf_outer). */
    r = run64(e, F_RETF_OUTER);
    {
        bool has_err = false;
        uint32_t err_code = 0;
        int vec = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(c, &has_err, &err_code) : -1;
        X86State st = state(e);
        EXPECT(vec == X86_EXC_UD && st.eip == e->entry[F_RETF_OUTER_USER] && st.cpl == 3 &&
                   st.seg[X86_CS].sel == 0x33 && st.seg[X86_SS].sel == 0x2b && st.regs[X86_ESP] == 0x8f010 &&
                   st.seg[X86_DS].sel == 0 && !c->long64,
               "%s: RETF to CPL 3: run %d vector %d at %x:%llx CPL %u SS %x ESP %llx DS %x", name, r, vec,
               st.seg[X86_CS].sel, (unsigned long long)st.eip, st.cpl, st.seg[X86_SS].sel,
               (unsigned long long)st.regs[X86_ESP], st.seg[X86_DS].sel);
    }
    /* Far CALL m16:64 and JMP m16:32 (frags.asm far_mem64). */
    r = run64(e, F_FAR_MEM64);
    EXPECT(r == X86_RUN_HALT && c->long64 && get64(e, res + 8 * 85) == 16 && get64(e, res + 8 * 86) == 0x18 &&
               get64(e, res + 8 * 87) == 0 && (uint32_t)get64(e, res + 8 * 88) == 0x08 && c->regs[X86_ESP] == 0x90000,
           "%s: far CALL/JMP through memory: run %d, %llx %llx %llx %llx", name, r,
           (unsigned long long)get64(e, res + 8 * 85), (unsigned long long)get64(e, res + 8 * 86),
           (unsigned long long)get64(e, res + 8 * 87), (unsigned long long)get64(e, res + 8 * 88));
    /* IRET with 32-bit slots, 64-bit to compatibility mode and back (frags.asm iret32_64). */
    r = run64(e, F_IRET32_64);
    EXPECT(r == X86_RUN_HALT && c->long64 && (uint32_t)get64(e, res + 8 * 83) == 0x90000 &&
               get64(e, res + 8 * 84) == 1 && c->regs[X86_ESP] == 0x90000,
           "%s: IRETD in IA-32e mode: run %d, ESP in compatibility mode %llx, RSP %llx", name, r,
           (unsigned long long)get64(e, res + 8 * 83), (unsigned long long)c->regs[X86_ESP]);
}

/* 64-bit code (issue 18, phase 2): t64's results (frags.asm says what each is), then
 * the faults of 64-bit mode. Runs after check_leave_and_64 ran t64. */
static void check_64(Env *e, const char *name)
{
    const uint64_t res = 0x30000;
    const uint64_t want[] = {
        UINT64_C(0x8877665544332211), 0x12345678, UINT64_C(0xffffffffffff1234), 0x4422,
        UINT64_C(0x020406080a0c0e10), 0x55, UINT64_C(0xffffffff80000000), UINT64_C(0xfffffffffffffffe),
        ~UINT64_C(0), UINT64_C(0xfffffffffffffffe), 1, UINT64_C(0x5555555555555555), 1,
        (uint64_t)-3, ~UINT64_C(0), UINT64_C(0xfffffffffffffffe), UINT64_C(0x0123456789abcdef),
        e->entry[F_T64], e->entry[F_T64_RET], 0, UINT64_C(0xfffffffffffffffe), 0x30818, 3, 5, 4, 1,
        UINT64_C(0x0807060504030201), (uint64_t)-3000, UINT64_C(0x8000000000000000),
        UINT64_C(0x0000000600000001), 1, 0x8877, 2, UINT64_C(0x100000000), 0x2345678a, 1, 0x704, 1,
    };
    for (unsigned k = 0; k < G_N_ELEMENTS(want); k++) {
        uint64_t got = get64(e, res + 8 * k);
        EXPECT(got == want[k], "%s: 64-bit check %u: %llx, want %llx", name, k, (unsigned long long)got,
               (unsigned long long)want[k]);
    }
    expect_fault64(e, "non-canonical load", F_GP64, X86_EXC_GP, true, 0);
    expect_fault64(e, "non-canonical RSP", F_SS64, X86_EXC_SS, true, 0);
    expect_fault64(e, "CMPXCHG16B not 16-byte aligned", F_CX16_ALIGN, X86_EXC_GP, true, 0);
    expect_fault64(e, "PUSH ES in 64-bit mode", F_UD64, X86_EXC_UD, false, 0);
    X86RunResult r = run64(e, F_BYTE64);
    X86Cpu *c = e->c;
    EXPECT(r == X86_RUN_HALT && (c->regs[12] & 0xff) == 0x88 && (c->regs[7] & 0xff) == 0x99 &&
               ((c->regs[3] >> 8) & 0xff) == 0xaa && c->regs[0] == UINT64_C(0x1122334455667788),
           "%s: byte registers: run %d R12 %llx RDI %llx RBX %llx", name, r, (unsigned long long)c->regs[12],
           (unsigned long long)c->regs[7], (unsigned long long)c->regs[3]);
    /* SYSCALL/SYSRET, SWAPGS, FS/GS bases, IRETQ (frags.asm sys64). */
    r = run64(e, F_SYS64);
    bool has = false;
    uint32_t err = 0;
    int vec = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(c, &has, &err) : -1;
    X86State s = state(e);
    EXPECT(vec == X86_EXC_UD && s.eip == e->entry[F_SYS64_UD] && s.cpl == 3 && s.seg[X86_CS].sel == 0x33 &&
               !(c->long64),
           "%s: sys64 ended with run %d vector %d at %x:%x CPL %u", name, r, vec, s.seg[X86_CS].sel, s.eip, s.cpl);
    const uint64_t want_sys[] = { 0x1111, 0x2222, 0x3333, 0x33, 0x2b, e->entry[F_SYS64_KERNEL], 0x202, 0x2, 0x18,
                                  0x33, 1, 0x8f000, 0 };
    for (unsigned k = 0; k < G_N_ELEMENTS(want_sys); k++) {
        uint64_t got = get64(e, res + 8 * (40 + k));
        if (k == 9 || k >= 11)
            got &= 0xffffffffu; /* stored by 32-bit code */
        EXPECT(got == want_sys[k], "%s: system check %u: %llx, want %llx", name, 40 + k, (unsigned long long)got,
               (unsigned long long)want_sys[k]);
    }
    expect_fault64(e, "non-canonical RIP", F_GP64_RIP, X86_EXC_GP, true, 0);
    check_high64(e, name);
}

/* The 64-bit-mode decoder (SDM vol. 2, 2.2 and appendix A): REX (incl. voided by a
 * later legacy prefix), register extension, RIP-relative and SIB forms with R12/R13,
 * imm64 and moffs64, default and forced 64-bit operand sizes, the opcodes invalid
 * there, ignored segment overrides. */
typedef struct Dec64 {
    const char *what;
    uint8_t bytes[15];
    uint8_t len;
    uint16_t opcode;
    uint8_t flags; /* X86_INSN_OP64 | AD64 | RIPREL | IMM64 expected */
    uint8_t reg, rm, base, index;
    uint64_t value; /* disp, or the imm64 / moffs64 */
    bool ud;
} Dec64;

#define NONE X86_REG_NONE
static const Dec64 dec64[] = {
    { "add rax, rcx", { 0x48, 0x01, 0xc8 }, 3, 0x01, X86_INSN_OP64 | X86_INSN_AD64, 1, 0, NONE, NONE, 0, false },
    { "add r8, r9", { 0x4d, 0x01, 0xc8 }, 3, 0x01, X86_INSN_OP64 | X86_INSN_AD64, 9, 8, NONE, NONE, 0, false },
    { "mov rax, [rip+disp]", { 0x48, 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12 }, 7, 0x8b,
      X86_INSN_OP64 | X86_INSN_AD64 | X86_INSN_RIPREL, 0, NONE, NONE, NONE, 0x12345678, false },
    { "mov eax, [eip+disp]", { 0x67, 0x8b, 0x05, 0x10, 0, 0, 0 }, 7, 0x8b, X86_INSN_RIPREL, 0, NONE, NONE, NONE,
      0x10, false },
    { "mov rax, imm64", { 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 10, 0xb8,
      X86_INSN_OP64 | X86_INSN_AD64 | X86_INSN_IMM64, 0, NONE, NONE, NONE, UINT64_C(0x1122334455667788), false },
    { "mov r15, imm64", { 0x49, 0xbf, 1, 0, 0, 0, 0, 0, 0, 0x80 }, 10, 0xbf,
      X86_INSN_OP64 | X86_INSN_AD64 | X86_INSN_IMM64, 15, NONE, NONE, NONE, UINT64_C(0x8000000000000001), false },
    { "mov eax, imm32", { 0xb8, 0x78, 0x56, 0x34, 0x12 }, 5, 0xb8, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, false },
    { "mov rax, imm32 sign-extended", { 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff }, 7, 0xc7,
      X86_INSN_OP64 | X86_INSN_AD64, 0, 0, NONE, NONE, 0, false },
    { "push r15", { 0x41, 0x57 }, 2, 0x57, X86_INSN_OP64 | X86_INSN_AD64, 15, NONE, NONE, NONE, 0, false },
    { "push ax", { 0x66, 0x50 }, 2, 0x50, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, false },
    { "push qword [rax]", { 0xff, 0x30 }, 2, 0xff, X86_INSN_OP64 | X86_INSN_AD64, 6, NONE, 0, NONE, 0, false },
    { "call rel32", { 0xe8, 0, 0, 0, 0 }, 5, 0xe8, X86_INSN_OP64 | X86_INSN_AD64, 0, NONE, NONE, NONE, 0, false },
    { "66 call rel32 (Intel: still 64)", { 0x66, 0xe8, 0, 0, 0, 0 }, 6, 0xe8, X86_INSN_OP64 | X86_INSN_AD64, 0, NONE,
      NONE, NONE, 0, false },
    { "66 call rax", { 0x66, 0xff, 0xd0 }, 3, 0xff, X86_INSN_OP64 | X86_INSN_AD64, 2, 0, NONE, NONE, 0, false },
    { "movsxd rax, ecx", { 0x48, 0x63, 0xc1 }, 3, 0x63, X86_INSN_OP64 | X86_INSN_AD64, 0, 1, NONE, NONE, 0, false },
    /* SPL-DIL are byte registers 20-23 (x86_reg8). */
    { "mov dil, sil", { 0x40, 0x88, 0xf7 }, 3, 0x88, X86_INSN_AD64, 22, 23, NONE, NONE, 0, false },
    { "mov r9b, r10b", { 0x45, 0x88, 0xd1 }, 3, 0x88, X86_INSN_AD64, 10, 9, NONE, NONE, 0, false },
    { "mov bh, ch (no REX)", { 0x88, 0xef }, 2, 0x88, X86_INSN_AD64, 5, 7, NONE, NONE, 0, false },
    { "mov eax, [r12*4+disp32]", { 0x42, 0x8b, 0x04, 0xa5, 0x10, 0, 0, 0 }, 8, 0x8b, X86_INSN_AD64, 0, NONE, NONE,
      12, 0x10, false },
    { "mov eax, [r12]", { 0x41, 0x8b, 0x04, 0x24 }, 4, 0x8b, X86_INSN_AD64, 0, NONE, 12, NONE, 0, false },
    { "mov eax, [r13+8]", { 0x41, 0x8b, 0x45, 0x08 }, 4, 0x8b, X86_INSN_AD64, 0, NONE, 13, NONE, 8, false },
    { "mov eax, moffs64", { 0xa1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, 9, 0xa1,
      X86_INSN_AD64 | X86_INSN_IMM64, 0, NONE, NONE, NONE, UINT64_C(0x1122334455667788), false },
    { "REX voided by 66 after it", { 0x48, 0x66, 0x01, 0xc8 }, 4, 0x01, X86_INSN_AD64, 1, 0, NONE, NONE, 0, false },
    { "syscall", { 0x0f, 0x05 }, 2, 0x0f05, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, false },
    { "swapgs", { 0x0f, 0x01, 0xf8 }, 3, 0x0f01, X86_INSN_AD64, 7, 0, NONE, NONE, 0, false },
    { "push es (invalid)", { 0x06 }, 1, 0x06, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, true },
    { "pusha (invalid)", { 0x60 }, 1, 0x60, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, true },
    { "aaa (invalid)", { 0x37 }, 1, 0x37, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, true },
    { "into (invalid)", { 0xce }, 1, 0xce, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, true },
    { "jmp far ptr (invalid)", { 0xea, 0, 0, 0, 0, 8, 0 }, 1, 0xea, X86_INSN_AD64, 0, NONE, NONE, NONE, 0, true },
    { "lock add to a register", { 0xf0, 0x48, 0x01, 0xc8 }, 4, 0x01, X86_INSN_OP64 | X86_INSN_AD64, 1, 0, NONE, NONE,
      0, true },
};

static void check_decode64(void)
{
    for (size_t k = 0; k < G_N_ELEMENTS(dec64); k++) {
        const Dec64 *d = &dec64[k];
        X86Insn i;
        X86DecodeResult r = x86_decode64(d->bytes, sizeof(d->bytes), &i);
        uint8_t mask = X86_INSN_OP64 | X86_INSN_AD64 | X86_INSN_RIPREL | X86_INSN_IMM64;
        bool mem = i.pfx & X86_PFX_MEM;
        uint64_t value = (i.flags & X86_INSN_IMM64) ? x86_insn_imm64(&i) : mem ? i.disp : 0;
        EXPECT(r == X86_DECODE_OK && i.len == d->len && i.opcode == d->opcode && (i.flags & mask) == d->flags,
               "decode64 %s: result %d len %u opcode %x flags %x (want len %u opcode %x flags %x)", d->what, r, i.len,
               i.opcode, i.flags & mask, d->len, d->opcode, d->flags);
        if (d->ud) {
            EXPECT(i.handler == x86_handle_ud, "decode64 %s: not #UD", d->what);
            continue;
        }
        EXPECT(i.handler != x86_handle_ud, "decode64 %s: #UD", d->what);
        bool opreg = !(i.flags & X86_INSN_MODRM) && d->opcode != 0xe8;
        EXPECT(((i.flags & X86_INSN_MODRM) || opreg ? i.reg == d->reg : true) && i.rm == d->rm && i.base == d->base &&
                   i.index == d->index && (d->value == 0 || value == d->value),
               "decode64 %s: reg %u rm %u base %u index %u value %llx", d->what, i.reg, i.rm, i.base, i.index,
               (unsigned long long)value);
    }
    /* REX only in 64-bit mode: the same bytes elsewhere are INC/DEC. */
    X86Insn i;
    static const uint8_t inc[] = { 0x48, 0x01, 0xc8 };
    EXPECT(x86_decode(inc, sizeof(inc), true, &i) == X86_DECODE_OK && i.len == 1 && i.opcode == 0x48 && i.rex == 0,
           "48h outside 64-bit mode: len %u opcode %x", i.len, i.opcode);
    X86Insn j;
    static const uint8_t dil[] = { 0x40, 0x88, 0xf7 };
    EXPECT(x86_decode64(dil, sizeof(dil), &j) == X86_DECODE_OK && j.rex == 0x40, "mov dil, sil: REX %x", j.rex);
    static const uint8_t fs[] = { 0x64, 0x8b, 0x00 }, es[] = { 0x26, 0x8b, 0x00 };
    EXPECT(x86_decode64(fs, sizeof(fs), &j) == X86_DECODE_OK && j.seg == S_FS && (j.pfx & X86_PFX_SEG),
           "FS override in 64-bit mode: seg %u", j.seg);
    EXPECT(x86_decode64(es, sizeof(es), &j) == X86_DECODE_OK && j.seg == S_DS && !(j.pfx & X86_PFX_SEG),
           "ES override in 64-bit mode not ignored: seg %u", j.seg);
    static const uint8_t long_insn[16] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                                           0x48, 0xb8, 1, 2, 3, 4 };
    EXPECT(x86_decode64(long_insn, sizeof(long_insn), &j) == X86_DECODE_TOO_LONG, "a 20-byte instruction decoded");
}

/* Save in the middle of 64-bit code (t64, then sys64 with its MSRs and GS bases),
 * load into a fresh CPU with the same memory: both finish the same way. */
static void check_save_load64(const uint8_t *code, size_t n)
{
    static const struct {
        unsigned frag, budget;
    } stops[] = { { F_T64, 40 }, { F_T64, 97 }, { F_SYS64, 36 }, { F_SYS64, 50 }, { F_HIGH64, 14 } };
    for (size_t k = 0; k < G_N_ELEMENTS(stops); k++) {
        Env a, b;
        env_init(&a, &lm_model, false, code, n);
        env_init(&b, &lm_model, false, code, n);
        EXPECT(run(&a, F_ENTER) == X86_RUN_HALT, "save/load 64: entering");
        X86State s = state(&a);
        s.eip = a.entry[stops[k].frag];
        for (unsigned q = 0; q < X86_NSEG; q++) {
            s.seg[q].sel = (uint16_t)(q == X86_CS ? 0x18 : 0x10);
            s.seg[q].attr = (uint16_t)(q == X86_CS ? 0xa09b : 0xc093);
            s.seg[q].base = 0;
            s.seg[q].limit = 0xffffffffu;
        }
        s.regs[X86_ESP] = 0x90000;
        x86_cpu_set_state(a.c, &s);
        X86RunResult r = x86_cpu_run(a.c, stops[k].budget);
        EXPECT(r == X86_RUN_BUDGET, "save/load 64 (%zu): first part ended with %d", k, r);
        /* high64: saved with RIP, RSP and the FS base above 4 GiB */
        EXPECT(stops[k].frag != F_HIGH64 || (a.c->eip >> 32 && a.c->regs[X86_ESP] >> 32 && a.c->seg[S_FS].base >> 32),
               "save/load 64 (%zu): not above 4 GiB at the save", k);
        static CpuX86State st;
        x86_cpu_save(a.c, &st);
        static uint8_t ram[0x100000];
        mem_read(a.v->mem, 0, ram, sizeof(ram));
        mem_write(b.v->mem, 0, ram, sizeof(ram));
        GError *err = NULL;
        EXPECT(x86_cpu_load(b.c, &st, &err), "save/load 64 (%zu): %s", k, err ? err->message : "");
        g_clear_error(&err);
        X86RunResult ra = x86_cpu_run(a.c, 100000), rb = x86_cpu_run(b.c, 100000);
        static uint8_t ra_res[0x1000], rb_res[0x1000];
        mem_read(a.v->mem, 0x30000, ra_res, sizeof(ra_res));
        mem_read(b.v->mem, 0x30000, rb_res, sizeof(rb_res));
        X86RunResult want = stops[k].frag == F_SYS64 ? X86_RUN_EXCEPTION : X86_RUN_HALT; /* sys64 ends in UD2 */
        EXPECT(ra == rb && ra == want &&
                   !memcmp(a.c->regs, b.c->regs, sizeof(a.c->regs)) && a.c->eip == b.c->eip &&
                   !memcmp(ra_res, rb_res, sizeof(ra_res)) && a.c->kernel_gs_base == b.c->kernel_gs_base &&
                   a.c->lstar == b.c->lstar && a.c->star == b.c->star,
               "save/load 64 (%zu): runs %d and %d, RIP %" G_GINT64_MODIFIER "x and %" G_GINT64_MODIFIER "x", k, ra, rb, a.c->eip, b.c->eip);
        env_free(&a);
        env_free(&b);
    }
}

/* LAHF in 64-bit mode needs CPUID.80000001h:ECX[0] (kvm64 lacks it). */
static void check_lahf64(const char *name, bool jit, const uint8_t *code, size_t n)
{
    static CpuModel no_lahf;
    no_lahf = lm_model;
    no_lahf.ext_ecx = 0;
    Env e;
    env_init(&e, &no_lahf, jit, code, n);
    EXPECT(run(&e, F_ENTER) == X86_RUN_HALT, "%s: entering", name);
    expect_fault64(&e, "LAHF in 64-bit mode without LAHF_LM", F_LAHF64, X86_EXC_UD, false, 0);
    env_free(&e);
    env_init(&e, &lm_model, jit, code, n);
    EXPECT(run(&e, F_ENTER) == X86_RUN_HALT, "%s: entering", name);
    EXPECT(run64(&e, F_LAHF64) == X86_RUN_HALT, "%s: LAHF in 64-bit mode with LAHF_LM", name);
    env_free(&e);
}

/* A 16-byte 64-bit call gate (SDM vol. 3, figure 5-9) at offset at of the LDT; type
 * goes into the upper half's type field (it must be 0). */
static void put_gate64(Env *e, uint32_t at, unsigned dpl, uint16_t sel, uint64_t off, uint32_t type)
{
    put64(e, LDT + at, (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)(0x8cu | dpl << 5) << 40 |
                           ((off >> 16) & 0xffff) << 48);
    put64(e, LDT + at + 8, (off >> 32) | (uint64_t)type << 40);
}

/* Runs a fragment in 64-bit mode with the LDT of put_gate64 loaded, at CPL 0 (CS 18h)
 * or CPL 3 (CS 27h from the LDT, SS 2Bh), RAX = rax. */
static X86RunResult run64_gate(Env *e, unsigned frag, unsigned cpl, uint64_t rax)
{
    X86State s = state(e);
    s.eip = e->entry[frag];
    for (unsigned k = 0; k < X86_NSEG; k++) {
        bool code = k == X86_CS;
        s.seg[k].sel = (uint16_t)(cpl ? (code ? 0x27 : 0x2b) : (code ? 0x18 : 0x10));
        s.seg[k].attr = (uint16_t)((code ? 0xa09b : 0xc093) | (cpl << 5));
        s.seg[k].base = 0;
        s.seg[k].limit = 0xffffffffu;
    }
    s.ldtr.sel = 0x58;
    s.ldtr.base = LDT;
    s.ldtr.limit = 0xff;
    s.ldtr.attr = 0x82;
    s.regs[X86_ESP] = cpl ? 0x8f000 : 0x90000;
    s.regs[X86_EAX] = (uint32_t)rax;
    x86_cpu_set_state(e->c, &s);
    return x86_cpu_run(e->c, 100000);
}

static void expect_gate64_fault(Env *e, const char *what, unsigned frag, unsigned cpl, uint16_t sel, int vec,
                                uint32_t err)
{
    X86RunResult r = run64_gate(e, frag, cpl, sel);
    bool has_err = false;
    uint32_t got_err = 0;
    int got = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(e->c, &has_err, &got_err) : -1;
    X86State st = state(e);
    EXPECT(got == vec && has_err && got_err == err && st.cpl == cpl && st.eip > e->entry[frag],
           "%s: run %d, exception %d error %x at CPL %u (want %d error %x)", what, r, got, got_err, st.cpl, vec,
           err);
}

/* 64-bit call gates (frags.asm gate64_*): CALL from CPL 3 to CPL 0 and RETF back,
 * CALL at the same level from 64-bit and from compatibility mode, JMP, and the
 * faults of the gate and of its target. */
static void check_gate64(Env *e, const char *name)
{
    const uint64_t res = 0x30000, buf = 0x30800;
    put_gate64(e, 0x00, 3, 0x18, e->entry[F_GATE64_KERNEL], 0);
    put_gate64(e, 0x10, 0, 0x18, e->entry[F_GATE64_SAME_TARGET], 0);
    put64(e, LDT + 0x20, UINT64_C(0x00affa000000ffff)); /* 27h: ring-3 64-bit code */
    put_gate64(e, 0x30, 0, 0x18, e->entry[F_GATE64_SAME_TARGET], 0x0c);
    put_gate64(e, 0x40, 0, 0x08, e->entry[F_GATE64_SAME_TARGET], 0);
    put_gate64(e, 0x50, 0, 0x18, e->entry[F_GATE64_SAME_TARGET], 0);
    put64(e, LDT + 0x50, get64(e, LDT + 0x50) & ~(UINT64_C(1) << 47)); /* not present */
    put_gate64(e, 0x60, 0, 0x18, e->entry[F_GATE64_JMP_TARGET], 0);
    put64(e, LDT + 0xf8, get64(e, LDT + 0x60)); /* its upper half past the LDT limit */
    put32(e, buf + 0x604, 0x07);
    put32(e, buf + 0x614, 0x14);

    X86RunResult r = run64_gate(e, F_GATE64_USER, 3, 0);
    X86Cpu *c = e->c;
    X86State st = state(e);
    bool has_err = false;
    uint32_t err = 0;
    int vec = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(c, &has_err, &err) : -1;
    EXPECT(vec == X86_EXC_UD && st.eip == e->entry[F_GATE64_USER_RET] && st.cpl == 3 && st.seg[X86_CS].sel == 0x27 &&
               st.seg[X86_SS].sel == 0x2b && st.regs[X86_ESP] == 0x8f000 && c->long64,
           "%s: CALL through a 64-bit gate from CPL 3 and RETF back: run %d vector %d at %x:%llx CPL %u SS %x "
           "RSP %llx",
           name, r, vec, st.seg[X86_CS].sel, (unsigned long long)st.eip, st.cpl, st.seg[X86_SS].sel,
           (unsigned long long)st.regs[X86_ESP]);
    const uint64_t want[] = { RSP0_TOP - 32, 0, e->entry[F_GATE64_USER_RET], 0x27, 0x8f000, 0x2b };
    static const char *what[] = { "RSP", "SS", "pushed RIP", "pushed CS", "pushed RSP", "pushed SS" };
    for (unsigned k = 0; k < G_N_ELEMENTS(want); k++)
        EXPECT(get64(e, res + 8 * (89 + k)) == want[k], "%s: 64-bit gate to CPL 0: %s %llx, want %llx", name,
               what[k], (unsigned long long)get64(e, res + 8 * (89 + k)), (unsigned long long)want[k]);

    put64(e, res + 8 * 95, 0);
    r = run64_gate(e, F_GATE64_SAME, 0, 0);
    EXPECT(r == X86_RUN_HALT && get64(e, res + 8 * 95) == 16 && c->regs[X86_ESP] == 0x90000 && c->long64,
           "%s: CALL through a 64-bit gate at CPL 0: run %d, %llx bytes pushed", name, r,
           (unsigned long long)get64(e, res + 8 * 95));
    put64(e, res + 8 * 95, 0);
    r = run(e, F_GATE64_COMPAT);
    st = state(e);
    EXPECT(r == X86_RUN_HALT && get64(e, res + 8 * 95) == 16 && !c->long64 && st.seg[X86_CS].sel == 0x08 &&
               st.regs[X86_ESP] == 0x90000,
           "%s: CALL through a 64-bit gate from compatibility mode: run %d, %llx bytes pushed, CS %x", name, r,
           (unsigned long long)get64(e, res + 8 * 95), st.seg[X86_CS].sel);
    r = run64_gate(e, F_GATE64_JMP_AX, 0, 0x64);
    st = state(e);
    EXPECT(r == X86_RUN_HALT && get64(e, res + 8 * 96) == 0x90000 && st.seg[X86_CS].sel == 0x18 &&
               st.eip == e->entry[F_GATE64_JMP_TARGET] + 9,
           "%s: JMP through a 64-bit gate: run %d, RSP %llx, at %x:%llx", name, r,
           (unsigned long long)get64(e, res + 8 * 96), st.seg[X86_CS].sel, (unsigned long long)st.eip);

    expect_gate64_fault(e, "64-bit gate with a type in its upper half", F_GATE64_CALL_AX, 0, 0x34, X86_EXC_GP, 0x34);
    expect_gate64_fault(e, "64-bit gate to 32-bit code", F_GATE64_CALL_AX, 0, 0x44, X86_EXC_GP, 0x08);
    expect_gate64_fault(e, "64-bit gate not present", F_GATE64_CALL_AX, 0, 0x54, X86_EXC_NP, 0x54);
    expect_gate64_fault(e, "64-bit gate past the LDT limit", F_GATE64_CALL_AX, 0, 0xfc, X86_EXC_GP, 0xfc);
    expect_gate64_fault(e, "DPL-0 64-bit gate from CPL 3", F_GATE64_CALL_AX, 3, 0x17, X86_EXC_GP, 0x14);
    expect_gate64_fault(e, "JMP from CPL 3 through a gate to CPL 0 code", F_GATE64_JMP_AX, 3, 0x07, X86_EXC_GP, 0x18);
}

/* DR0-DR3 with 64-bit linear addresses (frags.asm dr64_*). */
static void check_dr64(Env *e, const char *name)
{
    const uint64_t res = 0x30000;
    X86Cpu *c = e->c;
    put32(e, res + 0xf08, 0);
    X86RunResult r = run64(e, F_DR64_DATA);
    bool has_err = false;
    uint32_t err = 0;
    int vec = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(c, &has_err, &err) : -1;
    X86State st = state(e);
    EXPECT(vec == X86_EXC_DB && st.eip == e->entry[F_DR64_DATA_AFTER] && (st.dr[6] & 0xf) == 1 &&
               get32(e, res + 0xf08) == 1 && get64(e, res + 8 * 99) == KBASE + res + 0xf08,
           "%s: data breakpoint above 4 GiB: run %d vector %d at %llx, DR6 %llx, DR0 read %llx", name, r, vec,
           (unsigned long long)st.eip, (unsigned long long)st.dr[6], (unsigned long long)get64(e, res + 8 * 99));
    r = run64(e, F_DR64_EXEC);
    vec = r == X86_RUN_EXCEPTION ? x86_cpu_last_exception(c, &has_err, &err) : -1;
    st = state(e);
    EXPECT(vec == X86_EXC_DB && c->eip == KBASE + e->entry[F_DR64_EXEC_HI] && (st.dr[6] & 0xf) == 2,
           "%s: instruction breakpoint above 4 GiB: run %d vector %d at %llx, DR6 %llx", name, r, vec,
           (unsigned long long)c->eip, (unsigned long long)st.dr[6]);
    st.dr[7] = 0x400;
    st.dr[6] = 0xffff0ff0u;
    x86_cpu_set_state(c, &st);
    expect_fault64(e, "MOV to DR7 with bit 32 set", F_DR64_GP, X86_EXC_GP, true, 0);
    /* The debugger's breakpoints and its page walk take 64-bit linear addresses too. */
    GError *gerr = NULL;
    uint64_t at = KBASE + e->entry[F_HIGH64_HI], pa = 0;
    EXPECT(x86_cpu_debug_insert(c, CPU_DEBUG_BREAK_HW, at, 1, &gerr), "%s: debugger breakpoint above 4 GiB: %s",
           name, gerr ? gerr->message : "");
    g_clear_error(&gerr);
    r = run64(e, F_HIGH64);
    EXPECT(r == X86_RUN_DEBUG && c->eip == at, "%s: debugger breakpoint above 4 GiB: run %d at %llx", name, r,
           (unsigned long long)c->eip);
    x86_cpu_debug_remove_all(c);
    x86_cpu_debug_resume(c, false);
    EXPECT(x86_cpu_debug_translate(c, KBASE + 0x12345, &pa) && pa == 0x12345, "%s: debug walk above 4 GiB: %llx",
           name, (unsigned long long)pa);
}

static void check_all(const char *name, bool jit, const uint8_t *code, size_t n)
{
    Env e;
    env_init(&e, &nolm_model, jit, code, n);
    expect_fault(&e, "EFER.LME on a model without long mode", F_WRMSR_LME, X86_EXC_GP, 0);
    env_free(&e);

    env_init(&e, &lm_model, jit, code, n);
    check_enter(&e, name);
    check_faults(&e);
    check_delivery(&e);
    check_sys_desc(&e);
    if (!jit) {
        check_save_load(&e, code, n);
        check_save_load64(code, n);
    }
    check_leave_and_64(&e);
    check_64(&e, name);
    check_gate64(&e, name);
    check_dr64(&e, name);
    env_free(&e);
    check_lahf64(name, jit, code, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ia32e FRAGS.BIN\n");
        return 2;
    }
    gchar *code = NULL;
    gsize n = 0;
    GError *err = NULL;
    if (!g_file_get_contents(argv[1], &code, &n, &err) || n < 4 * F_COUNT || n > 0x4000) {
        fprintf(stderr, "ia32e: %s: %s\n", argv[1], err ? err->message : "not the fragments binary");
        return 2;
    }
    check_decode64();
    /* CPUID of a long-mode model: LM, SYSCALL, LAHF_LM; the address sizes. */
    uint32_t r[4];
    cpu_model_cpuid(&lm_model, 0x80000001u, 0, NULL, r);
    EXPECT((r[3] & (CPUID_EXT_LM | CPUID_EXT_SYSCALL)) == (CPUID_EXT_LM | CPUID_EXT_SYSCALL) &&
               (r[2] & CPUID_EXT_ECX_LAHF_LM), "CPUID 80000001h: ECX %x EDX %x", r[2], r[3]);
    cpu_model_cpuid(&lm_model, 0x80000008u, 0, NULL, r);
    EXPECT(r[0] == 0x3024, "CPUID 80000008h: EAX %x, want 3024h", r[0]);
    check_all("interp", false, (const uint8_t *)code, n);
    if (jit_supported(NULL))
        check_all("tcg", true, (const uint8_t *)code, n);
    else
        printf("translator not supported on this host: interpreter only\n");
    g_free(code);
    printf("%s\n", failures ? "ia32e: FAILED" : "ia32e: all checks passed");
    return failures ? 1 : 0;
}
