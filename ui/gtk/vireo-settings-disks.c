/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The settings' disks and drives (vm.conf [drives]) and direct kernel boot (kernel,
 * initrd, append of [vm]). Disks sit on PIIX3 IDE with four positions (the CD drive
 * takes the secondary master) or on virtio (vda-vdd, one virtio-blk-pci each), and a
 * floppy controller has drives A: and B:; nothing else is offered. Disks are created and grown through the
 * block layer; a disk never shrinks. All of it changes only while the VM is off. */
#include "ui/gtk/vireo-settings-internal.h"
#include "disks/block.h"
#include "disks/image-ops.h"
#include "engine/library-transfer.h"
#include "engine/vmconf.h"
#include "ui/gtk/vireo-transfer.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#define GIB (UINT64_C(1) << 30)

/* Positions a hard disk may take, as vm.conf names them (cdrom is the secondary
 * master, so hdc is not a disk key): the IDE ones, then the virtio disks, which the
 * bus choice shows as one entry. */
static const struct {
    const char *key;
    const char *label;
} disk_positions[] = {
    { "hda", N_("IDE primary master") },
    { "hdb", N_("IDE primary slave") },
    { "hdd", N_("IDE secondary slave") },
    { "vda", N_("VirtIO disk 1") },
    { "vdb", N_("VirtIO disk 2") },
    { "vdc", N_("VirtIO disk 3") },
    { "vdd", N_("VirtIO disk 4") },
};
#define IDE_POSITIONS 3
/* The bus choice's last entry, after the IDE positions: any free virtio disk key. */
#define VIRTIO_CHOICE IDE_POSITIONS

static bool key_is_virtio(const char *key)
{
    return key[0] == 'v';
}

static const char *position_label(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(disk_positions); i++)
        if (!strcmp(disk_positions[i].key, key))
            return _(disk_positions[i].label);
    return key;
}

static char *conf_string(Settings *s, const char *group, const char *key)
{
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    char *v = kf ? g_key_file_get_string(kf, group, key, NULL) : NULL;
    if (v)
        g_strstrip(v);
    return v;
}

static bool conf_has(Settings *s, const char *key)
{
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    return kf && g_key_file_has_key(kf, VMCONF_GROUP_DRIVES, key, NULL);
}

/* A disk key with a file. */
static bool disk_present(Settings *s, const char *key)
{
    g_autofree char *v = conf_string(s, VMCONF_GROUP_DRIVES, key);
    return v && *v;
}

/* The first free position: IDE ones first (every guest drives them), or with virtio
 * only among the virtio disks. */
static const char *free_disk_position_on(Settings *s, bool virtio)
{
    for (size_t i = virtio ? IDE_POSITIONS : 0; i < G_N_ELEMENTS(disk_positions); i++)
        if (!disk_present(s, disk_positions[i].key))
            return disk_positions[i].key;
    return NULL;
}

static const char *free_disk_position(Settings *s)
{
    return free_disk_position_on(s, false);
}

/* [vm] boot-disk= follows a disk that moves and goes with one that is removed (to NULL),
 * so vm.conf never names a disk it does not have. */
static void boot_disk_follow(GKeyFile *conf, const char *from, const char *to)
{
    g_autofree char *boot = g_key_file_get_string(conf, VMCONF_GROUP_VM, "boot-disk", NULL);
    if (!boot || strcmp(g_strstrip(boot), from))
        return;
    if (to)
        g_key_file_set_string(conf, VMCONF_GROUP_VM, "boot-disk", to);
    else
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "boot-disk", NULL);
}

static char *disk_path(Settings *s, const char *key)
{
    g_autofree char *v = conf_string(s, VMCONF_GROUP_DRIVES, key);
    return vmconf_resolve_path(vireo_machine_get_dir(s->machine), v);
}

/* "2.0 GiB qcow2", or why the image cannot be read. */
static char *describe_image(const char *path, uint64_t *size)
{
    BlockOpenOptions o = { .read_only = true, .no_backing = true, .force_share = true };
    g_autoptr(GError) err = NULL;
    BlockImage *img = block_open(path, &o, &err);
    if (!img)
        return g_strdup(err->message);
    *size = block_size(img);
    g_autofree char *sz = g_format_size_full(*size, G_FORMAT_SIZE_IEC_UNITS);
    char *text = g_strdup_printf("%s %s", sz, block_format_name(img));
    block_close(img, NULL);
    return text;
}

