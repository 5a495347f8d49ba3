; SPDX-License-Identifier: GPL-2.0-or-later
; The floppy controller and ISA DMA programmed directly, without a BIOS. Drive A: holds
; an image made by floppy.py (80 cylinders, 2 heads, SPT sectors) in which sector L begins with the word L and byte i
; (i >= 2) is (L + i) & 0xFF. The guest resets the controller, checks the reset polling
; status, VERSION, CONFIGURE/DUMPREG/LOCK, the disk-change line, recalibrates and seeks,
; reads a whole cylinder over DMA with multi-track, writes a sector and reads it back,
; formats a track, reads a sector without DMA, and checks the error statuses of a
; wrong cylinder, a wrong data rate and a DMA address outside RAM. floppy.py then checks
; the written and formatted bytes in the image file.
%include "guest.inc"

; The medium: sectors per track and the data rate it answers at (CCR value); nasm -D
; picks 720K (9, 2), 1.44M (18, 0, the default) or 2.88M (36, 3).
%ifndef SPT
%define SPT 18
%endif
%ifndef RATE
%define RATE 0
%endif
%define WRONG_RATE (RATE ^ 2)

FDC_DOR equ 0x3f2
FDC_MSR equ 0x3f4
FDC_FIFO equ 0x3f5
FDC_DIR equ 0x3f7

IRQ_COUNT equ 0x0500            ; word in low RAM, bumped by the IRQ 6 handler
RESULT equ 0x0510               ; result bytes of the last command
BUF_SEG equ 0x1000              ; 0x10000: read buffer (page 1)
WBUF equ 0x8000                 ; 0x08000: sector to write, format IDs

GUEST_START
guest_main:
    ; 8259s: vectors 0x08 and 0x70, only IRQ 6 unmasked.
    PIC_INIT
    mov al, 0xbf
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov word [es:0x0e * 4], irq6_isr
    mov word [es:0x0e * 4 + 2], cs
    mov word [es:IRQ_COUNT], 0

    ; DMA: cascade channel 4 in cascade mode and unmasked, as a BIOS leaves it.
    mov al, 0xc0
    out 0xd6, al
    xor al, al
    out 0xd4, al
    ; The 8237 keeps what is written: current address reads back through the flip-flop.
    out 0x0c, al
    mov al, 0x34
    out 0x04, al
    mov al, 0x12
    out 0x04, al
    out 0x0c, al
    in al, 0x04
    mov ah, al
    in al, 0x04
    cmp ax, 0x3412
    CHECK e, "DMA address register does not read back low then high"

    ; Controller reset with DMA gate on: one interrupt, then four polling statuses.
    xor al, al
    mov dx, FDC_DOR
    out dx, al
    mov al, 0x1c                ; motor A, DMA gate, not reset, drive 0
    out dx, al
    call wait_irq
    xor bx, bx
