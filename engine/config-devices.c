/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shorthands that expand into a host back end and a device of the VM configuration:
 * QEMU's -nic, and vm.conf's network= and sound= (engine/config.h). */
#include "engine/config.h"
#include "engine/backend.h"
#include "engine/device.h"

#include <string.h>

const char *const vm_config_nic_models[] = { "e1000", "rtl8139", "ne2k_pci", "ne2k_isa", "virtio-net-pci", NULL };
const char *const vm_config_nic_models_text =
    "e1000 (Intel 82540EM), rtl8139 (Realtek RTL8139C), ne2k_pci (Realtek RTL8029), ne2k_isa (NE2000 at 0x300, "
    "IRQ 9), virtio-net-pci (virtio)";

/* vm.conf's names and the devices they create: the card that plays through the back
 * end, after its controller where the card is a codec on a link (HD Audio). */
static const struct {
    const char *name, *device, *controller;
} sound_models[] = { { "ac97", "AC97", NULL }, { "sb16", "sb16", NULL }, { "hda", "hda-duplex", "intel-hda" } };
const char *const vm_config_sound_models[] = { "ac97", "hda", "sb16", NULL };

/* Counts the shorthand back ends already added, for their ids. */
static unsigned count_prefixed(const VmConfig *cfg, const char *kind, const char *id_prefix)
{
    unsigned n = 0;
    g_autofree char *needle = g_strdup_printf("id=%s", id_prefix);
    for (guint i = 0; i < cfg->backends->len; i++) {
        const BackendConfig *b = cfg->backends->pdata[i];
        if (!strcmp(b->kind, kind) && strstr(b->opts, needle))
            n++;
    }
    return n;
}

bool vm_config_add_nic(VmConfig *cfg, const char *spec, GError **err)
{
    if (!strcmp(spec, "none"))
        return true;
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    g_autoptr(GString) netdev = g_string_new(NULL);
    g_autofree char *model = g_strdup("e1000"), *mac = NULL;
    for (char **p = parts; *p; p++) {
        if (g_str_has_prefix(*p, "model=")) {
            g_free(model);
            model = g_strdup(*p + 6);
        } else if (g_str_has_prefix(*p, "mac=")) {
            g_free(mac);
            mac = g_strdup(*p + 4);
        } else if (g_str_has_prefix(*p, "id=")) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "takes no id= (use -netdev and -device to name them)");
            return false;
        } else {
            g_string_append_printf(netdev, "%s%s", netdev->len ? "," : "", *p);
        }
    }
    /* QEMU's short name. */
    if (!strcmp(model, "virtio")) {
        g_free(model);
        model = g_strdup("virtio-net-pci");
    }
    const DeviceClass *dc = device_class_find(model);
    if (!dc || !dc->user_creatable || !g_strv_contains(vm_config_nic_models, model)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown network card '%s' (%s)", model,
                    vm_config_nic_models_text);
        return false;
    }
    unsigned n = count_prefixed(cfg, "netdev", "__nic");
    g_string_append_printf(netdev, ",id=__nic%u", n);
    if (!backend_spec_check("netdev", netdev->str, err))
        return false;
    g_autofree char *dev = g_strdup_printf("%s,netdev=__nic%u%s%s", model, n, mac ? ",mac=" : "", mac ? mac : "");
    if (!device_spec_check(dev, err))
        return false;
    vm_config_add_backend(cfg, "netdev", netdev->str);
    g_ptr_array_add(cfg->devices, g_steal_pointer(&dev));
    return true;
}

/* The host's sound: PulseAudio when the build has it (a missing server is one warning
 * and silence), else SDL's audio, else none. */
static const char *sound_backend(void)
{
    static const char *const order[] = { "pa", "sdl" };
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autofree char *spec = g_strdup_printf("%s,id=__probe", order[i]);
        if (backend_spec_check("audiodev", spec, NULL))
            return order[i];
    }
    return "none";
}

const char *const vm_config_audio_backends[] = { "auto", "pa", "sdl", "none", NULL };

bool vm_config_add_sound(VmConfig *cfg, const char *model, GError **err)
{
    return vm_config_add_sound_on(cfg, model, "auto", false, err);
}

/* The -audiodev text for vm.conf's audio-backend= and microphone= (checked by the
 * caller): the microphone is PulseAudio's default source or SDL's default capture
 * device; "none" has none. */
static char *sound_backend_spec(const char *backend, bool microphone, unsigned n, GError **err)
{
    const char *kind = !strcmp(backend, "auto") ? sound_backend() : backend;
    if (strcmp(kind, "none")) {
        g_autofree char *probe = g_strdup_printf("%s,id=__probe", kind);
        if (!backend_spec_check("audiodev", probe, NULL)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "this build of Vireo has no %s sound",
                        !strcmp(kind, "pa") ? "PulseAudio (pa)" : "SDL (sdl)");
            return NULL;
        }
    }
    const char *mic = !microphone ? "" : !strcmp(kind, "pa") ? ",in.source=@DEFAULT_SOURCE@"
                                       : !strcmp(kind, "sdl") ? ",in.source=default" : "";
    return g_strdup_printf("%s,id=__snd%u%s", kind, n, mic);
}

bool vm_config_add_sound_on(VmConfig *cfg, const char *model, const char *backend, bool microphone, GError **err)
{
    if (!g_strv_contains(vm_config_audio_backends, backend)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown sound back end '%s' (auto, pa, sdl or none)",
                    backend);
        return false;
    }
    if (!strcmp(model, "none"))
        return true;
    const char *device = NULL, *controller = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(sound_models); i++) {
        if (!g_ascii_strcasecmp(model, sound_models[i].name)) {
            device = sound_models[i].device;
            controller = sound_models[i].controller;
        }
    }
    if (!device) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown sound card '%s' (ac97, hda, sb16 or none)",
                    model);
        return false;
    }
    unsigned n = count_prefixed(cfg, "audiodev", "__snd");
    g_autofree char *spec = sound_backend_spec(backend, microphone, n, err);
    if (!spec || !backend_spec_check("audiodev", spec, err))
        return false;
    g_autofree char *dev = g_strdup_printf("%s,audiodev=__snd%u", device, n);
    if (!device_spec_check(dev, err))
        return false;
    vm_config_add_backend(cfg, "audiodev", spec);
    if (controller)
        g_ptr_array_add(cfg->devices, g_strdup(controller));
    g_ptr_array_add(cfg->devices, g_steal_pointer(&dev));
    /* The board's speaker plays through the same stream (DOS games beep). */
    if (n == 0)
        g_ptr_array_add(cfg->globals, g_strdup("isa-pcspk.audiodev=__snd0"));
    return true;
}
