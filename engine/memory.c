/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest physical memory map. Main RAM is one anonymous mapping; the low part sits at
 * guest 0 up to the PCI hole, the rest at 4 GiB. Regions (ROM, video memory, MMIO)
 * live in a priority-ordered list; a per-page table of host pointers is rebuilt for
 * the pages a change touches, so the CPU's fast path is one array load. */
#include "engine/memory.h"
#include "engine/log.h"
#include "engine/config.h"

#include <string.h>
#include <sys/mman.h>

#define PAGES_32 (UINT64_C(1) << (32 - MEM_PAGE_BITS))
#define LOW_WINDOW_START 0xA0000u
#define LOW_WINDOW_END 0x100000u
#define LOW_WINDOW_PAGES ((LOW_WINDOW_END - LOW_WINDOW_START) >> MEM_PAGE_BITS)

enum { WIN_READ = 1, WIN_WRITE = 2 };

struct MemRegion {
    GuestMemory *owner;
    char *name;
    hwaddr base;
    uint64_t size;
    const MemOps *ops; /* NULL for RAM-backed */
    void *opaque;
    uint8_t *host;
    bool readonly;
    bool enabled;
    bool dirty_log;
    int priority;
    unsigned seq;      /* insertion order: later wins among equal priorities */
    unsigned long *dirty; /* one bit per page, when dirty_log */
};

typedef struct MemoryImpl {
    GuestMemory pub; /* first: GuestMemory* and MemoryImpl* are interchangeable */
    uint8_t *ram;
    uint64_t ram_size, below_4g;
    GPtrArray *regions; /* sorted: highest priority first */
    GPtrArray *listeners;
    unsigned next_seq;
    uint8_t low_window[LOW_WINDOW_PAGES];
} MemoryImpl;

static inline MemoryImpl *impl(const GuestMemory *m)
{
    return (MemoryImpl *)m;
}

GuestMemory *mem_new(uint64_t ram_size, GError **err)
{
    /* The memory map keeps the upper half of the physical address space for MMIO. */
    G_STATIC_ASSERT(VM_RAM_MAX <= (UINT64_C(1) << MEM_PHYS_BITS) / 2);
    if (ram_size < VM_RAM_MIN || ram_size > VM_RAM_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "RAM size %" G_GUINT64_FORMAT " MiB is out of range (%d MiB to %d GiB)",
                    ram_size >> 20, VM_RAM_MIN_MIB, VM_RAM_MAX_GIB);
        return NULL;
    }
    ram_size = (ram_size + MEM_PAGE_SIZE - 1) & MEM_PAGE_MASK;
    MemoryImpl *mi = g_new0(MemoryImpl, 1);
    mi->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mi->ram == MAP_FAILED) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                    "cannot allocate %" G_GUINT64_FORMAT " MiB of guest RAM", ram_size >> 20);
        g_free(mi);
        return NULL;
    }
    madvise(mi->ram, ram_size, MADV_MERGEABLE);
    mi->ram_size = ram_size;
    /* As QEMU's pc: everything below 4 GiB when it fits under 3.5 GiB, else 3 GiB low. */
    mi->below_4g = ram_size < UINT64_C(0xE0000000) ? ram_size : UINT64_C(0xC0000000);
    mi->pub.ram_high = mi->ram + mi->below_4g;
    mi->pub.ram_above_4g = ram_size - mi->below_4g;

    mi->pub.read_page = g_new0(uint8_t *, PAGES_32);
    mi->pub.write_page = g_new0(uint8_t *, PAGES_32);
    mi->pub.page_flags = g_new0(uint8_t, PAGES_32);
    mi->pub.page_writers = g_new0(_Atomic uint32_t, PAGES_32);
    mi->regions = g_ptr_array_new();
    mi->listeners = g_ptr_array_new();
    memset(mi->low_window, 0, sizeof(mi->low_window));

    /* Initial table: all of low RAM except the closed legacy window. */
    uint64_t pages = mi->below_4g >> MEM_PAGE_BITS;
    for (uint64_t p = 0; p < pages; p++) {
        hwaddr a = p << MEM_PAGE_BITS;
        if (a >= LOW_WINDOW_START && a < LOW_WINDOW_END)
            continue;
        mi->pub.read_page[p] = mi->ram + a;
        mi->pub.write_page[p] = mi->ram + a;
    }
    return &mi->pub;
}

