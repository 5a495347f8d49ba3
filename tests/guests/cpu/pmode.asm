; SPDX-License-Identifier: GPL-2.0-or-later
; Protected-mode segmentation (SDM vol. 3, chapters 3 and 5): limit checks for
; expand-up and expand-down segments, type checks (read-only data, execute-only
; code), null selectors, not-present segments, SS rules, selectors beyond the GDT,
; an LDT, the accessed bit, LAR/LSL/VERR/VERW/ARPL, 16-bit code segments, the
; 15-byte instruction limit and undefined opcodes; then back to real mode with the
; segment limits kept ("unreal mode").
%include "cpu.inc"

; Test descriptors (GDT slots from SEL_FREE on).
SEL_LIM    equ 0x40   ; data, base SCRATCH, limit 0xFFF
SEL_DOWN   equ 0x48   ; data expand-down, limit 0xFFF, B=1
SEL_RO     equ 0x50   ; read-only data
SEL_XO     equ 0x58   ; execute-only code
SEL_NP     equ 0x60   ; not present data
SEL_RX     equ 0x68   ; readable code
SEL_SS3    equ 0x70   ; DPL 3 data
SEL_LDT    equ 0x78   ; an LDT
SEL_STK    equ 0x80   ; small stack segment, limit 0xFFF
SEL_BIG    equ 0x88   ; flat 4 GiB data for unreal mode
LDT_ADDR   equ 0x6000

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    PRINTLN32 "pmode: in protected mode"

    ; -- descriptors used below
    mov esi, ROM(test_descs)
    mov edi, GDT_ADDR + SEL_LIM
    mov ecx, (test_descs_end - test_descs) / 4
    rep movsd

    ; -- expand-up limit: the last dword fits, one byte more faults
    mov ax, SEL_LIM
    mov es, ax
    mov dword [SCRATCH + 0xffc], 0x12345678
    mov eax, [es:0xffc]
    cmp eax, 0x12345678
    CHECK32 e, "read through a based segment"
    TRY .r1
.f1: mov eax, [es:0xffd]
    FAIL "dword read across the limit did not fault"
.r1:
    EXPECT_EXC 13, 0, "read across an expand-up limit"
    EXPECT_EIP .f1, "#GP must point at the faulting instruction"
    ; the accessed bit was set in the descriptor
    test byte [GDT_ADDR + SEL_LIM + 5], 1
    CHECK32 nz, "accessed bit not set by the segment load"

    ; -- expand-down: offsets above the limit are valid, at or below fault
    mov ax, SEL_DOWN
    mov es, ax
    mov dword [es:0x1000], 0xcafe
    cmp dword [SCRATCH + 0x1000], 0xcafe
    CHECK32 e, "write through an expand-down segment"
    TRY .r2
    mov byte [es:0xfff], 1
    FAIL "expand-down offset at the limit did not fault"
.r2:
    EXPECT_EXC 13, 0, "expand-down limit"

    ; -- read-only data: reads work, writes fault
    mov ax, SEL_RO
    mov es, ax
    mov eax, [es:0]
    TRY .r3
    mov [es:0], eax
    FAIL "write to read-only data did not fault"
.r3:
    EXPECT_EXC 13, 0, "write to a read-only segment"

    ; -- execute-only code cannot be loaded into a data segment register
    TRY .r4
    mov ax, SEL_XO
    mov es, ax
    FAIL "loading execute-only code into ES did not fault"
.r4:
    EXPECT_EXC 13, SEL_XO, "execute-only code in ES"
    ; readable code can, but it is not writable
    mov ax, SEL_RX
    mov es, ax
    mov eax, [es:0]
    TRY .r5
    mov [es:0], eax
    FAIL "write through a code segment did not fault"
.r5:
    EXPECT_EXC 13, 0, "write through readable code"

    ; -- a null selector loads, but using it faults
    xor ax, ax
    mov es, ax
    TRY .r6
    mov eax, [es:0]
    FAIL "access through a null selector did not fault"
