/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SPICE server front end: see spice-display.h. */
#include "ui/spice/spice-internal.h"
#include "engine/config.h"
#include "engine/display.h"
#include "engine/input.h"
#include "engine/log.h"

#include <arpa/inet.h>
#include <glib-unix.h>
#include <unistd.h>
#include <netinet/in.h>
#include <spice.h>
#include <string.h>
#include <sys/un.h>

/* At most this many drawables wait for the worker; beyond, the queue is replaced by
 * one update of the whole screen (a worker that fell behind loses nothing visible). */
#define SPICE_QUEUE_MAX 64
/* A dirty region of more rectangles than this goes as its bounding box. */
#define SPICE_RECTS_MAX 32
#define SPICE_REFRESH_MS 33

/* At most this many cursor commands wait; beyond, they are replaced by the cursor's
 * current state. */
#define SPICE_CURSOR_QUEUE_MAX 32

/* One cursor command (set with its shape after it, move or hide); one allocation, freed
 * in release_resource as the screen updates are. */
typedef struct SpiceCursorUpdate {
    QXLCommandExt ext;
    QXLCursorCmd cmd;
    /* QXLCursor and its pixels follow for a set (the header ends in a flexible array). */
} SpiceCursorUpdate;

/* One screen update: the QXL command, its drawable and its bitmap, pixels after them. */
typedef struct SpiceUpdate {
    QXLCommandExt ext;
    QXLDrawable drawable;
    QXLImage image;
    uint32_t pixels[];
} SpiceUpdate;

struct SpiceDisplay {
    Vm *vm;
    SpiceServer *server;
    QXLInstance qxl;
    SpiceKbdInstance kbd;
    SpiceMouseInstance mouse;
    SpiceTabletInstance tablet;
    bool have_tablet;
    SpiceAudio *audio;
    int port;               /* what it listens on: TCP port (-1: none), or the socket's path */
    int tls_port;           /* -1: no TLS */
    char *unix_path;
    GPtrArray *chars;       /* SpiceChar *: the agent channel (spice-char.c) */

    /* Main thread: the console client and the primary surface the worker draws into.
     * The refresh runs only while display channels are connected (display_streams:
     * the SpiceChannelEventInfo pointers of their streams, used as keys only). */
    DisplayClient *client;
    guint refresh_source;
    GHashTable *display_streams;
    /* Likewise the cursor channels: while one is connected its client draws the guest's
     * cursor, so the device leaves it out of the picture (one cursor, not two). */
    GHashTable *cursor_streams;
    bool have_primary;
    int width, height;
    uint8_t *primary_mem;
    uint64_t next_image_id;

    /* Guards queue and notify: the worker's get_command/req_cmd_notification take
     * them on its own thread. */
    GMutex lock;
    GQueue queue;           /* SpiceUpdate *, oldest first */
    bool notify;            /* the worker waits for spice_qxl_wakeup */
    GQueue cursor_queue;    /* SpiceCursorUpdate *, oldest first */
    bool cursor_notify;     /* likewise for the cursor ring */
    bool cursor_resend;     /* main thread: a new primary surface reset the server's cursor */

    /* Keyboard: the prefix bytes of the scancode being assembled. */
    bool key_ext;
    int pause_left;         /* bytes of an E1 (Pause) sequence still to come */
    int tablet_w, tablet_h;
};

/* ---- the core interface: timers and watches on the GLib main loop ---- */

struct SpiceTimer {
    SpiceTimerFunc func;
    void *opaque;
    guint source;
};

static gboolean timer_fire(gpointer p)
{
    SpiceTimer *t = p;
    t->source = 0;
    t->func(t->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);
    t->func = func;
    t->opaque = opaque;
    return t;
}

static void core_timer_cancel(SpiceTimer *t)
{
    if (t->source)
        g_source_remove(t->source);
    t->source = 0;
}

static void core_timer_start(SpiceTimer *t, uint32_t ms)
{
    core_timer_cancel(t);
    t->source = g_timeout_add(ms, timer_fire, t);
}

static void core_timer_remove(SpiceTimer *t)
{
    core_timer_cancel(t);
    g_free(t);
}

struct SpiceWatch {
    int fd;
    SpiceWatchFunc func;
    void *opaque;
    guint source;
};

static gboolean watch_fire(int fd, GIOCondition cond, gpointer p)
{
    SpiceWatch *w = p;
    int ev = 0;
    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
        ev |= SPICE_WATCH_EVENT_READ;
    if (cond & G_IO_OUT)
        ev |= SPICE_WATCH_EVENT_WRITE;
    /* The callback may remove this watch: w is not touched after it. */
    w->func(fd, ev, w->opaque);
    return G_SOURCE_CONTINUE;
}