static bool machine_is_off(Settings *s)
{
    return !vireo_machine_is_active(s->machine);
}

/* ---- add a disk ---- */

typedef struct AddDisk {
    Settings *s;
    GtkCheckButton *new_disk, *existing;
    GtkSpinButton *size;
    GtkEntry *path;
} AddDisk;

/* A file name for a new disk in the VM's folder that nothing uses yet. */
static char *new_disk_name(Settings *s)
{
    for (int i = 1; i < 100; i++) {
        g_autofree char *name = i == 1 ? g_strdup("disk.qcow2") : g_strdup_printf("disk-%d.qcow2", i);
        g_autofree char *p = g_build_filename(vireo_machine_get_dir(s->machine), name, NULL);
        if (!g_file_test(p, G_FILE_TEST_EXISTS))
            return g_steal_pointer(&name);
    }
    return NULL;
}

static void show_error(Settings *s, const char *heading, const char *message)
{
    GtkWidget *d = adw_message_dialog_new(s->window, heading, message);
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

/* A foreign disk being converted for a position: what is needed when the copy ends,
 * the settings window having perhaps closed meanwhile. */
typedef struct AddConverted {
    GtkWindow *window;
    VireoMachine *machine;
    char *key, *src, *format, *dest;
} AddConverted;

static void add_converted_free(gpointer p)
{
    AddConverted *ac = p;
    g_object_unref(ac->window);
    g_object_unref(ac->machine);
    g_free(ac->key);
    g_free(ac->src);
    g_free(ac->format);
    g_free(ac->dest);
    g_free(ac);
}

static void add_converted_done(gpointer data, const GError *err)
{
    AddConverted *ac = data;
    if (g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED))
        return;
    Settings *s = g_object_get_data(G_OBJECT(ac->window), "vireo-settings");
    GtkWindow *parent = gtk_widget_get_visible(GTK_WIDGET(ac->window)) ? ac->window : NULL;
    GError *local = NULL;
    if (!err) {
        GKeyFile *cur = vireo_machine_get_conf(ac->machine);
        g_autoptr(GKeyFile) conf = g_key_file_new();
        if (cur) {
            gsize len;
            g_autofree char *text = g_key_file_to_data(cur, &len, NULL);
            g_key_file_load_from_data(conf, text, len, G_KEY_FILE_KEEP_COMMENTS, NULL);
        }
        g_autofree char *base = g_path_get_basename(ac->dest);
        g_key_file_set_string(conf, VMCONF_GROUP_DRIVES, ac->key, base);
        if (vireo_machine_is_active(ac->machine))
            g_set_error(&local, VIREO_ERROR, VIREO_ERROR_INVALID,
                        _("The virtual machine was started while the disk was converted."));
        else if (vireo_machine_save_conf(ac->machine, conf, &local)) {
            if (parent && s)
                settings_update_file_rows(s);
            return;
        }
        g_unlink(ac->dest);
        err = local;
    }
    if (err) {
        GtkWidget *d = adw_message_dialog_new(parent, _("Cannot Add the Disk"), err->message);
        adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
        gtk_window_present(GTK_WINDOW(d));
    }
    g_clear_error(&local);
}

static void convert_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    AddConverted *ac = data;
    if (g_strcmp0(response, "convert")) {
        add_converted_free(ac);
        return;
    }
    vireo_disk_convert_run(ac->window, ac->src, ac->format, ac->dest, add_converted_done, ac,
                           add_converted_free);
}

/* The image is of a format Vireo reads but cannot write: it is converted or not used. */
static void ask_convert(Settings *s, const char *key, const char *path, const char *format)
{
    g_autofree char *name = new_disk_name(s);
    if (!name) {
        show_error(s, _("Cannot Add the Disk"), _("The virtual machine's folder has no free name for a new disk."));
        return;
    }
    AddConverted *ac = g_new0(AddConverted, 1);
    ac->window = g_object_ref(s->window);
    ac->machine = g_object_ref(s->machine);
    ac->key = g_strdup(key);
    ac->src = g_strdup(path);
    ac->format = g_strdup(format);
    ac->dest = g_build_filename(vireo_machine_get_dir(s->machine), name, NULL);
    g_autofree char *why = vireo_disk_as_is_reason(format);
    g_autofree char *body = g_strdup_printf(_("%s is a hard disk image from %s. Converted, it becomes %s, a qcow2 image in the virtual machine's folder; the original stays as it is.\n\nUse as it is: %s"),
                                            path, vireo_disk_format_label(format), name, why);
    GtkWidget *d = adw_message_dialog_new(s->window, _("Convert the Disk?"), body);
    gtk_widget_set_name(d, "convert-disk");
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"),
                                     "as-is", _("Use _As It Is"),
                                     "convert", _("_Convert to qcow2"), NULL);
    adw_message_dialog_set_response_enabled(ADW_MESSAGE_DIALOG(d), "as-is", FALSE);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "convert", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "convert");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect(d, "response", G_CALLBACK(convert_response), ac);
    gtk_window_present(GTK_WINDOW(d));
}

