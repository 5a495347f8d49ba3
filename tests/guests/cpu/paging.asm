; SPDX-License-Identifier: GPL-2.0-or-later
; Paging (SDM vol. 3, chapter 4): 2-level 4 KiB pages, 4 MiB pages (PSE), the accessed
; and dirty bits, CR0.WP, user/supervisor checks from ring 3, INVLPG and CR3 reloads,
; page-crossing accesses, then PAE with 2 MiB pages, NX (EFER.NXE) and reserved
; bits. Every fault is checked for its vector, error code, CR2 and EIP.
%include "cpu.inc"

PD       equ 0x10000
PT0      equ 0x11000          ; maps 0-4 MiB
PAGE_NP  equ 0x300000         ; not present
PAGE_RO  equ 0x301000         ; supervisor, read-only
PAGE_USR equ 0x302000         ; user, read/write
PAGE_URO equ 0x303000         ; user, read-only
PAGE_SUP equ 0x304000         ; supervisor, read/write
PAGE_X   equ 0x305000         ; remapped by the INVLPG test
PAGE_NP2 equ 0x308000         ; not present, below a user page (ENTER)
PDPT     equ 0x14000
PAE_PD   equ 0x15000
PAE_PT   equ 0x16000

; PTE_SET lin, value: the 4 KiB entry for lin in PT0
%macro PTE_SET 2
    mov dword [PT0 + (((%1) >> 12) & 0x3ff) * 4], %2
%endmacro

; PF_TEST "what", error code, address: after a faulting access at label .f
%macro EXPECT_PF 3
    EXPECT_EXC 14, %2, %1
    cmp dword [EXC_CR2], %3
    je %%ok
    PRINT32 "FAIL: "
    PRINT32 %1
    PRINT32 ": CR2 "
    mov eax, [EXC_CR2]
    call print_hex32_32
    call newline32
    EXIT EXIT_FAIL
%%ok:
%endmacro

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    ; identity map 0-4 MiB with user, writable pages
    mov edi, PT0
    mov eax, 0x007
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD], PT0 | 0x007
    PTE_SET PAGE_NP, 0
    PTE_SET PAGE_RO, PAGE_RO | 0x001
    PTE_SET PAGE_USR, PAGE_USR | 0x007
    PTE_SET PAGE_URO, PAGE_URO | 0x005
    PTE_SET PAGE_SUP, PAGE_SUP | 0x003
    PTE_SET PAGE_NP2, 0
    SETGATE 0x30, pae_start, SEL_CODE0, 0xee
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    PRINTLN32 "paging: 4 KiB paging on"

    ; -- not present: read and write
    TRY .r1
.f1: mov eax, [PAGE_NP + 0x123]
    FAIL "read of a not-present page"
.r1:
    EXPECT_PF "read, not present", 0, PAGE_NP + 0x123
    EXPECT_EIP .f1, "#PF EIP"
    TRY .r2
    mov byte [PAGE_NP + 0xfff], 1
    FAIL "write to a not-present page"
.r2:
    EXPECT_PF "write, not present", 2, PAGE_NP + 0xfff

    ; -- accessed and dirty bits
    and dword [PT0 + ((PAGE_SUP >> 12) & 0x3ff) * 4], ~0x60
    mov eax, PD
    mov cr3, eax
    mov eax, [PAGE_SUP]
    mov eax, [PT0 + ((PAGE_SUP >> 12) & 0x3ff) * 4]
    test eax, 0x20
    CHECK32 nz, "a read did not set the accessed bit"
    test eax, 0x40
    CHECK32 z, "a read set the dirty bit"
    mov [PAGE_SUP], eax
    test dword [PT0 + ((PAGE_SUP >> 12) & 0x3ff) * 4], 0x40
    CHECK32 nz, "a write did not set the dirty bit"
    test dword [PD], 0x20
    CHECK32 nz, "the PDE accessed bit"

    ; -- CR0.WP: supervisor writes to read-only pages
    mov dword [PAGE_RO], 0x11111111      ; WP = 0: allowed
    mov eax, cr0
    or eax, 1 << 16
    mov cr0, eax
    TRY .r3
    mov dword [PAGE_RO], 0x22222222
    FAIL "supervisor write to a read-only page with CR0.WP"
