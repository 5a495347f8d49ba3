/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Virtio (OASIS "Virtual I/O Device (VIRTIO) Version 1.1", cited as "VIRTIO §n" below):
 * split virtqueues walked with every guest address checked (virtqueue.c) and the
 * virtio-pci transport of a transitional device (virtio-pci.c): the legacy interface,
 * an I/O BAR laid out as in the 0.9.5 draft and VIRTIO §4.1.4.8, and the modern one,
 * vendor capabilities pointing into a memory BAR (§4.1.4), with INTx interrupts, or
 * MSI-X (§4.1.5.1.2) where the board delivers message signalled interrupts.
 * Devices (virtio-rng.c, virtio-blk.c, virtio-net.c, virtio-gpu.c, virtio-serial.c)
 * embed a VirtioPci in their state struct after the Device header.
 *
 * Lock rules: everything runs with the engine lock held (port and MMIO accesses,
 * timers, and block completions, which take it). A guest that breaks the ring rules (a
 * descriptor outside RAM, a loop, a chain longer than the queue) puts the device in
 * the NEEDS_RESET state: no queue is processed again until the driver resets it. */
#pragma once

#include "engine/machine.h"
#include "hw/pci/pci.h"

#include <stdbool.h>
#include <stdint.h>

/* Feature bits (VIRTIO §6, §2.6.5.3, §2.6.7). */
#define VIRTIO_F_NOTIFY_ON_EMPTY 24
#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device status bits (VIRTIO §2.1). */
enum {
    VIRTIO_STATUS_ACKNOWLEDGE = 1,
    VIRTIO_STATUS_DRIVER = 2,
    VIRTIO_STATUS_DRIVER_OK = 4,
    VIRTIO_STATUS_FEATURES_OK = 8,
    VIRTIO_STATUS_NEEDS_RESET = 64,
    VIRTIO_STATUS_FAILED = 128,
};

/* Largest queue a device offers, and most queues per device. */
#define VIRTQ_MAX_SIZE 1024
#define VIRTIO_MAX_QUEUES 8
/* MSI-X table entries: one per queue and one for configuration changes. */
#define VIRTIO_MSIX_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_MSI_NO_VECTOR 0xffff
/* Most descriptors of one indirect table (VIRTIO §2.6.5.3.1 bounds it by nothing but
 * the length field; Linux never uses more than the queue size). */
#define VIRTQ_MAX_INDIRECT 1024

/* One split virtqueue as the device sees it (VIRTIO §2.6). Guest-visible state: the
 * ring addresses, the size and the device's two indices. */
typedef struct VirtQueue {
    uint16_t num;            /* ring size; 0: the device has no such queue */
    uint16_t last_avail_idx; /* next available ring entry the device will take */
    uint16_t used_idx;       /* the used ring's idx as the device last wrote it */
    uint16_t signalled_used; /* used_idx at the last interrupt (event index) */
    bool signalled_valid;
    bool enabled;            /* the driver set the queue up (legacy: pfn != 0) */
    uint32_t pfn;            /* legacy: the ring's page frame number, 0 = not set up */
    uint64_t desc, avail, used;
} VirtQueue;

/* A guest buffer segment of a chain, checked to lie in RAM. */
typedef struct VirtqSeg {
    hwaddr addr;
    uint32_t len;
} VirtqSeg;

/* One popped chain: the driver-written (out) and device-written (in) segments. */
typedef struct VirtqElem {
    uint16_t head;
    GArray *out, *in;   /* of VirtqSeg; created by virtq_elem_init */
    uint64_t out_len, in_len;
} VirtqElem;

typedef enum {
    VIRTQ_EMPTY,
    VIRTQ_GOT,
    VIRTQ_BROKEN, /* the guest broke the ring rules; *why says how */
} VirtqPopResult;

