/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM window's USB menu and vm.conf's auto-connect filters (see vireo-usb.h). */
#include "ui/gtk/vireo-usb.h"
#include "engine/vm.h"
#include "engine/vmconf.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <string.h>

/* USB 2.0, 9.6.1: bDeviceClass 9 is a hub; the host's own hubs are no device to pass. */
#define USB_CLASS_HUB 9

/* ---- names: the device's strings, else usb.ids (the list lsusb reads) ---- */

static const char *const usb_ids_paths[] = {
    "/usr/share/misc/usb.ids", "/usr/share/hwdata/usb.ids", "/var/lib/usbutils/usb.ids",
};

static char *usb_ids_text;   /* the whole file, read once; "" when there is none */

/* The name after "ID  " on the line starting at line (up to its end). */
static char *ids_line_name(const char *line)
{
    const char *start = line;
    while (*start && *start != ' ')
        start++;
    while (*start == ' ')
        start++;
    const char *end = strchr(start, '\n');
    return end ? g_strndup(start, (gsize)(end - start)) : g_strdup(start);
}

/* usb.ids: a vendor line "VVVV  Name", its products below as "\tPPPP  Name". */
static void usb_ids_lookup(uint16_t vendor, uint16_t product, char **vname, char **pname)
{
    *vname = *pname = NULL;
    if (!usb_ids_text) {
        for (size_t i = 0; i < G_N_ELEMENTS(usb_ids_paths) && !usb_ids_text; i++)
            g_file_get_contents(usb_ids_paths[i], &usb_ids_text, NULL, NULL);
        if (!usb_ids_text)
            usb_ids_text = g_strdup("");
    }
    char vkey[8];
    g_snprintf(vkey, sizeof(vkey), "\n%04x ", vendor);
    const char *v = strstr(usb_ids_text, vkey);
    if (!v)
        return;
    *vname = ids_line_name(v + 1);
    char pkey[8];
    g_snprintf(pkey, sizeof(pkey), "\t%04x ", product);
    for (const char *line = strchr(v + 1, '\n'); line && line[1] == '\t'; line = strchr(line + 1, '\n')) {
        if (!strncmp(line + 1, pkey, strlen(pkey))) {
            *pname = ids_line_name(line + 2);
            return;
        }
    }
}

char *vireo_usb_device_name(const UsbHostInfo *i)
{
    if (i->product && *i->product)
        return g_strdup(i->product);
    g_autofree char *vname = NULL, *pname = NULL;
    usb_ids_lookup(i->vendor_id, i->product_id, &vname, &pname);
    if (pname)
        return g_steal_pointer(&pname);
    return g_strdup_printf(_("USB device %04x:%04x"), i->vendor_id, i->product_id);
}

static char *device_vendor(const UsbHostInfo *i)
{
    if (i->manufacturer && *i->manufacturer)
        return g_strdup(i->manufacturer);
    g_autofree char *vname = NULL, *pname = NULL;
    usb_ids_lookup(i->vendor_id, i->product_id, &vname, &pname);
    return g_steal_pointer(&vname);
}

bool vireo_usb_is_boot_keyboard(const UsbHostInfo *i)
{
    for (int n = 0; n < i->n_interfaces; n++)
        if (i->interfaces[n].cls == 3 && i->interfaces[n].subclass == 1 && i->interfaces[n].protocol == 1)
            return true;
    return false;
}

bool vireo_usb_is_only_keyboard(GPtrArray *list, const UsbHostInfo *i)
{
    if (!vireo_usb_is_boot_keyboard(i) || i->in_use_by)
        return false;
    for (guint n = 0; n < list->len; n++) {
        const UsbHostInfo *o = list->pdata[n];
        if (o != i && !o->in_use_by && vireo_usb_is_boot_keyboard(o))
            return false;
    }
    return true;
}

const char *vireo_usb_held_by(VireoMachine *m, const UsbHostInfo *i)
{
    const char *name = vireo_machine_get_name(m);
    size_t n = strlen(name);
    if (!i->in_use_by || !vireo_machine_is_active(m) || strncmp(i->in_use_by, name, n) || i->in_use_by[n] != '/')
        return NULL;
    return i->in_use_by + n + 1;
}

