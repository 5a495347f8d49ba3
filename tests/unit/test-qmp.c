/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The control socket spoken to over a real Unix socket: negotiation, errors for bad
 * input (garbage, a 10 MB request, deep nesting) after which the server still answers,
 * key and pointer events reaching the board's input handler, x-screen-text and
 * screendump against the VGA. */
#include "engine/testing.h"
#include "engine/display.h"
#include "engine/input.h"
#include "engine/qmp.h"
#include "hw/display/vga.h"
#include "vga-modes.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct Fixture {
    Vm *vm;
    QmpServer *qmp;
    char *dir;
    int fd;
    GString *in;
    GArray *keys;    /* uint32_t: code | down << 16 */
    GArray *key_times; /* int64_t: the virtual time of each key event */
    int dx, dy, dz;
    unsigned buttons;
    int pointer_events;
    int abs_x, abs_y, abs_dz, abs_events;
    unsigned abs_buttons;
    GArray *kbd2;    /* uint32_t: keys of the second keyboard, as keys */
} Fixture;

static void on_key(void *opaque, uint16_t code, bool down)
{
    Fixture *f = opaque;
    uint32_t v = code | (uint32_t)down << 16;
    g_array_append_val(f->keys, v);
    int64_t t = vm_clock_ns(f->vm);
    g_array_append_val(f->key_times, t);
}

static void on_pointer(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    Fixture *f = opaque;
    f->dx += dx;
    f->dy += dy;
    f->dz += dz;
    f->buttons = buttons;
    f->pointer_events++;
}

static const VmInputOps input_ops = { on_key, on_pointer, NULL };

static void on_abs(void *opaque, int x, int y, int dz, unsigned buttons)
{
    Fixture *f = opaque;
    if (x != VM_INPUT_ABS_KEEP)
        f->abs_x = x;
    if (y != VM_INPUT_ABS_KEEP)
        f->abs_y = y;
    f->abs_dz += dz;
    f->abs_buttons = buttons;
    f->abs_events++;
}

static void on_key2(void *opaque, uint16_t code, bool down)
{
    Fixture *f = opaque;
    uint32_t v = code | (uint32_t)down << 16;
    g_array_append_val(f->kbd2, v);
}

/* A tablet and a keyboard added after the board's devices, as -device usb-... does. */
static const VmInputOps tablet_ops = { .abs = on_abs };
static const VmInputOps kbd2_ops = { .key = on_key2 };

static JsonObject *read_message(Fixture *f);

static void fixture_setup(Fixture *f, gconstpointer data)
{
    f->vm = vm_new_for_test(0);
    GError *err = NULL;
    vm_lock(f->vm);
    PciBus *bus = pci_bus_new(f->vm);
    g_assert_nonnull(vga_pci_new(f->vm, bus, PCI_DEVFN(2, 0), NULL, &err));
    vm_set_input_handler(f->vm, &input_ops, f);
    vm_unlock(f->vm);
    f->keys = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    f->key_times = g_array_new(FALSE, FALSE, sizeof(int64_t));
    f->dir = g_dir_make_tmp("vireo-qmp-XXXXXX", &err);
    g_assert_no_error(err);
    g_autofree char *path = g_build_filename(f->dir, "qmp.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s,server=on,wait=off", path);
    f->qmp = qmp_server_new(f->vm, spec, &err);
    g_assert_no_error(err);

    f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    fcntl(f->fd, F_SETFL, O_NONBLOCK);
    f->in = g_string_new(NULL);
    JsonObject *greeting = read_message(f);
    g_assert_true(json_object_has_member(greeting, "QMP"));
    json_object_unref(greeting);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    close(f->fd);
    qmp_server_free(f->qmp);
    vm_free(f->vm);
    rmdir(f->dir);
    g_free(f->dir);
    g_string_free(f->in, TRUE);
    g_array_free(f->keys, TRUE);
    g_array_free(f->key_times, TRUE);
}

