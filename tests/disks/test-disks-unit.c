/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the block layer internals: refcount entries of every width, the cluster
 * allocator (including refcount table growth), refcount limits, the snapshot table,
 * the VM-state area of snapshots, backing chain resolution, hostile headers and the
 * asynchronous request pool. */
#include "disks/block.h"
#include "disks/image-ops.h"
#include "disks/qcow2-internal.h"

#include <glib/gstdio.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static BlockImage *make_qcow2(const char *name, uint64_t size, uint32_t cs, unsigned rb)
{
    char *path = tmp_path(name);
    Qcow2CreateOptions o = { .size = size, .cluster_size = cs, .refcount_bits = rb };
    GError *err = NULL;
    g_assert_true(qcow2_create(path, &o, &err));
    g_assert_no_error(err);
    BlockOpenOptions oo = { .format = "qcow2" };
    BlockImage *img = block_open(path, &oo, &err);
    g_assert_no_error(err);
    g_free(path);
    return img;
}

static void count_lines(void *opaque, const char *line)
{
    (*(int *)opaque)++;
}

/* Every width stores values independently of its neighbours, least significant bit first
 * for sub-byte widths ("Refcount block entry"). */
static void test_refblock_widths(void)
{
    for (unsigned order = 0; order <= 6; order++) {
        Qcow2State s = { .refcount_order = order, .refcount_bits = 1u << order };
        uint64_t max = order == 6 ? UINT64_MAX : (1ULL << (1u << order)) - 1;
        uint8_t block[512];
        memset(block, 0, sizeof(block));
        uint64_t n = 512 * 8 / s.refcount_bits;
        for (uint64_t i = 0; i < n; i++)
            qcow2_refblock_set(&s, block, i, (i * 2654435761u) & max);
        for (uint64_t i = 0; i < n; i++)
            g_assert_cmpuint(qcow2_refblock_get(&s, block, i), ==, (i * 2654435761u) & max);
        /* Sub-byte entries: entry 0 is the least significant bit(s) of byte 0. */
        memset(block, 0, sizeof(block));
        qcow2_refblock_set(&s, block, 0, 1);
        if (order <= 2)
            g_assert_cmpuint(block[0], ==, 1);
        else
            g_assert_cmpuint(block[(1u << order) / 8 - 1], ==, 1);
    }
}

/* Allocations are contiguous, never overlap metadata, and grow the refcount table when
 * they pass its reach; every cluster allocated but not referenced is one leak. */
static void test_allocator(void)
{
    /* 512-byte clusters with 64-bit refcounts: one block counts 64 clusters and one table
     * cluster 64 blocks, so a few MiB force refcount blocks and table growth. */
    BlockImage *img = make_qcow2("alloc.qcow2", 1 << 20, 512, 64);
    Qcow2State *s = qcow2_state(img);
    g_assert_nonnull(s);
    uint64_t first_table = s->reftable_offset;
    GHashTable *used = g_hash_table_new(g_int64_hash, g_int64_equal);
    GArray *offsets = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    GError *err = NULL;
    uint64_t total = 0;
    for (unsigned i = 0; i < 200; i++) {
        uint64_t count = 1 + (i * 7) % 90; /* some runs longer than a block's reach */
        uint64_t off;
        g_assert_true(qcow2_alloc_clusters(s, count, &off, NULL, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(off % 512, ==, 0);
        for (uint64_t c = 0; c < count; c++) {
            uint64_t *k = g_new(uint64_t, 1);
            *k = off + c * 512;
            g_assert_false(g_hash_table_contains(used, k));
            g_assert_cmpuint(*k, !=, 0);
            g_hash_table_add(used, k);
            uint64_t rc;
            g_assert_true(qcow2_get_refcount(s, *k >> 9, &rc, &err));
            g_assert_cmpuint(rc, ==, 1);
        }
        g_array_append_val(offsets, off);
        total += count;
    }
    g_assert_cmpuint(s->reftable_offset, !=, first_table);
    /* No allocation may have landed on a refcount block or the table. */
    for (uint64_t i = 0; i < s->reftable_entries; i++) {
        uint64_t b = s->reftable[i] & QCOW2_REFT_OFFSET_MASK;
        if (b)
            g_assert_false(g_hash_table_contains(used, &b));
    }
    for (uint64_t t = 0; t < s->reftable_clusters; t++) {
        uint64_t off = s->reftable_offset + t * 512;
        g_assert_false(g_hash_table_contains(used, &off));
    }
    g_assert_true(qcow2_flush_metadata(s, &err));
    /* Clusters past the end of the file are not checked (as in qemu-img): make the file
     * cover every allocation so each one shows up as a leak. */
    uint64_t end = 0;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, used);
    while (g_hash_table_iter_next(&it, &key, NULL))
        end = MAX(end, *(uint64_t *)key + 512);
    g_assert_true(host_file_truncate(s->file, end, &err));

    Qcow2CheckResult r;
    int lines = 0;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, count_lines, &lines, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaks, ==, total);
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_LEAKS, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.leaks, ==, 0);
    g_assert_cmpuint(r.leaks_fixed, ==, total);
    /* The freed space is found again. */
    uint64_t off;
    g_assert_true(qcow2_alloc_clusters(s, 1, &off, NULL, &err));
    g_assert_true(g_hash_table_contains(used, &off));
    g_assert_true(qcow2_free_clusters_now(s, off, 512, &err));
    g_assert_true(block_close(img, &err));
    g_hash_table_iter_init(&it, used);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_free(key);
    g_hash_table_destroy(used);
    g_array_free(offsets, TRUE);
}