/* The VM that holds i, as the owner string names it ("vmname/devid"). */
static char *holder_name(const UsbHostInfo *i)
{
    const char *slash = strrchr(i->in_use_by, '/');
    return slash ? g_strndup(i->in_use_by, (gsize)(slash - i->in_use_by)) : g_strdup(i->in_use_by);
}

/* ---- connecting ---- */

bool vireo_usb_attach(VireoMachine *m, int bus, int addr, GError **err)
{
    Vm *vm = vireo_machine_get_vm(m);
    if (!vm) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("The virtual machine is not running."));
        return false;
    }
    g_autofree char *spec = g_strdup_printf("usb-host,hostbus=%d,hostaddr=%d,id=usbhost-%03d-%03d", bus, addr, bus,
                                            addr);
    bool ok = vm_device_add(vm, spec, err);
    vireo_machine_usb_changed(m);
    return ok;
}

bool vireo_usb_detach(VireoMachine *m, const char *dev_id, GError **err)
{
    Vm *vm = vireo_machine_get_vm(m);
    if (!vm) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, _("The virtual machine is not running."));
        return false;
    }
    bool ok = vm_device_del(vm, dev_id, err);
    vireo_machine_usb_changed(m);
    return ok;
}

/* ---- auto-connect filters ---- */

typedef struct AutoConnect {
    VireoMachine *m;     /* not a reference: the machine owns this */
    guint watch;
    GHashTable *seen;    /* "bus-addr" of the devices present at the last look */
} AutoConnect;

#define AUTO_KEY "vireo-usb-auto"

static char *dev_key(const UsbHostInfo *i)
{
    return g_strdup_printf("%d-%d", i->bus, i->addr);
}

/* Connects each device of list that is new (not in seen, or everything when seen is
 * NULL) and matches an enabled filter of vm.conf. */
static void auto_connect(VireoMachine *m, GPtrArray *list, GHashTable *seen)
{
    g_autoptr(GPtrArray) filters = vmconf_usb_filters(vireo_machine_get_conf(m));
    for (guint n = 0; n < list->len; n++) {
        const UsbHostInfo *i = list->pdata[n];
        g_autofree char *key = dev_key(i);
        if ((seen && g_hash_table_contains(seen, key)) || i->in_use_by || i->dev_class == USB_CLASS_HUB)
            continue;
        uint8_t classes[USBHOST_INFO_MAX_INTERFACES];
        for (int c = 0; c < i->n_interfaces; c++)
            classes[c] = i->interfaces[c].cls;
        const VmconfUsbFilter *hit = NULL;
        for (guint f = 0; f < filters->len && !hit; f++) {
            const VmconfUsbFilter *flt = filters->pdata[f];
            if (flt->connect && vmconf_usb_filter_matches(flt, i->vendor_id, i->product_id, i->serial, i->dev_class,
                                                          classes, (size_t)i->n_interfaces))
                hit = flt;
        }
        if (!hit)
            continue;
        g_autofree char *name = vireo_usb_device_name(i);
        /* A filter never takes the host's last keyboard without asking: the menu does. */
        if (vireo_usb_is_only_keyboard(list, i)) {
            g_autofree char *msg = g_strdup_printf(
                _("“%s” matches the USB filter “%s” but looks like this computer’s only keyboard: connect it from the USB menu."),
                name, hit->id);
            vireo_machine_report_usb_problem(m, msg);
            continue;
        }
        g_autoptr(GError) err = NULL;
        if (!vireo_usb_attach(m, i->bus, i->addr, &err)) {
            g_autofree char *msg = g_strdup_printf(_("Cannot connect “%s” (USB filter “%s”): %s"), name, hit->id,
                                                   err->message);
            vireo_machine_report_usb_problem(m, msg);
        }
    }
}

static void remember(AutoConnect *a, GPtrArray *list)
{
    g_hash_table_remove_all(a->seen);
    for (guint n = 0; n < list->len; n++)
        g_hash_table_add(a->seen, dev_key(list->pdata[n]));
}

