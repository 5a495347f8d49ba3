/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest memory map: RAM placement, regions and priorities, MMIO access splitting,
 * the PAM/SMRAM windows, DMA bounds, dirty logging and code-write reports. */
#include "engine/memory.h"

#include <string.h>

typedef struct MmioLog {
    hwaddr off[64];
    unsigned size[64];
    uint64_t val[64];
    int n;
    uint8_t regs[256];
} MmioLog;

static uint64_t log_read(void *opaque, hwaddr off, unsigned size)
{
    MmioLog *l = opaque;
    l->off[l->n] = off;
    l->size[l->n] = size;
    l->val[l->n] = 0;
    l->n++;
    uint64_t v = 0;
    memcpy(&v, l->regs + off, size);
    return v;
}

static void log_write(void *opaque, hwaddr off, uint64_t value, unsigned size)
{
    MmioLog *l = opaque;
    l->off[l->n] = off;
    l->size[l->n] = size;
    l->val[l->n] = value;
    l->n++;
    memcpy(l->regs + off, &value, size);
}

static const MemOps dword_ops = { log_read, log_write, 4, 4 };
static const MemOps byte_ops = { log_read, log_write, 1, 1 };

static void test_ram_layout(void)
{
    GuestMemory *m = mem_new(UINT64_C(64) << 20, NULL);
    g_assert_nonnull(m);
    g_assert_cmpuint(mem_ram_below_4g(m), ==, UINT64_C(64) << 20);
    g_assert_nonnull(mem_read_page(m, 0x1000));
    g_assert_true(mem_read_page(m, 0x1000) == mem_ram_low(m) + 0x1000);
    g_assert_nonnull(mem_write_page(m, (UINT64_C(64) << 20) - 1));
    /* Nothing above RAM and nothing in the legacy window until a region or PAM says so. */
    g_assert_null(mem_read_page(m, UINT64_C(64) << 20));
    g_assert_null(mem_read_page(m, 0xa0000));
    g_assert_null(mem_read_page(m, 0xf0000));
    /* Unassigned memory reads as all ones. */
    g_assert_cmphex(mem_dispatch_read(m, 0x10000000, 4), ==, 0xffffffffu);
    mem_free(m);

    /* 4 GiB of RAM: 3 GiB low, the rest above 4 GiB. */
    m = mem_new(UINT64_C(4) << 30, NULL);
    g_assert_nonnull(m);
    g_assert_cmpuint(mem_ram_below_4g(m), ==, UINT64_C(3) << 30);
    g_assert_cmpuint(m->ram_above_4g, ==, UINT64_C(1) << 30);
    g_assert_null(mem_read_page(m, UINT64_C(3) << 30));
    uint8_t *hi = mem_write_page(m, (UINT64_C(4) << 30) + 0x5000);
    g_assert_nonnull(hi);
    hi[3] = 0x77;
    g_assert_cmpuint(mem_ldub(m, (UINT64_C(4) << 30) + 0x5003), ==, 0x77);
    g_assert_null(mem_read_page(m, UINT64_C(5) << 30));
    mem_free(m);

    GError *err = NULL;
    g_assert_null(mem_new(1000, &err));
    g_assert_nonnull(err);
    g_error_free(err);
}

static void test_mmio_split(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    MmioLog l = { 0 };
    mem_add_mmio(m, "dword-dev", 0xfe000000, 0x100, &dword_ops, &l, 1);
    g_assert_null(mem_read_page(m, 0xfe000000));
    /* A byte read of a dword-only device: the dword is read and the byte picked out. */
    l.regs[4] = 0x11; l.regs[5] = 0x22; l.regs[6] = 0x33; l.regs[7] = 0x44;
    g_assert_cmphex(mem_dispatch_read(m, 0xfe000006, 1), ==, 0x33);
    g_assert_cmpint(l.n, ==, 1);
    g_assert_cmpuint(l.off[0], ==, 4);
    g_assert_cmpuint(l.size[0], ==, 4);
    /* A byte write: read-modify-write of the dword. */
    l.n = 0;
    mem_dispatch_write(m, 0xfe000005, 0xaa, 1);
    g_assert_cmpint(l.n, ==, 2);
    g_assert_cmphex(l.val[1], ==, 0x4433aa11);
    /* A qword access splits into two dwords, low first. */
    l.n = 0;
    mem_dispatch_write(m, 0xfe000010, UINT64_C(0x8877665544332211), 8);
    g_assert_cmpint(l.n, ==, 2);
    g_assert_cmphex(l.val[0], ==, 0x44332211);
    g_assert_cmphex(l.val[1], ==, 0x88776655);

    MmioLog b = { 0 };
    mem_add_mmio(m, "byte-dev", 0xfe001000, 0x10, &byte_ops, &b, 1);
    mem_dispatch_write(m, 0xfe001000, 0x04030201, 4);
    g_assert_cmpint(b.n, ==, 4);
    for (int i = 0; i < 4; i++) {
        g_assert_cmpuint(b.off[i], ==, (unsigned)i);
        g_assert_cmphex(b.val[i], ==, (unsigned)i + 1);
    }
    /* A read that runs past the device's end returns all ones for the rest. */
    b.regs[0xf] = 0x5a;
    g_assert_cmphex(mem_dispatch_read(m, 0xfe00100f, 2), ==, 0xff5a);
    mem_free(m);
}

