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
    dd t64, gp64, ss64, cx16_align, gp64_rip, byte64, ud64, t64.ret
    dd sys64, sys64.kernel, sys64.ud, lahf64
    dd high64, high64.hi, high64.compat, high64_pf, desc64, fx64, cr8_64, cmp_ro64
    dd sysenter64, sysexit64_nc, iret32_64, retf_outer, retf_outer.user, far_mem64
    dd gate64_user, gate64_user.ret, gate64_kernel, gate64_same, gate64_same.target, gate64_call_ax
    dd gate64_jmp_ax, gate64_jmp_target, gate64_compat, dr64_data, dr64_data.after, dr64_exec, dr64_exec.hi, dr64_gp

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
    jmp 0x18:t64                    ; a code segment with L set: 64-bit mode
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

; ---- 64-bit mode (issue 18, phase 2) ----
; t64 runs one check after another and stores each result (a qword) at
; RES + 8 * n; tests/cpu/ia32e.c compares them with what the SDM says.
RES equ 0x30000
BUF equ 0x30800
bits 64
default rel
%define R(n) [abs RES + 8 * (n)]
t64:
    mov rax, 0x8877665544332211     ; 0: MOV r64, imm64
    mov R(0), rax
    mov rax, -1
    mov eax, 0x12345678             ; 1: a 32-bit write zero-extends
    mov R(1), rax
    mov rax, -1
    mov ax, 0x1234                  ; 2: a 16-bit write does not
    mov R(2), rax
    mov rsi, 0x1111
    mov sil, 0x22                   ; 3: REX: SIL, not DH
    mov ecx, 0x5500
    mov ch, 0x33                    ;    no REX: CH
    add rsi, rcx
    mov R(3), rsi
    mov r9, 0x0102030405060708
    add r9, r9                      ; 4: R9
    mov R(4), r9
    mov rax, -1
    add rax, 1                      ; 5: CF ZF PF AF of a 64-bit add
    pushfq
    pop rax
    and eax, 0x8d5
    mov R(5), rax
    mov ecx, 0x80000000
    movsxd rax, ecx                 ; 6
    mov R(6), rax
    mov eax, 0xfffffffe
    cdqe                            ; 7
    mov R(7), rax
    mov rax, -5
    cqo                             ; 8
    mov R(8), rdx
    mov rax, -1
    mov rcx, -1
    mul rcx                         ; 9, 10: a 128-bit product
    mov R(9), rdx
    mov R(10), rax
    mov edx, 1
    xor eax, eax
    mov ecx, 3
    div rcx                         ; 11, 12: 2^64 / 3
    mov R(11), rax
    mov R(12), rdx
    mov rax, -7
    cqo
    mov ecx, 2
    idiv rcx                        ; 13, 14
    mov R(13), rax
    mov R(14), rdx
    mov eax, 1
    shl rax, 63
    sar rax, 62                     ; 15: 6-bit counts
    mov R(15), rax
    mov rax, [qconst]               ; 16: RIP-relative load
    mov R(16), rax
    lea rax, [t64]                  ; 17: RIP-relative LEA
    mov R(17), rax
    mov rdx, rsp
    call .sub                       ; 18: CALL pushes 8 bytes, RET pops them
.ret:
    sub rdx, rsp
    mov R(19), rdx                  ; 19: RSP back where it was
    push -2
    pop rcx
    mov R(20), rcx                  ; 20: PUSH imm8 sign-extended to 64
    lea rsi, [src]
    mov edi, BUF
    mov ecx, 3
    cld
    rep movsq                       ; 21, 22: REP MOVSQ on RSI/RDI/RCX
    mov R(21), rdi
    mov rax, [abs BUF + 16]
    mov R(22), rax
    mov ecx, 5
    xor eax, eax
.loop:
    inc eax
    loop .loop                      ; 23: LOOP on RCX
    jrcxz .zero
    mov eax, 99
