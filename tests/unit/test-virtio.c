/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Virtio, driven as a hostile guest would: the virtqueue walker on rings with loops,
 * addresses outside RAM or wrapping around, chains longer than the queue, indirect
 * tables inside indirect tables, bad indices; the event index rule; and the devices
 * through the legacy I/O BAR: virtio-rng fills a buffer, a broken ring puts the device in
 * NEEDS_RESET until the driver resets it, virtio-blk writes, reads, says its ID and
 * keeps its queue across a state save and load; the modern interface's capabilities
 * and a request through its memory BAR. */
#include "hw/pci/pci.h"
#include "hw/virtio/virtio.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RAM (16u << 20)
#define DESC 0x10000u   /* the rings of the walker tests */
#define INDIRECT 0x40000u
#define BUF 0x100000u
#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4
#define FEAT_ALL ((UINT64_C(1) << VIRTIO_RING_F_INDIRECT_DESC) | (UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX))

static void put_desc(GuestMemory *m, hwaddr table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    hwaddr d = table + 16 * (hwaddr)i;
    mem_stq(m, d, addr);
    mem_stl(m, d + 8, len);
    mem_stw(m, d + 12, flags);
    mem_stw(m, d + 14, next);
}

/* A queue of num entries laid out as the legacy interface does. */
static void queue_setup(GuestMemory *m, VirtQueue *vq, uint16_t num)
{
    virtq_reset(vq, num);
    vq->desc = DESC;
    vq->avail = DESC + 16 * (uint64_t)num;
    vq->used = (vq->avail + 6 + 2 * (uint64_t)num + 4095) & ~UINT64_C(4095);
    vq->enabled = true;
    for (uint64_t a = DESC; a < vq->used + 6 + 8 * (uint64_t)num; a += 2)
        mem_stw(m, a, 0);
}

static void avail_add(GuestMemory *m, VirtQueue *vq, uint16_t head)
{
    uint16_t idx = mem_lduw(m, vq->avail + 2);
    mem_stw(m, vq->avail + 4 + 2 * (uint64_t)(idx % vq->num), head);
    mem_stw(m, vq->avail + 2, idx + 1);
}

typedef struct Walk {
    GuestMemory *m;
    VirtQueue vq;
    VirtqElem e;
    const char *why;
} Walk;

static void walk_init(Walk *w, uint16_t num)
{
    w->m = mem_new(RAM, NULL);
    g_assert_nonnull(w->m);
    queue_setup(w->m, &w->vq, num);
    virtq_elem_init(&w->e);
    w->why = NULL;
}

static void walk_free(Walk *w)
{
    virtq_elem_clear(&w->e);
    mem_free(w->m);
}

static VirtqPopResult walk_pop(Walk *w, uint64_t features)
{
    w->why = NULL;
    return virtq_pop(&w->vq, w->m, features, &w->e, &w->why);
}

/* The guest broke a rule: the pop says so and names it. */
static void expect_broken(Walk *w, uint64_t features, const char *why_part)
{
    g_assert_cmpint(walk_pop(w, features), ==, VIRTQ_BROKEN);
    g_assert_nonnull(w->why);
    if (!strstr(w->why, why_part))
        g_error("expected a reason with '%s', got '%s'", why_part, w->why);
}

static void test_good_chain(void)
{
    Walk w;
    walk_init(&w, 8);
    g_assert_cmpint(walk_pop(&w, FEAT_ALL), ==, VIRTQ_EMPTY);
    put_desc(w.m, DESC, 0, BUF, 16, F_NEXT, 5);
    put_desc(w.m, DESC, 5, BUF + 0x1000, 100, F_NEXT, 2);
    put_desc(w.m, DESC, 2, BUF + 0x2000, 1, F_WRITE, 0);
    avail_add(w.m, &w.vq, 0);
    g_assert_cmpint(walk_pop(&w, FEAT_ALL), ==, VIRTQ_GOT);
    g_assert_cmpuint(w.e.head, ==, 0);
    g_assert_cmpuint(w.e.out->len, ==, 2);
    g_assert_cmpuint(w.e.out_len, ==, 116);
    g_assert_cmpuint(w.e.in_len, ==, 1);
    /* The chain's bytes are read across segments in order. */
    mem_write(w.m, BUF + 14, "ab", 2);
    mem_write(w.m, BUF + 0x1000, "cd", 2);
    char got[4];
    g_assert_cmpuint(virtq_elem_read(w.m, &w.e, 14, got, 4), ==, 4);
    g_assert_cmpmem(got, 4, "abcd", 4);
    uint8_t st = 0x5a;
    g_assert_cmpuint(virtq_elem_write(w.m, &w.e, 0, &st, 2), ==, 1);
    g_assert_cmpuint(mem_ldub(w.m, BUF + 0x2000), ==, 0x5a);
    /* Event index: the device asks for a kick at the next entry. */
    g_assert_cmpuint(mem_lduw(w.m, w.vq.used + 4 + 8 * 8), ==, 1);
    virtq_push(&w.vq, w.m, w.e.head, 1);
    g_assert_cmpuint(mem_lduw(w.m, w.vq.used + 2), ==, 1);
    g_assert_cmpuint(mem_ldl(w.m, w.vq.used + 4), ==, 0);
    g_assert_cmpuint(mem_ldl(w.m, w.vq.used + 8), ==, 1);
    /* used_event 0 (what the driver left): interrupt for entry 0 -> 1. */
    g_assert_true(virtq_should_notify(&w.vq, w.m, FEAT_ALL));
    /* used_event 5: no interrupt until the used index passes it. */
    mem_stw(w.m, w.vq.avail + 4 + 2 * 8, 5);
    avail_add(w.m, &w.vq, 0);
    g_assert_cmpint(walk_pop(&w, FEAT_ALL), ==, VIRTQ_GOT);
    virtq_push(&w.vq, w.m, 0, 1);
    g_assert_false(virtq_should_notify(&w.vq, w.m, FEAT_ALL));
    /* Without the event index, the NO_INTERRUPT flag decides. */
    mem_stw(w.m, w.vq.avail, 1);
    g_assert_false(virtq_should_notify(&w.vq, w.m, 0));
    mem_stw(w.m, w.vq.avail, 0);
    g_assert_true(virtq_should_notify(&w.vq, w.m, 0));
    walk_free(&w);
}

