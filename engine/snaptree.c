/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The snapshot tree of a library VM: the model, snapshots.json, recovery and the file
 * operations of take, revert and delete (snaptree.h has the rules and the order). */
#include "engine/snaptree.h"
#include "disks/block.h"
#include "disks/image-ops.h"
#include "disks/qcow2.h"
#include "engine/config.h"
#include "engine/library.h"
#include "engine/regfile.h"
#include "engine/snaptree-internal.h"
#include "engine/vmconf.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define SNAPTREE_FORMAT 1
#define SNAPTREE_MAX_SIZE (16u << 20)
#define CONF_GROUP "snapshot-tree"
#define NEXT_CONF SNAPTREE_DIR "/vm.conf.next"
#define JOURNAL SNAPTREE_DIR "/merge.journal"
#define NAME_MAX_LEN 255
#define DESC_MAX_LEN 4096
/* An empty qcow2 overlay is a few clusters; what an operation needs besides data. */
#define OVERLAY_RESERVE (1u << 20)

/* The writable disk slots of vm.conf a snapshot covers (CDs are read-only). */
static const char *const disk_slots[] = { "hda", "hdb", "hdd", "fda", "fdb", "vda", "vdb", "vdc", "vdd", NULL };

typedef struct Node {
    char *id, *parent, *name, *desc;
    int64_t created;
    bool hidden;
    GHashTable *layers;  /* slot -> path (relative to the VM folder, or absolute) */
    GHashTable *formats; /* slot -> "raw"/"qcow2" */
    char *state, *thumb, *conf;
} Node;

typedef struct Tree {
    char *dir;
    int64_t generation;
    GPtrArray *nodes;
    char *cur_parent;
    GHashTable *cur_layers;
    char *cur_state;     /* a state the next start resumes */
    GPtrArray *garbage;  /* paths unlinked after the commit */
    int lock_fd;
} Tree;

static GHashTable *str_table(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void node_free(gpointer p)
{
    Node *n = p;
    g_free(n->id);
    g_free(n->parent);
    g_free(n->name);
    g_free(n->desc);
    g_hash_table_unref(n->layers);
    g_hash_table_unref(n->formats);
    g_free(n->state);
    g_free(n->thumb);
    g_free(n->conf);
    g_free(n);
}

static void tree_free(Tree *t)
{
    if (!t)
        return;
    if (t->lock_fd >= 0)
        close(t->lock_fd); /* releases the flock */
    g_free(t->dir);
    g_ptr_array_unref(t->nodes);
    g_free(t->cur_parent);
    g_hash_table_unref(t->cur_layers);
    g_free(t->cur_state);
    g_ptr_array_unref(t->garbage);
    g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Tree, tree_free)

void snaptree_node_free(SnapTreeNode *n)
{
    if (!n)
        return;
    g_free(n->id);
    g_free(n->parent_id);
    g_free(n->name);
    g_free(n->description);
    g_free(n->thumbnail);
    g_free(n);
}

void snaptree_op_clear(SnapTreeOp *op)
{
    if (op->thumb_tmp) {
        g_unlink(op->thumb_tmp);
        g_clear_pointer(&op->thumb_tmp, g_free);
    }
    g_clear_pointer(&op->tops, g_hash_table_unref);
}

/* ---- paths and files ---- */

static char *abs_path(const Tree *t, const char *p)
{
    return g_path_is_absolute(p) ? g_strdup(p) : g_build_filename(t->dir, p, NULL);
}

/* Inside the VM folder paths are kept relative so the folder can move. */
static char *rel_path(const Tree *t, const char *abs)
{
    size_t n = strlen(t->dir);
    if (!strncmp(abs, t->dir, n) && abs[n] == '/')
        return g_strdup(abs + n + 1);
    return g_strdup(abs);
}

static bool inside_dir(const char *p)
{
    return !g_path_is_absolute(p) && !strstr(p, "..");
}

/* Files the tree names itself (snapshots/layer-*, state-*, thumb-*, conf-*). */
static bool tree_owned(const char *p)
{
    if (!g_str_has_prefix(p, SNAPTREE_DIR "/"))
        return false;
    const char *b = p + strlen(SNAPTREE_DIR "/");
    return g_str_has_prefix(b, "layer-") || g_str_has_prefix(b, "state-") ||
           g_str_has_prefix(b, "thumb-") || g_str_has_prefix(b, "conf-");
}

static bool fsync_path(const char *path, GError **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: cannot sync: %s", path, g_strerror(e));
        return false;
    }
    close(fd);
    return true;
}

/* Writes path atomically: a temporary file beside it, synced, renamed over it, and the
 * folder synced, so a crash leaves the old or the new file. */
static bool write_atomic(const char *path, const void *data, size_t len, GError **err)
{
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e = 0;
    if (fd < 0) {
        e = errno;
    } else {
        const uint8_t *p = data;
        size_t left = len;
        while (left && !e) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno != EINTR)
                e = errno;
            else if (w > 0)
                p += w, left -= (size_t)w;
        }
        if (!e && fsync(fd) < 0)
            e = errno;
        if (close(fd) < 0 && !e)
            e = errno;
        if (!e && rename(tmp, path) < 0)
            e = errno;
    }
    if (e) {
        g_unlink(tmp);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot write %s: %s", path, g_strerror(e));
        return false;
    }
    g_autofree char *dir = g_path_get_dirname(path);
    return fsync_path(dir, err);
}

static bool write_keyfile(GKeyFile *kf, const char *path, GError **err)
{
    gsize len;
    g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
    return write_atomic(path, data, len, err);
}

static GKeyFile *read_keyfile(const char *path, GError **err)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    if (!strcmp(base, VMCONF_FILE))
        return vmconf_load(dir, err);
    g_autofree char *data = NULL;
    gsize len;
    if (!g_file_get_contents(path, &data, &len, err))
        return NULL;
    GKeyFile *kf = g_key_file_new();
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_KEEP_COMMENTS, err)) {
        g_key_file_unref(kf);
        return NULL;
    }
    return kf;
}

static bool check_space(const Tree *t, uint64_t need, GError **err)
{
    struct statvfs sv;
    if (statvfs(t->dir, &sv) < 0)
        return true; /* the writes themselves will say what is wrong */
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail < need) {
        g_autofree char *n = g_format_size_full(need, G_FORMAT_SIZE_IEC_UNITS);
        g_autofree char *a = g_format_size_full(avail, G_FORMAT_SIZE_IEC_UNITS);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                    "not enough free space in %s: the snapshot operation needs %s, %s are free; "
                    "nothing was changed", t->dir, n, a);
        return false;
    }
    return true;
}

