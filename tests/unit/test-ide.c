/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ATA register file and command state machine as a driver sees them: absent
 * devices, HOB, nIEN, SRST and signatures, data port without DRQ, aborts, a register
 * flood, and the ATAPI sense/unit attention/tray logic. */
#include "disks/block.h"
#include "hw/storage/ide.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>

#define CMD 0x1f0
#define CTL 0x3f6
#define DISK_SECTORS 2048

typedef struct Fixture {
    Vm *vm;
    IdeChannel *ch;
    TestLine irq;
    char *dir;
} Fixture;

static uint16_t inw(Vm *vm, uint16_t port)
{
    vm_lock(vm);
    uint16_t v = (uint16_t)io_read(vm_io(vm), port, 2);
    vm_unlock(vm);
    return v;
}

static void outw(Vm *vm, uint16_t port, uint16_t v)
{
    vm_lock(vm);
    io_write(vm_io(vm), port, v, 2);
    vm_unlock(vm);
}

static BlockImage *make_image(Fixture *f, const char *name, size_t size, bool ro)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    g_autofree uint8_t *data = g_malloc0(size);
    for (size_t i = 0; i < size; i += 512)
        memcpy(data + i, &i, sizeof(i)); /* each sector starts with its byte offset */
    g_assert_true(g_file_set_contents(path, (char *)data, (gssize)size, NULL));
    BlockOpenOptions o = { .read_only = ro, .format = "raw" };
    GError *err = NULL;
    BlockImage *img = block_open(path, &o, &err);
    g_assert_no_error(err);
    return img;
}

/* data: "disk", "disk-ro", "cd", "none" for unit 0; unit 1 stays empty. */
static void fixture_setup(Fixture *f, gconstpointer data)
{
    const char *kind = data;
    f->vm = vm_new_for_test(0);
    f->dir = g_dir_make_tmp("vireo-ide-XXXXXX", NULL);
    IrqLine l = test_line(&f->irq);
    vm_lock(f->vm);
    f->ch = ide_channel_new(f->vm, CMD, CTL, &l);
    vm_unlock(f->vm);
    GError *err = NULL;
    if (!strcmp(kind, "disk") || !strcmp(kind, "disk-ro"))
        g_assert_true(ide_channel_attach(f->ch, 0, make_image(f, "d.img", DISK_SECTORS * 512,
                                                              !strcmp(kind, "disk-ro")), false, &err));
    else if (!strcmp(kind, "cd"))
        g_assert_true(ide_channel_attach(f->ch, 0, make_image(f, "cd.iso", 100 * 2048, true), true, &err));
    g_assert_no_error(err);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
    }
    g_dir_close(d);
    g_rmdir(f->dir);
    g_free(f->dir);
}

static void set_lba28(Fixture *f, uint32_t lba, uint8_t count)
{
    outb(f->vm, CMD + 2, count);
    outb(f->vm, CMD + 3, lba & 0xff);
    outb(f->vm, CMD + 4, (lba >> 8) & 0xff);
    outb(f->vm, CMD + 5, (lba >> 16) & 0xff);
    outb(f->vm, CMD + 6, 0xe0 | ((lba >> 24) & 0x0f));
}

static void test_empty_channel(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Nothing drives the bus: status and alternate status read 0, commands vanish. */
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0);
    g_assert_cmpuint(inb(f->vm, CTL), ==, 0);
    outb(f->vm, CMD + 7, 0xec);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0);
    g_assert_cmpint(f->irq.rises, ==, 0);
}

static void test_absent_slave(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, CMD + 6, 0xb0);
    /* ATA-6 §9.16.1: status 00h for the missing device; device 0 still latches the
     * command block, so a written sector count reads back (how BIOSes probe). */
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0);
    outb(f->vm, CMD + 2, 0x55);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x55);
    outb(f->vm, CMD + 7, 0xec);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0);
    outb(f->vm, CMD + 6, 0xa0);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x50);
}

