/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QMP server: a Unix socket service on the main context. Each client gets the greeting,
 * must negotiate with qmp_capabilities, then sends JSON objects {"execute": NAME,
 * "arguments": {...}, "id": ANY} and gets {"return": ...} or {"error": {"class", "desc"}}
 * back, plus asynchronous events. Input is split into objects by a small scanner that
 * keeps at most QMP_MAX_REQUEST bytes of one request, so no input makes memory grow
 * without bound; a client that stops reading is dropped once its backlog is too big. */
#include "engine/qmp-internal.h"
#include "engine/monitor.h"
#include "engine/snapshots.h"
#include "engine/device.h"
#include "engine/machine.h"
#include "engine/display.h"
#include "engine/input.h"
#include "engine/vm.h"
#include "engine/log.h"
#include "engine/net/net.h"
#include "engine/sockreader.h"
#include "engine/sockwriter.h"
#include "engine/vdagent.h"
#include "vireo-config.h"

#include <errno.h>
#include <limits.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QMP_MAX_REQUEST (1u << 20)
#define QMP_MAX_BACKLOG (8u << 20)

G_DEFINE_QUARK(vireo-qmp-error-quark, qmp_error)

static void client_close(QmpClient *c);

/* ---- output ---- */

static void client_flush(QmpClient *c)
{
    g_autoptr(GError) err = NULL;
    if (!sock_writer_flush(c->out, &err)) {
        VLOG(LOG_GUEST, "qmp: dropping a client: %s", err->message);
        c->closing = true;
    }
    if (c->closing && !sock_writer_pending(c->out))
        client_close(c);
}

static void client_on_ready(void *opaque)
{
    client_flush(opaque);
}

static void client_send_node(QmpClient *c, JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, node);
    gsize len;
    g_autofree char *text = json_generator_to_data(gen, &len);
    if (!sock_writer_append(c->out, text, len) || !sock_writer_append(c->out, "\r\n", 2)) {
        /* The client does not read what it asked for. */
        VLOG(LOG_GUEST, "qmp: dropping a client that does not read its replies");
        c->closing = true;
    }
}

static void send_return(QmpClient *c, JsonNode *result, JsonNode *id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "return");
    if (result)
        json_builder_add_value(b, result);
    else {
        json_builder_begin_object(b);
        json_builder_end_object(b);
    }
    if (id) {
        json_builder_set_member_name(b, "id");
        json_builder_add_value(b, json_node_copy(id));
    }
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    client_send_node(c, root);
}

static void send_error(QmpClient *c, const char *klass, const char *desc, JsonNode *id)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "class");
    json_builder_add_string_value(b, klass);
    json_builder_set_member_name(b, "desc");
    json_builder_add_string_value(b, desc);
    json_builder_end_object(b);
    if (id) {
        json_builder_set_member_name(b, "id");
        json_builder_add_value(b, json_node_copy(id));
    }
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    client_send_node(c, root);
}

static void broadcast_event(QmpServer *s, const char *name, JsonNode *data)
{
    gint64 now = g_get_real_time();
    for (GList *l = s->clients; l; l = l->next) {
        QmpClient *c = l->data;
        if (!c->negotiated || c->closing)
            continue;
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "event");
        json_builder_add_string_value(b, name);
        if (data) {
            json_builder_set_member_name(b, "data");
            json_builder_add_value(b, json_node_copy(data));
        }
        json_builder_set_member_name(b, "timestamp");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "seconds");
        json_builder_add_int_value(b, now / G_USEC_PER_SEC);
        json_builder_set_member_name(b, "microseconds");
        json_builder_add_int_value(b, now % G_USEC_PER_SEC);
        json_builder_end_object(b);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        client_send_node(c, root);
    }
    /* Flushing may close clients: walk a copy. */
    GList *copy = g_list_copy(s->clients);
    for (GList *l = copy; l; l = l->next)
        client_flush(l->data);
    g_list_free(copy);
}

/* ---- argument helpers ---- */

bool qmp_arg_string(JsonObject *args, const char *name, bool required, const char **out, GError **err)
{
    JsonNode *n = args ? json_object_get_member(args, name) : NULL;
    if (!n) {
        if (required)
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' is missing", name);
        *out = NULL;
        return !required;
    }
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' expects a string", name);
        return false;
    }
    *out = json_node_get_string(n);
    return true;
}

bool qmp_node_int(JsonNode *n, gint64 *out)
{
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return false;
    *out = json_node_get_int(n);
    return true;
}

bool qmp_node_bool(JsonNode *n, bool *out)
{
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
        return false;
    *out = json_node_get_boolean(n);
    return true;
}

