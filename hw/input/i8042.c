/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 8042 keyboard controller of the PC/AT and PS/2: status and data ports, the
 * command byte, controller commands (self-test, interface tests, port enables, input
 * and output ports, pulse lines), the set 2 to set 1 translation, and IRQ 1 and 12.
 * Follows the IBM PS/2 hardware technical reference for the 8042 interface. */
#include "hw/input/i8042.h"

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08   /* the last write was to port 0x64 */
#define ST_UNLOCKED 0x10
#define ST_AUX_OBF 0x20

#define CB_KBD_INT 0x01
#define CB_AUX_INT 0x02
#define CB_SYS 0x04
#define CB_KBD_OFF 0x10
#define CB_AUX_OFF 0x20
#define CB_XLAT 0x40

#define OP_RESET 0x01 /* low resets the CPU */
#define OP_A20 0x02

#define CTL_QUEUE 8

/* A byte from the keyboard or the mouse crosses a serial link: 11 bits (start, 8 data,
 * odd parity, stop) at the device's clock of 10-16.7 kHz (IBM PS/2 Hardware Interface
 * Technical Reference, keyboard and auxiliary device timing: 30-50 us clock phases),
 * 0.66-1.1 ms. The controller inhibits the device while its output buffer is full, so
 * after the host reads port 0x60 the next byte arrives that much later, and until then
 * port 0x60 keeps returning the byte just read; DOS memory managers' IRQ 1 handlers
 * rely on reading it twice. QEMU's i8042 "kbd-throttle" option holds keyboard bytes back
 * 1 ms after a read for the same programs. */
#define LINK_BYTE_NS (1000 * 1000)

struct I8042State {
    Device dev;
    Vm *vm;
    IrqLine kbd_irq, aux_irq; /* wired by the board */
    IrqLine a20;              /* the output port's A20GATE, wired by the board */
    Ps2Keyboard kbd;
    Ps2Mouse mouse;
    uint8_t ram[32];      /* ram[0] is the command byte */
    uint8_t outport;
    bool last_was_cmd;
    bool obf, ob_aux;
    bool ob_device;       /* the output buffer's byte came over a device's link */
    uint8_t ob;
    int64_t link_free_ns; /* no device byte enters the output buffer before this */
    VTimer *link_timer;
    uint8_t pending;      /* command waiting for a data byte on port 0x60 */
    uint8_t ctl_q[CTL_QUEUE];
    bool ctl_aux[CTL_QUEUE];
    uint32_t ctl_head, ctl_count;
    bool xlat_break;      /* translation saw F0: the next code is a release */
    bool kbd_level, aux_level; /* derived from the output buffer and command byte */
    uint8_t xlat[256];    /* fixed table, built at realize */
};

/* The 8042's translation: a fixed table from set 2 to set 1 codes applied to every byte
 * from the keyboard; F0 is swallowed and sets bit 7 of the next code. */
static void i8042_build_xlat(I8042State *s)
{
    ps2_build_translation(s->xlat);
}

static uint8_t *i8042_cb(I8042State *s)
{
    return &s->ram[0];
}

static void i8042_update_irq(I8042State *s)
{
    uint8_t cb = *i8042_cb(s);
    bool k = s->obf && !s->ob_aux && (cb & CB_KBD_INT);
    bool a = s->obf && s->ob_aux && (cb & CB_AUX_INT);
    if (k != s->kbd_level) {
        s->kbd_level = k;
        irq_set(&s->kbd_irq, k);
    }
    if (a != s->aux_level) {
        s->aux_level = a;
        irq_set(&s->aux_irq, a);
    }
}

static void i8042_ctl_push(I8042State *s, uint8_t b, bool aux)
{
    if (s->ctl_count >= CTL_QUEUE)
        return;
    unsigned slot = (s->ctl_head + s->ctl_count) % CTL_QUEUE;
    s->ctl_q[slot] = b;
    s->ctl_aux[slot] = aux;
    s->ctl_count++;
}

/* Whether a device's byte may enter the output buffer now; if not, the link timer
 * tries again when the transfer of the previous one is over. */
static bool i8042_link_free(I8042State *s)
{
    if (vm_clock_ns(s->vm) >= s->link_free_ns)
        return true;
    if (!vtimer_pending(s->link_timer))
        vtimer_mod(s->link_timer, s->link_free_ns);
    return false;
}

/* Moves the next byte into the output buffer when it is empty: the controller's own
 * replies first, then the keyboard, then the mouse, each only while its interface is
 * enabled (a disabled device keeps its bytes) and once the link is free. */
