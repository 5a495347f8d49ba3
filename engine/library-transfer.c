/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Import and export of library VMs (library-transfer.h). Both go through a
 * LibvirtDomain: libvirt's XML maps onto it directly, an OVF appliance is translated
 * into one, and export fills one from the VM's configuration. */
#include "engine/library-transfer.h"
#include "disks/block.h"
#include "engine/library.h"
#include "engine/libvirt-xml.h"
#include "engine/ovf.h"
#include "engine/vmconf.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#define MAX_DESCRIPTOR (16u << 20)

/* Import ---------------------------------------------------------------------------------*/

typedef struct Source {
    char *path;              /* the file to read, or the .ova holding it */
    TarMember *member;       /* inside the .ova, or NULL */
} Source;

static void source_free(gpointer p)
{
    Source *s = p;
    g_free(s->path);
    g_free(s);
}

static bool read_small(const char *path, char **text, gsize *len, GError **err)
{
    GStatBuf st;
    if (g_stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: %s", path,
                    errno ? g_strerror(errno) : "not a regular file");
        return false;
    }
    if ((guint64)st.st_size > MAX_DESCRIPTOR) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: %" G_GUINT64_FORMAT " bytes is "
                    "too big for a domain XML or OVF descriptor", path, (guint64)st.st_size);
        return false;
    }
    return g_file_get_contents(path, text, len, err);
}

static const char *ovf_format(const char *uri)
{
    if (!uri)
        return NULL;
    if (strstr(uri, "vmdk"))
        return "vmdk";
    if (strstr(uri, "vhdx") || strstr(uri, "VHDX"))
        return "vhdx";
    if (strstr(uri, "vhd") || strstr(uri, "VHD"))
        return "vpc";
    return NULL;   /* probe */
}

/* An OVF appliance as a domain; each disk's file is its href, found in members (an
 * .ova) or beside the descriptor. */
static LibvirtDomain *domain_from_ovf(const Ovf *o, const char *dir, GPtrArray *members,
                                      GPtrArray *sources, GError **err)
{
    LibvirtDomain *d = libvirt_domain_new();
    d->name = g_strdup(o->name);
    d->memory = o->memory ? o->memory : 256ull << 20;
    d->vcpus = o->cpus ? o->cpus : 1;
    g_strlcpy(d->boot, "cda", sizeof(d->boot));
    d->video = g_strdup("vga");
    for (guint i = 0; i < o->disks->len; i++) {
        const OvfDisk *k = o->disks->pdata[i];
        Source *s = g_new0(Source, 1);
        if (members) {
            for (guint m = 0; m < members->len && !s->member; m++)
                if (!strcmp(((TarMember *)members->pdata[m])->name, k->href))
                    s->member = members->pdata[m];
            if (!s->member) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                            "the appliance names a file '%s' that the .ova does not hold", k->href);
                g_free(s);
                libvirt_domain_free(d);
                return NULL;
            }
        } else if (strchr(k->href, '/') || !strcmp(k->href, "..") || !strcmp(k->href, ".")) {
            /* A descriptor only names files beside itself (DSP0243 7.1 allows URLs; we
             * do not fetch them). */
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                        "the descriptor names '%s'; only files beside it are imported", k->href);
            g_free(s);
            libvirt_domain_free(d);
            return NULL;
        }
        s->path = members ? NULL : g_build_filename(dir, k->href, NULL);
        g_ptr_array_add(sources, s);
        const char *device = k->cdrom ? "cdrom" : k->floppy ? "floppy" : "disk";
        g_ptr_array_add(d->disks, libvirt_disk_new(device, k->href, ovf_format(k->format), NULL,
                                                   NULL, k->cdrom));
    }
    return d;
}

/* vm.conf's drive slot for each disk, in order: hard disks take hda, hdb and hdd (hdc is
 * the CD drive), virtio ones vda-vdd (their system has the driver and may name its
 * disks /dev/vda), IDE and virtio targets keeping their place where they can. */
