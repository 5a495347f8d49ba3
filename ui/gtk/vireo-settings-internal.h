/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the settings window share (vireo-settings.c: hardware, boot, media;
 * vireo-settings-disks.c: disks, drives and direct kernel boot; vireo-settings-sound.c:
 * the host sound rows; vireo-settings-network.c: port forwards and the guest's address;
 * vireo-settings-usb.c: the USB auto-connect filters). */
#pragma once

#include "ui/gtk/vireo-settings.h"

#include <stdbool.h>

typedef struct Settings {
    VireoMachine *machine;
    GtkWindow *window;
    AdwPreferencesGroup *problem, *hardware, *boot, *disks, *kernel;
    GtkWidget *memory_row, *cpus_row, *display_row, *firmware_row, *boot_row, *menu_row;
    GtkSpinButton *memory, *cpus;
    GtkWidget *topology_row;        /* the advanced expander: [vm] sockets, cores, threads */
    GtkSpinButton *sockets, *cores, *threads;
    GtkSwitch *boot_menu;
    AdwComboRow *display, *boot_order;
    AdwComboRow *sound, *network;   /* [vm] sound= and network= */
    AdwComboRow *audio_backend;     /* [vm] audio-backend= (vireo-settings-sound.c) */
    GtkWidget *mic_row;             /* [vm] microphone= */
    GtkSwitch *microphone;
    AdwPreferencesGroup *sharing;
    GtkWidget *clipboard_row;       /* [vm] clipboard= */
    GtkSwitch *clipboard;
    GtkWidget *cd_row, *floppy_row;
    GPtrArray *disk_rows;   /* the disks group's rows, rebuilt on every change */
    GtkWidget *kernel_row, *initrd_row, *append_row;
    AdwPreferencesGroup *forwards;  /* vireo-settings-network.c */
    GPtrArray *forward_rows;
    GtkWidget *fwd_add_row, *nat_row;
    GtkDropDown *fwd_proto;
    GtkEntry *fwd_addr;
    GtkSpinButton *fwd_host, *fwd_guest;
    guint nat_timer;        /* refreshes the guest's address while the window is open */
    AdwPreferencesGroup *usb_filters; /* vireo-settings-usb.c */
    GPtrArray *usb_rows;
    GtkWidget *usb_add_row;
    GtkEntry *usb_vendor, *usb_product, *usb_serial, *usb_class;
    bool loading;           /* filling widgets from vm.conf: no writes */
} Settings;

/* A copy of the VM's key file to change and check before it replaces vm.conf. */
GKeyFile *settings_conf_copy(Settings *s);
void settings_row_show_error(GtkWidget *row, const char *message, const char *normal_subtitle);
/* Writes the changed copy; a bad value is explained on the row that made it. */
bool settings_commit(Settings *s, GKeyFile *conf, GtkWidget *row, const char *normal_subtitle);
GtkWidget *settings_add_button(GtkWidget *row, const char *icon, const char *tooltip, const char *name,
                               GCallback cb, Settings *s);
/* A file chooser whose answer becomes group/key (a drive's medium goes in at once). */
void settings_choose_file(Settings *s, const char *group, const char *key, GtkWidget *row,
                          const char *title);
/* The removable media rows follow vm.conf. */
void settings_update_file_rows(Settings *s);

/* vireo-settings-disks.c: the groups, added to page; refresh after vm.conf changed. */
void settings_disks_build(Settings *s, AdwPreferencesPage *page);
void settings_disks_refresh(Settings *s);

/* vireo-settings-sound.c: the host sound back end and microphone rows, added to group;
 * load fills them from vm.conf. */
void settings_sound_build(Settings *s, AdwPreferencesGroup *group);
void settings_sound_load(Settings *s, GKeyFile *kf);
/* vireo-settings-network.c: the port forwarding group, added to page; refresh after
 * vm.conf changed; free stops its timer. */
void settings_network_build(Settings *s, AdwPreferencesPage *page);
void settings_network_refresh(Settings *s);
void settings_network_free(Settings *s);
/* vireo-settings-usb.c: the USB filters group, added to page; refresh after vm.conf
 * changed. */
void settings_usb_build(Settings *s, AdwPreferencesPage *page);
void settings_usb_refresh(Settings *s);
void settings_usb_free(Settings *s);
