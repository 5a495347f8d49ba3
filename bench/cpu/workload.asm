; SPDX-License-Identifier: GPL-2.0-or-later
; The interpreter benchmark's guest: a fixed integer workload in 32-bit protected
; mode with 4 KiB paging on, in four parts whose instruction counts do not depend on
; the data, so the total is known exactly:
;   ALU      12 instructions x 1M       register arithmetic, shifts, IMUL
;   MEMORY    8 instructions x 512K     loads, read-modify-write stores, pointer steps,
;                                       plus one REP MOVSD of 4 KiB every 4K iterations
;   CALLS    10 instructions x 512K     CALL/RET of a small leaf with a stack frame
;   BRANCHES  7 instructions x 1M       data-dependent branches (both paths equal length)
; repeated ROUNDS times (nasm -DROUNDS=n). It prints a checksum on COM1 and exits
; through isa-debug-exit (status 33). bench/cpu/run.py times it with two values of
; ROUNDS and divides the instruction difference by the time difference. -DPARTS=mask
; keeps only some parts (1 ALU, 2 MEMORY, 4 CALLS, 8 BRANCHES) for run.py --parts.
%include "cpu.inc"

%ifndef ROUNDS
%define ROUNDS 4
%endif
%ifndef PARTS
%define PARTS 15
%endif

PD     equ 0x10000
PT     equ 0x11000     ; 4 page tables: 16 MiB identity mapped
BUF_A  equ 0x200000
BUF_B  equ 0x300000

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    ; identity-map 16 MiB with 4 KiB pages
    mov edi, PT
    mov eax, 3
    mov ecx, 4096
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD], PT | 3
    mov dword [PD + 4], (PT + 0x1000) | 3
    mov dword [PD + 8], (PT + 0x2000) | 3
    mov dword [PD + 12], (PT + 0x3000) | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ; buffers
    mov edi, BUF_A
    mov ecx, 0x10000 / 4
    mov eax, 0x12345678
.init:
    stosd
    rol eax, 5
    add eax, ecx
    loop .init

    xor ebp, ebp                  ; checksum
    mov dword [SCRATCH], ROUNDS
round:
%if PARTS & 1
    ; ---- ALU: 12 per iteration
    mov ecx, 1000000
    mov eax, 1
    mov ebx, 0x9e3779b9
    mov edx, 7
.alu:
    add eax, ebx
    xor ebx, eax
    rol eax, 7
    imul edx, eax, 33
    sub ebx, edx
    shr edx, 3
    or eax, edx
    and ebx, 0x7fffffff
    lea eax, [eax + ebx * 2 + 5]
    inc edx
    dec ecx
    jnz .alu
    add ebp, eax

%endif
%if PARTS & 2
    ; ---- MEMORY: 8 per iteration, and a 4 KiB REP MOVSD every 4096
    mov ecx, 512 * 1024
    mov esi, BUF_A
    mov edi, BUF_B
.mem:
    mov eax, [esi]
    add [edi], eax
    mov edx, [esi + 4]
    xor [edi + 4], edx
    add esi, 8
    and esi, BUF_A | 0xfff8       ; stay in a 64 KiB window
    add edi, 8
    loop .mem_next
    jmp .mem_done
.mem_next:
    test ecx, 0xfff
    jnz .mem
    push esi
    push edi
    push ecx
    mov esi, BUF_A
    mov edi, BUF_B + 0x10000
    mov ecx, 1024
    rep movsd
    pop ecx
    pop edi
    pop esi
    mov edi, BUF_B
    jmp .mem
.mem_done:
    add ebp, [BUF_B + 0x40]

%endif
%if PARTS & 4
    ; ---- CALLS: 10 per iteration (call, 6 in the leaf, ret, dec, jnz)
    mov ecx, 512 * 1024
    xor eax, eax
.call:
    call leaf
    dec ecx
    jnz .call
    add ebp, eax

%endif
%if PARTS & 8
    ; ---- BRANCHES: 7 per iteration on both paths
    mov ecx, 1000000
    mov eax, 0x2545f491
    xor ebx, ebx
.br:
    test al, 1
    jz .even
    add ebx, 3
    jmp .join
.even:
    sub ebx, 1
    jmp .join
.join:
    ror eax, 1
    dec ecx
    jnz .br
    add ebp, ebx

%endif
    dec dword [SCRATCH]
    jnz round

    PRINT32 "bench: checksum "
    mov eax, ebp
    call print_hex32_32
    call newline32
    EXIT EXIT_PASS

leaf:
    push ebp
    mov ebp, esp
    add eax, ecx
    xor eax, [ebp]
    pop ebp
    rol eax, 3
    ret

CPU_LIBRARY
GUEST_END
