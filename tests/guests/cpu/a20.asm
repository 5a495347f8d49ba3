; SPDX-License-Identifier: GPL-2.0-or-later
; The A20 gate: with A20 masked, physical address bit 20 is forced to 0, so FFFF:0010
; and 1 MiB alias 0:0, in real mode and in protected mode; with it enabled they are
; distinct memory. The gate is the OR of port 0x92 bit 1 and the 8042's output port:
; both are turned off here, and port 0x92 alone turns it back on.
%include "cpu.inc"

GUEST_START
guest_main:
    ; A20 on
    in al, 0x92
    or al, 2
    out 0x92, al
    mov ax, 0xffff
    mov fs, ax
    mov dword [es:0], 0x11111111
    mov dword [fs:0x10], 0x22222222
    cmp dword [es:0], 0x11111111
    CHECK e, "A20 on: 1 MiB aliases 0"
    ; A20 off: port 0x92 and the 8042 output port (command D1, A20 bit clear)
    in al, 0x92
    and al, ~2
    out 0x92, al
    call kbc_wait
    mov al, 0xd1
    out 0x64, al
    call kbc_wait
    mov al, 0xdd
    out 0x60, al
    call kbc_wait
    cmp dword [fs:0x10], 0x11111111
    CHECK e, "A20 off: FFFF:0010 does not wrap to 0"
    mov dword [fs:0x14], 0x33333333
    cmp dword [es:4], 0x33333333
    CHECK e, "A20 off: a write at 1 MiB + 4 did not land at 4"
    PRINTLN "a20: real mode wraps with A20 off"
    PM_ENTER

kbc_wait:                       ; until the 8042 input buffer is empty
    in al, 0x64
    test al, 2
    jnz kbc_wait
    ret

[bits 32]
pm_main:
    ; still off: linear 0x100000 is physical 0, 0x3fffff is 0x2fffff
    cmp dword [0x100000], 0x11111111
    CHECK32 e, "A20 off in protected mode"
    mov dword [0x2ffff0], 0x44444444
    cmp dword [0x3ffff0], 0x44444444
    CHECK32 e, "A20 off: bit 20 of 0x3ffff0 not masked"
    in al, 0x92
    or al, 2
    out 0x92, al
    cmp dword [0x100000], 0x22222222
    CHECK32 e, "A20 on again: 1 MiB is its own memory"
    cmp dword [0x3ffff0], 0x44444444
    CHECK32 ne, "A20 on again: 0x3ffff0 still aliases 0x2ffff0"
    PRINTLN32 "a20: protected mode follows the gate"
    EXIT EXIT_PASS

CPU_LIBRARY
GUEST_END
