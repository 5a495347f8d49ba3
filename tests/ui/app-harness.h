/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the app's UI test cases share: checks that end the run, waiting by iterating the
 * main loop, finding windows and named widgets, reading vm.conf and the guest's screen,
 * typing into the display. */
#pragma once

#include "ui/gtk/vireo-application.h"
#include "ui/gtk/vireo-vm-window.h"
#include "ui/gtk/vireo-window.h"
#include "ui/gtk/vireo-wizard.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define SKIP 77

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            exit(1);                                                      \
        }                                                                 \
    } while (0)

/* Set by main: the app, the library it reads, the case's scratch folder; exit_code is
 * what the case ends with (0 once it got through). */
extern int exit_code;
extern char *library_root;
extern char *work_dir;
extern VireoApplication *app;

typedef struct ScreenWait {
    VireoVmWindow *win;
    const char *text;
} ScreenWait;

typedef struct RowWait {
    VireoVmWindow *win;
    const char *line;
} RowWait;

void note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Runs the main loop until cond(data) holds (true) or the time is up (false). */
bool wait_for(bool (*cond)(void *), void *data, int timeout_ms);
bool never(void *data);
void run_for(int ms);
GtkWindow *find_window(GType type);
bool window_exists(void *type);
bool message_dialog_shown(void *data);
/* The widget below root named name (gtk_widget_set_name), or NULL. */
GtkWidget *find_named(GtkWidget *root, const char *name);
bool label_with_text(GtkWidget *root, const char *needle);
GObject *wizard_child(VireoWizard *w, const char *id);
bool next_enabled(VireoWizard *w);
char *conf_value(const char *vm, const char *group, const char *key);
void screenshot(GtkWindow *win, const char *name);
/* A ScreenWait: the text is somewhere on the guest's text screen. */
bool screen_shows(void *data);
void dump_screen(VireoVmWindow *win);
/* A RowWait: a screen row is exactly the line. */
bool screen_has_row(void *data);
GtkEventController *key_controller(GtkWidget *w);
GtkGesture *click_gesture(GtkWidget *w);
/* A key as the X server reports it: keyval and X11 keycode. */
void type_key(GtkWidget *display, guint keyval, guint keycode, bool down);
bool machine_is_off(void *machine);
bool grabbed(void *display);
/* A VM folder with conf as its vm.conf; NULL: the folder alone. */
void write_vm(const char *name, const char *conf);
/* The Linux kit in dir (tests/guests/linux/mkkit.sh), then its initramfs script (e.g.
 * "mkusb.sh", given arg as its second argument when not NULL); the test skips when the
 * kit cannot be built and fails when a script does. */
void build_linux_kit(const char *dir, const char *script, const char *arg);
void remove_tree(const char *path);
/* The message dialog that appears within 5 s (the run fails otherwise). */
AdwMessageDialog *wait_dialog(void);
/* Answers a message dialog and closes it. */
void answer(AdwMessageDialog *d, const char *response);
/* A button's clicked signal, then a moment of the main loop. */
void click(GtkWidget *button);
bool have_program(const char *name);
/* Force Off from the VM window's menu, confirmed in the dialog it asks. */
void force_off(VireoVmWindow *win);
void remove_work_dir(void);
/* The display shows a graphics-sized picture (a VireoDisplay). */
bool display_has_picture(void *display);
/* The engine's screen as a PNG file. */
void engine_screendump(VireoVmWindow *win, const char *path);
/* Pauses the VM, shows it at integer scale and checks that the window's picture equals
 * png pixel for pixel (NULL: the engine's screendump of that moment); resumes it. */
void compare_window_with_png(VireoVmWindow *win, const char *png);

/* A case of first-hour.c: setup runs before the app starts (vm.conf files, the
 * environment), run inside its main loop; arg is the command line's second word. */
typedef struct UiCase {
    const char *name;
    bool needs_arg;
    void (*setup)(const char *arg);
    void (*run)(const char *arg);
} UiCase;

const UiCase *first_hour_case(const char *name);
/* The cases of snapshots.c. */
const UiCase *snapshots_case(const char *name);
/* The cases of transfer.c. */
const UiCase *transfer_case(const char *name);
/* The case of sound.c. */
const UiCase *sound_case(const char *name);
/* The case of share.c. */
const UiCase *share_case(const char *name);
/* The case of resize.c. */
const UiCase *resize_case(const char *name);
/* The case of usb.c (built with umockdev only: HAVE_USBMOCK). */
const UiCase *usb_case(const char *name);
/* Issue 19: clipboard sharing (clipboard.c). */
const UiCase *clipboard_case(const char *name);
