; SPDX-License-Identifier: GPL-2.0-or-later
; Plays four known tones, each followed by 300 ms of silence, for tests/guests/sound.py
; to find in the recording:
;   1. the PC speaker: PIT counter 2 in mode 3 with count 1356 (879.9 Hz), 600 ms;
;   2. SB16 8-bit unsigned mono single-cycle DMA (command 0x14, time constant 206:
;      20000 Hz): eight 100 ms blocks of a 1000 Hz square wave of +-64, each started
;      from the interrupt of the one before;
;   3. SB16 8-bit signed mono auto-init DMA (0xC6 at 11025 Hz): a 200 ms buffer of a
;      500 Hz sine of amplitude 100, four blocks, then 0xDA (exit auto-init) ends it
;      after the fifth;
;   4. SB16 16-bit signed stereo auto-init DMA (0xB6 at 44100 Hz, 16-bit channel 5):
;      100 ms of 1000 Hz left and 500 Hz right sines of amplitude 16000, interrupts
;      every half buffer; sixteen of them, then 0xD9 ends it after the seventeenth.
;   5. SB16 recording: the line input at 0 dB into both input mixers, 500 ms of 16-bit
;      signed mono at 22050 Hz recorded by single-cycle DMA (0xB8) into memory filled
;      with a marker first, then played back (0xB0). sound.py gives the audiodev a
;      700 Hz tone as its input and finds it again in the output; without an input
;      the playback is silence.
; Master and voice volume are set to 0 dB first. The guest checks the DSP's answers
; (reset, version, mixer read-back, interrupt status) and prints them.
%include "guest.inc"

GUEST_START
guest_main:
    call sound_init
    mov cx, 100
    call wait_ms

    ; ---- 1. PC speaker ----
    mov al, 0xb6                ; counter 2, LSB then MSB, mode 3
    out 0x43, al
    mov ax, 1356
    out 0x42, al
    mov al, ah
    out 0x42, al
    in al, 0x61
    or al, 0x03                 ; GATE2 and speaker data
    out 0x61, al
    mov cx, 600
    call wait_ms
    in al, 0x61
    and al, 0xfc
    out 0x61, al
    PRINTLN "speaker: 880 Hz played"
    mov cx, 300
    call wait_ms

    ; ---- The DSP ----
    call dsp_reset
    mov al, 0xe1
    call dsp_write
    call dsp_read
    mov bh, al
    call dsp_read
    mov bl, al
    PRINT "SB16 DSP version "
    mov al, bh
    call print_hex8
    mov al, '.'
    call putc
    mov al, bl
    call print_hex8
    call newline
    cmp bx, 0x0405
    CHECK e, "DSP version is not 4.05"
    mov al, 0xe0                ; identification: the complement of the byte
    call dsp_write
    mov al, 0x5a
    call dsp_write
    call dsp_read
    cmp al, 0xa5
    CHECK e, "DSP identification 0xE0 wrong"
    ; Mixer: 0 dB master and voice, then the SB Pro view of master and the resources.
    mov ah, 0x30
    mov al, 0xf8
    call mixer_write
    mov ah, 0x31
    call mixer_write
    mov ah, 0x32
    call mixer_write
    mov ah, 0x33
    call mixer_write
    mov ah, 0x22
    call mixer_read
    cmp al, 0xff
    CHECK e, "mixer 0x22 does not show 0x30/0x31"
    mov ah, 0x80
    call mixer_read
    cmp al, 0x02
    CHECK e, "mixer 0x80 does not say IRQ 5"
    mov ah, 0x81
    call mixer_read
    cmp al, 0x22
    CHECK e, "mixer 0x81 does not say DMA 1 and 5"
    PRINTLN "mixer: IRQ 5, DMA 1 and 5"
    mov al, 0xd1                ; speaker on
    call dsp_write
    mov al, 0xd8
    call dsp_write
    call dsp_read
    cmp al, 0xff
    CHECK e, "speaker status not on"
    ; 0xF2 raises the 8-bit interrupt.
    mov al, 0xf2
    call dsp_write
    mov cx, 5
    call wait_ms
    cmp word [es:SBIRQS], 1
    CHECK e, "0xF2 gave no IRQ 5"
    test byte [es:SBSTAT], 0x01
    CHECK nz, "0xF2: mixer 0x82 bit 0 not set"
    mov word [es:SBIRQS], 0
    mov byte [es:SBSTAT], 0

    ; ---- 2. 8-bit single-cycle, 20000 Hz ----
    ; 2000 bytes at 1000:0000: ten samples of 0xC0, ten of 0x40.
    push es
    mov ax, 0x1000
    mov es, ax
    xor di, di
    mov cx, 100
