/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Disks and VMs coming into and going out of the app: a long copy on a worker thread
 * behind a progress dialog with Cancel, disk conversion, import with a review, export to
 * libvirt, the QEMU command line. The work itself is engine/library-transfer.c's, the
 * same as vireo-run's --import and --export-libvirt. */
#pragma once

#include "ui/gtk/vireo-library.h"
#include "disks/image-ops.h"

#include <adwaita.h>
#include <stdbool.h>

/* Runs on the worker thread; progress may be called from it with 0..100. */
typedef bool (*VireoJobFn)(gpointer data, ImageProgressFn progress, void *opaque,
                           const gint *cancel, GError **err);
/* Back on the UI thread: err NULL when the job succeeded; BLOCK_ERROR_CANCELLED when
 * the user cancelled it. */
typedef void (*VireoJobDoneFn)(gpointer data, const GError *err);

/* Shows a dialog (named "transfer-job") with heading, body, a progress bar and Cancel
 * while fn runs; then done, then free_data. */
void vireo_job_run(GtkWindow *parent, const char *heading, const char *body, VireoJobFn fn,
                   VireoJobDoneFn done, gpointer data, GDestroyNotify free_data);
/* Whether a job dialog is up. */
bool vireo_job_running(void);

/* "VMware (VMDK)" and the like for vm_disk_foreign_format's answers. */
const char *vireo_disk_format_label(const char *format);
/* The sentence that says why the image cannot be used as it is. */
char *vireo_disk_as_is_reason(const char *format);

/* Converts src into the new qcow2 image dest behind a progress dialog; done as for
 * vireo_job_run (dest is gone unless it succeeded). */
void vireo_disk_convert_run(GtkWindow *parent, const char *src, const char *format,
                            const char *dest, VireoJobDoneFn done, gpointer data,
                            GDestroyNotify free_data);

/* Import: a file chooser, then vireo_import_file. */
void vireo_import_choose(GtkWindow *parent, VireoLibrary *lib);
/* Reads path off the UI thread, shows what will be created for review, then creates the
 * VM with its disks converted. Errors are one message dialog. */
void vireo_import_file(GtkWindow *parent, VireoLibrary *lib, const char *path);

/* Export: a folder chooser, then vireo_export_to. */
void vireo_export_choose(GtkWindow *parent, VireoLibrary *lib, VireoMachine *m);
/* Writes the VM as a libvirt domain XML with qcow2 disks into dir. */
void vireo_export_to(GtkWindow *parent, VireoLibrary *lib, VireoMachine *m, const char *dir);

/* The qemu-system command line that runs the VM as Vireo does; NULL with err when its
 * vm.conf is bad. */
char *vireo_qemu_command(VireoLibrary *lib, VireoMachine *m, GError **err);
