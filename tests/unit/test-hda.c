/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The intel-hda controller and the hda-duplex codec driven as a guest driver would:
 * verbs through the CORB/RIRB and the immediate registers, streams paced by the virtual
 * clock (LPIB, the DMA position buffer, completion interrupts at their exact times), a
 * state save and restore in the middle of a stream. Then hostile set-ups: rings, lists,
 * buffers and the position buffer outside RAM, zero-length and absurd entries, reserved
 * formats, an absent codec, and random register writes over random memory: the chip's
 * error bits are set, work is bounded, and the test process never crashes or hangs. */
#include "engine/backend.h"
#include "engine/device.h"
#include "pci-rig.h"

#include <string.h>

#define RAM (UINT64_C(4) << 20)
#define BAR 0xfeb00000u
#define DEVFN PCI_DEVFN(4, 0)
#define CORB 0x10000u
#define RIRB 0x10400u
#define POSBUF 0x10c00u
#define BDL 0x11000u
#define BUF 0x20000u
#define MS INT64_C(1000000)
#define SD(n) (0x80u + 0x20u * (n))
#define OUT0 4   /* the first output stream descriptor */

enum { STS_BCIS = 0x4, STS_FIFOE = 0x8, STS_DESE = 0x10, STS_FIFORDY = 0x20 };

typedef struct Rig {
    Vm *vm;
    PciBus *bus;
    int irq;
} Rig;

static uint32_t rd(Rig *r, unsigned reg, unsigned size)
{
    vm_lock(r->vm);
    uint32_t v = (uint32_t)mem_dispatch_read(vm_mem(r->vm), BAR + reg, size);
    vm_unlock(r->vm);
    return v;
}

static void wr(Rig *r, unsigned reg, uint32_t v, unsigned size)
{
    vm_lock(r->vm);
    mem_dispatch_write(vm_mem(r->vm), BAR + reg, v, size);
    vm_unlock(r->vm);
}

static void put32(Rig *r, uint64_t addr, uint32_t v)
{
    vm_lock(r->vm);
    mem_stl(vm_mem(r->vm), addr, v);
    vm_unlock(r->vm);
}

static uint32_t get32(Rig *r, uint64_t addr)
{
    vm_lock(r->vm);
    uint32_t v = mem_ldl(vm_mem(r->vm), addr);
    vm_unlock(r->vm);
    return v;
}

/* A VM with the controller and a codec at `t` ns of virtual time, out of reset. */
static void rig_init_at(Rig *r, int64_t t)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    if (t)
        vm_test_clock_step(r->vm, t);
    GError *err = NULL;
    g_assert_true(backend_open(r->vm, "audiodev", "none,id=a", &err));
    vm_lock(r->vm);
    r->bus = pci_rig_bus_new(r->vm, &r->irq);
    g_assert_nonnull(device_create_from_spec(r->vm, "intel-hda,addr=4", &err));
    g_assert_no_error(err);
    g_assert_nonnull(device_create_from_spec(r->vm, "hda-duplex,audiodev=a,id=codec", &err));
    g_assert_no_error(err);
    pci_config_write(r->bus, DEVFN, 0x10, BAR, 4);
    pci_config_write(r->bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
    wr(r, 0x08, 1, 4);   /* CRST: out of reset */
    g_assert_cmphex(rd(r, 0x0e, 2), ==, 1);
    wr(r, 0x0e, 1, 2);
    wr(r, 0x20, 0xc00000ffu, 4);   /* every interrupt enabled */
}

static void rig_init(Rig *r)
{
    rig_init_at(r, 0);
}

/* CORB and RIRB at their places, 256 entries, running, an interrupt per response. */
static void rings_start(Rig *r)
{
    wr(r, 0x40, CORB, 4);
    wr(r, 0x50, RIRB, 4);
    wr(r, 0x4e, 2, 1);
    wr(r, 0x5e, 2, 1);
    wr(r, 0x4a, 0x8000, 2);
    g_assert_cmphex(rd(r, 0x4a, 2), ==, 0x8000);
    wr(r, 0x4a, 0, 2);
    wr(r, 0x48, 0, 2);
    wr(r, 0x58, 0x8000, 2);
    wr(r, 0x5a, 1, 2);
    wr(r, 0x5c, 3, 1);
    wr(r, 0x4c, 3, 1);   /* run, memory error interrupt */
}

static uint32_t imm(Rig *r, uint32_t verb, bool *answered)
{
    wr(r, 0x60, verb, 4);
    wr(r, 0x68, 3, 2);
    uint16_t icis = (uint16_t)rd(r, 0x68, 2);
    g_assert_cmphex(icis & 1, ==, 0);   /* never left busy */
    *answered = icis & 2;
    return rd(r, 0x64, 4);
}

