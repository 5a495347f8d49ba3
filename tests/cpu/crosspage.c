/* SPDX-License-Identifier: GPL-2.0-or-later */
/* An instruction that crosses a page, run again and again by the dispatcher (no block
 * holds it: exec.c keeps it decoded with both pages): ADD EAX, imm32 at the last two
 * bytes of one page, its immediate's other three bytes at the start of the next, then
 * HLT. Between passes the guest stores into the second page's code, remaps the second
 * linear page to another physical page (MOV to the PTE, INVLPG) and unmaps it; each
 * pass must see the bytes of that moment (SDM vol. 3, 11.6: self-modifying code) and
 * the unmapped page must raise #PF at its address (SDM vol. 3, 4.7) from the
 * instruction's start. Under the interpreter and the translator.
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

static void run(unsigned accel)
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
    /* 4 KiB pages: the first 4 MiB identity-mapped, LIN1 to PHYS_A. */
    static uint32_t pd[1024], pt[1024];
    pd[0] = PTAB | 0x3;
    for (uint32_t k = 0; k < 1024; k++)
        pt[k] = (k << 12) | 0x3;
    pt[LIN1 >> 12] = PHYS_A | 0x3;
    mem_write(m, PDIR, pd, sizeof(pd));
    mem_write(m, PTAB, pt, sizeof(pt));
    uint8_t head[2] = { 0x05, 0x11 }; /* ADD EAX, imm32: opcode, imm byte 0 */
    mem_write(m, ADD_AT, head, 2);
    second_page(m, PHYS_A, 0x44332211u);
    second_page(m, PHYS_B, 0x88776611u);

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

    uint32_t eax;
    for (unsigned k = 0; k < 3; k++) {
        int r = pass(c, &eax);
        check(r == X86_RUN_HALT && eax == 0x44332211u, "first page A", accel, eax, 0x44332211u);
    }
    /* MOV dword [PTE of LIN1], PHYS_B | P RW; INVLPG [LIN1]: both pages' versions are
     * still those of the first pass, only the mapping tells B from A. Then MOV word
     * [LIN1 + 0x800], 0: the TLB has B for writing before any code is decoded from it. */
    uint32_t pte = PTAB + (LIN1 >> 12) * 4, val = PHYS_B | 0x3, lin = LIN1;
    uint8_t remap[26] = { 0xc7, 0x05 };
    memcpy(remap + 2, &pte, 4);
    memcpy(remap + 6, &val, 4);
    remap[10] = 0x0f;
    remap[11] = 0x01;
    remap[12] = 0x3d; /* INVLPG [disp32] */
    memcpy(remap + 13, &lin, 4);
    static const uint8_t touch[] = { 0x66, 0xc7, 0x05, 0x00, 0x18, 0x02, 0x00, 0x00, 0x00 };
    memcpy(remap + 17, touch, sizeof(touch));
    setup(c, m, remap, sizeof(remap));
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
    val = 0;
    memcpy(remap + 6, &val, 4);
    setup(c, m, remap, sizeof(remap));
    int r = pass(c, &eax);
    bool has_err;
    uint32_t err;
    int vec = x86_cpu_last_exception(c, &has_err, &err);
    x86_cpu_get_state(c, &st);
    check(r == X86_RUN_EXCEPTION && vec == 14, "#PF with the second page unmapped", accel, (uint32_t)vec, 14);
    check(st.cr2 == LIN1, "CR2 of the fetch fault", accel, st.cr2, LIN1);
    /* Not present, a supervisor read: I/D stays 0 without PAE's NXE or SMEP. */
    check(has_err && err == 0, "the error code of the fetch fault", accel, err, 0);
    check(st.eip == ADD_AT, "EIP at the faulting instruction", accel, st.eip, ADD_AT);
    if (accel)
        jit_detach(c);
    x86_cpu_free(c);
    vm_free(vm);
}

int main(void)
{
    run(0);
    run(1);
    if (failures)
        return 1;
    printf("ok: crossing instruction under interp and tcg\n");
    return 0;
}