static void test_loop(void)
{
    Walk w;
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, BUF, 16, F_NEXT, 1);
    put_desc(w.m, DESC, 1, BUF, 16, F_NEXT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "loop");
    /* A descriptor naming itself. */
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, DESC, 3, BUF, 16, F_NEXT, 3);
    avail_add(w.m, &w.vq, 3);
    expect_broken(&w, FEAT_ALL, "loop");
    walk_free(&w);
}

static void test_out_of_range(void)
{
    static const struct {
        uint64_t addr;
        uint32_t len;
    } bad[] = {
        { RAM - 8, 16 },                       /* runs past the end of RAM */
        { RAM, 1 },                             /* just past it */
        { UINT64_C(0xfffffffffffff000), 0x2000 }, /* wraps around */
        { UINT64_C(0xfee00000), 4 },            /* the local APIC, not RAM */
        { UINT64_C(1) << 40, 512 },             /* far above */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        Walk w;
        walk_init(&w, 8);
        put_desc(w.m, DESC, 0, BUF, 16, F_NEXT, 1);
        put_desc(w.m, DESC, 1, bad[i].addr, bad[i].len, F_WRITE, 0);
        avail_add(w.m, &w.vq, 0);
        expect_broken(&w, FEAT_ALL, "outside RAM");
        walk_free(&w);
    }
    /* Rings outside RAM. */
    Walk w;
    walk_init(&w, 8);
    w.vq.used = RAM - 8;
    expect_broken(&w, FEAT_ALL, "rings outside RAM");
    walk_free(&w);
}

static void test_indices(void)
{
    Walk w;
    walk_init(&w, 8);
    avail_add(w.m, &w.vq, 8); /* head == num */
    expect_broken(&w, FEAT_ALL, "head index");
    walk_free(&w);
    walk_init(&w, 8);
    mem_stw(w.m, w.vq.avail + 2, 9); /* nine entries in a ring of eight */
    expect_broken(&w, FEAT_ALL, "ran more than");
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, BUF, 16, F_NEXT, 8); /* next == num */
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "next descriptor");
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, BUF, 16, F_WRITE | F_NEXT, 1);
    put_desc(w.m, DESC, 1, BUF, 16, 0, 0); /* readable after writable */
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "readable");
    walk_free(&w);
}

static void test_huge_chain(void)
{
    /* The longest chain a ring of 1024 holds is accepted; a 1025th step is a loop. */
    Walk w;
    walk_init(&w, VIRTQ_MAX_SIZE);
    for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
        put_desc(w.m, DESC, i, BUF + i, 1, i + 1 < VIRTQ_MAX_SIZE ? F_NEXT : 0, (uint16_t)(i + 1));
    avail_add(w.m, &w.vq, 0);
    g_assert_cmpint(walk_pop(&w, FEAT_ALL), ==, VIRTQ_GOT);
    g_assert_cmpuint(w.e.out->len, ==, VIRTQ_MAX_SIZE);
    put_desc(w.m, DESC, VIRTQ_MAX_SIZE - 1, BUF, 1, F_NEXT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "loop");
    walk_free(&w);
    /* The same through an indirect table of the largest size. */
    walk_init(&w, 8);
    for (unsigned i = 0; i < VIRTQ_MAX_INDIRECT; i++)
        put_desc(w.m, INDIRECT, i, BUF, 4, F_NEXT, (uint16_t)((i + 1) % VIRTQ_MAX_INDIRECT));
    put_desc(w.m, DESC, 0, INDIRECT, 16 * VIRTQ_MAX_INDIRECT, F_INDIRECT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "loop");
    walk_free(&w);
}

