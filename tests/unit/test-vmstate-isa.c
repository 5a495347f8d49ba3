/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State save and load of the ISA board devices: the 8042 with its PS/2 keyboard and
 * mouse, the 8237 pair, the FDC, the speaker port, port 0x92, the POST code port and
 * the FPU error latch. Each is saved in the middle of activity, restored into a fresh
 * VM at the same virtual time, and both are driven with the same inputs: their port
 * reads, IRQ levels, A20 and IGNNE# must match. Bad streams (truncated, bit-flipped,
 * values out of range with a valid checksum, another floppy image) must give one line
 * of error and leave the device as it was. */
#include "engine/device.h"
#include "engine/vcpu.h"
#include "hw/audio/pcspk.h"
#include "hw/dma/i8237.h"
#include "hw/input/i8042.h"
#include "hw/misc/fpu-err.h"
#include "hw/misc/port80.h"
#include "hw/misc/port92.h"
#include "hw/storage/fdc.h"
#include "hw/timer/i8254.h"
#include "unit.h"

#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

typedef enum { DEV_KBC, DEV_DMA, DEV_FDC, DEV_SPK, DEV_P92, DEV_P80, DEV_FPU, DEV_COUNT } DevKind;

/* The device under test's instance id and class. */
static const char *const dev_ids[] = { "i8042", "dma", "fdc", "pcspk", "port92", "port80", "fpu-error" };

typedef struct Rig {
    Vm *vm;
    DevKind kind;
    Device *dev;
    TestLine line[2];
    I8042State *kbc;
    IsaDma *dma;
    FdcState *fdc;
} Rig;

static char *tmp_dir;
static char *img_a, *img_b; /* two 1.44M images with different contents */

static char *make_image(const char *name, uint8_t salt)
{
    char *p = g_build_filename(tmp_dir, name, NULL);
    size_t size = 1474560;
    g_autofree uint8_t *data = g_malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t)(i / 512 + i + salt);
    g_assert_true(g_file_set_contents(p, (char *)data, (gssize)size, NULL));
    return p;
}

static BlockImage *open_image(const char *path)
{
    /* The original and the restored VM of one test hold the same image at once, as
     * two processes would never be allowed to: no image locks (file.locking=off). */
    BlockOpenOptions o = { .read_only = false, .format = "raw", .no_locking = true };
    g_autoptr(GError) err = NULL;
    BlockImage *img = block_open(path, &o, &err);
    g_assert_no_error(err);
    return img;
}

/* A test VM at virtual time t holding the device (and what it is wired to); the
 * floppy drive A: holds image (NULL: empty). */
static void rig_init_img(Rig *r, DevKind kind, int64_t t, const char *image)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->vm = vm_new_for_test(0);
    if (t)
        vm_test_clock_step(r->vm, t);
    IrqLine l0 = test_line(&r->line[0]), l1 = test_line(&r->line[1]);
    IrqLine a20 = vm_cpu_a20_line(r->vm, 0);
    vm_lock(r->vm);
    switch (kind) {
    case DEV_KBC: r->kbc = i8042_new(r->vm, &l0, &l1, &a20); break;
    case DEV_DMA: r->dma = i8237_new(r->vm); break;
    case DEV_FDC: {
        r->dma = i8237_new(r->vm);
        r->fdc = fdc_new(r->vm, 0x3f0, &l0, r->dma, 2);
        GError *err = NULL;
        g_assert_true(fdc_attach_drive(r->fdc, 0, image ? open_image(image) : NULL, false, &err));
        g_assert_no_error(err);
        break;
    }
    case DEV_SPK: pcspk_new(r->vm, i8254_new(r->vm, 0x40, &l1), NULL); break;
    case DEV_P92: port92_new(r->vm, &a20); break;
    case DEV_P80: port80_new(r->vm); break;
    case DEV_FPU: fpu_err_new(r->vm, &l0, vm_cpu_pins(r->vm)); break;
    case DEV_COUNT: break;
    }
    vm_unlock(r->vm);
    r->dev = device_find(r->vm, dev_ids[kind]);
    g_assert_nonnull(r->dev);
}

