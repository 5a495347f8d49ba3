/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Character devices. stdio reads the terminal on the main context in raw mode and
 * understands QEMU's Ctrl+A escapes (Ctrl+A X quits, Ctrl+A H helps). */
#include "engine/chardev.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "engine/stream.h"
#include "engine/vdagent.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

typedef enum { CHR_NULL, CHR_STDIO, CHR_FILE, CHR_SOCKET, CHR_PEER } ChrKind;

#define CHR_PENDING_MAX 4096
/* An in-process peer queues whole agent messages (a clipboard's text in 2 KiB chunks):
 * more may wait for the guest's buffers than a socket's read size. */
#define CHR_PEER_PENDING_MAX (64 * 1024)
#define CTRL_A 0x01

struct Chardev {
    ChrKind kind;
    int in_fd, out_fd;
    ChardevCanRead can_read;
    ChardevRead read;
    void *opaque;
    void (*lock_fn)(void *);
    void (*unlock_fn)(void *);
    void *lock_data;
    GByteArray *pending;
    guint watch;
    guint idle;
    bool escape;
    void (*quit_fn)(void *);
    void *quit_opaque;
    int listen_fd;   /* socket: the listening socket; in_fd = out_fd = the client */
    guint accept_watch;
    char *path;
    void (*open_fn)(void *opaque, bool open);
    GMutex mutex; /* guards pending and idle against the device thread */
    /* CHR_PEER: kind is the spec ("spicevmc:vdagent", "qemu-vdagent"); the peer is
     * attached and detached on the main context, guarded by mutex for its readers. */
    char *peer_kind;
    const ChardevPeerOps *peer_ops;
    void *peer_opaque;
    void *vdagent; /* engine/vdagent.c's peer, for "qemu-vdagent" */
    bool fe_open;  /* the device says a guest program has the port open */
};

static struct termios saved_tty;
static bool tty_saved;

void chardev_restore_terminal(void)
{
    if (tty_saved) {
        tcsetattr(0, TCSANOW, &saved_tty);
        tty_saved = false;
    }
}

static void set_raw_terminal(void)
{
    if (tty_saved || !isatty(0))
        return;
    if (tcgetattr(0, &saved_tty) < 0)
        return;
    tty_saved = true;
    atexit(chardev_restore_terminal);
    struct termios t = saved_tty;
    t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    /* OPOST stays on so a lone \n from the guest still starts a new line. */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &t);
}

static gboolean socket_accept(int fd, GIOCondition cond, gpointer data);

static bool socket_listen(Chardev *c, const char *path, GError **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "socket path '%s' is too long", path);
        return false;
    }
    strcpy(sa.sun_path, path);
    /* A socket left by an earlier run is replaced; anything else at the path is not. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' exists and is not a socket", path);
            return false;
        }
        unlink(path);
    }
    c->kind = CHR_SOCKET;
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(c->listen_fd, 1) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot listen on '%s': %s", path, g_strerror(errno));
        return false;
    }
    c->path = g_strdup(path);
    c->accept_watch = g_unix_fd_add(c->listen_fd, G_IO_IN, socket_accept, c);
    return true;
}

/* A listening TCP socket on HOST:PORT (spec "tcp:HOST:PORT"): usbredirect and other
 * clients that only speak TCP. HOST is an address or name of this machine. */
static bool tcp_listen(Chardev *c, const char *hostport, GError **err)
{
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1]) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a TCP socket needs host=HOST,port=PORT");
        return false;
    }
    g_autofree char *host = g_strndup(hostport, (gsize)(colon - hostport));
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0 || !ai) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot listen on %s: %s", hostport, gai_strerror(rc));
        return false;
    }
    c->kind = CHR_SOCKET;
    c->listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    bool ok = c->listen_fd >= 0 && setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
              bind(c->listen_fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(c->listen_fd, 1) == 0;
    int e = errno;
    freeaddrinfo(ai);
    if (!ok) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "cannot listen on %s: %s", hostport, g_strerror(e));
        return false;
    }
    c->accept_watch = g_unix_fd_add(c->listen_fd, G_IO_IN, socket_accept, c);
    return true;
}

