; SPDX-License-Identifier: GPL-2.0-or-later
; oss-unmute: sets the OSS mixer's master and PCM volume to 100% through /dev/mixer, for
; init-sound.sh (ALSA loads a card muted and busybox has no mixer). Master must exist; a
; card without a PCM control (HD Audio's generic codec driver has only Master for a
; single line out) is fine. With an argument ("oss-unmute capture") it also sets the
; input gain (SOUND_MIXER_IGAIN 12, ALSA's "Capture" control) to 100% and so unmutes
; recording (HD Audio's generic driver loads the ADC's amplifier muted). An i386 Linux ELF
; executable assembled as a flat file; it runs only inside the guest.
;   MIXER_WRITE(n) = _IOWR('M', n, int): SOUND_MIXER_VOLUME is 0, SOUND_MIXER_PCM 4.
bits 32
org 0x08048000
%include "elf32.inc"

ELF32_EXEC file_size, 5

start:
    mov eax, 5                      ; open("/dev/mixer", O_RDWR)
    mov ebx, path
    mov ecx, 2
    xor edx, edx
    int 0x80
    test eax, eax
    js fail
    mov esi, eax
    push dword 0x6464               ; left 100, right 100
    mov ecx, 0xc0044d00             ; MIXER_WRITE(SOUND_MIXER_VOLUME)
    call mixer_write
    mov dword [esp], 0x6464
    mov eax, 54                     ; ioctl(fd, MIXER_WRITE(SOUND_MIXER_PCM), &value)
    mov ebx, esi
    mov ecx, 0xc0044d04
    mov edx, esp
    int 0x80
    cmp dword [esp + 4], 2          ; argc (below the pushed value): any argument
    jb .done
    mov dword [esp], 0x6464         ; MIXER_WRITE(SOUND_MIXER_IGAIN): "Capture" to 100%,
    mov ecx, 0xc0044d0c             ; which also turns its switch on
    call mixer_write
.done:
    mov eax, 1                      ; exit(0)
    xor ebx, ebx
    int 0x80

; ecx = request, the value at [esp + 4]
mixer_write:
    mov eax, 54                     ; ioctl(fd, request, &value)
    mov ebx, esi
    lea edx, [esp + 4]
    int 0x80
    test eax, eax
    js fail
    ret

fail:
    mov eax, 1                      ; exit(1)
    mov ebx, 1
    int 0x80

path:
    db "/dev/mixer", 0
file_size equ $ - $$
