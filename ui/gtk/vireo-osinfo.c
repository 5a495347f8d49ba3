/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Install media probing and OS identification for the new-VM wizard. */
#include "ui/gtk/vireo-osinfo.h"
#include "disks/block.h"
#include "engine/config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <osinfo/osinfo.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* What osinfo-db lacks or does not recognise, by family. The sizes are what the
 * systems' own installers ask for, with room to spare. */
/* Sound and network cards the systems' own installs have drivers for: DOS programs and
 * Windows 9x know the Sound Blaster 16 and (Windows 9x) the RTL8029; later systems the
 * ICH AC'97 and the e1000; Windows Vista and later (no AC'97 driver of its own from
 * Windows 7 on) and Linux the ICH6 HD Audio. DOS gets no network card: it has no driver
 * without help. Windows 95 to XP (and NT 4) ship a driver for the Cirrus CL-GD5446 and
 * none for the Bochs VBE adapter, with which they stay at 640x480 in 16 colours. */
/* Two processors where the system's SMP runs on Vireo's CPUs (Linux: the boot tests on
 * -smp 2 and 4; Windows Vista and later need two for comfort), under KVM as well (one
 * vCPU per processor there too); one for the rest, whose SMP is untested here. */
/* virtio disks for the systems whose installers carry virtio-blk drivers (Linux since
 * 2.6.25, FreeBSD 9, OpenBSD 4.8, NetBSD 6); DOS and Windows stay on IDE, as Windows
 * needs virtio-win added by hand. */
static const VireoOsPreset presets[] = {
    { "dos", N_("MS-DOS or FreeDOS"), N_("DOS"), 32 * MIB, 512 * MIB, 1, "sb16", "none", "std" },
    { "win9x", N_("Windows 95, 98 or ME"), N_("Windows 98"), 128 * MIB, 2 * GIB, 1, "sb16", "ne2k_pci", "cirrus" },
    { "winxp", N_("Windows 2000 or XP"), N_("Windows XP"), 512 * MIB, 10 * GIB, 1, "ac97", "e1000", "cirrus" },
    { "windows", N_("Windows Vista or later"), N_("Windows"), 2 * GIB, 40 * GIB, 2, "hda", "e1000", "std" },
    { "freebsd", N_("FreeBSD"), N_("FreeBSD"), 1 * GIB, 16 * GIB, 1, "ac97", "e1000", "std", true },
    { "openbsd", N_("OpenBSD"), N_("OpenBSD"), 512 * MIB, 8 * GIB, 1, "ac97", "e1000", "std", true },
    { "netbsd", N_("NetBSD"), N_("NetBSD"), 512 * MIB, 8 * GIB, 1, "ac97", "e1000", "std", true },
    { "linux", N_("Linux"), N_("Linux"), 1 * GIB, 16 * GIB, 2, "hda", "e1000", "std", true },
    { "other", N_("Other system"), N_("New Virtual Machine"), 256 * MIB, 8 * GIB, 1, "ac97", "e1000", "std" },
};

/* Floppy image sizes a PC BIOS knows, in bytes. */
static const uint64_t floppy_sizes[] = {
    160 * 1024, 180 * 1024, 320 * 1024, 360 * 1024, 720 * 1024, 1200 * 1024,
    1440 * 1024, 1680 * 1024, 1722 * 1024, 2880 * 1024,
};

const VireoOsPreset *vireo_os_presets(size_t *count)
{
    *count = G_N_ELEMENTS(presets);
    return presets;
}

unsigned vireo_host_cpus(void)
{
    return (unsigned)MAX(g_get_num_processors(), 1);
}

unsigned vireo_os_fit_cpus(unsigned cpus)
{
    return MIN(cpus, vireo_host_cpus());
}

char *vireo_cpus_advice(unsigned cpus)
{
    unsigned host = vireo_host_cpus();
    if (cpus <= host)
        return NULL;
    return g_strdup_printf(
        ngettext("This computer has %u processor: the virtual ones beyond it share it and run slower",
                 "This computer has %u processors: the virtual ones beyond them share them and run slower", host),
        host);
}

const VireoOsPreset *vireo_os_preset_find(const char *id)
{
    for (size_t i = 0; id && i < G_N_ELEMENTS(presets); i++)
        if (!strcmp(presets[i].id, id))
            return &presets[i];
    return NULL;
}

/* osinfo short IDs of the NT systems that want the XP-era preset. */
static bool is_classic_nt(const char *short_id)
{
    return g_str_has_prefix(short_id, "winxp") || g_str_has_prefix(short_id, "win2k3") ||
           !strcmp(short_id, "win2k") || g_str_has_prefix(short_id, "winnt");
}

