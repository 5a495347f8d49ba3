; SPDX-License-Identifier: GPL-2.0-or-later
; The local APIC and the I/O APIC of the pc board, with both 8259s masked: the PIT's
; IRQ 0 through I/O APIC pin 2; the APIC timer in periodic and one-shot mode against
; the TSC; self-IPIs, the TPR, the error register with its interrupt, software
; disable; the RTC's IRQ 8 as a level-triggered input whose Remote IRR holds until the
; EOI and which interrupts again when EOIed while still asserted; then the 8259 again,
; through LINT0 in ExtINT mode (virtual wire) and through I/O APIC pin 0.
%include "cpu.inc"
%include "ioapic.inc"

LAPIC       equ 0xfee00000
PIT_TICKS   equ 0x600
APIC_TICKS  equ 0x604
IPI_COUNT   equ 0x608
ERR_COUNT   equ 0x60c
RTC_ENTRIES equ 0x610
RTC_COUNT   equ 0x614
RIRR_SEEN   equ 0x618
SPUR_COUNT  equ 0x61c
PIC_TICKS   equ 0x620
ARM_TSC     equ 0x628           ; TSC when the timer was armed (1 GHz of virtual time)
FIRE_TSC    equ 0x630           ; TSC in the first timer interrupt

VEC_PIT     equ 0x30
VEC_RTC     equ 0x38
VEC_TIMER   equ 0x40
VEC_IPI     equ 0x50
VEC_ERROR   equ 0x51

; Waits with HLT until PIT_TICKS changes (a PIT tick boundary).
%macro PIT_EDGE 0
    mov ebx, [PIT_TICKS]
%%w:
    hlt
    cmp ebx, [PIT_TICKS]
    je %%w
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    ; -- identity: IA32_APIC_BASE, version, virtual wire LINT0 at reset
    mov ecx, 0x1b
    rdmsr
    cmp eax, 0xfee00900
    CHECK32 e, "IA32_APIC_BASE is not 0xFEE00900 (enabled BSP)"
    test edx, edx
    CHECK32 z, "IA32_APIC_BASE high half"
    cmp dword [LAPIC + 0x30], 0x00050014
    CHECK32 e, "local APIC version is not 0x00050014"
    cmp dword [LAPIC + 0x350], 0x700
    CHECK32 e, "LINT0 is not ExtINT at reset"
    ; P6: the low nibble of the spurious vector reads as ones
    mov dword [LAPIC + 0xf0], 0x1e0
    cmp dword [LAPIC + 0xf0], 0x1ef
    CHECK32 e, "spurious vector register"
    mov dword [LAPIC + 0xf0], 0x1ff
    IOAPIC_R 1
    cmp eax, 0x00170011
    CHECK32 e, "I/O APIC version is not 0x00170011"
    PRINTLN32 "apic: IA32_APIC_BASE, versions and reset state"

    ; -- 8259s initialised and fully masked: every interrupt below comes from the APICs
    PIC_INIT 0xff, 0xff

    SETGATE VEC_PIT, pit_isr, SEL_CODE0, 0x8e
    SETGATE VEC_RTC, rtc_isr, SEL_CODE0, 0x8e
    SETGATE VEC_TIMER, timer_isr, SEL_CODE0, 0x8e
    SETGATE VEC_IPI, ipi_isr, SEL_CODE0, 0x8e
    SETGATE VEC_ERROR, error_isr, SEL_CODE0, 0x8e
    SETGATE 0xff, spurious_isr, SEL_CODE0, 0x8e
    xor eax, eax
    mov [PIT_TICKS], eax
    mov [APIC_TICKS], eax
    mov [IPI_COUNT], eax
    mov [ERR_COUNT], eax
    mov [RTC_ENTRIES], eax
    mov [RTC_COUNT], eax
    mov [RIRR_SEEN], eax
    mov [SPUR_COUNT], eax

    ; -- PIT IRQ 0 on I/O APIC pin 2: fixed, edge, active high, physical APIC 0
    IOAPIC_W 0x15, 0
    IOAPIC_W 0x14, VEC_PIT
    IOAPIC_R 0x14
    cmp eax, VEC_PIT
    CHECK32 e, "redirection entry 2 does not read back"
    mov al, 0x34                ; counter 0, mode 2, 1193 counts: 1 kHz
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
.pit_wait:
    hlt
    cmp dword [PIT_TICKS], 3
    jb .pit_wait
    PRINTLN32 "apic: PIT IRQ 0 arrives through I/O APIC pin 2"

    ; -- periodic timer: 62500 counts of 16 bus clocks (10 ms at 100 MHz), 20 times.
    ; Judged by the TSC (1 GHz of virtual time): interrupts that came while the host
    ; held the emulator back merge into one, so a loaded host can only make the 20
    ; take longer; never shorter than 20 periods, and a wrong divider is 2x off.
    mov dword [LAPIC + 0x3e0], 0x3
    mov dword [LAPIC + 0x320], 0x20000 | VEC_TIMER
    PIT_EDGE
    mov dword [APIC_TICKS], 0
    rdtsc
    mov [ARM_TSC], eax
    mov [ARM_TSC + 4], edx
    mov dword [LAPIC + 0x380], 62500
