; SPDX-License-Identifier: GPL-2.0-or-later
; A Multiboot kernel (ELF, with symbols) for the gdb stub test, tests/guests/gdb.py. It
; turns on paging with a second mapping of its first 4 MiB at ALIAS, puts known values
; in ST0 and XMM0, calls tick five times, stores a value into watched, then spins until
; the debugger writes release, and reports counter on COM1 before isa-debug-exit.

%define COM1 0x3f8
MB_MAGIC  equ 0x1badb002
MB_FLAGS  equ 0x00000003        ; page-aligned modules, memory information
ALIAS     equ 0x40000000        ; virtual alias of physical 0-4 MiB

bits 32
section .text

mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

global start, tick, after_inc, after_store, spin, spin_body
global counter, watched, release, boot_cs, spins, xmm_pattern
start:
    mov esp, stack_top
    mov [boot_cs], cs
    ; 4 MiB pages (CR4.PSE): directory entries 0 and ALIAS >> 22 both map 0-4 MiB.
    mov dword [page_dir], 0x83
    mov dword [page_dir + (ALIAS >> 22) * 4], 0x83
    mov eax, cr4
    or eax, (1 << 4) | (1 << 9)  ; PSE, OSFXSR
    mov cr4, eax
    mov eax, page_dir
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    and eax, ~(1 << 2)           ; EM clear: x87 and SSE run
    mov cr0, eax

    fninit
    fld1
    movdqu xmm0, [xmm_pattern]

    call serial_init
    mov esi, msg_hello
    call puts
    mov ecx, 5
.calls:
    call tick
    loop .calls
    mov dword [watched], 0x1234abcd
after_store:
    nop
spin:
    mov eax, [release]
spin_body:
    add dword [spins], 1
    test eax, eax
    jz spin

    mov esi, msg_released
    call puts
    mov eax, [counter]
    call print_dec
    mov al, 10
    call putc
    mov al, 0x10
    out 0xf4, al
    hlt

tick:
    inc dword [counter]
after_inc:
    ret

; 115200 8N1
serial_init:
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    ret

putc:
    push edx
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    pop edx
    ret

puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret

print_dec:
    mov ebx, 10
    xor ecx, ecx
.div:
    xor edx, edx
    div ebx
    push edx
    inc ecx
    test eax, eax
    jnz .div
.emit:
    pop eax
    add al, '0'
    call putc
    loop .emit
    ret

section .data
align 16
xmm_pattern: dd 0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00
counter:    dd 0
watched:    dd 0
release:    dd 0
boot_cs:    dd 0
spins:      dd 0
msg_hello:  db "gdb-kernel: running", 10, 0
msg_released: db "gdb-kernel: released, counter=", 0

section .bss
alignb 4096
page_dir:   resb 4096
            resb 4096
stack_top:
