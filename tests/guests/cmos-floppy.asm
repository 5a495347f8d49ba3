; SPDX-License-Identifier: GPL-2.0-or-later
; Prints the CMOS bytes the board fills from the floppy drives and the boot order:
; 0x10 (drive types), 0x14 (equipment), 0x3D and 0x38 (boot devices, as SeaBIOS reads
; them on QEMU-like boards), resets the PC once through port 0xCF9 (RAM survives, so a
; marker at 0x600 tells the boots apart) and prints them again: -boot once= holds for
; the first boot only. floppy.py compares both lines with the options it gave.
%include "guest.inc"

GUEST_START
guest_main:
    PRINT "CMOS"
    mov si, regs
.next:
    mov al, ' '
    call putc
    mov al, [si]
    call print_hex8
    mov al, '='
    call putc
    mov al, [si]
    out 0x70, al
    in al, 0x71
    call print_hex8
    inc si
    cmp si, regs_end
    jb .next
    call newline
    cmp word [es:0x600], 0x5642
    je .second
    mov word [es:0x600], 0x5642
    mov dx, 0xcf9
    mov al, 0x02
    out dx, al
    mov al, 0x06
    out dx, al
.hang:
    hlt
    jmp .hang
.second:
    mov word [es:0x600], 0
    EXIT EXIT_PASS

regs: db 0x10, 0x14, 0x3d, 0x38
regs_end:

GUEST_END
