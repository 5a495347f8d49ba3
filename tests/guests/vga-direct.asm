; SPDX-License-Identifier: GPL-2.0-or-later
; The pictures of vga-bios.asm again, with every mode set by programming the VGA
; registers directly (IBM VGA mode tables) and VBE 1024x768x32 through the Bochs VBE
; ports 0x1CE/0x1CF, the framebuffer address read from the device's PCI BAR 0. Runs
; under SeaBIOS only for its keyboard service and the font it left in plane 2.
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

%macro VBE 2                     ; Bochs VBE register, value
    mov dx, 0x1ce
    mov ax, %1
    out dx, ax
    inc dx
    mov ax, %2
    out dx, ax
%endmacro

SETUP_START
setup_main:
    PRINTLN "vga-direct: start"
    cli                          ; the BIOS must not touch the VGA behind our back

; ---- text mode 3 ----
    mov si, mode03
    call set_mode
    call set_ega_dac
    OUTW 0x3d4, 0x200a           ; cursor off
    push es
    mov ax, 0xb800
    mov es, ax
    xor di, di
    mov ax, 0x0720
    mov cx, 80 * 25
    rep stosw
    mov di, 160                  ; row 1: the title, yellow on blue
    mov si, title
    mov ah, 0x1e
.title:
    lodsb
    test al, al
    jz .title_done
    stosw
    jmp .title
.title_done:
    mov di, 3 * 160              ; row 3: full blocks in colours 0-15, two each
    mov ax, 0x00db
.blocks:
    stosw
    stosw
    inc ah
    cmp ah, 16
    jb .blocks
    mov di, 5 * 160              ; row 5: spaces on backgrounds 0-7, four each
    mov ax, 0x0020
.backs:
    mov cx, 4
    rep stosw
    add ah, 0x10
    cmp ah, 0x80
    jb .backs
    pop es
    sti
    STEP "DRAWN text"
    cli

; ---- mode 12h ----
    mov si, mode12
    call set_mode
    call set_ega_dac
    call clear_planes
    OUTW 0x3ce, 0x0205           ; write mode 2
    OUTW 0x3ce, 0xff08
    push es
    mov ax, 0xa000
    mov es, ax
    xor di, di
    mov bp, 240
.row12:
    xor bl, bl
.bar12:
    mov al, bl
    mov cx, 5
    rep stosb
    inc bl
    cmp bl, 16
    jb .bar12
    dec bp
    jnz .row12
    ; The diagonal: one pixel per line through the bit mask (write mode 2, colour 15).
    xor si, si
.diag:
    mov cx, si
    and cl, 7
    mov ah, 0x80
    shr ah, cl
    mov al, 0x08
    mov dx, 0x3ce
    out dx, ax
    mov di, si
    add di, 240
    imul di, di, 80
    mov bx, si
    shr bx, 3
    add di, bx
    mov al, [es:di]              ; load the latches
    mov al, 15
    mov [es:di], al
    inc si
    cmp si, 100
    jb .diag
    pop es
    OUTW 0x3ce, 0xff08
    OUTW 0x3ce, 0x0005
    sti
    STEP "DRAWN mode12"
    cli

; ---- mode 13h ----
    mov si, mode13
    call set_mode
    call set_dac16
    push es
    mov ax, 0xa000
    mov es, ax
    xor di, di
    xor dx, dx
.row13:
    xor cx, cx
.px13:
    mov ax, cx
    shr ax, 3
    mov bx, dx
    shr bx, 3
    add ax, bx
    and al, 3
    add al, 16
    stosb
    inc cx
    cmp cx, 320
    jb .px13
    inc dx
    cmp dx, 200
    jb .row13
    pop es
    sti
    STEP "DRAWN mode13"
    cli

; ---- mode X ----
    mov si, modex
    call set_mode
    call set_dac16
    call clear_planes
    push es
    mov ax, 0xa000
    mov es, ax
    xor si, si
.planex:
    mov cx, si
    mov ah, 1
    shl ah, cl
    mov al, 0x02
    mov dx, 0x3c4
    out dx, ax
    xor di, di
    xor dx, dx
.rowx:
    mov cx, si
.pxx:
    mov ax, cx
    shr ax, 4
    mov bx, dx
    shr bx, 4
    shl bx, 1
    add ax, bx
    and al, 3
    add al, 16
    stosb
    add cx, 4
    cmp cx, 320
    jb .pxx
    inc dx
    cmp dx, 240
    jb .rowx
    inc si
    cmp si, 4
    jb .planex
    pop es
    sti
    STEP "DRAWN modex"
    cli
    OUTW 0x3d4, 0x050c
    OUTW 0x3d4, 0x000d
    sti
    STEP "DRAWN modex-scroll"
    cli

; ---- VBE 1024x768x32 through the dispi ports ----
    VBE 4, 0                     ; disable to change the geometry
    VBE 1, 1024
    VBE 2, 768
    VBE 3, 32
    VBE 4, 0x41                  ; enabled, linear framebuffer (memory is cleared)
    mov dx, 0x1ce                ; read back the virtual width
    mov ax, 6
    out dx, ax
    inc dx
    in ax, dx
    cmp ax, 1024
    CHECK e, "VBE virtual width is not 1024"
    mov eax, 0x80001010          ; PCI 00:02.0 BAR 0
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    and eax, 0xfffffff0
    mov [lfb], eax
    PRINT "vga-direct: framebuffer 0x"
    call print_hex32
    call newline
    call unreal_es
    mov edi, [lfb]
    xor bx, bx
