/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The library's list model. */
#include "ui/gtk/vireo-library.h"

#include <glib/gi18n.h>
#include <string.h>

struct _VireoLibrary {
    GObject parent;
    char *root;
    GListStore *store;
};

G_DEFINE_FINAL_TYPE(VireoLibrary, vireo_library, G_TYPE_OBJECT)

static void vireo_library_dispose(GObject *obj)
{
    VireoLibrary *lib = VIREO_LIBRARY(obj);
    g_clear_object(&lib->store);
    G_OBJECT_CLASS(vireo_library_parent_class)->dispose(obj);
}

static void vireo_library_finalize(GObject *obj)
{
    g_free(VIREO_LIBRARY(obj)->root);
    G_OBJECT_CLASS(vireo_library_parent_class)->finalize(obj);
}

static void vireo_library_class_init(VireoLibraryClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = vireo_library_dispose;
    G_OBJECT_CLASS(klass)->finalize = vireo_library_finalize;
}

static void vireo_library_init(VireoLibrary *lib)
{
    lib->store = g_list_store_new(VIREO_TYPE_MACHINE);
}

static int compare_machines(gconstpointer a, gconstpointer b, gpointer data)
{
    g_autofree char *x = g_utf8_casefold(vireo_machine_get_name((VireoMachine *)a), -1);
    g_autofree char *y = g_utf8_casefold(vireo_machine_get_name((VireoMachine *)b), -1);
    return g_utf8_collate(x, y);
}

static int compare_machine_pointers(gconstpointer a, gconstpointer b)
{
    return compare_machines(*(VireoMachine *const *)a, *(VireoMachine *const *)b, NULL);
}

VireoLibrary *vireo_library_new(const char *root)
{
    VireoLibrary *lib = g_object_new(VIREO_TYPE_LIBRARY, NULL);
    lib->root = g_strdup(root);
    vireo_library_reload(lib);
    return lib;
}

const char *vireo_library_get_root(VireoLibrary *lib)
{
    return lib->root;
}

GListModel *vireo_library_get_model(VireoLibrary *lib)
{
    return G_LIST_MODEL(lib->store);
}

VireoMachine *vireo_library_find(VireoLibrary *lib, const char *name)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(lib->store));
    for (guint i = 0; i < n; i++) {
        g_autoptr(VireoMachine) m = g_list_model_get_item(G_LIST_MODEL(lib->store), i);
        if (!strcmp(vireo_machine_get_name(m), name))
            return m;   /* the store keeps its reference */
    }
    return NULL;
}

void vireo_library_reload(VireoLibrary *lib)
{
    g_autoptr(GPtrArray) entries = vm_library_list(lib->root);
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_object_unref);
    /* Running VMs stay as they are, whatever their folder says now. */
    guint n = g_list_model_get_n_items(G_LIST_MODEL(lib->store));
    for (guint i = 0; i < n; i++) {
        VireoMachine *m = g_list_model_get_item(G_LIST_MODEL(lib->store), i);
        if (vireo_machine_is_active(m))
            g_ptr_array_add(items, m);
        else
            g_object_unref(m);
    }
    for (guint i = 0; i < entries->len; i++) {
        VmLibraryEntry *e = entries->pdata[i];
        bool running = false;
        for (guint j = 0; j < items->len && !running; j++)
            running = !strcmp(vireo_machine_get_name(items->pdata[j]), e->name);
        if (running)
            continue;
        VireoMachine *old = vireo_library_find(lib, e->name);
        if (old) {
            /* Keep the object (windows follow it); read its folder again. */
            vireo_machine_reload(old);
            g_ptr_array_add(items, g_object_ref(old));
            continue;
        }
        entries->pdata[i] = NULL;   /* the machine owns the entry now */
        g_ptr_array_add(items, vireo_machine_new(lib->root, e));
    }
    g_ptr_array_sort(items, compare_machine_pointers);
    g_list_store_splice(lib->store, 0, n, items->pdata, items->len);
}

VireoMachine *vireo_library_add(VireoLibrary *lib, const char *name, GError **err)
{
    VmLibraryEntry *e = vm_library_open(lib->root, name, err);
    if (!e)
        return NULL;
    VireoMachine *m = vireo_machine_new(lib->root, e);
    g_list_store_insert_sorted(lib->store, m, compare_machines, NULL);
    g_object_unref(m);
    return m;
}

char *vireo_library_name_problem(VireoLibrary *lib, const char *name, VireoMachine *except)
{
    if (!*name)
        return g_strdup(_("The virtual machine needs a name."));
    if (!vm_library_check_name(name, NULL)) {
        /* The engine's rules, said in the user's language. */
        if (strchr(name, '/'))
            return g_strdup(_("The name cannot contain “/”."));
        if (name[0] == '.')
            return g_strdup(_("The name cannot start with a dot."));
        if (g_ascii_isspace(name[0]) || g_ascii_isspace(name[strlen(name) - 1]))
            return g_strdup(_("The name cannot start or end with a space."));
        if (strlen(name) > 100)
            return g_strdup(_("The name is too long."));
        return g_strdup(_("The name cannot contain control characters."));
    }
    VireoMachine *other = vireo_library_find(lib, name);
    if (other && other != except)
        return g_strdup_printf(_("There is already a virtual machine called “%s”."), name);
    return NULL;
}

bool vireo_library_rename(VireoLibrary *lib, VireoMachine *m, const char *new_name, GError **err)
{
    if (vireo_machine_is_active(m)) {
        g_set_error_literal(err, G_IO_ERROR, G_IO_ERROR_BUSY,
                            _("Turn the virtual machine off before renaming it."));
        return false;
    }
    if (!vm_library_rename(lib->root, vireo_machine_get_name(m), new_name, err))
        return false;
    g_object_ref(m);
    guint pos;
    if (g_list_store_find(lib->store, m, &pos))
        g_list_store_remove(lib->store, pos);
    vireo_machine_set_name(m, new_name);
    g_list_store_insert_sorted(lib->store, m, compare_machines, NULL);
    g_object_unref(m);
    return true;
}

bool vireo_library_delete(VireoLibrary *lib, VireoMachine *m, GError **err)
{
    if (vireo_machine_is_active(m)) {
        g_set_error_literal(err, G_IO_ERROR, G_IO_ERROR_BUSY,
                            _("Turn the virtual machine off before deleting it."));
        return false;
    }
    if (!vm_library_delete(lib->root, vireo_machine_get_name(m), err))
        return false;
    guint pos;
    if (g_list_store_find(lib->store, m, &pos))
        g_list_store_remove(lib->store, pos);
    return true;
}