static void core_watch_update_mask(SpiceWatch *w, int mask)
{
    if (w->source)
        g_source_remove(w->source);
    w->source = 0;
    GIOCondition cond = 0;
    if (mask & SPICE_WATCH_EVENT_READ)
        cond |= G_IO_IN;
    if (mask & SPICE_WATCH_EVENT_WRITE)
        cond |= G_IO_OUT;
    if (cond)
        w->source = g_unix_fd_add(w->fd, cond, watch_fire, w);
}

static SpiceWatch *core_watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);
    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    core_watch_update_mask(w, mask);
    return w;
}

static void core_watch_remove(SpiceWatch *w)
{
    if (w->source)
        g_source_remove(w->source);
    g_free(w);
}

/* ---- display clients: the refresh runs while one is connected ---- */

/* The servers of the process (the app shares several VMs), main thread. spice-server's
 * channel_event has no opaque pointer: an event belongs to the server that listens on
 * the connection's local address (its port, or its socket's path). */
static GList *displays;
static gboolean refresh(gpointer p);

typedef struct ChannelEvent {
    int event;
    int type;
    const void *stream;
    struct sockaddr_storage laddr;
    bool have_laddr;
} ChannelEvent;

static SpiceDisplay *display_of_event(const ChannelEvent *ev)
{
    if (!displays || (!displays->next && !ev->have_laddr))
        return displays ? displays->data : NULL;
    int port = -1;
    const char *path = NULL;
    if (ev->laddr.ss_family == AF_INET)
        port = ntohs(((const struct sockaddr_in *)&ev->laddr)->sin_port);
    else if (ev->laddr.ss_family == AF_INET6)
        port = ntohs(((const struct sockaddr_in6 *)&ev->laddr)->sin6_port);
    else if (ev->laddr.ss_family == AF_UNIX)
        path = ((const struct sockaddr_un *)&ev->laddr)->sun_path;
    for (GList *l = displays; l; l = l->next) {
        SpiceDisplay *d = l->data;
        if (d->unix_path ? path && !strcmp(path, d->unix_path) : port == d->port || port == d->tls_port)
            return d;
    }
    return NULL;
}

/* Main thread. */
static gboolean channel_event_main(gpointer p)
{
    ChannelEvent *ev = p;
    SpiceDisplay *d = display_of_event(ev);
    if (d && d->client && ev->type == SPICE_CHANNEL_MAIN) {
        /* A client logged in: bring the server's copy of the screen up to date before
         * its display channel links, which otherwise starts from what the server had
         * when the last client left (a screenshot tool saves that first picture). */
        if (!d->refresh_source)
            refresh(d);
    } else if (d && d->client && ev->type == SPICE_CHANNEL_CURSOR) {
        if (ev->event == SPICE_CHANNEL_EVENT_DISCONNECTED)
            g_hash_table_remove(d->cursor_streams, ev->stream);
        else
            g_hash_table_add(d->cursor_streams, (gpointer)ev->stream);
        display_client_set_draws_cursor(d->client, g_hash_table_size(d->cursor_streams) > 0);
    } else if (d && d->client) {
        guint before = g_hash_table_size(d->display_streams);
        if (ev->event == SPICE_CHANNEL_EVENT_DISCONNECTED)
            g_hash_table_remove(d->display_streams, ev->stream);
        else
            g_hash_table_add(d->display_streams, (gpointer)ev->stream);
        guint now = g_hash_table_size(d->display_streams);
        if (!before && now) {
            d->refresh_source = g_timeout_add(SPICE_REFRESH_MS, refresh, d);
            /* What changed while nobody watched goes out now, not a period later. */
            refresh(d);
            VLOG(LOG_DISPLAY, "spice: a display client connected, refreshing every %d ms", SPICE_REFRESH_MS);
        } else if (before && !now) {
            g_source_remove(d->refresh_source);
            d->refresh_source = 0;
            VLOG(LOG_DISPLAY, "spice: the last display client left, refresh stopped");
        }
    }
    g_free(ev);
    return G_SOURCE_REMOVE;
}

/* spice-server 0.15 reports channel events on the main thread (then g_main_context_invoke
 * calls at once); QEMU allows for other threads, so do we. Only display channels count:
 * a client that only types, or fails the password, draws nothing. A main channel's
 * start (a client past the password) brings the screen up to date once. Cursor
 * channels decide whether the picture carries the cursor. */
static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
    if (!info)
        return;
    if (info->type != SPICE_CHANNEL_DISPLAY && info->type != SPICE_CHANNEL_CURSOR &&
        !(info->type == SPICE_CHANNEL_MAIN && event == SPICE_CHANNEL_EVENT_INITIALIZED))
        return;
    ChannelEvent *ev = g_new0(ChannelEvent, 1);
    ev->event = event;
    ev->type = info->type;
    if ((info->flags & SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT) && info->llen_ext <= sizeof(ev->laddr)) {
        memcpy(&ev->laddr, &info->laddr_ext, info->llen_ext);
        ev->have_laddr = true;
    }
    ev->stream = info;
    g_main_context_invoke(NULL, channel_event_main, ev);
}

