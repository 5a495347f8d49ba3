/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtio-pci transport of a transitional device: vendor 1AF4, a transitional device
 * ID (0x1000 + type - 1, §4.1.2.1), the virtio type as the subsystem ID, INTx.
 *
 * Legacy interface (VIRTIO §4.1.4.8 and the 0.9.5 draft's "Virtio header"), I/O BAR 0:
 *   0x00 host features (32)   0x04 guest features (32)   0x08 queue PFN (32)
 *   0x0C queue size (16)      0x0E queue select (16)     0x10 queue notify (16)
 *   0x12 device status (8)    0x13 ISR status (8, read clears)
 *   with MSI-X enabled: 0x14 configuration vector (16)  0x16 queue vector (16)
 *   then the device-specific configuration (0x14, or 0x18 with MSI-X enabled)
 * A legacy queue's rings are laid out from PFN << 12: the descriptor table, the
 * available ring, then the used ring at the next 4 KiB boundary (§2.6.2).
 *
 * Modern interface (§4.1.4): vendor-specific capabilities from 0x40 of the
 * configuration space point into memory BAR 1: the common configuration at 0x0000
 * (§4.1.4.3), the ISR at 0x1000, the device configuration at 0x2000 and the queue
 * notification addresses at 0x3000 (queue q at 0x3000 + 4 q). The driver gives the
 * three ring addresses of each queue separately and enables it. The VIRTIO_PCI_CAP_
 * PCI_CFG capability (§4.1.4.7) is a window from the configuration space into either
 * BAR, for firmware that cannot reach the BAR itself. A device with a front of its own
 * (virtio-vga) moves the modern interface to another BAR after that front's registers
 * and MSI-X to another BAR (VirtioPci.modern_bar, modern_base, msix_bar).
 *
 * Interrupts are INTx: ISR bit 0 for used buffers, bit 1 for a configuration change;
 * or, once the driver enables MSI-X, a message per vector it assigned to the
 * configuration and to each queue (§4.1.5.1.2; the ISR's queue bit is then unused and
 * INTx stays low). The MSI-X table (VIRTIO_MSIX_VECTORS entries) and the pending bits
 * live in memory BAR 2; the capability is offered only where the board delivers
 * messages (hw/pci/pci.h pci_msi_supported). */
#include "hw/virtio/virtio.h"

#include <string.h>

#define VIRTIO_PCI_VENDOR 0x1af4
#define LEGACY_ALIGN 4096
#define LEGACY_HDR 0x14

enum {
    REG_HOST_FEATURES = 0x00,
    REG_GUEST_FEATURES = 0x04,
    REG_QUEUE_PFN = 0x08,
    REG_QUEUE_NUM = 0x0c,
    REG_QUEUE_SEL = 0x0e,
    REG_QUEUE_NOTIFY = 0x10,
    REG_STATUS = 0x12,
    REG_ISR = 0x13,
};

/* The modern BAR's regions, and the common configuration's fields (§4.1.4.3). */
#define MODERN_BAR 1
#define MODERN_REGIONS_SIZE 0x4000
#define MODERN_COMMON 0x0000
#define MODERN_COMMON_LEN 0x38
#define MODERN_ISR 0x1000
#define MODERN_DEVICE 0x2000
#define MODERN_NOTIFY 0x3000
#define NOTIFY_MULTIPLIER 4
/* MSI-X (PCI 3.0 §6.8.2): the capability, and the table and PBA in BAR 2. */
#define MSIX_BAR 2
#define MSIX_BAR_SIZE 0x1000
#define MSIX_PBA 0x800
#define MSIX_CAP_POS 0xa0
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 1
enum {
    CC_DFSELECT = 0x00, CC_DF = 0x04, CC_GFSELECT = 0x08, CC_GF = 0x0c,
    CC_MSIX = 0x10, CC_NUMQ = 0x12, CC_STATUS = 0x14, CC_CFGGEN = 0x15,
    CC_Q_SELECT = 0x16, CC_Q_SIZE = 0x18, CC_Q_MSIX = 0x1a, CC_Q_ENABLE = 0x1c,
    CC_Q_NOFF = 0x1e, CC_Q_DESCLO = 0x20, CC_Q_DESCHI = 0x24, CC_Q_AVAILLO = 0x28,
    CC_Q_AVAILHI = 0x2c, CC_Q_USEDLO = 0x30, CC_Q_USEDHI = 0x34,
};
/* Capability types (§4.1.4). */
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI_CFG = 5 };

#define ISR_QUEUE 1
#define ISR_CONFIG 2

GuestMemory *virtio_pci_mem(VirtioPci *vp)
{
    return vm_mem(vp->vm);
}

bool virtio_pci_is_modern(const VirtioPci *vp)
{
    return vp->guest_features & (UINT64_C(1) << VIRTIO_F_VERSION_1);
}

static uint16_t msix_control(const VirtioPci *vp)
{
    return vp->msix_cap ? pci_get_word(vp->pci.config, vp->msix_cap + 2) : 0;
}

static bool msix_enabled(const VirtioPci *vp)
{
    return msix_control(vp) & MSIX_CTRL_ENABLE;
}

