/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PIIX3 IDE interface, PCI function 1 of the 82371SB (datasheet 290550, §2.4 and
 * §2.7): two channels at the legacy ports (the PIIX3 has no PCI native mode: its
 * programming interface reads 80h and is read-only), decoded while IDETIM bit 15 and
 * the I/O space enable are set, and the bus master IDE registers at BAR4 (SFF-8038i
 * "Bus Master Programming Interface for IDE ATA Controllers", rev 1.0). */
#include "hw/storage/ide-internal.h"
#include "hw/storage/drive.h"
#include "engine/device.h"

#include <stdio.h>
#include <string.h>

#define IDETIM_PRI 0x40
#define IDETIM_SEC 0x42
#define IDETIM_IDE 0x8000 /* IDE decode enable */
#define SIDETIM 0x44

/* Bus master registers, per channel at BAR4 + 8 * channel. */
#define BM_CMD 0
#define BM_STATUS 2
#define BM_PRD 4

#define BMCMD_START 0x01
#define BMCMD_WRITE 0x08 /* bus master writes memory: a device read */
#define BMST_ACTIVE 0x01
#define BMST_ERROR 0x02
#define BMST_IRQ 0x04
#define BMST_CAP 0x60 /* drive 0/1 DMA capable: storage for the BIOS */

/* A PRD table may not cross a 64 KiB boundary (SFF-8038i §1.2): at most 8192 entries. */
#define PRD_MAX_ENTRIES 8192

typedef struct PiixBm {
    PiixIdeState *s;
    int n;
    uint8_t cmd, status;
    uint32_t prd_table;
    /* Where the running transfer is in the PRD table. */
    uint32_t prd_next;      /* next descriptor to read */
    unsigned prd_used;      /* descriptors read */
    uint32_t cur_addr, cur_left;
    bool eot;               /* the last descriptor read had EOT */
} PiixBm;

struct PiixIdeState {
    Device dev;
    Vm *vm;
    PciBus *bus;            /* wiring set by piix_ide_new before realize */
    int devfn;
    const IrqLine *isa_irq;
    PciDevice *pci;
    IdeChannel ch[2];
    PiixBm bm[2];
    IrqLine ch_irq[2];
    uint8_t pci_config[256]; /* the PCI function's config space, copied at save */
};

/* The channel's INTRQ sets the interrupt bit (SFF-8038i §1.1, status bit 2) on its way
 * to the ISA IRQ. */
static void piix_ide_irq(void *opaque, int n, int level)
{
    PiixIdeState *s = opaque;
    if (level)
        s->bm[n].status |= BMST_IRQ;
    irq_set(&s->isa_irq[n ? 15 : 14], level);
}

static bool bm_ready(void *opaque)
{
    PiixBm *bm = opaque;
    return bm->status & BMST_ACTIVE;
}

static void bm_fail(PiixBm *bm, const char *why)
{
    VLOG(LOG_GUEST, "PIIX IDE: bus master %d: %s", bm->n, why);
    bm->status |= BMST_ERROR;
    bm->status &= ~BMST_ACTIVE;
}

/* Loads the next descriptor when the current one is used up. */
static bool bm_next_prd(PiixBm *bm)
{
    GuestMemory *m = vm_mem(bm->s->vm);
    if (!pci_bus_master_enabled(bm->s->pci)) {
        bm_fail(bm, "bus mastering is disabled in the PCI command register");
        return false;
    }
    if (bm->cur_left)
        return true;
    if (bm->eot) {
        bm_fail(bm, "PRD table ends before the transfer");
        return false;
    }
    if (bm->prd_used >= PRD_MAX_ENTRIES) {
        bm_fail(bm, "PRD table without end of table");
        return false;
    }
    uint32_t prd[2];
    if (!mem_is_ram(m, bm->prd_next, 8) || !mem_read(m, bm->prd_next, prd, 8)) {
        bm_fail(bm, "PRD table outside RAM");
        return false;
    }
    uint32_t addr = GUINT32_FROM_LE(prd[0]), ctl = GUINT32_FROM_LE(prd[1]);
    /* Bit 0 of address and count are zero; a count of 0 means 64 KiB. */
    bm->cur_addr = addr & ~1u;
    bm->cur_left = (ctl & 0xfffe) ? (ctl & 0xfffe) : 0x10000;
    bm->eot = ctl & 0x80000000u;
    bm->prd_next += 8;
    bm->prd_used++;
    return true;
}