static void test_indirect(void)
{
    Walk w;
    walk_init(&w, 8);
    put_desc(w.m, INDIRECT, 0, BUF, 16, F_NEXT, 1);
    put_desc(w.m, INDIRECT, 1, BUF + 16, 1, F_WRITE, 0);
    put_desc(w.m, DESC, 4, INDIRECT, 32, F_INDIRECT, 0);
    avail_add(w.m, &w.vq, 4);
    g_assert_cmpint(walk_pop(&w, FEAT_ALL), ==, VIRTQ_GOT);
    g_assert_cmpuint(w.e.head, ==, 4);
    g_assert_cmpuint(w.e.out_len, ==, 16);
    g_assert_cmpuint(w.e.in_len, ==, 1);
    /* Not negotiated. */
    avail_add(w.m, &w.vq, 4);
    expect_broken(&w, 0, "without the feature");
    walk_free(&w);

    static const struct {
        uint32_t len;
        const char *why;
    } lens[] = { { 0, "bad length" }, { 24, "bad length" }, { 16 * (VIRTQ_MAX_INDIRECT + 1), "bad length" },
                 { 0xfffffff0u, "bad length" } };
    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        walk_init(&w, 8);
        put_desc(w.m, DESC, 0, INDIRECT, lens[i].len, F_INDIRECT, 0);
        avail_add(w.m, &w.vq, 0);
        expect_broken(&w, FEAT_ALL, lens[i].why);
        walk_free(&w);
    }
    /* A table outside RAM, one inside another, one after direct descriptors. */
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, RAM - 16, 32, F_INDIRECT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "indirect table outside RAM");
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, INDIRECT, 0, INDIRECT, 32, F_INDIRECT, 0);
    put_desc(w.m, DESC, 0, INDIRECT, 32, F_INDIRECT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "inside an indirect");
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, BUF, 16, F_NEXT, 1);
    put_desc(w.m, DESC, 1, INDIRECT, 32, F_INDIRECT, 0);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "middle of a chain");
    walk_free(&w);
    walk_init(&w, 8);
    put_desc(w.m, DESC, 0, INDIRECT, 32, F_INDIRECT | F_NEXT, 1);
    avail_add(w.m, &w.vq, 0);
    expect_broken(&w, FEAT_ALL, "middle of a chain");
    walk_free(&w);
}

/* ---- devices through the legacy I/O BAR ---- */

#define IOBASE 0xc000
#define DEVFN PCI_DEVFN(4, 0)
#define QPFN 0x20   /* rings at 0x20000 */
#define QBASE (QPFN * 4096u)

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
    uint16_t num;
    uint64_t avail, used;
    char *dir;
    bool msi;               /* the bus delivers messages */
    unsigned msi_count;
    uint64_t msi_addr;
    uint32_t msi_data;
} Rig;

static void msi_sink(void *opaque, uint64_t addr, uint32_t data)
{
    Rig *r = opaque;
    r->msi_count++;
    r->msi_addr = addr;
    r->msi_data = data;
}

static int map_irq(void *opaque, int devfn, int pin)
{
    (void)opaque;
    (void)devfn;
    (void)pin;
    return 0;
}

static void set_pirq(void *opaque, int pirq, int level)
{
    (void)pirq;
    ((Rig *)opaque)->irq = level;
}

static uint32_t io_in(Rig *r, uint32_t off, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = io_read(vm_io(r->vm), IOBASE + off, size);
    vm_unlock(r->vm);
    return v;
}

static void io_out(Rig *r, uint32_t off, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    io_write(vm_io(r->vm), IOBASE + off, v, size);
    vm_unlock(r->vm);
}

static GuestMemory *rig_mem(Rig *r)
{
    return vm_mem(r->vm);
}

