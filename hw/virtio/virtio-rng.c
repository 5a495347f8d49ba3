/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-rng-pci: the entropy device (VIRTIO §5.4). One request queue; the device
 * fills each device-writable buffer it is given with bytes from the host's getrandom(2)
 * and returns it at once. It has no configuration and no feature bits. */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <sys/random.h>

#define RNG_QUEUE_SIZE 64
/* Bytes served per buffer: Linux asks for at most a page or so at a time. */
#define RNG_MAX_CHUNK 4096

typedef struct VirtioRngState {
    Device dev;
    char *addr; /* properties */
    bool disable_modern;
    VirtioPci vp;
} VirtioRngState;

static bool host_random(uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        done += (size_t)n;
    }
    return true;
}

static void rng_notify(VirtioPci *vp, unsigned q)
{
    GuestMemory *m = virtio_pci_mem(vp);
    VirtqElem e;
    virtq_elem_init(&e);
    while (virtio_pci_pop(vp, q, &e)) {
        uint8_t buf[RNG_MAX_CHUNK];
        size_t n = (size_t)MIN(e.in_len, (uint64_t)sizeof(buf));
        if (!host_random(buf, n)) {
            VLOG(LOG_GUEST, "virtio-rng: getrandom failed: %s", g_strerror(errno));
            n = 0;
        }
        n = virtq_elem_write(m, &e, 0, buf, n);
        virtio_pci_push(vp, q, &e, (uint32_t)n);
    }
    virtq_elem_clear(&e);
}

static const VirtioDeviceInfo rng_info = {
    .name = "virtio-rng-pci",
    .pci_device_id = 0x1005,
    .virtio_type = 4,
    .pci_class = 0x00ff00,
    .config_len = 0,
    .queue_notify = rng_notify,
};

static bool rng_realize(Device *dev, GError **err)
{
    VirtioRngState *s = (VirtioRngState *)dev;
    if (!virtio_pci_realize(&s->vp, dev->vm, s->addr, s->disable_modern, &rng_info, 0, s, err))
        return false;
    virtio_pci_add_queue(&s->vp, RNG_QUEUE_SIZE);
    return true;
}

static void rng_unrealize(Device *dev)
{
    virtio_pci_unrealize(&((VirtioRngState *)dev)->vp);
}

static void rng_reset(Device *dev)
{
    virtio_pci_reset(&((VirtioRngState *)dev)->vp);
}

static bool rng_check(const void *state, GError **err)
{
    return virtio_pci_state_check(&((const VirtioRngState *)state)->vp, err);
}

static void rng_post_load(void *state)
{
    virtio_pci_post_load(&((VirtioRngState *)state)->vp);
}

static const VmStateField rng_fields[] = {
    VMSTATE_STRUCT(VirtioRngState, vp, VirtioPci, &virtio_pci_vmsd),
    VMSTATE_END,
};

static const VmStateDesc rng_vmsd = {
    .name = "virtio-rng-pci",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = rng_fields,
    .check = rng_check,
    .post_load = rng_post_load,
};

static const DeviceProp rng_props[] = {
    PCI_DEVICE_PROP_ADDR(VirtioRngState, addr),
    VIRTIO_PCI_PROP_DISABLE_MODERN(VirtioRngState, disable_modern),
    { NULL },
};

static const DeviceClass rng_class = {
    .name = "virtio-rng-pci",
    .description = "virtio entropy source (PCI 1af4:1005) fed by the host's getrandom",
    .instance_size = sizeof(VirtioRngState),
    .user_creatable = true,
    .props = rng_props,
    .vmsd = &rng_vmsd,
    .realize = rng_realize,
    .reset = rng_reset,
    .unrealize = rng_unrealize,
};

static void __attribute__((constructor)) rng_register(void)
{
    device_class_register(&rng_class);
}
