/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Two cascaded 8259A programmable interrupt controllers as the PIIX3 integrates them,
 * with the ELCR edge/level registers. Behaviour follows the Intel 8259A datasheet
 * (order no. 231468) and the PIIX3 datasheet for the ELCR and the hard-wired cascade. */
#include "hw/intc/i8259.h"

#define PIC_CASCADE_IRQ 2

typedef struct Pic8259 {
    PicState *pic;
    bool master;
    uint8_t irr, isr, imr;
    uint8_t level;       /* the IR input pins as driven now */
    uint8_t elcr;        /* PIIX ELCR: 1 = level sensitive */
    uint8_t elcr_mask;   /* which ELCR bits exist */
    uint8_t vector_base; /* ICW2 T7-T3 */
    uint8_t lowest;      /* the IR with the lowest priority (rotation) */
    uint8_t init_step;   /* 0: ready; 2, 3, 4: the ICW expected next */
    bool icw4_expected, single, ltim;
    bool auto_eoi, rotate_on_aeoi, sfnm;
    bool special_mask, read_isr, poll;
    uint8_t icw3;
} Pic8259;

struct PicState {
    Device dev;
    Vm *vm;
    IrqLine intr;      /* wired by the board */
    CpuPins *cpu;      /* wired by the board: answer INTA there (NULL: the APIC does) */
    bool intr_level;
    Pic8259 chip[2];
};

static bool chip_level_mode(const Pic8259 *c, int irq)
{
    return c->ltim || (c->elcr & (1u << irq));
}

/* Priority 0 is the highest: the IR just after the lowest-priority one. */
static int chip_priority(const Pic8259 *c, int irq)
{
    return (irq - c->lowest - 1) & 7;
}

/* The highest-priority IR set in bits, or -1. */
static int chip_highest(const Pic8259 *c, uint8_t bits)
{
    if (!bits)
        return -1;
    for (int p = 0; p < 8; p++) {
        int irq = (c->lowest + 1 + p) & 7;
        if (bits & (1u << irq))
            return irq;
    }
    return -1;
}

/* The request the priority resolver would present on INT, or -1. 8259A: a request is
 * serviced only above the highest in-service level, except in special mask mode (any
 * unmasked level not itself in service) and, for the cascade input of a master in
 * special fully nested mode, at the same level too. */
static int chip_pending(const Pic8259 *c)
{
    int req = chip_highest(c, c->irr & ~c->imr);
    if (req < 0)
        return -1;
    if (c->special_mask) {
        uint8_t candidates = c->irr & ~c->imr & ~c->isr;
        return chip_highest(c, candidates);
    }
    int in_service = chip_highest(c, c->isr);
    if (in_service < 0)
        return req;
    int rp = chip_priority(c, req), sp = chip_priority(c, in_service);
    if (rp < sp)
        return req;
    if (rp == sp && c->sfnm && c->master && req == PIC_CASCADE_IRQ)
        return req;
    return -1;
}

static void chip_set_input(Pic8259 *c, int irq, int level);

/* Recomputes the slave's INT into the master's IR2 and the master's INT into the CPU. */
static void pic_update(PicState *s)
{
    Pic8259 *slave = &s->chip[1];
    chip_set_input(&s->chip[0], PIC_CASCADE_IRQ, chip_pending(slave) >= 0);
    bool out = chip_pending(&s->chip[0]) >= 0;
    if (out != s->intr_level) {
        s->intr_level = out;
        VLOG(LOG_IRQ, "pic: INTR %d", out);
        irq_set(&s->intr, out);
    }
}

/* Edge mode: a rising edge latches the request; the request is dropped when the input
 * goes low before it is acknowledged (8259A: "the IR input must remain high until after
 * the falling edge of the first INTA", else a default IR7 results). Level mode: IRR
 * follows the input. */
static void chip_set_input(Pic8259 *c, int irq, int level)
{
    uint8_t mask = 1u << irq;
    bool was = c->level & mask;
    if (level)
        c->level |= mask;
    else
        c->level &= ~mask;
    if (chip_level_mode(c, irq)) {
        if (level)
            c->irr |= mask;
        else
            c->irr &= ~mask;
    } else if (level && !was) {
        c->irr |= mask;
    } else if (!level) {
        c->irr &= ~mask;
    }
}

