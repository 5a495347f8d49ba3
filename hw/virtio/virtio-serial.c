/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtio-serial-pci: the virtio console device with multiple ports (VIRTIO §5.3), and
 * its ports, virtserialport (a named channel: "com.redhat.spice.0" is what
 * spice-vdagent opens) and virtconsole (the guest's hvc console).
 *
 * Queues: port 0's receive and transmit queues (0, 1), the control receive and
 * transmit queues (2, 3), then two per further port (§5.3.2). The driver says
 * DEVICE_READY on the control queue; the device announces each port (DEVICE_ADD); for
 * every PORT_READY it answers CONSOLE_PORT for a console, PORT_NAME for a named port,
 * and PORT_OPEN when its host side (the chardev's client) is there. The driver's
 * PORT_OPEN says whether a guest program has the port open (§5.3.6.2).
 *
 * Bytes the guest transmits go to the port's chardev; the chardev's input goes into
 * the buffers the guest made available on the port's receive queue, and waits in the
 * chardev while there are none. Control messages to the guest wait in the device
 * until the driver gives buffers.
 *
 * Lock rules: everything runs with the engine lock held: queue kicks on the vCPU
 * thread, chardev input and connection changes on the main context through the
 * receiver's lock functions. */
#include "hw/virtio/virtio.h"
#include "engine/chardev.h"

#include <string.h>

#define VSER_QUEUE_SIZE 128
#define VSER_CONFIG_LEN 12
#define VSER_MAX_PORTS 3 /* (ports + 1) * 2 queues fit VIRTIO_MAX_QUEUES */
#define VSER_NAME_MAX 64
#define VSER_CTRL_PENDING_MAX 64 /* control messages waiting for the driver */
#define VSER_CHUNK 4096

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* Control events (§5.3.6.2). */
enum {
    CTRL_DEVICE_READY = 0,
    CTRL_DEVICE_ADD = 1,
    CTRL_DEVICE_REMOVE = 2,
    CTRL_PORT_READY = 3,
    CTRL_CONSOLE_PORT = 4,
    CTRL_RESIZE = 5,
    CTRL_PORT_OPEN = 6,
    CTRL_PORT_NAME = 7,
};

typedef struct VirtioSerialState VirtioSerialState;

typedef struct VirtioSerialPort {
    Device dev;
    Chardev *chr; /* properties */
    char *name;
    char *bus;
    uint32_t nr;
    bool console;  /* virtconsole */
    VirtioSerialState *ser;
} VirtioSerialPort;

struct VirtioSerialState {
    Device dev;
    char *addr; /* properties */
    bool disable_modern;
    VirtioPci vp;
    /* Guest-visible state. */
    bool driver_ready;                     /* DEVICE_READY seen */
    bool port_ready[VSER_MAX_PORTS];       /* the driver set the port up */
    bool guest_open[VSER_MAX_PORTS];       /* a guest program has it open */
    bool host_open[VSER_MAX_PORTS];        /* what the device last told the guest */
    GBytes *ctrl_saved;                    /* pending control messages, for savevm */
    GBytes *peers_saved;                   /* the ports' agent sessions, for savevm */
    /* Wiring. */
    VirtioSerialPort *port[VSER_MAX_PORTS];
    GQueue ctrl_out;                       /* GBytes: control messages for the driver */
};

static unsigned rx_queue(unsigned nr) { return nr == 0 ? 0 : 2 + 2 * nr; }
static unsigned tx_queue(unsigned nr) { return nr == 0 ? 1 : 3 + 2 * nr; }
#define CTRL_RX 2
#define CTRL_TX 3

static bool multiport(VirtioSerialState *s)
{
    return s->vp.guest_features & (UINT64_C(1) << VIRTIO_CONSOLE_F_MULTIPORT);
}

/* ---- control messages to the driver ---- */

static void ctrl_flush(VirtioSerialState *s)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    VirtqElem e;
    virtq_elem_init(&e);
    while (!g_queue_is_empty(&s->ctrl_out) && virtio_pci_pop(&s->vp, CTRL_RX, &e)) {
        GBytes *b = g_queue_pop_head(&s->ctrl_out);
        gsize len;
        const uint8_t *d = g_bytes_get_data(b, &len);
        size_t n = virtq_elem_write(m, &e, 0, d, len);
        virtio_pci_push(&s->vp, CTRL_RX, &e, (uint32_t)n);
        g_bytes_unref(b);
    }
    virtq_elem_clear(&e);
}

static void ctrl_send(VirtioSerialState *s, uint32_t id, uint16_t event, uint16_t value, const char *extra)
{
    if (g_queue_get_length(&s->ctrl_out) >= VSER_CTRL_PENDING_MAX) {
        VLOG(LOG_GUEST, "virtio-serial: the driver takes no control messages; dropping event %u", event);
        return;
    }
    size_t xl = extra ? strlen(extra) : 0;
    uint8_t *msg = g_malloc(8 + xl);
    pci_set_long(msg, 0, id);
    pci_set_word(msg, 4, event);
    pci_set_word(msg, 6, value);
    if (xl)
        memcpy(msg + 8, extra, xl);
    g_queue_push_tail(&s->ctrl_out, g_bytes_new_take(msg, 8 + xl));
    ctrl_flush(s);
}

/* The host side of port nr opened or closed: tell the driver once it set the port up. */
static void port_host_state(VirtioSerialState *s, unsigned nr)
{
    VirtioSerialPort *p = s->port[nr];
    bool open = p && (p->console || chardev_connected(p->chr));
    if (!multiport(s) || !s->port_ready[nr] || open == s->host_open[nr])
        return;
    s->host_open[nr] = open;
    ctrl_send(s, nr, CTRL_PORT_OPEN, open, NULL);
}

static void ctrl_handle(VirtioSerialState *s, const uint8_t *msg)
{
    uint32_t id = pci_get_long(msg, 0);
    uint16_t event = pci_get_word(msg, 4), value = pci_get_word(msg, 6);
    if (event == CTRL_DEVICE_READY) {
        if (value != 1) {
            VLOG(LOG_GUEST, "virtio-serial: the driver failed to set up");
            return;
        }
        s->driver_ready = true;
        for (unsigned i = 0; i < VSER_MAX_PORTS; i++)
            if (s->port[i])
                ctrl_send(s, i, CTRL_DEVICE_ADD, 1, NULL);
        return;
    }
    if (id >= VSER_MAX_PORTS || !s->port[id]) {
        VLOG(LOG_GUEST, "virtio-serial: control event %u for port %u, which does not exist", event, id);
        return;
    }
    VirtioSerialPort *p = s->port[id];
    switch (event) {
    case CTRL_PORT_READY:
        if (value != 1) {
            VLOG(LOG_GUEST, "virtio-serial: the driver could not add port %u", id);
            break;
        }
        s->port_ready[id] = true;
        if (p->console)
            ctrl_send(s, id, CTRL_CONSOLE_PORT, 1, NULL);
        if (p->name)
            ctrl_send(s, id, CTRL_PORT_NAME, 1, p->name);
        s->host_open[id] = false;
        port_host_state(s, id);
        break;
    case CTRL_PORT_OPEN:
        s->guest_open[id] = value != 0;
        /* An agent peer (qemu-vdagent, spicevmc) starts and ends its session here. */
        chardev_set_fe_open(p->chr, s->guest_open[id]);
        /* Input that waited for a reader may go now. */
        if (s->guest_open[id])
            chardev_accept_input(p->chr);
        break;
    default:
        VLOG(LOG_GUEST, "virtio-serial: unexpected control event %u from the driver", event);
        break;
    }
}

/* ---- queues ---- */

static void port_tx(VirtioSerialState *s, unsigned nr)
{
    GuestMemory *m = virtio_pci_mem(&s->vp);
    VirtqElem e;
    virtq_elem_init(&e);
    while (virtio_pci_pop(&s->vp, tx_queue(nr), &e)) {
        VirtioSerialPort *p = s->port[nr];
        uint8_t buf[VSER_CHUNK];
        for (uint64_t off = 0; off < e.out_len;) {
            size_t n = virtq_elem_read(m, &e, (size_t)off, buf, sizeof(buf));
            if (!n)
                break;
            if (p && p->chr)
                chardev_write(p->chr, buf, n);
            off += n;
        }
        virtio_pci_push(&s->vp, tx_queue(nr), &e, 0);
    }
    virtq_elem_clear(&e);
}

static void ser_notify(VirtioPci *vp, unsigned q)
{
    VirtioSerialState *s = vp->opaque;
    if (q == CTRL_RX) {
        ctrl_flush(s);
        return;
    }
    if (q == CTRL_TX) {
        GuestMemory *m = virtio_pci_mem(vp);
        VirtqElem e;
        virtq_elem_init(&e);
        while (virtio_pci_pop(vp, q, &e)) {
            uint8_t msg[8];
            if (virtq_elem_read(m, &e, 0, msg, sizeof(msg)) == sizeof(msg))
                ctrl_handle(s, msg);
            else
                VLOG(LOG_GUEST, "virtio-serial: control message shorter than 8 bytes");
            virtio_pci_push(vp, q, &e, 0);
        }
        virtq_elem_clear(&e);
        return;
    }
    unsigned nr = q < 2 ? 0 : (q - 2) / 2;
    if (nr >= VSER_MAX_PORTS)
        return;
    if (q == tx_queue(nr))
        port_tx(s, nr);
    else if (s->port[nr])
        chardev_accept_input(s->port[nr]->chr); /* receive buffers arrived */
}

/* Chardev input for port p: as much as the guest's receive buffers hold. */
static size_t port_can_read(void *opaque)
{
    VirtioSerialPort *p = opaque;
    VirtioSerialState *s = p->ser;
    if (!s)
        return 0;
    unsigned nr = p->nr;
    /* A named port's input waits until a guest program opens it (Linux drops what
     * arrives on a closed port). */
    if (nr && (!s->port_ready[nr] || !multiport(s) || (!p->console && !s->guest_open[nr])))
        return 0;
    return virtio_pci_has_avail(&s->vp, rx_queue(nr)) ? VSER_CHUNK : 0;
}

static void port_read(void *opaque, const uint8_t *buf, size_t len)
{
    VirtioSerialPort *p = opaque;
    VirtioSerialState *s = p->ser;
    if (!s)
        return;
    GuestMemory *m = virtio_pci_mem(&s->vp);
    VirtqElem e;
    virtq_elem_init(&e);
    while (len && virtio_pci_pop(&s->vp, rx_queue(p->nr), &e)) {
        size_t n = virtq_elem_write(m, &e, 0, buf, len);
        virtio_pci_push(&s->vp, rx_queue(p->nr), &e, (uint32_t)n);
        buf += n;
        len -= n;
        if (!n)
            break;
    }
    if (len)
        VLOG(LOG_GUEST, "virtio-serial: port %u lost %zu bytes of input", p->nr, len);
    virtq_elem_clear(&e);
}

static void port_open_changed(void *opaque, bool open)
{
    VirtioSerialPort *p = opaque;
    (void)open;
    if (p->ser)
        port_host_state(p->ser, p->nr);
}

static void lock_vm(void *vm) { vm_lock(vm); }
static void unlock_vm(void *vm) { vm_unlock(vm); }

/* ---- configuration (§5.3.4) ---- */

static void ser_config_read(VirtioPci *vp, uint8_t *config)
{
    pci_set_word(config, 0, 80);
    pci_set_word(config, 2, 25);
    pci_set_long(config, 4, VSER_MAX_PORTS);
    pci_set_long(config, 8, 0);
}

static void ser_config_write(VirtioPci *vp, const uint8_t *config, unsigned off, unsigned len)
{
    /* emerg_wr (VIRTIO_CONSOLE_F_EMERG_WRITE) is not offered: nothing is writable. */
}

static void ctrl_clear(VirtioSerialState *s)
{
    GBytes *b;
    while ((b = g_queue_pop_head(&s->ctrl_out)))
        g_bytes_unref(b);
}

static void ser_reset(VirtioPci *vp)
{
    VirtioSerialState *s = vp->opaque;
    ctrl_clear(s);
    for (unsigned i = 0; i < VSER_MAX_PORTS; i++)
        if (s->port[i] && s->guest_open[i])
            chardev_set_fe_open(s->port[i]->chr, false);
    s->driver_ready = false;
    memset(s->port_ready, 0, sizeof(s->port_ready));
    memset(s->guest_open, 0, sizeof(s->guest_open));
    memset(s->host_open, 0, sizeof(s->host_open));
}

static const VirtioDeviceInfo ser_info = {
    .name = "virtio-serial-pci",
    .pci_device_id = 0x1003,
    .virtio_type = 3,
    .pci_class = 0x078000, /* simple communication controller, other */
    .config_len = VSER_CONFIG_LEN,
    .queue_notify = ser_notify,
    .config_read = ser_config_read,
    .config_write = ser_config_write,
    .reset = ser_reset,
};

static bool ser_realize(Device *dev, GError **err)
{
    VirtioSerialState *s = (VirtioSerialState *)dev;
    uint64_t features = UINT64_C(1) << VIRTIO_CONSOLE_F_MULTIPORT;
    if (!virtio_pci_realize(&s->vp, dev->vm, s->addr, s->disable_modern, &ser_info, features, s, err))
        return false;
    for (unsigned i = 0; i < VSER_MAX_PORTS + 1; i++) {
        virtio_pci_add_queue(&s->vp, VSER_QUEUE_SIZE);
        virtio_pci_add_queue(&s->vp, VSER_QUEUE_SIZE);
    }
    g_queue_init(&s->ctrl_out);
    return true;
}

static void ser_unrealize(Device *dev)
{
    VirtioSerialState *s = (VirtioSerialState *)dev;
    for (unsigned i = 0; i < VSER_MAX_PORTS; i++)
        if (s->port[i])
            s->port[i]->ser = NULL;
    ctrl_clear(s);
    if (s->ctrl_saved)
        g_bytes_unref(s->ctrl_saved);
    s->ctrl_saved = NULL;
    g_clear_pointer(&s->peers_saved, g_bytes_unref);
    virtio_pci_unrealize(&s->vp);
}

static void ser_dev_reset(Device *dev)
{
    virtio_pci_reset(&((VirtioSerialState *)dev)->vp);
}

/* Pending control messages are saved as u32 length + bytes each. */
static void ser_pre_save(void *state)
{
    VirtioSerialState *s = state;
    GByteArray *a = g_byte_array_new();
    for (GList *l = s->ctrl_out.head; l; l = l->next) {
        gsize len;
        const uint8_t *d = g_bytes_get_data(l->data, &len);
        uint8_t n[4];
        pci_set_long(n, 0, (uint32_t)len);
        g_byte_array_append(a, n, 4);
        g_byte_array_append(a, d, (guint)len);
    }
    if (s->ctrl_saved)
        g_bytes_unref(s->ctrl_saved);
    s->ctrl_saved = g_byte_array_free_to_bytes(a);

    /* The session of an in-process peer behind a port (qemu-vdagent): u32 port number,
     * u32 length and the chardev's saved state, per port that has one. */
    GByteArray *peers = g_byte_array_new();
    for (unsigned i = 0; i < VSER_MAX_PORTS; i++) {
        GBytes *b = s->port[i] ? chardev_peer_state_save(s->port[i]->chr) : NULL;
        if (!b)
            continue;
        gsize len;
        const uint8_t *d = g_bytes_get_data(b, &len);
        uint8_t n[8];
        pci_set_long(n, 0, i);
        pci_set_long(n, 4, (uint32_t)len);
        g_byte_array_append(peers, n, 8);
        g_byte_array_append(peers, d, (guint)len);
        g_bytes_unref(b);
    }
    if (s->peers_saved)
        g_bytes_unref(s->peers_saved);
    s->peers_saved = g_byte_array_free_to_bytes(peers);
}

#define PEERS_SAVED_MAX (64u << 20)

/* Walks the saved sessions: checks each against its port's chardev (load false) or
 * loads it (load true, after the check passed). */
static bool peers_saved_walk(const VirtioSerialState *s, bool load, GError **err)
{
    gsize len = 0;
    const uint8_t *p = s->peers_saved ? g_bytes_get_data(s->peers_saved, &len) : NULL;
    bool seen[VSER_MAX_PORTS] = { false };
    while (len) {
        uint32_t nr = len >= 8 ? pci_get_long(p, 0) : UINT32_MAX, n = len >= 8 ? pci_get_long(p, 4) : 0;
        if (len < 8 || n > len - 8 || nr >= VSER_MAX_PORTS || seen[nr] || !s->port[nr]) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "virtio-serial-pci: saved agent sessions for ports this VM does not have");
            return false;
        }
        seen[nr] = true;
        g_autoptr(GBytes) b = g_bytes_new_static(p + 8, n);
        if (load)
            chardev_peer_state_load(s->port[nr]->chr, b);
        else if (!chardev_peer_state_check(s->port[nr]->chr, b, err))
            return false;
        p += 8 + n;
        len -= 8 + n;
    }
    return true;
}

