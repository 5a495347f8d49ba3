/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Install media detection: synthetic ISOs made with xorriso carry the volume IDs (and
 * system and publisher IDs) of real FreeDOS, Windows XP and FreeBSD install media;
 * libosinfo must name the system and the wizard must pick the right preset. */
#include "ui/gtk/vireo-osinfo.h"
#include "engine/config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

static char *work;

static void remove_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(path, n, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            remove_tree(p);
        else
            g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(path);
}

/* xorriso upper-cases -sysid, but real media keep their case ("FreeBSD"), and libosinfo
 * compares it as written: put it into the primary volume descriptor (sector 16, bytes
 * 8-39, padded with spaces) as the systems' own tools do. */
static void set_system_id(const char *iso, const char *sysid)
{
    char field[32];
    memset(field, ' ', sizeof(field));
    memcpy(field, sysid, MIN(strlen(sysid), sizeof(field)));
    FILE *f = fopen(iso, "r+b");
    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, 16 * 2048 + 8, SEEK_SET), ==, 0);
    g_assert_cmpuint(fwrite(field, 1, sizeof(field), f), ==, sizeof(field));
    fclose(f);
}

/* Builds an ISO 9660 image with these identifiers; returns its path. */
static char *make_iso(const char *file, const char *volid, const char *sysid, const char *publisher)
{
    g_autofree char *root = g_build_filename(work, "root", NULL);
    g_mkdir_with_parents(root, 0755);
    g_autofree char *readme = g_build_filename(root, "README.TXT", NULL);
    g_assert_true(g_file_set_contents(readme, "Vireo test medium\n", -1, NULL));
    char *iso = g_build_filename(work, file, NULL);
    GPtrArray *argv = g_ptr_array_new();
    const char *base[] = { "xorriso", "-as", "mkisofs", "-quiet", "-V", volid, "-o", iso };
    for (size_t i = 0; i < G_N_ELEMENTS(base); i++)
        g_ptr_array_add(argv, (gpointer)base[i]);
    if (publisher) {
        g_ptr_array_add(argv, "-publisher");
        g_ptr_array_add(argv, (gpointer)publisher);
    }
    g_ptr_array_add(argv, root);
    g_ptr_array_add(argv, NULL);
    g_autoptr(GError) err = NULL;
    int status = -1;
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH |
                               G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, NULL, NULL, &status, &err));
    g_assert_no_error(err);
    g_assert_cmpint(status, ==, 0);
    g_ptr_array_free(argv, TRUE);
    if (sysid)
        set_system_id(iso, sysid);
    return iso;
}

static void check_iso(const char *file, const char *volid, const char *sysid, const char *publisher,
                      const char *preset, const char *short_id_prefix)
{
    g_autofree char *iso = make_iso(file, volid, sysid, publisher);
    g_autoptr(GError) err = NULL;
    g_assert_cmpint(vireo_media_probe(iso, &err), ==, VIREO_MEDIA_CDROM);
    g_assert_no_error(err);
    g_autoptr(VireoOsGuess) g = vireo_os_identify(iso, VIREO_MEDIA_CDROM, &err);
    g_assert_no_error(err);
    g_assert_nonnull(g);
    g_test_message("%s: %s (%s), preset %s, RAM %" G_GUINT64_FORMAT " MiB, disk %" G_GUINT64_FORMAT " MiB",
                   volid, g->os_name, g->os_id, g->preset->id, g->ram >> 20, g->disk >> 20);
    g_assert_true(g->identified);
    g_assert_true(g_str_has_prefix(g->os_id, short_id_prefix));
    g_assert_cmpstr(g->preset->id, ==, preset);
    g_assert_cmpuint(g->ram, >=, 16u << 20);
    g_assert_cmpuint(g->disk, >=, 64u << 20);
}

static void test_freedos(void)
{
    check_iso("fd.iso", "FD-SETUP", "LINUX", NULL, "dos", "freedos");
}