/* Bytes a file occupies on the host. */
static uint64_t file_usage(const char *path)
{
    GStatBuf st;
    return g_stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* ---- snapshots.json ---- */

static const char *obj_str(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : NULL;
}

static bool read_map(JsonObject *o, const char *key, GHashTable *into)
{
    JsonNode *n = json_object_get_member(o, key);
    if (!n || !JSON_NODE_HOLDS_OBJECT(n))
        return false;
    JsonObject *m = json_node_get_object(n);
    g_autoptr(GList) members = json_object_get_members(m);
    for (GList *l = members; l; l = l->next) {
        const char *v = obj_str(m, l->data);
        if (!v)
            return false;
        g_hash_table_insert(into, g_strdup(l->data), g_strdup(v));
    }
    return true;
}

static Node *node_new(void)
{
    Node *n = g_new0(Node, 1);
    n->layers = str_table();
    n->formats = str_table();
    return n;
}

static bool parse_tree(Tree *t, const char *data, size_t len, const char *file, GError **err)
{
    g_autoptr(JsonParser) p = json_parser_new();
    GError *local = NULL;
    if (!json_parser_load_from_data(p, data, (gssize)len, &local)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: %s", file, local->message);
        g_error_free(local);
        return false;
    }
    JsonNode *root = json_parser_get_root(p);
    const char *bad = NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        bad = "not a JSON object";
        goto fail;
    }
    JsonObject *o = json_node_get_object(root);
    if (json_object_get_int_member_with_default(o, "format", 0) != SNAPTREE_FORMAT) {
        bad = "unknown format (written by a newer Vireo?)";
        goto fail;
    }
    t->generation = json_object_get_int_member_with_default(o, "generation", 0);
    JsonArray *nodes = json_object_has_member(o, "nodes") ? json_object_get_array_member(o, "nodes") : NULL;
    for (guint i = 0; nodes && i < json_array_get_length(nodes); i++) {
        JsonNode *jn = json_array_get_element(nodes, i);
        if (!JSON_NODE_HOLDS_OBJECT(jn)) {
            bad = "a node is not an object";
            goto fail;
        }
        JsonObject *no = json_node_get_object(jn);
        Node *n = node_new();
        g_ptr_array_add(t->nodes, n);
        n->id = g_strdup(obj_str(no, "id"));
        n->parent = g_strdup(obj_str(no, "parent"));
        n->name = g_strdup(obj_str(no, "name"));
        n->desc = g_strdup(obj_str(no, "description"));
        n->created = json_object_get_int_member_with_default(no, "created", 0);
        n->hidden = json_object_get_boolean_member_with_default(no, "hidden", FALSE);
        n->state = g_strdup(obj_str(no, "state"));
        n->thumb = g_strdup(obj_str(no, "thumbnail"));
        n->conf = g_strdup(obj_str(no, "conf"));
        if (!n->id || !n->name || !read_map(no, "layers", n->layers) ||
            !read_map(no, "formats", n->formats)) {
            bad = "a node lacks its id, name, layers or formats";
            goto fail;
        }
    }
    JsonNode *cn = json_object_get_member(o, "current");
    if (!cn || !JSON_NODE_HOLDS_OBJECT(cn)) {
        bad = "no current state";
        goto fail;
    }
    JsonObject *co = json_node_get_object(cn);
    t->cur_parent = g_strdup(obj_str(co, "parent"));
    t->cur_state = g_strdup(obj_str(co, "state"));
    if (!read_map(co, "layers", t->cur_layers)) {
        bad = "the current state has no layers";
        goto fail;
    }
    JsonArray *garbage = json_object_has_member(o, "garbage") ? json_object_get_array_member(o, "garbage") : NULL;
    for (guint i = 0; garbage && i < json_array_get_length(garbage); i++) {
        const char *g = json_array_get_string_element(garbage, i);
        if (g)
            g_ptr_array_add(t->garbage, g_strdup(g));
    }
    /* Every parent must exist: the rest of the code walks the tree by them. */
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        bool found = !n->parent;
        for (guint j = 0; !found && j < t->nodes->len; j++)
            found = !strcmp(((Node *)t->nodes->pdata[j])->id, n->parent);
        if (!found) {
            bad = "a snapshot's parent is missing";
            goto fail;
        }
    }
    /* No cycles, and ids are unique: every walk up the tree ends at a root. */
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        guint steps = 0;
        for (Node *up = n; up && up->parent; steps++) {
            if (steps > t->nodes->len) {
                bad = "the snapshots' parents form a cycle";
                goto fail;
            }
            for (guint j = 0; j < t->nodes->len; j++)
                if (!strcmp(((Node *)t->nodes->pdata[j])->id, up->parent)) {
                    up = t->nodes->pdata[j];
                    break;
                }
        }
        for (guint j = i + 1; j < t->nodes->len; j++)
            if (!strcmp(((Node *)t->nodes->pdata[j])->id, n->id)) {
                bad = "two snapshots have the same id";
                goto fail;
            }
    }
    return true;
fail:
    g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%s: %s", file, bad);
    return false;
}

static void add_map(JsonBuilder *b, const char *key, GHashTable *m)
{
    json_builder_set_member_name(b, key);
    json_builder_begin_object(b);
    g_autoptr(GList) keys = g_hash_table_get_keys(m);
    keys = g_list_sort(keys, (GCompareFunc)strcmp);
    for (GList *l = keys; l; l = l->next) {
        json_builder_set_member_name(b, l->data);
        json_builder_add_string_value(b, g_hash_table_lookup(m, l->data));
    }
    json_builder_end_object(b);
}

