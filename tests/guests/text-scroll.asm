; SPDX-License-Identifier: GPL-2.0-or-later
; Text on the screen SeaBIOS left behind, then hardware scrolling: the guest writes 60
; numbered lines into text memory (past the 25 on screen) and moves the CRTC start
; address ten rows down, then to row 40 with a smooth-scroll offset of 8 scan lines
; (preset row scan). display.py (scenario "banner") reads the screen with x-screen-text
; at each step: first SeaBIOS's banner, then the scrolled text.
%include "guest.inc"
%include "setup.inc"

%macro STEP 1
    PRINTLN %1
    xor ah, ah
    int 0x16
%endmacro

%macro OUTW 2
    mov dx, %1
    mov ax, %2
    out dx, ax
%endmacro

SETUP_START
setup_main:
    STEP "READY banner"
    ; Lines "Line 00" ... "Line 59" at rows 0-59 of text memory, attribute 0x07.
    push es
    mov ax, 0xb800
    mov es, ax
    xor di, di
    mov ax, 0x0720
    mov cx, 80 * 60
    rep stosw
    xor bx, bx
.line:
    mov di, bx
    imul di, di, 160
    mov si, line_text
    mov ah, 0x07
    mov cx, 5
.copy:
    lodsb
    stosw
    loop .copy
    mov ax, bx                   ; two decimal digits
    mov dl, 10
    div dl
    add ax, 0x3030
    push ax
    mov ah, 0x07
    stosw
    pop ax
    mov al, ah
    mov ah, 0x07
    stosw
    inc bx
    cmp bx, 60
    jb .line
    pop es
    ; Start address: row 10 (10 * 80 = 800 = 0x0320); the cursor to Line 12, column 3.
    OUTW 0x3d4, 0x030c
    OUTW 0x3d4, 0x200d
    OUTW 0x3d4, 0x030e           ; cursor at 12 * 80 + 3 = 963 = 0x03C3
    OUTW 0x3d4, 0xc30f
    STEP "READY scroll10"
    ; Row 40 (3200 = 0x0C80), shifted up by 8 scan lines (CR08 preset row scan).
    OUTW 0x3d4, 0x0c0c
    OUTW 0x3d4, 0x800d
    OUTW 0x3d4, 0x0808
    STEP "READY scroll40"
    PRINTLN "text-scroll: done"
    EXIT EXIT_PASS

line_text: db "Line "
SETUP_END