/* INTx follows the ISR only while MSI-X is off (PCI 3.0 §6.8.2.3). */
static void update_irq(VirtioPci *vp)
{
    pci_set_irq(&vp->pci, vp->isr != 0 && !msix_enabled(vp));
}

static bool msix_masked(const VirtioPci *vp, unsigned v)
{
    return (msix_control(vp) & MSIX_CTRL_MASKALL) || (vp->msix_table[v * 16 + 12] & MSIX_ENTRY_MASKED);
}

static void msix_send(VirtioPci *vp, unsigned v)
{
    const uint8_t *e = vp->msix_table + v * 16;
    uint64_t addr = pci_get_long(e, 0) | (uint64_t)pci_get_long(e, 4) << 32;
    pci_msi_send(&vp->pci, addr, pci_get_long(e, 8));
}

/* Signals vector v; a masked vector's message waits in its pending bit (§6.8.2.9). */
static void msix_notify(VirtioPci *vp, uint16_t v)
{
    if (!msix_enabled(vp) || v >= VIRTIO_MSIX_VECTORS)
        return;
    if (msix_masked(vp, v)) {
        vp->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
        return;
    }
    msix_send(vp, v);
}

/* Sends what became unmasked and was pending. */
static void msix_flush_pending(VirtioPci *vp)
{
    if (!msix_enabled(vp))
        return;
    for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++) {
        uint8_t bit = (uint8_t)(1u << (v % 8));
        if ((vp->msix_pba[v / 8] & bit) && !msix_masked(vp, v)) {
            vp->msix_pba[v / 8] &= (uint8_t)~bit;
            msix_send(vp, v);
        }
    }
}

/* A configuration change: the ISR's bit is set either way (§4.1.4.5.1). */
static void config_interrupt(VirtioPci *vp)
{
    vp->isr |= ISR_CONFIG;
    if (msix_enabled(vp))
        msix_notify(vp, vp->msix_config_vector);
    else
        update_irq(vp);
}

void virtio_pci_set_broken(VirtioPci *vp, const char *why)
{
    VLOG(LOG_GUEST, "%s: %s: device needs reset", vp->info->name, why);
    vp->broken = true;
    vp->status |= VIRTIO_STATUS_NEEDS_RESET;
    vp->config_generation++;
    config_interrupt(vp);
}

static void device_reset(VirtioPci *vp)
{
    vp->guest_features = 0;
    vp->device_feature_sel = vp->driver_feature_sel = 0;
    vp->status = 0;
    vp->isr = 0;
    vp->queue_sel = 0;
    vp->broken = false;
    vp->msix_config_vector = VIRTIO_MSI_NO_VECTOR;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        virtq_reset(&vp->vq[i], i < vp->nqueues ? vp->queue_size[i] : 0);
        vp->msix_queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
    }
    if (vp->info->reset)
        vp->info->reset(vp);
    update_irq(vp);
}

void virtio_pci_reset(VirtioPci *vp)
{
    pci_device_reset(&vp->pci);
    /* MSI-X off, every entry masked and cleared, nothing pending (§6.8.2.9). */
    if (vp->msix_cap)
        pci_set_word(vp->pci.config, vp->msix_cap + 2, VIRTIO_MSIX_VECTORS - 1);
    memset(vp->msix_table, 0, sizeof(vp->msix_table));
    for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++)
        vp->msix_table[v * 16 + 12] = MSIX_ENTRY_MASKED;
    memset(vp->msix_pba, 0, sizeof(vp->msix_pba));
    device_reset(vp);
}

bool virtio_pci_queue_ready(VirtioPci *vp, unsigned q)
{
    return q < vp->nqueues && vp->vq[q].enabled && !vp->broken &&
           (vp->status & VIRTIO_STATUS_DRIVER_OK) && pci_bus_master_enabled(&vp->pci);
}

bool virtio_pci_pop(VirtioPci *vp, unsigned q, VirtqElem *e)
{
    if (!virtio_pci_queue_ready(vp, q))
        return false;
    const char *why = NULL;
    switch (virtq_pop(&vp->vq[q], vm_mem(vp->vm), vp->guest_features, e, &why)) {
    case VIRTQ_GOT:
        return true;
    case VIRTQ_BROKEN:
        virtio_pci_set_broken(vp, why);
        return false;
    default:
        return false;
    }
}

bool virtio_pci_has_avail(VirtioPci *vp, unsigned q)
{
    return virtio_pci_queue_ready(vp, q) && virtq_has_avail(&vp->vq[q], vm_mem(vp->vm), vp->guest_features);
}

