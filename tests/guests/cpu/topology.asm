; SPDX-License-Identifier: GPL-2.0-or-later
; CPUID's view of -smp's topology, on every processor: the BSP starts the APs with
; INIT-SIPI-SIPI (SDM vol. 3, 8.4.4.1), then each CPU in turn compares what CPUID says
; about it with its local APIC's ID register and prints one line:
;   topo: apic A leaf1 B pkg-ids C core-ids D smt-shift E threads F pkg-shift G logical H
; A the APIC ID register's ID, B CPUID.1:EBX[31:24] (must be A), C CPUID.1:EBX[23:16]
; (0 without HTT), D CPUID.4.0:EAX[31:26] + 1, E/F CPUID.0Bh.0:EAX/EBX (SMT level),
; G/H CPUID.0Bh.1:EAX/EBX (core level); CPUID.0Bh:EDX must be A on both levels and
; the level types SMT (1) and core (2), level 2 invalid. The test compares the lines
; with the topology it asked for.
%include "cpu.inc"
%include "ap.inc"

NCPUS      equ 0x40000
ALIVE      equ 0x40040
TURN       equ 0x40080          ; how many CPUs have printed; the next one prints

%macro IPI 2
    mov dword [LAPIC + 0x310], %1
    mov dword [LAPIC + 0x300], %2
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov dword [ALIVE], 0
    mov dword [TURN], 0
    mov dword [LOCKV], 0
    AP_COUNT
    mov [NCPUS], eax
    xor eax, eax
    cpuid
    cmp eax, 0xb
    CHECK32 ae, "CPUID's highest basic leaf is below 0Bh"
    mov dword [LAPIC + 0xf0], 0x1ff
    PRINT32 "topo: CPUs "
    mov eax, [NCPUS]
    call print_hex32_32
    call newline32
    cmp dword [NCPUS], 1
    je .alone
    AP_START_ALL
    mov ebx, [NCPUS]
    dec ebx
    mov ecx, 400000000
.wait_alive:
    cmp [ALIVE], ebx
    je .alone
    pause
    dec ecx
    jnz .wait_alive
    FAIL "not every AP started"
.alone:
    call report
    ; everyone printed
    mov ebx, [NCPUS]
    mov ecx, 400000000
.wait_all:
    cmp [TURN], ebx
    je .done
    pause
    dec ecx
    jnz .wait_all
    FAIL "not every CPU reported"
.done:
    PRINTLN32 "topo: all checks passed"
    EXIT EXIT_PASS

; Waits for its turn (the BSP first, then the APs in the order they get the lock),
; checks and prints this CPU's line.
report:
.take:
    mov eax, 1
    xchg [LOCKV], eax
    test eax, eax
    jz .mine
    pause
    jmp .take
.mine:
    mov esi, [LAPIC + 0x20]
    shr esi, 24                 ; esi = APIC ID
    PRINT32 "topo: apic "
    mov eax, esi
    call print_hex32_32
    mov eax, 1
    cpuid
    mov edi, edx                ; CPUID.1:EDX
    mov eax, ebx
    shr eax, 24
    cmp eax, esi
    CHECK32 e, "CPUID.1:EBX[31:24] is not this CPU's APIC ID"
    PRINT32 " leaf1 "
    call print_hex32_32
    PRINT32 " pkg-ids "
    xor eax, eax
    bt edi, 28                  ; HTT
    jnc .no_htt
    mov eax, ebx
    shr eax, 16
    and eax, 0xff
.no_htt:
    call print_hex32_32
    PRINT32 " core-ids "
    mov eax, 4
    xor ecx, ecx
    cpuid
    test al, 0x1f
    CHECK32 nz, "CPUID.4.0 describes no cache"
    shr eax, 26
    inc eax
    call print_hex32_32
    ; 0Bh level 0: SMT
    mov eax, 0xb
    xor ecx, ecx
    cpuid
    cmp edx, esi
    CHECK32 e, "CPUID.0Bh.0:EDX is not this CPU's APIC ID"
    cmp ecx, 0x100
    CHECK32 e, "CPUID.0Bh.0:ECX is not level 0 of type SMT"
    PRINT32 " smt-shift "
    call print_hex32_32
    PRINT32 " threads "
    mov eax, ebx
    call print_hex32_32
    ; level 1: core
    mov eax, 0xb
    mov ecx, 1
    cpuid
    cmp edx, esi
    CHECK32 e, "CPUID.0Bh.1:EDX is not this CPU's APIC ID"
    cmp ecx, 0x201
    CHECK32 e, "CPUID.0Bh.1:ECX is not level 1 of type core"
    PRINT32 " pkg-shift "
    call print_hex32_32
    PRINT32 " logical "
    mov eax, ebx
    call print_hex32_32
    call newline32
    ; level 2: invalid, EBX 0
    mov eax, 0xb
    mov ecx, 2
    cpuid
    test ebx, ebx
    CHECK32 z, "CPUID.0Bh.2:EBX is not 0"
    cmp ecx, 2
    CHECK32 e, "CPUID.0Bh.2:ECX is not level 2 of type invalid"
    lock inc dword [TURN]
    mov dword [LOCKV], 0
    ret

LOCKV equ 0x400c0

AP_ENTRY ap_main

[bits 32]
ap_main:
    lock inc dword [ALIVE]
    call report
.halt:
    cli
    hlt
    jmp .halt

[bits 16]
CPU_LIBRARY
GUEST_END
