; SPDX-License-Identifier: GPL-2.0-or-later
; A hostile guest: pseudo-random values to every VGA register and port, the Bochs VBE
; registers (huge resolutions, a virtual width of 65535, offsets past the end of video
; memory) and the legacy memory window, in rounds. Between rounds it prints "ROUND n" so
; display.py (scenario "flood") can take screendumps and read the text screen meanwhile;
; Vireo must neither crash nor grow without bound.
%include "guest.inc"
%ifndef ROUNDS
%define ROUNDS 12
%endif
GUEST_START
guest_main:
    mov ebx, 0x12345678          ; xorshift32 state
    xor bp, bp                   ; round
.round:
    mov si, 20000                ; register writes per round
.write:
    call random
    mov dx, ax
    and dx, 0x3f
    cmp dx, 0x30
    jae .vbe
    add dx, 0x3b0                ; a VGA port 3B0-3DF
    shr eax, 16
    out dx, al
    in al, dx
    jmp .next
.vbe:
    call random
    mov cx, ax
    mov dx, 0x1ce
    mov ax, cx
    and ax, 0x0f                 ; register index 0-15 (10 and up are not registers)
    out dx, ax
    inc dx
    shr eax, 16
    out dx, ax
    in ax, dx
.next:
    ; Every 16th write also pokes the legacy window.
    test si, 0x0f
    jnz .skip_mem
    call random
    push es
    mov cx, 0xa000
    test al, 1
    jz .seg
    mov cx, 0xb000
.seg:
    mov es, cx
    mov di, ax
    shr eax, 16
    mov [es:di], al
    mov al, [es:di]
    pop es
.skip_mem:
    dec si
    jnz .write

    ; The worst VBE geometry: maximum size, virtual width 65535, offsets 65535.
    mov si, vbe_worst
    mov cx, 8
.worst:
    mov dx, 0x1ce
    lodsw
    out dx, ax
    inc dx
    lodsw
    out dx, ax
    loop .worst

    PRINT "ROUND "
    mov ax, bp
    call print_hex16
    call newline
    inc bp
    cmp bp, ROUNDS
    jb .round
    PRINTLN "vga-flood: done"
    EXIT EXIT_PASS

; xorshift32 in ebx; returns the new value in eax.
random:
    mov eax, ebx
    shl eax, 13
    xor ebx, eax
    mov eax, ebx
    shr eax, 17
    xor ebx, eax
    mov eax, ebx
    shl eax, 5
    xor ebx, eax
    mov eax, ebx
    ret

vbe_worst:
    dw 4, 0                      ; disable
    dw 1, 0xffff                 ; X resolution 65535 (refused: above the maximum)
    dw 1, 4096
    dw 2, 4096
    dw 3, 32
    dw 4, 0xc1                   ; enable without clearing, linear framebuffer
    dw 6, 0xffff                 ; virtual width 65535
    dw 9, 0xffff                 ; Y offset 65535
GUEST_END
