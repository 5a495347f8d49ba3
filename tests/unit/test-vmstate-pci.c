/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State of the PCI host bridge, PIIX3, PIIX4 PM, local APIC, I/O APIC and fw_cfg: a
 * board of all six is saved in the middle of activity (PAM shadowing RAM, a PIRQ routed
 * and asserted, the PM timer carry armed with SCI raised, the APIC timer running with
 * vectors in IRR and ISR, a level input in Remote IRR, a fw_cfg file half read),
 * restored into a fresh VM at the same virtual time, and both are then driven with the
 * same inputs: every read, acknowledge and line level must match. Bad streams
 * (truncated, bit-flipped, out-of-range values with a valid checksum) are refused with
 * the device unchanged, and values that pass are ones the devices can run from. */
#include "engine/device.h"
#include "hw/acpi/piix4_pm.h"
#include "hw/firmware/fw_cfg.h"
#include "hw/intc/apic.h"
#include "hw/intc/ioapic.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/piix3.h"
#include "unit.h"

#include <string.h>
#include <zlib.h>

#define LAPIC APIC_DEFAULT_BASE
#define IOAPIC IOAPIC_DEFAULT_BASE
#define PMBASE 0x600
#define FILE_LEN 100

typedef struct Rig {
    Vm *vm;
    TestLine line[16];
    IrqLine isa[16];
    PciBus *bus;
    PciDevice *nic;  /* a plain (unconverted) function in slot 3 that raises INTA */
    ApicState *apic;
    IoapicState *ioapic;
    FwCfgState *fw;
    uint16_t file_key;
} Rig;

static int fake_pic_ack(void *opaque)
{
    (void)opaque;
    return 0x27;
}

