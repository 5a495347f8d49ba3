; SPDX-License-Identifier: GPL-2.0-or-later
; The x87 unit: #NM for CR0.EM/TS/MP, arithmetic under each rounding and precision
; control with the stored results printed, stack overflow, FBSTP, FCOMI, FXAM of an
; empty register, FSAVE/FRSTOR; unmasked exceptions delivered as #MF at the next
; waiting instruction with CR0.NE set, and with CR0.NE clear through FERR# and IRQ 13
; (the handler acknowledges at port F0h and the stalled FWAIT then completes).
%include "cpu.inc"

IRQ13_COUNT equ 0x580
IRQ13_EIP   equ 0x584
RES         equ SCRATCH            ; results stored by the FPU
SAVE        equ SCRATCH + 0x100    ; an FSAVE area

GUEST_START
guest_main:
    ; -- real mode: the 16- and 32-bit real-mode environment layouts (20-bit linear
    ; instruction pointer split in two fields, opcode beside its top bits), FSAVE/FRSTOR
    fninit
.rm_fld:
    fld1
    fnstenv [es:0x600]
    cmp word [es:0x600], 0x037f
    CHECK e, "real-mode FSTENV: control word"
    cmp word [es:0x602], 0x3800
    CHECK e, "real-mode FSTENV: status word with TOP 7"
    cmp word [es:0x604], 0x3fff
    CHECK e, "real-mode FSTENV: tag word (R7 valid)"
    cmp word [es:0x606], .rm_fld
    CHECK e, "real-mode FSTENV: instruction pointer bits 15-0"
    cmp word [es:0x608], 0xf1e8
    CHECK e, "real-mode FSTENV: pointer bits 19-16 and the FLD1 opcode"
    o32 fnstenv [es:0x620]
    cmp word [es:0x620 + 12], .rm_fld
    CHECK e, "32-bit real-mode FSTENV: instruction pointer bits 15-0"
    cmp dword [es:0x620 + 16], 0xf1e8
    CHECK e, "32-bit real-mode FSTENV: pointer bits 31-16 and opcode"
    fldpi
    fnsave [es:0x700]
    fnstsw ax
    cmp ax, 0
    CHECK e, "real-mode FNSAVE reinitializes"
    frstor [es:0x700]
    fldpi
    fcompp
    fnstsw ax
    and ax, 0x4500
    cmp ax, 0x4000
    CHECK e, "real-mode FRSTOR restored ST0"
    fstp st0
    fnstsw ax
    and ax, 0x3800
    CHECK z, "real-mode FRSTOR restored TOP"
    PRINTLN "fpu: real-mode environment and save layouts"
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

; PRINT_M64 "label": the qword at RES, as two hex words.
%macro PRINT_M64 1
    PRINT32 %1
    mov eax, [RES + 4]
    call print_hex32_32
    PRINT32 " "
    mov eax, [RES]
    call print_hex32_32
    call newline32
%endmacro

    ; -- #NM: EM makes every escape fault; TS faults escapes, and WAIT only with MP
    mov eax, cr0
    and eax, ~(2 | 4 | 8 | 0x20)
    or eax, 4
    mov cr0, eax
    EXC_AT 7, -1, fld1
    EXC_AT 7, -1, fnstsw ax
    and eax, ~4
    or eax, 8
    mov cr0, eax
    EXC_AT 7, -1, fadd st0, st1
    EXC_AT 7, -1, fninit
    wait                            ; TS without MP: WAIT runs
    or eax, 2
    mov cr0, eax
    EXC_AT 7, -1, wait
    clts
    wait
    and eax, ~(2 | 8)
    PRINTLN32 "fpu: #NM for EM, TS and MP+TS"

    ; -- arithmetic: 7/3 under the four rounding controls, stored as m64
    or eax, 0x20                    ; NE: native #MF
    mov cr0, eax
    fninit
    mov dword [RES + 8], 7
    mov dword [RES + 12], 3
%macro DIV_RC 2                     ; control word, label
    mov word [RES + 16], %1
    fldcw [RES + 16]
    fild dword [RES + 8]
    fidiv dword [RES + 12]
    fstp qword [RES]
    PRINT_M64 %2
