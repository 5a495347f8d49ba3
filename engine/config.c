/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "engine/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK(vireo-error-quark, vireo_error)

static void backend_config_free(gpointer p);

VmConfig *vm_config_new(void)
{
    VmConfig *c = g_new0(VmConfig, 1);
    c->drives = g_ptr_array_new_with_free_func((GDestroyNotify)drive_config_free);
    c->debug_exit_port = 0xf4;
    c->devices = g_ptr_array_new_with_free_func(g_free);
    c->globals = g_ptr_array_new_with_free_func(g_free);
    c->backends = g_ptr_array_new_with_free_func(backend_config_free);
    return c;
}

static void backend_config_free(gpointer p)
{
    BackendConfig *b = p;
    g_free(b->kind);
    g_free(b->opts);
    g_free(b);
}

void vm_config_add_backend(VmConfig *cfg, const char *kind, const char *opts)
{
    BackendConfig *b = g_new(BackendConfig, 1);
    b->kind = g_strdup(kind);
    b->opts = g_strdup(opts);
    g_ptr_array_add(cfg->backends, b);
}

static void copy_strings(GPtrArray *to, const GPtrArray *from)
{
    for (guint i = 0; from && i < from->len; i++)
        g_ptr_array_add(to, g_strdup(from->pdata[i]));
}

VmConfig *vm_config_copy(const VmConfig *cfg)
{
    VmConfig *c = g_new(VmConfig, 1);
    *c = *cfg;
    c->name = g_strdup(cfg->name);
    c->machine = g_strdup(cfg->machine);
    c->accel = g_strdup(cfg->accel);
    c->cpu_model = g_strdup(cfg->cpu_model);
    c->bios = g_strdup(cfg->bios);
    c->kernel = g_strdup(cfg->kernel);
    c->initrd = g_strdup(cfg->initrd);
    c->append = g_strdup(cfg->append);
    for (int i = 0; i < VM_MAX_SERIAL; i++)
        c->serial[i] = g_strdup(cfg->serial[i]);
    c->debugcon = g_strdup(cfg->debugcon);
    c->display = g_strdup(cfg->display);
    c->drives = g_ptr_array_new_with_free_func((GDestroyNotify)drive_config_free);
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *d = cfg->drives->pdata[i];
        DriveConfig *n = drive_config_new();
        *n = *d;
        n->file = g_strdup(d->file);
        n->format = g_strdup(d->format);
        n->cache = g_strdup(d->cache);
        n->id = g_strdup(d->id);
        g_ptr_array_add(c->drives, n);
    }
    c->boot_order = g_strdup(cfg->boot_order);
    c->boot_once = g_strdup(cfg->boot_once);
    c->qmp = g_strdup(cfg->qmp);
    c->vga = g_strdup(cfg->vga);
    c->vm_dir = g_strdup(cfg->vm_dir);
    c->devices = g_ptr_array_new_with_free_func(g_free);
    copy_strings(c->devices, cfg->devices);
    c->globals = g_ptr_array_new_with_free_func(g_free);
    copy_strings(c->globals, cfg->globals);
    c->backends = g_ptr_array_new_with_free_func(backend_config_free);
    for (guint i = 0; cfg->backends && i < cfg->backends->len; i++) {
        const BackendConfig *b = cfg->backends->pdata[i];
        vm_config_add_backend(c, b->kind, b->opts);
    }
    return c;
}

void vm_config_free(VmConfig *c)
{
    if (!c)
        return;
    g_free(c->name);
    g_free(c->machine);
    g_free(c->accel);
    g_free(c->cpu_model);
    g_free(c->bios);
    g_free(c->kernel);
    g_free(c->initrd);
    g_free(c->append);
    for (int i = 0; i < VM_MAX_SERIAL; i++)
        g_free(c->serial[i]);
    g_free(c->debugcon);
    g_free(c->display);
    g_ptr_array_free(c->drives, TRUE);
    g_free(c->boot_order);
    g_free(c->boot_once);
    g_free(c->qmp);
    g_free(c->vga);
    g_free(c->vm_dir);
    g_ptr_array_free(c->devices, TRUE);
    g_ptr_array_free(c->globals, TRUE);
    g_ptr_array_free(c->backends, TRUE);
    g_free(c);
}

