/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI configuration mechanism #1, the i440FX host bridge (IDs, PAM shadowing, SMRAM) and
 * the PIIX3 (PIRQ routing, reset control), and BAR mapping as the guest programs it. */
#include "engine/testing.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/piix3.h"

#include <string.h>

typedef struct Fixture {
    Vm *vm;
    PciBus *bus;
    IrqLine isa[16];
    int isa_level[16];
} Fixture;

static void isa_handler(void *opaque, int n, int level)
{
    Fixture *f = opaque;
    f->isa_level[n] = level;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->vm = vm_new_for_test(UINT64_C(32) << 20);
    for (int i = 0; i < 16; i++)
        irq_init(&f->isa[i], isa_handler, f, i);
    vm_lock(f->vm);
    f->bus = pci_bus_new(f->vm);
    i440fx_new(f->vm, f->bus);
    piix3_new(f->vm, f->bus, f->isa);
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    vm_free(f->vm);
}

static uint32_t cfg_read(Fixture *f, int devfn, unsigned reg, unsigned size)
{
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xcf8, 0x80000000u | (unsigned)devfn << 8 | (reg & 0xfc), 4);
    uint32_t v = io_read(vm_io(f->vm), (uint16_t)(0xcfc + (reg & 3)), size);
    vm_unlock(f->vm);
    return v;
}

static void cfg_write(Fixture *f, int devfn, unsigned reg, uint32_t value, unsigned size)
{
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xcf8, 0x80000000u | (unsigned)devfn << 8 | (reg & 0xfc), 4);
    io_write(vm_io(f->vm), (uint16_t)(0xcfc + (reg & 3)), value, size);
    vm_unlock(f->vm);
}

static void test_ids(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0, 4), ==, 0x12378086);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x2c, 4), ==, 0x11001af4);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x0a, 2), ==, 0x0600);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(1, 0), 0, 4), ==, 0x70008086);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(1, 0), 0x0a, 2), ==, 0x0601);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(1, 0), 0x0e, 1) & 0x80, ==, 0x80);
    /* Empty slots and a disabled address register read all ones. */
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(5, 0), 0, 4), ==, 0xffffffffu);
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xcf8, 0x00000000, 4);
    g_assert_cmphex(io_read(vm_io(f->vm), 0xcfc, 4), ==, 0xffffffffu);
    /* The address register keeps enable, bus, device, function and dword index. */
    io_write(vm_io(f->vm), 0xcf8, 0xffffffffu, 4);
    g_assert_cmphex(io_read(vm_io(f->vm), 0xcf8, 4), ==, 0x80fffffcu);
    vm_unlock(f->vm);
    /* Read-only fields ignore writes. */
    cfg_write(f, PCI_DEVFN(0, 0), 0, 0, 4);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0, 4), ==, 0x12378086);
}

static void test_pam(Fixture *f, gconstpointer data)
{
    GuestMemory *m = vm_mem(f->vm);
    uint8_t *rom = mem_host_alloc(0x20000);
    memset(rom, 0xee, 0x20000);
    vm_lock(f->vm);
    mem_add_ram(m, "isa-bios", 0xe0000, 0x20000, rom, true, 0);
    vm_unlock(f->vm);
    /* At reset every PAM segment reads the ROM. */
    g_assert_cmpuint(mem_ldub(m, 0xf0000), ==, 0xee);
    g_assert_cmpuint(mem_ldub(m, 0xe4000), ==, 0xee);
    /* PAM0 bits 5:4 = 10b: writes to DRAM, reads from ROM (the BIOS shadow copy step). */
    cfg_write(f, PCI_DEVFN(0, 0), 0x59, 0x20, 1);
    vm_lock(f->vm);
    mem_dispatch_write(m, 0xf0010, 0x12, 1);
    vm_unlock(f->vm);
    g_assert_cmpuint(mem_ldub(m, 0xf0010), ==, 0xee);
    /* 11b: read and write DRAM. */
    cfg_write(f, PCI_DEVFN(0, 0), 0x59, 0x30, 1);
    g_assert_cmpuint(mem_ldub(m, 0xf0010), ==, 0x12);
    /* 01b: read DRAM, writes dropped (shadow write-protected). */
    cfg_write(f, PCI_DEVFN(0, 0), 0x59, 0x10, 1);
    vm_lock(f->vm);
    mem_dispatch_write(m, 0xf0010, 0x34, 1);
    vm_unlock(f->vm);
    g_assert_cmpuint(mem_ldub(m, 0xf0010), ==, 0x12);
    /* PAM5 low nibble covers 0xE0000-0xE3FFF only; 0xE4000 still reads the ROM. */
    cfg_write(f, PCI_DEVFN(0, 0), 0x5e, 0x03, 1);
    g_assert_cmpuint(mem_ldub(m, 0xe0000), ==, 0x00);
    g_assert_cmpuint(mem_ldub(m, 0xe4000), ==, 0xee);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x5e, 1), ==, 0x03);
    /* A system reset closes the windows again. */
    vm_test_system_reset(f->vm);
    g_assert_cmpuint(mem_ldub(m, 0xe0000), ==, 0xee);
    g_assert_cmpuint(mem_ldub(m, 0xf0010), ==, 0xee);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x59, 1), ==, 0);
    mem_host_free(rom, 0x20000);
}

