; SPDX-License-Identifier: GPL-2.0-or-later
; The PIIX3 IDE controller without a BIOS: the guest programs the PCI function itself and
; drives the registers as a driver would. Drives (from storage.py):
;   primary master   disk: sector i holds the dwords i*0x1000 + j (j = 0..127)
;   primary slave    a 160 GiB qcow2 with the same pattern at LBA 300000000 and up
;   secondary master CD-ROM with an ISO 9660 image
; Sectors the guest writes hold 0xC0000000 + i*0x1000 + j; storage.py checks them in the
; image files afterwards. Interrupts stay off: the guest polls status registers.
%include "guest.inc"

PCI_IDE equ 0x80000900          ; bus 0, device 1, function 1
BMBASE equ 0xc000               ; where the guest puts BAR4
PRD equ 0x8000                  ; PRD table (physical)
HIGH_LBA equ 300000000          ; past 128 GiB: needs LBA48

GUEST_START
guest_main:
    ; Variables at 0:0500 (fs), the PIO buffer at 1000:0000 (es); ds is the ROM.
    xor ax, ax
    mov fs, ax
    mov ax, 0x1000
    mov es, ax
    ; --- the PCI function ---------------------------------------------------------
    mov eax, PCI_IDE
    call pci_read
    cmp eax, 0x70108086
    CHECK e, "no PIIX3 IDE (8086:7010) at 00:01.1"
    mov eax, PCI_IDE + 8
    call pci_read
    shr eax, 8
    cmp eax, 0x010180
    CHECK e, "class code is not IDE with bus master, legacy mode"
    ; Before the decode enable the legacy ports do not answer.
    mov dx, 0x1f7
    in al, dx
    cmp al, 0xff
    CHECK e, "ports 1F0-1F7 decode before IDETIM bit 15 is set"
    mov eax, PCI_IDE + 0x20
    mov ebx, BMBASE
    call pci_write
    mov eax, PCI_IDE + 0x40
    mov ebx, 0x80008000         ; IDETIM primary and secondary: decode enable
    call pci_write
    mov eax, PCI_IDE + 4
    mov ebx, 0x0005             ; I/O space, bus master
    call pci_write
    PRINTLN "PIIX3 IDE 8086:7010 enabled"

    ; --- software reset and signatures (ATA-6 9.3, 9.12) ----------------------------
    mov word [fs:io], 0x1f0
    call soft_reset
    mov byte [fs:devsel], 0xa0
    call select
    call read_signature
    cmp eax, 0x00000101
    CHECK e, "master signature is not a disk's"
    mov byte [fs:devsel], 0xb0
    call select
    call read_signature
    cmp eax, 0x00000101
    CHECK e, "slave signature is not a disk's"
    mov word [fs:io], 0x170
    call soft_reset
    mov byte [fs:devsel], 0xa0
    call select
    call read_signature
    cmp eax, 0xeb140101
    CHECK e, "secondary master signature is not a packet device's (14h EBh)"
    PRINTLN "signatures: disk, disk, ATAPI"

    ; --- IDENTIFY DEVICE ----------------------------------------------------------
    mov word [fs:io], 0x1f0
    mov byte [fs:devsel], 0xa0
    call select
    mov al, 0xec
    call command
    call pio_in_sector
    CHECK nc, "IDENTIFY DEVICE failed"
    PRINT "master model "
    mov si, 27 * 2
    mov cx, 20
    call print_ata_string
    call newline
    PRINT "master LBA28 sectors "
    mov eax, [es:60 * 2 + buf_off]
    call print_dec
    call newline
    call check_identify_sum
    CHECK e, "IDENTIFY checksum (word 255) is wrong"

    mov byte [fs:devsel], 0xb0
    call select
    mov al, 0xec
    call command
    call pio_in_sector
    CHECK nc, "IDENTIFY DEVICE (slave) failed"
    PRINT "slave LBA48 sectors "
    mov eax, [es:100 * 2 + buf_off]
    mov edx, [es:102 * 2 + buf_off]
    test edx, edx
    CHECK z, "slave size beyond 2^32 sectors"
    call print_dec
    call newline
    PRINT "slave LBA28 sectors "
    mov eax, [es:60 * 2 + buf_off]
    call print_dec
    call newline

    ; --- PIO reads ------------------------------------------------------------------
    mov byte [fs:devsel], 0xe0
    call select
    mov eax, 1
    mov cl, 4
    call set_lba28
    mov al, 0x20                ; READ SECTORS
    call command
    xor di, di
    mov cx, 4
