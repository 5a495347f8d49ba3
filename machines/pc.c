/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "pc" board: an i440FX + PIIX3 PC as SeaBIOS knows it from QEMU; "isapc" is the
 * same board without PCI (see isapc_init). Bus 0 holds the
 * host bridge (00.0), the ISA bridge (01.0), the IDE function (01.1) and the ACPI PM
 * function (01.3); the ISA side has the PICs, PIT, RTC, UARTs, keyboard controller, the
 * floppy controller and its DMA, fw_cfg and the debug ports. With a software CPU the
 * board also has a local APIC per processor and an 82093AA I/O APIC; under KVM the kernel's irqchip
 * provides them, or, with kernel-irqchip=off, there are none. */
#include "engine/machine.h"
#include "engine/input.h"
#include "engine/regfile.h"
#include "hw/acpi/acpi-build.h"
#include "hw/acpi/piix4_pm.h"
#include "hw/audio/pcspk.h"
#include "hw/char/serial.h"
#include "hw/display/vga.h"
#include "hw/dma/i8237.h"
#include "hw/isa/isa-bus.h"
#include "hw/firmware/fw_cfg.h"
#include "hw/firmware/kernel-loader.h"
#include "hw/input/i8042.h"
#include "hw/intc/apic.h"
#include "hw/intc/i8259.h"
#include "hw/intc/ioapic.h"
#include "hw/intc/kernel-irqchip.h"
#include "hw/misc/debugcon.h"
#include "hw/misc/debugexit.h"
#include "hw/misc/fpu-err.h"
#include "hw/misc/port80.h"
#include "hw/misc/port92.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/piix3.h"
#include "hw/storage/drive.h"
#include "hw/storage/ide.h"
#include "hw/storage/fdc.h"
#include "hw/timer/hpet.h"
#include "hw/timer/i8254.h"
#include "hw/timer/mc146818.h"
#include "vireo-config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BIOS_MAX_SIZE (16u << 20)
#define ISA_BIOS_MAX (128u << 10)

static const uint16_t serial_ports[VM_MAX_SERIAL] = { 0x3f8, 0x2f8, 0x3e8, 0x2e8 };
static const int serial_irqs[VM_MAX_SERIAL] = { 4, 3, 4, 3 };

typedef struct PcBoard {
    Vm *vm;
    IrqLine isa_irq[16];
    IrqLine cpu_intr;
    PicState *pic;
    ApicState *apic;      /* NULL without a board APIC */
    IoapicState *ioapic;
    PitState *pit;
    RtcState *rtc;
    HpetState *hpet;      /* NULL: -no-hpet, isapc, or a kernel irqchip */
    /* Global system interrupts the HPET drives (see gsi_handler), and the two
     * sources of I/O APIC pin 2 (ISA IRQ 0 and GSI 2), whose levels it ORs. */
    IrqLine gsi[HPET_GSI_COUNT];
    bool pin2_src[2];
    PciBus *pci;          /* NULL on isapc */
    FwCfgState *fw;
    I8042State *kbc;
    PiixIdeState *ide;
    IsaIdeState *isa_ide; /* isapc's IDE instead of the PIIX3 function */
    IsaDma *dma;
    FdcState *fdc;
    unsigned boot_resets;
    /* The bootorder line of the disk vm.conf's boot-disk= names (NULL: none), and the
     * virtio-blk functions the board made for if=virtio drives so far. */
    char *boot_disk_path;
    bool virtio_seen[256];
    uint8_t *bios;
    size_t bios_len;
    size_t isa_bios_len;  /* isapc: the BIOS copied into RAM below 1 MiB */
} PcBoard;

/* ISA interrupt lines go to our 8259s and I/O APIC, or to the host kernel's when it
 * emulates them. As on PIIX chipsets the I/O APIC sees ISA IRQ n on pin n, except the
 * timer's IRQ 0, which arrives on pin 2 (the MADT's interrupt source override says so);
 * PCI INTx reach it through the PIIX3 PIRQ routers as ISA IRQs, as the DSDT's link
 * devices describe. */
/* I/O APIC pin 2 is wired to ISA IRQ 0 (src 0) and to GSI 2 (src 1), an HPET route. */
static void ioapic_pin2(PcBoard *b, int src, int level)
{
    b->pin2_src[src] = level;
    ioapic_set_irq(b->ioapic, 2, b->pin2_src[0] || b->pin2_src[1]);
}

static void isa_irq_handler(void *opaque, int n, int level)
{
    PcBoard *b = opaque;
    VLOG(LOG_IRQ, "ISA IRQ %d -> %d", n, level);
    if (vm_kernel_irqchip(b->vm)) {
        vm_kernel_irq_line(b->vm, (unsigned)n, level);
        return;
    }
    i8259_set_irq(b->pic, n, level);
    if (b->ioapic && n == 0)
        ioapic_pin2(b, 0, level);
    else if (b->ioapic && n != 2)
        ioapic_set_irq(b->ioapic, n, level);
}

/* Global system interrupts as the HPET's routes name them (ACPI: GSI n is I/O APIC
 * input n, except GSI 0, ISA IRQ 0, which the MADT overrides to input 2). GSI 2 reaches
 * input 2 only: the 8259's IRQ 2 is the cascade. */
