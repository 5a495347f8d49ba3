/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interpreter's event handling, driven through the engine's CPU pins on a test VM:
 * INTR masked by IF and by the one-instruction STI shadow, the vector from the
 * interrupt acknowledge, NMI regardless of IF and blocked until IRET, HLT woken by an
 * interrupt, and exit requests from another thread ending a tight loop and a huge REP
 * string instruction promptly (the REP restartable from its registers). */
#include "cpu/x86/x86.h"
#include "engine/testing.h"
#include "engine/machine.h"
#include "engine/vcpu.h"

#include "expect.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>


typedef struct Env {
    Vm *vm;
    Vcpu *v;
    X86Cpu *c;
    int acks;
} Env;

static int intr_ack(void *opaque)
{
    Env *e = opaque;
    e->acks++;
    vm_set_cpu_intr(e->vm, 0); /* an edge: the line drops once acknowledged */
    return 0x30;
}

static void poke(Env *e, uint32_t addr, const uint8_t *bytes, size_t n)
{
    mem_write(e->v->mem, addr, bytes, n);
}

static uint8_t peek8(Env *e, uint32_t addr)
{
    uint8_t b;
    mem_read(e->v->mem, addr, &b, 1);
    return b;
}

static uint16_t peek16(Env *e, uint32_t addr)
{
    uint16_t w;
    mem_read(e->v->mem, addr, &w, 2);
    return w;
}

/* Real mode, CS = DS = SS = 0, code at 0x1000, SP 0x7000, handlers: NMI at 0x2000,
 * vector 0x30 at 0x3000; each counts in a byte (0x500, 0x501). */
static void setup(Env *e, const uint8_t *code, size_t n, uint32_t eflags)
{
    static const uint8_t nmi[] = { 0xfe, 0x06, 0x00, 0x05, 0x90, 0x90, 0xcf }; /* inc [500]; nop; nop; iret */
    static const uint8_t isr[] = { 0xfe, 0x06, 0x01, 0x05, 0xcf };             /* inc [501]; iret */
    uint8_t zero[0x100] = { 0 };
    poke(e, 0x500, zero, sizeof(zero));
    uint32_t v2 = 0x2000, v30 = 0x3000;
    poke(e, 2 * 4, (uint8_t *)&v2, 4);
    poke(e, 0x30 * 4, (uint8_t *)&v30, 4);
    poke(e, 0x2000, nmi, sizeof(nmi));
    poke(e, 0x3000, isr, sizeof(isr));
    poke(e, 0x1000, code, n);
    X86State s;
    x86_cpu_reset(e->c);
    x86_cpu_get_state(e->c, &s);
    for (unsigned k = 0; k < X86_NSEG; k++) {
        s.seg[k].sel = 0;
        s.seg[k].base = 0;
    }
    s.eip = 0x1000;
    s.regs[X86_ESP] = 0x7000;
    s.eflags = eflags | 2;
    x86_cpu_set_state(e->c, &s);
    atomic_store(&e->v->requests, 0);
    e->acks = 0;
}

static uint32_t eip(Env *e)
{
    X86State s;
    x86_cpu_get_state(e->c, &s);
    return s.eip;
}

static void test_intr_and_shadow(Env *e)
{
    /* cli; nop; nop; sti; cli; sti; nop; cli; hlt */
    static const uint8_t code[] = { 0xfa, 0x90, 0x90, 0xfb, 0xfa, 0xfb, 0x90, 0xfa, 0xf4 };
    setup(e, code, sizeof(code), 0);
    vm_set_cpu_intr(e->vm, 1);
    x86_cpu_run(e->c, 3);
    EXPECT(peek8(e, 0x501) == 0, "INTR delivered with IF clear");
    x86_cpu_run(e->c, 2); /* sti; cli: the interrupt may not come between them */
    EXPECT(peek8(e, 0x501) == 0, "INTR delivered inside the STI shadow");
    EXPECT(eip(e) == 0x1005, "EIP %x after sti; cli", eip(e));
    X86RunResult r = x86_cpu_run(e->c, 100);
    EXPECT(r == X86_RUN_HALT, "run result %d", r);
    EXPECT(peek8(e, 0x501) == 1 && e->acks == 1, "INTR count %u, acks %d", peek8(e, 0x501), e->acks);
    /* The frame's IP: the CLI after "sti; nop" (0x1007). */
    EXPECT(peek16(e, 0x7000 - 6) == 0x1007, "interrupted at %x, want 1007", peek16(e, 0x7000 - 6));
}

static void test_nmi(Env *e)
{
    /* nop x4; hlt */
    static const uint8_t code[] = { 0x90, 0x90, 0x90, 0x90, 0xf4 };
    setup(e, code, sizeof(code), 0);
    vm_cpu_nmi(e->vm);
    x86_cpu_run(e->c, 1); /* the NMI comes first, IF or not; this is its INC */
    EXPECT(peek8(e, 0x500) == 1, "NMI not delivered with IF clear");
    EXPECT(eip(e) == 0x2004, "EIP %x in the NMI handler", eip(e));
    vm_cpu_nmi(e->vm); /* blocked until the handler's IRET */
    x86_cpu_run(e->c, 1);
    EXPECT(peek8(e, 0x500) == 1 && eip(e) == 0x2005, "nested NMI delivered before IRET");
    X86RunResult r = x86_cpu_run(e->c, 100);
    EXPECT(r == X86_RUN_HALT, "run result %d", r);
    EXPECT(peek8(e, 0x500) == 2, "the blocked NMI was not delivered after IRET (%u)", peek8(e, 0x500));
}