.read4:
    push cx
    call pio_in_sector_at
    pop cx
    CHECK nc, "READ SECTORS: no data"
    add di, 512
    loop .read4
    xor di, di
    mov ebx, 1
    mov cx, 4
    call verify_pattern
    CHECK e, "READ SECTORS LBA 1-4: wrong data"
    call wait_ready
    test al, 0x89
    CHECK z, "READ SECTORS: BSY, DRQ or ERR left set"
    PRINTLN "PIO read LBA28 OK"

    ; CHS: INITIALIZE DEVICE PARAMETERS 16 heads, 63 sectors; C/H/S 1/2/3 = LBA 1136.
    mov dx, [fs:io]
    add dx, 2
    mov al, 63
    out dx, al
    mov dx, [fs:io]
    add dx, 6
    mov al, 0xa0 | 15
    out dx, al
    mov al, 0x91
    call command
    call wait_ready
    test al, 1
    CHECK z, "INITIALIZE DEVICE PARAMETERS failed"
    mov dx, [fs:io]
    add dx, 2
    mov al, 1
    out dx, al                  ; count
    inc dx
    mov al, 3
    out dx, al                  ; sector 3
    inc dx
    mov al, 1
    out dx, al                  ; cylinder 1
    inc dx
    xor al, al
    out dx, al
    inc dx
    mov al, 0xa0 | 2            ; CHS, head 2
    out dx, al
    mov al, 0x20
    call command
    xor di, di
    call pio_in_sector_at
    CHECK nc, "CHS READ SECTORS: no data"
    xor di, di
    mov ebx, 1136
    mov cx, 1
    call verify_pattern
    CHECK e, "CHS 1/2/3 did not read LBA 1136"
    PRINTLN "PIO read CHS OK"

    ; SET MULTIPLE 8, READ MULTIPLE 16 from LBA 200: two DRQ blocks of 8 sectors.
    mov dx, [fs:io]
    add dx, 2
    mov al, 8
    out dx, al
    mov byte [fs:devsel], 0xe0
    call select
    mov al, 0xc6
    call command
    call wait_ready
    test al, 1
    CHECK z, "SET MULTIPLE MODE 8 failed"
    mov eax, 200
    mov cl, 16
    call set_lba28
    mov al, 0xc4
    call command
    xor di, di
    call pio_in_block8
    CHECK nc, "READ MULTIPLE: first block"
    call pio_in_block8
    CHECK nc, "READ MULTIPLE: second block"
    xor di, di
    mov ebx, 200
    mov cx, 16
    call verify_pattern
    CHECK e, "READ MULTIPLE LBA 200-215: wrong data"
    PRINTLN "READ MULTIPLE OK"

    ; --- PIO writes -----------------------------------------------------------------
    xor di, di
    mov ebx, 1000
    mov cx, 3
    call fill_write_pattern
    mov eax, 1000
    mov cl, 3
    call set_lba28
    mov al, 0x30                ; WRITE SECTORS
    call command
    xor si, si
    mov cx, 3