/* Refcounts stop at their width's maximum and at zero, with an error and no change. */
static void test_refcount_limits(void)
{
    BlockImage *img = make_qcow2("limits.qcow2", 1 << 20, 65536, 1);
    Qcow2State *s = qcow2_state(img);
    GError *err = NULL;
    uint64_t off, rc;
    g_assert_true(qcow2_alloc_clusters(s, 1, &off, NULL, &err));
    g_assert_false(qcow2_update_refcounts(s, off >> 16, 1, 1, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "refcount_bits=1"));
    g_clear_error(&err);
    g_assert_true(qcow2_get_refcount(s, off >> 16, &rc, &err));
    g_assert_cmpuint(rc, ==, 1);
    g_assert_true(qcow2_update_refcounts(s, off >> 16, 1, -1, &err));
    g_assert_false(qcow2_update_refcounts(s, off >> 16, 1, -1, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT);
    g_clear_error(&err);
    g_assert_true(qcow2_get_refcount(s, off >> 16, &rc, &err));
    g_assert_cmpuint(rc, ==, 0);
    /* The underflow counted as corruption: no more writes this session. */
    g_assert_false(block_pwrite(img, 0, "data", 4, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT);
    g_clear_error(&err);
    block_close(img, NULL);

    /* A snapshot needs refcount 2: refused cleanly on a 1-bit image. */
    img = make_qcow2("limits2.qcow2", 1 << 20, 65536, 1);
    g_assert_true(block_pwrite(img, 0, "data", 4, &err));
    g_assert_false(qcow2_snapshot_create(img, "s", &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED);
    g_clear_error(&err);
    block_close(img, NULL);
}

/* A huge stored refcount (64-bit widths) is repaired down to the real count; found by
 * the fuzzer as an overflow when the difference did not fit a signed delta. */
static void test_huge_refcount_repair(void)
{
    BlockImage *img = make_qcow2("huge.qcow2", 1 << 20, 65536, 64);
    Qcow2State *s = qcow2_state(img);
    GError *err = NULL;
    g_assert_true(block_pwrite(img, 0, "x", 1, &err));
    g_assert_true(qcow2_flush_metadata(s, &err));
    uint64_t host = s->l1[0] & QCOW2_OFFSET_MASK; /* the L2 table: one reference */
    g_assert_true(qcow2_set_refcount(s, host >> 16, (1ULL << 63) + 5, &err));
    g_assert_true(qcow2_flush_metadata(s, &err));
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.leaks, ==, 1);
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_LEAKS, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.leaks, ==, 0);
    g_assert_cmpuint(r.leaks_fixed, ==, 1);
    uint64_t rc;
    g_assert_true(qcow2_get_refcount(s, host >> 16, &rc, &err));
    g_assert_cmpuint(rc, ==, 1);
    g_assert_true(block_close(img, &err));
}

/* A serialised table parses back to the same entries, unknown extra data included. */
static void test_snapshot_table(void)
{
    BlockImage *img = make_qcow2("snap.qcow2", 1 << 20, 65536, 16);
    Qcow2State *s = qcow2_state(img);
    Qcow2Snapshot sn[3] = { 0 };
    static const uint8_t unknown[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    for (int i = 0; i < 3; i++) {
        sn[i].l1_offset = 65536ULL * (10 + i);
        sn[i].l1_size = 1;
        sn[i].id = g_strdup_printf("%d", i + 1);
        sn[i].name = g_strdup_printf("snapshot number %d", i);
        sn[i].date_sec = 1000 + i;
        sn[i].date_nsec = 5000 + i;
        sn[i].vm_clock_nsec = 123456789ULL * i;
        sn[i].vm_state_size = i == 2 ? (1ULL << 33) : 0;
        sn[i].disk_size = 1 << 20;
        sn[i].has_icount = true;
        sn[i].icount = 42;
    }
    sn[1].extra_unknown = g_memdup2(unknown, sizeof(unknown));
    sn[1].extra_unknown_len = sizeof(unknown);
    uint64_t bytes, consumed;
    GError *err = NULL;
    uint8_t *buf = qcow2_snapshots_serialize(s, sn, 3, &bytes, &err);
    g_assert_nonnull(buf);
    g_assert_cmpuint(bytes % 8, ==, 0);
    Qcow2Snapshot *back = NULL;
    g_assert_true(qcow2_snapshots_parse(s, buf, bytes, 3, &back, &consumed, &err));
    g_assert_cmpuint(consumed, ==, bytes);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpstr(back[i].id, ==, sn[i].id);
        g_assert_cmpstr(back[i].name, ==, sn[i].name);
        g_assert_cmpuint(back[i].l1_offset, ==, sn[i].l1_offset);
        g_assert_cmpuint(back[i].date_sec, ==, sn[i].date_sec);
        g_assert_cmpuint(back[i].date_nsec, ==, sn[i].date_nsec);
        g_assert_cmpuint(back[i].vm_clock_nsec, ==, sn[i].vm_clock_nsec);
        g_assert_cmpuint(back[i].vm_state_size, ==, sn[i].vm_state_size);
        g_assert_cmpuint(back[i].icount, ==, 42);
    }
    g_assert_cmpuint(back[1].extra_unknown_len, ==, sizeof(unknown));
    g_assert_cmpmem(back[1].extra_unknown, sizeof(unknown), unknown, sizeof(unknown));
    qcow2_snapshots_free(back, 3);

    /* Hostile tables: cut short, an entry claiming more than the table, huge extra. */
    g_assert_false(qcow2_snapshots_parse(s, buf, 30, 1, &back, &consumed, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT);
    g_clear_error(&err);
    g_assert_false(qcow2_snapshots_parse(s, buf, bytes, 4, &back, &consumed, &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT);
    g_clear_error(&err);
    uint8_t *bad = g_memdup2(buf, bytes);
    qcow2_put_be32(bad + 36, 100000);
    g_assert_false(qcow2_snapshots_parse(s, bad, bytes, 1, &back, &consumed, &err));
    g_assert_nonnull(strstr(err->message, "extra data"));
    g_clear_error(&err);
    memcpy(bad, buf, bytes);
    qcow2_put_be64(bad, 65536 + 7); /* unaligned L1 table */
    g_assert_false(qcow2_snapshots_parse(s, bad, bytes, 1, &back, &consumed, &err));
    g_clear_error(&err);
    g_free(bad);
    g_free(buf);
    for (int i = 0; i < 3; i++) {
        g_free(sn[i].id);
        g_free(sn[i].name);
        g_free(sn[i].extra_unknown);
    }
    block_close(img, NULL);
}

/* Snapshot create, apply and delete through the public interface keep data apart. */
static void test_snapshot_ops(void)
{
    BlockImage *img = make_qcow2("snapops.qcow2", 4 << 20, 65536, 16);
    GError *err = NULL;
    uint8_t a[4096], b[4096], out[4096];
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    g_assert_true(block_pwrite(img, 8192, a, sizeof(a), &err));
    g_assert_true(qcow2_snapshot_create(img, "one", &err));
    g_assert_false(qcow2_snapshot_create(img, "one", &err));
    g_clear_error(&err);
    g_assert_true(block_pwrite(img, 8192, b, sizeof(b), &err));
    g_assert_true(qcow2_snapshot_create(img, "two", &err));
    GPtrArray *list = qcow2_snapshot_list(img, &err);
    g_assert_cmpuint(list->len, ==, 2);
    g_assert_cmpstr(((Qcow2SnapshotInfo *)list->pdata[0])->id, ==, "1");
    g_assert_cmpstr(((Qcow2SnapshotInfo *)list->pdata[1])->name, ==, "two");
    g_ptr_array_free(list, TRUE);
    g_assert_true(qcow2_snapshot_apply(img, "one", &err));
    g_assert_true(block_pread(img, 8192, out, sizeof(out), &err));
    g_assert_cmpmem(out, sizeof(out), a, sizeof(a));
    g_assert_true(qcow2_snapshot_delete(img, "1", &err)); /* by ID */
    g_assert_true(qcow2_snapshot_apply(img, "two", &err));
    g_assert_true(block_pread(img, 8192, out, sizeof(out), &err));
    g_assert_cmpmem(out, sizeof(out), b, sizeof(b));
    g_assert_false(qcow2_snapshot_apply(img, "one", &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND);
    g_clear_error(&err);
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.corruptions + r.leaks, ==, 0);
    g_assert_true(block_close(img, &err));
}

static void test_backing_paths(void)
{
    char *p;
    p = block_resolve_backing_path("dir/top.qcow2", "base.raw");
    g_assert_cmpstr(p, ==, "dir/base.raw");
    g_free(p);
    p = block_resolve_backing_path("top.qcow2", "base.raw");
    g_assert_cmpstr(p, ==, "base.raw");
    g_free(p);
    p = block_resolve_backing_path("/a/b/top.qcow2", "../c/base.raw");
    g_assert_cmpstr(p, ==, "/a/b/../c/base.raw");
    g_free(p);
    p = block_resolve_backing_path("/a/b/top.qcow2", "/abs/base.raw");
    g_assert_cmpstr(p, ==, "/abs/base.raw");
    g_free(p);
    p = block_resolve_backing_path("/a/top.qcow2", "file:base.raw");
    g_assert_cmpstr(p, ==, "/a/base.raw");
    g_free(p);
}

/* Writes a qcow2 overlay of name over backing by hand-editing a fresh image's header. */
static void set_backing(const char *path, const char *backing)
{
    GError *err = NULL;
    BlockOpenOptions o = { .format = "qcow2", .no_backing = true };
    BlockImage *img = block_open(path, &o, &err);
    g_assert_no_error(err);
    g_assert_true(qcow2_set_backing(img, backing, "qcow2", &err));
    g_assert_true(block_close(img, &err));
}

static void test_backing_chain(void)
{
    GError *err = NULL;
    /* A chain of 20 images, each adding one cluster, read back through the top. */
    char *dir = tmp_path("chain");
    g_mkdir(dir, 0755);
    for (int i = 0; i < 20; i++) {
        char *name = g_strdup_printf("chain/l%02d.qcow2", i);
        char *path = tmp_path(name);
        ImageCreateOptions co = { .format = "qcow2", .size = 2 << 20, .size_given = true };
        char *prev = i ? g_strdup_printf("l%02d.qcow2", i - 1) : NULL;
        co.backing_file = prev; /* relative: resolved against the overlay's directory */
        g_assert_true(image_create(path, &co, &err));
        g_assert_no_error(err);
        BlockImage *img = block_open(path, NULL, &err);
        g_assert_no_error(err);
        uint8_t v = (uint8_t)(i + 1);
        block_pwrite(img, (uint64_t)i * 65536, &v, 1, &err);
        g_assert_no_error(err);
        g_assert_true(block_close(img, &err));
        g_free(prev);
        g_free(name);
        g_free(path);
    }
    char *top = tmp_path("chain/l19.qcow2");
    BlockOpenOptions ro = { .read_only = true };
    BlockImage *img = block_open(top, &ro, &err);
    g_assert_no_error(err);
    for (int i = 0; i < 20; i++) {
        uint8_t v;
        g_assert_true(block_pread(img, (uint64_t)i * 65536, &v, 1, &err));
        g_assert_cmpuint(v, ==, i + 1);
    }
    BlockStatus st;
    g_assert_true(block_get_status_above(img, NULL, 0, 65536, &st, &err));
    g_assert_cmpuint(st.depth, ==, 19);
    block_close(img, NULL);

    /* A loop: l00 -> l19 -> ... -> l00. */
    char *bottom = tmp_path("chain/l00.qcow2");
    set_backing(bottom, "l19.qcow2");
    img = block_open(top, &ro, &err);
    g_assert_null(img);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_CORRUPT);
    g_assert_nonnull(strstr(err->message, "loop"));
    g_clear_error(&err);
    /* A missing backing file is named in the error. */
    set_backing(bottom, "does-not-exist.qcow2");
    img = block_open(top, &ro, &err);
    g_assert_null(img);
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "does-not-exist.qcow2"));
    g_clear_error(&err);
    /* ... and no_backing still opens the image. */
    BlockOpenOptions nb = { .read_only = true, .no_backing = true };
    img = block_open(top, &nb, &err);
    g_assert_nonnull(img);
    block_close(img, NULL);
    g_free(bottom);
    g_free(top);
    g_free(dir);
}

/* Hostile headers fail with one clear error and no crash. */
static void test_hostile_headers(void)
{
    GError *err = NULL;
    BlockImage *img = make_qcow2("hostile.qcow2", 1 << 20, 65536, 16);
    block_close(img, NULL);
    char *path = tmp_path("hostile.qcow2");
    gchar *orig;
    gsize len;
    g_assert_true(g_file_get_contents(path, &orig, &len, NULL));
    static const struct {
        unsigned offset;
        unsigned size;
        uint64_t value;
        const char *expect;
    } cases[] = {
        { 20, 4, 30, "cluster size" },           /* cluster_bits */
        { 20, 4, 8, "cluster size" },
        { 36, 4, 0x10000000, "L1 table" },        /* l1_size: 2 GiB of table */
        { 40, 8, 0x100, "aligned" },              /* l1_table_offset */
        { 40, 8, 0x7fff0000, "past the end" },
        { 48, 8, 0x1000000, "past the end" },     /* refcount table */
        { 56, 4, 0xfffffff, "8 MiB" },
        { 60, 4, 70000, "snapshots" },
        { 72, 8, 1ULL << 40, "unsupported" },     /* unknown incompatible bit */
        { 72, 8, 1ULL << 2, "external data" },
        { 96, 4, 7, "refcount" },
        { 100, 4, 13, "header length" },
        { 4, 4, 1, "version 1" },
        { 4, 4, 9, "version 9" },
        { 0, 4, 0x514649fa, "raw" },              /* not qcow2: probes as raw */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        gchar *copy = g_memdup2(orig, len);
        for (unsigned b = 0; b < cases[i].size; b++)
            copy[cases[i].offset + b] =
                (char)(cases[i].value >> (8 * (cases[i].size - 1 - b)));
        g_assert_true(g_file_set_contents(path, copy, (gssize)len, NULL));
        BlockOpenOptions o = { .read_only = true };
        img = block_open(path, &o, &err);
        if (!strcmp(cases[i].expect, "raw")) {
            g_assert_nonnull(img);
            g_assert_cmpstr(block_format_name(img), ==, "raw");
            block_close(img, NULL);
        } else {
            if (img)
                g_error("case %zu opened", i);
            g_assert_nonnull(err);
            if (!strstr(err->message, cases[i].expect))
                g_error("case %zu: '%s' lacks '%s'", i, err->message, cases[i].expect);
            g_assert_null(strchr(err->message, '\n'));
            g_clear_error(&err);
        }
        /* Read-only opens never write. */
        gchar *after;
        gsize alen;
        g_assert_true(g_file_get_contents(path, &after, &alen, NULL));
        g_assert_cmpmem(after, alen, copy, len);
        g_free(after);
        g_free(copy);
    }
    g_free(orig);
    g_free(path);
}

