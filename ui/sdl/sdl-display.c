/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SDL2 front end. It knows the VM only through engine/vm.h, engine/display.h and
 * engine/input.h; keys go through the shared table in ui/keymap.c. */
#include "ui/sdl/sdl-display.h"
#include "ui/keymap.h"
#include "engine/display.h"
#include "engine/input.h"
#include "engine/vm.h"

#include <SDL.h>
#include <string.h>

#define REFRESH_MS 16
#define MAX_HELD 64

struct SdlDisplay {
    Vm *vm;
    DisplayClient *client;
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int tex_w, tex_h;
    int aspect_w, aspect_h;
    int set_w, set_h;          /* the window size we last asked SDL for */
    DisplayConsole *con;
    guint timer;
    guint state_listener;
    bool grabbed;
    bool fullscreen;
    bool need_present;
    unsigned buttons;
    uint16_t held[MAX_HELD];   /* keys the guest saw go down */
    unsigned nheld;
    void (*close_fn)(void *data);
    void *close_data;
};

static void update_title(SdlDisplay *d)
{
    VmState st = vm_get_state(d->vm);
    const char *state = st == VM_STATE_RUNNING ? NULL
                      : st == VM_STATE_PAUSED ? "Paused"
                      : st == VM_STATE_CREATED ? "Not started"
                      : st == VM_STATE_SHUTDOWN ? "Powered off" : "Stopped by an error";
    g_autofree char *title = g_strdup_printf("%s%s%s%s - Vireo%s", vm_name(d->vm), state ? " [" : "",
                                             state ? state : "", state ? "]" : "",
                                             d->grabbed ? " - Ctrl+Alt+G releases the mouse" : "");
    SDL_SetWindowTitle(d->window, title);
}

static void on_state(Vm *vm, VmState state, void *data)
{
    update_title(data);
}

/* The window size that shows a surface at its aspect ratio, at least 640 wide. */
static void natural_size(int w, int h, int aw, int ah, int *ow, int *oh)
{
    int nw = w, nh = (int)((int64_t)w * ah / aw);
    if (nh < h) {
        nh = h;
        nw = (int)((int64_t)h * aw / ah);
    }
    while (nw < 640 && nw > 0) {
        nw *= 2;
        nh *= 2;
    }
    *ow = nw;
    *oh = nh;
}

static void set_grab(SdlDisplay *d, bool on)
{
    if (d->grabbed == on)
        return;
    d->grabbed = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowGrab(d->window, on ? SDL_TRUE : SDL_FALSE);
    update_title(d);
}

static void key_event(SdlDisplay *d, uint16_t code, bool down)
{
    /* Remember what is held so focus loss can release it; the guest would otherwise
     * see a key stuck down. */
    for (unsigned i = 0; i < d->nheld; i++) {
        if (d->held[i] == code) {
            if (down)
                return;
            d->held[i] = d->held[--d->nheld];
            vm_input_key(d->vm, code, false);
            return;
        }
    }
    if (!down)
        return;
    if (d->nheld < MAX_HELD)
        d->held[d->nheld++] = code;
    vm_input_key(d->vm, code, true);
}

static void release_all_keys(SdlDisplay *d)
{
    while (d->nheld)
        vm_input_key(d->vm, d->held[--d->nheld], false);
}

static unsigned sdl_button_bit(Uint8 b)
{
    switch (b) {
    case SDL_BUTTON_LEFT: return VM_BUTTON_LEFT;
    case SDL_BUTTON_RIGHT: return VM_BUTTON_RIGHT;
    case SDL_BUTTON_MIDDLE: return VM_BUTTON_MIDDLE;
    case SDL_BUTTON_X1: return VM_BUTTON_SIDE;
    case SDL_BUTTON_X2: return VM_BUTTON_EXTRA;
    default: return 0;
    }
}

