; SPDX-License-Identifier: GPL-2.0-or-later
; PIT counter 0 in mode 2 interrupts through the master 8259 on IRQ 0; the guest waits
; for 100 ticks with HLT, and checks that a latched count goes down between reads.
%include "guest.inc"

TICKS equ 0x0500                ; word in low RAM

GUEST_START
guest_main:
    PIC_INIT
    mov al, 0xfe                ; only IRQ 0
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    ; The mask register reads back what was written (OCW1).
    in al, 0x21
    cmp al, 0xfe
    CHECK e, "master IMR does not read back"

    mov word [es:TICKS], 0
    mov word [es:8 * 4], timer_isr
    mov word [es:8 * 4 + 2], cs

    ; Counter 0, LSB then MSB, mode 2, binary; 1193 counts: about 1 kHz.
    mov al, 0x34
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al

    ; A latched count must change from one latch to the next.
    call read_count
    mov bx, ax
    mov cx, 2000
.spin:
    loop .spin
    call read_count
    cmp ax, bx
    CHECK ne, "PIT count does not move"
    cmp ax, 1193
    CHECK be, "PIT count above the reload value"

    sti
.wait:
    hlt
    cmp word [es:TICKS], 100
    jb .wait
    cli
    PRINT "PIT: "
    movzx eax, word [es:TICKS]
    call print_dec
    PRINTLN " ticks"
    EXIT EXIT_PASS

read_count:
    mov al, 0x00                ; counter latch command, counter 0
    out 0x43, al
    in al, 0x40
    mov ah, al
    in al, 0x40
    xchg al, ah
    ret

timer_isr:
    inc word [es:TICKS]
    push ax
    mov al, 0x20                ; non-specific EOI
    out 0x20, al
    pop ax
    iret
GUEST_END
