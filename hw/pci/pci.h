/* SPDX-License-Identifier: GPL-2.0-or-later */
/* PCI bus 0: configuration space (mechanism #1 at 0xCF8/0xCFC), BARs mapped into the
 * engine's port and memory spaces as the guest programs them, option ROM BARs, and
 * INTx lines routed through the board's PIRQ router. */
#pragma once

#include "engine/machine.h"
#include "engine/vmstate.h"

#define PCI_DEVFN(slot, fn) (((slot) << 3) | (fn))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 7)

/* Configuration space offsets (PCI Local Bus Specification 3.0, 6.1). */
enum {
    PCI_VENDOR_ID = 0x00,
    PCI_DEVICE_ID = 0x02,
    PCI_COMMAND = 0x04,
    PCI_STATUS = 0x06,
    PCI_REVISION_ID = 0x08,
    PCI_CLASS_PROG = 0x09,
    PCI_CLASS_DEVICE = 0x0a,
    PCI_CACHE_LINE_SIZE = 0x0c,
    PCI_LATENCY_TIMER = 0x0d,
    PCI_HEADER_TYPE = 0x0e,
    PCI_BAR0 = 0x10,
    PCI_SUBSYSTEM_VENDOR_ID = 0x2c,
    PCI_SUBSYSTEM_ID = 0x2e,
    PCI_ROM_ADDRESS = 0x30,
    PCI_CAPABILITY_LIST = 0x34,
    PCI_INTERRUPT_LINE = 0x3c,
    PCI_INTERRUPT_PIN = 0x3d,
};

enum {
    PCI_COMMAND_IO = 1u << 0,
    PCI_COMMAND_MEMORY = 1u << 1,
    PCI_COMMAND_MASTER = 1u << 2,
    PCI_COMMAND_INTX_DISABLE = 1u << 10,
    PCI_STATUS_INTERRUPT = 1u << 3,
};

typedef enum {
    PCI_BAR_IO,
    PCI_BAR_MEM32,
    PCI_BAR_MEM32_PREFETCH,
} PciBarType;

#define PCI_NUM_BARS 6
#define PCI_ROM_SLOT 6

typedef struct PciBus PciBus;
typedef struct PciDevice PciDevice;

/* Optional hooks of a device: the config write hook runs after the generic update
 * (BARs, command) with the value written; the read hook may patch the result. */
typedef void (*PciConfigWriteFn)(PciDevice *d, uint32_t addr, uint32_t value, unsigned size);
typedef uint32_t (*PciConfigReadFn)(PciDevice *d, uint32_t addr, uint32_t value, unsigned size);

struct PciDevice {
    PciBus *bus;
    Vm *vm;
    uint8_t devfn;
    const char *name;
    uint8_t config[256];
    uint8_t wmask[256];   /* bits the guest may write */
    uint8_t w1cmask[256]; /* bits a written 1 clears */
    uint8_t cmask[256];   /* read-only bits fixed by the model: a loaded config must match */
    PciConfigWriteFn config_write;
    PciConfigReadFn config_read;
    void *opaque;        /* the device model's state */
    bool embedded;       /* lives in its device's state struct (pci_device_init) */
    int irq_level;       /* the INTx output as the device drives it */
    int irq_asserted;    /* what reaches the PIRQ line (after INTx disable) */
    struct {
        uint64_t size;
        PciBarType type;
        uint64_t addr;        /* where it is mapped now, or PCI_BAR_UNMAPPED */
        PortRegion *io;
        MemRegion *mem;
        uint8_t *rom_data;    /* owned copy for the ROM BAR */
    } bar[PCI_NUM_BARS + 1];
    /* A bootindex= the device was given (QEMU's): the board lists the device in the
     * firmware's boot order by it, lowest first. */
    bool boot_indexed;
    uint32_t boot_index;
};

#define PCI_BAR_UNMAPPED (~UINT64_C(0))

/* The board's INTx router: maps a device's pin to a PIRQ line and drives it. */
typedef int (*PciMapIrqFn)(void *opaque, int devfn, int pin); /* pin 0-3 = INTA-INTD */
typedef void (*PciSetPirqFn)(void *opaque, int pirq, int level);

/* The board creates bus 0 and registers it as "pci.0" (vm_add_bus). It lives until the
 * VM's cleanups run, before devices unrealize: an unrealize must not call the bus. */
PciBus *pci_bus_new(Vm *vm);
/* The VM's bus 0; NULL with err set on a board without PCI. */
PciBus *pci_root_bus(Vm *vm, GError **err);
/* Registers 0xCF8 (address) and 0xCFC-0xCFF (data). */
void pci_bus_register_host_ports(PciBus *bus);
void pci_bus_set_irq_router(PciBus *bus, PciMapIrqFn map, PciSetPirqFn set, void *opaque, int npirq);
PciDevice *pci_bus_find(PciBus *bus, int devfn);

/* Creates a type 0 function at devfn with the given IDs and class (base<<16|sub<<8|prog). */
PciDevice *pci_device_new(PciBus *bus, int devfn, const char *name, uint16_t vendor,
                          uint16_t device, uint32_t class_code, uint8_t revision);
/* The same for a PciDevice embedded in a device object's state struct: the bus does not
 * free it, and no reset handler is registered (the owner's reset calls pci_device_reset). */
void pci_device_init(PciDevice *d, PciBus *bus, int devfn, const char *name, uint16_t vendor,
                     uint16_t device, uint32_t class_code, uint8_t revision);
/* For a device created by name: its "addr" property, QEMU's "SLOT[.FN]" in hex (NULL or
 * "": the first free slot from 3 up, after the board's own), gives a devfn not in use. */
