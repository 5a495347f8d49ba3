; SPDX-License-Identifier: GPL-2.0-or-later
; The translator's debugging aids against a known routine: `hot`, a loop of known
; instructions run hot (so the translator compiles it and chains the loop to
; itself), whose address the guest prints for tests/guests/cpu/trace.py to find its
; guest and host code in the -d in_asm,out_asm log.
;
; Then the debug exceptions through that compiled, chained code (SDM vol. 3, 17.3.1):
; single-stepping it with EFLAGS.TF set by POPF and by IRET, an instruction
; breakpoint in DR0 inside the loop (the #DB handler sets RF so the instruction runs),
; and both at once; then a data breakpoint (DR1) on a word a second compiled loop
; writes. The #DB handler records EIP, EAX, ECX and DR6 of each #DB; the
; guest checks the EIPs against the routine's addresses and prints every record, so
; trace.py can require the same serial output under interp, jit and tcg.
%include "cpu.inc"

TRACE_N   equ SCRATCH             ; #DBs taken
TRACE_LOG equ SCRATCH + 0x100     ; 16 bytes each: EIP, EAX, ECX, DR6 & 0x400f
TRACE_MAX equ 64
REF       equ SCRATCH + 0x10      ; the untraced result: EAX, ECX
FLAGS_IN  equ SCRATCH + 0x40      ; EFLAGS the POPF / IRET of the calls below load
MEMW      equ SCRATCH + 0x600     ; the words hot_mem writes

; CALL_HOT n: EDX = n iterations from EAX = ECX = 0, EBX = 7
%macro HOT_ARGS 1
    mov edx, %1
    mov ebx, 7
    xor eax, eax
    xor ecx, ecx
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    PRINT32 "trace: hot routine at "
    mov eax, ROM(hot)
    call print_hex32_32
    call newline32

    ; -- run it hot: 2000 calls of 50 iterations each
    mov esi, 2000
.warm:
    mov edx, 50
    mov ebx, 7
    xor eax, eax
    xor ecx, ecx
    call hot
    dec esi
    jnz .warm
    PRINT32 "trace: hot result "
    call print_hex32_32
    mov al, ' '
    call putc32
    mov eax, ecx
    call print_hex32_32
    call newline32

    SETGATE 1, db_handler, SEL_CODE0, 0x8e
    ; the reference results of 2, 3 and 4 iterations, untraced
    HOT_ARGS 2
    call hot
    mov [REF], eax
    mov [REF + 4], ecx
    HOT_ARGS 3
    call hot
    mov [REF + 8], eax
    mov [REF + 12], ecx
    HOT_ARGS 4
    call hot
    mov [REF + 16], eax
    mov [REF + 20], ecx

    ; -- A: TF set by POPF, 3 iterations: a trap after CALL, after each instruction
    ;    of the loop, after RET and after the PUSHFD, AND and POPF that clear TF.
    ;    popf_call runs hot with TF clear first, so the exit after its POPF is
    ;    linked to the CALL's block and that one's to the routine.
    mov dword [FLAGS_IN], 0x2
    mov esi, 300
.warm_popf:
    HOT_ARGS 3
    call popf_call
    dec esi
    jnz .warm_popf
    mov dword [TRACE_N], 0
    mov dword [FLAGS_IN], 0x102
    HOT_ARGS 3
    call popf_call                ; (no trap after the POPF that sets TF)
    mov esi, ROM(expect_a)
    mov edi, (expect_a_end - expect_a) / 4
    mov ebp, REF + 8
    call check_trace
    PRINTLN32 "trace: single-step (POPF) through the compiled loop"

    ; -- B: TF set by IRET straight into the routine, 2 iterations: the first trap
    ;    after its first instruction (iret_call run hot with TF clear first)
    mov dword [FLAGS_IN], 0x2
    mov esi, 300
.warm_iret:
    HOT_ARGS 2
    call iret_call
    dec esi
    jnz .warm_iret
    mov dword [TRACE_N], 0
    mov dword [FLAGS_IN], 0x102
    HOT_ARGS 2
    call iret_call
    mov esi, ROM(expect_b)
    mov edi, (expect_b_end - expect_b) / 4
    mov ebp, REF
    call check_trace
    PRINTLN32 "trace: single-step (IRET) through the compiled loop"

    ; -- C: an instruction breakpoint (DR0) on the loop's XOR, 4 iterations: a fault
    ;    before each XOR, which runs once after each (RF)
    xor eax, eax
    mov dr6, eax
    mov eax, ROM(hot.i3)
    mov dr0, eax
    mov eax, 1                    ; L0, execute, 1 byte
    mov dr7, eax
    mov dword [TRACE_N], 0
    HOT_ARGS 4
    call hot
    mov ebx, eax
    xor eax, eax
    mov dr7, eax
    mov eax, ebx
    mov esi, ROM(expect_c)
    mov edi, (expect_c_end - expect_c) / 4
    mov ebp, REF + 16
    call check_trace
    PRINTLN32 "trace: instruction breakpoint and RF in the compiled loop"

    ; -- D: both, 2 iterations: the trap after the ADD, the breakpoint fault at the
    ;    XOR, the trap after the XOR
    mov eax, 1
    mov dr7, eax
    mov dword [TRACE_N], 0
    mov dword [FLAGS_IN], 0x102
    HOT_ARGS 2
    call popf_call
    mov ebx, eax
    xor eax, eax
    mov dr7, eax
    mov eax, ebx
    mov esi, ROM(expect_d)
    mov edi, (expect_d_end - expect_d) / 4
    mov ebp, REF
    call check_trace
    PRINTLN32 "trace: single-step and instruction breakpoint together"

    ; -- E: a data breakpoint (DR1: writes, 4 bytes) on the word a compiled loop adds
    ;    to, 3 iterations: a trap after each ADD. The loop was compiled without
    ;    breakpoints, its memory operands probing the TLB inline; with one armed,
    ;    every access must reach the breakpoint check.
    mov esi, 300
.warm_mem:
    mov edx, 2
    call hot_mem
    dec esi
    jnz .warm_mem
    mov dword [MEMW], 0
    mov dword [MEMW + 4], 0
    mov eax, 5
    mov edx, 3
    call hot_mem                  ; untraced: EAX 5, ECX 3
    mov [REF + 0x30], eax
    mov [REF + 0x34], ecx
    mov dword [MEMW], 0
    mov dword [MEMW + 4], 0
    xor eax, eax
    mov dr6, eax
    mov eax, MEMW
    mov dr1, eax
    mov eax, 0x00d00004           ; L1, RW1 = writes, LEN1 = 4 bytes
    mov dr7, eax
    mov dword [TRACE_N], 0
    mov eax, 5
    mov edx, 3
    call hot_mem
    mov ebx, eax
    xor eax, eax
    mov dr7, eax
    mov eax, ebx
    mov esi, ROM(expect_e)
    mov edi, (expect_e_end - expect_e) / 4
    mov ebp, REF + 0x30
    call check_trace
    cmp dword [MEMW], 15
    CHECK32 e, "the word under the data breakpoint"
    PRINTLN32 "trace: data breakpoint in the compiled loop"

    ; -- the compiled routine still runs right afterwards
    mov esi, 500
.again:
    HOT_ARGS 3
    call hot
    dec esi
    jnz .again
    cmp eax, [REF + 8]
    CHECK32 e, "hot after the traces: EAX"
    cmp ecx, [REF + 12]
    CHECK32 e, "hot after the traces: ECX"
    PRINTLN32 "trace: all checks passed"
    EXIT EXIT_PASS

; EFLAGS = [FLAGS_IN] by POPF, then the routine and TF cleared again.
popf_call:
    push dword [FLAGS_IN]
    popfd
    call hot
tf_back:
    pushfd
tf_p1:
    and dword [esp], ~0x100
tf_p2:
    popfd
tf_p3:
    ret

; The routine entered by an IRET that loads EFLAGS = [FLAGS_IN], then TF cleared.
iret_call:
    push dword iret_back
    push dword [FLAGS_IN]
    push dword SEL_CODE0
    push dword hot
    iretd
iret_back:
    pushfd
iret_p1:
    and dword [esp], ~0x100
iret_p2:
    popfd
iret_p3:
    ret

; Prints the #DB records and checks them: EDI of them, their EIPs those at ESI (a
; table of EIPs), and EAX/ECX on return those at EBP (the untraced result).
check_trace:
    mov [REF + 0x20], eax
    mov [REF + 0x24], ecx
    PRINT32 "trace: #DB count "
    mov eax, [TRACE_N]
    call print_hex32_32
    call newline32
    xor ebx, ebx
