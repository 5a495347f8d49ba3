/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Import and export in the app (issue 20), driven as a user would and checked through
 * what qemu-img, virt-xml-validate and the booted guest say:
 *
 *   import-disks FREEDOS  a FreeDOS hard disk (the boot floppy's volume behind a boot
 *                         record) converted by qemu-img to VMDK, VDI and VHDX: the
 *                         wizard recognises each, offers "convert to qcow2" and says
 *                         why "as it is" cannot be, converts it into the VM's folder
 *                         (qemu-img compare: the same disk) and the VM boots FreeDOS
 *                         from it to C:\>. The settings' "add existing disk"
 *                         converts a VDI the same way.
 *   import-export         an OVA assembled here (OVF descriptor and a stream-optimized
 *                         VMDK) is reviewed and imports with its memory and CPUs; a
 *                         libvirt domain XML imports (its two sockets as vm.conf's
 *                         sockets=); a missing disk and a bad XML are one message
 *                         each and create nothing. A VM exports to a folder:
 *                         virt-xml-validate takes the XML (with its <cpu><topology>),
 *                         qemu-img check the disks; the
 *                         QEMU command line lands on the clipboard. Cancel on a
 *                         conversion's progress dialog leaves nothing behind.
 */
#include "app-harness.h"
#include "ui/gtk/vireo-transfer.h"

#include <glib/gstdio.h>
#include <string.h>

static char *run_capture(const char *const *argv)
{
    g_autofree char *out = NULL, *errout = NULL;
    int status = -1;
    g_autoptr(GError) err = NULL;
    CHECK(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &errout,
                       &status, &err),
          "%s: %s", argv[0], err ? err->message : "?");
    CHECK(g_spawn_check_wait_status(status, NULL), "%s %s failed: %s%s", argv[0], argv[1], out, errout);
    return g_steal_pointer(&out);
}

static VireoLibrary *library(void)
{
    return vireo_application_get_library(app);
}

static bool vm_exists(void *name)
{
    return vireo_library_find(library(), name) != NULL && !vireo_job_running();
}

static bool no_job(void *data)
{
    return !vireo_job_running();
}

static char *vm_file(const char *vm, const char *file)
{
    return g_build_filename(library_root, vm, file, NULL);
}

static void qemu_img_check(const char *path)
{
    const char *argv[] = { "qemu-img", "check", "-U", path, NULL };
    g_autofree char *out = run_capture(argv);
    CHECK(strstr(out, "No errors were found"), "qemu-img check %s: %s", path, out);
}

/* qemu-img compare: the guest sees the same disk in both. */
static void same_disk(const char *a, const char *b)
{
    const char *argv[] = { "qemu-img", "compare", "-U", a, b, NULL };
    g_autofree char *out = run_capture(argv);
    CHECK(strstr(out, "Images are identical"), "%s and %s differ: %s", a, b, out);
}

static bool tools_present(void)
{
    if (!have_program("qemu-img")) {
        note("SKIP: qemu-img is not installed (Debian package qemu-utils)");
        exit_code = SKIP;
        return false;
    }
    return true;
}

/* ---- import-disks ---- */

static void wait_probe(VireoWizard *w)
{
    run_for(300);
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (vireo_wizard_is_busy(w) && g_get_monotonic_time() < end)
        run_for(20);
}

