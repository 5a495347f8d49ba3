; SPDX-License-Identifier: GPL-2.0-or-later
; The Intel HD Audio controller (-device intel-hda -device hda-duplex) driven as a driver
; would, without a BIOS: the guest finds 8086:2668 on bus 0, maps its registers at
; 0xFEB00000 (reached through FS in unreal mode), routes INTA through the PIIX3's PIRQ
; registers to IRQ 11 (level-triggered) and:
;   - resets the controller (GCTL.CRST) and finds the codec at address 0 in STATESTS;
;   - sends four verbs through the CORB at once with RINTCNT = 4 and reads the four
;     responses from the RIRB (the vendor and revision IDs, the node counts) after one
;     response interrupt;
;   - walks the function group's widgets with the immediate command interface: types,
;     the line-out pin's connection list, pin capabilities and configuration defaults;
;   - plays two tones for tests/guests/sound.py, each followed by 300 ms of silence:
;       1. output stream 1 (SD4), stream tag 1, 48000 Hz stereo: 1000 Hz left, 500 Hz
;          right, amplitude 16000, the DAC amplifier at 0 dB; four 100 ms buffers with
;          an interrupt on each completion (IOC), stopped after the fourth; LPIB and the
;          DMA position buffer checked while playing and after the stop;
;       2. output stream 2 (SD5), stream tag 2, 44100 Hz stereo: 750 Hz on both
;          channels, amplitude 12000, the DAC amplifier at -6 dB; six 100 ms buffers;
;   - records 500 ms through input stream 1 (SD0), the ADC's input amplifier at -6 dB,
;     into a buffer of 0x55: written to its end and not a byte further; all zeros is
;     reported as silence (no input); with an input, 100 ms more with the amplifier
;     muted must be silence, and the first recording is played back through SD4 at
;     48000 Hz so the host can check what the line input delivered and the gain.
%include "guest.inc"
%include "wait-for.inc"

HDA equ 0xfeb00000              ; BAR 0
HDABASE equ HDA
HDA_IRQ equ 11
PIIX3_DEVFN equ 0x08            ; 00:01.0
DEVFN equ 0x0540                ; word: the controller's device/function
IOC4 equ 0x0530                 ; word: SD4 buffer completions
IOC5 equ 0x0532                 ; word: SD5 buffer completions
IOC0 equ 0x0534                 ; word: SD0 buffer completions
RIRBINT equ 0x0536              ; word: response interrupts
GDT equ 0x0600                  ; a flat data descriptor for FS
CORB equ 0x10000
RIRB equ 0x10400
POSBUF equ 0x10c00
BDL1 equ 0x11000
BDL2 equ 0x11100
BDLIN equ 0x11200
TONE1 equ 0x20000
TONE2 equ 0x30000
INBUF equ 0x40000
INBUF2 equ 0x60000
SD0 equ 0x80
SD4 equ 0x100
SD5 equ 0x120


; VERB command, expected response, "message": an immediate command and its answer.
%macro VERB 3
    mov eax, %1
    call imm_cmd
    cmp eax, %2
    CHECK e, %3
%endmacro

