; SPDX-License-Identifier: GPL-2.0-or-later
; What a kernel's setup code finds at boot, for qemu-options.py: the boot header's
; vid_mode word (set from vga= on the command line, Linux boot protocol offset 0x1FA)
; and the BIOS's time of day from the RTC (INT 1Ah AH=02h: CH hours, CL minutes in BCD),
; printed on COM1 as "VIDMODE xxxx" and "RTC hh:mm".
%include "guest.inc"
%include "setup.inc"

SETUP_START
setup_main:
    PRINT "VIDMODE "
    mov ax, [0x1fa]
    call print_hex16
    call newline
    mov si, 20                  ; the RTC may be mid-update: try again (CF set)
.time:
    mov ah, 0x02
    int 0x1a
    jnc .have
    dec si
    jnz .time
    PRINTLN "RTC unreadable"
    EXIT EXIT_FAIL
.have:
    PRINT "RTC "
    mov al, ch
    call print_bcd
    mov al, ':'
    call putc
    mov al, cl
    call print_bcd
    call newline
    EXIT EXIT_PASS
SETUP_END
