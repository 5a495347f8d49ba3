/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DSDT of Vireo's PC board (i440FX + PIIX3 + PIIX4-style PM).
 * Names in capitals ending in a DWord of magic value are patched by acpi-build.c:
 *   PHLS  start of the 32-bit PCI memory window (the end of low RAM)
 *   CMPR  which COM ports exist (bit n: COM n+1)
 *   HPTE  1 when the board has its HPET at 0xFED00000
 */
DefinitionBlock ("", "DSDT", 2, "VIREO", "VIREOPC", 0x00000001)
{
    /* SLP_TYP for PM1a/PM1b in S5; the PM device powers off on SLP_TYP 0 (piix4_pm.h). */
    Name (\_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    /* The OS says whether it routes through the 8259s (0) or the I/O APIC (1); PIRQ
     * routing is the same for both on this board. */
    Name (PICM, Zero)
    Method (\_PIC, 1, NotSerialized)
    {
        PICM = Arg0
    }

    /* The processors' Device (ACPI0007) objects follow this block: acpi-build.c appends
     * one per CPU, as many as the VM has. */
    Scope (\_SB)
    {
        /* The HPET (IA-PC HPET 1.0a, §3.2.5: PNP0103 with its register block). */
        Name (HPTE, 0x45545048)
        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized)
            {
                If (HPTE) { Return (0x0F) }
                Return (Zero)
            }
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadOnly, 0xFED00000, 0x00000400, )
            })
        }

        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_BBN, Zero)
            Name (PHLS, 0x484C5350)
            Name (CRES, ResourceTemplate ()
            {
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xE0000000, 0xFEBFFFFF, 0x00000000, 0x1EC00000,
                    ,, PHOL, AddressRangeMemory, TypeStatic)
            })
            /* The PCI memory window starts where low RAM ends. */
            Method (_CRS, 0, Serialized)
            {
                CreateDWordField (CRES, \_SB.PCI0.PHOL._MIN, PMIN)
                CreateDWordField (CRES, \_SB.PCI0.PHOL._LEN, PLEN)
                PMIN = PHLS
                PLEN = (0xFEC00000 - PHLS)
                Return (CRES)
            }

            Include ("prt.asl")

            /* PIIX3 function 0: the PCI-to-ISA bridge and the devices behind it. */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x04)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA, 8,
                    PRQB, 8,
                    PRQC, 8,
                    PRQD, 8
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                        IRQNoFlags () {8}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                Name (CMPR, 0x524D4F43)

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Method (_STA, 0, NotSerialized)
                    {
                        If ((CMPR & One)) { Return (0x0F) }
                        Return (Zero)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                        IRQNoFlags () {4}
                    })
                }

                Device (COM2)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, 0x02)
                    Method (_STA, 0, NotSerialized)
                    {
                        If ((CMPR & 0x02)) { Return (0x0F) }
                        Return (Zero)
                    }
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x02F8, 0x02F8, 0x00, 0x08)
                        IRQNoFlags () {3}
                    })
                }
            }
        }

        /* PCI interrupt link devices: PIRQA-D of the PIIX3 (route registers 0x60-0x63;
         * bit 7 set disables a route). */
        Method (IQST, 1, NotSerialized)
        {
            If ((Arg0 & 0x80)) { Return (0x09) }
            Return (0x0B)
        }

        Method (IQCR, 1, Serialized)
        {
            Name (PRR0, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) {0}
            })
            CreateDWordField (PRR0, 0x05, PRRI)
            If ((Arg0 < 0x80)) { PRRI = (Arg0 & 0x0F) }
            Return (PRR0)
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (\_SB.PCI0.ISA.PRQA)) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQA |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (\_SB.PCI0.ISA.PRQA)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                \_SB.PCI0.ISA.PRQA = PRRI
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (\_SB.PCI0.ISA.PRQB)) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQB |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (\_SB.PCI0.ISA.PRQB)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                \_SB.PCI0.ISA.PRQB = PRRI
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (\_SB.PCI0.ISA.PRQC)) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQC |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (\_SB.PCI0.ISA.PRQC)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                \_SB.PCI0.ISA.PRQC = PRRI
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Name (_PRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, ) {5, 10, 11}
            })
            Method (_STA, 0, NotSerialized) { Return (IQST (\_SB.PCI0.ISA.PRQD)) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQD |= 0x80 }
            Method (_CRS, 0, NotSerialized) { Return (IQCR (\_SB.PCI0.ISA.PRQD)) }
            Method (_SRS, 1, NotSerialized)
            {
                CreateDWordField (Arg0, 0x05, PRRI)
                \_SB.PCI0.ISA.PRQD = PRRI
            }
        }
    }
}