/* The wizard from a foreign image to a created VM with its disk converted. */
static void wizard_import(const char *image, const char *label, const char *vm)
{
    g_action_group_activate_action(G_ACTION_GROUP(app), "new-vm", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_WIZARD, 5000), "no wizard");
    VireoWizard *w = VIREO_WIZARD(find_window(VIREO_TYPE_WIZARD));
    gtk_editable_set_text(GTK_EDITABLE(wizard_child(w, "media_entry")), image);
    wait_probe(w);
    const char *status = gtk_label_get_text(GTK_LABEL(wizard_child(w, "media_status")));
    note("%s: %s", label, status);
    CHECK(gtk_check_button_get_active(GTK_CHECK_BUTTON(wizard_child(w, "media_disk"))),
          "%s was not recognised as a hard disk image", image);
    CHECK(strstr(status, label), "the wizard does not say the image is %s: %s", label, status);
    CHECK(next_enabled(w), "Next with a %s image", label);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    /* Convert is chosen; "as it is" is shown, greyed, with the reason. */
    CHECK(gtk_check_button_get_active(GTK_CHECK_BUTTON(wizard_child(w, "disk_existing"))),
          "the image is not the chosen disk");
    const char *title = adw_preferences_row_get_title(ADW_PREFERENCES_ROW(wizard_child(w, "disk_existing_row")));
    CHECK(!strcmp(title, "Convert to qcow2 (recommended)"), "the disk row says '%s'", title);
    GtkWidget *asis = GTK_WIDGET(wizard_child(w, "disk_asis_row"));
    const char *why = adw_action_row_get_subtitle(ADW_ACTION_ROW(asis));
    CHECK(gtk_widget_get_visible(asis) && !gtk_widget_get_sensitive(asis) && strstr(why, "cannot write"),
          "'use as it is' is not shown as impossible: %s", why);
    screenshot(GTK_WINDOW(w), "import-wizard-disk.png");
    gtk_editable_set_text(GTK_EDITABLE(wizard_child(w, "name_row")), vm);
    gtk_spin_button_set_value(GTK_SPIN_BUTTON(wizard_child(w, "memory_spin")), 32);
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    CHECK(label_with_text(GTK_WIDGET(w), "converted to qcow2"), "the summary does not say the disk is converted");
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    CHECK(wait_for(vm_exists, (void *)vm, 60000), "%s was not created", vm);
    run_for(100);
    CHECK(!window_exists((void *)(gsize)VIREO_TYPE_WIZARD), "the wizard stayed after the conversion");
    g_autofree char *hda = conf_value(vm, "drives", "hda");
    CHECK(!g_strcmp0(hda, "disk.qcow2"), "hda=%s", hda);
    g_autofree char *disk = vm_file(vm, "disk.qcow2");
    g_autofree char *part = vm_file(vm, "disk.qcow2.part");
    CHECK(!g_file_test(part, G_FILE_TEST_EXISTS), "the conversion's temporary file stayed: %s", part);
    qemu_img_check(disk);
    same_disk(image, disk);
    note("%s: converted into %s; qemu-img check clean, qemu-img compare identical", label, disk);
}

/* The VM boots FreeDOS from its converted disk: the kernel is read from it and
 * COMMAND.COM's prompt comes up. */
static void boot_freedos(const char *vm)
{
    VireoMachine *m = vireo_library_find(library(), vm);
    CHECK(m && vireo_machine_get_state(m) == VIREO_MACHINE_OFF, "%s is not ready: %s", vm,
          m ? vireo_machine_get_error(m) : "missing");
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", vm);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window");
    VireoVmWindow *win = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    CHECK(vireo_machine_is_active(m), "%s did not start: %s", vm, vireo_machine_get_error(m));
    ScreenWait prompt = { win, "C:\\>" };
    if (!wait_for(screen_shows, &prompt, 60000))
        dump_screen(win);
    CHECK(screen_shows(&prompt), "%s: FreeDOS did not reach its prompt", vm);
    note("%s boots FreeDOS from the converted disk to its prompt", vm);
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 5000), "force off did not stop %s", vm);
    gtk_window_destroy(GTK_WINDOW(win));
    run_for(100);
}

