/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Crash consistency: a child process writes, zeroes, discards and flushes at random on a
 * qcow2 image through the asynchronous interface and is killed with SIGKILL at a random
 * moment. After every kill `qemu-img check` must find no corruption (leaks are allowed)
 * and every sector must hold what the acknowledged durable operations put there, or what
 * one of the operations issued after them put there. Durable means: covered by a
 * completed flush, or (writethrough, directsync) completed at all.
 *
 *   crash-test [KILLS_PER_CONFIG]   (default 35; one configuration per cluster size)
 *
 * Each run of a configuration reopens the same image with the next cache mode and queue
 * depth (up to 32 requests in flight, as many pool threads), so every configuration
 * sees every mode and depth. Sector contents name the operation that wrote them, so the
 * verifier can tell which of the allowed values it sees. Exit 77 when qemu-img is
 * missing. */
#include "disks/block.h"
#include "disks/image-ops.h"
#include "disks/qcow2.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IMAGE_SIZE (16u << 20)
#define SECTOR 512u
#define NSECT (IMAGE_SIZE / SECTOR)
#define ZERO_ID UINT64_MAX
#define BASE_ID (UINT64_MAX - 1)
#define MAX_OPS 32

typedef struct Config {
    const char *name;
    uint32_t cluster_size;
    unsigned refcount_bits;
    const char *backing_format; /* NULL: no backing file */
} Config;

static const Config configs[] = {
    /* Small clusters: refcount blocks and refcount table growth all the time; below
     * 4 KiB, O_DIRECT writes go through the read-modify-write bounce path. */
    { "no backing, 512 B clusters", 512, 16, NULL },
    { "no backing, 1 KiB clusters, 2-bit refcounts", 1024, 2, NULL },
    { "qcow2 backing file, 4 KiB clusters, 1-bit refcounts", 4096, 1, "qcow2" },
    { "raw backing file, 64 KiB clusters", 65536, 16, "raw" },
    /* Eight clusters: every allocating write copies most of 2 MiB. */
    { "raw backing file, 2 MiB clusters", 2u << 20, 16, "raw" },
};

static const struct {
    const char *name;
    BlockCacheMode mode;
    bool ack_is_durable;  /* every write is flushed before it completes */
} cache_modes[] = {
    { "writeback", BLOCK_CACHE_WRITEBACK, false },
    { "none", BLOCK_CACHE_NONE, false },
    { "writethrough", BLOCK_CACHE_WRITETHROUGH, true },
    { "directsync", BLOCK_CACHE_DIRECTSYNC, true },
    { "unsafe", BLOCK_CACHE_UNSAFE, false },
};
#define N_MODES G_N_ELEMENTS(cache_modes)

static const unsigned depths[] = { 1, 2, 4, 8, 16, 32 };
#define N_DEPTHS G_N_ELEMENTS(depths)

/* Run r uses mode r % 5 and depth r % 6: 30 runs cover every pair. */
static unsigned run_mode(uint64_t run)
{
    return (unsigned)(run % N_MODES);
}

