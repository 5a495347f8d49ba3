/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An instruction that crosses a page, run again and again (a block ends in its
 * stand-in, exec.c's x86_handle_cross, which takes it decoded with both pages):
 * ADD EAX, imm32 at the last two bytes of one page, its immediate's other three
 * bytes at the start of the next, then HLT. Between passes the guest stores into the
 * second page's code, remaps the second linear page to another physical page (MOV to
 * the PTE, INVLPG) and unmaps it; each pass must see the bytes of that moment (SDM
 * vol. 3, 11.6: self-modifying code) and the unmapped page must raise #PF at its
 * address (SDM vol. 3, 4.7) from the instruction's start. Then the same around a hot
 * loop (run_loop) whose first page's block stays cached and translated. Under the
 * interpreter and the translator. Leaving the second page's physical address or its
 * version out of the page-crossing cache's compare fails it (tried). The translator
 * compiles the crossing ADD into the loop's block behind a guard on the second page
 * (cpu/jit/translate.c, tr_cross): the loop's passes with the page as translated
 * must run it inline, the others through the stand-in; leaving the page's mapping,
 * its version or CS's base out of the guard fails it (tried).
 *
 * usage: crosspage */
#include "cpu/jit/jit.h"
#include "cpu/x86/x86.h"
#include "engine/memory.h"
#include "engine/testing.h"
#include "engine/vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PDIR 0x30000u
#define PTAB 0x31000u
#define SETUP 0x10000u      /* the guest's stores between passes */
#define PAGE0 0x20000u      /* linear = physical: ADD's opcode and first byte */
#define LIN1 0x21000u       /* the next linear page, mapped to PHYS_A or PHYS_B */
#define PHYS_A 0x40000u
#define PHYS_B 0x41000u
#define ADD_AT (LIN1 - 2)
#define LOOP_AT (LIN1 - 5)  /* run_loop's ADD EBX, 7 before the crossing ADD */
#define LOOP_N 1000u

static int failures;

static void check(bool ok, const char *what, unsigned accel, uint32_t got, uint32_t want)
{
    if (!ok) {
        printf("FAIL: %s (%s): %08x, expected %08x\n", what, accel ? "tcg" : "interp", got, want);
        failures++;
    }
}

/* The second page's start: the immediate's bytes 1-3 then HLT. */
static void second_page(GuestMemory *m, uint32_t phys, uint32_t imm)
{
    uint8_t b[4] = { (uint8_t)(imm >> 8), (uint8_t)(imm >> 16), (uint8_t)(imm >> 24), 0xf4 };
    mem_write(m, phys, b, sizeof(b));
}

/* One pass over the crossing ADD with EAX = 0: the run's result and EAX. */
static int pass(X86Cpu *c, uint32_t *eax)
{
    X86State st;
    x86_cpu_get_state(c, &st);
    st.regs[X86_EAX] = 0;
    st.eip = ADD_AT;
    x86_cpu_set_state(c, &st);
    int r = x86_cpu_run(c, 100);
    x86_cpu_get_state(c, &st);
    *eax = st.regs[X86_EAX];
    return r;
}

/* Runs the guest's code at SETUP (stores, then HLT). */
static void setup(X86Cpu *c, GuestMemory *m, const uint8_t *code, size_t len)
{
    uint8_t buf[64];
    memcpy(buf, code, len);
    buf[len] = 0xf4;
    mem_write(m, SETUP, buf, len + 1);
    X86State st;
    x86_cpu_get_state(c, &st);
    st.eip = SETUP;
    x86_cpu_set_state(c, &st);
    x86_cpu_run(c, 100);
}

/* The guest maps LIN1 to pte (MOV dword [PTE of LIN1], pte; INVLPG [LIN1]), then,
 * with touch, writes a word at LIN1 + 0x800 (MOV word [LIN1 + 0x800], 0), so that
 * the TLB holds the page for writing. */
static void remap_second(X86Cpu *c, GuestMemory *m, uint32_t pte_val, bool touch)
{
    uint32_t pte = PTAB + (LIN1 >> 12) * 4, lin = LIN1;
    uint8_t code[26] = { 0xc7, 0x05 };
    memcpy(code + 2, &pte, 4);
    memcpy(code + 6, &pte_val, 4);
    code[10] = 0x0f;
    code[11] = 0x01;
    code[12] = 0x3d; /* INVLPG [disp32] */
    memcpy(code + 13, &lin, 4);
    static const uint8_t write[] = { 0x66, 0xc7, 0x05, 0x00, 0x18, 0x02, 0x00, 0x00, 0x00 };
    memcpy(code + 17, write, sizeof(write));
    setup(c, m, code, touch ? 26 : 17);
}