static void test_commands(void)
{
    Rig r;
    rig_init(&r);
    g_assert_cmphex(rd(&r, 0x00, 2), ==, 0x4401);
    rings_start(&r);
    put32(&r, CORB + 4, 0x000f0000);
    put32(&r, CORB + 8, 0x001f0005);
    put32(&r, CORB + 12, 0x5f0f0000);   /* codec address 5: nobody answers */
    put32(&r, CORB + 16, 0x0f7f0000);   /* node 0x7f: no such node, answers 0 */
    wr(&r, 0x48, 4, 2);
    g_assert_cmphex(rd(&r, 0x4a, 2), ==, 4);
    g_assert_cmphex(rd(&r, 0x58, 2), ==, 3);
    g_assert_cmphex(get32(&r, RIRB + 8), ==, 0x1af40022);
    g_assert_cmphex(get32(&r, RIRB + 16), ==, 1);
    g_assert_cmphex(get32(&r, RIRB + 24), ==, 0);
    g_assert_cmphex(rd(&r, 0x5d, 1) & 1, ==, 1);
    g_assert_true(r.irq);
    g_assert_cmphex(rd(&r, 0x24, 4), ==, 0xc0000000);
    wr(&r, 0x5d, 5, 1);
    g_assert_false(r.irq);

    /* A write pointer far beyond a 2-entry ring: bounded, the pointers stay in it. */
    wr(&r, 0x4c, 0, 1);
    wr(&r, 0x4e, 0, 1);
    wr(&r, 0x4a, 0x8000, 2);
    wr(&r, 0x4a, 0, 2);
    wr(&r, 0x4c, 3, 1);
    wr(&r, 0x48, 0xff, 2);
    g_assert_cmpuint(rd(&r, 0x4a, 2), <, 2);
    wr(&r, 0x5d, 5, 1);

    /* The CORB outside RAM: CMEI, the ring stops, the interrupt is raised. */
    wr(&r, 0x4c, 0, 1);
    wr(&r, 0x4e, 2, 1);
    wr(&r, 0x40, 0xfff00000u, 4);
    wr(&r, 0x4a, 0x8000, 2);
    wr(&r, 0x4a, 0, 2);
    wr(&r, 0x48, 0, 2);
    wr(&r, 0x4c, 3, 1);
    wr(&r, 0x48, 1, 2);
    g_assert_cmphex(rd(&r, 0x4d, 1), ==, 1);
    g_assert_cmphex(rd(&r, 0x4c, 1) & 2, ==, 0);
    g_assert_true(r.irq);
    wr(&r, 0x4d, 1, 1);
    g_assert_false(r.irq);

    /* The RIRB outside RAM, then its DMA off: the response is lost (RIRBOIS). */
    wr(&r, 0x40, CORB, 4);
    wr(&r, 0x50, 0xfff00000u, 4);
    wr(&r, 0x5c, 7, 1);
    wr(&r, 0x4a, 0x8000, 2);
    wr(&r, 0x4a, 0, 2);
    wr(&r, 0x48, 0, 2);
    wr(&r, 0x4c, 2, 1);
    wr(&r, 0x48, 1, 2);
    g_assert_cmphex(rd(&r, 0x5d, 1), ==, 4);
    g_assert_true(r.irq);
    wr(&r, 0x5d, 4, 1);
    wr(&r, 0x50, RIRB, 4);
    wr(&r, 0x5c, 4, 1);
    wr(&r, 0x48, 2, 2);
    g_assert_cmphex(rd(&r, 0x5d, 1), ==, 4);
    wr(&r, 0x5d, 4, 1);

    /* Immediate commands: an answer, and silence from an absent codec. */
    wr(&r, 0x4c, 0, 1);
    bool answered;
    g_assert_cmphex(imm(&r, 0x002f0009, &answered), ==, 0x0000041d);
    g_assert_true(answered);
    imm(&r, 0x702f0009, &answered);
    g_assert_false(answered);

    /* Controller reset: registers to defaults, writes ignored until it ends. */
    wr(&r, 0x08, 0, 4);
    g_assert_cmphex(rd(&r, 0x08, 4), ==, 0);
    wr(&r, 0x40, 0x12345680, 4);
    g_assert_cmphex(rd(&r, 0x40, 4), ==, 0);
    g_assert_cmphex(rd(&r, 0x4e, 1), ==, 0x42);
    vm_free(r.vm);
}