typedef struct AioState {
    GMutex lock;
    GCond cond;
    int pending;
    int failures;
} AioState;

static void aio_done(void *opaque, const GError *err)
{
    AioState *a = opaque;
    g_mutex_lock(&a->lock);
    if (err)
        a->failures++;
    a->pending--;
    g_cond_signal(&a->cond);
    g_mutex_unlock(&a->lock);
}

/* Many requests in flight at once, from scatter-gather lists, land where they should. */
static void test_aio(void)
{
    BlockImage *img = make_qcow2("aio.qcow2", 8 << 20, 4096, 16);
    AioState a = { 0 };
    g_mutex_init(&a.lock);
    g_cond_init(&a.cond);
    enum { N = 256, SZ = 8192 };
    uint8_t *bufs = g_malloc(N * SZ);
    for (int i = 0; i < N; i++) {
        memset(bufs + i * SZ, i, SZ);
        struct iovec iov[2] = { { bufs + i * SZ, 1000 }, { bufs + i * SZ + 1000, SZ - 1000 } };
        g_mutex_lock(&a.lock);
        a.pending++;
        g_mutex_unlock(&a.lock);
        /* A scattered order makes allocating writes race for the same L2 table. */
        uint64_t off = (uint64_t)((i * 97) % N) * SZ;
        block_aio_writev(img, off, iov, 2, aio_done, &a);
    }
    block_aio_flush(img, aio_done, &a);
    g_mutex_lock(&a.lock);
    a.pending++;
    while (a.pending > 0)
        g_cond_wait(&a.cond, &a.lock);
    g_mutex_unlock(&a.lock);
    block_drain(img);
    g_assert_cmpint(a.failures, ==, 0);
    uint8_t *out = g_malloc(N * SZ);
    for (int i = 0; i < N; i++) {
        struct iovec iov = { out + (uint64_t)((i * 97) % N) * SZ, SZ };
        g_mutex_lock(&a.lock);
        a.pending++;
        g_mutex_unlock(&a.lock);
        block_aio_readv(img, (uint64_t)((i * 97) % N) * SZ, &iov, 1, aio_done, &a);
    }
    g_mutex_lock(&a.lock);
    while (a.pending > 0)
        g_cond_wait(&a.cond, &a.lock);
    g_mutex_unlock(&a.lock);
    for (int i = 0; i < N; i++) {
        uint64_t slot = (uint64_t)((i * 97) % N);
        for (int k = 0; k < SZ; k++)
            if (out[slot * SZ + k] != (uint8_t)i)
                g_error("slot %" PRIu64 " byte %d is %u, expected %u", slot, k,
                        out[slot * SZ + k], (uint8_t)i);
    }
    GError *err = NULL;
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.corruptions + r.leaks, ==, 0);
    g_assert_true(block_close(img, &err));
    g_free(bufs);
    g_free(out);
    g_mutex_clear(&a.lock);
    g_cond_clear(&a.cond);
}

/* Issue 21: a stream of writes at the growing end of a small-cluster image, several in
 * flight, straddling the 4 KiB blocks O_DIRECT works in (each write starts 3 KiB into a
 * block). The bounce path of one write must not cut off what another already landed past
 * it. Returns the number of 512-byte sectors that read back wrong. */
static uint64_t stream_writes(BlockCacheMode cache, uint32_t cs, unsigned depth, unsigned n)
{
    char *path = tmp_path("stream.qcow2");
    Qcow2CreateOptions co = { .size = 64 << 20, .cluster_size = cs };
    GError *err = NULL;
    g_assert_true(qcow2_create(path, &co, &err));
    BlockOpenOptions oo = { .format = "qcow2", .cache = cache };
    BlockImage *img = block_open(path, &oo, &err);
    if (!img && g_error_matches(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED)) {
        g_test_skip(err->message); /* no O_DIRECT on this file system */
        g_clear_error(&err);
        g_free(path);
        return 0;
    }
    g_assert_no_error(err);
    enum { SZ = 4096 };
    const uint64_t base = 41143296; /* the offset: 3 KiB into a 4 KiB block */
    /* Page-aligned, as guest memory: O_DIRECT can then take whole blocks directly. */
    uint8_t *bufs = g_aligned_alloc(n, SZ, 4096);
    AioState a = { 0 };
    g_mutex_init(&a.lock);
    g_cond_init(&a.cond);
    for (unsigned i = 0; i < n; i++) {
        memset(bufs + (size_t)i * SZ, 1 + i % 251, SZ);
        g_mutex_lock(&a.lock);
        while (a.pending >= (int)depth)
            g_cond_wait(&a.cond, &a.lock);
        a.pending++;
        g_mutex_unlock(&a.lock);
        struct iovec iov = { bufs + (size_t)i * SZ, SZ };
        block_aio_writev(img, base + (uint64_t)i * SZ, &iov, 1, aio_done, &a);
    }
    block_drain(img);
    g_assert_cmpint(a.failures, ==, 0);
    g_assert_true(block_close(img, &err));
    g_mutex_clear(&a.lock);
    g_cond_clear(&a.cond);

    BlockOpenOptions ro = { .format = "qcow2", .read_only = true };
    img = block_open(path, &ro, &err);
    g_assert_no_error(err);
    uint8_t *out = g_malloc((size_t)n * SZ);
    g_assert_true(block_pread(img, base, out, (size_t)n * SZ, &err));
    uint64_t bad = 0;
    for (uint64_t k = 0; k < (uint64_t)n * SZ; k += 512)
        if (memcmp(out + k, bufs + k, 512))
            bad++;
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.corruptions, ==, 0);
    block_close(img, NULL);
    g_unlink(path);
    g_free(path);
    g_aligned_free(bufs);
    g_free(out);
    return bad;
}

