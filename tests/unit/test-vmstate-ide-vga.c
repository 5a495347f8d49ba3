/* SPDX-License-Identifier: GPL-2.0-or-later */
/* State save and load of the PIIX3 IDE function and the std-vga: each is saved in the
 * middle of activity (IDE: a PIO read half transferred, a DMA programmed and not
 * started, a disk DMA in flight that the save must drain; VGA: a planar mode and a VBE
 * mode with drawing done, the DAC and attribute controller between their steps),
 * restored into a fresh VM, and then both VMs get the same inputs: data words, status,
 * IRQ levels, guest memory the DMA wrote, register reads and screendump pixels must
 * match. Bad streams (truncated, bit-flipped, hostile values with a valid checksum)
 * must be refused with the device unchanged, or give a state the device runs from. */
#include "engine/device.h"
#include "engine/display.h"
#include "hw/display/vga.h"
#include "hw/pci/pci.h"
#include "hw/storage/ide.h"
#include "unit.h"
#include "vga-modes.h"

#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

/* ---- shared ---- */

static void fix_crc(uint8_t *sec, size_t len)
{
    uint32_t c = (uint32_t)crc32(0L, sec, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        sec[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

static GByteArray *save_dev(Vm *vm, Device *d)
{
    GByteArray *b = g_byte_array_new();
    vm_lock(vm);
    device_save_state(d, b);
    vm_unlock(vm);
    return b;
}

static bool load_dev(Vm *vm, Device *d, const uint8_t *buf, size_t len, GError **err)
{
    vm_lock(vm);
    bool ok = device_load_state(d, buf, len, err);
    vm_unlock(vm);
    return ok;
}

static void wr(Vm *vm, uint16_t port, uint32_t v, unsigned size)
{
    vm_lock(vm);
    io_write(vm_io(vm), port, v, size);
    vm_unlock(vm);
}

static uint32_t rd(Vm *vm, uint16_t port, unsigned size)
{
    vm_lock(vm);
    uint32_t v = io_read(vm_io(vm), port, size);
    vm_unlock(vm);
    return v;
}

/* Byte positions of the scalar fields of a section (not counts, not buffer contents),
 * found by walking the class's own description: where hostile values go. */
typedef struct ScalarAt {
    size_t pos;
    const char *name;
} ScalarAt;

static size_t walk_fields(const VmStateDesc *d, const uint8_t *s, size_t pos, GArray *out)
{
    for (const VmStateField *f = d->fields; f->name; f++) {
        if (f->type == VMS_BUFFER_PTR) {
            pos += 4;
            for (size_t off = 0; off < f->count; off += 4096)
                pos += 1 + (s[pos] ? MIN(4096, f->count - off) : 0);
            continue;
        }
        if (f->count)
            pos += 4;
        size_t n = f->count ? f->count : 1;
        for (size_t i = 0; i < n; i++) {
            if (f->type == VMS_STRUCT) {
                pos = walk_fields(f->sub, s, pos, out);
                continue;
            }
            size_t w = f->type == VMS_U16 ? 2 : f->type == VMS_U32 || f->type == VMS_I32 ? 4
                     : f->type == VMS_U64 || f->type == VMS_I64 || f->type == VMS_TIMER ? 8 : 1;
            for (size_t b = 0; b < w; b++) {
                ScalarAt at = { pos + b, b ? NULL : f->name };
                g_array_append_val(out, at);
            }
            pos += w;
        }
    }
    return pos;
}

static GArray *scalar_positions(const char *cls, const GByteArray *s)
{
    const DeviceClass *dc = device_class_find(cls);
    g_assert_nonnull(dc);
    size_t cl = s->data[4] | s->data[5] << 8;
    size_t il = s->data[6 + cl] | s->data[7 + cl] << 8;
    GArray *out = g_array_new(FALSE, FALSE, sizeof(ScalarAt));
    size_t end = walk_fields(dc->vmsd, s->data, 8 + cl + il + 4, out);
    g_assert_cmpuint(end, ==, s->len - 4);
    return out;
}

/* Where the nth element (0: the first) named name begins in the section. */
static size_t field_at(GArray *pos, const char *name, unsigned nth)
{
    for (guint k = 0; k < pos->len; k++) {
        ScalarAt *a = &g_array_index(pos, ScalarAt, k);
        if (a->name && !strcmp(a->name, name) && !nth--)
            return a->pos;
    }
    g_error("no field %s in the section", name);
}

/* ---- IDE ---- */

#define BM 0xc000
#define RAM (4u << 20)
#define IMG_SIZE (256 * 1024)

typedef struct IdeRig {
    Vm *vm;
    Device *dev;
    PciBus *bus;
    char *dir;
    VmConfig *cfg;
    TestLine lines[16];
    IrqLine isa[16];
} IdeRig;

/* A disk on the primary master and a CD on the secondary master, each rig with its own
 * copies of the same images (DMA the hostile cases start may write to them). */
static void ide_rig_init(IdeRig *r)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(RAM);
    r->dir = g_dir_make_tmp("vireo-vms-ide-XXXXXX", NULL);
    g_autofree char *disk = g_build_filename(r->dir, "d.img", NULL);
    g_autofree char *cd = g_build_filename(r->dir, "cd.iso", NULL);
    g_autofree uint8_t *data = g_malloc(IMG_SIZE);
    for (size_t i = 0; i < IMG_SIZE; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9) + (i >> 11) * 3);
    g_assert_true(g_file_set_contents(disk, (char *)data, IMG_SIZE, NULL));
    g_assert_true(g_file_set_contents(cd, (char *)data, IMG_SIZE, NULL));
    r->cfg = vm_config_new();
    DriveConfig *d = drive_config_new();
    d->file = g_strdup(disk);
    d->format = g_strdup("raw");
    d->index = 0;
    g_ptr_array_add(r->cfg->drives, d);
    d = drive_config_new();
    d->file = g_strdup(cd);
    d->media = DRIVE_MEDIA_CDROM;
    d->index = 2;
    g_ptr_array_add(r->cfg->drives, d);
    for (int i = 0; i < 16; i++)
        r->isa[i] = test_line(&r->lines[i]);
    GError *err = NULL;
    vm_lock(r->vm);
    r->bus = pci_bus_new(r->vm);
    g_assert_nonnull(piix_ide_new(r->vm, r->bus, PCI_DEVFN(1, 1), r->isa, r->cfg, &err));
    g_assert_no_error(err);
    pci_config_write(r->bus, PCI_DEVFN(1, 1), 0x20, BM, 4);
    pci_config_write(r->bus, PCI_DEVFN(1, 1), 0x40, 0x80008000, 4);
    pci_config_write(r->bus, PCI_DEVFN(1, 1), PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MASTER, 2);
    vm_unlock(r->vm);
    r->dev = device_find(r->vm, "ide");
    g_assert_nonnull(r->dev);
    g_assert_cmpstr(r->dev->klass->name, ==, "piix3-ide");
}

static void ide_rig_free(IdeRig *r)
{
    vm_free(r->vm);
    vm_config_free(r->cfg);
    GDir *d = g_dir_open(r->dir, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(r->dir, n, NULL);
        g_unlink(p);
    }
    g_dir_close(d);
    g_rmdir(r->dir);
    g_free(r->dir);
}

static void ide_log_state(IdeRig *r, GString *log, const char *tag)
{
    g_string_append_printf(log, "%s: st0=%02x st1=%02x err0=%02x err1=%02x bm0=%02x bm1=%02x irq14=%d/%d irq15=%d/%d\n",
                           tag, rd(r->vm, 0x3f6, 1), rd(r->vm, 0x376, 1), rd(r->vm, 0x1f1, 1),
                           rd(r->vm, 0x171, 1), rd(r->vm, BM + 2, 1), rd(r->vm, BM + 10, 1),
                           r->lines[14].level, r->lines[14].rises, r->lines[15].level, r->lines[15].rises);
}

/* n data words from a channel: a checksum, the first and last. */
static void ide_log_words(IdeRig *r, uint16_t base, unsigned n, GString *log)
{
    uint32_t sum = 0, first = 0, last = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t w = rd(r->vm, base, 2);
        sum = sum * 31 + w;
        if (!i)
            first = w;
        last = w;
    }
    g_string_append_printf(log, "words %x*%u: %04x..%04x sum %08x\n", base, n, first, last, sum);
}