static unsigned run_depth(uint64_t run)
{
    return depths[run % N_DEPTHS];
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef enum { OP_WRITE, OP_ZERO, OP_DISCARD } OpKind;

typedef struct Op {
    OpKind kind;
    uint64_t id;
    uint64_t sector;
    uint64_t count;
} Op;

typedef struct Batch {
    Op ops[MAX_OPS];
    unsigned n;
    bool flush;
} Batch;

/* The operations of batch b of a run: a pure function of (seed, run, b). At most depth
 * operations, and often exactly that many, so the queue really fills. */
static void make_batch(uint64_t seed, uint64_t run, uint64_t b, uint32_t cluster, Batch *out)
{
    uint64_t st = seed * 1000003ULL + b;
    unsigned depth = run_depth(run);
    out->n = splitmix(&st) % 2 ? depth : 1 + (unsigned)(splitmix(&st) % depth);
    out->flush = splitmix(&st) % 3 == 0;
    uint64_t per_cluster = cluster / SECTOR;
    /* One batch in four is a sequential stream of 4 KiB writes, as a guest copying a
     * file issues them: on a fresh image they allocate at the end of the file. */
    bool stream = splitmix(&st) % 4 == 0;
    uint64_t stream_start = splitmix(&st) % NSECT;
    for (unsigned i = 0; i < out->n; i++) {
        Op *op = &out->ops[i];
        uint64_t r = splitmix(&st) % 100;
        op->id = (run << 40) | (b << 8) | i;
        if (stream) {
            op->kind = OP_WRITE;
            op->sector = (stream_start + 8 * (uint64_t)i) % NSECT;
            op->count = 8;
        } else if (r < 75) {
            op->kind = OP_WRITE;
            op->sector = splitmix(&st) % NSECT;
            op->count = splitmix(&st) % 4 == 0 ? 1 + splitmix(&st) % 512 : 1 + splitmix(&st) % 16;
            if (splitmix(&st) % 2) {
                /* As guests mostly write: whole 4 KiB pages, which O_DIRECT may send
                 * straight to the host when the clusters land on aligned host offsets,
                 * while the misaligned rest goes through the bounce path. */
                op->sector &= ~7ULL;
                op->count = (op->count + 7) & ~7ULL;
            }
        } else if (r < 88) {
            op->kind = OP_ZERO;
            op->sector = splitmix(&st) % NSECT;
            op->count = 1 + splitmix(&st) % 300;
        } else {
            /* Whole clusters only, so the result is defined: they read as zeros. */
            op->kind = OP_DISCARD;
            op->sector = (splitmix(&st) % (NSECT / per_cluster)) * per_cluster;
            op->count = (1 + splitmix(&st) % 8) * per_cluster;
        }
        if (op->sector + op->count > NSECT)
            op->count = NSECT - op->sector;
    }
}

static void fill_sector(uint8_t *p, uint64_t id, uint64_t sector)
{
    memcpy(p, "VIRO", 4);
    memcpy(p + 4, &id, 8);
    memcpy(p + 12, &sector, 4);
    uint64_t st = id * 31 + sector;
    for (unsigned k = 16; k < SECTOR; k += 8) {
        uint64_t v = splitmix(&st);
        memcpy(p + k, &v, 8);
    }
}

/* Writer (child) ---------------------------------------------------------------------*/

typedef struct Pending {
    GMutex lock;
    GCond cond;
    int left;
    int failed;
    int jfd;
    uint64_t batch;
} Pending;

typedef struct OpSlot {
    Pending *p;
    unsigned index;
} OpSlot;

/* Journal lines are short O_APPEND writes: whole, and in the page cache a SIGKILL
 * leaves alone. "B b" batch b started, "A b i" its operation i completed, "F b" the
 * flush after it completed. */
static void journal(int fd, char tag, uint64_t b)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%c %" PRIu64 "\n", tag, b);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static void op_done(void *opaque, const GError *err)
{
    OpSlot *slot = opaque;
    Pending *p = slot->p;
    if (!err) {
        char line[48];
        int n = snprintf(line, sizeof(line), "A %" PRIu64 " %u\n", p->batch, slot->index);
        if (write(p->jfd, line, (size_t)n) != n)
            _exit(3);
    }
    g_mutex_lock(&p->lock);
    if (err) {
        fprintf(stderr, "crash-test writer: %s\n", err->message);
        p->failed = 1;
    }
    p->left--;
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
}

static G_NORETURN void writer(const char *image, const char *journal_path, uint64_t seed,
                              uint64_t run, uint32_t cluster)
{
    int jfd = open(journal_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    GError *err = NULL;
    block_set_pool_threads(run_depth(run));
    BlockOpenOptions o = { .format = "qcow2", .cache = cache_modes[run_mode(run)].mode };
    BlockImage *img = block_open(image, &o, &err);
    if (!img || jfd < 0) {
        fprintf(stderr, "crash-test writer: %s\n", err ? err->message : "journal");
        _exit(3);
    }
    Pending p = { .left = 0, .jfd = jfd };
    g_mutex_init(&p.lock);
    g_cond_init(&p.cond);
    OpSlot slots[MAX_OPS];
    for (unsigned i = 0; i < MAX_OPS; i++)
        slots[i] = (OpSlot){ &p, i };
    /* Page-aligned, like guest memory. */
    uint8_t *bufs = g_aligned_alloc((size_t)MAX_OPS * 512, SECTOR, 4096);
    /* VIREO_CRASH_BATCHES=N: stop (cleanly) after N batches instead of waiting for
     * the kill; tells logic errors from crash-ordering errors. */
    const char *limit = g_getenv("VIREO_CRASH_BATCHES");
    uint64_t max_batches = limit ? g_ascii_strtoull(limit, NULL, 10) : UINT64_MAX;
    for (uint64_t b = 0; b < max_batches; b++) {
        Batch batch;
        make_batch(seed, run, b, cluster, &batch);
        journal(jfd, 'B', b);
        p.batch = b;
        p.left = (int)batch.n;
        for (unsigned i = 0; i < batch.n; i++) {
            Op *op = &batch.ops[i];
            uint64_t off = op->sector * SECTOR, len = op->count * SECTOR;
            if (op->kind == OP_WRITE) {
                uint8_t *buf = bufs + (size_t)i * 512 * SECTOR;
                for (uint64_t s = 0; s < op->count; s++)
                    fill_sector(buf + s * SECTOR, op->id, op->sector + s);
                struct iovec iov = { buf, len };
                block_aio_writev(img, off, &iov, 1, op_done, &slots[i]);
            } else if (op->kind == OP_ZERO) {
                block_aio_write_zeroes(img, off, len, (op->id & 1) != 0, op_done, &slots[i]);
            } else {
                block_aio_discard(img, off, len, op_done, &slots[i]);
            }
        }
        g_mutex_lock(&p.lock);
        while (p.left > 0)
            g_cond_wait(&p.cond, &p.lock);
        g_mutex_unlock(&p.lock);
        if (p.failed)
            _exit(3);
        if (batch.flush) {
            if (!block_flush(img, &err)) {
                fprintf(stderr, "crash-test writer: flush: %s\n", err->message);
                _exit(3);
            }
            journal(jfd, 'F', b);
        }
    }
    if (!block_close(img, &err)) {
        fprintf(stderr, "crash-test writer: close: %s\n", err->message);
        _exit(3);
    }
    journal(jfd, 'F', max_batches - 1);
    _exit(0);
}

/* Verifier (parent) ------------------------------------------------------------------*/

typedef struct Candidates {
    uint64_t *ids;
    unsigned n, cap;
} Candidates;

static void cand_set(Candidates *c, uint64_t id)
{
    c->n = 0;
    if (c->cap == 0) {
        c->cap = 4;
        c->ids = g_new(uint64_t, c->cap);
    }
    c->ids[c->n++] = id;
}

static void cand_add(Candidates *c, uint64_t id)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->ids[i] == id)
            return;
    if (c->n == c->cap) {
        c->cap *= 2;
        c->ids = g_renew(uint64_t, c->ids, c->cap);
    }
    c->ids[c->n++] = id;
}

