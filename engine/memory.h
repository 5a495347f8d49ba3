/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest physical memory: main RAM, RAM-backed regions (ROM, video memory), MMIO regions,
 * the low-memory RAM windows that i440FX PAM and SMRAM switch, and a per-page table of
 * host pointers the CPU uses as its fast path. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

typedef uint64_t hwaddr;

#define MEM_PAGE_BITS 12
#define MEM_PAGE_SIZE (1u << MEM_PAGE_BITS)
#define MEM_PAGE_MASK (~(hwaddr)(MEM_PAGE_SIZE - 1))
/* Physical address width the board decodes (PAE reaches 36 bits). */
#define MEM_PHYS_BITS 36

typedef struct MemOps {
    uint64_t (*read)(void *opaque, hwaddr offset, unsigned size);
    void (*write)(void *opaque, hwaddr offset, uint64_t value, unsigned size);
    /* Access sizes in bytes the device handles; others are split (little-endian).
     * 0 means 1 for min_size and 4 for max_size. */
    unsigned min_size, max_size;
} MemOps;

typedef struct MemRegion MemRegion;
typedef struct GuestMemory GuestMemory;

/* Who wants to know when the map changes (CPU TLBs, KVM memory slots). Called with
 * the engine lock held, on the thread that changed the map. */
typedef struct MemListener {
    void (*map_changed)(void *opaque);
    /* Decoded code in [addr, addr+len) was overwritten by a device or another path
     * than the CPU's own stores. */
    void (*code_written)(void *opaque, hwaddr addr, size_t len);
    /* Before a dirty bitmap is read: back ends that log writes elsewhere merge them. */
    void (*dirty_sync)(void *opaque, MemRegion *region);
    /* After a dirty bitmap was harvested: a back end that caches write pointers to
     * dirty-logged pages drops them. Listeners without it get map_changed instead; a
     * back end that caches none (KVM) sets a cheap one, as a display harvests 60 times
     * a second. */
    void (*dirty_harvested)(void *opaque, MemRegion *region);
    void *opaque;
} MemListener;

/* Page flags (GuestMemory.page_flags, one byte per 4 KiB page below 4 GiB). */
enum {
    MEM_PAGE_CODE = 1u << 0,      /* the CPU holds decoded code from this page */
    MEM_PAGE_DIRTY_LOG = 1u << 1, /* writes are recorded in the region's dirty bitmap */
};

/* The part of the memory object the CPU's fast path reads directly. */
struct GuestMemory {
    /* Host pointer to the start of each 4 KiB page of the 32-bit space, or NULL when
     * the access must take the slow path (MMIO, unassigned, ROM for writes). */
    uint8_t **read_page;
    uint8_t **write_page;
    uint8_t *page_flags;
    /* Per page below 4 GiB, the vCPUs (a bit per index) that may hold a direct write
     * pointer to it: a vCPU that starts caching code from the page asks only these
     * to drop theirs (cpu/x86 exec.c). Set before a pointer is handed out. */
    _Atomic uint32_t *page_writers;
    /* Bumped on every change that invalidates host pointers handed out. */
    volatile unsigned generation;
    /* RAM above 4 GiB: guest [4 GiB, 4 GiB + ram_above_4g) maps to ram_high. */
    uint8_t *ram_high;
    uint64_t ram_above_4g;
};

GuestMemory *mem_new(uint64_t ram_size, GError **err);
void mem_free(GuestMemory *m);

uint64_t mem_ram_size(const GuestMemory *m);
uint64_t mem_ram_below_4g(const GuestMemory *m);
/* Host pointer to the low RAM block (guest 0 .. below_4g). */
uint8_t *mem_ram_low(const GuestMemory *m);

/* Main RAM's contents were replaced behind the listeners' backs (VM state load):
 * every listener drops decoded code and cached pointers. Engine lock held. */
void mem_ram_replaced(GuestMemory *m);

