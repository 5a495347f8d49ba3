/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pages that share a set of the data TLB (cpu/x86/cpu-internal.h: two ways per set).
 * Linear pages 0C000000h, 0C101000h and 0C202000h have one set index; a page table
 * maps them and the pages after the first two to physical pages in another order
 * (each page's host addend differs). Two loops, under the
 * interpreter and the translator:
 *  - 1000 rounds of loads, stores and read-modify-writes alternating between the
 *    first two pages: both stay cached (way 0 and way 1), so the whole loop walks the
 *    page tables a handful of times; under the translator the probe's second look
 *    (cpu/jit/tr-mem.c's way stub) finds the other page without calling C;
 *  - 300 rounds over all three pages, which evict one another, with a load and a
 *    read-modify-write that cross from a page of the set into the next page (whose
 *    entry is in another set: the second look must not take them as in its page).
 * The physical pages and the registers must be what a C model of the loops computes.
 * Then a non-global 4 MiB page remapped and CR3 reloaded: the next load must see the
 * new frame (SDM vol. 3, 4.10.4.1: a CR3 write invalidates every non-global entry).
 * Last, 64-bit code's access across the top of the address space into page 0.
 *
 * usage: tlbsets */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/memory.h"
#include "engine/testing.h"
#include "engine/vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PDIR 0x30000u      /* 32-bit paging; in IA-32e mode the PML4 */
#define PDPT 0x32000u
#define PD64 0x33000u
#define PTAB_C 0x34000u     /* IA-32e mode: the 2 MiB region of page C */
#define CODE 0x20000u
#define LIN_A 0x0c000000u
#define LIN_B 0x0c101000u
#define LIN_C 0x0c202000u
#define PTAB 0x31000u
#define LOOP1_N 1000u
#define LOOP2_N 300u

static int failures;
static char who[32]; /* the run: accelerator and code size */

static void check(bool ok, const char *what, uint64_t got, uint64_t want)
{
    if (!ok) {
        printf("FAIL: %s (%s): %llx, expected %llx\n", what, who, (unsigned long long)got, (unsigned long long)want);
        failures++;
    }
}

/* ---- the guest's code ---- */

typedef struct Code {
    uint8_t b[256];
    unsigned n;
} Code;

static void put8(Code *c, unsigned v)
{
    c->b[c->n++] = (uint8_t)v;
}

static void put32(Code *c, uint32_t v)
{
    for (unsigned k = 0; k < 4; k++)
        put8(c, v >> (8 * k));
}

/* op [disp32] with ModRM reg field r: the SIB form without base and index, an
 * absolute address in 64-bit mode too (where mod 00 rm 101 is RIP-relative). */
static void op_abs(Code *c, unsigned op, unsigned r, uint32_t addr)
{
    put8(c, op);
    put8(c, (r << 3) | 4);
    put8(c, 0x25);
    put32(c, addr);
}

/* DEC ESI (FF /1: 4Eh is a REX prefix in 64-bit mode); JNZ back to top. */
static void loop_end(Code *c, unsigned top)
{
    put8(c, 0xff);
    put8(c, 0xce);
    put8(c, 0x75);
    put8(c, (uint8_t)(top - (c->n + 1)));
}

enum { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI };

/* Loop 1 over pages A and B; then HLT. */
static void code_loop1(Code *c)
{
    put8(c, 0xbe); /* MOV ESI, LOOP1_N */
    put32(c, LOOP1_N);
    unsigned top = c->n;
    op_abs(c, 0x8b, EAX, LIN_A + 0x10); /* MOV EAX, [A+10h] */
    op_abs(c, 0x01, EAX, LIN_B + 0x20); /* ADD [B+20h], EAX */
    op_abs(c, 0x8b, EDX, LIN_B + 0x24); /* MOV EDX, [B+24h] */
    op_abs(c, 0x31, EDX, LIN_A + 0x14); /* XOR [A+14h], EDX */
    op_abs(c, 0x83, 0, LIN_B + 0x24);   /* ADD dword [B+24h], 3 */
    put8(c, 3);
    put8(c, 0x01); /* ADD EDI, EDX */
    put8(c, 0xd7);
    put8(c, 0x66);                      /* MOV CX, [A+FFEh] (its page's last word) */
    op_abs(c, 0x8b, ECX, LIN_A + 0xffe);
    put8(c, 0x66);                      /* ADD [B+30h], CX */
    op_abs(c, 0x01, ECX, LIN_B + 0x30);
    loop_end(c, top);
    put8(c, 0xf4);
}

/* Loop 2 over pages A, B and C, with two accesses across a page end; then HLT. */
static void code_loop2(Code *c)
{
    put8(c, 0xbe); /* MOV ESI, LOOP2_N */
    put32(c, LOOP2_N);
    unsigned top = c->n;
    op_abs(c, 0x8b, EAX, LIN_A + 0x30);  /* MOV EAX, [A+30h] */
    op_abs(c, 0x01, EAX, LIN_C + 0x50);  /* ADD [C+50h], EAX */
    op_abs(c, 0x8b, EDX, LIN_C + 0x54);  /* MOV EDX, [C+54h] */
    op_abs(c, 0x31, EDX, LIN_B + 0x40);  /* XOR [B+40h], EDX */
    op_abs(c, 0x01, EDX, LIN_A + 0x34);  /* ADD [A+34h], EDX */
    op_abs(c, 0x8b, EBX, LIN_A + 0xffe); /* MOV EBX, [A+FFEh] (into page A+1000h) */
    op_abs(c, 0x01, EAX, LIN_B + 0xffd); /* ADD [B+FFDh], EAX (into page B+1000h) */
    op_abs(c, 0x01, EBX, LIN_C + 0x58);  /* ADD [C+58h], EBX */
    op_abs(c, 0x83, 0, LIN_C + 0x54);    /* ADD dword [C+54h], 5 */
    put8(c, 5);
    loop_end(c, top);
    put8(c, 0xf4);
}

/* ---- the model: the linear pages from LIN_A on ---- */

#define MODEL_SIZE 0x204000u
static uint8_t model[MODEL_SIZE];

static uint32_t m_rd(uint32_t lin, unsigned size)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < size; k++)
        v |= (uint32_t)model[lin - LIN_A + k] << (8 * k);
    return v;
}