void virtio_pci_config_changed(VirtioPci *vp)
{
    vp->config_generation++;
    if (!(vp->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    config_interrupt(vp);
}

void virtio_pci_push(VirtioPci *vp, unsigned q, const VirtqElem *e, uint32_t len)
{
    if (q >= vp->nqueues || vp->broken)
        return;
    GuestMemory *m = vm_mem(vp->vm);
    virtq_push(&vp->vq[q], m, e->head, len);
    if (!virtq_should_notify(&vp->vq[q], m, vp->guest_features))
        return;
    if (msix_enabled(vp)) {
        msix_notify(vp, vp->msix_queue_vector[q]);
    } else {
        vp->isr |= ISR_QUEUE;
        update_irq(vp);
    }
}

/* Requests in flight on a queue's old rings must not complete onto new ones: changing
 * a live queue drops them, as a reset would. */
static void queue_changing(VirtioPci *vp, VirtQueue *vq)
{
    if (vq->enabled && vp->info->reset)
        vp->info->reset(vp);
}

static void queue_set_pfn(VirtioPci *vp, unsigned q, uint32_t pfn)
{
    VirtQueue *vq = &vp->vq[q];
    /* A legacy queue has the device's size (a modern driver may have chosen less). */
    uint16_t num = vp->queue_size[q];
    queue_changing(vp, vq);
    virtq_reset(vq, num);
    if (!pfn)
        return;
    uint64_t desc = (uint64_t)pfn * LEGACY_ALIGN;
    uint64_t avail = desc + 16 * (uint64_t)num;
    vq->pfn = pfn;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = (avail + 6 + 2 * (uint64_t)num + LEGACY_ALIGN - 1) & ~(uint64_t)(LEGACY_ALIGN - 1);
    /* Rings outside RAM are refused when the queue is first used (virtq_pop). */
    vq->enabled = true;
}

static void notify(VirtioPci *vp, unsigned q)
{
    if (virtio_pci_queue_ready(vp, q))
        vp->info->queue_notify(vp, q);
}

static void status_write(VirtioPci *vp, uint8_t v)
{
    if (!v) {
        device_reset(vp);
        return;
    }
    /* A device that only speaks virtio 1.0 does not accept features without
     * VERSION_1: FEATURES_OK does not stick (§3.1.1 step 6). */
    if (vp->info->modern_only && (v & VIRTIO_STATUS_FEATURES_OK) && !(vp->status & VIRTIO_STATUS_FEATURES_OK) &&
        !virtio_pci_is_modern(vp))
        v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    /* NEEDS_RESET is the device's to set; the driver cannot clear it but by reset. */
    vp->status = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
    /* Buffers the driver made available before DRIVER_OK are served now. */
    if (vp->status & VIRTIO_STATUS_DRIVER_OK)
        for (unsigned q = 0; q < vp->nqueues; q++)
            notify(vp, q);
}

static uint8_t isr_read(VirtioPci *vp)
{
    /* Reading the ISR acknowledges the interrupt (§4.1.4.5). */
    uint8_t v = vp->isr;
    vp->isr = 0;
    update_irq(vp);
    return v;
}

static uint8_t config_byte(VirtioPci *vp, uint32_t c, bool first)
{
    if (c >= vp->info->config_len)
        return 0xff;
    if (first && vp->info->config_read)
        vp->info->config_read(vp, vp->config);
    return vp->config[c];
}

static void config_write(VirtioPci *vp, uint32_t c, uint32_t v, unsigned size)
{
    if (c >= vp->info->config_len || size > vp->info->config_len - c || !vp->info->config_write)
        return;
    if (vp->info->config_read)
        vp->info->config_read(vp, vp->config);
    for (unsigned i = 0; i < size; i++)
        vp->config[c + i] = (uint8_t)(v >> (8 * i));
    vp->info->config_write(vp, vp->config, c, size);
}

/* ---- legacy I/O BAR ---- */

/* The legacy header's length: MSI-X adds the two vector fields (§4.1.4.8). */
static uint32_t legacy_hdr_len(const VirtioPci *vp)
{
    return LEGACY_HDR + (msix_enabled(vp) ? 4 : 0);
}

/* A vector the driver assigns; one the table lacks reads back as NO_VECTOR, which
 * tells the driver the mapping failed (§4.1.5.1.2). */
static uint16_t msix_vector_check(const VirtioPci *vp, uint32_t v)
{
    return vp->msix_cap && v < VIRTIO_MSIX_VECTORS ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void hdr_bytes(VirtioPci *vp, uint8_t *h)
{
    VirtQueue *vq = vp->queue_sel < VIRTIO_MAX_QUEUES ? &vp->vq[vp->queue_sel] : NULL;
    pci_set_long(h, REG_HOST_FEATURES, (uint32_t)vp->host_features);
    pci_set_long(h, REG_GUEST_FEATURES, (uint32_t)vp->guest_features);
    pci_set_long(h, REG_QUEUE_PFN, vq ? vq->pfn : 0);
    pci_set_word(h, REG_QUEUE_NUM, vq ? vq->num : 0);
    pci_set_word(h, REG_QUEUE_SEL, vp->queue_sel);
    pci_set_word(h, REG_QUEUE_NOTIFY, 0);
    h[REG_STATUS] = vp->status;
    h[REG_ISR] = vp->isr;
    pci_set_word(h, LEGACY_HDR, vp->msix_config_vector);
    pci_set_word(h, LEGACY_HDR + 2, vp->queue_sel < vp->nqueues ? vp->msix_queue_vector[vp->queue_sel]
                                                                : VIRTIO_MSI_NO_VECTOR);
}

static uint32_t legacy_read(void *opaque, uint32_t off, unsigned size)
{
    VirtioPci *vp = opaque;
    uint8_t bytes[4] = { 0 };
    uint8_t h[LEGACY_HDR + 4];
    uint32_t hdr = legacy_hdr_len(vp);
    hdr_bytes(vp, h);
    for (unsigned i = 0; i < size && i < 4; i++) {
        uint32_t o = off + i;
        if (o == REG_ISR)
            bytes[i] = isr_read(vp);
        else if (o < hdr)
            bytes[i] = h[o];
        else
            bytes[i] = config_byte(vp, o - hdr, i == 0 || o == hdr);
    }
    return pci_get_long(bytes, 0);
}

static void legacy_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    VirtioPci *vp = opaque;
    uint32_t hdr = legacy_hdr_len(vp);
    if (off >= hdr) {
        config_write(vp, off - hdr, v, size);
        return;
    }
    switch (off) {
    case LEGACY_HDR: /* the vector fields, present with MSI-X enabled */
        if (size == 2)
            vp->msix_config_vector = msix_vector_check(vp, v);
        break;
    case LEGACY_HDR + 2:
        if (size == 2 && vp->queue_sel < vp->nqueues)
            vp->msix_queue_vector[vp->queue_sel] = msix_vector_check(vp, v);
        break;
    case REG_GUEST_FEATURES:
        /* The legacy interface negotiates the low 32 bits only (no VERSION_1). */
        if (size == 4)
            vp->guest_features = v & (uint32_t)vp->host_features;
        break;
    case REG_QUEUE_PFN:
        if (size == 4 && vp->queue_sel < vp->nqueues)
            queue_set_pfn(vp, vp->queue_sel, v);
        break;
    case REG_QUEUE_SEL:
        if (size == 2)
            vp->queue_sel = (uint16_t)v;
        break;
    case REG_QUEUE_NOTIFY:
        if (size == 2 && v < vp->nqueues)
            notify(vp, v);
        break;
    case REG_STATUS:
        if (size == 1)
            status_write(vp, (uint8_t)v);
        break;
    default:
        VLOG(LOG_GUEST, "%s: write of %u bytes to read-only offset 0x%x", vp->info->name, size, off);
        break;
    }
}

static const PortOps legacy_ops = {
    .read = legacy_read,
    .write = legacy_write,
    .min_size = 1,
    .max_size = 4,
};

/* ---- modern memory BAR ---- */

static VirtQueue *sel_queue(VirtioPci *vp)
{
    return vp->queue_sel < vp->nqueues ? &vp->vq[vp->queue_sel] : NULL;
}

static uint32_t common_read(VirtioPci *vp, uint32_t off, unsigned size)
{
    VirtQueue *vq = sel_queue(vp);
    uint32_t v;
    switch (off) {
    case CC_DFSELECT: v = vp->device_feature_sel; break;
    case CC_DF: v = vp->device_feature_sel < 2 ? (uint32_t)(vp->host_features >> (32 * vp->device_feature_sel)) : 0; break;
    case CC_GFSELECT: v = vp->driver_feature_sel; break;
    case CC_GF: v = vp->driver_feature_sel < 2 ? (uint32_t)(vp->guest_features >> (32 * vp->driver_feature_sel)) : 0; break;
    case CC_MSIX: v = vp->msix_config_vector; break;
    case CC_NUMQ: v = vp->nqueues; break;
    case CC_STATUS: v = vp->status; break;
    case CC_CFGGEN: v = vp->config_generation; break;
    case CC_Q_SELECT: v = vp->queue_sel; break;
    case CC_Q_SIZE: v = vq ? vq->num : 0; break;
    case CC_Q_MSIX: v = vq ? vp->msix_queue_vector[vp->queue_sel] : VIRTIO_MSI_NO_VECTOR; break;
    case CC_Q_ENABLE: v = vq ? vq->enabled : 0; break;
    case CC_Q_NOFF: v = vq ? vp->queue_sel : 0; break;
    case CC_Q_DESCLO: v = vq ? (uint32_t)vq->desc : 0; break;
    case CC_Q_DESCHI: v = vq ? (uint32_t)(vq->desc >> 32) : 0; break;
    case CC_Q_AVAILLO: v = vq ? (uint32_t)vq->avail : 0; break;
    case CC_Q_AVAILHI: v = vq ? (uint32_t)(vq->avail >> 32) : 0; break;
    case CC_Q_USEDLO: v = vq ? (uint32_t)vq->used : 0; break;
    case CC_Q_USEDHI: v = vq ? (uint32_t)(vq->used >> 32) : 0; break;
    default:
        /* §4.1.3.1: fields are accessed at their own width; anything else reads 0. */
        return 0;
    }
    (void)size;
    return v;
}

static void set_lo(uint64_t *a, uint32_t v) { *a = (*a & ~UINT64_C(0xffffffff)) | v; }
static void set_hi(uint64_t *a, uint32_t v) { *a = (*a & UINT64_C(0xffffffff)) | (uint64_t)v << 32; }

static void common_write(VirtioPci *vp, uint32_t off, uint32_t v, unsigned size)
{
    VirtQueue *vq = sel_queue(vp);
    (void)size;
    switch (off) {
    case CC_DFSELECT: vp->device_feature_sel = v; break;
    case CC_GFSELECT: vp->driver_feature_sel = v; break;
    case CC_GF:
        /* Features are fixed once the driver set FEATURES_OK (§3.1.1). */
        if (vp->driver_feature_sel < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned sh = 32 * vp->driver_feature_sel;
            uint64_t mask = UINT64_C(0xffffffff) << sh;
            vp->guest_features = (vp->guest_features & ~mask) | (((uint64_t)v << sh) & mask & vp->host_features);
        }
        break;
    case CC_STATUS: status_write(vp, (uint8_t)v); break;
    case CC_MSIX: vp->msix_config_vector = msix_vector_check(vp, v); break;
    case CC_Q_MSIX:
        if (vq)
            vp->msix_queue_vector[vp->queue_sel] = msix_vector_check(vp, v);
        break;
    case CC_Q_SELECT: vp->queue_sel = (uint16_t)v; break;
    case CC_Q_SIZE:
        /* A smaller power of two the driver prefers, while the queue is off (§4.1.4.3.2). */
        if (vq && !vq->enabled && v && v <= vp->queue_size[vp->queue_sel] && !(v & (v - 1)))
            vq->num = (uint16_t)v;
        break;
    case CC_Q_ENABLE:
        if (vq && v == 1 && !vq->enabled)
            vq->enabled = true;
        break;
    case CC_Q_DESCLO: case CC_Q_DESCHI: case CC_Q_AVAILLO: case CC_Q_AVAILHI: case CC_Q_USEDLO: case CC_Q_USEDHI:
        if (!vq)
            break;
        queue_changing(vp, vq);
        if (vq->enabled) {
            /* §4.1.4.3.2: the driver must not change a live queue; it stops the queue. */
            uint16_t num = vq->num;
            uint64_t d = vq->desc, a = vq->avail, u = vq->used;
            virtq_reset(vq, num);
            vq->desc = d, vq->avail = a, vq->used = u;
        }
        uint64_t *field = off < CC_Q_AVAILLO ? &vq->desc : off < CC_Q_USEDLO ? &vq->avail : &vq->used;
        if (off & 4)
            set_hi(field, v);
        else
            set_lo(field, v);
        break;
    default:
        break; /* read-only fields */
    }
}

static uint32_t modern_bar_size(const VirtioPci *vp)
{
    return vp->modern_base + MODERN_REGIONS_SIZE;
}

static uint64_t modern_read(void *opaque, hwaddr off, unsigned size)
{
    VirtioPci *vp = opaque;
    if (off < vp->modern_base)
        return vp->front_ops ? vp->front_ops->read(vp->front_opaque, off, size) : 0;
    off -= vp->modern_base;
    if (off < MODERN_COMMON_LEN)
        return common_read(vp, (uint32_t)off, size);
    if (off == MODERN_ISR)
        return isr_read(vp);
    if (off >= MODERN_DEVICE && off < MODERN_DEVICE + vp->info->config_len) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size && i < 4; i++)
            v |= (uint32_t)config_byte(vp, (uint32_t)(off - MODERN_DEVICE) + i, i == 0) << (8 * i);
        return v;
    }
    return 0;
}

