; SPDX-License-Identifier: GPL-2.0-or-later
; The Cirrus CL-GD5446 (-vga cirrus) as a Windows-era driver drives it: modes set through
; the Cirrus VGA BIOS's VBE (1024x768x16, 640x480x24, 640x480x15) and by programming the
; extended registers directly (640x480x8, 640x480x32), each picture drawn by the BitBLT
; engine -- fills, copies forward and backward with every ROP, transparent copies, colour
; expansion, patterns, system-to-screen blits fed through the 0xA0000 window -- with its
; registers written through the graphics controller ports or the memory-mapped copy at
; 0xB8000, hostile blits that must be refused, and the hardware cursor.
;
; Every blit is printed before it runs ("BLIT" and its 36-byte parameter block in hex,
; "DATA" and the bytes of table sources); display.py (scenario "cirrus") replays them
; in a model of video memory and compares each screendump pixel for pixel. After each
; picture: "DRAWN <name>", then a key press. Sources of kind 1 are bytes (k * 37 + k / 128)
; mod 256, k counting from 0 -- the model computes them too.
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

; BLT w_bytes, h, dst_pitch, src_pitch, dst, src, mode, rop, modeext, skip, fg, bg,
;     transp, how (0 ports, 1 MMIO at 0xB8000), kind (0 none, 1 formula, 2 table), len, ptr
%macro BLT 17
    dw (%1) - 1, (%2) - 1, %3, %4
    dd %5, %6
    db %7, %8, %9, %10
    dd %11, %12
    dw %13
    db %14, %15
    dw %16, %17
%endmacro
ENTRY_SIZE equ 36

SETUP_START
setup_main:
    PRINTLN "cirrus: start"
    ; The BIOS's Cirrus extension answers INT 10h AX=1200h BL=80h with the chip.
    mov ax, 0x1200
    mov bl, 0x80
    int 0x10
    cmp ax, 0x0039
    CHECK e, "INT 10h/12h BL=80h does not report a CL-GD5446"

; ---- 1024x768x16 through VBE ----
    mov bx, 0xc117               ; linear, keep memory (the first blit clears it)
    call vbe_mode
    mov si, t16
    mov cx, t16_count
    call run_table
    STEP "DRAWN cirrus16"

; ---- 640x480x24 through VBE ----
    mov bx, 0xc112
    call vbe_mode
    mov si, t24
    mov cx, t24_count
    call run_table
    STEP "DRAWN cirrus24"

; ---- 640x480x15 through VBE ----
    mov bx, 0xc110
    call vbe_mode
    mov si, t15
    mov cx, t15_count
    call run_table
    STEP "DRAWN cirrus15"

; ---- 640x480x8 by registers ----
    cli
    mov si, regs_8
    call set_regs
    ; DAC: entry i = (i mod 64, 3i mod 64, 63 - i mod 64).
    mov dx, 0x3c8
    xor al, al
    out dx, al
    inc dx
    xor bx, bx
.dac:
    mov al, bl
    and al, 63
    out dx, al
    mov al, bl
    imul ax, ax, 3
    and al, 63
    out dx, al
    mov al, bl
    not al
    and al, 63
    out dx, al
    inc bx
    cmp bx, 256
    jb .dac
    sti
    PRINTLN "MODE 640 480 8 640"
    mov si, t8
    mov cx, t8_count
    call run_table
    STEP "DRAWN cirrus8"

; ---- 640x480x32 by registers, with the hardware cursor ----
    cli
    mov si, regs_32
    call set_regs
    sti
    PRINTLN "MODE 640 480 32 2560"
    mov si, t32
    mov cx, t32_count
    call run_table
    ; The cursor's colours in the hidden palette (SR12 bit 1): 0 orange, 15 cyan.
    OUTW 0x3c4, 0x0212
    mov dx, 0x3c8
    xor al, al
    out dx, al
    inc dx
    mov al, 63
    out dx, al
    mov al, 32
    out dx, al
    xor al, al
    out dx, al
    dec dx
    mov al, 15
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov al, 63
    out dx, al
    out dx, al
    ; Pattern 5 of the 32x32 cursors, in the last 16 KiB: bank 0xFF of 16 KiB.
    OUTW 0x3ce, 0x200b
    OUTW 0x3ce, 0xff09
    push es
    mov ax, 0xa000
    mov es, ax
    mov di, 5 * 256
    mov si, cursor_pattern
    mov cx, 256
    rep movsb
    pop es
    OUTW 0x3ce, 0x0009
    OUTW 0x3ce, 0x000b
    OUTW 0x3c4, 0x0513           ; SR13: pattern 5
    OUTW 0x3c4, 0x2590           ; x = 25h * 8 + 4 = 300 (index 90h: bits 7:5 give 4)
    OUTW 0x3c4, 0x1911           ; y = 19h * 8 = 200
    OUTW 0x3c4, 0x0112           ; SR12: show, 32x32
    PRINTLN "CURSOR 300 200 5"
    STEP "DRAWN cirrus32"
    OUTW 0x3c4, 0x0012

    mov ax, 0x0003
    int 0x10
    PRINTLN "cirrus: done"
    EXIT EXIT_PASS