static void on_auto_changed(void *opaque)
{
    AutoConnect *a = opaque;
    g_autoptr(GPtrArray) list = usbhost_list_devices(NULL);
    if (!list)
        return;
    if (vireo_machine_is_active(a->m))
        auto_connect(a->m, list, a->seen);
    remember(a, list);
}

static void auto_free(gpointer p)
{
    AutoConnect *a = p;
    if (a->watch)
        usbhost_unwatch(a->watch);
    g_hash_table_unref(a->seen);
    g_free(a);
}

/* Watches the host's devices for m's filters; connect_present: the devices plugged in
 * now are connected too (at the VM's start), otherwise only those plugged in later. */
static void auto_start(VireoMachine *m, bool connect_present)
{
    g_autoptr(GPtrArray) filters = vmconf_usb_filters(vireo_machine_get_conf(m));
    if (!filters->len || g_object_get_data(G_OBJECT(m), AUTO_KEY))
        return;
    AutoConnect *a = g_new0(AutoConnect, 1);
    a->m = m;
    a->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_object_set_data_full(G_OBJECT(m), AUTO_KEY, a, auto_free);
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) list = usbhost_list_devices(&err);
    if (!list) {
        g_autofree char *msg = g_strdup_printf(_("The USB filters cannot work: %s"), err->message);
        vireo_machine_report_usb_problem(m, msg);
        return;
    }
    if (connect_present)
        auto_connect(m, list, NULL);
    remember(a, list);
    /* Without hotplug (an old libusb) the filters still apply at each start. */
    a->watch = usbhost_watch(on_auto_changed, a, NULL);
}

void vireo_usb_machine_started(VireoMachine *m)
{
    auto_start(m, true);
}

void vireo_usb_filters_changed(VireoMachine *m)
{
    if (vireo_machine_is_active(m))
        auto_start(m, false);
}

void vireo_usb_machine_stopping(VireoMachine *m)
{
    g_object_set_data(G_OBJECT(m), AUTO_KEY, NULL);
}

/* ---- the menu ---- */

typedef struct UsbMenu {
    VireoMachine *m;
    GtkWidget *button, *popover, *list_box, *note, *problem;
    GPtrArray *devices;   /* UsbHostInfo *, as last listed */
    GPtrArray *rows;
    guint watch;
    guint refresh_idle;
    bool updating;        /* switches set from the list, not by the user */
} UsbMenu;

static void menu_refresh(UsbMenu *u);

static gboolean refresh_idle(gpointer data)
{
    UsbMenu *u = data;
    u->refresh_idle = 0;
    menu_refresh(u);
    return G_SOURCE_REMOVE;
}

/* After a switch moved: the rows are rebuilt once the switch's own handlers are done
 * with it (rebuilding frees it). */
static void menu_refresh_later(UsbMenu *u)
{
    /* At default priority: an idle one starves while the VM's display redraws. */
    if (!u->refresh_idle)
        u->refresh_idle = g_idle_add_full(G_PRIORITY_DEFAULT, refresh_idle, u, NULL);
}

static void show_problem(UsbMenu *u, const char *text)
{
    gtk_label_set_text(GTK_LABEL(u->problem), text ? text : "");
    gtk_widget_set_visible(u->problem, text != NULL);
}

static const UsbHostInfo *find_device(UsbMenu *u, int bus, int addr)
{
    for (guint n = 0; u->devices && n < u->devices->len; n++) {
        const UsbHostInfo *i = u->devices->pdata[n];
        if (i->bus == bus && i->addr == addr)
            return i;
    }
    return NULL;
}