DriveConfig *drive_config_new(void)
{
    DriveConfig *d = g_new0(DriveConfig, 1);
    d->index = -1;
    return d;
}

void drive_config_free(DriveConfig *d)
{
    if (!d)
        return;
    g_free(d->file);
    g_free(d->format);
    g_free(d->cache);
    g_free(d->id);
    g_free(d);
}

bool parse_size(const char *s, bool default_mib, uint64_t *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    double v = g_ascii_strtod(s, &end);
    if (errno || end == s || v < 0)
        return false;
    uint64_t mul;
    switch (g_ascii_toupper(*end)) {
    case 0: mul = default_mib ? UINT64_C(1) << 20 : 1; break;
    case 'B': mul = 1; end++; break;
    case 'K': mul = UINT64_C(1) << 10; end++; break;
    case 'M': mul = UINT64_C(1) << 20; end++; break;
    case 'G': mul = UINT64_C(1) << 30; end++; break;
    case 'T': mul = UINT64_C(1) << 40; end++; break;
    default: return false;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    if (*end)
        return false;
    double bytes = v * (double)mul;
    if (bytes > 1.8e19)
        return false;
    *out = (uint64_t)bytes;
    return true;
}

bool vm_config_parse_ram(const char *s, uint64_t *bytes, GError **err)
{
    uint64_t v;
    if (!parse_size(s, true, &v) || v < VM_RAM_MIN || v > VM_RAM_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "not a memory size between %dM and %dG (examples: 256, 512M, 2G; a bare "
                    "number is MiB)", VM_RAM_MIN_MIB, VM_RAM_MAX_GIB);
        return false;
    }
    *bytes = v;
    return true;
}

/* A count of 1..max in an -smp field; false with err naming the field. */
static bool smp_number(const char *field, const char *text, long max, long *out, GError **err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > max) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s must be a number from 1 to %ld (got '%s')",
                    field, max, text);
        return false;
    }
    *out = v;
    return true;
}

bool vm_config_parse_cpus(const char *s, unsigned *n, GError **err)
{
    return vm_config_parse_smp(s, n, NULL, err);
}

/* QEMU's form: [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M]. The topology
 * is checked against the count (S*C*T = N when all three are given); missing ones are
 * derived as QEMU 6.2 and later do for the pc machine: cores before sockets, threads
 * last. maxcpus above the count would need CPU hot-plug, which the board does not have. */
bool vm_config_parse_smp(const char *s, unsigned *n, CpuTopology *topo_out, GError **err)
{
    if (!s || !*s) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "the processor count must be a number from 1 to %d", VM_CPUS_MAX);
        return false;
    }
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    long cpus = 0, sockets = 0, cores = 0, threads = 0, maxcpus = 0;
    for (char **p = parts; *p; p++) {
        const char *eq = strchr(*p, '=');
        long *slot;
        const char *field;
        if (!eq && p == parts) {
            if (!smp_number("the processor count", *p, VM_CPUS_MAX, &cpus, err))
                return false;
            continue;
        }
        if (!eq) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "'%s' is not KEY=VALUE (cpus, sockets, cores, threads, maxcpus)", *p);
            return false;
        }
        g_autofree char *key = g_strndup(*p, (gsize)(eq - *p));
        if (!strcmp(key, "cpus"))
            slot = &cpus, field = "cpus";
        else if (!strcmp(key, "sockets"))
            slot = &sockets, field = "sockets";
        else if (!strcmp(key, "cores"))
            slot = &cores, field = "cores";
        else if (!strcmp(key, "threads"))
            slot = &threads, field = "threads";
        else if (!strcmp(key, "maxcpus"))
            slot = &maxcpus, field = "maxcpus";
        else {
            g_autofree char *q = config_shorten(key, CONFIG_QUOTE_MAX);
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "unknown key '%s' (cpus, sockets, cores, threads, maxcpus)", q);
            return false;
        }
        if (*slot) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s is given twice", field);
            return false;
        }
        if (!smp_number(field, eq + 1, slot == &maxcpus ? 4096 : VM_CPUS_MAX,
                        slot, err))
            return false;
    }
    long topo = (sockets ? sockets : 1) * (cores ? cores : 1) * (threads ? threads : 1);
    if (!cpus)
        cpus = maxcpus ? maxcpus : topo;
    if (cpus > VM_CPUS_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "the processor count must be a number from 1 to %d (the topology gives %ld)", VM_CPUS_MAX,
                    cpus);
        return false;
    }
    if (maxcpus && maxcpus != cpus) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "maxcpus=%ld differs from the %ld processors: CPU hot-plug is not supported", maxcpus, cpus);
        return false;
    }
    if (sockets && cores && threads && topo != cpus) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "sockets*cores*threads = %ld, not the %ld processors", topo, cpus);
        return false;
    }
    if ((sockets || cores || threads) && cpus % topo) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%ld processors cannot be split into sockets=%ld cores=%ld threads=%ld", cpus,
                    sockets ? sockets : 1, cores ? cores : 1, threads ? threads : 1);
        return false;
    }
    if (!cores) {
        sockets = sockets ? sockets : 1;
        threads = threads ? threads : 1;
        cores = cpus / (sockets * threads);
    } else if (!sockets) {
        threads = threads ? threads : 1;
        sockets = cpus / (cores * threads);
    }
    if (!threads)
        threads = cpus / (sockets * cores);
    if (sockets * cores * threads != cpus) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%ld processors cannot be split into sockets=%ld cores=%ld threads=%ld", cpus, sockets,
                    cores, threads);
        return false;
    }
    *n = (unsigned)cpus;
    if (topo_out)
        *topo_out = (CpuTopology){ (unsigned)sockets, (unsigned)cores, (unsigned)threads };
    return true;
}