static void add_str(JsonBuilder *b, const char *key, const char *v)
{
    json_builder_set_member_name(b, key);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

/* Step 3 of every operation: the new tree replaces the old one atomically. */
static bool tree_commit(Tree *t, GError **err)
{
    t->generation++;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "format");
    json_builder_add_int_value(b, SNAPTREE_FORMAT);
    json_builder_set_member_name(b, "generation");
    json_builder_add_int_value(b, t->generation);
    json_builder_set_member_name(b, "nodes");
    json_builder_begin_array(b);
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        json_builder_begin_object(b);
        add_str(b, "id", n->id);
        add_str(b, "parent", n->parent);
        add_str(b, "name", n->name);
        add_str(b, "description", n->desc ? n->desc : "");
        json_builder_set_member_name(b, "created");
        json_builder_add_int_value(b, n->created);
        json_builder_set_member_name(b, "hidden");
        json_builder_add_boolean_value(b, n->hidden);
        add_map(b, "layers", n->layers);
        add_map(b, "formats", n->formats);
        add_str(b, "state", n->state);
        add_str(b, "thumbnail", n->thumb);
        add_str(b, "conf", n->conf);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "current");
    json_builder_begin_object(b);
    add_str(b, "parent", t->cur_parent);
    add_map(b, "layers", t->cur_layers);
    add_str(b, "state", t->cur_state);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "garbage");
    json_builder_begin_array(b);
    for (guint i = 0; i < t->garbage->len; i++)
        json_builder_add_string_value(b, t->garbage->pdata[i]);
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    gsize len;
    g_autofree char *text = json_generator_to_data(gen, &len);
    g_autofree char *file = g_build_filename(t->dir, SNAPTREE_FILE, NULL);
    return write_atomic(file, text, len, err);
}

static Tree *tree_new(const char *vm_dir)
{
    Tree *t = g_new0(Tree, 1);
    t->dir = g_canonicalize_filename(vm_dir, NULL);
    t->nodes = g_ptr_array_new_with_free_func(node_free);
    t->cur_layers = str_table();
    t->garbage = g_ptr_array_new_with_free_func(g_free);
    t->lock_fd = -1;
    return t;
}

/* Reads snapshots.json; a folder without one is a VM without snapshots (*exists false). */
static Tree *tree_load(const char *vm_dir, bool *exists, GError **err)
{
    g_autoptr(Tree) t = tree_new(vm_dir);
    g_autofree char *file = g_build_filename(t->dir, SNAPTREE_FILE, NULL);
    *exists = g_file_test(file, G_FILE_TEST_EXISTS);
    if (!*exists)
        return g_steal_pointer(&t);
    g_autofree char *data = NULL;
    size_t len;
    GError *local = NULL;
    if (!regfile_read(file, SNAPTREE_MAX_SIZE, &data, &len, &local)) {
        g_propagate_error(err, local);
        return NULL;
    }
    if (!parse_tree(t, data, len, file, err))
        return NULL;
    return g_steal_pointer(&t);
}

static bool tree_lock(Tree *t, bool wait, GError **err)
{
    g_autofree char *dir = g_build_filename(t->dir, SNAPTREE_DIR, NULL);
    g_autofree char *path = g_build_filename(dir, "lock", NULL);
    if (g_mkdir_with_parents(dir, 0755) < 0 ||
        (t->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s: %s", path, g_strerror(errno));
        return false;
    }
    if (flock(t->lock_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                    "another snapshot operation is running on this VM (%s is locked)", path);
        return false;
    }
    return true;
}

static Node *find_node(const Tree *t, const char *id)
{
    for (guint i = 0; id && i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        if (!strcmp(n->id, id))
            return n;
    }
    return NULL;
}

static unsigned child_count(const Tree *t, const Node *n, Node **only)
{
    unsigned c = 0;
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *k = t->nodes->pdata[i];
        if (!g_strcmp0(k->parent, n->id)) {
            c++;
            *only = k;
        }
    }
    if (!g_strcmp0(t->cur_parent, n->id)) {
        c++;
        *only = NULL; /* NULL with c == 1 means the current state */
    }
    return c;
}

/* Every path the tree uses, for the sweep. */
static char *backing_of(const char *abs);

static GHashTable *referenced(const Tree *t, GKeyFile *conf)
{
    GHashTable *r = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        GHashTableIter it;
        gpointer v;
        g_hash_table_iter_init(&it, n->layers);
        while (g_hash_table_iter_next(&it, NULL, &v))
            g_hash_table_add(r, g_strdup(v));
        const char *extra[] = { n->state, n->thumb, n->conf };
        for (size_t j = 0; j < G_N_ELEMENTS(extra); j++)
            if (extra[j])
                g_hash_table_add(r, g_strdup(extra[j]));
    }
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, t->cur_layers);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_hash_table_add(r, g_strdup(v));
    if (t->cur_state)
        g_hash_table_add(r, g_strdup(t->cur_state));
    for (const char *const *s = disk_slots; conf && *s; s++) {
        g_autofree char *v2 = g_key_file_get_string(conf, VMCONF_GROUP_DRIVES, *s, NULL);
        if (v2 && *v2) {
            g_autofree char *a = abs_path(t, v2);
            g_hash_table_add(r, rel_path(t, a));
        }
    }
    /* Whatever an image still reads through its backing chain is in use, whatever the
     * tree says: a file is never freed under an image that needs it (the kill test once
     * found a layer whose base had gone). */
    guint ntodo;
    g_autofree gpointer *todo = g_hash_table_get_keys_as_array(r, &ntodo);
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < ntodo; i++)
        g_ptr_array_add(keys, g_strdup(todo[i]));
    for (guint i = 0; i < keys->len; i++) {
        g_autofree char *a = abs_path(t, keys->pdata[i]);
        for (unsigned depth = 0; depth < 64; depth++) {
            char *b = backing_of(a);
            if (!b)
                break;
            g_hash_table_add(r, rel_path(t, b));
            g_free(a);
            a = b;
        }
    }
    return r;
}

/* ---- recovery ---- */

static void repair_leaks(const char *path)
{
    BlockOpenOptions o = { .check_mode = true, .no_backing = true };
    BlockImage *img = block_open(path, &o, NULL);
    if (!img)
        return;
    Qcow2CheckResult res;
    if (qcow2_get_format_info(img, &(Qcow2FormatInfo){ 0 }))
        qcow2_check(img, QCOW2_REPAIR_LEAKS, &res, NULL, NULL, NULL);
    block_close(img, NULL);
}

static int64_t conf_generation(GKeyFile *kf)
{
    return kf ? g_key_file_get_int64(kf, CONF_GROUP, "generation", NULL) : 0;
}