static void test_hlt_wake(Env *e)
{
    /* sti; hlt; hlt */
    static const uint8_t code[] = { 0xfb, 0xf4, 0xf4 };
    setup(e, code, sizeof(code), 0);
    X86RunResult r = x86_cpu_run(e->c, 100);
    EXPECT(r == X86_RUN_HALT && eip(e) == 0x1002, "first HLT: %d at %x", r, eip(e));
    r = x86_cpu_run(e->c, 100);
    EXPECT(r == X86_RUN_HALT && eip(e) == 0x1002, "HLT without an interrupt must stay halted");
    vm_set_cpu_intr(e->vm, 1);
    r = x86_cpu_run(e->c, 100);
    EXPECT(r == X86_RUN_HALT && eip(e) == 0x1003, "woken HLT: %d at %x", r, eip(e));
    EXPECT(peek8(e, 0x501) == 1, "the waking interrupt was not delivered");
    EXPECT(peek16(e, 0x7000 - 6) == 0x1002, "return address %x after HLT", peek16(e, 0x7000 - 6));
}

static gpointer request_exit_later(gpointer data)
{
    Env *e = data;
    g_usleep(30000);
    atomic_fetch_or(&e->v->requests, VCPU_REQ_EXIT);
    return NULL;
}

static void test_exit_requests(Env *e)
{
    /* jmp $ */
    static const uint8_t loop[] = { 0xeb, 0xfe };
    setup(e, loop, sizeof(loop), 0);
    GThread *t = g_thread_new("exit", request_exit_later, e);
    gint64 t0 = g_get_monotonic_time();
    X86RunResult r = x86_cpu_run(e->c, UINT64_MAX);
    gint64 dt = g_get_monotonic_time() - t0;
    g_thread_join(t);
    /* Without the exit this never returns (the test's timeout); how soon is not timed. */
    EXPECT(r == X86_RUN_EXIT, "a tight loop ignored the exit request (%d after %" G_GINT64_FORMAT " us)", r, dt);

    /* a32 rep stosb with ECX = 0xFFFFFFFF: 4 GiB of stores, mostly to unassigned
     * addresses: the exit must come between iterations */
    static const uint8_t rep[] = { 0x66, 0xb9, 0xff, 0xff, 0xff, 0xff, /* mov ecx, -1 */
                                   0x66, 0xbf, 0x00, 0x00, 0x20, 0x00, /* mov edi, 0x200000 */
                                   0x67, 0xf3, 0xaa,                   /* rep stosb (a32) */
                                   0xf4 };
    setup(e, rep, sizeof(rep), 0);
    X86State s;
    x86_cpu_get_state(e->c, &s);
    s.seg[X86_ES].limit = 0xffffffffu; /* unreal ES so the 32-bit addresses pass */
    x86_cpu_set_state(e->c, &s);
    t = g_thread_new("exit", request_exit_later, e);
    t0 = g_get_monotonic_time();
    r = x86_cpu_run(e->c, UINT64_MAX);
    dt = g_get_monotonic_time() - t0;
    g_thread_join(t);
    x86_cpu_get_state(e->c, &s);
    /* Stopped inside the 4 GiB REP (ECX checked below), however loaded the host is. */
    EXPECT(r == X86_RUN_EXIT, "REP ignored the exit request (%d after %" G_GINT64_FORMAT " us)", r, dt);
    EXPECT(s.eip == 0x100c, "EIP %x: the REP must restart from its start", s.eip);
    EXPECT(s.regs[X86_ECX] != 0xffffffffu && s.regs[X86_ECX] != 0, "ECX %x", s.regs[X86_ECX]);
    EXPECT(s.regs[X86_EDI] == 0x200000 + (0xffffffffu - s.regs[X86_ECX]), "EDI %x and ECX %x disagree",
           s.regs[X86_EDI], s.regs[X86_ECX]);
    /* and it finishes where it left off (a shorter count to keep the test quick) */
    s.regs[X86_ECX] = 0x3000;
    uint32_t edi0 = s.regs[X86_EDI];
    x86_cpu_set_state(e->c, &s);
    vcpu_clear_request(e->v, VCPU_REQ_EXIT); /* as the engine does before resuming */
    r = x86_cpu_run(e->c, UINT64_MAX);
    x86_cpu_get_state(e->c, &s);
    EXPECT(r == X86_RUN_HALT && s.regs[X86_ECX] == 0 && s.regs[X86_EDI] == edi0 + 0x3000,
           "resumed REP: %d ECX %x EDI %x", r, s.regs[X86_ECX], s.regs[X86_EDI]);
}

int main(void)
{
    Env e = { 0 };
    e.vm = vm_new_for_test(UINT64_C(16) << 20);
    e.v = vm_vcpu(e.vm);
    atomic_store(&e.v->a20, true);
    vm_cpu_pins(e.vm)->intr_ack = intr_ack;
    vm_cpu_pins(e.vm)->intr_ack_opaque = &e;
    e.c = x86_cpu_new(e.v);
    x86_cpu_set_run_flags(e.c, X86_RUN_STOP_ON_HLT);
    test_intr_and_shadow(&e);
    test_nmi(&e);
    test_hlt_wake(&e);
    test_exit_requests(&e);
    x86_cpu_free(e.c);
    vm_free(e.vm);
    printf("%s\n", failures ? "events: FAILED" : "events: all checks passed");
    return failures ? 1 : 0;
}