static void handle_key(SdlDisplay *d, const SDL_KeyboardEvent *ev)
{
    bool down = ev->type == SDL_KEYDOWN;
    /* The modifiers as they were at this event: SDL's current state may already include
     * releases further down the queue. */
    Uint16 mod = ev->keysym.mod;
    if (down && (mod & KMOD_CTRL) && (mod & KMOD_ALT)) {
        /* Front-end hot keys: not passed to the guest. */
        if (ev->keysym.scancode == SDL_SCANCODE_G) {
            set_grab(d, !d->grabbed);
            return;
        }
        if (ev->keysym.scancode == SDL_SCANCODE_F) {
            d->fullscreen = !d->fullscreen;
            SDL_SetWindowFullscreen(d->window, d->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
            d->need_present = true;
            return;
        }
    }
    if (ev->repeat)
        return; /* the guest's keyboard repeats by itself */
    uint16_t code = keymap_sdl_to_pc(ev->keysym.scancode);
    if (code)
        key_event(d, code, down);
}

static SDL_Rect target_rect(SdlDisplay *d);

/* With an absolute pointer in the guest (a USB tablet) the window needs no grab: the
 * pointer's place over the picture goes to the guest as a position from 0 to
 * VM_INPUT_ABS_MAX on each axis. Window coordinates are points, the picture's rectangle
 * is in output pixels (they differ on HiDPI screens). */
static bool absolute_pointer(SdlDisplay *d, int wx, int wy)
{
    if (d->grabbed || !vm_input_absolute(d->vm))
        return false;
    int ww, wh, ow, oh;
    SDL_GetWindowSize(d->window, &ww, &wh);
    SDL_GetRendererOutputSize(d->renderer, &ow, &oh);
    SDL_Rect r = target_rect(d);
    if (ww <= 0 || wh <= 0 || r.w < 2 || r.h < 2)
        return true;
    int64_t px = (int64_t)wx * ow / ww - r.x, py = (int64_t)wy * oh / wh - r.y;
    int x = (int)CLAMP(px * VM_INPUT_ABS_MAX / (r.w - 1), 0, VM_INPUT_ABS_MAX);
    int y = (int)CLAMP(py * VM_INPUT_ABS_MAX / (r.h - 1), 0, VM_INPUT_ABS_MAX);
    vm_input_pointer_abs(d->vm, x, y, 0, d->buttons);
    return true;
}

static void handle_event(SdlDisplay *d, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_QUIT:
        if (d->close_fn)
            d->close_fn(d->close_data);
        break;
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        handle_key(d, &ev->key);
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (!d->grabbed && vm_input_absolute(d->vm)) {
            d->buttons |= sdl_button_bit(ev->button.button);
            absolute_pointer(d, ev->button.x, ev->button.y);
            break;
        }
        if (!d->grabbed) {
            /* The first click takes the mouse; the guest does not see it. */
            set_grab(d, true);
            break;
        }
        d->buttons |= sdl_button_bit(ev->button.button);
        vm_input_pointer(d->vm, 0, 0, 0, d->buttons);
        break;
    case SDL_MOUSEBUTTONUP:
        if (!d->grabbed && vm_input_absolute(d->vm)) {
            d->buttons &= ~sdl_button_bit(ev->button.button);
            absolute_pointer(d, ev->button.x, ev->button.y);
            break;
        }
        if (!d->grabbed)
            break;
        d->buttons &= ~sdl_button_bit(ev->button.button);
        vm_input_pointer(d->vm, 0, 0, 0, d->buttons);
        break;
    case SDL_MOUSEMOTION:
        if (absolute_pointer(d, ev->motion.x, ev->motion.y))
            break;
        if (d->grabbed && (ev->motion.xrel || ev->motion.yrel))
            vm_input_pointer(d->vm, ev->motion.xrel, ev->motion.yrel, 0, d->buttons);
        break;
    case SDL_MOUSEWHEEL:
        if (ev->wheel.y && (d->grabbed || vm_input_absolute(d->vm))) {
            int dz = ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? ev->wheel.y : -ev->wheel.y;
            if (d->grabbed)
                vm_input_pointer(d->vm, 0, 0, dz, d->buttons);
            else
                vm_input_pointer_abs(d->vm, VM_INPUT_ABS_KEEP, VM_INPUT_ABS_KEEP, dz, d->buttons);
        }
        break;
    case SDL_WINDOWEVENT:
        switch (ev->window.event) {
        case SDL_WINDOWEVENT_FOCUS_LOST:
            release_all_keys(d);
            if (d->buttons) {
                d->buttons = 0;
                vm_input_pointer(d->vm, 0, 0, 0, 0);
            }
            set_grab(d, false);
            break;
        case SDL_WINDOWEVENT_RESIZED:
            /* Dynamic resolution: a size the user gave the window (not the one we set
             * to fit the guest's mode) is offered to a display that can follow it
             * (virtio-gpu); VGA keeps its mode and the picture is scaled. */
            if (d->con && !d->fullscreen && (ev->window.data1 != d->set_w || ev->window.data2 != d->set_h)) {
                int pw, ph;
                SDL_GetRendererOutputSize(d->renderer, &pw, &ph);
                display_console_request_size(d->con, pw, ph);
            }
            d->need_present = true;
            break;
        case SDL_WINDOWEVENT_EXPOSED:
        case SDL_WINDOWEVENT_SIZE_CHANGED:
            d->need_present = true;
            break;
        default:
            break;
        }
        break;
    default:
        break;
    }
}

/* Largest rectangle of the surface's aspect ratio centred in the window. */
static SDL_Rect target_rect(SdlDisplay *d)
{
    int ww, wh;
    SDL_GetRendererOutputSize(d->renderer, &ww, &wh);
    SDL_Rect r = { 0, 0, ww, wh };
    if ((int64_t)ww * d->aspect_h > (int64_t)wh * d->aspect_w) {
        r.w = (int)((int64_t)wh * d->aspect_w / d->aspect_h);
        r.x = (ww - r.w) / 2;
    } else {
        r.h = (int)((int64_t)ww * d->aspect_h / d->aspect_w);
        r.y = (wh - r.h) / 2;
    }
    return r;
}

