/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Intel 82093AA I/O APIC (datasheet order no. 290566): an indirect register window
 * (IOREGSEL at +0x00, IOWIN at +0x10) over the ID, version, arbitration ID and the 24
 * redirection table entries. One local APIC receives its messages. */
#include "hw/intc/ioapic.h"

#define REG_ID 0x00
#define REG_VERSION 0x01
#define REG_ARB 0x02
#define REG_REDIR 0x10

/* 82093AA §3.2.4: redirection entry bits. */
#define RTE_VECTOR 0xffu
#define RTE_MODE(e) ((unsigned)((e) >> 8) & 7)
#define RTE_LOGICAL (UINT64_C(1) << 11)
#define RTE_DELIVS (UINT64_C(1) << 12)
#define RTE_POLARITY_LOW (UINT64_C(1) << 13)
#define RTE_REMOTE_IRR (UINT64_C(1) << 14)
#define RTE_LEVEL (UINT64_C(1) << 15)
#define RTE_MASKED (UINT64_C(1) << 16)
#define RTE_DEST(e) ((uint8_t)((e) >> 56))
/* Bits the guest writes: vector, delivery mode, destination mode, polarity, trigger,
 * mask, destination. Delivery status and remote IRR are read-only. */
#define RTE_WRITABLE (UINT64_C(0xff00000000000000) | 0x1afffu)

/* 82093AA §3.2.2: version 0x11, maximum redirection entry 0x17. */
#define IOAPIC_VERSION (0x11u | ((IOAPIC_NUM_PINS - 1u) << 16))

struct IoapicState {
    Device dev;
    ApicState *lapic;     /* wiring, set by ioapic_new */
    hwaddr base;
    uint8_t regsel;
    uint8_t id;
    uint32_t pin_level;   /* electrical levels of the inputs */
    uint32_t edge_seen;   /* edge-triggered inputs asserted at the last change */
    uint64_t rte[IOAPIC_NUM_PINS];
};

static bool pin_asserted(const IoapicState *s, int pin)
{
    bool high = s->pin_level & (1u << pin);
    return (s->rte[pin] & RTE_POLARITY_LOW) ? !high : high;
}

/* Sends the entry's message. Level-triggered fixed and lowest-priority interrupts set
 * Remote IRR once the local APIC accepts them, until its EOI (§3.2.4). */
static void ioapic_send(IoapicState *s, int pin)
{
    uint64_t e = s->rte[pin];
    unsigned mode = RTE_MODE(e);
    bool level = e & RTE_LEVEL;
    bool logical = e & RTE_LOGICAL;
    uint8_t dest = RTE_DEST(e);
    VLOG(LOG_IRQ, "ioapic: pin %d -> mode %u vector 0x%02x dest 0x%02x%s", pin, mode, (unsigned)(e & RTE_VECTOR),
         dest, level ? " (level)" : "");
    /* The message goes to every local APIC the destination selects (one of them for
     * lowest priority, the APIC bus decides). */
    switch (mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        if (apic_bus_deliver(s->lapic, logical, dest, (ApicDeliveryMode)mode, e & RTE_VECTOR, level) && level)
            s->rte[pin] |= RTE_REMOTE_IRR;
        break;
    case APIC_DM_NMI:
    case APIC_DM_EXTINT:
    case APIC_DM_INIT:
        if (!apic_bus_deliver(s->lapic, logical, dest, (ApicDeliveryMode)mode, 0, false))
            VLOG(LOG_IRQ, "ioapic: pin %d: destination 0x%02x matches no APIC", pin, dest);
        break;
    default:
        VLOG(LOG_UNIMP, "ioapic: pin %d delivery mode %u not emulated", pin, mode);
        break;
    }
}

/* A level-triggered input keeps requesting while asserted, unmasked and not waiting for
 * its EOI. */
static void ioapic_service_level(IoapicState *s, int pin)
{
    uint64_t e = s->rte[pin];
    if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && pin_asserted(s, pin))
        ioapic_send(s, pin);
}