/* A KeyValue: {"type": "qcode", "data": "a"} or {"type": "number", "data": 30}. */
bool qmp_parse_key_value(JsonNode *n, uint16_t *code, GError **err)
{
    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a key must be an object with 'type' and 'data'");
        return false;
    }
    JsonObject *o = json_node_get_object(n);
    const char *type;
    if (!qmp_arg_string(o, "type", true, &type, err))
        return false;
    JsonNode *data = json_object_get_member(o, "data");
    if (!strcmp(type, "qcode")) {
        if (!data || !JSON_NODE_HOLDS_VALUE(data) || json_node_get_value_type(data) != G_TYPE_STRING) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a qcode key needs a string 'data'");
            return false;
        }
        if (!input_qcode_to_key(json_node_get_string(data), code)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'data' does not accept value '%s'",
                        json_node_get_string(data));
            return false;
        }
        return true;
    }
    if (!strcmp(type, "number")) {
        gint64 v;
        if (!qmp_node_int(data, &v) || v < 0 || !input_qnum_to_key((unsigned)v, code)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "a number key needs 'data' between 1 and 255");
            return false;
        }
        return true;
    }
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "key type '%s' is not 'qcode' or 'number'", type);
    return false;
}

/* ---- commands ---- */

static JsonNode *cmd_capabilities(QmpClient *c, JsonObject *args, GError **err)
{
    c->negotiated = true;
    return NULL;
}

static JsonNode *cmd_query_version(QmpClient *c, JsonObject *args, GError **err)
{
    unsigned major = 0, minor = 0, micro = 0;
    sscanf(VIREO_VERSION, "%u.%u.%u", &major, &minor, &micro);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "qemu");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "major");
    json_builder_add_int_value(b, major);
    json_builder_set_member_name(b, "minor");
    json_builder_add_int_value(b, minor);
    json_builder_set_member_name(b, "micro");
    json_builder_add_int_value(b, micro);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "package");
    json_builder_add_string_value(b, "vireo " VIREO_VERSION);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static JsonNode *cmd_query_status(QmpClient *c, JsonObject *args, GError **err)
{
    VmState st = vm_get_state(c->srv->vm);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, vm_state_name(st));
    json_builder_set_member_name(b, "running");
    json_builder_add_boolean_value(b, st == VM_STATE_RUNNING);
    json_builder_set_member_name(b, "singlestep");
    json_builder_add_boolean_value(b, FALSE);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static JsonNode *cmd_query_name(QmpClient *c, JsonObject *args, GError **err)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, vm_name(c->srv->vm));
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static JsonNode *cmd_query_commands(QmpClient *c, JsonObject *args, GError **err);

static JsonNode *cmd_stop(QmpClient *c, JsonObject *args, GError **err)
{
    vm_pause(c->srv->vm);
    return NULL;
}

static JsonNode *cmd_cont(QmpClient *c, JsonObject *args, GError **err)
{
    Vm *vm = c->srv->vm;
    VmState st = vm_get_state(vm);
    if (st == VM_STATE_SHUTDOWN || st == VM_STATE_ERROR) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "the VM is in state '%s'; reset it first",
                    vm_state_name(st));
        return NULL;
    }
    /* -S leaves the VM created but not started; cont starts it. */
    if (!vm_start(vm, err))
        return NULL;
    return NULL;
}

static JsonNode *cmd_system_reset(QmpClient *c, JsonObject *args, GError **err)
{
    vm_reset(c->srv->vm);
    return NULL;
}

static JsonNode *cmd_system_powerdown(QmpClient *c, JsonObject *args, GError **err)
{
    vm_powerdown(c->srv->vm);
    return NULL;
}

static gboolean quit_later(gpointer data)
{
    QmpServer *s = data;
    s->quit_idle = 0;
    if (s->quit_fn)
        s->quit_fn(s->quit_data);
    else
        vm_poweroff(s->vm);
    return G_SOURCE_REMOVE;
}

static JsonNode *cmd_quit(QmpClient *c, JsonObject *args, GError **err)
{
    /* The reply goes out first; the main loop ends after. */
    if (!c->srv->quit_idle)
        c->srv->quit_idle = g_idle_add(quit_later, c->srv);
    return NULL;
}

/* eject {device} and blockdev-change-medium {device, filename, format,
 * read-only-mode}: QEMU's commands for removable media. */
static JsonNode *cmd_eject(QmpClient *c, JsonObject *args, GError **err)
{
    const char *dev;
    if (!qmp_arg_string(args, "device", true, &dev, err))
        return NULL;
    GError *local = NULL;
    if (!vm_change_media(c->srv->vm, dev, NULL, NULL, false, &local)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
    }
    return NULL;
}