.poll:
    mov al, 0x08
    call fdc_cmd_byte
    call fdc_result_byte
    mov cl, bl
    or cl, 0xc0
    cmp al, cl
    CHECK e, "SENSE INTERRUPT after reset: ST0 is not C0+drive"
    call fdc_result_byte
    inc bx
    cmp bx, 4
    jb .poll
    ; A fifth sense has nothing to report: invalid command, one byte 0x80.
    mov al, 0x08
    call fdc_cmd_byte
    call fdc_result_byte
    cmp al, 0x80
    CHECK e, "SENSE INTERRUPT with nothing pending is not invalid (0x80)"
    call expect_idle
    PRINTLN "reset: four polling statuses"

    mov al, 0x10                ; VERSION
    call fdc_cmd_byte
    call fdc_result_byte
    cmp al, 0x90
    CHECK e, "VERSION is not 0x90"

    ; CONFIGURE: implied seek off, FIFO on, threshold 8, precomp from track 0x21.
    mov al, 0x13
    call fdc_cmd_byte
    xor al, al
    call fdc_cmd_byte
    mov al, 0x07
    call fdc_cmd_byte
    mov al, 0x21
    call fdc_cmd_byte
    ; LOCK: the answer has bit 4 set.
    mov al, 0x94
    call fdc_cmd_byte
    call fdc_result_byte
    cmp al, 0x10
    CHECK e, "LOCK result is not 0x10"
    ; SPECIFY: step rate 0xD, head unload 0xF, head load 1, DMA mode.
    mov al, 0x03
    call fdc_cmd_byte
    mov al, 0xdf
    call fdc_cmd_byte
    mov al, 0x02
    call fdc_cmd_byte
    call dumpreg
    cmp byte [es:RESULT + 4], 0xdf
    CHECK e, "DUMPREG: SPECIFY step/unload byte wrong"
    cmp byte [es:RESULT + 5], 0x02
    CHECK e, "DUMPREG: SPECIFY head load byte wrong"
    cmp byte [es:RESULT + 7], 0x80
    CHECK e, "DUMPREG: LOCK bit missing"
    cmp byte [es:RESULT + 8], 0x07
    CHECK e, "DUMPREG: CONFIGURE byte wrong"
    cmp byte [es:RESULT + 9], 0x21
    CHECK e, "DUMPREG: precompensation track wrong"
    ; A software reset through the DSR keeps the locked configuration.
    mov dx, FDC_MSR
    mov al, 0x80
    out dx, al
    call wait_irq
    mov cx, 4
.poll2:
    mov al, 0x08
    call fdc_cmd_byte
    call fdc_result_byte
    call fdc_result_byte
    loop .poll2
    call dumpreg
    cmp byte [es:RESULT + 8], 0x07
    CHECK e, "LOCK did not keep CONFIGURE through a reset"
    PRINTLN "version, configure, lock, dumpreg: ok"

    ; The medium's data rate.
    mov dx, FDC_DIR
    mov al, RATE
    out dx, al

    ; The disk-change line is set at power on.
    in al, dx
    test al, 0x80
    CHECK nz, "DIR bit 7 (disk change) clear at power on"
    ; RECALIBRATE from track 0 steps nowhere: the line stays set.
    mov al, 0x07
    call fdc_cmd_byte
    xor al, al
    call fdc_cmd_byte
    call wait_irq
    call sense_seek
    cmp word [es:RESULT], 0x0020
    CHECK e, "RECALIBRATE: sense is not ST0 20, PCN 0"
    mov dx, FDC_DIR
    in al, dx
    test al, 0x80
    CHECK nz, "disk change cleared without a step"
    mov cl, 1
    call seek
    cmp word [es:RESULT], 0x0120
    CHECK e, "SEEK 1: sense is not ST0 20, PCN 1"
    mov dx, FDC_DIR
    in al, dx
    test al, 0x80
    CHECK z, "disk change still set after a step"
    ; SENSE DRIVE STATUS: ready, two-sided, not track 0, writable.
    mov al, 0x04
    call fdc_cmd_byte
    xor al, al
    call fdc_cmd_byte
    call fdc_result_byte
    cmp al, 0x28
    CHECK e, "SENSE DRIVE STATUS on cylinder 1 is not 0x28"
    PRINTLN "disk change: set at power on, cleared by a step"

    ; READ DATA, multi-track, cylinder 1 head 0 sector 1 to the end of head 1:
    ; 2 * SPT sectors over DMA into 0x10000.
    mov eax, 0x10000
    mov ecx, 2 * SPT * 512
    mov bl, 0x46                ; single, increment, device to memory, channel 2
    call dma_setup
    mov si, read_cyl1
    call fdc_rw
    mov si, expect_next_cyl
    call check_result7
    mov ax, BUF_SEG
    mov fs, ax
    xor di, di
    mov bx, 2 * SPT             ; cylinder 1 starts at LBA 2 * SPT
.cmp:
    call check_sector
    add di, 512
    inc bx
    cmp bx, 4 * SPT
    jb .cmp
    ; Terminal count: status bit 2 set (and cleared by the read), channel masked.
    in al, 0x08
    test al, 0x04
    CHECK nz, "DMA status lacks terminal count of channel 2"
    in al, 0x08
    test al, 0x04
    CHECK z, "DMA terminal count not cleared by reading the status"
    in al, 0x0f
    test al, 0x04
    CHECK nz, "DMA channel 2 not masked after terminal count"
    PRINTLN "read: cylinder 1 over DMA, multi-track"

    ; WRITE DATA: cylinder 1, head 1, sector 5 (LBA 3 * SPT + 4) from 0x8000.
    xor di, di