/* What the journal says: the last batch started, the last one flushed, and which
 * operations of the batches since the flush completed (bit i of acked[b]). */
typedef struct Journal {
    int64_t started, flushed;
    GHashTable *acked;   /* batch -> uint64_t* mask of completed operations */
} Journal;

static void journal_free(Journal *j)
{
    if (j->acked)
        g_hash_table_destroy(j->acked);
    j->acked = NULL;
}

static uint64_t acked_mask(const Journal *j, int64_t b)
{
    uint64_t *m = g_hash_table_lookup(j->acked, &b);
    return m ? *m : 0;
}

static bool read_journal(const char *path, Journal *j)
{
    j->started = -1;
    j->flushed = -1;
    j->acked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    gchar *text;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return true; /* killed before the journal existed */
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        /* A line cut short by the kill has no newline and is the last one. */
        if (!l[1] && **l)
            break;
        if ((*l)[0] == 'B') {
            j->started = g_ascii_strtoll(*l + 2, NULL, 10);
        } else if ((*l)[0] == 'F') {
            j->flushed = g_ascii_strtoll(*l + 2, NULL, 10);
        } else if ((*l)[0] == 'A') {
            char *end;
            int64_t b = g_ascii_strtoll(*l + 2, &end, 10);
            unsigned i = (unsigned)g_ascii_strtoull(end, NULL, 10);
            uint64_t *m = g_hash_table_lookup(j->acked, &b);
            if (!m) {
                int64_t *k = g_new(int64_t, 1);
                *k = b;
                m = g_new0(uint64_t, 1);
                g_hash_table_insert(j->acked, k, m);
            }
            *m |= 1ULL << (i % 64);
        }
    }
    g_strfreev(lines);
    g_free(text);
    return true;
}

