/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The 82078 through its ports: reset and polling, command/result phases and MSR,
 * invalid commands, the interrupt gate, write protection, media change, absent drives,
 * geometries by image size, and a flood of nonsense from a hostile guest. */
#include "hw/storage/fdc.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>

#define DOR 0x3f2
#define MSR 0x3f4
#define FIFO 0x3f5
#define DIR 0x3f7

typedef struct Fixture {
    Vm *vm;
    IsaDma *dma;
    FdcState *fdc;
    TestLine irq;
    char *dir;
    char *path;
} Fixture;

static char *make_image(Fixture *f, const char *name, size_t size)
{
    char *p = g_build_filename(f->dir, name, NULL);
    g_autofree uint8_t *data = g_malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i / 512 + i);
    g_assert_true(g_file_set_contents(p, (char *)data, (gssize)size, NULL));
    return p;
}

static BlockImage *open_image(const char *path, bool ro)
{
    BlockOpenOptions o = { .read_only = ro, .format = "raw" };
    g_autoptr(GError) err = NULL;
    BlockImage *img = block_open(path, &o, &err);
    g_assert_no_error(err);
    return img;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    bool ro = GPOINTER_TO_INT(data);
    f->vm = vm_new_for_test(0);
    f->dir = g_dir_make_tmp("vireo-fdc-XXXXXX", NULL);
    f->path = make_image(f, "a.img", 1474560);
    IrqLine l = test_line(&f->irq);
    vm_lock(f->vm);
    f->dma = i8237_new(f->vm);
    f->fdc = fdc_new(f->vm, 0x3f0, &l, f->dma, 2);
    g_autoptr(GError) err = NULL;
    g_assert_true(fdc_attach_drive(f->fdc, 0, open_image(f->path, false), ro, &err));
    vm_unlock(f->vm);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->path);
}

static void cmd(Fixture *f, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_assert_cmphex(inb(f->vm, MSR) & 0xc0, ==, 0x80);
        outb(f->vm, FIFO, bytes[i]);
    }
}

static size_t results(Fixture *f, uint8_t *out, size_t max)
{
    size_t n = 0;
    while ((inb(f->vm, MSR) & 0xc0) == 0xc0 && n < max)
        out[n++] = inb(f->vm, FIFO);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0x80);
    return n;
}

static void reset_controller(Fixture *f)
{
    outb(f->vm, DOR, 0x00);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0x00); /* held in reset */
    outb(f->vm, DOR, 0x1c);
    g_assert_cmpint(f->irq.level, ==, 1);
    for (int i = 0; i < 4; i++) {
        uint8_t r[2];
        cmd(f, (const uint8_t[]){ 0x08 }, 1);
        g_assert_cmpuint(results(f, r, 2), ==, 2);
        g_assert_cmphex(r[0], ==, 0xc0 | i);
        g_assert_cmpint(f->irq.level, ==, 0);
    }
    outb(f->vm, DIR, 0x00); /* 500 kb/s for 1.44M media */
}

static void seek(Fixture *f, uint8_t cyl)
{
    int rises = f->irq.rises;
    cmd(f, (const uint8_t[]){ 0x0f, 0x00, cyl }, 3);
    g_assert_cmpint(f->irq.rises, ==, rises + 1);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0x81); /* drive 0 busy until sensed */
    uint8_t r[2];
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmpuint(results(f, r, 2), ==, 2);
    g_assert_cmphex(r[0], ==, 0x20);
    g_assert_cmphex(r[1], ==, cyl);
}

