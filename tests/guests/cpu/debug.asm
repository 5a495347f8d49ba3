; SPDX-License-Identifier: GPL-2.0-or-later
; Debug exceptions (SDM vol. 3, chapter 17): single-stepping with TF (a trap after
; each instruction, DR6.BS), INT3 and INT1/ICEBP, an instruction breakpoint in DR0
; (a fault at the instruction, DR6.B0), data breakpoints in DR1 (write only) and
; DR2 (read/write) reported after the access, and general detect (DR7.GD).
%include "cpu.inc"

DB_LOG equ SCRATCH + 0x400

; DB_AT n, eip, ecx: the n-th #DB (from 1) was reported at eip with this ECX
%macro DB_AT 3
    cmp dword [DB_LOG + (%1) * 8 - 8], %2
    CHECK32 e, "EIP of a single-step trap in a REP string instruction"
    cmp dword [DB_LOG + (%1) * 8 - 4], %3
    CHECK32 e, "ECX at a single-step trap in a REP string instruction"
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    ; #DB and #BP: count and return as is
    SETGATE 1, db_handler, SEL_CODE0, 0x8e
    SETGATE 3, bp_handler, SEL_CODE0, 0x8e

    ; -- single step over 4 instructions
    mov dword [SCRATCH], 0
    pushfd
    or dword [esp], 0x100
    popfd                     ; no trap after the POPF that sets TF
    nop
    nop
    nop
    pushfd                    ; trap after this one too
    and dword [esp], ~0x100
    popfd                     ; the trap after this POPF still happens (TF was set)
    cmp dword [SCRATCH], 6
    je .ss_ok
    PRINT32 "FAIL: single-step traps: "
    mov eax, [SCRATCH]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
.ss_ok:
    mov eax, dr6
    test eax, 1 << 14
    CHECK32 nz, "DR6.BS after single-step"
    PRINTLN32 "debug: single-step traps after each instruction"

    ; -- REP string instructions under TF: a trap after every iteration, EIP at the
    ;    instruction until the count runs out or REPE/REPNE stops it (SDM vol. 3,
    ;    17.3.1.4)
    mov dword [SCRATCH], 0
    mov dword [SCRATCH + 0x300], 0
    mov edi, SCRATCH + 0x300
    mov ecx, 3
    mov al, 0x77
    mov byte [SCRATCH + 0x310], 0x77
    mov byte [SCRATCH + 0x311], 0x55
    pushfd
    or dword [esp], 0x100
    popfd
.rep_stos:
    rep stosb                 ; traps 1-3
.after_stos:
    mov esi, SCRATCH + 0x300  ; 4
    mov edi, SCRATCH + 0x310  ; 5
    mov ecx, 4                ; 6
.rep_cmps:
    repe cmpsb                ; 7: equal, 8: different (stops)
.after_cmps:
    pushfd                    ; 9
    and dword [esp], ~0x100   ; 10
    popfd                     ; 11
    cmp dword [SCRATCH], 11
    je .rep_count_ok
    PRINT32 "FAIL: single-step traps around REP: "
    mov eax, [SCRATCH]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
.rep_count_ok:
    DB_AT 1, .rep_stos, 2
    DB_AT 2, .rep_stos, 1
    DB_AT 3, .after_stos, 0
    DB_AT 7, .rep_cmps, 3
    DB_AT 8, .after_cmps, 2
    cmp dword [SCRATCH + 0x300], 0x00777777
    CHECK32 e, "REP STOSB under single-step stored the wrong bytes"
    PRINTLN32 "debug: single-step traps after each REP iteration"

    ; -- MOV SS: no single-step trap after it; the next one follows the instruction
    ;    after it
    mov dword [SCRATCH], 0
    pushfd
    or dword [esp], 0x100
    popfd
    mov ax, ss                ; trap 1
    mov ss, ax                ; no trap here...
    nop                       ; ...one trap after this (2)
    pushfd                    ; 3
    and dword [esp], ~0x100   ; 4
    popfd                     ; 5
    cmp dword [SCRATCH], 5
    je .movss_ok
    PRINT32 "FAIL: single-step traps around MOV SS: "
    mov eax, [SCRATCH]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
.movss_ok:
    PRINTLN32 "debug: MOV SS delays the single-step trap"

    ; -- INT3: #BP with EIP after the INT3
    mov dword [SCRATCH + 4], 0
    int3
