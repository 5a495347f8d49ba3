/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CPU back end on the host's /dev/kvm: memory slots follow the engine's memory map,
 * port and MMIO exits go to the engine, interrupts come from the in-kernel irqchip or,
 * with kernel-irqchip=off, from the board's own PIC through KVM_INTERRUPT. */
#include "cpu/cpu.h"
#include "cpu/cpu-model.h"
#include "cpu/kvm/kvm.h"
#include "engine/log.h"
#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KICK_SIGNAL SIGUSR1
/* Areas KVM needs on hosts without unrestricted guests; below the BIOS, above RAM. */
#define KVM_TSS_ADDR 0xfeffd000u
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000u

typedef struct KvmSlot {
    uint32_t id;
    hwaddr gpa;
    uint64_t size;
    uint8_t *host;
    bool readonly;
    bool dirty_log;  /* writable, with KVM logging writes (video memory) */
} KvmSlot;

typedef struct KvmVm {
    Vm *vm;
    int kvm_fd, vm_fd;
    int run_size;
    bool irqchip;
    bool pvm;
    /* The kernel's 8259s, I/O APIC and PIT as created: their state at power-on, put back
     * at every system reset (KVM has no reset of its own for them). */
    struct kvm_irqchip poweron_chips[3];
    struct kvm_pit_state2 poweron_pit;
    GArray *slots; /* KvmSlot */
    GArray *free_ids;
    uint32_t next_id;
    MemListener listener;
} KvmVm;

typedef struct KvmVcpu {
    KvmVm *kv;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    _Atomic bool thread_known;
} KvmVcpu;

static int kvm_open(GError **err)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "/dev/kvm: %s", g_strerror(errno));
        return -1;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "/dev/kvm has API version %d, not %d",
                    v, KVM_API_VERSION);
        close(fd);
        return -1;
    }
    return fd;
}

bool kvm_host_is_pvm(void)
{
    if (g_file_test("/sys/module/kvm_pvm", G_FILE_TEST_IS_DIR))
        return true;
    if (!g_file_test("/dev/kvm", G_FILE_TEST_EXISTS))
        return false;
    g_autofree char *cpuinfo = NULL;
    if (!g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL))
        return false;
    /* A host CPU without hardware virtualization that still has /dev/kvm. */
    return !strstr(cpuinfo, " vmx") && !strstr(cpuinfo, " svm");
}