static void test_windows_xp(void)
{
    check_iso("xp.iso", "WXPFPP_EN", NULL, "MICROSOFT CORPORATION", "winxp", "winxp");
}

static void test_freebsd(void)
{
    check_iso("bsd.iso", "13_1_RELEASE_AMD64_CD", "FreeBSD", NULL, "freebsd", "freebsd");
}

static void test_unknown_iso_gets_other(void)
{
    g_autofree char *iso = make_iso("mine.iso", "MY_DATA_DISC", NULL, NULL);
    g_autoptr(VireoOsGuess) g = vireo_os_identify(iso, VIREO_MEDIA_CDROM, NULL);
    g_assert_nonnull(g);
    g_assert_false(g->identified);
    g_assert_cmpstr(g->preset->id, ==, "other");
}

static void test_floppy_and_disk_and_junk(void)
{
    g_autofree char *fd = g_build_filename(work, "dos.img", NULL);
    g_autofree char *zeros = g_malloc0(1440 * 1024);
    g_assert_true(g_file_set_contents(fd, zeros, 1440 * 1024, NULL));
    g_autoptr(GError) err = NULL;
    g_assert_cmpint(vireo_media_probe(fd, &err), ==, VIREO_MEDIA_FLOPPY);
    g_autoptr(VireoOsGuess) g = vireo_os_identify(fd, VIREO_MEDIA_FLOPPY, &err);
    g_assert_cmpstr(g->preset->id, ==, "dos");

    g_autofree char *qcow = g_build_filename(work, "disk.qcow2", NULL);
    g_assert_true(g_file_set_contents(qcow, "QFI\xfb\0\0\0\3", 8, NULL));
    g_assert_cmpint(vireo_media_probe(qcow, &err), ==, VIREO_MEDIA_DISK);

    g_autofree char *junk = g_build_filename(work, "notes.txt", NULL);
    g_assert_true(g_file_set_contents(junk, "hello", 5, NULL));
    g_assert_cmpint(vireo_media_probe(junk, &err), ==, VIREO_MEDIA_NONE);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "notes.txt"));
    g_clear_error(&err);

    g_autofree char *empty = g_build_filename(work, "empty.iso", NULL);
    g_assert_true(g_file_set_contents(empty, "", 0, NULL));
    g_assert_cmpint(vireo_media_probe(empty, &err), ==, VIREO_MEDIA_NONE);
    g_assert_nonnull(strstr(err->message, "empty"));
    g_clear_error(&err);

    g_assert_cmpint(vireo_media_probe("/nonexistent/x.iso", &err), ==, VIREO_MEDIA_NONE);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
}

/* Issue 23: the Linux and Windows presets ask for two processors, the others one; the
 * wizard gives them under every back end (KVM runs several vCPUs too), never more than
 * the host's cores, and the row warns only beyond the host's cores. */
static void test_preset_processors(void)
{
    g_assert_cmpuint(vireo_os_preset_for_os_id("debian12")->cpus, ==, 2);
    g_assert_cmpuint(vireo_os_preset_for_os_id("win10")->cpus, ==, 2);
    g_assert_cmpuint(vireo_os_preset_for_os_id("freedos1.2")->cpus, ==, 1);
    g_assert_cmpuint(vireo_os_preset_for_os_id("openbsd7.3")->cpus, ==, 1);
    unsigned host = vireo_host_cpus();
    g_test_message("%u host processors", host);
    g_assert_cmpuint(vireo_os_fit_cpus(1), ==, 1);
    g_assert_cmpuint(vireo_os_fit_cpus(2), ==, MIN(2, host));
    g_assert_cmpuint(vireo_os_fit_cpus(64), ==, host);
    g_autofree char *one = vireo_cpus_advice(1);
    g_assert_null(one);
    g_autofree char *at_host = vireo_cpus_advice(host);
    g_assert_null(at_host);
    g_autofree char *many = vireo_cpus_advice(host + 1);
    g_assert_nonnull(many);
    g_assert_nonnull(strstr(many, "slower"));
    g_assert_null(strstr(many, "KVM"));
}

