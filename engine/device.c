/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Device classes, instances and the VM's device list (see device.h). */
#include "engine/device.h"
#include "engine/backend.h"
#include "engine/stream.h"
#include "engine/vm-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEVICE_STREAM_MAGIC "VIREODEV"
#define DEVICE_STREAM_VERSION 1

struct DeviceList {
    GQueue devices; /* of Device, linked through Device.link */
};

static GHashTable *classes; /* name -> const DeviceClass * */

void device_class_register(const DeviceClass *dc)
{
    if (!classes)
        classes = g_hash_table_new(g_str_hash, g_str_equal);
    g_assert(!g_hash_table_contains(classes, dc->name));
    g_assert(dc->instance_size >= sizeof(Device));
    g_hash_table_insert(classes, (gpointer)dc->name, (gpointer)dc);
}

const DeviceClass *device_class_find(const char *name)
{
    return classes ? g_hash_table_lookup(classes, name) : NULL;
}

static gint class_cmp(gconstpointer a, gconstpointer b)
{
    const DeviceClass *ca = *(const DeviceClass *const *)a, *cb = *(const DeviceClass *const *)b;
    return strcmp(ca->name, cb->name);
}

GPtrArray *device_class_list(bool user_creatable_only)
{
    GPtrArray *a = g_ptr_array_new();
    if (classes) {
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, classes);
        while (g_hash_table_iter_next(&it, NULL, &v))
            if (!user_creatable_only || ((const DeviceClass *)v)->user_creatable)
                g_ptr_array_add(a, v);
    }
    g_ptr_array_sort(a, class_cmp);
    return a;
}

void device_class_print_list(FILE *out)
{
    g_autoptr(GPtrArray) a = device_class_list(true);
    fprintf(out, "Devices (-device NAME[,PROP=VALUE...]; -device NAME,help lists the properties):\n");
    for (guint i = 0; i < a->len; i++) {
        const DeviceClass *dc = a->pdata[i];
        fprintf(out, "name \"%s\", desc \"%s\"\n", dc->name, dc->description);
    }
}

/* QEMU's spellings of the property types in -device NAME,help. */
static const char *prop_type_name(DevicePropType t)
{
    switch (t) {
    case DEVICE_PROP_U32: return "uint32";
    case DEVICE_PROP_BOOL: return "bool";
    case DEVICE_PROP_STRING: return "str";
    case DEVICE_PROP_CHARDEV: return "str";
    case DEVICE_PROP_BACKEND: return "str";
    }
    return "?";
}

void device_class_print_props(const DeviceClass *dc, FILE *out)
{
    if (!dc->props || !dc->props[0].name) {
        fprintf(out, "There are no options for %s.\n", dc->name);
        return;
    }
    fprintf(out, "%s options:\n", dc->name);
    for (const DeviceProp *p = dc->props; p->name; p++) {
        g_autofree char *lhs = g_strdup_printf("%s=<%s>", p->name, prop_type_name(p->type));
        fprintf(out, "  %-24s - %s", lhs, p->description);
        if (p->default_value)
            fprintf(out, " (default: %s)", p->default_value);
        fprintf(out, "\n");
    }
}

static const DeviceProp *find_prop(const DeviceClass *dc, const char *name)
{
    for (const DeviceProp *p = dc->props; p && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return true;
    }
    return false;
}

static bool parse_u32(const DeviceProp *p, const char *v, uint32_t *out)
{
    char *end;
    errno = 0;
    if (!*v || *v == '-')
        return false;
    unsigned long long n = strtoull(v, &end, 0);
    if (errno || *end || n > UINT32_MAX)
        return false;
    if ((p->min || p->max) && (n < p->min || n > p->max))
        return false;
    *out = (uint32_t)n;
    return true;
}