/* Runs the main loop until the server sent one line (or 5 s pass). */
static JsonObject *read_message(Fixture *f)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    for (;;) {
        char *nl = strstr(f->in->str, "\r\n");
        if (nl) {
            size_t len = (size_t)(nl - f->in->str);
            g_autoptr(JsonParser) p = json_parser_new();
            GError *err = NULL;
            g_assert_true(json_parser_load_from_data(p, f->in->str, (gssize)len, &err));
            g_assert_no_error(err);
            JsonObject *o = json_object_ref(json_node_get_object(json_parser_get_root(p)));
            g_string_erase(f->in, 0, (gssize)len + 2);
            return o;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
        char buf[4096];
        ssize_t n = recv(f->fd, buf, sizeof(buf), 0);
        if (n > 0)
            g_string_append_len(f->in, buf, n);
        else if (n == 0)
            g_error("the server closed the connection");
        else
            g_usleep(1000);
    }
}

static void send_raw(Fixture *f, const char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(f->fd, data + done, len - done, MSG_NOSIGNAL);
        if (n > 0)
            done += (size_t)n;
        else if (errno == EAGAIN) {
            g_main_context_iteration(NULL, FALSE);
            /* Drain replies so neither side blocks. */
            char buf[4096];
            ssize_t r = recv(f->fd, buf, sizeof(buf), 0);
            if (r > 0)
                g_string_append_len(f->in, buf, r);
        } else
            g_error("send: %s", g_strerror(errno));
    }
}

static JsonObject *command(Fixture *f, const char *json)
{
    send_raw(f, json, strlen(json));
    send_raw(f, "\n", 1);
    return read_message(f);
}

static void assert_return(JsonObject *o)
{
    if (!json_object_has_member(o, "return")) {
        JsonObject *e = json_object_get_object_member(o, "error");
        g_error("QMP error: %s", e ? json_object_get_string_member(e, "desc") : "?");
    }
}

static void assert_error(JsonObject *o, const char *klass)
{
    g_assert_true(json_object_has_member(o, "error"));
    JsonObject *e = json_object_get_object_member(o, "error");
    g_assert_cmpstr(json_object_get_string_member(e, "class"), ==, klass);
}

static void negotiate(Fixture *f)
{
    JsonObject *o = command(f, "{\"execute\": \"qmp_capabilities\"}");
    assert_return(o);
    json_object_unref(o);
}

static void test_negotiation(Fixture *f, gconstpointer data)
{
    JsonObject *o = command(f, "{\"execute\": \"query-status\", \"id\": 7}");
    assert_error(o, "CommandNotFound");
    g_assert_cmpint(json_object_get_int_member(o, "id"), ==, 7);
    json_object_unref(o);
    negotiate(f);
    o = command(f, "{\"execute\": \"query-status\", \"id\": \"abc\"}");
    assert_return(o);
    g_assert_cmpstr(json_object_get_string_member(o, "id"), ==, "abc");
    JsonObject *r = json_object_get_object_member(o, "return");
    g_assert_cmpstr(json_object_get_string_member(r, "status"), ==, "prelaunch");
    g_assert_false(json_object_get_boolean_member(r, "running"));
    json_object_unref(o);
    o = command(f, "{\"execute\": \"query-version\"}");
    assert_return(o);
    r = json_object_get_object_member(o, "return");
    g_assert_true(g_str_has_prefix(json_object_get_string_member(r, "package"), "vireo "));
    json_object_unref(o);
    o = command(f, "{\"execute\": \"no-such-command\"}");
    assert_error(o, "CommandNotFound");
    json_object_unref(o);
}

static void test_bad_input(Fixture *f, gconstpointer data)
{
    negotiate(f);
    JsonObject *o = command(f, "this is not json");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": }");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": [1, 2}");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "[1, 2, 3]");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": 42}");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": \"send-key\", \"arguments\": {\"keys\": [{\"type\": \"qcode\", \"data\": \"nokey\"}]}}");
    assert_error(o, "GenericError");
    json_object_unref(o);

    /* A 10 MB request: refused, and the connection still works afterwards. */
    GString *big = g_string_new("{\"execute\": \"query-status\", \"arguments\": {\"pad\": \"");
    gsize head = big->len;
    g_string_set_size(big, head + (10u << 20));
    memset(big->str + head, 'x', 10u << 20);
    g_string_append(big, "\"}}");
    o = command(f, big->str);
    g_string_free(big, TRUE);
    assert_error(o, "GenericError");
    json_object_unref(o);
    /* Nesting 100000 deep. */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, '[');
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, ']');
    o = command(f, deep->str);
    g_string_free(deep, TRUE);
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": \"query-name\"}");
    assert_return(o);
    json_object_unref(o);
}

