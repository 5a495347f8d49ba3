/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A 16550A UART after the National Semiconductor PC16550D datasheet. Transmission is
 * immediate (no baud-rate delay); reception, the FIFOs, the character timeout, the
 * interrupt priorities and the line and modem status behave as the datasheet says.
 * On an IBM PC's serial card the interrupt output reaches the PIC only while MCR OUT2
 * is set; QEMU ignores OUT2, and guests written on QEMU rely on that, so the gate is the
 * property "strict-out2" (off by default, as QEMU). */
#include "hw/char/serial.h"
#include "hw/isa/isa-bus.h"

#include <string.h>

#define FIFO_SIZE 16

#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define IER_MS 0x08

#define IIR_NONE 0x01
#define IIR_RLS 0x06
#define IIR_RDA 0x04
#define IIR_CTI 0x0c
#define IIR_THRE 0x02
#define IIR_MS 0x00
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_BREAK 0x40
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_FIFOERR 0x80
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct SerialState {
    Device dev;
    uint32_t iobase;  /* property */
    uint32_t isa_irq; /* property: the ISA line, for a port created by name */
    Chardev *chr;     /* property */
    bool strict_out2; /* property */
    Vm *vm;
    IrqLine irq;      /* wired by the board, or ISA IRQ isa_irq */
    bool wired;       /* serial_new set irq */
    VTimer *timeout_timer;

    uint8_t ier, lcr, mcr, scr, fcr;
    uint16_t divisor;
    uint8_t msr;          /* line bits 4-7 and delta bits 0-3 */
    uint8_t lsr_err;      /* OE, PE, FE, BI waiting to be read from LSR */
    bool thre_pending;    /* the THRE interrupt source */
    bool timeout_pending; /* the character timeout source */
    uint8_t rbr_last;

    uint8_t rx[FIFO_SIZE];
    uint8_t rx_err[FIFO_SIZE]; /* PE/FE/BI of each received character */
    unsigned rx_head, rx_count;
    int64_t rx_activity_ns;    /* last character in or out of the receive FIFO */

    bool irq_level;
};

static bool serial_fifo_on(const SerialState *s)
{
    return s->fcr & FCR_ENABLE;
}

static unsigned serial_rx_capacity(const SerialState *s)
{
    return serial_fifo_on(s) ? FIFO_SIZE : 1;
}

static unsigned serial_trigger(const SerialState *s)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };
    return serial_fifo_on(s) ? levels[s->fcr >> 6] : 1;
}

/* One character time on the line: start bit, 5-8 data bits, parity, 1-2 stop bits at
 * 1.8432 MHz / 16 / divisor. */
static int64_t serial_char_ns(const SerialState *s)
{
    unsigned bits = 1 + 5 + (s->lcr & 3) + ((s->lcr & 0x08) ? 1 : 0) + ((s->lcr & 0x04) ? 2 : 1);
    int64_t div = s->divisor ? s->divisor : 0x10000;
    return ticks_to_ns((int64_t)bits * 16 * div, 1843200);
}

/* The interrupt the IIR reports now, in the 16550's priority order. */
static uint8_t serial_iir_id(const SerialState *s)
{
    if ((s->ier & IER_RLS) && (s->lsr_err & LSR_ERRORS))
        return IIR_RLS;
    if ((s->ier & IER_RDA) && s->rx_count >= serial_trigger(s) && s->rx_count > 0)
        return IIR_RDA;
    if ((s->ier & IER_RDA) && s->timeout_pending)
        return IIR_CTI;
    if ((s->ier & IER_THRE) && s->thre_pending)
        return IIR_THRE;
    if ((s->ier & IER_MS) && (s->msr & 0x0f))
        return IIR_MS;
    return IIR_NONE;
}

static void serial_update_irq(SerialState *s)
{
    /* The PC's COM ports gate the UART's INTRPT with OUT2; in loopback the OUT2 pin is
     * forced inactive (PC16550D, MCR bit 4). */
    bool gate = !s->strict_out2 || ((s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP));
    bool level = serial_iir_id(s) != IIR_NONE && gate;
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(&s->irq, level);
    }
}

/* 16550: the timeout fires when the receive FIFO holds characters and none went in or
 * out for four character times. */
static void serial_arm_timeout(SerialState *s)
{
    s->timeout_pending = false;
    if (serial_fifo_on(s) && s->rx_count > 0)
        vtimer_mod(s->timeout_timer, s->rx_activity_ns + 4 * serial_char_ns(s));
    else
        vtimer_del(s->timeout_timer);
}

static void serial_timeout_cb(void *opaque)
{
    SerialState *s = opaque;
    if (serial_fifo_on(s) && s->rx_count > 0)
        s->timeout_pending = true;
    serial_update_irq(s);
}