#define CTRL_MSG_MAX (8 + VSER_NAME_MAX)
#define CTRL_SAVED_MAX (VSER_CTRL_PENDING_MAX * (4 + CTRL_MSG_MAX))

static bool ctrl_saved_walk(GBytes *b, GQueue *out, GError **err)
{
    gsize len = 0;
    const uint8_t *p = b ? g_bytes_get_data(b, &len) : NULL;
    unsigned count = 0;
    while (len) {
        uint32_t n = len >= 4 ? pci_get_long(p, 0) : 0;
        if (len < 4 || n < 8 || n > CTRL_MSG_MAX || n > len - 4 || ++count > VSER_CTRL_PENDING_MAX) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "virtio-serial-pci: bad pending control messages");
            return false;
        }
        if (out)
            g_queue_push_tail(out, g_bytes_new(p + 4, n));
        p += 4 + n;
        len -= 4 + n;
    }
    return true;
}

static bool ser_check(const void *state, GError **err)
{
    const VirtioSerialState *s = state;
    return virtio_pci_state_check(&s->vp, err) && ctrl_saved_walk(s->ctrl_saved, NULL, err) &&
           peers_saved_walk(s, false, err);
}

static void ser_post_load(void *state)
{
    VirtioSerialState *s = state;
    ctrl_clear(s);
    ctrl_saved_walk(s->ctrl_saved, &s->ctrl_out, NULL);
    g_clear_pointer(&s->ctrl_saved, g_bytes_unref);
    peers_saved_walk(s, true, NULL); /* checked before the load committed */
    g_clear_pointer(&s->peers_saved, g_bytes_unref);
    virtio_pci_post_load(&s->vp);
    /* The chardev's client may have come or gone since the save. */
    for (unsigned i = 0; i < VSER_MAX_PORTS; i++)
        if (s->port[i]) {
            chardev_set_fe_open(s->port[i]->chr, s->guest_open[i]);
            port_host_state(s, i);
            chardev_accept_input(s->port[i]->chr);
        }
}

