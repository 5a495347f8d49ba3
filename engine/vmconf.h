/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vm.conf: the file that describes one VM of the library, read by vireo-run --vm and the
 * GTK app. The GKeyFile stays the source of truth (front ends edit its keys and keep
 * what they do not know); vmconf_parse checks it and turns it into a VmConfig.
 *
 *   [vm]
 *   os-id=freedos1.3          what the wizard detected (osinfo short ID or preset ID)
 *   os-name=FreeDOS 1.3        osinfo's product name (the app shows a preset ID's own)
 *   memory=32M                 bare numbers are MiB
 *   cpus=1
 *   cpu-model=pentium2         -cpu's names (default max)
 *   machine=pc
 *   accel=kvm:tcg
 *   firmware=seabios           or the path of a BIOS image
 *   display=std                display adapter: std, cirrus, virtio or none
 *   boot=acd                   boot order: a floppy, c hard disk, d CD, n network
 *   boot-menu=false
 *   kernel=vmlinuz             direct kernel boot (paths relative to the VM's folder)
 *   initrd=initrd.img
 *   append=console=tty0
 *   serial=file:com1.log       COM1: null, none or file:PATH (the default: null)
 *   rtc=utc                    the RTC starts at utc or localtime (the default)
 *   clipboard=false            true: share the clipboard with the guest's spice-vdagent
 *                              (a qemu-vdagent chardev on a virtio-serial port)
 *
 *   [drives]
 *   hda=disk.qcow2             hda hdb hdd: hard disks; cdrom: the CD drive (IDE
 *   cdrom=/isos/debian.iso     secondary master); fda fdb: floppy drives. An empty
 *   fda=                       cdrom or fda value is a drive with no medium.
 *
 *
 *   [backends]                 host back ends by id, as -netdev/-audiodev: ID=KIND:OPTIONS
 *   net0=netdev:user,hostfwd=tcp::2222-:22
 *
 *   [devices]                  devices by id, as -device DRIVER,...,id=ID
 *   nic0=e1000,netdev=net0
 *
 *   [global]                   property defaults, as -global
 *   isa-serial.strict-out2=on
 *
 *   [usb]                      host USB devices the GTK app connects by itself, ID=FILTER
 *   stick=vendor=0781,product=5567,connect=true
 *   keyboards=class=03,connect=false
 *
 * Other groups belong to front ends ([ui] for the GTK app) and are kept as they are. */
#pragma once

#include "engine/config.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMCONF_FILE "vm.conf"
#define VMCONF_GROUP_VM "vm"
#define VMCONF_GROUP_DRIVES "drives"
#define VMCONF_GROUP_BACKENDS "backends"
#define VMCONF_GROUP_DEVICES "devices"
#define VMCONF_GROUP_GLOBAL "global"
/* The id of clipboard=true's qemu-vdagent chardev (its devices add -serial, -port). */
#define VMCONF_CLIPBOARD_ID "vireo-clipboard"
/* [network] forward=RULE;RULE...: host ports forwarded to the guest through the NAT of
 * [vm] network=, each QEMU's hostfwd rule tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport. */
#define VMCONF_GROUP_NETWORK "network"
#define VMCONF_KEY_FORWARD "forward"

/* The drive keys of [drives], in the order front ends show them. */
typedef struct VmconfDriveSlot {
    const char *key;          /* "hda", "cdrom", ... */
    DriveInterface iface;
    DriveMedia media;
    int index;                /* IDE unit 0-3, floppy unit 0-1 or virtio disk 0-3 */
    bool removable;           /* may be empty; media can change while the VM runs */
} VmconfDriveSlot;

const VmconfDriveSlot *vmconf_drive_slots(size_t *count);
const VmconfDriveSlot *vmconf_drive_slot_find(const char *key);

/* A vm.conf with the defaults for a new VM. */
GKeyFile *vmconf_new(void);

/* Checks every key and builds the VM's configuration; relative paths are taken from
 * dir. Errors name the file, the group, the key and its value in one line. The VM's
 * name is name (the folder's name). */
VmConfig *vmconf_parse(GKeyFile *kf, const char *name, const char *dir, GError **err);

/* Reads dir/vm.conf as a key file (syntax only; vmconf_parse checks the values). Only a
 * regular file of at most 1 MiB is read; a FIFO or device is refused without waiting. */
GKeyFile *vmconf_load(const char *dir, GError **err);

/* Writes dir/vm.conf atomically (a crash leaves the old or the new file). */
bool vmconf_save(GKeyFile *kf, const char *dir, GError **err);

/* A path from vm.conf made absolute against dir; NULL for an empty value. */
char *vmconf_resolve_path(const char *dir, const char *value);

/* [usb] ID=FILTER: the GTK app's USB auto-connect filters. A host device that matches a
 * filter is connected to the VM (usb-host) when the VM starts and when it is plugged in
 * while the VM runs. FILTER is KEY=VALUE pairs separated by commas:
 *   vendor=VVVV, product=PPPP  USB vendor and product ID in hex (lsusb's ID VVVV:PPPP)
 *   serial=TEXT                the device's serial number string (no comma)
 *   class=CC                   USB class in hex: the device's or one of its interfaces'
 *   connect=true|false         false keeps the filter without using it (default true)
 * A filter names at least one of vendor, product, serial, class: one that matched every
 * device would take the host's keyboard and mouse. The ID is a device id (device_id_valid). */
#define VMCONF_GROUP_USB "usb"

typedef struct VmconfUsbFilter {
    char *id;
    int vendor, product, dev_class; /* -1: any */
    char *serial;                   /* NULL: any */
    bool connect;
} VmconfUsbFilter;

/* One filter; the error is the reason alone (vmconf_parse puts file, group and key in front). */
VmconfUsbFilter *vmconf_usb_filter_parse(const char *id, const char *value, GError **err);
/* The value vm.conf keeps for f (the fields set, in the order above). */
char *vmconf_usb_filter_format(const VmconfUsbFilter *f);
void vmconf_usb_filter_free(VmconfUsbFilter *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmconfUsbFilter, vmconf_usb_filter_free)
/* The good filters of kf's [usb] in the order written (VmconfUsbFilter *, freed with the
 * array); a bad one is left out here and reported by vmconf_parse. */
GPtrArray *vmconf_usb_filters(GKeyFile *kf);
/* Whether a device with these IDs, serial (NULL: unknown), device class and interface
 * classes matches f. */
bool vmconf_usb_filter_matches(const VmconfUsbFilter *f, uint16_t vendor, uint16_t product, const char *serial,
                               uint8_t dev_class, const uint8_t *if_classes, size_t n_if_classes);
