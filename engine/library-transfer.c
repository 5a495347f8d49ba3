/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Import and export of library VMs (library-transfer.h). Both go through a
 * LibvirtDomain: libvirt's XML maps onto it directly, an OVF appliance is translated
 * into one, and export fills one from the VM's configuration. */
#include "engine/library-transfer.h"
#include "disks/image-ops.h"
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
 * the CD drive), IDE targets keeping their place where they can. */
static bool assign_slots(const LibvirtDomain *d, const char **slots, GError **err)
{
    static const char *const hd_slots[] = { "hda", "hdb", "hdd" };
    bool hd_used[3] = { false }, cd_used = false;
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

static bool copy_disk(const char *src, const char *format, const char *dest, GError **err)
{
    ImageConvertOptions c = { .src_format = format, .sparse_size = 4096 };
    c.target.format = "qcow2";
    return image_convert(src, dest, &c, err);
}

/* The VM's configuration from d, its disks copied into dir. */
static bool fill_vm(const LibvirtDomain *d, const char *dir, GPtrArray *sources,
                    const char **slots, GKeyFile *kf, GPtrArray *notes, GError **err)
{
    const char *g = VMCONF_GROUP_VM;
    uint64_t mib = MAX(d->memory >> 20, 1);
    g_autofree char *mem = g_strdup_printf("%" G_GUINT64_FORMAT "M", mib);
    g_key_file_set_string(kf, g, "memory", mem);
    unsigned cpus = d->vcpus ? d->vcpus : 1;
    if (cpus > VM_CPUS_MAX) {
        g_ptr_array_add(notes, g_strdup_printf("%s asks for %u CPUs; Vireo runs at most %d", d->name,
                                               cpus, VM_CPUS_MAX));
        cpus = VM_CPUS_MAX;
    }
    if (d->arch && !strcmp(d->arch, "x86_64"))
        g_ptr_array_add(notes, g_strdup_printf("%s is an x86_64 system; Vireo's CPU runs 32-bit "
                                               "code (a 64-bit kernel will not start)", d->name));
    g_key_file_set_integer(kf, g, "cpus", (gint)cpus);
    if (d->boot[0])
        g_key_file_set_string(kf, g, "boot", d->boot);
    if (d->boot_menu)
        g_key_file_set_boolean(kf, g, "boot-menu", TRUE);
    g_key_file_set_string(kf, g, "rtc", d->clock_utc ? "utc" : "localtime");
    if (d->video && !strcmp(d->video, "none"))
        g_key_file_set_string(kf, g, "display", "none");
    else if (d->video && !strcmp(d->video, "cirrus"))
        g_key_file_set_string(kf, g, "display", "cirrus");
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
        bool ok = copy_disk(file, k->format, dest, &local);
        if (extracted)
            g_unlink(extracted);
        if (!ok) {
            g_set_error(err, local->domain, local->code, "%s: %s", k->file ? k->file : file,
                        local->message);
            g_error_free(local);
            return false;
        }
        g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, slots[i], base);
    }
    return true;
}

