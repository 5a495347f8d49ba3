; SPDX-License-Identifier: GPL-2.0-or-later
; Exceptions inside exceptions (SDM vol. 3, 6.15, table 6-5): a benign exception
; whose gate is missing gives a plain #NP (with the EXT bit); a contributory one
; gives #DF; a page fault while delivering a page fault gives #DF, handled here by a
; task with its own stack; and a fault while delivering #DF shuts the CPU down,
; which resets the PC (checked after the reset through a word in RAM).
%include "cpu.inc"

STAGE    equ 0x600            ; survives the reset
PD       equ 0x10000
PT0      equ 0x11000
TSS_DF   equ 0x8000
SEL_DF   equ 0x40

GUEST_START
guest_main:
    cmp word [es:STAGE], 0x5446
    jne .first
    mov word [es:STAGE], 0
    PRINTLN "double-fault: the triple fault reset the PC"
    EXIT EXIT_PASS
.first:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov esi, ROM(test_descs)
    mov edi, GDT_ADDR + SEL_DF
    mov ecx, (test_descs_end - test_descs) / 4
    rep movsd

    ; -- benign first (#BR), its gate missing: #NP(5*8+2+EXT), no #DF
    mov byte [IDT_ADDR + 5 * 8 + 5], 0x0e      ; not present
    TRY .r1
    mov dword [SCRATCH], 10
    mov dword [SCRATCH + 4], 20
    mov eax, 30
    bound eax, [SCRATCH]
    FAIL "BOUND out of range did not fault"
.r1:
    EXPECT_EXC 11, 5 * 8 + 3, "#BR with a missing gate"

    ; -- contributory first (#GP), its gate missing: #NP during delivery -> #DF(0)
    mov byte [IDT_ADDR + 13 * 8 + 5], 0x0e
    TRY .r2
    mov ax, 0x200
    mov ds, ax
    FAIL "loading a selector beyond the GDT did not fault"
.r2:
    mov ax, SEL_DATA0
    mov ds, ax
    EXPECT_EXC 8, 0, "#GP with a missing gate"
    mov byte [IDT_ADDR + 13 * 8 + 5], 0x8e
    mov byte [IDT_ADDR + 5 * 8 + 5], 0x8e
    ; a #DE whose handler's code segment is not present: #NP (contributory) -> #DF
    mov word [IDT_ADDR + 0 * 8 + 2], 0x48
    TRY .r3
    xor edx, edx
    xor ecx, ecx
    div ecx
    FAIL "division by zero did not fault"
.r3:
    EXPECT_EXC 8, 0, "#DE with a not-present handler segment"
    mov word [IDT_ADDR + 0 * 8 + 2], SEL_CODE0
    PRINTLN32 "double-fault: contributory pairs give #DF, benign ones do not"

    ; -- a page fault while delivering a page fault: #DF through a task gate
    mov edi, PT0
    mov eax, 0x003
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD], PT0 | 3
    mov dword [PT0 + 0x60 * 4], 0           ; page 0x60000: not present (the bad stack)
    mov dword [PT0 + 0x61 * 4], 0           ; page 0x61000: not present (the access)
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ; #DF goes to a task
    mov edi, TSS_DF
    mov ecx, 0x68 / 4
    xor eax, eax
    rep stosd
    mov dword [TSS_DF + 0x1c], PD
    mov dword [TSS_DF + 0x20], df_task
    mov dword [TSS_DF + 0x24], 0x2
    mov dword [TSS_DF + 0x38], 0x9800
    mov dword [TSS_DF + 0x48], SEL_DATA0
    mov dword [TSS_DF + 0x4c], SEL_CODE0
    mov dword [TSS_DF + 0x50], SEL_DATA0
    mov dword [TSS_DF + 0x54], SEL_DATA0
    mov dword [TSS_DF + 0x58], SEL_DATA0
    mov dword [TSS_DF + 0x5c], SEL_DATA0
    mov word [IDT_ADDR + 8 * 8], 0
    mov word [IDT_ADDR + 8 * 8 + 2], SEL_DF
    mov word [IDT_ADDR + 8 * 8 + 4], 0x8500
    mov word [IDT_ADDR + 8 * 8 + 6], 0
    mov esp, 0x60800
.pf:
    mov eax, [0x61000]
    FAIL "no page fault"

df_task:
    ; the error code (0) is on this task's stack; CR2 names the stack the first #PF
    ; could not push to
    mov esp, 0x9800 - 4
    cmp dword [esp], 0
    jne .bad_err
    mov eax, cr2
    and eax, ~0xfff
    cmp eax, 0x60000
    jne .bad_cr2
    str ax
    cmp ax, SEL_DF
    jne .bad_tr
    PRINTLN32 "double-fault: #PF during #PF gave #DF in its own task"

    ; -- a fault while delivering #DF: shutdown, and the board resets the PC
    mov word [STAGE], 0x5446
    mov byte [IDT_ADDR + 8 * 8 + 5], 0x05   ; #DF gate not present
    mov byte [IDT_ADDR + 13 * 8 + 5], 0x0e  ; #GP gate not present
    mov ax, 0x200
    mov ds, ax
    hlt
    FAIL "still running after a triple fault"
.bad_err:
    FAIL "#DF error code"
.bad_cr2:
    FAIL "CR2 after the nested page fault"
.bad_tr:
    FAIL "the #DF task is not current"

    align 8
test_descs:
    DESC TSS_DF, 0x67, 0x89, 0x0            ; 40 the #DF task
    DESC ROMBASE, 0xfffff, 0x1a, 0xc        ; 48 code, not present
test_descs_end:

CPU_LIBRARY
GUEST_END
