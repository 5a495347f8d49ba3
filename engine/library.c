/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The VM library: folders of VMs under one root. */
#include "engine/library.h"
#include "engine/snaptree.h"
#include "engine/vmconf.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define VM_NAME_MAX 100

void vm_library_entry_free(VmLibraryEntry *e)
{
    if (!e)
        return;
    g_free(e->name);
    g_free(e->dir);
    if (e->conf)
        g_key_file_unref(e->conf);
    vm_config_free(e->config);
    g_clear_error(&e->error);
    g_free(e);
}

char *vm_library_default_root(void)
{
    return g_build_filename(g_get_user_data_dir(), "vireo", "vms", NULL);
}

bool vm_library_check_name(const char *name, GError **err)
{
    const char *why = NULL;
    if (!name || !*name)
        why = "a VM needs a name";
    else if (!g_utf8_validate(name, -1, NULL))
        why = "the name is not valid text (UTF-8)";
    else if (strlen(name) > VM_NAME_MAX)
        why = "the name is too long (at most 100 bytes)";
    else if (strchr(name, '/'))
        why = "the name cannot contain '/'";
    else if (name[0] == '.')
        why = "the name cannot start with '.'";
    else if (g_ascii_isspace(name[0]) || g_ascii_isspace(name[strlen(name) - 1]))
        why = "the name cannot start or end with a space";
    else {
        for (const char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                why = "the name cannot contain control characters";
    }
    if (why) {
        g_set_error_literal(err, VIREO_ERROR, VIREO_ERROR_INVALID, why);
        return false;
    }
    return true;
}

static VmLibraryEntry *entry_load(const char *root, const char *name)
{
    VmLibraryEntry *e = g_new0(VmLibraryEntry, 1);
    e->name = g_strdup(name);
    e->dir = g_build_filename(root, name, NULL);
    /* A snapshot operation a crash cut short is finished or undone before anyone reads
     * vm.conf, which names the disks to run (snaptree.h). */
    g_autofree char *tree = g_build_filename(e->dir, SNAPTREE_FILE, NULL);
    if (g_file_test(tree, G_FILE_TEST_EXISTS))
        snaptree_recover(e->dir, NULL);
    e->conf = vmconf_load(e->dir, &e->error);
    if (e->conf)
        e->config = vmconf_parse(e->conf, name, e->dir, &e->error);
    return e;
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
    const VmLibraryEntry *x = *(VmLibraryEntry *const *)a, *y = *(VmLibraryEntry *const *)b;
    /* Case-insensitive, as people read a list, whatever the locale. */
    g_autofree char *fx = g_utf8_casefold(x->name, -1), *fy = g_utf8_casefold(y->name, -1);
    g_autofree char *kx = g_utf8_collate_key_for_filename(fx, -1);
    g_autofree char *ky = g_utf8_collate_key_for_filename(fy, -1);
    return strcmp(kx, ky);
}

GPtrArray *vm_library_list(const char *root)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)vm_library_entry_free);
    GDir *d = g_dir_open(root, 0, NULL);
    if (!d)
        return list;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        if (name[0] == '.')
            continue;
        g_autofree char *path = g_build_filename(root, name, NULL);
        if (!g_file_test(path, G_FILE_TEST_IS_DIR))
            continue;
        g_ptr_array_add(list, entry_load(root, name));
    }
    g_dir_close(d);
    g_ptr_array_sort(list, compare_entries);
    return list;
}

VmLibraryEntry *vm_library_open(const char *root, const char *name, GError **err)
{
    if (!vm_library_check_name(name, err))
        return NULL;
    g_autofree char *dir = g_build_filename(root, name, NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND,
                    "no VM called '%s' in the library (%s)", name, root);
        return NULL;
    }
    return entry_load(root, name);
}

