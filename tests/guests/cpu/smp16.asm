; SPDX-License-Identifier: GPL-2.0-or-later
; Several processors without leaving real mode (-smp N, N from CMOS byte 0x5F), so that
; it runs on every CPU back end, KVM on a paravirtual (PVM) host included, which runs
; real-mode code but not protected-mode guests. Run with -vga none: the legacy video
; window at A0000h is then a hole where the local APIC can be moved.
;  1. The BSP moves its local APIC from FEE00000h to A0000h through IA32_APIC_BASE (SDM
;     vol. 3, 10.4.5: software may relocate the APIC's 4 KiB page) and checks that the
;     APIC answers there: its version register, ID 0, the TPR reading back.
;  2. It starts the APs with INIT, STARTUP, STARTUP to all but itself (SDM vol. 3,
;     8.4.4.1), each IPI sent once the ICR's delivery status is idle. Each AP wakes in
;     real mode at the STARTUP vector's page, moves its own APIC to A0000h (every
;     processor has its own IA32_APIC_BASE), reads its APIC ID there, compares it with
;     CPUID.1:EBX[31:24] and CPUID.0Bh:EDX and prints one line with the package's
;     logical processor count from leaf 0Bh's core level.
;  3. All CPUs together add 1 to a shared counter ITER times with LOCK ADD and take
;     ITER tickets with LOCK XADD: the totals are exact and the tickets' sum is that of
;     0 .. total-1 (no ticket given twice). Each CPU set its TPR to (APIC ID + 1) * 10h
;     and software-enabled its APIC before, and finds both so after (a savevm taken
;     meanwhile must bring back every local APIC, not only the registers).
;  4. The BSP masks IRQs in both 8259s, resets the machine through the 8042 (a marker
;     in RAM survives) and does it all again: after the reset every AP must wait for its
;     STARTUP IPI again (none runs before the BSP sends them), every IA32_APIC_BASE must
;     be back at FEE00000h and the 8259s' masks clear (the reset initializes them as
;     ICW1 does, 8259A datasheet: the mask register cleared).
%include "guest.inc"

ITER       equ 20000
LAPIC_LOW  equ 0xa0000          ; where the local APICs go
LAPIC_SEG  equ LAPIC_LOW >> 4
TRAMP_SEG  equ 0x1000           ; STARTUP vector 10h: the APs begin at 1000:0000
VARS_SEG   equ 0x2000           ; shared variables at 20000h, each on its own cache line
AP_STACKS  equ 0x8000           ; 1 KiB per CPU, by APIC ID

NCPUS      equ 0x000
ALIVE      equ 0x040
GO         equ 0x080
DONE       equ 0x0c0
CNT_ADD    equ 0x100
CNT_XADD   equ 0x140
XADD_SUM   equ 0x180
PRINTLOCK  equ 0x1c0
SEEN       equ 0x200            ; a bit per APIC ID that reported
BAD        equ 0x240            ; APs whose CPUID and APIC ID disagree
MARKER     equ 0x280            ; 'PASS' once the first round is done: the second round
ROUND      equ 0x2c0

%macro WAIT_ICR 0
%%busy:
    test dword [gs:0x300], 1 << 12
    jz %%idle
    pause
    jmp %%busy
%%idle:
%endmacro

GUEST_START
guest_main:
    mov ax, VARS_SEG
    mov fs, ax
    mov eax, 1
    cmp dword [fs:MARKER], 'PASS'
    jne .first
    mov eax, 2
