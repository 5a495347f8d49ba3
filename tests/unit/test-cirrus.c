/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Cirrus CL-GD5446 (cirrus-vga) driven through its ports, BARs and memory window as a
 * driver would: identification, the SR06 key and the Hidden DAC, banking, the extended
 * modes in the display surface, the hardware cursor, and the BitBLT engine -- every ROP
 * forward and backward, colour expansion, patterns, fills, system-to-screen blits -- each
 * checked byte for byte against a reference model written here; random hostile blits
 * (checked to touch nothing outside the region the registers describe, and nothing at
 * all when that region leaves video memory), and a save/load in the middle of a
 * system-to-screen blit. */
#include "engine/testing.h"
#include "engine/display.h"
#include "hw/pci/pci.h"

#include <string.h>

#define LFB 0xe0000000u
#define MMIO 0xfebf0000u
#define DEVFN PCI_DEVFN(3, 0)
#define VRAM (4u << 20)

typedef struct Fixture {
    Vm *vm;
    PciBus *bus;
    IoSpace *io;
    GuestMemory *mem;
    DisplayClient *client;
    DisplaySurface *surf;
    pixman_region32_t dirty;
    bool new_surface;
    uint8_t *model; /* what video memory should hold */
} Fixture;

static Vm *make_vm(PciBus **bus_out)
{
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    vm_lock(vm);
    PciBus *bus = pci_bus_new(vm);
    vm_add_bus(vm, "pci.0", bus);
    Device *d = device_new(vm, "cirrus-vga", "vga", &err);
    g_assert_no_error(err);
    g_assert_true(device_set_prop(d, "addr", "3", &err));
    g_assert_true(device_set_prop(d, "romfile", "none", &err));
    g_assert_true(device_realize(d, &err));
    g_assert_no_error(err);
    pci_config_write(bus, DEVFN, PCI_BAR0, LFB, 4);
    pci_config_write(bus, DEVFN, PCI_BAR0 + 4, MMIO, 4);
    pci_config_write(bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    vm_unlock(vm);
    *bus_out = bus;
    return vm;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->vm = make_vm(&f->bus);
    f->io = vm_io(f->vm);
    f->mem = vm_mem(f->vm);
    f->client = display_client_new(vm_display_console(f->vm));
    pixman_region32_init(&f->dirty);
    f->model = g_malloc0(VRAM);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    pixman_region32_fini(&f->dirty);
    display_client_free(f->client);
    vm_free(f->vm);
    g_free(f->model);
}

static void reg(Fixture *f, uint16_t port, uint8_t index, uint8_t value)
{
    io_write(f->io, port, index, 1);
    io_write(f->io, port + 1, value, 1);
}

static uint8_t reg_read(Fixture *f, uint16_t port, uint8_t index)
{
    io_write(f->io, port, index, 1);
    return (uint8_t)io_read(f->io, port + 1, 1);
}

static void gr(Fixture *f, uint8_t i, uint8_t v) { reg(f, 0x3ce, i, v); }
static void sr(Fixture *f, uint8_t i, uint8_t v) { reg(f, 0x3c4, i, v); }
static void cr(Fixture *f, uint8_t i, uint8_t v) { reg(f, 0x3d4, i, v); }

static void vram_read(Fixture *f, uint32_t off, void *buf, size_t len)
{
    g_assert_true(mem_read(f->mem, LFB + off, buf, len));
}

static void vram_write(Fixture *f, uint32_t off, const void *buf, size_t len)
{
    g_assert_true(mem_write(f->mem, LFB + off, buf, len));
    memcpy(f->model + off, buf, len);
}

/* Video memory equals the model everywhere. */
static void assert_model(Fixture *f, const char *what)
{
    uint8_t *now = g_malloc(VRAM);
    vram_read(f, 0, now, VRAM);
    for (uint32_t i = 0; i < VRAM; i++)
        if (now[i] != f->model[i]) {
            g_test_message("%s: video memory 0x%06x is 0x%02x, expected 0x%02x", what, i, now[i], f->model[i]);
            g_assert_cmphex(now[i], ==, f->model[i]);
        }
    g_free(now);
}

static void random_fill(Fixture *f, uint32_t off, uint32_t len, GRand *r)
{
    uint8_t *buf = g_malloc(len);
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)g_rand_int(r);
    vram_write(f, off, buf, len);
    g_free(buf);
}

/* A linear mode of w x h at bpp with a pitch of `pitch` bytes, as a driver programs it:
 * unlock, SR07, the CRTC (CR01, CR12/CR07, CR13/CR1B), graphics and attribute modes,
 * the Hidden DAC for 15/16 bpp, and the display enabled (AR index bit 5). */
static void set_mode(Fixture *f, unsigned w, unsigned h, unsigned bpp, unsigned pitch)
{
    io_write(f->io, 0x3c2, 0xe3, 1);
    sr(f, 0x06, 0x12);
    static const uint8_t sr07[33] = { [8] = 0x11, [15] = 0x17, [16] = 0x17, [24] = 0x15, [32] = 0x19 };
    sr(f, 0x00, 0x03);
    sr(f, 0x01, 0x01);
    sr(f, 0x02, 0x0f);
    sr(f, 0x04, 0x0e);
    sr(f, 0x07, sr07[bpp]);
    cr(f, 0x11, 0x00);
    cr(f, 0x01, (uint8_t)(w / 8 - 1));
    unsigned vde = h - 1;
    cr(f, 0x12, (uint8_t)vde);
    cr(f, 0x07, (uint8_t)((vde >> 8 & 1) << 1 | (vde >> 9 & 1) << 6));
    cr(f, 0x09, 0x40);
    cr(f, 0x0c, 0);
    cr(f, 0x0d, 0);
    cr(f, 0x13, (uint8_t)(pitch / 8));
    cr(f, 0x1b, (uint8_t)(0x22 | ((pitch / 8) >> 8 & 1) << 4));
    cr(f, 0x17, 0xc3);
    gr(f, 0x05, 0x40);
    gr(f, 0x06, 0x05);
    /* Hidden DAC: four reads of the pixel mask, then the write. */
    for (int i = 0; i < 4; i++)
        (void)io_read(f->io, 0x3c6, 1);
    io_write(f->io, 0x3c6, bpp == 16 ? 0xe1 : bpp == 15 ? 0xf0 : bpp == 8 ? 0x00 : 0xe5, 1);
    (void)io_read(f->io, 0x3da, 1);
    io_write(f->io, 0x3c0, 0x20, 1);
}