static const VmStateField ser_fields[] = {
    VMSTATE_STRUCT(VirtioSerialState, vp, VirtioPci, &virtio_pci_vmsd),
    VMSTATE_BOOL(VirtioSerialState, driver_ready),
    { .name = "port_ready", .type = VMS_BOOL, .offset = offsetof(VirtioSerialState, port_ready), .count = VSER_MAX_PORTS },
    { .name = "guest_open", .type = VMS_BOOL, .offset = offsetof(VirtioSerialState, guest_open), .count = VSER_MAX_PORTS },
    { .name = "host_open", .type = VMS_BOOL, .offset = offsetof(VirtioSerialState, host_open), .count = VSER_MAX_PORTS },
    VMSTATE_BYTES(VirtioSerialState, ctrl_saved, CTRL_SAVED_MAX),
    /* Version 3: the agent sessions (older streams leave them as they are). */
    { .name = "peers_saved", .type = VMS_BYTES, .offset = VMS_OFF_(VirtioSerialState, peers_saved, GBytes *),
      .count = PEERS_SAVED_MAX, .version_added = 3 },
    VMSTATE_END,
};

static const VmStateDesc ser_vmsd = {
    .name = "virtio-serial-pci",
    .version = 3,
    .fields = ser_fields,
    .pre_save = ser_pre_save,
    .check = ser_check,
    .post_load = ser_post_load,
};