static void serial_rx_clear(SerialState *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
    memset(s->rx_err, 0, sizeof(s->rx_err));
    s->timeout_pending = false;
    vtimer_del(s->timeout_timer);
}

/* A character (with its error bits) arrives from the line into the receiver. */
static void serial_rx_char(SerialState *s, uint8_t ch, uint8_t err)
{
    /* Only the bits of the programmed word length exist on the line. */
    ch &= (uint8_t)(0xff >> (3 - (s->lcr & 3)));
    unsigned cap = serial_rx_capacity(s);
    if (s->rx_count >= cap) {
        if (serial_fifo_on(s)) {
            /* FIFO full: the character in the shift register is lost. */
            s->lsr_err |= LSR_OE;
            return;
        }
        /* Without FIFO a new character overwrites RBR. */
        s->lsr_err |= LSR_OE;
        s->rx_count = 0;
    }
    unsigned slot = (s->rx_head + s->rx_count) % FIFO_SIZE;
    s->rx[slot] = ch;
    s->rx_err[slot] = err;
    if (s->rx_count == 0)
        s->lsr_err |= err; /* errors show in LSR when the character reaches the top */
    s->rx_count++;
    s->rx_activity_ns = vm_clock_ns(s->vm);
    serial_arm_timeout(s);
}

static uint8_t serial_rx_pop(SerialState *s)
{
    if (s->rx_count == 0)
        return s->rbr_last;
    uint8_t ch = s->rx[s->rx_head];
    s->rx_err[s->rx_head] = 0;
    s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
    s->rx_count--;
    if (s->rx_count > 0)
        s->lsr_err |= s->rx_err[s->rx_head];
    s->rbr_last = ch;
    s->rx_activity_ns = vm_clock_ns(s->vm);
    serial_arm_timeout(s);
    if (s->rx_count == 0 && !(s->mcr & MCR_LOOP))
        chardev_accept_input(s->chr);
    return ch;
}

/* The modem status inputs: from MCR in loopback (DTR->DSR, RTS->CTS, OUT1->RI,
 * OUT2->DCD), else the far end of the character device, which is always ready. */
static void serial_update_msr(SerialState *s)
{
    uint8_t lines;
    if (s->mcr & MCR_LOOP) {
        lines = (uint8_t)(((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
                          ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0));
    } else {
        lines = s->chr ? (MSR_CTS | MSR_DSR | MSR_DCD) : 0;
    }
    uint8_t old = s->msr & 0xf0;
    uint8_t delta = 0;
    if ((old ^ lines) & MSR_CTS)
        delta |= MSR_DCTS;
    if ((old ^ lines) & MSR_DSR)
        delta |= MSR_DDSR;
    if ((old & MSR_RI) && !(lines & MSR_RI))
        delta |= MSR_TERI; /* trailing edge of RI only */
    if ((old ^ lines) & MSR_DCD)
        delta |= MSR_DDCD;
    s->msr = (uint8_t)(lines | (s->msr & 0x0f) | delta);
}

static void serial_transmit(SerialState *s, uint8_t ch)
{
    ch &= (uint8_t)(0xff >> (3 - (s->lcr & 3)));
    if (s->mcr & MCR_LOOP)
        serial_rx_char(s, ch, 0);
    else if (!(s->lcr & LCR_BREAK))
        chardev_write(s->chr, &ch, 1);
    /* Sent at once: THR and the shift register are empty again. */
    s->thre_pending = true;
}

static uint8_t serial_lsr(const SerialState *s)
{
    uint8_t v = LSR_THRE | LSR_TEMT | (s->lsr_err & LSR_ERRORS);
    if (s->rx_count > 0)
        v |= LSR_DR;
    if (serial_fifo_on(s)) {
        for (unsigned i = 0; i < s->rx_count; i++)
            if (s->rx_err[(s->rx_head + i) % FIFO_SIZE])
                v |= LSR_FIFOERR;
    }
    return v;
}

static uint32_t serial_read(void *opaque, uint32_t offset, unsigned size)
{
    SerialState *s = opaque;
    uint8_t v;
    switch (offset) {
    case 0:
        if (s->lcr & LCR_DLAB) {
            v = s->divisor & 0xff;
        } else {
            v = serial_rx_pop(s);
        }
        break;
    case 1:
        v = (s->lcr & LCR_DLAB) ? s->divisor >> 8 : s->ier;
        break;
    case 2: {
        uint8_t id = serial_iir_id(s);
        v = id | (serial_fifo_on(s) ? IIR_FIFO : 0);
        /* Reading IIR while it names THRE clears that source. */
        if (id == IIR_THRE)
            s->thre_pending = false;
        break;
    }
    case 3:
        v = s->lcr;
        break;
    case 4:
        v = s->mcr;
        break;
    case 5:
        v = serial_lsr(s);
        s->lsr_err = 0;
        /* The top character's errors are reported now; LSR7 stays only for later
         * ones. */
        if (s->rx_count > 0)
            s->rx_err[s->rx_head] = 0;
        break;
    case 6:
        v = s->msr;
        s->msr &= 0xf0;
        break;
    default:
        v = s->scr;
        break;
    }
    serial_update_irq(s);
    return v;
}

static void serial_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    SerialState *s = opaque;
    uint8_t v = (uint8_t)value;
    switch (offset) {
    case 0:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (uint16_t)((s->divisor & 0xff00) | v);
        } else {
            s->thre_pending = false;
            serial_transmit(s, v);
        }
        break;
    case 1:
        if (s->lcr & LCR_DLAB) {
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | v << 8);
        } else {
            uint8_t old = s->ier;
            s->ier = v & 0x0f;
            /* Enabling ETBEI while THR is empty raises the THRE interrupt (16550;
             * Linux's driver tests for it). */
            if (!(old & IER_THRE) && (s->ier & IER_THRE))
                s->thre_pending = true;
        }
        break;
    case 2: {
        bool was_on = serial_fifo_on(s);
        bool on = v & FCR_ENABLE;
        /* FCR bits other than bit 0 are only written while the FIFOs are enabled;
         * changing FCR0 clears both FIFOs. */
        if (on != was_on)
            serial_rx_clear(s);
        if (on) {
            if (v & FCR_CLEAR_RX)
                serial_rx_clear(s);
            s->fcr = v & 0xc9;
        } else {
            s->fcr = 0;
        }
        if (!s->rx_count && !(s->mcr & MCR_LOOP))
            chardev_accept_input(s->chr);
        break;
    }
    case 3: {
        uint8_t old = s->lcr;
        s->lcr = v;
        /* In loopback a break on the output is received as a break: a zero character
         * with BI and FE. */
        if ((v & LCR_BREAK) && !(old & LCR_BREAK) && (s->mcr & MCR_LOOP))
            serial_rx_char(s, 0, LSR_BI | LSR_FE);
        break;
    }
    case 4: {
        bool was_loop = s->mcr & MCR_LOOP;
        s->mcr = v & 0x1f;
        serial_update_msr(s);
        if (was_loop && !(s->mcr & MCR_LOOP))
            chardev_accept_input(s->chr);
        break;
    }
    case 5:
    case 6:
        break; /* LSR and MSR: factory test registers, writes ignored */
    default:
        s->scr = v;
        break;
    }
    serial_update_irq(s);
}