GUEST_START
guest_main:
    call sound_init
    call unreal_fs

    ; ---- find the controller, give it resources ----
    mov ecx, 0x26688086
    call pci_find_device
    CHECK nc, "no 8086:2668 on bus 0"
    mov [es:DEVFN], bx
    mov al, 0x08
    call cfg_read32
    shr eax, 8
    cmp eax, 0x040300
    CHECK e, "class code is not 04 03 00 (HD Audio)"
    mov al, 0x10
    mov ecx, 0xffffffff
    call cfg_write32
    mov al, 0x10
    call cfg_read32
    cmp eax, 0xffffc000
    CHECK e, "BAR 0 is not a 16 KiB memory BAR"
    mov al, 0x10
    mov ecx, HDA
    call cfg_write32
    mov al, 0x04
    mov ecx, 0x0006             ; memory space and bus master
    call cfg_write32
    mov bx, PIIX3_DEVFN         ; PIRQA-D all to IRQ 11
    mov al, 0x60
    mov ecx, 0x0b0b0b0b
    call cfg_write32
    mov dx, 0x4d1               ; ELCR: IRQ 11 level-triggered
    in al, dx
    or al, 1 << (HDA_IRQ - 8)
    out dx, al
    cli
    mov word [es:(0x70 + HDA_IRQ - 8) * 4], hda_isr
    mov word [es:(0x70 + HDA_IRQ - 8) * 4 + 2], cs
    mov al, 0xda                ; master: IRQ 0, 2 (the slave) and 5 open
    out 0x21, al
    mov al, ~(1 << (HDA_IRQ - 8)) & 0xff
    out 0xa1, al
    sti
    mov ebx, HDA

    ; ---- controller reset, the codec in STATESTS ----
    cmp word [fs:ebx + 0x00], 0x4401
    CHECK e, "GCAP is not 4 output and 4 input streams, 64-bit"
    cmp byte [fs:ebx + 0x03], 1
    CHECK e, "VMAJ is not 1"
    mov dword [fs:ebx + 0x08], 0
    test dword [fs:ebx + 0x08], 1
    CHECK z, "CRST does not read 0 in reset"
    mov word [fs:ebx + 0x0e], 0x7fff
    cmp word [fs:ebx + 0x0e], 0
    CHECK e, "STATESTS not cleared by writing ones"
    mov dword [fs:ebx + 0x08], 1
    test dword [fs:ebx + 0x08], 1
    CHECK nz, "CRST does not read 1 out of reset"
    mov cx, 2
    call wait_ms
    cmp word [fs:ebx + 0x0e], 1
    CHECK e, "STATESTS does not show one codec at address 0"
    mov word [fs:ebx + 0x0e], 1
    PRINTLN "hda: controller reset, codec at address 0"

    ; ---- CORB and RIRB ----
    push es
    mov ax, CORB >> 4
    mov es, ax
    xor di, di
    xor eax, eax
    mov cx, 3 * 1024 / 4
    rep stosd
    pop es
    mov dword [fs:ebx + 0x40], CORB
    mov dword [fs:ebx + 0x44], 0
    mov dword [fs:ebx + 0x50], RIRB
    mov dword [fs:ebx + 0x54], 0
    test byte [fs:ebx + 0x4e], 0x40
    CHECK nz, "CORBSZCAP does not offer 256 entries"
    mov byte [fs:ebx + 0x4e], 2
    mov byte [fs:ebx + 0x5e], 2
    mov word [fs:ebx + 0x4a], 0x8000    ; CORBRPRST
    test word [fs:ebx + 0x4a], 0x8000
    CHECK nz, "CORBRPRST does not read back 1"
    mov word [fs:ebx + 0x4a], 0
    cmp word [fs:ebx + 0x4a], 0
    CHECK e, "CORBRP is not 0 after its reset"
    mov word [fs:ebx + 0x48], 0
    mov word [fs:ebx + 0x58], 0x8000    ; RIRBWPRST
    mov word [fs:ebx + 0x5a], 4         ; an interrupt per four responses
    mov byte [fs:ebx + 0x5c], 3         ; RIRB DMA and its interrupt
    mov dword [fs:ebx + 0x20], 0xc0000000 ; GIE, CIE
    mov byte [fs:ebx + 0x4c], 2         ; CORB runs
    mov dword [fs:dword CORB + 4], 0x000f0000  ; root: vendor ID
    mov dword [fs:dword CORB + 8], 0x000f0002  ; root: revision ID
    mov dword [fs:dword CORB + 12], 0x000f0004 ; root: node count
    mov dword [fs:dword CORB + 16], 0x001f0004 ; AFG: node count
    mov word [es:RIRBINT], 0
    mov word [fs:ebx + 0x48], 4
    WAIT_FOR RIRBINT, 1, 500, "no RIRB interrupt after four responses"
    cmp word [fs:ebx + 0x4a], 4
    CHECK e, "CORBRP is not 4 after four commands"
    cmp word [fs:ebx + 0x58], 4
    CHECK e, "RIRBWP is not 4 after four responses"
    cmp word [es:RIRBINT], 1
    CHECK e, "not one RIRB interrupt for four responses"
    cmp dword [fs:dword RIRB + 8], 0x1af40022
    CHECK e, "RIRB 1: vendor ID is not 1af4:0022"
    cmp dword [fs:dword RIRB + 12], 0
    CHECK e, "RIRB 1: not a solicited response of codec 0"
    cmp dword [fs:dword RIRB + 16], 0x00100101
    CHECK e, "RIRB 2: revision ID"
    cmp dword [fs:dword RIRB + 24], 0x00010001
    CHECK e, "RIRB 3: the root does not hold one function group at node 1"
    cmp dword [fs:dword RIRB + 32], 0x00020004
    CHECK e, "RIRB 4: the function group does not hold nodes 2-5"
    mov byte [fs:ebx + 0x4c], 0         ; CORB stops: the immediate interface from here
    PRINTLN "hda: CORB/RIRB: codec 1af4:0022, 4 responses, 1 interrupt"

    ; ---- the widgets through immediate commands ----
    VERB 0x001f0005, 0x00000001, "node 1 is not an audio function group"
    VERB 0x002f0009, 0x0000041d, "node 2 is not a stereo DAC with an output amplifier"
    VERB 0x003f0009, 0x00400501, "node 3 is not a pin with a connection list"
    VERB 0x004f0009, 0x0010051b, "node 4 is not a stereo ADC with an input amplifier"
    VERB 0x005f0009, 0x00400401, "node 5 is not a pin"
    VERB 0x003f000e, 1, "the line-out pin has not one connection"
    VERB 0x003f0200, 2, "the line-out pin is not connected to the DAC"
    VERB 0x004f0200, 5, "the ADC is not connected to the line-in pin"
    VERB 0x003f000c, 0x00010010, "the line-out pin is not output and EAPD capable"
    VERB 0x005f000c, 0x00000020, "the line-in pin is not input capable"
    VERB 0x003f1c00, 0x01014110, "line-out configuration default"
    VERB 0x005f1c00, 0x01813120, "line-in configuration default"
    VERB 0x002f0012, 0x80034a4a, "the DAC's amplifier is not 0-74 dB steps with mute"
    VERB 0x002f000a, 0x000201ff, "the DAC's PCM sizes and rates"
    PRINTLN "hda: widgets: DAC, line-out pin, ADC, line-in pin"

    ; ---- 1. 48000 Hz stereo through SD4, stream tag 1 ----
    VERB 0x00220011, 0, "set DAC format"
    VERB 0x002a0000, 0x0011, "the DAC's format does not read back"
    VERB 0x00270610, 0, "set DAC stream"
    VERB 0x002f0600, 0x10, "the DAC's stream does not read back"
    VERB 0x0023b04a, 0, "set DAC amplifier"
    VERB 0x002ba000, 0x4a, "the DAC's left amplifier is not 0 dB unmuted"
    VERB 0x00370740, 0, "line-out pin control"
    VERB 0x003f0700, 0x40, "the line-out pin is not enabled"
    mov ax, TONE1 >> 4
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
    mov ebx, HDA
    mov esi, BDL1
    mov cx, 4