/* A CPU in 32-bit protected mode with paging: the first 4 MiB identity-mapped but
 * LIN1, which maps PHYS_A. */
static X86Cpu *new_cpu(unsigned accel, Vm **vmp)
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
    GuestMemory *m = v->mem;
    static uint32_t pd[1024], pt[1024];
    pd[0] = PTAB | 0x3;
    for (uint32_t k = 0; k < 1024; k++)
        pt[k] = (k << 12) | 0x3;
    pt[LIN1 >> 12] = PHYS_A | 0x3;
    mem_write(m, PDIR, pd, sizeof(pd));
    mem_write(m, PTAB, pt, sizeof(pt));

    X86State st;
    memset(&st, 0, sizeof(st));
    for (unsigned k = 0; k < X86_NSEG; k++)
        st.seg[k] = (X86SegState){ 0x10, 0xc093, 0, 0xffffffffu };
    st.seg[X86_CS] = (X86SegState){ 0x08, 0xc09b, 0, 0xffffffffu };
    st.regs[X86_ESP] = 0x9000;
    st.eflags = 0x2;
    st.cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
    st.cr3 = PDIR;
    st.gdt_limit = 0x1f;
    st.idt_limit = 0x7ff;
    st.ldtr.attr = 0x82;
    st.tr = (X86SegState){ 0x20, 0x8b, 0, 0x67 };
    x86_cpu_set_state(c, &st);
    *vmp = vm;
    return c;
}

static void free_cpu(X86Cpu *c, Vm *vm, unsigned accel)
{
    if (accel)
        jit_detach(c);
    x86_cpu_free(c);
    vm_free(vm);
}

/* The run (result r) stopped at the crossing ADD with #PF for the unmapped LIN1. */
static void check_fetch_fault(X86Cpu *c, unsigned accel, int r, const char *prefix)
{
    bool has_err;
    uint32_t err;
    int vec = x86_cpu_last_exception(c, &has_err, &err);
    X86State st;
    x86_cpu_get_state(c, &st);
    char what[96];
    snprintf(what, sizeof(what), "%s#PF with the second page unmapped", prefix);
    check(r == X86_RUN_EXCEPTION && vec == 14, what, accel, (uint32_t)vec, 14);
    snprintf(what, sizeof(what), "%sCR2 of the fetch fault", prefix);
    check(st.cr2 == LIN1, what, accel, st.cr2, LIN1);
    /* Not present, a supervisor read: I/D stays 0 without PAE's NXE or SMEP. */
    snprintf(what, sizeof(what), "%sthe error code of the fetch fault", prefix);
    check(has_err && err == 0, what, accel, err, 0);
    snprintf(what, sizeof(what), "%sEIP at the faulting instruction", prefix);
    check(st.eip == ADD_AT, what, accel, st.eip, ADD_AT);
}

static void run(unsigned accel)
{
    Vm *vm;
    X86Cpu *c = new_cpu(accel, &vm);
    GuestMemory *m = vm_vcpu(vm)->mem;
    uint8_t head[2] = { 0x05, 0x11 }; /* ADD EAX, imm32: opcode, imm byte 0 */
    mem_write(m, ADD_AT, head, 2);
    second_page(m, PHYS_A, 0x44332211u);
    second_page(m, PHYS_B, 0x88776611u);

    uint32_t eax;
    for (unsigned k = 0; k < 3; k++) {
        int r = pass(c, &eax);
        check(r == X86_RUN_HALT && eax == 0x44332211u, "first page A", accel, eax, 0x44332211u);
    }
    /* Both pages' versions are still those of the first pass, only the mapping
     * tells B from A; B is written (through the TLB) before any code is decoded
     * from it. */
    remap_second(c, m, PHYS_B | 0x3, true);
    for (unsigned k = 0; k < 2; k++) {
        pass(c, &eax);
        check(eax == 0x88776611u, "second page remapped to B", accel, eax, 0x88776611u);
    }
    /* MOV word [LIN1], 0x5566: the immediate's bytes 1-2, by a guest store (the TLB
     * had the page for writing before its code was decoded). */
    static const uint8_t smc[] = { 0x66, 0xc7, 0x05, 0x00, 0x10, 0x02, 0x00, 0x66, 0x55 };
    setup(c, m, smc, sizeof(smc));
    for (unsigned k = 0; k < 2; k++) {
        pass(c, &eax);
        check(eax == 0x88556611u, "after a store into the second page", accel, eax, 0x88556611u);
    }
    /* Not present: the fetch of the immediate's rest faults at LIN1. */
    remap_second(c, m, 0, false);
    check_fetch_fault(c, accel, pass(c, &eax), "");
    free_cpu(c, vm, accel);
}