static void rig_init(Rig *r, int64_t t, size_t file_len)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(UINT64_C(32) << 20);
    if (t)
        vm_test_clock_step(r->vm, t);
    for (int i = 0; i < 16; i++)
        r->isa[i] = test_line(&r->line[i]);
    vm_lock(r->vm);
    r->bus = pci_bus_new(r->vm);
    i440fx_new(r->vm, r->bus);
    piix3_new(r->vm, r->bus, r->isa);
    piix4_pm_new(r->vm, r->bus, PCI_DEVFN(1, 3), &r->isa[PIIX4_PM_SCI_IRQ]);
    r->nic = pci_device_new(r->bus, PCI_DEVFN(3, 0), "nic", 0x1234, 0x5678, 0x020000, 0);
    pci_device_set_interrupt_pin(r->nic, 1);
    r->apic = apic_new(r->vm, 0, vm_cpu_pins(r->vm), fake_pic_ack, r);
    r->ioapic = ioapic_new(r->vm, IOAPIC, r->apic);
    r->fw = fw_cfg_new(r->vm, 0x510);
    uint8_t *data = g_malloc(file_len);
    for (size_t i = 0; i < file_len; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    r->file_key = fw_cfg_add_file(r->fw, "etc/test", g_bytes_new_take(data, file_len));
    vm_unlock(r->vm);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

/* ---- scripts ---- */

typedef enum {
    OP_OUTB, OP_OUTW, OP_OUTL, OP_INB, OP_INW, OP_INL,
    OP_CFGW, OP_CFGR,     /* a = devfn, b = reg, c = value, size 1 unless d */
    OP_MW, OP_MR,         /* 32-bit MMIO */
    OP_RAMW, OP_RAMR,     /* a byte of guest memory as the CPU sees it (PAM) */
    OP_STEP, OP_PIN, OP_INTX, OP_ACK, OP_FWSEL, OP_FWREAD, OP_FWDMA, OP_END,
} OpKind;

typedef struct Op {
    OpKind k;
    uint32_t a, b, c, d;
} Op;

static void run_script(Rig *r, const Op *ops, GString *log)
{
    Vm *vm = r->vm;
    IoSpace *io = vm_io(vm);
    GuestMemory *m = vm_mem(vm);
    for (const Op *o = ops; o->k != OP_END; o++) {
        if (o->k == OP_STEP) {
            vm_test_clock_step(vm, o->a);
            g_string_append_printf(log, "step ");
        }
        vm_lock(vm);
        switch (o->k) {
        case OP_OUTB: io_write(io, (uint16_t)o->a, o->b, 1); break;
        case OP_OUTW: io_write(io, (uint16_t)o->a, o->b, 2); break;
        case OP_OUTL: io_write(io, (uint16_t)o->a, o->b, 4); break;
        case OP_INB: g_string_append_printf(log, "in %x=%x ", o->a, io_read(io, (uint16_t)o->a, 1)); break;
        case OP_INW: g_string_append_printf(log, "in %x=%x ", o->a, io_read(io, (uint16_t)o->a, 2)); break;
        case OP_INL: g_string_append_printf(log, "in %x=%x ", o->a, io_read(io, (uint16_t)o->a, 4)); break;
        case OP_CFGW: pci_config_write(r->bus, (int)o->a, o->b, o->c, o->d ? o->d : 1); break;
        case OP_CFGR:
            g_string_append_printf(log, "cfg %x.%x=%x ", o->a, o->b,
                                   pci_config_read(r->bus, (int)o->a, o->b, o->d ? o->d : 1));
            break;
        case OP_MW: mem_dispatch_write(m, o->a, o->b, 4); break;
        case OP_MR: g_string_append_printf(log, "m %x=%x ", o->a, (uint32_t)mem_dispatch_read(m, o->a, 4)); break;
        case OP_RAMW: mem_stb(m, o->a, (uint8_t)o->b); break;
        case OP_RAMR: g_string_append_printf(log, "ram %x=%x ", o->a, mem_ldub(m, o->a)); break;
        case OP_PIN: ioapic_set_irq(r->ioapic, (int)o->a, (int)o->b); break;
        case OP_INTX: pci_set_irq(r->nic, (int)o->a); break;
        case OP_ACK: g_string_append_printf(log, "ack=%02x ", apic_intr_ack(r->apic)); break;
        case OP_FWSEL: io_write(io, 0x510, r->file_key, 2); break;
        case OP_FWREAD: /* a bytes through the one-byte data port */
            g_string_append(log, "fw ");
            for (uint32_t i = 0; i < o->a; i++)
                g_string_append_printf(log, "%02x", io_read(io, 0x511, 1));
            g_string_append_c(log, ' ');
            break;
        case OP_FWDMA: {
            /* Read a bytes of the selected item into 0x2000 through a descriptor at 0x1000. */
            uint32_t d[4] = { GUINT32_TO_BE(1u << 1), GUINT32_TO_BE(o->a), 0, GUINT32_TO_BE(0x2000) };
            mem_write(m, 0x1000, d, sizeof(d));
            io_write(io, 0x514, 0, 4);
            io_write(io, 0x518, GUINT32_TO_BE(0x1000), 4);
            uint8_t got[16] = { 0 };
            mem_read(m, 0x2000, got, MIN(o->a, sizeof(got)));
            g_string_append_printf(log, "dma %08x:", mem_ldl(m, 0x1000));
            for (uint32_t i = 0; i < MIN(o->a, sizeof(got)); i++)
                g_string_append_printf(log, "%02x", got[i]);
            g_string_append_c(log, ' ');
            break;
        }
        default: break;
        }
        vm_unlock(vm);
        unsigned lines = 0;
        for (int i = 0; i < 16; i++)
            lines |= (unsigned)(r->line[i].level != 0) << i;
        g_string_append_printf(log, "[isa %04x intr %d]\n", lines, vm_test_cpu_intr(vm));
    }
}

#define D_HOST PCI_DEVFN(0, 0)
#define D_ISA PCI_DEVFN(1, 0)
#define D_PM PCI_DEVFN(1, 3)

static const Op setup[] = {
    /* i440FX: 0xC0000-0xC7FFF shadow RAM read/write, the F segment reads RAM, SMRAM
     * D_OPEN; a byte stored in the shadow. */
    { OP_CFGW, D_HOST, 0x5a, 0x33 }, { OP_CFGW, D_HOST, 0x59, 0x10 }, { OP_CFGW, D_HOST, 0x72, 0x4a },
    { OP_RAMW, 0xc0010, 0xaa },
    /* PIIX3: PIRQC (slot 3 INTA, swizzled) to IRQ 11, asserted; SRST set in 0xCF9. */
    { OP_CFGW, D_ISA, 0x62, 0x0b }, { OP_INTX, 1 }, { OP_OUTB, 0xcf9, 0x02 },
    /* PIIX4 PM at 0x600, ACPI mode, TMR_EN and PWRBTN_EN; the carry after 2.3 s raises SCI. */
    { OP_CFGW, D_PM, 0x40, PMBASE | 1, 4 }, { OP_CFGW, D_PM, 0x80, 1 }, { OP_OUTB, 0xb2, 0xf1 },
    { OP_OUTW, PMBASE + 2, 0x0101 }, { OP_STEP, 3000000000u }, { OP_INW, PMBASE },
    /* Local APIC on, periodic timer every 1 ms (divide by 1, 100000 ticks) on vector 0x40;
     * I/O APIC pin 10 level triggered on vector 0x51, asserted and acknowledged (Remote
     * IRR and ISR 0x51); a self IPI 0x60 pending; two timer periods elapse. */
    { OP_MW, LAPIC + 0xf0, 0x1ff }, { OP_MW, LAPIC + 0x3e0, 0xb }, { OP_MW, LAPIC + 0x320, 0x20040 },
    { OP_MW, LAPIC + 0x380, 100000 },
    { OP_MW, IOAPIC, 0x24 }, { OP_MW, IOAPIC + 0x10, 0x8051 }, { OP_MW, IOAPIC, 0x25 },
    { OP_MW, IOAPIC + 0x10, 0 }, { OP_PIN, 10, 1 }, { OP_ACK },
    { OP_MW, LAPIC + 0x300, 0x40060 }, { OP_STEP, 2500000 }, { OP_MW, LAPIC + 0x80, 0x10 },
    /* fw_cfg: 37 bytes of etc/test read; CONFIG_ADDRESS left at PIIX3's PIRQ routes. */
    { OP_FWSEL }, { OP_FWREAD, 37 }, { OP_OUTL, 0xcf8, 0x80000860u }, { OP_STEP, 12345 }, { OP_END },
};

static const Op script[] = {
    /* Bridge and ISA bridge registers, the shadow window, then PAM switched back. */
    { OP_INL, 0xcfc }, { OP_INB, 0xcf9 }, { OP_CFGR, D_HOST, 0x5a }, { OP_CFGR, D_HOST, 0x72 },
    { OP_RAMW, 0xc0020, 0x55 }, { OP_RAMR, 0xc0020 }, { OP_CFGW, D_HOST, 0x5a, 0x00 },
    { OP_RAMR, 0xc0020 }, { OP_RAMW, 0xc0020, 0x66 }, { OP_CFGW, D_HOST, 0x5a, 0x11 },
    { OP_RAMR, 0xc0020 },
    { OP_INTX, 0 }, { OP_INTX, 1 }, { OP_CFGW, D_ISA, 0x62, 0x0a }, { OP_CFGW, D_ISA, 0x62, 0x80 },
    { OP_CFGW, D_ISA, 0x62, 0x05 }, { OP_INTX, 0 },
    /* PM: status, timer, clear TMR_STS (SCI drops), the next carry raises it again. */
    { OP_INW, PMBASE }, { OP_INW, PMBASE + 2 }, { OP_INW, PMBASE + 4 }, { OP_INL, PMBASE + 8 },
    { OP_OUTW, PMBASE, 1 }, { OP_INW, PMBASE }, { OP_STEP, 1000000000 }, { OP_INL, PMBASE + 8 },
    { OP_STEP, 1500000000 }, { OP_INW, PMBASE }, { OP_INB, 0xb2 },
    /* APIC: registers, then acknowledge and EOI through the pending and in-service
     * vectors; the EOI of 0x51 sends the still asserted pin 10 again. */
    { OP_MR, LAPIC + 0x80 }, { OP_MR, LAPIC + 0xa0 }, { OP_MR, LAPIC + 0x90 },
    { OP_MR, LAPIC + 0x220 }, { OP_MR, LAPIC + 0x230 }, { OP_MR, LAPIC + 0x120 },
    { OP_MR, LAPIC + 0x1a0 }, { OP_MR, LAPIC + 0x390 }, { OP_MR, LAPIC + 0x320 },
    { OP_MW, IOAPIC, 0x24 }, { OP_MR, IOAPIC + 0x10 }, { OP_MR, IOAPIC },
    { OP_MW, LAPIC + 0x80, 0 }, { OP_ACK }, { OP_MW, LAPIC + 0xb0, 0 }, { OP_MW, LAPIC + 0xb0, 0 },
    { OP_MR, IOAPIC + 0x10 }, { OP_ACK }, { OP_PIN, 10, 0 }, { OP_MW, LAPIC + 0xb0, 0 },
    { OP_MR, IOAPIC + 0x10 }, { OP_ACK }, { OP_MW, LAPIC + 0xb0, 0 }, { OP_ACK },
    { OP_STEP, 1500000 }, { OP_MR, LAPIC + 0x390 }, { OP_ACK }, { OP_MW, LAPIC + 0xb0, 0 },
    { OP_PIN, 10, 1 }, { OP_ACK }, { OP_MW, LAPIC + 0x320, 0x40 }, { OP_STEP, 900000 },
    { OP_MR, LAPIC + 0x390 },
    /* fw_cfg: the rest of the file through the data port and DMA, then a reselect. */
    { OP_FWREAD, 5 }, { OP_FWDMA, 8 }, { OP_FWREAD, 3 }, { OP_FWDMA, 64 }, { OP_FWREAD, 2 },
    { OP_FWSEL }, { OP_FWREAD, 2 }, { OP_OUTW, 0x510, 0 }, { OP_FWREAD, 4 }, { OP_END },
};

/* ---- stream helpers ---- */

static GByteArray *save_list(Rig *r)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(r->vm);
    device_list_save(r->vm, b);
    vm_unlock(r->vm);
    return b;
}