static void gsi_handler(void *opaque, int n, int level)
{
    PcBoard *b = opaque;
    if (n < 16 && n != 2) {
        isa_irq_handler(b, n, level);
        return;
    }
    VLOG(LOG_IRQ, "GSI %d -> %d", n, level);
    if (!b->ioapic)
        return;
    if (n == 2)
        ioapic_pin2(b, 1, level);
    else
        ioapic_set_irq(b->ioapic, n, level);
}

/* The 8259's INTR output: the CPU's INTR pin, or with an APIC its LINT0 and I/O APIC
 * pin 0 (ExtINT). */
static void cpu_intr_handler(void *opaque, int n, int level)
{
    PcBoard *b = opaque;
    if (b->apic) {
        apic_set_lint(b->apic, 0, level);
        ioapic_set_irq(b->ioapic, 0, level);
    } else {
        vm_set_cpu_intr(b->vm, level);
    }
}

static int pic_ack(void *opaque)
{
    PcBoard *b = opaque;
    return i8259_ack(b->pic);
}

/* isapc: without the i440FX's PAM registers the BIOS below 1 MiB is RAM (SeaBIOS keeps
 * its variables there, as under QEMU's isapc), copied from the flash at every reset; as
 * guest RAM it is in saved states. */
static void isa_bios_reset(void *opaque)
{
    PcBoard *b = opaque;
    mem_write(vm_mem(b->vm), 0x100000 - b->isa_bios_len, b->bios + b->bios_len - b->isa_bios_len,
              b->isa_bios_len);
}

static bool load_bios(PcBoard *b, const VmConfig *cfg, bool isa_ram, GError **err)
{
    /* isapc: SeaBIOS's 128 KiB build, which lies wholly in the ISA BIOS area (the 256 KiB
     * one needs the i440FX to copy its lower half into shadow RAM). */
    g_autofree char *path = cfg->bios ? g_strdup(cfg->bios)
                                      : g_build_filename(SEABIOS_DIR, isa_ram ? "bios.bin" : "bios-256k.bin", NULL);
    GError *local = NULL;
    uint64_t size;
    /* The size is checked before reading: a FIFO or a huge file is refused at once. */
    int fd = regfile_open(path, &size, &local);
    if (fd < 0) {
        g_set_error(err, VIREO_ERROR, local->code == VIREO_ERROR_INVALID ? VIREO_ERROR_INVALID
                                                                         : VIREO_ERROR_NOT_FOUND,
                    "firmware: %s%s", local->message,
                    cfg->bios ? "" : " (install the Debian package 'seabios' or give -bios FILE)");
        g_error_free(local);
        return false;
    }
    if (size == 0 || size % 65536 || size > BIOS_MAX_SIZE) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "firmware %s: size %" G_GUINT64_FORMAT " is not a multiple of 64 KiB up to 16 MiB",
                    path, size);
        close(fd);
        return false;
    }
    size_t len = (size_t)size;
    char *data = g_malloc(len);
    bool ok = regfile_read_at(fd, path, 0, data, len, &local);
    close(fd);
    if (!ok) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "firmware: %s", local->message);
        g_error_free(local);
        g_free(data);
        return false;
    }
    b->bios = mem_host_alloc(len);
    b->bios_len = len;
    memcpy(b->bios, data, len);
    g_free(data);
    GuestMemory *m = vm_mem(b->vm);
    /* The flash sits just below 4 GiB; its last 128 KiB also answer below 1 MiB, where
     * the PAM registers can shadow them into RAM. */
    mem_add_ram(m, "bios", (UINT64_C(1) << 32) - len, len, b->bios, true, 0);
    size_t isa = MIN(len, (size_t)ISA_BIOS_MAX);
    if (isa_ram) {
        /* C0000h-FFFFFh is RAM on this board: option ROMs (the VGA BIOS) are copied
         * to C0000h, the BIOS sits at its top. */
        mem_set_ram_window(m, 0xc0000, 0x40000, true, true);
        b->isa_bios_len = isa;
        isa_bios_reset(b);
        vm_add_board_reset_handler(b->vm, isa_bios_reset, b);
        return true;
    }
    mem_add_ram(m, "isa-bios", 0x100000 - isa, isa, b->bios + len - isa, true, 0);
    return true;
}

static void cmos_set_word(RtcState *rtc, unsigned addr, uint16_t v)
{
    mc146818_set_cmos(rtc, addr, v & 0xff);
    mc146818_set_cmos(rtc, addr + 1, v >> 8);
}

/* Boot order for firmware without a bootorder file, as SeaBIOS reads it on QEMU-like
 * boards: 0x3D holds the first two devices (low nibble first), 0x38 bits 7:4 the
 * third; 1 floppy, 2 disk, 3 CD, 4 network. */
static void cmos_set_boot_order(RtcState *rtc, const char *order)
{
    if (!order || !*order)
        order = "cad";
    uint8_t dev[3] = { 0 };
    for (int i = 0; i < 3 && order[i]; i++)
        dev[i] = order[i] == 'a' ? 1 : order[i] == 'c' ? 2 : order[i] == 'd' ? 3 : order[i] == 'n' ? 4 : 0;
    mc146818_set_cmos(rtc, 0x3d, (uint8_t)(dev[0] | dev[1] << 4));
    mc146818_set_cmos(rtc, 0x38, (uint8_t)(dev[2] << 4));
}