.r3:
    EXPECT_PF "supervisor write, WP", 3, PAGE_RO
    cmp dword [PAGE_RO], 0x11111111
    CHECK32 e, "the refused write changed memory"

    ; -- page-crossing access into a not-present page: nothing is written
    mov dword [PAGE_NP - 4], 0
    TRY .r4
    mov dword [PAGE_NP - 2], 0x12345678   ; the first half is in a present page
    FAIL "a write crossing into a not-present page"
.r4:
    EXPECT_PF "write crossing into a not-present page", 2, PAGE_NP
    cmp dword [PAGE_NP - 4], 0
    CHECK32 e, "a faulting page-crossing write changed the first page"

    ; -- INVLPG: a new PTE takes effect after invalidation
    mov dword [0x306000], 0xaaaa
    mov dword [0x307000], 0xbbbb
    PTE_SET PAGE_X, 0x306000 | 3
    mov eax, [PAGE_X]
    PTE_SET PAGE_X, 0x307000 | 3
    invlpg [PAGE_X]
    cmp dword [PAGE_X], 0xbbbb
    CHECK32 e, "INVLPG did not make the new mapping visible"
    PTE_SET PAGE_X, 0x306000 | 3
    mov eax, cr3
    mov cr3, eax
    cmp dword [PAGE_X], 0xaaaa
    CHECK32 e, "a CR3 reload did not make the new mapping visible"

    ; -- 4 MiB pages: linear 8 MiB maps physical 4 MiB
    mov eax, cr4
    or eax, 1 << 4
    mov cr4, eax
    mov dword [PD + 2 * 4], 0x400000 | 0x083
    mov dword [PD + 1 * 4], 0x400000 | 0x083
    mov dword [0x400000 + 0x1234], 0x5a5a5a5a
    cmp dword [0x800000 + 0x1234], 0x5a5a5a5a
    CHECK32 e, "4 MiB page alias"
    test dword [PD + 2 * 4], 0x20
    CHECK32 nz, "accessed bit of a 4 MiB PDE"
    ; INVLPG anywhere in a 4 MiB page drops code translated from any of its pages: a
    ; routine at linear 16 MiB + 4 KiB runs hot, its PDE is pointed at another copy,
    ; and the address invalidated is 3 MiB into the page (another 2 MiB half).
    mov dword [0x401000], 0x000001b8        ; mov eax, 1 / ret
    mov word [0x401004], 0xc300
    mov dword [PD + 5 * 4], 0x800000 | 0x083 ; the copy written through linear 20 MiB
    mov dword [0x1401000], 0x000002b8       ; mov eax, 2 / ret
    mov word [0x1401004], 0xc300
    mov dword [PD + 4 * 4], 0x400000 | 0x083
    mov ecx, 300
.hot_large:
    mov eax, 0x1001000 - ROMBASE
    call eax
    cmp eax, 1
    CHECK32 e, "code in a 4 MiB page"
    loop .hot_large
    mov dword [PD + 4 * 4], 0x800000 | 0x083
    invlpg [0x1300000]
    mov eax, 0x1001000 - ROMBASE
    call eax
    cmp eax, 2
    CHECK32 e, "INVLPG in a 4 MiB page left code translated from another of its pages"
    ; a reserved bit in a 4 MiB PDE (no PSE-36 here): #PF with RSVD
    mov eax, 1
    cpuid
    test edx, 1 << 17
    jnz .no_rsvd_test
    mov dword [PD + 3 * 4], 0x400000 | 0x2083
    TRY .r5
    mov eax, [0xc00000]
    FAIL "reserved bit in a 4 MiB PDE"