CpuTopology vm_config_topology(const VmConfig *cfg)
{
    unsigned n = cfg->smp ? cfg->smp : 1;
    CpuTopology t = cfg->topo;
    if (!t.sockets || !t.cores || !t.threads || t.sockets * t.cores * t.threads != n)
        t = (CpuTopology){ 1, n, 1 };
    return t;
}

/* Bits to number count things: 0 for one, else ceil(log2(count)). */
static unsigned id_bits(unsigned count)
{
    return count > 1 ? (unsigned)g_bit_storage(count - 1) : 0;
}

unsigned cpu_topology_thread_bits(const CpuTopology *t)
{
    return id_bits(t->threads);
}

unsigned cpu_topology_core_bits(const CpuTopology *t)
{
    return id_bits(t->cores);
}

unsigned cpu_topology_apic_id(const CpuTopology *t, unsigned index)
{
    unsigned threads = t->threads ? t->threads : 1, cores = t->cores ? t->cores : 1;
    unsigned tb = cpu_topology_thread_bits(t), cb = cpu_topology_core_bits(t);
    unsigned thread = index % threads, core = index / threads % cores, pkg = index / (threads * cores);
    return pkg << (tb + cb) | core << tb | thread;
}

bool vm_config_check_boot_order(const char *order, GError **err)
{
    size_t len = order ? strlen(order) : 0;
    if (len < 1 || len > VM_BOOT_ORDER_MAX || strspn(order, "acdn") != len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "a boot order is 1 to %d of a (floppy), c (disk), d (CD), n (network)",
                    VM_BOOT_ORDER_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (strchr(order + i + 1, order[i])) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%c' appears twice in the boot order",
                        order[i]);
            return false;
        }
    }
    return true;
}

char *config_shorten(const char *text, size_t max_chars)
{
    /* max_chars characters take at most 4 bytes each: no need to look further. */
    size_t len = text ? strnlen(text, max_chars * 4 + 4) : 0;
    g_autofree char *valid = g_utf8_make_valid(text ? text : "", (gssize)len);
    GString *out = g_string_new(NULL);
    size_t n = 0;
    for (const char *c = valid; *c; c = g_utf8_next_char(c), n++) {
        if (n == max_chars) {
            g_string_append(out, "…");
            break;
        }
        gunichar u = g_utf8_get_char(c);
        if (u == '\n')
            g_string_append(out, "\\n");
        else if (u == '\t')
            g_string_append(out, "\\t");
        else if (u < 0x20 || u == 0x7f)
            g_string_append_printf(out, "\\x%02x", u);
        else
            g_string_append_unichar(out, u);
    }
    return g_string_free(out, FALSE);
}
