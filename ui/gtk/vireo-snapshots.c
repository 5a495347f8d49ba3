/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The Snapshots window (ui/gtk/vireo-snapshots.h). engine/snaptree.h does the work and
 * keeps every step crash-safe; this file asks, shows progress and lists the tree. A
 * stopped VM's operations run on a GTask thread (a delete may merge gigabytes); a
 * running VM's go through its Vm on the main loop, which pauses the guest meanwhile. */
#include "ui/gtk/vireo-snapshots.h"
#include "engine/snaptree.h"

#include <glib/gi18n.h>

#define WINDOW_KEY "vireo-snapshots-window"

struct _VireoSnapshotsWindow {
    AdwWindow parent;
    VireoMachine *machine;
    AdwToastOverlay *toasts;
    GtkStack *stack;            /* "empty" or "list" */
    GtkListBox *list;
    GtkLabel *error;
    GtkProgressBar *progress;
    GtkWidget *take;
    GPtrArray *nodes;           /* SnapTreeNode, as last listed */
    bool busy;
    bool snapshot_first;        /* the revert dialog's choice, remembered */
};

G_DEFINE_FINAL_TYPE(VireoSnapshotsWindow, vireo_snapshots_window, ADW_TYPE_WINDOW)

typedef enum { OP_TAKE, OP_REVERT, OP_DELETE, OP_INFO } OpKind;

typedef struct Op {
    VireoSnapshotsWindow *w;    /* a reference */
    OpKind kind;
    char *dir;
    char *id;
    char *name;                 /* take: the new name; info: the new name or NULL */
    char *description;
    char *first_name;           /* revert: take a snapshot by this name first, or NULL */
    char *done;                 /* the toast once it worked */
} Op;

static void op_free(Op *op)
{
    g_object_unref(op->w);
    g_free(op->dir);
    g_free(op->id);
    g_free(op->name);
    g_free(op->description);
    g_free(op->first_name);
    g_free(op->done);
    g_free(op);
}

static void refresh(VireoSnapshotsWindow *w);

/* ---- running an operation ---- */

typedef struct Progress {
    VireoSnapshotsWindow *w;
    double percent;
} Progress;

static gboolean progress_show(gpointer data)
{
    Progress *p = data;
    gtk_progress_bar_set_fraction(p->w->progress, p->percent / 100.0);
    g_object_unref(p->w);
    g_free(p);
    return G_SOURCE_REMOVE;
}

/* Called on the worker thread (stopped VM) or the main loop (running VM). */
static void on_progress(void *opaque, double percent)
{
    Progress *p = g_new0(Progress, 1);
    p->w = g_object_ref(opaque);
    p->percent = percent;
    g_idle_add(progress_show, p);
}

/* The work itself; vm is the running VM or NULL. */
static bool op_run(Op *op, Vm *vm, GError **err)
{
    switch (op->kind) {
    case OP_TAKE: {
        g_autofree char *id = vm ? vm_snaptree_take(vm, op->name, op->description, err)
                                 : snaptree_take(op->dir, op->name, op->description, err);
        return id != NULL;
    }
    case OP_REVERT:
        if (op->first_name) {
            g_autofree char *id = vm ? vm_snaptree_take(vm, op->first_name, NULL, err)
                                     : snaptree_take(op->dir, op->first_name, NULL, err);
            if (!id)
                return false;
        }
        return vm ? vm_snaptree_revert(vm, op->id, err) : snaptree_revert(op->dir, op->id, err);
    case OP_DELETE:
        return vm ? vm_snaptree_delete(vm, op->id, on_progress, op->w, err)
                  : snaptree_delete(op->dir, op->id, on_progress, op->w, err);
    case OP_INFO:
        return snaptree_set_info(op->dir, op->id, op->name, op->description, err);
    }
    g_assert_not_reached();
}

static void op_thread(GTask *task, gpointer source, gpointer data, GCancellable *c)
{
    GError *err = NULL;
    if (op_run(data, NULL, &err))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, err);
}