.zero:
    mov R(23), rax
    mov qword [abs BUF + 0x100], 1
    mov qword [abs BUF + 0x108], 2
    mov eax, 1
    mov edx, 2
    mov ebx, 3
    mov ecx, 4
    cmpxchg16b [abs BUF + 0x100]        ; 24, 25: CMPXCHG16B
    setz al
    mov R(25), rax
    mov rax, [abs BUF + 0x108]
    mov R(24), rax
    mov rax, 0x0102030405060708
    bswap rax                       ; 26
    mov R(26), rax
    mov rcx, -3
    imul rax, rcx, 1000             ; 27
    mov R(27), rax
    xor eax, eax
    bts rax, 63                     ; 28
    mov R(28), rax
    mov rax, 0x100000000
    mov rcx, 5
    xadd [abs BUF], rcx             ; 29: XADD r/m64 (BUF holds 1 from the copy)
    mov rax, [abs BUF]
    shl rax, 32
    or rax, rcx
    mov R(29), rax
    mov rax, -1
    mov rdx, 0
    add rax, 1
    adc rdx, 0                      ; 30: carry into the upper qword
    mov R(30), rdx
    mov r8, 0x88
    mov eax, 0x77
    xchg rax, r8                    ; 31: 49 90 is XCHG, not NOP
    shl rax, 8
    or rax, r8
    mov R(31), rax
    mov rax, rsp
    push word 0x1234                ; 32: 66 PUSH: 2 bytes
    sub rax, rsp
    add rsp, 2
    mov R(32), rax
    mov rax, 0xffffffff00000000
    mov ecx, 0
    mov edx, 1
    test ecx, ecx
    cmovz eax, edx                  ; 33: CMOVcc r32 zero-extends
    mov rbx, -1
    cmovnz ebx, edx                 ;     even when it does not move
    add rax, rbx
    mov R(33), rax
    mov rax, 0x123456789
    lea ecx, [rax + 1]              ; 34: LEA r32 truncates
    mov R(34), rcx
    mov rax, 1
    mov cl, 64
    shl rax, cl                     ; 35: count masked to 6 bits: 0, no change
    mov R(35), rax
    mov rax, 0xf0
    bsr rcx, rax                    ; 36
    bsf rdx, rax
    shl rcx, 8
    or rcx, rdx
    mov R(36), rcx
    stc
    lahf                            ; 37: LAHF in 64-bit mode (CPUID LAHF_LM)
    movzx eax, ah
    and eax, 0xc5                   ;    (AF is undefined after OR)
    mov R(37), rax
    hlt

.sub:
    mov rbx, [rsp]
    mov R(18), rbx
    ret

align 8
qconst: dq 0x0123456789abcdef
src: dq 1, 2, 3

; A non-canonical address: #GP(0); through RSP: #SS(0).
gp64:
    mov rax, 0x0000800000000000
    mov rbx, [rax]
    hlt
ss64:
    mov rsp, 0x8000000000000000
    push rax
    hlt
cx16_align:
    cmpxchg16b [abs BUF + 8]            ; not 16-byte aligned: #GP(0)
    hlt
gp64_rip:
    mov rax, 0x0000800000000000     ; a non-canonical RIP: #GP(0)
    jmp rax
byte64:
    mov rax, 0x1122334455667788
    mov r12b, al                    ; R12B
    mov dil, 0x99                   ; DIL
    mov bh, 0xaa                    ; BH
    hlt
lahf64:
    lahf                            ; #UD without CPUID.80000001h:ECX[0]
    hlt
ud64:
    db 0x06                         ; PUSH ES: invalid in 64-bit mode, #UD
    hlt