/* The loop's code in the second page (physical page phys): the ADD's immediate
 * bytes 1-3, then either DEC ECX (one iteration a pass) or SUB ECX, 2 (two), JNZ
 * back to LOOP_AT, HLT. */
static void loop_tail(GuestMemory *m, uint32_t phys, uint32_t imm, bool by_two)
{
    uint8_t b[9] = { (uint8_t)(imm >> 8), (uint8_t)(imm >> 16), (uint8_t)(imm >> 24) };
    if (by_two) {
        static const uint8_t t[] = { 0x83, 0xe9, 0x02, 0x75, 0xf3, 0xf4 }; /* JNZ LIN1 - 5 */
        memcpy(b + 3, t, sizeof(t));
    } else {
        static const uint8_t t[] = { 0x49, 0x75, 0xf5, 0xf4 };
        memcpy(b + 3, t, sizeof(t));
    }
    mem_write(m, phys, b, sizeof(b));
}

/* The loop's start: LOOP_AT with EAX = EBX = 0, ECX = LOOP_N. */
static void loop_start(X86Cpu *c)
{
    X86State st;
    x86_cpu_get_state(c, &st);
    st.regs[X86_EAX] = 0;
    st.regs[X86_EBX] = 0;
    st.regs[X86_ECX] = LOOP_N;
    st.eip = LOOP_AT;
    x86_cpu_set_state(c, &st);
}

/* One run of the loop from LOOP_AT with EAX = EBX = 0, ECX = LOOP_N; checks the
 * registers against each other pass's expectations and that the crossing ADD ran
 * at the end of its block every time (never stepped by the dispatcher): through the
 * stand-in on every pass, or, under the translator when the second page is as it
 * was when the block was translated (guarded), inline (guarded true: the stand-in
 * only for the first few, before the TLB holds the second page). */
static void loop_pass(X86Cpu *c, unsigned accel, const char *what, uint32_t imm, unsigned iters, bool guarded)
{
    loop_start(c);
    X86State st;
    X86ExecStats before, after;
    x86_cpu_get_exec_stats(c, &before);
    int r = x86_cpu_run(c, 100000);
    x86_cpu_get_exec_stats(c, &after);
    x86_cpu_get_state(c, &st);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s: halted", what);
    check(r == X86_RUN_HALT, buf, accel, (uint32_t)r, X86_RUN_HALT);
    snprintf(buf, sizeof(buf), "%s: EAX", what);
    check(st.regs[X86_EAX] == imm * iters, buf, accel, st.regs[X86_EAX], imm * iters);
    snprintf(buf, sizeof(buf), "%s: EBX", what);
    check(st.regs[X86_EBX] == 7 * iters, buf, accel, st.regs[X86_EBX], 7 * iters);
    snprintf(buf, sizeof(buf), "%s: ECX", what);
    check(st.regs[X86_ECX] == 0, buf, accel, st.regs[X86_ECX], 0);
    uint64_t runs = after.cross_runs - before.cross_runs;
    if (accel && guarded) {
        snprintf(buf, sizeof(buf), "%s: crossing ADDs by the stand-in, not inline", what);
        check(runs <= 2, buf, accel, (uint32_t)runs, 2);
    } else {
        snprintf(buf, sizeof(buf), "%s: crossing ADDs run at a block's end", what);
        check(runs == iters, buf, accel, (uint32_t)runs, iters);
    }
    snprintf(buf, sizeof(buf), "%s: dispatcher steps of uncached code", what);
    check(after.steps_fetch == before.steps_fetch, buf, accel, (uint32_t)(after.steps_fetch - before.steps_fetch), 0);
}

/* The same loop through other code segments, its blocks already translated: with
 * base 1000h and EIP 1000h lower (the same linear addresses: the translator's guard
 * adds the base and still runs the crossing ADD inline), then with a limit that ends
 * at the first page, where the crossing ADD's fetch raises #GP(0) (SDM vol. 3,
 * 5.3) after the first ADD EBX ran. */