static void test_phases(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    /* SEEK: command busy after the first byte, no result phase, interrupt at the end. */
    outb(f->vm, FIFO, 0x0f);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0x90);
    outb(f->vm, FIFO, 0x00);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0x90);
    outb(f->vm, FIFO, 5);
    g_assert_cmpint(f->irq.level, ==, 1);
    uint8_t r[16];
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmphex(inb(f->vm, MSR), ==, 0xd0);
    g_assert_cmpuint(results(f, r, 16), ==, 2);
    g_assert_cmphex(r[1], ==, 5);
    /* RELATIVE SEEK out by 3, then in by 10 (clamped at cylinder 0). */
    cmd(f, (const uint8_t[]){ 0xcf, 0x00, 3 }, 3);
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 2);
    g_assert_cmphex(r[1], ==, 8);
    cmd(f, (const uint8_t[]){ 0x8f, 0x00, 10 }, 3);
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 2);
    g_assert_cmphex(r[1], ==, 0);
    cmd(f, (const uint8_t[]){ 0x0f, 0x00, 5 }, 3);
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    results(f, r, 16);
    /* VERSION, PART ID, an invalid opcode and a sense with nothing pending. */
    cmd(f, (const uint8_t[]){ 0x10 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 1);
    g_assert_cmphex(r[0], ==, 0x90);
    cmd(f, (const uint8_t[]){ 0x18 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 1);
    g_assert_cmphex(r[0], ==, 0x41);
    cmd(f, (const uint8_t[]){ 0x1f }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 1);
    g_assert_cmphex(r[0], ==, 0x80);
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 1);
    g_assert_cmphex(r[0], ==, 0x80);
    /* PERPENDICULAR MODE with OW sets D0-D3; DUMPREG shows it and the PCN. */
    cmd(f, (const uint8_t[]){ 0x12, 0x80 | 0x04 | 0x01 }, 2);
    cmd(f, (const uint8_t[]){ 0x0e }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 10);
    g_assert_cmphex(r[0], ==, 5);
    g_assert_cmphex(r[7], ==, 0x05);
    g_assert_cmphex(r[8], ==, 0x20); /* CONFIGURE default: FIFO disabled */
    /* Without LOCK a reset restores CONFIGURE's defaults. */
    cmd(f, (const uint8_t[]){ 0x13, 0x00, 0x4f, 0x10 }, 4);
    cmd(f, (const uint8_t[]){ 0x14 }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 1);
    g_assert_cmphex(r[0], ==, 0x00);
    reset_controller(f);
    cmd(f, (const uint8_t[]){ 0x0e }, 1);
    g_assert_cmpuint(results(f, r, 16), ==, 10);
    g_assert_cmphex(r[8], ==, 0x20);
    g_assert_cmphex(r[9], ==, 0x00);
}

/* A reset, then RECALIBRATE at once, without sensing the four polling statuses first
 * (BSD's floppy probe does this): the SENSE INTERRUPT STATUS after it must report the
 * recalibrate, ST0 20h | drive (70h | drive where no drive answers: abnormal end,
 * equipment check), not a polling status, and nothing is left to sense afterwards. A
 * command that raises no interrupt leaves the four polling statuses pending. */
static void test_reset_recalibrate(Fixture *f, gconstpointer data)
{
    (void)data;
    g_autofree char *b = make_image(f, "b.img", 1474560);
    vm_lock(f->vm);
    g_autoptr(GError) err = NULL;
    g_assert_true(fdc_attach_drive(f->fdc, 1, open_image(b, false), false, &err));
    vm_unlock(f->vm);
    for (uint8_t ds = 0; ds < 4; ds++) {
        outb(f->vm, DOR, 0x00);
        outb(f->vm, DOR, (uint8_t)(0x1c | ds));
        g_assert_cmpint(f->irq.level, ==, 1);
        cmd(f, (const uint8_t[]){ 0x07, ds }, 2);
        g_assert_cmpint(f->irq.level, ==, 1);
        uint8_t r[2];
        cmd(f, (const uint8_t[]){ 0x08 }, 1);
        r[0] = inb(f->vm, FIFO);
        r[1] = inb(f->vm, FIFO);
        g_assert_cmphex(r[0], ==, (ds < 2 ? 0x20 : 0x70) | ds);
        g_assert_cmphex(r[1], ==, 0);
        g_assert_cmphex(inb(f->vm, MSR), ==, 0x80); /* the drive's seek is over */
        g_assert_cmpint(f->irq.level, ==, 0);
        cmd(f, (const uint8_t[]){ 0x08 }, 1);
        g_assert_cmpuint(results(f, r, 2), ==, 1);
        g_assert_cmphex(r[0], ==, 0x80);
    }
    /* SPECIFY (no interrupt) between the reset and the senses. */
    outb(f->vm, DOR, 0x00);
    outb(f->vm, DOR, 0x1c);
    cmd(f, (const uint8_t[]){ 0x03, 0xdf, 0x02 }, 3);
    for (int i = 0; i < 4; i++) {
        uint8_t r[2];
        cmd(f, (const uint8_t[]){ 0x08 }, 1);
        g_assert_cmpuint(results(f, r, 2), ==, 2);
        g_assert_cmphex(r[0], ==, 0xc0 | i);
    }
}