static const DeviceProp ser_props[] = {
    PCI_DEVICE_PROP_ADDR(VirtioSerialState, addr),
    VIRTIO_PCI_PROP_DISABLE_MODERN(VirtioSerialState, disable_modern),
    { NULL },
};

static const DeviceClass ser_class = {
    .name = "virtio-serial-pci",
    .description = "virtio console with ports (PCI 1af4:1003) for virtserialport and virtconsole",
    .instance_size = sizeof(VirtioSerialState),
    .user_creatable = true,
    .props = ser_props,
    .vmsd = &ser_vmsd,
    .realize = ser_realize,
    .reset = ser_dev_reset,
    .unrealize = ser_unrealize,
};

/* ---- the ports ---- */

/* The virtio-serial-pci device of bus= ("ID" or QEMU's "ID.0"), else the VM's first. */
static VirtioSerialState *find_bus(Vm *vm, const char *bus, GError **err)
{
    g_autofree char *id = bus ? g_strdup(bus) : NULL;
    if (id && g_str_has_suffix(id, ".0"))
        id[strlen(id) - 2] = '\0';
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass == &ser_class && d->realized && (!id || !g_strcmp0(d->id, id)))
            return (VirtioSerialState *)d;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no virtio-serial-pci device%s%s (add -device virtio-serial-pci first)",
                id ? " with id " : "", id ? id : "");
    return NULL;
}

