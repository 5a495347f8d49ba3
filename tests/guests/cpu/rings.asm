; SPDX-License-Identifier: GPL-2.0-or-later
; Privilege levels (SDM vol. 3, chapter 5 and 6.12): IRET to ring 3, privileged and
; IOPL-sensitive instructions, gates with DPL checks, interrupt and trap gates with
; the stack switch from the TSS, a call gate copying parameters, RETF/IRET privilege
; rules, segment registers nulled on a return to an outer level, a conforming code
; segment, the I/O permission bitmap, #SS on a ring-3 stack, SYSENTER/SYSEXIT.
%include "cpu.inc"

SEL_GATE   equ 0x40 | 3   ; call gate DPL 3 -> ring-0 code, 2 dword parameters
SEL_CONF   equ 0x48       ; conforming code, DPL 0
SEL_SMALL3 equ 0x50 | 3   ; ring-3 stack segment, limit 0xFFF, base SCRATCH
SYSENTER_BASE equ 0x58    ; 58 code0, 60 data0, 68 code3, 70 data3 for SYSENTER/SYSEXIT

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff              ; no interrupts from the PICs
    out 0x21, al
    out 0xa1, al
    mov esi, ROM(test_descs)
    mov edi, GDT_ADDR + 0x40
    mov ecx, (test_descs_end - test_descs) / 4
    rep movsd
    ; call gate: offset ring0_gate_target, selector SEL_CODE0, 2 params, DPL 3, 32-bit
    mov eax, ring0_gate_target
    mov [GDT_ADDR + 0x40], ax
    mov word [GDT_ADDR + 0x42], SEL_CODE0
    mov word [GDT_ADDR + 0x44], 0xec02
    shr eax, 16
    mov [GDT_ADDR + 0x46], ax
    ; IDT: 0x40 DPL 0, 0x41 DPL 3 interrupt gate, 0x42 DPL 3 trap gate, 0x43 back to ring 0
    SETGATE 0x40, int40, SEL_CODE0, 0x8e
    SETGATE 0x41, int41, SEL_CODE0, 0xee
    SETGATE 0x42, int42, SEL_CODE0, 0xef
    SETGATE 0x43, to_ring0, SEL_CODE0, 0xee
    ; I/O bitmap: port 0x80 denied to ring 3 (everything else allowed)
    or byte [TSS_ADDR + 0x68 + 0x80 / 8], 1 << (0x80 % 8)
    ; SYSENTER MSRs
    mov ecx, 0x174
    mov eax, SYSENTER_BASE
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, STACK0 - 0x100
    wrmsr
    mov ecx, 0x176
    mov eax, ROM(sysenter_target)   ; SYSENTER's CS is flat
    wrmsr

    ; -- to ring 3 with IRET; ES holds a ring-0 segment that must be nulled
    mov ax, SEL_DATA0
    mov es, ax
    push dword SEL_DATA3
    push dword STACK3
    push dword 0x202          ; IF=1, IOPL 0
    push dword SEL_CODE3
    push dword ring3
    iret

ring3:
    mov ax, cs
    and ax, 3
    cmp ax, 3
    jne ring3_bad_cpl
    mov ax, es
    test ax, ax
    jnz ring3_es_kept
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    PRINTLN32 "rings: in ring 3, ES was nulled on the way out"

    ; privileged and IOPL-sensitive instructions
%macro GP0_IN_RING3 1+
    TRY %%r
    %1
    FAIL "privileged instruction ran in ring 3"
%%r:
    EXPECT_EXC 13, 0, "privileged instruction at CPL 3"
%endmacro
    GP0_IN_RING3 cli
    GP0_IN_RING3 hlt
    GP0_IN_RING3 mov eax, cr0
    GP0_IN_RING3 lgdt [ROM(gdtr_rom)]
    GP0_IN_RING3 wrmsr
    GP0_IN_RING3 in al, 0x80
    ; POPF cannot change IF or IOPL at CPL 3 > IOPL: silently ignored
    pushfd
    and dword [esp], ~0x200
    or dword [esp], 0x3000
    popfd
    pushfd
    pop eax
    test eax, 0x200
    CHECK32 nz, "POPF cleared IF at CPL 3"
    test eax, 0x3000
    CHECK32 z, "POPF changed IOPL at CPL 3"
    ; port 0x81 is allowed by the bitmap, 0x80 is not
    in al, 0x81
    ; a ring-0 data segment cannot be loaded
    TRY .r1
    mov ax, SEL_DATA0
    mov fs, ax
    FAIL "ring-0 data loaded at CPL 3"
.r1:
    EXPECT_EXC 13, SEL_DATA0, "ring-0 data segment at CPL 3"

    ; INT through a DPL 0 gate: #GP(vector*8+2)
    TRY .r2
    int 0x40
    FAIL "INT through a DPL 0 gate"