.rec:
    cmp ebx, [TRACE_N]
    jae .printed
    cmp ebx, TRACE_MAX
    jae .printed
    mov edx, ebx
    shl edx, 4
    PRINT32 "trace:  eip "
    mov eax, [TRACE_LOG + edx]
    call print_hex32_32
    PRINT32 " eax "
    mov eax, [TRACE_LOG + edx + 4]
    call print_hex32_32
    PRINT32 " ecx "
    mov eax, [TRACE_LOG + edx + 8]
    call print_hex32_32
    PRINT32 " dr6 "
    mov eax, [TRACE_LOG + edx + 12]
    call print_hex32_32
    call newline32
    inc ebx
    jmp .rec
.printed:
    cmp [TRACE_N], edi
    CHECK32 e, "the number of #DBs"
    xor ebx, ebx
.cmp:
    mov edx, ebx
    shl edx, 4
    mov eax, [esi + ebx * 4]
    cmp [TRACE_LOG + edx], eax
    CHECK32 e, "the EIP of a #DB"
    inc ebx
    cmp ebx, edi
    jb .cmp
    mov eax, [REF + 0x20]
    cmp eax, [ebp]
    CHECK32 e, "EAX after the traced run"
    mov eax, [REF + 0x24]
    cmp eax, [ebp + 4]
    CHECK32 e, "ECX after the traced run"
    ret

