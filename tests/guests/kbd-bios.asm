; SPDX-License-Identifier: GPL-2.0-or-later
; Keys through the BIOS: the guest reads INT 16h (function 10h, the enhanced keyboard
; read) and prints each key's scancode and character as "KEY sscc" on COM1 until Esc.
; display.py (scenario "keys-bios") types through send-key and checks each value.
%include "guest.inc"
%include "setup.inc"

SETUP_START
setup_main:
    PRINTLN "READY"
.next:
    mov ah, 0x10
    int 0x16
    PRINT "KEY "
    call print_hex16
    call newline
    cmp ax, 0x011b
    jne .next
    PRINTLN "kbd-bios: done"
    EXIT EXIT_PASS
SETUP_END
