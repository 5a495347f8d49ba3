/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -netdev user: NAT to the host's network through libslirp, with QEMU's defaults
 * (network 10.0.2.0/24, the host at .2, DNS at .3, DHCP from .15; IPv6 fec0::/64).
 *
 * libslirp is not thread-safe: every call into it holds SlirpBackend.lock. Its sockets
 * and timers are served by one thread per netdev (poll(2) on slirp's descriptors, an
 * eventfd to wake it, and slirp's own timers in host milliseconds), independent of
 * which front end runs a main loop. Frames slirp produces are queued for the NIC
 * (net_client_queue_rx, under the lock) and handed to it by this thread after it has
 * dropped the lock (net_client_deliver takes the engine lock), or by the NIC's own
 * send path, which already holds the engine lock (net.h: engine lock, then this lock,
 * then the queue lock). */
#include "engine/net/net-internal.h"
#include "engine/config.h"
#include "engine/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct SlirpTimer {
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
} SlirpTimer;

typedef struct SlirpBackend {
    NetClient *nc;
    GMutex lock;
    Slirp *slirp;
    GThread *thread;
    int wake_fd;
    int wake_pending; /* atomic: the eventfd was written and not yet drained */
    bool quit;
    GArray *pfds;    /* struct pollfd, rebuilt each round (thread only) */
    GPtrArray *timers;
    struct in_addr net, mask, host, dns, dhcp;
    bool restricted;
    GPtrArray *forwards; /* the rules in force, as given */
    char *tftp, *bootfile, *hostname, *tftp_server;
    struct in_addr leased; /* the last address slirp's DHCP server acknowledged; 0: none */
} SlirpBackend;

typedef struct SlirpParams {
    struct in_addr net, mask, host, dns, dhcp;
    bool restricted, ipv6;
    const char *tftp, *bootfile, *hostname, *tftp_server;
    GPtrArray *forwards; /* const char * into the options */
} SlirpParams;

static int64_t host_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void wake(SlirpBackend *s)
{
    if (g_atomic_int_compare_and_exchange(&s->wake_pending, 0, 1)) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            VLOG(LOG_NET, "slirp: eventfd write: %s", g_strerror(errno));
    }
}

/* ---- options ---- */

static bool parse_bool(const char *key, const char *v, bool *out, GError **err)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "y") || !strcmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "n") || !strcmp(v, "false")) {
        *out = false;
        return true;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s: expected on or off", key, v);
    return false;
}

static bool parse_addr(const char *key, const char *v, struct in_addr *a, GError **err)
{
    if (inet_pton(AF_INET, v, a) != 1) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s: not an IPv4 address", key, v);
        return false;
    }
    return true;
}

/* net=ADDR[/BITS|/MASK] */
static bool parse_net(const char *v, struct in_addr *net, struct in_addr *mask, GError **err)
{
    g_auto(GStrv) parts = g_strsplit(v, "/", 2);
    if (!parse_addr("net", parts[0], net, err))
        return false;
    uint32_t m = 0xffffff00u;
    if (parts[1]) {
        char *end;
        unsigned long bits = strtoul(parts[1], &end, 10);
        if (*parts[1] && !*end && bits <= 32) {
            m = bits ? ~0u << (32 - bits) : 0;
        } else {
            struct in_addr ma;
            if (inet_pton(AF_INET, parts[1], &ma) != 1) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "net=%s: bad netmask", v);
                return false;
            }
            m = ntohl(ma.s_addr);
            if (m & (~m >> 1)) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "net=%s: netmask is not contiguous", v);
                return false;
            }
        }
    }
    /* slirp needs room for the host, DNS and a DHCP range. */
    if (m > 0xfffffff8u) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "net=%s: the network is too small", v);
        return false;
    }
    mask->s_addr = htonl(m);
    net->s_addr &= mask->s_addr;
    return true;
}

static bool in_net(struct in_addr a, struct in_addr net, struct in_addr mask)
{
    return (a.s_addr & mask.s_addr) == net.s_addr && (a.s_addr & ~mask.s_addr) != 0 &&
           (a.s_addr & ~mask.s_addr) != ~mask.s_addr;
}

/* "tcp|udp:[hostaddr]:hostport[-[guestaddr]:guestport]" (QEMU's hostfwd; no protocol
 * means tcp). */
typedef struct Fwd {
    bool udp;
    struct in_addr haddr, gaddr;
    int hport, gport;
} Fwd;