static void modern_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
    VirtioPci *vp = opaque;
    if (off < vp->modern_base) {
        if (vp->front_ops)
            vp->front_ops->write(vp->front_opaque, off, v, size);
        return;
    }
    off -= vp->modern_base;
    if (off < MODERN_COMMON_LEN)
        common_write(vp, (uint32_t)off, (uint32_t)v, size);
    else if (off >= MODERN_DEVICE && off < MODERN_DEVICE + vp->info->config_len)
        config_write(vp, (uint32_t)(off - MODERN_DEVICE), (uint32_t)v, size);
    else if (off >= MODERN_NOTIFY && off < MODERN_NOTIFY + NOTIFY_MULTIPLIER * VIRTIO_MAX_QUEUES &&
             !((off - MODERN_NOTIFY) % NOTIFY_MULTIPLIER))
        notify(vp, (unsigned)((off - MODERN_NOTIFY) / NOTIFY_MULTIPLIER));
}

static const MemOps modern_ops = {
    .read = modern_read,
    .write = modern_write,
    .min_size = 1,
    .max_size = 4,
};

/* The PCI_CFG window (§4.1.4.7.2): the driver sets cap.bar, cap.offset and cap.length
 * (1, 2 or 4, the offset aligned to it), then reading pci_cfg_data reads the BAR there
 * and writing it writes the BAR. Anything else leaves the data as it is. */