; bx = VBE mode: set it, print "MODE w h bpp pitch" from 4F01h.
vbe_mode:
    push bx
    mov cx, bx
    and cx, 0x1ff
    mov ax, 0x4f01
    mov di, mode_info
    int 0x10
    cmp ax, 0x004f
    CHECK e, "VBE 4F01h failed"
    pop bx
    mov ax, 0x4f02
    int 0x10
    cmp ax, 0x004f
    CHECK e, "VBE 4F02h failed"
    PRINT "MODE "
    movzx eax, word [mode_info + 0x12]
    call print_dec
    mov al, ' '
    call putc
    movzx eax, word [mode_info + 0x14]
    call print_dec
    mov al, ' '
    call putc
    movzx eax, byte [mode_info + 0x19]
    call print_dec
    mov al, ' '
    call putc
    movzx eax, word [mode_info + 0x10]
    call print_dec
    call newline
    ret

; si = misc, then (port, index, value) triples ending with port 0; then the Hidden
; DAC value; the attribute controller's mode (AR10 41h) and the display on.
set_regs:
    mov dx, 0x3c2
    lodsb
    out dx, al
.next:
    lodsw
    test ax, ax
    jz .done
    mov dx, ax
    lodsw
    out dx, ax
    jmp .next
.done:
    mov dx, 0x3c6                ; the Hidden DAC behind four reads
    in al, dx
    in al, dx
    in al, dx
    in al, dx
    lodsb
    out dx, al
    mov dx, 0x3da
    in al, dx
    mov dx, 0x3c0
    mov al, 0x10
    out dx, al
    mov al, 0x41
    out dx, al
    mov al, 0x20
    out dx, al
    ret

; si = table, cx = entries.
run_table:
    OUTW 0x3ce, 0x0038           ; transparent colour masks: compare every bit
    OUTW 0x3ce, 0x0039
.entry:
    push cx
    PRINT "BLIT "
    push si
    mov cx, ENTRY_SIZE
.hex:
    lodsb
    call print_hex8
    loop .hex
    call newline
    pop si
    cmp byte [si + 30], 1
    je .mmio
    call program_ports
    OUTW 0x3ce, 0x0231           ; start
    jmp .started
.mmio:
    call program_mmio
.started:
    cmp byte [si + 31], 0
    je .check
    call feed
.check:
    mov dx, 0x3ce
    mov al, 0x31
    out dx, al
    inc dx
    in al, dx
    test al, 0x0b
    CHECK z, "the blit engine is still busy"
    add si, ENTRY_SIZE
    pop cx
    dec cx
    jnz .entry
    ret

program_ports:
    push si
    mov bx, si
    mov si, gr_map
    mov dx, 0x3ce
.next:
    lodsw                        ; al = GR index, ah = offset in the entry
    cmp al, 0xff
    je .done
    movzx di, ah
    mov ah, [bx + di]
    out dx, ax
    jmp .next
.done:
    pop si
    ret

program_mmio:
    push si
    push es
    mov dx, 0x3c4                ; SR17 bit 2: the registers at 0xB8000
    mov al, 0x17
    out dx, al
    inc dx
    in al, dx
    or al, 0x04
    out dx, al
    mov ax, 0xb800
    mov es, ax
    mov bx, si
    mov si, mmio_map
.next:
    lodsw                        ; al = MMIO offset, ah = offset in the entry
    cmp al, 0xff
    je .go
    movzx di, ah
    mov cl, [bx + di]
    movzx di, al
    mov [es:di], cl
    jmp .next
.go:
    mov byte [es:0x40], 0x02     ; start
    mov dx, 0x3c5
    in al, dx
    and al, ~0x04
    out dx, al
    pop es
    pop si
    ret

; The source of a system-to-screen blit, written into the window.
feed:
    push si
    push es
    mov ax, 0xa000
    mov es, ax
    xor di, di
    movzx ecx, word [si + 32]
    cmp byte [si + 31], 2
    je .table
    xor ebx, ebx
