; SPDX-License-Identifier: GPL-2.0-or-later
; The SPICE frame-rate benchmark's guest (bench/spice/run.py): under SeaBIOS, finds the
; VBE mode 1024x768 with 32 bits per pixel and a linear frame buffer (VBE 2.0: 4F00h,
; 4F01h), sets it (4F02h), switches to "unreal" mode (a 4 GiB data segment limit kept
; in FS after a trip to protected mode) and then fills the whole screen with a new
; colour as fast as it can, for ever: every frame a client can get is a full update.
%include "guest.inc"
%include "setup.inc"

VBE_INFO equ 0x2000             ; offsets in the image's segment (0x1000)
MODE_INFO equ 0x2400

SETUP_START
setup_main:
    mov dword [VBE_INFO], "VBE2"
    mov ax, 0x4f00
    mov di, VBE_INFO
    int 0x10
    cmp ax, 0x004f
    jne fail
    lfs si, [VBE_INFO + 14]     ; the mode list
.mode:
    mov cx, [fs:si]
    cmp cx, 0xffff
    je fail
    add si, 2
    mov ax, 0x4f01
    mov di, MODE_INFO
    int 0x10
    cmp ax, 0x004f
    jne .mode
    cmp word [MODE_INFO + 18], 1024
    jne .mode
    cmp word [MODE_INFO + 20], 768
    jne .mode
    cmp byte [MODE_INFO + 25], 32
    jne .mode
    test byte [MODE_INFO], 0x80 ; linear frame buffer available
    jz .mode
    mov bx, cx
    or bx, 0x4000               ; with the linear frame buffer
    mov ax, 0x4f02
    int 0x10
    cmp ax, 0x004f
    jne fail
    PRINTLN "REDRAW: 1024x768x32 set"
    ; unreal mode: FS with a 4 GiB limit, back in real mode
    cli
    xor eax, eax
    mov ax, cs
    shl eax, 4
    add eax, gdt
    mov [gdtr + 2], eax
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp short .pm
.pm:
    mov bx, 8
    mov fs, bx
    and al, 0xfe
    mov cr0, eax
    jmp short .rm
.rm:
    xor ax, ax
    mov fs, ax
    sti
    mov edi, [MODE_INFO + 40]   ; PhysBasePtr
    xor edx, edx                ; the colour
.frame:
    add edx, 0x00030507
    mov esi, edi
    mov ecx, 1024 * 768
.px:
    mov [fs:esi], edx
    add esi, 4
    dec ecx
    jnz .px
    jmp .frame

fail:
    PRINTLN "REDRAW: no 1024x768x32 linear VBE mode"
    EXIT EXIT_FAIL

align 8
gdt:
    dq 0
    dq 0x008f92000000ffff       ; data, base 0, limit 4 GiB (G=1), writable
gdtr:
    dw 15
    dd 0
SETUP_END