static void test_direct_stream(void)
{
    static const BlockCacheMode modes[] = { BLOCK_CACHE_NONE, BLOCK_CACHE_WRITEBACK,
                                            BLOCK_CACHE_DIRECTSYNC };
    static const uint32_t clusters[] = { 512, 1024, 2048, 65536 };
    static const unsigned depths[] = { 1, 4, 32 };
    block_set_pool_threads(32);
    for (size_t m = 0; m < G_N_ELEMENTS(modes); m++)
        for (size_t c = 0; c < G_N_ELEMENTS(clusters); c++)
            for (size_t d = 0; d < G_N_ELEMENTS(depths); d++) {
                /* directsync syncs every write: a few of them, on the smallest clusters,
                 * keep the test short. */
                bool sync = modes[m] == BLOCK_CACHE_DIRECTSYNC;
                if (sync && (c > 0 || d == 0))
                    continue;
                uint64_t bad = stream_writes(modes[m], clusters[c], depths[d], sync ? 100 : 400);
                if (bad)
                    g_error("cache mode %d, %u-byte clusters, depth %u: %" PRIu64
                            " sectors read back wrong", (int)modes[m], clusters[c], depths[d],
                            bad);
            }
    block_set_pool_threads(8);
}

typedef struct RmwRace {
    HostFile *f;
    pthread_barrier_t *start, *done;
    unsigned rounds;
    uint8_t *aligned;      /* 4 KiB, page-aligned */
} RmwRace;

static gpointer rmw_misaligned(gpointer data)
{
    RmwRace *r = data;
    uint8_t buf[1536];
    for (unsigned i = 0; i < r->rounds; i++) {
        memset(buf, 0x80 | (i & 0x7f), sizeof(buf));
        pthread_barrier_wait(r->start);
        g_assert_true(host_file_pwrite(r->f, 2048, buf, sizeof(buf), NULL));
        pthread_barrier_wait(r->done);
        pthread_barrier_wait(r->done); /* the checker looks */
    }
    return NULL;
}

/* Issue 21: under O_DIRECT a misaligned write reads its 4 KiB block, patches it and
 * writes it back. An aligned write landing on that block meanwhile must keep its bytes
 * outside the misaligned range (here sectors 0-3 and 7 of the block): the two are not
 * allowed to interleave. */
static void test_direct_rmw_race(void)
{
    char *path = tmp_path("rmw.raw");
    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_assert_true(truncate(path, 4096) == 0);
    GError *err = NULL;
    HostFile *f = host_file_open(path, false, true, HOST_LOCK_WRITE, &err);
    if (!f) {
        g_test_skip(err->message);
        g_clear_error(&err);
        g_free(path);
        return;
    }
    pthread_barrier_t start, done;
    RmwRace r = { .f = f, .start = &start, .done = &done, .rounds = 3000,
                  .aligned = g_aligned_alloc(1, 4096, 4096) };
    pthread_barrier_init(&start, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    GThread *t = g_thread_new("rmw", rmw_misaligned, &r);
    uint8_t *check = g_aligned_alloc(1, 4096, 4096);
    unsigned lost = 0;
    for (unsigned i = 0; i < r.rounds; i++) {
        memset(r.aligned, i & 0x7f, 4096);
        pthread_barrier_wait(&start);
        g_assert_true(host_file_pwrite(f, 0, r.aligned, 4096, NULL));
        pthread_barrier_wait(&done);
        g_assert_true(host_file_pread(f, 0, check, 4096, NULL));
        if (check[0] != (i & 0x7f) || check[4095] != (i & 0x7f))
            lost++;
        pthread_barrier_wait(&done);
    }
    g_thread_join(t);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    host_file_close(f);
    g_free(r.aligned);
    g_free(check);
    g_free(path);
    if (lost)
        g_error("%u of %u aligned writes lost bytes to a concurrent read-modify-write", lost,
                r.rounds);
}

/* Issue 21: clusters leaked by a writer that died are reclaimed by the next read-write
 * open. The writer (a child) allocates and frees, flushes, allocates more and exits
 * without closing, as a killed process would; the image must carry the dirty bit, and
 * one read-write open and close later it has no leaks and no dirty bit. */
static void test_dirty_reclaim(void)
{
    char *path = tmp_path("dirty.qcow2");
    Qcow2CreateOptions co = { .size = 8 << 20, .cluster_size = 4096 };
    GError *err = NULL;
    g_assert_true(qcow2_create(path, &co, &err));
    fflush(NULL);
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        BlockOpenOptions oo = { .format = "qcow2" };
        BlockImage *img = block_open(path, &oo, NULL);
        if (!img)
            _exit(1);
        uint8_t buf[8192];
        memset(buf, 0x5a, sizeof(buf));
        bool ok = true;
        for (uint64_t off = 0; off < (2 << 20) && ok; off += 16384)
            ok = block_pwrite(img, off, buf, sizeof(buf), NULL);
        /* Dropped clusters: their counts are lowered only after the next flush... */
        ok = ok && block_discard(img, 0, 1 << 20, NULL) && block_flush(img, NULL);
        ok = ok && block_discard(img, 1 << 20, 1 << 20, NULL) &&
             block_pwrite(img, 3 << 20, buf, sizeof(buf), NULL) && block_flush(img, NULL);
        /* ...and these allocations reach the disk without their L2 entries. */
        for (uint64_t off = 4 << 20; off < (6 << 20) && ok; off += 65536)
            ok = block_pwrite(img, off, buf, sizeof(buf), NULL);
        Qcow2State *s = qcow2_state(img);
        g_mutex_lock(&s->lock);
        ok = ok && qcow2_cache_flush(s->refblock_cache, NULL) && qcow2_sync(s, NULL);
        g_mutex_unlock(&s->lock);
        _exit(ok ? 0 : 1);
    }
    int status;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    BlockOpenOptions ro = { .format = "qcow2", .read_only = true, .check_mode = true };
    BlockImage *img = block_open(path, &ro, &err);
    g_assert_no_error(err);
    Qcow2FormatInfo fi;
    g_assert_true(qcow2_get_format_info(img, &fi));
    g_assert_true(fi.dirty);
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaks, >, 0);
    block_close(img, NULL);

    BlockOpenOptions rw = { .format = "qcow2" };
    img = block_open(path, &rw, &err);
    g_assert_no_error(err);
    g_assert_true(block_close(img, &err));

    img = block_open(path, &ro, &err);
    g_assert_no_error(err);
    g_assert_true(qcow2_get_format_info(img, &fi));
    g_assert_false(fi.dirty);
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaks, ==, 0);
    /* The data the writer flushed is still there. */
    uint8_t out[8192];
    g_assert_true(block_pread(img, 3 << 20, out, sizeof(out), &err));
    g_assert_cmpuint(out[0], ==, 0x5a);
    g_assert_cmpuint(out[8191], ==, 0x5a);
    block_close(img, NULL);
    g_free(path);
}