.sq:
    push cx
    mov al, 0xc0
    mov cx, 10
    rep stosb
    mov al, 0x40
    mov cx, 10
    rep stosb
    pop cx
    loop .sq
    pop es
    mov al, 0x40
    call dsp_write
    mov al, 206                 ; 256 - 1000000 / 20000
    call dsp_write
    mov si, 8
.block:
    ; 8237 channel 1: single mode, memory to device, 2000 bytes from 0x10000.
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
    mov ax, 1999
    out 0x03, al
    mov al, ah
    out 0x03, al
    mov al, 0x01
    out 0x0a, al
    mov bx, [es:SBIRQS]
    mov al, 0x14
    call dsp_write
    mov al, 1999 & 0xff
    call dsp_write
    mov al, 1999 >> 8
    call dsp_write
.wait_block:
    hlt
    cmp [es:SBIRQS], bx
    je .wait_block
    dec si
    jnz .block
    PRINTLN "sb16: 8 single-cycle blocks"
    mov cx, 300
    call wait_ms

    ; ---- 3. 8-bit signed auto-init, 11025 Hz ----
    mov dword [es:FREQ], 500
    mov dword [es:RATE], 11025
    mov dword [es:AMP], 100
    mov ax, 0x1000
    mov gs, ax
    xor di, di
    mov bx, 1
    mov cx, 2205
    call gen_sine8
    mov al, 0x05
    out 0x0a, al
    out 0x0c, al
    mov al, 0x59                ; auto-init, memory to device, channel 1
    out 0x0b, al
    xor al, al
    out 0x02, al
    out 0x02, al
    mov al, 0x01
    out 0x83, al
    mov ax, 2204
    out 0x03, al
    mov al, ah
    out 0x03, al
    mov al, 0x01
    out 0x0a, al
    mov al, 0x41
    call dsp_write
    mov al, 11025 >> 8
    call dsp_write
    mov al, 11025 & 0xff
    call dsp_write
    mov word [es:SBIRQS], 0
    mov al, 0xc6                ; 8-bit, D/A, auto-init, FIFO
    call dsp_write
    mov al, 0x10                ; mono, signed
    call dsp_write
    mov al, 2204 & 0xff
    call dsp_write
    mov al, 2204 >> 8
    call dsp_write
.wait_ai8:
    hlt
    cmp word [es:SBIRQS], 4
    jb .wait_ai8
    mov al, 0xda                ; exit auto-init after this block
    call dsp_write
.wait_ai8_end:
    hlt
    cmp word [es:SBIRQS], 5
    jb .wait_ai8_end
    mov cx, 300
    call wait_ms
    cmp word [es:SBIRQS], 5
    CHECK e, "8-bit auto-init went on after 0xDA"
    PRINTLN "sb16: 8-bit auto-init stopped by 0xDA"

    ; ---- 4. 16-bit signed stereo auto-init, 44100 Hz ----
    mov ax, 0x2000
    mov gs, ax
    mov dword [es:RATE], 44100
    mov dword [es:AMP], 16000
    mov dword [es:FREQ], 1000
    xor di, di
    mov bx, 4
    mov cx, 4410
    call gen_sine16
    mov dword [es:FREQ], 500
    mov di, 2
    mov cx, 4410
    call gen_sine16
    ; 8237 channel 5 (second controller, channel 1): words from 0x20000.
    mov al, 0x05
    out 0xd4, al
    out 0xd8, al
    mov al, 0x59
    out 0xd6, al
    xor al, al
    out 0xc4, al
    out 0xc4, al
    mov al, 0x02
    out 0x8b, al
    mov ax, 8819                ; 4410 frames x 2 words - 1
    out 0xc6, al
    mov al, ah
    out 0xc6, al
    mov al, 0x01
    out 0xd4, al
    mov al, 0x41
    call dsp_write
    mov al, 44100 >> 8
    call dsp_write
    mov al, 44100 & 0xff
    call dsp_write
    mov word [es:SBIRQS], 0
    mov byte [es:SBSTAT], 0
    mov al, 0xb6                ; 16-bit, D/A, auto-init, FIFO
    call dsp_write
    mov al, 0x30                ; stereo, signed
    call dsp_write
    mov al, 4409 & 0xff         ; half the buffer: 2205 frames = 4410 samples
    call dsp_write
    mov al, 4409 >> 8
    call dsp_write