/* Output stream OUT0, tag 1, 48 kHz 16-bit stereo, `n` entries of `len` bytes from BUF. */
static void out_stream_setup(Rig *r, unsigned n, uint32_t len, uint16_t fmt)
{
    for (unsigned i = 0; i < n; i++) {
        put32(r, BDL + 16 * i, BUF + i * len);
        put32(r, BDL + 16 * i + 4, 0);
        put32(r, BDL + 16 * i + 8, len);
        put32(r, BDL + 16 * i + 12, 1);
    }
    wr(r, SD(OUT0), 1, 1);
    g_assert_cmphex(rd(r, SD(OUT0), 1), ==, 1);
    wr(r, SD(OUT0), 0, 1);
    wr(r, SD(OUT0) + 0x18, BDL, 4);
    wr(r, SD(OUT0) + 0x1c, 0, 4);
    wr(r, SD(OUT0) + 0x08, n * len, 4);
    wr(r, SD(OUT0) + 0x0c, n - 1, 2);
    wr(r, SD(OUT0) + 0x12, fmt, 2);
}

static void out_stream_run(Rig *r)
{
    wr(r, SD(OUT0), 0x1c | 0x100000 | 2, 4);   /* tag 1, RUN, every interrupt enable */
}

static void test_stream_pace(void)
{
    Rig r;
    rig_init(&r);
    wr(&r, 0x70, POSBUF | 1, 4);
    out_stream_setup(&r, 4, 1920, 0x0011);   /* four 10 ms buffers */
    out_stream_run(&r);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFORDY);
    vm_test_clock_step(r.vm, 5 * MS);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 960);
    g_assert_cmpuint(get32(&r, POSBUF + 8 * OUT0), ==, 960);
    g_assert_false(r.irq);
    /* 10 ms: the first buffer completes at exactly its time. */
    vm_test_clock_step(r.vm, 5 * MS - 1);
    g_assert_false(r.irq);
    vm_test_clock_step(r.vm, 1);
    g_assert_true(r.irq);
    g_assert_cmphex(rd(&r, 0x24, 4), ==, 0x80000000u | 1u << OUT0);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFORDY | STS_BCIS);
    wr(&r, SD(OUT0) + 3, STS_BCIS, 1);
    g_assert_false(r.irq);
    g_assert_cmpuint(get32(&r, POSBUF + 8 * OUT0), ==, 1920);

    /* Saved 15 ms in, restored into a second VM at the same virtual time: both finish
     * the second buffer at 20 ms and wrap LPIB at the cyclic buffer's end. */
    vm_test_clock_step(r.vm, 5 * MS);
    vm_lock(r.vm);
    g_autoptr(GByteArray) devstate = g_byte_array_new();
    device_list_save(r.vm, devstate);
    GByteArray *ram = g_byte_array_new();
    g_byte_array_set_size(ram, 0x40000);
    mem_read(vm_mem(r.vm), 0, ram->data, ram->len);
    vm_unlock(r.vm);
    Rig b;
    rig_init_at(&b, 15 * MS);
    GError *err = NULL;
    vm_lock(b.vm);
    mem_write(vm_mem(b.vm), 0, ram->data, ram->len);
    g_assert_true(device_list_load(b.vm, devstate->data, devstate->len, &err));
    g_assert_no_error(err);
    vm_unlock(b.vm);
    g_byte_array_free(ram, TRUE);
    Rig *both[2] = { &r, &b };
    for (int k = 0; k < 2; k++) {
        Rig *x = both[k];
        g_assert_cmpuint(rd(x, SD(OUT0) + 4, 4), ==, 2880);
        vm_test_clock_step(x->vm, 5 * MS);
        g_assert_true(x->irq);
        wr(x, SD(OUT0) + 3, STS_BCIS, 1);
        vm_test_clock_step(x->vm, 20 * MS + 1 * MS);
        g_assert_cmpuint(rd(x, SD(OUT0) + 4, 4), ==, 192);   /* 41 ms: wrapped at 7680 */
        g_assert_cmpuint(get32(x, POSBUF + 8 * OUT0), ==, 192);
        /* Stop: LPIB holds; a stream reset clears it. */
        wr(x, SD(OUT0), 0x1c, 1);
        vm_test_clock_step(x->vm, 5 * MS);
        g_assert_cmpuint(rd(x, SD(OUT0) + 4, 4), ==, 192);
        g_assert_cmphex(rd(x, SD(OUT0) + 3, 1) & STS_FIFORDY, ==, 0);
        wr(x, SD(OUT0), 1, 1);
        wr(x, SD(OUT0), 0, 1);
        g_assert_cmpuint(rd(x, SD(OUT0) + 4, 4), ==, 0);
    }
    vm_free(b.vm);

    /* An input stream (SD0, tag 3) records the line-in's silence into its buffer and not
     * a byte beyond: 5 ms at 48 kHz stereo is 960 bytes. */
    vm_lock(r.vm);
    for (unsigned i = 0; i < 4096; i += 4)
        mem_stl(vm_mem(r.vm), BUF + i, 0x55555555);
    vm_unlock(r.vm);
    bool answered;
    imm(&r, 0x00420011, &answered);
    imm(&r, 0x00470630, &answered);
    put32(&r, BDL + 0x100, BUF);
    put32(&r, BDL + 0x104, 0);
    put32(&r, BDL + 0x108, 2048);
    put32(&r, BDL + 0x10c, 0);
    put32(&r, BDL + 0x110, BUF + 2048);
    put32(&r, BDL + 0x114, 0);
    put32(&r, BDL + 0x118, 2048);
    put32(&r, BDL + 0x11c, 0);
    wr(&r, SD(0) + 0x18, BDL + 0x100, 4);
    wr(&r, SD(0) + 0x08, 4096, 4);
    wr(&r, SD(0) + 0x0c, 1, 2);
    wr(&r, SD(0) + 0x12, 0x0011, 2);
    wr(&r, SD(0), 0x300002, 4);
    vm_test_clock_step(r.vm, 5 * MS);
    wr(&r, SD(0), 0x300000, 4);
    g_assert_cmpuint(rd(&r, SD(0) + 4, 4), ==, 960);
    g_assert_cmphex(get32(&r, BUF + 956), ==, 0);
    g_assert_cmphex(get32(&r, BUF + 960), ==, 0x55555555);
    vm_free(r.vm);
}

