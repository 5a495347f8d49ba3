/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The guest display widget. */
#include "ui/gtk/vireo-display.h"
#include "engine/config.h"
#include "engine/display.h"
#include "engine/input.h"
#include "ui/keymap.h"

#include <epoxy/gl.h>
#include <glib/gi18n.h>
#ifdef HAVE_GTK_X11
#include <gdk/x11/gdkx.h>
#endif
#include <math.h>
#include <string.h>

#define MAX_HELD_KEYS 32

struct _VireoDisplay {
    GtkGLArea parent;
    Vm *vm;
    DisplayClient *client;
    DisplaySurface *surface;     /* the client's, valid until its next refresh */
    pixman_region32_t pending;   /* changed since the last upload */
    bool texture_stale;          /* the texture must be reallocated (new surface) */
    guint tick;

    /* GL objects, alive between realize and unrealize. */
    GLuint program, texture, vao, vbo;
    GLint attr_pos, attr_uv;
    int tex_w, tex_h;
    bool gl_ok, modern, row_length;
    /* Without GL (no driver, GDK_DEBUG=gl-disable) the picture goes through GTK's own
     * renderer as a texture, rebuilt when the guest changed something. */
    GdkTexture *fallback;

    bool integer_scaling;
    bool grabbed;
    /* Ctrl+Alt let go of the keyboard: keys stay with the host until the user gives
     * them back with a click on the screen. */
    bool keys_released;
    bool ctrl_down, alt_down, chord_other_key;
    uint16_t held[MAX_HELD_KEYS];
    size_t n_held;
    double last_x, last_y;
    bool have_last;
    unsigned buttons;

    /* Dynamic resolution (device pixels): the size last offered to the display, the
     * size seen at the last frame and since when (frame clock, us). */
    int sent_w, sent_h;
    int seen_w, seen_h;
    gint64 seen_since;
};

G_DEFINE_FINAL_TYPE(VireoDisplay, vireo_display, GTK_TYPE_GL_AREA)

enum { PROP_0, PROP_GRABBED, N_PROPS };
static GParamSpec *props[N_PROPS];

/* ---- picture geometry ---- */

/* The picture's rectangle in a w x h area (any unit), centred. */
static void picture_rect(VireoDisplay *d, double w, double h, double scale, graphene_rect_t *r)
{
    const DisplaySurface *s = d->surface;
    double pw, ph;
    if (d->integer_scaling) {
        /* Whole device pixels per guest pixel, for sharp pictures. */
        double k = floor(fmin(w * scale / s->width, h * scale / s->height));
        if (k < 1)
            k = 1;
        pw = s->width * k / scale;
        ph = s->height * k / scale;
    } else {
        double aw = s->aspect_w > 0 ? s->aspect_w : s->width;
        double ah = s->aspect_h > 0 ? s->aspect_h : s->height;
        double k = fmin(w / aw, h / ah);
        pw = aw * k;
        ph = ah * k;
    }
    graphene_rect_init(r, (float)floor((w - pw) / 2), (float)floor((h - ph) / 2), (float)pw, (float)ph);
}

gboolean vireo_display_get_picture_rect(VireoDisplay *d, graphene_rect_t *rect)
{
    if (!d->surface)
        return FALSE;
    picture_rect(d, gtk_widget_get_width(GTK_WIDGET(d)), gtk_widget_get_height(GTK_WIDGET(d)),
                 gtk_widget_get_scale_factor(GTK_WIDGET(d)), rect);
    return TRUE;
}

gboolean vireo_display_get_surface_size(VireoDisplay *d, int *width, int *height)
{
    if (!d->surface)
        return FALSE;
    *width = d->surface->width;
    *height = d->surface->height;
    return TRUE;
}

/* ---- GL ---- */

static const char vertex_modern[] =
    "in vec2 pos;\nin vec2 uv;\nout vec2 v_uv;\n"
    "void main() { v_uv = uv; gl_Position = vec4(pos, 0.0, 1.0); }\n";
