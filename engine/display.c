/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Display consoles: the surface a display device renders into, the per-client record
 * of what changed, text-mode contents and picture files. */
#include "engine/display.h"
#include "engine/regfile.h"
#include "engine/vm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct DisplayConsole {
    Vm *vm;
    const DisplayDeviceOps *ops;
    void *opaque;
    DisplaySurface *surface;
    unsigned next_serial;
    GPtrArray *clients; /* DisplayClient* */
    /* The hardware cursor: its shape (NULL: none) and position, each with a serial
     * bumped when it changes. */
    DisplayCursor *cursor;
    bool cursor_visible;
    int cursor_x, cursor_y;
    unsigned cursor_shape_serial, cursor_pos_serial;
};

struct DisplayClient {
    DisplayConsole *con;
    DisplaySurface *surface; /* what the client saw last (a reference) */
    pixman_region32_t pending; /* changed since the client's last refresh */
    DisplayCursor *cursor;   /* the shape the client saw last (a reference) */
    unsigned cursor_shape_serial, cursor_pos_serial;
    bool draws_cursor;       /* shows the hardware cursor itself (guarded by the engine lock) */
};

static DisplaySurface *surface_new(DisplayConsole *con, int w, int h, int aw, int ah)
{
    DisplaySurface *s = g_new0(DisplaySurface, 1);
    s->width = w;
    s->height = h;
    s->aspect_w = aw > 0 ? aw : w;
    s->aspect_h = ah > 0 ? ah : h;
    /* pixman zeroes the bits it allocates: a new surface starts black. */
    s->image = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h, NULL, w * 4);
    if (!s->image)
        g_error("display: out of memory for a %dx%d surface", w, h);
    s->serial = ++con->next_serial;
    s->refs = 1;
    return s;
}

static void surface_unref(DisplaySurface *s)
{
    if (s && --s->refs == 0) {
        pixman_image_unref(s->image);
        g_free(s);
    }
}

static void cursor_unref(DisplayCursor *c)
{
    if (c && --c->refs == 0) {
        g_free(c->pixels);
        g_free(c);
    }
}

static void console_free(void *opaque)
{
    DisplayConsole *con = opaque;
    /* Clients belong to front ends that outlive nothing of the VM; detach them. */
    for (guint i = 0; i < con->clients->len; i++) {
        DisplayClient *c = con->clients->pdata[i];
        c->con = NULL;
    }
    g_ptr_array_free(con->clients, TRUE);
    surface_unref(con->surface);
    cursor_unref(con->cursor);
    con->vm->display = NULL;
    g_free(con);
}

DisplayConsole *display_console_register(Vm *vm, const DisplayDeviceOps *ops, void *opaque)
{
    g_assert(!vm->display);
    DisplayConsole *con = g_new0(DisplayConsole, 1);
    con->vm = vm;
    con->ops = ops;
    con->opaque = opaque;
    con->clients = g_ptr_array_new();
    /* Until the device renders: the size of a VGA text screen. */
    con->surface = surface_new(con, 720, 400, 4, 3);
    vm->display = con;
    vm_add_cleanup(vm, console_free, con);
    return con;
}

DisplayConsole *vm_display_console(Vm *vm)
{
    return vm->display;
}

DisplaySurface *display_console_surface(DisplayConsole *con)
{
    return con->surface;
}

DisplaySurface *display_console_resize(DisplayConsole *con, int width, int height,
                                       int aspect_w, int aspect_h)
{
    width = CLAMP(width, 1, DISPLAY_MAX_DIM);
    height = CLAMP(height, 1, DISPLAY_MAX_DIM);
    DisplaySurface *s = con->surface;
    if (s->width == width && s->height == height) {
        s->aspect_w = aspect_w > 0 ? aspect_w : width;
        s->aspect_h = aspect_h > 0 ? aspect_h : height;
        return s;
    }
    surface_unref(s);
    con->surface = surface_new(con, width, height, aspect_w, aspect_h);
    VLOG(LOG_DISPLAY, "display: new surface %dx%d", width, height);
    return con->surface;
}