static void settings_add_converted(const char *image)
{
    write_vm("No disk", "[vm]\nmemory=32M\n[drives]\ncdrom=\n");
    vireo_library_reload(library());
    run_for(100);
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", "No disk");
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    GtkWindow *s = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    GtkWidget *add = find_named(GTK_WIDGET(s), "disk-add");
    CHECK(add, "no add-disk button");
    click(add);
    AdwMessageDialog *d = wait_dialog();
    gtk_check_button_set_active(GTK_CHECK_BUTTON(find_named(GTK_WIDGET(d), "add-disk-existing")), TRUE);
    gtk_editable_set_text(GTK_EDITABLE(find_named(GTK_WIDGET(d), "add-disk-path")), image);
    answer(d, "add");
    d = wait_dialog();
    CHECK(!g_strcmp0(gtk_widget_get_name(GTK_WIDGET(d)), "convert-disk"), "no conversion asked for");
    const char *body = adw_message_dialog_get_body(d);
    CHECK(strstr(body, "VirtualBox (VDI)") && strstr(body, "cannot write"), "the dialog says: %s", body);
    CHECK(!adw_message_dialog_get_response_enabled(d, "as-is"), "'use as it is' can be chosen");
    screenshot(GTK_WINDOW(d), "settings-convert.png");
    answer(d, "convert");
    CHECK(wait_for(no_job, NULL, 60000), "the conversion did not end");
    run_for(100);
    g_autofree char *hda = conf_value("No disk", "drives", "hda");
    CHECK(!g_strcmp0(hda, "disk.qcow2"), "hda=%s after adding the VDI", hda);
    g_autofree char *disk = vm_file("No disk", "disk.qcow2");
    qemu_img_check(disk);
    same_disk(image, disk);
    CHECK(find_named(GTK_WIDGET(s), "disk-row-hda"), "the converted disk is not listed");
    gtk_window_destroy(s);
    note("settings: the VDI added as an existing disk became disk.qcow2 (identical to it)");
}

/* A hard disk with FreeDOS: the boot floppy's FAT12 volume as the active partition
 * at sector 63 behind mbr-chain.asm's boot record. Its boot sector learns the disk's
 * geometry (Vireo's IDE disks: 16 heads, 63 sectors a track, as ATA-1 translation
 * gives the BIOS), where it lies (63 hidden sectors) and the drive (80h); COMMAND.COM
 * is on C: now. The rest of the volume is the floppy's, byte for byte. */
static char *make_freedos_disk(const char *floppy, const char *mbr_path)
{
    enum { START = 63, HEADS = 16, SPT = 63, CYLS = 3 };
    g_autofree char *fd = NULL, *mbr = NULL;
    gsize fd_len = 0, mbr_len = 0;
    CHECK(g_file_get_contents(floppy, &fd, &fd_len, NULL) && fd_len == 1474560, "cannot read %s", floppy);
    CHECK(g_file_get_contents(mbr_path, &mbr, &mbr_len, NULL) && mbr_len == 446, "cannot read %s", mbr_path);
    gsize size = (gsize)CYLS * HEADS * SPT * 512;
    g_autofree uint8_t *disk = g_malloc0(size);
    memcpy(disk, mbr, 446);
    uint32_t first = START, count = (uint32_t)(fd_len / 512), last = first + count - 1;
    uint8_t *e = disk + 446;
    e[0] = 0x80;   /* active */
    uint32_t ends[2] = { first, last };
    for (int i = 0; i < 2; i++) {
        uint32_t c = ends[i] / (HEADS * SPT), h = ends[i] / SPT % HEADS, sec = ends[i] % SPT + 1;
        uint8_t *chs = e + (i ? 5 : 1);
        chs[0] = (uint8_t)h;
        chs[1] = (uint8_t)(sec | ((c >> 2) & 0xc0));
        chs[2] = (uint8_t)c;
    }
    e[4] = 0x01;   /* FAT12 */
    memcpy(e + 8, &first, 4);
    memcpy(e + 12, &count, 4);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    uint8_t *vol = disk + (gsize)START * 512;
    memcpy(vol, fd, fd_len);
    /* BPB (FAT12): sectors per track at 18h, heads at 1Ah, hidden sectors at 1Ch, drive at 24h. */
    vol[0x18] = SPT;
    vol[0x19] = 0;
    vol[0x1a] = HEADS;
    vol[0x1b] = 0;
    memcpy(vol + 0x1c, &first, 4);
    vol[0x24] = 0x80;
    uint8_t *shell = memmem(vol, fd_len, "SHELL=A:\\COMMAND.COM", 20);
    CHECK(shell, "%s has no SHELL=A:\\COMMAND.COM line", floppy);
    shell[6] = 'C';
    char *path = g_build_filename(work_dir, "freedos-hd.img", NULL);
    CHECK(g_file_set_contents(path, (const char *)disk, (gssize)size, NULL), "cannot write %s", path);
    return path;
}

