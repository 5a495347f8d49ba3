/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The app's clipboard shared with a running VM's spice-vdagent (vm.conf clipboard=true):
 * the VdagentClipboardPeer (engine/vdagent.h) on GdkClipboard text.
 *
 * Host to guest: when the desktop's clipboard gets text from another program, the
 * guest's agent is told (grab); when the guest pastes, the text is read from the
 * clipboard and sent. Guest to host: when the guest copies, its text is fetched at
 * once and put on the desktop's clipboard as our own content, which the "changed"
 * handler then recognises and does not offer back to the guest.
 * Everything runs on the GTK main thread, as the engine's peer calls do. */
#include "ui/gtk/vireo-clipboard.h"
#include "engine/vdagent.h"

#include <string.h>

struct VireoClipboard {
    Vdagent *agent;
    GdkClipboard *cb;
    gulong changed_id;
    GdkContentProvider *own;   /* what we put on the clipboard from the guest */
    GCancellable *cancel;      /* reads for the guest still under way */
};

static bool host_has_text(VireoClipboard *c)
{
    GdkContentFormats *f = gdk_clipboard_get_formats(c->cb);
    return f && gdk_content_formats_contain_gtype(f, G_TYPE_STRING);
}

static void on_changed(GdkClipboard *cb, VireoClipboard *c)
{
    (void)cb;
    if (c->own && gdk_clipboard_get_content(c->cb) == c->own)
        return; /* the guest's own text */
    g_clear_object(&c->own);
    if (host_has_text(c))
        vdagent_clipboard_grab(c->agent);
    else
        vdagent_clipboard_release(c->agent);
}

static void peer_connected(void *opaque, bool connected)
{
    (void)opaque;
    (void)connected; /* the engine offers the host's grab again to a new agent */
}

static void peer_guest_grab(void *opaque)
{
    VireoClipboard *c = opaque;
    vdagent_clipboard_request(c->agent);
}

static void peer_guest_release(void *opaque)
{
    (void)opaque; /* the desktop keeps what it was given */
}

static void peer_guest_text(void *opaque, const char *text, size_t len)
{
    VireoClipboard *c = opaque;
    /* A string value: GDK offers it as text/plain;charset=utf-8 and the other text
     * types other programs ask for. */
    GValue v = G_VALUE_INIT;
    g_value_init(&v, G_TYPE_STRING);
    g_value_take_string(&v, g_strndup(text, len));
    g_clear_object(&c->own);
    c->own = gdk_content_provider_new_for_value(&v);
    g_value_unset(&v);
    gdk_clipboard_set_content(c->cb, c->own);
}

static void read_done(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = gdk_clipboard_read_text_finish(GDK_CLIPBOARD(src), res, &err);
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* the VM is gone; data is freed */
    VireoClipboard *c = data;
    vdagent_clipboard_send(c->agent, text, text ? strlen(text) : 0);
}

static void peer_guest_request(void *opaque)
{
    VireoClipboard *c = opaque;
    gdk_clipboard_read_text_async(c->cb, c->cancel, read_done, c);
}

static const VdagentClipboardPeer peer = {
    .connected = peer_connected,
    .guest_grab = peer_guest_grab,
    .guest_release = peer_guest_release,
    .guest_text = peer_guest_text,
    .guest_request = peer_guest_request,
};

VireoClipboard *vireo_clipboard_new(Vm *vm, GdkClipboard *cb)
{
    Vdagent *a = vdagent_find_any(vm);
    if (!a || !vdagent_clipboard_enabled(a) || !cb)
        return NULL;
    VireoClipboard *c = g_new0(VireoClipboard, 1);
    c->agent = a;
    c->cb = g_object_ref(cb);
    c->cancel = g_cancellable_new();
    vdagent_set_clipboard_peer(a, &peer, c);
    c->changed_id = g_signal_connect(cb, "changed", G_CALLBACK(on_changed), c);
    /* Text copied before the VM started is offered too. */
    if (host_has_text(c))
        vdagent_clipboard_grab(a);
    return c;
}

/* Before the VM is freed (its chardev takes the agent peer with it). */
void vireo_clipboard_free(VireoClipboard *c)
{
    if (!c)
        return;
    g_cancellable_cancel(c->cancel);
    g_object_unref(c->cancel);
    vdagent_set_clipboard_peer(c->agent, NULL, NULL);
    g_signal_handler_disconnect(c->cb, c->changed_id);
    g_clear_object(&c->own);
    g_object_unref(c->cb);
    g_free(c);
}
