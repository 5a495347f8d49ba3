/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QMP's x-snapshot-tree-* commands: the snapshot tree of a library VM (see qmp-internal.h). */
#include "engine/qmp-internal.h"
#include "engine/snaptree.h"
#include "engine/vm.h"

#include <string.h>

static bool tree_error(GError **err, GError *local)
{
    g_set_error_literal(err, QMP_ERROR, QMP_ERROR_GENERIC, local->message);
    g_error_free(local);
    return false;
}

/* "id": an id, a unique id prefix or a unique name. */
static char *tree_id(QmpClient *c, JsonObject *args, GError **err)
{
    const char *key;
    const char *dir = vm_config(c->srv->vm)->vm_dir;
    if (!qmp_arg_string(args, "id", true, &key, err))
        return NULL;
    if (!dir) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "the snapshot tree is for VMs of the library (vireo-run --vm NAME)");
        return NULL;
    }
    GError *local = NULL;
    char *id = snaptree_resolve(dir, key, &local);
    if (!id)
        tree_error(err, local);
    return id;
}

JsonNode *qmp_cmd_tree_list(QmpClient *c, JsonObject *args, GError **err)
{
    (void)args;
    const char *dir = vm_config(c->srv->vm)->vm_dir;
    if (!dir) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "the snapshot tree is for VMs of the library (vireo-run --vm NAME)");
        return NULL;
    }
    GError *local = NULL;
    g_autoptr(GPtrArray) list = snaptree_list(dir, &local);
    if (!list) {
        tree_error(err, local);
        return NULL;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < list->len; i++) {
        SnapTreeNode *n = list->pdata[i];
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "id");
        json_builder_add_string_value(b, n->id);
        json_builder_set_member_name(b, "parent");
        if (n->parent_id)
            json_builder_add_string_value(b, n->parent_id);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, n->name);
        json_builder_set_member_name(b, "description");
        json_builder_add_string_value(b, n->description);
        json_builder_set_member_name(b, "date-sec");
        json_builder_add_int_value(b, n->created);
        json_builder_set_member_name(b, "vm-state");
        json_builder_add_boolean_value(b, n->has_state);
        json_builder_set_member_name(b, "vm-state-size");
        json_builder_add_int_value(b, (gint64)n->state_size);
        json_builder_set_member_name(b, "thumbnail");
        if (n->thumbnail)
            json_builder_add_string_value(b, n->thumbnail);
        else
            json_builder_add_null_value(b);
        json_builder_set_member_name(b, "current");
        json_builder_add_boolean_value(b, n->current);
        json_builder_set_member_name(b, "depth");
        json_builder_add_int_value(b, n->depth);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return json_builder_get_root(b);
}

JsonNode *qmp_cmd_tree_take(QmpClient *c, JsonObject *args, GError **err)
{
    const char *name, *desc;
    if (!qmp_arg_string(args, "name", true, &name, err) || !qmp_arg_string(args, "description", false, &desc, err))
        return NULL;
    GError *local = NULL;
    g_autofree char *id = vm_snaptree_take(c->srv->vm, name, desc, &local);
    if (!id) {
        tree_error(err, local);
        return NULL;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, id);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

JsonNode *qmp_cmd_tree_revert(QmpClient *c, JsonObject *args, GError **err)
{
    g_autofree char *id = tree_id(c, args, err);
    GError *local = NULL;
    if (id && !vm_snaptree_revert(c->srv->vm, id, &local))
        tree_error(err, local);
    return NULL;
}

JsonNode *qmp_cmd_tree_delete(QmpClient *c, JsonObject *args, GError **err)
{
    g_autofree char *id = tree_id(c, args, err);
    GError *local = NULL;
    if (id && !vm_snaptree_delete(c->srv->vm, id, NULL, NULL, &local))
        tree_error(err, local);
    return NULL;
}

JsonNode *qmp_cmd_tree_set(QmpClient *c, JsonObject *args, GError **err)
{
    const char *name, *desc;
    g_autofree char *id = tree_id(c, args, err);
    if (!id || !qmp_arg_string(args, "name", false, &name, err) || !qmp_arg_string(args, "description", false, &desc, err))
        return NULL;
    GError *local = NULL;
    if (!snaptree_set_info(vm_config(c->srv->vm)->vm_dir, id, name, desc, &local))
        tree_error(err, local);
    return NULL;
}
