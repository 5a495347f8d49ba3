; SPDX-License-Identifier: GPL-2.0-or-later
; A boot image SeaBIOS loads from an IDE disk (MBR at 0x7C00) or, assembled with -DCD, an
; El Torito no-emulation boot image (loaded whole at 0x7C00). It reports the boot drive,
; the drive's size from INT 13h AH=48h, reads a sector through INT 13h AH=42h and checks
; what is in it: the disk's sector 100 starts with the dword 100 (the test writes it),
; the CD's sector 16 is the ISO 9660 primary volume descriptor ("\1CD001").
%include "guest.inc"
    bits 16
    org 0x7c00
IMAGE_SECTORS equ 16            ; 8 KiB: the MBR and the rest

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    jmp 0:.flat
.flat:
    mov [boot_drive], dl
%ifndef CD
    ; An MBR is one sector: load the other 15 with INT 13h AH=02h (CHS 0/0/2).
    mov ax, 0x0200 + IMAGE_SECTORS - 1
    mov cx, 0x0002
    xor dh, dh
    mov bx, 0x7e00
    int 0x13
    jc load_failed
%endif
    jmp main

load_failed:
    mov dx, COM1
    mov al, '!'
    out dx, al
    mov al, 0x11
    out DEBUG_EXIT, al
    hlt

boot_drive: db 0                ; in the first sector: loading the rest must not clobber it

%ifndef CD
    times 510 - ($ - $$) db 0
    dw 0xaa55
%endif

main:
    call serial_init
%ifdef CD
    PRINT "CD boot: drive 0x"
%else
    PRINT "disk boot: drive 0x"
%endif
    mov al, [boot_drive]
    call print_hex8
    call newline

    ; INT 13h extensions present (AH=41h)?
    mov ah, 0x41
    mov bx, 0x55aa
    mov dl, [boot_drive]
    int 0x13
    CHECK nc, "INT 13h AH=41h: no extensions"
    cmp bx, 0xaa55
    CHECK e, "INT 13h AH=41h: bad signature"

    ; Drive parameters (AH=48h): total sectors and bytes per sector.
    mov word [params], 0x1e
    mov ah, 0x48
    mov dl, [boot_drive]
    mov si, params
    int 0x13
    CHECK nc, "INT 13h AH=48h failed"
    PRINT "sector size "
    movzx eax, word [params + 24]
    call print_dec
    call newline
%ifndef CD
    PRINT "sectors "
    mov eax, [params + 16]
    call print_dec
    call newline
%endif

    ; Extended read (AH=42h) of one sector into 0x1000:0.
    mov word [dap], 0x10
    mov word [dap + 2], 1
    mov word [dap + 4], 0
    mov word [dap + 6], 0x1000
%ifdef CD
    mov dword [dap + 8], 16
%else
    mov dword [dap + 8], 100
%endif
    mov dword [dap + 12], 0
    mov ah, 0x42
    mov dl, [boot_drive]
    mov si, dap
    int 0x13
    CHECK nc, "INT 13h AH=42h failed"
    push ds
    mov ax, 0x1000
    mov ds, ax
%ifdef CD
    mov eax, [0]
    mov bx, [4]
    pop ds
    cmp eax, 0x30444301         ; 01 'C' 'D' '0'
    CHECK e, "sector 16 is no ISO 9660 primary volume descriptor"
    cmp bx, 0x3130              ; '0' '1'
    CHECK e, "sector 16 is no ISO 9660 primary volume descriptor"
    PRINTLN "read the primary volume descriptor"
%else
    mov eax, [0]
    mov ebx, [508]
    pop ds
    cmp eax, 100
    CHECK e, "sector 100 does not start with its number"
    cmp ebx, 0x5a5a0064
    CHECK e, "sector 100 does not end with its marker"
    PRINTLN "read sector 100"
%endif
    PRINTLN "boot test passed"
    EXIT EXIT_PASS

    GUEST_LIBRARY

    align 4
dap: times 16 db 0
params: times 0x1e db 0
    times IMAGE_SECTORS * 512 - ($ - $$) db 0
