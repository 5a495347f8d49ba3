; SPDX-License-Identifier: GPL-2.0-or-later
; Exceptions of ordinary instructions and the processor's identity: #DE (zero and
; overflow), #BR, #OF, #UD, #NM (ESC and WAIT), #AC at ring 3, #GP for bad control
; register values, unknown MSRs and a zero SYSENTER_CS; CPUID, RDTSC and the MSRs a
; P6/Core has (IA32_MISC_ENABLE, MTRRs, PAT, SYSENTER, EFER.SCE and NXE).
%include "cpu.inc"

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al

%macro EXC_AT 3+         ; vector, error (-1 any), instruction
    TRY %%r
%%f: %3
    FAIL "no exception"
%%r:
    EXPECT_EXC %1, %2, "exception vector"
    EXPECT_EIP %%f, "faulting EIP"
%endmacro

    ; -- #DE: division by zero and quotient overflow, for every size
    xor edx, edx
    xor ecx, ecx
    EXC_AT 0, -1, div ecx
    mov eax, 0x100
    mov cl, 1
    EXC_AT 0, -1, div cl            ; AX / 1 = 0x100 does not fit AL
    mov ax, 0x8000
    mov dx, 0xffff
    mov cx, -1
    EXC_AT 0, -1, idiv cx           ; -32768 / -1 overflows
    mov eax, 0x1234
    EXC_AT 0, -1, aam 0
    ; -- #BR, #OF, #UD, #BP is a trap (its EIP is after the INT3)
    mov dword [SCRATCH], 0
    mov dword [SCRATCH + 4], 9
    mov eax, 10
    EXC_AT 5, -1, bound eax, [SCRATCH]
    mov al, 0x7f
    add al, 1                       ; OF = 1
    TRY .r_of
    into
.after_into:
    FAIL "INTO with OF set"