static bool kvm_probe(GError **err)
{
    int fd = kvm_open(err);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static char *kvm_host_info(void)
{
    GError *err = NULL;
    if (!kvm_probe(&err)) {
        char *s = g_strdup_printf("not available: %s", err->message);
        g_error_free(err);
        return s;
    }
    if (kvm_host_is_pvm())
        return g_strdup("available, paravirtual (PVM): runs small real-mode, flat 32-bit and long-mode guests "
                        "through the host's instruction emulator; no x87 arithmetic, no 32-bit "
                        "paging, no INT/IRET in protected mode; so the default kvm:tcg picks tcg");
    return g_strdup("available (hardware virtualization)");
}

/* ---- memory slots ---- */

typedef struct SlotScan {
    GArray *runs; /* KvmSlot without id */
    GuestMemory *mem;
} SlotScan;

/* RAM whose writes the engine logs (MEM_PAGE_DIRTY_LOG, writes allowed to host memory):
 * KVM can write it directly and log the writes itself. */
static bool page_kvm_logged(const GuestMemory *m, hwaddr pa)
{
    return pa < (UINT64_C(1) << 32) && (mem_page_flags(m, pa) & MEM_PAGE_DIRTY_LOG) &&
           mem_write_page(m, pa) && mem_write_page(m, pa) == mem_read_page(m, pa);
}

static void collect_run(void *opaque, hwaddr start, uint64_t len, uint8_t *host, bool writable)
{
    SlotScan *s = opaque;
    if (writable) {
        KvmSlot k = { 0, start, len, host, false, false };
        g_array_append_val(s->runs, k);
        return;
    }
    /* A read-only run may hold dirty-logged RAM next to ROM: split it where that changes. */
    uint64_t off = 0;
    while (off < len) {
        bool logged = page_kvm_logged(s->mem, start + off);
        uint64_t end = off + MEM_PAGE_SIZE;
        while (end < len && page_kvm_logged(s->mem, start + end) == logged)
            end += MEM_PAGE_SIZE;
        KvmSlot k = { 0, start + off, end - off, host + off, !logged, logged };
        g_array_append_val(s->runs, k);
        off = end;
    }
}

static bool slot_same(const KvmSlot *a, const KvmSlot *b)
{
    return a->gpa == b->gpa && a->size == b->size && a->host == b->host && a->readonly == b->readonly &&
           a->dirty_log == b->dirty_log;
}

static void set_slot(KvmVm *kv, const KvmSlot *s, bool remove)
{
    struct kvm_userspace_memory_region r = {
        .slot = s->id,
        .flags = (s->readonly ? KVM_MEM_READONLY : 0) | (s->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0),
        .guest_phys_addr = s->gpa,
        .memory_size = remove ? 0 : s->size,
        .userspace_addr = (uintptr_t)s->host,
    };
    if (ioctl(kv->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
        g_warning("KVM_SET_USER_MEMORY_REGION slot %u at 0x%" G_GINT64_MODIFIER "x: %s",
                  s->id, s->gpa, g_strerror(errno));
}

static void kvm_sync_slots(void *opaque)
{
    KvmVm *kv = opaque;
    SlotScan scan = { g_array_new(FALSE, FALSE, sizeof(KvmSlot)), vm_vcpu(kv->vm)->mem };
    mem_for_each_ram_run(vm_vcpu(kv->vm)->mem, collect_run, &scan);

    /* Drop slots that changed, then add what is new: KVM refuses overlapping slots. */
    for (guint i = 0; i < kv->slots->len;) {
        KvmSlot *old = &g_array_index(kv->slots, KvmSlot, i);
        bool keep = false;
        for (guint j = 0; j < scan.runs->len && !keep; j++)
            keep = slot_same(old, &g_array_index(scan.runs, KvmSlot, j));
        if (keep) {
            i++;
            continue;
        }
        set_slot(kv, old, true);
        g_array_append_val(kv->free_ids, old->id);
        g_array_remove_index_fast(kv->slots, i);
    }
    for (guint j = 0; j < scan.runs->len; j++) {
        KvmSlot *n = &g_array_index(scan.runs, KvmSlot, j);
        bool have = false;
        for (guint i = 0; i < kv->slots->len && !have; i++)
            have = slot_same(n, &g_array_index(kv->slots, KvmSlot, i));
        if (have)
            continue;
        if (kv->free_ids->len) {
            n->id = g_array_index(kv->free_ids, uint32_t, kv->free_ids->len - 1);
            g_array_set_size(kv->free_ids, kv->free_ids->len - 1);
        } else {
            n->id = kv->next_id++;
        }
        set_slot(kv, n, false);
        g_array_append_val(kv->slots, *n);
    }
    g_array_free(scan.runs, TRUE);
}

/* KVM holds no write pointers of its own to drop after a harvest (it logs in its slots'
 * bitmaps, merged by kvm_dirty_sync); the slots need no rescan. */
static void kvm_dirty_harvested(void *opaque, MemRegion *region)
{
    (void)opaque;
    (void)region;
}

/* Before the engine reads a region's dirty bitmap: fetch (and clear) KVM's log of the
 * slots inside it and mark those pages in the engine's bitmap. Lock held. */
static void kvm_dirty_sync(void *opaque, MemRegion *region)
{
    KvmVm *kv = opaque;
    hwaddr base = mem_region_base(region);
    uint64_t size = mem_region_size(region);
    for (guint i = 0; i < kv->slots->len; i++) {
        const KvmSlot *sl = &g_array_index(kv->slots, KvmSlot, i);
        if (!sl->dirty_log || sl->gpa < base || sl->gpa + sl->size > base + size)
            continue;
        uint64_t pages = sl->size >> MEM_PAGE_BITS;
        g_autofree uint64_t *bits = g_new0(uint64_t, (pages + 63) / 64);
        struct kvm_dirty_log log = { .slot = sl->id, .dirty_bitmap = bits };
        if (ioctl(kv->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
            /* Without the log, count the whole slot as written. */
            VLOG(LOG_CPU, "KVM_GET_DIRTY_LOG slot %u: %s", sl->id, g_strerror(errno));
            mem_region_mark_dirty(region, sl->gpa - base, sl->size);
            continue;
        }
        for (uint64_t p = 0; p < pages; p++)
            if (bits[p / 64] & (UINT64_C(1) << (p % 64)))
                mem_region_mark_dirty(region, sl->gpa - base + (p << MEM_PAGE_BITS), MEM_PAGE_SIZE);
    }
}

/* ---- VM ---- */

static void kvm_irq_line(Vm *vm, unsigned gsi, int level)
{
    KvmVm *kv = vm_accel_state(vm);
    struct kvm_irq_level l = { .irq = gsi, .level = level };
    if (ioctl(kv->vm_fd, KVM_IRQ_LINE, &l) < 0)
        VLOG(LOG_IRQ, "KVM_IRQ_LINE %u: %s", gsi, g_strerror(errno));
}

static void kick_handler(int sig)
{
    (void)sig;
}

static bool kvm_vm_init(Vm *vm, const char *options, GError **err)
{
    bool want_irqchip = true;
    if (options && *options) {
        g_auto(GStrv) opts = g_strsplit(options, ",", -1);
        for (char **o = opts; *o; o++) {
            if (!strcmp(*o, "kernel-irqchip=on") || !strcmp(*o, "kernel-irqchip=split"))
                want_irqchip = true;
            else if (!strcmp(*o, "kernel-irqchip=off"))
                want_irqchip = false;
            else {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                            "-accel kvm: unknown option '%s' (kernel-irqchip=on|off)", *o);
                return false;
            }
        }
    }
    KvmVm *kv = g_new0(KvmVm, 1);
    kv->vm = vm;
    kv->vm_fd = -1;
    kv->kvm_fd = kvm_open(err);
    if (kv->kvm_fd < 0)
        goto fail;
    kv->pvm = kvm_host_is_pvm();
    kv->vm_fd = ioctl(kv->kvm_fd, KVM_CREATE_VM, 0);
    if (kv->vm_fd < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "KVM_CREATE_VM: %s", g_strerror(errno));
        goto fail;
    }
    kv->run_size = ioctl(kv->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (ioctl(kv->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
        ioctl(kv->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR);
    uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
    ioctl(kv->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
    if (want_irqchip && ioctl(kv->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) > 0) {
        if (ioctl(kv->vm_fd, KVM_CREATE_IRQCHIP, 0) == 0) {
            struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
            if (ioctl(kv->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "KVM_CREATE_PIT2: %s", g_strerror(errno));
                goto fail;
            }
            kv->irqchip = true;
            for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
                kv->poweron_chips[chip].chip_id = chip;
                if (ioctl(kv->vm_fd, KVM_GET_IRQCHIP, &kv->poweron_chips[chip]) < 0) {
                    g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "KVM_GET_IRQCHIP: %s", g_strerror(errno));
                    goto fail;
                }
            }
            if (ioctl(kv->vm_fd, KVM_GET_PIT2, &kv->poweron_pit) < 0) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "KVM_GET_PIT2: %s", g_strerror(errno));
                goto fail;
            }
        }
    }
    /* The APs wait for INIT-SIPI-SIPI in their local APICs: only the kernel's have them. */
    if (!kv->irqchip && vm_cpu_count(vm) > 1) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "%u processors under KVM need its in-kernel irqchip (not kernel-irqchip=off)",
                    vm_cpu_count(vm));
        goto fail;
    }
    kv->slots = g_array_new(FALSE, FALSE, sizeof(KvmSlot));
    kv->free_ids = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    kv->listener.map_changed = kvm_sync_slots;
    kv->listener.dirty_harvested = kvm_dirty_harvested;
    kv->listener.dirty_sync = kvm_dirty_sync;
    kv->listener.opaque = kv;
    vm_set_accel_state(vm, kv);
    if (kv->irqchip)
        vm_set_kernel_irqchip(vm, kvm_irq_line);
    mem_add_listener(vm_vcpu(vm)->mem, &kv->listener);
    kvm_sync_slots(kv);

    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    sigaction(KICK_SIGNAL, &sa, NULL);
    VLOG(LOG_CPU, "kvm: %s irqchip%s", kv->irqchip ? "in-kernel" : "userspace", kv->pvm ? ", PVM host" : "");
    return true;

fail:
    if (kv->vm_fd >= 0)
        close(kv->vm_fd);
    if (kv->kvm_fd >= 0)
        close(kv->kvm_fd);
    g_free(kv);
    return false;
}

