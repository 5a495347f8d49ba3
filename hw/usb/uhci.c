/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PIIX3 USB host controller (82371SB function 2, 8086:7020): a UHCI controller with
 * two root ports. Register and schedule semantics from the Universal Host Controller
 * Interface Design Guide, revision 1.1 ("UHCI" below), chapters 2 to 4.
 *
 * Every millisecond of virtual time while Run/Stop is set, the controller reads one
 * entry of the frame list and walks the schedule it points to: transfer descriptors
 * (TDs) and queue heads (QHs), breadth or depth first. The guest owns that memory and
 * may hand over anything: every descriptor and buffer access is checked, a pointer
 * outside RAM halts the controller with Host System Error, a malformed TD with Host
 * Controller Process Error (UHCI 2.1.2), and the work of one frame is bounded so a
 * looping schedule costs one frame's budget, never a hung vCPU. */
#include "hw/usb/usb.h"
#include "hw/pci/pci.h"

#include <string.h>

#define UHCI_PORTS 2
#define UHCI_IO_SIZE 32
#define FRAME_NS (NS_PER_SEC / 1000)
/* Frames made up at once when the timer ran late; beyond that, time is skipped. */
#define MAX_CATCH_UP 8
/* Per frame: links followed, and bytes moved (a full-speed frame carries about 1500
 * bytes; 1280 is the largest single TD, UHCI 3.2.2). */
#define MAX_LINKS_PER_FRAME 2048
#define FRAME_BYTES 1280
/* QHs remembered per frame to spot a loop that moves no data (Linux builds one on
 * purpose for bandwidth reclamation). */
#define MAX_QH_SEEN 64

/* I/O registers (UHCI 2.1). */
enum {
    REG_USBCMD = 0x00,
    REG_USBSTS = 0x02,
    REG_USBINTR = 0x04,
    REG_FRNUM = 0x06,
    REG_FRBASEADD = 0x08,
    REG_SOFMOD = 0x0c,
    REG_PORTSC1 = 0x10,
};

enum {
    CMD_RS = 1u << 0,
    CMD_HCRESET = 1u << 1,
    CMD_GRESET = 1u << 2,
    CMD_EGSM = 1u << 3,
    CMD_FGR = 1u << 4,
    CMD_SWDBG = 1u << 5,
    CMD_CF = 1u << 6,
    CMD_MAXP = 1u << 7,
    STS_USBINT = 1u << 0,
    STS_ERROR = 1u << 1,
    STS_RD = 1u << 2,
    STS_HSE = 1u << 3,
    STS_HCPE = 1u << 4,
    STS_HALTED = 1u << 5,
    INTR_TIMEOUT_CRC = 1u << 0,
    INTR_RESUME = 1u << 1,
    INTR_IOC = 1u << 2,
    INTR_SP = 1u << 3,
    /* Port status and control (UHCI 2.1.7). */
    PORT_CCS = 1u << 0,
    PORT_CSC = 1u << 1,
    PORT_PE = 1u << 2,
    PORT_PEC = 1u << 3,
    PORT_LS_DPLUS = 1u << 4,
    PORT_LS_DMINUS = 1u << 5,
    PORT_RD = 1u << 6,
    PORT_ALWAYS1 = 1u << 7,
    PORT_LSDA = 1u << 8,
    PORT_PR = 1u << 9,
    PORT_SUSP = 1u << 12,
};

/* Interrupt causes noted during a frame (USBSTS.USBINT says only that one happened). */
enum {
    CAUSE_IOC = 1u << 0,
    CAUSE_SHORT = 1u << 1,
};

/* Link pointers and TD fields (UHCI 3.1 to 3.3). */
enum {
    LINK_T = 1u << 0,
    LINK_Q = 1u << 1,
    LINK_VF = 1u << 2,
    TD_ACTLEN = 0x7ff,
    TD_BITSTUFF = 1u << 17,
    TD_CRC_TIMEOUT = 1u << 18,
    TD_NAK = 1u << 19,
    TD_BABBLE = 1u << 20,
    TD_DBUF = 1u << 21,
    TD_STALLED = 1u << 22,
    TD_ACTIVE = 1u << 23,
    TD_IOC = 1u << 24,
    TD_IOS = 1u << 25,
    TD_LS = 1u << 26,
    TD_CERR_SHIFT = 27,
    TD_SPD = 1u << 29,
    TD_STATUS = 0xff0000,
};