/* Moves len bytes between buf and the buffers the PRD table describes, checking every
 * descriptor and buffer against guest RAM. */
static bool bm_transfer(void *opaque, uint8_t *buf, uint32_t len, bool to_memory)
{
    PiixBm *bm = opaque;
    GuestMemory *m = vm_mem(bm->s->vm);
    while (len) {
        if (!bm_next_prd(bm))
            return false;
        uint32_t n = MIN(len, bm->cur_left);
        if (!mem_is_ram(m, bm->cur_addr, n)) {
            bm_fail(bm, "PRD buffer outside RAM");
            return false;
        }
        if (to_memory)
            mem_write(m, bm->cur_addr, buf, n);
        else
            mem_read(m, bm->cur_addr, buf, n);
        buf += n;
        len -= n;
        bm->cur_addr += n;
        bm->cur_left -= n;
    }
    return true;
}

/* Direct access needs host-contiguous main RAM pages without decoded code or dirty
 * logging (mem_write and mem_read tell the CPU and the display of those). */
static uint32_t bm_map(void *opaque, uint32_t len, bool to_memory, uint8_t **host, hwaddr *gpa)
{
    PiixBm *bm = opaque;
    GuestMemory *m = vm_mem(bm->s->vm);
    *host = NULL;
    if (!bm_next_prd(bm))
        return 0;
    uint32_t n = MIN(len, bm->cur_left);
    if (!mem_is_ram(m, bm->cur_addr, n)) {
        bm_fail(bm, "PRD buffer outside RAM");
        return 0;
    }
    hwaddr a = bm->cur_addr;
    *gpa = a;
    /* The legacy window (VGA memory, ROMs, PAM shadows) always goes the slow way: its
     * host memory belongs to other devices and may change under a request in flight. */
    bool legacy = a < 0x100000 && a + n > 0xa0000;
    uint8_t *first = legacy ? NULL : to_memory ? mem_write_page(m, a) : mem_read_page(m, a);
    if (first && !mem_page_flags(m, a)) {
        uint32_t ok = MEM_PAGE_SIZE - (uint32_t)(a & ~MEM_PAGE_MASK);
        while (ok < n) {
            hwaddr pa = a + ok;
            uint8_t *p = to_memory ? mem_write_page(m, pa) : mem_read_page(m, pa);
            if (p != first + ((pa & MEM_PAGE_MASK) - (a & MEM_PAGE_MASK)) ||
                mem_page_flags(m, pa) || (pa >= 0xa0000 && pa < 0x100000))
                break;
            ok += MEM_PAGE_SIZE;
        }
        n = MIN(n, ok);
        *host = first + (a & ~MEM_PAGE_MASK);
    } else {
        /* Up to the end of this page: the next may be direct again. */
        n = MIN(n, MEM_PAGE_SIZE - (uint32_t)(a & ~MEM_PAGE_MASK));
    }
    bm->cur_addr += n;
    bm->cur_left -= n;
    return n;
}

/* SFF-8038i table 1-2: a transfer that used the table up to EOT clears Active; one
 * that ended earlier leaves it set (the PRD table was larger than the transfer). */
static void bm_done(void *opaque, bool ok)
{
    PiixBm *bm = opaque;
    if (ok && bm->eot && !bm->cur_left)
        bm->status &= ~BMST_ACTIVE;
    else if (!ok)
        bm->status &= ~BMST_ACTIVE;
}

