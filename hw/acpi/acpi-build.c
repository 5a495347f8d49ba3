/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Builds RSDP, RSDT, FADT (revision 1), FACS, DSDT, with an APIC the MADT (ACPI 6.4
 * chapter 5) and with an HPET its table (IA-PC HPET specification 1.0a, §3.2.4). The firmware places them through fw_cfg's linker/loader: ALLOCATE reserves
 * each file in guest memory, ADD_POINTER turns file offsets into addresses, and
 * ADD_CHECKSUM fixes checksums once addresses are known. */
#include "hw/acpi/acpi-build.h"
#include "hw/acpi/piix4_pm.h"
#include "hw/timer/hpet.h"

#include <string.h>

extern const unsigned char dsdt_pc_aml[];
extern const size_t dsdt_pc_aml_len;

#define ACPI_OEM_ID "VIREO "
#define ACPI_OEM_TABLE_ID "VIREOPC "
#define LOADER_FILESZ 56
#define LOADER_ENTRY_SIZE 128
#define TABLES_FILE "etc/acpi/tables"
#define RSDP_FILE "etc/acpi/rsdp"

enum {
    LOADER_ALLOCATE = 1,
    LOADER_ADD_POINTER = 2,
    LOADER_ADD_CHECKSUM = 3,
};
enum { ZONE_HIGH = 1, ZONE_FSEG = 2 };

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

/* ---- loader script ---- */

static void loader_name(uint8_t *dst, const char *name)
{
    g_assert(strlen(name) < LOADER_FILESZ);
    memcpy(dst, name, strlen(name));
}

static uint8_t *loader_entry(GByteArray *l, uint32_t command)
{
    g_byte_array_set_size(l, l->len + LOADER_ENTRY_SIZE);
    uint8_t *e = l->data + l->len - LOADER_ENTRY_SIZE;
    memset(e, 0, LOADER_ENTRY_SIZE);
    put32(e, command);
    return e;
}

static void loader_allocate(GByteArray *l, const char *file, uint32_t align, uint8_t zone)
{
    uint8_t *e = loader_entry(l, LOADER_ALLOCATE);
    loader_name(e + 4, file);
    put32(e + 4 + LOADER_FILESZ, align);
    e[4 + LOADER_FILESZ + 4] = zone;
}

static void loader_add_pointer(GByteArray *l, const char *dest, const char *src, uint32_t offset, uint8_t size)
{
    uint8_t *e = loader_entry(l, LOADER_ADD_POINTER);
    loader_name(e + 4, dest);
    loader_name(e + 4 + LOADER_FILESZ, src);
    put32(e + 4 + 2 * LOADER_FILESZ, offset);
    e[4 + 2 * LOADER_FILESZ + 4] = size;
}

static void loader_add_checksum(GByteArray *l, const char *file, uint32_t cksum_off, uint32_t start, uint32_t len)
{
    uint8_t *e = loader_entry(l, LOADER_ADD_CHECKSUM);
    loader_name(e + 4, file);
    put32(e + 4 + LOADER_FILESZ, cksum_off);
    put32(e + 4 + LOADER_FILESZ + 4, start);
    put32(e + 4 + LOADER_FILESZ + 8, len);
}

/* ---- tables ---- */

/* Appends a table with a standard header (ACPI 6.4, 5.2.6); returns its offset. */
static uint32_t table_begin(GByteArray *t, const char *sig, uint8_t rev)
{
    uint32_t off = t->len;
    g_byte_array_set_size(t, t->len + 36);
    uint8_t *h = t->data + off;
    memset(h, 0, 36);
    memcpy(h, sig, 4);
    h[8] = rev;
    memcpy(h + 10, ACPI_OEM_ID, 6);
    memcpy(h + 16, ACPI_OEM_TABLE_ID, 8);
    put32(h + 24, 1);
    memcpy(h + 28, "VIRO", 4);
    put32(h + 32, 1);
    return off;
}

/* Sets the length; the checksum is computed by the loader once pointers are patched. */
static void table_end(GByteArray *t, GByteArray *l, uint32_t off)
{
    uint32_t len = t->len - off;
    put32(t->data + off + 4, len);
    t->data[off + 9] = 0;
    loader_add_checksum(l, TABLES_FILE, off + 9, off, len);
}

