/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI bus 0 and configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2).
 * Each write to a BAR or the command register remaps the device's regions. */
#include "hw/pci/pci.h"

#include <stdlib.h>

#include <string.h>

#define PCI_MAX_PIRQ 8

struct PciBus {
    Vm *vm;
    PciDevice *devices[256];
    uint32_t config_address; /* 0xCF8 */
    PciMapIrqFn map_irq;
    PciSetPirqFn set_pirq;
    void *router;
    int npirq;
    int pirq_count[PCI_MAX_PIRQ]; /* devices asserting each PIRQ (wired-OR) */
    PciMsiFn msi;
    void *msi_opaque;
};

static void bus_cleanup(void *opaque)
{
    PciBus *bus = opaque;
    for (int i = 0; i < 256; i++) {
        PciDevice *d = bus->devices[i];
        if (!d)
            continue;
        if (d->bar[PCI_ROM_SLOT].rom_data)
            mem_host_free(d->bar[PCI_ROM_SLOT].rom_data, d->bar[PCI_ROM_SLOT].size);
        if (!d->embedded)
            g_free(d);
    }
    g_free(bus);
}

PciBus *pci_bus_new(Vm *vm)
{
    PciBus *bus = g_new0(PciBus, 1);
    bus->vm = vm;
    vm_add_cleanup(vm, bus_cleanup, bus);
    return bus;
}

PciBus *pci_root_bus(Vm *vm, GError **err)
{
    PciBus *bus = vm_find_bus(vm, "pci.0");
    if (!bus)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "this machine has no PCI bus");
    return bus;
}

bool pci_bus_pick_devfn(PciBus *bus, const char *addr, int *devfn, GError **err)
{
    if (!addr || !*addr) {
        for (int slot = 3; slot < 32; slot++) {
            if (!bus->devices[PCI_DEVFN(slot, 0)]) {
                *devfn = PCI_DEVFN(slot, 0);
                return true;
            }
        }
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "no free slot on pci.0");
        return false;
    }
    char *end;
    unsigned long slot = strtoul(addr, &end, 16), fn = 0;
    bool ok = end != addr && slot < 32;
    if (ok && *end == '.') {
        const char *f = end + 1;
        fn = strtoul(f, &end, 16);
        ok = end != f && fn < 8;
    }
    if (!ok || *end) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "addr '%s': expected SLOT[.FUNCTION] in hex, slot below 0x20, function below 8", addr);
        return false;
    }
    int d = PCI_DEVFN((int)slot, (int)fn);
    if (bus->devices[d]) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "addr %02lx.%lx is taken by %s", slot, fn,
                    bus->devices[d]->name);
        return false;
    }
    *devfn = d;
    return true;
}

PciDevice *pci_bus_find(PciBus *bus, int devfn)
{
    return devfn >= 0 && devfn < 256 ? bus->devices[devfn] : NULL;
}

void pci_bus_set_irq_router(PciBus *bus, PciMapIrqFn map, PciSetPirqFn set, void *opaque, int npirq)
{
    g_assert(npirq <= PCI_MAX_PIRQ);
    bus->map_irq = map;
    bus->set_pirq = set;
    bus->router = opaque;
    bus->npirq = npirq;
}

void pci_bus_set_msi(PciBus *bus, PciMsiFn fn, void *opaque)
{
    bus->msi = fn;
    bus->msi_opaque = opaque;
}

bool pci_msi_supported(const PciDevice *d)
{
    return d->bus && d->bus->msi;
}

#define MSI_WINDOW 0xfee00000u

