/* SPDX-License-Identifier: GPL-2.0-or-later */
/* -object secret (engine/secret.h): data= and file= as given, base64, and each kind of
 * bad spec as one error line. */
#include "engine/secret.h"

#include <glib/gstdio.h>
#include <string.h>

static void test_secret_values(void)
{
    SecretStore *s = secret_store_new();
    GError *err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vireo-secret-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "pw", NULL);
    g_assert_true(g_file_set_contents(path, "from a file\n", -1, NULL));
    g_autofree char *file_spec = g_strdup_printf("secret,id=f,file=%s", path);
    g_assert_true(secret_store_add(s, "secret,id=d,data=plain", &err));
    g_assert_true(secret_store_add(s, "secret,id=b,data=c2VjcmV0,format=base64", &err));
    g_assert_true(secret_store_add(s, file_spec, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(secret_store_lookup(s, "d"), ==, "plain");
    g_assert_cmpstr(secret_store_lookup(s, "b"), ==, "secret");
    g_assert_cmpstr(secret_store_lookup(s, "f"), ==, "from a file\n"); /* as QEMU: bytes as they are */
    g_assert_null(secret_store_lookup(s, "x"));
    static const char *const bad[] = {
        "memory-backend-ram,id=m", "secret,data=x", "secret,id=d,data=again", "secret,id=n",
        "secret,id=n,data=x,file=/etc/hostname", "secret,id=n,data=x,format=hex", "secret,id=n,data=a*b=,format=base64",
        "secret,id=n,data=AA==,format=base64", "secret,id=n,file=/nonexistent/pw", "secret,id=n,colour=red",
        "secret,id=n,data",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(secret_store_add(s, bad[i], &err));
        g_assert_nonnull(err);
        g_assert_null(strchr(err->message, '\n'));
        g_clear_error(&err);
    }
    secret_store_free(s);
    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/secret/values", test_secret_values);
    return g_test_run();
}