static const char fragment_modern[] =
    "in vec2 v_uv;\nout vec4 color;\nuniform sampler2D tex;\n"
    /* The surface is x8r8g8b8: B, G, R, X in memory, uploaded as RGBA bytes. */
    "void main() { color = vec4(texture(tex, v_uv).bgr, 1.0); }\n";
static const char vertex_legacy[] =
    "attribute vec2 pos;\nattribute vec2 uv;\nvarying vec2 v_uv;\n"
    "void main() { v_uv = uv; gl_Position = vec4(pos, 0.0, 1.0); }\n";
static const char fragment_legacy[] =
    "varying vec2 v_uv;\nuniform sampler2D tex;\n"
    "void main() { gl_FragColor = vec4(texture2D(tex, v_uv).bgr, 1.0); }\n";

static GLuint compile_shader(GLenum type, const char *header, const char *body, GError **err)
{
    GLuint sh = glCreateShader(type);
    const char *src[] = { header, body };
    glShaderSource(sh, 2, src, NULL);
    glCompileShader(sh);
    GLint ok = 0;
    glGetShaderiv(sh, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[512] = "";
        glGetShaderInfoLog(sh, sizeof(log), NULL, log);
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "shader: %s", log);
        glDeleteShader(sh);
        return 0;
    }
    return sh;
}

static bool build_program(VireoDisplay *d, GdkGLContext *ctx, GError **err)
{
    int major, minor;
    gdk_gl_context_get_version(ctx, &major, &minor);
    bool es = gdk_gl_context_get_use_es(ctx);
    d->modern = es ? major >= 3 : (major > 3 || (major == 3 && minor >= 2));
    d->row_length = !es || major >= 3;
    const char *header = es ? (d->modern ? "#version 300 es\nprecision mediump float;\n"
                                         : "#version 100\nprecision mediump float;\n")
                            : (d->modern ? "#version 150\n" : "#version 110\n");
    GLuint vs = compile_shader(GL_VERTEX_SHADER, header, d->modern ? vertex_modern : vertex_legacy, err);
    if (!vs)
        return false;
    GLuint fs = compile_shader(GL_FRAGMENT_SHADER, header, d->modern ? fragment_modern : fragment_legacy, err);
    if (!fs) {
        glDeleteShader(vs);
        return false;
    }
    d->program = glCreateProgram();
    glAttachShader(d->program, vs);
    glAttachShader(d->program, fs);
    glLinkProgram(d->program);
    glDeleteShader(vs);
    glDeleteShader(fs);
    GLint ok = 0;
    glGetProgramiv(d->program, GL_LINK_STATUS, &ok);
    if (!ok) {
        g_set_error(err, G_IO_ERROR, G_IO_ERROR_FAILED, "shader program does not link");
        return false;
    }
    d->attr_pos = glGetAttribLocation(d->program, "pos");
    d->attr_uv = glGetAttribLocation(d->program, "uv");
    return true;
}

static void on_realize(GtkWidget *w, gpointer data)
{
    VireoDisplay *d = VIREO_DISPLAY(w);
    gtk_gl_area_make_current(GTK_GL_AREA(w));
    if (gtk_gl_area_get_error(GTK_GL_AREA(w)))
        return;
    GError *err = NULL;
    if (!build_program(d, gtk_gl_area_get_context(GTK_GL_AREA(w)), &err)) {
        gtk_gl_area_set_error(GTK_GL_AREA(w), err);
        g_error_free(err);
        return;
    }
    /* A quad over the viewport: position, then texture coordinate (row 0 at the top). */
    static const GLfloat quad[] = {
        -1, 1, 0, 0,   1, 1, 1, 0,   -1, -1, 0, 1,   1, -1, 1, 1,
    };
    if (d->modern) {
        glGenVertexArrays(1, &d->vao);
        glBindVertexArray(d->vao);
    }
    glGenBuffers(1, &d->vbo);
    glBindBuffer(GL_ARRAY_BUFFER, d->vbo);
    glBufferData(GL_ARRAY_BUFFER, sizeof(quad), quad, GL_STATIC_DRAW);
    glGenTextures(1, &d->texture);
    d->tex_w = d->tex_h = 0;
    d->texture_stale = true;
    d->gl_ok = true;
}