static void kvm_vm_destroy(Vm *vm)
{
    KvmVm *kv = vm_accel_state(vm);
    mem_remove_listener(vm_vcpu(vm)->mem, &kv->listener);
    close(kv->vm_fd);
    close(kv->kvm_fd);
    g_array_free(kv->slots, TRUE);
    g_array_free(kv->free_ids, TRUE);
    g_free(kv);
    vm_set_accel_state(vm, NULL);
}

/* ---- vCPU ---- */

static bool kvm_get_msr(int fd, uint32_t index, uint64_t *value)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m = { .hdr.nmsrs = 1, .e.index = index };
    if (ioctl(fd, KVM_GET_MSRS, &m) != 1)
        return false;
    *value = m.e.data;
    return true;
}

static bool kvm_set_msr(int fd, uint32_t index, uint64_t value)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e;
    } m = { .hdr.nmsrs = 1, .e.index = index, .e.data = value };
    return ioctl(fd, KVM_SET_MSRS, &m) == 1;
}

/* Replaces the host's leaves with the model's basic and extended ones; a feature the
 * host lacks stays off (KVM cannot offer it). Under KVM the host runs the instructions,
 * so an older model changes what CPUID says, not which instructions exist. */
static void kvm_cpuid_from_model(struct kvm_cpuid2 *cpuid, unsigned cap, const CpuModel *m, const CpuidWho *who)
{
    uint32_t host_edx = 0, host_ecx = 0, host_ext_edx = 0, host_ext_ecx = 0;
    for (unsigned i = 0; i < cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        if (e->function == 1) {
            host_edx = e->edx;
            host_ecx = e->ecx;
        } else if (e->function == 0x80000001u) {
            host_ext_edx = e->edx;
            host_ext_ecx = e->ecx;
        }
    }
    /* Leaves 4 and 0Bh depend on ECX: an entry for each subleaf the model answers
     * (the last one ends the list), flagged so KVM matches the index. */
    static const uint32_t leaves[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0x80000000u, 0x80000001u,
                                       0x80000002u, 0x80000003u, 0x80000004u, 0x80000005u, 0x80000006u,
                                       0x80000007u, 0x80000008u };
    unsigned n = 0, level = cpu_model_level(m);
    for (size_t k = 0; k < G_N_ELEMENTS(leaves); k++) {
        uint32_t leaf = leaves[k];
        if ((leaf < 0x80000000u && leaf > level) || (leaf > 0x80000000u && leaf > m->max_ext_leaf))
            continue;
        unsigned subleaves = leaf == 4 ? 4 : leaf == 0xb ? 3 : 1;
        for (unsigned sub = 0; sub < subleaves && n < cap; sub++) {
            uint32_t r[4];
            cpu_model_cpuid(m, leaf, sub, who, r);
            if (leaf == 1) {
                r[2] &= host_ecx;
                r[3] &= host_edx | CPUID_HTT;
            } else if (leaf == 0x80000001u) {
                r[2] &= host_ext_ecx;
                r[3] &= host_ext_edx;
            }
            cpuid->entries[n++] = (struct kvm_cpuid_entry2){
                .function = leaf, .index = sub, .flags = subleaves > 1 ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
                .eax = r[0], .ebx = r[1], .ecx = r[2], .edx = r[3] };
        }
    }
    cpuid->nent = n;
}

/* The host's leaves describe the host's packages: what says where this vCPU sits (its
 * initial APIC ID in leaf 1, the package's logical processors and cores in leaves 1 and
 * 4) is replaced by -smp's topology, as the interpreter answers it, and leaf 0Bh is the
 * interpreter's (SMT and core levels, then the invalid level that ends them), with the
 * host's levels dropped. Leaf 1Fh, the host's newer topology leaf, is dropped (zeros:
 * guests fall back to 0Bh). */
static void kvm_cpuid_topology(struct kvm_cpuid2 *cpuid, unsigned cap, const CpuidWho *who)
{
    const CpuModel *max = cpu_model_get("max");
    unsigned out = 0;
    uint32_t max_basic = 0;
    for (unsigned i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 e = cpuid->entries[i];
        uint32_t r[4];
        if (e.function == 0xb || e.function == 0x1f)
            continue;
        if (e.function == 0) {
            max_basic = e.eax;
        } else if (e.function == 1) {
            cpu_model_cpuid(max, 1, 0, who, r);
            e.ebx = (e.ebx & 0xffffu) | (r[1] & 0xffff0000u);
            e.edx = (e.edx & ~CPUID_HTT) | (r[3] & CPUID_HTT);
        } else if (e.function == 4 && (e.eax & 0x1f)) {
            cpu_model_cpuid(max, 4, 0, who, r);
            e.eax = (e.eax & 0x3fffu) | (r[0] & ~0x3fffu);
        }
        cpuid->entries[out++] = e;
    }
    for (uint32_t sub = 0; max_basic >= 0xb && sub < 3 && out < cap; sub++) {
        uint32_t r[4];
        cpu_model_cpuid(max, 0xb, sub, who, r);
        cpuid->entries[out++] = (struct kvm_cpuid_entry2){
            .function = 0xb, .index = sub, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            .eax = r[0], .ebx = r[1], .ecx = r[2], .edx = r[3] };
    }
    cpuid->nent = out;
}