Chardev *chardev_open(const char *spec, GError **err)
{
    Chardev *c = g_new0(Chardev, 1);
    c->in_fd = c->out_fd = c->listen_fd = -1;
    c->pending = g_byte_array_new();
    g_mutex_init(&c->mutex);
    if (!strcmp(spec, "null")) {
        c->kind = CHR_NULL;
    } else if (!strcmp(spec, "stdio") || !strcmp(spec, "mon:stdio")) {
        c->kind = CHR_STDIO;
        c->in_fd = 0;
        c->out_fd = 1;
    } else if (g_str_has_prefix(spec, "file:")) {
        c->kind = CHR_FILE;
        c->out_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (c->out_fd < 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "cannot open '%s': %s",
                        spec + 5, g_strerror(errno));
            chardev_close(c);
            return NULL;
        }
    } else if (g_str_has_prefix(spec, "spicevmc:") && spec[9]) {
        c->kind = CHR_PEER;
        c->peer_kind = g_strdup(spec);
    } else if (!strcmp(spec, "qemu-vdagent") || !strcmp(spec, "qemu-vdagent:clipboard=on")) {
        c->kind = CHR_PEER;
        c->peer_kind = g_strdup("qemu-vdagent");
        c->vdagent = vdagent_new(c, strcmp(spec, "qemu-vdagent") != 0);
    } else if (g_str_has_prefix(spec, "tcp:") && spec[4]) {
        if (!tcp_listen(c, spec + 4, err)) {
            chardev_close(c);
            return NULL;
        }
    } else if (g_str_has_prefix(spec, "unix:") && spec[5]) {
        if (!socket_listen(c, spec + 5, err)) {
            chardev_close(c);
            return NULL;
        }
    } else {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "unknown character device '%s' (use stdio, file:PATH, null, none or unix:PATH)", spec);
        chardev_close(c);
        return NULL;
    }
    return c;
}

void chardev_close(Chardev *c)
{
    if (!c)
        return;
    if (c->watch)
        g_source_remove(c->watch);
    if (c->idle)
        g_source_remove(c->idle);
    if (c->kind == CHR_FILE && c->out_fd >= 0)
        close(c->out_fd);
    if (c->kind == CHR_SOCKET) {
        if (c->accept_watch)
            g_source_remove(c->accept_watch);
        if (c->out_fd >= 0)
            close(c->out_fd);
        if (c->listen_fd >= 0)
            close(c->listen_fd);
        if (c->path)
            unlink(c->path);
        g_free(c->path);
    }
    if (c->kind == CHR_STDIO)
        chardev_restore_terminal();
    if (c->vdagent)
        vdagent_free(c->vdagent);
    g_free(c->peer_kind);
    g_byte_array_free(c->pending, TRUE);
    g_mutex_clear(&c->mutex);
    g_free(c);
}

bool chardev_is_stdio(const Chardev *c)
{
    return c && c->kind == CHR_STDIO;
}

void chardev_write(Chardev *c, const uint8_t *buf, size_t len)
{
    if (c && c->kind == CHR_PEER) {
        /* Under the mutex: a peer detaching waits until no write is under way. */
        g_mutex_lock(&c->mutex);
        if (c->peer_ops && c->peer_ops->write)
            c->peer_ops->write(c->peer_opaque, buf, len);
        g_mutex_unlock(&c->mutex);
        return;
    }
    if (!c || c->out_fd < 0)
        return;
    while (len > 0) {
        ssize_t n = write(c->out_fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && c->kind == CHR_SOCKET)
                return; /* a client that does not read loses output; the guest goes on */
            if (errno == EAGAIN) {
                g_usleep(1000);
                continue;
            }
            return; /* a closed terminal or pipe: the guest's output goes nowhere */
        }
        buf += n;
        len -= (size_t)n;
    }
}

static gboolean stdin_ready(int fd, GIOCondition cond, gpointer data);

static void no_lock(void *d)
{
    (void)d;
}

