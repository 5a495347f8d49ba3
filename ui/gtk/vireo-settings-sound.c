/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The settings' host sound rows: which of the computer's sound systems a VM plays
 * through ([vm] audio-backend=) and whether its sound card records the computer's
 * microphone ([vm] microphone=); engine/config-devices.c turns them into the audiodev. */
#include "vireo-config.h"
#include "ui/gtk/vireo-settings-internal.h"
#include "engine/vmconf.h"

#include <glib/gi18n.h>
#include <string.h>

/* vm_config_audio_backends, in the row's order. */
static const struct {
    const char *value;
    const char *label;
} backends[] = {
    { "auto", N_("Automatic") },
    { "pa", N_("PulseAudio") },
    { "sdl", N_("SDL") },
    { "none", N_("None") },
};

static const char *backend_subtitle(void)
{
    return _("Automatic plays through PulseAudio, else SDL");
}

static const char *mic_subtitle(void)
{
    return _("The sound card’s input hears the computer’s default microphone while the guest records");
}

static void on_backend_changed(AdwComboRow *row, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    guint i = adw_combo_row_get_selected(row);
    if (i >= G_N_ELEMENTS(backends))
        return;   /* a vm.conf value that is not in the list: unchanged */
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_string(conf, VMCONF_GROUP_VM, "audio-backend", backends[i].value);
    settings_commit(s, conf, GTK_WIDGET(row), backend_subtitle());
}

static void on_microphone_changed(GtkSwitch *sw, GParamSpec *ps, Settings *s)
{
    if (s->loading)
        return;
    g_autoptr(GKeyFile) conf = settings_conf_copy(s);
    g_key_file_set_boolean(conf, VMCONF_GROUP_VM, "microphone", gtk_switch_get_active(sw));
    settings_commit(s, conf, s->mic_row, mic_subtitle());
}

void settings_sound_build(Settings *s, AdwPreferencesGroup *group)
{
    s->audio_backend = ADW_COMBO_ROW(adw_combo_row_new());
    gtk_widget_set_name(GTK_WIDGET(s->audio_backend), "audio-backend-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->audio_backend), _("Sound output"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->audio_backend), backend_subtitle());
    GtkStringList *list = gtk_string_list_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(backends); i++)
        gtk_string_list_append(list, _(backends[i].label));
    adw_combo_row_set_model(s->audio_backend, G_LIST_MODEL(list));
    g_object_unref(list);
    g_signal_connect(s->audio_backend, "notify::selected", G_CALLBACK(on_backend_changed), s);

    s->mic_row = adw_action_row_new();
    gtk_widget_set_name(s->mic_row, "microphone-row");
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(s->mic_row), _("Record from the microphone"));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(s->mic_row), mic_subtitle());
    s->microphone = GTK_SWITCH(gtk_switch_new());
    gtk_widget_set_name(GTK_WIDGET(s->microphone), "microphone-switch");
    gtk_widget_set_valign(GTK_WIDGET(s->microphone), GTK_ALIGN_CENTER);
    adw_action_row_add_suffix(ADW_ACTION_ROW(s->mic_row), GTK_WIDGET(s->microphone));
    adw_action_row_set_activatable_widget(ADW_ACTION_ROW(s->mic_row), GTK_WIDGET(s->microphone));
    g_signal_connect(s->microphone, "notify::active", G_CALLBACK(on_microphone_changed), s);

    adw_preferences_group_add(group, GTK_WIDGET(s->audio_backend));
    adw_preferences_group_add(group, s->mic_row);
}

/* From vm.conf (s->loading is set): absent is Automatic and off; a value the list does
 * not have is shown after it, as it is (vm.conf's check explains it). */
void settings_sound_load(Settings *s, GKeyFile *kf)
{
    g_autofree char *v = kf ? g_key_file_get_string(kf, VMCONF_GROUP_VM, "audio-backend", NULL) : NULL;
    if (v)
        g_strstrip(v);
    guint n = G_N_ELEMENTS(backends), sel = n;
    for (guint i = 0; i < n; i++)
        if (!strcmp(backends[i].value, v && *v ? v : "auto"))
            sel = i;
    GtkStringList *list = GTK_STRING_LIST(adw_combo_row_get_model(s->audio_backend));
    if (sel == n && g_list_model_get_n_items(G_LIST_MODEL(list)) == n)
        gtk_string_list_append(list, v);
    adw_combo_row_set_selected(s->audio_backend, sel);
    gboolean mic = kf ? g_key_file_get_boolean(kf, VMCONF_GROUP_VM, "microphone", NULL) : FALSE;
    gtk_switch_set_active(s->microphone, mic);
}