static void ide_log_mem(IdeRig *r, hwaddr a, size_t len, GString *log)
{
    g_autofree uint8_t *b = g_malloc(len);
    vm_lock(r->vm);
    mem_read(vm_mem(r->vm), a, b, len);
    vm_unlock(r->vm);
    g_string_append_printf(log, "mem %" G_GINT64_MODIFIER "x: %08lx\n", (gint64)a, crc32(0L, b, (uInt)len));
}

static void ide_prd(IdeRig *r, int ch, hwaddr table, uint32_t buf, uint32_t len)
{
    vm_lock(r->vm);
    mem_stl(vm_mem(r->vm), table, buf);
    mem_stl(vm_mem(r->vm), table + 4, 0x80000000u | (len & 0xfffe));
    vm_unlock(r->vm);
    wr(r->vm, BM + 8 * ch + 4, (uint32_t)table, 4);
}

static void ide_packet(IdeRig *r, bool dma, uint16_t limit, const uint8_t cdb[12])
{
    wr(r->vm, 0x176, 0xa0, 1);
    wr(r->vm, 0x171, dma ? 1 : 0, 1);
    wr(r->vm, 0x174, limit & 0xff, 1);
    wr(r->vm, 0x175, limit >> 8, 1);
    wr(r->vm, 0x177, 0xa0, 1);
    for (int i = 0; i < 6; i++)
        wr(r->vm, 0x170, cdb[2 * i] | cdb[2 * i + 1] << 8, 2);
}

static void ide_ata(IdeRig *r, uint8_t cmd, uint32_t lba, uint8_t count)
{
    wr(r->vm, 0x1f6, 0xe0 | ((lba >> 24) & 0x0f), 1);
    wr(r->vm, 0x1f2, count, 1);
    wr(r->vm, 0x1f3, lba & 0xff, 1);
    wr(r->vm, 0x1f4, (lba >> 8) & 0xff, 1);
    wr(r->vm, 0x1f5, (lba >> 16) & 0xff, 1);
    wr(r->vm, 0x1f7, cmd, 1);
}

