/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-gpu-pci and virtio-serial-pci driven as a hostile guest would, through the
 * modern interface: bogus resource ids, backing outside RAM, sizes beyond the host
 * memory limit, transfer rectangles outside the resource, commands and responses that
 * do not fit their buffers, a cursor on a missing resource; a good picture with a
 * format conversion reaching the display; a display size request raising the
 * configuration event; a state save and load with a resource live. virtio-serial:
 * control messages for ports that do not exist, and DEVICE_READY announcing the
 * ports. */
#include "engine/display.h"
#include "hw/pci/pci.h"
#include "hw/virtio/virtio.h"
#include "unit.h"

#include <string.h>

#define RAM (16u << 20)
#define DEVFN PCI_DEVFN(4, 0)
#define MBAR 0xfe000000u
#define QBASE 0x20000u /* queue q's rings at QBASE + q * 0x4000 */
#define CMD 0x100000u
#define RESP 0x110000u
#define PIX 0x200000u  /* a resource's backing */
#define F_NEXT 1
#define F_WRITE 2

enum {
    OK_NODATA = 0x1100, OK_DISPLAY_INFO = 0x1101, OK_EDID = 0x1104,
    ERR_UNSPEC = 0x1200, ERR_OOM = 0x1201, ERR_SCANOUT = 0x1202, ERR_RESOURCE = 0x1203,
    ERR_PARAMETER = 0x1205,
};

typedef struct Rig {
    Vm *vm;
    uint32_t base; /* the modern interface's offset in its BAR (virtio-vga: 0x4000) */
    PciBus *bus;
    Device *dev;
    uint16_t used_seen[8];
    uint16_t avail_idx[8];
} Rig;

static int map_irq(void *opaque, int devfn, int pin)
{
    (void)opaque;
    (void)devfn;
    (void)pin;
    return 0;
}

static void set_pirq(void *opaque, int pirq, int level)
{
    (void)opaque;
    (void)pirq;
    (void)level;
}

static uint32_t mm_in(Rig *r, uint32_t off, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), MBAR + r->base + off, size);
    vm_unlock(r->vm);
    return v;
}

static void mm_out(Rig *r, uint32_t off, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), MBAR + r->base + off, v, size);
    vm_unlock(r->vm);
}

static GuestMemory *mem(Rig *r)
{
    return vm_mem(r->vm);
}

static uint64_t desc_of(unsigned q) { return QBASE + q * 0x4000u; }
static uint64_t avail_of(unsigned q) { return desc_of(q) + 0x1000; }
static uint64_t used_of(unsigned q) { return desc_of(q) + 0x2000; }

/* §3.1.1 through the common configuration, with the features given (VERSION_1 is
 * always taken) and nq queues of 16 entries. */
