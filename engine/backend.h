/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host back ends that devices connect to by id: -netdev (engine/net/), -audiodev
 * (engine/audio/) and the like. Each kind registers a BackendClass from a constructor;
 * the VM's configuration lists the back ends (VmConfig.backends: kind and QEMU's option
 * text, "user,id=net0,hostfwd=..."), which the engine opens before the board creates
 * any device and closes after every device is gone. A device names one with a
 * DEVICE_PROP_BACKEND property (netdev=ID), which resolves to the opened back end.
 *
 * Lock rules: check runs without a VM (option parsing); open and close run without the
 * engine lock, on the thread that creates or frees the VM. What a back end does later
 * (its own threads, main-loop sources) is its kind's contract with its devices. */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct Vm Vm;

typedef struct BackendClass {
    const char *kind;        /* "netdev", "audiodev": the option and property name */
    const char *description;
    /* Validates an option text without opening anything (unknown type, bad value);
     * NULL: open is the only check. */
    bool (*check)(const char *opts, GError **err);
    /* Opens the back end the option text describes; id is its "id=" value. */
    void *(*open)(Vm *vm, const char *id, const char *opts, GError **err);
    void (*close)(void *backend);
    /* Optional: from now on the back end's own threads call into no device (vm_free
     * runs it before the board's cleanups and the devices go; no lock held). */
    void (*stop)(void *backend);
} BackendClass;

void backend_class_register(const BackendClass *bc);
const BackendClass *backend_class_find(const char *kind);

/* QEMU's "key=value,..." list split at the commas, ",," being a comma inside a value
 * (new strings; the first part of -netdev/-audiodev is the type, "user" or "pa"). */
GPtrArray *backend_opts_split(const char *opts);
/* The "id=" of an option text (a new string), or NULL with err set. */
char *backend_opts_id(const char *opts, GError **err);
/* Checks one back end's option text: its kind exists, it has an id, check passes. */
bool backend_spec_check(const char *kind, const char *opts, GError **err);

/* Opens one back end into the VM (ids are unique per kind); err says which option
 * failed. For vm.c's start-up, unit tests and run-time additions. */
bool backend_open(Vm *vm, const char *kind, const char *opts, GError **err);
/* For engine/vm.c: opens every back end of the configuration. */
bool backend_open_configured(Vm *vm, GError **err);
void backend_close_all(Vm *vm);
/* Runs every opened back end's stop hook (vm_free, before devices are torn down). */
void backend_stop_all(Vm *vm);
/* The opened back end of a kind with an id, or NULL. */
void *backend_find(Vm *vm, const char *kind, const char *id);
/* Every opened back end of a kind, in the order opened (the array is the caller's). */
GPtrArray *backend_list(Vm *vm, const char *kind);
