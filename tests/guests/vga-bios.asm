; SPDX-License-Identifier: GPL-2.0-or-later
; Display modes set through SeaBIOS's VGA BIOS (INT 10h), each with a known picture:
; text mode 3 with attributes, mode 12h, mode 13h, mode X (13h unchained to 320x240),
; and VBE 1024x768x32 found through the VBE mode list. After each picture the guest
; prints "DRAWN <name>" on COM1 and waits for a key (INT 16h); the test driver
; (display.py, scenario "modes") takes a screendump, checks its pixels, and presses
; space. The picture formulas are mirrored in display.py.
%include "guest.inc"
%include "setup.inc"

%macro STEP 1
    PRINTLN %1
    xor ah, ah
    int 0x16
%endmacro

%macro OUTW 2                    ; port, word (index in the low byte, data in the high)
    mov dx, %1
    mov ax, %2
    out dx, ax
%endmacro

SETUP_START
setup_main:
    PRINTLN "vga-bios: start"

; ---- text mode 3 ----
    mov ax, 0x0003
    int 0x10
    mov ah, 0x01                 ; cursor off
    mov cx, 0x2000
    int 0x10
    ; Row 1: the title in yellow on blue (INT 10h AH=13h, write string).
    mov ax, 0x1300
    mov bx, 0x001e
    mov cx, title_len
    mov dx, 0x0100
    mov bp, title
    int 0x10
    ; Row 3: sixteen full blocks, foreground colours 0-15.
    xor si, si
.blocks:
    mov ah, 0x02                 ; cursor to row 3, column 2*si
    xor bh, bh
    mov dh, 3
    mov dx, si
    shl dl, 1
    mov dh, 3
    int 0x10
    mov ax, 0x09db               ; write character 0xDB with attribute bl, cx times
    mov bx, si
    xor bh, bh
    mov cx, 2
    int 0x10
    inc si
    cmp si, 16
    jb .blocks
    ; Row 5: spaces with background colours 0-7, four cells each.
    xor si, si
.backgrounds:
    mov ah, 0x02
    xor bh, bh
    mov dx, si
    shl dl, 2
    mov dh, 5
    int 0x10
    mov ax, 0x0920
    mov bx, si
    shl bl, 4
    xor bh, bh
    mov cx, 4
    int 0x10
    inc si
    cmp si, 8
    jb .backgrounds
    STEP "DRAWN text"

; ---- mode 12h: 640x480, 16 colours ----
    mov ax, 0x0012
    int 0x10
    ; Rows 0-239: sixteen bars 40 pixels wide in colours 0-15, drawn with write mode 2.
    OUTW 0x3ce, 0x0205
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
    pop es
    OUTW 0x3ce, 0x0005
    ; A diagonal of white through the BIOS's write-pixel call: (x, 240 + x) for x < 100.
    xor si, si
.diag:
    mov ax, 0x0c0f
    xor bh, bh
    mov cx, si
    mov dx, si
    add dx, 240
    int 0x10
    inc si
    cmp si, 100
    jb .diag
    STEP "DRAWN mode12"

; ---- mode 13h: 320x200, 256 colours ----
    mov ax, 0x0013
    int 0x10
    call set_dac
    ; Pixel (x, y) = 16 + ((x / 8 + y / 8) & 3).
    push es
    mov ax, 0xa000
    mov es, ax
    xor di, di
    xor dx, dx                   ; y
.row13:
    xor cx, cx                   ; x
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
    STEP "DRAWN mode13"

; ---- mode X: mode 13h unchained, 320x240 ----
    mov ax, 0x0013
    int 0x10
    call set_dac
    OUTW 0x3c4, 0x0604           ; SR04: chain-4 off, odd/even off
    OUTW 0x3d4, 0x0014           ; CR14: doubleword mode off
    OUTW 0x3d4, 0xe317           ; CR17: byte mode
    mov dx, 0x3c2
    mov al, 0xe3
    out dx, al
    OUTW 0x3d4, 0x2c11           ; unlock CR00-CR07
    OUTW 0x3d4, 0x0d06
    OUTW 0x3d4, 0x3e07
    OUTW 0x3d4, 0xea10
    OUTW 0x3d4, 0xac11
    OUTW 0x3d4, 0xdf12
    OUTW 0x3d4, 0xe715
    OUTW 0x3d4, 0x0616
    ; Clear all four planes, as mode X programs do.
    OUTW 0x3c4, 0x0f02
    push es
    mov ax, 0xa000
    mov es, ax
    xor di, di
    xor ax, ax
    mov cx, 0x8000
    rep stosw
    pop es
    ; Pixel (x, y) = 16 + ((x / 16 + 2 * (y / 16)) & 3); plane x & 3, offset y * 80 + x / 4.
    push es
    mov ax, 0xa000
    mov es, ax
    xor si, si                   ; plane