static void test_irq_gate(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    /* DOR bit 3 off: the request stays inside the controller. */
    outb(f->vm, DOR, 0x14);
    cmd(f, (const uint8_t[]){ 0x07, 0x00 }, 2);
    g_assert_cmpint(f->irq.level, ==, 0);
    outb(f->vm, DOR, 0x1c);
    g_assert_cmpint(f->irq.level, ==, 1);
    uint8_t r[2];
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    results(f, r, 2);
    g_assert_cmpint(f->irq.level, ==, 0);
}

static void test_read_pio(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    cmd(f, (const uint8_t[]){ 0x03, 0xdf, 0x03 }, 3); /* non-DMA */
    seek(f, 3);
    /* Cylinder 3, head 1, sectors 17-18: LBA (3*2+1)*18+16 = 142. */
    cmd(f, (const uint8_t[]){ 0x46, 0x04, 3, 1, 17, 2, 18, 0x1b, 0xff }, 9);
    g_autofree char *contents = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(f->path, &contents, &len, NULL));
    for (int i = 0; i < 1024; i++) {
        g_assert_cmphex(inb(f->vm, MSR), ==, 0xf0);
        g_assert_cmphex(inb(f->vm, FIFO), ==, (uint8_t)contents[142 * 512 + i]);
    }
    uint8_t r[7];
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x44); /* abnormal: no TC in non-DMA mode, head 1 */
    g_assert_cmphex(r[1], ==, 0x80); /* EN */
    g_assert_cmphex(r[3], ==, 4);
    g_assert_cmphex(r[5], ==, 1);
    /* EOT past the last sector: sector 18 comes through the FIFO, then sector 19 is
     * not found (ND) and the result names it. */
    cmd(f, (const uint8_t[]){ 0x46, 0x00, 3, 0, 18, 2, 20, 0x1b, 0xff }, 9);
    for (int i = 0; i < 512; i++) {
        g_assert_cmphex(inb(f->vm, MSR), ==, 0xf0);
        g_assert_cmphex(inb(f->vm, FIFO), ==, (uint8_t)contents[(3 * 36 + 17) * 512 + i]);
    }
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x04);
    g_assert_cmphex(r[5], ==, 19);
    /* Non-DMA write of cylinder 3, head 0, sector 1 (LBA 108): 512 bytes through the
     * FIFO, then the result; the file holds them. */
    cmd(f, (const uint8_t[]){ 0x45, 0x00, 3, 0, 1, 2, 1, 0x1b, 0xff }, 9);
    for (int i = 0; i < 512; i++) {
        g_assert_cmphex(inb(f->vm, MSR), ==, 0xb0);
        outb(f->vm, FIFO, (uint8_t)(i ^ 0xa5));
    }
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x80);
    g_autofree char *after = NULL;
    g_assert_true(g_file_get_contents(f->path, &after, &len, NULL));
    for (int i = 0; i < 512; i++)
        g_assert_cmphex((uint8_t)after[108 * 512 + i], ==, (uint8_t)(i ^ 0xa5));
    g_assert_cmpmem(after + 109 * 512, 512, contents + 109 * 512, 512);
}