static DisplaySurface *refresh(Fixture *f)
{
    f->surf = display_client_refresh(f->client, &f->dirty, &f->new_surface);
    return f->surf;
}

static uint32_t pixel(Fixture *f, int x, int y)
{
    const uint32_t *bits = pixman_image_get_data(f->surf->image);
    return bits[(size_t)y * (pixman_image_get_stride(f->surf->image) / 4) + x] & 0xffffff;
}

/* ---- identification, keys, banking ---- */

static void test_ids(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    g_assert_cmphex(pci_config_read(f->bus, DEVFN, 0, 4), ==, 0x00b81013);
    g_assert_cmphex(pci_config_read(f->bus, DEVFN, PCI_CLASS_DEVICE, 2), ==, 0x0300);
    /* BAR 0 32 MiB, BAR 1 4 KiB. */
    pci_config_write(f->bus, DEVFN, PCI_BAR0, 0xffffffffu, 4);
    g_assert_cmphex(pci_config_read(f->bus, DEVFN, PCI_BAR0, 4) & ~0xfu, ==, 0xfe000000u);
    pci_config_write(f->bus, DEVFN, PCI_BAR0, LFB, 4);
    io_write(f->io, 0x3c2, 0x67, 1);
    /* SR06: locked reads 0Fh, the key 12h (bits 7,6,5,3 ignored) unlocks. */
    g_assert_cmphex(reg_read(f, 0x3c4, 0x06), ==, 0x0f);
    sr(f, 0x06, 0x92);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x06), ==, 0x12);
    sr(f, 0x06, 0x00);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x06), ==, 0x0f);
    sr(f, 0x06, 0x12);
    /* CR27: the 5446's ID; SR0F/SR15: 4 MiB. */
    g_assert_cmphex(reg_read(f, 0x3d4, 0x27), ==, 0xb8);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x0f) & 0x98, ==, 0x98);
    /* The Hidden DAC: four reads return the pixel mask, the fifth the HDR; a write after
     * four reads sets it, any other DAC access in between starts the count again. */
    for (int i = 0; i < 4; i++)
        g_assert_cmphex(io_read(f->io, 0x3c6, 1), ==, 0xff);
    io_write(f->io, 0x3c6, 0xe1, 1);
    io_write(f->io, 0x3c6, 0xfe, 1); /* a plain pixel mask write */
    g_assert_cmphex(io_read(f->io, 0x3c6, 1), ==, 0xfe);
    (void)io_read(f->io, 0x3c6, 1);
    (void)io_read(f->io, 0x3c8, 1);
    for (int i = 0; i < 4; i++)
        (void)io_read(f->io, 0x3c6, 1);
    g_assert_cmphex(io_read(f->io, 0x3c6, 1), ==, 0xe1);
    /* Extended GRs hold their bits: blit width high is 5 bits. */
    gr(f, 0x21, 0xff);
    g_assert_cmphex(reg_read(f, 0x3ce, 0x21), ==, 0x1f);
    gr(f, 0x00, 0xa5); /* GR00: the 8-bit background for blits */
    g_assert_cmphex(reg_read(f, 0x3ce, 0x00), ==, 0xa5);
    /* The cursor position: SR10/SR11 with the index's top bits. */
    sr(f, 0xf0, 0x12);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x10), ==, 0x12);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x70), ==, 0x12);
    /* BAR 1 reaches the VGA ports at 0x3C0 + offset. */
    mem_dispatch_write(f->mem, MMIO + 4, 0x02, 1);
    mem_dispatch_write(f->mem, MMIO + 5, 0x0a, 1);
    g_assert_cmphex(reg_read(f, 0x3c4, 0x02), ==, 0x0a);
    vm_unlock(f->vm);
}

static void test_banking(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 640);
    uint8_t b;
    /* Single bank, 4 KiB granularity: GR09 maps all 64 KiB. */
    gr(f, 0x0b, 0x00);
    gr(f, 0x09, 0x03);
    mem_dispatch_write(f->mem, 0xa0010, 0x11, 1);
    mem_dispatch_write(f->mem, 0xa8010, 0x22, 1);
    vram_read(f, 0x3010, &b, 1);
    g_assert_cmphex(b, ==, 0x11);
    vram_read(f, 0xb010, &b, 1);
    g_assert_cmphex(b, ==, 0x22);
    g_assert_cmphex(mem_dispatch_read(f->mem, 0xa0010, 1), ==, 0x11);
    /* Dual banks: GR0A maps 0xA8000. */
    gr(f, 0x0b, 0x01);
    gr(f, 0x0a, 0x05);
    mem_dispatch_write(f->mem, 0xa8020, 0x33, 1);
    vram_read(f, 0x5020, &b, 1);
    g_assert_cmphex(b, ==, 0x33);
    /* 16 KiB granularity reaches the top of the 4 MiB. */
    gr(f, 0x0b, 0x20);
    gr(f, 0x09, 0xff);
    mem_dispatch_write(f->mem, 0xa0000, 0x44, 1);
    vram_read(f, 0xff * 0x4000, &b, 1);
    g_assert_cmphex(b, ==, 0x44);
    /* Past the memory (4 KiB units of GR09 reach only 1 MiB; beyond in 16 KiB units
     * with the second half of a single bank): reads float, writes are dropped. */
    gr(f, 0x0b, 0x20);
    gr(f, 0x09, 0xff);
    mem_dispatch_write(f->mem, 0xa8000, 0x55, 1); /* 0x3FC000 + 0x8000: outside */
    g_assert_cmphex(mem_dispatch_read(f->mem, 0xa8000, 1), ==, 0xff);
    /* Write mode 5 with GR0B bit 2: eight pixels of foreground/background per byte,
     * the offset in units of 8 (GR0B bit 1). */
    gr(f, 0x0b, 0x06);
    gr(f, 0x09, 0x00);
    gr(f, 0x00, 0x10);
    gr(f, 0x01, 0x20);
    gr(f, 0x05, 0x45);
    mem_dispatch_write(f->mem, 0xa0002, 0xa5, 1);
    gr(f, 0x05, 0x40);
    gr(f, 0x0b, 0x00);
    uint8_t px[8];
    vram_read(f, 16, px, 8);
    static const uint8_t want[8] = { 0x20, 0x10, 0x20, 0x10, 0x10, 0x20, 0x10, 0x20 };
    g_assert_cmpmem(px, 8, want, 8);
    vm_unlock(f->vm);
}