.r6:
    EXPECT_EXC 13, 0, "null selector access"

    ; -- not present: #NP with the selector
    TRY .r7
    mov ax, SEL_NP
    mov es, ax
    FAIL "loading a not-present segment did not fault"
.r7:
    EXPECT_EXC 11, SEL_NP, "not-present segment"

    ; -- beyond the GDT limit: #GP(selector); RPL and TI bits in the error code
    TRY .r8
    mov ax, 0x200 | 3
    mov fs, ax
    FAIL "selector beyond the GDT did not fault"
.r8:
    EXPECT_EXC 13, 0x200, "selector beyond the GDT limit"

    ; -- SS: must be writable data with DPL = RPL = CPL
    TRY .r9
    mov ax, SEL_RO
    mov ss, ax
    FAIL "read-only SS did not fault"
.r9:
    EXPECT_EXC 13, SEL_RO, "read-only data in SS"
    TRY .r10
    mov ax, SEL_SS3 | 3
    mov ss, ax
    FAIL "DPL 3 SS at CPL 0 did not fault"
.r10:
    EXPECT_EXC 13, SEL_SS3, "SS with RPL/DPL != CPL"
    TRY .r11
    xor ax, ax
    mov ss, ax
    FAIL "null SS did not fault"
.r11:
    EXPECT_EXC 13, 0, "null SS"
    mov byte [GDT_ADDR + SEL_NP + 5], 0x12   ; not present, writable data
    TRY .r12
    mov ax, SEL_NP
    mov ss, ax
    FAIL "not-present SS did not fault"
.r12:
    EXPECT_EXC 12, SEL_NP, "not-present SS"
    ; -- POP SS moves SP or ESP by the size of the stack it popped from, not by the
    ;    new SS's B bit (SDM vol. 2, POP)
    mov ebx, esp
    mov dword [0xfffc], SEL_DATA0
    mov dword [0x1fffc], SEL_DATA16
    mov ax, SEL_DATA16
    mov ss, ax
    mov esp, 0x0002fffc
    pop ss                      ; 16-bit stack, 32-bit SS: SP wraps, the high half stays
    mov ecx, esp
    mov ax, SEL_DATA16
    mov ss, ax
    mov word [0xfffe], SEL_DATA0
    mov esp, 0x0002fffe
    o16 pop ss
    mov edx, esp
    mov esp, 0x0001fffc         ; SS is SEL_DATA0 again: a 32-bit stack
    pop ss                      ; 32-bit stack, 16-bit SS: ESP + 4
    mov esi, esp
    mov ax, SEL_DATA0
    mov ss, ax
    mov esp, ebx
    cmp ecx, 0x00020000
    CHECK32 e, "ESP after a 32-bit POP SS from a 16-bit stack into a 32-bit SS"
    cmp edx, 0x00020000
    CHECK32 e, "ESP after a 16-bit POP SS from a 16-bit stack into a 32-bit SS"
    cmp esi, 0x00020000
    CHECK32 e, "ESP after POP SS from a 32-bit stack into a 16-bit SS"
    PRINTLN32 "pmode: POP SS adjusts the stack it popped from"

    ; -- LDT
    mov dword [LDT_ADDR + 8], 0x0000ffff       ; LDT entry 1: flat data
    mov dword [LDT_ADDR + 12], 0x00cf9200
    mov ax, SEL_LDT
    lldt ax
    sldt bx
    cmp bx, SEL_LDT
    CHECK32 e, "SLDT"
    mov ax, 8 | 4                               ; LDT index 1
    mov gs, ax
    mov eax, [gs:ROM(test_descs)]
    cmp eax, [ROM(test_descs)]
    CHECK32 e, "read through an LDT segment"
    TRY .r14
    mov ax, 0x18 | 4                            ; beyond the LDT limit
    mov gs, ax
    FAIL "selector beyond the LDT did not fault"
