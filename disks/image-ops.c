/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-image operations (the verbs of vireo-img), built on the block interface. */
#include "disks/image-ops.h"

#include "disks/hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (2u * 1024 * 1024)

bool image_parse_size(const char *text, uint64_t *size)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return false;
    errno = 0;
    char *end;
    bool fraction = strchr(text, '.') != NULL;
    double d = 0;
    uint64_t whole = 0;
    if (fraction)
        d = strtod(text, &end);
    else
        whole = strtoull(text, &end, 10);
    if (end == text || errno)
        return false;
    uint64_t mult = 1;
    if (*end) {
        switch (*end) {
        case 'b': case 'B': mult = 1; break;
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        case 't': case 'T': mult = 1ULL << 40; break;
        case 'p': case 'P': mult = 1ULL << 50; break;
        case 'e': case 'E': mult = 1ULL << 60; break;
        default: return false;
        }
        if (end[1])
            return false;
    } else if (fraction) {
        return false; /* fractions of a byte make no sense */
    }
    if (fraction) {
        double v = d * (double)mult;
        if (!(v >= 0) || v >= 18446744073709551616.0)
            return false;
        *size = (uint64_t)v;
        return true;
    }
    if (whole && mult > UINT64_MAX / whole)
        return false;
    *size = whole * mult;
    return true;
}

/* Image creation -----------------------------------------------------------------------*/

static bool create_raw(const char *filename, const ImageCreateOptions *o, GError **err)
{
    if (o->backing_file) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Backing file not supported for file format 'raw'");
        return false;
    }
    if (o->prealloc == BLOCK_PREALLOC_METADATA) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Invalid preallocation mode 'metadata' for raw images (use falloc or full)");
        return false;
    }
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_IO, "Could not create '%s': %s", filename,
                    g_strerror(errno));
        return false;
    }
    close(fd);
    BlockOpenOptions bo = { .format = "raw" };
    BlockImage *img = block_open(filename, &bo, err);
    if (!img)
        return false;
    bool ok = block_truncate(img, o->size, o->prealloc, false, err);
    return block_close(img, ok ? err : NULL) && ok;
}

bool image_create(const char *filename, const ImageCreateOptions *o, GError **err)
{
    const char *format = o->format ? o->format : "raw";
    if (strcmp(format, "raw") && strcmp(format, "qcow2")) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Unknown file format '%s' (vireo-img creates raw and qcow2)", format);
        return false;
    }
    if (!strcmp(format, "raw")) {
        if (!o->size_given) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Image creation needs a size parameter");
            return false;
        }
        return create_raw(filename, o, err);
    }
    Qcow2CreateOptions q = {
        .size = o->size,
        .cluster_size = o->cluster_size,
        .refcount_bits = o->refcount_bits,
        .compression_type = o->compression_type,
        .prealloc = o->prealloc,
        .backing_file = o->backing_file,
        .backing_format = o->backing_format,
    };
    char *probed_format = NULL;
    if (o->backing_file && !o->unsafe_backing) {
        /* The backing file must open now; it also supplies a missing size or format. */
        char *path = block_resolve_backing_path(filename, o->backing_file);
        BlockOpenOptions bo = { .read_only = true, .format = o->backing_format };
        GError *local = NULL;
        BlockImage *b = block_open(path, &bo, &local);
        if (!b) {
            g_set_error(err, local->domain, local->code, "Could not open backing image '%s': %s",
                        path, local->message);
            g_error_free(local);
            g_free(path);
            return false;
        }
        if (!o->size_given)
            q.size = block_size(b);
        if (!o->backing_format) {
            probed_format = g_strdup(block_format_name(b));
            q.backing_format = probed_format;
        }
        block_close(b, NULL);
        g_free(path);
    } else if (!o->size_given) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Image creation needs a size parameter");
        return false;
    }
    bool ok = qcow2_create(filename, &q, err);
    g_free(probed_format);
    return ok;
}

/* Convert ------------------------------------------------------------------------------*/

typedef enum { PIECE_SKIP, PIECE_ZERO, PIECE_DATA } PieceKind;

/* One slot of the ring between the reader threads and the writer. */
typedef struct ConvertChunk {
    uint64_t off;
    uint64_t n;
    uint8_t *buf;
    PieceKind *kinds;
    GError *error;     /* the reader failed on this chunk */
    bool full;         /* filled, waiting for the writer */
    uint64_t next;     /* index of the chunk this slot takes next */
    GCond changed;     /* full or next changed (one waiter at a time on each side) */
} ConvertChunk;