static void test_srst_signature(Fixture *f, gconstpointer data)
{
    bool cd = !strcmp(data, "cd");
    outb(f->vm, CMD + 4, 0x12);
    outb(f->vm, CTL, 0x04 | 0x02);
    g_assert_cmpuint(inb(f->vm, CTL), ==, 0x80); /* BSY while SRST is held */
    outb(f->vm, CTL, 0x02);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 1);
    g_assert_cmpuint(inb(f->vm, CMD + 3), ==, 1);
    g_assert_cmpuint(inb(f->vm, CMD + 4), ==, cd ? 0x14 : 0);
    g_assert_cmpuint(inb(f->vm, CMD + 5), ==, cd ? 0xeb : 0);
    g_assert_cmpuint(inb(f->vm, CMD + 1), ==, 0x01);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, cd ? 0x00 : 0x50);
}

static void test_hob(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, CMD + 2, 0x12);
    outb(f->vm, CMD + 2, 0x34);
    outb(f->vm, CTL, 0x80 | 0x02);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x12);
    outb(f->vm, CTL, 0x02);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x34);
    /* A command block write clears HOB (ATA-6 §7.8). */
    outb(f->vm, CTL, 0x80 | 0x02);
    outb(f->vm, CMD + 3, 0x99);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x34);
}

static void test_nien_and_ack(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, CTL, 0x02);
    outb(f->vm, CMD + 6, 0xa0);
    outb(f->vm, CMD + 7, 0xec);
    g_assert_cmpint(f->irq.level, ==, 0);     /* nIEN holds INTRQ off */
    g_assert_cmpuint(inb(f->vm, CTL), ==, 0x58);
    outb(f->vm, CTL, 0x00);
    g_assert_cmpint(f->irq.level, ==, 1);     /* still pending: it shows when enabled */
    inb(f->vm, CTL);                          /* alternate status does not acknowledge */
    g_assert_cmpint(f->irq.level, ==, 1);
    inb(f->vm, CMD + 7);
    g_assert_cmpint(f->irq.level, ==, 0);
    /* IDENTIFY: 256 words, word 60-61 the LBA28 size, then DRQ drops. */
    uint16_t id[256];
    for (int i = 0; i < 256; i++)
        id[i] = inw(f->vm, CMD);
    g_assert_cmpuint(id[0], ==, 0x0040);
    g_assert_cmpuint(id[60] | (uint32_t)id[61] << 16, ==, DISK_SECTORS);
    g_assert_cmpuint(id[100], ==, DISK_SECTORS);
    g_assert_cmpuint(id[255] & 0xff, ==, 0xa5);
    uint8_t sum = 0;
    for (int i = 0; i < 256; i++)
        sum += (uint8_t)(id[i] + (id[i] >> 8));
    g_assert_cmpuint(sum, ==, 0);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x50);
    /* No DRQ: the data port reads all ones and ignores writes. */
    g_assert_cmpuint(inw(f->vm, CMD), ==, 0xffff);
    outw(f->vm, CMD, 0x1234);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x50);
}

static void test_read_write(Fixture *f, gconstpointer data)
{
    bool ro = !strcmp(data, "disk-ro");
    outb(f->vm, CTL, 0x02);
    set_lba28(f, 7, 2);
    outb(f->vm, CMD + 7, 0x20);
    for (int s = 0; s < 2; s++) {
        g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x58);
        uint32_t first = inw(f->vm, CMD) | (uint32_t)inw(f->vm, CMD) << 16;
        g_assert_cmpuint(first, ==, (7 + s) * 512);
        for (int i = 2; i < 256; i++)
            inw(f->vm, CMD);
    }
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x50);
    /* Registers name the last sector read. */
    g_assert_cmpuint(inb(f->vm, CMD + 3), ==, 8);

    set_lba28(f, 9, 1);
    outb(f->vm, CMD + 7, 0x30);
    if (ro) {
        g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x41);
        g_assert_cmpuint(inb(f->vm, CMD + 1), ==, 0x04);
        return;
    }
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x58);
    for (int i = 0; i < 256; i++)
        outw(f->vm, CMD, (uint16_t)(0xab00 + i));
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x50);
    set_lba28(f, 9, 1);
    outb(f->vm, CMD + 7, 0x20);
    for (int i = 0; i < 256; i++)
        g_assert_cmpuint(inw(f->vm, CMD), ==, (uint16_t)(0xab00 + i));
}

