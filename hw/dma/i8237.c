/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The two 8237A DMA controllers of the PC/AT after the Intel 8237A datasheet and the
 * IBM PC/AT Technical Reference (system board, "DMA Controller"). Controller 1 serves
 * channels 0-3 with byte transfers at ports 0x00-0x0F; controller 2 serves 4-7 with
 * word transfers at 0xC0-0xDF (A0 not decoded, so each register takes two ports);
 * its channel 4 is the cascade input of controller 1. Transfers run when a device asks
 * (i8237_transfer); the mode's single/block/demand choice only changes timing on real
 * hardware, which a synchronous model does not have. */
#include "hw/dma/i8237.h"

#include <inttypes.h>
#include <string.h>

/* Mode register (8237A "Mode Register"). */
#define MODE_DIR_SHIFT 2
#define MODE_AUTOINIT 0x10
#define MODE_DECREMENT 0x20

/* Command register bit 2: controller disable. */
#define CMD_DISABLE 0x04

typedef struct DmaChannel {
    uint16_t base_addr, base_count;
    uint16_t cur_addr, cur_count;
    uint8_t mode;
} DmaChannel;

typedef struct DmaController {
    DmaChannel ch[4];
    uint8_t command;
    uint8_t mask;    /* bits 0-3 */
    uint8_t status;  /* bits 0-3 terminal count reached, 4-7 software requests */
    uint8_t dreq;    /* bits 0-3: devices' DREQ lines */
    bool flipflop;   /* false: the next byte is the low one */
} DmaController;

struct IsaDma {
    Device dev;
    Vm *vm;
    DmaController c[2];
    uint8_t page_regs[16]; /* ports 0x80-0x8F as storage; 0x80 itself belongs to POST */
};

/* AT page register port of each channel (Technical Reference, "DMA Page Registers"). */
static const uint8_t page_port[8] = { 0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a };

static void dma_master_clear(DmaController *c)
{
    /* 8237A "Master Clear": command, status, flip-flop and temporary register clear,
     * all four mask bits set. */
    c->command = 0;
    c->status = 0;
    c->flipflop = false;
    c->mask = 0x0f;
}

static void dma_reset(Device *dev)
{
    IsaDma *d = (IsaDma *)dev;
    for (int i = 0; i < 2; i++) {
        dma_master_clear(&d->c[i]);
        memset(d->c[i].ch, 0, sizeof(d->c[i].ch));
    }
    memset(d->page_regs, 0, sizeof(d->page_regs));
}

static uint8_t dma_page(IsaDma *d, unsigned channel)
{
    return d->page_regs[page_port[channel] & 0x0f];
}

static uint8_t dma_reg_read(IsaDma *d, DmaController *c, unsigned reg)
{
    if (reg < 8) {
        DmaChannel *ch = &c->ch[reg >> 1];
        uint16_t v = reg & 1 ? ch->cur_count : ch->cur_addr;
        bool high = c->flipflop;
        c->flipflop = !c->flipflop;
        return high ? v >> 8 : v & 0xff;
    }
    switch (reg) {
    case 8: {
        /* Reading status clears the terminal-count bits (8237A "Status Register"). */
        uint8_t v = (uint8_t)(c->status | c->dreq << 4);
        c->status &= 0xf0;
        return v;
    }
    case 13:
        return 0; /* temporary register: only memory-to-memory transfers fill it */
    case 15:
        return 0xf0 | c->mask; /* PIIX3 datasheet, DMA "Read All Mask Bits" */
    default:
        return 0xff;
    }
    (void)d;
}

static void dma_reg_write(IsaDma *d, DmaController *c, unsigned reg, uint8_t v)
{
    if (reg < 8) {
        /* Writing base and current registers at once, low byte then high. */
        DmaChannel *ch = &c->ch[reg >> 1];
        uint16_t *base = reg & 1 ? &ch->base_count : &ch->base_addr;
        uint16_t *cur = reg & 1 ? &ch->cur_count : &ch->cur_addr;
        if (c->flipflop)
            *base = (uint16_t)((*base & 0x00ff) | v << 8);
        else
            *base = (uint16_t)((*base & 0xff00) | v);
        *cur = *base;
        c->flipflop = !c->flipflop;
        return;
    }
    switch (reg) {
    case 8:
        c->command = v;
        break;
    case 9: /* request register: software DREQ, reported in the status register */
        if (v & 4)
            c->status |= (uint8_t)(0x10 << (v & 3));
        else
            c->status &= (uint8_t)~(0x10 << (v & 3));
        break;
    case 10:
        if (v & 4)
            c->mask |= (uint8_t)(1u << (v & 3));
        else
            c->mask &= (uint8_t)~(1u << (v & 3));
        break;
    case 11:
        c->ch[v & 3].mode = v;
        break;
    case 12:
        c->flipflop = false;
        break;
    case 13:
        dma_master_clear(c);
        break;
    case 14:
        c->mask = 0;
        break;
    case 15:
        c->mask = v & 0x0f;
        break;
    }
    (void)d;
}