static void set_busy(VireoSnapshotsWindow *w, bool busy)
{
    w->busy = busy;
    gtk_widget_set_visible(GTK_WIDGET(w->progress), busy);
    gtk_progress_bar_set_fraction(w->progress, 0);
    gtk_widget_set_sensitive(GTK_WIDGET(w->list), !busy);
    gtk_widget_set_sensitive(w->take, !busy);
}

static void op_finish(Op *op, GError *err)
{
    VireoSnapshotsWindow *w = op->w;
    set_busy(w, false);
    /* The operation rewrote vm.conf's drives; a running machine rereads it when it stops. */
    if (!vireo_machine_get_vm(w->machine))
        vireo_machine_reload(w->machine);
    if (err) {
        gtk_label_set_text(w->error, err->message);
        gtk_widget_set_visible(GTK_WIDGET(w->error), true);
        adw_toast_overlay_add_toast(w->toasts, adw_toast_new(_("The snapshot operation failed")));
    } else {
        gtk_widget_set_visible(GTK_WIDGET(w->error), false);
        adw_toast_overlay_add_toast(w->toasts, adw_toast_new(op->done));
    }
    refresh(w);
}

static void on_op_done(GObject *source, GAsyncResult *res, gpointer data)
{
    GError *err = NULL;
    g_task_propagate_boolean(G_TASK(res), &err);
    op_finish(data, err);
    g_clear_error(&err);
}

static void op_start(Op *op)
{
    VireoSnapshotsWindow *w = op->w;
    set_busy(w, true);
    Vm *vm = vireo_machine_get_vm(w->machine);
    if (vm) {
        GError *err = NULL;
        op_run(op, vm, &err);
        op_finish(op, err);
        g_clear_error(&err);
        op_free(op);
        return;
    }
    GTask *task = g_task_new(NULL, NULL, on_op_done, op);
    g_task_set_task_data(task, op, (GDestroyNotify)op_free);
    g_task_run_in_thread(task, op_thread);
    g_object_unref(task);
}

static Op *op_new(VireoSnapshotsWindow *w, OpKind kind, const SnapTreeNode *n)
{
    Op *op = g_new0(Op, 1);
    op->w = g_object_ref(w);
    op->kind = kind;
    op->dir = g_strdup(vireo_machine_get_dir(w->machine));
    op->id = n ? g_strdup(n->id) : NULL;
    return op;
}

/* ---- take ---- */

static bool name_taken(VireoSnapshotsWindow *w, const char *name)
{
    for (guint i = 0; w->nodes && i < w->nodes->len; i++)
        if (!g_strcmp0(((SnapTreeNode *)w->nodes->pdata[i])->name, name))
            return true;
    return false;
}

static void take(VireoSnapshotsWindow *w)
{
    if (w->busy)
        return;
    Op *op = op_new(w, OP_TAKE, NULL);
    for (unsigned k = w->nodes ? w->nodes->len + 1 : 1; !op->name || name_taken(w, op->name); k++) {
        g_free(op->name);
        op->name = g_strdup_printf(_("Snapshot %u"), k);
    }
    op->done = g_strdup_printf(_("“%s” taken"), op->name);
    op_start(op);
}

static void on_take_clicked(GtkButton *b, VireoSnapshotsWindow *w)
{
    take(w);
}

/* ---- revert, delete, edit ---- */

static const SnapTreeNode *node_of(VireoSnapshotsWindow *w, GtkWidget *button)
{
    const char *id = g_object_get_data(G_OBJECT(button), "snapshot-id");
    for (guint i = 0; w->nodes && i < w->nodes->len; i++) {
        const SnapTreeNode *n = w->nodes->pdata[i];
        if (!g_strcmp0(n->id, id))
            return n;
    }
    return NULL;
}

static GtkWidget *ask(VireoSnapshotsWindow *w, const char *heading, const char *body,
                      const char *response, const char *label, bool destructive)
{
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(w), heading, body);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", _("_Cancel"), response, label, NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), response,
                                               destructive ? ADW_RESPONSE_DESTRUCTIVE : ADW_RESPONSE_SUGGESTED);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), destructive ? "cancel" : response);
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    return d;
}

