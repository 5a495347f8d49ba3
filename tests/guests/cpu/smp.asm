; SPDX-License-Identifier: GPL-2.0-or-later
; Several processors (-smp N, N read from CMOS byte 0x5F): the BSP starts the APs
; itself with INIT-SIPI-SIPI (SDM vol. 3, 8.4.4.1) into a trampoline that enters
; protected mode. Then, in phases the BSP opens with GO:
;  1. every CPU adds 100,000 to shared counters with LOCK ADD, LOCK XADD, a LOCK
;     CMPXCHG loop and a LOCK CMPXCHG8B loop, and 100,000 times takes an XCHG spinlock
;     released by a plain byte store around a plain increment; 20,000 LOCK XADDs to a
;     dword that crosses a page: all totals are exact.
;  2. message passing (BSP writes data then flag, CPU 1 reads flag then data) and store
;     buffering with a locked fence, 100,000 rounds each: only what TSO allows is seen
;     (SDM vol. 3, 8.2.3).
;     With 4 CPUs or more, IRIW (independent reads of independent writes): CPUs 2 and 3
;     write rising values to X and Y until the readers are done, CPU 1 samples X then Y, the BSP Y then X. TSO
;     is multi-copy atomic (8.2.3.7: stores are seen in the same order by all other
;     processors), so no pair of samples may show the two writes in opposite orders.
;     Then cross-modifying code: the BSP rewrites a routine CPU 1 calls, 1,000 times,
;     with the SDM's protocol (a flag, then CPUID on the executing CPU, 8.1.3): CPU 1
;     always runs the new version. And 300 rounds of a decoding race: the BSP's store
;     into the routine drops CPU 1's code, its next store to the page gets it a direct
;     write pointer, and while it stores through that pointer CPU 1 decodes the
;     routine anew; the BSP's last store, through the pointer, must reach CPU 1's
;     code (once lost for good: a Linux boot hung on a stale INT3 of text_poke), and
;     already by the first call after the flag and CPUID (8.1.3).
;  3. IPIs (APs asleep in HLT): self, all including self, all excluding self, a
;     physical destination, logical flat and cluster destinations, lowest priority to
;     exactly one CPU, an NMI; each CPU counts what reaches it.
%include "cpu.inc"
%include "ap.inc"

ITER       equ 100000
VEC_IPI    equ 0x60

; Shared variables, each on its own cache line.
NCPUS      equ 0x40000
ALIVE      equ 0x40040
GO         equ 0x40080
DONE1      equ 0x400c0
DONE2      equ 0x40100
DONE3      equ 0x40140
CNT_ADD    equ 0x40180
CNT_XADD   equ 0x401c0
CNT_CMPX   equ 0x40200
CNT_8B     equ 0x40240          ; 64 bits
LOCKV      equ 0x40280          ; spinlock byte
CNT_PLAIN  equ 0x402c0
MP_DATA    equ 0x40300
MP_FLAG    equ 0x40340
MP_BAD     equ 0x40380
SB_X       equ 0x403c0
SB_Y       equ 0x40400
CMD        equ 0x40440
ACK        equ 0x40480
XADD_SUM   equ 0x404c0          ; sum of the values XADD returned (mod 2^32)
MP_READY   equ 0x406c0
SB_READY   equ 0x40700
SMC_FLAG   equ 0x40740
SMC_ACK    equ 0x40780
SMC_BAD    equ 0x407c0
CNT_SPLIT  equ 0x41ffe          ; a dword across a page boundary
SPLIT_ITER equ 20000
SPLIT_GO   equ 0x40800          ; barrier: the CPUs start the split adds together
SMC_CODE   equ 0x30000          ; a routine the BSP rewrites and CPU 1 runs
SMC_ROUNDS equ 1000
SEL_FLAT   equ SEL_FREE         ; a flat 32-bit code segment, to call SMC_CODE
HITS       equ 0x40500          ; per CPU: fixed IPIs received
NMIS       equ 0x40580          ; per CPU: NMIs received
SNAP       equ 0x40600          ; HITS at the last check
SB_R0      equ 0x50000          ; per round: the BSP's load saw the old value
SB_R1      equ 0x70000          ; per round: CPU 1's load saw the old value
IRIW_X     equ 0x40840          ; written rising by CPU 2
IRIW_Y     equ 0x40880          ; written rising by CPU 3
IRIW_GO    equ 0x408c0          ; barrier: the four CPUs start together
IRIW_DONE  equ 0x40900          ; readers finished: the writers stop
IRIW_N     equ 60000            ; samples each reader takes
RACE_FLAG  equ 0x40940          ; decode race: round k's last store is done
RACE_ACK   equ 0x40980          ; CPU 1 saw round k's routine
RACE_BEAT  equ 0x409c0          ; the BSP's loop count while it waits (block boundaries)
RACE_BAD   equ 0x40a00          ; rounds whose last store CPU 1 never saw
RACE_LATE  equ 0x40a40          ; rounds whose first call after CPUID ran the old code
RACE_ROUNDS equ 300
RACE_NEW   equ 0x10000          ; round k's last store makes the routine return k + this
IRIW_R1    equ 0x200000         ; CPU 1's samples: X then Y, 8 bytes each
IRIW_R2    equ 0x300000         ; the BSP's samples: Y then X

