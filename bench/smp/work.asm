; SPDX-License-Identifier: GPL-2.0-or-later
; The SMP benchmark's guest: the BSP starts every AP (INIT-SIPI-SIPI, the processor
; count from CMOS byte 0x5F as QEMU and Vireo set it), then the CPUs share a fixed
; amount of work and the BSP exits through isa-debug-exit (status 33) when all are done.
;   default     ITERS iterations of a register-only loop (7 instructions), split evenly:
;               a CPU-bound parallel job, so -smp 2 against -smp 1 is the speed-up
;   -DLOCKADD   every CPU does ITERS LOCK ADDs to one shared dword (contended)
;   -DCMPXCHG   every CPU does ITERS increments of it by a LOCK CMPXCHG loop
;   -DLONG      with -DLOCKADD or -DCMPXCHG: every CPU does it in 64-bit mode (long.inc),
;               on a quadword
; bench/smp/run.py builds and times it.
%include "cpu.inc"
%include "ap.inc"
%include "long.inc"

%ifndef ITERS
%define ITERS 100000000
%endif

%ifdef LONG
%ifndef LOCKADD
%ifndef CMPXCHG
%error "-DLONG is for the contended -DLOCKADD and -DCMPXCHG forms"
%endif
%endif
%define OPSZ qword
%define ACC rax
%define NEW rdx
%else
%define OPSZ dword
%define ACC eax
%define NEW edx
%endif

NCPUS      equ 0x40000
ALIVE      equ 0x40040
DONE       equ 0x40080
SHARED     equ 0x400c0
RESULT     equ 0x40100          ; per CPU

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov edi, 0x40000
    mov ecx, 0x200 / 4
    xor eax, eax
    rep stosd
    AP_COUNT
    mov [NCPUS], eax
    mov dword [LAPIC + 0xf0], 0x1ff
%ifdef LONG
    LONG_TABLES
%endif
    cmp eax, 1
    je .go
    AP_START_ALL
.go:
%ifdef LONG
    mov ebx, ROM(bsp_work)
    jmp long_enter
[bits 64]
%endif
bsp_work:
    call work
    mov ebx, [NCPUS]
.wait:
    pause
    cmp [DONE], ebx
    jne .wait
%ifdef LONG
    PRINT64 "smp-bench: done"
    call newline64
%else
    PRINTLN32 "smp-bench: done"
%endif
    EXIT EXIT_PASS

work:
%ifdef LOCKADD
    mov ecx, ITERS
.l:
    lock add OPSZ [SHARED], 1
    dec ecx
    jnz .l
%elifdef CMPXCHG
    mov ecx, ITERS
.l:
    mov ACC, [SHARED]
.c:
    lea NEW, [ACC + 1]
    lock cmpxchg [SHARED], NEW
    jnz .c
    dec ecx
    jnz .l
%else
    xor edx, edx
    mov eax, ITERS
    div dword [NCPUS]
    mov esi, eax
    mov eax, 12345
    xor ebx, ebx
.l:
    imul eax, eax, 1103515245
    add eax, 12345
    xor ebx, eax
    rol ebx, 5
    add edx, ebx
    dec esi
    jnz .l
    mov ecx, [LAPIC + 0x20]
    shr ecx, 24
    mov [RESULT + ecx * 4], edx
%endif
    lock inc dword [DONE]
    ret

AP_ENTRY ap_main

[bits 32]
ap_main:
%ifdef LONG
    mov ebx, ROM(ap_work)
    jmp long_enter
[bits 64]
%endif
ap_work:
    call work
.halt:
    cli
    hlt
    jmp .halt

%ifdef LONG
LONG_LIBRARY
%else
[bits 16]
%endif
CPU_LIBRARY
GUEST_END