static SpiceCoreInterface core_iface = {
    .base = { .type = SPICE_INTERFACE_CORE, .description = "vireo main loop",
              .major_version = SPICE_INTERFACE_CORE_MAJOR, .minor_version = SPICE_INTERFACE_CORE_MINOR },
    .timer_add = core_timer_add,
    .timer_start = core_timer_start,
    .timer_cancel = core_timer_cancel,
    .timer_remove = core_timer_remove,
    .watch_add = core_watch_add,
    .watch_update_mask = core_watch_update_mask,
    .watch_remove = core_watch_remove,
    .channel_event = core_channel_event,
};

/* ---- the QXL interface: commands for the server's display worker ---- */

static SpiceDisplay *display_of_qxl(QXLInstance *qin)
{
    return (SpiceDisplay *)((char *)qin - offsetof(SpiceDisplay, qxl));
}

static void qxl_attached_worker(QXLInstance *qin)
{
    (void)qin;
}

static void qxl_set_compression_level(QXLInstance *qin, int level)
{
    (void)qin;
    (void)level;
}

/* One memory slot over the whole host address space: QXLPHYSICAL values are our
 * pointers (user-space addresses leave the slot and generation bits at 0). */
static void qxl_get_init_info(QXLInstance *qin, QXLDevInitInfo *info)
{
    (void)qin;
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 1;
    info->memslot_id_bits = 1;
    info->internal_groupslot_id = 0;
    info->n_surfaces = 1;
}

/* Worker thread. */
static int qxl_get_command(QXLInstance *qin, QXLCommandExt *ext)
{
    SpiceDisplay *d = display_of_qxl(qin);
    g_mutex_lock(&d->lock);
    SpiceUpdate *u = g_queue_pop_head(&d->queue);
    g_mutex_unlock(&d->lock);
    if (!u)
        return 0;
    *ext = u->ext;
    return 1;
}

/* Worker thread: 1 when it must wait for spice_qxl_wakeup. */
static int qxl_req_cmd_notification(QXLInstance *qin)
{
    SpiceDisplay *d = display_of_qxl(qin);
    g_mutex_lock(&d->lock);
    bool empty = g_queue_is_empty(&d->queue);
    d->notify = empty;
    g_mutex_unlock(&d->lock);
    return empty;
}

/* Worker thread: the drawable was sent and drawn. */
static void qxl_release_resource(QXLInstance *qin, QXLReleaseInfoExt rext)
{
    (void)qin;
    g_free((SpiceUpdate *)(uintptr_t)rext.info->id);
}

/* Worker thread: the guest's hardware cursor (display_client_cursor). */
static int qxl_get_cursor_command(QXLInstance *qin, QXLCommandExt *ext)
{
    SpiceDisplay *d = display_of_qxl(qin);
    g_mutex_lock(&d->lock);
    SpiceCursorUpdate *u = g_queue_pop_head(&d->cursor_queue);
    g_mutex_unlock(&d->lock);
    if (!u)
        return 0;
    *ext = u->ext;
    return 1;
}

static int qxl_req_cursor_notification(QXLInstance *qin)
{
    SpiceDisplay *d = display_of_qxl(qin);
    g_mutex_lock(&d->lock);
    bool empty = g_queue_is_empty(&d->cursor_queue);
    d->cursor_notify = empty;
    g_mutex_unlock(&d->lock);
    return empty;
}

static void qxl_notify_update(QXLInstance *qin, uint32_t update_id)
{
    (void)qin;
    (void)update_id;
}

static int qxl_flush_resources(QXLInstance *qin)
{
    (void)qin;
    return 0;
}

static void qxl_async_complete(QXLInstance *qin, uint64_t cookie)
{
    (void)qin;
    (void)cookie;
}

static void qxl_update_area_complete(QXLInstance *qin, uint32_t surface_id, QXLRect *rects, uint32_t n)
{
    (void)qin;
    (void)surface_id;
    (void)rects;
    (void)n;
}

static void qxl_set_client_capabilities(QXLInstance *qin, uint8_t present, uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
    (void)qin;
    (void)present;
    (void)caps;
}

static int qxl_client_monitors_config(QXLInstance *qin, VDAgentMonitorsConfig *config)
{
    (void)qin;
    (void)config;
    return 0;
}