static void rig_init_at(Rig *r, const char *spec, uint32_t features, unsigned nq, unsigned bar, uint32_t base)
{
    GError *err = NULL;
    memset(r, 0, sizeof(*r));
    r->base = base;
    r->vm = vm_new_for_test(RAM);
    vm_lock(r->vm);
    r->bus = pci_bus_new(r->vm);
    pci_bus_set_irq_router(r->bus, map_irq, set_pirq, r, 4);
    vm_add_bus(r->vm, "pci.0", r->bus);
    r->dev = device_create_from_spec(r->vm, spec, &err);
    g_assert_no_error(err);
    pci_config_write(r->bus, DEVFN, PCI_BAR0 + 4 * bar, MBAR, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    for (uint64_t a = QBASE; a < QBASE + 8 * 0x4000; a += 8)
        mem_stq(mem(r), a, 0);
    vm_unlock(r->vm);
    mm_out(r, 0x14, 0, 1);
    mm_out(r, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mm_out(r, 0x08, 0, 4);
    mm_out(r, 0x0c, features, 4);
    mm_out(r, 0x08, 1, 4);
    mm_out(r, 0x0c, 1, 4); /* VERSION_1 */
    mm_out(r, 0x14, 0xb, 1);
    g_assert_cmphex(mm_in(r, 0x14, 1), ==, 0xb);
    for (unsigned q = 0; q < nq; q++) {
        mm_out(r, 0x16, q, 2);
        mm_out(r, 0x18, 16, 2);
        mm_out(r, 0x20, (uint32_t)desc_of(q), 4);
        mm_out(r, 0x28, (uint32_t)avail_of(q), 4);
        mm_out(r, 0x30, (uint32_t)used_of(q), 4);
        mm_out(r, 0x1c, 1, 2);
    }
    mm_out(r, 0x14, 0xf, 1);
}

static void rig_init(Rig *r, const char *spec, uint32_t features, unsigned nq)
{
    rig_init_at(r, spec, features, nq, 1, 0);
}

static void rig_free(Rig *r)
{
    vm_free(r->vm);
}

/* Makes descriptors (out, then in) available on queue q as one chain at its
 * position's slot and notifies; returns how many bytes the device says it wrote. */
static uint32_t submit(Rig *r, unsigned q, uint64_t out, uint32_t out_len, uint64_t in, uint32_t in_len)
{
    vm_lock(r->vm);
    GuestMemory *m = mem(r);
    uint16_t slot = (uint16_t)(r->avail_idx[q] % 16);
    uint16_t head = (uint16_t)(slot * 2 % 16);
    uint64_t d = desc_of(q) + 16 * head;
    mem_stq(m, d, out);
    mem_stl(m, d + 8, out_len);
    mem_stw(m, d + 12, in_len ? F_NEXT : 0);
    mem_stw(m, d + 14, (uint16_t)(head + 1));
    mem_stq(m, d + 16, in);
    mem_stl(m, d + 24, in_len);
    mem_stw(m, d + 28, F_WRITE);
    mem_stw(m, avail_of(q) + 4 + 2 * slot, head);
    r->avail_idx[q]++;
    mem_stw(m, avail_of(q) + 2, r->avail_idx[q]);
    vm_unlock(r->vm);
    mm_out(r, 0x3000 + 4 * q, q, 2);
    vm_lock(r->vm);
    uint16_t used = mem_lduw(m, used_of(q) + 2);
    g_assert_cmpuint(used, ==, (uint16_t)(r->used_seen[q] + 1));
    uint32_t len = mem_ldl(m, used_of(q) + 4 + 8 * (r->used_seen[q] % 16) + 4);
    r->used_seen[q] = used;
    vm_unlock(r->vm);
    return len;
}

/* A control command of len bytes (type first, 24-byte header, then le32 words). */
static uint32_t gpu_cmd(Rig *r, const uint32_t *words, unsigned nwords, uint32_t resp_len)
{
    uint8_t buf[512] = { 0 };
    g_assert_cmpuint(nwords * 4, <=, sizeof(buf));
    for (unsigned i = 0; i < nwords; i++)
        pci_set_long(buf, 4 * i, words[i]);
    vm_lock(r->vm);
    mem_write(mem(r), CMD, buf, nwords * 4);
    for (unsigned i = 0; i < 512; i += 4)
        mem_stl(mem(r), RESP + i, 0xdeadbeef);
    vm_unlock(r->vm);
    uint32_t n = submit(r, 0, CMD, nwords * 4, RESP, resp_len);
    g_assert_cmpuint(n, <=, resp_len);
    vm_lock(r->vm);
    uint32_t type = mem_ldl(mem(r), RESP);
    vm_unlock(r->vm);
    return type;
}

#define H(type) (type), 0, 0, 0, 0, 0 /* the 24-byte header */

static uint32_t create_2d(Rig *r, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
    const uint32_t c[] = { H(0x0101), id, format, w, h };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

static uint32_t attach(Rig *r, uint32_t id, uint64_t addr, uint32_t len)
{
    const uint32_t c[] = { H(0x0106), id, 1, (uint32_t)addr, (uint32_t)(addr >> 32), len, 0 };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

static uint32_t transfer(Rig *r, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint64_t off)
{
    const uint32_t c[] = { H(0x0105), x, y, w, h, (uint32_t)off, (uint32_t)(off >> 32), id, 0 };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

static uint32_t set_scanout(Rig *r, uint32_t scanout, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    const uint32_t c[] = { H(0x0103), x, y, w, h, scanout, id };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

static uint32_t flush(Rig *r, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
    const uint32_t c[] = { H(0x0104), x, y, w, h, id, 0 };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

static uint32_t unref(Rig *r, uint32_t id)
{
    const uint32_t c[] = { H(0x0102), id, 0 };
    return gpu_cmd(r, c, G_N_ELEMENTS(c), 24);
}

/* The display's current picture (the test is the front end). */
static DisplaySurface *refresh(DisplayClient *c)
{
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool fresh;
    DisplaySurface *s = display_client_refresh(c, &dirty, &fresh);
    pixman_region32_fini(&dirty);
    return s;
}

static uint32_t pixel(DisplaySurface *s, int x, int y)
{
    return pixman_image_get_data(s->image)[y * (pixman_image_get_stride(s->image) / 4) + x] & 0xffffff;
}

static void test_gpu_identity(void)
{
    Rig r;
    rig_init(&r, "virtio-gpu-pci,addr=4", 1u << 1, 2);
    vm_lock(r.vm);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, 0, 4), ==, 0x10501af4);
    g_assert_cmpuint(pci_config_read(r.bus, DEVFN, 0x08, 1), ==, 1); /* revision */
    /* No legacy I/O BAR on a virtio 1.0 only device. */
    pci_config_write(r.bus, DEVFN, PCI_BAR0, 0xffffffff, 4);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_BAR0, 4), ==, 0);
    vm_unlock(r.vm);
    /* Configuration: events_read 0, one scanout, no capsets. */
    g_assert_cmpuint(mm_in(&r, 0x2000, 4), ==, 0);
    g_assert_cmpuint(mm_in(&r, 0x2008, 4), ==, 1);
    g_assert_cmpuint(mm_in(&r, 0x200c, 4), ==, 0);
    /* Display info: 1280x800 enabled. */
    const uint32_t di[] = { H(0x0100) };
    g_assert_cmphex(gpu_cmd(&r, di, 6, 408), ==, OK_DISPLAY_INFO);
    vm_lock(r.vm);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24 + 8), ==, 1280);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24 + 12), ==, 800);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24 + 16), ==, 1);
    vm_unlock(r.vm);
    /* The window asks for 1024x768: the configuration event, then the new size, and an
     * EDID block whose preferred timing is that size and whose checksum holds. */
    DisplayConsole *con = vm_display_console(r.vm);
    g_assert_true(display_console_request_size(con, 1024, 768));
    g_assert_cmpuint(mm_in(&r, 0x1000, 1) & 2, ==, 2); /* ISR: configuration change */
    g_assert_cmpuint(mm_in(&r, 0x2000, 4), ==, 1);
    mm_out(&r, 0x2004, 1, 4); /* events_clear */
    g_assert_cmpuint(mm_in(&r, 0x2000, 4), ==, 0);
    g_assert_cmphex(gpu_cmd(&r, di, 6, 408), ==, OK_DISPLAY_INFO);
    vm_lock(r.vm);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24 + 8), ==, 1024);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24 + 12), ==, 768);
    vm_unlock(r.vm);
    const uint32_t edid[] = { H(0x010a), 0, 0 };
    g_assert_cmphex(gpu_cmd(&r, edid, 8, 1056), ==, OK_EDID);
    uint8_t e[128];
    vm_lock(r.vm);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 24), ==, 128);
    mem_read(mem(&r), RESP + 32, e, sizeof(e));
    vm_unlock(r.vm);
    static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
    g_assert_cmpmem(e, 8, header, 8);
    uint8_t sum = 0;
    for (int i = 0; i < 128; i++)
        sum = (uint8_t)(sum + e[i]);
    g_assert_cmpuint(sum, ==, 0);
    g_assert_cmpuint(e[56] | (e[58] >> 4) << 8, ==, 1024); /* DTD horizontal active */
    g_assert_cmpuint(e[59] | (e[61] >> 4) << 8, ==, 768);
    /* EDID of scanout 1: no such scanout. */
    const uint32_t edid1[] = { H(0x010a), 1, 0 };
    g_assert_cmphex(gpu_cmd(&r, edid1, 8, 1056), ==, ERR_SCANOUT);
    rig_free(&r);
}