.wait_ai16:
    hlt
    cmp word [es:SBIRQS], 16
    jb .wait_ai16
    mov al, 0xd9
    call dsp_write
.wait_ai16_end:
    hlt
    cmp word [es:SBIRQS], 17
    jb .wait_ai16_end
    test byte [es:SBSTAT], 0x02
    CHECK nz, "16-bit interrupt not in mixer 0x82 bit 1"
    mov cx, 300
    call wait_ms
    cmp word [es:SBIRQS], 17
    CHECK e, "16-bit auto-init went on after 0xD9"
    PRINTLN "sb16: 16-bit stereo auto-init stopped by 0xD9"

    ; ---- 5. recording ----
    mov ah, 0x38                ; line level 0 dB, left and right
    mov al, 0xf8
    call mixer_write
    mov ah, 0x39
    call mixer_write
    mov ah, 0x3d                ; left input mixer: line left
    mov al, 0x10
    call mixer_write
    mov ah, 0x3e                ; right input mixer: line right
    mov al, 0x08
    call mixer_write
    mov ah, 0x3d
    call mixer_read
    cmp al, 0x10
    CHECK e, "mixer 0x3D (input switches) does not read back"
    ; the buffer at 0x20000 holds a marker the recording must overwrite
    push es
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov cx, REC_SAMPLES
    mov ax, 0x7ffe
    rep stosw
    pop es
    mov al, 0x45                ; single, device to memory, channel 5
    call dma5_setup
    mov al, 0x42                ; input rate
    call dsp_write
    mov al, 22050 >> 8
    call dsp_write
    mov al, 22050 & 0xff
    call dsp_write
    mov word [es:SBIRQS], 0
    mov al, 0xb8                ; 16-bit, A/D, single-cycle
    call dsp_write
    mov al, 0x10                ; mono, signed
    call dsp_write
    mov al, (REC_SAMPLES - 1) & 0xff
    call dsp_write
    mov al, (REC_SAMPLES - 1) >> 8
    call dsp_write
.wait_rec:
    hlt
    cmp word [es:SBIRQS], 1
    jb .wait_rec
    ; the last sample written by the card: the marker is gone from the whole buffer
    push es
    mov ax, 0x2000
    mov es, ax
    cmp word [es:(REC_SAMPLES - 1) * 2], 0x7ffe
    pop es
    CHECK ne, "the recording did not reach the end of the buffer"
    PRINTLN "sb16: recorded 500 ms through 16-bit DMA; playing it back"
    mov al, 0x49                ; single, memory to device, channel 5
    call dma5_setup
    mov al, 0x41
    call dsp_write
    mov al, 22050 >> 8
    call dsp_write
    mov al, 22050 & 0xff
    call dsp_write
    mov word [es:SBIRQS], 0
    mov al, 0xb0                ; 16-bit, D/A, single-cycle
    call dsp_write
    mov al, 0x10
    call dsp_write
    mov al, (REC_SAMPLES - 1) & 0xff
    call dsp_write
    mov al, (REC_SAMPLES - 1) >> 8
    call dsp_write
.wait_play:
    hlt
    cmp word [es:SBIRQS], 1
    jb .wait_play
    mov cx, 300
    call wait_ms
    PRINTLN "sb16: recording played back"
    EXIT EXIT_PASS

REC_SAMPLES equ 11025

; 8237 channel 5 in mode AL for REC_SAMPLES words at 0x20000.
dma5_setup:
    push ax
    mov al, 0x05
    out 0xd4, al
    out 0xd8, al
    pop ax
    out 0xd6, al
    xor al, al
    out 0xc4, al
    out 0xc4, al
    mov al, 0x02
    out 0x8b, al
    mov ax, REC_SAMPLES - 1
    out 0xc6, al
    mov al, ah
    out 0xc6, al
    mov al, 0x01
    out 0xd4, al
    ret

%include "sound.inc"

GUEST_END