/* The acknowledge (or poll) of one chip: returns the IR it grants, or -1 (spurious). */
static int chip_ack(Pic8259 *c, bool from_inta)
{
    int irq = chip_pending(c);
    if (irq < 0)
        return -1;
    uint8_t mask = 1u << irq;
    if (!chip_level_mode(c, irq))
        c->irr &= ~mask;
    /* 8259A AEOI: the ISR bit is reset at the end of the last INTA pulse; a poll has no
     * INTA, so the bit stays set there. */
    if (c->auto_eoi && from_inta) {
        if (c->rotate_on_aeoi)
            c->lowest = irq;
    } else {
        c->isr |= mask;
    }
    return irq;
}

int i8259_ack(PicState *s)
{
    Pic8259 *m = &s->chip[0], *sl = &s->chip[1];
    int irq = chip_ack(m, true);
    int vector;
    if (irq < 0) {
        vector = m->vector_base | 7;
        VLOG(LOG_IRQ, "pic: spurious IRQ 7");
    } else if (irq == PIC_CASCADE_IRQ && !m->single) {
        /* The master's ISR bit for IR2 stays set even if the slave has nothing to give:
         * the guest's spurious IRQ 15 handler must EOI the master. */
        int sirq = chip_ack(sl, true);
        if (sirq < 0) {
            vector = sl->vector_base | 7;
            VLOG(LOG_IRQ, "pic: spurious IRQ 15");
        } else {
            vector = sl->vector_base | sirq;
            VLOG(LOG_IRQ, "pic: ack IRQ %d vector 0x%02x", sirq + 8, vector);
        }
    } else {
        vector = m->vector_base | irq;
        VLOG(LOG_IRQ, "pic: ack IRQ %d vector 0x%02x", irq, vector);
    }
    pic_update(s);
    return vector;
}

static int ack_trampoline(void *opaque)
{
    return i8259_ack(opaque);
}

bool i8259_intr_level(PicState *s)
{
    return s->intr_level;
}

void i8259_set_irq(PicState *s, int irq, int level)
{
    g_return_if_fail(irq >= 0 && irq < 16);
    if (irq == PIC_CASCADE_IRQ) {
        /* IR2 is the cascade; nothing else can drive it on a PC. */
        VLOG(LOG_IRQ, "pic: IRQ 2 is the cascade input, ignored");
        return;
    }
    chip_set_input(&s->chip[irq >> 3], irq & 7, level);
    pic_update(s);
}

static void input_handler(void *opaque, int n, int level)
{
    i8259_set_irq(opaque, n, level);
}

IrqLine i8259_input(PicState *s, int irq)
{
    IrqLine line;
    irq_init(&line, input_handler, s, irq);
    return line;
}

/* ICW1 (8259A): clears IMR, resets the edge-sense latches, gives IR7 the lowest
 * priority, clears special mask mode and selects IRR for status reads. */
static void chip_icw1(Pic8259 *c, uint8_t v)
{
    c->icw4_expected = v & 0x01;
    c->single = v & 0x02;
    c->ltim = v & 0x08;
    if (v & 0x04)
        VLOG(LOG_GUEST, "pic: ICW1 ADI (8085 call interval) has no effect in 8086 mode");
    c->imr = 0;
    c->isr = 0;
    c->irr = 0;
    for (int i = 0; i < 8; i++)
        if ((c->level & (1u << i)) && chip_level_mode(c, i))
            c->irr |= 1u << i;
    c->lowest = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    /* 8259A: "if IC4 = 0, all functions selected in ICW4 are set to zero". */
    c->auto_eoi = false;
    c->sfnm = false;
    c->rotate_on_aeoi = false;
    c->init_step = 2;
}

static void chip_ocw2(Pic8259 *c, uint8_t v)
{
    int level = v & 7;
    switch (v >> 5) {
    case 1: /* non-specific EOI */
    case 5: { /* rotate on non-specific EOI */
        int irq = chip_highest(c, c->isr);
        if (irq >= 0) {
            c->isr &= ~(1u << irq);
            if (v >> 5 == 5)
                c->lowest = irq;
        }
        break;
    }
    case 3: /* specific EOI */
        c->isr &= ~(1u << level);
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= ~(1u << level);
        c->lowest = level;
        break;
    case 6: /* set priority: L2-L0 become the lowest */
        c->lowest = level;
        break;
    case 4:
        c->rotate_on_aeoi = true;
        break;
    case 0:
        c->rotate_on_aeoi = false;
        break;
    case 2: /* no operation */
        break;
    }
}