.r5:
    EXPECT_PF "reserved bit in a 4 MiB PDE", 9, 0xc00000
.no_rsvd_test:
    PRINTLN32 "paging: supervisor checks passed"

    ; -- ring 3: user/supervisor and read/write checks
    mov eax, cr0
    and eax, ~(1 << 16)
    mov cr0, eax
    push dword SEL_DATA3
    push dword STACK3
    push dword 0x002
    push dword SEL_CODE3
    push dword ring3
    iret
ring3:
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    mov eax, [PAGE_USR]
    mov [PAGE_USR], eax
    mov eax, [PAGE_URO]
    TRY .r6
    mov eax, [PAGE_SUP]
    FAIL "user read of a supervisor page"
.r6:
    EXPECT_PF "user read of a supervisor page", 5, PAGE_SUP
    TRY .r7
    mov [PAGE_URO + 8], eax
    FAIL "user write to a read-only page"
.r7:
    EXPECT_PF "user write to a read-only user page", 7, PAGE_URO + 8
    TRY .r8
    mov eax, [PAGE_NP]
    FAIL "user read of a not-present page"
.r8:
    EXPECT_PF "user read, not present", 4, PAGE_NP
    ; REP MOVSD in ring 3: an in-page copy, then one that runs into a read-only page
    mov esi, PAGE_USR + 0xff0
    mov edi, PAGE_USR + 0x10
    mov ecx, 8
    TRY .r9
    rep movsd
.r9:
    cmp dword [EXC_VEC], -1
    CHECK32 e, "an in-page ring-3 REP MOVSD faulted"
    mov esi, PAGE_USR
    mov edi, PAGE_USR + 0xff0
    mov ecx, 8
    TRY .r10
    rep movsd                  ; the 5th dword lands in PAGE_URO