.fill:
    mov ax, di
    xor al, 0x5a
    mov [es:WBUF + di], al
    inc di
    cmp di, 512
    jb .fill
    mov eax, WBUF
    mov ecx, 512
    mov bl, 0x4a                ; memory to device
    call dma_setup
    mov si, write_c1h1s5
    call fdc_rw
    mov si, expect_after_write
    call check_result7
    ; Read it back over the buffer and compare.
    mov eax, 0x10000
    mov ecx, 512
    mov bl, 0x46
    call dma_setup
    mov si, read_c1h1s5
    call fdc_rw
    cmp byte [es:RESULT], 0x04
    CHECK e, "reading back the written sector failed"
    xor di, di
.cmpw:
    mov ax, di
    xor al, 0x5a
    cmp [fs:di], al
    CHECK e, "written sector reads back different"
    inc di
    cmp di, 512
    jb .cmpw
    PRINTLN "write: sector written and read back"

    ; FORMAT TRACK on cylinder 2, head 0: SPT IDs over DMA, fill byte 0xE5.
    mov cl, 2
    call seek
    xor bx, bx
.ids:
    mov byte [es:WBUF + bx], 2
    mov byte [es:WBUF + bx + 1], 0
    mov ax, bx
    shr ax, 2
    inc ax
    mov [es:WBUF + bx + 2], al
    mov byte [es:WBUF + bx + 3], 2
    add bx, 4
    cmp bx, SPT * 4
    jb .ids
    mov eax, WBUF
    mov ecx, SPT * 4
    mov bl, 0x4a
    call dma_setup
    mov si, format_c2h0
    call fdc_rw
    test byte [es:RESULT], 0xc0
    CHECK z, "FORMAT TRACK ended abnormally"
    ; The last sector of the new track holds the fill byte.
    mov eax, 0x10000
    mov ecx, 512
    mov bl, 0x46
    call dma_setup
    mov si, read_c2h0s18
    call fdc_rw
    test byte [es:RESULT], 0xc0
    CHECK z, "reading the formatted track failed"
    xor di, di
.cmpf:
    cmp byte [fs:di], 0xe5
    CHECK e, "formatted sector is not filled with 0xE5"
    inc di
    cmp di, 512
    jb .cmpf
    PRINTLN "format: track 2 head 0 filled"

    ; A cylinder in the command that is not under the head: ND and wrong cylinder.
    mov eax, 0x10000
    mov ecx, 512
    mov bl, 0x46
    call dma_setup
    mov si, read_wrong_cyl
    call fdc_rw
    cmp byte [es:RESULT], 0x40
    CHECK e, "wrong cylinder: ST0 is not 0x40"
    cmp byte [es:RESULT + 1], 0x04
    CHECK e, "wrong cylinder: ST1 is not ND"
    cmp byte [es:RESULT + 2], 0x10
    CHECK e, "wrong cylinder: ST2 is not WC"
    ; At another data rate the medium shows no ID fields: READ ID says missing address mark.
    mov dx, FDC_DIR
    mov al, WRONG_RATE
    out dx, al
    mov si, read_id
    call fdc_rw
    cmp word [es:RESULT], 0x0140
    CHECK e, "READ ID at the wrong data rate: not ST0 40, ST1 MA"
    mov dx, FDC_DIR
    mov al, RATE
    out dx, al
    mov si, read_id
    call fdc_rw
    cmp word [es:RESULT], 0x0000
    CHECK e, "READ ID at the medium's rate failed"
    cmp byte [es:RESULT + 3], 2
    CHECK e, "READ ID: cylinder is not 2"
    PRINTLN "errors: wrong cylinder, wrong data rate"

    ; DMA to an address outside guest RAM (this guest has 8 MiB; page 0xF0 is 15 MiB):
    ; the transfer completes and nothing breaks.
    mov eax, 0xf00000
    mov ecx, 512
    mov bl, 0x46
    call dma_setup
    mov cl, 1
    call seek
    mov si, read_c1h1s5
    call fdc_rw
    cmp byte [es:RESULT], 0x04
    CHECK e, "read into memory outside RAM did not end normally"
    ; With channel 2 masked the controller gets no DMA service: overrun.
    mov al, 0x06
    out 0x0a, al
    mov si, read_c1h1s5
    call fdc_rw
    cmp word [es:RESULT], 0x1044
    CHECK e, "read with the DMA channel masked: not ST0 44, ST1 OR"
    PRINTLN "dma: outside RAM ignored, masked channel overruns"

    ; Non-DMA mode: SPECIFY with ND, read sector 1 of cylinder 1 through the FIFO.
    mov al, 0x03
    call fdc_cmd_byte
    mov al, 0xdf
    call fdc_cmd_byte
    mov al, 0x03
    call fdc_cmd_byte
    mov si, read_c1h0s1
    call fdc_send
    mov di, 0