.w3:
    push cx
    call pio_out_sector
    pop cx
    CHECK nc, "WRITE SECTORS: device did not ask for data"
    add si, 512
    loop .w3
    call wait_ready
    test al, 0x09
    CHECK z, "WRITE SECTORS ended with DRQ or ERR"

    xor di, di
    mov ebx, 1010
    mov cx, 8
    call fill_write_pattern
    mov eax, 1010
    mov cl, 8
    call set_lba28
    mov al, 0xc5                ; WRITE MULTIPLE, one block of 8
    call command
    xor si, si
    call wait_drq
    CHECK nc, "WRITE MULTIPLE: no DRQ"
    push ds
    push es
    pop ds
    mov dx, [fs:io]
    mov cx, 8 * 256
    rep outsw
    pop ds
    call wait_ready
    test al, 0x09
    CHECK z, "WRITE MULTIPLE ended with DRQ or ERR"
    mov al, 0xe7                ; FLUSH CACHE
    call command
    call wait_ready
    test al, 1
    CHECK z, "FLUSH CACHE failed"
    ; Read one back through the device.
    mov eax, 1001
    mov cl, 1
    call set_lba28
    mov al, 0x20
    call command
    mov di, 0x1000
    call pio_in_sector_at
    mov di, 0x1000
    mov ebx, 1001
    mov cx, 1
    call verify_write_pattern
    CHECK e, "LBA 1001 does not read back what was written"
    PRINTLN "PIO write OK"

    ; Beyond the end: IDNF.
    mov eax, 0x0ffffff0
    mov cl, 1
    call set_lba28
    mov al, 0x20
    call command
    call wait_ready
    test al, 1
    CHECK nz, "READ SECTORS past the end did not fail"
    mov dx, [fs:io]
    inc dx
    in al, dx
    test al, 0x10
    CHECK nz, "READ SECTORS past the end: no IDNF"
    ; An unknown command aborts.
    mov al, 0xfe
    call command
    call wait_ready
    test al, 1
    CHECK nz, "unknown command 0xFE did not set ERR"
    mov dx, [fs:io]
    inc dx
    in al, dx
    cmp al, 0x04
    CHECK e, "unknown command 0xFE: error register is not ABRT"
    PRINTLN "errors: IDNF past the end, ABRT for an unknown command"

    ; --- LBA48 on the slave ------------------------------------------------------
    mov byte [fs:devsel], 0xf0
    call select
    mov eax, HIGH_LBA
    mov cx, 2
    call set_lba48
    mov al, 0x24                ; READ SECTORS EXT
    call command
    xor di, di
    call pio_in_sector_at
    CHECK nc, "READ SECTORS EXT: no data"
    add di, 512
    call pio_in_sector_at
    CHECK nc, "READ SECTORS EXT: no second sector"
    xor di, di
    mov ebx, HIGH_LBA
    mov cx, 2
    call verify_pattern
    CHECK e, "READ SECTORS EXT at LBA 300000000: wrong data"
    xor di, di
    mov ebx, HIGH_LBA + 100
    mov cx, 2
    call fill_write_pattern
    mov eax, HIGH_LBA + 100
    mov cx, 2
    call set_lba48
    mov al, 0x34                ; WRITE SECTORS EXT
    call command
    xor si, si
    call pio_out_sector
    CHECK nc, "WRITE SECTORS EXT: no DRQ"
    mov si, 512
    call pio_out_sector
    CHECK nc, "WRITE SECTORS EXT: no second DRQ"
    call wait_ready
    test al, 0x09
    CHECK z, "WRITE SECTORS EXT ended with DRQ or ERR"
    mov al, 0xea                ; FLUSH CACHE EXT
    call command
    call wait_ready
    test al, 1
    CHECK z, "FLUSH CACHE EXT failed"
    ; READ NATIVE MAX ADDRESS EXT: the last LBA, high bytes through HOB.
    mov al, 0x27
    call command
    call wait_ready
    test al, 1
    CHECK z, "READ NATIVE MAX ADDRESS EXT failed"
    call read_lba48
    PRINT "slave max LBA "
    call print_dec
    call newline
    PRINTLN "LBA48 OK"

    ; --- bus-master DMA ----------------------------------------------------------
    ; The interrupt bit follows INTRQ, which nIEN would hold off: enable it (the CPU
    ; keeps IF clear, so nothing is delivered).
    mov dx, 0x3f6
    xor al, al
    out dx, al
    mov byte [fs:devsel], 0xe0
    call select
    ; Two descriptors: 8 KiB at 0x20000, 8 KiB at 0x24000 (EOT).
    push es
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0x20000
    mov dword [es:PRD + 4], 0x2000
    mov dword [es:PRD + 8], 0x24000
    mov dword [es:PRD + 12], 0x80002000
    pop es
    mov dx, BMBASE + 4
    mov eax, PRD
    out dx, eax
    mov dx, BMBASE + 2
    mov al, 0x06                ; clear error and interrupt
    out dx, al
    mov dx, BMBASE
    mov al, 0x08                ; direction: to memory
    out dx, al
    mov eax, 300
    mov cl, 32
    call set_lba28
    mov al, 0xc8                ; READ DMA
    call command
    mov dx, BMBASE
    mov al, 0x09                ; start
    out dx, al
    call wait_bm_irq
    CHECK nc, "READ DMA: no interrupt"
    mov dx, BMBASE + 2
    in al, dx
    test al, 0x03
    CHECK z, "READ DMA: bus master still active or in error"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    call wait_ready
    test al, 0x09
    CHECK z, "READ DMA: DRQ or ERR"
    push es
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov ebx, 300
    mov cx, 16
    call verify_pattern
    pop es
    CHECK e, "READ DMA: first descriptor's buffer is wrong"
    push es
    mov ax, 0x2400
    mov es, ax
    xor di, di
    mov ebx, 316
    mov cx, 16
    call verify_pattern
    pop es
    CHECK e, "READ DMA: second descriptor's buffer is wrong"
    PRINTLN "DMA read OK"

    ; WRITE DMA of 16 sectors at LBA 2000 from 0x20000.
    push es
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov ebx, 2000
    mov cx, 16
    call fill_write_pattern
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0x20000
    mov dword [es:PRD + 4], 0x80002000
    pop es
    mov dx, BMBASE + 2
    mov al, 0x06
    out dx, al
    mov dx, BMBASE
    mov al, 0x00                ; direction: from memory
    out dx, al
    mov eax, 2000
    mov cl, 16
    call set_lba28
    mov al, 0xca                ; WRITE DMA
    call command
    mov dx, BMBASE
    mov al, 0x01
    out dx, al
    call wait_bm_irq
    CHECK nc, "WRITE DMA: no interrupt"
    mov dx, BMBASE + 2
    in al, dx
    test al, 0x03
    CHECK z, "WRITE DMA: bus master still active or in error"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    call wait_ready
    test al, 0x09
    CHECK z, "WRITE DMA: DRQ or ERR"
    PRINTLN "DMA write OK"

    ; READ DMA of 64 sectors while the CPU sleeps in HLT until IRQ 14 (slave 8259 IRQ 6;
    ; vectors 08h and 70h): the completion must wake it.
    PIC_INIT
    mov al, 0xfb                ; cascade only
    out 0x21, al
    mov al, 0xbf                ; IRQ 14
    out 0xa1, al
    mov word [fs:0x76 * 4], ide_isr
    mov word [fs:0x76 * 4 + 2], cs
    mov byte [fs:irq_flag], 0
    push es
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0x20000
    mov dword [es:PRD + 4], 0x80008000
    pop es
    mov dx, BMBASE + 2
    mov al, 0x06
    out dx, al
    mov dx, BMBASE
    mov al, 0x08
    out dx, al
    mov eax, 400
    mov cl, 64
    call set_lba28
    mov al, 0xc8
    call command
    mov dx, BMBASE
    mov al, 0x09
    out dx, al
    mov ecx, 100000
    sti