static const QXLInterface qxl_iface = {
    .base = { .type = SPICE_INTERFACE_QXL, .description = "vireo display",
              .major_version = SPICE_INTERFACE_QXL_MAJOR, .minor_version = SPICE_INTERFACE_QXL_MINOR },
    .attached_worker = qxl_attached_worker,
    .set_compression_level = qxl_set_compression_level,
    .get_init_info = qxl_get_init_info,
    .get_command = qxl_get_command,
    .req_cmd_notification = qxl_req_cmd_notification,
    .release_resource = qxl_release_resource,
    .get_cursor_command = qxl_get_cursor_command,
    .req_cursor_notification = qxl_req_cursor_notification,
    .notify_update = qxl_notify_update,
    .flush_resources = qxl_flush_resources,
    .async_complete = qxl_async_complete,
    .update_area_complete = qxl_update_area_complete,
    .set_client_capabilities = qxl_set_client_capabilities,
    .client_monitors_config = qxl_client_monitors_config,
};

/* ---- screen updates (main thread) ---- */

static void queue_drop(SpiceDisplay *d)
{
    g_mutex_lock(&d->lock);
    SpiceUpdate *u;
    while ((u = g_queue_pop_head(&d->queue)))
        g_free(u);
    g_mutex_unlock(&d->lock);
}

static void cursor_queue_drop(SpiceDisplay *d)
{
    g_mutex_lock(&d->lock);
    g_queue_clear_full(&d->cursor_queue, g_free);
    g_mutex_unlock(&d->lock);
}

/* A QXL cursor command of type for the cursor's state; a set carries the shape as a
 * 32-bit alpha cursor (SPICE's ARGB is pixman's a8r8g8b8 on a little-endian host). */
static SpiceCursorUpdate *cursor_update_new(uint8_t type, const DisplayCursorState *cs)
{
    const DisplayCursor *c = cs->shape;
    size_t data = type == QXL_CURSOR_SET ? (size_t)c->width * (size_t)c->height * 4 : 0;
    size_t size = sizeof(SpiceCursorUpdate) + (type == QXL_CURSOR_SET ? sizeof(QXLCursor) + data : 0);
    SpiceCursorUpdate *u = g_malloc0(size);
    u->cmd.release_info.id = (uintptr_t)u;
    u->cmd.type = type;
    QXLPoint16 pos = { .x = (int16_t)CLAMP(cs->x, 0, INT16_MAX), .y = (int16_t)CLAMP(cs->y, 0, INT16_MAX) };
    if (type == QXL_CURSOR_SET) {
        QXLCursor *qc = (QXLCursor *)(u + 1);
        qc->header.unique = 0; /* no caching: every shape is sent as it is */
        qc->header.type = SPICE_CURSOR_TYPE_ALPHA;
        qc->header.width = (uint16_t)c->width;
        qc->header.height = (uint16_t)c->height;
        qc->header.hot_spot_x = (uint16_t)c->hot_x;
        qc->header.hot_spot_y = (uint16_t)c->hot_y;
        qc->data_size = (uint32_t)data;
        qc->chunk.data_size = (uint32_t)data;
        memcpy(qc->chunk.data, c->pixels, data);
        u->cmd.u.set.position = pos;
        u->cmd.u.set.visible = cs->visible;
        u->cmd.u.set.shape = (uintptr_t)qc;
    } else if (type == QXL_CURSOR_MOVE) {
        u->cmd.u.position = pos;
    }
    u->ext.cmd.type = QXL_CMD_CURSOR;
    u->ext.cmd.data = (uintptr_t)&u->cmd;
    u->ext.group_id = 0;
    return u;
}

/* Main thread, after a refresh: what changed of the guest's cursor goes to the cursor
 * ring. A set with the visible flag both shows and places it; a move shows it again. */
static void cursor_refresh(SpiceDisplay *d)
{
    DisplayCursorState cs;
    bool changed = display_client_cursor(d->client, &cs);
    bool resend = d->cursor_resend;
    d->cursor_resend = false;
    if (!changed && !(resend && cs.shape))
        return;
    g_mutex_lock(&d->lock);
    bool full = g_queue_get_length(&d->cursor_queue) >= SPICE_CURSOR_QUEUE_MAX;
    g_mutex_unlock(&d->lock);
    if (full)
        cursor_queue_drop(d);
    SpiceCursorUpdate *u;
    if (cs.shape && (cs.shape_changed || full || resend))
        u = cursor_update_new(QXL_CURSOR_SET, &cs);
    else if (cs.shape && cs.visible)
        u = cursor_update_new(QXL_CURSOR_MOVE, &cs);
    else
        u = cursor_update_new(QXL_CURSOR_HIDE, &cs);
    g_mutex_lock(&d->lock);
    g_queue_push_tail(&d->cursor_queue, u);
    bool wake = d->cursor_notify;
    d->cursor_notify = false;
    g_mutex_unlock(&d->lock);
    if (wake)
        spice_qxl_wakeup(&d->qxl);
}

/* A new primary surface of the console's size; the old one (and what waits to be drawn
 * on it) goes first. */