static void connect_device(UsbMenu *u, int bus, int addr)
{
    const UsbHostInfo *i = find_device(u, bus, addr);
    g_autofree char *name = i ? vireo_usb_device_name(i) : g_strdup_printf("%03d/%03d", bus, addr);
    g_autoptr(GError) err = NULL;
    if (!vireo_usb_attach(u->m, bus, addr, &err)) {
        /* The engine's line says what is wrong (for /dev/bus/usb, the udev rule that fixes
         * it); the device id and back end name in front of it say nothing to the user. */
        g_autofree char *id = g_strdup_printf("usbhost-%03d-%03d: ", bus, addr);
        const char *why = err->message;
        if (g_str_has_prefix(why, id))
            why += strlen(id);
        if (g_str_has_prefix(why, "usb-host: "))
            why += strlen("usb-host: ");
        g_autofree char *msg = g_strdup_printf(_("Cannot connect “%s”: %s"), name, why);
        show_problem(u, msg);
    } else {
        show_problem(u, NULL);
    }
    menu_refresh_later(u);
}

/* The question outlives nothing: the menu may be gone (its window closed) by the answer. */
typedef struct KeyboardAsk {
    GWeakRef button;
    int bus, addr;
} KeyboardAsk;

static void keyboard_ask_free(gpointer data, GClosure *closure)
{
    KeyboardAsk *k = data;
    g_weak_ref_clear(&k->button);
    g_free(k);
}

static void on_keyboard_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    KeyboardAsk *k = data;
    g_autoptr(GObject) button = g_weak_ref_get(&k->button);
    UsbMenu *u = button ? g_object_get_data(button, "vireo-usb-menu") : NULL;
    if (!u)
        return;
    if (!g_strcmp0(response, "connect"))
        connect_device(u, k->bus, k->addr);
    else
        menu_refresh_later(u);
}

static void on_switch(GtkSwitch *sw, GParamSpec *ps, UsbMenu *u)
{
    if (u->updating)
        return;
    int bus = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(sw), "vireo-bus"));
    int addr = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(sw), "vireo-addr"));
    /* Who holds what now, not when the rows were made (the rows follow once this is done). */
    GPtrArray *now = usbhost_list_devices(NULL);
    if (now) {
        g_clear_pointer(&u->devices, g_ptr_array_unref);
        u->devices = now;
    }
    const UsbHostInfo *i = find_device(u, bus, addr);
    if (!i) {
        menu_refresh_later(u);
        return;
    }
    if (!gtk_switch_get_active(sw)) {
        const char *id = vireo_usb_held_by(u->m, i);
        g_autoptr(GError) err = NULL;
        if (id && !vireo_usb_detach(u->m, id, &err))
            show_problem(u, err->message);
        else
            show_problem(u, NULL);
        menu_refresh_later(u);
        return;
    }
    if (vireo_usb_is_only_keyboard(u->devices, i)) {
        g_autofree char *name = vireo_usb_device_name(i);
        g_autofree char *body = g_strdup_printf(
            _("“%s” looks like the only keyboard of this computer. While the virtual machine has it, this computer "
              "gets no key presses from it; it comes back when you switch it off here or the virtual machine stops."),
            name);
        GtkRoot *root = gtk_widget_get_root(u->button);
        GtkWidget *d = adw_message_dialog_new(GTK_IS_WINDOW(root) ? GTK_WINDOW(root) : NULL,
                                              _("Connect the Only Keyboard?"), body);
        gtk_widget_set_name(d, "usb-keyboard-dialog");
        adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), "connect",
                                         _("_Connect Anyway"), NULL);
        adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "connect", ADW_RESPONSE_DESTRUCTIVE);
        adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
        adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
        KeyboardAsk *k = g_new0(KeyboardAsk, 1);
        g_weak_ref_init(&k->button, u->button);
        k->bus = bus;
        k->addr = addr;
        g_signal_connect_data(d, "response", G_CALLBACK(on_keyboard_response), k, keyboard_ask_free, 0);
        gtk_window_present(GTK_WINDOW(d));
        return;
    }
    connect_device(u, bus, addr);
}

