/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VGA driven through its ports and memory as a guest would: write modes 0-3, read
 * modes 0-1, chain-4 and odd/even addressing, the picture of small known states in text,
 * CGA, planar, 256-colour and VBE modes, dirty tracking, retrace, and hostile input. */
#include "engine/testing.h"
#include "engine/display.h"
#include "hw/display/vga.h"
#include "vga-modes.h"

#include <string.h>

#define LFB_BASE 0xe0000000u
#define VGA_DEVFN PCI_DEVFN(2, 0)

typedef struct Fixture {
    Vm *vm;
    PciBus *bus;
    IoSpace *io;
    GuestMemory *mem;
    DisplayClient *client;
    DisplaySurface *surf;
    pixman_region32_t dirty;
    bool new_surface;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->vm = vm_new_for_test(0);
    f->io = vm_io(f->vm);
    f->mem = vm_mem(f->vm);
    GError *err = NULL;
    vm_lock(f->vm);
    f->bus = pci_bus_new(f->vm);
    g_assert_nonnull(vga_pci_new(f->vm, f->bus, VGA_DEVFN, NULL, &err));
    g_assert_no_error(err);
    /* BAR 0 at LFB_BASE, memory decoding on. */
    pci_config_write(f->bus, VGA_DEVFN, PCI_BAR0, LFB_BASE, 4);
    pci_config_write(f->bus, VGA_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    vm_unlock(f->vm);
    f->client = display_client_new(vm_display_console(f->vm));
    pixman_region32_init(&f->dirty);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    pixman_region32_fini(&f->dirty);
    display_client_free(f->client);
    vm_free(f->vm);
}

static DisplaySurface *refresh(Fixture *f)
{
    f->surf = display_client_refresh(f->client, &f->dirty, &f->new_surface);
    return f->surf;
}

static uint32_t pixel(Fixture *f, int x, int y)
{
    g_assert_cmpint(x, <, f->surf->width);
    g_assert_cmpint(y, <, f->surf->height);
    const uint32_t *bits = pixman_image_get_data(f->surf->image);
    return bits[(size_t)y * (pixman_image_get_stride(f->surf->image) / 4) + x] & 0xffffff;
}

static void reg(Fixture *f, uint16_t index_port, uint8_t index, uint8_t value)
{
    io_write(f->io, index_port, index, 1);
    io_write(f->io, index_port + 1, value, 1);
}

static uint8_t reg_read(Fixture *f, uint16_t index_port, uint8_t index)
{
    io_write(f->io, index_port, index, 1);
    return (uint8_t)io_read(f->io, index_port + 1, 1);
}

static void memw(Fixture *f, uint32_t addr, uint8_t v)
{
    mem_dispatch_write(f->mem, addr, v, 1);
}

static uint8_t memr(Fixture *f, uint32_t addr)
{
    return (uint8_t)mem_dispatch_read(f->mem, addr, 1);
}

/* Plane contents at a planar offset, read through read map select (lock held). */
static uint8_t plane(Fixture *f, unsigned p, uint32_t off)
{
    uint8_t sr4 = reg_read(f, 0x3c4, 4), gr4 = reg_read(f, 0x3ce, 4), gr5 = reg_read(f, 0x3ce, 5);
    uint8_t gr6 = reg_read(f, 0x3ce, 6);
    reg(f, 0x3c4, 4, 0x06);
    reg(f, 0x3ce, 5, 0x00);
    reg(f, 0x3ce, 6, 0x05);
    reg(f, 0x3ce, 4, (uint8_t)p);
    uint8_t v = memr(f, 0xa0000 + off);
    reg(f, 0x3c4, 4, sr4);
    reg(f, 0x3ce, 4, gr4);
    reg(f, 0x3ce, 5, gr5);
    reg(f, 0x3ce, 6, gr6);
    return v;
}

static void test_pci_ids(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    g_assert_cmphex(pci_config_read(f->bus, VGA_DEVFN, 0, 4), ==, 0x11111234);
    g_assert_cmphex(pci_config_read(f->bus, VGA_DEVFN, PCI_CLASS_DEVICE, 2), ==, 0x0300);
    /* BAR 0: 16 MiB prefetchable; BAR 2: 4 KiB MMIO. */
    pci_config_write(f->bus, VGA_DEVFN, PCI_BAR0, 0xffffffffu, 4);
    g_assert_cmphex(pci_config_read(f->bus, VGA_DEVFN, PCI_BAR0, 4), ==, 0xff000008u);
    pci_config_write(f->bus, VGA_DEVFN, PCI_BAR0 + 8, 0xffffffffu, 4);
    g_assert_cmphex(pci_config_read(f->bus, VGA_DEVFN, PCI_BAR0 + 8, 4), ==, 0xfffff000u);
    /* The VBE registers answer in the MMIO window too. */
    pci_config_write(f->bus, VGA_DEVFN, PCI_BAR0 + 8, 0xfebf0000u, 4);
    pci_config_write(f->bus, VGA_DEVFN, PCI_BAR0, LFB_BASE, 4);
    g_assert_cmphex(mem_dispatch_read(f->mem, 0xfebf0500, 2), ==, 0xb0c5);
    g_assert_cmphex(mem_dispatch_read(f->mem, 0xfebf0514, 2), ==, 256);
    mem_dispatch_write(f->mem, 0xfebf0404, 0x0f02, 2); /* SR02 = 0x0F through 0x3C4 */
    g_assert_cmphex(reg_read(f, 0x3c4, 2), ==, 0x0f);
    vm_unlock(f->vm);
}

static void test_write_modes(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_12);
    /* Write mode 0, plain: every enabled plane takes the byte. */
    memw(f, 0xa0000, 0xa5);
    for (unsigned p = 0; p < 4; p++)
        g_assert_cmphex(plane(f, p, 0), ==, 0xa5);
    /* Set/reset (GR00, enabled by GR01) replaces the data. */
    reg(f, 0x3ce, 1, 0x0f);
    reg(f, 0x3ce, 0, 0x05);
    memw(f, 0xa0000, 0x00);
    g_assert_cmphex(plane(f, 0, 0), ==, 0xff);
    g_assert_cmphex(plane(f, 1, 0), ==, 0x00);
    g_assert_cmphex(plane(f, 2, 0), ==, 0xff);
    g_assert_cmphex(plane(f, 3, 0), ==, 0x00);
    /* The bit mask (GR08) keeps latched bits where it is clear. */
    (void)memr(f, 0xa0000);
    reg(f, 0x3ce, 0, 0x0a);
    reg(f, 0x3ce, 8, 0x0f);
    memw(f, 0xa0000, 0x00);
    g_assert_cmphex(plane(f, 0, 0), ==, 0xf0);
    g_assert_cmphex(plane(f, 1, 0), ==, 0x0f);
    g_assert_cmphex(plane(f, 2, 0), ==, 0xf0);
    g_assert_cmphex(plane(f, 3, 0), ==, 0x0f);
    /* Rotate by 4 and XOR with the latches (GR03). */
    reg(f, 0x3ce, 1, 0x00);
    reg(f, 0x3ce, 8, 0xff);
    memw(f, 0xa0001, 0x0f);
    (void)memr(f, 0xa0001);
    reg(f, 0x3ce, 3, 3 << 3 | 4);
    memw(f, 0xa0001, 0x12);
    g_assert_cmphex(plane(f, 2, 1), ==, 0x2e);
    reg(f, 0x3ce, 3, 0);
    /* AND and OR with the latches. */
    (void)memr(f, 0xa0001);
    reg(f, 0x3ce, 3, 1 << 3);
    memw(f, 0xa0001, 0xf0);
    g_assert_cmphex(plane(f, 0, 1), ==, 0x20);
    (void)memr(f, 0xa0001);
    reg(f, 0x3ce, 3, 2 << 3);
    memw(f, 0xa0001, 0x01);
    g_assert_cmphex(plane(f, 0, 1), ==, 0x21);
    reg(f, 0x3ce, 3, 0);
    /* Write mode 1 copies the latches (a screen-to-screen copy). */
    (void)memr(f, 0xa0000);
    reg(f, 0x3ce, 5, 0x01);
    memw(f, 0xa0010, 0x99);
    for (unsigned p = 0; p < 4; p++)
        g_assert_cmphex(plane(f, p, 0x10), ==, plane(f, p, 0));
    /* Write mode 2: bit i of the data fills plane i, under the bit mask. */
    reg(f, 0x3ce, 5, 0x02);
    (void)memr(f, 0xa0020);
    memw(f, 0xa0020, 0x06);
    g_assert_cmphex(plane(f, 0, 0x20), ==, 0x00);
    g_assert_cmphex(plane(f, 1, 0x20), ==, 0xff);
    g_assert_cmphex(plane(f, 2, 0x20), ==, 0xff);
    g_assert_cmphex(plane(f, 3, 0x20), ==, 0x00);
    /* Write mode 3: the rotated data masks the set/reset colour. */
    reg(f, 0x3ce, 5, 0x03);
    reg(f, 0x3ce, 0, 0x09);
    (void)memr(f, 0xa0030);
    memw(f, 0xa0030, 0xf0);
    g_assert_cmphex(plane(f, 0, 0x30), ==, 0xf0);
    g_assert_cmphex(plane(f, 1, 0x30), ==, 0x00);
    g_assert_cmphex(plane(f, 2, 0x30), ==, 0x00);
    g_assert_cmphex(plane(f, 3, 0x30), ==, 0xf0);
    /* The map mask limits the planes written. */
    reg(f, 0x3ce, 5, 0x00);
    reg(f, 0x3c4, 2, 0x02);
    memw(f, 0xa0030, 0x5a);
    g_assert_cmphex(plane(f, 0, 0x30), ==, 0xf0);
    g_assert_cmphex(plane(f, 1, 0x30), ==, 0x5a);
    reg(f, 0x3c4, 2, 0x0f);
    /* Read mode 1: bits where the planes GR07 selects equal the colour in GR02. At
     * offset 0x30 the planes are f0 5a 00 f0: colour 0b1001 matches where p0 and p3
     * are set and p1, p2 clear. */
    reg(f, 0x3ce, 5, 0x08);
    reg(f, 0x3ce, 2, 0x09);
    reg(f, 0x3ce, 7, 0x0f);
    g_assert_cmphex(memr(f, 0xa0030), ==, 0xa0);
    reg(f, 0x3ce, 7, 0x09); /* planes 1 and 2 do not matter */
    g_assert_cmphex(memr(f, 0xa0030), ==, 0xf0);
    vm_unlock(f->vm);
}