static void add_disk_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    AddDisk *ad = data;
    Settings *s = ad->s;
    if (g_strcmp0(response, "add"))
        return;
    const char *key = free_disk_position(s);
    if (!key || !machine_is_off(s))
        return;
    g_autoptr(GError) err = NULL;
    g_autofree char *value = NULL;
    g_autofree char *created = NULL;
    if (gtk_check_button_get_active(ad->new_disk)) {
        g_autofree char *name = new_disk_name(s);
        created = g_build_filename(vireo_machine_get_dir(s->machine), name ? name : "disk.qcow2", NULL);
        ImageCreateOptions o = { 0 };
        o.format = "qcow2";
        o.size = (uint64_t)(gtk_spin_button_get_value(ad->size) * (double)GIB) & ~UINT64_C(511);
        o.size_given = true;
        if (!name || o.size == 0 || !image_create(created, &o, &err)) {
            show_error(s, _("Cannot Create the Disk"), err ? err->message : _("Choose a size above zero."));
            return;
        }
        value = g_steal_pointer(&name);
    } else {
        const char *path = gtk_editable_get_text(GTK_EDITABLE(ad->path));
        if (!*path) {
            show_error(s, _("Cannot Add the Disk"), _("Choose an image file."));
            return;
        }
        value = g_canonicalize_filename(path, NULL);
        const char *format = vm_disk_foreign_format(value, NULL);
        if (format) {
            ask_convert(s, key, value, format);
            return;
        }
    }
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_DRIVES, key, value);
    if (!vireo_machine_save_conf(s->machine, conf, &err)) {
        if (created)
            g_unlink(created);
        show_error(s, _("Cannot Add the Disk"), err->message);
        return;
    }
    settings_update_file_rows(s);
}

static void on_add_choose_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    GtkEntry *entry = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path)
            gtk_editable_set_text(GTK_EDITABLE(entry), path);
    }
    g_object_unref(d);
    g_object_unref(entry);
}