/* Lock held. Finishes step 4 of a committed operation, undoes an uncommitted one. */
static bool recover_locked(Tree *t, GError **err)
{
    g_autofree char *next = g_build_filename(t->dir, NEXT_CONF, NULL);
    if (g_file_test(next, G_FILE_TEST_EXISTS)) {
        g_autoptr(GKeyFile) kf = read_keyfile(next, NULL);
        g_autofree char *conf = g_build_filename(t->dir, VMCONF_FILE, NULL);
        if (kf && conf_generation(kf) == t->generation) {
            if (rename(next, conf) < 0 || !fsync_path(t->dir, NULL)) {
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot rename %s to %s: %s", next,
                            conf, g_strerror(errno));
                return false;
            }
        } else {
            g_unlink(next);
        }
    }
    g_autofree char *journal = g_build_filename(t->dir, JOURNAL, NULL);
    g_autofree char *jtext = NULL;
    if (g_file_get_contents(journal, &jtext, NULL, NULL)) {
        g_auto(GStrv) files = g_strsplit(jtext, "\n", -1);
        for (char **f = files; *f; f++)
            if (**f) {
                g_autofree char *a = abs_path(t, *f);
                repair_leaks(a);
            }
        g_unlink(journal);
    }
    g_autoptr(GKeyFile) conf = vmconf_load(t->dir, NULL);
    g_autoptr(GHashTable) refs = referenced(t, conf);
    /* A state file may be shared (a snapshot taken before a reverted-to state was
     * resumed holds the same one): only what nothing references goes. */
    for (guint i = 0; i < t->garbage->len; i++) {
        if (g_hash_table_contains(refs, t->garbage->pdata[i]))
            continue;
        g_autofree char *a = abs_path(t, t->garbage->pdata[i]);
        g_unlink(a);
    }
    g_autofree char *sdir = g_build_filename(t->dir, SNAPTREE_DIR, NULL);
    GDir *d = g_dir_open(sdir, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        g_autofree char *rel = g_build_filename(SNAPTREE_DIR, e, NULL);
        bool ours = tree_owned(rel) || (g_str_has_suffix(e, ".tmp") && strcmp(e, "lock"));
        if (ours && !g_hash_table_contains(refs, rel)) {
            g_autofree char *a = g_build_filename(sdir, e, NULL);
            g_unlink(a);
        }
    }
    if (d)
        g_dir_close(d);
    if (t->garbage->len) {
        g_ptr_array_set_size(t->garbage, 0);
        return tree_commit(t, err);
    }
    return true;
}

bool snaptree_recover(const char *vm_dir, GError **err)
{
    bool exists;
    g_autoptr(Tree) t = tree_load(vm_dir, &exists, err);
    if (!t)
        return false;
    if (!exists)
        return true;
    GError *busy = NULL;
    if (!tree_lock(t, false, &busy)) {
        /* Someone else is in the middle of an operation; it finishes it itself. */
        g_error_free(busy);
        return true;
    }
    /* Re-read under the lock: the holder before us may have committed. */
    g_autoptr(Tree) fresh = tree_load(vm_dir, &exists, err);
    if (!fresh)
        return false;
    fresh->lock_fd = t->lock_fd;
    t->lock_fd = -1;
    return recover_locked(fresh, err);
}

/* Loads, locks and recovers: every operation starts here. */
static Tree *tree_begin(const char *vm_dir, GError **err)
{
    g_autofree char *conf = g_build_filename(vm_dir, VMCONF_FILE, NULL);
    if (!g_file_test(conf, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "%s: missing: this folder has no VM description", conf);
        return NULL;
    }
    Tree *lockholder = tree_new(vm_dir);
    if (!tree_lock(lockholder, false, err)) {
        tree_free(lockholder);
        return NULL;
    }
    bool exists;
    Tree *t = tree_load(vm_dir, &exists, err);
    if (!t) {
        tree_free(lockholder);
        return NULL;
    }
    t->lock_fd = lockholder->lock_fd;
    lockholder->lock_fd = -1;
    tree_free(lockholder);
    if (exists && !recover_locked(t, err)) {
        tree_free(t);
        return NULL;
    }
    return t;
}

/* ---- the current state ---- */

/* Slot -> path (relative) of the disks vm.conf names now. */
static GHashTable *conf_tops(const Tree *t, GKeyFile *conf)
{
    GHashTable *m = str_table();
    for (const char *const *s = disk_slots; *s; s++) {
        g_autofree char *v = g_key_file_get_string(conf, VMCONF_GROUP_DRIVES, *s, NULL);
        if (v && *v) {
            g_autofree char *a = abs_path(t, v);
            g_hash_table_insert(m, g_strdup(*s), rel_path(t, a));
        }
    }
    return m;
}

GHashTable *snaptree_current_tops(const char *vm_dir, GError **err)
{
    g_autoptr(GKeyFile) conf = vmconf_load(vm_dir, err);
    if (!conf)
        return NULL;
    g_autoptr(Tree) t = tree_new(vm_dir);
    g_autoptr(GHashTable) rel = conf_tops(t, conf);
    GHashTable *out = str_table();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, rel);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(out, g_strdup(k), abs_path(t, v));
    return out;
}

/* Nobody may have the current images open for writing (a VM running elsewhere). */
static bool check_not_running(const Tree *t, GHashTable *tops, GError **err)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, tops);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        g_autofree char *a = abs_path(t, v);
        BlockOpenOptions o = { .no_backing = true };
        GError *local = NULL;
        BlockImage *img = block_open(a, &o, &local);
        if (!img) {
            if (g_error_matches(local, BLOCK_ERROR, BLOCK_ERROR_LOCKED))
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED,
                            "the VM is running (%s); take, revert or delete its snapshots through "
                            "its control socket (x-snapshot-tree-take, -revert, -delete)", local->message);
            else
                g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "%s", local->message);
            g_error_free(local);
            return false;
        }
        block_close(img, NULL);
    }
    return true;
}

static char *probe_format(const char *abs, GError **err)
{
    const char *fmt;
    if (!block_probe_format(abs, &fmt, err))
        return NULL;
    return g_strdup(fmt);
}

/* The name a file in snapshots/ uses for its backing file rel (VM-folder relative). */
static char *backing_name_for(const char *rel)
{
    if (g_path_is_absolute(rel))
        return g_strdup(rel);
    if (g_str_has_prefix(rel, SNAPTREE_DIR "/"))
        return g_strdup(rel + strlen(SNAPTREE_DIR "/"));
    return g_build_filename("..", rel, NULL);
}