/* The disk's DMA completes on the block layer's pool: poll as a driver would. */
static void ide_wait_bm(IdeRig *r, int ch)
{
    for (int i = 0; i < 5000 && !(rd(r->vm, BM + 8 * ch + 2, 1) & 0x04); i++)
        g_usleep(1000);
}

/* Primary: READ SECTORS of 3 sectors, one and a half read. Secondary: the tray locked,
 * then READ(10) of 2 sectors by DMA, the PRD table set and the bus master not started. */
static void ide_setup_mid(IdeRig *r)
{
    ide_ata(r, 0x20, 5, 3);
    for (int i = 0; i < 256 + 128; i++)
        rd(r->vm, 0x1f0, 2);
    static const uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 };
    ide_packet(r, false, 0, lock);
    rd(r->vm, 0x177, 1);
    ide_prd(r, 1, 0x1000, 0x30000, 4096);
    wr(r->vm, BM + 8, 0x08, 1);
    static const uint8_t read10[12] = { 0x28, 0, 0, 0, 0, 3, 0, 0, 2 };
    ide_packet(r, true, 0, read10);
}

static void ide_script_mid(IdeRig *r, GString *log)
{
    ide_log_state(r, log, "restored");
    ide_log_words(r, 0x1f0, 128 + 256 + 256, log); /* the rest of sector 1, sectors 2 and 3 */
    ide_log_state(r, log, "pio done");
    rd(r->vm, 0x1f7, 1);
    wr(r->vm, BM + 8, 0x09, 1); /* the CD's DMA runs */
    ide_log_state(r, log, "cd dma");
    ide_log_mem(r, 0x30000, 4096, log);
    rd(r->vm, 0x177, 1);
    wr(r->vm, BM + 8, 0x00, 1);
    static const uint8_t eject[12] = { 0x1b, 0, 0, 0, 2 };
    ide_packet(r, false, 0, eject); /* refused: the tray is locked */
    ide_log_state(r, log, "eject");
    static const uint8_t sense[12] = { 0x03, 0, 0, 0, 18 };
    ide_packet(r, false, 18, sense);
    ide_log_state(r, log, "sense");
    ide_log_words(r, 0x170, 9, log);
    /* A disk DMA after the restore: 8 sectors at LBA 10 into 0x40000. */
    wr(r->vm, BM + 2, 0x06, 1);
    ide_prd(r, 0, 0x2000, 0x40000, 4096);
    wr(r->vm, BM, 0x08, 1);
    ide_ata(r, 0xc8, 10, 8);
    wr(r->vm, BM, 0x09, 1);
    ide_wait_bm(r, 0);
    ide_log_state(r, log, "disk dma");
    ide_log_mem(r, 0x40000, 4096, log);
}

/* A disk DMA started just before the save: the save must wait for it. */
static void ide_setup_inflight(IdeRig *r)
{
    ide_prd(r, 0, 0x2000, 0x50000, 32 * 512);
    wr(r->vm, BM, 0x08, 1);
    ide_ata(r, 0xc8, 100, 32);
    wr(r->vm, BM, 0x09, 1);
}

static void ide_script_inflight(IdeRig *r, GString *log)
{
    ide_log_state(r, log, "restored"); /* BSY gone, interrupt pending: drained */
    rd(r->vm, 0x1f7, 1);
    wr(r->vm, BM, 0x00, 1);
    wr(r->vm, BM + 2, 0x06, 1);
    ide_ata(r, 0x20, 7, 1);
    ide_log_words(r, 0x1f0, 256, log);
    ide_log_state(r, log, "pio");
}

static void ide_copy_ram(IdeRig *from, IdeRig *to)
{
    g_autofree uint8_t *ram = g_malloc(RAM);
    vm_lock(from->vm);
    mem_read(vm_mem(from->vm), 0, ram, RAM);
    vm_unlock(from->vm);
    vm_lock(to->vm);
    mem_write(vm_mem(to->vm), 0, ram, RAM);
    vm_unlock(to->vm);
    /* Edges seen so far are the set-up's; the scripts count their own. */
    for (int i = 0; i < 16; i++)
        from->lines[i].rises = to->lines[i].rises = 0;
}

typedef void (*IdeSetup)(IdeRig *r);
typedef void (*IdeScript)(IdeRig *r, GString *log);