.bd1:
    mov dword [fs:esi], TONE1
    mov dword [fs:esi + 4], 0
    mov dword [fs:esi + 8], 19200
    mov dword [fs:esi + 12], 1          ; IOC
    add esi, 16
    loop .bd1
    mov eax, SD4
    call stream_reset
    mov dword [fs:ebx + SD4 + 0x18], BDL1
    mov dword [fs:ebx + SD4 + 0x1c], 0
    mov dword [fs:ebx + SD4 + 0x08], 4 * 19200
    mov word [fs:ebx + SD4 + 0x0c], 3
    mov word [fs:ebx + SD4 + 0x12], 0x0011
    cmp dword [fs:ebx + SD4 + 0x10], 0x001100bf
    CHECK e, "SD4: FIFOS and FMT do not read 0xBF and the format written"
    mov dword [fs:ebx + 0x70], POSBUF | 1
    mov dword [fs:ebx + 0x20], 0xc0000000 | (1 << 4)
    mov word [es:IOC4], 0
    mov byte [fs:ebx + SD4 + 2], 0x10   ; stream tag 1
    mov byte [fs:ebx + SD4], 0x06       ; RUN, IOCE
    test byte [fs:ebx + SD4 + 3], 0x20
    CHECK nz, "SD4: FIFO not ready after RUN"
    WAIT_FOR IOC4, 2, 1500, "SD4: not two completions"
    mov eax, [fs:ebx + SD4 + 4]
    cmp eax, 2 * 19200
    CHECK ae, "SD4: LPIB below two buffers after two completions"
    cmp eax, 3 * 19200
    CHECK b, "SD4: LPIB past three buffers after two completions"
    mov eax, [fs:dword POSBUF + 4 * 8]
    cmp eax, 2 * 19200
    CHECK ae, "SD4: position buffer below two buffers after two completions"
    cmp eax, 3 * 19200
    CHECK b, "SD4: position buffer past three buffers after two completions"
    WAIT_FOR IOC4, 4, 1500, "SD4: not four completions"
    mov byte [fs:ebx + SD4], 0x04       ; stop
    cmp word [es:IOC4], 4
    CHECK e, "SD4: more than four completions"
    mov eax, [fs:ebx + SD4 + 4]
    cmp eax, 19200
    CHECK b, "SD4: LPIB did not wrap at the cyclic buffer's length"
    cmp eax, [fs:dword POSBUF + 4 * 8]
    CHECK e, "SD4: the position buffer does not equal LPIB"
    cmp eax, [fs:ebx + 0x2084 + 4 * 0x20]
    CHECK e, "SD4: the LPIB alias does not equal LPIB"
    test byte [fs:ebx + SD4], 0x02
    CHECK z, "SD4: RUN still set"
    PRINTLN "hda: 4 buffers at 48000 Hz, 4 completion interrupts, LPIB and position buffer agree"
    mov cx, 300
    call wait_ms

    ; ---- 2. 44100 Hz stereo through SD5, stream tag 2, -6 dB ----
    VERB 0x00224011, 0, "set DAC format"
    VERB 0x00270620, 0, "set DAC stream"
    VERB 0x0023b044, 0, "set DAC amplifier"
    VERB 0x002b8000, 0x44, "the DAC's right amplifier is not -6 dB"
    mov ax, TONE2 >> 4
    mov gs, ax
    mov dword [es:RATE], 44100
    mov dword [es:AMP], 12000
    mov dword [es:FREQ], 750
    xor di, di
    mov bx, 4
    mov cx, 4410
    call gen_sine16
    mov di, 2
    mov cx, 4410
    call gen_sine16
    mov ebx, HDA
    mov esi, BDL2
    mov cx, 6