static void notify_open(Chardev *c, bool open)
{
    if (!c->open_fn)
        return;
    c->lock_fn(c->lock_data);
    c->open_fn(c->opaque, open);
    c->unlock_fn(c->lock_data);
}

/* Main context: the client went away; the next one may connect. */
static void socket_hangup(Chardev *c)
{
    g_mutex_lock(&c->mutex);
    int fd = c->out_fd;
    c->in_fd = c->out_fd = -1;
    g_byte_array_set_size(c->pending, 0);
    g_mutex_unlock(&c->mutex);
    if (fd >= 0)
        close(fd);
    if (!c->accept_watch)
        c->accept_watch = g_unix_fd_add(c->listen_fd, G_IO_IN, socket_accept, c);
    notify_open(c, false);
}

static gboolean socket_accept(int fd, GIOCondition cond, gpointer data)
{
    Chardev *c = data;
    (void)cond;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    c->in_fd = c->out_fd = cfd;
    c->accept_watch = 0;
    if (c->read)
        c->watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP, stdin_ready, c);
    notify_open(c, true);
    return G_SOURCE_REMOVE; /* one client at a time */
}

/* Main context. Hands pending input to the device as far as it takes it. */
static void deliver(Chardev *c)
{
    if (!c->read)
        return;
    c->lock_fn(c->lock_data);
    g_mutex_lock(&c->mutex);
    while (c->pending->len > 0) {
        size_t room = c->can_read(c->opaque);
        if (room == 0)
            break;
        size_t n = MIN(room, c->pending->len);
        g_autofree uint8_t *chunk = g_memdup2(c->pending->data, n);
        g_byte_array_remove_range(c->pending, 0, n);
        g_mutex_unlock(&c->mutex);
        c->read(c->opaque, chunk, n);
        g_mutex_lock(&c->mutex);
    }
    bool resume = c->pending->len < CHR_PENDING_MAX && !c->watch && c->in_fd >= 0;
    const ChardevPeerOps *ops = c->kind == CHR_PEER ? c->peer_ops : NULL;
    void *peer = c->peer_opaque;
    g_mutex_unlock(&c->mutex);
    c->unlock_fn(c->lock_data);
    if (resume)
        c->watch = g_unix_fd_add(c->in_fd, G_IO_IN | G_IO_HUP, stdin_ready, c);
    if (ops && ops->drained)
        ops->drained(peer);
}

static void print_escape_help(Chardev *c)
{
    static const char help[] =
        "\r\nC-a h    print this help\r\n"
        "C-a x    exit Vireo\r\n"
        "C-a C-a  send C-a to the guest\r\n";
    chardev_write(c, (const uint8_t *)help, sizeof(help) - 1);
}

static gboolean stdin_ready(int fd, GIOCondition cond, gpointer data)
{
    Chardev *c = data;
    uint8_t buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return G_SOURCE_CONTINUE;
        /* End of input (a pipe closed): the guest keeps running without it. */
        c->watch = 0;
        if (c->kind == CHR_SOCKET) {
            socket_hangup(c);
            return G_SOURCE_REMOVE;
        }
        c->in_fd = -1;
        return G_SOURCE_REMOVE;
    }
    (void)cond;
    g_mutex_lock(&c->mutex);
    for (ssize_t i = 0; i < n; i++) {
        uint8_t ch = buf[i];
        if (c->escape) {
            c->escape = false;
            switch (ch) {
            case 'x': case 'X':
                g_mutex_unlock(&c->mutex);
                chardev_restore_terminal();
                if (c->quit_fn)
                    c->quit_fn(c->quit_opaque);
                return G_SOURCE_CONTINUE;
            case 'h': case 'H': case '?':
                print_escape_help(c);
                continue;
            case 'c': case 'C': {
                static const char msg[] = "\r\n(Vireo has no text monitor; use the control socket, -qmp)\r\n";
                chardev_write(c, (const uint8_t *)msg, sizeof(msg) - 1);
                continue;
            }
            case CTRL_A:
                break; /* a literal Ctrl+A */
            default:
                continue;
            }
        } else if (ch == CTRL_A && c->quit_fn) {
            c->escape = true;
            continue;
        }
        g_byte_array_append(c->pending, &ch, 1);
    }
    bool full = c->pending->len >= CHR_PENDING_MAX;
    g_mutex_unlock(&c->mutex);
    if (full) {
        c->watch = 0;
        deliver(c);
        return G_SOURCE_REMOVE;
    }
    deliver(c);
    return G_SOURCE_CONTINUE;
}

