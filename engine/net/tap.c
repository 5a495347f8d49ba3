/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -netdev tap: the guest's frames go to a Linux TAP interface on the host
 * (Documentation/networking/tuntap.rst): /dev/net/tun opened non-blocking, TUNSETIFF
 * with IFF_TAP | IFF_NO_PI, so each read or write is exactly one Ethernet frame.
 *
 * One thread per netdev polls the descriptor (and an eventfd that stops it), queues
 * what it reads for the NIC (net_client_queue_rx) and hands it over with
 * net_client_deliver, which takes the engine lock: the same rules as slirp.c (net.h).
 * The guest's frames are written from the NIC's send path under the engine lock; a
 * full interface queue drops the frame, as a wire would.
 *
 * script=FILE runs FILE IFNAME after the interface exists (QEMU's way of bringing it
 * up and into a bridge), downscript=FILE before it is closed; no (the default here)
 * runs nothing. */
#include "engine/net/net-internal.h"
#include "engine/config.h"
#include "engine/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct TapParams {
    const char *ifname, *script, *downscript;
} TapParams;

typedef struct TapBackend {
    NetClient *nc;
    int fd, wake_fd;
    GThread *thread;
    int quit; /* atomic */
    char ifname[IFNAMSIZ];
    char *downscript;
    uint64_t dropped_host; /* engine lock: frames the interface's queue had no room for */
} TapBackend;

static bool is_no(const char *v)
{
    return !v || !*v || !strcmp(v, "no");
}

static bool params_parse(GPtrArray *opts, TapParams *p, GError **err)
{
    memset(p, 0, sizeof(*p));
    for (guint i = 0; i < opts->len; i++) {
        NetOpt *o = opts->pdata[i];
        if (!strcmp(o->key, "id"))
            continue;
        if (!strcmp(o->key, "ifname")) {
            p->ifname = o->value;
        } else if (!strcmp(o->key, "script")) {
            p->script = o->value;
        } else if (!strcmp(o->key, "downscript")) {
            p->downscript = o->value;
        } else if (!strcmp(o->key, "vnet_hdr") && !strcmp(o->value, "off")) {
            /* The frames carry no virtio-net header: what this back end does anyway. */
        } else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "unknown option '%s=%s' (tap takes ifname, script, downscript, vnet_hdr=off)", o->key,
                        o->value);
            return false;
        }
    }
    if (p->ifname && (!*p->ifname || strlen(p->ifname) >= IFNAMSIZ || strchr(p->ifname, '/') ||
                      strpbrk(p->ifname, " \t\n"))) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "ifname=%s: an interface name is 1 to %d characters without '/' or spaces", p->ifname,
                    IFNAMSIZ - 1);
        return false;
    }
    const char *scripts[2][2] = { { "script", p->script }, { "downscript", p->downscript } };
    for (int i = 0; i < 2; i++) {
        if (!is_no(scripts[i][1]) && !g_file_test(scripts[i][1], G_FILE_TEST_IS_EXECUTABLE)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s=%s: no such executable file (or no)",
                        scripts[i][0], scripts[i][1]);
            return false;
        }
    }
    return true;
}

static bool tap_check(GPtrArray *opts, GError **err)
{
    TapParams p;
    return params_parse(opts, &p, err);
}