static void i8042_fill(I8042State *s)
{
    if (!s->obf) {
        uint8_t cb = *i8042_cb(s);
        bool kbd = !(cb & CB_KBD_OFF) && ps2_keyboard_has_data(&s->kbd);
        bool aux = !(cb & CB_AUX_OFF) && ps2_mouse_has_data(&s->mouse);
        if (s->ctl_count) {
            s->ob = s->ctl_q[s->ctl_head];
            s->ob_aux = s->ctl_aux[s->ctl_head];
            s->ob_device = false;
            s->ctl_head = (s->ctl_head + 1) % CTL_QUEUE;
            s->ctl_count--;
            s->obf = true;
        } else if ((kbd || aux) && !i8042_link_free(s)) {
            /* The device's byte is still on its way. */
        } else if (kbd) {
            while (ps2_keyboard_has_data(&s->kbd)) {
                uint8_t b = ps2_keyboard_read(&s->kbd);
                if (!(cb & CB_XLAT)) {
                    s->ob = b;
                    s->obf = true;
                    break;
                }
                if (b == 0xf0) {
                    s->xlat_break = true;
                    continue;
                }
                s->ob = (uint8_t)(s->xlat[b] | (s->xlat_break ? 0x80 : 0));
                s->xlat_break = false;
                s->obf = true;
                break;
            }
            s->ob_aux = false;
            s->ob_device = true;
        } else if (aux) {
            s->ob = ps2_mouse_read(&s->mouse);
            s->ob_aux = true;
            s->ob_device = true;
            s->obf = true;
        }
    }
    i8042_update_irq(s);
}

static void i8042_device_notify(void *opaque)
{
    i8042_fill(opaque);
}

static void i8042_link_cb(void *opaque)
{
    i8042_fill(opaque);
}

static void i8042_write_outport(I8042State *s, uint8_t v)
{
    s->outport = v;
    irq_set(&s->a20, v & OP_A20 ? 1 : 0);
    if (!(v & OP_RESET)) {
        VLOG(LOG_INPUT, "i8042: output port resets the CPU");
        vm_request_reset(s->vm, VM_RESET_GUEST);
    }
}

static uint8_t i8042_read_outport(I8042State *s)
{
    /* Bits 2-3 and 6-7 are the idle-high clock and data lines; 4 and 5 mirror the
     * output buffer's owner (IRQ 1 and IRQ 12 sources). */
    uint8_t v = (uint8_t)((s->outport & (OP_RESET | OP_A20)) | 0xcc);
    if (s->obf && !s->ob_aux)
        v |= 0x10;
    if (s->obf && s->ob_aux)
        v |= 0x20;
    return v;
}

static void i8042_command(I8042State *s, uint8_t cmd)
{
    uint8_t *cb = i8042_cb(s);
    s->pending = 0;
    if (cmd >= 0x20 && cmd <= 0x3f) {
        i8042_ctl_push(s, s->ram[cmd & 0x1f], false);
        return;
    }
    if (cmd >= 0x60 && cmd <= 0x7f) {
        s->pending = cmd;
        return;
    }
    if (cmd >= 0xf0) {
        /* Pulse output port bits 0-3 whose command bits are 0; bit 0 is CPU reset. */
        if (!(cmd & 0x01)) {
            VLOG(LOG_INPUT, "i8042: reset pulse");
            vm_request_reset(s->vm, VM_RESET_GUEST);
        }
        return;
    }
    switch (cmd) {
    case 0xa4: /* password installed? */
        i8042_ctl_push(s, 0xf1, false);
        break;
    case 0xa5: /* load password: bytes until a zero */
        s->pending = cmd;
        break;
    case 0xa6: /* enable password: none is installed, nothing to do */
        break;
    case 0xa7:
        *cb |= CB_AUX_OFF;
        break;
    case 0xa8:
        *cb &= ~CB_AUX_OFF;
        break;
    case 0xa9: /* mouse interface test: no error */
    case 0xab: /* keyboard interface test: no error */
        i8042_ctl_push(s, 0x00, false);
        break;
    case 0xaa: /* controller self-test passed; sets the system flag */
        *cb |= CB_SYS;
        i8042_ctl_push(s, 0x55, false);
        break;
    case 0xad:
        *cb |= CB_KBD_OFF;
        break;
    case 0xae:
        *cb &= ~CB_KBD_OFF;
        break;
    case 0xc0: /* input port: keyboard not inhibited, no manufacturing jumper */
        i8042_ctl_push(s, 0xa0, false);
        break;
    case 0xd0:
        i8042_ctl_push(s, i8042_read_outport(s), false);
        break;
    case 0xd1: case 0xd2: case 0xd3: case 0xd4:
        s->pending = cmd;
        break;
    case 0xdd: /* A20 off, on (controllers with the HP commands) */
        i8042_write_outport(s, s->outport & ~OP_A20);
        break;
    case 0xdf:
        i8042_write_outport(s, s->outport | OP_A20);
        break;
    default:
        VLOG(LOG_UNIMP, "i8042: controller command 0x%02x", cmd);
        break;
    }
}