.formula:
    mov eax, ebx
    imul eax, eax, 37
    mov edx, ebx
    shr edx, 7
    add eax, edx
    stosb
    and di, 0x7fff
    inc ebx
    loop .formula
    jmp .done
.table:
    mov si, [si + 34]
    push si
    push cx
    PRINT "DATA "
.dhex:
    lodsb
    call print_hex8
    loop .dhex
    call newline
    pop cx
    pop si
    rep movsb
.done:
    pop es
    pop si
    ret

gr_map:
    db 0x20, 0, 0x21, 1, 0x22, 2, 0x23, 3, 0x24, 4, 0x25, 5, 0x26, 6, 0x27, 7
    db 0x28, 8, 0x29, 9, 0x2a, 10, 0x2c, 12, 0x2d, 13, 0x2e, 14, 0x2f, 19
    db 0x30, 16, 0x32, 17, 0x33, 18
    db 0x01, 20, 0x11, 21, 0x13, 22, 0x15, 23, 0x00, 24, 0x10, 25, 0x12, 26, 0x14, 27
    db 0x34, 28, 0x35, 29, 0xff, 0xff
mmio_map:
    db 0x00, 24, 0x01, 25, 0x02, 26, 0x03, 27, 0x04, 20, 0x05, 21, 0x06, 22, 0x07, 23
    db 0x08, 0, 0x09, 1, 0x0a, 2, 0x0b, 3, 0x0c, 4, 0x0d, 5, 0x0e, 6, 0x0f, 7
    db 0x10, 8, 0x11, 9, 0x12, 10, 0x14, 12, 0x15, 13, 0x16, 14, 0x17, 19
    db 0x18, 16, 0x1a, 17, 0x1b, 18, 0x1c, 28, 0x1d, 29, 0xff, 0xff

; A 32x16 glyph (4 bytes a line) and an 8x8 monochrome pattern.
glyph:
%assign r 0
%rep 16
    db 0xff ^ (r * 17), 0x81 | (r << 3), 0x3c ^ r, 0xa5 + r
%assign r r + 1
%endrep
pat8:
    db 0x81, 0x42, 0x24, 0x18, 0x18, 0x24, 0x42, 0x81
cursor_pattern:
%assign j 0
%rep 256
    db (j * 13 + (j >> 5)) & 0xff
%assign j j + 1
%endrep

; ---- 1024x768x16, pitch 2048 ----
P16 equ 2048
t16:
    ; Clear all 4 MiB: a solid fill of 4096 bytes x 1024 lines (pitches have 13 bits).
    BLT 4096, 1024, 4096, 0, 0, 0, 0xd0, 0x0d, 0x04, 0, 0, 0, 0, 0, 0, 0, 0
    ; A 128x32 source from the CPU at (16,16).
    BLT 256, 32, P16, 0, 16*P16 + 32, 0, 0x14, 0x0d, 0, 0, 0, 0, 0, 0, 1, 256*32, 0
    ; Copied to (200,16), then moved by (+6,+3) backward (overlapping).
    BLT 256, 32, P16, P16, 16*P16 + 400, 16*P16 + 32, 0x10, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    BLT 256, 32, P16, P16, 50*P16 + 412 + 255, 47*P16 + 400 + 255, 0x11, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ; A red rectangle, the source XORed onto it.
    BLT 400, 80, P16, 0, 100*P16 + 800, 0, 0xd0, 0x0d, 0x04, 0, 0xf800, 0, 0, 0, 0, 0, 0
    BLT 256, 32, P16, P16, 110*P16 + 840, 16*P16 + 32, 0x10, 0x59, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ; The glyph expanded from the CPU: opaque green on blue, then transparent white via MMIO.
    BLT 64, 16, P16, 0, 100*P16 + 1300, 0, 0x94, 0x0d, 0, 0, 0x07e0, 0x001f, 0, 0, 2, 64, glyph
    BLT 64, 16, P16, 0, 100*P16 + 1400, 0, 0x9c, 0x0d, 0, 0, 0xffff, 0, 0, 1, 2, 64, glyph
    ; An 8x8 colour pattern (16 bytes a row) to 0x200000, filled from row 2 with 3 pixels skipped.
    BLT 16, 8, 16, 0, 0x200000, 0, 0x14, 0x0d, 0, 0, 0, 0, 0, 0, 1, 128, 0
    BLT 320, 60, P16, 0, 300*P16 + 200, 0x200002, 0x50, 0x0d, 0, 3, 0, 0, 0, 0, 0, 0, 0
    ; A monochrome pattern to 0x200100, expanded transparent yellow via MMIO, from row 5.
    BLT 8, 1, 8, 0, 0x200100, 0, 0x04, 0x0d, 0, 0, 0, 0, 0, 0, 2, 8, pat8
    BLT 200, 50, P16, 0, 300*P16 + 600, 0x200105, 0xd8, 0x0d, 0, 0, 0xffe0, 0, 0, 1, 0, 0, 0
    ; A transparent copy: pixels equal to 2500h after the ROP stay.
    BLT 256, 32, P16, P16, 400*P16 + 1000, 16*P16 + 32, 0x18, 0x0d, 0, 0, 0, 0, 0x2500, 0, 0, 0, 0
    ; Pitch 0: every source line onto one destination line.
    BLT 128, 32, 0, P16, 700*P16 + 64, 16*P16 + 32, 0x10, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ; Hostile, all refused: pitch 0 backward over 8192 lines from address 0; backward
    ; below address 0; forward past the end; a colour expansion reading past the end;
    ; a system-to-screen blit past the end.
    BLT 8192, 8192, 0, 0, 0, 0, 0x11, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    BLT 300, 1, 0, 0, 100, 200, 0x11, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    BLT 512, 1, 0, 0, 0x3fff00, 0, 0x10, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0
    BLT 8192, 100, P16, 0, 0, 0x3ffff0, 0x90, 0x0d, 0, 0, 0xffff, 0, 0, 0, 0, 0, 0
    BLT 8192, 8192, 8191, 8191, 0x3f0000, 0, 0x14, 0x0d, 0, 0, 0, 0, 0, 1, 0, 0, 0