typedef struct Convert {
    BlockImage *src;
    BlockImage *dst;
    const ImageConvertOptions *o;
    uint64_t size;
    bool target_has_backing;  /* unallocated source ranges are left to the target's backing */
    bool target_is_zero;      /* the target reads as zeros before we write */
    bool compress;
    uint64_t granule;         /* unit of skipping and of compressed writes */
    GMutex lock;              /* guards the ring below */
    ConvertChunk *ring;
    unsigned depth;
    uint64_t nchunks;
    uint64_t next_read;       /* next chunk index a reader takes */
    bool stop;                /* the writer failed: readers quit */
} Convert;

static PieceKind status_kind(Convert *c, const BlockStatus *st)
{
    if (c->target_has_backing && !st->allocated)
        return PIECE_SKIP;
    if (st->zero && !st->data)
        return c->target_is_zero ? PIECE_SKIP : PIECE_ZERO;
    return PIECE_DATA;
}

/* Classifies every granule of the chunk: a granule whose parts disagree is data
 * (reading it through the source chain gives the right bytes for all parts). */
static bool classify(Convert *c, ConvertChunk *k, GError **err)
{
    uint64_t g = c->granule;
    uint64_t count = (k->n + g - 1) / g;
    if (!c->o->sparse_size) {
        /* -S 0: no scanning, the target gets every byte. */
        for (uint64_t i = 0; i < count; i++)
            k->kinds[i] = PIECE_DATA;
        return true;
    }
    for (uint64_t i = 0; i < count; i++)
        k->kinds[i] = (PieceKind)-1;
    uint64_t pos = k->off, end = k->off + k->n;
    while (pos < end) {
        BlockStatus st;
        bool ok = c->target_has_backing
                      ? block_get_status(c->src, pos, end - pos, &st, err)
                      : block_get_status_above(c->src, NULL, pos, end - pos, &st, err);
        if (!ok)
            return false;
        PieceKind kind = status_kind(c, &st);
        uint64_t first = (pos - k->off) / g;
        uint64_t last = (pos + st.length - 1 - k->off) / g;
        for (uint64_t i = first; i <= last; i++) {
            if (k->kinds[i] == (PieceKind)-1)
                k->kinds[i] = kind;
            else if (k->kinds[i] != kind)
                k->kinds[i] = PIECE_DATA;
        }
        pos += st.length;
    }
    return true;
}

/* Reads the data granules of a chunk (each run in one request) and spots zeros. */
static bool fill_chunk(Convert *c, ConvertChunk *k, GError **err)
{
    if (!classify(c, k, err))
        return false;
    uint64_t g = c->granule, n = k->n;
    uint64_t count = (n + g - 1) / g;
    for (uint64_t i = 0; i < count;) {
        if (k->kinds[i] != PIECE_DATA) {
            i++;
            continue;
        }
        uint64_t j = i;
        while (j < count && k->kinds[j] == PIECE_DATA)
            j++;
        uint64_t a = i * g, b = j * g < n ? j * g : n;
        if (!block_pread(c->src, k->off + a, k->buf + a, b - a, err))
            return false;
        /* Data granules that hold only zeros need not be written. */
        if (c->o->sparse_size) {
            for (uint64_t m = i; m < j; m++) {
                uint64_t ma = m * g, mb = (m + 1) * g < n ? (m + 1) * g : n;
                if (host_buffer_is_zero(k->buf + ma, mb - ma))
                    k->kinds[m] = c->target_is_zero ? PIECE_SKIP : PIECE_ZERO;
            }
        }
        i = j;
    }
    return true;
}

static gpointer convert_reader(gpointer opaque)
{
    Convert *c = opaque;
    g_mutex_lock(&c->lock);
    while (!c->stop && c->next_read < c->nchunks) {
        uint64_t i = c->next_read++;
        ConvertChunk *k = &c->ring[i % c->depth];
        while (!c->stop && (k->full || k->next != i))
            g_cond_wait(&k->changed, &c->lock);
        if (c->stop)
            break;
        g_mutex_unlock(&c->lock);
        k->off = i * CHUNK;
        k->n = c->size - k->off < CHUNK ? c->size - k->off : CHUNK;
        fill_chunk(c, k, &k->error);
        g_mutex_lock(&c->lock);
        k->full = true;
        g_cond_broadcast(&k->changed);
    }
    g_mutex_unlock(&c->lock);
    return NULL;
}

