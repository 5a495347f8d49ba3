/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt domain XML, written with g_markup_escape_text and read with GMarkup
 * (libvirt-xml.h). Element and attribute meanings: libvirt's formatdomain.html. */
#include "engine/libvirt-xml.h"
#include "engine/config.h"

#include <string.h>

LibvirtDomain *libvirt_domain_new(void)
{
    LibvirtDomain *d = g_new0(LibvirtDomain, 1);
    d->disks = g_ptr_array_new();
    d->vcpus = 1;
    return d;
}

static void disk_free(LibvirtDisk *k)
{
    g_free(k->device);
    g_free(k->file);
    g_free(k->format);
    g_free(k->target);
    g_free(k->bus);
    g_free(k);
}

void libvirt_domain_free(LibvirtDomain *d)
{
    if (!d)
        return;
    for (guint i = 0; i < d->disks->len; i++)
        disk_free(d->disks->pdata[i]);
    g_ptr_array_unref(d->disks);
    g_free(d->type);
    g_free(d->name);
    g_free(d->arch);
    g_free(d->kernel);
    g_free(d->initrd);
    g_free(d->cmdline);
    g_free(d->video);
    g_free(d);
}

LibvirtDisk *libvirt_disk_new(const char *device, const char *file, const char *format,
                              const char *target, const char *bus, bool readonly)
{
    LibvirtDisk *k = g_new0(LibvirtDisk, 1);
    k->device = g_strdup(device);
    k->file = g_strdup(file);
    k->format = g_strdup(format);
    k->target = g_strdup(target);
    k->bus = g_strdup(bus);
    k->readonly = readonly;
    return k;
}

/* Writing -------------------------------------------------------------------------------*/