/* PCI configuration registers of function 2 (82371SB datasheet, 2.3). */
enum {
    CFG_USBBA = 0x20,
    CFG_SBRN = 0x60,
    CFG_LEGSUP = 0xc0,
};

typedef struct UhciState {
    Device dev;
    char *addr;                /* property: SLOT.FN on pci.0 */
    PciDevice pci;
    UsbBus *usb;
    VTimer *frame_timer;
    /* Registers. */
    uint16_t cmd, sts, intr, frnum;
    uint32_t flbase;
    uint8_t sofmod;
    uint16_t portsc[UHCI_PORTS];
    uint8_t causes;            /* CAUSE_*, cleared with USBINT */
} UhciState;

typedef enum {
    TD_DONE,       /* completed: a queue advances */
    TD_SHORT,      /* completed short with SPD: the queue stops here */
    TD_KEEP,       /* still active (NAK, retry), or inactive: move on */
    TD_FATAL,      /* the controller halted */
} TdResult;

typedef struct FrameWork {
    unsigned links;
    int bytes;
    unsigned progress;         /* TDs completed this frame */
    unsigned nseen;
    struct { uint32_t addr; unsigned progress; } seen[MAX_QH_SEEN];
} FrameWork;

static void update_irq(UhciState *s)
{
    bool level = ((s->sts & STS_USBINT) &&
                  (((s->causes & CAUSE_IOC) && (s->intr & INTR_IOC)) ||
                   ((s->causes & CAUSE_SHORT) && (s->intr & INTR_SP)))) ||
                 ((s->sts & STS_ERROR) && (s->intr & INTR_TIMEOUT_CRC)) ||
                 ((s->sts & STS_RD) && (s->intr & INTR_RESUME)) ||
                 (s->sts & (STS_HSE | STS_HCPE));
    pci_set_irq(&s->pci, level);
}

static void uhci_halt(UhciState *s)
{
    s->cmd &= ~CMD_RS;
    s->sts |= STS_HALTED;
    vtimer_del(s->frame_timer);
}

/* A schedule fault (UHCI 2.1.2): the controller stops and interrupts unconditionally. */
static void uhci_fault(UhciState *s, uint16_t status, const char *what, uint32_t addr)
{
    VLOG(LOG_GUEST, "uhci: %s at 0x%08x: controller halted", what, addr);
    s->sts |= status;
    uhci_halt(s);
    update_irq(s);
}

static unsigned enabled_ports(const UhciState *s)
{
    unsigned mask = 0;
    for (int i = 0; i < UHCI_PORTS; i++)
        if ((s->portsc[i] & (PORT_PE | PORT_SUSP)) == PORT_PE)
            mask |= 1u << i;
    return mask;
}

