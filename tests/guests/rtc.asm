; SPDX-License-Identifier: GPL-2.0-or-later
; Reads the MC146818 clock (waiting out update-in-progress), prints the date and time
; for the runner to compare with the host's, checks that seconds advance, and takes 64
; periodic interrupts on IRQ 8 through the slave 8259.
%include "guest.inc"

PERIODIC equ 0x0500

GUEST_START
guest_main:
    PIC_INIT                    ; then only IRQ 2 and IRQ 8 open
    mov al, 0xfb
    out 0x21, al
    mov al, 0xfe
    out 0xa1, al

    mov al, 0x0b                ; register B: 24-hour BCD, no interrupts
    call cmos_read
    and al, 0x06
    cmp al, 0x02
    CHECK e, "RTC is not in 24-hour BCD mode after reset"

    call wait_no_uip
    PRINT "RTC "
    mov al, 0x32
    call cmos_read
    call print_bcd
    mov al, 0x09
    call cmos_read
    call print_bcd
    mov al, '-'
    call putc
    mov al, 0x08
    call cmos_read
    call print_bcd
    mov al, '-'
    call putc
    mov al, 0x07
    call cmos_read
    call print_bcd
    mov al, ' '
    call putc
    mov al, 0x04
    call cmos_read
    call print_bcd
    mov al, ':'
    call putc
    mov al, 0x02
    call cmos_read
    call print_bcd
    mov al, ':'
    call putc
    mov al, 0x00
    call cmos_read
    call print_bcd
    call newline

    ; Seconds advance, and update-in-progress shows around the update. The UIP window
    ; is 2.2 ms (244 us before the update and its 1984 us), so sample register A with
    ; one port read each (the index stays put) and give it up to three second
    ; boundaries on a slow or busy host.
    call wait_no_uip
    mov al, 0
    call cmos_read
    mov bl, al                  ; seconds before
    xor bh, bh                  ; second boundaries seen
.boundary:
    mov ecx, 20000000
    mov al, 0x0a
    out 0x70, al
.sample:
    in al, 0x71
    test al, 0x80
    jnz .uip
    dec ecx
    jnz .sample
    PRINTLN "FAIL: RTC update-in-progress never seen within seconds"
    EXIT EXIT_FAIL
.uip:
    call wait_no_uip            ; the update happens at the end of the window
    mov al, 0
    call cmos_read
    cmp al, bl
    jne .advanced
    inc bh
    cmp bh, 3
    jb .boundary
    PRINTLN "FAIL: RTC seconds did not advance across update cycles"
    EXIT EXIT_FAIL
.advanced:
    PRINTLN "RTC seconds advance"

    ; Periodic interrupt at 1024 Hz (register A rate 6), counted on vector 0x70.
    mov word [es:PERIODIC], 0
    mov word [es:0x70 * 4], rtc_isr
    mov word [es:0x70 * 4 + 2], cs
    mov al, 0x0a
    mov ah, 0x26
    call cmos_write
    mov al, 0x0b
    call cmos_read
    or al, 0x40                 ; PIE
    mov ah, al
    mov al, 0x0b
    call cmos_write
    mov al, 0x0c                ; clear pending flags
    call cmos_read
    sti
.wait:
    hlt
    cmp word [es:PERIODIC], 64
    jb .wait
    cli
    mov al, 0x0b
    call cmos_read
    and al, ~0x40
    mov ah, al
    mov al, 0x0b
    call cmos_write
    PRINTLN "RTC periodic: 64 interrupts"
    EXIT EXIT_PASS

wait_no_uip:
    mov al, 0x0a
    call cmos_read
    test al, 0x80
    jnz wait_no_uip
    ret

cmos_read:                      ; al = index -> al = value
    out 0x70, al
    in al, 0x71
    ret

cmos_write:                     ; al = index, ah = value
    out 0x70, al
    mov al, ah
    out 0x71, al
    ret

rtc_isr:
    push ax
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    test al, 0x40               ; PF must be set for a periodic interrupt
    jz .spurious
    inc word [es:PERIODIC]
.spurious:
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop ax
    iret
GUEST_END