static void test_hostile_streams(void)
{
    Rig r;
    rig_init(&r);
    /* The list outside RAM: DESE, RUN cleared, the interrupt raised. */
    out_stream_setup(&r, 2, 1920, 0x0011);
    wr(&r, SD(OUT0) + 0x18, 0xfff00000u, 4);
    out_stream_run(&r);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_DESE);
    g_assert_cmphex(rd(&r, SD(OUT0), 1) & 2, ==, 0);
    g_assert_true(r.irq);
    wr(&r, SD(OUT0) + 3, STS_DESE, 1);
    g_assert_false(r.irq);

    /* Above 4 GiB through BDPU, and a list whose entries are all empty. */
    out_stream_setup(&r, 2, 1920, 0x0011);
    wr(&r, SD(OUT0) + 0x1c, 1, 4);
    out_stream_run(&r);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_DESE);
    out_stream_setup(&r, 256, 0, 0x0011);
    out_stream_run(&r);
    vm_test_clock_step(r.vm, 1 * MS);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1) & STS_DESE, ==, STS_DESE);
    g_assert_cmphex(rd(&r, SD(OUT0), 1) & 2, ==, 0);

    /* Buffers outside RAM: FIFO errors, the stream runs on, LPIB moves. */
    out_stream_setup(&r, 2, 1920, 0x0011);
    put32(&r, BDL, 0xfff00000u);
    put32(&r, BDL + 16, (uint32_t)RAM - 960);   /* half in RAM */
    out_stream_run(&r);
    vm_test_clock_step(r.vm, 15 * MS);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFORDY | STS_FIFOE | STS_BCIS);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 2880);
    wr(&r, SD(OUT0), 0, 4);

    /* Reserved formats: a FIFO error, nothing runs. */
    static const uint16_t reserved[] = { 0x3811, 0x2011, 0x0051, 0x0071 };
    for (size_t k = 0; k < G_N_ELEMENTS(reserved); k++) {
        wr(&r, SD(OUT0) + 3, 0xff, 1);
        out_stream_setup(&r, 2, 1920, reserved[k]);
        out_stream_run(&r);
        vm_test_clock_step(r.vm, 1 * MS);
        g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFOE);
        g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 0);
    }
    /* The largest format (192 kHz, 32 bits, 16 channels, 12 MB/s) over a 4 GiB entry
     * reaching past RAM, CBL 0, a second of virtual time: bounded work, LPIB stays 0. */
    out_stream_setup(&r, 1, 0xffffffffu, 0x184f);
    wr(&r, SD(OUT0) + 0x08, 0, 4);
    out_stream_run(&r);
    vm_test_clock_step(r.vm, 1000 * MS);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFORDY | STS_FIFOE);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 0);
    wr(&r, SD(OUT0), 0, 4);
    /* The position buffer outside RAM is not written, and nothing breaks. */
    wr(&r, 0x70, 0xffffff81u, 4);
    out_stream_setup(&r, 2, 1920, 0x0011);
    out_stream_run(&r);
    vm_test_clock_step(r.vm, 12 * MS);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 2304);
    /* Held by SSYNC: the FIFO is ready, nothing moves until the bit is cleared. */
    wr(&r, SD(OUT0), 0, 4);
    wr(&r, 0x70, 0, 4);
    out_stream_setup(&r, 2, 1920, 0x0011);
    wr(&r, 0x38, 1u << OUT0, 4);
    out_stream_run(&r);
    vm_test_clock_step(r.vm, 7 * MS);
    g_assert_cmphex(rd(&r, SD(OUT0) + 3, 1), ==, STS_FIFORDY);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 0);
    wr(&r, 0x38, 0, 4);
    vm_test_clock_step(r.vm, 12 * MS);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 2304);
    /* Bus mastering off: the stream holds still. */
    vm_lock(r.vm);
    pci_config_write(r.bus, DEVFN, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    vm_unlock(r.vm);
    vm_test_clock_step(r.vm, 10 * MS);
    g_assert_cmpuint(rd(&r, SD(OUT0) + 4, 4), ==, 2304);
    vm_free(r.vm);
}

