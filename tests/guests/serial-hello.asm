; SPDX-License-Identifier: GPL-2.0-or-later
; The smallest guest: prints on COM1 and exits through isa-debug-exit.
%include "guest.inc"
GUEST_START
guest_main:
    ; The UART must report an empty transmitter after reset (LSR bits 5 and 6).
    mov dx, COM1 + 5
    in al, dx
    and al, 0x60
    cmp al, 0x60
    CHECK e, "LSR does not show an empty transmitter"
    ; Scratch register keeps what is written.
    mov dx, COM1 + 7
    mov al, 0x5a
    out dx, al
    in al, dx
    cmp al, 0x5a
    CHECK e, "scratch register lost its value"
    PRINTLN "Hello from a Vireo guest"
    EXIT EXIT_PASS
GUEST_END
