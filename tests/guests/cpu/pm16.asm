; SPDX-License-Identifier: GPL-2.0-or-later
; 16-bit protected mode, as Windows 3.x/9x and DOS extenders use it: 16-bit code
; segments in ring 0 and ring 3, a 16-bit IRET to ring 3, a 16-bit interrupt gate
; (word frame with the ring-3 SS:SP), a 16-bit call gate copying word parameters,
; and a 16-bit trap gate for #GP with a word error code.
%include "cpu.inc"

SEL_CODE3_16 equ 0x40 | 3
SEL_STACK3   equ 0x48 | 3     ; 16-bit data, DPL 3, base 0
SEL_GATE16   equ 0x50 | 3     ; 16-bit call gate, 2 word parameters
RESULT       equ 0x540        ; words written by the handlers
FAILCODE     equ 0x560

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov dword [GDT_ADDR + 0x40], 0x0000ffff           ; code16, DPL 3, base ROMBASE
    mov dword [GDT_ADDR + 0x44], 0x0000fa0f
    mov dword [GDT_ADDR + 0x48], 0x0000ffff           ; data16, DPL 3, base 0
    mov dword [GDT_ADDR + 0x4c], 0x0000f200
    ; 16-bit call gate: offset gate_target16, SEL_CODE16, DPL 3, 2 parameters
    mov word [GDT_ADDR + 0x50], gate_target16
    mov word [GDT_ADDR + 0x52], SEL_CODE16
    mov word [GDT_ADDR + 0x54], 0xe402
    mov word [GDT_ADDR + 0x56], 0
    SETGATE 0x41, int41_16, SEL_CODE16, 0xe6       ; 16-bit interrupt gate, DPL 3
    SETGATE 0x42, done16, SEL_CODE16, 0xe6
    SETGATE 13, gp16, SEL_CODE16, 0x87             ; 16-bit trap gate
    mov dword [RESULT], 0
    mov dword [RESULT + 4], 0
    mov dword [RESULT + 8], 0
    mov word [FAILCODE], 0
    jmp SEL_CODE16:pm16_ring0

fail16_32:
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK0
    PRINT32 "FAIL: 16-bit check "
    movzx eax, word [FAILCODE]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
pass32:
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK0
    PRINTLN32 "pm16: 16-bit gates, frames and parameters passed"
    EXIT EXIT_PASS

[bits 16]
; Failures are reported from ring 0 32-bit code: record the check and leave through
; INT 0x42 (usable from ring 3 and ring 0).
%macro FAIL16 1
    mov word [FAILCODE], %1
    int 0x42
%endmacro

pm16_ring0:
    mov ax, SEL_DATA16
    mov ds, ax
    ; 16-bit IRET to ring 3: IP, CS, FLAGS, SP, SS as words
    push word SEL_STACK3
    push word 0x9000
    push word 0x0002
    push word SEL_CODE3_16
    push word ring3_16
    iret

ring3_16:
    mov ax, SEL_STACK3
    mov ds, ax
    mov ax, cs
    cmp ax, SEL_CODE3_16
    je .cs_ok
    FAIL16 1
.cs_ok:
    mov bx, sp
    int 0x41
    cmp word [RESULT], 0x41
    je .int_ok
    FAIL16 2
.int_ok:
    cmp sp, bx
    je .sp_ok
    FAIL16 3
.sp_ok:
    push word 0x1111
    push word 0x2222
    call SEL_GATE16:0
    cmp ax, 0x3333
    je .gate_ok
    FAIL16 4
.gate_ok:
    cmp sp, bx
    je .gate_sp_ok
    FAIL16 5
.gate_sp_ok:
    cli                         ; #GP through the 16-bit trap gate, which skips it
    cmp word [RESULT + 4], 0xd
    je .gp_ok
    FAIL16 6
.gp_ok:
    int 0x42                    ; to ring 0 and the verdict

int41_16:
    ; word frame: IP, CS, FLAGS, SP, SS; ring 0 now
    push bp
    mov bp, sp
    mov ax, cs
    cmp ax, SEL_CODE16
    jne .bad
    cmp word [ss:bp + 4], SEL_CODE3_16
    jne .bad
    cmp word [ss:bp + 10], SEL_STACK3
    jne .bad
    cmp word [ss:bp + 8], bx
    jne .bad
    mov word [RESULT], 0x41
    pop bp
    iret
.bad:
    FAIL16 0x10

gate_target16:
    ; word frame: IP, CS, param 2 (0x2222), param 1 (0x1111), SP, SS
    push bp
    mov bp, sp
    cmp word [ss:bp + 6], 0x2222
    jne .bad
    cmp word [ss:bp + 8], 0x1111
    jne .bad
    cmp word [ss:bp + 12], SEL_STACK3
    jne .bad
    mov ax, 0x3333
    pop bp
    retf 4
.bad:
    FAIL16 0x20

gp16:
    ; word error code, then IP, CS, FLAGS, SP, SS
    push bp
    mov bp, sp
    cmp word [ss:bp + 2], 0
    jne .bad
    cmp word [ss:bp + 6], SEL_CODE3_16
    jne .bad
    mov word [RESULT + 4], 0xd
    inc word [ss:bp + 4]        ; skip the one-byte CLI
    pop bp
    add sp, 2
    iret
.bad:
    FAIL16 0x30

done16:
    cmp word [FAILCODE], 0
    je .pass
    jmp dword SEL_CODE0:fail16_32
.pass:
    jmp dword SEL_CODE0:pass32
[bits 32]

CPU_LIBRARY
GUEST_END