void pci_msi_send(PciDevice *d, uint64_t addr, uint32_t data)
{
    if (!pci_bus_master_enabled(d) || !pci_msi_supported(d))
        return;
    if ((addr & ~UINT64_C(0xfffff)) == MSI_WINDOW) {
        d->bus->msi(d->bus->msi_opaque, addr, data);
        return;
    }
    /* A message is an ordinary memory write; one aimed outside the APICs' window
     * writes RAM as the hardware would. */
    uint8_t b[4];
    pci_set_long(b, 0, data);
    if (!mem_write(vm_mem(d->vm), addr, b, sizeof(b)))
        VLOG(LOG_GUEST, "%s: MSI write of 0x%x to 0x%" G_GINT64_MODIFIER "x outside RAM", d->name, data, addr);
}

static void device_reset(void *opaque);

void pci_device_init(PciDevice *d, PciBus *bus, int devfn, const char *name, uint16_t vendor,
                     uint16_t device, uint32_t class_code, uint8_t revision)
{
    g_assert(devfn >= 0 && devfn < 256 && !bus->devices[devfn]);
    memset(d, 0, sizeof(*d));
    d->embedded = true;
    d->bus = bus;
    d->vm = bus->vm;
    d->devfn = (uint8_t)devfn;
    d->name = name;
    pci_set_word(d->config, PCI_VENDOR_ID, vendor);
    pci_set_word(d->config, PCI_DEVICE_ID, device);
    d->config[PCI_REVISION_ID] = revision;
    d->config[PCI_CLASS_PROG] = class_code & 0xff;
    pci_set_word(d->config, PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
    /* Writable by default: command (IO, memory, master, SERR, INTx disable), the
     * cache line size, latency timer and interrupt line. */
    pci_set_word(d->wmask, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                                            (1u << 6) | (1u << 8) | PCI_COMMAND_INTX_DISABLE);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    /* Status error bits are write-one-to-clear. */
    pci_set_word(d->w1cmask, PCI_STATUS, 0xf900);
    for (int b = 0; b <= PCI_NUM_BARS; b++)
        d->bar[b].addr = PCI_BAR_UNMAPPED;
    /* Fixed by the model: IDs, class, header type, subsystem, interrupt pin, and the
     * BARs (all zero until bar_init opens their address bits). */
    memset(d->cmask, 0xff, PCI_COMMAND);
    memset(d->cmask + PCI_REVISION_ID, 0xff, 4);
    d->cmask[PCI_COMMAND] = (uint8_t)~d->wmask[PCI_COMMAND];
    d->cmask[PCI_COMMAND + 1] = (uint8_t)~d->wmask[PCI_COMMAND + 1];
    /* Status: all but the write-one-to-clear errors and the interrupt bit, which
     * post_load derives from the INTx level. */
    pci_set_word(d->cmask, PCI_STATUS, (uint16_t)~(0xf900u | PCI_STATUS_INTERRUPT));
    d->cmask[PCI_HEADER_TYPE] = 0xff;
    memset(d->cmask + PCI_BAR0, 0xff, 4 * PCI_NUM_BARS);
    memset(d->cmask + PCI_SUBSYSTEM_VENDOR_ID, 0xff, 4);
    memset(d->cmask + PCI_ROM_ADDRESS, 0xff, 4);
    d->cmask[PCI_INTERRUPT_PIN] = 0xff;
    bus->devices[devfn] = d;
}

PciDevice *pci_device_new(PciBus *bus, int devfn, const char *name, uint16_t vendor,
                          uint16_t device, uint32_t class_code, uint8_t revision)
{
    PciDevice *d = g_new(PciDevice, 1);
    pci_device_init(d, bus, devfn, name, vendor, device, class_code, revision);
    d->embedded = false;
    /* The owner's state section carries this config space (pci_device_config_check and
     * _load), so the reset needs no section of its own. */
    vm_add_board_reset_handler(bus->vm, device_reset, d);
    return d;
}

void pci_device_set_multifunction(PciDevice *d)
{
    d->config[PCI_HEADER_TYPE] |= 0x80;
}

void pci_device_set_interrupt_pin(PciDevice *d, int pin)
{
    d->config[PCI_INTERRUPT_PIN] = (uint8_t)pin;
}

void pci_device_set_subsystem(PciDevice *d, uint16_t vendor, uint16_t id)
{
    pci_set_word(d->config, PCI_SUBSYSTEM_VENDOR_ID, vendor);
    pci_set_word(d->config, PCI_SUBSYSTEM_ID, id);
}

static uint32_t bar_offset(int bar)
{
    return bar == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BAR0 + 4 * (uint32_t)bar;
}

static void bar_init(PciDevice *d, int bar, uint64_t size, PciBarType type)
{
    g_assert(size && !(size & (size - 1)));
    d->bar[bar].size = size;
    d->bar[bar].type = type;
    uint32_t off = bar_offset(bar);
    uint32_t low_bits = type == PCI_BAR_IO ? 1 : type == PCI_BAR_MEM32_PREFETCH ? 8 : 0;
    uint32_t mask = ~(uint32_t)(size - 1);
    if (bar == PCI_ROM_SLOT)
        mask |= 1; /* the ROM enable bit */
    else
        mask &= type == PCI_BAR_IO ? ~3u : ~15u;
    pci_set_long(d->config, off, low_bits);
    pci_set_long(d->wmask, off, mask);
    pci_set_long(d->cmask, off, ~mask);
}

void pci_register_bar_io(PciDevice *d, int bar, uint32_t size, const PortOps *ops, void *opaque)
{
    g_assert(bar < PCI_NUM_BARS && size >= 4);
    bar_init(d, bar, size, PCI_BAR_IO);
    d->bar[bar].io = io_add(vm_io(d->vm), d->name, 0, size, ops, opaque);
    io_region_set_enabled(d->bar[bar].io, false);
}

void pci_register_bar_mmio(PciDevice *d, int bar, uint32_t size, const MemOps *ops, void *opaque)
{
    g_assert(bar < PCI_NUM_BARS && size >= 16);
    bar_init(d, bar, size, PCI_BAR_MEM32);
    d->bar[bar].mem = mem_add_mmio(vm_mem(d->vm), d->name, 0, size, ops, opaque, 1);
    mem_region_set_enabled(d->bar[bar].mem, false);
}

MemRegion *pci_register_bar_ram(PciDevice *d, int bar, uint32_t size, uint8_t *host, bool prefetch)
{
    g_assert(bar < PCI_NUM_BARS && size >= 16);
    bar_init(d, bar, size, prefetch ? PCI_BAR_MEM32_PREFETCH : PCI_BAR_MEM32);
    d->bar[bar].mem = mem_add_ram(vm_mem(d->vm), d->name, 0, size, host, false, 1);
    mem_region_set_enabled(d->bar[bar].mem, false);
    return d->bar[bar].mem;
}

void pci_register_rom(PciDevice *d, const void *data, size_t size)
{
    uint64_t rsize = 2048;
    while (rsize < size)
        rsize <<= 1;
    bar_init(d, PCI_ROM_SLOT, rsize, PCI_BAR_MEM32);
    uint8_t *copy = mem_host_alloc(rsize);
    memset(copy, 0xff, rsize);
    memcpy(copy, data, size);
    d->bar[PCI_ROM_SLOT].rom_data = copy;
    g_autofree char *name = g_strdup_printf("%s.rom", d->name);
    d->bar[PCI_ROM_SLOT].mem = mem_add_ram(vm_mem(d->vm), name, 0, rsize, copy, true, 1);
    /* The region keeps its own name copy; ours may go. */
    mem_region_set_enabled(d->bar[PCI_ROM_SLOT].mem, false);
}

bool pci_rom_load(const char *path, const char *what, const char *hint, char **data, gsize *len, GError **err)
{
    g_autofree char *rom = NULL;
    gsize n = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &rom, &n, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: %s (%s)", what, local->message, hint);
        g_error_free(local);
        return false;
    }
    if (n < 512 || n > (1u << 20) || (uint8_t)rom[0] != 0x55 || (uint8_t)rom[1] != 0xaa) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%s %s is not an option ROM (no 55 AA signature, or bigger than 1 MiB)", what, path);
        return false;
    }
    *data = g_steal_pointer(&rom);
    *len = n;
    return true;
}