/* ---- extended modes on screen ---- */

static uint32_t expand565(uint16_t p)
{
    unsigned r = p >> 11 & 31, g = p >> 5 & 63, b = p & 31;
    return (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
}

static uint32_t expand555(uint16_t p)
{
    unsigned r = p >> 10 & 31, g = p >> 5 & 31, b = p & 31;
    return (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (b << 3 | b >> 2);
}

static void test_modes(Fixture *f, gconstpointer data)
{
    static const unsigned depths[] = { 8, 15, 16, 24, 32 };
    GRand *r = g_rand_new_with_seed(5446);
    for (unsigned d = 0; d < G_N_ELEMENTS(depths); d++) {
        unsigned bpp = depths[d], bytes = (bpp + 7) / 8, w = 64, h = 40, pitch = 512;
        vm_lock(f->vm);
        set_mode(f, w, h, bpp, pitch);
        /* DAC entries 0-255: a ramp (6 bits). */
        io_write(f->io, 0x3c8, 0, 1);
        for (unsigned i = 0; i < 256; i++) {
            io_write(f->io, 0x3c9, i & 63, 1);
            io_write(f->io, 0x3c9, (i >> 2) & 63, 1);
            io_write(f->io, 0x3c9, 63 - (i & 63), 1);
        }
        random_fill(f, 0, pitch * h, r);
        vm_unlock(f->vm);
        refresh(f);
        g_assert_cmpint(f->surf->width, ==, (int)w);
        g_assert_cmpint(f->surf->height, ==, (int)h);
        for (unsigned y = 0; y < h; y++)
            for (unsigned x = 0; x < w; x++) {
                const uint8_t *p = f->model + y * pitch + x * bytes;
                uint32_t want;
                switch (bpp) {
                case 8: {
                    unsigned i = p[0];
                    uint32_t c[3] = { i & 63, (i >> 2) & 63, 63 - (i & 63) };
                    want = 0;
                    for (int k = 0; k < 3; k++)
                        want = want << 8 | (c[k] << 2 | (c[k] & 1) * 3);
                    break;
                }
                case 15: want = expand555((uint16_t)(p[0] | p[1] << 8)); break;
                case 16: want = expand565((uint16_t)(p[0] | p[1] << 8)); break;
                default: want = (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; break;
                }
                if (pixel(f, (int)x, (int)y) != want)
                    g_test_message("%u bpp: pixel (%u,%u)", bpp, x, y);
                g_assert_cmphex(pixel(f, (int)x, (int)y), ==, want);
            }
    }
    g_rand_free(r);
    /* A start address of 1 dword (CR0D) moves the picture by 4 bytes. */
    vm_lock(f->vm);
    cr(f, 0x0d, 0x01);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 0, 0), ==, (uint32_t)f->model[6] << 16 | (uint32_t)f->model[5] << 8 | f->model[4]);
    /* The line compare (CR18, CR07 bit 4, CR09 bit 6) at 9: line 10 shows offset 0. */
    vm_lock(f->vm);
    cr(f, 0x09, 0x00);
    cr(f, 0x18, 9);
    vm_unlock(f->vm);
    refresh(f);
    const uint8_t *l9 = f->model + 4 + 9 * 512;
    g_assert_cmphex(pixel(f, 0, 9), ==, (uint32_t)l9[2] << 16 | (uint32_t)l9[1] << 8 | l9[0]);
    g_assert_cmphex(pixel(f, 1, 10), ==, (uint32_t)f->model[6] << 16 | (uint32_t)f->model[5] << 8 | f->model[4]);
    g_assert_cmphex(pixel(f, 0, 11), ==, (uint32_t)f->model[514] << 16 | (uint32_t)f->model[513] << 8 | f->model[512]);
}

static void test_cursor(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    set_mode(f, 128, 96, 32, 512);
    uint8_t zero[512 * 96] = { 0 };
    vram_write(f, 0, zero, sizeof(zero));
    /* Hidden palette (SR12 bit 1): colour 0 red, colour 15 blue. */
    sr(f, 0x12, 0x02);
    io_write(f->io, 0x3c8, 0, 1);
    io_write(f->io, 0x3c9, 63, 1), io_write(f->io, 0x3c9, 0, 1), io_write(f->io, 0x3c9, 0, 1);
    io_write(f->io, 0x3c8, 15, 1);
    io_write(f->io, 0x3c9, 0, 1), io_write(f->io, 0x3c9, 0, 1), io_write(f->io, 0x3c9, 63, 1);
    /* A 32x32 pattern 2 (SR13) at the top of video memory: line 0 plane 0 = F0 00 00 00,
     * plane 1 = CC 00 00 00: pixels 0,1: (1,1) blue; 2,3: (1,0) inverted; 4,5: (0,1)
     * red; 6,7: (0,0) transparent. */
    uint8_t pat[256] = { 0 };
    pat[0] = 0xf0;
    pat[128] = 0xcc;
    vram_write(f, VRAM - 0x4000 + 2 * 256, pat, sizeof(pat));
    uint32_t grey = 0x404040;
    for (int x = 0; x < 16; x++)
        vram_write(f, 10 * 512 + (20 + x) * 4, &grey, 4);
    sr(f, 0x13, 0x02);
    sr(f, 0x12, 0x01);               /* show, 32x32 */
    sr(f, 0x10 | (4 << 5), 0x02);    /* x = 2 * 8 + 4 = 20 */
    sr(f, 0x11 | (2 << 5), 0x01);    /* y = 8 + 2 = 10 */
    vm_unlock(f->vm);
    refresh(f);
    static const uint32_t want[8] = { 0x0000ff, 0x0000ff, 0xbfbfbf, 0xbfbfbf, 0xff0000, 0xff0000, 0x404040, 0x404040 };
    for (int x = 0; x < 8; x++)
        g_assert_cmphex(pixel(f, 20 + x, 10), ==, want[x]);
    g_assert_cmphex(pixel(f, 19, 10), ==, 0);
    g_assert_cmphex(pixel(f, 20, 11), ==, 0);
    /* Moving the cursor redraws where it was. */
    vm_lock(f->vm);
    sr(f, 0x11, 0x04);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 20, 10), ==, 0x404040);
    g_assert_cmphex(pixel(f, 20, 32), ==, 0x0000ff);
    /* 64x64 (SR12 bit 2): pattern 4 (SR13 bits 5:2) of 1 KiB, 16 bytes a line (plane 0
     * then plane 1); pixel 40 of line 50 in colour 15, pixel 63 inverted. */
    vm_lock(f->vm);
    uint8_t big[1024] = { 0 };
    big[50 * 16 + 5] = 0x80, big[50 * 16 + 8 + 5] = 0x80;
    big[50 * 16 + 7] = 0x01;
    vram_write(f, VRAM - 0x4000 + 4 * 1024, big, sizeof(big));
    sr(f, 0x13, 0x10);
    sr(f, 0x12, 0x05);
    sr(f, 0x10, 0x02);               /* x = 16 */
    sr(f, 0x11, 0x01);               /* y = 8 */
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 16 + 40, 8 + 50), ==, 0x0000ff);
    g_assert_cmphex(pixel(f, 16 + 63, 8 + 50), ==, 0xffffff);
    g_assert_cmphex(pixel(f, 16 + 41, 8 + 50), ==, 0);
    g_assert_cmphex(pixel(f, 20, 32), ==, 0); /* the 32x32 one is gone */
    /* Hidden: the screen alone. */
    vm_lock(f->vm);
    sr(f, 0x12, 0x00);
    vm_unlock(f->vm);
    refresh(f);
    g_assert_cmphex(pixel(f, 16 + 40, 8 + 50), ==, 0);
}