static void put(GString *x, int indent, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void put(GString *x, int indent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = g_markup_vprintf_escaped(fmt, ap);
    va_end(ap);
    g_string_append_printf(x, "%*s%s\n", indent, "", s);
    g_free(s);
}

char *libvirt_domain_to_xml(const LibvirtDomain *d)
{
    static const struct {
        char letter;
        const char *dev;
    } boot_devs[] = { { 'a', "fd" }, { 'c', "hd" }, { 'd', "cdrom" }, { 'n', "network" } };
    GString *x = g_string_new(NULL);
    put(x, 0, "<domain type='%s'>", d->type ? d->type : "kvm");
    put(x, 2, "<name>%s</name>", d->name);
    put(x, 2, "<memory unit='KiB'>%" G_GUINT64_FORMAT "</memory>", d->memory >> 10);
    put(x, 2, "<vcpu>%u</vcpu>", d->vcpus ? d->vcpus : 1);
    if (d->sockets && d->cores && d->threads) {
        put(x, 2, "<cpu>");
        put(x, 4, "<topology sockets='%u' cores='%u' threads='%u'/>", d->sockets, d->cores, d->threads);
        put(x, 2, "</cpu>");
    }
    put(x, 2, "<os>");
    put(x, 4, "<type arch='%s' machine='pc'>hvm</type>", d->arch ? d->arch : "i686");
    if (d->kernel)
        put(x, 4, "<kernel>%s</kernel>", d->kernel);
    if (d->initrd)
        put(x, 4, "<initrd>%s</initrd>", d->initrd);
    if (d->cmdline)
        put(x, 4, "<cmdline>%s</cmdline>", d->cmdline);
    for (const char *b = d->boot; *b; b++)
        for (size_t i = 0; i < G_N_ELEMENTS(boot_devs); i++)
            if (boot_devs[i].letter == *b)
                put(x, 4, "<boot dev='%s'/>", boot_devs[i].dev);
    if (d->boot_menu)
        put(x, 4, "<bootmenu enable='yes'/>");
    put(x, 2, "</os>");
    put(x, 2, "<features>");
    put(x, 4, "<acpi/>");
    put(x, 2, "</features>");
    put(x, 2, "<clock offset='%s'/>", d->clock_utc ? "utc" : "localtime");
    put(x, 2, "<on_poweroff>destroy</on_poweroff>");
    put(x, 2, "<on_reboot>restart</on_reboot>");
    put(x, 2, "<on_crash>destroy</on_crash>");
    put(x, 2, "<devices>");
    put(x, 4, "<emulator>/usr/bin/qemu-system-i386</emulator>");
    for (guint i = 0; i < d->disks->len; i++) {
        const LibvirtDisk *k = d->disks->pdata[i];
        put(x, 4, "<disk type='file' device='%s'>", k->device);
        put(x, 6, "<driver name='qemu' type='%s'/>", k->format ? k->format : "raw");
        if (k->file)
            put(x, 6, "<source file='%s'/>", k->file);
        put(x, 6, "<target dev='%s' bus='%s'/>", k->target, k->bus);
        if (k->readonly)
            put(x, 6, "<readonly/>");
        put(x, 4, "</disk>");
    }
    put(x, 4, "<controller type='ide' index='0'/>");
    put(x, 4, "<controller type='fdc' index='0'/>");
    put(x, 4, "<serial type='pty'>");
    put(x, 6, "<target port='0'/>");
    put(x, 4, "</serial>");
    put(x, 4, "<input type='keyboard' bus='ps2'/>");
    put(x, 4, "<input type='mouse' bus='ps2'/>");
    if (d->video && strcmp(d->video, "none")) {
        put(x, 4, "<graphics type='vnc' port='-1' autoport='yes'/>");
        put(x, 4, "<video>");
        /* libvirt sizes virtio's memory itself (vram is for vga, cirrus, qxl, vmvga). */
        if (!strcmp(d->video, "virtio"))
            put(x, 6, "<model type='virtio' heads='1' primary='yes'/>");
        else
            put(x, 6, "<model type='%s' vram='16384' heads='1' primary='yes'/>", d->video);
        put(x, 4, "</video>");
    } else {
        put(x, 4, "<video>");
        put(x, 6, "<model type='none'/>");
        put(x, 4, "</video>");
    }
    put(x, 4, "<memballoon model='none'/>");
    put(x, 2, "</devices>");
    put(x, 0, "</domain>");
    return g_string_free(x, FALSE);
}

/* Reading -------------------------------------------------------------------------------*/

typedef struct Parse {
    LibvirtDomain *d;
    GPtrArray *stack;        /* element names from the root */
    GString *text;
    char *memory_unit;
    LibvirtDisk *disk;       /* the <disk> being read */
    int boots;
    bool has_vcpu;           /* <vcpu> was given */
    bool has_topology;       /* <cpu><topology> was given */
} Parse;

static const char *attr(const char **names, const char **values, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], name))
            return values[i];
    return NULL;
}

/* The path of the current element, e.g. "domain/devices/disk". */
static bool at(const Parse *p, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    guint n = g_strv_length(parts);
    if (n != p->stack->len)
        return false;
    for (guint i = 0; i < n; i++)
        if (strcmp(parts[i], p->stack->pdata[i]))
            return false;
    return true;
}

/* One count of <topology>, 1 to 4096 (libvirt's own vcpu limit is lower). */
static bool topology_count(const char *name, const char *v, unsigned *out, GError **err)
{
    g_autofree char *t = g_strstrip(g_strdup(v));
    guint64 n;
    if (!g_ascii_string_to_unsigned(t, 10, 1, 4096, &n, NULL)) {
        g_autofree char *shown = config_shorten(t, 40);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "<cpu><topology %s='%s'>: expected a count from 1 to 4096", name, shown);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

/* <topology sockets= dies= clusters= cores= threads=/> (formatdomain.html#cpu-model-and-
 * topology): libvirt wants sockets, cores and threads all given. Vireo's board has no
 * dies or clusters, so more than one of either is refused rather than folded away. */
static void read_topology(Parse *p, const char **an, const char **av, GError **err)
{
    static const char *const names[] = { "sockets", "cores", "threads" };
    unsigned *slots[] = { &p->d->sockets, &p->d->cores, &p->d->threads };
    static const char *const unsupported[] = { "dies", "clusters" };
    unsigned n;
    for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++) {
        const char *v = attr(an, av, unsupported[i]);
        if (!v)
            continue;
        if (!topology_count(unsupported[i], v, &n, err))
            return;
        if (n != 1) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "<cpu><topology %s='%u'>: Vireo's PC has one die and one cluster per "
                        "socket; give the topology as sockets, cores and threads",
                        unsupported[i], n);
            return;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        const char *v = attr(an, av, names[i]);
        if (!v) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "<cpu><topology> has no %s= (libvirt needs sockets, cores and threads)", names[i]);
            return;
        }
        if (!topology_count(names[i], v, slots[i], err))
            return;
    }
    p->has_topology = true;
}