static IdeChannel *board_ide_channel(PcBoard *b, int n)
{
    return b->isa_ide ? isa_ide_channel(b->isa_ide, n) : piix_ide_channel(b->ide, n);
}

/* SeaBIOS's name of an IDE drive and of a virtio-blk function: boot.c build_ata_path,
 * and bootprio_find_pci_device (any name at that slot of bus 0). */
static char *ide_boot_path(int i)
{
    return g_strdup_printf("/pci@i0cf8/ide@1,1/drive@%d/disk@%d\n", i / 2, i % 2);
}

static char *virtio_boot_path(int devfn)
{
    return PCI_FUNC(devfn) ? g_strdup_printf("/pci@i0cf8/scsi@%x,%x/disk@0,0\n", PCI_SLOT(devfn), PCI_FUNC(devfn))
                           : g_strdup_printf("/pci@i0cf8/scsi@%x/disk@0,0\n", PCI_SLOT(devfn));
}

/* SeaBIOS's name of a network card's boot ROM: bootprio_find_pci_rom matches any
 * device name at that slot of bus 0, so "ethernet" (QEMU's) serves every card. */
static char *nic_boot_path(int devfn)
{
    return PCI_FUNC(devfn) ? g_strdup_printf("/pci@i0cf8/ethernet@%x,%x\n", PCI_SLOT(devfn), PCI_FUNC(devfn))
                           : g_strdup_printf("/pci@i0cf8/ethernet@%x\n", PCI_SLOT(devfn));
}

/* Network cards that carry a boot ROM (hw/net/nic-boot.h), by slot. */
static bool is_boot_nic(const PciDevice *d)
{
    return d && d->config[0x0b] == 0x02 && pci_has_rom(d);
}

/* Cards with bootindex= come before the -boot order, lowest index first. */
static void append_indexed_nics(PcBoard *b, GString *text)
{
    for (uint32_t last = 0, first = 1;;) {
        int best = -1;
        for (int devfn = 0; devfn < 256; devfn++) {
            PciDevice *d = pci_bus_find(b->pci, devfn);
            if (!is_boot_nic(d) || !d->boot_indexed || (!first && d->boot_index <= last))
                continue;
            if (best < 0 || d->boot_index < pci_bus_find(b->pci, best)->boot_index)
                best = devfn;
        }
        if (best < 0)
            return;
        g_autofree char *path = nic_boot_path(best);
        g_string_append(text, path);
        last = pci_bus_find(b->pci, best)->boot_index;
        first = 0;
    }
}

/* A virtio-blk-pci made for an if=virtio drive: the function not seen before is its;
 * remembered as the boot disk's when vm.conf's boot-disk= names the drive. */
static void virtio_disk_created(void *opaque, const DriveConfig *dc, Device *dev)
{
    PcBoard *b = opaque;
    for (int devfn = 0; devfn < 256; devfn++) {
        PciDevice *d = pci_bus_find(b->pci, devfn);
        if (!d || !d->name || strcmp(d->name, "virtio-blk-pci") || b->virtio_seen[devfn])
            continue;
        b->virtio_seen[devfn] = true;
        if (dc->boot_first) {
            g_free(b->boot_disk_path);
            b->boot_disk_path = virtio_boot_path(devfn);
        }
    }
}

/* SeaBIOS's "bootorder" file (its docs/Runtime_config): one device path a line, in the
 * order to try them, as SeaBIOS spells the devices it finds (boot.c build_ata_path and
 * bootprio_find_fdc_device). The drives the order names come first, then the VM's
 * other drives, then HALT: without it SeaBIOS falls back on a floppy and a hard disk
 * it adds whether or not the board has them, and a VM without a floppy drive would
 * say "Booting from Floppy..." before "No bootable device". */
static void set_bootorder_file(PcBoard *b, const char *order)
{
    GString *text = g_string_new(NULL);
    bool listed[4] = { false };   /* floppy, disk, CD, network classes done */
    const char *all = "acdn";
    append_indexed_nics(b, text);
    g_autofree char *seq = g_strconcat(order && *order ? order : "cad", all, NULL);
    for (const char *c = seq; *c; c++) {
        const char *cls = strchr(all, *c);
        if (!cls || listed[cls - all])
            continue;
        listed[cls - all] = true;
        if (*c == 'n') {
            /* Only when asked: SeaBIOS would otherwise try the cards before HALT. */
            for (int devfn = 0; order && strchr(order, 'n') && devfn < 256; devfn++) {
                PciDevice *d = pci_bus_find(b->pci, devfn);
                g_autofree char *path = is_boot_nic(d) && !d->boot_indexed ? nic_boot_path(devfn) : NULL;
                if (path)
                    g_string_append(text, path);
            }
            continue;
        }
        if (*c == 'a') {
            for (unsigned u = 0; u < FDC_MAX_DRIVES; u++)
                if (fdc_cmos_type(b->fdc, u))
                    g_string_append_printf(text, "/pci@i0cf8/isa@1/fdc@03f0/floppy@%u\n", u);
            continue;
        }
        /* The disk boot-disk= chose first; SeaBIOS makes the first disk it boots 80h. */
        if (*c == 'c' && b->boot_disk_path)
            g_string_append(text, b->boot_disk_path);
        for (int i = 0; i < 4; i++) {
            IdeChannel *ch = piix_ide_channel(b->ide, i / 2);
            uint16_t cy, h, sec;
            bool cd = ide_unit_is_cdrom(ch, i % 2);
            bool disk = ide_disk_geometry(ch, i % 2, &cy, &h, &sec);
            g_autofree char *path = ide_boot_path(i);
            if ((*c == 'd' && cd) || (*c == 'c' && disk && g_strcmp0(path, b->boot_disk_path)))
                g_string_append(text, path);
        }
        /* virtio-blk disks after the IDE ones, by slot. */
        for (int devfn = 0; *c == 'c' && devfn < 256; devfn++) {
            PciDevice *d = pci_bus_find(b->pci, devfn);
            g_autofree char *path = d && d->name && !strcmp(d->name, "virtio-blk-pci") ? virtio_boot_path(devfn) : NULL;
            if (path && g_strcmp0(path, b->boot_disk_path))
                g_string_append(text, path);
        }
    }
    /* The list names only the board's own drives: with a bootable device created by
     * name (usb-storage) SeaBIOS must go on to the devices it found itself. */
    bool other_boot = false;
    for (GList *l = device_list_head(b->vm); l; l = l->next)
        other_boot |= !strcmp(((Device *)l->data)->klass->name, "usb-storage");
    if (!other_boot)
        g_string_append(text, "HALT\n");
    fw_cfg_add_file(b->fw, "bootorder", g_string_free_to_bytes(text));
}