static void test_presets_for_os_ids(void)
{
    g_assert_cmpstr(vireo_os_preset_for_os_id("freedos1.2")->id, ==, "dos");
    g_assert_cmpstr(vireo_os_preset_for_os_id("win98")->id, ==, "win9x");
    g_assert_cmpstr(vireo_os_preset_for_os_id("winxp")->id, ==, "winxp");
    g_assert_cmpstr(vireo_os_preset_for_os_id("win10")->id, ==, "windows");
    g_assert_cmpstr(vireo_os_preset_for_os_id("openbsd7.3")->id, ==, "openbsd");
    g_assert_cmpstr(vireo_os_preset_for_os_id("debian12")->id, ==, "linux");
    g_assert_cmpstr(vireo_os_preset_for_os_id(NULL)->id, ==, "other");
    /* The sound card each family's own drivers know: HD Audio from Vista and for Linux. */
    g_assert_cmpstr(vireo_os_preset_for_os_id("win10")->sound, ==, "hda");
    g_assert_cmpstr(vireo_os_preset_for_os_id("debian12")->sound, ==, "hda");
    g_assert_cmpstr(vireo_os_preset_for_os_id("winxp")->sound, ==, "ac97");
    g_assert_cmpstr(vireo_os_preset_for_os_id("freedos1.2")->sound, ==, "sb16");
    /* The display adapter: the Cirrus for the Windows releases that have its driver and
     * not the Bochs VBE one (95 to ME, NT 4, 2000, XP), the std VGA for the rest. */
    static const char *const cirrus[] = { "win95", "win98", "winme", "winnt4.0", "win2k", "winxp" };
    for (size_t i = 0; i < G_N_ELEMENTS(cirrus); i++)
        g_assert_cmpstr(vireo_os_preset_for_os_id(cirrus[i])->display, ==, "cirrus");
    static const char *const std[] = { "freedos1.2", "win10", "win7", "debian12", "openbsd7.3", "msdos6.22" };
    for (size_t i = 0; i < G_N_ELEMENTS(std); i++)
        g_assert_cmpstr(vireo_os_preset_for_os_id(std[i])->display, ==, "std");
    g_assert_cmpstr(vireo_os_preset_for_os_id(NULL)->display, ==, "std");
    /* A new disk on virtio only where the installer has the driver. */
    g_assert_true(vireo_os_preset_for_os_id("debian12")->virtio_disk);
    g_assert_true(vireo_os_preset_for_os_id("openbsd7.3")->virtio_disk);
    g_assert_false(vireo_os_preset_for_os_id("freedos1.2")->virtio_disk);
    g_assert_false(vireo_os_preset_for_os_id("win10")->virtio_disk);
    g_assert_false(vireo_os_preset_for_os_id("winxp")->virtio_disk);
    g_assert_false(vireo_os_preset_for_os_id(NULL)->virtio_disk);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_autofree char *xorriso = g_find_program_in_path("xorriso");
    if (!xorriso) {
        printf("1..0 # SKIP xorriso is not installed (Debian package xorriso)\n");
        return 77;
    }
    work = g_dir_make_tmp("vireo-osinfo-XXXXXX", NULL);
    g_test_add_func("/osinfo/freedos", test_freedos);
    g_test_add_func("/osinfo/windows-xp", test_windows_xp);
    g_test_add_func("/osinfo/freebsd", test_freebsd);
    g_test_add_func("/osinfo/unknown-iso", test_unknown_iso_gets_other);
    g_test_add_func("/osinfo/floppy-disk-junk", test_floppy_and_disk_and_junk);
    g_test_add_func("/osinfo/presets", test_presets_for_os_ids);
    g_test_add_func("/osinfo/preset-processors", test_preset_processors);
    int r = g_test_run();
    remove_tree(work);
    return r;
}
