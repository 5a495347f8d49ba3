/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest RAM in VM state streams (engine/ramstate.c): a RAM image with zero pages, text,
 * random bytes and pages at chunk edges comes back byte for byte in a fresh memory;
 * zero pages cost no data; a payload cut at any point, with any byte flipped, for
 * another RAM size or with bytes after its end is refused with one line, and RAM
 * keeps what it held; decoded code on the loaded pages is reported as overwritten. */
#include "engine/memory.h"
#include "engine/ramstate.h"

#include <string.h>
#include <zlib.h>

#define RAM (UINT64_C(8) << 20)

static void fill(GuestMemory *m, guint32 seed)
{
    uint8_t *ram = mem_ram_low(m);
    memset(ram, 0, RAM);
    GRand *r = g_rand_new_with_seed(seed);
    /* Text-like pages, random pages, scattered single bytes, the first and last page
     * of chunks (256 pages each). */
    for (unsigned p = 10; p < 400; p++)
        for (unsigned k = 0; k < MEM_PAGE_SIZE; k++)
            ram[p * MEM_PAGE_SIZE + k] = (uint8_t)"Vireo saves RAM. "[k % 17];
    for (unsigned p = 600; p < 700; p++)
        for (unsigned k = 0; k < MEM_PAGE_SIZE; k++)
            ram[p * MEM_PAGE_SIZE + k] = (uint8_t)g_rand_int(r);
    for (unsigned k = 0; k < 200; k++)
        ram[g_rand_int_range(r, 0, (gint32)RAM)] = (uint8_t)(1 + k);
    ram[255 * MEM_PAGE_SIZE] = 0x55;
    ram[256 * MEM_PAGE_SIZE + MEM_PAGE_SIZE - 1] = 0xaa;
    ram[RAM - 1] = 0x77;
    g_rand_free(r);
}