void display_console_dirty(DisplayConsole *con, int x, int y, int w, int h)
{
    DisplaySurface *s = con->surface;
    /* Clip to the surface: the device's arithmetic may run past an edge. */
    int x1 = MAX(x, 0), y1 = MAX(y, 0);
    int x2 = MIN(x + w, s->width), y2 = MIN(y + h, s->height);
    if (x1 >= x2 || y1 >= y2)
        return;
    for (guint i = 0; i < con->clients->len; i++) {
        DisplayClient *c = con->clients->pdata[i];
        pixman_region32_union_rect(&c->pending, &c->pending, x1, y1, x2 - x1, y2 - y1);
    }
}

void display_console_set_cursor(DisplayConsole *con, const uint32_t *pixels, int width, int height, int hot_x,
                                int hot_y)
{
    cursor_unref(con->cursor);
    con->cursor = NULL;
    if (pixels && width > 0 && height > 0 && width <= 256 && height <= 256) {
        DisplayCursor *c = g_new0(DisplayCursor, 1);
        c->width = width;
        c->height = height;
        c->hot_x = CLAMP(hot_x, 0, width - 1);
        c->hot_y = CLAMP(hot_y, 0, height - 1);
        c->pixels = g_memdup2(pixels, (gsize)width * (gsize)height * 4);
        c->refs = 1;
        con->cursor = c;
    }
    con->cursor_shape_serial++;
}

void display_console_move_cursor(DisplayConsole *con, bool visible, int x, int y)
{
    if (visible == con->cursor_visible && x == con->cursor_x && y == con->cursor_y)
        return;
    con->cursor_visible = visible;
    con->cursor_x = x;
    con->cursor_y = y;
    con->cursor_pos_serial++;
}

bool display_console_cursor_in_picture(DisplayConsole *con)
{
    for (guint i = 0; i < con->clients->len; i++)
        if (((DisplayClient *)con->clients->pdata[i])->draws_cursor)
            return false;
    return true;
}

void display_client_set_draws_cursor(DisplayClient *c, bool on)
{
    if (!c->con)
        return;
    vm_lock(c->con->vm);
    c->draws_cursor = on;
    vm_unlock(c->con->vm);
}

bool display_client_cursor(DisplayClient *c, DisplayCursorState *st)
{
    DisplayConsole *con = c->con;
    memset(st, 0, sizeof(*st));
    if (!con) {
        st->shape = c->cursor;
        return false;
    }
    bool changed = false;
    if (c->cursor_shape_serial != con->cursor_shape_serial) {
        cursor_unref(c->cursor);
        c->cursor = con->cursor;
        if (c->cursor)
            c->cursor->refs++;
        c->cursor_shape_serial = con->cursor_shape_serial;
        st->shape_changed = changed = true;
    }
    if (c->cursor_pos_serial != con->cursor_pos_serial) {
        c->cursor_pos_serial = con->cursor_pos_serial;
        changed = true;
    }
    st->shape = c->cursor;
    st->visible = con->cursor_visible && c->cursor;
    st->x = con->cursor_x;
    st->y = con->cursor_y;
    return changed;
}

DisplayClient *display_client_new(DisplayConsole *con)
{
    DisplayClient *c = g_new0(DisplayClient, 1);
    c->con = con;
    pixman_region32_init(&c->pending);
    g_ptr_array_add(con->clients, c);
    return c;
}

void display_client_free(DisplayClient *c)
{
    if (!c)
        return;
    if (c->con)
        g_ptr_array_remove(c->con->clients, c);
    surface_unref(c->surface);
    cursor_unref(c->cursor);
    pixman_region32_fini(&c->pending);
    g_free(c);
}