static void m_wr(uint32_t lin, unsigned size, uint32_t v)
{
    for (unsigned k = 0; k < size; k++)
        model[lin - LIN_A + k] = (uint8_t)(v >> (8 * k));
}

static void m_add(uint32_t lin, unsigned size, uint32_t v)
{
    m_wr(lin, size, m_rd(lin, size) + v);
}

/* The pages the loops touch (linear), each with its own byte pattern, and their
 * physical pages. */
static const uint32_t touched[] = { LIN_A, LIN_A + 0x1000, LIN_B, LIN_B + 0x1000, LIN_C };
static const uint32_t frames[] = { 0x905000, 0x800000, 0xa03000, 0x904000, 0x801000 };

static void model_init(void)
{
    memset(model, 0, sizeof(model));
    for (unsigned p = 0; p < G_N_ELEMENTS(touched); p++)
        for (unsigned x = 0; x < 0x1000; x++)
            model[touched[p] - LIN_A + x] = (uint8_t)(x * 13 + p * 0x55 + 1);
}

static uint32_t model_loop1(void)
{
    uint32_t edi = 0;
    for (unsigned i = 0; i < LOOP1_N; i++) {
        uint32_t eax = m_rd(LIN_A + 0x10, 4);
        m_add(LIN_B + 0x20, 4, eax);
        uint32_t edx = m_rd(LIN_B + 0x24, 4);
        m_wr(LIN_A + 0x14, 4, m_rd(LIN_A + 0x14, 4) ^ edx);
        m_add(LIN_B + 0x24, 4, 3);
        edi += edx;
        m_add(LIN_B + 0x30, 2, m_rd(LIN_A + 0xffe, 2));
    }
    return edi;
}