.first:
    mov [fs:ROUND], eax
    PRINT "smp16: round "
    call print_hex8
    call newline
    in al, 0x21
    mov ah, al
    in al, 0xa1
    test ax, ax
    CHECK z, "the 8259s' masks survived the reset"
    PRINTLN "smp16: the 8259s' masks are clear"
    ; An AP that runs before its STARTUP IPI comes here from the reset vector too, and
    ; fails here: IA32_APIC_BASE: the BSP flag, enabled, at FEE00000h after power-on and reset.
    mov ecx, 0x1b
    rdmsr
    test eax, 1 << 8
    CHECK nz, "a CPU other than the BSP runs the reset vector"
    mov ebx, eax
    and ebx, 0xfffff900
    cmp ebx, 0xfee00900
    CHECK e, "IA32_APIC_BASE is not FEE00000h, enabled, BSP after reset"
    ; 1. The BSP's APIC at A0000h.
    and eax, 0xfff
    or eax, LAPIC_LOW
    xor edx, edx
    wrmsr
    rdmsr
    and eax, 0xfffff000
    cmp eax, LAPIC_LOW
    CHECK e, "IA32_APIC_BASE did not take the new base"
    mov ax, LAPIC_SEG
    mov gs, ax
    mov eax, [gs:0x30]
    mov ebx, eax
    and bl, 0xf0
    cmp bl, 0x10
    CHECK e, "no local APIC version register at A0000h"
    PRINT "smp16: local APIC at 000a0000, version "
    call print_hex32
    call newline
    mov eax, [gs:0x20]
    shr eax, 24
    CHECK z, "the BSP's APIC ID is not 0"
    mov dword [gs:0x80], 0x20
    mov eax, [gs:0x80]
    and eax, 0xff
    cmp eax, 0x20
    CHECK e, "the TPR at A0000h does not read back"
    mov dword [gs:0x80], 0x10   ; the TPR, (APIC ID + 1) * 10h, checked after counting
    mov dword [gs:0xf0], 0x1ff  ; software-enabled, spurious vector FFh
    ; The shared variables.
    xor eax, eax
    mov [fs:ALIVE], eax
    mov [fs:GO], eax
    mov [fs:DONE], eax
    mov [fs:CNT_ADD], eax
    mov [fs:CNT_XADD], eax
    mov [fs:XADD_SUM], eax
    mov [fs:PRINTLOCK], eax
    mov [fs:BAD], eax
    mov dword [fs:SEEN], 1      ; the BSP, APIC ID 0
    mov al, 0x5f
    out 0x70, al
    in al, 0x71
    movzx eax, al
    inc eax
    mov [fs:NCPUS], eax
    cmp eax, 1
    je .alone
    ; 2. INIT-SIPI-SIPI into a far jump to ap_entry.
    mov ax, TRAMP_SEG
    mov es, ax
    mov byte [es:0], 0xea
    mov word [es:1], ap_entry
    mov word [es:3], 0xf000
    xor ax, ax
    mov es, ax
    mov dword [gs:0x310], 0
    mov dword [gs:0x300], 0x000c4500                    ; INIT, all excluding self
    WAIT_ICR
    mov dword [gs:0x300], 0x000c4600 | (TRAMP_SEG >> 8)  ; STARTUP
    WAIT_ICR
    mov dword [gs:0x300], 0x000c4600 | (TRAMP_SEG >> 8)
    WAIT_ICR
    mov ebx, [fs:NCPUS]
    dec ebx
    mov ecx, 200000000
.wait_alive:
    cmp [fs:ALIVE], ebx
    je .all_alive
    pause
    dec ecx
    jnz .wait_alive
    PRINTLN "FAIL: not every AP started"
    EXIT EXIT_FAIL
.all_alive:
    PRINT "smp16: CPUs started by INIT-SIPI-SIPI: "
    mov eax, [fs:NCPUS]
    call print_hex32
    PRINT ", APIC IDs "
    mov eax, [fs:SEEN]
    call print_hex32
    call newline
    cmp dword [fs:BAD], 0
    CHECK e, "an AP's CPUID APIC ID differs from its APIC ID register"
.alone:
    ; 3. Everyone counts.
    mov dword [fs:GO], 1
    call count
    xor ebp, ebp
    call apic_still_set
    CHECK e, "the BSP's TPR or spurious vector register changed while it counted"
    mov ebx, [fs:NCPUS]
    dec ebx
    mov ecx, 400000000
.wait_done:
    cmp [fs:DONE], ebx
    je .all_done
    pause
    dec ecx
    jnz .wait_done
    PRINTLN "FAIL: not every AP finished counting"
    EXIT EXIT_FAIL
.all_done:
    mov eax, [fs:NCPUS]
    imul eax, eax, ITER
    mov ebx, eax                ; total
    cmp [fs:CNT_ADD], ebx
    CHECK e, "LOCK ADD lost increments"
    cmp [fs:CNT_XADD], ebx
    CHECK e, "LOCK XADD lost increments"
    lea ecx, [ebx - 1]
    mul ecx
    shrd eax, edx, 1            ; total * (total - 1) / 2, mod 2^32
    cmp [fs:XADD_SUM], eax
    CHECK e, "LOCK XADD gave a ticket twice"
    PRINT "smp16: LOCK ADD and LOCK XADD totals exact: "
    mov eax, ebx
    call print_hex32
    call newline
    cmp dword [fs:BAD], 0
    CHECK e, "an AP's TPR or spurious vector register changed while it counted"
    PRINTLN "smp16: every local APIC kept its TPR and enable"
    ; 4. Once more after a reset.
    cmp dword [fs:ROUND], 2
    je .finished
    mov dword [fs:MARKER], 'PASS'
    mov al, 0x5a
    out 0x21, al
    mov al, 0xa5
    out 0xa1, al
    PRINTLN "smp16: resetting"
    mov al, 0xfe
    out 0x64, al
