; SPDX-License-Identifier: GPL-2.0-or-later
; The AC'97 controller (-device AC97) driven as a driver would, without a BIOS: the guest
; finds 8086:2415 on bus 0, gives it I/O BARs, routes its INTA through the PIIX3's PIRQ
; registers to IRQ 11 (level-triggered in the ELCR) and plays two tones for
; tests/guests/sound.py, each followed by 300 ms of silence:
;   1. 48000 Hz stereo: 1000 Hz left, 500 Hz right, amplitude 16000; four 100 ms buffers
;      in a descriptor list with LVI = 3, an interrupt on each completion, then the
;      controller halts at the last valid buffer (DCH and CELV, CIV = 3, PICB = 0);
;   2. 22050 Hz through the codec's variable rate (VRA): 500 Hz on both channels,
;      amplitude 12000; six 100 ms buffers, the list started with LVI = 1 and extended to
;      5 after the first completion interrupt, as drivers do while playing.
; Then mic in starts (a warm-up: up to 6 s until the input delivers anything); with an
; input, PCM in records 100 ms from line in (silence: nothing plugged in there) and 100 ms
; from the microphone with its 20 dB boost (clipped); then PCM in
; records 500 ms (two 250 ms buffers filled with 0x55) from the microphone
; (record select 0) with the record gain at +6 dB: written to their ends and not a byte
; further; all zeros is reported as silence (no input), anything
; else is played back through PCM out at 48000 Hz so the host can check what the
; audiodev's input (in.path=) delivered.
; Before that the codec: cold reset (ready bit), the access semaphore, the STAC9700's
; vendor ID, 0 dB master and PCM volume read back.
%include "guest.inc"
%include "wait-for.inc"

AC_IOC equ 0x0530               ; word: PCM out buffer completions (interrupts)
AC_LVB equ 0x0532               ; word: PCM out last-valid-buffer interrupts
AC_PIIOC equ 0x0534
AC_PILVB equ 0x0536
DEVFN equ 0x0540                ; word: the controller's device/function
MCBUF equ 0x60000              ; mic in's warm-up buffer
NAM equ 0xc000                  ; BAR 0: the codec's mixer
NABM equ 0xc100                 ; BAR 1: the bus master
AC_IRQ equ 11
PIIX3_DEVFN equ 0x08            ; 00:01.0


