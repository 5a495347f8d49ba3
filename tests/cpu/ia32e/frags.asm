; SPDX-License-Identifier: GPL-2.0-or-later
; Code fragments of the IA-32e test (tests/cpu/ia32e.c), loaded at 0x10000 and run
; one by one in 32-bit flat protected mode, later in IA-32e compatibility mode, each
; entered at the address the table at the start gives and ended by HLT or a fault.
; The page tables are built by the C side (see there for the map).
bits 32
org 0x10000

EFER equ 0xc0000080

table:
    dd enter, nx_fetch, ro_write, np_read, np_write, rsvd_read, clear_pae, lme_change
    dd go64, leave, pg_without_pae, read_again, wrmsr_lme
    dd int80, int81, int82, ltr_ax, lldt_ax

; PAE, then EFER.LME and NXE, CR3, then CR0.PG (and WP) activates IA-32e mode (SDM
; vol. 3, 9.8.5); then reads and a write through the new mappings.
enter:
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov ecx, EFER
    rdmsr
    or eax, 0x900
    wrmsr
    mov eax, 0x100000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000
    mov cr0, eax
    mov ecx, EFER
    rdmsr
    mov esi, eax                    ; EFER with LMA
    mov eax, [0x200010]             ; 2 MiB page: physical 0x600010
    mov ebx, [0x40007000]           ; 1 GiB page: physical 0x7000
    mov dword [0x200020], 0x11223344
    mov edx, [0x1f0000]             ; read-only 4 KiB page: physical 0x5000
    hlt

nx_fetch:
    jmp 0x400000                    ; a 2 MiB page with XD set
ro_write:
    mov dword [0x1f0004], 1         ; CR0.WP: #PF even at CPL 0
np_read:
    mov eax, [0x1f1008]
np_write:
    mov byte [0x1f1ffc], 1
rsvd_read:
    mov eax, [0x600000]             ; a 2 MiB entry with bit 13 set
clear_pae:
    mov eax, cr4
    and eax, ~0x20
    mov cr4, eax
lme_change:
    mov ecx, EFER
    rdmsr
    and eax, ~0x100
    wrmsr
go64:
    jmp 0x18:0x10000                ; a code segment with L set
leave:
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov ecx, EFER
    rdmsr
    hlt
pg_without_pae:
    mov eax, cr4
    and eax, ~0x20
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    hlt
read_again:
    mov eax, [0x200010]
    mov ebx, [0x40007000]
    hlt
wrmsr_lme:
    mov ecx, EFER
    rdmsr
    or eax, 0x100
    wrmsr
    hlt
int80:
    int 0x80                        ; a 64-bit trap gate, DPL 3
    hlt
int81:
    int 0x81                        ; a gate to a 32-bit code segment
int82:
    int 0x82                        ; a gate that is not present
ltr_ax:
    ltr ax                          ; 16-byte TSS descriptors in IA-32e mode
    hlt
lldt_ax:
    lldt ax
    hlt