; Records EIP, EAX, ECX and DR6 of each #DB; an instruction breakpoint returns with RF
; set so the instruction runs.
db_handler:
    push eax
    push ebx
    push ecx
    mov ebx, [TRACE_N]
    inc dword [TRACE_N]
    cmp ebx, TRACE_MAX
    jae .full
    shl ebx, 4
    mov eax, [esp + 12]           ; EIP
    mov [TRACE_LOG + ebx], eax
    mov eax, [esp + 8]            ; EAX
    mov [TRACE_LOG + ebx + 4], eax
    mov eax, [esp]                ; ECX
    mov [TRACE_LOG + ebx + 8], eax
    mov eax, dr6
    and eax, 0x400f
    mov [TRACE_LOG + ebx + 12], eax
.full:
    mov eax, dr6
    test al, 0xf
    jz .trap
    or dword [esp + 20], 1 << 16  ; RF
.trap:
    xor eax, eax
    mov dr6, eax
    pop ecx
    pop ebx
    pop eax
    iretd

; The EIPs of the #DBs each part expects.
%macro LOOP_TRAPS 1               ; one iteration's traps, %1: where the JNZ goes
    dd hot.i2, hot.i3, hot.i4, hot.i5, hot.i6, %1
%endmacro
    align 4
expect_a:
    dd hot
    LOOP_TRAPS hot
    LOOP_TRAPS hot
    LOOP_TRAPS hot.ret
    dd tf_back, tf_p1, tf_p2, tf_p3
expect_a_end:
expect_b:
    LOOP_TRAPS hot
    LOOP_TRAPS hot.ret
    dd iret_back, iret_p1, iret_p2, iret_p3
expect_b_end:
expect_c:
    dd hot.i3, hot.i3, hot.i3, hot.i3
expect_c_end:
expect_d:
    dd hot
    dd hot.i2, hot.i3, hot.i3, hot.i4, hot.i5, hot.i6, hot
    dd hot.i2, hot.i3, hot.i3, hot.i4, hot.i5, hot.i6, hot.ret
    dd tf_back, tf_p1, tf_p2, tf_p3
expect_d_end:
expect_e:
    dd hot_mem.i2, hot_mem.i2, hot_mem.i2
expect_e_end:

; The routine: EDX iterations over EAX and ECX (EBX the multiplier). trace.py knows
; these instructions and their lengths (6, 5, 2, 3, 1, 2 bytes); keep them as they are.
    align 16
hot:
    imul eax, ebx, 0x12345
.i2:
    add eax, 0x5a5a5a5a
.i3:
    xor ecx, eax
.i4:
    rol ecx, 7
.i5:
    dec edx
.i6:
    jnz hot
.ret:
    ret

; A loop with memory operands: EDX iterations adding EAX to [MEMW] and counting in
; [MEMW + 4] (ECX its last value).
    align 16
hot_mem:
    add [MEMW], eax
.i2:
    mov ecx, [MEMW + 4]
    inc ecx
    mov [MEMW + 4], ecx
    dec edx
    jnz hot_mem
    ret

CPU_LIBRARY
GUEST_END