static uint32_t model_loop2(void)
{
    uint32_t ebx = 0;
    for (unsigned i = 0; i < LOOP2_N; i++) {
        uint32_t eax = m_rd(LIN_A + 0x30, 4);
        m_add(LIN_C + 0x50, 4, eax);
        uint32_t edx = m_rd(LIN_C + 0x54, 4);
        m_wr(LIN_B + 0x40, 4, m_rd(LIN_B + 0x40, 4) ^ edx);
        m_add(LIN_A + 0x34, 4, edx);
        ebx = m_rd(LIN_A + 0xffe, 4);
        m_add(LIN_B + 0xffd, 4, eax);
        m_add(LIN_C + 0x58, 4, ebx);
        m_add(LIN_C + 0x54, 4, 5);
    }
    return ebx;
}

/* ---- the guest ---- */

/* Which code the loops run as. */
enum { MODE_32, MODE_64, NMODES };
static const char *const mode_name[NMODES] = { "32-bit", "64-bit" };

static X86Cpu *new_cpu(unsigned accel, unsigned mode, Vm **vmp)
{
    Vm *vm = vm_new_for_test(UINT64_C(16) << 20);
    Vcpu *v = vm_vcpu(vm);
    atomic_store(&v->a20, true);
    X86Cpu *c = x86_cpu_new(v);
    x86_cpu_set_run_flags(c, X86_RUN_STOP_ON_HLT | X86_RUN_STOP_ON_EXCEPTION);
    if (accel) {
        JitOptions o = { .cache_size = 1u << 20 };
        GError *err = NULL;
        if (!jit_attach(c, &o, &err)) {
            printf("SKIP: %s\n", err->message);
            exit(77);
        }
    }
    for (unsigned p = 0; p < G_N_ELEMENTS(touched); p++)
        mem_write(v->mem, frames[p], model + (touched[p] - LIN_A), 0x1000);
    if (mode == MODE_32) {
        /* 0 to 4 MiB identity (a 4 MiB page, CR4.PSE), the touched pages through PTAB. */
        static uint32_t pd[1024], pt[1024];
        pd[0] = 0x83;
        pd[LIN_A >> 22] = PTAB | 0x3;
        for (unsigned p = 0; p < G_N_ELEMENTS(touched); p++)
            pt[(touched[p] >> 12) & 1023] = frames[p] | 0x3;
        mem_write(v->mem, PDIR, pd, sizeof(pd));
        mem_write(v->mem, PTAB, pt, sizeof(pt));
    } else {
        /* 0 to 2 MiB identity (a 2 MiB page), page C's 2 MiB region through PTAB_C,
         * the others' through PTAB (SDM vol. 3, 4.5). */
        static uint64_t pml4[512], pdpt[512], pd[512], pt[512], pt_c[512];
        pml4[0] = PDPT | 0x3;
        pdpt[0] = PD64 | 0x3;
        pd[0] = 0x83;
        pd[(LIN_A >> 21) & 511] = PTAB | 0x3;
        pd[(LIN_C >> 21) & 511] = PTAB_C | 0x3;
        for (unsigned p = 0; p < G_N_ELEMENTS(touched); p++)
            ((touched[p] >> 21) == (LIN_C >> 21) ? pt_c : pt)[(touched[p] >> 12) & 511] = frames[p] | 0x3;
        mem_write(v->mem, PDIR, pml4, sizeof(pml4));
        mem_write(v->mem, PDPT, pdpt, sizeof(pdpt));
        mem_write(v->mem, PD64, pd, sizeof(pd));
        mem_write(v->mem, PTAB, pt, sizeof(pt));
        mem_write(v->mem, PTAB_C, pt_c, sizeof(pt_c));
    }
    *vmp = vm;
    return c;
}

/* A run named what (in failures: "tcg, what"): the model reset, a new CPU. */
static X86Cpu *run_begin(unsigned accel, unsigned mode, const char *what, Vm **vmp)
{
    snprintf(who, sizeof(who), "%s, %s", accel ? "tcg" : "interp", what);
    model_init();
    return new_cpu(accel, mode, vmp);
}