static void on_add_choose(GtkButton *b, AddDisk *ad)
{
    GtkFileChooserNative *d = gtk_file_chooser_native_new(_("Choose a Disk Image"), ad->s->window,
                                                          GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"),
                                                          _("_Cancel"));
    g_signal_connect(d, "response", G_CALLBACK(on_add_choose_chosen), g_object_ref(ad->path));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

static void on_add_kind_toggled(GtkCheckButton *b, AddDisk *ad)
{
    bool fresh = gtk_check_button_get_active(ad->new_disk);
    gtk_widget_set_sensitive(GTK_WIDGET(ad->size), fresh);
    gtk_widget_set_sensitive(gtk_widget_get_parent(GTK_WIDGET(ad->path)), !fresh);
}

static void on_add_disk(GtkButton *b, Settings *s)
{
    const char *key = free_disk_position(s);
    if (!key)
        return;
    GtkWidget *d = adw_message_dialog_new(s->window, _("Add a Hard Disk"), NULL);
    g_autofree char *body = g_strdup_printf(_("The disk goes on the %s position."), position_label(key));
    adw_message_dialog_set_body(ADW_MESSAGE_DIALOG(d), body);
    AddDisk *ad = g_new0(AddDisk, 1);
    ad->s = s;
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    ad->new_disk = GTK_CHECK_BUTTON(gtk_check_button_new_with_mnemonic(_("A _new disk (qcow2, grows as it fills)")));
    gtk_widget_set_name(GTK_WIDGET(ad->new_disk), "add-disk-new");
    GtkWidget *size_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_set_margin_start(size_box, 24);
    GtkWidget *size_label = gtk_label_new_with_mnemonic(_("_Size (GiB)"));
    ad->size = GTK_SPIN_BUTTON(gtk_spin_button_new_with_range(0.1, 2048, 1));
    gtk_spin_button_set_digits(ad->size, 1);
    gtk_spin_button_set_value(ad->size, 8);
    gtk_widget_set_name(GTK_WIDGET(ad->size), "add-disk-size");
    gtk_label_set_mnemonic_widget(GTK_LABEL(size_label), GTK_WIDGET(ad->size));
    gtk_box_append(GTK_BOX(size_box), size_label);
    gtk_box_append(GTK_BOX(size_box), GTK_WIDGET(ad->size));
    ad->existing = GTK_CHECK_BUTTON(gtk_check_button_new_with_mnemonic(_("An _existing image (qcow2 or raw; VMDK, VDI, VHD and VHDX are converted)")));
    gtk_check_button_set_group(ad->existing, ad->new_disk);
    gtk_widget_set_name(GTK_WIDGET(ad->existing), "add-disk-existing");
    GtkWidget *path_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_set_margin_start(path_box, 24);
    ad->path = GTK_ENTRY(gtk_entry_new());
    gtk_widget_set_hexpand(GTK_WIDGET(ad->path), TRUE);
    gtk_widget_set_name(GTK_WIDGET(ad->path), "add-disk-path");
    GtkWidget *choose = gtk_button_new_from_icon_name("document-open-symbolic");
    gtk_widget_set_tooltip_text(choose, _("Choose an image file"));
    g_signal_connect(choose, "clicked", G_CALLBACK(on_add_choose), ad);
    gtk_box_append(GTK_BOX(path_box), GTK_WIDGET(ad->path));
    gtk_box_append(GTK_BOX(path_box), choose);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(ad->new_disk));
    gtk_box_append(GTK_BOX(box), size_box);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(ad->existing));
    gtk_box_append(GTK_BOX(box), path_box);
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), box);
    g_signal_connect(ad->new_disk, "toggled", G_CALLBACK(on_add_kind_toggled), ad);
    gtk_check_button_set_active(ad->new_disk, TRUE);
    on_add_kind_toggled(ad->new_disk, ad);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), "add", _("_Add"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "add", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "add");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect_data(d, "response", G_CALLBACK(add_disk_response), ad,
                          (GClosureNotify)(void (*)(void))g_free, 0);
    gtk_window_present(GTK_WINDOW(d));
}

/* ---- one disk: grow, move, remove ---- */

typedef struct DiskAction {
    Settings *s;
    char *key;
    char *path;
    uint64_t size;
    GtkSpinButton *spin;
} DiskAction;

static void disk_action_free(gpointer data, GClosure *c)
{
    DiskAction *da = data;
    g_free(da->key);
    g_free(da->path);
    g_free(da);
}

static DiskAction *disk_action_new(Settings *s, const char *key)
{
    DiskAction *da = g_new0(DiskAction, 1);
    da->s = s;
    da->key = g_strdup(key);
    da->path = disk_path(s, key);
    return da;
}

static void remove_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    DiskAction *da = data;
    Settings *s = da->s;
    bool keep = !g_strcmp0(response, "keep"), del = !g_strcmp0(response, "delete");
    if ((!keep && !del) || !machine_is_off(s))
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_remove_key(conf, VMCONF_GROUP_DRIVES, da->key, NULL);
    boot_disk_follow(conf, da->key, NULL);
    g_autoptr(GError) err = NULL;
    if (!vireo_machine_save_conf(s->machine, conf, &err)) {
        show_error(s, _("Cannot Remove the Disk"), err->message);
        return;
    }
    /* vm.conf no longer names it; only then does the file go. */
    if (del && da->path && g_unlink(da->path) != 0) {
        g_autofree char *msg = g_strdup_printf(_("The disk was removed from the virtual machine, but %s could not be deleted: %s"),
                                               da->path, g_strerror(errno));
        show_error(s, _("Cannot Delete the File"), msg);
    }
    settings_update_file_rows(s);
}

static void on_remove_disk(GtkButton *b, gpointer data)
{
    Settings *s = data;
    const char *key = g_object_get_data(G_OBJECT(b), "vireo-key");
    DiskAction *da = disk_action_new(s, key);
    GtkWidget *d = adw_message_dialog_new(s->window, _("Remove the Disk?"), NULL);
    adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(d),
        _("%s leaves the virtual machine. Keep the image file to use it elsewhere, or delete it and all it holds."),
        da->path ? da->path : key);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"),
                                     "keep", _("Remove, _Keep the File"),
                                     "delete", _("Remove and _Delete the File"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "delete", ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect_data(d, "response", G_CALLBACK(remove_response), da, disk_action_free, 0);
    gtk_window_present(GTK_WINDOW(d));
}