void mem_add_listener(GuestMemory *m, const MemListener *l);
void mem_remove_listener(GuestMemory *m, const MemListener *l);

/* Regions. Higher priority wins where regions overlap. Main RAM always wins where it is
 * present and its window is open. Base and size need not be page aligned; a page that is
 * not wholly one RAM-backed region takes the slow path. */
MemRegion *mem_add_mmio(GuestMemory *m, const char *name, hwaddr base, uint64_t size,
                        const MemOps *ops, void *opaque, int priority);
/* Page-aligned, zeroed host memory for RAM-backed regions (KVM maps only whole host
 * pages). Free with mem_host_free. */
uint8_t *mem_host_alloc(size_t size);
void mem_host_free(uint8_t *p, size_t size);

/* Host memory mapped into the guest (from mem_host_alloc). readonly: writes are dropped (ROM). */
MemRegion *mem_add_ram(GuestMemory *m, const char *name, hwaddr base, uint64_t size,
                       uint8_t *host, bool readonly, int priority);
void mem_region_set_base(MemRegion *r, hwaddr base);
void mem_region_set_enabled(MemRegion *r, bool enabled);
void mem_region_remove(MemRegion *r);
hwaddr mem_region_base(const MemRegion *r);
uint64_t mem_region_size(const MemRegion *r);
bool mem_region_enabled(const MemRegion *r);
const char *mem_region_name(const MemRegion *r);
/* RAM-backed regions only: host pointer, or NULL for MMIO. */
uint8_t *mem_region_host(const MemRegion *r);
bool mem_region_readonly(const MemRegion *r);

/* Dirty logging of a RAM-backed region (video memory). Harvest copies and clears the
 * bitmap (one bit per page from the region start), lock held, any thread. It bumps the
 * map generation so CPUs drop cached write pointers; a CPU must mark dirty again every
 * dirty-logged page it held a write pointer for when it drops them, because it may have
 * written through the pointer after the harvest and before noticing. */
void mem_region_set_dirty_log(MemRegion *r, bool on);
void mem_region_dirty_harvest(MemRegion *r, unsigned long *bitmap);
/* Marks pages dirty (for writes made by the CPU's fast path or by a device). */
void mem_region_mark_dirty(MemRegion *r, hwaddr offset, size_t len);

/* Low memory windows: i440FX PAM (0xC0000-0xFFFFF) and SMRAM (0xA0000-0xBFFFF) choose
 * per range whether reads and writes reach main RAM or fall through to the regions. */
void mem_set_ram_window(GuestMemory *m, hwaddr base, uint64_t size, bool read_ram, bool write_ram);

/* Fast-path lookups for the CPU: host pointer to the page containing pa, or NULL. */
static inline uint8_t *mem_read_page(const GuestMemory *m, hwaddr pa)
{
    if (G_LIKELY(pa < (UINT64_C(1) << 32)))
        return m->read_page[pa >> MEM_PAGE_BITS];
    if (pa - (UINT64_C(1) << 32) < m->ram_above_4g)
        return m->ram_high + ((pa - (UINT64_C(1) << 32)) & MEM_PAGE_MASK);
    return NULL;
}
static inline uint8_t *mem_write_page(const GuestMemory *m, hwaddr pa)
{
    if (G_LIKELY(pa < (UINT64_C(1) << 32)))
        return m->write_page[pa >> MEM_PAGE_BITS];
    if (pa - (UINT64_C(1) << 32) < m->ram_above_4g)
        return m->ram_high + ((pa - (UINT64_C(1) << 32)) & MEM_PAGE_MASK);
    return NULL;
}
static inline unsigned mem_page_flags(const GuestMemory *m, hwaddr pa)
{
    return pa < (UINT64_C(1) << 32) ? m->page_flags[pa >> MEM_PAGE_BITS] : 0;
}
/* The CPU marks pages it caches code from; mem_write then reports overwrites. Returns
 * whether the page was marked before. */