static TdResult process_td(UhciState *s, uint32_t addr, uint32_t *link, FrameWork *w)
{
    GuestMemory *mem = vm_mem(s->dev.vm);
    uint32_t td[4];
    if (!mem_read(mem, addr, td, sizeof(td))) {
        uhci_fault(s, STS_HSE, "transfer descriptor outside RAM", addr);
        return TD_FATAL;
    }
    for (int i = 0; i < 4; i++)
        td[i] = GUINT32_FROM_LE(td[i]);
    *link = td[0];
    uint32_t ctrl = td[1], token = td[2], buf = td[3];
    if (!(ctrl & TD_ACTIVE))
        return TD_KEEP;
    uint8_t pid = token & 0xff;
    unsigned maxlen = token >> 21;
    if ((pid != USB_TOKEN_IN && pid != USB_TOKEN_OUT && pid != USB_TOKEN_SETUP) ||
        (maxlen > 0x4ff && maxlen != 0x7ff)) {
        /* Consistency checks (UHCI 3.2.2): a bad PID or MaxLen 0x500-0x7FE. */
        uhci_fault(s, STS_HCPE, "malformed transfer descriptor", addr);
        return TD_FATAL;
    }
    size_t len = (maxlen + 1) & 0x7ff;
    uint8_t data[FRAME_BYTES];
    UsbPacket p = { .pid = pid, .addr = (token >> 8) & 0x7f, .ep = (token >> 15) & 0xf,
                    .data = data, .max_len = len, .len = pid == USB_TOKEN_IN ? 0 : len };
    if (pid != USB_TOKEN_IN && len && !mem_read(mem, buf, data, len)) {
        uhci_fault(s, STS_HSE, "OUT buffer outside RAM", buf);
        return TD_FATAL;
    }
    usb_bus_deliver(s->usb, enabled_ports(s), &p);
    w->bytes -= (int)(len ? len : 1);

    uint32_t new_ctrl = ctrl & ~TD_STATUS;
    TdResult res = TD_DONE;
    switch (p.result) {
    case USB_RET_SUCCESS: {
        size_t actual = pid == USB_TOKEN_IN ? MIN(p.len, len) : len;
        if (pid == USB_TOKEN_IN && actual && !mem_write(mem, buf, data, actual)) {
            uhci_fault(s, STS_HSE, "IN buffer outside RAM", buf);
            return TD_FATAL;
        }
        new_ctrl = (new_ctrl & ~TD_ACTLEN) | ((uint32_t)(actual - 1) & TD_ACTLEN);
        if (ctrl & TD_IOC)
            s->causes |= CAUSE_IOC;
        if (pid == USB_TOKEN_IN && actual < len && (ctrl & TD_SPD)) {
            s->causes |= CAUSE_SHORT;
            res = TD_SHORT;
        }
        s->sts |= (ctrl & TD_IOC) || res == TD_SHORT ? STS_USBINT : 0;
        w->progress++;
        break;
    }
    case USB_RET_NAK:
        /* Stays active; the host retries in a later frame (UHCI 3.2.2, NAK). */
        new_ctrl |= TD_ACTIVE | TD_NAK;
        res = TD_KEEP;
        break;
    case USB_RET_NODEV: {
        /* No handshake: the error counter counts down; at zero the TD retires with
         * CRC/timeout, and a counter of zero retries for ever (UHCI 3.2.2, C_ERR). */
        unsigned cerr = (ctrl >> TD_CERR_SHIFT) & 3;
        new_ctrl |= TD_CRC_TIMEOUT | TD_ACTIVE;
        res = TD_KEEP;
        if (cerr) {
            cerr--;
            new_ctrl = (new_ctrl & ~(3u << TD_CERR_SHIFT)) | cerr << TD_CERR_SHIFT;
            if (!cerr) {
                new_ctrl = (new_ctrl & ~TD_ACTIVE) | TD_STALLED;
                s->sts |= STS_ERROR;
                if (ctrl & TD_IOC) {
                    s->causes |= CAUSE_IOC;
                    s->sts |= STS_USBINT;
                }
            }
        }
        break;
    }
    case USB_RET_BABBLE:
    case USB_RET_STALL:
    default:
        /* A stall or babble retires the TD at once and halts its queue. */
        new_ctrl |= TD_STALLED | (p.result == USB_RET_BABBLE ? TD_BABBLE : 0);
        s->sts |= STS_ERROR;
        if (ctrl & TD_IOC) {
            s->causes |= CAUSE_IOC;
            s->sts |= STS_USBINT;
        }
        res = TD_KEEP;
        break;
    }
    /* An isochronous TD gets one try in its frame, whatever happened: it retires with
     * its status and never stays active for a later frame (UHCI 3.2.2, IOS; 2.1.2.3). */
    if ((ctrl & TD_IOS) && (new_ctrl & TD_ACTIVE)) {
        new_ctrl &= ~(TD_ACTIVE | TD_NAK);
        if (ctrl & TD_IOC) {
            s->causes |= CAUSE_IOC;
            s->sts |= STS_USBINT;
        }
    }
    uint32_t le = GUINT32_TO_LE(new_ctrl);
    if (!mem_write(mem, addr + 4, &le, 4)) {
        uhci_fault(s, STS_HSE, "transfer descriptor outside RAM", addr);
        return TD_FATAL;
    }
    return res;
}

/* A QH seen again with no TD completed since its last visit closes a loop that would
 * only repeat itself until the frame ends. */