.sleep:
    hlt
    cmp byte [fs:irq_flag], 0
    jne .woken
    dec ecx
    jnz .sleep
.woken:
    cli
    cmp byte [fs:irq_flag], 0
    CHECK ne, "READ DMA with HLT: no IRQ 14"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    push es
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov ebx, 400
    mov cx, 64
    call verify_pattern
    pop es
    CHECK e, "READ DMA with HLT: wrong data"
    PRINTLN "DMA read with IRQ 14 OK"

    ; READ DMA EXT on the slave at the high LBA.
    mov byte [fs:devsel], 0xf0
    call select
    push es
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0x20000
    mov dword [es:PRD + 4], 0x80000400
    pop es
    mov dx, BMBASE + 2
    mov al, 0x06
    out dx, al
    mov dx, BMBASE
    mov al, 0x08
    out dx, al
    mov eax, HIGH_LBA
    mov cx, 2
    call set_lba48
    mov al, 0x25
    call command
    mov dx, BMBASE
    mov al, 0x09
    out dx, al
    call wait_bm_irq
    CHECK nc, "READ DMA EXT: no interrupt"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    call wait_ready
    test al, 0x09
    CHECK z, "READ DMA EXT: DRQ or ERR"
    push es
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov ebx, HIGH_LBA
    mov cx, 2
    call verify_pattern
    pop es
    CHECK e, "READ DMA EXT: wrong data"
    PRINTLN "DMA read LBA48 OK"

    ; A descriptor pointing outside RAM: bus master error, interrupt, device ERR.
    mov byte [fs:devsel], 0xe0
    call select
    push es
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0xf0000000
    mov dword [es:PRD + 4], 0x80000200
    pop es
    mov dx, BMBASE + 2
    mov al, 0x06
    out dx, al
    mov dx, BMBASE
    mov al, 0x08
    out dx, al
    mov eax, 0
    mov cl, 1
    call set_lba28
    mov al, 0xc8
    call command
    mov dx, BMBASE
    mov al, 0x09
    out dx, al
    call wait_bm_irq
    CHECK nc, "bad PRD: no interrupt"
    mov dx, BMBASE + 2
    in al, dx
    and al, 0x07
    cmp al, 0x06
    CHECK e, "bad PRD: bus master status is not error + interrupt, inactive"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    call wait_ready
    test al, 1
    CHECK nz, "bad PRD: the device did not report ERR"
    ; And a PRD table that is itself outside RAM.
    mov dx, BMBASE + 4
    mov eax, 0xfffffff0
    out dx, eax
    mov dx, BMBASE + 2
    mov al, 0x06
    out dx, al
    mov eax, 0
    mov cl, 1
    call set_lba28
    mov al, 0xc8
    call command
    mov dx, BMBASE
    mov al, 0x09
    out dx, al
    call wait_bm_irq
    CHECK nc, "PRD table outside RAM: no interrupt"
    mov dx, BMBASE + 2
    in al, dx
    test al, 0x02
    CHECK nz, "PRD table outside RAM: no bus master error"
    mov dx, BMBASE
    mov al, 0
    out dx, al
    call wait_ready
    PRINTLN "bad PRD: error status, no crash"

    ; --- ATAPI ---------------------------------------------------------------------
    mov dx, 0x376
    xor al, al
    out dx, al
    mov word [fs:io], 0x170
    mov byte [fs:devsel], 0xa0
    call select
    mov al, 0xec                ; IDENTIFY DEVICE: a packet device aborts it
    call command
    call wait_ready
    test al, 1
    CHECK nz, "ATAPI: IDENTIFY DEVICE did not abort"
    mov al, 0xa1
    call command
    call pio_in_sector
    CHECK nc, "IDENTIFY PACKET DEVICE failed"
    mov ax, [es:buf_off]
    cmp ax, 0x85c0
    CHECK e, "IDENTIFY PACKET DEVICE word 0 is not a removable CD-ROM"
    PRINT "cd model "
    mov si, 27 * 2
    mov cx, 20
    call print_ata_string
    call newline
    mov si, cdb_tur
    call atapi_packet_pio
    test al, 1
    CHECK z, "TEST UNIT READY failed"
    mov si, cdb_capacity
    call atapi_packet_pio
    test al, 1
    CHECK z, "READ CAPACITY failed"
    mov eax, [es:buf_off]
    bswap eax
    inc eax
    PRINT "cd sectors "
    call print_dec
    call newline
    mov si, cdb_read16
    call atapi_packet_pio
    test al, 1
    CHECK z, "READ(10) of LBA 16 failed"
    cmp dword [es:buf_off], 0x30444301
    CHECK e, "READ(10) LBA 16 is no ISO 9660 primary volume descriptor"
    cmp word [fs:pio_bytes], 4 * 2048
    CHECK e, "READ(10) of 4 sectors did not move 8192 bytes"
    PRINTLN "ATAPI PIO READ(10) OK"
    mov si, cdb_toc
    call atapi_packet_pio
    test al, 1
    CHECK z, "READ TOC failed"
    cmp word [es:buf_off], 0x1200
    CHECK e, "READ TOC: data length is not 18"
    mov si, cdb_read_far
    call atapi_packet_pio
    test al, 1
    CHECK nz, "READ(10) past the end did not fail"
    mov si, cdb_sense
    call atapi_packet_pio
    mov al, [es:buf_off + 2]
    mov ah, [es:buf_off + 12]
    cmp ax, 0x2105
    CHECK e, "REQUEST SENSE after a read past the end is not 5/21h"
    PRINTLN "ATAPI sense: ILLEGAL REQUEST, LBA out of range"
    ; ATAPI DMA: READ(10) of LBA 16 through the secondary bus master.
    push es
    xor ax, ax
    mov es, ax
    mov dword [es:PRD], 0x20000
    mov dword [es:PRD + 4], 0x80000800
    mov ax, 0x2000
    mov es, ax
    mov dword [es:0], 0
    pop es
    mov dx, BMBASE + 8 + 4
    mov eax, PRD
    out dx, eax
    mov dx, BMBASE + 8 + 2
    mov al, 0x06
    out dx, al
    mov dx, BMBASE + 8
    mov al, 0x08
    out dx, al
    mov si, cdb_read1
    call atapi_packet_dma
    CHECK nc, "ATAPI DMA: no interrupt"
    push es
    mov ax, 0x2000
    mov es, ax
    cmp dword [es:0], 0x30444301
    pop es
    CHECK e, "ATAPI DMA READ(10) LBA 16: wrong data"
    PRINTLN "ATAPI DMA READ(10) OK"

    PRINTLN "IDE test passed"
    EXIT EXIT_PASS