/* ---- the blitter and its reference model ---- */

static uint8_t ref_rop(uint8_t rop, uint8_t d, uint8_t s)
{
    /* The BLT ROP codes, spelled as the Windows ROP2 each one is. */
    switch (rop) {
    case 0x00: return 0x00;                 /* BLACKNESS */
    case 0x05: return d & s;                /* SRCAND */
    case 0x06: return d;                    /* NOP */
    case 0x09: return (uint8_t)(s & ~d);    /* SRCERASE */
    case 0x0b: return (uint8_t)~d;          /* DSTINVERT */
    case 0x0d: return s;                    /* SRCCOPY */
    case 0x0e: return 0xff;                 /* WHITENESS */
    case 0x50: return (uint8_t)(d & ~s);    /* MERGEPAINT inverse */
    case 0x59: return d ^ s;                /* SRCINVERT */
    case 0x6d: return d | s;                /* SRCPAINT */
    case 0x90: return (uint8_t)~(d & s);
    case 0x95: return (uint8_t)~(d ^ s);
    case 0xad: return (uint8_t)(s | ~d);
    case 0xd0: return (uint8_t)~s;          /* NOTSRCCOPY */
    case 0xd6: return (uint8_t)(d | ~s);
    case 0xda: return (uint8_t)~(d | s);    /* NOTSRCERASE */
    default: return d;
    }
}
static const uint8_t rops[] = { 0x00, 0x05, 0x06, 0x09, 0x0b, 0x0d, 0x0e, 0x50,
                                0x59, 0x6d, 0x90, 0x95, 0xad, 0xd0, 0xd6, 0xda, 0x42 };

typedef struct Blit {
    uint32_t w, h, dpitch, spitch, dst, src;
    uint8_t mode, rop, modeext, skip;
    uint32_t fg, bg;
    uint16_t transp, tmask;
} Blit;

static void program(Fixture *f, const Blit *b)
{
    gr(f, 0x20, (uint8_t)(b->w - 1)), gr(f, 0x21, (uint8_t)((b->w - 1) >> 8));
    gr(f, 0x22, (uint8_t)(b->h - 1)), gr(f, 0x23, (uint8_t)((b->h - 1) >> 8));
    gr(f, 0x24, (uint8_t)b->dpitch), gr(f, 0x25, (uint8_t)(b->dpitch >> 8));
    gr(f, 0x26, (uint8_t)b->spitch), gr(f, 0x27, (uint8_t)(b->spitch >> 8));
    gr(f, 0x28, (uint8_t)b->dst), gr(f, 0x29, (uint8_t)(b->dst >> 8)), gr(f, 0x2a, (uint8_t)(b->dst >> 16));
    gr(f, 0x2c, (uint8_t)b->src), gr(f, 0x2d, (uint8_t)(b->src >> 8)), gr(f, 0x2e, (uint8_t)(b->src >> 16));
    gr(f, 0x2f, b->skip);
    gr(f, 0x30, b->mode), gr(f, 0x32, b->rop), gr(f, 0x33, b->modeext);
    gr(f, 0x00, (uint8_t)b->bg), gr(f, 0x10, (uint8_t)(b->bg >> 8)), gr(f, 0x12, (uint8_t)(b->bg >> 16)),
        gr(f, 0x14, (uint8_t)(b->bg >> 24));
    gr(f, 0x01, (uint8_t)b->fg), gr(f, 0x11, (uint8_t)(b->fg >> 8)), gr(f, 0x13, (uint8_t)(b->fg >> 16)),
        gr(f, 0x15, (uint8_t)(b->fg >> 24));
    gr(f, 0x34, (uint8_t)b->transp), gr(f, 0x35, (uint8_t)(b->transp >> 8));
    gr(f, 0x38, (uint8_t)b->tmask), gr(f, 0x39, (uint8_t)(b->tmask >> 8));
}