static void ide_round_trip(IdeSetup setup, IdeScript script, const char *must_see)
{
    IdeRig a, b;
    ide_rig_init(&a);
    setup(&a);
    g_autoptr(GByteArray) s = save_dev(a.vm, a.dev);
    ide_rig_init(&b);
    GError *err = NULL;
    g_assert_true(load_dev(b.vm, b.dev, s->data, s->len, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = save_dev(b.vm, b.dev);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    for (int i = 14; i <= 15; i++)
        g_assert_cmpint(a.lines[i].level, ==, b.lines[i].level);
    /* Guest RAM (the PRD tables) is the whole-VM stream's part, not the device's. */
    ide_copy_ram(&a, &b);
    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    script(&a, la);
    script(&b, lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    if (must_see && !strstr(la->str, must_see))
        g_error("IDE script output lacks '%s':\n%s", must_see, la->str);
    ide_rig_free(&a);
    ide_rig_free(&b);
}

static void test_ide_mid(void)
{
    /* The CD's DMA finished with the bus master inactive and its interrupt bit set. */
    ide_round_trip(ide_setup_mid, ide_script_mid, "cd dma: st0=50 st1=50 err0=00 err1=00 bm0=04 bm1=04");
}

static void test_ide_inflight(void)
{
    /* After the drained DMA: drive ready, bus master done, IRQ 14 up. */
    ide_round_trip(ide_setup_inflight, ide_script_inflight, "restored: st0=50");
}

/* A script for states of unknown shape: touches every path and may not block. */
static void ide_poke(IdeRig *r)
{
    rd(r->vm, 0x1f7, 1);
    rd(r->vm, 0x177, 1);
    for (int i = 0; i < 8; i++) {
        rd(r->vm, 0x1f0, 2);
        rd(r->vm, 0x170, 2);
    }
    for (int i = 0; i < 6; i++) {
        wr(r->vm, 0x1f0, 0x1234, 2);
        wr(r->vm, 0x170, 0x0028, 2);
    }
    wr(r->vm, BM, 0x09, 1);
    wr(r->vm, BM + 8, 0x09, 1);
    rd(r->vm, BM + 2, 1);
    vm_lock(r->vm);
    device_drain(r->dev);
    vm_unlock(r->vm);
}

/* Loads buf and expects a one-line error; check_unchanged compares whole saves. */
static void expect_rejected(Vm *vm, Device *d, const uint8_t *buf, size_t len, const char *want,
                            bool check_unchanged)
{
    g_autoptr(GByteArray) before = check_unchanged ? save_dev(vm, d) : NULL;
    GError *err = NULL;
    g_assert_false(load_dev(vm, d, buf, len, &err));
    g_assert_nonnull(err);
    g_assert_null(strchr(err->message, '\n'));
    if (want && !strstr(err->message, want))
        g_error("error '%s' lacks '%s'", err->message, want);
    g_error_free(err);
    if (check_unchanged) {
        g_autoptr(GByteArray) after = save_dev(vm, d);
        g_assert_cmpmem(before->data, before->len, after->data, after->len);
    }
}

static void test_ide_bad(void)
{
    IdeRig a, b;
    ide_rig_init(&a);
    ide_setup_mid(&a);
    g_autoptr(GByteArray) s = save_dev(a.vm, a.dev);
    ide_rig_init(&b);
    g_autoptr(GByteArray) ref = save_dev(b.vm, b.dev);
    g_autofree uint8_t *buf = g_malloc(s->len + 1);

    /* Truncated at every byte, one byte too many, bits flipped. The state is compared
     * whole every 64th case and at the end (a save scans 512 KiB of buffers). */
    for (size_t n = 0; n < s->len; n++)
        expect_rejected(b.vm, b.dev, s->data, n, NULL, n % 64 == 0);
    memcpy(buf, s->data, s->len);
    buf[s->len] = 0;
    expect_rejected(b.vm, b.dev, buf, s->len + 1, "trailing", true);
    for (size_t i = 0; i < s->len; i += i < 2048 ? 1 : 7) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, s->data, s->len);
            buf[i] ^= (uint8_t)(1u << bit);
            expect_rejected(b.vm, b.dev, buf, s->len, NULL, false);
        }
    }
    g_autoptr(GByteArray) still = save_dev(b.vm, b.dev);
    g_assert_cmpmem(ref->data, ref->len, still->data, still->len);

    /* Out-of-range values the check must name (drive 0 is the disk, 2 the CD). */
    g_autoptr(GArray) pos = scalar_positions("piix3-ide", s);
    struct { size_t at; uint8_t v; bool flip; const char *want; } bad[] = {
        { field_at(pos, "saved_kind", 0), 2, false, "another kind of drive" },
        { field_at(pos, "saved_nsectors", 0), 1, true, "another image or medium" },
        { field_at(pos, "saved_medium", 2), 0, false, "another image or medium" },
        { field_at(pos, "cur_heads", 0), 17, false, "translation geometry" },
        { field_at(pos, "multiple", 0), 3, false, "power of two" },
        { field_at(pos, "mdma_mode", 0), 3, false, "DMA mode" },
        { field_at(pos, "pos", 0) + 1, 0x10, false, "PIO position" },
        { field_at(pos, "end", 0) + 2, 0x02, false, "PIO position" },
        { field_at(pos, "end_fn", 0), 4, false, "ATAPI transfer on a disk" },
        { field_at(pos, "end_fn", 0), 9, false, "outside 0..4" },
        { field_at(pos, "block", 0), 17, false, "outside 0..16" },
        { field_at(pos, "remaining", 0) + 2, 0x01, false, "outside the disk" },
        { field_at(pos, "xfer_end", 2) + 2, 0x03, false, "ATAPI reply outside" },
        { field_at(pos, "cd_remaining", 2), 200, false, "read outside the medium" },
        { field_at(pos, "byte_limit", 2), 3, false, "byte count limit" },
        { field_at(pos, "sense_key", 2), 0x10, false, "outside 0..15" },
        { field_at(pos, "pci_config", 0), 0x87, false, "read-only bits" },
        { field_at(pos, "status", 0), 0x80, false, "reserved bits" }, /* bm0 */
        { field_at(pos, "cur_left", 0) + 2, 0x02, false, "descriptors used" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        memcpy(buf, s->data, s->len);
        if (bad[i].flip)
            buf[bad[i].at] ^= bad[i].v;
        else
            buf[bad[i].at] = bad[i].v;
        fix_crc(buf, s->len);
        expect_rejected(b.vm, b.dev, buf, s->len, bad[i].want, true);
    }

    /* Every scalar byte replaced by values a hostile writer could choose: refused with
     * the state unchanged, or accepted and the device runs (under ASan in CI). */
    static const uint8_t values[] = { 0x00, 0x01, 0x07, 0x10, 0x80, 0xff };
    unsigned accepted = 0, refused = 0;
    for (guint k = 0; k < pos->len; k++) {
        size_t i = g_array_index(pos, ScalarAt, k).pos;
        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            if (s->data[i] == values[v])
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] = values[v];
            fix_crc(buf, s->len);
            GError *err = NULL;
            if (load_dev(b.vm, b.dev, buf, s->len, &err)) {
                accepted++;
                ide_poke(&b);
            } else {
                refused++;
                g_assert_null(strchr(err->message, '\n'));
                g_error_free(err);
            }
        }
    }
    g_test_message("piix3-ide: %u hostile streams refused, %u accepted and run", refused, accepted);
    g_assert_cmpuint(refused, >, 0);
    g_assert_true(load_dev(b.vm, b.dev, s->data, s->len, NULL));
    ide_rig_free(&a);
    ide_rig_free(&b);
}

