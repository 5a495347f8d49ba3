/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fixed-seed mutation loop over the read-only import drivers (vmdk, vdi, vpc, vhdx).
 *
 *   fuzz-import ITERATIONS SEED FILE:FORMAT...
 *
 * Each FILE (a valid image made by qemu-img; the caller's scratch copy) is damaged in
 * place ITERATIONS times: random bytes, bit flips, 32-bit table-sized values (zero,
 * all ones, huge, just past the end of the file) at aligned offsets, truncation; VHDX
 * header and region table checksums are recomputed so damage reaches the fields behind
 * them. Each damaged file is opened read-only with its format and probed, read at the
 * start, middle and end, its allocation walked and its tables checked; then the damage
 * is undone. Nothing may crash, hang or trip a sanitizer, and every refusal must be one
 * line. Under ASan-less builds the address space is capped at 1 GiB, so a table sized
 * from a damaged header cannot make a huge allocation pass unnoticed. */
#include "disks/block-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

typedef struct Edit {
    uint64_t offset;
    uint8_t old;
} Edit;

static unsigned opened, refused, checked_corrupt;
static bool trace;   /* FUZZ_IMPORT_TRACE=1: one line per input (to compare two builds) */

static void die(const char *what)
{
    fprintf(stderr, "fuzz-import: %s\n", what);
    exit(1);
}

static void put(int fd, GArray *edits, const uint8_t *orig, uint64_t size, uint64_t off,
                uint8_t v)
{
    if (off >= size)
        return;
    Edit e = { off, orig[off] };
    g_array_append_val(edits, e);
    if (pwrite(fd, &v, 1, (off_t)off) != 1)
        die("pwrite");
}

/* Recomputes a VHDX header's or region table's CRC-32C in the file. */
static void fix_crc(int fd, GArray *edits, const uint8_t *orig, uint64_t size, uint64_t at,
                    uint64_t len)
{
    if (at + len > size)
        return;
    uint8_t *b = g_malloc(len);
    if (pread(fd, b, len, (off_t)at) != (ssize_t)len)
        die("pread");
    memset(b + 4, 0, 4);
    uint32_t c = block_crc32c(0, b, len);
    for (int i = 0; i < 4; i++)
        put(fd, edits, orig, size, at + 4 + i, (uint8_t)(c >> (8 * i)));
    g_free(b);
}

static void no_report(void *opaque, const char *line)
{
    if (strchr(line, '\n'))
        die("a check report spans lines");
}

static void inspect(const char *path, const char *format, uint8_t *buf)
{
    BlockOpenOptions o = { .read_only = true, .format = format, .no_backing = true };
    GError *err = NULL;
    BlockImage *img = block_open(path, &o, &err);
    if (!img) {
        if (strchr(err->message, '\n') || !g_utf8_validate(err->message, -1, NULL))
            die("an open error spans lines or is not UTF-8");
        if (trace)
            printf("# refused: %s\n", err->message);
        g_error_free(err);
        refused++;
        return;
    }
    opened++;
    uint64_t size = block_size(img);
    if (trace)
        printf("# opened: %s %" PRIu64 "\n", block_format_name(img), size);
    uint64_t at[] = { 0, size / 2, size > CHUNK ? size - CHUNK : 0 };
    for (size_t i = 0; i < G_N_ELEMENTS(at); i++) {
        uint64_t n = MIN((uint64_t)CHUNK, size - MIN(size, at[i]));
        if (n && !block_pread(img, at[i], buf, n, &err)) {
            if (strchr(err->message, '\n') || !g_utf8_validate(err->message, -1, NULL))
                die("a read error spans lines or is not UTF-8");
            g_clear_error(&err);
        }
    }
    uint64_t off = 0, end = MIN(size, 256ull << 20);
    for (int steps = 0; off < end && steps < 4096; steps++) {
        BlockStatus st;
        if (!block_get_status(img, off, end - off, &st, NULL))
            break;
        off += st.length;
    }
    BlockCheckResult r;
    if (block_check_tables(img, &r, no_report, NULL, NULL) && r.corruptions)
        checked_corrupt++;
    block_close(img, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: fuzz-import ITERATIONS SEED FILE:FORMAT...\n");
        return 2;
    }
#ifndef HAVE_ASAN
    struct rlimit lim = { 1ull << 30, 1ull << 30 };
    setrlimit(RLIMIT_AS, &lim);
#endif
    trace = getenv("FUZZ_IMPORT_TRACE") != NULL;
    unsigned iterations = (unsigned)strtoul(argv[1], NULL, 0);
    guint32 seed = (guint32)strtoul(argv[2], NULL, 0);
    GRand *r = g_rand_new_with_seed(seed);
    uint8_t *buf = g_malloc(CHUNK);
    unsigned total = 0;
    for (int a = 3; a < argc; a++) {
        char *spec = g_strdup(argv[a]);
        char *colon = strrchr(spec, ':');
        if (!colon)
            die("argument without :FORMAT");
        *colon = 0;
        const char *path = spec, *format = colon + 1;
        gchar *orig_c;
        gsize size;
        if (!g_file_get_contents(path, &orig_c, &size, NULL))
            die("cannot read a seed");
        const uint8_t *orig = (const uint8_t *)orig_c;
        /* Sectors holding anything: headers and tables, where damage matters most. */
        GArray *busy = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        for (uint64_t s = 0; s + 512 <= size; s += 512)
            if (!host_buffer_is_zero(orig + s, 512))
                g_array_append_val(busy, s);
        if (!busy->len)
            die("an empty seed");
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            die("cannot open a seed");
        bool vhdx = !strcmp(format, "vhdx");
        GArray *edits = g_array_new(FALSE, FALSE, sizeof(Edit));
        inspect(path, format, buf);
        for (unsigned it = 0; it < iterations; it++) {
            uint64_t cut = size;
            int n = g_rand_int_range(r, 1, 5);
            for (int k = 0; k < n; k++) {
                uint64_t off;
                int where = g_rand_int_range(r, 0, 10);
                if (where < 3)
                    off = (uint64_t)g_rand_int_range(r, 0, 1024);
                else if (where < 8)
                    off = g_array_index(busy, uint64_t, g_rand_int_range(r, 0, (gint32)busy->len)) +
                          (uint64_t)g_rand_int_range(r, 0, 512);
                else
                    off = (uint64_t)(g_rand_double(r) * (double)size);
                switch (g_rand_int_range(r, 0, 5)) {
                case 0:
                    put(fd, edits, orig, size, off, (uint8_t)g_rand_int(r));
                    break;
                case 1:
                    put(fd, edits, orig, size, off, orig[MIN(off, size - 1)] ^
                        (uint8_t)(1u << g_rand_int_range(r, 0, 8)));
                    break;
                case 2: case 3: {
                    static const uint32_t values[] = { 0, 1, 0xffffffffu, 0xfffffffeu, 0x7fffffffu,
                                                       0x80000000u, 0x10000u };
                    uint32_t v = g_rand_boolean(r) ? values[g_rand_int_range(r, 0, 7)]
                                                   : (uint32_t)(size / 512 + (uint64_t)g_rand_int_range(r, 0, 4));
                    off &= ~3ull;
                    for (int i = 0; i < 4; i++)
                        put(fd, edits, orig, size, off + i, (uint8_t)(v >> (8 * i)));
                    break;
                }
                default:
                    if (g_rand_int_range(r, 0, 4) == 0)
                        cut = (uint64_t)(g_rand_double(r) * (double)size);
                    break;
                }
            }
            if (vhdx) {
                fix_crc(fd, edits, orig, size, 64 << 10, 4096);
                fix_crc(fd, edits, orig, size, 128 << 10, 4096);
                fix_crc(fd, edits, orig, size, 192 << 10, 65536);
                fix_crc(fd, edits, orig, size, 256 << 10, 65536);
            }
            if (cut < size && ftruncate(fd, (off_t)cut) < 0)
                die("ftruncate");
            inspect(path, g_rand_boolean(r) ? format : NULL, buf);
            total++;
            /* Undo: the tail first, then every byte edited (each edit kept the seed's byte). */
            if (cut < size && pwrite(fd, orig + cut, size - cut, (off_t)cut) != (ssize_t)(size - cut))
                die("restore");
            for (guint i = 0; i < edits->len; i++) {
                Edit *e = &g_array_index(edits, Edit, i);
                if (pwrite(fd, &e->old, 1, (off_t)e->offset) != 1)
                    die("restore");
            }
            g_array_set_size(edits, 0);
        }
        close(fd);
        gchar *now;
        gsize now_size;
        if (!g_file_get_contents(path, &now, &now_size, NULL) || now_size != size ||
            memcmp(now, orig, size))
            die("the seed was not restored");
        g_free(now);
        g_array_free(edits, TRUE);
        g_array_free(busy, TRUE);
        g_free(orig_c);
        g_free(spec);
    }
    g_free(buf);
    g_rand_free(r);
    printf("1..1\nok 1 fuzz-import: %u damaged images (%u opened, %u refused, %u found corrupt by "
           "check), seed %u\n", total, opened, refused, checked_corrupt, seed);
    return 0;
}