static void on_unrealize(GtkWidget *w, gpointer data)
{
    VireoDisplay *d = VIREO_DISPLAY(w);
    gtk_gl_area_make_current(GTK_GL_AREA(w));
    if (d->gl_ok) {
        glDeleteTextures(1, &d->texture);
        glDeleteBuffers(1, &d->vbo);
        if (d->vao)
            glDeleteVertexArrays(1, &d->vao);
        glDeleteProgram(d->program);
    }
    d->texture = d->vbo = d->vao = d->program = 0;
    d->gl_ok = false;
}

static void upload(VireoDisplay *d)
{
    const DisplaySurface *s = d->surface;
    const uint8_t *pixels = (const uint8_t *)pixman_image_get_data(s->image);
    int stride = pixman_image_get_stride(s->image);
    glBindTexture(GL_TEXTURE_2D, d->texture);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
    if (d->texture_stale || d->tex_w != s->width || d->tex_h != s->height) {
        if (d->row_length)
            glPixelStorei(GL_UNPACK_ROW_LENGTH, stride / 4);
        glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, s->width, s->height, 0, GL_RGBA, GL_UNSIGNED_BYTE, pixels);
        d->tex_w = s->width;
        d->tex_h = s->height;
        d->texture_stale = false;
        pixman_region32_clear(&d->pending);
        return;
    }
    int n;
    const pixman_box32_t *boxes = pixman_region32_rectangles(&d->pending, &n);
    for (int i = 0; i < n; i++) {
        int x = boxes[i].x1, y = boxes[i].y1;
        int w = boxes[i].x2 - x, h = boxes[i].y2 - y;
        if (!d->row_length) {
            /* Without GL_UNPACK_ROW_LENGTH (GLES 2) whole rows are uploaded. */
            x = 0;
            w = s->width;
        }
        if (d->row_length)
            glPixelStorei(GL_UNPACK_ROW_LENGTH, stride / 4);
        glTexSubImage2D(GL_TEXTURE_2D, 0, x, y, w, h, GL_RGBA, GL_UNSIGNED_BYTE,
                        pixels + (size_t)y * (size_t)stride + (size_t)x * 4);
    }
    if (d->row_length)
        glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    pixman_region32_clear(&d->pending);
}

static gboolean on_render(GtkGLArea *area, GdkGLContext *ctx, gpointer data)
{
    VireoDisplay *d = VIREO_DISPLAY(area);
    glClearColor(0, 0, 0, 1);
    glClear(GL_COLOR_BUFFER_BIT);
    if (!d->gl_ok || !d->surface)
        return TRUE;
    upload(d);

    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(area));
    int fb_w = gtk_widget_get_width(GTK_WIDGET(area)) * scale;
    int fb_h = gtk_widget_get_height(GTK_WIDGET(area)) * scale;
    graphene_rect_t r;
    /* In device pixels, so integer scaling maps guest pixels to whole device pixels. */
    picture_rect(d, fb_w, fb_h, 1, &r);
    /* GL's origin is the bottom left. */
    glViewport((GLint)lround(r.origin.x), (GLint)lround(fb_h - r.origin.y - r.size.height),
               (GLsizei)lround(r.size.width), (GLsizei)lround(r.size.height));
    glUseProgram(d->program);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, d->texture);
    GLint filter = d->integer_scaling ? GL_NEAREST : GL_LINEAR;
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    glUniform1i(glGetUniformLocation(d->program, "tex"), 0);
    if (d->vao)
        glBindVertexArray(d->vao);
    glBindBuffer(GL_ARRAY_BUFFER, d->vbo);
    glEnableVertexAttribArray((GLuint)d->attr_pos);
    glVertexAttribPointer((GLuint)d->attr_pos, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(GLfloat), NULL);
    glEnableVertexAttribArray((GLuint)d->attr_uv);
    glVertexAttribPointer((GLuint)d->attr_uv, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(GLfloat),
                          (const void *)(2 * sizeof(GLfloat)));
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
    glDisableVertexAttribArray((GLuint)d->attr_pos);
    glDisableVertexAttribArray((GLuint)d->attr_uv);
    glUseProgram(0);
    return TRUE;
}