static bool qh_loop(FrameWork *w, uint32_t addr)
{
    for (unsigned i = 0; i < w->nseen; i++) {
        if (w->seen[i].addr == addr) {
            if (w->seen[i].progress == w->progress)
                return true;
            w->seen[i].progress = w->progress;
            return false;
        }
    }
    if (w->nseen < MAX_QH_SEEN) {
        w->seen[w->nseen].addr = addr;
        w->seen[w->nseen].progress = w->progress;
        w->nseen++;
    }
    return false;
}

static void walk_schedule(UhciState *s, uint32_t link)
{
    GuestMemory *mem = vm_mem(s->dev.vm);
    FrameWork w = { .bytes = FRAME_BYTES };
    while (!(link & LINK_T) && w.links++ < MAX_LINKS_PER_FRAME && w.bytes > 0) {
        uint32_t addr = link & ~0xfu;
        if (!(link & LINK_Q)) {
            if (process_td(s, addr, &link, &w) == TD_FATAL)
                return;
            continue;
        }
        if (qh_loop(&w, addr))
            return;
        uint32_t qh[2];
        if (!mem_read(mem, addr, qh, sizeof(qh))) {
            uhci_fault(s, STS_HSE, "queue head outside RAM", addr);
            return;
        }
        uint32_t head = GUINT32_FROM_LE(qh[0]), element = GUINT32_FROM_LE(qh[1]);
        if (element & LINK_T) {
            link = head;
            continue;
        }
        if (element & LINK_Q) {
            /* A nested queue: its QH takes over, and its horizontal link goes on. */
            link = element;
            continue;
        }
        uint32_t td_link;
        TdResult r = process_td(s, element & ~0xfu, &td_link, &w);
        if (r == TD_FATAL)
            return;
        if (r == TD_DONE) {
            /* The queue advances to the next TD (UHCI 3.3.1); depth first stays in it. */
            uint32_t le = GUINT32_TO_LE(td_link);
            if (!mem_write(mem, addr + 4, &le, 4)) {
                uhci_fault(s, STS_HSE, "queue head outside RAM", addr);
                return;
            }
            if ((td_link & (LINK_VF | LINK_T)) == LINK_VF) {
                link = addr | LINK_Q;
                continue;
            }
        }
        link = head;
    }
}

static void run_frame(UhciState *s)
{
    if (pci_bus_master_enabled(&s->pci)) {
        uint32_t entry_addr = s->flbase + ((s->frnum & 0x3ffu) << 2);
        uint32_t entry;
        if (!mem_read(vm_mem(s->dev.vm), entry_addr, &entry, 4)) {
            uhci_fault(s, STS_HSE, "frame list outside RAM", entry_addr);
            return;
        }
        walk_schedule(s, GUINT32_FROM_LE(entry));
        if (!(s->cmd & CMD_RS))
            return;
    }
    s->frnum = (s->frnum + 1) & 0x7ff;
    update_irq(s);
}

static void frame_tick(void *opaque)
{
    UhciState *s = opaque;
    int64_t now = vm_clock_ns(s->dev.vm);
    int64_t next = vtimer_expire(s->frame_timer);
    for (int n = 0; n < MAX_CATCH_UP && next <= now && (s->cmd & CMD_RS); n++) {
        run_frame(s);
        next += FRAME_NS;
    }
    if (!(s->cmd & CMD_RS))
        return;
    if (next <= now) {
        /* Too far behind: the frame counter still tells the guest how much time passed. */
        int64_t skipped = (now - next) / FRAME_NS + 1;
        s->frnum = (uint16_t)((s->frnum + skipped) & 0x7ff);
        next += skipped * FRAME_NS;
    }
    vtimer_mod(s->frame_timer, next);
}

/* ---- ports ---- */

static uint16_t port_connected_bits(UhciState *s, int i)
{
    UsbDevice *d = usb_bus_port_device(s->usb, i);
    if (!d)
        return 0;
    /* Idle line state: J, which is D+ high at full speed and D- high at low speed. */
    return PORT_CCS | (d->speed == USB_SPEED_LOW ? PORT_LSDA | PORT_LS_DMINUS : PORT_LS_DPLUS);
}