char *vm_library_create(const char *root, const char *name, GKeyFile *conf, GError **err)
{
    if (!vm_library_check_name(name, err))
        return NULL;
    if (g_mkdir_with_parents(root, 0755) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot create the library folder %s: %s",
                    root, g_strerror(errno));
        return NULL;
    }
    g_autofree char *dir = g_build_filename(root, name, NULL);
    /* mkdir, not mkdir -p: an existing folder means the name is taken. */
    if (g_mkdir(dir, 0755) < 0) {
        int e = errno;
        if (e == EEXIST)
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID,
                        "there is already a VM called '%s'", name);
        else
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot create %s: %s", dir,
                        g_strerror(e));
        return NULL;
    }
    if (!vmconf_save(conf, dir, err)) {
        g_rmdir(dir);
        return NULL;
    }
    return g_steal_pointer(&dir);
}

bool vm_library_rename(const char *root, const char *old_name, const char *new_name,
                       GError **err)
{
    if (!vm_library_check_name(old_name, err) || !vm_library_check_name(new_name, err))
        return false;
    if (!strcmp(old_name, new_name))
        return true;
    g_autofree char *from = g_build_filename(root, old_name, NULL);
    g_autofree char *to = g_build_filename(root, new_name, NULL);
    if (g_file_test(to, G_FILE_TEST_EXISTS)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "there is already a VM called '%s'",
                    new_name);
        return false;
    }
    if (g_rename(from, to) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot rename '%s' to '%s': %s",
                    old_name, new_name, g_strerror(errno));
        return false;
    }
    return true;
}

/* g_ptr_array_sort hands over pointers to the elements. */
static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void collect_files(const char *dir, GPtrArray *out)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, (char *)names->pdata[i], NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            collect_files(path, out);
            g_free(path);
        } else {
            g_ptr_array_add(out, path);
        }
    }
}

/* Whether path lies inside dir (both absolute). */
static bool path_is_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && path[n] == '/';
}

void vm_library_list_files(const VmLibraryEntry *e, GPtrArray **removed, GPtrArray **kept)
{
    *removed = g_ptr_array_new_with_free_func(g_free);
    *kept = g_ptr_array_new_with_free_func(g_free);
    collect_files(e->dir, *removed);
    if (!e->conf)
        return;
    /* What vm.conf names outside the folder (an ISO in ~/Downloads) is the user's. */
    static const char *const vm_paths[] = { "firmware", "kernel", "initrd" };
    g_autoptr(GPtrArray) used = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < G_N_ELEMENTS(vm_paths); i++) {
        g_autofree char *v = g_key_file_get_string(e->conf, VMCONF_GROUP_VM, vm_paths[i], NULL);
        if (v && strcmp(v, "seabios"))
            g_ptr_array_add(used, vmconf_resolve_path(e->dir, g_strstrip(v)));
    }
    g_auto(GStrv) keys = g_key_file_get_keys(e->conf, VMCONF_GROUP_DRIVES, NULL, NULL);
    for (char **k = keys; k && *k; k++) {
        g_autofree char *v = g_key_file_get_string(e->conf, VMCONF_GROUP_DRIVES, *k, NULL);
        if (v)
            g_ptr_array_add(used, vmconf_resolve_path(e->dir, g_strstrip(v)));
    }
    for (guint i = 0; i < used->len; i++) {
        const char *p = used->pdata[i];
        if (p && !path_is_inside(p, e->dir) && !g_ptr_array_find_with_equal_func(*kept, p, g_str_equal, NULL))
            g_ptr_array_add(*kept, g_strdup(p));
    }
}

static bool remove_tree(const char *path, GError **err)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
        GDir *d = g_dir_open(path, 0, err);
        if (!d)
            return false;
        const char *n;
        bool ok = true;
        while (ok && (n = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, n, NULL);
            ok = remove_tree(child, err);
        }
        g_dir_close(d);
        if (!ok)
            return false;
        if (g_rmdir(path) < 0) {
            g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot remove %s: %s", path,
                        g_strerror(errno));
            return false;
        }
        return true;
    }
    if (g_unlink(path) < 0) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_FAILED, "cannot remove %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    return true;
}

bool vm_library_delete(const char *root, const char *name, GError **err)
{
    if (!vm_library_check_name(name, err))
        return false;
    g_autofree char *dir = g_build_filename(root, name, NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND, "no VM called '%s'", name);
        return false;
    }
    return remove_tree(dir, err);
}