/* ---- dynamic resolution ---- */

/* A size must hold this long before it is offered: a drag of the window's edge sends the
 * guest its final size, not every size on the way. */
#define RESIZE_SETTLE_US (150 * 1000)

/* Once per frame: when the user has resized the window, the widget's new size goes to
 * the display (display_console_request_size). virtio-gpu tells the guest, which can take
 * it as its mode; VGA and Cirrus keep theirs and the picture is scaled. As SDL's window,
 * the size the widget first gets is not sent: the guest starts in its own mode. */
static void follow_size(VireoDisplay *d, GdkFrameClock *clock)
{
    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(d));
    int w = gtk_widget_get_width(GTK_WIDGET(d)) * scale;
    int h = gtk_widget_get_height(GTK_WIDGET(d)) * scale;
    if (w < 1 || h < 1)
        return;
    gint64 now = gdk_frame_clock_get_frame_time(clock);
    if (!d->sent_w) {
        d->sent_w = d->seen_w = w;
        d->sent_h = d->seen_h = h;
        return;
    }
    if (w != d->seen_w || h != d->seen_h) {
        d->seen_w = w;
        d->seen_h = h;
        d->seen_since = now;
        return;
    }
    if ((w != d->sent_w || h != d->sent_h) && now - d->seen_since >= RESIZE_SETTLE_US) {
        d->sent_w = w;
        d->sent_h = h;
        DisplayConsole *con = vm_display_console(d->vm);
        if (con)
            display_console_request_size(con, w, h);
    }
}

/* ---- pulling frames ---- */

static gboolean on_tick(GtkWidget *w, GdkFrameClock *clock, gpointer data)
{
    VireoDisplay *d = VIREO_DISPLAY(w);
    if (!d->client)
        return G_SOURCE_CONTINUE;
    follow_size(d, clock);
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface = false;
    DisplaySurface *s = display_client_refresh(d->client, &dirty, &new_surface);
    if (s != d->surface || new_surface) {
        d->surface = s;
        d->texture_stale = true;
    }
    if (d->surface && (new_surface || pixman_region32_not_empty(&dirty))) {
        pixman_region32_union(&d->pending, &d->pending, &dirty);
        if (d->gl_ok) {
            gtk_gl_area_queue_render(GTK_GL_AREA(w));
        } else {
            g_clear_object(&d->fallback);
            pixman_region32_clear(&d->pending);
            gtk_widget_queue_draw(w);
        }
    }
    pixman_region32_fini(&dirty);
    return G_SOURCE_CONTINUE;
}

void vireo_display_attach(VireoDisplay *d, Vm *vm)
{
    if (d->vm == vm)
        return;
    vireo_display_ungrab(d);
    if (d->client) {
        display_client_free(d->client);
        d->client = NULL;
    }
    d->surface = NULL;
    g_clear_object(&d->fallback);
    pixman_region32_clear(&d->pending);
    d->vm = vm;
    d->keys_released = false;
    d->sent_w = d->sent_h = 0;
    DisplayConsole *con = vm ? vm_display_console(vm) : NULL;
    if (con)
        d->client = display_client_new(con);
    if (d->client && !d->tick)
        d->tick = gtk_widget_add_tick_callback(GTK_WIDGET(d), on_tick, NULL, NULL);
    else if (!d->client && d->tick) {
        gtk_widget_remove_tick_callback(GTK_WIDGET(d), d->tick);
        d->tick = 0;
    }
    gtk_gl_area_queue_render(GTK_GL_AREA(d));
}

void vireo_display_set_integer_scaling(VireoDisplay *d, gboolean on)
{
    d->integer_scaling = on;
    gtk_gl_area_queue_render(GTK_GL_AREA(d));
    gtk_widget_queue_draw(GTK_WIDGET(d));
}