.r14:
    EXPECT_EXC 13, 0x1c, "selector beyond the LDT limit"

    ; -- LAR, LSL, VERR, VERW, ARPL
    mov ax, SEL_LIM
    lsl ebx, ax
    CHECK32 z, "LSL on a data segment"
    cmp ebx, 0xfff
    CHECK32 e, "LSL value"
    lar ebx, ax
    CHECK32 z, "LAR on a data segment"
    and ebx, 0x00f0ff00
    cmp ebx, 0x00009300
    CHECK32 e, "LAR value"
    mov ax, SEL_XO
    verr ax
    CHECK32 nz, "VERR on execute-only code"
    mov ax, SEL_RX
    verr ax
    CHECK32 z, "VERR on readable code"
    verw ax
    CHECK32 nz, "VERW on code"
    mov ax, SEL_LIM
    verw ax
    CHECK32 z, "VERW on writable data"
    mov ax, 0x200
    lar ebx, ax
    CHECK32 nz, "LAR beyond the GDT"
    mov ax, SEL_TSS
    lsl ebx, ax
    CHECK32 z, "LSL on a TSS"
    cmp ebx, 0x2068
    CHECK32 e, "LSL value of the TSS"
    mov ax, 0x0010
    mov bx, 0x0003
    arpl ax, bx
    CHECK32 z, "ARPL raising the RPL"
    cmp ax, 0x0013
    CHECK32 e, "ARPL result"
    arpl ax, bx
    CHECK32 nz, "ARPL with an equal RPL"
    ; ARPL on read-only data: a destination whose RPL stays is only read (no fault,
    ; as test386 checks on real hardware; asserted on Intel only); raising the RPL
    ; writes, which faults
    mov word [SCRATCH], 0x0013
    mov ax, SEL_RO
    mov es, ax
    mov bx, 3
    call cpu_is_intel
    jne .arpl_write
    arpl [es:0], bx
    CHECK32 nz, "ARPL with an equal RPL on read-only data"
    PRINTLN32 "pmode: ARPL on read-only data that keeps its RPL does not fault"
.arpl_write:
    mov word [SCRATCH], 0x0010
    TRY .r_arpl
.f_arpl:
    arpl [es:0], bx
    FAIL "ARPL raising the RPL of read-only data did not fault"
.r_arpl:
    EXPECT_EXC 13, 0, "ARPL raising the RPL of read-only data"
    EXPECT_EIP .f_arpl, "#GP of ARPL"
    cmp word [SCRATCH], 0x0010
    CHECK32 e, "a faulting ARPL changed memory"
    mov ax, SEL_DATA0
    mov es, ax

    ; -- a 16-bit code segment: operand sizes flip
    jmp SEL_CODE16:code16
[bits 16]
code16:
    mov eax, 0x11112222
    mov ax, 0x3333            ; 16-bit: keeps the high half
    jmp dword SEL_CODE0:back32
[bits 32]
back32:
    cmp eax, 0x11113333
    CHECK32 e, "16-bit code segment operand size"

    ; -- 15-byte limit: 14 prefixes and a 2-byte instruction are too long
    TRY .r15
.f15:
    times 14 db 0x3e
    mov al, 1                 ; 2 bytes: 16 in all
    FAIL "a 16-byte instruction did not fault"
.r15:
    EXPECT_EXC 13, 0, "instruction longer than 15 bytes"
    EXPECT_EIP .f15, "#GP for the long instruction"
    ; exactly 15 bytes is fine
    times 13 db 0x3e
    mov al, 2
    cmp al, 2
    CHECK32 e, "a 15-byte instruction"

    ; -- undefined opcodes raise #UD at their address
%macro UD_TEST 1+
    TRY %%r
%%f: %1
    FAIL "no #UD"
%%r:
    EXPECT_EXC 6, -1, "undefined opcode"
    EXPECT_EIP %%f, "#UD address"
