/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Issue 15, the app's USB menu and filters, against tests/usbmock's devices in
 * umockdev's testbed (the test runs under umockdev-wrapper, so the app's libusb sees the
 * mocks and nothing of the host's):
 * - the VM window's USB menu lists the mock keyboard with its strings and IDs;
 * - its switch first asks (the mock is a HID boot keyboard and the only keyboard);
 *   cancelled, nothing is connected; a device another program holds, or one whose
 *   /dev/bus/usb node is not writable, gives the engine's one line in the menu (the
 *   latter with the udev rule); confirmed, the device is on the VM's USB bus (the
 *   engine's "info usb", as QEMU's HMP shows it: the guest here is a tiny real-mode one
 *   without a USB driver, so the device shows with address 0) and the host driver is
 *   detached from the mock; switched off, it leaves the bus and the driver is back;
 * - a device held by another running VM is marked with that VM's name and cannot be
 *   switched;
 * - a filter added in the settings while the VM runs connects the mock disk plugged in
 *   after that, and one of vm.conf connects the disk present at the VM's start; a
 *   filter switched off connects nothing, and one that matches the host's only keyboard
 *   says so instead of taking it; the open menu follows devices that come and go;
 * - the settings' USB filters: a bad one of vm.conf shown and kept, a bad new one
 *   refused, a good one written, its switch writing connect=. */
#include "app-harness.h"
#include "vireo-config.h"
#include "tests/usbmock/usbmock.h"
#include "ui/gtk/vireo-machine.h"
#include "ui/gtk/vireo-usb.h"
#include "engine/monitor.h"

#include <adwaita.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static UsbMock *mock;

static void usb_setup(const char *arg)
{
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nkernel=%s\n",
                                            accel ? accel : "kvm:tcg", arg);
    write_vm("Passthrough", conf);
    /* Filters that match the keyboard: one switched off, one that must not take the
     * host's only keyboard by itself. */
    g_autofree char *other = g_strdup_printf("[vm]\nmemory=16M\naccel=%s\nkernel=%s\n[usb]\n"
                                             "off=class=03,connect=false\nkbd=vendor=16c0,product=27db\n",
                                             accel ? accel : "kvm:tcg", arg);
    write_vm("Other", other);
    write_vm("Filters", "[vm]\nmemory=16M\n[usb]\nold=vendor=zz9\n");
}

static GtkWidget *named(GtkWidget *root, const char *name)
{
    GtkWidget *w = find_named(root, name);
    CHECK(w, "no widget named %s", name);
    return w;
}

static bool machine_running(void *data)
{
    return vireo_machine_get_state(data) == VIREO_MACHINE_RUNNING;
}

/* The engine's HMP "info usb" of the VM. */
static char *info_usb(VireoMachine *m)
{
    bool quit = false;
    return monitor_run(vireo_machine_get_vm(m), "info usb", &quit);
}

typedef struct UsbWait {
    VireoMachine *m;
    const char *needle;
} UsbWait;

static bool usb_lists(void *data)
{
    UsbWait *w = data;
    g_autofree char *out = info_usb(w->m);
    return strstr(out, w->needle) != NULL;
}

static char *usb_problem;   /* the last "usb-problem" of a machine the test listens to */

static void on_usb_problem(VireoMachine *m, const char *text, gpointer data)
{
    g_free(usb_problem);
    usb_problem = g_strdup(text);
}

static VireoVmWindow *open_and_start(const char *name)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.open-vm", "s", name);
    VireoVmWindow *win = NULL;
    for (int i = 0; i < 100 && !win; i++) {
        GList *tops = gtk_window_list_toplevels();
        for (GList *l = tops; l; l = l->next)
            if (VIREO_IS_VM_WINDOW(l->data) &&
                !strcmp(vireo_machine_get_name(vireo_vm_window_get_machine(l->data)), name))
                win = l->data;
        g_list_free(tops);
        if (!win)
            run_for(50);
    }
    CHECK(win, "no window for %s", name);
    VireoMachine *m = vireo_vm_window_get_machine(win);
    if (!g_signal_handler_find(m, G_SIGNAL_MATCH_FUNC, 0, 0, NULL, (gpointer)on_usb_problem, NULL))
        g_signal_connect(m, "usb-problem", G_CALLBACK(on_usb_problem), NULL);
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "%s did not start: %s", name,
          vireo_machine_get_error(m) ? vireo_machine_get_error(m) : "no error");
    return win;
}