static const IdeDmaOps piix_dma_ops = {
    .ready = bm_ready,
    .transfer = bm_transfer,
    .map = bm_map,
    .done = bm_done,
};

static void bm_write_cmd(PiixBm *bm, uint8_t v)
{
    uint8_t old = bm->cmd;
    bm->cmd = v & (BMCMD_START | BMCMD_WRITE);
    if (!(old & BMCMD_START) && (v & BMCMD_START)) {
        /* Start: the engine begins at the first descriptor. */
        bm->status |= BMST_ACTIVE;
        bm->prd_next = bm->prd_table;
        bm->prd_used = 0;
        bm->cur_left = 0;
        bm->eot = false;
        ide_channel_dma_start(&bm->s->ch[bm->n]);
    } else if ((old & BMCMD_START) && !(v & BMCMD_START)) {
        /* Stop: an unfinished transfer is abandoned. */
        bm->status &= ~BMST_ACTIVE;
    }
}

static uint8_t bm_read_byte(PiixBm *bm, unsigned off)
{
    switch (off) {
    case BM_CMD:
        return bm->cmd;
    case BM_STATUS:
        return bm->status;
    case BM_PRD: case BM_PRD + 1: case BM_PRD + 2: case BM_PRD + 3:
        return (uint8_t)(bm->prd_table >> (8 * (off - BM_PRD)));
    }
    return 0;
}

static void bm_write_byte(PiixBm *bm, unsigned off, uint8_t v)
{
    switch (off) {
    case BM_CMD:
        bm_write_cmd(bm, v);
        break;
    case BM_STATUS:
        /* Error and interrupt are cleared by writing ones; the capable bits are storage. */
        bm->status = (uint8_t)((bm->status & ~(v & (BMST_ERROR | BMST_IRQ)) & ~BMST_CAP) |
                               (v & BMST_CAP));
        break;
    case BM_PRD: case BM_PRD + 1: case BM_PRD + 2: case BM_PRD + 3: {
        unsigned shift = 8 * (off - BM_PRD);
        bm->prd_table = (bm->prd_table & ~(0xffu << shift)) | ((uint32_t)v << shift);
        bm->prd_table &= ~3u; /* dword aligned */
        break;
    }
    }
}

static uint32_t bm_read(void *opaque, uint32_t off, unsigned size)
{
    PiixIdeState *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        v |= (uint32_t)bm_read_byte(&s->bm[(o >> 3) & 1], o & 7) << (8 * i);
    }
    return v;
}

static void bm_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    PiixIdeState *s = opaque;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        bm_write_byte(&s->bm[(o >> 3) & 1], o & 7, (uint8_t)(value >> (8 * i)));
    }
}

static const PortOps bm_ops = { .read = bm_read, .write = bm_write, .min_size = 1, .max_size = 4 };

static void piix_ide_update_decode(PiixIdeState *s)
{
    bool io = pci_get_word(s->pci->config, PCI_COMMAND) & PCI_COMMAND_IO;
    ide_channel_set_decode(&s->ch[0], io && (pci_get_word(s->pci->config, IDETIM_PRI) & IDETIM_IDE));
    ide_channel_set_decode(&s->ch[1], io && (pci_get_word(s->pci->config, IDETIM_SEC) & IDETIM_IDE));
}

static void piix_ide_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    if ((addr < PCI_COMMAND + 2 && addr + size > PCI_COMMAND) ||
        (addr < IDETIM_SEC + 2 && addr + size > IDETIM_PRI))
        piix_ide_update_decode(d->opaque);
}