static void run_end(X86Cpu *c, Vm *vm, unsigned accel)
{
    if (accel)
        jit_detach(c);
    x86_cpu_free(c);
    vm_free(vm);
}

/* Runs the code from CODE with every register 0; the run's result. */
static int run_code(X86Cpu *c, Vm *vm, unsigned mode, const Code *code)
{
    mem_write(vm_vcpu(vm)->mem, CODE, code->b, code->n);
    X86State st;
    memset(&st, 0, sizeof(st));
    for (unsigned k = 0; k < X86_NSEG; k++)
        st.seg[k] = (X86SegState){ 0x10, 0xc093, 0, 0xffffffffu };
    st.seg[X86_CS] = (X86SegState){ 0x08, 0xc09b, 0, 0xffffffffu };
    st.regs[X86_ESP] = 0x9000;
    st.eflags = 0x2;
    st.eip = CODE;
    st.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
    st.cr3 = PDIR;
    st.cr4 = X86_CR4_PSE;
    if (mode == MODE_64) {
        st.seg[X86_CS].attr = 0xa09b; /* L */
        st.cr4 |= X86_CR4_PAE;
        st.efer = X86_EFER_LME | X86_EFER_LMA;
    }
    st.gdt_limit = 0x1f;
    st.idt_limit = 0x7ff;
    st.ldtr.attr = 0x82;
    st.tr = (X86SegState){ 0x20, 0x8b, 0, 0x67 };
    x86_cpu_set_state(c, &st);
    return x86_cpu_run(c, 1000000);
}

/* The touched pages in guest memory against the model. */
static void check_pages(Vm *vm, const char *what)
{
    static uint8_t got[0x1000];
    for (unsigned p = 0; p < G_N_ELEMENTS(touched); p++) {
        uint32_t off = touched[p] - LIN_A;
        mem_read(vm_vcpu(vm)->mem, frames[p], got, sizeof(got));
        for (unsigned x = 0; x < sizeof(got); x++)
            if (got[x] != model[off + x]) {
                char buf[128];
                snprintf(buf, sizeof(buf), "%s: byte at linear %08x", what, touched[p] + x);
                check(false, buf, got[x], model[off + x]);
                break;
            }
    }
}

static void run(unsigned accel, unsigned mode)
{
    char what[24];
    snprintf(what, sizeof(what), "%s code", mode_name[mode]);
    Vm *vm;
    X86Cpu *c = run_begin(accel, mode, what, &vm);

    Code code = { .n = 0 };
    code_loop1(&code);
    uint32_t edi = model_loop1();
    X86ExecStats before, after;
    x86_cpu_get_exec_stats(c, &before);
    int r = run_code(c, vm, mode, &code);
    x86_cpu_get_exec_stats(c, &after);
    X86State st;
    x86_cpu_get_state(c, &st);
    check(r == X86_RUN_HALT, "loop 1: halted", (uint32_t)r, X86_RUN_HALT);
    check(!!(st.efer & X86_EFER_LMA) == (mode == MODE_64), "loop 1: EFER.LMA", st.efer & X86_EFER_LMA,
          mode == MODE_64 ? X86_EFER_LMA : 0);
    check(st.regs[X86_EDI] == edi, "loop 1: EDI", st.regs[X86_EDI], edi);
    check(st.regs[X86_ESI] == 0, "loop 1: ESI", st.regs[X86_ESI], 0);
    check_pages(vm, "loop 1");
    /* Two pages of one set: a walk for each page's first access and its first write
     * (the dirty bit), and the code page's; some 6000 walks with one way. */
    uint64_t walks = after.tlb_walks - before.tlb_walks;
    uint64_t way1_c = after.tlb_way1_hits - before.tlb_way1_hits;
    check(walks <= 8, "loop 1: page walks", walks, 8);
    /* Translated, the probes' second look answers: C sees the misses of the first
     * rounds only, before the loop's block was compiled. The interpreter swaps the
     * ways in C at every other access. */
    if (accel)
        check(way1_c <= 100, "loop 1: misses answered in C", way1_c, 100);
    else
        check(way1_c >= LOOP1_N, "loop 1: misses answered in C", way1_c, LOOP1_N);
    printf("%s: loop 1: %llu page walks, %llu misses answered by way 1 in C\n", who, (unsigned long long)walks, (unsigned long long)way1_c);

    code.n = 0;
    code_loop2(&code);
    uint32_t ebx = model_loop2();
    r = run_code(c, vm, mode, &code);
    x86_cpu_get_state(c, &st);
    check(r == X86_RUN_HALT, "loop 2: halted", (uint32_t)r, X86_RUN_HALT);
    check(st.regs[X86_EBX] == ebx, "loop 2: EBX", st.regs[X86_EBX], ebx);
    check(st.regs[X86_ESI] == 0, "loop 2: ESI", st.regs[X86_ESI], 0);
    check_pages(vm, "loop 2");

    run_end(c, vm, accel);
}