static bool read_image(const char *image, uint8_t *out)
{
    GError *err = NULL;
    BlockOpenOptions o = { .read_only = true };
    BlockImage *img = block_open(image, &o, &err);
    if (!img) {
        fprintf(stderr, "FAIL: reopening %s after the kill: %s\n", image, err->message);
        return false;
    }
    bool ok = block_pread(img, 0, out, IMAGE_SIZE, &err);
    if (!ok)
        fprintf(stderr, "FAIL: reading %s after the kill: %s\n", image, err->message);
    block_close(img, NULL);
    return ok;
}

typedef struct Figures {
    uint64_t durable_ops;   /* acknowledged operations the image had to keep */
    uint64_t lost_sectors;  /* sectors holding none of the allowed values */
    uint64_t mode_ops[N_MODES];
    unsigned mode_kills[N_MODES];
} Figures;

/* Every sector must hold one of the values the journal allows. */
static bool verify(const uint8_t *actual, const uint8_t *baseline, uint64_t seed, uint64_t run,
                   uint32_t cluster, const Journal *j, Figures *fig)
{
    int64_t started = j->started, flushed = j->flushed;
    bool ack_durable = cache_modes[run_mode(run)].ack_is_durable;
    Candidates *cand = g_new0(Candidates, NSECT);
    for (uint64_t s = 0; s < NSECT; s++)
        cand_set(&cand[s], BASE_ID);
    uint8_t *reset = g_new0(uint8_t, NSECT);
    for (int64_t b = 0; b <= started; b++) {
        Batch batch;
        make_batch(seed, run, (uint64_t)b, cluster, &batch);
        uint64_t acked = b <= flushed ? ~0ULL : ack_durable ? acked_mask(j, b) : 0;
        /* A sector a durable operation of this batch wrote can only hold what this or
         * a later batch put there. Within a batch the requests ran concurrently: any of
         * them may end up last, acknowledged or not. */
        memset(reset, 0, NSECT);
        for (unsigned i = 0; i < batch.n; i++) {
            Op *op = &batch.ops[i];
            if (!(acked >> i & 1))
                continue;
            fig->durable_ops++;
            fig->mode_ops[run_mode(run)]++;
            memset(reset + op->sector, 1, op->count);
        }
        for (unsigned i = 0; i < batch.n; i++) {
            Op *op = &batch.ops[i];
            uint64_t id = op->kind == OP_WRITE ? op->id : ZERO_ID;
            for (uint64_t s = op->sector; s < op->sector + op->count; s++) {
                if (reset[s] == 1) {
                    cand_set(&cand[s], id);
                    reset[s] = 2;
                } else {
                    cand_add(&cand[s], id);
                }
            }
        }
    }
    bool ok = true;
    uint8_t expect[SECTOR];
    for (uint64_t s = 0; s < NSECT; s++) {
        const uint8_t *got = actual + s * SECTOR;
        bool match = false;
        for (unsigned i = 0; i < cand[s].n && !match; i++) {
            uint64_t id = cand[s].ids[i];
            if (id == BASE_ID) {
                match = !memcmp(got, baseline + s * SECTOR, SECTOR);
            } else if (id == ZERO_ID) {
                memset(expect, 0, SECTOR);
                match = !memcmp(got, expect, SECTOR);
            } else {
                fill_sector(expect, id, s);
                match = !memcmp(got, expect, SECTOR);
            }
        }
        if (!match)
            fig->lost_sectors++;
        /* The first bad sector with its history; the rest only counted. */
        if (!match && ok) {
            uint64_t found = 0;
            memcpy(&found, got + 4, 8);
            fprintf(stderr, "FAIL: sector %" PRIu64 " holds %s0x%" PRIx64 ", allowed:", s,
                    memcmp(got, "VIRO", 4) ? "(not a test pattern) " : "op ", found);
            for (unsigned i = 0; i < cand[s].n; i++)
                fprintf(stderr, " 0x%" PRIx64, cand[s].ids[i]);
            fprintf(stderr, " (batches started %" PRId64 ", flushed %" PRId64 ", cache=%s, depth %u)\n",
                    started, flushed, cache_modes[run_mode(run)].name, run_depth(run));
            /* The history of the sector's cluster, to tell what went wrong. */
            uint64_t per = cluster / SECTOR, c0 = s / per * per;
            for (int64_t b = 0; b <= started; b++) {
                Batch batch;
                make_batch(seed, run, (uint64_t)b, cluster, &batch);
                for (unsigned i = 0; i < batch.n; i++) {
                    Op *op = &batch.ops[i];
                    if (op->sector < c0 + per && op->sector + op->count > c0)
                        fprintf(stderr, "  batch %" PRId64 "%s op %u: %s sectors %" PRIu64
                                "..%" PRIu64 " id 0x%" PRIx64 "\n", b,
                                b <= flushed ? " (flushed)" :
                                acked_mask(j, b) >> i & 1 ? " (acknowledged)" : "", i,
                                op->kind == OP_WRITE ? "write" :
                                op->kind == OP_ZERO ? (op->id & 1 ? "zero-unmap" : "zero") : "discard",
                                op->sector, op->sector + op->count - 1, op->id);
                }
            }
            ok = false;
        }
    }
    if (!ok)
        fprintf(stderr, "FAIL: %" PRIu64 " sectors hold none of the allowed values\n",
                fig->lost_sectors);
    for (uint64_t s = 0; s < NSECT; s++)
        g_free(cand[s].ids);
    g_free(cand);
    g_free(reset);
    return ok;
}

