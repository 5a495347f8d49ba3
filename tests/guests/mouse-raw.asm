; SPDX-License-Identifier: GPL-2.0-or-later
; The PS/2 mouse without firmware: reset, IntelliMouse detection (sample rates 200, 100,
; 80 make the ID 3 and packets four bytes long), resolution and sample rate, stream mode,
; then every byte from the mouse printed as hex on COM1. After the driver's "remote"
; marker (the middle button pressed alone) the guest switches to remote mode and polls one
; packet with Read Data (EB). display.py (scenario "mouse") sends the events.
%include "guest.inc"
GUEST_START
guest_main:
    mov al, 0xad
    call kbc_cmd
    mov al, 0xa7
    call kbc_cmd
    call kbc_flush
    mov al, 0x60                 ; command byte: no interrupts, both interfaces clocked
    call kbc_cmd
    mov al, 0x04
    call kbc_data
    mov al, 0xa8                 ; mouse interface on
    call kbc_cmd
    mov al, 0xff                 ; reset: FA, AA, 00
    call aux_send
    CHECK nc, "mouse reset not acknowledged"
    call kbc_read
    CHECK nc, "no mouse self-test result"
    cmp al, 0xaa
    CHECK e, "mouse self-test failed"
    call kbc_read
    CHECK nc, "no mouse ID after reset"
    cmp al, 0x00
    CHECK e, "mouse ID after reset is not 0"
    ; IntelliMouse: set the sample rate to 200, 100, 80, then ask for the ID.
    mov si, rates
.rate:
    lodsb
    test al, al
    jz .rates_done
    push ax
    mov al, 0xf3
    call aux_send
    CHECK nc, "F3 not acknowledged"
    pop ax
    call aux_send
    CHECK nc, "sample rate not acknowledged"
    jmp .rate
.rates_done:
    mov al, 0xf2
    call aux_send
    CHECK nc, "F2 not acknowledged"
    call kbc_read
    CHECK nc, "no mouse ID"
    PRINT "mouse-raw: id "
    call print_hex8
    call newline
    cmp al, 0x03
    CHECK e, "the mouse did not become an IntelliMouse"
    mov al, 0xe8                 ; resolution 8 counts/mm (3)
    call aux_send
    CHECK nc, "E8 not acknowledged"
    mov al, 0x03
    call aux_send
    CHECK nc, "resolution not acknowledged"
    mov al, 0xe9                 ; status request: three bytes, rate last
    call aux_send
    CHECK nc, "E9 not acknowledged"
    PRINT "mouse-raw: status"
    mov cx, 3
.status:
    call kbc_read
    CHECK nc, "short status"
    push ax
    mov al, ' '
    call putc
    pop ax
    call print_hex8
    loop .status
    call newline
    mov al, 0xf4                 ; stream mode on
    call aux_send
    CHECK nc, "F4 not acknowledged"
    PRINTLN "READY"
    xor bp, bp                   ; bytes of the current packet
.poll:
    in al, 0x64
    test al, 0x01
    jz .poll
    test al, 0x20                ; from the mouse?
    jz .poll
    in al, 0x60
    test bp, bp
    jnz .not_first
    mov [es:LAST_FIRST], al
.not_first:
    call print_hex8
    push ax
    mov al, ' '
    call putc
    pop ax
    inc bp
    cmp bp, 4
    jb .poll
    xor bp, bp
    ; A packet with only the middle button down asks for the remote-mode check.
    cmp byte [es:LAST_FIRST], 0x0c
    je remote
    jmp .poll

remote:
    mov al, 0xf0                 ; remote mode: no packets until asked
    call aux_send
    CHECK nc, "F0 not acknowledged"
    PRINTLN "REMOTE"
.wait_move:
    ; Poll with Read Data until the mouse reports movement.
    mov al, 0xeb
    call aux_send
    CHECK nc, "EB not acknowledged"
    mov cx, 4
    mov di, PACKET
.read:
    call kbc_read
    CHECK nc, "short remote packet"
    mov [es:di], al
    inc di
    loop .read
    cmp byte [es:PACKET + 1], 0
    jne .moved
    cmp byte [es:PACKET + 2], 0
    je .wait_move
.moved:
    PRINT "REMOTE-PACKET"
    mov si, PACKET
    mov cx, 4
.show:
    mov al, ' '
    call putc
    mov al, [es:si]
    inc si
    call print_hex8
    loop .show
    call newline
    EXIT EXIT_PASS

rates: db 200, 100, 80, 0
; Variables live in RAM (segment 0; ES = 0): the image itself is ROM.
LAST_FIRST equ 0x600
PACKET equ 0x610

%include "i8042.inc"
GUEST_END