static JsonNode *cmd_change_medium(QmpClient *c, JsonObject *args, GError **err)
{
    const char *dev, *file, *format, *mode;
    if (!qmp_arg_string(args, "device", true, &dev, err) || !qmp_arg_string(args, "filename", true, &file, err) ||
        !qmp_arg_string(args, "format", false, &format, err) || !qmp_arg_string(args, "read-only-mode", false, &mode, err))
        return NULL;
    if (mode && strcmp(mode, "retain") && strcmp(mode, "read-only") && strcmp(mode, "read-write")) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'read-only-mode' does not accept value '%s'", mode);
        return NULL;
    }
    GError *local = NULL;
    if (!vm_change_media(c->srv->vm, dev, file, format, mode && !strcmp(mode, "read-only"), &local)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
    }
    return NULL;
}

/* ---- snapshots: QEMU's HMP savevm/loadvm/delvm/info snapshots and its snapshot jobs ---- */

static void job_free(gpointer p)
{
    QmpJob *j = p;
    g_free(j->id);
    g_free(j->type);
    g_free(j->error);
    g_free(j);
}

static void job_event(QmpServer *s, const char *id, const char *status)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    json_builder_add_string_value(b, id);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, status);
    json_builder_end_object(b);
    g_autoptr(JsonNode) data = json_builder_get_root(b);
    broadcast_event(s, "JOB_STATUS_CHANGE", data);
}

static QmpJob *job_find(QmpServer *s, const char *id)
{
    for (guint i = 0; s->jobs && i < s->jobs->len; i++) {
        QmpJob *j = s->jobs->pdata[i];
        if (!strcmp(j->id, id))
            return j;
    }
    return NULL;
}

/* The tag, and the one VM-state node QEMU's snapshot jobs name (we take any). */
static JsonNode *run_snapshot_job(QmpClient *c, JsonObject *args, const char *type, GError **err)
{
    const char *id, *tag;
    if (!qmp_arg_string(args, "job-id", true, &id, err) || !qmp_arg_string(args, "tag", true, &tag, err))
        return NULL;
    QmpServer *s = c->srv;
    if (job_find(s, id)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Job ID '%s' already in use", id);
        return NULL;
    }
    QmpJob *j = g_new0(QmpJob, 1);
    j->id = g_strdup(id);
    j->type = g_strdup(type);
    if (!s->jobs)
        s->jobs = g_ptr_array_new_with_free_func(job_free);
    g_ptr_array_add(s->jobs, j);
    job_event(s, id, "created");
    job_event(s, id, "running");
    GError *local = NULL;
    bool ok = !strcmp(type, "snapshot-save") ? vm_snapshot_save(s->vm, tag, &local)
              : !strcmp(type, "snapshot-load") ? vm_snapshot_load(s->vm, tag, &local)
                                               : vm_snapshot_delete(s->vm, tag, &local);
    if (!ok) {
        j->error = g_strdup(local->message);
        g_error_free(local);
        job_event(s, id, "aborting");
    } else {
        job_event(s, id, "waiting");
        job_event(s, id, "pending");
    }
    job_event(s, id, "concluded");
    return NULL;
}

static JsonNode *cmd_snapshot_save(QmpClient *c, JsonObject *args, GError **err)
{
    return run_snapshot_job(c, args, "snapshot-save", err);
}

static JsonNode *cmd_snapshot_load(QmpClient *c, JsonObject *args, GError **err)
{
    return run_snapshot_job(c, args, "snapshot-load", err);
}

static JsonNode *cmd_snapshot_delete(QmpClient *c, JsonObject *args, GError **err)
{
    return run_snapshot_job(c, args, "snapshot-delete", err);
}

static JsonNode *cmd_query_jobs(QmpClient *c, JsonObject *args, GError **err)
{
    (void)args;
    (void)err;
    JsonArray *a = json_array_new();
    for (guint i = 0; c->srv->jobs && i < c->srv->jobs->len; i++) {
        QmpJob *j = c->srv->jobs->pdata[i];
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "id", j->id);
        json_object_set_string_member(o, "type", j->type);
        json_object_set_string_member(o, "status", "concluded");
        json_object_set_int_member(o, "current-progress", 1);
        json_object_set_int_member(o, "total-progress", 1);
        if (j->error)
            json_object_set_string_member(o, "error", j->error);
        json_array_add_object_element(a, o);
    }
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, a);
    return n;
}

static JsonNode *cmd_job_dismiss(QmpClient *c, JsonObject *args, GError **err)
{
    const char *id;
    if (!qmp_arg_string(args, "id", true, &id, err))
        return NULL;
    QmpJob *j = job_find(c->srv, id);
    if (!j) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Job not found");
        return NULL;
    }
    job_event(c->srv, id, "null");
    g_ptr_array_remove(c->srv->jobs, j);
    return NULL;
}

/* x-query-devices: the VM's devices in realize order with their class, description,
 * properties and whether they carry state in savevm (Vireo's own; QEMU has info qtree). */