static void start(Fixture *f)
{
    gr(f, 0x31, 0x02);
}

static unsigned bpp_bytes(const Blit *b)
{
    return ((b->mode >> 4) & 3) + 1;
}

/* Puts one pixel's bytes through the ROP into the model, bytes past the line's end
 * (x + i >= w) dropped. */
static void ref_put(uint8_t *line, uint32_t x, uint32_t w, uint32_t col, unsigned pw, uint8_t rop)
{
    for (unsigned i = 0; i < pw; i++)
        if (x + i < w)
            line[x + i] = ref_rop(rop, line[x + i], (uint8_t)(col >> (8 * i)));
}

/* The model of one blit; src_bytes is the system source (NULL: video memory). */
static void ref_blit(uint8_t *m, const Blit *b, const uint8_t *sys)
{
    unsigned pw = bpp_bytes(b);
    bool pattern = b->mode & 0x40, expand = b->mode & 0x80, transparent = b->mode & 0x08;
    bool solid = (b->modeext & 0x04) && pattern && expand && !transparent;
    bool backward = (b->mode & 0x01) && !pattern && !expand && !solid;
    unsigned dskip = pw == 3 ? (b->skip & 0x1f) : (b->skip & 7) * pw;
    unsigned sskip = pw == 3 ? dskip / 3 : b->skip & 7;
    uint32_t ebytes = (sskip + (b->w > dskip ? (b->w - dskip + pw - 1) / pw : 0) + 7) / 8;
    if (!ebytes)
        ebytes = 1;
    if (b->modeext & 0x01)
        ebytes = (ebytes + 3) & ~3u;
    unsigned ppitch = pw >= 3 ? 32 : 8 * pw;
    const uint8_t *pat = sys ? sys : m + (b->src & ~((expand ? 8u : 8u * ppitch) - 1));
    uint32_t sline = (b->w + 3) & ~3u;
    for (uint32_t y = 0; y < b->h; y++) {
        uint8_t *d = m + (backward ? b->dst - y * b->dpitch - (b->w - 1) : b->dst + y * b->dpitch);
        if (solid) {
            for (uint32_t x = 0; x < b->w; x += pw)
                ref_put(d, x, b->w, b->fg, pw, b->rop);
        } else if (pattern && expand) {
            uint8_t bits = pat[(b->src + y) & 7];
            for (uint32_t x = dskip, i = 0; x < b->w; x += pw, i++) {
                unsigned v = bits >> (7 - ((sskip + i) & 7)) & 1;
                if (!transparent)
                    ref_put(d, x, b->w, v ? b->fg : b->bg, pw, b->rop);
                else if (v ^ !!(b->modeext & 0x02))
                    ref_put(d, x, b->w, (b->modeext & 0x02) ? b->bg : b->fg, pw, b->rop);
            }
        } else if (pattern) {
            const uint8_t *row = pat + ((b->src + y) & 7) * ppitch;
            for (uint32_t x = dskip, i = dskip / pw; x < b->w; x += pw, i++) {
                uint32_t col = 0;
                for (unsigned k = 0; k < pw; k++)
                    col |= (uint32_t)row[(i & 7) * pw + k] << (8 * k);
                ref_put(d, x, b->w, col, pw, b->rop);
            }
        } else if (expand) {
            const uint8_t *bits = sys ? sys + (size_t)y * ebytes : m + b->src + (size_t)y * ebytes;
            for (uint32_t x = dskip, i = sskip; x < b->w; x += pw, i++) {
                unsigned v = bits[i / 8] >> (7 - i % 8) & 1;
                if (!transparent)
                    ref_put(d, x, b->w, v ? b->fg : b->bg, pw, b->rop);
                else if (v ^ !!(b->modeext & 0x02))
                    ref_put(d, x, b->w, (b->modeext & 0x02) ? b->bg : b->fg, pw, b->rop);
            }
        } else {
            const uint8_t *s = sys ? sys + (size_t)y * sline
                                   : m + (backward ? b->src - y * b->spitch - (b->w - 1) : b->src + y * b->spitch);
            /* Plain copy: byte order matters when the regions overlap. */
            for (uint32_t n = 0; n < b->w; n++) {
                uint32_t i = backward ? b->w - 1 - n : n;
                if (!transparent) {
                    d[i] = ref_rop(b->rop, d[i], s[i]);
                    continue;
                }
                /* Transparent: per pixel, compared after the ROP. */
                uint32_t k = backward ? (b->w - 1 - i) / pw : i / pw;
                int64_t first = backward ? (int64_t)b->w - (int64_t)(k + 1) * pw : (int64_t)k * pw;
                if ((int64_t)i != (backward ? first + pw - 1 : first))
                    continue; /* handled with the pixel's first byte in blit order */
                uint8_t res[2];
                bool same = true;
                for (unsigned j = 0; j < pw; j++) {
                    int64_t x = first + j;
                    if (x < 0 || x >= b->w)
                        continue;
                    res[j] = ref_rop(b->rop, d[x], s[x]);
                    if ((res[j] ^ (uint8_t)(b->transp >> (8 * j))) & (uint8_t)~(b->tmask >> (8 * j)))
                        same = false;
                }
                if (!same)
                    for (unsigned j = 0; j < pw; j++)
                        if (first + j >= 0 && first + j < b->w)
                            d[first + j] = res[j];
            }
        }
    }
}

static void run_checked(Fixture *f, const Blit *b, const char *what)
{
    program(f, b);
    start(f);
    g_assert_cmphex(reg_read(f, 0x3ce, 0x31) & 0x0b, ==, 0);
    ref_blit(f->model, b, NULL);
    assert_model(f, what);
}