static bool write_run(Convert *c, PieceKind kind, uint64_t off, const uint8_t *data,
                      uint64_t len, GError **err)
{
    if (kind == PIECE_SKIP || len == 0)
        return true;
    if (kind == PIECE_ZERO)
        return block_write_zeroes(c->dst, off, len, true, err);
    if (!c->compress)
        return block_pwrite(c->dst, off, data, len, err);
    for (uint64_t p = 0; p < len; p += c->granule) {
        uint64_t n = len - p < c->granule ? len - p : c->granule;
        if (!qcow2_write_compressed(c->dst, off + p, data + p, n, err))
            return false;
    }
    return true;
}

static bool write_chunk(Convert *c, ConvertChunk *k, GError **err)
{
    uint64_t g = c->granule, n = k->n;
    uint64_t count = (n + g - 1) / g;
    for (uint64_t i = 0; i < count;) {
        uint64_t j = i;
        while (j < count && k->kinds[j] == k->kinds[i])
            j++;
        uint64_t a = i * g, b = j * g < n ? j * g : n;
        if (!write_run(c, k->kinds[i], k->off + a, k->buf + a, b - a, err))
            return false;
        i = j;
    }
    return true;
}

/* Reader threads classify and read the next chunks while this thread writes them, in
 * order, so a qcow2 target is laid out sequentially (as qemu-img convert without -W).
 * Several readers keep the source busy when it is slow or the CPUs are shared. */
static bool convert_copy(Convert *c, GError **err)
{
    enum { DEPTH = 8, READERS = 4 };
    c->depth = DEPTH;
    c->nchunks = (c->size + CHUNK - 1) / CHUNK;
    c->ring = g_new0(ConvertChunk, DEPTH);
    g_mutex_init(&c->lock);
    for (unsigned i = 0; i < DEPTH; i++) {
        g_cond_init(&c->ring[i].changed);
        /* Page-aligned buffers: the kernel copies page cache pages whole, not straddling
         * two user pages each (twice the copy cost, measured). */
        void *buf;
        if (posix_memalign(&buf, 4096, CHUNK) != 0)
            g_error("out of memory");
        c->ring[i].buf = buf;
        c->ring[i].kinds = g_new(PieceKind, CHUNK / c->granule + 1);
        c->ring[i].next = i;
    }
    GThread *readers[READERS];
    unsigned nreaders = c->nchunks < READERS ? (unsigned)c->nchunks : READERS;
    for (unsigned r = 0; r < nreaders; r++)
        readers[r] = g_thread_new("convert-reader", convert_reader, c);
    bool ok = true;
    for (uint64_t i = 0; i < c->nchunks && ok; i++) {
        ConvertChunk *k = &c->ring[i % DEPTH];
        g_mutex_lock(&c->lock);
        while (!k->full)
            g_cond_wait(&k->changed, &c->lock);
        g_mutex_unlock(&c->lock);
        if (k->error) {
            g_propagate_error(err, k->error);
            k->error = NULL;
            ok = false;
            break;
        }
        if (c->o->cancel && g_atomic_int_get(c->o->cancel)) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_CANCELLED, "cancelled");
            ok = false;
            break;
        }
        ok = write_chunk(c, k, err);
        if (ok && c->o->progress)
            c->o->progress(c->o->progress_opaque, 100.0 * (double)(k->off + k->n) / (double)c->size);
        g_mutex_lock(&c->lock);
        k->full = false;
        k->next = i + DEPTH;
        g_cond_broadcast(&k->changed);
        g_mutex_unlock(&c->lock);
    }
    g_mutex_lock(&c->lock);
    c->stop = true;
    for (unsigned i = 0; i < DEPTH; i++)
        g_cond_broadcast(&c->ring[i].changed);
    g_mutex_unlock(&c->lock);
    for (unsigned r = 0; r < nreaders; r++)
        g_thread_join(readers[r]);
    for (unsigned i = 0; i < DEPTH; i++) {
        if (c->ring[i].error)
            g_error_free(c->ring[i].error);
        free(c->ring[i].buf);
        g_free(c->ring[i].kinds);
        g_cond_clear(&c->ring[i].changed);
    }
    g_free(c->ring);
    g_mutex_clear(&c->lock);
    return ok;
}