static bool cfg_window(VirtioPci *vp, uint8_t *bar, uint32_t *off, uint32_t *len)
{
    const uint8_t *c = vp->pci.config + vp->cfg_cap;
    *bar = c[4];
    *off = pci_get_long(c, 8);
    *len = pci_get_long(c, 12);
    uint32_t bar_size = *bar == vp->modern_bar             ? modern_bar_size(vp)
                        : *bar == 0 && !vp->info->modern_only ? (uint32_t)vp->pci.bar[0].size
                                                              : 0;
    return (*len == 1 || *len == 2 || *len == 4) && !(*off % *len) && *off < bar_size && *len <= bar_size - *off;
}

G_STATIC_ASSERT(offsetof(VirtioPci, pci) == 0);

static uint32_t cfg_cap_read(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    VirtioPci *vp = (VirtioPci *)d; /* pci is its first member */
    unsigned data = vp->cfg_cap + 16;
    uint8_t bar;
    uint32_t off, len;
    if (addr + size <= data || addr >= data + 4 || !cfg_window(vp, &bar, &off, &len))
        return value;
    uint32_t v = bar == vp->modern_bar ? (uint32_t)modern_read(vp, off, len) : legacy_read(vp, off, len);
    pci_set_long(d->config, data, v);
    uint32_t out = 0;
    memcpy(&out, d->config + addr, size);
    return GUINT32_FROM_LE(out);
}

