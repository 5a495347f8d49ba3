; SPDX-License-Identifier: GPL-2.0-or-later
; Prints the CMOS bytes the board fills from the floppy drives and the boot order:
; 0x10 (drive types), 0x14 (equipment), 0x3D and 0x38 (boot devices, as SeaBIOS reads
; them on QEMU-like boards). floppy.py compares them with the options it gave.
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
    EXIT EXIT_PASS

regs: db 0x10, 0x14, 0x3d, 0x38
regs_end:

GUEST_END