t16_count equ ($ - t16) / ENTRY_SIZE

; ---- 640x480x24, pitch from 4F01h (2048) ----
P24 equ 2048
t24:
    BLT 1920, 480, P24, 0, 0, 0, 0xe0, 0x0d, 0x04, 0, 0x403020, 0, 0, 0, 0, 0, 0
    BLT 96, 16, P24, 0, 40*P24 + 60, 0, 0xa4, 0x0d, 0, 0, 0x00ff00, 0xff0000, 0, 0, 2, 64, glyph
    ; An 8x8 24 bpp pattern (rows of 32 bytes) at 0x300000, filled with 6 bytes skipped.
    BLT 32, 8, 32, 0, 0x300000, 0, 0x24, 0x0d, 0, 0, 0, 0, 0, 0, 1, 256, 0
    BLT 600, 40, P24, 0, 100*P24 + 300, 0x300000, 0x60, 0x0d, 0, 6, 0, 0, 0, 0, 0, 0, 0
    BLT 600, 40, P24, P24, 200*P24 + 330, 100*P24 + 300, 0x20, 0x6d, 0, 0, 0, 0, 0, 1, 0, 0, 0
t24_count equ ($ - t24) / ENTRY_SIZE

; ---- 640x480x15, pitch 1280 ----
P15 equ 1280
t15:
    BLT 1280, 480, P15, 0, 0, 0, 0xd0, 0x0d, 0x04, 0, 0x1234, 0, 0, 0, 0, 0, 0
    ; Transparent inverted expansion: clear bits drawn in the background colour.
    BLT 64, 16, P15, 0, 50*P15 + 100, 0, 0x9c, 0x0d, 0x02, 0, 0x7fff, 0x7c00, 0, 0, 2, 64, glyph
    BLT 400, 30, P15, 0, 120*P15 + 200, 0, 0x14, 0x95, 0, 0, 0, 0, 0, 0, 1, 400*30, 0
t15_count equ ($ - t15) / ENTRY_SIZE

; ---- 640x480x8, pitch 640: the sixteen ROPs and an unknown code ----
P8 equ 640
%macro ROPTILE 2                 ; index, rop
    BLT 48, 32, P8, P8, (100 + ((%1) / 8) * 48) * P8 + 80 + ((%1) % 8) * 64, 2*P8 + 3, 0x00, %2, 0, 0, 0, 0, 0, (%1) & 1, 0, 0, 0
