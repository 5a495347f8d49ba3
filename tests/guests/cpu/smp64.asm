; SPDX-License-Identifier: GPL-2.0-or-later
; Locked read-modify-writes of 64-bit code on several processors (-smp N, N read from
; CMOS byte 0x5F). The BSP maps the first 4 GiB one to one with 2 MiB pages, starts the
; APs (ap.inc), and every CPU enters long mode (SDM vol. 3, 9.8.5). Then each CPU, ITER
; times, works on shared quadwords: LOCK ADD, LOCK XADD (adding up the values it
; returned), LOCK INC, LOCK SUB, a LOCK CMPXCHG loop, a LOCK CMPXCHG16B loop on a
; 128-bit counter, a plain increment under an XCHG spinlock released by a plain store
; (as Linux's qspinlock is) and one under a LOCK BTS bit lock released by LOCK BTR;
; then SPLIT_ITER LOCK XADDs to a quadword that crosses a page. The counters start
; where their sums carry out of the low doubleword (the 128-bit one out of the low
; quadword): a 32-bit-wide or non-atomic operation leaves a wrong total. The BSP checks
; every total against what N CPUs must give and prints them.
%include "cpu.inc"
%include "ap.inc"
%include "long.inc"

ITER       equ 200000
SPLIT_ITER equ 10000

; Shared variables, each on its own cache line.
NCPUS      equ 0x40000
ALIVE      equ 0x40040
GO         equ 0x40080
DONE       equ 0x400c0
CNT_ADD    equ 0x40100
CNT_XADD   equ 0x40140
XADD_SUM   equ 0x40180          ; sum of the values LOCK XADD returned (mod 2^64)
CNT_INC    equ 0x401c0
CNT_SUB    equ 0x40200
CNT_CMPX   equ 0x40240
CNT_16B    equ 0x40280          ; 128 bits, 16-byte aligned
LOCKV      equ 0x402c0          ; XCHG spinlock (a quadword)
CNT_PLAIN  equ 0x40300
BITLOCK    equ 0x40340          ; LOCK BTS lock: bit 37
CNT_BTS    equ 0x40380
SPLIT_GO   equ 0x403c0
EXPECT     equ 0x40400          ; scratch for the checks
CNT_SPLIT  equ 0x41ffc          ; a quadword across a page boundary

START      equ 0xffff0000               ; +N*ITER carries into bit 32
START_SUB  equ 0x100001000              ; -3*N*ITER borrows from bit 32
START_16LO equ 0xffffffffffff8000       ; +N*ITER carries into the high quadword
START_16HI equ 1
START_SPL  equ 0xfffffff0               ; the carry crosses the page too

; Waits until the dword at %1 equals %2 (not rax, rdx, r15), for at most 60 s of TSC
; (a loaded host may not run the other vCPUs' threads for seconds).
%macro WAIT64 3
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r15, 60000000000
    add r15, rax
%%w:
    cmp dword [%1], %2
    je %%ok
    pause
    rdtsc
    shl rdx, 32
    or rax, rdx
    cmp rax, r15
    jb %%w
    FAIL64 %3
%%ok:
%endmacro

; CHECK64 address, expected (a register other than rax), "what": the quadword there
; equals it, printed as "smp64: what <hex>".
%macro CHECK64 3
    PRINT64 "smp64: "
    PRINT64 %3
    PRINT64 " "
    mov rax, [%1]
    call print_hex64
    call newline64
    cmp [%1], %2
    je %%ok
    PRINT64 "FAIL: "
    PRINT64 %3
    PRINT64 " should be "
    mov rax, %2
    call print_hex64
    call newline64
    EXIT EXIT_FAIL
%%ok:
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov edi, 0x40000
    mov ecx, 0x2000 / 4
    xor eax, eax
    rep stosd
    AP_COUNT
    mov [NCPUS], eax
    cmp eax, 2
    CHECK32 ae, "run with -smp 2 or more"
    mov eax, 0x80000001
    cpuid
    bt edx, 29
    CHECK32 c, "no long mode (CPUID 80000001h EDX.LM)"
    mov eax, 1
    cpuid
    bt ecx, 13
    CHECK32 c, "no CMPXCHG16B (CPUID 1 ECX.CX16)"
    ; the counters' starting values
    mov dword [CNT_ADD], START
    mov dword [CNT_XADD], START
    mov dword [CNT_INC], START
    mov dword [CNT_CMPX], START
    mov dword [CNT_PLAIN], START
    mov dword [CNT_BTS], START
    mov dword [CNT_SUB], START_SUB & 0xffffffff
    mov dword [CNT_SUB + 4], START_SUB >> 32
    mov dword [CNT_16B], START_16LO & 0xffffffff
    mov dword [CNT_16B + 4], START_16LO >> 32
    mov dword [CNT_16B + 8], START_16HI
    mov dword [CNT_SPLIT], START_SPL
    mov dword [CNT_SPLIT + 4], 0
    LONG_TABLES
    call apic_setup
    cmp dword [LAPIC + 0x20], 0
    CHECK32 e, "the BSP's APIC ID is not 0"
    AP_START_ALL
    mov ebx, ROM(bsp64)
    jmp long_enter

AP_ENTRY ap_main

[bits 32]
ap_main:
    call apic_setup
    mov ebx, ROM(ap64)
    jmp long_enter

; Software-enables this CPU's APIC.
apic_setup:
    mov dword [LAPIC + 0xf0], 0x1ff
    ret

[bits 64]
bsp64:
    mov esp, esp
    mov ecx, 0xc0000080
    rdmsr
    bt eax, 10
    jc .lma
    FAIL64 "EFER.LMA clear after enabling paging"
.lma:
    mov ebx, [NCPUS]
    dec ebx
    WAIT64 ALIVE, ebx, "not every AP reached long mode"
    PRINT64 "smp64: CPUs in long mode: "
    mov eax, [NCPUS]
    call print_hex64
    call newline64
    mov dword [GO], 1
    call count64
    mov ebx, [NCPUS]
    WAIT64 DONE, ebx, "the counting did not finish"
    ; T = N * ITER
    mov eax, [NCPUS]
    imul rbx, rax, ITER
    mov rcx, START
    add rcx, rbx
    CHECK64 CNT_ADD, rcx, "LOCK ADD"
    CHECK64 CNT_XADD, rcx, "LOCK XADD"
    CHECK64 CNT_INC, rcx, "LOCK INC"
    CHECK64 CNT_CMPX, rcx, "LOCK CMPXCHG"
    CHECK64 CNT_PLAIN, rcx, "XCHG spinlock"
    CHECK64 CNT_BTS, rcx, "LOCK BTS lock"
    ; XADD returned START + k for each k in 0 .. T-1 once: T * START + T * (T - 1) / 2
    lea rax, [rbx - 1]
    imul rax, rbx
    shr rax, 1
    mov rcx, START
    imul rcx, rbx
    add rcx, rax
    CHECK64 XADD_SUM, rcx, "sum of LOCK XADD values"
    imul rcx, rbx, 3
    neg rcx
    mov rax, START_SUB
    add rcx, rax
    CHECK64 CNT_SUB, rcx, "LOCK SUB"
    mov rcx, START_16LO
    xor edx, edx
    add rcx, rbx
    adc edx, START_16HI
    CHECK64 CNT_16B, rcx, "LOCK CMPXCHG16B low"
    CHECK64 CNT_16B + 8, rdx, "LOCK CMPXCHG16B high"
    mov eax, [NCPUS]
    imul rcx, rax, SPLIT_ITER
    mov eax, START_SPL
    add rcx, rax
    CHECK64 CNT_SPLIT, rcx, "page-crossing LOCK XADD"
    PRINT64 "smp64: all totals exact"
    call newline64
    EXIT EXIT_PASS

ap64:
    mov esp, esp
    lock inc dword [ALIVE]
    WAIT64 GO, 1, "an AP never saw the start"
    call count64
.halt:
    cli
    hlt
    jmp .halt

; Every CPU: ITER rounds on the shared counters, then the page-crossing adds.
count64:
    mov r8d, ITER
.round:
    lock add qword [CNT_ADD], 1
    mov eax, 1
    lock xadd [CNT_XADD], rax
    lock add [XADD_SUM], rax
    lock inc qword [CNT_INC]
    lock sub qword [CNT_SUB], 3
    mov rax, [CNT_CMPX]
.cmpx:
    lea rdx, [rax + 1]
    lock cmpxchg [CNT_CMPX], rdx
    jnz .cmpx
    mov rax, [CNT_16B]
    mov rdx, [CNT_16B + 8]
.c16:
    mov rbx, rax
    mov rcx, rdx
    add rbx, 1
    adc rcx, 0
    lock cmpxchg16b [CNT_16B]
    jnz .c16
    ; the XCHG spinlock
    mov eax, 1
.spin:
    xchg [LOCKV], rax
    test rax, rax
    jz .locked
.wait:
    pause
    cmp qword [LOCKV], 0
    jne .wait
    mov eax, 1
    jmp .spin
.locked:
    mov rax, [CNT_PLAIN]
    inc rax
    mov [CNT_PLAIN], rax
    mov qword [LOCKV], 0
    ; the bit lock
.bts:
    lock bts qword [BITLOCK], 37
    jnc .bts_locked
    pause
    jmp .bts
.bts_locked:
    mov rax, [CNT_BTS]
    inc rax
    mov [CNT_BTS], rax
    lock btr qword [BITLOCK], 37
    dec r8d
    jnz .round
    ; the page-crossing adds, all CPUs at once
    lock inc dword [SPLIT_GO]
    mov eax, [NCPUS]
.barrier:
    pause
    cmp [SPLIT_GO], eax
    jne .barrier
    mov r8d, SPLIT_ITER
.split:
    mov eax, 1
    lock xadd [CNT_SPLIT], rax
    dec r8d
    jnz .split
    lock inc dword [DONE]
    ret

LONG_LIBRARY
CPU_LIBRARY
GUEST_END