typedef struct RowWaitUsb {
    GtkWidget *root;
    const char *name;
} RowWaitUsb;

static bool row_present(void *data)
{
    RowWaitUsb *r = data;
    return find_named(r->root, r->name) != NULL;
}

static bool row_gone(void *data)
{
    return !row_present(data);
}

/* A RowWaitUsb naming a switch: it is there and on (the rows follow a change once the
 * main loop ran). */
static bool switch_on(void *data)
{
    RowWaitUsb *r = data;
    GtkWidget *sw = find_named(r->root, r->name);
    return sw && gtk_switch_get_active(GTK_SWITCH(sw));
}

static bool star_insensitive(void *data)
{
    RowWaitUsb *r = data;
    GtkWidget *b = find_named(r->root, r->name);
    return b && !gtk_widget_get_sensitive(b);
}

static bool switch_off(void *data)
{
    RowWaitUsb *r = data;
    GtkWidget *sw = find_named(r->root, r->name);
    return sw && !gtk_switch_get_active(GTK_SWITCH(sw));
}


static bool disk_driver_back(void *data)
{
    return usbmock_stats(mock, USBMOCK_STORAGE).driver_bound == 1;
}

static GtkWindow *open_settings(const char *vm)
{
    GtkWindow *main = find_window(VIREO_TYPE_WINDOW);
    gtk_widget_activate_action(GTK_WIDGET(main), "win.settings-vm", "s", vm);
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    return find_window(ADW_TYPE_PREFERENCES_WINDOW);
}

static void set_entry(GtkWindow *w, const char *name, const char *text)
{
    gtk_editable_set_text(GTK_EDITABLE(named(GTK_WIDGET(w), name)), text);
}

/* The settings' USB filters: a bad one in vm.conf is shown with its problem and kept
 * until removed; a bad new one is refused on its row and not written; a good one is
 * written as vm.conf's [usb] documents it, and its switch writes connect=. */
static void check_filter_settings(void)
{
    GtkWindow *w = open_settings("Filters");
    GtkWidget *root = GTK_WIDGET(w);
    GtkWidget *problem = named(root, "problem-group");
    CHECK(gtk_widget_get_visible(problem), "the bad filter is not reported");
    const char *why = adw_preferences_group_get_description(ADW_PREFERENCES_GROUP(problem));
    note("vm.conf with a bad filter: %s", why);
    CHECK(strstr(why, "[usb] old=vendor=zz9: vendor='zz9'"), "the problem says '%s'", why);
    GtkWidget *bad_row = named(root, "usb-filter-row-old");
    CHECK(strstr(adw_action_row_get_subtitle(ADW_ACTION_ROW(bad_row)), "A bad filter"), "the bad row says '%s'",
          adw_action_row_get_subtitle(ADW_ACTION_ROW(bad_row)));
    run_for(300);
    g_autofree char *kept = conf_value("Filters", "usb", "old");
    CHECK(kept && !strcmp(kept, "vendor=zz9"), "the bad filter was not kept as written: %s", kept ? kept : "(gone)");
    click(named(root, "usb-filter-remove-old"));
    g_autofree char *removed = conf_value("Filters", "usb", "old");
    CHECK(!removed, "the removed filter is still in vm.conf: %s", removed);

    set_entry(w, "usb-filter-vendor", "xyz");
    click(named(root, "usb-filter-add"));
    const char *refusal = adw_action_row_get_subtitle(ADW_ACTION_ROW(named(root, "usb-filter-add-row")));
    note("a bad new filter: %s", refusal);
    CHECK(strstr(refusal, "vendor='xyz'"), "the add row says '%s'", refusal ? refusal : "");
    g_autofree char *none = conf_value("Filters", "usb", "filter1");
    CHECK(!none, "a bad filter was written: %s", none);

    set_entry(w, "usb-filter-vendor", "0781");
    set_entry(w, "usb-filter-product", "5567");
    set_entry(w, "usb-filter-class", "08");
    click(named(root, "usb-filter-add"));
    g_autofree char *added = conf_value("Filters", "usb", "filter1");
    CHECK(added && !strcmp(added, "vendor=0781,product=5567,class=08,connect=true"), "vm.conf has %s",
          added ? added : "no filter1");
    GtkWidget *row = named(root, "usb-filter-row-filter1");
    CHECK(!strcmp(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row)), "ID 0781:5567, class 08"),
          "the row's title is '%s'", adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row)));
    GtkSwitch *sw = GTK_SWITCH(named(root, "usb-filter-switch-filter1"));
    CHECK(gtk_switch_get_active(sw), "the new filter is off");
    gtk_switch_set_active(sw, FALSE);
    run_for(200);
    g_autofree char *off = conf_value("Filters", "usb", "filter1");
    CHECK(off && !strcmp(off, "vendor=0781,product=5567,class=08,connect=false"), "vm.conf has %s",
          off ? off : "no filter1");
    note("settings: filter1=%s", off);
    screenshot(w, "usb-filters.png");
    gtk_window_destroy(w);
    run_for(200);
}

