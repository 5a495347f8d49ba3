; SPDX-License-Identifier: GPL-2.0-or-later
; The OPL3 FM synthesizer for tests/guests/sound.py --mode opl3, run with both
; -device adlib (0x388) and -device sb16 (FM at 0x220-0x223 and 0x228-0x229):
;   - AdLib detection as drivers do it, on each chip: timers masked and flags reset,
;     status 0x00; timer 1 preset 0xFF, started; after a tick the status is 0xC0;
;     at 0x388 the wait is 2 ms of the PIT, at 0x220 and 0x228 it is 100 reads of the
;     status port (the drivers' way: about 100 us of ISA bus cycles);
;   - five notes, each 600 ms then 300 ms of silence, a sine on channel 0 made of an
;     additive pair whose first operator never attacks (AR 0) and whose second has
;     attack 15, sustain held at 0 dB, release 15:
;       1. 0x388, F-number 580 block 4 (440.0 Hz), TL 0
;       2. 0x388, F-number 580 block 5 (880.0 Hz), TL 8 (-6 dB)
;       3. 0x220, 440 Hz, TL 0
;       4. 0x220, 880 Hz, TL 8
;       5. 0x222/0x223 (bank 1) in OPL3 mode (NEW = 1): channel 9, F-number 435
;          block 5 (660.0 Hz), TL 4 (-3 dB), left output only (C0 = 0x11).
; The SB16 mixer's master and FM levels are set to 0 dB first.
%include "guest.inc"

GUEST_START
guest_main:
    call sound_init
    call dsp_reset
    mov ax, 0x30f8              ; master, FM (MIDI) left and right at 0 dB
    call mixer_write
    mov ax, 0x31f8
    call mixer_write
    mov ax, 0x34f8
    call mixer_write
    mov ax, 0x35f8
    call mixer_write

    ; ---- Detection ----
    mov word [es:SPIN], 0
    mov dx, 0x388
    call fm_detect
    PRINTLN "fm: AdLib at 0x388 detected (status 00 then C0), an OPL3"
    mov word [es:SPIN], 100
    mov dx, SB
    call fm_detect
    PRINTLN "fm: SB16 FM at 0x220 detected (status 00 then C0), an OPL3"
    mov dx, SB + 8
    call fm_detect
    PRINTLN "fm: SB16 FM at 0x228 detected"
    mov cx, 100
    call wait_ms

    ; ---- Notes ----
    mov word [es:PAN], 0x31
    mov dx, 0x388
    mov bx, 580 | 4 << 10
    mov al, 0
    call fm_note
    mov bx, 580 | 5 << 10
    mov al, 8
    call fm_note
    PRINTLN "fm: two notes at 0x388"
    mov dx, SB
    mov bx, 580 | 4 << 10
    mov al, 0
    call fm_note
    mov bx, 580 | 5 << 10
    mov al, 8
    call fm_note
    PRINTLN "fm: two notes at 0x220"

    ; OPL3 mode: NEW in 0x105, then the note on bank 1's channel 0, left only.
    mov dx, SB + 2
    mov ax, 0x0501
    call fm_write
    mov dx, SB
    in al, dx
    test al, 0x06
    CHECK z, "OPL3 status bits 1-2 set"
    mov dx, SB + 2
    mov word [es:PAN], 0x11
    mov bx, 435 | 5 << 10
    mov al, 4
    call fm_note
    mov word [es:PAN], 0x31
    mov ax, 0x0500
    call fm_write
    PRINTLN "fm: OPL3 note on bank 1, left"
    EXIT EXIT_PASS

PAN equ 0x0530                  ; word: C0 value of the note (pan bits, additive)
SPIN equ 0x0532                 ; word: fm_detect waits this many status reads (0: 2 ms)

; ah = register, al = value, dx = the address port. The delays a real driver makes
; (3.3 us after the address, 23 us after the data) as ISA reads of port 0x80.
fm_write:
    push cx
    push ax
    xchg al, ah
    out dx, al
    mov cx, 6
.d1:
    in al, 0x80
    loop .d1
    inc dx
    mov al, ah
    out dx, al
    dec dx
    mov cx, 35
.d2:
    in al, 0x80
    loop .d2
    pop ax
    pop cx
    ret

; The detection of the AdLib programming guide at address port dx.
fm_detect:
    mov ax, 0x0460              ; mask both timers
    call fm_write
    mov ax, 0x0480              ; reset the flags
    call fm_write
    in al, dx
    mov bl, al
    mov ax, 0x02ff              ; timer 1: one tick to overflow
    call fm_write
    mov ax, 0x0421              ; timer 1 started, timer 2 masked
    call fm_write
    mov cx, [es:SPIN]
    jcxz .pit
.spin:
    in al, dx
    loop .spin
    jmp .waited
.pit:
    mov cx, 2
    call wait_ms
.waited:
    in al, dx
    mov bh, al
    mov ax, 0x0460
    call fm_write
    mov ax, 0x0480
    call fm_write
    PRINT "fm: status "
    mov al, bl
    call print_hex8
    PRINT " then "
    mov al, bh
    call print_hex8
    call newline
    and bl, 0xe0
    CHECK z, "FM status not 0 after the timers' reset"
    and bh, 0xe0
    cmp bh, 0xc0
    CHECK e, "FM timer 1 did not overflow (status not 0xC0)"
    in al, dx
    and al, 0xe0
    CHECK z, "FM status not cleared by register 4 bit 7"
    ret

; dx = address port, bx = F-number | block << 10, al = TL of the carrier; [PAN] = C0.
; Plays 600 ms, keys off, waits 300 ms.
fm_note:
    push si
    mov si, ax
    mov ax, 0x2021              ; operator 1: EGT, MULT 1
    call fm_write
    mov ax, 0x403f              ; TL 63
    call fm_write
    mov ax, 0x6000              ; AR 0: never attacks, stays silent
    call fm_write
    mov ax, 0x800f
    call fm_write
    mov ax, 0xe000
    call fm_write
    mov ax, 0x2321              ; operator 2: EGT, MULT 1
    call fm_write
    mov ax, si
    and al, 0x3f
    mov ah, 0x43                ; its TL
    call fm_write
    mov ax, 0x63f0              ; AR 15, DR 0
    call fm_write
    mov ax, 0x830f              ; SL 0, RR 15
    call fm_write
    mov ax, 0xe300              ; sine
    call fm_write
    mov al, [es:PAN]
    mov ah, 0xc0
    call fm_write
    mov al, bl                  ; F-number low
    mov ah, 0xa0
    call fm_write
    mov al, bh                  ; block << 2 | F-number high, KEY-ON
    or al, 0x20
    mov ah, 0xb0
    call fm_write
    mov cx, 600
    call wait_ms
    and al, 0xdf                ; KEY-OFF
    call fm_write
    mov cx, 300
    call wait_ms
    pop si
    ret

%include "sound.inc"

GUEST_END