.per_wait:
    hlt
    cmp dword [APIC_TICKS], 20
    jb .per_wait
    rdtsc
    mov ebx, [LAPIC + 0x390]
    mov dword [LAPIC + 0x380], 0  ; stop
    sub eax, [ARM_TSC]
    sbb edx, [ARM_TSC + 4]
    mov edi, eax
    test ebx, ebx
    CHECK32 nz, "current count is 0 in periodic mode"
    cmp ebx, 62500
    CHECK32 be, "current count above the initial count"
    PRINT32 "apic: periodic timer: 20 interrupts in 0x"
    mov eax, edi
    call print_hex32_32
    PRINTLN32 " ns"
    test edx, edx
    CHECK32 z, "periodic APIC timer seconds late"
    cmp edi, 200000000
    CHECK32 ae, "periodic APIC timer too fast"
    cmp edi, 300000000
    CHECK32 b, "periodic APIC timer too slow"
    PRINTLN32 "apic: periodic timer keeps time with the TSC"

    ; -- one-shot: 62500 counts of 16 clocks = 10 ms, then silence
    mov dword [LAPIC + 0x320], VEC_TIMER
    PIT_EDGE
    mov dword [PIT_TICKS], 0
    mov dword [APIC_TICKS], 0
    ; Judged by the TSC, not by PIT interrupts: on a loaded host the PIT can lose ticks
    ; that the emulator missed, while both clocks read the same virtual time.
    rdtsc
    mov [ARM_TSC], eax
    mov [ARM_TSC + 4], edx
    mov dword [LAPIC + 0x380], 62500
.one_wait:
    hlt
    cmp dword [APIC_TICKS], 0
    je .one_wait
    mov esi, [PIT_TICKS]
    mov eax, [FIRE_TSC]
    mov edx, [FIRE_TSC + 4]
    sub eax, [ARM_TSC]
    sbb edx, [ARM_TSC + 4]
    mov edi, eax
    PRINT32 "apic: one-shot fired after 0x"
    mov eax, edi
    call print_hex32_32
    PRINT32 " ns, 0x"
    mov eax, esi
    call print_hex32_32
    PRINTLN32 " PIT ticks"
    test edx, edx
    CHECK32 z, "one-shot APIC timer seconds late"
    cmp edi, 10000000
    CHECK32 ae, "one-shot APIC timer too early"
    cmp edi, 1000000000
    CHECK32 b, "one-shot APIC timer too late"
    add esi, 20
