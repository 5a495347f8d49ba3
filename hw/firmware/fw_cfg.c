/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fw_cfg: a selector register picks an item, the data register streams its bytes, and the
 * DMA interface copies items straight into guest memory from a descriptor the guest
 * builds (big-endian control, length, address). */
#include "hw/firmware/fw_cfg.h"

#include <string.h>

#define FW_CFG_ITEMS 0x10000
#define FW_CFG_MAX_FILES 256

/* DMA control bits. */
enum {
    DMA_ERROR = 1u << 0,
    DMA_READ = 1u << 1,
    DMA_SKIP = 1u << 2,
    DMA_SELECT = 1u << 3,
    DMA_WRITE = 1u << 4,
};

/* The traditional and DMA interfaces are both present (FW_CFG_ID bits 0 and 1). */
#define FW_CFG_VERSION 0x3
/* Reading the DMA address register returns this signature ("QEMU CFG"). */
#define FW_CFG_DMA_SIGNATURE UINT64_C(0x51454d5520434647)

typedef struct FwCfgItem {
    GBytes *data;
    uint8_t *wbuf; /* writable copy, when the guest may write */
    FwCfgWriteFn write_fn;
    void *write_opaque;
    char name[FW_CFG_MAX_FILE_NAME];
} FwCfgItem;

struct FwCfgState {
    Device dev;
    Vm *vm;
    uint32_t iobase;  /* wiring, set by fw_cfg_new */
    FwCfgItem *items; /* FW_CFG_ITEMS entries, built by the board: not saved */
    uint16_t cur;
    uint32_t offset;
    uint16_t nfiles;
    uint64_t dma_addr;
};

static size_t item_len(const FwCfgItem *it)
{
    return it->data ? g_bytes_get_size(it->data) : 0;
}

static const uint8_t *item_ptr(const FwCfgItem *it)
{
    if (it->wbuf)
        return it->wbuf;
    return it->data ? g_bytes_get_data(it->data, NULL) : NULL;
}

static void item_set(FwCfgState *s, uint16_t key, GBytes *data)
{
    FwCfgItem *it = &s->items[key];
    if (it->data)
        g_bytes_unref(it->data);
    g_free(it->wbuf);
    it->wbuf = NULL;
    it->data = data;
}

void fw_cfg_add_bytes(FwCfgState *s, uint16_t key, GBytes *data)
{
    item_set(s, key, data);
}

void fw_cfg_add_i16(FwCfgState *s, uint16_t key, uint16_t value)
{
    uint16_t le = GUINT16_TO_LE(value);
    item_set(s, key, g_bytes_new(&le, sizeof(le)));
}

void fw_cfg_add_i32(FwCfgState *s, uint16_t key, uint32_t value)
{
    uint32_t le = GUINT32_TO_LE(value);
    item_set(s, key, g_bytes_new(&le, sizeof(le)));
}

void fw_cfg_add_i64(FwCfgState *s, uint16_t key, uint64_t value)
{
    uint64_t le = GUINT64_TO_LE(value);
    item_set(s, key, g_bytes_new(&le, sizeof(le)));
}

/* Rebuilds the directory item: a big-endian count, then {size, select, reserved, name}
 * records sorted by name, as SeaBIOS expects. */
static void rebuild_directory(FwCfgState *s)
{
    GArray *sel = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    for (uint16_t i = 0; i < s->nfiles; i++) {
        uint16_t k = FW_CFG_FILE_FIRST + i;
        g_array_append_val(sel, k);
    }
    /* Insertion sort by name: there are few files. */
    for (guint i = 1; i < sel->len; i++) {
        for (guint j = i; j > 0; j--) {
            uint16_t *a = &g_array_index(sel, uint16_t, j - 1), *b = &g_array_index(sel, uint16_t, j);
            if (strcmp(s->items[*a].name, s->items[*b].name) <= 0)
                break;
            uint16_t t = *a;
            *a = *b;
            *b = t;
        }
    }
    size_t len = 4 + (size_t)sel->len * 64;
    uint8_t *dir = g_malloc0(len);
    uint32_t count = GUINT32_TO_BE(sel->len);
    memcpy(dir, &count, 4);
    for (guint i = 0; i < sel->len; i++) {
        uint16_t k = g_array_index(sel, uint16_t, i);
        uint8_t *rec = dir + 4 + i * 64;
        uint32_t size = GUINT32_TO_BE((uint32_t)item_len(&s->items[k]));
        uint16_t bsel = GUINT16_TO_BE(k);
        memcpy(rec, &size, 4);
        memcpy(rec + 4, &bsel, 2);
        memcpy(rec + 8, s->items[k].name, FW_CFG_MAX_FILE_NAME);
    }
    g_array_free(sel, TRUE);
    item_set(s, FW_CFG_FILE_DIR, g_bytes_new_take(dir, len));
}

