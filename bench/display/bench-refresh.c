/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Cost of one display refresh, in microseconds per frame: the std-vga on a VM without a
 * CPU, driven through its ports and memory as a guest would, pulled through a display
 * client as a front end does. Cases: a full refresh at VBE 1024x768x32 and in text mode
 * 80x25, a refresh after one guest write, and a refresh with nothing dirty. The peer is
 * the floor of a full refresh, copying the frame once (memcpy of the same bytes). */
#include "engine/testing.h"
#include "engine/display.h"
#include "hw/display/vga.h"
#include "vga-modes.h"

#include <stdio.h>
#include <string.h>

#define LFB_BASE 0xe0000000u
#define VGA_DEVFN PCI_DEVFN(2, 0)

typedef struct Bench {
    Vm *vm;
    IoSpace *io;
    GuestMemory *mem;
    DisplayClient *client;
    pixman_region32_t dirty;
} Bench;

static DisplaySurface *refresh(Bench *b)
{
    bool new_surface;
    return display_client_refresh(b->client, &b->dirty, &new_surface);
}

/* Something that makes the next refresh redraw everything: a DAC write (palette change). */
static void touch_palette(Bench *b, unsigned i)
{
    vm_lock(b->vm);
    vga_test_set_dac(b->io, 200, i & 63, 0, 0);
    vm_unlock(b->vm);
}

typedef void (*Prepare)(Bench *b, unsigned i);

static double time_us(Bench *b, Prepare prep, unsigned iters)
{
    /* Warm up, then the best of five runs (the machine is shared). */
    for (unsigned i = 0; i < 3; i++) {
        if (prep)
            prep(b, i);
        refresh(b);
    }
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        double total = 0;
        for (unsigned i = 0; i < iters; i++) {
            if (prep)
                prep(b, i);
            gint64 t0 = g_get_monotonic_time();
            refresh(b);
            total += (double)(g_get_monotonic_time() - t0);
        }
        best = MIN(best, total / iters);
    }
    return best;
}

static void one_pixel(Bench *b, unsigned i)
{
    vm_lock(b->vm);
    mem_dispatch_write(b->mem, LFB_BASE + (i % 768) * 4096 + 8, i, 4);
    vm_unlock(b->vm);
}

static void one_char(Bench *b, unsigned i)
{
    vm_lock(b->vm);
    mem_dispatch_write(b->mem, 0xb8000 + (i % 2000) * 2, 'A' + (i & 15), 1);
    vm_unlock(b->vm);
}

static double memcpy_us(size_t bytes, unsigned iters)
{
    uint8_t *src = g_malloc0(bytes), *dst = g_malloc0(bytes);
    double best = 1e30;
    for (int run = 0; run < 5; run++) {
        gint64 t0 = g_get_monotonic_time();
        for (unsigned i = 0; i < iters; i++) {
            src[i % bytes] = (uint8_t)i;
            memcpy(dst, src, bytes);
            __asm__ volatile("" : : "r"(dst) : "memory");
        }
        best = MIN(best, (double)(g_get_monotonic_time() - t0) / iters);
    }
    g_free(src);
    g_free(dst);
    return best;
}

int main(int argc, char **argv)
{
    unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
    Bench b = { 0 };
    b.vm = vm_new_for_test(0);
    b.io = vm_io(b.vm);
    b.mem = vm_mem(b.vm);
    GError *err = NULL;
    vm_lock(b.vm);
    PciBus *bus = pci_bus_new(b.vm);
    if (!vga_pci_new(b.vm, bus, VGA_DEVFN, NULL, &err))
        g_error("%s", err->message);
    pci_config_write(bus, VGA_DEVFN, PCI_BAR0, LFB_BASE, 4);
    pci_config_write(bus, VGA_DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
    vm_unlock(b.vm);
    b.client = display_client_new(vm_display_console(b.vm));
    pixman_region32_init(&b.dirty);

    /* VBE 1024x768x32 with a picture in it. */
    vm_lock(b.vm);
    vga_test_vbe(b.io, 1, 1024);
    vga_test_vbe(b.io, 2, 768);
    vga_test_vbe(b.io, 3, 32);
    vga_test_vbe(b.io, 4, 0x41);
    for (uint32_t o = 0; o < 1024 * 768 * 4; o += 4)
        mem_dispatch_write(b.mem, LFB_BASE + o, o * 2654435761u, 4);
    vm_unlock(b.vm);
    refresh(&b);
    double vbe_full = time_us(&b, touch_palette, iters);
    double vbe_one = time_us(&b, one_pixel, iters);
    double vbe_none = time_us(&b, NULL, iters * 10);
    double vbe_copy = memcpy_us(1024 * 768 * 4, iters);

    /* Text mode 80x25 with every cell in use (the font is whatever plane 2 holds). */
    vm_lock(b.vm);
    vga_test_vbe(b.io, 4, 0);
    vga_test_set_mode(b.io, &vga_mode_03);
    for (uint32_t i = 0; i < 2000; i++)
        mem_dispatch_write(b.mem, 0xb8000 + i * 2, 0x1f00 | (0x20 + i % 90), 2);
    vm_unlock(b.vm);
    refresh(&b);
    double text_full = time_us(&b, touch_palette, iters);
    double text_one = time_us(&b, one_char, iters);
    double text_none = time_us(&b, NULL, iters * 10);
    double text_copy = memcpy_us(720 * 400 * 4, iters);

    printf("display refresh, microseconds per frame (best of 5 runs of %u frames)\n", iters);
    printf("%-34s %10s %10s %10s\n", "case", "vireo", "memcpy", "ratio");
    printf("%-34s %10.1f %10.1f %10.2f\n", "VBE 1024x768x32, everything", vbe_full, vbe_copy, vbe_full / vbe_copy);
    printf("%-34s %10.1f\n", "VBE 1024x768x32, one pixel", vbe_one);
    printf("%-34s %10.2f\n", "VBE 1024x768x32, nothing dirty", vbe_none);
    printf("%-34s %10.1f %10.1f %10.2f\n", "text 80x25 (720x400), everything", text_full, text_copy, text_full / text_copy);
    printf("%-34s %10.1f\n", "text 80x25, one character", text_one);
    printf("%-34s %10.2f\n", "text 80x25, nothing dirty", text_none);

    pixman_region32_fini(&b.dirty);
    display_client_free(b.client);
    vm_free(b.vm);
    return 0;
}