static bool port_realize(Device *dev, GError **err)
{
    VirtioSerialPort *p = (VirtioSerialPort *)dev;
    p->console = !strcmp(dev->klass->name, "virtconsole");
    VirtioSerialState *s = find_bus(dev->vm, p->bus, err);
    if (!s)
        return false;
    if (p->name && strlen(p->name) > VSER_NAME_MAX) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: name longer than %d bytes", dev->klass->name,
                    VSER_NAME_MAX);
        return false;
    }
    /* QEMU's numbering: port 0 is a console's; other ports take the first free from 1. */
    if (p->nr == UINT32_MAX) {
        unsigned nr = p->console && !s->port[0] ? 0 : 1;
        while (nr < VSER_MAX_PORTS && s->port[nr])
            nr++;
        p->nr = nr;
    }
    if (p->nr >= VSER_MAX_PORTS || s->port[p->nr] || (p->nr == 0 && !p->console)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: port %u is taken or out of range (1 to %d%s)",
                    dev->klass->name, p->nr, VSER_MAX_PORTS - 1, p->console ? ", or 0" : "");
        return false;
    }
    p->ser = s;
    s->port[p->nr] = p;
    if (p->chr) {
        chardev_set_receiver(p->chr, port_can_read, port_read, p, lock_vm, unlock_vm, dev->vm);
        chardev_set_open_handler(p->chr, port_open_changed);
    }
    return true;
}

