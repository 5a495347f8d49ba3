/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "netdev" back-end kind: option parsing, the queue between a back end and its NIC,
 * link state, and the monitor commands (see net.h for the lock rules). */
#include "engine/net/net-internal.h"
#include "engine/backend.h"
#include "engine/vm-internal.h"

#include <stdio.h>
#include <string.h>

typedef struct NetFrame {
    size_t len;
    uint8_t data[];
} NetFrame;

static const NetBackendOps *const net_types[] = {
    &net_slirp_ops,
    &net_tap_ops,
};

static const NetBackendOps *net_type_find(const char *type)
{
    for (size_t i = 0; i < G_N_ELEMENTS(net_types); i++)
        if (!strcmp(net_types[i]->type, type))
            return net_types[i];
    return NULL;
}

/* ---- option text ---- */

static void net_opt_free(gpointer p)
{
    NetOpt *o = p;
    g_free(o->key);
    g_free(o->value);
    g_free(o);
}

GPtrArray *net_opts_parse(const char *text, char **type, GError **err)
{
    GPtrArray *opts = g_ptr_array_new_with_free_func(net_opt_free);
    g_autoptr(GString) cur = g_string_new(NULL);
    bool first = true;
    *type = NULL;
    for (const char *p = text;; p++) {
        if (*p == ',' && p[1] == ',') {
            g_string_append_c(cur, ',');
            p++;
            continue;
        }
        if (*p && *p != ',') {
            g_string_append_c(cur, *p);
            continue;
        }
        const char *eq = strchr(cur->str, '=');
        if (first) {
            if (eq || !cur->len) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs a type first (user or tap)");
                goto fail;
            }
            *type = g_strdup(cur->str);
            first = false;
        } else if (!eq || eq == cur->str) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' is not KEY=VALUE", cur->str);
            goto fail;
        } else {
            NetOpt *o = g_new0(NetOpt, 1);
            o->key = g_strndup(cur->str, (size_t)(eq - cur->str));
            o->value = g_strdup(eq + 1);
            g_ptr_array_add(opts, o);
        }
        g_string_truncate(cur, 0);
        if (!*p)
            break;
    }
    return opts;
fail:
    g_clear_pointer(type, g_free);
    g_ptr_array_unref(opts);
    return NULL;
}

static bool netdev_check(const char *text, GError **err)
{
    g_autofree char *type = NULL;
    g_autoptr(GPtrArray) opts = net_opts_parse(text, &type, err);
    if (!opts)
        return false;
    const NetBackendOps *ops = net_type_find(type);
    if (!ops) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "unknown netdev type '%s' (this build has: user, tap)", type);
        return false;
    }
    return ops->check(opts, err);
}

static void netdev_close(void *p)
{
    NetClient *nc = p;
    if (nc->ops && nc->be)
        nc->ops->close(nc);
    g_queue_clear_full(&nc->queue, g_free);
    g_mutex_clear(&nc->queue_lock);
    g_free(nc->nic_id);
    g_free(nc->id);
    g_free(nc);
}

static void *netdev_open(Vm *vm, const char *id, const char *text, GError **err)
{
    g_autofree char *type = NULL;
    g_autoptr(GPtrArray) opts = net_opts_parse(text, &type, err);
    if (!opts)
        return NULL;
    const NetBackendOps *ops = net_type_find(type);
    if (!ops) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "unknown netdev type '%s'", type);
        return NULL;
    }
    if (!ops->check(opts, err))
        return NULL;
    NetClient *nc = g_new0(NetClient, 1);
    nc->vm = vm;
    nc->id = g_strdup(id);
    g_mutex_init(&nc->queue_lock);
    g_queue_init(&nc->queue);
    if (!ops->open(nc, opts, err)) {
        netdev_close(nc);
        return NULL;
    }
    nc->ops = ops;
    return nc;
}

/* Taking the engine lock waits for a delivery in progress on the back end's thread. */
static void netdev_stop(void *p)
{
    NetClient *nc = p;
    vm_lock(nc->vm);
    nc->stopped = true;
    vm_unlock(nc->vm);
}

static const BackendClass netdev_class = {
    .kind = "netdev",
    .description = "network back end (user: libslirp NAT; tap: a host TAP interface)",
    .check = netdev_check,
    .open = netdev_open,
    .close = netdev_close,
    .stop = netdev_stop,
};