static bool parse_port(const char *rule, const char *v, int min, int *port, GError **err)
{
    char *end;
    long p = strtol(v, &end, 10);
    if (!*v || *end || p < min || p > 65535) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "hostfwd %s: bad port '%s'", rule, v);
        return false;
    }
    *port = (int)p;
    return true;
}

static bool parse_fwd(const char *rule, bool with_guest, struct in_addr dflt_guest, Fwd *f, GError **err)
{
    const char *syntax = with_guest ? "tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport"
                                    : "tcp|udp:[hostaddr]:hostport";
    g_auto(GStrv) hg = g_strsplit(rule, "-", 2);
    g_auto(GStrv) h = g_strsplit(hg[0], ":", 0);
    if (g_strv_length(h) != 3 || (with_guest != (hg[1] != NULL)))
        goto syntax;
    if (!strcmp(h[0], "udp"))
        f->udp = true;
    else if (!strcmp(h[0], "tcp") || !*h[0])
        f->udp = false;
    else
        goto syntax;
    f->haddr.s_addr = INADDR_ANY;
    if (*h[1] && inet_pton(AF_INET, h[1], &f->haddr) != 1)
        goto syntax;
    if (!parse_port(rule, h[2], 0, &f->hport, err))
        return false;
    if (!with_guest)
        return true;
    char **g = g_strsplit(hg[1], ":", 0);
    bool ok = g_strv_length(g) == 2;
    f->gaddr = dflt_guest;
    if (ok && *g[0] && inet_pton(AF_INET, g[0], &f->gaddr) != 1)
        ok = false;
    if (ok) {
        ok = parse_port(rule, g[1], 1, &f->gport, err);
        g_strfreev(g);
        return ok;
    }
    g_strfreev(g);
syntax:
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "hostfwd %s: expected %s", rule, syntax);
    return false;
}

static bool params_parse(GPtrArray *opts, SlirpParams *p, GError **err)
{
    memset(p, 0, sizeof(*p));
    inet_pton(AF_INET, "10.0.2.0", &p->net);
    p->mask.s_addr = htonl(0xffffff00u);
    p->ipv6 = true;
    bool have_host = false, have_dns = false, have_dhcp = false;
    p->forwards = g_ptr_array_new();
    for (guint i = 0; i < opts->len; i++) {
        NetOpt *o = opts->pdata[i];
        const char *k = o->key, *v = o->value;
        bool ok = true, ipv4 = true;
        if (!strcmp(k, "id"))
            continue;
        else if (!strcmp(k, "net"))
            ok = parse_net(v, &p->net, &p->mask, err);
        else if (!strcmp(k, "host"))
            ok = have_host = parse_addr(k, v, &p->host, err);
        else if (!strcmp(k, "dns"))
            ok = have_dns = parse_addr(k, v, &p->dns, err);
        else if (!strcmp(k, "dhcpstart"))
            ok = have_dhcp = parse_addr(k, v, &p->dhcp, err);
        else if (!strcmp(k, "restrict"))
            ok = parse_bool(k, v, &p->restricted, err);
        else if (!strcmp(k, "ipv6"))
            ok = parse_bool(k, v, &p->ipv6, err);
        else if (!strcmp(k, "ipv4")) {
            ok = parse_bool(k, v, &ipv4, err);
            if (ok && !ipv4) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "ipv4=off is not supported");
                ok = false;
            }
        } else if (!strcmp(k, "tftp"))
            p->tftp = v;
        else if (!strcmp(k, "bootfile"))
            p->bootfile = v;
        else if (!strcmp(k, "tftp-server-name"))
            p->tftp_server = v;
        else if (!strcmp(k, "hostname"))
            p->hostname = v;
        else if (!strcmp(k, "hostfwd"))
            g_ptr_array_add(p->forwards, (gpointer)v);
        else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "unknown option '%s' (user takes net, host, dns, dhcpstart, hostfwd, restrict, "
                        "tftp, bootfile, tftp-server-name, hostname, ipv6)", k);
            ok = false;
        }
        if (!ok)
            goto fail;
    }
    uint32_t n = ntohl(p->net.s_addr);
    if (!have_host)
        p->host.s_addr = htonl(n | 2);
    if (!have_dns)
        p->dns.s_addr = htonl(n | 3);
    if (!have_dhcp)
        p->dhcp.s_addr = htonl(n | 15);
    const struct { const char *name; struct in_addr a; } chk[] = {
        { "host", p->host }, { "dns", p->dns }, { "dhcpstart", p->dhcp } };
    for (size_t i = 0; i < G_N_ELEMENTS(chk); i++) {
        if (!in_net(chk[i].a, p->net, p->mask)) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &chk[i].a, a, sizeof(a));
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s is not a host address of the network",
                        chk[i].name, a);
            goto fail;
        }
    }
    if (p->tftp && !g_file_test(p->tftp, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "tftp=%s: not a folder", p->tftp);
        goto fail;
    }
    for (guint i = 0; i < p->forwards->len; i++) {
        Fwd f;
        if (!parse_fwd(p->forwards->pdata[i], true, p->dhcp, &f, err))
            goto fail;
    }
    return true;
