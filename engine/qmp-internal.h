/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the QMP server's files share (engine/qmp.c: the server, the requests and most
 * commands; qmp-input.c: send-key and input-send-event; qmp-snaptree.c: the snapshot
 * tree commands). Every command handler runs on the main context, one request at a time;
 * handlers take the VM lock themselves where they reach into the VM. */
#ifndef VIREO_ENGINE_QMP_INTERNAL_H
#define VIREO_ENGINE_QMP_INTERNAL_H

#include "engine/qmp.h"
#include "engine/display.h"
#include "engine/sockreader.h"
#include "engine/sockwriter.h"
#include "engine/vm.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

/* The deepest nesting of brackets one request may have. */
#define QMP_MAX_DEPTH 64

typedef struct QmpClient QmpClient;

struct QmpServer {
    Vm *vm;
    char *path;
    GSocketService *service;
    GList *clients;
    guint state_listener;
    VmState last_state;
    DisplayClient *display;
    unsigned buttons;          /* mouse buttons held through input-send-event */
    void (*quit_fn)(void *data);
    void *quit_data;
    guint quit_idle;
    GPtrArray *jobs;           /* QmpJob: snapshot jobs until job-dismiss */
};

/* snapshot-save/-load/-delete run to the end inside the command (the VM is paused for
 * them anyway) and are then kept, concluded, until job-dismiss, as QEMU keeps them. */
typedef struct QmpJob {
    char *id;
    char *type;
    char *error;               /* NULL: it succeeded */
} QmpJob;

struct QmpClient {
    QmpServer *srv;
    GSocketConnection *conn;
    GSocket *sock;
    SockReader *reader;
    SockWriter *out;
    /* Request scanner */
    GString *req;
    int depth;
    bool in_string, escape;
    bool too_big, too_deep;
    bool junk;                 /* bytes outside any object since the last report */
    bool skip_line;            /* after a mismatched bracket: ignore up to the newline */
    char open[QMP_MAX_DEPTH];  /* the brackets open, innermost last */
    bool negotiated;
    bool closing;              /* drop once the backlog is written */
};

typedef JsonNode *(*QmpHandler)(QmpClient *c, JsonObject *args, GError **err);

#define QMP_ERROR (qmp_error_quark())
GQuark qmp_error_quark(void);
enum { QMP_ERROR_GENERIC, QMP_ERROR_COMMAND_NOT_FOUND };

/* Argument helpers: false (and err set where there is one) for a missing required or
 * mistyped argument. */
bool qmp_arg_string(JsonObject *args, const char *name, bool required, const char **out, GError **err);
bool qmp_node_int(JsonNode *n, gint64 *out);
bool qmp_node_bool(JsonNode *n, bool *out);
/* A KeyValue: {"type": "qcode", "data": "a"} or {"type": "number", "data": 30}. */
bool qmp_parse_key_value(JsonNode *n, uint16_t *code, GError **err);

/* qmp-input.c */
JsonNode *qmp_cmd_send_key(QmpClient *c, JsonObject *args, GError **err);
JsonNode *qmp_cmd_input_send_event(QmpClient *c, JsonObject *args, GError **err);

/* qmp-snaptree.c */
JsonNode *qmp_cmd_tree_list(QmpClient *c, JsonObject *args, GError **err);
JsonNode *qmp_cmd_tree_take(QmpClient *c, JsonObject *args, GError **err);
JsonNode *qmp_cmd_tree_revert(QmpClient *c, JsonObject *args, GError **err);
JsonNode *qmp_cmd_tree_delete(QmpClient *c, JsonObject *args, GError **err);
JsonNode *qmp_cmd_tree_set(QmpClient *c, JsonObject *args, GError **err);

#endif