.bd2:
    mov dword [fs:esi], TONE2
    mov dword [fs:esi + 4], 0
    mov dword [fs:esi + 8], 17640
    mov dword [fs:esi + 12], 1
    add esi, 16
    loop .bd2
    mov eax, SD5
    call stream_reset
    mov dword [fs:ebx + SD5 + 0x18], BDL2
    mov dword [fs:ebx + SD5 + 0x08], 6 * 17640
    mov word [fs:ebx + SD5 + 0x0c], 5
    mov word [fs:ebx + SD5 + 0x12], 0x4011
    mov dword [fs:ebx + 0x20], 0xc0000000 | (1 << 5)
    mov word [es:IOC5], 0
    mov dword [fs:ebx + SD5], 0x00200006 ; stream tag 2, RUN, IOCE
    WAIT_FOR IOC5, 6, 3000, "SD5: not six completions"
    mov byte [fs:ebx + SD5], 0x04
    cmp word [es:IOC5], 6
    CHECK e, "SD5: more than six completions"
    PRINTLN "hda: 6 buffers at 44100 Hz, amplifier at -6 dB"
    mov cx, 300
    call wait_ms

    ; ---- input: 500 ms through the ADC's amplifier at -6 dB into a buffer of 0x55 ----
    push es
    mov ax, INBUF >> 4
    mov es, ax
    xor di, di
    mov al, 0x55
    mov cx, 48004
    rep stosb
    mov ax, (INBUF + 48000) >> 4
    mov es, ax
    xor di, di
    mov al, 0x55
    mov cx, 48004
    rep stosb
    pop es
    VERB 0x004b0000, 0xca, "the ADC's amplifier is not muted at 0 dB after reset"
    VERB 0x00437044, 0, "set ADC input amplifier"
    VERB 0x004b2000, 0x44, "the ADC's left amplifier is not -6 dB unmuted"
    VERB 0x00420011, 0, "set ADC format"
    VERB 0x00470630, 0, "set ADC stream"
    VERB 0x00570720, 0, "line-in pin control"
    mov ebx, HDA
    mov dword [fs:dword BDLIN], INBUF
    mov dword [fs:dword BDLIN + 4], 0
    mov dword [fs:dword BDLIN + 8], 48000
    mov dword [fs:dword BDLIN + 12], 1
    mov dword [fs:dword BDLIN + 16], INBUF + 48000
    mov dword [fs:dword BDLIN + 20], 0
    mov dword [fs:dword BDLIN + 24], 48000
    mov dword [fs:dword BDLIN + 28], 1
    mov eax, SD0
    call stream_reset
    mov dword [fs:ebx + SD0 + 0x18], BDLIN
    mov dword [fs:ebx + SD0 + 0x08], 96000
    mov word [fs:ebx + SD0 + 0x0c], 1
    mov word [fs:ebx + SD0 + 0x12], 0x0011
    mov dword [fs:ebx + 0x20], 0xc0000000 | 1
    mov word [es:IOC0], 0
    mov dword [fs:ebx + SD0], 0x00300006
    WAIT_FOR IOC0, 2, 3000, "SD0: not two completions"
    mov byte [fs:ebx + SD0], 0x04
    cmp dword [fs:dword INBUF + 96000], 0x55555555
    CHECK e, "input: wrote past the buffer"
    cmp dword [fs:dword INBUF], 0x55555555
    CHECK ne, "input: the buffer's start was not written"
    cmp dword [fs:dword INBUF + 95996], 0x55555555
    CHECK ne, "input: the buffer's end was not written"
    mov esi, INBUF
