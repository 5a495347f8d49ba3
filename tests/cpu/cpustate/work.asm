; SPDX-License-Identifier: GPL-2.0-or-later
; The workload of the CPU state test: loaded at 0x1000 and entered in 32-bit flat
; protected mode by tests/cpu/cpustate.c (CR4.OSFXSR set). Each round mixes integer,
; x87 and SSE work so that a state saved at any instruction holds live values in all
; three, and stores a checksum row at 0x8000 + 16 * round. Ends with HLT.
bits 32
org 0x1000

start:
    fninit
    fld1                        ; ST0 = x
    fldpi                       ; ST0 = pi, ST1 = x
    mov eax, 12345              ; integer LCG
    xor ebx, ebx
    mov esi, 0x8000
    mov ecx, 300                ; rounds
    movaps xmm0, [vec_a]
    movaps xmm1, [vec_b]
    mov edx, 0x3f800000
.round:
    imul eax, eax, 1103515245
    add eax, 12345
    rol eax, 7
    adc ebx, eax
    fld st1
    fmul st0, st1               ; x * pi
    fsqrt
    fadd st0, st2
    fstp st2                    ; x = sqrt(x * pi) + x
    addps xmm0, xmm1
    mulps xmm1, [vec_c]
    pxor xmm2, xmm2
    cvtsi2ss xmm2, eax
    addss xmm0, xmm2
    fld st1
    fistp dword [esi]           ; row: int(x), the LCG, the carry sum, a float
    mov [esi + 4], eax
    mov [esi + 8], ebx
    movss [esi + 12], xmm0
    add esi, 16
    dec ecx
    jnz .round
    fstp st0
    fstp dword [0x7ff0]
    movups [0x7fe0], xmm1
    hlt

align 16
vec_a: dd 1.0, 2.0, 3.0, 4.0
vec_b: dd 0.5, 0.25, 0.125, 0.0625
vec_c: dd 1.01, 0.99, 1.001, 0.999