/* ---- VGA ---- */

#define LFB_BASE 0xe0000000u
#define VGA_DEVFN PCI_DEVFN(2, 0)

typedef struct VgaRig {
    Vm *vm;
    Device *dev;
    IoSpace *io;
    GuestMemory *mem;
    DisplayClient *client;
} VgaRig;

static void vga_rig_init(VgaRig *r)
{
    memset(r, 0, sizeof(*r));
    r->vm = vm_new_for_test(0);
    r->io = vm_io(r->vm);
    r->mem = vm_mem(r->vm);
    GError *err = NULL;
    vm_lock(r->vm);
    PciBus *bus = pci_bus_new(r->vm);
    g_assert_nonnull(vga_pci_new(r->vm, bus, VGA_DEVFN, NULL, &err));
    g_assert_no_error(err);
    vm_unlock(r->vm);
    r->dev = device_find(r->vm, "vga");
    g_assert_nonnull(r->dev);
    g_assert_cmpstr(r->dev->klass->name, ==, "VGA");
    r->client = display_client_new(vm_display_console(r->vm));
}

/* What the setup does to the PCI side: the fresh VM must get it from the stream. */
static void vga_pci_setup(VgaRig *r)
{
    wr(r->vm, 0xcf8, 0x80000000u | VGA_DEVFN << 8 | PCI_BAR0, 4);
    wr(r->vm, 0xcfc, LFB_BASE, 4);
    wr(r->vm, 0xcf8, 0x80000000u | VGA_DEVFN << 8 | PCI_COMMAND, 4);
    wr(r->vm, 0xcfc, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 4);
}

static void vga_rig_free(VgaRig *r)
{
    display_client_free(r->client);
    vm_free(r->vm);
}

static void memw(VgaRig *r, hwaddr a, uint8_t v)
{
    vm_lock(r->vm);
    mem_dispatch_write(r->mem, a, v, 1);
    vm_unlock(r->vm);
}

static uint8_t memr(VgaRig *r, hwaddr a)
{
    vm_lock(r->vm);
    uint8_t v = (uint8_t)mem_dispatch_read(r->mem, a, 1);
    vm_unlock(r->vm);
    return v;
}

/* The screendump: its size and a checksum of every pixel. */
static void vga_log_screen(VgaRig *r, GString *log)
{
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface;
    DisplaySurface *surf = display_client_refresh(r->client, &dirty, &new_surface);
    pixman_region32_fini(&dirty);
    const uint32_t *bits = pixman_image_get_data(surf->image);
    size_t stride = (size_t)pixman_image_get_stride(surf->image) / 4;
    uLong c = crc32(0L, NULL, 0);
    uint32_t nonblack = 0;
    for (int y = 0; y < surf->height; y++) {
        for (int x = 0; x < surf->width; x++) {
            uint32_t p = bits[(size_t)y * stride + x] & 0xffffff;
            nonblack += p != 0;
            c = crc32(c, (const Bytef *)&p, 4);
        }
    }
    g_string_append_printf(log, "screen %dx%d crc %08lx non-black %u\n", surf->width, surf->height, c, nonblack);
}

