; SPDX-License-Identifier: GPL-2.0-or-later
; Resets the PC every way a guest can, then powers it off through ACPI. RAM survives a
; reset, so a stage counter at 0x600 says where the guest is after each restart:
;   0: port 0xCF9 (PIIX3 reset control)     1: 8042 pulse command 0xFE
;   2: port 0x92 bit 0 (fast reset)
;   3: ACPI: PM I/O block on, ACPI enable through 0xB2, SLP_TYP S5 + SLP_EN
; (The triple fault has its own guest, triple-fault.asm.)
%include "guest.inc"

MAGIC equ 0x600
STAGE equ 0x602
PMBASE equ 0xb000

GUEST_START
guest_main:
    cmp word [es:MAGIC], 0x5652
    je .staged
    mov word [es:MAGIC], 0x5652
    mov word [es:STAGE], 0
.staged:
    mov ax, [es:STAGE]
    inc word [es:STAGE]
    cmp ax, 0
    je stage_cf9
    cmp ax, 1
    je stage_kbc
    cmp ax, 2
    je stage_port92
    jmp stage_acpi

stage_cf9:
    PRINTLN "stage 0: reset through port 0xCF9"
    mov dx, 0xcf9
    mov al, 0x02
    out dx, al
    mov al, 0x06
    out dx, al
    jmp no_reset

stage_kbc:
    PRINTLN "stage 1: reset through the 8042 (command 0xFE)"
.ibf:
    in al, 0x64
    test al, 2
    jnz .ibf
    mov al, 0xfe
    out 0x64, al
    jmp no_reset

stage_port92:
    PRINTLN "stage 2: reset through port 0x92"
    in al, 0x92
    and al, 0xfe
    out 0x92, al
    or al, 1
    out 0x92, al
    jmp no_reset

stage_acpi:
    PRINTLN "stage 3: ACPI power off"
    ; PIIX4 PM function 00:01.3: PMBASE (0x40) and the I/O space enable (0x80 bit 0).
    mov eax, 0x8000_0b40
    mov dx, 0xcf8
    out dx, eax
    mov eax, PMBASE | 1
    mov dx, 0xcfc
    out dx, eax
    mov eax, 0x8000_0b80
    mov dx, 0xcf8
    out dx, eax
    mov al, 1
    mov dx, 0xcfc
    out dx, al
    ; The PM timer runs at 3.58 MHz: two reads some time apart differ.
    mov dx, PMBASE + 8
    in eax, dx
    mov ebx, eax
    mov ecx, 100000
.spin:
    loop .spin
    in eax, dx
    cmp eax, ebx
    CHECK ne, "the ACPI PM timer does not count"
    ; ACPI mode: SCI_EN follows the ACPI_ENABLE value written to the APM port.
    mov al, 0xf1
    out 0xb2, al
    mov dx, PMBASE + 4
    in ax, dx
    test ax, 1
    CHECK nz, "SCI_EN not set after ACPI enable"
    PRINTLN "ACPI enabled; entering S5"
    mov ax, (0 << 10) | (1 << 13)
    out dx, ax
    PRINTLN "FAIL: still running after S5"
    EXIT EXIT_FAIL

no_reset:
    mov ecx, 10000000
.wait:
    loop .wait
    PRINTLN "FAIL: the reset did not happen"
    EXIT EXIT_FAIL

GUEST_END