static void test_gpu_hostile(void)
{
    Rig r;
    /* EDID not negotiated, a host memory limit of 1 MiB. */
    rig_init(&r, "virtio-gpu-pci,addr=4,max-hostmem-mib=1", 0, 2);
    const uint32_t edid[] = { H(0x010a), 0, 0 };
    g_assert_cmphex(gpu_cmd(&r, edid, 8, 1056), ==, ERR_UNSPEC);
    /* Creation: id 0, bad formats, empty and huge sizes, the memory limit, a duplicate. */
    g_assert_cmphex(create_2d(&r, 0, 2, 8, 8), ==, ERR_RESOURCE);
    g_assert_cmphex(create_2d(&r, 1, 5, 8, 8), ==, ERR_PARAMETER);
    g_assert_cmphex(create_2d(&r, 1, 2, 0, 8), ==, ERR_PARAMETER);
    g_assert_cmphex(create_2d(&r, 1, 2, 0x80000000u, 0x80000000u), ==, ERR_PARAMETER);
    g_assert_cmphex(create_2d(&r, 1, 2, 16384, 16384), ==, ERR_OOM);
    g_assert_cmphex(create_2d(&r, 1, 2, 512, 512), ==, OK_NODATA); /* all of the 1 MiB */
    g_assert_cmphex(create_2d(&r, 2, 2, 1, 1), ==, ERR_OOM);
    g_assert_cmphex(create_2d(&r, 1, 2, 1, 1), ==, ERR_RESOURCE);
    g_assert_cmphex(unref(&r, 1), ==, OK_NODATA);
    g_assert_cmphex(unref(&r, 1), ==, ERR_RESOURCE);
    g_assert_cmphex(create_2d(&r, 7, 2, 16, 16), ==, OK_NODATA);
    /* Backing: unknown resource, outside RAM, wrapping, no entries, too many, a short
     * entry list; then a real one, which cannot be attached twice. */
    g_assert_cmphex(attach(&r, 8, PIX, 1024), ==, ERR_RESOURCE);
    g_assert_cmphex(attach(&r, 7, RAM - 512, 1024), ==, ERR_UNSPEC);
    g_assert_cmphex(attach(&r, 7, UINT64_MAX - 100, 1024), ==, ERR_UNSPEC);
    const uint32_t none[] = { H(0x0106), 7, 0 };
    g_assert_cmphex(gpu_cmd(&r, none, 8, 24), ==, ERR_UNSPEC);
    const uint32_t many[] = { H(0x0106), 7, 0x10000000u, PIX, 0, 1024, 0 };
    g_assert_cmphex(gpu_cmd(&r, many, G_N_ELEMENTS(many), 24), ==, ERR_UNSPEC);
    const uint32_t short_list[] = { H(0x0106), 7, 2, PIX, 0, 1024, 0 };
    g_assert_cmphex(gpu_cmd(&r, short_list, G_N_ELEMENTS(short_list), 24), ==, ERR_UNSPEC);
    /* Transfer before any backing. */
    g_assert_cmphex(transfer(&r, 7, 0, 0, 16, 16, 0), ==, ERR_PARAMETER);
    g_assert_cmphex(attach(&r, 7, PIX, 512), ==, OK_NODATA); /* half of 16x16x4 */
    g_assert_cmphex(attach(&r, 7, PIX, 512), ==, ERR_UNSPEC);
    /* Backing entry lists count against the limit: fill it to the byte (1 MiB less
     * resource 7's 1 KiB and its 24-byte entry), then one more entry is too many. */
    g_assert_cmphex(create_2d(&r, 8, 2, 1024, 255), ==, OK_NODATA);
    g_assert_cmphex(create_2d(&r, 9, 2, 1, 762), ==, OK_NODATA);
    g_assert_cmphex(create_2d(&r, 10, 2, 1, 1), ==, ERR_OOM);
    g_assert_cmphex(attach(&r, 8, PIX, 4096), ==, ERR_OOM);
    g_assert_cmphex(unref(&r, 9), ==, OK_NODATA);
    g_assert_cmphex(attach(&r, 8, PIX, 4096), ==, OK_NODATA);
    g_assert_cmphex(unref(&r, 8), ==, OK_NODATA);
    /* Transfers: unknown resource, rectangles outside or wrapping, past the backing. */
    g_assert_cmphex(transfer(&r, 9, 0, 0, 1, 1, 0), ==, ERR_RESOURCE);
    g_assert_cmphex(transfer(&r, 7, 10, 0, 7, 1, 0), ==, ERR_PARAMETER);
    g_assert_cmphex(transfer(&r, 7, 0xffffffffu, 0, 2, 1, 0), ==, ERR_PARAMETER);
    g_assert_cmphex(transfer(&r, 7, 0, 0xfffffff0u, 1, 0x20, 0), ==, ERR_PARAMETER);
    g_assert_cmphex(transfer(&r, 7, 0, 0, 16, 16, 0), ==, ERR_PARAMETER);
    g_assert_cmphex(transfer(&r, 7, 0, 0, 16, 2, UINT64_MAX - 8), ==, ERR_PARAMETER);
    g_assert_cmphex(transfer(&r, 7, 0, 0, 16, 2, 0), ==, OK_NODATA);
    /* Scanout and flush: other scanouts, unknown resources, rectangles outside. */
    g_assert_cmphex(set_scanout(&r, 1, 7, 0, 0, 16, 16), ==, ERR_SCANOUT);
    g_assert_cmphex(set_scanout(&r, 0, 9, 0, 0, 16, 16), ==, ERR_RESOURCE);
    g_assert_cmphex(set_scanout(&r, 0, 7, 8, 8, 16, 16), ==, ERR_PARAMETER);
    g_assert_cmphex(set_scanout(&r, 0, 7, 0, 0, 0, 16), ==, ERR_PARAMETER);
    g_assert_cmphex(flush(&r, 9, 0, 0, 1, 1), ==, ERR_RESOURCE);
    g_assert_cmphex(flush(&r, 7, 0, 0, 17, 1), ==, ERR_PARAMETER);
    /* Detach twice, unknown commands, a command shorter than its header or its body,
     * a response buffer too small for the display info. */
    const uint32_t detach[] = { H(0x0107), 7, 0 };
    g_assert_cmphex(gpu_cmd(&r, detach, 8, 24), ==, OK_NODATA);
    g_assert_cmphex(gpu_cmd(&r, detach, 8, 24), ==, ERR_UNSPEC);
    const uint32_t unknown[] = { H(0x0200) };
    g_assert_cmphex(gpu_cmd(&r, unknown, 6, 24), ==, ERR_UNSPEC);
    const uint32_t tiny[] = { 0x0100 };
    g_assert_cmphex(gpu_cmd(&r, tiny, 1, 24), ==, ERR_UNSPEC);
    const uint32_t cut[] = { H(0x0101), 3, 2 };
    g_assert_cmphex(gpu_cmd(&r, cut, 8, 24), ==, ERR_UNSPEC);
    const uint32_t di[] = { H(0x0100) };
    g_assert_cmphex(gpu_cmd(&r, di, 6, 40), ==, OK_DISPLAY_INFO);
    /* A fenced command answers with its fence. */
    const uint32_t fenced[] = { 0x0100, 1, 0x12345678, 0x9abc, 0, 0 };
    g_assert_cmphex(gpu_cmd(&r, fenced, 6, 408), ==, OK_DISPLAY_INFO);
    vm_lock(r.vm);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP + 4), ==, 1);
    g_assert_cmphex(mem_ldq(mem(&r), RESP + 8), ==, UINT64_C(0x9abc12345678));
    vm_unlock(r.vm);
    /* The cursor queue: a missing resource, a resource of the wrong size, a short
     * command: each is returned, none draws anything. */
    uint32_t cur[14] = { 0x0300, 0, 0, 0, 0, 0, 0, 10, 10, 0, 99, 0, 0, 0 };
    uint8_t cb[56];
    for (int i = 0; i < 14; i++)
        pci_set_long(cb, 4 * i, cur[i]);
    vm_lock(r.vm);
    mem_write(mem(&r), CMD, cb, sizeof(cb));
    vm_unlock(r.vm);
    g_assert_cmpuint(submit(&r, 1, CMD, 56, 0, 0), ==, 0);
    g_assert_cmpuint(submit(&r, 1, CMD, 8, 0, 0), ==, 0);
    g_assert_cmphex(mm_in(&r, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    rig_free(&r);
}

/* 1024 resources fill the count limit; the next is refused; unref gives room. */
static void test_gpu_count_limit(void)
{
    Rig r;
    rig_init(&r, "virtio-gpu-pci,addr=4", 0, 2);
    for (uint32_t id = 1; id <= 1024; id++)
        g_assert_cmphex(create_2d(&r, id, 1, 1, 1), ==, OK_NODATA);
    g_assert_cmphex(create_2d(&r, 5000, 1, 1, 1), ==, ERR_OOM);
    g_assert_cmphex(unref(&r, 17), ==, OK_NODATA);
    g_assert_cmphex(create_2d(&r, 5000, 1, 1, 1), ==, OK_NODATA);
    rig_free(&r);
}

static void test_gpu_picture_and_state(void)
{
    Rig r;
    rig_init(&r, "virtio-gpu-pci,addr=4", 0, 2);
    DisplayClient *client = display_client_new(vm_display_console(r.vm));
    /* A 32x16 R8G8B8A8 resource (bytes R, G, B, A) whose backing is two pieces. */
    vm_lock(r.vm);
    for (uint32_t i = 0; i < 32 * 16; i++) {
        uint8_t px[4] = { (uint8_t)i, (uint8_t)(i >> 1), 0x33, 0xff };
        hwaddr a = i < 256 ? PIX + 4 * i : PIX + 0x10000 + 4 * (i - 256);
        mem_write(mem(&r), a, px, 4);
    }
    vm_unlock(r.vm);
    g_assert_cmphex(create_2d(&r, 5, 67, 32, 16), ==, OK_NODATA);
    const uint32_t two[] = { H(0x0106), 5, 2, PIX, 0, 1024, 0, PIX + 0x10000, 0, 1024, 0 };
    g_assert_cmphex(gpu_cmd(&r, two, G_N_ELEMENTS(two), 24), ==, OK_NODATA);
    g_assert_cmphex(transfer(&r, 5, 0, 0, 32, 16, 0), ==, OK_NODATA);
    g_assert_cmphex(set_scanout(&r, 0, 5, 0, 0, 32, 16), ==, OK_NODATA);
    g_assert_cmphex(flush(&r, 5, 0, 0, 32, 16), ==, OK_NODATA);
    DisplaySurface *s = refresh(client);
    g_assert_cmpint(s->width, ==, 32);
    g_assert_cmpint(s->height, ==, 16);
    for (uint32_t i = 0; i < 32 * 16; i += 37)
        g_assert_cmphex(pixel(s, (int)(i % 32), (int)(i / 32)), ==,
                        (uint32_t)(uint8_t)i << 16 | (uint32_t)(uint8_t)(i >> 1) << 8 | 0x33);
    /* A partial transfer: row 3, columns 4-7, from its place in the backing. */
    vm_lock(r.vm);
    uint8_t red[16] = { 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff };
    mem_write(mem(&r), PIX + (3 * 32 + 4) * 4, red, sizeof(red));
    vm_unlock(r.vm);
    g_assert_cmphex(transfer(&r, 5, 4, 3, 4, 1, (3 * 32 + 4) * 4), ==, OK_NODATA);
    g_assert_cmphex(flush(&r, 5, 4, 3, 4, 1), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 4, 3), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 7, 3), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 8, 3), !=, 0xff0000);

    /* Save with the resource live; unref it (the scanout goes black); load: the
     * resource, its backing and the picture are back. */
    vm_lock(r.vm);
    GByteArray *st = g_byte_array_new();
    device_save_state(r.dev, st);
    vm_unlock(r.vm);
    g_assert_cmphex(unref(&r, 5), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 4, 3), ==, 0);
    /* A damaged stream is refused and changes nothing. */
    GError *err = NULL;
    vm_lock(r.vm);
    g_assert_false(device_load_state(r.dev, st->data, st->len - 9, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_true(device_load_state(r.dev, st->data, st->len, &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    s = refresh(client);
    g_assert_cmpint(s->width, ==, 32);
    g_assert_cmphex(pixel(s, 4, 3), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 0, 1), ==, (uint32_t)32 << 16 | 16 << 8 | 0x33);
    /* The backing came back too: a transfer from it works. */
    g_assert_cmphex(transfer(&r, 5, 0, 0, 32, 16, 0), ==, OK_NODATA);
    g_assert_cmphex(flush(&r, 5, 0, 0, 32, 16), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 4, 3), ==, 0xff0000);
    g_byte_array_free(st, TRUE);
    display_client_free(client);
    rig_free(&r);
}

static void cursor_cmd(Rig *r, uint32_t type, uint32_t id, uint32_t x, uint32_t y, uint32_t hx, uint32_t hy)
{
    uint32_t w[14] = { type, 0, 0, 0, 0, 0, 0, x, y, 0, id, hx, hy, 0 };
    uint8_t b[56];
    for (int i = 0; i < 14; i++)
        pci_set_long(b, 4 * i, w[i]);
    vm_lock(r->vm);
    mem_write(mem(r), CMD + 0x8000, b, sizeof(b));
    vm_unlock(r->vm);
    g_assert_cmpuint(submit(r, 1, CMD + 0x8000, 56, 0, 0), ==, 0);
}

/* The cursor is composed over the scanout at its position less the hot spot, with
 * its alpha; moving it puts back what was under it; id 0 hides it. */
static void test_gpu_cursor(void)
{
    Rig r;
    rig_init(&r, "virtio-gpu-pci,addr=4", 0, 2);
    DisplayClient *client = display_client_new(vm_display_console(r.vm));
    /* A 128x128 grey scanout (B8G8R8X8). */
    vm_lock(r.vm);
    for (uint32_t i = 0; i < 128 * 128; i++)
        mem_stl(mem(&r), PIX + 4 * i, 0x00404040);
    vm_unlock(r.vm);
    g_assert_cmphex(create_2d(&r, 1, 2, 128, 128), ==, OK_NODATA);
    g_assert_cmphex(attach(&r, 1, PIX, 128 * 128 * 4), ==, OK_NODATA);
    g_assert_cmphex(transfer(&r, 1, 0, 0, 128, 128, 0), ==, OK_NODATA);
    g_assert_cmphex(set_scanout(&r, 0, 1, 0, 0, 128, 128), ==, OK_NODATA);
    g_assert_cmphex(flush(&r, 1, 0, 0, 128, 128), ==, OK_NODATA);
    /* A 64x64 B8G8R8A8 cursor: opaque red in its top-left 8x8, transparent elsewhere. */
    hwaddr cur = PIX + 0x20000;
    vm_lock(r.vm);
    for (uint32_t y = 0; y < 64; y++)
        for (uint32_t x = 0; x < 64; x++)
            mem_stl(mem(&r), cur + 4 * (y * 64 + x), x < 8 && y < 8 ? 0xffff0000 : 0);
    vm_unlock(r.vm);
    g_assert_cmphex(create_2d(&r, 2, 1, 64, 64), ==, OK_NODATA);
    g_assert_cmphex(attach(&r, 2, cur, 64 * 64 * 4), ==, OK_NODATA);
    g_assert_cmphex(transfer(&r, 2, 0, 0, 64, 64, 0), ==, OK_NODATA);
    cursor_cmd(&r, 0x0300, 2, 20, 30, 2, 3);
    DisplaySurface *s = refresh(client);
    /* Front ends with a cursor of their own get the shape, hot spot and position. */
    DisplayCursorState cs;
    g_assert_true(display_client_cursor(client, &cs));
    g_assert_true(cs.shape_changed && cs.visible);
    g_assert_nonnull(cs.shape);
    g_assert_cmpint(cs.shape->width, ==, 64);
    g_assert_cmpint(cs.shape->height, ==, 64);
    g_assert_cmpint(cs.shape->hot_x, ==, 2);
    g_assert_cmpint(cs.shape->hot_y, ==, 3);
    g_assert_cmphex(cs.shape->pixels[7 * 64 + 7], ==, 0xffff0000);
    g_assert_cmphex(cs.shape->pixels[8 * 64 + 8], ==, 0);
    g_assert_cmpint(cs.x, ==, 20);
    g_assert_cmpint(cs.y, ==, 30);
    g_assert_false(display_client_cursor(client, &cs)); /* nothing new */
    g_assert_cmphex(pixel(s, 18, 27), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 25, 34), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 26, 34), ==, 0x404040); /* transparent part */
    g_assert_cmphex(pixel(s, 17, 27), ==, 0x404040);
    cursor_cmd(&r, 0x0301, 0, 100, 100, 0, 0);
    s = refresh(client);
    g_assert_true(display_client_cursor(client, &cs));
    g_assert_false(cs.shape_changed);
    g_assert_true(cs.visible && cs.x == 100 && cs.y == 100);
    g_assert_cmphex(pixel(s, 18, 27), ==, 0x404040); /* put back */
    g_assert_cmphex(pixel(s, 98, 97), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 127, 127), ==, 0x404040);
    /* A flush under the cursor keeps it on top. */
    g_assert_cmphex(flush(&r, 1, 90, 90, 20, 20), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 98, 97), ==, 0xff0000);
    cursor_cmd(&r, 0x0300, 0, 100, 100, 0, 0);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 98, 97), ==, 0x404040);
    g_assert_true(display_client_cursor(client, &cs));
    g_assert_true(cs.shape_changed && !cs.visible);
    g_assert_null(cs.shape);
    /* The same pixels in a B8G8R8X8 resource (what Linux's cursor plane uses): the
     * fourth byte is still the cursor's alpha. */
    g_assert_cmphex(create_2d(&r, 3, 2, 64, 64), ==, OK_NODATA);
    g_assert_cmphex(attach(&r, 3, cur, 64 * 64 * 4), ==, OK_NODATA);
    g_assert_cmphex(transfer(&r, 3, 0, 0, 64, 64, 0), ==, OK_NODATA);
    cursor_cmd(&r, 0x0300, 3, 20, 30, 2, 3);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 18, 27), ==, 0xff0000);
    g_assert_cmphex(pixel(s, 26, 34), ==, 0x404040);
    g_assert_true(display_client_cursor(client, &cs));
    g_assert_cmphex(cs.shape->pixels[8 * 64 + 8], ==, 0);
    /* A client that draws the cursor itself (SPICE's cursor channel): the picture
     * leaves it out, so that client shows one cursor; it comes back when none does. */
    DisplayClient *drawer = display_client_new(vm_display_console(r.vm));
    display_client_set_draws_cursor(drawer, true);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 18, 27), ==, 0x404040);
    g_assert_cmphex(pixel(s, 25, 34), ==, 0x404040);
    g_assert_false(display_client_cursor(client, &cs)); /* still the guest's cursor */
    cursor_cmd(&r, 0x0301, 0, 60, 60, 0, 0);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 58, 57), ==, 0x404040);
    display_client_set_draws_cursor(drawer, false);
    s = refresh(client);
    g_assert_cmphex(pixel(s, 58, 57), ==, 0xff0000);
    display_client_free(drawer);
    display_client_free(client);
    rig_free(&r);
}