static const PortOps serial_ops = { serial_read, serial_write, 1, 1 };

void serial_receive(SerialState *s, const uint8_t *buf, size_t len)
{
    if (s->mcr & MCR_LOOP)
        return; /* the input pin is disconnected in loopback */
    for (size_t i = 0; i < len; i++)
        serial_rx_char(s, buf[i], 0);
    serial_update_irq(s);
}

static size_t serial_can_read(void *opaque)
{
    SerialState *s = opaque;
    if (s->mcr & MCR_LOOP)
        return 0;
    return serial_rx_capacity(s) - MIN(s->rx_count, serial_rx_capacity(s));
}

static void serial_chr_read(void *opaque, const uint8_t *buf, size_t len)
{
    serial_receive(opaque, buf, len);
}

static void serial_lock(void *vm) { vm_lock(vm); }
static void serial_unlock(void *vm) { vm_unlock(vm); }

/* Master reset values (PC16550D table): divisor and SCR are not part of it; they get
 * the PC BIOS's 9600 baud and 0 at power-on. */
static void serial_reset(Device *dev)
{
    SerialState *s = (SerialState *)dev;
    s->ier = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->fcr = 0;
    s->scr = 0;
    s->divisor = 12;
    s->lsr_err = 0;
    s->thre_pending = false;
    s->rbr_last = 0;
    serial_rx_clear(s);
    s->msr = 0;
    serial_update_msr(s);
    s->msr &= 0xf0;
    serial_update_irq(s);
    if (s->chr)
        chardev_accept_input(s->chr);
}

static bool serial_realize(Device *dev, GError **err)
{
    SerialState *s = (SerialState *)dev;
    s->vm = dev->vm;
    if (!s->wired) {
        IsaBus *bus = isa_bus_find(s->vm, err);
        if (!bus || !isa_bus_check_ports(s->vm, s->iobase, 8, err))
            return false;
        s->irq = *isa_bus_irq(bus, s->isa_irq);
    }
    s->timeout_timer = vtimer_new(s->vm, serial_timeout_cb, s);
    io_add(vm_io(s->vm), dev->id, (uint16_t)s->iobase, 8, &serial_ops, s);
    if (s->chr)
        chardev_set_receiver(s->chr, serial_can_read, serial_chr_read, s, serial_lock,
                             serial_unlock, s->vm);
    return true;
}