static void append(GByteArray *t, const void *data, size_t len)
{
    g_byte_array_append(t, data, (guint)len);
}

static void append_zero(GByteArray *t, size_t len)
{
    g_byte_array_set_size(t, t->len + (guint)len);
    memset(t->data + t->len - len, 0, len);
}

static void align_to(GByteArray *t, size_t align)
{
    while (t->len % align)
        append_zero(t, 1);
}

/* Replaces the DWord after "NAME" 0x0C (DWordPrefix) in the AML. */
static void aml_patch_dword(uint8_t *aml, size_t len, const char *name, uint32_t value)
{
    for (size_t i = 0; i + 9 <= len; i++) {
        if (!memcmp(aml + i, name, 4) && aml[i + 4] == 0x0c) {
            put32(aml + i + 5, value);
            return;
        }
    }
    g_error("DSDT has no patchable name %s", name);
}

/* ---- AML (ACPI 6.4, chapter 20) for the processor objects ---- */

/* A PkgLength (20.2.4) for a package whose contents are len bytes: the encoded length
 * counts its own bytes too; 1 byte up to 63, else a lead byte with the low nibble and
 * the count of following bytes in bits 6-7. */
static void aml_pkg_length(GByteArray *t, size_t len)
{
    size_t total = len + 1;
    if (total <= 0x3f) {
        uint8_t b = (uint8_t)total;
        append(t, &b, 1);
        return;
    }
    unsigned extra = 1;
    while (len + 1 + extra >= ((size_t)1 << (4 + 8 * extra)))
        extra++;
    g_assert(extra <= 3);
    total = len + 1 + extra;
    uint8_t b[4] = { (uint8_t)(extra << 6 | (total & 0x0f)) };
    for (unsigned i = 0; i < extra; i++)
        b[1 + i] = (uint8_t)(total >> (4 + 8 * i));
    append(t, b, 1 + extra);
}

/* Name (NAME, integer) with the shortest integer encoding (20.2.3). */
static void aml_name_int(GByteArray *t, const char *name, uint32_t v)
{
    uint8_t op = 0x08;            /* NameOp */
    append(t, &op, 1);
    append(t, name, 4);
    if (v <= 1) {
        uint8_t b = (uint8_t)v;   /* ZeroOp, OneOp */
        append(t, &b, 1);
    } else if (v <= 0xff) {
        uint8_t b[2] = { 0x0a, (uint8_t)v };   /* BytePrefix */
        append(t, b, 2);
    } else {
        uint8_t b[5] = { 0x0c };  /* DWordPrefix */
        put32(b + 1, v);
        append(t, b, 5);
    }
}

/* Scope (\_SB) { Device (CPnn) { Name (_HID, "ACPI0007") Name (_UID, n) } ... }: a
 * processor device per CPU (ACPI 6.4, 8.4 and 19.6.30). Its _UID is the ACPI Processor
 * UID of the CPU's MADT entry, which is how the OS pairs the two (5.2.12.2); without
 * them Linux binds its processor driver to CPU 0 only. */
static void append_processors(GByteArray *t, unsigned ncpus)
{
    g_autoptr(GByteArray) devs = g_byte_array_new();
    for (unsigned i = 0; i < ncpus; i++) {
        g_autoptr(GByteArray) body = g_byte_array_new();
        char name[5];
        g_snprintf(name, sizeof(name), "CP%02X", i);
        append(body, name, 4);
        static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '0', '7', 0 };
        append(body, hid, sizeof(hid));
        aml_name_int(body, "_UID", i);
        static const uint8_t device_op[] = { 0x5b, 0x82 };
        append(devs, device_op, 2);
        aml_pkg_length(devs, body->len);
        append(devs, body->data, body->len);
    }
    static const uint8_t scope_name[] = { '\\', '_', 'S', 'B', '_' };
    uint8_t scope_op = 0x10;
    append(t, &scope_op, 1);
    aml_pkg_length(t, sizeof(scope_name) + devs->len);
    append(t, scope_name, sizeof(scope_name));
    append(t, devs->data, devs->len);
}