/* Runs SCRIPT IFNAME and waits for it, as QEMU does with its ifup script. */
static bool run_script(const char *which, const char *script, const char *ifname, GError **err)
{
    const char *argv[] = { script, ifname, NULL };
    int status = 0;
    GError *local = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &local) ||
        !g_spawn_check_wait_status(status, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s %s %s: %s", which, script, ifname, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

static gpointer tap_thread(gpointer data)
{
    TapBackend *t = data;
    uint8_t *buf = g_malloc(NET_MAX_FRAME + 1);
    while (!g_atomic_int_get(&t->quit)) {
        struct pollfd p[2] = { { .fd = t->wake_fd, .events = POLLIN }, { .fd = t->fd, .events = POLLIN } };
        /* Frames the NIC could not take yet (full ring, paused VM) are offered again. */
        int timeout = net_client_rx_pending(t->nc) ? 20 : -1;
        int r = poll(p, 2, timeout);
        if (r < 0 && errno != EINTR) {
            VLOG(LOG_NET, "tap %s: poll: %s", t->ifname, g_strerror(errno));
            break;
        }
        if (p[0].revents & POLLIN) {
            uint64_t v;
            if (read(t->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                VLOG(LOG_NET, "tap: eventfd read: %s", g_strerror(errno));
        }
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            VLOG(LOG_NET, "tap %s: the interface went away", t->ifname);
            break;
        }
        /* A burst at most per round, so a flood cannot starve the delivery below. */
        for (int n = 0; n < 64 && (p[1].revents & POLLIN); n++) {
            ssize_t len = read(t->fd, buf, NET_MAX_FRAME + 1);
            if (len < 0)
                break;
            /* Longer than any card takes: net_client_queue_rx counts it as dropped. */
            net_client_queue_rx(t->nc, buf, (size_t)len);
        }
        if (net_client_rx_pending(t->nc))
            net_client_deliver(t->nc);
    }
    g_free(buf);
    return NULL;
}

static void tap_close(NetClient *nc)
{
    TapBackend *t = nc->be;
    if (t->thread) {
        g_atomic_int_set(&t->quit, 1);
        uint64_t one = 1;
        if (write(t->wake_fd, &one, sizeof(one)) < 0)
            VLOG(LOG_NET, "tap: eventfd write: %s", g_strerror(errno));
        g_thread_join(t->thread);
    }
    if (t->fd >= 0 && t->downscript) {
        GError *err = NULL;
        if (!run_script("downscript", t->downscript, t->ifname, &err)) {
            g_printerr("vireo: %s\n", err->message);
            g_error_free(err);
        }
    }
    if (t->fd >= 0)
        close(t->fd);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    g_free(t->downscript);
    g_free(t);
    nc->be = NULL;
}

static bool tap_open(NetClient *nc, GPtrArray *opts, GError **err)
{
    TapParams p;
    if (!params_parse(opts, &p, err))
        return false;
    TapBackend *t = g_new0(TapBackend, 1);
    t->nc = nc;
    t->wake_fd = -1;
    nc->be = t;
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENXIO || e == ENODEV)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                        "tap: this host has no /dev/net/tun (load the tun module: modprobe tun)");
        else if (e == EACCES || e == EPERM)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "tap: no permission to open /dev/net/tun (it needs root or access to that device)");
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "tap: /dev/net/tun: %s", g_strerror(e));
        goto fail;
    }
    struct ifreq ifr = { 0 };
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (p.ifname)
        g_strlcpy(ifr.ifr_name, p.ifname, IFNAMSIZ);
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        const char *name = p.ifname ? p.ifname : "tapN";
        close(t->fd);
        t->fd = -1;
        if (e == EPERM || e == EACCES)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "tap %s: no permission to create or attach it (needs CAP_NET_ADMIN, or create it "
                        "first: ip tuntap add dev %s mode tap user $USER)", name, name);
        else if (e == EBUSY)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "tap %s: in use by another program (or not a TAP)",
                        name);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "tap %s: %s", name, g_strerror(e));
        goto fail;
    }
    g_strlcpy(t->ifname, ifr.ifr_name, sizeof(t->ifname));
    if (!is_no(p.script) && !run_script("script", p.script, t->ifname, err))
        goto fail;
    t->downscript = is_no(p.downscript) ? NULL : g_strdup(p.downscript);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->wake_fd < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "eventfd: %s", g_strerror(errno));
        goto fail;
    }
    t->thread = g_thread_new("vireo-tap", tap_thread, t);
    VLOG(LOG_NET, "netdev %s: tap %s", nc->id, t->ifname);
    return true;
fail:
    tap_close(nc);
    return false;
}

static void tap_send(NetClient *nc, const uint8_t *frame, size_t len)
{
    TapBackend *t = nc->be;
    if (write(t->fd, frame, len) < 0) {
        t->dropped_host++;
        VLOG(LOG_NET, "tap %s: frame of %zu bytes not sent: %s", t->ifname, len, g_strerror(errno));
    }
}

static char *tap_describe(NetClient *nc)
{
    TapBackend *t = nc->be;
    return g_strdup_printf("ifname=%s, %" G_GUINT64_FORMAT " frames the host did not take", t->ifname,
                           t->dropped_host);
}

const NetBackendOps net_tap_ops = {
    .type = "tap",
    .check = tap_check,
    .open = tap_open,
    .send = tap_send,
    .close = tap_close,
    .describe = tap_describe,
};