static void primary_create(SpiceDisplay *d, int width, int height)
{
    queue_drop(d);
    if (d->have_primary)
        spice_qxl_destroy_primary_surface(&d->qxl, 0);
    g_free(d->primary_mem);
    d->width = width;
    d->height = height;
    d->primary_mem = g_malloc0((size_t)width * (size_t)height * 4);
    QXLDevSurfaceCreate s = {
        .width = (uint32_t)width,
        .height = (uint32_t)height,
        .stride = -width * 4, /* bottom-up in memory, as the server's own surfaces */
        .format = SPICE_SURFACE_FMT_32_xRGB,
        .mouse_mode = d->have_tablet ? SPICE_MOUSE_MODE_CLIENT : SPICE_MOUSE_MODE_SERVER,
        .mem = (uintptr_t)d->primary_mem,
        .group_id = 0,
    };
    spice_qxl_create_primary_surface(&d->qxl, 0, &s);
    d->have_primary = true;
    d->cursor_resend = true;
}

static SpiceUpdate *update_new(SpiceDisplay *d, const DisplaySurface *surf, const pixman_box32_t *b)
{
    int w = b->x2 - b->x1, h = b->y2 - b->y1;
    SpiceUpdate *u = g_malloc0(sizeof(*u) + (size_t)w * (size_t)h * 4);
    const uint8_t *src = (const uint8_t *)pixman_image_get_data(surf->image);
    int stride = pixman_image_get_stride(surf->image);
    for (int y = 0; y < h; y++)
        memcpy(&u->pixels[(size_t)y * (size_t)w], src + (size_t)(b->y1 + y) * (size_t)stride + (size_t)b->x1 * 4,
               (size_t)w * 4);

    QXLImage *img = &u->image;
    img->descriptor.id = ++d->next_image_id;
    img->descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    img->descriptor.width = (uint32_t)w;
    img->descriptor.height = (uint32_t)h;
    img->bitmap.format = SPICE_BITMAP_FMT_32BIT;
    img->bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    img->bitmap.x = (uint32_t)w;
    img->bitmap.y = (uint32_t)h;
    img->bitmap.stride = (uint32_t)w * 4;
    img->bitmap.data = (uintptr_t)u->pixels;

    QXLDrawable *dr = &u->drawable;
    dr->release_info.id = (uintptr_t)u;
    dr->surface_id = 0;
    dr->effect = QXL_EFFECT_OPAQUE;
    dr->type = QXL_DRAW_COPY;
    dr->bbox = (QXLRect){ .top = b->y1, .left = b->x1, .bottom = b->y2, .right = b->x2 };
    dr->clip.type = SPICE_CLIP_TYPE_NONE;
    for (int i = 0; i < 3; i++)
        dr->surfaces_dest[i] = -1;
    dr->u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    dr->u.copy.src_bitmap = (uintptr_t)img;
    dr->u.copy.src_area = (QXLRect){ .top = 0, .left = 0, .bottom = h, .right = w };

    u->ext.cmd.type = QXL_CMD_DRAW;
    u->ext.cmd.data = (uintptr_t)dr;
    u->ext.group_id = 0;
    return u;
}

static gboolean refresh(gpointer p)
{
    SpiceDisplay *d = p;
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface = false;
    DisplaySurface *surf = display_client_refresh(d->client, &dirty, &new_surface);
    if (!surf) {
        pixman_region32_fini(&dirty);
        return G_SOURCE_CONTINUE;
    }
    if (new_surface || !d->have_primary || surf->width != d->width || surf->height != d->height) {
        primary_create(d, surf->width, surf->height);
        pixman_region32_reset(&dirty, &(pixman_box32_t){ 0, 0, surf->width, surf->height });
    }
    cursor_refresh(d);
    int n;
    pixman_box32_t *boxes = pixman_region32_rectangles(&dirty, &n);
    if (n > SPICE_RECTS_MAX) {
        boxes = pixman_region32_extents(&dirty);
        n = 1;
    }
    bool full = false;
    g_mutex_lock(&d->lock);
    full = g_queue_get_length(&d->queue) + (guint)n > SPICE_QUEUE_MAX;
    g_mutex_unlock(&d->lock);
    if (full) {
        queue_drop(d);
        boxes = &(pixman_box32_t){ 0, 0, surf->width, surf->height };
        n = 1;
    }
    GQueue fresh = G_QUEUE_INIT;
    for (int i = 0; i < n; i++)
        if (boxes[i].x2 > boxes[i].x1 && boxes[i].y2 > boxes[i].y1)
            g_queue_push_tail(&fresh, update_new(d, surf, &boxes[i]));
    pixman_region32_fini(&dirty);
    if (g_queue_is_empty(&fresh))
        return G_SOURCE_CONTINUE;
    g_mutex_lock(&d->lock);
    SpiceUpdate *u;
    while ((u = g_queue_pop_head(&fresh)))
        g_queue_push_tail(&d->queue, u);
    bool wake = d->notify;
    d->notify = false;
    g_mutex_unlock(&d->lock);
    if (wake)
        spice_qxl_wakeup(&d->qxl);
    return G_SOURCE_CONTINUE;
}