bool image_convert(const char *src_name, const char *dst_name, const ImageConvertOptions *o,
                   GError **err)
{
    const char *out_format = o->target.format ? o->target.format : "raw";
    if (o->compress && strcmp(out_format, "qcow2")) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Compression not supported for file format '%s'", out_format);
        return false;
    }
    BlockOpenOptions so = { .read_only = true, .format = o->src_format, .cache = o->src_cache,
                            .force_share = o->src_force_share };
    BlockImage *src = block_open(src_name, &so, err);
    if (!src)
        return false;
    uint64_t size = block_size(src);
    bool ok = true;
    if (!o->skip_create) {
        ImageCreateOptions t = o->target;
        t.format = out_format;
        t.size = size;
        t.size_given = true;
        ok = image_create(dst_name, &t, err);
    }
    BlockImage *dst = NULL;
    if (ok) {
        BlockOpenOptions dopts = { .format = out_format, .cache = o->dst_cache };
        dst = block_open(dst_name, &dopts, err);
        ok = dst != NULL;
    }
    if (ok && block_size(dst) < size) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "Output image is too small: %" PRIu64 " bytes for %" PRIu64, block_size(dst),
                    size);
        ok = false;
    }
    Convert c = { .src = src, .dst = dst, .o = o, .compress = o->compress, .size = size };
    if (ok) {
        c.target_has_backing = block_backing(dst) != NULL;
        c.target_is_zero = !o->skip_create && !c.target_has_backing &&
                           o->target.prealloc != BLOCK_PREALLOC_FULL;
        Qcow2FormatInfo qi;
        uint64_t cluster = qcow2_get_format_info(dst, &qi) ? qi.cluster_size : 0;
        /* Compressed writes take exactly one cluster each. */
        if (cluster && c.compress)
            c.granule = cluster;
        else if (cluster)
            c.granule = o->sparse_size > cluster ? o->sparse_size : cluster;
        else
            c.granule = o->sparse_size ? o->sparse_size : 4096;
        if (c.granule > CHUNK)
            c.granule = CHUNK;
        /* Granules must tile the chunk. */
        while (CHUNK % c.granule)
            c.granule &= c.granule - 1;
        if (size)
            ok = convert_copy(&c, err);
    }
    if (ok && o->progress && size == 0)
        o->progress(o->progress_opaque, 100.0);
    if (dst && !block_close(dst, ok ? err : NULL))
        ok = false;
    block_close(src, NULL);
    return ok;
}

/* Commit -------------------------------------------------------------------------------*/

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

bool image_commit(const char *filename, const char *format, const char *base, bool drop,
                  BlockCacheMode cache, ImageProgressFn progress, void *opaque, GError **err)
{
    /* -b implies -d: the images in between would no longer make sense without the top. */
    bool empty_top = !drop && !base;
    /* The chain reads the target while a second handle writes it: it must let that
     * writer in (the writer still keeps every other process out). */
    BlockOpenOptions to = { .read_only = !empty_top, .format = format, .cache = cache,
                            .backing_shares_write = true };
    BlockImage *top = block_open(filename, &to, err);
    if (!top)
        return false;
    BlockImage *target = block_backing(top);
    if (!target) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Image '%s' does not have a backing file",
                    filename);
        block_close(top, NULL);
        return false;
    }
    if (base) {
        while (target && !same_file(block_filename(target), base))
            target = block_backing(target);
        if (!target) {
            g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_NOT_FOUND,
                        "'%s' is not in the backing chain of '%s'", base, filename);
            block_close(top, NULL);
            return false;
        }
    }
    /* The chain holds the target read-only; write through a second, writable handle.
     * Reads below only ever hit layers above the target. */
    BlockOpenOptions wo = { .format = block_format_name(target), .no_backing = true,
                            .cache = cache };
    BlockImage *out = block_open(block_filename(target), &wo, err);
    if (!out) {
        block_close(top, NULL);
        return false;
    }
    uint64_t size = block_size(top);
    bool ok = true;
    if (block_size(out) < size)
        ok = block_truncate(out, size, BLOCK_PREALLOC_OFF, false, err);
    uint8_t *buf = g_malloc(CHUNK);
    for (uint64_t off = 0; ok && off < size;) {
        uint64_t n = size - off < CHUNK ? size - off : CHUNK;
        BlockStatus st;
        ok = block_get_status_above(top, target, off, n, &st, err);
        if (!ok)
            break;
        if (st.allocated) {
            if (st.zero && !st.data)
                ok = block_write_zeroes(out, off, st.length, false, err);
            else
                ok = block_pread(top, off, buf, st.length, err) &&
                     block_pwrite(out, off, buf, st.length, err);
        }
        off += st.length;
        if (ok && progress)
            progress(opaque, 100.0 * (double)off / (double)size);
    }
    g_free(buf);
    if (!block_close(out, ok ? err : NULL))
        ok = false;
    if (ok && empty_top)
        ok = qcow2_make_empty(top, err);
    if (!block_close(top, ok ? err : NULL))
        ok = false;
    return ok;
}