/* New qcow2 overlays over the given layers: slot -> new relative path. The base is not
 * opened through the chain (it may be the frozen image of a running VM). */
static GHashTable *create_overlays(const Tree *t, GHashTable *layers, GHashTable *formats,
                                   GPtrArray *created, GError **err)
{
    g_autofree char *set = g_uuid_string_random();
    g_autoptr(GHashTable) out = str_table();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, layers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autofree char *base = abs_path(t, v);
        const char *fmt = g_hash_table_lookup(formats, k);
        BlockOpenOptions o = { .read_only = true, .no_backing = true, .format = fmt, .force_share = true };
        BlockImage *img = block_open(base, &o, err);
        if (!img)
            return NULL;
        uint64_t size = block_size(img);
        block_close(img, NULL);
        g_autofree char *leaf = g_strdup_printf("layer-%s-%s.qcow2", set, (const char *)k);
        char *rel = g_build_filename(SNAPTREE_DIR, leaf, NULL);
        g_autofree char *a = abs_path(t, rel);
        g_autofree char *bname = backing_name_for(v);
        ImageCreateOptions co = { .format = "qcow2", .size = size, .size_given = true,
                                  .backing_file = bname, .backing_format = fmt,
                                  .unsafe_backing = true };
        g_ptr_array_add(created, g_strdup(a));
        if (!image_create(a, &co, err) || !fsync_path(a, err)) {
            g_free(rel);
            return NULL;
        }
        g_hash_table_insert(out, g_strdup(k), rel);
    }
    return g_steal_pointer(&out);
}

static void unlink_all(GPtrArray *files)
{
    for (guint i = 0; files && i < files->len; i++)
        g_unlink(files->pdata[i]);
}

static void garbage_add(Tree *t, const char *rel)
{
    if (!rel)
        return;
    /* Only what the tree made, or a layer inside the folder it froze: never the user's
     * files elsewhere. */
    if (inside_dir(rel))
        g_ptr_array_add(t->garbage, g_strdup(rel));
}

static void node_garbage(Tree *t, Node *n)
{
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, n->layers);
    while (g_hash_table_iter_next(&it, NULL, &v))
        garbage_add(t, v);
    garbage_add(t, n->state);
    garbage_add(t, n->thumb);
    garbage_add(t, n->conf);
}

/* Step 2: the vm.conf the operation leaves, tagged with the generation it commits. */
static bool write_next_conf(Tree *t, GKeyFile *base, GHashTable *tops, GError **err)
{
    for (const char *const *s = disk_slots; *s; s++) {
        const char *v = g_hash_table_lookup(tops, *s);
        if (v)
            g_key_file_set_string(base, VMCONF_GROUP_DRIVES, *s, v);
    }
    g_key_file_set_int64(base, CONF_GROUP, "generation", t->generation + 1);
    g_autofree char *next = g_build_filename(t->dir, NEXT_CONF, NULL);
    return write_keyfile(base, next, err);
}

/* Step 4. The operation has happened; what fails here recovery redoes. */
static void finish(Tree *t)
{
    g_autofree char *next = g_build_filename(t->dir, NEXT_CONF, NULL);
    g_autofree char *conf = g_build_filename(t->dir, VMCONF_FILE, NULL);
    if (g_file_test(next, G_FILE_TEST_EXISTS) && rename(next, conf) == 0)
        fsync_path(t->dir, NULL);
    recover_locked(t, NULL);
}

static bool valid_text(const char *what, const char *s, size_t max, bool empty_ok, GError **err)
{
    if (!s || (!*s && !empty_ok) || strlen(s) > max || !g_utf8_validate(s, -1, NULL)) {
        g_autofree char *shown = config_shorten(s ? s : "", CONFIG_QUOTE_MAX);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "'%s' is not a snapshot %s (%s1-%zu bytes of UTF-8)",
                    shown, what, empty_ok ? "0 or " : "", max);
        return false;
    }
    return true;
}

/* ---- merge ---- */

typedef struct MergeProgress {
    SnapTreeProgressFn fn;
    void *opaque;
    unsigned part, parts;
} MergeProgress;

static void merge_progress(void *opaque, double pct)
{
    MergeProgress *m = opaque;
    if (m->fn)
        m->fn(m->opaque, (m->part * 100.0 + pct) / (m->parts ? m->parts : 1));
}

/* The backing file image abs names, resolved, or NULL. */
static char *backing_of(const char *abs)
{
    BlockOpenOptions o = { .read_only = true, .no_backing = true, .force_share = true };
    BlockImage *img = block_open(abs, &o, NULL);
    if (!img)
        return NULL;
    BlockImageInfo info;
    char *out = NULL;
    if (block_get_info(img, &info, NULL)) {
        out = info.full_backing_filename;
        if (out) {
            char *c = g_canonicalize_filename(out, NULL);
            g_free(out);
            out = c;
        }
    }
    block_close(img, NULL);
    return out;
}

/* Merges n's layers into its only child (kid, or the current state when NULL): the
 * child's images get every cluster that would read differently without n, then n's
 * parent as backing file. Content-preserving, so safe to cut short (snaptree.h). */