/* Checks value against the property's type; one-line error naming both. */
static bool check_value(const DeviceClass *dc, const DeviceProp *p, const char *value, GError **err)
{
    bool ok = true;
    uint32_t u;
    bool b;
    switch (p->type) {
    case DEVICE_PROP_U32:
        ok = parse_u32(p, value, &u);
        if (!ok && (p->min || p->max)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "%s: property '%s' must be a number from 0x%x to 0x%x, not '%s'",
                        dc->name, p->name, p->min, p->max, value);
            return false;
        }
        break;
    case DEVICE_PROP_BOOL:
        ok = parse_bool(value, &b);
        break;
    case DEVICE_PROP_STRING:
    case DEVICE_PROP_CHARDEV:
    case DEVICE_PROP_BACKEND:
        ok = *value != 0;
        break;
    }
    if (!ok)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: property '%s' (%s) cannot be '%s'",
                    dc->name, p->name, prop_type_name(p->type), value);
    return ok;
}

bool device_list_swap_image(Vm *vm, const char *drive, BlockImage *img, BlockImage **old)
{
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass->swap_image && d->klass->swap_image(d, drive, img, old))
            return true;
    }
    return false;
}

static void device_free(Device *dev);

/* QEMU's key=value list: ",," is a comma inside a value. */
static GPtrArray *split_opts(const char *opts)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    if (!opts || !*opts)
        return parts;
    GString *cur = g_string_new(NULL);
    for (const char *c = opts; *c; c++) {
        if (*c == ',' && c[1] == ',') {
            g_string_append_c(cur, ',');
            c++;
        } else if (*c == ',') {
            g_ptr_array_add(parts, g_string_free(cur, FALSE));
            cur = g_string_new(NULL);
        } else {
            g_string_append_c(cur, *c);
        }
    }
    g_ptr_array_add(parts, g_string_free(cur, FALSE));
    return parts;
}

/* One "key[=value]" of a -device list: the property and its value as text. */
static const DeviceProp *parse_one_opt(const DeviceClass *dc, const char *kv, char **key_out,
                                       const char **value_out, GError **err)
{
    const char *eq = strchr(kv, '=');
    char *key = eq ? g_strndup(kv, (gsize)(eq - kv)) : g_strdup(kv);
    const DeviceProp *p = find_prop(dc, key);
    if (!p) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%s: no property '%s' (try -device %s,help)", dc->name, key, dc->name);
        g_free(key);
        return NULL;
    }
    /* QEMU lets a bare boolean key mean key=on. */
    const char *value = eq ? eq + 1 : (p->type == DEVICE_PROP_BOOL ? "on" : NULL);
    if (!value) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: property '%s' needs a value (%s=...)",
                    dc->name, key, key);
        g_free(key);
        return NULL;
    }
    if (!check_value(dc, p, value, err)) {
        g_free(key);
        return NULL;
    }
    *key_out = key;
    *value_out = value;
    return p;
}

GHashTable *device_class_parse_opts(const DeviceClass *dc, const char *opts, GError **err)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (const DeviceProp *p = dc->props; p && p->name; p++)
        if (p->default_value)
            g_hash_table_insert(h, g_strdup(p->name), g_strdup(p->default_value));
    g_autoptr(GPtrArray) parts = split_opts(opts);
    for (guint i = 0; i < parts->len; i++) {
        const char *kv = parts->pdata[i];
        if (g_str_has_prefix(kv, "id=")) {
            g_hash_table_insert(h, g_strdup("id"), g_strdup(kv + 3));
            continue;
        }
        char *key;
        const char *value;
        if (!parse_one_opt(dc, kv, &key, &value, err)) {
            g_hash_table_destroy(h);
            return NULL;
        }
        g_hash_table_insert(h, key, g_strdup(value));
    }
    return h;
}

/* The driver of a spec and where its options start. */
static const DeviceClass *spec_class(const char *spec, const char **opts, GError **err)
{
    size_t nlen = strcspn(spec, ",");
    g_autofree char *name = g_strndup(spec, nlen);
    const DeviceClass *dc = device_class_find(name);
    if (!dc || !dc->user_creatable) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown device '%s' (try -device help)", name);
        return NULL;
    }
    *opts = spec[nlen] ? spec + nlen + 1 : "";
    return dc;
}

