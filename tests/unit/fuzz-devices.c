/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The device fuzzer: a real "pc" board (every board device, and one of every class
 * -device can create, found by listing the classes, so a new device is fuzzed without
 * editing this file) on the CPU-less test back end, driven as a hostile guest would:
 * port I/O of 1, 2 and 4 bytes aimed mostly at ports some device owns, MMIO anywhere the
 * board and the guest-programmed BARs mapped something, PCI configuration writes (BARs
 * moved at random), guest RAM full of hostile descriptors (PRD tables outside RAM, zero
 * and huge lengths, tables without end), ISA DMA programmed with random addresses and
 * counts, IDE, ATAPI and floppy commands, the virtual clock advanced so timers fire,
 * keyboard and mouse input, media changes, device state saved and loaded back, and
 * system resets.
 *
 * Every choice comes from one seed: `fuzz-devices --seed N --iterations M` replays a run
 * exactly (disk DMA is drained after each action so the pool threads change nothing).
 * A run fails on a crash or sanitizer report, on one action running longer than the
 * watchdog allows, on a state that does not load back, and on allocation growth beyond
 * a bound after a warm-up; it then prints the seed and the last actions. */
#include "fuzz-devices.h"
#include "engine/backend.h"
#include "disks/qcow2.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING_LEN 48
#define NOTE_LEN 200

/* ---- options ---- */

static guint64 opt_seed;
static gboolean opt_seed_set;
static gint64 opt_iterations = 20000;
static gint opt_runs = 1;
static gint opt_duration;
static gint opt_watchdog = 5;
static gint opt_max_growth_mib = 32;
static gboolean opt_trace;
static gboolean opt_list;
static char *opt_log;
static gboolean opt_strict_state;
static char *opt_inject;
static gboolean opt_async;

static gboolean parse_seed(const char *name, const char *value, gpointer data, GError **err)
{
    (void)name; (void)data;
    char *end;
    errno = 0;
    opt_seed = g_ascii_strtoull(value, &end, 0);
    if (errno || end == value || *end) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--seed: '%s' is not a number", value);
        return FALSE;
    }
    opt_seed_set = TRUE;
    return TRUE;
}

static const GOptionEntry entries[] = {
    { "seed", 's', 0, G_OPTION_ARG_CALLBACK, (gpointer)parse_seed,
      "Seed of the first run (default: from the clock; printed)", "N" },
    { "iterations", 'n', 0, G_OPTION_ARG_INT64, &opt_iterations, "Actions per run (default 20000)", "M" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &opt_runs, "Runs, with seeds N, N+1, ... (default 1)", "R" },
    { "duration", 'd', 0, G_OPTION_ARG_INT, &opt_duration,
      "Keep starting runs (seeds N, N+1, ...) until this many seconds passed", "SECONDS" },
    { "watchdog", 'w', 0, G_OPTION_ARG_INT, &opt_watchdog,
      "Fail when one action uses more CPU time (default 5; ten times as long waiting)", "SECONDS" },
    { "max-growth", 'g', 0, G_OPTION_ARG_INT, &opt_max_growth_mib,
      "Fail when allocations grow by more after the warm-up (default 32)", "MIB" },
    { "trace", 't', 0, G_OPTION_ARG_NONE, &opt_trace, "Print every action", NULL },
    { "log", 0, 0, G_OPTION_ARG_STRING, &opt_log,
      "Debug log areas, as vireo-run -d takes them (guest,disk,...; to stderr)", "AREAS" },
    { "async", 0, 0, G_OPTION_ARG_NONE, &opt_async,
      "Leave disk DMA running across actions (resets and BAR moves meet requests in flight; "
      "a replay may then differ)", NULL },
    { "strict-state", 0, 0, G_OPTION_ARG_NONE, &opt_strict_state,
      "Compare the state after the first load too (then shared interrupt lines differ)", NULL },
    { "inject", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &opt_inject,
      "Test of the fuzzer itself: a fault half way (hang, wait, crash, growth)", "FAULT" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &opt_list, "Print the devices of the fuzzed board and exit", NULL },
    { NULL },
};