.r10:
    EXPECT_PF "REP MOVSD into a read-only page", 7, PAGE_URO
    cmp ecx, 4
    CHECK32 e, "ECX after the faulting iteration"
    cmp edi, PAGE_URO
    CHECK32 e, "EDI after the faulting iteration"

    ; -- ENTER faults where a write at its final stack pointer would (SDM vol. 2,
    ;    ENTER: #PF), with the registers of its start: the pushed EBP lands in a user
    ;    page, the one allocated byte below it in a supervisor / not-present page.
    ;    Documented by Intel; not asserted on other vendors.
    call cpu_is_intel
    jne .enter_done
    mov ebx, esp
    mov ebp, 0x5a5a5a5a
    mov esp, PAGE_USR + 4
    TRY .re1
.fe1:
    enter 1, 0
    mov esp, ebx
    FAIL "ENTER with its frame ending on a supervisor page did not fault"
.re1:
    mov ecx, esp
    mov esp, ebx
    EXPECT_PF "ENTER 1,0 onto a supervisor page", 7, PAGE_USR - 1
    EXPECT_EIP .fe1, "#PF EIP of ENTER"
    cmp ecx, PAGE_USR + 4
    CHECK32 e, "ESP after ENTER faulted"
    cmp dword [EXC_ESP], PAGE_USR + 4
    CHECK32 e, "ESP pushed for the ENTER #PF"
    cmp ebp, 0x5a5a5a5a
    CHECK32 e, "EBP after ENTER faulted"
    mov esp, PAGE_NP2 + 0x1000 + 4
    TRY .re2
.fe2:
    enter 1, 0
    mov esp, ebx
    FAIL "ENTER with its frame ending on a not-present page did not fault"
.re2:
    mov ecx, esp
    mov esp, ebx
    EXPECT_PF "ENTER 1,0 onto a not-present page", 6, PAGE_NP2 + 0xfff
    EXPECT_EIP .fe2, "#PF EIP of ENTER"
    cmp ecx, PAGE_NP2 + 0x1000 + 4
    CHECK32 e, "ESP after ENTER faulted"
    cmp ebp, 0x5a5a5a5a
    CHECK32 e, "EBP after ENTER faulted"
    ; the same frame one page up completes
    mov esp, PAGE_NP2 + 0x2000 + 4
    enter 1, 0
    mov ecx, esp
    mov edx, ebp
    mov esp, ebx
    cmp ecx, PAGE_NP2 + 0x2000 - 1
    CHECK32 e, "ESP after ENTER 1,0"
    cmp edx, PAGE_NP2 + 0x2000
    CHECK32 e, "EBP after ENTER 1,0"
    PRINTLN32 "paging: ENTER checks the page of its final stack pointer"
.enter_done:
    PRINTLN32 "paging: user checks passed"
    int 0x30

pae_start:
    ; back in ring 0 (INT 0x30)
    add esp, 20
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    ; -- PAE: PDPT -> PD -> PT (0-2 MiB 4 KiB pages), 2 MiB pages above
    mov eax, cr0
    and eax, ~0x80000000
    mov cr0, eax
    mov edi, PDPT
    mov ecx, (PAE_PT + 0x1000 - PDPT) / 4
    xor eax, eax
    rep stosd
    mov dword [PDPT], PAE_PD | 1
    mov dword [PAE_PD], PAE_PT | 7
    mov dword [PAE_PD + 8], 0x200000 | 0x87     ; 2 MiB page, identity
    mov edi, PAE_PT
    mov eax, 7
    mov ecx, 512
.pfill:
    mov [edi], eax
    mov dword [edi + 4], 0
    add edi, 8
    add eax, 0x1000
    loop .pfill
    ; an executable page and a no-execute page with a RET on each
    mov byte [0x30000], 0xc3
    mov byte [0x31000], 0xc3
    mov dword [PAE_PT + 0x31 * 8 + 4], 0x80000000  ; XD
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    ; XD without EFER.NXE is a reserved bit
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    PRINTLN32 "paging: PAE paging on"
    TRY .r11
    mov eax, [0x31000]
    FAIL "XD set without EFER.NXE"
.r11:
    EXPECT_PF "XD bit without NXE (reserved)", 9, 0x31000
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1 << 11
    wrmsr
    mov eax, [0x31000]         ; data reads of an NX page are fine now
    ; execute in the executable page: CS has base ROMBASE, so the target is relative
    mov eax, 0x30000 - ROMBASE
    call eax
    mov eax, 0x31000 - ROMBASE
    TRY .r12
    call eax
    FAIL "execution in a no-execute page"
.r12:
    EXPECT_PF "fetch from an NX page", 0x11, 0x31000
    EXPECT_EIP 0x31000 - ROMBASE, "#PF EIP of an NX fetch"
    ; a reserved physical-address bit (bit 40) in a PTE
    mov dword [PAE_PT + 0x32 * 8 + 4], 0x100
    TRY .r13
    mov eax, [0x32000]
    FAIL "reserved bit 40 in a PAE PTE"
.r13:
    EXPECT_PF "reserved bit in a PAE PTE", 9, 0x32000
    ; 2 MiB page with dirty bit
    mov dword [0x250000], 1
    test dword [PAE_PD + 8], 0x40
    CHECK32 nz, "dirty bit of a 2 MiB page"
    ; a not-present PDPTE
    TRY .r14
    mov eax, [0x40000000]
    FAIL "access through a not-present PDPTE"
.r14:
    EXPECT_PF "not-present PDPTE", 0, 0x40000000
    ; reserved bits in a PDPTE make the CR3 load fail (#GP)
    mov dword [PDPT + 8], 1 | 0x6
    TRY .r15
    mov eax, PDPT
    mov cr3, eax
    FAIL "CR3 load with a bad PDPTE"
.r15:
    EXPECT_EXC 13, 0, "CR3 load with reserved PDPTE bits"
    PRINTLN32 "paging: PAE and NX checks passed"
    EXIT EXIT_PASS

CPU_LIBRARY
GUEST_END