static void restore_boot_order(void *opaque)
{
    PcBoard *b = opaque;
    /* The first call is the power-on reset vm_start runs; the next one is a reboot. */
    if (b->boot_resets++ != 1)
        return;
    cmos_set_boot_order(b->rtc, vm_config(b->vm)->boot_order);
    if (!vm_config(b->vm)->kernel && b->pci)
        set_bootorder_file(b, vm_config(b->vm)->boot_order);
}

/* CMOS configuration bytes read by the BIOS (IBM AT layout, and the extensions SeaBIOS
 * reads on QEMU-compatible boards). */
static void cmos_init(PcBoard *b, const VmConfig *cfg)
{
    GuestMemory *m = vm_mem(b->vm);
    uint64_t low = mem_ram_below_4g(m);
    uint64_t high = mem_ram_size(m) - low;
    cmos_set_word(b->rtc, 0x15, 640);
    uint64_t ext_kb = low > 0x100000 ? (low - 0x100000) >> 10 : 0;
    cmos_set_word(b->rtc, 0x17, (uint16_t)MIN(ext_kb, 0xffffu));
    cmos_set_word(b->rtc, 0x30, (uint16_t)MIN(ext_kb, 0xffffu));
    uint64_t over16 = low > (16u << 20) ? (low - (16u << 20)) >> 16 : 0;
    cmos_set_word(b->rtc, 0x34, (uint16_t)MIN(over16, 0xffffu));
    uint64_t over4g = high >> 16;
    mc146818_set_cmos(b->rtc, 0x5b, over4g & 0xff);
    mc146818_set_cmos(b->rtc, 0x5c, (over4g >> 8) & 0xff);
    mc146818_set_cmos(b->rtc, 0x5d, (over4g >> 16) & 0xff);
    mc146818_set_cmos(b->rtc, 0x5f, (uint8_t)(cfg->smp - 1));
    /* Floppy drive types, A: in the high nibble (IBM AT Technical Reference, CMOS 0x10). */
    uint8_t fda = fdc_cmos_type(b->fdc, 0), fdb = fdc_cmos_type(b->fdc, 1);
    mc146818_set_cmos(b->rtc, 0x10, (uint8_t)(fda << 4 | fdb));
    /* Equipment byte: bit 0 diskette drives present, bits 7:6 their number less one;
     * EGA/VGA display (bits 5:4 = 0). */
    unsigned nfd = (fda != 0) + (fdb != 0);
    mc146818_set_cmos(b->rtc, 0x14, nfd ? (uint8_t)(1 | (nfd - 1) << 6) : 0x00);
    /* -boot once= holds for the first boot; the first reset brings back the order. */
    if (cfg->boot_once) {
        cmos_set_boot_order(b->rtc, cfg->boot_once);
        vm_add_board_reset_handler(b->vm, restore_boot_order, b);
    } else {
        cmos_set_boot_order(b->rtc, cfg->boot_order);
    }
    /* isapc: SeaBIOS's device paths name PCI functions, so the CMOS order alone. */
    if (!cfg->kernel && b->pci)
        set_bootorder_file(b, cfg->boot_once ? cfg->boot_once : cfg->boot_order);
}

