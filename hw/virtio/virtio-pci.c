/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The virtio-pci transport, legacy interface (VIRTIO §4.1.4.8 and the 0.9.5 draft's
 * "Virtio header"): vendor 1AF4, a transitional device ID, the virtio type as the
 * subsystem ID, and I/O BAR 0:
 *   0x00 host features (32)   0x04 guest features (32)   0x08 queue PFN (32)
 *   0x0C queue size (16)      0x0E queue select (16)     0x10 queue notify (16)
 *   0x12 device status (8)    0x13 ISR status (8, read clears)
 *   0x14 device-specific configuration (no MSI-X: the PCI layer has no MSI)
 * The rings of a queue are laid out from PFN << 12: the descriptor table, the
 * available ring, then the used ring at the next 4 KiB boundary (§2.6.2 legacy).
 * Interrupts are INTx: ISR bit 0 for used buffers, bit 1 for a configuration change. */
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

#define ISR_QUEUE 1
#define ISR_CONFIG 2

GuestMemory *virtio_pci_mem(VirtioPci *vp)
{
    return vm_mem(vp->vm);
}

static void update_irq(VirtioPci *vp)
{
    pci_set_irq(&vp->pci, vp->isr != 0);
}

void virtio_pci_set_broken(VirtioPci *vp, const char *why)
{
    VLOG(LOG_GUEST, "%s: %s: device needs reset", vp->info->name, why);
    vp->broken = true;
    vp->status |= VIRTIO_STATUS_NEEDS_RESET;
    vp->isr |= ISR_CONFIG;
    update_irq(vp);
}

static void device_reset(VirtioPci *vp)
{
    vp->guest_features = 0;
    vp->status = 0;
    vp->isr = 0;
    vp->queue_sel = 0;
    vp->broken = false;
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
        virtq_reset(&vp->vq[i], i < vp->nqueues ? vp->queue_size[i] : 0);
    if (vp->info->reset)
        vp->info->reset(vp);
    update_irq(vp);
}

void virtio_pci_reset(VirtioPci *vp)
{
    pci_device_reset(&vp->pci);
    device_reset(vp);
}

bool virtio_pci_queue_ready(VirtioPci *vp, unsigned q)
{
    return q < vp->nqueues && vp->vq[q].desc && !vp->broken &&
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
    if (!(vp->status & VIRTIO_STATUS_DRIVER_OK))
        return;
    vp->isr |= ISR_CONFIG;
    update_irq(vp);
}

void virtio_pci_push(VirtioPci *vp, unsigned q, const VirtqElem *e, uint32_t len)
{
    if (q >= vp->nqueues || vp->broken)
        return;
    GuestMemory *m = vm_mem(vp->vm);
    virtq_push(&vp->vq[q], m, e->head, len);
    if (virtq_should_notify(&vp->vq[q], m, vp->guest_features)) {
        vp->isr |= ISR_QUEUE;
        update_irq(vp);
    }
}

static void queue_set_pfn(VirtioPci *vp, VirtQueue *vq, uint32_t pfn)
{
    uint16_t num = vq->num;
    /* Requests in flight on the old rings must not complete onto the new ones: moving
     * a live queue drops them, as a reset would. */
    if (vq->desc && vp->info->reset)
        vp->info->reset(vp);
    virtq_reset(vq, num);
    if (!pfn)
        return;
    uint64_t desc = (uint64_t)pfn * LEGACY_ALIGN;
    uint64_t avail = desc + 16 * (uint64_t)num;
    uint64_t used = (avail + 6 + 2 * (uint64_t)num + LEGACY_ALIGN - 1) & ~(uint64_t)(LEGACY_ALIGN - 1);
    vq->pfn = pfn;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    /* Rings outside RAM are refused when the queue is first used (virtq_pop). */
}

static void hdr_bytes(VirtioPci *vp, uint8_t *h)
{
    VirtQueue *vq = vp->queue_sel < VIRTIO_MAX_QUEUES ? &vp->vq[vp->queue_sel] : NULL;
    pci_set_long(h, REG_HOST_FEATURES, (uint32_t)vp->host_features);
    pci_set_long(h, REG_GUEST_FEATURES, vp->guest_features);
    pci_set_long(h, REG_QUEUE_PFN, vq ? vq->pfn : 0);
    pci_set_word(h, REG_QUEUE_NUM, vq ? vq->num : 0);
    pci_set_word(h, REG_QUEUE_SEL, vp->queue_sel);
    pci_set_word(h, REG_QUEUE_NOTIFY, 0);
    h[REG_STATUS] = vp->status;
    h[REG_ISR] = vp->isr;
}

static uint32_t legacy_read(void *opaque, uint32_t off, unsigned size)
{
    VirtioPci *vp = opaque;
    uint8_t bytes[4] = { 0 };
    for (unsigned i = 0; i < size; i++) {
        uint32_t o = off + i;
        if (o < LEGACY_HDR) {
            uint8_t h[LEGACY_HDR];
            hdr_bytes(vp, h);
            bytes[i] = h[o];
            /* Reading the ISR acknowledges the interrupt (§4.1.4.5). */
            if (o == REG_ISR) {
                vp->isr = 0;
                update_irq(vp);
            }
        } else if (o - LEGACY_HDR < vp->info->config_len) {
            if (o == off || o == LEGACY_HDR) {
                if (vp->info->config_read)
                    vp->info->config_read(vp, vp->config);
            }
            bytes[i] = vp->config[o - LEGACY_HDR];
        } else {
            bytes[i] = 0xff;
        }
    }
    return pci_get_long(bytes, 0);
}

