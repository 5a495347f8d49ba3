; SPDX-License-Identifier: GPL-2.0-or-later
; Whether the 16550's interrupt reaches IRQ 4 with MCR OUT2 clear, set, and set in
; loopback. The THR-empty interrupt is the source: enabling it with the transmitter
; empty raises it at once (PC16550D, IIR priority 3). QEMU's board ignores OUT2 (the
; default); with isa-serial.strict-out2=on only OUT2 without loopback lets it through,
; as on an IBM PC's serial card. The test runs both and checks the lines printed.
%include "guest.inc"

COUNT equ 0x0500                ; word in low RAM

GUEST_START
guest_main:
    PIC_INIT
    mov al, 0xef                ; only IRQ 4
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov word [es:(8 + 4) * 4], com1_isr
    mov word [es:(8 + 4) * 4 + 2], cs

    mov bl, 0x00
    call try_mcr
    PRINT "MCR=00h: "
    call report
    mov bl, 0x08
    call try_mcr
    PRINT "MCR=08h (OUT2): "
    call report
    mov bl, 0x18
    call try_mcr
    PRINT "MCR=18h (OUT2, loopback): "
    call report
    EXIT EXIT_PASS

; bl = MCR value: enables the THRE interrupt under it, waits, counts what arrived.
try_mcr:
    cli
    mov word [es:COUNT], 0
    mov dx, COM1 + 4
    mov al, bl
    out dx, al
    mov dx, COM1 + 1
    mov al, 0x02                ; IER: THR empty
    out dx, al
    sti
    mov cx, 20000
.spin:
    loop .spin
    cli
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 4            ; out of loopback before printing again
    out dx, al
    ret

report:
    cmp word [es:COUNT], 0
    je .none
    PRINTLN "IRQ 4 raised"
    ret
.none:
    PRINTLN "no IRQ 4"
    ret

com1_isr:
    push ax
    push dx
    inc word [es:COUNT]
    mov dx, COM1 + 2            ; reading IIR clears the THRE source
    in al, dx
    mov dx, COM1 + 1            ; and no more until the next case
    xor al, al
    out dx, al
    mov al, 0x20
    out 0x20, al
    pop dx
    pop ax
    iret
GUEST_END