/* Whether an enabled filter of m's vm.conf matches i. */
static bool filter_matches(VireoMachine *m, const UsbHostInfo *i)
{
    g_autoptr(GPtrArray) filters = vmconf_usb_filters(vireo_machine_get_conf(m));
    uint8_t classes[USBHOST_INFO_MAX_INTERFACES];
    for (int c = 0; c < i->n_interfaces; c++)
        classes[c] = i->interfaces[c].cls;
    for (guint f = 0; f < filters->len; f++) {
        const VmconfUsbFilter *flt = filters->pdata[f];
        if (flt->connect && vmconf_usb_filter_matches(flt, i->vendor_id, i->product_id, i->serial, i->dev_class,
                                                      classes, (size_t)i->n_interfaces))
            return true;
    }
    return false;
}

/* "Connect automatically": a filter of this device's IDs (and serial number, when it has
 * one a filter can hold) in vm.conf [usb], as the settings would write it. */
static void on_remember(GtkButton *b, UsbMenu *u)
{
    int bus = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(b), "vireo-bus"));
    int addr = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(b), "vireo-addr"));
    const UsbHostInfo *i = find_device(u, bus, addr);
    GKeyFile *cur = vireo_machine_get_conf(u->m);
    if (!i || !cur)
        return;
    VmconfUsbFilter f = { .vendor = i->vendor_id, .product = i->product_id, .dev_class = -1, .connect = true };
    if (i->serial && *i->serial && !strchr(i->serial, ','))
        f.serial = i->serial;
    g_autofree char *value = vmconf_usb_filter_format(&f);
    g_autoptr(GKeyFile) conf = g_key_file_new();
    gsize len;
    g_autofree char *data = g_key_file_to_data(cur, &len, NULL);
    if (!g_key_file_load_from_data(conf, data, len, G_KEY_FILE_KEEP_COMMENTS, NULL))
        return;
    g_autofree char *id = NULL;
    for (int n = 1; !id; n++) {
        g_autofree char *cand = g_strdup_printf("filter%d", n);
        if (!g_key_file_has_key(conf, VMCONF_GROUP_USB, cand, NULL))
            id = g_steal_pointer(&cand);
    }
    g_key_file_set_string(conf, VMCONF_GROUP_USB, id, value);
    g_autoptr(GError) err = NULL;
    if (!vireo_machine_save_conf(u->m, conf, &err)) {
        show_problem(u, err->message);
        return;
    }
    vireo_usb_filters_changed(u->m);
    menu_refresh_later(u);
}

static GtkWidget *device_row(UsbMenu *u, const UsbHostInfo *i, bool running)
{
    GtkWidget *row = adw_action_row_new();
    g_autofree char *rname = g_strdup_printf("usb-row-%03d-%03d", i->bus, i->addr);
    gtk_widget_set_name(row, rname);
    g_autofree char *title = vireo_usb_device_name(i);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
    g_autofree char *vendor = device_vendor(i);
    g_autofree char *where = g_strdup_printf(_("Bus %03d Device %03d · ID %04x:%04x"), i->bus, i->addr, i->vendor_id,
                                             i->product_id);
    const char *mine = vireo_usb_held_by(u->m, i);
    /* A VM that stopped keeps its devices until it is freed a moment later: that is
     * still this VM, not another one. */
    g_autofree char *holder = i->in_use_by ? holder_name(i) : NULL;
    if (holder && !strcmp(holder, vireo_machine_get_name(u->m)))
        g_clear_pointer(&holder, g_free);
    g_autofree char *used = holder ? g_strdup_printf(_("Used by “%s”"), holder) : NULL;
    GString *sub = g_string_new(used);
    if (vendor)
        g_string_append_printf(sub, "%s%s", sub->len ? " · " : "", vendor);
    g_string_append_printf(sub, "%s%s", sub->len ? " · " : "", where);
    g_autofree char *subtitle = g_string_free(sub, false);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
    /* Remembered for later: connected at each start and when plugged in. */
    bool remembered = filter_matches(u->m, i);
    GtkWidget *remember = gtk_button_new_from_icon_name(remembered ? "starred-symbolic" : "non-starred-symbolic");
    g_autofree char *bname = g_strdup_printf("usb-remember-%03d-%03d", i->bus, i->addr);
    gtk_widget_set_name(remember, bname);
    gtk_widget_add_css_class(remember, "flat");
    gtk_widget_set_valign(remember, GTK_ALIGN_CENTER);
    gtk_widget_set_tooltip_text(remember, remembered ? _("A USB filter of this virtual machine connects it automatically")
                                                     : _("Connect automatically (adds a USB filter)"));
    gtk_widget_set_sensitive(remember, !remembered);
    g_object_set_data(G_OBJECT(remember), "vireo-bus", GINT_TO_POINTER(i->bus));
    g_object_set_data(G_OBJECT(remember), "vireo-addr", GINT_TO_POINTER(i->addr));
    g_signal_connect(remember, "clicked", G_CALLBACK(on_remember), u);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), remember);
    GtkWidget *sw = gtk_switch_new();
    g_autofree char *sname = g_strdup_printf("usb-switch-%03d-%03d", i->bus, i->addr);
    gtk_widget_set_name(sw, sname);
    gtk_widget_set_valign(sw, GTK_ALIGN_CENTER);
    gtk_switch_set_active(GTK_SWITCH(sw), mine != NULL);
    g_object_set_data(G_OBJECT(sw), "vireo-bus", GINT_TO_POINTER(i->bus));
    g_object_set_data(G_OBJECT(sw), "vireo-addr", GINT_TO_POINTER(i->addr));
    g_signal_connect(sw, "notify::active", G_CALLBACK(on_switch), u);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), sw);
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), sw);
    if (holder) {
        gtk_widget_set_tooltip_text(row, used);
        gtk_widget_add_css_class(row, "dim-label");
    }
    /* Another VM's device; with no VM to give it to, only the filter can be made. */
    gtk_widget_set_sensitive(sw, running);
    gtk_widget_set_sensitive(row, !holder);
    return row;
}