static const VireoOsPreset *preset_for_family(const char *family, const char *short_id)
{
    const char *id = "other";
    if (!family)
        family = "";
    if (!strcmp(family, "msdos") || g_str_has_prefix(short_id, "freedos") ||
        g_str_has_prefix(short_id, "msdos"))
        id = "dos";
    else if (!strcmp(family, "win9x") || g_str_has_prefix(short_id, "win9") ||
             !strcmp(short_id, "winme") || g_str_has_prefix(short_id, "win3") ||
             g_str_has_prefix(short_id, "win1.") || g_str_has_prefix(short_id, "win2."))
        id = "win9x";
    else if (!strcmp(family, "winnt") || g_str_has_prefix(short_id, "win"))
        id = is_classic_nt(short_id) ? "winxp" : "windows";
    else if (!strcmp(family, "freebsd") || g_str_has_prefix(short_id, "freebsd") ||
             g_str_has_prefix(short_id, "dragonfly"))
        id = "freebsd";
    else if (!strcmp(family, "openbsd") || g_str_has_prefix(short_id, "openbsd"))
        id = "openbsd";
    else if (!strcmp(family, "netbsd") || g_str_has_prefix(short_id, "netbsd"))
        id = "netbsd";
    else if (!strcmp(family, "linux"))
        id = "linux";
    return vireo_os_preset_find(id);
}

const VireoOsPreset *vireo_os_preset_for_os_id(const char *os_id)
{
    if (!os_id)
        return vireo_os_preset_find("other");
    const VireoOsPreset *p = vireo_os_preset_find(os_id);
    if (p)
        return p;
    /* Without a database look-up: the short ID's prefix is enough for the family. */
    static const char *const linuxes[] = { "debian", "ubuntu", "fedora", "centos", "rhel",
        "opensuse", "sle", "alpine", "arch", "gentoo", "mageia", "slackware", "rocky",
        "alma", "mint", "void", "nixos", "manjaro", "silverblue", "popos", NULL };
    for (const char *const *l = linuxes; *l; l++)
        if (g_str_has_prefix(os_id, *l))
            return vireo_os_preset_find("linux");
    return preset_for_family(NULL, os_id);
}

const char *vireo_os_display_name(const char *os_id, const char *stored_name)
{
    const VireoOsPreset *p = vireo_os_preset_find(os_id);
    if (p)
        return _(p->name);
    if (stored_name && *stored_name)
        return stored_name;
    if (os_id && *os_id)
        return os_id;
    return _("Unknown system");
}

void vireo_os_guess_free(VireoOsGuess *g)
{
    if (!g)
        return;
    g_free(g->os_id);
    g_free(g->os_name);
    g_free(g);
}

static bool has_iso9660_descriptor(int fd)
{
    char magic[5];
    return pread(fd, magic, sizeof(magic), 0x8001) == (ssize_t)sizeof(magic) &&
           !memcmp(magic, "CD001", 5);
}

VireoMediaKind vireo_media_probe(const char *path, GError **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        g_set_error(err, VIREO_ERROR, e == ENOENT ? VIREO_ERROR_NOT_FOUND : VIREO_ERROR_FAILED,
                    _("Cannot open %s: %s"), path, g_strerror(e));
        return VIREO_MEDIA_NONE;
    }
    struct stat st;
    VireoMediaKind kind = VIREO_MEDIA_NONE;
    uint8_t head[4] = { 0 };
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("%s is not a regular file"), path);
    } else if (st.st_size == 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("%s is empty"), path);
    } else if (pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
               !memcmp(head, "QFI\xfb", 4)) {
        kind = VIREO_MEDIA_DISK;
    } else if (has_iso9660_descriptor(fd)) {
        kind = VIREO_MEDIA_CDROM;
    } else {
        for (size_t i = 0; i < G_N_ELEMENTS(floppy_sizes); i++)
            if ((uint64_t)st.st_size == floppy_sizes[i])
                kind = VIREO_MEDIA_FLOPPY;
        /* A raw disk image is whole 512-byte sectors; anything else is no medium. */
        if (kind == VIREO_MEDIA_NONE && st.st_size % 512 == 0 && st.st_size >= 1024 * 1024)
            kind = VIREO_MEDIA_DISK;
        if (kind == VIREO_MEDIA_NONE)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        _("%s is not a CD image (ISO), a floppy image or a disk image"), path);
    }
    close(fd);
    return kind;
}

bool vireo_media_is_bootable(const char *path, VireoMediaKind kind)
{
    uint8_t buf[512];
    bool ok = false;
    if (kind == VIREO_MEDIA_DISK) {
        /* qcow2 or raw: the block layer reads the first sector either way. */
        BlockOpenOptions o = { .read_only = true, .force_share = true };
        BlockImage *img = block_open(path, &o, NULL);
        if (!img)
            return false;
        ok = block_pread(img, 0, buf, sizeof(buf), NULL) && buf[510] == 0x55 && buf[511] == 0xaa;
        block_close(img, NULL);
        return ok;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    if (kind == VIREO_MEDIA_CDROM) {
        /* Type 0, "CD001", version 1, then the boot system identifier. */
        static const char id[] = "EL TORITO SPECIFICATION";
        ok = pread(fd, buf, 7 + sizeof(id) - 1, 17 * 2048) == (ssize_t)(7 + sizeof(id) - 1) &&
             buf[0] == 0 && !memcmp(buf + 1, "CD001", 5) && buf[6] == 1 &&
             !memcmp(buf + 7, id, sizeof(id) - 1);
    } else if (kind == VIREO_MEDIA_FLOPPY) {
        ok = pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) && buf[510] == 0x55 && buf[511] == 0xaa;
    }
    close(fd);
    return ok;
}

