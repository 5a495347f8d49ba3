/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The engine side of a virtual CPU: what CPU back ends (cpu/) call and read. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "engine/memory.h"
#include "engine/ioport.h"
#include "engine/vm.h"
#include "cpu/cpu-model.h"

/* Bits of Vcpu.requests, set by any thread, read by the CPU between instructions. */
enum {
    VCPU_REQ_EXIT = 1u << 0, /* return from vcpu_run: pause, reset, work to do */
    VCPU_REQ_INTR = 1u << 1, /* level of the INTR pin */
    VCPU_REQ_NMI  = 1u << 2, /* an NMI edge is pending */
    VCPU_REQ_TLB  = 1u << 3, /* the memory map changed: drop cached translations */
    VCPU_REQ_INIT = 1u << 4, /* an INIT IPI: to the INIT state, APs then wait for SIPI */
    VCPU_REQ_SIPI = 1u << 5, /* a STARTUP IPI (Vcpu.sipi_vector): leaves wait-for-SIPI */
    VCPU_REQ_SYNC = 1u << 6, /* a serializing instruction waits for others' flushes */
};

/* The interrupt acknowledge cycle: the vector to deliver (-1: none). */
typedef int (*IntrAckFn)(void *opaque);

/* The local APIC as the CPU reaches it: IA32_APIC_BASE (MSR 0x1B). set_base returns
 * false for a value the CPU refuses with #GP. */
typedef struct CpuApicOps {
    uint64_t (*get_base)(void *opaque);
    bool (*set_base)(void *opaque, uint64_t value);
    /* The task-priority register, which 64-bit mode's CR8 reaches (SDM vol. 3,
     * 10.8.6.1). */
    uint8_t (*get_tpr)(void *opaque);
    void (*set_tpr)(void *opaque, uint8_t value);
} CpuApicOps;

/* The CPU's pins to the board: who answers what the CPU asks and hears what it drives.
 * The board hands them (vm_cpu_pins) to the devices it wires there, and each device
 * connects its side at realize (a function and its opaque) and disconnects at
 * unrealize. Lock rules: connected before the vCPU runs or with the engine lock held;
 * every call is made with the lock held (the vcpu_* accessors below take it), except
 * the check for an APIC, which reads the pointer alone (it does not change once the
 * vCPU runs). An unconnected pin does nothing; INTA then answers -1. */
typedef struct CpuPins {
    /* INTA: the local APIC when the board has one (it asks the 8259 for ExtINT), else
     * the 8259. */
    IntrAckFn intr_ack;
    void *intr_ack_opaque;
    /* FERR#: the x87 error output, to the board's IRQ 13 latch. */
    void (*ferr)(void *opaque, bool asserted);
    void *ferr_opaque;
    /* The local APIC; with one, CPUID reports it. */
    const CpuApicOps *apic;
    void *apic_opaque;
    /* A20M#: the levels of the gate's inputs (vm_cpu_a20_line), a bit each. The gate is
     * open while any is high, as the PIIX3 ORs port 0x92 bit 1 with the 8042's A20GATE. */
    unsigned a20_inputs;
} CpuPins;

typedef struct Vcpu {
    _Atomic unsigned requests;
    Vm *vm;
    GuestMemory *mem;
    int index;
    void *cpu;      /* the back end's state */
    /* The A20M# pin: when false the CPU clears physical address bit 20. A change sets
     * VCPU_REQ_TLB. */
    _Atomic bool a20;
    /* The IGNNE# pin: x87 errors with CR0.NE clear do not stall the CPU (PC-style
     * error reporting: asserted by a write to port F0h while FERR# is asserted). */
    _Atomic bool ignne;
    /* The vector of the last STARTUP IPI (VCPU_REQ_SIPI): the AP starts at vector:0000. */
    _Atomic unsigned sipi_vector;
    CpuPins pins;
    /* Cross-modifying code (vcpu_flush_ask below): flush requests asked of this
     * vCPU and how many of them it served; set while it asks others itself; set while
     * it may run guest code without looking at its requests first. */
    _Atomic uint64_t flush_asked, flush_served;
    _Atomic bool flush_asking;
    _Atomic bool in_guest;
} Vcpu;

/* The vCPU the calling thread runs, or NULL on any other thread (the local APIC's
 * registers answer each CPU at the same address). */
Vcpu *vcpu_current(void);

/* Port and MMIO accesses from the CPU: take the engine lock and dispatch. */
uint32_t vcpu_pio_read(Vcpu *v, uint16_t port, unsigned size);
void vcpu_pio_write(Vcpu *v, uint16_t port, uint32_t value, unsigned size);
uint64_t vcpu_mmio_read(Vcpu *v, hwaddr addr, unsigned size);
void vcpu_mmio_write(Vcpu *v, hwaddr addr, uint64_t value, unsigned size);