static void chip_ocw3(Pic8259 *c, uint8_t v)
{
    if (v & 0x40)
        c->special_mask = v & 0x20;
    if (v & 0x04)
        c->poll = true;
    if (v & 0x02)
        c->read_isr = v & 0x01;
}

static void chip_write(PicState *s, Pic8259 *c, uint32_t offset, uint8_t v)
{
    if (offset == 0) {
        if (v & 0x10)
            chip_icw1(c, v);
        else if (v & 0x08)
            chip_ocw3(c, v);
        else
            chip_ocw2(c, v);
        pic_update(s);
        return;
    }
    switch (c->init_step) {
    case 2:
        c->vector_base = v & 0xf8;
        c->init_step = c->single ? (c->icw4_expected ? 4 : 0) : 3;
        break;
    case 3:
        c->icw3 = v;
        /* PIIX3 wires the slave to IR2 of the master whatever ICW3 says. */
        if ((c->master && v != 0x04) || (!c->master && (v & 7) != 2))
            VLOG(LOG_GUEST, "pic: ICW3 0x%02x differs from the PC's fixed cascade", v);
        c->init_step = c->icw4_expected ? 4 : 0;
        break;
    case 4:
        if (!(v & 0x01))
            VLOG(LOG_GUEST, "pic: ICW4 selects MCS-80/85 mode; a PC CPU expects 8086 mode");
        c->auto_eoi = v & 0x02;
        c->sfnm = v & 0x10;
        c->init_step = 0;
        break;
    default:
        c->imr = v; /* OCW1 */
        break;
    }
    pic_update(s);
}

/* 8259A poll: the read is taken as an interrupt acknowledge; bit 7 says whether a request
 * was pending and bits 2-0 give its level. */
static uint8_t chip_poll(PicState *s, Pic8259 *c)
{
    c->poll = false;
    int irq = chip_ack(c, false);
    pic_update(s);
    return irq < 0 ? 0x00 : (uint8_t)(0x80 | irq);
}

static uint32_t pic_read(void *opaque, uint32_t offset, unsigned size, int chip)
{
    PicState *s = opaque;
    Pic8259 *c = &s->chip[chip];
    if (c->poll)
        return chip_poll(s, c);
    if (offset == 0)
        return c->read_isr ? c->isr : c->irr;
    return c->imr;
}

static uint32_t master_read(void *opaque, uint32_t offset, unsigned size)
{
    return pic_read(opaque, offset, size, 0);
}

static uint32_t slave_read(void *opaque, uint32_t offset, unsigned size)
{
    return pic_read(opaque, offset, size, 1);
}

static void master_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    PicState *s = opaque;
    chip_write(s, &s->chip[0], offset, (uint8_t)value);
}

static void slave_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    PicState *s = opaque;
    chip_write(s, &s->chip[1], offset, (uint8_t)value);
}

static uint32_t elcr_read(void *opaque, uint32_t offset, unsigned size)
{
    PicState *s = opaque;
    return s->chip[offset & 1].elcr;
}

static void elcr_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    PicState *s = opaque;
    Pic8259 *c = &s->chip[offset & 1];
    c->elcr = value & c->elcr_mask;
    /* Inputs now level sensitive take their request from the pin at once. */
    for (int i = 0; i < 8; i++) {
        if (chip_level_mode(c, i)) {
            if (c->level & (1u << i))
                c->irr |= 1u << i;
            else
                c->irr &= ~(1u << i);
        }
    }
    pic_update(s);
}

static const PortOps master_ops = { master_read, master_write, 1, 1 };
static const PortOps slave_ops = { slave_read, slave_write, 1, 1 };
static const PortOps elcr_ops = { elcr_read, elcr_write, 1, 1 };

/* Power-on state: what ICW1 leaves (the 8259A's own power-on state is undefined), ELCR
 * 00h as the PIIX3 resets it. The input pins keep their levels. */
static void chip_reset(Pic8259 *c)
{
    c->elcr = 0;
    c->vector_base = 0;
    c->icw3 = 0;
    chip_icw1(c, 0x11);
    c->init_step = 0;
}

static void pic_reset(Device *dev)
{
    PicState *s = (PicState *)dev;
    chip_reset(&s->chip[0]);
    chip_reset(&s->chip[1]);
    pic_update(s);
}

