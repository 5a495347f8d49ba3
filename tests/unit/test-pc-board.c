/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pc board as vm_new_board_for_test builds it (the device fuzzer's board), and what
 * the fuzzer found there: devices created by name on ports another device owns. */
#include "engine/device.h"
#include "engine/testing.h"
#include "unit.h"

static VmConfig *board_config(void)
{
    VmConfig *cfg = vm_config_new();
    cfg->machine = g_strdup("pc");
    cfg->ram_size = UINT64_C(16) << 20;
    cfg->serial[0] = g_strdup("null");
    return cfg;
}

/* The board comes up without a CPU and answers on its ports: the PIT, the RTC, the
 * UART's scratch register, PCI configuration of the host bridge. */
static void test_board_builds(void)
{
    g_autoptr(VmConfig) cfg = board_config();
    g_autoptr(GError) err = NULL;
    Vm *vm = vm_new_board_for_test(cfg, &err);
    g_assert_no_error(err);
    vm_test_system_reset(vm);
    vm_lock(vm);
    g_assert_cmpstr(io_owner(vm_io(vm), 0x40), ==, "pit");
    g_assert_cmpstr(io_owner(vm_io(vm), 0x70), ==, "rtc");
    io_write(vm_io(vm), 0x3ff, 0x5a, 1);
    g_assert_cmphex(io_read(vm_io(vm), 0x3ff, 1), ==, 0x5a);
    io_write(vm_io(vm), 0xcf8, 0x80000000u, 4);
    g_assert_cmphex(io_read(vm_io(vm), 0xcfc, 4), ==, 0x12378086u); /* i440FX */
    vm_unlock(vm);
    vm_free(vm);
}

/* A device created by name on a port the board's UART owns would take the port from
 * it (the later registration wins): it is refused, naming the owner. */
static void test_by_name_port_conflicts(void)
{
    g_autoptr(VmConfig) cfg = board_config();
    g_autoptr(GError) err = NULL;
    Vm *vm = vm_new_board_for_test(cfg, &err);
    g_assert_no_error(err);
    vm_lock(vm);
    static const char *const specs[] = {
        "isa-debug-exit,iobase=0x3fc",
        "isa-debugcon,iobase=0x3f8",
        "isa-serial,iobase=0x3f8",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(specs); i++) {
        g_clear_error(&err);
        g_assert_null(device_create_from_spec(vm, specs[i], &err));
        g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
        g_assert_nonnull(strstr(err->message, "is taken by serial@0x3f8"));
    }
    /* The UART still has its ports. */
    io_write(vm_io(vm), 0x3ff, 0xa5, 1);
    g_assert_cmphex(io_read(vm_io(vm), 0x3ff, 1), ==, 0xa5);
    /* Free ports are fine. */
    g_clear_error(&err);
    g_assert_nonnull(device_create_from_spec(vm, "isa-debug-exit,iobase=0x501", &err));
    g_assert_nonnull(device_create_from_spec(vm, "isa-debugcon,iobase=0x402", &err));
    g_assert_no_error(err);
    vm_unlock(vm);
    vm_free(vm);
}

/* The runner's isa-debug-exit (VmConfig.debug_exit) on a port the board uses (a UART,
 * the PCI configuration address, fw_cfg): one error naming the owner, where the board
 * used to give the ports away silently. */
static void test_board_debug_exit_conflict(void)
{
    static const struct { uint16_t port; const char *message; } cases[] = {
        { 0x3f8, "isa-debug-exit.0: port 0x3f8 is taken by serial@0x3f8" },
        { 0xcf8, "isa-debug-exit.0: port 0xcf8 is taken by pci-conf-addr" },
        { 0x50e, "isa-debug-exit.0: port 0x510 is taken by fw_cfg-ctl" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(VmConfig) cfg = board_config();
        cfg->debug_exit = true;
        cfg->debug_exit_port = cases[i].port;
        g_autoptr(GError) err = NULL;
        Vm *vm = vm_new_board_for_test(cfg, &err);
        g_assert_null(vm);
        g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
        g_assert_cmpstr(err->message, ==, cases[i].message);
    }
    /* Its usual ports are free. */
    g_autoptr(VmConfig) cfg = board_config();
    cfg->debug_exit = true;
    cfg->debug_exit_port = 0xf4;
    g_autoptr(GError) err = NULL;
    Vm *vm = vm_new_board_for_test(cfg, &err);
    g_assert_no_error(err);
    vm_free(vm);
}

/* fw_cfg's ports exist before the -device list is created, so a device asking for
 * them is refused instead of being shadowed when fw_cfg arrives. */
static void test_fw_cfg_ports_taken_first(void)
{
    g_autoptr(VmConfig) cfg = board_config();
    g_ptr_array_add(cfg->devices, g_strdup("isa-debugcon,iobase=0x510"));
    g_autoptr(GError) err = NULL;
    Vm *vm = vm_new_board_for_test(cfg, &err);
    g_assert_null(vm);
    g_assert_error(err, VIREO_ERROR, VIREO_ERROR_INVALID);
    g_assert_nonnull(strstr(err->message, "port 0x510 is taken by fw_cfg"));
}

/* The display adapter: -vga cirrus (or virtio: virtio-vga, 1af4:1050) puts that card in
 * slot 2 instead of the std VGA;
 * -device cirrus-vga replaces the std VGA too (as in QEMU); a second adapter on the
 * VGA's ports is refused, naming the owner. */
static void test_display_adapters(void)
{
    static const struct { const char *vga, *device; uint32_t id02, id03; } cases[] = {
        { "std", NULL, 0x11111234u, 0xffffffffu },
        { "cirrus", NULL, 0x00b81013u, 0xffffffffu },
        { "virtio", NULL, 0x10501af4u, 0xffffffffu },
        { "std", "cirrus-vga,addr=3", 0xffffffffu, 0x00b81013u },
        { "none", NULL, 0xffffffffu, 0xffffffffu },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(VmConfig) cfg = board_config();
        g_autoptr(GError) err = NULL;
        cfg->vga = g_strdup(cases[i].vga);
        if (cases[i].device)
            g_ptr_array_add(cfg->devices, g_strdup(cases[i].device));
        Vm *vm = vm_new_board_for_test(cfg, &err);
        g_assert_no_error(err);
        vm_lock(vm);
        io_write(vm_io(vm), 0xcf8, 0x80001000u, 4);
        g_assert_cmphex(io_read(vm_io(vm), 0xcfc, 4), ==, cases[i].id02);
        io_write(vm_io(vm), 0xcf8, 0x80001800u, 4);
        g_assert_cmphex(io_read(vm_io(vm), 0xcfc, 4), ==, cases[i].id03);
        if (strcmp(cases[i].vga, "none")) {
            g_assert_null(device_create_from_spec(vm, "cirrus-vga,id=second", &err));
            g_assert_nonnull(strstr(err->message, "port 0x3b0 is taken"));
        }
        vm_unlock(vm);
        vm_free(vm);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pc-board/builds", test_board_builds);
    g_test_add_func("/pc-board/display-adapters", test_display_adapters);
    g_test_add_func("/pc-board/by-name-port-conflicts", test_by_name_port_conflicts);
    g_test_add_func("/pc-board/debug-exit-conflict", test_board_debug_exit_conflict);
    g_test_add_func("/pc-board/fw-cfg-ports-first", test_fw_cfg_ports_taken_first);
    return g_test_run();
}