static void test_priority_and_move(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    uint8_t *low = mem_host_alloc(0x2000), *high = mem_host_alloc(0x2000);
    memset(low, 0x11, 0x2000);
    memset(high, 0x22, 0x2000);
    MemRegion *a = mem_add_ram(m, "low", 0xf0000000, 0x2000, low, true, 0);
    MemRegion *b = mem_add_ram(m, "high", 0xf0001000, 0x2000, high, false, 1);
    g_assert_cmpuint(mem_ldub(m, 0xf0000000), ==, 0x11);
    g_assert_cmpuint(mem_ldub(m, 0xf0001000), ==, 0x22); /* priority 1 wins */
    /* ROM: a direct read pointer but no write pointer; writes are dropped. */
    g_assert_nonnull(mem_read_page(m, 0xf0000000));
    g_assert_null(mem_write_page(m, 0xf0000000));
    mem_dispatch_write(m, 0xf0000010, 0x99, 1);
    g_assert_cmpuint(low[0x10], ==, 0x11);
    mem_region_set_enabled(b, false);
    g_assert_cmpuint(mem_ldub(m, 0xf0001000), ==, 0x11);
    mem_region_set_base(a, 0xe0000000);
    g_assert_cmphex(mem_dispatch_read(m, 0xf0000000, 1), ==, 0xff);
    g_assert_cmpuint(mem_ldub(m, 0xe0000000), ==, 0x11);
    mem_region_set_enabled(b, true);
    g_assert_true(mem_read_page(m, 0xf0001000) == high);
    mem_free(m);
    mem_host_free(low, 0x2000);
    mem_host_free(high, 0x2000);
}

static void test_ram_window(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    uint8_t *rom = mem_host_alloc(0x10000);
    memset(rom, 0xcd, 0x10000);
    mem_add_ram(m, "bios", 0xf0000, 0x10000, rom, true, 0);
    /* Closed window: reads come from the ROM, writes vanish. */
    g_assert_cmpuint(mem_ldub(m, 0xf1234), ==, 0xcd);
    mem_dispatch_write(m, 0xf1234, 0x42, 1);
    g_assert_cmpuint(mem_ldub(m, 0xf1234), ==, 0xcd);
    /* Write-only shadow: reads still from ROM, writes go to RAM (the BIOS copy step). */
    mem_set_ram_window(m, 0xf0000, 0x10000, false, true);
    mem_dispatch_write(m, 0xf1234, 0x42, 1);
    g_assert_cmpuint(mem_dispatch_read(m, 0xf1234, 1), ==, 0xcd);
    g_assert_cmpuint(mem_ram_low(m)[0xf1234], ==, 0x42);
    g_assert_true(mem_read_page(m, 0xf1000) == rom + 0x1000);
    g_assert_true(mem_write_page(m, 0xf1000) == mem_ram_low(m) + 0xf1000);
    /* Read-only shadow: the RAM copy answers and writes are dropped. */
    mem_set_ram_window(m, 0xf0000, 0x10000, true, false);
    g_assert_cmpuint(mem_dispatch_read(m, 0xf1234, 1), ==, 0x42);
    mem_dispatch_write(m, 0xf1234, 0x43, 1);
    g_assert_cmpuint(mem_dispatch_read(m, 0xf1234, 1), ==, 0x42);
    g_assert_null(mem_write_page(m, 0xf1000));
    mem_free(m);
    mem_host_free(rom, 0x10000);
}

static void test_dma_bounds(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    uint8_t buf[64];
    memset(buf, 0x5a, sizeof(buf));
    g_assert_true(mem_write(m, 0x1000, buf, sizeof(buf)));
    g_assert_true(mem_is_ram(m, 0x1000, 64));
    /* Straddling the end of RAM: the part inside is written, the call reports failure. */
    g_assert_false(mem_write(m, (UINT64_C(16) << 20) - 32, buf, 64));
    g_assert_cmpuint(mem_ram_low(m)[(16 << 20) - 1], ==, 0x5a);
    g_assert_false(mem_is_ram(m, (UINT64_C(16) << 20) - 32, 64));
    g_assert_false(mem_is_ram(m, UINT64_MAX - 8, 64));
    uint8_t in[16];
    g_assert_false(mem_read(m, 0xfffffff8, in, 16));
    for (int i = 0; i < 16; i++)
        g_assert_cmpuint(in[i], ==, 0xff);
    mem_free(m);
}