static void test_write_protect(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    seek(f, 1);
    uint8_t r[7];
    cmd(f, (const uint8_t[]){ 0x04, 0x00 }, 2);
    g_assert_cmpuint(results(f, r, 1), ==, 1);
    g_assert_cmphex(r[0] & 0x40, ==, 0x40); /* ST3 WP */
    outb(f->vm, 0x0a, 0x02);
    cmd(f, (const uint8_t[]){ 0xc5, 0x00, 1, 0, 1, 2, 1, 0x1b, 0xff }, 9);
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x02); /* NW */
    cmd(f, (const uint8_t[]){ 0x4d, 0x00, 2, 18, 0x54, 0xf6 }, 6);
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x02);
    /* Nothing reached the file. */
    g_autofree char *contents = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(f->path, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, 1474560);
    for (gsize i = 0; i < len; i++)
        if ((uint8_t)contents[i] != (uint8_t)(i / 512 + i))
            g_assert_not_reached();
}

static void test_media_change(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x80); /* set at power on */
    seek(f, 2);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x00);
    g_autoptr(GError) err = NULL;
    vm_lock(f->vm);
    g_assert_true(fdc_change_medium(f->fdc, 0, NULL, false, &err));
    vm_unlock(f->vm);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x80);
    /* No disk: READ ID finds no address mark, and steps do not clear the line. */
    uint8_t r[7];
    cmd(f, (const uint8_t[]){ 0x4a, 0x00 }, 2);
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x01);
    seek(f, 3);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x80);
    /* A 720K disk in the 1.44M drive: the line stays set until a step, and the
     * medium answers at 250 kb/s only. */
    g_autofree char *p720 = make_image(f, "b.img", 737280);
    vm_lock(f->vm);
    g_assert_true(fdc_change_medium(f->fdc, 0, open_image(p720, false), false, &err));
    vm_unlock(f->vm);
    seek(f, 3);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x80);
    seek(f, 0);
    g_assert_cmphex(inb(f->vm, DIR) & 0x80, ==, 0x00);
    cmd(f, (const uint8_t[]){ 0x4a, 0x00 }, 2);
    results(f, r, 7);
    g_assert_cmphex(r[1], ==, 0x01);
    outb(f->vm, DIR, 0x02);
    cmd(f, (const uint8_t[]){ 0x4a, 0x00 }, 2);
    results(f, r, 7);
    g_assert_cmphex(r[0], ==, 0x00);
    g_assert_cmphex(r[6], ==, 2);
    /* A 5.25" disk does not fit a 3.5" drive. */
    g_autofree char *p360 = make_image(f, "c.img", 368640);
    BlockImage *img = open_image(p360, false);
    vm_lock(f->vm);
    g_assert_false(fdc_change_medium(f->fdc, 0, img, false, &err));
    vm_unlock(f->vm);
    g_assert_nonnull(err);
    block_close(img, NULL);
}

/* A non-DMA write whose disk the host swaps for a write-protected one while the guest
 * sends the bytes (the device fuzzer's seed 208 with --async): the state saved then
 * loads, and the command ends with NW, leaving the new disk untouched. */
static void test_write_protect_mid_write(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    cmd(f, (const uint8_t[]){ 0x03, 0xdf, 0x03 }, 3); /* non-DMA */
    seek(f, 1);
    cmd(f, (const uint8_t[]){ 0x45, 0x00, 1, 0, 1, 2, 1, 0x1b, 0xff }, 9);
    for (int i = 0; i < 100; i++)
        outb(f->vm, FIFO, 0x5a);
    g_autofree char *wp = make_image(f, "wp.img", 1474560);
    g_autoptr(GError) err = NULL;
    vm_lock(f->vm);
    g_assert_true(fdc_change_medium(f->fdc, 0, open_image(wp, true), true, &err));
    g_autoptr(GByteArray) state = g_byte_array_new();
    device_save_state((Device *)f->fdc, state);
    g_assert_true(device_load_state((Device *)f->fdc, state->data, state->len, &err));
    g_assert_no_error(err);
    vm_unlock(f->vm);
    for (int i = 100; i < 512; i++) {
        g_assert_cmphex(inb(f->vm, MSR), ==, 0xb0);
        outb(f->vm, FIFO, 0x5a);
    }
    uint8_t r[7];
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0], ==, 0x40);
    g_assert_cmphex(r[1], ==, 0x02); /* NW */
    g_autofree char *contents = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(wp, &contents, &len, NULL));
    for (gsize i = 0; i < len; i++)
        if ((uint8_t)contents[i] != (uint8_t)(i / 512 + i))
            g_assert_not_reached();
}