static JsonNode *cmd_query_devices(QmpClient *c, JsonObject *args, GError **err)
{
    (void)args;
    (void)err;
    JsonArray *a = json_array_new();
    Vm *vm = c->srv->vm;
    vm_lock(vm);
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "id", d->id);
        json_object_set_string_member(o, "type", d->klass->name);
        json_object_set_string_member(o, "description", d->klass->description);
        json_object_set_boolean_member(o, "migratable", d->klass->vmsd != NULL);
        JsonObject *props = json_object_new();
        for (const DeviceProp *p = d->klass->props; p && p->name; p++) {
            g_autofree char *v = device_prop_value(d, p);
            json_object_set_string_member(props, p->name, v);
        }
        json_object_set_object_member(o, "properties", props);
        json_array_add_object_element(a, o);
    }
    vm_unlock(vm);
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, a);
    return n;
}

/* device_add {driver, id, PROP...}: QEMU's hot plug, for the classes that have an unplug
 * hook (USB devices). The properties are those of -device, as strings, numbers or
 * booleans. DEVICE_DELETED follows device_del as in QEMU. */
static JsonNode *cmd_device_add(QmpClient *c, JsonObject *args, GError **err)
{
    const char *driver, *id;
    if (!qmp_arg_string(args, "driver", true, &driver, err) || !qmp_arg_string(args, "id", false, &id, err))
        return NULL;
    const DeviceClass *dc = device_class_find(driver);
    if (!dc || !dc->user_creatable) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'driver' expects a device type; '%s' is not one "
                    "(-device help lists them)", driver);
        return NULL;
    }
    if (!dc->unplug) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%s' cannot be hot-plugged (USB devices can)", driver);
        return NULL;
    }
    GString *spec = g_string_new(driver);
    g_autoptr(GList) members = json_object_get_members(args);
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        if (!strcmp(key, "driver"))
            continue;
        JsonNode *n = json_object_get_member(args, key);
        g_autofree char *value = NULL;
        GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
        if (t == G_TYPE_STRING)
            value = g_strdup(json_node_get_string(n));
        else if (t == G_TYPE_INT64)
            value = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
        else if (t == G_TYPE_BOOLEAN)
            value = g_strdup(json_node_get_boolean(n) ? "on" : "off");
        if (!value || strchr(key, ',') || strchr(key, '=')) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' expects a string, number or boolean", key);
            g_string_free(spec, true);
            return NULL;
        }
        /* -device's comma rule: a comma inside a value is doubled. */
        g_auto(GStrv) pieces = g_strsplit(value, ",", -1);
        g_autofree char *escaped = g_strjoinv(",,", pieces);
        g_string_append_printf(spec, ",%s=%s", key, escaped);
    }
    g_autofree char *text = g_string_free(spec, false);
    GError *local = NULL;
    if (!vm_device_add(c->srv->vm, text, &local)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
    }
    return NULL;
}

static JsonNode *cmd_device_del(QmpClient *c, JsonObject *args, GError **err)
{
    const char *id;
    if (!qmp_arg_string(args, "id", true, &id, err))
        return NULL;
    GError *local = NULL;
    if (!vm_device_del(c->srv->vm, id, &local)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
        return NULL;
    }
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "device", id);
    JsonNode *data = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(data, o);
    broadcast_event(c->srv, "DEVICE_DELETED", data);
    return NULL;
}

/* x-query-usb: the devices on the VM's USB buses (Vireo's own; QEMU has HMP info usb). */
static JsonNode *cmd_query_usb(QmpClient *c, JsonObject *args, GError **err)
{
    (void)args;
    (void)err;
    JsonArray *a = json_array_new();
    Vm *vm = c->srv->vm;
    vm_lock(vm);
    for (GList *l = device_list_head(vm); l; l = l->next) {
        Device *d = l->data;
        DeviceBusPlace place;
        if (!d->klass->bus_place || !d->klass->bus_place(d, &place) || !g_str_has_prefix(place.bus, "usb-bus."))
            continue;
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "bus", place.bus);
        json_object_set_int_member(o, "port", place.port);
        json_object_set_string_member(o, "port-path", place.path);
        json_object_set_int_member(o, "address", place.addr);
        json_object_set_string_member(o, "speed", place.speed);
        json_object_set_string_member(o, "product", place.product);
        json_object_set_string_member(o, "type", d->klass->name);
        json_object_set_string_member(o, "id", d->id);
        json_array_add_object_element(a, o);
    }
    vm_unlock(vm);
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, a);
    return n;
}

/* human-monitor-command {command-line}: the monitor's commands (monitor.c). As in QEMU,
 * an HMP command's failure is text in the reply ("Error: ..."), not a QMP error. */