static const char *const hd_slots[] = { "hda", "hdb", "hdd" };
static const char *const vd_slots[] = { "vda", "vdb", "vdc", "vdd" };

static bool disk_is_virtio(const LibvirtDisk *k)
{
    return !strcmp(k->device, "disk") && !g_strcmp0(k->bus, "virtio");
}

static bool assign_slots(const LibvirtDomain *d, const char **slots, GError **err)
{
    bool hd_used[3] = { false }, vd_used[4] = { false }, cd_used = false;
    unsigned fd_used = 0;
    for (guint i = 0; i < d->disks->len; i++) {
        const LibvirtDisk *k = d->disks->pdata[i];
        if (!strcmp(k->device, "disk") && k->target && !g_strcmp0(k->bus, "ide")) {
            for (int h = 0; h < 3; h++)
                if (!strcmp(k->target, hd_slots[h]) && !hd_used[h]) {
                    hd_used[h] = true;
                    slots[i] = hd_slots[h];
                }
        }
        if (disk_is_virtio(k) && k->target) {
            for (int v = 0; v < 4; v++)
                if (!strcmp(k->target, vd_slots[v]) && !vd_used[v]) {
                    vd_used[v] = true;
                    slots[i] = vd_slots[v];
                }
        }
    }
    for (guint i = 0; i < d->disks->len; i++) {
        const LibvirtDisk *k = d->disks->pdata[i];
        if (slots[i])
            continue;
        if (!strcmp(k->device, "cdrom")) {
            if (cd_used) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                            "%s: more than one CD drive (Vireo's PC has one)", d->name);
                return false;
            }
            cd_used = true;
            slots[i] = "cdrom";
        } else if (!strcmp(k->device, "floppy")) {
            if (fd_used >= 2) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                            "%s: more than two floppy drives", d->name);
                return false;
            }
            slots[i] = fd_used++ ? "fdb" : "fda";
        } else if (disk_is_virtio(k)) {
            for (int v = 0; v < 4 && !slots[i]; v++)
                if (!vd_used[v]) {
                    vd_used[v] = true;
                    slots[i] = vd_slots[v];
                }
            if (!slots[i]) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                            "%s: more than four virtio disks (vm.conf has vda to vdd)", d->name);
                return false;
            }
        } else if (!strcmp(k->device, "disk")) {
            for (int h = 0; h < 3 && !slots[i]; h++)
                if (!hd_used[h]) {
                    hd_used[h] = true;
                    slots[i] = hd_slots[h];
                }
            if (!slots[i]) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                            "%s: more than three hard disks (Vireo's IDE takes three beside "
                            "the CD drive)", d->name);
                return false;
            }
        } else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "%s: a <disk device='%s'> "
                        "is not supported (disk, cdrom and floppy are)", d->name, k->device);
            return false;
        }
    }
    return true;
}

struct VmImportPrivate {
    LibvirtDomain *domain;
    GPtrArray *sources;      /* Source*, one per disk; empty for a libvirt domain */
    GPtrArray *members;      /* TarMember* of an .ova, which sources point into */
    const char **slots;      /* vm.conf key per disk */
};

void vm_import_free(VmImport *imp)
{
    if (!imp)
        return;
    if (imp->priv) {
        libvirt_domain_free(imp->priv->domain);
        g_ptr_array_unref(imp->priv->sources);
        if (imp->priv->members)
            g_ptr_array_unref(imp->priv->members);
        g_free(imp->priv->slots);
        g_free(imp->priv);
    }
    g_free(imp->path);
    g_free(imp->name);
    if (imp->disks)
        g_ptr_array_unref(imp->disks);
    if (imp->notes)
        g_ptr_array_unref(imp->notes);
    g_free(imp);
}

static void import_disk_free(gpointer p)
{
    VmImportDisk *k = p;
    g_free(k->source);
    g_free(k);
}