.r2:
    EXPECT_EXC 13, 0x40 * 8 + 2, "INT 0x40 through a DPL 0 gate"

    ; INT through a DPL 3 interrupt gate: ring 0 on the TSS stack, IF cleared
    mov dword [SCRATCH], 0
    mov ebx, esp
    int 0x41
    cmp dword [SCRATCH], 0x41
    CHECK32 e, "the interrupt gate handler did not run"
    cmp esp, ebx
    CHECK32 e, "ESP not restored by IRET"
    ; trap gate: IF stays set
    int 0x42
    cmp dword [SCRATCH], 0x42
    CHECK32 e, "the trap gate handler did not run"

    ; call gate with two parameters
    push dword 0x1111
    push dword 0x2222
    call SEL_GATE:0
    cmp eax, 0x3333
    CHECK32 e, "call gate parameters"
    cmp esp, ebx
    CHECK32 e, "RETF 8 through the call gate did not pop the parameters"
    mov ax, cs
    and ax, 3
    cmp ax, 3
    CHECK32 e, "not back in ring 3 after the call gate"

    ; conforming code runs at the caller's privilege
    call SEL_CONF:conforming
    cmp eax, 3
    CHECK32 e, "conforming code did not keep CPL 3"

    ; #SS on a small ring-3 stack is delivered on the ring-0 stack
    mov ebp, esp
    mov ax, SEL_SMALL3
    mov ss, ax
    mov esp, 8
    push eax
    push eax
    TRY .r3
    push eax
    FAIL "push below the ring-3 stack segment"
.r3:
    EXPECT_EXC 12, 0, "ring-3 stack fault"
    cmp esp, 0
    CHECK32 e, "ESP after the faulting push"
    mov ax, SEL_DATA3
    mov ss, ax
    mov esp, ebp

    ; RETF and IRET cannot return to a more privileged level
    TRY .r5
    push dword SEL_CODE0
    push dword .r5
    retf
.r5:
    EXPECT_EXC 13, SEL_CODE0, "RETF to ring 0 from ring 3"
    TRY .r6
    push dword 0x202
    push dword SEL_CODE0
    push dword .r6
    iret
.r6:
    EXPECT_EXC 13, SEL_CODE0, "IRET to ring 0 from ring 3"
    mov esp, ebx

    ; SYSENTER to ring 0 and SYSEXIT back
    mov ecx, esp
    mov edx, ROM(after_sysexit)      ; SYSEXIT's CS is flat too
    sysenter
after_sysexit:
    mov ax, cs
    cmp ax, (SYSENTER_BASE + 16) | 3
    CHECK32 e, "CS after SYSEXIT"
    mov ax, ss
    cmp ax, (SYSENTER_BASE + 24) | 3
    CHECK32 e, "SS after SYSEXIT"
    cmp dword [SCRATCH], 0x5e
    CHECK32 e, "the SYSENTER target did not run"

    PRINTLN32 "rings: gates, stacks and privilege checks passed"
    int 0x43                  ; back to ring 0 for the last checks

ring3_bad_cpl:
    FAIL "IRET did not reach ring 3"
ring3_es_kept:
    FAIL "IRET to ring 3 kept a ring-0 ES"

; Handlers.
int40:
    FAIL "the DPL 0 gate was entered from ring 3"
int41:
    ; ring 0, on the TSS stack, with the ring-3 SS:ESP pushed, IF cleared
    mov eax, cs
    test eax, 3
    jnz .bad
    cmp dword [esp + 16], SEL_DATA3
    jne .bad
    cmp [esp + 12], ebx
    jne .bad
    cmp esp, STACK0 - 20
    jne .bad
    pushfd
    pop eax
    test eax, 0x200
    jnz .bad
    mov dword [SCRATCH], 0x41
    iret
.bad:
    FAIL "interrupt gate entry state"
int42:
    pushfd
    pop eax
    test eax, 0x200
    jz .bad
    mov dword [SCRATCH], 0x42
    iret
.bad:
    FAIL "trap gate cleared IF"

ring0_gate_target:
    ; [esp] EIP, [esp+4] CS, [esp+8] param 2 (0x2222), [esp+12] param 1, then ESP, SS
    mov eax, cs
    test eax, 3
    jnz .bad
    cmp dword [esp + 8], 0x2222
    jne .bad
    cmp dword [esp + 12], 0x1111
    jne .bad
    cmp dword [esp + 20], SEL_DATA3
    jne .bad
    mov eax, 0x3333
    retf 8
.bad:
    FAIL "call gate entry state"

conforming:
    mov eax, cs
    and eax, 3
    retf

sysenter_target:
    mov eax, cs
    cmp eax, SYSENTER_BASE
    jne .bad
    mov eax, ss
    cmp eax, SYSENTER_BASE + 8
    jne .bad
    cmp esp, STACK0 - 0x100
    jne .bad
    mov ax, SEL_DATA0
    mov ds, ax
    mov dword [SCRATCH], 0x5e
    sysexit
.bad:
    FAIL "SYSENTER entry state"

to_ring0:
    ; abandon ring 3: continue in ring 0 on this stack
    add esp, 20
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    PRINTLN32 "rings: back in ring 0"
    EXIT EXIT_PASS

    align 8
test_descs:
    dq 0                                    ; 40 call gate (built at run time)
    DESC ROMBASE, 0xfffff, 0x9e, 0xc        ; 48 conforming code, DPL 0
    DESC SCRATCH, 0xfff, 0xf2, 0x4          ; 50 ring-3 stack, limit 0xFFF
    DESC 0, 0xfffff, 0x9a, 0xc              ; 58 SYSENTER CS (flat, as SYSENTER loads it)
    DESC 0, 0xfffff, 0x92, 0xc              ; 60 SYSENTER SS
    DESC 0, 0xfffff, 0xfa, 0xc              ; 68 SYSEXIT CS
    DESC 0, 0xfffff, 0xf2, 0xc              ; 70 SYSEXIT SS
test_descs_end:

CPU_LIBRARY
GUEST_END