/* Interrupt acknowledge: the vector of the highest pending interrupt, lock taken inside. */
int vcpu_intr_ack(Vcpu *v);
/* The local APIC on the pins: whether there is one, and IA32_APIC_BASE.
 * The accessors take the lock; they return false without an APIC or for a refused
 * value. */
bool vcpu_has_apic(Vcpu *v);
/* What CPUID tells this processor about itself: its local APIC, initial APIC ID and
 * place in -smp's topology (nx_disabled false: the CPU back end knows that). */
void vcpu_cpuid_who(Vcpu *v, CpuidWho *who);
bool vcpu_apic_base(Vcpu *v, uint64_t *value);
bool vcpu_set_apic_base(Vcpu *v, uint64_t value);
bool vcpu_apic_tpr(Vcpu *v, uint8_t *value);
bool vcpu_set_apic_tpr(Vcpu *v, uint8_t value);
/* Consumes a pending NMI; true if there was one. */
bool vcpu_take_nmi(Vcpu *v);

/* The FERR# output changed (an unmasked x87 error with CR0.NE clear, or its clearing):
 * the device on the FERR# pin latches it into IRQ13. */
void vcpu_set_ferr(Vcpu *v, bool asserted);

/* The CPU shut down (triple fault). */
void vcpu_triple_fault(Vcpu *v);
/* A reset or power-off the back end learned of (KVM system events). */
void vcpu_request_reset(Vcpu *v);
void vcpu_request_shutdown(Vcpu *v);
/* HLT: sleep until an interrupt request, NMI, INIT, SIPI or exit request arrives.
 * wake_on_intr says whether the INTR pin counts (EFLAGS.IF); in wait-for-SIPI neither
 * INTR nor NMI does (sipi_wait). Returns at once if one is pending. */
void vcpu_halt_wait(Vcpu *v, bool wake_on_intr);
void vcpu_sipi_wait(Vcpu *v);

/* From inside vcpu_run, at most for one instruction: every other vCPU stops at an
 * instruction boundary (or stays halted) until vcpu_exclusive_end, so an access that
 * cannot be one host atomic (it crosses a page, or reaches MMIO) is still atomic. Two
 * vCPUs asking at once take turns. Not with the engine lock held. */
void vcpu_exclusive_begin(Vcpu *v);
void vcpu_exclusive_end(Vcpu *v);

/* Cross-modifying code (SDM vol. 3, 8.1.3). A vCPU that starts caching code from a
 * page asks the vCPUs that may hold write pointers to it (cpus: a bit per index;
 * GuestMemory.page_writers) to drop their cached translations (vcpu_flush_ask,
 * between vcpu_flush_ask_begin and _end).
 * Each serves the request at its next instruction boundary (vcpu_flush_take, the
 * flush, vcpu_flush_served); until then its stores through an old pointer reach
 * memory unseen by the code cache. A serializing instruction waits for every request
 * asked before it to be served (vcpu_flushes_pending), so code another CPU rewrote
 * and announced with a flag is what runs after it. A vCPU that runs no guest code
 * (halted, waiting for SIPI, outside vcpu_run) counts as served: it serves its
 * requests before it runs any. Called from the vCPU's own thread. */
void vcpu_flush_ask_begin(Vcpu *v);
void vcpu_flush_ask(Vcpu *v, uint32_t cpus);
void vcpu_flush_ask_end(Vcpu *v);
uint64_t vcpu_flush_take(Vcpu *v);
void vcpu_flush_served(Vcpu *v, uint64_t asked);
bool vcpu_flushes_pending(Vcpu *v);

static inline unsigned vcpu_requests(Vcpu *v)
{
    return atomic_load_explicit(&v->requests, memory_order_relaxed);
}
static inline void vcpu_clear_request(Vcpu *v, unsigned bits)
{
    atomic_fetch_and_explicit(&v->requests, ~bits, memory_order_acq_rel);
}

/* For CPU back ends at VM set-up: per-VM state, and the kernel interrupt controller. */
void vm_set_accel_state(Vm *vm, void *state);
void *vm_accel_state(Vm *vm);
void vm_set_kernel_irqchip(Vm *vm, void (*line)(Vm *vm, unsigned gsi, int level));
Vcpu *vm_vcpu(Vm *vm);
/* The processors: index 0 is the bootstrap processor. */
unsigned vm_cpu_count(Vm *vm);
Vcpu *vm_vcpu_n(Vm *vm, unsigned i);
