/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvirt domain XML (https://libvirt.org/formatdomain.html): the part of it that
 * describes a PC Vireo can run, written for export and read for import. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct LibvirtDisk {
    char *device;      /* "disk", "cdrom", "floppy" */
    char *file;        /* <source file=...> or <source dev=...>; NULL: no medium */
    char *format;      /* <driver type=...>: "raw", "qcow2", ...; NULL if not given */
    char *target;      /* <target dev=...>: "hda", "sdb", "fda", ... */
    char *bus;         /* <target bus=...>: "ide", "fdc", "sata", "virtio", ... */
    bool readonly;
} LibvirtDisk;

typedef struct LibvirtDomain {
    char *type;        /* "kvm" or "qemu" */
    char *name;
    uint64_t memory;   /* bytes */
    unsigned vcpus;
    /* <cpu><topology sockets= cores= threads=/>; all zero: not given (one socket of
     * vcpus cores, libvirt's and QEMU's default). When given, their product is vcpus. */
    unsigned sockets, cores, threads;
    char *arch;        /* "i686", "x86_64" */
    char *kernel, *initrd, *cmdline;
    char boot[5];      /* boot devices in order as vm.conf letters: a c d n */
    bool boot_menu;
    bool clock_utc;
    char *video;       /* "vga", "cirrus", "none", ...; NULL: none given */
    GPtrArray *disks;  /* LibvirtDisk* */
} LibvirtDomain;

LibvirtDomain *libvirt_domain_new(void);
void libvirt_domain_free(LibvirtDomain *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LibvirtDomain, libvirt_domain_free)
LibvirtDisk *libvirt_disk_new(const char *device, const char *file, const char *format,
                              const char *target, const char *bus, bool readonly);

/* The domain as XML that virt-xml-validate accepts and virsh define takes. */
char *libvirt_domain_to_xml(const LibvirtDomain *d);

/* Reads a domain as virsh dumpxml writes it. Elements Vireo has no use for (interfaces,
 * channels, ...) are skipped; a document that is not a <domain>, a memory or vcpu
 * value that is no number, or a CPU topology that is incomplete, has dies or clusters,
 * or does not multiply to the vcpu count, is an error in one line. */
LibvirtDomain *libvirt_domain_parse(const char *xml, gsize len, GError **err);