static void cfg_cap_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    VirtioPci *vp = (VirtioPci *)d;
    unsigned data = vp->cfg_cap + 16;
    uint8_t bar;
    uint32_t off, len;
    (void)value;
    if (addr != data || size < 1 || !cfg_window(vp, &bar, &off, &len))
        return;
    uint32_t v = pci_get_long(d->config, data) & (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1);
    if (bar == vp->modern_bar)
        modern_write(vp, off, v, len);
    else
        legacy_write(vp, off, v, len);
}

/* ---- MSI-X table and pending bits (BAR 2, or the device's msix_bar) ---- */

static uint64_t msix_read(void *opaque, hwaddr off, unsigned size)
{
    VirtioPci *vp = opaque;
    const uint8_t *src = NULL;
    size_t len = 0;
    if (off < sizeof(vp->msix_table)) {
        src = vp->msix_table + off;
        len = sizeof(vp->msix_table) - off;
    } else if (off >= MSIX_PBA && off < MSIX_PBA + sizeof(vp->msix_pba)) {
        src = vp->msix_pba + (off - MSIX_PBA);
        len = sizeof(vp->msix_pba) - (off - MSIX_PBA);
    }
    uint64_t v = 0;
    for (unsigned i = 0; src && i < size && i < len; i++)
        v |= (uint64_t)src[i] << (8 * i);
    return v;
}

static void msix_write(void *opaque, hwaddr off, uint64_t v, unsigned size)
{
    VirtioPci *vp = opaque;
    /* The table takes dword writes (§6.8.2: software writes whole dwords); the pending
     * bits are read-only. */
    if (size != 4 || off % 4 || off >= sizeof(vp->msix_table))
        return;
    pci_set_long(vp->msix_table, (unsigned)off, (uint32_t)v);
    if (off % 16 == 12)
        msix_flush_pending(vp);
}

static const MemOps msix_ops = {
    .read = msix_read,
    .write = msix_write,
    .min_size = 1,
    .max_size = 4,
};

/* Configuration space writes: the PCI_CFG window, and MSI-X switched on or off or
 * unmasked in the message control word. */
static void pci_cfg_write(PciDevice *d, uint32_t addr, uint32_t value, unsigned size)
{
    VirtioPci *vp = (VirtioPci *)d; /* pci is its first member */
    if (vp->cfg_cap)
        cfg_cap_write(d, addr, value, size);
    if (vp->msix_cap && addr < vp->msix_cap + 4 && addr + size > vp->msix_cap + 2) {
        update_irq(vp);
        msix_flush_pending(vp);
    }
}