.planex:
    mov cx, si
    mov ah, 1
    shl ah, cl
    mov al, 0x02
    mov dx, 0x3c4
    out dx, ax
    xor di, di
    xor dx, dx                   ; y
.rowx:
    mov cx, si                   ; x = plane, plane + 4, ...
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
    STEP "DRAWN modex"
    ; Hardware scroll: start address 16 lines down.
    OUTW 0x3d4, 0x050c           ; 16 * 80 = 0x0500
    OUTW 0x3d4, 0x000d
    STEP "DRAWN modex-scroll"

; ---- VBE 1024x768x32 ----
    mov ax, 0x4f00
    mov di, vbe_info
    mov dword [vbe_info], 'VBE2'
    int 0x10
    cmp ax, 0x004f
    CHECK e, "VBE 4F00h failed"
    lfs si, [vbe_info + 0x0e]    ; the mode list
.next_mode:
    mov cx, [fs:si]
    cmp cx, 0xffff
    CHECK ne, "no 1024x768x32 VBE mode"
    add si, 2
    mov ax, 0x4f01
    mov di, mode_info
    int 0x10
    cmp ax, 0x004f
    jne .next_mode
    cmp word [mode_info + 0x12], 1024
    jne .next_mode
    cmp word [mode_info + 0x14], 768
    jne .next_mode
    cmp byte [mode_info + 0x19], 32
    jne .next_mode
    test byte [mode_info], 0x80  ; linear framebuffer available
    jz .next_mode
    mov bx, cx
    or bx, 0x4000
    mov ax, 0x4f02
    int 0x10
    cmp ax, 0x004f
    CHECK e, "VBE 4F02h failed"
    PRINT "vga-bios: VBE mode 0x"
    mov ax, cx
    call print_hex16
    PRINT " framebuffer 0x"
    mov eax, [mode_info + 0x28]
    call print_hex32
    call newline
    call unreal_es
    ; Rows 0-127: eight bands of 16 lines in the colours of band_colours.
    mov edi, [mode_info + 0x28]
    xor bx, bx
.band:
    mov eax, ebx
    shr eax, 4
    mov eax, [band_colours + eax * 4]
    movzx ecx, word [mode_info + 0x10]   ; bytes per line
    shr ecx, 2
    push edi
    a32 rep stosd
    pop edi
    movzx ecx, word [mode_info + 0x10]
    add edi, ecx
    inc bx
    cmp bx, 128
    jb .band
    mov ax, ds
    mov es, ax
    STEP "DRAWN vbe-bands"
    ; Only memory changes now, no register: the screen follows through the framebuffer's
    ; dirty log. A 64x64 square of 0xFF00FF at (900, 700).
    call unreal_es
    mov bx, 700
.sq:
    movzx edi, bx
    movzx ecx, word [mode_info + 0x10]
    imul edi, ecx
    add edi, 900 * 4
    add edi, [mode_info + 0x28]
    mov eax, 0xff00ff
    mov ecx, 64
    a32 rep stosd
    inc bx
    cmp bx, 764
    jb .sq
    mov ax, ds
    mov es, ax
    STEP "DRAWN vbe"

    mov ax, 0x0003
    int 0x10
    PRINTLN "vga-bios: done"
    EXIT EXIT_PASS

; DAC entries 16-19: red, green, blue, yellow (INT 10h AX=1010h).
set_dac:
    mov ax, 0x1010
    mov bx, 16
    mov dh, 63
    mov cx, 0x0000
    int 0x10
    mov ax, 0x1010
    mov bx, 17
    mov dh, 0
    mov cx, 0x3f00
    int 0x10
    mov ax, 0x1010
    mov bx, 18
    mov dh, 0
    mov cx, 0x003f
    int 0x10
    mov ax, 0x1010
    mov bx, 19
    mov dh, 63
    mov cx, 0x3f00
    int 0x10
    ret

; "Unreal" mode: ES keeps a 4 GiB limit with base 0 after a trip through protected mode,
; so real-mode code can reach the linear framebuffer with 32-bit addresses.
unreal_es:
    push eax
    xor eax, eax
    mov ax, cs
    shl eax, 4
    add eax, gdt
    mov [gdt_ptr + 2], eax
    cli
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
    sti
    pop eax
    ret

    align 8
gdt:
    dq 0
    dq 0x00cf92000000ffff        ; flat 4 GiB data
gdt_ptr:
    dw 15
    dd 0

band_colours:
    dd 0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x808080, 0x123456, 0xffff00, 0x00ffff

title: db "Vireo VGA text mode test"
title_len equ $ - title

    align 16
vbe_info: times 512 db 0
mode_info: times 256 db 0

SETUP_END