GdkTexture *vireo_display_get_texture(VireoDisplay *d)
{
    const DisplaySurface *s = d->surface;
    if (!s)
        return NULL;
    /* GDK 4.8 has no x8 format: copy with the padding byte made opaque. */
    int stride = pixman_image_get_stride(s->image);
    const uint8_t *src = (const uint8_t *)pixman_image_get_data(s->image);
    size_t len = (size_t)s->width * 4 * (size_t)s->height;
    uint8_t *buf = g_malloc(len);
    for (int y = 0; y < s->height; y++) {
        const uint8_t *row = src + (size_t)y * (size_t)stride;
        uint8_t *out = buf + (size_t)y * (size_t)s->width * 4;
        memcpy(out, row, (size_t)s->width * 4);
        for (int x = 0; x < s->width; x++)
            out[x * 4 + 3] = 0xff;
    }
    g_autoptr(GBytes) bytes = g_bytes_new_take(buf, len);
    return gdk_memory_texture_new(s->width, s->height, GDK_MEMORY_B8G8R8A8, bytes, (gsize)s->width * 4);
}

gboolean vireo_display_save_png(VireoDisplay *d, const char *path, GError **err)
{
    if (!d->surface) {
        g_set_error_literal(err, G_IO_ERROR, G_IO_ERROR_FAILED, _("There is no picture yet."));
        return FALSE;
    }
    return display_surface_write_png(d->surface, path, err);
}

/* ---- input ---- */

static void hold_key(VireoDisplay *d, uint16_t code, bool down)
{
    for (size_t i = 0; i < d->n_held; i++) {
        if (d->held[i] == code) {
            if (!down)
                d->held[i] = d->held[--d->n_held];
            return;
        }
    }
    if (down && d->n_held < MAX_HELD_KEYS)
        d->held[d->n_held++] = code;
}

static void send_key(VireoDisplay *d, uint16_t code, bool down)
{
    if (!d->vm || !code)
        return;
    hold_key(d, code, down);
    vm_input_key(d->vm, code, down);
}

/* Lets go of every key the guest believes is held (on ungrab and focus loss). */
static void release_all_keys(VireoDisplay *d)
{
    while (d->n_held) {
        uint16_t code = d->held[d->n_held - 1];
        send_key(d, code, false);
    }
    if (d->vm && d->buttons) {
        d->buttons = 0;
        vm_input_pointer(d->vm, 0, 0, 0, 0);
    }
}

void vireo_display_send_keys(VireoDisplay *d, const uint16_t *codes, size_t n)
{
    if (!d->vm || !n)
        return;
    /* The engine's input queue, as QMP send-key: each step held 100 ms, after any keys
     * still queued. The queue releases the keys itself, so they are not held here. */
    if (!vm_input_send_chord(d->vm, codes, n, VM_INPUT_HOLD_DEFAULT_NS))
        g_warning("Send Keys: the VM's input queue is full");
}

static GdkToplevel *toplevel_of(VireoDisplay *d)
{
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(d));
    GdkSurface *s = native ? gtk_native_get_surface(native) : NULL;
    return s && GDK_IS_TOPLEVEL(s) ? GDK_TOPLEVEL(s) : NULL;
}

#ifdef HAVE_GTK_X11
/* GTK 4 has no pointer grab. On X11 the pointer is confined to the window while
 * grabbed and brought back to the middle of the display when it strays, so relative
 * motion never runs into a screen edge. Wayland has no such request in GTK. */
static Window x11_window(VireoDisplay *d, Display **dpy)
{
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(d));
    GdkSurface *s = native ? gtk_native_get_surface(native) : NULL;
    if (!s || !GDK_IS_X11_SURFACE(s))
        return None;
    *dpy = GDK_DISPLAY_XDISPLAY(gdk_surface_get_display(s));
    return gdk_x11_surface_get_xid(s);
}

static void x11_confine(VireoDisplay *d, bool on)
{
    Display *dpy;
    Window w = x11_window(d, &dpy);
    if (w == None)
        return;
    if (on)
        XGrabPointer(dpy, w, True, ButtonPressMask | ButtonReleaseMask | PointerMotionMask,
                     GrabModeAsync, GrabModeAsync, w, None, CurrentTime);
    else
        XUngrabPointer(dpy, CurrentTime);
    XFlush(dpy);
}