/* Rebase -------------------------------------------------------------------------------*/

/* Reads [off, off + len) of img as a backing file presents it: zeros past its end. */
static bool read_padded(BlockImage *img, uint64_t off, uint8_t *buf, uint64_t len,
                        GError **err)
{
    uint64_t have = 0;
    if (img && off < block_size(img))
        have = block_size(img) - off < len ? block_size(img) - off : len;
    if (have && !block_pread(img, off, buf, have, err))
        return false;
    memset(buf + have, 0, len - have);
    return true;
}

bool image_rebase(const char *filename, const char *format, const char *backing,
                  const char *backing_format, bool unsafe, BlockCacheMode cache,
                  BlockCacheMode src_cache, ImageProgressFn progress, void *opaque,
                  GError **err)
{
    bool remove = !backing || !*backing;
    BlockOpenOptions io = { .format = format, .no_backing = unsafe, .cache = cache };
    BlockImage *img = block_open(filename, &io, err);
    if (!img)
        return false;
    if (!qcow2_get_format_info(img, &(Qcow2FormatInfo){ 0 })) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_UNSUPPORTED,
                    "'%s' is a %s image; only qcow2 images have a backing file", filename,
                    block_format_name(img));
        block_close(img, NULL);
        return false;
    }
    BlockImage *new_backing = NULL;
    char *fmt = backing_format ? g_strdup(backing_format) : NULL;
    bool ok = true;
    if (!remove) {
        char *path = block_resolve_backing_path(filename, backing);
        BlockOpenOptions bo = { .read_only = true, .format = backing_format,
                                .cache = src_cache };
        GError *local = NULL;
        new_backing = block_open(path, &bo, &local);
        if (!new_backing && !unsafe) {
            g_set_error(err, local->domain, local->code, "Could not open new backing file '%s': %s",
                        path, local->message);
            ok = false;
        }
        if (local)
            g_error_free(local);
        if (new_backing && !fmt)
            fmt = g_strdup(block_format_name(new_backing));
        g_free(path);
    }
    if (ok && !unsafe) {
        Qcow2FormatInfo qi;
        qcow2_get_format_info(img, &qi);
        uint64_t cs = qi.cluster_size;
        uint64_t size = block_size(img);
        uint8_t *old = g_malloc(CHUNK), *new = g_malloc(CHUNK);
        for (uint64_t off = 0; ok && off < size;) {
            uint64_t n = size - off < CHUNK ? size - off : CHUNK;
            BlockStatus st;
            ok = block_get_status(img, off, n, &st, err);
            if (!ok)
                break;
            if (!st.allocated) {
                /* Whatever would read differently after the switch moves into the image,
                 * one cluster at a time so unchanged clusters stay thin. */
                uint64_t len = st.length;
                ok = read_padded(block_backing(img), off, old, len, err) &&
                     read_padded(new_backing, off, new, len, err);
                for (uint64_t p = 0; ok && p < len;) {
                    uint64_t next = ((off + p) / cs + 1) * cs - off;
                    uint64_t q = next < len ? next : len;
                    if (memcmp(old + p, new + p, q - p))
                        ok = block_pwrite(img, off + p, old + p, q - p, err);
                    p = q;
                }
            }
            off += st.length;
            if (ok && progress)
                progress(opaque, 100.0 * (double)off / (double)size);
        }
        g_free(old);
        g_free(new);
    }
    if (ok)
        ok = qcow2_set_backing(img, remove ? NULL : backing, remove ? NULL : fmt, err);
    g_free(fmt);
    if (new_backing)
        block_close(new_backing, NULL);
    if (!block_close(img, ok ? err : NULL))
        ok = false;
    return ok;
}

/* Map ----------------------------------------------------------------------------------*/

static bool map_mergeable(const ImageMapEntry *a, const ImageMapEntry *b)
{
    return a->depth == b->depth && a->present == b->present && a->zero == b->zero &&
           a->data == b->data && a->offset_valid == b->offset_valid &&
           a->filename == b->filename &&
           (!a->offset_valid || a->offset + a->length == b->offset);
}