bool pci_has_rom(const PciDevice *d)
{
    return d->bar[PCI_ROM_SLOT].rom_data != NULL;
}

/* Where a BAR decodes now (PCI spec 6.2.5.1), or PCI_BAR_UNMAPPED. */
static uint64_t bar_address(const PciDevice *d, int bar)
{
    uint16_t cmd = pci_get_word(d->config, PCI_COMMAND);
    uint64_t size = d->bar[bar].size;
    uint32_t raw = pci_get_long(d->config, bar_offset(bar));
    if (d->bar[bar].type == PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO))
            return PCI_BAR_UNMAPPED;
        uint64_t a = raw & ~(uint32_t)(size - 1) & ~3u;
        /* Address 0 and windows past the 64 KiB port space are not decoded. */
        if (a == 0 || a + size > 0x10000)
            return PCI_BAR_UNMAPPED;
        return a;
    }
    if (!(cmd & PCI_COMMAND_MEMORY))
        return PCI_BAR_UNMAPPED;
    if (bar == PCI_ROM_SLOT && !(raw & 1))
        return PCI_BAR_UNMAPPED;
    uint64_t a = raw & ~(uint32_t)(size - 1) & ~15u;
    /* A sizing probe leaves all ones: a window that would wrap past 4 GiB stays unmapped. */
    if (a == 0 || a + size - 1 >= UINT64_C(0xffffffff))
        return PCI_BAR_UNMAPPED;
    return a;
}