static void add_msix(VirtioPci *vp)
{
    PciDevice *d = &vp->pci;
    unsigned pos = MSIX_CAP_POS;
    pci_register_bar_mmio(d, vp->msix_bar, MSIX_BAR_SIZE, &msix_ops, vp);
    d->config[pos] = 0x11; /* MSI-X */
    d->config[pos + 1] = d->config[PCI_CAPABILITY_LIST]; /* in front of the list */
    pci_set_word(d->config, pos + 2, VIRTIO_MSIX_VECTORS - 1);
    pci_set_long(d->config, pos + 4, 0 | vp->msix_bar); /* table at offset 0 */
    pci_set_long(d->config, pos + 8, MSIX_PBA | vp->msix_bar);
    d->wmask[pos + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
    d->config[PCI_CAPABILITY_LIST] = (uint8_t)pos;
    pci_set_word(d->config, PCI_STATUS, pci_get_word(d->config, PCI_STATUS) | 0x10); /* capability list */
    vp->msix_cap = pos;
    d->config_write = pci_cfg_write;
    for (unsigned v = 0; v < VIRTIO_MSIX_VECTORS; v++)
        vp->msix_table[v * 16 + 12] = MSIX_ENTRY_MASKED;
}

/* One struct virtio_pci_cap (§4.1.4) at pos, linked to next (0: the last). */
static void add_cap(VirtioPci *vp, unsigned pos, unsigned next, uint8_t type, uint32_t offset,
                    uint32_t length, unsigned extra)
{
    PciDevice *d = &vp->pci;
    uint8_t *c = d->config + pos;
    c[0] = 0x09; /* vendor specific */
    c[1] = (uint8_t)next;
    c[2] = (uint8_t)(16 + extra);
    c[3] = type;
    c[4] = vp->modern_bar;
    pci_set_long(d->config, pos + 8, type == CAP_PCI_CFG ? offset : vp->modern_base + offset);
    pci_set_long(d->config, pos + 12, length);
}

static void add_modern(VirtioPci *vp)
{
    PciDevice *d = &vp->pci;
    pci_register_bar_mmio(d, vp->modern_bar, modern_bar_size(vp), &modern_ops, vp);
    /* common -> isr -> [device] -> notify; a device without configuration has no
     * device capability (§4.1.4.6). */
    unsigned common = 0x40, isr = common + 16, device = isr + 16;
    unsigned notify_cap = vp->info->config_len ? device + 16 : device;
    add_cap(vp, common, isr, CAP_COMMON, MODERN_COMMON, MODERN_COMMON_LEN, 0);
    add_cap(vp, isr, vp->info->config_len ? device : notify_cap, CAP_ISR, MODERN_ISR, 1, 0);
    if (vp->info->config_len)
        add_cap(vp, device, notify_cap, CAP_DEVICE, MODERN_DEVICE, (uint32_t)vp->info->config_len, 0);
    unsigned cfg = notify_cap + 20;
    add_cap(vp, notify_cap, cfg, CAP_NOTIFY, MODERN_NOTIFY, NOTIFY_MULTIPLIER * VIRTIO_MAX_QUEUES, 4);
    pci_set_long(d->config, notify_cap + 16, NOTIFY_MULTIPLIER);
    /* The PCI_CFG window: bar, offset, length and data are the driver's to write. */
    add_cap(vp, cfg, 0, CAP_PCI_CFG, 0, 0, 4);
    d->config[cfg + 4] = 0;
    d->wmask[cfg + 4] = 0xff;
    memset(d->wmask + cfg + 8, 0xff, 12);
    vp->cfg_cap = cfg;
    d->config_read = cfg_cap_read;
    d->config_write = pci_cfg_write;
    d->config[PCI_CAPABILITY_LIST] = (uint8_t)common;
    pci_set_word(d->config, PCI_STATUS, pci_get_word(d->config, PCI_STATUS) | 0x10); /* capability list */
}

bool virtio_pci_realize(VirtioPci *vp, Vm *vm, const char *addr, bool disable_modern,
                        const VirtioDeviceInfo *info, uint64_t host_features, void *opaque,
                        GError **err)
{
    if (info->modern_only && disable_modern) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: the device has no legacy interface", info->name);
        return false;
    }
    PciBus *bus = pci_root_bus(vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, addr, &devfn, err))
        return false;
    vp->vm = vm;
    vp->info = info;
    vp->opaque = opaque;
    vp->modern = !disable_modern;
    if (!vp->modern_bar)
        vp->modern_bar = MODERN_BAR;
    if (!vp->msix_bar)
        vp->msix_bar = MSIX_BAR;
    /* The BAR's size is a power of two: a front is as large as the regions after it. */
    g_assert(vp->modern_base == 0 || vp->modern_base == VIRTIO_PCI_MODERN_BASE);
    G_STATIC_ASSERT(VIRTIO_PCI_MODERN_BASE == MODERN_REGIONS_SIZE);
    vp->host_features = host_features | UINT64_C(1) << VIRTIO_F_NOTIFY_ON_EMPTY |
                        UINT64_C(1) << VIRTIO_F_ANY_LAYOUT | UINT64_C(1) << VIRTIO_RING_F_INDIRECT_DESC |
                        UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX;
    if (vp->modern)
        vp->host_features |= UINT64_C(1) << VIRTIO_F_VERSION_1;
    vp->config = g_malloc0(MAX(info->config_len, 1));
    PciDevice *d = &vp->pci;
    if (info->modern_only) {
        /* §4.1.2.1: ID 0x1040 + type, revision 1, subsystem ID 0x40 or above. */
        pci_device_init(d, bus, devfn, info->name, VIRTIO_PCI_VENDOR, (uint16_t)(0x1040 + info->virtio_type),
                        info->pci_class, 1);
        pci_device_set_subsystem(d, VIRTIO_PCI_VENDOR, 0x1100);
    } else {
        pci_device_init(d, bus, devfn, info->name, VIRTIO_PCI_VENDOR, info->pci_device_id, info->pci_class, 0);
        pci_device_set_subsystem(d, VIRTIO_PCI_VENDOR, info->virtio_type);
    }
    d->opaque = opaque;
    pci_device_set_interrupt_pin(d, 1);
    if (!info->modern_only) {
        /* Room for the MSI-X vector fields in front of the device configuration. */
        uint32_t bar = 32;
        while (bar < LEGACY_HDR + 4 + info->config_len)
            bar <<= 1;
        pci_register_bar_io(d, 0, bar, &legacy_ops, vp);
    }
    if (vp->modern)
        add_modern(vp);
    if (pci_msi_supported(d))
        add_msix(vp);
    vp->msix_config_vector = VIRTIO_MSI_NO_VECTOR;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        vp->msix_queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
    return true;
}