bool image_map(BlockImage *img, uint64_t start, uint64_t length, ImageMapFn fn, void *opaque,
               GError **err)
{
    uint64_t size = block_size(img);
    uint64_t end = start > size ? size : (length > size - start ? size : start + length);
    ImageMapEntry cur = { 0 };
    bool have = false;
    for (uint64_t off = start; off < end;) {
        BlockStatus st;
        if (!block_get_status_above(img, NULL, off, end - off, &st, err))
            return false;
        ImageMapEntry e = {
            .start = off,
            .length = st.length,
            .depth = st.depth,
            .present = st.allocated,
            .zero = st.zero,
            .data = st.data,
            .offset_valid = st.offset_valid,
            .offset = st.host_offset,
            .filename = block_filename(st.layer),
        };
        if (have && map_mergeable(&cur, &e)) {
            cur.length += e.length;
        } else {
            if (have)
                fn(opaque, &cur);
            cur = e;
            have = true;
        }
        off += st.length;
    }
    if (have)
        fn(opaque, &cur);
    return true;
}

/* Compare ------------------------------------------------------------------------------*/

static uint64_t first_difference(const uint8_t *a, const uint8_t *b, uint64_t len)
{
    for (uint64_t i = 0; i < len; i += 512) {
        uint64_t n = len - i < 512 ? len - i : 512;
        if (memcmp(a + i, b + i, n))
            return i;
    }
    return len;
}

static uint64_t first_nonzero(const uint8_t *a, uint64_t len)
{
    for (uint64_t i = 0; i < len; i += 512) {
        uint64_t n = len - i < 512 ? len - i : 512;
        if (!host_buffer_is_zero(a + i, n))
            return i;
    }
    return len;
}

ImageCompareResult image_compare(const char *file1, const char *fmt1, const char *file2,
                                 const char *fmt2, bool strict, BlockCacheMode cache,
                                 bool force_share, ImageProgressFn progress, void *opaque,
                                 char **message, GError **err)
{
    *message = NULL;
    BlockOpenOptions o1 = { .read_only = true, .format = fmt1, .cache = cache,
                            .force_share = force_share };
    BlockOpenOptions o2 = { .read_only = true, .format = fmt2, .cache = cache,
                            .force_share = force_share };
    BlockImage *a = block_open(file1, &o1, err);
    if (!a)
        return IMAGE_COMPARE_OPEN_ERROR;
    BlockImage *b = block_open(file2, &o2, err);
    if (!b) {
        block_close(a, NULL);
        return IMAGE_COMPARE_OPEN_ERROR;
    }
    uint64_t sa = block_size(a), sb = block_size(b);
    ImageCompareResult r = IMAGE_COMPARE_SAME;
    GString *msg = g_string_new(NULL);
    if (sa != sb) {
        if (strict) {
            g_string_append(msg, "Strict mode: Image size mismatch!");
            r = IMAGE_COMPARE_DIFFERENT;
            goto out;
        }
        g_string_append(msg, "Warning: Image size mismatch!\n");
    }
    uint64_t common = sa < sb ? sa : sb, total = sa > sb ? sa : sb;
    uint8_t *ba = g_malloc(CHUNK), *bb = g_malloc(CHUNK);
    for (uint64_t off = 0; off < common && r == IMAGE_COMPARE_SAME;) {
        uint64_t n = common - off < CHUNK ? common - off : CHUNK;
        BlockStatus s1, s2;
        if (!block_get_status_above(a, NULL, off, n, &s1, err) ||
            !block_get_status_above(b, NULL, off, n, &s2, err)) {
            r = IMAGE_COMPARE_STATUS_ERROR;
            break;
        }
        n = s1.length < s2.length ? s1.length : s2.length;
        if (strict && s1.allocated != s2.allocated) {
            g_string_append_printf(msg, "Strict mode: Offset %" PRIu64 " block status mismatch!",
                                   off);
            r = IMAGE_COMPARE_DIFFERENT;
            break;
        }
        bool z1 = s1.zero && !s1.data, z2 = s2.zero && !s2.data;
        if (!(z1 && z2)) {
            if (!block_pread(a, off, ba, n, err) || !block_pread(b, off, bb, n, err)) {
                r = IMAGE_COMPARE_READ_ERROR;
                break;
            }
            uint64_t d = first_difference(ba, bb, n);
            if (d < n) {
                g_string_append_printf(msg, "Content mismatch at offset %" PRIu64 "!", off + d);
                r = IMAGE_COMPARE_DIFFERENT;
                break;
            }
        }
        off += n;
        if (progress)
            progress(opaque, 100.0 * (double)off / (double)total);
    }
    /* The longer image must hold only zeros past the end of the shorter one. */
    BlockImage *longer = sa > sb ? a : b;
    for (uint64_t off = common; off < total && r == IMAGE_COMPARE_SAME;) {
        uint64_t n = total - off < CHUNK ? total - off : CHUNK;
        BlockStatus st;
        if (!block_get_status_above(longer, NULL, off, n, &st, err)) {
            r = IMAGE_COMPARE_STATUS_ERROR;
            break;
        }
        n = st.length;
        if (!(st.zero && !st.data)) {
            if (!block_pread(longer, off, ba, n, err)) {
                r = IMAGE_COMPARE_READ_ERROR;
                break;
            }
            uint64_t d = first_nonzero(ba, n);
            if (d < n) {
                g_string_append_printf(msg, "Content mismatch at offset %" PRIu64 "!", off + d);
                r = IMAGE_COMPARE_DIFFERENT;
                break;
            }
        }
        off += n;
        if (progress)
            progress(opaque, 100.0 * (double)off / (double)total);
    }
    g_free(ba);
    g_free(bb);
    if (r == IMAGE_COMPARE_SAME)
        g_string_append(msg, "Images are identical.");
out:
    block_close(a, NULL);
    block_close(b, NULL);
    *message = g_string_free(msg, FALSE);
    return r;
}

