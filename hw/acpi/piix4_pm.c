/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Intel 82371AB PIIX4 function 3 (datasheet 290562, section 7) as ACPI sees it through
 * the FADT: PM1a event block at PMBASE, PM1a control at PMBASE+4, the 24-bit PM timer at
 * PMBASE+8 and GPE0 at PMBASE+0xC. */
#include "hw/acpi/piix4_pm.h"

#define PM_TIMER_HZ 3579545
#define PM_IO_SIZE 64
#define PIIX4_PMBASE 0x40
#define PIIX4_PMREGMISC 0x80
#define PIIX4_DEVACTB 0x58
#define PIIX4_SMBHSTBASE 0x90
#define PIIX4_SMBHSTCFG 0xd2

/* PM1 status/enable bits (ACPI 6.4, 4.8.3.1). */
enum {
    PM1_TMR = 1u << 0,
    PM1_GBL = 1u << 5,
    PM1_PWRBTN = 1u << 8,
    PM1_RTC = 1u << 10,
    PM1_WAK = 1u << 15,
};
enum {
    PM1_CNT_SCI_EN = 1u << 0,
    PM1_CNT_SLP_EN = 1u << 13,
};

struct Piix4PmState {
    Device dev;
    PciBus *bus;      /* wiring, set by piix4_pm_new */
    int devfn;
    const IrqLine *sci;
    PortRegion *io;
    VTimer *overflow;
    PciDevice pci;
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint16_t gpe_sts, gpe_en;
    uint8_t apm_cnt, apm_sts;
    int sci_level;    /* what we drive on the SCI line: derived, not saved */
};

static uint32_t pm_timer_now(Piix4PmState *s)
{
    return (uint32_t)ns_to_ticks(vm_clock_ns(s->dev.vm), PM_TIMER_HZ) & 0xffffff;
}

static void update_sci(Piix4PmState *s)
{
    int level = ((s->pm1_sts & s->pm1_en & (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_RTC)) != 0) ||
                ((s->gpe_sts & s->gpe_en) != 0);
    if (level != s->sci_level) {
        s->sci_level = level;
        irq_set(s->sci, level);
    }
}

/* TMR_STS sets whenever bit 23 of the counter changes (PIIX4 7.2.1). */
static void arm_overflow(Piix4PmState *s)
{
    if (!(s->pm1_en & PM1_TMR)) {
        vtimer_del(s->overflow);
        return;
    }
    int64_t ticks = ns_to_ticks(vm_clock_ns(s->dev.vm), PM_TIMER_HZ);
    int64_t next = (ticks | 0x7fffff) + 1;
    vtimer_mod(s->overflow, ticks_to_ns(next, PM_TIMER_HZ) + 1);
}

static void overflow_fire(void *opaque)
{
    Piix4PmState *s = opaque;
    s->pm1_sts |= PM1_TMR;
    update_sci(s);
    arm_overflow(s);
}

static void sleep_request(Piix4PmState *s, uint16_t cnt)
{
    unsigned typ = (cnt >> 10) & 7;
    if (typ == PIIX4_PM_SLP_TYP_S5) {
        VLOG(LOG_CPU, "ACPI: guest entered S5 (soft off)");
        vm_request_shutdown(s->dev.vm);
    } else {
        /* Our DSDT offers only \_S5; other states are not entered. */
        VLOG(LOG_UNIMP, "ACPI: sleep type %u requested; only S5 is supported", typ);
    }
}

static uint32_t pm_io_read(void *opaque, uint32_t off, unsigned size)
{
    Piix4PmState *s = opaque;
    uint8_t regs[16] = { 0 };
    uint32_t tmr = pm_timer_now(s);
    regs[0] = s->pm1_sts; regs[1] = s->pm1_sts >> 8;
    regs[2] = s->pm1_en; regs[3] = s->pm1_en >> 8;
    regs[4] = s->pm1_cnt; regs[5] = s->pm1_cnt >> 8;
    regs[8] = tmr; regs[9] = tmr >> 8; regs[10] = tmr >> 16;
    regs[12] = s->gpe_sts; regs[13] = s->gpe_sts >> 8;
    regs[14] = s->gpe_en; regs[15] = s->gpe_en >> 8;
    if (off >= sizeof(regs))
        return 0;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && off + i < sizeof(regs); i++)
        v |= (uint32_t)regs[off + i] << (8 * i);
    return v;
}

