; SPDX-License-Identifier: GPL-2.0-or-later
; drm-cursor: gives the first CRTC of /dev/dri/card0 a 64x64 hardware cursor through the
; kernel's legacy cursor ioctl (DRM_IOCTL_MODE_CURSOR2: a dumb buffer with a hot spot),
; for init-virtio.sh's cursor mode (virtio-gpu's cursor queue, SPICE's cursor channel).
; The picture: rows 0-31 opaque red, rows 32-63 opaque blue, columns 48-63 transparent
; (ARGB8888, premultiplied); the hot spot is (5, 9) and the cursor's hot spot goes to
; (200, 150). It prints "VIREO-CURSOR-SET crtc N" and then waits for ever: the cursor
; lives as long as the DRM file is open (closing it gives the CRTC back to the console).
; An i386 Linux ELF executable assembled as a flat file; it runs only inside the guest.
;   _IOWR('d', nr, size) = 0xC0000000 | size << 16 | 0x64 << 8 | nr (include/uapi/drm/drm.h)
bits 32
org 0x08048000
%include "elf32.inc"

ELF32_EXEC file_size, 7

IOCTL_GETRESOURCES equ 0xC04064A0   ; struct drm_mode_card_res, 64 bytes
IOCTL_CREATE_DUMB  equ 0xC02064B2   ; struct drm_mode_create_dumb, 32 bytes
IOCTL_MAP_DUMB     equ 0xC01064B3   ; struct drm_mode_map_dumb, 16 bytes
IOCTL_CURSOR2      equ 0xC02464BB   ; struct drm_mode_cursor2, 36 bytes

start:
    mov eax, 5                      ; open("/dev/dri/card0", O_RDWR)
    mov ebx, path
    mov ecx, 2
    xor edx, edx
    int 0x80
    test eax, eax
    js fail
    mov esi, eax
    ; The CRTC ids: crtc_id_ptr (offset 8) and count_crtcs (offset 36, room for 4).
    mov dword [res + 8], crtcs
    mov dword [res + 36], 4
    mov ecx, IOCTL_GETRESOURCES
    mov edx, res
    call drm_ioctl
    cmp dword [res + 36], 1
    jae .have_crtc
    mov eax, -19                    ; ENODEV: no CRTC
    jmp fail
.have_crtc:
    ; A 64x64 buffer of 32 bits per pixel: height, width, bpp; the handle comes back at 16.
    mov dword [dumb], 64
    mov dword [dumb + 4], 64
    mov dword [dumb + 8], 32
    mov ecx, IOCTL_CREATE_DUMB
    mov edx, dumb
    call drm_ioctl
    mov eax, [dumb + 16]
    mov [map], eax
    mov ecx, IOCTL_MAP_DUMB         ; the offset for mmap comes back at 8
    mov edx, map
    call drm_ioctl
    ; mmap2(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset in pages)
    mov ebp, [map + 8]
    shr ebp, 12
    mov eax, [map + 12]
    shl eax, 20
    or ebp, eax
    mov eax, 192
    xor ebx, ebx
    mov ecx, 64 * 64 * 4
    mov edx, 3
    push esi
    mov edi, esi
    mov esi, 1
    int 0x80
    pop esi
    cmp eax, -4096
    ja fail
    ; The picture, row by row.
    mov edi, eax
    xor edx, edx                    ; y
.row:
    mov ebx, 0xffff0000             ; red
    cmp edx, 32
    jb .colour
    mov ebx, 0xff0000ff             ; blue
.colour:
    xor ecx, ecx                    ; x
.pixel:
    mov eax, ebx
    cmp ecx, 48
    jb .store
    xor eax, eax                    ; transparent
.store:
    mov [edi], eax
    add edi, 4
    inc ecx
    cmp ecx, 64
    jb .pixel
    inc edx
    cmp edx, 64
    jb .row
    ; DRM_MODE_CURSOR_BO | DRM_MODE_CURSOR_MOVE on the first CRTC.
    mov dword [cursor], 3
    mov eax, [crtcs]
    mov [cursor + 4], eax
    mov dword [cursor + 8], 200 - 5 ; x and y: where the image's corner goes
    mov dword [cursor + 12], 150 - 9
    mov dword [cursor + 16], 64
    mov dword [cursor + 20], 64
    mov eax, [dumb + 16]
    mov [cursor + 24], eax
    mov dword [cursor + 28], 5      ; hot spot
    mov dword [cursor + 32], 9
    mov ecx, IOCTL_CURSOR2
    mov edx, cursor
    call drm_ioctl
    ; "VIREO-CURSOR-SET crtc N" with the CRTC id as one to three digits.
    mov eax, [crtcs]
    mov ebx, 10
    mov edi, digits + 3
.digit:
    xor edx, edx
    div ebx
    add dl, '0'
    dec edi
    mov [edi], dl
    test eax, eax
    jnz .digit
    mov eax, 4                      ; write(1, message)
    mov ebx, 1
    mov ecx, message
    mov edx, message_len
    int 0x80
    mov eax, 4                      ; the digits and the newline
    mov ebx, 1
    mov ecx, edi
    mov edx, digits + 4
    sub edx, edi
    int 0x80
.wait:
    mov eax, 29                     ; pause()
    int 0x80
    jmp .wait

; ecx = request, edx = its struct
drm_ioctl:
    mov eax, 54                     ; ioctl(fd, request, arg)
    mov ebx, esi
    int 0x80
    test eax, eax
    js fail
    ret

fail:
    neg eax
    mov ebx, eax                    ; exit(errno)
    mov eax, 1
    int 0x80

path:
    db "/dev/dri/card0", 0
message:
    db "VIREO-CURSOR-SET crtc "
message_len equ $ - message
    db 0, 0
digits:
    db 0, 0, 0, 10
align 8
res:
    times 64 db 0
crtcs:
    times 4 dd 0
dumb:
    times 32 db 0
map:
    times 16 db 0
cursor:
    times 36 db 0
file_size equ $ - $$