static void port_attach(void *opaque, int port, UsbSpeed speed)
{
    UhciState *s = opaque;
    (void)speed;
    s->portsc[port] = (s->portsc[port] & ~(PORT_PE | PORT_LSDA | PORT_LS_DPLUS | PORT_LS_DMINUS)) |
                      port_connected_bits(s, port) | PORT_CSC;
    if (s->portsc[port] & PORT_PE)
        s->portsc[port] |= PORT_PEC;
    /* A connect while suspended is a resume event (UHCI 2.1.2). */
    if (s->cmd & CMD_EGSM) {
        s->sts |= STS_RD;
        update_irq(s);
    }
}

/* Remote wakeup from a device on a suspended port: resume signalling is seen on the
 * port and, in global suspend, reported in USBSTS (UHCI 2.1.2, 2.1.7). */
static void port_wakeup(void *opaque, int port)
{
    UhciState *s = opaque;
    if (!(s->portsc[port] & PORT_SUSP) && !(s->cmd & CMD_EGSM))
        return;
    s->portsc[port] |= PORT_RD;
    if (s->cmd & CMD_EGSM)
        s->sts |= STS_RD;
    update_irq(s);
}

/* Hot unplug: the port loses its connection, is disabled, and reports both changes
 * (UHCI 2.1.7: CSC, and PEDC when the port was enabled); a disconnect in global suspend
 * is a resume event like a connect. */
static void port_detach(void *opaque, int port)
{
    UhciState *s = opaque;
    uint16_t old = s->portsc[port];
    s->portsc[port] = (old & ~(PORT_CCS | PORT_PE | PORT_LSDA | PORT_LS_DPLUS | PORT_LS_DMINUS | PORT_SUSP)) |
                      PORT_CSC | ((old & PORT_PE) ? PORT_PEC : 0);
    if (s->cmd & CMD_EGSM) {
        s->sts |= STS_RD;
        update_irq(s);
    }
}

static const UsbPortOps uhci_port_ops = {
    .attach = port_attach,
    .wakeup = port_wakeup,
    .detach = port_detach,
};

static void port_write(UhciState *s, int i, uint16_t v)
{
    uint16_t old = s->portsc[i];
    uint16_t p = old & ~(PORT_PE | PORT_RD | PORT_PR | PORT_SUSP);
    p &= ~(v & (PORT_CSC | PORT_PEC));
    p |= v & (PORT_RD | PORT_PR | PORT_SUSP);
    /* Only a connected port can be enabled (UHCI 2.1.7). */
    if ((v & PORT_PE) && (old & PORT_CCS))
        p |= PORT_PE;
    if ((v & PORT_PR) && !(old & PORT_PR)) {
        /* Reset signalling: the device returns to its default state, the port is
         * disabled until software enables it again. */
        usb_bus_port_reset(s->usb, i);
        p &= ~PORT_PE;
    }
    s->portsc[i] = p;
}

/* ---- registers ---- */

static void uhci_reset_regs(UhciState *s)
{
    vtimer_del(s->frame_timer);
    s->cmd = 0;
    s->sts = STS_HALTED;
    s->intr = 0;
    s->frnum = 0;
    s->flbase = 0;
    s->sofmod = 0x40;
    s->causes = 0;
    for (int i = 0; i < UHCI_PORTS; i++) {
        s->portsc[i] = PORT_ALWAYS1 | port_connected_bits(s, i);
        if (s->portsc[i] & PORT_CCS)
            s->portsc[i] |= PORT_CSC;
    }
}

static void bus_reset_all(UhciState *s)
{
    for (int i = 0; i < UHCI_PORTS; i++)
        usb_bus_port_reset(s->usb, i);
}

static void cmd_write(UhciState *s, uint16_t v)
{
    uint16_t old = s->cmd;
    if (v & CMD_HCRESET) {
        /* Host controller reset (UHCI 2.1.1): registers to their defaults; the bit
         * clears itself when the reset is done, which is at once here. */
        bus_reset_all(s);
        uhci_reset_regs(s);
        update_irq(s);
        return;
    }
    s->cmd = v & 0xff;
    if ((v & CMD_GRESET) && !(old & CMD_GRESET))
        bus_reset_all(s);
    if ((v & CMD_RS) && !(old & CMD_RS)) {
        s->sts &= ~STS_HALTED;
        vtimer_mod(s->frame_timer, vm_clock_ns(s->dev.vm) + FRAME_NS);
    } else if (!(v & CMD_RS) && (old & CMD_RS)) {
        uhci_halt(s);
    }
    /* Force global resume ends with software clearing it; a resume seen while in
     * global suspend is reported (UHCI 2.1.1, FGR). */
    if ((v & CMD_FGR) && !(old & CMD_FGR) && (old & CMD_EGSM))
        s->sts |= STS_RD;
    update_irq(s);
}