static bool kvm_vcpu_init(Vcpu *v, GError **err)
{
    KvmVm *kv = vm_accel_state(v->vm);
    KvmVcpu *kc = g_new0(KvmVcpu, 1);
    kc->kv = kv;
    /* KVM's local APIC takes its ID from the vCPU id: the APIC ID -smp's topology gives
     * (with gaps where a count is not a power of two); the BSP is id 0, KVM's default. */
    CpuidWho who;
    vcpu_cpuid_who(v, &who);
    who.apic = kv->irqchip;
    kc->fd = ioctl(kv->vm_fd, KVM_CREATE_VCPU, (unsigned long)who.apic_id);
    if (kc->fd < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "KVM_CREATE_VCPU: %s", g_strerror(errno));
        g_free(kc);
        return false;
    }
    kc->run = mmap(NULL, kv->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kc->fd, 0);
    if (kc->run == MAP_FAILED) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "mmap kvm_run: %s", g_strerror(errno));
        close(kc->fd);
        g_free(kc);
        return false;
    }
    /* The guest sees what the host KVM supports (-cpu max or host), or a model's leaves
     * with only the features the host also has. */
    int n = 256;
    struct kvm_cpuid2 *cpuid = g_malloc0(sizeof(*cpuid) + n * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = n;
    if (ioctl(kv->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) {
        const char *name = vm_config(v->vm)->cpu_model;
        if (name && strcmp(name, "max") && strcmp(name, "host"))
            kvm_cpuid_from_model(cpuid, (unsigned)n, cpu_model_get(name), &who);
        else
            kvm_cpuid_topology(cpuid, (unsigned)n, &who);
        for (unsigned i = 0; i < cpuid->nent; i++) {
            struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
            if (e->function == 1 && !kv->irqchip)
                e->edx &= ~(1u << 9); /* no local APIC without the kernel irqchip */
        }
        if (ioctl(kc->fd, KVM_SET_CPUID2, cpuid) < 0)
            VLOG(LOG_CPU, "KVM_SET_CPUID2: %s", g_strerror(errno));
    }
    g_free(cpuid);
    v->cpu = kc;
    return true;
}

static void seg_real(struct kvm_segment *s, uint16_t sel, uint32_t base, uint8_t type)
{
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->base = base;
    s->limit = 0xffff;
    s->type = type;
    s->present = 1;
    s->s = 1;
}

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_DEFAULT 0xfee00000u
#define APIC_BASE_ENABLE (1u << 11)
#define APIC_BASE_BSP (1u << 8)

static void lapic_put(struct kvm_lapic_state *l, unsigned reg, uint32_t value)
{
    memcpy(&l->regs[reg], &value, 4);
}

/* The local APIC's power-up state (SDM vol. 3, 10.4.7.1): the base back at FEE00000h,
 * its ID from the topology, DFR all ones, the spurious vector FFh with the APIC software
 * disabled, every LVT entry masked, no request or service bits, the timer stopped. As
 * KVM's own reset does, the BSP's LINT0 is left unmasked for ExtINT so the 8259 reaches
 * it (KVM_X86_QUIRK_LINT0_REENABLED): real-mode software relies on that. */
static void kvm_lapic_reset(Vcpu *v, KvmVcpu *kc)
{
    CpuidWho who;
    vcpu_cpuid_who(v, &who);
    uint64_t base = APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (v->index ? 0 : APIC_BASE_BSP);
    if (!kvm_set_msr(kc->fd, MSR_APIC_BASE, base))
        VLOG(LOG_CPU, "KVM: resetting IA32_APIC_BASE: %s", g_strerror(errno));
    struct kvm_lapic_state *l = g_new0(struct kvm_lapic_state, 1);
    if (ioctl(kc->fd, KVM_GET_LAPIC, l) == 0) {
        uint32_t version;
        memcpy(&version, &l->regs[0x30], 4);
        memset(l->regs, 0, sizeof(l->regs));
        lapic_put(l, 0x20, (uint32_t)who.apic_id << 24);
        lapic_put(l, 0x30, version);
        lapic_put(l, 0xe0, 0xffffffffu);
        lapic_put(l, 0xf0, 0xff);
        for (unsigned lvt = 0x320; lvt <= 0x370; lvt += 0x10)
            lapic_put(l, lvt, 1u << 16);
        lapic_put(l, 0x2f0, 1u << 16);
        if (!v->index)
            lapic_put(l, 0x350, 7u << 8);
        if (ioctl(kc->fd, KVM_SET_LAPIC, l) < 0)
            VLOG(LOG_CPU, "KVM_SET_LAPIC: %s", g_strerror(errno));
    }
    g_free(l);
}

static void kvm_vcpu_reset(Vcpu *v)
{
    KvmVcpu *kc = v->cpu;
    struct kvm_sregs sr;
    if (ioctl(kc->fd, KVM_GET_SREGS, &sr) < 0)
        return;
    /* Power-on state (Intel SDM vol. 3, 9.1.1): CS = F000 with base FFFF0000, IP FFF0. */
    seg_real(&sr.cs, 0xf000, 0xffff0000, 0xb);
    seg_real(&sr.ds, 0, 0, 3);
    sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
    memset(&sr.ldt, 0, sizeof(sr.ldt));
    sr.ldt.limit = 0xffff;
    sr.ldt.type = 2;
    sr.ldt.present = 1;
    memset(&sr.tr, 0, sizeof(sr.tr));
    sr.tr.limit = 0xffff;
    sr.tr.type = 11;
    sr.tr.present = 1;
    sr.gdt.base = sr.idt.base = 0;
    sr.gdt.limit = sr.idt.limit = 0xffff;
    sr.cr0 = 0x60000010;
    sr.cr2 = sr.cr3 = sr.cr4 = 0;
    sr.efer = 0;
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    ioctl(kc->fd, KVM_SET_SREGS, &sr);
    struct kvm_regs r = { .rip = 0xfff0, .rflags = 2, .rdx = 0x600 };
    ioctl(kc->fd, KVM_SET_REGS, &r);
    struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
    ioctl(kc->fd, KVM_SET_FPU, &fpu);
    struct kvm_vcpu_events ev;
    if (ioctl(kc->fd, KVM_GET_VCPU_EVENTS, &ev) == 0) {
        memset(&ev.exception, 0, sizeof(ev.exception));
        memset(&ev.interrupt, 0, sizeof(ev.interrupt));
        ev.nmi.pending = ev.nmi.injected = 0;
        ev.flags = 0;
        ioctl(kc->fd, KVM_SET_VCPU_EVENTS, &ev);
    }
    if (kc->kv->irqchip) {
        kvm_lapic_reset(v, kc);
        /* The APs wait for INIT and STARTUP in their local APICs (SDM vol. 3, 8.4.1). */
        struct kvm_mp_state mp = { v->index ? KVM_MP_STATE_UNINITIALIZED : KVM_MP_STATE_RUNNABLE };
        ioctl(kc->fd, KVM_SET_MP_STATE, &mp);
    }
}

static void kvm_vcpu_kick(Vcpu *v)
{
    KvmVcpu *kc = v->cpu;
    if (!kc)
        return;
    __atomic_store_n(&kc->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (atomic_load(&kc->thread_known) && !pthread_equal(kc->thread, pthread_self()))
        pthread_kill(kc->thread, KICK_SIGNAL);
}

static void handle_io(Vcpu *v, struct kvm_run *run)
{
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; i++) {
        unsigned size = run->io.size;
        if (run->io.direction == KVM_EXIT_IO_OUT) {
            uint32_t val = 0;
            memcpy(&val, data, size);
            vcpu_pio_write(v, run->io.port, val, size);
        } else {
            uint32_t val = vcpu_pio_read(v, run->io.port, size);
            memcpy(data, &val, size);
        }
        data += size;
    }
}

static void handle_mmio(Vcpu *v, struct kvm_run *run)
{
    unsigned len = run->mmio.len;
    if (len != 1 && len != 2 && len != 4 && len != 8) {
        /* Odd sizes: byte by byte. */
        for (unsigned i = 0; i < len; i++) {
            if (run->mmio.is_write)
                vcpu_mmio_write(v, run->mmio.phys_addr + i, run->mmio.data[i], 1);
            else
                run->mmio.data[i] = (uint8_t)vcpu_mmio_read(v, run->mmio.phys_addr + i, 1);
        }
        return;
    }
    if (run->mmio.is_write) {
        uint64_t val = 0;
        memcpy(&val, run->mmio.data, len);
        vcpu_mmio_write(v, run->mmio.phys_addr, val, len);
    } else {
        uint64_t val = vcpu_mmio_read(v, run->mmio.phys_addr, len);
        memcpy(run->mmio.data, &val, len);
    }
}

static char *kvm_vcpu_describe(Vcpu *v)
{
    KvmVcpu *kc = v->cpu;
    struct kvm_regs r;
    struct kvm_sregs s;
    GString *str = g_string_new(NULL);
    struct kvm_run *run = kc->run;
    switch (run->exit_reason) {
    case KVM_EXIT_FAIL_ENTRY:
        g_string_append_printf(str, "KVM entry failed (hardware reason 0x%llx)",
                               (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        g_string_append_printf(str, "KVM internal error (suberror %u)", run->internal.suberror);
        break;
    default:
        g_string_append_printf(str, "KVM exit %u not handled", run->exit_reason);
    }
    if (ioctl(kc->fd, KVM_GET_REGS, &r) == 0 && ioctl(kc->fd, KVM_GET_SREGS, &s) == 0)
        g_string_append_printf(str, " at CS:IP %04x:%08llx (CR0 %08llx) EAX %08llx EBX %08llx ECX %08llx EDX %08llx ESP %08llx",
                               s.cs.selector, (unsigned long long)r.rip, (unsigned long long)s.cr0,
                               (unsigned long long)r.rax, (unsigned long long)r.rbx,
                               (unsigned long long)r.rcx, (unsigned long long)r.rdx, (unsigned long long)r.rsp);
    return g_string_free(str, FALSE);
}

static CpuRunResult kvm_vcpu_run(Vcpu *v)
{
    KvmVcpu *kc = v->cpu;
    KvmVm *kv = kc->kv;
    struct kvm_run *run = kc->run;
    if (!atomic_load(&kc->thread_known)) {
        kc->thread = pthread_self();
        atomic_store(&kc->thread_known, true);
    }
    for (;;) {
        __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        unsigned req = atomic_load(&v->requests);
        if (req & VCPU_REQ_EXIT)
            return CPU_RUN_EXIT;
        if (req & VCPU_REQ_TLB)
            vcpu_clear_request(v, VCPU_REQ_TLB); /* KVM tracks the map through slots */
        if (!kv->irqchip) {
            if (vcpu_take_nmi(v))
                ioctl(kc->fd, KVM_NMI, 0);
            if (req & VCPU_REQ_INTR) {
                if (run->ready_for_interrupt_injection && run->if_flag) {
                    int vec = vcpu_intr_ack(v);
                    if (vec >= 0) {
                        struct kvm_interrupt intr = { .irq = (uint32_t)vec };
                        ioctl(kc->fd, KVM_INTERRUPT, &intr);
                    }
                    run->request_interrupt_window = 0;
                } else {
                    run->request_interrupt_window = 1;
                }
            } else {
                run->request_interrupt_window = 0;
            }
        }
        int ret = ioctl(kc->fd, KVM_RUN, 0);
        if (ret < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            VLOG(LOG_CPU, "KVM_RUN: %s", g_strerror(errno));
            run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
            run->internal.suberror = (uint32_t)errno;
            return CPU_RUN_ERROR;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            handle_io(v, run);
            break;
        case KVM_EXIT_MMIO:
            handle_mmio(v, run);
            break;
        case KVM_EXIT_HLT:
            vcpu_halt_wait(v, run->if_flag);
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
        case KVM_EXIT_INTR:
            break;
        case KVM_EXIT_SHUTDOWN:
            vcpu_triple_fault(v);
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
                vcpu_request_reset(v);
            else
                vcpu_request_shutdown(v);
            break;
        default:
            return CPU_RUN_ERROR;
        }
    }
}

/* ---- whole CPU state (cpu/cpu-state.h) ---- */

/* The MSRs saved beside the registers: SYSENTER, PAT, the MTRRs, the APIC base. KVM refuses the ones
 * the host's KVM lacks; they are left out. */
static const uint32_t kvm_state_msrs[] = {
    0x174, 0x175, 0x176, 0x1a0, 0x277, 0x2ff,
    MSR_APIC_BASE, /* before the kernel irqchip's local APIC, which follows its base */
    0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
    0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
    0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
};
#define MSR_TSC 0x10

/* KVM's register order is RAX RBX RCX RDX RSI RDI RSP RBP; ours the encoding order. */
static __u64 *kvm_reg_slot(struct kvm_regs *r, unsigned n)
{
    __u64 *slots[8] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi };
    if (n < 8)
        return slots[n];
    return &(&r->r8)[n - 8];
}

static void kvm_seg_out(const struct kvm_segment *k, CpuSegment *s)
{
    s->sel = k->selector;
    s->base = k->base;
    s->limit = k->limit;
    s->attr = (uint16_t)((k->type & 15) | (k->s << 4) | ((k->dpl & 3) << 5) |
                         ((k->present && !k->unusable) << 7) | (k->avl << 12) | (k->l << 13) |
                         (k->db << 14) | (k->g << 15));
}

static void kvm_seg_in(const CpuSegment *s, struct kvm_segment *k)
{
    memset(k, 0, sizeof(*k));
    k->selector = s->sel;
    k->base = s->base;
    k->limit = s->limit;
    k->type = s->attr & 15;
    k->s = (s->attr >> 4) & 1;
    k->dpl = (s->attr >> 5) & 3;
    k->present = (s->attr >> 7) & 1;
    k->avl = (s->attr >> 12) & 1;
    k->l = (s->attr >> 13) & 1;
    k->db = (s->attr >> 14) & 1;
    k->g = (s->attr >> 15) & 1;
    k->unusable = !k->present;
}

static bool kvm_fail(GError **err, const char *what)
{
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "KVM %s: %s", what, g_strerror(errno));
    return false;
}

static bool kvm_vcpu_get_state(Vcpu *v, CpuX86State *s, GError **err)
{
    KvmVcpu *kc = v->cpu;
    struct kvm_regs r;
    struct kvm_sregs sr;
    struct kvm_fpu fpu;
    struct kvm_debugregs dr;
    struct kvm_vcpu_events ev;
    memset(s, 0, sizeof(*s));
    if (ioctl(kc->fd, KVM_GET_REGS, &r) < 0)
        return kvm_fail(err, "KVM_GET_REGS");
    if (ioctl(kc->fd, KVM_GET_SREGS, &sr) < 0)
        return kvm_fail(err, "KVM_GET_SREGS");
    if (ioctl(kc->fd, KVM_GET_FPU, &fpu) < 0)
        return kvm_fail(err, "KVM_GET_FPU");
    if (ioctl(kc->fd, KVM_GET_DEBUGREGS, &dr) < 0)
        return kvm_fail(err, "KVM_GET_DEBUGREGS");
    if (ioctl(kc->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return kvm_fail(err, "KVM_GET_VCPU_EVENTS");
    for (unsigned n = 0; n < 16; n++)
        s->regs[n] = *kvm_reg_slot(&r, n);
    s->rip = r.rip;
    s->rflags = r.rflags;
    const struct kvm_segment *segs[CPU_NSEG] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (unsigned k = 0; k < CPU_NSEG; k++)
        kvm_seg_out(segs[k], &s->seg[k]);
    kvm_seg_out(&sr.ldt, &s->ldtr);
    kvm_seg_out(&sr.tr, &s->tr);
    s->gdt_base = sr.gdt.base;
    s->gdt_limit = sr.gdt.limit;
    s->idt_base = sr.idt.base;
    s->idt_limit = sr.idt.limit;
    s->cr0 = sr.cr0;
    s->cr2 = sr.cr2;
    s->cr3 = sr.cr3;
    s->cr4 = sr.cr4;
    s->efer = sr.efer;
    for (unsigned n = 0; n < 4; n++)
        s->dr[n] = dr.db[n];
    s->dr[6] = dr.dr6;
    s->dr[7] = dr.dr7;
    s->fcw = fpu.fcw;
    s->fsw = fpu.fsw;
    s->ftw = fpu.ftwx;
    s->fop = fpu.last_opcode;
    s->fip = fpu.last_ip;
    s->fdp = fpu.last_dp;
    for (unsigned n = 0; n < 8; n++)
        memcpy(s->st[n], fpu.fpr[n], 10);
    memcpy(s->xmm, fpu.xmm, sizeof(s->xmm));
    s->mxcsr = fpu.mxcsr;
    if (!kvm_get_msr(kc->fd, MSR_TSC, &s->tsc))
        return kvm_fail(err, "reading the TSC");
    for (unsigned k = 0; k < G_N_ELEMENTS(kvm_state_msrs); k++) {
        uint64_t value;
        if (kvm_get_msr(kc->fd, kvm_state_msrs[k], &value))
            s->msrs[s->nmsrs++] = (CpuMsr){ .index = kvm_state_msrs[k], .value = value };
    }
    s->shadow = (uint8_t)(((ev.interrupt.shadow & KVM_X86_SHADOW_INT_STI) ? CPU_SHADOW_STI : 0) |
                          ((ev.interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS) ? CPU_SHADOW_MOV_SS : 0));
    s->nmi_blocked = ev.nmi.masked;
    s->nmi_pending = ev.nmi.pending || ev.nmi.injected;
    s->exception = ev.exception.injected || ev.exception.pending ? ev.exception.nr : -1;
    s->exception_has_error = ev.exception.has_error_code;
    s->exception_error = ev.exception.error_code;
    s->interrupt = ev.interrupt.injected ? ev.interrupt.nr : -1;
    if (kc->kv->irqchip) {
        struct kvm_mp_state mp;
        if (ioctl(kc->fd, KVM_GET_MP_STATE, &mp) == 0) {
            s->halted = mp.mp_state == KVM_MP_STATE_HALTED;
            /* An AP before its STARTUP IPI: after reset (uninitialized) or an INIT. */
            s->sipi_wait = mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED ||
                           mp.mp_state == KVM_MP_STATE_SIPI_RECEIVED;
        }
    }
    return true;
}

/* Loads s; on a refusal puts back what was there (KVM checks the values itself). */
static bool kvm_vcpu_load_state(KvmVcpu *kc, const CpuX86State *s, GError **err)
{
    struct kvm_regs r;
    struct kvm_sregs sr;
    struct kvm_fpu fpu;
    struct kvm_debugregs dr;
    struct kvm_vcpu_events ev;
    if (s->nmsrs > CPU_MAX_MSRS) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "CPU state: %u MSRs, at most %u", s->nmsrs, CPU_MAX_MSRS);
        return false;
    }
    if (ioctl(kc->fd, KVM_GET_SREGS, &sr) < 0 || ioctl(kc->fd, KVM_GET_DEBUGREGS, &dr) < 0 ||
        ioctl(kc->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
        return kvm_fail(err, "reading the vCPU");
    memset(&r, 0, sizeof(r));
    for (unsigned n = 0; n < 16; n++)
        *kvm_reg_slot(&r, n) = s->regs[n];
    r.rip = s->rip;
    r.rflags = s->rflags;
    struct kvm_segment *segs[CPU_NSEG] = { &sr.es, &sr.cs, &sr.ss, &sr.ds, &sr.fs, &sr.gs };
    for (unsigned k = 0; k < CPU_NSEG; k++)
        kvm_seg_in(&s->seg[k], segs[k]);
    kvm_seg_in(&s->ldtr, &sr.ldt);
    kvm_seg_in(&s->tr, &sr.tr);
    sr.gdt.base = s->gdt_base;
    sr.gdt.limit = s->gdt_limit;
    sr.idt.base = s->idt_base;
    sr.idt.limit = s->idt_limit;
    sr.cr0 = s->cr0;
    sr.cr2 = s->cr2;
    sr.cr3 = s->cr3;
    sr.cr4 = s->cr4;
    sr.efer = s->efer;
    memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
    for (unsigned n = 0; n < 4; n++)
        dr.db[n] = s->dr[n];
    dr.dr6 = s->dr[6];
    dr.dr7 = s->dr[7];
    dr.flags = 0;
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = s->fcw;
    fpu.fsw = s->fsw;
    fpu.ftwx = s->ftw;
    fpu.last_opcode = s->fop;
    fpu.last_ip = s->fip;
    fpu.last_dp = s->fdp;
    for (unsigned n = 0; n < 8; n++)
        memcpy(fpu.fpr[n], s->st[n], 10);
    memcpy(fpu.xmm, s->xmm, sizeof(fpu.xmm));
    fpu.mxcsr = s->mxcsr;
    ev.interrupt.shadow = (uint8_t)(((s->shadow & CPU_SHADOW_STI) ? KVM_X86_SHADOW_INT_STI : 0) |
                                    ((s->shadow & CPU_SHADOW_MOV_SS) ? KVM_X86_SHADOW_INT_MOV_SS : 0));
    ev.interrupt.injected = s->interrupt >= 0;
    ev.interrupt.nr = s->interrupt >= 0 ? (uint8_t)s->interrupt : 0;
    ev.nmi.masked = s->nmi_blocked;
    ev.nmi.pending = s->nmi_pending;
    ev.nmi.injected = 0;
    ev.exception.injected = s->exception >= 0;
    ev.exception.nr = s->exception >= 0 ? (uint8_t)s->exception : 0;
    ev.exception.has_error_code = s->exception_has_error;
    ev.exception.error_code = s->exception_error;
    ev.flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
    if (ioctl(kc->fd, KVM_SET_SREGS, &sr) < 0)
        return kvm_fail(err, "KVM_SET_SREGS");
    if (ioctl(kc->fd, KVM_SET_REGS, &r) < 0)
        return kvm_fail(err, "KVM_SET_REGS");
    if (ioctl(kc->fd, KVM_SET_FPU, &fpu) < 0)
        return kvm_fail(err, "KVM_SET_FPU");
    if (ioctl(kc->fd, KVM_SET_DEBUGREGS, &dr) < 0)
        return kvm_fail(err, "KVM_SET_DEBUGREGS");
    if (ioctl(kc->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
        return kvm_fail(err, "KVM_SET_VCPU_EVENTS");
    if (!kvm_set_msr(kc->fd, MSR_TSC, s->tsc))
        return kvm_fail(err, "writing the TSC");
    for (unsigned k = 0; k < s->nmsrs; k++) {
        if (!kvm_set_msr(kc->fd, s->msrs[k].index, s->msrs[k].value)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "CPU state: KVM refuses MSR 0x%x = 0x%" G_GINT64_MODIFIER "x",
                        s->msrs[k].index, s->msrs[k].value);
            return false;
        }
    }
    if (kc->kv->irqchip) {
        /* A CPU waiting for SIPI takes the next STARTUP IPI, as after an INIT. */
        struct kvm_mp_state mp = { s->sipi_wait ? KVM_MP_STATE_INIT_RECEIVED
                                   : s->halted  ? KVM_MP_STATE_HALTED
                                                : KVM_MP_STATE_RUNNABLE };
        if (ioctl(kc->fd, KVM_SET_MP_STATE, &mp) < 0)
            return kvm_fail(err, "KVM_SET_MP_STATE");
    }
    return true;
}

static bool kvm_vcpu_set_state(Vcpu *v, const CpuX86State *s, GError **err)
{
    KvmVcpu *kc = v->cpu;
    CpuX86State *old = g_new(CpuX86State, 1);
    bool ok = kvm_vcpu_get_state(v, old, err);
    if (ok && !(ok = kvm_vcpu_load_state(kc, s, err)))
        kvm_vcpu_load_state(kc, old, NULL);
    g_free(old);
    return ok;
}

static void kvm_vcpu_destroy(Vcpu *v)
{
    KvmVcpu *kc = v->cpu;
    munmap(kc->run, kc->kv->run_size);
    close(kc->fd);
    g_free(kc);
    v->cpu = NULL;
}

/* ---- the kernel irqchip's state (hw/intc/kernel-irqchip.c carries it) ---- */

/* The blob: a header, the two 8259s and the I/O APIC (KVM_GET_IRQCHIP), the PIT
 * (KVM_GET_PIT2), then each vCPU's local APIC page (KVM_GET_LAPIC), all in the kernel's
 * own layout (linux/kvm.h, fixed ABI). The APIC base is an MSR, in the vCPU's state. */
#define IRQCHIP_MAGIC 0x5152494bu /* "KIRQ" */
#define IRQCHIP_VERSION 1

typedef struct KvmIrqchipHeader {
    uint32_t magic, version, ncpus, chip_size, pit_size, lapic_size;
} KvmIrqchipHeader;

static size_t irqchip_blob_size(unsigned ncpus)
{
    return sizeof(KvmIrqchipHeader) + 3 * sizeof(struct kvm_irqchip) + sizeof(struct kvm_pit_state2) +
           ncpus * sizeof(struct kvm_lapic_state);
}

static GBytes *kvm_irqchip_save(Vm *vm)
{
    KvmVm *kv = vm_accel_state(vm);
    unsigned n = vm_cpu_count(vm);
    if (!kv->irqchip)
        return NULL;
    KvmIrqchipHeader h = { IRQCHIP_MAGIC, IRQCHIP_VERSION, n, sizeof(struct kvm_irqchip),
                           sizeof(struct kvm_pit_state2), sizeof(struct kvm_lapic_state) };
    GByteArray *out = g_byte_array_sized_new((guint)irqchip_blob_size(n));
    g_byte_array_append(out, (const guint8 *)&h, sizeof(h));
    for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
        struct kvm_irqchip c = { .chip_id = chip };
        if (ioctl(kv->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
            goto fail;
        g_byte_array_append(out, (const guint8 *)&c, sizeof(c));
    }
    struct kvm_pit_state2 pit;
    if (ioctl(kv->vm_fd, KVM_GET_PIT2, &pit) < 0)
        goto fail;
    g_byte_array_append(out, (const guint8 *)&pit, sizeof(pit));
    struct kvm_lapic_state *l = g_new(struct kvm_lapic_state, 1);
    for (unsigned i = 0; i < n; i++) {
        KvmVcpu *kc = vm_vcpu_n(vm, i)->cpu;
        if (ioctl(kc->fd, KVM_GET_LAPIC, l) < 0) {
            g_free(l);
            goto fail;
        }
        g_byte_array_append(out, (const guint8 *)l, sizeof(*l));
    }
    g_free(l);
    return g_byte_array_free_to_bytes(out);
fail:
    g_warning("KVM: reading the kernel irqchip's state: %s", g_strerror(errno));
    g_byte_array_free(out, TRUE);
    return NULL;
}

static bool kvm_irqchip_check(Vm *vm, GBytes *state, GError **err)
{
    KvmVm *kv = vm_accel_state(vm);
    unsigned n = vm_cpu_count(vm);
    gsize len;
    const uint8_t *p = g_bytes_get_data(state, &len);
    KvmIrqchipHeader h;
    if (!kv->irqchip) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "saved with KVM's in-kernel irqchip; this VM runs without it (kernel-irqchip=off)");
        return false;
    }
    if (len < sizeof(h)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "kernel irqchip state: %zu bytes, too short", (size_t)len);
        return false;
    }
    memcpy(&h, p, sizeof(h));
    if (h.magic != IRQCHIP_MAGIC || h.version != IRQCHIP_VERSION || h.chip_size != sizeof(struct kvm_irqchip) ||
        h.pit_size != sizeof(struct kvm_pit_state2) || h.lapic_size != sizeof(struct kvm_lapic_state)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "kernel irqchip state: not KVM's version %u layout",
                    IRQCHIP_VERSION);
        return false;
    }
    if (h.ncpus != n || len != irqchip_blob_size(n)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "kernel irqchip state: %u local APICs in %zu bytes; this VM has %u vCPUs", h.ncpus,
                    (size_t)len, n);
        return false;
    }
    for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
        struct kvm_irqchip c;
        memcpy(&c, p + sizeof(h) + chip * sizeof(c), sizeof(c));
        if (c.chip_id != chip) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "kernel irqchip state: chip %u is chip %u", chip,
                        c.chip_id);
            return false;
        }
    }
    return true;
}