%endmacro
    UD_TEST ud2
    UD_TEST db 0x0f, 0xff
    UD_TEST db 0xc6, 0xc8, 0x00        ; C6 /1
    UD_TEST db 0x8f, 0xc8              ; 8F /1
    UD_TEST db 0xfe, 0xd0              ; FE /2
    UD_TEST db 0xff, 0xf8              ; FF /7
    UD_TEST db 0xf0, 0x90              ; LOCK NOP
    UD_TEST db 0xf0, 0x01, 0xc0        ; LOCK ADD to a register
    UD_TEST db 0x8d, 0xc0              ; LEA with a register operand
    UD_TEST db 0x8e, 0xc8              ; MOV CS, AX
    UD_TEST db 0x0f, 0x20, 0xc8        ; MOV EAX, CR1
    UD_TEST db 0x0f, 0x0b
    UD_TEST db 0x0f, 0x38, 0x0c, 0xc0  ; a 0F 38 slot with only a VEX form
    UD_TEST db 0x0f, 0xc7, 0xc8        ; CMPXCHG8B with a register
    UD_TEST db 0x0f, 0xaa              ; RSM outside SMM
    PRINTLN32 "pmode: segmentation checks passed"

    ; -- back to real mode through a 16-bit segment; FS keeps a 4 GiB limit
    mov ax, SEL_BIG
    mov fs, ax
    mov dword [0x200000], 0x600dbeef
    jmp SEL_CODE16:to_real
[bits 16]
to_real:
    mov ax, SEL_DATA16
    mov ds, ax
    mov es, ax
    mov ss, ax
    o32 lidt [cs:real_idtr]
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0xf000:in_real
in_real:
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, cs
    mov ds, ax
    xor ax, ax
    mov fs, ax                ; a real-mode load keeps the cached limit
    mov esi, 0x200000
    mov eax, [fs:esi]
    cmp eax, 0x600dbeef
    CHECK e, "unreal mode: FS lost its 4 GiB limit"
    PRINTLN "pmode: unreal mode works"
    ; a 64 KiB segment still faults past 0xFFFF in real mode: INT 13 (#GP)
    mov word [es:13 * 4], .gp_handler
    mov word [es:13 * 4 + 2], cs
    mov ax, 0x1000
    mov es, ax                ; still the 16-bit data limit from SEL_DATA16
    mov ebx, 0x10000
    mov al, [es:ebx]
    PRINTLN "FAIL: real-mode access past a 64 KiB limit did not fault"
    EXIT EXIT_FAIL
.gp_handler:
    PRINTLN "pmode: real-mode limit fault raised INT 13"
    EXIT EXIT_PASS
real_idtr:
    dw 0x3ff
    dd 0

[bits 32]
    align 8
test_descs:
    DESC SCRATCH, 0xfff, 0x92, 0x0          ; 40 SEL_LIM
    DESC SCRATCH, 0xfff, 0x96, 0x4          ; 48 SEL_DOWN (B=1)
    DESC SCRATCH, 0xfff, 0x90, 0x0          ; 50 SEL_RO
    DESC ROMBASE, 0xffff, 0x98, 0x4         ; 58 SEL_XO
    DESC SCRATCH, 0xfff, 0x12, 0x0          ; 60 SEL_NP (P=0)
    DESC ROMBASE, 0xffff, 0x9a, 0x4         ; 68 SEL_RX
    DESC 0, 0xfffff, 0xf2, 0xc              ; 70 SEL_SS3
    DESC LDT_ADDR, 0x0f, 0x82, 0x0          ; 78 SEL_LDT (two entries)
    DESC SCRATCH, 0xfff, 0x92, 0x4          ; 80 SEL_STK
    DESC 0, 0xfffff, 0x92, 0xc              ; 88 SEL_BIG
test_descs_end:

CPU_LIBRARY
GUEST_END