fail:
    g_clear_pointer(&p->forwards, g_ptr_array_unref);
    return false;
}

static bool slirp_check(GPtrArray *opts, GError **err)
{
    SlirpParams p;
    if (!params_parse(opts, &p, err))
        return false;
    g_ptr_array_unref(p.forwards);
    return true;
}

/* ---- libslirp callbacks (all with s->lock held) ---- */

/* libslirp keeps its DHCP leases to itself: the address it gives is read from its
 * DHCPACK on the way to the guest. Ethernet II, IPv4 (RFC 791), UDP 67 -> 68, BOOTP
 * reply (RFC 951: yiaddr at 16, the magic cookie at 236) with option 53 = 5 (RFC 2132). */
static void snoop_dhcp_ack(SlirpBackend *s, const uint8_t *f, size_t len)
{
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4 || f[14 + 9] != 17)
        return;
    size_t ip_len = (size_t)(f[14] & 15) * 4;
    const uint8_t *udp = f + 14 + ip_len;
    if (ip_len < 20 || 14 + ip_len + 8 + 240 > len || udp[0] != 0 || udp[1] != 67 || udp[2] != 0 || udp[3] != 68)
        return;
    const uint8_t *bootp = udp + 8, *end = f + len;
    static const uint8_t cookie[4] = { 99, 130, 83, 99 };
    if (bootp[0] != 2 || memcmp(bootp + 236, cookie, 4))
        return;
    for (const uint8_t *o = bootp + 240; o < end && *o != 255;) {
        if (*o == 0) {
            o++;
            continue;
        }
        if (o + 2 > end || o + 2 + o[1] > end)
            return;
        if (o[0] == 53 && o[1] == 1) {
            if (o[2] == 5)
                memcpy(&s->leased, bootp + 16, 4);
            return;
        }
        o += 2 + o[1];
    }
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    SlirpBackend *s = opaque;
    snoop_dhcp_ack(s, buf, len);
    net_client_queue_rx(s->nc, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    SlirpBackend *s = opaque;
    VLOG(LOG_GUEST, "netdev %s: %s", s->nc->id, msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    return g_get_monotonic_time() * 1000;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    SlirpBackend *s = opaque;
    SlirpTimer *t = g_new0(SlirpTimer, 1);
    t->id = id;
    t->cb_opaque = cb_opaque;
    t->expire_ms = -1;
    g_ptr_array_add(s->timers, t);
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    SlirpBackend *s = opaque;
    g_ptr_array_remove(s->timers, timer);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    SlirpBackend *s = opaque;
    ((SlirpTimer *)timer)->expire_ms = expire_ms;
    wake(s);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
    wake(opaque);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
    SlirpBackend *s = opaque;
    struct pollfd p = { .fd = fd };
    if (events & SLIRP_POLL_IN)
        p.events |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        p.events |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        p.events |= POLLPRI;
    g_array_append_val(s->pfds, p);
    return (int)s->pfds->len - 1;
}

static int get_revents(int idx, void *opaque)
{
    SlirpBackend *s = opaque;
    if (idx < 1 || (guint)idx >= s->pfds->len) /* 0 is the eventfd */
        return 0;
    short r = g_array_index(s->pfds, struct pollfd, idx).revents;
    int ev = 0;
    if (r & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    /* POLLNVAL: the socket was closed by a frame from the guest after the poll set was
     * built; it is gone from slirp's lists, nothing to report. */
    return ev;
}

/* The poll thread: slirp's sockets, its timers, and frames waiting for the NIC. */
static gpointer slirp_thread(gpointer data)
{
    SlirpBackend *s = data;
    g_mutex_lock(&s->lock);
    while (!s->quit) {
        g_array_set_size(s->pfds, 0);
        struct pollfd w = { .fd = s->wake_fd, .events = POLLIN };
        g_array_append_val(s->pfds, w);
        uint32_t timeout = 1000;
        slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
        int64_t now = host_ms();
        for (guint i = 0; i < s->timers->len; i++) {
            SlirpTimer *t = s->timers->pdata[i];
            if (t->expire_ms >= 0)
                timeout = (uint32_t)MIN((int64_t)timeout, MAX(0, t->expire_ms - now));
        }
        /* Frames the NIC could not take (full ring, paused VM) are offered again. */
        if (net_client_rx_pending(s->nc))
            timeout = MIN(timeout, 20u);
        g_mutex_unlock(&s->lock);
        int r = poll((struct pollfd *)s->pfds->data, s->pfds->len, (int)timeout);
        int saved_errno = errno;
        g_mutex_lock(&s->lock);
        if (s->quit)
            break;
        if (g_array_index(s->pfds, struct pollfd, 0).revents & POLLIN) {
            uint64_t v;
            g_atomic_int_set(&s->wake_pending, 0);
            if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                VLOG(LOG_NET, "slirp: eventfd read: %s", g_strerror(errno));
        }
        if (r < 0 && saved_errno != EINTR)
            VLOG(LOG_NET, "slirp: poll: %s", g_strerror(saved_errno));
        slirp_pollfds_poll(s->slirp, r < 0, get_revents, s);
        now = host_ms();
        for (guint i = 0; i < s->timers->len; i++) {
            SlirpTimer *t = s->timers->pdata[i];
            if (t->expire_ms >= 0 && t->expire_ms <= now) {
                t->expire_ms = -1;
                slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
                break; /* the handler may have changed the list: look again next round */
            }
        }
        g_mutex_unlock(&s->lock);
        if (net_client_rx_pending(s->nc))
            net_client_deliver(s->nc);
        g_mutex_lock(&s->lock);
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the back end ---- */

static bool add_forward(SlirpBackend *s, const char *rule, GError **err)
{
    Fwd f;
    if (!parse_fwd(rule, true, s->dhcp, &f, err))
        return false;
    if (slirp_add_hostfwd(s->slirp, f.udp, f.haddr, f.hport, f.gaddr, f.gport) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                    "hostfwd %s: could not set up the forward (the host port may be in use)", rule);
        return false;
    }
    g_ptr_array_add(s->forwards, g_strdup(rule));
    return true;
}

static void slirp_close(NetClient *nc)
{
    SlirpBackend *s = nc->be;
    if (s->thread) {
        g_mutex_lock(&s->lock);
        s->quit = true;
        g_mutex_unlock(&s->lock);
        wake(s);
        /* wake_pending may have been set already: make sure the thread sees it. */
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            VLOG(LOG_NET, "slirp: eventfd write: %s", g_strerror(errno));
        g_thread_join(s->thread);
    }
    if (s->slirp)
        slirp_cleanup(s->slirp);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    g_ptr_array_unref(s->timers);
    g_ptr_array_unref(s->forwards);
    g_array_unref(s->pfds);
    g_mutex_clear(&s->lock);
    g_free(s->tftp);
    g_free(s->bootfile);
    g_free(s->hostname);
    g_free(s->tftp_server);
    g_free(s);
    nc->be = NULL;
}

static bool slirp_open(NetClient *nc, GPtrArray *opts, GError **err)
{
    SlirpParams p;
    if (!params_parse(opts, &p, err))
        return false;
    SlirpBackend *s = g_new0(SlirpBackend, 1);
    s->nc = nc;
    nc->be = s;
    g_mutex_init(&s->lock);
    s->timers = g_ptr_array_new_with_free_func(g_free);
    s->forwards = g_ptr_array_new_with_free_func(g_free);
    s->pfds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
    s->net = p.net;
    s->mask = p.mask;
    s->host = p.host;
    s->dns = p.dns;
    s->dhcp = p.dhcp;
    s->restricted = p.restricted;
    s->tftp = g_strdup(p.tftp);
    s->bootfile = g_strdup(p.bootfile);
    s->hostname = g_strdup(p.hostname);
    s->tftp_server = g_strdup(p.tftp_server);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "eventfd: %s", g_strerror(errno));
        goto fail;
    }

    SlirpConfig cfg = { 0 };
    cfg.version = 4;
    cfg.restricted = p.restricted;
    cfg.in_enabled = true;
    cfg.vnetwork = p.net;
    cfg.vnetmask = p.mask;
    cfg.vhost = p.host;
    cfg.in6_enabled = p.ipv6;
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    cfg.vprefix_len = 64;
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    cfg.vhostname = s->hostname;
    cfg.tftp_path = s->tftp;
    cfg.bootfile = s->bootfile;
    /* DHCP option 66, for firmware that asks for the TFTP server by name. */
    cfg.tftp_server_name = s->tftp_server;
    cfg.vdhcp_start = p.dhcp;
    cfg.vnameserver = p.dns;
    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "libslirp refused the configuration");
        goto fail;
    }
    for (guint i = 0; i < p.forwards->len; i++)
        if (!add_forward(s, p.forwards->pdata[i], err))
            goto fail;
    g_ptr_array_unref(p.forwards);
    p.forwards = NULL;
    s->thread = g_thread_new("vireo-slirp", slirp_thread, s);
    return true;
