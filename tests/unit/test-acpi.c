/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ACPI tables as firmware installs them: this test runs the table-loader script the
 * way SeaBIOS does (allocate, add pointers, add checksums) and then walks RSDP -> RSDT ->
 * FADT -> FACS/DSDT (and MADT) checking signatures, checksums and the PM fields; iasl
 * must disassemble the patched DSDT, with a processor device per CPU. */
#include "engine/testing.h"
#include "hw/acpi/acpi-build.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define NFILES 4

typedef struct Placed {
    char name[56];
    uint8_t *data;
    size_t len;
    uint32_t addr;
} Placed;

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s += *p++;
    return s;
}

static Placed *find(Placed *files, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(files[i].name, name))
            return &files[i];
    g_assert_not_reached();
}

/* A flat "guest memory" where each allocated file lives at a fake address. */
static int run_loader(FwCfgState *fw, Placed *files)
{
    GBytes *script = fw_cfg_get_file(fw, "etc/table-loader");
    g_assert_nonnull(script);
    gsize slen;
    const uint8_t *s = g_bytes_get_data(script, &slen);
    g_assert_cmpuint(slen % 128, ==, 0);
    int n = 0;
    uint32_t next = 0x100000;
    for (gsize off = 0; off < slen; off += 128) {
        const uint8_t *e = s + off;
        switch (rd32(e)) {
        case 1: { /* allocate */
            g_assert_cmpint(n, <, NFILES);
            Placed *p = &files[n++];
            memcpy(p->name, e + 4, 56);
            GBytes *b = fw_cfg_get_file(fw, p->name);
            g_assert_nonnull(b);
            p->data = g_memdup2(g_bytes_get_data(b, &p->len), g_bytes_get_size(b));
            uint32_t align = rd32(e + 60);
            next = (next + align - 1) & ~(align - 1);
            p->addr = next;
            next += (uint32_t)p->len;
            break;
        }
        case 2: { /* add pointer */
            Placed *d = find(files, n, (const char *)e + 4);
            Placed *src = find(files, n, (const char *)e + 60);
            uint32_t at = rd32(e + 116);
            g_assert_cmpuint(e[120], ==, 4);
            g_assert_cmpuint(at + 4, <=, d->len);
            uint32_t v = rd32(d->data + at) + src->addr;
            memcpy(d->data + at, &v, 4);
            break;
        }
        case 3: { /* add checksum */
            Placed *d = find(files, n, (const char *)e + 4);
            uint32_t at = rd32(e + 60), start = rd32(e + 64), len = rd32(e + 68);
            g_assert_cmpuint(start + len, <=, d->len);
            d->data[at] = 0;
            d->data[at] = (uint8_t)-sum(d->data + start, len);
            break;
        }
        default:
            g_assert_not_reached();
        }
    }
    return n;
}

/* Finds the table at a fake guest address. */
static const uint8_t *at_addr(Placed *files, int n, uint32_t addr)
{
    for (int i = 0; i < n; i++)
        if (addr >= files[i].addr && addr < files[i].addr + files[i].len)
            return files[i].data + (addr - files[i].addr);
    g_assert_not_reached();
}