static JsonNode *cmd_human_monitor(QmpClient *c, JsonObject *args, GError **err)
{
    const char *line;
    if (!qmp_arg_string(args, "command-line", true, &line, err))
        return NULL;
    bool quit = false;
    char *out = monitor_run(c->srv->vm, line, &quit);
    if (quit && !c->srv->quit_idle)
        c->srv->quit_idle = g_idle_add(quit_later, c->srv);
    JsonNode *n = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(n, out);
    g_free(out);
    return n;
}

/* query-block: QEMU's BlockInfo for each drive with a medium. */
static JsonNode *cmd_query_block(QmpClient *c, JsonObject *args, GError **err)
{
    g_autoptr(GPtrArray) drives = monitor_list_drives(c->srv->vm);
    JsonArray *a = json_array_new();
    for (guint i = 0; i < drives->len; i++) {
        MonitorDrive *d = drives->pdata[i];
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "device", d->device);
        json_object_set_boolean_member(o, "locked", FALSE);
        json_object_set_boolean_member(o, "removable", d->removable);
        if (d->removable)
            json_object_set_boolean_member(o, "tray_open", FALSE);
        json_object_set_string_member(o, "io-status", "ok");
        JsonObject *ins = json_object_new();
        json_object_set_string_member(ins, "file", d->file);
        json_object_set_boolean_member(ins, "ro", d->read_only);
        json_object_set_string_member(ins, "drv", d->format);
        json_object_set_boolean_member(ins, "encrypted", FALSE);
        if (d->backing_file)
            json_object_set_string_member(ins, "backing_file", d->backing_file);
        json_object_set_int_member(ins, "backing_file_depth", d->backing_file ? 1 : 0);
        JsonObject *image = json_object_new();
        json_object_set_string_member(image, "filename", d->file);
        json_object_set_string_member(image, "format", d->format);
        json_object_set_int_member(image, "virtual-size", (gint64)d->size);
        json_object_set_object_member(ins, "image", image);
        json_object_set_object_member(o, "inserted", ins);
        json_array_add_object_element(a, o);
    }
    JsonNode *n = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(n, a);
    return n;
}

/* set_link {name, up}: a netdev's or its card's link (QEMU: DeviceNotFound for an
 * unknown name; the reply is empty). */
static JsonNode *cmd_set_link(QmpClient *c, JsonObject *args, GError **err)
{
    const char *name;
    bool up;
    if (!qmp_arg_string(args, "name", true, &name, err))
        return NULL;
    if (!qmp_node_bool(args ? json_object_get_member(args, "up") : NULL, &up)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'up' is missing or not a boolean");
        return NULL;
    }
    GError *local = NULL;
    if (!net_set_link(c->srv->vm, name, up, &local)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
    }
    return NULL;
}

static JsonNode *cmd_screendump(QmpClient *c, JsonObject *args, GError **err)
{
    QmpServer *s = c->srv;
    const char *file, *format;
    if (!qmp_arg_string(args, "filename", true, &file, err) || !qmp_arg_string(args, "format", false, &format, err))
        return NULL;
    if (!format)
        format = g_str_has_suffix(file, ".png") ? "png" : "ppm";
    if (strcmp(format, "png") && strcmp(format, "ppm")) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "screendump format '%s' is not 'png' or 'ppm'", format);
        return NULL;
    }
    DisplayConsole *con = vm_display_console(s->vm);
    if (!con) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "this VM has no display device");
        return NULL;
    }
    if (!s->display)
        s->display = display_client_new(con);
    pixman_region32_t dirty;
    pixman_region32_init(&dirty);
    bool new_surface;
    DisplaySurface *surf = display_client_refresh(s->display, &dirty, &new_surface);
    pixman_region32_fini(&dirty);
    GError *local = NULL;
    bool ok = !strcmp(format, "png") ? display_surface_write_png(surf, file, &local)
                                     : display_surface_write_ppm(surf, file, &local);
    if (!ok) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "screendump: %s", local->message);
        g_error_free(local);
    }
    return NULL;
}

static JsonNode *cmd_display_resize(QmpClient *c, JsonObject *args, GError **err)
{
    DisplayConsole *con = vm_display_console(c->srv->vm);
    if (!con) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "this VM has no display device");
        return NULL;
    }
    gint64 w, h;
    if (!args || !qmp_node_int(json_object_get_member(args, "width"), &w) ||
        !qmp_node_int(json_object_get_member(args, "height"), &h) || w < 1 || h < 1 || w > DISPLAY_MAX_DIM ||
        h > DISPLAY_MAX_DIM) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "'width' and 'height' must be integers from 1 to %d",
                    DISPLAY_MAX_DIM);
        return NULL;
    }
    bool follows = display_console_request_size(con, (int)w, (int)h);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "follows");
    json_builder_add_boolean_value(b, follows);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* x-vdagent-clipboard {id, text?}: the clipboard of a -chardev qemu-vdagent without the
 * app, as a host program would use it: "text" copies on the host (the guest's agent is
 * offered it); the answer holds the text the guest last copied, whether an agent is
 * there and whether the chardev shares the clipboard. */
