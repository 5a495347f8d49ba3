/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PC/AT DMA controllers as a guest programs them (ports) and as a device uses them
 * (i8237_transfer): flip-flop, masks, status, terminal count, auto-initialize,
 * decrement, word channels, 64 KiB wrap and addresses outside RAM. */
#include "hw/dma/i8237.h"
#include "unit.h"

#include <string.h>

typedef struct Fixture {
    Vm *vm;
    IsaDma *dma;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
    (void)data;
    f->vm = vm_new_for_test(2u << 20); /* 2 MiB: page 0x20 and above is not RAM */
    vm_lock(f->vm);
    f->dma = i8237_new(f->vm);
    vm_unlock(f->vm);
    /* As a BIOS leaves it: channel 4 cascades and is unmasked. */
    outb(f->vm, 0xd6, 0xc0);
    outb(f->vm, 0xd4, 0x00);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    (void)data;
    vm_free(f->vm);
}

/* Programs an 8-bit channel: mode, page:address, count (bytes - 1), unmasked. */
static void setup8(Fixture *f, unsigned ch, uint8_t mode, uint32_t addr, uint16_t count)
{
    static const uint8_t page[4] = { 0x87, 0x83, 0x81, 0x82 };
    outb(f->vm, 0x0a, (uint8_t)(4 | ch));
    outb(f->vm, 0x0b, (uint8_t)(mode | ch));
    outb(f->vm, 0x0c, 0);
    outb(f->vm, (uint16_t)(ch * 2), addr & 0xff);
    outb(f->vm, (uint16_t)(ch * 2), (addr >> 8) & 0xff);
    outb(f->vm, page[ch], (addr >> 16) & 0xff);
    outb(f->vm, (uint16_t)(ch * 2 + 1), count & 0xff);
    outb(f->vm, (uint16_t)(ch * 2 + 1), count >> 8);
    outb(f->vm, 0x0a, (uint8_t)ch);
}

static size_t xfer(Fixture *f, unsigned ch, uint8_t *buf, size_t len, bool *tc)
{
    vm_lock(f->vm);
    size_t n = i8237_transfer(f->dma, ch, buf, len, tc);
    vm_unlock(f->vm);
    return n;
}

static uint16_t read16(Fixture *f, uint16_t port)
{
    uint8_t lo = inb(f->vm, port);
    return (uint16_t)(lo | inb(f->vm, port) << 8);
}

static void test_flipflop(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x0c, 0);
    outb(f->vm, 0x02, 0x34);
    outb(f->vm, 0x02, 0x12);
    outb(f->vm, 0x0c, 0);
    g_assert_cmphex(read16(f, 0x02), ==, 0x1234);
    /* Without a reset the flip-flop keeps toggling: a lone read leaves it on the high
     * byte, so the next 16-bit read comes out swapped. */
    (void)inb(f->vm, 0x02);
    g_assert_cmphex(read16(f, 0x02), ==, 0x3412);
    /* Controller 2 decodes every other port: channel 5's count is at 0xC6. */
    outb(f->vm, 0xd8, 0);
    outb(f->vm, 0xc6, 0xcd);
    outb(f->vm, 0xc6, 0xab);
    outb(f->vm, 0xd8, 0);
    g_assert_cmphex(read16(f, 0xc6), ==, 0xabcd);
    /* Page registers read back; 0x80 is not one of them here (POST codes). */
    outb(f->vm, 0x81, 0x5a);
    g_assert_cmphex(inb(f->vm, 0x81), ==, 0x5a);
}