bool vm_disk_convert(const char *src, const char *format, const char *dest,
                     ImageProgressFn progress, void *opaque, const gint *cancel, GError **err)
{
    ImageConvertOptions c = { .src_format = format, .sparse_size = 4096 };
    c.target.format = "qcow2";
    c.progress = progress;
    c.progress_opaque = opaque;
    c.cancel = cancel;
    if (image_convert(src, dest, &c, err))
        return true;
    g_unlink(dest);
    return false;
}

const char *vm_disk_foreign_format(const char *path, GError **err)
{
    const char *format = NULL;
    if (!block_probe_format(path, &format, err))
        return NULL;
    static const char *const foreign[] = { "vmdk", "vdi", "vpc", "vhdx" };
    for (size_t i = 0; i < G_N_ELEMENTS(foreign); i++)
        if (!strcmp(format, foreign[i]))
            return foreign[i];
    return NULL;
}

/* One disk's share of the whole copy's progress. */
typedef struct Progress {
    ImageProgressFn fn;
    void *opaque;
    unsigned done, total;
} Progress;

static void disk_progress(void *opaque, double percent)
{
    Progress *p = opaque;
    if (p->fn)
        p->fn(p->opaque, (p->done * 100.0 + percent) / (p->total ? p->total : 1));
}

/* The VM's configuration from d, its disks copied into dir. */
static bool fill_vm(const VmImport *imp, const char *dir, GKeyFile *kf, Progress *pr,
                    const gint *cancel, GError **err)
{
    const LibvirtDomain *d = imp->priv->domain;
    GPtrArray *sources = imp->priv->sources->len ? imp->priv->sources : NULL;
    const char **slots = imp->priv->slots;
    const char *g = VMCONF_GROUP_VM;
    uint64_t mib = MAX(imp->memory >> 20, 1);
    g_autofree char *mem = g_strdup_printf("%" G_GUINT64_FORMAT "M", mib);
    g_key_file_set_string(kf, g, "memory", mem);
    g_key_file_set_integer(kf, g, "cpus", (gint)imp->cpus);
    /* A topology other than one socket of N cores goes into vm.conf's own keys, as the
     * app's settings write it (open_import dropped one Vireo cannot run). */
    if (d->sockets && (d->sockets > 1 || d->threads > 1)) {
        g_key_file_set_integer(kf, g, "sockets", (gint)d->sockets);
        g_key_file_set_integer(kf, g, "cores", (gint)d->cores);
        g_key_file_set_integer(kf, g, "threads", (gint)d->threads);
    }
    if (d->boot[0])
        g_key_file_set_string(kf, g, "boot", d->boot);
    if (d->boot_menu)
        g_key_file_set_boolean(kf, g, "boot-menu", TRUE);
    g_key_file_set_string(kf, g, "rtc", d->clock_utc ? "utc" : "localtime");
    if (d->video && !strcmp(d->video, "none"))
        g_key_file_set_string(kf, g, "display", "none");
    else if (d->video && !strcmp(d->video, "cirrus"))
        g_key_file_set_string(kf, g, "display", "cirrus");
    else if (d->video && !strcmp(d->video, "virtio"))
        g_key_file_set_string(kf, g, "display", "virtio");
    if (d->kernel)
        g_key_file_set_string(kf, g, "kernel", d->kernel);
    if (d->initrd)
        g_key_file_set_string(kf, g, "initrd", d->initrd);
    if (d->cmdline && d->kernel)
        g_key_file_set_string(kf, g, "append", d->cmdline);
    for (guint i = 0; i < d->disks->len; i++) {
        const LibvirtDisk *k = d->disks->pdata[i];
        Source *s = sources ? sources->pdata[i] : NULL;
        const char *file = s && s->path ? s->path : k->file;
        if (!file && !(s && s->member)) {
            g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, slots[i], "");
            continue;
        }
        bool cd = !strcmp(slots[i], "cdrom");
        g_autofree char *extracted = NULL;
        if (s && s->member) {
            /* Out of the .ova first: the block layer reads files, not tar members. */
            extracted = g_build_filename(dir, cd ? "cdrom.iso" : ".import.tmp", NULL);
            if (!tar_extract(s->path ? s->path : "", s->member, extracted, err))
                return false;
            file = extracted;
        }
        if (cd) {
            g_autofree char *abs = g_canonicalize_filename(file, NULL);
            g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, slots[i],
                                  extracted ? "cdrom.iso" : abs);
            continue;
        }
        g_autofree char *base = g_strdup_printf("%s.qcow2", slots[i]);
        g_autofree char *dest = g_build_filename(dir, base, NULL);
        GError *local = NULL;
        bool ok = vm_disk_convert(file, k->format, dest, disk_progress, pr, cancel, &local);
        pr->done++;
        if (extracted)
            g_unlink(extracted);
        if (!ok) {
            if (g_error_matches(local, BLOCK_ERROR, BLOCK_ERROR_CANCELLED))
                g_propagate_error(err, local);
            else {
                g_set_error(err, local->domain, local->code, "%s: %s", k->file ? k->file : file,
                            local->message);
                g_error_free(local);
            }
            return false;
        }
        g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, slots[i], base);
    }
    return true;
}