; SYSCALL/SYSRET, SWAPGS, the FS/GS base MSRs, IRETQ to 64-bit code at the same level
; and to compatibility mode at CPL 3; results at RES + 8 * 40 and on.
STAR equ 0xc0000081
sys64:
    mov ecx, STAR
    xor eax, eax
    mov edx, 0x00200018             ; SYSRET base 20h (SS 28h, CS64 30h), SYSCALL CS 18h
    wrmsr
    mov ecx, 0xc0000082             ; LSTAR
    lea rax, [.kernel]
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000084             ; SFMASK: IF, DF, TF
    mov eax, 0x700
    wrmsr
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1                       ; EFER.SCE
    wrmsr
    xor edx, edx
    mov ecx, 0xc0000100             ; FS base
    mov eax, BUF + 0x200
    wrmsr
    mov ecx, 0xc0000101             ; GS base
    mov eax, BUF + 0x300
    wrmsr
    mov ecx, 0xc0000102             ; KERNEL_GS_BASE
    mov eax, BUF + 0x400
    wrmsr
    mov qword [abs BUF + 0x200], 0x1111
    mov qword [abs BUF + 0x300], 0x2222
    mov qword [abs BUF + 0x400], 0x3333
    mov rax, [fs:0]
    mov R(40), rax
    mov rax, [gs:0]
    mov R(41), rax
    swapgs
    mov rax, [gs:0]
    mov R(42), rax
    swapgs
    ; IRETQ at the same level, to 64-bit code
    mov rax, rsp
    push 0x10
    push rax
    push 0x2
    push 0x18
    lea rax, [.same]
    push rax
    iretq
.same:
    mov qword R(50), 1
    ; SYSRET to 64-bit code at CPL 3, which comes back with SYSCALL
    lea rcx, [.user]
    mov r11d, 0x202
    o64 sysret
.user:
    mov eax, cs
    mov R(43), rax
    mov eax, ss
    mov R(44), rax
    syscall
.kernel:
    mov R(45), rcx
    mov R(46), r11
    pushfq
    pop rax
    mov R(47), rax
    mov eax, cs
    mov R(48), rax
    ; IRETQ to 32-bit compatibility-mode code at CPL 3
    push 0x2b
    push 0x8f000
    push 0x202
    push 0x33
    lea rax, [.compat]
    push rax
    iretq
bits 32
.compat:
    mov ecx, ds                     ; nulled by the return to CPL 3 (DPL 0 data)
    mov ax, 0x2b
    mov ds, ax
    mov eax, cs
    mov [abs RES + 8 * 49], eax
    mov [abs RES + 8 * 51], esp
    mov [abs RES + 8 * 52], ecx
.ud:
    ud2

; ---- 64-bit linear addresses (phase 3); results at RES + 8 * 60 and on ----
; The C side maps KBASE + x onto physical x (a 2 MiB supervisor page, as a kernel at
; 0xffffffff80000000 sees itself) and the single page ALIAS + RES onto physical
; RES + 0x20000: a 64-bit address whose low 32 bits are those of RES.
KBASE equ 0xffffffff80000000
ALIAS equ 0x100000000
bits 64
high64:
    mov ecx, 0xc0000100             ; FS base = KBASE + BUF
    mov eax, 0x80000000 + BUF
    mov edx, 0xffffffff
    wrmsr
    mov rax, KBASE + .hi
    jmp rax                         ; RIP above 4 GiB
.hi:
    mov rsp, KBASE + 0x90000        ; a stack above 4 GiB
    mov rdi, KBASE + RES
    lea rbx, [rel .hi]              ; 60: RIP-relative at a high RIP
    mov [rdi + 8 * 60], rbx
    call .sub                       ; 61: the return address CALL pushed
    mov [rdi + 8 * 61], rax
    mov qword [abs BUF + 0x10], 0x4455
    mov rax, [fs:0x10]              ; 62: through FS with a base above 4 GiB
    mov [rdi + 8 * 62], rax
    mov ecx, 0xc0000100             ; 63: the FS base read back
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov [rdi + 8 * 63], rax
    sgdt [abs BUF + 0x7e0]          ; the GDT through its alias at KBASE + GDT
    mov rax, [abs BUF + 0x7e2]
    mov rcx, KBASE
    add rax, rcx
    mov [abs BUF + 0x7f2], rax
    mov ax, [abs BUF + 0x7e0]
    mov [abs BUF + 0x7f0], ax
    lgdt [abs BUF + 0x7f0]
    mov ax, 0x10
    mov ds, ax                      ; a descriptor read above 4 GiB
    sgdt [abs BUF + 0x7d0]          ; 64: SGDT stores the 8-byte base
    mov rax, [abs BUF + 0x7d2]
    mov [rdi + 8 * 64], rax
    lgdt [abs BUF + 0x7e0]
    ; The same TLB slot for a 64-bit and a 32-bit address with equal low halves: the
    ; compatibility-mode read below must not take the 64-bit page's translation.
    mov dword [abs BUF + 0x700], 0x1357
    mov rsi, ALIAS + BUF + 0x700
    mov qword [rsi], 0x6677          ; physical BUF + 0x20700
    mov rsp, 0x90000
    push 0x08
    mov eax, .compat
    push rax
    o64 retf                        ; to 32-bit compatibility mode
