/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -chardev spicevmc,id=ID,name=vdagent: the SPICE server's agent channel on a
 * virtserialport named com.redhat.spice.0; name=usbredir: its USB redirection channel
 * (subtype "usbredir", one per chardev) for a -device usb-redir. The server's main channel carries the
 * VDAgent messages (clipboard, monitors config) between its clients and the guest's
 * spice-vdagent; this file is the char device in between (SpiceCharDeviceInstance,
 * subtype "vdagent").
 *
 * As QEMU does, the instance is added to the server while a guest program has the port
 * open and removed when it closes it: the server tells its clients that the agent came
 * or went (SPICE_MSG_MAIN_AGENT_CONNECTED / DISCONNECTED) from that.
 *
 * Threads and locks: the char device interface's read, write and state are called by
 * the server on the main thread (it runs char devices on the core interface's watches
 * and timers), as are the idle and spice_server_* calls here. The guest's bytes and the
 * port's open state come from the vCPU thread with the engine lock held:
 * SpiceChar.lock guards out, want_open and idle between the two. Bytes for the guest
 * go through chardev_peer_input, which is safe from any thread. */
#include "ui/spice/spice-internal.h"
#include "engine/backend.h"
#include "engine/chardev.h"
#include "engine/log.h"

#include <string.h>

/* Guest output waiting for the server beyond this is dropped (no client reads it). */
#define SPICE_CHAR_OUT_MAX (1024 * 1024)

struct SpiceChar {
    SpiceCharDeviceInstance sin;
    SpiceServer *server;
    Chardev *chr;
    bool added;     /* main thread: the instance is on the server */
    bool usbredir;  /* the USB redirection channel (else the agent's) */

    GMutex lock;    /* guards the fields below */
    GByteArray *out;
    bool want_open;
    bool closed;    /* the port was closed since the idle last ran (maybe reopened) */
    guint idle;
};

static SpiceChar *char_of(SpiceCharDeviceInstance *sin)
{
    return (SpiceChar *)((char *)sin - offsetof(SpiceChar, sin));
}

/* Server → guest (a client's or the server's message for the agent). */
static int vmc_write(SpiceCharDeviceInstance *sin, const uint8_t *buf, int len)
{
    SpiceChar *sc = char_of(sin);
    if (len <= 0)
        return 0;
    /* What does not fit now the server retries on its own timer. */
    return (int)chardev_peer_input(sc->chr, buf, (size_t)len);
}

/* Guest → server. */
static int vmc_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    SpiceChar *sc = char_of(sin);
    if (len <= 0)
        return 0;
    g_mutex_lock(&sc->lock);
    int n = (int)MIN((size_t)len, (size_t)sc->out->len);
    if (n) {
        memcpy(buf, sc->out->data, (size_t)n);
        g_byte_array_remove_range(sc->out, 0, (guint)n);
    }
    g_mutex_unlock(&sc->lock);
    return n;
}

/* The agent channel: the server disables the device when the agent sent it something it
 * refuses. The usbredir channel: a client's channel came or went, and each one starts a
 * usbredir stream of its own (hello first), so what the device wrote for an earlier one
 * is dropped before the device hears of the new one. */
static void vmc_state(SpiceCharDeviceInstance *sin, int connected)
{
    SpiceChar *sc = char_of(sin);
    if (!sc->usbredir) {
        if (!connected)
            VLOG(LOG_GUEST, "spicevmc: the SPICE server stopped talking to the guest agent");
        return;
    }
    g_mutex_lock(&sc->lock);
    g_byte_array_set_size(sc->out, 0);
    g_mutex_unlock(&sc->lock);
    chardev_peer_session(sc->chr, connected != 0);
}

static const SpiceCharDeviceInterface vmc_iface = {
    .base = { .type = SPICE_INTERFACE_CHAR_DEVICE, .description = "vireo spicevmc",
              .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR, .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR },
    .state = vmc_state,
    .write = vmc_write,
    .read = vmc_read,
};