/* The driver's start-up (VIRTIO §3.1.1, legacy): reset, ACK, DRIVER, queue 0, DRIVER_OK. */
static void rig_driver_init(Rig *r, uint32_t features)
{
    io_out(r, 0x12, 0, 1);
    io_out(r, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    io_out(r, 0x04, io_in(r, 0x00, 4) & features, 4);
    io_out(r, 0x0e, 0, 2);
    r->num = (uint16_t)io_in(r, 0x0c, 2);
    g_assert_cmpuint(r->num, >=, 8);
    vm_lock(r->vm);
    for (uint64_t a = QBASE; a < QBASE + 0x10000; a += 8)
        mem_stq(rig_mem(r), a, 0);
    vm_unlock(r->vm);
    io_out(r, 0x08, QPFN, 4);
    r->avail = QBASE + 16 * (uint64_t)r->num;
    r->used = (r->avail + 6 + 2 * (uint64_t)r->num + 4095) & ~UINT64_C(4095);
    io_out(r, 0x12, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK, 1);
}

/* msi: the bus delivers message signalled interrupts (to msi_sink). */
static void rig_init_with(Rig *r, const char *device, bool msi)
{
    GError *err = NULL;
    memset(r, 0, sizeof(*r));
    r->msi = msi;
    r->vm = vm_new_for_test(RAM);
    if (strstr(device, "drive=")) {
        r->dir = g_dir_make_tmp("vireo-virtio-XXXXXX", &err);
        g_assert_no_error(err);
        g_autofree char *disk = g_build_filename(r->dir, "disk.raw", NULL);
        g_assert_true(g_file_set_contents(disk, "", 0, NULL));
        g_assert_cmpint(truncate(disk, 1 << 20), ==, 0);
        vm_test_add_drive(r->vm, "d0", disk, "raw");
    }
    vm_lock(r->vm);
    r->bus = pci_bus_new(r->vm);
    pci_bus_set_irq_router(r->bus, map_irq, set_pirq, r, 4);
    if (r->msi)
        pci_bus_set_msi(r->bus, msi_sink, r);
    vm_add_bus(r->vm, "pci.0", r->bus);
    Device *d = device_create_from_spec(r->vm, device, &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    pci_config_write(r->bus, DEVFN, PCI_BAR0, IOBASE, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
}

static void rig_init(Rig *r, const char *device)
{
    rig_init_with(r, device, false);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
    if (r->dir) {
        g_autofree char *disk = g_build_filename(r->dir, "disk.raw", NULL);
        g_unlink(disk);
        g_rmdir(r->dir);
        g_free(r->dir);
    }
}

static void rig_desc(Rig *r, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    vm_lock(r->vm);
    put_desc(rig_mem(r), QBASE, i, addr, len, flags, next);
    vm_unlock(r->vm);
}

static void rig_kick(Rig *r, uint16_t head)
{
    vm_lock(r->vm);
    GuestMemory *m = rig_mem(r);
    uint16_t idx = mem_lduw(m, r->avail + 2);
    mem_stw(m, r->avail + 4 + 2 * (uint64_t)(idx % r->num), head);
    mem_stw(m, r->avail + 2, idx + 1);
    vm_unlock(r->vm);
    io_out(r, 0x10, 0, 2);
}

static uint16_t rig_used_idx(Rig *r)
{
    vm_lock(r->vm);
    uint16_t v = mem_lduw(rig_mem(r), r->used + 2);
    vm_unlock(r->vm);
    return v;
}

static void test_rng(void)
{
    Rig r;
    rig_init(&r, "virtio-rng-pci,addr=4");
    /* Identity: the transitional device ID and the virtio type as subsystem. */
    vm_lock(r.vm);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, 0, 4), ==, 0x10051af4);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_SUBSYSTEM_ID, 2), ==, 4);
    vm_unlock(r.vm);
    rig_driver_init(&r, 0);
    static const uint8_t zero[256];
    vm_lock(r.vm);
    mem_write(rig_mem(&r), BUF, zero, sizeof(zero));
    vm_unlock(r.vm);
    rig_desc(&r, 0, BUF, 256, F_WRITE, 0);
    rig_kick(&r, 0);
    g_assert_cmpuint(rig_used_idx(&r), ==, 1);
    g_assert_cmpint(r.irq, ==, 1);
    g_assert_cmpuint(io_in(&r, 0x13, 1), ==, 1); /* ISR: used buffer; reading acks */
    g_assert_cmpint(r.irq, ==, 0);
    uint8_t got[256];
    vm_lock(r.vm);
    mem_read(rig_mem(&r), BUF, got, sizeof(got));
    g_assert_cmpuint(mem_ldl(rig_mem(&r), r.used + 8), ==, 256);
    vm_unlock(r.vm);
    g_assert_true(memcmp(got, zero, sizeof(got)) != 0);

    /* A loop: NEEDS_RESET, a config interrupt, and nothing more is served. */
    rig_desc(&r, 1, BUF, 16, F_WRITE | F_NEXT, 2);
    rig_desc(&r, 2, BUF, 16, F_WRITE | F_NEXT, 1);
    rig_kick(&r, 1);
    g_assert_cmpuint(io_in(&r, 0x12, 1) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    g_assert_cmpuint(io_in(&r, 0x13, 1), ==, 2);
    rig_desc(&r, 0, BUF, 256, F_WRITE, 0);
    rig_kick(&r, 0);
    g_assert_cmpuint(rig_used_idx(&r), ==, 1);
    /* The driver's reset brings it back. */
    rig_driver_init(&r, 0);
    g_assert_cmpuint(io_in(&r, 0x12, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    rig_desc(&r, 0, BUF, 64, F_WRITE, 0);
    rig_kick(&r, 0);
    g_assert_cmpuint(rig_used_idx(&r), ==, 1);
    /* Rings at a PFN past RAM: broken, not a crash. */
    io_out(&r, 0x08, 0xfffff, 4);
    io_out(&r, 0x10, 0, 2);
    g_assert_cmpuint(io_in(&r, 0x12, 1) & VIRTIO_STATUS_NEEDS_RESET, !=, 0);
    rig_free(&r);
}

/* One virtio-blk request {type, 0, sector} + data + status, waited for. */
static uint8_t blk_request(Rig *r, uint32_t type, uint64_t sector, uint64_t data, uint32_t len, bool to_dev)
{
    vm_lock(r->vm);
    GuestMemory *m = rig_mem(r);
    mem_stl(m, BUF, type);
    mem_stl(m, BUF + 4, 0);
    mem_stq(m, BUF + 8, sector);
    mem_stb(m, BUF + 16, 0xee);
    vm_unlock(r->vm);
    uint16_t before = rig_used_idx(r);
    rig_desc(r, 0, BUF, 16, F_NEXT, 1);
    rig_desc(r, 1, data, len, (uint16_t)(F_NEXT | (to_dev ? 0 : F_WRITE)), 2);
    rig_desc(r, 2, BUF + 16, 1, F_WRITE, 0);
    rig_kick(r, 0);
    for (int i = 0; i < 5000 && rig_used_idx(r) == before; i++)
        g_usleep(1000);
    g_assert_cmpuint(rig_used_idx(r), ==, (uint16_t)(before + 1));
    vm_lock(r->vm);
    uint8_t st = mem_ldub(rig_mem(r), BUF + 16);
    vm_unlock(r->vm);
    return st;
}

static void test_blk(void)
{
    Rig r;
    rig_init(&r, "virtio-blk-pci,addr=4,drive=d0,serial=SN-1");
    rig_driver_init(&r, 0xffffffffu);
    g_assert_cmpuint(io_in(&r, 0x14, 4), ==, (1u << 20) / 512); /* capacity */
    uint8_t pattern[4096], got[4096];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
    vm_lock(r.vm);
    mem_write(rig_mem(&r), BUF + 0x1000, pattern, sizeof(pattern));
    vm_unlock(r.vm);
    g_assert_cmpuint(blk_request(&r, 1, 10, BUF + 0x1000, 4096, true), ==, 0);
    g_assert_cmpuint(blk_request(&r, 0, 10, BUF + 0x3000, 4096, false), ==, 0);
    vm_lock(r.vm);
    mem_read(rig_mem(&r), BUF + 0x3000, got, sizeof(got));
    vm_unlock(r.vm);
    g_assert_cmpmem(got, sizeof(got), pattern, sizeof(pattern));
    /* Past the end, a length that is not whole sectors, an unknown type. */
    g_assert_cmpuint(blk_request(&r, 0, 2047, BUF + 0x3000, 4096, false), ==, 1);
    g_assert_cmpuint(blk_request(&r, 0, 0, BUF + 0x3000, 100, false), ==, 1);
    g_assert_cmpuint(blk_request(&r, 99, 0, BUF + 0x3000, 512, false), ==, 2);
    g_assert_cmpuint(blk_request(&r, 4, 0, BUF + 0x3000, 0, false), ==, 0); /* flush */
    g_assert_cmpuint(blk_request(&r, 8, 0, BUF + 0x3000, 20, false), ==, 0);
    vm_lock(r.vm);
    mem_read(rig_mem(&r), BUF + 0x3000, got, 20);
    vm_unlock(r.vm);
    g_assert_cmpmem(got, 5, "SN-1\0", 5);

    /* Two reads in flight at once; the drain a save runs completes both before it
     * returns (the pool's completions take the lock it drops). */
    vm_lock(r.vm);
    GuestMemory *m = rig_mem(&r);
    for (unsigned i = 0; i < 2; i++) {
        hwaddr h = BUF + 0x100 + 0x20 * i;
        mem_stl(m, h, 0);
        mem_stl(m, h + 4, 0);
        mem_stq(m, h + 8, 10);
        mem_stb(m, h + 16, 0xee);
        put_desc(m, QBASE, 3 * i + 3, h, 16, F_NEXT, (uint16_t)(3 * i + 4));
        put_desc(m, QBASE, 3 * i + 4, BUF + 0x6000 + 0x1000 * i, 4096, F_NEXT | F_WRITE, (uint16_t)(3 * i + 5));
        put_desc(m, QBASE, 3 * i + 5, h + 16, 1, F_WRITE, 0);
        uint16_t idx = mem_lduw(m, r.avail + 2);
        mem_stw(m, r.avail + 4 + 2 * (uint64_t)(idx % r.num), (uint16_t)(3 * i + 3));
        mem_stw(m, r.avail + 2, idx + 1);
    }
    uint16_t before = mem_lduw(m, r.used + 2);
    io_write(vm_io(r.vm), IOBASE + 0x10, 0, 2);
    device_list_drain(r.vm);
    g_assert_cmpuint(mem_lduw(m, r.used + 2), ==, (uint16_t)(before + 2));
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmpuint(mem_ldub(m, BUF + 0x100 + 0x20 * i + 16), ==, 0);
        mem_read(m, BUF + 0x6000 + 0x1000 * i, got, sizeof(got));
        g_assert_cmpmem(got, sizeof(got), pattern, sizeof(pattern));
    }
    vm_unlock(r.vm);

    /* The queue survives a save and a load into a reset device. */
    vm_lock(r.vm);
    Device *dev = device_list_head(r.vm)->data;
    GByteArray *st = g_byte_array_new();
    device_save_state(dev, st);
    vm_unlock(r.vm);
    io_out(&r, 0x12, 0, 1);
    g_assert_cmpuint(io_in(&r, 0x08, 4), ==, 0);
    vm_lock(r.vm);
    GError *err = NULL;
    g_assert_true(device_load_state(dev, st->data, st->len, &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    g_assert_cmpuint(io_in(&r, 0x08, 4), ==, QPFN);
    g_assert_cmpuint(blk_request(&r, 0, 10, BUF + 0x5000, 4096, false), ==, 0);
    vm_lock(r.vm);
    mem_read(rig_mem(&r), BUF + 0x5000, got, sizeof(got));
    vm_unlock(r.vm);
    g_assert_cmpmem(got, sizeof(got), pattern, sizeof(pattern));
    g_byte_array_free(st, TRUE);
    rig_free(&r);
}

/* The modern interface: the capability chain, then a request through the common
 * configuration and the notification area of memory BAR 1. */
#define MBAR 0xfe000000u

static uint32_t mm_in(Rig *r, uint32_t off, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), MBAR + off, size);
    vm_unlock(r->vm);
    return v;
}

static void mm_out(Rig *r, uint32_t off, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), MBAR + off, v, size);
    vm_unlock(r->vm);
}