static void test_chain4_oddeven(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_13);
    for (unsigned i = 0; i < 8; i++)
        memw(f, 0xa0000 + i, (uint8_t)(0x10 + i));
    for (unsigned i = 0; i < 8; i++)
        g_assert_cmphex(memr(f, 0xa0000 + i), ==, 0x10 + i);
    /* Chain-4 puts byte n in plane n & 3 at offset n & ~3. */
    g_assert_cmphex(plane(f, 1, 0), ==, 0x11);
    g_assert_cmphex(plane(f, 3, 4), ==, 0x17);
    g_assert_cmphex(plane(f, 0, 4), ==, 0x14);

    vga_test_set_mode(f->io, &vga_mode_03);
    memw(f, 0xb8000, 'A');
    memw(f, 0xb8001, 0x1f);
    memw(f, 0xb8002, 'B');
    g_assert_cmphex(plane(f, 0, 0), ==, 'A');
    g_assert_cmphex(plane(f, 1, 0), ==, 0x1f);
    g_assert_cmphex(plane(f, 0, 2), ==, 'B');
    g_assert_cmphex(memr(f, 0xb8001), ==, 0x1f);
    /* The B8000 window does not answer at A0000. */
    g_assert_cmphex(memr(f, 0xa0000), ==, 0xff);
    vm_unlock(f->vm);
}