/* Measure ------------------------------------------------------------------------------*/

bool image_measure(const char *filename, const char *format, bool force_share, uint64_t size,
                   const ImageCreateOptions *t, ImageMeasure *m, GError **err)
{
    memset(m, 0, sizeof(*m));
    const char *out = t->format ? t->format : "raw";
    if (strcmp(out, "raw") && strcmp(out, "qcow2")) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Unknown file format '%s'", out);
        return false;
    }
    uint32_t cs = t->cluster_size ? t->cluster_size : 65536;
    unsigned rb = t->refcount_bits ? t->refcount_bits : 16;
    if (cs < 512 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)) || rb > 64 || (rb & (rb - 1))) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID, "Invalid cluster_size or refcount_bits");
        return false;
    }
    BlockImage *src = NULL;
    if (filename) {
        BlockOpenOptions so = { .read_only = true, .format = format,
                                .force_share = force_share };
        src = block_open(filename, &so, err);
        if (!src)
            return false;
        size = block_size(src);
    }
    uint64_t aligned = (size + cs - 1) / cs * cs;
    /* Data clusters the conversion would write: stored, non-zero ranges of the chain. */
    uint64_t data = 0;
    bool ok = true;
    if (src) {
        uint64_t last_counted = UINT64_MAX;
        for (uint64_t off = 0; off < size;) {
            BlockStatus st;
            if (!block_get_status_above(src, NULL, off, size - off, &st, err)) {
                ok = false;
                break;
            }
            if (st.data && !st.zero) {
                uint64_t first = off / cs, last = (off + st.length - 1) / cs;
                if (first == last_counted)
                    first++;
                if (last >= first)
                    data += (last - first + 1) * cs;
                last_counted = last;
            }
            off += st.length;
        }
    }
    if (ok) {
        if (!strcmp(out, "raw")) {
            m->required = size;
            m->fully_allocated = size;
        } else {
            m->fully_allocated = qcow2_fully_allocated_size(size, cs, rb);
            if (t->prealloc == BLOCK_PREALLOC_FULL || t->prealloc == BLOCK_PREALLOC_FALLOC)
                data = aligned;
            m->required = m->fully_allocated - aligned + data;
            m->has_bitmaps = src && !strcmp(block_format_name(src), "qcow2");
        }
    }
    if (src)
        block_close(src, NULL);
    return ok;
}

/* Bench --------------------------------------------------------------------------------*/

typedef struct Bench {
    BlockImage *img;
    const ImageBenchOptions *o;
    uint64_t size;
    uint64_t next_offset;
    unsigned submitted;
    unsigned completed;
    unsigned in_flight;
    unsigned next_flush_at;   /* pause submitting when this many were sent */
    bool paused_for_flush;
    GError *error;
    GMutex lock;
    GCond cond;
    uint8_t **buffers;
    unsigned *free_slots;
    unsigned nfree;
} Bench;

static void bench_submit_locked(Bench *b);

typedef struct BenchReq {
    Bench *b;
    unsigned slot;
} BenchReq;