.one_quiet:
    hlt
    cmp [PIT_TICKS], esi
    jb .one_quiet
    cmp dword [APIC_TICKS], 1
    CHECK32 e, "one-shot APIC timer fired again"
    cmp dword [LAPIC + 0x390], 0
    CHECK32 e, "one-shot current count did not stay at 0"
    PRINTLN32 "apic: one-shot timer fires once"
    cli

    ; -- self-IPI: pending in IRR while IF = 0, taken after STI
    mov dword [LAPIC + 0x300], 0x40000 | VEC_IPI
    test dword [LAPIC + 0x200 + (VEC_IPI >> 5) * 0x10], 1 << (VEC_IPI & 31)
    CHECK32 nz, "self-IPI not pending in IRR"
    cmp dword [IPI_COUNT], 0
    CHECK32 e, "self-IPI taken with IF = 0"
    sti
    nop
    cli
    cmp dword [IPI_COUNT], 1
    CHECK32 e, "self-IPI not taken"
    ; all including self, and physical destination 0
    mov dword [LAPIC + 0x300], 0x80000 | VEC_IPI
    sti
    nop
    cli
    mov dword [LAPIC + 0x310], 0
    mov dword [LAPIC + 0x300], VEC_IPI
    sti
    nop
    cli
    cmp dword [IPI_COUNT], 3
    CHECK32 e, "IPI to all-including-self or to APIC 0 not taken"
    ; all excluding self: nobody else is there
    mov dword [LAPIC + 0x300], 0xc0000 | VEC_IPI
    sti
    nop
    nop
    cli
    cmp dword [IPI_COUNT], 3
    CHECK32 e, "IPI to all-excluding-self reached the sender"
    PRINTLN32 "apic: self-IPI"

    ; -- TPR: class 6 holds back vector 0x50 until lowered
    mov dword [LAPIC + 0x80], 0x60
    mov dword [LAPIC + 0x300], 0x40000 | VEC_IPI
    sti
    nop
    nop
    cli
    cmp dword [IPI_COUNT], 3
    CHECK32 e, "interrupt below the TPR class taken"
    cmp dword [LAPIC + 0xa0], 0x60
    CHECK32 e, "PPR does not follow the TPR"
    sti
    mov dword [LAPIC + 0x80], 0
    nop
    cli
    cmp dword [IPI_COUNT], 4
    CHECK32 e, "interrupt not taken after lowering the TPR"
    PRINTLN32 "apic: TPR holds back lower priority classes"

    ; -- ESR: an illegal vector is not sent; the error LVT interrupts; ESR is
    ; latched by a write
    mov dword [LAPIC + 0x370], VEC_ERROR
    mov dword [LAPIC + 0x280], 0
    mov dword [LAPIC + 0x300], 0x40000 | 3
    sti
    nop
    cli
    cmp dword [ERR_COUNT], 1
    CHECK32 e, "no error interrupt"
    cmp dword [LAPIC + 0x280], 0
    CHECK32 e, "ESR changed before a write"
    mov dword [LAPIC + 0x280], 0
    cmp dword [LAPIC + 0x280], 0x20
    CHECK32 e, "ESR does not show send illegal vector"
    mov dword [LAPIC + 0x280], 0
    cmp dword [LAPIC + 0x280], 0
    CHECK32 e, "ESR not cleared by the next write"
    PRINTLN32 "apic: ESR and the error interrupt"

    ; -- software disable: LVTs stay masked, fixed IPIs are refused
    mov dword [LAPIC + 0xf0], 0xff
    mov dword [LAPIC + 0x320], VEC_TIMER
    cmp dword [LAPIC + 0x320], 0x10000 | VEC_TIMER
    CHECK32 e, "LVT timer unmasked while software-disabled"
    mov dword [LAPIC + 0x300], 0x40000 | VEC_IPI
    sti
    nop
    cli
    cmp dword [IPI_COUNT], 4
    CHECK32 e, "software-disabled APIC took an IPI"
    mov dword [LAPIC + 0xf0], 0x1ff
    PRINTLN32 "apic: software disable masks the LVT"

    ; -- RTC IRQ 8 on pin 8: level-triggered, active high
    IOAPIC_W 0x21, 0
    IOAPIC_W 0x20, 0x8000 | VEC_RTC
    mov al, 0x0a
    out 0x70, al
    mov al, 0x2a                ; 32.768 kHz base, rate 10: 64 Hz
    out 0x71, al
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov al, 0x0b
    out 0x70, al
    in al, 0x71
    or al, 0x40                 ; PIE
    mov ah, al
    mov al, 0x0b
    out 0x70, al
    mov al, ah
    out 0x71, al
    sti
