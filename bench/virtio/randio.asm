; SPDX-License-Identifier: GPL-2.0-or-later
; randio: COUNT random 4 KiB O_DIRECT reads or writes within the first SPAN 4 KiB blocks
; of a block device, one request at a time, for bench/virtio/init-bench.sh (busybox dd
; would need a process per request, which would measure fork and exec instead). An i386
; Linux ELF executable assembled as a flat file; it runs only inside the guest.
;   randio DEVICE r|w COUNT SPAN     exit status 0, or 1 on a short or failed request
; The blocks come from a linear congruential generator with a fixed seed, so every run
; (and every emulator) sees the same sequence of offsets.
bits 32
BASE equ 0x08048000
org BASE
%include "elf32.inc"

O_RDWR equ 2
O_DIRECT equ 0x4000                 ; 040000 on i386
SYS_EXIT equ 1
SYS_OPEN equ 5
SYS_PREAD64 equ 180
SYS_PWRITE64 equ 181
BLOCK equ 4096

ELF32_EXEC mem_size, 7

start:
    cmp dword [esp], 5              ; argc: the program and four arguments
    jne fail
    mov esi, [esp + 12]             ; "r" or "w"
    movzx eax, byte [esi]
    mov [mode], eax
    mov esi, [esp + 16]
    call atoi
    mov [count], eax
    mov esi, [esp + 20]
    call atoi
    test eax, eax
    jz fail
    mov [span], eax
    mov eax, SYS_OPEN               ; open(DEVICE, O_RDWR | O_DIRECT)
    mov ebx, [esp + 8]
    mov ecx, O_RDWR | O_DIRECT
    xor edx, edx
    int 0x80
    test eax, eax
    js fail
    mov [fd], eax
    mov edi, buf                    ; data written: a non-zero pattern
    mov ecx, BLOCK / 4
    mov eax, 0x5a5aa5a5
    rep stosd
.next:
    cmp dword [count], 0
    je .done
    dec dword [count]
    mov eax, [seed]                 ; seed = seed * 1103515245 + 12345
    mov ecx, 1103515245
    mul ecx
    add eax, 12345
    mov [seed], eax
    shr eax, 8                      ; block = (seed >> 8) % span
    xor edx, edx
    div dword [span]
    mov esi, edx                    ; offset = block * 4096, low and high words
    mov edi, edx
    shl esi, 12
    shr edi, 20
    mov eax, SYS_PREAD64
    cmp byte [mode], 'w'
    jne .io
    mov eax, SYS_PWRITE64
.io:
    mov ebx, [fd]                   ; pread64/pwrite64(fd, buf, 4096, offset)
    mov ecx, buf
    mov edx, BLOCK
    int 0x80
    cmp eax, BLOCK
    jne fail
    jmp .next
.done:
    mov eax, SYS_EXIT
    xor ebx, ebx
    int 0x80

; esi = a decimal string; eax = its value
atoi:
    xor eax, eax
.digit:
    movzx ecx, byte [esi]
    sub ecx, '0'
    cmp ecx, 9
    ja .end
    imul eax, eax, 10
    add eax, ecx
    inc esi
    jmp .digit
.end:
    ret

fail:
    mov eax, SYS_EXIT
    mov ebx, 1
    int 0x80

seed: dd 20261205
mode: dd 0
count: dd 0
span: dd 0
fd: dd 0
file_size equ $ - $$
buf_offset equ (file_size + BLOCK - 1) & ~(BLOCK - 1)
buf equ BASE + buf_offset
mem_size equ buf_offset + BLOCK