static GByteArray *save_dev(Rig *r, const char *id)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(r->vm);
    device_save_state(device_find(r->vm, id), b);
    vm_unlock(r->vm);
    return b;
}

static bool load_dev(Rig *r, const char *id, const uint8_t *buf, size_t len, GError **err)
{
    vm_lock(r->vm);
    bool ok = device_load_state(device_find(r->vm, id), buf, len, err);
    vm_unlock(r->vm);
    return ok;
}

static void fix_crc(uint8_t *sec, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, sec, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        sec[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* Where the fields start: after length, class name, instance id and version. */
static size_t fields_at(const GByteArray *s)
{
    size_t cl = s->data[4] | s->data[5] << 8;
    size_t il = s->data[6 + cl] | s->data[7 + cl] << 8;
    return 8 + cl + il + 4;
}

static void expect_rejected(Rig *b, const char *id, const uint8_t *buf, size_t len, const char *want)
{
    g_autoptr(GByteArray) before = save_dev(b, id);
    GError *err = NULL;
    g_assert_false(load_dev(b, id, buf, len, &err));
    g_assert_nonnull(err);
    g_assert_null(strchr(err->message, '\n'));
    if (want && !strstr(err->message, want))
        g_error("%s: error '%s' lacks '%s'", id, err->message, want);
    g_error_free(err);
    g_autoptr(GByteArray) after = save_dev(b, id);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

/* ---- round trip ---- */

static void test_round_trip(void)
{
    Rig a, b;
    rig_init(&a, 1000000, FILE_LEN);
    g_autoptr(GString) setup_log = g_string_new(NULL);
    run_script(&a, setup, setup_log);
    /* What the save must catch: SCI and IRQ 11 high, TMR_STS set, vector 0x51 taken. */
    g_assert_nonnull(strstr(setup_log->str, "in 600=1 [isa 0a00"));
    g_assert_nonnull(strstr(setup_log->str, "ack=51"));
    g_autoptr(GByteArray) s = save_list(&a);

    rig_init(&b, vm_clock_ns(a.vm), FILE_LEN);
    /* The board drives the unconverted function's INTx as it did in a. */
    vm_lock(b.vm);
    pci_set_irq(b.nic, 1);
    GError *err = NULL;
    g_assert_true(device_list_load(b.vm, s->data, s->len, &err));
    vm_unlock(b.vm);
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = save_list(&b);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    for (int i = 0; i < 16; i++)
        g_assert_cmpint(a.line[i].level, ==, b.line[i].level);
    g_assert_cmpint(vm_test_cpu_intr(a.vm), ==, vm_test_cpu_intr(b.vm));

    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    run_script(&a, script, la);
    run_script(&b, script, lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    static const char *const must_see[] = {
        "in cfc=800b8080",      /* CONFIG_ADDRESS restored: PIIX3's routes through 0xCFC */
        "in cf9=2 ",           /* SRST */
        "ram c0020=55",        /* the shadow RAM window re-applied */
        "in 600=1 [isa 0200",  /* TMR_STS with SCI (IRQ 9) */
        "in 600=0 [isa 0000",  /* cleared: SCI drops */
        "ack=60",              /* the self IPI */
        "m fec00010=c051",     /* Remote IRR set again after the EOI re-sent pin 10 */
        "ack=40",              /* the APIC timer kept running */
        "fw 060d141b22 ",  /* bytes 37-41 of etc/test: the restored offset */
        "dma 00000000:29",     /* DMA goes on from there */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(must_see); i++)
        if (!strstr(la->str, must_see[i]))
            g_error("script output lacks '%s':\n%s", must_see[i], la->str);
    rig_free(&a);
    rig_free(&b);
}

/* ---- bad streams, per device ---- */

static const char *const ids[] = { "i440fx", "piix3", "piix4_pm", "apic", "ioapic", "fw_cfg" };

static void test_bad_streams(gconstpointer data)
{
    const char *id = data;
    Rig a, b;
    rig_init(&a, 1000000, FILE_LEN);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setup, ignored);
    g_autoptr(GByteArray) s = save_dev(&a, id);
    rig_init(&b, vm_clock_ns(a.vm), FILE_LEN);
    g_autofree uint8_t *buf = g_malloc(s->len + 1);

    for (size_t n = 0; n < s->len; n++)
        expect_rejected(&b, id, s->data, n, NULL);
    memcpy(buf, s->data, s->len);
    buf[s->len] = 0;
    expect_rejected(&b, id, buf, s->len + 1, "trailing");
    for (size_t i = 0; i < s->len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, s->data, s->len);
            buf[i] ^= (uint8_t)(1u << bit);
            expect_rejected(&b, id, buf, s->len, NULL);
        }
    }
    size_t at = fields_at(s);
    memcpy(buf, s->data, s->len);
    buf[at - 4] = 2;
    fix_crc(buf, s->len);
    expect_rejected(&b, id, buf, s->len, "version 2 is not supported");

    /* Every field byte replaced by values a hostile writer could choose: refused with
     * the device unchanged, or accepted into a state the devices run from. */
    static const uint8_t values[] = { 0x00, 0x01, 0x07, 0x10, 0x80, 0xff };
    unsigned accepted = 0, refused = 0;
    for (size_t i = at; i < s->len - 4; i++) {
        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            if (s->data[i] == values[v])
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] = values[v];
            fix_crc(buf, s->len);
            g_autoptr(GByteArray) before = save_dev(&b, id);
            GError *err = NULL;
            if (load_dev(&b, id, buf, s->len, &err)) {
                accepted++;
                g_autoptr(GString) log = g_string_new(NULL);
                run_script(&b, script, log);
                if (!load_dev(&b, id, s->data, s->len, &err))
                    g_error("%s: reloading the saved state after byte %zu = 0x%02x: %s", id, i,
                            values[v], err->message);
            } else {
                refused++;
                g_assert_null(strchr(err->message, '\n'));
                g_error_free(err);
                g_autoptr(GByteArray) after = save_dev(&b, id);
                g_assert_cmpmem(before->data, before->len, after->data, after->len);
            }
        }
    }
    g_test_message("%s: %u altered streams refused, %u accepted and run", id, refused, accepted);
    g_assert_cmpuint(refused, >, 0);
    rig_free(&a);
    rig_free(&b);
}