static uint32_t build_dsdt(GByteArray *t, GByteArray *l, const AcpiPcConfig *cfg)
{
    uint32_t off = t->len;
    append(t, dsdt_pc_aml, dsdt_pc_aml_len);
    append_processors(t, MIN(MAX(cfg->ncpus, 1u), (unsigned)VM_CPUS_MAX));
    uint32_t len = t->len - off;
    uint8_t *aml = t->data + off;
    aml_patch_dword(aml, dsdt_pc_aml_len, "PHLS", (uint32_t)cfg->ram_below_4g);
    aml_patch_dword(aml, dsdt_pc_aml_len, "CMPR", cfg->com_mask);
    aml_patch_dword(aml, dsdt_pc_aml_len, "HPTE", cfg->have_hpet);
    put32(aml + 4, len);
    aml[9] = 0;
    loader_add_checksum(l, TABLES_FILE, off + 9, off, len);
    return off;
}

static uint32_t build_fadt(GByteArray *t, GByteArray *l, const AcpiPcConfig *cfg, uint32_t facs, uint32_t dsdt)
{
    uint32_t off = table_begin(t, "FACP", 1);
    uint8_t f[116 - 36];
    memset(f, 0, sizeof(f));
#define F(o) (f + (o) - 36)
    put32(F(36), facs);                   /* FIRMWARE_CTRL, patched to an address */
    put32(F(40), dsdt);                   /* DSDT */
    *F(44) = cfg->have_apic ? 1 : 0;      /* INT_MODEL (ACPI 1.0) */
    put16(F(46), (uint16_t)cfg->sci_irq);
    put32(F(48), PIIX4_PM_APM_CNT);       /* SMI_CMD */
    *F(52) = PIIX4_PM_ACPI_ENABLE;
    *F(53) = PIIX4_PM_ACPI_DISABLE;
    put32(F(56), cfg->pm_base);           /* PM1a_EVT_BLK */
    put32(F(64), cfg->pm_base + 4);       /* PM1a_CNT_BLK */
    put32(F(76), cfg->pm_base + 8);       /* PM_TMR_BLK */
    put32(F(80), cfg->pm_base + PIIX4_PM_GPE0_OFFSET); /* GPE0_BLK */
    *F(88) = 4;                           /* PM1_EVT_LEN */
    *F(89) = 2;                           /* PM1_CNT_LEN */
    *F(91) = 4;                           /* PM_TMR_LEN */
    *F(92) = PIIX4_PM_GPE0_LEN;
    put16(F(96), 0x0fff);                 /* P_LVL2_LAT > 100: no C2 */
    put16(F(98), 0x0fff);                 /* P_LVL3_LAT > 1000: no C3 */
    *F(108) = 0x32;                       /* CENTURY: CMOS index */
    /* WBINVD works, C1 is supported, no fixed sleep button, RTC wake not fixed. */
    put32(F(112), (1u << 0) | (1u << 2) | (1u << 5) | (1u << 6));
#undef F
    append(t, f, sizeof(f));
    loader_add_pointer(l, TABLES_FILE, TABLES_FILE, off + 36, 4);
    loader_add_pointer(l, TABLES_FILE, TABLES_FILE, off + 40, 4);
    table_end(t, l, off);
    return off;
}