void chardev_set_receiver(Chardev *c, ChardevCanRead can_read, ChardevRead read, void *opaque,
                          void (*lock_fn)(void *), void (*unlock_fn)(void *), void *lock_data)
{
    if (!c)
        return;
    c->can_read = can_read;
    c->read = read;
    c->opaque = opaque;
    c->lock_fn = lock_fn ? lock_fn : no_lock;
    c->unlock_fn = unlock_fn ? unlock_fn : no_lock;
    c->lock_data = lock_data;
    if (c->kind == CHR_STDIO && !c->watch && c->in_fd >= 0) {
        set_raw_terminal();
        c->watch = g_unix_fd_add(c->in_fd, G_IO_IN | G_IO_HUP, stdin_ready, c);
    }
    if (c->kind == CHR_SOCKET && read && !c->watch && c->in_fd >= 0)
        c->watch = g_unix_fd_add(c->in_fd, G_IO_IN | G_IO_HUP, stdin_ready, c);
    if (!read && c->watch && c->kind == CHR_SOCKET) {
        g_source_remove(c->watch);
        c->watch = 0;
    }
    if (!read)
        c->open_fn = NULL;
}

static gboolean deliver_idle(gpointer data)
{
    Chardev *c = data;
    g_mutex_lock(&c->mutex);
    c->idle = 0;
    g_mutex_unlock(&c->mutex);
    deliver(c);
    return G_SOURCE_REMOVE;
}

void chardev_accept_input(Chardev *c)
{
    if (!c)
        return;
    g_mutex_lock(&c->mutex);
    if (c->pending->len > 0 && !c->idle)
        c->idle = g_idle_add(deliver_idle, c);
    g_mutex_unlock(&c->mutex);
}

void chardev_set_quit_handler(Chardev *c, void (*fn)(void *), void *opaque)
{
    if (!c)
        return;
    c->quit_fn = fn;
    c->quit_opaque = opaque;
}

bool chardev_connected(const Chardev *c)
{
    if (c && c->kind == CHR_PEER)
        return g_atomic_pointer_get((const ChardevPeerOps **)&((Chardev *)c)->peer_ops) != NULL;
    return c && (c->kind != CHR_SOCKET || c->out_fd >= 0);
}

Vdagent *chardev_vdagent(const Chardev *c)
{
    return c ? c->vdagent : NULL;
}

const char *chardev_peer_kind(const Chardev *c)
{
    return c && c->kind == CHR_PEER ? c->peer_kind : NULL;
}

void chardev_peer_attach(Chardev *c, const ChardevPeerOps *ops, void *opaque)
{
    if (!c || c->kind != CHR_PEER)
        return;
    g_mutex_lock(&c->mutex);
    bool was = c->peer_ops != NULL;
    g_atomic_pointer_set(&c->peer_ops, ops);
    c->peer_opaque = ops ? opaque : NULL;
    if (!ops)
        g_byte_array_set_size(c->pending, 0);
    /* A peer that comes after the guest opened the port learns it at once. */
    if (ops && ops->fe_open && c->fe_open)
        ops->fe_open(opaque, true);
    g_mutex_unlock(&c->mutex);
    /* The port's host side opens or closes for the guest (virtio-serial's PORT_OPEN). */
    if (was != (ops != NULL) && c->lock_fn)
        notify_open(c, ops != NULL);
}