bool mem_set_code_page(GuestMemory *m, hwaddr pa, bool code);
/* vCPU cpu may take a direct write pointer to the page of pa: call before checking
 * the page's code mark (with the marker's mem_take_page_writers after its mark, one of
 * the two sees the other). */
static inline void mem_add_page_writer(GuestMemory *m, hwaddr pa, unsigned cpu)
{
    if (pa >= (UINT64_C(1) << 32))
        return;
    _Atomic uint32_t *w = &m->page_writers[pa >> MEM_PAGE_BITS];
    if (!(atomic_load_explicit(w, memory_order_acquire) & (1u << cpu)))
        atomic_fetch_or(w, 1u << cpu);
}
/* The page's writers, cleared: the caller (which just marked the page as code) asks
 * them to drop their pointers. */
uint32_t mem_take_page_writers(GuestMemory *m, hwaddr pa);
/* A CPU overwrote a page another CPU may hold code from: every listener's code_written
 * hears of it (any thread; listeners are fixed while vCPUs run). */
void mem_report_code_write(GuestMemory *m, hwaddr addr, size_t len);
/* Finds the dirty-logged region containing pa (for the CPU's write path), or NULL. */
MemRegion *mem_dirty_region_at(GuestMemory *m, hwaddr pa);

/* Slow path: one access of 1, 2, 4 or 8 bytes anywhere. Caller holds the engine lock.
 * Unassigned reads return all ones; unassigned writes are dropped. */
uint64_t mem_dispatch_read(GuestMemory *m, hwaddr addr, unsigned size);
void mem_dispatch_write(GuestMemory *m, hwaddr addr, uint64_t value, unsigned size);

/* Device (DMA) and loader access to guest memory. Return false if any byte is outside
 * RAM or RAM-backed regions (those bytes read as 0xFF; writes to them are dropped).
 * Writes report overwritten code and mark dirty-logged pages. Caller holds the lock. */
bool mem_read(GuestMemory *m, hwaddr addr, void *buf, size_t len);
bool mem_write(GuestMemory *m, hwaddr addr, const void *buf, size_t len);
/* Writes even into ROM regions (firmware loading at start-up). */
bool mem_write_rom(GuestMemory *m, hwaddr addr, const void *buf, size_t len);
/* True when [addr, addr+len) is wholly main RAM (for DMA bounds checks). */
bool mem_is_ram(const GuestMemory *m, hwaddr addr, uint64_t len);

/* Little-endian helpers over mem_read/mem_write. */
uint8_t mem_ldub(GuestMemory *m, hwaddr a);
uint16_t mem_lduw(GuestMemory *m, hwaddr a);
uint32_t mem_ldl(GuestMemory *m, hwaddr a);
uint64_t mem_ldq(GuestMemory *m, hwaddr a);
void mem_stb(GuestMemory *m, hwaddr a, uint8_t v);
void mem_stw(GuestMemory *m, hwaddr a, uint16_t v);
void mem_stl(GuestMemory *m, hwaddr a, uint32_t v);
void mem_stq(GuestMemory *m, hwaddr a, uint64_t v);

/* Visits every page-aligned run of RAM-backed pages (for KVM slots): start, length,
 * host pointer, whether writes are allowed to go straight to host memory. */
typedef void (*MemRunFn)(void *opaque, hwaddr start, uint64_t len, uint8_t *host, bool writable);
void mem_for_each_ram_run(GuestMemory *m, MemRunFn fn, void *opaque);

/* Visits every region of the map, highest priority first (read it with the mem_region_*
 * accessors; MMIO regions have no host pointer): for debuggers and the device fuzzer,
 * which aims at whatever the board and its devices mapped. Lock held; fn must not
 * change the map. */
typedef void (*MemRegionFn)(void *opaque, MemRegion *r);
void mem_for_each_region(GuestMemory *m, MemRegionFn fn, void *opaque);

/* "info mtree"-style dump for -d and debugging. */
void mem_dump_map(GuestMemory *m, FILE *out);