.sub:
    mov rax, [rsp]
    ret
bits 32
.compat:
    mov eax, [BUF + 0x700]          ; 65: physical BUF + 0x700
    mov [RES + 8 * 65], eax
    hlt
bits 64
high64_pf:
    mov rax, KBASE + 0x400000       ; not present: #PF, CR2 all 64 bits
    mov rbx, [rax]
    hlt

; LTR, STR, LLDT and SLDT in 64-bit mode (16-byte descriptors; a register destination
; of STR/SLDT zero-extends); results at RES + 8 * 70 and on.
desc64:
    and byte [abs 0x800 + 0x38 + 5], ~2 ; the TSS not busy (an earlier LTR)
    mov ax, 0x38
    ltr ax
    mov rbx, -1
    str rbx                         ; 70
    mov [abs RES + 8 * 70], rbx
    mov ax, 0x58
    lldt ax
    mov rcx, -1
    sldt ecx                        ; 71
    mov [abs RES + 8 * 71], rcx
    hlt

; FXSAVE64/FXRSTOR64 carry XMM8-15 (bytes 288-415); results at RES + 8 * 72 and on.
FXAREA equ 0x31000
fx64:
    mov rax, cr4
    or eax, 0x200                   ; CR4.OSFXSR
    mov cr4, rax
    mov rax, 0x1122334455667788
    movq xmm9, rax
    fxsave64 [abs FXAREA]
    mov rax, [abs FXAREA + 288 + 16] ; 72: XMM9 in the image
    mov [abs RES + 8 * 72], rax
    mov qword [abs FXAREA + 288 + 48], 0x5566
    fxrstor64 [abs FXAREA]
    movq rbx, xmm11                 ; 73: XMM11 from the image
    mov [abs RES + 8 * 73], rbx
    hlt