static void check_tables(bool apic, bool hpet)
{
    Vm *vm = vm_new_for_test(0);
    vm_lock(vm);
    FwCfgState *fw = fw_cfg_new(vm, 0x510);
    /* With the APIC: -smp 6,sockets=2,cores=3, whose APIC IDs leave a gap. */
    static const uint8_t ids[] = { 0, 1, 2, 4, 5, 6 };
    AcpiPcConfig cfg = { .ram_below_4g = 96u << 20, .pm_base = 0x600, .sci_irq = 9,
                         .have_apic = apic, .ncpus = apic ? G_N_ELEMENTS(ids) : 1, .com_mask = 1,
                         .have_hpet = hpet };
    memcpy(cfg.apic_ids, ids, sizeof(ids));
    acpi_build_pc_tables(fw, &cfg);
    vm_unlock(vm);
    Placed files[NFILES] = { 0 };
    int n = run_loader(fw, files);
    Placed *rsdp = find(files, n, "etc/acpi/rsdp");
    g_assert_cmpmem(rsdp->data, 8, "RSD PTR ", 8);
    g_assert_cmpuint(sum(rsdp->data, 20), ==, 0);
    g_assert_cmpuint(rsdp->addr % 16, ==, 0);

    const uint8_t *rsdt = at_addr(files, n, rd32(rsdp->data + 16));
    g_assert_cmpmem(rsdt, 4, "RSDT", 4);
    uint32_t rsdt_len = rd32(rsdt + 4);
    g_assert_cmpuint(sum(rsdt, rsdt_len), ==, 0);
    unsigned entries = (rsdt_len - 36) / 4;
    g_assert_cmpuint(entries, ==, 1 + apic + hpet);

    const uint8_t *fadt = at_addr(files, n, rd32(rsdt + 36));
    g_assert_cmpmem(fadt, 4, "FACP", 4);
    g_assert_cmpuint(sum(fadt, rd32(fadt + 4)), ==, 0);
    g_assert_cmpuint(rd32(fadt + 4), ==, 116);
    g_assert_cmphex(rd32(fadt + 56), ==, 0x600);  /* PM1a_EVT_BLK */
    g_assert_cmphex(rd32(fadt + 64), ==, 0x604);  /* PM1a_CNT_BLK */
    g_assert_cmphex(rd32(fadt + 76), ==, 0x608);  /* PM_TMR_BLK */
    g_assert_cmpuint(fadt[46], ==, 9);            /* SCI_INT */
    g_assert_cmphex(rd32(fadt + 48), ==, 0xb2);   /* SMI_CMD */
    g_assert_cmphex(fadt[52], ==, 0xf1);

    uint32_t facs_addr = rd32(fadt + 36);
    g_assert_cmpuint(facs_addr % 64, ==, 0);
    g_assert_cmpmem(at_addr(files, n, facs_addr), 4, "FACS", 4);

    const uint8_t *dsdt = at_addr(files, n, rd32(fadt + 40));
    g_assert_cmpmem(dsdt, 4, "DSDT", 4);
    uint32_t dlen = rd32(dsdt + 4);
    g_assert_cmpuint(sum(dsdt, dlen), ==, 0);
    g_assert_nonnull(memmem(dsdt, dlen, "_S5_", 4));
    const uint8_t *phls = memmem(dsdt, dlen, "PHLS\x0c", 5);
    g_assert_nonnull(phls);
    g_assert_cmphex(rd32(phls + 5), ==, 96u << 20);

    if (apic) {
        const uint8_t *madt = at_addr(files, n, rd32(rsdt + 40));
        g_assert_cmpmem(madt, 4, "APIC", 4);
        g_assert_cmpuint(sum(madt, rd32(madt + 4)), ==, 0);
        g_assert_cmphex(rd32(madt + 36), ==, 0xfee00000);
        /* Walk the entries: a local APIC per processor (UID = its index, its APIC ID,
         * enabled), one I/O APIC at 0xFEC00000. */
        int lapics = 0, ioapics = 0;
        for (uint32_t off = 44; off < rd32(madt + 4); off += madt[off + 1]) {
            g_assert_cmpuint(madt[off + 1], >=, 2);
            if (madt[off] == 0) {
                g_assert_cmpuint(lapics, <, G_N_ELEMENTS(ids));
                g_assert_cmpuint(madt[off + 1], ==, 8);
                g_assert_cmpuint(madt[off + 2], ==, lapics);
                g_assert_cmpuint(madt[off + 3], ==, ids[lapics]);
                g_assert_cmphex(rd32(madt + off + 4), ==, 1);
                lapics++;
            }
            if (madt[off] == 1) {
                ioapics++;
                g_assert_cmphex(rd32(madt + off + 4), ==, 0xfec00000);
                g_assert_cmpuint(madt[off + 2], ==, 0); /* the ID register's reset value */
            }
        }
        g_assert_cmpint(lapics, ==, G_N_ELEMENTS(ids));
        g_assert_cmpint(ioapics, ==, 1);
    }

    /* The HPET table (IA-PC HPET 1.0a §3.2.4): the block ID of the capabilities
     * register, the registers in system memory at 0xFED00000, HPET number 0; the DSDT's
     * HPET device is present (_STA) only with it. */
    if (hpet) {
        const uint8_t *ht = at_addr(files, n, rd32(rsdt + 36 + 4 * (entries - 1)));
        g_assert_cmpmem(ht, 4, "HPET", 4);
        g_assert_cmpuint(rd32(ht + 4), ==, 56);
        g_assert_cmpuint(sum(ht, 56), ==, 0);
        g_assert_cmphex(rd32(ht + 36), ==, 0x8086a201);
        g_assert_cmpuint(ht[40], ==, 0);            /* address space: memory */
        g_assert_cmphex(rd32(ht + 44), ==, 0xfed00000);
        g_assert_cmphex(rd32(ht + 48), ==, 0);
        g_assert_cmpuint(ht[52], ==, 0);
    }
    const uint8_t *hpte = memmem(dsdt, dlen, "HPTE\x0c", 5);
    g_assert_nonnull(hpte);
    g_assert_cmphex(rd32(hpte + 5), ==, hpet);

    /* The patched DSDT must be valid AML: iasl disassembles it without errors. */
    g_autofree char *iasl = g_find_program_in_path("iasl");
    if (iasl) {
        g_autofree char *dir = g_dir_make_tmp("vireo-acpi-XXXXXX", NULL);
        g_autofree char *aml = g_build_filename(dir, "dsdt.aml", NULL);
        g_autofree char *dsl = g_build_filename(dir, "dsdt.dsl", NULL);
        g_assert_true(g_file_set_contents(aml, (const char *)dsdt, dlen, NULL));
        const char *argv[] = { iasl, "-d", aml, NULL };
        int status;
        g_assert_true(g_spawn_sync(dir, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, NULL));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(dsl, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, "Name (PHLS, 0x06000000)"));
        g_assert_nonnull(strstr(text, "Name (_S5, Package"));
        g_assert_nonnull(strstr(text, "Name (_HID, EisaId (\"PNP0103\")"));
        const char *hn = strstr(text, "Name (HPTE, ");
        g_assert_nonnull(hn);
        hn += strlen("Name (HPTE, ");
        g_assert_cmpuint(g_str_has_prefix(hn, "One") ? 1 : g_str_has_prefix(hn, "Zero") ? 0
                                                            : g_ascii_strtoull(hn, NULL, 0), ==, hpet);
        /* A processor device per CPU, its _UID the MADT's processor UID (index). */
        unsigned cpus = apic ? G_N_ELEMENTS(ids) : 1;
        for (unsigned i = 0; i <= cpus; i++) {
            g_autofree char *dev = g_strdup_printf("Device (CP%02X)", i);
            const char *d = strstr(text, dev);
            if (i == cpus) {
                g_assert_null(d);
                break;
            }
            g_assert_nonnull(d);
            g_autofree char *uid = i == 0 ? g_strdup("Name (_UID, Zero)") : i == 1 ? g_strdup("Name (_UID, One)")
                                          : g_strdup_printf("Name (_UID, 0x%02X)", i);
            const char *hid = strstr(d, "Name (_HID, \"ACPI0007\"");
            const char *u = strstr(d, uid);
            const char *next = strstr(d + 1, "Device (");
            g_assert_nonnull(hid);
            g_assert_nonnull(u);
            g_assert_true(!next || (hid < next && u < next));
        }
        g_remove(aml);
        g_remove(dsl);
        g_rmdir(dir);
    } else {
        g_test_message("iasl not found: the DSDT was not disassembled");
    }
    for (int i = 0; i < n; i++)
        g_free(files[i].data);
    vm_free(vm);
}

static void test_pic_tables(void) { check_tables(false, false); }
static void test_apic_tables(void) { check_tables(true, false); }
static void test_hpet_tables(void) { check_tables(true, true); }

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/acpi/tables-pic", test_pic_tables);
    g_test_add_func("/acpi/tables-apic", test_apic_tables);
    g_test_add_func("/acpi/tables-apic-hpet", test_hpet_tables);
    return g_test_run();
}