static void test_input(Fixture *f, gconstpointer data)
{
    negotiate(f);
    JsonObject *o = command(f, "{\"execute\": \"send-key\", \"arguments\": {\"keys\": ["
                               "{\"type\": \"qcode\", \"data\": \"ctrl\"}, {\"type\": \"qcode\", \"data\": \"alt\"},"
                               "{\"type\": \"number\", \"data\": 211}], \"hold-time\": 10}}");
    assert_return(o);
    json_object_unref(o);
    /* Presses in order, releases in reverse order, each step the hold time (virtual)
     * after the one before. */
    static const uint32_t want[] = { 0x1001d, 0x10038, 0x1e053, 0xe053, 0x38, 0x1d };
    g_assert_cmpuint(f->keys->len, ==, 1);
    for (guint i = 1; i < G_N_ELEMENTS(want); i++) {
        vm_test_clock_step(f->vm, 10 * 1000000 - 1);
        g_assert_cmpuint(f->keys->len, ==, i);
        vm_test_clock_step(f->vm, 1);
        g_assert_cmpuint(f->keys->len, ==, i + 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        g_assert_cmphex(g_array_index(f->keys, uint32_t, i), ==, want[i]);
    vm_test_clock_step(f->vm, 10 * 1000000); /* the pause after the last release */

    g_array_set_size(f->keys, 0);
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"key\", \"data\": {\"down\": true, \"key\": {\"type\": \"qcode\", \"data\": \"pause\"}}},"
                   "{\"type\": \"rel\", \"data\": {\"axis\": \"x\", \"value\": 15}},"
                   "{\"type\": \"rel\", \"data\": {\"axis\": \"y\", \"value\": -4}},"
                   "{\"type\": \"btn\", \"data\": {\"down\": true, \"button\": \"right\"}},"
                   "{\"type\": \"btn\", \"data\": {\"down\": true, \"button\": \"wheel-down\"}}]}}");
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpuint(f->keys->len, ==, 1);
    g_assert_cmphex(g_array_index(f->keys, uint32_t, 0), ==, 0x1e11d);
    g_assert_cmpint(f->pointer_events, ==, 1);
    g_assert_cmpint(f->dx, ==, 15);
    g_assert_cmpint(f->dy, ==, -4);
    g_assert_cmpint(f->dz, ==, 1);
    g_assert_cmphex(f->buttons, ==, VM_BUTTON_RIGHT);
    /* Absolute events are refused with a reason, and nothing of the batch is applied. */
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"btn\", \"data\": {\"down\": false, \"button\": \"right\"}},"
                   "{\"type\": \"abs\", \"data\": {\"axis\": \"x\", \"value\": 100}}]}}");
    assert_error(o, "GenericError");
    json_object_unref(o);
    g_assert_cmpint(f->pointer_events, ==, 1);
    g_assert_cmphex(f->buttons, ==, VM_BUTTON_RIGHT);

    /* With a tablet, abs events reach it with the position; an axis not given keeps
     * its value; buttons alone go to the tablet too; rel motion still goes to the
     * mouse. The newest keyboard takes the keys, and its removal hands them back. */
    vm_lock(f->vm);
    VmInputHandler *tablet = vm_input_handler_add(f->vm, &tablet_ops, f);
    f->kbd2 = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    VmInputHandler *kbd2 = vm_input_handler_add(f->vm, &kbd2_ops, f);
    vm_unlock(f->vm);
    g_assert_true(vm_input_absolute(f->vm));
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"abs\", \"data\": {\"axis\": \"x\", \"value\": 100}},"
                   "{\"type\": \"abs\", \"data\": {\"axis\": \"y\", \"value\": 32767}}]}}");
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpint(f->abs_events, ==, 1);
    g_assert_cmpint(f->abs_x, ==, 100);
    g_assert_cmpint(f->abs_y, ==, 32767);
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"abs\", \"data\": {\"axis\": \"x\", \"value\": 7}},"
                   "{\"type\": \"btn\", \"data\": {\"down\": true, \"button\": \"left\"}}]}}");
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpint(f->abs_events, ==, 2);
    g_assert_cmpint(f->abs_x, ==, 7);
    g_assert_cmpint(f->abs_y, ==, 32767);
    g_assert_cmphex(f->abs_buttons, ==, VM_BUTTON_RIGHT | VM_BUTTON_LEFT);
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"btn\", \"data\": {\"down\": false, \"button\": \"left\"}}]}}");
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpint(f->abs_events, ==, 3);
    g_assert_cmpint(f->pointer_events, ==, 1);
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"rel\", \"data\": {\"axis\": \"x\", \"value\": 3}},"
                   "{\"type\": \"key\", \"data\": {\"down\": true, \"key\": {\"type\": \"qcode\", \"data\": \"a\"}}}]}}");
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpint(f->pointer_events, ==, 2);
    g_assert_cmpint(f->dx, ==, 18);
    g_assert_cmpuint(f->kbd2->len, ==, 1);
    g_assert_cmphex(g_array_index(f->kbd2, uint32_t, 0), ==, 0x1001e);
    g_assert_cmpuint(f->keys->len, ==, 1);
    /* Out of range values are refused. */
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"abs\", \"data\": {\"axis\": \"x\", \"value\": 32768}}]}}");
    assert_error(o, "GenericError");
    json_object_unref(o);
    vm_lock(f->vm);
    vm_input_handler_remove(f->vm, kbd2);
    vm_input_handler_remove(f->vm, tablet);
    vm_unlock(f->vm);
    g_assert_false(vm_input_absolute(f->vm));
    vm_input_key(f->vm, 0x1e, false);
    g_assert_cmpuint(f->keys->len, ==, 2);
    g_assert_cmpuint(f->kbd2->len, ==, 1);
    g_array_free(f->kbd2, TRUE);
}

