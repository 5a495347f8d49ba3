; SPDX-License-Identifier: GPL-2.0-or-later
; What a CPU model (-cpu) lets a guest see and run: CPUID's signature and feature words,
; then one probe per feature's instruction, printed as "name" when it ran (or faulted
; with something other than #UD) and "-name" when it raised #UD. The test runs this
; under each model and compares the lines with what the model's processor does.
%include "cpu.inc"

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al

    PRINT32 "models: cpuid 1: eax="
    mov eax, 1
    cpuid
    push edx
    push ecx
    call print_hex32_32
    PRINT32 " ecx="
    pop eax
    call print_hex32_32
    PRINT32 " edx="
    pop eax
    call print_hex32_32
    call newline32

    ; LZCNT's bit; a model without extended leaves answers its highest basic leaf,
    ; whose ECX is 0 for all of them.
    PRINT32 "models: cpuid 80000001: ecx="
    mov eax, 0x80000001
    cpuid
    mov eax, ecx
    call print_hex32_32
    call newline32

    ; SSE needs CR4.OSFXSR; a model without FXSR refuses the bit (#GP).
    TRY .cr4_done
    mov eax, cr4
    or eax, 0x600
    mov cr4, eax
.cr4_done:
    fninit
    fld1
    fldz

%macro PROBE 2+          ; " name", instruction
    TRY %%r
    %2
%%r:
    cmp dword [EXC_VEC], 6
    jne %%has
    PRINT32 " -"
    jmp %%name
%%has:
    PRINT32 " "
%%name:
    PRINT32 %1
%endmacro

    PRINT32 "models:"
    PROBE "rdtsc", rdtsc
    mov ecx, 0x10
    PROBE "rdmsr", rdmsr
    PROBE "cmpxchg8b", cmpxchg8b [SCRATCH]
    PROBE "cmov", cmovz eax, ebx
    PROBE "fcmov", fcmovb st0, st1
    PROBE "nopl", nop dword [eax]
    PROBE "mmx", emms
    PROBE "sysenter", sysenter       ; #GP(0) with SYSENTER_CS 0 where it exists
    mov eax, SCRATCH + 0x100
    PROBE "fxsave", fxsave [SCRATCH + 0x100]
    PROBE "sse", xorps xmm0, xmm0
    PROBE "sse2", pxor xmm0, xmm0
    PROBE "sse3", haddps xmm0, xmm0
    PROBE "clflush", clflush [SCRATCH]
    call newline32

    ; The later sets, one instruction of each group of features.c.
    PRINT32 "models: later:"
    PROBE "ssse3", pshufb xmm0, xmm1
    PROBE "popcnt", popcnt eax, ebx
    PROBE "sse4.1", ptest xmm0, xmm1
    PROBE "pminsd", pminsd xmm0, xmm1
    PROBE "roundps", roundps xmm0, xmm1, 4
    PROBE "sse4.2", pcmpgtq xmm0, xmm1
    PROBE "crc32", crc32 eax, bl
    PROBE "pcmpistri", pcmpistri xmm0, xmm1, 0
    ; Without LZCNT the encoding is BSR (SDM vol. 2, LZCNT): of 1, BSR gives 0 and
    ; LZCNT 31.
    mov ebx, 1
    xor eax, eax
    lzcnt eax, ebx
    cmp eax, 31
    je .lzcnt
    PRINT32 " -lzcnt"
    jmp .lzcnt_done
.lzcnt:
    PRINT32 " lzcnt"
.lzcnt_done:
    call newline32
    EXIT EXIT_PASS

    CPU_LIBRARY
GUEST_END