static void on_revert_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    Op *op = data;
    VireoSnapshotsWindow *w = op->w;
    if (g_strcmp0(response, "revert")) {
        op_free(op);
        return;
    }
    GtkCheckButton *first = g_object_get_data(G_OBJECT(d), "snapshot-first");
    w->snapshot_first = gtk_check_button_get_active(first);
    if (w->snapshot_first) {
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        g_autofree char *when = g_date_time_format(now, "%x %X");
        op->first_name = g_strdup_printf(_("Before reverting (%s)"), when);
    }
    op_start(op);
}

static void on_revert_clicked(GtkButton *b, VireoSnapshotsWindow *w)
{
    const SnapTreeNode *n = node_of(w, GTK_WIDGET(b));
    if (!n || w->busy)
        return;
    uint64_t changed = 0;
    g_autoptr(GError) err = NULL;
    g_autofree char *lost = NULL;
    if (snaptree_current_changes(vireo_machine_get_dir(w->machine), &changed, &err)) {
        g_autofree char *size = g_format_size_full(changed, G_FORMAT_SIZE_IEC_UNITS);
        lost = changed ? g_strdup_printf(_("What was written to the disks since the last snapshot or revert (%s) is lost."), size)
                       : g_strdup(_("Nothing was written to the disks since the last snapshot or revert."));
    } else {
        lost = g_strdup_printf(_("What was written to the disks since the last snapshot or revert is lost (how much could not be read: %s)."),
                               err->message);
    }
    bool running = vireo_machine_get_vm(w->machine) != NULL;
    const char *then = n->has_state
                           ? (running ? _("The machine continues from the moment of the snapshot.")
                                      : _("The machine continues from the moment of the snapshot when it starts."))
                           : (running ? _("The machine restarts on the snapshot’s disks, as after a reset.")
                                      : _("The machine starts from the snapshot’s disks."));
    g_autofree char *heading = g_strdup_printf(_("Revert to “%s”?"), n->name);
    g_autofree char *body = g_strdup_printf("%s %s", lost, then);
    GtkWidget *d = ask(w, heading, body, "revert", _("_Revert"), true);
    GtkWidget *first = gtk_check_button_new_with_mnemonic(_("_Take a snapshot of the current state first"));
    gtk_widget_set_name(first, "snapshot-first");
    gtk_check_button_set_active(GTK_CHECK_BUTTON(first), w->snapshot_first);
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), first);
    g_object_set_data(G_OBJECT(d), "snapshot-first", first);
    Op *op = op_new(w, OP_REVERT, n);
    op->done = g_strdup_printf(_("Reverted to “%s”"), n->name);
    g_signal_connect(d, "response", G_CALLBACK(on_revert_response), op);
    gtk_window_present(GTK_WINDOW(d));
}

static void on_delete_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    Op *op = data;
    if (g_strcmp0(response, "delete"))
        op_free(op);
    else
        op_start(op);
}

static void on_delete_clicked(GtkButton *b, VireoSnapshotsWindow *w)
{
    const SnapTreeNode *n = node_of(w, GTK_WIDGET(b));
    if (!n || w->busy)
        return;
    g_autofree char *heading = g_strdup_printf(_("Delete “%s”?"), n->name);
    GtkWidget *d = ask(w, heading,
                       _("It can no longer be reverted to. The machine’s current state and the other snapshots stay as they are; "
                         "its data is merged into the snapshot that grew from it."),
                       "delete", _("_Delete"), true);
    Op *op = op_new(w, OP_DELETE, n);
    op->done = g_strdup_printf(_("“%s” deleted"), n->name);
    g_signal_connect(d, "response", G_CALLBACK(on_delete_response), op);
    gtk_window_present(GTK_WINDOW(d));
}

