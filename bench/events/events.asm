; SPDX-License-Identifier: GPL-2.0-or-later
; The system-events benchmark's guest (the firmware itself, one CPU): ITERS rounds of
; one kind of event a kernel's work is made of, picked with -DEVENT=n, then the exit
; through isa-debug-exit (status 33). bench/events/run.py times two ITERS and takes the
; difference, so start-up and paging set-up drop out.
;   1  INT 0x30 in ring 0 to an interrupt gate whose handler IRETs
;   2  INT 0x80 from ring 3 (stack switch through the TSS) and IRET back
;   3  SYSENTER from ring 3 and SYSEXIT back (what Linux's 686 kernel uses)
;   4  page faults from ring 3: two pages, each fault maps its page and unmaps the other
;      (PTE write + INVLPG), so every access faults; two faults a round
;   5  MOV CR3 (a full TLB flush) and loads from four pages (four page walks)
;   6  IN from port 0x61 (a device register read: an exit to the device model)
; Paging is on (4 KiB pages identity-mapping the first 4 MiB, user-accessible), and
; code runs in flat segments as a current kernel's does.
%include "cpu.inc"

%ifndef ITERS
%define ITERS 1000
%endif
%ifndef EVENT
%define EVENT 1
%endif

FLAT_CODE0 equ 0x40          ; SYSENTER's order: code0, data0, code3, data3
FLAT_DATA0 equ 0x48
FLAT_CODE3 equ 0x50 | 3
FLAT_DATA3 equ 0x58 | 3
PD         equ 0x100000
PT0        equ 0x101000
PF_A       equ 0x300000      ; the two pages of the fault round
PF_B       equ 0x301000
WALK       equ 0x200000      ; four pages loaded after each CR3 write

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff                ; no interrupts from the PICs
    out 0x21, al
    out 0xa1, al
    mov esi, ROM(flat_descs)
    mov edi, GDT_ADDR + FLAT_CODE0
    mov ecx, (flat_descs_end - flat_descs) / 4
    rep movsd
    jmp FLAT_CODE0:ROM(flat_main)

flat_main:
    mov ax, FLAT_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov dword [TSS_ADDR + 8], FLAT_DATA0
    ; Page tables: PD[0] -> PT0, 1024 user pages identity-mapped; the fault pages absent.
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD], PT0 | 7
    mov edi, PT0
    mov eax, 7
    mov ecx, 1024
.pte:
    stosd
    add eax, 0x1000
    loop .pte
    and dword [PT0 + (PF_A >> 12) * 4], ~1
    and dword [PT0 + (PF_B >> 12) * 4], ~1
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    SETGATE 0x30, ROM(int_return), FLAT_CODE0, 0x8e
    SETGATE 0x80, ROM(int_return), FLAT_CODE0, 0xee
    SETGATE 0x81, ROM(finish), FLAT_CODE0, 0xee
    SETGATE 14, ROM(page_fault), FLAT_CODE0, 0x8e
    mov ecx, 0x174              ; SYSENTER_CS, _ESP, _EIP
    mov eax, FLAT_CODE0
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, STACK0 - 0x100
    wrmsr
    mov ecx, 0x176
    mov eax, ROM(sysenter_entry)
    wrmsr
    mov ebp, ITERS

%if EVENT == 1
.l: int 0x30
    dec ebp
    jnz .l
    jmp finish
%elif EVENT == 5
.l: mov eax, cr3
    mov cr3, eax
    mov eax, [WALK]
    mov eax, [WALK + 0x1000]
    mov eax, [WALK + 0x2000]
    mov eax, [WALK + 0x3000]
    dec ebp
    jnz .l
    jmp finish
%elif EVENT == 6
.l: in al, 0x61
    dec ebp
    jnz .l
    jmp finish
%else
    ; To ring 3 (interrupts off: IF clear in the pushed EFLAGS).
    push dword FLAT_DATA3
    push dword STACK3
    push dword 0x2
    push dword FLAT_CODE3
    push dword ROM(ring3)
    iret
%endif

ring3:
    mov ax, FLAT_DATA3
    mov ds, ax
    mov es, ax
%if EVENT == 2
.l: int 0x80
    dec ebp
    jnz .l
%elif EVENT == 3
.l: mov ecx, esp
    mov edx, ROM(.back)
    sysenter
.back:
    dec ebp
    jnz .l
%elif EVENT == 4
.l: mov eax, [PF_A]
    mov eax, [PF_B]
    dec ebp
    jnz .l
%endif
    int 0x81

int_return:
    iret

sysenter_entry:
    sysexit

; The faulting page becomes present, the other one absent (its TLB entry dropped).
page_fault:
    push eax
    push edx
    mov eax, cr2
    and eax, ~0xfff
    shr eax, 12
    or dword [PT0 + eax * 4], 1
    xor eax, (PF_A >> 12) ^ (PF_B >> 12)
    and dword [PT0 + eax * 4], ~1
    shl eax, 12
    invlpg [eax]
    pop edx
    pop eax
    add esp, 4                  ; the error code
    iret

finish:
    mov ax, FLAT_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK0
    PRINTLN32 "events: done"
    EXIT EXIT_PASS

    align 4
flat_descs:
    DESC 0, 0xfffff, 0x9a, 0xc  ; 40 code32 ring 0, flat
    DESC 0, 0xfffff, 0x92, 0xc  ; 48 data32 ring 0
    DESC 0, 0xfffff, 0xfa, 0xc  ; 50 code32 ring 3
    DESC 0, 0xfffff, 0xf2, 0xc  ; 58 data32 ring 3
flat_descs_end:

CPU_LIBRARY
GUEST_END