static void upload(SdlDisplay *d, DisplaySurface *s, pixman_region32_t *dirty, bool new_surface)
{
    if (new_surface || !d->texture) {
        if (d->texture)
            SDL_DestroyTexture(d->texture);
        d->texture = SDL_CreateTexture(d->renderer, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING,
                                       s->width, s->height);
        bool size_changed = d->tex_w != s->width || d->tex_h != s->height;
        d->tex_w = s->width;
        d->tex_h = s->height;
        d->aspect_w = s->aspect_w;
        d->aspect_h = s->aspect_h;
        if (size_changed && !d->fullscreen) {
            int w, h;
            natural_size(s->width, s->height, s->aspect_w, s->aspect_h, &w, &h);
            d->set_w = w;
            d->set_h = h;
            SDL_SetWindowSize(d->window, w, h);
        }
    }
    if (!d->texture)
        return;
    const uint8_t *bits = (const uint8_t *)pixman_image_get_data(s->image);
    int stride = pixman_image_get_stride(s->image);
    int n;
    const pixman_box32_t *boxes = pixman_region32_rectangles(dirty, &n);
    for (int i = 0; i < n; i++) {
        SDL_Rect r = { boxes[i].x1, boxes[i].y1, boxes[i].x2 - boxes[i].x1, boxes[i].y2 - boxes[i].y1 };
        SDL_UpdateTexture(d->texture, &r, bits + (size_t)r.y * stride + (size_t)r.x * 4, stride);
    }
    if (n)
        d->need_present = true;
}

static gboolean on_refresh(gpointer data)
{
    SdlDisplay *d = data;
    SDL_Event ev;
    while (SDL_PollEvent(&ev))
        handle_event(d, &ev);

    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface;
    DisplaySurface *s = display_client_refresh(d->client, &dirty, &new_surface);
    if (s)
        upload(d, s, &dirty, new_surface);
    pixman_region32_fini(&dirty);

    if (d->need_present && d->texture) {
        SDL_SetRenderDrawColor(d->renderer, 0, 0, 0, 255);
        SDL_RenderClear(d->renderer);
        SDL_Rect dst = target_rect(d);
        SDL_RenderCopy(d->renderer, d->texture, NULL, &dst);
        SDL_RenderPresent(d->renderer);
        d->need_present = false;
    }
    return G_SOURCE_CONTINUE;
}

SdlDisplay *sdl_display_new(Vm *vm, GError **err)
{
    DisplayConsole *con = vm_display_console(vm);
    if (!con) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-display sdl: the VM has no display adapter (-vga none)");
        return NULL;
    }
    /* vireo-run handles SIGINT and SIGTERM itself. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "-display sdl: %s", SDL_GetError());
        return NULL;
    }
    /* With no screen SDL falls back to drivers that draw nowhere; say so instead of
     * running with an invisible window (unless SDL_VIDEODRIVER asked for one). */
    const char *driver = SDL_GetCurrentVideoDriver();
    if (driver && (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy")) && !g_getenv("SDL_VIDEODRIVER")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "-display sdl: no screen to open a window on (is $DISPLAY or $WAYLAND_DISPLAY set?)");
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return NULL;
    }
    SdlDisplay *d = g_new0(SdlDisplay, 1);
    d->vm = vm;
    d->aspect_w = 4;
    d->aspect_h = 3;
    d->set_w = 720;
    d->set_h = 540;
    d->window = SDL_CreateWindow("Vireo", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 720, 540,
                                 SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (d->window)
        d->renderer = SDL_CreateRenderer(d->window, -1, 0);
    if (d->window && !d->renderer)
        d->renderer = SDL_CreateRenderer(d->window, -1, SDL_RENDERER_SOFTWARE);
    if (!d->renderer) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "-display sdl: %s", SDL_GetError());
        if (d->window)
            SDL_DestroyWindow(d->window);
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        g_free(d);
        return NULL;
    }
    /* Scaling: linear filtering keeps text readable at odd sizes. */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    d->client = display_client_new(con);
    d->con = con;
    d->state_listener = vm_add_state_listener(vm, on_state, d);
    update_title(d);
    d->timer = g_timeout_add(REFRESH_MS, on_refresh, d);
    return d;
}

void sdl_display_free(SdlDisplay *d)
{
    if (!d)
        return;
    g_source_remove(d->timer);
    vm_remove_state_listener(d->vm, d->state_listener);
    display_client_free(d->client);
    if (d->texture)
        SDL_DestroyTexture(d->texture);
    SDL_DestroyRenderer(d->renderer);
    SDL_DestroyWindow(d->window);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    g_free(d);
}

void sdl_display_set_close_handler(SdlDisplay *d, void (*fn)(void *data), void *data)
{
    d->close_fn = fn;
    d->close_data = data;
}