static void test_modern(void)
{
    Rig r;
    rig_init(&r, "virtio-rng-pci,addr=4");
    vm_lock(r.vm);
    pci_config_write(r.bus, DEVFN, PCI_BAR0 + 4, MBAR, 4);
    pci_config_write(r.bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    /* Vendor capabilities: common (1), ISR (3), notify (2, with its multiplier); an rng
     * has no device configuration (4). */
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_STATUS, 2) & 0x10, ==, 0x10);
    unsigned pos = pci_config_read(r.bus, DEVFN, PCI_CAPABILITY_LIST, 1), types[8], n = 0, cfg = 0;
    uint32_t notify_off = 0, mult = 0;
    while (pos && n < 8) {
        g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos, 1), ==, 0x09);
        types[n] = pci_config_read(r.bus, DEVFN, pos + 3, 1);
        if (types[n] != 5) /* the window's BAR is the driver's choice */
            g_assert_cmpuint(pci_config_read(r.bus, DEVFN, pos + 4, 1), ==, 1);
        if (types[n] == 5)
            cfg = pos;
        if (types[n] == 2) {
            notify_off = pci_config_read(r.bus, DEVFN, pos + 8, 4);
            mult = pci_config_read(r.bus, DEVFN, pos + 16, 4);
        }
        n++;
        pos = pci_config_read(r.bus, DEVFN, pos + 1, 1);
    }
    vm_unlock(r.vm);
    g_assert_cmpuint(n, ==, 4);
    g_assert_cmpuint(types[0], ==, 1);
    g_assert_cmpuint(types[1], ==, 3);
    g_assert_cmpuint(types[2], ==, 2);
    g_assert_cmpuint(types[3], ==, 5);
    /* The PCI_CFG window: num_queues (common configuration +0x12, 2 bytes) of BAR 1,
     * then the legacy queue size (I/O BAR 0 +0x0c); a misaligned window reads nothing. */
    vm_lock(r.vm);
    pci_config_write(r.bus, DEVFN, cfg + 4, 1, 1);
    pci_config_write(r.bus, DEVFN, cfg + 8, 0x12, 4);
    pci_config_write(r.bus, DEVFN, cfg + 12, 2, 4);
    g_assert_cmpuint(pci_config_read(r.bus, DEVFN, cfg + 16, 4) & 0xffff, ==, 1);
    pci_config_write(r.bus, DEVFN, cfg + 4, 0, 1);
    pci_config_write(r.bus, DEVFN, cfg + 8, 0x0c, 4);
    g_assert_cmpuint(pci_config_read(r.bus, DEVFN, cfg + 16, 2), ==, 64);
    pci_config_write(r.bus, DEVFN, cfg + 8, 0x0d, 4);
    g_assert_cmpuint(pci_config_read(r.bus, DEVFN, cfg + 16, 2), ==, 64);
    /* A write through it: device status DRIVER (BAR 1 +0x14, 1 byte). */
    pci_config_write(r.bus, DEVFN, cfg + 4, 1, 1);
    pci_config_write(r.bus, DEVFN, cfg + 8, 0x14, 4);
    pci_config_write(r.bus, DEVFN, cfg + 12, 1, 4);
    pci_config_write(r.bus, DEVFN, cfg + 16, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    vm_unlock(r.vm);
    g_assert_cmpuint(mm_in(&r, 0x14, 1), ==, VIRTIO_STATUS_ACKNOWLEDGE);
    /* §3.1.1 through the common configuration. */
    mm_out(&r, 0x14, 0, 1);
    mm_out(&r, 0x14, 3, 1);
    mm_out(&r, 0x00, 1, 4);
    g_assert_cmphex(mm_in(&r, 0x04, 4) & 1, ==, 1); /* VERSION_1 is bit 32 */
    mm_out(&r, 0x08, 1, 4);
    mm_out(&r, 0x0c, 1, 4);
    mm_out(&r, 0x14, 0xb, 1);
    g_assert_cmphex(mm_in(&r, 0x14, 1), ==, 0xb);
    g_assert_cmpuint(mm_in(&r, 0x12, 2), ==, 1); /* one queue */
    mm_out(&r, 0x16, 0, 2);
    g_assert_cmpuint(mm_in(&r, 0x18, 2), ==, 64);
    mm_out(&r, 0x18, 16, 2); /* a smaller ring */
    uint32_t desc = QBASE, avail = QBASE + 0x1000, used = QBASE + 0x2000;
    vm_lock(r.vm);
    for (uint64_t a = QBASE; a < QBASE + 0x3000; a += 8)
        mem_stq(rig_mem(&r), a, 0);
    put_desc(rig_mem(&r), desc, 0, BUF, 128, F_WRITE, 0);
    mem_stw(rig_mem(&r), avail + 4, 0);
    mem_stw(rig_mem(&r), avail + 2, 1);
    vm_unlock(r.vm);
    mm_out(&r, 0x20, desc, 4);
    mm_out(&r, 0x24, 0, 4);
    mm_out(&r, 0x28, avail, 4);
    mm_out(&r, 0x2c, 0, 4);
    mm_out(&r, 0x30, used, 4);
    mm_out(&r, 0x34, 0, 4);
    mm_out(&r, 0x1c, 1, 2);
    g_assert_cmpuint(mm_in(&r, 0x1c, 2), ==, 1);
    mm_out(&r, 0x14, 0xf, 1);
    /* Taken at DRIVER_OK already (the buffer was available); a notification finds
     * nothing more. */
    mm_out(&r, notify_off + mult * mm_in(&r, 0x1e, 2), 0, 2);
    vm_lock(r.vm);
    g_assert_cmpuint(mem_lduw(rig_mem(&r), used + 2), ==, 1);
    g_assert_cmpuint(mem_ldl(rig_mem(&r), used + 8), ==, 128);
    vm_unlock(r.vm);
    g_assert_cmpuint(mm_in(&r, 0x1000, 1), ==, 1); /* ISR, read clears */
    g_assert_cmpuint(mm_in(&r, 0x1000, 1), ==, 0);
    /* Used ring past RAM: NEEDS_RESET; reset through the status. */
    mm_out(&r, 0x1c, 0, 2);
    mm_out(&r, 0x30, RAM, 4);
    g_assert_cmpuint(mm_in(&r, 0x1c, 2), ==, 0);
    mm_out(&r, 0x1c, 1, 2);
    vm_lock(r.vm);
    mem_stw(rig_mem(&r), avail + 4 + 2, 0);
    mem_stw(rig_mem(&r), avail + 2, 2);
    vm_unlock(r.vm);
    mm_out(&r, notify_off, 0, 2);
    g_assert_cmphex(mm_in(&r, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, VIRTIO_STATUS_NEEDS_RESET);
    mm_out(&r, 0x14, 0, 1);
    g_assert_cmphex(mm_in(&r, 0x14, 1), ==, 0);
    g_assert_cmpuint(mm_in(&r, 0x18, 2), ==, 64);
    rig_free(&r);
}

/* MSI-X on the legacy interface: the capability and its table in BAR 2, the vector
 * fields that appear at 0x14 once it is enabled, a masked vector's pending bit, the
 * message when it is unmasked, the function mask, and INTx again once it is off. */
#define XBAR 0xfe100000u

static uint32_t x_in(Rig *r, uint32_t off)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), XBAR + off, 4);
    vm_unlock(r->vm);
    return v;
}

