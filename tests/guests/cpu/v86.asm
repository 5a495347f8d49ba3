; SPDX-License-Identifier: GPL-2.0-or-later
; Virtual-8086 mode (SDM vol. 3, chapter 20): entered with IRET, real-mode segment
; loads and 64 KiB limits, IOPL-sensitive instructions (#GP at IOPL < 3, working at
; IOPL 3), the I/O permission bitmap (consulted whatever the IOPL), privileged
; instructions, interrupts through the IDT to ring 0 with the V86 frame, and IRET
; back. V86 code records what happened in RESULTS; ring 0 checks it.
%include "cpu.inc"

RESULTS equ 0x8000            ; one dword per check, written by the V86 code
V86_STACK equ 0x7c00

; In V86 code: expect an exception at the next instruction; the handler resumes at
; the label and the V86 code stores the vector it saw.
%macro V86_TRY 1
    mov dword [EXC_VEC], -1
    mov dword [RESUME], %1
%endmacro
%macro V86_RECORD 1
    mov eax, [EXC_VEC]
    mov [RESULTS + (%1) * 4], eax
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    ; port 0x80 denied in the bitmap, 0x81 allowed
    or byte [TSS_ADDR + 0x68 + 0x80 / 8], 1 << (0x80 % 8)
    ; INT 0x31 enters ring 0 from V86 at IOPL 3 (gate DPL 3)
    SETGATE 0x31, int31, SEL_CODE0, 0xee
    mov edi, RESULTS
    mov ecx, 32
    mov eax, 0xdeadbeef
    rep stosd

    ; -- phase 1: IOPL 0
    mov dword [EXC_CONT], phase1_done
    push dword 0              ; GS
    push dword 0              ; FS
    push dword 0              ; DS
    push dword 0              ; ES
    push dword 0              ; SS
    push dword V86_STACK
    push dword 0x00020002     ; VM, IOPL 0, IF 0
    push dword 0xf000         ; CS
    push dword v86_iopl0
    iret

phase1_done:
    PRINTLN32 "v86: left V86 mode through #GP"
%macro CHECK_RESULT 3
    cmp dword [RESULTS + (%1) * 4], %2
    je %%ok
    PRINT32 "FAIL: "
    PRINT32 %3
    PRINT32 ": got "
    mov eax, [RESULTS + (%1) * 4]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
%%ok:
%endmacro
    CHECK_RESULT 0, 13, "CLI at IOPL 0"
    CHECK_RESULT 1, 13, "PUSHF at IOPL 0"
    CHECK_RESULT 2, 13, "POPF at IOPL 0"
    CHECK_RESULT 3, 13, "INT n at IOPL 0"
    CHECK_RESULT 4, 13, "IRET at IOPL 0"
    CHECK_RESULT 5, -1, "IN from an allowed port"
    CHECK_RESULT 6, 13, "OUT to a denied port"
    CHECK_RESULT 7, 13, "MOV CR0 in V86"
    CHECK_RESULT 8, 13, "word access at offset 0xFFFF"
    CHECK_RESULT 9, 0x12345678, "write through a real-mode style segment"
    CHECK_RESULT 10, 0x0000f000, "CS after a far jump in V86"
    CHECK_RESULT 11, 13, "LGDT in V86"
    CHECK_RESULT 12, -1, "STI/CLI sequence must not have run"
    cmp dword [0x12340 + 0x10], 0x12345678
    CHECK32 e, "V86 segment base is not selector * 16"
    ; the #GP frame pushed by V86 mode carries VM and the segment registers
    test dword [EXC_EFL], 0x20000
    CHECK32 nz, "the exception frame from V86 lacks EFLAGS.VM"
    PRINTLN32 "v86: IOPL 0 checks passed"

    ; -- phase 2: IOPL 3: CLI/STI/PUSHF/POPF work, INT n goes through the IDT
    mov dword [EXC_CONT], phase2_done
    push dword 0x5678         ; GS
    push dword 0x1234         ; FS
    push dword 0x2000         ; DS
    push dword 0x3000         ; ES
    push dword 0              ; SS
    push dword V86_STACK
    push dword 0x00023002     ; VM, IOPL 3
    push dword 0xf000
    push dword v86_iopl3
    iret