static void expect_abort(Fixture *f)
{
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x41);
    g_assert_cmpuint(inb(f->vm, CMD + 1), ==, 0x04);
}

static void test_aborts(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, CTL, 0x02);
    outb(f->vm, CMD + 6, 0xe0);
    outb(f->vm, CMD + 7, 0xc4);     /* READ MULTIPLE before SET MULTIPLE */
    expect_abort(f);
    outb(f->vm, CMD + 2, 3);
    outb(f->vm, CMD + 7, 0xc6);     /* SET MULTIPLE 3: not a power of two */
    expect_abort(f);
    set_lba28(f, 0, 1);
    outb(f->vm, CMD + 7, 0xc8);     /* READ DMA on a channel without a bus master */
    expect_abort(f);
    outb(f->vm, CMD + 7, 0xa0);     /* PACKET on a disk */
    expect_abort(f);
    outb(f->vm, CMD + 7, 0x00);     /* NOP always aborts */
    expect_abort(f);
    set_lba28(f, DISK_SECTORS - 1, 2); /* one sector past the end */
    outb(f->vm, CMD + 7, 0x20);
    g_assert_cmpuint(inb(f->vm, CMD + 7), ==, 0x41);
    g_assert_cmpuint(inb(f->vm, CMD + 1), ==, 0x14); /* IDNF | ABRT */
    /* CHS sector 0 does not exist. */
    outb(f->vm, CMD + 3, 0);
    outb(f->vm, CMD + 6, 0xa0);
    outb(f->vm, CMD + 7, 0x20);
    g_assert_cmpuint(inb(f->vm, CMD + 1), ==, 0x14);
}

/* Random writes to every register, then a reset: the device must still answer. */
static void test_flood(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autoptr(GRand) r = g_rand_new_with_seed(7);
    for (int i = 0; i < 200000; i++) {
        unsigned port = g_rand_int_range(r, 0, 9);
        uint32_t v = g_rand_int(r);
        unsigned size = 1u << g_rand_int_range(r, 0, 3);
        vm_lock(f->vm);
        if (port == 8)
            io_write(vm_io(f->vm), CTL, v & 0xff, 1);
        else if (g_rand_boolean(r))
            io_write(vm_io(f->vm), CMD + port, v, port == 0 ? size : 1);
        else
            io_read(vm_io(f->vm), CMD + port, port == 0 ? size : 1);
        vm_unlock(f->vm);
    }
    outb(f->vm, CTL, 0x06);
    outb(f->vm, CTL, 0x02);
    outb(f->vm, CMD + 6, 0xa0);
    outb(f->vm, CMD + 7, 0xec);
    g_assert_cmpuint(inb(f->vm, CMD + 7) & 0x89, ==, 0x08);
    g_assert_cmpuint(inw(f->vm, CMD), ==, 0x0040);
}

/* ATAPI ---------------------------------------------------------------------------------*/

/* Sends a PACKET command with PIO data; returns the final status, data in buf. */
static uint8_t packet(Fixture *f, const uint8_t cdb[12], uint8_t *buf, size_t cap, size_t *got)
{
    outb(f->vm, CMD + 1, 0);
    outb(f->vm, CMD + 4, 0x00);
    outb(f->vm, CMD + 5, 0x08);
    outb(f->vm, CMD + 6, 0xa0);
    outb(f->vm, CMD + 7, 0xa0);
    uint8_t st = inb(f->vm, CMD + 7);
    g_assert_cmpuint(st & 0x08, ==, 0x08);
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x01); /* C/D: the command bytes */
    for (int i = 0; i < 12; i += 2)
        outw(f->vm, CMD, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    size_t n = 0;
    while ((st = inb(f->vm, CMD + 7)) & 0x08) {
        g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x02); /* I/O: data to the host */
        unsigned count = inb(f->vm, CMD + 4) | inb(f->vm, CMD + 5) << 8;
        g_assert_cmpuint(count, <=, 2048);
        for (unsigned i = 0; i < count; i += 2) {
            uint16_t w = inw(f->vm, CMD);
            if (n + 1 < cap) {
                buf[n] = w & 0xff;
                buf[n + 1] = w >> 8;
            }
            n += 2;
        }
    }
    g_assert_cmpuint(inb(f->vm, CMD + 2), ==, 0x03); /* status phase */
    if (got)
        *got = n;
    return st;
}