static void rig_init(Rig *r, DevKind kind, int64_t t)
{
    rig_init_img(r, kind, t, img_a);
}

static GByteArray *save_dev(Rig *r)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(r->vm);
    device_save_state(r->dev, b);
    vm_unlock(r->vm);
    return b;
}

static bool load_dev(Rig *r, const uint8_t *buf, size_t len, GError **err)
{
    vm_lock(r->vm);
    bool ok = device_load_state(r->dev, buf, len, err);
    vm_unlock(r->vm);
    return ok;
}

static GByteArray *save_all(Rig *r)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(r->vm);
    device_list_save(r->vm, b);
    vm_unlock(r->vm);
    return b;
}

static bool load_all(Rig *r, const uint8_t *buf, size_t len, GError **err)
{
    vm_lock(r->vm);
    bool ok = device_list_load(r->vm, buf, len, err);
    vm_unlock(r->vm);
    return ok;
}

/* ---- scripts ---- */

typedef enum { OP_IN, OP_OUT, OP_STEP, OP_KEY, OP_MOUSE, OP_XFER, OP_FERR, OP_INS, OP_END } OpKind;
typedef struct Op {
    OpKind k;
    uint32_t a, b;
} Op;

static void run_script(Rig *r, const Op *ops, GString *log)
{
    r->line[0].rises = r->line[1].rises = 0;
    for (const Op *o = ops; o->k != OP_END; o++) {
        switch (o->k) {
        case OP_IN:
            g_string_append_printf(log, "in %x=%02x ", o->a, inb(r->vm, (uint16_t)o->a));
            break;
        case OP_INS: /* o->b reads of one port, summed */
        {
            unsigned sum = 0;
            for (uint32_t i = 0; i < o->b; i++)
                sum = sum * 31 + inb(r->vm, (uint16_t)o->a);
            g_string_append_printf(log, "ins %x=%08x ", o->a, sum);
            break;
        }
        case OP_OUT:
            outb(r->vm, (uint16_t)o->a, (uint8_t)o->b);
            break;
        case OP_STEP:
            vm_test_clock_step(r->vm, o->a);
            break;
        case OP_KEY:
            vm_lock(r->vm);
            ps2_keyboard_event(i8042_keyboard(r->kbc), (uint16_t)o->a, o->b);
            vm_unlock(r->vm);
            break;
        case OP_MOUSE:
            vm_lock(r->vm);
            ps2_mouse_event(i8042_mouse(r->kbc), (int)o->a, -(int)o->a, 0, o->b);
            vm_unlock(r->vm);
            break;
        case OP_XFER: {
            uint8_t buf[64];
            for (unsigned i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 7 + o->b);
            bool tc;
            vm_lock(r->vm);
            size_t n = i8237_transfer(r->dma, o->a, buf, MIN(o->b, sizeof(buf)), &tc);
            vm_unlock(r->vm);
            g_string_append_printf(log, "xfer %u=%zu%s %02x%02x ", o->a, n, tc ? " tc" : "", buf[0], buf[1]);
            break;
        }
        case OP_FERR:
            vcpu_set_ferr(vm_vcpu(r->vm), o->a);
            break;
        case OP_END:
            break;
        }
        g_string_append_printf(log, "[irq %d/%d %d/%d a20 %d ignne %d]\n", r->line[0].level, r->line[0].rises,
                               r->line[1].level, r->line[1].rises, vm_a20(r->vm),
                               (int)atomic_load(&vm_vcpu(r->vm)->ignne));
    }
}

/* 8042: translation on, a controller reply queued behind a key byte in the output
 * buffer, the keyboard with bytes queued and a key held (typematic timer armed), the
 * mouse streaming with a packet queued, a "write output port" waiting for its data. */