/* The source as a domain, with the files of an OVF appliance in sources. */
static LibvirtDomain *read_source(const char *path, GPtrArray *sources, GPtrArray **tar,
                                  GError **err)
{
    char head[1024] = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: %s", path, g_strerror(errno));
        return NULL;
    }
    size_t n = fread(head, 1, sizeof(head) - 1, f);
    fclose(f);
    g_autofree char *dir = g_path_get_dirname(path);
    if (n > 262 && !memcmp(head + 257, "ustar", 5)) {
        GPtrArray *members = *tar = tar_list(path, err);
        if (!members)
            return NULL;
        /* DSP0243 5.3: the descriptor is the first file of the archive. */
        TarMember *first = members->len ? members->pdata[0] : NULL;
        if (!first || !g_str_has_suffix(first->name, ".ovf") || first->size > MAX_DESCRIPTOR) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: an .ova starts with its .ovf descriptor; this one does not", path);
            return NULL;
        }
        g_autofree char *xml = g_malloc(first->size + 1);
        f = fopen(path, "rb");
        bool ok = f && fseeko(f, (off_t)first->offset, SEEK_SET) == 0 &&
                  fread(xml, 1, first->size, f) == first->size;
        if (f)
            fclose(f);
        if (!ok) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: cannot read %s", path, first->name);
            return NULL;
        }
        g_autoptr(Ovf) o = ovf_parse(xml, first->size, err);
        if (!o)
            return NULL;
        LibvirtDomain *d = domain_from_ovf(o, dir, members, sources, err);
        for (guint i = 0; d && i < sources->len; i++)
            ((Source *)sources->pdata[i])->path = g_strdup(path);
        return d;
    }
    g_autofree char *xml = NULL;
    gsize len;
    if (!read_small(path, &xml, &len, err))
        return NULL;
    if (strstr(head, "Envelope")) {
        g_autoptr(Ovf) o = ovf_parse(xml, len, err);
        return o ? domain_from_ovf(o, dir, NULL, sources, err) : NULL;
    }
    g_ptr_array_set_size(sources, 0);
    return libvirt_domain_parse(xml, len, err);
}