/* The floppy controller with the drives the configuration names (A: and B:). */
static bool floppy_init(PcBoard *b, const VmConfig *cfg, GError **err)
{
    const DriveConfig *units[FDC_MAX_DRIVES] = { NULL };
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *dc = g_ptr_array_index(cfg->drives, i);
        if (dc->iface != DRIVE_IF_FLOPPY)
            continue;
        int u = dc->index;
        if (u < 0)
            for (u = 0; u < FDC_MAX_DRIVES && units[u]; u++)
                ;
        if (u >= FDC_MAX_DRIVES) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "floppy %s: only two floppy drives (A: and B:) exist", dc->file ? dc->file : "drive");
            return false;
        }
        if (units[u]) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "floppy drive %c: is given twice", 'A' + u);
            return false;
        }
        units[u] = dc;
    }
    b->fdc = fdc_new(b->vm, 0x3f0, &b->isa_irq[6], b->dma, 2);
    for (unsigned u = 0; u < FDC_MAX_DRIVES; u++) {
        if (!units[u])
            continue;
        BlockImage *img = NULL;
        bool ro = units[u]->readonly;
        if (units[u]->file && *units[u]->file) {
            img = drive_open(cfg, units[u], true, &ro, err);
            if (!img)
                return false;
        }
        if (!fdc_attach_drive(b->fdc, u, img, ro, err)) {
            if (img)
                block_close(img, NULL);
            return false;
        }
    }
    return true;
}

/* Hard disk bytes of the AT CMOS: 0x12 types (0xF = see 0x19/0x1A), the user-defined
 * type 47 geometry at 0x1B and 0x24, and the translation hints SeaBIOS reads at 0x39 on
 * QEMU-compatible boards (2 bits per disk: 0 none, 1 LBA). */
static void cmos_init_disks(PcBoard *b)
{
    uint8_t types = 0, trans = 0;
    for (int i = 0; i < 4; i++) {
        uint16_t c, h, s;
        if (!ide_disk_geometry(board_ide_channel(b, i / 2), i % 2, &c, &h, &s))
            continue;
        if (c > 1024 || h > 16 || s > 63)
            trans |= (uint8_t)(1u << (2 * i));
        if (i > 1)
            continue;
        types |= i == 0 ? 0xf0 : 0x0f;
        unsigned base = i == 0 ? 0x1b : 0x24;
        mc146818_set_cmos(b->rtc, i == 0 ? 0x19 : 0x1a, 47);
        cmos_set_word(b->rtc, base, c);
        mc146818_set_cmos(b->rtc, base + 2, (uint8_t)h);
        cmos_set_word(b->rtc, base + 3, 0xffff); /* write precompensation: none */
        mc146818_set_cmos(b->rtc, base + 5, h > 8 ? 0x08 : 0);
        cmos_set_word(b->rtc, base + 6, c);      /* landing zone */
        mc146818_set_cmos(b->rtc, base + 8, (uint8_t)s);
    }
    mc146818_set_cmos(b->rtc, 0x12, types);
    mc146818_set_cmos(b->rtc, 0x39, trans);
}

static void fw_cfg_init_pc(PcBoard *b, const VmConfig *cfg)
{
    GuestMemory *m = vm_mem(b->vm);
    FwCfgState *fw = b->fw;
    uint64_t low = mem_ram_below_4g(m), high = mem_ram_size(m) - low;
    fw_cfg_add_i64(fw, FW_CFG_RAM_SIZE, mem_ram_size(m));
    fw_cfg_add_i16(fw, FW_CFG_NB_CPUS, (uint16_t)cfg->smp);
    /* SeaBIOS builds its MP table for APIC IDs below this: with gaps in the IDs (a
     * topology count that is not a power of two) it is more than the CPU count, as QEMU's. */
    fw_cfg_add_i16(fw, FW_CFG_MAX_CPUS, (uint16_t)vm_cpu_apic_id_limit(b->vm));
    fw_cfg_add_i16(fw, FW_CFG_NOGRAPHIC, cfg->nographic);
    fw_cfg_add_i16(fw, FW_CFG_BOOT_MENU, cfg->boot_menu);
    fw_cfg_add_bytes(fw, FW_CFG_UUID, g_bytes_new_take(g_malloc0(16), 16));
    fw_cfg_add_i64(fw, FW_CFG_NUMA, 0);
    bool have_apic = vm_kernel_irqchip(b->vm) || b->apic;
    fw_cfg_add_i32(fw, FW_CFG_IRQ0_OVERRIDE, have_apic ? 1 : 0);
    fw_cfg_add_i32(fw, FW_CFG_E820_TABLE, 0);

    /* etc/e820: packed {u64 address, u64 length, u32 type} records of RAM. */
    GByteArray *e820 = g_byte_array_new();
    struct { uint64_t addr, len; uint32_t type; } ranges[2] = {
        { 0, low, 1 },
        { UINT64_C(1) << 32, high, 1 },
    };
    for (int i = 0; i < 2; i++) {
        if (!ranges[i].len)
            continue;
        uint64_t a = GUINT64_TO_LE(ranges[i].addr), l = GUINT64_TO_LE(ranges[i].len);
        uint32_t t = GUINT32_TO_LE(ranges[i].type);
        g_byte_array_append(e820, (const guint8 *)&a, 8);
        g_byte_array_append(e820, (const guint8 *)&l, 8);
        g_byte_array_append(e820, (const guint8 *)&t, 4);
    }
    fw_cfg_add_file(fw, "etc/e820", g_byte_array_free_to_bytes(e820));

    /* isapc: no ACPI (its PM device is a PIIX4 function); SeaBIOS then makes none. */
    if (!b->pci)
        return;
    uint8_t com_mask = 0;
    for (int i = 0; i < VM_MAX_SERIAL; i++)
        if (cfg->serial[i])
            com_mask |= 1u << i;
    AcpiPcConfig acpi = {
        .ram_below_4g = low,
        .pm_base = PIIX4_PM_BASE_DEFAULT,
        .sci_irq = PIIX4_PM_SCI_IRQ,
        .have_apic = have_apic,
        .ncpus = cfg->smp,
        .com_mask = com_mask,
        .have_hpet = b->hpet != NULL,
    };
    for (unsigned i = 0; i < acpi.ncpus && i < VM_CPUS_MAX; i++)
        acpi.apic_ids[i] = (uint8_t)vm_cpu_apic_id(b->vm, i);
    acpi_build_pc_tables(fw, &acpi);
}