static void test_mode13_picture(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_13);
    vga_test_set_dac(f->io, 0, 0, 0, 0);
    vga_test_set_dac(f->io, 1, 63, 0, 0);
    vga_test_set_dac(f->io, 2, 0, 63, 0);
    vga_test_set_dac(f->io, 3, 0, 0, 63);
    for (uint32_t y = 0; y < 200; y++)
        for (uint32_t x = 0; x < 320; x++)
            memw(f, 0xa0000 + y * 320 + x, (uint8_t)((x + y) & 3));
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 320);
    g_assert_cmpint(f->surf->height, ==, 200);
    g_assert_cmpint(f->surf->aspect_w * 3, ==, f->surf->aspect_h * 4);
    static const uint32_t colours[4] = { 0x000000, 0xff0000, 0x00ff00, 0x0000ff };
    for (int y = 0; y < 200; y += 7)
        for (int x = 0; x < 320; x += 3)
            g_assert_cmphex(pixel(f, x, y), ==, colours[(x + y) & 3]);
    /* Nothing written: nothing to redraw. */
    refresh(f);
    g_assert_false(f->new_surface);
    g_assert_false(pixman_region32_not_empty(&f->dirty));
    /* One byte written: only its line is redrawn. */
    vm_lock(f->vm);
    memw(f, 0xa0000 + 150 * 320 + 10, 1);
    vm_unlock(f->vm);
    refresh(f);
    pixman_box32_t *e = pixman_region32_extents(&f->dirty);
    g_assert_cmpint(e->y1, >=, 140);
    g_assert_cmpint(e->y2, <=, 160);
    g_assert_cmphex(pixel(f, 10, 150), ==, 0xff0000);
    /* A palette change redraws everything in the new colour. */
    vm_lock(f->vm);
    vga_test_set_dac(f->io, 1, 63, 63, 63);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 10, 150), ==, 0xffffff);
    g_assert_cmphex(pixel(f, 0, 1), ==, 0xffffff);
}

/* The 6-bit DAC values become 8-bit colours as in QEMU's VGA (c6_to_8 in
 * hw/display/vga_int.h): shifted left by two, with bit 0 copied into the two new low
 * bits, so 0, 1, 32 and 63 give 00, 07, 80 and FF. Screendumps then compare with
 * QEMU's pixel for pixel. */
static void test_dac_6_to_8(Fixture *f, gconstpointer data)
{
    static const struct { uint8_t v; uint8_t want; } conv[] = {
        { 0, 0x00 }, { 1, 0x07 }, { 32, 0x80 }, { 63, 0xff },
    };
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_13);
    for (unsigned i = 0; i < G_N_ELEMENTS(conv); i++) {
        vga_test_set_dac(f->io, (uint8_t)i, conv[i].v, conv[i].v, conv[i].v);
        memw(f, 0xa0000 + i, (uint8_t)i);
    }
    vga_test_set_dac(f->io, 4, 1, 32, 63); /* each component on its own */
    memw(f, 0xa0000 + 4, 4);
    vm_unlock(f->vm);
    refresh(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(conv); i++)
        g_assert_cmphex(pixel(f, (int)i, 0), ==, conv[i].want * 0x010101u);
    g_assert_cmphex(pixel(f, 4, 0), ==, 0x0780ff);
}