static void grow_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    DiskAction *da = data;
    Settings *s = da->s;
    if (g_strcmp0(response, "grow") || !machine_is_off(s))
        return;
    uint64_t size = (uint64_t)(gtk_spin_button_get_value(da->spin) * (double)GIB) & ~UINT64_C(511);
    if (size <= da->size)
        return;
    BlockOpenOptions o = { .no_backing = true };
    g_autoptr(GError) err = NULL;
    BlockImage *img = block_open(da->path, &o, &err);
    bool ok = img && block_truncate(img, size, BLOCK_PREALLOC_OFF, false, &err);
    if (img && !block_close(img, ok ? &err : NULL))
        ok = false;
    if (!ok)
        show_error(s, _("Cannot Grow the Disk"), err ? err->message : "");
    settings_update_file_rows(s);
}

static void on_grow_disk(GtkButton *b, gpointer data)
{
    Settings *s = data;
    const char *key = g_object_get_data(G_OBJECT(b), "vireo-key");
    DiskAction *da = disk_action_new(s, key);
    g_autofree char *desc = describe_image(da->path, &da->size);
    GtkWidget *d = adw_message_dialog_new(s->window, _("Grow the Disk"), NULL);
    g_autofree char *cur = g_format_size_full(da->size, G_FORMAT_SIZE_IEC_UNITS);
    adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(d),
        _("%s holds %s now. A disk only grows: the guest's partitions stay as they are until the guest's own tools enlarge them."),
        da->path, cur);
    double cur_gib = (double)da->size / (double)GIB;
    da->spin = GTK_SPIN_BUTTON(gtk_spin_button_new_with_range(cur_gib, 2048, 1));
    gtk_spin_button_set_digits(da->spin, 1);
    gtk_spin_button_set_value(da->spin, cur_gib + 1);
    gtk_widget_set_name(GTK_WIDGET(da->spin), "grow-disk-size");
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *label = gtk_label_new_with_mnemonic(_("New _size (GiB)"));
    gtk_label_set_mnemonic_widget(GTK_LABEL(label), GTK_WIDGET(da->spin));
    gtk_box_append(GTK_BOX(box), label);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(da->spin));
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), box);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), "grow", _("_Grow"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "grow", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect_data(d, "response", G_CALLBACK(grow_response), da, disk_action_free, 0);
    gtk_window_present(GTK_WINDOW(d));
}

static gboolean refresh_later(gpointer window)
{
    Settings *s = g_object_get_data(G_OBJECT(window), "vireo-settings");
    if (s && gtk_widget_get_visible(window))
        settings_update_file_rows(s);
    return G_SOURCE_REMOVE;
}

static void on_position_changed(GtkDropDown *dd, GParamSpec *ps, gpointer data)
{
    Settings *s = data;
    if (s->loading)
        return;
    const char *from = g_object_get_data(G_OBJECT(dd), "vireo-key");
    guint i = gtk_drop_down_get_selected(dd);
    GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(dd), ADW_TYPE_ACTION_ROW);
    const char *to;
    if (i == VIRTIO_CHOICE) {
        /* A disk already on virtio stays where it is; another takes a free virtio key. */
        if (key_is_virtio(from))
            return;
        to = free_disk_position_on(s, true);
        if (!to) {
            settings_row_show_error(row, _("All four VirtIO disks are in use: remove one first."), NULL);
            return;
        }
    } else {
        if (i >= IDE_POSITIONS || !strcmp(disk_positions[i].key, from))
            return;
        to = disk_positions[i].key;
    }
    if (disk_present(s, to)) {
        settings_row_show_error(row, _("Another disk has that position: move or remove it first."), NULL);
        return;
    }
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_autofree char *value = g_key_file_get_string(conf, VMCONF_GROUP_DRIVES, from, NULL);
    g_key_file_remove_key(conf, VMCONF_GROUP_DRIVES, from, NULL);
    g_key_file_set_string(conf, VMCONF_GROUP_DRIVES, to, value ? value : "");
    boot_disk_follow(conf, from, to);
    if (settings_commit(s, conf, row, NULL))
        /* Rebuilding the rows from here would free the drop-down in its own signal; the
         * window may be gone by the time the main loop gets there. */
        g_idle_add_full(G_PRIORITY_DEFAULT, refresh_later, g_object_ref(s->window), g_object_unref);
}

static void add_row(Settings *s, GtkWidget *row);