static void board_free(void *opaque)
{
    PcBoard *b = opaque;
    mem_host_free(b->bios, b->bios_len);
    g_free(b->boot_disk_path);
    g_free(b);
}

/* Keyboard and mouse events from front ends go to the PS/2 devices behind the 8042. */
static void pc_input_key(void *opaque, uint16_t code, bool down)
{
    PcBoard *b = opaque;
    ps2_keyboard_event(i8042_keyboard(b->kbc), code, down);
}

static void pc_input_pointer(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    PcBoard *b = opaque;
    ps2_mouse_event(i8042_mouse(b->kbc), dx, dy, dz, buttons);
}

static const VmInputOps pc_input_ops = {
    .key = pc_input_key,
    .pointer = pc_input_pointer,
};

/* Whether -device names a display adapter, which then takes the place of the board's. */
static bool config_has_display_device(const VmConfig *cfg)
{
    for (guint i = 0; cfg->devices && i < cfg->devices->len; i++) {
        const char *spec = g_ptr_array_index(cfg->devices, i);
        if (g_str_has_prefix(spec, "cirrus-vga") && (spec[10] == '\0' || spec[10] == ','))
            return true;
        if (g_str_has_prefix(spec, "virtio-gpu-pci") && (spec[14] == '\0' || spec[14] == ','))
            return true;
        if (g_str_has_prefix(spec, "virtio-vga") && (spec[10] == '\0' || spec[10] == ','))
            return true;
    }
    return false;
}

/* isapc: the VGA BIOS of the ISA VGA, which SeaBIOS runs from fw_cfg's "vgaroms/"
 * directory when no PCI VGA brings one. */
static bool add_isa_vga_rom(PcBoard *b, GError **err)
{
    g_autofree char *path = g_build_filename(SEABIOS_DIR, "vgabios-isavga.bin", NULL);
    g_autofree char *rom = NULL;
    gsize len = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &rom, &len, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                    "VGA BIOS: %s (install the Debian package 'seabios', or use -vga none)", local->message);
        g_error_free(local);
        return false;
    }
    if (len < 512 || len > (128u << 10) || (uint8_t)rom[0] != 0x55 || (uint8_t)rom[1] != 0xaa) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "VGA BIOS %s: not an option ROM of up to 128 KiB", path);
        return false;
    }
    fw_cfg_add_file(b->fw, "vgaroms/vgabios-isavga.bin", g_bytes_new_take(g_steal_pointer(&rom), len));
    return true;
}

/* What isapc cannot have: each is refused with one line. */
static bool isapc_check_config(const VmConfig *cfg, GError **err)
{
    const char *why = NULL;
    if (cfg->smp > 1)
        why = "one CPU only (the ISA PC has no APIC)";
    else if (!g_strcmp0(cfg->vga, "cirrus"))
        why = "-vga cirrus is a PCI card (use -vga std, the ISA VGA, or none)";
    else if (!g_strcmp0(cfg->vga, "virtio"))
        why = "-vga virtio is a PCI card (use -vga std, the ISA VGA, or none)";
    for (guint i = 0; !why && cfg->drives && i < cfg->drives->len; i++)
        if (((const DriveConfig *)cfg->drives->pdata[i])->iface == DRIVE_IF_VIRTIO)
            why = "if=virtio drives need PCI (use if=ide or if=floppy)";
    for (guint i = 0; !why && cfg->devices && i < cfg->devices->len; i++) {
        const char *spec = g_ptr_array_index(cfg->devices, i);
        g_autofree char *name = g_strndup(spec, strcspn(spec, ","));
        /* ISA devices carry their I/O ports as properties; everything else wants a bus
         * this board does not have. */
        static const char *const isa_devices[] = { "ne2k_isa", "sb16", "adlib", "isa-serial", "isa-debugcon",
                                                   "isa-debug-exit", NULL };
        if (!g_strv_contains(isa_devices, name)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "machine isapc: -device %s needs PCI or USB, which this board has not (for a "
                        "network card use model=ne2k_isa)", name);
            return false;
        }
    }
    if (why) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "machine isapc: %s", why);
        return false;
    }
    return true;
}

static bool pc_finish(PcBoard *b, const VmConfig *cfg, GError **err);


/* A message signalled interrupt from a PCI device (SDM vol. 3 §10.11.1, §10.11.2): the
 * address names the destination (bits 19-12, bit 2 logical mode), the data the vector
 * (7-0), the delivery mode (10-8) and the trigger mode (15). */
