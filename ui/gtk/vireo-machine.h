/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One VM of the library as the app sees it: its folder and vm.conf, and while it runs,
 * the engine's Vm. The library window's row and the VM's own window share this object
 * and follow its properties (name, os-name, state, error, thumbnail). */
#pragma once

#include "engine/library.h"
#include "engine/vm.h"

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VIREO_TYPE_MACHINE (vireo_machine_get_type())
G_DECLARE_FINAL_TYPE(VireoMachine, vireo_machine, VIREO, MACHINE, GObject)

/* What the user sees in the state column. */
typedef enum {
    VIREO_MACHINE_OFF,
    VIREO_MACHINE_RUNNING,
    VIREO_MACHINE_PAUSED,
    VIREO_MACHINE_BROKEN,   /* vm.conf is missing or has a bad value: see error */
    VIREO_MACHINE_FAILED,   /* the engine stopped with an error: see error */
} VireoMachineState;

/* Takes the entry. */
VireoMachine *vireo_machine_new(const char *root, VmLibraryEntry *entry);

const char *vireo_machine_get_name(VireoMachine *m);
const char *vireo_machine_get_dir(VireoMachine *m);
const char *vireo_machine_get_os_name(VireoMachine *m);
VireoMachineState vireo_machine_get_state(VireoMachine *m);
/* A translated word for the state ("Running"). */
const char *vireo_machine_state_label(VireoMachineState s);
/* The problem to show, or NULL. */
const char *vireo_machine_get_error(VireoMachine *m);
/* The key file as last read or saved (NULL when vm.conf could not be read). */
GKeyFile *vireo_machine_get_conf(VireoMachine *m);
/* The last screen, or NULL. */
GdkTexture *vireo_machine_get_thumbnail(VireoMachine *m);
/* The running VM, or NULL when off. */
Vm *vireo_machine_get_vm(VireoMachine *m);
bool vireo_machine_is_active(VireoMachine *m);

/* Reads vm.conf again (after it changed on disk). Not while running. */
void vireo_machine_reload(VireoMachine *m);
/* Checks conf (vmconf_parse) and writes it as vm.conf; the error names the bad key. */
bool vireo_machine_save_conf(VireoMachine *m, GKeyFile *conf, GError **err);
/* After the library renamed the folder. */
void vireo_machine_set_name(VireoMachine *m, const char *name);

/* Builds the VM from vm.conf as it is now and starts it. */
bool vireo_machine_start(VireoMachine *m, GError **err);
void vireo_machine_pause(VireoMachine *m);
void vireo_machine_resume(VireoMachine *m);
void vireo_machine_reset(VireoMachine *m);
/* ACPI power button: the guest decides. */
void vireo_machine_shutdown(VireoMachine *m);
/* Pulls the plug. */
void vireo_machine_force_off(VireoMachine *m);

/* Shows the picture as the VM's thumbnail; save also writes it (thumbnail.png in the
 * VM's folder) for the next time the library is read. */
void vireo_machine_set_thumbnail(VireoMachine *m, GdkTexture *texture, bool save);

/* Sound. The level is the user's per VM (vm.conf [ui] volume= 0-100, muted=): it applies
 * to the running VM at once and is written to vm.conf a moment later. "playing" (a
 * property) is true while the guest makes audible sound. */
bool vireo_machine_has_sound(VireoMachine *m);
bool vireo_machine_get_playing(VireoMachine *m);
void vireo_machine_get_volume(VireoMachine *m, unsigned *percent, bool *muted);
void vireo_machine_set_volume(VireoMachine *m, unsigned percent, bool muted);

/* Screen sharing over SPICE while the VM runs (off by default, never kept in vm.conf):
 * a server on the first free port from 5930 with a new random password, on the
 * loopback address unless remote is true (every address). Stops with the VM. The
 * "sharing" property follows it. */
bool vireo_machine_share_available(void);
bool vireo_machine_share(VireoMachine *m, bool remote, GError **err);
void vireo_machine_unshare(VireoMachine *m);
/* Whether the screen is shared now, and how to reach it (strings owned by m). */
bool vireo_machine_get_share(VireoMachine *m, const char **addr, int *port, const char **password);

/* Host USB devices (vireo-usb.c does the work). Signals: "usb-changed" after a device was
 * connected to or disconnected from the VM by the app; "usb-problem" (a translated line)
 * when connecting one failed where no dialog could say so (an auto-connect filter). */
void vireo_machine_usb_changed(VireoMachine *m);
void vireo_machine_report_usb_problem(VireoMachine *m, const char *text);

G_END_DECLS