static const Op kbc_setup[] = {
    { OP_OUT, 0x64, 0x60 }, { OP_OUT, 0x60, 0x47 }, { OP_OUT, 0x64, 0xa8 },
    { OP_OUT, 0x64, 0xd4 }, { OP_OUT, 0x60, 0xf4 }, { OP_IN, 0x60 }, { OP_STEP, 2000000 },
    { OP_KEY, 0x2a, 1 }, { OP_KEY, 0x2a, 0 }, { OP_KEY, 0x1e, 1 }, { OP_MOUSE, 5, 1 },
    { OP_OUT, 0x64, 0x20 }, { OP_IN, 0x60 }, { OP_STEP, 300000 }, { OP_OUT, 0x64, 0xd1 }, { OP_END },
};
static const Op kbc_script[] = {
    { OP_IN, 0x64 }, { OP_OUT, 0x60, 0xdd }, { OP_IN, 0x64 }, { OP_IN, 0x60 }, { OP_IN, 0x60 },
    { OP_STEP, 1000000 }, { OP_IN, 0x64 }, { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x64 },
    { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 },
    { OP_STEP, 1000000 }, { OP_IN, 0x64 }, { OP_IN, 0x60 }, { OP_STEP, 600000000 }, { OP_IN, 0x64 },
    { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_KEY, 0x1e, 0 }, { OP_STEP, 1000000 },
    { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 },
    { OP_OUT, 0x60, 0xf2 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 },
    { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_STEP, 1000000 }, { OP_IN, 0x60 }, { OP_OUT, 0x64, 0xdf },
    { OP_END },
};

/* DMA: channel 2 programmed with the flip-flop left high (address low byte written),
 * channel 5 mid-transfer in auto-initialize, a software request and a mask set. */
static const Op dma_setup[] = {
    { OP_OUT, 0xd6, 0xc0 }, { OP_OUT, 0xd4, 0x00 }, { OP_OUT, 0x0b, 0x46 }, { OP_OUT, 0x0c, 0 },
    { OP_OUT, 0x81, 0x01 }, { OP_OUT, 0x05, 0x0f }, { OP_OUT, 0x05, 0x00 }, { OP_OUT, 0x0a, 0x02 },
    { OP_OUT, 0x04, 0x10 }, { OP_OUT, 0xd6, 0x55 }, { OP_OUT, 0xd8, 0 }, { OP_OUT, 0xc4, 0x00 },
    { OP_OUT, 0xc4, 0x08 }, { OP_OUT, 0xc6, 0x09 }, { OP_OUT, 0xc6, 0x00 }, { OP_OUT, 0x8b, 0x02 },
    { OP_OUT, 0xd4, 0x01 }, { OP_XFER, 5, 6 }, { OP_OUT, 0x09, 0x07 }, { OP_OUT, 0x0a, 0x07 }, { OP_END },
};
static const Op dma_script[] = {
    { OP_OUT, 0x04, 0x20 }, { OP_IN, 0x04 }, { OP_IN, 0x04 }, { OP_IN, 0x08 }, { OP_IN, 0x08 },
    { OP_XFER, 2, 10 }, { OP_XFER, 2, 10 }, { OP_IN, 0x08 }, { OP_IN, 0x05 }, { OP_IN, 0x05 },
    { OP_XFER, 5, 20 }, { OP_XFER, 5, 4 }, { OP_IN, 0xd0 }, { OP_IN, 0xc4 }, { OP_IN, 0xc4 },
    { OP_IN, 0xde }, { OP_IN, 0x0f }, { OP_IN, 0x8b }, { OP_XFER, 3, 1 }, { OP_END },
};

#define FDC_MSR 0x3f4
#define FDC_FIFO 0x3f5
/* FDC: non-DMA mode; a READ DATA of sectors 1-2 on cylinder 1 (seeked first) is half
 * read through the FIFO when saved; the recalibrate's interrupt sensed. */
