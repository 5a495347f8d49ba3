; SPDX-License-Identifier: GPL-2.0-or-later
; The sound benchmark's guest (bench/sound/run.py): plays a continuous 1000 Hz tone,
; 48000 Hz 16-bit stereo at amplitude 16000, through the AC'97 (default) or the Intel HD
; Audio controller (-DHDA) for SECONDS seconds, as an idle player would: the buffers are
; re-armed from the completion interrupt and the CPU halts in between. No timer tick and
; no BIOS, so what the host spends is the emulated sound path and the idle CPU.
; Prints "bench: tone" on COM1 just before the DMA engine starts (the latency's zero) and
; exits through isa-debug-exit after 10 * SECONDS completions of 100 ms buffers.
; Runs unchanged under qemu-system-i386 (its AC97 and intel-hda + hda-duplex answer the
; same registers and verbs).
%include "guest.inc"

%ifndef SECONDS
%define SECONDS 30
%endif

DONE equ 0x0530                 ; word: buffer completions
GDT equ 0x0600
IRQ equ 11
PIIX3_DEVFN equ 0x08
TONE equ 0x20000                ; 100 ms: 4800 stereo frames, 19200 bytes
BDL equ 0x11000
NAM equ 0xc000                  ; AC'97 BAR 0 (codec mixer)
NABM equ 0xc100                 ; AC'97 BAR 1 (bus master)
HDABASE equ 0xfeb00000              ; HDA BAR 0
SD4 equ 0x100                   ; HDA's first output stream descriptor

GUEST_START
guest_main:
    call unreal_fs
    ; The local APIC in virtual wire mode, as a BIOS leaves it (Intel SDM vol. 3, 10.5.1):
    ; software-enabled, LINT0 taking the 8259's interrupts (ExtINT), LINT1 the NMI.
    ; Without it QEMU's APIC drops what the PIC raises.
    mov ebx, 0xfee00000
    or dword [fs:ebx + 0xf0], 0x1ff
    mov dword [fs:ebx + 0x350], 0x700
    mov dword [fs:ebx + 0x360], 0x400
    PIC_INIT
    mov al, 0xfb                ; only the cascade on the master
    out 0x21, al
    mov al, ~(1 << (IRQ - 8)) & 0xff
    out 0xa1, al
    mov word [es:(0x70 + IRQ - 8) * 4], isr
    mov word [es:(0x70 + IRQ - 8) * 4 + 2], cs
    mov word [es:DONE], 0
    mov bx, PIIX3_DEVFN         ; PIRQA-D to IRQ 11, level-triggered (ELCR)
    mov al, 0x60
    mov ecx, 0x0b0b0b0b
    call cfg_write32
    mov dx, 0x4d1
    in al, dx
    or al, 1 << (IRQ - 8)
    out dx, al

    ; One 100 ms buffer holding 100 periods of the tone on both channels.
    mov ax, TONE >> 4
    mov gs, ax
    mov dword [es:RATE], 48000
    mov dword [es:AMP], 16000
    mov dword [es:FREQ], 1000
    xor di, di
    mov bx, 4
    mov cx, 4800
    call gen_sine16
    mov di, 2
    mov cx, 4800
    call gen_sine16

%ifdef HDA
    mov ecx, 0x26688086
    call find_device
    mov al, 0x10
    mov ecx, HDABASE
    call cfg_write32
    mov al, 0x04
    mov ecx, 0x0006             ; memory space, bus master
    call cfg_write32
    mov ebx, HDABASE
    mov dword [fs:ebx + 0x08], 0        ; controller reset (HDA 3.3: GCTL.CRST)
    mov dword [fs:ebx + 0x08], 1
.crst:
    test dword [fs:ebx + 0x08], 1
    jz .crst
    mov ecx, 100000             ; the codec reports itself in STATESTS
.sts:
    test word [fs:ebx + 0x0e], 1
    jnz .codec
    dec ecx
    jnz .sts
    PRINTLN "FAIL: no codec at address 0"
    EXIT EXIT_FAIL
.codec:
    mov word [fs:ebx + 0x0e], 1
    mov eax, 0x00220011         ; DAC: 48 kHz, 16 bit, 2 channels
    call hda_imm_cmd
    mov eax, 0x00270610         ; DAC: stream tag 1, channel 0
    call hda_imm_cmd
    mov eax, 0x0023b04a         ; DAC amplifier: both channels, 0 dB, unmuted
    call hda_imm_cmd
    mov eax, 0x00370740         ; line-out pin enabled
    call hda_imm_cmd
    mov dword [fs:dword BDL], TONE  ; two entries on the same buffer, both IOC
    mov dword [fs:dword BDL + 4], 0
    mov dword [fs:dword BDL + 8], 19200
    mov dword [fs:dword BDL + 12], 1
    mov dword [fs:dword BDL + 16], TONE
    mov dword [fs:dword BDL + 20], 0
    mov dword [fs:dword BDL + 24], 19200
    mov dword [fs:dword BDL + 28], 1
    mov byte [fs:ebx + SD4], 1          ; stream reset in and out
.srst1:
    test byte [fs:ebx + SD4], 1
    jz .srst1
    mov byte [fs:ebx + SD4], 0
.srst0:
    test byte [fs:ebx + SD4], 1
    jnz .srst0
    mov dword [fs:ebx + SD4 + 0x18], BDL
    mov dword [fs:ebx + SD4 + 0x1c], 0
    mov dword [fs:ebx + SD4 + 0x08], 2 * 19200
    mov word [fs:ebx + SD4 + 0x0c], 1
    mov word [fs:ebx + SD4 + 0x12], 0x0011
    mov dword [fs:ebx + 0x20], 0x80000000 | (1 << 4)  ; GIE, SD4's interrupt
    sti
    PRINTLN "bench: tone"
    mov dword [fs:ebx + SD4], 0x00100006 ; stream tag 1, RUN, IOCE: cyclic from here
%else
    mov ecx, 0x24158086
    call find_device
    mov al, 0x10
    mov ecx, NAM
    call cfg_write32
    mov al, 0x14
    mov ecx, NABM
    call cfg_write32
    mov al, 0x04
    mov ecx, 0x0005             ; I/O space, bus master
    call cfg_write32
    mov dx, NABM + 0x2c         ; cold reset, then out of it
    xor eax, eax
    out dx, eax
    mov eax, 2
    out dx, eax
    mov dx, NAM + 0x02          ; master and PCM out at 0 dB, unmuted
    xor ax, ax
    out dx, ax
    mov dx, NAM + 0x18
    mov ax, 0x0808
    out dx, ax
    mov di, BDL & 0xffff        ; 32 descriptors on the same buffer, each IOC
    push es
    mov ax, (BDL >> 4) & 0xf000
    mov es, ax
    mov cx, 32
.bd:
    mov dword [es:di], TONE
    mov word [es:di + 4], 9600  ; samples
    mov word [es:di + 6], 0x8000
    add di, 8
    loop .bd
    pop es
    mov dx, NABM + 0x10
    mov eax, BDL
    out dx, eax
    mov dx, NABM + 0x15         ; LVI well ahead; the interrupt keeps it so
    mov al, 30
    out dx, al
    sti
    PRINTLN "bench: tone"
    mov dx, NABM + 0x1b
    mov al, 0x11                ; run, completion interrupts
    out dx, al
%endif

    ; Idle until the tone has lasted SECONDS.
.idle:
    hlt
    cmp word [es:DONE], 10 * SECONDS
    jb .idle
    PRINTLN "bench: done"
    EXIT EXIT_PASS

; ecx = vendor and device ID: bx = its devfn on bus 0, or the run ends.
find_device:
    call pci_find_device
    jnc .ok
    PRINTLN "FAIL: the sound controller is not on bus 0"
    EXIT EXIT_FAIL
.ok:
    ret

%ifdef HDA
; IRQ 11: a completed buffer of SD4 (the cyclic list goes on by itself).
isr:
    push es
    push eax
    push ebx
    xor ax, ax
    mov es, ax
    mov ebx, HDABASE
    mov al, [fs:ebx + SD4 + 3]
    test al, 4
    jz .ack
    inc word [es:DONE]
.ack:
    mov [fs:ebx + SD4 + 3], al
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop ebx
    pop eax
    pop es
    iret
%else
; IRQ 11: a completed buffer; the last valid index moves to the one before the current,
; as a player refilling its ring does, so the engine never halts.
isr:
    push es
    push ax
    push dx
    xor ax, ax
    mov es, ax
    mov dx, NABM + 0x16
    in ax, dx
    test al, 0x08
    jz .ack
    inc word [es:DONE]
.ack:
    and ax, 0x1c
    out dx, ax
    mov dx, NABM + 0x14         ; CIV
    in al, dx
    dec al
    and al, 31
    inc dx                      ; LVI
    out dx, al
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop dx
    pop ax
    pop es
    iret
%endif

%include "pci.inc"
%include "unreal.inc"
%ifdef HDA
%include "hda.inc"
%endif
%include "sound.inc"

GUEST_END