static void bench_done(void *opaque, const GError *err)
{
    BenchReq *r = opaque;
    Bench *b = r->b;
    g_mutex_lock(&b->lock);
    if (err && !b->error)
        b->error = g_error_copy(err);
    b->completed++;
    b->in_flight--;
    b->free_slots[b->nfree++] = r->slot;
    g_free(r);
    bench_submit_locked(b);
    g_cond_broadcast(&b->cond);
    g_mutex_unlock(&b->lock);
}

static void bench_submit_locked(Bench *b)
{
    const ImageBenchOptions *o = b->o;
    while (!b->error && !b->paused_for_flush && b->submitted < o->count &&
           b->in_flight < o->depth && b->nfree > 0) {
        if (o->flush_interval && b->submitted == b->next_flush_at) {
            /* The main loop flushes (after draining unless --no-drain) and resumes. */
            b->paused_for_flush = true;
            break;
        }
        BenchReq *r = g_new(BenchReq, 1);
        r->b = b;
        r->slot = b->free_slots[--b->nfree];
        uint64_t off = b->next_offset;
        b->next_offset += o->step ? o->step : o->bufsize;
        b->next_offset = b->size ? b->next_offset % b->size : 0;
        if (b->next_offset + o->bufsize > b->size)
            b->next_offset = 0;
        b->submitted++;
        b->in_flight++;
        struct iovec iov = { b->buffers[r->slot], o->bufsize };
        if (o->write)
            block_aio_writev(b->img, off, &iov, 1, bench_done, r);
        else
            block_aio_readv(b->img, off, &iov, 1, bench_done, r);
    }
}

bool image_bench(const char *filename, const ImageBenchOptions *o, double *seconds,
                 GError **err)
{
    BlockOpenOptions bo = { .read_only = !o->write, .format = o->format, .cache = o->cache,
                            .force_share = o->force_share };
    BlockImage *img = block_open(filename, &bo, err);
    if (!img)
        return false;
    /* One worker per request in flight (as QEMU's pool allows up to 64): with a cold
     * cache the device sees the whole queue depth. */
    block_set_pool_threads(o->depth < 64 ? o->depth : 64);
    Bench b = { .img = img, .o = o, .size = block_size(img), .next_offset = o->offset,
                .next_flush_at = o->flush_interval };
    if (o->offset + o->bufsize > b.size) {
        g_set_error(err, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "the first request at offset %" PRIu64 " runs past the end of the image",
                    o->offset);
        block_close(img, NULL);
        return false;
    }
    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    b.buffers = g_new(uint8_t *, o->depth);
    b.free_slots = g_new(unsigned, o->depth);
    for (unsigned i = 0; i < o->depth; i++) {
        void *p;
        if (posix_memalign(&p, 4096, o->bufsize) != 0)
            g_error("out of memory");
        memset(p, o->pattern, o->bufsize);
        b.buffers[i] = p;
        b.free_slots[b.nfree++] = i;
    }
    gint64 t0 = g_get_monotonic_time();
    g_mutex_lock(&b.lock);
    bench_submit_locked(&b);
    while (!(b.completed == o->count || (b.error && b.in_flight == 0))) {
        if (b.paused_for_flush && (o->no_drain || b.in_flight == 0)) {
            g_mutex_unlock(&b.lock);
            GError *ferr = NULL;
            block_flush(img, &ferr);
            g_mutex_lock(&b.lock);
            if (ferr && !b.error)
                b.error = ferr;
            else if (ferr)
                g_error_free(ferr);
            b.paused_for_flush = false;
            b.next_flush_at += o->flush_interval;
            bench_submit_locked(&b);
            continue;
        }
        g_cond_wait(&b.cond, &b.lock);
    }
    g_mutex_unlock(&b.lock);
    block_drain(img);
    /* Like qemu-img bench, the time ends with the last completion; the final flush
     * (at close) is not part of it. */
    *seconds = (double)(g_get_monotonic_time() - t0) / 1e6;
    GError *ferr = NULL;
    bool ok = b.error == NULL;
    if (ok && o->write && !block_flush(img, &ferr)) {
        g_propagate_error(err, ferr);
        ok = false;
    }
    if (b.error) {
        g_propagate_error(err, b.error);
    }
    for (unsigned i = 0; i < o->depth; i++)
        free(b.buffers[i]);
    g_free(b.buffers);
    g_free(b.free_slots);
    g_mutex_clear(&b.lock);
    g_cond_clear(&b.cond);
    block_close(img, NULL);
    return ok;
}