/* Moves the pointer to the middle of the display when it nears an edge. Returns true
 * (and the new widget position) when it did. */
static bool x11_recenter(VireoDisplay *d, double x, double y, double *nx, double *ny)
{
    double w = gtk_widget_get_width(GTK_WIDGET(d)), h = gtk_widget_get_height(GTK_WIDGET(d));
    if (x > w / 4 && x < w * 3 / 4 && y > h / 4 && y < h * 3 / 4)
        return false;
    Display *dpy;
    Window xw = x11_window(d, &dpy);
    GtkNative *native = gtk_widget_get_native(GTK_WIDGET(d));
    if (xw == None || !native)
        return false;
    graphene_point_t centre = GRAPHENE_POINT_INIT((float)(w / 2), (float)(h / 2)), in_native;
    if (!gtk_widget_compute_point(GTK_WIDGET(d), GTK_WIDGET(native), &centre, &in_native))
        return false;
    double sx, sy;
    gtk_native_get_surface_transform(native, &sx, &sy);
    int scale = gtk_widget_get_scale_factor(GTK_WIDGET(d));
    XWarpPointer(dpy, None, xw, 0, 0, 0, 0, (int)((in_native.x + sx) * scale), (int)((in_native.y + sy) * scale));
    XFlush(dpy);
    *nx = w / 2;
    *ny = h / 2;
    return true;
}
#endif

static void set_grab(VireoDisplay *d, bool on, GdkEvent *event)
{
    if (d->grabbed == on)
        return;
    d->grabbed = on;
    GdkToplevel *top = toplevel_of(d);
    if (on) {
        d->keys_released = false;
        gtk_widget_grab_focus(GTK_WIDGET(d));
        /* Alt+Tab, the Super key and the like go to the guest while grabbed. */
        if (top)
            gdk_toplevel_inhibit_system_shortcuts(top, event);
        gtk_widget_set_cursor_from_name(GTK_WIDGET(d), "none");
        d->have_last = false;
#ifdef HAVE_GTK_X11
        x11_confine(d, true);
#endif
    } else {
#ifdef HAVE_GTK_X11
        x11_confine(d, false);
#endif
        if (top)
            gdk_toplevel_restore_system_shortcuts(top);
        gtk_widget_set_cursor(GTK_WIDGET(d), NULL);
        release_all_keys(d);
    }
    d->ctrl_down = d->alt_down = false;
    g_object_notify_by_pspec(G_OBJECT(d), props[PROP_GRABBED]);
}

gboolean vireo_display_get_grabbed(VireoDisplay *d)
{
    return d->grabbed;
}

gboolean vireo_display_get_keys_released(VireoDisplay *d)
{
    return d->keys_released;
}

void vireo_display_ungrab(VireoDisplay *d)
{
    set_grab(d, false, NULL);
}

static bool is_ctrl(guint keyval)
{
    return keyval == GDK_KEY_Control_L || keyval == GDK_KEY_Control_R;
}

static bool is_alt(guint keyval)
{
    return keyval == GDK_KEY_Alt_L || keyval == GDK_KEY_Alt_R || keyval == GDK_KEY_Meta_L ||
           keyval == GDK_KEY_Meta_R || keyval == GDK_KEY_ISO_Level3_Shift;
}

static gboolean on_key_pressed(GtkEventControllerKey *c, guint keyval, guint keycode,
                               GdkModifierType state, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm || d->keys_released)
        return FALSE;
    if (is_ctrl(keyval))
        d->ctrl_down = true;
    else if (is_alt(keyval))
        d->alt_down = true;
    else
        d->chord_other_key = true;
    if (is_ctrl(keyval) || is_alt(keyval)) {
        if (d->ctrl_down && d->alt_down)
            d->chord_other_key = false;
    }
    /* GDK keycodes on Linux are X11 keycodes (evdev + 8) on both X11 and Wayland. */
    send_key(d, keymap_x11_to_pc(keycode), true);
    return TRUE;
}

