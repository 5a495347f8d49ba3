/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz target for the device state loader. The input is a device state stream
 * (device_list_save's format) for a VM with the PC's converted devices; section
 * checksums are recomputed where a section's length allows, so mutations reach the
 * field decoder and the devices' checks instead of stopping at the CRC. A stream that
 * loads is then run: ports read, the clock stepped. Nothing may crash or trip a
 * sanitizer; refusals are expected.
 *
 * Built with -DVIREO_LIBFUZZER and clang's -fsanitize=fuzzer it is a libFuzzer target;
 * otherwise main() mutates a saved stream ITERATIONS times from a fixed seed (argv[1]
 * overrides the count, argv[2] the seed), which the unit suite runs. */
#include "engine/device.h"
#include "engine/testing.h"
#include "hw/char/serial.h"
#include "hw/intc/i8259.h"
#include "hw/misc/debugcon.h"
#include "hw/misc/debugexit.h"
#include "hw/timer/i8254.h"
#include "hw/timer/mc146818.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define ITERATIONS 20000

static Vm *vm;
static unsigned loaded;

static void build_vm(void)
{
    vm = vm_new_for_test(0);
    vm_test_clock_step(vm, 7000000);
    vm_lock(vm);
    i8259_new(vm, NULL, vm_cpu_pins(vm));
    i8254_new(vm, 0x40, NULL);
    mc146818_new(vm, 0x70, NULL, false);
    serial_new(vm, 0x3f8, NULL, NULL);
    debugcon_new(vm, 0xe9, NULL);
    debugexit_new(vm, 0x501, NULL);
    vm_unlock(vm);
}

static void repair_checksums(uint8_t *d, size_t len)
{
    size_t pos = 16;
    while (pos + 4 <= len) {
        size_t rest = d[pos] | d[pos + 1] << 8 | d[pos + 2] << 16 | (size_t)d[pos + 3] << 24;
        if (rest < 4 || rest > len - pos - 4)
            return;
        size_t total = 4 + rest;
        uint32_t c = (uint32_t)crc32(0L, d + pos, (uInt)(total - 4));
        for (int i = 0; i < 4; i++)
            d[pos + total - 4 + i] = (uint8_t)(c >> (8 * i));
        pos += total;
    }
}

static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x71, 0x3f8, 0x3f9,
                                  0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vm)
        build_vm();
    uint8_t *d = g_memdup2(data, size);
    repair_checksums(d, size);
    vm_lock(vm);
    bool ok = device_list_load(vm, d, size, NULL);
    if (ok) {
        for (size_t i = 0; i < G_N_ELEMENTS(ports); i++)
            io_read(vm_io(vm), ports[i], 1);
        for (uint16_t idx = 0; idx < 0x0e; idx++) {
            io_write(vm_io(vm), 0x70, idx, 1);
            io_read(vm_io(vm), 0x71, 1);
        }
    }
    vm_unlock(vm);
    if (ok) {
        loaded++;
        vm_test_clock_step(vm, 3000000);
    }
    g_free(d);
    return 0;
}

#ifndef VIREO_LIBFUZZER
int main(int argc, char **argv)
{
    unsigned iterations = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : ITERATIONS;
    guint32 seed = argc > 2 ? (guint32)strtoul(argv[2], NULL, 0) : 13;
    build_vm();
    /* A busy VM's stream is the seed input. */
    vm_lock(vm);
    io_write(vm_io(vm), 0x43, 0x34, 1);
    io_write(vm_io(vm), 0x40, 0x00, 1);
    io_write(vm_io(vm), 0x40, 0x20, 1);
    io_write(vm_io(vm), 0x3fa, 0xc7, 1);
    io_write(vm_io(vm), 0x3f9, 0x07, 1);
    vm_unlock(vm);
    GByteArray *seed_stream = g_byte_array_new();
    vm_lock(vm);
    device_list_save(vm, seed_stream);
    vm_unlock(vm);
    GRand *r = g_rand_new_with_seed(seed);
    for (unsigned it = 0; it < iterations; it++) {
        size_t len = seed_stream->len;
        uint8_t *buf = g_malloc(len + 16);
        memcpy(buf, seed_stream->data, len);
        int edits = g_rand_int_range(r, 1, 5);
        for (int e = 0; e < edits; e++) {
            switch (g_rand_int_range(r, 0, 4)) {
            case 0: /* a random byte */
                buf[g_rand_int_range(r, 0, (gint32)len)] = (uint8_t)g_rand_int(r);
                break;
            case 1: /* a bit */
                buf[g_rand_int_range(r, 0, (gint32)len)] ^= (uint8_t)(1u << g_rand_int_range(r, 0, 8));
                break;
            case 2: /* truncated */
                len = (size_t)g_rand_int_range(r, 0, (gint32)len + 1);
                break;
            default: /* grown by a few bytes */
                for (int k = 0; k < 4; k++)
                    buf[len++] = (uint8_t)g_rand_int(r);
                break;
            }
            if (len == 0 || len > seed_stream->len + 12)
                break;
        }
        LLVMFuzzerTestOneInput(buf, len);
        g_free(buf);
    }
    g_rand_free(r);
    g_byte_array_unref(seed_stream);
    vm_free(vm);
    printf("1..1\nok 1 fuzz-vmstate: %u mutated streams (%u loaded and run), seed %u\n", iterations,
           loaded, seed);
    return 0;
}
#endif