static bool merge_into_child(Tree *t, Node *n, Node *kid, MergeProgress *mp, GError **err)
{
    GHashTable *klayers = kid ? kid->layers : t->cur_layers;
    Node *p = find_node(t, n->parent);
    g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, klayers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *nl = g_hash_table_lookup(n->layers, k);
        if (!nl)
            continue;
        g_autofree char *ka = abs_path(t, v);
        g_autofree char *na = abs_path(t, nl);
        g_autofree char *b = backing_of(ka);
        g_autofree char *nc = g_canonicalize_filename(na, NULL);
        /* A disk the user replaced after n was taken is not n's child. */
        if (b && !strcmp(b, nc))
            g_ptr_array_add(jobs, g_strdup(k));
    }
    /* Room for the worst case: all of n's data moves up. */
    uint64_t need = OVERLAY_RESERVE;
    for (guint i = 0; i < jobs->len; i++) {
        g_autofree char *na = abs_path(t, g_hash_table_lookup(n->layers, jobs->pdata[i]));
        need += file_usage(na);
    }
    if (!check_space(t, need, err))
        return false;
    GString *j = g_string_new(NULL);
    for (guint i = 0; i < jobs->len; i++)
        g_string_append_printf(j, "%s\n", (const char *)g_hash_table_lookup(klayers, jobs->pdata[i]));
    g_autofree char *journal = g_build_filename(t->dir, JOURNAL, NULL);
    bool ok = write_atomic(journal, j->str, j->len, err);
    g_string_free(j, TRUE);
    mp->parts += jobs->len;
    for (guint i = 0; ok && i < jobs->len; i++) {
        const char *slot = jobs->pdata[i];
        g_autofree char *ka = abs_path(t, g_hash_table_lookup(klayers, slot));
        const char *pl = p ? g_hash_table_lookup(p->layers, slot) : NULL;
        const char *pf = p ? g_hash_table_lookup(p->formats, slot) : NULL;
        g_autofree char *bname = pl ? backing_name_for(pl) : NULL;
        /* The child's backing name must be relative to the child's own folder. */
        if (pl && !g_str_has_prefix(g_hash_table_lookup(klayers, slot), SNAPTREE_DIR "/")) {
            g_autofree char *pa = abs_path(t, pl);
            g_free(bname);
            bname = g_strdup(pa);
        }
        ok = image_rebase(ka, "qcow2", bname ? bname : "", pf, false, BLOCK_CACHE_WRITEBACK,
                          BLOCK_CACHE_WRITEBACK, merge_progress, mp, err);
        if (ok && kid) {
            /* Keep the child's formats in step for its own children. */
            g_hash_table_insert(kid->formats, g_strdup(slot), g_strdup("qcow2"));
        }
        mp->part++;
        if (!ok)
            g_prefix_error(err, "merging snapshot '%s' into its child: ", n->name);
    }
    return ok;
}

static void remove_node(Tree *t, Node *n)
{
    g_ptr_array_remove(t->nodes, n);
}

/* n lost a child or was deleted: hides, merges or frees it and walks up while hidden
 * parents follow. */
static bool settle(Tree *t, Node *n, MergeProgress *mp, GError **err)
{
    while (n) {
        Node *only = NULL;
        unsigned kids = child_count(t, n, &only);
        Node *parent = find_node(t, n->parent);
        if (kids >= 2) {
            n->hidden = true;
            return true;
        }
        if (kids == 1) {
            if (!merge_into_child(t, n, only, mp, err))
                return false;
            if (only) {
                g_free(only->parent);
                only->parent = g_strdup(n->parent);
            } else {
                g_free(t->cur_parent);
                t->cur_parent = g_strdup(n->parent);
            }
            node_garbage(t, n);
            remove_node(t, n);
            return true; /* the parent keeps the same number of children */
        }
        node_garbage(t, n);
        remove_node(t, n);
        n = parent && parent->hidden ? parent : NULL;
    }
    return true;
}

/* ---- operations ---- */

static GKeyFile *load_conf(const Tree *t, GError **err)
{
    return vmconf_load(t->dir, err);
}

static bool use_tops(Tree *t, GKeyFile *conf, GError **err)
{
    g_autoptr(GHashTable) tops = conf_tops(t, conf);
    if (g_hash_table_size(tops) == 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                    "the VM has no disk to snapshot (hda, hdb, hdd, vda-vdd, fda or fdb in vm.conf)");
        return false;
    }
    g_hash_table_unref(t->cur_layers);
    t->cur_layers = g_steal_pointer(&tops);
    return true;
}

static GHashTable *abs_tops(const Tree *t)
{
    GHashTable *out = str_table();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t->cur_layers);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(out, g_strdup(k), abs_path(t, v));
    return out;
}

char *snaptree_take_op(const char *vm_dir, const char *name, const char *description,
                       SnapTreeOp *op, GError **err)
{
    if (!valid_text("name", name, NAME_MAX_LEN, false, err) ||
        !valid_text("description", description ? description : "", DESC_MAX_LEN, true, err))
        return NULL;
    g_autoptr(Tree) t = tree_begin(vm_dir, err);
    if (!t)
        return NULL;
    g_autoptr(GKeyFile) conf = load_conf(t, err);
    if (!conf || !use_tops(t, conf, err))
        return NULL;
    if (!op->vm_running && !check_not_running(t, t->cur_layers, err))
        return NULL;
    if (!check_space(t, OVERLAY_RESERVE * (g_hash_table_size(t->cur_layers) + 1) + op->state_len, err))
        return NULL;

    Node *n = node_new();
    n->id = g_uuid_string_random();
    n->parent = g_strdup(t->cur_parent);
    n->name = g_strdup(name);
    n->desc = g_strdup(description ? description : "");
    n->created = g_get_real_time() / G_USEC_PER_SEC;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, t->cur_layers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_autofree char *a = abs_path(t, v);
        char *fmt = probe_format(a, err);
        if (!fmt) {
            node_free(n);
            return NULL;
        }
        g_hash_table_insert(n->layers, g_strdup(k), g_strdup(v));
        g_hash_table_insert(n->formats, g_strdup(k), fmt);
    }
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    bool ok = true;
    /* Step 1: the new files. */
    if (op->state) {
        n->state = g_strdup_printf(SNAPTREE_DIR "/state-%s.vmstate", n->id);
        g_autofree char *a = abs_path(t, n->state);
        g_ptr_array_add(created, g_strdup(a));
        ok = write_atomic(a, op->state, op->state_len, err);
    } else if (t->cur_state) {
        /* Reverted to a running snapshot and not started since: the disks are still
         * that state's, so this snapshot resumes it too. */
        n->state = g_strdup(t->cur_state);
    }
    g_autofree char *thumb_src = op->thumb_tmp ? g_strdup(op->thumb_tmp)
                                               : g_build_filename(t->dir, VM_LIBRARY_THUMBNAIL, NULL);
    if (ok && g_file_test(thumb_src, G_FILE_TEST_IS_REGULAR)) {
        n->thumb = g_strdup_printf(SNAPTREE_DIR "/thumb-%s.png", n->id);
        g_autofree char *a = abs_path(t, n->thumb);
        g_autofree char *data = NULL;
        gsize len;
        g_ptr_array_add(created, g_strdup(a));
        ok = g_file_get_contents(thumb_src, &data, &len, err) && write_atomic(a, data, len, err);
    }
    if (ok) {
        n->conf = g_strdup_printf(SNAPTREE_DIR "/conf-%s.conf", n->id);
        g_autofree char *a = abs_path(t, n->conf);
        g_ptr_array_add(created, g_strdup(a));
        ok = write_keyfile(conf, a, err);
    }
    g_autoptr(GHashTable) tops = ok ? create_overlays(t, n->layers, n->formats, created, err) : NULL;
    g_autofree char *sdir = g_build_filename(t->dir, SNAPTREE_DIR, NULL);
    /* Step 2, then the commit. */
    if (!tops || !fsync_path(sdir, err) || !write_next_conf(t, conf, tops, err)) {
        unlink_all(created);
        node_free(n);
        return NULL;
    }
    g_ptr_array_add(t->nodes, n);
    g_free(t->cur_parent);
    t->cur_parent = g_strdup(n->id);
    if (op->vm_running)
        g_clear_pointer(&t->cur_state, g_free);
    g_hash_table_unref(t->cur_layers);
    t->cur_layers = g_hash_table_ref(tops);
    if (!tree_commit(t, err)) {
        unlink_all(created);
        g_autofree char *next = g_build_filename(t->dir, NEXT_CONF, NULL);
        g_unlink(next);
        return NULL;
    }
    finish(t);
    op->tops = abs_tops(t);
    return g_strdup(n->id);
}