GUEST_START
guest_main:
    call sound_init

    ; ---- find the controller, give it resources ----
    mov ecx, 0x24158086
    call pci_find_device
    CHECK nc, "no 8086:2415 on bus 0"
    mov [es:DEVFN], bx
    mov al, 0x08
    call cfg_read32
    shr eax, 8
    cmp eax, 0x040100
    CHECK e, "class code is not 04 01 00 (multimedia audio)"
    mov al, 0x10
    mov ecx, NAM
    call cfg_write32
    mov al, 0x14
    mov ecx, NABM
    call cfg_write32
    mov al, 0x14
    call cfg_read32
    cmp eax, NABM | 1
    CHECK e, "BAR 1 is not an I/O BAR at the address written"
    mov al, 0x3c
    call cfg_read32
    cmp ah, 1
    CHECK e, "interrupt pin is not INTA"
    mov al, 0x04
    mov ecx, 0x0005             ; I/O space and bus master
    call cfg_write32
    mov bx, PIIX3_DEVFN         ; PIRQA-D all to IRQ 11
    mov al, 0x60
    mov ecx, 0x0b0b0b0b
    call cfg_write32
    mov dx, 0x4d1               ; ELCR: IRQ 11 level-triggered
    in al, dx
    or al, 1 << (AC_IRQ - 8)
    out dx, al
    cli
    mov word [es:(0x70 + AC_IRQ - 8) * 4], ac_isr
    mov word [es:(0x70 + AC_IRQ - 8) * 4 + 2], cs
    mov al, 0xda                ; master: IRQ 0, 2 (the slave) and 5 open
    out 0x21, al
    mov al, ~(1 << (AC_IRQ - 8)) & 0xff
    out 0xa1, al
    sti

    ; ---- the codec ----
    mov dx, NABM + 0x2c
    xor eax, eax
    out dx, eax                 ; cold reset held
    mov dx, NABM + 0x30
    in eax, dx
    test eax, 0x100
    CHECK z, "codec ready while held in cold reset"
    mov dx, NABM + 0x2c
    mov eax, 2
    out dx, eax
    mov dx, NABM + 0x30
    in eax, dx
    test eax, 0x100
    CHECK nz, "codec not ready after cold reset"
    mov dx, NABM + 0x2c
    in eax, dx
    cmp eax, 2
    CHECK e, "global control does not read back"
    mov dx, NABM + 0x34
    in al, dx
    cmp al, 0
    CHECK e, "codec semaphore taken before anyone asked"
    in al, dx
    cmp al, 1
    CHECK e, "codec semaphore not held after the first read"
    mov dx, NAM + 0x7c
    in ax, dx
    cmp ax, 0x8384
    CHECK e, "vendor ID 1 is not SigmaTel's"
    mov dx, NAM + 0x7e
    in ax, dx
    cmp ax, 0x7600
    CHECK e, "vendor ID 2 is not the STAC9700's"
    mov dx, NABM + 0x34
    in al, dx
    cmp al, 0
    CHECK e, "a codec access did not free the semaphore"
    mov dx, NAM + 0x02          ; master 0 dB
    xor ax, ax
    out dx, ax
    mov dx, NAM + 0x18          ; PCM out 0 dB
    mov ax, 0x0808
    out dx, ax
    in ax, dx
    cmp ax, 0x0808
    CHECK e, "PCM out volume does not read back"
    PRINTLN "ac97: codec STAC9700 ready"

    ; ---- 1. 48000 Hz stereo, four buffers ----
    mov ax, 0x2000
    mov gs, ax
    mov dword [es:RATE], 48000
    mov dword [es:AMP], 16000
    mov dword [es:FREQ], 1000
    xor di, di
    mov bx, 4
    mov cx, 4800
    call gen_sine16
    mov dword [es:FREQ], 500
    mov di, 2
    mov cx, 4800
    call gen_sine16
    mov di, 0x3000
    mov cx, 4
.bd1:
    mov dword [es:di], 0x20000
    mov word [es:di + 4], 9600  ; samples: 4800 stereo frames
    mov word [es:di + 6], 0x8000 ; interrupt on completion
    add di, 8
    loop .bd1
    mov word [es:AC_IOC], 0
    mov word [es:AC_LVB], 0
    mov dx, NABM + 0x10
    mov eax, 0x3000
    out dx, eax
    mov dx, NABM + 0x15
    mov al, 3
    out dx, al
    mov dx, NABM + 0x1b
    mov al, 0x15                ; run, last-valid and completion interrupts
    out dx, al
    WAIT_FOR AC_LVB, 1, 3000, "PCM out never reached its last valid buffer"
    cmp word [es:AC_IOC], 4
    CHECK e, "not four completion interrupts for four buffers"
    mov dx, NABM + 0x16
    in ax, dx
    and ax, 3
    cmp ax, 3
    CHECK e, "PCM out status is not halted at the last valid buffer"
    mov dx, NABM + 0x14
    in al, dx
    cmp al, 3
    CHECK e, "CIV is not 3 after the last valid buffer"
    mov dx, NABM + 0x18
    in ax, dx
    test ax, ax
    CHECK z, "PICB is not 0 after the last buffer"
    PRINTLN "ac97: 4 buffers at 48000 Hz, 4 completion interrupts, halted at LVI"
    mov dx, NABM + 0x1b
    xor al, al
    out dx, al
    mov al, 0x02                ; reset registers
    out dx, al
    mov dx, NABM + 0x16
    in ax, dx
    cmp ax, 1
    CHECK e, "status after a channel reset is not DCH alone"
    mov cx, 300
    call wait_ms

    ; ---- 2. 22050 Hz through VRA, six buffers, list extended while running ----
    mov dx, NAM + 0x28
    in ax, dx
    test al, 1
    CHECK nz, "the codec does not offer variable rates"
    mov dx, NAM + 0x2c
    mov ax, 22050
    out dx, ax
    in ax, dx
    cmp ax, 48000
    CHECK e, "the DAC rate changed without VRA enabled"
    mov dx, NAM + 0x2a
    mov ax, 1
    out dx, ax
    mov dx, NAM + 0x2c
    mov ax, 22050
    out dx, ax
    in ax, dx
    cmp ax, 22050
    CHECK e, "the DAC rate does not read back 22050"
    mov ax, 0x3000
    mov gs, ax
    mov dword [es:RATE], 22050
    mov dword [es:AMP], 12000
    mov dword [es:FREQ], 500
    xor di, di
    mov bx, 4
    mov cx, 2205
    call gen_sine16
    mov di, 2
    mov cx, 2205
    call gen_sine16
    mov di, 0x3200
    mov cx, 6