bool pci_bus_pick_devfn(PciBus *bus, const char *addr, int *devfn, GError **err);
/* The "addr" property every PCI device class offers, for its DeviceProp table. */
#define PCI_DEVICE_PROP_ADDR(State, field)                                                     \
    { "addr", DEVICE_PROP_STRING, offsetof(State, field),                                     \
      "slot[.function] on pci.0, in hex (default: the first free slot)", NULL, 0, 0 }
/* Power-on state of the generic header: decoding off, BARs cleared, INTx line 0. */
void pci_device_reset(PciDevice *d);
/* Multi-function device: sets bit 7 of the header type. */
void pci_device_set_multifunction(PciDevice *d);
/* INTx pin 1-4 (INTA-INTD) the device uses; 0 = none. */
void pci_device_set_interrupt_pin(PciDevice *d, int pin);
void pci_device_set_subsystem(PciDevice *d, uint16_t vendor, uint16_t id);

/* BARs. size is a power of two (I/O at least 4 bytes, memory at least 16). */
void pci_register_bar_io(PciDevice *d, int bar, uint32_t size, const PortOps *ops, void *opaque);
void pci_register_bar_mmio(PciDevice *d, int bar, uint32_t size, const MemOps *ops, void *opaque);
/* Memory BAR backed by host memory (video RAM): direct access, optional dirty log. */
MemRegion *pci_register_bar_ram(PciDevice *d, int bar, uint32_t size, uint8_t *host, bool prefetch);
/* Expansion ROM BAR with a copy of the image (size rounded up to a power of two). */
void pci_register_rom(PciDevice *d, const void *data, size_t size);
/* Reads an option ROM image from path and checks it is one (PCI Firmware spec 5.1: the
 * 55 AA signature; at most 1 MiB). Errors name `what` (e.g. "cirrus-vga: VGA BIOS") and
 * end with `hint`, what the user can do about a missing file. */
bool pci_rom_load(const char *path, const char *what, const char *hint, char **data, gsize *len, GError **err);
/* Whether an expansion ROM was registered. */
bool pci_has_rom(const PciDevice *d);

/* Drives the device's INTx line. */
void pci_set_irq(PciDevice *d, int level);

/* Message signalled interrupts (PCI 3.0 §6.8): a device's interrupt is a memory write
 * of data to addr. The board takes the writes that land in the local APICs' window
 * (0xFEE00000-0xFEEFFFFF, SDM vol. 3 §10.11) as interrupt messages; without a sink
 * (no board APIC) devices must not offer MSI or MSI-X. */
typedef void (*PciMsiFn)(void *opaque, uint64_t addr, uint32_t data);
void pci_bus_set_msi(PciBus *bus, PciMsiFn fn, void *opaque);
/* Whether the bus delivers message signalled interrupts. */
bool pci_msi_supported(const PciDevice *d);
/* Sends one message if the device may master the bus: to the board's sink for the APIC
 * window, as a DMA write to guest RAM elsewhere (a bad address is a guest error). */
void pci_msi_send(PciDevice *d, uint64_t addr, uint32_t data);
/* Whether the guest enabled bus mastering (DMA) for the device. */
bool pci_bus_master_enabled(const PciDevice *d);

/* Device state: a PCI function's configuration space is saved by the device model that
 * owns it (the PCI device is its wiring). The check refuses a saved space whose
 * read-only bits (IDs, class, BAR types and sizes) differ from d's; the load copies it
 * in and re-applies what it implies: BAR mappings and the INTx level. */
bool pci_device_config_check(const PciDevice *d, const uint8_t *config, GError **err);
void pci_device_config_load(PciDevice *d, const uint8_t *config);

/* Raw config access (host bridge and tests). Lock held. */
uint32_t pci_config_read(PciBus *bus, int devfn, uint32_t addr, unsigned size);
void pci_config_write(PciBus *bus, int devfn, uint32_t addr, uint32_t value, unsigned size);

/* The config space state a PCI device object embeds in its own description
 * (VMSTATE_STRUCT of a PciDevice member): the 256 bytes and the INTx level. Nested
 * descriptions run no hooks, so the owner's check and post_load call these:
 * pci_device_state_check refuses a config space whose fixed bits (IDs, class, header
 * type, BAR type and size bits) differ from this device's; pci_device_post_load
 * re-derives BAR mappings, the status interrupt bit and the PIRQ line. */
extern const VmStateDesc pci_device_vmsd;
bool pci_device_state_check(const PciDevice *loaded, GError **err);
void pci_device_post_load(PciDevice *d);
/* The host bridge's CONFIG_ADDRESS (0xCF8), which the bridge saves. */
uint32_t pci_bus_get_config_address(PciBus *bus);
void pci_bus_set_config_address(PciBus *bus, uint32_t value);
#define PCI_CONFIG_ADDRESS_MASK 0x80fffffcu

/* Little-endian helpers on a config array. */
static inline void pci_set_byte(uint8_t *c, uint32_t a, uint8_t v) { c[a] = v; }
static inline void pci_set_word(uint8_t *c, uint32_t a, uint16_t v) { c[a] = v; c[a + 1] = v >> 8; }
static inline void pci_set_long(uint8_t *c, uint32_t a, uint32_t v)
{
    pci_set_word(c, a, v & 0xffff);
    pci_set_word(c, a + 2, v >> 16);
}
static inline uint16_t pci_get_word(const uint8_t *c, uint32_t a) { return c[a] | c[a + 1] << 8; }
static inline uint32_t pci_get_long(const uint8_t *c, uint32_t a)
{
    return pci_get_word(c, a) | (uint32_t)pci_get_word(c, a + 2) << 16;
}
