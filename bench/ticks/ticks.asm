; SPDX-License-Identifier: GPL-2.0-or-later
; Counts the PIT's IRQ 0 interrupts (counter 0 at 1 kHz, through the master 8259) for
; 2 s measured by the HPET's main counter (100 MHz, the same virtual clock under Vireo
; and QEMU) and prints how many arrived: each interrupt the emulator could not deliver
; before the next edge merged with it in the 8259's IRR is a tick the guest lost. The
; vCPU waits with HLT, as an idle kernel does. Not a test: bench/ticks/run.py runs it.
%include "cpu.inc"

HPET        equ 0xfed00000
TICKS       equ 0x600
VEC_PIT     equ 0x20

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    ; 8259s at 0x20/0x28, only IRQ 0 unmasked
    PIC_INIT 0xfe, 0xff
    SETGATE VEC_PIT, pit_isr, SEL_CODE0, 0x8e
    cmp dword [HPET], 0x8086a201
    CHECK32 e, "no HPET at 0xFED00000"
    mov dword [HPET + 0x10], 1
    mov dword [TICKS], 0
    mov al, 0x34                ; counter 0, mode 2, 1193 counts: 1000.15 Hz
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov esi, [HPET + 0xf0]
    sti
.wait:
    hlt
    mov eax, [HPET + 0xf0]
    sub eax, esi
    cmp eax, 200000000          ; 2 s
    jb .wait
    cli
    PRINT32 "ticks: 0x"
    mov eax, [TICKS]
    call print_hex32_32
    PRINTLN32 " PIT interrupts in 2 s (2000 expected)"
    EXIT EXIT_PASS

pit_isr:
    inc dword [TICKS]
    push eax
    mov al, 0x20
    out 0x20, al
    pop eax
    iret

CPU_LIBRARY
GUEST_END