.after_int3:
    cmp dword [SCRATCH + 4], .after_int3
    CHECK32 e, "INT3 return address"
    ; -- ICEBP (INT1): #DB
    mov dword [SCRATCH], 0
    db 0xf1
    cmp dword [SCRATCH], 1
    CHECK32 e, "INT1 did not raise #DB"

    ; -- instruction breakpoint (DR0, execute): a fault before the instruction
    xor eax, eax
    mov dr6, eax
    mov eax, ROM(.bp_target)
    mov dr0, eax
    mov eax, 0x1                ; L0, RW0 = 00 (execute), LEN0 = 00
    mov dr7, eax
    mov dword [SCRATCH], 0
    mov dword [SCRATCH + 8], 0
    mov ebx, 5
.bp_target:
    inc ebx                     ; the handler sets RF so this runs once after the fault
    cmp ebx, 6
    CHECK32 e, "the breakpointed instruction did not run exactly once"
    cmp dword [SCRATCH], 1
    CHECK32 e, "instruction breakpoint count"
    cmp dword [SCRATCH + 8], .bp_target
    CHECK32 e, "instruction breakpoint EIP (a fault, before the instruction)"
    mov eax, dr6
    test eax, 1
    CHECK32 nz, "DR6.B0"
    xor eax, eax
    mov dr7, eax
    PRINTLN32 "debug: INT3, INT1 and an instruction breakpoint"

    ; -- After MOV SS / POP SS an instruction breakpoint on the next instruction is
    ;    suppressed as if RF were set, and so is the single-step trap that would
    ;    follow the MOV SS / POP SS itself (SDM vol. 3, 6.8.3, 17.3.1.1). Intel
    ;    documents both; AMD processors take such breakpoints: not asserted there.
    call cpu_is_intel
    jne .no_ss_shadow
    xor eax, eax
    mov dr6, eax
    mov eax, ROM(.ss_bp1)
    mov dr0, eax
    mov eax, ROM(.ss_bp1_next)
    mov dr1, eax
    mov eax, ROM(.ss_bp2)
    mov dr2, eax
    mov eax, 0x15               ; L0 L1 L2, execute
    mov dr7, eax
    mov dword [SCRATCH], 0
    mov ebx, 5
    mov ax, ss
    mov ss, ax
.ss_bp1:
    inc ebx                     ; DR0: suppressed
.ss_bp1_next:
    inc ebx                     ; DR1: the shadow is over, taken
    push ss
    pop ss