/* Loads from linear 00800000h+10h through a 4 MiB page (PDE 2, no G bit) mapped to
 * REMAP_OLD, then the PDE pointed at REMAP_NEW, MOV CR3 (same value), the load again. */
#define REMAP_LIN 0x00800000u
#define REMAP_OLD 0x400000u
#define REMAP_NEW 0xc00000u
static void run_remap(unsigned accel)
{
    Vm *vm;
    X86Cpu *c = run_begin(accel, MODE_32, "large page remap", &vm);
    GuestMemory *m = vm_vcpu(vm)->mem;
    uint32_t pde = REMAP_OLD | 0x83, old_v = 0x01234567, new_v = 0x89abcdef;
    mem_write(m, PDIR + 4 * (REMAP_LIN >> 22), &pde, 4);
    mem_write(m, REMAP_OLD + 0x10, &old_v, 4);
    mem_write(m, REMAP_NEW + 0x10, &new_v, 4);
    Code code = { .n = 0 };
    for (unsigned round = 0; round < 2; round++) { /* (the second with the code translated) */
        op_abs(&code, 0x8b, EAX, REMAP_LIN + 0x10); /* MOV EAX, [REMAP_LIN+10h] */
        op_abs(&code, 0xc7, 0, PDIR + 4 * (REMAP_LIN >> 22)); /* MOV dword [PDE], REMAP_NEW | PS RW P */
        put32(&code, REMAP_NEW | 0x83);
        static const uint8_t reload[] = { 0x0f, 0x20, 0xd9, 0x0f, 0x22, 0xd9 }; /* MOV ECX, CR3; MOV CR3, ECX */
        for (unsigned k = 0; k < sizeof(reload); k++)
            put8(&code, reload[k]);
        op_abs(&code, 0x8b, EDX, REMAP_LIN + 0x10); /* MOV EDX, [REMAP_LIN+10h] */
        put8(&code, 0xf4);
        int r = run_code(c, vm, MODE_32, &code);
        X86State st;
        x86_cpu_get_state(c, &st);
        check(r == X86_RUN_HALT, "halted", (uint32_t)r, X86_RUN_HALT);
        check(st.regs[X86_EAX] == old_v, "load before the remap", st.regs[X86_EAX], old_v);
        check(st.regs[X86_EDX] == new_v, "load after the remap and MOV CR3", st.regs[X86_EDX], new_v);
        mem_write(m, PDIR + 4 * (REMAP_LIN >> 22), &pde, 4);
        code.n = 0;
    }
    run_end(c, vm, accel);
}

/* An 8-byte load and store at linear FFFFFFFF_FFFFFFFCh in 64-bit code: the address
 * wraps (64-bit linear arithmetic), so the access's last four bytes are page 0's, and
 * page 0's set is the last page's (index 0). A loop keeps page 0 in that set (a load
 * from [0]) while it loads across the wrap 300 times, so the translated probe, which
 * compares its last byte's page with its first byte's entry, must not take page 0's
 * entry as the whole access's (x86_tlb_fill gives page 0 no fast tags in IA-32e mode:
 * without that this fails). */
