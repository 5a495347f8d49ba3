; SPDX-License-Identifier: GPL-2.0-or-later
; Reads fw_cfg through both interfaces: the signature and feature bits, the RAM size,
; the file directory, and etc/e820 through DMA. Prints the sizes for the runner to
; compare with -m.
%include "guest.inc"

FW_CTL equ 0x510
FW_DATA equ 0x511
DESC equ 0x1000                 ; DMA descriptor (16 bytes) in low RAM
E820 equ 0x1100                 ; where etc/e820 lands

GUEST_START
guest_main:
    xor ax, ax                  ; signature
    call fw_select
    mov cx, 4
    mov si, sig
.sig:
    in al, dx
    cmp al, [si]
    CHECK e, "fw_cfg signature is not QEMU"
    inc si
    loop .sig

    mov ax, 1                   ; FW_CFG_ID: traditional and DMA interfaces
    call fw_select
    call fw_read32
    and eax, 3
    cmp eax, 3
    CHECK e, "fw_cfg does not offer DMA"

    mov dx, 0x514               ; the DMA register reads "QEMU CFG"
    in eax, dx
    cmp eax, 0x554d4551
    CHECK e, "DMA signature (high) wrong"

    mov ax, 3                   ; FW_CFG_RAM_SIZE, 64-bit little-endian
    call fw_select
    call fw_read32
    shr eax, 20
    PRINT "fw_cfg RAM: "
    call print_dec
    PRINTLN " MiB"

    ; The directory: a big-endian count of 64-byte records {size, select, name}.
    mov ax, 0x19
    call fw_select
    call fw_read32
    bswap eax
    mov ecx, eax
    cmp ecx, 0
    CHECK ne, "fw_cfg directory is empty"
.file:
    call fw_read32
    bswap eax
    mov ebx, eax                ; size
    call fw_read32              ; select (big-endian) and reserved
    mov edi, eax
    ; Compare the 56-byte, NUL-padded name with "etc/e820".
    mov si, e820_name
    mov bp, 1                   ; stays 1 while every byte matches
    push cx
    mov cx, 56
.name:
    in al, dx
    cmp al, [si]
    je .same
    xor bp, bp
.same:
    inc si
    loop .name
    pop cx
    test bp, bp
    jnz .found
    dec ecx
    jnz .file
    PRINTLN "FAIL: etc/e820 not in the fw_cfg directory"
    EXIT EXIT_FAIL

.found:
    ; DMA: control = select | read, selector from the directory (big-endian word).
    mov ax, di
    xchg al, ah
    movzx eax, ax
    shl eax, 16
    or eax, 0x0a
    bswap eax
    mov [es:DESC], eax
    mov eax, ebx
    bswap eax
    mov [es:DESC + 4], eax
    mov dword [es:DESC + 8], 0
    mov eax, E820
    bswap eax
    mov [es:DESC + 12], eax
    xor eax, eax
    mov dx, 0x514
    out dx, eax
    mov eax, DESC
    bswap eax
    mov dx, 0x518
    out dx, eax
    mov eax, [es:DESC]
    test eax, eax
    CHECK z, "fw_cfg DMA did not complete"
    ; First record: base 0, type 1 (RAM), length = RAM below 4 GiB.
    mov eax, [es:E820]
    test eax, eax
    CHECK z, "first e820 record does not start at 0"
    mov eax, [es:E820 + 16]
    cmp eax, 1
    CHECK e, "first e820 record is not RAM"
    mov eax, [es:E820 + 8]
    shr eax, 20
    PRINT "e820 RAM: "
    call print_dec
    PRINTLN " MiB"
    EXIT EXIT_PASS

fw_select:                      ; ax = selector; leaves dx = data port
    mov dx, FW_CTL
    out dx, ax
    mov dx, FW_DATA
    ret

fw_read32:                      ; four data bytes, first in al
    push cx
    mov cx, 4
.b:
    in al, dx
    ror eax, 8
    loop .b
    pop cx
    ret

sig: db 'QEMU'
e820_name: db 'etc/e820'
    times 56 - 8 db 0
GUEST_END