static void pm_io_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Piix4PmState *s = opaque;
    for (unsigned i = 0; i < size; i++) {
        uint32_t a = off + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        switch (a) {
        case 0: s->pm1_sts &= ~b; break;                      /* write 1 to clear */
        case 1: s->pm1_sts &= ~((uint16_t)b << 8); break;
        case 2: s->pm1_en = (s->pm1_en & 0xff00) | b; break;
        case 3: s->pm1_en = (s->pm1_en & 0x00ff) | (uint16_t)b << 8; break;
        case 4: s->pm1_cnt = (s->pm1_cnt & 0xff00) | b; break;
        case 5: {
            uint16_t cnt = (s->pm1_cnt & 0x00ff) | (uint16_t)b << 8;
            s->pm1_cnt = cnt & ~PM1_CNT_SLP_EN; /* SLP_EN reads as 0 */
            if (cnt & PM1_CNT_SLP_EN)
                sleep_request(s, cnt);
            break;
        }
        case 12: s->gpe_sts &= ~b; break;
        case 13: s->gpe_sts &= ~((uint16_t)b << 8); break;
        case 14: s->gpe_en = (s->gpe_en & 0xff00) | b; break;
        case 15: s->gpe_en = (s->gpe_en & 0x00ff) | (uint16_t)b << 8; break;
        default: break; /* the timer is read-only; the rest is not modelled */
        }
    }
    arm_overflow(s);
    update_sci(s);
}

static const PortOps pm_io_ops = { .read = pm_io_read, .write = pm_io_write, .min_size = 1, .max_size = 4 };

/* APM control: the value ACPI_ENABLE written here by the OS switches to ACPI mode. On real
 * hardware an SMI handler does this; without SMM the device does it directly. */
static uint32_t apm_read(void *opaque, uint32_t off, unsigned size)
{
    Piix4PmState *s = opaque;
    return off == 0 ? s->apm_cnt : s->apm_sts;
}

static void apm_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    Piix4PmState *s = opaque;
    if (off == 1) {
        s->apm_sts = (uint8_t)value;
        return;
    }
    s->apm_cnt = (uint8_t)value;
    if (value == PIIX4_PM_ACPI_ENABLE)
        s->pm1_cnt |= PM1_CNT_SCI_EN;
    else if (value == PIIX4_PM_ACPI_DISABLE)
        s->pm1_cnt &= ~PM1_CNT_SCI_EN;
    update_sci(s);
}

static const PortOps apm_ops = { .read = apm_read, .write = apm_write, .min_size = 1, .max_size = 1 };

static void map_pm_io(Piix4PmState *s)
{
    const uint8_t *c = s->pci.config;
    uint32_t base = pci_get_long(c, PIIX4_PMBASE) & 0xffc0;
    bool on = (c[PIIX4_PMREGMISC] & 1) && base != 0;
    if (on)
        io_region_set_base(s->io, base);
    io_region_set_enabled(s->io, on);
    VLOG(LOG_PCI, "PIIX4 PM: I/O block %s at 0x%04x", on ? "on" : "off", base);
}

static void pm_config_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    if ((addr < PIIX4_PMBASE + 4 && addr + size > PIIX4_PMBASE) ||
        (addr <= PIIX4_PMREGMISC && addr + size > PIIX4_PMREGMISC))
        map_pm_io(d->opaque);
}

static void pm_reset(Device *dev)
{
    Piix4PmState *s = (Piix4PmState *)dev;
    pci_device_reset(&s->pci);
    s->pm1_sts = s->pm1_en = s->pm1_cnt = 0;
    s->gpe_sts = s->gpe_en = 0;
    s->apm_cnt = s->apm_sts = 0;
    pci_set_long(s->pci.config, PIIX4_PMBASE, 1);
    s->pci.config[PIIX4_PMREGMISC] = 0;
    /* No SMM on this board: DEVACTB's APMC_EN bit (25) tells firmware that SMM set-up is
     * already done, so SeaBIOS does not raise an SMI and wait for a handler. */
    pci_set_long(s->pci.config, PIIX4_DEVACTB, 1u << 25);
    map_pm_io(s);
    vtimer_del(s->overflow);
    update_sci(s);
}

void piix4_pm_power_button(Piix4PmState *s)
{
    s->pm1_sts |= PM1_PWRBTN;
    update_sci(s);
}

/* The host's request (vm_powerdown) reaches the device through its class. */
static void pm_power_button(Device *dev)
{
    piix4_pm_power_button((Piix4PmState *)dev);
}