CNT8_START_LO equ 0xfffe0000    ; the low half carries into the high one on the way
CNT8_START_HI equ 1

%macro IPI 2
    mov dword [LAPIC + 0x310], %1
    mov dword [LAPIC + 0x300], %2
%endmacro

; Waits (bounded) until the dword at %1 equals %2 (a register or immediate).
; Gives up after 60 s of TSC (1 GHz here; faster under KVM), not after a count of spins:
; on a loaded host the other vCPUs' threads may not run for seconds, which a spin count
; took for a hang (IRIW's meeting failed so at a load of 20). Keeps every register.
%macro WAIT_EQ 3
    push eax
    push edx
    rdtsc
    add eax, 0xf8475800         ; 60,000,000,000 = 0xd_f847_5800
    adc edx, 0xd
    push edx
    push eax
%%w:
    cmp dword [%1], %2
    je %%ok
    pause
    rdtsc
    cmp edx, [esp + 4]
    jb %%w
    ja %%late
    cmp eax, [esp]
    jb %%w
%%late:
    FAIL %3
%%ok:
    add esp, 8
    pop edx
    pop eax
%endmacro

%macro CHECK_EQ 3
    cmp dword [%1], %2
    je %%ok
    PRINT32 "FAIL: "
    PRINT32 %3
    PRINT32 ": "
    mov eax, [%1]
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
    ; clear the shared area
    mov edi, 0x40000
    mov ecx, 0x900 / 4
    xor eax, eax
    rep stosd
    mov dword [CNT_SPLIT], 0
    mov dword [CNT_8B], CNT8_START_LO
    mov dword [CNT_8B + 4], CNT8_START_HI
    AP_COUNT
    mov [NCPUS], eax
    cmp eax, 2
    CHECK32 ae, "run with -smp 2 or more"
    ; the flat code segment and the first version of the routine: mov eax, 0; retf
    mov dword [GDT_ADDR + SEL_FLAT], 0x0000ffff
    mov dword [GDT_ADDR + SEL_FLAT + 4], 0x00cf9a00
    mov byte [SMC_CODE], 0xb8
    mov dword [SMC_CODE + 1], 0
    mov byte [SMC_CODE + 5], 0xcb
    SETGATE VEC_IPI, ipi_handler, SEL_CODE0, 0x8e
    SETGATE 2, nmi_handler, SEL_CODE0, 0x8e
    call apic_setup
    cmp dword [LAPIC + 0x20], 0
    CHECK32 e, "the BSP's APIC ID is not 0"

    ; -- the APs: INIT, then two STARTUPs, to a far jump into this ROM
    AP_START_ALL
    mov ebx, [NCPUS]
    dec ebx
    WAIT_EQ ALIVE, ebx, "not every AP started"
    PRINT32 "smp: CPUs started by INIT-SIPI-SIPI: "
    mov eax, [NCPUS]
    call print_hex32_32
    call newline32

    ; -- 1: counters
    mov dword [GO], 1
    call count_phase
    mov ebx, [NCPUS]
    WAIT_EQ DONE1, ebx, "counter phase did not finish"
    imul ebx, [NCPUS], ITER
    CHECK_EQ CNT_ADD, ebx, "LOCK ADD total"
    CHECK_EQ CNT_XADD, ebx, "LOCK XADD total"
    CHECK_EQ CNT_CMPX, ebx, "LOCK CMPXCHG total"
    CHECK_EQ CNT_PLAIN, ebx, "XCHG spinlock total"
    imul eax, [NCPUS], SPLIT_ITER
    CHECK_EQ CNT_SPLIT, eax, "page-crossing LOCK XADD total"
    ; XADD handed out each value 0 .. total-1 once: their sum is total*(total-1)/2
    mov eax, ebx
    lea ecx, [ebx - 1]
    mul ecx
    shrd eax, edx, 1
    CHECK_EQ XADD_SUM, eax, "sum of the values LOCK XADD returned"
    mov eax, CNT8_START_LO
    mov edx, CNT8_START_HI
    add eax, ebx
    adc edx, 0
    CHECK_EQ CNT_8B, eax, "LOCK CMPXCHG8B total, low half"
    CHECK_EQ CNT_8B + 4, edx, "LOCK CMPXCHG8B total, high half"
    PRINTLN32 "smp: LOCK ADD, XADD, CMPXCHG, CMPXCHG8B, XCHG-lock and split LOCK XADD totals exact"

    ; -- 2: litmus tests with CPU 1
    mov dword [GO], 2
    WAIT_EQ MP_READY, 1, "CPU 1 did not start the message-passing rounds"
    xor ecx, ecx
.mp:
    inc ecx
    mov [MP_DATA], ecx
    mov [MP_FLAG], ecx
    cmp ecx, ITER
    jb .mp
    ; store buffering: X = i; fence; r0 = (Y < i)
    WAIT_EQ SB_READY, 1, "CPU 1 did not start the store-buffering rounds"
    mov ecx, 1
.sb:
    mov [SB_X], ecx
    lock or dword [esp], 0
    cmp [SB_Y], ecx
    setb byte [SB_R0 + ecx]
    inc ecx
    cmp ecx, ITER
    jb .sb
    ; cross-modifying code: round k stores k as the routine's immediate
    mov esi, 1
.smc:
    mov [SMC_CODE + 1], esi
    mov [SMC_FLAG], esi
    WAIT_EQ SMC_ACK, esi, "CPU 1 did not answer a cross-modifying-code round"
    inc esi
    cmp esi, SMC_ROUNDS
    jbe .smc
    ; decoding race: k, a store elsewhere in the page, a window, k + RACE_NEW
    mov esi, 1
.race:
    mov [SMC_CODE + 1], esi
    mov [SMC_CODE + 0x800], esi
%rep 300
    mov [SMC_CODE + 0x804], esi
%endrep
    lea eax, [esi + RACE_NEW]
    mov [SMC_CODE + 1], eax
    mov [RACE_FLAG], esi
.race_wait:
    inc dword [RACE_BEAT]
    cmp [RACE_ACK], esi
    jne .race_wait
    inc esi
    cmp esi, RACE_ROUNDS
    jbe .race
    call iriw_phase
    mov ebx, [NCPUS]
    dec ebx
    WAIT_EQ DONE2, ebx, "litmus phase did not finish"
    cmp dword [NCPUS], 4
    jb .no_iriw
    call iriw_check
    PRINTLN32 "smp: IRIW shows the two writes in one order to both readers"
.no_iriw:
    CHECK_EQ MP_BAD, 0, "message passing: CPU 1 saw the flag before the data, times"
    xor edx, edx
    mov ecx, 1
.sbcheck:
    mov al, [SB_R0 + ecx]
    and al, [SB_R1 + ecx]
    movzx eax, al
    add edx, eax
    inc ecx
    cmp ecx, ITER
    jb .sbcheck
    mov [SNAP], edx
    CHECK_EQ SNAP, 0, "store buffering with fences: both loads saw old values, times"
    mov dword [SNAP], 0
    PRINTLN32 "smp: message passing and fenced store buffering show only TSO outcomes"
    CHECK_EQ SMC_BAD, 0, "cross-modifying code: CPU 1 ran an old version, times"
    CHECK_EQ RACE_BAD, 0, "decoding race: CPU 1 kept running a lost store's old code, rounds"
    CHECK_EQ RACE_LATE, 0, "decoding race: CPU 1 ran old code after the flag and CPUID, rounds"
    PRINTLN32 "smp: code rewritten by the BSP is what CPU 1 runs"

    ; -- 3: IPIs
    mov dword [GO], 3
    sti
    mov ebx, 1
    IPI 0, 0x00044000 | VEC_IPI
    call check_hits
    call all_mask
    IPI 0, 0x00084000 | VEC_IPI
    call check_hits
    call all_mask
    and ebx, ~1
    IPI 0, 0x000c4000 | VEC_IPI
    call check_hits
    PRINTLN32 "smp: IPI shorthands self, all including self, all excluding self"
    mov ebx, 2
    IPI 1 << 24, 0x00004000 | VEC_IPI
    call check_hits
    mov ebx, 0
    IPI 0x20 << 24, 0x00004000 | VEC_IPI   ; no APIC has ID 0x20
    call check_hits
    call all_mask
    and ebx, 0x0a
    IPI 0x0a << 24, 0x00004800 | VEC_IPI   ; logical flat: CPUs 1 and 3
    call check_hits
    PRINTLN32 "smp: physical and logical flat destinations"
    ; cluster model: every CPU reprograms its own DFR and LDR
    mov dword [CMD], 1
    call cluster_setup
    call all_mask
    and ebx, ~1
    IPI 0, 0x000c4000 | VEC_IPI            ; wakes the APs to do the same
    call check_hits
    mov ebx, [NCPUS]
    dec ebx
    WAIT_EQ ACK, ebx, "the APs did not switch to the cluster model"
    mov ebx, 2
    IPI 0x02 << 24, 0x00004800 | VEC_IPI   ; cluster 0, member 1
    call check_hits
    call all_mask
    and ebx, 0x0c
    IPI 0x0c << 24, 0x00004800 | VEC_IPI   ; cluster 0, members 2 and 3
    call check_hits
    mov ebx, 0
    IPI 0x12 << 24, 0x00004800 | VEC_IPI   ; cluster 1 is empty
    call check_hits
    PRINTLN32 "smp: logical cluster destinations"
    ; lowest priority to all: exactly one CPU takes it
    call all_mask
    IPI 0x0f << 24, 0x00004900 | VEC_IPI
    call check_one
    PRINTLN32 "smp: lowest priority reaches exactly one CPU"
    IPI 1 << 24, 0x00004400                ; NMI to CPU 1
    WAIT_EQ NMIS + 4, 1, "the NMI IPI did not reach CPU 1"
    CHECK_EQ NMIS, 0, "NMIs at the BSP"
    PRINTLN32 "smp: NMI IPI"
    cli
    ; let the APs finish
    mov dword [GO], 4
    IPI 0, 0x000c4000 | VEC_IPI
    mov ebx, [NCPUS]
    dec ebx
    WAIT_EQ DONE3, ebx, "the APs did not leave the IPI phase"
    PRINTLN32 "smp: all checks passed"
    EXIT EXIT_PASS

; ---- the phases every CPU runs ----

count_phase:
    mov ecx, ITER
.add:
    lock add dword [CNT_ADD], 1
    mov eax, 1
    lock xadd [CNT_XADD], eax
    lock add [XADD_SUM], eax
    mov eax, [CNT_CMPX]
.cmpx:
    lea edx, [eax + 1]
    lock cmpxchg [CNT_CMPX], edx
    jnz .cmpx
    push ecx
    mov eax, [CNT_8B]
    mov edx, [CNT_8B + 4]
.c8:
    mov ebx, eax
    mov ecx, edx
    add ebx, 1
    adc ecx, 0
    lock cmpxchg8b [CNT_8B]
    jnz .c8
    ; an XCHG spinlock released with a plain store, as Linux's qspinlock does
    mov al, 1
.spin:
    xchg [LOCKV], al
    test al, al
    jz .locked
.wait:
    pause
    cmp byte [LOCKV], 0
    jne .wait
    mov al, 1
    jmp .spin
.locked:
    mov eax, [CNT_PLAIN]
    inc eax
    mov [CNT_PLAIN], eax
    mov byte [LOCKV], 0
    pop ecx
    dec ecx
    jnz .add
    lock inc dword [SPLIT_GO]
    mov eax, [NCPUS]
.barrier:
    pause
    cmp [SPLIT_GO], eax
    jne .barrier
    mov ecx, SPLIT_ITER
.split:
    mov eax, 1
    lock xadd [CNT_SPLIT], eax
    dec ecx
    jnz .split
    lock inc dword [DONE1]
    ret

; IRIW with 4 CPUs or more (APIC IDs 0-3 take part): 2 and 3 write, 1 and 0 read.
iriw_phase:
    cmp dword [NCPUS], 4
    jb .out
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    cmp eax, 3
    ja .out
    push eax
    lock inc dword [IRIW_GO]
    WAIT_EQ IRIW_GO, 4, "the CPUs did not meet for IRIW"
    pop eax
    mov ecx, 1
    cmp eax, 2
    je .write_x
    cmp eax, 3
    je .write_y
    mov edi, IRIW_R1
    mov esi, IRIW_X                 ; CPU 1 reads X first
    mov edx, IRIW_Y
    cmp eax, 1
    je .read
    mov edi, IRIW_R2
    xchg esi, edx                   ; the BSP reads Y first
.read:
    mov ecx, IRIW_N
.sample:
    mov eax, [esi]
    mov ebx, [edx]
    mov [edi], eax
    mov [edi + 4], ebx
    add edi, 8
    ; spread the samples over a while so that the host runs readers and writers at once
    mov eax, 200
.delay:
    dec eax
    jnz .delay
    dec ecx
    jnz .sample
    lock inc dword [IRIW_DONE]
    ret
.write_x:
    mov esi, IRIW_X
    jmp .write
.write_y:
    mov esi, IRIW_Y
.write:
    mov [esi], ecx
    inc ecx
    cmp dword [IRIW_DONE], 2
    jb .write
.out:
    ret

; The samples are in time order and the values only rise. CPU 1 saw (a = X, b = Y), the
; BSP (c = Y, d = X). A pair with a > d and c > b would put CPU 1's X load after the BSP's
; and the BSP's Y load after CPU 1's: a cycle, forbidden. For each BSP sample the CPU 1
; samples with a > d are a suffix (a rises), the smallest b of it is its first: one scan.
iriw_check:
    mov esi, IRIW_R1                ; first CPU 1 sample with a > d
    mov edi, IRIW_R2
    mov ebx, IRIW_R1 + IRIW_N * 8
    xor ebp, ebp                    ; forbidden pairs found
.next:
    mov edx, [edi + 4]              ; d
.advance:
    cmp esi, ebx
    jae .done
    cmp [esi], edx                  ; a > d ?
    ja .found
    add esi, 8
    jmp .advance
.found:
    mov eax, [edi]                  ; c
    cmp eax, [esi + 4]              ; c > b ?
    jbe .ok
    inc ebp
.ok:
    add edi, 8
    cmp edi, IRIW_R2 + IRIW_N * 8
    jb .next
.done:
    ; how often a value moved between two samples of CPU 1: writers ran meanwhile (on
    ; a 2-core host at most two of the four vCPUs run at once, so this is small there)
    xor eax, eax
    mov esi, IRIW_R1 + 8
.moved:
    mov edx, [esi]
    cmp edx, [esi - 8]
    jne .count
    mov edx, [esi + 4]
    cmp edx, [esi - 4]
    je .still
.count:
    inc eax
.still:
    add esi, 8
    cmp esi, IRIW_R1 + IRIW_N * 8
    jb .moved
    PRINT32 "smp: IRIW samples of CPU 1 after which X or Y had moved: "
    call print_hex32_32
    call newline32
    mov [SNAP], ebp
    CHECK_EQ SNAP, 0, "IRIW: the readers saw the writes in opposite orders, times"
    mov dword [SNAP], 0
    ret

; Software-enables this CPU's APIC and gives it a flat logical ID: bit (APIC ID).
apic_setup:
    mov dword [LAPIC + 0xf0], 0x1ff
    mov dword [LAPIC + 0xe0], 0xffffffff
    mov ecx, [LAPIC + 0x20]
    shr ecx, 24
    mov eax, 1
    shl eax, cl
    shl eax, 24
    mov [LAPIC + 0xd0], eax
    ret

; Cluster model: cluster = APIC ID / 4, member bit = APIC ID % 4.
cluster_setup:
    mov dword [LAPIC + 0xe0], 0x0fffffff
    mov ecx, [LAPIC + 0x20]
    shr ecx, 24
    mov edx, ecx
    shr edx, 2
    shl edx, 28
    and ecx, 3
    mov eax, 1
    shl eax, cl
    shl eax, 24
    or eax, edx
    mov [LAPIC + 0xd0], eax
    ret

all_mask:
    mov ecx, [NCPUS]
    mov ebx, 1
    shl ebx, cl
    dec ebx
    ret

; ZF set when every CPU i got exactly bit i of ebx IPIs since the last snapshot.
hits_match:
    push eax
    push edx
    push edi
    xor edi, edi
.l:
    cmp edi, [NCPUS]
    jae .yes
    mov eax, [HITS + edi * 4]
    sub eax, [SNAP + edi * 4]
    mov edx, 0
    bt ebx, edi
    adc edx, 0
    cmp eax, edx
    jne .no
    inc edi
    jmp .l
.yes:
    xor eax, eax
.no:
    pop edi
    pop edx
    pop eax
    ret

snapshot:
    push ecx
    push esi
    push edi
    mov esi, HITS
    mov edi, SNAP
    mov ecx, 16
    rep movsd
    pop edi
    pop esi
    pop ecx
    ret

; Waits for the IPIs of mask ebx, then a while longer: nothing more may arrive.
check_hits:
    mov ecx, 400000000
.w:
    call hits_match
    je .arrived
    pause
    dec ecx
    jnz .w
    jmp .bad
.arrived:
    mov ecx, 200000
.settle:
    pause
    dec ecx
    jnz .settle
    call hits_match
    jne .bad
    call snapshot
    ret
.bad:
    PRINT32 "FAIL: IPI wanted at CPUs "
    mov eax, ebx
    call print_hex32_32
    PRINT32 ", got counts"
    xor edi, edi
.dump:
    PRINT32 " "
    mov eax, [HITS + edi * 4]
    sub eax, [SNAP + edi * 4]
    call print_hex32_32
    inc edi
    cmp edi, [NCPUS]
    jb .dump
    call newline32
    EXIT EXIT_FAIL

; Lowest priority: exactly one CPU of mask ebx got one IPI, the others none.
check_one:
    mov ecx, 400000000
.w:
    mov edx, 0
    xor edi, edi
.sum:
    mov eax, [HITS + edi * 4]
    sub eax, [SNAP + edi * 4]
    add edx, eax
    inc edi
    cmp edi, [NCPUS]
    jb .sum
    test edx, edx
    jnz .arrived
    pause
    dec ecx
    jnz .w
    FAIL "the lowest-priority IPI reached no CPU"
.arrived:
    mov ecx, 200000
.settle:
    pause
    dec ecx
    jnz .settle
    xor edi, edi
    xor edx, edx
.find:
    mov eax, [HITS + edi * 4]
    sub eax, [SNAP + edi * 4]
    add edx, eax
    test eax, eax
    jz .next
    bt ebx, edi
    jc .next
    FAIL "the lowest-priority IPI reached a CPU outside its destination"
.next:
    inc edi
    cmp edi, [NCPUS]
    jb .find
    cmp edx, 1
    je .one
    FAIL "the lowest-priority IPI reached more than one CPU"
.one:
    call snapshot
    ret

ipi_handler:
    push eax
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    lock inc dword [HITS + eax * 4]
    mov dword [LAPIC + 0xb0], 0
    pop eax
    iret

nmi_handler:
    push eax
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    lock inc dword [NMIS + eax * 4]
    pop eax
    iret

; ---- the APs ----

AP_ENTRY ap_main

[bits 32]
ap_main:
    call apic_setup
    lock inc dword [ALIVE]
    WAIT_EQ GO, 1, "an AP never saw phase 1"
    call count_phase
.wait2:
    cmp dword [GO], 2
    je .phase2
    pause
    jmp .wait2
.phase2:
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    cmp eax, 1
    jne .done2
    ; message passing: once the flag says i, the data is at least i
    mov dword [MP_READY], 1
    xor edx, edx
.mp:
    mov eax, [MP_FLAG]
    mov ebx, [MP_DATA]
    cmp ebx, eax
    jae .mp_ok
    inc edx
.mp_ok:
    cmp eax, ITER
    jb .mp
    mov [MP_BAD], edx
    ; store buffering: Y = i; fence; r1 = (X < i)
    mov dword [SB_READY], 1
    mov ecx, 1
.sb:
    mov [SB_Y], ecx
    lock or dword [esp], 0
    cmp [SB_X], ecx
    setb byte [SB_R1 + ecx]
    inc ecx
    cmp ecx, ITER
    jb .sb
    ; cross-modifying code: wait for round k, serialize, call: the routine returns k
    mov esi, 1
.smc:
    cmp [SMC_FLAG], esi
    je .smc_go
    pause
    jmp .smc
.smc_go:
    xor eax, eax
    cpuid
    call SEL_FLAT:SMC_CODE
    cmp eax, esi
    je .smc_ok
    inc dword [SMC_BAD]
.smc_ok:
    mov [SMC_ACK], esi
    inc esi
    cmp esi, SMC_ROUNDS
    jbe .smc
    ; decoding race: call the routine until the BSP's round k is done; then, after
    ; CPUID, the first call must return k + RACE_NEW (late otherwise). Calls go on
    ; until it does; given up (a lost store) when a call begun after the BSP went
    ; round its wait loop 2,000 times after the flag (each pass a block boundary where
    ; it drops its write pointers) still returns the old value
    mov esi, 1
.race:
    call SEL_FLAT:SMC_CODE
    cmp [RACE_FLAG], esi
    jne .race
    mov edi, [RACE_BEAT]
    xor ebp, ebp                    ; tries
.race_new:
    mov eax, [RACE_BEAT]
    sub eax, edi
    push eax                        ; the BSP's passes before this try
    push edi
    xor eax, eax
    cpuid
    pop edi
    call SEL_FLAT:SMC_CODE
    pop ecx
    lea edx, [esi + RACE_NEW]
    cmp eax, edx
    je .race_ok
    test ebp, ebp
    jnz .race_again
    inc dword [RACE_LATE]
.race_again:
    inc ebp
    cmp ecx, 2000
    jb .race_new
    inc dword [RACE_BAD]
.race_ok:
    mov [RACE_ACK], esi
    inc esi
    cmp esi, RACE_ROUNDS
    jbe .race
.done2:
    call iriw_phase
    lock inc dword [DONE2]
.wait3:
    cmp dword [GO], 3
    je .phase3
    pause
    jmp .wait3
    ; asleep until IPIs; cluster set-up on request; out at phase 4
.phase3:
    cli
    cmp dword [CMD], 1
    jne .no_cmd
    cmp dword [LAPIC + 0xe0], 0xffffffff
    jne .no_cmd
    call cluster_setup
    lock inc dword [ACK]
.no_cmd:
    cmp dword [GO], 4
    je .out
    sti
    hlt
    jmp .phase3
.out:
    lock inc dword [DONE3]
.halt:
    cli
    hlt
    jmp .halt

[bits 16]
CPU_LIBRARY
GUEST_END