DisplaySurface *display_client_refresh(DisplayClient *c, pixman_region32_t *dirty, bool *new_surface)
{
    DisplayConsole *con = c->con;
    if (!con) {
        /* The VM is gone: keep showing the last picture. */
        pixman_region32_clear(dirty);
        *new_surface = false;
        return c->surface;
    }
    vm_lock(con->vm);
    con->ops->update(con->opaque, con);
    vm_unlock(con->vm);

    DisplaySurface *s = con->surface;
    if (c->surface != s) {
        surface_unref(c->surface);
        c->surface = s;
        s->refs++;
        *new_surface = true;
        pixman_region32_fini(dirty);
        pixman_region32_init_rect(dirty, 0, 0, (unsigned)s->width, (unsigned)s->height);
    } else {
        *new_surface = false;
        pixman_region32_copy(dirty, &c->pending);
    }
    pixman_region32_clear(&c->pending);
    return s;
}

bool display_console_get_text(DisplayConsole *con, DisplayText *text)
{
    memset(text, 0, sizeof(*text));
    if (!con->ops->get_text)
        return false;
    vm_lock(con->vm);
    bool ok = con->ops->get_text(con->opaque, text);
    vm_unlock(con->vm);
    if (!ok)
        display_text_clear(text);
    return ok;
}

void display_text_clear(DisplayText *text)
{
    g_free(text->cells);
    memset(text, 0, sizeof(*text));
}

bool display_console_request_size(DisplayConsole *con, int width, int height)
{
    if (!con->ops->request_size || width < 1 || height < 1 || width > DISPLAY_MAX_DIM || height > DISPLAY_MAX_DIM)
        return false;
    vm_lock(con->vm);
    bool ok = con->ops->request_size(con->opaque, width, height);
    vm_unlock(con->vm);
    return ok;
}

char *display_console_describe_mode(DisplayConsole *con)
{
    if (!con->ops->describe_mode)
        return g_strdup("unknown");
    vm_lock(con->vm);
    char *s = con->ops->describe_mode(con->opaque);
    vm_unlock(con->vm);
    return s;
}

/* Code page 437 as the IBM PC shows it: the control range 0x01-0x1F and 0x7F are
 * pictures, not controls. */
static const uint16_t cp437_low[32] = {
    0x0020, 0x263a, 0x263b, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022,
    0x25d8, 0x25cb, 0x25d9, 0x2642, 0x2640, 0x266a, 0x266b, 0x263c,
    0x25ba, 0x25c4, 0x2195, 0x203c, 0x00b6, 0x00a7, 0x25ac, 0x21a8,
    0x2191, 0x2193, 0x2192, 0x2190, 0x221f, 0x2194, 0x25b2, 0x25bc,
};
static const uint16_t cp437_high[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7,
    0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,
    0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192,
    0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba,
    0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255d, 0x255c, 0x255b, 0x2510,
    0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256b,
    0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4,
    0x03a6, 0x0398, 0x03a9, 0x03b4, 0x221e, 0x03c6, 0x03b5, 0x2229,
    0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

gunichar display_cp437_to_unicode(uint8_t c)
{
    if (c < 0x20)
        return cp437_low[c];
    if (c == 0x7f)
        return 0x2302;
    if (c >= 0x80)
        return cp437_high[c - 0x80];
    return c;
}

char *display_text_row_utf8(const DisplayText *text, int row)
{
    if (row < 0 || row >= text->rows)
        return g_strdup("");
    GString *s = g_string_sized_new((gsize)text->cols + 16);
    for (int col = 0; col < text->cols; col++)
        g_string_append_unichar(s, display_cp437_to_unicode(text->cells[row * text->cols + col] & 0xff));
    return g_string_free(s, FALSE);
}

/* ---- picture files ---- */

static void pixel_to_rgb(uint32_t p, uint8_t *out)
{
    out[0] = (uint8_t)(p >> 16);
    out[1] = (uint8_t)(p >> 8);
    out[2] = (uint8_t)p;
}

/* A picture file is written to a temporary file beside it and renamed over it when
 * complete: a failed write leaves the old file as it was, and only the temporary file
 * is ever removed. An existing target must be a regular file: opening a FIFO would
 * block the main loop, writing to a device (/dev/full, a disk) could harm it, and a
 * symbolic link could lead anywhere. */
typedef struct PictureFile {
    const char *path;
    char *tmp;
    FILE *f;
} PictureFile;

static bool picture_open(PictureFile *pf, const char *path, GError **err)
{
    struct stat st;
    pf->path = path;
    pf->tmp = NULL;
    pf->f = NULL;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is %s; a picture replaces only a regular file", path, regfile_kind(st.st_mode));
        return false;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    pf->tmp = g_build_filename(dir, ".vireo-picture-XXXXXX", NULL);
    int fd = g_mkstemp_full(pf->tmp, O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
        g_clear_pointer(&pf->tmp, g_free);
        return false;
    }
    pf->f = fdopen(fd, "wb");
    if (!pf->f) {
        int e = errno;
        close(fd);
        unlink(pf->tmp);
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(e), "%s: %s", path, g_strerror(e));
        g_clear_pointer(&pf->tmp, g_free);
        return false;
    }
    return true;
}

