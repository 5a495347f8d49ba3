; SPDX-License-Identifier: GPL-2.0-or-later
; Keys on the screen: clears the text screen, hides the cursor (so two pictures of the
; same screen are equal whatever the blink phase), writes a prompt, then echoes every key
; it reads through INT 16h with the BIOS teletype (INT 10h AH=0Eh) and prints "KEY sscc"
; on COM1. The app's snapshot test (tests/ui/snapshots.c) types into it, reverts to a
; snapshot taken before, and compares the window with the screendump of that moment.
%include "guest.inc"
%include "setup.inc"

SETUP_START
setup_main:
    mov ax, 0x0003          ; 80x25 colour text, screen cleared
    int 0x10
    mov ah, 0x01            ; cursor shape: bit 5 of CH hides it
    mov cx, 0x2000
    int 0x10
    mov si, prompt
.prompt:
    lodsb
    test al, al
    jz .ready
    mov ah, 0x0e
    xor bx, bx
    int 0x10
    jmp .prompt
.ready:
    PRINTLN "READY"
.next:
    mov ah, 0x10
    int 0x16
    push ax
    mov ah, 0x0e
    xor bx, bx
    int 0x10
    pop ax
    PRINT "KEY "
    call print_hex16
    call newline
    jmp .next

prompt: db "Vireo snapshot test: every key typed is echoed on this screen, and a", 13, 10
        db "snapshot taken before the typing takes it away again.", 13, 10, 13, 10
        db "type here: ", 0
SETUP_END