.rtc_wait:
    hlt
    cmp dword [RTC_COUNT], 16
    jb .rtc_wait
    cli
    mov al, 0x0b
    out 0x70, al
    in al, 0x71
    and al, ~0x40
    mov ah, al
    mov al, 0x0b
    out 0x70, al
    mov al, ah
    out 0x71, al
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov eax, [RTC_COUNT]
    inc eax
    cmp [RTC_ENTRIES], eax
    CHECK32 e, "a level interrupt EOIed while asserted was not delivered again (once)"
    mov eax, [RTC_ENTRIES]
    cmp [RIRR_SEEN], eax
    CHECK32 e, "Remote IRR was clear inside the handler"
    IOAPIC_R 0x20
    test eax, 0x4000
    CHECK32 z, "Remote IRR still set after the EOI"
    PRINTLN32 "apic: RTC IRQ 8 level-triggered through the I/O APIC, Remote IRR until EOI"

    ; -- virtual wire: the PIT through the 8259 and LINT0 in ExtINT mode, with the APIC
    ; software-enabled and programmed as SeaBIOS does
    IOAPIC_W 0x14, 0x10000 | VEC_PIT
    SETGATE 0x20, pic_timer_isr, SEL_CODE0, 0x8e
    mov dword [LAPIC + 0x350], 0x8700
    mov dword [PIC_TICKS], 0
    mov al, 0xfe                ; 8259: only IRQ 0
    out 0x21, al
    sti
.vw_wait:
    hlt
    cmp dword [PIC_TICKS], 20
    jb .vw_wait
    cli
    PRINTLN32 "apic: 8259 interrupts through LINT0 in ExtINT mode"

    ; -- LINT0 masked: the 8259 is cut off (10 ms of one-shot APIC timer pass without
    ; a tick), until I/O APIC pin 0 delivers its INTR as ExtINT
    mov dword [LAPIC + 0x350], 0x10700
    mov dword [LAPIC + 0x320], VEC_TIMER
    mov dword [APIC_TICKS], 0
    mov esi, [PIC_TICKS]
    mov dword [LAPIC + 0x380], 62500
    sti
.cut_wait:
    hlt
    cmp dword [APIC_TICKS], 0
    je .cut_wait
    cli
    cmp [PIC_TICKS], esi
    CHECK32 e, "8259 interrupt taken with LINT0 masked"
    IOAPIC_W 0x11, 0
    IOAPIC_W 0x10, 0x700
    mov dword [PIC_TICKS], 0
    sti
.pin0_wait:
    hlt
    cmp dword [PIC_TICKS], 20
    jb .pin0_wait
    cli
    PRINTLN32 "apic: 8259 interrupts as ExtINT through I/O APIC pin 0"
    IOAPIC_W 0x10, 0x10700
    mov al, 0xff
    out 0x21, al

    cmp dword [SPUR_COUNT], 0
    CHECK32 e, "spurious interrupts taken"
    PRINTLN32 "apic: all checks passed"
    EXIT EXIT_PASS

pit_isr:
    inc dword [PIT_TICKS]
    mov dword [LAPIC + 0xb0], 0
    iret

timer_isr:
    TICK_ISR APIC_TICKS, FIRE_TSC

ipi_isr:
    inc dword [IPI_COUNT]
    mov dword [LAPIC + 0xb0], 0
    iret

error_isr:
    inc dword [ERR_COUNT]
    mov dword [LAPIC + 0xb0], 0
    iret

; IRQ 0 through the 8259: the EOI goes to the 8259, not to the APIC.
pic_timer_isr:
    push eax
    inc dword [PIC_TICKS]
    mov al, 0x20
    out 0x20, al
    pop eax
    iret

; The spurious vector has no ISR bit: no EOI.
spurious_isr:
    inc dword [SPUR_COUNT]
    iret

rtc_isr:
    push eax
    inc dword [RTC_ENTRIES]
    IOAPIC_R 0x20
    test eax, 0x4000
    jz .no_rirr
    inc dword [RIRR_SEEN]
.no_rirr:
    ; The first time, EOI without servicing the RTC: its line stays high.
    cmp dword [RTC_ENTRIES], 1
    je .eoi
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    inc dword [RTC_COUNT]
.eoi:
    mov dword [LAPIC + 0xb0], 0
    pop eax
    iret

CPU_LIBRARY
GUEST_END