%endmacro
    DIV_RC 0x037f, "fpu: 7/3 nearest "
    DIV_RC 0x077f, "fpu: 7/3 down "
    DIV_RC 0x0b7f, "fpu: 7/3 up "
    DIV_RC 0x0f7f, "fpu: 7/3 chop "
    DIV_RC 0x007f, "fpu: 7/3 single precision "
    ; sqrt(2) with double precision control, FRNDINT and FISTP under RC
    mov word [RES + 16], 0x027f
    fldcw [RES + 16]
    fld1
    fld1
    faddp
    fsqrt
    fstp qword [RES]
    PRINT_M64 "fpu: sqrt 2 "
    mov dword [RES + 8], 0x40200000 ; 2.5f
    mov dword [RES + 12], 0xc0200000 ; -2.5f
    fld dword [RES + 8]
    frndint
    fistp dword [RES]
    cmp dword [RES], 2
    CHECK32 e, "FRNDINT 2.5 to nearest even"
    mov word [RES + 16], 0x0b7f     ; up
    fldcw [RES + 16]
    fld dword [RES + 8]
    fistp dword [RES]
    cmp dword [RES], 3
    CHECK32 e, "FISTP 2.5 rounding up"
    mov word [RES + 16], 0x0f7f     ; chop
    fldcw [RES + 16]
    fld dword [RES + 12]
    fistp dword [RES]
    cmp dword [RES], -2
    CHECK32 e, "FISTP -2.5 chopped"
    ; FBSTP, FLDPI to m80
    fninit
    mov dword [RES + 8], 12345678
    fild dword [RES + 8]
    fchs
    fbstp [RES]
    cmp dword [RES], 0x12345678
    CHECK32 e, "FBSTP digits"
    cmp dword [RES + 4], 0
    CHECK32 e, "FBSTP high digits"
    cmp word [RES + 8], 0x8000
    CHECK32 e, "FBSTP sign byte"
    fldpi
    fstp tword [RES]
    PRINT_M64 "fpu: pi m80 significand "
    cmp word [RES + 8], 0x4000
    CHECK32 e, "FLDPI exponent"
    PRINTLN32 "fpu: arithmetic, rounding and precision control"

    ; -- compares: FCOMI sets EFLAGS, FCOM the condition codes, FXAM of an empty register
    fninit
    fld1                            ; ST1 = 1
    fldz                            ; ST0 = 0
    fcomi st0, st1
    CHECK32 b, "FCOMI 0 < 1 sets CF"
    fcom st1
    fnstsw ax
    and ax, 0x4500
    cmp ax, 0x0100
    CHECK32 e, "FCOM 0 < 1: C0"
    fucomip st0, st1                ; pops: ST0 = 1
    CHECK32 nz, "FUCOMIP"
    fstp st0
    fxam
    fnstsw ax
    and ax, 0x4500
    cmp ax, 0x4100
    CHECK32 e, "FXAM of an empty ST0: C3 and C0"
    ; stack overflow with IE masked: the ninth push gives the indefinite, C1 set
    fninit
%rep 9
    fld1
%endrep
    fnstsw ax
    cmp ax, 0x3a41
    CHECK32 e, "stack overflow status (TOP 7, C1, SF, IE)"
    fstp qword [RES]
    cmp dword [RES + 4], 0xfff80000
    CHECK32 e, "stack overflow pushed the indefinite"
    ; FSAVE / FRSTOR round trip of a partly filled stack
    fninit
    fldpi
    fld1
    fnsave [SAVE]
    fnstsw ax
    cmp ax, 0
    CHECK32 e, "FNSAVE reinitializes"
    frstor [SAVE]
    fnstsw ax
    and ax, 0x3800
    cmp ax, 0x3000
    CHECK32 e, "FRSTOR restored TOP"
    fstp st0
    fldpi
    fcompp
    fnstsw ax
    and ax, 0x4500
    cmp ax, 0x4000
    CHECK32 e, "FRSTOR restored the registers"
    PRINTLN32 "fpu: compares, stack faults, FSAVE/FRSTOR"

    ; -- an unmasked zero divide with CR0.NE: nothing stored, #MF at the next waiting one
    fninit
    mov word [RES + 16], 0x037b     ; ZE unmasked
    fldcw [RES + 16]
    fld1
    fldz
    fdivp st1, st0                  ; 1 / 0
    fnstsw ax                       ; not a waiting instruction
    and ax, 0xb8ff
    cmp ax, 0xb084
    CHECK32 e, "status after an unmasked ZE (B, ES, ZE, TOP 6)"
    EXC_AT 16, -1, fwait
    EXC_AT 16, -1, fld1
    fnclex
    fwait
    fcompp                          ; 0 vs 1: the stack was left as it was
    fnstsw ax
    and ax, 0x4500
    cmp ax, 0x0100
    CHECK32 e, "the unmasked exception left both operands"
    PRINTLN32 "fpu: #MF at the next waiting instruction with CR0.NE"

    ; -- the same with CR0.NE clear: FERR# raises IRQ 13 (slave 8259 line 5)
    PIC_INIT 0xfb, 0xdf             ; the master: only the cascade; the slave: only IRQ 13
    SETGATE 0x2d, irq13_isr, SEL_CODE0, 0x8e
    mov dword [IRQ13_COUNT], 0
    mov eax, cr0
    and eax, ~0x20
    mov cr0, eax
    fninit
    mov word [RES + 16], 0x037b
    fldcw [RES + 16]
    fld1
    fldz
    fdiv st1, st0
    sti
.stalled:
    fwait                           ; stops until the IRQ 13 handler ran, then completes
    cli
    cmp dword [IRQ13_COUNT], 1
    CHECK32 e, "one IRQ 13 before the FWAIT completed"
    cmp dword [IRQ13_EIP], .stalled
    CHECK32 e, "IRQ 13 interrupted the waiting FWAIT"
    fnstsw ax
    test ax, 0x80
    CHECK32 z, "ES still set after the handler's FNCLEX"
    PRINTLN32 "fpu: FERR# and IRQ 13 with CR0.NE clear"

    EXIT EXIT_PASS

irq13_isr:
    push eax
    inc dword [IRQ13_COUNT]
    mov eax, [esp + 4]
    mov [IRQ13_EIP], eax
    xor al, al
    out 0xf0, al                    ; clear the IRQ 13 latch
    fnclex
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop eax
    iret

CPU_LIBRARY
GUEST_END