static bool pm_realize(Device *dev, GError **err)
{
    Piix4PmState *s = (Piix4PmState *)dev;
    PciDevice *d = &s->pci;
    Vm *vm = dev->vm;
    g_assert(s->bus && s->sci);
    pci_device_init(d, s->bus, s->devfn, "piix4-pm", 0x8086, 0x7113, 0x068000, 0x03);
    d->opaque = s;
    d->config_write = pm_config_write;
    pci_device_set_subsystem(d, 0x1af4, 0x1100);
    pci_device_set_interrupt_pin(d, 1);
    pci_set_long(d->wmask, PIIX4_PMBASE, 0xffc0);
    pci_set_long(d->cmask, PIIX4_PMBASE, ~0xffc0u); /* I/O space indicator, size bits */
    d->wmask[PIIX4_PMREGMISC] = 0x01;
    pci_set_long(d->wmask, PIIX4_DEVACTB, 0xffffffffu);
    /* The SMBus host controller is not emulated; its base and enable are plain storage. */
    pci_set_long(d->wmask, PIIX4_SMBHSTBASE, 0xfff0);
    d->wmask[PIIX4_SMBHSTCFG] = 0xff;
    s->io = io_add(vm_io(vm), "piix4-pm", 0, PM_IO_SIZE, &pm_io_ops, s);
    io_add(vm_io(vm), "apm", PIIX4_PM_APM_CNT, 2, &apm_ops, s);
    s->overflow = vtimer_new(vm, overflow_fire, s);
    return true;
}

static void pm_unrealize(Device *dev)
{
    Piix4PmState *s = (Piix4PmState *)dev;
    vtimer_free(s->overflow);
}

/* Status bits this model can set: the timer carry and the power button; the others
 * (GBL, RTC, WAK) have no source here, and a loaded one would be a stuck SCI. */
#define PM1_STS_KNOWN (PM1_TMR | PM1_PWRBTN)

static bool pm_check(const void *state, GError **err)
{
    const Piix4PmState *s = state;
    if (s->pm1_sts & ~PM1_STS_KNOWN) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "PM1 status 0x%04x sets bits without a source",
                    s->pm1_sts);
        return false;
    }
    if (s->pm1_cnt & PM1_CNT_SLP_EN) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "PM1 control 0x%04x has SLP_EN, which reads as 0",
                    s->pm1_cnt);
        return false;
    }
    return pci_device_state_check(&s->pci, err);
}

/* The PM timer itself is the virtual clock (restored by whoever loads); the I/O block
 * mapping and the SCI level are re-derived from the loaded registers. */
static void pm_post_load(void *state)
{
    Piix4PmState *s = state;
    pci_device_post_load(&s->pci);
    map_pm_io(s);
    update_sci(s);
}

static const VmStateField pm_fields[] = {
    VMSTATE_STRUCT(Piix4PmState, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U16(Piix4PmState, pm1_sts),
    VMSTATE_U16(Piix4PmState, pm1_en),
    VMSTATE_U16(Piix4PmState, pm1_cnt),
    VMSTATE_U16(Piix4PmState, gpe_sts),
    VMSTATE_U16(Piix4PmState, gpe_en),
    VMSTATE_U8(Piix4PmState, apm_cnt),
    VMSTATE_U8(Piix4PmState, apm_sts),
    VMSTATE_TIMER(Piix4PmState, overflow),
    VMSTATE_END,
};

static const VmStateDesc pm_vmsd = {
    .name = "piix4_pm",
    .version = 1,
    .fields = pm_fields,
    .check = pm_check,
    .post_load = pm_post_load,
};

static const DeviceClass pm_class = {
    .name = "PIIX4_PM",
    .description = "PIIX4 ACPI power management: PM timer, PM1 and GPE0 blocks, SCI, APM port",
    .instance_size = sizeof(Piix4PmState),
    .vmsd = &pm_vmsd,
    .realize = pm_realize,
    .reset = pm_reset,
    .unrealize = pm_unrealize,
    .power_button = pm_power_button,
};

__attribute__((constructor)) static void pm_register(void)
{
    device_class_register(&pm_class);
}

Piix4PmState *piix4_pm_new(Vm *vm, PciBus *bus, int devfn, const IrqLine *sci)
{
    Piix4PmState *s = (Piix4PmState *)device_new(vm, pm_class.name, "piix4_pm", NULL);
    g_assert(s);
    s->bus = bus;
    s->devfn = devfn;
    s->sci = sci;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
