; SPDX-License-Identifier: GPL-2.0-or-later
; Whether the board has an HPET: its capabilities register at 0xFED00000 reads
; 8086A201 (vendor 8086h, 3 timers, legacy route) when it does; without it nothing
; answers there. Run with -no-hpet and -machine pc,hpet=off.
%include "cpu.inc"

GUEST_START
guest_main:
    PM_ENTER

[bits 32]
pm_main:
    cmp dword [0xfed00000], 0x8086a201
    je .present
    PRINTLN32 "hpet-off: no HPET at 0xFED00000"
    EXIT EXIT_PASS
.present:
    PRINTLN32 "hpet-off: an HPET answers at 0xFED00000"
    EXIT EXIT_PASS

CPU_LIBRARY
GUEST_END