bool device_id_valid(const char *id)
{
    bool ok = g_ascii_isalpha(id[0]);
    for (const char *c = id; ok && *c; c++)
        ok = g_ascii_isalnum(*c) || *c == '-' || *c == '.' || *c == '_';
    return ok;
}

static bool check_id(const char *id, GError **err)
{
    bool ok = device_id_valid(id);
    if (!ok)
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "id '%s': start with a letter, then letters, digits, '-', '.' or '_'", id);
    return ok;
}

bool device_spec_check(const char *spec, GError **err)
{
    const char *opts;
    const DeviceClass *dc = spec_class(spec, &opts, err);
    if (!dc)
        return false;
    g_autoptr(GHashTable) h = device_class_parse_opts(dc, opts, err);
    if (!h)
        return false;
    const char *id = g_hash_table_lookup(h, "id");
    return !id || check_id(id, err);
}

Device *device_create_from_spec(Vm *vm, const char *spec, GError **err)
{
    const char *opts;
    const DeviceClass *dc = spec_class(spec, &opts, err);
    if (!dc)
        return NULL;
    g_autoptr(GPtrArray) parts = split_opts(opts);
    const char *id = NULL;
    for (guint i = 0; i < parts->len; i++) {
        const char *kv = parts->pdata[i];
        if (g_str_has_prefix(kv, "id=")) {
            id = kv + 3;
            if (!check_id(id, err))
                return NULL;
        }
    }
    Device *dev = device_new(vm, dc->name, id, err);
    if (!dev)
        return NULL;
    for (guint i = 0; i < parts->len; i++) {
        const char *kv = parts->pdata[i];
        if (g_str_has_prefix(kv, "id="))
            continue;
        g_autofree char *key = NULL;
        const char *value;
        if (!parse_one_opt(dc, kv, &key, &value, err) || !device_set_prop(dev, key, value, err)) {
            device_free(dev);
            return NULL;
        }
    }
    return device_realize(dev, err) ? dev : NULL;
}

bool device_create_configured(Vm *vm, GError **err)
{
    for (guint i = 0; i < vm->cfg->devices->len; i++) {
        const char *spec = vm->cfg->devices->pdata[i];
        if (!device_create_from_spec(vm, spec, err)) {
            g_prefix_error(err, "-device %s: ", spec);
            return false;
        }
    }
    return true;
}

/* "DRIVER.PROP=VALUE": the class, the property and the value. */
static const DeviceProp *global_parse(const char *global, const DeviceClass **dc_out, const char **value,
                                      GError **err)
{
    const char *dot = strchr(global, '.');
    const char *eq = dot ? strchr(dot, '=') : NULL;
    if (!dot || !eq) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s': expected DRIVER.PROPERTY=VALUE", global);
        return NULL;
    }
    g_autofree char *driver = g_strndup(global, (gsize)(dot - global));
    g_autofree char *name = g_strndup(dot + 1, (gsize)(eq - dot - 1));
    const DeviceClass *dc = device_class_find(driver);
    if (!dc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown device '%s' (try -device help)", driver);
        return NULL;
    }
    const DeviceProp *p = find_prop(dc, name);
    if (!p) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: no property '%s' (try -device %s,help)",
                    dc->name, name, dc->name);
        return NULL;
    }
    if (!check_value(dc, p, eq + 1, err))
        return NULL;
    *dc_out = dc;
    *value = eq + 1;
    return p;
}

bool device_global_check(const char *global, GError **err)
{
    const DeviceClass *dc;
    const char *value;
    return global_parse(global, &dc, &value, err) != NULL;
}