/* ---- input (main thread) ---- */

static void kbd_push_scan_freg(SpiceKbdInstance *sin, uint8_t frag)
{
    SpiceDisplay *d = (SpiceDisplay *)((char *)sin - offsetof(SpiceDisplay, kbd));
    if (d->pause_left) {
        /* E1 1D 45 is Pause's make, E1 9D C5 its break: one key of its own. */
        if (--d->pause_left == 1)
            vm_input_key(d->vm, VM_KEY_PAUSE, !(frag & 0x80));
        return;
    }
    if (frag == 0xe1) {
        d->pause_left = 2;
        return;
    }
    if (frag == 0xe0) {
        d->key_ext = true;
        return;
    }
    unsigned qnum = (frag & 0x7fu) | (d->key_ext ? 0x80u : 0u);
    d->key_ext = false;
    uint16_t key;
    if (input_qnum_to_key(qnum, &key))
        vm_input_key(d->vm, key, !(frag & 0x80));
}

static uint8_t kbd_get_leds(SpiceKbdInstance *sin)
{
    (void)sin;
    return 0;
}

static const SpiceKbdInterface kbd_iface = {
    .base = { .type = SPICE_INTERFACE_KEYBOARD, .description = "vireo keyboard",
              .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR, .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR },
    .push_scan_freg = kbd_push_scan_freg,
    .get_leds = kbd_get_leds,
};

static unsigned buttons_from_spice(uint32_t state)
{
    unsigned b = 0;
    if (state & SPICE_MOUSE_BUTTON_MASK_LEFT)
        b |= VM_BUTTON_LEFT;
    if (state & SPICE_MOUSE_BUTTON_MASK_MIDDLE)
        b |= VM_BUTTON_MIDDLE;
    if (state & SPICE_MOUSE_BUTTON_MASK_RIGHT)
        b |= VM_BUTTON_RIGHT;
    return b;
}

static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t state)
{
    SpiceDisplay *d = (SpiceDisplay *)((char *)sin - offsetof(SpiceDisplay, mouse));
    vm_input_pointer(d->vm, dx, dy, dz, buttons_from_spice(state));
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t state)
{
    SpiceDisplay *d = (SpiceDisplay *)((char *)sin - offsetof(SpiceDisplay, mouse));
    vm_input_pointer(d->vm, 0, 0, 0, buttons_from_spice(state));
}

static const SpiceMouseInterface mouse_iface = {
    .base = { .type = SPICE_INTERFACE_MOUSE, .description = "vireo mouse",
              .major_version = SPICE_INTERFACE_MOUSE_MAJOR, .minor_version = SPICE_INTERFACE_MOUSE_MINOR },
    .motion = mouse_motion,
    .buttons = mouse_buttons,
};

static SpiceDisplay *display_of_tablet(SpiceTabletInstance *sin)
{
    return (SpiceDisplay *)((char *)sin - offsetof(SpiceDisplay, tablet));
}

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
    SpiceDisplay *d = display_of_tablet(sin);
    d->tablet_w = MAX(width, 2);
    d->tablet_h = MAX(height, 2);
}

static int tablet_scale(int v, int size)
{
    return (int)((int64_t)CLAMP(v, 0, size - 1) * VM_INPUT_ABS_MAX / (size - 1));
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t state)
{
    SpiceDisplay *d = display_of_tablet(sin);
    vm_input_pointer_abs(d->vm, tablet_scale(x, d->tablet_w), tablet_scale(y, d->tablet_h), 0,
                         buttons_from_spice(state));
}

static void tablet_wheel(SpiceTabletInstance *sin, int motion, uint32_t state)
{
    SpiceDisplay *d = display_of_tablet(sin);
    vm_input_pointer_abs(d->vm, VM_INPUT_ABS_KEEP, VM_INPUT_ABS_KEEP, motion, buttons_from_spice(state));
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t state)
{
    SpiceDisplay *d = display_of_tablet(sin);
    vm_input_pointer_abs(d->vm, VM_INPUT_ABS_KEEP, VM_INPUT_ABS_KEEP, 0, buttons_from_spice(state));
}

static const SpiceTabletInterface tablet_iface = {
    .base = { .type = SPICE_INTERFACE_TABLET, .description = "vireo tablet",
              .major_version = SPICE_INTERFACE_TABLET_MAJOR, .minor_version = SPICE_INTERFACE_TABLET_MINOR },
    .set_logical_size = tablet_set_logical_size,
    .position = tablet_position,
    .wheel = tablet_wheel,
    .buttons = tablet_buttons,
};

/* ---- options ---- */

static bool parse_onoff(const char *key, const char *v, bool *out, GError **err)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) {
        *out = false;
        return true;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s: expected on or off", key, v);
    return false;
}