/* Random register writes over random memory, with time passing: whatever the guest
 * does, the controller stays in bounds (ASan and UBSan watch the run). */
static void test_random(void)
{
    Rig r;
    rig_init(&r);
    GRand *rand = g_rand_new_with_seed(1616);
    vm_lock(r.vm);
    for (uint32_t a = 0x10000; a < 0x30000; a += 4)
        mem_stl(vm_mem(r.vm), a, g_rand_int(rand));
    vm_unlock(r.vm);
    static const unsigned regs[] = { 0x08, 0x0c, 0x20, 0x38, 0x40, 0x44, 0x48, 0x4c, 0x50, 0x58, 0x5c,
                                     0x60, 0x68, 0x70, 0x74 };
    for (int i = 0; i < 20000; i++) {
        unsigned reg;
        uint32_t v = g_rand_int(rand);
        if (g_rand_boolean(rand)) {
            reg = regs[g_rand_int_range(rand, 0, G_N_ELEMENTS(regs))];
            if (reg == 0x40 || reg == 0x50 || reg == 0x70)
                v = 0x10000 + (v & 0x1ff80) + (reg == 0x70 ? (v & 1) : 0);
            if (reg == 0x44 || reg == 0x74)
                v = (v & 0xff) == 0 ? 1 : 0;
            if (reg == 0x08)
                v |= 1;
        } else {
            reg = SD(g_rand_int_range(rand, 0, 8)) + 4 * (unsigned)g_rand_int_range(rand, 0, 8);
            if ((reg & 0x1f) == 0x18)
                v = 0x10000 + (v & 0x1ff80);
        }
        unsigned size = 1u << g_rand_int_range(rand, 0, 3);
        wr(&r, reg + (g_rand_int(rand) & (4 - size)), v, size);
        if (i % 16 == 0)
            vm_test_clock_step(r.vm, g_rand_int_range(rand, 0, 3 * MS));
        if (i % 64 == 0)
            rd(&r, g_rand_int_range(rand, 0, 0x4000) & ~3u, 4);
    }
    g_rand_free(rand);
    vm_free(r.vm);
}

static void test_errors(void)
{
    Vm *vm = vm_new_for_test(RAM);
    GError *err = NULL;
    g_assert_true(backend_open(vm, "audiodev", "none,id=a", &err));
    vm_lock(vm);
    PciBus *bus = pci_bus_new(vm);
    vm_add_bus(vm, "pci.0", bus);
    g_assert_null(device_create_from_spec(vm, "hda-duplex,audiodev=a", &err));
    g_assert_nonnull(strstr(err->message, "intel-hda"));
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(vm, "intel-hda", &err));
    g_assert_null(device_create_from_spec(vm, "hda-output", &err));
    g_assert_nonnull(strstr(err->message, "audiodev"));
    g_clear_error(&err);
    for (int i = 0; i < 15; i++)
        g_assert_nonnull(device_create_from_spec(vm, "hda-output,audiodev=a", &err));
    g_assert_null(device_create_from_spec(vm, "hda-duplex,audiodev=a", &err));
    g_assert_nonnull(strstr(err->message, "taken"));
    g_clear_error(&err);
    vm_unlock(vm);
    vm_free(vm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hda/commands", test_commands);
    g_test_add_func("/hda/stream-pace", test_stream_pace);
    g_test_add_func("/hda/hostile-streams", test_hostile_streams);
    g_test_add_func("/hda/random", test_random);
    g_test_add_func("/hda/errors", test_errors);
    return g_test_run();
}
