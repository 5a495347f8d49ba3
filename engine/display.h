/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM's screen. A display device (hw/display) registers a console and renders video
 * memory into the console's surface, a pixman image, marking what it changed. Front
 * ends (SDL, GTK, the control socket's screendump) pull: at their own refresh rate they
 * call display_client_refresh, which lets the device render what changed since the
 * last refresh (engine lock held for that time only) and tells the client which part
 * of the surface differs from what it saw last, or that the surface was replaced
 * because the guest changed the video mode. Everything here runs on the main thread. */
#pragma once

#include <glib.h>
#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Vm Vm;
typedef struct DisplayConsole DisplayConsole;
typedef struct DisplayClient DisplayClient;

/* One picture of the screen. Pixels are PIXMAN_x8r8g8b8. The surface is replaced, never
 * resized, when the mode changes; a client's surface stays valid until its next refresh. */
typedef struct DisplaySurface {
    pixman_image_t *image;
    int width, height;
    /* The shape the picture should have on a screen (4:3 for VGA modes whose pixels
     * are not square, width:height for square pixels). */
    int aspect_w, aspect_h;
    /* Bumped for every new surface of the console. */
    unsigned serial;
    int refs;
} DisplaySurface;

/* A hardware cursor's shape (virtio-gpu's): width x height pixels of PIXMAN_a8r8g8b8 with
 * premultiplied alpha, the hot spot inside it. Immutable once published. */
typedef struct DisplayCursor {
    int width, height;
    int hot_x, hot_y;
    uint32_t *pixels;
    int refs;
} DisplayCursor;

/* What display_client_cursor tells a front end. */
typedef struct DisplayCursorState {
    bool shape_changed;          /* shape is new since the client's last look */
    const DisplayCursor *shape;  /* NULL: the guest has no cursor; valid until the next look */
    bool visible;
    int x, y;                    /* the hot spot's position on the surface */
} DisplayCursorState;

/* The text-mode screen as characters: code page 437 bytes with VGA attributes. */
typedef struct DisplayText {
    int cols, rows;
    uint16_t *cells;    /* rows * cols entries: character | attribute << 8 */
    int cursor_col, cursor_row;
    bool cursor_visible;
} DisplayText;

/* What a display device provides. All run with the engine lock held. */
typedef struct DisplayDeviceOps {
    /* Bring the surface up to date: resize it on a mode change (display_console_resize),
     * render what changed and report it (display_console_dirty). */
    void (*update)(void *opaque, DisplayConsole *con);
    /* Fill text with the characters on screen; false when not in a text mode. */
    bool (*get_text)(void *opaque, DisplayText *text);
    /* A one-line description of the current mode ("VGA text 80x25", "VBE 1024x768x32"). */
    char *(*describe_mode)(void *opaque);
    /* The front end's window is now width x height: a device that can tell the guest
     * (virtio-gpu's display-info) does so and returns true; NULL or false: the guest's
     * mode stays (VGA, Cirrus), and the front end scales. */
    bool (*request_size)(void *opaque, int width, int height);
} DisplayDeviceOps;

/* ---- device side (hw/), lock held ---- */

/* Registers the VM's display device. One per VM; the console lives as long as the VM. */
DisplayConsole *display_console_register(Vm *vm, const DisplayDeviceOps *ops, void *opaque);
/* Makes the surface width x height (clamped to 1..DISPLAY_MAX_DIM), replacing it when the
 * size differs. Returns the surface to draw into; a new one is all black and all dirty. */
#define DISPLAY_MAX_DIM 8192
DisplaySurface *display_console_resize(DisplayConsole *con, int width, int height,
                                       int aspect_w, int aspect_h);
DisplaySurface *display_console_surface(DisplayConsole *con);
/* The device changed these pixels. */
void display_console_dirty(DisplayConsole *con, int x, int y, int w, int h);
/* The guest's hardware cursor, from the device's update (main thread, lock held): a new
 * shape (copied; pixels NULL: no cursor), and where it is and whether it shows. The
 * device also composes the cursor into the surface (screendumps and the windows show
 * it) unless display_console_cursor_in_picture says a client draws it itself (SPICE's
 * cursor channel), which would otherwise show it twice. */
void display_console_set_cursor(DisplayConsole *con, const uint32_t *pixels, int width, int height, int hot_x,
                                int hot_y);
void display_console_move_cursor(DisplayConsole *con, bool visible, int x, int y);
/* Whether the device composes its hardware cursor into the picture: false while a
 * client that shows the cursor itself watches (display_client_set_draws_cursor). */
bool display_console_cursor_in_picture(DisplayConsole *con);

/* ---- front-end side (main thread, engine lock NOT held) ---- */

/* The console of the VM's display device, or NULL when it has none. */
DisplayConsole *vm_display_console(Vm *vm);

DisplayClient *display_client_new(DisplayConsole *con);
void display_client_free(DisplayClient *c);

/* Lets the device render, then returns the current surface (owned by the client until
 * its next refresh) and, in dirty, the part that changed since this client's previous
 * refresh (dirty must be initialised by the caller; it is replaced). new_surface says
 * the surface is not the one the client had (a mode change): everything is dirty. */
DisplaySurface *display_client_refresh(DisplayClient *c, pixman_region32_t *dirty,
                                       bool *new_surface);

/* The client shows the guest's hardware cursor itself (a SPICE client's cursor channel):
 * while one does, devices leave it out of the picture (lock taken inside). */
void display_client_set_draws_cursor(DisplayClient *c, bool on);

/* The hardware cursor as of the client's last refresh: true when its shape, position or
 * visibility changed since this client's previous call. */
bool display_client_cursor(DisplayClient *c, DisplayCursorState *st);

/* Characters of a text-mode screen (lock taken inside); false in graphics modes.
 * Free with display_text_clear. */
bool display_console_get_text(DisplayConsole *con, DisplayText *text);
void display_text_clear(DisplayText *text);
/* Row of a text screen as UTF-8, code page 437 mapped to Unicode (0x00 as a space). */
char *display_text_row_utf8(const DisplayText *text, int row);
/* The Unicode character for a code page 437 byte. */
gunichar display_cp437_to_unicode(uint8_t c);

/* Dynamic resolution: the front end's window (SDL, the app, QMP's x-display-resize)
 * is width x height; the device offers that size to the guest if it can (lock taken
 * inside). False: the device cannot follow, nothing changed. */
bool display_console_request_size(DisplayConsole *con, int width, int height);

/* The mode as a line of text (lock taken inside); free with g_free. */
char *display_console_describe_mode(DisplayConsole *con);

/* Both write to a temporary file in path's folder and rename it over path when complete;
 * path must be a regular file or not exist (a FIFO, device, symbolic link or folder is
 * refused without being opened), and only the temporary file is removed on failure. */
/* Writes the current picture as PNG (front ends and screendump). */
bool display_surface_write_png(const DisplaySurface *s, const char *path, GError **err);
/* Writes the picture as binary PPM (P6), QEMU's default screendump format. */
bool display_surface_write_ppm(const DisplaySurface *s, const char *path, GError **err);
