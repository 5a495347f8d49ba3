; SPDX-License-Identifier: GPL-2.0-or-later
; SSE/SSE2 and MMX gating and exceptions: #UD without CR4.OSFXSR, #NM with CR0.TS,
; #GP for a misaligned MOVAPS, an unmasked SIMD exception as #UD without
; CR4.OSXMMEXCPT and #XM with it (the destination unchanged, the MXCSR flag set);
; then a few results printed: ADDPS, CVTTSD2SI, PADDUSB (MMX) and PMADDWD (SSE2),
; and the x87 tags (FXSAVE) after MMX and after EMMS.
%include "cpu.inc"

RES equ SCRATCH
VEC equ SCRATCH + 0x100            ; 16-byte aligned data
FXAREA equ SCRATCH + 0x400

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al

%macro EXC_AT 3+         ; vector, error (-1 any), instruction
    TRY %%r
%%f: %3
    FAIL "no exception"
%%r:
    EXPECT_EXC %1, %2, "exception vector"
    EXPECT_EIP %%f, "faulting EIP"
%endmacro

    mov eax, cr0
    and eax, ~(4 | 8)
    or eax, 2 | 0x20
    mov cr0, eax
    fninit
    mov eax, cr4
    and eax, ~(3 << 9)
    mov cr4, eax
    EXC_AT 6, -1, addps xmm0, xmm1
    EXC_AT 6, -1, ldmxcsr [RES]
    paddb mm0, mm1                  ; MMX does not need OSFXSR
    emms
    or eax, 1 << 9                  ; OSFXSR
    mov cr4, eax
    addps xmm0, xmm1
    mov ebx, cr0
    or ebx, 8
    mov cr0, ebx
    EXC_AT 7, -1, addps xmm0, xmm1
    EXC_AT 7, -1, paddb mm0, mm1
    clts
    EXC_AT 13, 0, movaps xmm0, [VEC + 4]
    movups xmm0, [VEC + 4]
    PRINTLN32 "sse: #UD without OSFXSR, #NM with TS, #GP when misaligned"

    ; -- 1.0 / 0.0 with ZM unmasked
    mov dword [RES], 0x1d80
    ldmxcsr [RES]
    mov dword [VEC], 0x3f800000     ; 1.0
    mov dword [VEC + 4], 0
    movss xmm2, [VEC]
    movss xmm3, [VEC + 4]
    EXC_AT 6, -1, divss xmm2, xmm3
    or eax, 1 << 10                 ; OSXMMEXCPT
    mov cr4, eax
    EXC_AT 19, -1, divss xmm2, xmm3
    stmxcsr [RES]
    test dword [RES], 4
    CHECK32 nz, "MXCSR.ZE set by the unmasked divide"
    movd ebx, xmm2
    cmp ebx, 0x3f800000
    CHECK32 e, "the destination was left unchanged"
    mov dword [RES], 0x1f80         ; all masked: infinity
    ldmxcsr [RES]
    divss xmm2, xmm3
    movd ebx, xmm2
    cmp ebx, 0x7f800000
    CHECK32 e, "masked 1/0 gives infinity"
    PRINTLN32 "sse: #UD without OSXMMEXCPT, #XM with it"

    ; -- results
    mov dword [VEC], 0x3fc00000      ; 1.5 2.5 -3 1e10
    mov dword [VEC + 4], 0x40200000
    mov dword [VEC + 8], 0xc0400000
    mov dword [VEC + 12], 0x501502f9
    movaps xmm0, [VEC]
    addps xmm0, xmm0
    movaps [VEC + 16], xmm0
    PRINT32 "sse: addps "
%assign k 0
%rep 4
    mov eax, [VEC + 16 + k]
    call print_hex32_32
    PRINT32 " "
%assign k k + 4
%endrep
    call newline32
    mov dword [VEC], 0
    mov dword [VEC + 4], 0xc0091eb8  ; -3.14
    mov dword [VEC], 0x51eb851f
    movsd xmm1, [VEC]
    cvttsd2si eax, xmm1
    cvtsd2si ebx, xmm1
    PRINT32 "sse: cvttsd2si "
    call print_hex32_32
    PRINT32 " cvtsd2si "
    mov eax, ebx
    call print_hex32_32
    call newline32
    mov dword [VEC], 0x80ff7f01
    mov dword [VEC + 4], 0x00fe0203
    mov dword [VEC + 8], 0x01fe02f0
    mov dword [VEC + 12], 0xff0101ff
    movq mm0, [VEC]
    paddusb mm0, [VEC + 8]
    movq [RES], mm0
    PRINT32 "sse: paddusb "
    mov eax, [RES + 4]
    call print_hex32_32
    mov eax, [RES]
    call print_hex32_32
    call newline32
    fxsave [FXAREA]
    cmp byte [FXAREA + 4], 0xff
    CHECK32 e, "abridged tag word after MMX: all valid"
    cmp word [FXAREA + 2], 0
    CHECK32 e, "TOP 0 after MMX"
    emms
    fxsave [FXAREA]
    cmp byte [FXAREA + 4], 0
    CHECK32 e, "abridged tag word after EMMS: all empty"
    movdqa xmm4, [VEC]
    pmaddwd xmm4, [VEC]
    movdqa [VEC + 16], xmm4
    PRINT32 "sse: pmaddwd "
%assign k 0
%rep 4
    mov eax, [VEC + 16 + k]
    call print_hex32_32
    PRINT32 " "
%assign k k + 4
%endrep
    call newline32
    PRINTLN32 "sse: done"
    EXIT EXIT_PASS

CPU_LIBRARY
GUEST_END