static void test_blit_rops(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(1);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    random_fill(f, 0, 0x40000, r);
    for (unsigned i = 0; i < G_N_ELEMENTS(rops); i++) {
        char what[64];
        Blit b = { .w = 37, .h = 9, .dpitch = 1024, .spitch = 1024, .dst = 0x1000 + i * 64, .src = 0x20000 + i * 8,
                   .rop = rops[i] };
        snprintf(what, sizeof(what), "forward rop 0x%02x", rops[i]);
        run_checked(f, &b, what);
        /* Backward: addresses name the last byte of the last line. */
        b.mode = 0x01;
        b.dst = 0x30000 + 8 * 1024 + 36 + i * 64;
        b.src = 0x28000 + 8 * 1024 + 36 + i * 8;
        snprintf(what, sizeof(what), "backward rop 0x%02x", rops[i]);
        run_checked(f, &b, what);
    }
    /* Overlapping copies: forward down-right smears, backward keeps the picture. */
    Blit b = { .w = 100, .h = 20, .dpitch = 1024, .spitch = 1024, .dst = 0x10000 + 3 * 1024 + 5, .src = 0x10000,
               .rop = 0x0d };
    run_checked(f, &b, "overlapping forward");
    b.mode = 0x01;
    b.src = 0x10000 + 19 * 1024 + 99;
    b.dst = b.src + 3 * 1024 + 5;
    run_checked(f, &b, "overlapping backward");
    /* Transparent copies at 8 and 16 bpp, with a mask. */
    b = (Blit){ .w = 64, .h = 6, .dpitch = 1024, .spitch = 1024, .dst = 0x38000, .src = 0x3c000, .rop = 0x0d,
                .mode = 0x08, .transp = 0x0042 };
    for (uint32_t y = 0; y < 6; y++)
        for (uint32_t x = 0; x < 64; x += 3) {
            uint8_t v = 0x42;
            vram_write(f, 0x3c000 + y * 1024 + x, &v, 1);
        }
    run_checked(f, &b, "transparent 8 bpp");
    b.mode = 0x18, b.transp = 0x4242, b.tmask = 0x0f00, b.dst = 0x38200;
    run_checked(f, &b, "transparent 16 bpp");
    b.mode = 0x19, b.dst = 0x38200 + 5 * 1024 + 63, b.src = 0x3c000 + 5 * 1024 + 63;
    run_checked(f, &b, "transparent 16 bpp backward");
    vm_unlock(f->vm);
    g_rand_free(r);
}

static void test_blit_expand_pattern(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(2);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    random_fill(f, 0, 0x80000, r);
    for (unsigned pwi = 0; pwi < 4; pwi++) {
        uint8_t pwbits = (uint8_t)(pwi << 4);
        char what[80];
        for (unsigned variant = 0; variant < 8; variant++) {
            Blit b = { .w = 61 * (pwi + 1) + variant, .h = 11, .dpitch = 2048, .spitch = 0,
                       .dst = 0x40000 + variant * 0x4000 + pwi * 0x400, .src = 0x1000 + variant * 0x300 + pwi * 0x40,
                       .rop = variant & 1 ? 0x59 : 0x0d, .fg = 0x89abcdef, .bg = 0x10325476, .skip = (uint8_t)variant };
            switch (variant >> 1) {
            case 0: b.mode = 0x80; break;                         /* colour expand, opaque */
            case 1: b.mode = 0x88; b.modeext = 0x02; break;       /* transparent, inverted */
            case 2: b.mode = 0xc0; b.src |= 5; break;             /* pattern expand from row 5 */
            default: b.mode = 0x40; b.src |= 3; break;            /* colour pattern from row 3 */
            }
            if ((variant >> 1) == 1)
                b.modeext |= 0x01; /* dword-aligned source lines */
            b.mode |= pwbits;
            snprintf(what, sizeof(what), "pixel width %u variant %u (mode 0x%02x)", pwi + 1, variant, b.mode);
            run_checked(f, &b, what);
        }
        /* Solid fill: pattern + expand + GR33 bit 2. */
        Blit b = { .w = 100, .h = 7, .dpitch = 2048, .dst = 0x70000 + pwi * 0x200, .mode = (uint8_t)(0xc0 | pwbits),
                   .modeext = 0x04, .rop = 0x6d, .fg = 0x01020408 };
        snprintf(what, sizeof(what), "solid fill, pixel width %u", pwi + 1);
        run_checked(f, &b, what);
    }
    vm_unlock(f->vm);
    g_rand_free(r);
}

/* Source data through the window, BAR 0's aperture, or BAR 0 itself. */
static void feed(Fixture *f, int path, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (path == 0)
            mem_dispatch_write(f->mem, 0xa0000 + (i & 0xffff), data[i], 1);
        else if (path == 1)
            mem_dispatch_write(f->mem, LFB + 0x1000000 + (i & 0x3ffff), data[i], 1);
        else
            mem_dispatch_write(f->mem, LFB + (i & 0xfff), data[i], 1);
    }
}

static size_t sys_bytes(const Blit *b)
{
    unsigned pw = bpp_bytes(b);
    if (b->mode & 0x40)
        return (b->mode & 0x80) ? 8 : 8 * (pw >= 3 ? 32u : 8u * pw);
    if (b->mode & 0x80) {
        unsigned dskip = pw == 3 ? (b->skip & 0x1f) : (b->skip & 7) * pw;
        unsigned sskip = pw == 3 ? dskip / 3 : b->skip & 7;
        uint32_t e = (sskip + (b->w > dskip ? (b->w - dskip + pw - 1) / pw : 0) + 7) / 8;
        e = e ? e : 1;
        if (b->modeext & 0x01)
            e = (e + 3) & ~3u;
        return (size_t)e * b->h;
    }
    return (size_t)((b->w + 3) & ~3u) * b->h;
}