static uint16_t file_find(FwCfgState *s, const char *name)
{
    for (uint16_t i = 0; i < s->nfiles; i++)
        if (!strcmp(s->items[FW_CFG_FILE_FIRST + i].name, name))
            return FW_CFG_FILE_FIRST + i;
    return 0;
}

uint16_t fw_cfg_add_file_writable(FwCfgState *s, const char *name, GBytes *data,
                                  FwCfgWriteFn fn, void *opaque)
{
    g_assert(strlen(name) < FW_CFG_MAX_FILE_NAME);
    uint16_t key = file_find(s, name);
    if (!key) {
        g_assert(s->nfiles < FW_CFG_MAX_FILES);
        key = FW_CFG_FILE_FIRST + s->nfiles++;
    }
    item_set(s, key, data);
    FwCfgItem *it = &s->items[key];
    g_strlcpy(it->name, name, sizeof(it->name));
    it->write_fn = fn;
    it->write_opaque = opaque;
    if (fn)
        it->wbuf = g_memdup2(g_bytes_get_data(data, NULL), MAX(g_bytes_get_size(data), 1));
    rebuild_directory(s);
    return key;
}

uint16_t fw_cfg_add_file(FwCfgState *s, const char *name, GBytes *data)
{
    return fw_cfg_add_file_writable(s, name, data, NULL, NULL);
}

GBytes *fw_cfg_get_file(FwCfgState *s, const char *name)
{
    uint16_t k = file_find(s, name);
    return k ? s->items[k].data : NULL;
}

static void select_item(FwCfgState *s, uint16_t key)
{
    s->cur = key;
    s->offset = 0;
    VLOG(LOG_FWCFG, "select 0x%04x%s%s", key, s->items[key].name[0] ? " " : "", s->items[key].name);
}

/* ---- traditional interface ---- */

static uint32_t ctl_read(void *opaque, uint32_t off, unsigned size)
{
    return 0; /* the selector register is write-only */
}

static void ctl_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    select_item(opaque, (uint16_t)value);
}

static uint32_t data_read(void *opaque, uint32_t off, unsigned size)
{
    FwCfgState *s = opaque;
    FwCfgItem *it = &s->items[s->cur];
    size_t len = item_len(it);
    const uint8_t *p = item_ptr(it);
    uint32_t v = 0;
    /* Wider reads return consecutive bytes, the first in the low byte. */
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = s->offset < len ? p[s->offset++] : 0;
        v |= (uint32_t)b << (8 * i);
    }
    return v;
}

static void data_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    /* Writes through the data port were removed from the interface; ignore them. */
}

static const PortOps ctl_ops = { .read = ctl_read, .write = ctl_write, .min_size = 2, .max_size = 2 };
static const PortOps data_ops = { .read = data_read, .write = data_write, .min_size = 1, .max_size = 4 };

/* ---- DMA interface ---- */

static void dma_transfer(FwCfgState *s, hwaddr desc)
{
    GuestMemory *m = vm_mem(s->vm);
    struct { uint32_t control, length; uint64_t address; } d;
    if (!mem_read(m, desc, &d, sizeof(d))) {
        VLOG(LOG_GUEST, "fw_cfg: DMA descriptor at 0x%" G_GINT64_MODIFIER "x is outside RAM", desc);
        return;
    }
    uint32_t control = GUINT32_FROM_BE(d.control);
    uint32_t length = GUINT32_FROM_BE(d.length);
    uint64_t addr = GUINT64_FROM_BE(d.address);
    if (control & DMA_SELECT)
        select_item(s, (uint16_t)(control >> 16));
    FwCfgItem *it = &s->items[s->cur];
    size_t len = item_len(it);
    bool error = false;
    if (control & DMA_READ) {
        const uint8_t *p = item_ptr(it);
        /* Copy what the item has, then zeros up to the requested length. */
        uint32_t avail = s->offset < len ? (uint32_t)MIN((size_t)length, len - s->offset) : 0;
        if (avail && !mem_write(m, addr, p + s->offset, avail))
            error = true;
        if (length > avail) {
            static const uint8_t zeros[4096];
            for (uint32_t done = avail; done < length && !error;) {
                uint32_t n = MIN(length - done, (uint32_t)sizeof(zeros));
                error = !mem_write(m, addr + done, zeros, n);
                done += n;
            }
        }
        s->offset += avail;
    } else if (control & DMA_WRITE) {
        if (!it->wbuf || s->offset + (uint64_t)length > len) {
            error = true;
        } else if (!mem_read(m, addr, it->wbuf + s->offset, length)) {
            error = true;
        } else {
            s->offset += length;
            if (it->write_fn)
                it->write_fn(it->write_opaque, it->name, it->wbuf, len);
        }
    } else if (control & DMA_SKIP) {
        s->offset = (uint32_t)MIN((uint64_t)len, (uint64_t)s->offset + length);
    }
    if (error)
        VLOG(LOG_GUEST, "fw_cfg: DMA to/from 0x%" G_GINT64_MODIFIER "x (%u bytes) failed", addr, length);
    uint32_t done = GUINT32_TO_BE(error ? DMA_ERROR : 0);
    mem_write(m, desc, &done, sizeof(done));
}