static JsonNode *cmd_vdagent_clipboard(QmpClient *c, JsonObject *args, GError **err)
{
    const char *id, *text;
    if (!qmp_arg_string(args, "id", true, &id, err) || !qmp_arg_string(args, "text", false, &text, err))
        return NULL;
    Vdagent *a = vdagent_find(c->srv->vm, id, err);
    if (!a)
        return NULL;
    if (!vdagent_clipboard_enabled(a)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "chardev '%s' has clipboard=off", id);
        return NULL;
    }
    if (text)
        vdagent_host_set_text(a, text);
    g_autofree char *guest = vdagent_guest_last_text(a);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "connected");
    json_builder_add_boolean_value(b, vdagent_guest_connected(a));
    json_builder_set_member_name(b, "guest-text");
    if (guest)
        json_builder_add_string_value(b, guest);
    else
        json_builder_add_null_value(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static JsonNode *cmd_screen_text(QmpClient *c, JsonObject *args, GError **err)
{
    DisplayConsole *con = vm_display_console(c->srv->vm);
    if (!con) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "this VM has no display device");
        return NULL;
    }
    DisplayText text;
    if (!display_console_get_text(con, &text)) {
        g_autofree char *mode = display_console_describe_mode(con);
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "the display is not in a text mode (%s)", mode);
        return NULL;
    }
    g_autofree char *mode = display_console_describe_mode(con);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "cols");
    json_builder_add_int_value(b, text.cols);
    json_builder_set_member_name(b, "rows");
    json_builder_add_int_value(b, text.rows);
    json_builder_set_member_name(b, "mode");
    json_builder_add_string_value(b, mode);
    json_builder_set_member_name(b, "lines");
    json_builder_begin_array(b);
    for (int r = 0; r < text.rows; r++) {
        g_autofree char *line = display_text_row_utf8(&text, r);
        json_builder_add_string_value(b, line);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "cursor");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "col");
    json_builder_add_int_value(b, text.cursor_col);
    json_builder_set_member_name(b, "row");
    json_builder_add_int_value(b, text.cursor_row);
    json_builder_set_member_name(b, "visible");
    json_builder_add_boolean_value(b, text.cursor_visible);
    json_builder_end_object(b);
    json_builder_end_object(b);
    display_text_clear(&text);
    return json_builder_get_root(b);
}

static const struct {
    const char *name;
    QmpHandler fn;
} commands[] = {
    { "qmp_capabilities", cmd_capabilities },
    { "query-version", cmd_query_version },
    { "query-status", cmd_query_status },
    { "query-block", cmd_query_block },
    { "query-name", cmd_query_name },
    { "query-commands", cmd_query_commands },
    { "stop", cmd_stop },
    { "cont", cmd_cont },
    { "system_reset", cmd_system_reset },
    { "system_powerdown", cmd_system_powerdown },
    { "quit", cmd_quit },
    { "screendump", cmd_screendump },
    { "send-key", qmp_cmd_send_key },
    { "input-send-event", qmp_cmd_input_send_event },
    { "x-screen-text", cmd_screen_text },
    { "x-display-resize", cmd_display_resize },
    { "x-vdagent-clipboard", cmd_vdagent_clipboard },
    { "eject", cmd_eject },
    { "blockdev-change-medium", cmd_change_medium },
    { "human-monitor-command", cmd_human_monitor },
    { "set_link", cmd_set_link },
    { "snapshot-save", cmd_snapshot_save },
    { "snapshot-load", cmd_snapshot_load },
    { "snapshot-delete", cmd_snapshot_delete },
    { "query-jobs", cmd_query_jobs },
    { "x-query-devices", cmd_query_devices },
    { "x-query-usb", cmd_query_usb },
    { "device_add", cmd_device_add },
    { "device_del", cmd_device_del },
    { "job-dismiss", cmd_job_dismiss },
    { "x-snapshot-tree-list", qmp_cmd_tree_list },
    { "x-snapshot-tree-take", qmp_cmd_tree_take },
    { "x-snapshot-tree-revert", qmp_cmd_tree_revert },
    { "x-snapshot-tree-delete", qmp_cmd_tree_delete },
    { "x-snapshot-tree-set", qmp_cmd_tree_set },
};

static JsonNode *cmd_query_commands(QmpClient *c, JsonObject *args, GError **err)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, commands[i].name);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return json_builder_get_root(b);
}

/* ---- requests ---- */