static void on_key_released(GtkEventControllerKey *c, guint keyval, guint keycode,
                            GdkModifierType state, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm || d->keys_released)
        return;
    send_key(d, keymap_x11_to_pc(keycode), false);
    bool chord = d->ctrl_down && d->alt_down && !d->chord_other_key;
    if (is_ctrl(keyval))
        d->ctrl_down = false;
    else if (is_alt(keyval))
        d->alt_down = false;
    /* Ctrl+Alt pressed and let go on their own: release the grab, and the keyboard
     * with it (a Ctrl+Alt+Del typed next is the host's, not the guest's). */
    if (chord && (is_ctrl(keyval) || is_alt(keyval)) && d->grabbed) {
        set_grab(d, false, NULL);
        d->keys_released = true;
        g_object_notify_by_pspec(G_OBJECT(d), props[PROP_GRABBED]);
    }
}

static void on_focus_leave(GtkEventControllerFocus *c, gpointer data)
{
    VireoDisplay *d = data;
    release_all_keys(d);
    d->ctrl_down = d->alt_down = false;
}

static unsigned button_mask(guint button)
{
    switch (button) {
    case GDK_BUTTON_PRIMARY: return VM_BUTTON_LEFT;
    case GDK_BUTTON_SECONDARY: return VM_BUTTON_RIGHT;
    case GDK_BUTTON_MIDDLE: return VM_BUTTON_MIDDLE;
    case 8: return VM_BUTTON_SIDE;
    case 9: return VM_BUTTON_EXTRA;
    }
    return 0;
}

static void on_pressed(GtkGestureClick *g, int n, double x, double y, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm)
        return;
    if (!d->grabbed) {
        /* The click that grabs is not the guest's. */
        set_grab(d, true, gtk_event_controller_get_current_event(GTK_EVENT_CONTROLLER(g)));
        return;
    }
    d->buttons |= button_mask(gtk_gesture_single_get_current_button(GTK_GESTURE_SINGLE(g)));
    vm_input_pointer(d->vm, 0, 0, 0, d->buttons);
}

static void on_released(GtkGestureClick *g, int n, double x, double y, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm || !d->grabbed)
        return;
    d->buttons &= ~button_mask(gtk_gesture_single_get_current_button(GTK_GESTURE_SINGLE(g)));
    vm_input_pointer(d->vm, 0, 0, 0, d->buttons);
}

static void on_motion(GtkEventControllerMotion *c, double x, double y, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm || !d->grabbed) {
        d->have_last = false;
        return;
    }
    if (d->have_last) {
        /* Relative motion in guest pixels: a PS/2 mouse moves by counts. */
        graphene_rect_t r;
        double kx = 1, ky = 1;
        if (vireo_display_get_picture_rect(d, &r) && r.size.width > 0 && r.size.height > 0) {
            kx = d->surface->width / r.size.width;
            ky = d->surface->height / r.size.height;
        }
        int dx = (int)lround((x - d->last_x) * kx), dy = (int)lround((y - d->last_y) * ky);
        if (dx || dy)
            vm_input_pointer(d->vm, dx, dy, 0, d->buttons);
    }
    d->last_x = x;
    d->last_y = y;
    d->have_last = true;
#ifdef HAVE_GTK_X11
    /* The warp's own motion event then arrives at the new position: no movement. */
    x11_recenter(d, x, y, &d->last_x, &d->last_y);
#endif
}

static gboolean on_scroll(GtkEventControllerScroll *c, double dx, double dy, gpointer data)
{
    VireoDisplay *d = data;
    if (!d->vm || !d->grabbed || dy == 0)
        return FALSE;
    vm_input_pointer(d->vm, 0, 0, dy > 0 ? 1 : -1, d->buttons);
    return TRUE;
}

/* ---- without GL ---- */

static void vireo_display_snapshot(GtkWidget *w, GtkSnapshot *snapshot)
{
    VireoDisplay *d = VIREO_DISPLAY(w);
    if (d->gl_ok) {
        GTK_WIDGET_CLASS(vireo_display_parent_class)->snapshot(w, snapshot);
        return;
    }
    int width = gtk_widget_get_width(w), height = gtk_widget_get_height(w);
    GdkRGBA black = { 0, 0, 0, 1 };
    gtk_snapshot_append_color(snapshot, &black, &GRAPHENE_RECT_INIT(0, 0, (float)width, (float)height));
    if (!d->surface)
        return;
    if (!d->fallback)
        d->fallback = vireo_display_get_texture(d);
    graphene_rect_t r;
    picture_rect(d, width, height, gtk_widget_get_scale_factor(w), &r);
    gtk_snapshot_append_texture(snapshot, d->fallback, &r);
}