typedef struct CodeWrites {
    hwaddr addr;
    size_t len;
    int n;
    int map_changes;
} CodeWrites;

static void on_code_written(void *opaque, hwaddr addr, size_t len)
{
    CodeWrites *c = opaque;
    c->addr = addr;
    c->len = len;
    c->n++;
}

static void on_map_changed(void *opaque)
{
    CodeWrites *c = opaque;
    c->map_changes++;
}

static void test_code_and_dirty(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    CodeWrites cw = { 0 };
    MemListener l = { .map_changed = on_map_changed, .code_written = on_code_written, .opaque = &cw };
    mem_add_listener(m, &l);
    mem_set_code_page(m, 0x7000, true);
    uint32_t v = 0x12345678;
    mem_write(m, 0x6ffe, &v, 4); /* touches the end of the page before and the code page */
    g_assert_cmpint(cw.n, ==, 1);
    g_assert_cmphex(cw.addr, ==, 0x7000);
    g_assert_cmpuint(cw.len, ==, 2);
    mem_write(m, 0x8000, &v, 4);
    g_assert_cmpint(cw.n, ==, 1);

    uint8_t *vram = mem_host_alloc(0x4000);
    MemRegion *r = mem_add_ram(m, "vram", 0xfd000000, 0x4000, vram, false, 1);
    int before = cw.map_changes;
    mem_region_set_dirty_log(r, true);
    g_assert_cmpint(cw.map_changes, >, before);
    g_assert_true(mem_page_flags(m, 0xfd001000) & MEM_PAGE_DIRTY_LOG);
    g_assert_true(mem_dirty_region_at(m, 0xfd001000) == r);
    unsigned long bits[1];
    mem_region_dirty_harvest(r, bits);
    g_assert_cmphex(bits[0] & 0xf, ==, 0xf); /* everything dirty when logging starts */
    mem_region_dirty_harvest(r, bits);
    g_assert_cmphex(bits[0] & 0xf, ==, 0);
    mem_write(m, 0xfd002010, &v, 4);
    mem_dispatch_write(m, 0xfd000000, 1, 1);
    mem_region_dirty_harvest(r, bits);
    g_assert_cmphex(bits[0] & 0xf, ==, 0x5);
    mem_remove_listener(m, &l);
    mem_free(m);
    mem_host_free(vram, 0x4000);
}

typedef struct Runs {
    int n;
    hwaddr start[16];
    uint64_t len[16];
    bool writable[16];
} Runs;

static void collect(void *opaque, hwaddr start, uint64_t len, uint8_t *host, bool writable)
{
    Runs *r = opaque;
    g_assert_cmpint(r->n, <, 16);
    r->start[r->n] = start;
    r->len[r->n] = len;
    r->writable[r->n] = writable;
    r->n++;
}

static void test_ram_runs(void)
{
    GuestMemory *m = mem_new(UINT64_C(16) << 20, NULL);
    uint8_t *rom = mem_host_alloc(0x20000);
    mem_add_ram(m, "isa-bios", 0xe0000, 0x20000, rom, true, 0);
    Runs r = { 0 };
    mem_for_each_ram_run(m, collect, &r);
    /* Low RAM, the read-only BIOS alias, then RAM above 1 MiB. */
    g_assert_cmpint(r.n, ==, 3);
    g_assert_cmphex(r.start[0], ==, 0);
    g_assert_cmphex(r.len[0], ==, 0xa0000);
    g_assert_true(r.writable[0]);
    g_assert_cmphex(r.start[1], ==, 0xe0000);
    g_assert_false(r.writable[1]);
    g_assert_cmphex(r.start[2], ==, 0x100000);
    g_assert_cmphex(r.len[2], ==, (16 << 20) - 0x100000);
    mem_free(m);
    mem_host_free(rom, 0x20000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/ram-layout", test_ram_layout);
    g_test_add_func("/memory/mmio-split", test_mmio_split);
    g_test_add_func("/memory/priority-move", test_priority_and_move);
    g_test_add_func("/memory/ram-window", test_ram_window);
    g_test_add_func("/memory/dma-bounds", test_dma_bounds);
    g_test_add_func("/memory/code-and-dirty", test_code_and_dirty);
    g_test_add_func("/memory/ram-runs", test_ram_runs);
    return g_test_run();
}