static void vga_log_regs(VgaRig *r, GString *log)
{
    g_string_append(log, "regs");
    for (uint8_t i = 0; i < 8; i++) {
        wr(r->vm, 0x3c4, i, 1);
        g_string_append_printf(log, " sr%x=%02x", i, rd(r->vm, 0x3c5, 1));
    }
    for (uint8_t i = 0; i < 9; i++) {
        wr(r->vm, 0x3ce, i, 1);
        g_string_append_printf(log, " gr%x=%02x", i, rd(r->vm, 0x3cf, 1));
    }
    for (uint8_t i = 0; i < 0x19; i++) {
        wr(r->vm, 0x3d4, i, 1);
        g_string_append_printf(log, " cr%x=%02x", i, rd(r->vm, 0x3d5, 1));
    }
    g_string_append_printf(log, " misc=%02x dacst=%02x dacw=%02x mask=%02x\n", rd(r->vm, 0x3cc, 1),
                           rd(r->vm, 0x3c7, 1), rd(r->vm, 0x3c8, 1), rd(r->vm, 0x3c6, 1));
}

/* Mode 12h (640x480, 16 colours) with drawing in write modes 0 and 2, a DAC read stopped
 * after the red of entry 5, the attribute controller waiting for the data of AR11
 * (flip-flop set) and the latches loaded by a read. */
static void vga_setup_planar(VgaRig *r)
{
    vga_pci_setup(r);
    vga_test_set_mode(r->io, &vga_mode_12);
    for (unsigned i = 0; i < 256; i++)
        vga_test_set_dac(r->io, i, (uint8_t)(i & 63), (uint8_t)((i * 3 + 7) & 63), (uint8_t)((i * 7 + 1) & 63));
    vga_test_set_dac(r->io, 5, 10, 40, 20);
    /* Write mode 2: colour 14 across a band, colour 1 under a bit mask. */
    wr(r->vm, 0x3ce, 0x05, 1);
    wr(r->vm, 0x3cf, 0x02, 1);
    for (uint32_t a = 0; a < 80 * 40; a++)
        memw(r, 0xa0000 + 80 * 100 + a, 14);
    wr(r->vm, 0x3ce, 0x08, 1);
    wr(r->vm, 0x3cf, 0x5a, 1);
    for (uint32_t a = 0; a < 80 * 20; a++)
        memw(r, 0xa0000 + 80 * 300 + a, 1);
    /* Write mode 0 with set/reset off: plane bytes through the map mask. */
    wr(r->vm, 0x3ce, 0x05, 1);
    wr(r->vm, 0x3cf, 0x00, 1);
    wr(r->vm, 0x3ce, 0x08, 1);
    wr(r->vm, 0x3cf, 0xff, 1);
    wr(r->vm, 0x3c4, 0x02, 1);
    wr(r->vm, 0x3c5, 0x05, 1);
    for (uint32_t a = 0; a < 80 * 10; a++)
        memw(r, 0xa0000 + 80 * 400 + a, (uint8_t)(a * 13));
    wr(r->vm, 0x3c5, 0x0f, 1);
    memr(r, 0xa0000 + 80 * 100 + 3); /* latches: colour 14 */
    wr(r->vm, 0x3c7, 5, 1);
    rd(r->vm, 0x3c9, 1);
    rd(r->vm, 0x3da, 1);
    wr(r->vm, 0x3c0, 0x31, 1);
}

static void vga_script_planar(VgaRig *r, GString *log)
{
    vga_log_screen(r, log);
    uint32_t g = rd(r->vm, 0x3c9, 1), b = rd(r->vm, 0x3c9, 1);
    g_string_append_printf(log, "dac5 g=%02x b=%02x\n", g, b);
    wr(r->vm, 0x3c0, 0x07, 1); /* overscan, since the flip-flop waits for data */
    wr(r->vm, 0x3c0, 0x31, 1);
    g_string_append_printf(log, "ar11=%02x\n", rd(r->vm, 0x3c1, 1));
    wr(r->vm, 0x3c0, 0x20, 1);
    /* Write mode 1 copies the latches the setup's read loaded. */
    wr(r->vm, 0x3ce, 0x05, 1);
    wr(r->vm, 0x3cf, 0x01, 1);
    for (uint32_t a = 0; a < 80 * 8; a++)
        memw(r, 0xa0000 + 80 * 200 + a, 0);
    /* Read mode 1: colour compare against 14. */
    wr(r->vm, 0x3ce, 0x05, 1);
    wr(r->vm, 0x3cf, 0x08, 1);
    wr(r->vm, 0x3ce, 0x02, 1);
    wr(r->vm, 0x3cf, 0x0e, 1);
    g_string_append_printf(log, "compare %02x %02x\n", memr(r, 0xa0000 + 80 * 200 + 5), memr(r, 0xa0000));
    vga_log_regs(r, log);
    vga_log_screen(r, log);
}