static void test_blit_system(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(3);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    random_fill(f, 0, 0x80000, r);
    static const Blit blits[] = {
        { .w = 50, .h = 7, .dpitch = 1024, .dst = 0x5000, .mode = 0x04, .rop = 0x0d },
        { .w = 50, .h = 7, .dpitch = 1024, .dst = 0x6000, .mode = 0x04, .rop = 0x59 },
        { .w = 96, .h = 5, .dpitch = 1024, .dst = 0x7000 + 4 * 1024 + 95, .mode = 0x15, .rop = 0x0d },
        { .w = 120, .h = 9, .dpitch = 1024, .dst = 0x9000, .mode = 0x94, .rop = 0x0d, .fg = 0xaabbcc, .bg = 0x112233 },
        { .w = 90, .h = 9, .dpitch = 1024, .dst = 0xb000, .mode = 0x8c, .modeext = 0x01, .rop = 0x0d, .fg = 0x77,
          .skip = 3 },
        { .w = 64, .h = 12, .dpitch = 1024, .dst = 0xd000, .src = 2, .mode = 0xc4, .rop = 0x0d, .fg = 1, .bg = 2 },
        { .w = 128, .h = 12, .dpitch = 1024, .dst = 0xf000, .src = 6, .mode = 0x54, .rop = 0x0d },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(blits); i++)
        for (int path = 0; path < 3; path++) {
            Blit b = blits[i];
            b.dst += (uint32_t)path * 0x10000;
            size_t n = sys_bytes(&b);
            uint8_t *src = g_malloc(n);
            for (size_t k = 0; k < n; k++)
                src[k] = (uint8_t)g_rand_int(r);
            program(f, &b);
            start(f);
            /* The engine waits for data: busy and in progress. */
            g_assert_cmphex(reg_read(f, 0x3ce, 0x31) & 0x09, ==, 0x09);
            feed(f, path, src, n);
            g_assert_cmphex(reg_read(f, 0x3ce, 0x31) & 0x0b, ==, 0);
            ref_blit(f->model, &b, src);
            char what[64];
            snprintf(what, sizeof(what), "system-to-screen blit %u through path %d", i, path);
            assert_model(f, what);
            g_free(src);
        }
    /* A reset (GR31 bit 2 set then cleared) ends a blit that waits for data; the
     * window then writes video memory again. */
    Blit b = blits[0];
    program(f, &b);
    start(f);
    feed(f, 1, (const uint8_t *)"abcdefgh", 8);
    gr(f, 0x31, 0x04);
    gr(f, 0x31, 0x00);
    g_assert_cmphex(reg_read(f, 0x3ce, 0x31) & 0x0b, ==, 0);
    /* A line is drawn once all of it arrived: those 8 bytes drew nothing. */
    assert_model(f, "blit reset within its first line");
    mem_dispatch_write(f->mem, 0xa0000 + 0x40, 0x5a, 1);
    f->model[0x40] = 0x5a;
    assert_model(f, "the window after a reset");
    vm_unlock(f->vm);
    g_rand_free(r);
}

/* The registers through BAR 1 (0x100 + offset) and at 0xB8000 (SR17 bit 2), the
 * auto-start of GR31 bit 7 on the destination's top byte. */
static void test_blit_mmio(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(4);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    random_fill(f, 0, 0x20000, r);
    for (int path = 0; path < 2; path++) {
        uint32_t base = path == 0 ? MMIO + 0x100 : 0xb8000;
        if (path == 1)
            sr(f, 0x17, 0x04 | reg_read(f, 0x3c4, 0x17));
        Blit b = { .w = 33, .h = 4, .dpitch = 512, .spitch = 256, .dst = 0x4000 + path * 0x1000, .src = 0x100,
                   .rop = 0x95 };
        mem_dispatch_write(f->mem, base + 0x08, b.w - 1, 2);
        mem_dispatch_write(f->mem, base + 0x0a, b.h - 1, 2);
        mem_dispatch_write(f->mem, base + 0x0c, b.dpitch, 2);
        mem_dispatch_write(f->mem, base + 0x0e, b.spitch, 2);
        mem_dispatch_write(f->mem, base + 0x14, b.src, 4);
        mem_dispatch_write(f->mem, base + 0x18, 0, 1);
        mem_dispatch_write(f->mem, base + 0x1a, b.rop, 1);
        mem_dispatch_write(f->mem, base + 0x1b, 0, 1);
        mem_dispatch_write(f->mem, base + 0x17, 0, 1);
        g_assert_cmphex(mem_dispatch_read(f->mem, base + 0x0c, 2), ==, b.dpitch);
        /* Auto-start, then the destination's top byte starts it. */
        mem_dispatch_write(f->mem, base + 0x40, 0x80, 1);
        mem_dispatch_write(f->mem, base + 0x10, b.dst, 4);
        g_assert_cmphex(mem_dispatch_read(f->mem, base + 0x40, 1) & 0x0b, ==, 0);
        mem_dispatch_write(f->mem, base + 0x40, 0x00, 1);
        ref_blit(f->model, &b, NULL);
        assert_model(f, path == 0 ? "blit through BAR 1" : "blit through 0xB8000");
    }
    vm_unlock(f->vm);
    g_rand_free(r);
}

/* The bytes a blit may touch: the destination lines, from the registers alone. False
 * when they leave video memory (the engine must then refuse the blit). */
static bool ref_region(const Blit *b, int64_t *lo, int64_t *hi)
{
    bool backward = (b->mode & 0x01) && !(b->mode & 0xc0);
    int64_t span = (int64_t)(b->h - 1) * b->dpitch;
    *lo = backward ? (int64_t)b->dst - span - (b->w - 1) : b->dst;
    *hi = backward ? b->dst : (int64_t)b->dst + span + b->w - 1;
    return *lo >= 0 && *hi < VRAM;
}