/* -global values replace a class's defaults for every instance, the board's own too. */
static bool device_apply_globals(Device *dev, GError **err)
{
    GPtrArray *globals = dev->vm->cfg ? dev->vm->cfg->globals : NULL;
    for (guint i = 0; globals && i < globals->len; i++) {
        const DeviceClass *dc;
        const char *value;
        const DeviceProp *p = global_parse(globals->pdata[i], &dc, &value, err);
        if (!p) {
            g_prefix_error(err, "-global ");
            return false;
        }
        if (dc == dev->klass && !device_set_prop(dev, p->name, value, err))
            return false;
    }
    return true;
}

uint32_t device_opts_get_u32(const DeviceClass *dc, GHashTable *opts, const char *name)
{
    const DeviceProp *p = find_prop(dc, name);
    const char *v = g_hash_table_lookup(opts, name);
    uint32_t u = 0;
    g_return_val_if_fail(p && p->type == DEVICE_PROP_U32, 0);
    if (v)
        parse_u32(p, v, &u);
    return u;
}

/* The VM's character devices by the engine's names for them. */
static Chardev *chardev_by_id(Vm *vm, const char *id)
{
    if (!strcmp(id, "debugcon"))
        return vm->debugcon;
    unsigned n;
    char tail;
    if (sscanf(id, "serial%u%c", &n, &tail) == 1 && n < VM_MAX_SERIAL)
        return vm->serial[n];
    return NULL;
}

bool device_set_prop(Device *dev, const char *name, const char *value, GError **err)
{
    const DeviceClass *dc = dev->klass;
    const DeviceProp *p = find_prop(dc, name);
    if (!p) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: no property '%s'", dc->name, name);
        return false;
    }
    if (dev->realized) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "%s: property '%s' cannot change after realize", dc->name, name);
        return false;
    }
    if (!check_value(dc, p, value, err))
        return false;
    void *field = (uint8_t *)dev + p->offset;
    switch (p->type) {
    case DEVICE_PROP_U32:
        parse_u32(p, value, field);
        break;
    case DEVICE_PROP_BOOL:
        parse_bool(value, field);
        break;
    case DEVICE_PROP_STRING:
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        break;
    case DEVICE_PROP_CHARDEV: {
        Chardev *c = chardev_by_id(dev->vm, value);
        if (!c) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: no character device '%s'",
                        dc->name, value);
            return false;
        }
        *(Chardev **)field = c;
        break;
    }
    case DEVICE_PROP_BACKEND: {
        void *b = backend_find(dev->vm, p->backend, value);
        if (!b) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: no %s '%s' (add -%s ...,id=%s)",
                        dc->name, p->backend, value, p->backend, value);
            return false;
        }
        *(void **)field = b;
        break;
    }
    }
    return true;
}

char *device_prop_value(Device *dev, const DeviceProp *p)
{
    const void *field = (const uint8_t *)dev + p->offset;
    switch (p->type) {
    case DEVICE_PROP_U32: {
        uint32_t v = *(const uint32_t *)field;
        /* Ports and addresses read best in hex, as QEMU's info qtree shows them. */
        return v > 9 ? g_strdup_printf("0x%x", v) : g_strdup_printf("%u", v);
    }
    case DEVICE_PROP_BOOL:
        return g_strdup(*(const bool *)field ? "on" : "off");
    case DEVICE_PROP_STRING: {
        const char *v = *(char *const *)field;
        return g_strdup(v ? v : "");
    }
    case DEVICE_PROP_CHARDEV:
    case DEVICE_PROP_BACKEND:
        return g_strdup(*(void *const *)field ? "(set)" : "");
    }
    return g_strdup("?");
}

char *device_list_describe(Vm *vm)
{
    GString *s = g_string_new("bus: main-system-bus\n  type System\n");
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        g_string_append_printf(s, "  dev: %s, id \"%s\"\n", d->klass->name, d->id);
        for (const DeviceProp *p = d->klass->props; p && p->name; p++) {
            g_autofree char *v = device_prop_value(d, p);
            g_string_append_printf(s, "    %s = %s\n", p->name, v);
        }
    }
    return g_string_free(s, FALSE);
}

