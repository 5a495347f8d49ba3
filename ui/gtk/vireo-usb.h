/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host USB devices for a running VM: the VM window's USB menu (a switch per host device,
 * kept current by libusb hotplug) and the auto-connect filters of vm.conf [usb]
 * (engine/vmconf.h), applied when the VM starts and when a matching device is plugged
 * in while it runs. A device goes to the VM as usb-host (hostbus=, hostaddr=) on the
 * VM's default USB bus, with the id usbhost-BBB-AAA. */
#pragma once

#include "engine/usb-host/usb-host.h"
#include "ui/gtk/vireo-machine.h"

#include <gtk/gtk.h>

/* The header bar's USB button with its menu. */
GtkWidget *vireo_usb_button_new(VireoMachine *m);

/* VireoMachine calls these when its VM has started and before it is freed. */
void vireo_usb_machine_started(VireoMachine *m);
void vireo_usb_machine_stopping(VireoMachine *m);
/* The settings changed vm.conf's [usb]: a running VM that had no filter at its start
 * watches for devices plugged in from now on (each look reads vm.conf anew). */
void vireo_usb_filters_changed(VireoMachine *m);

/* Connects host device bus/addr to m's running VM; the error is one line. */
bool vireo_usb_attach(VireoMachine *m, int bus, int addr, GError **err);
/* Disconnects the device m's VM holds under the usb-host id dev_id. */
bool vireo_usb_detach(VireoMachine *m, const char *dev_id, GError **err);

/* What the menu calls a device: its product string, else usb.ids' name, else its IDs. */
char *vireo_usb_device_name(const UsbHostInfo *i);
/* A HID boot keyboard interface (HID 1.11, 4.2-4.3: class 3, subclass 1, protocol 1). */
bool vireo_usb_is_boot_keyboard(const UsbHostInfo *i);
/* i is the only boot keyboard of list that no VM holds: passing it leaves the host
 * without a keyboard. */
bool vireo_usb_is_only_keyboard(GPtrArray *list, const UsbHostInfo *i);
/* The usb-host id under which m's VM holds i, or NULL (i held by nobody or another VM). */
const char *vireo_usb_held_by(VireoMachine *m, const UsbHostInfo *i);