/* The boot disk row: which of the VM's hard disks the firmware boots ([vm] boot-disk=);
 * without the key the first IDE disk, else the first virtio one. */
static void on_boot_disk_changed(AdwComboRow *row, GParamSpec *ps, gpointer data)
{
    Settings *s = data;
    if (s->loading)
        return;
    GPtrArray *keys = g_object_get_data(G_OBJECT(row), "vireo-keys");
    guint i = adw_combo_row_get_selected(row);
    if (!keys || i >= keys->len)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_VM, "boot-disk", keys->pdata[i]);
    settings_commit(s, conf, GTK_WIDGET(row), NULL);
}

static void add_boot_disk_row(Settings *s)
{
    GPtrArray *keys = g_ptr_array_new();
    GtkStringList *labels = gtk_string_list_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(disk_positions); i++)
        if (disk_present(s, disk_positions[i].key)) {
            g_ptr_array_add(keys, (gpointer)disk_positions[i].key);
            gtk_string_list_append(labels, _(disk_positions[i].label));
        }
    if (keys->len < 2) {
        g_ptr_array_unref(keys);
        g_object_unref(labels);
        return;
    }
    g_autofree char *boot = conf_string(s, VMCONF_GROUP_VM, "boot-disk");
    guint sel = 0;
    for (guint i = 0; boot && i < keys->len; i++)
        if (!strcmp(keys->pdata[i], boot))
            sel = i;
    AdwComboRow *row = ADW_COMBO_ROW(adw_combo_row_new());
    gtk_widget_set_name(GTK_WIDGET(row), "boot-disk-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), _("Boot disk"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), _("The hard disk the firmware starts"));
    adw_combo_row_set_model(row, G_LIST_MODEL(labels));
    g_object_unref(labels);
    adw_combo_row_set_selected(row, sel);
    g_object_set_data_full(G_OBJECT(row), "vireo-keys", keys, (GDestroyNotify)g_ptr_array_unref);
    g_signal_connect(row, "notify::selected", G_CALLBACK(on_boot_disk_changed), s);
    add_row(s, GTK_WIDGET(row));
}

/* ---- CD and floppy drives ---- */

static void on_add_drive(GtkButton *b, gpointer data)
{
    Settings *s = data;
    const char *key = g_object_get_data(G_OBJECT(b), "vireo-key");
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_DRIVES, key, "");
    g_autoptr(GError) err = NULL;
    if (!vireo_machine_save_conf(s->machine, conf, &err))
        show_error(s, _("Cannot Add the Drive"), err->message);
    settings_update_file_rows(s);
}

static void on_remove_drive(GtkButton *b, gpointer data)
{
    Settings *s = data;
    const char *key = g_object_get_data(G_OBJECT(b), "vireo-key");
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_remove_key(conf, VMCONF_GROUP_DRIVES, key, NULL);
    g_autoptr(GError) err = NULL;
    if (!vireo_machine_save_conf(s->machine, conf, &err))
        show_error(s, _("Cannot Remove the Drive"), err->message);
    settings_update_file_rows(s);
}

static GtkWidget *keyed_button(GtkWidget *row, const char *icon, const char *tooltip, const char *name,
                               const char *key, GCallback cb, Settings *s)
{
    GtkWidget *b = settings_add_button(row, icon, tooltip, name, cb, s);
    g_object_set_data_full(G_OBJECT(b), "vireo-key", g_strdup(key), g_free);
    return b;
}

static void add_row(Settings *s, GtkWidget *row)
{
    adw_preferences_group_add(s->disks, row);
    g_ptr_array_add(s->disk_rows, row);
}

static const char *removable_label(const char *key)
{
    if (!strcmp(key, "cdrom"))
        return _("CD drive (IDE secondary master)");
    if (!strcmp(key, "fda"))
        return _("Floppy drive A:");
    return _("Floppy drive B:");
}

void settings_disks_refresh(Settings *s)
{
    if (!s->disks)
        return;
    bool was_loading = s->loading;
    s->loading = true;
    for (guint i = 0; i < s->disk_rows->len; i++)
        adw_preferences_group_remove(s->disks, g_ptr_array_index(s->disk_rows, i));
    g_ptr_array_set_size(s->disk_rows, 0);

    GtkStringList *positions = gtk_string_list_new(NULL);
    for (size_t i = 0; i < IDE_POSITIONS; i++)
        gtk_string_list_append(positions, _(disk_positions[i].label));
    gtk_string_list_append(positions, _("VirtIO (fast; needs drivers: Linux, BSD, Windows with virtio-win)"));
    for (size_t i = 0; i < G_N_ELEMENTS(disk_positions); i++) {
        const char *key = disk_positions[i].key;
        if (!disk_present(s, key))
            continue;
        g_autofree char *path = disk_path(s, key);
        uint64_t size = 0;
        g_autofree char *desc = describe_image(path, &size);
        GtkWidget *row = adw_action_row_new();
        g_autofree char *name = g_strdup_printf("disk-row-%s", key);
        gtk_widget_set_name(row, name);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row),
                                      key_is_virtio(key) ? position_label(key) : _("Hard disk"));
        g_autofree char *sub = g_strdup_printf("%s\n%s", path, desc);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), sub);
        adw_action_row_set_subtitle_lines(ADW_ACTION_ROW(row), 2);
        GtkWidget *dd = gtk_drop_down_new(G_LIST_MODEL(g_object_ref(positions)), NULL);
        gtk_drop_down_set_selected(GTK_DROP_DOWN(dd), (guint)MIN(i, (size_t)VIRTIO_CHOICE));
        g_autofree char *dd_name = g_strdup_printf("disk-position-%s", key);
        gtk_widget_set_name(dd, dd_name);
        gtk_widget_set_tooltip_text(dd, _("Bus and position of the disk"));
        gtk_widget_set_valign(dd, GTK_ALIGN_CENTER);
        g_object_set_data_full(G_OBJECT(dd), "vireo-key", g_strdup(key), g_free);
        g_signal_connect(dd, "notify::selected", G_CALLBACK(on_position_changed), s);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), dd);
        g_autofree char *grow = g_strdup_printf("disk-grow-%s", key);
        keyed_button(row, "list-add-symbolic", _("Grow the disk"), grow, key, G_CALLBACK(on_grow_disk), s);
        g_autofree char *rm = g_strdup_printf("disk-remove-%s", key);
        keyed_button(row, "user-trash-symbolic", _("Remove the disk"), rm, key, G_CALLBACK(on_remove_disk), s);
        add_row(s, row);
    }
    g_object_unref(positions);
    add_boot_disk_row(s);

    static const char *const removable[] = { "cdrom", "fda", "fdb" };
    for (size_t i = 0; i < G_N_ELEMENTS(removable); i++) {
        const char *key = removable[i];
        if (!conf_has(s, key))
            continue;
        GtkWidget *row = adw_action_row_new();
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), removable_label(key));
        g_autofree char *medium = conf_string(s, VMCONF_GROUP_DRIVES, key);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), medium && *medium ? medium : _("Empty"));
        g_autofree char *rm = g_strdup_printf("drive-remove-%s", key);
        keyed_button(row, "user-trash-symbolic", _("Remove the drive"), rm, key, G_CALLBACK(on_remove_drive), s);
        add_row(s, row);
    }

    /* What can be added: a disk while a position is free, each absent drive. */
    GtkWidget *add = adw_action_row_new();
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(add), _("Add"));
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_set_valign(box, GTK_ALIGN_CENTER);
    GtkWidget *b = gtk_button_new_with_mnemonic(_("_Disk…"));
    gtk_widget_set_name(b, "disk-add");
    gtk_widget_set_sensitive(b, free_disk_position(s) != NULL);
    g_signal_connect(b, "clicked", G_CALLBACK(on_add_disk), s);
    gtk_box_append(GTK_BOX(box), b);
    static const struct { const char *key, *label; } drives[] = {
        { "cdrom", N_("_CD Drive") }, { "fda", N_("Floppy _A:") }, { "fdb", N_("Floppy _B:") },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(drives); i++) {
        if (conf_has(s, drives[i].key))
            continue;
        /* cdrom takes the secondary master, which no disk key uses. */
        b = gtk_button_new_with_mnemonic(_(drives[i].label));
        g_autofree char *name = g_strdup_printf("drive-add-%s", drives[i].key);
        gtk_widget_set_name(b, name);
        g_object_set_data_full(G_OBJECT(b), "vireo-key", g_strdup(drives[i].key), g_free);
        g_signal_connect(b, "clicked", G_CALLBACK(on_add_drive), s);
        gtk_box_append(GTK_BOX(box), b);
    }
    adw_action_row_add_suffix(ADW_ACTION_ROW(add), box);
    add_row(s, add);

    /* Direct kernel boot. */
    g_autofree char *kernel = conf_string(s, VMCONF_GROUP_VM, "kernel");
    g_autofree char *initrd = conf_string(s, VMCONF_GROUP_VM, "initrd");
    g_autofree char *append = conf_string(s, VMCONF_GROUP_VM, "append");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->kernel_row), kernel && *kernel ? kernel : _("None: the firmware boots a disk"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->initrd_row), initrd && *initrd ? initrd : _("None"));
    gtk_widget_set_sensitive(s->initrd_row, kernel && *kernel);
    gtk_widget_set_sensitive(s->append_row, kernel && *kernel);
    gtk_editable_set_text(GTK_EDITABLE(s->append_row), append ? append : "");
    s->loading = was_loading;
}

/* ---- direct kernel boot ---- */

static void set_vm_key(Settings *s, const char *key, const char *value, GtkWidget *row)
{
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    if (value)
        g_key_file_set_string(conf, VMCONF_GROUP_VM, key, value);
    else
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, key, NULL);
    /* Without a kernel, its initrd and command line mean nothing (and vm.conf refuses them). */
    if (!value && !strcmp(key, "kernel")) {
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "initrd", NULL);
        g_key_file_remove_key(conf, VMCONF_GROUP_VM, "append", NULL);
    }
    if (settings_commit(s, conf, row, NULL))
        settings_update_file_rows(s);
}

static void on_choose_kernel(GtkButton *b, Settings *s)
{
    settings_choose_file(s, VMCONF_GROUP_VM, "kernel", s->kernel_row, _("Choose a Linux Kernel"));
}

static void on_clear_kernel(GtkButton *b, Settings *s)
{
    set_vm_key(s, "kernel", NULL, s->kernel_row);
}

static void on_choose_initrd(GtkButton *b, Settings *s)
{
    settings_choose_file(s, VMCONF_GROUP_VM, "initrd", s->initrd_row, _("Choose an Initial Ramdisk"));
}

static void on_clear_initrd(GtkButton *b, Settings *s)
{
    set_vm_key(s, "initrd", NULL, s->initrd_row);
}

static void on_append_apply(AdwEntryRow *row, Settings *s)
{
    const char *text = gtk_editable_get_text(GTK_EDITABLE(row));
    set_vm_key(s, "append", *text ? text : NULL, GTK_WIDGET(row));
}

void settings_disks_build(Settings *s, AdwPreferencesPage *page)
{
    s->disk_rows = g_ptr_array_new();
    s->disks = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    gtk_widget_set_name(GTK_WIDGET(s->disks), "disks-group");
    adw_preferences_group_set_title(s->disks, _("Disks and Drives"));
    adw_preferences_page_add(page, s->disks);

    s->kernel = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    adw_preferences_group_set_title(s->kernel, _("Direct Kernel Boot"));
    s->kernel_row = adw_action_row_new();
    gtk_widget_set_name(s->kernel_row, "kernel-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->kernel_row), _("Kernel"));
    settings_add_button(s->kernel_row, "document-open-symbolic", _("Choose a kernel"), "kernel-choose",
                        G_CALLBACK(on_choose_kernel), s);
    settings_add_button(s->kernel_row, "edit-clear-symbolic", _("Boot from the disks instead"), "kernel-clear",
                        G_CALLBACK(on_clear_kernel), s);
    s->initrd_row = adw_action_row_new();
    gtk_widget_set_name(s->initrd_row, "initrd-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->initrd_row), _("Initial ramdisk"));
    settings_add_button(s->initrd_row, "document-open-symbolic", _("Choose an initial ramdisk"), "initrd-choose",
                        G_CALLBACK(on_choose_initrd), s);
    settings_add_button(s->initrd_row, "edit-clear-symbolic", _("No initial ramdisk"), "initrd-clear",
                        G_CALLBACK(on_clear_initrd), s);
    s->append_row = adw_entry_row_new();
    gtk_widget_set_name(s->append_row, "append-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->append_row), _("Command line"));
    adw_entry_row_set_show_apply_button(ADW_ENTRY_ROW(s->append_row), TRUE);
    g_signal_connect(s->append_row, "apply", G_CALLBACK(on_append_apply), s);
    adw_preferences_group_add(s->kernel, s->kernel_row);
    adw_preferences_group_add(s->kernel, s->initrd_row);
    adw_preferences_group_add(s->kernel, s->append_row);
    adw_preferences_page_add(page, s->kernel);
    settings_disks_refresh(s);
}