static void test_blit_hostile(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(0xc1f7);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    uint8_t *snap = g_malloc(VRAM), *now = g_malloc(VRAM);
    random_fill(f, 0, VRAM, r);
    /* The blits of QEMU's CVEs: pitch 0 backward from address 0 (CVE-2014-8106), a
     * backward blit wrapping below 0 (CVE-2017-2615), widths and heights far past
     * memory (CVE-2016-9921, CVE-2017-2620), a colour expansion reaching past the end
     * (CVE-2017-7980). Then random ones. */
    Blit fixed[] = {
        { .w = 8192, .h = 8192, .dpitch = 0, .spitch = 0, .dst = 0, .src = 0, .mode = 0x01, .rop = 0x0d },
        { .w = 100, .h = 50, .dpitch = 8191, .spitch = 8191, .dst = 50, .src = 60, .mode = 0x01, .rop = 0x0d },
        { .w = 8192, .h = 8192, .dpitch = 8191, .spitch = 8191, .dst = 0x3f0000, .src = 0, .rop = 0x0d },
        { .w = 8192, .h = 1, .dpitch = 0, .dst = VRAM - 100, .mode = 0x84, .rop = 0x0d },
        { .w = 64, .h = 8192, .dpitch = 1024, .dst = 0x200000, .src = VRAM - 64, .mode = 0x80, .rop = 0x0d },
        { .w = 16, .h = 16, .dpitch = 16, .dst = 0, .src = VRAM - 8, .mode = 0x70, .rop = 0x0d },
    };
    for (unsigned i = 0; i < 200 + G_N_ELEMENTS(fixed); i++) {
        Blit b;
        if (i < G_N_ELEMENTS(fixed)) {
            b = fixed[i];
        } else {
            bool big = g_rand_int_range(r, 0, 4) == 0;
            b = (Blit){ .w = (uint32_t)g_rand_int_range(r, 1, big ? 8193 : 300),
                        .h = (uint32_t)g_rand_int_range(r, 1, big ? 8193 : 40),
                        .dpitch = (uint32_t)g_rand_int_range(r, 0, 8192),
                        .spitch = (uint32_t)g_rand_int_range(r, 0, 8192),
                        .dst = g_rand_int(r) & (VRAM - 1), .src = g_rand_int(r) & (VRAM - 1),
                        .mode = (uint8_t)g_rand_int(r), .rop = rops[g_rand_int_range(r, 0, G_N_ELEMENTS(rops))],
                        .modeext = (uint8_t)g_rand_int(r), .skip = (uint8_t)g_rand_int(r),
                        .fg = g_rand_int(r), .bg = g_rand_int(r) };
            b.mode &= (uint8_t)~0x02; /* screen-to-system: refused anyway */
        }
        vram_read(f, 0, snap, VRAM);
        program(f, &b);
        start(f);
        if (reg_read(f, 0x3ce, 0x31) & 0x01) {
            /* System source: some data, then a reset. */
            size_t n = (size_t)g_rand_int_range(r, 0, 20000);
            uint8_t *src = g_malloc(n + 1);
            for (size_t k = 0; k < n; k++)
                src[k] = (uint8_t)g_rand_int(r);
            feed(f, 1, src, n);
            g_free(src);
            gr(f, 0x31, 0x04);
            gr(f, 0x31, 0x00);
        }
        g_assert_cmphex(reg_read(f, 0x3ce, 0x31) & 0x0b, ==, 0);
        vram_read(f, 0, now, VRAM);
        int64_t lo, hi;
        bool inside = ref_region(&b, &lo, &hi);
        for (uint32_t k = 0; k < VRAM; k++) {
            if (now[k] == snap[k] || (inside && k >= lo && k <= hi))
                continue;
            g_test_message("blit %u (%ux%u dst 0x%x pitch %u mode 0x%02x) changed 0x%06x outside [0x%llx, 0x%llx]",
                           i, b.w, b.h, b.dst, b.dpitch, b.mode, k, (long long)lo, (long long)hi);
            g_assert_not_reached();
        }
    }
    g_free(snap);
    g_free(now);
    vm_unlock(f->vm);
    g_rand_free(r);
}

/* Saved halfway through a system-to-screen blit, loaded into a fresh device: the rest
 * of the data completes the same picture. */
static void test_savevm_midblit(Fixture *f, gconstpointer data)
{
    GRand *r = g_rand_new_with_seed(6);
    vm_lock(f->vm);
    set_mode(f, 640, 480, 8, 1024);
    random_fill(f, 0, 0x20000, r);
    Blit b = { .w = 77, .h = 10, .dpitch = 1024, .dst = 0x8000, .mode = 0x04, .rop = 0x59 };
    size_t n = sys_bytes(&b);
    uint8_t *src = g_malloc(n);
    for (size_t k = 0; k < n; k++)
        src[k] = (uint8_t)g_rand_int(r);
    program(f, &b);
    start(f);
    feed(f, 0, src, n / 2 + 3);
    GByteArray *state = g_byte_array_new();
    device_save_state(device_find(f->vm, "vga"), state);
    vm_unlock(f->vm);

    PciBus *bus2;
    Vm *vm2 = make_vm(&bus2);
    vm_lock(vm2);
    GError *err = NULL;
    g_assert_true(device_load_state(device_find(vm2, "vga"), state->data, state->len, &err));
    g_assert_no_error(err);
    g_assert_cmphex(pci_config_read(bus2, DEVFN, PCI_BAR0, 4) & ~0xfu, ==, LFB);
    for (size_t k = n / 2 + 3; k < n; k++)
        mem_dispatch_write(vm_mem(vm2), 0xa0000 + k, src[k], 1);
    io_write(vm_io(vm2), 0x3ce, 0x31, 1);
    g_assert_cmphex(io_read(vm_io(vm2), 0x3cf, 1) & 0x0b, ==, 0);
    ref_blit(f->model, &b, src);
    uint8_t *now = g_malloc(0x20000);
    g_assert_true(mem_read(vm_mem(vm2), LFB, now, 0x20000));
    g_assert_cmpmem(now, 0x20000, f->model, 0x20000);
    vm_unlock(vm2);
    g_free(now);
    vm_free(vm2);
    g_byte_array_unref(state);
    g_free(src);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/cirrus/ids", test_ids);
    ADD("/cirrus/banking", test_banking);
    ADD("/cirrus/modes", test_modes);
    ADD("/cirrus/cursor", test_cursor);
    ADD("/cirrus/blit-rops", test_blit_rops);
    ADD("/cirrus/blit-expand-pattern", test_blit_expand_pattern);
    ADD("/cirrus/blit-system", test_blit_system);
    ADD("/cirrus/blit-mmio", test_blit_mmio);
    ADD("/cirrus/blit-hostile", test_blit_hostile);
    ADD("/cirrus/savevm-midblit", test_savevm_midblit);
    return g_test_run();
}