static void test_smram(Fixture *f, gconstpointer data)
{
    GuestMemory *m = vm_mem(f->vm);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x72, 1), ==, 0x02);
    g_assert_null(mem_read_page(m, 0xa0000));
    cfg_write(f, PCI_DEVFN(0, 0), 0x72, 0x4a, 1); /* D_OPEN */
    g_assert_nonnull(mem_read_page(m, 0xa0000));
    /* D_LCK clears D_OPEN and keeps it clear. */
    cfg_write(f, PCI_DEVFN(0, 0), 0x72, 0x1a, 1);
    g_assert_null(mem_read_page(m, 0xa0000));
    cfg_write(f, PCI_DEVFN(0, 0), 0x72, 0x4a, 1);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(0, 0), 0x72, 1) & 0x40, ==, 0);
    g_assert_null(mem_read_page(m, 0xa0000));
}

typedef struct TestDev {
    uint8_t io[16];
    uint32_t mmio[64];
} TestDev;

static uint32_t tdev_io_read(void *opaque, uint32_t off, unsigned size)
{
    TestDev *t = opaque;
    return t->io[off];
}

static void tdev_io_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    TestDev *t = opaque;
    t->io[off] = (uint8_t)v;
}

static uint64_t tdev_mmio_read(void *opaque, hwaddr off, unsigned size)
{
    TestDev *t = opaque;
    return t->mmio[off / 4];
}

static void tdev_mmio_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
    TestDev *t = opaque;
    t->mmio[off / 4] = (uint32_t)v;
}

static const PortOps tdev_io_ops = { tdev_io_read, tdev_io_write, 1, 1 };
static const MemOps tdev_mmio_ops = { tdev_mmio_read, tdev_mmio_write, 4, 4 };