static void case_import_disks(const char *floppy)
{
    if (!g_file_test(floppy, G_FILE_TEST_EXISTS)) {
        note("SKIP: %s is absent (../shared/guests is not beside the project)", floppy);
        exit_code = SKIP;
        return;
    }
    if (!tools_present())
        return;
    const char *mbr = g_getenv("VIREO_TEST_MBR");
    CHECK(mbr, "VIREO_TEST_MBR names no boot record (tests/guests/mbr-chain.asm)");
    g_autofree char *hd = make_freedos_disk(floppy, mbr);
    static const struct { const char *fmt, *label, *vm; } kinds[] = {
        { "vmdk", "VMware (VMDK)", "FreeDOS VMDK" },
        { "vdi", "VirtualBox (VDI)", "FreeDOS VDI" },
        { "vhdx", "Hyper-V (VHDX)", "FreeDOS VHDX" },
    };
    char *images[G_N_ELEMENTS(kinds)];
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        g_autofree char *base = g_strdup_printf("freedos.%s", kinds[i].fmt);
        images[i] = g_build_filename(work_dir, base, NULL);
        const char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", kinds[i].fmt, hd, images[i], NULL };
        g_free(run_capture(argv));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        wizard_import(images[i], kinds[i].label, kinds[i].vm);
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        boot_freedos(kinds[i].vm);
    settings_add_converted(images[1]);
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        g_free(images[i]);
    exit_code = 0;
}

/* ---- import-export ---- */