/* System reset: both channels and their drives, the bus masters, the timing registers. */
static void piix_ide_reset(Device *dev)
{
    PiixIdeState *s = (PiixIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_reset(&s->ch[i]);
    pci_set_word(s->pci->config, IDETIM_PRI, 0);
    pci_set_word(s->pci->config, IDETIM_SEC, 0);
    s->pci->config[SIDETIM] = 0;
    for (int i = 0; i < 2; i++) {
        s->bm[i].cmd = 0;
        s->bm[i].status = 0;
        s->bm[i].prd_table = 0;
    }
    piix_ide_update_decode(s);
}

static bool piix_ide_realize(Device *dev, GError **err)
{
    PiixIdeState *s = (PiixIdeState *)dev;
    s->vm = dev->vm;
    s->pci = pci_device_new(s->bus, s->devfn, "piix3-ide", 0x8086, 0x7010, 0x010180, 0x00);
    s->pci->opaque = s;
    s->pci->config_write = piix_ide_config_write;
    pci_device_set_subsystem(s->pci, 0x1af4, 0x1100);
    /* IDETIM and SIDETIM: timing the BIOS programs, and the decode enables. */
    for (unsigned a = IDETIM_PRI; a <= SIDETIM; a++)
        s->pci->wmask[a] = 0xff;
    pci_register_bar_io(s->pci, 4, 16, &bm_ops, s);
    static const uint16_t cmd_base[2] = { 0x1f0, 0x170 }, ctl_base[2] = { 0x3f6, 0x376 };
    for (int i = 0; i < 2; i++) {
        irq_init(&s->ch_irq[i], piix_ide_irq, s, i);
        ide_channel_init(&s->ch[i], s->vm, cmd_base[i], ctl_base[i], &s->ch_irq[i]);
        s->bm[i].s = s;
        s->bm[i].n = i;
        ide_channel_set_dma(&s->ch[i], &piix_dma_ops, &s->bm[i]);
    }
    return true;
}

/* Closes the images (which waits for their requests) and frees the sector buffers. */
static void piix_ide_unrealize(Device *dev)
{
    PiixIdeState *s = (PiixIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_fini(&s->ch[i]);
}

/* Disk DMA runs on the block layer's pool; a save waits for it (DeviceClass.drain). */
static void piix_ide_drain(Device *dev)
{
    PiixIdeState *s = (PiixIdeState *)dev;
    for (int i = 0; i < 2; i++)
        ide_channel_drain(&s->ch[i]);
}

static void piix_ide_pre_save(void *state)
{
    PiixIdeState *s = state;
    memcpy(s->pci_config, s->pci->config, sizeof(s->pci_config));
    for (int i = 0; i < 2; i++)
        ide_channel_pre_save(&s->ch[i]);
}

static bool piix_ide_check(const void *state, GError **err)
{
    const PiixIdeState *s = state;
    if (!pci_device_config_check(s->pci, s->pci_config, err))
        return false;
    for (int i = 0; i < 2; i++) {
        const PiixBm *bm = &s->bm[i];
        if (bm->cmd & ~(BMCMD_START | BMCMD_WRITE) || bm->status & ~(BMST_ACTIVE | BMST_ERROR | BMST_IRQ | BMST_CAP) ||
            bm->prd_table & 3) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "bus master %d: command 0x%02x, status 0x%02x or PRD table 0x%08x has reserved bits",
                        i, bm->cmd, bm->status, bm->prd_table);
            return false;
        }
        /* A descriptor covers at most 64 KiB; the table at most PRD_MAX_ENTRIES. */
        if (bm->cur_left > 0x10000 || bm->prd_used > PRD_MAX_ENTRIES) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "bus master %d: %u bytes left in a descriptor, %u descriptors used", i,
                        bm->cur_left, bm->prd_used);
            return false;
        }
        if (!ide_channel_check(&s->ch[i], err))
            return false;
    }
    return true;
}

/* The config space brings back the bus master BAR and the legacy decode; the ISA IRQ
 * lines are driven directly so that re-driving them does not set the bus master's
 * interrupt bit a second time (the saved status has it as the guest left it). */