static const Op fdc_setup[] = {
    { OP_OUT, 0x3f2, 0x00 }, { OP_OUT, 0x3f2, 0x1c }, { OP_OUT, 0x3f7, 0x00 },
    { OP_OUT, FDC_FIFO, 0x08 }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO },
    { OP_OUT, FDC_FIFO, 0x03 }, { OP_OUT, FDC_FIFO, 0xdf }, { OP_OUT, FDC_FIFO, 0x03 }, /* ND */
    { OP_OUT, FDC_FIFO, 0x0f }, { OP_OUT, FDC_FIFO, 0x00 }, { OP_OUT, FDC_FIFO, 0x01 },
    { OP_OUT, FDC_FIFO, 0x08 }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO },
    { OP_OUT, FDC_FIFO, 0x46 }, { OP_OUT, FDC_FIFO, 0x00 }, { OP_OUT, FDC_FIFO, 0x01 },
    { OP_OUT, FDC_FIFO, 0x00 }, { OP_OUT, FDC_FIFO, 0x01 }, { OP_OUT, FDC_FIFO, 0x02 },
    { OP_OUT, FDC_FIFO, 0x02 }, { OP_OUT, FDC_FIFO, 0x1b }, { OP_OUT, FDC_FIFO, 0xff },
    { OP_INS, FDC_FIFO, 700 }, { OP_END },
};
static const Op fdc_script[] = {
    { OP_IN, FDC_MSR }, { OP_IN, 0x3f7 }, { OP_INS, FDC_FIFO, 324 }, { OP_IN, FDC_MSR },
    { OP_INS, FDC_FIFO, 1000 }, { OP_IN, FDC_MSR },
    { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO },
    { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_MSR },
    /* DMA mode again and a DMA read of one sector into memory. */
    { OP_OUT, FDC_FIFO, 0x03 }, { OP_OUT, FDC_FIFO, 0xdf }, { OP_OUT, FDC_FIFO, 0x02 },
    { OP_OUT, 0xd6, 0xc0 }, { OP_OUT, 0xd4, 0x00 }, { OP_OUT, 0x0b, 0x46 }, { OP_OUT, 0x0c, 0 },
    { OP_OUT, 0x04, 0x00 }, { OP_OUT, 0x04, 0x10 }, { OP_OUT, 0x05, 0xff }, { OP_OUT, 0x05, 0x01 },
    { OP_OUT, 0x0a, 0x02 },
    { OP_OUT, FDC_FIFO, 0x46 }, { OP_OUT, FDC_FIFO, 0x00 }, { OP_OUT, FDC_FIFO, 0x01 },
    { OP_OUT, FDC_FIFO, 0x00 }, { OP_OUT, FDC_FIFO, 0x05 }, { OP_OUT, FDC_FIFO, 0x02 },
    { OP_OUT, FDC_FIFO, 0x12 }, { OP_OUT, FDC_FIFO, 0x1b }, { OP_OUT, FDC_FIFO, 0xff },
    { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO },
    { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, FDC_FIFO }, { OP_IN, 0x08 },
    { OP_OUT, FDC_FIFO, 0x0a }, { OP_OUT, FDC_FIFO, 0x00 }, { OP_INS, FDC_FIFO, 7 }, { OP_END },
};

/* What an accepted altered FDC stream is run with: the full script reads a whole
 * track, too slow for thousands of streams; this one still walks every phase. */
static const Op fdc_probe[] = {
    { OP_IN, FDC_MSR }, { OP_INS, FDC_FIFO, 8 }, { OP_OUT, FDC_FIFO, 0x00 }, { OP_IN, FDC_MSR },
    { OP_OUT, FDC_FIFO, 0x08 }, { OP_INS, FDC_FIFO, 2 }, { OP_OUT, FDC_FIFO, 0x4a }, { OP_OUT, FDC_FIFO, 0x00 },
    { OP_INS, FDC_FIFO, 7 }, { OP_IN, 0x3f7 }, { OP_END },
};

/* Speaker: counter 2 in mode 3 with its gate set through port B; OUT2 and the
 * refresh toggle read back. */