static int run_cmd(const char *cmdline, char **output)
{
    gchar *out = NULL, *errout = NULL;
    gint status = 0;
    GError *err = NULL;
    if (!g_spawn_command_line_sync(cmdline, &out, &errout, &status, &err)) {
        fprintf(stderr, "FAIL: %s: %s\n", cmdline, err->message);
        g_error_free(err);
        return -1;
    }
    if (output)
        *output = g_strconcat(out ? out : "", errout ? errout : "", NULL);
    g_free(out);
    g_free(errout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* (Re)creates the image over the configuration's backing file, whose content is in
 * base (zeros without one); baseline becomes what the fresh image reads as. */
static bool fresh_image(const Config *cfg, const char *image, const uint8_t *base,
                        uint8_t *baseline)
{
    GError *err = NULL;
    ImageCreateOptions co = {
        .format = "qcow2",
        .size = IMAGE_SIZE,
        .size_given = true,
        .cluster_size = cfg->cluster_size,
        .refcount_bits = cfg->refcount_bits,
        .backing_file = cfg->backing_format ? "base.img" : NULL,
        .backing_format = cfg->backing_format,
    };
    if (!image_create(image, &co, &err)) {
        fprintf(stderr, "FAIL: creating the image: %s\n", err->message);
        g_error_free(err);
        return false;
    }
    memcpy(baseline, base, IMAGE_SIZE);
    return true;
}

/* The backing file (if any) with its content in base, and a fresh image over it. */
static bool setup(const Config *cfg, const char *dir, char **image, uint8_t *base,
                  uint8_t *baseline)
{
    GError *err = NULL;
    *image = g_build_filename(dir, "image.qcow2", NULL);
    memset(base, 0, IMAGE_SIZE);
    if (cfg->backing_format) {
        char *path = g_build_filename(dir, "base.img", NULL);
        ImageCreateOptions bo = { .format = cfg->backing_format, .size = IMAGE_SIZE,
                                  .size_given = true };
        uint64_t st = 42;
        for (uint64_t s = 0; s < NSECT; s++)
            if (splitmix(&st) % 3)
                fill_sector(base + s * SECTOR, BASE_ID - 1 - (s & 7), s);
        BlockImage *b = NULL;
        BlockOpenOptions oo = { .format = cfg->backing_format };
        bool ok = image_create(path, &bo, &err) && (b = block_open(path, &oo, &err)) &&
                  block_pwrite(b, 0, base, IMAGE_SIZE, &err);
        if (b)
            block_close(b, NULL);
        g_free(path);
        if (!ok) {
            fprintf(stderr, "FAIL: creating the backing file: %s\n", err->message);
            g_error_free(err);
            return false;
        }
    }
    return fresh_image(cfg, *image, base, baseline);
}

static Figures totals;
static unsigned total_kills;

static bool run_config(const Config *cfg, unsigned kills, uint64_t master_seed)
{
    Figures fig = { 0 };
    GError *err = NULL;
    char *dir = g_dir_make_tmp("vireo-crash-XXXXXX", &err);
    char *image = NULL;
    char *jpath = g_build_filename(dir, "journal", NULL);
    uint8_t *baseline = g_malloc(IMAGE_SIZE), *actual = g_malloc(IMAGE_SIZE);
    uint8_t *base = g_malloc(IMAGE_SIZE);
    uint64_t rng = master_seed ^ cfg->cluster_size;
    bool ok = setup(cfg, dir, &image, base, baseline);
    unsigned leaks_seen = 0, reclaimed = 0;
    for (unsigned run = 0; ok && run < kills; run++) {
        /* Every seventh run starts over: a growing file is where allocating writes
         * race at its end; later runs rewrite and reuse space. */
        if (run % 7 == 6)
            ok = fresh_image(cfg, image, base, baseline);
        uint64_t seed = splitmix(&rng);
        /* Mostly mid-stream kills, sometimes during open or the first requests. */
        uint64_t delay_us = splitmix(&rng) % 8 == 0 ? splitmix(&rng) % 5000
                                                    : 5000 + splitmix(&rng) % 120000;
        if (g_getenv("VIREO_CRASH_KEEP")) {
            /* Debugging aid: the image as it was before this run. */
            char *cmd = g_strdup_printf("cp '%s' '%s.before'", image, image);
            if (system(cmd) != 0)
                fprintf(stderr, "could not copy the image\n");
            g_free(cmd);
            fprintf(stderr, "run %u: seed %" PRIu64 " delay %" PRIu64 " us\n", run, seed, delay_us);
        }
        /* A writer killed before it opens the journal must not inherit the last one. */
        unlink(jpath);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            ok = false;
            break;
        }
        if (pid == 0)
            writer(image, jpath, seed, run + 1, cfg->cluster_size);
        if (!g_getenv("VIREO_CRASH_BATCHES")) {
            g_usleep(delay_us);
            kill(pid, SIGKILL);
        }
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && !(g_getenv("VIREO_CRASH_BATCHES") && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "FAIL: the writer stopped by itself (exit %d)\n", WEXITSTATUS(status));
            ok = false;
            break;
        }
        char *out = NULL;
        char *cmd = g_strdup_printf("qemu-img check '%s'", image);
        int rc = run_cmd(cmd, &out);
        g_free(cmd);
        if (rc == 3)
            leaks_seen++;
        if (rc != 0 && rc != 3) {
            fprintf(stderr, "FAIL: run %u: qemu-img check exit %d:\n%s\n", run, rc, out);
            ok = false;
        }
        g_free(out);
        out = NULL;
        fig.mode_kills[run_mode(run + 1)]++;
        Journal j = { 0 };
        ok = ok && read_journal(jpath, &j) && read_image(image, actual) &&
             verify(actual, baseline, seed, run + 1, cfg->cluster_size, &j, &fig);
        journal_free(&j);
        if (!ok)
            fprintf(stderr, "FAIL: run %u: cache=%s, depth %u\n", run,
                    cache_modes[run_mode(run + 1)].name, run_depth(run + 1));
        if (ok && run % 16 == 15) {
            /* A second, independent reader: qemu-img itself. */
            char *raw = g_build_filename(dir, "q.raw", NULL);
            cmd = g_strdup_printf("qemu-img convert -O raw '%s' '%s'", image, raw);
            gchar *q = NULL;
            gsize qlen = 0;
            ok = run_cmd(cmd, NULL) == 0 && g_file_get_contents(raw, &q, &qlen, NULL) &&
                 qlen == IMAGE_SIZE && !memcmp(q, actual, IMAGE_SIZE);
            if (!ok)
                fprintf(stderr, "FAIL: run %u: qemu-img reads the image differently\n", run);
            g_free(q);
            g_free(cmd);
            unlink(raw);
            g_free(raw);
        }
        if (ok && rc == 3 && run % 5 == 2) {
            /* The dirty bit: a read-write open after the kill reclaims the leaks (issue 21),
             * and changes no data. */
            GError *e = NULL;
            BlockOpenOptions rw = { .format = "qcow2" };
            BlockImage *img = block_open(image, &rw, &e);
            if (!img || !block_close(img, &e)) {
                fprintf(stderr, "FAIL: run %u: reopening read-write: %s\n", run, e->message);
                g_error_free(e);
                ok = false;
            }
            cmd = g_strdup_printf("qemu-img check '%s'", image);
            int qrc = ok ? run_cmd(cmd, &out) : 0;
            g_free(cmd);
            if (qrc != 0) {
                fprintf(stderr, "FAIL: run %u: after a read-write open qemu-img check exit %d:\n%s\n",
                        run, qrc, out);
                ok = false;
            }
            if (ok)
                reclaimed++;
            g_free(out);
            out = NULL;
            uint8_t *again = g_malloc(IMAGE_SIZE);
            if (ok && (!read_image(image, again) || memcmp(again, actual, IMAGE_SIZE))) {
                fprintf(stderr, "FAIL: run %u: reclaiming the leaks changed the data\n", run);
                ok = false;
            }
            g_free(again);
        }
        if (ok && run % 25 == 24) {
            /* Leaks piled up by kills are reclaimed by a repair that keeps the data. */
            cmd = g_strdup_printf("%s check -q -r leaks '%s'", g_getenv("VIREO_IMG"), image);
            rc = run_cmd(cmd, &out);
            g_free(cmd);
            if (rc != 0) {
                fprintf(stderr, "FAIL: run %u: vireo-img check -r leaks exit %d:\n%s\n", run, rc, out);
                ok = false;
            }
            g_free(out);
            cmd = g_strdup_printf("qemu-img check '%s'", image);
            rc = run_cmd(cmd, &out);
            g_free(cmd);
            if (ok && rc != 0) {
                fprintf(stderr, "FAIL: run %u: after repair qemu-img check exit %d:\n%s\n", run, rc, out);
                ok = false;
            }
            g_free(out);
            uint8_t *again = g_malloc(IMAGE_SIZE);
            if (ok && (!read_image(image, again) || memcmp(again, actual, IMAGE_SIZE))) {
                fprintf(stderr, "FAIL: run %u: the leak repair changed the data\n", run);
                ok = false;
            }
            g_free(again);
        }
        memcpy(baseline, actual, IMAGE_SIZE);
    }
    printf("%s %s: %u kills over %zu cache modes and depths 1-32, %" PRIu64
           " acknowledged operations to keep, %" PRIu64 " sectors lost, %u kills left leaks"
           " (%u times reclaimed by a read-write open)\n",
           ok ? "ok  " : "FAIL", cfg->name, kills, MIN((size_t)kills, N_MODES), fig.durable_ops,
           fig.lost_sectors, leaks_seen, reclaimed);
    totals.durable_ops += fig.durable_ops;
    totals.lost_sectors += fig.lost_sectors;
    for (size_t m = 0; m < N_MODES; m++) {
        totals.mode_ops[m] += fig.mode_ops[m];
        totals.mode_kills[m] += fig.mode_kills[m];
    }
    total_kills += kills;
    fflush(stdout);
    char *rm = g_strdup_printf("rm -rf '%s'", dir);
    if (ok && system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    else if (!ok)
        fprintf(stderr, "the failing image is kept in %s\n", dir);
    g_free(rm);
    g_free(dir);
    g_free(image);
    g_free(jpath);
    g_free(baseline);
    g_free(actual);
    g_free(base);
    return ok;
}

int main(int argc, char **argv)
{
    unsigned kills = argc > 1 ? (unsigned)atoi(argv[1]) : 35;
    char *qemu_img = g_find_program_in_path("qemu-img");
    if (!qemu_img) {
        printf("SKIP: qemu-img not found (install the Debian package qemu-utils)\n");
        return 77;
    }
    g_free(qemu_img);
    if (!g_getenv("VIREO_IMG")) {
        fprintf(stderr, "crash-test: set VIREO_IMG to the vireo-img binary\n");
        return 2;
    }
    const char *seed_env = g_getenv("VIREO_CRASH_SEED");
    uint64_t seed = seed_env ? g_ascii_strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    printf("crash-test: seed %" PRIu64 " (set VIREO_CRASH_SEED to repeat), %u kills per configuration\n",
           seed, kills);
    bool ok = true;
    const char *only = g_getenv("VIREO_CRASH_CONFIG");
    for (size_t i = 0; i < G_N_ELEMENTS(configs); i++)
        if (!only || (size_t)atoi(only) == i)
            ok = run_config(&configs[i], kills, seed) && ok;
    printf("crash-test: %u kills, %" PRIu64 " acknowledged operations to keep, %" PRIu64
           " sectors lost\n", total_kills, totals.durable_ops, totals.lost_sectors);
    for (size_t m = 0; m < N_MODES; m++)
        printf("  cache=%s: %u kills, %" PRIu64 " acknowledged operations to keep\n",
               cache_modes[m].name, totals.mode_kills[m], totals.mode_ops[m]);
    return ok ? 0 : 1;
}