.wait_reset:
    hlt
    jmp .wait_reset
.finished:
    mov dword [fs:MARKER], 0
    PRINTLN "smp16: all checks passed"
    EXIT EXIT_PASS

; Every CPU: ITER LOCK ADDs and ITER LOCK XADD tickets, whose values it sums.
count:
    mov ecx, ITER
.next:
    lock add dword [fs:CNT_ADD], 1
    mov eax, 1
    lock xadd [fs:CNT_XADD], eax
    lock add [fs:XADD_SUM], eax
    dec ecx
    jnz .next
    ret

; ZF set when this CPU's TPR is still (ebp + 1) * 10h and its APIC software-enabled with
; spurious vector FFh.
apic_still_set:
    lea eax, [ebp + 1]
    shl eax, 4
    cmp [gs:0x80], eax
    jne .out
    cmp dword [gs:0xf0], 0x1ff
.out:
    ret

; The APs, in real mode at F000:ap_entry with CS = F000.
ap_entry:
    cli
    mov ecx, 0x1b
    rdmsr
    mov ebx, eax
    and ebx, 0xfffff900
    cmp ebx, 0xfee00800         ; enabled, not the BSP, at the default base
    mov esi, 0
    je .base_ok
    mov esi, 1
.base_ok:
    and eax, 0xfff
    or eax, LAPIC_LOW
    xor edx, edx
    wrmsr
    mov ax, LAPIC_SEG
    mov gs, ax
    mov ebp, [gs:0x20]
    shr ebp, 24                 ; APIC ID
    xor ax, ax
    mov ss, ax
    mov ax, bp
    inc ax
    shl ax, 10
    add ax, AP_STACKS
    movzx esp, ax
    mov ax, cs
    mov ds, ax
    mov ax, VARS_SEG
    mov fs, ax
    cld
    mov eax, 1
    cpuid
    shr ebx, 24                 ; CPUID's initial APIC ID
    push ebx
    ; Leaf 0Bh (SDM vol. 2A, CPUID): level 0's EDX is the x2APIC ID, level 1's EBX the
    ; logical processors of the package. edi = -1 without the leaf.
    push dword 0
    or edi, -1
    xor eax, eax
    cpuid
    cmp eax, 0xb
    jb .no_leaf_b
    mov eax, 0xb
    xor ecx, ecx
    cpuid
    mov edi, edx
    mov eax, 0xb
    mov ecx, 1
    cpuid
    movzx ebx, bx
    mov [esp], ebx
.no_leaf_b:
    pop ecx                     ; logical processors in the package
    pop ebx
    ; One line at a time on the serial port.
.lock:
    mov al, 1
    xchg [fs:PRINTLOCK], al
    test al, al
    jz .locked
    pause
    jmp .lock
.locked:
    PRINT "smp16: AP with APIC ID "
    mov eax, ebp
    call print_hex32
    PRINT " started, CPUID says "
    mov eax, ebx
    call print_hex32
    PRINT ", leaf 0Bh "
    mov eax, edi
    call print_hex32
    PRINT " of "
    mov eax, ecx
    call print_hex32
    test esi, esi
    jz .printed
    PRINT ", IA32_APIC_BASE was not FEE00800h"
.printed:
    call newline
    mov byte [fs:PRINTLOCK], 0
    cmp ebx, ebp
    jne .bad
    cmp edi, ebp
    jne .bad
    test esi, esi
    jz .good
.bad:
    lock inc dword [fs:BAD]
.good:
    lea eax, [ebp + 1]
    shl eax, 4
    mov [gs:0x80], eax
    mov dword [gs:0xf0], 0x1ff
    lock bts dword [fs:SEEN], ebp
    lock inc dword [fs:ALIVE]
.wait_go:
    cmp dword [fs:GO], 0
    jne .go
    pause
    jmp .wait_go
.go:
    call count
    call apic_still_set
    je .still_set
    lock inc dword [fs:BAD]
.still_set:
    lock inc dword [fs:DONE]
.halt:
    cli
    hlt
    jmp .halt

GUEST_END
