; SPDX-License-Identifier: GPL-2.0-or-later
; The pc board's HPET (IA-PC HPET 1.0a) with both 8259s masked, through the I/O APIC:
; its capabilities, the main counter's rate against PIT interrupts and the TSC, halting
; and writing the counter, a one-shot and a periodic comparator on route 2 (the only one
; QEMU's pc offers), level-triggered status with the interrupt disabled and enabled, then
; legacy replacement: timer 0 on IRQ 0 and timer 1 on IRQ 8 with the PIT and RTC cut
; off, and both back once it is left.
%include "cpu.inc"
%include "ioapic.inc"

LAPIC       equ 0xfee00000
HPET        equ 0xfed00000
PIN2_COUNT  equ 0x600
PIN8_COUNT  equ 0x604
LEVEL_COUNT equ 0x608
CMP0        equ 0x60c
ARM_TSC     equ 0x610
FIRE_TSC    equ 0x618
T0          equ 0x620
TSC0        equ 0x628

VEC_PIN2    equ 0x30
VEC_PIN8    equ 0x38
VEC_LEVEL   equ 0x40

; Timer configuration bits (HPET 1.0a §2.3.8).
TN_LEVEL    equ 1 << 1
TN_INT_ENB  equ 1 << 2
TN_PERIODIC equ 1 << 3
TN_VAL_SET  equ 1 << 6
TN_32BIT    equ 1 << 8
ROUTE2      equ 2 << 9
T0_CONF     equ HPET + 0x100
T0_CMP      equ HPET + 0x108
T1_CONF     equ HPET + 0x120
T1_CMP      equ HPET + 0x128
T2_CONF     equ HPET + 0x140
T2_CMP      equ HPET + 0x148

; Spins, interrupts as they are, until the main counter advanced by %1 ticks of 10 ns.
%macro HPET_SPIN 1
    mov ecx, [HPET + 0xf0]
%%w:
    mov eax, [HPET + 0xf0]
    sub eax, ecx
    cmp eax, %1
    jb %%w
%endmacro

; Waits with HLT until the dword at %1 is at least %2; returns with interrupts on. The
; check runs with interrupts off and STI's shadow covers the HLT, so an interrupt that
; comes after the check wakes the HLT instead of being taken before it.
%macro WAIT_COUNT 2
%%w:
    cli
    cmp dword [%1], %2
    jae %%done
    sti
    hlt
    jmp %%w
%%done:
    sti
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    ; -- 8259s initialised and fully masked: every interrupt below comes from the APICs
    PIC_INIT 0xff, 0xff
    mov dword [LAPIC + 0xf0], 0x1ff
    SETGATE VEC_PIN2, pin2_isr, SEL_CODE0, 0x8e
    SETGATE VEC_PIN8, pin8_isr, SEL_CODE0, 0x8e
    SETGATE VEC_LEVEL, level_isr, SEL_CODE0, 0x8e
    SETGATE 0xff, spurious_isr, SEL_CODE0, 0x8e
    xor eax, eax
    mov [PIN2_COUNT], eax
    mov [PIN8_COUNT], eax
    mov [LEVEL_COUNT], eax

    ; -- capabilities: rev 1, 3 timers, 64-bit counter, legacy route, vendor 8086h,
    ; 10 ns period; every timer periodic and 64-bit capable with route 2 only
    cmp dword [HPET], 0x8086a201
    CHECK32 e, "capabilities are not 8086a201"
    cmp dword [HPET + 4], 10000000
    CHECK32 e, "COUNTER_CLK_PERIOD is not 10 ns"
    mov esi, T0_CONF
    mov edi, 3
.caps:
    mov eax, [esi]
    and eax, 0x30
    cmp eax, 0x30
    CHECK32 e, "a timer is not periodic and 64-bit capable"
    cmp dword [esi + 4], 4
    CHECK32 e, "a timer's route capability is not input 2"
    add esi, 0x20
    dec edi
    jnz .caps
    cmp dword [HPET + 0x10], 0
    CHECK32 e, "general configuration not 0 at reset"
    ; halted at reset: the counter stands, and takes a 64-bit value written in halves
    mov eax, [HPET + 0xf0]
    mov ecx, 10000
.halted:
    loop .halted
    cmp eax, [HPET + 0xf0]
    CHECK32 e, "the counter runs while halted"
    mov dword [HPET + 0xf0], 0x89abcdef
    mov dword [HPET + 0xf4], 0x01234567
    cmp dword [HPET + 0xf0], 0x89abcdef
    CHECK32 e, "counter low half does not read back"
    cmp dword [HPET + 0xf4], 0x01234567
    CHECK32 e, "counter high half does not read back"
    mov dword [HPET + 0xf0], 0
    mov dword [HPET + 0xf4], 0
    ; a route the timer cannot take reads back as the old one
    mov dword [T2_CONF], 5 << 9
    mov eax, [T2_CONF]
    and eax, 0x3e00
    CHECK32 z, "route 5 was taken"
    PRINTLN32 "hpet: capabilities 8086a201, 10 ns, 3 timers, halted at reset"

    ; -- rate: the PIT at 1 kHz on I/O APIC pin 2 (IRQ 0), 100 ticks
    IOAPIC_W 0x15, 0
    IOAPIC_W 0x14, VEC_PIN2
    mov al, 0x34
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
    WAIT_COUNT PIN2_COUNT, 3
    mov dword [HPET + 0x10], 1
    mov ebx, [PIN2_COUNT]
    inc ebx
    WAIT_COUNT PIN2_COUNT, ebx
    mov eax, [HPET + 0xf0]
    mov [T0], eax
    rdtsc
    mov [TSC0], eax
    mov dword [PIN2_COUNT], 0
    WAIT_COUNT PIN2_COUNT, 100
    mov esi, [HPET + 0xf0]
    rdtsc
    mov edi, eax
    sub esi, [T0]
    sub edi, [TSC0]
    PRINT32 "hpet: 0x"
    mov eax, esi
    call print_hex32_32
    PRINTLN32 " counter ticks in 100 PIT ticks"
    ; 100 PIT ticks are 9,998,000 counter ticks. Edges of the PIT that came while the
    ; vCPU thread was kept from running merge in the IRR (a loaded host), which can only
    ; lengthen the interval, so the PIT bounds the rate from below; the TSC (1 GHz of
    ; virtual time under the software CPUs) checks it both ways: 10 ns a tick, within 1 %.
    cmp esi, 9900000
    CHECK32 ae, "main counter slower than 100 MHz against the PIT"
    imul eax, esi, 10
    sub eax, edi
    jns .abs
    neg eax
.abs:
    mov ecx, edi
    shr ecx, 7                  ; 0.8 %
    cmp eax, ecx
    CHECK32 b, "main counter not at 100 MHz against the TSC"
    PRINTLN32 "hpet: main counter runs at 100 MHz against the PIT and the TSC"

    ; -- the PIT silenced (mode 0 without a count: OUT low, 8254 datasheet)
    cli
    mov al, 0x30
    out 0x43, al
    mov dword [PIN2_COUNT], 0

    ; -- one-shot, timer 2 on route 2, edge, 32-bit mode: 10 ms, then silence
    mov dword [T2_CONF], ROUTE2 | TN_INT_ENB | TN_32BIT
    mov eax, [T2_CONF]
    and eax, 0x7fff
    cmp eax, ROUTE2 | TN_INT_ENB | TN_32BIT | 0x30
    CHECK32 e, "timer 2 configuration does not read back"
    rdtsc
    mov [ARM_TSC], eax
    mov [ARM_TSC + 4], edx
    mov eax, [HPET + 0xf0]
    add eax, 1000000
    mov [CMP0], eax
    mov [T2_CMP], eax
    sti
    WAIT_COUNT PIN2_COUNT, 1
    mov eax, [FIRE_TSC]
    mov edx, [FIRE_TSC + 4]
    sub eax, [ARM_TSC]
    sbb edx, [ARM_TSC + 4]
    test edx, edx
    CHECK32 z, "one-shot seconds late"
    cmp eax, 10000000
    CHECK32 ae, "one-shot fired before 10 ms"
    HPET_SPIN 3000000
    cmp dword [PIN2_COUNT], 1
    CHECK32 e, "one-shot fired again"
    mov eax, [T2_CMP]
    cmp eax, [CMP0]
    CHECK32 e, "one-shot comparator changed"
    cmp dword [T2_CMP + 4], 0
    CHECK32 e, "32-bit comparator has a high half"
    PRINTLN32 "hpet: one-shot comparator interrupt through I/O APIC pin 2"

    ; -- periodic: VAL_SET, then comparator and period (1 ms), for 50 ms. Each match adds
    ; the period to the comparator; interrupts the vCPU had not taken yet may merge.
    cli
    mov dword [PIN2_COUNT], 0
    mov dword [T2_CONF], ROUTE2 | TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT
    mov eax, [HPET + 0xf0]
    add eax, 100000
    mov [CMP0], eax
    mov [T2_CMP], eax
    mov dword [T2_CMP], 100000
    test dword [T2_CONF], TN_VAL_SET
    CHECK32 z, "VAL_SET did not clear itself"
    sti
    HPET_SPIN 5000000
    cli
    mov ebx, [HPET + 0xf0]
    mov eax, [T2_CMP]
    mov dword [T2_CONF], ROUTE2 | TN_32BIT
    mov esi, [PIN2_COUNT]
    mov ecx, eax
    sub ecx, ebx                ; comparator ahead of the counter by (0, 2 periods]
    CHECK32 g, "periodic comparator not ahead of the counter"
    cmp ecx, 200000
    CHECK32 be, "periodic comparator too far ahead"
    sub eax, [CMP0]
    xor edx, edx
    mov ecx, 100000
    div ecx
    test edx, edx
    CHECK32 z, "comparator moved by other than whole periods"
    mov edi, eax
    PRINT32 "hpet: periodic: comparator advanced 0x"
    mov eax, edi
    call print_hex32_32
    PRINT32 " periods, 0x"
    mov eax, esi
    call print_hex32_32
    PRINTLN32 " interrupts"
    cmp edi, 49
    CHECK32 ae, "comparator advanced less than 49 periods in 50 ms"
    cmp edi, 80
    CHECK32 b, "comparator advanced far more than 50 ms"
    test esi, esi
    CHECK32 nz, "no periodic interrupt"
    cmp esi, edi
    CHECK32 be, "more interrupts than comparator matches"
    PRINTLN32 "hpet: periodic timer advances its comparator by the period"

    ; -- level-triggered: status set with the interrupt disabled; enabling it asserts
    ; the line until the status bit is cleared
    IOAPIC_W 0x14, 0x8000 | VEC_LEVEL
    mov dword [T2_CONF], ROUTE2 | TN_LEVEL | TN_32BIT
    mov eax, [HPET + 0xf0]
    add eax, 1000
    mov [T2_CMP], eax
    sti
    HPET_SPIN 100000
    test dword [HPET + 0x20], 4
    CHECK32 nz, "status bit not set by a match with the interrupt disabled"
    cmp dword [LEVEL_COUNT], 0
    CHECK32 e, "level interrupt with the interrupt disabled"
    or dword [T2_CONF], TN_INT_ENB
    WAIT_COUNT LEVEL_COUNT, 1
    HPET_SPIN 200000
    cmp dword [LEVEL_COUNT], 1
    CHECK32 e, "level interrupt again after its status was cleared"
    test dword [HPET + 0x20], 4
    CHECK32 z, "status bit not cleared by writing 1"
    PRINTLN32 "hpet: level-triggered status and interrupt through I/O APIC pin 2"
    cli
    mov dword [T2_CONF], 0
    IOAPIC_W 0x14, VEC_PIN2

    ; -- legacy replacement: the PIT (1 kHz again) and the RTC (1024 Hz) are cut off
    IOAPIC_W 0x21, 0
    IOAPIC_W 0x20, VEC_PIN8
    mov dword [HPET + 0x10], 3
    mov al, 0x34
    out 0x43, al
    mov ax, 1193
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov al, 0x0a
    out 0x70, al
    mov al, 0x26
    out 0x71, al
    mov al, 0x0b
    out 0x70, al
    in al, 0x71
    or al, 0x40                 ; PIE
    mov ah, al
    mov al, 0x0b
    out 0x70, al
    mov al, ah
    out 0x71, al
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov dword [PIN2_COUNT], 0
    mov dword [PIN8_COUNT], 0
    sti
    HPET_SPIN 2000000
    cmp dword [PIN2_COUNT], 0
    CHECK32 e, "PIT interrupt in legacy replacement mode"
    cmp dword [PIN8_COUNT], 0
    CHECK32 e, "RTC interrupt in legacy replacement mode"
    ; timer 0 reaches IRQ 0, timer 1 IRQ 8, whatever their route fields say
    mov dword [T0_CONF], TN_INT_ENB | TN_32BIT
    mov eax, [HPET + 0xf0]
    add eax, 100000
    mov [T0_CMP], eax
    WAIT_COUNT PIN2_COUNT, 1
    mov dword [T1_CONF], TN_INT_ENB | TN_32BIT
    mov eax, [HPET + 0xf0]
    add eax, 100000
    mov [T1_CMP], eax
    WAIT_COUNT PIN8_COUNT, 1
    HPET_SPIN 1000000
    cmp dword [PIN2_COUNT], 1
    CHECK32 e, "IRQ 0 other than timer 0's one interrupt in legacy replacement mode"
    cmp dword [PIN8_COUNT], 1
    CHECK32 e, "IRQ 8 other than timer 1's one interrupt in legacy replacement mode"
    PRINTLN32 "hpet: legacy replacement: timer 0 on IRQ 0, timer 1 on IRQ 8, PIT and RTC cut off"

    ; -- leaving legacy replacement gives IRQ 0 back to the PIT and IRQ 8 to the RTC
    mov dword [T0_CONF], 0
    mov dword [T1_CONF], 0
    mov dword [HPET + 0x10], 1
    WAIT_COUNT PIN2_COUNT, 6
    WAIT_COUNT PIN8_COUNT, 6
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
    PRINTLN32 "hpet: PIT and RTC interrupt again after legacy replacement"
    PRINTLN32 "hpet: all checks passed"
    EXIT EXIT_PASS

; Pin 2: the PIT's IRQ 0, HPET route 2 or timer 0 in legacy replacement mode (edge).
pin2_isr:
    TICK_ISR PIN2_COUNT, FIRE_TSC

; Pin 8: the RTC or timer 1 in legacy replacement mode. Reading register C releases the
; RTC's line.
pin8_isr:
    push eax
    inc dword [PIN8_COUNT]
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov dword [LAPIC + 0xb0], 0
    pop eax
    iret

; Pin 2 level-triggered: writing the status bit drops the line before the EOI.
level_isr:
    inc dword [LEVEL_COUNT]
    mov dword [HPET + 0x20], 4
    mov dword [LAPIC + 0xb0], 0
    iret

spurious_isr:
    iret

CPU_LIBRARY
GUEST_END