/* osinfo-db is loaded once, on first use, from whichever thread gets there first. */
static OsinfoDb *osinfo_database(void)
{
    static gsize once;
    static OsinfoDb *db;
    if (g_once_init_enter(&once)) {
        OsinfoLoader *loader = osinfo_loader_new();
        GError *err = NULL;
        osinfo_loader_process_default_path(loader, &err);
        if (err) {
            g_warning("osinfo-db: %s", err->message);
            g_error_free(err);
        }
        db = g_object_ref(osinfo_loader_get_db(loader));
        g_object_unref(loader);
        g_once_init_leave(&once, 1);
    }
    return db;
}

/* The resources for the medium's architecture, else for all, else the first. */
static OsinfoResources *pick_resources(OsinfoResourcesList *list, const char *arch)
{
    OsinfoResources *any = NULL, *first = NULL;
    int n = osinfo_list_get_length(OSINFO_LIST(list));
    for (int i = 0; i < n; i++) {
        OsinfoResources *r = OSINFO_RESOURCES(osinfo_list_get_nth(OSINFO_LIST(list), i));
        const char *a = osinfo_resources_get_architecture(r);
        if (!first)
            first = r;
        if (arch && a && !strcmp(a, arch))
            return r;
        if (a && !strcmp(a, "all"))
            any = r;
    }
    return any ? any : first;
}

static void apply_os_resources(VireoOsGuess *g, OsinfoOs *os, const char *arch)
{
    OsinfoResourcesList *rec = osinfo_os_get_recommended_resources(os);
    OsinfoResourcesList *min = osinfo_os_get_minimum_resources(os);
    OsinfoResources *r = pick_resources(rec, arch), *m = pick_resources(min, arch);
    gint64 ram = r ? osinfo_resources_get_ram(r) : -1;
    gint64 disk = r ? osinfo_resources_get_storage(r) : -1;
    gint cpus = r ? osinfo_resources_get_n_cpus(r) : -1;
    if (ram <= 0 && m)
        ram = osinfo_resources_get_ram(m);
    if (disk <= 0 && m)
        disk = osinfo_resources_get_storage(m);
    if (ram > 0)
        g->ram = (uint64_t)ram;
    if (disk > 0)
        g->disk = (uint64_t)disk;
    if (cpus > 0)
        g->cpus = (unsigned)cpus;
    g_object_unref(rec);
    g_object_unref(min);
}

static VireoOsGuess *guess_from_preset(const char *preset_id)
{
    const VireoOsPreset *p = vireo_os_preset_find(preset_id);
    VireoOsGuess *g = g_new0(VireoOsGuess, 1);
    g->preset = p;
    g->os_id = g_strdup(p->id);
    g->os_name = g_strdup(_(p->name));
    g->ram = p->ram;
    g->disk = p->disk;
    g->cpus = p->cpus;
    return g;
}

VireoOsGuess *vireo_os_identify(const char *path, VireoMediaKind kind, GError **err)
{
    if (kind == VIREO_MEDIA_FLOPPY)
        return guess_from_preset("dos");   /* boot floppies are nearly always DOS */
    if (kind != VIREO_MEDIA_CDROM)
        return guess_from_preset("other");

    GError *local = NULL;
    g_autoptr(OsinfoMedia) media =
        osinfo_media_create_from_location_with_flags(path, NULL, 0, &local);
    if (!media) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("Cannot read the CD image %s: %s"),
                    path, local->message);
        g_error_free(local);
        return NULL;
    }
    OsinfoDb *db = osinfo_database();
    OsinfoOs *os = NULL;
    if (db && osinfo_db_identify_media(db, media))
        os = osinfo_media_get_os(media);
    if (!os)
        return guess_from_preset("other");

    const char *short_id = osinfo_product_get_short_id(OSINFO_PRODUCT(os));
    const VireoOsPreset *p = preset_for_family(osinfo_os_get_family(os), short_id ? short_id : "");
    VireoOsGuess *g = guess_from_preset(p->id);
    g->identified = true;
    if (short_id) {
        g_free(g->os_id);
        g->os_id = g_strdup(short_id);
    }
    const char *name = osinfo_product_get_name(OSINFO_PRODUCT(os));
    if (name) {
        g_free(g->os_name);
        g->os_name = g_strdup(name);
    }
    apply_os_resources(g, os, osinfo_media_get_architecture(media));
    g_object_unref(os);
    return g;
}