; --- helpers -----------------------------------------------------------------------
ide_isr:                        ; IRQ 14: acknowledge the device and both 8259s
    push ax
    push dx
    mov dx, 0x1f7
    in al, dx
    mov byte [fs:irq_flag], 1
    mov al, 0x20
    out 0xa0, al
    out 0x20, al
    pop dx
    pop ax
    iret

buf_off equ 0                   ; PIO buffer: es:0 (es = 0x1000 after setup)

pci_read:                       ; eax = address -> eax = dword
    push dx
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    in eax, dx
    pop dx
    ret

pci_write:                      ; eax = address, ebx = value
    push dx
    mov dx, 0xcf8
    out dx, eax
    mov dx, 0xcfc
    mov eax, ebx
    out dx, eax
    pop dx
    ret

soft_reset:                     ; SRST with nIEN, then release
    mov dx, [fs:io]
    add dx, 0x206
    mov al, 0x06
    out dx, al
    mov al, 0x02
    out dx, al
    jmp wait_ready

select:
    mov dx, [fs:io]
    add dx, 6
    mov al, [fs:devsel]
    out dx, al
    ret

read_signature:                 ; eax = hcyl:lcyl:sector:nsector
    mov dx, [fs:io]
    add dx, 5
    in al, dx
    mov ah, al
    dec dx
    in al, dx
    shl eax, 16
    dec dx
    in al, dx
    mov ah, al
    dec dx
    in al, dx
    ret