static void update_mappings(PciDevice *d)
{
    for (int b = 0; b <= PCI_NUM_BARS; b++) {
        if (!d->bar[b].size)
            continue;
        uint64_t a = bar_address(d, b);
        if (a == d->bar[b].addr)
            continue;
        VLOG(LOG_PCI, "%02x.%d %s BAR%d -> %s0x%" G_GINT64_MODIFIER "x", PCI_SLOT(d->devfn),
             PCI_FUNC(d->devfn), d->name, b, a == PCI_BAR_UNMAPPED ? "unmapped " : "", a);
        d->bar[b].addr = a;
        if (d->bar[b].io) {
            if (a != PCI_BAR_UNMAPPED)
                io_region_set_base(d->bar[b].io, (uint32_t)a);
            io_region_set_enabled(d->bar[b].io, a != PCI_BAR_UNMAPPED);
        } else if (d->bar[b].mem) {
            if (a != PCI_BAR_UNMAPPED) {
                /* Disable first so the move does not rebuild the old window twice. */
                mem_region_set_enabled(d->bar[b].mem, false);
                mem_region_set_base(d->bar[b].mem, a);
            }
            mem_region_set_enabled(d->bar[b].mem, a != PCI_BAR_UNMAPPED);
        }
    }
}

static void update_irq(PciDevice *d);

static void device_reset(void *opaque)
{
    pci_device_reset(opaque);
}

void pci_device_reset(PciDevice *d)
{
    /* Power-on: decoding off, BARs at zero, interrupt line cleared (PCI 3.0, 6.2.2). */
    pci_set_word(d->config, PCI_COMMAND, 0);
    pci_set_word(d->config, PCI_STATUS, pci_get_word(d->config, PCI_STATUS) & ~0xf908u);
    for (int b = 0; b <= PCI_NUM_BARS; b++) {
        if (!d->bar[b].size)
            continue;
        uint32_t off = bar_offset(b);
        uint32_t keep = pci_get_long(d->config, off) & ~pci_get_long(d->wmask, off);
        pci_set_long(d->config, off, keep & (b == PCI_ROM_SLOT ? ~1u : ~0u));
    }
    d->config[PCI_INTERRUPT_LINE] = 0;
    update_mappings(d);
    update_irq(d);
}