static bool pic_realize(Device *dev, GError **err)
{
    PicState *s = (PicState *)dev;
    s->vm = dev->vm;
    for (int i = 0; i < 2; i++) {
        s->chip[i].pic = s;
        s->chip[i].master = i == 0;
    }
    /* PIIX3 ELCR: IRQ 0, 1, 2 (master) and 8, 13 (slave) are always edge triggered. */
    s->chip[0].elcr_mask = 0xf8;
    s->chip[1].elcr_mask = 0xde;
    IoSpace *io = vm_io(s->vm);
    io_add(io, "pic-master", 0x20, 2, &master_ops, s);
    io_add(io, "pic-slave", 0xa0, 2, &slave_ops, s);
    io_add(io, "elcr", 0x4d0, 2, &elcr_ops, s);
    if (s->cpu) {
        s->cpu->intr_ack = ack_trampoline;
        s->cpu->intr_ack_opaque = s;
    }
    return true;
}

static void pic_unrealize(Device *dev)
{
    PicState *s = (PicState *)dev;
    if (s->cpu && s->cpu->intr_ack_opaque == s) {
        s->cpu->intr_ack = NULL;
        s->cpu->intr_ack_opaque = NULL;
    }
}

static bool pic_check(const void *state, GError **err)
{
    const PicState *s = state;
    for (int i = 0; i < 2; i++) {
        const Pic8259 *c = &s->chip[i];
        if (c->init_step == 1) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: no ICW1 step follows ICW1",
                        i ? "slave" : "master");
            return false;
        }
        if (c->vector_base & 7) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: vector base 0x%02x has bits 2-0 set",
                        i ? "slave" : "master", c->vector_base);
            return false;
        }
        if (c->elcr & ~c->elcr_mask) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: ELCR 0x%02x sets edge-only inputs",
                        i ? "slave" : "master", c->elcr);
            return false;
        }
    }
    return true;
}

static void pic_post_load(void *state)
{
    PicState *s = state;
    irq_set(&s->intr, s->intr_level);
}

static const VmStateField pic_chip_fields[] = {
    VMSTATE_U8(Pic8259, irr),
    VMSTATE_U8(Pic8259, isr),
    VMSTATE_U8(Pic8259, imr),
    VMSTATE_U8(Pic8259, level),
    VMSTATE_U8(Pic8259, elcr),
    VMSTATE_U8(Pic8259, vector_base),
    VMSTATE_U8_RANGE(Pic8259, lowest, 0, 7),
    VMSTATE_U8_RANGE(Pic8259, init_step, 0, 4),
    VMSTATE_BOOL(Pic8259, icw4_expected),
    VMSTATE_BOOL(Pic8259, single),
    VMSTATE_BOOL(Pic8259, ltim),
    VMSTATE_BOOL(Pic8259, auto_eoi),
    VMSTATE_BOOL(Pic8259, rotate_on_aeoi),
    VMSTATE_BOOL(Pic8259, sfnm),
    VMSTATE_BOOL(Pic8259, special_mask),
    VMSTATE_BOOL(Pic8259, read_isr),
    VMSTATE_BOOL(Pic8259, poll),
    VMSTATE_U8(Pic8259, icw3),
    VMSTATE_END,
};

static const VmStateDesc pic_chip_vmsd = {
    .name = "8259a",
    .version = 1,
    .fields = pic_chip_fields,
};

static const VmStateField pic_fields[] = {
    VMSTATE_BOOL(PicState, intr_level),
    VMSTATE_STRUCT_ARRAY(PicState, chip, 2, Pic8259, &pic_chip_vmsd),
    VMSTATE_END,
};

static const VmStateDesc pic_vmsd = {
    .name = "8259-pair",
    .version = 1,
    .fields = pic_fields,
    .check = pic_check,
    .post_load = pic_post_load,
};

static const DeviceClass pic_class = {
    .name = "isa-i8259",
    .description = "two cascaded 8259A interrupt controllers with the PIIX ELCR",
    .instance_size = sizeof(PicState),
    .vmsd = &pic_vmsd,
    .realize = pic_realize,
    .reset = pic_reset,
    .unrealize = pic_unrealize,
};

__attribute__((constructor)) static void pic_register(void)
{
    device_class_register(&pic_class);
}

PicState *i8259_new(Vm *vm, const IrqLine *intr, CpuPins *cpu)
{
    PicState *s = (PicState *)device_new(vm, pic_class.name, "pic", NULL);
    g_assert(s);
    if (intr)
        s->intr = *intr;
    s->cpu = cpu;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