static VmImport *open_import(const char *path, GError **err)
{
    g_autoptr(VmImport) imp = g_new0(VmImport, 1);
    imp->path = g_strdup(path);
    imp->priv = g_new0(struct VmImportPrivate, 1);
    imp->priv->sources = g_ptr_array_new_with_free_func(source_free);
    imp->disks = g_ptr_array_new_with_free_func(import_disk_free);
    imp->notes = g_ptr_array_new_with_free_func(g_free);
    LibvirtDomain *d = imp->priv->domain = read_source(path, imp->priv->sources,
                                                           &imp->priv->members, err);
    if (!d)
        return NULL;
    imp->name = g_strdup(d->name);
    imp->memory = d->memory;
    imp->cpus = d->vcpus ? d->vcpus : 1;
    if (imp->cpus > VM_CPUS_MAX) {
        g_ptr_array_add(imp->notes, g_strdup_printf("%s asks for %u CPUs; Vireo runs at most %d",
                                                    d->name, imp->cpus, VM_CPUS_MAX));
        imp->cpus = VM_CPUS_MAX;
        /* Its sockets x cores x threads made the larger count; the fewer CPUs are one
         * socket of cores, and the note says so. */
        if (d->sockets) {
            g_ptr_array_add(imp->notes, g_strdup_printf("its topology of %u sockets x %u cores x %u threads "
                                                        "becomes one socket of %d cores",
                                                        d->sockets, d->cores, d->threads, VM_CPUS_MAX));
            d->sockets = d->cores = d->threads = 0;
        }
    }
    if (d->arch && !strcmp(d->arch, "x86_64"))
        g_ptr_array_add(imp->notes, g_strdup_printf("%s is an x86_64 system; Vireo's CPU runs "
                                                    "32-bit code (a 64-bit kernel will not start)",
                                                    d->name));
    imp->priv->slots = g_new0(const char *, d->disks->len + 1);
    if (!assign_slots(d, imp->priv->slots, err))
        return NULL;
    GPtrArray *sources = imp->priv->sources->len ? imp->priv->sources : NULL;
    for (guint i = 0; i < d->disks->len; i++) {
        const LibvirtDisk *k = d->disks->pdata[i];
        Source *s = sources ? sources->pdata[i] : NULL;
        VmImportDisk *v = g_new0(VmImportDisk, 1);
        v->slot = imp->priv->slots[i];
        v->source = g_strdup(s && s->member ? s->member->name : s && s->path ? s->path : k->file);
        v->convert = v->source && strcmp(v->slot, "cdrom");
        g_ptr_array_add(imp->disks, v);
        /* A missing image is found now, before the user reviews the import. */
        const char *file = s && s->member ? NULL : s && s->path ? s->path : k->file;
        if (file && v->convert && !g_file_test(file, G_FILE_TEST_EXISTS)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "the %s image %s is missing",
                        k->device, file);
            return NULL;
        }
    }
    const char *boot_files[] = { d->kernel, d->initrd };
    for (size_t i = 0; i < G_N_ELEMENTS(boot_files); i++)
        if (boot_files[i] && !g_file_test(boot_files[i], G_FILE_TEST_IS_REGULAR)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "the %s %s is missing",
                        i ? "initrd" : "kernel", boot_files[i]);
            return NULL;
        }
    return g_steal_pointer(&imp);
}

/* Every failure names the file once. */
static void name_source(const char *path, GError **err)
{
    if (err && *err && !g_error_matches(*err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED) &&
        !g_str_has_prefix((*err)->message, path))
        g_prefix_error(err, "%s: ", path);
}

VmImport *vm_import_open(const char *path, GError **err)
{
    GError *local = NULL;
    VmImport *imp = open_import(path, &local);
    if (!imp) {
        name_source(path, &local);
        g_propagate_error(err, local);
    }
    return imp;
}

