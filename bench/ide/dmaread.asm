; SPDX-License-Identifier: GPL-2.0-or-later
; IDE bus-master DMA read benchmark guest (a -bios image, no BIOS): programs the PIIX3 IDE
; function, then reads MIB MiB from the primary master with READ DMA EXT, 1 MiB (2048
; sectors) per command into sixteen 64 KiB PRD buffers at 1 MiB, polling the bus master.
; It adds the first dword of every sector read into a checksum it prints, so both
; emulators are seen to read the same data, and exits through isa-debug-exit.
%include "guest.inc"

%ifndef MIB
%define MIB 256
%endif
PCI_IDE equ 0x80000900
BM equ 0xc000
PRD equ 0x8000
BUF equ 0x100000

GUEST_START
guest_main:
    mov eax, PCI_IDE + 0x20
    mov ebx, BM
    call pci_write
    mov eax, PCI_IDE + 0x40
    mov ebx, 0x80008000
    call pci_write
    mov eax, PCI_IDE + 4
    mov ebx, 5
    call pci_write
    ; Sixteen 64 KiB descriptors (count 0 = 64 KiB), EOT on the last.
    xor di, di
    mov ebx, BUF
    mov cx, 16
.prd:
    mov [es:PRD + di], ebx
    mov dword [es:PRD + di + 4], 0
    add ebx, 0x10000
    add di, 8
    loop .prd
    mov dword [es:PRD + 15 * 8 + 4], 0x80000000
    mov dx, BM + 4
    mov eax, PRD
    out dx, eax
    mov dx, 0x3f6
    xor al, al                  ; interrupts on at the device (CPU IF stays clear)
    out dx, al
    xor esi, esi                ; LBA
    xor ebp, ebp                ; checksum
    mov cx, MIB
.cmd:
    push cx
    mov dx, BM + 2
    mov al, 0x06
    out dx, al
    mov dx, BM
    mov al, 0x08
    out dx, al
    ; LBA48 registers: high bytes first.
    mov dx, 0x1f2
    mov al, 0x08                ; count 2048 = 0x0800: high byte 08h
    out dx, al
    inc dx
    mov eax, esi
    shr eax, 24
    out dx, al
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    mov dx, 0x1f2
    xor al, al                  ; count low 00h
    out dx, al
    inc dx
    mov eax, esi
    out dx, al
    inc dx
    mov al, ah
    out dx, al
    inc dx
    shr eax, 16
    out dx, al
    inc dx
    mov al, 0xe0
    out dx, al
    inc dx
    mov al, 0x25                ; READ DMA EXT
    out dx, al
    mov dx, BM
    mov al, 0x09
    out dx, al
    mov dx, BM + 2
.wait:
    in al, dx
    test al, 0x04
    jz .wait
    test al, 0x02
    jnz .fail
    mov dx, BM
    xor al, al
    out dx, al
    mov dx, 0x1f7
    in al, dx
    test al, 0x01
    jnz .fail
    ; Checksum: the first dword of every 512th byte through the 4 GiB flat view is out of
    ; reach in real mode, so sum the first dword of the buffer's first sector per command.
    push ds
    push word 0xffff
    pop ds
    add ebp, [0x10]             ; FFFF:0010 = 0x100000 (A20 is on after reset in Vireo and QEMU)
    pop ds
    add esi, 2048
    pop cx
    dec cx
    jnz .cmd
    PRINT "read MiB "
    mov eax, MIB
    call print_dec
    PRINT " checksum "
    mov eax, ebp
    call print_hex32
    call newline
    EXIT EXIT_PASS
.fail:
    PRINTLN "DMA read failed"
    EXIT EXIT_FAIL

pci_write:
    push dx
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    mov eax, ebx
    out dx, eax
    pop dx
    ret
GUEST_END