.scan:
    cmp dword [fs:esi], 0
    jne .heard
    add esi, 4
    cmp esi, INBUF + 96000
    jb .scan
    PRINTLN "hda: input recorded 500 ms of silence"
    EXIT EXIT_PASS
.heard:
    ; Something came in: the ADC's amplifier muted must hear none of it (100 ms into
    ; INBUF2, filled with 0x55, through two 50 ms entries).
    VERB 0x004370c4, 0, "mute the ADC's amplifier"
    push es
    mov ax, INBUF2 >> 4
    mov es, ax
    xor di, di
    mov al, 0x55
    mov cx, 19200
    rep stosb
    pop es
    mov ebx, HDA
    mov dword [fs:dword BDLIN + 128], INBUF2
    mov dword [fs:dword BDLIN + 132], 0
    mov dword [fs:dword BDLIN + 136], 9600
    mov dword [fs:dword BDLIN + 140], 1
    mov dword [fs:dword BDLIN + 144], INBUF2 + 9600
    mov dword [fs:dword BDLIN + 148], 0
    mov dword [fs:dword BDLIN + 152], 9600
    mov dword [fs:dword BDLIN + 156], 1
    mov eax, SD0
    call stream_reset
    mov dword [fs:ebx + SD0 + 0x18], BDLIN + 128   ; lists are 128-byte aligned
    mov dword [fs:ebx + SD0 + 0x08], 19200
    mov word [fs:ebx + SD0 + 0x0c], 1
    mov word [fs:ebx + SD0 + 0x12], 0x0011
    mov word [es:IOC0], 0
    mov dword [fs:ebx + SD0], 0x00300006
    WAIT_FOR IOC0, 2, 1500, "SD0: not two completions with the amplifier muted"
    mov byte [fs:ebx + SD0], 0x04
    mov esi, INBUF2