char *vm_import_create(const VmImport *imp, const char *root, const char *name,
                       ImageProgressFn progress, void *opaque, const gint *cancel,
                       GError **err)
{
    const char *vm_name = name ? name : imp->name;
    GError *local = NULL;
    if (!vm_library_check_name(vm_name, &local)) {
        name_source(imp->path, &local);
        g_propagate_error(err, local);
        return NULL;
    }
    g_autoptr(GKeyFile) kf = vmconf_new();
    g_autofree char *vm_dir = vm_library_create(root, vm_name, kf, &local);
    bool ok = vm_dir != NULL;
    if (ok) {
        Progress pr = { .fn = progress, .opaque = opaque };
        for (guint i = 0; i < imp->disks->len; i++)
            pr.total += ((VmImportDisk *)imp->disks->pdata[i])->convert;
        ok = fill_vm(imp, vm_dir, kf, &pr, cancel, &local) && vmconf_save(kf, vm_dir, &local);
        if (ok) {
            /* What vireo-run and the app will read must pass as they check it. */
            VmConfig *cfg = vmconf_parse(kf, vm_name, vm_dir, &local);
            ok = cfg != NULL;
            vm_config_free(cfg);
        }
        if (!ok)
            vm_library_delete(root, vm_name, NULL);
    }
    if (!ok) {
        name_source(imp->path, &local);
        g_propagate_error(err, local);
        return NULL;
    }
    if (progress)
        progress(opaque, 100.0);
    return g_strdup(vm_name);
}

char *vm_library_import(const char *root, const char *path, const char *name, GPtrArray *notes,
                        GError **err)
{
    g_autoptr(VmImport) imp = vm_import_open(path, err);
    if (!imp)
        return NULL;
    char *vm = vm_import_create(imp, root, name, NULL, NULL, NULL, err);
    for (guint i = 0; vm && notes && i < imp->notes->len; i++)
        g_ptr_array_add(notes, g_strdup(imp->notes->pdata[i]));
    return vm;
}

/* Export ---------------------------------------------------------------------------------*/

static bool copy_file(const char *src, const char *dest, GError **err)
{
    g_autoptr(GFile) a = g_file_new_for_path(src);
    g_autoptr(GFile) b = g_file_new_for_path(dest);
    return g_file_copy(a, b, G_FILE_COPY_NONE, NULL, NULL, NULL, err);
}

static bool not_there(const char *path, GError **err)
{
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return true;
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s exists already; export into an "
                "empty folder", path);
    return false;
}