static void legacy_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    VirtioPci *vp = opaque;
    if (off >= LEGACY_HDR) {
        uint32_t c = off - LEGACY_HDR;
        if (c >= vp->info->config_len || size > vp->info->config_len - c || !vp->info->config_write)
            return;
        if (vp->info->config_read)
            vp->info->config_read(vp, vp->config);
        for (unsigned i = 0; i < size; i++)
            vp->config[c + i] = (uint8_t)(v >> (8 * i));
        vp->info->config_write(vp, vp->config, c, size);
        return;
    }
    switch (off) {
    case REG_GUEST_FEATURES:
        if (size == 4)
            vp->guest_features = v & (uint32_t)vp->host_features;
        break;
    case REG_QUEUE_PFN:
        if (size == 4 && vp->queue_sel < vp->nqueues)
            queue_set_pfn(vp, &vp->vq[vp->queue_sel], v);
        break;
    case REG_QUEUE_SEL:
        if (size == 2)
            vp->queue_sel = (uint16_t)v;
        break;
    case REG_QUEUE_NOTIFY:
        if (size == 2 && v < vp->nqueues && virtio_pci_queue_ready(vp, v))
            vp->info->queue_notify(vp, v);
        break;
    case REG_STATUS:
        if (size != 1)
            break;
        if (!(v & 0xff)) {
            device_reset(vp);
            break;
        }
        /* NEEDS_RESET is the device's to set; the driver cannot clear it but by reset. */
        vp->status = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (vp->status & VIRTIO_STATUS_NEEDS_RESET));
        /* Buffers the driver made available before DRIVER_OK are served now. */
        if (vp->status & VIRTIO_STATUS_DRIVER_OK)
            for (unsigned q = 0; q < vp->nqueues; q++)
                if (virtio_pci_queue_ready(vp, q))
                    vp->info->queue_notify(vp, q);
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

bool virtio_pci_realize(VirtioPci *vp, Vm *vm, const char *addr, const VirtioDeviceInfo *info,
                        uint64_t host_features, void *opaque, GError **err)
{
    PciBus *bus = pci_root_bus(vm, err);
    int devfn;
    if (!bus || !pci_bus_pick_devfn(bus, addr, &devfn, err))
        return false;
    vp->vm = vm;
    vp->info = info;
    vp->opaque = opaque;
    /* The legacy interface offers the low 32 bits only; these are always offered. */
    vp->host_features = (host_features | UINT64_C(1) << VIRTIO_F_NOTIFY_ON_EMPTY |
                         UINT64_C(1) << VIRTIO_F_ANY_LAYOUT | UINT64_C(1) << VIRTIO_RING_F_INDIRECT_DESC |
                         UINT64_C(1) << VIRTIO_RING_F_EVENT_IDX) & 0xffffffffu;
    vp->config = g_malloc0(MAX(info->config_len, 1));
    PciDevice *d = &vp->pci;
    pci_device_init(d, bus, devfn, info->name, VIRTIO_PCI_VENDOR, info->pci_device_id, info->pci_class, 0);
    d->opaque = opaque;
    pci_device_set_subsystem(d, VIRTIO_PCI_VENDOR, info->virtio_type);
    pci_device_set_interrupt_pin(d, 1);
    uint32_t bar = 32;
    while (bar < LEGACY_HDR + info->config_len)
        bar <<= 1;
    pci_register_bar_io(d, 0, bar, &legacy_ops, vp);
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
    VMSTATE_U32(VirtioPci, guest_features),
    VMSTATE_U8(VirtioPci, status),
    VMSTATE_U8_RANGE(VirtioPci, isr, 0, ISR_QUEUE | ISR_CONFIG),
    VMSTATE_U16(VirtioPci, queue_sel),
    VMSTATE_BOOL(VirtioPci, broken),
    VMSTATE_STRUCT_ARRAY(VirtioPci, vq, VIRTIO_MAX_QUEUES, VirtQueue, &vq_vmsd),
    VMSTATE_END,
};

const VmStateDesc virtio_pci_vmsd = {
    .name = "virtio-pci",
    .version = 1,
    .fields = virtio_pci_fields,
};

bool virtio_pci_state_check(const VirtioPci *s, GError **err)
{
    if (s->guest_features & ~(uint32_t)s->host_features) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: features 0x%x were not offered",
                    s->info->name, s->guest_features);
        return false;
    }
    for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
        const VirtQueue *vq = &s->vq[i];
        uint16_t want = i < s->nqueues ? s->queue_size[i] : 0;
        bool legacy_ok = !vq->desc || ((uint64_t)vq->pfn * LEGACY_ALIGN == vq->desc && vq->avail == vq->desc + 16 * (uint64_t)vq->num);
        if (vq->num != want || !legacy_ok || !virtq_valid(vq, vm_mem(s->vm))) {
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
