; SPDX-License-Identifier: GPL-2.0-or-later
; A steady 1 kHz tone on the PC speaker until the VM stops: the app's sound test
; (tests/ui/sound.c) records it while it turns the VM's volume down and mutes it.
; Booted by SeaBIOS as a kernel; prints "TONE" on COM1 once the speaker is on.
%include "guest.inc"
%include "setup.inc"

SETUP_START
setup_main:
    ; 8254 counter 2, mode 3 (square wave), binary: 1193182 Hz / 1193 = 1000.15 Hz.
    mov al, 0xb6
    out 0x43, al
    mov ax, 1193
    out 0x42, al
    mov al, ah
    out 0x42, al
    ; Port 61h bit 0 gates counter 2, bit 1 connects its output to the speaker.
    in al, 0x61
    or al, 3
    out 0x61, al
    PRINTLN "TONE"
.hold:
    hlt
    jmp .hold
SETUP_END
