; SPDX-License-Identifier: GPL-2.0-or-later
; A guest that programs the SB16 badly, for tests/guests/sound.py: DMA from addresses
; outside RAM (the test runs with -m 16, so page 0xFF is 0xFF0000 and beyond), absurd
; rates and lengths, every DSP command byte with arbitrary parameters, every mixer
; register written with 0xFF. The emulator must survive with bounded memory, and the
; card must still work afterwards: a reset answers, the version is right, and a
; transfer that waits for a masked DMA channel holds DREQ and ends only once the
; channel is unmasked.
%include "guest.inc"

GUEST_START
guest_main:
    call sound_init
    call dsp_reset

    ; Absurd rates: 0x41 with 65535 Hz, then a time constant of 255 (1 MHz).
    mov al, 0x41
    call dsp_write
    mov al, 0xff
    call dsp_write
    call dsp_write
    ; 8-bit auto-init from 0xFF0000, 4096 bytes per block (clamped to 45 kHz: 91 ms).
    mov al, 0x05
    out 0x0a, al
    out 0x0c, al
    mov al, 0x59
    out 0x0b, al
    xor al, al
    out 0x02, al
    out 0x02, al
    mov al, 0xff
    out 0x83, al
    mov al, 0xff
    out 0x03, al
    out 0x03, al
    mov al, 0x01
    out 0x0a, al
    mov word [es:SBIRQS], 0
    mov al, 0xc6
    call dsp_write
    mov al, 0x30                ; stereo, signed
    call dsp_write
    mov al, 0xff
    call dsp_write
    mov al, 0x0f
    call dsp_write
.wait8:
    hlt
    cmp word [es:SBIRQS], 2
    jb .wait8
    PRINTLN "hostile: 8-bit DMA outside RAM ran"

    ; 16-bit auto-init from 0xFE0000 on channel 5 with the largest DMA count.
    mov al, 0x40
    call dsp_write
    mov al, 0xff                ; time constant 255
    call dsp_write
    mov al, 0x05
    out 0xd4, al
    out 0xd8, al
    mov al, 0x59
    out 0xd6, al
    mov al, 0xff
    out 0xc4, al
    out 0xc4, al
    mov al, 0xfe
    out 0x8b, al
    mov al, 0xff
    out 0xc6, al
    out 0xc6, al
    mov al, 0x01
    out 0xd4, al
    mov word [es:SBIRQS], 0
    mov al, 0xb6
    call dsp_write
    mov al, 0x30
    call dsp_write
    mov al, 0xff
    call dsp_write
    mov al, 0x1f
    call dsp_write
.wait16:
    hlt
    cmp word [es:SBIRQS], 1
    jb .wait16
    PRINTLN "hostile: 16-bit DMA outside RAM ran"

    ; Every command byte, each followed by three 0xFF parameter bytes (commands
    ; that take fewer read the rest as new commands: 0xFF is none).
    xor bx, bx
.cmd:
    mov al, bl
    cmp al, 0xe3                ; the copyright text would only fill the output FIFO
    je .skip
    call dsp_write
    mov al, 0xff
    call dsp_write
    call dsp_write
    call dsp_write
.skip:
    inc bl
    jnz .cmd
    ; Every mixer register with 0xFF.
    xor bx, bx
.mix:
    mov ah, bl
    mov al, 0xff
    call mixer_write
    inc bl
    jnz .mix
    mov cx, 200
    call wait_ms
    PRINTLN "hostile: all commands and mixer registers written"

    ; The card recovers: the mixer reset gives -14 dB master, IRQ 5 and DMA 1/5 stay
    ; as the guest set them (0xFF: the valid bits), the DSP resets.
    mov ah, 0x00
    mov al, 0x00
    call mixer_write
    mov ah, 0x30
    call mixer_read
    cmp al, 0xc0
    CHECK e, "mixer reset did not restore master volume"
    mov ah, 0x80
    mov al, 0x02
    call mixer_write
    mov ah, 0x81
    mov al, 0x22
    call mixer_write
    ; Drain the output FIFO, then reset.
    mov cx, 100
.drain:
    mov dx, SB + 0xe
    in al, dx
    test al, 0x80
    jz .drained
    mov dx, SB + 0xa
    in al, dx
    loop .drain
.drained:
    call dsp_reset
    mov al, 0xe1
    call dsp_write
    call dsp_read
    cmp al, 4
    CHECK e, "DSP version lost after the hostile commands"
    call dsp_read

    ; A single-cycle transfer on a masked channel waits: DREQ 1 shows in the first
    ; 8237's status (bit 5) and no interrupt comes; unmasking lets it finish.
    mov al, 0x40
    call dsp_write
    mov al, 206
    call dsp_write
    mov al, 0x05
    out 0x0a, al
    out 0x0c, al
    mov al, 0x49
    out 0x0b, al
    xor al, al
    out 0x02, al
    out 0x02, al
    mov al, 0x01
    out 0x83, al
    mov ax, 199
    out 0x03, al
    mov al, ah
    out 0x03, al
    mov word [es:SBIRQS], 0
    mov al, 0x14
    call dsp_write
    mov al, 199
    call dsp_write
    xor al, al
    call dsp_write
    mov cx, 50
    call wait_ms
    in al, 0x08
    test al, 0x20
    CHECK nz, "no DREQ 1 while the channel is masked"
    cmp word [es:SBIRQS], 0
    CHECK e, "transfer ended without DMA"
    mov al, 0x01
    out 0x0a, al
    mov cx, 50
    call wait_ms
    cmp word [es:SBIRQS], 1
    CHECK e, "transfer did not end after unmasking"
    in al, 0x08
    test al, 0x20
    CHECK z, "DREQ 1 still held after the transfer"
    PRINTLN "hostile: DSP recovered; DREQ waits for the channel"
    EXIT EXIT_PASS

%include "sound.inc"

GUEST_END