.bd2:
    mov dword [es:di], 0x30000
    mov word [es:di + 4], 4410
    mov word [es:di + 6], 0x8000
    add di, 8
    loop .bd2
    mov word [es:AC_IOC], 0
    mov word [es:AC_LVB], 0
    mov dx, NABM + 0x10
    mov eax, 0x3200
    out dx, eax
    ; LVI 2, moved to 5 at the first completion: 200 ms of list ahead of the engine, so
    ; a guest the host keeps from running for a while still extends it in time.
    mov dx, NABM + 0x15
    mov al, 2
    out dx, al
    mov dx, NABM + 0x1b
    mov al, 0x15
    out dx, al
    WAIT_FOR AC_IOC, 1, 2000, "no completion interrupt at 22050 Hz"
    mov dx, NABM + 0x15
    mov al, 5
    out dx, al
    WAIT_FOR AC_LVB, 1, 3000, "the extended list never ended"
    cmp word [es:AC_IOC], 6
    CHECK e, "not six completion interrupts for the extended list"
    PRINTLN "ac97: 6 buffers at 22050 Hz (VRA), the list extended while playing"
    mov dx, NABM + 0x1b
    xor al, al
    out dx, al
    mov al, 0x02
    out dx, al
    mov cx, 300
    call wait_ms

    ; ---- PCM in: 500 ms into two 250 ms buffers (0x40000, 0x50000) of 0x55 ----
    ; The microphone on both sides, the record gain unmuted at +6 dB (4 steps of 1.5).
    mov dx, NAM + 0x1c
    in ax, dx
    cmp ax, 0x8000
    CHECK e, "the record gain is not muted at 0 dB after reset"
    mov dx, NAM + 0x1a
    xor ax, ax
    out dx, ax
    mov dx, NAM + 0x1c
    mov ax, 0x0404
    out dx, ax
    in ax, dx
    cmp ax, 0x0404
    CHECK e, "the record gain does not read back"
    ; Mic in first, as a warm-up: a host's capture may start delivering well after it
    ; opens (SDL's PulseAudio capture: up to seconds on a loaded host). Mic in records
    ; into a zeroed 64 KiB buffer (32 descriptors on it, no interrupts) and keeps the
    ; capture open through the recording below; the guest waits up to 6 s for anything
    ; but silence in it. Without an input the wait runs out and PCM in records silence.
    push es
    mov ax, MCBUF >> 4
    mov es, ax
    xor di, di
    xor eax, eax
    mov cx, 0x4000
    rep stosd
    pop es
    mov di, 0x3400
    mov cx, 32
.mcbd:
    mov dword [es:di], MCBUF
    mov word [es:di + 4], 0x8000    ; mono 16-bit samples: 64 KiB
    mov word [es:di + 6], 0
    add di, 8
    loop .mcbd
    mov dx, NABM + 0x20
    mov eax, 0x3400
    out dx, eax
    mov dx, NABM + 0x25
    mov al, 31
    out dx, al
    mov dx, NABM + 0x2b
    mov al, 0x01                ; run, no interrupts
    out dx, al
    mov ebp, [es:TICKS]
    add ebp, 6000
.mcwait:
    mov cx, 50
    call wait_ms
    mov dx, NABM + 0x28         ; reading PICB brings mic in's buffer up to now
    in ax, dx
    push es
    mov ax, MCBUF >> 4
    mov es, ax
    xor di, di
    mov cx, 0x4000
    xor eax, eax
    repe scasd
    pop es
    jne .mcheard
    cmp [es:TICKS], ebp
    jb .mcwait
    jmp .selected
.mcheard:
    ; The input delivers: the record select and the mic boost must shape it. Line in
    ; (source 4) has nothing plugged in: 100 ms of silence.
    mov dx, NAM + 0x1a
    mov ax, 0x0404
    out dx, ax
    call pi_record_100ms
    push es
    mov ax, 0x4000
    mov es, ax
    xor di, di
    xor ax, ax
    mov cx, 9600
    repe scasw
    pop es
    CHECK e, "PCM in hears the microphone with the record select on line in"
    ; The microphone again with its 20 dB boost at a record gain of 0 dB: the input's
    ; peak of 8000 becomes 80000, clipped at 32767.
    mov dx, NAM + 0x1a
    xor ax, ax
    out dx, ax
    mov dx, NAM + 0x1c
    out dx, ax
    mov dx, NAM + 0x0e
    mov ax, 0x8048              ; muted in the output mix, boost on
    out dx, ax
    call pi_record_100ms
    push es
    mov ax, 0x4000
    mov es, ax
    xor di, di
    mov ax, 0x7fff
    mov cx, 9600
    repne scasw
    pop es
    CHECK e, "PCM in does not clip with the mic boost (+20 dB) on"
    mov dx, NAM + 0x0e
    mov ax, 0x8008
    out dx, ax
    mov dx, NAM + 0x1c
    mov ax, 0x0404
    out dx, ax
    PRINTLN "ac97: record select (line in: silence) and mic boost (+20 dB: clipped) applied"
.selected:
    mov ax, 0x4000
    call fill_55
    mov ax, 0x5000
    call fill_55
    mov dword [es:0x3300], 0x40000
    mov word [es:0x3304], 24000
    mov word [es:0x3306], 0x8000
    mov dword [es:0x3308], 0x50000
    mov word [es:0x330c], 24000
    mov word [es:0x330e], 0x8000
    mov word [es:AC_PIIOC], 0
    mov word [es:AC_PILVB], 0
    mov dx, NABM + 0x00
    mov eax, 0x3300
    out dx, eax
    mov dx, NABM + 0x05
    mov al, 1
    out dx, al
    mov dx, NABM + 0x0b
    mov al, 0x15
    out dx, al
    WAIT_FOR AC_PILVB, 1, 3000, "PCM in never completed its buffers"
    mov dx, NABM + 0x2b         ; mic in stops (its capture with it)
    xor al, al
    out dx, al
    mov al, 0x02
    out dx, al
    cmp word [es:AC_PIIOC], 2
    CHECK e, "PCM in: not two completion interrupts"
    mov ax, 0x4000
    call check_recorded
    mov bl, al
    mov ax, 0x5000
    call check_recorded
    or al, bl
    jnz .heard
    PRINTLN "ac97: PCM in recorded 500 ms of silence"
    EXIT EXIT_PASS
.heard:
    ; Something came in: play it back so the host can check what it was.
    PRINTLN "ac97: PCM in recorded sound; playing it back"
    mov dword [es:0x3200], 0x40000
    mov word [es:0x3204], 24000
    mov word [es:0x3206], 0x8000
    mov dword [es:0x3208], 0x50000
    mov word [es:0x320c], 24000
    mov word [es:0x320e], 0x8000
    mov word [es:AC_IOC], 0
    mov word [es:AC_LVB], 0
    mov dx, NAM + 0x2c          ; PCM out back at 48000 Hz
    mov ax, 48000
    out dx, ax
    mov dx, NABM + 0x1b
    mov al, 0x02                ; reset the PCM out channel
    out dx, al
    mov dx, NABM + 0x10
    mov eax, 0x3200
    out dx, eax
    mov dx, NABM + 0x15
    mov al, 1
    out dx, al
    mov dx, NABM + 0x1b
    mov al, 0x15
    out dx, al
    WAIT_FOR AC_LVB, 1, 3000, "the recording never finished playing"
    mov cx, 300
    call wait_ms
    EXIT EXIT_PASS

; PCM in records 100 ms (9600 samples) into 0x40000 through a one-entry list at 0x3310
; and stops (its interrupts counted by ac_isr).
pi_record_100ms:
    mov dword [es:0x3310], 0x40000
    mov word [es:0x3314], 9600
    mov word [es:0x3316], 0x8000
    mov word [es:AC_PIIOC], 0
    mov word [es:AC_PILVB], 0
    mov dx, NABM + 0x0b
    mov al, 0x02                ; reset the PCM in channel
    out dx, al
    mov dx, NABM + 0x00
    mov eax, 0x3310
    out dx, eax
    mov dx, NABM + 0x05
    xor al, al
    out dx, al
    mov dx, NABM + 0x0b
    mov al, 0x15
    out dx, al
    WAIT_FOR AC_PILVB, 1, 2000, "PCM in never completed a 100 ms buffer"
    mov dx, NABM + 0x0b
    xor al, al
    out dx, al
    mov al, 0x02
    out dx, al
    ret

; ax = segment: its first 48004 bytes become 0x55.
fill_55:
    push es
    mov es, ax
    xor di, di
    mov al, 0x55
    mov cx, 48004
    rep stosb
    pop es
    ret

; ax = segment of a 48000-byte recording: checks nothing was written past it (0x55 at
; 48000) and no 0x55 pattern is left at its start or end; al = 0 if it is all silence,
; 1 if not.
check_recorded:
    push es
    mov es, ax
    cmp dword [es:48000], 0x55555555
    CHECK e, "PCM in: wrote past the buffer"
    cmp dword [es:0], 0x55555555
    CHECK ne, "PCM in: the buffer's start was not written"
    cmp dword [es:47996], 0x55555555
    CHECK ne, "PCM in: the buffer's end was not written"
    xor di, di
    mov cx, 12000
    xor eax, eax
    repe scasd
    setne al
    pop es
    ret

%include "pci.inc"

; IRQ 11: counts PCM out and PCM in completions and acknowledges them (level-triggered:
; the status must be clear before the EOI).
ac_isr:
    push es
    push ax
    push dx
    xor ax, ax
    mov es, ax
    mov dx, NABM + 0x16
    in ax, dx
    test al, 0x08
    jz .no_ioc
    inc word [es:AC_IOC]
.no_ioc:
    test al, 0x04
    jz .no_lvb
    inc word [es:AC_LVB]
.no_lvb:
    and ax, 0x1c
    out dx, ax
    mov dx, NABM + 0x06
    in ax, dx
    test al, 0x08
    jz .no_pi_ioc
    inc word [es:AC_PIIOC]
.no_pi_ioc:
    test al, 0x04
    jz .no_pi_lvb
    inc word [es:AC_PILVB]
.no_pi_lvb:
    and ax, 0x1c
    out dx, ax
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop dx
    pop ax
    pop es
    iret

%include "sound.inc"

GUEST_END