static void test_absent_drive(Fixture *f, gconstpointer data)
{
    (void)data;
    reset_controller(f);
    /* Drive 1 is not connected: recalibrate ends with equipment check. */
    cmd(f, (const uint8_t[]){ 0x07, 0x01 }, 2);
    uint8_t r[7];
    cmd(f, (const uint8_t[]){ 0x08 }, 1);
    g_assert_cmpuint(results(f, r, 2), ==, 2);
    g_assert_cmphex(r[0], ==, 0x71);
    cmd(f, (const uint8_t[]){ 0xe6, 0x01, 0, 0, 1, 2, 1, 0x1b, 0xff }, 9);
    g_assert_cmpuint(results(f, r, 7), ==, 7);
    g_assert_cmphex(r[0] & 0xd0, ==, 0x50);
    vm_lock(f->vm);
    g_assert_cmpuint(fdc_cmos_type(f->fdc, 0), ==, 4);
    g_assert_cmpuint(fdc_cmos_type(f->fdc, 1), ==, 0);
    vm_unlock(f->vm);
}

static void test_geometries(void)
{
    static const struct { uint64_t size; const char *name; } t[] = {
        { 163840, "160K" }, { 184320, "180K" }, { 327680, "320K" }, { 368640, "360K" },
        { 737280, "720K" }, { 1228800, "1.2M" }, { 1474560, "1.44M" },
        { 1720320, "1.68M (DMF)" }, { 2949120, "2.88M" },
        { 8704, "1.44M" }, /* a boot-sector game */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
        g_assert_cmpstr(fdc_format_name(t[i].size), ==, t[i].name);
    g_assert_null(fdc_format_name(0));
    g_assert_null(fdc_format_name(1000));
    g_assert_null(fdc_format_name(4u << 20));
}

static void test_flood(Fixture *f, gconstpointer data)
{
    (void)data;
    /* A hostile guest: random DMA and FDC programming including command bytes, then
     * whatever the controller does with it. Nothing may crash or hang. */
    GRand *r = g_rand_new_with_seed(82078);
    static const uint16_t ports[] = { 0x3f0, 0x3f1, 0x3f2, 0x3f3, 0x3f4, 0x3f5, 0x3f5, 0x3f5,
                                      0x3f5, 0x3f7, 0x04, 0x05, 0x0a, 0x0b, 0x0c, 0x81 };
    for (int i = 0; i < 200000; i++) {
        uint16_t p = ports[g_rand_int_range(r, 0, G_N_ELEMENTS(ports))];
        if (g_rand_int_range(r, 0, 3))
            outb(f->vm, p, (uint8_t)g_rand_int(r));
        else
            (void)inb(f->vm, p);
    }
    g_rand_free(r);
    /* The controller still works afterwards. */
    outb(f->vm, 0x3f4, 0x00);
    reset_controller(f);
    cmd(f, (const uint8_t[]){ 0x10 }, 1);
    uint8_t v;
    g_assert_cmpuint(results(f, &v, 1), ==, 1);
    g_assert_cmphex(v, ==, 0x90);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, ro, fn) \
    g_test_add("/fdc/" name, Fixture, GINT_TO_POINTER(ro), fixture_setup, fn, fixture_teardown)
    ADD("phases", 0, test_phases);
    ADD("reset-recalibrate", 0, test_reset_recalibrate);
    ADD("irq-gate", 0, test_irq_gate);
    ADD("read-pio", 0, test_read_pio);
    ADD("write-protect", 1, test_write_protect);
    ADD("media-change", 0, test_media_change);
    ADD("write-protect-mid-write", 0, test_write_protect_mid_write);
    ADD("absent-drive", 0, test_absent_drive);
    ADD("flood", 0, test_flood);
    g_test_add_func("/fdc/geometries", test_geometries);
    return g_test_run();
}