static char *import_file(const char *root, const char *path, const char *name, GPtrArray *notes,
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
    g_autoptr(LibvirtDomain) d = NULL;
    g_autoptr(GPtrArray) members = NULL;
    g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(source_free);
    g_autofree char *dir = g_path_get_dirname(path);
    if (n > 262 && !memcmp(head + 257, "ustar", 5)) {
        members = tar_list(path, err);
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
        d = domain_from_ovf(o, dir, members, sources, err);
        for (guint i = 0; d && i < sources->len; i++)
            ((Source *)sources->pdata[i])->path = g_strdup(path);
    } else {
        g_autofree char *xml = NULL;
        gsize len;
        if (!read_small(path, &xml, &len, err))
            return NULL;
        if (strstr(head, "Envelope")) {
            g_autoptr(Ovf) o = ovf_parse(xml, len, err);
            d = o ? domain_from_ovf(o, dir, NULL, sources, err) : NULL;
        } else {
            d = libvirt_domain_parse(xml, len, err);
            g_ptr_array_set_size(sources, 0);
        }
        if (!d)
            return NULL;
    }
    if (!d)
        return NULL;
    const char *vm_name = name ? name : d->name;
    if (!vm_library_check_name(vm_name, err))
        return NULL;
    const char **slots = g_new0(const char *, d->disks->len + 1);
    g_autoptr(GKeyFile) kf = vmconf_new();
    char *vm_dir = NULL;
    bool ok = assign_slots(d, slots, err) && (vm_dir = vm_library_create(root, vm_name, kf, err));
    if (ok) {
        ok = fill_vm(d, vm_dir, sources->len ? sources : NULL, slots, kf, notes, err) &&
             vmconf_save(kf, vm_dir, err);
        if (ok) {
            /* What vireo-run and the app will read must pass as they check it. */
            VmConfig *cfg = vmconf_parse(kf, vm_name, vm_dir, err);
            ok = cfg != NULL;
            vm_config_free(cfg);
        }
        if (!ok)
            vm_library_delete(root, vm_name, NULL);
    }
    g_free(slots);
    g_free(vm_dir);
    return ok ? g_strdup(vm_name) : NULL;
}

char *vm_library_import(const char *root, const char *path, const char *name, GPtrArray *notes,
                        GError **err)
{
    GError *local = NULL;
    char *vm = import_file(root, path, name, notes, &local);
    if (!vm) {
        /* Every failure names the file once. */
        if (!g_str_has_prefix(local->message, path))
            g_prefix_error(&local, "%s: ", path);
        g_propagate_error(err, local);
    }
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

char *vm_library_export_libvirt(const char *root, const char *name, const char *dir,
                                GError **err)
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
    /* KVM where the VM takes it first; QEMU's translator otherwise. */
    d->type = g_strdup(g_str_has_prefix(cfg->accel ? cfg->accel : "kvm", "kvm") ? "kvm" : "qemu");
    d->arch = g_strdup("i686");
    g_strlcpy(d->boot, cfg->boot_order ? cfg->boot_order : "cad", sizeof(d->boot));
    d->boot_menu = cfg->boot_menu;
    d->clock_utc = cfg->rtc_utc;
    d->video = g_strdup(!g_strcmp0(cfg->vga, "none") || !g_strcmp0(cfg->vga, "cirrus") ? cfg->vga : "vga");
    d->cmdline = g_strdup(cfg->append);
    const char *files[2] = { cfg->kernel, cfg->initrd };
    char **targets[2] = { &d->kernel, &d->initrd };
    for (int i = 0; i < 2; i++) {
        if (!files[i])
            continue;
        g_autofree char *base = g_path_get_basename(files[i]);
        g_autofree char *dest = g_build_filename(abs_dir, base, NULL);
        if (!not_there(dest, err) || !copy_file(files[i], dest, err))
            return NULL;
        *targets[i] = g_steal_pointer(&dest);
    }
    static const char *const ide_targets[] = { "hda", "hdb", "hdc", "hdd" };
    for (guint i = 0; cfg->drives && i < cfg->drives->len; i++) {
        const DriveConfig *dc = cfg->drives->pdata[i];
        bool floppy = dc->iface == DRIVE_IF_FLOPPY;
        int index = dc->index < 0 ? 0 : dc->index;
        const char *target = floppy ? (index ? "fdb" : "fda") : ide_targets[index & 3];
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
        if (!not_there(dest, err) || !copy_disk(dc->file, dc->format, dest, err))
            return NULL;
        g_ptr_array_add(d->disks, libvirt_disk_new(floppy ? "floppy" : "disk", dest, "qcow2",
                                                   target, floppy ? "fdc" : "ide", dc->readonly));
    }
    g_autofree char *xml = libvirt_domain_to_xml(d);
    g_autofree char *xml_name = g_strdup_printf("%s.xml", name);
    char *xml_path = g_build_filename(abs_dir, xml_name, NULL);
    if (!not_there(xml_path, err) || !g_file_set_contents(xml_path, xml, -1, err)) {
        g_free(xml_path);
        return NULL;
    }
    return xml_path;
}