static void test_round_trip(void)
{
    GuestMemory *a = mem_new(RAM, NULL), *b = mem_new(RAM, NULL);
    fill(a, 1);
    memset(mem_ram_low(b), 0x5a, RAM); /* the loaded image clears what was there */
    GByteArray *s = g_byte_array_new();
    GError *err = NULL;
    g_assert_true(ram_state_save(a, s, &err));
    g_assert_no_error(err);
    /* 400 compressible pages, 100 random ones, a few hundred scattered bytes: far
     * below the 8 MiB of RAM. */
    g_test_message("8 MiB of RAM saved in %u bytes", s->len);
    g_assert_cmpuint(s->len, <, 1200 * 1024);
    g_assert_true(ram_state_load(b, s->data, s->len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(mem_ram_low(a), RAM, mem_ram_low(b), RAM);
    g_byte_array_unref(s);
    mem_free(a);
    mem_free(b);
}

static void test_empty_ram_is_small(void)
{
    GuestMemory *a = mem_new(RAM, NULL);
    memset(mem_ram_low(a), 0, RAM);
    GByteArray *s = g_byte_array_new();
    g_assert_true(ram_state_save(a, s, NULL));
    /* 8 chunks of 40 bytes and the header. */
    g_assert_cmpuint(s->len, ==, 16 + 8 * 40 + 4);
    g_byte_array_unref(s);
    mem_free(a);
}

static void expect_refused(GuestMemory *m, const uint8_t *buf, size_t len, const uint8_t *before,
                           const char *what)
{
    GError *err = NULL;
    if (ram_state_load(m, buf, len, &err)) {
        g_test_message("%s: accepted", what);
        g_test_fail();
        return;
    }
    g_assert_nonnull(err);
    g_assert_null(strchr(err->message, '\n'));
    g_error_free(err);
    if (memcmp(mem_ram_low(m), before, RAM) != 0) {
        g_test_message("%s: RAM changed", what);
        g_test_fail();
    }
}

static void test_bad_payloads(void)
{
    GuestMemory *a = mem_new(RAM, NULL), *b = mem_new(RAM, NULL);
    fill(a, 2);
    fill(b, 3);
    uint8_t *before = g_memdup2(mem_ram_low(b), RAM);
    GByteArray *s = g_byte_array_new();
    g_assert_true(ram_state_save(a, s, NULL));

    /* Cut at every byte of the structure and at a stride through the frames. */
    for (size_t cut = 0; cut < s->len; cut += cut < 200 ? 1 : 997)
        expect_refused(b, s->data, cut, before, "truncated");
    /* Bytes after the end. */
    uint8_t *longer = g_malloc(s->len + 1);
    memcpy(longer, s->data, s->len);
    longer[s->len] = 0;
    expect_refused(b, longer, s->len + 1, before, "trailing byte");
    g_free(longer);
    /* Single bit flips in the header, the first chunk's fields and inside frames. A
     * flip inside compressed data that zstd still decodes to the right size would
     * change RAM without notice: zstd frames carry a checksum, so none may pass. */
    uint8_t *copy = g_memdup2(s->data, s->len);
    unsigned checked = 0;
    for (size_t at = 0; at < s->len; at += at < 64 ? 1 : 389) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            copy[at] ^= (uint8_t)(1u << bit);
            GError *err = NULL;
            if (ram_state_load(b, copy, s->len, &err)) {
                /* Allowed only where the flip does not change what the payload says:
                 * there is no such byte in this layout. */
                g_test_message("bit %u of byte %zu flipped: accepted", bit, at);
                g_test_fail();
            } else {
                g_error_free(err);
            }
            copy[at] ^= (uint8_t)(1u << bit);
            checked++;
        }
    }
    g_assert_cmpmem(mem_ram_low(b), RAM, before, RAM);
    g_test_message("%u bit flips refused", checked);
    g_free(copy);

    /* Crafted: the checksum right, the structure not (a hostile file, not damage). */
    static const struct { size_t at; uint8_t xor; const char *what; } crafted[] = {
        { 16, 1, "page count" }, { 20, 0x80, "bitmap" }, { 52, 1, "frame length" },
        { 57, 0x10, "frame header" }, { 8, 0x10, "page size" },
    };
    for (unsigned k = 0; k < G_N_ELEMENTS(crafted); k++) {
        uint8_t *x = g_memdup2(s->data, s->len);
        x[crafted[k].at] ^= crafted[k].xor;
        uint32_t crc = (uint32_t)crc32(0, x, (uInt)(s->len - 4));
        for (unsigned i = 0; i < 4; i++)
            x[s->len - 4 + i] = (uint8_t)(crc >> (8 * i));
        expect_refused(b, x, s->len, before, crafted[k].what);
        g_free(x);
    }

    /* Another RAM size. */
    GuestMemory *c = mem_new(RAM * 2, NULL);
    GError *err = NULL;
    g_assert_false(ram_state_load(c, s->data, s->len, &err));
    g_assert_nonnull(strstr(err->message, "MiB"));
    g_error_free(err);
    mem_free(c);

    g_free(before);
    g_byte_array_unref(s);
    mem_free(a);
    mem_free(b);
}

typedef struct CodeLog {
    hwaddr lo, hi;
    int calls;
} CodeLog;

static void code_written(void *opaque, hwaddr addr, size_t len)
{
    CodeLog *l = opaque;
    l->calls++;
    l->lo = MIN(l->lo, addr);
    l->hi = MAX(l->hi, addr + len);
}

static void test_code_dropped(void)
{
    GuestMemory *a = mem_new(RAM, NULL), *b = mem_new(RAM, NULL);
    fill(a, 4);
    CodeLog log = { .lo = G_MAXUINT64 };
    MemListener l = { .code_written = code_written, .opaque = &log };
    mem_add_listener(b, &l);
    GByteArray *s = g_byte_array_new();
    g_assert_true(ram_state_save(a, s, NULL));
    g_assert_true(ram_state_load(b, s->data, s->len, NULL));
    g_assert_cmpint(log.calls, >=, 1);
    g_assert_cmpuint(log.lo, ==, 0);
    g_assert_cmpuint(log.hi, >=, RAM);
    mem_remove_listener(b, &l);
    g_byte_array_unref(s);
    mem_free(a);
    mem_free(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ramstate/round-trip", test_round_trip);
    g_test_add_func("/ramstate/empty-ram-is-small", test_empty_ram_is_small);
    g_test_add_func("/ramstate/bad-payloads", test_bad_payloads);
    g_test_add_func("/ramstate/code-dropped", test_code_dropped);
    return g_test_run();
}