size_t chardev_peer_input(Chardev *c, const uint8_t *buf, size_t len)
{
    if (!c || c->kind != CHR_PEER)
        return 0;
    g_mutex_lock(&c->mutex);
    size_t n = c->pending->len >= CHR_PEER_PENDING_MAX ? 0 : MIN(len, CHR_PEER_PENDING_MAX - c->pending->len);
    if (n) {
        g_byte_array_append(c->pending, buf, (guint)n);
        if (!c->idle)
            c->idle = g_idle_add(deliver_idle, c);
    }
    g_mutex_unlock(&c->mutex);
    return n;
}

/* The saved session: u32 length + the input queued for the device, then the peer's. */
GBytes *chardev_peer_state_save(Chardev *c)
{
    if (!c || c->kind != CHR_PEER || !c->peer_ops || !c->peer_ops->save)
        return NULL;
    /* The peer first: it may still queue input while it finishes what it had. */
    g_autoptr(GByteArray) peer = g_byte_array_new();
    c->peer_ops->save(c->peer_opaque, peer);
    GByteArray *out = g_byte_array_new();
    g_mutex_lock(&c->mutex);
    stream_put_le(out, c->pending->len, 4);
    g_byte_array_append(out, c->pending->data, c->pending->len);
    g_mutex_unlock(&c->mutex);
    g_byte_array_append(out, peer->data, peer->len);
    return g_byte_array_free_to_bytes(out);
}

static bool peer_state_split(GBytes *state, const uint8_t **pending, size_t *pending_len, const uint8_t **rest,
                             size_t *rest_len, GError **err)
{
    gsize len = 0;
    const uint8_t *p = state ? g_bytes_get_data(state, &len) : NULL;
    uint32_t n = len >= 4 ? stream_get_le32(p) : 0;
    if (len < 4 || n > CHR_PEER_PENDING_MAX || n > len - 4) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "chardev: the saved input for the guest is cut short");
        return false;
    }
    *pending = p + 4;
    *pending_len = n;
    *rest = p + 4 + n;
    *rest_len = len - 4 - n;
    return true;
}

bool chardev_peer_state_check(Chardev *c, GBytes *state, GError **err)
{
    const uint8_t *pending, *rest;
    size_t pending_len, rest_len;
    if (!c || c->kind != CHR_PEER || !c->peer_ops || !c->peer_ops->check) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "chardev: saved agent state for a port whose chardev has no agent peer");
        return false;
    }
    return peer_state_split(state, &pending, &pending_len, &rest, &rest_len, err) &&
           c->peer_ops->check(c->peer_opaque, rest, rest_len, err);
}

void chardev_peer_state_load(Chardev *c, GBytes *state)
{
    const uint8_t *pending, *rest;
    size_t pending_len, rest_len;
    if (!chardev_peer_state_check(c, state, NULL))
        return; /* checked before the load committed */
    peer_state_split(state, &pending, &pending_len, &rest, &rest_len, NULL);
    g_mutex_lock(&c->mutex);
    g_byte_array_set_size(c->pending, 0);
    g_byte_array_append(c->pending, pending, (guint)pending_len);
    g_mutex_unlock(&c->mutex);
    c->peer_ops->load(c->peer_opaque, rest, rest_len);
}

void chardev_peer_session(Chardev *c, bool open)
{
    if (!c || c->kind != CHR_PEER || !c->lock_fn)
        return;
    notify_open(c, open);
}

void chardev_set_fe_open(Chardev *c, bool open)
{
    if (!c || c->kind != CHR_PEER)
        return;
    g_mutex_lock(&c->mutex);
    c->fe_open = open;
    if (c->peer_ops && c->peer_ops->fe_open)
        c->peer_ops->fe_open(c->peer_opaque, open);
    g_mutex_unlock(&c->mutex);
}

void chardev_set_open_handler(Chardev *c, void (*fn)(void *opaque, bool open))
{
    if (c)
        c->open_fn = fn;
}