static void test_modex_picture(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    /* Mode X (320x240, unchained): mode 13h without chain-4, byte addressing, 480 lines. */
    vga_test_set_mode(f->io, &vga_mode_13);
    reg(f, 0x3c4, 4, 0x06);
    reg(f, 0x3d4, 0x11, 0x2c);
    static const uint8_t crtc[][2] = {
        { 0x06, 0x0d }, { 0x07, 0x3e }, { 0x10, 0xea }, { 0x11, 0xac }, { 0x12, 0xdf },
        { 0x14, 0x00 }, { 0x15, 0xe7 }, { 0x16, 0x06 }, { 0x17, 0xe3 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(crtc); i++)
        reg(f, 0x3d4, crtc[i][0], crtc[i][1]);
    io_write(f->io, 0x3c2, 0xe3, 1);
    vga_test_set_dac(f->io, 5, 63, 32, 0);
    vga_test_set_dac(f->io, 6, 0, 32, 63);
    /* Pixel (x, y) lives in plane x & 3 at offset y * 80 + x / 4. */
    for (unsigned p = 0; p < 4; p++) {
        reg(f, 0x3c4, 2, (uint8_t)(1u << p));
        for (uint32_t y = 0; y < 240; y++)
            for (uint32_t x = p; x < 320; x += 4)
                memw(f, 0xa0000 + y * 80 + x / 4, (x / 4 + y) % 7 == 0 ? 5 : 6);
    }
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 320);
    g_assert_cmpint(f->surf->height, ==, 240);
    for (int y = 0; y < 240; y += 5)
        for (int x = 0; x < 320; x++)
            g_assert_cmphex(pixel(f, x, y), ==, (x / 4 + y) % 7 == 0 ? 0xff8000 : 0x0080ff);
    /* Scrolling by the start address: line 10 shows what was line 20. */
    vm_lock(f->vm);
    reg(f, 0x3d4, 0x0c, (10 * 80) >> 8);
    reg(f, 0x3d4, 0x0d, (10 * 80) & 0xff);
    vm_unlock(f->vm);
    refresh(f);
    for (int x = 0; x < 320; x++)
        g_assert_cmphex(pixel(f, x, 10), ==, (x / 4 + 20) % 7 == 0 ? 0xff8000 : 0x0080ff);
}

static void test_mode12_picture(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_12);
    vga_test_set_dac(f->io, 0x00, 0, 0, 0);
    vga_test_set_dac(f->io, 0x04, 42, 0, 0);     /* AR04 = 0x04 */
    vga_test_set_dac(f->io, 0x3f, 63, 63, 63);   /* AR0F = 0x3F */
    /* Write mode 2 draws a colour through the bit mask: a diagonal of colour 4 and a
     * white column at x = 600. */
    reg(f, 0x3ce, 5, 0x02);
    for (uint32_t y = 0; y < 480; y++) {
        uint32_t x = y;
        reg(f, 0x3ce, 8, (uint8_t)(0x80 >> (x & 7)));
        uint32_t a = 0xa0000 + y * 80 + x / 8;
        (void)memr(f, a);
        memw(f, a, 4);
        reg(f, 0x3ce, 8, 0x80 >> (600 & 7));
        a = 0xa0000 + y * 80 + 600 / 8;
        (void)memr(f, a);
        memw(f, a, 0x0f);
    }
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 640);
    g_assert_cmpint(f->surf->height, ==, 480);
    for (int y = 0; y < 480; y += 3) {
        g_assert_cmphex(pixel(f, y, y), ==, 0xa80000);
        g_assert_cmphex(pixel(f, 600, y), ==, 0xffffff);
        if (y != 599 && y + 1 < 640)
            g_assert_cmphex(pixel(f, y + 1, y), ==, 0x000000);
    }
    /* Horizontal pixel panning (AR13) moves the picture left. */
    vm_lock(f->vm);
    io_read(f->io, 0x3da, 1);
    io_write(f->io, 0x3c0, 0x33, 1);
    io_write(f->io, 0x3c0, 3, 1);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 597, 5), ==, 0xffffff);
    g_assert_cmphex(pixel(f, 600, 5), ==, 0x000000);
}

