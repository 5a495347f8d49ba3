/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 19, dynamic resolution in the app: the user resizes a running VM's window (as a
 * window manager would, through X) and a Linux guest with virtio-gpu (the kit's virtio
 * initramfs, tests/guests/linux/init-virtio.sh vireo.mode=follow) gets the display area's
 * size as its preferred mode; its console takes it and the engine's screen has that size.
 * A VM with the standard VGA (the key guest, VIREO_TEST_KEY_GUEST) keeps its mode when
 * its window is resized. */
#include "app-harness.h"
#include "engine/display.h"
#include "ui/gtk/vireo-machine.h"
#include "vireo-config.h"

#include <string.h>
#include <sys/wait.h>
#ifdef HAVE_GTK_X11
#include <gdk/x11/gdkx.h>
#endif

static char *serial_log;

static void resize_setup(const char *kit)
{
    build_linux_kit(kit, "mkvirtio.sh", NULL);
    serial_log = g_build_filename(work_dir, "com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf(
        "[vm]\nmemory=256M\naccel=%s\ndisplay=none\nserial=file:%s\nkernel=%s/vmlinuz\ninitrd=%s/initrd-virtio.img\n"
        "append=console=ttyS0 vireo.mode=follow\n[devices]\ngpu0=virtio-gpu-pci\n",
        accel ? accel : "kvm:tcg", serial_log, kit, kit);
    write_vm("Gpu", conf);
    const char *key_guest = g_getenv("VIREO_TEST_KEY_GUEST");
    CHECK(key_guest, "VIREO_TEST_KEY_GUEST is not set");
    g_autofree char *vga = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nkernel=%s\n", accel ? accel : "kvm:tcg",
                                           key_guest);
    write_vm("Vga", vga);
}

static bool serial_has(void *needle)
{
    g_autofree char *text = NULL;
    return g_file_get_contents(serial_log, &text, NULL, NULL) && strstr(text, needle);
}

/* The engine's screen size (what screendump writes). */
static void engine_size(VireoVmWindow *win, int *w, int *h)
{
    Vm *vm = vireo_machine_get_vm(vireo_vm_window_get_machine(win));
    CHECK(vm, "the VM is off");
    DisplayClient *client = display_client_new(vm_display_console(vm));
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool fresh;
    DisplaySurface *surf = display_client_refresh(client, &dirty, &fresh);
    *w = surf ? surf->width : 0;
    *h = surf ? surf->height : 0;
    pixman_region32_fini(&dirty);
    display_client_free(client);
}

typedef struct SizeWait {
    VireoVmWindow *win;
    int w, h;
} SizeWait;

static bool engine_has_size(void *data)
{
    SizeWait *s = data;
    int w, h;
    engine_size(s->win, &w, &h);
    return w == s->w && h == s->h;
}

static VireoVmWindow *start_vm(const char *name)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.start-vm", "s", name);
    CHECK(wait_for(window_exists, (void *)(gsize)VIREO_TYPE_VM_WINDOW, 5000), "no VM window for %s", name);
    VireoVmWindow *w = VIREO_VM_WINDOW(find_window(VIREO_TYPE_VM_WINDOW));
    VireoMachine *m = vireo_vm_window_get_machine(w);
    CHECK(vireo_machine_is_active(m), "%s did not start: %s", name, vireo_machine_get_error(m));
    return w;
}

static void stop_vm(VireoVmWindow *w)
{
    VireoMachine *m = vireo_vm_window_get_machine(w);
    vireo_machine_force_off(m);
    CHECK(wait_for(machine_is_off, m, 20000), "the VM did not stop");
    gtk_window_destroy(GTK_WINDOW(w));
    run_for(200);
}

#ifdef HAVE_GTK_X11
/* Resizes the window through X so that its display area becomes w x h (device pixels
 * under Xvfb, scale 1): the frame around the display is kept. */