void virtq_elem_init(VirtqElem *e);
void virtq_elem_clear(VirtqElem *e);
/* Resets a queue to "not set up" of size num. */
void virtq_reset(VirtQueue *vq, uint16_t num);
/* Whether the queue's size and indices make sense (used on load). */
bool virtq_valid(const VirtQueue *vq, GuestMemory *m);
/* Takes the next available chain into e (which virtq_elem_init prepared). features
 * are the negotiated ones (indirect descriptors, event index). */
VirtqPopResult virtq_pop(VirtQueue *vq, GuestMemory *m, uint64_t features, VirtqElem *e,
                         const char **why);
/* Whether a chain is available, without taking it; with the event index, an empty ring
 * asks the driver to kick at its next buffer. */
bool virtq_has_avail(VirtQueue *vq, GuestMemory *m, uint64_t features);
/* Gives the last popped chain back (the device cannot serve it yet). */
void virtq_unpop(VirtQueue *vq);
/* Puts (head, written bytes) on the used ring and publishes the new index. */
void virtq_push(VirtQueue *vq, GuestMemory *m, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last one
 * (VIRTIO §2.6.7.2: the flags or the used_event index). Updates the signalled index. */
bool virtq_should_notify(VirtQueue *vq, GuestMemory *m, uint64_t features);
/* Copies between a chain's segments and a host buffer, from byte off of the out (read)
 * or in (write) side; returns the bytes copied (fewer at the end of the chain). */
size_t virtq_elem_read(GuestMemory *m, const VirtqElem *e, size_t off, void *buf, size_t len);
size_t virtq_elem_write(GuestMemory *m, const VirtqElem *e, size_t off, const void *buf,
                        size_t len);

/* ---- the PCI transport ---- */

typedef struct VirtioPci VirtioPci;

typedef struct VirtioDeviceInfo {
    const char *name;          /* for the PCI function and messages */
    uint16_t pci_device_id;    /* the transitional ID, 0x1000 + type - 1 (§4.1.2.1) */
    uint16_t virtio_type;      /* the subsystem ID: 1 net, 2 block, 4 rng */
    uint32_t pci_class;        /* base << 16 | sub << 8 | prog */
    /* A non-transitional (virtio 1.0 only) device: PCI ID 0x1040 + type, revision 1,
     * no legacy I/O BAR, and a driver that does not take VERSION_1 is refused at
     * FEATURES_OK (§4.1.2.1, §3.1.1). disable-modern is then refused. */
    bool modern_only;
    size_t config_len;         /* bytes of device-specific configuration */
    /* Driver kicked queue q (lock held; the device's queues are set up). */
    void (*queue_notify)(VirtioPci *vp, unsigned q);
    /* Fills the device-specific configuration before the driver reads it. */
    void (*config_read)(VirtioPci *vp, uint8_t *config);
    /* The driver wrote bytes [off, off+len) of config (may be NULL: read-only). */
    void (*config_write)(VirtioPci *vp, const uint8_t *config, unsigned off, unsigned len);
    /* Device reset (status 0 or system reset): drop requests in flight. */
    void (*reset)(VirtioPci *vp);
} VirtioDeviceInfo;

struct VirtioPci {
    PciDevice pci;
    /* Guest-visible state. */
    uint64_t guest_features;
    uint32_t device_feature_sel, driver_feature_sel; /* modern common configuration */
    uint8_t status;
    uint8_t isr;
    uint8_t config_generation;
    uint16_t queue_sel;
    bool broken;
    VirtQueue vq[VIRTIO_MAX_QUEUES];
    /* MSI-X: the vectors the driver gave the configuration and each queue (§4.1.4.3),
     * and the table and pending bits of the PCI capability (PCI 3.0 §6.8.2). */
    uint16_t msix_config_vector;
    uint16_t msix_queue_vector[VIRTIO_MAX_QUEUES];
    uint8_t msix_table[VIRTIO_MSIX_VECTORS * 16];
    uint8_t msix_pba[8];
    /* Wiring. */
    Vm *vm;
    const VirtioDeviceInfo *info;
    void *opaque;           /* the device model's state */
    bool modern;            /* the modern interface is offered (not disable-modern) */
    unsigned cfg_cap;       /* offset of the PCI_CFG capability (modern only) */
    unsigned msix_cap;      /* offset of the MSI-X capability; 0: none (no MSI sink) */
    uint64_t host_features;
    unsigned nqueues;
    uint16_t queue_size[VIRTIO_MAX_QUEUES];
    uint8_t *config;        /* config_len bytes */
    /* Set before virtio_pci_realize by a device with a front of its own (virtio-vga,
     * whose BAR 0 is video memory and whose BAR 2 starts with the VGA's registers);
     * zero for the usual layout: the modern interface in BAR 1 from offset 0, MSI-X
     * in BAR 2. modern_base is 0 or VIRTIO_PCI_MODERN_BASE; the front's ops serve the
     * modern BAR below it (opaque: front_opaque). */
    uint8_t modern_bar, msix_bar;
    uint32_t modern_base;
    const MemOps *front_ops;
    void *front_opaque;
};
/* Where the modern interface's regions start after a front (16 KiB, as many as the
 * regions take, so the BAR stays a power of two). */
#define VIRTIO_PCI_MODERN_BASE 0x4000

/* Realizes the PCI function at the device's addr property: the legacy I/O BAR 0 (not
 * for a modern_only device), the modern memory BAR 1 and its capabilities unless
 * disable_modern, INTA, and MSI-X with its table in memory BAR 2 when the bus delivers
 * messages. */
bool virtio_pci_realize(VirtioPci *vp, Vm *vm, const char *addr, bool disable_modern,
                        const VirtioDeviceInfo *info, uint64_t host_features, void *opaque,
                        GError **err);
/* Whether the driver negotiated the modern interface (VIRTIO_F_VERSION_1). */
bool virtio_pci_is_modern(const VirtioPci *vp);
/* The "disable-modern" property every virtio-pci class offers. */
#define VIRTIO_PCI_PROP_DISABLE_MODERN(State, field)                                           \
    { "disable-modern", DEVICE_PROP_BOOL, offsetof(State, field),                             \
      "offer only the legacy (virtio 0.9.5) interface", "off", 0, 0, NULL }
void virtio_pci_unrealize(VirtioPci *vp);
/* Adds queue number nqueues with this size (a power of two, at most VIRTQ_MAX_SIZE). */
void virtio_pci_add_queue(VirtioPci *vp, uint16_t size);
/* System reset: PCI header and virtio state. */
void virtio_pci_reset(VirtioPci *vp);
/* Whether queue q can be processed now: set up, driver ready, bus master on, not broken. */
bool virtio_pci_queue_ready(VirtioPci *vp, unsigned q);
/* Pops from queue q; a broken ring marks the device NEEDS_RESET and returns false. */
bool virtio_pci_pop(VirtioPci *vp, unsigned q, VirtqElem *e);
/* Pushes a completed chain and interrupts the driver if it wants one. */
void virtio_pci_push(VirtioPci *vp, unsigned q, const VirtqElem *e, uint32_t len);
/* The guest broke a rule the device found itself (a malformed request header): the
 * device stops as virtio_pci_pop would. */
void virtio_pci_set_broken(VirtioPci *vp, const char *why);
GuestMemory *virtio_pci_mem(VirtioPci *vp);
/* Whether queue q has a chain for the device (see virtq_has_avail); false when not ready. */
bool virtio_pci_has_avail(VirtioPci *vp, unsigned q);
/* The device-specific configuration changed (a link went down): interrupt the driver. */
void virtio_pci_config_changed(VirtioPci *vp);

/* The transport's state, embedded with VMSTATE_STRUCT; the owner's check and post_load
 * call these (nested descriptions run no hooks). Its MSI-X fields came with version 2:
 * an owner's description has at least VIRTIO_PCI_VMSD_VERSION. */
#define VIRTIO_PCI_VMSD_VERSION 2
extern const VmStateDesc virtio_pci_vmsd;
bool virtio_pci_state_check(const VirtioPci *loaded, GError **err);
void virtio_pci_post_load(VirtioPci *vp);