static void piix_ide_post_load(void *state)
{
    PiixIdeState *s = state;
    pci_device_config_load(s->pci, s->pci_config);
    piix_ide_update_decode(s);
    for (int i = 0; i < 2; i++) {
        ide_channel_post_load(&s->ch[i]);
        if (s->isa_irq)
            irq_set(&s->isa_irq[i ? 15 : 14], ide_channel_irq_level(&s->ch[i]));
    }
}

static const VmStateField piix_bm_fields[] = {
    VMSTATE_U8(PiixBm, cmd),
    VMSTATE_U8(PiixBm, status),
    VMSTATE_U32(PiixBm, prd_table),
    VMSTATE_U32(PiixBm, prd_next),
    VMSTATE_U32(PiixBm, prd_used),
    VMSTATE_U32(PiixBm, cur_addr),
    VMSTATE_U32(PiixBm, cur_left),
    VMSTATE_BOOL(PiixBm, eot),
    VMSTATE_END,
};

static const VmStateDesc piix_bm_vmsd = {
    .name = "piix-bm",
    .version = 1,
    .fields = piix_bm_fields,
};

static const VmStateField piix_ide_fields[] = {
    VMSTATE_U8_ARRAY(PiixIdeState, pci_config, 256),
    VMSTATE_STRUCT_ARRAY(PiixIdeState, bm, 2, PiixBm, &piix_bm_vmsd),
    VMSTATE_STRUCT_ARRAY(PiixIdeState, ch, 2, IdeChannel, &ide_channel_vmsd),
    VMSTATE_END,
};

static const VmStateDesc piix_ide_vmsd = {
    .name = "piix3-ide",
    .version = 1,
    .fields = piix_ide_fields,
    .pre_save = piix_ide_pre_save,
    .check = piix_ide_check,
    .post_load = piix_ide_post_load,
};

/* Snapshots, CD changes and snapshot trees: the drives of both channels, by QEMU's
 * names (ide-drives.c). */
static void piix_ide_for_each_image(Device *dev, DeviceImageFn fn, void *opaque)
{
    ide_pair_for_each_image(((PiixIdeState *)dev)->ch, fn, opaque);
}

static DeviceMediaResult piix_ide_change_media(Device *dev, const char *drive, const char *filename,
                                               const char *format, bool read_only, GError **err)
{
    (void)read_only; /* a CD is read-only anyway */
    return ide_pair_change_media(((PiixIdeState *)dev)->ch, drive, filename, format, err);
}

static bool piix_ide_swap_image(Device *dev, const char *drive, BlockImage *img, BlockImage **old)
{
    return ide_pair_swap_image(((PiixIdeState *)dev)->ch, drive, img, old);
}

static const DeviceClass piix_ide_class = {
    .name = "piix3-ide",
    .description = "PIIX3 IDE controller (82371SB function 1) with bus-master DMA",
    .instance_size = sizeof(PiixIdeState),
    .vmsd = &piix_ide_vmsd,
    .realize = piix_ide_realize,
    .reset = piix_ide_reset,
    .unrealize = piix_ide_unrealize,
    .drain = piix_ide_drain,
    .for_each_image = piix_ide_for_each_image,
    .change_media = piix_ide_change_media,
    .swap_image = piix_ide_swap_image,
};

__attribute__((constructor)) static void piix_ide_register(void)
{
    device_class_register(&piix_ide_class);
}

PiixIdeState *piix_ide_new(Vm *vm, PciBus *bus, int devfn, const IrqLine *isa_irq,
                           const VmConfig *cfg, GError **err)
{
    PiixIdeState *s = (PiixIdeState *)device_new(vm, piix_ide_class.name, "ide", NULL);
    g_assert(s);
    s->bus = bus;
    s->devfn = devfn;
    s->isa_irq = isa_irq;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    if (!ide_pair_attach_drives(s->ch, cfg, err))
        return NULL;
    return s;
}

IdeChannel *piix_ide_channel(PiixIdeState *s, int n)
{
    return &s->ch[n & 1];
}
