/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Back-end classes and a VM's opened back ends (see backend.h). */
#include "engine/backend.h"
#include "engine/vm-internal.h"

#include <string.h>

typedef struct OpenBackend {
    const BackendClass *klass;
    char *id;
    void *backend;
} OpenBackend;

static GHashTable *classes; /* kind -> const BackendClass * */

void backend_class_register(const BackendClass *bc)
{
    if (!classes)
        classes = g_hash_table_new(g_str_hash, g_str_equal);
    g_assert(!g_hash_table_contains(classes, bc->kind));
    g_hash_table_insert(classes, (gpointer)bc->kind, (gpointer)bc);
}

const BackendClass *backend_class_find(const char *kind)
{
    return classes ? g_hash_table_lookup(classes, kind) : NULL;
}

GPtrArray *backend_opts_split(const char *opts)
{
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    GString *cur = g_string_new(NULL);
    for (const char *c = opts ? opts : ""; *c; c++) {
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

char *backend_opts_id(const char *opts, GError **err)
{
    /* "id=" at the start or after a comma that is not an escaped ",,". */
    for (const char *p = opts; p && *p;) {
        if (g_str_has_prefix(p, "id=")) {
            size_t n = strcspn(p + 3, ",");
            if (n)
                return g_strndup(p + 3, n);
            break;
        }
        const char *c = p;
        while ((c = strchr(c, ',')) && c[1] == ',')
            c += 2;
        p = c ? c + 1 : NULL;
    }
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "needs an id=ID");
    return NULL;
}

bool backend_spec_check(const char *kind, const char *opts, GError **err)
{
    const BackendClass *bc = backend_class_find(kind);
    if (!bc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "no %s back ends in this build", kind);
        return false;
    }
    g_autofree char *id = backend_opts_id(opts, err);
    return id && (!bc->check || bc->check(opts, err));
}

static void open_backend_free(gpointer p)
{
    OpenBackend *o = p;
    if (o->backend && o->klass->close)
        o->klass->close(o->backend);
    g_free(o->id);
    g_free(o);
}

bool backend_open(Vm *vm, const char *kind, const char *opts, GError **err)
{
    const BackendClass *bc = backend_class_find(kind);
    g_autofree char *id = NULL;
    if (!bc) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED, "-%s: no such back ends in this build", kind);
        return false;
    }
    if (!(id = backend_opts_id(opts, err)))
        goto fail;
    if (backend_find(vm, bc->kind, id)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "a %s with id '%s' exists already", bc->kind, id);
        goto fail;
    }
    void *b = bc->open(vm, id, opts, err);
    if (!b)
        goto fail;
    OpenBackend *o = g_new0(OpenBackend, 1);
    o->klass = bc;
    o->id = g_steal_pointer(&id);
    o->backend = b;
    if (!vm->backends)
        vm->backends = g_ptr_array_new_with_free_func(open_backend_free);
    g_ptr_array_add(vm->backends, o);
    return true;
fail:
    g_prefix_error(err, "-%s %s: ", kind, opts);
    return false;
}

bool backend_open_configured(Vm *vm, GError **err)
{
    for (guint i = 0; i < vm->cfg->backends->len; i++) {
        const BackendConfig *bcfg = vm->cfg->backends->pdata[i];
        if (!backend_open(vm, bcfg->kind, bcfg->opts, err))
            return false;
    }
    return true;
}

void backend_stop_all(Vm *vm)
{
    for (guint i = 0; vm->backends && i < vm->backends->len; i++) {
        OpenBackend *o = vm->backends->pdata[i];
        if (o->klass->stop)
            o->klass->stop(o->backend);
    }
}

void backend_close_all(Vm *vm)
{
    if (!vm->backends)
        return;
    /* Last opened, first closed. */
    while (vm->backends->len)
        g_ptr_array_remove_index(vm->backends, vm->backends->len - 1);
    g_ptr_array_free(vm->backends, TRUE);
    vm->backends = NULL;
}

void *backend_find(Vm *vm, const char *kind, const char *id)
{
    for (guint i = 0; vm->backends && i < vm->backends->len; i++) {
        OpenBackend *o = vm->backends->pdata[i];
        if (!strcmp(o->klass->kind, kind) && !strcmp(o->id, id))
            return o->backend;
    }
    return NULL;
}

GPtrArray *backend_list(Vm *vm, const char *kind)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; vm->backends && i < vm->backends->len; i++) {
        OpenBackend *o = vm->backends->pdata[i];
        if (!strcmp(o->klass->kind, kind))
            g_ptr_array_add(out, o->backend);
    }
    return out;
}