static const Op spk_setup[] = {
    { OP_OUT, 0x43, 0xb6 }, { OP_OUT, 0x42, 0xa9 }, { OP_OUT, 0x42, 0x04 }, { OP_OUT, 0x61, 0x0b },
    { OP_STEP, 123457 }, { OP_END },
};
static const Op spk_script[] = {
    { OP_IN, 0x61 }, { OP_STEP, 500000 }, { OP_IN, 0x61 }, { OP_STEP, 7543 }, { OP_IN, 0x61 },
    { OP_OUT, 0x61, 0x02 }, { OP_STEP, 1000000 }, { OP_IN, 0x61 }, { OP_OUT, 0x61, 0x03 },
    { OP_STEP, 333333 }, { OP_IN, 0x61 }, { OP_END },
};

static const Op p92_setup[] = { { OP_OUT, 0x92, 0x02 }, { OP_END } };
static const Op p92_script[] = {
    { OP_IN, 0x92 }, { OP_OUT, 0x92, 0x00 }, { OP_IN, 0x92 }, { OP_OUT, 0x92, 0x02 }, { OP_END },
};

static const Op p80_setup[] = { { OP_OUT, 0x80, 0x5a }, { OP_END } };
static const Op p80_script[] = { { OP_IN, 0x80 }, { OP_OUT, 0x80, 0x11 }, { OP_IN, 0x80 }, { OP_END } };

/* FPU error latch: FERR# asserted and acknowledged at port F0h, so IGNNE# is driven. */
static const Op fpu_setup[] = { { OP_FERR, 1 }, { OP_OUT, 0xf0, 0 }, { OP_FERR, 1 }, { OP_END } };
static const Op fpu_script[] = {
    { OP_IN, 0xf0 }, { OP_FERR, 0 }, { OP_FERR, 1 }, { OP_OUT, 0xf0, 0 }, { OP_FERR, 0 }, { OP_END },
};

static const Op *const setups[] = { kbc_setup, dma_setup, fdc_setup, spk_setup, p92_setup, p80_setup, fpu_setup };
static const Op *const scripts[] = { kbc_script, dma_script, fdc_script, spk_script, p92_script, p80_script,
                                     fpu_script };
/* Something each script must show after the restore. */
static const char *const must_see[] = {
    "in 60=1e",       /* the held A repeats (set 1 after translation) */
    "xfer 5=14 tc",   /* channel 5 reaches terminal count and reloads */
    "in 3f4=d0",      /* still in the execution phase of the non-DMA read */
    "in 61=23",       /* OUT2 high with gate and data set */
    "a20 1",
    "in 80=5a",
    "ignne 1",
};

/* The whole VM's devices saved mid-activity, restored in a fresh VM at the same virtual
 * time; the copy saves to the same bytes and then behaves the same. */