/* System reset: the 8259s, the I/O APIC (every entry masked) and the PIT as KVM created
 * them. The local APICs are the vCPUs' (kvm_vcpu_reset). */
static void kvm_irqchip_reset(Vm *vm)
{
    KvmVm *kv = vm_accel_state(vm);
    if (!kv->irqchip)
        return;
    for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++)
        if (ioctl(kv->vm_fd, KVM_SET_IRQCHIP, &kv->poweron_chips[chip]) < 0)
            g_warning("KVM_SET_IRQCHIP %u: %s", chip, g_strerror(errno));
    if (ioctl(kv->vm_fd, KVM_SET_PIT2, &kv->poweron_pit) < 0)
        g_warning("KVM_SET_PIT2: %s", g_strerror(errno));
}

/* After the vCPUs' own state (their APIC base MSRs): the local APIC pages follow it. */
static void kvm_irqchip_load(Vm *vm, GBytes *state)
{
    KvmVm *kv = vm_accel_state(vm);
    const uint8_t *p = (const uint8_t *)g_bytes_get_data(state, NULL) + sizeof(KvmIrqchipHeader);
    for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
        struct kvm_irqchip c;
        memcpy(&c, p, sizeof(c));
        p += sizeof(c);
        if (ioctl(kv->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
            g_warning("KVM_SET_IRQCHIP %u: %s", chip, g_strerror(errno));
    }
    struct kvm_pit_state2 pit;
    memcpy(&pit, p, sizeof(pit));
    p += sizeof(pit);
    if (ioctl(kv->vm_fd, KVM_SET_PIT2, &pit) < 0)
        g_warning("KVM_SET_PIT2: %s", g_strerror(errno));
    struct kvm_lapic_state *l = g_new(struct kvm_lapic_state, 1);
    for (unsigned i = 0; i < vm_cpu_count(vm); i++, p += sizeof(*l)) {
        KvmVcpu *kc = vm_vcpu_n(vm, i)->cpu;
        memcpy(l, p, sizeof(*l));
        if (ioctl(kc->fd, KVM_SET_LAPIC, l) < 0)
            g_warning("KVM_SET_LAPIC of vCPU %u: %s", i, g_strerror(errno));
    }
    g_free(l);
}

const CpuBackend cpu_kvm_backend = {
    .name = "kvm",
    .description = "the host's KVM accelerator (/dev/kvm)",
    .probe = kvm_probe,
    .limited = kvm_host_is_pvm,
    .host_info = kvm_host_info,
    .vm_init = kvm_vm_init,
    .vm_destroy = kvm_vm_destroy,
    .vcpu_init = kvm_vcpu_init,
    .vcpu_reset = kvm_vcpu_reset,
    .vcpu_run = kvm_vcpu_run,
    .vcpu_kick = kvm_vcpu_kick,
    .vcpu_destroy = kvm_vcpu_destroy,
    .vcpu_describe = kvm_vcpu_describe,
    .vcpu_get_state = kvm_vcpu_get_state,
    .vcpu_set_state = kvm_vcpu_set_state,
    .kernel_irqchip_possible = true,
    .irqchip_save = kvm_irqchip_save,
    .irqchip_check = kvm_irqchip_check,
    .irqchip_load = kvm_irqchip_load,
    .irqchip_reset = kvm_irqchip_reset,
    .smp = true,
};