%endmacro
t8:
    BLT 640, 480, P8, 0, 0, 0, 0xc0, 0x0d, 0x04, 0, 0x5a, 0, 0, 0, 0, 0, 0
    BLT 64, 40, P8, 0, 0, 0, 0x04, 0x0d, 0, 0, 0, 0, 0, 0, 1, 64*40, 0
    ROPTILE 0, 0x00
    ROPTILE 1, 0x05
    ROPTILE 2, 0x06
    ROPTILE 3, 0x09
    ROPTILE 4, 0x0b
    ROPTILE 5, 0x0d
    ROPTILE 6, 0x0e
    ROPTILE 7, 0x50
    ROPTILE 8, 0x59
    ROPTILE 9, 0x6d
    ROPTILE 10, 0x90
    ROPTILE 11, 0x95
    ROPTILE 12, 0xad
    ROPTILE 13, 0xd0
    ROPTILE 14, 0xd6
    ROPTILE 15, 0xda
    ROPTILE 16, 0x33
    ; Backward with a ROP, a transparent copy, and an expansion with 5 pixels skipped.
    BLT 64, 40, P8, P8, 299*P8 + 63 + 100, 39*P8 + 63, 0x01, 0x59, 0, 0, 0, 0, 0, 0, 0, 0, 0
    BLT 64, 40, P8, P8, 300*P8 + 300, 0, 0x08, 0x0d, 0, 0, 0, 0, 0x25, 0, 0, 0, 0
    BLT 32, 16, P8, 0, 400*P8 + 40, 0, 0x84, 0x0d, 0, 5, 0xe0, 0x11, 0, 1, 2, 64, glyph
t8_count equ ($ - t8) / ENTRY_SIZE

; ---- 640x480x32, pitch 2560 ----
P32 equ 2560
t32:
    BLT 2560, 480, P32, 0, 0, 0, 0xf0, 0x0d, 0x04, 0, 0x00202020, 0, 0, 0, 0, 0, 0
    BLT 32, 8, 32, 0, 0x300000, 0, 0x34, 0x0d, 0, 0, 0, 0, 0, 0, 1, 256, 0
    BLT 1200, 100, P32, 0, 20*P32 + 80, 0x300007, 0x70, 0x0d, 0, 1, 0, 0, 0, 1, 0, 0, 0
    BLT 128, 16, P32, 0, 150*P32 + 400, 0, 0xb4, 0x0d, 0, 0, 0x00ffffff, 0x000000ff, 0, 0, 2, 64, glyph
    BLT 8, 1, 8, 0, 0x300200, 0, 0x04, 0x0d, 0, 0, 0, 0, 0, 0, 2, 8, pat8
    BLT 800, 60, P32, 0, 250*P32 + 400, 0x300200, 0xf0, 0x0d, 0, 0, 0x00ff8000, 0x00102030, 0, 0, 0, 0, 0
t32_count equ ($ - t32) / ENTRY_SIZE

; Register programs: misc, then (port, index | value << 8) pairs, 0, the Hidden DAC.
; 640x480 timing (the VGA's 25 MHz mode 12h values), linear (SR07 bit 0).
%macro MODE_640 4                ; name, SR07, CR13 offset, CR1B
%1:
    db 0xe3
    dw 0x3c4, 0x1206, 0x3c4, 0x0300, 0x3c4, 0x0101, 0x3c4, 0x0f02, 0x3c4, 0x0003, 0x3c4, 0x0e04
    dw 0x3c4, (%2) << 8 | 0x07
    dw 0x3d4, 0x0c11, 0x3d4, 0x5f00, 0x3d4, 0x4f01, 0x3d4, 0x5002, 0x3d4, 0x8203, 0x3d4, 0x5404
    dw 0x3d4, 0x8005, 0x3d4, 0x0b06, 0x3d4, 0x3e07, 0x3d4, 0x0008, 0x3d4, 0x4009, 0x3d4, 0x000c
    dw 0x3d4, 0x000d, 0x3d4, 0xea10, 0x3d4, 0xdf12, 0x3d4, (%3) << 8 | 0x13, 0x3d4, 0x0014
    dw 0x3d4, 0xe715, 0x3d4, 0x0416, 0x3d4, 0xc317, 0x3d4, 0xff18, 0x3d4, 0x001a
    dw 0x3d4, (%4) << 8 | 0x1b, 0x3d4, 0x001d
    dw 0x3ce, 0x0000, 0x3ce, 0x0001, 0x3ce, 0x4005, 0x3ce, 0x0506, 0x3ce, 0x0f07, 0x3ce, 0xff08
    dw 0x3ce, 0x0009, 0x3ce, 0x000a, 0x3ce, 0x000b
    dw 0
    db 0x00
%endmacro
    MODE_640 regs_8, 0x11, 0x50, 0x22
    MODE_640 regs_32, 0x19, 0x40, 0x32

mode_info: times 256 db 0

SETUP_END