static uint32_t uhci_io_read(void *opaque, uint32_t off, unsigned size)
{
    UhciState *s = opaque;
    uint32_t v;
    switch (off & ~1u) {
    case REG_USBCMD: v = s->cmd; break;
    case REG_USBSTS: v = s->sts; break;
    case REG_USBINTR: v = s->intr; break;
    case REG_FRNUM: v = s->frnum; break;
    case REG_FRBASEADD: v = s->flbase & 0xffff; break;
    case REG_FRBASEADD + 2: v = s->flbase >> 16; break;
    case REG_SOFMOD: v = s->sofmod; break;
    case REG_PORTSC1: v = s->portsc[0]; break;
    case REG_PORTSC1 + 2: v = s->portsc[1]; break;
    default:
        /* Beyond the two ports: bit 7 reads 0, which tells drivers there is no port. */
        v = 0xff7f;
        break;
    }
    if (size == 1)
        return (off & 1) ? (v >> 8) & 0xff : v & 0xff;
    return v & 0xffff;
}

static void uhci_io_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    UhciState *s = opaque;
    /* Byte writes merge into the 16-bit register (SOFMOD is the one byte register). */
    if (size == 1 && off != REG_SOFMOD) {
        uint16_t cur = (uint16_t)uhci_io_read(s, off & ~1u, 2);
        /* Write-one-to-clear bits of the other byte must not be written back. */
        if ((off & ~1u) == REG_USBSTS || (off & ~1u) >= REG_PORTSC1)
            cur &= ~(STS_USBINT | STS_ERROR | STS_RD | STS_HSE | STS_HCPE | PORT_CSC | PORT_PEC);
        value = (off & 1) ? (cur & 0xff) | (value & 0xff) << 8 : (cur & 0xff00) | (value & 0xff);
        off &= ~1u;
    }
    switch (off) {
    case REG_USBCMD:
        cmd_write(s, (uint16_t)value);
        break;
    case REG_USBSTS:
        s->sts &= ~(value & (STS_USBINT | STS_ERROR | STS_RD | STS_HSE | STS_HCPE));
        if (value & STS_USBINT)
            s->causes = 0;
        update_irq(s);
        break;
    case REG_USBINTR:
        s->intr = value & 0xf;
        update_irq(s);
        break;
    case REG_FRNUM:
        s->frnum = value & 0x7ff;
        break;
    case REG_FRBASEADD:
        s->flbase = (s->flbase & 0xffff0000u) | (value & 0xf000);
        break;
    case REG_FRBASEADD + 2:
        s->flbase = (s->flbase & 0xffff) | (value & 0xffff) << 16;
        break;
    case REG_SOFMOD:
        s->sofmod = value & 0x7f;
        break;
    case REG_PORTSC1:
    case REG_PORTSC1 + 2:
        port_write(s, (off - REG_PORTSC1) / 2, (uint16_t)value);
        break;
    default:
        break;
    }
}

/* Registers are 16 bits wide; a 32-bit access (FRBASEADD) arrives as two halves. */
static const PortOps uhci_io_ops = {
    .read = uhci_io_read, .write = uhci_io_write, .min_size = 1, .max_size = 2,
};

/* ---- the device object ---- */

static void uhci_reset(Device *dev)
{
    UhciState *s = (UhciState *)dev;
    pci_device_reset(&s->pci);
    /* LEGSUP: PIRQ enable set, as after the BIOS hands the controller over (82371SB 2.3.9). */
    pci_set_word(s->pci.config, CFG_LEGSUP, 0x2000);
    uhci_reset_regs(s);
    update_irq(s);
}