/* VBE 800x600x32 through the LFB and 8 bpp banked writes first, then panned. */
static void vga_setup_vbe(VgaRig *r)
{
    vga_pci_setup(r);
    vga_test_vbe(r->io, 4, 0);
    vga_test_vbe(r->io, 1, 800);
    vga_test_vbe(r->io, 2, 600);
    vga_test_vbe(r->io, 3, 32);
    vga_test_vbe(r->io, 4, 0x41);
    for (uint32_t y = 0; y < 600; y += 3)
        for (uint32_t x = 0; x < 800; x += 5)
            for (int c = 0; c < 3; c++)
                memw(r, LFB_BASE + (y * 800 + x) * 4 + c, (uint8_t)(x * (c + 1) + y));
    /* Through the banked window: bank 3 is the 64 KiB from 192 KiB on. */
    vga_test_vbe(r->io, 5, 3);
    for (uint32_t a = 0; a < 0x1000; a++)
        memw(r, 0xa0000 + a, (uint8_t)(a ^ 0x5a));
    vga_test_vbe(r->io, 9, 2); /* Y offset */
    wr(r->vm, 0x1ce, 1, 2);    /* the index left at XRES */
}

static void vga_script_vbe(VgaRig *r, GString *log)
{
    vga_log_screen(r, log);
    g_string_append_printf(log, "vbe idx=%x", rd(r->vm, 0x1ce, 2));
    for (uint16_t i = 0; i < 11; i++) {
        wr(r->vm, 0x1ce, i, 2);
        g_string_append_printf(log, " %x", rd(r->vm, 0x1cf, 2));
    }
    g_string_append_c(log, '\n');
    /* The LFB BAR must be where the stream says: writes through it show up. */
    for (uint32_t x = 0; x < 800; x++)
        memw(r, LFB_BASE + (10 * 800 + x) * 4 + 1, 0xff);
    g_string_append_printf(log, "lfb %02x banked %02x\n", memr(r, LFB_BASE + 0x30000 + 7), memr(r, 0xa0000 + 7));
    vga_log_screen(r, log);
    vga_test_vbe(r->io, 4, 0); /* back to the VGA */
    vga_log_screen(r, log);
}

typedef void (*VgaSetup)(VgaRig *r);
typedef void (*VgaScript)(VgaRig *r, GString *log);