fail:
    g_clear_pointer(&p.forwards, g_ptr_array_unref);
    slirp_close(nc);
    return false;
}

static void slirp_send(NetClient *nc, const uint8_t *frame, size_t len)
{
    SlirpBackend *s = nc->be;
    g_mutex_lock(&s->lock);
    slirp_input(s->slirp, frame, (int)len);
    g_mutex_unlock(&s->lock);
    /* The frame may have opened a socket or queued data for one: rebuild the poll set. */
    wake(s);
}

static bool slirp_hostfwd(NetClient *nc, bool add, const char *rule, GError **err)
{
    SlirpBackend *s = nc->be;
    bool ok;
    g_mutex_lock(&s->lock);
    if (add) {
        ok = add_forward(s, rule, err);
    } else {
        Fwd f;
        ok = parse_fwd(rule, false, s->dhcp, &f, err);
        if (ok && slirp_remove_hostfwd(s->slirp, f.udp, f.haddr, f.hport) < 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "hostfwd %s: no such forward", rule);
            ok = false;
        }
        /* libslirp removes the first socket bound to that address, which may be a
         * connection made through the forward rather than its listener: remove them
         * all, so the port is closed as asked (its connections go with it). */
        for (int i = 0; ok && i < 4096 && slirp_remove_hostfwd(s->slirp, f.udp, f.haddr, f.hport) == 0; i++)
            ;
        if (ok) {
            /* Forget the rules that used this host address and port. */
            for (guint i = s->forwards->len; i-- > 0;) {
                Fwd g;
                if (parse_fwd(s->forwards->pdata[i], true, s->dhcp, &g, NULL) && g.udp == f.udp &&
                    g.hport == f.hport && g.haddr.s_addr == f.haddr.s_addr)
                    g_ptr_array_remove_index(s->forwards, i);
            }
        }
    }
    g_mutex_unlock(&s->lock);
    wake(s);
    return ok;
}

