; SPDX-License-Identifier: GPL-2.0-or-later
; Vireo's boot option ROM for direct kernel boot (-kernel). SeaBIOS finds it as
; fw_cfg file genroms/vireoboot.bin, runs it as an option ROM, and calls its bootstrap
; entry vector (PnP BEV) when it is first in the boot order. The ROM copies the pieces
; Vireo prepared (setup, kernel, initrd, command line) into place with fw_cfg DMA and
; starts either a Linux kernel (16-bit boot protocol) or a Multiboot kernel (32-bit).
; Checksums (PnP header and ROM) are filled in by Vireo when it adds the ROM.

bits 16
org 0

FW_CFG_CTL      equ 0x510
FW_CFG_DATA     equ 0x511
FW_CFG_DMA_HI   equ 0x514
FW_CFG_DMA_LO   equ 0x518

KERNEL_ADDR     equ 0x07
KERNEL_SIZE     equ 0x08
INITRD_ADDR     equ 0x0a
INITRD_SIZE     equ 0x0b
KERNEL_ENTRY    equ 0x10
KERNEL_DATA     equ 0x11
INITRD_DATA     equ 0x12
CMDLINE_ADDR    equ 0x13
CMDLINE_SIZE    equ 0x14
CMDLINE_DATA    equ 0x15
SETUP_ADDR      equ 0x16
SETUP_SIZE      equ 0x17
SETUP_DATA      equ 0x18

DMA_SELECT      equ 0x08
DMA_READ        equ 0x02
DMA_ERROR       equ 0x01

STACK_TOP       equ 0x7000          ; 0000:7000, below the boot sector area

rom_start:
    db 0x55, 0xaa
    db ROM_BLOCKS                   ; size in 512-byte units
    jmp init                        ; option ROM initialisation entry (offset 3)
    times 0x1a-($-$$) db 0
    dw pnp_header                   ; offset 0x1A: PnP expansion header

pnp_header:
    db '$PnP'
    db 1                            ; structure revision
    db 2                            ; length in 16-byte units
    dw 0                            ; next header
    db 0                            ; reserved
    db 0                            ; checksum (filled in by Vireo)
    dd 0                            ; device identifier
    dw manufacturer
    dw product
    db 0, 0, 0                      ; device type code
    db 0x14                         ; indicators: IPL device, may be shadowed
    dw 0                            ; boot connection vector
    dw 0                            ; disconnect vector
    dw bev                          ; bootstrap entry vector
    dw 0                            ; reserved
    dw 0                            ; static resource information vector

manufacturer: db 'Vireo', 0
product:      db 'Vireo direct kernel boot', 0

init:
    retf

; fw_cfg_read32: ax = selector -> eax = 32-bit little-endian item value
fw_cfg_read32:
    push dx
    push cx
    mov dx, FW_CFG_CTL
    out dx, ax
    mov dx, FW_CFG_DATA
    xor eax, eax
    mov cx, 4
.next:
    in al, dx
    ror eax, 8
    loop .next
    pop cx
    pop dx
    ret

; fw_cfg_dma_read: ax = data selector, ebx = destination, ecx = length.
; The descriptor lives on the stack (RAM: the ROM is read-only once shadowed).
fw_cfg_dma_read:
    push bp
    mov bp, sp
    sub sp, 16
    and sp, 0xfff0                  ; 16-byte aligned descriptor at ss:sp
    movzx edx, ax
    shl edx, 16
    or edx, DMA_SELECT | DMA_READ
    bswap edx
    mov [ss:esp + 0], edx           ; control (big-endian)
    mov edx, ecx
    bswap edx
    mov [ss:esp + 4], edx           ; length
    mov dword [ss:esp + 8], 0       ; address high
    mov edx, ebx
    bswap edx
    mov [ss:esp + 12], edx          ; address low
    movzx eax, sp
    mov dx, ss
    movzx edx, dx
    shl edx, 4
    add eax, edx                    ; physical address of the descriptor
    bswap eax
    push eax
    xor eax, eax
    mov dx, FW_CFG_DMA_HI
    out dx, eax
    pop eax
    mov dx, FW_CFG_DMA_LO
    out dx, eax                     ; writing the low half starts the transfer
.wait:
    mov eax, [ss:esp + 0]
    bswap eax
    test eax, ~DMA_ERROR
    jnz .wait
    mov sp, bp
    pop bp
    ret

; load_piece: si = address selector, di = size selector, ax = data selector
load_piece:
    push ax
    mov ax, di
    call fw_cfg_read32
    mov ecx, eax
    mov ax, si
    call fw_cfg_read32
    mov ebx, eax
    pop ax
    test ecx, ecx
    jz .done
    call fw_cfg_dma_read
.done:
    ret

bev:
    cli
    cld
    xor ax, ax
    mov ss, ax
    mov esp, STACK_TOP
    mov ds, ax
    mov es, ax

    ; Fast A20 through port 0x92 (keep bit 0 clear: it resets the CPU).
    in al, 0x92
    or al, 2
    and al, 0xfe
    out 0x92, al

    mov si, SETUP_ADDR
    mov di, SETUP_SIZE
    mov ax, SETUP_DATA
    call load_piece
    mov si, CMDLINE_ADDR
    mov di, CMDLINE_SIZE
    mov ax, CMDLINE_DATA
    call load_piece
    mov si, INITRD_ADDR
    mov di, INITRD_SIZE
    mov ax, INITRD_DATA
    call load_piece
    mov si, KERNEL_ADDR
    mov di, KERNEL_SIZE
    mov ax, KERNEL_DATA
    call load_piece

    mov ax, KERNEL_ENTRY
    call fw_cfg_read32
    mov edi, eax                    ; Multiboot entry, or 0 for Linux
    mov ax, SETUP_ADDR
    call fw_cfg_read32
    mov ebx, eax                    ; Linux setup / Multiboot information address
    test edi, edi
    jnz multiboot

linux:
    ; Linux boot protocol 2.02+: ds = es = ss = setup segment, stack below the command
    ; line, enter the setup code at segment + 0x20, offset 0.
    shr ebx, 4
    mov ds, bx
    mov es, bx
    mov fs, bx
    mov gs, bx
    mov ss, bx
    mov sp, 0xfff0
    add bx, 0x20
    push bx
    push word 0
    retf

multiboot:
    ; Multiboot 0.6.96, 3.2: 32-bit protected mode, flat segments, paging off,
    ; EAX = 0x2BADB002, EBX = information structure.
    mov ax, cs
    movzx eax, ax
    shl eax, 4
    mov ebp, eax                    ; linear address of the ROM
    lea edx, [ebp + gdt]
    push edx
    push word gdt_end - gdt - 1
    mov si, sp
    o32 lgdt [ss:si]
    add sp, 6
    mov eax, cr0
    or al, 1
    mov cr0, eax
    lea eax, [ebp + pm32]
    push dword 0x08
    push eax
    o32 retf

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, 0x2badb002
    jmp edi

    align 8
gdt:
    dq 0
    dq 0x00cf9b000000ffff           ; 0x08: 32-bit code, base 0, 4 GiB, accessed
    dq 0x00cf93000000ffff           ; 0x10: 32-bit data, base 0, 4 GiB, accessed
gdt_end:

ROM_BLOCKS equ 2
    times ROM_BLOCKS * 512 - ($-$$) db 0
