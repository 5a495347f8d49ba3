; SPDX-License-Identifier: GPL-2.0-or-later
; A triple fault resets the PC: with the real-mode IDT limit at 0, INT 3 raises #GP,
; delivering #GP faults again (#DF), and delivering #DF shuts the CPU down; the board
; resets it (SDM vol. 3, 6.15 "Double Fault Exception"). A word in RAM survives.
%include "guest.inc"

MAGIC equ 0x600

GUEST_START
guest_main:
    cmp word [es:MAGIC], 0x5446
    je .after
    mov word [es:MAGIC], 0x5446
    PRINTLN "triple fault: faulting"
    lidt [cs:null_idt]
    int 3
    PRINTLN "FAIL: INT 3 with an empty IDT did not fault"
    EXIT EXIT_FAIL
.after:
    PRINTLN "triple fault: the PC was reset"
    EXIT EXIT_PASS

null_idt:
    dw 0
    dd 0
GUEST_END