static void test_cga_picture(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_04);
    vga_test_set_dac(f->io, 0x00, 0, 0, 0);
    vga_test_set_dac(f->io, 0x13, 0, 63, 63);
    vga_test_set_dac(f->io, 0x15, 63, 0, 63);
    vga_test_set_dac(f->io, 0x17, 63, 63, 63);
    /* Even lines at B8000, odd lines at BA000, four 2-bit pixels per byte. */
    for (uint32_t y = 0; y < 200; y++)
        for (uint32_t xb = 0; xb < 80; xb++) {
            uint8_t v = 0;
            for (uint32_t i = 0; i < 4; i++)
                v |= (uint8_t)(((xb * 4 + i + y) % 4) << (6 - 2 * i));
            memw(f, 0xb8000 + (y & 1) * 0x2000 + (y / 2) * 80 + xb, v);
        }
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 320);
    g_assert_cmpint(f->surf->height, ==, 200);
    static const uint32_t colours[4] = { 0x000000, 0x00ffff, 0xff00ff, 0xffffff };
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 320; x += 5)
            g_assert_cmphex(pixel(f, x, y), ==, colours[(x + y) % 4]);
}

static void test_cga2_picture(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_06);
    vga_test_set_dac(f->io, 0x00, 0, 0, 0);
    vga_test_set_dac(f->io, 0x17, 63, 63, 63);
    /* One bit per pixel; even lines at B8000, odd lines at BA000. */
    for (uint32_t y = 0; y < 200; y++)
        for (uint32_t xb = 0; xb < 80; xb++)
            memw(f, 0xb8000 + (y & 1) * 0x2000 + (y / 2) * 80 + xb, (uint8_t)(y % 3 == 0 ? 0xf0 : 0x81));
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 640);
    g_assert_cmpint(f->surf->height, ==, 200);
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 640; x += 3) {
            uint8_t byte = y % 3 == 0 ? 0xf0 : 0x81;
            g_assert_cmphex(pixel(f, x, y), ==, (byte & (0x80 >> (x % 8))) ? 0xffffff : 0);
        }
}

static void test_text_geometry(Fixture *f, gconstpointer data)
{
    DisplayText text;
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_03);
    /* 8-line character cells: 50 rows (43 with the EGA's 350 lines). */
    reg(f, 0x3d4, 0x09, 0x47);
    vm_unlock(f->vm);
    g_assert_true(display_console_get_text(vm_display_console(f->vm), &text));
    g_assert_cmpint(text.rows, ==, 50);
    g_assert_cmpint(text.cols, ==, 80);
    display_text_clear(&text);
    refresh(f);
    g_assert_cmpint(f->surf->height, ==, 400);
    /* 40 columns: halved dot clock (SR01 bit 3), 40 characters, a 40-word row offset. */
    vm_lock(f->vm);
    reg(f, 0x3c4, 0x01, 0x08);
    reg(f, 0x3d4, 0x11, 0x0e); /* unlock CR00-CR07 */
    reg(f, 0x3d4, 0x01, 0x27);
    reg(f, 0x3d4, 0x13, 0x14);
    reg(f, 0x3d4, 0x09, 0x4f);
    memw(f, 0xb8000 + 40 * 2, 'Z');
    vm_unlock(f->vm);
    g_assert_true(display_console_get_text(vm_display_console(f->vm), &text));
    g_assert_cmpint(text.cols, ==, 40);
    g_assert_cmpint(text.rows, ==, 25);
    g_assert_cmphex(text.cells[40] & 0xff, ==, 'Z');
    display_text_clear(&text);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 360);
    g_assert_cmpint(f->surf->aspect_w * 3, ==, f->surf->aspect_h * 4);
}

/* Loads an 8x16 glyph for character ch into font map 0 the way a VGA BIOS does. */
static void load_glyph(Fixture *f, uint8_t ch, const uint8_t rows[16])
{
    reg(f, 0x3c4, 2, 0x04);
    reg(f, 0x3c4, 4, 0x06);
    reg(f, 0x3ce, 4, 0x02);
    reg(f, 0x3ce, 5, 0x00);
    reg(f, 0x3ce, 6, 0x04);
    for (unsigned r = 0; r < 16; r++)
        memw(f, 0xa0000 + ch * 32u + r, rows[r]);
    reg(f, 0x3c4, 2, 0x03);
    reg(f, 0x3c4, 4, 0x02);
    reg(f, 0x3ce, 4, 0x00);
    reg(f, 0x3ce, 5, 0x10);
    reg(f, 0x3ce, 6, 0x0e);
}

static void put_char(Fixture *f, unsigned col, unsigned row, uint8_t ch, uint8_t attr)
{
    uint32_t a = 0xb8000 + (row * 80 + col) * 2;
    memw(f, a, ch);
    memw(f, a + 1, attr);
}