bool pci_device_config_check(const PciDevice *d, const uint8_t *config, GError **err)
{
    for (unsigned a = 0; a < 256; a++) {
        /* Bits neither the guest nor the hardware changes; the interrupt status bit
         * follows the device's INTx and is recomputed on load. */
        uint8_t fixed = (uint8_t)~(d->wmask[a] | d->w1cmask[a]);
        if (a == PCI_STATUS)
            fixed &= (uint8_t)~PCI_STATUS_INTERRUPT;
        if ((config[a] ^ d->config[a]) & fixed) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "PCI %s: configuration byte 0x%02x is 0x%02x, the device's read-only bits say 0x%02x",
                        d->name, a, config[a], d->config[a]);
            return false;
        }
    }
    return true;
}

void pci_device_config_load(PciDevice *d, const uint8_t *config)
{
    memcpy(d->config, config, sizeof(d->config));
    update_mappings(d);
    update_irq(d);
}

uint32_t pci_config_read(PciBus *bus, int devfn, uint32_t addr, unsigned size)
{
    PciDevice *d = pci_bus_find(bus, devfn);
    if (!d || addr + size > 256) {
        /* No device: the master aborts and reads all ones, which is how probing works. */
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    uint32_t v = 0;
    memcpy(&v, d->config + addr, size);
    v = GUINT32_FROM_LE(v);
    if (d->config_read)
        v = d->config_read(d, addr, v, size);
    return v;
}

void pci_config_write(PciBus *bus, int devfn, uint32_t addr, uint32_t value, unsigned size)
{
    PciDevice *d = pci_bus_find(bus, devfn);
    if (!d || addr + size > 256)
        return;
    bool mapping = false;
    for (unsigned i = 0; i < size; i++) {
        uint32_t a = addr + i;
        uint8_t v = (uint8_t)(value >> (8 * i));
        uint8_t wm = d->wmask[a], w1c = d->w1cmask[a];
        d->config[a] = (uint8_t)((d->config[a] & ~wm) | (v & wm));
        d->config[a] &= (uint8_t)~(v & w1c);
        if ((a >= PCI_BAR0 && a < PCI_BAR0 + 24) || (a >= PCI_ROM_ADDRESS && a < PCI_ROM_ADDRESS + 4) ||
            a == PCI_COMMAND)
            mapping = true;
    }
    if (mapping)
        update_mappings(d);
    if (addr <= PCI_COMMAND + 1 && addr + size > PCI_COMMAND + 1)
        update_irq(d); /* INTx disable may have changed */
    if (d->config_write)
        d->config_write(d, addr, value, size);
}

/* ---- mechanism #1 ---- */

static uint32_t host_addr_read(void *opaque, uint32_t off, unsigned size)
{
    PciBus *bus = opaque;
    return bus->config_address;
}

static void host_addr_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    PciBus *bus = opaque;
    /* Bits 30:24 are reserved (read as 0), bits 1:0 are always 0. */
    bus->config_address = value & PCI_CONFIG_ADDRESS_MASK;
}

static const PortOps host_addr_ops = {
    .read = host_addr_read,
    .write = host_addr_write,
    .min_size = 4,
    .max_size = 4,
};

static bool config_target(PciBus *bus, uint32_t off, int *devfn, uint32_t *reg)
{
    uint32_t a = bus->config_address;
    if (!(a & 0x80000000u))
        return false;
    if ((a >> 16) & 0xff)
        return false; /* only bus 0 exists */
    *devfn = (a >> 8) & 0xff;
    *reg = (a & 0xfc) + off;
    return true;
}