static void handle_request(QmpClient *c, const char *text, size_t len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *err = NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)len, &err)) {
        g_autofree char *desc = g_strdup_printf("JSON parse error, %s", err->message);
        send_error(c, "GenericError", desc, NULL);
        g_error_free(err);
        return;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        send_error(c, "GenericError", "QMP input must be a JSON object", NULL);
        return;
    }
    JsonObject *req = json_node_get_object(root);
    JsonNode *id = json_object_get_member(req, "id");
    JsonNode *exec = json_object_get_member(req, "execute");
    if (!exec)
        exec = json_object_get_member(req, "exec-oob");
    if (!exec || !JSON_NODE_HOLDS_VALUE(exec) || json_node_get_value_type(exec) != G_TYPE_STRING) {
        send_error(c, "GenericError", "QMP input lacks member 'execute'", id);
        return;
    }
    const char *name = json_node_get_string(exec);
    JsonNode *an = json_object_get_member(req, "arguments");
    if (an && !JSON_NODE_HOLDS_OBJECT(an)) {
        send_error(c, "GenericError", "QMP input member 'arguments' must be an object", id);
        return;
    }
    JsonObject *args = an ? json_node_get_object(an) : NULL;

    if (!c->negotiated && strcmp(name, "qmp_capabilities")) {
        send_error(c, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'", id);
        return;
    }
    if (c->negotiated && !strcmp(name, "qmp_capabilities")) {
        send_error(c, "CommandNotFound", "Capabilities negotiation is already complete, command ignored", id);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name))
            continue;
        VLOG(LOG_DISPLAY, "qmp: %s", name);
        JsonNode *result = commands[i].fn(c, args, &err);
        if (err) {
            send_error(c, "GenericError", err->message, id);
            g_error_free(err);
            if (result)
                json_node_unref(result);
        } else {
            send_return(c, result, id); /* takes the result */
        }
        return;
    }
    g_autofree char *desc = g_strdup_printf("The command %s has not been found", name);
    send_error(c, "CommandNotFound", desc, id);
}

/* Splits the byte stream into top-level JSON values without keeping more than
 * QMP_MAX_REQUEST bytes of one. */
static void scan_input(QmpClient *c, const char *buf, size_t len)
{
    for (size_t i = 0; i < len && !c->closing; i++) {
        char ch = buf[i];
        if (c->skip_line) {
            c->skip_line = ch != '\n';
            continue;
        }
        if (c->depth == 0) {
            if (ch == '{' || ch == '[') {
                if (c->junk) {
                    send_error(c, "GenericError", "JSON parse error, invalid token outside an object", NULL);
                    c->junk = false;
                }
                c->depth = 1;
                c->open[0] = ch;
                g_string_truncate(c->req, 0);
                g_string_append_c(c->req, ch);
                c->in_string = c->escape = c->too_big = c->too_deep = false;
            } else if (ch == '\n') {
                if (c->junk) {
                    send_error(c, "GenericError", "JSON parse error, invalid token outside an object", NULL);
                    c->junk = false;
                }
            } else if (!g_ascii_isspace(ch)) {
                c->junk = true;
            }
            continue;
        }
        if (c->req->len < QMP_MAX_REQUEST)
            g_string_append_c(c->req, ch);
        else
            c->too_big = true;
        if (c->in_string) {
            if (c->escape)
                c->escape = false;
            else if (ch == '\\')
                c->escape = true;
            else if (ch == '"')
                c->in_string = false;
            continue;
        }
        if (ch == '"') {
            c->in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (c->depth < QMP_MAX_DEPTH)
                c->open[c->depth] = ch;
            else
                c->too_deep = true;
            if (c->depth < INT_MAX)
                c->depth++;
        } else if (ch == '}' || ch == ']') {
            c->depth--;
            /* Brackets past the tracked depth are only counted. */
            if (c->depth < QMP_MAX_DEPTH && c->open[c->depth] != (ch == '}' ? '{' : '[')) {
                send_error(c, "GenericError", "JSON parse error, mismatched brackets", NULL);
                c->depth = 0;
                c->skip_line = true;
                continue;
            }
            if (c->depth == 0) {
                if (c->too_big)
                    send_error(c, "GenericError", "JSON parse error, request larger than 1 MiB", NULL);
                else if (c->too_deep)
                    send_error(c, "GenericError", "JSON parse error, nesting too deep", NULL);
                else
                    handle_request(c, c->req->str, c->req->len);
                g_string_truncate(c->req, 0);
                /* A request that bloated the buffer gives the memory back. */
                if (c->req->allocated_len > 65536) {
                    g_string_free(c->req, TRUE);
                    c->req = g_string_sized_new(256);
                }
            }
        }
    }
    client_flush(c);
}

static void client_on_input(void *opaque, const char *data, size_t len)
{
    scan_input(opaque, data, len);
}

static void client_on_gone(void *opaque, const char *why)
{
    VLOG(LOG_GUEST, "qmp: client gone (%s)", why);
    client_close(opaque);
}