.pio:
    mov dx, FDC_MSR
    in al, dx
    cmp al, 0xf0
    CHECK e, "non-DMA read: MSR is not F0 in the execution phase"
    mov dx, FDC_FIFO
    in al, dx
    mov [fs:di], al
    inc di
    cmp di, 512
    jb .pio
    call read_results
    cmp word [es:RESULT], 0x8040
    CHECK e, "non-DMA read: not ST0 40, ST1 EN at the end of the track"
    mov bx, 2 * SPT
    xor di, di
    call check_sector
    PRINTLN "non-DMA read: sector 1 through the FIFO"

    PRINTLN "FDC: all checks passed"
    EXIT EXIT_PASS

; ---- helpers ----

irq6_isr:
    inc word [es:IRQ_COUNT]
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret

; Waits for an IRQ 6 after the last one seen.
wait_irq:
    push ecx
    mov ecx, 20000000
    sti
.w:
    cmp word [es:IRQ_COUNT], 0
    jne .got
    dec ecx
    jnz .w
    cli
    PRINTLN "FAIL: no IRQ 6"
    EXIT EXIT_FAIL
.got:
    cli
    mov word [es:IRQ_COUNT], 0
    pop ecx
    ret

; Sends al to the FIFO once RQM is set with DIO clear.
fdc_cmd_byte:
    push ecx
    push dx
    push ax
    mov dx, FDC_MSR
    mov ecx, 1000000
.w:
    in al, dx
    and al, 0xc0
    cmp al, 0x80
    je .ok
    dec ecx
    jnz .w
    PRINTLN "FAIL: FDC not ready for a command byte"
    EXIT EXIT_FAIL
.ok:
    pop ax
    mov dx, FDC_FIFO
    out dx, al
    pop dx
    pop ecx
    ret

; Reads a result byte into al once RQM and DIO are set.
fdc_result_byte:
    push ecx
    push dx
    mov dx, FDC_MSR
    mov ecx, 1000000
.w:
    in al, dx
    and al, 0xc0
    cmp al, 0xc0
    je .ok
    dec ecx
    jnz .w
    PRINTLN "FAIL: FDC has no result byte"
    EXIT EXIT_FAIL
.ok:
    mov dx, FDC_FIFO
    in al, dx
    pop dx
    pop ecx
    ret

; After a result phase the controller waits for a command: MSR = RQM only.
expect_idle:
    push dx
    mov dx, FDC_MSR
    in al, dx
    cmp al, 0x80
    CHECK e, "MSR is not 0x80 after the result phase"
    pop dx
    ret

; Reads result bytes into RESULT until the controller asks for a command.
read_results:
    push bx
    push dx
    xor bx, bx
.next:
    mov dx, FDC_MSR
    in al, dx
    and al, 0xc0
    cmp al, 0x80
    je .done
    call fdc_result_byte
    mov [es:RESULT + bx], al
    inc bx
    cmp bx, 16
    jb .next
.done:
    pop dx
    pop bx
    ret