/* virtio-vga: QEMU's identity and layout (class VGA, BAR 0 the VGA's video memory,
 * BAR 2 the std-vga's MMIO registers, then the modern interface at 0x4000 that the
 * capabilities point to); the screen is the VGA's (a VBE mode set through BAR 2) until
 * the driver sets a scanout, the GPU's after, and the VGA's again after a device reset. */
static void test_vga_front(void)
{
    Rig r;
    rig_init_at(&r, "virtio-vga,addr=4,romfile=none", 0, 2, 2, 0x4000);
    DisplayConsole *con = vm_display_console(r.vm);
    DisplayClient *client = display_client_new(con);
    vm_lock(r.vm);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_VENDOR_ID, 2), ==, 0x1af4);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_DEVICE_ID, 2), ==, 0x1050);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_CLASS_DEVICE, 2), ==, 0x0300);
    /* BAR 0's size: all ones written, the address bits that stick. */
    pci_config_write(r.bus, DEVFN, PCI_BAR0, 0xffffffff, 4);
    g_assert_cmphex(pci_config_read(r.bus, DEVFN, PCI_BAR0, 4) & ~0xfu, ==, ~((16u << 20) - 1));
    pci_config_write(r.bus, DEVFN, PCI_BAR0, 0xfd000000, 4);
    /* Every virtio capability names BAR 2 at 0x4000 or above. */
    unsigned caps = 0;
    for (unsigned pos = pci_config_read(r.bus, DEVFN, PCI_CAPABILITY_LIST, 1); pos;
         pos = pci_config_read(r.bus, DEVFN, pos + 1, 1)) {
        if (pci_config_read(r.bus, DEVFN, pos, 1) != 0x09 || pci_config_read(r.bus, DEVFN, pos + 3, 1) == 5)
            continue;
        g_assert_cmpuint(pci_config_read(r.bus, DEVFN, pos + 4, 1), ==, 2);
        g_assert_cmphex(pci_config_read(r.bus, DEVFN, pos + 8, 4), >=, 0x4000);
        caps++;
    }
    g_assert_cmpuint(caps, ==, 4);
    vm_unlock(r.vm);
    /* The VBE registers at BAR 2 + 0x500 (index * 2): 64x32x32, enabled with the LFB. */
    uint32_t vbe = 0x500 - 0x4000;
    g_assert_cmphex(mm_in(&r, vbe, 2), >=, 0xb0c0);
    mm_out(&r, vbe + 2 * 1, 64, 2);
    mm_out(&r, vbe + 2 * 2, 32, 2);
    mm_out(&r, vbe + 2 * 3, 32, 2);
    mm_out(&r, vbe + 2 * 4, 0x41, 2);
    vm_lock(r.vm);
    for (uint32_t i = 0; i < 64 * 32; i++)
        mem_stl(mem(&r), 0xfd000000u + 4 * i, 0x00123456);
    vm_unlock(r.vm);
    DisplaySurface *s = refresh(client);
    g_assert_cmpint(s->width, ==, 64);
    g_assert_cmphex(pixel(s, 10, 10), ==, 0x123456);
    g_autofree char *mode = display_console_describe_mode(con);
    g_assert_true(g_str_has_prefix(mode, "VBE 64x32"));
    /* A command that is not a scanout leaves the VGA's picture. */
    vm_lock(r.vm);
    for (uint32_t i = 0; i < 48 * 16; i++)
        mem_stl(mem(&r), PIX + 4 * i, 0x00ff8000);
    vm_unlock(r.vm);
    g_assert_cmphex(create_2d(&r, 1, 2, 48, 16), ==, OK_NODATA);
    g_assert_cmphex(attach(&r, 1, PIX, 48 * 16 * 4), ==, OK_NODATA);
    g_assert_cmphex(transfer(&r, 1, 0, 0, 48, 16, 0), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmpint(s->width, ==, 64);
    g_assert_cmphex(set_scanout(&r, 0, 1, 0, 0, 48, 16), ==, OK_NODATA);
    g_assert_cmphex(flush(&r, 1, 0, 0, 48, 16), ==, OK_NODATA);
    s = refresh(client);
    g_assert_cmpint(s->width, ==, 48);
    g_assert_cmpint(s->height, ==, 16);
    g_assert_cmphex(pixel(s, 47, 15), ==, 0xff8000);
    /* The driver resets the device: the VGA's mode shows again. */
    mm_out(&r, 0x14, 0, 1);
    s = refresh(client);
    g_assert_cmpint(s->width, ==, 64);
    g_assert_cmphex(pixel(s, 63, 31), ==, 0x123456);
    display_client_free(client);
    rig_free(&r);
}