void mem_free(GuestMemory *m)
{
    if (!m)
        return;
    MemoryImpl *mi = impl(m);
    for (guint i = 0; i < mi->regions->len; i++) {
        MemRegion *r = mi->regions->pdata[i];
        g_free(r->name);
        g_free(r->dirty);
        g_free(r);
    }
    g_ptr_array_free(mi->regions, TRUE);
    g_ptr_array_free(mi->listeners, TRUE);
    munmap(mi->ram, mi->ram_size);
    g_free(m->read_page);
    g_free(m->write_page);
    g_free(m->page_flags);
    g_free((void *)m->page_writers);
    g_free(mi);
}

uint8_t *mem_host_alloc(size_t size)
{
    size = (size + MEM_PAGE_SIZE - 1) & ~(size_t)(MEM_PAGE_SIZE - 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        g_error("out of memory allocating %zu bytes of guest-visible memory", size);
    return p;
}

void mem_host_free(uint8_t *p, size_t size)
{
    if (p)
        munmap(p, (size + MEM_PAGE_SIZE - 1) & ~(size_t)(MEM_PAGE_SIZE - 1));
}

uint64_t mem_ram_size(const GuestMemory *m) { return impl(m)->ram_size; }
uint64_t mem_ram_below_4g(const GuestMemory *m) { return impl(m)->below_4g; }
uint8_t *mem_ram_low(const GuestMemory *m) { return impl(m)->ram; }

void mem_add_listener(GuestMemory *m, const MemListener *l)
{
    g_ptr_array_add(impl(m)->listeners, (gpointer)l);
}

void mem_remove_listener(GuestMemory *m, const MemListener *l)
{
    g_ptr_array_remove(impl(m)->listeners, (gpointer)l);
}

static void notify_map_changed(MemoryImpl *mi)
{
    __atomic_add_fetch(&mi->pub.generation, 1, __ATOMIC_RELEASE);
    for (guint i = 0; i < mi->listeners->len; i++) {
        const MemListener *l = mi->listeners->pdata[i];
        if (l->map_changed)
            l->map_changed(l->opaque);
    }
}

/* Is main RAM reachable at pa for this kind of access? */
static inline bool ram_claims(const MemoryImpl *mi, hwaddr pa, unsigned kind)
{
    if (pa < mi->below_4g) {
        if (pa >= LOW_WINDOW_START && pa < LOW_WINDOW_END)
            return mi->low_window[(pa - LOW_WINDOW_START) >> MEM_PAGE_BITS] & kind;
        return true;
    }
    return pa >= (UINT64_C(1) << 32) && pa - (UINT64_C(1) << 32) < mi->pub.ram_above_4g;
}

static inline uint8_t *ram_host(const MemoryImpl *mi, hwaddr pa)
{
    return pa < mi->below_4g ? mi->ram + pa : mi->pub.ram_high + (pa - (UINT64_C(1) << 32));
}

/* Highest-priority enabled region containing pa. */
static MemRegion *region_at(const MemoryImpl *mi, hwaddr pa)
{
    for (guint i = 0; i < mi->regions->len; i++) {
        MemRegion *r = mi->regions->pdata[i];
        if (r->enabled && pa >= r->base && pa - r->base < r->size)
            return r;
    }
    return NULL;
}

/* Highest-priority enabled region overlapping the page, and whether it covers it all. */
static MemRegion *region_for_page(const MemoryImpl *mi, hwaddr page, bool *whole)
{
    for (guint i = 0; i < mi->regions->len; i++) {
        MemRegion *r = mi->regions->pdata[i];
        if (!r->enabled || r->base >= page + MEM_PAGE_SIZE || r->base + r->size <= page)
            continue;
        *whole = r->base <= page && r->base + r->size >= page + MEM_PAGE_SIZE;
        return r;
    }
    *whole = false;
    return NULL;
}

static void rebuild_pages(MemoryImpl *mi, hwaddr start, hwaddr end)
{
    if (start >= (UINT64_C(1) << 32))
        return;
    if (end > (UINT64_C(1) << 32))
        end = UINT64_C(1) << 32;
    GuestMemory *m = &mi->pub;
    for (hwaddr page = start & MEM_PAGE_MASK; page < end; page += MEM_PAGE_SIZE) {
        uint64_t pfn = page >> MEM_PAGE_BITS;
        bool whole;
        MemRegion *r = region_for_page(mi, page, &whole);
        uint8_t *rd = NULL, *wr = NULL;
        bool dirty_log = false;
        if (r && whole && r->host) {
            rd = r->host + (page - r->base);
            if (!r->readonly)
                wr = rd;
            dirty_log = r->dirty_log;
        } else if (r) {
            rd = wr = NULL; /* sub-page or MMIO: slow path sorts it out */
        }
        if (ram_claims(mi, page, WIN_READ))
            rd = ram_host(mi, page);
        if (ram_claims(mi, page, WIN_WRITE)) {
            wr = ram_host(mi, page);
            dirty_log = false;
        }
        m->read_page[pfn] = rd;
        m->write_page[pfn] = wr;
        /* Only the dirty-log bit is ours here; the CPU sets MEM_PAGE_CODE concurrently, so
         * touch the byte with atomic bit operations rather than a load and a store. */
        if (dirty_log)
            __atomic_fetch_or(&m->page_flags[pfn], MEM_PAGE_DIRTY_LOG, __ATOMIC_RELAXED);
        else
            __atomic_fetch_and(&m->page_flags[pfn], (uint8_t)~MEM_PAGE_DIRTY_LOG, __ATOMIC_RELAXED);
    }
}

static gint region_order(gconstpointer a, gconstpointer b)
{
    const MemRegion *ra = *(MemRegion *const *)a, *rb = *(MemRegion *const *)b;
    if (ra->priority != rb->priority)
        return ra->priority > rb->priority ? -1 : 1;
    return ra->seq > rb->seq ? -1 : (ra->seq < rb->seq);
}

static MemRegion *region_add(GuestMemory *m, const char *name, hwaddr base, uint64_t size,
                             int priority)
{
    MemoryImpl *mi = impl(m);
    MemRegion *r = g_new0(MemRegion, 1);
    r->owner = m;
    r->name = g_strdup(name);
    r->base = base;
    r->size = size;
    r->priority = priority;
    r->enabled = true;
    r->seq = mi->next_seq++;
    g_ptr_array_add(mi->regions, r);
    g_ptr_array_sort(mi->regions, region_order);
    return r;
}

MemRegion *mem_add_mmio(GuestMemory *m, const char *name, hwaddr base, uint64_t size,
                        const MemOps *ops, void *opaque, int priority)
{
    MemRegion *r = region_add(m, name, base, size, priority);
    r->ops = ops;
    r->opaque = opaque;
    rebuild_pages(impl(m), base, base + size);
    notify_map_changed(impl(m));
    return r;
}

MemRegion *mem_add_ram(GuestMemory *m, const char *name, hwaddr base, uint64_t size,
                       uint8_t *host, bool readonly, int priority)
{
    g_assert(((uintptr_t)host & (MEM_PAGE_SIZE - 1)) == 0);
    MemRegion *r = region_add(m, name, base, size, priority);
    r->host = host;
    r->readonly = readonly;
    rebuild_pages(impl(m), base, base + size);
    notify_map_changed(impl(m));
    return r;
}

void mem_region_set_base(MemRegion *r, hwaddr base)
{
    if (r->base == base)
        return;
    hwaddr old = r->base;
    r->base = base;
    if (r->enabled) {
        rebuild_pages(impl(r->owner), old, old + r->size);
        rebuild_pages(impl(r->owner), base, base + r->size);
        notify_map_changed(impl(r->owner));
    }
}

void mem_region_set_enabled(MemRegion *r, bool enabled)
{
    if (r->enabled == enabled)
        return;
    r->enabled = enabled;
    rebuild_pages(impl(r->owner), r->base, r->base + r->size);
    notify_map_changed(impl(r->owner));
}

void mem_region_remove(MemRegion *r)
{
    MemoryImpl *mi = impl(r->owner);
    g_ptr_array_remove(mi->regions, r);
    rebuild_pages(mi, r->base, r->base + r->size);
    notify_map_changed(mi);
    g_free(r->name);
    g_free(r->dirty);
    g_free(r);
}

hwaddr mem_region_base(const MemRegion *r) { return r->base; }
uint64_t mem_region_size(const MemRegion *r) { return r->size; }
bool mem_region_enabled(const MemRegion *r) { return r->enabled; }
const char *mem_region_name(const MemRegion *r) { return r->name; }
uint8_t *mem_region_host(const MemRegion *r) { return r->host; }
bool mem_region_readonly(const MemRegion *r) { return r->readonly; }

static size_t dirty_longs(const MemRegion *r)
{
    uint64_t pages = (r->size + MEM_PAGE_SIZE - 1) >> MEM_PAGE_BITS;
    return (pages + 8 * sizeof(unsigned long) - 1) / (8 * sizeof(unsigned long));
}

void mem_region_set_dirty_log(MemRegion *r, bool on)
{
    g_assert(r->host);
    if (r->dirty_log == on)
        return;
    r->dirty_log = on;
    if (on && !r->dirty) {
        r->dirty = g_new(unsigned long, dirty_longs(r));
        /* Everything counts as changed when logging starts. */
        memset(r->dirty, 0xff, dirty_longs(r) * sizeof(unsigned long));
    }
    rebuild_pages(impl(r->owner), r->base, r->base + r->size);
    notify_map_changed(impl(r->owner));
}

void mem_region_mark_dirty(MemRegion *r, hwaddr offset, size_t len)
{
    if (!r->dirty_log || len == 0 || offset >= r->size)
        return;
    if (len > r->size - offset)
        len = r->size - offset;
    const unsigned bits = 8 * sizeof(unsigned long);
    for (uint64_t p = offset >> MEM_PAGE_BITS; p <= (offset + len - 1) >> MEM_PAGE_BITS; p++)
        __atomic_or_fetch(&r->dirty[p / bits], 1ul << (p % bits), __ATOMIC_RELAXED);
}

void mem_region_dirty_harvest(MemRegion *r, unsigned long *bitmap)
{
    MemoryImpl *mi = impl(r->owner);
    for (guint i = 0; i < mi->listeners->len; i++) {
        const MemListener *l = mi->listeners->pdata[i];
        if (l->dirty_sync)
            l->dirty_sync(l->opaque, r);
    }
    size_t n = dirty_longs(r);
    for (size_t i = 0; i < n; i++)
        bitmap[i] = __atomic_exchange_n(&r->dirty[i], 0, __ATOMIC_ACQ_REL);
    /* The CPU marks a page dirty when it caches a write pointer for it; dropping those
     * pointers makes the next write mark it again. */
    __atomic_add_fetch(&mi->pub.generation, 1, __ATOMIC_RELEASE);
    for (guint i = 0; i < mi->listeners->len; i++) {
        const MemListener *l = mi->listeners->pdata[i];
        if (l->dirty_harvested)
            l->dirty_harvested(l->opaque, r);
        else if (l->map_changed)
            l->map_changed(l->opaque);
    }
}

MemRegion *mem_dirty_region_at(GuestMemory *m, hwaddr pa)
{
    MemRegion *r = region_at(impl(m), pa);
    return r && r->dirty_log ? r : NULL;
}

bool mem_set_code_page(GuestMemory *m, hwaddr pa, bool code)
{
    if (pa >= (UINT64_C(1) << 32))
        return false;
    uint64_t pfn = pa >> MEM_PAGE_BITS;
    /* Atomic: map rebuilds on another thread update the dirty-log bit of the same byte,
     * and other vCPUs mark and unmark pages. */
    uint8_t old;
    if (code)
        old = __atomic_fetch_or(&m->page_flags[pfn], MEM_PAGE_CODE, __ATOMIC_SEQ_CST);
    else
        old = __atomic_fetch_and(&m->page_flags[pfn], (uint8_t)~MEM_PAGE_CODE, __ATOMIC_SEQ_CST);
    return old & MEM_PAGE_CODE;
}

uint32_t mem_take_page_writers(GuestMemory *m, hwaddr pa)
{
    if (pa >= (UINT64_C(1) << 32))
        return 0;
    return atomic_exchange(&m->page_writers[pa >> MEM_PAGE_BITS], 0);
}

void mem_set_ram_window(GuestMemory *m, hwaddr base, uint64_t size, bool read_ram, bool write_ram)
{
    MemoryImpl *mi = impl(m);
    g_assert(base >= LOW_WINDOW_START && base + size <= LOW_WINDOW_END);
    uint8_t v = (read_ram ? WIN_READ : 0) | (write_ram ? WIN_WRITE : 0);
    bool changed = false;
    for (hwaddr a = base; a < base + size; a += MEM_PAGE_SIZE) {
        uint8_t *w = &mi->low_window[(a - LOW_WINDOW_START) >> MEM_PAGE_BITS];
        changed |= *w != v;
        *w = v;
    }
    if (changed) {
        rebuild_pages(mi, base, base + size);
        notify_map_changed(mi);
    }
}

/* ---- slow path ---- */

static uint64_t region_read(MemRegion *r, hwaddr off, unsigned size);
static void region_write(MemRegion *r, hwaddr off, uint64_t v, unsigned size);

static uint64_t mmio_read_split(MemRegion *r, hwaddr off, unsigned size)
{
    unsigned min = r->ops->min_size ? r->ops->min_size : 1;
    unsigned max = r->ops->max_size ? r->ops->max_size : 4;
    if (size >= min && size <= max && (off & (size - 1)) == 0)
        return r->ops->read(r->opaque, off, size);
    if (size > max || (off & (size - 1))) {
        /* Split into the widest accesses the device takes. */
        /* Too wide: the widest units the device takes. Misaligned: byte by byte, each
         * through the narrow path below when the device takes no bytes (a unit of min
         * bytes here would be the same misaligned access again). */
        unsigned step = size > max ? max : 1;
        uint64_t v = 0;
        for (unsigned i = 0; i < size; i += step)
            v |= mmio_read_split(r, off + i, step) << (8 * i);
        return v;
    }
    /* Narrower than the device accepts: read the aligned unit and pick bytes. */
    hwaddr aligned = off & ~(hwaddr)(min - 1);
    uint64_t wide = r->ops->read(r->opaque, aligned, min);
    unsigned shift = 8 * (unsigned)(off - aligned);
    return (wide >> shift) & (size == 8 ? ~UINT64_C(0) : ((UINT64_C(1) << (8 * size)) - 1));
}

static void mmio_write_split(MemRegion *r, hwaddr off, uint64_t v, unsigned size)
{
    if (size < 8)
        v &= (UINT64_C(1) << (8 * size)) - 1;
    unsigned min = r->ops->min_size ? r->ops->min_size : 1;
    unsigned max = r->ops->max_size ? r->ops->max_size : 4;
    if (size >= min && size <= max && (off & (size - 1)) == 0) {
        r->ops->write(r->opaque, off, v, size);
        return;
    }
    if (size > max || (off & (size - 1))) {
        /* Too wide: the widest units the device takes. Misaligned: byte by byte, each
         * through the narrow path below when the device takes no bytes (a unit of min
         * bytes here would be the same misaligned access again). */
        unsigned step = size > max ? max : 1;
        for (unsigned i = 0; i < size; i += step)
            mmio_write_split(r, off + i, v >> (8 * i), step);
        return;
    }
    /* Narrower than the device accepts: read-modify-write the aligned unit. */
    hwaddr aligned = off & ~(hwaddr)(min - 1);
    uint64_t wide = r->ops->read(r->opaque, aligned, min);
    unsigned shift = 8 * (unsigned)(off - aligned);
    uint64_t mask = ((UINT64_C(1) << (8 * size)) - 1) << shift;
    r->ops->write(r->opaque, aligned, (wide & ~mask) | ((v << shift) & mask), min);
}

static uint64_t region_read(MemRegion *r, hwaddr off, unsigned size)
{
    if (r->host) {
        uint64_t v = 0;
        memcpy(&v, r->host + off, size);
        return v;
    }
    return mmio_read_split(r, off, size);
}

static void region_write(MemRegion *r, hwaddr off, uint64_t v, unsigned size)
{
    if (r->host) {
        if (!r->readonly) {
            memcpy(r->host + off, &v, size);
            mem_region_mark_dirty(r, off, size);
        }
        return;
    }
    mmio_write_split(r, off, v, size);
}

static void report_code_write(MemoryImpl *mi, hwaddr addr, size_t len)
{
    for (guint i = 0; i < mi->listeners->len; i++) {
        const MemListener *l = mi->listeners->pdata[i];
        if (l->code_written)
            l->code_written(l->opaque, addr, len);
    }
}

void mem_report_code_write(GuestMemory *m, hwaddr addr, size_t len)
{
    report_code_write(impl(m), addr, len);
}

void mem_ram_replaced(GuestMemory *m)
{
    MemoryImpl *mi = impl(m);
    report_code_write(mi, 0, mi->below_4g);
    if (mi->pub.ram_above_4g)
        report_code_write(mi, UINT64_C(1) << 32, mi->pub.ram_above_4g);
    notify_map_changed(mi);
}

uint64_t mem_dispatch_read(GuestMemory *m, hwaddr addr, unsigned size)
{
    MemoryImpl *mi = impl(m);
    if (ram_claims(mi, addr, WIN_READ) && ram_claims(mi, addr + size - 1, WIN_READ)) {
        uint64_t v = 0;
        memcpy(&v, ram_host(mi, addr), size);
        return v;
    }
    MemRegion *r = region_at(mi, addr);
    if (r && addr + size <= r->base + r->size && !ram_claims(mi, addr + size - 1, WIN_READ))
        return region_read(r, addr - r->base, size);
    if (!r && !ram_claims(mi, addr + size - 1, WIN_READ) && !region_at(mi, addr + size - 1)) {
        VLOG(LOG_MMIO, "unassigned read%u at 0x%" G_GINT64_MODIFIER "x", size * 8, addr);
        return size == 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * size)) - 1;
    }
    /* Straddles two owners: byte by byte. */
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= mem_dispatch_read(m, addr + i, 1) << (8 * i);
    return v;
}