void virtio_pci_unrealize(VirtioPci *vp)
{
    g_free(vp->config);
    vp->config = NULL;
}

void virtio_pci_add_queue(VirtioPci *vp, uint16_t size)
{
    g_assert(vp->nqueues < VIRTIO_MAX_QUEUES && size && size <= VIRTQ_MAX_SIZE && !(size & (size - 1)));
    vp->queue_size[vp->nqueues] = size;
    virtq_reset(&vp->vq[vp->nqueues], size);
    vp->nqueues++;
}

static const VmStateField vq_fields[] = {
    VMSTATE_U16(VirtQueue, num),
    VMSTATE_U16(VirtQueue, last_avail_idx),
    VMSTATE_U16(VirtQueue, used_idx),
    VMSTATE_U16(VirtQueue, signalled_used),
    VMSTATE_BOOL(VirtQueue, signalled_valid),
    VMSTATE_BOOL(VirtQueue, enabled),
    VMSTATE_U32(VirtQueue, pfn),
    VMSTATE_U64(VirtQueue, desc),
    VMSTATE_U64(VirtQueue, avail),
    VMSTATE_U64(VirtQueue, used),
    VMSTATE_END,
};

static const VmStateDesc vq_vmsd = {
    .name = "virtqueue",
    .version = 1,
    .fields = vq_fields,
};

static const VmStateField virtio_pci_fields[] = {
    VMSTATE_STRUCT(VirtioPci, pci, PciDevice, &pci_device_vmsd),
    VMSTATE_U64(VirtioPci, guest_features),
    VMSTATE_U32(VirtioPci, device_feature_sel),
    VMSTATE_U32(VirtioPci, driver_feature_sel),
    VMSTATE_U8(VirtioPci, status),
    VMSTATE_U8_RANGE(VirtioPci, isr, 0, ISR_QUEUE | ISR_CONFIG),
    VMSTATE_U8(VirtioPci, config_generation),
    VMSTATE_U16(VirtioPci, queue_sel),
    VMSTATE_BOOL(VirtioPci, broken),
    VMSTATE_STRUCT_ARRAY(VirtioPci, vq, VIRTIO_MAX_QUEUES, VirtQueue, &vq_vmsd),
    { .name = "msix_config_vector", .type = VMS_U16, .offset = offsetof(VirtioPci, msix_config_vector),
      .version_added = 2 },
    { .name = "msix_queue_vector", .type = VMS_U16, .offset = offsetof(VirtioPci, msix_queue_vector),
      .count = VIRTIO_MAX_QUEUES, .version_added = 2 },
    { .name = "msix_table", .type = VMS_BUFFER, .offset = offsetof(VirtioPci, msix_table),
      .count = sizeof(((VirtioPci *)0)->msix_table), .version_added = 2 },
    { .name = "msix_pba", .type = VMS_BUFFER, .offset = offsetof(VirtioPci, msix_pba),
      .count = sizeof(((VirtioPci *)0)->msix_pba), .version_added = 2 },
    VMSTATE_END,
};

const VmStateDesc virtio_pci_vmsd = {
    .name = "virtio-pci",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = virtio_pci_fields,
};

bool virtio_pci_state_check(const VirtioPci *s, GError **err)
{
    if (s->guest_features & ~s->host_features) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: features 0x%" G_GINT64_MODIFIER "x were not offered",
                    s->info->name, s->guest_features);
        return false;
    }
    bool vectors_ok = s->msix_config_vector < VIRTIO_MSIX_VECTORS || s->msix_config_vector == VIRTIO_MSI_NO_VECTOR;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        vectors_ok = vectors_ok && (s->msix_queue_vector[i] < VIRTIO_MSIX_VECTORS ||
                                    s->msix_queue_vector[i] == VIRTIO_MSI_NO_VECTOR);
    if (!vectors_ok || (!s->msix_cap && s->msix_config_vector != VIRTIO_MSI_NO_VECTOR)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: MSI-X vectors outside the table", s->info->name);
        return false;
    }
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        const VirtQueue *vq = &s->vq[i];
        uint16_t max = i < s->nqueues ? s->queue_size[i] : 0;
        bool size_ok = max ? vq->num && vq->num <= max && !(vq->num & (vq->num - 1)) : !vq->num;
        /* A legacy queue's rings follow from its PFN. */
        bool legacy_ok = !vq->pfn || ((uint64_t)vq->pfn * LEGACY_ALIGN == vq->desc &&
                                      vq->avail == vq->desc + 16 * (uint64_t)vq->num && vq->enabled &&
                                      vq->num == max);
        if (!size_ok || !legacy_ok || (!max && vq->enabled) || !virtq_valid(vq, vm_mem(s->vm))) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: queue %u (size %u at 0x%" G_GINT64_MODIFIER "x) does not fit this device",
                        s->info->name, i, vq->num, vq->desc);
            return false;
        }
    }
    return pci_device_state_check(&s->pci, err);
}

void virtio_pci_post_load(VirtioPci *vp)
{
    pci_device_post_load(&vp->pci);
    update_irq(vp);
}