/* virtio-serial: a port, DEVICE_READY, the announcements; control messages naming
 * ports that do not exist or too short are ignored without stopping the device. */
static void test_serial_control(void)
{
    Rig r;
    memset(&r, 0, sizeof(r));
    /* Queues: port 0 (2), control (2), ports 1 and 2 (4). */
    rig_init(&r, "virtio-serial-pci,addr=4", 1u << 1, 8);
    vm_lock(r.vm);
    GError *err = NULL;
    Device *p = device_create_from_spec(r.vm, "virtserialport,name=com.redhat.spice.0", &err);
    g_assert_no_error(err);
    g_assert_nonnull(p);
    /* Port 0 is a console's: a named port cannot take it. */
    g_assert_null(device_create_from_spec(r.vm, "virtserialport,name=x,nr=0", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    vm_unlock(r.vm);
    g_assert_cmpuint(mm_in(&r, 0x2004, 4), ==, 3); /* max_nr_ports */
    /* Receive buffers on the control receive queue (2). */
    for (int i = 0; i < 4; i++) {
        uint8_t msg[8];
        pci_set_long(msg, 0, 7);         /* port 7: does not exist */
        pci_set_word(msg, 4, i == 0 ? 3 : 6);
        pci_set_word(msg, 6, 1);
        vm_lock(r.vm);
        mem_write(mem(&r), CMD, msg, 8);
        vm_unlock(r.vm);
        g_assert_cmpuint(submit(&r, 3, CMD, i == 3 ? 3 : 8, 0, 0), ==, 0);
    }
    /* DEVICE_READY: the device announces port 1 (DEVICE_ADD) into a control buffer. */
    uint8_t ready[8];
    pci_set_long(ready, 0, 0);
    pci_set_word(ready, 4, 0);
    pci_set_word(ready, 6, 1);
    vm_lock(r.vm);
    mem_write(mem(&r), CMD, ready, 8);
    vm_unlock(r.vm);
    g_assert_cmpuint(submit(&r, 3, CMD, 8, 0, 0), ==, 0);
    uint32_t n = submit(&r, 2, 0, 0, RESP, 64);
    g_assert_cmpuint(n, ==, 8);
    vm_lock(r.vm);
    g_assert_cmpuint(mem_ldl(mem(&r), RESP), ==, 1);
    g_assert_cmpuint(mem_lduw(mem(&r), RESP + 4), ==, 1); /* DEVICE_ADD */
    vm_unlock(r.vm);
    /* PORT_READY for port 1: its name follows. */
    pci_set_long(ready, 0, 1);
    pci_set_word(ready, 4, 3);
    vm_lock(r.vm);
    mem_write(mem(&r), CMD, ready, 8);
    vm_unlock(r.vm);
    g_assert_cmpuint(submit(&r, 3, CMD, 8, 0, 0), ==, 0);
    n = submit(&r, 2, 0, 0, RESP, 64);
    g_assert_cmpuint(n, ==, 8 + strlen("com.redhat.spice.0"));
    char name[32] = { 0 };
    vm_lock(r.vm);
    g_assert_cmpuint(mem_lduw(mem(&r), RESP + 4), ==, 7); /* PORT_NAME */
    mem_read(mem(&r), RESP + 8, name, n - 8);
    vm_unlock(r.vm);
    g_assert_cmpstr(name, ==, "com.redhat.spice.0");
    g_assert_cmphex(mm_in(&r, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, 0);
    /* The state saves and loads with nothing pending. */
    vm_lock(r.vm);
    Device *ser = device_list_head(r.vm)->data;
    GByteArray *st = g_byte_array_new();
    device_save_state(ser, st);
    g_assert_true(device_load_state(ser, st->data, st->len, &err));
    g_assert_no_error(err);
    vm_unlock(r.vm);
    g_byte_array_free(st, TRUE);
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-gpu/identity-display-info-edid", test_gpu_identity);
    g_test_add_func("/virtio-gpu/hostile", test_gpu_hostile);
    g_test_add_func("/virtio-gpu/count-limit", test_gpu_count_limit);
    g_test_add_func("/virtio-gpu/picture-and-state", test_gpu_picture_and_state);
    g_test_add_func("/virtio-gpu/cursor", test_gpu_cursor);
    g_test_add_func("/virtio-vga/front", test_vga_front);
    g_test_add_func("/virtio-serial/control", test_serial_control);
    return g_test_run();
}