static void loop_cs(X86Cpu *c, unsigned accel)
{
    X86State st;
    X86ExecStats before, after;
    loop_start(c);
    x86_cpu_get_state(c, &st);
    st.seg[X86_CS].base = 0x1000;
    st.eip = LOOP_AT - 0x1000;
    x86_cpu_set_state(c, &st);
    x86_cpu_get_exec_stats(c, &before);
    int r = x86_cpu_run(c, 100000);
    x86_cpu_get_exec_stats(c, &after);
    x86_cpu_get_state(c, &st);
    check(r == X86_RUN_HALT, "CS base 1000h: halted", accel, (uint32_t)r, X86_RUN_HALT);
    check(st.regs[X86_EAX] == 0x01020311u * LOOP_N, "CS base 1000h: EAX", accel, st.regs[X86_EAX],
          0x01020311u * LOOP_N);
    uint64_t runs = after.cross_runs - before.cross_runs;
    if (accel)
        check(runs <= 2, "CS base 1000h: crossing ADDs by the stand-in, not inline", accel, (uint32_t)runs, 2);

    loop_start(c);
    x86_cpu_get_state(c, &st);
    st.seg[X86_CS].base = 0;
    st.seg[X86_CS].limit = LIN1 - 1;
    x86_cpu_set_state(c, &st);
    r = x86_cpu_run(c, 100000);
    bool has_err;
    uint32_t err;
    int vec = x86_cpu_last_exception(c, &has_err, &err);
    x86_cpu_get_state(c, &st);
    check(r == X86_RUN_EXCEPTION && vec == 13, "CS limit at the page end: #GP", accel, (uint32_t)vec, 13);
    check(st.eip == ADD_AT, "CS limit at the page end: EIP at the crossing ADD", accel, st.eip, ADD_AT);
    check(st.regs[X86_EBX] == 7, "CS limit at the page end: EBX of the ADD before it", accel, st.regs[X86_EBX], 7);
    st.seg[X86_CS].limit = 0xffffffffu;
    x86_cpu_set_state(c, &st);
}

/* A hot loop over the crossing instruction: ADD EBX, 7 and ADD EAX, imm32 at the end
 * of one page, the immediate's rest, the count and the JNZ back in the next. The
 * first page's block (cached, translated and chained under tcg) never changes; the
 * second page is remapped to other code, written, and unmapped while that block
 * stays valid, and each pass must run what the second page holds then. */
static void run_loop(unsigned accel)
{
    Vm *vm;
    X86Cpu *c = new_cpu(accel, &vm);
    GuestMemory *m = vm_vcpu(vm)->mem;
    static const uint8_t head[] = { 0x83, 0xc3, 0x07, 0x05, 0x11 }; /* ADD EBX, 7; ADD EAX, imm32 */
    mem_write(m, LOOP_AT, head, sizeof(head));
    loop_tail(m, PHYS_A, 0x01020311u, false);
    loop_tail(m, PHYS_B, 0x30200611u, true);
    for (unsigned k = 0; k < 3; k++)
        loop_pass(c, accel, "loop over page A", 0x01020311u, LOOP_N, true);
    if (accel) {
        JitStats js;
        jit_get_stats(c, &js);
        check(js.links > 0, "the loop's blocks chained", accel, (uint32_t)js.links, 1);
    }
    remap_second(c, m, PHYS_B | 0x3, false);
    for (unsigned k = 0; k < 2; k++)
        loop_pass(c, accel, "loop, second page remapped to B", 0x30200611u, LOOP_N / 2, false);
    /* MOV word [LIN1], 0x5566: the immediate's bytes 1-2 in B, whose code is cached. */
    static const uint8_t smc[] = { 0x66, 0xc7, 0x05, 0x00, 0x10, 0x02, 0x00, 0x66, 0x55 };
    setup(c, m, smc, sizeof(smc));
    loop_pass(c, accel, "loop after a store into the second page", 0x30556611u, LOOP_N / 2, false);

    /* Unmapped: the first iteration's ADD EBX ran, the ADD EAX faults from its start. */
    remap_second(c, m, 0, false);
    loop_start(c);
    check_fetch_fault(c, accel, x86_cpu_run(c, 100000), "loop: ");
    X86State st;
    x86_cpu_get_state(c, &st);
    check(st.regs[X86_EBX] == 7, "loop: EBX of the instruction before it", accel, st.regs[X86_EBX], 7);
    check(st.regs[X86_ECX] == LOOP_N, "loop: ECX before the fault", accel, st.regs[X86_ECX], LOOP_N);
    /* Mapped back to A: the same blocks run A's code again. */
    remap_second(c, m, PHYS_A | 0x3, false);
    loop_pass(c, accel, "loop, second page A again", 0x01020311u, LOOP_N, true);
    loop_cs(c, accel);
    /* MOV word [LIN1], 0x7788 into A, as translated: its version moved, so the
     * stand-in runs it with the new bytes. */
    static const uint8_t smc_a[] = { 0x66, 0xc7, 0x05, 0x00, 0x10, 0x02, 0x00, 0x88, 0x77 };
    setup(c, m, smc_a, sizeof(smc_a));
    loop_pass(c, accel, "loop after a store into the second page A", 0x01778811u, LOOP_N, false);
    free_cpu(c, vm, accel);
}

int main(void)
{
    run(0);
    run(1);
    run_loop(0);
    run_loop(1);
    if (failures)
        return 1;
    printf("ok: crossing instruction under interp and tcg\n");
    return 0;
}