static uint32_t build_madt(GByteArray *t, GByteArray *l, const AcpiPcConfig *cfg)
{
    uint32_t off = table_begin(t, "APIC", 1);
    uint8_t hdr[8];
    put32(hdr, 0xfee00000);   /* local APIC address */
    put32(hdr + 4, 1);        /* PCAT_COMPAT: the 8259s are present too */
    append(t, hdr, sizeof(hdr));
    for (unsigned i = 0; i < cfg->ncpus && i < VM_CPUS_MAX; i++) {
        uint8_t lapic[8] = { 0, 8, (uint8_t)i, cfg->apic_ids[i], 1, 0, 0, 0 };
        append(t, lapic, sizeof(lapic));
    }
    /* I/O APIC ID 0: what its ID register resets to (82093AA, and KVM's), and what
     * SeaBIOS's MP table says. */
    uint8_t ioapic[12] = { 1, 12, 0, 0 };
    put32(ioapic + 4, 0xfec00000);
    put32(ioapic + 8, 0);
    append(t, ioapic, sizeof(ioapic));
    /* The PIT's IRQ 0 arrives on I/O APIC pin 2. */
    uint8_t iso0[10] = { 2, 10, 0, 0 };
    put32(iso0 + 4, 2);
    put16(iso0 + 8, 0);
    append(t, iso0, sizeof(iso0));
    /* SCI and the PCI link IRQs are level-triggered, active high on this board. */
    static const uint8_t level_irqs[] = { 5, 9, 10, 11 };
    for (size_t i = 0; i < G_N_ELEMENTS(level_irqs); i++) {
        uint8_t iso[10] = { 2, 10, 0, level_irqs[i] };
        put32(iso + 4, level_irqs[i]);
        put16(iso + 8, 0x000d);
        append(t, iso, sizeof(iso));
    }
    /* LINT1 of every processor is the NMI input. */
    uint8_t nmi[6] = { 4, 6, 0xff, 0, 0, 1 };
    append(t, nmi, sizeof(nmi));
    table_end(t, l, off);
    return off;
}

/* The HPET description table (IA-PC HPET 1.0a, §3.2.4): the block ID, the registers'
 * address as a Generic Address Structure, HPET number 0, no minimum periodic tick, no
 * page protection. */
static uint32_t build_hpet(GByteArray *t, GByteArray *l)
{
    uint32_t off = table_begin(t, "HPET", 1);
    uint8_t h[20] = { 0 };
    put32(h, HPET_BLOCK_ID);
    h[4] = 0;                 /* GAS: system memory */
    h[5] = 64;                /* register width */
    put32(h + 8, HPET_BASE);  /* address, low half (the high half is 0) */
    append(t, h, sizeof(h));
    table_end(t, l, off);
    return off;
}

void acpi_build_pc_tables(FwCfgState *fw, const AcpiPcConfig *cfg)
{
    GByteArray *t = g_byte_array_new();
    GByteArray *l = g_byte_array_new();
    loader_allocate(l, RSDP_FILE, 16, ZONE_FSEG);
    loader_allocate(l, TABLES_FILE, 64, ZONE_HIGH);

    /* FACS (ACPI 6.4, 5.2.10) first: it needs 64-byte alignment. */
    uint32_t facs = t->len;
    uint8_t facs_data[64] = { 'F', 'A', 'C', 'S', 64 };
    append(t, facs_data, sizeof(facs_data));

    uint32_t dsdt = build_dsdt(t, l, cfg);
    align_to(t, 4);
    uint32_t fadt = build_fadt(t, l, cfg, facs, dsdt);
    uint32_t madt = 0;
    if (cfg->have_apic) {
        align_to(t, 4);
        madt = build_madt(t, l, cfg);
    }
    uint32_t entries[3] = { fadt };
    unsigned n = 1;
    if (cfg->have_apic)
        entries[n++] = madt;
    if (cfg->have_hpet) {
        align_to(t, 4);
        entries[n++] = build_hpet(t, l);
    }
    align_to(t, 4);
    uint32_t rsdt = table_begin(t, "RSDT", 1);
    for (unsigned i = 0; i < n; i++) {
        uint8_t e[4];
        put32(e, entries[i]);
        append(t, e, 4);
        loader_add_pointer(l, TABLES_FILE, TABLES_FILE, rsdt + 36 + 4 * i, 4);
    }
    table_end(t, l, rsdt);

    /* RSDP (ACPI 6.4, 5.2.5.3), revision 0: 20 bytes. */
    uint8_t *rsdp = g_malloc0(20);
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, ACPI_OEM_ID, 6);
    rsdp[15] = 0;
    put32(rsdp + 16, rsdt);
    loader_add_pointer(l, RSDP_FILE, TABLES_FILE, 16, 4);
    loader_add_checksum(l, RSDP_FILE, 8, 0, 20);

    fw_cfg_add_file(fw, TABLES_FILE, g_byte_array_free_to_bytes(t));
    fw_cfg_add_file(fw, RSDP_FILE, g_bytes_new_take(rsdp, 20));
    fw_cfg_add_file(fw, "etc/table-loader", g_byte_array_free_to_bytes(l));
}
