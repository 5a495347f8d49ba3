/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The settings window's network part: port forwarding rules (vm.conf [network]
 * forward=, applied at start through the NAT's hostfwd= options and, on a running VM,
 * added and removed at once through the engine's hostfwd calls) and the address the
 * guest got from the NAT's DHCP server. */
#include "ui/gtk/vireo-settings-internal.h"
#include "engine/net/net.h"
#include "engine/vmconf.h"

#include <glib/gi18n.h>
#include <string.h>

/* The rules in vm.conf, in order (an empty vector when there are none). */
static GStrv forward_rules(Settings *s)
{
    GKeyFile *kf = vireo_machine_get_conf(s->machine);
    GStrv rules = kf ? g_key_file_get_string_list(kf, VMCONF_GROUP_NETWORK, VMCONF_KEY_FORWARD, NULL, NULL) : NULL;
    return rules ? rules : g_new0(char *, 1);
}

/* The part of a rule that names the host side (what hostfwd_remove takes). */
static char *rule_host_part(const char *rule)
{
    const char *dash = strchr(rule, '-');
    return dash ? g_strndup(rule, (gsize)(dash - rule)) : g_strdup(rule);
}

/* "TCP, port 2222 of 127.0.0.1 → guest port 22" from tcp:127.0.0.1:2222-:22. */
static char *rule_title(const char *rule)
{
    g_auto(GStrv) hg = g_strsplit(rule, "-", 2);
    g_auto(GStrv) h = g_strsplit(hg[0], ":", 3);
    if (g_strv_length(h) != 3 || !hg[1])
        return g_strdup(rule);
    const char *gport = strrchr(hg[1], ':');
    g_autofree char *proto = g_ascii_strup(*h[0] ? h[0] : "tcp", -1);
    if (*h[1])
        return g_strdup_printf(_("%s, port %s of %s → guest port %s"), proto, h[2], h[1], gport ? gport + 1 : hg[1]);
    return g_strdup_printf(_("%s, port %s → guest port %s"), proto, h[2], gport ? gport + 1 : hg[1]);
}

/* Writes the rules; a running VM gets the change at once. */
static bool save_rules(Settings *s, char **rules, GtkWidget *row)
{
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    guint n = g_strv_length(rules);
    if (n)
        g_key_file_set_string_list(conf, VMCONF_GROUP_NETWORK, VMCONF_KEY_FORWARD, (const char *const *)rules, n);
    else
        g_key_file_remove_group(conf, VMCONF_GROUP_NETWORK, NULL);
    return settings_commit(s, conf, row, NULL);
}

static Vm *running_vm(Settings *s)
{
    return vireo_machine_is_active(s->machine) ? vireo_machine_get_vm(s->machine) : NULL;
}

static void on_add_forward(GtkButton *b, Settings *s)
{
    const char *proto = gtk_drop_down_get_selected(s->fwd_proto) == 1 ? "udp" : "tcp";
    g_autofree char *addr = g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(s->fwd_addr))));
    int hport = gtk_spin_button_get_value_as_int(s->fwd_host);
    int gport = gtk_spin_button_get_value_as_int(s->fwd_guest);
    g_autofree char *rule = g_strdup_printf("%s:%s:%d-:%d", proto, addr, hport, gport);
    g_autofree char *host = rule_host_part(rule);
    g_auto(GStrv) rules = forward_rules(s);
    for (char **r = rules; *r; r++) {
        g_autofree char *other = rule_host_part(*r);
        if (!g_ascii_strcasecmp(other, host)) {
            settings_row_show_error(s->fwd_add_row, _("This port of the computer is forwarded already"), NULL);
            return;
        }
    }
    GStrvBuilder *sb = g_strv_builder_new();
    g_strv_builder_addv(sb, (const char **)rules);
    g_strv_builder_add(sb, rule);
    g_auto(GStrv) updated = g_strv_builder_end(sb);
    g_strv_builder_unref(sb);
    if (!save_rules(s, updated, s->fwd_add_row))
        return;
    Vm *vm = running_vm(s);
    g_autoptr(GError) err = NULL;
    if (vm && !net_hostfwd_add(vm, NULL, rule, &err)) {
        g_autofree char *msg = g_strdup_printf(_("Saved for the next start; the running virtual machine says: %s"),
                                               err->message);
        settings_row_show_error(s->fwd_add_row, msg, NULL);
    }
    settings_network_refresh(s);
}

static void on_remove_forward(GtkButton *b, Settings *s)
{
    const char *rule = g_object_get_data(G_OBJECT(b), "vireo-rule");
    g_autofree char *target = g_strdup(rule);
    g_auto(GStrv) rules = forward_rules(s);
    GStrvBuilder *sb = g_strv_builder_new();
    for (char **r = rules; *r; r++)
        if (strcmp(*r, target))
            g_strv_builder_add(sb, *r);
    g_auto(GStrv) updated = g_strv_builder_end(sb);
    g_strv_builder_unref(sb);
    GtkWidget *row = gtk_widget_get_ancestor(GTK_WIDGET(b), ADW_TYPE_ACTION_ROW);
    if (!save_rules(s, updated, row))
        return;
    Vm *vm = running_vm(s);
    g_autofree char *host = rule_host_part(target);
    /* A rule the VM did not have (it was added while the VM had no card) is simply gone. */
    if (vm)
        net_hostfwd_remove(vm, NULL, host, NULL);
    settings_network_refresh(s);
}