static void pc_msi(void *opaque, uint64_t addr, uint32_t data)
{
    PcBoard *b = opaque;
    uint8_t dest = (uint8_t)(addr >> 12);
    bool logical = addr & 4;
    ApicDeliveryMode mode = (ApicDeliveryMode)((data >> 8) & 7);
    bool level = data & 0x8000;
    if (mode == APIC_DM_SMI || mode == 3 || mode == APIC_DM_EXTINT) {
        VLOG(LOG_UNIMP, "msi: delivery mode %u not emulated", (unsigned)mode);
        return;
    }
    if (!apic_bus_deliver(b->apic, logical, dest, mode, (uint8_t)data, level))
        VLOG(LOG_IRQ, "msi: 0x%08x to 0x%" G_GINT64_MODIFIER "x reached no APIC", data, addr);
}

static bool pc_board_init(Vm *vm, const VmConfig *cfg, bool isa, GError **err)
{
    if (isa && !isapc_check_config(cfg, err))
        return false;
    PcBoard *b = g_new0(PcBoard, 1);
    b->vm = vm;
    vm_set_board(vm, b);
    vm_add_cleanup(vm, board_free, b);
    for (int i = 0; i < 16; i++)
        irq_init(&b->isa_irq[i], isa_irq_handler, b, i);
    irq_init(&b->cpu_intr, cpu_intr_handler, b, 0);

    if (!load_bios(b, cfg, isa, err))
        return false;

    /* The CPU's pins, handed to the devices that answer or drive them. */
    CpuPins *cpu = vm_cpu_pins(vm);
    if (vm_kernel_irqchip(vm)) {
        /* Its state lives in the host kernel; this device carries it through savevm. */
        kernel_irqchip_new(vm);
    } else {
        /* With a local APIC, it answers the CPU's acknowledge and asks the 8259 for
         * ExtINT; without one, the 8259 answers. */
        bool board_apic = vm_wants_board_apic(vm) && !isa;
        b->pic = i8259_new(vm, &b->cpu_intr, board_apic ? NULL : cpu);
        if (board_apic) {
            /* One local APIC per processor, its ID from -smp's topology (CPUID, the
             * MADT and SeaBIOS's MP table say the same); the 8259 reaches the BSP's LINT0. */
            b->apic = apic_new(vm, 0, cpu, pic_ack, b);
            for (unsigned i = 1; i < vm_cpu_count(vm); i++)
                apic_new_for_cpu(vm, i, (uint8_t)vm_cpu_apic_id(vm, i), vm_cpu_pins_n(vm, i), pic_ack, b);
            b->ioapic = ioapic_new(vm, IOAPIC_DEFAULT_BASE, b->apic);
        }
        /* QEMU's pc has an HPET unless -no-hpet; it sits between the PIT's and the
         * RTC's outputs and IRQ 0 and 8, which legacy replacement takes over. */
        if (!isa && !cfg->no_hpet) {
            for (int i = 0; i < HPET_GSI_COUNT; i++)
                irq_init(&b->gsi[i], gsi_handler, b, i);
            b->hpet = hpet_new(vm, HPET_BASE, b->gsi, err);
            if (!b->hpet)
                return false;
        }
        IrqLine pit_out = b->hpet ? hpet_input(b->hpet, HPET_IN_PIT) : b->isa_irq[0];
        b->pit = i8254_new(vm, 0x40, &pit_out);
        if (!pcspk_new(vm, b->pit, err))
            return false;
    }
    IrqLine rtc_out = b->hpet ? hpet_input(b->hpet, HPET_IN_RTC) : b->isa_irq[8];
    b->rtc = mc146818_new(vm, 0x70, &rtc_out, vm_config(vm)->rtc_utc);
    for (int i = 0; i < VM_MAX_SERIAL; i++)
        if (cfg->serial[i])
            serial_new(vm, serial_ports[i], &b->isa_irq[serial_irqs[i]], vm_serial_chardev(vm, i));
    /* Two A20 controls, OR-ed into A20M# as on the PIIX3. */
    IrqLine a20_kbc = vm_cpu_a20_line(vm, 0), a20_port92 = vm_cpu_a20_line(vm, 1);
    b->kbc = i8042_new(vm, &b->isa_irq[1], &b->isa_irq[12], &a20_kbc);
    vm_set_input_handler(vm, &pc_input_ops, b);
    port92_new(vm, &a20_port92);
    b->dma = i8237_new(vm);
    isa_bus_new(vm, b->isa_irq, b->dma);
    if (!floppy_init(b, cfg, err))
        return false;
    port80_new(vm);
    fpu_err_new(vm, &b->isa_irq[13], cpu);
    if (vm_debugcon_chardev(vm)) {
        debugcon_new(vm, 0x402, vm_debugcon_chardev(vm));
        debugcon_new(vm, 0xe9, vm_debugcon_chardev(vm));
    }
    if (isa) {
        b->isa_ide = isa_ide_new(vm, b->isa_irq, cfg, err);
        if (!b->isa_ide)
            return false;
        if ((!cfg->vga || strcmp(cfg->vga, "none")) && !vga_isa_new(vm, err))
            return false;
        b->fw = fw_cfg_new(vm, 0x510);
        if ((!cfg->vga || strcmp(cfg->vga, "none")) && !add_isa_vga_rom(b, err))
            return false;
        if (cfg->debug_exit && !debugexit_new(vm, cfg->debug_exit_port, err))
            return false;
        if (!device_create_configured(vm, err))
            return false;
        return pc_finish(b, cfg, err);
    }
    b->pci = pci_bus_new(vm);
    vm_add_bus(vm, "pci.0", b->pci);
    /* Messages go to the board's local APICs; a kernel irqchip (KVM) would need them
     * passed to the kernel, which is not done yet: no MSI there. */
    if (b->apic)
        pci_bus_set_msi(b->pci, pc_msi, b);
    i440fx_new(vm, b->pci);
    piix3_new(vm, b->pci, b->isa_irq);
    b->ide = piix_ide_new(vm, b->pci, PCI_DEVFN(1, 1), b->isa_irq, cfg, err);
    if (!b->ide)
        return false;
    piix4_pm_new(vm, b->pci, PCI_DEVFN(1, 3), &b->isa_irq[PIIX4_PM_SCI_IRQ]);
    /* The PIIX3's USB controller at 01.2 (usb-bus.0), unless -machine usb=off. */
    if (!cfg->no_usb) {
        Device *uhci = device_new(vm, "piix3-usb-uhci", "usb", err);
        if (!uhci || !device_set_prop(uhci, "addr", "1.2", err) || !device_realize(uhci, err))
            return false;
    }
    /* The display adapter in slot 2, where QEMU's pc board puts it; as with QEMU, a
     * -device cirrus-vga replaces it. */
    if (!cfg->vga || strcmp(cfg->vga, "none")) {
        if (!g_strcmp0(cfg->vga, "cirrus")) {
            if (!cirrus_vga_new(vm, "2", err))
                return false;
        } else if (!g_strcmp0(cfg->vga, "virtio")) {
            if (!virtio_vga_new(vm, "2", err))
                return false;
        } else if (!config_has_display_device(cfg)) {
            g_autofree char *rom = g_build_filename(SEABIOS_DIR, "vgabios-stdvga.bin", NULL);
            if (!vga_pci_new(vm, b->pci, PCI_DEVFN(2, 0), rom, err))
                return false;
        }
    }

    b->fw = fw_cfg_new(vm, 0x510);
    /* isa-debug-exit and -device: after the board's own devices, so they take the ports
     * and slots left free (a port taken is an error naming its owner). */
    if (cfg->debug_exit && !debugexit_new(vm, cfg->debug_exit_port, err))
        return false;
    if (!drive_create_virtio_devices(vm, virtio_disk_created, b, err) || !device_create_configured(vm, err))
        return false;
    /* An IDE disk chosen by boot-disk= (vm.conf gives IDE disks their index). */
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *dc = cfg->drives->pdata[i];
        if (dc->boot_first && dc->iface == DRIVE_IF_IDE && dc->index >= 0) {
            g_free(b->boot_disk_path);
            b->boot_disk_path = ide_boot_path(dc->index);
        }
    }

    /* -boot n needs a card whose ROM the firmware can boot (hw/net/nic-boot.h). */
    const char *orders[] = { cfg->boot_order, cfg->boot_once };
    for (size_t i = 0; !cfg->kernel && i < G_N_ELEMENTS(orders); i++) {
        bool nic = false;
        for (int devfn = 0; devfn < 256 && !nic; devfn++)
            nic = is_boot_nic(pci_bus_find(b->pci, devfn));
        if (orders[i] && strchr(orders[i], 'n') && !nic) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "-boot %s: network boot needs a PCI network card with a boot ROM "
                        "(-device e1000,netdev=ID or -nic user,model=e1000)", orders[i]);
            return false;
        }
    }
    return pc_finish(b, cfg, err);
}