static void test_text_picture(Fixture *f, gconstpointer data)
{
    static const uint8_t glyph_a[16] = { 0, 0, 0x18, 0x3c, 0x66, 0x66, 0x7e, 0x66, 0x66, 0x66, 0, 0, 0, 0, 0, 0 };
    static const uint8_t glyph_line[16] = { 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0 };
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_03);
    load_glyph(f, 'A', glyph_a);
    load_glyph(f, 0xc4, glyph_line);
    load_glyph(f, ' ', (const uint8_t[16]){ 0 });
    vga_test_set_dac(f->io, 0x00, 0, 0, 0);
    vga_test_set_dac(f->io, 0x01, 0, 0, 42);      /* blue background (AR01 = 01) */
    vga_test_set_dac(f->io, 0x3e, 63, 63, 21);    /* yellow foreground (AR0E = 3E) */
    for (unsigned r = 0; r < 25; r++)
        for (unsigned c = 0; c < 80; c++)
            put_char(f, c, r, ' ', 0x07);
    put_char(f, 2, 1, 'A', 0x1e);
    put_char(f, 3, 1, 0xc4, 0x1e);
    /* Cursor off for now (CR0A bit 5). */
    reg(f, 0x3d4, 0x0a, 0x20);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 720);
    g_assert_cmpint(f->surf->height, ==, 400);
    const uint32_t fg = 0xffff57, bg = 0x0000a8;
    for (int r = 0; r < 16; r++)
        for (int b = 0; b < 9; b++) {
            uint32_t want = b < 8 && (glyph_a[r] & (0x80 >> b)) ? fg : bg;
            g_assert_cmphex(pixel(f, 2 * 9 + b, 16 + r), ==, want);
        }
    /* The line-drawing character continues into the ninth column. */
    g_assert_cmphex(pixel(f, 3 * 9 + 8, 16 + 7), ==, fg);
    g_assert_cmphex(pixel(f, 2 * 9 + 8, 16 + 4), ==, bg);

    DisplayText text;
    g_assert_true(display_console_get_text(vm_display_console(f->vm), &text));
    g_assert_cmpint(text.cols, ==, 80);
    g_assert_cmpint(text.rows, ==, 25);
    g_assert_cmphex(text.cells[80 + 2], ==, 0x1e00 | 'A');
    g_autofree char *row1 = display_text_row_utf8(&text, 1);
    g_assert_true(g_str_has_prefix(row1, "  A\u2500 "));
    display_text_clear(&text);

    /* The cursor: rows 14-15 of its cell in the foreground colour. */
    vm_lock(f->vm);
    reg(f, 0x3d4, 0x0a, 0x0e);
    reg(f, 0x3d4, 0x0b, 0x0f);
    reg(f, 0x3d4, 0x0e, 0);
    reg(f, 0x3d4, 0x0f, 80 + 2);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 16 + 14), ==, fg);
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 16 + 13), ==, bg);
    /* ... and it blinks: 16 frames later it is off (about 70 Hz). */
    vm_test_clock_step(f->vm, NS_PER_SEC / 70 * 8 + NS_PER_SEC / 200);
    refresh(f);
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 16 + 14), ==, bg);
    g_assert_true(pixman_region32_not_empty(&f->dirty));

    /* Hardware scrolling: a start address of one row shows row 1 at the top. */
    vm_lock(f->vm);
    reg(f, 0x3d4, 0x0c, 0);
    reg(f, 0x3d4, 0x0d, 80);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 4), ==, fg);
    g_assert_true(display_console_get_text(vm_display_console(f->vm), &text));
    g_assert_cmphex(text.cells[2], ==, 0x1e00 | 'A');
    g_assert_cmpint(text.cursor_row, ==, 0);
    g_assert_cmpint(text.cursor_col, ==, 2);
    display_text_clear(&text);

    /* Line compare splits the screen: from scan line 200 the display restarts at 0. */
    vm_lock(f->vm);
    reg(f, 0x3d4, 0x18, 200 - 1);
    uint8_t cr7 = reg_read(f, 0x3d4, 0x07), cr9 = reg_read(f, 0x3d4, 0x09);
    reg(f, 0x3d4, 0x07, cr7 & ~0x10);
    reg(f, 0x3d4, 0x09, cr9 & ~0x40);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 4), ==, fg);        /* top: scrolled */
    g_assert_cmphex(pixel(f, 2 * 9 + 1, 200 + 16 + 4), ==, fg); /* split: row 1 again */
}