char *chardev_spec_from_opts(const char *opts, GError **err)
{
    g_autoptr(GPtrArray) parts = backend_opts_split(opts);
    const char *type = parts->len ? parts->pdata[0] : "";
    const char *path = NULL, *name = NULL, *host = NULL, *port = NULL;
    bool server = false, nowait = false, clipboard = false;
    for (guint i = 1; i < parts->len; i++) {
        const char *p = parts->pdata[i];
        if (!strcmp(type, "spicevmc") && g_str_has_prefix(p, "name="))
            name = p + 5;
        else if (!strcmp(type, "qemu-vdagent") && (!strcmp(p, "clipboard=on") || !strcmp(p, "clipboard=off")))
            clipboard = !strcmp(p, "clipboard=on");
        else if (!strcmp(type, "qemu-vdagent") && (!strcmp(p, "mouse=off")))
            continue; /* the agent's mouse mode is not offered: the tablet does that */
        else if (g_str_has_prefix(p, "path="))
            path = p + 5;
        else if (!strcmp(type, "socket") && g_str_has_prefix(p, "host="))
            host = p + 5;
        else if (!strcmp(type, "socket") && g_str_has_prefix(p, "port="))
            port = p + 5;
        else if (!strcmp(p, "server=on") || !strcmp(p, "server"))
            server = true;
        else if (!strcmp(p, "wait=off") || !strcmp(p, "nowait"))
            nowait = true;
        else if (!g_str_has_prefix(p, "id=") && !g_str_has_prefix(p, "signal=") && !g_str_has_prefix(p, "mux=")) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown parameter '%s'", p);
            return NULL;
        }
    }
    if (!strcmp(type, "stdio") || !strcmp(type, "null"))
        return g_strdup(type);
    if (!strcmp(type, "spicevmc")) {
        /* The SPICE server's channels Vireo carries: the agent's (clipboard, monitors) and
         * USB redirection (a client's devices for -device usb-redir). */
        if (g_strcmp0(name, "vdagent") && g_strcmp0(name, "usbredir")) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "spicevmc needs name=vdagent or name=usbredir");
            return NULL;
        }
        return g_strdup_printf("spicevmc:%s", name);
    }
    if (!strcmp(type, "qemu-vdagent"))
        return g_strdup(clipboard ? "qemu-vdagent:clipboard=on" : "qemu-vdagent");
    if (!strcmp(type, "file") && path && *path)
        return g_strdup_printf("file:%s", path);
    if (!strcmp(type, "socket") && ((path && *path) || (port && *port))) {
        /* Vireo listens and never waits for the client before starting the guest. */
        if (!server || !nowait) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "a socket chardev needs server=on,wait=off (Vireo listens, the client connects)");
            return NULL;
        }
        if (path && *path)
            return g_strdup_printf("unix:%s", path);
        char *end = NULL;
        long n = strtol(port, &end, 10);
        if (*end || n < 1 || n > 65535) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port '%s' is not a TCP port number", port);
            return NULL;
        }
        return g_strdup_printf("tcp:%s:%ld", host && *host ? host : "127.0.0.1", n);
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                "use stdio, null, file with path=PATH, "
                "socket with path=PATH or host=HOST,port=PORT and server=on,wait=off, "
                "spicevmc with name=vdagent|usbredir or qemu-vdagent");
    return NULL;
}

/* -chardev as a back end: devices other than the board's serial ports find it by id. */
static bool chr_backend_check(const char *opts, GError **err)
{
    g_autofree char *spec = chardev_spec_from_opts(opts, err);
    return spec != NULL;
}

static void *chr_backend_open(Vm *vm, const char *id, const char *opts, GError **err)
{
    (void)vm;
    (void)id;
    g_autofree char *spec = chardev_spec_from_opts(opts, err);
    return spec ? chardev_open(spec, err) : NULL;
}

static void chr_backend_close(void *b)
{
    chardev_close(b);
}

static const BackendClass chr_backend = {
    .kind = "chardev",
    .description = "character device (-chardev) for virtio-serial ports and agents",
    .check = chr_backend_check,
    .open = chr_backend_open,
    .close = chr_backend_close,
};

static void __attribute__((constructor)) chr_backend_register(void)
{
    backend_class_register(&chr_backend);
}