/* The settings of the VM's window: a filter for vendor:product added on the USB
 * Filters group's row. */
static void add_filter_in_settings(VireoVmWindow *win, const char *vendor, const char *product)
{
    gtk_widget_activate_action(GTK_WIDGET(win), "win.settings", NULL);
    CHECK(wait_for(window_exists, (void *)(gsize)ADW_TYPE_PREFERENCES_WINDOW, 5000), "no settings window");
    GtkWindow *w = find_window(ADW_TYPE_PREFERENCES_WINDOW);
    GtkWidget *group = named(GTK_WIDGET(w), "usb-filter-group");
    CHECK(gtk_widget_get_sensitive(group), "the USB filters cannot change while the VM runs");
    set_entry(w, "usb-filter-vendor", vendor);
    set_entry(w, "usb-filter-product", product);
    click(named(GTK_WIDGET(w), "usb-filter-add"));
    gtk_window_destroy(w);
    run_for(200);
}

static bool widget_visible(void *w)
{
    return gtk_widget_get_visible(w);
}

/* This thread's effective capabilities to pass file permissions: root's open() of a
 * read-only node succeeds unless they are dropped. Only the thread that calls capset
 * changes, and the menu opens the device on this (the main) thread. */
static bool set_dac_override(bool on)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d))
        return false;
    uint32_t bits = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;
    if (on)
        d[0].effective |= bits & d[0].permitted;
    else
        d[0].effective &= ~bits;
    return syscall(SYS_capset, &h, d) == 0;
}

/* /dev/bus/usb/001/002 without write permission: the menu's message is the engine's
 * line with the udev rule that fixes it. */
static void check_permission_message(GtkWidget *popover, VireoMachine *m)
{
    RowWaitUsb kbd_switch = { popover, "usb-switch-001-002" };
    g_autofree char *node = g_build_filename(g_getenv("UMOCKDEV_DIR"), "dev/bus/usb/001/002", NULL);
    struct stat st;
    CHECK(stat(node, &st) == 0, "no mock node %s", node);
    CHECK(chmod(node, 0444) == 0, "cannot chmod %s", node);
    CHECK(set_dac_override(false), "cannot drop the capability to override file permissions");
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), TRUE);
    answer(wait_dialog(), "connect");
    GtkWidget *problem = named(popover, "usb-problem");
    run_for(300);
    const char *text = gtk_label_get_text(GTK_LABEL(problem));
    set_dac_override(true);
    chmod(node, st.st_mode & 07777);
    note("no permission: %s", text);
    CHECK(gtk_widget_get_visible(problem) && strstr(text, "/dev/bus/usb/001/002 needs read and write permission") &&
          strstr(text, "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"16c0\", ATTR{idProduct}==\"27db\"") &&
          !strchr(text, '\n'), "the message is '%s'", text);
    g_autofree char *none = info_usb(m);
    CHECK(!strstr(none, "usbhost-"), "a device without permission is on the bus:\n%s", none);
    run_for(200);
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "the switch stayed on although nothing was connected");
}