Device *device_find(Vm *vm, const char *id)
{
    for (GList *l = vm->devices->devices.head; l; l = l->next) {
        Device *d = l->data;
        if (!strcmp(d->id, id))
            return d;
    }
    return NULL;
}

GList *device_list_head(Vm *vm)
{
    return vm->devices->devices.head;
}

void device_list_for_each_image(Vm *vm, DeviceImageFn fn, void *opaque)
{
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass->for_each_image)
            d->klass->for_each_image(d, fn, opaque);
    }
}

static void device_free(Device *dev)
{
    for (const DeviceProp *p = dev->klass->props; p && p->name; p++)
        if (p->type == DEVICE_PROP_STRING)
            g_free(*(char **)((uint8_t *)dev + p->offset));
    g_free(dev->id);
    g_free(dev);
}

Device *device_new(Vm *vm, const char *class_name, const char *id, GError **err)
{
    const DeviceClass *dc = device_class_find(class_name);
    if (!dc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "unknown device '%s' (try -device help)",
                    class_name);
        return NULL;
    }
    if (id && device_find(vm, id)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a device with id '%s' exists already", id);
        return NULL;
    }
    Device *dev = g_malloc0(dc->instance_size);
    dev->klass = dc;
    dev->vm = vm;
    dev->link.data = dev;
    if (id) {
        dev->id = g_strdup(id);
    } else {
        unsigned n = 0;
        for (GList *l = vm->devices->devices.head; l; l = l->next)
            n += ((Device *)l->data)->klass == dc;
        dev->id = g_strdup_printf("%s.%u", dc->name, n);
    }
    for (const DeviceProp *p = dc->props; p && p->name; p++) {
        if (p->default_value && p->type != DEVICE_PROP_CHARDEV && p->type != DEVICE_PROP_BACKEND &&
            !device_set_prop(dev, p->name, p->default_value, err)) {
            device_free(dev);
            return NULL;
        }
    }
    if (!device_apply_globals(dev, err)) {
        device_free(dev);
        return NULL;
    }
    return dev;
}

bool device_realize(Device *dev, GError **err)
{
    g_return_val_if_fail(!dev->realized, false);
    if (dev->klass->realize && !dev->klass->realize(dev, err)) {
        g_prefix_error(err, "%s: ", dev->id);
        device_free(dev);
        return false;
    }
    dev->realized = true;
    g_queue_push_tail_link(&dev->vm->devices->devices, &dev->link);
    if (dev->klass->reset)
        dev->klass->reset(dev);
    return true;
}

bool device_unplug(Device *dev, GError **err)
{
    if (!dev->klass->unplug) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "device '%s' (%s) cannot be unplugged at run time",
                    dev->id, dev->klass->name);
        return false;
    }
    dev->klass->unplug(dev);
    g_queue_unlink(&dev->vm->devices->devices, &dev->link);
    if (dev->klass->unrealize)
        dev->klass->unrealize(dev);
    device_free(dev);
    return true;
}

DeviceList *device_list_new(void)
{
    DeviceList *l = g_new0(DeviceList, 1);
    g_queue_init(&l->devices);
    return l;
}

void device_list_reset(DeviceList *l)
{
    for (GList *it = l->devices.head; it; it = it->next) {
        Device *d = it->data;
        if (d->klass->reset)
            d->klass->reset(d);
    }
}

void device_list_free(DeviceList *l)
{
    if (!l)
        return;
    GList *it;
    while ((it = l->devices.tail)) {
        Device *d = it->data;
        g_queue_unlink(&l->devices, it);
        if (d->klass->unrealize)
            d->klass->unrealize(d);
        device_free(d);
    }
    g_free(l);
}

/* ---- state ---- */

void device_drain(Device *dev)
{
    if (dev->klass->drain)
        dev->klass->drain(dev);
}

void device_list_drain(Vm *vm)
{
    /* The list cannot change while the hooks drop the lock: devices are added at
     * machine creation only, and the caller has paused the vCPUs. */
    for (GList *l = device_list_head(vm); l; l = l->next)
        device_drain(l->data);
}