void mem_dispatch_write(GuestMemory *m, hwaddr addr, uint64_t value, unsigned size)
{
    MemoryImpl *mi = impl(m);
    if (ram_claims(mi, addr, WIN_WRITE) && ram_claims(mi, addr + size - 1, WIN_WRITE)) {
        memcpy(ram_host(mi, addr), &value, size);
        if (mem_page_flags(m, addr) & MEM_PAGE_CODE || mem_page_flags(m, addr + size - 1) & MEM_PAGE_CODE)
            report_code_write(mi, addr, size);
        return;
    }
    MemRegion *r = region_at(mi, addr);
    if (r && addr + size <= r->base + r->size && !ram_claims(mi, addr + size - 1, WIN_WRITE)) {
        region_write(r, addr - r->base, value, size);
        if (r->host && (mem_page_flags(m, addr) & MEM_PAGE_CODE))
            report_code_write(mi, addr, size);
        return;
    }
    if (!r && !ram_claims(mi, addr + size - 1, WIN_WRITE) && !region_at(mi, addr + size - 1)) {
        VLOG(LOG_MMIO, "unassigned write%u at 0x%" G_GINT64_MODIFIER "x = 0x%" G_GINT64_MODIFIER "x",
             size * 8, addr, value);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        mem_dispatch_write(m, addr + i, (value >> (8 * i)) & 0xff, 1);
}

/* ---- device and loader access ---- */

/* Host pointer for [addr, addr+len) inside one page, or NULL. rom: allow ROM writes. */
static uint8_t *dma_ptr(MemoryImpl *mi, hwaddr addr, bool write, bool rom, MemRegion **dirty)
{
    *dirty = NULL;
    unsigned kind = write ? WIN_WRITE : WIN_READ;
    if (ram_claims(mi, addr, kind))
        return ram_host(mi, addr);
    MemRegion *r = region_at(mi, addr);
    if (!r || !r->host || (write && r->readonly && !rom))
        return NULL;
    if (r->dirty_log && write)
        *dirty = r;
    return r->host + (addr - r->base);
}

static bool mem_access(GuestMemory *m, hwaddr addr, uint8_t *buf, size_t len, bool write, bool rom)
{
    MemoryImpl *mi = impl(m);
    bool ok = true;
    while (len > 0) {
        size_t chunk = MEM_PAGE_SIZE - (addr & (MEM_PAGE_SIZE - 1));
        if (chunk > len)
            chunk = len;
        /* A region may end inside the page: never copy past its end. */
        MemRegion *dirty;
        uint8_t *p = dma_ptr(mi, addr, write, rom, &dirty);
        if (p && !ram_claims(mi, addr, write ? WIN_WRITE : WIN_READ)) {
            MemRegion *r = region_at(mi, addr);
            uint64_t left = r->base + r->size - addr;
            if (chunk > left)
                chunk = left;
        } else if (p && addr < mi->below_4g && addr + chunk > mi->below_4g) {
            chunk = mi->below_4g - addr;
        }
        if (!p) {
            ok = false;
            VLOG(LOG_GUEST, "DMA %s outside RAM at 0x%" G_GINT64_MODIFIER "x",
                 write ? "write" : "read", addr);
            if (!write)
                memset(buf, 0xff, 1);
            chunk = 1;
        } else if (write) {
            memcpy(p, buf, chunk);
            if (dirty)
                mem_region_mark_dirty(dirty, addr - dirty->base, chunk);
            if (mem_page_flags(m, addr) & MEM_PAGE_CODE)
                report_code_write(mi, addr, chunk);
        } else {
            memcpy(buf, p, chunk);
        }
        addr += chunk;
        buf += chunk;
        len -= chunk;
    }
    return ok;
}

bool mem_read(GuestMemory *m, hwaddr addr, void *buf, size_t len)
{
    return mem_access(m, addr, buf, len, false, false);
}

bool mem_write(GuestMemory *m, hwaddr addr, const void *buf, size_t len)
{
    return mem_access(m, addr, (uint8_t *)buf, len, true, false);
}

bool mem_write_rom(GuestMemory *m, hwaddr addr, const void *buf, size_t len)
{
    return mem_access(m, addr, (uint8_t *)buf, len, true, true);
}

bool mem_is_ram(const GuestMemory *m, hwaddr addr, uint64_t len)
{
    const MemoryImpl *mi = impl(m);
    if (len == 0)
        return true;
    if (addr + len < addr)
        return false;
    if (addr + len <= mi->below_4g)
        return true;
    hwaddr four = UINT64_C(1) << 32;
    return addr >= four && addr - four + len <= mi->pub.ram_above_4g;
}

uint8_t mem_ldub(GuestMemory *m, hwaddr a) { uint8_t v; mem_read(m, a, &v, 1); return v; }
uint16_t mem_lduw(GuestMemory *m, hwaddr a) { uint16_t v; mem_read(m, a, &v, 2); return GUINT16_FROM_LE(v); }
uint32_t mem_ldl(GuestMemory *m, hwaddr a) { uint32_t v; mem_read(m, a, &v, 4); return GUINT32_FROM_LE(v); }
uint64_t mem_ldq(GuestMemory *m, hwaddr a) { uint64_t v; mem_read(m, a, &v, 8); return GUINT64_FROM_LE(v); }
void mem_stb(GuestMemory *m, hwaddr a, uint8_t v) { mem_write(m, a, &v, 1); }
void mem_stw(GuestMemory *m, hwaddr a, uint16_t v) { v = GUINT16_TO_LE(v); mem_write(m, a, &v, 2); }
void mem_stl(GuestMemory *m, hwaddr a, uint32_t v) { v = GUINT32_TO_LE(v); mem_write(m, a, &v, 4); }
void mem_stq(GuestMemory *m, hwaddr a, uint64_t v) { v = GUINT64_TO_LE(v); mem_write(m, a, &v, 8); }

void mem_for_each_ram_run(GuestMemory *m, MemRunFn fn, void *opaque)
{
    MemoryImpl *mi = impl(m);
    hwaddr run_start = 0;
    uint8_t *run_host = NULL;
    bool run_writable = false;
    uint64_t run_len = 0;
    for (uint64_t pfn = 0; pfn < PAGES_32; pfn++) {
        uint8_t *rd = m->read_page[pfn];
        bool writable = rd && m->write_page[pfn] == rd && !(m->page_flags[pfn] & MEM_PAGE_DIRTY_LOG);
        hwaddr a = pfn << MEM_PAGE_BITS;
        if (run_host && rd == run_host + run_len && writable == run_writable) {
            run_len += MEM_PAGE_SIZE;
            continue;
        }
        if (run_host)
            fn(opaque, run_start, run_len, run_host, run_writable);
        run_host = rd;
        run_start = a;
        run_len = rd ? MEM_PAGE_SIZE : 0;
        run_writable = writable;
    }
    if (run_host)
        fn(opaque, run_start, run_len, run_host, run_writable);
    if (mi->pub.ram_above_4g)
        fn(opaque, UINT64_C(1) << 32, mi->pub.ram_above_4g, mi->pub.ram_high, true);
}

void mem_for_each_region(GuestMemory *m, MemRegionFn fn, void *opaque)
{
    MemoryImpl *mi = impl(m);
    for (guint i = 0; i < mi->regions->len; i++)
        fn(opaque, mi->regions->pdata[i]);
}

void mem_dump_map(GuestMemory *m, FILE *out)
{
    MemoryImpl *mi = impl(m);
    fprintf(out, "ram: %" G_GUINT64_FORMAT " MiB (%" G_GUINT64_FORMAT " MiB below 4 GiB)\n",
            mi->ram_size >> 20, mi->below_4g >> 20);
    for (guint i = 0; i < mi->regions->len; i++) {
        MemRegion *r = mi->regions->pdata[i];
        fprintf(out, "  %010" G_GINT64_MODIFIER "x-%010" G_GINT64_MODIFIER "x prio %d %s %s%s\n",
                r->base, r->base + r->size - 1, r->priority, r->host ? (r->readonly ? "rom" : "ram") : "mmio",
                r->name, r->enabled ? "" : " (disabled)");
    }
}