static void port_unrealize(Device *dev)
{
    VirtioSerialPort *p = (VirtioSerialPort *)dev;
    if (p->chr)
        chardev_set_receiver(p->chr, NULL, NULL, NULL, NULL, NULL, NULL);
    if (p->ser)
        p->ser->port[p->nr] = NULL;
    p->ser = NULL;
}

#define PORT_PROPS(nr_default)                                                                            \
    { "chardev", DEVICE_PROP_CHARDEV, offsetof(VirtioSerialPort, chr), "ID of the -chardev behind the port", \
      NULL, 0, 0, NULL },                                                                                 \
    { "name", DEVICE_PROP_STRING, offsetof(VirtioSerialPort, name), "the port's name the guest sees",   \
      NULL, 0, 0, NULL },                                                                                 \
    { "bus", DEVICE_PROP_STRING, offsetof(VirtioSerialPort, bus), "the virtio-serial-pci's id (ID or ID.0)", \
      NULL, 0, 0, NULL },                                                                                 \
    { "nr", DEVICE_PROP_U32, offsetof(VirtioSerialPort, nr), "port number (default: the first free)",   \
      nr_default, 0, UINT32_MAX, NULL },                                                                  \
    { NULL }

static const DeviceProp port_props[] = { PORT_PROPS("0xffffffff") };

static const DeviceClass port_class = {
    .name = "virtserialport",
    .description = "a named virtio-serial port (com.redhat.spice.0 for spice-vdagent) on a chardev",
    .instance_size = sizeof(VirtioSerialPort),
    .user_creatable = true,
    .props = port_props,
    .realize = port_realize,
    .unrealize = port_unrealize,
};

static const DeviceClass console_class = {
    .name = "virtconsole",
    .description = "a virtio-serial console port (the guest's hvc0) on a chardev",
    .instance_size = sizeof(VirtioSerialPort),
    .user_creatable = true,
    .props = port_props,
    .realize = port_realize,
    .unrealize = port_unrealize,
};

static void __attribute__((constructor)) ser_register(void)
{
    device_class_register(&ser_class);
    device_class_register(&port_class);
    device_class_register(&console_class);
}