static void resize_display_to(VireoVmWindow *win, int w, int h)
{
    GtkWidget *display = vireo_vm_window_get_display(win);
    GdkSurface *s = gtk_native_get_surface(GTK_NATIVE(win));
    CHECK(s && GDK_IS_X11_SURFACE(s), "not an X11 window");
    Display *dpy = GDK_DISPLAY_XDISPLAY(gdk_surface_get_display(s));
    /* The X window holds the header bar and, without a window manager, the shadow. */
    XWindowAttributes a;
    CHECK(XGetWindowAttributes(dpy, gdk_x11_surface_get_xid(s), &a), "no X window attributes");
    int dx = a.width - gtk_widget_get_width(display);
    int dy = a.height - gtk_widget_get_height(display);
    XResizeWindow(dpy, gdk_x11_surface_get_xid(s), (unsigned)(w + dx), (unsigned)(h + dy));
    XSync(dpy, False);
    for (int i = 0; i < 100 && (gtk_widget_get_width(display) != w || gtk_widget_get_height(display) != h); i++)
        run_for(50);
    CHECK(gtk_widget_get_width(display) == w && gtk_widget_get_height(display) == h,
          "the display area is %dx%d after resizing the window for %dx%d", gtk_widget_get_width(display),
          gtk_widget_get_height(display), w, h);
}
#endif

static void case_resize(const char *kit)
{
    (void)kit;
#ifndef HAVE_GTK_X11
    note("SKIP: the app was built without X11 (the test resizes windows through X)");
    exit_code = SKIP;
    return;
#else
    CHECK(gtk_widget_get_scale_factor(GTK_WIDGET(find_window(VIREO_TYPE_WINDOW))) == 1,
          "the test expects scale 1 (Xvfb)");
    /* virtio-gpu: the guest starts at the device's 1280x800 and follows the window. */
    VireoVmWindow *w = start_vm("Gpu");
    CHECK(wait_for(serial_has, "VIREO-GPU-READY 1280 800", 300000), "the guest's console did not come up at 1280x800");
    SizeWait sw = { w, 1280, 800 };
    CHECK(wait_for(engine_has_size, &sw, 30000), "the screen is not 1280x800");
    note("the guest's virtio-gpu console runs at 1280x800 in the app's window");
    static const struct { int w, h; const char *mode; } sizes[] = {
        { 1024, 640, "VIREO-GPU-MODE 1024x640" },
        { 800, 600, "VIREO-GPU-MODE 800x600" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        resize_display_to(w, sizes[i].w, sizes[i].h);
        CHECK(wait_for(serial_has, (void *)sizes[i].mode, 120000), "the guest's preferred mode did not become %dx%d",
              sizes[i].w, sizes[i].h);
        sw = (SizeWait){ w, sizes[i].w, sizes[i].h };
        if (!wait_for(engine_has_size, &sw, 60000)) {
            int ew, eh;
            engine_size(w, &ew, &eh);
            CHECK(false, "the screen is %dx%d after the window's display area became %dx%d", ew, eh, sizes[i].w,
                  sizes[i].h);
        }
        note("window's display area %dx%d: the guest's mode and the screen follow", sizes[i].w, sizes[i].h);
    }
    screenshot(GTK_WINDOW(w), "resize-virtio-gpu.png");
    stop_vm(w);

    /* The standard VGA keeps the guest's mode (here BIOS text, 720x400). */
    w = start_vm("Vga");
    int vw = 0, vh = 0;
    for (int i = 0; i < 100 && vw < 640; i++) {
        run_for(100);
        engine_size(w, &vw, &vh);
    }
    CHECK(vw >= 640, "the VGA guest shows no picture");
    resize_display_to(w, 900, 500);
    run_for(1500);
    int aw, ah;
    engine_size(w, &aw, &ah);
    CHECK(aw == vw && ah == vh, "the VGA screen went from %dx%d to %dx%d with the window", vw, vh, aw, ah);
    note("std VGA: the window's display area became 900x500, the screen stays %dx%d", vw, vh);
    stop_vm(w);
    exit_code = 0;
#endif
}

static const UiCase resize_cases[] = {
    { "resize", true, resize_setup, case_resize },
};

const UiCase *resize_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(resize_cases); i++)
        if (!strcmp(resize_cases[i].name, name))
            return &resize_cases[i];
    return NULL;
}