static JsonObject *send_key(Fixture *f, const char *qcode, int hold_ms)
{
    g_autofree char *req = hold_ms < 0
        ? g_strdup_printf("{\"execute\": \"send-key\", \"arguments\": {\"keys\": "
                          "[{\"type\": \"qcode\", \"data\": \"%s\"}]}}", qcode)
        : g_strdup_printf("{\"execute\": \"send-key\", \"arguments\": {\"keys\": "
                          "[{\"type\": \"qcode\", \"data\": \"%s\"}], \"hold-time\": %d}}", qcode, hold_ms);
    return command(f, req);
}

/* Successive send-key commands queue behind each other with the hold time (100 ms by
 * default) after every step; input-send-event and keys typed at the window wait their
 * turn behind them. */
static void test_key_queue(Fixture *f, gconstpointer data)
{
    negotiate(f);
    const int64_t ms = 1000000;
    JsonObject *o = send_key(f, "a", -1);
    assert_return(o);
    json_object_unref(o);
    o = send_key(f, "a", -1);
    assert_return(o);
    json_object_unref(o);
    o = command(f, "{\"execute\": \"input-send-event\", \"arguments\": {\"events\": ["
                   "{\"type\": \"key\", \"data\": {\"down\": true, \"key\": {\"type\": \"qcode\", \"data\": \"b\"}}},"
                   "{\"type\": \"key\", \"data\": {\"down\": false, \"key\": {\"type\": \"qcode\", \"data\": \"b\"}}}]}}");
    assert_return(o);
    json_object_unref(o);
    vm_input_key(f->vm, 0x2e, true); /* C, from a window */
    vm_input_key(f->vm, 0x2e, false);
    g_assert_cmpuint(f->keys->len, ==, 1);
    vm_test_clock_step(f->vm, 1000 * ms);
    static const struct { uint32_t key; int64_t at_ms; } want[] = {
        { 0x1001e, 0 }, { 0x1e, 100 }, { 0x1001e, 200 }, { 0x1e, 300 },
        { 0x10030, 400 }, { 0x30, 400 }, { 0x1002e, 400 }, { 0x2e, 400 },
    };
    g_assert_cmpuint(f->keys->len, ==, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_cmphex(g_array_index(f->keys, uint32_t, i), ==, want[i].key);
        g_assert_cmpint(g_array_index(f->key_times, int64_t, i), ==, want[i].at_ms * ms);
    }
    /* The queue is idle again: a key goes through at once; hold-time 0 has no pauses. */
    g_array_set_size(f->keys, 0);
    vm_input_key(f->vm, 0x30, true);
    g_assert_cmpuint(f->keys->len, ==, 1);
    o = send_key(f, "b", 0);
    assert_return(o);
    json_object_unref(o);
    g_assert_cmpuint(f->keys->len, ==, 3);
}