static void x_out(Rig *r, uint32_t off, uint32_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), XBAR + off, v, 4);
    vm_unlock(r->vm);
}

static void cfg_out(Rig *r, uint32_t off, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    pci_config_write(r->bus, DEVFN, off, v, size);
    vm_unlock(r->vm);
}

static void rng_request(Rig *r)
{
    uint16_t before = rig_used_idx(r);
    rig_desc(r, 0, BUF, 64, F_WRITE, 0);
    rig_kick(r, 0);
    g_assert_cmpuint(rig_used_idx(r), ==, (uint16_t)(before + 1));
}

static void test_msix(void)
{
    Rig r;
    rig_init_with(&r, "virtio-rng-pci,addr=4,disable-modern=on", true);
    vm_lock(r.vm);
    unsigned pos = pci_config_read(r.bus, DEVFN, PCI_CAPABILITY_LIST, 1);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos, 1), ==, 0x11);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos + 2, 2), ==, VIRTIO_MSIX_VECTORS - 1);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos + 4, 4), ==, 2);     /* table: BAR 2 + 0 */
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos + 8, 4), ==, 0x802); /* PBA: BAR 2 + 0x800 */
    pci_config_write(r.bus, DEVFN, PCI_BAR0 + 8, XBAR, 4);
    pci_config_write(r.bus, DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r.vm);
    /* Every entry starts masked. */
    for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++)
        g_assert_cmphex(x_in(&r, v * 16 + 12), ==, 1);
    cfg_out(&r, pos + 2, 0x8000, 2);
    rig_driver_init(&r, 0);
    /* The vector fields (reset: NO_VECTOR); one past the table does not stick. */
    g_assert_cmphex(io_in(&r, 0x14, 2), ==, 0xffff);
    g_assert_cmphex(io_in(&r, 0x16, 2), ==, 0xffff);
    io_out(&r, 0x14, 0, 2);
    io_out(&r, 0x16, VIRTIO_MSIX_VECTORS, 2);
    g_assert_cmphex(io_in(&r, 0x16, 2), ==, 0xffff);
    io_out(&r, 0x16, 1, 2);
    g_assert_cmphex(io_in(&r, 0x14, 2), ==, 0);
    g_assert_cmphex(io_in(&r, 0x16, 2), ==, 1);
    x_out(&r, 16, 0xfee01000);
    x_out(&r, 16 + 4, 0);
    x_out(&r, 16 + 8, 0x4041);
    /* Masked: the message waits in the pending bit; no INTx, no ISR bit. */
    rng_request(&r);
    g_assert_cmpuint(r.msi_count, ==, 0);
    g_assert_cmphex(x_in(&r, 0x800), ==, 2);
    g_assert_cmpint(r.irq, ==, 0);
    x_out(&r, 16 + 12, 0);
    g_assert_cmpuint(r.msi_count, ==, 1);
    g_assert_cmphex(r.msi_addr, ==, 0xfee01000);
    g_assert_cmphex(r.msi_data, ==, 0x4041);
    g_assert_cmphex(x_in(&r, 0x800), ==, 0);
    rng_request(&r);
    g_assert_cmpuint(r.msi_count, ==, 2);
    g_assert_cmphex(io_in(&r, 0x13, 1), ==, 0);
    /* The function mask holds every vector; clearing it sends what is pending. */
    cfg_out(&r, pos + 2, 0xc000, 2);
    rng_request(&r);
    g_assert_cmpuint(r.msi_count, ==, 2);
    cfg_out(&r, pos + 2, 0x8000, 2);
    g_assert_cmpuint(r.msi_count, ==, 3);
    /* MSI-X off: the vector fields are gone from the header and INTx is back. */
    cfg_out(&r, pos + 2, 0, 2);
    rng_request(&r);
    g_assert_cmpuint(r.msi_count, ==, 3);
    g_assert_cmpint(r.irq, ==, 1);
    g_assert_cmphex(io_in(&r, 0x13, 1) & 1, ==, 1);
    g_assert_cmpint(r.irq, ==, 0);
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio/queue/good-chain", test_good_chain);
    g_test_add_func("/virtio/queue/loop", test_loop);
    g_test_add_func("/virtio/queue/out-of-range", test_out_of_range);
    g_test_add_func("/virtio/queue/indices", test_indices);
    g_test_add_func("/virtio/queue/huge-chain", test_huge_chain);
    g_test_add_func("/virtio/queue/indirect", test_indirect);
    g_test_add_func("/virtio/rng", test_rng);
    g_test_add_func("/virtio/blk", test_blk);
    g_test_add_func("/virtio/modern", test_modern);
    g_test_add_func("/virtio/msix", test_msix);
    return g_test_run();
}