static void serial_unrealize(Device *dev)
{
    SerialState *s = (SerialState *)dev;
    if (s->chr)
        chardev_set_receiver(s->chr, NULL, NULL, NULL, NULL, NULL, NULL);
    vtimer_free(s->timeout_timer);
}

/* Only the error bits the receiver records can be pending; without FIFOs the receiver
 * holds one character. */
static bool serial_check(const void *state, GError **err)
{
    const SerialState *s = state;
    if (s->fcr & ~0xc9) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "FCR 0x%02x has bits the UART keeps clear", s->fcr);
        return false;
    }
    if (!serial_fifo_on(s) && s->rx_count > 1) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%u characters received with the FIFOs off",
                    s->rx_count);
        return false;
    }
    if (s->lsr_err & ~LSR_ERRORS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "line status errors 0x%02x", s->lsr_err);
        return false;
    }
    for (unsigned i = 0; i < FIFO_SIZE; i++) {
        if (s->rx_err[i] & ~(LSR_PE | LSR_FE | LSR_BI)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "receive error bits 0x%02x", s->rx_err[i]);
            return false;
        }
    }
    return true;
}

/* The IRQ output and the chardev's flow control follow the loaded registers. */
static void serial_post_load(void *state)
{
    SerialState *s = state;
    irq_set(&s->irq, s->irq_level);
    if (s->chr && !(s->mcr & MCR_LOOP) && serial_can_read(s))
        chardev_accept_input(s->chr);
}

static const VmStateField serial_fields[] = {
    VMSTATE_U8_RANGE(SerialState, ier, 0, 0x0f),
    VMSTATE_U8(SerialState, lcr),
    VMSTATE_U8_RANGE(SerialState, mcr, 0, 0x1f),
    VMSTATE_U8(SerialState, scr),
    VMSTATE_U8(SerialState, fcr),
    VMSTATE_U16(SerialState, divisor),
    VMSTATE_U8(SerialState, msr),
    VMSTATE_U8(SerialState, lsr_err),
    VMSTATE_BOOL(SerialState, thre_pending),
    VMSTATE_BOOL(SerialState, timeout_pending),
    VMSTATE_U8(SerialState, rbr_last),
    VMSTATE_U8_ARRAY(SerialState, rx, FIFO_SIZE),
    VMSTATE_U8_ARRAY(SerialState, rx_err, FIFO_SIZE),
    VMSTATE_U32_RANGE(SerialState, rx_head, 0, FIFO_SIZE - 1),
    VMSTATE_U32_RANGE(SerialState, rx_count, 0, FIFO_SIZE),
    VMSTATE_I64(SerialState, rx_activity_ns),
    VMSTATE_BOOL(SerialState, irq_level),
    VMSTATE_TIMER(SerialState, timeout_timer),
    VMSTATE_END,
};

static const VmStateDesc serial_vmsd = {
    .name = "16550a",
    .version = 1,
    .fields = serial_fields,
    .check = serial_check,
    .post_load = serial_post_load,
};

static const DeviceProp serial_props[] = {
    { "iobase", DEVICE_PROP_U32, offsetof(SerialState, iobase), "I/O port base", "0x3f8", 0, 0xfff8 },
    { "irq", DEVICE_PROP_U32, offsetof(SerialState, isa_irq), "ISA IRQ line", "4", 0, 15 },
    { "chardev", DEVICE_PROP_CHARDEV, offsetof(SerialState, chr), "ID of a chardev to use as a backend" },
    { "strict-out2", DEVICE_PROP_BOOL, offsetof(SerialState, strict_out2),
      "on: the IRQ reaches the PIC only while MCR OUT2 is set, as on an IBM PC (off: as QEMU)", "off" },
    { NULL },
};

static const DeviceClass serial_class = {
    .name = "isa-serial",
    .description = "16550A UART with FIFOs",
    .instance_size = sizeof(SerialState),
    .user_creatable = true,
    .props = serial_props,
    .vmsd = &serial_vmsd,
    .realize = serial_realize,
    .reset = serial_reset,
    .unrealize = serial_unrealize,
};

__attribute__((constructor)) static void serial_register(void)
{
    device_class_register(&serial_class);
}

SerialState *serial_new(Vm *vm, uint16_t base, const IrqLine *irq, Chardev *chr)
{
    g_autofree char *id = g_strdup_printf("serial@0x%x", base);
    SerialState *s = (SerialState *)device_new(vm, serial_class.name, id, NULL);
    g_assert(s);
    s->iobase = base;
    s->chr = chr;
    s->wired = true;
    if (irq)
        s->irq = *irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