command:                        ; al = command
    mov dx, [fs:io]
    add dx, 7
    out dx, al
    ret

; wait_ready: BSY clear; al = status (reading it acknowledges the interrupt)
wait_ready:
    push ecx
    mov ecx, 1000000
.l:
    mov dx, [fs:io]
    add dx, 7
    in al, dx
    test al, 0x80
    jz .done
    dec ecx
    jnz .l
.done:
    pop ecx
    ret

; wait_drq: CF clear when DRQ is set without ERR.
wait_drq:
    call wait_ready
    test al, 0x01
    jnz .bad
    test al, 0x08
    jz .bad
    clc
    ret
.bad:
    stc
    ret

set_lba28:                      ; eax = LBA, cl = count
    push eax
    mov dx, [fs:io]
    add dx, 2
    mov al, cl
    out dx, al
    pop eax
    inc dx
    out dx, al
    inc dx
    mov al, ah
    out dx, al
    inc dx
    shr eax, 16
    out dx, al
    inc dx
    mov al, ah
    and al, 0x0f
    or al, [fs:devsel]
    or al, 0x40
    out dx, al
    ret

set_lba48:                      ; eax = LBA (bits 0-31), cx = count
    push eax
    mov dx, [fs:io]
    add dx, 2
    mov al, ch
    out dx, al                  ; count high
    inc dx
    pop eax
    push eax
    shr eax, 24
    out dx, al                  ; LBA 31:24
    inc dx
    xor al, al
    out dx, al                  ; LBA 39:32
    inc dx
    out dx, al                  ; LBA 47:40
    mov dx, [fs:io]
    add dx, 2
    mov al, cl
    out dx, al                  ; count low
    inc dx
    pop eax
    out dx, al                  ; LBA 7:0
    inc dx
    mov al, ah
    out dx, al                  ; LBA 15:8
    inc dx
    shr eax, 16
    out dx, al                  ; LBA 23:16
    inc dx
    mov al, [fs:devsel]
    or al, 0x40
    out dx, al
    ret