#define TOP_FRAME 0x906000u
#define PDPT_HI 0x35000u
#define PD_HI 0x36000u
#define PT_HI 0x37000u
#define WRAP_N 300u
#define WRAP_OUT 0x1000u /* the registers' values, stored at the end */
static void run_wrap(unsigned accel)
{
    Vm *vm;
    X86Cpu *c = run_begin(accel, MODE_64, "64-bit wrap", &vm);
    GuestMemory *m = vm_vcpu(vm)->mem;
    uint64_t e;
    e = PDPT_HI | 0x3;
    mem_write(m, PDIR + 8 * 511, &e, 8);
    e = PD_HI | 0x3;
    mem_write(m, PDPT_HI + 8 * 511, &e, 8);
    e = PT_HI | 0x3;
    mem_write(m, PD_HI + 8 * 511, &e, 8);
    e = TOP_FRAME | 0x3;
    mem_write(m, PT_HI + 8 * 511, &e, 8);
    uint32_t top_last = 0x89abcdefu, page0_first = 0x01234567u, page0_next = 0x76543210u;
    mem_write(m, TOP_FRAME + 0xffc, &top_last, 4);
    mem_write(m, 0, &page0_first, 4);
    mem_write(m, 4, &page0_next, 4);
    static const uint8_t head[] = {
        0x48, 0xc7, 0xc3, 0xfc, 0xff, 0xff, 0xff, /* MOV RBX, -4 */
        0xbe, WRAP_N & 0xff, WRAP_N >> 8, 0, 0,   /* MOV ESI, WRAP_N */
    };
    Code code = { .n = 0 };
    for (unsigned k = 0; k < sizeof(head); k++)
        put8(&code, head[k]);
    unsigned top = code.n;
    put8(&code, 0x48); /* MOV RCX, [0] */
    op_abs(&code, 0x8b, ECX, 0);
    static const uint8_t body[] = { 0x48, 0x8b, 0x03,   /* MOV RAX, [RBX] */
                                    0x48, 0x01, 0xc7 }; /* ADD RDI, RAX */
    for (unsigned k = 0; k < sizeof(body); k++)
        put8(&code, body[k]);
    loop_end(&code, top);
    put8(&code, 0x48); /* MOV [RBX], RDI */
    put8(&code, 0x89);
    put8(&code, 0x3b);
    static const unsigned out[] = { EAX, ECX, EDI }; /* (X86State has 32-bit registers) */
    for (unsigned k = 0; k < 3; k++) {
        put8(&code, 0x48); /* MOV [WRAP_OUT + 8k], reg */
        op_abs(&code, 0x89, out[k], WRAP_OUT + 8 * k);
    }
    put8(&code, 0xf4);
    int r = run_code(c, vm, MODE_64, &code);
    uint64_t got[3];
    mem_read(m, WRAP_OUT, got, sizeof(got));
    uint64_t want = (uint64_t)page0_first << 32 | top_last;
    check(r == X86_RUN_HALT, "halted", (uint32_t)r, X86_RUN_HALT);
    check(got[0] == want, "RAX from across the wrap", got[0], want);
    check(got[1] == ((uint64_t)page0_next << 32 | page0_first), "RCX from page 0", got[1],
          (uint64_t)page0_next << 32 | page0_first);
    uint64_t sum = want * WRAP_N;
    check(got[2] == sum, "RDI", got[2], sum);
    uint32_t lo, hi;
    mem_read(m, TOP_FRAME + 0xffc, &lo, 4);
    mem_read(m, 0, &hi, 4);
    check(((uint64_t)hi << 32 | lo) == sum, "the store across the wrap", (uint64_t)hi << 32 | lo, sum);
    run_end(c, vm, accel);
}

int main(void)
{
    for (unsigned mode = 0; mode < NMODES; mode++) {
        run(0, mode);
        run(1, mode);
    }
    run_remap(0);
    run_remap(1);
    run_wrap(0);
    run_wrap(1);
    if (failures)
        return 1;
    printf("ok: pages of one TLB set under interp and tcg\n");
    return 0;
}