/* The guest's address: slirp's DHCP lease, known once the guest asked for one. */
static void update_nat_row(Settings *s)
{
    Vm *vm = running_vm(s);
    g_autofree char *addr = vm ? net_guest_address(vm) : NULL;
    const char *text = addr ? addr
                       : vm ? _("Not given yet (the guest has not asked the NAT’s DHCP server)")
                            : _("Known while the virtual machine runs");
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->nat_row), text);
}

static gboolean on_nat_tick(gpointer data)
{
    update_nat_row(data);
    return G_SOURCE_CONTINUE;
}

void settings_network_refresh(Settings *s)
{
    for (guint i = 0; i < s->forward_rows->len; i++)
        adw_preferences_group_remove(s->forwards, g_ptr_array_index(s->forward_rows, i));
    g_ptr_array_set_size(s->forward_rows, 0);
    g_auto(GStrv) rules = forward_rules(s);
    for (guint i = 0; rules[i]; i++) {
        GtkWidget *row = adw_action_row_new();
        g_autofree char *title = rule_title(rules[i]);
        g_autofree char *name = g_strdup_printf("forward-row-%u", i);
        g_autofree char *bname = g_strdup_printf("forward-remove-%u", i);
        gtk_widget_set_name(row, name);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), rules[i]);
        GtkWidget *b = settings_add_button(row, "list-remove-symbolic", _("Remove this forward"), bname,
                                           G_CALLBACK(on_remove_forward), s);
        g_object_set_data_full(G_OBJECT(b), "vireo-rule", g_strdup(rules[i]), g_free);
        adw_preferences_group_add(s->forwards, row);
        g_ptr_array_add(s->forward_rows, row);
    }
    update_nat_row(s);
}

static GtkSpinButton *port_spin(const char *name, const char *tooltip, double value)
{
    GtkSpinButton *spin = GTK_SPIN_BUTTON(gtk_spin_button_new_with_range(1, 65535, 1));
    gtk_spin_button_set_value(spin, value);
    gtk_widget_set_name(GTK_WIDGET(spin), name);
    gtk_widget_set_tooltip_text(GTK_WIDGET(spin), tooltip);
    gtk_widget_set_valign(GTK_WIDGET(spin), GTK_ALIGN_CENTER);
    return spin;
}

void settings_network_build(Settings *s, AdwPreferencesPage *page)
{
    s->forwards = ADW_PREFERENCES_GROUP(adw_preferences_group_new());
    gtk_widget_set_name(GTK_WIDGET(s->forwards), "forward-group");
    adw_preferences_group_set_title(s->forwards, _("Port Forwarding"));
    adw_preferences_group_set_description(s->forwards,
        _("Connections to a port of this computer reach a port of the virtual machine through its network card’s NAT. A change applies at once to a running virtual machine."));
    s->forward_rows = g_ptr_array_new();

    s->nat_row = adw_action_row_new();
    gtk_widget_set_name(s->nat_row, "nat-address-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->nat_row), _("Guest address"));
    adw_preferences_group_add(s->forwards, s->nat_row);

    s->fwd_add_row = adw_action_row_new();
    gtk_widget_set_name(s->fwd_add_row, "forward-add-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->fwd_add_row), _("New forward"));
    const char *protos[] = { "TCP", "UDP", NULL };
    s->fwd_proto = GTK_DROP_DOWN(gtk_drop_down_new_from_strings(protos));
    gtk_widget_set_name(GTK_WIDGET(s->fwd_proto), "forward-protocol");
    gtk_widget_set_valign(GTK_WIDGET(s->fwd_proto), GTK_ALIGN_CENTER);
    s->fwd_addr = GTK_ENTRY(gtk_entry_new());
    gtk_widget_set_name(GTK_WIDGET(s->fwd_addr), "forward-host-address");
    gtk_entry_set_placeholder_text(s->fwd_addr, _("Any address"));
    gtk_widget_set_tooltip_text(GTK_WIDGET(s->fwd_addr), _("Address of this computer to listen on (empty: all)"));
    gtk_editable_set_width_chars(GTK_EDITABLE(s->fwd_addr), 11);
    gtk_widget_set_valign(GTK_WIDGET(s->fwd_addr), GTK_ALIGN_CENTER);
    s->fwd_host = port_spin("forward-host-port", _("Port of this computer"), 2222);
    s->fwd_guest = port_spin("forward-guest-port", _("Port of the virtual machine"), 22);
    GtkWidget *arrow = gtk_label_new("→");
    GtkWidget *parts[] = { GTK_WIDGET(s->fwd_proto), GTK_WIDGET(s->fwd_addr), GTK_WIDGET(s->fwd_host), arrow,
                           GTK_WIDGET(s->fwd_guest) };
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++)
        adw_action_row_add_suffix(ADW_ACTION_ROW(s->fwd_add_row), parts[i]);
    settings_add_button(s->fwd_add_row, "list-add-symbolic", _("Add this forward"), "forward-add",
                        G_CALLBACK(on_add_forward), s);
    adw_preferences_group_add(s->forwards, s->fwd_add_row);
    adw_preferences_page_add(page, s->forwards);
    s->nat_timer = g_timeout_add_seconds(1, on_nat_tick, s);
}

void settings_network_free(Settings *s)
{
    if (s->nat_timer)
        g_source_remove(s->nat_timer);
    if (s->forward_rows)
        g_ptr_array_unref(s->forward_rows);
}
