/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The device object model.
 *
 * A DeviceClass names a kind of device: its properties (typed, with QEMU's spellings),
 * the size of its instance, realize/reset/unrealize, and the description of its
 * guest-visible state (engine/vmstate.h). Each device file registers its classes from
 * a constructor function (the core library is linked whole); lookups and listings are
 * by name, listings sorted, so nothing depends on registration order.
 *
 * A device's state struct starts with a Device (the instance header). device_new
 * allocates it zeroed with the properties' defaults; the creator sets properties (or,
 * inside the device's own file, wiring fields directly) and calls device_realize,
 * which runs the class's realize, puts the device on its VM's list and resets it to
 * its power-on state. The VM owns the list: a system reset resets each device in
 * realize order (before the reset handlers of devices not yet converted), vm_free
 * unrealizes them in reverse order and frees them, and the state stream walks it.
 *
 * Lock rules: everything here runs with the engine lock held, except class
 * registration and lookup (start-up, any thread) and the property parsing helpers,
 * which touch no VM. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/vmstate.h"

typedef struct Vm Vm;
typedef struct Device Device;
typedef struct DeviceClass DeviceClass;
typedef struct DeviceList DeviceList;
typedef struct BlockImage BlockImage;

/* Where a device sits on a bus that listings show (QMP x-query-usb, HMP info usb). The
 * strings belong to the device. */
typedef struct DeviceBusPlace {
    const char *bus;     /* "usb-bus.0" */
    int port;            /* from 1: the root port, or the port of the hub in front */
    char path[48];       /* the ports from the root through hubs: "4.2" (QEMU's port=) */
    int addr;            /* the address the guest gave it (0: none yet) */
    const char *speed;   /* "low", "full", "high", "super" */
    const char *product; /* the device's product name */
} DeviceBusPlace;
typedef void (*DeviceImageFn)(void *opaque, const char *drive, BlockImage *img, bool writable);

/* What a change_media hook did with a drive name (see DeviceClass.change_media). */
typedef enum {
    DEVICE_MEDIA_NO_DRIVE, /* not one of this device's drives: ask the next device */
    DEVICE_MEDIA_CHANGED,
    DEVICE_MEDIA_FAILED,   /* the drive is this device's; err says why it did not change */
} DeviceMediaResult;

/* The instance header, the first member of every device's state struct. */
struct Device {
    const DeviceClass *klass;
    char *id;        /* unique within the VM; names the device's state section */
    Vm *vm;
    bool realized;
    GList link;      /* in the VM's device list; data points at this Device */
};

typedef enum {
    DEVICE_PROP_U32,     /* uint32_t, min..max; decimal, 0x hex or 0 octal */
    DEVICE_PROP_BOOL,    /* bool: on/off, true/false, yes/no */
    DEVICE_PROP_STRING,  /* char *, owned by the device */
    DEVICE_PROP_CHARDEV, /* Chardev *: the id of a character device of the VM */
    DEVICE_PROP_BACKEND, /* void *: the id of an opened back end of kind `backend` */
} DevicePropType;

typedef struct DeviceProp {
    const char *name;
    DevicePropType type;
    size_t offset;            /* of the member in the state struct */
    const char *description;
    const char *default_value; /* as text, or NULL: zero / no chardev */
    uint32_t min, max;        /* DEVICE_PROP_U32 (both 0: any value) */
    const char *backend;      /* DEVICE_PROP_BACKEND: its kind (engine/backend.h) */
} DeviceProp;

struct DeviceClass {
    const char *name;         /* QEMU's name where QEMU has the device */
    const char *description;  /* one line */
    size_t instance_size;     /* of the state struct that starts with Device */
    bool user_creatable;      /* offered by -device */
    const DeviceProp *props;  /* ends with a NULL name; may be NULL */
    const VmStateDesc *vmsd;  /* guest-visible state; NULL: the device has none */
    /* Builds the wiring from the properties: regions, timers, chardev receivers. */
    bool (*realize)(Device *dev, GError **err);
    /* Power-on and system reset state. */
    void (*reset)(Device *dev);
    /* Undoes realize (the instance and its string properties are freed after). */
    void (*unrealize)(Device *dev);
    /* Hot-pluggable classes only (QMP device_add/device_del take those): run-time
     * removal tells the bus before unrealize (a USB port's disconnect). Lock held. */
    void (*unplug)(Device *dev);
    /* Optional: fills in where the device sits on its bus; false when it is on none. */
    bool (*bus_place)(Device *dev, DeviceBusPlace *out);
    /* Storage devices, for snapshots: calls fn for each disk image attached now, with
     * the drive's name as QMP names it and whether the guest can write it. Lock held. */
    void (*for_each_image)(Device *dev, DeviceImageFn fn, void *opaque);
    /* Completes asynchronous work in flight (disk DMA on the block layer's pool) so the
     * state is one a save can describe. Lock held on entry and exit; it may drop the
     * lock while it waits for a completion that takes it, so the caller must have
     * paused the vCPUs. NULL: nothing runs outside the lock. */
    void (*drain)(Device *dev);
    /* Requests from the host, served by whichever devices have the hook (vm_powerdown
     * and vm_change_media walk the list), so the VM keeps no per-board callback.
     * Lock held. The ACPI power button press: */
    void (*power_button)(Device *dev);
    /* Removable media: puts filename (NULL: ejects; format NULL: probe) into the drive
     * QMP names `drive`. The device opens the image itself, as its drives' rules differ
     * (a write-protected floppy, a read-only CD). */
    DeviceMediaResult (*change_media)(Device *dev, const char *drive, const char *filename,
                                      const char *format, bool read_only, GError **err);
    /* Snapshot trees (engine/snaptree.h): puts img (same size) in place of the image of
     * the drive QMP names `drive` without a media change the guest could see, and hands
     * the old one back in *old for the caller to close. img NULL leaves the drive without
     * an image while the VM is paused and drained. False: not this device's drive. */
    bool (*swap_image)(Device *dev, const char *drive, BlockImage *img, BlockImage **old);
};

#define DEVICE(p) (&(p)->dev)

void device_class_register(const DeviceClass *dc);
const DeviceClass *device_class_find(const char *name);
/* Classes sorted by name (the array is the caller's, the classes are not). */
GPtrArray *device_class_list(bool user_creatable_only);
/* What -device help and -device NAME,help print. */
void device_class_print_list(FILE *out);
void device_class_print_props(const DeviceClass *dc, FILE *out);

/* Checks a -device option list ("key=value,...", ",," for a comma) against the class
 * without creating anything: unknown keys and bad values are one-line errors. Returns
 * key -> value for every property, defaults filled in. */
GHashTable *device_class_parse_opts(const DeviceClass *dc, const char *opts, GError **err);
/* A -device spec "DRIVER[,PROP=VALUE...][,id=ID]" checked without a VM: the class
 * exists and is user-creatable, its properties and values are valid. */
bool device_spec_check(const char *spec, GError **err);
/* An id names the device's state section and QMP's references: QEMU's characters (a
 * letter first, then letters, digits, '-', '.', '_'). vm.conf's id keys use the same. */
bool device_id_valid(const char *id);
/* -global "DRIVER.PROP=VALUE" checked the same way. The VM's configuration carries the
 * globals; device_new applies those of its class over the defaults. */
bool device_global_check(const char *global, GError **err);
/* The value of a property after parsing (or its default). */
uint32_t device_opts_get_u32(const DeviceClass *dc, GHashTable *opts, const char *name);

/* Lock held. id NULL names the device "<class>.<n>" (n counts that class in the VM). */
Device *device_new(Vm *vm, const char *class_name, const char *id, GError **err);
bool device_set_prop(Device *dev, const char *name, const char *value, GError **err);
/* Creates and realizes the device a spec describes (lock held). */
Device *device_create_from_spec(Vm *vm, const char *spec, GError **err);
/* Every device of the VM's configuration (VmConfig.devices), in order: the board calls
 * this once the buses those devices find through vm_find_bus exist. Lock held. */
bool device_create_configured(Vm *vm, GError **err);
/* On failure the device is freed. */
bool device_realize(Device *dev, GError **err);
Device *device_find(Vm *vm, const char *id);
/* Run-time removal (QMP device_del) of a device whose class has an unplug hook: the
 * hook, unrealize, free. Lock held. */
bool device_unplug(Device *dev, GError **err);
/* A property's current value as text (for listings). */
char *device_prop_value(Device *dev, const DeviceProp *p);
/* Every device with its properties, as QEMU's "info qtree" lays it out (lock held). */
char *device_list_describe(Vm *vm);
/* The VM's devices in realize order (do not modify). */
GList *device_list_head(Vm *vm);

/* Runs the drain hook of one device, or of every device of the VM (lock held; see
 * DeviceClass.drain). The save and load functions below drain first, so a whole-VM
 * save or load needs no separate step; a caller that wants the I/O settled earlier may
 * call these. */
void device_drain(Device *dev);
void device_list_drain(Vm *vm);

/* State of one device, and of every device of a VM that has a state description. */
void device_save_state(Device *dev, GByteArray *out);
bool device_load_state(Device *dev, const uint8_t *buf, size_t len, GError **err);

/* The devices' part of a VM state stream:
 *   8 bytes "VIREODEV", u32 format version (1), u32 section count, the sections.
 * Loading is all or nothing: every section is decoded and checked before any device
 * changes; a section for a device this VM lacks, a device of the VM with no section,
 * or a section twice is an error. */
void device_list_save(Vm *vm, GByteArray *out);
bool device_list_load(Vm *vm, const uint8_t *buf, size_t len, GError **err);

/* Every device's for_each_image (lock held). */
void device_list_for_each_image(Vm *vm, DeviceImageFn fn, void *opaque);
/* The swap_image of the device that has the drive (lock held); false when none has. */
bool device_list_swap_image(Vm *vm, const char *drive, BlockImage *img, BlockImage **old);

/* For engine/vm.c. */
DeviceList *device_list_new(void);
void device_list_reset(DeviceList *l);
void device_list_free(DeviceList *l);