.mscan:
    cmp dword [fs:esi], 0
    CHECK e, "input: the muted ADC amplifier let sound through"
    add esi, 4
    cmp esi, INBUF2 + 19200
    jb .mscan
    PRINTLN "hda: the muted ADC amplifier records silence"
    ; The first recording played back through SD4 at 48000 Hz for the host to check.
    PRINTLN "hda: input recorded sound; playing it back"
    VERB 0x00220011, 0, "set DAC format"
    VERB 0x00270610, 0, "set DAC stream"
    VERB 0x0023b04a, 0, "set DAC amplifier"
    mov ebx, HDA
    mov dword [fs:dword BDL1], INBUF
    mov dword [fs:dword BDL1 + 4], 0
    mov dword [fs:dword BDL1 + 8], 48000
    mov dword [fs:dword BDL1 + 12], 1
    mov dword [fs:dword BDL1 + 16], INBUF + 48000
    mov dword [fs:dword BDL1 + 20], 0
    mov dword [fs:dword BDL1 + 24], 48000
    mov dword [fs:dword BDL1 + 28], 1
    mov eax, SD4
    call stream_reset
    mov dword [fs:ebx + SD4 + 0x18], BDL1
    mov dword [fs:ebx + SD4 + 0x1c], 0
    mov dword [fs:ebx + SD4 + 0x08], 96000
    mov word [fs:ebx + SD4 + 0x0c], 1
    mov word [fs:ebx + SD4 + 0x12], 0x0011
    mov dword [fs:ebx + 0x20], 0xc0000000 | (1 << 4)
    mov word [es:IOC4], 0
    mov dword [fs:ebx + SD4], 0x00100006
    WAIT_FOR IOC4, 2, 3000, "the recording never finished playing"
    mov byte [fs:ebx + SD4], 0x04
    mov cx, 300
    call wait_ms
    EXIT EXIT_PASS

; eax = stream descriptor offset: SRST set, seen, cleared, seen (HDA 3.3: SDnCTL).
stream_reset:
    push ebx
    add ebx, eax
    mov byte [fs:ebx], 1
    test byte [fs:ebx], 1
    CHECK nz, "SRST does not read back 1"
    mov byte [fs:ebx], 0
    test byte [fs:ebx], 1
    CHECK z, "SRST does not read back 0"
    cmp dword [fs:ebx + 4], 0
    CHECK e, "LPIB is not 0 after a stream reset"
    pop ebx
    ret

; eax = verb: eax = the codec's response (hda.inc), or the test fails.
imm_cmd:
    call hda_imm_cmd
    CHECK nc, "immediate command: no response"
    ret

%include "pci.inc"
%include "unreal.inc"
%include "hda.inc"

; IRQ 11: counts response interrupts and the completions of SD0, SD4 and SD5, and
; acknowledges them (level-triggered: the status must be clear before the EOI).
hda_isr:
    push es
    push eax
    push ebx
    push edx
    xor ax, ax
    mov es, ax
    mov ebx, HDA
    mov edx, [fs:ebx + 0x24]            ; INTSTS
    test edx, 1 << 30
    jz .no_cis
    mov al, [fs:ebx + 0x5d]
    test al, 1
    jz .no_rintfl
    inc word [es:RIRBINT]
.no_rintfl:
    mov [fs:ebx + 0x5d], al
.no_cis:
    test dl, 1 << 0
    jz .no_sd0
    mov al, [fs:ebx + SD0 + 3]
    test al, 4
    jz .ack0
    inc word [es:IOC0]
.ack0:
    mov [fs:ebx + SD0 + 3], al
.no_sd0:
    test dl, 1 << 4
    jz .no_sd4
    mov al, [fs:ebx + SD4 + 3]
    test al, 4
    jz .ack4
    inc word [es:IOC4]
.ack4:
    mov [fs:ebx + SD4 + 3], al
.no_sd4:
    test dl, 1 << 5
    jz .no_sd5
    mov al, [fs:ebx + SD5 + 3]
    test al, 4
    jz .ack5
    inc word [es:IOC5]
.ack5:
    mov [fs:ebx + SD5 + 3], al
.no_sd5:
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop edx
    pop ebx
    pop eax
    pop es
    iret

%include "sound.inc"

GUEST_END