static void test_masks(Fixture *f, gconstpointer data)
{
    (void)data;
    outb(f->vm, 0x0d, 0); /* master clear: all four masked */
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x0f, ==, 0x0f);
    vm_lock(f->vm);
    g_assert_false(i8237_channel_ready(f->dma, 2));
    vm_unlock(f->vm);
    outb(f->vm, 0x0e, 0); /* clear all masks */
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x0f, ==, 0x00);
    outb(f->vm, 0x0a, 0x05); /* mask channel 1 */
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x0f, ==, 0x02);
    outb(f->vm, 0x0f, 0x09); /* write all: channels 0 and 3 */
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x0f, ==, 0x09);
    vm_lock(f->vm);
    g_assert_true(i8237_channel_ready(f->dma, 2));
    vm_unlock(f->vm);
    /* The cascade channel masked, or controller 1 disabled: channel 2 cannot run. */
    outb(f->vm, 0xd4, 0x04);
    vm_lock(f->vm);
    g_assert_false(i8237_channel_ready(f->dma, 2));
    vm_unlock(f->vm);
    outb(f->vm, 0xd4, 0x00);
    outb(f->vm, 0x08, 0x04);
    uint8_t b[4] = { 0 };
    g_assert_cmpuint(xfer(f, 2, b, 4, NULL), ==, 0);
    outb(f->vm, 0x08, 0x00);
    /* Software requests show in the status register's upper half. */
    outb(f->vm, 0x09, 0x06);
    g_assert_cmphex(inb(f->vm, 0x08) & 0xf0, ==, 0x40);
    outb(f->vm, 0x09, 0x02);
    g_assert_cmphex(inb(f->vm, 0x08) & 0xf0, ==, 0x00);
    /* So do devices' DREQ lines, on either controller. */
    vm_lock(f->vm);
    i8237_set_dreq(f->dma, 1, true);
    i8237_set_dreq(f->dma, 7, true);
    vm_unlock(f->vm);
    g_assert_cmphex(inb(f->vm, 0x08) & 0xf0, ==, 0x20);
    g_assert_cmphex(inb(f->vm, 0xd0) & 0xf0, ==, 0x80);
    vm_lock(f->vm);
    i8237_set_dreq(f->dma, 1, false);
    vm_unlock(f->vm);
    g_assert_cmphex(inb(f->vm, 0x08) & 0xf0, ==, 0x00);
}

static void test_write_tc(Fixture *f, gconstpointer data)
{
    (void)data;
    GuestMemory *m = vm_mem(f->vm);
    uint8_t src[300];
    for (int i = 0; i < 300; i++)
        src[i] = (uint8_t)(i * 7 + 1);
    /* 256 bytes to 0x12340: a 300-byte offer stops at terminal count. */
    setup8(f, 2, 0x44, 0x12340, 255);
    bool tc;
    g_assert_cmpuint(xfer(f, 2, src, 300, &tc), ==, 256);
    g_assert_true(tc);
    uint8_t got[256];
    vm_lock(f->vm);
    mem_read(m, 0x12340, got, sizeof(got));
    vm_unlock(f->vm);
    g_assert_cmpmem(got, 256, src, 256);
    /* Current address moved on, count rolled over to 0xFFFF. */
    outb(f->vm, 0x0c, 0);
    g_assert_cmphex(read16(f, 0x04), ==, 0x2440);
    g_assert_cmphex(read16(f, 0x05), ==, 0xffff);
    /* Status: TC of channel 2, cleared by reading; the channel masked itself. */
    g_assert_cmphex(inb(f->vm, 0x08) & 0x0f, ==, 0x04);
    g_assert_cmphex(inb(f->vm, 0x08) & 0x0f, ==, 0x00);
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x04, ==, 0x04);
    g_assert_cmpuint(xfer(f, 2, src, 1, &tc), ==, 0);
}

static void test_read_autoinit(Fixture *f, gconstpointer data)
{
    (void)data;
    GuestMemory *m = vm_mem(f->vm);
    vm_lock(f->vm);
    mem_write(m, 0x5000, "ABCDEFGH", 8);
    vm_unlock(f->vm);
    setup8(f, 1, 0x58, 0x5000, 3); /* auto-init, memory to device, 4 bytes */
    uint8_t b[8] = { 0 };
    bool tc;
    g_assert_cmpuint(xfer(f, 1, b, 8, &tc), ==, 4);
    g_assert_true(tc);
    g_assert_cmpmem(b, 4, "ABCD", 4);
    /* Reloaded and still unmasked: the next transfer starts over. */
    g_assert_cmpuint(xfer(f, 1, b, 2, &tc), ==, 2);
    g_assert_false(tc);
    g_assert_cmpmem(b, 2, "AB", 2);
    g_assert_cmphex(inb(f->vm, 0x0f) & 0x02, ==, 0);
}

static void test_decrement_verify(Fixture *f, gconstpointer data)
{
    (void)data;
    GuestMemory *m = vm_mem(f->vm);
    setup8(f, 3, 0x64, 0x7003, 3); /* decrement, device to memory */
    g_assert_cmpuint(xfer(f, 3, (uint8_t *)"wxyz", 4, NULL), ==, 4);
    uint8_t got[4];
    vm_lock(f->vm);
    mem_read(m, 0x7000, got, 4);
    vm_unlock(f->vm);
    g_assert_cmpmem(got, 4, "zyxw", 4);
    /* Verify: the count runs, memory is untouched. */
    setup8(f, 3, 0x40, 0x7000, 3);
    g_assert_cmpuint(xfer(f, 3, (uint8_t *)"1234", 4, NULL), ==, 4);
    vm_lock(f->vm);
    mem_read(m, 0x7000, got, 4);
    vm_unlock(f->vm);
    g_assert_cmpmem(got, 4, "zyxw", 4);
}