static const char ovf_text[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
    "    xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\"\n"
    "    xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\">\n"
    "  <References><File ovf:href=\"%s\" ovf:id=\"file1\"/></References>\n"
    "  <DiskSection><Info>Disks</Info>\n"
    "    <Disk ovf:capacity=\"8\" ovf:capacityAllocationUnits=\"byte * 2^20\" ovf:diskId=\"d1\" ovf:fileRef=\"file1\"\n"
    "          ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>\n"
    "  </DiskSection>\n"
    "  <VirtualSystem ovf:id=\"vs\"><Info>A VM</Info><Name>Office Appliance</Name>\n"
    "    <VirtualHardwareSection><Info>Hardware</Info>\n"
    "      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>"
    "<rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>\n"
    "      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>"
    "<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>48</rasd:VirtualQuantity></Item>\n"
    "      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>\n"
    "      <Item><rasd:HostResource>ovf:/disk/d1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID>"
    "<rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>\n"
    "    </VirtualHardwareSection>\n"
    "  </VirtualSystem>\n"
    "</Envelope>\n";

static const char domain_text[] =
    "<domain type='kvm'>\n"
    "  <name>server-dos</name>\n"
    "  <memory unit='KiB'>65536</memory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <cpu><topology sockets='2' cores='1' threads='1'/></cpu>\n"
    "  <os><type arch='i686' machine='pc'>hvm</type><boot dev='hd'/></os>\n"
    "  <devices>\n"
    "    <disk type='file' device='disk'><driver name='qemu' type='raw'/>\n"
    "      <source file='%s'/><target dev='vda' bus='virtio'/></disk>\n"
    "  </devices>\n"
    "</domain>\n";

/* An .ova as VirtualBox and VMware write it: a POSIX tar, the descriptor first. */
static char *make_ova(const char *ovf_name, const char *disk_name, const char *disk)
{
    g_autofree char *dir = g_build_filename(work_dir, "ova", NULL);
    g_mkdir_with_parents(dir, 0755);
    g_autofree char *ovf = g_build_filename(dir, ovf_name, NULL);
    g_autofree char *xml = g_strdup_printf(ovf_text, disk_name);
    CHECK(g_file_set_contents(ovf, xml, -1, NULL), "cannot write %s", ovf);
    g_autofree char *vmdk = g_build_filename(dir, disk_name, NULL);
    const char *conv[] = { "qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                           disk, vmdk, NULL };
    g_free(run_capture(conv));
    char *ova = g_build_filename(work_dir, "office.ova", NULL);
    const char *tar[] = { "tar", "--format=ustar", "-C", dir, "-cf", ova, ovf_name, disk_name, NULL };
    g_free(run_capture(tar));
    return ova;
}

static AdwMessageDialog *import_and_review(const char *path)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    vireo_import_file(main, library(), path);
    CHECK(wait_for(no_job, NULL, 10000), "reading %s did not end", path);
    return wait_dialog();
}

static void import_errors(const char *disk)
{
    unsigned before = g_list_model_get_n_items(vireo_library_get_model(library()));
    /* A domain whose disk is gone. */
    g_autofree char *gone = g_build_filename(work_dir, "gone.img", NULL);
    g_autofree char *xml = g_strdup_printf(domain_text, gone);
    g_autofree char *path = g_build_filename(work_dir, "gone.xml", NULL);
    CHECK(g_file_set_contents(path, xml, -1, NULL), "cannot write %s", path);
    AdwMessageDialog *d = import_and_review(path);
    const char *body = adw_message_dialog_get_body(d);
    CHECK(!strcmp(adw_message_dialog_get_heading(d), "Cannot Import") && strstr(body, gone) &&
          strstr(body, "missing"), "a missing disk: %s", body);
    note("missing disk: %s", body);
    answer(d, "close");
    /* Not a domain at all. */
    g_autofree char *bad = g_build_filename(work_dir, "net.xml", NULL);
    CHECK(g_file_set_contents(bad, "<network><name>default</name></network>\n", -1, NULL), "write");
    d = import_and_review(bad);
    body = adw_message_dialog_get_body(d);
    CHECK(!strcmp(adw_message_dialog_get_heading(d), "Cannot Import") && strstr(body, "not a libvirt domain") &&
          !strchr(body, '\n'), "a bad XML: %s", body);
    note("bad XML: %s", body);
    answer(d, "close");
    CHECK(g_list_model_get_n_items(vireo_library_get_model(library())) == before,
          "a failed import added a VM");
}

static void import_ova(const char *disk)
{
    g_autofree char *ova = make_ova("office.ovf", "office-disk1.vmdk", disk);
    AdwMessageDialog *d = import_and_review(ova);
    const char *body = adw_message_dialog_get_body(d);
    note("review: %s", body);
    CHECK(strstr(body, "Memory: 48.0") && strstr(body, "Processors: 2") &&
          strstr(body, "hda: office-disk1.vmdk, converted to qcow2"), "the review says: %s", body);
    screenshot(GTK_WINDOW(d), "import-review.png");
    GtkEditable *name = GTK_EDITABLE(find_named(GTK_WIDGET(d), "import-name"));
    CHECK(name && !strcmp(gtk_editable_get_text(name), "Office Appliance"), "name proposed: %s",
          name ? gtk_editable_get_text(name) : "none");
    /* Reviewed, nothing exists yet. */
    g_autofree char *dir = g_build_filename(library_root, "Office Appliance", NULL);
    CHECK(!g_file_test(dir, G_FILE_TEST_EXISTS), "the VM exists before the import was confirmed");
    answer(d, "import");
    CHECK(wait_for(vm_exists, (void *)"Office Appliance", 60000), "the appliance was not imported");
    g_autofree char *mem = conf_value("Office Appliance", "vm", "memory");
    g_autofree char *cpus = conf_value("Office Appliance", "vm", "cpus");
    g_autofree char *hda = conf_value("Office Appliance", "drives", "hda");
    CHECK(!g_strcmp0(mem, "48M") && !g_strcmp0(cpus, "2") && !g_strcmp0(hda, "hda.qcow2"),
          "memory=%s cpus=%s hda=%s", mem, cpus, hda);
    g_autofree char *qcow = vm_file("Office Appliance", "hda.qcow2");
    qemu_img_check(qcow);
    same_disk(disk, qcow);
    VireoMachine *m = vireo_library_find(library(), "Office Appliance");
    CHECK(vireo_machine_get_state(m) == VIREO_MACHINE_OFF, "the imported VM: %s", vireo_machine_get_error(m));
    note("OVA imported: memory=%s cpus=%s, its VMDK as hda.qcow2 (identical)", mem, cpus);
}

static void import_domain(const char *disk)
{
    g_autofree char *xml = g_strdup_printf(domain_text, disk);
    g_autofree char *path = g_build_filename(work_dir, "server-dos.xml", NULL);
    CHECK(g_file_set_contents(path, xml, -1, NULL), "cannot write %s", path);
    AdwMessageDialog *d = import_and_review(path);
    const char *body = adw_message_dialog_get_body(d);
    CHECK(strstr(body, "Memory: 64.0") && strstr(body, "Processors: 2"), "the review says: %s", body);
    /* A taken name brings the review back saying so; nothing is created meanwhile. */
    GtkEditable *name = GTK_EDITABLE(find_named(GTK_WIDGET(d), "import-name"));
    gtk_editable_set_text(name, "Office Appliance");
    answer(d, "import");
    d = wait_dialog();
    body = adw_message_dialog_get_body(d);
    CHECK(strstr(body, "There is already a virtual machine called “Office Appliance”") && !vireo_job_running(),
          "a taken name: %s", body);
    name = GTK_EDITABLE(find_named(GTK_WIDGET(d), "import-name"));
    CHECK(!strcmp(gtk_editable_get_text(name), "Office Appliance"), "the review forgot the name typed");
    gtk_editable_set_text(name, "Server DOS");
    answer(d, "import");
    CHECK(wait_for(vm_exists, (void *)"Server DOS", 60000), "the domain was not imported");
    g_autofree char *mem = conf_value("Server DOS", "vm", "memory");
    /* The domain's virtio disk stays on virtio: its system may name it /dev/vda. */
    g_autofree char *vda = conf_value("Server DOS", "drives", "vda");
    g_autofree char *hda = conf_value("Server DOS", "drives", "hda");
    CHECK(!g_strcmp0(mem, "64M") && !g_strcmp0(vda, "vda.qcow2") && !hda, "memory=%s vda=%s hda=%s", mem, vda,
          hda);
    /* Its two sockets of one core each become vm.conf's topology keys. */
    g_autofree char *cpus = conf_value("Server DOS", "vm", "cpus");
    g_autofree char *sockets = conf_value("Server DOS", "vm", "sockets");
    g_autofree char *cores = conf_value("Server DOS", "vm", "cores");
    CHECK(!g_strcmp0(cpus, "2") && !g_strcmp0(sockets, "2") && !g_strcmp0(cores, "1"), "cpus=%s sockets=%s cores=%s",
          cpus, sockets, cores);
    g_autofree char *qcow = vm_file("Server DOS", "vda.qcow2");
    same_disk(disk, qcow);
    note("libvirt domain imported as 'Server DOS': memory=%s, cpus=2 as sockets=2, its raw virtio disk as vda.qcow2",
         mem);
}

static bool clipboard_done(void *data)
{
    return *(char **)data != NULL;
}

static void on_clipboard_text(GObject *src, GAsyncResult *res, gpointer data)
{
    char *text = gdk_clipboard_read_text_finish(GDK_CLIPBOARD(src), res, NULL);
    *(char **)data = text ? text : g_strdup("");
}

static void export_vm(void)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    VireoMachine *m = vireo_library_find(library(), "Server DOS");
    g_autofree char *out = g_build_filename(work_dir, "export", NULL);
    vireo_export_to(main, library(), m, out);
    CHECK(wait_for(no_job, NULL, 60000), "the export did not end");
    AdwMessageDialog *d = wait_dialog();
    CHECK(!g_strcmp0(gtk_widget_get_name(GTK_WIDGET(d)), "export-done"), "export: %s",
          adw_message_dialog_get_body(d));
    g_autofree char *xml = g_build_filename(out, "Server DOS.xml", NULL);
    CHECK(strstr(adw_message_dialog_get_body(d), "virsh define"), "the dialog says: %s",
          adw_message_dialog_get_body(d));
    answer(d, "close");
    if (have_program("virt-xml-validate")) {
        const char *argv[] = { "virt-xml-validate", xml, "domain", NULL };
        g_free(run_capture(argv));
        note("virt-xml-validate accepts %s", xml);
    } else {
        note("(virt-xml-validate absent, Debian package libvirt-clients: the XML was not validated)");
    }
    g_autofree char *disk = g_build_filename(out, "Server DOS-vda.qcow2", NULL);
    qemu_img_check(disk);
    g_autofree char *src = vm_file("Server DOS", "vda.qcow2");
    same_disk(src, disk);
    g_autofree char *text = NULL;
    CHECK(g_file_get_contents(xml, &text, NULL, NULL) && strstr(text, disk), "the XML does not name %s", disk);
    CHECK(strstr(text, "dev='vda'") && strstr(text, "bus='virtio'"), "the XML does not keep the virtio bus:\n%s",
          text);
    CHECK(strstr(text, "<vcpu>2</vcpu>") && strstr(text, "<topology sockets='2' cores='1' threads='1'/>"),
          "the XML does not keep the two sockets:\n%s", text);
    note("exported: %s and its disk (qemu-img check clean, identical to the VM's)", xml);

    /* Exporting again into the same folder: one message, nothing overwritten. */
    vireo_export_to(main, library(), m, out);
    CHECK(wait_for(no_job, NULL, 60000), "the second export did not end");
    d = wait_dialog();
    CHECK(!strcmp(adw_message_dialog_get_heading(d), "Cannot Export") &&
          strstr(adw_message_dialog_get_body(d), "exists already"), "second export: %s",
          adw_message_dialog_get_body(d));
    answer(d, "close");

    /* The VM's menu copies the QEMU command line. */
    gtk_widget_activate_action(GTK_WIDGET(main), "win.copy-qemu-vm", "s", "Server DOS");
    char *clip = NULL;
    gdk_clipboard_read_text_async(gtk_widget_get_clipboard(GTK_WIDGET(main)), NULL, on_clipboard_text, &clip);
    CHECK(wait_for(clipboard_done, &clip, 5000), "the clipboard was not read");
    g_autofree char *line = clip;
    CHECK(g_str_has_prefix(line, "qemu-system-i386 ") && strstr(line, "vda.qcow2") && strstr(line, "if=virtio") &&
          strstr(line, "64"),
          "the clipboard holds: %s", line);
    note("clipboard: %s", line);
}

