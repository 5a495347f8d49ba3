; SPDX-License-Identifier: GPL-2.0-or-later
; Raw keyboard scancodes without firmware: the guest puts the keyboard in scancode set
; SET (1 or 2) with the 8042's translation XLAT (0 off, 1 on), then prints every byte
; from port 0x60 as hex on COM1. display.py (scenario "keys-raw") presses every key of
; a 105-key layout through the control socket and compares the bytes with the published
; set 1 and set 2 tables. Assembled three times: -DSET=1 -DXLAT=0, -DSET=2 -DXLAT=0,
; -DSET=2 -DXLAT=1 (the set 1 codes a PC sees by default).
%include "guest.inc"
GUEST_START
guest_main:
    mov al, 0xad                 ; keyboard interface off while we set up
    call kbc_cmd
    mov al, 0xa7                 ; mouse interface off
    call kbc_cmd
    call kbc_flush
    mov al, 0x60                 ; command byte: no interrupts, translation per XLAT
    call kbc_cmd
%if XLAT
    mov al, 0x44
%else
    mov al, 0x04
%endif
    call kbc_data
    mov al, 0xae                 ; keyboard interface on
    call kbc_cmd
    mov al, 0xff                 ; keyboard reset: FA, then AA (self-test passed)
    call kbd_send
    CHECK nc, "keyboard reset not acknowledged"
    call kbc_read
    CHECK nc, "no self-test result"
%if XLAT
    cmp al, 0xaa                 ; AA translates to itself
%else
    cmp al, 0xaa
%endif
    CHECK e, "keyboard self-test failed"
    mov al, 0xf0                 ; select the scancode set
    call kbd_send
    CHECK nc, "F0 not acknowledged"
    mov al, SET
    call kbd_send
    CHECK nc, "scancode set not acknowledged"
    mov al, 0xf0                 ; read it back
    call kbd_send
    CHECK nc, "F0 00 not acknowledged"
    xor al, al
    call kbd_send
    CHECK nc, "F0 00 not acknowledged"
    call kbc_read
    CHECK nc, "no scancode set reported"
    PRINT "kbd-raw: set byte "
    call print_hex8
    call newline
    mov al, 0xf4                 ; enable scanning
    call kbd_send
    CHECK nc, "F4 not acknowledged"
    PRINTLN "READY"
.poll:
    in al, 0x64
    test al, 0x01
    jz .poll
    in al, 0x60
    call print_hex8
    mov al, ' '
    call putc
    jmp .poll

%include "i8042.inc"
GUEST_END
