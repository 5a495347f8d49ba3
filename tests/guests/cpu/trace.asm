; SPDX-License-Identifier: GPL-2.0-or-later
; The translator's debugging aids against a known routine: `hot`, a loop of known
; instructions run hot (so the translator compiles it and chains the loop to
; itself), whose address the guest prints for tests/guests/cpu/trace.py to find its
; guest and host code in the -d in_asm,out_asm log.
%include "cpu.inc"

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    PRINT32 "trace: hot routine at "
    mov eax, ROM(hot)
    call print_hex32_32
    call newline32

    ; -- run it hot: 2000 calls of 50 iterations each
    mov esi, 2000
.warm:
    mov edx, 50
    mov ebx, 7
    xor eax, eax
    xor ecx, ecx
    call hot
    dec esi
    jnz .warm
    PRINT32 "trace: hot result "
    call print_hex32_32
    mov al, ' '
    call putc32
    mov eax, ecx
    call print_hex32_32
    call newline32
    EXIT EXIT_PASS

; The routine: EDX iterations over EAX and ECX (EBX the multiplier). trace.py knows
; these instructions and their lengths (6, 5, 2, 3, 1, 2 bytes); keep them as they are.
    align 16
hot:
    imul eax, ebx, 0x12345
    add eax, 0x5a5a5a5a
    xor ecx, eax
    rol ecx, 7
    dec edx
    jnz hot
    ret

CPU_LIBRARY
GUEST_END