static void client_close(QmpClient *c)
{
    QmpServer *s = c->srv;
    if (!g_list_find(s->clients, c))
        return;
    s->clients = g_list_remove(s->clients, c);
    sock_reader_free(c->reader);
    sock_writer_free(c->out);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_string_free(c->req, TRUE);
    g_free(c);
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
    QmpServer *s = data;
    QmpClient *c = g_new0(QmpClient, 1);
    c->srv = s;
    c->conn = g_object_ref(conn);
    c->sock = g_socket_connection_get_socket(conn);
    g_socket_set_blocking(c->sock, FALSE);
    c->out = sock_writer_new(c->sock, QMP_MAX_BACKLOG, client_on_ready, c);
    c->req = g_string_sized_new(256);
    s->clients = g_list_prepend(s->clients, c);
    c->reader = sock_reader_new(c->sock, client_on_input, client_on_gone, c);

    unsigned major = 0, minor = 0, micro = 0;
    sscanf(VIREO_VERSION, "%u.%u.%u", &major, &minor, &micro);
    g_autofree char *greeting = g_strdup_printf(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %u, \"minor\": %u, \"major\": %u}, "
        "\"package\": \"vireo %s\"}, \"capabilities\": []}}\r\n",
        micro, minor, major, VIREO_VERSION);
    sock_writer_append(c->out, greeting, strlen(greeting));
    client_flush(c);
    return TRUE;
}

static void on_state(Vm *vm, VmState state, void *data)
{
    QmpServer *s = data;
    VmState prev = s->last_state;
    s->last_state = state;
    if (state == VM_STATE_PAUSED && prev == VM_STATE_RUNNING) {
        broadcast_event(s, "STOP", NULL);
    } else if (state == VM_STATE_RUNNING && prev == VM_STATE_PAUSED) {
        broadcast_event(s, "RESUME", NULL);
    } else if (state == VM_STATE_SHUTDOWN) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "guest");
        json_builder_add_boolean_value(b, TRUE);
        json_builder_end_object(b);
        g_autoptr(JsonNode) d = json_builder_get_root(b);
        broadcast_event(s, "SHUTDOWN", d);
    }
}

/* "unix:PATH,server=on,wait=off" and the older "unix:PATH,server,nowait". */
static char *parse_spec(const char *spec, GError **err)
{
    if (!g_str_has_prefix(spec, "unix:")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-qmp %s: only unix:PATH,server=on,wait=off is supported", spec);
        return NULL;
    }
    g_auto(GStrv) parts = g_strsplit(spec + 5, ",", -1);
    if (!parts[0] || !*parts[0]) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-qmp %s: the socket path is missing", spec);
        return NULL;
    }
    for (char **p = parts + 1; *p; p++) {
        if (!strcmp(*p, "server") || !strcmp(*p, "server=on") || !strcmp(*p, "nowait") ||
            !strcmp(*p, "wait=off"))
            continue;
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "-qmp %s: '%s' is not supported (the socket is always a server that does not wait)",
                    spec, *p);
        return NULL;
    }
    return g_strdup(parts[0]);
}

QmpServer *qmp_server_new(Vm *vm, const char *spec, GError **err)
{
    g_autofree char *path = parse_spec(spec, err);
    if (!path)
        return NULL;
    /* A socket left behind by an earlier run is replaced; any other file is not. */
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "-qmp: %s exists and is not a socket", path);
            return NULL;
        }
        unlink(path);
    }
    QmpServer *s = g_new0(QmpServer, 1);
    s->vm = vm;
    s->path = g_steal_pointer(&path);
    s->service = g_socket_service_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(s->path);
    GError *local = NULL;
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(s->service), addr, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "-qmp: %s: %s", s->path, local->message);
        g_error_free(local);
        g_object_unref(s->service);
        g_free(s->path);
        g_free(s);
        return NULL;
    }
    g_signal_connect(s->service, "incoming", G_CALLBACK(on_incoming), s);
    g_socket_service_start(s->service);
    s->last_state = vm_get_state(vm);
    s->state_listener = vm_add_state_listener(vm, on_state, s);
    return s;
}

void qmp_server_free(QmpServer *s)
{
    if (!s)
        return;
    vm_remove_state_listener(s->vm, s->state_listener);
    if (s->quit_idle)
        g_source_remove(s->quit_idle);
    g_socket_service_stop(s->service);
    g_socket_listener_close(G_SOCKET_LISTENER(s->service));
    g_object_unref(s->service);
    while (s->clients)
        client_close(s->clients->data);
    display_client_free(s->display);
    if (s->jobs)
        g_ptr_array_unref(s->jobs);
    unlink(s->path);
    g_free(s->path);
    g_free(s);
}

void qmp_server_set_quit_handler(QmpServer *s, void (*fn)(void *data), void *data)
{
    s->quit_fn = fn;
    s->quit_data = data;
}

const char *qmp_server_path(const QmpServer *s)
{
    return s->path;
}
