/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM library: listing (bad VMs listed with their error, the others intact),
 * creating, renaming and deleting folders. */
#include "engine/library.h"
#include "engine/library-transfer.h"
#include "engine/vmconf.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *make_root(void)
{
    char *tmp = g_dir_make_tmp("vireo-library-XXXXXX", NULL);
    g_assert_nonnull(tmp);
    char *root = g_build_filename(tmp, "vms", NULL);
    g_free(tmp);
    return root;
}

static void remove_tree(const char *path)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(path, n, NULL);
            remove_tree(p);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void drop_root(char *root)
{
    g_autofree char *parent = g_path_get_dirname(root);
    remove_tree(parent);
    g_free(root);
}

static void write_vm(const char *root, const char *name, const char *conf)
{
    g_autofree char *dir = g_build_filename(root, name, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    if (conf) {
        g_autofree char *p = g_build_filename(dir, "vm.conf", NULL);
        g_assert_true(g_file_set_contents(p, conf, -1, NULL));
    }
}

static void test_empty(void)
{
    char *root = make_root();
    g_autoptr(GPtrArray) l = vm_library_list(root);
    g_assert_cmpuint(l->len, ==, 0);
    drop_root(root);
}

static void test_bad_vms_do_not_hide_good_ones(void)
{
    char *root = make_root();
    write_vm(root, "Good", "[vm]\nmemory=64M\n");
    write_vm(root, "Bad memory", "[vm]\nmemory=sixty\n");
    write_vm(root, "Missing disk", "[vm]\n[drives]\nhda=gone.qcow2\n");
    write_vm(root, "No conf", NULL);
    write_vm(root, "another good", "[vm]\n");
    g_autoptr(GPtrArray) l = vm_library_list(root);
    g_assert_cmpuint(l->len, ==, 5);
    const char *order[] = { "another good", "Bad memory", "Good", "Missing disk", "No conf" };
    for (guint i = 0; i < l->len; i++) {
        VmLibraryEntry *e = l->pdata[i];
        g_assert_cmpstr(e->name, ==, order[i]);
    }
    VmLibraryEntry *good = l->pdata[2], *bad = l->pdata[1], *missing = l->pdata[3], *none = l->pdata[4];
    g_assert_no_error(good->error);
    g_assert_cmpuint(good->config->ram_size, ==, 64u << 20);
    g_assert_nonnull(bad->conf);
    g_assert_null(bad->config);
    g_assert_nonnull(strstr(bad->error->message, "[vm] memory=sixty: not a memory size"));
    g_assert_error(missing->error, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(missing->error->message, "gone.qcow2 does not exist"));
    g_assert_null(none->conf);
    g_assert_error(none->error, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    drop_root(root);
}

/* Listing on a thread of its own: a list that waits on a FIFO fails the test instead
 * of hanging it. */
typedef struct ListJob {
    const char *root;
    GPtrArray *list;
    gint done;
} ListJob;

static gpointer list_thread(gpointer data)
{
    ListJob *j = data;
    j->list = vm_library_list(j->root);
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

/* A VM whose vm.conf is a FIFO or a 50 MB file is listed with its error at once; the
 * other VMs are unaffected. */
static void test_fifo_and_huge_listed(void)
{
    char *root = make_root();
    write_vm(root, "Good", "[vm]\nmemory=64M\n");
    write_vm(root, "Pipe", NULL);
    g_autofree char *fifo = g_build_filename(root, "Pipe", "vm.conf", NULL);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    GString *huge = g_string_new("[vm]\nmemory=");
    for (int i = 0; i < 50 << 20; i += 64)
        g_string_append(huge, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    g_string_append_c(huge, '\n');
    write_vm(root, "Huge", huge->str);
    g_string_free(huge, TRUE);

    ListJob j = { root, NULL, 0 };
    GThread *t = g_thread_new("library-list", list_thread, &j);
    for (int i = 0; i < 3000 && !g_atomic_int_get(&j.done); i++)
        g_usleep(1000);
    bool in_time = g_atomic_int_get(&j.done);
    if (!in_time) {
        int w = open(fifo, O_WRONLY | O_NONBLOCK);
        if (w >= 0)
            close(w);
    }
    g_thread_join(t);
    g_autoptr(GPtrArray) l = j.list;
    if (!in_time)
        g_error("listing the library waited on a FIFO vm.conf");
    g_assert_cmpuint(l->len, ==, 3);
    VmLibraryEntry *good = l->pdata[0], *huge_vm = l->pdata[1], *pipe_vm = l->pdata[2];
    g_assert_cmpstr(pipe_vm->name, ==, "Pipe");
    g_assert_no_error(good->error);
    g_assert_nonnull(good->config);
    g_test_message("%s", pipe_vm->error->message);
    g_assert_nonnull(strstr(pipe_vm->error->message, "FIFO"));
    g_test_message("%s", huge_vm->error->message);
    g_assert_null(huge_vm->conf);
    g_assert_cmpuint(strlen(huge_vm->error->message), <, 300);
    drop_root(root);
}

static void test_names(void)
{
    const char *bad[] = { "", ".hidden", "a/b", " lead", "trail ", "tab\there" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_assert_false(vm_library_check_name(bad[i], &err));
        g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    }
    g_assert_true(vm_library_check_name("Windows XP (old)", NULL));
    g_assert_true(vm_library_check_name("Débian", NULL));
}

static void test_create_rename_delete(void)
{
    char *root = make_root();
    g_autoptr(GError) err = NULL;
    g_autoptr(GKeyFile) kf = vmconf_new();
    g_autofree char *dir = vm_library_create(root, "FreeDOS", kf, &err);
    g_assert_no_error(err);
    g_assert_true(g_str_has_suffix(dir, "/vms/FreeDOS"));

    /* The same name again is refused and leaves the first VM alone. */
    g_assert_null(vm_library_create(root, "FreeDOS", kf, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_clear_error(&err);

    g_autofree char *disk = g_build_filename(dir, "disk.img", NULL);
    g_assert_true(g_file_set_contents(disk, "x", 1, NULL));
    g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, "hda", "disk.img");
    g_key_file_set_string(kf, VMCONF_GROUP_DRIVES, "cdrom", "/srv/isos/freedos.iso");
    g_assert_true(vmconf_save(kf, dir, &err));

    g_assert_true(vm_library_rename(root, "FreeDOS", "DOS", &err));
    g_assert_no_error(err);
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, "DOS", &err);
    g_assert_no_error(err);
    /* The CD image does not exist: the entry carries that error, the rename worked. */
    g_assert_nonnull(e->error);
    g_assert_nonnull(strstr(e->error->message, "/srv/isos/freedos.iso"));

    g_autoptr(GPtrArray) removed = NULL, kept = NULL;
    vm_library_list_files(e, &removed, &kept);
    g_assert_cmpuint(removed->len, ==, 2);
    g_assert_true(g_str_has_suffix(removed->pdata[0], "/DOS/disk.img"));
    g_assert_true(g_str_has_suffix(removed->pdata[1], "/DOS/vm.conf"));
    g_assert_cmpuint(kept->len, ==, 1);
    g_assert_cmpstr(kept->pdata[0], ==, "/srv/isos/freedos.iso");

    g_assert_null(vm_library_open(root, "FreeDOS", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_clear_error(&err);

    g_autoptr(GKeyFile) kf2 = vmconf_new();
    g_autofree char *dir2 = vm_library_create(root, "Other", kf2, &err);
    g_assert_no_error(err);
    g_assert_false(vm_library_rename(root, "DOS", "Other", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_clear_error(&err);

    g_assert_true(vm_library_delete(root, "DOS", &err));
    g_assert_no_error(err);
    g_autoptr(GPtrArray) l = vm_library_list(root);
    g_assert_cmpuint(l->len, ==, 1);
    g_assert_cmpstr(((VmLibraryEntry *)l->pdata[0])->name, ==, "Other");
    g_assert_false(vm_library_delete(root, "DOS", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    drop_root(root);
}

static void test_default_root_follows_xdg(void)
{
    g_autofree char *root = vm_library_default_root();
    g_autofree char *expect = g_build_filename(g_get_user_data_dir(), "vireo", "vms", NULL);
    g_assert_cmpstr(root, ==, expect);
}

/* A 4 MiB raw disk beside the library with a pattern in every 64 KiB. */
static char *make_raw_disk(const char *root)
{
    g_autofree char *parent = g_path_get_dirname(root);
    char *path = g_build_filename(parent, "src.img", NULL);
    g_autofree char *data = g_malloc0(4u << 20);
    for (size_t i = 0; i < (4u << 20); i += 65536)
        memset(data + i, (int)(i >> 16) + 1, 512);
    g_assert_true(g_file_set_contents(path, data, 4u << 20, NULL));
    return path;
}

static char *write_domain(const char *root, const char *disk)
{
    g_autofree char *parent = g_path_get_dirname(root);
    char *path = g_build_filename(parent, "dom.xml", NULL);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='kvm'><name>dom</name><memory unit='MiB'>96</memory><vcpu>64</vcpu>"
        "<os><type arch='i686'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='%s'/><target dev='hda' bus='ide'/></disk></devices></domain>", disk);
    g_assert_true(g_file_set_contents(path, xml, -1, NULL));
    return path;
}

static void count_progress(void *opaque, double percent)
{
    double *last = opaque;
    g_assert_cmpfloat(percent, >=, *last);
    *last = percent;
}

/* Reading an import writes nothing; creating it copies the disk with progress up to 100. */
static void test_import_review_then_create(void)
{
    char *root = make_root();
    g_autofree char *disk = make_raw_disk(root);
    g_autofree char *xml = write_domain(root, disk);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmImport) imp = vm_import_open(xml, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(imp->name, ==, "dom");
    g_assert_cmpuint(imp->memory, ==, 96u << 20);
    g_assert_cmpuint(imp->cpus, ==, VM_CPUS_MAX);
    g_assert_cmpuint(imp->notes->len, ==, 1);
    g_assert_nonnull(strstr(imp->notes->pdata[0], "64 CPUs"));
    g_assert_cmpuint(imp->disks->len, ==, 1);
    const VmImportDisk *k = imp->disks->pdata[0];
    g_assert_cmpstr(k->slot, ==, "hda");
    g_assert_cmpstr(k->source, ==, disk);
    g_assert_true(k->convert);
    g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));

    double last = 0;
    g_autofree char *name = vm_import_create(imp, root, "Imported", count_progress, &last, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(name, ==, "Imported");
    g_assert_cmpfloat(last, ==, 100.0);
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, "Imported", &err);
    g_assert_no_error(err);
    g_assert_null(e->error);
    g_autofree char *hda = g_key_file_get_string(e->conf, VMCONF_GROUP_DRIVES, "hda", NULL);
    g_assert_cmpstr(hda, ==, "hda.qcow2");
    drop_root(root);
}

/* A cancelled copy leaves nothing in the library; so does a cancelled export. */
static void test_import_export_cancel(void)
{
    char *root = make_root();
    g_autofree char *disk = make_raw_disk(root);
    g_autofree char *xml = write_domain(root, disk);
    g_autoptr(GError) err = NULL;
    g_autoptr(VmImport) imp = vm_import_open(xml, &err);
    g_assert_no_error(err);
    gint cancel = 1;
    g_assert_null(vm_import_create(imp, root, NULL, NULL, NULL, &cancel, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED);
    g_clear_error(&err);
    g_autoptr(GPtrArray) l = vm_library_list(root);
    g_assert_cmpuint(l->len, ==, 0);

    g_autofree char *name = vm_import_create(imp, root, NULL, NULL, NULL, NULL, &err);
    g_assert_no_error(err);
    g_autofree char *parent = g_path_get_dirname(root);
    g_autofree char *out = g_build_filename(parent, "export", NULL);
    g_assert_null(vm_library_export_libvirt(root, name, out, NULL, NULL, &cancel, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED);
    g_clear_error(&err);
    g_autoptr(GDir) d = g_dir_open(out, 0, NULL);
    g_assert_nonnull(d);
    g_assert_null(g_dir_read_name(d));
    drop_root(root);
}

/* An image the source names but that is gone is found when it is read, in one line. */
static void test_import_missing_disk(void)
{
    char *root = make_root();
    g_autofree char *parent = g_path_get_dirname(root);
    g_autofree char *gone = g_build_filename(parent, "gone.img", NULL);
    g_autofree char *xml = write_domain(root, gone);
    g_autoptr(GError) err = NULL;
    g_assert_null(vm_import_open(xml, &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(err->message, xml));
    g_assert_nonnull(strstr(err->message, "gone.img is missing"));
    g_assert_null(strchr(err->message, '\n'));
    /* Raw and qcow2 need no conversion. */
    g_autofree char *raw = make_raw_disk(root);
    g_assert_null(vm_disk_foreign_format(raw, NULL));
    drop_root(root);
}

static char *write_xml(const char *root, const char *file, const char *xml)
{
    g_autofree char *parent = g_path_get_dirname(root);
    char *path = g_build_filename(parent, file, NULL);
    g_assert_true(g_file_set_contents(path, xml, -1, NULL));
    return path;
}

/* A vm.conf key of a library VM, NULL when absent. */
static char *conf_key(const VmLibraryEntry *e, const char *key)
{
    return g_key_file_get_string(e->conf, VMCONF_GROUP_VM, key, NULL);
}

/* vm.conf's sockets/cores/threads and display=virtio leave as libvirt's <cpu><topology>
 * and primary virtio video, and come back from that XML as the same keys; a plain count
 * leaves as one socket of N cores and comes back as cpus= alone. */
static void test_libvirt_topology_round_trip(void)
{
    char *root = make_root();
    g_autofree char *parent = g_path_get_dirname(root);
    write_vm(root, "Quad", "[vm]\nmemory=64M\ncpus=4\nsockets=2\ncores=1\nthreads=2\ndisplay=virtio\n");
    write_vm(root, "Pair", "[vm]\nmemory=64M\ncpus=2\n");
    static const struct {
        const char *name, *topology, *video, *sockets, *cores, *threads, *display;
        CpuTopology topo;
    } cases[] = {
        { "Quad", "<topology sockets='2' cores='1' threads='2'/>", "<model type='virtio' heads='1' primary='yes'/>",
          "2", "1", "2", "virtio", { 2, 1, 2 } },
        { "Pair", "<topology sockets='1' cores='2' threads='1'/>", "<model type='vga' vram='16384'", NULL, NULL, NULL,
          "std", { 1, 2, 1 } },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *out = g_build_filename(parent, cases[i].name, NULL);
        g_autofree char *xml = vm_library_export_libvirt(root, cases[i].name, out, NULL, NULL, NULL, &err);
        g_assert_no_error(err);
        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(xml, &text, NULL, NULL));
        g_assert_nonnull(strstr(text, cases[i].topology));
        g_assert_nonnull(strstr(text, cases[i].video));

        g_autoptr(VmImport) imp = vm_import_open(xml, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(imp->cpus, ==, cases[i].topo.sockets * cases[i].topo.cores * cases[i].topo.threads);
        g_assert_cmpuint(imp->notes->len, ==, 0);
        g_autofree char *again = g_strdup_printf("%s again", cases[i].name);
        g_autofree char *name = vm_import_create(imp, root, again, NULL, NULL, NULL, &err);
        g_assert_no_error(err);
        g_autoptr(VmLibraryEntry) e = vm_library_open(root, name, &err);
        g_assert_no_error(err);
        g_assert_null(e->error);
        g_autofree char *so = conf_key(e, "sockets"), *co = conf_key(e, "cores"), *th = conf_key(e, "threads");
        g_autofree char *display = conf_key(e, "display");
        g_assert_cmpstr(so, ==, cases[i].sockets);
        g_assert_cmpstr(co, ==, cases[i].cores);
        g_assert_cmpstr(th, ==, cases[i].threads);
        g_assert_cmpstr(display, ==, cases[i].display);
        CpuTopology t = vm_config_topology(e->config);
        g_assert_cmpuint(t.sockets, ==, cases[i].topo.sockets);
        g_assert_cmpuint(t.cores, ==, cases[i].topo.cores);
        g_assert_cmpuint(t.threads, ==, cases[i].topo.threads);
        g_assert_cmpstr(e->config->vga, ==, cases[i].display);
    }
    drop_root(root);
}

/* A topology that is not the vcpu count, lacks a count, or needs dies is one line naming
 * the file, and nothing is imported; one larger than Vireo runs is dropped with a note. */
static void test_libvirt_topology_refused(void)
{
    static const struct {
        const char *cpu, *want;
    } cases[] = {
        { "<vcpu>4</vcpu><cpu><topology sockets='2' cores='2' threads='2'/></cpu>",
          "<cpu><topology sockets='2' cores='2' threads='2'> makes 8 processors, not the 4 of <vcpu>" },
        { "<cpu><topology sockets='2' cores='2' threads='1'/></cpu><vcpu>3</vcpu>", "makes 4 processors, not the 3" },
        { "<vcpu>4</vcpu><cpu><topology sockets='2' cores='2'/></cpu>", "<cpu><topology> has no threads=" },
        { "<vcpu>4</vcpu><cpu><topology sockets='2' cores='two' threads='1'/></cpu>",
          "<cpu><topology cores='two'>: expected a count from 1 to 4096" },
        { "<vcpu>4</vcpu><cpu><topology sockets='0' cores='4' threads='1'/></cpu>", "<cpu><topology sockets='0'>" },
        { "<vcpu>4</vcpu><cpu><topology sockets='1' dies='2' cores='2' threads='1'/></cpu>",
          "<cpu><topology dies='2'>: Vireo's PC has one die" },
    };
    char *root = make_root();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf("<domain type='kvm'><name>dom</name><memory unit='MiB'>64</memory>"
                                                "%s<os><type arch='i686'>hvm</type></os></domain>", cases[i].cpu);
        g_autofree char *xml = write_xml(root, "dom.xml", text);
        g_autoptr(GError) err = NULL;
        g_assert_null(vm_import_open(xml, &err));
        g_assert_nonnull(err);
        g_assert_true(g_str_has_prefix(err->message, xml));
        if (!strstr(err->message, cases[i].want))
            g_error("case %zu: '%s' does not say '%s'", i, err->message, cases[i].want);
        g_assert_null(strchr(err->message, '\n'));
    }
    g_assert_false(g_file_test(root, G_FILE_TEST_EXISTS));

    /* Without <vcpu>, the topology gives the count. */
    g_autofree char *xml = write_xml(root, "six.xml", "<domain type='kvm'><name>six</name><memory unit='MiB'>64</memory>"
                                                      "<cpu><topology sockets='3' cores='1' threads='2'/></cpu></domain>");
    g_autoptr(GError) err = NULL;
    g_autoptr(VmImport) six = vm_import_open(xml, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(six->cpus, ==, 6);

    /* 64 = 4 x 8 x 2 CPUs: Vireo's 16 cannot keep that shape. */
    g_autofree char *big = write_xml(root, "big.xml", "<domain type='kvm'><name>big</name><memory unit='MiB'>64</memory>"
                                                      "<vcpu>64</vcpu><cpu><topology sockets='4' cores='8' threads='2'/>"
                                                      "</cpu></domain>");
    g_autoptr(VmImport) imp = vm_import_open(big, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(imp->cpus, ==, VM_CPUS_MAX);
    g_assert_cmpuint(imp->notes->len, ==, 2);
    g_assert_nonnull(strstr(imp->notes->pdata[1], "4 sockets x 8 cores x 2 threads becomes one socket of 16 cores"));
    g_autofree char *name = vm_import_create(imp, root, NULL, NULL, NULL, NULL, &err);
    g_assert_no_error(err);
    g_autoptr(VmLibraryEntry) e = vm_library_open(root, name, &err);
    g_assert_no_error(err);
    g_assert_null(e->error);
    g_assert_false(g_key_file_has_key(e->conf, VMCONF_GROUP_VM, "sockets", NULL));
    g_assert_cmpuint(e->config->smp, ==, VM_CPUS_MAX);
    drop_root(root);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/library/empty", test_empty);
    g_test_add_func("/library/bad-vms-listed", test_bad_vms_do_not_hide_good_ones);
    g_test_add_func("/library/fifo-and-huge-listed", test_fifo_and_huge_listed);
    g_test_add_func("/library/names", test_names);
    g_test_add_func("/library/create-rename-delete", test_create_rename_delete);
    g_test_add_func("/library/default-root", test_default_root_follows_xdg);
    g_test_add_func("/library/import-review-then-create", test_import_review_then_create);
    g_test_add_func("/library/import-export-cancel", test_import_export_cancel);
    g_test_add_func("/library/import-missing-disk", test_import_missing_disk);
    g_test_add_func("/library/libvirt-topology-round-trip", test_libvirt_topology_round_trip);
    g_test_add_func("/library/libvirt-topology-refused", test_libvirt_topology_refused);
    return g_test_run();
}