/* Patches len little-endian bytes of value at field offset off (from the first field),
 * fixes the checksum and expects the load refused with want in the message. */
static void expect_patch_rejected(Rig *r, const GByteArray *s, const char *id, size_t off,
                                  uint64_t value, unsigned len, const char *want)
{
    g_autofree uint8_t *buf = g_memdup2(s->data, s->len);
    for (unsigned i = 0; i < len; i++)
        buf[fields_at(s) + off + i] = (uint8_t)(value >> (8 * i));
    fix_crc(buf, s->len);
    expect_rejected(r, id, buf, s->len, want);
}

/* Out-of-range indices and impossible values, with valid checksums. Offsets follow the
 * descriptions: arrays carry a u32 count before their elements. */
static void test_out_of_range(void)
{
    Rig a;
    rig_init(&a, 1000000, FILE_LEN);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setup, ignored);
    enum { CFG = 4, IRQ = 4 + 256, AFTER_PCI = 4 + 256 + 4 };

    g_autoptr(GByteArray) h = save_dev(&a, "i440fx");
    expect_patch_rejected(&a, h, "i440fx", CFG + 0, 0x11, 1, "config byte 0x00");
    expect_patch_rejected(&a, h, "i440fx", CFG + 0x72, 0x4b, 1, "config byte 0x72");
    expect_patch_rejected(&a, h, "i440fx", CFG + 0x10, 0xfe, 1, "config byte 0x10");
    expect_patch_rejected(&a, h, "i440fx", IRQ, 2, 4, "'irq_level' is 2");
    expect_patch_rejected(&a, h, "i440fx", AFTER_PCI, 0x81000000u, 4, "CONFIG_ADDRESS");

    g_autoptr(GByteArray) p3 = save_dev(&a, "piix3");
    expect_patch_rejected(&a, p3, "piix3", CFG + 0x62, 0x7b, 1, "config byte 0x62");
    expect_patch_rejected(&a, p3, "piix3", AFTER_PCI, 0x06, 1, "reset control");

    g_autoptr(GByteArray) pm = save_dev(&a, "piix4_pm");
    expect_patch_rejected(&a, pm, "piix4_pm", CFG + 0x40, 0x00, 1, "config byte 0x40");
    expect_patch_rejected(&a, pm, "piix4_pm", AFTER_PCI, 0x8000, 2, "PM1 status");
    expect_patch_rejected(&a, pm, "piix4_pm", AFTER_PCI + 4, 0x2001, 2, "SLP_EN");
    expect_patch_rejected(&a, pm, "piix4_pm", AFTER_PCI + 14, (uint64_t)-5, 8, "timer");

    /* base(8) id tpr ldr dfr svr, isr/tmr/irr (4 + 32 each), esr esr_pending icr_lo
     * icr_hi, lvt (4 + 24), lint_level (4 + 2), extint_msg, timer(8), timer_initial,
     * timer_shift, timer_start_ns(8), timer_fired. */
    g_autoptr(GByteArray) ap = save_dev(&a, "apic");
    size_t isr = 8 + 1 + 1 + 12 + 4, irr = isr + 72, lvt = irr + 32 + 16 + 4; /* first elements */
    size_t shift = lvt + 24 + 6 + 1 + 8 + 4;
    expect_patch_rejected(&a, ap, "apic", 0, UINT64_C(0x1000000fee00900), 8, "IA32_APIC_BASE");
    expect_patch_rejected(&a, ap, "apic", isr, 0x8, 4, "below 16");
    expect_patch_rejected(&a, ap, "apic", irr, 0x1, 4, "below 16");
    expect_patch_rejected(&a, ap, "apic", 8 + 1 + 1 + 8, 0x100, 4, "SVR");
    expect_patch_rejected(&a, ap, "apic", lvt, 0x24040, 4, "LVT entry 0");
    expect_patch_rejected(&a, ap, "apic", lvt + 16, 0x4700, 4, "LVT entry 4");
    expect_patch_rejected(&a, ap, "apic", shift, 8, 4, "'timer_shift' is 8");
    expect_patch_rejected(&a, ap, "apic", shift + 4, UINT64_C(1) << 62, 8, "timer loaded");
    expect_patch_rejected(&a, ap, "apic", shift + 4, (uint64_t)INT64_MIN, 8, "timer loaded");

    /* regsel id pin_level edge_seen rte (4 + 24 * 8). */
    g_autoptr(GByteArray) io = save_dev(&a, "ioapic");
    expect_patch_rejected(&a, io, "ioapic", 1, 16, 1, "'id' is 16");
    expect_patch_rejected(&a, io, "ioapic", 2, 0x1000400, 4, "pins past 23");
    expect_patch_rejected(&a, io, "ioapic", 6, 0x80000000u, 4, "pins past 23");
    expect_patch_rejected(&a, io, "ioapic", 10 + 4 + 8 * 10, 0x9051, 4, "redirection entry 10");
    expect_patch_rejected(&a, io, "ioapic", 10 + 4 + 8 * 3, 0x14000, 4, "redirection entry 3");
    expect_patch_rejected(&a, io, "ioapic", 6, 0x10, 4, "pin 4: the edge detector");

    /* cur(2) offset(4) dma_addr(8). */
    g_autoptr(GByteArray) fw = save_dev(&a, "fw_cfg");
    expect_patch_rejected(&a, fw, "fw_cfg", 2, FILE_LEN + 1, 4, "has 100 bytes");
    expect_patch_rejected(&a, fw, "fw_cfg", 0, 0x1234, 2, "has 0 bytes");
    expect_patch_rejected(&a, fw, "fw_cfg", 0, FW_CFG_ID, 2, "has 4 bytes");
    rig_free(&a);
}

