/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Clipboard sharing between the desktop and a running VM's spice-vdagent (vm.conf
 * [vm] clipboard=true). GTK main thread only. */
#pragma once

#include <gtk/gtk.h>

typedef struct Vm Vm;
typedef struct VireoClipboard VireoClipboard;

/* Shares cb with the VM's qemu-vdagent chardev; NULL when the VM has none with
 * clipboard=on. */
VireoClipboard *vireo_clipboard_new(Vm *vm, GdkClipboard *cb);
/* Before the VM is freed. */
void vireo_clipboard_free(VireoClipboard *c);