static void __attribute__((constructor)) net_register(void)
{
    backend_class_register(&netdev_class);
}

/* ---- the NIC side ---- */

bool net_client_attach(NetClient *nc, const char *nic_id, const NetNicOps *ops, void *opaque,
                       GError **err)
{
    if (nc->nic_ops) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "netdev '%s' is already used by '%s'",
                    nc->id, nc->nic_id);
        return false;
    }
    nc->nic_ops = ops;
    nc->nic_opaque = opaque;
    nc->nic_id = g_strdup(nic_id);
    return true;
}

void net_client_detach(NetClient *nc)
{
    nc->nic_ops = NULL;
    nc->nic_opaque = NULL;
    g_clear_pointer(&nc->nic_id, g_free);
}

bool net_client_link_up(const NetClient *nc)
{
    return !nc->link_down;
}

void net_client_count_bad(NetClient *nc)
{
    nc->bad_frames++;
}

/* Delivers what the NIC can take now. Engine lock held. */
static void deliver_locked(NetClient *nc)
{
    if (nc->delivering)
        return;
    nc->delivering = true;
    while (nc->nic_ops && !nc->stopped && nc->vm->state != VM_STATE_PAUSED) {
        g_mutex_lock(&nc->queue_lock);
        NetFrame *f = g_queue_peek_head(&nc->queue);
        g_mutex_unlock(&nc->queue_lock);
        if (!f)
            break;
        if (nc->link_down) {
            nc->dropped_link++;
        } else {
            if (!nc->nic_ops->can_receive(nc->nic_opaque, f->len))
                break;
            nc->rx_frames++;
            nc->nic_ops->receive(nc->nic_opaque, f->data, f->len);
        }
        /* Only this function takes frames off the queue, under the engine lock. */
        g_mutex_lock(&nc->queue_lock);
        g_queue_pop_head(&nc->queue);
        nc->queued_bytes -= f->len;
        g_mutex_unlock(&nc->queue_lock);
        g_free(f);
    }
    nc->delivering = false;
}

void net_client_send(NetClient *nc, const uint8_t *frame, size_t len)
{
    if (nc->link_down) {
        nc->dropped_link++;
        return;
    }
    if (len < 14 || len > NET_MAX_FRAME) {
        nc->dropped_size++;
        return;
    }
    nc->tx_frames++;
    VLOG(LOG_NET, "net %s: guest sent %zu bytes", nc->id, len);
    nc->ops->send(nc, frame, len);
    /* Answers the back end produced at once (ARP, DHCP) go to the NIC now. */
    deliver_locked(nc);
}

void net_client_rx_ready(NetClient *nc)
{
    deliver_locked(nc);
}

void net_client_queue_rx(NetClient *nc, const uint8_t *frame, size_t len)
{
    if (len > NET_MAX_FRAME || !len) {
        g_mutex_lock(&nc->queue_lock);
        nc->dropped_queue++;
        g_mutex_unlock(&nc->queue_lock);
        return;
    }
    g_mutex_lock(&nc->queue_lock);
    if (nc->queue.length >= NET_QUEUE_MAX_FRAMES || nc->queued_bytes + len > NET_QUEUE_MAX_BYTES) {
        nc->dropped_queue++;
        g_mutex_unlock(&nc->queue_lock);
        return;
    }
    NetFrame *f = g_malloc(sizeof(*f) + len);
    f->len = len;
    memcpy(f->data, frame, len);
    g_queue_push_tail(&nc->queue, f);
    nc->queued_bytes += len;
    g_mutex_unlock(&nc->queue_lock);
}

bool net_client_rx_pending(NetClient *nc)
{
    g_mutex_lock(&nc->queue_lock);
    bool r = nc->queue.length > 0;
    g_mutex_unlock(&nc->queue_lock);
    return r;
}

void net_client_deliver(NetClient *nc)
{
    vm_lock(nc->vm);
    deliver_locked(nc);
    vm_unlock(nc->vm);
}

/* ---- MAC addresses ---- */