read_lba48:                     ; eax = LBA 31:0 from the registers (HOB for the top)
    mov dx, [fs:io]
    add dx, 0x206
    mov al, 0x82                ; HOB, nIEN
    out dx, al
    mov dx, [fs:io]
    add dx, 3
    in al, dx
    movzx ebx, al
    shl ebx, 24
    mov dx, [fs:io]
    add dx, 0x206
    mov al, 0x02
    out dx, al
    mov dx, [fs:io]
    add dx, 5
    in al, dx
    movzx eax, al
    shl eax, 16
    or ebx, eax
    dec dx
    in al, dx
    mov ah, al
    dec dx
    in al, dx
    movzx eax, ax
    or eax, ebx
    ret

pio_in_sector:                  ; one 512-byte block to es:buf_off
    xor di, di
pio_in_sector_at:               ; to es:di (di kept)
    call wait_drq
    jc .out
    push di
    mov dx, [fs:io]
    mov cx, 256
    rep insw
    pop di
    clc
.out:
    ret

pio_in_block8:                  ; 8 sectors to es:di, di advances
    call wait_drq
    jc .out
    mov dx, [fs:io]
    mov cx, 8 * 256
    rep insw
    clc
.out:
    ret

pio_out_sector:                 ; es:si -> device (si kept)
    call wait_drq
    jc .out
    push si
    push ds
    push es
    pop ds
    mov dx, [fs:io]
    mov cx, 256
    rep outsw
    pop ds
    pop si
    clc
.out:
    ret

; verify_pattern: es:di, ebx = first LBA, cx sectors; ZF set when all match.
verify_pattern:
    xor edx, edx
    jmp verify_common
verify_write_pattern:
    mov edx, 0xc0000000
verify_common:
    push di
.sector:
    mov eax, ebx
    shl eax, 12
    or eax, edx
    push cx
    mov cx, 128
