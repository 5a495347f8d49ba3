/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 82371SB PIIX3 function 0 (datasheet 290550): PIRQ[A-D] route registers 0x60-0x63
 * steer the PCI interrupt lines to ISA IRQs; port 0xCF9 resets the system. */
#include "hw/pci/piix3.h"

#define PIIX3_PIRQRC 0x60
#define PIIX3_NUM_PIRQ 4
#define PIRQ_DISABLE 0x80

struct Piix3State {
    Device dev;
    PciBus *bus;           /* wiring, set by piix3_new */
    const IrqLine *isa_irq;
    PciDevice pci;         /* function 01.0 */
    /* Follow the bus's wired-OR PIRQ count and the lines we drive: this VM's wiring,
     * not saved (post_load drives the lines from them and the loaded routing). */
    int pirq_level[PIIX3_NUM_PIRQ];
    uint16_t isa_asserted; /* ISA IRQs we drive high */
    uint8_t rcr;           /* 0xCF9 */
};

/* The interrupt swizzle of bus 0: device slot s pin p drives PIRQ (s + p) mod 4,
 * which is how QEMU's PC and SeaBIOS's tables wire slots. */
static int piix3_map_irq(void *opaque, int devfn, int pin)
{
    return (PCI_SLOT(devfn) + pin - 1) & 3;
}

/* Recomputes which ISA IRQs the PIRQs hold high; several PIRQs may share one IRQ. */
static void piix3_update(Piix3State *s)
{
    uint16_t want = 0;
    for (int i = 0; i < PIIX3_NUM_PIRQ; i++) {
        uint8_t route = s->pci.config[PIIX3_PIRQRC + i];
        if (s->pirq_level[i] && !(route & PIRQ_DISABLE) && (route & 0x0f) < 16)
            want |= 1u << (route & 0x0f);
    }
    uint16_t changed = want ^ s->isa_asserted;
    s->isa_asserted = want;
    for (int irq = 0; irq < 16; irq++) {
        if (changed & (1u << irq)) {
            VLOG(LOG_IRQ, "PIIX3: ISA IRQ %d %s (PCI)", irq, (want >> irq) & 1 ? "high" : "low");
            irq_set(&s->isa_irq[irq], (want >> irq) & 1);
        }
    }
}

static void piix3_set_pirq(void *opaque, int pirq, int level)
{
    Piix3State *s = opaque;
    s->pirq_level[pirq] = level;
    piix3_update(s);
}

static void piix3_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    if (addr < PIIX3_PIRQRC + PIIX3_NUM_PIRQ && addr + size > PIIX3_PIRQRC)
        piix3_update(d->opaque);
}

static uint32_t rcr_read(void *opaque, uint32_t off, unsigned size)
{
    Piix3State *s = opaque;
    return s->rcr;
}

static void rcr_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Piix3State *s = opaque;
    /* Bit 2 (RCPU) starts the reset; bit 1 (SRST) picks hard over soft: both reset us. */
    if (value & 4) {
        s->rcr = 0;
        vm_request_reset(s->dev.vm, VM_RESET_GUEST);
        return;
    }
    s->rcr = value & 0x02;
}

static const PortOps rcr_ops = { .read = rcr_read, .write = rcr_write, .min_size = 1, .max_size = 1 };

static void piix3_reset(Device *dev)
{
    Piix3State *s = (Piix3State *)dev;
    pci_device_reset(&s->pci);
    for (int i = 0; i < PIIX3_NUM_PIRQ; i++)
        s->pci.config[PIIX3_PIRQRC + i] = PIRQ_DISABLE;
    s->rcr = 0;
    piix3_update(s);
}

static bool piix3_realize(Device *dev, GError **err)
{
    Piix3State *s = (Piix3State *)dev;
    PciDevice *d = &s->pci;
    g_assert(s->bus && s->isa_irq);
    pci_device_init(d, s->bus, PCI_DEVFN(1, 0), "piix3", 0x8086, 0x7000, 0x060100, 0x00);
    d->opaque = s;
    d->config_write = piix3_config_write;
    pci_device_set_multifunction(d);
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    for (int i = 0; i < PIIX3_NUM_PIRQ; i++) {
        d->wmask[PIIX3_PIRQRC + i] = 0x8f;
        d->cmask[PIIX3_PIRQRC + i] = 0x70; /* reserved: a route never names IRQ 16+ */
    }
    /* ISA clock, top of memory, misc status, APIC base: storage the BIOS may program. */
    d->wmask[0x4c] = 0xff;
    d->wmask[0x4e] = 0xff;
    d->wmask[0x69] = 0xfe;
    d->wmask[0x6a] = 0xff;
    d->wmask[0x80] = 0x7f;
    pci_bus_set_irq_router(s->bus, piix3_map_irq, piix3_set_pirq, s, PIIX3_NUM_PIRQ);
    io_add(vm_io(dev->vm), "piix3-rcr", 0xcf9, 1, &rcr_ops, s);
    return true;
}

static bool piix3_check(const void *state, GError **err)
{
    const Piix3State *s = state;
    if (s->rcr & ~0x02u) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "reset control 0x%02x: only SRST is kept", s->rcr);
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

/* The ISA lines follow the loaded routing and this VM's PIRQ levels (which the other
 * PCI functions' post_load bring to their loaded INTx levels, through piix3_set_pirq). */
static void piix3_post_load(void *state)
{
    Piix3State *s = state;
    pci_device_post_load(&s->pci);
    piix3_update(s);
}

static const VmStateField piix3_fields[] = {
    VMSTATE_STRUCT(Piix3State, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U8(Piix3State, rcr),
    VMSTATE_END,
};

static const VmStateDesc piix3_vmsd = {
    .name = "piix3",
    .version = 1,
    .fields = piix3_fields,
    .check = piix3_check,
    .post_load = piix3_post_load,
};

static const DeviceClass piix3_class = {
    .name = "PIIX3",
    .description = "PIIX3 PCI-to-ISA bridge: PIRQ routing and the reset control register",
    .instance_size = sizeof(Piix3State),
    .vmsd = &piix3_vmsd,
    .realize = piix3_realize,
    .reset = piix3_reset,
};

__attribute__((constructor)) static void piix3_register(void)
{
    device_class_register(&piix3_class);
}

Piix3State *piix3_new(Vm *vm, PciBus *bus, const IrqLine *isa_irq)
{
    Piix3State *s = (Piix3State *)device_new(vm, piix3_class.name, "piix3", NULL);
    g_assert(s);
    s->bus = bus;
    s->isa_irq = isa_irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