void ioapic_set_irq(IoapicState *s, int pin, int level)
{
    g_return_if_fail(pin >= 0 && pin < IOAPIC_NUM_PINS);
    uint32_t bit = 1u << pin;
    if (level)
        s->pin_level |= bit;
    else
        s->pin_level &= ~bit;
    uint64_t e = s->rte[pin];
    if (e & RTE_LEVEL) {
        ioapic_service_level(s, pin);
        return;
    }
    /* Edge: an assertion while masked is lost, as on the 82093AA. */
    bool asserted = pin_asserted(s, pin);
    bool was = s->edge_seen & bit;
    if (asserted)
        s->edge_seen |= bit;
    else
        s->edge_seen &= ~bit;
    if (asserted && !was && !(e & RTE_MASKED))
        ioapic_send(s, pin);
}

/* The local APIC's EOI of a level-triggered vector clears Remote IRR of every entry
 * with that vector; an input still asserted interrupts again. */
static void ioapic_eoi(void *opaque, uint8_t vector)
{
    IoapicState *s = opaque;
    for (int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t e = s->rte[pin];
        if ((e & RTE_REMOTE_IRR) && (e & RTE_VECTOR) == vector) {
            s->rte[pin] &= ~RTE_REMOTE_IRR;
            ioapic_service_level(s, pin);
        }
    }
}

static void rte_write(IoapicState *s, int pin, bool high, uint32_t v)
{
    uint64_t old = s->rte[pin];
    uint64_t e = high ? ((old & 0xffffffffu) | ((uint64_t)v << 32)) : ((old & ~UINT64_C(0xffffffff)) | v);
    e = (e & RTE_WRITABLE) | (old & RTE_REMOTE_IRR);
    /* Remote IRR means nothing for edge triggering; switching an entry to edge clears
     * it, which operating systems use to recover a lost EOI. */
    if (!(e & RTE_LEVEL))
        e &= ~RTE_REMOTE_IRR;
    s->rte[pin] = e;
    if (!(e & RTE_LEVEL)) {
        /* The edge detector follows the input through polarity changes. */
        if (pin_asserted(s, pin))
            s->edge_seen |= 1u << pin;
        else
            s->edge_seen &= ~(1u << pin);
    }
    ioapic_service_level(s, pin);
    /* The 8259 holds INTR until its acknowledge, so an ExtINT entry unmasked while its
     * input is already asserted must not wait for an edge that cannot come. */
    if (RTE_MODE(e) == APIC_DM_EXTINT && !(e & RTE_MASKED) && pin_asserted(s, pin))
        ioapic_send(s, pin);
}