/* Cancel on the conversion's progress dialog: the wizard stays, and neither the VM nor
 * its folder exists. The image is big enough (32 chunks of data) that the cancel,
 * given as the dialog appears, comes before the copy has ended. */
static void wizard_cancel(void)
{
    g_autofree char *raw = g_build_filename(work_dir, "big.img", NULL);
    g_autofree char *vdi = g_build_filename(work_dir, "big.vdi", NULL);
    g_autofree char *data = g_malloc(64u << 20);
    memset(data, 0x5a, 64u << 20);
    data[510] = 0x55;
    data[511] = (char)0xaa;
    CHECK(g_file_set_contents(raw, data, 64u << 20, NULL), "cannot write %s", raw);
    const char *conv[] = { "qemu-img", "convert", "-f", "raw", "-O", "vdi", raw, vdi, NULL };
    g_free(run_capture(conv));
    g_action_group_activate_action(G_ACTION_GROUP(app), "new-vm", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_WIZARD, 5000), "no wizard");
    VireoWizard *w = VIREO_WIZARD(find_window(VIREO_TYPE_WIZARD));
    gtk_editable_set_text(GTK_EDITABLE(wizard_child(w, "media_entry")), vdi);
    wait_probe(w);
    CHECK(next_enabled(w), "Next with a VDI image");
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    gtk_editable_set_text(GTK_EDITABLE(wizard_child(w, "name_row")), "Cancelled");
    run_for(50);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    gtk_widget_activate_action(GTK_WIDGET(w), "wizard.next", NULL);
    CHECK(vireo_job_running(), "no conversion runs");
    AdwMessageDialog *d = ADW_MESSAGE_DIALOG(find_window(ADW_TYPE_MESSAGE_DIALOG));
    CHECK(d && !g_strcmp0(gtk_widget_get_name(GTK_WIDGET(d)), "transfer-job"), "no progress dialog");
    CHECK(find_named(GTK_WIDGET(d), "transfer-progress"), "no progress bar");
    answer(d, "cancel");
    CHECK(wait_for(no_job, NULL, 60000), "the cancelled conversion did not end");
    run_for(100);
    g_autofree char *dir = g_build_filename(library_root, "Cancelled", NULL);
    CHECK(!vireo_library_find(library(), "Cancelled") && !g_file_test(dir, G_FILE_TEST_EXISTS),
          "a cancelled conversion left the VM or its folder");
    CHECK(window_exists((void *)(gsize)VIREO_TYPE_WIZARD), "the wizard closed on cancel");
    gtk_window_destroy(GTK_WINDOW(w));
    note("the conversion cancelled from its progress dialog: no VM, no folder, the wizard stays");
}