static char *slirp_describe(NetClient *nc)
{
    SlirpBackend *s = nc->be;
    char net[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN], dns[INET_ADDRSTRLEN], dhcp[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &s->net, net, sizeof(net));
    inet_ntop(AF_INET, &s->host, host, sizeof(host));
    inet_ntop(AF_INET, &s->dns, dns, sizeof(dns));
    inet_ntop(AF_INET, &s->dhcp, dhcp, sizeof(dhcp));
    g_mutex_lock(&s->lock);
    g_autofree char *fw = NULL;
    if (s->forwards->len) {
        g_ptr_array_add(s->forwards, NULL);
        fw = g_strjoinv(" ", (char **)s->forwards->pdata);
        g_ptr_array_remove_index(s->forwards, s->forwards->len - 1);
    }
    struct in_addr leased = s->leased;
    g_mutex_unlock(&s->lock);
    char guest[INET_ADDRSTRLEN] = "none";
    if (leased.s_addr)
        inet_ntop(AF_INET, &leased, guest, sizeof(guest));
    return g_strdup_printf("net=%s/%d host=%s dns=%s dhcpstart=%s restrict=%s guest=%s hostfwd=[%s]", net,
                           __builtin_popcount(ntohl(s->mask.s_addr)),
                           host, dns, dhcp, s->restricted ? "on" : "off", guest, fw ? fw : "");
}

static char *slirp_guest_address(NetClient *nc)
{
    SlirpBackend *s = nc->be;
    g_mutex_lock(&s->lock);
    struct in_addr leased = s->leased;
    g_mutex_unlock(&s->lock);
    if (!leased.s_addr)
        return NULL;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &leased, a, sizeof(a));
    return g_strdup(a);
}

const NetBackendOps net_slirp_ops = {
    .type = "user",
    .check = slirp_check,
    .open = slirp_open,
    .send = slirp_send,
    .close = slirp_close,
    .hostfwd = slirp_hostfwd,
    .describe = slirp_describe,
    .guest_address = slirp_guest_address,
};
