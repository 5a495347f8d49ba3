; SPDX-License-Identifier: GPL-2.0-or-later
; Self-modifying code: a store that changes the very next instruction, a loop that
; rewrites its own immediate each time round, REP MOVSB copying new code over the
; instructions that follow it, a routine patched after it already ran, an
; instruction that straddles two pages changed in its second page, a hot loop over
; such an instruction that changes its second-page bytes half-way, and code
; changed through another linear alias of the same physical page (paging).
; The code runs from RAM through a flat code segment.
%include "cpu.inc"

SEL_FLAT equ 0x40           ; flat code, base 0
CODE     equ 0x30000         ; where the blob is copied
PD       equ 0x10000
PT0      equ 0x11000

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov dword [GDT_ADDR + SEL_FLAT], 0x0000ffff
    mov dword [GDT_ADDR + SEL_FLAT + 4], 0x00cf9a00
    ; copy the blob so that its page-crossing instruction straddles 0x31000
    mov esi, ROM(blob)
    mov edi, CODE
    mov ecx, blob_end - blob
    rep movsb
    call SEL_FLAT:CODE
    ; the blob returns a bit mask of passed checks in EAX
    cmp eax, 0x3f
    je .all
    PRINT32 "FAIL: self-modifying code checks: "
    call print_hex32_32
    PRINTLN32 " (want 0000003f)"
    EXIT EXIT_FAIL
.all:
    PRINTLN32 "smc: next-instruction, loop, REP MOVSB, re-patched routine and cross-page cases passed"
    PRINTLN32 "smc: a hot loop changing its page-crossing instruction's second page"

    ; -- an alias: linear 0x400000 maps the blob's page; writes there change the code
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
    mov dword [PD + 4], (PT0 + 0x1000) | 3
    mov dword [PT0 + 0x1000], CODE | 3        ; linear 0x400000 -> CODE
    mov dword [PT0 + 0x1004], (CODE + 0x1000) | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    call SEL_FLAT:CODE + (alias_target - blob)
    cmp eax, 1
    CHECK32 e, "alias target before the change"
    mov byte [0x400000 + (alias_target - blob) + 1], 2   ; mov eax, imm32: the immediate
    call SEL_FLAT:CODE + (alias_target - blob)
    cmp eax, 2
    CHECK32 e, "code changed through a linear alias was not seen"
    PRINTLN32 "smc: code changed through a linear alias"
    EXIT EXIT_PASS

; The blob: position independent, entered with a far call, flat segments.
blob:
    push ebx
    push esi
    push edi
    push ebp
    call .here
.here:
    pop ebp                     ; ebp = linear address of .here
    xor edx, edx                ; passed checks

    ; 1: the store changes the next instruction's immediate
    mov byte [ebp + (.next - .here) + 1], 0x42
.next:
    mov al, 0x00
    cmp al, 0x42
    jne .t2
    or edx, 1

.t2: ; 2: a loop that rewrites its own immediate: sums 1 + 2 + ... + 10
    mov byte [ebp + (.imm - .here) + 1], 0
    xor ebx, ebx
    mov ecx, 10
.loop:
    inc byte [ebp + (.imm - .here) + 1]
.imm:
    mov al, 0
    movzx eax, al
    add ebx, eax
    loop .loop
    cmp ebx, 55
    jne .t3
    or edx, 2

.t3: ; 3: REP MOVSB copies "mov al, 0x77" over the NOPs right after it
    lea esi, [ebp + (.new_code - .here)]
    lea edi, [ebp + (.patched - .here)]
    mov ecx, 2
    mov al, 0
    rep movsb
.patched:
    nop
    nop
    cmp al, 0x77
    jne .t4
    or edx, 4

.t4: ; 4: a routine that already ran is patched and runs again
    call .routine
    cmp eax, 0x11
    jne .t5
    mov byte [ebp + (.routine - .here) + 1], 0x22
    call .routine
    cmp eax, 0x22
    jne .t5
    or edx, 8

.t5: ; 5: an instruction straddling two pages, changed in its second page
    call .cross
    cmp eax, 0x01020304
    jne .done
    mov byte [ebp + (.cross_imm - .here) + 4], 0x44
    call .cross
    cmp eax, 0x44020304
    jne .t6
    or edx, 16

.t6: ; 6: a loop of 200 rounds over an instruction straddling two pages, which
     ; changes that instruction's bytes in the second page after round 100 (the
     ; loop's blocks chained through it, under the translator)
    mov byte [ebp + (xloop - .here) + 3], 0
    xor eax, eax
    xor ebx, ebx
    mov ecx, 200
    call xloop
    cmp ebx, 100 * 1 + 100 * 0x10001
    jne .done
    or edx, 32
.done:
    mov eax, edx
    pop ebp
    pop edi
    pop esi
    pop ebx
    retf

.new_code:
    mov al, 0x77
.routine:
    mov eax, 0x11
    ret

    ; pad so that .cross_imm's immediate crosses into the next page
    times (0x1000 - 3) - ($ - blob) db 0x90
.cross:
.cross_imm:
    mov eax, 0x01020304         ; B8 at 0xffd, immediate bytes at 0xffe..0x1001
    ret

alias_target:
    mov eax, 1
    retf

    ; ADD EAX, imm32 from 0x1ffe: its immediate's bytes 1-3 in the next page
    times (0x2000 - 2) - ($ - blob) db 0x90
xloop:                          ; ECX rounds of EBX += the ADD's immediate
    add eax, strict dword 1
    add ebx, eax
    dec ecx
    jz .out
    cmp ecx, 100
    jne .go
    mov byte [ebp + (xloop - blob.here) + 3], 1   ; immediate byte 2: 1 -> 0x10001
.go:
    xor eax, eax
    jmp xloop
.out:
    ret
blob_end:

CPU_LIBRARY
GUEST_END