/* A file chooser is up: cancel it. */
static void close_chooser(const char *what)
{
    CHECK(wait_for(window_exists, (void *)(gsize)GTK_TYPE_FILE_CHOOSER_DIALOG, 5000), "%s opened no file chooser", what);
    GtkWindow *fc = find_window(GTK_TYPE_FILE_CHOOSER_DIALOG);
    gtk_dialog_response(GTK_DIALOG(fc), GTK_RESPONSE_CANCEL);
    run_for(100);
    CHECK(!window_exists((void *)(gsize)GTK_TYPE_FILE_CHOOSER_DIALOG), "the %s chooser stayed", what);
}

static bool sensitive(void *widget)
{
    return gtk_widget_is_sensitive(widget);
}

/* Import from the wizard's first page replaces the wizard; Export asks for a folder. */
static void menus(void)
{
    g_action_group_activate_action(G_ACTION_GROUP(app), "new-vm", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_WIZARD, 5000), "no wizard");
    VireoWizard *w = VIREO_WIZARD(find_window(VIREO_TYPE_WIZARD));
    GtkWidget *row = find_named(GTK_WIDGET(w), "import-row");
    CHECK(row, "no Import row on the wizard's first page");
    CHECK(wait_for(sensitive, row, 5000), "the Import row on the wizard's first page cannot be used");
    gtk_widget_activate(row);
    run_for(100);
    CHECK(!window_exists((void *)(gsize)VIREO_TYPE_WIZARD), "the wizard stayed under the import");
    close_chooser("Import…");
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.export-vm", "s", "Server DOS");
    close_chooser("Export…");
    note("Import… from the wizard's first page and Export… from the VM's menu open their choosers");
}

static void case_import_export(const char *arg)
{
    if (!tools_present())
        return;
    /* A disk with something on it: a boot sector's signature and a pattern. */
    g_autofree char *disk = g_build_filename(work_dir, "dos.img", NULL);
    g_autofree char *data = g_malloc0(8u << 20);
    for (size_t i = 0; i < (8u << 20); i += 4096)
        memset(data + i, (int)(i >> 12) | 1, 512);
    data[510] = 0x55;
    data[511] = (char)0xaa;
    CHECK(g_file_set_contents(disk, data, 8u << 20, NULL), "cannot write %s", disk);
    import_errors(disk);
    wizard_cancel();
    import_ova(disk);
    import_domain(disk);
    export_vm();
    menus();
    exit_code = 0;
}

static const UiCase cases[] = {
    { "import-disks", true, NULL, case_import_disks },
    { "import-export", false, NULL, case_import_export },
};

const UiCase *transfer_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}