bool spice_options_parse(const char *text, SpiceOptions *o, GError **err)
{
    memset(o, 0, sizeof(*o));
    o->port = -1;
    o->tls_port = 0;
    g_auto(GStrv) parts = g_strsplit(text ? text : "", ",", -1);
    for (char **p = parts; *p; p++) {
        if (!**p)
            continue;
        const char *eq = strchr(*p, '=');
        if (!eq) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "'%s' is not KEY=VALUE (port, tls-port, x509-dir, addr, unix, password, password-secret, disable-ticketing)", *p);
            goto fail;
        }
        g_autofree char *key = g_strndup(*p, (gsize)(eq - *p));
        const char *v = eq + 1;
        if (!strcmp(key, "port") || !strcmp(key, "tls-port")) {
            char *end;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 65535) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s=%s: a TCP port is 1 to 65535", key, v);
                goto fail;
            }
            *(key[0] == 't' ? &o->tls_port : &o->port) = (int)n;
        } else if (!strcmp(key, "x509-dir")) {
            g_free(o->x509_dir);
            o->x509_dir = g_strdup(v);
        } else if (!strcmp(key, "addr")) {
            g_free(o->addr);
            o->addr = g_strdup(v);
        } else if (!strcmp(key, "unix")) {
            if (!parse_onoff(key, v, &o->unix_socket, err))
                goto fail;
        } else if (!strcmp(key, "disable-ticketing")) {
            if (!parse_onoff(key, v, &o->disable_ticketing, err))
                goto fail;
        } else if (!strcmp(key, "password")) {
            g_free(o->password);
            o->password = g_strdup(v);
        } else if (!strcmp(key, "password-secret")) {
            if (!*v) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "password-secret= needs the id of an -object secret");
                goto fail;
            }
            g_free(o->password_secret);
            o->password_secret = g_strdup(v);
        } else {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "unknown key '%s' (port, tls-port, x509-dir, addr, unix, password, password-secret, disable-ticketing)", key);
            goto fail;
        }
    }
    if (o->unix_socket ? (!o->addr || !*o->addr || o->port >= 0 || o->tls_port > 0)
                       : o->port < 0 && o->tls_port < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    o->unix_socket ? "unix=on needs addr=PATH of the socket and no port= or tls-port="
                                   : "needs port=N or tls-port=N (or unix=on,addr=PATH)");
        goto fail;
    }
    if ((o->tls_port > 0) != (o->x509_dir != NULL)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    o->x509_dir ? "x509-dir= needs tls-port=N" : "tls-port= needs x509-dir=DIR (ca-cert.pem, server-cert.pem, server-key.pem)");
        goto fail;
    }
    if (o->tls_port > 0 && o->tls_port == o->port) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "port= and tls-port= must differ");
        goto fail;
    }
    if (o->password && o->password_secret) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "give one of password= and password-secret=");
        goto fail;
    }
    bool have_password = o->password || o->password_secret;
    if (!o->disable_ticketing && !have_password) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "give password-secret=ID (or password=SECRET), or disable-ticketing=on to let any client in");
        goto fail;
    }
    if (o->disable_ticketing && have_password) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s and disable-ticketing=on contradict each other",
                    o->password ? "password=" : "password-secret=");
        goto fail;
    }
    if (!o->addr)
        o->addr = g_strdup("127.0.0.1");
    return true;
fail:
    spice_options_clear(o);
    return false;
}

void spice_options_clear(SpiceOptions *o)
{
    g_clear_pointer(&o->addr, g_free);
    if (o->password)
        memset(o->password, 0, strlen(o->password));
    g_clear_pointer(&o->password, g_free);
    g_clear_pointer(&o->password_secret, g_free);
    g_clear_pointer(&o->x509_dir, g_free);
}

/* QEMU's names for the files of x509-dir (the key unencrypted). */
static bool tls_files(const SpiceOptions *o, char *files[3], GError **err)
{
    static const char *const names[3] = { "ca-cert.pem", "server-cert.pem", "server-key.pem" };
    for (int i = 0; i < 3; i++) {
        files[i] = g_build_filename(o->x509_dir, names[i], NULL);
        if (!g_file_test(files[i], G_FILE_TEST_IS_REGULAR) || access(files[i], R_OK) != 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "x509-dir=%s: cannot read %s", o->x509_dir,
                        names[i]);
            for (int j = 0; j <= i; j++)
                g_clear_pointer(&files[j], g_free);
            return false;
        }
    }
    return true;
}

/* ---- the server ---- */