.r_of:
    EXPECT_EXC 4, -1, "INTO"
    EXPECT_EIP .after_into, "INTO is a trap"
    EXC_AT 6, -1, ud2
    ; -- #NM: ESC with CR0.EM, WAIT with MP and TS
    mov eax, cr0
    or eax, 4
    mov cr0, eax
    EXC_AT 7, -1, fninit
    and eax, ~4
    or eax, 2 | 8
    mov cr0, eax
    EXC_AT 7, -1, wait
    EXC_AT 7, -1, fnstsw ax
    clts
    and eax, ~(2 | 8)
    mov cr0, eax
    wait                             ; MP clear: no fault
    ; EM and TS clear: the FNINIT/FNSTSW/FNSTCW probe finds the FPU
    mov dword [SCRATCH], 0xffffffff
    mov ax, 0x1234
    fninit
    fnstsw [SCRATCH]
    fnstcw [SCRATCH + 2]
    fnstsw ax
    cmp dword [SCRATCH], 0x037f0000
    CHECK32 e, "FNSTSW/FNSTCW after FNINIT"
    cmp ax, 0
    CHECK32 e, "FNSTSW AX after FNINIT"
    ; the operand of an escape is still checked: a store past a segment limit faults
    mov ax, SEL_DATA16
    mov es, ax
    EXC_AT 13, 0, fnstcw [es:0xffff]
    mov ax, SEL_DATA0
    mov es, ax
    PRINTLN32 "exceptions: #DE #BR #OF #UD #NM"

    ; -- control registers
    EXC_AT 13, 0, mov cr4, eax       ; (eax has CR0's value: bits CR4 does not have)
    mov eax, cr0
    or eax, 0x80000000
    and eax, ~1
    EXC_AT 13, 0, mov cr0, eax       ; PG without PE
    mov eax, cr0
    or eax, 1 << 29
    and eax, ~(1 << 30)
    EXC_AT 13, 0, mov cr0, eax       ; NW without CD
    mov eax, cr0
    and eax, ~0x10
    mov cr0, eax
    mov eax, cr0
    test eax, 0x10
    CHECK32 nz, "CR0.ET is hardwired to 1"

    ; -- MSRs
    mov ecx, 0x12345
    EXC_AT 13, 0, rdmsr
    ; IA32_MISC_ENABLE (SDM vol. 4, table 2-2): fast strings, BTS and PEBS unavailable
    mov ecx, 0x1a0
    rdmsr
    cmp eax, 0x1801
    CHECK32 e, "IA32_MISC_ENABLE power-on value (low)"
    test edx, edx
    CHECK32 z, "IA32_MISC_ENABLE power-on value (high)"
    wrmsr                            ; the value read writes back
    mov eax, 0x80                    ; fast strings off; 7, 11, 12 are read-only
    wrmsr
    rdmsr
    cmp eax, 0x1800
    CHECK32 e, "IA32_MISC_ENABLE: fast strings off, read-only bits kept"
    mov eax, 0x1809                  ; fast strings and TCC on
    wrmsr
    rdmsr
    cmp eax, 0x1809
    CHECK32 e, "IA32_MISC_ENABLE: fast strings and TCC on"
    mov eax, 0x1801 | 2              ; reserved bit 1
    EXC_AT 13, 0, wrmsr
    mov eax, 0x1801 | (1 << 18)      ; MONITOR FSM: no MONITOR here
    EXC_AT 13, 0, wrmsr
    mov eax, 0x1801 | (1 << 22)      ; Limit CPUID Maxval: the highest leaf is 2
    EXC_AT 13, 0, wrmsr
    mov eax, 0x1801
    mov edx, 1 << 3                  ; bit 35: reserved
    EXC_AT 13, 0, wrmsr
    mov edx, 1 << 2                  ; XD bit disable: NX leaves CPUID, NXE is reserved
    wrmsr
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 20
    CHECK32 z, "CPUID reports NX with the XD bit disabled"
    mov ecx, 0xc0000080
    mov eax, 1 << 11
    xor edx, edx
    EXC_AT 13, 0, wrmsr
    mov ecx, 0x1a0
    mov eax, 0x1801
    xor edx, edx
    wrmsr
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 20
    CHECK32 nz, "CPUID lacks NX after the XD bit is enabled again"
    test edx, 1 << 11
    CHECK32 z, "CPUID reports SYSCALL outside 64-bit mode"
    ; EFER: SCE is writable, but SYSCALL is only for 64-bit mode; no LME
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1
    wrmsr
    rdmsr
    test eax, 1
    CHECK32 nz, "EFER.SCE does not stick"
    EXC_AT 6, -1, db 0x0f, 0x05      ; SYSCALL
    and eax, ~1
    ; LME: writable with paging off on a model with long mode, reserved without
    mov ebx, eax
    mov eax, 0x80000001
    cpuid
    mov eax, ebx
    mov ecx, 0xc0000080
    or eax, 1 << 8
    test edx, 1 << 29
    mov edx, 0                       ; EFER's upper half (flags kept)
    jz .no_lm
    wrmsr
    rdmsr
    test eax, 1 << 8
    CHECK32 nz, "EFER.LME does not stick on a model with long mode"
    test eax, 1 << 10
    CHECK32 z, "EFER.LMA set without paging"
    and eax, ~(1 << 8)
    wrmsr
    jmp .lm_done
.no_lm:
    EXC_AT 13, 0, wrmsr
    and eax, ~(1 << 8)
.lm_done:
    PRINTLN32 "exceptions: IA32_MISC_ENABLE and EFER.SCE"
    or eax, 1 << 11                  ; NXE is there
    wrmsr
    rdmsr
    test eax, 1 << 11
    CHECK32 nz, "EFER.NXE does not stick"
    mov ecx, 0x200                   ; MTRRphysBase0
    mov eax, 0x00000006
    xor edx, edx
    wrmsr
    rdmsr
    cmp eax, 6
    CHECK32 e, "MTRR value"
    mov eax, 2                       ; an invalid memory type
    EXC_AT 13, 0, wrmsr
    mov ecx, 0x174
    xor eax, eax
    xor edx, edx
    wrmsr
    EXC_AT 13, 0, sysenter           ; SYSENTER_CS = 0
    ; PAT: power-on value, stored and read back, reserved types 2 and 3 refused
    mov ecx, 0x277
    rdmsr
    cmp eax, 0x00070406
    CHECK32 e, "PAT power-on value (low)"
    cmp edx, 0x00070406
    CHECK32 e, "PAT power-on value (high)"
    mov eax, 0x01050607
    mov edx, 0x00040100
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    cmp eax, 0x01050607
    CHECK32 e, "PAT read back (low)"
    cmp edx, 0x00040100
    CHECK32 e, "PAT read back (high)"
    mov eax, 0x00000300
    EXC_AT 13, 0, wrmsr
    PRINTLN32 "exceptions: control registers and MSRs"

    ; -- CPUID: a P6-family Intel CPU with an FPU and the pc board's APIC
    xor eax, eax
    cpuid
    cmp ebx, 'Genu'
    CHECK32 e, "CPUID vendor"
    cmp ecx, 'ntel'
    CHECK32 e, "CPUID vendor"
    mov eax, 1
    cpuid
    shr eax, 8
    and eax, 0xf
    cmp eax, 6
    CHECK32 e, "CPUID family 6"
    test edx, 1
    CHECK32 nz, "CPUID lacks the FPU"
    test edx, 1 << 9
    CHECK32 nz, "CPUID lacks the local APIC"
    mov ebx, edx
    and ebx, (1 << 15) | (1 << 8) | (1 << 6) | (1 << 4) | (1 << 3) | (1 << 11)
    cmp ebx, (1 << 15) | (1 << 8) | (1 << 6) | (1 << 4) | (1 << 3) | (1 << 11)
    CHECK32 e, "CPUID lacks CMOV, CX8, PAE, TSC, PSE or SEP"
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 20
    CHECK32 nz, "CPUID lacks NX"
    ; -- RDTSC moves forward
    rdtsc
    mov ebx, eax
    mov esi, edx
    mov ecx, 1000
.spin:
    loop .spin
    rdtsc
    sub eax, ebx
    sbb edx, esi
    jnz .tsc_ok
    test eax, eax
    CHECK32 nz, "RDTSC did not advance"
.tsc_ok:
    PRINTLN32 "exceptions: CPUID and RDTSC"

    ; -- #AC: CR0.AM, EFLAGS.AC, ring 3, a misaligned access
    mov eax, cr0
    or eax, 1 << 18
    mov cr0, eax
    SETGATE 0x30, ring0_exit, SEL_CODE0, 0xee
    push dword SEL_DATA3
    push dword STACK3
    push dword 0x40002       ; AC
    push dword SEL_CODE3
    push dword ring3
    iret
ring3:
    mov ax, SEL_DATA3
    mov ds, ax
    mov eax, [SCRATCH + 4]   ; aligned: fine
    TRY .r_ac
.f_ac:
    mov eax, [SCRATCH + 2]
    FAIL "a misaligned access at CPL 3 with AC"
.r_ac:
    EXPECT_EXC 17, 0, "alignment check"
    EXPECT_EIP .f_ac, "#AC EIP"
    pushfd
    and dword [esp], ~0x40000
    popfd
    mov eax, [SCRATCH + 2]   ; AC clear: fine
    PRINTLN32 "exceptions: #AC at ring 3"
    int 0x30                 ; the verdict is given in ring 0

ring0_exit:
    EXIT EXIT_PASS

CPU_LIBRARY
GUEST_END
