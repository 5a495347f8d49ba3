/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM window's volume button (see vireo-volume.h). The machine owns the level; this
 * widget shows it and hands the user's changes back. */
#include "ui/gtk/vireo-volume.h"

#include <glib/gi18n.h>

typedef struct VolumeButton {
    VireoMachine *machine;      /* not a reference: the window holds the machine */
    GtkWidget *button;
    GtkToggleButton *mute;
    GtkRange *scale;
    GtkLabel *percent;
    bool updating;              /* showing the machine's values: not a user change */
} VolumeButton;

const char *vireo_volume_icon_name(unsigned percent, bool muted)
{
    if (muted || percent == 0)
        return "audio-volume-muted-symbolic";
    if (percent < 34)
        return "audio-volume-low-symbolic";
    if (percent < 67)
        return "audio-volume-medium-symbolic";
    return "audio-volume-high-symbolic";
}

static void volume_update(VolumeButton *vb)
{
    unsigned percent;
    bool muted;
    vireo_machine_get_volume(vb->machine, &percent, &muted);
    bool sound = vireo_machine_has_sound(vb->machine);
    vb->updating = true;
    gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(vb->button),
                                  sound ? vireo_volume_icon_name(percent, muted) : "audio-volume-muted-symbolic");
    gtk_range_set_value(vb->scale, percent);
    gtk_toggle_button_set_active(vb->mute, muted);
    gtk_widget_set_sensitive(GTK_WIDGET(vb->scale), !muted);
    g_autofree char *text = g_strdup_printf(_("%u%%"), percent);
    gtk_label_set_text(vb->percent, text);
    vb->updating = false;
    g_autofree char *tip = NULL;
    if (!sound)
        tip = g_strdup(_("No sound card: choose one in the settings"));
    else if (muted)
        tip = g_strdup(_("Sound muted"));
    else if (vireo_machine_get_playing(vb->machine))
        tip = g_strdup_printf(_("Playing sound — volume %u%%"), percent);
    else
        tip = g_strdup_printf(_("Volume %u%%"), percent);
    gtk_widget_set_tooltip_text(vb->button, tip);
    gtk_widget_set_sensitive(vb->button, sound);
}

/* Connected with the button as the object, so it ends with the button. */
static void on_machine_notify(GObject *obj, GParamSpec *ps, gpointer button)
{
    volume_update(g_object_get_data(button, "vireo-volume"));
}

static void on_scale_changed(GtkRange *r, VolumeButton *vb)
{
    if (vb->updating)
        return;
    unsigned percent;
    bool muted;
    vireo_machine_get_volume(vb->machine, &percent, &muted);
    vireo_machine_set_volume(vb->machine, (unsigned)(gtk_range_get_value(r) + 0.5), muted);
}

static void on_mute_toggled(GtkToggleButton *t, VolumeButton *vb)
{
    if (vb->updating)
        return;
    unsigned percent;
    bool muted;
    vireo_machine_get_volume(vb->machine, &percent, &muted);
    vireo_machine_set_volume(vb->machine, percent, gtk_toggle_button_get_active(t));
}

GtkWidget *vireo_volume_button_new(VireoMachine *m)
{
    VolumeButton *vb = g_new0(VolumeButton, 1);
    vb->machine = m;
    vb->button = gtk_menu_button_new();
    gtk_widget_set_name(vb->button, "volume-button");
    g_object_set_data_full(G_OBJECT(vb->button), "vireo-volume", vb, g_free);

    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *mute = gtk_toggle_button_new();
    gtk_button_set_icon_name(GTK_BUTTON(mute), "audio-volume-muted-symbolic");
    gtk_widget_set_tooltip_text(mute, _("Mute"));
    gtk_widget_set_name(mute, "mute-button");
    gtk_accessible_update_property(GTK_ACCESSIBLE(mute), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Mute"), -1);
    vb->mute = GTK_TOGGLE_BUTTON(mute);
    GtkWidget *scale = gtk_scale_new_with_range(GTK_ORIENTATION_HORIZONTAL, 0, 100, 1);
    gtk_scale_set_draw_value(GTK_SCALE(scale), FALSE);
    gtk_widget_set_size_request(scale, 180, -1);
    gtk_widget_set_name(scale, "volume-scale");
    gtk_accessible_update_property(GTK_ACCESSIBLE(scale), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Volume"), -1);
    vb->scale = GTK_RANGE(scale);
    GtkWidget *percent = gtk_label_new(NULL);
    gtk_label_set_width_chars(GTK_LABEL(percent), 5);
    gtk_label_set_xalign(GTK_LABEL(percent), 1);
    gtk_widget_add_css_class(percent, "numeric");
    vb->percent = GTK_LABEL(percent);
    gtk_box_append(GTK_BOX(box), mute);
    gtk_box_append(GTK_BOX(box), scale);
    gtk_box_append(GTK_BOX(box), percent);
    GtkWidget *popover = gtk_popover_new();
    gtk_popover_set_child(GTK_POPOVER(popover), box);
    gtk_menu_button_set_popover(GTK_MENU_BUTTON(vb->button), popover);

    g_signal_connect(scale, "value-changed", G_CALLBACK(on_scale_changed), vb);
    g_signal_connect(mute, "toggled", G_CALLBACK(on_mute_toggled), vb);
    g_signal_connect_object(m, "notify", G_CALLBACK(on_machine_notify), vb->button, 0);
    volume_update(vb);
    return vb->button;
}