SpiceDisplay *spice_display_new(Vm *vm, const SpiceOptions *o, GError **err)
{
    SpiceDisplay *d = g_new0(SpiceDisplay, 1);
    d->vm = vm;
    g_mutex_init(&d->lock);
    g_queue_init(&d->queue);
    g_queue_init(&d->cursor_queue);
    d->tablet_w = d->tablet_h = 2;
    d->tls_port = -1;
    char *tls[3] = { NULL, NULL, NULL };
    if (o->tls_port > 0 && !tls_files(o, tls, err)) {
        g_mutex_clear(&d->lock);
        g_free(d);
        return NULL;
    }
    d->server = spice_server_new();
    if (o->unix_socket) {
        spice_server_set_addr(d->server, o->addr, SPICE_ADDR_FLAG_UNIX_ONLY);
        spice_server_set_port(d->server, 0);
    } else {
        spice_server_set_addr(d->server, o->addr, 0);
        /* No port=: the plain port stays closed and every channel needs TLS. */
        if (o->port >= 0)
            spice_server_set_port(d->server, o->port);
    }
    if (o->tls_port > 0) {
        /* Clients check the server's certificate against their CA (spice-server's
         * OpenSSL side); all channels may use TLS, plain ones only where a port is. */
        spice_server_set_tls(d->server, o->tls_port, tls[0], tls[1], tls[2], NULL, NULL, NULL);
        d->tls_port = o->tls_port;
    }
    for (int i = 0; i < 3; i++)
        g_free(tls[i]);
    if (o->disable_ticketing)
        spice_server_set_noauth(d->server);
    else
        spice_server_set_ticket(d->server, o->password, 0, 0, 0);
    /* Lossless pictures: what a client shows is the guest's screen, pixel for pixel. */
    spice_server_set_image_compression(d->server, SPICE_IMAGE_COMPRESSION_AUTO_GLZ);
    spice_server_set_jpeg_compression(d->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_zlib_glz_compression(d->server, SPICE_WAN_COMPRESSION_NEVER);
    spice_server_set_streaming_video(d->server, SPICE_STREAM_VIDEO_OFF);
    if (spice_server_init(d->server, &core_iface) < 0) {
        if (o->unix_socket)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot listen on the socket %s", o->addr);
        else if (o->tls_port > 0)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                        "cannot listen on %s port %d and TLS port %d (in use? or the x509-dir files are not a CA "
                        "certificate, the server's certificate and its key)", o->addr, o->port, o->tls_port);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot listen on %s port %d (in use?)", o->addr,
                        o->port);
        spice_server_destroy(d->server);
        g_mutex_clear(&d->lock);
        g_free(d);
        return NULL;
    }
    d->qxl.base.sif = &qxl_iface.base;
    d->qxl.id = 0;
    spice_server_add_interface(d->server, &d->qxl.base);
    QXLDevMemSlot slot = {
        .slot_group_id = 0, .slot_id = 0, .generation = 0,
        .virt_start = 0, .virt_end = UINTPTR_MAX, .addr_delta = 0, .qxl_ram_size = UINT32_MAX,
    };
    spice_qxl_add_memslot(&d->qxl, &slot);
    d->kbd.base.sif = &kbd_iface.base;
    spice_server_add_interface(d->server, &d->kbd.base);
    d->mouse.base.sif = &mouse_iface.base;
    spice_server_add_interface(d->server, &d->mouse.base);
    if (vm_input_absolute(vm)) {
        /* A USB tablet: clients send positions (client mouse mode), no grab. */
        d->tablet.base.sif = &tablet_iface.base;
        spice_server_add_interface(d->server, &d->tablet.base);
        d->have_tablet = true;
    }
    d->audio = spice_audio_new(vm, d->server);
    d->chars = spice_chars_attach(vm, d->server);
    DisplayConsole *con = vm_display_console(vm);
    if (con)
        d->client = display_client_new(con);
    d->display_streams = g_hash_table_new(NULL, NULL);
    d->cursor_streams = g_hash_table_new(NULL, NULL);
    d->port = o->unix_socket ? 0 : o->port;
    d->unix_path = o->unix_socket ? g_strdup(o->addr) : NULL;
    displays = g_list_prepend(displays, d);
    spice_server_vm_start(d->server);
    return d;
}

void spice_display_free(SpiceDisplay *d)
{
    if (!d)
        return;
    if (d->refresh_source)
        g_source_remove(d->refresh_source);
    d->refresh_source = 0;
    spice_audio_free(d->audio);
    spice_chars_detach(d->chars);
    /* The keyboard, mouse and tablet interfaces stay: spice-server 0.15 refuses to remove
     * them (a warning) and keeps their small state after spice_server_destroy. */
    spice_server_vm_stop(d->server);
    /* Stops the worker thread; drawables it still held are released to us first. */
    spice_server_destroy(d->server);
    queue_drop(d);
    cursor_queue_drop(d);
    /* Events posted before the server stopped find no display. */
    displays = g_list_remove(displays, d);
    g_hash_table_destroy(d->display_streams);
    g_hash_table_destroy(d->cursor_streams);
    g_free(d->unix_path);
    if (d->client)
        display_client_free(d->client);
    g_free(d->primary_mem);
    g_mutex_clear(&d->lock);
    g_free(d);
}