static uint32_t dma_read(void *opaque, uint32_t off, unsigned size)
{
    /* Big-endian signature; byte i of the 8-byte register is at port 0x514 + i. */
    uint64_t be = GUINT64_TO_BE(FW_CFG_DMA_SIGNATURE);
    uint32_t v = 0;
    memcpy(&v, (uint8_t *)&be + off, size);
    return v;
}

static void dma_write(void *opaque, uint32_t off, uint32_t value, unsigned size)
{
    FwCfgState *s = opaque;
    /* The register is big-endian; the guest writes the high half at 0x514 and the low
     * half at 0x518, which starts the transfer. */
    uint8_t bytes[8];
    uint64_t be = GUINT64_TO_BE(s->dma_addr);
    memcpy(bytes, &be, 8);
    memcpy(bytes + off, &value, size);
    memcpy(&be, bytes, 8);
    s->dma_addr = GUINT64_FROM_BE(be);
    if (off + size == 8) {
        dma_transfer(s, s->dma_addr);
        s->dma_addr = 0;
    }
}

static const PortOps dma_ops = { .read = dma_read, .write = dma_write, .min_size = 1, .max_size = 4 };

static void fw_cfg_reset(Device *dev)
{
    FwCfgState *s = (FwCfgState *)dev;
    select_item(s, FW_CFG_SIGNATURE);
    s->dma_addr = 0;
}

static bool fw_cfg_realize(Device *dev, GError **err)
{
    FwCfgState *s = (FwCfgState *)dev;
    Vm *vm = dev->vm;
    s->vm = vm;
    s->items = g_new0(FwCfgItem, FW_CFG_ITEMS);
    item_set(s, FW_CFG_SIGNATURE, g_bytes_new_static("QEMU", 4));
    fw_cfg_add_i32(s, FW_CFG_ID, FW_CFG_VERSION);
    rebuild_directory(s);
    uint16_t base = (uint16_t)s->iobase;
    io_add(vm_io(vm), "fw_cfg-ctl", base, 2, &ctl_ops, s);
    io_add(vm_io(vm), "fw_cfg-data", base + 1, 1, &data_ops, s);
    io_add(vm_io(vm), "fw_cfg-dma", base + 4, 8, &dma_ops, s);
    return true;
}

static void fw_cfg_unrealize(Device *dev)
{
    FwCfgState *s = (FwCfgState *)dev;
    for (unsigned i = 0; i < FW_CFG_ITEMS; i++) {
        if (s->items[i].data)
            g_bytes_unref(s->items[i].data);
        g_free(s->items[i].wbuf);
    }
    g_free(s->items);
}

/* The items are this VM's (the board built them), so the saved position must lie
 * within this VM's item of that key: a stream from a VM with another kernel, ACPI
 * tables or file list could otherwise point past the end. An empty key is valid at
 * offset 0, as after the guest selects a key nobody defined. */
static bool fw_cfg_check(const void *state, GError **err)
{
    const FwCfgState *s = state;
    size_t len = item_len(&s->items[s->cur]);
    if (s->offset > len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "fw_cfg item 0x%04x is read up to %u, but it has %zu bytes in this VM", s->cur,
                    s->offset, len);
        return false;
    }
    return true;
}

/* Guest-written copies of writable files (wbuf) are not saved: the board adds none. */
static const VmStateField fw_cfg_fields[] = {
    VMSTATE_U16(FwCfgState, cur),
    VMSTATE_U32(FwCfgState, offset),
    VMSTATE_U64(FwCfgState, dma_addr),
    VMSTATE_END,
};

static const VmStateDesc fw_cfg_vmsd = {
    .name = "fw_cfg",
    .version = 1,
    .fields = fw_cfg_fields,
    .check = fw_cfg_check,
};

static const DeviceClass fw_cfg_class = {
    .name = "fw_cfg_io",
    .description = "QEMU firmware configuration interface (I/O ports, with DMA)",
    .instance_size = sizeof(FwCfgState),
    .vmsd = &fw_cfg_vmsd,
    .realize = fw_cfg_realize,
    .reset = fw_cfg_reset,
    .unrealize = fw_cfg_unrealize,
};

__attribute__((constructor)) static void fw_cfg_register(void)
{
    device_class_register(&fw_cfg_class);
}

FwCfgState *fw_cfg_new(Vm *vm, uint16_t base)
{
    FwCfgState *s = (FwCfgState *)device_new(vm, fw_cfg_class.name, "fw_cfg", NULL);
    g_assert(s);
    s->iobase = base;
    if (!device_realize(DEVICE(s), NULL))
        g_assert_not_reached();
    return s;
}