char *snaptree_take(const char *vm_dir, const char *name, const char *description, GError **err)
{
    SnapTreeOp op = { 0 };
    char *id = snaptree_take_op(vm_dir, name, description, &op, err);
    snaptree_op_clear(&op);
    return id;
}

static Node *visible_node(Tree *t, const char *id, GError **err)
{
    Node *n = find_node(t, id);
    if (!n || n->hidden) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no snapshot '%s'", id ? id : "");
        return NULL;
    }
    return n;
}

bool snaptree_revert_op(const char *vm_dir, const char *id, SnapTreeOp *op, GError **err)
{
    g_autoptr(Tree) t = tree_begin(vm_dir, err);
    if (!t)
        return false;
    Node *n = visible_node(t, id, err);
    g_autoptr(GKeyFile) conf = n ? load_conf(t, err) : NULL;
    if (!conf)
        return false;
    g_autoptr(GHashTable) old = conf_tops(t, conf);
    if (!op->vm_running && !check_not_running(t, old, err))
        return false;
    if (!check_space(t, OVERLAY_RESERVE * (g_hash_table_size(n->layers) + 1), err))
        return false;
    /* The snapshot's vm.conf comes back (the state needs its memory size and devices). */
    g_autoptr(GKeyFile) next = NULL;
    if (n->conf) {
        g_autofree char *a = abs_path(t, n->conf);
        next = read_keyfile(a, err);
        if (!next)
            return false;
        /* Disks the snapshot did not have leave the VM with it. */
        for (const char *const *s = disk_slots; *s; s++)
            if (!g_hash_table_contains(n->layers, *s))
                g_key_file_remove_key(next, VMCONF_GROUP_DRIVES, *s, NULL);
    } else {
        next = g_key_file_ref(conf);
    }
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) tops = create_overlays(t, n->layers, n->formats, created, err);
    g_autofree char *sdir = g_build_filename(t->dir, SNAPTREE_DIR, NULL);
    if (!tops || !fsync_path(sdir, err) || !write_next_conf(t, next, tops, err)) {
        unlink_all(created);
        return false;
    }
    /* The current top layers are thrown away; only overlays the tree made are deleted. */
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, NULL, &v))
        if (tree_owned(v))
            garbage_add(t, v);
    Node *old_parent = find_node(t, t->cur_parent);
    g_free(t->cur_parent);
    t->cur_parent = g_strdup(n->id);
    g_hash_table_unref(t->cur_layers);
    t->cur_layers = g_hash_table_ref(tops);
    g_free(t->cur_state);
    t->cur_state = op->vm_running ? NULL : g_strdup(n->state);
    MergeProgress mp = { 0 };
    if (old_parent && old_parent != n && old_parent->hidden && !settle(t, old_parent, &mp, err)) {
        unlink_all(created);
        g_autofree char *nc = g_build_filename(t->dir, NEXT_CONF, NULL);
        g_unlink(nc);
        return false;
    }
    g_autoptr(GHashTable) new_tops = abs_tops(t);
    if ((op->before_commit && !op->before_commit(op, new_tops, err)) || !tree_commit(t, err)) {
        unlink_all(created);
        g_autofree char *nc = g_build_filename(t->dir, NEXT_CONF, NULL);
        g_unlink(nc);
        return false;
    }
    finish(t);
    op->tops = abs_tops(t);
    return true;
}

bool snaptree_revert(const char *vm_dir, const char *id, GError **err)
{
    SnapTreeOp op = { 0 };
    bool ok = snaptree_revert_op(vm_dir, id, &op, err);
    snaptree_op_clear(&op);
    return ok;
}

bool snaptree_delete_op(const char *vm_dir, const char *id, SnapTreeProgressFn progress,
                        void *opaque, SnapTreeOp *op, GError **err)
{
    g_autoptr(Tree) t = tree_begin(vm_dir, err);
    if (!t)
        return false;
    Node *n = visible_node(t, id, err);
    g_autoptr(GKeyFile) conf = n ? load_conf(t, err) : NULL;
    if (!conf || !use_tops(t, conf, err))
        return false;
    if (!op->vm_running && !check_not_running(t, t->cur_layers, err))
        return false;
    MergeProgress mp = { progress, opaque, 0, 0 };
    if (!settle(t, n, &mp, err))
        return false;
    /* The state a revert left pending may belong to the deleted snapshot: it stays
     * until the next start consumed it, so it is not garbage (referenced() keeps it). */
    if (t->cur_state)
        for (guint i = 0; i < t->garbage->len; i++)
            if (!strcmp(t->garbage->pdata[i], t->cur_state))
                g_ptr_array_remove_index(t->garbage, i--);
    if (!tree_commit(t, err))
        return false;
    g_autofree char *journal = g_build_filename(t->dir, JOURNAL, NULL);
    g_unlink(journal);
    finish(t);
    if (progress)
        progress(opaque, 100.0);
    op->tops = abs_tops(t);
    return true;
}

bool snaptree_delete(const char *vm_dir, const char *id, SnapTreeProgressFn progress,
                     void *opaque, GError **err)
{
    SnapTreeOp op = { 0 };
    bool ok = snaptree_delete_op(vm_dir, id, progress, opaque, &op, err);
    snaptree_op_clear(&op);
    return ok;
}