static void case_usb(const char *arg)
{
    const char *pre = g_getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "umockdev")) {
        printf("SKIP: not under umockdev-wrapper\n");
        exit_code = SKIP;
        return;
    }
    check_filter_settings();
    VireoVmWindow *win = open_and_start("Passthrough");
    VireoMachine *m = vireo_vm_window_get_machine(win);
    ScreenWait ready = { win, "type here" };
    CHECK(wait_for(screen_shows, &ready, 30000), "the guest's prompt never appeared");
    /* No filter of vm.conf matches the keyboard ("off" would, but is switched off). */
    g_autofree char *before = info_usb(m);
    CHECK(!strstr(before, "usbhost-"), "a device was connected at start:\n%s", before);

    GtkWidget *button = named(GTK_WIDGET(win), "usb-button");
    gtk_menu_button_popup(GTK_MENU_BUTTON(button));
    GtkWidget *popover = GTK_WIDGET(gtk_menu_button_get_popover(GTK_MENU_BUTTON(button)));
    RowWaitUsb kbd_row = { popover, "usb-row-001-002" };
    RowWaitUsb kbd_switch = { popover, "usb-switch-001-002" };
    CHECK(wait_for(row_present, &kbd_row, 5000), "the menu does not list the mock keyboard");
    GtkWidget *row = named(popover, "usb-row-001-002");
    const char *title = adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row));
    const char *subtitle = adw_action_row_get_subtitle(ADW_ACTION_ROW(row));
    note("menu row: %s — %s", title, subtitle);
    CHECK(!strcmp(title, USBMOCK_PRODUCT_NAME), "the row's title is '%s'", title);
    CHECK(strstr(subtitle, "Vireo") && strstr(subtitle, "Bus 001 Device 002") && strstr(subtitle, "16c0:27db"),
          "the row's subtitle is '%s'", subtitle);
    CHECK(!find_named(popover, "usb-row-001-003"), "the disk is listed before it was plugged in");
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "the keyboard's switch is on before anything happened");
    screenshot(GTK_WINDOW(win), "usb-menu.png");

    /* The only keyboard: the switch asks first; Cancel connects nothing. */
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), TRUE);
    AdwMessageDialog *d = wait_dialog();
    note("asked: %s", adw_message_dialog_get_heading(d));
    CHECK(strstr(adw_message_dialog_get_heading(d), "Only Keyboard"), "the dialog is '%s'",
          adw_message_dialog_get_heading(d));
    answer(d, "cancel");
    run_for(300);
    g_autofree char *cancelled = info_usb(m);
    CHECK(!strstr(cancelled, "usbhost-"), "Cancel connected the keyboard:\n%s", cancelled);
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "the switch stayed on after Cancel");
    CHECK(usbmock_stats(mock, USBMOCK_KEYBOARD).claimed == 0, "the keyboard was claimed after Cancel");

    /* Connecting fails: the menu shows the engine's one line. Another program holds
     * the keyboard; then /dev/bus/usb/001/002 is not writable for this user. */
    usbmock_set_busy(mock, true);
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), TRUE);
    answer(wait_dialog(), "connect");
    GtkWidget *problem = named(popover, "usb-problem");
    CHECK(wait_for(widget_visible, problem, 3000), "a busy device gave no message");
    note("busy: %s", gtk_label_get_text(GTK_LABEL(problem)));
    CHECK(strstr(gtk_label_get_text(GTK_LABEL(problem)), "Cannot connect “" USBMOCK_PRODUCT_NAME "”: ") &&
          strstr(gtk_label_get_text(GTK_LABEL(problem)), "is busy: another program holds its interface 0"),
          "the message is '%s'", gtk_label_get_text(GTK_LABEL(problem)));
    run_for(200);
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "the switch stayed on although nothing was connected");
    usbmock_set_busy(mock, false);
    check_permission_message(popover, m);

    /* Confirmed: on the VM's USB bus, the host's driver detached from it. */
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), TRUE);
    answer(wait_dialog(), "connect");
    UsbWait on = { m, "Product " USBMOCK_PRODUCT_NAME ", ID: usbhost-001-002" };
    CHECK(wait_for(usb_lists, &on, 5000), "the keyboard is not on the VM's bus");
    g_autofree char *listed = info_usb(m);
    note("info usb with the keyboard switched on:\n%s", listed);
    CHECK(wait_for(switch_on, &kbd_switch, 3000), "the switch is off with the keyboard connected");
    UsbMockStats st = usbmock_stats(mock, USBMOCK_KEYBOARD);
    CHECK(st.claimed == 1 && st.driver_bound == 0, "the mock: claimed=%d driver_bound=%d", st.claimed,
          st.driver_bound);
    CHECK(!gtk_widget_get_visible(problem), "a problem shows: %s", gtk_label_get_text(GTK_LABEL(problem)));

    /* Off: gone from the bus, the host's driver back. */
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), FALSE);
    run_for(300);
    g_autofree char *off = info_usb(m);
    CHECK(!strstr(off, "usbhost-001-002"), "the keyboard is still on the bus:\n%s", off);
    st = usbmock_stats(mock, USBMOCK_KEYBOARD);
    CHECK(st.driver_bound == 1, "the host driver was not reattached (connects=%d)", st.connects);
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "the switch is on after switching off");
    note("switched off: not on the bus, host driver reattached");

    /* Another VM takes the keyboard: this VM's menu names it and its switch cannot move. */
    gtk_popover_popdown(GTK_POPOVER(popover));
    g_clear_pointer(&usb_problem, g_free);
    VireoVmWindow *other_win = open_and_start("Other");
    VireoMachine *other = vireo_vm_window_get_machine(other_win);
    /* Its filters did not take the keyboard: one is off, the other says why not. */
    g_autofree char *other_usb = info_usb(other);
    CHECK(!strstr(other_usb, "usbhost-"), "a filter of the other VM took the keyboard:\n%s", other_usb);
    note("the other VM's filter: %s", usb_problem ? usb_problem : "(nothing said)");
    CHECK(usb_problem && strstr(usb_problem, "matches the USB filter “kbd” but looks like this computer’s only keyboard"),
          "the other VM's start said '%s'", usb_problem ? usb_problem : "nothing");
    g_autoptr(GError) err = NULL;
    CHECK(vireo_usb_attach(other, 1, 2, &err), "the other VM cannot take the keyboard: %s",
          err ? err->message : "?");
    gtk_menu_button_popup(GTK_MENU_BUTTON(button));
    run_for(500);
    row = named(popover, "usb-row-001-002");
    subtitle = adw_action_row_get_subtitle(ADW_ACTION_ROW(row));
    note("held by the other VM: %s", subtitle);
    CHECK(strstr(subtitle, "Used by “Other”"), "the row does not name the VM that holds it: '%s'", subtitle);
    /* Held, it keeps the name it gives (read when it was opened). */
    CHECK(!strcmp(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row)), USBMOCK_PRODUCT_NAME) &&
          strstr(subtitle, "Vireo"), "a held device's row: %s — %s", adw_preferences_row_get_title(ADW_PREFERENCES_ROW(row)),
          subtitle);
    CHECK(!gtk_widget_get_sensitive(row), "the row of another VM's device can be switched");
    CHECK(wait_for(switch_off, &kbd_switch, 3000),
          "another VM's device shows as this VM's");
    CHECK(vireo_usb_detach(other, "usbhost-001-002", &err), "the other VM cannot give the keyboard back: %s",
          err ? err->message : "?");
    force_off(other_win);
    CHECK(wait_for(machine_is_off, other, 10000), "the other VM did not stop");
    gtk_window_close(GTK_WINDOW(other_win));
    run_for(200);

    /* A filter added in the settings of the running VM (which had none at its start):
     * the disk plugged in now is connected by itself. */
    add_filter_in_settings(win, "16c0", "27dc");
    g_autofree char *added = conf_value("Passthrough", "usb", "filter1");
    CHECK(added && !strcmp(added, "vendor=16c0,product=27dc,connect=true"), "vm.conf has %s",
          added ? added : "no filter1");
    gtk_menu_button_popup(GTK_MENU_BUTTON(button));
    run_for(300);
    usbmock_plug(mock, USBMOCK_STORAGE);
    UsbWait disk = { m, "ID: usbhost-001-003" };
    CHECK(wait_for(usb_lists, &disk, 10000), "the filter did not connect the disk plugged in after the start");
    g_autofree char *with_disk = info_usb(m);
    note("info usb after the disk was plugged in:\n%s", with_disk);
    CHECK(!strstr(with_disk, "usbhost-001-002"), "the filter connected the keyboard too:\n%s", with_disk);
    RowWaitUsb disk_row = { popover, "usb-row-001-003" };
    CHECK(wait_for(row_present, &disk_row, 5000), "the menu does not list the disk plugged in");
    RowWaitUsb disk_switch = { popover, "usb-switch-001-003" };
    CHECK(wait_for(switch_on, &disk_switch, 3000), "the disk's switch is off while the VM has it");
    CHECK(usbmock_stats(mock, USBMOCK_STORAGE).claimed == 1, "the disk was not claimed");
    /* The star of a row: the disk has its filter already; the keyboard's click writes one. */
    CHECK(!gtk_widget_get_sensitive(named(popover, "usb-remember-001-003")), "the disk's filter can be added twice");
    click(named(popover, "usb-remember-001-002"));
    g_autofree char *remembered = conf_value("Passthrough", "usb", "filter2");
    CHECK(remembered && !strcmp(remembered, "vendor=16c0,product=27db,connect=true"), "the star wrote %s",
          remembered ? remembered : "no filter2");
    RowWaitUsb kbd_star = { popover, "usb-remember-001-002" };
    CHECK(wait_for(star_insensitive, &kbd_star, 3000), "the keyboard's star can still be clicked");
    note("the keyboard's star wrote filter2=%s", remembered);
    screenshot(GTK_WINDOW(win), "usb-menu-filter.png");
    /* The keyboard pulled out: the open menu follows (libusb hotplug). */
    usbmock_unplug(mock, USBMOCK_KEYBOARD);
    CHECK(wait_for(row_gone, &kbd_row, 5000), "the menu still lists the keyboard after it was unplugged");
    CHECK(find_named(popover, "usb-row-001-003"), "the disk left the menu with the keyboard");
    gtk_popover_popdown(GTK_POPOVER(popover));

    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "the VM did not stop");
    /* Stopping the VM gives the disk back to the host. */
    CHECK(wait_for(disk_driver_back, NULL, 5000), "the disk's host driver is not back after the stop");

    /* Started again with the disk plugged in: the filter connects it at the start. */
    gtk_widget_activate_action(GTK_WIDGET(win), "win.start", NULL);
    CHECK(wait_for(machine_running, m, 10000), "the VM did not start again");
    g_autofree char *at_start = info_usb(m);
    note("info usb right after the start:\n%s", at_start);
    CHECK(strstr(at_start, "Product Mock USB Disk, ID: usbhost-001-003"), "the filter did not connect the disk at start");
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 10000), "the VM did not stop");
    CHECK(wait_for(disk_driver_back, NULL, 5000), "the disk's host driver is not back after the second stop");
    usbmock_free(mock);
    mock = NULL;
    g_clear_pointer(&usb_problem, g_free);
    exit_code = 0;
}