static void test_round_trip(gconstpointer data)
{
    DevKind kind = (DevKind)GPOINTER_TO_INT(data);
    Rig a, b;
    rig_init(&a, kind, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setups[kind], ignored);
    g_autoptr(GByteArray) s = save_all(&a);

    rig_init(&b, kind, vm_clock_ns(a.vm));
    GError *err = NULL;
    g_assert_true(load_all(&b, s->data, s->len, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = save_all(&b);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    for (int i = 0; i < 2; i++)
        g_assert_cmpint(a.line[i].level, ==, b.line[i].level);
    g_assert_cmpint(vm_a20(a.vm), ==, vm_a20(b.vm));

    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    run_script(&a, scripts[kind], la);
    run_script(&b, scripts[kind], lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    if (!strstr(la->str, must_see[kind]))
        g_error("script output lacks '%s':\n%s", must_see[kind], la->str);
    vm_free(a.vm);
    vm_free(b.vm);
}

/* ---- bad streams ---- */

static void fix_crc(uint8_t *sec, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, sec, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        sec[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static void expect_rejected(Rig *b, const uint8_t *buf, size_t len, const char *want)
{
    g_autoptr(GByteArray) before = save_dev(b);
    GError *err = NULL;
    g_assert_false(load_dev(b, buf, len, &err));
    g_assert_nonnull(err);
    g_assert_null(strchr(err->message, '\n'));
    if (want && !strstr(err->message, want))
        g_error("error '%s' lacks '%s'", err->message, want);
    g_error_free(err);
    g_autoptr(GByteArray) after = save_dev(b);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

/* The FDC's section is mostly its 36 KiB transfer buffer (from byte 349 on): the
 * byte-wise sweeps cover everything around it and every 1021st byte inside, and flip
 * only the lowest and highest bit of each byte. */
static bool sweep_byte(size_t len, size_t i)
{
    return len < 4096 || i < 360 || i + 96 >= len || i % 1021 == 0;
}

static bool sweep_bit(size_t len, int bit)
{
    return len < 4096 || bit == 0 || bit == 7;
}

static void test_bad_streams(gconstpointer data)
{
    DevKind kind = (DevKind)GPOINTER_TO_INT(data);
    Rig a, b;
    rig_init(&a, kind, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setups[kind], ignored);
    g_autoptr(GByteArray) s = save_dev(&a);
    rig_init(&b, kind, vm_clock_ns(a.vm));
    g_autofree uint8_t *buf = g_malloc(s->len + 1);

    for (size_t n = 0; n < s->len; n++)
        if (sweep_byte(s->len, n))
            expect_rejected(&b, s->data, n, NULL);
    memcpy(buf, s->data, s->len);
    buf[s->len] = 0;
    expect_rejected(&b, buf, s->len + 1, "trailing");
    for (size_t i = 0; i < s->len; i++) {
        if (!sweep_byte(s->len, i))
            continue;
        for (int bit = 0; bit < 8; bit++) {
            if (!sweep_bit(s->len, bit))
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] ^= (uint8_t)(1u << bit);
            expect_rejected(&b, buf, s->len, NULL);
        }
    }
    size_t cl = s->data[4] | s->data[5] << 8;
    size_t il = s->data[6 + cl] | s->data[7 + cl] << 8;
    size_t ver_at = 8 + cl + il;
    memcpy(buf, s->data, s->len);
    buf[ver_at] = 2;
    fix_crc(buf, s->len);
    expect_rejected(&b, buf, s->len, "version 2 is not supported");

    /* Every field byte replaced by values a hostile writer could choose, with a valid
     * checksum: refused with the state unchanged, or accepted and runnable. */
    static const uint8_t values[] = { 0x00, 0x01, 0x07, 0x10, 0x11, 0x80, 0xff };
    unsigned accepted = 0, refused = 0;
    for (size_t i = ver_at + 4; i < s->len - 4; i++) {
        if (!sweep_byte(s->len, i))
            continue;
        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            if (s->data[i] == values[v])
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] = values[v];
            fix_crc(buf, s->len);
            g_autoptr(GByteArray) before = save_dev(&b);
            GError *err = NULL;
            if (load_dev(&b, buf, s->len, &err)) {
                accepted++;
                g_autoptr(GString) log = g_string_new(NULL);
                run_script(&b, kind == DEV_FDC ? fdc_probe : scripts[kind], log);
                g_assert_true(load_dev(&b, s->data, s->len, NULL));
            } else {
                refused++;
                g_assert_null(strchr(err->message, '\n'));
                g_error_free(err);
                g_autoptr(GByteArray) after = save_dev(&b);
                g_assert_cmpmem(before->data, before->len, after->data, after->len);
            }
        }
    }
    g_test_message("%s: %u altered streams refused, %u accepted and run", dev_ids[kind], refused, accepted);
    if (kind != DEV_P80)
        g_assert_cmpuint(refused, >, 0);
    vm_free(a.vm);
    vm_free(b.vm);
}

/* ---- chosen out-of-range values ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Saves the device after its setup, then for each (offset from the first field, bytes,
 * value) patches the stream, fixes the checksum and expects refusal naming want. */
typedef struct Patch {
    size_t at;
    unsigned size;
    uint32_t value;
    const char *want;
} Patch;

static void check_patches(DevKind kind, const Patch *patches, size_t n)
{
    Rig a;
    rig_init(&a, kind, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, setups[kind], ignored);
    g_autoptr(GByteArray) s = save_dev(&a);
    size_t p0 = 8 + strlen(a.dev->klass->name) + strlen(a.dev->id) + 4;
    g_autofree uint8_t *buf = g_malloc(s->len);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, s->data, s->len);
        if (patches[i].size == 4)
            put_u32(buf + p0 + patches[i].at, patches[i].value);
        else
            buf[p0 + patches[i].at] = (uint8_t)patches[i].value;
        fix_crc(buf, s->len);
        g_test_message("patch %zu: +%zu = 0x%x", i, patches[i].at, patches[i].value);
        expect_rejected(&a, buf, s->len, patches[i].want);
    }
    vm_free(a.vm);
}

/* i8042 layout: ram (4+32), outport, last_was_cmd, obf, ob_aux, ob_device, ob,
 * link_free_ns (8), link_timer (8), pending, ctl_q (4+8), ctl_aux (4+8), ctl_head,
 * ctl_count, xlat_break, then the keyboard: queue data (4+32), head, count, set,
 * scanning, leds, typematic, pending, last_sent, overrun, down (4+131), type3 (4+131),
 * repeat_key. */
#define KBC_PENDING (36 + 6 + 16)
#define KBC_CTL_HEAD (KBC_PENDING + 1 + 12 + 12)
#define KBC_KQ (KBC_CTL_HEAD + 8 + 1)
#define KBC_KSET (KBC_KQ + 36 + 8)
#define KBC_KPENDING (KBC_KSET + 4 + 3)
#define KBC_KTYPE3 (KBC_KPENDING + 3 + 4 + PS2_NKEYS)
#define KBC_KREPEAT (KBC_KTYPE3 + 4 + PS2_NKEYS)

static void test_kbc_ranges(void)
{
    static const Patch p[] = {
        { KBC_PENDING, 1, 0xae, "command 0xae takes no data" },
        { KBC_CTL_HEAD, 4, 8, "'ctl_head' is 8" },
        { KBC_CTL_HEAD + 4, 4, 9, "'ctl_count' is 9" },
        { KBC_KQ + 36, 4, 32, "'head' is 32" },
        { KBC_KQ + 40, 4, 33, "'count' is 33" },
        { KBC_KSET, 4, 4, "'set' is 4" },
        { KBC_KPENDING, 1, 0xf4, "no command 0xf4" },
        { KBC_KTYPE3 + 4 + 7, 1, 0x04, "has type 0x04" },
        { KBC_KREPEAT, 4, PS2_NKEYS, "'repeat_key' is 131" },
    };
    check_patches(DEV_KBC, p, G_N_ELEMENTS(p));
}

/* FDC layout: the drive array's count (4), two drives of (medium: present, cmos, has_medium, readonly, size (8),
 * digest (4+32), name (4+64); dskchg, pcn, head, last_sector), then dor, tdr, dsr,
 * phase, cmd (4+16), cmd_len, cmd_pos, res (4+16), res_len, res_pos, ... */
#define FDC_A 4
#define FDC_DRIVE (4 + 8 + 36 + 68 + 4)
#define FDC_REGS (FDC_A + 2 * FDC_DRIVE)
#define FDC_PHASE (FDC_REGS + 3)
#define FDC_CMD_LEN (FDC_PHASE + 1 + 20)
#define FDC_RES_LEN (FDC_CMD_LEN + 8 + 20)

static void test_fdc_ranges(void)
{
    static const Patch p[] = {
        { FDC_A + FDC_DRIVE - 2, 1, 2, "'head' is 2" },
        { FDC_PHASE, 1, 4, "'phase' is 4" },
        { FDC_PHASE, 1, 3, "inconsistent result bytes" },    /* result phase, nothing to read */
        { FDC_CMD_LEN, 4, 10, "'cmd_len' is 10" },
        { FDC_RES_LEN, 4, 11, "'res_len' is 11" },
        { FDC_A + FDC_DRIVE, 1, 1, "drive B: saved as present" }, /* a drive this VM lacks */
        { FDC_A + 1, 1, 5, "CMOS type 5" },
        { FDC_A + 2, 1, 0, "saved with the drive empty" },
        { FDC_A + 4, 1, 0x12, "insert the same image" },         /* size */
        { FDC_A + 12 + 4, 1, 0x55, "insert the same image" },    /* digest */
    };
    check_patches(DEV_FDC, p, G_N_ELEMENTS(p));
}

/* The stream names the image; a VM with another one in drive A:, or none, refuses it
 * by name and keeps its own state. */
static void test_fdc_other_medium(void)
{
    Rig a, b, c;
    rig_init(&a, DEV_FDC, 1000000);
    g_autoptr(GString) ignored = g_string_new(NULL);
    run_script(&a, fdc_setup, ignored);
    g_autoptr(GByteArray) s = save_dev(&a);
    rig_init_img(&b, DEV_FDC, vm_clock_ns(a.vm), img_b);
    expect_rejected(&b, s->data, s->len, "image ...");
    GError *err = NULL;
    g_assert_false(load_dev(&b, s->data, s->len, &err));
    g_assert_nonnull(strstr(err->message, "b.img"));
    g_assert_nonnull(strstr(err->message, "a.img"));
    g_clear_error(&err);
    rig_init_img(&c, DEV_FDC, vm_clock_ns(a.vm), NULL);
    expect_rejected(&c, s->data, s->len, "but the drive is empty");
    /* The whole device list is refused too, the DMA controller included. */
    g_autoptr(GByteArray) all = save_all(&a);
    g_autoptr(GByteArray) before = save_all(&b);
    g_assert_false(load_all(&b, all->data, all->len, &err));
    g_clear_error(&err);
    g_autoptr(GByteArray) after = save_all(&b);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
    vm_free(a.vm);
    vm_free(b.vm);
    vm_free(c.vm);
}

static void test_small_ranges(void)
{
    static const Patch fpu[] = { { 0, 1, 0, "IGNNE# asserted without FERR#" } };
    check_patches(DEV_FPU, fpu, 1);
    static const Patch p92[] = { { 0, 1, 4, "'value' is 4" } };
    check_patches(DEV_P92, p92, 1);
    static const Patch spk[] = { { 0, 1, 0x10, "'ctrl' is 16" } };
    check_patches(DEV_SPK, spk, 1);
    /* DMA: controller 1's mask after the two array counts, its four channels (4 x 9
     * bytes) and its command register. */
    static const Patch dma[] = { { 8 + 4 * 9 + 1, 1, 0x10, "'mask' is 16" },
                                 { 8 + 4 * 9 + 3, 1, 0x20, "'dreq' is 32" } };
    check_patches(DEV_DMA, dma, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp("vireo-vmstate-isa-XXXXXX", NULL);
    img_a = make_image("a.img", 0);
    img_b = make_image("b.img", 1);
    static const char *const names[] = { "kbc", "dma", "fdc", "pcspk", "port92", "port80", "fpu" };
    for (int k = 0; k < DEV_COUNT; k++) {
        g_autofree char *rt = g_strdup_printf("/vmstate-isa/round-trip/%s", names[k]);
        g_autofree char *bad = g_strdup_printf("/vmstate-isa/bad/%s", names[k]);
        g_test_add_data_func(rt, GINT_TO_POINTER(k), test_round_trip);
        g_test_add_data_func(bad, GINT_TO_POINTER(k), test_bad_streams);
    }
    g_test_add_func("/vmstate-isa/ranges/kbc", test_kbc_ranges);
    g_test_add_func("/vmstate-isa/ranges/fdc", test_fdc_ranges);
    g_test_add_func("/vmstate-isa/ranges/small", test_small_ranges);
    g_test_add_func("/vmstate-isa/fdc-other-medium", test_fdc_other_medium);
    int rc = g_test_run();
    g_unlink(img_a);
    g_unlink(img_b);
    g_rmdir(tmp_dir);
    g_free(img_a);
    g_free(img_b);
    g_free(tmp_dir);
    return rc;
}