static void on_edit_response(AdwMessageDialog *d, const char *response, gpointer data)
{
    Op *op = data;
    if (g_strcmp0(response, "save")) {
        op_free(op);
        return;
    }
    GtkEditable *name = g_object_get_data(G_OBJECT(d), "edit-name");
    GtkEditable *desc = g_object_get_data(G_OBJECT(d), "edit-description");
    g_autofree char *text = g_strstrip(g_strdup(gtk_editable_get_text(name)));
    op->name = *text ? g_steal_pointer(&text) : NULL;   /* empty: keep the name */
    op->description = g_strdup(gtk_editable_get_text(desc));
    op->done = g_strdup(_("Snapshot details saved"));
    op_start(op);
}

static void on_edit_clicked(GtkButton *b, VireoSnapshotsWindow *w)
{
    const SnapTreeNode *n = node_of(w, GTK_WIDGET(b));
    if (!n || w->busy)
        return;
    GtkWidget *d = ask(w, _("Snapshot Details"), NULL, "save", _("_Save"), false);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    GtkWidget *name = gtk_entry_new();
    gtk_widget_set_name(name, "edit-name");
    gtk_editable_set_text(GTK_EDITABLE(name), n->name);
    gtk_entry_set_activates_default(GTK_ENTRY(name), TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(name), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Name"), -1);
    GtkWidget *desc = gtk_entry_new();
    gtk_widget_set_name(desc, "edit-description");
    gtk_entry_set_placeholder_text(GTK_ENTRY(desc), _("Description"));
    gtk_editable_set_text(GTK_EDITABLE(desc), n->description ? n->description : "");
    gtk_entry_set_activates_default(GTK_ENTRY(desc), TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(desc), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Description"), -1);
    gtk_box_append(GTK_BOX(box), name);
    gtk_box_append(GTK_BOX(box), desc);
    adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(d), box);
    g_object_set_data(G_OBJECT(d), "edit-name", name);
    g_object_set_data(G_OBJECT(d), "edit-description", desc);
    Op *op = op_new(w, OP_INFO, n);
    g_signal_connect(d, "response", G_CALLBACK(on_edit_response), op);
    gtk_window_present(GTK_WINDOW(d));
}

/* ---- the list ---- */

static GtkWidget *row_button(VireoSnapshotsWindow *w, const SnapTreeNode *n, const char *icon,
                             const char *tip, const char *prefix, GCallback cb)
{
    GtkWidget *b = gtk_button_new_from_icon_name(icon);
    gtk_widget_add_css_class(b, "flat");
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    gtk_widget_set_tooltip_text(b, tip);
    g_autofree char *name = g_strdup_printf("%s-%s", prefix, n->name);
    gtk_widget_set_name(b, name);
    g_object_set_data_full(G_OBJECT(b), "snapshot-id", g_strdup(n->id), g_free);
    g_signal_connect(b, "clicked", cb, w);
    return b;
}

/* ---- tree lines ---- */

/* A row's indentation: the start margin of a node's thumbnail is TREE_MARGIN plus
 * TREE_STEP per level (at most TREE_MAX_DEPTH); the line of level c runs down at
 * TREE_MARGIN + c * TREE_STEP + TREE_STEP / 2, under the left half of the parent's
 * thumbnail, and turns right into the child's. */
#define TREE_MARGIN 12
#define TREE_STEP 48
#define TREE_MAX_DEPTH 12u
#define THUMB_HEIGHT 72
/* Without a picture the row shows a 32-pixel icon in the middle of the 96x72 box. */
#define ICON_INSET 28
#define ICON_HALF 16

/* What the lines of one row are, worked out from the list (parents before children,
 * depth first): pass[c] says the line of level c continues past this row (an ancestor's
 * later sibling follows), last says this node is its parent's last child. */
typedef struct TreeLines {
    unsigned depth;
    bool last;
    bool children;
    bool picture;           /* a thumbnail, not the placeholder icon */
    bool pass[TREE_MAX_DEPTH];
} TreeLines;

static unsigned node_depth(const SnapTreeNode *n)
{
    return MIN(n->depth, TREE_MAX_DEPTH);
}

/* Whether the node at i has a sibling later in the list. */
static bool has_later_sibling(GPtrArray *nodes, guint i)
{
    unsigned d = node_depth(nodes->pdata[i]);
    for (guint j = i + 1; j < nodes->len; j++) {
        unsigned dj = node_depth(nodes->pdata[j]);
        if (dj < d)
            return false;
        if (dj == d)
            return true;
    }
    return false;
}

static TreeLines tree_lines(GPtrArray *nodes, guint i)
{
    const SnapTreeNode *n = nodes->pdata[i];
    TreeLines t = { .depth = node_depth(n), .picture = n->thumbnail != NULL };
    t.last = !has_later_sibling(nodes, i);
    t.children = i + 1 < nodes->len && node_depth(nodes->pdata[i + 1]) > t.depth;
    /* The ancestor at each depth k: the nearest earlier node that deep. */
    unsigned want = t.depth;
    for (guint j = i; j-- > 0 && want > 1;) {
        unsigned dj = node_depth(nodes->pdata[j]);
        if (dj < want) {
            want = dj;
            /* Its line (level dj - 1) goes on if it has a later sibling. */
            if (dj >= 1)
                t.pass[dj - 1] = has_later_sibling(nodes, j);
        }
    }
    return t;
}

static void draw_tree_lines(GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
    const TreeLines *t = data;
    GdkRGBA color;
    gtk_style_context_get_color(gtk_widget_get_style_context(GTK_WIDGET(area)), &color);
    cairo_set_source_rgba(cr, color.red, color.green, color.blue, color.alpha * 0.35);
    cairo_set_line_width(cr, 2);
    double mid = height / 2.0;
#define LEVEL_X(c) (TREE_MARGIN + (c) * TREE_STEP + TREE_STEP / 2.0)
    for (unsigned c = 0; c + 1 < t->depth; c++) {
        if (t->pass[c]) {
            cairo_move_to(cr, LEVEL_X(c), 0);
            cairo_line_to(cr, LEVEL_X(c), height);
        }
    }
    if (t->depth > 0) {
        double x = LEVEL_X(t->depth - 1);
        cairo_move_to(cr, x, 0);
        cairo_line_to(cr, x, t->last ? mid : height);
        cairo_move_to(cr, x, mid);
        cairo_line_to(cr, TREE_MARGIN + t->depth * TREE_STEP + (t->picture ? 0 : ICON_INSET), mid);
    }
    if (t->children) {
        /* Down from under this node's picture (or icon) to its children. */
        cairo_move_to(cr, LEVEL_X(t->depth), mid + (t->picture ? THUMB_HEIGHT / 2.0 : ICON_HALF + 4));
        cairo_line_to(cr, LEVEL_X(t->depth), height);
    }
#undef LEVEL_X
    cairo_stroke(cr);
}

/* The connector of a row as text ("├", "└" or "" for a root), for tests and screen
 * readers' descriptions. */
static const char *tree_connector(const TreeLines *t)
{
    return t->depth == 0 ? "" : t->last ? "└" : "├";
}

static GtkWidget *row_new(VireoSnapshotsWindow *w, const SnapTreeNode *n, const TreeLines *lines)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
    /* The tree: children indented under their parent, joined by lines. */
    gtk_widget_set_margin_start(box, TREE_MARGIN + TREE_STEP * (int)node_depth(n));
    gtk_widget_set_margin_end(box, 6);
    gtk_widget_set_margin_top(box, 6);
    gtk_widget_set_margin_bottom(box, 6);

    GtkWidget *thumb = n->thumbnail ? gtk_picture_new_for_filename(n->thumbnail)
                                    : gtk_image_new_from_icon_name("drive-harddisk-symbolic");
    g_autofree char *thumb_name = g_strdup_printf("thumb-%s", n->name);
    gtk_widget_set_name(thumb, thumb_name);
    gtk_widget_set_size_request(thumb, 96, 72);
    if (n->thumbnail)
        gtk_picture_set_content_fit(GTK_PICTURE(thumb), GTK_CONTENT_FIT_CONTAIN);
    else
        gtk_image_set_pixel_size(GTK_IMAGE(thumb), 32);
    gtk_box_append(GTK_BOX(box), thumb);

    GtkWidget *text = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_widget_set_hexpand(text, TRUE);
    gtk_widget_set_size_request(text, 120, -1);
    gtk_widget_set_valign(text, GTK_ALIGN_CENTER);
    GtkWidget *title = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
    GtkWidget *name = gtk_label_new(n->name);
    gtk_widget_add_css_class(name, "heading");
    gtk_label_set_xalign(GTK_LABEL(name), 0);
    gtk_label_set_ellipsize(GTK_LABEL(name), PANGO_ELLIPSIZE_END);
    gtk_box_append(GTK_BOX(title), name);
    if (n->current) {
        GtkWidget *here = gtk_label_new(_("You are here"));
        g_autofree char *here_name = g_strdup_printf("here-%s", n->name);
        gtk_widget_set_name(here, here_name);
        gtk_widget_add_css_class(here, "accent");
        gtk_widget_add_css_class(here, "caption-heading");
        gtk_box_append(GTK_BOX(title), here);
    }
    gtk_box_append(GTK_BOX(text), title);
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(n->created);
    g_autofree char *date = when ? g_date_time_format(when, "%x %X") : g_strdup("?");
    g_autofree char *size = g_format_size_full(n->state_size, G_FORMAT_SIZE_IEC_UNITS);
    g_autofree char *sub = n->has_state ? g_strdup_printf(_("%s · running machine (%s of state)"), date, size)
                                        : g_strdup_printf(_("%s · disks only"), date);
    GtkWidget *line = gtk_label_new(sub);
    gtk_widget_add_css_class(line, "dim-label");
    gtk_label_set_xalign(GTK_LABEL(line), 0);
    gtk_label_set_ellipsize(GTK_LABEL(line), PANGO_ELLIPSIZE_END);
    gtk_widget_set_tooltip_text(line, sub);
    gtk_box_append(GTK_BOX(text), line);
    if (n->description && *n->description) {
        GtkWidget *desc = gtk_label_new(n->description);
        gtk_label_set_xalign(GTK_LABEL(desc), 0);
        gtk_label_set_wrap(GTK_LABEL(desc), TRUE);
        gtk_label_set_wrap_mode(GTK_LABEL(desc), PANGO_WRAP_WORD_CHAR);
        gtk_box_append(GTK_BOX(text), desc);
    }
    gtk_box_append(GTK_BOX(box), text);

    gtk_box_append(GTK_BOX(box), row_button(w, n, "edit-undo-symbolic", _("Revert to this snapshot"), "revert",
                                            G_CALLBACK(on_revert_clicked)));
    gtk_box_append(GTK_BOX(box), row_button(w, n, "document-edit-symbolic", _("Rename or describe"), "edit",
                                            G_CALLBACK(on_edit_clicked)));
    gtk_box_append(GTK_BOX(box), row_button(w, n, "user-trash-symbolic", _("Delete this snapshot"), "delete",
                                            G_CALLBACK(on_delete_clicked)));
    GtkWidget *area = gtk_drawing_area_new();
    g_autofree char *area_name = g_strdup_printf("tree-%s", n->name);
    gtk_widget_set_name(area, area_name);
    gtk_widget_set_can_target(area, FALSE);
    TreeLines *t = g_memdup2(lines, sizeof(*lines));
    g_object_set_data_full(G_OBJECT(area), "vireo-tree-lines", t, g_free);
    g_object_set_data(G_OBJECT(area), "vireo-tree-connector", (gpointer)tree_connector(t));
    gtk_drawing_area_set_draw_func(GTK_DRAWING_AREA(area), draw_tree_lines, t, NULL);
    GtkWidget *overlay = gtk_overlay_new();
    gtk_overlay_set_child(GTK_OVERLAY(overlay), box);
    gtk_overlay_add_overlay(GTK_OVERLAY(overlay), area);
    GtkWidget *row = gtk_list_box_row_new();
    gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), overlay);
    gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), FALSE);
    return row;
}