; Sends the command at cs:si (a length byte, then the bytes).
fdc_send:
    push cx
    push si
    mov cl, [si]
    inc si
.next:
    mov al, [si]
    call fdc_cmd_byte
    inc si
    dec cl
    jnz .next
    pop si
    pop cx
    ret

; Sends the command at cs:si, waits for its interrupt and reads the result.
fdc_rw:
    mov word [es:IRQ_COUNT], 0
    call fdc_send
    call wait_irq
    jmp read_results

dumpreg:
    mov al, 0x0e
    call fdc_cmd_byte
    jmp read_results

; SENSE INTERRUPT STATUS after a seek: ST0 and PCN into RESULT.
sense_seek:
    mov al, 0x08
    call fdc_cmd_byte
    call fdc_result_byte
    mov [es:RESULT], al
    call fdc_result_byte
    mov [es:RESULT + 1], al
    ret

; Seeks drive 0 head 0 to cylinder cl.
seek:
    mov word [es:IRQ_COUNT], 0
    mov al, 0x0f
    call fdc_cmd_byte
    xor al, al
    call fdc_cmd_byte
    mov al, cl
    call fdc_cmd_byte
    call wait_irq
    jmp sense_seek

; Channel 2 for ecx bytes at physical eax, mode bl.
dma_setup:
    push eax
    mov al, 0x06                ; mask channel 2
    out 0x0a, al
    mov al, bl
    out 0x0b, al
    out 0x0c, al                ; any value resets the flip-flop
    pop eax
    out 0x04, al
    mov al, ah
    out 0x04, al
    shr eax, 16
    out 0x81, al
    dec ecx
    mov al, cl
    out 0x05, al
    mov al, ch
    out 0x05, al
    mov al, 0x02                ; unmask channel 2
    out 0x0a, al
    ret

; The 7 result bytes must equal those at cs:si.
check_result7:
    xor bx, bx
.next:
    mov al, [si + bx]
    cmp [es:RESULT + bx], al
    jne .bad
    inc bx
    cmp bx, 7
    jb .next
    ret
.bad:
    PRINT "FAIL: result bytes"
    xor bx, bx
.dump:
    mov al, ' '
    call putc
    mov al, [es:RESULT + bx]
    call print_hex8
    inc bx
    cmp bx, 7
    jb .dump
    call newline
    EXIT EXIT_FAIL

; The sector at fs:di must be LBA bx's pattern.
check_sector:
    push cx
    push di
    cmp [fs:di], bx
    jne .bad
    add di, 2
    mov cx, 2
.next:
    mov ax, cx
    add ax, bx
    cmp [fs:di], al
    jne .bad
    inc di
    inc cx
    cmp cx, 512
    jb .next
    pop di
    pop cx
    ret
.bad:
    PRINT "FAIL: sector data differs for LBA "
    mov ax, bx
    call print_hex16
    call newline
    EXIT EXIT_FAIL

; Commands: length, bytes. READ DATA is MT+MFM+SK (0xE6) as a BIOS sends it.
read_cyl1: db 9, 0xe6, 0x00, 1, 0, 1, 2, SPT, 0x1b, 0xff
expect_next_cyl: db 0x04, 0, 0, 2, 0, 1, 2
write_c1h1s5: db 9, 0xc5, 0x04, 1, 1, 5, 2, 5, 0x1b, 0xff
expect_after_write: db 0x04, 0, 0, 2, 0, 1, 2
read_c1h1s5: db 9, 0xe6, 0x04, 1, 1, 5, 2, 5, 0x1b, 0xff
format_c2h0: db 6, 0x4d, 0x00, 2, SPT, 0x54, 0xe5
read_c2h0s18: db 9, 0xe6, 0x00, 2, 0, SPT, 2, SPT, 0x1b, 0xff
read_wrong_cyl: db 9, 0xe6, 0x00, 5, 0, 1, 2, 1, 0x1b, 0xff
read_id: db 2, 0x4a, 0x00
read_c1h0s1: db 9, 0x66, 0x00, 1, 0, 1, 2, 1, 0x1b, 0xff

GUEST_END