static void vga_round_trip(VgaSetup setup, VgaScript script, const char *must_see)
{
    VgaRig a, b;
    vga_rig_init(&a);
    setup(&a);
    g_autoptr(GString) sa = g_string_new(NULL), sb = g_string_new(NULL);
    vga_log_screen(&a, sa); /* a front end already showed the picture */
    g_autoptr(GByteArray) s = save_dev(a.vm, a.dev);
    /* Zero pages are skipped: far less than 16 MiB. */
    g_assert_cmpuint(s->len, <, 4u << 20);
    vga_rig_init(&b);
    GError *err = NULL;
    g_assert_true(load_dev(b.vm, b.dev, s->data, s->len, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = save_dev(b.vm, b.dev);
    g_assert_cmpmem(s->data, s->len, s2->data, s2->len);
    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    script(&a, la);
    script(&b, lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    if (must_see && !strstr(la->str, must_see))
        g_error("VGA script output lacks '%s':\n%s", must_see, la->str);
    vga_rig_free(&a);
    vga_rig_free(&b);
}

static void test_vga_planar(void)
{
    vga_round_trip(vga_setup_planar, vga_script_planar, "dac5 g=28 b=14");
}

static void test_vga_vbe(void)
{
    vga_round_trip(vga_setup_vbe, vga_script_vbe, "screen 800x600");
}

static void test_vga_bad(void)
{
    VgaRig a, b;
    vga_rig_init(&a);
    vga_setup_planar(&a);
    g_autoptr(GByteArray) s = save_dev(a.vm, a.dev);
    vga_rig_init(&b);
    g_autoptr(GByteArray) ref = save_dev(b.vm, b.dev);
    g_autofree uint8_t *buf = g_malloc(s->len + 1);

    /* The registers (before video memory) truncated at every byte, the rest at a
     * stride; bits flipped in the registers and a sample of the pages. */
    size_t hdr = 8 + strlen("VGA") + strlen("vga") + 4;
    size_t regs_end = hdr + 2048;
    for (size_t n = 0; n < s->len; n += n < regs_end ? 1 : 4093)
        expect_rejected(b.vm, b.dev, s->data, n, NULL, n % 512 == 0);
    memcpy(buf, s->data, s->len);
    buf[s->len] = 0;
    expect_rejected(b.vm, b.dev, buf, s->len + 1, "trailing", true);
    for (size_t i = 0; i < s->len; i += i < regs_end ? 1 : 1021) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, s->data, s->len);
            buf[i] ^= (uint8_t)(1u << bit);
            expect_rejected(b.vm, b.dev, buf, s->len, NULL, false);
        }
    }
    g_autoptr(GByteArray) still = save_dev(b.vm, b.dev);
    g_assert_cmpmem(ref->data, ref->len, still->data, still->len);

    g_autoptr(GArray) pos = scalar_positions("VGA", s);
    size_t vbe = field_at(pos, "vbe_regs", 0);
    struct { size_t at; uint8_t v; const char *want; } bad[] = {
        { field_at(pos, "sr_index", 0), 8, "register index" },
        { field_at(pos, "gr_index", 0), 0x10, "register index" },
        { field_at(pos, "cr_index", 0), 0x40, "register index" },
        { field_at(pos, "ar_index", 0), 0x40, "register index" },
        { field_at(pos, "sr", 1), 0xff, "sequencer register" },
        { field_at(pos, "dac_component", 0), 3, "DAC sub-index" },
        { field_at(pos, "dac_state", 0), 1, "DAC state" },
        { vbe + 2 * 3, 7, "VBE depth" },
        { vbe + 2 * 5 + 1, 0x01, "VBE bank" }, /* bank 256 */
        { vbe + 2 * 4, 0x01, "VBE enabled without a mode" },
        { vbe + 1, 0x12, "VBE id" },
        { field_at(pos, "pci_config", 0x0a), 0x01, "read-only bits" }, /* class */
        { field_at(pos, "ar_flipflop", 0), 2, "not a boolean" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        memcpy(buf, s->data, s->len);
        buf[bad[i].at] = bad[i].v;
        fix_crc(buf, s->len);
        expect_rejected(b.vm, b.dev, buf, s->len, bad[i].want, true);
    }
    size_t regs_first = field_at(pos, "misc", 0), dac_first = field_at(pos, "dac", 0);
    size_t dac_last = field_at(pos, "dac", 767);

    /* Hostile values on the register fields (the PCI space and the DAC are left out:
     * a guest writes any value there anyway, and each accepted load copies 16 MiB). */
    static const uint8_t values[] = { 0x00, 0x07, 0x80, 0xff };
    unsigned accepted = 0, refused = 0;
    for (guint k = 0; k < pos->len; k++) {
        size_t i = g_array_index(pos, ScalarAt, k).pos;
        if (i < regs_first || (i >= dac_first && i <= dac_last))
            continue;
        for (size_t v = 0; v < G_N_ELEMENTS(values); v++) {
            if (s->data[i] == values[v])
                continue;
            memcpy(buf, s->data, s->len);
            buf[i] = values[v];
            fix_crc(buf, s->len);
            GError *err = NULL;
            if (load_dev(b.vm, b.dev, buf, s->len, &err)) {
                accepted++;
                g_autoptr(GString) ignored = g_string_new(NULL);
                vga_log_screen(&b, ignored);
                rd(b.vm, 0x3c9, 1);
                rd(b.vm, 0x3c1, 1);
                rd(b.vm, 0x3d5, 1);
                rd(b.vm, 0x1cf, 2);
                wr(b.vm, 0x3c9, 0x3f, 1);
                wr(b.vm, 0x3c5, 0x0f, 1);
                memw(&b, 0xa0000 + 1234, 0x55);
                memr(&b, 0xa8000);
            } else {
                refused++;
                g_assert_null(strchr(err->message, '\n'));
                g_error_free(err);
            }
        }
    }
    g_test_message("VGA: %u hostile streams refused, %u accepted and run", refused, accepted);
    g_assert_cmpuint(refused, >, 0);
    vga_rig_free(&a);
    vga_rig_free(&b);
}

/* The whole device list of a VM with both: one stream, one load. */
static void test_device_list(void)
{
    IdeRig a, b;
    ide_rig_init(&a);
    ide_rig_init(&b);
    GError *err = NULL;
    vm_lock(a.vm);
    g_assert_nonnull(vga_pci_new(a.vm, a.bus, VGA_DEVFN, NULL, &err));
    vm_unlock(a.vm);
    vm_lock(b.vm);
    g_assert_nonnull(vga_pci_new(b.vm, b.bus, VGA_DEVFN, NULL, &err));
    vm_unlock(b.vm);
    ide_setup_inflight(&a);
    wr(a.vm, 0x3c4, 0x02, 1);
    wr(a.vm, 0x3c5, 0x0a, 1);
    g_autoptr(GByteArray) s = g_byte_array_new();
    vm_lock(a.vm);
    device_list_save(a.vm, s);
    vm_unlock(a.vm);
    vm_lock(b.vm);
    g_assert_true(device_list_load(b.vm, s->data, s->len, &err));
    vm_unlock(b.vm);
    g_assert_no_error(err);
    ide_copy_ram(&a, &b);
    g_autoptr(GString) la = g_string_new(NULL), lb = g_string_new(NULL);
    ide_script_inflight(&a, la);
    ide_script_inflight(&b, lb);
    g_assert_cmpstr(la->str, ==, lb->str);
    wr(b.vm, 0x3c4, 0x02, 1);
    g_assert_cmpuint(rd(b.vm, 0x3c5, 1), ==, 0x0a);
    ide_rig_free(&a);
    ide_rig_free(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate-ide-vga/ide/mid-transfer", test_ide_mid);
    g_test_add_func("/vmstate-ide-vga/ide/dma-in-flight", test_ide_inflight);
    g_test_add_func("/vmstate-ide-vga/ide/bad", test_ide_bad);
    g_test_add_func("/vmstate-ide-vga/vga/planar", test_vga_planar);
    g_test_add_func("/vmstate-ide-vga/vga/vbe", test_vga_vbe);
    g_test_add_func("/vmstate-ide-vga/vga/bad", test_vga_bad);
    g_test_add_func("/vmstate-ide-vga/device-list", test_device_list);
    return g_test_run();
}