/* The fw_cfg items are this VM's: a half-read file that is shorter here is refused,
 * one at least as long is accepted. */
static void test_fw_cfg_other_vm(void)
{
    Rig a, shorter, longer;
    rig_init(&a, 1000000, FILE_LEN);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setup, ignored);
    g_autoptr(GByteArray) s = save_dev(&a, "fw_cfg");
    rig_init(&shorter, vm_clock_ns(a.vm), 20);
    expect_rejected(&shorter, "fw_cfg", s->data, s->len, "read up to 37");
    rig_init(&longer, vm_clock_ns(a.vm), 4096);
    GError *err = NULL;
    g_assert_true(load_dev(&longer, "fw_cfg", s->data, s->len, &err));
    g_assert_no_error(err);
    g_assert_cmpint(inb(longer.vm, 0x511), ==, (uint8_t)(37 * 7 + 3));
    rig_free(&a);
    rig_free(&shorter);
    rig_free(&longer);
}

static void test_registry(void)
{
    static const char *const classes[] = { "i440FX-pcihost", "PIIX3", "PIIX4_PM", "apic", "ioapic", "fw_cfg_io" };
    Rig r;
    rig_init(&r, 0, FILE_LEN);
    for (size_t i = 0; i < G_N_ELEMENTS(classes); i++) {
        const DeviceClass *dc = device_class_find(classes[i]);
        g_assert_nonnull(dc);
        g_assert_false(dc->user_creatable);
        Device *d = device_find(r.vm, ids[i]);
        g_assert_nonnull(d);
        g_assert_true(d->klass == dc);
    }
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate-pci/registry", test_registry);
    g_test_add_func("/vmstate-pci/round-trip", test_round_trip);
    g_test_add_func("/vmstate-pci/out-of-range", test_out_of_range);
    g_test_add_func("/vmstate-pci/fw_cfg-other-vm", test_fw_cfg_other_vm);
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_autofree char *path = g_strdup_printf("/vmstate-pci/bad/%s", ids[i]);
        g_test_add_data_func(path, ids[i], test_bad_streams);
    }
    return g_test_run();
}