static void i8042_data(I8042State *s, uint8_t v)
{
    uint8_t pending = s->pending;
    s->pending = 0;
    if (pending >= 0x60 && pending <= 0x7f) {
        s->ram[pending & 0x1f] = v;
        return;
    }
    switch (pending) {
    case 0xa5:
        if (v != 0)
            s->pending = 0xa5;
        return;
    case 0xd1:
        i8042_write_outport(s, v);
        return;
    case 0xd2:
        i8042_ctl_push(s, v, false);
        return;
    case 0xd3:
        i8042_ctl_push(s, v, true);
        return;
    case 0xd4:
        ps2_mouse_write(&s->mouse, v);
        return;
    default:
        /* To the keyboard; sending it a byte re-enables its interface. */
        *i8042_cb(s) &= ~CB_KBD_OFF;
        ps2_keyboard_write(&s->kbd, v);
        return;
    }
}

static uint32_t i8042_data_read(void *opaque, uint32_t offset, unsigned size)
{
    I8042State *s = opaque;
    uint8_t v = s->ob;
    if (s->obf) {
        s->obf = false;
        /* The line falls when the byte is taken, then rises for the next one; a
         * device's next byte first crosses the link. */
        if (s->ob_device)
            s->link_free_ns = vm_clock_ns(s->vm) + LINK_BYTE_NS;
        i8042_update_irq(s);
    }
    i8042_fill(s);
    return v;
}

static void i8042_data_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    I8042State *s = opaque;
    s->last_was_cmd = false;
    i8042_data(s, (uint8_t)value);
    i8042_fill(s);
}

static uint32_t i8042_status_read(void *opaque, uint32_t offset, unsigned size)
{
    I8042State *s = opaque;
    uint8_t v = ST_UNLOCKED;
    if (s->obf)
        v |= ST_OBF;
    if (s->obf && s->ob_aux)
        v |= ST_AUX_OBF;
    if (*i8042_cb(s) & CB_SYS)
        v |= ST_SYS;
    if (s->last_was_cmd)
        v |= ST_CMD;
    return v;
}

static void i8042_cmd_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    I8042State *s = opaque;
    s->last_was_cmd = true;
    i8042_command(s, (uint8_t)value);
    i8042_fill(s);
}

static const PortOps data_ops = { i8042_data_read, i8042_data_write, 1, 1 };
static const PortOps cmd_ops = { i8042_status_read, i8042_cmd_write, 1, 1 };

/* Power-on: the command byte as the 8042 firmware leaves it before the BIOS writes
 * it, both devices reset, A20 enabled through the output port. */
static void i8042_reset(Device *dev)
{
    I8042State *s = (I8042State *)dev;
    memset(s->ram, 0, sizeof(s->ram));
    s->ram[0] = CB_KBD_INT | CB_AUX_INT;
    s->obf = false;
    s->ob_aux = false;
    s->ob_device = false;
    s->ob = 0;
    s->link_free_ns = 0;
    vtimer_del(s->link_timer);
    s->pending = 0;
    s->ctl_head = s->ctl_count = 0;
    s->xlat_break = false;
    s->last_was_cmd = false;
    ps2_keyboard_reset(&s->kbd);
    ps2_mouse_reset(&s->mouse);
    i8042_write_outport(s, OP_RESET | OP_A20);
    i8042_update_irq(s);
}

static bool i8042_realize(Device *dev, GError **err)
{
    I8042State *s = (I8042State *)dev;
    s->vm = dev->vm;
    ps2_keyboard_init(&s->kbd, s->vm, i8042_device_notify, s);
    ps2_mouse_init(&s->mouse, s->vm, i8042_device_notify, s);
    s->link_timer = vtimer_new(s->vm, i8042_link_cb, s);
    i8042_build_xlat(s);
    io_add(vm_io(s->vm), "i8042-data", 0x60, 1, &data_ops, s);
    io_add(vm_io(s->vm), "i8042-cmd", 0x64, 1, &cmd_ops, s);
    return true;
}