static void on_start(GMarkupParseContext *ctx, const char *name, const char **an,
                     const char **av, gpointer data, GError **err)
{
    Parse *p = data;
    g_ptr_array_add(p->stack, g_strdup(name));
    g_string_truncate(p->text, 0);
    if (p->stack->len == 1 && strcmp(name, "domain")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "not a libvirt domain: the document is a <%s>", name);
        return;
    }
    if (at(p, "domain")) {
        g_free(p->d->type);
        p->d->type = g_strdup(attr(an, av, "type"));
    } else if (at(p, "domain/memory")) {
        g_free(p->memory_unit);
        p->memory_unit = g_strdup(attr(an, av, "unit"));
    } else if (at(p, "domain/os/type")) {
        g_free(p->d->arch);
        p->d->arch = g_strdup(attr(an, av, "arch"));
    } else if (at(p, "domain/os/boot")) {
        const char *dev = attr(an, av, "dev");
        char letter = !g_strcmp0(dev, "fd") ? 'a' : !g_strcmp0(dev, "hd") ? 'c'
                      : !g_strcmp0(dev, "cdrom") ? 'd' : !g_strcmp0(dev, "network") ? 'n' : 0;
        if (letter && p->boots < 4 && !strchr(p->d->boot, letter))
            p->d->boot[p->boots++] = letter;
    } else if (at(p, "domain/os/bootmenu")) {
        p->d->boot_menu = !g_strcmp0(attr(an, av, "enable"), "yes");
    } else if (at(p, "domain/clock")) {
        p->d->clock_utc = g_strcmp0(attr(an, av, "offset"), "localtime") != 0;
    } else if (at(p, "domain/devices/disk")) {
        const char *dev = attr(an, av, "device");
        p->disk = libvirt_disk_new(dev ? dev : "disk", NULL, NULL, NULL, NULL, false);
        g_ptr_array_add(p->d->disks, p->disk);
    } else if (p->disk && at(p, "domain/devices/disk/driver")) {
        g_free(p->disk->format);
        p->disk->format = g_strdup(attr(an, av, "type"));
    } else if (p->disk && at(p, "domain/devices/disk/source")) {
        const char *f = attr(an, av, "file");
        g_free(p->disk->file);
        p->disk->file = g_strdup(f ? f : attr(an, av, "dev"));
    } else if (p->disk && at(p, "domain/devices/disk/target")) {
        g_free(p->disk->target);
        g_free(p->disk->bus);
        p->disk->target = g_strdup(attr(an, av, "dev"));
        p->disk->bus = g_strdup(attr(an, av, "bus"));
    } else if (p->disk && at(p, "domain/devices/disk/readonly")) {
        p->disk->readonly = true;
    } else if (at(p, "domain/devices/video/model")) {
        g_free(p->d->video);
        p->d->video = g_strdup(attr(an, av, "type"));
    } else if (at(p, "domain/cpu/topology")) {
        read_topology(p, an, av, err);
    }
}

static bool parse_number(const char *text, const char *what, guint64 max, guint64 *out, GError **err)
{
    g_autofree char *t = g_strstrip(g_strdup(text));
    if (!g_ascii_string_to_unsigned(t, 10, 0, max, out, NULL)) {
        g_autofree char *shown = config_shorten(t, 40);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "<%s>%s</%s> is not a number", what,
                    shown, what);
        return false;
    }
    return true;
}