/* ---- the same in a Linux guest ---- */

static char *serial_log;

/* The guest's last VIREO-USB-LIST line (tests/guests/linux/init-usb.sh, hot-plug mode:
 * " port:vid:pid:product" for each USB device Linux enumerated), or "". */
static char *guest_usb_list(void)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(serial_log, &text, NULL, NULL))
        return g_strdup("");
    const char *last = NULL;
    for (const char *p = strstr(text, "VIREO-USB-LIST"); p; p = strstr(p + 1, "VIREO-USB-LIST"))
        if (p == text || p[-1] == '\n')
            last = p;
    /* Only a whole line: the guest may be in the middle of writing it. */
    const char *end = last ? strchr(last, '\n') : NULL;
    return end ? g_strndup(last + strlen("VIREO-USB-LIST"), (gsize)(end - last - strlen("VIREO-USB-LIST")))
               : g_strdup("");
}

typedef struct GuestWait {
    const char *needle;
    bool present;
} GuestWait;

static bool guest_lists(void *data)
{
    GuestWait *w = data;
    g_autofree char *list = guest_usb_list();
    return (strstr(list, w->needle) != NULL) == w->present;
}

static bool serial_has(void *needle)
{
    g_autofree char *text = NULL;
    return g_file_get_contents(serial_log, &text, NULL, NULL) && strstr(text, needle);
}