/* Closes the temporary file and renames it to the target when ok; why says what
 * failed before (NULL: nothing). */
static bool picture_close(PictureFile *pf, bool ok, const char *why, GError **err)
{
    int e = errno;
    if (fclose(pf->f) != 0 && ok) {
        ok = false;
        e = errno;
        why = NULL;
    }
    if (ok && rename(pf->tmp, pf->path) < 0) {
        ok = false;
        e = errno;
        why = NULL;
    }
    if (!ok) {
        unlink(pf->tmp);
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: write failed: %s", pf->path,
                    why ? why : g_strerror(e));
    }
    g_free(pf->tmp);
    return ok;
}

typedef struct PngWriter {
    FILE *f;
    char *error;
} PngWriter;

static void png_error_fn(png_structp png, png_const_charp msg)
{
    PngWriter *w = png_get_error_ptr(png);
    if (!w->error)
        w->error = g_strdup(msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

bool display_surface_write_png(const DisplaySurface *s, const char *path, GError **err)
{
    PictureFile pf;
    if (!picture_open(&pf, path, err))
        return false;
    PngWriter w = { pf.f, NULL };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &w, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *row = g_malloc((size_t)s->width * 3);
    bool ok = false;
    if (!png || !info) {
        w.error = g_strdup("out of memory");
        goto out;
    }
    if (setjmp(png_jmpbuf(png)))
        goto out;
    png_init_io(png, w.f);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Screens compress well with little effort; keep screendump fast. */
    png_set_compression_level(png, 3);
    png_write_info(png, info);
    const uint32_t *bits = pixman_image_get_data(s->image);
    int stride = pixman_image_get_stride(s->image) / 4;
    for (int y = 0; y < s->height; y++) {
        for (int x = 0; x < s->width; x++)
            pixel_to_rgb(bits[(size_t)y * stride + x], row + 3 * x);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    /* libpng writes through stdio: an error may only show when the buffer is flushed. */
    ok = fflush(w.f) == 0 && !ferror(w.f);
out:
    png_destroy_write_struct(&png, &info);
    g_free(row);
    ok = picture_close(&pf, ok, w.error, err);
    g_free(w.error);
    return ok;
}

bool display_surface_write_ppm(const DisplaySurface *s, const char *path, GError **err)
{
    PictureFile pf;
    if (!picture_open(&pf, path, err))
        return false;
    fprintf(pf.f, "P6\n%d %d\n255\n", s->width, s->height);
    uint8_t *row = g_malloc((size_t)s->width * 3);
    const uint32_t *bits = pixman_image_get_data(s->image);
    int stride = pixman_image_get_stride(s->image) / 4;
    bool ok = true;
    for (int y = 0; y < s->height && ok; y++) {
        for (int x = 0; x < s->width; x++)
            pixel_to_rgb(bits[(size_t)y * stride + x], row + 3 * x);
        ok = fwrite(row, 3, (size_t)s->width, pf.f) == (size_t)s->width;
    }
    g_free(row);
    ok = ok && fflush(pf.f) == 0;
    return picture_close(&pf, ok, NULL, err);
}
