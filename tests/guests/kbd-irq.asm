; SPDX-License-Identifier: GPL-2.0-or-later
; An IRQ 1 handler that reads port 0x60 twice, as a DOS memory manager's handler does
; before it chains to the BIOS's, which reads the port again. On a real 8042 both reads
; return the same scancode: the keyboard's next byte takes about a millisecond to cross
; the serial link, so it is not in the output buffer yet. The handler prints the byte of
; its second read (the one the BIOS would act on) as hex on COM1, and "first!second"
; when the two reads differ ("first~second" when the host stalled the vCPU between them). display.py (scenario "keys-irq") types chords with
; send-key and checks that every scancode arrives once, in order.
%include "guest.inc"
GUEST_START
guest_main:
    PIC_INIT
    mov al, 0xfd                ; only IRQ 1
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov word [es:9 * 4], kbd_isr
    mov word [es:9 * 4 + 2], cs

    ; Set up by polling: no interrupts, translation on (set 1 codes, as DOS sees them).
    mov al, 0xad
    call kbc_cmd
    mov al, 0xa7
    call kbc_cmd
    call kbc_flush
    mov al, 0x60
    call kbc_cmd
    mov al, 0x64                ; translate, system flag, mouse interface off
    call kbc_data
    mov al, 0xae
    call kbc_cmd
    mov al, 0xff                ; keyboard reset: FA, then AA
    call kbd_send
    CHECK nc, "keyboard reset not acknowledged"
    call kbc_read
    CHECK nc, "no self-test result"
    cmp al, 0xaa
    CHECK e, "keyboard self-test failed"
    mov al, 0xf4
    call kbd_send
    CHECK nc, "F4 not acknowledged"
    mov al, 0x60                ; now with the keyboard interrupt
    call kbc_cmd
    mov al, 0x65
    call kbc_data
    PRINTLN "READY"
    sti
.idle:
    hlt
    jmp .idle

kbd_isr:
    push eax
    push ebx
    push ecx
    push edx
    rdtsc
    mov ecx, eax                ; time stamp before the first read
    in al, 0x60                 ; the memory manager's read
    mov bl, al
    in al, 0x60                 ; the BIOS's read
    mov bh, al
    rdtsc
    sub eax, ecx
    cmp bl, bh
    je .same
    ; Two different bytes are a fault of the model unless the host stalled this vCPU
    ; for a millisecond or more between the reads (1 ms of TSC at 1 GHz or faster):
    ; then the next byte had time to cross the link, as on a real PC. Marked '~'.
    mov cl, '!'
    cmp eax, 1000000
    jb .torn
    mov cl, '~'
.torn:
    mov al, bl
    call print_hex8
    mov al, cl
    call putc
.same:
    mov al, bh
    call print_hex8
    mov al, ' '
    call putc
    mov al, 0x20                ; non-specific EOI
    out 0x20, al
    pop edx
    pop ecx
    pop ebx
    pop eax
    iret

%include "i8042.inc"
GUEST_END