static void refresh(VireoSnapshotsWindow *w)
{
    g_autoptr(GError) err = NULL;
    GPtrArray *nodes = snaptree_list(vireo_machine_get_dir(w->machine), &err);
    if (!nodes) {
        gtk_label_set_text(w->error, err->message);
        gtk_widget_set_visible(GTK_WIDGET(w->error), true);
        nodes = g_ptr_array_new_with_free_func((GDestroyNotify)snaptree_node_free);
    }
    g_clear_pointer(&w->nodes, g_ptr_array_unref);
    w->nodes = nodes;
    GtkWidget *child;
    while ((child = gtk_widget_get_first_child(GTK_WIDGET(w->list))))
        gtk_list_box_remove(w->list, child);
    for (guint i = 0; i < nodes->len; i++) {
        TreeLines t = tree_lines(nodes, i);
        gtk_list_box_append(w->list, row_new(w, nodes->pdata[i], &t));
    }
    gtk_stack_set_visible_child_name(w->stack, nodes->len ? "list" : "empty");
}

static void update_title(VireoSnapshotsWindow *w)
{
    g_autofree char *title = g_strdup_printf(_("Snapshots of “%s”"), vireo_machine_get_name(w->machine));
    gtk_window_set_title(GTK_WINDOW(w), title);
}

