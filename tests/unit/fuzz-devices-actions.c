/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the device fuzzer does to the board, as a hostile guest would: port I/O and
 * MMIO aimed at what devices decode, PCI configuration, descriptors in RAM, the
 * protocols of the IDE, ATAPI, floppy, 8237, VGA, PS/2 and virtio devices with hostile
 * parameters, time, input, media, resets and state round trips. Each action notes what
 * it does first, so a failure shows it. */
#include "fuzz-devices.h"
#include "engine/input.h"

#include <string.h>


static uint32_t size_mask(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

/* A guest physical address a hostile guest would hand a device: in RAM, at its end,
 * past it, in the ROM or MMIO holes, or anything. */
static uint32_t rnd_addr(Fuzz *f)
{
    switch (rnd(f, 8)) {
    case 0: case 1: return rnd(f, (uint32_t)RAM_SIZE);
    case 2: return (uint32_t)RAM_SIZE - 1 - rnd(f, 0x2000);
    case 3: return (uint32_t)RAM_SIZE + rnd(f, 0x10000);
    case 4: return 0xa0000 + rnd(f, 0x60000);
    case 5: return 0xffffffffu - rnd(f, 0x20000);
    case 6: return rnd(f, 0x10000) & ~7u;
    default: return rnd32(f);
    }
}

/* A value for a register: zero, all ones, small, one bit, an address, anything. */
static uint32_t rnd_value(Fuzz *f, unsigned size)
{
    uint32_t v;
    switch (rnd(f, 8)) {
    case 0: v = 0; break;
    case 1: v = 0xffffffffu; break;
    case 2: v = rnd(f, 16); break;
    case 3: v = 1u << rnd(f, 32); break;
    case 4: v = size == 4 ? rnd_addr(f) : rnd32(f); break;
    case 5: v = rnd(f, 256) * 0x01010101u; break;
    default: v = rnd32(f); break;
    }
    return v & size_mask(size);
}

static unsigned rnd_size(Fuzz *f) { return 1u << rnd(f, 3); }

/* Remembers a value written to a device that could be a RAM address (or a page number,
 * as some devices take their ring bases). */
static void remember(Fuzz *f, uint32_t v)
{
    if (v >= 0x1000 && v < RAM_SIZE)
        f->given[f->n_given++ % G_N_ELEMENTS(f->given)] = v;
    else if (v && v < (RAM_SIZE >> 12))
        f->given[f->n_given++ % G_N_ELEMENTS(f->given)] = v << 12;
}

/* ---- port and PCI helpers (lock held) ---- */

static uint32_t inp(Fuzz *f, uint16_t port, unsigned size) { return io_read(vm_io(f->vm), port, size); }
static void outp(Fuzz *f, uint16_t port, uint32_t v, unsigned size) { io_write(vm_io(f->vm), port, v, size); }

/* Configuration mechanism #1, as the guest uses it. */
static uint32_t cfg_read(Fuzz *f, int devfn, unsigned off, unsigned size)
{
    outp(f, 0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (off & 0xfc), 4);
    return inp(f, (uint16_t)(0xcfc + (off & 3)), size);
}

static void cfg_write(Fuzz *f, int devfn, unsigned off, uint32_t v, unsigned size)
{
    outp(f, 0xcf8, 0x80000000u | (uint32_t)devfn << 8 | (off & 0xfc), 4);
    outp(f, (uint16_t)(0xcfc + (off & 3)), v, size);
    f->maps_stale = true;
}

static void collect_mmio(void *opaque, MemRegion *r)
{
    Fuzz *f = opaque;
    if (!mem_region_enabled(r) || (mem_region_host(r) && mem_region_size(r) >= RAM_SIZE))
        return;
    MmioTarget t = { .base = mem_region_base(r), .size = mem_region_size(r) };
    g_strlcpy(t.name, mem_region_name(r), sizeof(t.name));
    g_array_append_val(f->mmio, t);
}

/* The ports and MMIO ranges decoded now (after BAR moves and resets). */
void fuzz_refresh_maps(Fuzz *f)
{
    if (!f->maps_stale)
        return;
    g_array_set_size(f->ports, 0);
    for (uint32_t p = 0; p < 0x10000; p++) {
        if (io_owner(vm_io(f->vm), (uint16_t)p)) {
            uint16_t p16 = (uint16_t)p;
            g_array_append_val(f->ports, p16);
        }
    }
    g_array_set_size(f->mmio, 0);
    mem_for_each_region(vm_mem(f->vm), collect_mmio, f);
    f->maps_stale = false;
}

/* What firmware does before an OS drives the devices: every BAR sized and placed,
 * decoding and bus mastering on, and the PIIX functions' own enables (SeaBIOS's
 * pci_bios_init_devices and piix_ide/piix4_pm set-up). Any PCI function found. */
void fuzz_pci_firmware_setup(Fuzz *f)
{
    uint32_t io_next = 0xc000, mem_next = 0xe0000000u;
    for (guint i = 0; i < f->devfns->len; i++) {
        int devfn = g_array_index(f->devfns, int, i);
        if (devfn == 0)
            continue; /* the host bridge has no BARs */
        for (unsigned bar = 0; bar < PCI_NUM_BARS; bar++) {
            unsigned off = PCI_BAR0 + 4 * bar;
            cfg_write(f, devfn, off, 0xffffffffu, 4);
            uint32_t v = cfg_read(f, devfn, off, 4);
            if (!v || v == 0xffffffffu)
                continue;
            if (v & 1) {
                uint32_t size = (~(v & ~3u) + 1) & 0xffff;
                if (!size)
                    continue;
                io_next = (io_next + size - 1) & ~(size - 1);
                cfg_write(f, devfn, off, io_next, 4);
                io_next += size;
            } else {
                uint32_t size = ~(v & ~0xfu) + 1;
                mem_next = (mem_next + size - 1) & ~(size - 1);
                cfg_write(f, devfn, off, mem_next, 4);
                mem_next += size;
                if (((v >> 1) & 3) == 2 && bar + 1 < PCI_NUM_BARS)
                    cfg_write(f, devfn, off + 4 * ++bar, 0, 4);
            }
        }
        cfg_write(f, devfn, PCI_ROM_ADDRESS, 0xfffff800u, 4);
        uint32_t rom = cfg_read(f, devfn, PCI_ROM_ADDRESS, 4) & ~0x7ffu;
        if (rom) {
            uint32_t size = ~rom + 1;
            mem_next = (mem_next + size - 1) & ~(size - 1);
            cfg_write(f, devfn, PCI_ROM_ADDRESS, mem_next | 1, 4);
            mem_next += size;
        }
        uint32_t ids = cfg_read(f, devfn, 0, 4);
        if (ids == 0x70108086u) {        /* PIIX3 IDE: decode both channels */
            cfg_write(f, devfn, 0x40, 0x8000, 2);
            cfg_write(f, devfn, 0x42, 0x8000, 2);
        } else if (ids == 0x71138086u) { /* PIIX4 PM: PM I/O at 0x600, SMBus at 0x700 */
            cfg_write(f, devfn, 0x40, 0x601, 4);
            cfg_write(f, devfn, 0x80, 1, 1);
            cfg_write(f, devfn, 0x90, 0x701, 4);
            cfg_write(f, devfn, 0xd2, 0x09, 1);
        } else if (ids == 0x70008086u) { /* PIIX3 ISA: PIRQA-D to IRQ 10, 10, 11, 11 */
            cfg_write(f, devfn, 0x60, 0x0b0b0a0a, 4);
        }
        cfg_write(f, devfn, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    }
    fuzz_note("pci: firmware set-up of %u functions", f->devfns->len);
}

/* The bus master IDE base (PIIX3 function 1.1, BAR4), or 0 while unmapped. */
static uint16_t bm_base(Fuzz *f)
{
    PciDevice *d = pci_bus_find(f->pci, PCI_DEVFN(1, 1));
    if (!d || d->bar[4].addr == PCI_BAR_UNMAPPED || !(d->config[PCI_COMMAND] & PCI_COMMAND_IO))
        return 0;
    return (uint16_t)d->bar[4].addr;
}

/* ---- actions (each takes the lock it needs) ---- */

static void act_port(Fuzz *f)
{
    fuzz_refresh_maps(f);
    uint16_t port = f->ports->len && chance(f, 92) ? g_array_index(f->ports, uint16_t, rnd(f, f->ports->len))
                                                   : (uint16_t)rnd(f, 0x10000);
    unsigned size = rnd_size(f);
    const char *owner = io_owner(vm_io(f->vm), port);
    if (chance(f, 50)) {
        fuzz_note("in%c 0x%04x (%s)", "bw?l"[size - 1], port, owner ? owner : "-");
        inp(f, port, size);
    } else {
        uint32_t v = rnd_value(f, size);
        fuzz_note("out%c 0x%04x <- 0x%x (%s)", "bw?l"[size - 1], port, v, owner ? owner : "-");
        outp(f, port, v, size);
        remember(f, v);
        /* Port writes can move BARs (0xCFC) and remap memory (PAM, SMRAM). */
        if (port >= 0xcf8 && port <= 0xcff)
            f->maps_stale = true;
    }
}

/* Several accesses in a row to one device's ports: reaching state a single access
 * never does (FIFOs, index/data pairs, command sequences). */
static void act_port_burst(Fuzz *f)
{
    fuzz_refresh_maps(f);
    if (!f->ports->len)
        return;
    uint16_t port = g_array_index(f->ports, uint16_t, rnd(f, f->ports->len));
    const char *owner = io_owner(vm_io(f->vm), port);
    uint16_t first = port;
    while (first > 0 && io_owner(vm_io(f->vm), (uint16_t)(first - 1)) == owner && port - first < 64)
        first--;
    unsigned n = 2 + rnd(f, 40);
    fuzz_note("burst of %u on %s from 0x%04x", n, owner, first);
    for (unsigned i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(first + rnd(f, 16));
        unsigned size = rnd_size(f);
        if (chance(f, 50)) {
            inp(f, p, size);
        } else {
            uint32_t v = rnd_value(f, size);
            outp(f, p, v, size);
            remember(f, v);
            if (p >= 0xcf8 && p <= 0xcff)
                f->maps_stale = true;
        }
    }
}

static void act_mmio(Fuzz *f)
{
    fuzz_refresh_maps(f);
    hwaddr addr;
    const char *name = "-";
    if (f->mmio->len && chance(f, 90)) {
        MmioTarget *t = &g_array_index(f->mmio, MmioTarget, rnd(f, f->mmio->len));
        uint64_t off = chance(f, 70) ? rnd(f, (uint32_t)MIN(t->size, 0x1000)) : rnd(f, (uint32_t)MIN(t->size, UINT32_MAX));
        if (chance(f, 10))
            off = t->size - 1 - rnd(f, 8);
        addr = t->base + off;
        name = t->name;
    } else {
        addr = rnd_addr(f);
    }
    unsigned size = 1u << rnd(f, 4);
    /* Registers sit at aligned offsets (the APICs' every 16 bytes). */
    if (chance(f, 40))
        addr &= ~(hwaddr)15;
    else if (chance(f, 60))
        addr &= ~(hwaddr)(size - 1);
    if (chance(f, 50)) {
        fuzz_note("read%u 0x%" G_GINT64_MODIFIER "x (%s)", size * 8, addr, name);
        mem_dispatch_read(vm_mem(f->vm), addr, size);
    } else {
        uint64_t v = rnd_value(f, 4) | (size == 8 ? (uint64_t)rnd_value(f, 4) << 32 : 0);
        if (size < 8)
            v &= size_mask(size);
        fuzz_note("write%u 0x%" G_GINT64_MODIFIER "x <- 0x%" G_GINT64_MODIFIER "x (%s)", size * 8, addr, v, name);
        mem_dispatch_write(vm_mem(f->vm), addr, v, size);
        remember(f, (uint32_t)v);
        /* The host bridge's PAM and SMRAM registers are config space, but a device
         * could remap on an MMIO write too. */
        f->maps_stale = true;
    }
}

/* Accesses in a row to one region's registers: index/data pairs (the I/O APIC's),
 * doorbells after ring set-up. */
static void act_mmio_burst(Fuzz *f)
{
    fuzz_refresh_maps(f);
    if (!f->mmio->len)
        return;
    MmioTarget *t = &g_array_index(f->mmio, MmioTarget, rnd(f, f->mmio->len));
    unsigned n = 2 + rnd(f, 30);
    uint32_t span = (uint32_t)MIN(t->size, chance(f, 70) ? 0x40 : 0x1000);
    fuzz_note("mmio burst of %u on %s at 0x%" G_GINT64_MODIFIER "x", n, t->name, t->base);
    for (unsigned i = 0; i < n; i++) {
        unsigned size = chance(f, 70) ? 4 : 1u << rnd(f, 4);
        hwaddr addr = t->base + (rnd(f, span) & ~(hwaddr)(chance(f, 50) ? 15 : size - 1));
        if (chance(f, 40)) {
            mem_dispatch_read(vm_mem(f->vm), addr, size);
        } else {
            uint32_t v = rnd_value(f, 4);
            mem_dispatch_write(vm_mem(f->vm), addr, size < 4 ? v & size_mask(size) : v, size);
            remember(f, v);
        }
    }
    f->maps_stale = true;
}

static void act_pci_config(Fuzz *f)
{
    int devfn = f->devfns->len && chance(f, 95) ? g_array_index(f->devfns, int, rnd(f, f->devfns->len))
                                                : (int)rnd(f, 256);
    unsigned size = rnd_size(f), off;
    switch (rnd(f, 6)) {
    case 0: off = PCI_COMMAND; break;
    case 1: case 2: off = PCI_BAR0 + 4 * rnd(f, 6); break;
    case 3: off = PCI_ROM_ADDRESS; break;
    default: off = rnd(f, 256); break;
    }
    off &= ~(size - 1);
    if (chance(f, 25)) {
        fuzz_note("config read%u %02x.%x +0x%02x", size * 8, PCI_SLOT(devfn), PCI_FUNC(devfn), off);
        cfg_read(f, devfn, off, size);
        return;
    }
    uint32_t v = rnd_value(f, size);
    /* BARs: an aligned place in the I/O space, in the MMIO hole or over RAM. */
    if (off >= PCI_BAR0 && off < PCI_BAR0 + 24 && size == 4 && chance(f, 60)) {
        switch (rnd(f, 4)) {
        case 0: v = (rnd(f, 0x10000) & ~0xfu) | 1; break;
        case 1: v = 0xe0000000u + (rnd(f, 0x1f000000) & ~0xfffu); break;
        case 2: v = rnd(f, (uint32_t)RAM_SIZE) & ~0xfffu; break;
        default: v = 0xfee00000u - (rnd(f, 0x10) << 12); break;
        }
    }
    fuzz_note("config write%u %02x.%x +0x%02x <- 0x%x", size * 8, PCI_SLOT(devfn), PCI_FUNC(devfn), off, v);
    cfg_write(f, devfn, off, v, size);
    if (off <= PCI_COMMAND + 1 && chance(f, 70))
        cfg_write(f, devfn, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

/* Guest RAM the devices read descriptors from. */
static void act_ram(Fuzz *f)
{
    GuestMemory *m = vm_mem(f->vm);
    switch (rnd(f, 4)) {
    case 0: { /* random bytes */
        uint32_t len = 1 + rnd(f, 4096), addr = rnd(f, (uint32_t)RAM_SIZE);
        fuzz_note("ram: %u random bytes at 0x%x", len, addr);
        for (uint32_t i = 0; i < len; i += 4) {
            uint32_t v = rnd32(f);
            mem_write(m, addr + i, &v, MIN(4u, len - i));
        }
        break;
    }
    case 1: { /* a page of things that look like descriptors: addresses and lengths */
        uint32_t addr = rnd(f, (uint32_t)RAM_SIZE) & ~0xfffu;
        if (f->n_given && chance(f, 70))
            addr = f->given[rnd(f, MIN(f->n_given, G_N_ELEMENTS(f->given)))] & ~0xfffu;
        fuzz_note("ram: descriptor-like page at 0x%x", addr);
        for (uint32_t i = 0; i < 4096; i += 4) {
            uint32_t v = chance(f, 50) ? rnd_addr(f) : rnd_value(f, 4);
            mem_write(m, addr + i, &v, 4);
        }
        break;
    }
    default: { /* an IDE PRD table where a bus master points, or anywhere */
        uint32_t table = rnd(f, (uint32_t)RAM_SIZE) & ~7u;
        uint16_t bm = bm_base(f);
        if (bm && chance(f, 70))
            table = inp(f, (uint16_t)(bm + 8 * rnd(f, 2) + 4), 4) & ~3u;
        if (chance(f, 10))
            table = (uint32_t)RAM_SIZE - 8 * rnd(f, 4);
        unsigned n = 1 + rnd(f, 12);
        fuzz_note("ram: PRD table of %u at 0x%x", n, table);
        for (unsigned i = 0; i < n; i++) {
            uint32_t prd[2];
            prd[0] = rnd_addr(f) & ~1u;
            if (chance(f, 10)) /* a buffer over the table itself: a read rewrites it */
                prd[0] = table + 8 * rnd(f, n + 1);
            uint32_t count;
            switch (rnd(f, 6)) {
            case 0: count = 0; break;           /* 64 KiB */
            case 1: count = 1 + rnd(f, 3); break;
            case 2: count = 512; break;
            case 3: count = 0xfffe; break;
            default: count = rnd(f, 0x10000) & ~1u; break;
            }
            bool eot = i + 1 == n ? chance(f, 75) : chance(f, 5);
            prd[1] = count | (eot ? 0x80000000u : 0) | (chance(f, 5) ? rnd32(f) & 0x7fff0000u : 0);
            mem_write(m, table + 8 * i, prd, 8);
        }
        break;
    }
    }
}

static const uint8_t ata_commands[] = {
    0x20, 0x24, 0x25, 0x29, 0x30, 0x34, 0x35, 0x39, 0x40, 0x42, 0xc4, 0xc5, 0xc6, 0xc8, 0xca,
    0xec, 0xa1, 0xa0, 0xef, 0x91, 0xe7, 0xea, 0x70, 0x08, 0x90, 0xe0, 0xe1, 0xe5, 0xf8, 0x27,
    0xda, 0xde, 0xdf, 0x06, 0x3d, 0xb0,
};

static const uint8_t atapi_commands[] = {
    0x00, 0x03, 0x12, 0x1a, 0x1b, 0x1e, 0x23, 0x25, 0x28, 0x2b, 0x42, 0x43, 0x44, 0x46, 0x4a,
    0x51, 0x5a, 0xa8, 0xad, 0xbb, 0xbd, 0xbe, 0xb9, 0x55, 0xa3, 0xac, 0x4e,
};

/* One ATA command on a channel, as a driver issues it, with hostile parameters; DMA
 * through a bus master set up (or not) with a PRD table anywhere. */
static void act_ide(Fuzz *f)
{
    int ch = (int)rnd(f, 2);
    uint16_t base = ch ? 0x170 : 0x1f0, ctl = ch ? 0x376 : 0x3f6;
    uint16_t bm = bm_base(f);
    unsigned drive = chance(f, 70) ? 0 : 1;
    uint8_t cmd = chance(f, 90) ? ata_commands[rnd(f, sizeof(ata_commands))] : (uint8_t)rnd(f, 256);
    /* The CD (secondary master) mostly gets packets. */
    if (ch == 1 && drive == 0 && chance(f, 60))
        cmd = 0xa0;
    fuzz_note("ide%d: drive %u command 0x%02x%s", ch, drive, cmd, bm ? "" : " (no bus master)");
    if (chance(f, 8))
        outp(f, ctl, chance(f, 50) ? 0x04 : 0x02, 1); /* SRST or nIEN */
    else if (chance(f, 30))
        outp(f, ctl, 0, 1);
    outp(f, (uint16_t)(base + 6), 0xa0 | (chance(f, 70) ? 0x40 : 0) | drive << 4 | rnd(f, 16), 1);
    for (int hob = 0; hob < 2; hob++) {
        uint32_t count;
        switch (rnd(f, 5)) {
        case 0: count = 0; break;
        case 1: count = 1; break;
        case 2: count = 1 + rnd(f, 16); break;
        default: count = rnd(f, 256); break;
        }
        outp(f, (uint16_t)(base + 1), rnd_value(f, 1), 1);
        outp(f, (uint16_t)(base + 2), count, 1);
        uint32_t lba = chance(f, 50) ? rnd(f, 64) : chance(f, 50) ? 0x3ff0 + rnd(f, 0x40) : rnd32(f);
        outp(f, (uint16_t)(base + 3), lba & 0xff, 1);
        outp(f, (uint16_t)(base + 4), (lba >> 8) & 0xff, 1);
        outp(f, (uint16_t)(base + 5), (lba >> 16) & 0xff, 1);
    }
    if (cmd == 0xa0 && chance(f, 60)) {
        /* Byte count limit of a PIO packet command (ATA-6 §8.23). */
        uint16_t limit = chance(f, 40) ? 0xfffe : chance(f, 30) ? (uint16_t)rnd(f, 4) : (uint16_t)rnd32(f);
        outp(f, (uint16_t)(base + 4), limit & 0xff, 1);
        outp(f, (uint16_t)(base + 5), limit >> 8, 1);
        outp(f, (uint16_t)(base + 1), chance(f, 30) ? 1 : 0, 1); /* DMA bit */
    }
    bool dma_start = bm && chance(f, 70);
    if (dma_start) {
        uint16_t b = (uint16_t)(bm + 8 * ch);
        outp(f, b, 0, 1);
        outp(f, (uint16_t)(b + 4), chance(f, 80) ? rnd(f, (uint32_t)RAM_SIZE) : rnd_addr(f), 4);
        outp(f, (uint16_t)(b + 2), 0x06, 1);
        outp(f, b, (chance(f, 50) ? 0x08 : 0) | (chance(f, 90) ? 1 : 0), 1);
    }
    outp(f, (uint16_t)(base + 7), cmd, 1);
    if (cmd == 0xa0) {
        uint8_t cdb[12];
        for (int i = 0; i < 12; i++)
            cdb[i] = chance(f, 50) ? 0 : (uint8_t)rnd(f, 256);
        cdb[0] = chance(f, 90) ? atapi_commands[rnd(f, sizeof(atapi_commands))] : (uint8_t)rnd(f, 256);
        if (chance(f, 30)) { /* a transfer length at its largest */
            cdb[7] = 0xff;
            cdb[8] = 0xff;
        }
        fuzz_note("ide%d: packet %02x %02x %02x %02x %02x %02x %02x %02x %02x %02x", ch, cdb[0], cdb[1], cdb[2],
             cdb[3], cdb[4], cdb[5], cdb[6], cdb[7], cdb[8], cdb[9]);
        for (int i = 0; i < 12; i += 2)
            outp(f, base, (uint32_t)(cdb[i] | cdb[i + 1] << 8), 2);
    }
    /* The data phase, as far as the guest cares to go. */
    unsigned n = chance(f, 30) ? 0 : rnd(f, chance(f, 20) ? 70000 : 600);
    bool in = chance(f, 60);
    unsigned size = chance(f, 80) ? 2 : 4;
    if (n)
        fuzz_note("ide%d: %u data %s of %u bytes", ch, n, in ? "reads" : "writes", size);
    for (unsigned i = 0; i < n; i++) {
        if (in)
            inp(f, base, size);
        else
            outp(f, base, rnd32(f) & size_mask(size), size);
        if ((i & 255) == 255 && chance(f, 10))
            inp(f, (uint16_t)(base + 7), 1);
    }
    inp(f, (uint16_t)(base + 7), 1);
    if (dma_start && chance(f, 40)) {
        uint16_t b = (uint16_t)(bm + 8 * ch);
        inp(f, (uint16_t)(b + 2), 1);
        outp(f, b, 0, 1);
    }
}

/* AT page register of each channel. */
static const uint8_t dma_page_port[8] = { 0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a };

/* One 8237 channel programmed with a hostile address and count. */
static void act_isa_dma(Fuzz *f)
{
    unsigned c = chance(f, 50) ? 2 : rnd(f, 8);
    bool hi = c >= 4;
    unsigned n = c & 3;
    uint16_t reg_base = hi ? 0xc0 : 0x00;
    unsigned step = hi ? 2 : 1;
#define DMA_REG(r) ((uint16_t)(reg_base + (r) * step))
    uint16_t addr;
    switch (rnd(f, 4)) {
    case 0: addr = 0; break;
    case 1: addr = (uint16_t)(0x10000 - 1 - rnd(f, 0x200)); break;
    default: addr = (uint16_t)rnd32(f); break;
    }
    uint16_t count;
    switch (rnd(f, 5)) {
    case 0: count = 0; break;
    case 1: count = 0xffff; break;
    case 2: count = (uint16_t)(511 + 512 * rnd(f, 4)); break;
    default: count = (uint16_t)rnd32(f); break;
    }
    uint8_t page = chance(f, 60) ? (uint8_t)rnd(f, (uint32_t)(RAM_SIZE >> 16)) : (uint8_t)rnd(f, 256);
    uint8_t mode = (uint8_t)(n | (chance(f, 85) ? rnd(f, 3) << 2 : 3 << 2) | (chance(f, 20) ? 0x10 : 0) |
                             (chance(f, 10) ? 0x20 : 0) | rnd(f, 4) << 6);
    fuzz_note("isa-dma: channel %u mode 0x%02x page 0x%02x address 0x%04x count 0x%04x", c, mode, page, addr, count);
    outp(f, DMA_REG(10), 4 | n, 1);           /* mask */
    outp(f, DMA_REG(12), 0, 1);               /* clear the flip-flop */
    outp(f, DMA_REG(11), mode, 1);
    outp(f, DMA_REG(2 * n), addr & 0xff, 1);
    outp(f, DMA_REG(2 * n), addr >> 8, 1);
    outp(f, DMA_REG(2 * n + 1), count & 0xff, 1);
    outp(f, DMA_REG(2 * n + 1), count >> 8, 1);
    outp(f, dma_page_port[c], page, 1);
    if (chance(f, 10))
        outp(f, DMA_REG(8), chance(f, 50) ? 0 : rnd(f, 256), 1);   /* command */
    if (chance(f, 10))
        outp(f, DMA_REG(9), 4 | n, 1);                              /* software request */
    if (chance(f, 85))
        outp(f, DMA_REG(10), n, 1);                                 /* unmask */
    if (hi == false && chance(f, 50))
        outp(f, 0xd4, 0, 1);                                        /* cascade channel 4 */
#undef DMA_REG
}

/* Floppy controller commands (82077AA) with their parameter counts. */
static const struct { uint8_t cmd; uint8_t params; } fdc_commands[] = {
    { 0x46, 8 }, { 0xe6, 8 }, { 0x45, 8 }, { 0xc5, 8 }, { 0x4c, 8 }, { 0x49, 8 }, { 0x42, 8 },
    { 0x4d, 5 }, { 0x0f, 2 }, { 0x8f, 2 }, { 0xcf, 2 }, { 0x07, 1 }, { 0x08, 0 }, { 0x03, 2 },
    { 0x04, 1 }, { 0x4a, 1 }, { 0x10, 0 }, { 0x13, 3 }, { 0x0e, 0 }, { 0x12, 1 }, { 0x94, 0 },
    { 0x14, 0 }, { 0x18, 0 }, { 0x56, 8 }, { 0x11, 8 }, { 0x19, 8 }, { 0x1d, 8 },
};

static void act_fdc(Fuzz *f)
{
    unsigned drive = rnd(f, 2);
    if (chance(f, 80))
        outp(f, 0x3f2, 0x0c | drive | 0x10 << drive, 1); /* motor on, DMA on, out of reset */
    else
        outp(f, 0x3f2, rnd(f, 256), 1);
    if (chance(f, 10))
        outp(f, 0x3f7, rnd(f, 4), 1);
    unsigned k = rnd(f, G_N_ELEMENTS(fdc_commands));
    uint8_t cmd = chance(f, 92) ? fdc_commands[k].cmd : (uint8_t)rnd(f, 256);
    unsigned params = chance(f, 90) ? fdc_commands[k].params : rnd(f, 10);
    uint8_t p[10] = { 0 };
    p[0] = (uint8_t)(drive | (chance(f, 30) ? 4 : 0));
    p[1] = (uint8_t)(chance(f, 80) ? rnd(f, 84) : rnd(f, 256));     /* C */
    p[2] = (uint8_t)rnd(f, chance(f, 90) ? 2 : 256);                 /* H */
    p[3] = (uint8_t)(chance(f, 80) ? 1 + rnd(f, 20) : rnd(f, 256));  /* R */
    p[4] = (uint8_t)(chance(f, 80) ? 2 : rnd(f, 256));               /* N */
    p[5] = (uint8_t)(chance(f, 70) ? 18 : rnd(f, 256));              /* EOT */
    p[6] = (uint8_t)rnd(f, 256);                                      /* GPL */
    p[7] = (uint8_t)(chance(f, 80) ? 0xff : rnd(f, 256));            /* DTL */
    p[8] = (uint8_t)rnd(f, 256);
    p[9] = (uint8_t)rnd(f, 256);
    /* Most data commands go where the head is: a seek to a near cylinder first, its
     * interrupt sensed, and the ID's cylinder and head matching (82077AA §5.2). */
    bool data_cmd = (cmd & 0x1f) == 0x06 || (cmd & 0x1f) == 0x05 || (cmd & 0x1f) == 0x0c ||
                    (cmd & 0x1f) == 0x09 || (cmd & 0x1f) == 0x02 || (cmd & 0x1f) == 0x16;
    if (data_cmd && chance(f, 70)) {
        unsigned head = rnd(f, 2);
        p[0] = (uint8_t)(drive | head << 2);
        p[1] = (uint8_t)rnd(f, 3);
        p[2] = (uint8_t)head;
        if (chance(f, 80))
            outp(f, 0x3f7, 0, 1); /* 500 kb/s, the 1.44 MB medium's rate */
        outp(f, 0x3f5, 0x0f, 1);
        outp(f, 0x3f5, p[0], 1);
        outp(f, 0x3f5, p[1], 1);
        outp(f, 0x3f5, 0x08, 1);
        inp(f, 0x3f5, 1);
        inp(f, 0x3f5, 1);
    }
    if (cmd == 0x4d) { /* format: N, sectors per track, gap, fill */
        p[1] = (uint8_t)(chance(f, 80) ? 2 : rnd(f, 256));
        p[2] = (uint8_t)(chance(f, 70) ? 18 : rnd(f, 256));
    }
    fuzz_note("fdc: drive %u command 0x%02x with %u parameters %02x %02x %02x %02x %02x %02x", drive, cmd, params,
         p[0], p[1], p[2], p[3], p[4], p[5]);
    outp(f, 0x3f5, cmd, 1);
    for (unsigned i = 0; i < params; i++)
        outp(f, 0x3f5, p[i], 1);
    /* Execution phase without DMA (non-DMA mode), or format IDs, then results. */
    unsigned n = rnd(f, chance(f, 20) ? 20000 : 16);
    bool in = chance(f, 70);
    for (unsigned i = 0; i < n; i++) {
        inp(f, 0x3f4, 1);
        if (in)
            inp(f, 0x3f5, 1);
        else
            outp(f, 0x3f5, rnd(f, 256), 1);
    }
}

/* BAR 0 of the Cirrus: framebuffer and system-to-screen aperture. */
#define CIRRUS_BAR0_BYTES (32u << 20)

/* Standard VGA register sets (IBM VGA modes 03h, 12h and 13h: miscellaneous output,
 * sequencer 0-4, CRTC 0-24, graphics controller 0-8, attribute controller 0-20), so the
 * renderers run in every memory organisation before random writes bend the mode. */
typedef struct VgaMode {
    const char *name;
    uint8_t misc, seq[5], crtc[25], gc[9], attr[21];
} VgaMode;

static const VgaMode vga_modes[] = {
    { "03h text", 0x67, { 0x03, 0x00, 0x03, 0x00, 0x02 },
      { 0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
        0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff },
      { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff },
      { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
        0x0c, 0x00, 0x0f, 0x08, 0x00 } },
    { "12h planar", 0xe3, { 0x03, 0x01, 0x0f, 0x00, 0x06 },
      { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff },
      { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff },
      { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
        0x01, 0x00, 0x0f, 0x00, 0x00 } },
    { "13h chain-4", 0x63, { 0x03, 0x01, 0x0f, 0x00, 0x0e },
      { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x9c, 0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff },
      { 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff },
      { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x41, 0x00, 0x0f, 0x00, 0x00 } },
};

static void vga_set_mode(Fuzz *f, const VgaMode *m)
{
    outp(f, 0x3c2, m->misc, 1);
    for (unsigned i = 0; i < 5; i++)
        outp(f, 0x3c4, (uint32_t)(i | m->seq[i] << 8), 2);
    outp(f, 0x3d4, 0x11 | 0x0e << 8, 2); /* unlock CRTC 0-7 */
    for (unsigned i = 0; i < 25; i++)
        outp(f, 0x3d4, (uint32_t)(i | m->crtc[i] << 8), 2);
    for (unsigned i = 0; i < 9; i++)
        outp(f, 0x3ce, (uint32_t)(i | m->gc[i] << 8), 2);
    inp(f, 0x3da, 1); /* the attribute flip-flop to index */
    for (unsigned i = 0; i < 21; i++) {
        outp(f, 0x3c0, i, 1);
        outp(f, 0x3c0, m->attr[i], 1);
    }
    outp(f, 0x3c0, 0x20, 1); /* palette address source: display on */
}

/* A standard VGA mode or a Bochs VBE mode with hostile sizes, then a few registers
 * bent at random: the renderers meet them at the next refresh. */
static void act_vga_mode(Fuzz *f)
{
    if (chance(f, 50)) {
        const VgaMode *m = &vga_modes[rnd(f, G_N_ELEMENTS(vga_modes))];
        fuzz_note("vga: mode %s", m->name);
        outp(f, 0x1ce, 4, 2);
        outp(f, 0x1cf, 0, 2); /* VBE off */
        vga_set_mode(f, m);
        for (unsigned n = rnd(f, 4); n; n--) {
            static const uint16_t idx_ports[] = { 0x3c4, 0x3d4, 0x3ce };
            uint16_t port = idx_ports[rnd(f, 3)];
            uint8_t idx = (uint8_t)rnd(f, 0x20), v = (uint8_t)rnd(f, 256);
            fuzz_note("vga: register 0x%x[0x%02x] <- 0x%02x", port, idx, v);
            outp(f, port, (uint32_t)(idx | v << 8), 2);
        }
        return;
    }
    static const uint16_t bpps[] = { 4, 8, 15, 16, 24, 32 };
    uint16_t regs[10] = { 0 };
    regs[1] = (uint16_t)(chance(f, 60) ? 8 * (1 + rnd(f, 256)) : rnd_value(f, 2)); /* xres */
    regs[2] = (uint16_t)(chance(f, 60) ? 1 + rnd(f, 1600) : rnd_value(f, 2));      /* yres */
    regs[3] = chance(f, 85) ? bpps[rnd(f, G_N_ELEMENTS(bpps))] : (uint16_t)rnd_value(f, 2);
    regs[5] = (uint16_t)(chance(f, 70) ? 0 : rnd_value(f, 2));                      /* bank */
    regs[6] = (uint16_t)(chance(f, 50) ? 0 : rnd_value(f, 2));                      /* virtual width */
    regs[7] = (uint16_t)(chance(f, 50) ? 0 : rnd_value(f, 2));                      /* virtual height */
    regs[8] = (uint16_t)(chance(f, 60) ? 0 : rnd_value(f, 2));                      /* x offset */
    regs[9] = (uint16_t)(chance(f, 60) ? 0 : rnd_value(f, 2));                      /* y offset */
    uint16_t enable = (uint16_t)(chance(f, 85) ? 0x41 | (chance(f, 30) ? 0x80 : 0) : rnd_value(f, 2));
    fuzz_note("vbe: %ux%ux%u virtual %ux%u offset %u,%u bank %u enable 0x%x", regs[1], regs[2], regs[3], regs[6],
         regs[7], regs[8], regs[9], regs[5], enable);
    outp(f, 0x1ce, 4, 2);
    outp(f, 0x1cf, 0, 2);
    static const unsigned order[] = { 1, 2, 3, 6, 7 };
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        outp(f, 0x1ce, order[i], 2);
        outp(f, 0x1cf, regs[order[i]], 2);
    }
    outp(f, 0x1ce, 4, 2);
    outp(f, 0x1cf, enable, 2);
    static const unsigned after[] = { 5, 8, 9 };
    for (size_t i = 0; i < G_N_ELEMENTS(after); i++) {
        outp(f, 0x1ce, after[i], 2);
        outp(f, 0x1cf, regs[after[i]], 2);
    }
}

/* The Cirrus's BitBLT engine, when the board's display adapter is a cirrus-vga (odd
 * seeds): maybe an extended mode (SR07), the blit registers with hostile values (any
 * size, pitch and address the 13- and 22-bit registers hold, every mode bit), a start
 * through GR31, auto-start or the registers at 0xB8000, source bytes for a
 * system-to-screen blit through the window or BAR 0's aperture, and maybe a reset. */
static void act_cirrus(Fuzz *f)
{
    const char *owner = io_owner(vm_io(f->vm), 0x3c4);
    if (!owner || strcmp(owner, "cirrus-vga"))
        return;
    outp(f, 0x3c4, 0x1206, 2);
    if (chance(f, 40)) {
        static const uint8_t sr07[] = { 0x11, 0x17, 0x15, 0x19, 0x00 };
        uint8_t v = chance(f, 80) ? sr07[rnd(f, G_N_ELEMENTS(sr07))] : (uint8_t)rnd(f, 256);
        fuzz_note("cirrus: SR07 <- 0x%02x", v);
        outp(f, 0x3c4, (uint32_t)(v << 8 | 0x07), 2);
    }
    static const uint8_t regs[] = { 0x00, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23,
                                    0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2c, 0x2d, 0x2e, 0x2f, 0x30,
                                    0x32, 0x33, 0x34, 0x35, 0x38, 0x39 };
    static const uint8_t rops[] = { 0x00, 0x05, 0x06, 0x09, 0x0b, 0x0d, 0x0e, 0x50, 0x59, 0x6d, 0x90, 0x95,
                                    0xad, 0xd0, 0xd6, 0xda };
    for (size_t i = 0; i < G_N_ELEMENTS(regs); i++) {
        if (!chance(f, 70))
            continue;
        uint8_t v = (uint8_t)rnd_value(f, 1);
        if (regs[i] == 0x32 && chance(f, 80))
            v = rops[rnd(f, G_N_ELEMENTS(rops))];
        fuzz_note("cirrus: GR%02x <- 0x%02x", regs[i], v);
        outp(f, 0x3ce, (uint32_t)(v << 8 | regs[i]), 2);
    }
    switch (rnd(f, 3)) {
    case 0:
        fuzz_note("cirrus: start");
        outp(f, 0x3ce, 0x0031, 2);
        outp(f, 0x3ce, 0x0231, 2);
        break;
    case 1:
        fuzz_note("cirrus: auto-start on GR2A");
        outp(f, 0x3ce, 0x8031, 2);
        outp(f, 0x3ce, (uint32_t)(rnd(f, 0x40) << 8 | 0x2a), 2);
        outp(f, 0x3ce, 0x0031, 2);
        break;
    default:
        fuzz_note("cirrus: start through 0xB8000");
        outp(f, 0x3c4, 0x0417 | 0x2000, 2);
        mem_dispatch_write(vm_mem(f->vm), 0xb8040, 0x00, 1);
        mem_dispatch_write(vm_mem(f->vm), 0xb8040, 0x02, 1);
        outp(f, 0x3c4, 0x2017, 2);
        break;
    }
    unsigned n = chance(f, 60) ? rnd(f, 9000) : 0;
    uint32_t gr31 = inp(f, 0x3cf, 1);
    fuzz_note("cirrus: GR31 0x%02x, %u source bytes", gr31, n);
    hwaddr aperture = 0;
    fuzz_refresh_maps(f);
    for (guint i = 0; i < f->mmio->len; i++) {
        MmioTarget *t = &g_array_index(f->mmio, MmioTarget, i);
        if (t->size == CIRRUS_BAR0_BYTES && !strcmp(t->name, "cirrus-vga"))
            aperture = t->base + 0x1000000;
    }
    for (unsigned i = 0; i < n; i++) {
        hwaddr a = aperture && chance(f, 50) ? aperture + (i & 0xfff) : 0xa0000 + (i & 0xffff);
        mem_dispatch_write(vm_mem(f->vm), a, rnd(f, 256), 1);
    }
    if (chance(f, 30)) {
        fuzz_note("cirrus: blit reset");
        outp(f, 0x3ce, 0x0431, 2);
        outp(f, 0x3ce, 0x0031, 2);
    }
}

/* The 8042 and the PS/2 devices behind it: a controller command, then device commands
 * with their parameter bytes, as a driver sends them. */
static void act_ps2(Fuzz *f)
{
    static const uint8_t ctl_cmds[] = { 0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad, 0xae, 0xc0,
                                        0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xdd, 0xdf, 0xfe, 0xf0 };
    static const uint8_t dev_cmds[] = { 0xff, 0xfe, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf0, 0xee, 0xed,
                                        0xeb, 0xea, 0xe9, 0xe8, 0xe7, 0xe6, 0xec, 0xf7, 0xfa, 0xfb };
    bool mouse = chance(f, 50);
    uint8_t ctl = chance(f, 30) ? ctl_cmds[rnd(f, sizeof(ctl_cmds))] : 0;
    unsigned n = 1 + rnd(f, 4);
    fuzz_note("ps2: %s, controller command 0x%02x, %u device bytes", mouse ? "mouse" : "keyboard", ctl, n);
    if (ctl) {
        outp(f, 0x64, ctl, 1);
        if (ctl == 0x60 || (ctl >= 0xd1 && ctl <= 0xd4))
            outp(f, 0x60, chance(f, 50) ? dev_cmds[rnd(f, sizeof(dev_cmds))] : rnd(f, 256), 1);
    }
    for (unsigned i = 0; i < n; i++) {
        if (mouse)
            outp(f, 0x64, 0xd4, 1);
        outp(f, 0x60, chance(f, 70) ? dev_cmds[rnd(f, sizeof(dev_cmds))] : rnd(f, 256), 1);
        for (unsigned r = rnd(f, 4); r; r--)
            inp(f, chance(f, 50) ? 0x60 : 0x64, 1);
    }
}

/* ---- actions without the lock held on entry ---- */

static void act_clock(Fuzz *f)
{
    int64_t ns;
    switch (rnd(f, 10)) {
    case 0: case 1: case 2: case 3: ns = 1 + rnd(f, 1000); break;
    case 4: case 5: case 6: ns = 1000 + rnd(f, 1000000); break;
    case 7: case 8: ns = 1000000 + rnd(f, 50000000); break;
    default: ns = 50000000 + rnd(f, 150000000); break;
    }
    fuzz_note("clock: +%" G_GINT64_FORMAT " ns", ns);
    vm_test_clock_step(f->vm, ns);
}

static void act_intr_ack(Fuzz *f)
{
    if (!vm_test_cpu_intr(f->vm))
        return;
    fuzz_note("cpu: interrupt acknowledge");
    vm_test_intr_ack(f->vm);
}

static void act_display(Fuzz *f)
{
    if (!f->display)
        return;
    fuzz_note("display: refresh");
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface;
    display_client_refresh(f->display, &dirty, &new_surface);
    pixman_region32_fini(&dirty);
    DisplayText text = { 0 };
    display_console_get_text(f->con, &text);
    display_text_clear(&text);
}

static void act_input(Fuzz *f)
{
    if (chance(f, 50)) {
        uint16_t code = (uint16_t)(chance(f, 80) ? rnd(f, 0x80) : rnd(f, 0x10000));
        bool down = chance(f, 50);
        fuzz_note("input: key 0x%x %s", code, down ? "down" : "up");
        vm_input_key(f->vm, code, down);
    } else {
        int dx = (int)rnd(f, 2001) - 1000, dy = (int)rnd(f, 2001) - 1000, dz = (int)rnd(f, 11) - 5;
        unsigned buttons = rnd(f, 32);
        fuzz_note("input: pointer %d,%d,%d buttons 0x%x", dx, dy, dz, buttons);
        vm_input_pointer(f->vm, dx, dy, dz, buttons);
    }
}

static void act_media(Fuzz *f)
{
    static const char *const drives[] = { "ide1-cd0", "floppy0", "floppy1" };
    const char *drive = drives[rnd(f, G_N_ELEMENTS(drives))];
    const char *file = chance(f, 40) ? NULL : drive[0] == 'i' ? f->cd_path : f->fd_path;
    fuzz_note("media: %s <- %s", drive, file ? strrchr(file, '/') + 1 : "(eject)");
    g_autoptr(GError) err = NULL;
    vm_change_media(f->vm, drive, file, "raw", true, &err);
}

static void act_power_button(Fuzz *f)
{
    fuzz_note("ACPI power button");
    vm_powerdown(f->vm);
}

static void act_reset(Fuzz *f)
{
    fuzz_note("system reset");
    vm_test_system_reset(f->vm);
    f->resets++;
    f->maps_stale = true;
    if (chance(f, 70)) {
        vm_lock(f->vm);
        fuzz_pci_firmware_setup(f);
        vm_unlock(f->vm);
    }
}

/* The devices' state saved mid-operation must load back into the same VM, and a
 * state just loaded must save as the same bytes. The second round trip is the one
 * compared: the first may settle an interrupt input two devices drive (the guest can
 * route a PCI interrupt onto an ISA device's line, and the last writer wins), as the
 * devices' post_load hooks re-drive their lines in list order. */
static void act_state(Fuzz *f)
{
    fuzz_note("state: save, load, save, load, save");
    vm_lock(f->vm);
    g_autoptr(GByteArray) first = g_byte_array_new();
    device_list_save(f->vm, first);
    g_autoptr(GError) err = NULL;
    if (!device_list_load(f->vm, first->data, first->len, &err)) {
        vm_unlock(f->vm);
        fuzz_fail("a state just saved does not load: %s", err->message);
    }
    g_autoptr(GByteArray) second = g_byte_array_new();
    device_list_save(f->vm, second);
    if (!f->strict_state && !device_list_load(f->vm, second->data, second->len, &err)) {
        vm_unlock(f->vm);
        fuzz_fail("a state saved after a load does not load: %s", err->message);
    }
    GByteArray *a = f->strict_state ? first : second;
    /* Device by device, so a failure names the one whose state did not survive. */
    GList *l = device_list_head(f->vm);
    for (; l; l = l->next) {
        Device *d = l->data;
        if (!d->klass->vmsd)
            continue;
        g_autoptr(GByteArray) after = g_byte_array_new();
        device_save_state(d, after);
        /* Its section in the stream that was loaded. */
        size_t pos = 16;
        bool found = false;
        while (pos + 4 <= a->len) {
            size_t total = 4 + (a->data[pos] | a->data[pos + 1] << 8 | a->data[pos + 2] << 16 |
                                (size_t)a->data[pos + 3] << 24);
            if (total == after->len && pos + total <= a->len && !memcmp(a->data + pos, after->data, after->len)) {
                found = true;
                break;
            }
            pos += total;
        }
        if (!found) {
            /* The device's own section in the loaded stream comes at the same place
             * in the list: name the first byte that changed. */
            size_t at = 16, k = 0;
            for (GList *m = device_list_head(f->vm); m != l; m = m->next)
                if (((Device *)m->data)->klass->vmsd)
                    k++;
            for (size_t j = 0; j < k && at + 4 <= a->len; j++)
                at += 4 + (a->data[at] | a->data[at + 1] << 8 | a->data[at + 2] << 16 | (size_t)a->data[at + 3] << 24);
            size_t i = 0;
            while (at + i < a->len && i < after->len && a->data[at + i] == after->data[i])
                i++;
            vm_unlock(f->vm);
            fuzz_fail("the state of %s (%s) saved after a load differs from the state loaded: byte %zu of its "
                 "section, 0x%02x loaded, 0x%02x saved", d->id, d->klass->name, i,
                 at + i < a->len ? a->data[at + i] : 0, i < after->len ? after->data[i] : 0);
        }
    }
    vm_unlock(f->vm);
    f->state_checks++;
    f->maps_stale = true;
}

/* ---- virtio (legacy virtio-pci: hw/virtio/virtio.h) ---- */

/* A virtio function (its devfn), or -1. */
static int virtio_pick(Fuzz *f)
{
    int found[8], n = 0;
    for (guint i = 0; i < f->devfns->len && n < 8; i++) {
        int devfn = g_array_index(f->devfns, int, i);
        if (cfg_read(f, devfn, PCI_VENDOR_ID, 2) == 0x1af4)
            found[n++] = devfn;
    }
    return n ? found[rnd(f, (uint32_t)n)] : -1;
}

/* A hostile virtio ring of num entries: chains mostly well linked, some looping or
 * nesting indirect tables, buffers in RAM or past it, indices that run ahead. */
static void virtio_fill_ring(Fuzz *f, uint64_t desc, uint64_t avail, uint32_t num)
{
    GuestMemory *m = vm_mem(f->vm);
    unsigned n = 1 + rnd(f, 8);
    for (unsigned i = 0; i < n; i++) {
        uint32_t d = rnd(f, num);
        uint8_t e[16];
        uint64_t addr = chance(f, 80) ? rnd(f, (uint32_t)RAM_SIZE - 0x10000) : rnd_addr(f);
        uint32_t len = chance(f, 70) ? 512 * (1 + rnd(f, 16)) : rnd_value(f, 4);
        if (chance(f, 20))
            len = 16 * (1 + rnd(f, 8)); /* an indirect table's length */
        uint16_t flags = (uint16_t)(chance(f, 90) ? rnd(f, 8) : rnd32(f));
        uint16_t next = (uint16_t)(chance(f, 80) ? rnd(f, num) : rnd32(f));
        memcpy(e, &addr, 8);
        memcpy(e + 8, &len, 4);
        memcpy(e + 12, &flags, 2);
        memcpy(e + 14, &next, 2);
        mem_write(m, desc + 16 * d, e, 16);
        if (chance(f, 30)) /* a request header a block device understands */
            mem_stl(m, addr, rnd(f, 16));
    }
    uint16_t idx = mem_lduw(m, avail + 2);
    unsigned k = chance(f, 90) ? 1 + rnd(f, 4) : rnd(f, 0x10000);
    for (unsigned i = 0; i < MIN(k, 4u); i++)
        mem_stw(m, avail + 4 + 2 * ((idx + i) % num), (uint16_t)(chance(f, 95) ? rnd(f, num) : rnd32(f)));
    mem_stw(m, avail + 2, (uint16_t)(idx + k));
    if (chance(f, 10))
        mem_stw(m, avail, (uint16_t)rnd(f, 2)); /* NO_INTERRUPT */
}

/* What a driver does (VIRTIO §3.1.1) through the legacy I/O BAR or the modern memory
 * BAR (common configuration at +0, notifications at +0x3000), with hostile rings. */
static void act_virtio(Fuzz *f)
{
    int devfn = virtio_pick(f);
    if (devfn < 0)
        return;
    uint32_t bar0 = cfg_read(f, devfn, PCI_BAR0, 4), bar1 = cfg_read(f, devfn, PCI_BAR0 + 4, 4) & ~0xfu;
    unsigned q = chance(f, 90) ? rnd(f, 2) : rnd(f, 6);
    GuestMemory *m = vm_mem(f->vm);
    if (bar1 && chance(f, 50)) {
        fuzz_note("virtio modern at 0x%x: queue %u", bar1, q);
        if (chance(f, 30)) {
            mem_dispatch_write(m, bar1 + 0x14, 0, 1);
            mem_dispatch_write(m, bar1 + 0x14, 3, 1);
            for (uint32_t sel = 0; sel < 2; sel++) {
                mem_dispatch_write(m, bar1 + 0x00, sel, 4);
                mem_dispatch_write(m, bar1 + 0x08, sel, 4);
                mem_dispatch_write(m, bar1 + 0x0c, (uint32_t)mem_dispatch_read(m, bar1 + 0x04, 4) & rnd32(f), 4);
            }
            mem_dispatch_write(m, bar1 + 0x14, 0xb, 1);
        }
        mem_dispatch_write(m, bar1 + 0x16, q, 2);
        if (chance(f, 20))
            mem_dispatch_write(m, bar1 + 0x18, 1u << rnd(f, 11), 2);
        uint32_t num = (uint32_t)mem_dispatch_read(m, bar1 + 0x18, 2);
        uint64_t desc = mem_dispatch_read(m, bar1 + 0x20, 4);
        if (!mem_dispatch_read(m, bar1 + 0x1c, 2) || chance(f, 20)) {
            desc = chance(f, 90) ? (rnd(f, (uint32_t)RAM_SIZE - 0x10000) & ~0xfu) : rnd_addr(f);
            mem_dispatch_write(m, bar1 + 0x20, (uint32_t)desc, 4);
            mem_dispatch_write(m, bar1 + 0x24, 0, 4);
            mem_dispatch_write(m, bar1 + 0x28, (uint32_t)(desc + 16 * num), 4);
            mem_dispatch_write(m, bar1 + 0x2c, 0, 4);
            mem_dispatch_write(m, bar1 + 0x30, (uint32_t)(chance(f, 90) ? desc + 0x4000 : rnd_addr(f)), 4);
            mem_dispatch_write(m, bar1 + 0x34, chance(f, 95) ? 0 : rnd32(f), 4);
            mem_dispatch_write(m, bar1 + 0x1c, 1, 2);
        }
        if (num && num <= 1024 && desc + 0x9000 < RAM_SIZE)
            virtio_fill_ring(f, desc, desc + 16 * num, num);
        if (chance(f, 80))
            mem_dispatch_write(m, bar1 + 0x14, 0xf, 1);
        mem_dispatch_write(m, bar1 + 0x3000 + 4 * (chance(f, 90) ? q : rnd(f, 8)), q, 2);
        if (chance(f, 50))
            mem_dispatch_read(m, bar1 + 0x1000, 1);
        return;
    }
    if (!(bar0 & 1))
        return;
    uint16_t io = (uint16_t)(bar0 & 0xfffc);
    fuzz_note("virtio legacy at 0x%x: queue %u", io, q);
    if (chance(f, 30)) {
        outp(f, io + 0x12, 0, 1);
        outp(f, io + 0x12, 3, 1);
        outp(f, io + 0x04, inp(f, io, 4) & rnd32(f), 4);
    }
    outp(f, io + 0x0e, q, 2);
    uint32_t num = inp(f, io + 0x0c, 2);
    uint32_t pfn = inp(f, io + 0x08, 4);
    if (!pfn || chance(f, 20)) {
        pfn = chance(f, 90) ? 1 + rnd(f, (uint32_t)(RAM_SIZE >> 12) - 8) : rnd_value(f, 4);
        outp(f, io + 0x08, pfn, 4);
    }
    uint64_t desc = (uint64_t)pfn << 12;
    if (num && num <= 1024 && desc + 0x9000 < RAM_SIZE)
        virtio_fill_ring(f, desc, desc + 16 * num, num);
    if (chance(f, 80))
        outp(f, io + 0x12, 7, 1);
    outp(f, io + 0x10, chance(f, 90) ? q : rnd_value(f, 2), 2);
    if (chance(f, 50))
        inp(f, io + 0x13, 1);
    if (chance(f, 20))
        inp(f, io + 0x14 + rnd(f, 64), rnd_size(f) > 4 ? 4 : rnd_size(f));
}

/* The HPET as a driver programs it: the counter enabled (legacy replacement or not), a
 * timer given a mode, a route and a comparator a little ahead of the counter (or behind
 * it, or a period of one tick), status bits cleared, the counter rewritten. Random MMIO
 * seldom gets a timer this far. */
static void act_hpet(Fuzz *f)
{
    const hwaddr base = 0xfed00000;
    GuestMemory *m = vm_mem(f->vm);
    fuzz_refresh_maps(f);
    bool have = false;
    for (guint i = 0; i < f->mmio->len && !have; i++)
        have = g_array_index(f->mmio, MmioTarget, i).base == base;
    if (!have)
        return;
    unsigned n = rnd(f, 3);
    hwaddr tb = base + 0x100 + 0x20 * n;
    uint32_t conf = (rnd32(f) & 0x3f4e) | (chance(f, 70) ? 4 : 0);
    uint64_t now = mem_dispatch_read(m, base + 0xf0, 8);
    uint32_t delta = chance(f, 10) ? -rnd(f, 100000) : chance(f, 50) ? rnd(f, 2000) : rnd32(f);
    uint32_t period = chance(f, 20) ? 1 : rnd(f, 1000000);
    fuzz_note("hpet: timer %u conf 0x%x cmp now%+d period %u", n, conf, (int32_t)delta, period);
    mem_dispatch_write(m, base + 0x10, chance(f, 80) ? 1 | rnd(f, 2) << 1 : rnd(f, 4), 4);
    mem_dispatch_write(m, tb, conf | (chance(f, 50) ? 0x40 : 0), 4);
    mem_dispatch_write(m, tb + 8, (uint32_t)now + delta, chance(f, 70) ? 4 : 8);
    if (chance(f, 60))
        mem_dispatch_write(m, tb + 8, period, 4);
    if (chance(f, 30))
        mem_dispatch_write(m, base + 0x20, rnd(f, 8), 4);
    if (chance(f, 10))
        mem_dispatch_write(m, base + 0xf0, rnd32(f), chance(f, 50) ? 4 : 8);
    if (chance(f, 20))
        mem_dispatch_read(m, base + 0x20, 4);
}

const FuzzAction fuzz_actions[] = {
    { act_port, FUZZ_LOCKED, 300 },
    { act_port_burst, FUZZ_LOCKED, 80 },
    { act_mmio, FUZZ_LOCKED, 120 },
    { act_mmio_burst, FUZZ_LOCKED, 40 },
    { act_vga_mode, FUZZ_LOCKED, 12 },
    { act_cirrus, FUZZ_LOCKED, 10 },
    { act_ps2, FUZZ_LOCKED, 25 },
    { act_pci_config, FUZZ_LOCKED, 60 },
    { fuzz_pci_firmware_setup, FUZZ_LOCKED, 6 },
    { act_ram, FUZZ_LOCKED, 60 },
    { act_ide, FUZZ_LOCKED, 80 },
    { act_isa_dma, FUZZ_LOCKED, 40 },
    { act_fdc, FUZZ_LOCKED, 50 },
    { act_virtio, FUZZ_LOCKED, 40 },
    { act_hpet, FUZZ_LOCKED, 15 },
    { act_clock, FUZZ_UNLOCKED, 90 },
    { act_intr_ack, FUZZ_UNLOCKED, 40 },
    { act_display, FUZZ_UNLOCKED, 25 },
    { act_input, FUZZ_UNLOCKED, 15 },
    { act_media, FUZZ_UNLOCKED, 2 },
    { act_state, FUZZ_UNLOCKED, 3 },
    { act_reset, FUZZ_UNLOCKED, 3 },
    { act_power_button, FUZZ_UNLOCKED, 1 },
};

const size_t fuzz_n_actions = G_N_ELEMENTS(fuzz_actions);