/* The Linux kit's USB guest (mkusb.sh) in hot-plug mode. Skips where the kit cannot be
 * built or outside umockdev-wrapper. */
static void linux_setup(const char *kit)
{
    const char *pre = g_getenv("LD_PRELOAD");
    if (!pre || !strstr(pre, "umockdev")) {
        printf("SKIP: not under umockdev-wrapper\n");
        exit(SKIP);
    }
    build_linux_kit(kit, "mkusb.sh", NULL);
    serial_log = g_build_filename(work_dir, "com1.log", NULL);
    const char *accel = g_getenv("VIREO_TEST_ACCEL");
    g_autofree char *conf = g_strdup_printf(
        "[vm]\nmemory=256M\naccel=%s\nserial=file:%s\nkernel=%s/vmlinuz\ninitrd=%s/initrd-usb.img\n"
        "append=console=ttyS0 vireo.usbhotplug=1\n[usb]\nmockdisk=vendor=16c0,product=27dc\n",
        accel ? accel : "kvm:tcg", serial_log, kit, kit);
    write_vm("Linux", conf);
    mock = usbmock_new(USBMOCK_KEYBOARD);
}

/* What the menu's switch and the filter do, seen by Linux: the keyboard enumerates with
 * its IDs and product string when switched on and goes when switched off; the disk
 * plugged in later enumerates through the filter. */