static void menu_refresh(UsbMenu *u)
{
    u->updating = true;
    for (guint n = 0; n < u->rows->len; n++)
        gtk_list_box_remove(GTK_LIST_BOX(u->list_box), u->rows->pdata[n]);
    g_ptr_array_set_size(u->rows, 0);
    g_clear_pointer(&u->devices, g_ptr_array_unref);
    g_autoptr(GError) err = NULL;
    GPtrArray *all = usbhost_list_devices(&err);
    bool running = vireo_machine_is_active(u->m);
    if (!all) {
        gtk_label_set_text(GTK_LABEL(u->note), err->message);
        gtk_widget_set_visible(u->note, TRUE);
        u->updating = false;
        return;
    }
    u->devices = all;
    for (guint n = 0; n < all->len; n++) {
        const UsbHostInfo *i = all->pdata[n];
        if (i->dev_class == USB_CLASS_HUB)
            continue;
        GtkWidget *row = device_row(u, i, running);
        gtk_list_box_append(GTK_LIST_BOX(u->list_box), row);
        g_ptr_array_add(u->rows, row);
    }
    const char *note = !u->rows->len ? _("No USB devices are plugged into this computer.")
                       : !running    ? _("Start the virtual machine to connect a device to it.")
                                     : NULL;
    gtk_label_set_text(GTK_LABEL(u->note), note ? note : "");
    gtk_widget_set_visible(u->note, note != NULL);
    u->updating = false;
}

/* The list is read while the menu shows (reading it opens every device for its names). */
static bool menu_shown(UsbMenu *u)
{
    return gtk_widget_get_visible(u->popover);
}

static void on_host_changed(void *opaque)
{
    UsbMenu *u = opaque;
    if (menu_shown(u))
        menu_refresh(u);
}

static void on_popover_show(GtkWidget *popover, UsbMenu *u)
{
    if (!u->watch)
        u->watch = usbhost_watch(on_host_changed, u, NULL);
    menu_refresh(u);
}

static void on_popover_hide(GtkWidget *popover, UsbMenu *u)
{
    if (u->watch)
        usbhost_unwatch(u->watch);
    u->watch = 0;
}

static void on_machine_state(VireoMachine *m, GParamSpec *ps, UsbMenu *u)
{
    if (!vireo_machine_is_active(m))
        show_problem(u, NULL);
    if (menu_shown(u))
        menu_refresh(u);
}