static uint32_t host_data_read(void *opaque, uint32_t off, unsigned size)
{
    PciBus *bus = opaque;
    int devfn;
    uint32_t reg;
    if (!config_target(bus, off, &devfn, &reg))
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t v = pci_config_read(bus, devfn, reg, size);
    VLOG(LOG_PCI, "config read %02x.%d [0x%02x]/%u = 0x%x", devfn >> 3, devfn & 7, reg, size, v);
    return v;
}

static void host_data_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    PciBus *bus = opaque;
    int devfn;
    uint32_t reg;
    if (!config_target(bus, off, &devfn, &reg))
        return;
    VLOG(LOG_PCI, "config write %02x.%d [0x%02x]/%u = 0x%x", devfn >> 3, devfn & 7, reg, size, value);
    pci_config_write(bus, devfn, reg, value, size);
}

static const PortOps host_data_ops = {
    .read = host_data_read,
    .write = host_data_write,
    .min_size = 1,
    .max_size = 4,
};

void pci_bus_register_host_ports(PciBus *bus)
{
    io_add(vm_io(bus->vm), "pci-conf-addr", 0xcf8, 4, &host_addr_ops, bus);
    io_add(vm_io(bus->vm), "pci-conf-data", 0xcfc, 4, &host_data_ops, bus);
}

/* ---- INTx ---- */

static void update_irq(PciDevice *d)
{
    PciBus *bus = d->bus;
    int pin = d->config[PCI_INTERRUPT_PIN];
    bool disabled = pci_get_word(d->config, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
    int level = d->irq_level && !disabled;
    /* The status bit reflects the device's own request, whatever the disable bit says. */
    if (d->irq_level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        d->config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
    /* PIRQ lines are wired-OR: count the devices asserting each one. */
    if (level == d->irq_asserted)
        return;
    d->irq_asserted = level;
    if (!pin || !bus->map_irq)
        return;
    int pirq = bus->map_irq(bus->router, d->devfn, pin - 1);
    if (pirq < 0 || pirq >= bus->npirq)
        return;
    bus->pirq_count[pirq] += level ? 1 : -1;
    bus->set_pirq(bus->router, pirq, bus->pirq_count[pirq] > 0);
}

bool pci_bus_master_enabled(const PciDevice *d)
{
    return pci_get_word(d->config, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

void pci_set_irq(PciDevice *d, int level)
{
    d->irq_level = level != 0;
    update_irq(d);
}

/* ---- state ---- */

static const VmStateField pci_device_fields[] = {
    VMSTATE_BUFFER(PciDevice, config),
    VMSTATE_I32_RANGE(PciDevice, irq_level, 0, 1),
    VMSTATE_END,
};

/* irq_asserted is not saved: it is what this VM's PIRQ count holds for the device, and
 * post_load moves the count from there to the loaded level. BAR addresses are derived. */
const VmStateDesc pci_device_vmsd = {
    .name = "pci-device",
    .version = 1,
    .fields = pci_device_fields,
};

bool pci_device_state_check(const PciDevice *loaded, GError **err)
{
    /* The scratch copy shares the bus pointer: the bus finds the live function. */
    const PciDevice *live = pci_bus_find(loaded->bus, loaded->devfn);
    g_assert(live);
    for (int a = 0; a < 256; a++) {
        uint8_t diff = (loaded->config[a] ^ live->config[a]) & loaded->cmask[a];
        if (diff) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "PCI %02x.%d config byte 0x%02x is 0x%02x, this device has 0x%02x there",
                        PCI_SLOT(loaded->devfn), PCI_FUNC(loaded->devfn), a, loaded->config[a],
                        live->config[a]);
            return false;
        }
    }
    return true;
}

void pci_device_post_load(PciDevice *d)
{
    update_mappings(d);
    update_irq(d);
}

uint32_t pci_bus_get_config_address(PciBus *bus)
{
    return bus->config_address;
}

void pci_bus_set_config_address(PciBus *bus, uint32_t value)
{
    bus->config_address = value & PCI_CONFIG_ADDRESS_MASK;
}