/* ---- what a failure prints: the seed and the last actions ---- */

static char ring[RING_LEN][NOTE_LEN];
static atomic_uint ring_pos;
static guint64 cur_seed;
static _Atomic gint64 cur_iteration;
static gint64 cur_iterations;

static void write_str(const char *s)
{
    size_t len = strlen(s);
    while (len) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* Async-signal-safe: formats numbers itself. */
static void write_u64(guint64 v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    write_str(buf + i);
}

static void report_failure(const char *why)
{
    write_str("\nfuzz-devices: FAILED: ");
    write_str(why);
    write_str("\nfuzz-devices: seed ");
    write_u64(cur_seed);
    write_str(", action ");
    write_u64((guint64)atomic_load(&cur_iteration));
    write_str(" of ");
    write_u64((guint64)cur_iterations);
    write_str("\nfuzz-devices: replay with: fuzz-devices --seed ");
    write_u64(cur_seed);
    write_str(" --iterations ");
    write_u64((guint64)atomic_load(&cur_iteration) + 1);
    write_str(" --trace\nfuzz-devices: the last actions, oldest first:\n");
    unsigned end = atomic_load(&ring_pos);
    for (unsigned i = end > RING_LEN ? end - RING_LEN : 0; i < end; i++) {
        write_str("  ");
        write_str(ring[i % RING_LEN]);
        write_str("\n");
    }
}

void fuzz_note(const char *fmt, ...)
{
    unsigned pos = atomic_load(&ring_pos);
    char *slot = ring[pos % RING_LEN];
    int n = snprintf(slot, NOTE_LEN, "%" G_GINT64_FORMAT ": ", atomic_load(&cur_iteration));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(slot + n, NOTE_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    atomic_store(&ring_pos, pos + 1);
    if (opt_trace)
        printf("%s\n", slot);
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    report_failure(why);
    /* Without the leak check at exit: the VM is still up, which is no leak. */
    _exit(1);
}

/* A crash: the sanitizers' death callback, or a signal without them. */
static void on_death(void)
{
    report_failure("the process is dying (crash, sanitizer report or assertion; see above)");
}

static void on_signal(int sig)
{
    report_failure(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                   : sig == SIGILL ? "SIGILL" : "SIGABRT (an assertion failed?)");
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The watchdog asks the stuck thread where it is. */
static void on_backtrace_request(int sig)
{
    (void)sig;
    void *frames[64];
    int n = backtrace(frames, 64);
    write_str("fuzz-devices: the fuzzing thread is at:\n");
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

/* Weak: present only in sanitizer builds. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static void install_crash_handlers(void)
{
    if (__sanitizer_set_death_callback) {
        /* The sanitizers handle faults and print their report, then call this. */
        __sanitizer_set_death_callback(on_death);
    } else {
        signal(SIGSEGV, on_signal);
        signal(SIGBUS, on_signal);
        signal(SIGFPE, on_signal);
        signal(SIGILL, on_signal);
    }
    signal(SIGABRT, on_signal);
    signal(SIGUSR1, on_backtrace_request);
}

/* ---- the watchdog: one action may take opt_watchdog seconds ----
 * Of the fuzzing thread's CPU time, so a loaded machine does not fail a run; a thread
 * that waits without spinning (a deadlock) is caught by wall time, ten times longer. */

static _Atomic gint64 action_started_us; /* 0: between actions */
static _Atomic gint64 action_started_cpu_ns;
static pthread_t fuzz_thread;
static clockid_t fuzz_cpu_clock;

static gint64 fuzz_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(fuzz_cpu_clock, &ts) < 0)
        return 0;
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gpointer watchdog_main(gpointer data)
{
    (void)data;
    for (;;) {
        g_usleep(100000);
        gint64 t = atomic_load(&action_started_us), cpu = atomic_load(&action_started_cpu_ns);
        if (!t)
            continue;
        bool spinning = fuzz_cpu_ns() - cpu > (gint64)opt_watchdog * 1000000000;
        bool stuck = g_get_monotonic_time() - t > (gint64)opt_watchdog * 10 * G_USEC_PER_SEC;
        if ((spinning || stuck) && atomic_load(&action_started_us) == t) {
            char why[128];
            snprintf(why, sizeof(why), "hang: one action %s", spinning ? "used more than the watchdog's CPU seconds"
                                                                       : "waited ten times the watchdog's seconds");
            report_failure(why);
            pthread_kill(fuzz_thread, SIGUSR1);
            g_usleep(500000);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    return NULL;
}

/* ---- host allocations ---- */

static size_t allocated_bytes(void)
{
    if (__sanitizer_get_current_allocated_bytes)
        return __sanitizer_get_current_allocated_bytes();
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* ---- the fuzzed board ---- */


/* ---- building the board ---- */

static bool make_file(const char *path, uint64_t size, GError **err)
{
    int fd = g_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    return true;
}

static DriveConfig *add_drive(VmConfig *cfg, const char *file, const char *format, DriveInterface iface,
                              DriveMedia media, int index)
{
    DriveConfig *d = drive_config_new();
    d->file = g_strdup(file);
    d->format = g_strdup(format);
    d->iface = iface;
    d->media = media;
    d->index = index;
    d->cache = g_strdup("unsafe");
    g_ptr_array_add(cfg->drives, d);
    return d;
}

/* Back ends a device created by name may need, by kind: ones that reach nothing
 * outside the process, tried in order. Each device gets its own (a netdev serves one
 * card). */
static const struct { const char *kind; const char *opts; } safe_backends[] = {
    { "netdev", "user,restrict=on" },
    { "audiodev", "none" },
};

/* Classes that pass a device of the host through (usb-host): the fuzzer reaches nothing
 * outside the process, and their guest side is tested against a mock (test-usb-host). */
static const char *const host_device_classes[] = { "usb-host" };

/* Options a class cannot do without that are not back ends: a disk for the devices
 * that take a -drive if=none. */
static const struct { const char *cls; const char *opts; } by_name_opts[] = {
    { "usb-storage", "drive=fuzz-drive" },
    { "virtio-blk-pci", "drive=fuzz-drive2" },
    { "usb-redir", "chardev=fuzz-chr" },
};

/* One device of a class, created as -device would (lock held): plain, then with the
 * back ends its properties name, then (an ISA device whose default port is taken) at a free port. */
static bool create_by_name(Fuzz *f, const DeviceClass *dc, GString *created, GError **err)
{
    /* A display adapter of the board's (seeds 2, 6, ...) or none: a VM has one screen. */
    if (!strcmp(dc->name, "virtio-gpu-pci") || !strcmp(dc->name, "virtio-vga"))
        return true;
    g_autoptr(GString) spec = g_string_new(dc->name);
    g_autofree char *id = g_strdup_printf("fuzz-%s", dc->name);
    g_string_append_printf(spec, ",id=%s", id);
    for (size_t i = 0; i < G_N_ELEMENTS(by_name_opts); i++)
        if (!strcmp(by_name_opts[i].cls, dc->name))
            g_string_append_printf(spec, ",%s", by_name_opts[i].opts);
    for (const DeviceProp *p = dc->props; p && p->name; p++) {
        if (p->type != DEVICE_PROP_BACKEND)
            continue;
        for (size_t i = 0; i < G_N_ELEMENTS(safe_backends); i++) {
            if (strcmp(safe_backends[i].kind, p->backend))
                continue;
            g_autofree char *bid = g_strdup_printf("fuzz-%s-%s", p->backend, dc->name);
            g_autofree char *opts = g_strdup_printf("%s,id=%s", safe_backends[i].opts, bid);
            /* Back ends open without the engine lock (engine/backend.h). */
            bool have = backend_find(f->vm, p->backend, bid);
            if (!have) {
                vm_unlock(f->vm);
                have = backend_open(f->vm, p->backend, opts, NULL);
                vm_lock(f->vm);
            }
            if (have) {
                g_string_append_printf(spec, ",%s=%s", p->name, bid);
                break;
            }
        }
    }
    g_autoptr(GError) first = NULL;
    if (device_create_from_spec(f->vm, spec->str, &first)) {
        g_string_append_printf(created, " %s", spec->str);
        return true;
    }
    bool has_iobase = false, has_irq = false, has_bus = false;
    for (const DeviceProp *p = dc->props; p && p->name; p++) {
        has_iobase |= !strcmp(p->name, "iobase");
        has_irq |= !strcmp(p->name, "irq");
        has_bus |= !strcmp(p->name, "bus");
    }
    /* A USB device whose default bus is full: the other controllers' buses. */
    for (unsigned n = 1; has_bus && n < 4; n++) {
        g_autofree char *moved = g_strdup_printf("%s,bus=usb-bus.%u", spec->str, n);
        if (device_create_from_spec(f->vm, moved, NULL)) {
            g_string_append_printf(created, " %s", moved);
            return true;
        }
    }
    /* An ISA line no board device drives (5 and 7; 9 is the SCI): ISA interrupts are
     * not shared, two devices on one line would each undo the other's level. */
    static const unsigned free_irqs[] = { 5, 7 };
    if (has_iobase) {
        for (uint32_t base = 0x200; base < 0x1000; base += 16) {
            bool free_range = true;
            for (uint32_t p = base; p < base + 16 && free_range; p++)
                free_range = !io_owner(vm_io(f->vm), (uint16_t)p);
            if (!free_range)
                continue;
            g_autofree char *moved = g_strdup_printf("%s,iobase=0x%x", spec->str, base);
            if (has_irq) {
                g_autofree char *with_irq = g_strdup_printf("%s,irq=%u", moved, free_irqs[f->next_irq++ % G_N_ELEMENTS(free_irqs)]);
                g_free(moved);
                moved = g_steal_pointer(&with_irq);
            }
            if (device_create_from_spec(f->vm, moved, NULL)) {
                g_string_append_printf(created, " %s", moved);
                return true;
            }
            break;
        }
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                "the fuzzer cannot create a '%s' (-device %s): %s; give it defaults that work "
                "without options, or add its back end kind to safe_backends in %s",
                dc->name, spec->str, first->message, __FILE__);
    return false;
}

static Fuzz *fuzz_new(guint64 seed, bool quiet)
{
    Fuzz *f = g_new0(Fuzz, 1);
    guint32 words[2] = { (guint32)seed, (guint32)(seed >> 32) };
    f->rng = g_rand_new_with_seed_array(words, 2);
    f->strict_state = opt_strict_state;
    g_autoptr(GError) err = NULL;
    f->dir = g_dir_make_tmp("vireo-fuzz-XXXXXX", &err);
    if (!f->dir)
        fuzz_fail("temporary folder: %s", err->message);
    g_autofree char *hd = g_build_filename(f->dir, "hd.raw", NULL);
    g_autofree char *qc = g_build_filename(f->dir, "hd.qcow2", NULL);
    g_autofree char *usbdisk = g_build_filename(f->dir, "usb.raw", NULL);
    g_autofree char *vdisk = g_build_filename(f->dir, "virtio.qcow2", NULL);
    f->cd_path = g_build_filename(f->dir, "cd.iso", NULL);
    f->fd_path = g_build_filename(f->dir, "fd.img", NULL);
    Qcow2CreateOptions qo = { .size = UINT64_C(16) << 20, .cluster_size = 4096 };
    if (!make_file(hd, UINT64_C(8) << 20, &err) || !make_file(usbdisk, UINT64_C(4) << 20, &err) ||
        !make_file(f->cd_path, UINT64_C(4) << 20, &err) ||
        !make_file(f->fd_path, 1474560, &err) || !qcow2_create(qc, &qo, &err) ||
        !qcow2_create(vdisk, &qo, &err))
        fuzz_fail("disk images: %s", err->message);

    /* The board with every device it has: two UARTs (the others come by name), both
     * IDE channels with a raw disk, a qcow2 disk and a CD, two floppy drives. */
    g_autoptr(VmConfig) cfg = vm_config_new();
    cfg->machine = g_strdup("pc");
    cfg->ram_size = RAM_SIZE;
    cfg->serial[0] = g_strdup("null");
    cfg->serial[1] = g_strdup("null");
    cfg->debugcon = g_strdup("null");
    cfg->debug_exit = true;
    cfg->debug_exit_port = 0x501;
    add_drive(cfg, hd, "raw", DRIVE_IF_IDE, DRIVE_MEDIA_DISK, 0);
    add_drive(cfg, qc, "qcow2", DRIVE_IF_IDE, DRIVE_MEDIA_DISK, 1);
    /* A drive for devices created by name that take one (drive=, see by_name_opts). */
    add_drive(cfg, usbdisk, "raw", DRIVE_IF_NONE, DRIVE_MEDIA_DISK, -1)->id = g_strdup("fuzz-drive");
    add_drive(cfg, vdisk, "qcow2", DRIVE_IF_NONE, DRIVE_MEDIA_DISK, -1)->id = g_strdup("fuzz-drive2");
    /* A chardev for usb-redir: null, so no peer ever connects a device (its peer side
     * is tested in test-usb-redir). */
    vm_config_add_backend(cfg, "chardev", "null,id=fuzz-chr");
    add_drive(cfg, f->cd_path, "raw", DRIVE_IF_IDE, DRIVE_MEDIA_CDROM, 2);
    add_drive(cfg, f->fd_path, "raw", DRIVE_IF_FLOPPY, DRIVE_MEDIA_DISK, 0);
    add_drive(cfg, NULL, NULL, DRIVE_IF_FLOPPY, DRIVE_MEDIA_DISK, 1);
    /* One display adapter at a time (they share the VGA's ports, and a VM has one
     * screen): odd seeds put a cirrus-vga in the std VGA's place, as -device cirrus-vga
     * does, seeds 2, 10, 18 ... a virtio-gpu-pci, seeds 6, 14, 22 ... a virtio-vga. */
    bool cirrus = seed & 1;
    const char *vgpu = seed % 8 == 2 ? "virtio-gpu-pci" : seed % 8 == 6 ? "virtio-vga" : NULL;
    if (cirrus)
        g_ptr_array_add(cfg->devices, g_strdup("cirrus-vga,id=fuzz-cirrus-vga"));
    if (vgpu)
        g_ptr_array_add(cfg->devices, g_strdup_printf("%s,id=fuzz-%s", vgpu, vgpu));
    f->vm = vm_new_board_for_test(cfg, &err);
    if (!f->vm)
        fuzz_fail("the pc board: %s", err->message);

    vm_lock(f->vm);
    /* Every class -device offers, whatever it is. */
    g_autoptr(GString) created = g_string_new("");
    g_autoptr(GPtrArray) classes = device_class_list(true);
    if (cirrus)
        g_string_append(created, " cirrus-vga,id=fuzz-cirrus-vga (the board's display adapter)");
    if (vgpu)
        g_string_append_printf(created, " %s,id=fuzz-%s (the board's display adapter)", vgpu, vgpu);
    /* A device that sits on another one (an HD Audio codec on its controller) may come
     * before it by name: what fails is tried again once every other class exists. */
    g_autoptr(GPtrArray) later = g_ptr_array_new();
    for (guint i = 0; i < classes->len; i++) {
        const char *name = ((const DeviceClass *)classes->pdata[i])->name;
        bool host_device = false;
        for (size_t j = 0; j < G_N_ELEMENTS(host_device_classes); j++)
            host_device |= !strcmp(name, host_device_classes[j]);
        if (!strcmp(name, "cirrus-vga") || host_device)
            continue;
        if (!create_by_name(f, classes->pdata[i], created, NULL))
            g_ptr_array_add(later, classes->pdata[i]);
    }
    for (guint i = 0; i < later->len; i++) {
        if (!create_by_name(f, later->pdata[i], created, &err)) {
            vm_unlock(f->vm);
            fuzz_fail("%s", err->message);
        }
    }
    f->pci = pci_root_bus(f->vm, &err);
    if (!f->pci)
        fuzz_fail("%s", err->message);
    f->devfns = g_array_new(FALSE, FALSE, sizeof(int));
    for (int devfn = 0; devfn < 256; devfn++)
        if (pci_bus_find(f->pci, devfn))
            g_array_append_val(f->devfns, devfn);
    f->ports = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    f->mmio = g_array_new(FALSE, FALSE, sizeof(MmioTarget));
    f->maps_stale = true;
    vm_unlock(f->vm);

    /* Power on, then what firmware would set up. */
    vm_test_system_reset(f->vm);
    vm_lock(f->vm);
    fuzz_pci_firmware_setup(f);
    fuzz_refresh_maps(f);
    vm_unlock(f->vm);
    f->con = vm_display_console(f->vm);
    if (f->con)
        f->display = display_client_new(f->con);

    if (!quiet || opt_list) {
        vm_lock(f->vm);
        guint ndev = g_list_length(device_list_head(f->vm));
        vm_unlock(f->vm);
        printf("fuzz-devices: %u devices, %u PCI functions, %u ports, %u memory regions; by name:%s\n", ndev,
               f->devfns->len, f->ports->len, f->mmio->len, created->str);
    }
    if (opt_list) {
        vm_lock(f->vm);
        g_autofree char *tree = device_list_describe(f->vm);
        vm_unlock(f->vm);
        printf("%s", tree);
        for (guint i = 0; i < f->mmio->len; i++) {
            MmioTarget *t = &g_array_index(f->mmio, MmioTarget, i);
            printf("  mmio %010" G_GINT64_MODIFIER "x +0x%" G_GINT64_MODIFIER "x %s\n", t->base, t->size, t->name);
        }
    }
    return f;
}

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

static void fuzz_free(Fuzz *f)
{
    if (f->display)
        display_client_free(f->display);
    vm_free(f->vm);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->cd_path);
    g_free(f->fd_path);
    g_array_free(f->devfns, TRUE);
    g_array_free(f->ports, TRUE);
    g_array_free(f->mmio, TRUE);
    g_rand_free(f->rng);
    g_free(f);
}

/* ---- one run ---- */

/* Faults of the kinds the fuzzer must report, for its own test. */
static GPtrArray *injected_growth;

static void inject_fault(Fuzz *f)
{
    fuzz_note("inject: %s", opt_inject);
    if (!strcmp(opt_inject, "hang")) {
        for (volatile unsigned long i = 0;; i++)
            ;
    } else if (!strcmp(opt_inject, "wait")) {
        vm_lock(f->vm);
        vm_lock(f->vm); /* the engine lock is not recursive: a deadlock */
    } else if (!strcmp(opt_inject, "crash")) {
        raise(SIGSEGV);
    } else if (!strcmp(opt_inject, "growth")) {
        injected_growth = g_ptr_array_new_with_free_func(g_free);
        for (unsigned i = 0; i < 2 * (unsigned)opt_max_growth_mib; i++)
            g_ptr_array_add(injected_growth, g_malloc0(1u << 20));
    }
}

static void run_one(guint64 seed, gint64 iterations, bool quiet)
{
    cur_seed = seed;
    cur_iterations = iterations;
    atomic_store(&cur_iteration, -1);
    atomic_store(&ring_pos, 0);
    Fuzz *f = fuzz_new(seed, quiet);
    if (opt_list) {
        fuzz_free(f);
        return;
    }
    unsigned total = 0;
    for (size_t i = 0; i < fuzz_n_actions; i++)
        total += fuzz_actions[i].weight;
    gint64 warmup = MAX(MIN(iterations / 5, 4000), 1);
    size_t base_alloc = 0, peak_growth = 0;
    gint64 slowest_us = 0, slowest_it = 0;
    gint64 t0 = g_get_monotonic_time();

    for (gint64 it = 0; it < iterations; it++) {
        atomic_store(&cur_iteration, it);
        atomic_store(&action_started_cpu_ns, fuzz_cpu_ns());
        atomic_store(&action_started_us, g_get_monotonic_time());
        unsigned pick = rnd(f, total);
        size_t a = 0;
        while (pick >= fuzz_actions[a].weight)
            pick -= fuzz_actions[a++].weight;
        if (opt_inject && it == iterations / 2)
            inject_fault(f);
        if (fuzz_actions[a].lock == FUZZ_LOCKED) {
            vm_lock(f->vm);
            fuzz_actions[a].fn(f);
            vm_unlock(f->vm);
        } else {
            fuzz_actions[a].fn(f);
        }
        /* Settle what the action started, as the vCPU thread would: disk DMA on the
         * pool (so a replay is exact), a reset a device asked for, state events. */
        if (!opt_async) {
            vm_lock(f->vm);
            device_list_drain(f->vm);
            vm_unlock(f->vm);
        }
        if (vm_test_take_reset_request(f->vm)) {
            fuzz_note("system reset (a device asked)");
            vm_test_system_reset(f->vm);
            f->resets++;
            f->maps_stale = true;
            if (chance(f, 70)) {
                vm_lock(f->vm);
                fuzz_pci_firmware_setup(f);
                vm_unlock(f->vm);
            }
        }
        while (g_main_context_iteration(NULL, FALSE))
            ;
        gint64 took = g_get_monotonic_time() - atomic_load(&action_started_us);
        atomic_store(&action_started_us, 0);
        if (took > slowest_us) {
            slowest_us = took;
            slowest_it = it;
        }

        if (it + 1 == warmup)
            base_alloc = allocated_bytes();
        if (it + 1 > warmup && ((it + 1) % 1000 == 0 || it + 1 == iterations)) {
            size_t now = allocated_bytes();
            size_t growth = now > base_alloc ? now - base_alloc : 0;
            peak_growth = MAX(peak_growth, growth);
            if (growth > (size_t)opt_max_growth_mib << 20)
                fuzz_fail("host allocations grew by %zu KiB after the warm-up (bound %d MiB)", growth >> 10,
                     opt_max_growth_mib);
        }
    }
    double secs = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    printf("fuzz-devices: seed %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT " actions in %.1f s, %u resets, "
           "%u state round trips, allocation growth after warm-up %zu KiB, slowest action %" G_GINT64_FORMAT
           " ms (%" G_GINT64_FORMAT ")\n",
           seed, iterations, secs, f->resets, f->state_checks, peak_growth >> 10, slowest_us / 1000, slowest_it);
    fflush(stdout);
    fuzz_free(f);
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- fuzz the pc board's devices from the guest side");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "fuzz-devices: %s\n", err->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "fuzz-devices: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (opt_iterations < 1 || opt_runs < 1 || opt_watchdog < 1 || opt_max_growth_mib < 1 || opt_duration < 0) {
        fprintf(stderr, "fuzz-devices: counts, seconds and bounds must be positive\n");
        return 2;
    }
    if (opt_log && !vlog_set_areas(opt_log, &err)) {
        fprintf(stderr, "fuzz-devices: --log: %s\n", err->message);
        return 2;
    }
    if (!opt_seed_set)
        opt_seed = (guint64)g_get_real_time() ^ (guint64)getpid() << 32;
    /* A device's g_critical is a bug like a crash. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    fuzz_thread = pthread_self();
    if (pthread_getcpuclockid(fuzz_thread, &fuzz_cpu_clock)) {
        fprintf(stderr, "fuzz-devices: no CPU clock for the watchdog\n");
        return 1;
    }
    install_crash_handlers();
    g_thread_unref(g_thread_new("fuzz-watchdog", watchdog_main, NULL));

    printf("fuzz-devices: seed %" G_GUINT64_FORMAT ", %" G_GINT64_FORMAT " actions per run\n", opt_seed,
           opt_iterations);
    fflush(stdout);
    gint64 start = g_get_monotonic_time(), actions_done = 0;
    guint64 seed = opt_seed;
    for (gint runs = 0;; runs++) {
        if (opt_duration ? g_get_monotonic_time() - start >= (gint64)opt_duration * G_USEC_PER_SEC
                         : runs >= opt_runs)
            break;
        run_one(seed++, opt_iterations, runs > 0);
        actions_done += opt_iterations;
        if (opt_list)
            break;
    }
    printf("fuzz-devices: passed: %" G_GUINT64_FORMAT " run(s) from seed %" G_GUINT64_FORMAT ", %" G_GINT64_FORMAT
           " actions, %.0f s\n",
           seed - opt_seed, opt_seed, actions_done, (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
    return 0;
}