static void test_vbe(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    /* GETCAPS reports the limits. */
    vga_test_vbe(f->io, 4, 0x02);
    io_write(f->io, 0x1ce, 1, 2);
    g_assert_cmpuint(io_read(f->io, 0x1cf, 2), >=, 2560);
    io_write(f->io, 0x1ce, 2, 2);
    g_assert_cmpuint(io_read(f->io, 0x1cf, 2), >=, 1600);
    io_write(f->io, 0x1ce, 10, 2);
    g_assert_cmpuint(io_read(f->io, 0x1cf, 2), ==, 256);
    vga_test_vbe(f->io, 4, 0);
    vga_test_vbe(f->io, 1, 1024);
    vga_test_vbe(f->io, 2, 768);
    vga_test_vbe(f->io, 3, 32);
    vga_test_vbe(f->io, 4, 0x41);
    for (uint32_t y = 0; y < 768; y++)
        for (uint32_t x = 0; x < 1024; x += 8)
            mem_dispatch_write(f->mem, LFB_BASE + (y * 1024 + x) * 4, (x * 131 + y * 7) & 0xffffff, 4);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 1024);
    g_assert_cmpint(f->surf->height, ==, 768);
    g_assert_cmpint(f->surf->aspect_w * 768, ==, f->surf->aspect_h * 1024);
    for (int y = 0; y < 768; y += 11)
        for (int x = 0; x < 1024; x += 8) {
            g_assert_cmphex(pixel(f, x, y), ==, (uint32_t)(x * 131 + y * 7) & 0xffffff);
            g_assert_cmphex(pixel(f, x + 1, y), ==, 0);
        }
    refresh(f);
    g_assert_false(pixman_region32_not_empty(&f->dirty));
    vm_lock(f->vm);
    mem_dispatch_write(f->mem, LFB_BASE + (500 * 1024 + 3) * 4, 0x123456, 4);
    vm_unlock(f->vm);
    refresh(f);
    pixman_box32_t *e = pixman_region32_extents(&f->dirty);
    g_assert_cmpint(e->y1, ==, 500);
    g_assert_cmpint(e->y2, ==, 501);
    g_assert_cmphex(pixel(f, 3, 500), ==, 0x123456);

    /* Virtual width and offsets pan over video memory. */
    vm_lock(f->vm);
    vga_test_vbe(f->io, 9, 100);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 3, 400), ==, 0x123456);

    /* 16, 15, 24 bpp and 8 bpp through the palette, keeping memory. */
    struct { unsigned bpp; uint32_t raw; unsigned bytes; uint32_t want; } fmt[] = {
        { 16, 0xf800, 2, 0xff0000 }, { 16, 0x07e0, 2, 0x00ff00 }, { 15, 0x001f, 2, 0x0000ff },
        { 15, 0x7c00, 2, 0xff0000 }, { 24, 0x405060, 3, 0x405060 }, { 8, 0x07, 1, 0x102030 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fmt); i++) {
        vm_lock(f->vm);
        vga_test_vbe(f->io, 4, 0);
        vga_test_vbe(f->io, 1, 640);
        vga_test_vbe(f->io, 2, 480);
        vga_test_vbe(f->io, 3, fmt[i].bpp);
        vga_test_vbe(f->io, 4, 0x41);
        vga_test_set_dac(f->io, 7, 0x10 >> 2, 0x20 >> 2, 0x30 >> 2);
        for (unsigned b = 0; b < fmt[i].bytes; b++)
            mem_dispatch_write(f->mem, LFB_BASE + 5 * fmt[i].bytes + b, (fmt[i].raw >> (8 * b)) & 0xff, 1);
        vm_unlock(f->vm);
        refresh(f);
        g_assert_cmpint(f->surf->width, ==, 640);
        g_assert_cmphex(pixel(f, 5, 0), ==, fmt[i].want);
        g_assert_cmphex(pixel(f, 4, 0), ==, 0);
    }
    /* 8-bit DAC: components are taken whole. */
    vm_lock(f->vm);
    vga_test_vbe(f->io, 4, 0x61);
    vga_test_set_dac(f->io, 7, 0x81, 0x82, 0x83);
    /* Banked access: bank 2 of the A0000 window is byte 128 KiB of the framebuffer. */
    vga_test_vbe(f->io, 5, 2);
    memw(f, 0xa0000 + 5, 7);
    g_assert_cmphex(mem_dispatch_read(f->mem, LFB_BASE + 0x20005, 1), ==, 7);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 5, 0), ==, 0x818283);
    g_assert_cmphex(pixel(f, 0x20005 % 640, 0x20005 / 640), ==, 0x818283);
}

static void test_retrace(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_mode(f->io, &vga_mode_13);
    vm_unlock(f->vm);
    /* Sample input status 1 every 50 us over 40 ms: vertical retrace comes and goes at
     * about 70 Hz, display-disabled far more often. */
    int retrace_starts = 0, blank = 0;
    bool prev = true;
    for (int i = 0; i < 800; i++) {
        vm_lock(f->vm);
        uint8_t v = (uint8_t)io_read(f->io, 0x3da, 1);
        vm_unlock(f->vm);
        bool r = v & 0x08;
        if (r && !prev)
            retrace_starts++;
        prev = r;
        blank += v & 0x01;
        vm_test_clock_step(f->vm, 50000);
    }
    g_assert_cmpint(retrace_starts, >=, 2);
    g_assert_cmpint(retrace_starts, <=, 3);
    g_assert_cmpint(blank, >, 100);
    g_assert_cmpint(blank, <, 600);
}