.band:
    movzx eax, bx
    shr eax, 4
    mov eax, [band_colours + eax * 4]
    mov ecx, 1024
    a32 rep stosd
    inc bx
    cmp bx, 128
    jb .band
    mov ax, ds
    mov es, ax
    sti
    STEP "DRAWN vbe-bands"
    cli
    ; Only memory changes now: the screen follows through the framebuffer's dirty log.
    call unreal_es
    mov bx, 700
.sq:
    movzx edi, bx
    shl edi, 12
    add edi, 900 * 4
    add edi, [lfb]
    mov eax, 0xff00ff
    mov ecx, 64
    a32 rep stosd
    inc bx
    cmp bx, 764
    jb .sq
    mov ax, ds
    mov es, ax
    sti
    STEP "DRAWN vbe"
    cli
    VBE 4, 0
    mov si, mode03
    call set_mode
    PRINTLN "vga-direct: done"
    EXIT EXIT_PASS

; Programs misc, SR00-04, CR00-18, GR00-08, AR00-14 from the table at si.
set_mode:
    mov dx, 0x3c2
    lodsb
    out dx, al
    xor bl, bl
.sr:
    mov dx, 0x3c4
    mov al, bl
    out dx, al
    inc dx
    lodsb
    out dx, al
    inc bl
    cmp bl, 5
    jb .sr
    OUTW 0x3d4, 0x0011           ; unlock CR00-CR07
    xor bl, bl
.cr:
    mov dx, 0x3d4
    mov al, bl
    out dx, al
    inc dx
    lodsb
    out dx, al
    inc bl
    cmp bl, 25
    jb .cr
    xor bl, bl
.gr:
    mov dx, 0x3ce
    mov al, bl
    out dx, al
    inc dx
    lodsb
    out dx, al
    inc bl
    cmp bl, 9
    jb .gr
    mov dx, 0x3da                ; reset the attribute flip-flop
    in al, dx
    xor bl, bl
    mov dx, 0x3c0
.ar:
    mov al, bl
    out dx, al
    lodsb
    out dx, al
    inc bl
    cmp bl, 21
    jb .ar
    mov al, 0x20                 ; the attribute controller drives the display again
    out dx, al
    ret

; DAC 0-15: the EGA colours (the attribute palette of the tables is the identity).
set_ega_dac:
    mov dx, 0x3c8
    xor al, al
    out dx, al
    inc dx
    mov si, ega_dac
    mov cx, 48
    rep outsb
    ret

set_dac16:
    mov dx, 0x3c8
    mov al, 16
    out dx, al
    inc dx
    mov si, dac16
    mov cx, 12
    rep outsb
    ret

; Zeroes all four planes (write mode 0, all planes, sequential addressing).
clear_planes:
    push es
    mov dx, 0x3c4
    mov ax, 0x0f02
    out dx, ax
    mov al, 0x04
    out dx, al
    inc dx
    in al, dx
    push ax
    mov al, 0x06
    out dx, al
    mov ax, 0xa000
    mov es, ax
    xor di, di
    xor ax, ax
    mov cx, 0x8000
    rep stosw
    pop ax
    out dx, al
    pop es
    ret

unreal_es:
    push eax
    xor eax, eax
    mov ax, cs
    shl eax, 4
    add eax, gdt
    mov [gdt_ptr + 2], eax
    o32 lgdt [gdt_ptr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp short .pm
.pm:
    mov ax, 0x08
    mov es, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    xor ax, ax
    mov es, ax
    pop eax
    ret

    align 8
gdt:
    dq 0
    dq 0x00cf92000000ffff
gdt_ptr:
    dw 15
    dd 0
lfb: dd 0

band_colours:
    dd 0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x808080, 0x123456, 0xffff00, 0x00ffff
title: db "Vireo VGA text mode test", 0
ega_dac:
    db 0, 0, 0,  0, 0, 42,  0, 42, 0,  0, 42, 42,  42, 0, 0,  42, 0, 42,  42, 21, 0,  42, 42, 42
    db 21, 21, 21,  21, 21, 63,  21, 63, 21,  21, 63, 63,  63, 21, 21,  63, 21, 63,  63, 63, 21,  63, 63, 63
dac16:
    db 63, 0, 0,  0, 63, 0,  0, 0, 63,  63, 63, 0

; misc, SR00-04, CR00-18, GR00-08, AR00-14
mode03:
    db 0x67
    db 0x03, 0x00, 0x03, 0x00, 0x02
    db 0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00
    db 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
    db 0x0c, 0x00, 0x0f, 0x08, 0x00
mode12:
    db 0xe3
    db 0x03, 0x01, 0x0f, 0x00, 0x06
    db 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
    db 0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
    db 0x01, 0x00, 0x0f, 0x00, 0x00
mode13:
    db 0x63
    db 0x03, 0x01, 0x0f, 0x00, 0x0e
    db 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
    db 0x9c, 0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
    db 0x41, 0x00, 0x0f, 0x00, 0x00
; Mode X: mode 13h unchained (SR04 06, CR14 00, CR17 E3) with 480 lines (misc E3,
; CR06/07/10/11/12/15/16 of the 480-line timing) shown as 240.
modex:
    db 0xe3
    db 0x03, 0x01, 0x0f, 0x00, 0x06
    db 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0d, 0x3e, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
    db 0xea, 0xac, 0xdf, 0x28, 0x00, 0xe7, 0x06, 0xe3, 0xff
    db 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff
    db 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
    db 0x41, 0x00, 0x0f, 0x00, 0x00

SETUP_END