bool snaptree_set_info(const char *vm_dir, const char *id, const char *name,
                       const char *description, GError **err)
{
    if ((name && !valid_text("name", name, NAME_MAX_LEN, false, err)) ||
        (description && !valid_text("description", description, DESC_MAX_LEN, true, err)))
        return false;
    g_autoptr(Tree) t = tree_begin(vm_dir, err);
    if (!t)
        return false;
    Node *n = visible_node(t, id, err);
    if (!n)
        return false;
    if (name) {
        g_free(n->name);
        n->name = g_strdup(name);
    }
    if (description) {
        g_free(n->desc);
        n->desc = g_strdup(description);
    }
    return tree_commit(t, err);
}

/* ---- queries ---- */

static Tree *tree_read(const char *vm_dir, GError **err)
{
    if (!snaptree_recover(vm_dir, err))
        return NULL;
    bool exists;
    return tree_load(vm_dir, &exists, err);
}

static gint by_date(gconstpointer a, gconstpointer b)
{
    const Node *x = *(Node *const *)a, *y = *(Node *const *)b;
    return x->created != y->created ? (x->created < y->created ? -1 : 1) : strcmp(x->id, y->id);
}

/* Depth first: a hidden node's children hang from its nearest visible ancestor. */
static void list_under(Tree *t, const char *parent, const char *shown_parent, unsigned depth, GPtrArray *out)
{
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *n = t->nodes->pdata[i];
        if (g_strcmp0(n->parent, parent))
            continue;
        if (n->hidden) {
            list_under(t, n->id, shown_parent, depth, out);
            continue;
        }
        SnapTreeNode *s = g_new0(SnapTreeNode, 1);
        s->id = g_strdup(n->id);
        s->parent_id = g_strdup(shown_parent);
        s->name = g_strdup(n->name);
        s->description = g_strdup(n->desc ? n->desc : "");
        s->created = n->created;
        s->has_state = n->state != NULL;
        if (n->state) {
            g_autofree char *a = abs_path(t, n->state);
            GStatBuf st;
            s->state_size = g_stat(a, &st) == 0 ? (uint64_t)st.st_size : 0;
        }
        s->thumbnail = n->thumb ? abs_path(t, n->thumb) : NULL;
        s->current = !g_strcmp0(t->cur_parent, n->id);
        s->depth = depth;
        g_ptr_array_add(out, s);
        list_under(t, n->id, n->id, depth + 1, out);
    }
}

GPtrArray *snaptree_list(const char *vm_dir, GError **err)
{
    g_autoptr(Tree) t = tree_read(vm_dir, err);
    if (!t)
        return NULL;
    g_ptr_array_sort(t->nodes, by_date);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)snaptree_node_free);
    list_under(t, NULL, NULL, 0, out);
    /* "You are here" on a hidden snapshot shows on its nearest visible ancestor. */
    Node *h = find_node(t, t->cur_parent);
    while (h && h->hidden)
        h = find_node(t, h->parent);
    for (guint i = 0; h && i < out->len; i++) {
        SnapTreeNode *s = out->pdata[i];
        s->current = !strcmp(s->id, h->id);
    }
    return out;
}

char *snaptree_resolve(const char *vm_dir, const char *id_or_name, GError **err)
{
    g_autoptr(Tree) t = tree_read(vm_dir, err);
    if (!t)
        return NULL;
    Node *n = find_node(t, id_or_name);
    if (n && !n->hidden)
        return g_strdup(n->id);
    GPtrArray *hits = g_ptr_array_new();
    size_t len = strlen(id_or_name);
    for (guint i = 0; i < t->nodes->len; i++) {
        Node *m = t->nodes->pdata[i];
        if (!m->hidden && !strcmp(m->name, id_or_name))
            g_ptr_array_add(hits, m);
    }
    for (guint i = 0; hits->len == 0 && len >= 4 && i < t->nodes->len; i++) {
        Node *m = t->nodes->pdata[i];
        if (!m->hidden && !strncmp(m->id, id_or_name, len))
            g_ptr_array_add(hits, m);
    }
    char *out = NULL;
    if (hits->len == 1) {
        out = g_strdup(((Node *)hits->pdata[0])->id);
    } else if (hits->len == 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no snapshot '%s'", id_or_name);
    } else {
        GString *ids = g_string_new(NULL);
        for (guint i = 0; i < hits->len; i++)
            g_string_append_printf(ids, "%s%s", i ? ", " : "", ((Node *)hits->pdata[i])->id);
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "%u snapshots are named '%s': give an id (%s)",
                    hits->len, id_or_name, ids->str);
        g_string_free(ids, TRUE);
    }
    g_ptr_array_unref(hits);
    return out;
}

char *snaptree_state_file(const char *vm_dir, const char *id, GError **err)
{
    g_autoptr(Tree) t = tree_read(vm_dir, err);
    if (!t)
        return NULL;
    Node *n = visible_node(t, id, err);
    return n && n->state ? abs_path(t, n->state) : NULL;
}

bool snaptree_current_changes(const char *vm_dir, uint64_t *bytes, GError **err)
{
    *bytes = 0;
    g_autoptr(GHashTable) tops = snaptree_current_tops(vm_dir, err);
    if (!tops)
        return false;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init(&it, tops);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        BlockOpenOptions o = { .read_only = true, .no_backing = true, .force_share = true };
        BlockImage *img = block_open(v, &o, err);
        if (!img)
            return false;
        uint64_t size = block_size(img);
        bool ok = true;
        for (uint64_t off = 0; ok && off < size;) {
            BlockStatus st;
            ok = block_get_status(img, off, size - off, &st, err);
            if (ok && st.allocated)
                *bytes += st.length;
            off += ok ? st.length : 0;
        }
        block_close(img, NULL);
        if (!ok)
            return false;
    }
    return true;
}

char *snaptree_pending_state(const char *vm_dir, GError **err)
{
    g_autoptr(Tree) t = tree_read(vm_dir, err);
    if (!t || !t->cur_state)
        return NULL;
    return abs_path(t, t->cur_state);
}

bool snaptree_clear_pending_state(const char *vm_dir, GError **err)
{
    g_autoptr(Tree) t = tree_begin(vm_dir, err);
    if (!t)
        return false;
    if (!t->cur_state)
        return true;
    g_clear_pointer(&t->cur_state, g_free);
    if (!tree_commit(t, err))
        return false;
    finish(t); /* frees the state file if no snapshot holds it any more */
    return true;
}