; CR8 (the TPR; without a local APIC the CPU's own) and PREFETCHW; result at RES + 8 * 74.
cr8_64:
    mov eax, 9
    mov cr8, rax
    mov rbx, cr8                    ; 74
    mov [abs RES + 8 * 74], rbx
    prefetchw [abs BUF]             ; a hint on a model with long mode
    mov eax, 0x10
    mov cr8, rax                    ; bits 63:4 reserved: #GP(0)
    hlt

; CMP r/m64 reads only: a read-only page (0x1f0000, CR0.WP) does not fault; the ADD
; after it does (#PF, write); result at RES + 8 * 75.
cmp_ro64:
    mov rax, [abs 0x1f0000]
    cmp [abs 0x1f0000], rax
    sete bl
    cmp qword [abs 0x1f0000], 5
    movzx ebx, bl
    mov [abs RES + 8 * 75], rbx
    add [abs 0x1f0000], rax
    hlt


; SYSENTER and SYSEXIT in IA-32e mode (SDM vol. 2, SYSENTER, SYSEXIT): SYSEXIT with
; REX.W to 64-bit code at CPL 3 (CS = SYSENTER_CS + 32), SYSENTER back to 64-bit CPL 0
; with the whole 64-bit SYSENTER_ESP, SYSEXIT without REX.W to compatibility mode
; (CS + 16), SYSENTER from compatibility mode; results at RES + 8 * 76 and on.
sysenter64:
    mov ecx, 0x174                  ; SYSENTER_CS: CS 08h, SS 10h; out: 2Bh/33h, 1Bh/23h
    mov eax, 8
    xor edx, edx
    wrmsr
    mov ecx, 0x175                  ; SYSENTER_ESP above 4 GiB
    mov eax, 0x8ff00
    mov edx, 1
    wrmsr
    mov ecx, 0x176
    lea rax, [.kernel]
    xor edx, edx
    wrmsr
    lea rdx, [.user]
    mov rcx, 0x0000000200008000
    db 0x48, 0x0f, 0x35             ; SYSEXIT with REX.W
.user:
    mov eax, cs                     ; 76: 2Bh
    mov R(76), rax
    mov R(77), rsp                  ; 77: RCX whole
    sysenter
.kernel:
    mov eax, cs                     ; 78: 08h
    mov R(78), rax
    mov R(79), rsp                  ; 79: SYSENTER_ESP whole
    mov ecx, 0x176
    lea rax, [.kernel2]
    xor edx, edx
    wrmsr
    lea edx, [.compat]
    mov ecx, 0x8fff0
    sysexit                         ; no REX.W: compatibility mode
bits 32
.compat:
    mov eax, cs                     ; 80: 1Bh
    mov [abs RES + 8 * 80], eax
    mov [abs RES + 8 * 80 + 4], esp ; 0x8fff0
    sysenter                        ; from compatibility mode
bits 64
.kernel2:
    mov eax, cs                     ; 81: 08h
    mov R(81), rax
    mov eax, ss                     ; 82: 10h
    mov R(82), rax
    hlt

; SYSEXIT to 64-bit mode with a non-canonical RDX: #GP(0).
sysexit64_nc:
    mov ecx, 0x174
    mov eax, 8
    xor edx, edx
    wrmsr
    mov rdx, 0x0000800000000000
    mov rcx, 0x8000
    db 0x48, 0x0f, 0x35
    hlt

; IRET with a 32-bit operand in IA-32e mode (SDM vol. 2, IRET, IA-32e-MODE): from 64-bit
; mode to compatibility mode, then from compatibility mode back to 64-bit mode; each
; pops EIP, CS, EFLAGS, ESP and SS. Results at RES + 8 * 83 and 84.
iret32_64:
    mov rbx, rsp
    sub rsp, 20
    lea eax, [.compat]
    mov [rsp], eax                  ; EIP
    mov dword [rsp + 4], 0x08       ; CS: 32-bit code
    mov dword [rsp + 8], 0x2        ; EFLAGS
    mov [rsp + 12], ebx             ; ESP
    mov dword [rsp + 16], 0x10      ; SS
    iretd
bits 32
.compat:
    mov [abs RES + 8 * 83], esp     ; 83: the popped ESP
    mov ebx, esp
    push dword 0x10
    push ebx
    push dword 0x2
    push dword 0x18                 ; CS: 64-bit code
    push dword .back
    iretd
bits 64
.back:
    mov qword R(84), 1
    hlt

; RETF with REX.W and imm16 from 64-bit CPL 0 to compatibility-mode CPL 3 (SDM vol. 2,
; RET, far return to an outer level in IA-32e mode): pops RIP and CS, skips 16 bytes,
; pops RSP and SS, adds 16 to ESP, nulls DS (DPL 0); ends in UD2 at CPL 3.
retf_outer:
    push 0x2b                       ; SS: ring-3 data
    push 0x8f000                    ; RSP
    sub rsp, 16                     ; the 16 bytes imm16 releases
    push 0x33                       ; CS: ring-3 32-bit code
    lea rax, [.user]
    push rax
    o64 retf 16
bits 32
.user:
    ud2
bits 64

; CALL far through an m16:64 pointer (REX.W FF /3) to 64-bit code, which checks the
; 16 bytes pushed and returns with RETF; JMP far through an m16:32 pointer (FF /5) to
; compatibility mode, and back with a direct far JMP. Results at RES + 8 * 85 to 88.
far_mem64:
    lea rax, [.target]
    mov [abs BUF + 0x500], rax
    mov word [abs BUF + 0x508], 0x18
    lea eax, [.compat]
    mov [abs BUF + 0x510], eax
    mov word [abs BUF + 0x514], 0x08
    mov rbx, rsp
    o64 call far [abs BUF + 0x500]
.ret:
    db 0xff, 0x2c, 0x25             ; jmp far dword [abs BUF + 0x510]: m16:32
    dd BUF + 0x510
.target:
    sub rbx, rsp
    mov R(85), rbx                  ; 85: 16 bytes pushed
    mov rax, [rsp + 8]
    mov R(86), rax                  ; 86: CS 18h
    lea rax, [.ret]
    sub rax, [rsp]
    mov R(87), rax                  ; 87: 0, the return RIP is .ret
    o64 retf
bits 32
.compat:
    mov eax, cs
    mov [abs RES + 8 * 88], eax     ; 88: 08h
    jmp 0x18:.back
bits 64
.back:
    hlt

; 64-bit call gates (SDM vol. 3, 5.8.3.1; the C side puts them in the LDT). From CPL 3
; in 64-bit mode through a DPL-3 gate to 64-bit code at CPL 0: RSP0 and a null SS,
; the old SS, RSP, CS and RIP pushed in 8-byte slots; the kernel side records what it
; finds (RES + 8 * 89 to 94) and returns with RETF to CPL 3, which ends in UD2.
gate64_user:
    call far dword [abs BUF + 0x600] ; m16:32: a gate's offset comes from the gate
.ret:
    ud2
gate64_kernel:
    mov R(89), rsp
    mov eax, ss
    mov R(90), rax
    mov rax, [rsp]
    mov R(91), rax                  ; RIP: gate64_user.ret
    mov rax, [rsp + 8]
    mov R(92), rax                  ; CS: 27h
    mov rax, [rsp + 16]
    mov R(93), rax                  ; RSP: the user's
    mov rax, [rsp + 24]
    mov R(94), rax                  ; SS: 2Bh
    o64 retf

; At CPL 0 through a DPL-0 gate: CS and RIP on the current stack; the target counts
; the bytes pushed (RES + 8 * 95) and returns.
gate64_same:
    mov rbx, rsp
    call far dword [abs BUF + 0x610]
    hlt
.target:
    sub rbx, rsp
    mov R(95), rbx
    o64 retf

; A far CALL or JMP through the selector in AX (m16:32; the offset is ignored by gates).
gate64_call_ax:
    mov [abs BUF + 0x624], ax
    call far dword [abs BUF + 0x620]
    hlt
gate64_jmp_ax:
    mov [abs BUF + 0x624], ax
    jmp far dword [abs BUF + 0x620]
    hlt
gate64_jmp_target:
    mov R(96), rsp
    hlt

; From compatibility mode (CS 08h, CPL 0) a direct far CALL through the DPL-0 gate to
; gate64_same's target, which returns with RETF and REX.W to compatibility mode.
bits 32
gate64_compat:
    mov ebx, esp
    call 0x14:0                     ; the gate gives the target
    hlt
bits 64

; DR0-DR3 hold 64-bit linear addresses (SDM vol. 3, 17.2.4). A data breakpoint on
; writes to a dword above 4 GiB traps after the store (its DR0 read back at RES + 8 *
; 99); an instruction breakpoint above 4 GiB faults before the instruction; DR7 with a
; bit of 63:32 set is #GP(0).
dr64_data:
    mov rax, KBASE + RES + 0xf08
    mov dr0, rax
    mov rbx, dr0
    mov R(99), rbx
    mov eax, 0x000d0001             ; L0, writes, 4 bytes
    mov dr7, rax
    mov rax, KBASE + RES + 0xf08
    mov dword [rax], 1
.after:
    hlt
dr64_exec:
    lea rax, [rel .hi]
    mov rbx, KBASE
    add rax, rbx                    ; .hi's alias above 4 GiB
    mov dr1, rax
    mov ecx, 0x4                    ; L1, execution
    mov dr7, rcx
    jmp rax
.hi:
    hlt
dr64_gp:
    mov rax, 0x100000400
    mov dr7, rax
    hlt