/* An open overlay file in the temporary directory that has no name any more. */
static bool has_unlinked_overlay(void)
{
    bool found = false;
    GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;
    char *prefix = g_build_filename(g_get_tmp_dir(), "vireo-overlay-", NULL);
    while (d && (name = g_dir_read_name(d))) {
        char *link = g_build_filename("/proc/self/fd", name, NULL);
        char *target = g_file_read_link(link, NULL);
        if (target && g_str_has_prefix(target, prefix) && g_str_has_suffix(target, " (deleted)"))
            found = true;
        g_free(target);
        g_free(link);
    }
    if (d)
        g_dir_close(d);
    g_free(prefix);
    return found;
}

/* -snapshot: writes land in an unlinked overlay in the temporary directory; the disk
 * stays untouched and nothing is left behind. */
static void test_temp_overlay(void)
{
    GError *err = NULL;
    char *base = tmp_path("overlay-base.raw");
    guint8 data[8192];
    memset(data, 0x3c, sizeof(data));
    g_assert_true(g_file_set_contents(base, (const char *)data, sizeof(data), NULL));
    g_assert_false(has_unlinked_overlay());
    BlockOpenOptions o = { .format = "raw" };
    BlockImage *img = block_open_with_temp_overlay(base, &o, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(block_size(img), ==, sizeof(data));
    g_assert_cmpstr(block_format_name(img), ==, "qcow2");
    g_assert_true(has_unlinked_overlay());
    uint8_t w[512], r[512];
    memset(w, 0x77, sizeof(w));
    g_assert_true(block_pwrite(img, 1024, w, sizeof(w), &err));
    g_assert_true(block_pread(img, 1024, r, sizeof(r), &err));
    g_assert_cmpmem(r, sizeof(r), w, sizeof(w));
    g_assert_true(block_pread(img, 0, r, sizeof(r), &err));
    g_assert_cmpuint(r[0], ==, 0x3c);
    g_assert_true(block_close(img, &err));
    g_assert_false(has_unlinked_overlay());
    gchar *after;
    gsize len;
    g_assert_true(g_file_get_contents(base, &after, &len, NULL));
    g_assert_cmpmem(after, len, data, sizeof(data));
    g_free(after);
    g_free(base);
}

static void test_parse_size(void)
{
    uint64_t v;
    g_assert_true(image_parse_size("512", &v));
    g_assert_cmpuint(v, ==, 512);
    g_assert_true(image_parse_size("64k", &v));
    g_assert_cmpuint(v, ==, 65536);
    g_assert_true(image_parse_size("1.5G", &v));
    g_assert_cmpuint(v, ==, 3ULL << 29);
    g_assert_true(image_parse_size("2T", &v));
    g_assert_cmpuint(v, ==, 2ULL << 40);
    g_assert_false(image_parse_size("1.5", &v));
    g_assert_false(image_parse_size("-1", &v));
    g_assert_false(image_parse_size("12Q", &v));
    g_assert_false(image_parse_size("99999999999999999999", &v));
    g_assert_false(image_parse_size("16E", &v));
}

/* A VM-state byte that depends on its position, so misplaced bytes show. */
static uint8_t vm_byte(unsigned seed, uint64_t pos)
{
    uint64_t z = (pos + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;
    return (uint8_t)((z ^ (z >> 29)) >> 24);
}

static uint8_t *vm_buf(unsigned seed, uint64_t pos, size_t len)
{
    uint8_t *b = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        b[i] = vm_byte(seed, pos + i);
    return b;
}

static void assert_vmstate(BlockImage *img, unsigned seed, uint64_t len)
{
    GError *err = NULL;
    uint8_t *want = vm_buf(seed, 0, len), *got = g_malloc(len);
    g_assert_true(qcow2_vmstate_read(img, 0, got, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(got, len, want, len);
    g_free(want);
    g_free(got);
}

static void assert_clean(BlockImage *img)
{
    GError *err = NULL;
    Qcow2CheckResult r;
    g_assert_true(qcow2_check(img, QCOW2_REPAIR_NONE, &r, NULL, NULL, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaks, ==, 0);
    g_assert_cmpuint(r.check_errors, ==, 0);
}

/* The VM-state area ("Snapshots", vm_state_size): written in pieces that start and end
 * inside clusters and cross them, kept by the snapshot, dropped from the active layer,
 * back after apply, freed by delete; guest I/O stays within the disk. */
static void test_vmstate(void)
{
    static const uint32_t sizes[] = { 512, 65536, 2u << 20 };
    for (unsigned c = 0; c < G_N_ELEMENTS(sizes); c++) {
        uint32_t cs = sizes[c];
        uint64_t disk = (5u << 20) + 1536; /* not on an L1 boundary */
        char *name = g_strdup_printf("vmstate-%u.qcow2", cs);
        BlockImage *img = make_qcow2(name, disk, cs, 16);
        Qcow2State *s = qcow2_state(img);
        GError *err = NULL;
        unsigned shift = s->cluster_bits + s->l2_bits;
        g_assert_cmpuint(qcow2_vmstate_offset(s), ==,
                         qcow2_l1_entries_for(s->cluster_bits, disk) << shift);

        uint8_t *a = vm_buf(100, 0, 300000), *b = vm_buf(200, 0, 300000);
        g_assert_true(block_pwrite(img, 4096, a, 300000, &err));
        /* Out of order, unaligned, crossing clusters and L2 tables. */
        const uint64_t len1 = (3u << 20) + 4321;
        const uint64_t cuts[] = { 0, 1, 513, 70001, (2u << 20) + 3, len1 };
        for (int k = G_N_ELEMENTS(cuts) - 2; k >= 0; k--) {
            uint8_t *p = vm_buf(1, cuts[k], cuts[k + 1] - cuts[k]);
            g_assert_true(qcow2_vmstate_write(img, cuts[k], p, cuts[k + 1] - cuts[k], &err));
            g_assert_no_error(err);
            g_free(p);
        }
        assert_vmstate(img, 1, len1);
        /* The disk does not see it: its last bytes are still zeros. */
        uint8_t tail[1536];
        g_assert_true(block_pread(img, disk - sizeof(tail), tail, sizeof(tail), &err));
        for (size_t i = 0; i < sizeof(tail); i++)
            g_assert_cmpuint(tail[i], ==, 0);
        /* Guest writes and reads past the disk are still refused. */
        g_assert_false(block_pwrite(img, disk - 512, a, 1024, &err));
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
        g_clear_error(&err);
        g_assert_false(block_pwrite(img, qcow2_vmstate_offset(s), a, 512, &err));
        g_clear_error(&err);
        g_assert_false(block_pread(img, disk, tail, 512, &err));
        g_clear_error(&err);
        assert_clean(img);

        g_assert_true(qcow2_snapshot_create_full(img, "vm1", len1, 3723456789012ULL, &err));
        g_assert_no_error(err);
        GPtrArray *list = qcow2_snapshot_list(img, &err);
        Qcow2SnapshotInfo *info = list->pdata[0];
        g_assert_cmpuint(info->vm_state_size, ==, len1);
        g_assert_cmpuint(info->vm_clock_nsec, ==, 3723456789012ULL);
        g_assert_cmpuint(info->icount, ==, UINT64_MAX);
        g_ptr_array_free(list, TRUE);
        /* The active layer dropped its copy: nothing left to copy on write. */
        uint8_t first[512];
        g_assert_true(qcow2_vmstate_read(img, 0, first, sizeof(first), &err));
        for (size_t i = 0; i < sizeof(first); i++)
            g_assert_cmpuint(first[i], ==, 0);
        assert_clean(img);

        /* Another guest write and another VM state, then back to the snapshot. */
        g_assert_true(block_pwrite(img, 4096, b, 300000, &err));
        const uint64_t len2 = (1u << 20) + 99;
        uint8_t *v2 = vm_buf(2, 0, len2);
        g_assert_true(qcow2_vmstate_write(img, 0, v2, len2, &err));
        assert_vmstate(img, 2, len2);
        g_free(v2);
        g_assert_true(qcow2_snapshot_create_full(img, "vm2", len2, 1, &err));
        assert_clean(img);
        g_assert_true(qcow2_snapshot_apply(img, "vm1", &err));
        g_assert_no_error(err);
        assert_vmstate(img, 1, len1);
        uint8_t *out = g_malloc(300000);
        g_assert_true(block_pread(img, 4096, out, 300000, &err));
        g_assert_cmpmem(out, 300000, a, 300000);
        /* A write into the applied state copies it; the snapshot keeps the original. */
        uint8_t *v3 = vm_buf(3, 0, 5000);
        g_assert_true(qcow2_vmstate_write(img, 70000, v3, 5000, &err));
        g_assert_true(qcow2_snapshot_apply(img, "vm2", &err));
        assert_vmstate(img, 2, len2);
        g_assert_true(qcow2_snapshot_apply(img, "vm1", &err));
        assert_vmstate(img, 1, len1);
        assert_clean(img);

        g_assert_true(qcow2_snapshot_delete(img, "vm1", &err));
        g_assert_true(qcow2_snapshot_delete(img, "vm2", &err));
        g_assert_no_error(err);
        assert_clean(img);
        /* The state the active layer still holds (applied from vm1) survives the delete. */
        assert_vmstate(img, 1, 70000);

        /* Beyond what the largest L1 table maps. */
        uint64_t limit = ((uint64_t)QCOW2_MAX_L1_BYTES / 8) << shift;
        g_assert_false(qcow2_vmstate_write(img, limit, a, 1, &err));
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
        g_clear_error(&err);
        g_assert_false(qcow2_vmstate_read(img, UINT64_MAX - 10, a, 100, &err));
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
        g_clear_error(&err);
        g_free(out);
        g_free(v3);
        g_free(a);
        g_free(b);
        g_assert_true(block_close(img, &err));

        /* Read-only: reading works, writing is refused. */
        char *path = tmp_path(name);
        BlockOpenOptions ro = { .format = "qcow2", .read_only = true };
        img = block_open(path, &ro, &err);
        g_assert_no_error(err);
        assert_vmstate(img, 1, 70000);
        g_assert_false(qcow2_vmstate_write(img, 0, first, 1, &err));
        g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY);
        g_clear_error(&err);
        block_close(img, NULL);
        g_free(path);
        g_free(name);
    }
}

/* A resize moves the VM-state area: state the active layer held is dropped, not leaked
 * by a shrink nor shown to the guest by a growth over where it was. */
static void test_vmstate_resize(void)
{
    BlockImage *img = make_qcow2("vmresize.qcow2", 4u << 20, 65536, 16);
    GError *err = NULL;
    uint8_t *v = vm_buf(9, 0, 2u << 20);
    g_assert_true(qcow2_vmstate_write(img, 0, v, 2u << 20, &err));
    g_assert_true(block_truncate(img, 2u << 20, BLOCK_PREALLOC_OFF, true, &err));
    g_assert_no_error(err);
    assert_clean(img);
    /* With 64 KiB clusters the area of a 2 MiB disk starts at 512 MiB. */
    g_assert_true(qcow2_vmstate_write(img, 0, v, 1u << 20, &err));
    g_assert_true(block_truncate(img, 600u << 20, BLOCK_PREALLOC_OFF, false, &err));
    g_assert_no_error(err);
    uint8_t *out = g_malloc(1u << 20);
    g_assert_true(block_pread(img, 512u << 20, out, 1u << 20, &err));
    for (size_t i = 0; i < (1u << 20); i++)
        g_assert_cmpuint(out[i], ==, 0);
    assert_clean(img);
    g_free(out);
    g_free(v);
    g_assert_true(block_close(img, &err));
}

/* A savevm killed after it raised the refcounts of the active clusters and cleared their
 * copied flags, before the snapshot table named its L1 copy: the dirty bit makes the
 * next open repair, which lowers the counts again and must restore the flags too. */
static void test_repair_after_raised_counts(void)
{
    GError *err = NULL;
    uint8_t *v = vm_buf(5, 0, 65536);
    /* The process that raised the counts dies before it writes the snapshot table (a
     * clean close would clear the dirty bit): a child, ended by _exit. */
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        BlockImage *img = make_qcow2("raised.qcow2", 1u << 20, 512, 16);
        Qcow2State *s = qcow2_state(img);
        bool ok = block_pwrite(img, 0, v, 65536, NULL) && qcow2_vmstate_write(img, 0, v, 65536, NULL);
        g_mutex_lock(&s->lock);
        ok = ok && qcow2_flush_metadata(s, NULL) &&
             qcow2_set_incompatible_bits(s, QCOW2_INCOMPAT_DIRTY, 0, NULL) &&
             qcow2_update_l1_refcounts(s, s->l1, s->l1_size, 1, NULL) &&
             qcow2_update_copied_flags(s, NULL) && qcow2_flush_metadata(s, NULL);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    BlockImage *img;
    char *path = tmp_path("raised.qcow2");
    BlockOpenOptions o = { .format = "qcow2" };
    img = block_open(path, &o, &err);
    g_assert_no_error(err);
    assert_clean(img);
    uint8_t *out = g_malloc(65536);
    g_assert_true(block_pread(img, 0, out, 65536, &err));
    g_assert_cmpmem(out, 65536, v, 65536);
    g_assert_true(qcow2_vmstate_read(img, 0, out, 65536, &err));
    g_assert_cmpmem(out, 65536, v, 65536);
    block_close(img, NULL);
    g_free(out);
    g_free(v);
    g_free(path);
}

/* A guest cannot turn a probed raw disk into another format: a vmdk descriptor in
 * sector 0 would otherwise name a host file as the guest's disk next time (QEMU's
 * CVE-2008-2004). Whole-sector, partial and split writes are refused; with an explicit
 * format raw they land. */
static void test_probed_raw_guard(void)
{
    g_autofree char *path = tmp_path("guard.raw");
    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_assert_cmpint(truncate(path, 1 << 20), ==, 0);
    BlockOpenOptions probe = { 0 };
    BlockImage *img = block_open(path, &probe, NULL);
    g_assert_nonnull(img);
    g_assert_cmpstr(block_format_name(img), ==, "raw");
    static const char desc[] = "# Disk DescriptorFile\nRW 8 FLAT \"/etc/passwd\" 0\n";
    uint8_t sector[512] = { 0 };
    memcpy(sector, desc, sizeof(desc) - 1);
    GError *err = NULL;
    g_assert_false(block_pwrite(img, 0, sector, sizeof(sector), &err));
    g_assert_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID);
    g_clear_error(&err);
    /* The first 7 bytes now, the rest of the magic in a second write. */
    g_assert_true(block_pwrite(img, 0, "# Disk ", 7, NULL));
    g_assert_false(block_pwrite(img, 7, sector + 7, sizeof(sector) - 7, &err));
    g_clear_error(&err);
    /* VDI's signature sits at offset 64. */
    static const uint8_t vdi_sig[4] = { 0x7f, 0x10, 0xda, 0xbe };
    g_assert_false(block_pwrite(img, 64, vdi_sig, 4, &err));
    g_clear_error(&err);
    /* Ordinary data in sector 0 (a boot sector) goes through. */
    memset(sector, 0x90, sizeof(sector));
    g_assert_true(block_pwrite(img, 0, sector, sizeof(sector), NULL));
    block_close(img, NULL);
    const char *fmt;
    g_assert_true(block_probe_format(path, &fmt, NULL));
    g_assert_cmpstr(fmt, ==, "raw");
    BlockOpenOptions explicit_raw = { .format = "raw" };
    img = block_open(path, &explicit_raw, NULL);
    g_assert_nonnull(img);
    memcpy(sector, desc, sizeof(desc) - 1);
    g_assert_true(block_pwrite(img, 0, sector, sizeof(sector), NULL));
    block_close(img, NULL);
    g_assert_true(block_probe_format(path, &fmt, NULL));
    g_assert_cmpstr(fmt, ==, "vmdk");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    GError *err = NULL;
    tmpdir = g_dir_make_tmp("vireo-disks-unit-XXXXXX", &err);
    g_assert_no_error(err);
    g_test_add_func("/disks/refblock-widths", test_refblock_widths);
    g_test_add_func("/disks/allocator", test_allocator);
    g_test_add_func("/disks/refcount-limits", test_refcount_limits);
    g_test_add_func("/disks/huge-refcount-repair", test_huge_refcount_repair);
    g_test_add_func("/disks/snapshot-table", test_snapshot_table);
    g_test_add_func("/disks/snapshot-ops", test_snapshot_ops);
    g_test_add_func("/disks/vmstate", test_vmstate);
    g_test_add_func("/disks/vmstate-resize", test_vmstate_resize);
    g_test_add_func("/disks/repair-after-raised-counts", test_repair_after_raised_counts);
    g_test_add_func("/disks/backing-paths", test_backing_paths);
    g_test_add_func("/disks/backing-chain", test_backing_chain);
    g_test_add_func("/disks/hostile-headers", test_hostile_headers);
    g_test_add_func("/disks/probed-raw-guard", test_probed_raw_guard);
    g_test_add_func("/disks/aio", test_aio);
    g_test_add_func("/disks/direct-stream", test_direct_stream);
    g_test_add_func("/disks/dirty-reclaim", test_dirty_reclaim);
    g_test_add_func("/disks/direct-rmw-race", test_direct_rmw_race);
    g_test_add_func("/disks/temp-overlay", test_temp_overlay);
    g_test_add_func("/disks/parse-size", test_parse_size);
    int rc = g_test_run();
    char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    g_free(cmd);
    g_free(tmpdir);
    return rc;
}