static void test_bars(Fixture *f, gconstpointer data)
{
    TestDev t = { 0 };
    vm_lock(f->vm);
    PciDevice *d = pci_device_new(f->bus, PCI_DEVFN(3, 0), "testdev", 0x1234, 0x5678, 0xff0000, 1);
    pci_register_bar_io(d, 0, 16, &tdev_io_ops, &t);
    pci_register_bar_mmio(d, 1, 256, &tdev_mmio_ops, &t);
    static const uint8_t rom_image[] = { 0x55, 0xaa, 4 };
    pci_register_rom(d, rom_image, sizeof(rom_image));
    vm_unlock(f->vm);
    int dev = PCI_DEVFN(3, 0);
    /* Sizing: all ones written, the read-back encodes the size and type. */
    cfg_write(f, dev, 0x10, 0xffffffffu, 4);
    g_assert_cmphex(cfg_read(f, dev, 0x10, 4), ==, 0xfffffff1u);
    cfg_write(f, dev, 0x14, 0xffffffffu, 4);
    g_assert_cmphex(cfg_read(f, dev, 0x14, 4), ==, 0xffffff00u);
    cfg_write(f, dev, 0x30, 0xffffffffu, 4);
    g_assert_cmphex(cfg_read(f, dev, 0x30, 4), ==, 0xfffff801u);
    cfg_write(f, dev, 0x10, 0xc000, 4);
    cfg_write(f, dev, 0x14, 0xfe100000, 4);
    cfg_write(f, dev, 0x30, 0xfe200000, 4);
    /* Nothing decodes until the command register enables it. */
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xc003, 0x42, 1);
    g_assert_cmpuint(t.io[3], ==, 0);
    vm_unlock(f->vm);
    cfg_write(f, dev, 0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xc003, 0x42, 1);
    g_assert_cmpuint(t.io[3], ==, 0x42);
    mem_dispatch_write(vm_mem(f->vm), 0xfe100008, 0xdeadbeef, 4);
    g_assert_cmphex(t.mmio[2], ==, 0xdeadbeef);
    /* The ROM appears only with its enable bit. */
    g_assert_cmphex(mem_dispatch_read(vm_mem(f->vm), 0xfe200000, 2), ==, 0xffff);
    vm_unlock(f->vm);
    cfg_write(f, dev, 0x30, 0xfe200001, 4);
    vm_lock(f->vm);
    g_assert_cmphex(mem_dispatch_read(vm_mem(f->vm), 0xfe200000, 2), ==, 0xaa55);
    vm_unlock(f->vm);
    /* Moving the I/O BAR moves the ports. */
    cfg_write(f, dev, 0x10, 0xd000, 4);
    vm_lock(f->vm);
    g_assert_cmphex(io_read(vm_io(f->vm), 0xd003, 1), ==, 0x42);
    g_assert_cmphex(io_read(vm_io(f->vm), 0xc003, 1), ==, 0xff);
    vm_unlock(f->vm);
}

static void test_pirq(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    PciDevice *d = pci_device_new(f->bus, PCI_DEVFN(3, 0), "irqdev", 0x1234, 0x1, 0xff0000, 1);
    pci_device_set_interrupt_pin(d, 1); /* INTA of slot 3 -> PIRQ (3 + 0 - 1) & 3 = C */
    vm_unlock(f->vm);
    /* Routes disabled at reset: nothing reaches the ISA side. */
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(1, 0), 0x60, 4), ==, 0x80808080u);
    vm_lock(f->vm);
    pci_set_irq(d, 1);
    vm_unlock(f->vm);
    for (int i = 0; i < 16; i++)
        g_assert_cmpint(f->isa_level[i], ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x06, 2) & PCI_STATUS_INTERRUPT, !=, 0);
    /* Routing PIRQC to IRQ 11 raises it at once; re-routing moves it. */
    cfg_write(f, PCI_DEVFN(1, 0), 0x62, 11, 1);
    g_assert_cmpint(f->isa_level[11], ==, 1);
    cfg_write(f, PCI_DEVFN(1, 0), 0x62, 10, 1);
    g_assert_cmpint(f->isa_level[11], ==, 0);
    g_assert_cmpint(f->isa_level[10], ==, 1);
    /* INTx disable in the command register masks the line but not the status bit. */
    cfg_write(f, PCI_DEVFN(3, 0), 0x04, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_cmpint(f->isa_level[10], ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x06, 2) & PCI_STATUS_INTERRUPT, !=, 0);
    cfg_write(f, PCI_DEVFN(3, 0), 0x04, 0, 2);
    g_assert_cmpint(f->isa_level[10], ==, 1);
    vm_lock(f->vm);
    pci_set_irq(d, 0);
    vm_unlock(f->vm);
    g_assert_cmpint(f->isa_level[10], ==, 0);
}

static void test_reset_control(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xcf9, 0x02, 1);
    g_assert_cmphex(io_read(vm_io(f->vm), 0xcf9, 1), ==, 0x02);
    vm_unlock(f->vm);
    g_assert_false(vm_test_take_reset_request(f->vm));
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0xcf9, 0x06, 1);
    vm_unlock(f->vm);
    g_assert_true(vm_test_take_reset_request(f->vm));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/pci/ids", test_ids);
    ADD("/pci/i440fx-pam", test_pam);
    ADD("/pci/i440fx-smram", test_smram);
    ADD("/pci/bars", test_bars);
    ADD("/pci/piix3-pirq", test_pirq);
    ADD("/pci/piix3-reset-control", test_reset_control);
    return g_test_run();
}