static void on_machine_usb_changed(VireoMachine *m, UsbMenu *u)
{
    if (menu_shown(u))
        menu_refresh_later(u);
}

static void on_machine_usb_problem(VireoMachine *m, const char *text, UsbMenu *u)
{
    show_problem(u, text);
}

static void menu_free(gpointer p)
{
    UsbMenu *u = p;
    if (u->watch)
        usbhost_unwatch(u->watch);
    if (u->refresh_idle)
        g_source_remove(u->refresh_idle);
    g_signal_handlers_disconnect_by_data(u->m, u);
    g_clear_pointer(&u->devices, g_ptr_array_unref);
    g_ptr_array_unref(u->rows);
    g_object_unref(u->m);
    g_free(u);
}

GtkWidget *vireo_usb_button_new(VireoMachine *m)
{
    UsbMenu *u = g_new0(UsbMenu, 1);
    u->m = g_object_ref(m);
    u->rows = g_ptr_array_new();
    u->button = gtk_menu_button_new();
    gtk_widget_set_name(u->button, "usb-button");
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(u->button), "media-removable-symbolic");
    gtk_widget_set_tooltip_text(u->button, _("USB Devices"));

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 8);
    gtk_widget_set_size_request(box, 380, -1);
    GtkWidget *heading = gtk_label_new(_("USB Devices of This Computer"));
    gtk_widget_add_css_class(heading, "heading");
    gtk_label_set_xalign(GTK_LABEL(heading), 0);
    gtk_box_append(GTK_BOX(box), heading);
    GtkWidget *scroll = gtk_scrolled_window_new();
    gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
    gtk_scrolled_window_set_propagate_natural_height(GTK_SCROLLED_WINDOW(scroll), TRUE);
    gtk_scrolled_window_set_max_content_height(GTK_SCROLLED_WINDOW(scroll), 420);
    u->list_box = gtk_list_box_new();
    gtk_widget_set_name(u->list_box, "usb-list");
    gtk_list_box_set_selection_mode(GTK_LIST_BOX(u->list_box), GTK_SELECTION_NONE);
    gtk_widget_add_css_class(u->list_box, "boxed-list");
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroll), u->list_box);
    gtk_box_append(GTK_BOX(box), scroll);
    u->note = gtk_label_new(NULL);
    gtk_widget_set_name(u->note, "usb-note");
    gtk_label_set_wrap(GTK_LABEL(u->note), TRUE);
    gtk_label_set_xalign(GTK_LABEL(u->note), 0);
    gtk_widget_add_css_class(u->note, "dim-label");
    gtk_box_append(GTK_BOX(box), u->note);
    u->problem = gtk_label_new(NULL);
    gtk_widget_set_name(u->problem, "usb-problem");
    gtk_label_set_wrap(GTK_LABEL(u->problem), TRUE);
    gtk_label_set_selectable(GTK_LABEL(u->problem), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(u->problem), 50);
    gtk_label_set_xalign(GTK_LABEL(u->problem), 0);
    gtk_widget_add_css_class(u->problem, "error");
    gtk_widget_set_visible(u->problem, FALSE);
    gtk_box_append(GTK_BOX(box), u->problem);

    u->popover = gtk_popover_new();
    gtk_widget_set_name(u->popover, "usb-popover");
    gtk_popover_set_child(GTK_POPOVER(u->popover), box);
    gtk_menu_button_set_popover(GTK_MENU_BUTTON(u->button), u->popover);
    g_signal_connect(u->popover, "show", G_CALLBACK(on_popover_show), u);
    g_signal_connect(u->popover, "hide", G_CALLBACK(on_popover_hide), u);
    g_object_set_data_full(G_OBJECT(u->button), "vireo-usb-menu", u, menu_free);

    g_signal_connect(m, "notify::state", G_CALLBACK(on_machine_state), u);
    g_signal_connect(m, "usb-changed", G_CALLBACK(on_machine_usb_changed), u);
    g_signal_connect(m, "usb-problem", G_CALLBACK(on_machine_usb_problem), u);
    return u->button;
}