.dword:
    cmp [es:di], eax
    jne .bad
    inc eax
    add di, 4
    loop .dword
    pop cx
    inc ebx
    loop .sector
    pop di
    xor ax, ax                  ; ZF = 1
    ret
.bad:
    pop cx
    pop di
    or ax, 1                    ; ZF = 0
    ret

fill_write_pattern:             ; es:di, ebx = first LBA, cx sectors
    push di
.sector:
    mov eax, ebx
    shl eax, 12
    or eax, 0xc0000000
    push cx
    mov cx, 128
.dword:
    mov [es:di], eax
    inc eax
    add di, 4
    loop .dword
    pop cx
    inc ebx
    loop .sector
    pop di
    ret

print_ata_string:               ; es:si, cx words, first character in the high byte
.l:
    mov ax, [es:si]
    xchg al, ah
    call putc
    mov al, ah
    call putc
    add si, 2
    loop .l
    ret

check_identify_sum:             ; ZF set when the 512 bytes sum to 0 (mod 256)
    xor si, si
    xor ah, ah
    mov cx, 512
.l:
    add ah, [es:si]
    inc si
    loop .l
    test ah, ah
    ret

; wait_bm_irq: CF clear once the bus master's interrupt bit is set.
wait_bm_irq:
    push ecx
    mov ecx, 1000000
    mov bx, dx
    and bx, 0xfff8
    add bx, 2
.l:
    mov dx, bx
    in al, dx
    test al, 0x04
    jnz .ok
    dec ecx
    jnz .l
    pop ecx
    stc
    ret
.ok:
    pop ecx
    clc
    ret

; atapi_packet_pio: ds:si = 12-byte CDB; data to es:buf_off. al = final status,
; [fs:pio_bytes] = bytes moved.
atapi_packet_pio:
    mov word [fs:pio_bytes], 0
    mov dx, [fs:io]
    inc dx
    xor al, al
    out dx, al                  ; features: PIO
    add dx, 3
    mov al, 0x00
    out dx, al                  ; byte count limit 2048
    inc dx
    mov al, 0x08
    out dx, al
    mov al, 0xa0
    call command
    call wait_ready
    test al, 0x08
    jz .done
    mov dx, [fs:io]
    mov cx, 6
    rep outsw
    xor di, di
.data:
    call wait_ready
    test al, 0x08
    jz .done
    mov dx, [fs:io]
    add dx, 4
    in al, dx
    mov cl, al
    inc dx
    in al, dx
    mov ch, al
    add [fs:pio_bytes], cx
    shr cx, 1
    mov dx, [fs:io]
    rep insw
    jmp .data
.done:
    ret

; atapi_packet_dma: ds:si = CDB; the secondary bus master is set up. CF on timeout.
atapi_packet_dma:
    mov dx, [fs:io]
    inc dx
    mov al, 1
    out dx, al                  ; features: DMA
    mov al, 0xa0
    call command
    call wait_ready
    test al, 0x08
    jz .fail
    mov dx, [fs:io]
    mov cx, 6
    rep outsw
    mov dx, BMBASE + 8
    mov al, 0x09
    out dx, al
    call wait_bm_irq
    jc .fail
    mov dx, BMBASE + 8
    mov al, 0
    out dx, al
    call wait_ready
    test al, 1
    jnz .fail
    clc
    ret
.fail:
    stc
    ret

cdb_tur:      db 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_capacity: db 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
cdb_read16:   db 0x28, 0, 0, 0, 0, 16, 0, 0, 4, 0, 0, 0
cdb_read1:    db 0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0, 0, 0
cdb_read_far: db 0x28, 0, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, 0
cdb_sense:    db 0x03, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0
cdb_toc:      db 0x43, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0

io equ 0x500                    ; command block base of the channel in use
devsel equ 0x502                ; device/head register value: A0h/B0h (E0h/F0h with LBA)
pio_bytes equ 0x504             ; bytes the last ATAPI PIO command moved
irq_flag equ 0x506              ; set by the IRQ 14 handler
GUEST_END
