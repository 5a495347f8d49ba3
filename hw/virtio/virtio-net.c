/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-net-pci: a network card (VIRTIO §5.1) on a -netdev back end:
 * -netdev user,id=N -device virtio-net-pci,netdev=N[,mac=...].
 *
 * Queue 0 receives, queue 1 transmits; no control queue, one queue pair. Offered
 * features: the MAC address and the link status in the configuration (§5.1.4). Without
 * checksum or segmentation offloads and without mergeable receive buffers, every frame
 * is preceded by a struct virtio_net_hdr (§5.1.6) that says nothing: this device
 * writes it as zeros (num_buffers 1) on receive and skips it on transmit. */
#include "hw/virtio/virtio.h"
#include "engine/net/net.h"
#include "hw/net/nic-boot.h"

#include <string.h>

#define NET_QUEUE_SIZE 256
/* struct virtio_net_hdr: 10 bytes for a legacy driver, 12 (with num_buffers) for a
 * modern one (§5.1.6). */
#define NET_HDR_LEN 10
#define NET_HDR_LEN_MODERN 12
#define NET_CONFIG_LEN 8
#define RXQ 0
#define TXQ 1

enum {
    VIRTIO_NET_F_MAC = 5,
    VIRTIO_NET_F_STATUS = 16,
};
#define VIRTIO_NET_S_LINK_UP 1

typedef struct VirtioNetState {
    Device dev;
    char *addr; /* properties */
    bool disable_modern;
    char *mac_prop;
    NetClient *nc;
    NicBoot boot;
    VirtioPci vp;
    uint8_t mac[6];  /* guest-visible (the driver may write it) */
    bool link_saved; /* the link at the save, set by pre_save */
    /* Wiring. */
    uint8_t mac_default[6];
    uint8_t *tx_buf; /* a header and NET_MAX_FRAME */
} VirtioNetState;

static size_t hdr_len(const VirtioNetState *s)
{
    return virtio_pci_is_modern(&s->vp) ? NET_HDR_LEN_MODERN : NET_HDR_LEN;
}

static bool link_up(const VirtioNetState *s)
{
    return s->nc && net_client_link_up(s->nc);
}

static bool net_can_receive(void *opaque, size_t len)
{
    VirtioNetState *s = opaque;
    (void)len;
    return virtio_pci_has_avail(&s->vp, RXQ);
}

static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    VirtioNetState *s = opaque;
    GuestMemory *m = virtio_pci_mem(&s->vp);
    VirtqElem e;
    virtq_elem_init(&e);
    if (virtio_pci_pop(&s->vp, RXQ, &e)) {
        size_t hl = hdr_len(s);
        if (e.in_len < hl + (uint64_t)len) {
            /* The driver's buffer cannot hold the frame: it keeps the buffer. */
            virtq_unpop(&s->vp.vq[RXQ]);
            net_client_count_bad(s->nc);
        } else {
            uint8_t hdr[NET_HDR_LEN_MODERN] = { 0 };
            hdr[10] = 1; /* num_buffers (modern header only) */
            virtq_elem_write(m, &e, 0, hdr, hl);
            virtq_elem_write(m, &e, hl, frame, len);
            virtio_pci_push(&s->vp, RXQ, &e, (uint32_t)(hl + len));
        }
    }
    virtq_elem_clear(&e);
}

static void net_link_changed(void *opaque, bool up)
{
    VirtioNetState *s = opaque;
    (void)up;
    virtio_pci_config_changed(&s->vp);
}

static void net_tx(VirtioNetState *s)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    VirtqElem e;
    virtq_elem_init(&e);
    size_t hl = hdr_len(s);
    while (virtio_pci_pop(&s->vp, TXQ, &e)) {
        if (e.out_len < hl || e.out_len > hl + NET_MAX_FRAME) {
            VLOG(LOG_NET, "%s: transmit chain of %" G_GUINT64_FORMAT " bytes dropped", s->dev.id, e.out_len);
            if (s->nc)
                net_client_count_bad(s->nc);
        } else {
            size_t n = virtq_elem_read(m, &e, 0, s->tx_buf, (size_t)e.out_len);
            if (s->nc && n > hl)
                net_client_send(s->nc, s->tx_buf + hl, n - hl);
        }
        virtio_pci_push(&s->vp, TXQ, &e, 0);
    }
    virtq_elem_clear(&e);
}

static void net_notify(VirtioPci *vp, unsigned q)
{
    VirtioNetState *s = vp->opaque;
    if (q == TXQ)
        net_tx(s);
    else if (s->nc)
        net_client_rx_ready(s->nc);
}

/* Configuration (§5.1.4): mac[6], status. */
static void net_config_read(VirtioPci *vp, uint8_t *c)
{
    VirtioNetState *s = vp->opaque;
    memcpy(c, s->mac, 6);
    pci_set_word(c, 6, link_up(s) ? VIRTIO_NET_S_LINK_UP : 0);
}