static void i8042_unrealize(Device *dev)
{
    I8042State *s = (I8042State *)dev;
    vtimer_free(s->link_timer);
    ps2_keyboard_cleanup(&s->kbd);
}

/* Queue indices within the queues, a pending command one that waits for data, the
 * link no further out than one byte's transfer; then the devices. */
static bool i8042_check(const void *state, GError **err)
{
    const I8042State *s = state;
    uint8_t p = s->pending;
    if (p && !(p >= 0x60 && p <= 0x7f) && p != 0xa5 && !(p >= 0xd1 && p <= 0xd4)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "controller command 0x%02x takes no data", p);
        return false;
    }
    if (s->link_free_ns > vm_clock_ns(s->dev.vm) + LINK_BYTE_NS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the PS/2 link is busy past one byte's transfer");
        return false;
    }
    return ps2_keyboard_check(&s->kbd, err) && ps2_mouse_check(&s->mouse, err);
}

/* The IRQ 1 and 12 levels follow from the output buffer and the command byte; the A20
 * gate gets back the output port's bit. */
static void i8042_post_load(void *state)
{
    I8042State *s = state;
    uint8_t cb = *i8042_cb(s);
    s->kbd_level = s->obf && !s->ob_aux && (cb & CB_KBD_INT);
    s->aux_level = s->obf && s->ob_aux && (cb & CB_AUX_INT);
    irq_set(&s->kbd_irq, s->kbd_level);
    irq_set(&s->aux_irq, s->aux_level);
    irq_set(&s->a20, s->outport & OP_A20 ? 1 : 0);
}

static const VmStateField i8042_fields[] = {
    VMSTATE_U8_ARRAY(I8042State, ram, 32),
    VMSTATE_U8(I8042State, outport),
    VMSTATE_BOOL(I8042State, last_was_cmd),
    VMSTATE_BOOL(I8042State, obf),
    VMSTATE_BOOL(I8042State, ob_aux),
    VMSTATE_BOOL(I8042State, ob_device),
    VMSTATE_U8(I8042State, ob),
    VMSTATE_I64_RANGE(I8042State, link_free_ns, 0, INT64_MAX),
    VMSTATE_TIMER(I8042State, link_timer),
    VMSTATE_U8(I8042State, pending),
    VMSTATE_U8_ARRAY(I8042State, ctl_q, CTL_QUEUE),
    { .name = "ctl_aux", .type = VMS_BOOL, .offset = VMS_AOFF_(I8042State, ctl_aux, bool), .count = CTL_QUEUE },
    VMSTATE_U32_RANGE(I8042State, ctl_head, 0, CTL_QUEUE - 1),
    VMSTATE_U32_RANGE(I8042State, ctl_count, 0, CTL_QUEUE),
    VMSTATE_BOOL(I8042State, xlat_break),
    VMSTATE_STRUCT(I8042State, kbd, Ps2Keyboard, &ps2_keyboard_vmsd),
    VMSTATE_STRUCT(I8042State, mouse, Ps2Mouse, &ps2_mouse_vmsd),
    VMSTATE_END,
};

static const VmStateDesc i8042_vmsd = {
    .name = "i8042",
    .version = 1,
    .fields = i8042_fields,
    .check = i8042_check,
    .post_load = i8042_post_load,
};

static const DeviceClass i8042_class = {
    .name = "i8042",
    .description = "8042 keyboard controller with a PS/2 keyboard and mouse (ports 0x60, 0x64)",
    .instance_size = sizeof(I8042State),
    .vmsd = &i8042_vmsd,
    .realize = i8042_realize,
    .reset = i8042_reset,
    .unrealize = i8042_unrealize,
};

__attribute__((constructor)) static void i8042_register(void)
{
    device_class_register(&i8042_class);
}

I8042State *i8042_new(Vm *vm, const IrqLine *kbd_irq, const IrqLine *mouse_irq, const IrqLine *a20)
{
    I8042State *s = (I8042State *)device_new(vm, i8042_class.name, "i8042", NULL);
    g_assert(s);
    if (kbd_irq)
        s->kbd_irq = *kbd_irq;
    if (mouse_irq)
        s->aux_irq = *mouse_irq;
    if (a20)
        s->a20 = *a20;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}

Ps2Keyboard *i8042_keyboard(I8042State *s)
{
    return &s->kbd;
}

Ps2Mouse *i8042_mouse(I8042State *s)
{
    return &s->mouse;
}