bool net_nic_mac(const char *prop, uint8_t mac[6], GError **err)
{
    if (!prop || !*prop) {
        static int next;
        static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        memcpy(mac, base, 6);
        mac[5] = (uint8_t)(0x56 + g_atomic_int_add(&next, 1));
        return true;
    }
    unsigned b[6];
    char sep[5], end;
    if (sscanf(prop, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &b[0], &sep[0], &b[1], &sep[1], &b[2], &sep[2],
               &b[3], &sep[3], &b[4], &sep[4], &b[5], &end) != 11 || strlen(prop) != 17) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "mac=%s: not a MAC address (six hex bytes: 52:54:00:12:34:56)", prop);
        return false;
    }
    for (int i = 0; i < 5; i++)
        if (sep[i] != ':' && sep[i] != '-') {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "mac=%s: not a MAC address (six hex bytes: 52:54:00:12:34:56)", prop);
            return false;
        }
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    if (mac[0] & 1) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "mac=%s: a multicast address cannot be a card's", prop);
        return false;
    }
    return true;
}

/* ---- monitor commands ---- */

static NetClient *find_client(Vm *vm, const char *name, bool by_nic, GError **err)
{
    g_autoptr(GPtrArray) all = backend_list(vm, "netdev");
    for (guint i = 0; i < all->len; i++) {
        NetClient *nc = all->pdata[i];
        if (!name || !strcmp(nc->id, name) || (by_nic && nc->nic_id && !strcmp(nc->nic_id, name)))
            return nc;
    }
    if (name)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no netdev%s '%s'", by_nic ? " or card" : "", name);
    else
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "the VM has no netdev");
    return NULL;
}

static bool hostfwd(Vm *vm, const char *id, bool add, const char *rule, GError **err)
{
    NetClient *nc = find_client(vm, id, false, err);
    if (!nc)
        return false;
    if (!nc->ops->hostfwd) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "netdev '%s' (%s) has no port forwards",
                    nc->id, nc->ops->type);
        return false;
    }
    return nc->ops->hostfwd(nc, add, rule, err);
}

bool net_hostfwd_add(Vm *vm, const char *netdev_id, const char *rule, GError **err)
{
    return hostfwd(vm, netdev_id, true, rule, err);
}

bool net_hostfwd_remove(Vm *vm, const char *netdev_id, const char *rule, GError **err)
{
    return hostfwd(vm, netdev_id, false, rule, err);
}

bool net_set_link(Vm *vm, const char *name, bool up, GError **err)
{
    vm_lock(vm);
    NetClient *nc = find_client(vm, name, true, err);
    if (nc && nc->link_down == up) {
        nc->link_down = !up;
        VLOG(LOG_NET, "net %s: link %s", nc->id, up ? "up" : "down");
        if (nc->nic_ops && nc->nic_ops->link_changed)
            nc->nic_ops->link_changed(nc->nic_opaque, up);
        if (up)
            deliver_locked(nc);
    }
    vm_unlock(vm);
    return nc != NULL;
}

char *net_guest_address(Vm *vm)
{
    g_autoptr(GPtrArray) all = backend_list(vm, "netdev");
    for (guint i = 0; i < all->len; i++) {
        NetClient *nc = all->pdata[i];
        if (nc->ops->guest_address)
            return nc->ops->guest_address(nc);
    }
    return NULL;
}

char *net_info_text(Vm *vm)
{
    GString *s = g_string_new(NULL);
    vm_lock(vm);
    g_autoptr(GPtrArray) all = backend_list(vm, "netdev");
    for (guint i = 0; i < all->len; i++) {
        NetClient *nc = all->pdata[i];
        g_autofree char *desc = nc->ops->describe ? nc->ops->describe(nc) : g_strdup("");
        g_mutex_lock(&nc->queue_lock);
        g_string_append_printf(s,
                               "%s: type=%s%s%s, card=%s, link=%s\r\n"
                               "  tx %" G_GUINT64_FORMAT " frames, rx %" G_GUINT64_FORMAT " frames, "
                               "%u queued, dropped: %" G_GUINT64_FORMAT " queue full, %" G_GUINT64_FORMAT
                               " link down, %" G_GUINT64_FORMAT " bad size, %" G_GUINT64_FORMAT " bad by card\r\n",
                               nc->id, nc->ops->type, *desc ? ", " : "", desc,
                               nc->nic_id ? nc->nic_id : "(none)", nc->link_down ? "down" : "up",
                               nc->tx_frames, nc->rx_frames, nc->queue.length, nc->dropped_queue,
                               nc->dropped_link, nc->dropped_size, nc->bad_frames);
        g_mutex_unlock(&nc->queue_lock);
    }
    vm_unlock(vm);
    if (!s->len)
        g_string_append(s, "no network back ends\r\n");
    return g_string_free(s, FALSE);
}