phase2_done:
    CHECK_RESULT 16, 0x3202, "PUSHF at IOPL 3 (VM and RF are not pushed)"
    CHECK_RESULT 17, 0x31, "INT 0x31 did not reach its handler"
    CHECK_RESULT 18, 0x2000, "DS after IRET back to V86"
    CHECK_RESULT 19, 0x5678, "GS after IRET back to V86"
    CHECK_RESULT 20, -1, "an exception at IOPL 3"
    CHECK_RESULT 21, 13, "IN from a denied port at IOPL 3"
    PRINTLN32 "v86: IOPL 3 checks passed"
    EXIT EXIT_PASS

; INT 0x31 from V86: ring 0, V86 frame with the segment registers, data segments null.
int31:
    cmp dword [esp + 8], 0x23202      ; EFLAGS: VM, IOPL 3, IF
    jne .bad
    cmp dword [esp + 20], 0x3000      ; ES
    jne .bad
    cmp dword [esp + 24], 0x2000      ; DS
    jne .bad
    cmp dword [esp + 28], 0x1234      ; FS
    jne .bad
    mov eax, ds
    test eax, eax
    jnz .bad
    mov ax, SEL_DATA0
    mov ds, ax
    mov dword [RESULTS + 17 * 4], 0x31
    xor eax, eax
    mov ds, ax
    iret
.bad:
    mov ax, SEL_DATA0
    mov ds, ax
    FAIL "the V86 interrupt frame is wrong"

[bits 16]
v86_iopl0:
    xor ax, ax
    mov ds, ax
    V86_TRY .r0
    cli
.r0: V86_RECORD 0
    V86_TRY .r1
    pushf
.r1: V86_RECORD 1
    V86_TRY .r2
    popf
.r2: V86_RECORD 2
    V86_TRY .r3
    int 0x21
.r3: V86_RECORD 3
    V86_TRY .r4
    iret
.r4: V86_RECORD 4
    V86_TRY .r5
    in al, 0x81
.r5: V86_RECORD 5
    V86_TRY .r6
    out 0x80, al
.r6: V86_RECORD 6
    V86_TRY .r7
    mov eax, cr0
.r7: V86_RECORD 7
    V86_TRY .r8
    mov ax, [0xffff]
.r8: V86_RECORD 8
    mov ax, 0x1234
    mov es, ax
    mov dword [es:0x10], 0x12345678
    mov eax, [es:0x10]
    mov [RESULTS + 9 * 4], eax
    jmp 0xf000:.far
.far:
    xor eax, eax
    mov ax, cs
    mov [RESULTS + 10 * 4], eax
    V86_TRY .r11
    lgdt [0]
.r11: V86_RECORD 11
    mov dword [EXC_VEC], -1
    V86_RECORD 12
    ; leave V86 mode: a #GP that the handler turns into a jump to ring 0
    mov dword [RESUME], 2
    hlt

v86_iopl3:
    ; DS, ES, FS, GS keep the values the IRET loaded: results go through SS (base 0)
    mov dword [ss:EXC_VEC], -1
    cli
    sti
    pushf
    pop ax
    movzx eax, ax
    mov [ss:RESULTS + 16 * 4], eax
    push word 0x3202
    popf
    int 0x31
    mov ax, ds
    movzx eax, ax
    mov [ss:RESULTS + 18 * 4], eax
    mov ax, gs
    movzx eax, ax
    mov [ss:RESULTS + 19 * 4], eax
    mov eax, [ss:EXC_VEC]
    mov [ss:RESULTS + 20 * 4], eax
    ; the I/O bitmap still applies at IOPL 3
    mov dword [ss:RESUME], .d
    in al, 0x80
.d: mov eax, [ss:EXC_VEC]
    mov [ss:RESULTS + 21 * 4], eax
    mov dword [ss:RESUME], 2
    hlt
[bits 32]

CPU_LIBRARY
GUEST_END