static void sense(Fixture *f, uint8_t *key, uint8_t *asc, uint8_t *ascq)
{
    const uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 };
    uint8_t b[18] = { 0 };
    g_assert_cmpuint(packet(f, cdb, b, sizeof(b), NULL) & 1, ==, 0);
    *key = b[2] & 0x0f;
    *asc = b[12];
    *ascq = b[13];
}

static void test_atapi(Fixture *f, gconstpointer data)
{
    (void)data;
    uint8_t b[4096], key, asc, ascq;
    size_t n;
    outb(f->vm, CTL, 0x02);
    const uint8_t tur[12] = { 0x00 };
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 0);

    const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36 };
    packet(f, inquiry, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 36);
    g_assert_cmpuint(b[0], ==, 0x05);
    g_assert_cmpuint(b[1], ==, 0x80);

    const uint8_t capacity[12] = { 0x25 };
    packet(f, capacity, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 8);
    g_assert_cmpuint(b[3], ==, 99);
    g_assert_cmpuint(b[6], ==, 0x08);

    /* READ(10) of 2 sectors: two DRQ blocks of 2048 bytes, the image's bytes. */
    const uint8_t read10[12] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 2 };
    packet(f, read10, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 4096);
    uint64_t off;
    memcpy(&off, b, 8);
    g_assert_cmpuint(off, ==, 5 * 2048);
    memcpy(&off, b + 2048, 8);
    g_assert_cmpuint(off, ==, 6 * 2048);

    /* READ TOC in MSF: the lead-out at 100 + 150 frames = 00:03:25. */
    const uint8_t toc[12] = { 0x43, 0x02, 0, 0, 0, 0, 0, 0, 20 };
    packet(f, toc, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 20);
    g_assert_cmpuint(b[14], ==, 0xaa);
    g_assert_cmpuint(b[17], ==, 0);
    g_assert_cmpuint(b[18], ==, 3);
    g_assert_cmpuint(b[19], ==, 25);

    const uint8_t config[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64 };
    packet(f, config, b, sizeof(b), &n);
    g_assert_cmpuint(b[6] << 8 | b[7], ==, 0x0008);

    const uint8_t mode[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64 };
    packet(f, mode, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 30);
    g_assert_cmpuint(b[8], ==, 0x2a);

    /* READ CD of user data is READ(10); other sector fields are refused. */
    const uint8_t readcd[12] = { 0xbe, 0, 0, 0, 0, 9, 0, 0, 1, 0x10 };
    packet(f, readcd, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 2048);
    memcpy(&off, b, 8);
    g_assert_cmpuint(off, ==, 9 * 2048);
    const uint8_t readcd_raw[12] = { 0xbe, 0, 0, 0, 0, 9, 0, 0, 1, 0xf8 };
    g_assert_cmpuint(packet(f, readcd_raw, b, sizeof(b), NULL) & 1, ==, 1);
    const uint8_t discinfo[12] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34 };
    packet(f, discinfo, b, sizeof(b), &n);
    g_assert_cmpuint(n, ==, 34);
    g_assert_cmpuint(b[2], ==, 0x0e);

    /* A byte count limit of 1: two-byte DRQ blocks, the INQUIRY data still arrives. */
    outb(f->vm, CMD + 1, 0);
    outb(f->vm, CMD + 4, 0x01);
    outb(f->vm, CMD + 5, 0x00);
    outb(f->vm, CMD + 7, 0xa0);
    for (int i = 0; i < 12; i += 2)
        outw(f->vm, CMD, (uint16_t)(inquiry[i] | inquiry[i + 1] << 8));
    unsigned blocks = 0;
    while (inb(f->vm, CMD + 7) & 0x08) {
        g_assert_cmpuint(inb(f->vm, CMD + 4) | inb(f->vm, CMD + 5) << 8, ==, 2);
        inw(f->vm, CMD);
        g_assert_cmpuint(++blocks, <=, 18);
    }
    g_assert_cmpuint(blocks, ==, 18);

    /* An unknown opcode: ILLEGAL REQUEST, invalid command operation code. */
    const uint8_t bad[12] = { 0xff };
    g_assert_cmpuint(packet(f, bad, b, sizeof(b), NULL) & 1, ==, 1);
    g_assert_cmpuint(inb(f->vm, CMD + 1) >> 4, ==, 5);
    sense(f, &key, &asc, &ascq);
    g_assert_cmpuint(key, ==, 5);
    g_assert_cmpuint(asc, ==, 0x20);

    /* Locked: eject refused. Unlocked: the tray opens, TEST UNIT READY says no medium. */
    const uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 }, unlock[12] = { 0x1e };
    const uint8_t eject[12] = { 0x1b, 0, 0, 0, 0x02 }, load[12] = { 0x1b, 0, 0, 0, 0x03 };
    packet(f, lock, b, sizeof(b), NULL);
    g_assert_cmpuint(packet(f, eject, b, sizeof(b), NULL) & 1, ==, 1);
    sense(f, &key, &asc, &ascq);
    g_assert_cmpuint(key << 16 | asc << 8 | ascq, ==, 0x055302);
    packet(f, unlock, b, sizeof(b), NULL);
    g_assert_cmpuint(packet(f, eject, b, sizeof(b), NULL) & 1, ==, 0);
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 1);
    sense(f, &key, &asc, &ascq);
    g_assert_cmpuint(key << 16 | asc << 8 | ascq, ==, 0x023a02);
    /* Closing it brings the medium back with a unit attention and a media event. */
    packet(f, load, b, sizeof(b), NULL);
    const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
    packet(f, gesn, b, sizeof(b), &n);
    g_assert_cmpuint(b[4], ==, 2); /* new media */
    g_assert_cmpuint(b[5], ==, 2); /* present, tray closed */
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 1);
    g_assert_cmpuint(inb(f->vm, CMD + 1) >> 4, ==, 6);
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 0);

    /* A host-side medium change: empty drive, then a unit attention. */
    vm_lock(f->vm);
    g_assert_true(ide_cdrom_change(f->ch, 0, NULL, NULL));
    vm_unlock(f->vm);
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 1);
    sense(f, &key, &asc, &ascq);
    g_assert_cmpuint(key, ==, 6);
    g_assert_cmpuint(packet(f, tur, b, sizeof(b), NULL) & 1, ==, 1);
    sense(f, &key, &asc, &ascq);
    g_assert_cmpuint(key << 16 | asc << 8 | ascq, ==, 0x023a01);
}