static void on_machine_notify(VireoMachine *m, GParamSpec *ps, VireoSnapshotsWindow *w)
{
    update_title(w);
    /* A machine that stopped may have had its tree changed by its own process (QMP). */
    if (!w->busy)
        refresh(w);
}

/* ---- window ---- */

static void vireo_snapshots_window_dispose(GObject *obj)
{
    VireoSnapshotsWindow *w = VIREO_SNAPSHOTS_WINDOW(obj);
    if (w->machine && g_object_get_data(G_OBJECT(w->machine), WINDOW_KEY) == w)
        g_object_set_data(G_OBJECT(w->machine), WINDOW_KEY, NULL);
    g_clear_object(&w->machine);
    g_clear_pointer(&w->nodes, g_ptr_array_unref);
    G_OBJECT_CLASS(vireo_snapshots_window_parent_class)->dispose(obj);
}

static void vireo_snapshots_window_class_init(VireoSnapshotsWindowClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = vireo_snapshots_window_dispose;
}

static void vireo_snapshots_window_init(VireoSnapshotsWindow *w)
{
    gtk_window_set_default_size(GTK_WINDOW(w), 560, 480);
    GtkWidget *view = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    GtkWidget *header = adw_header_bar_new();
    w->take = gtk_button_new_with_mnemonic(_("_Take Snapshot"));
    gtk_widget_set_name(w->take, "snapshot-take");
    gtk_widget_add_css_class(w->take, "suggested-action");
    gtk_widget_set_tooltip_text(w->take, _("Keep the machine’s disks (and its running state) as they are now"));
    g_signal_connect(w->take, "clicked", G_CALLBACK(on_take_clicked), w);
    adw_header_bar_pack_start(ADW_HEADER_BAR(header), w->take);
    gtk_box_append(GTK_BOX(view), header);

    GtkWidget *column = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    w->progress = GTK_PROGRESS_BAR(gtk_progress_bar_new());
    gtk_widget_set_name(GTK_WIDGET(w->progress), "snapshot-progress");
    gtk_widget_add_css_class(GTK_WIDGET(w->progress), "osd");
    gtk_widget_set_visible(GTK_WIDGET(w->progress), false);
    gtk_box_append(GTK_BOX(column), GTK_WIDGET(w->progress));
    w->error = GTK_LABEL(gtk_label_new(NULL));
    gtk_widget_set_name(GTK_WIDGET(w->error), "snapshot-error");
    gtk_widget_add_css_class(GTK_WIDGET(w->error), "error");
    gtk_label_set_wrap(w->error, TRUE);
    gtk_label_set_selectable(w->error, TRUE);
    gtk_widget_set_margin_start(GTK_WIDGET(w->error), 12);
    gtk_widget_set_margin_end(GTK_WIDGET(w->error), 12);
    gtk_widget_set_margin_top(GTK_WIDGET(w->error), 6);
    gtk_widget_set_visible(GTK_WIDGET(w->error), false);
    gtk_box_append(GTK_BOX(column), GTK_WIDGET(w->error));

    w->stack = GTK_STACK(gtk_stack_new());
    gtk_widget_set_vexpand(GTK_WIDGET(w->stack), TRUE);
    GtkWidget *empty = adw_status_page_new();
    gtk_widget_set_name(empty, "snapshots-empty");
    adw_status_page_set_icon_name(ADW_STATUS_PAGE(empty), "document-open-recent-symbolic");
    adw_status_page_set_title(ADW_STATUS_PAGE(empty), _("No Snapshots"));
    adw_status_page_set_description(ADW_STATUS_PAGE(empty),
                                    _("A snapshot keeps the machine as it is now, so you can come back to it later."));
    gtk_stack_add_named(w->stack, empty, "empty");
    w->list = GTK_LIST_BOX(gtk_list_box_new());
    gtk_widget_set_name(GTK_WIDGET(w->list), "snapshot-list");
    gtk_list_box_set_selection_mode(w->list, GTK_SELECTION_NONE);
    gtk_widget_add_css_class(GTK_WIDGET(w->list), "boxed-list");
    gtk_widget_set_margin_start(GTK_WIDGET(w->list), 12);
    gtk_widget_set_margin_end(GTK_WIDGET(w->list), 12);
    gtk_widget_set_margin_top(GTK_WIDGET(w->list), 12);
    gtk_widget_set_margin_bottom(GTK_WIDGET(w->list), 12);
    gtk_widget_set_valign(GTK_WIDGET(w->list), GTK_ALIGN_START);
    GtkWidget *scroll = gtk_scrolled_window_new();
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroll), GTK_WIDGET(w->list));
    gtk_stack_add_named(w->stack, scroll, "list");
    gtk_box_append(GTK_BOX(column), GTK_WIDGET(w->stack));

    w->toasts = ADW_TOAST_OVERLAY(adw_toast_overlay_new());
    adw_toast_overlay_set_child(w->toasts, column);
    gtk_widget_set_vexpand(GTK_WIDGET(w->toasts), TRUE);
    gtk_box_append(GTK_BOX(view), GTK_WIDGET(w->toasts));
    adw_window_set_content(ADW_WINDOW(w), view);
}