static void test_screen(Fixture *f, gconstpointer data)
{
    negotiate(f);
    IoSpace *io = vm_io(f->vm);
    GuestMemory *mem = vm_mem(f->vm);
    vm_lock(f->vm);
    vga_test_set_mode(io, &vga_mode_03);
    const char *msg = "Hello \x01 world \xb0";
    for (unsigned i = 0; i < 80 * 25; i++)
        mem_dispatch_write(mem, 0xb8000 + i * 2, 0x0720, 2);
    for (unsigned i = 0; msg[i]; i++)
        mem_dispatch_write(mem, 0xb8000 + (80 * 3 + 5 + i) * 2, (uint8_t)msg[i], 1);
    io_write(io, 0x3d4, 0x0e, 1);
    io_write(io, 0x3d5, 0x01, 1);
    io_write(io, 0x3d4, 0x0f, 1);
    io_write(io, 0x3d5, 0x00, 1); /* cursor at 256 = row 3, column 16 */
    vm_unlock(f->vm);
    JsonObject *o = command(f, "{\"execute\": \"x-screen-text\"}");
    assert_return(o);
    JsonObject *r = json_object_get_object_member(o, "return");
    g_assert_cmpint(json_object_get_int_member(r, "cols"), ==, 80);
    g_assert_cmpint(json_object_get_int_member(r, "rows"), ==, 25);
    JsonArray *lines = json_object_get_array_member(r, "lines");
    const char *line3 = json_array_get_string_element(lines, 3);
    g_assert_true(g_str_has_prefix(line3, "     Hello \u263a world \u2591 "));
    JsonObject *cur = json_object_get_object_member(r, "cursor");
    g_assert_cmpint(json_object_get_int_member(cur, "row"), ==, 3);
    g_assert_cmpint(json_object_get_int_member(cur, "col"), ==, 16);
    json_object_unref(o);

    g_autofree char *png = g_build_filename(f->dir, "shot.png", NULL);
    g_autofree char *cmd = g_strdup_printf("{\"execute\": \"screendump\", \"arguments\": "
                                           "{\"filename\": \"%s\", \"format\": \"png\"}}", png);
    o = command(f, cmd);
    assert_return(o);
    json_object_unref(o);
    g_autofree char *data_png = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(png, &data_png, &len, NULL));
    g_assert_cmpuint(len, >, 33);
    g_assert_cmpmem(data_png, 8, "\x89PNG\r\n\x1a\n", 8);
    /* IHDR: width and height, big-endian. */
    g_assert_cmphex(GUINT32_FROM_BE(*(uint32_t *)(data_png + 16)), ==, 720);
    g_assert_cmphex(GUINT32_FROM_BE(*(uint32_t *)(data_png + 20)), ==, 400);
    unlink(png);

    /* In a graphics mode there is no text. */
    vm_lock(f->vm);
    vga_test_set_mode(io, &vga_mode_13);
    vm_unlock(f->vm);
    o = command(f, "{\"execute\": \"x-screen-text\"}");
    assert_error(o, "GenericError");
    json_object_unref(o);
    o = command(f, "{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"/nonexistent/dir/x.png\"}}");
    assert_error(o, "GenericError");
    json_object_unref(o);
}

static JsonObject *screendump(Fixture *f, const char *path)
{
    g_autofree char *cmd = g_strdup_printf("{\"execute\": \"screendump\", \"arguments\": "
                                           "{\"filename\": \"%s\", \"format\": \"ppm\"}}", path);
    return command(f, cmd);
}

static const char *error_desc(JsonObject *o)
{
    JsonObject *e = json_object_get_object_member(o, "error");
    g_assert_nonnull(e);
    return json_object_get_string_member(e, "desc");
}

static char *read_text(const char *path)
{
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

/* Nothing but the files the test made may remain: no temporary file left behind. */
static void assert_dir_holds(const char *dir, const char *const *names)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name(d)))
        if (!g_strv_contains(names, n))
            g_error("%s/%s should not be there", dir, n);
    g_dir_close(d);
}

static void on_alarm(int sig)
{
    static const char msg[] = "Bail out! screendump blocked the main loop (a FIFO target)\n";
    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
        _exit(1);
    _exit(1);
}