static uint32_t dma1_read(void *opaque, uint32_t offset, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    return dma_reg_read(d, &d->c[0], offset & 0x0f);
}

static void dma1_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    VLOG(LOG_IOPORT, "dma1 reg %u <- 0x%02x", offset, value & 0xff);
    dma_reg_write(d, &d->c[0], offset & 0x0f, (uint8_t)value);
}

static uint32_t dma2_read(void *opaque, uint32_t offset, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    return dma_reg_read(d, &d->c[1], (offset >> 1) & 0x0f);
}

static void dma2_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    dma_reg_write(d, &d->c[1], (offset >> 1) & 0x0f, (uint8_t)value);
}

static uint32_t page_read(void *opaque, uint32_t offset, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    return d->page_regs[(offset + 1) & 0x0f];
}

static void page_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    IsaDma *d = opaque;
    (void)size;
    d->page_regs[(offset + 1) & 0x0f] = (uint8_t)value;
}

static const PortOps dma1_ops = { .read = dma1_read, .write = dma1_write, .max_size = 1 };
static const PortOps dma2_ops = { .read = dma2_read, .write = dma2_write, .max_size = 1 };
static const PortOps page_ops = { .read = page_read, .write = page_write, .max_size = 1 };

static bool dma_realize(Device *dev, GError **err)
{
    IsaDma *d = (IsaDma *)dev;
    d->vm = dev->vm;
    io_add(vm_io(d->vm), "dma1", 0x00, 16, &dma1_ops, d);
    io_add(vm_io(d->vm), "dma2", 0xc0, 32, &dma2_ops, d);
    io_add(vm_io(d->vm), "dma-page", 0x81, 15, &page_ops, d);
    return true;
}

/* Every register is used masked to its width (channel numbers from the low two bits),
 * so no loaded value can index out of the arrays; the ranges only refuse bits the
 * controller keeps clear. The DREQ inputs are saved with the controller, which reports
 * them in its status register. */
static const VmStateField dma_channel_fields[] = {
    VMSTATE_U16(DmaChannel, base_addr),
    VMSTATE_U16(DmaChannel, base_count),
    VMSTATE_U16(DmaChannel, cur_addr),
    VMSTATE_U16(DmaChannel, cur_count),
    VMSTATE_U8(DmaChannel, mode),
    VMSTATE_END,
};

static const VmStateDesc dma_channel_vmsd = { .name = "8237-channel", .version = 1, .fields = dma_channel_fields };

static const VmStateField dma_controller_fields[] = {
    VMSTATE_STRUCT_ARRAY(DmaController, ch, 4, DmaChannel, &dma_channel_vmsd),
    VMSTATE_U8(DmaController, command),
    VMSTATE_U8_RANGE(DmaController, mask, 0, 0x0f),
    VMSTATE_U8(DmaController, status),
    VMSTATE_U8_RANGE(DmaController, dreq, 0, 0x0f),
    VMSTATE_BOOL(DmaController, flipflop),
    VMSTATE_END,
};

static const VmStateDesc dma_controller_vmsd = {
    .name = "8237", .version = 1, .fields = dma_controller_fields,
};

static const VmStateField dma_fields[] = {
    VMSTATE_STRUCT_ARRAY(IsaDma, c, 2, DmaController, &dma_controller_vmsd),
    VMSTATE_U8_ARRAY(IsaDma, page_regs, 16),
    VMSTATE_END,
};

static const VmStateDesc dma_vmsd = { .name = "i8237", .version = 1, .fields = dma_fields };

/* QEMU's class for one 8237 is "i8257"; this instance is both controllers of the AT and
 * their page registers. */
static const DeviceClass dma_class = {
    .name = "i8257",
    .description = "the AT's two cascaded 8237A DMA controllers and page registers",
    .instance_size = sizeof(IsaDma),
    .vmsd = &dma_vmsd,
    .realize = dma_realize,
    .reset = dma_reset,
};

