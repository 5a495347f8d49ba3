; SPDX-License-Identifier: GPL-2.0-or-later
; Hardware task switching (SDM vol. 3, chapter 7): JMP to a TSS and back, CALL
; through a task gate with NT and the back link, IRET to the caller, busy bits, a
; JMP to a busy TSS (#GP), INT through a task gate in the IDT, a 16-bit TSS, the LDT
; and CR3 of the new task, CR0.TS, and #TS for a TSS whose limit is too small.
%include "cpu.inc"

TSS_B    equ 0x8000      ; 32-bit
TSS_C    equ 0x8100      ; 16-bit
TSS_D    equ 0x8200      ; 32-bit, the INT 0x50 handler task
TSS_E    equ 0x8300      ; 32-bit, called from the 16-bit task
LDT_B    equ 0x8400
SEL_B    equ 0x40
SEL_C    equ 0x48
SEL_D    equ 0x50
SEL_GATE equ 0x58        ; task gate to B
SEL_LDTB equ 0x60
SEL_TINY equ 0x68        ; a TSS descriptor with limit 0x20
SEL_E    equ 0x70
RESULT_C equ 0x8900      ; reachable from the 16-bit task's 64 KiB data segment

; TSS32 base, eip, esp, ldt, cr3
%macro TSS32 5
    mov edi, %1
    mov ecx, 0x68 / 4
    xor eax, eax
    rep stosd
    mov dword [%1 + 0x1c], %5
    mov dword [%1 + 0x20], %2
    mov dword [%1 + 0x24], 0x2
    mov dword [%1 + 0x38], %3
    mov dword [%1 + 0x48], SEL_DATA0     ; ES
    mov dword [%1 + 0x4c], SEL_CODE0     ; CS
    mov dword [%1 + 0x50], SEL_DATA0     ; SS
    mov dword [%1 + 0x54], SEL_DATA0     ; DS
    mov dword [%1 + 0x58], SEL_DATA0     ; FS
    mov dword [%1 + 0x5c], SEL_DATA0     ; GS
    mov dword [%1 + 0x60], %4
    mov word [%1 + 0x66], 0x68
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov esi, ROM(test_descs)
    mov edi, GDT_ADDR + SEL_B
    mov ecx, (test_descs_end - test_descs) / 4
    rep movsd
    TSS32 TSS_B, task_b, 0x9800, SEL_LDTB, 0x12345000
    TSS32 TSS_D, task_d, 0x9c00, 0, 0
    TSS32 TSS_E, task_e, 0x9e00, 0, 0
    mov dword [TSS_E + 0x28], 0xe0e0e0e0 ; EAX
    ; the 16-bit TSS for C
    mov edi, TSS_C
    mov ecx, 0x2c / 4
    xor eax, eax
    rep stosd
    mov word [TSS_C + 0x0e], task_c      ; IP
    mov word [TSS_C + 0x10], 0x2         ; FLAGS
    mov word [TSS_C + 0x1a], 0x9a00      ; SP
    mov word [TSS_C + 0x22], SEL_DATA16  ; ES
    mov word [TSS_C + 0x24], SEL_CODE16  ; CS
    mov word [TSS_C + 0x26], SEL_DATA16  ; SS
    mov word [TSS_C + 0x28], SEL_DATA16  ; DS
    ; B's LDT: entry 1 is a data segment with base 0x8800
    mov dword [LDT_B + 8], 0x8800ffff
    mov dword [LDT_B + 12], 0x00009200
    ; IDT 0x50: task gate to D
    mov word [IDT_ADDR + 0x50 * 8], 0
    mov word [IDT_ADDR + 0x50 * 8 + 2], SEL_D
    mov word [IDT_ADDR + 0x50 * 8 + 4], 0x8500
    mov word [IDT_ADDR + 0x50 * 8 + 6], 0

    ; -- JMP to B; registers come back from A's TSS
    mov ebx, 0xa0a0a0a0
    mov dword [SCRATCH], 0
    jmp SEL_B:0
    ; B jumps back here
    cmp ebx, 0xa0a0a0a0
    CHECK32 e, "EBX not restored when switching back to A"
    cmp dword [SCRATCH], 1
    CHECK32 e, "task B phase 1 did not run"
    str ax
    cmp ax, SEL_TSS
    CHECK32 e, "TR after switching back"
    cmp byte [GDT_ADDR + SEL_B + 5], 0x89
    CHECK32 e, "B still busy after it jumped away"
    mov eax, cr3
    test eax, eax
    CHECK32 z, "CR3 not reloaded from A's TSS"
    PRINTLN32 "task: JMP to a TSS and back"

    ; -- CALL through a task gate: nested, NT set, back link to A
    call SEL_GATE:0
    cmp dword [SCRATCH], 2
    CHECK32 e, "task B phase 2 did not run"
    pushfd
    pop eax
    test eax, 1 << 14
    CHECK32 z, "NT set in A after the return"
    cmp byte [GDT_ADDR + SEL_B + 5], 0x89
    CHECK32 e, "B still busy after IRET"
    cmp byte [GDT_ADDR + SEL_TSS + 5], 0x8b
    CHECK32 e, "A not busy"
    PRINTLN32 "task: CALL through a task gate and IRET back"

    ; -- a JMP to a busy TSS (A itself) faults with #GP(selector)
    TRY .r1
    jmp SEL_TSS:0
    FAIL "JMP to a busy TSS"
.r1:
    EXPECT_EXC 13, SEL_TSS, "JMP to a busy TSS"

    ; -- INT through a task gate
    mov dword [SCRATCH], 0
    int 0x50
    cmp dword [SCRATCH], 0x50
    CHECK32 e, "the INT 0x50 task did not run"
    int 0x50
    cmp dword [SCRATCH], 0x51
    CHECK32 e, "the INT 0x50 task did not continue where it left off"
    PRINTLN32 "task: INT through a task gate"

    ; -- a 16-bit TSS
    mov ebx, 0x77778888
    jmp SEL_C:0
    cmp dword [RESULT_C], 0xc16
    CHECK32 e, "the 16-bit task did not run"
    cmp ebx, 0x77778888
    CHECK32 e, "EBX after the 16-bit task"
    cmp dword [RESULT_C + 0x24], 0xe0e0e0e0
    CHECK32 e, "EAX of a 32-bit task called from a 16-bit one"
    PRINTLN32 "task: 16-bit TSS"
    ; A switch into a 16-bit TSS sets the high halves of the general registers to
    ; FFFFh on Intel processors, whether the 16-bit task is entered from a 32-bit
    ; one (JMP) or returned to from one (IRET): test386 checks the same on a 386.
    ; Not asserted on other vendors.
    call cpu_is_intel
    jne .no_gpr16
    mov esi, RESULT_C + 4
    mov ecx, 8
.gpr16:
    lodsd
    cmp eax, 0xffff0000
    je .gpr16_next
    cmp ecx, 8 - 4            ; ESP: SP from the TSS (9A00h)
    jne .gpr16_bad
    cmp eax, 0xffff9a00
    je .gpr16_next
.gpr16_bad:
    PRINT32 "FAIL: register "
    mov eax, 8
    sub eax, ecx
    call print_hex32_32
    PRINT32 " after a switch into a 16-bit TSS: "
    mov eax, [esi - 4]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
.gpr16_next:
    dec ecx
    jnz .gpr16
    cmp dword [RESULT_C + 0x28], 0xffff5678
    CHECK32 e, "EAX after an IRET back into a 16-bit task"
    cmp dword [RESULT_C + 0x2c], 0xffffdef0
    CHECK32 e, "EBX after an IRET back into a 16-bit task"
    PRINTLN32 "task: a 16-bit TSS sets the high halves of the registers"
.no_gpr16:

    ; -- a TSS limit below 0x67: #TS(selector), raised in A
    TRY .r2
    jmp SEL_TINY:0
    FAIL "JMP to a TSS with a tiny limit"
.r2:
    EXPECT_EXC 10, SEL_TINY, "TSS limit too small"
    PRINTLN32 "task: all task switch checks passed"
    EXIT EXIT_PASS

task_b:
    ; phase 1: entered by JMP
    str ax
    cmp ax, SEL_B
    jne .bad
    mov eax, cr0
    test eax, 8
    jz .bad_ts
    clts
    cmp byte [GDT_ADDR + SEL_TSS + 5], 0x89
    jne .bad_busy
    pushfd
    pop eax
    test eax, 1 << 14
    jnz .bad
    sldt ax
    cmp ax, SEL_LDTB
    jne .bad
    mov eax, cr3
    cmp eax, 0x12345000
    jne .bad
    mov ax, 8 | 4
    mov fs, ax
    mov dword [fs:0], 0xb0b0                 ; base 0x8800 from B's LDT
    cmp dword [0x8800], 0xb0b0
    jne .bad
    mov ebx, 0xbbbbbbbb
    mov dword [SCRATCH], 1
    jmp SEL_TSS:0
    ; phase 2: entered by CALL through the gate
    pushfd
    pop eax
    test eax, 1 << 14
    jz .bad_nt
    cmp word [TSS_B], SEL_TSS
    jne .bad_link
    cmp byte [GDT_ADDR + SEL_TSS + 5], 0x8b
    jne .bad_busy
    mov dword [SCRATCH], 2
    iret
.bad:
    FAIL "task B state"
.bad_ts:
    FAIL "CR0.TS not set by the task switch"
.bad_busy:
    FAIL "busy bits during task B"
.bad_nt:
    FAIL "NT not set in a called task"
.bad_link:
    FAIL "back link of the called task"

task_d:
    mov dword [SCRATCH], 0x50
    iret
    mov dword [SCRATCH], 0x51
    iret

task_e:
    mov [RESULT_C + 0x24], eax   ; as loaded from E's 32-bit TSS
    iret                         ; back to the 16-bit task that called
    jmp task_e

[bits 16]
task_c:
    ; the registers as the switch into this 16-bit TSS left them
    mov [RESULT_C + 0x04], eax
    mov [RESULT_C + 0x08], ecx
    mov [RESULT_C + 0x0c], edx
    mov [RESULT_C + 0x10], ebx
    mov [RESULT_C + 0x14], esp
    mov [RESULT_C + 0x18], ebp
    mov [RESULT_C + 0x1c], esi
    mov [RESULT_C + 0x20], edi
    mov ax, cs
    cmp ax, SEL_CODE16
    jne .bad
    mov eax, 0x12345678
    mov ebx, 0x9abcdef0
    call SEL_E:0                 ; a nested 32-bit task, which IRETs back here
    mov [RESULT_C + 0x28], eax
    mov [RESULT_C + 0x2c], ebx
    mov dword [RESULT_C], 0xc16
    jmp SEL_TSS:0
.bad:
    hlt
[bits 32]

    align 8
test_descs:
    DESC TSS_B, 0x67, 0x89, 0x0             ; 40 TSS B
    DESC TSS_C, 0x2b, 0x81, 0x0             ; 48 16-bit TSS C
    DESC TSS_D, 0x67, 0x89, 0x0             ; 50 TSS D
    dw 0, SEL_B, 0x8500, 0                  ; 58 task gate to B
    DESC LDT_B, 0x0f, 0x82, 0x0             ; 60 B's LDT
    DESC 0x8600, 0x20, 0x89, 0x0            ; 68 a TSS with a tiny limit
    DESC TSS_E, 0x67, 0x89, 0x0             ; 70 TSS E
test_descs_end:

CPU_LIBRARY
GUEST_END