/* screendump's target: a FIFO, a device, a symbolic link or a folder is refused without
 * being opened; a regular file is replaced only once the new picture is complete. */
static void test_screendump_targets(Fixture *f, gconstpointer data)
{
    negotiate(f);
    vm_lock(f->vm);
    vga_test_set_mode(vm_io(f->vm), &vga_mode_03);
    vm_unlock(f->vm);
    g_autofree char *fifo = g_build_filename(f->dir, "fifo.ppm", NULL);
    g_autofree char *victim = g_build_filename(f->dir, "victim.txt", NULL);
    g_autofree char *link = g_build_filename(f->dir, "link.ppm", NULL);
    g_autofree char *full_link = g_build_filename(f->dir, "full-link.ppm", NULL);
    g_autofree char *node = g_build_filename(f->dir, "full-node", NULL);
    g_autofree char *old = g_build_filename(f->dir, "old.ppm", NULL);
    const char *const made[] = { "qmp.sock", "fifo.ppm", "victim.txt", "link.ppm", "full-link.ppm",
                                 "full-node", "old.ppm", NULL };

    /* The main loop used to wait in open() for a reader of the FIFO. */
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    signal(SIGALRM, on_alarm);
    alarm(10);
    JsonObject *o = screendump(f, fifo);
    alarm(0);
    g_test_message("FIFO: %s", error_desc(o));
    g_assert_nonnull(strstr(error_desc(o), "FIFO"));
    json_object_unref(o);

    /* A symbolic link is not followed: the file it points to stays as it was. */
    g_assert_true(g_file_set_contents(victim, "keep", -1, NULL));
    g_assert_cmpint(symlink(victim, link), ==, 0);
    o = screendump(f, link);
    g_test_message("symlink: %s", error_desc(o));
    json_object_unref(o);
    g_autofree char *kept = read_text(victim);
    g_assert_cmpstr(kept, ==, "keep");

    /* A link to /dev/full: the write failed, and the failure path unlinked the link. */
    g_assert_cmpint(symlink("/dev/full", full_link), ==, 0);
    o = screendump(f, full_link);
    g_test_message("link to /dev/full: %s", error_desc(o));
    json_object_unref(o);
    struct stat st;
    g_assert_cmpint(lstat(full_link, &st), ==, 0);
    g_assert_true(S_ISLNK(st.st_mode));

    /* A device node of our own, as root's screendump /dev/full would meet: kept. */
    if (mknod(node, S_IFCHR | 0666, makedev(1, 7)) == 0) {
        o = screendump(f, node);
        g_test_message("device: %s", error_desc(o));
        g_assert_nonnull(strstr(error_desc(o), "character device"));
        json_object_unref(o);
        g_assert_cmpint(lstat(node, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
    } else {
        g_test_message("no device node test (mknod: %s)", g_strerror(errno));
    }

    /* A write that fails half-way leaves the old file whole (files are limited to 4 KiB
     * for this one; the picture is 864 KB). */
    g_assert_true(g_file_set_contents(old, "old picture", -1, NULL));
    struct rlimit saved, small;
    g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    small = saved;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &small), ==, 0);
    o = screendump(f, old);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    g_test_message("write failure: %s", error_desc(o));
    json_object_unref(o);
    g_autofree char *old_text = read_text(old);
    g_assert_cmpstr(old_text, ==, "old picture");
    assert_dir_holds(f->dir, made);

    /* And a write that works replaces it. */
    o = screendump(f, old);
    assert_return(o);
    json_object_unref(o);
    g_autofree char *new_text = read_text(old);
    g_assert_true(g_str_has_prefix(new_text, "P6\n720 400\n255\n"));
    assert_dir_holds(f->dir, made);

    for (const char *const *n = made + 1; *n; n++) {
        g_autofree char *p = g_build_filename(f->dir, *n, NULL);
        unlink(p);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/qmp/negotiation", test_negotiation);
    ADD("/qmp/bad-input", test_bad_input);
    ADD("/qmp/input", test_input);
    ADD("/qmp/key-queue", test_key_queue);
    ADD("/qmp/screen", test_screen);
    ADD("/qmp/screendump-targets", test_screendump_targets);
    return g_test_run();
}
