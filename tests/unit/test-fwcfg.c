/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fw_cfg as firmware sees it: signature and feature bits through the data port, the
 * sorted file directory, DMA reads into guest RAM, skip, and errors for bad DMA. */
#include "engine/testing.h"
#include "hw/firmware/fw_cfg.h"

#include <string.h>

typedef struct Fixture {
    Vm *vm;
    FwCfgState *fw;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->vm = vm_new_for_test(UINT64_C(16) << 20);
    vm_lock(f->vm);
    f->fw = fw_cfg_new(f->vm, 0x510);
    vm_unlock(f->vm);
}

static void teardown(Fixture *f, gconstpointer data)
{
    vm_free(f->vm);
}

static void select_key(Fixture *f, uint16_t key)
{
    vm_lock(f->vm);
    io_write(vm_io(f->vm), 0x510, key, 2);
    vm_unlock(f->vm);
}

static void read_bytes(Fixture *f, void *buf, size_t len)
{
    vm_lock(f->vm);
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)io_read(vm_io(f->vm), 0x511, 1);
    vm_unlock(f->vm);
}

/* Runs a DMA descriptor placed at desc; returns the control word after completion. */
static uint32_t dma(Fixture *f, hwaddr desc, uint32_t control, uint32_t len, uint64_t addr)
{
    GuestMemory *m = vm_mem(f->vm);
    struct { uint32_t c, l; uint64_t a; } d = { GUINT32_TO_BE(control), GUINT32_TO_BE(len), GUINT64_TO_BE(addr) };
    vm_lock(f->vm);
    mem_write(m, desc, &d, sizeof(d));
    io_write(vm_io(f->vm), 0x514, GUINT32_TO_BE((uint32_t)(desc >> 32)), 4);
    io_write(vm_io(f->vm), 0x518, GUINT32_TO_BE((uint32_t)desc), 4);
    uint32_t c = GUINT32_FROM_BE(mem_ldl(m, desc));
    vm_unlock(f->vm);
    return c;
}

static void test_signature(Fixture *f, gconstpointer data)
{
    char sig[4];
    select_key(f, FW_CFG_SIGNATURE);
    read_bytes(f, sig, 4);
    g_assert_cmpmem(sig, 4, "QEMU", 4);
    /* Past the end an item reads zeros. */
    uint8_t extra;
    read_bytes(f, &extra, 1);
    g_assert_cmpuint(extra, ==, 0);
    uint32_t id;
    select_key(f, FW_CFG_ID);
    read_bytes(f, &id, 4);
    g_assert_cmphex(GUINT32_FROM_LE(id), ==, 3);
    vm_lock(f->vm);
    g_assert_cmphex(io_read(vm_io(f->vm), 0x514, 4), ==, GUINT32_TO_BE(0x51454d55));
    g_assert_cmphex(io_read(vm_io(f->vm), 0x518, 4), ==, GUINT32_TO_BE(0x20434647));
    vm_unlock(f->vm);
}

static void test_directory(Fixture *f, gconstpointer data)
{
    vm_lock(f->vm);
    fw_cfg_add_file(f->fw, "zeta", g_bytes_new_static("zz", 2));
    uint16_t alpha = fw_cfg_add_file(f->fw, "etc/alpha", g_bytes_new_static("hello", 5));
    fw_cfg_add_i32(f->fw, FW_CFG_RAM_SIZE, 0x1000000);
    vm_unlock(f->vm);
    select_key(f, FW_CFG_FILE_DIR);
    uint32_t count;
    read_bytes(f, &count, 4);
    g_assert_cmpuint(GUINT32_FROM_BE(count), ==, 2);
    struct { uint32_t size; uint16_t select, reserved; char name[56]; } rec[2];
    read_bytes(f, rec, sizeof(rec));
    /* Sorted by name. */
    g_assert_cmpstr(rec[0].name, ==, "etc/alpha");
    g_assert_cmpstr(rec[1].name, ==, "zeta");
    g_assert_cmpuint(GUINT32_FROM_BE(rec[0].size), ==, 5);
    g_assert_cmpuint(GUINT16_FROM_BE(rec[0].select), ==, alpha);
    char buf[5];
    select_key(f, alpha);
    read_bytes(f, buf, 5);
    g_assert_cmpmem(buf, 5, "hello", 5);
}

static void test_dma(Fixture *f, gconstpointer data)
{
    GuestMemory *m = vm_mem(f->vm);
    vm_lock(f->vm);
    uint16_t key = fw_cfg_add_file(f->fw, "etc/data", g_bytes_new_static("0123456789", 10));
    vm_unlock(f->vm);
    /* Select + read 4 bytes, then skip 2, then read past the end: zeros fill. */
    g_assert_cmphex(dma(f, 0x1000, (uint32_t)key << 16 | 0x0a, 4, 0x2000), ==, 0);
    g_assert_cmphex(dma(f, 0x1000, 0x04, 2, 0), ==, 0);
    vm_lock(f->vm);
    memset(mem_ram_low(m) + 0x3000, 0xaa, 8);
    vm_unlock(f->vm);
    g_assert_cmphex(dma(f, 0x1000, 0x02, 8, 0x3000), ==, 0);
    uint8_t got[8];
    vm_lock(f->vm);
    mem_read(m, 0x2000, got, 4);
    g_assert_cmpmem(got, 4, "0123", 4);
    mem_read(m, 0x3000, got, 8);
    vm_unlock(f->vm);
    g_assert_cmpmem(got, 8, "6789\0\0\0\0", 8);
    /* A destination outside RAM sets the error bit and touches nothing else. */
    g_assert_cmphex(dma(f, 0x1000, (uint32_t)key << 16 | 0x0a, 10, UINT64_C(0x40000000)), ==, 1);
    /* Writing a read-only item fails. */
    g_assert_cmphex(dma(f, 0x1000, (uint32_t)key << 16 | 0x18, 2, 0x2000), ==, 1);
}

static void written(void *opaque, const char *name, const uint8_t *data, size_t len)
{
    memcpy(opaque, data, len);
}

static void test_dma_write(Fixture *f, gconstpointer data)
{
    uint8_t seen[4] = { 0 };
    vm_lock(f->vm);
    uint16_t key = fw_cfg_add_file_writable(f->fw, "etc/wr", g_bytes_new_static("\0\0\0\0", 4), written, seen);
    mem_write(vm_mem(f->vm), 0x2000, "wxyz", 4);
    vm_unlock(f->vm);
    g_assert_cmphex(dma(f, 0x1000, (uint32_t)key << 16 | 0x18, 4, 0x2000), ==, 0);
    g_assert_cmpmem(seen, 4, "wxyz", 4);
    /* Past the item's size: error. */
    g_assert_cmphex(dma(f, 0x1000, (uint32_t)key << 16 | 0x18, 5, 0x2000), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/fw_cfg/signature", Fixture, NULL, setup, test_signature, teardown);
    g_test_add("/fw_cfg/directory", Fixture, NULL, setup, test_directory, teardown);
    g_test_add("/fw_cfg/dma", Fixture, NULL, setup, test_dma, teardown);
    g_test_add("/fw_cfg/dma-write", Fixture, NULL, setup, test_dma_write, teardown);
    return g_test_run();
}