static bool uhci_realize(Device *dev, GError **err)
{
    UhciState *s = (UhciState *)dev;
    PciBus *bus = pci_root_bus(dev->vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, s->addr, &devfn, err))
        return false;
    PciDevice *d = &s->pci;
    pci_device_init(d, bus, devfn, "piix3-usb-uhci", 0x8086, 0x7020, 0x0c0300, 0x01);
    d->opaque = s;
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(d, 4);
    d->config[CFG_SBRN] = 0x10; /* USB 1.0 */
    /* LEGSUP: the SMI enables and PIRQ enable are read/write, the status bits write
     * one to clear (no legacy keyboard emulation sets them here). */
    pci_set_word(d->wmask, CFG_LEGSUP, 0x20bf);
    pci_set_word(d->w1cmask, CFG_LEGSUP, 0x8f00);
    pci_register_bar_io(d, 4, UHCI_IO_SIZE, &uhci_io_ops, s);
    s->frame_timer = vtimer_new(dev->vm, frame_tick, s);
    g_autofree char *name = usb_bus_next_name(dev->vm);
    s->usb = usb_bus_new(dev->vm, name, UHCI_PORTS, &uhci_port_ops, s);
    return true;
}

static void uhci_unrealize(Device *dev)
{
    UhciState *s = (UhciState *)dev;
    vtimer_free(s->frame_timer);
    usb_bus_free(s->usb);
}

static bool uhci_check(const void *state, GError **err)
{
    const UhciState *s = state;
    if (s->cmd & ~0xffu || s->sts & ~0x3fu || s->intr & ~0xfu || s->frnum & ~0x7ffu ||
        s->flbase & 0xfffu || s->sofmod & 0x80 || s->causes & ~3u) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "UHCI registers with reserved bits: cmd 0x%x sts 0x%x intr 0x%x frnum 0x%x base 0x%x",
                    s->cmd, s->sts, s->intr, s->frnum, s->flbase);
        return false;
    }
    if (!(s->cmd & CMD_RS) != !!(s->sts & STS_HALTED)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "UHCI: Run/Stop 0x%x disagrees with HCHalted 0x%x",
                    s->cmd, s->sts);
        return false;
    }
    for (int i = 0; i < UHCI_PORTS; i++) {
        bool attached = usb_bus_port_device(s->usb, i) != NULL;
        if ((s->portsc[i] & ~0x137fu) != PORT_ALWAYS1 || !!(s->portsc[i] & PORT_CCS) != attached) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "UHCI port %d: status 0x%04x does not match this VM (device %s)", i + 1,
                        s->portsc[i], attached ? "attached" : "absent");
            return false;
        }
    }
    return pci_device_state_check(&s->pci, err);
}

static void uhci_post_load(void *state)
{
    UhciState *s = state;
    pci_device_post_load(&s->pci);
    update_irq(s);
}

static const VmStateField uhci_fields[] = {
    VMSTATE_STRUCT(UhciState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U16(UhciState, cmd),
    VMSTATE_U16(UhciState, sts),
    VMSTATE_U16(UhciState, intr),
    VMSTATE_U16(UhciState, frnum),
    VMSTATE_U32(UhciState, flbase),
    VMSTATE_U8(UhciState, sofmod),
    VMSTATE_U16_ARRAY(UhciState, portsc, UHCI_PORTS),
    VMSTATE_U8(UhciState, causes),
    VMSTATE_TIMER(UhciState, frame_timer),
    VMSTATE_END,
};

static const VmStateDesc uhci_vmsd = {
    .name = "piix3-usb-uhci",
    .version = 1,
    .fields = uhci_fields,
    .check = uhci_check,
    .post_load = uhci_post_load,
};

static const DeviceProp uhci_props[] = {
    PCI_DEVICE_PROP_ADDR(UhciState, addr),
    { NULL },
};

static const DeviceClass uhci_class = {
    .name = "piix3-usb-uhci",
    .description = "PIIX3 USB host controller (UHCI, two root ports)",
    .instance_size = sizeof(UhciState),
    .user_creatable = true,
    .props = uhci_props,
    .vmsd = &uhci_vmsd,
    .realize = uhci_realize,
    .reset = uhci_reset,
    .unrealize = uhci_unrealize,
};

__attribute__((constructor)) static void uhci_register(void)
{
    device_class_register(&uhci_class);
}