/* Legacy drivers may set the MAC by writing the configuration (§5.1.4.2). */
static void net_config_write(VirtioPci *vp, const uint8_t *c, unsigned off, unsigned len)
{
    VirtioNetState *s = vp->opaque;
    if (off < 6)
        memcpy(s->mac + off, c + off, MIN(len, 6 - off));
}

static const VirtioDeviceInfo net_info = {
    .name = "virtio-net-pci",
    .pci_device_id = 0x1000,
    .virtio_type = 1,
    .pci_class = 0x020000,
    .config_len = NET_CONFIG_LEN,
    .queue_notify = net_notify,
    .config_read = net_config_read,
    .config_write = net_config_write,
};

static const NetNicOps net_nic_ops = {
    .can_receive = net_can_receive,
    .receive = net_receive,
    .link_changed = net_link_changed,
};

static bool net_realize(Device *dev, GError **err)
{
    VirtioNetState *s = (VirtioNetState *)dev;
    if (!net_nic_mac(s->mac_prop, s->mac_default, err) || !nic_boot_prepare(&s->boot, dev->vm, "pxe-virtio.rom", err))
        return false;
    memcpy(s->mac, s->mac_default, 6);
    uint64_t features = UINT64_C(1) << VIRTIO_NET_F_MAC | UINT64_C(1) << VIRTIO_NET_F_STATUS;
    if (!virtio_pci_realize(&s->vp, dev->vm, s->addr, s->disable_modern, &net_info, features, s, err)) {
        nic_boot_discard(&s->boot);
        return false;
    }
    if (s->nc && !net_client_attach(s->nc, dev->id, &net_nic_ops, s, err)) {
        nic_boot_discard(&s->boot);
        virtio_pci_unrealize(&s->vp);
        return false;
    }
    nic_boot_install(&s->boot, &s->vp.pci);
    virtio_pci_add_queue(&s->vp, NET_QUEUE_SIZE);
    virtio_pci_add_queue(&s->vp, NET_QUEUE_SIZE);
    s->tx_buf = g_malloc(NET_HDR_LEN_MODERN + NET_MAX_FRAME);
    return true;
}

static void net_unrealize(Device *dev)
{
    VirtioNetState *s = (VirtioNetState *)dev;
    if (s->nc)
        net_client_detach(s->nc);
    g_free(s->tx_buf);
    virtio_pci_unrealize(&s->vp);
}

static void net_reset(Device *dev)
{
    VirtioNetState *s = (VirtioNetState *)dev;
    virtio_pci_reset(&s->vp);
    /* A MAC the driver wrote lasts until reset. */
    memcpy(s->mac, s->mac_default, 6);
}

static bool net_check(const void *state, GError **err)
{
    return virtio_pci_state_check(&((const VirtioNetState *)state)->vp, err);
}

static void net_pre_save(void *state)
{
    VirtioNetState *s = state;
    s->link_saved = link_up(s);
}

static void net_post_load(void *state)
{
    VirtioNetState *s = state;
    virtio_pci_post_load(&s->vp);
    /* The back end's link may differ from the saved one; frames may wait for room. */
    if (s->link_saved != link_up(s)) {
        s->link_saved = link_up(s);
        virtio_pci_config_changed(&s->vp);
    }
    if (s->nc)
        net_client_rx_ready(s->nc);
}

static const VmStateField net_fields[] = {
    VMSTATE_STRUCT(VirtioNetState, vp, VirtioPci, &virtio_pci_vmsd),
    VMSTATE_U8_ARRAY(VirtioNetState, mac, 6),
    VMSTATE_BOOL(VirtioNetState, link_saved),
    VMSTATE_END,
};

static const VmStateDesc net_vmsd = {
    .name = "virtio-net-pci",
    .version = VIRTIO_PCI_VMSD_VERSION,
    .fields = net_fields,
    .pre_save = net_pre_save,
    .check = net_check,
    .post_load = net_post_load,
};

static const DeviceProp net_props[] = {
    PCI_DEVICE_PROP_ADDR(VirtioNetState, addr),
    VIRTIO_PCI_PROP_DISABLE_MODERN(VirtioNetState, disable_modern),
    NET_NIC_PROPS(VirtioNetState, mac_prop, nc),
    NIC_BOOT_PROPS(VirtioNetState, boot),
    { NULL },
};

static const DeviceClass net_class = {
    .name = "virtio-net-pci",
    .description = "virtio network card (PCI 1af4:1000) on a -netdev",
    .instance_size = sizeof(VirtioNetState),
    .user_creatable = true,
    .props = net_props,
    .vmsd = &net_vmsd,
    .realize = net_realize,
    .reset = net_reset,
    .unrealize = net_unrealize,
};

static void __attribute__((constructor)) net_register(void)
{
    device_class_register(&net_class);
}