/* libvirt's memory units (formatdomain.html#memory-allocation): powers of 1000 or 1024. */
static bool memory_bytes(const char *text, const char *unit, uint64_t *out, GError **err)
{
    static const struct {
        const char *name;
        uint64_t factor;
    } units[] = {
        { "b", 1 }, { "bytes", 1 }, { "KB", 1000 }, { "k", 1024 }, { "KiB", 1024 },
        { "MB", 1000000 }, { "M", 1 << 20 }, { "MiB", 1 << 20 }, { "GB", 1000000000 },
        { "G", 1 << 30 }, { "GiB", 1 << 30 }, { "TB", 1000000000000ull }, { "T", 1ull << 40 },
        { "TiB", 1ull << 40 },
    };
    uint64_t factor = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
        if (!g_strcmp0(unit ? unit : "KiB", units[i].name))
            factor = units[i].factor;
    if (!factor) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "<memory unit='%.20s'> is not a unit "
                    "libvirt knows", unit);
        return false;
    }
    guint64 n;
    if (!parse_number(text, "memory", G_MAXUINT64 / factor, &n, err))
        return false;
    *out = n * factor;
    return true;
}

static void on_end(GMarkupParseContext *ctx, const char *name, gpointer data, GError **err)
{
    Parse *p = data;
    const char *t = p->text->str;
    guint64 n;
    if (at(p, "domain/name")) {
        g_free(p->d->name);
        p->d->name = g_strstrip(g_strdup(t));
    } else if (at(p, "domain/memory")) {
        memory_bytes(t, p->memory_unit, &p->d->memory, err);
    } else if (at(p, "domain/vcpu")) {
        if (parse_number(t, "vcpu", 4096, &n, err)) {
            p->d->vcpus = (unsigned)n;
            p->has_vcpu = true;
        }
    } else if (at(p, "domain/os/kernel")) {
        g_free(p->d->kernel);
        p->d->kernel = g_strstrip(g_strdup(t));
    } else if (at(p, "domain/os/initrd")) {
        g_free(p->d->initrd);
        p->d->initrd = g_strstrip(g_strdup(t));
    } else if (at(p, "domain/os/cmdline")) {
        g_free(p->d->cmdline);
        p->d->cmdline = g_strdup(t);
    } else if (at(p, "domain/devices/disk")) {
        p->disk = NULL;
    }
    g_free(g_ptr_array_steal_index(p->stack, p->stack->len - 1));
    g_string_truncate(p->text, 0);
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                    GError **err)
{
    Parse *p = data;
    /* No element Vireo reads holds more than a kernel command line. */
    if (p->text->len + len > 65536) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "an element's text is longer than 64 KiB");
        return;
    }
    g_string_append_len(p->text, text, (gssize)len);
}

LibvirtDomain *libvirt_domain_parse(const char *xml, gsize len, GError **err)
{
    static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
    Parse p = { .d = libvirt_domain_new(), .stack = g_ptr_array_new_with_free_func(g_free),
                .text = g_string_new(NULL) };
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
    bool ok = g_markup_parse_context_parse(ctx, xml, (gssize)len, err) &&
              g_markup_parse_context_end_parse(ctx, err);
    g_markup_parse_context_free(ctx);
    g_ptr_array_unref(p.stack);
    g_string_free(p.text, TRUE);
    g_free(p.memory_unit);
    if (ok && !p.d->name) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the domain has no <name>");
        ok = false;
    }
    if (ok && !p.d->memory) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "the domain has no <memory>");
        ok = false;
    }
    /* libvirt itself refuses a topology whose product is not the vcpu count; a domain
     * with only a topology has that many vcpus. */
    if (ok && p.has_topology) {
        guint64 product = (guint64)p.d->sockets * p.d->cores * p.d->threads;
        if (!p.has_vcpu && product <= 4096) {
            p.d->vcpus = (unsigned)product;
        } else if (product != p.d->vcpus) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "<cpu><topology sockets='%u' cores='%u' threads='%u'> makes %" G_GUINT64_FORMAT
                        " processors, not the %u of <vcpu>",
                        p.d->sockets, p.d->cores, p.d->threads, product, p.d->vcpus);
            ok = false;
        }
    }
    if (!ok) {
        libvirt_domain_free(p.d);
        return NULL;
    }
    return p.d;
}