static void test_dac_and_attributes(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    vga_test_set_dac(f->io, 0x42, 1, 2, 0x7f);
    io_write(f->io, 0x3c7, 0x42, 1);
    g_assert_cmphex(io_read(f->io, 0x3c7, 1), ==, 3);
    g_assert_cmphex(io_read(f->io, 0x3c9, 1), ==, 1);
    g_assert_cmphex(io_read(f->io, 0x3c9, 1), ==, 2);
    g_assert_cmphex(io_read(f->io, 0x3c9, 1), ==, 0x3f); /* six bits */
    /* The attribute flip-flop: reading 3DA makes the next 3C0 write an index. */
    io_write(f->io, 0x3c2, 0x67, 1);
    io_read(f->io, 0x3da, 1);
    io_write(f->io, 0x3c0, 0x31, 1);
    io_write(f->io, 0x3c0, 0x2a, 1);
    g_assert_cmphex(io_read(f->io, 0x3c0, 1), ==, 0x31);
    g_assert_cmphex(io_read(f->io, 0x3c1, 1), ==, 0x2a);
    io_write(f->io, 0x3c0, 0x32, 1); /* an index again */
    g_assert_cmphex(io_read(f->io, 0x3c0, 1), ==, 0x32);
    /* In colour mode the monochrome CRTC ports do not answer. */
    g_assert_cmphex(io_read(f->io, 0x3b5, 1), ==, 0xff);
    /* CR11 bit 7 protects CR00-CR07. */
    reg(f, 0x3d4, 0x11, 0x80);
    reg(f, 0x3d4, 0x01, 0x33);
    g_assert_cmphex(reg_read(f, 0x3d4, 0x01), ==, 0x00);
    vm_unlock(f->vm);
}

static void test_hostile(Fixture *f, gconstpointer data)
{
    /* Huge virtual widths and offsets past the end of memory show black. */
    vm_lock(f->vm);
    vga_test_vbe(f->io, 1, 2560);
    vga_test_vbe(f->io, 2, 1600);
    vga_test_vbe(f->io, 3, 32);
    vga_test_vbe(f->io, 4, 0x41);
    vga_test_vbe(f->io, 6, 0xffff);
    vga_test_vbe(f->io, 8, 0xffff);
    vga_test_vbe(f->io, 9, 0xffff);
    io_write(f->io, 0x1ce, 7, 2);
    g_assert_cmpuint(io_read(f->io, 0x1cf, 2), ==, (16u << 20) / (0xffffu * 4));
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmpint(f->surf->width, ==, 2560);
    g_assert_cmphex(pixel(f, 2559, 1599), ==, 0);
    /* Out-of-range geometry is refused. */
    vm_lock(f->vm);
    vga_test_vbe(f->io, 4, 0);
    vga_test_vbe(f->io, 1, 60000);
    io_write(f->io, 0x1ce, 1, 2);
    g_assert_cmpuint(io_read(f->io, 0x1cf, 2), ==, 2560);
    vm_unlock(f->vm);

    /* A flood of random register and memory writes, rendered now and then. */
    GRand *rng = g_rand_new_with_seed(1234);
    for (int round = 0; round < 40; round++) {
        vm_lock(f->vm);
        for (int i = 0; i < 5000; i++) {
            uint32_t r = g_rand_int(rng);
            switch (r % 5) {
            case 0:
            case 1:
                io_write(f->io, (uint16_t)(0x3b0 + (r >> 8) % 0x30), (r >> 16) & 0xff, 1);
                break;
            case 2:
                io_write(f->io, 0x1ce, (r >> 8) % 12, 2);
                io_write(f->io, 0x1cf, r >> 16, 2);
                break;
            case 3:
                memw(f, 0xa0000 + (r >> 8) % 0x20000, r & 0xff);
                break;
            default:
                (void)memr(f, 0xa0000 + (r >> 8) % 0x20000);
                (void)io_read(f->io, (uint16_t)(0x3b0 + (r >> 8) % 0x30), 1);
                break;
            }
        }
        vm_unlock(f->vm);
        refresh(f);
        g_assert_cmpint(f->surf->width, <=, 4096);
        g_assert_cmpint(f->surf->height, <=, 4096);
        DisplayText text;
        if (display_console_get_text(vm_display_console(f->vm), &text)) {
            g_assert_cmpint(text.cols, <=, 256);
            display_text_clear(&text);
        }
        g_free(display_console_describe_mode(vm_display_console(f->vm)));
    }
    g_rand_free(rng);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/vga/pci-ids", test_pci_ids);
    ADD("/vga/write-modes", test_write_modes);
    ADD("/vga/chain4-oddeven", test_chain4_oddeven);
    ADD("/vga/mode13-picture", test_mode13_picture);
    ADD("/vga/dac-6-to-8", test_dac_6_to_8);
    ADD("/vga/modex-picture", test_modex_picture);
    ADD("/vga/mode12-picture", test_mode12_picture);
    ADD("/vga/cga-picture", test_cga_picture);
    ADD("/vga/cga2-picture", test_cga2_picture);
    ADD("/vga/text-geometry", test_text_geometry);
    ADD("/vga/text-picture", test_text_picture);
    ADD("/vga/vbe", test_vbe);
    ADD("/vga/retrace", test_retrace);
    ADD("/vga/dac-attributes", test_dac_and_attributes);
    ADD("/vga/hostile", test_hostile);
    return g_test_run();
}