static uint32_t ioapic_reg_read(IoapicState *s)
{
    unsigned r = s->regsel;
    switch (r) {
    case REG_ID:
        return (uint32_t)(s->id & 0xf) << 24;
    case REG_VERSION:
        return IOAPIC_VERSION;
    case REG_ARB:
        /* The arbitration ID is loaded from the APIC ID (§3.2.3). */
        return (uint32_t)(s->id & 0xf) << 24;
    default:
        if (r >= REG_REDIR && r < REG_REDIR + 2 * IOAPIC_NUM_PINS) {
            uint64_t e = s->rte[(r - REG_REDIR) >> 1];
            return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        VLOG(LOG_GUEST, "ioapic: read of register 0x%02x that does not exist", r);
        return 0;
    }
}

static void ioapic_reg_write(IoapicState *s, uint32_t v)
{
    unsigned r = s->regsel;
    switch (r) {
    case REG_ID:
        s->id = (v >> 24) & 0xf;
        break;
    case REG_VERSION:
    case REG_ARB:
        break; /* read only */
    default:
        if (r >= REG_REDIR && r < REG_REDIR + 2 * IOAPIC_NUM_PINS)
            rte_write(s, (int)(r - REG_REDIR) >> 1, r & 1, v);
        else
            VLOG(LOG_GUEST, "ioapic: write of register 0x%02x that does not exist", r);
        break;
    }
}

/* IOREGSEL at offset 0 (bits 7:0), IOWIN at 0x10; the datasheet defines 32-bit
 * accesses, narrower reads pick bytes. */
static uint64_t ioapic_mmio_read(void *opaque, hwaddr offset, unsigned size)
{
    IoapicState *s = opaque;
    uint32_t v;
    hwaddr slot = offset & ~(hwaddr)3;
    if (slot == 0x00)
        v = s->regsel;
    else if (slot == 0x10)
        v = ioapic_reg_read(s);
    else
        return 0;
    v >>= 8 * (offset & 3);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void ioapic_mmio_write(void *opaque, hwaddr offset, uint64_t value, unsigned size)
{
    IoapicState *s = opaque;
    if (offset == 0x00) {
        s->regsel = (uint8_t)value;
    } else if (offset == 0x10 && size == 4) {
        ioapic_reg_write(s, (uint32_t)value);
    } else {
        VLOG(LOG_GUEST, "ioapic: %u-byte write at offset 0x%02x ignored", size, (unsigned)offset);
    }
}

static const MemOps ioapic_mmio_ops = {
    .read = ioapic_mmio_read,
    .write = ioapic_mmio_write,
    .min_size = 1,
    .max_size = 4,
};

/* 82093AA reset: every entry masked, ID 0. */
static void ioapic_reset(Device *dev)
{
    IoapicState *s = (IoapicState *)dev;
    s->regsel = 0;
    s->id = 0;
    for (int i = 0; i < IOAPIC_NUM_PINS; i++)
        s->rte[i] = RTE_MASKED;
    s->edge_seen = s->pin_level;
}

static bool ioapic_realize(Device *dev, GError **err)
{
    IoapicState *s = (IoapicState *)dev;
    g_assert(s->lapic);
    mem_add_mmio(vm_mem(dev->vm), "ioapic", s->base, MEM_PAGE_SIZE, &ioapic_mmio_ops, s, 10);
    apic_set_eoi_listener(s->lapic, ioapic_eoi, s);
    return true;
}

#define IOAPIC_PIN_MASK ((UINT32_C(1) << IOAPIC_NUM_PINS) - 1)

static bool ioapic_check(const void *state, GError **err)
{
    const IoapicState *s = state;
    if ((s->pin_level | s->edge_seen) & ~IOAPIC_PIN_MASK) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "input levels 0x%08x/0x%08x name pins past %d",
                    s->pin_level, s->edge_seen, IOAPIC_NUM_PINS - 1);
        return false;
    }
    for (int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t e = s->rte[pin];
        /* Delivery status is always 0 here (messages go out at once); Remote IRR only
         * exists for level-triggered entries (82093AA §3.2.4). */
        if ((e & ~(RTE_WRITABLE | RTE_REMOTE_IRR)) || ((e & RTE_REMOTE_IRR) && !(e & RTE_LEVEL))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "redirection entry %d is 0x%016" G_GINT64_MODIFIER "x", pin, e);
            return false;
        }
        /* The edge detector of an edge entry follows the asserted state (reset, every
         * input change and every entry write keep it so); a mismatch would lose or
         * invent the next edge. */
        if (!(e & RTE_LEVEL) && pin_asserted(s, pin) != !!(s->edge_seen & (1u << pin))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "pin %d: the edge detector disagrees with the input level", pin);
            return false;
        }
    }
    return true;
}

/* No post_load: the I/O APIC drives no line, it sends messages. A level input waiting
 * behind Remote IRR is sent again by the local APIC's EOI of the loaded ISR/TMR, and
 * regsel needs no bound (any value selects a register or nothing). */
static const VmStateField ioapic_fields[] = {
    VMSTATE_U8(IoapicState, regsel),
    VMSTATE_U8_RANGE(IoapicState, id, 0, 15),
    VMSTATE_U32(IoapicState, pin_level),
    VMSTATE_U32(IoapicState, edge_seen),
    VMSTATE_U64_ARRAY(IoapicState, rte, IOAPIC_NUM_PINS),
    VMSTATE_END,
};

static const VmStateDesc ioapic_vmsd = {
    .name = "ioapic",
    .version = 1,
    .fields = ioapic_fields,
    .check = ioapic_check,
};

static const DeviceClass ioapic_class = {
    .name = "ioapic",
    .description = "82093AA I/O APIC with 24 inputs",
    .instance_size = sizeof(IoapicState),
    .vmsd = &ioapic_vmsd,
    .realize = ioapic_realize,
    .reset = ioapic_reset,
};

__attribute__((constructor)) static void ioapic_register(void)
{
    device_class_register(&ioapic_class);
}

IoapicState *ioapic_new(Vm *vm, hwaddr base, ApicState *lapic)
{
    IoapicState *s = (IoapicState *)device_new(vm, ioapic_class.name, "ioapic", NULL);
    g_assert(s);
    s->lapic = lapic;
    s->base = base;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