__attribute__((constructor)) static void dma_register(void)
{
    device_class_register(&dma_class);
}

IsaDma *i8237_new(Vm *vm)
{
    IsaDma *d = (IsaDma *)device_new(vm, dma_class.name, "dma", NULL);
    g_assert(d);
    if (!device_realize(DEVICE(d), NULL))
        g_assert_not_reached();
    return d;
}

bool i8237_channel_ready(IsaDma *d, unsigned channel)
{
    if (channel > 7 || channel == 4)
        return false;
    DmaController *c = &d->c[channel >> 2];
    if (c->command & CMD_DISABLE || c->mask & (1u << (channel & 3)))
        return false;
    /* Controller 1 reaches the bus only through controller 2's channel 4. */
    if (channel < 4 && (d->c[1].command & CMD_DISABLE || d->c[1].mask & 1))
        return false;
    return true;
}

void i8237_set_dreq(IsaDma *d, unsigned channel, bool level)
{
    if (channel > 7)
        return;
    DmaController *c = &d->c[channel >> 2];
    if (level)
        c->dreq |= (uint8_t)(1u << (channel & 3));
    else
        c->dreq &= (uint8_t)~(1u << (channel & 3));
}

I8237Direction i8237_direction(IsaDma *d, unsigned channel)
{
    if (channel > 7)
        return I8237_VERIFY;
    unsigned dir = (d->c[channel >> 2].ch[channel & 3].mode >> MODE_DIR_SHIFT) & 3;
    return dir == 3 ? I8237_VERIFY : (I8237Direction)dir; /* 3 is "illegal" */
}

size_t i8237_transfer(IsaDma *d, unsigned channel, uint8_t *buf, size_t len, bool *tc)
{
    if (tc)
        *tc = false;
    if (!i8237_channel_ready(d, channel))
        return 0;
    DmaController *c = &d->c[channel >> 2];
    DmaChannel *ch = &c->ch[channel & 3];
    GuestMemory *m = vm_mem(d->vm);
    bool word = channel >= 4;
    size_t unit = word ? 2 : 1;
    bool dec = ch->mode & MODE_DECREMENT;
    I8237Direction dir = i8237_direction(d, channel);
    uint8_t page = dma_page(d, channel);
    size_t moved = 0;
    bool reached = false;

    while (moved + unit <= len && !reached) {
        /* AT: byte channels take A16-A23 from the page register and A0-A15 from the
         * address counter; word channels A17-A23 from the page and A1-A16 from the
         * counter, so a transfer wraps inside its 64 KiB or 128 KiB block. */
        hwaddr pa = word ? ((hwaddr)(page & 0xfe) << 16) | ((hwaddr)ch->cur_addr << 1)
                         : ((hwaddr)page << 16) | ch->cur_addr;
        size_t units = (len - moved) / unit;
        size_t left = (size_t)ch->cur_count + 1;
        size_t run = MIN(units, left);
        if (dec)
            run = 1;
        else
            run = MIN(run, (size_t)0x10000 - ch->cur_addr);
        size_t bytes = run * unit;
        if (dir == I8237_TO_MEMORY) {
            if (!mem_write(m, pa, buf + moved, bytes))
                VLOG(LOG_GUEST, "dma%u: write outside RAM at 0x%" PRIx64, channel, (uint64_t)pa);
        } else if (dir == I8237_FROM_MEMORY) {
            if (!mem_read(m, pa, buf + moved, bytes))
                VLOG(LOG_GUEST, "dma%u: read outside RAM at 0x%" PRIx64, channel, (uint64_t)pa);
        }
        ch->cur_addr = (uint16_t)(dec ? ch->cur_addr - run : ch->cur_addr + run);
        ch->cur_count = (uint16_t)(ch->cur_count - run);
        moved += bytes;
        if (run == left) {
            /* Terminal count: the counter rolled over from 0 to 0xFFFF. 8237A "EOP":
             * auto-initialize reloads the current registers, otherwise the channel
             * masks itself. */
            reached = true;
            c->status |= (uint8_t)(1u << (channel & 3));
            if (ch->mode & MODE_AUTOINIT) {
                ch->cur_addr = ch->base_addr;
                ch->cur_count = ch->base_count;
            } else {
                c->mask |= (uint8_t)(1u << (channel & 3));
            }
        }
    }
    if (tc)
        *tc = reached;
    return moved;
}