static char *export_libvirt(const char *root, const char *name, const char *dir,
                            GPtrArray *written, Progress *pr, const gint *cancel, GError **err)
{
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, name, err);
    if (!e)
        return NULL;
    if (e->error) {
        g_set_error(err, e->error->domain, e->error->code, "%s", e->error->message);
        return NULL;
    }
    const VmConfig *cfg = e->config;
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot create %s: %s", dir,
                    g_strerror(errno));
        return NULL;
    }
    g_autofree char *abs_dir = g_canonicalize_filename(dir, NULL);
    g_autoptr(LibvirtDomain) d = libvirt_domain_new();
    d->name = g_strdup(name);
    d->memory = cfg->ram_size;
    d->vcpus = cfg->smp ? cfg->smp : 1;
    /* The topology the guest sees (vm.conf's sockets, cores, threads or its default). */
    CpuTopology topo = vm_config_topology(cfg);
    d->sockets = topo.sockets, d->cores = topo.cores, d->threads = topo.threads;
    /* KVM where the VM takes it first; QEMU's translator otherwise. */
    d->type = g_strdup(g_str_has_prefix(cfg->accel ? cfg->accel : "kvm", "kvm") ? "kvm" : "qemu");
    d->arch = g_strdup("i686");
    g_strlcpy(d->boot, cfg->boot_order ? cfg->boot_order : "cad", sizeof(d->boot));
    d->boot_menu = cfg->boot_menu;
    d->clock_utc = cfg->rtc_utc;
    /* libvirt's primary virtio video on a PC is QEMU's virtio-vga, vm.conf's virtio. */
    d->video = g_strdup(!g_strcmp0(cfg->vga, "none") || !g_strcmp0(cfg->vga, "cirrus") || !g_strcmp0(cfg->vga, "virtio")
                            ? cfg->vga
                            : "vga");
    d->cmdline = g_strdup(cfg->append);
    const char *files[2] = { cfg->kernel, cfg->initrd };
    char **targets[2] = { &d->kernel, &d->initrd };
    for (int i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        g_autofree char *base = g_path_get_basename(files[i]);
        g_autofree char *dest = g_build_filename(abs_dir, base, NULL);
        if (!not_there(dest, err))
            return NULL;
        g_ptr_array_add(written, g_strdup(dest));
        if (!copy_file(files[i], dest, err))
            return NULL;
        *targets[i] = g_steal_pointer(&dest);
    }
    static const char *const ide_targets[] = { "hda", "hdb", "hdc", "hdd" };
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *dc = cfg->drives->pdata[i];
        bool floppy = dc->iface == DRIVE_IF_FLOPPY;
        int index = dc->index < 0 ? 0 : dc->index;
        bool virtio = dc->iface == DRIVE_IF_VIRTIO;
        /* libvirt names virtio disks vda, vdb, ... as Linux does. */
        g_autofree char *vd_target = g_strdup_printf("vd%c", 'a' + (index % 26));
        const char *target = floppy ? (index ? "fdb" : "fda") : virtio ? vd_target : ide_targets[index & 3];
        if (dc->media == DRIVE_MEDIA_CDROM) {
            g_autofree char *abs = dc->file ? g_canonicalize_filename(dc->file, NULL) : NULL;
            g_ptr_array_add(d->disks, libvirt_disk_new("cdrom", abs, "raw", target, "ide", true));
            continue;
        }
        if (!dc->file) {
            g_ptr_array_add(d->disks, libvirt_disk_new("floppy", NULL, "raw", target, "fdc", false));
            continue;
        }
        g_autofree char *base = g_strdup_printf("%s-%s.qcow2", name, target);
        g_autofree char *dest = g_build_filename(abs_dir, base, NULL);
        if (!not_there(dest, err))
            return NULL;
        g_ptr_array_add(written, g_strdup(dest));
        bool ok = vm_disk_convert(dc->file, dc->format, dest, disk_progress, pr, cancel, err);
        pr->done++;
        if (!ok)
            return NULL;
        g_ptr_array_add(d->disks, libvirt_disk_new(floppy ? "floppy" : "disk", dest, "qcow2",
                                                   target, floppy ? "fdc" : virtio ? "virtio" : "ide",
                                                   dc->readonly));
    }
    g_autofree char *xml = libvirt_domain_to_xml(d);
    g_autofree char *xml_name = g_strdup_printf("%s.xml", name);
    char *xml_path = g_build_filename(abs_dir, xml_name, NULL);
    if (!not_there(xml_path, err) || (g_ptr_array_add(written, g_strdup(xml_path)),
                                      !g_file_set_contents(xml_path, xml, -1, err))) {
        g_free(xml_path);
        return NULL;
    }
    return xml_path;
}

char *vm_library_export_libvirt(const char *root, const char *name, const char *dir,
                                ImageProgressFn progress, void *opaque, const gint *cancel,
                                GError **err)
{
    g_autoptr(GPtrArray) written = g_ptr_array_new_with_free_func(g_free);
    Progress pr = { .fn = progress, .opaque = opaque };
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, name, NULL);
    for (guint i = 0; e && e->config && e->config->drives && i < e->config->drives->len; i++) {
        const DriveConfig *dc = e->config->drives->pdata[i];
        pr.total += dc->media != DRIVE_MEDIA_CDROM && dc->file;
    }
    char *xml = export_libvirt(root, name, dir, written, &pr, cancel, err);
    if (!xml) {
        for (guint i = 0; i < written->len; i++)
            g_unlink(written->pdata[i]);
        return NULL;
    }
    if (progress)
        progress(opaque, 100.0);
    return xml;
}