/* ---- object ---- */

static void vireo_display_dispose(GObject *obj)
{
    VireoDisplay *d = VIREO_DISPLAY(obj);
    vireo_display_attach(d, NULL);
    g_clear_object(&d->fallback);
    G_OBJECT_CLASS(vireo_display_parent_class)->dispose(obj);
}

static void vireo_display_finalize(GObject *obj)
{
    pixman_region32_fini(&VIREO_DISPLAY(obj)->pending);
    G_OBJECT_CLASS(vireo_display_parent_class)->finalize(obj);
}

static void vireo_display_get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    VireoDisplay *d = VIREO_DISPLAY(obj);
    if (id == PROP_GRABBED)
        g_value_set_boolean(v, d->grabbed);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
}

static void vireo_display_class_init(VireoDisplayClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    oc->dispose = vireo_display_dispose;
    oc->finalize = vireo_display_finalize;
    oc->get_property = vireo_display_get_property;
    props[PROP_GRABBED] = g_param_spec_boolean("grabbed", NULL, NULL, FALSE,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
    g_object_class_install_properties(oc, N_PROPS, props);
    gtk_widget_class_set_css_name(GTK_WIDGET_CLASS(klass), "vireo-display");
    GTK_WIDGET_CLASS(klass)->snapshot = vireo_display_snapshot;
}

static void vireo_display_init(VireoDisplay *d)
{
    pixman_region32_init(&d->pending);
    GtkWidget *w = GTK_WIDGET(d);
    gtk_widget_set_focusable(w, TRUE);
    gtk_widget_set_hexpand(w, TRUE);
    gtk_widget_set_vexpand(w, TRUE);
    gtk_widget_add_css_class(w, "vm-display");
    gtk_gl_area_set_auto_render(GTK_GL_AREA(d), FALSE);
    gtk_gl_area_set_has_depth_buffer(GTK_GL_AREA(d), FALSE);
    g_signal_connect(d, "realize", G_CALLBACK(on_realize), NULL);
    g_signal_connect(d, "unrealize", G_CALLBACK(on_unrealize), NULL);
    g_signal_connect(d, "render", G_CALLBACK(on_render), NULL);

    GtkEventController *key = gtk_event_controller_key_new();
    g_signal_connect(key, "key-pressed", G_CALLBACK(on_key_pressed), d);
    g_signal_connect(key, "key-released", G_CALLBACK(on_key_released), d);
    gtk_widget_add_controller(w, key);
    GtkEventController *focus = gtk_event_controller_focus_new();
    g_signal_connect(focus, "leave", G_CALLBACK(on_focus_leave), d);
    gtk_widget_add_controller(w, focus);
    GtkGesture *click = gtk_gesture_click_new();
    gtk_gesture_single_set_button(GTK_GESTURE_SINGLE(click), 0);
    g_signal_connect(click, "pressed", G_CALLBACK(on_pressed), d);
    g_signal_connect(click, "released", G_CALLBACK(on_released), d);
    gtk_widget_add_controller(w, GTK_EVENT_CONTROLLER(click));
    GtkEventController *motion = gtk_event_controller_motion_new();
    g_signal_connect(motion, "motion", G_CALLBACK(on_motion), d);
    gtk_widget_add_controller(w, motion);
    GtkEventController *scroll = gtk_event_controller_scroll_new(GTK_EVENT_CONTROLLER_SCROLL_VERTICAL |
                                                                  GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
    g_signal_connect(scroll, "scroll", G_CALLBACK(on_scroll), d);
    gtk_widget_add_controller(w, scroll);
}

VireoDisplay *vireo_display_new(void)
{
    return g_object_new(VIREO_TYPE_DISPLAY, NULL);
}