GtkWindow *vireo_snapshots_window_show(GtkWindow *parent, VireoMachine *m)
{
    VireoSnapshotsWindow *w = g_object_get_data(G_OBJECT(m), WINDOW_KEY);
    if (!w) {
        w = g_object_new(VIREO_TYPE_SNAPSHOTS_WINDOW, NULL);
        w->machine = g_object_ref(m);
        g_object_set_data(G_OBJECT(m), WINDOW_KEY, w);
        g_signal_connect_object(m, "notify::state", G_CALLBACK(on_machine_notify), w, 0);
        g_signal_connect_object(m, "notify::name", G_CALLBACK(on_machine_notify), w, 0);
        update_title(w);
        refresh(w);
    }
    if (parent) {
        gtk_window_set_transient_for(GTK_WINDOW(w), parent);
        if (gtk_window_get_application(parent))
            gtk_window_set_application(GTK_WINDOW(w), gtk_window_get_application(parent));
    }
    gtk_window_present(GTK_WINDOW(w));
    return GTK_WINDOW(w);
}

void vireo_snapshots_take_now(GtkWindow *parent, VireoMachine *m)
{
    take(VIREO_SNAPSHOTS_WINDOW(vireo_snapshots_window_show(parent, m)));
}

gboolean vireo_snapshots_window_is_busy(VireoSnapshotsWindow *w)
{
    return w->busy;
}

GPtrArray *vireo_snapshots_window_get_nodes(VireoSnapshotsWindow *w)
{
    return w->nodes;
}