/* Main thread: follows the port's open state and tells the server of new bytes. */
static gboolean vmc_idle(gpointer p)
{
    SpiceChar *sc = p;
    g_mutex_lock(&sc->lock);
    sc->idle = 0;
    bool open = sc->want_open, closed = sc->closed, data = sc->out->len > 0;
    sc->closed = false;
    g_mutex_unlock(&sc->lock);
    /* A close and reopen since the last run still ends the server's session with the
     * old agent: the new one starts afresh. */
    if ((closed || !open) && sc->added) {
        spice_server_remove_interface(&sc->sin.base);
        sc->added = false;
    }
    if (open && !sc->added) {
        spice_server_add_interface(sc->server, &sc->sin.base);
        sc->added = true;
    }
    if (sc->added && data)
        spice_server_char_device_wakeup(&sc->sin);
    return G_SOURCE_REMOVE;
}

/* Lock held. */
static void schedule(SpiceChar *sc)
{
    if (!sc->idle)
        sc->idle = g_idle_add(vmc_idle, sc);
}

/* vCPU thread, engine lock held. */
static void chr_write(void *opaque, const uint8_t *buf, size_t len)
{
    SpiceChar *sc = opaque;
    g_mutex_lock(&sc->lock);
    if (sc->out->len + len <= SPICE_CHAR_OUT_MAX)
        g_byte_array_append(sc->out, buf, (guint)len);
    else
        VLOG(LOG_GUEST, "spicevmc: %zu bytes from the guest agent dropped (nobody reads them)", len);
    schedule(sc);
    g_mutex_unlock(&sc->lock);
}

static void chr_fe_open(void *opaque, bool open)
{
    SpiceChar *sc = opaque;
    g_mutex_lock(&sc->lock);
    if (!open && sc->want_open) {
        /* What the old agent wrote and the server did not take is not the new one's. */
        g_byte_array_set_size(sc->out, 0);
        sc->closed = true;
    }
    sc->want_open = open;
    schedule(sc);
    g_mutex_unlock(&sc->lock);
}

static const ChardevPeerOps vmc_chr_ops = {
    .write = chr_write,
    .fe_open = chr_fe_open,
};

static SpiceChar *spice_char_new(SpiceServer *server, Chardev *chr, bool usbredir)
{
    SpiceChar *sc = g_new0(SpiceChar, 1);
    sc->server = server;
    sc->chr = chr;
    sc->sin.base.sif = &vmc_iface.base;
    sc->usbredir = usbredir;
    sc->sin.subtype = usbredir ? "usbredir" : "vdagent";
    g_mutex_init(&sc->lock);
    sc->out = g_byte_array_new();
    chardev_peer_attach(chr, &vmc_chr_ops, sc);
    return sc;
}

GPtrArray *spice_chars_attach(Vm *vm, SpiceServer *server)
{
    GPtrArray *chars = g_ptr_array_new();
    g_autoptr(GPtrArray) all = backend_list(vm, "chardev");
    for (guint i = 0; i < all->len; i++) {
        const char *kind = chardev_peer_kind(all->pdata[i]);
        if (!g_strcmp0(kind, "spicevmc:vdagent") || !g_strcmp0(kind, "spicevmc:usbredir"))
            g_ptr_array_add(chars, spice_char_new(server, all->pdata[i], !strcmp(kind, "spicevmc:usbredir")));
    }
    return chars;
}

/* Main thread, before the server is destroyed. */
void spice_chars_detach(GPtrArray *chars)
{
    if (!chars)
        return;
    for (guint i = 0; i < chars->len; i++) {
        SpiceChar *sc = chars->pdata[i];
        /* From here the vCPU thread no longer reaches sc. */
        chardev_peer_attach(sc->chr, NULL, NULL);
        if (sc->idle)
            g_source_remove(sc->idle);
        if (sc->added)
            spice_server_remove_interface(&sc->sin.base);
        g_byte_array_free(sc->out, TRUE);
        g_mutex_clear(&sc->lock);
        g_free(sc);
    }
    g_ptr_array_free(chars, TRUE);
}