/* Both boards: firmware configuration, CMOS, and a -kernel to load. */
static bool pc_finish(PcBoard *b, const VmConfig *cfg, GError **err)
{
    Vm *vm = b->vm;
    fw_cfg_init_pc(b, cfg);
    cmos_init(b, cfg);
    cmos_init_disks(b);

    if (cfg->kernel) {
        KernelLoadInfo info = { mem_ram_below_4g(vm_mem(vm)),
                                mem_ram_size(vm_mem(vm)) - mem_ram_below_4g(vm_mem(vm)) };
        if (!kernel_load(b->fw, cfg->kernel, cfg->initrd, cfg->append, &info, err))
            return false;
        static const char order[] = "/rom@" VIREOBOOT_ROM_NAME "\n";
        fw_cfg_add_file(b->fw, "bootorder", g_bytes_new_static(order, sizeof(order) - 1));
    } else if (cfg->initrd || cfg->append) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-initrd and -append need -kernel");
        return false;
    }
    return true;
}

static bool pc_init(Vm *vm, const VmConfig *cfg, GError **err)
{
    return pc_board_init(vm, cfg, false, err);
}

/* QEMU's isapc: the same PC without PCI (no i440FX, PIIX3, ACPI or USB), with the ISA
 * IDE interface and the ISA VGA; one CPU, no APIC. */
static bool isapc_init(Vm *vm, const VmConfig *cfg, GError **err)
{
    return pc_board_init(vm, cfg, true, err);
}

static const MachineClass pc_machine = {
    .name = "pc",
    .description = "Standard PC (i440FX + PIIX3, SeaBIOS)",
    .init = pc_init,
};

static const MachineClass isapc_machine = {
    .name = "isapc",
    .description = "ISA-only PC (no PCI: ISA IDE, ISA VGA; SeaBIOS)",
    .init = isapc_init,
};

__attribute__((constructor)) static void pc_register(void)
{
    machine_register(&pc_machine);
    machine_register(&isapc_machine);
}
