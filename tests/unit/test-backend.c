/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host back ends by id: a device property names one, the VM opens and closes them. */
#include "engine/backend.h"
#include "unit.h"

static int opened, closed;

typedef struct TestBackend {
    char *opts;
} TestBackend;

static bool tb_check(const char *opts, GError **err)
{
    if (strstr(opts, "bad")) {
        g_set_error(err, VIREO_ERROR, VIREO_ERROR_INVALID, "bad option");
        return false;
    }
    return true;
}

static void *tb_open(Vm *vm, const char *id, const char *opts, GError **err)
{
    (void)vm;
    (void)id;
    if (!tb_check(opts, err))
        return NULL;
    TestBackend *b = g_new0(TestBackend, 1);
    b->opts = g_strdup(opts);
    opened++;
    return b;
}

static void tb_close(void *p)
{
    TestBackend *b = p;
    g_free(b->opts);
    g_free(b);
    closed++;
}

static const BackendClass tb_class = { "testend", "a back end for this test", tb_check, tb_open, tb_close };

typedef struct TestDev {
    Device dev;
    TestBackend *be;
} TestDev;

static const DeviceProp td_props[] = {
    { "testend", DEVICE_PROP_BACKEND, offsetof(TestDev, be), "the back end", NULL, 0, 0, "testend" },
    { NULL },
};

static const DeviceClass td_class = {
    .name = "test-backend-user",
    .description = "a device with a back end",
    .instance_size = sizeof(TestDev),
    .user_creatable = true,
    .props = td_props,
};

static void test_ids(void)
{
    GError *err = NULL;
    g_autofree char *id = backend_opts_id("user,hostfwd=a,,id=x,id=net0,x=1", &err);
    g_assert_no_error(err);
    /* ",," is a comma inside a value, so "id=x" there is not an option. */
    g_assert_cmpstr(id, ==, "net0");
    g_assert_null(backend_opts_id("user", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_false(backend_spec_check("nosuchkind", "id=a", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_UNSUPPORTED);
    g_clear_error(&err);
    g_assert_false(backend_spec_check("testend", "bad,id=a", &err));
    g_clear_error(&err);
    g_assert_true(backend_spec_check("testend", "good,id=a", &err));
}

static void test_device_uses_backend(void)
{
    Vm *vm = vm_new_for_test(0);
    GError *err = NULL;
    opened = closed = 0;
    g_assert_true(backend_open(vm, "testend", "one,id=b1", &err));
    g_assert_no_error(err);
    g_assert_false(backend_open(vm, "testend", "two,id=b1", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_clear_error(&err);
    vm_lock(vm);
    TestDev *d = (TestDev *)device_create_from_spec(vm, "test-backend-user,testend=b1", &err);
    g_assert_no_error(err);
    g_assert_nonnull(d);
    g_assert_cmpstr(d->be->opts, ==, "one,id=b1");
    g_assert_null(device_create_from_spec(vm, "test-backend-user,testend=b2", &err));
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "no testend 'b2'"));
    g_clear_error(&err);
    vm_unlock(vm);
    vm_free(vm);
    g_assert_cmpint(opened, ==, 1);
    g_assert_cmpint(closed, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    backend_class_register(&tb_class);
    device_class_register(&td_class);
    g_test_add_func("/backend/ids", test_ids);
    g_test_add_func("/backend/device-uses-backend", test_device_uses_backend);
    return g_test_run();
}
