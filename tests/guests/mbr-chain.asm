; SPDX-License-Identifier: GPL-2.0-or-later
; A master boot record for test disks: moves itself out of the way, reads the first
; sector of the active partition to 0:7C00 through the BIOS's LBA read (INT 13h
; AH=42h, EDD 3.0) and jumps to it with DL the boot drive and DS:SI its partition entry,
; as a DOS MBR does. The partition table (bytes 446-509) and the 55 AA signature are
; written by whoever builds the disk.
bits 16
org 0x600

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    mov es, ax
    sti
    cld
    mov si, 0x7c00              ; the BIOS loaded us here; the partition's sector goes there
    mov di, 0x600
    mov cx, 256
    rep movsw
    jmp 0:relocated

relocated:
    mov si, table
    mov cx, 4
.find:
    test byte [si], 0x80        ; the active (bootable) entry
    jnz .found
    add si, 16
    loop .find
    jmp fail
.found:
    mov eax, [si + 8]           ; its first sector (LBA)
    mov [dap.lba], eax
    push si
    mov si, dap
    mov ah, 0x42
    int 0x13
    pop si
    jc fail
    cmp word [0x7dfe], 0xaa55
    jne fail
    jmp 0:0x7c00

fail:
    mov si, message
.print:
    lodsb
    test al, al
    jz .halt
    mov ah, 0x0e
    mov bx, 7
    int 0x10
    jmp .print
.halt:
    hlt
    jmp .halt

message: db "mbr-chain: no bootable partition", 0

align 4
dap:                            ; EDD 3.0 disk address packet: one sector to 0:7C00
    db 16, 0
    dw 1
    dw 0x7c00, 0
.lba: dd 0, 0

times 446 - ($ - $$) db 0
table:
