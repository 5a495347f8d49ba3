; SPDX-License-Identifier: GPL-2.0-or-later
; External interrupts in protected mode (PIT IRQ 0 through the 8259 at vector 0x20):
; STI; HLT waits, the one-instruction shadow after STI (an interrupt already pending
; is not taken between STI and CLI, but is after one more instruction), a long
; REP STOSB interrupted and resumed to the right result, a loop on registers alone
; interrupted, interrupts arriving in ring 3 (stack switch) and in V86 mode.
%include "cpu.inc"

TICKS    equ 0x580
STOPPED  equ 0x584
BIG      equ 0x1000000          ; 16 MiB, filled by REP STOSB
BIG_LEN  equ 0x2000000          ; 32 MiB

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    ; 8259: master at 0x20, slave at 0x28, only IRQ 0 unmasked
    PIC_INIT 0xfe, 0xff
    SETGATE 0x20, timer_isr, SEL_CODE0, 0x8e
    ; IRQ 0's edge can fall before the CPU acknowledges it (a 100 us period and a host
    ; that preempts the vCPU): the 8259 then answers with spurious IRQ 7, as on a PC.
    SETGATE 0x27, spurious_isr, SEL_CODE0, 0x8e
    SETGATE 0x30, back_to_ring0, SEL_CODE0, 0xee
    mov dword [TICKS], 0
    ; PIT counter 0, mode 2, 119 counts: about 10 kHz
    mov al, 0x34
    out 0x43, al
    mov ax, 119
    out 0x40, al
    mov al, ah
    out 0x40, al

    ; -- STI; HLT
    sti
.wait:
    hlt
    cmp dword [TICKS], 50
    jb .wait
    cli
    PRINTLN32 "irq: 50 timer interrupts with STI; HLT"

    ; -- the STI shadow: wait (IF = 0) until IRQ 0 is pending in the PIC's IRR. The
    ; counter runs one-shot (mode 0: OUT rises at terminal count and stays high), so
    ; the request stays pending however long the host keeps the vCPU away; in mode 2 the
    ; next count's falling edge would withdraw it (8259A: IR must stay high until INTA).
    mov al, 0x30
    out 0x43, al
    mov ax, 119
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov al, 0x0a                ; OCW3: read IRR
    out 0x20, al
.pending:
    in al, 0x20
    test al, 1
    jz .pending
    mov ebx, [TICKS]
    sti
    cli                         ; inside the shadow: no interrupt yet
    cmp ebx, [TICKS]
    CHECK32 e, "an interrupt was taken between STI and the next instruction"
    sti
    nop                         ; the shadow ends after this one
    cli
    inc ebx
    cmp ebx, [TICKS]
    CHECK32 e, "the pending interrupt was not taken after the STI shadow"
    PRINTLN32 "irq: STI shadow"
    ; back to mode 2, about 10 kHz
    mov al, 0x34
    out 0x43, al
    mov ax, 119
    out 0x40, al
    mov al, ah
    out 0x40, al

    ; -- REP STOSB over 32 MiB with interrupts arriving in the middle
    mov ebx, [TICKS]
    mov edi, BIG
    mov ecx, BIG_LEN
    mov al, 0xa5
    cld
    sti
    rep stosb
    cli
    cmp ecx, 0
    CHECK32 e, "REP STOSB did not finish (ECX)"
    cmp edi, BIG + BIG_LEN
    CHECK32 e, "REP STOSB did not finish (EDI)"
    cmp byte [BIG], 0xa5
    CHECK32 e, "REP STOSB first byte"
    cmp byte [BIG + BIG_LEN - 1], 0xa5
    CHECK32 e, "REP STOSB last byte"
    cmp byte [BIG + BIG_LEN], 0
    CHECK32 e, "REP STOSB wrote past its count"
    mov esi, BIG + 0x123457
    cmp dword [esi], 0xa5a5a5a5
    CHECK32 e, "REP STOSB middle"
    PRINTLN32 "irq: REP STOSB completed across interrupts"

    ; -- a loop of one block on registers alone (the translator runs it round without
    ; leaving its code) is interrupted: stop_isr ends it by setting ECX to 1
    SETGATE 0x20, stop_isr, SEL_CODE0, 0x8e
    mov dword [STOPPED], 0
    xor eax, eax
    mov ecx, 0x7fffffff
    sti
.spin:
    add eax, 1
    dec ecx
    jnz .spin
.spin_end:
    cli
    cmp dword [STOPPED], 1
    CHECK32 e, "the register loop ran to its end without an interrupt"
    cmp eax, 0x7fff0000
    CHECK32 b, "the register loop was interrupted only near its end"
    SETGATE 0x20, timer_isr, SEL_CODE0, 0x8e
    PRINTLN32 "irq: a register-only loop is interrupted"

    ; -- interrupts in ring 3: the handler runs on the TSS stack
    mov ebx, [TICKS]
    push dword SEL_DATA3
    push dword STACK3
    push dword 0x202
    push dword SEL_CODE3
    push dword ring3
    iret
ring3:
    mov ax, SEL_DATA3
    mov ds, ax
    add ebx, 20
.spin3:
    cmp [TICKS], ebx
    jb .spin3
    int 0x30
back_to_ring0:
    add esp, 20
    mov ax, SEL_DATA0
    mov ds, ax
    PRINTLN32 "irq: interrupts taken in ring 3"

    ; -- interrupts in V86 mode
    mov dword [EXC_CONT], after_v86
    push dword 0
    push dword 0
    push dword 0
    push dword 0
    push dword 0
    push dword 0x7c00
    push dword 0x00020202       ; VM, IF, IOPL 0
    push dword 0xf000
    push dword v86_code
    iret
after_v86:
    PRINTLN32 "irq: interrupts taken in V86 mode"
    EXIT EXIT_PASS

; Ends the register loop above when it interrupts it after 10,000 rounds (the
; request pending at its STI comes in at once, before the loop is compiled and
; going round on its own): ECX 1, which the loop's DEC makes 0.
stop_isr:
    cmp eax, 10000
    jb .eoi
    push eax
    mov eax, [esp + 4]          ; the interrupted EIP
    cmp eax, pm_main.spin
    jb .not_loop
    cmp eax, pm_main.spin_end
    jae .not_loop
    mov dword [STOPPED], 1
    mov ecx, 1
.not_loop:
    pop eax
.eoi:
    push eax
    mov al, 0x20
    out 0x20, al
    pop eax
    iret

; Spurious IRQ 7: no ISR bit was set, so no EOI (8259A).
spurious_isr:
    iret

timer_isr:
    push eax
    push ds
    mov ax, SEL_DATA0
    mov ds, ax
    inc dword [TICKS]
    mov al, 0x20
    out 0x20, al
    pop ds
    pop eax
    iret

[bits 16]
v86_code:
    mov ebx, [TICKS]
    add ebx, 20
.spin:
    cmp [TICKS], ebx
    jb .spin
    mov dword [RESUME], 2
    hlt                         ; #GP in V86 mode: back to ring 0
[bits 32]

CPU_LIBRARY
GUEST_END