static void test_word_channel_and_wrap(Fixture *f, gconstpointer data)
{
    (void)data;
    GuestMemory *m = vm_mem(f->vm);
    /* Channel 5: word address 0x8000 in page 0x03 (bit 0 ignored) = 0x20000 + 0x10000. */
    outb(f->vm, 0xd4, 0x05);
    outb(f->vm, 0xd6, 0x45);
    outb(f->vm, 0xd8, 0);
    outb(f->vm, 0xc4, 0x00);
    outb(f->vm, 0xc4, 0x80);
    outb(f->vm, 0x8b, 0x03);
    outb(f->vm, 0xc6, 1); /* two words */
    outb(f->vm, 0xc6, 0);
    outb(f->vm, 0xd4, 0x01);
    bool tc;
    g_assert_cmpuint(xfer(f, 5, (uint8_t *)"WORD", 5, &tc), ==, 4);
    g_assert_true(tc);
    uint8_t got[4];
    vm_lock(f->vm);
    mem_read(m, 0x30000, got, 4);
    vm_unlock(f->vm);
    g_assert_cmpmem(got, 4, "WORD", 4);
    /* A byte channel wraps inside its 64 KiB page: 0x4FFFF, then 0x40000. */
    setup8(f, 0, 0x44, 0x4ffff, 1);
    g_assert_cmpuint(xfer(f, 0, (uint8_t *)"PQ", 2, NULL), ==, 2);
    vm_lock(f->vm);
    g_assert_cmphex(mem_ldub(m, 0x4ffff), ==, 'P');
    g_assert_cmphex(mem_ldub(m, 0x40000), ==, 'Q');
    g_assert_cmphex(mem_ldub(m, 0x50000), ==, 0);
    vm_unlock(f->vm);
}

static void test_outside_ram(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Page 0xF0 is 15 MiB; this VM has 2 MiB. Writes vanish, reads give 0xFF, the
     * counters advance as on a real bus. */
    setup8(f, 2, 0x44, 0xf00000, 0xffff);
    uint8_t buf[4096];
    memset(buf, 0x11, sizeof(buf));
    bool tc;
    g_assert_cmpuint(xfer(f, 2, buf, sizeof(buf), &tc), ==, sizeof(buf));
    g_assert_false(tc);
    setup8(f, 2, 0x48, 0xf00000, 15);
    g_assert_cmpuint(xfer(f, 2, buf, 16, &tc), ==, 16);
    g_assert_true(tc);
    for (int i = 0; i < 16; i++)
        g_assert_cmphex(buf[i], ==, 0xff);
    /* Nonsense channel numbers are refused. */
    g_assert_cmpuint(xfer(f, 4, buf, 16, NULL), ==, 0);
    g_assert_cmpuint(xfer(f, 99, buf, 16, NULL), ==, 0);
}

static void test_port_flood(Fixture *f, gconstpointer data)
{
    (void)data;
    /* Random register writes and reads, each followed by a device transfer on a
     * random channel: nothing may crash or touch memory outside RAM. */
    GRand *r = g_rand_new_with_seed(8237);
    static const uint16_t ports[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                      0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x81, 0x82, 0x83, 0x87,
                                      0x89, 0x8a, 0x8b, 0x8f, 0xc0, 0xc4, 0xc8, 0xcc, 0xd0, 0xd4,
                                      0xd6, 0xd8, 0xda, 0xdc, 0xde };
    uint8_t buf[1024];
    for (int i = 0; i < 20000; i++) {
        uint16_t p = ports[g_rand_int_range(r, 0, G_N_ELEMENTS(ports))];
        if (g_rand_boolean(r))
            outb(f->vm, p, (uint8_t)g_rand_int(r));
        else
            (void)inb(f->vm, p);
        size_t len = (size_t)g_rand_int_range(r, 0, sizeof(buf));
        size_t n = xfer(f, (unsigned)g_rand_int_range(r, 0, 9), buf, len, NULL);
        g_assert_cmpuint(n, <=, len);
    }
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/i8237/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("flipflop", test_flipflop);
    ADD("masks", test_masks);
    ADD("write-tc", test_write_tc);
    ADD("read-autoinit", test_read_autoinit);
    ADD("decrement-verify", test_decrement_verify);
    ADD("word-channel-wrap", test_word_channel_and_wrap);
    ADD("outside-ram", test_outside_ram);
    ADD("port-flood", test_port_flood);
    return g_test_run();
}