void device_save_state(Device *dev, GByteArray *out)
{
    g_return_if_fail(dev->klass->vmsd);
    device_drain(dev);
    vmstate_save(out, dev->klass->name, dev->id, dev->klass->vmsd, dev);
}

bool device_load_state(Device *dev, const uint8_t *buf, size_t len, GError **err)
{
    if (!dev->klass->vmsd) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "%s: the device has no state to load",
                    dev->id);
        return false;
    }
    /* No completion of a request from before may land on the loaded state. */
    device_drain(dev);
    return vmstate_load(dev->klass->vmsd, dev->klass->name, dev->id, dev, dev->klass->instance_size,
                        buf, len, err);
}



void device_list_save(Vm *vm, GByteArray *out)
{
    device_list_drain(vm);
    g_byte_array_append(out, (const guint8 *)DEVICE_STREAM_MAGIC, 8);
    stream_put_le(out, DEVICE_STREAM_VERSION, 4);
    uint32_t n = 0;
    for (GList *l = device_list_head(vm); l; l = l->next)
        n += ((Device *)l->data)->klass->vmsd != NULL;
    stream_put_le(out, n, 4);
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass->vmsd)
            device_save_state(d, out);
    }
}

bool device_list_load(Vm *vm, const uint8_t *buf, size_t len, GError **err)
{
    if (len < 16 || memcmp(buf, DEVICE_STREAM_MAGIC, 8)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: not a Vireo device state stream");
        return false;
    }
    uint32_t version = stream_get_le32(buf + 8), count = stream_get_le32(buf + 12);
    if (version != DEVICE_STREAM_VERSION) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED,
                    "device state: stream version %u is not supported (this build reads %u)", version,
                    DEVICE_STREAM_VERSION);
        return false;
    }
    device_list_drain(vm);
    GPtrArray *staged = g_ptr_array_new_with_free_func((GDestroyNotify)vmstate_load_abort);
    GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    size_t pos = 16;
    bool ok = false;
    for (uint32_t i = 0; i < count; i++) {
        VmStateSectionInfo info;
        if (!vmstate_section_peek(buf + pos, len - pos, &info, err))
            goto out;
        g_autofree char *cls = g_strndup(info.class_name, info.class_len);
        g_autofree char *id = g_strndup(info.id, info.id_len);
        Device *d = strlen(id) == info.id_len ? device_find(vm, id) : NULL;
        if (!device_class_find(cls)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: unknown device class '%s'", cls);
            goto out;
        }
        if (!d || strcmp(d->klass->name, cls) || !d->klass->vmsd) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "device state: this VM has no %s device '%s'", cls, id);
            goto out;
        }
        if (g_hash_table_contains(seen, d)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: %s '%s' appears twice", cls, id);
            goto out;
        }
        g_hash_table_add(seen, d);
        size_t used;
        VmStateStaged *st = vmstate_load_prepare(d->klass->vmsd, cls, id, d, d->klass->instance_size,
                                                 buf + pos, len - pos, &used, err);
        if (!st)
            goto out;
        g_ptr_array_add(staged, st);
        pos += used;
    }
    if (pos != len) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: %zu bytes of trailing data",
                    len - pos);
        goto out;
    }
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        if (d->klass->vmsd && !g_hash_table_contains(seen, d)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "device state: no state for %s '%s'",
                        d->klass->name, d->id);
            goto out;
        }
    }
    /* Everything checked: commit all, then let each device re-derive its wiring. */
    for (guint i = 0; i < staged->len; i++)
        vmstate_load_commit(staged->pdata[i]);
    for (guint i = 0; i < staged->len; i++)
        vmstate_load_finish(staged->pdata[i]);
    g_ptr_array_set_free_func(staged, NULL);
    ok = true;
out:
    g_ptr_array_free(staged, TRUE);
    g_hash_table_destroy(seen);
    return ok;
}
