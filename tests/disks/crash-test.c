/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Crash consistency: a child process writes, zeroes, discards and flushes at random on a
 * qcow2 image through the asynchronous interface and is killed with SIGKILL at a random
 * moment. After every kill `qemu-img check` must find no corruption (leaks are allowed)
 * and every sector must hold what the flushed operations put there, or what one of the
 * operations issued after the last completed flush put there.
 *
 *   crash-test [KILLS_PER_CONFIG]   (default 70; three configurations)
 *
 * Sector contents name the operation that wrote them, so the verifier can tell which of
 * the allowed values it sees. Exit 77 when qemu-img is missing. */
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
#define MAX_OPS 8

typedef struct Config {
    const char *name;
    uint32_t cluster_size;
    unsigned refcount_bits;
    const char *backing_format; /* NULL: no backing file */
} Config;

static const Config configs[] = {
    /* Small clusters: refcount blocks and refcount table growth all the time. */
    { "no backing, 512 B clusters", 512, 16, NULL },
    { "raw backing file, 64 KiB clusters", 65536, 16, "raw" },
    { "qcow2 backing file, 4 KiB clusters, 1-bit refcounts", 4096, 1, "qcow2" },
};

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

/* The operations of batch b of a run: a pure function of (seed, b). */
static void make_batch(uint64_t seed, uint64_t run, uint64_t b, uint32_t cluster, Batch *out)
{
    uint64_t st = seed * 1000003ULL + b;
    out->n = 1 + (unsigned)(splitmix(&st) % MAX_OPS);
    out->flush = splitmix(&st) % 3 == 0;
    uint64_t per_cluster = cluster / SECTOR;
    for (unsigned i = 0; i < out->n; i++) {
        Op *op = &out->ops[i];
        uint64_t r = splitmix(&st) % 100;
        op->id = (run << 40) | (b << 8) | i;
        if (r < 75) {
            op->kind = OP_WRITE;
            op->sector = splitmix(&st) % NSECT;
            op->count = splitmix(&st) % 4 == 0 ? 1 + splitmix(&st) % 512 : 1 + splitmix(&st) % 16;
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
} Pending;

static void op_done(void *opaque, const GError *err)
{
    Pending *p = opaque;
    g_mutex_lock(&p->lock);
    if (err) {
        fprintf(stderr, "crash-test writer: %s\n", err->message);
        p->failed = 1;
    }
    p->left--;
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
}

static void journal(int fd, char tag, uint64_t b)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%c %" PRIu64 "\n", tag, b);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
}

static G_NORETURN void writer(const char *image, const char *journal_path, uint64_t seed,
                              uint64_t run, uint32_t cluster)
{
    int jfd = open(journal_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    GError *err = NULL;
    BlockOpenOptions o = { .format = "qcow2" };
    BlockImage *img = block_open(image, &o, &err);
    if (!img || jfd < 0) {
        fprintf(stderr, "crash-test writer: %s\n", err ? err->message : "journal");
        _exit(3);
    }
    Pending p = { .left = 0 };
    g_mutex_init(&p.lock);
    g_cond_init(&p.cond);
    uint8_t *bufs = g_malloc((size_t)MAX_OPS * 512 * SECTOR);
    /* VIREO_CRASH_BATCHES=N: stop (cleanly) after N batches instead of waiting for
     * the kill; tells logic errors from crash-ordering errors. */
    const char *limit = g_getenv("VIREO_CRASH_BATCHES");
    uint64_t max_batches = limit ? g_ascii_strtoull(limit, NULL, 10) : UINT64_MAX;
    for (uint64_t b = 0; b < max_batches; b++) {
        Batch batch;
        make_batch(seed, run, b, cluster, &batch);
        journal(jfd, 'B', b);
        p.left = (int)batch.n;
        for (unsigned i = 0; i < batch.n; i++) {
            Op *op = &batch.ops[i];
            uint64_t off = op->sector * SECTOR, len = op->count * SECTOR;
            if (op->kind == OP_WRITE) {
                uint8_t *buf = bufs + (size_t)i * 512 * SECTOR;
                for (uint64_t s = 0; s < op->count; s++)
                    fill_sector(buf + s * SECTOR, op->id, op->sector + s);
                struct iovec iov = { buf, len };
                block_aio_writev(img, off, &iov, 1, op_done, &p);
            } else if (op->kind == OP_ZERO) {
                block_aio_write_zeroes(img, off, len, (op->id & 1) != 0, op_done, &p);
            } else {
                block_aio_discard(img, off, len, op_done, &p);
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

static bool read_journal(const char *path, int64_t *started, int64_t *flushed)
{
    *started = -1;
    *flushed = -1;
    gchar *text;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return true; /* killed before the journal existed */
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        /* A line cut short by the kill has no newline and is the last one. */
        if (!l[1] && **l)
            break;
        if ((*l)[0] == 'B')
            *started = g_ascii_strtoll(*l + 2, NULL, 10);
        else if ((*l)[0] == 'F')
            *flushed = g_ascii_strtoll(*l + 2, NULL, 10);
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

/* Every sector must hold one of the values the journal allows. */
static bool verify(const uint8_t *actual, const uint8_t *baseline, uint64_t seed, uint64_t run,
                   uint32_t cluster, int64_t started, int64_t flushed)
{
    Candidates *cand = g_new0(Candidates, NSECT);
    for (uint64_t s = 0; s < NSECT; s++)
        cand_set(&cand[s], BASE_ID);
    uint8_t *touched = g_new0(uint8_t, NSECT);
    for (int64_t b = 0; b <= started; b++) {
        Batch batch;
        make_batch(seed, run, (uint64_t)b, cluster, &batch);
        bool durable = b <= flushed;
        /* Within a batch the requests ran concurrently: any of them may end up last. */
        memset(touched, 0, NSECT);
        for (unsigned i = 0; i < batch.n; i++) {
            Op *op = &batch.ops[i];
            uint64_t id = op->kind == OP_WRITE ? op->id : ZERO_ID;
            for (uint64_t s = op->sector; s < op->sector + op->count; s++) {
                if (durable && !touched[s]) {
                    cand_set(&cand[s], id);
                    touched[s] = 1;
                } else {
                    cand_add(&cand[s], id);
                }
            }
        }
    }
    bool ok = true;
    uint8_t expect[SECTOR];
    for (uint64_t s = 0; s < NSECT && ok; s++) {
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
        if (!match) {
            uint64_t found = 0;
            memcpy(&found, got + 4, 8);
            fprintf(stderr, "FAIL: sector %" PRIu64 " holds %s0x%" PRIx64 ", allowed:", s,
                    memcmp(got, "VIRO", 4) ? "(not a test pattern) " : "op ", found);
            for (unsigned i = 0; i < cand[s].n; i++)
                fprintf(stderr, " 0x%" PRIx64, cand[s].ids[i]);
            fprintf(stderr, " (batches started %" PRId64 ", flushed %" PRId64 ")\n", started,
                    flushed);
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
                                b <= flushed ? " (flushed)" : "", i,
                                op->kind == OP_WRITE ? "write" :
                                op->kind == OP_ZERO ? (op->id & 1 ? "zero-unmap" : "zero") : "discard",
                                op->sector, op->sector + op->count - 1, op->id);
                }
            }
            ok = false;
        }
    }
    for (uint64_t s = 0; s < NSECT; s++)
        g_free(cand[s].ids);
    g_free(cand);
    g_free(touched);
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

static bool setup(const Config *cfg, const char *dir, char **image, uint8_t *baseline)
{
    GError *err = NULL;
    *image = g_build_filename(dir, "image.qcow2", NULL);
    memset(baseline, 0, IMAGE_SIZE);
    ImageCreateOptions co = {
        .format = "qcow2",
        .size = IMAGE_SIZE,
        .size_given = true,
        .cluster_size = cfg->cluster_size,
        .refcount_bits = cfg->refcount_bits,
    };
    if (cfg->backing_format) {
        char *base = g_build_filename(dir, "base.img", NULL);
        ImageCreateOptions bo = { .format = cfg->backing_format, .size = IMAGE_SIZE,
                                  .size_given = true };
        uint64_t st = 42;
        for (uint64_t s = 0; s < NSECT; s++)
            if (splitmix(&st) % 3)
                fill_sector(baseline + s * SECTOR, BASE_ID - 1 - (s & 7), s);
        BlockImage *b = NULL;
        BlockOpenOptions oo = { .format = cfg->backing_format };
        bool ok = image_create(base, &bo, &err) && (b = block_open(base, &oo, &err)) &&
                  block_pwrite(b, 0, baseline, IMAGE_SIZE, &err);
        if (b)
            block_close(b, NULL);
        if (!ok) {
            fprintf(stderr, "FAIL: creating the backing file: %s\n", err->message);
            return false;
        }
        co.backing_file = "base.img";
        co.backing_format = cfg->backing_format;
        g_free(base);
    }
    if (!image_create(*image, &co, &err)) {
        fprintf(stderr, "FAIL: creating the image: %s\n", err->message);
        return false;
    }
    return true;
}

static bool run_config(const Config *cfg, unsigned kills, uint64_t master_seed)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("vireo-crash-XXXXXX", &err);
    char *image = NULL;
    char *jpath = g_build_filename(dir, "journal", NULL);
    uint8_t *baseline = g_malloc(IMAGE_SIZE), *actual = g_malloc(IMAGE_SIZE);
    uint64_t rng = master_seed ^ cfg->cluster_size;
    bool ok = setup(cfg, dir, &image, baseline);
    unsigned leaks_seen = 0;
    for (unsigned run = 0; ok && run < kills; run++) {
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
        int64_t started, flushed;
        ok = ok && read_journal(jpath, &started, &flushed) && read_image(image, actual) &&
             verify(actual, baseline, seed, run + 1, cfg->cluster_size, started, flushed);
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
    printf("%s %s: %u kills, %u left leaks behind\n", ok ? "ok  " : "FAIL", cfg->name, kills,
           leaks_seen);
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
    return ok;
}

int main(int argc, char **argv)
{
    unsigned kills = argc > 1 ? (unsigned)atoi(argv[1]) : 70;
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
    return ok ? 0 : 1;
}