/* The PIIX3 function with a disk and a CD: random traffic on the task files, the bus
 * master registers (start bits, descriptor tables anywhere, inside RAM or not) and the
 * PCI command register. Nothing may crash; afterwards a DMA read still works. */
static void test_piix_flood(void)
{
    Vm *vm = vm_new_for_test(4u << 20);
    g_autofree char *dir = g_dir_make_tmp("vireo-ide-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(dir, "d.img", NULL);
    g_autofree char *cd = g_build_filename(dir, "cd.iso", NULL);
    g_autofree uint8_t *data = g_malloc(256 * 1024);
    for (size_t i = 0; i < 256 * 1024; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    g_assert_true(g_file_set_contents(disk, (char *)data, 256 * 1024, NULL));
    g_assert_true(g_file_set_contents(cd, (char *)data, 256 * 1024, NULL));
    VmConfig *cfg = vm_config_new();
    DriveConfig *d = drive_config_new();
    d->file = g_strdup(disk);
    d->format = g_strdup("raw");
    d->index = 0;
    g_ptr_array_add(cfg->drives, d);
    d = drive_config_new();
    d->file = g_strdup(cd);
    d->media = DRIVE_MEDIA_CDROM;
    d->index = 2;
    g_ptr_array_add(cfg->drives, d);
    TestLine lines[16] = { { 0 } };
    IrqLine isa[16];
    for (int i = 0; i < 16; i++)
        isa[i] = test_line(&lines[i]);
    GError *err = NULL;
    vm_lock(vm);
    PciBus *bus = pci_bus_new(vm);
    PiixIdeState *s = piix_ide_new(vm, bus, PCI_DEVFN(1, 1), isa, cfg, &err);
    g_assert_no_error(err);
    g_assert_nonnull(s);
    pci_config_write(bus, PCI_DEVFN(1, 1), 0x20, 0xc000, 4);
    pci_config_write(bus, PCI_DEVFN(1, 1), 0x40, 0x80008000, 4);
    pci_config_write(bus, PCI_DEVFN(1, 1), PCI_COMMAND, 5, 2);
    vm_unlock(vm);

    static const uint16_t ports[] = { 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7,
                                      0x3f6, 0x170, 0x177, 0x376, 0xc000, 0xc002, 0xc004,
                                      0xc008, 0xc00a, 0xc00c };
    static const uint8_t cmds[] = { 0x20, 0x24, 0x25, 0xc8, 0xca, 0x35, 0xa0, 0xc4, 0xc5, 0xec, 0xa1 };
    g_autoptr(GRand) r = g_rand_new_with_seed(11);
    GuestMemory *m = vm_mem(vm);
    for (int i = 0; i < 100000; i++) {
        uint16_t port = ports[g_rand_int_range(r, 0, G_N_ELEMENTS(ports))];
        uint32_t v = g_rand_int(r);
        vm_lock(vm);
        switch (g_rand_int_range(r, 0, 6)) {
        case 0: { /* a plausible command on a plausible address */
            uint16_t base = (v & 0x100) ? 0x170 : 0x1f0;
            io_write(vm_io(vm), base + 1, (v >> 20) & 1, 1);
            io_write(vm_io(vm), base + 2, (v >> 12) % 40, 1);
            io_write(vm_io(vm), base + 3, (v >> 16) % 512, 1);
            io_write(vm_io(vm), base + 4, (v & 0x200) ? 0 : 0x08, 1);
            io_write(vm_io(vm), base + 5, 0, 1);
            io_write(vm_io(vm), base + 6, 0xe0 | ((v >> 21) & 0x10), 1);
            uint8_t c = cmds[v % G_N_ELEMENTS(cmds)];
            io_write(vm_io(vm), base + 7, c, 1);
            if (c == 0xa0) { /* READ(10) of a few sectors, PIO or DMA as the feature says */
                const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, (v >> 24) % 130, 0, 0, (v >> 8) % 4 };
                for (int k = 0; k < 12; k += 2)
                    io_write(vm_io(vm), base, cdb[k] | cdb[k + 1] << 8, 2);
            }
            break;
        }
        case 1: /* a descriptor somewhere, maybe past RAM's end, maybe EOT */
            mem_stl(m, 0x1000 + (v % 64) * 8, (v & 0x40) ? g_rand_int(r) % (4u << 20) : g_rand_int(r));
            mem_stl(m, 0x1004 + (v % 64) * 8, g_rand_int(r));
            io_write(vm_io(vm), (v & 1) ? 0xc004 : 0xc00c, (v & 0x80) ? 0x1000 : g_rand_int(r), 4);
            break;
        case 2: /* start or stop */
            io_write(vm_io(vm), (v & 1) ? 0xc000 : 0xc008, v & 0x09, 1);
            break;
        case 3:
            io_write(vm_io(vm), port, v, port >= 0xc000 ? 4 : 1);
            break;
        case 4:
            io_read(vm_io(vm), port, (port == 0x1f0 || port == 0x170 || port >= 0xc000) ? 2 : 1);
            break;
        default: /* bus mastering and I/O decode on and off */
            if (v % 16 == 0)
                pci_config_write(bus, PCI_DEVFN(1, 1), PCI_COMMAND, (v >> 4) & 5, 2);
            break;
        }
        vm_unlock(vm);
    }

    /* A clean READ DMA of 16 sectors into 0x20000 afterwards; the second page holds
     * decoded code, so it goes through mem_write while the first is filled directly.
     * The flood's writes went to the image: expect what the file holds once the
     * requests still in flight are done. */
    g_usleep(200 * 1000);
    g_autofree char *now = NULL;
    gsize now_len = 0;
    g_assert_true(g_file_get_contents(disk, &now, &now_len, NULL));
    g_assert_cmpuint(now_len, ==, 256 * 1024);
    vm_lock(vm);
    mem_set_code_page(m, 0x21000, true);
    pci_config_write(bus, PCI_DEVFN(1, 1), PCI_COMMAND, 5, 2);
    io_write(vm_io(vm), 0xc000, 0, 1);
    io_write(vm_io(vm), 0x3f6, 0x06, 1);
    io_write(vm_io(vm), 0x3f6, 0x00, 1);
    mem_stl(m, 0x1000, 0x20000);
    mem_stl(m, 0x1004, 0x80002000);
    io_write(vm_io(vm), 0xc004, 0x1000, 4);
    io_write(vm_io(vm), 0xc002, 0x06, 1);
    io_write(vm_io(vm), 0xc000, 0x08, 1);
    io_write(vm_io(vm), 0x1f2, 16, 1);
    io_write(vm_io(vm), 0x1f3, 3, 1);
    io_write(vm_io(vm), 0x1f4, 0, 1);
    io_write(vm_io(vm), 0x1f5, 0, 1);
    io_write(vm_io(vm), 0x1f6, 0xe0, 1);
    io_write(vm_io(vm), 0x1f7, 0xc8, 1);
    io_write(vm_io(vm), 0xc000, 0x09, 1);
    vm_unlock(vm);
    /* The read completes on the block layer's thread: poll as a driver would. */
    uint8_t bmst = 0;
    for (int i = 0; i < 5000 && !(bmst & 0x04); i++) {
        bmst = inb(vm, 0xc002);
        if (!(bmst & 0x04))
            g_usleep(1000);
    }
    vm_lock(vm);
    uint8_t st = (uint8_t)io_read(vm_io(vm), 0x1f7, 1);
    uint8_t got[8192];
    mem_read(m, 0x20000, got, sizeof(got));
    vm_unlock(vm);
    g_assert_cmpuint(bmst & 0x07, ==, 0x04); /* interrupt, no error, inactive */
    g_assert_cmpuint(st, ==, 0x50);
    g_assert_cmpmem(got, sizeof(got), now + 3 * 512, sizeof(got));
    g_assert_cmpint(lines[14].rises, >, 0);

    vm_free(vm);
    vm_config_free(cfg);
    g_unlink(disk);
    g_unlink(cd);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, kind, fn) \
    g_test_add("/ide/" name, Fixture, kind, fixture_setup, fn, fixture_teardown)
    ADD("empty-channel", "none", test_empty_channel);
    ADD("absent-slave", "disk", test_absent_slave);
    ADD("srst-disk", "disk", test_srst_signature);
    ADD("srst-cd", "cd", test_srst_signature);
    ADD("hob", "disk", test_hob);
    ADD("nien", "disk", test_nien_and_ack);
    ADD("read-write", "disk", test_read_write);
    ADD("read-only", "disk-ro", test_read_write);
    ADD("aborts", "disk", test_aborts);
    ADD("flood", "disk", test_flood);
    ADD("atapi", "cd", test_atapi);
    g_test_add_func("/ide/piix-flood", test_piix_flood);
    return g_test_run();
}
