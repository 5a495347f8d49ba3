; SPDX-License-Identifier: GPL-2.0-or-later
; A Multiboot v1 test kernel. Built two ways from this file: a flat binary using the
; header's address fields (the "a.out kludge"), and an ELF file (-DELF). It checks the
; boot state the specification promises, prints what the loader passed on COM1 (the
; command line, memory size, first module) and ends through isa-debug-exit.

%define COM1 0x3f8
MB_MAGIC  equ 0x1badb002
%ifdef ELF
MB_FLAGS  equ 0x00000003        ; page-aligned modules, memory information
%else
MB_FLAGS  equ 0x00010003        ; ... and the address fields below
%endif
LOAD_ADDR equ 0x00100000

bits 32
%ifndef ELF
org LOAD_ADDR
%endif
section .text

mb_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)
%ifndef ELF
    dd mb_header                ; header_addr
    dd LOAD_ADDR                ; load_addr
    dd load_end                 ; load_end_addr
    dd bss_end                  ; bss_end_addr
    dd start                    ; entry_addr
%endif

global start
start:
    cmp eax, 0x2badb002
    jne fail_magic
    mov esp, stack_top
    mov [info], ebx
    ; Protected mode with paging off (Multiboot 3.2).
    mov eax, cr0
    and eax, 0x80000001
    cmp eax, 1
    jne fail_mode

    call serial_init
    mov esi, msg_hello
    call puts
    mov ebx, [info]
    test dword [ebx], 1 << 2    ; command line present
    jz fail_info
    mov esi, msg_cmdline
    call puts
    mov esi, [ebx + 16]
    call puts
    call newline

    test dword [ebx], 1         ; mem_lower / mem_upper
    jz fail_info
    mov esi, msg_mem
    call puts
    mov eax, [ebx + 8]
    add eax, 1024               ; mem_upper starts at 1 MiB
    shr eax, 10
    call print_dec
    mov esi, msg_mib
    call puts

    test dword [ebx], 1 << 6    ; memory map
    jz fail_info
    ; The untouched tail of the bss must be zero (the loader clears up to bss_end_addr).
    mov ecx, bss_end
    sub ecx, zero_area
    mov edi, zero_area
    xor eax, eax
    repe scasb
    jne fail_bss

    mov esi, msg_mods
    call puts
    mov eax, [ebx + 20]
    call print_dec
    call newline
    cmp dword [ebx + 20], 0
    je .done
    mov edx, [ebx + 24]         ; first module: start, end, string
    mov esi, msg_mod
    call puts
    mov esi, [edx + 8]
    call puts
    mov esi, msg_colon
    call puts
    mov esi, [edx]
    mov ecx, [edx + 4]
    sub ecx, esi
    cmp ecx, 16
    jbe .copy
    mov ecx, 16
.copy:                          ; print up to 16 bytes of the module, stop at newline
    lodsb
    cmp al, 10
    je .mod_end
    call putc
    loop .copy
.mod_end:
    call newline
    test dword [edx], 0xfff     ; page aligned as flag 0 asked
    jnz fail_info
.done:
    mov al, 0x10
    out 0xf4, al
    hlt

fail_magic:
    mov esp, stack_top
    mov esi, msg_fail_magic
    jmp fail
fail_mode:
    mov esi, msg_fail_mode
    jmp fail
fail_info:
    mov esi, msg_fail_info
    jmp fail
fail_bss:
    mov esi, msg_fail_bss
fail:
    call puts
    mov al, 0x11
    out 0xf4, al
    hlt

; 115200 8N1: the UART comes out of reset with 5-bit words, and firmware may not set it.
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
    push eax
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop eax
    ret

newline:
    push eax
    mov al, 10
    call putc
    pop eax
    ret

print_dec:
    push ebx
    push ecx
    push edx
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
    pop edx
    pop ecx
    pop ebx
    ret

msg_hello:      db "multiboot: hello", 10, 0
msg_cmdline:    db "multiboot: cmdline=", 0
msg_mem:        db "multiboot: memory=", 0
msg_mib:        db " MiB", 10, 0
msg_mods:       db "multiboot: modules=", 0
msg_mod:        db "multiboot: module ", 0
msg_colon:      db ": ", 0
msg_fail_magic: db "FAIL: bad boot magic in EAX", 10, 0
msg_fail_mode:  db "FAIL: not in protected mode without paging", 10, 0
msg_fail_info:  db "FAIL: Multiboot information incomplete", 10, 0
msg_fail_bss:   db "FAIL: bss not cleared", 10, 0

align 4
load_end:
section .bss
bss_start:
info:       resd 1
            resb 4096
stack_top:
zero_area:  resb 256                ; never written: must read back as zero
bss_end:
