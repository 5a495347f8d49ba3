/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Import, export and disk conversion in the app (vireo-transfer.h). */
#include "ui/gtk/vireo-transfer.h"
#include "ui/gtk/vireo-window.h"
#include "engine/library-transfer.h"
#include "engine/library.h"
#include "engine/qemu-cmdline.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

static void show_message(GtkWindow *parent, const char *heading, const char *body)
{
    GtkWidget *d = adw_message_dialog_new(parent, heading, body);
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

static void show_toast(GtkWindow *parent, const char *text)
{
    if (parent && VIREO_IS_WINDOW(parent))
        vireo_window_show_toast(VIREO_WINDOW(parent), text);
}

/* ---- a job behind a progress dialog ---- */

typedef struct Job {
    VireoJobFn fn;
    VireoJobDoneFn done;
    gpointer data;
    GDestroyNotify free_data;
    gint cancel;             /* set by the dialog's Cancel, read by the copy */
    gint permille;           /* progress, written by the worker */
    AdwMessageDialog *dialog;
    GtkProgressBar *bar;
    guint tick;
    bool finished;
    bool closed;             /* the dialog went with a response */
} Job;

static unsigned jobs_running;

bool vireo_job_running(void)
{
    return jobs_running > 0;
}

static void job_progress(void *opaque, double percent)
{
    Job *j = opaque;
    g_atomic_int_set(&j->permille, (gint)CLAMP(percent * 10.0, 0.0, 1000.0));
}

static void job_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancellable)
{
    Job *j = data;
    GError *err = NULL;
    if (j->fn(j->data, job_progress, j, &j->cancel, &err))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, err);
}

static gboolean job_tick(gpointer data)
{
    Job *j = data;
    double f = g_atomic_int_get(&j->permille) / 1000.0;
    gtk_progress_bar_set_fraction(j->bar, f);
    g_autofree char *text = g_strdup_printf(_("%.0f %%"), f * 100.0);
    gtk_progress_bar_set_text(j->bar, text);
    return G_SOURCE_CONTINUE;
}

static void job_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    Job *j = data;
    j->closed = true;
    if (j->finished)
        return;
    /* The copy stops at its next chunk; done then cleans up. */
    g_atomic_int_set(&j->cancel, 1);
}

static void job_finished(GObject *src, GAsyncResult *res, gpointer data)
{
    Job *j = data;
    GError *err = NULL;
    g_task_propagate_boolean(G_TASK(res), &err);
    j->finished = true;
    g_source_remove(j->tick);
    if (!j->closed)
        gtk_window_destroy(GTK_WINDOW(j->dialog));
    g_object_unref(j->dialog);
    jobs_running--;
    j->done(j->data, err);
    if (err)
        g_error_free(err);
    if (j->free_data)
        j->free_data(j->data);
    g_free(j);
}

void vireo_job_run(GtkWindow *parent, const char *heading, const char *body, VireoJobFn fn,
                   VireoJobDoneFn done, gpointer data, GDestroyNotify free_data)
{
    Job *j = g_new0(Job, 1);
    j->fn = fn;
    j->done = done;
    j->data = data;
    j->free_data = free_data;
    j->dialog = ADW_MESSAGE_DIALOG(adw_message_dialog_new(parent, heading, body));
    g_object_ref_sink(j->dialog);
    gtk_widget_set_name(GTK_WIDGET(j->dialog), "transfer-job");
    j->bar = GTK_PROGRESS_BAR(gtk_progress_bar_new());
    gtk_progress_bar_set_show_text(j->bar, TRUE);
    gtk_widget_set_name(GTK_WIDGET(j->bar), "transfer-progress");
    adw_message_dialog_set_extra_child(j->dialog, GTK_WIDGET(j->bar));
    adw_message_dialog_add_response(j->dialog, "cancel", _("_Cancel"));
    adw_message_dialog_set_close_response(j->dialog, "cancel");
    g_signal_connect(j->dialog, "response", G_CALLBACK(job_response), j);
    j->tick = g_timeout_add(100, job_tick, j);
    job_tick(j);
    jobs_running++;
    gtk_window_present(GTK_WINDOW(j->dialog));
    GTask *task = g_task_new(NULL, NULL, job_finished, j);
    g_task_set_task_data(task, j, NULL);
    g_task_run_in_thread(task, job_thread);
    g_object_unref(task);
}

/* ---- disks Vireo reads but does not write ---- */

const char *vireo_disk_format_label(const char *format)
{
    if (!g_strcmp0(format, "vmdk"))
        return _("VMware (VMDK)");
    if (!g_strcmp0(format, "vdi"))
        return _("VirtualBox (VDI)");
    if (!g_strcmp0(format, "vpc"))
        return _("Virtual PC or Hyper-V (VHD)");
    if (!g_strcmp0(format, "vhdx"))
        return _("Hyper-V (VHDX)");
    return format;
}

char *vireo_disk_as_is_reason(const char *format)
{
    return g_strdup_printf(_("Not possible: Vireo reads %s images but cannot write them, and a virtual machine writes to its disk."),
                           vireo_disk_format_label(format));
}

typedef struct Convert {
    char *src, *format, *dest;
    VireoJobDoneFn done;
    gpointer data;
    GDestroyNotify free_data;
} Convert;

static void convert_free(gpointer p)
{
    Convert *c = p;
    if (c->free_data)
        c->free_data(c->data);
    g_free(c->src);
    g_free(c->format);
    g_free(c->dest);
    g_free(c);
}

static bool convert_job(gpointer data, ImageProgressFn progress, void *opaque, const gint *cancel,
                        GError **err)
{
    Convert *c = data;
    return vm_disk_convert(c->src, c->format, c->dest, progress, opaque, cancel, err);
}

static void convert_done(gpointer data, const GError *err)
{
    Convert *c = data;
    c->done(c->data, err);
}

void vireo_disk_convert_run(GtkWindow *parent, const char *src, const char *format,
                            const char *dest, VireoJobDoneFn done, gpointer data,
                            GDestroyNotify free_data)
{
    Convert *c = g_new0(Convert, 1);
    c->src = g_strdup(src);
    c->format = g_strdup(format);
    c->dest = g_strdup(dest);
    c->done = done;
    c->data = data;
    c->free_data = free_data;
    g_autofree char *base = g_path_get_basename(src);
    g_autofree char *target = g_path_get_basename(dest);
    g_autofree char *body = g_strdup_printf(_("%s is copied into %s, a qcow2 image in the virtual machine's folder. The original stays as it is."),
                                            base, target);
    vireo_job_run(parent, _("Converting the Disk"), body, convert_job, convert_done, c, convert_free);
}

/* ---- import ---- */

typedef struct Import {
    GtkWindow *parent;
    VireoLibrary *lib;
    char *path;
    VmImport *imp;
    char *name;
    GtkEntry *name_entry;
} Import;

static void import_free(gpointer p)
{
    Import *im = p;
    g_clear_object(&im->parent);
    g_clear_object(&im->lib);
    g_free(im->path);
    vm_import_free(im->imp);
    g_free(im->name);
    g_free(im);
}

static bool import_job(gpointer data, ImageProgressFn progress, void *opaque, const gint *cancel,
                       GError **err)
{
    Import *im = data;
    g_autofree char *name = vm_import_create(im->imp, vireo_library_get_root(im->lib), im->name,
                                             progress, opaque, cancel, err);
    return name != NULL;
}

static void import_done(gpointer data, const GError *err)
{
    Import *im = data;
    if (g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED)) {
        show_toast(im->parent, _("Import cancelled; nothing was created"));
        return;
    }
    GError *add_err = NULL;
    if (!err && !vireo_library_add(im->lib, im->name, &add_err))
        err = add_err;
    if (err) {
        g_autofree char *body = g_strdup_printf("%s\n\n%s", err->message,
                                                _("Nothing was added to the library."));
        show_message(im->parent, _("Cannot Import"), body);
    } else {
        g_autofree char *msg = g_strdup_printf(_("“%s” imported"), im->name);
        show_toast(im->parent, msg);
    }
    g_clear_error(&add_err);
}

static void show_review(Import *im, const char *problem);

static void review_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    Import *im = data;
    if (g_strcmp0(response, "import")) {
        import_free(im);
        return;
    }
    const char *name = gtk_editable_get_text(GTK_EDITABLE(im->name_entry));
    g_autofree char *problem = vireo_library_name_problem(im->lib, name, NULL);
    if (problem) {
        /* The review comes back with the name the user typed, and why it cannot be. */
        g_free(im->name);
        im->name = g_strdup(name);
        show_review(im, problem);
        return;
    }
    g_free(im->name);
    im->name = g_strdup(name);
    g_autofree char *body = g_strdup_printf(_("The disks of %s are copied into the library as qcow2 images."),
                                            im->path);
    vireo_job_run(im->parent, _("Importing"), body, import_job, import_done, im, import_free);
}

/* The VM's own name, or the first "name N" the library does not have. */
static char *free_name(VireoLibrary *lib, const char *base)
{
    g_autofree char *stem = g_strdup(base && *base ? base : _("Imported"));
    g_strdelimit(stem, "/", '-');
    char *name = g_strdup(stem);
    for (int i = 2; i < 1000 && vireo_library_find(lib, name); i++) {
        g_free(name);
        name = g_strdup_printf("%s %d", stem, i);
    }
    return name;
}

/* What will be created, with its name to change; problem says why the name typed last
 * cannot be. */
static void show_review(Import *im, const char *problem)
{
    const VmImport *imp = im->imp;
    g_autoptr(GString) body = g_string_new(NULL);
    g_autofree char *mem = g_format_size_full(imp->memory, G_FORMAT_SIZE_IEC_UNITS);
    g_string_append_printf(body, _("Memory: %s"), mem);
    g_string_append_c(body, '\n');
    g_string_append_printf(body, _("Processors: %u"), imp->cpus);
    for (guint i = 0; i < imp->disks->len; i++) {
        const VmImportDisk *k = imp->disks->pdata[i];
        g_string_append_c(body, '\n');
        if (!k->source)
            g_string_append_printf(body, _("%s: empty drive"), k->slot);
        else if (k->convert)
            g_string_append_printf(body, _("%s: %s, converted to qcow2"), k->slot, k->source);
        else
            g_string_append_printf(body, _("%s: %s, used where it is"), k->slot, k->source);
    }
    for (guint i = 0; i < imp->notes->len; i++)
        g_string_append_printf(body, "\n\n%s", (const char *)imp->notes->pdata[i]);
    if (problem)
        g_string_append_printf(body, "\n\n%s", problem);
    GtkWidget *d = adw_message_dialog_new(im->parent, _("Import This Virtual Machine?"), body->str);
    gtk_widget_set_name(d, "import-review");
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *label = gtk_label_new_with_mnemonic(_("_Name"));
    im->name_entry = GTK_ENTRY(gtk_entry_new());
    gtk_widget_set_hexpand(GTK_WIDGET(im->name_entry), TRUE);
    gtk_widget_set_name(GTK_WIDGET(im->name_entry), "import-name");
    g_autofree char *name = im->name ? g_strdup(im->name) : free_name(im->lib, imp->name);
    gtk_editable_set_text(GTK_EDITABLE(im->name_entry), name);
    gtk_entry_set_activates_default(im->name_entry, TRUE);
    if (problem)
        gtk_widget_add_css_class(GTK_WIDGET(im->name_entry), "error");
    gtk_label_set_mnemonic_widget(GTK_LABEL(label), GTK_WIDGET(im->name_entry));
    gtk_box_append(GTK_BOX(box), label);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(im->name_entry));
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), box);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"),
                                     "import", _("_Import"), NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "import", ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "import");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect(d, "response", G_CALLBACK(review_response), im);
    gtk_window_present(GTK_WINDOW(d));
}

static void open_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancellable)
{
    Import *im = data;
    GError *err = NULL;
    VmImport *imp = vm_import_open(im->path, &err);
    if (imp)
        g_task_return_pointer(task, imp, (GDestroyNotify)vm_import_free);
    else
        g_task_return_error(task, err);
}

static void open_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Import *im = data;
    GError *err = NULL;
    im->imp = g_task_propagate_pointer(G_TASK(res), &err);
    jobs_running--;
    if (!im->imp) {
        show_message(im->parent, _("Cannot Import"), err->message);
        g_error_free(err);
        import_free(im);
        return;
    }
    show_review(im, NULL);
}

void vireo_import_file(GtkWindow *parent, VireoLibrary *lib, const char *path)
{
    Import *im = g_new0(Import, 1);
    im->parent = g_object_ref(parent);
    im->lib = g_object_ref(lib);
    im->path = g_canonicalize_filename(path, NULL);
    /* An .ova is listed and its descriptor read: not on the UI thread. */
    jobs_running++;
    GTask *task = g_task_new(NULL, NULL, open_done, im);
    g_task_set_task_data(task, im, NULL);
    g_task_run_in_thread(task, open_thread);
    g_object_unref(task);
}

typedef struct Chooser {
    GtkWindow *parent;
    VireoLibrary *lib;
    VireoMachine *machine;
} Chooser;

static void chooser_free(Chooser *c)
{
    g_clear_object(&c->parent);
    g_clear_object(&c->lib);
    g_clear_object(&c->machine);
    g_free(c);
}

static void on_import_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    Chooser *c = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path)
            vireo_import_file(c->parent, c->lib, path);
    }
    g_object_unref(d);
    chooser_free(c);
}

void vireo_import_choose(GtkWindow *parent, VireoLibrary *lib)
{
    GtkFileChooserNative *d = gtk_file_chooser_native_new(_("Import a Virtual Machine"), parent,
                                                          GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"),
                                                          _("_Cancel"));
    GtkFileFilter *f = gtk_file_filter_new();
    gtk_file_filter_set_name(f, _("Appliances and libvirt domains"));
    const char *patterns[] = { "*.ova", "*.ovf", "*.xml", "*.OVA", "*.OVF", NULL };
    for (const char **pat = patterns; *pat; pat++)
        gtk_file_filter_add_pattern(f, *pat);
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(d), f);
    g_object_unref(f);
    Chooser *c = g_new0(Chooser, 1);
    c->parent = g_object_ref(parent);
    c->lib = g_object_ref(lib);
    g_signal_connect(d, "response", G_CALLBACK(on_import_chosen), c);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

/* ---- export ---- */

typedef struct Export {
    GtkWindow *parent;
    char *root, *name, *dir, *xml;
} Export;

static void export_free(gpointer p)
{
    Export *e = p;
    g_clear_object(&e->parent);
    g_free(e->root);
    g_free(e->name);
    g_free(e->dir);
    g_free(e->xml);
    g_free(e);
}

static bool export_job(gpointer data, ImageProgressFn progress, void *opaque, const gint *cancel,
                       GError **err)
{
    Export *e = data;
    e->xml = vm_library_export_libvirt(e->root, e->name, e->dir, progress, opaque, cancel, err);
    return e->xml != NULL;
}

static void export_done(gpointer data, const GError *err)
{
    Export *e = data;
    if (g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED)) {
        show_toast(e->parent, _("Export cancelled; the files written so far were removed"));
        return;
    }
    if (err) {
        show_message(e->parent, _("Cannot Export"), err->message);
        return;
    }
    g_autofree char *body = g_strdup_printf(_("%s and its disks are in %s. On a computer with libvirt, “virsh define %s” adds the virtual machine there."),
                                            e->name, e->dir, e->xml);
    GtkWidget *d = adw_message_dialog_new(e->parent, _("Exported"), body);
    gtk_widget_set_name(d, "export-done");
    adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
    gtk_window_present(GTK_WINDOW(d));
}

void vireo_export_to(GtkWindow *parent, VireoLibrary *lib, VireoMachine *m, const char *dir)
{
    if (vireo_machine_is_active(m)) {
        show_message(parent, _("Cannot Export"), _("Turn the virtual machine off before exporting it: its disks must not change while they are copied."));
        return;
    }
    Export *e = g_new0(Export, 1);
    e->parent = g_object_ref(parent);
    e->root = g_strdup(vireo_library_get_root(lib));
    e->name = g_strdup(vireo_machine_get_name(m));
    e->dir = g_canonicalize_filename(dir, NULL);
    g_autofree char *body = g_strdup_printf(_("A libvirt domain and qcow2 copies of the disks of %s are written into %s."),
                                            e->name, e->dir);
    vireo_job_run(parent, _("Exporting"), body, export_job, export_done, e, export_free);
}

static void on_export_chosen(GtkNativeDialog *d, int response, gpointer data)
{
    Chooser *c = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        g_autofree char *path = f ? g_file_get_path(f) : NULL;
        if (path)
            vireo_export_to(c->parent, c->lib, c->machine, path);
    }
    g_object_unref(d);
    chooser_free(c);
}

void vireo_export_choose(GtkWindow *parent, VireoLibrary *lib, VireoMachine *m)
{
    GtkFileChooserNative *d = gtk_file_chooser_native_new(_("Export to a Folder"), parent,
                                                          GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                          _("_Export"), _("_Cancel"));
    Chooser *c = g_new0(Chooser, 1);
    c->parent = g_object_ref(parent);
    c->lib = g_object_ref(lib);
    c->machine = g_object_ref(m);
    g_signal_connect(d, "response", G_CALLBACK(on_export_chosen), c);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

char *vireo_qemu_command(VireoLibrary *lib, VireoMachine *m, GError **err)
{
    g_autoptr(VmLibraryEntry) e = vm_library_open(vireo_library_get_root(lib),
                                                  vireo_machine_get_name(m), err);
    if (!e)
        return NULL;
    if (e->error) {
        g_set_error_literal(err, e->error->domain, e->error->code, e->error->message);
        return NULL;
    }
    return qemu_command_line(e->config);
}