.ss_bp2:
    inc ebx                     ; DR2: suppressed
    xor eax, eax
    mov dr7, eax
    cmp dword [SCRATCH], 1
    CHECK32 e, "instruction breakpoints after MOV SS / POP SS: one expected (DR1)"
    cmp dword [DB_LOG], .ss_bp1_next
    CHECK32 e, "the breakpoint taken after MOV SS"
    cmp ebx, 8
    CHECK32 e, "the instructions after MOV SS / POP SS did not run once each"

    ; TF: the instruction after MOV SS / POP SS faults (#UD), so only a trap held
    ; back from the MOV SS / POP SS could follow; none must
    SETGATE 6, ud_skip, SEL_CODE0, 0x8e
    mov dword [SCRATCH], 0
    pushfd
    or dword [esp], 0x100
    popfd
    mov ax, ss                  ; trap 1
    mov ss, ax                  ; suppressed
    ud2                         ; #UD: the handler returns past it with TF clear
    pushfd
    or dword [esp], 0x100
    popfd
    push ss                     ; trap 2
    pop ss                      ; suppressed
    ud2
    SETGATE 6, exc_stubs + 6 * 16, SEL_CODE0, 0x8e
    cmp dword [SCRATCH], 2
    je .ss_tf_ok
    PRINT32 "FAIL: single-step traps around MOV SS / POP SS and a fault: "
    mov eax, [SCRATCH]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
.ss_tf_ok:
    PRINTLN32 "debug: MOV SS and POP SS suppress breakpoints and single-step"
.no_ss_shadow:

    ; -- data breakpoints: DR1 on writes to SCRATCH+0x100 (4 bytes), DR2 on reads
    ;    and writes of SCRATCH+0x200 (2 bytes)
    xor eax, eax
    mov dr6, eax
    mov eax, SCRATCH + 0x100
    mov dr1, eax
    mov eax, SCRATCH + 0x200
    mov dr2, eax
    mov eax, (1 << 2) | (1 << 4) | (0xd << 20) | (0x7 << 24)   ; L1 W len4, L2 RW len2
    mov dr7, eax
    mov dword [SCRATCH], 0
    mov eax, [SCRATCH + 0x100]  ; a read: no hit on a write breakpoint
    cmp dword [SCRATCH], 0
    CHECK32 e, "a read hit a write-only data breakpoint"
    mov byte [SCRATCH + 0x102], 1
.after_write:
    cmp dword [SCRATCH], 1
    CHECK32 e, "a write did not hit the data breakpoint"
    cmp dword [SCRATCH + 8], .after_write
    CHECK32 e, "data breakpoint EIP (a trap, after the instruction)"
    mov eax, dr6
    test eax, 2
    CHECK32 nz, "DR6.B1"
    mov ax, [SCRATCH + 0x1ff]   ; overlaps the 2-byte read/write breakpoint
    cmp dword [SCRATCH], 2
    CHECK32 e, "a read did not hit the read/write breakpoint"
    mov eax, dr6
    test eax, 4
    CHECK32 nz, "DR6.B2"
    xor eax, eax
    mov dr7, eax
    PRINTLN32 "debug: data breakpoints"

    ; -- CR4.DE (SDM vol. 3, 17.2.2 and 17.2.4): DR4 aliases DR6 without it and raises
    ;    #UD with it; an I/O breakpoint in DR3 on port 80h (1 byte) traps after the
    ;    OUT or IN that accesses it
    mov eax, dr4
    mov ebx, dr6
    cmp eax, ebx
    CHECK32 e, "DR4 does not read DR6 with CR4.DE clear"
    mov eax, cr4
    or eax, 8
    mov cr4, eax
    TRY .dr4_ud
    mov eax, dr4
    FAIL "DR4 with CR4.DE set did not raise #UD"
.dr4_ud:
    EXPECT_EXC 6, -1, "DR4 with CR4.DE set"
    xor eax, eax
    mov dr6, eax
    mov eax, 0x80
    mov dr3, eax
    mov eax, (1 << 6) | (0x2 << 28)  ; L3, R/W3 = 10b (I/O), LEN3 1 byte
    mov dr7, eax
    mov dword [SCRATCH], 0
    out 0x80, al
.after_out:
    cmp dword [SCRATCH], 1
    CHECK32 e, "OUT to port 80h did not hit the I/O breakpoint"
    cmp dword [SCRATCH + 8], .after_out
    CHECK32 e, "I/O breakpoint EIP (a trap, after the instruction)"
    mov eax, dr6
    test eax, 8
    CHECK32 nz, "DR6.B3"
    in al, 0x81                     ; another port: no hit
    mov dx, 0x80
    in al, dx
    cmp dword [SCRATCH], 2
    CHECK32 e, "IN from ports 81h and 80h: one more I/O breakpoint hit expected"
    xor eax, eax
    mov dr7, eax
    mov eax, cr4
    and eax, ~8
    mov cr4, eax
    PRINTLN32 "debug: CR4.DE makes DR4 #UD and enables I/O breakpoints"

    ; -- general detect: a MOV DR with GD set faults with DR6.BD
    mov eax, 1 << 13
    mov dr7, eax
    mov dword [SCRATCH], 0
    mov dword [RESUME], .after_gd
    mov eax, dr0
.after_gd:
    cmp dword [SCRATCH], 1
    CHECK32 e, "general detect did not raise #DB"
    mov eax, dr6
    test eax, 1 << 13
    CHECK32 nz, "DR6.BD"
    mov eax, dr7
    test eax, 1 << 13
    CHECK32 z, "GD not cleared by the #DB"
    PRINTLN32 "debug: general detect"
    EXIT EXIT_PASS

; Counts #DBs in [SCRATCH], keeps the last EIP in [SCRATCH + 8] and logs the EIP and
; ECX of the first 32 at DB_LOG (8 bytes each).
db_handler:
    inc dword [SCRATCH]
    push eax
    push ebx
    mov eax, [esp + 8]
    mov [SCRATCH + 8], eax
    mov ebx, [SCRATCH]
    cmp ebx, 32
    ja .no_log
    mov [DB_LOG + ebx * 8 - 8], eax
    mov [DB_LOG + ebx * 8 - 4], ecx
.no_log:
    mov eax, [RESUME]
    cmp eax, 2
    jbe .as_is
    mov [esp + 8], eax          ; general detect test: skip the MOV DR
    mov dword [RESUME], 0
.as_is:
    or dword [esp + 16], 1 << 16    ; RF: do not hit an instruction breakpoint again
    pop ebx
    pop eax
    iret
; #UD handler of the MOV SS tests: resume after the 2-byte UD2 with TF clear.
ud_skip:
    add dword [esp], 2
    and dword [esp + 8], ~0x100
    iret

bp_handler:
    push eax
    mov eax, [esp + 4]
    mov [SCRATCH + 4], eax
    pop eax
    iret

CPU_LIBRARY
GUEST_END