static void case_linux(const char *kit)
{
    VireoVmWindow *win = open_and_start("Linux");
    VireoMachine *m = vireo_vm_window_get_machine(win);
    CHECK(wait_for(serial_has, "VIREO-USB-READY", 600000), "the Linux guest never got ready");
    GtkWidget *button = named(GTK_WIDGET(win), "usb-button");
    gtk_menu_button_popup(GTK_MENU_BUTTON(button));
    GtkWidget *popover = GTK_WIDGET(gtk_menu_button_get_popover(GTK_MENU_BUTTON(button)));
    RowWaitUsb kbd_row = { popover, "usb-row-001-002" };
    CHECK(wait_for(row_present, &kbd_row, 5000), "the menu does not list the mock keyboard");
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), TRUE);
    answer(wait_dialog(), "connect");
    GuestWait kbd = { ":16c0:27db:Mock_USB_Keyboard", true };
    if (!wait_for(guest_lists, &kbd, 120000)) {
        g_autofree char *list = guest_usb_list();
        CHECK(false, "Linux did not enumerate the keyboard; its last list:%s", list);
    }
    g_autofree char *on = guest_usb_list();
    note("Linux lists, the keyboard switched on:%s", on);
    gtk_switch_set_active(GTK_SWITCH(named(popover, "usb-switch-001-002")), FALSE);
    /* Gone whole: a list made while sysfs removes the device may still name its vendor. */
    GuestWait gone = { ":16c0:", false };
    CHECK(wait_for(guest_lists, &gone, 120000), "the keyboard stayed in the guest after it was switched off");
    g_autofree char *off = guest_usb_list();
    note("Linux lists, switched off:%s", off);
    usbmock_plug(mock, USBMOCK_STORAGE);
    GuestWait disk = { ":16c0:27dc:Mock_USB_Disk", true };
    if (!wait_for(guest_lists, &disk, 120000)) {
        g_autofree char *list = guest_usb_list();
        CHECK(false, "Linux did not enumerate the disk the filter connected; its last list:%s", list);
    }
    g_autofree char *with_disk = guest_usb_list();
    note("Linux lists, the disk plugged in (vm.conf's filter):%s", with_disk);
    gtk_popover_popdown(GTK_POPOVER(popover));
    force_off(win);
    CHECK(wait_for(machine_is_off, m, 20000), "the VM did not stop");
    CHECK(wait_for(disk_driver_back, NULL, 10000), "the disk's host driver is not back after the stop");
    usbmock_free(mock);
    mock = NULL;
    exit_code = 0;
}

static void usb_setup_mock(const char *arg)
{
    usb_setup(arg);
    const char *pre = g_getenv("LD_PRELOAD");
    if (pre && strstr(pre, "umockdev"))
        mock = usbmock_new(USBMOCK_KEYBOARD);
}

static const UiCase usb_cases[] = {
    { "usb", true, usb_setup_mock, case_usb },
    { "usb-linux", true, linux_setup, case_linux },
};

const UiCase *usb_case(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(usb_cases); i++)
        if (!strcmp(usb_cases[i].name, name))
            return &usb_cases[i];
    return NULL;
}
